/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rs_rpc: registration and lookup, and the dispatcher end to end with fake
 * remote_socket handlers (Receive and Send on the data plane, CreateSocket
 * on the control plane).  Every response frame is decoded with the code
 * protoc-c generated, which checks the hand-written envelope encoder.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "remote_socket.pb-c.h"
#include "rpc.pb-c.h"
#include "rs_frame.h"
#include "rs_rpc.h"

#define SYSTEM_ERROR                                                           \
	REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__SYSTEM_ERROR
#define RPC(code) REMSOCK__RPC__RPC_ERROR_CODE__RPC_##code

/* ---- heap allocation counter: jemalloc's or ASan's, whichever is there */

int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
	    size_t newlen) __attribute__((weak));
int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void *, size_t),
    void (*free_hook)(const volatile void *)) __attribute__((weak));

static uint64_t hooked_allocs;
static bool hooks_installed;

static void on_malloc(const volatile void *p, size_t size)
{
	hooked_allocs++;
}

static void on_free(const volatile void *p)
{
}

/* Something that grows with every heap allocation of this thread; false if
 * neither allocator offers a counter. */
static bool heap_counter(uint64_t *now)
{
	size_t len = sizeof(*now);

	if (mallctl != NULL &&
	    mallctl("thread.allocated", now, &len, NULL, 0) == 0)
		return true;
	if (!hooks_installed && __sanitizer_install_malloc_and_free_hooks)
		hooks_installed = __sanitizer_install_malloc_and_free_hooks(
				      on_malloc, on_free) != 0;
	*now = hooked_allocs;
	return hooks_installed;
}

/* ---- fake remote_socket handlers ---- */

enum action { ACT_OK, ACT_APP_ERROR, ACT_PARK, ACT_FAIL, ACT_HUGE };

struct fake {
	enum action action;
	int calls;
	char last_desc[64];
	int32_t last_size;
	struct rs_rpc_call parked; /* the copy a socket would keep */
};

static const uint8_t one_byte;

static int app_error(struct rs_rpc_call *call)
{
	Remsock__RemoteSocketServiceError *e;

	rs_rpc_call_set_app_error(call, SYSTEM_ERROR, "receive: %s",
				  "would block");
	e = rs_arena_alloc(call->arena, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	remsock__remote_socket_service_error__init(e);
	e->has_system_error = 1;
	e->system_error = EAGAIN;
	call->error_body = &e->base;
	return 0;
}

static int fake_receive(void *ctx, struct rs_rpc_call *call,
			const ProtobufCMessage *req, ProtobufCMessage *resp)
{
	const Remsock__ReceiveRequest *rq = (const void *)req;
	Remsock__ReceiveReply *rr = (void *)resp;
	struct fake *f = ctx;
	size_t n = rq->data_size > 4096 ? 4096 : (size_t)rq->data_size;

	f->calls++;
	snprintf(f->last_desc, sizeof(f->last_desc), "%s",
		 rq->socket_descriptor);
	f->last_size = rq->data_size;
	switch (f->action) {
	case ACT_APP_ERROR:
		return app_error(call);
	case ACT_PARK:
		rs_rpc_call_park(call);
		f->parked = *call;
		return 0;
	case ACT_FAIL:
		return -EIO;
	case ACT_HUGE:
		/* Only its size is looked at: above the frame limit, the
		 * reply is never packed. */
		rr->has_data = 1;
		rr->data.data = (uint8_t *)&one_byte;
		rr->data.len = RS_FRAME_MAX_HARD + 1;
		return 0;
	case ACT_OK:
		break;
	}
	rr->has_stream_offset = 1;
	rr->stream_offset = 1000;
	rr->has_data = 1;
	rr->data.len = n;
	rr->data.data = rs_arena_alloc(call->arena, n);
	if (rr->data.data == NULL)
		return -ENOMEM;
	memset(rr->data.data, 'd', n);
	return 0;
}

static int fake_send(void *ctx, struct rs_rpc_call *call,
		     const ProtobufCMessage *req, ProtobufCMessage *resp)
{
	const Remsock__SendRequest *sq = (const void *)req;
	Remsock__SendReply *sr = (void *)resp;

	((struct fake *)ctx)->calls++;
	sr->has_data_sent = 1;
	sr->data_sent = (int32_t)sq->data.len;
	return 0;
}

static int fake_create(void *ctx, struct rs_rpc_call *call,
		       const ProtobufCMessage *req, ProtobufCMessage *resp)
{
	Remsock__CreateSocketReply *cr = (void *)resp;

	((struct fake *)ctx)->calls++;
	cr->socket_descriptor = rs_arena_strdup(call->arena, "sock-1");
	return cr->socket_descriptor ? 0 : -ENOMEM;
}

static const struct rs_rpc_method receive_method = {
    .name = "Receive",
    .handler = fake_receive,
    .req_desc = &remsock__receive_request__descriptor,
    .resp_desc = &remsock__receive_reply__descriptor,
    .plane = RS_RPC_PLANE_DATA,
};

static const struct rs_rpc_method send_method = {
    .name = "Send",
    .handler = fake_send,
    .req_desc = &remsock__send_request__descriptor,
    .resp_desc = &remsock__send_reply__descriptor,
    .plane = RS_RPC_PLANE_DATA,
};

static const struct rs_rpc_method create_method = {
    .name = "CreateSocket",
    .handler = fake_create,
    .req_desc = &remsock__create_socket_request__descriptor,
    .resp_desc = &remsock__create_socket_reply__descriptor,
    .plane = RS_RPC_PLANE_CONTROL,
};

/* ---- fixture ---- */

struct fix {
	struct rs_rpc_registry *reg;
	struct rs_arena *arena;
	struct fake fake;
	struct rs_rpc_env data_env;
	struct rs_rpc_env ctl_env;
	struct rs_rpc_call call;
	uint8_t req[8192];
	size_t req_len;
	uint8_t out[8192];
	size_t out_len;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->reg = rs_rpc_registry_create();
	f->arena = rs_arena_create(NULL);
	assert_non_null(f->reg);
	assert_non_null(f->arena);
	assert_int_equal(
	    rs_rpc_registry_add(f->reg, "remote_socket", &receive_method), 0);
	assert_int_equal(
	    rs_rpc_registry_add(f->reg, "remote_socket", &send_method), 0);
	assert_int_equal(
	    rs_rpc_registry_add(f->reg, "remote_socket", &create_method), 0);
	f->data_env =
	    (struct rs_rpc_env){f->reg, f->arena, &f->fake, RS_RPC_PLANE_DATA};
	f->ctl_env = (struct rs_rpc_env){f->reg, f->arena, &f->fake,
					 RS_RPC_PLANE_CONTROL};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	rs_arena_destroy(f->arena);
	rs_rpc_registry_destroy(f->reg);
	free(f);
	return 0;
}

/* An RpcRequest with raw body bytes (body NULL: no body field). */
static void request_raw(struct fix *f, uint64_t id, const char *service,
			const char *method, const uint8_t *body, size_t len)
{
	Remsock__Rpc__RpcRequest rq = REMSOCK__RPC__RPC_REQUEST__INIT;

	rq.has_call_id = 1;
	rq.call_id = id;
	rq.service_name = (char *)service;
	rq.method = (char *)method;
	rq.has_body = body != NULL;
	rq.body.data = (uint8_t *)body;
	rq.body.len = len;
	assert_true(remsock__rpc__rpc_request__get_packed_size(&rq) <=
		    sizeof(f->req));
	f->req_len = remsock__rpc__rpc_request__pack(&rq, f->req);
}

static void request(struct fix *f, uint64_t id, const char *service,
		    const char *method, const ProtobufCMessage *body)
{
	static uint8_t packed[4096];

	assert_true(protobuf_c_message_get_packed_size(body) <= sizeof(packed));
	request_raw(f, id, service, method, packed,
		    protobuf_c_message_pack(body, packed));
}

static void request_receive(struct fix *f, uint64_t id, int32_t size)
{
	Remsock__ReceiveRequest rq = REMSOCK__RECEIVE_REQUEST__INIT;

	rq.socket_descriptor = "sock-A";
	rq.data_size = size;
	request(f, id, "remote_socket", "Receive", &rq.base);
}

static int dispatch(struct fix *f, const struct rs_rpc_env *env)
{
	return rs_rpc_dispatch(env, f->req, f->req_len, &f->call, f->out,
			       sizeof(f->out), &f->out_len);
}

/* Decode a response frame; the caller frees it. */
static Remsock__Rpc__RpcResponse *response_of(const uint8_t *out, size_t len)
{
	Remsock__Rpc__RpcResponse *r;

	assert_true(len >= RS_FRAME_HDR_LEN);
	assert_int_equal(rs_frame_header_read(out), len - RS_FRAME_HDR_LEN);
	r = remsock__rpc__rpc_response__unpack(NULL, len - RS_FRAME_HDR_LEN,
					       out + RS_FRAME_HDR_LEN);
	assert_non_null(r);
	return r;
}

/* Expect an RPC error response with `code` whose detail holds `needle`. */
static void expect_rpc_error(const uint8_t *out, size_t len, uint64_t id,
			     int code, const char *needle)
{
	Remsock__Rpc__RpcResponse *r = response_of(out, len);

	assert_int_equal(r->call_id, id);
	assert_false(r->has_body);
	assert_null(r->application_error);
	assert_non_null(r->rpc_error);
	assert_int_equal(r->rpc_error->code, code);
	if (needle != NULL) {
		assert_non_null(r->rpc_error->detail);
		assert_non_null(strstr(r->rpc_error->detail, needle));
	}
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
}

/* Expect a Receive reply of `n` data bytes. */
static void expect_receive_reply(const uint8_t *out, size_t len, uint64_t id,
				 size_t n)
{
	Remsock__Rpc__RpcResponse *r = response_of(out, len);
	Remsock__ReceiveReply *rr;
	size_t i;

	assert_int_equal(r->call_id, id);
	assert_null(r->rpc_error);
	assert_null(r->application_error);
	assert_true(r->has_body);
	rr = remsock__receive_reply__unpack(NULL, r->body.len, r->body.data);
	assert_non_null(rr);
	assert_int_equal(rr->stream_offset, 1000);
	assert_int_equal(rr->data.len, n);
	for (i = 0; i < n; i++)
		assert_int_equal(rr->data.data[i], 'd');
	remsock__receive_reply__free_unpacked(rr, NULL);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
}

/* ---- registry ---- */

static void test_duplicate_registration(void **state)
{
	struct fix *f = *state;
	struct rs_rpc_method bad = receive_method;
	const struct rs_rpc_method *m;

	assert_int_equal(
	    rs_rpc_registry_add(f->reg, "remote_socket", &receive_method),
	    -EEXIST);
	/* The same name in another service is another method. */
	assert_int_equal(rs_rpc_registry_add(f->reg, "other", &receive_method),
			 0);
	bad.handler = NULL;
	assert_int_equal(rs_rpc_registry_add(f->reg, "x", &bad), -EINVAL);
	bad = receive_method;
	bad.name = "";
	assert_int_equal(rs_rpc_registry_add(f->reg, "x", &bad), -EINVAL);
	bad = receive_method;
	bad.plane = 7;
	assert_int_equal(rs_rpc_registry_add(f->reg, "x", &bad), -EINVAL);
	assert_int_equal(rs_rpc_registry_add(f->reg, "", &receive_method),
			 -EINVAL);
	/* A failed registration must not leave service "x" behind. */
	assert_int_equal(rs_rpc_registry_lookup(f->reg, "x", "Receive", &m),
			 -ESRCH);
}

static void test_lookup_and_stable_entries(void **state)
{
	struct fix *f = *state;
	const struct rs_rpc_method *m, *before, *after;
	char name[32];
	int i;

	assert_int_equal(
	    rs_rpc_registry_lookup(f->reg, "remote_socket", "Receive", &before),
	    0);
	assert_string_equal(before->name, "Receive");
	assert_ptr_equal(before->handler, fake_receive);
	assert_int_equal(before->plane, RS_RPC_PLANE_DATA);
	/* Many more methods and services: arrays grow, entries stay put. */
	for (i = 0; i < 100; i++) {
		struct rs_rpc_method extra = create_method;

		snprintf(name, sizeof(name), "M%03d", 99 - i);
		extra.name = name; /* copied by the registry */
		assert_int_equal(
		    rs_rpc_registry_add(f->reg, "remote_socket", &extra), 0);
		/* extra.name is `name` too: service svcNNN, method svcNNN */
		snprintf(name, sizeof(name), "svc%03d", i);
		assert_int_equal(rs_rpc_registry_add(f->reg, name, &extra), 0);
	}
	assert_int_equal(
	    rs_rpc_registry_lookup(f->reg, "remote_socket", "Receive", &after),
	    0);
	assert_ptr_equal(before, after);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "M%03d", i);
		assert_int_equal(
		    rs_rpc_registry_lookup(f->reg, "remote_socket", name, &m),
		    0);
		assert_string_equal(m->name, name);
		snprintf(name, sizeof(name), "svc%03d", i);
		assert_int_equal(rs_rpc_registry_lookup(f->reg, name, name, &m),
				 0);
		assert_string_equal(m->name, name);
	}
	assert_int_equal(rs_rpc_registry_lookup(f->reg, "nope", "Receive", &m),
			 -ESRCH);
	assert_int_equal(
	    rs_rpc_registry_lookup(f->reg, "remote_socket", "Recv", &m),
	    -ENOENT);
}

/* ---- dispatch ---- */

static void test_ok_path(void **state)
{
	struct fix *f = *state;

	request_receive(f, 77, 100);
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	assert_int_equal(f->fake.calls, 1);
	assert_string_equal(f->fake.last_desc, "sock-A");
	assert_int_equal(f->fake.last_size, 100);
	assert_int_equal(f->call.status, RS_RPC_CALL_OK);
	assert_string_equal(f->call.method->name, "Receive");
	expect_receive_reply(f->out, f->out_len, 77, 100);
}

static void test_control_plane_ok(void **state)
{
	struct fix *f = *state;
	Remsock__CreateSocketRequest cq = REMSOCK__CREATE_SOCKET_REQUEST__INIT;
	Remsock__Rpc__RpcResponse *r;
	Remsock__CreateSocketReply *cr;

	cq.family = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv4;
	cq.protocol = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_PROTOCOL__TCP;
	request(f, 5, "remote_socket", "CreateSocket", &cq.base);
	assert_int_equal(dispatch(f, &f->ctl_env), RS_RPC_DONE);
	r = response_of(f->out, f->out_len);
	assert_true(r->has_body);
	cr = remsock__create_socket_reply__unpack(NULL, r->body.len,
						  r->body.data);
	assert_non_null(cr);
	assert_string_equal(cr->socket_descriptor, "sock-1");
	remsock__create_socket_reply__free_unpacked(cr, NULL);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
}

static void test_call_id_echoed(void **state)
{
	static const uint64_t ids[] = {0, 1, 127, 128, 1ull << 63, UINT64_MAX};
	struct fix *f = *state;
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		request_receive(f, ids[i], 3);
		assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
		assert_true(f->call.call_id == ids[i]);
		expect_receive_reply(f->out, f->out_len, ids[i], 3);
		rs_arena_reset(f->arena);
	}
}

static void test_deadline_passed_to_call(void **state)
{
	struct fix *f = *state;
	Remsock__Rpc__RpcRequest rq = REMSOCK__RPC__RPC_REQUEST__INIT;

	request_receive(f, 1, 1);
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	assert_false(f->call.has_deadline);
	rq.service_name = "remote_socket";
	rq.method = "CreateSocket";
	rq.has_deadline_seconds = 1;
	rq.deadline_seconds = 1.5;
	f->req_len = remsock__rpc__rpc_request__pack(&rq, f->req);
	dispatch(f, &f->ctl_env);
	assert_true(f->call.has_deadline);
	assert_true(f->call.deadline_seconds == 1.5);
}

static void test_unknown_service(void **state)
{
	struct fix *f = *state;
	Remsock__ReceiveRequest rq = REMSOCK__RECEIVE_REQUEST__INIT;

	rq.socket_descriptor = "s";
	request(f, 9, "remote_sockets", "Receive", &rq.base);
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	expect_rpc_error(f->out, f->out_len, 9, RPC(CALL_NOT_FOUND),
			 "'remote_sockets'");
	assert_int_equal(f->fake.calls, 0);
}

static void test_unknown_method(void **state)
{
	struct fix *f = *state;
	Remsock__ReceiveRequest rq = REMSOCK__RECEIVE_REQUEST__INIT;

	rq.socket_descriptor = "s";
	request(f, 10, "remote_socket", "Recieve", &rq.base);
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	expect_rpc_error(f->out, f->out_len, 10, RPC(CALL_NOT_FOUND),
			 "'Recieve' of service 'remote_socket'");
	assert_int_equal(f->fake.calls, 0);
}

/* Names from the peer reach the detail as printable ASCII only. */
static void test_unknown_method_detail_sanitized(void **state)
{
	struct fix *f = *state;
	Remsock__Rpc__RpcResponse *r;
	const char *c;

	request_raw(f, 11, "remote_socket", "Bad\n\xff\x01name", NULL, 0);
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	r = response_of(f->out, f->out_len);
	assert_non_null(r->rpc_error);
	assert_non_null(strstr(r->rpc_error->detail, "Bad???name"));
	for (c = r->rpc_error->detail; *c; c++)
		assert_true(*c >= 0x20 && *c <= 0x7e);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
}

static void test_garbage_envelope(void **state)
{
	struct fix *f = *state;

	memset(f->req, 0xff, 16);
	f->req_len = 16;
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	expect_rpc_error(f->out, f->out_len, 0, RPC(PARSE_ERROR), "envelope");
	assert_int_equal(f->fake.calls, 0);
}

/* A readable call_id ahead of the damage is echoed. */
static void test_garbage_after_call_id(void **state)
{
	struct fix *f = *state;
	/* call_id = 300, then a service_name whose length runs past the
	 * end. */
	static const uint8_t bad[] = {0x08, 0xac, 0x02, 0x12, 0x7f, 'r', 's'};

	memcpy(f->req, bad, sizeof(bad));
	f->req_len = sizeof(bad);
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	expect_rpc_error(f->out, f->out_len, 300, RPC(PARSE_ERROR), NULL);
}

static void test_body_fails_to_decode(void **state)
{
	struct fix *f = *state;
	/* Field 1 (string) announcing 100 bytes with 2 there. */
	static const uint8_t body[] = {0x0a, 100, 'a', 'b'};

	request_raw(f, 12, "remote_socket", "Receive", body, sizeof(body));
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	expect_rpc_error(f->out, f->out_len, 12, RPC(BAD_REQUEST), "Receive");
	assert_int_equal(f->fake.calls, 0);
}

static void test_missing_required_field(void **state)
{
	struct fix *f = *state;
	/* socket_descriptor = "s", but no data_size (required). */
	static const uint8_t body[] = {0x0a, 1, 's'};

	request_raw(f, 13, "remote_socket", "Receive", body, sizeof(body));
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	expect_rpc_error(f->out, f->out_len, 13, RPC(BAD_REQUEST), NULL);
	/* No body at all: CreateSocket lacks family and protocol. */
	request_raw(f, 14, "remote_socket", "CreateSocket", NULL, 0);
	assert_int_equal(dispatch(f, &f->ctl_env), RS_RPC_DONE);
	expect_rpc_error(f->out, f->out_len, 14, RPC(BAD_REQUEST),
			 "CreateSocket");
	assert_int_equal(f->fake.calls, 0);
}

static void test_handler_app_error(void **state)
{
	struct fix *f = *state;
	Remsock__Rpc__RpcResponse *r;
	Remsock__RemoteSocketServiceError *e;

	f->fake.action = ACT_APP_ERROR;
	request_receive(f, 15, 10);
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	r = response_of(f->out, f->out_len);
	assert_int_equal(r->call_id, 15);
	assert_false(r->has_body);
	assert_null(r->rpc_error);
	assert_non_null(r->application_error);
	assert_int_equal(r->application_error->code, SYSTEM_ERROR);
	assert_string_equal(r->application_error->detail,
			    "receive: would block");
	assert_true(r->application_error->has_error_body);
	e = remsock__remote_socket_service_error__unpack(
	    NULL, r->application_error->error_body.len,
	    r->application_error->error_body.data);
	assert_non_null(e);
	assert_int_equal(e->system_error, EAGAIN);
	remsock__remote_socket_service_error__free_unpacked(e, NULL);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
}

static void test_handler_internal_error(void **state)
{
	struct fix *f = *state;

	f->fake.action = ACT_FAIL;
	request_receive(f, 16, 10);
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	expect_rpc_error(f->out, f->out_len, 16, RPC(INTERNAL), strerror(EIO));
}

static void test_handler_parked(void **state)
{
	struct fix *f = *state;
	Remsock__ReceiveReply rr = REMSOCK__RECEIVE_REPLY__INIT;
	Remsock__SendReply wrong = REMSOCK__SEND_REPLY__INIT;
	struct rs_rpc_call kept;
	uint8_t data[7];

	f->fake.action = ACT_PARK;
	request_receive(f, 17, 7);
	f->out_len = 12345;
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_PARKED);
	assert_int_equal(f->out_len, 0);
	kept = f->fake.parked;
	assert_int_equal(kept.status, RS_RPC_CALL_PARKED);

	/* The arena moves on to other calls; the copy does not care. */
	rs_arena_reset(f->arena);
	f->fake.action = ACT_OK;
	request_receive(f, 18, 5);
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	rs_arena_reset(f->arena);

	/* The data arrives: complete the parked call. */
	memset(data, 'd', sizeof(data));
	rr.has_stream_offset = 1;
	rr.stream_offset = 1000;
	rr.has_data = 1;
	rr.data.data = data;
	rr.data.len = sizeof(data);
	assert_int_equal(rs_rpc_call_respond(&kept, &rr.base, f->out,
					     sizeof(f->out), &f->out_len),
			 0);
	expect_receive_reply(f->out, f->out_len, 17, sizeof(data));

	/* Completing with the wrong reply type is refused. */
	assert_int_equal(rs_rpc_call_respond(&kept, &wrong.base, f->out,
					     sizeof(f->out), &f->out_len),
			 -EINVAL);
	/* Or its deadline passes. */
	rs_rpc_call_set_rpc_error(&kept, RPC(DEADLINE_EXCEEDED), "waited %ds",
				  2);
	assert_int_equal(rs_rpc_call_respond(&kept, NULL, f->out,
					     sizeof(f->out), &f->out_len),
			 0);
	expect_rpc_error(f->out, f->out_len, 17, RPC(DEADLINE_EXCEEDED),
			 "waited 2s");
}

static void test_other_plane_forward(void **state)
{
	struct fix *f = *state;
	Remsock__CreateSocketRequest cq = REMSOCK__CREATE_SOCKET_REQUEST__INIT;

	request_receive(f, 19, 4);
	f->out_len = 999;
	assert_int_equal(dispatch(f, &f->ctl_env), RS_RPC_FORWARD);
	assert_int_equal(f->out_len, 0);
	assert_int_equal(f->fake.calls, 0);
	assert_int_equal(f->call.call_id, 19);
	assert_string_equal(f->call.method->name, "Receive");
	/* Where it belongs, the same frame is served. */
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	expect_receive_reply(f->out, f->out_len, 19, 4);

	cq.family = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv6;
	cq.protocol = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_PROTOCOL__UDP;
	request(f, 20, "remote_socket", "CreateSocket", &cq.base);
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_FORWARD);
	assert_int_equal(f->fake.calls, 1);
}

static void test_output_too_small(void **state)
{
	struct fix *f = *state;
	uint8_t small[32];
	size_t need;

	request_receive(f, 21, 200);
	assert_int_equal(rs_rpc_dispatch(&f->data_env, f->req, f->req_len,
					 &f->call, small, sizeof(small), &need),
			 -ENOSPC);
	assert_int_equal(f->fake.calls, 1);
	assert_true(need > sizeof(small));
	/* The reply waits in the arena: retry into a larger buffer. */
	assert_int_equal(rs_rpc_call_respond(&f->call, f->call.resp, f->out,
					     need, &f->out_len),
			 0);
	assert_int_equal(f->out_len, need);
	expect_receive_reply(f->out, f->out_len, 21, 200);
	assert_int_equal(f->fake.calls, 1);

	/* Error responses report their size the same way. */
	memset(f->req, 0xff, 8);
	f->req_len = 8;
	assert_int_equal(rs_rpc_dispatch(&f->data_env, f->req, f->req_len,
					 &f->call, small, 4, &need),
			 -ENOSPC);
	assert_int_equal(
	    rs_rpc_call_respond(&f->call, NULL, f->out, need, &f->out_len), 0);
	expect_rpc_error(f->out, f->out_len, 0, RPC(PARSE_ERROR), NULL);
}

static void test_reply_above_frame_limit(void **state)
{
	struct fix *f = *state;

	f->fake.action = ACT_HUGE;
	request_receive(f, 22, 1);
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	expect_rpc_error(f->out, f->out_len, 22, RPC(RESPONSE_TOO_LARGE),
			 "Receive");
}

static void test_request_over_arena_limit(void **state)
{
	struct fix *f = *state;
	struct rs_arena_conf conf = {.first_size = 1024, .limit = 1024};
	struct rs_arena *small = rs_arena_create(&conf);
	struct rs_rpc_env env = f->data_env;
	Remsock__SendRequest sq = REMSOCK__SEND_REQUEST__INIT;
	static uint8_t data[3000];
	static char name[3000];

	assert_non_null(small);
	env.arena = small;
	/* A string is copied to be NUL-terminated: 3000 bytes of call
	 * memory. */
	memset(name, 's', sizeof(name) - 1);
	sq.socket_descriptor = name;
	request(f, 23, "remote_socket", "Send", &sq.base);
	assert_int_equal(dispatch(f, &env), RS_RPC_DONE);
	expect_rpc_error(f->out, f->out_len, 23, RPC(REQUEST_TOO_LARGE), NULL);
	assert_int_equal(f->fake.calls, 0);
	/* The same call with room succeeds. */
	assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
	assert_int_equal(f->fake.calls, 1);
	/* Bytes are not copied (rs_rpc_unpack()): 3000 of data fit. */
	sq.socket_descriptor = "s";
	sq.data.data = data;
	sq.data.len = sizeof(data);
	request(f, 24, "remote_socket", "Send", &sq.base);
	rs_arena_reset(small);
	assert_int_equal(dispatch(f, &env), RS_RPC_DONE);
	assert_int_equal(f->fake.calls, 2);
	rs_arena_destroy(small);
}

static void test_error_write(void **state)
{
	struct fix *f = *state;
	size_t need;

	assert_int_equal(rs_rpc_error_write(31, RPC(UNAUTHENTICATED),
					    "Authenticate first", f->out,
					    sizeof(f->out), &f->out_len),
			 0);
	expect_rpc_error(f->out, f->out_len, 31, RPC(UNAUTHENTICATED),
			 "Authenticate first");
	assert_int_equal(
	    rs_rpc_error_write(32, RPC(OVER_QUOTA), NULL, NULL, 0, &need),
	    -ENOSPC);
	assert_int_equal(rs_rpc_error_write(32, RPC(OVER_QUOTA), NULL, f->out,
					    need, &f->out_len),
			 0);
	assert_int_equal(f->out_len, need);
	expect_rpc_error(f->out, f->out_len, 32, RPC(OVER_QUOTA), NULL);
	assert_string_equal(rs_rpc_error_name(RPC(OVER_QUOTA)),
			    "RPC_OVER_QUOTA");
}

/* The hand-written envelope is byte for byte what protobuf-c packs. */
static void test_envelope_matches_protobuf_c(void **state)
{
	Remsock__Rpc__RpcResponse ref = REMSOCK__RPC__RPC_RESPONSE__INIT;
	Remsock__Rpc__ApplicationError ae =
	    REMSOCK__RPC__APPLICATION_ERROR__INIT;
	Remsock__RemoteSocketServiceError e =
	    REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__INIT;
	struct rs_rpc_call call = {.call_id = 0x123456789ull};
	uint8_t mine[256], theirs[256], eb[64];
	size_t len, ref_len;

	e.has_system_error = 1;
	e.system_error = 104;
	e.error_detail = "reset";
	rs_rpc_call_set_app_error(&call, -5, "negative %s", "code");
	call.error_body = &e.base;
	assert_int_equal(
	    rs_rpc_call_respond(&call, NULL, mine, sizeof(mine), &len), 0);

	ae.has_code = 1;
	ae.code = -5;
	ae.detail = "negative code";
	ae.has_error_body = 1;
	ae.error_body.data = eb;
	ae.error_body.len = protobuf_c_message_pack(&e.base, eb);
	ref.has_call_id = 1;
	ref.call_id = 0x123456789ull;
	ref.application_error = &ae;
	ref_len = remsock__rpc__rpc_response__pack(&ref, theirs);
	assert_int_equal(len, RS_FRAME_HDR_LEN + ref_len);
	assert_memory_equal(mine + RS_FRAME_HDR_LEN, theirs, ref_len);
}

/* Write @p call's response into two runs split at @p cut of @p buf (the
 * second run first in memory, as a ring's free space that wraps), and
 * gather it back in order into @p flat. */
static size_t respond_split(const struct rs_rpc_call *call,
			    const ProtobufCMessage *resp, size_t cut,
			    size_t total, uint8_t *buf, uint8_t *flat)
{
	struct iovec iov[2] = {{buf + total - cut, cut}, {buf, total - cut}};
	size_t len = 0;

	memset(buf, 0xee, total);
	assert_int_equal(rs_rpc_call_respond_iov(call, resp, iov, &len), 0);
	assert_int_equal(len, total);
	memcpy(flat, buf + total - cut, cut);
	memcpy(flat + cut, buf, total - cut);
	return len;
}

/* A reply's tail (its data from two runs of someone else's memory) and a
 * response written into two runs make exactly what protobuf-c makes of
 * the reply with its data set, wherever either run breaks. */
static void test_tail_and_two_runs(void **state)
{
	Remsock__ReceiveReply rr = REMSOCK__RECEIVE_REPLY__INIT;
	struct rs_rpc_call call = {.call_id = 4242};
	struct rs_rpc_tail tail = {.field = 3};
	static uint8_t ref[2048], buf[2048], flat[2048], data[1000];
	size_t ref_len, len, cut;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	rr.has_stream_offset = 1;
	rr.stream_offset = 1ll << 40;
	rr.has_data = 1;
	rr.data = (ProtobufCBinaryData){sizeof(data), data};
	assert_int_equal(
	    rs_rpc_call_respond(&call, &rr.base, ref, sizeof(ref), &ref_len),
	    0);
	{
		Remsock__Rpc__RpcResponse *r = response_of(ref, ref_len);
		Remsock__ReceiveReply *back = remsock__receive_reply__unpack(
		    NULL, r->body.len, r->body.data);

		assert_non_null(back);
		assert_int_equal(r->call_id, 4242);
		assert_int_equal(back->stream_offset, 1ll << 40);
		assert_int_equal(back->data.len, sizeof(data));
		assert_memory_equal(back->data.data, data, sizeof(data));
		remsock__receive_reply__free_unpacked(back, NULL);
		remsock__rpc__rpc_response__free_unpacked(r, NULL);
	}

	/* The same bytes as a tail, lying in two pieces. */
	rr.has_data = 0;
	rr.data = (ProtobufCBinaryData){0, NULL};
	tail.iov[0] = (struct iovec){data, 333};
	tail.iov[1] = (struct iovec){data + 333, sizeof(data) - 333};
	call.tail = &tail;
	assert_int_equal(
	    rs_rpc_call_respond(&call, &rr.base, flat, sizeof(flat), &len), 0);
	assert_int_equal(len, ref_len);
	assert_memory_equal(flat, ref, ref_len);
	for (cut = 0; cut <= ref_len; cut += cut < 40 ? 1 : 97) {
		respond_split(&call, &rr.base, cut, ref_len, buf, flat);
		assert_memory_equal(flat, ref, ref_len);
	}
	/* Runs too short together: nothing written. */
	{
		struct iovec iov[2] = {{buf, 10}, {buf + 10, ref_len - 11}};

		memset(buf, 0xee, sizeof(buf));
		assert_int_equal(
		    rs_rpc_call_respond_iov(&call, &rr.base, iov, &len),
		    -ENOSPC);
		assert_int_equal(len, ref_len);
		assert_int_equal(buf[0], 0xee);
	}
	/* An error ignores the tail, and breaks anywhere too. */
	rs_rpc_call_set_app_error(&call, 7, "socket %s", "closed");
	assert_int_equal(
	    rs_rpc_call_respond(&call, &rr.base, ref, sizeof(ref), &ref_len),
	    0);
	for (cut = 0; cut <= ref_len; cut++) {
		respond_split(&call, &rr.base, cut, ref_len, buf, flat);
		assert_memory_equal(flat, ref, ref_len);
	}
}

/* The point of the arena: once warm, a data call allocates nothing on the
 * heap, from decode to response. */
static void test_steady_state_no_heap(void **state)
{
	struct fix *f = *state;
	struct rs_arena_stats st;
	uint64_t before, after, grows;
	int i;

	request_receive(f, 40, 1500);
	for (i = 0; i < 10; i++) {
		assert_int_equal(dispatch(f, &f->data_env), RS_RPC_DONE);
		rs_arena_reset(f->arena);
	}
	rs_arena_stats_get(f->arena, &st);
	grows = st.grows;
	if (!heap_counter(&before))
		skip();
	for (i = 0; i < 1000; i++) {
		if (dispatch(f, &f->data_env) != RS_RPC_DONE)
			fail();
		rs_arena_reset(f->arena);
	}
	assert_true(heap_counter(&after));
	assert_int_equal(after, before);
	rs_arena_stats_get(f->arena, &st);
	assert_int_equal(st.grows, grows);
	assert_int_equal(f->fake.calls, 1010);
	expect_receive_reply(f->out, f->out_len, 40, 1500);
}

/* The counter itself works: otherwise the test above proves nothing. */
static void test_heap_counter_counts(void **state)
{
	uint64_t before, after;
	void *volatile p;

	if (!heap_counter(&before))
		skip();
	p = malloc(100);
	assert_true(heap_counter(&after));
	free(p);
	assert_true(after > before);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_duplicate_registration),
	    T(test_lookup_and_stable_entries),
	    T(test_ok_path),
	    T(test_control_plane_ok),
	    T(test_call_id_echoed),
	    T(test_deadline_passed_to_call),
	    T(test_unknown_service),
	    T(test_unknown_method),
	    T(test_unknown_method_detail_sanitized),
	    T(test_garbage_envelope),
	    T(test_garbage_after_call_id),
	    T(test_body_fails_to_decode),
	    T(test_missing_required_field),
	    T(test_handler_app_error),
	    T(test_handler_internal_error),
	    T(test_handler_parked),
	    T(test_other_plane_forward),
	    T(test_output_too_small),
	    T(test_reply_above_frame_limit),
	    T(test_tail_and_two_runs),
	    T(test_request_over_arena_limit),
	    T(test_error_write),
	    T(test_envelope_matches_protobuf_c),
	    T(test_heap_counter_counts),
	    T(test_steady_state_no_heap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
