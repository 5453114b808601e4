/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The descriptor table: records come back as stored; descriptors are
 * distinct, patternless and canonical; another app's lookup fails exactly
 * like a lookup of nothing; the table fills and drains; the reaper is
 * bounded and covers the table; and many random operations agree with a
 * plain model.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rs_desc.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static struct rs_desc_table *table(uint32_t capacity, uint32_t napps)
{
	int err = 1;
	struct rs_desc_table *t = rs_desc_table_create(capacity, napps, &err);

	assert_non_null(t);
	assert_int_equal(err, 0);
	return t;
}

static struct rs_desc_rec rec_of(uint32_t app, uintptr_t sock)
{
	struct rs_desc_rec r;

	memset(&r, 0, sizeof(r));
	r.app = app;
	r.sock = (void *)sock;
	r.kind = RS_DESC_UDP;
	r.worker = 3;
	r.last_use_ns = 1000;
	return r;
}

static struct rs_desc_rec *find(struct rs_desc_table *t, uint32_t app,
				const char *d)
{
	return rs_desc_lookup(t, app, d, strlen(d));
}

static void test_insert_lookup(void **state)
{
	struct rs_desc_table *t = table(8, 2);
	struct rs_desc_rec r = rec_of(1, 0x1234), got, *p;
	char d[RS_DESC_LEN + 1];

	r.kind = RS_DESC_TCP_LISTEN;
	r.buffered = 77;
	assert_int_equal(rs_desc_insert(t, &r, d), 0);
	assert_int_equal(strlen(d), RS_DESC_LEN);
	assert_int_equal(strspn(d, alphabet), RS_DESC_LEN);
	p = find(t, 1, d);
	assert_non_null(p);
	assert_ptr_equal(p->sock, (void *)0x1234);
	assert_int_equal(p->kind, RS_DESC_TCP_LISTEN);
	assert_int_equal(p->worker, 3);
	assert_int_equal(p->buffered, 77);
	assert_int_equal(p->app, 1);
	p->last_use_ns = 99; /* the record is the table's own */
	assert_int_equal(find(t, 1, d)->last_use_ns, 99);
	assert_int_equal(rs_desc_count(t, 1), 1);
	assert_int_equal(rs_desc_count(t, 0), 0);
	assert_int_equal(rs_desc_count(t, 7), 0);
	assert_int_equal(rs_desc_total(t), 1);

	assert_int_equal(rs_desc_remove(t, 1, d, RS_DESC_LEN, &got), 0);
	assert_ptr_equal(got.sock, (void *)0x1234);
	assert_null(find(t, 1, d));
	assert_int_equal(rs_desc_remove(t, 1, d, RS_DESC_LEN, NULL), -ENOENT);
	assert_int_equal(rs_desc_count(t, 1), 0);
	assert_int_equal(rs_desc_total(t), 0);

	r.app = 2; /* out of range */
	assert_int_equal(rs_desc_insert(t, &r, d), -EINVAL);
	rs_desc_table_free(t);
	rs_desc_table_free(NULL);
}

/* Another app's descriptor is not found, and cannot be removed. */
static void test_bound_to_app(void **state)
{
	struct rs_desc_table *t = table(8, 3);
	struct rs_desc_rec r = rec_of(0, 1);
	char d[RS_DESC_LEN + 1];

	assert_int_equal(rs_desc_insert(t, &r, d), 0);
	assert_null(find(t, 1, d));
	assert_null(find(t, 2, d));
	assert_null(find(t, 3, d));
	assert_int_equal(rs_desc_remove(t, 1, d, RS_DESC_LEN, NULL), -ENOENT);
	assert_non_null(find(t, 0, d));
	assert_int_equal(rs_desc_count(t, 0), 1);
	rs_desc_table_free(t);
}

/* Anything but the exact descriptor is not found. */
static void test_malformed(void **state)
{
	struct rs_desc_table *t = table(8, 1);
	struct rs_desc_rec r = rec_of(0, 1);
	char d[RS_DESC_LEN + 1], x[RS_DESC_LEN + 2];
	const char *last;

	assert_int_equal(rs_desc_insert(t, &r, d), 0);
	assert_null(rs_desc_lookup(t, 0, d, RS_DESC_LEN - 1));
	assert_null(rs_desc_lookup(t, 0, NULL, 0));
	assert_null(find(t, 0, ""));
	snprintf(x, sizeof(x), "%sA", d);
	assert_null(rs_desc_lookup(t, 0, x, RS_DESC_LEN + 1));
	for (int i = 0; i < RS_DESC_LEN; i++) {
		memcpy(x, d, sizeof(d));
		x[i] = x[i] == 'A' ? 'B' : 'A';
		assert_null(find(t, 0, x));
		x[i] = '=';
		assert_null(find(t, 0, x));
	}
	/* The last character holds 2 bits: the 4 below must be 0, so
	 * that a descriptor has one spelling only. */
	last = strchr(alphabet, d[RS_DESC_LEN - 1]);
	assert_int_equal((last - alphabet) & 15, 0);
	memcpy(x, d, sizeof(d));
	x[RS_DESC_LEN - 1] = alphabet[(last - alphabet) | 1];
	assert_null(find(t, 0, x));
	assert_non_null(find(t, 0, d));
	rs_desc_table_free(t);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Descriptors look like 128 random bits: all distinct, every bit set in
 * about half of them, and two in a row share no more than chance. */
static void test_unguessable(void **state)
{
	enum { N = 4096 };
	static char d[N][RS_DESC_LEN + 1];
	struct rs_desc_table *t = table(N, 1);
	struct rs_desc_rec r = rec_of(0, 1);
	unsigned ones[RS_DESC_LEN * 6] = {0}, same = 0;
	const char *c;

	for (int i = 0; i < N; i++) {
		assert_int_equal(rs_desc_insert(t, &r, d[i]), 0);
		for (int k = 0; k < RS_DESC_LEN; k++) {
			c = strchr(alphabet, d[i][k]);
			for (int b = 0; b < 6; b++)
				ones[k * 6 + b] += ((c - alphabet) >> b) & 1;
		}
		if (i > 0)
			for (int k = 0; k < RS_DESC_LEN; k++)
				same += d[i][k] == d[i - 1][k];
	}
	/* 128 bits used: 21 sextets and the top 2 bits of the last.
	 * Binomial(4096, 1/2): 6 sigma is about 192. */
	for (int b = 0; b < RS_DESC_LEN * 6; b++) {
		if (b / 6 == RS_DESC_LEN - 1 && b % 6 < 4)
			assert_int_equal(ones[b], 0);
		else
			assert_in_range(ones[b], N / 2 - 192, N / 2 + 192);
	}
	/* Equal characters in the same place, by chance: 1/64 for each of
	 * the first 21, 1/4 for the last (2 bits): 4095 * (21/64 + 1/4) =
	 * 2368 expected, sigma about 46.  A counter or a time stamp in the
	 * descriptor would show here. */
	assert_in_range(same, 2100, 2650);
	qsort(d, N, sizeof(d[0]), cmp_str);
	for (int i = 1; i < N; i++)
		assert_true(strcmp(d[i - 1], d[i]) != 0);
	for (int i = 0; i < N; i++)
		assert_non_null(find(t, 0, d[i]));
	rs_desc_table_free(t);

	/* A new table, with the same history, gives other descriptors. */
	t = table(N, 1);
	assert_int_equal(rs_desc_insert(t, &r, d[0]), 0);
	assert_int_equal(rs_desc_insert(t, &r, d[1]), 0);
	assert_true(strcmp(d[0], d[1]) != 0);
	rs_desc_table_free(t);
}

static void test_full(void **state)
{
	struct rs_desc_table *t = table(5, 2);
	struct rs_desc_rec r = rec_of(0, 1);
	char d[6][RS_DESC_LEN + 1];
	int err = 0;

	for (int i = 0; i < 5; i++) {
		r.app = i % 2;
		assert_int_equal(rs_desc_insert(t, &r, d[i]), 0);
	}
	assert_int_equal(rs_desc_insert(t, &r, d[5]), -ENOSPC);
	assert_int_equal(rs_desc_count(t, 0), 3);
	assert_int_equal(rs_desc_count(t, 1), 2);
	assert_int_equal(rs_desc_remove(t, 1, d[3], RS_DESC_LEN, NULL), 0);
	r.app = 1;
	assert_int_equal(rs_desc_insert(t, &r, d[5]), 0);
	assert_true(strcmp(d[5], d[3]) != 0);
	assert_null(find(t, 1, d[3]));
	assert_non_null(find(t, 1, d[5]));
	rs_desc_table_free(t);

	assert_null(rs_desc_table_create(0, 1, &err));
	assert_int_equal(err, -EINVAL);
	assert_null(rs_desc_table_create(RS_DESC_CAPACITY_MAX + 1, 1, &err));
	assert_int_equal(err, -EINVAL);
	assert_null(rs_desc_table_create(4, 0, &err));
	assert_int_equal(err, -EINVAL);
}

/* ---- the reaper ------------------------------------------------------- */

struct reaped {
	unsigned calls;
	unsigned kept; /* answer false for sock == kept */
	char last[RS_DESC_LEN + 1];
};

static bool on_idle(void *arg, const char *desc, const struct rs_desc_rec *r)
{
	struct reaped *x = arg;

	x->calls++;
	snprintf(x->last, sizeof(x->last), "%s", desc);
	return (uintptr_t)r->sock != x->kept;
}

static void test_reap(void **state)
{
	enum { N = 100 };
	struct rs_desc_table *t = table(N, 2);
	char d[N][RS_DESC_LEN + 1];
	struct reaped x = {0, 7, ""};
	struct rs_desc_rec r;
	unsigned total = 0, n;

	/* Even socks were used at 1000, odd ones at 5000. */
	for (int i = 0; i < N; i++) {
		r = rec_of(i % 2, (uintptr_t)i);
		r.last_use_ns = i % 2 ? 5000 : 1000;
		assert_int_equal(rs_desc_insert(t, &r, d[i]), 0);
	}
	assert_int_equal(rs_desc_reap(t, 6000, 0, N, on_idle, &x), 0);
	assert_int_equal(x.calls, 0);
	/* idle_ns 5000 at 6000: only those used at 1000 (app 0). */
	n = rs_desc_reap(t, 6000, 5000, 10, on_idle, &x);
	assert_true(n <= 10 && x.calls <= 10);
	total += n;
	for (int i = 0; i < 20; i++)
		total += rs_desc_reap(t, 6000, 5000, 10, on_idle, &x);
	assert_int_equal(total, N / 2);
	assert_int_equal(x.calls, N / 2);
	assert_int_equal(rs_desc_count(t, 0), 0);
	assert_int_equal(rs_desc_count(t, 1), N / 2);
	assert_null(find(t, 0, d[0]));
	assert_non_null(find(t, 1, d[1]));

	/* Later, all are idle, but 7 is kept (its callback says so). */
	x.calls = 0;
	total = 0;
	for (int i = 0; i < 20; i++)
		total += rs_desc_reap(t, 100000, 5000, 10, on_idle, &x);
	assert_int_equal(total, N / 2 - 1);
	assert_int_equal(rs_desc_total(t), 1);
	assert_non_null(find(t, 1, d[7]));
	assert_string_equal(x.last, d[7]);
	/* Records from the future (a clock step) are not idle. */
	x.calls = 0;
	assert_int_equal(rs_desc_reap(t, 100, 1, N, on_idle, &x), 0);
	assert_int_equal(x.calls, 0);
	rs_desc_table_free(t);
}

/* ---- random operations against a model ------------------------------- */

struct entry {
	char d[RS_DESC_LEN + 1];
	uint32_t app;
	uintptr_t sock;
};

static void test_against_model(void **state)
{
	enum { CAP = 64, APPS = 3, OPS = 200000 };
	struct rs_desc_table *t = table(CAP, APPS);
	struct entry live[CAP], gone[256];
	unsigned nlive = 0, ngone = 0, counts[APPS] = {0};
	struct rs_desc_rec r, *p;
	uintptr_t next = 1;
	unsigned i, op;

	srandom(11);
	for (unsigned k = 0; k < OPS; k++) {
		op = random() % 8;
		if (op < 3) { /* insert */
			r = rec_of(random() % APPS, next);
			if (nlive == CAP) {
				assert_int_equal(
				    rs_desc_insert(t, &r, gone[0].d), -ENOSPC);
				continue;
			}
			assert_int_equal(rs_desc_insert(t, &r, live[nlive].d),
					 0);
			live[nlive].app = r.app;
			live[nlive++].sock = next++;
			counts[r.app]++;
		} else if (op < 6 && nlive > 0) { /* remove */
			i = random() % nlive;
			assert_int_equal(rs_desc_remove(t, live[i].app,
							live[i].d, RS_DESC_LEN,
							&r),
					 0);
			assert_int_equal((uintptr_t)r.sock, live[i].sock);
			counts[live[i].app]--;
			gone[ngone++ % 256] = live[i];
			live[i] = live[--nlive];
		} else if (op == 6 &&
			   nlive > 0) { /* look up, right and wrong */
			i = random() % nlive;
			p = find(t, live[i].app, live[i].d);
			assert_non_null(p);
			assert_int_equal((uintptr_t)p->sock, live[i].sock);
			assert_null(
			    find(t, (live[i].app + 1) % APPS, live[i].d));
		} else if (ngone > 0) { /* removed ones stay gone */
			i = random() % (ngone < 256 ? ngone : 256);
			assert_null(find(t, gone[i].app, gone[i].d));
		}
		assert_int_equal(rs_desc_total(t), nlive);
	}
	for (i = 0; i < APPS; i++)
		assert_int_equal(rs_desc_count(t, i), counts[i]);
	for (i = 0; i < nlive; i++)
		assert_non_null(find(t, live[i].app, live[i].d));
	rs_desc_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_insert_lookup),
	    cmocka_unit_test(test_bound_to_app),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_unguessable),
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_reap),
	    cmocka_unit_test(test_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
