/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rs_rpc_unpack(): protobuf-c's decoding, with bytes fields left in place.
 * Every case is checked against protobuf-c itself: both decode or both
 * fail, and the two messages pack to the same bytes.  Then thousands of
 * mutated messages are checked the same way.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_send_data_in_place, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_envelope_body_in_place, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_edge_streams, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mutations, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
