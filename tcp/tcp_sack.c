/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SACK, sender side (RFC 2018 §5, RFC 6675), once both SYNs carried
 * SACK-permitted.
 *
 * The scoreboard is a sorted list of disjoint SACKed ranges above
 * snd_una, RS_TCP_SB_MAX of them in the connection (nothing allocated).
 * Every ACK's blocks are merged in (rs_tcp_sack_update(); blocks at or
 * below the cumulative ACK -- D-SACKs, RFC 2883 -- and blocks beyond
 * what we sent are ignored); snd_una moving trims it; an RTO clears it
 * (RFC 6675 §5.1: the receiver may have reneged, so go-back-N resends
 * everything).  When it is full a new range pushes out the highest one:
 * forgetting a SACK only costs a needless resend, never a stall.
 *
 * RFC 6675 on it (DupThresh 3, raised by reordering: tcp_cc.c):
 *   IsLost     a hole is lost when DupThresh discontiguous SACKed ranges,
 *              or more than (DupThresh - 1) * SMSS SACKed bytes, lie
 *              above it; the answer is
 *              the same for every byte of one hole, and holes lower down
 *              are lost whenever a higher one is;
 *   entry      the third duplicate ACK (tcp_cc.c) or, earlier, an ACK
 *              whose new SACK information makes the first hole lost:
 *              ssthresh = cwnd = FlightSize / 2, RecoveryPoint = snd_max,
 *              resend snd_una (§5 step 4), then as below;
 *   pipe       SetPipe(): every unSACKed byte up to snd_max counts once
 *              unless lost, and once more if resent (below HighRxt);
 *   each ACK   while cwnd - pipe >= SMSS, NextSeg(): rule 1, the lowest
 *              lost byte not yet resent; rule 2, new data (left to
 *              rs_tcp_out_push(), which sends it against cwnd - pipe);
 *              rule 3, when no new data can go, the lowest unSACKed byte
 *              not yet resent below the highest SACK; rule 4, once per
 *              recovery, the rescue: the last SMSS of what is unSACKed
 *              above the highest SACK and not resent yet (a lost tail,
 *              which no SACK can show lost: without it only the RTO
 *              would resend it).  HighRxt does not move for it.
 *   exit       the cumulative ACK reaches RecoveryPoint (tcp_cc.c).
 * A tail loss probe that arrives above holes makes every hole below it
 * lost at once (RFC 8985's RACK would: they left a PTO before it), as
 * DupThresh cannot when few segments follow them.  With RACK on
 * (tcp_rack.c), its time rule marks too: every unSACKed byte below
 * rack_lost is lost -- the holes, and the tail above the highest SACK,
 * which rule 1 then resends like a hole -- and a resend it finds lost
 * moves HighRxt back so that rule 1 sends it again.
 */

#include <string.h>

#include "tcp_pvt.h"

#define FILL_MAX 64 /* resends per call: bounded work per ACK */

static uint32_t blk_len(const struct rs_tcp_sack_block *b)
{
	return b->right - b->left;
}

static uint32_t sb_bytes(const struct rs_tcp_conn *c)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < c->n_sb; i++)
		n += blk_len(&c->sb[i]);
	return n;
}

uint32_t rs_tcp_sack_bytes(const struct rs_tcp_conn *c)
{
	return sb_bytes(c);
}

/* Adjacent ranges merge (sb_add()), so one range holds it all or none. */
bool rs_tcp_sack_covers(const struct rs_tcp_conn *c, uint32_t l, uint32_t r)
{
	for (unsigned j = 0; j < c->n_sb; j++)
		if (RS_SEQ_LEQ(c->sb[j].left, l) &&
		    RS_SEQ_GEQ(c->sb[j].right, r))
			return true;
	return false;
}

/* Merge [l, r) into the scoreboard; when full, the highest range goes. */
static void sb_add(struct rs_tcp_conn *c, uint32_t l, uint32_t r)
{
	struct rs_tcp_sack_block out[RS_TCP_SB_MAX + 1];
	unsigned n = 0, i = 0;

	for (; i < c->n_sb && RS_SEQ_LT(c->sb[i].right, l); i++)
		out[n++] = c->sb[i];
	for (; i < c->n_sb && RS_SEQ_LEQ(c->sb[i].left, r); i++) {
		l = RS_SEQ_MIN(l, c->sb[i].left);
		r = RS_SEQ_MAX(r, c->sb[i].right);
	}
	out[n].left = l;
	out[n++].right = r;
	for (; i < c->n_sb && n < RS_TCP_SB_MAX; i++)
		out[n++] = c->sb[i];
	n = RS_TCP_MIN(n, (unsigned)RS_TCP_SB_MAX);
	memcpy(c->sb, out, n * sizeof(out[0]));
	c->n_sb = (uint8_t)n;
}

uint32_t rs_tcp_sack_update(struct rs_tcp_conn *c,
			    const struct rs_tcp_seg_in *s)
{
	uint32_t lo = RS_SEQ_MAX(c->snd_una, s->ack), before, after;

	if (!c->sack_ok || s->opt.sack_blocks == 0)
		return 0;
	before = sb_bytes(c);
	for (unsigned i = 0; i < s->opt.sack_blocks; i++) {
		uint32_t l = s->opt.sack[i].left, r = s->opt.sack[i].right;

		if (!RS_SEQ_LT(l, r) || !RS_SEQ_GT(r, lo) ||
		    RS_SEQ_GT(r, c->snd_max))
			continue; /* empty, D-SACK (or old), or never sent */
		sb_add(c, RS_SEQ_MAX(l, lo), r);
	}
	after = sb_bytes(c);
	return after > before ? after - before : 0;
}

void rs_tcp_sack_trim(struct rs_tcp_conn *c)
{
	unsigned drop = 0;

	while (drop < c->n_sb && RS_SEQ_LEQ(c->sb[drop].right, c->snd_una))
		drop++;
	c->n_sb = (uint8_t)(c->n_sb - drop);
	memmove(c->sb, c->sb + drop, c->n_sb * sizeof(c->sb[0]));
	if (c->n_sb && RS_SEQ_LT(c->sb[0].left, c->snd_una))
		c->sb[0].left = c->snd_una;
	if (RS_SEQ_LT(c->high_rxt, c->snd_una))
		c->high_rxt = c->snd_una;
}

/* IsLost() for the hole [@p from, range @p j), @p above SACKed bytes
 * from range j up; or, after a tail loss probe arrived above holes, any
 * hole below the probe (tcp_cc.c tlp_ack()); or one RACK found lost. */
static bool hole_lost(const struct rs_tcp_conn *c, unsigned j, uint32_t from,
		      uint32_t above)
{
	uint32_t dt = rs_tcp_dupthresh(c);
	bool dup = !rs_tcp_rack_time_only(c);

	return (dup && (c->n_sb - j >= dt ||
			above > (dt - 1) * (uint32_t)c->snd_mss)) ||
	       (c->tlp_lost && RS_SEQ_LEQ(c->sb[j].left, c->tlp_seq)) ||
	       RS_SEQ_LT(from, c->rack_lost);
}

/* The lost part of the tail [@p from, snd_max) above the highest SACK:
 * what RACK marked. */
static uint32_t tail_lost(const struct rs_tcp_conn *c, uint32_t from)
{
	uint32_t end = RS_SEQ_MIN(c->rack_lost, c->snd_max);

	return RS_SEQ_GT(end, from) ? end - from : 0;
}

bool rs_tcp_sack_head_lost(const struct rs_tcp_conn *c)
{
	if (RS_SEQ_LT(c->snd_una, c->rack_lost))
		return true; /* the first unacked byte: RACK says lost */
	return c->n_sb > 0 && RS_SEQ_GT(c->sb[0].left, c->snd_una) &&
	       hole_lost(c, 0, c->snd_una, sb_bytes(c));
}

/* Bytes of [a, b) below HighRxt: resent, so in flight once more. */
static uint32_t resent_in(const struct rs_tcp_conn *c, uint32_t a, uint32_t b)
{
	uint32_t h = RS_SEQ_MIN(c->high_rxt, b);

	return RS_SEQ_GT(h, a) ? h - a : 0;
}

uint32_t rs_tcp_sack_pipe(const struct rs_tcp_conn *c)
{
	uint32_t prev = c->snd_una, above = sb_bytes(c), pipe = 0;

	for (unsigned j = 0; j < c->n_sb; j++) {
		uint32_t l = c->sb[j].left;

		if (!hole_lost(c, j, prev, above))
			pipe += l - prev;
		pipe += resent_in(c, prev, l);
		above -= blk_len(&c->sb[j]);
		prev = c->sb[j].right;
	}
	if (RS_SEQ_GT(c->snd_max, prev))
		pipe += c->snd_max - prev - tail_lost(c, prev) +
			resent_in(c, prev, c->snd_max);
	return pipe;
}

/* NextSeg() rules 1 (@p lost_only) and 3: the lowest byte of a hole not
 * yet resent, and how much of the hole follows it (<= SMSS); rule 1
 * takes the tail's lost part too. */
static bool next_seg(const struct rs_tcp_conn *c, bool lost_only, uint32_t *seq,
		     uint32_t *len)
{
	uint32_t prev = c->snd_una, above = sb_bytes(c), start, lost;

	for (unsigned j = 0; j < c->n_sb; j++) {
		uint32_t l = c->sb[j].left;

		start = RS_SEQ_MAX(prev, c->high_rxt);
		if (lost_only && !hole_lost(c, j, prev, above))
			return false; /* holes higher up are not lost either */
		if (RS_SEQ_LT(start, l)) {
			*seq = start;
			*len = RS_TCP_MIN(l - start, (uint32_t)c->snd_mss);
			return true;
		}
		above -= blk_len(&c->sb[j]);
		prev = c->sb[j].right;
	}
	start = RS_SEQ_MAX(prev, c->high_rxt);
	lost = tail_lost(c, prev);
	if (!lost_only || !RS_SEQ_LT(start, prev + lost))
		return false;
	*seq = start;
	*len = RS_TCP_MIN(prev + lost - start, (uint32_t)c->snd_mss);
	return true;
}

/* Rule 2 would send new data: some waits and the peer's window has room
 * (cwnd is the caller's check). */
static bool new_data_ok(const struct rs_tcp_conn *c)
{
	return rs_byte_ring_pending(c->snd) > 0 &&
	       c->snd_wnd > rs_tcp_flight(c);
}

/* NextSeg() rule 4: once per recovery, the last SMSS of the unSACKed
 * bytes above the highest SACK that were not resent. */
static bool rescue_seg(const struct rs_tcp_conn *c, uint32_t *seq,
		       uint32_t *len)
{
	uint32_t top = c->n_sb > 0 ? c->sb[c->n_sb - 1].right : c->snd_una;

	top = RS_SEQ_MAX(top, c->high_rxt);
	if (c->rescued || !RS_SEQ_LT(top, c->snd_max))
		return false;
	*seq = c->snd_max - RS_TCP_MIN(c->snd_max - top, (uint32_t)c->snd_mss);
	*len = c->snd_max - *seq;
	return true;
}

void rs_tcp_sack_fill(struct rs_tcp_conn *c, uint64_t now)
{
	uint32_t seq, len, sent;
	bool rescue;

	for (unsigned k = 0; k < FILL_MAX; k++) {
		if (rs_tcp_sack_pipe(c) + c->snd_mss > c->cwnd)
			return;
		rescue = false;
		if (!next_seg(c, true, &seq, &len)) { /* rule 1 */
			if (new_data_ok(c))
				return; /* rule 2: rs_tcp_out_push() sends it */
			if (!next_seg(c, false, &seq, &len) && /* rule 3 */
			    !(rescue = rescue_seg(c, &seq, &len)))
				return;
		}
		sent = rs_tcp_out_resend(c, now, seq, len);
		if (sent == 0)
			return;
		if (rescue) {
			RS_TCP_COUNT(c->st, SACK_RESCUE);
			c->rescued = true;
			continue;
		}
		RS_TCP_COUNT(c->st, SACK_RETRANS);
		c->high_rxt = seq + sent;
	}
}
