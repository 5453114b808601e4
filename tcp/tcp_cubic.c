/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CUBIC window arithmetic (RFC 9438), when rs_tcp_config.cc says so.
 * Loss detection and recovery (fast retransmit, NewReno or RFC 6675
 * recovery, the RTO, the spurious-retransmit undo) stay tcp_cc.c's; only
 * how far cwnd falls and how it grows in congestion avoidance differ.
 *
 *   epoch    §4.2: begins at the first congestion-avoidance ACK after a
 *            reduction (or after slow start): cwnd_epoch = cwnd, W_est =
 *            cwnd, K from eq. 2; when cwnd is already at or above W_max,
 *            K = 0 and W_max = cwnd (the origin is here: convex growth);
 *   growth   per ACK of new data, t = now - epoch: target = W_cubic(t +
 *            SRTT) kept within [cwnd, 1.5 cwnd], cwnd += (target - cwnd)
 *            / cwnd per SMSS acked (§4.4 concave below W_max, §4.5
 *            convex above); W_est += alpha * SMSS / cwnd per SMSS acked,
 *            alpha = 3 (1 - beta) / (1 + beta) = 9/17 until W_est reaches
 *            cwnd_prior, then 1; when W_cubic(t) < W_est, cwnd = W_est
 *            (§4.3, the Reno-friendly region);
 *   loss     §4.6: ssthresh = cwnd * beta_cubic (0.7; cwnd rather than
 *            FlightSize, as the RFC allows), at least 2 SMSS; W_max =
 *            cwnd, or with fast convergence (§4.7) cwnd * (1 + beta) / 2
 *            when cwnd fell short of the previous W_max; the epoch ends;
 *   RTO      §4.8: ssthresh as on loss, cwnd 1 SMSS (tcp_cc.c); the next
 *            congestion avoidance starts with K = 0 and W_max = cwnd.
 *
 * Units: bytes and milliseconds; C = 0.4 segments / s^3 is 4 * SMSS /
 * 10^10 bytes / ms^3.  The per-ACK path is integer arithmetic only; the
 * cube root (exact, digit by digit) runs once per epoch.
 */

#include "tcp_pvt.h"

#define NS_PER_MS 1000000ULL
/* t - K is clamped to +-2^20 ms (17 minutes): its cube fits int64. */
#define T_MAX_MS (1LL << 20)
/* beta_cubic = 7/10; (1 + beta) / 2 = 17/20; alpha = 9/17. */
#define BETA_NUM 7
#define BETA_DEN 10

uint64_t rs_tcp_cbrt(uint64_t x)
{
	uint64_t y = 0, b;

	/* One bit of the root per three bits of x, highest first:
	 * (2y + 1)^3 - (2y)^3 = 3 (2y)(2y + 1) + 1. */
	for (int s = 63; s >= 0; s -= 3) {
		y <<= 1;
		b = 3 * y * (y + 1) + 1;
		if ((x >> s) >= b) {
			x -= b << s;
			y++;
		}
	}
	return y;
}

uint32_t rs_tcp_cubic_k(uint32_t dist, uint16_t mss)
{
	/* K^3 = dist / (C * SMSS) s^3 = dist * 2.5e9 / SMSS ms^3 (dist <=
	 * 2^30 keeps the product below 2^62). */
	return (uint32_t)rs_tcp_cbrt((uint64_t)dist * 2500000000ULL / mss);
}

uint32_t rs_tcp_cubic_w(uint32_t w_max, uint32_t k_ms, uint16_t mss,
			uint64_t t_ms)
{
	int64_t d = (int64_t)RS_TCP_MIN(t_ms, (uint64_t)T_MAX_MS) - k_ms;
	int64_t w;

	d = RS_TCP_MAX(d, -T_MAX_MS);
	/* C * SMSS * d^3, with d^3 taken in 10^6 ms^3 first so that the
	 * product stays inside int64 (the loss: under 0.0004 SMSS). */
	w = (int64_t)w_max + d * d * d / 1000000 * 4 * mss / 10000;
	w = RS_TCP_MAX(w, 0);
	return (uint32_t)RS_TCP_MIN(w, (int64_t)RS_TCP_CWND_MAX);
}

void rs_tcp_cubic_init(struct rs_tcp_conn *c)
{
	c->cub.epoch = RS_TCP_CUBIC_NO_EPOCH;
	c->cub.w_max = 0;
	c->cub.prior = 0;
	c->cub.k_ms = 0;
	c->cub.w_est = 0;
	c->cub.cwnd_rem = 0;
	c->cub.est_rem = 0;
}

static uint32_t beta_window(const struct rs_tcp_conn *c)
{
	uint32_t w = (uint32_t)((uint64_t)c->cwnd * BETA_NUM / BETA_DEN);

	return RS_TCP_MAX(w, 2u * c->snd_mss);
}

uint32_t rs_tcp_cubic_loss(struct rs_tcp_conn *c)
{
	struct rs_tcp_cubic *cu = &c->cub;

	cu->prior = c->cwnd;
	/* §4.7: a window that fell short of the last W_max means a new
	 * flow is taking its share: give up more of ours. */
	if (c->cwnd < cu->w_max)
		cu->w_max = (uint32_t)((uint64_t)c->cwnd *
				       (BETA_DEN + BETA_NUM) / (2 * BETA_DEN));
	else
		cu->w_max = c->cwnd;
	cu->epoch = RS_TCP_CUBIC_NO_EPOCH;
	return beta_window(c);
}

uint32_t rs_tcp_cubic_rto(struct rs_tcp_conn *c)
{
	uint32_t ssthresh = rs_tcp_cubic_loss(c);

	/* §4.8: the next epoch takes W_max from its own start, K = 0. */
	c->cub.w_max = 0;
	return ssthresh;
}

static void epoch_begin(struct rs_tcp_conn *c, uint64_t now)
{
	struct rs_tcp_cubic *cu = &c->cub;

	cu->epoch = now;
	cu->w_est = c->cwnd;
	cu->cwnd_rem = 0;
	cu->est_rem = 0;
	if (c->cwnd < cu->w_max) {
		cu->k_ms = rs_tcp_cubic_k(cu->w_max - c->cwnd, c->snd_mss);
	} else {
		cu->k_ms = 0;
		cu->w_max = c->cwnd;
	}
}

/* @p num / (@p den * cwnd) bytes, the remainder carried in @p rem
 * (below den * cwnd; num < 2^61 leaves room for it). */
static uint32_t frac_inc(uint64_t num, uint32_t den, uint32_t cwnd,
			 uint64_t *rem)
{
	uint64_t d = (uint64_t)den * cwnd, n = num + *rem;

	*rem = n % d;
	return (uint32_t)RS_TCP_MIN(n / d, (uint64_t)RS_TCP_CWND_MAX);
}

/* §4.3: W_est grows as Reno with AIMD(alpha, beta) would: alpha / cwnd
 * segments per segment acked, alpha = 9/17 below cwnd_prior, else 1. */
static void west_grow(struct rs_tcp_conn *c, uint32_t acked)
{
	struct rs_tcp_cubic *cu = &c->cub;
	uint64_t num = (uint64_t)acked * c->snd_mss;
	bool reno = cu->w_est >= cu->prior;

	cu->w_est += frac_inc(num * (reno ? 17 : 9), 17, c->cwnd, &cu->est_rem);
	cu->w_est = RS_TCP_MIN(cu->w_est, RS_TCP_CWND_MAX);
}

void rs_tcp_cubic_grow(struct rs_tcp_conn *c, uint64_t now, uint32_t acked)
{
	struct rs_tcp_cubic *cu = &c->cub;
	uint32_t cwnd = c->cwnd, mss = c->snd_mss, w_t, target;
	uint64_t t_ms;

	if (cu->epoch == RS_TCP_CUBIC_NO_EPOCH)
		epoch_begin(c, now);
	t_ms = (now - cu->epoch) / NS_PER_MS;
	west_grow(c, acked);
	w_t = rs_tcp_cubic_w(cu->w_max, cu->k_ms, mss, t_ms);
	if (w_t < cu->w_est) {
		c->cwnd = RS_TCP_MAX(cwnd, cu->w_est);
		return;
	}
	/* §4.2: aim one RTT ahead, but never back nor beyond 1.5 cwnd. */
	target = rs_tcp_cubic_w(cu->w_max, cu->k_ms, mss,
				t_ms + c->srtt / NS_PER_MS);
	target = RS_TCP_MIN(RS_TCP_MAX(target, cwnd), cwnd + cwnd / 2);
	cwnd +=
	    frac_inc((uint64_t)(target - cwnd) * acked, 1, cwnd, &cu->cwnd_rem);
	c->cwnd = RS_TCP_MIN(cwnd, RS_TCP_CWND_MAX);
}
