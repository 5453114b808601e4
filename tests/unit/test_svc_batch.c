/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * svc_recv_batch_gather(): ReceiveBatch's reply encoded by hand, each
 * entry's data left where it lies.  Checked against protobuf-c itself:
 * the pieces, laid end to end, are the bytes protobuf-c packs for the same
 * reply with the data in it, for thousands of random replies (data cut in
 * two runs anywhere, offsets of every varint size and negative ones,
 * datagram addresses, buffer sizes, errors beside a reply, entries with
 * their data in the message); and the RPC response written from the
 * gather is the one written by packing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "remote_socket.pb-c.h"
#include "rs_arena.h"
#include "rs_frame.h"
#include "rs_rpc.h"
#include "svc_pvt.h"

#define ENTRIES_MAX 40
#define DATA_MAX 20000

struct fix {
	struct rs_arena *arena;
	uint64_t seed;
	uint8_t data[ENTRIES_MAX][DATA_MAX];
	Remsock__ReceiveBatchEntry ent[ENTRIES_MAX], *entp[ENTRIES_MAX];
	Remsock__ReceiveReply rep[ENTRIES_MAX];
	Remsock__RemoteSocketServiceError err[ENTRIES_MAX];
	Remsock__AddressPort from[ENTRIES_MAX];
	struct svc_runs runs[ENTRIES_MAX];
	Remsock__ReceiveBatchReply reply;
	/* the same reply with every entry's data in its message */
	Remsock__ReceiveBatchEntry went[ENTRIES_MAX], *wentp[ENTRIES_MAX];
	Remsock__ReceiveReply wrep[ENTRIES_MAX];
	uint8_t wdata[ENTRIES_MAX][DATA_MAX];
	Remsock__ReceiveBatchReply whole;
};

static uint64_t rnd(struct fix *f)
{
	f->seed ^= f->seed << 13;
	f->seed ^= f->seed >> 7;
	f->seed ^= f->seed << 17;
	return f->seed;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->arena = rs_arena_create(NULL);
	assert_non_null(f->arena);
	f->seed = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < ENTRIES_MAX; i++)
		for (size_t k = 0; k < DATA_MAX; k++)
			f->data[i][k] = (uint8_t)rnd(f);
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

/* A length that crosses the varint sizes now and then. */
static size_t rnd_len(struct fix *f)
{
	switch (rnd(f) % 4) {
	case 0:
		return rnd(f) % 130;
	case 1:
		return 100 + rnd(f) % 60; /* around 127/128 */
	case 2:
		return rnd(f) % 2000;
	default:
		return rnd(f) % DATA_MAX;
	}
}

static int64_t rnd_offset(struct fix *f)
{
	switch (rnd(f) % 4) {
	case 0:
		return (int64_t)(rnd(f) % 200);
	case 1:
		return (int64_t)(rnd(f) >> (rnd(f) % 64));
	case 2:
		return -(int64_t)(rnd(f) % 1000) - 1;
	default:
		return (int64_t)(rnd(f) % (1ull << 40));
	}
}

/* Entry i: one of the shapes a batch answers with, and odd ones. */
static void make_entry(struct fix *f, size_t i)
{
	Remsock__ReceiveBatchEntry *e = &f->ent[i];
	Remsock__ReceiveReply *r = &f->rep[i];
	unsigned shape = (unsigned)(rnd(f) % 8);
	size_t len = rnd_len(f), cut = len == 0 ? 0 : rnd(f) % (len + 1);

	remsock__receive_batch_entry__init(e);
	remsock__receive_reply__init(r);
	f->runs[i] = (struct svc_runs){0};
	f->entp[i] = e;
	if (shape == 0) { /* an error */
		remsock__remote_socket_service_error__init(&f->err[i]);
		f->err[i].error_detail = "nothing to receive";
		e->error = &f->err[i];
		e->has_application_error = 1;
		e->application_error = (int32_t)(rnd(f) % 40);
		return;
	}
	e->reply = r;
	if (shape == 1) { /* EOF: empty data in the message */
		r->has_data = 1;
		r->has_stream_offset = 1;
		r->stream_offset = rnd_offset(f);
		return;
	}
	if (shape == 2) /* a reply with nothing */
		return;
	if (shape == 3) { /* data in the message (a datagram) */
		r->has_data = 1;
		r->data = (ProtobufCBinaryData){len, f->data[i]};
	} else { /* data apart, in two runs cut anywhere */
		/* apart in memory, as a ring's end and start */
		f->runs[i].iov[0] =
		    (struct iovec){f->data[i] + DATA_MAX - cut, cut};
		f->runs[i].iov[1] = (struct iovec){f->data[i], len - cut};
	}
	if (rnd(f) % 4 != 0) {
		r->has_stream_offset = 1;
		r->stream_offset = rnd_offset(f);
	}
	if (shape == 4) {
		remsock__address_port__init(&f->from[i]);
		f->from[i].port = (int32_t)(rnd(f) % 65536);
		f->from[i].packed_address =
		    (ProtobufCBinaryData){4, (uint8_t *)"\xc6\x12\x00\x01"};
		r->received_from = &f->from[i];
	}
	if (shape == 5) {
		r->has_buffer_size = 1;
		r->buffer_size = (int32_t)(rnd(f) % 100000) - 50;
	}
	if (shape == 6) { /* an error beside the reply */
		remsock__remote_socket_service_error__init(&f->err[i]);
		f->err[i].error_detail = "odd";
		e->error = &f->err[i];
		e->has_application_error = 1;
		e->application_error = 3;
	}
}

/* The reference: every entry with its data in its reply. */
static void make_whole(struct fix *f, size_t n)
{
	remsock__receive_batch_reply__init(&f->whole);
	for (size_t i = 0; i < n; i++) {
		size_t len =
		    f->runs[i].iov[0].iov_len + f->runs[i].iov[1].iov_len;

		f->went[i] = f->ent[i];
		f->wentp[i] = &f->went[i];
		if (f->ent[i].reply == NULL)
			continue;
		f->wrep[i] = f->rep[i];
		f->went[i].reply = &f->wrep[i];
		if (len > 0) {
			memcpy(f->wdata[i], f->runs[i].iov[0].iov_base,
			       f->runs[i].iov[0].iov_len);
			memcpy(f->wdata[i] + f->runs[i].iov[0].iov_len,
			       f->runs[i].iov[1].iov_base,
			       f->runs[i].iov[1].iov_len);
			f->wrep[i].has_data = 1;
			f->wrep[i].data =
			    (ProtobufCBinaryData){len, f->wdata[i]};
		}
	}
	f->whole.n_entries = n;
	f->whole.entries = f->wentp;
}

static void make_reply(struct fix *f, size_t n)
{
	remsock__receive_batch_reply__init(&f->reply);
	for (size_t i = 0; i < n; i++)
		make_entry(f, i);
	f->reply.n_entries = n;
	f->reply.entries = f->entp;
	make_whole(f, n);
}

static uint8_t *flatten(const struct rs_rpc_gather *g)
{
	uint8_t *out = malloc(g->len + 1), *p = out;

	assert_non_null(out);
	for (unsigned i = 0; i < g->n; i++) {
		assert_true(g->iov[i].iov_len > 0);
		memcpy(p, g->iov[i].iov_base, g->iov[i].iov_len);
		p += g->iov[i].iov_len;
	}
	assert_int_equal((size_t)(p - out), g->len);
	return out;
}

static void check_same(struct fix *f)
{
	size_t want = protobuf_c_message_get_packed_size(&f->whole.base);
	uint8_t *theirs = malloc(want + 1), *mine;
	struct rs_rpc_gather g;

	assert_non_null(theirs);
	protobuf_c_message_pack(&f->whole.base, theirs);
	rs_arena_reset(f->arena);
	assert_int_equal(
	    svc_recv_batch_gather(f->arena, &f->reply, f->runs, &g), 0);
	assert_int_equal(g.len, want);
	mine = flatten(&g);
	assert_memory_equal(mine, theirs, want);
	free(mine);
	free(theirs);
}

static void t_random_replies(void **state)
{
	struct fix *f = *state;

	for (unsigned round = 0; round < 3000; round++) {
		make_reply(f, (size_t)(rnd(f) % (ENTRIES_MAX + 1)));
		check_same(f);
	}
}

/* The batch's own shape: 16 entries of 64 bytes, a few cut at the ring's
 * end; the data is not copied into call memory, and the pieces are few
 * (headers of neighbours merged where they touch). */
static void t_data_stays_in_place(void **state)
{
	struct fix *f = *state;
	struct rs_rpc_gather g;
	size_t apart = 0;

	make_reply(f, 16);
	for (size_t i = 0; i < 16; i++) {
		remsock__receive_batch_entry__init(&f->ent[i]);
		remsock__receive_reply__init(&f->rep[i]);
		f->ent[i].reply = &f->rep[i];
		f->rep[i].has_stream_offset = 1;
		f->rep[i].stream_offset = (int64_t)(i * 64);
		f->runs[i].iov[0] = (struct iovec){f->data[i], i % 5 ? 64 : 20};
		f->runs[i].iov[1] =
		    (struct iovec){f->data[i] + 1000, i % 5 ? 0 : 44};
	}
	make_whole(f, 16);
	check_same(f);
	rs_arena_reset(f->arena);
	assert_int_equal(
	    svc_recv_batch_gather(f->arena, &f->reply, f->runs, &g), 0);
	for (unsigned k = 0; k < g.n; k++)
		for (size_t i = 0; i < 16; i++)
			if (g.iov[k].iov_base == f->data[i] ||
			    g.iov[k].iov_base == f->data[i] + 1000)
				apart++;
	assert_int_equal(apart, 16 + 4); /* i = 0, 5, 10, 15 in two runs */
	assert_int_equal(g.n, 16 * 2 + 4);
}

/* A response frame written from the gather is the frame written by
 * packing the whole reply, in one buffer and across two runs. */
static void t_response_frame(void **state)
{
	struct fix *f = *state;
	static uint8_t a[1 << 20], b[1 << 20];
	struct rs_rpc_call packed = {.call_id = 77}, gathered;
	struct rs_rpc_gather g;
	struct iovec two[2];
	size_t la, lb, lc;

	make_reply(f, ENTRIES_MAX);
	packed.resp = &f->whole.base;
	rs_arena_reset(f->arena);
	assert_int_equal(
	    svc_recv_batch_gather(f->arena, &f->reply, f->runs, &g), 0);
	gathered = (struct rs_rpc_call){
	    .call_id = 77, .resp = &f->reply.base, .gather = &g};
	assert_int_equal(
	    rs_rpc_call_respond(&packed, packed.resp, a, sizeof(a), &la), 0);
	assert_int_equal(
	    rs_rpc_call_respond(&gathered, gathered.resp, b, sizeof(b), &lb),
	    0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	/* sized without a buffer, as a dispatch leaves it */
	assert_int_equal(
	    rs_rpc_call_respond(&gathered, gathered.resp, NULL, 0, &lc),
	    -ENOSPC);
	assert_int_equal(lc, la);
	memset(b, 0, sizeof(b));
	two[0] = (struct iovec){b + 1000, la / 3};
	two[1] = (struct iovec){b + 500000, la};
	assert_int_equal(
	    rs_rpc_call_respond_iov(&gathered, gathered.resp, two, &lb), 0);
	assert_int_equal(lb, la);
	assert_memory_equal(b + 1000, a, la / 3);
	assert_memory_equal(b + 500000, a + la / 3, la - la / 3);
	/* an error answer ignores the gather */
	rs_rpc_call_set_app_error(&gathered, 5, "no");
	rs_rpc_call_set_app_error(&packed, 5, "no");
	assert_int_equal(rs_rpc_call_respond(&packed, NULL, a, sizeof(a), &la),
			 0);
	assert_int_equal(
	    rs_rpc_call_respond(&gathered, gathered.resp, b, sizeof(b), &lb),
	    0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(t_random_replies, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_data_stays_in_place, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(t_response_frame, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
