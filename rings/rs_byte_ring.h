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
 * Capacity and buffer size are powers of two, so an offset maps to the
 * buffer by a mask.
 *
 * Memory: capacity is the logical size (what space, count and the TCP
 * window use); the buffer behind it starts at RS_BYTE_RING_FIRST bytes (or
 * the capacity, if smaller) and doubles on demand up to the capacity.  The
 * byte at offset x lives at buf[(x - base) & mask], mask being the buffer
 * size - 1 (base is 0 after reset).  A release that leaves the ring
 * holding nothing (tail = head = top) moves base to tail, so that the
 * next byte written lands at the buffer's start: a ring its reader keeps
 * empty reuses the same few cache lines instead of walking its whole
 * buffer (which may be MiBs, grown for a long path).
 * A growth copies the bytes [tail, top) -- top being the end of everything
 * written, in order or placed beyond head by rs_byte_ring_place() -- to the
 * same offsets modulo the new size.  A buffer larger than the first goes
 * back to the first size on reset(), and on rs_byte_ring_shrink() when the
 * ring is empty with nothing placed beyond head: its owner calls that when
 * the ring has been idle a while (TCP: a sweep of idle connections), not
 * on every emptying, so that a ring that empties and fills again at every
 * burst keeps its buffer.  Growth and shrinking move the buffer: views
 * from before either are void.
 *
 * Threading: a ring belongs to the lcore that owns its socket.  Nothing here
 * locks or makes a system call.  The only allocations after create are a
 * growth (at most log2(capacity / first) between two shrinks: amortized)
 * and the small buffer a shrink takes back.  A failed growth makes a write
 * behave as if the ring were full.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Largest capacity rs_byte_ring_create() accepts (1 GiB). */
#define RS_BYTE_RING_MAX_CAPACITY ((size_t)1 << 30)

/** Size of the first buffer: what an idle ring holds. */
#define RS_BYTE_RING_FIRST ((size_t)4096)

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
	uint64_t mask;		    /**< buffer size - 1 */
	uint8_t *buf;		    /**< mask + 1 bytes */
	uint64_t top;		    /**< end of bytes written, >= head */
	size_t cap;		    /**< logical capacity, >= mask + 1 */
	uint64_t base;		    /**< the offset at buf[0] */
};

_Static_assert(sizeof(struct rs_byte_ring) == 64,
	       "rs_byte_ring must stay one cache line");

/**
 * Create an empty ring whose tail, mark and head are all @p start.
 *
 * @param capacity  logical size in bytes: a power of two, at most
 *                  RS_BYTE_RING_MAX_CAPACITY.  Only min(capacity,
 *                  RS_BYTE_RING_FIRST) bytes are allocated now.
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
 * Gives a grown buffer back (keeps it if the small one cannot be had).
 */
void rs_byte_ring_reset(struct rs_byte_ring *r, uint64_t start);

/**
 * Copy up to @p len bytes from @p src in at head and advance head
 * (burst semantics: as many as fit).  Grows the buffer as needed; if that
 * fails, writes what fits in the buffer as it is.
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
 * Copy @p len bytes to their place at absolute offset @p off, at or beyond
 * head, without moving head: TCP's out-of-order data, and in-order data
 * before rs_byte_ring_commit().  All or nothing.  The bytes are kept across
 * growth; the ring does not shrink while any lie beyond head.
 *
 * @return 0; -ERANGE when [off, off + len) is not inside
 *         [head, tail + capacity); -ENOMEM when the buffer could not grow
 *         (nothing written: treat it like a full ring).
 */
int rs_byte_ring_place(struct rs_byte_ring *r, uint64_t off, const void *src,
		       size_t len);

/*
 * Make the buffer hold at least @p need bytes from tail (need <= capacity).
 * @return 0, or -ENOMEM (the ring is unchanged).
 */
int rs_byte_ring_grow_pvt(struct rs_byte_ring *r, size_t need);

/**
 * Give a grown buffer back for a first-size one, if the ring is empty
 * (tail == head, nothing placed beyond head).  Views taken before are void.
 * @return true if it shrank.
 */
bool rs_byte_ring_shrink(struct rs_byte_ring *r);

/* The ring is empty with nothing beyond head: take the small buffer. */
void rs_byte_ring_shrink_pvt(struct rs_byte_ring *r);

/*
 * Tests only: allocate buffers through @p fn (same contract as
 * aligned_alloc); NULL restores aligned_alloc.
 */
void rs_byte_ring_set_alloc_pvt(void *(*fn)(size_t align, size_t size));

/**
 * Raise the logical capacity to @p capacity (a power of two, at most
 * RS_BYTE_RING_MAX_CAPACITY, not below the capacity now): more room
 * behind the same buffer, which grows into it on demand as before.
 * Nothing moves; views stay valid.  TCP's buffer auto-tuning.
 *
 * @return 0, or -EINVAL for a bad or smaller capacity.
 */
int rs_byte_ring_set_capacity(struct rs_byte_ring *r, size_t capacity);

/** @return the logical capacity in bytes (not what is allocated). */
static inline size_t rs_byte_ring_capacity(const struct rs_byte_ring *r)
{
	return r->cap;
}

/** @return the bytes of buffer the ring holds now, for memory reports. */
static inline size_t rs_byte_ring_allocated(const struct rs_byte_ring *r)
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
 * The caller has checked that the run lies within [tail, tail + allocated).
 */
static inline void rs_byte_ring_span_pvt(const struct rs_byte_ring *r,
					 uint64_t off, size_t len,
					 struct rs_byte_view *v)
{
	size_t idx = (size_t)((off - r->base) & r->mask);
	size_t to_end = rs_byte_ring_allocated(r) - idx;
	size_t first = len < to_end ? len : to_end;

	v->seg[0].ptr = r->buf + idx;
	v->seg[0].len = first;
	v->seg[1].ptr = r->buf;
	v->seg[1].len = len - first;
}

/* Free space inside the buffer as allocated now: at most the free space. */
static inline size_t rs_byte_ring_room_pvt(const struct rs_byte_ring *r)
{
	return rs_byte_ring_allocated(r) - rs_byte_ring_count(r);
}

/**
 * Describe free space at head, for a caller that writes in place (e.g.
 * copies an mbuf chain) and then calls rs_byte_ring_commit().  The view
 * covers the free space of the buffer as allocated, which may be less than
 * rs_byte_ring_space() (burst semantics: write, commit, ask again).  A
 * buffer found more than half full first doubles, so a writer that keeps
 * the ring full reaches the capacity; a failed growth only gives a smaller
 * view.  Bytes written through the view but not committed are not kept.
 *
 * @return the bytes the view covers (the total of both segments).
 */
static inline size_t rs_byte_ring_write_view(struct rs_byte_ring *r,
					     struct rs_byte_view *v)
{
	size_t size = rs_byte_ring_allocated(r);
	size_t room;

	if (size < r->cap && rs_byte_ring_count(r) >= size / 2)
		(void)rs_byte_ring_grow_pvt(r, 2 * size);
	room = rs_byte_ring_room_pvt(r);
	rs_byte_ring_span_pvt(r, r->head, room, v);
	return room;
}

/**
 * As rs_byte_ring_write_view(), for a writer that must put @p need bytes
 * in at once (a whole message): the buffer first grows so that the view
 * covers them, when the free space allows.
 *
 * @return the bytes the view covers; below @p need only when the free
 *         space (or memory for the growth) is short.
 */
static inline size_t rs_byte_ring_write_view_for(struct rs_byte_ring *r,
						 size_t need,
						 struct rs_byte_view *v)
{
	if (need > rs_byte_ring_room_pvt(r) && need <= rs_byte_ring_space(r))
		(void)rs_byte_ring_grow_pvt(r, rs_byte_ring_count(r) + need);
	return rs_byte_ring_write_view(r, v);
}

/* Head moved to, or bytes were written up to, @p end: keep top past it. */
static inline void rs_byte_ring_raise_top_pvt(struct rs_byte_ring *r,
					      uint64_t end)
{
	if (end - r->tail > r->top - r->tail)
		r->top = end;
}

/**
 * Advance head over @p n bytes written in place, through a write view or
 * rs_byte_ring_place().
 *
 * @return 0, or -ENOBUFS when @p n exceeds the free space of the buffer as
 *         allocated (nothing moves).
 */
static inline int rs_byte_ring_commit(struct rs_byte_ring *r, size_t n)
{
	if (n > rs_byte_ring_room_pvt(r))
		return -ENOBUFS;
	r->head += n;
	rs_byte_ring_raise_top_pvt(r, r->head);
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
 * sent before a retransmission timeout pulled mark back.  The buffer
 * stays as it is (rs_byte_ring_shrink() gives a grown one back); emptied,
 * the ring starts again at its start.
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
	/* Emptied: the next write goes to the buffer's start (the file's
	 * comment).  No byte is kept, so none moves; a view taken before
	 * still shows its bytes until the next write. */
	if (off == r->top)
		r->base = off;
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
