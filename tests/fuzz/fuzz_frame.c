/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: a byte stream from an RPC peer, through the frame decoder and
 * the dispatcher, as a dataplane worker serves it.
 *
 * Input: byte 0 says how the stream is cut into chunks (as a TCP ring would
 * hand it over): bit 7 set, all at once; otherwise chunk sizes from a
 * generator seeded with it.  The rest is the stream.  Each frame is dispatched
 * on the data plane, and on the control plane when forwarded.  The handlers are
 * fake remote_socket methods that park, fail or answer depending on the
 * request, so that every path of the dispatcher is reached.
 *
 * Checked on every call (abort() on violation, which the fuzzer reports):
 * each response frame has a consistent header and decodes as an RpcResponse
 * carrying the call's id; -ENOSPC reports a size that then suffices; the
 * decoder consumes what it says and fails only for an oversize length.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "remote_socket.pb-c.h"
#include "rpc.pb-c.h"
#include "rs_frame.h"
#include "rs_rpc.h"

#define MAX_FRAME (64u * 1024)
#define OUT_CAP 512 /* small on purpose: the -ENOSPC path gets exercised */

struct world {
	struct rs_rpc_registry *reg;
	struct rs_arena *arena;
	struct rs_frame_decoder *dec;
	uint8_t out[OUT_CAP];
	uint8_t *big; /* for retries after -ENOSPC */
};

static void check(int ok)
{
	if (!ok)
		abort();
}

static int fake_receive(void *ctx, struct rs_rpc_call *call,
			const ProtobufCMessage *req, ProtobufCMessage *resp)
{
	const Remsock__ReceiveRequest *rq = (const void *)req;
	Remsock__ReceiveReply *rr = (void *)resp;
	size_t n = (size_t)rq->data_size & 0x3fff;

	if (rq->data_size < 0) {
		rs_rpc_call_set_app_error(call, rq->data_size, "negative %s",
					  rq->socket_descriptor);
		return 0;
	}
	if (rq->flags & 1) {
		rs_rpc_call_park(call);
		return 0;
	}
	if (rq->flags & 2)
		return -EIO;
	rr->has_data = 1;
	rr->data.len = n;
	rr->data.data = rs_arena_alloc(call->arena, n);
	if (rr->data.data == NULL)
		return -ENOMEM;
	memset(rr->data.data, 'r', n);
	return 0;
}

static int fake_create(void *ctx, struct rs_rpc_call *call,
		       const ProtobufCMessage *req, ProtobufCMessage *resp)
{
	Remsock__CreateSocketReply *cr = (void *)resp;

	cr->socket_descriptor = rs_arena_printf(
	    call->arena, "sock-%llu", (unsigned long long)call->call_id);
	return cr->socket_descriptor ? 0 : -ENOMEM;
}

static const struct rs_rpc_method methods[] = {
    {"Receive", fake_receive, &remsock__receive_request__descriptor,
     &remsock__receive_reply__descriptor, RS_RPC_PLANE_DATA},
    {"CreateSocket", fake_create, &remsock__create_socket_request__descriptor,
     &remsock__create_socket_reply__descriptor, RS_RPC_PLANE_CONTROL},
};

/* Built once: libFuzzer calls the entry point millions of times. */
static struct world *world_get(void)
{
	static struct world *w;
	struct rs_arena_conf conf = {.keep = 256 * 1024, .limit = 1 << 20};
	size_t i;

	if (w != NULL)
		return w;
	w = calloc(1, sizeof(*w));
	check(w != NULL);
	w->reg = rs_rpc_registry_create();
	w->arena = rs_arena_create(&conf);
	w->dec = rs_frame_decoder_create(MAX_FRAME);
	w->big = malloc(RS_FRAME_MAX_HARD / 16);
	check(w->reg && w->arena && w->dec && w->big);
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		check(rs_rpc_registry_add(w->reg, "remote_socket",
					  &methods[i]) == 0);
	return w;
}

static void check_response(const uint8_t *out, size_t len, uint64_t id)
{
	Remsock__Rpc__RpcResponse *r;

	check(len >= RS_FRAME_HDR_LEN);
	check(rs_frame_header_read(out) == len - RS_FRAME_HDR_LEN);
	r = remsock__rpc__rpc_response__unpack(NULL, len - RS_FRAME_HDR_LEN,
					       out + RS_FRAME_HDR_LEN);
	check(r != NULL);
	check(r->call_id == id);
	check(r->has_body + (r->rpc_error != NULL) +
		  (r->application_error != NULL) <=
	      1);
	remsock__rpc__rpc_response__free_unpacked(r, NULL);
}

static void respond_retry(struct world *w, const struct rs_rpc_call *call,
			  size_t need)
{
	size_t len;

	check(need > OUT_CAP && need <= RS_FRAME_MAX_HARD / 16);
	check(rs_rpc_call_respond(call, call->resp, w->big, need, &len) == 0);
	check(len == need);
	check_response(w->big, len, call->call_id);
}

static void serve(struct world *w, const struct rs_frame *f)
{
	struct rs_rpc_env env = {w->reg, w->arena, NULL, RS_RPC_PLANE_DATA};
	struct rs_rpc_call call;
	size_t len;
	int rc;

	rc = rs_rpc_dispatch(&env, f->data, f->len, &call, w->out, OUT_CAP,
			     &len);
	if (rc == RS_RPC_FORWARD) {
		env.plane = RS_RPC_PLANE_CONTROL;
		rc = rs_rpc_dispatch(&env, f->data, f->len, &call, w->out,
				     OUT_CAP, &len);
		check(rc != RS_RPC_FORWARD);
	}
	if (rc == RS_RPC_PARKED) {
		/* Complete it at once, as an event would. */
		rs_rpc_call_set_rpc_error(
		    &call, REMSOCK__RPC__RPC_ERROR_CODE__RPC_DEADLINE_EXCEEDED,
		    "late");
		rc = rs_rpc_call_respond(&call, NULL, w->out, OUT_CAP, &len);
	}
	if (rc == -ENOSPC)
		respond_retry(w, &call, len);
	else if (rc == RS_RPC_DONE)
		check_response(w->out, len, call.call_id);
	else
		check(0);
	rs_arena_reset(w->arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world *w = world_get();
	unsigned seed;
	bool whole;
	struct rs_frame f;
	size_t used;
	int rc;

	if (size == 0)
		return 0;
	seed = data[0];
	whole = seed & 0x80;
	data++;
	size--;
	rs_frame_decoder_reset(w->dec);
	while (size > 0) {
		size_t chunk = whole ? size : 1 + (seed >> 8) % 97;

		if (chunk > size)
			chunk = size;
		seed = seed * 1103515245u + 12345u;
		rc = rs_frame_decode(w->dec, data, chunk, &used, &f);
		check(used <= chunk);
		if (rc == RS_FRAME_ETOOBIG || rc == RS_FRAME_EFAILED)
			break;
		check(rc == RS_FRAME_READY || used == chunk);
		if (rc == RS_FRAME_READY)
			serve(w, &f);
		data += used;
		size -= used;
	}
	return 0;
}

/* ---- the replay driver's hooks (fuzz.h) ---------------------------------- */

static size_t put_request(uint8_t *p, uint64_t id, const char *method,
			  const ProtobufCMessage *body)
{
	Remsock__Rpc__RpcRequest rq = REMSOCK__RPC__RPC_REQUEST__INIT;
	uint8_t packed[256];
	size_t len;

	rq.has_call_id = 1;
	rq.call_id = id;
	rq.service_name = "remote_socket";
	rq.method = (char *)method;
	rq.has_body = 1;
	rq.body.data = packed;
	rq.body.len = protobuf_c_message_pack(body, packed);
	len = remsock__rpc__rpc_request__pack(&rq, p + RS_FRAME_HDR_LEN);
	rs_frame_header_write(p, len);
	return RS_FRAME_HDR_LEN + len;
}

/* One stream that reaches every handler path. */
size_t rs_fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	static const int32_t sizes[] = {10, -4, 100, 3000, 7};
	static const int32_t flags[] = {0, 0, 1, 0, 2};
	Remsock__ReceiveRequest rq = REMSOCK__RECEIVE_REQUEST__INIT;
	Remsock__CreateSocketRequest cq = REMSOCK__CREATE_SOCKET_REQUEST__INIT;
	size_t len = 0, k;

	if (i != 0 || cap < 4096)
		return 0;
	buf[len++] = 0x05; /* chunked */
	rq.socket_descriptor = "sock-A";
	rq.has_flags = 1;
	for (k = 0; k < 5; k++) {
		rq.data_size = sizes[k];
		rq.flags = flags[k];
		len += put_request(buf + len, k + 1, "Receive", &rq.base);
	}
	cq.family = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv4;
	cq.protocol = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_PROTOCOL__TCP;
	len += put_request(buf + len, 9, "CreateSocket", &cq.base);
	len += put_request(buf + len, 10, "Nope", &cq.base);
	return len;
}

void rs_fuzz_put_len(uint8_t *p, size_t avail, size_t value)
{
	if (avail >= RS_FRAME_HDR_LEN)
		rs_frame_header_write(p, value);
}
