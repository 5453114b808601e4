/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rs_rpc_unpack(): protobuf-c's decoding, with bytes fields left in place.
 * Every case is checked against protobuf-c itself: both decode or both
 * fail, and the two messages pack to the same bytes.  Then thousands of
 * mutated messages are checked the same way, and random field streams of
 * every message type of remsock's protocols (wrong wire types, unknown
 * fields, packed runs, nested messages, fields given twice).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "remote_socket.pb-c.h"
#include "rpc.pb-c.h"
#include "rs_arena.h"
#include "rs_rpc.h"

#define BUF 4096
#define RTE_DIM_(a) (sizeof(a) / sizeof((a)[0]))

struct fix {
	struct rs_arena *arena;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->arena = rs_arena_create(NULL);
	assert_non_null(f->arena);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	rs_arena_destroy(f->arena);
	free(f);
	return 0;
}

/* Whether @p in decodes the same both ways; @return whether it decoded. */
static bool same_as_protobuf_c(struct fix *f,
			       const ProtobufCMessageDescriptor *d,
			       const uint8_t *in, size_t len)
{
	static uint8_t mine[BUF * 2], theirs[BUF * 2];
	ProtobufCMessage *ref = protobuf_c_message_unpack(d, NULL, len, in);
	ProtobufCMessage *m;
	size_t a, b;

	rs_arena_reset(f->arena);
	m = rs_rpc_unpack(d, f->arena, in, len);
	if (ref == NULL) {
		assert_null(m);
		return false;
	}
	assert_non_null(m);
	a = protobuf_c_message_get_packed_size(m);
	b = protobuf_c_message_get_packed_size(ref);
	assert_int_equal(a, b);
	assert_true(a <= sizeof(mine));
	protobuf_c_message_pack(m, mine);
	protobuf_c_message_pack(ref, theirs);
	assert_memory_equal(mine, theirs, a);
	protobuf_c_message_free_unpacked(ref, NULL);
	return true;
}

static size_t send_request(uint8_t *out, const char *desc, size_t data_len,
			   int64_t off)
{
	Remsock__SendRequest r = REMSOCK__SEND_REQUEST__INIT;
	static uint8_t data[BUF];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 5);
	r.socket_descriptor = (char *)desc;
	r.data = (ProtobufCBinaryData){data_len, data};
	r.stream_offset = off;
	r.has_timeout_seconds = 1;
	r.timeout_seconds = 2.5;
	return remsock__send_request__pack(&r, out);
}

/* The data points into the input: no copy. */
static void test_send_data_in_place(void **state)
{
	struct fix *f = *state;
	uint8_t in[BUF + 64];
	size_t len = send_request(in, "abcdefghijklmnopqrstuv", 1000, 77);
	Remsock__SendRequest *r;

	assert_true(
	    same_as_protobuf_c(f, &remsock__send_request__descriptor, in, len));
	r = (void *)rs_rpc_unpack(&remsock__send_request__descriptor, f->arena,
				  in, len);
	assert_non_null(r);
	assert_true(r->data.data > in && r->data.data + 1000 <= in + len);
	assert_int_equal(r->data.len, 1000);
	assert_int_equal(r->stream_offset, 77);
	assert_string_equal(r->socket_descriptor, "abcdefghijklmnopqrstuv");
}

/* The envelope's optional body: in place, with its has-flag set. */
static void test_envelope_body_in_place(void **state)
{
	struct fix *f = *state;
	Remsock__Rpc__RpcRequest e = REMSOCK__RPC__RPC_REQUEST__INIT;
	uint8_t body[300], in[512];
	Remsock__Rpc__RpcRequest *r;
	size_t len;

	memset(body, 'b', sizeof(body));
	e.has_call_id = 1;
	e.call_id = 9;
	e.service_name = "remote_socket";
	e.method = "Send";
	e.has_body = 1;
	e.body = (ProtobufCBinaryData){sizeof(body), body};
	e.has_deadline_seconds = 1;
	e.deadline_seconds = 1.5;
	len = remsock__rpc__rpc_request__pack(&e, in);
	assert_true(same_as_protobuf_c(
	    f, &remsock__rpc__rpc_request__descriptor, in, len));
	r = (void *)rs_rpc_unpack(&remsock__rpc__rpc_request__descriptor,
				  f->arena, in, len);
	assert_true(r->has_body);
	assert_true(r->body.data > in && r->body.data < in + len);
	assert_string_equal(r->method, "Send");
	assert_true(r->has_deadline_seconds);

	/* No body at all: none, as protobuf-c says. */
	e.has_body = 0;
	len = remsock__rpc__rpc_request__pack(&e, in);
	assert_true(same_as_protobuf_c(
	    f, &remsock__rpc__rpc_request__descriptor, in, len));
	r = (void *)rs_rpc_unpack(&remsock__rpc__rpc_request__descriptor,
				  f->arena, in, len);
	assert_false(r->has_body);
}

/* Bytes of a nested message are copied, as protobuf-c copies them: only
 * the message's own bytes fields point into the input. */
static void test_nested_bytes_copied(void **state)
{
	struct fix *f = *state;
	Remsock__ConnectRequest c = REMSOCK__CONNECT_REQUEST__INIT, *r;
	Remsock__AddressPort ap = REMSOCK__ADDRESS_PORT__INIT;
	uint8_t in[256];
	size_t len;

	ap.port = 80;
	ap.has_packed_address = 1;
	ap.packed_address = (ProtobufCBinaryData){4, (uint8_t *)"\xc6\x12\0\1"};
	c.socket_descriptor = "abcdefghijklmnopqrstuv";
	c.remote_ip = &ap;
	len = remsock__connect_request__pack(&c, in);
	assert_true(same_as_protobuf_c(f, &remsock__connect_request__descriptor,
				       in, len));
	r = (void *)rs_rpc_unpack(&remsock__connect_request__descriptor,
				  f->arena, in, len);
	assert_non_null(r);
	assert_int_equal(r->remote_ip->packed_address.len, 4);
	assert_true(r->remote_ip->packed_address.data < in ||
		    r->remote_ip->packed_address.data >= in + len);
	assert_memory_equal(r->remote_ip->packed_address.data, "\xc6\x12\0\1",
			    4);
}

/* Hand-made streams: the last occurrence wins, a missing required field
 * fails, unknown fields and field order do not matter, junk fails. */
static void test_edge_streams(void **state)
{
	struct fix *f = *state;
	const ProtobufCMessageDescriptor *d =
	    &remsock__send_request__descriptor;
	/* desc "ab", data "xyz", offset 5, data again "QQ" */
	static const uint8_t twice[] = {0x0a, 2,    'a', 'b', 0x12,
					3,    'x',  'y', 'z', 0x18,
					5,    0x12, 2,	 'Q', 'Q'};
	/* data first, then an unknown field 99 (varint), then the rest */
	static const uint8_t order[] = {0x12, 1, 'z',  0x98, 0x06, 1,
					0x18, 5, 0x0a, 1,    'd'};
	/* no data: a required field missing */
	static const uint8_t nodata[] = {0x0a, 1, 'd', 0x18, 5};
	/* data's length runs past the end */
	static const uint8_t cut[] = {0x0a, 1, 'd', 0x12, 9, 'x', 0x18, 5};
	/* data sent as a varint (wrong wire type) */
	static const uint8_t wire[] = {0x0a, 1, 'd', 0x10, 1, 0x18, 5};
	/* a group start */
	static const uint8_t group[] = {0x0a, 1, 'd', 0x13, 0x12, 0, 0x18, 5};
	Remsock__SendRequest *r;

	assert_true(same_as_protobuf_c(f, d, twice, sizeof(twice)));
	r = (void *)rs_rpc_unpack(d, f->arena, twice, sizeof(twice));
	assert_int_equal(r->data.len, 2);
	assert_ptr_equal(r->data.data, twice + 13);
	assert_true(same_as_protobuf_c(f, d, order, sizeof(order)));
	assert_false(same_as_protobuf_c(f, d, nodata, sizeof(nodata)));
	assert_false(same_as_protobuf_c(f, d, cut, sizeof(cut)));
	same_as_protobuf_c(f, d, wire, sizeof(wire));
	same_as_protobuf_c(f, d, group, sizeof(group));
	assert_false(same_as_protobuf_c(f, d, NULL, 0));
}

/* Mutations of valid requests and envelopes: whatever protobuf-c makes
 * of them, rs_rpc_unpack() makes too. */
static void test_mutations(void **state)
{
	struct fix *f = *state;
	const ProtobufCMessageDescriptor *ds[] = {
	    &remsock__send_request__descriptor,
	    &remsock__rpc__rpc_request__descriptor,
	    &remsock__receive_request__descriptor,
	};
	uint8_t base[BUF], in[BUF + 16];
	unsigned seed = 12345, decoded = 0, failed = 0;
	size_t blen = send_request(base, "0123456789012345678901", 200, 3);

	for (int i = 0; i < 20000; i++) {
		size_t len = blen;
		int edits = 1 + (int)(rand_r(&seed) % 4);

		memcpy(in, base, blen);
		while (edits-- > 0 && len > 0) {
			size_t at = (size_t)rand_r(&seed) % len;

			switch (rand_r(&seed) % 4) {
			case 0: /* flip a byte */
				in[at] = (uint8_t)rand_r(&seed);
				break;
			case 1: /* cut the end */
				len = at;
				break;
			case 2: /* repeat a piece at the end */
				if (len + 16 <= sizeof(in)) {
					memcpy(in + len, in + at,
					       (len - at < 16 ? len - at : 16));
					len += (len - at < 16 ? len - at : 16);
				}
				break;
			default: /* a length byte made small */
				in[at] &= 0x0f;
			}
		}
		if (same_as_protobuf_c(f, ds[i % 3], in, len))
			decoded++;
		else
			failed++;
	}
	/* Both outcomes were exercised, many times. */
	assert_true(decoded > 1000);
	assert_true(failed > 1000);
}

/* ---- random field streams, for every message type ---------------------- */

static const ProtobufCMessageDescriptor *const all_types[] = {
    &remsock__remote_socket_service_error__descriptor,
    &remsock__address_port__descriptor,
    &remsock__create_socket_request__descriptor,
    &remsock__create_socket_reply__descriptor,
    &remsock__bind_request__descriptor,
    &remsock__bind_reply__descriptor,
    &remsock__get_socket_name_request__descriptor,
    &remsock__get_socket_name_reply__descriptor,
    &remsock__get_peer_name_request__descriptor,
    &remsock__get_peer_name_reply__descriptor,
    &remsock__socket_option__descriptor,
    &remsock__set_socket_options_request__descriptor,
    &remsock__set_socket_options_reply__descriptor,
    &remsock__get_socket_options_request__descriptor,
    &remsock__get_socket_options_reply__descriptor,
    &remsock__connect_request__descriptor,
    &remsock__connect_reply__descriptor,
    &remsock__listen_request__descriptor,
    &remsock__listen_reply__descriptor,
    &remsock__accept_request__descriptor,
    &remsock__accept_reply__descriptor,
    &remsock__shut_down_request__descriptor,
    &remsock__shut_down_reply__descriptor,
    &remsock__close_request__descriptor,
    &remsock__close_reply__descriptor,
    &remsock__send_request__descriptor,
    &remsock__send_reply__descriptor,
    &remsock__receive_request__descriptor,
    &remsock__receive_reply__descriptor,
    &remsock__poll_event__descriptor,
    &remsock__poll_request__descriptor,
    &remsock__poll_reply__descriptor,
    &remsock__resolve_request__descriptor,
    &remsock__resolve_reply__descriptor,
    &remsock__receive_batch_request__descriptor,
    &remsock__receive_batch_entry__descriptor,
    &remsock__receive_batch_reply__descriptor,
    &remsock__send_batch_request__descriptor,
    &remsock__send_batch_entry__descriptor,
    &remsock__send_batch_reply__descriptor,
    &remsock__rpc__rpc_request__descriptor,
    &remsock__rpc__rpc_error__descriptor,
    &remsock__rpc__application_error__descriptor,
    &remsock__rpc__rpc_response__descriptor,
    &remsock__rpc__authenticate_request__descriptor,
    &remsock__rpc__authenticate_reply__descriptor,
    &remsock__rpc__stats_request__descriptor,
    &remsock__rpc__stats_counter__descriptor,
    &remsock__rpc__stats_reply__descriptor,
};

static unsigned gseed = 777;

static unsigned pick(unsigned n)
{
	return (unsigned)rand_r(&gseed) % n;
}

static uint8_t *g_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* A value of every size: small, negative (ten bytes), large. */
static uint64_t g_number(void)
{
	switch (pick(5)) {
	case 0:
		return pick(3);
	case 1:
		return (uint64_t) - (int64_t)pick(1000);
	case 2:
		return ((uint64_t)rand_r(&gseed) << 33) ^
		       (uint64_t)rand_r(&gseed);
	default:
		return pick(300);
	}
}

static unsigned wire_for(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 1;
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return 5;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return 2;
	default:
		return 0;
	}
}

static size_t gen(const ProtobufCMessageDescriptor *d, uint8_t *out, size_t cap,
		  unsigned depth);

/* One field: mostly of its declared wire type; now and then another,
 * an unknown number, or a packed run of a repeated scalar.  Left out
 * where it would not fit before @p end. */
static uint8_t *g_field(const ProtobufCFieldDescriptor *fd, uint8_t *p,
			uint8_t *end, unsigned depth)
{
	unsigned wire = wire_for(fd->type), num = fd->id, odd = pick(40);
	uint8_t f[1024], *q = f, sub[1000];
	size_t n;

	if (odd == 0)
		wire = pick(2) ? 0 : 2;
	else if (odd == 1)
		num = 900 + pick(50);
	if (odd == 2 && fd->label == PROTOBUF_C_LABEL_REPEATED && wire != 2) {
		uint8_t *r = sub;

		for (unsigned k = 0, m = 1 + pick(4); k < m; k++) {
			if (wire == 0) {
				r = g_varint(r, g_number());
				continue;
			}
			memset(r, (int)pick(256), wire == 1 ? 8 : 4);
			r += wire == 1 ? 8 : 4;
		}
		wire = 2;
		n = (size_t)(r - sub);
	} else if (wire == 2 && fd->type == PROTOBUF_C_TYPE_MESSAGE &&
		   depth < 3 && odd != 0) {
		n = gen(fd->descriptor, sub, sizeof(sub), depth + 1);
	} else {
		n = pick(4) ? pick(30) : pick(300);
		for (size_t k = 0; k < n; k++)
			sub[k] = (uint8_t)('a' + pick(26));
	}
	q = g_varint(q, (uint64_t)num << 3 | wire);
	switch (wire) {
	case 0:
		q = g_varint(q, g_number());
		break;
	case 1:
	case 5:
		for (unsigned k = 0; k < (wire == 1 ? 8u : 4u); k++)
			*q++ = (uint8_t)pick(256);
		break;
	default:
		q = g_varint(q, n);
		memcpy(q, sub, n);
		q += n;
	}
	if (q - f > end - p)
		return p;
	memcpy(p, f, (size_t)(q - f));
	return p + (q - f);
}

/* A field stream for @p d: its required fields mostly, others at random,
 * some twice. */
static size_t gen(const ProtobufCMessageDescriptor *d, uint8_t *out, size_t cap,
		  unsigned depth)
{
	uint8_t *p = out, *end = out + cap;
	unsigned extra = pick(depth == 0 ? 10 : 4);

	for (unsigned i = 0; i < d->n_fields; i++)
		if (d->fields[i].label == PROTOBUF_C_LABEL_REQUIRED &&
		    pick(20) != 0)
			p = g_field(&d->fields[i], p, end, depth);
	while (extra-- > 0 && d->n_fields > 0)
		p = g_field(&d->fields[pick(d->n_fields)], p, end, depth);
	return (size_t)(p - out);
}

/* Random streams of every message type, and their mutations: whatever
 * protobuf-c makes of them, rs_rpc_unpack() makes too. */
static void test_every_type(void **state)
{
	struct fix *f = *state;
	static uint8_t in[BUF * 2];
	unsigned decoded = 0, failed = 0;

	for (unsigned t = 0; t < RTE_DIM_(all_types); t++)
		for (unsigned i = 0; i < 1500; i++) {
			size_t len = gen(all_types[t], in, sizeof(in), 0);

			if (i % 3 == 0 && len > 0) /* one byte changed */
				in[pick((unsigned)len)] = (uint8_t)pick(256);
			if (same_as_protobuf_c(f, all_types[t], in, len))
				decoded++;
			else
				failed++;
		}
	assert_true(decoded > 20000);
	assert_true(failed > 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_send_data_in_place, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_envelope_body_in_place, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_nested_bytes_copied, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_edge_streams, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mutations, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_type, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
