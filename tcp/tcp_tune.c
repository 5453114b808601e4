/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Buffer auto-tuning (API v1.6): rings that grow with the path.
 *
 * A ring's capacity is what the window promises (receive) or what the
 * application may queue (send); its buffer only follows what it holds
 * (rings/rs_byte_ring.h), so a raised capacity costs memory only while
 * bytes fill it.  Neither ring ever shrinks back: a capacity is a promise
 * the peer may already have used.
 *
 * Receive (dynamic right-sizing, as Linux's tcp_rcv_space_adjust()):
 * once a round trip, when the application drains the ring, compare what
 * it drained in that round trip with the round trip before.  More means
 * the sender is still speeding up: the window must hold twice this round
 * trip's bytes (one for the data in flight, one for a loss's recovery),
 * plus 16 segments of slack, plus twice the growth again (the ACKs sent
 * now govern the next round trip, which slow start may double).  The
 * round trip is the receiver's own estimate: the echo of our timestamps
 * on in-order data (a moving average), else the time one announced
 * window took to arrive (a bound from above, so only a lower sample
 * replaces it), else the handshake's RTT.
 *
 * Send: the ring holds twice cwnd, so that a window of data can be in
 * flight while the next is queued; cwnd grows only while it limits the
 * flow (tcp_cc.c), so an application-limited sender keeps its ring.
 *
 * Every raise must fit cfg.tune_mem (the stack's budget), then is asked
 * of cfg.grow (the owner's charge); either refusing keeps the ring as it
 * is (tune_refused; a refused send ring is not asked again).  A locked
 * size (rcv_lock, snd_lock: SO_RCVBUF / SO_SNDBUF) is never tuned.
 */

#include "tcp_pvt.h"

/* Slack the receive window keeps beyond twice a round trip's bytes. */
#define RCV_SLACK_SEGS 16u
/* What a first round trip is compared with: an initial window. */
#define RCV_SPACE_INIT_SEGS 10u
#define NS_PER_MS 1000000ULL

/* Raise @p r's capacity to the power of two at or above @p want, at most
 * @p top.  @return false when it was refused (not when there was nothing
 * to do). */
static bool grow(struct rs_tcp_conn *c, struct rs_byte_ring *r, uint64_t want,
		 uint32_t top, bool rcv)
{
	struct rs_tcp_stack *st = c->st;
	size_t cap = rs_byte_ring_capacity(r), next = cap;
	size_t delta;

	while (next < want && next < top)
		next <<= 1;
	if (next <= cap)
		return true;
	delta = next - cap;
	if ((st->cfg.tune_mem != 0 && st->tuned + delta > st->cfg.tune_mem) ||
	    (st->cfg.grow != NULL &&
	     !st->cfg.grow(st->cfg.grow_ctx, c, c->user, rcv, delta))) {
		RS_TCP_COUNT(st, TUNE_REFUSED);
		return false;
	}
	if (rs_byte_ring_set_capacity(r, next) != 0)
		return false; /* cannot happen: next is a power of two <= top */
	st->tuned += delta;
	c->tuned += (uint32_t)delta;
	if (rcv)
		RS_TCP_COUNT(st, RCV_TUNED);
	else
		RS_TCP_COUNT(st, SND_TUNED);
	return true;
}

/* The receiver's RTT estimate, fed by two kinds of sample.  @p upper: a
 * window-arrival sample, which includes any pause of the sender's and so
 * only ever lowers the estimate. */
static void rcv_rtt_update(struct rs_tcp_conn *c, uint64_t sample, bool upper)
{
	if (sample == 0)
		return;
	if (c->rcv_rtt == 0)
		c->rcv_rtt = sample;
	else if (!upper)
		c->rcv_rtt = c->rcv_rtt - c->rcv_rtt / 8 + sample / 8;
	else if (sample < c->rcv_rtt)
		c->rcv_rtt = sample;
}

void rs_tcp_tune_rcv_rtt(struct rs_tcp_conn *c, uint64_t now,
			 const struct rs_tcp_seg_in *s)
{
	uint32_t ms;

	if (c->rcv_rtt_time != 0 && RS_SEQ_GEQ(c->rcv_nxt, c->rcv_rtt_seq))
		rcv_rtt_update(c, now - c->rcv_rtt_time, true);
	if (c->rcv_rtt_time == 0 || RS_SEQ_GEQ(c->rcv_nxt, c->rcv_rtt_seq)) {
		c->rcv_rtt_seq = c->rcv_nxt + (RS_SEQ_GT(c->rcv_adv, c->rcv_nxt)
						   ? c->rcv_adv - c->rcv_nxt
						   : (uint32_t)c->rcv_mss);
		c->rcv_rtt_time = now;
	}
	/* The echo of one of our TSvals: our clock then, in ms.  0 ms says
	 * only "below a millisecond": the window samples tell more. */
	if (!c->ts_ok || !s->opt.has_ts || s->opt.ts_ecr == 0)
		return;
	ms = rs_tcp_ts_now(c, now) - s->opt.ts_ecr;
	if (ms != 0 && ms <= c->st->cfg.rto_max_ns / NS_PER_MS)
		rcv_rtt_update(c, (uint64_t)ms * NS_PER_MS, false);
}

void rs_tcp_tune_rcv(struct rs_tcp_conn *c, uint64_t now)
{
	uint64_t rtt = c->rcv_rtt != 0 ? c->rcv_rtt : c->srtt;
	uint64_t tail, copied, win;
	uint32_t top;

	if (!rs_tcp_rcv_tunable(c))
		return;
	tail = rs_byte_ring_tail(c->rcv);
	if (c->rcvq_time == 0) {
		c->rcvq_seq = tail;
		c->rcvq_time = now;
		c->rcvq_space = (uint32_t)RS_TCP_MIN(
		    rs_byte_ring_capacity(c->rcv),
		    (size_t)RCV_SPACE_INIT_SEGS * c->rcv_mss);
		return;
	}
	if (rtt == 0 || now - c->rcvq_time < rtt)
		return;
	copied = tail - c->rcvq_seq;
	if (copied > c->rcvq_space) {
		top = rs_tcp_rcv_buf_top(c->st, &c->opts);
		win = 2 * copied + (uint64_t)RCV_SLACK_SEGS * c->rcv_mss;
		win += 2 * (win * (copied - c->rcvq_space) /
			    RS_TCP_MAX(c->rcvq_space, 1u));
		grow(c, c->rcv, win, top, true);
		c->rcvq_space =
		    (uint32_t)RS_TCP_MIN(copied, (uint64_t)UINT32_MAX);
	}
	c->rcvq_seq = tail;
	c->rcvq_time = now;
}

void rs_tcp_tune_snd(struct rs_tcp_conn *c)
{
	const struct rs_tcp_config *cfg = &c->st->cfg;
	uint64_t want = 2 * (uint64_t)c->cwnd;

	if (c->snd == NULL || !c->app_held || c->snd_tune_off ||
	    c->opts.snd_lock || want <= rs_byte_ring_capacity(c->snd) ||
	    cfg->snd_buf_max <= rs_byte_ring_capacity(c->snd))
		return;
	if (!grow(c, c->snd, want, cfg->snd_buf_max, false))
		c->snd_tune_off = true;
}

void rs_tcp_tune_free(struct rs_tcp_conn *c)
{
	c->st->tuned -= c->tuned;
	c->tuned = 0;
}
