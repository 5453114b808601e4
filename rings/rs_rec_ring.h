/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef RS_REC_RING_H
#define RS_REC_RING_H

/**
 * @file
 * Record ring: the per-socket buffer of a datagram socket.
 *
 * A FIFO of variable-size records, each one datagram with the address of its
 * peer (the source of a received datagram, the destination of one to send).
 * Message boundaries are kept and zero-length datagrams are records too.
 *
 * Layout: each record is a 24-byte header followed by its payload, padded to
 * 8 bytes, stored contiguously so that a reader gets one pointer.  When a
 * record does not fit between head and the physical end of the buffer, a
 * wrap marker (a header whose length is RS_REC_RING_WRAP_PVT) is left there
 * and the record starts at the beginning of the buffer.  Since every record
 * starts 8-byte aligned, at least 8 bytes remain before the end whenever a
 * marker is needed, enough for its length field.
 *
 * The capacity bounds what the records occupy: headers, payloads, padding
 * and the space a wrap skips.  rs_rec_ring_footprint() gives one record's
 * share.  A push that does not fit fails and counts a drop, like a full
 * socket buffer; a record that could never fit fails with -EMSGSIZE.
 *
 * Positions (head, tail) are 64-bit byte counters taken modulo the
 * capacity, a power of two, to index the buffer.  When the ring runs empty
 * they restart at zero, so an empty ring always takes any record that fits
 * the capacity.
 *
 * Threading: a ring belongs to the lcore that owns its socket.  Nothing here
 * locks, makes a system call or allocates after rs_rec_ring_create().
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/** Smallest capacity rs_rec_ring_create() accepts. */
#define RS_REC_RING_MIN_CAPACITY ((size_t)64)
/** Largest capacity rs_rec_ring_create() accepts (1 GiB). */
#define RS_REC_RING_MAX_CAPACITY ((size_t)1 << 30)
/** Bytes of buffer each record spends on its header. */
#define RS_REC_RING_HDR_SIZE 24
/** Records start on multiples of this. */
#define RS_REC_RING_ALIGN 8

/** A datagram's peer: IPv4 or IPv6 address and port. */
struct rs_rec_addr {
	uint16_t family;  /**< AF_INET, AF_INET6, or 0 when there is none */
	uint16_t port;	  /**< host byte order */
	uint8_t addr[16]; /**< network byte order; IPv4 uses addr[0..3] */
};

_Static_assert(sizeof(struct rs_rec_addr) == 20,
	       "rs_rec_addr is part of the record header");

/** The oldest record, as rs_rec_ring_peek() shows it. */
struct rs_rec {
	const uint8_t *data;		/**< payload; valid until popped */
	size_t len;			/**< payload bytes, may be 0 */
	const struct rs_rec_addr *peer; /**< valid until popped */
};

/* The header in front of each record's payload. */
struct rs_rec_hdr_pvt {
	uint32_t len; /* payload bytes, or RS_REC_RING_WRAP_PVT */
	struct rs_rec_addr peer;
};

_Static_assert(sizeof(struct rs_rec_hdr_pvt) == RS_REC_RING_HDR_SIZE,
	       "record header size is part of the capacity accounting");
_Static_assert(RS_REC_RING_HDR_SIZE % RS_REC_RING_ALIGN == 0,
	       "payloads must start aligned");

/* Header length of a wrap marker: the next record is at the buffer start. */
#define RS_REC_RING_WRAP_PVT UINT32_MAX
/* resv_len when nothing is reserved. */
#define RS_REC_RING_NO_RESV_PVT UINT32_MAX

/**
 * The ring.  Visible only so that push, peek and pop inline; use the
 * functions, never the fields.
 */
struct rs_rec_ring {
	_Alignas(64) uint64_t head; /**< end of the newest record */
	uint64_t tail;		    /**< start of the oldest record or marker */
	uint64_t mask;		    /**< capacity - 1 */
	uint8_t *buf;		    /**< capacity bytes, follows the struct */
	uint32_t count;		    /**< records queued */
	uint32_t resv_len;	    /**< payload length reserved, see reserve */
	uint64_t resv_pos;	    /**< where the reserved record starts */
	uint64_t bytes;		    /**< payload bytes queued */
	uint64_t drops;		    /**< pushes refused because it was full */
};

_Static_assert(sizeof(struct rs_rec_ring) == 64,
	       "rs_rec_ring must stay one cache line");

/**
 * Create an empty record ring.
 *
 * @param capacity  buffer size in bytes: a power of two from
 *                  RS_REC_RING_MIN_CAPACITY to RS_REC_RING_MAX_CAPACITY.
 * @return the ring, or NULL with errno set: EINVAL for a bad capacity,
 *         ENOMEM when memory runs out.
 */
struct rs_rec_ring *rs_rec_ring_create(size_t capacity);

/**
 * Free a ring.  NULL is accepted and ignored.
 */
void rs_rec_ring_free(struct rs_rec_ring *r);

/**
 * Discard every record and zero the drop counter.  Never fails.
 */
void rs_rec_ring_reset(struct rs_rec_ring *r);

/** @return the buffer size in bytes. */
static inline size_t rs_rec_ring_capacity(const struct rs_rec_ring *r)
{
	return (size_t)r->mask + 1;
}

/** @return the number of records queued. */
static inline size_t rs_rec_ring_count(const struct rs_rec_ring *r)
{
	return r->count;
}

/** @return the payload bytes queued (headers and padding not counted). */
static inline size_t rs_rec_ring_bytes(const struct rs_rec_ring *r)
{
	return (size_t)r->bytes;
}

/** @return the buffer bytes in use: headers, payloads, padding, wrap gap. */
static inline size_t rs_rec_ring_used(const struct rs_rec_ring *r)
{
	return (size_t)(r->head - r->tail);
}

/** @return the number of pushes refused because the ring was full. */
static inline uint64_t rs_rec_ring_drops(const struct rs_rec_ring *r)
{
	return r->drops;
}

/**
 * @return the buffer bytes a record of @p len payload bytes occupies:
 *         header plus payload rounded up to RS_REC_RING_ALIGN.
 */
static inline size_t rs_rec_ring_footprint(size_t len)
{
	return RS_REC_RING_HDR_SIZE + ((len + RS_REC_RING_ALIGN - 1) &
				       ~(size_t)(RS_REC_RING_ALIGN - 1));
}

/* Where a record of footprint need would start: at head, or at the next
 * buffer start when it would cross the physical end. */
static inline uint64_t rs_rec_ring_place_pvt(const struct rs_rec_ring *r,
					     size_t need)
{
	size_t to_end = rs_rec_ring_capacity(r) - (size_t)(r->head & r->mask);

	return need <= to_end ? r->head : r->head + to_end;
}

/**
 * @return 1 when a record of @p len payload bytes can be pushed now,
 *         0 when it cannot (full, or larger than the capacity).
 */
static inline int rs_rec_ring_fits(const struct rs_rec_ring *r, size_t len)
{
	size_t cap = rs_rec_ring_capacity(r);
	size_t need;

	if (len > cap - RS_REC_RING_HDR_SIZE)
		return 0;
	need = rs_rec_ring_footprint(len);
	if (r->count == 0)
		return 1; /* an empty ring restarts at zero, see reserve */
	return rs_rec_ring_place_pvt(r, need) + need - r->tail <= cap;
}

/**
 * Reserve room for a record of @p len payload bytes and return where its
 * payload goes, for a caller that fills it in place (e.g. from an mbuf
 * chain).  The record becomes visible at rs_rec_ring_commit(); nothing else
 * may touch the ring in between.  Reserving again replaces the reservation.
 *
 * @param data  set to the payload area (@p len bytes).
 * @return 0; -EMSGSIZE when the record exceeds the capacity and so can never
 *         fit (not counted as a drop: the caller decides); -ENOBUFS when the
 *         ring is too full now (counted as a drop).
 */
static inline int rs_rec_ring_reserve(struct rs_rec_ring *r, size_t len,
				      void **data)
{
	if (len > rs_rec_ring_capacity(r) - RS_REC_RING_HDR_SIZE)
		return -EMSGSIZE;
	if (!rs_rec_ring_fits(r, len)) {
		r->drops++;
		return -ENOBUFS;
	}
	if (r->count == 0)
		r->head = r->tail = 0;
	r->resv_pos = rs_rec_ring_place_pvt(r, rs_rec_ring_footprint(len));
	r->resv_len = (uint32_t)len;
	*data = r->buf + (size_t)(r->resv_pos & r->mask) + RS_REC_RING_HDR_SIZE;
	return 0;
}

/**
 * Publish the reserved record with its peer address.
 *
 * @return 0, or -EINVAL when nothing is reserved.
 */
static inline int rs_rec_ring_commit(struct rs_rec_ring *r,
				     const struct rs_rec_addr *peer)
{
	struct rs_rec_hdr_pvt *h;
	uint32_t len = r->resv_len;

	if (len == RS_REC_RING_NO_RESV_PVT)
		return -EINVAL;
	if (r->resv_pos != r->head) {
		h = (struct rs_rec_hdr_pvt *)(r->buf + (r->head & r->mask));
		h->len = RS_REC_RING_WRAP_PVT;
	}
	h = (struct rs_rec_hdr_pvt *)(r->buf + (r->resv_pos & r->mask));
	h->len = len;
	h->peer = *peer;
	r->head = r->resv_pos + rs_rec_ring_footprint(len);
	r->resv_len = RS_REC_RING_NO_RESV_PVT;
	r->count++;
	r->bytes += len;
	return 0;
}

/**
 * Copy one datagram in as the newest record.
 *
 * @return 0, -EMSGSIZE (can never fit, not counted) or -ENOBUFS (full,
 *         counted as a drop); see rs_rec_ring_reserve().
 */
static inline int rs_rec_ring_push(struct rs_rec_ring *r,
				   const struct rs_rec_addr *peer,
				   const void *data, size_t len)
{
	void *dst;
	int rc = rs_rec_ring_reserve(r, len, &dst);

	if (rc < 0)
		return rc;
	if (len != 0)
		memcpy(dst, data, len);
	return rs_rec_ring_commit(r, peer);
}

/* The header of the oldest record, past a wrap marker if there is one. */
static inline const struct rs_rec_hdr_pvt *
rs_rec_ring_oldest_pvt(const struct rs_rec_ring *r, uint64_t *pos)
{
	const struct rs_rec_hdr_pvt *h;

	*pos = r->tail;
	h = (const struct rs_rec_hdr_pvt *)(r->buf + (*pos & r->mask));
	if (h->len == RS_REC_RING_WRAP_PVT) {
		*pos += rs_rec_ring_capacity(r) - (size_t)(*pos & r->mask);
		h = (const struct rs_rec_hdr_pvt *)r->buf;
	}
	return h;
}

/**
 * Show the oldest record without removing it.
 *
 * @return 0, or -EAGAIN when the ring is empty.
 */
static inline int rs_rec_ring_peek(const struct rs_rec_ring *r,
				   struct rs_rec *rec)
{
	const struct rs_rec_hdr_pvt *h;
	uint64_t pos;

	if (r->count == 0)
		return -EAGAIN;
	h = rs_rec_ring_oldest_pvt(r, &pos);
	rec->data = (const uint8_t *)(h + 1);
	rec->len = h->len;
	rec->peer = &h->peer;
	return 0;
}

/**
 * Remove the oldest record; its space becomes free.
 *
 * @return 0, or -EAGAIN when the ring is empty.
 */
static inline int rs_rec_ring_pop(struct rs_rec_ring *r)
{
	const struct rs_rec_hdr_pvt *h;
	uint64_t pos;

	if (r->count == 0)
		return -EAGAIN;
	h = rs_rec_ring_oldest_pvt(r, &pos);
	r->tail = pos + rs_rec_ring_footprint(h->len);
	r->count--;
	r->bytes -= h->len;
	return 0;
}

#endif /* RS_REC_RING_H */
