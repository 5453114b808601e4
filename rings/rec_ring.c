/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Record ring: creation and reset.  Push, peek and pop are static inline in
 * rs_rec_ring.h, on the datagram path.
 */

#include "rs_rec_ring.h"

#include <stdlib.h>

/* The struct and buffer share one allocation, so the buffer starts on a
 * cache line too. */
#define RING_ALIGN 64

static int capacity_ok(size_t capacity)
{
	return capacity >= RS_REC_RING_MIN_CAPACITY &&
	       capacity <= RS_REC_RING_MAX_CAPACITY &&
	       (capacity & (capacity - 1)) == 0;
}

struct rs_rec_ring *rs_rec_ring_create(size_t capacity)
{
	struct rs_rec_ring *r;

	if (!capacity_ok(capacity)) {
		errno = EINVAL;
		return NULL;
	}
	/* sizeof(*r) is 64 and the capacity a power of two >= 64, so the
	 * size is the multiple of the alignment that aligned_alloc wants. */
	r = aligned_alloc(RING_ALIGN, sizeof(*r) + capacity);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	r->mask = capacity - 1;
	r->buf = (uint8_t *)(r + 1);
	rs_rec_ring_reset(r);
	return r;
}

void rs_rec_ring_free(struct rs_rec_ring *r)
{
	free(r);
}

void rs_rec_ring_reset(struct rs_rec_ring *r)
{
	r->head = 0;
	r->tail = 0;
	r->count = 0;
	r->resv_len = RS_REC_RING_NO_RESV_PVT;
	r->resv_pos = 0;
	r->bytes = 0;
	r->drops = 0;
}
