/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Timestamps (RFC 7323 §3-5), once both SYNs carried the option
 * (negotiated in rs_tcp_conn_negotiate(); options encoded in tcp_opt.c,
 * put on every segment but RSTs by tcp_out.c):
 *
 *   TSval     our clock in milliseconds (the caller's now) plus a
 *             per-connection offset (isn.c), so that it says nothing
 *             about other connections or the host's uptime (§7.1);
 *   TSecr     TS.Recent;
 *   TS.Recent §4.3: taken from an acceptable segment whose TSval is not
 *             older and whose SEQ is at or before Last.ACK.sent (the ACK
 *             we last sent), so that it echoes the segment that opened
 *             the oldest gap, not a later one (RTTM stays honest under
 *             delayed ACKs and loss);
 *   RTTM      §4.1: every ACK that moves snd_una gives an RTT sample from
 *             its TSecr (retransmissions included: the echo says which
 *             copy was answered, so Karn's rule is not needed);
 *   PAWS      §5.3 R1: a non-RST segment whose TSval is older than
 *             TS.Recent is an old duplicate: dropped and answered with an
 *             ACK (tcp_in.c).  TS.Recent older than 24 days is no longer
 *             trusted (§5.5).
 *
 * Choice: PAWS allows a slack of one smoothed RTT (at least 1 ms, as
 * Linux allows one tick).  Reordering on the path makes an original
 * arrive after a later retransmission of an earlier segment, or an ACK
 * after a newer one; dropping those costs the peer a resend (and each
 * drop an ACK) for nothing.  The old duplicates PAWS is for come from an
 * earlier turn of the sequence space, at least 2^31 bytes older: at any
 * rate this stack reaches, seconds, not one RTT.
 *
 * Choice: a segment without the option on a timestamped connection is
 * accepted (§3.2 allows dropping it) and simply takes no part in PAWS,
 * TS.Recent or RTTM.
 */

#include "tcp_pvt.h"

#define NS_PER_MS 1000000ULL
/* §5.5: TS.Recent idle this long is invalid. */
#define TS_RECENT_MAX_AGE (24ULL * 24 * 3600 * 1000000000ULL)

uint32_t rs_tcp_ts_now(const struct rs_tcp_conn *c, uint64_t now)
{
	return (uint32_t)(now / NS_PER_MS) + c->ts_offset;
}

static bool ts_in(const struct rs_tcp_conn *c, const struct rs_tcp_seg_in *s)
{
	return c->ts_ok && s->opt.has_ts;
}

bool rs_tcp_ts_paws_ok(const struct rs_tcp_conn *c, uint64_t now,
		       const struct rs_tcp_seg_in *s)
{
	uint32_t slack = (uint32_t)RS_TCP_MAX(c->srtt / NS_PER_MS, 1);

	if (!ts_in(c, s) || (s->flags & RS_TCP_RST))
		return true;
	if (now - c->ts_recent_at > TS_RECENT_MAX_AGE)
		return true;
	return !RS_SEQ_LT(s->opt.ts_val + slack, c->ts_recent);
}

void rs_tcp_ts_recent_update(struct rs_tcp_conn *c, uint64_t now,
			     const struct rs_tcp_seg_in *s)
{
	if (!ts_in(c, s) || !RS_SEQ_LEQ(s->seq, c->last_ack_sent))
		return;
	if (RS_SEQ_GEQ(s->opt.ts_val, c->ts_recent) ||
	    now - c->ts_recent_at > TS_RECENT_MAX_AGE) {
		c->ts_recent = s->opt.ts_val;
		c->ts_recent_at = now;
	}
}

bool rs_tcp_ts_rtt(struct rs_tcp_conn *c, uint64_t now,
		   const struct rs_tcp_seg_in *s)
{
	uint32_t ms;

	/* TSecr 0: the peer had nothing to echo (e.g. its first ACK of a
	 * connection that offered TS one way only). */
	if (!ts_in(c, s) || s->opt.ts_ecr == 0)
		return false;
	ms = rs_tcp_ts_now(c, now) - s->opt.ts_ecr;
	if (ms > c->st->cfg.rto_max_ns / NS_PER_MS * 4)
		return false; /* not one of our values: ignore it */
	rs_tcp_rtt_sample(c, ms * NS_PER_MS);
	return true;
}
