/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RACK (RFC 8985 §6), time-based loss detection on SACK connections
 * ([tcp] rack): a segment is lost when one sent after it has been
 * delivered and a reordering window has passed since then -- rather than
 * (only) when DupThresh segments above it were SACKed, which a short
 * flight never has, and which cannot see a retransmission lost again.
 *
 * When each byte was last sent: the send-time log (xl[]), ranges of the
 * flight in sequence order, each with the time its bytes last left
 * (rs_tcp_rack_sent(), from every data send) and whether they were
 * resent.  New data joins the last range while it goes within srtt/16
 * of the range's first send (xl_first); a resend splices a range of its
 * own in.  When the log is full
 * the two neighbours closest in time merge, keeping the later time: a
 * range looks younger than it is, which can only delay a verdict,
 * never make one that is wrong.  Ranges leave as snd_una passes them.
 *
 * On each ACK (rs_tcp_rack_update()): of the bytes it delivers (the
 * cumulative ACK's advance and its SACK blocks), the range sent last
 * gives RACK.xmit_ts (rack_t) and RACK.end_seq (rack_end), and its RTT
 * RACK.rtt -- skipping a resent range whose ACK comes sooner than the
 * least RTT seen, which the original may have earned (§6.2 step 2).
 * Bytes delivered below the highest delivered one (rack_fack) that were
 * never resent arrived out of order: reordering seen (step 3); so does a
 * recovery the timestamps show spurious (the original arrived, only
 * late; Linux's undo does the same).  That and a D-SACK (once a round
 * trip) double the reordering window's multiplier (up to 255, back to 1
 * after sixteen recoveries; step 4 adds one, but a path that reorders by
 * several ms then costs dozens of spurious recoveries before the window
 * covers it: seen in tcp_faults.sh's reorder profile).  A D-SACK does
 * not say the path reorders -- a rescue resend or a tail loss probe
 * earns one whenever the original was not lost -- and taking it so cost
 * 20 and 50 ms paths with 0.1% loss a round trip per loss (DupThresh off,
 * the window at SRTT): 0.6-0.7x Linux.  An RTO forgets rack_fack with
 * the scoreboard: a byte SACKed before it and acked after is no sign.
 *
 * Then rs_tcp_rack_detect() (step 5): every unSACKed range sent before
 * rack_t (or at it, below rack_end) is lost once rack_rtt + reo_wnd has
 * passed since it was sent; the others set the reordering timer (the RTX
 * timer, tcp_timer.c).  reo_wnd is min_rtt/4 (the least RTT of the
 * timed segment, tcp_cc.c; times the multiplier, at most SRTT + 4
 * RTTVAR -- RFC 8985 stops at SRTT, but a path that reorders by as much
 * as its round trip then costs hundreds of spurious recoveries), or 0
 * when no reordering was seen and the connection is in recovery or
 * DupThresh segments are SACKed -- DupThresh itself, as Linux has it;
 * once reordering is seen, DupThresh no longer calls anything lost
 * (rs_tcp_rack_time_only()).  The
 * verdict reaches RFC 6675's machinery (tcp_sack.c) as a frontier:
 * every unSACKed byte below rack_lost is lost -- holes, and the tail
 * above the highest SACK, which DupThresh can never call lost.  A
 * resent range found lost (a lost retransmission) moves HighRxt back to
 * its start so that NextSeg resends it, where only the RTO would have.
 */

#include <string.h>

#include "tcp_pvt.h"

/* Times in the log: ns >> 10 (1.024 us), bit 0 the resent flag. */
#define T_RESENT 1u
#define T_SHIFT 10
/* Joining new data to the last range: within srtt / 2^GRAN_SHIFT. */
#define GRAN_SHIFT 4
#define GRAN_NO_RTT (1000000u >> T_SHIFT) /* 1 ms before a sample */
/* Widening: at most this many quarters of min_rtt (the RTT bound in
 * reo_wnd() caps it first unless min_rtt is tiny), and the recoveries it
 * lasts (RFC 8985 §6.2 step 4; Linux's bound). */
#define REO_MULT_MAX 255
#define REO_PERSIST 16

static bool rack_on(const struct rs_tcp_conn *c)
{
	return c->st->cfg.rack && c->sack_ok;
}

static uint32_t t_of(uint64_t now)
{
	return (uint32_t)(now >> T_SHIFT) & ~T_RESENT;
}

/* @p a - @p b in log units, flags ignored. */
static int32_t t_diff(uint32_t a, uint32_t b)
{
	return (int32_t)((a & ~T_RESENT) - (b & ~T_RESENT));
}

static uint32_t t_later(uint32_t a, uint32_t b)
{
	uint32_t t = t_diff(a, b) >= 0 ? a : b;

	return (t & ~T_RESENT) | ((a | b) & T_RESENT);
}

/* The start of entry @p i's range. */
static uint32_t xl_start(const struct rs_tcp_conn *c, unsigned i)
{
	return i == 0 ? c->snd_una : c->xl[i - 1].end;
}

/* The log is over full: merge the neighbours closest in time. */
static void xl_merge(struct rs_tcp_xlog *xl, unsigned *n)
{
	unsigned best = 0;
	uint32_t gap = UINT32_MAX;

	for (unsigned i = 0; i + 1 < *n; i++) {
		int32_t d = t_diff(xl[i + 1].t, xl[i].t);
		uint32_t g = (uint32_t)(d < 0 ? -(int64_t)d : d);

		if (g < gap) {
			gap = g;
			best = i;
		}
	}
	xl[best].t = t_later(xl[best].t, xl[best + 1].t);
	xl[best].end = xl[best + 1].end;
	for (unsigned i = best + 1; i + 1 < *n; i++)
		xl[i] = xl[i + 1];
	(*n)--;
}

/* Splice [@p seq, @p end) sent at @p t into the log. */
static void xl_splice(struct rs_tcp_conn *c, uint32_t seq, uint32_t end,
		      uint32_t t)
{
	struct rs_tcp_xlog out[RS_TCP_XLOG_MAX + 3];
	uint32_t prev = c->snd_una;
	unsigned m = 0;
	bool put = false;

	for (unsigned i = 0; i < c->xl_n; i++) {
		const struct rs_tcp_xlog *e = &c->xl[i];

		if (RS_SEQ_LT(prev, seq)) /* its part below */
			out[m++] = (struct rs_tcp_xlog){
			    .end = RS_SEQ_MIN(e->end, seq), .t = e->t};
		if (!put && RS_SEQ_GT(e->end, seq)) {
			out[m++] = (struct rs_tcp_xlog){.end = end, .t = t};
			put = true;
		}
		if (RS_SEQ_GT(e->end, end)) /* its part above */
			out[m++] =
			    (struct rs_tcp_xlog){.end = e->end, .t = e->t};
		prev = e->end;
	}
	if (!put)
		out[m++] = (struct rs_tcp_xlog){.end = end, .t = t};
	while (m > RS_TCP_XLOG_MAX)
		xl_merge(out, &m);
	memcpy(c->xl, out, m * sizeof(out[0]));
	c->xl_n = (uint8_t)m;
}

void rs_tcp_rack_sent(struct rs_tcp_conn *c, uint32_t seq, uint32_t len,
		      uint64_t now)
{
	uint32_t end = seq + len, t = t_of(now), gran, top;
	struct rs_tcp_xlog *last;
	unsigned n = c->xl_n;

	if (!rack_on(c) || len == 0 || RS_SEQ_LT(seq, c->snd_una))
		return;
	top = n > 0 ? c->xl[n - 1].end : c->snd_una;
	if (RS_SEQ_LT(seq, top)) { /* a resend */
		xl_splice(c, seq, RS_SEQ_MIN(end, top), t | T_RESENT);
		if (RS_SEQ_LEQ(end, top))
			return;
		n = c->xl_n; /* the rest is new */
	}
	last = n > 0 ? &c->xl[n - 1] : NULL;
	gran =
	    c->srtt != 0
		? RS_TCP_MAX((uint32_t)(c->srtt >> (T_SHIFT + GRAN_SHIFT)), 1u)
		: GRAN_NO_RTT;
	if (last != NULL && !(last->t & T_RESENT) &&
	    (uint32_t)t_diff(t, c->xl_first) < gran) {
		last->end = end;
		last->t = t;
		return;
	}
	if (n == RS_TCP_XLOG_MAX)
		xl_merge(c->xl, &n);
	c->xl[n].end = end;
	c->xl[n].t = t;
	c->xl_n = (uint8_t)(n + 1);
	c->xl_first = t;
}

void rs_tcp_rack_trim(struct rs_tcp_conn *c)
{
	unsigned drop = 0;

	while (drop < c->xl_n && RS_SEQ_LEQ(c->xl[drop].end, c->snd_una))
		drop++;
	c->xl_n = (uint8_t)(c->xl_n - drop);
	memmove(c->xl, c->xl + drop, c->xl_n * sizeof(c->xl[0]));
	/* Sequence numbers behind snd_una would read as ahead of it 2 GiB
	 * on: keep them at it. */
	if (RS_SEQ_LT(c->rack_lost, c->snd_una))
		c->rack_lost = c->snd_una;
	if (RS_SEQ_LT(c->rack_fack, c->snd_una))
		c->rack_fack = c->snd_una;
	if (c->snd_una == c->snd_max)
		c->rack_valid = false; /* nothing left to judge */
}

/* Reordering is seen: from here the reordering window alone decides. */
static void reordering(struct rs_tcp_conn *c)
{
	if (c->rack_reord)
		return;
	c->rack_reord = true;
	RS_TCP_COUNT(c->st, RACK_REORDERING);
}

/* The first byte of [@p l, @p r) the scoreboard does not hold (@p r if
 * it holds them all). */
static uint32_t first_unsacked(const struct rs_tcp_conn *c, uint32_t l,
			       uint32_t r)
{
	for (unsigned j = 0; j < c->n_sb && RS_SEQ_LT(l, r); j++)
		if (RS_SEQ_LEQ(c->sb[j].left, l) &&
		    RS_SEQ_LT(l, c->sb[j].right))
			l = c->sb[j].right;
	return RS_SEQ_MIN(l, r);
}

/* Delivered bytes [@p l, @p r) (before the scoreboard takes them):
 * RACK.xmit_ts, end_seq and rtt from the range sent last; reordering if
 * a byte below @p until, never resent and not SACKed before, arrived
 * below rack_fack.  @p until bounds what the ACK's own segment can have
 * brought (the first hole, the first SACK block: RFC 2018 §4): bytes
 * further up may have been SACKed in blocks the scoreboard forgot (it
 * keeps RS_TCP_SB_MAX) or the peer stopped repeating, which a loss-only
 * path showed as reordering. */
static void delivered(struct rs_tcp_conn *c, uint64_t now, uint32_t l,
		      uint32_t r, uint32_t until)
{
	uint32_t tn = t_of(now), min_t = (uint32_t)(c->min_rtt >> T_SHIFT);

	for (unsigned i = 0; i < c->xl_n; i++) {
		const struct rs_tcp_xlog *e = &c->xl[i];
		uint32_t a = RS_SEQ_MAX(xl_start(c, i), l);
		uint32_t b = RS_SEQ_MIN(e->end, r);
		uint64_t rtt;
		int32_t d;

		if (!RS_SEQ_LT(a, b))
			continue;
		if ((e->t & T_RESENT) && (uint32_t)t_diff(tn, e->t) < min_t)
			continue; /* the original's, perhaps */
		if (!(e->t & T_RESENT) && !c->rack_reord &&
		    RS_SEQ_LT(first_unsacked(c, a, b),
			      RS_SEQ_MIN(RS_SEQ_MIN(b, until), c->rack_fack)))
			reordering(c);
		rtt = (uint64_t)(uint32_t)t_diff(tn, e->t) << T_SHIFT;
		d = c->rack_valid ? t_diff(e->t, c->rack_t) : 1;
		if (d > 0 || (d == 0 && RS_SEQ_GT(b, c->rack_end))) {
			c->rack_valid = true;
			c->rack_t = e->t;
			c->rack_end = b;
			c->rack_rtt = rtt;
		}
	}
	if (RS_SEQ_GT(r, c->rack_fack))
		c->rack_fack = r;
}

void rs_tcp_rack_update(struct rs_tcp_conn *c, uint64_t now,
			const struct rs_tcp_seg_in *s, bool dsack)
{
	uint32_t hi = c->snd_max;

	if (!rack_on(c))
		return;
	if (RS_SEQ_GT(s->ack, c->snd_una) && RS_SEQ_LEQ(s->ack, hi))
		delivered(c, now, c->snd_una, s->ack,
			  c->n_sb > 0 ? c->sb[0].left : s->ack);
	for (unsigned i = 0; i < s->opt.sack_blocks; i++) {
		uint32_t l = RS_SEQ_MAX(s->opt.sack[i].left, c->snd_una);
		uint32_t r = s->opt.sack[i].right;

		if (RS_SEQ_LT(l, r) && RS_SEQ_LEQ(r, hi))
			delivered(c, now, l, r, i == 0 && !dsack ? r : l);
	}
	/* §6.2 step 4: one widening a round trip while D-SACKs come */
	if (c->reo_round_on && RS_SEQ_GEQ(c->snd_una, c->reo_round))
		c->reo_round_on = false;
	if (dsack && !c->reo_round_on) {
		c->reo_round_on = true;
		c->reo_round = c->snd_max;
		rs_tcp_rack_widen(c, false);
	}
}

void rs_tcp_rack_widen(struct rs_tcp_conn *c, bool reordered)
{
	if (reordered)
		reordering(c);
	c->reo_mult =
	    (uint8_t)RS_TCP_MIN(2u * c->reo_mult, (unsigned)REO_MULT_MAX);
	c->reo_persist = REO_PERSIST;
}

void rs_tcp_rack_recovery(struct rs_tcp_conn *c)
{
	if (c->reo_persist > 0 && --c->reo_persist == 0)
		c->reo_mult = 1;
}

/* §6.2 step 4. */
static uint64_t reo_wnd(const struct rs_tcp_conn *c)
{
	if (!c->rack_reord &&
	    (c->in_recovery || rs_tcp_sack_bytes(c) >=
				   rs_tcp_dupthresh(c) * (uint32_t)c->snd_mss))
		return 0;
	return RS_TCP_MIN(c->reo_mult * c->min_rtt / 4,
			  c->srtt + 4 * c->rttvar);
}

uint64_t rs_tcp_rack_detect(struct rs_tcp_conn *c, uint64_t now)
{
	uint32_t tn = t_of(now), lost = c->rack_lost, rxt = c->high_rxt;
	uint64_t timeout = 0;
	uint32_t wait;

	if (!rack_on(c) || !c->rack_valid || c->snd_una == c->snd_max ||
	    c->snd_nxt != c->snd_max /* going back after an RTO */)
		return 0;
	wait = (uint32_t)((c->rack_rtt + reo_wnd(c)) >> T_SHIFT);
	for (unsigned i = 0; i < c->xl_n; i++) {
		const struct rs_tcp_xlog *e = &c->xl[i];
		uint32_t a = xl_start(c, i), b = e->end, since;
		int32_t d = t_diff(c->rack_t, e->t);
		bool resent = e->t & T_RESENT;

		if (d < 0)
			continue; /* sent after RACK's segment */
		if (d == 0) {
			/* With it (one burst has one now): new data goes in
			 * sequence order, so what lies below it went first;
			 * a resend may have followed it (for a later ACK of
			 * the same burst): not judged */
			if (resent || !RS_SEQ_LT(a, c->rack_end))
				continue;
			b = RS_SEQ_MIN(b, c->rack_end);
		}
		if (rs_tcp_sack_covers(c, a, b))
			continue; /* all delivered */
		if (resent ? !(c->in_recovery && RS_SEQ_LT(a, c->high_rxt))
			   : RS_SEQ_LEQ(b, c->rack_lost))
			continue; /* resent since, or lost already */
		since = (uint32_t)t_diff(tn, e->t);
		if (since < wait) {
			timeout = RS_TCP_MAX(timeout, (uint64_t)(wait - since)
							  << T_SHIFT);
			continue;
		}
		if (resent)
			rxt = RS_SEQ_MIN(rxt, a);
		else
			lost = RS_SEQ_MAX(lost, b);
	}
	if (RS_SEQ_GT(lost, c->rack_lost)) {
		RS_TCP_COUNT(c->st, RACK_LOST);
		c->rack_lost = lost;
	}
	if (RS_SEQ_LT(rxt, c->high_rxt)) {
		RS_TCP_COUNT(c->st, RACK_LOST_RTX);
		c->high_rxt = RS_SEQ_MAX(rxt, c->snd_una);
	}
	return timeout;
}
