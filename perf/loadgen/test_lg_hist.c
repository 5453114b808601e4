/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * remsock-loadgen's latency histogram and protobuf reader: the figures
 * the benchmark prints are only as good as these.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lg.h"

static void within(uint64_t got, uint64_t want, double frac)
{
	double d = (double)got - (double)want;

	if (d < 0)
		d = -d;
	if (d > frac * (double)want + 1) {
		print_error("got %llu, want %llu within %.1f%%\n",
			    (unsigned long long)got, (unsigned long long)want,
			    frac * 100);
		fail();
	}
}

static void test_quantiles_uniform(void **state)
{
	static struct lg_hist h;

	(void)state;
	memset(&h, 0, sizeof(h));
	for (uint64_t v = 1; v <= 100000; v++)
		lg_hist_add(&h, v * 1000); /* 1 us .. 100 ms */
	assert_int_equal(h.count, 100000);
	assert_int_equal(h.max, 100000000);
	within(lg_hist_quantile(&h, 0.5), 50000000, 0.032);
	within(lg_hist_quantile(&h, 0.99), 99000000, 0.032);
	within(lg_hist_quantile(&h, 0.999), 99900000, 0.032);
	/* The top quantile is the largest value, never beyond it. */
	assert_int_equal(lg_hist_quantile(&h, 1.0), 100000000);
}

static void test_small_values_exact(void **state)
{
	static struct lg_hist h;

	(void)state;
	memset(&h, 0, sizeof(h));
	for (uint64_t v = 0; v < 64; v++)
		lg_hist_add(&h, v);
	/* Below 64 every value has a bucket of its own. */
	assert_int_equal(lg_hist_quantile(&h, 0.5), 31);
	assert_int_equal(lg_hist_quantile(&h, 1.0), 63);
}

static void test_huge_value_kept(void **state)
{
	static struct lg_hist h;

	(void)state;
	memset(&h, 0, sizeof(h));
	lg_hist_add(&h, 5);
	lg_hist_add(&h, UINT64_MAX / 2); /* past the last bucket's range */
	assert_int_equal(h.count, 2);
	assert_true(lg_hist_quantile(&h, 1.0) <= UINT64_MAX / 2);
	assert_int_equal(lg_hist_quantile(&h, 0.5), 5);
}

static void test_quantile_empty(void **state)
{
	static struct lg_hist h;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(lg_hist_quantile(&h, 0.99), 0);
}

static void test_pb_roundtrip(void **state)
{
	uint8_t buf[256];
	struct lg_pb w = {buf, buf + sizeof(buf)};
	struct lg_pbr r;
	int fields = 0;

	(void)state;
	lg_pb_varint(&w, 1, 300);
	lg_pb_bytes(&w, 2, "remsock", 7);
	lg_pb_double(&w, 5, 1.5);
	lg_pb_varint(&w, 100, UINT64_MAX);
	assert_int_equal((size_t)(w.p - buf),
			 1 + lg_pb_varint_size(300) + lg_pb_bytes_size(2, 7) +
			     9 + 2 + lg_pb_varint_size(UINT64_MAX));
	lg_pbr_init(&r, buf, (size_t)(w.p - buf));
	while (lg_pbr_next(&r) == 1) {
		fields++;
		if (r.field == 1)
			assert_int_equal(r.v, 300);
		else if (r.field == 2)
			assert_memory_equal(r.b, "remsock", r.n);
		else if (r.field == 5) {
			double d;

			memcpy(&d, &r.v, sizeof(d));
			assert_true(d == 1.5);
		} else {
			assert_int_equal(r.field, 100);
			assert_true(r.v == UINT64_MAX);
		}
	}
	assert_int_equal(fields, 4);
}

static void test_pb_malformed(void **state)
{
	/* field 2, length 10, but 3 bytes follow */
	static const uint8_t cut[] = {0x12, 10, 'a', 'b', 'c'};
	/* a varint that never ends */
	static const uint8_t endless[] = {0x08, 0xff, 0xff};
	struct lg_pbr r;

	(void)state;
	lg_pbr_init(&r, cut, sizeof(cut));
	assert_int_equal(lg_pbr_next(&r), -1);
	lg_pbr_init(&r, endless, sizeof(endless));
	assert_int_equal(lg_pbr_next(&r), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quantiles_uniform),
	    cmocka_unit_test(test_small_values_exact),
	    cmocka_unit_test(test_huge_value_kept),
	    cmocka_unit_test(test_quantile_empty),
	    cmocka_unit_test(test_pb_roundtrip),
	    cmocka_unit_test(test_pb_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
