/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef RS_BYTE_RING_H
#define RS_BYTE_RING_H

/**
 * @file
 * Byte ring: the per-socket buffer of a stream socket.
 *
 * A stream socket has two: the TX ring (Send writes at head, TCP output
 * reads at mark and keeps bytes until the peer acknowledges them) and the RX
 * ring (TCP input writes at head, Receive reads at mark and keeps bytes until
 * the client acknowledges them).
 *
 * Every position is an absolute 64-bit stream offset, the unit that Send's
 * and Receive's stream_offset fields speak.  The ring may start at any offset
 * (zero, or a TCP ISN + 1).  Three positions split the stream:
 *
 *     tail            mark                 head         tail + capacity
 *      |  unacknowledged |  pending          |  free space    |
 *
 *   [tail, mark)  TX: sent, not yet acknowledged by the peer;
 *                 RX: handed to the client, not yet acknowledged by it.
 *   [mark, head)  TX: not sent yet;  RX: not read yet.
 *
 * Invariant: tail <= mark <= head and head - tail <= capacity.
 *
 * Positions are compared through differences modulo 2^64, so a stream may
 * even run across 2^64; "offset x is in [a, b]" means (x - a) <= (b - a).
 * The byte at offset x lives at buf[x & (capacity - 1)], which is why the
 * capacity is a power of two.
 *
 * Threading: a ring belongs to the lcore that owns its socket.  Nothing here
 * locks, makes a system call or allocates after rs_byte_ring_create().
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/** Largest capacity rs_byte_ring_create() accepts (1 GiB). */
#define RS_BYTE_RING_MAX_CAPACITY ((size_t)1 << 30)

/** A run of contiguous bytes inside a ring's buffer. */
struct rs_byte_seg {
	uint8_t *ptr; /**< first byte; never NULL, even when len is 0 */
	size_t len;   /**< number of bytes */
};

/**
 * A run of stream bytes as it lies in the buffer: seg[0] first, then seg[1]
 * when the run crosses the physical end of the buffer (seg[1].len is 0
 * otherwise).
 */
struct rs_byte_view {
	struct rs_byte_seg seg[2];
};

/**
 * The ring.  Visible only so that the view and cursor functions below
 * inline; use the functions, never the fields.  One cache line: the socket's
 * owner lcore is its only user, so there is no producer/consumer split.
 */
struct rs_byte_ring {
	_Alignas(64) uint64_t head; /**< write end */
	uint64_t mark;		    /**< read cursor, tail <= mark <= head */
	uint64_t tail;		    /**< oldest byte still kept */
	uint64_t mask;		    /**< capacity - 1 */
	uint8_t *buf;		    /**< capacity bytes, follows the struct */
};

_Static_assert(sizeof(struct rs_byte_ring) == 64,
	       "rs_byte_ring must stay one cache line");

/**
 * Create an empty ring whose tail, mark and head are all @p start.
 *
 * @param capacity  buffer size in bytes: a power of two, at most
 *                  RS_BYTE_RING_MAX_CAPACITY.
 * @param start     initial stream offset (e.g. 0, or a TCP ISN + 1).
 * @return the ring, or NULL with errno set: EINVAL for a bad capacity,
 *         ENOMEM when memory runs out.
 */
struct rs_byte_ring *rs_byte_ring_create(size_t capacity, uint64_t start);

/**
 * Free a ring.  NULL is accepted and ignored.
 */
void rs_byte_ring_free(struct rs_byte_ring *r);

/**
 * Empty the ring and restart its stream at @p start (tail = mark = head).
 * Never fails; used when a descriptor's ring is reused for a new connection.
 */
void rs_byte_ring_reset(struct rs_byte_ring *r, uint64_t start);

/**
 * Copy up to @p len bytes from @p src in at head and advance head
 * (burst semantics: as many as fit).
 *
 * @return the number of bytes written, 0 when the ring is full.
 */
size_t rs_byte_ring_write(struct rs_byte_ring *r, const void *src, size_t len);

/**
 * Copy up to @p len pending bytes out from mark into @p dst and advance mark
 * past them (burst semantics).  The bytes stay in the ring until released.
 *
 * @return the number of bytes copied, 0 when nothing is pending.
 */
size_t rs_byte_ring_read(struct rs_byte_ring *r, void *dst, size_t len);

/**
 * Copy the @p len bytes at absolute offset @p off into @p dst.  Positions do
 * not move.  Serves TCP retransmission and re-sent Receive replies.
 *
 * @return 0, or -ERANGE when [off, off + len) is not inside [tail, head).
 */
int rs_byte_ring_copy_out(const struct rs_byte_ring *r, uint64_t off, void *dst,
			  size_t len);

/**
 * Append the bytes of [off, off + len) that the ring does not have yet:
 * the leading bytes below head are duplicates (a retried Send, a TCP
 * retransmission) and are skipped, the rest is written at head as far as
 * space allows.  See rs_byte_ring_dedup().
 *
 * @param done  set to the number of leading bytes of the run that the
 *              stream now holds (duplicates + newly written): the run's
 *              bytes [off, off + *done) are in the stream.
 * @return 0, or -ERANGE when @p off is beyond head (a gap; nothing written).
 */
int rs_byte_ring_write_at(struct rs_byte_ring *r, uint64_t off, const void *src,
			  size_t len, size_t *done);

/** @return the buffer size in bytes. */
static inline size_t rs_byte_ring_capacity(const struct rs_byte_ring *r)
{
	return (size_t)r->mask + 1;
}

/** @return the offset of the oldest byte still kept. */
static inline uint64_t rs_byte_ring_tail(const struct rs_byte_ring *r)
{
	return r->tail;
}

/** @return the mark: first byte not yet sent (TX) or read (RX). */
static inline uint64_t rs_byte_ring_mark(const struct rs_byte_ring *r)
{
	return r->mark;
}

/** @return the offset the next written byte gets. */
static inline uint64_t rs_byte_ring_head(const struct rs_byte_ring *r)
{
	return r->head;
}

/** @return bytes kept in the ring, head - tail. */
static inline size_t rs_byte_ring_count(const struct rs_byte_ring *r)
{
	return (size_t)(r->head - r->tail);
}

/** @return free space in bytes, capacity - (head - tail). */
static inline size_t rs_byte_ring_space(const struct rs_byte_ring *r)
{
	return rs_byte_ring_capacity(r) - rs_byte_ring_count(r);
}

/** @return bytes not yet sent (TX) or read (RX), head - mark. */
static inline size_t rs_byte_ring_pending(const struct rs_byte_ring *r)
{
	return (size_t)(r->head - r->mark);
}

/** @return bytes handed on but not acknowledged, mark - tail. */
static inline size_t rs_byte_ring_unacked(const struct rs_byte_ring *r)
{
	return (size_t)(r->mark - r->tail);
}

/*
 * The run of len bytes starting at stream offset off, as buffer segments.
 * The caller has checked that the run lies within one capacity of bytes.
 */
static inline void rs_byte_ring_span_pvt(const struct rs_byte_ring *r,
					 uint64_t off, size_t len,
					 struct rs_byte_view *v)
{
	size_t idx = (size_t)(off & r->mask);
	size_t to_end = rs_byte_ring_capacity(r) - idx;
	size_t first = len < to_end ? len : to_end;

	v->seg[0].ptr = r->buf + idx;
	v->seg[0].len = first;
	v->seg[1].ptr = r->buf;
	v->seg[1].len = len - first;
}

/**
 * Describe the free space at head, for a caller that writes in place (e.g.
 * copies an mbuf chain) and then calls rs_byte_ring_commit().
 *
 * @return the free space in bytes (the total of both segments).
 */
static inline size_t rs_byte_ring_write_view(const struct rs_byte_ring *r,
					     struct rs_byte_view *v)
{
	size_t space = rs_byte_ring_space(r);

	rs_byte_ring_span_pvt(r, r->head, space, v);
	return space;
}

/**
 * Advance head over @p n bytes written in place through a write view.
 *
 * @return 0, or -ENOBUFS when @p n exceeds the free space (nothing moves).
 */
static inline int rs_byte_ring_commit(struct rs_byte_ring *r, size_t n)
{
	if (n > rs_byte_ring_space(r))
		return -ENOBUFS;
	r->head += n;
	return 0;
}

/**
 * Describe the pending bytes [mark, head), for a caller that reads in place
 * (e.g. TCP output building segments) and then calls
 * rs_byte_ring_advance_mark().
 *
 * @return the number of pending bytes (the total of both segments).
 */
static inline size_t rs_byte_ring_read_view(const struct rs_byte_ring *r,
					    struct rs_byte_view *v)
{
	size_t pending = rs_byte_ring_pending(r);

	rs_byte_ring_span_pvt(r, r->mark, pending, v);
	return pending;
}

/**
 * Move mark forward over @p n pending bytes (sent, or handed to the client).
 *
 * @return 0, or -ERANGE when @p n exceeds the pending bytes (nothing moves).
 */
static inline int rs_byte_ring_advance_mark(struct rs_byte_ring *r, size_t n)
{
	if (n > rs_byte_ring_pending(r))
		return -ERANGE;
	r->mark += n;
	return 0;
}

/**
 * Put mark at @p off, forward or back: back to tail after a TCP
 * retransmission timeout, back to a client's acknowledged offset when a
 * Receive reply was lost.
 *
 * @return 0, or -ERANGE when @p off is not inside [tail, head].
 */
static inline int rs_byte_ring_set_mark(struct rs_byte_ring *r, uint64_t off)
{
	if (off - r->tail > r->head - r->tail)
		return -ERANGE;
	r->mark = off;
	return 0;
}

/**
 * Drop the bytes below @p off: they are acknowledged (by the peer for TX,
 * by the client for RX), and their space becomes free.  If @p off is beyond
 * mark, mark moves to @p off too: TCP may see an acknowledgement of bytes
 * sent before a retransmission timeout pulled mark back.
 *
 * @return 0, or -ERANGE when @p off is not inside [tail, head] (nothing
 *         moves).  An offset below tail is an old acknowledgement: the
 *         caller may treat that -ERANGE as nothing to do.
 */
static inline int rs_byte_ring_release_to(struct rs_byte_ring *r, uint64_t off)
{
	if (off - r->tail > r->head - r->tail)
		return -ERANGE;
	if (off - r->tail > r->mark - r->tail)
		r->mark = off;
	r->tail = off;
	return 0;
}

/**
 * Describe the @p len bytes at absolute offset @p off, without moving any
 * position (TCP retransmission, a re-sent Receive reply).
 *
 * @return 0, or -ERANGE when [off, off + len) is not inside [tail, head).
 */
static inline int rs_byte_ring_view_at(const struct rs_byte_ring *r,
				       uint64_t off, size_t len,
				       struct rs_byte_view *v)
{
	uint64_t from_tail = off - r->tail;
	uint64_t kept = r->head - r->tail;

	if (from_tail > kept || len > kept - from_tail)
		return -ERANGE;
	rs_byte_ring_span_pvt(r, off, len, v);
	return 0;
}

/**
 * Send's stream_offset rule: a Send (or an in-order TCP segment) carries the
 * bytes [off, off + len).  Those below head are already in the stream, so
 * only the rest must be written.  Offsets below tail count as duplicates too:
 * their bytes were in the stream and have been acknowledged since.  The
 * comparison is TCP-style (signed 64-bit difference).
 *
 * @param dup  set to the number of leading duplicate bytes, 0..len.
 * @return 0, or -ERANGE when @p off is beyond head: accepting the bytes
 *         would leave a gap in the stream.
 */
static inline int rs_byte_ring_dedup(const struct rs_byte_ring *r, uint64_t off,
				     size_t len, size_t *dup)
{
	int64_t below_head = (int64_t)(r->head - off);

	if (below_head < 0)
		return -ERANGE;
	*dup = (uint64_t)below_head < len ? (size_t)below_head : len;
	return 0;
}

#endif /* RS_BYTE_RING_H */
