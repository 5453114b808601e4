/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Byte ring: creation and the copying operations.  The cursor and view
 * operations are static inline in rs_byte_ring.h; what lives here is either
 * rare (create, free, reset) or dominated by memcpy, where a call costs
 * nothing measurable.
 */

#include "rs_byte_ring.h"

#include <stdlib.h>
#include <string.h>

/* The struct and buffer share one allocation, so the buffer starts on a
 * cache line too. */
#define RING_ALIGN 64

static int capacity_ok(size_t capacity)
{
	return capacity != 0 && capacity <= RS_BYTE_RING_MAX_CAPACITY &&
	       (capacity & (capacity - 1)) == 0;
}

struct rs_byte_ring *rs_byte_ring_create(size_t capacity, uint64_t start)
{
	struct rs_byte_ring *r;
	size_t size;

	if (!capacity_ok(capacity)) {
		errno = EINVAL;
		return NULL;
	}
	/* aligned_alloc wants a multiple of the alignment. */
	size = sizeof(*r) + capacity;
	size = (size + RING_ALIGN - 1) & ~(size_t)(RING_ALIGN - 1);
	r = aligned_alloc(RING_ALIGN, size);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	r->mask = capacity - 1;
	r->buf = (uint8_t *)(r + 1);
	rs_byte_ring_reset(r, start);
	return r;
}

void rs_byte_ring_free(struct rs_byte_ring *r)
{
	free(r);
}

void rs_byte_ring_reset(struct rs_byte_ring *r, uint64_t start)
{
	r->tail = start;
	r->mark = start;
	r->head = start;
}

static void view_fill(const struct rs_byte_view *v, const uint8_t *src)
{
	memcpy(v->seg[0].ptr, src, v->seg[0].len);
	if (v->seg[1].len != 0)
		memcpy(v->seg[1].ptr, src + v->seg[0].len, v->seg[1].len);
}

static void view_drain(const struct rs_byte_view *v, uint8_t *dst)
{
	memcpy(dst, v->seg[0].ptr, v->seg[0].len);
	if (v->seg[1].len != 0)
		memcpy(dst + v->seg[0].len, v->seg[1].ptr, v->seg[1].len);
}

size_t rs_byte_ring_write(struct rs_byte_ring *r, const void *src, size_t len)
{
	struct rs_byte_view v;
	size_t n = rs_byte_ring_space(r);

	if (n > len)
		n = len;
	rs_byte_ring_span_pvt(r, r->head, n, &v);
	if (n != 0)
		view_fill(&v, src);
	r->head += n;
	return n;
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

int rs_byte_ring_write_at(struct rs_byte_ring *r, uint64_t off, const void *src,
			  size_t len, size_t *done)
{
	size_t dup;
	int rc = rs_byte_ring_dedup(r, off, len, &dup);

	if (rc < 0)
		return rc;
	*done =
	    dup + rs_byte_ring_write(r, (const uint8_t *)src + dup, len - dup);
	return 0;
}
