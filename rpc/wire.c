/* SPDX-License-Identifier: BSD-3-Clause */
/* Reading protobuf's wire format by hand (wire_pvt.h). */
#include "wire_pvt.h"

bool rs_wire_varint(const uint8_t *b, size_t len, size_t *pos, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 70 && *pos < len; shift += 7) {
		uint8_t x = b[(*pos)++];

		*v |= (uint64_t)(x & 0x7f) << shift;
		if (!(x & 0x80))
			return true;
	}
	return false;
}

int rs_wire_next(const uint8_t *b, size_t len, size_t *pos,
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
