/* SPDX-License-Identifier: BSD-3-Clause */
/* The impairment's parser and decisions (rates for a fixed seed), and
 * the delay heap's order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "impair.h"

#define N 200000

static void test_parse(void **state)
{
	struct impair_conf c;
	char why[256];

	(void)state;
	assert_int_equal(impair_parse("loss=1,dup=1,corrupt=0.1,delay=5:2,"
				      "reorder=25:50",
				      &c, why, sizeof(why)),
			 0);
	assert_true(c.loss == 0.01 && c.dup == 0.01 && c.corrupt == 0.001);
	assert_int_equal(c.delay_us, 5000);
	assert_int_equal(c.jitter_us, 2000);
	assert_true(c.reorder == 0.25 && c.reorder_corr == 0.5);
	assert_int_equal(impair_parse("none", &c, why, sizeof(why)), 0);
	assert_false(impair_active(&c));
	assert_int_equal(impair_parse("loss=101", &c, why, sizeof(why)), -1);
	assert_int_equal(impair_parse("lose=1", &c, why, sizeof(why)), -1);
	assert_int_equal(impair_parse("reorder=5", &c, why, sizeof(why)), -1);
	assert_string_equal(why, "reorder needs a delay to overtake");
	assert_int_equal(impair_parse("delay=1:2", &c, why, sizeof(why)), -1);
	assert_false(c.keep_order);
	assert_int_equal(
	    impair_parse("delay=50:5,order=keep", &c, why, sizeof(why)), 0);
	assert_true(c.keep_order && c.delay_us == 50000);
	assert_int_equal(impair_parse("order=any", &c, why, sizeof(why)), -1);
	assert_int_equal(
	    impair_parse("delay=5,reorder=1,order=keep", &c, why, sizeof(why)),
	    -1);
	assert_string_equal(why, "order=keep and reorder contradict");
}

static void test_rates(void **state)
{
	struct impair_conf c;
	struct impair_state st;
	char why[256];
	unsigned drop = 0, dup = 0, cor = 0, reo = 0, delayed = 0, runs = 0;
	bool prev = false;
	uint32_t lo = UINT32_MAX, hi = 0;

	(void)state;
	assert_int_equal(impair_parse("loss=1,dup=1,corrupt=0.1,delay=5:2,"
				      "reorder=25:50",
				      &c, why, sizeof(why)),
			 0);
	impair_init(&st, &c, 42);
	for (int i = 0; i < N; i++) {
		struct impair_verdict v = impair_decide(&st);

		drop += v.drop;
		dup += v.dup;
		cor += v.corrupt;
		reo += v.reordered;
		runs += !v.drop && v.reordered != prev;
		prev = v.drop ? prev : v.reordered;
		if (!v.drop && !v.reordered) {
			delayed++;
			lo = v.delay_us < lo ? v.delay_us : lo;
			hi = v.delay_us > hi ? v.delay_us : hi;
		}
	}
	/* Within a fifth of the rate (far beyond 4 sigma at N). */
	assert_in_range(drop, N / 100 * 8 / 10, N / 100 * 12 / 10);
	assert_in_range(dup, N / 100 * 8 / 10, N / 100 * 12 / 10);
	assert_in_range(cor, N / 1000 * 7 / 10, N / 1000 * 13 / 10);
	assert_in_range(reo, N / 4 * 8 / 10, N / 4 * 12 / 10);
	assert_true(lo >= 3000 && hi <= 7000 && hi - lo > 3500);
	/* Correlation 50%: outcomes change about half as often as for
	 * independent draws (2 p (1 - p) = 0.375 per frame). */
	assert_in_range(runs, N * 375 / 1000 * 4 / 10, N * 375 / 1000 * 6 / 10);
	assert_int_equal(drop + reo + delayed, N);
}

static void test_heap(void **state)
{
	struct impair_queue q;
	static int tags[64];
	uint64_t last = 0;
	int *p;

	(void)state;
	assert_int_equal(impair_queue_init(&q, 64), 0);
	for (int i = 0; i < 64; i++) {
		tags[i] = i;
		assert_true(
		    impair_queue_push(&q, (uint64_t)(i * 37 % 16), &tags[i]));
	}
	assert_false(impair_queue_push(&q, 0, &tags[0])); /* full */
	for (int i = 0; i < 64; i++) {
		p = impair_queue_pop_due(&q, UINT64_MAX);
		assert_non_null(p);
		assert_true((uint64_t)(*p * 37 % 16) >= last);
		last = (uint64_t)(*p * 37 % 16);
	}
	assert_null(impair_queue_pop_due(&q, UINT64_MAX));
	/* Equal due times leave in the order they came. */
	for (int i = 0; i < 8; i++)
		impair_queue_push(&q, 5, &tags[i]);
	assert_null(impair_queue_pop_due(&q, 4));
	for (int i = 0; i < 8; i++)
		assert_ptr_equal(impair_queue_pop_due(&q, 5), &tags[i]);
	impair_queue_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_rates),
	    cmocka_unit_test(test_heap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
