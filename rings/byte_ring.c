/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Byte ring: creation, the copying operations and the buffer's growth and
 * shrinking.  The cursor and view operations are static inline in
 * rs_byte_ring.h; what lives here is either rare (create, free, reset,
 * grow, shrink) or dominated by memcpy, where a call costs nothing
 * measurable.
 *
 * Heap use: create allocates the struct and a first buffer of
 * min(capacity, RS_BYTE_RING_FIRST) bytes.  On the per-packet path the only
 * allocations are a growth -- straight to the power of two that fits, at
 * most log2(capacity / first) doublings between two emptyings -- and the
 * first-size buffer that an emptying release swaps in for a grown one.
 */

#include "rs_byte_ring.h"

#include <stdlib.h>
#include <string.h>

/* Struct and buffers start on a cache line. */
#define RING_ALIGN 64

static void *(*buf_alloc_fn)(size_t align, size_t size) = aligned_alloc;

void rs_byte_ring_set_alloc_pvt(void *(*fn)(size_t align, size_t size))
{
	buf_alloc_fn = fn != NULL ? fn : aligned_alloc;
}

/* aligned_alloc wants a multiple of the alignment. */
static uint8_t *buf_alloc(size_t size)
{
	size = (size + RING_ALIGN - 1) & ~(size_t)(RING_ALIGN - 1);
	return buf_alloc_fn(RING_ALIGN, size);
}

static int capacity_ok(size_t capacity)
{
	return capacity != 0 && capacity <= RS_BYTE_RING_MAX_CAPACITY &&
	       (capacity & (capacity - 1)) == 0;
}

static size_t first_size(size_t capacity)
{
	return capacity < RS_BYTE_RING_FIRST ? capacity : RS_BYTE_RING_FIRST;
}

struct rs_byte_ring *rs_byte_ring_create(size_t capacity, uint64_t start)
{
	struct rs_byte_ring *r;

	if (!capacity_ok(capacity)) {
		errno = EINVAL;
		return NULL;
	}
	r = aligned_alloc(RING_ALIGN, sizeof(*r));
	if (r == NULL)
		goto err_ring;
	r->buf = buf_alloc(first_size(capacity));
	if (r->buf == NULL)
		goto err_buf;
	r->mask = first_size(capacity) - 1;
	r->cap = capacity;
	rs_byte_ring_reset(r, start);
	return r;

err_buf:
	free(r);
err_ring:
	errno = ENOMEM;
	return NULL;
}

void rs_byte_ring_free(struct rs_byte_ring *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r);
}

int rs_byte_ring_set_capacity(struct rs_byte_ring *r, size_t capacity)
{
	if (!capacity_ok(capacity) || capacity < r->cap)
		return -EINVAL;
	r->cap = capacity;
	return 0;
}

void rs_byte_ring_reset(struct rs_byte_ring *r, uint64_t start)
{
	r->tail = start;
	r->mark = start;
	r->head = start;
	r->top = start;
	r->base = 0;
	if (rs_byte_ring_allocated(r) > first_size(r->cap))
		rs_byte_ring_shrink_pvt(r);
}

/* Copy len bytes to the byte at distance @p off from buf[0]'s, in a
 * buffer of mask + 1 bytes. */
static void put(uint8_t *buf, uint64_t mask, uint64_t off, const uint8_t *src,
		size_t len)
{
	size_t idx = (size_t)(off & mask);
	size_t to_end = (size_t)mask + 1 - idx;
	size_t first = len < to_end ? len : to_end;

	memcpy(buf + idx, src, first);
	memcpy(buf, src + first, len - first);
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

int rs_byte_ring_grow_pvt(struct rs_byte_ring *r, size_t need)
{
	size_t size = pow2_at_least(need);
	struct rs_byte_view v;
	uint8_t *buf;

	if (need <= rs_byte_ring_allocated(r))
		return 0;
	buf = buf_alloc(size);
	if (buf == NULL)
		return -ENOMEM;
	/* [tail, top) holds every byte anyone may read again, the bytes
	 * placed beyond head included; it fits the old buffer. */
	rs_byte_ring_span_pvt(r, r->tail, (size_t)(r->top - r->tail), &v);
	put(buf, size - 1, r->tail - r->base, v.seg[0].ptr, v.seg[0].len);
	put(buf, size - 1, r->tail - r->base + v.seg[0].len, v.seg[1].ptr,
	    v.seg[1].len);
	free(r->buf);
	r->buf = buf;
	r->mask = size - 1;
	return 0;
}

void rs_byte_ring_shrink_pvt(struct rs_byte_ring *r)
{
	size_t size = first_size(r->cap);
	uint8_t *buf = buf_alloc(size);

	if (buf == NULL)
		return; /* keep the big one: still correct, just larger */
	free(r->buf);
	r->buf = buf;
	r->mask = size - 1;
}

bool rs_byte_ring_shrink(struct rs_byte_ring *r)
{
	if (r->tail != r->top ||
	    rs_byte_ring_allocated(r) <= first_size(r->cap))
		return false;
	rs_byte_ring_shrink_pvt(r);
	return rs_byte_ring_allocated(r) == first_size(r->cap);
}

static void view_drain(const struct rs_byte_view *v, uint8_t *dst)
{
	memcpy(dst, v->seg[0].ptr, v->seg[0].len);
	if (v->seg[1].len != 0)
		memcpy(dst + v->seg[0].len, v->seg[1].ptr, v->seg[1].len);
}

size_t rs_byte_ring_write(struct rs_byte_ring *r, const void *src, size_t len)
{
	size_t n = rs_byte_ring_space(r);

	if (n > len)
		n = len;
	if (n > rs_byte_ring_room_pvt(r) &&
	    rs_byte_ring_grow_pvt(r, rs_byte_ring_count(r) + n) < 0)
		n = rs_byte_ring_room_pvt(r); /* no memory: as if full */
	if (n == 0)
		return 0;
	put(r->buf, r->mask, r->head - r->base, src, n);
	r->head += n;
	rs_byte_ring_raise_top_pvt(r, r->head);
	return n;
}

int rs_byte_ring_place(struct rs_byte_ring *r, uint64_t off, const void *src,
		       size_t len)
{
	uint64_t beyond = off - r->head;
	size_t space = rs_byte_ring_space(r);
	int rc;

	if (beyond > space || len > space - beyond)
		return -ERANGE;
	rc = rs_byte_ring_grow_pvt(r, rs_byte_ring_count(r) + beyond + len);
	if (rc < 0)
		return rc;
	if (len == 0)
		return 0;
	put(r->buf, r->mask, off - r->base, src, len);
	rs_byte_ring_raise_top_pvt(r, off + len);
	return 0;
}

size_t rs_byte_ring_read(struct rs_byte_ring *r, void *dst, size_t len)
{
	struct rs_byte_view v;
	size_t n = rs_byte_ring_pending(r);

	if (n > len)
		n = len;
	rs_byte_ring_span_pvt(r, r->mark, n, &v);
	if (n != 0)
		view_drain(&v, dst);
	r->mark += n;
	return n;
}

int rs_byte_ring_copy_out(const struct rs_byte_ring *r, uint64_t off, void *dst,
			  size_t len)
{
	struct rs_byte_view v;
	int rc = rs_byte_ring_view_at(r, off, len, &v);

	if (rc < 0)
		return rc;
	if (len != 0)
		view_drain(&v, dst);
	return 0;
}
