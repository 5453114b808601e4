/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Writing protobuf's wire format by hand: varints.  For the encoders that
 * write a message around bytes they do not copy (the response envelope,
 * ReceiveBatch's reply, the API-host codec, Stats' counters), where
 * protobuf-c would pack the message whole.
 */
#ifndef RS_WIRE_H
#define RS_WIRE_H

#include <stddef.h>
#include <stdint.h>

/** @return the bytes varint @p v takes (1 to 10). */
static inline size_t rs_wire_varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/** Write varint @p v at @p p.  @return the byte after it. */
static inline uint8_t *rs_wire_put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

#endif /* RS_WIRE_H */
