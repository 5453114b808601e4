/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: a byte stream from an API-host HTTP client, through the
 * rs_http codec, as a worker serves it.
 *
 * Input: byte 0 says how the stream is cut into chunks (bit 7 set: all at
 * once; otherwise sizes from a generator seeded with it); the rest is the
 * stream.  Each request the codec passes is answered with a native frame
 * whose body is its id: even ids at once, odd ones after the next request
 * or at the end, so responses are held and released out of order.
 *
 * Checked (abort() on violation): each frame decodes as an RpcRequest
 * with the request's id; the output is a sequence of well-formed HTTP
 * responses whose Content-Length matches; every 200 body decodes as a
 * remote_api Response; the ids in successful ones rise (request order);
 * at the end nothing is left in flight, and the codec's memory is freed.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "remote_api.pb-c.h"
#include "rpc.pb-c.h"
#include "rs_arena.h"
#include "rs_frame.h"
#include "rs_http.h"

#define OUT_MAX (4u << 20)

struct world {
	struct rs_arena *arena;
	struct rs_http_conn *c;
	uint8_t *out;
	size_t nout;
	uint64_t deferred; /* an odd id not answered yet, or 0 */
	uint64_t last_ok;  /* id of the last successful response seen */
	bool overflow;	   /* more output than OUT_MAX: not checked */
};

static void check(int ok)
{
	if (!ok)
		abort();
}

static void answer(struct world *w, uint64_t id)
{
	Remsock__Rpc__RpcResponse r = REMSOCK__RPC__RPC_RESPONSE__INIT;
	uint8_t buf[64];
	size_t n;

	r.has_call_id = 1;
	r.call_id = id;
	r.has_body = 1;
	r.body = (ProtobufCBinaryData){.len = sizeof(id), .data = (void *)&id};
	n = remsock__rpc__rpc_response__pack(&r, buf + RS_FRAME_HDR_LEN);
	rs_frame_header_write(buf, n);
	check(rs_http_conn_respond(w->c, buf, n + RS_FRAME_HDR_LEN, 0) == 0);
}

static void on_request(void *ctx, const struct rs_http_request *r)
{
	struct world *w = ctx;
	Remsock__Rpc__RpcRequest *q;

	if (r->metrics) { /* GET /metrics: no frame, answered at once */
		check(r->frame == NULL &&
		      rs_http_conn_respond_status(w->c, r->id, 401, "no") == 0);
		return;
	}
	q = remsock__rpc__rpc_request__unpack(NULL, r->frame_len, r->frame);
	check(q != NULL && q->call_id == r->id && q->service_name != NULL);
	remsock__rpc__rpc_request__free_unpacked(q, NULL);
	if (w->deferred != 0) {
		answer(w, w->deferred);
		w->deferred = 0;
	}
	if (r->id & 1)
		w->deferred = r->id;
	else
		answer(w, r->id);
}

static void on_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct world *w = ctx;

	if (w->overflow || w->nout + len > OUT_MAX) {
		w->overflow = true;
		return;
	}
	memcpy(w->out + w->nout, buf, len);
	w->nout += len;
}

static const struct rs_http_ops ops = {.request = on_request,
				       .write = on_write};

/* Walk the responses written. */
static void check_output(struct world *w)
{
	size_t pos = 0;

	while (pos < w->nout) {
		char *p = (char *)w->out + pos, *end, *cl;
		Remsock__RemoteApi__Response *r;
		unsigned long bl;
		int status;
		size_t hl;

		end = memmem(p, w->nout - pos, "\r\n\r\n", 4);
		check(end != NULL);
		hl = (size_t)(end + 4 - p);
		check(sscanf(p, "HTTP/1.1 %d ", &status) == 1);
		if (status == 100) {
			pos += hl;
			continue;
		}
		cl = memmem(p, hl, "Content-Length: ", 16);
		check(cl != NULL);
		bl = strtoul(cl + 16, NULL, 10);
		check(pos + hl + bl <= w->nout);
		if (status == 200) {
			r = remsock__remote_api__response__unpack(
			    NULL, bl, (uint8_t *)end + 4);
			check(r != NULL);
			if (r->has_response && r->response.len == 8) {
				uint64_t id;

				memcpy(&id, r->response.data, 8);
				check(id > w->last_ok);
				w->last_ok = id;
			}
			remsock__remote_api__response__free_unpacked(r, NULL);
		}
		pos += hl + bl;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct world w;
	struct rs_arena_conf conf = {.limit = 1 << 20};
	unsigned seed;
	bool whole;

	if (size == 0)
		return 0;
	if (w.out == NULL) {
		w.arena = rs_arena_create(&conf);
		w.out = malloc(OUT_MAX);
		check(w.arena != NULL && w.out != NULL);
	}
	w.c = rs_http_conn_create(&ops, &w, w.arena, 64 * 1024);
	check(w.c != NULL);
	w.nout = 0;
	w.deferred = w.last_ok = 0;
	w.overflow = false;
	seed = data[0];
	whole = seed & 0x80;
	data++;
	size--;
	while (size > 0) {
		size_t chunk = whole ? size : 1 + (seed >> 8) % 97;

		if (chunk > size)
			chunk = size;
		seed = seed * 1103515245u + 12345u;
		if (rs_http_conn_input(w.c, data, chunk, 0, NULL) != 0)
			break;
		data += chunk;
		size -= chunk;
	}
	if (w.deferred != 0)
		answer(&w, w.deferred);
	check(rs_http_conn_in_flight(w.c) == 0);
	if (!w.overflow)
		check_output(&w);
	rs_http_conn_destroy(w.c);
	return 0;
}

/* ---- the replay driver's hooks (fuzz.h) ---------------------------------- */

static size_t put_request(char *p, size_t cap, const char *method,
			  const char *extra)
{
	Remsock__RemoteApi__Request r = REMSOCK__REMOTE_API__REQUEST__INIT;
	uint8_t body[128];
	size_t n;
	int h;

	r.service_name = "remote_socket";
	r.method = (char *)method;
	r.request =
	    (ProtobufCBinaryData){.len = 2, .data = (uint8_t *)"\x08\x01"};
	r.request_id = "demo:secret";
	n = remsock__remote_api__request__pack(&r, body);
	h = snprintf(
	    p, cap,
	    "POST /rpc_http HTTP/1.1\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "X-Google-RPC-Service-Endpoint: app-engine-apis\r\n"
	    "X-Google-RPC-Service-Method: /VMRemoteAPI.CallRemoteAPI\r\n"
	    "X-Google-RPC-Service-Deadline: 5\r\n"
	    "%sContent-Length: %zu\r\n\r\n",
	    extra, n);
	memcpy(p + h, body, n);
	return (size_t)h + n;
}

/* Pipelined requests, an HTTP error, GET /metrics, a chunked one, then
 * junk. */
size_t rs_fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	static const char get[] =
	    "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /metrics HTTP/1.1\r\nAuthorization: Basic b3BzOnMzY3JldA==\r\n"
	    "\r\nGET /metrics HTTP/1.1\r\nAuthorization: Bearer a:b\r\n\r\n";
	static const char chunked[] =
	    "POST /rpc_http HTTP/1.1\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "X-Google-RPC-Service-Endpoint: app-engine-apis\r\n"
	    "X-Google-RPC-Service-Method: /VMRemoteAPI.CallRemoteAPI\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "4\r\n\x12\x01M\x1a\r\n3\r\n\x00\x22\x00\r\n0\r\n\r\n";
	char *p = (char *)buf;
	size_t len = 0;

	if (i > 1 || cap < 4096)
		return 0;
	p[len++] = i == 0 ? 0x05 : (char)0x80;
	for (int k = 0; k < 5; k++)
		len += put_request(p + len, cap - len, k & 1 ? "Send" : "Poll",
				   k == 2 ? "Expect: 100-continue\r\n" : "");
	memcpy(p + len, get, sizeof(get) - 1);
	len += sizeof(get) - 1;
	memcpy(p + len, chunked, sizeof(chunked) - 1);
	len += sizeof(chunked) - 1;
	if (i == 1) {
		memcpy(p + len, "BAD\r\n\r\n", 7);
		len += 7;
	}
	return len;
}

/* The length field of HTTP is decimal text. */
void rs_fuzz_put_len(uint8_t *p, size_t avail, size_t value)
{
	char d[24];
	int n = snprintf(d, sizeof(d), "%zu", value % 100000);

	if ((size_t)n <= avail)
		memcpy(p, d, (size_t)n);
}
