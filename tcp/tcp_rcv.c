/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receive side: payload into the receive ring, in order or not, the
 * peer's FIN, and when to acknowledge.
 *
 * In-order bytes are written at the ring's head and committed.  Bytes
 * beyond rcv_nxt are written straight into the ring's free space at
 * their place (head + (seq - rcv_nxt)) and remembered as a sorted list
 * of disjoint intervals: 8 in the connection, up to cfg.ooo_max in an
 * array allocated the first time a path reorders more (Linux keeps
 * every out-of-order segment; a small fixed list dropped a segment of
 * every ninth hole, which a sender reads as loss).
 * Writing (rs_byte_ring_place) may grow the ring's buffer; when that finds
 * no memory the segment is dropped as if the window were closed.
 * When in-order data reaches an interval, the interval's bytes are
 * already in place: committing moves head over them.  The window we
 * announce never exceeds the ring's free space, so every accepted byte
 * has a place.  Overlaps are resolved by writing the newer copy over the
 * older (RFC 9293 lets either be kept: a correct peer sends the same).
 *
 * ACKs (RFC 1122 §4.2.3.2, RFC 5681 §4.2): at least every second
 * full-sized segment, at once for out-of-order data, for data filling a
 * hole and for a FIN; otherwise after delack_ns.
 *
 * SACK (RFC 2018 §4), when negotiated: every ACK sent while intervals
 * are held reports them, the one that grew last first (it holds the
 * segment that triggered the ACK), then the others, most recently grown
 * first, as many as fit (tcp_out.c).  Each interval carries the stamp of
 * its last growth.  A duplicate -- data below rcv_nxt, or wholly inside
 * an interval -- is reported once as a first, D-SACK block (RFC 2883
 * §4); the out-of-order list itself stays the same.
 */

#include <stdlib.h>
#include <string.h>

#include "tcp_pvt.h"

uint32_t rs_tcp_rcv_space(const struct rs_tcp_conn *c)
{
	if (c->rcv == NULL)
		return c->opts.rcv_buf;
	return (uint32_t)rs_byte_ring_space(c->rcv);
}

/* Copy @p len bytes to @p off bytes beyond the ring's head.  @return false
 * when the ring's buffer could not grow: the segment is then dropped as if
 * the window were closed, and the peer sends it again. */
static bool place_bytes(struct rs_byte_ring *r, uint32_t off,
			const uint8_t *src, uint32_t len)
{
	return rs_byte_ring_place(r, rs_byte_ring_head(r) + off, src, len) == 0;
}

/* A segment's payload at @p off, from where it lies (one run, or the
 * runs of a chained mbuf): one copy.  A failure may leave some bytes
 * placed, which nothing reads until they are committed or an interval
 * covers them. */
static bool place_seg(struct rs_byte_ring *r, uint32_t off,
		      const struct rs_tcp_seg_in *s)
{
	uint32_t skip = s->skip, left = s->len;

	if (s->iov == NULL)
		return place_bytes(r, off, s->data, s->len);
	for (uint32_t i = 0; i < s->niov && left != 0; i++) {
		size_t run = s->iov[i].iov_len;
		uint32_t n;

		if (skip >= run) {
			skip -= (uint32_t)run;
			continue;
		}
		n = (uint32_t)RS_TCP_MIN(run - skip, (size_t)left);
		if (!place_bytes(r, off,
				 (const uint8_t *)s->iov[i].iov_base + skip, n))
			return false;
		off += n;
		left -= n;
		skip = 0;
	}
	return left == 0;
}

/* Room for one more interval: the list moves to (or within) the heap,
 * doubling, up to cfg.ooo_max.  @return false when it cannot. */
static bool ooo_room(struct rs_tcp_conn *c)
{
	uint32_t max = c->st->cfg.ooo_max, cap;
	struct rs_tcp_ooo *a;

	if (c->n_ooo < c->ooo_cap)
		return true;
	if (c->ooo_cap >= max)
		return false;
	cap = RS_TCP_MIN(2u * c->ooo_cap, max);
	a = malloc(cap * sizeof(*a));
	if (a == NULL)
		return false;
	memcpy(a, c->ooo, c->n_ooo * sizeof(*a));
	if (c->ooo != c->ooo_in)
		free(c->ooo);
	c->ooo = a;
	c->ooo_cap = (uint16_t)cap;
	return true;
}

/* Add [start, end) to the interval list, merging what it touches (in
 * place: the intervals it reaches become one).  @return false when the
 * list is full (the bytes are then dropped). */
static bool ooo_add(struct rs_tcp_conn *c, uint64_t start, uint64_t end)
{
	uint64_t head = rs_byte_ring_head(c->rcv);
	unsigned i = 0, j, n = c->n_ooo;

	while (i < n && c->ooo[i].end - head < start - head)
		i++;
	for (j = i; j < n && c->ooo[j].start - head <= end - head; j++) {
		if (c->ooo[j].start - head < start - head)
			start = c->ooo[j].start;
		if (c->ooo[j].end - head > end - head)
			end = c->ooo[j].end;
	}
	if (j == i) { /* touches none: a new interval at i */
		if (!ooo_room(c))
			return false;
		memmove(&c->ooo[i + 1], &c->ooo[i],
			(n - i) * sizeof(c->ooo[0]));
		c->n_ooo++;
	} else if (j > i + 1) { /* [i, j) become one */
		memmove(&c->ooo[i + 1], &c->ooo[j],
			(n - j) * sizeof(c->ooo[0]));
		c->n_ooo = (uint16_t)(n - (j - i - 1));
	}
	c->ooo[i].start = start;
	c->ooo[i].end = end;
	c->ooo[i].stamp = ++c->ooo_stamp;
	return true;
}

/* Head moved from @p from: take every interval it reached, also one
 * it went into (in-order bytes that overlap a run held out of order: a
 * merged or differently cut resend).  The intervals all start at or
 * beyond @p from, so offsets from it order them.  @return bytes gained
 * beyond the head as it was on entry. */
static uint32_t ooo_collect(struct rs_tcp_conn *c, uint64_t from)
{
	uint64_t head0 = rs_byte_ring_head(c->rcv);
	unsigned drop = 0;

	while (drop < c->n_ooo) {
		uint64_t head = rs_byte_ring_head(c->rcv);
		const struct rs_tcp_ooo *o = &c->ooo[drop];

		if (o->start - from > head - from)
			break; /* still beyond head */
		if (o->end - from > head - from)
			rs_byte_ring_commit(c->rcv, (size_t)(o->end - head));
		drop++;
	}
	c->n_ooo = (uint16_t)(c->n_ooo - drop);
	memmove(c->ooo, c->ooo + drop, c->n_ooo * sizeof(c->ooo[0]));
	return (uint32_t)(rs_byte_ring_head(c->rcv) - head0);
}

static void fin_in(struct rs_tcp_conn *c, uint64_t now)
{
	c->rcv_nxt++;
	c->peer_fin = true;
	c->ooo_fin = false;
	c->ack_now = true;
	c->ev |= RS_TCP_EV_PEER_FIN;
	switch (c->state) {
	case RS_TCP_ESTABLISHED:
		tcp_state_set(c, RS_TCP_CLOSE_WAIT);
		break;
	case RS_TCP_FIN_WAIT_1:
		tcp_state_set(c, RS_TCP_CLOSING);
		break;
	case RS_TCP_FIN_WAIT_2:
		rs_tcp_enter_time_wait(c, now);
		break;
	default:
		break;
	}
}

/* In-order bytes at rcv_nxt. */
static void take_in_order(struct rs_tcp_conn *c, uint64_t now,
			  const struct rs_tcp_seg_in *s)
{
	uint64_t from = rs_byte_ring_head(c->rcv);
	bool hole = c->n_ooo > 0;
	uint32_t got, len = s->len;

	if (!place_seg(c->rcv, 0, s)) {
		c->ack_now = true; /* tell the peer where we still are */
		return;
	}
	rs_byte_ring_commit(c->rcv, len);
	got = len + ooo_collect(c, from);
	c->rcv_nxt += got;
	if (rs_tcp_rcv_tunable(c))
		rs_tcp_tune_rcv_rtt(c, now, s);
	if (c->shut_rd)
		rs_byte_ring_release_to(c->rcv, rs_byte_ring_head(c->rcv));
	else
		c->ev |= RS_TCP_EV_READABLE;
	c->rcv_unacked += got;
	if (hole || c->rcv_unacked >= 2u * c->rcv_mss)
		c->ack_now = true;
	else if (!rs_tcp_timer_armed(&c->t[RS_TCP_T_DELACK]))
		rs_tcp_timer_set(c, RS_TCP_T_DELACK, now, c->st->cfg.delack_ns);
}

/* RFC 2883: remember [seq, seq + len) for the next ACK's first block. */
static void dsack_set(struct rs_tcp_conn *c, uint32_t seq, uint32_t len)
{
	if (!c->sack_ok || len == 0)
		return;
	RS_TCP_COUNT(c->st, DSACK_SENT);
	c->dsack = true;
	c->dsack_blk.left = seq;
	c->dsack_blk.right = seq + len;
}

/* Whether [start, end) lies wholly inside one interval already held;
 * that interval then comes right after the D-SACK block (RFC 2883 §4). */
static bool ooo_dup(struct rs_tcp_conn *c, uint64_t start, uint64_t end)
{
	uint64_t head = rs_byte_ring_head(c->rcv);

	for (unsigned i = 0; i < c->n_ooo; i++)
		if (c->ooo[i].start - head <= start - head &&
		    end - head <= c->ooo[i].end - head) {
			c->ooo[i].stamp = ++c->ooo_stamp;
			return true;
		}
	return false;
}

static void take_out_of_order(struct rs_tcp_conn *c, uint32_t off,
			      const struct rs_tcp_seg_in *s)
{
	uint64_t start = rs_byte_ring_head(c->rcv) + off;
	uint32_t len = s->len;

	c->ack_now = true; /* duplicate ACK tells the sender (RFC 5681) */
	RS_TCP_COUNT(c->st, OOO_SEGS);
	if (len == 0)
		return;
	if (ooo_dup(c, start, start + len)) {
		dsack_set(c, c->rcv_nxt + off, len);
		return; /* same bytes as before (a correct peer's) */
	}
	/* Placed first: a failed growth must leave no interval behind. */
	if (!place_seg(c->rcv, off, s) || !ooo_add(c, start, start + len))
		RS_TCP_COUNT(c->st, OOO_DROPPED);
}

void rs_tcp_rcv_data(struct rs_tcp_conn *c, uint64_t now,
		     const struct rs_tcp_seg_in *s)
{
	uint32_t off = s->seq - c->rcv_nxt;
	uint64_t fin_off = rs_byte_ring_head(c->rcv) + off + s->len;

	if (off == 0) {
		if (s->len)
			take_in_order(c, now, s);
	} else {
		take_out_of_order(c, off, s);
	}
	if (s->flags & RS_TCP_FIN) {
		c->ooo_fin = true;
		c->ooo_fin_off = fin_off;
	}
	if (c->ooo_fin && !c->peer_fin &&
	    c->ooo_fin_off == rs_byte_ring_head(c->rcv))
		fin_in(c, now);
}

void rs_tcp_rcv_dup(struct rs_tcp_conn *c, uint32_t seq, uint32_t len)
{
	dsack_set(c, seq, len);
}

unsigned rs_tcp_rcv_sack_blocks(const struct rs_tcp_conn *c,
				struct rs_tcp_sack_block *b, unsigned max)
{
	uint64_t head = c->rcv ? rs_byte_ring_head(c->rcv) : 0;
	uint32_t done = UINT32_MAX; /* stamps already taken are below it */
	unsigned n = 0;

	if (c->dsack && n < max)
		b[n++] = c->dsack_blk;
	while (n < max) {
		const struct rs_tcp_ooo *best = NULL;

		/* A selection by stamp: at most 8 intervals, 4 blocks. */
		for (unsigned i = 0; i < c->n_ooo; i++)
			if (c->ooo[i].stamp < done &&
			    (best == NULL || c->ooo[i].stamp > best->stamp))
				best = &c->ooo[i];
		if (best == NULL)
			break;
		done = best->stamp;
		b[n].left = c->rcv_nxt + (uint32_t)(best->start - head);
		b[n++].right = c->rcv_nxt + (uint32_t)(best->end - head);
	}
	return n;
}
