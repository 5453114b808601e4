/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Response frames, and the call's outcome setters (see rs_rpc.h).
 *
 * The RpcResponse envelope is encoded here by hand rather than by protobuf-c,
 * so that the reply (and an application error's body) is packed straight
 * into its place in the caller's buffer: protobuf-c could only embed it as a
 * bytes field packed beforehand into a second buffer, one more copy of every
 * Receive's data.  The output is what protobuf-c writes for the same message
 * (fields in number order, call_id always present), which test_rpc_registry
 * checks by decoding every frame with the generated code.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rs_frame.h"
#include "rs_rpc.h"

/* Field numbers from proto/rpc.proto. */
enum {
	RESPONSE_CALL_ID = 1,
	RESPONSE_BODY = 2,
	RESPONSE_APP_ERROR = 3,
	RESPONSE_RPC_ERROR = 4,
	ERROR_CODE = 1,	  /* ApplicationError.code and RpcError.code */
	ERROR_DETAIL = 2, /* ApplicationError.detail and RpcError.detail */
	APP_ERROR_BODY = 3,
};

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

/* Sizes of the parts of one response, computed before anything is written
 * so that a short buffer is reported without writing. */
struct layout {
	size_t body;   /* packed reply, or an application error's body */
	size_t detail; /* strlen(call->detail) */
	size_t error;  /* the ApplicationError or RpcError message */
	size_t total;  /* the RpcResponse message */
};

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
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

/* Every field number here is below 16: its tag is one byte. */
static uint8_t *put_tag(uint8_t *p, unsigned field, unsigned wire)
{
	*p++ = (uint8_t)(field << 3 | wire);
	return p;
}

static size_t len_field_size(size_t len)
{
	return 1 + varint_size(len) + len;
}

/* protobuf encodes negative int32 and enum values sign-extended to 64 bits. */
static uint64_t int_wire(int64_t v)
{
	return (uint64_t)v;
}

static int64_t error_code(const struct rs_rpc_call *call)
{
	if (call->status == RS_RPC_CALL_APP_ERROR)
		return call->app_code;
	return call->rpc_code;
}

static bool is_error(const struct rs_rpc_call *call)
{
	return call->status == RS_RPC_CALL_APP_ERROR ||
	       call->status == RS_RPC_CALL_RPC_ERROR;
}

/* The message packed as the body field: the reply, or an application
 * error's body, or nothing. */
static const ProtobufCMessage *body_message(const struct rs_rpc_call *call,
					    const ProtobufCMessage *resp)
{
	if (call->status == RS_RPC_CALL_APP_ERROR)
		return call->error_body;
	if (call->status == RS_RPC_CALL_RPC_ERROR)
		return NULL;
	return resp;
}

static void plan(const struct rs_rpc_call *call, const ProtobufCMessage *body,
		 struct layout *l)
{
	l->body = body ? protobuf_c_message_get_packed_size(body) : 0;
	l->detail = strlen(call->detail);
	l->total = 1 + varint_size(call->call_id);
	if (!is_error(call)) {
		l->error = 0;
		if (body != NULL)
			l->total += len_field_size(l->body);
		return;
	}
	l->error = 1 + varint_size(int_wire(error_code(call)));
	if (l->detail > 0)
		l->error += len_field_size(l->detail);
	if (body != NULL)
		l->error += len_field_size(l->body);
	l->total += len_field_size(l->error);
}

static uint8_t *put_message(uint8_t *p, unsigned field,
			    const ProtobufCMessage *msg, size_t len)
{
	p = put_tag(p, field, WIRE_LEN);
	p = put_varint(p, len);
	return p + protobuf_c_message_pack(msg, p);
}

static uint8_t *put_error(uint8_t *p, const struct rs_rpc_call *call,
			  const ProtobufCMessage *body, const struct layout *l)
{
	bool app = call->status == RS_RPC_CALL_APP_ERROR;

	p = put_tag(p, app ? RESPONSE_APP_ERROR : RESPONSE_RPC_ERROR, WIRE_LEN);
	p = put_varint(p, l->error);
	p = put_tag(p, ERROR_CODE, WIRE_VARINT);
	p = put_varint(p, int_wire(error_code(call)));
	if (l->detail > 0) {
		p = put_tag(p, ERROR_DETAIL, WIRE_LEN);
		p = put_varint(p, l->detail);
		memcpy(p, call->detail, l->detail);
		p += l->detail;
	}
	if (body != NULL)
		p = put_message(p, APP_ERROR_BODY, body, l->body);
	return p;
}

int rs_rpc_call_respond(const struct rs_rpc_call *call,
			const ProtobufCMessage *resp, uint8_t *out, size_t cap,
			size_t *out_len)
{
	const ProtobufCMessage *body = body_message(call, resp);
	struct layout l;
	uint8_t *p;

	if (!is_error(call) && resp != NULL && call->method != NULL &&
	    resp->descriptor != call->method->resp_desc)
		return -EINVAL;
	plan(call, body, &l);
	if (l.total > RS_FRAME_MAX_HARD)
		return -EMSGSIZE;
	*out_len = RS_FRAME_HDR_LEN + l.total;
	if (cap < *out_len)
		return -ENOSPC;
	rs_frame_header_write(out, l.total);
	p = out + RS_FRAME_HDR_LEN;
	p = put_tag(p, RESPONSE_CALL_ID, WIRE_VARINT);
	p = put_varint(p, call->call_id);
	if (is_error(call))
		put_error(p, call, body, &l);
	else if (body != NULL)
		put_message(p, RESPONSE_BODY, body, l.body);
	return 0;
}

/* Details travel in protobuf strings, which must be UTF-8, and end up in
 * logs: keep printable ASCII only (names in them come from the peer). */
__attribute__((format(printf, 2, 0))) static void
set_detail(struct rs_rpc_call *call, const char *fmt, va_list ap)
{
	char *c;

	if (vsnprintf(call->detail, sizeof(call->detail), fmt, ap) < 0)
		call->detail[0] = '\0';
	for (c = call->detail; *c != '\0'; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
}

void rs_rpc_call_set_app_error(struct rs_rpc_call *call, int32_t code,
			       const char *fmt, ...)
{
	va_list ap;

	call->status = RS_RPC_CALL_APP_ERROR;
	call->app_code = code;
	call->error_body = NULL;
	va_start(ap, fmt);
	set_detail(call, fmt, ap);
	va_end(ap);
}

void rs_rpc_call_set_rpc_error(struct rs_rpc_call *call,
			       Remsock__Rpc__RpcErrorCode code, const char *fmt,
			       ...)
{
	va_list ap;

	call->status = RS_RPC_CALL_RPC_ERROR;
	call->rpc_code = code;
	va_start(ap, fmt);
	set_detail(call, fmt, ap);
	va_end(ap);
}

void rs_rpc_call_park(struct rs_rpc_call *call)
{
	call->status = RS_RPC_CALL_PARKED;
}

int rs_rpc_error_write(uint64_t call_id, Remsock__Rpc__RpcErrorCode code,
		       const char *detail, uint8_t *out, size_t cap,
		       size_t *out_len)
{
	struct rs_rpc_call call = {.call_id = call_id};

	rs_rpc_call_set_rpc_error(&call, code, "%s", detail ? detail : "");
	return rs_rpc_call_respond(&call, NULL, out, cap, out_len);
}

const char *rs_rpc_error_name(Remsock__Rpc__RpcErrorCode code)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
	    &remsock__rpc__rpc_error_code__descriptor, (int)code);

	return v ? v->name : "RPC_UNKNOWN_ERROR";
}
