/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading protobuf's wire format by hand, where rpc/ looks at a message's
 * fields without decoding it (rs_rpc_unpack(), the API-host codec, a call
 * id salvaged from a broken envelope).  Private to rpc/.
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
bool rs_wire_varint(const uint8_t *b, size_t len, size_t *pos, uint64_t *v);

/**
 * The field at *pos, and *pos moved past it.
 *
 * @return 1 with the field, 0 at the end, -1 when malformed (a bad tag or
 *   length, or a wire type other than 0, 1, 2 and 5: groups included).
 */
int rs_wire_next(const uint8_t *b, size_t len, size_t *pos,
		 struct rs_wire_field *f);

#endif /* RS_WIRE_PVT_H */
