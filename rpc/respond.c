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
 * checks by decoding every frame with the generated code.  A reply's tail
 * (rs_rpc_tail: Receive's data where it lies in a socket's ring) is written
 * after it, and the response may go into two runs of memory (a ring's free
 * space): the data is then copied once, from the socket's ring to the
 * connection's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rs_frame.h"
#include "rs_rpc.h"
#include "rs_wire.h"

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
	size_t packed; /* packed reply, or an application error's body */
	size_t tail;   /* the reply's tail field (rs_rpc_tail), all of it */
	size_t detail; /* strlen(call->detail) */
	size_t error;  /* the ApplicationError or RpcError message */
	size_t total;  /* the RpcResponse message */
};

/* Every field number here is below 16: its tag is one byte. */
static uint8_t *put_tag(uint8_t *p, unsigned field, unsigned wire)
{
	*p++ = (uint8_t)(field << 3 | wire);
	return p;
}

static uint8_t *put_len(uint8_t *p, unsigned field, size_t len)
{
	return rs_wire_put_varint(put_tag(p, field, WIRE_LEN), len);
}

static size_t len_field_size(size_t len)
{
	return 1 + rs_wire_varint_size(len) + len;
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

/* The OK reply, when the call has one to pack or to gather. */
static const ProtobufCMessage *resp_of(const struct rs_rpc_call *call)
{
	return is_error(call) ? NULL : call->resp;
}

static size_t tail_len(const struct rs_rpc_tail *t)
{
	return t->iov[0].iov_len + t->iov[1].iov_len;
}

static void plan(const struct rs_rpc_call *call, const ProtobufCMessage *body,
		 struct layout *l)
{
	l->packed = body == NULL ? 0
		    : body == resp_of(call) && call->gather != NULL
			? call->gather->len
		    : body == call->sized_reply
			? call->sized_len
			: protobuf_c_message_get_packed_size(body);
	l->tail = 0;
	l->detail = strlen(call->detail);
	l->total = 1 + rs_wire_varint_size(call->call_id);
	if (!is_error(call)) {
		l->error = 0;
		if (body != NULL && call->tail != NULL)
			l->tail = len_field_size(tail_len(call->tail));
		if (body != NULL)
			l->total += len_field_size(l->packed + l->tail);
		return;
	}
	l->error = 1 + rs_wire_varint_size(int_wire(error_code(call)));
	if (l->detail > 0)
		l->error += len_field_size(l->detail);
	if (body != NULL)
		l->error += len_field_size(l->packed);
	l->total += len_field_size(l->error);
}

/* Where a response goes: one run of memory, then maybe a second. */
struct sink {
	ProtobufCBuffer base; /* for protobuf_c_message_pack_to_buffer() */
	uint8_t *p;	      /* the next byte */
	size_t left;	      /* bytes left in this run */
	uint8_t *next;	      /* the second run, or NULL */
	size_t next_len;
};

static void sink_put(struct sink *k, const void *src, size_t n)
{
	size_t first = n < k->left ? n : k->left;

	if (n == 0)
		return;
	memcpy(k->p, src, first);
	k->p += first;
	k->left -= first;
	if (first == n)
		return;
	k->p = k->next;
	k->left = k->next_len;
	k->next = NULL;
	memcpy(k->p, (const uint8_t *)src + first, n - first);
	k->p += n - first;
	k->left -= n - first;
}

static void sink_append(ProtobufCBuffer *b, size_t n, const uint8_t *src)
{
	sink_put((struct sink *)b, src, n);
}

/* A message packed in place where it fits the run, through the buffer
 * interface where it crosses into the next. */
static void sink_message(struct sink *k, const ProtobufCMessage *msg,
			 size_t len)
{
	if (len <= k->left) {
		protobuf_c_message_pack(msg, k->p);
		k->p += len;
		k->left -= len;
	} else {
		protobuf_c_message_pack_to_buffer(msg, &k->base);
	}
}

/* The tags, lengths and texts around the body: at most this much. */
#define HEAD_MAX (RS_FRAME_HDR_LEN + 4 * 11 + 16 + RS_RPC_DETAIL_MAX)

/* Everything of the response up to where the body's bytes go. */
static size_t head_write(uint8_t *h, const struct rs_rpc_call *call,
			 const ProtobufCMessage *body, const struct layout *l)
{
	uint8_t *p = h + RS_FRAME_HDR_LEN;

	rs_frame_header_write(h, l->total);
	p = put_tag(p, RESPONSE_CALL_ID, WIRE_VARINT);
	p = rs_wire_put_varint(p, call->call_id);
	if (!is_error(call)) {
		if (body != NULL)
			p = put_len(p, RESPONSE_BODY, l->packed + l->tail);
		return (size_t)(p - h);
	}
	p = put_len(p,
		    call->status == RS_RPC_CALL_APP_ERROR ? RESPONSE_APP_ERROR
							  : RESPONSE_RPC_ERROR,
		    l->error);
	p = put_tag(p, ERROR_CODE, WIRE_VARINT);
	p = rs_wire_put_varint(p, int_wire(error_code(call)));
	if (l->detail > 0) {
		p = put_len(p, ERROR_DETAIL, l->detail);
		memcpy(p, call->detail, l->detail);
		p += l->detail;
	}
	if (body != NULL)
		p = put_len(p, APP_ERROR_BODY, l->packed);
	return (size_t)(p - h);
}

static int respond(const struct rs_rpc_call *call, const ProtobufCMessage *resp,
		   struct sink *k, size_t *out_len)
{
	const ProtobufCMessage *body = body_message(call, resp);
	uint8_t head[HEAD_MAX];
	struct layout l;

	if (!is_error(call) && resp != NULL && call->method != NULL &&
	    resp->descriptor != call->method->resp_desc)
		return -EINVAL;
	plan(call, body, &l);
	if (l.total > RS_FRAME_MAX_HARD)
		return -EMSGSIZE;
	*out_len = RS_FRAME_HDR_LEN + l.total;
	if (k->left + k->next_len < *out_len)
		return -ENOSPC;
	sink_put(k, head, head_write(head, call, body, &l));
	if (body != NULL && body == resp_of(call) && call->gather != NULL)
		for (unsigned i = 0; i < call->gather->n; i++)
			sink_put(k, call->gather->iov[i].iov_base,
				 call->gather->iov[i].iov_len);
	else if (body != NULL)
		sink_message(k, body, l.packed);
	if (l.tail > 0) {
		const struct rs_rpc_tail *t = call->tail;
		uint8_t *p = put_len(head, t->field, tail_len(t));

		sink_put(k, head, (size_t)(p - head));
		sink_put(k, t->iov[0].iov_base, t->iov[0].iov_len);
		sink_put(k, t->iov[1].iov_base, t->iov[1].iov_len);
	}
	return 0;
}

int rs_rpc_call_respond(const struct rs_rpc_call *call,
			const ProtobufCMessage *resp, uint8_t *out, size_t cap,
			size_t *out_len)
{
	struct sink k = {.base.append = sink_append, .p = out, .left = cap};

	return respond(call, resp, &k, out_len);
}

int rs_rpc_call_respond_iov(const struct rs_rpc_call *call,
			    const ProtobufCMessage *resp,
			    const struct iovec out[2], size_t *out_len)
{
	struct sink k = {
	    .base.append = sink_append,
	    .p = out[0].iov_base,
	    .left = out[0].iov_len,
	    .next = out[1].iov_base,
	    .next_len = out[1].iov_len,
	};

	return respond(call, resp, &k, out_len);
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
	call->sized_reply = NULL;
	call->gather = NULL;
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
