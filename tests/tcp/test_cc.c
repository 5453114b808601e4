/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUBIC window arithmetic (tcp/tcp_cubic.c, RFC 9438) against values
 * worked out here independently: the exact integer cube root, K and
 * W_cubic(t) from the RFC's equations 1 and 2 (C = 0.4, beta = 0.7),
 * the reduction and fast convergence, and the window a connection grows
 * through: concave below W_max, convex above it, Reno-friendly when the
 * RTT is short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp_pvt.h"

#define MS 1000000ULL

/* |got - want| <= tol. */
static void near(double got, double want, double tol)
{
	if (got < want - tol || got > want + tol)
		fail_msg("got %.1f, want %.1f +- %.1f", got, want, tol);
}

static void test_cbrt(void **state)
{
	uint64_t x = 88172645463325252ULL;

	(void)state;
	assert_int_equal(rs_tcp_cbrt(0), 0);
	assert_int_equal(rs_tcp_cbrt(7), 1);
	assert_int_equal(rs_tcp_cbrt(8), 2);
	assert_int_equal(rs_tcp_cbrt(26), 2);
	assert_int_equal(rs_tcp_cbrt(27), 3);
	assert_int_equal(rs_tcp_cbrt(999999999999999999ULL), 999999);
	assert_int_equal(rs_tcp_cbrt(1000000000000000000ULL), 1000000);
	/* 2642245^3 = 18446724184312856125 <= 2^64 - 1 < 2642246^3 */
	assert_int_equal(rs_tcp_cbrt(UINT64_MAX), 2642245);
	for (int i = 0; i < 10000; i++) {
		uint64_t y;

		x ^= x << 13; /* xorshift64 */
		x ^= x >> 7;
		x ^= x << 17;
		y = rs_tcp_cbrt(x >> (i % 40));
		assert_true(y * y * y <= x >> (i % 40));
		assert_true((y + 1) * (y + 1) * (y + 1) > x >> (i % 40));
	}
}

/* K = cbrt(W_max (1 - beta) / C) s, windows in segments. */
static void test_k(void **state)
{
	(void)state;
	/* 100 segments of 1000 bytes, cwnd_epoch 70: cbrt(75) = 4.21716 */
	assert_int_equal(rs_tcp_cubic_k(30000, 1000), 4217);
	/* 1000 segments of 1460: cbrt(300 / 0.4) = cbrt(750) = 9.08560 */
	assert_int_equal(rs_tcp_cubic_k(300 * 1460, 1460), 9085);
	/* 10 segments: cbrt(7.5) = 1.95743 */
	assert_int_equal(rs_tcp_cubic_k(3 * 536, 536), 1957);
	assert_int_equal(rs_tcp_cubic_k(0, 1000), 0);
}

/* W_cubic(t) = C (t - K)^3 + W_max, in bytes of SMSS 1000. */
static void test_w_cubic(void **state)
{
	(void)state;
	near(rs_tcp_cubic_w(100000, 4217, 1000, 0), 70003.5, 2);
	near(rs_tcp_cubic_w(100000, 4217, 1000, 1000), 86682.8, 2);
	near(rs_tcp_cubic_w(100000, 4217, 1000, 2000), 95641.3, 2);
	assert_int_equal(rs_tcp_cubic_w(100000, 4217, 1000, 4217), 100000);
	near(rs_tcp_cubic_w(100000, 4217, 1000, 5217), 100400, 2);
	near(rs_tcp_cubic_w(100000, 4217, 1000, 6217), 103200, 2);
	near(rs_tcp_cubic_w(100000, 4217, 1000, 10000), 177360.6, 2);
	/* 0.4 * 1460 * 20^3 = 4672000 */
	near(rs_tcp_cubic_w(1460000, 0, 1460, 20000), 1460000 + 4672000, 2);
	/* Far below 0 and far above the cap: clamped. */
	assert_int_equal(rs_tcp_cubic_w(1000, 100000, 1000, 0), 0);
	assert_int_equal(rs_tcp_cubic_w(1000, 0, 1000, 1ULL << 40),
			 RS_TCP_CWND_MAX);
}

static void conn_make(struct rs_tcp_conn *c, uint32_t cwnd, uint64_t srtt)
{
	memset(c, 0, sizeof(*c));
	c->snd_mss = 1000;
	c->cwnd = cwnd;
	c->srtt = srtt;
	rs_tcp_cubic_init(c);
}

/* §4.6 / §4.7 / §4.8. */
static void test_reduction(void **state)
{
	struct rs_tcp_conn c;

	(void)state;
	conn_make(&c, 100000, 100 * MS);
	assert_int_equal(rs_tcp_cubic_loss(&c), 70000);
	assert_int_equal(c.cub.w_max, 100000);
	assert_int_equal(c.cub.prior, 100000);
	/* Short of W_max again: fast convergence, W_max = 80000 * 0.85. */
	c.cwnd = 80000;
	assert_int_equal(rs_tcp_cubic_loss(&c), 56000);
	assert_int_equal(c.cub.w_max, 68000);
	/* Above it: W_max is simply cwnd. */
	c.cwnd = 90000;
	assert_int_equal(rs_tcp_cubic_loss(&c), 63000);
	assert_int_equal(c.cub.w_max, 90000);
	/* Never below two segments. */
	c.cwnd = 2000;
	assert_int_equal(rs_tcp_cubic_loss(&c), 2000);
	/* After an RTO the next epoch starts with K = 0 at its cwnd. */
	c.cwnd = 50000;
	assert_int_equal(rs_tcp_cubic_rto(&c), 35000);
	c.cwnd = 20000;
	rs_tcp_cubic_grow(&c, 5 * MS, 1000);
	assert_int_equal(c.cub.k_ms, 0);
	assert_int_equal(c.cub.w_max, 20000);
	assert_int_equal(c.cub.epoch, 5 * MS);
}

/* One RTT: an ACK per segment of the window at its start. */
static void rtt_acks(struct rs_tcp_conn *c, uint64_t now)
{
	uint32_t n = c->cwnd / c->snd_mss;

	for (uint32_t i = 0; i < n; i++)
		rs_tcp_cubic_grow(c, now, c->snd_mss);
}

/* From 1000 segments of 1000 bytes down to 700, RTT 100 ms: W_max
 * comes back at K = cbrt(300 / 0.4) = 9.0856 s, growth slows towards it
 * (concave) and speeds up after it (convex).  Reno's estimate, 0.53
 * segments per RTT, stays far below: this is the cubic region. */
static void test_growth(void **state)
{
	struct rs_tcp_conn c;
	static uint32_t w[150];

	(void)state;
	conn_make(&c, 1000000, 100 * MS);
	c.cwnd = rs_tcp_cubic_loss(&c);
	for (int i = 0; i < 150; i++) {
		rtt_acks(&c, (uint64_t)i * 100 * MS);
		w[i] = c.cwnd;
	}
	assert_int_equal(c.cub.k_ms, 9085);
	assert_true(c.cub.w_est < 800000);
	/* Each RTT ends between W_cubic(t) and the target W_cubic(t + RTT):
	 * t - K = i / 10 - 9.085 s, C = 400 bytes / s^3. */
	for (int i = 1; i < 150; i++) {
		double d0 = i / 10.0 - 9.085, d1 = d0 + 0.1;

		assert_true(w[i] >= 1000000 + 400 * d0 * d0 * d0 - 2);
		assert_true(w[i] <= 1000000 + 400 * d1 * d1 * d1 + 2);
	}
	near(w[90], 1000000, 100);
	/* Concave below W_max: the gain per second shrinks ... */
	for (int i = 10; i + 10 <= 90; i += 10)
		assert_true(w[i] - w[i - 10] > w[i + 10] - w[i]);
	assert_true(w[89] < 1000000);
	/* ... convex above it: it grows again. */
	for (int i = 100; i + 10 < 150; i += 10)
		assert_true(w[i] - w[i - 10] < w[i + 10] - w[i]);
	assert_true(w[92] > 1000000);
}

/* RTT 1 ms: Reno would gain a segment per ms, far more than W_cubic, so
 * cwnd follows W_est (alpha 9/17 up to cwnd_prior, then 1). */
static void test_reno_friendly(void **state)
{
	struct rs_tcp_conn c;
	double cw = 7, est = 7; /* the model, in segments */

	(void)state;
	conn_make(&c, 10000, 1 * MS);
	c.cwnd = rs_tcp_cubic_loss(&c);
	assert_int_equal(c.cwnd, 7000);
	for (int i = 0; i < 100; i++) {
		int n = (int)(cw + 1e-9);

		rtt_acks(&c, (uint64_t)i * MS);
		for (int k = 0; k < n; k++) {
			est += (est < 10 ? 9.0 / 17 : 1) / cw;
			cw = cw > est ? cw : est;
		}
	}
	/* W_cubic(0.1 s) is 7.44 segments: far below. */
	assert_true(rs_tcp_cubic_w(c.cub.w_max, c.cub.k_ms, 1000, 100) < 7500);
	near(c.cwnd, cw * 1000, cw * 1000 * 0.03);
	assert_true(c.cwnd > 50000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cbrt),
	    cmocka_unit_test(test_k),
	    cmocka_unit_test(test_w_cubic),
	    cmocka_unit_test(test_reduction),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_reno_friendly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
