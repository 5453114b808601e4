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

#include "remote_socket.pb-c.h"
#include "rs_rpc.h"
#include "rs_wire.h"
#include "wire_pvt.h"

/* ---- the hottest messages, by hand -------------------------------------- */

/*
 * The envelope of every call, and the requests of Receive and
 * ReceiveBatch, are decoded here field by field: protobuf-c's general
 * decoder was the largest cost of a batch of small Receives after their
 * data (9% of remsockd's samples).  Only the plain form is taken -- each
 * field of its declared number and wire type, required fields present;
 * a field given twice counts its last occurrence, as protobuf-c does --
 * and the result is what protobuf-c makes of it (defaults, has_ flags,
 * strings copied with their NUL), the envelope's body in place as below.
 * Anything else (unknown fields, packed or odd encodings, damage) goes
 * the general way, and protobuf-c decides.  test_rpc_unpack checks both
 * against protobuf-c.
 */

#define TAG(num, wire) ((uint64_t)(num) << 3 | (wire))

static char *str_copy(struct rs_arena *a, const struct rs_wire_field *f)
{
	char *s = rs_arena_alloc(a, f->len + 1);

	if (s != NULL) {
		memcpy(s, f->p, f->len);
		s[f->len] = '\0';
	}
	return s;
}

static double f64(const struct rs_wire_field *f)
{
	uint64_t v = 0;
	double d;

	for (unsigned i = 8; i > 0; i--)
		v = v << 8 | f->p[i - 1];
	memcpy(&d, &v, sizeof(d));
	return d;
}

static bool receive_request(struct rs_arena *a, const uint8_t *b, size_t len,
			    Remsock__ReceiveRequest *r)
{
	bool desc = false, size = false;
	struct rs_wire_field f;
	size_t pos = 0;
	int rc;

	remsock__receive_request__init(r);
	while ((rc = rs_wire_next(b, len, &pos, &f)) > 0) {
		switch (TAG(f.num, f.wire)) {
		case TAG(1, 2):
			r->socket_descriptor = str_copy(a, &f);
			if (r->socket_descriptor == NULL)
				return false;
			desc = true;
			break;
		case TAG(2, 0):
			r->data_size = (int32_t)(uint32_t)f.v;
			size = true;
			break;
		case TAG(3, 0):
			r->has_flags = 1;
			r->flags = (int32_t)(uint32_t)f.v;
			break;
		case TAG(5, 1):
			r->has_timeout_seconds = 1;
			r->timeout_seconds = f64(&f);
			break;
		case TAG(100, 0):
			r->has_consumed_offset = 1;
			r->consumed_offset = (int64_t)f.v;
			break;
		default:
			return false;
		}
	}
	return rc == 0 && desc && size;
}

static ProtobufCMessage *receive(struct rs_arena *a, const uint8_t *b,
				 size_t len)
{
	Remsock__ReceiveRequest *r = rs_arena_alloc(a, sizeof(*r));

	return r != NULL && receive_request(a, b, len, r) ? &r->base : NULL;
}

static ProtobufCMessage *receive_batch(struct rs_arena *a, const uint8_t *b,
				       size_t len)
{
	Remsock__ReceiveBatchRequest *m = rs_arena_alloc(a, sizeof(*m));
	Remsock__ReceiveRequest *r;
	struct rs_wire_field f;
	size_t pos = 0, n = 0;
	int rc;

	if (m == NULL)
		return NULL;
	remsock__receive_batch_request__init(m);
	while ((rc = rs_wire_next(b, len, &pos, &f)) > 0) {
		if (TAG(f.num, f.wire) == TAG(1, 2))
			n++;
		else if (TAG(f.num, f.wire) == TAG(2, 1))
			m->has_timeout_seconds = 1,
			m->timeout_seconds = f64(&f);
		else
			return NULL;
	}
	if (rc < 0)
		return NULL;
	if (n == 0)
		return &m->base;
	r = rs_arena_alloc(a, n * sizeof(*r));
	m->receives = rs_arena_alloc(a, n * sizeof(*m->receives));
	if (r == NULL || m->receives == NULL)
		return NULL;
	pos = 0;
	while (rs_wire_next(b, len, &pos, &f) > 0) {
		if (f.num != 1)
			continue;
		if (!receive_request(a, f.p, f.len, &r[m->n_receives]))
			return NULL;
		m->receives[m->n_receives] = &r[m->n_receives];
		m->n_receives++;
	}
	return &m->base;
}

static ProtobufCMessage *envelope(struct rs_arena *a, const uint8_t *b,
				  size_t len)
{
	Remsock__Rpc__RpcRequest *e = rs_arena_alloc(a, sizeof(*e));
	struct rs_wire_field f;
	size_t pos = 0;
	int rc;

	if (e == NULL)
		return NULL;
	remsock__rpc__rpc_request__init(e);
	while ((rc = rs_wire_next(b, len, &pos, &f)) > 0) {
		switch (TAG(f.num, f.wire)) {
		case TAG(1, 0):
			e->has_call_id = 1;
			e->call_id = f.v;
			break;
		case TAG(2, 2):
			e->service_name = str_copy(a, &f);
			if (e->service_name == NULL)
				return NULL;
			break;
		case TAG(3, 2):
			e->method = str_copy(a, &f);
			if (e->method == NULL)
				return NULL;
			break;
		case TAG(4, 2): /* in place; protobuf-c's empty bytes: NULL */
			e->has_body = 1;
			e->body = (ProtobufCBinaryData){
			    f.len, f.len == 0 ? NULL : (uint8_t *)f.p};
			break;
		case TAG(5, 1):
			e->has_deadline_seconds = 1;
			e->deadline_seconds = f64(&f);
			break;
		default:
			return NULL;
		}
	}
	return rc == 0 ? &e->base : NULL;
}

static ProtobufCMessage *by_hand(const ProtobufCMessageDescriptor *d,
				 struct rs_arena *a, const uint8_t *b,
				 size_t len)
{
	if (d == &remsock__rpc__rpc_request__descriptor)
		return envelope(a, b, len);
	if (d == &remsock__receive_batch_request__descriptor)
		return receive_batch(a, b, len);
	if (d == &remsock__receive_request__descriptor)
		return receive(a, b, len);
	return NULL;
}

/* ---- every message: protobuf-c, bytes fields in place ------------------- */

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
	ProtobufCMessage *m = by_hand(d, arena, buf, len);
	uint8_t *rest, *p;
	int n;

	if (m != NULL)
		return m;
	n = scan(d, buf, len, l);
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
			p = rs_wire_put_varint(p,
					       (uint64_t)l[i].fd->id << 3 | 2);
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
