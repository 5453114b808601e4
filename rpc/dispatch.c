/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dispatcher (see rs_rpc.h for its steps).  Every error found here
 * becomes an RPC error in the call record, and the one exit writes the
 * response from the record, so a transport that must retry with a larger
 * buffer has everything it needs in the record.
 */
#include <errno.h>
#include <string.h>

#include "rs_rpc.h"
#include "wire_pvt.h"

/* RpcErrorCode values by their short names. */
#define RPC_ERR(name) REMSOCK__RPC__RPC_ERROR_CODE__RPC_##name

static uint64_t arena_failures(struct rs_arena *arena)
{
	struct rs_arena_stats st;

	rs_arena_stats_get(arena, &st);
	return st.failures;
}

/* An envelope that does not decode may still carry a readable call_id
 * (RpcRequest field 1, a varint) before the damage; answering with it lets
 * the client fail the right call instead of guessing.  0 when there is
 * none. */
uint64_t rs_rpc_frame_call_id(const uint8_t *p, size_t len)
{
	struct rs_wire_field f = {0};
	uint64_t id = 0;
	size_t pos = 0;

	while (rs_wire_next(p, len, &pos, &f) > 0)
		if (f.num == 1 && f.wire == 0)
			id = f.v;
	return id;
}

static Remsock__Rpc__RpcRequest *decode_envelope(struct rs_arena *arena,
						 struct rs_rpc_call *call)
{
	uint64_t failures = arena_failures(arena);
	Remsock__Rpc__RpcRequest *req;

	req = (Remsock__Rpc__RpcRequest *)rs_rpc_unpack(
	    &remsock__rpc__rpc_request__descriptor, arena, call->frame,
	    call->frame_len);
	if (req != NULL) {
		call->call_id = req->call_id;
		call->has_deadline = req->has_deadline_seconds;
		call->deadline_seconds = req->deadline_seconds;
		return req;
	}
	call->call_id = rs_rpc_frame_call_id(call->frame, call->frame_len);
	if (arena_failures(arena) != failures)
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(REQUEST_TOO_LARGE),
		    "request envelope exceeds the call memory limit");
	else
		rs_rpc_call_set_rpc_error(call, RPC_ERR(PARSE_ERROR),
					  "request envelope does not decode");
	return NULL;
}

static const struct rs_rpc_method *
find_method(const struct rs_rpc_registry *reg, struct rs_rpc_call *call,
	    const Remsock__Rpc__RpcRequest *req)
{
	const char *service = req->service_name ? req->service_name : "";
	const char *method = req->method ? req->method : "";
	const struct rs_rpc_method *m = NULL;
	int rc;

	rc = rs_rpc_registry_lookup(reg, service, method, &m);
	if (rc == -ESRCH)
		rs_rpc_call_set_rpc_error(call, RPC_ERR(CALL_NOT_FOUND),
					  "unknown service '%.40s'", service);
	else if (rc < 0)
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(CALL_NOT_FOUND),
		    "unknown method '%.40s' of service '%.40s'", method,
		    service);
	call->method = m;
	return m;
}

static ProtobufCMessage *decode_body(struct rs_arena *arena,
				     struct rs_rpc_call *call,
				     const Remsock__Rpc__RpcRequest *req)
{
	const struct rs_rpc_method *m = call->method;
	uint64_t failures = arena_failures(arena);
	ProtobufCMessage *body;

	body = rs_rpc_unpack(m->req_desc, arena, req->body.data, req->body.len);
	if (body != NULL)
		return body;
	if (arena_failures(arena) != failures)
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(REQUEST_TOO_LARGE),
		    "%s: request exceeds the call memory limit", m->name);
	else
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(BAD_REQUEST),
		    "%s: request does not decode or lacks a required field",
		    m->name);
	return NULL;
}

static void run_handler(const struct rs_rpc_env *env, struct rs_rpc_call *call,
			const Remsock__Rpc__RpcRequest *req)
{
	const struct rs_rpc_method *m = call->method;
	ProtobufCMessage *body, *resp;
	int rc;

	body = decode_body(env->arena, call, req);
	if (body == NULL)
		return;
	resp = rs_arena_alloc(env->arena, m->resp_desc->sizeof_message);
	if (resp == NULL) {
		rs_rpc_call_set_rpc_error(call, RPC_ERR(INTERNAL),
					  "%s: no call memory for the reply",
					  m->name);
		return;
	}
	protobuf_c_message_init(m->resp_desc, resp);
	call->resp = resp;
	rc = m->handler(env->ctx, call, body, resp);
	if (rc < 0)
		rs_rpc_call_set_rpc_error(call, RPC_ERR(INTERNAL), "%s: %s",
					  m->name, strerror(-rc));
}

/* Write the response; a reply too large for any frame becomes an error. */
static int respond(struct rs_rpc_call *call, uint8_t *out, size_t cap,
		   size_t *out_len)
{
	int rc;

	/* Measured once, here, for this write and a later one (a caller
	 * that sizes first, writes second). */
	if (call->status == RS_RPC_CALL_OK && call->resp != NULL &&
	    call->gather == NULL) {
		call->sized_reply = call->resp;
		call->sized_len =
		    protobuf_c_message_get_packed_size(call->resp);
	}
	rc = rs_rpc_call_respond(call, call->resp, out, cap, out_len);

	if (rc == -EMSGSIZE) {
		rs_rpc_call_set_rpc_error(call, RPC_ERR(RESPONSE_TOO_LARGE),
					  "%s: reply above the frame limit",
					  call->method ? call->method->name
						       : "?");
		rc = rs_rpc_call_respond(call, NULL, out, cap, out_len);
	}
	return rc < 0 ? rc : RS_RPC_DONE;
}

int rs_rpc_dispatch(const struct rs_rpc_env *env, const uint8_t *frame,
		    size_t len, struct rs_rpc_call *call, uint8_t *out,
		    size_t cap, size_t *out_len)
{
	const Remsock__Rpc__RpcRequest *req;

	*call = (struct rs_rpc_call){
	    .arena = env->arena,
	    .frame = frame,
	    .frame_len = len,
	};
	*out_len = 0;

	req = decode_envelope(env->arena, call);
	if (req == NULL)
		goto answer;
	if (find_method(env->registry, call, req) == NULL)
		goto answer;
	if (call->method->plane != env->plane)
		return RS_RPC_FORWARD;
	run_handler(env, call, req);
	if (call->status == RS_RPC_CALL_PARKED)
		return RS_RPC_PARKED;
answer:
	return respond(call, out, cap, out_len);
}
