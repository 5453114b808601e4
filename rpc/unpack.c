/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Decoding with bytes in place (see rs_rpc_unpack() in rs_rpc.h).
 *
 * protobuf-c copies every bytes field it decodes, and the bytes fields are
 * most of a frame: the envelope's body, a Send's data.  Here the message's
 * own (non-repeated, non-oneof) bytes fields are lifted out of the field
 * stream, protobuf-c decodes a copy of what is left -- tags, numbers,
 * strings: tens of bytes --, and the lifted fields are then set to point
 * into the input.  A required bytes field is left in as an empty one, so
 * that protobuf-c's check for required fields still holds.  Anything the
 * scan does not understand goes to protobuf-c unchanged, which then
 * decides as it always does: the result is what protobuf-c gives, with
 * the bytes where they were.
 */
#include <string.h>

#include "rs_rpc.h"
#include "wire_pvt.h"

/* Lifted fields of one message, at most. */
#define LIFT_MAX 4

struct lift {
	const ProtobufCFieldDescriptor *fd;
	const uint8_t *data;
	size_t len;
	size_t at, end; /* the field's bytes in the input, tag included */
};

/* A field that may be lifted: a bytes field the message holds once. */
static const ProtobufCFieldDescriptor *
liftable(const ProtobufCMessageDescriptor *d, uint32_t number)
{
	const ProtobufCFieldDescriptor *fd =
	    protobuf_c_message_descriptor_get_field(d, number);

	if (fd == NULL || fd->type != PROTOBUF_C_TYPE_BYTES ||
	    fd->label == PROTOBUF_C_LABEL_REPEATED ||
	    (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
		return NULL;
	return fd;
}

/* Find the bytes fields to lift; the last occurrence of each wins, as in
 * protobuf.  @return how many entries of @p l are used (occurrences, not
 * fields), or -1 when the input is not plain enough to lift from. */
static int scan(const ProtobufCMessageDescriptor *d, const uint8_t *p,
		size_t len, struct lift *l)
{
	const ProtobufCFieldDescriptor *fd;
	struct rs_wire_field f;
	size_t pos = 0, at = 0;
	int n = 0, rc;

	while ((rc = rs_wire_next(p, len, &pos, &f)) > 0) {
		fd = f.wire == 2 ? liftable(d, f.num) : NULL;
		if (fd != NULL) {
			if (n == LIFT_MAX)
				return -1;
			l[n++] = (struct lift){fd, f.p, f.len, at, pos};
		}
		at = pos;
	}
	return rc < 0 ? -1 : n; /* junk and groups: protobuf-c's to judge */
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Whether occurrence @p i is the last of its field. */
static bool last_of(const struct lift *l, int n, int i)
{
	for (int j = i + 1; j < n; j++)
		if (l[j].fd == l[i].fd)
			return false;
	return true;
}

ProtobufCMessage *rs_rpc_unpack(const ProtobufCMessageDescriptor *d,
				struct rs_arena *arena, const uint8_t *buf,
				size_t len)
{
	ProtobufCAllocator *a = rs_arena_allocator(arena);
	struct lift l[LIFT_MAX];
	size_t kept = len, from = 0;
	ProtobufCMessage *m;
	uint8_t *rest, *p;
	int n = scan(d, buf, len, l);

	if (n <= 0)
		return protobuf_c_message_unpack(d, a, len, buf);
	/* What is left, and an empty occurrence (tag: at most 5 bytes, a
	 * zero length) of each required field lifted. */
	for (int i = 0; i < n; i++)
		kept -= l[i].end - l[i].at;
	rest = rs_arena_alloc(arena, kept + LIFT_MAX * 6);
	if (rest == NULL)
		return NULL;
	p = rest;
	for (int i = 0; i < n; i++) {
		memcpy(p, buf + from, l[i].at - from);
		p += l[i].at - from;
		from = l[i].end;
	}
	memcpy(p, buf + from, len - from);
	p += len - from;
	for (int i = 0; i < n; i++)
		if (last_of(l, n, i) &&
		    l[i].fd->label == PROTOBUF_C_LABEL_REQUIRED) {
			p = put_varint(p, (uint64_t)l[i].fd->id << 3 | 2);
			*p++ = 0;
		}
	m = protobuf_c_message_unpack(d, a, (size_t)(p - rest), rest);
	if (m == NULL)
		return NULL;
	for (int i = 0; i < n; i++) {
		const ProtobufCFieldDescriptor *fd = l[i].fd;

		if (!last_of(l, n, i))
			continue;
		*(ProtobufCBinaryData *)((uint8_t *)m + fd->offset) =
		    (ProtobufCBinaryData){l[i].len, (uint8_t *)l[i].data};
		if (fd->label == PROTOBUF_C_LABEL_OPTIONAL)
			*(protobuf_c_boolean *)((uint8_t *)m +
						fd->quantifier_offset) = 1;
	}
	return m;
}
