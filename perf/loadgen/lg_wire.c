/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The protobuf wire format, by hand, for the load generator's few
 * messages: requests are written straight into the connection's output
 * buffer and replies are read in place (a Receive's data is never copied
 * out), so the load generator allocates nothing per call and costs little
 * beside the server it measures.  The writer never overruns: callers size
 * their output with lg_pb_*_size() first.
 */
#include <string.h>

#include "lg.h"

size_t lg_pb_varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

size_t lg_pb_bytes_size(unsigned field, size_t n)
{
	return lg_pb_varint_size((uint64_t)field << 3) + lg_pb_varint_size(n) +
	       n;
}

static void raw_varint(struct lg_pb *w, uint64_t v)
{
	while (v >= 0x80) {
		*w->p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*w->p++ = (uint8_t)v;
}

void lg_pb_varint(struct lg_pb *w, unsigned field, uint64_t v)
{
	raw_varint(w, (uint64_t)field << 3);
	raw_varint(w, v);
}

void lg_pb_len(struct lg_pb *w, unsigned field, size_t n)
{
	raw_varint(w, (uint64_t)field << 3 | 2);
	raw_varint(w, n);
}

void lg_pb_bytes(struct lg_pb *w, unsigned field, const void *b, size_t n)
{
	lg_pb_len(w, field, n);
	memcpy(w->p, b, n);
	w->p += n;
}

void lg_pb_double(struct lg_pb *w, unsigned field, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	raw_varint(w, (uint64_t)field << 3 | 1);
	for (int i = 0; i < 8; i++)
		*w->p++ = (uint8_t)(u >> (8 * i));
}

static int read_varint(struct lg_pbr *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -1;
		x |= (uint64_t)(*r->p & 0x7f) << shift;
		if ((*r->p++ & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

int lg_pbr_next(struct lg_pbr *r)
{
	uint64_t key, n;

	if (r->p >= r->end)
		return 0;
	if (read_varint(r, &key) < 0)
		return -1;
	r->field = (unsigned)(key >> 3);
	r->wire = (unsigned)(key & 7);
	switch (r->wire) {
	case 0:
		return read_varint(r, &r->v) < 0 ? -1 : 1;
	case 1:
	case 5: {
		unsigned len = r->wire == 1 ? 8 : 4;

		if ((size_t)(r->end - r->p) < len)
			return -1;
		r->v = 0;
		for (unsigned i = 0; i < len; i++)
			r->v |= (uint64_t)r->p[i] << (8 * i);
		r->p += len;
		return 1;
	}
	case 2:
		if (read_varint(r, &n) < 0 || n > (uint64_t)(r->end - r->p))
			return -1;
		r->b = r->p;
		r->n = (size_t)n;
		r->p += n;
		return 1;
	default:
		return -1;
	}
}
