/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading protobuf's wire format by hand, where rpc/ looks at a message's
 * fields without decoding it (rs_rpc_unpack(), the API-host codec, a call
 * id salvaged from a broken envelope) or decodes the hottest messages
 * itself (unpack.c).  Inline: a call's envelope and a batch's entries
 * are a field walk each.  Private to rpc/.
 */
#ifndef RS_WIRE_PVT_H
#define RS_WIRE_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** One field as it lies in the buffer. */
struct rs_wire_field {
	uint32_t num;	  /**< field number, 1 and up */
	unsigned wire;	  /**< wire type: 0, 1, 2 or 5 */
	uint64_t v;	  /**< wire type 0: the value */
	const uint8_t *p; /**< the others: the bytes */
	size_t len;
};

/** A varint at *pos; false when it runs off the end or past 10 bytes. */
static inline bool rs_wire_varint(const uint8_t *b, size_t len, size_t *pos,
				  uint64_t *v)
{
	size_t p = *pos, end = len - p > 10 ? p + 10 : len;
	uint64_t x = 0;

	if (p < len && b[p] < 0x80) { /* most are one byte */
		*v = b[p];
		*pos = p + 1;
		return true;
	}
	for (unsigned shift = 0; p < end; shift += 7) {
		uint8_t c = b[p++];

		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			*pos = p;
			return true;
		}
	}
	return false;
}

/**
 * The field at *pos, and *pos moved past it.
 *
 * @return 1 with the field, 0 at the end, -1 when malformed (a bad tag or
 *   length, or a wire type other than 0, 1, 2 and 5: groups included).
 */
static inline int rs_wire_next(const uint8_t *b, size_t len, size_t *pos,
			       struct rs_wire_field *f)
{
	uint64_t tag, n;

	if (*pos == len)
		return 0;
	if (!rs_wire_varint(b, len, pos, &tag) || tag >> 3 == 0 ||
	    tag >> 3 > UINT32_MAX)
		return -1;
	f->num = (uint32_t)(tag >> 3);
	f->wire = tag & 7;
	switch (f->wire) {
	case 0:
		return rs_wire_varint(b, len, pos, &f->v) ? 1 : -1;
	case 1:
	case 5:
		n = f->wire == 1 ? 8 : 4;
		break;
	case 2:
		if (!rs_wire_varint(b, len, pos, &n))
			return -1;
		break;
	default:
		return -1;
	}
	if (n > len - *pos)
		return -1;
	f->p = b + *pos;
	f->len = (size_t)n;
	*pos += (size_t)n;
	return 1;
}

#endif /* RS_WIRE_PVT_H */
