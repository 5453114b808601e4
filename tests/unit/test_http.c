/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rs_http: the API-host codec without a network.  Requests go in as
 * bytes (whole, one byte at a time, pipelined), come out as native frames;
 * native response frames go in, HTTP responses with remote_api Responses
 * come out, in request order, with App Engine's error mapping.  GET
 * /metrics comes out with its credentials, for the caller to answer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "remote_api.pb-c.h"
#include "remote_socket.pb-c.h"
#include "rpc.pb-c.h"
#include "rs_arena.h"
#include "rs_http.h"

#define MAXREQ 8

struct fix {
	struct rs_arena *arena;
	struct rs_http_conn *c;
	Remsock__Rpc__RpcRequest *req[MAXREQ]; /* decoded frames */
	char ticket[MAXREQ][64];
	bool metrics[MAXREQ];
	unsigned nreq;
	uint8_t out[1 << 16];
	size_t nout, read; /* bytes written; bytes the test consumed */
	bool full;	   /* what ops.full answers */
};

static void on_request(void *ctx, const struct rs_http_request *r)
{
	struct fix *f = ctx;

	assert_true(f->nreq < MAXREQ);
	if (r->metrics) { /* no frame */
		assert_null(r->frame);
		f->req[f->nreq] = NULL;
	} else {
		f->req[f->nreq] = remsock__rpc__rpc_request__unpack(
		    NULL, r->frame_len, r->frame);
		assert_non_null(f->req[f->nreq]);
		assert_int_equal(f->req[f->nreq]->call_id, r->id);
	}
	snprintf(f->ticket[f->nreq], sizeof(f->ticket[0]), "%s",
		 r->ticket ? r->ticket : "(none)");
	f->metrics[f->nreq] = r->metrics;
	f->nreq++;
}

static void on_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct fix *f = ctx;

	assert_true(f->nout + len <= sizeof(f->out));
	memcpy(f->out + f->nout, buf, len);
	f->nout += len;
}

static bool on_full(void *ctx)
{
	return ((struct fix *)ctx)->full;
}

static const struct rs_http_ops ops = {
    .request = on_request, .write = on_write, .full = on_full};

static int setup(void **state)
{
	struct rs_arena_conf ac = {.limit = 1 << 20};
	struct fix *f = calloc(1, sizeof(*f));

	f->arena = rs_arena_create(&ac);
	f->c = rs_http_conn_create(&ops, f, f->arena, 4096);
	assert_non_null(f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	for (unsigned i = 0; i < f->nreq; i++)
		if (f->req[i] != NULL)
			remsock__rpc__rpc_request__free_unpacked(f->req[i],
								 NULL);
	rs_http_conn_destroy(f->c);
	rs_arena_destroy(f->arena);
	free(f);
	return 0;
}

/* The HTTP request of a call, in @p buf; @return its length. */
static size_t request(char *buf, size_t cap, const char *method,
		      const char *ticket, const char *extra)
{
	Remsock__RemoteApi__Request r = REMSOCK__REMOTE_API__REQUEST__INIT;
	uint8_t body[256];
	size_t n;
	int h;

	r.service_name = "remote_socket";
	r.method = (char *)method;
	r.request = (ProtobufCBinaryData){.len = 3, .data = (uint8_t *)"abc"};
	r.request_id = (char *)ticket;
	n = remsock__remote_api__request__pack(&r, body);
	h = snprintf(
	    buf, cap,
	    "POST /rpc_http HTTP/1.1\r\nHost: api\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "X-Google-RPC-Service-Endpoint: app-engine-apis\r\n"
	    "X-Google-RPC-Service-Method: /VMRemoteAPI.CallRemoteAPI\r\n"
	    "%sContent-Length: %zu\r\n\r\n",
	    extra, n);
	memcpy(buf + h, body, n);
	return (size_t)h + n;
}

/* A native response frame for @p call_id with @p len bytes of body
 * (none when @p body is NULL). */
static size_t frame_of(uint8_t *buf, uint64_t call_id, const uint8_t *body,
		       size_t len, Remsock__Rpc__ApplicationError *ae,
		       Remsock__Rpc__RpcError *re)
{
	Remsock__Rpc__RpcResponse r = REMSOCK__RPC__RPC_RESPONSE__INIT;
	size_t n;

	r.has_call_id = 1;
	r.call_id = call_id;
	if (body != NULL) {
		r.has_body = 1;
		r.body =
		    (ProtobufCBinaryData){.len = len, .data = (uint8_t *)body};
	}
	r.application_error = ae;
	r.rpc_error = re;
	n = remsock__rpc__rpc_response__pack(&r, buf + 4);
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	return n + 4;
}

/* The same with a string body. */
static size_t frame(uint8_t *buf, uint64_t call_id, const char *body,
		    Remsock__Rpc__ApplicationError *ae,
		    Remsock__Rpc__RpcError *re)
{
	return frame_of(buf, call_id, (const uint8_t *)body,
			body != NULL ? strlen(body) : 0, ae, re);
}

/* The next HTTP response written: its status, head, and body (in
 * f->out) and its length. */
static char *next_raw(struct fix *f, int *status, char *head, size_t cap,
		      size_t *blen)
{
	char *p = (char *)f->out + f->read, *end, *cl;
	size_t hl, bl;

	f->out[f->nout < sizeof(f->out) ? f->nout : sizeof(f->out) - 1] = 0;
	end = strstr(p, "\r\n\r\n");
	assert_non_null(end);
	hl = (size_t)(end + 4 - p);
	snprintf(head, cap, "%.*s", (int)hl, p);
	assert_int_equal(sscanf(p, "HTTP/1.1 %d", status), 1);
	cl = strstr(head, "Content-Length: ");
	assert_non_null(cl);
	bl = strtoul(cl + 16, NULL, 10);
	assert_true(f->read + hl + bl <= f->nout);
	f->read += hl + bl;
	*blen = bl;
	return end + 4;
}

/* The next HTTP response written: its status, and its body decoded as a
 * remote_api Response when the status is 200 (else NULL). */
static Remsock__RemoteApi__Response *next_response(struct fix *f, int *status,
						   char *head, size_t cap)
{
	size_t bl;
	char *body = next_raw(f, status, head, cap, &bl);

	if (*status != 200)
		return NULL;
	return remsock__remote_api__response__unpack(NULL, bl, (uint8_t *)body);
}

static void expect_reply(struct fix *f, const char *want)
{
	Remsock__RemoteApi__Response *r;
	char head[512];
	int status;

	r = next_response(f, &status, head, sizeof(head));
	assert_int_equal(status, 200);
	assert_non_null(r);
	assert_true(r->has_response);
	assert_int_equal(r->response.len, strlen(want));
	assert_memory_equal(r->response.data, want, strlen(want));
	assert_null(r->rpc_error);
	assert_null(r->application_error);
	remsock__remote_api__response__free_unpacked(r, NULL);
}

/* A caller whose output is full takes a request at a time: the rest of
 * the bytes are left to give again. */
static void test_stops_when_full(void **state)
{
	struct fix *f = *state;
	char buf[3072];
	size_t n = 0, used = 0, one;

	for (int i = 0; i < 3; i++)
		n += request(buf + n, sizeof(buf) - n, "Receive", "demo:s", "");
	one = n / 3;
	f->full = true;
	assert_int_equal(rs_http_conn_input(f->c, (uint8_t *)buf, n, 0, &used),
			 0);
	assert_int_equal(f->nreq, 1);
	assert_int_equal(used, one);
	/* Without @p used nothing may be left behind: no stop. */
	assert_int_equal(
	    rs_http_conn_input(f->c, (uint8_t *)buf + used, one, 0, NULL), 0);
	assert_int_equal(f->nreq, 2);
	f->full = false;
	assert_int_equal(
	    rs_http_conn_input(f->c, (uint8_t *)buf + 2 * one, one, 0, &used),
	    0);
	assert_int_equal(used, one);
	assert_int_equal(f->nreq, 3);
	assert_int_equal(rs_http_conn_in_flight(f->c), 3);
}

static void test_one_request(void **state)
{
	struct fix *f = *state;
	uint8_t fr[256];
	char buf[1024];
	size_t n = request(buf, sizeof(buf), "Receive", "demo:secret",
			   "X-Google-RPC-Service-Deadline: 2.5\r\n");

	assert_int_equal(rs_http_conn_input(f->c, (uint8_t *)buf, n, 0, NULL),
			 0);
	assert_int_equal(f->nreq, 1);
	assert_string_equal(f->req[0]->service_name, "remote_socket");
	assert_string_equal(f->req[0]->method, "Receive");
	assert_int_equal(f->req[0]->body.len, 3);
	assert_true(f->req[0]->has_deadline_seconds);
	assert_true(f->req[0]->deadline_seconds == 2.5);
	assert_string_equal(f->ticket[0], "demo:secret");
	assert_int_equal(rs_http_conn_in_flight(f->c), 1);
	assert_int_equal(f->nout, 0);
	assert_int_equal(rs_http_conn_respond(
			     f->c, fr, frame(fr, 1, "hello", NULL, NULL), 1),
			 0);
	expect_reply(f, "hello");
	assert_int_equal(rs_http_conn_in_flight(f->c), 0);
	/* A second answer for it finds nothing waiting. */
	assert_int_equal(
	    rs_http_conn_respond(f->c, fr, frame(fr, 1, "x", NULL, NULL), 1),
	    -ENOENT);
}

static void test_byte_by_byte_and_pipelined(void **state)
{
	struct fix *f = *state;
	char buf[4096];
	uint8_t fr[256];
	size_t n = 0;

	n += request(buf + n, sizeof(buf) - n, "A", "t1", "");
	n += request(buf + n, sizeof(buf) - n, "B", "t2", "");
	n += request(buf + n, sizeof(buf) - n, "C", "t3", "");
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
		    rs_http_conn_input(f->c, (uint8_t *)buf + i, 1, 0, NULL),
		    0);
	assert_int_equal(f->nreq, 3);
	assert_string_equal(f->req[2]->method, "C");
	assert_string_equal(f->ticket[1], "t2");
	/* Answered 3, 1, 2: written 1, 2, 3. */
	rs_http_conn_respond(f->c, fr, frame(fr, 3, "three", NULL, NULL), 0);
	assert_int_equal(f->nout, 0);
	rs_http_conn_respond(f->c, fr, frame(fr, 1, "one", NULL, NULL), 0);
	expect_reply(f, "one");
	assert_int_equal(f->read, f->nout); /* 3 still waits for 2 */
	rs_http_conn_respond(f->c, fr, frame(fr, 2, "two", NULL, NULL), 0);
	expect_reply(f, "two");
	expect_reply(f, "three");
	assert_int_equal(rs_http_conn_in_flight(f->c), 0);
}

static void test_error_mapping(void **state)
{
	struct fix *f = *state;
	Remsock__RemoteSocketServiceError se =
	    REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__INIT;
	Remsock__Rpc__ApplicationError ae =
	    REMSOCK__RPC__APPLICATION_ERROR__INIT;
	Remsock__Rpc__RpcError re = REMSOCK__RPC__RPC_ERROR__INIT;
	Remsock__RemoteApi__Response *r;
	uint8_t fr[512], seb[128];
	char buf[4096], head[512];
	size_t n = 0;
	int status;

	for (int i = 0; i < 5; i++)
		n += request(buf + n, sizeof(buf) - n, "M", "t",
			     i >= 3 ? "X-Google-RPC-Service-Deadline: 1\r\n"
				    : "");
	rs_http_conn_input(f->c, (uint8_t *)buf, n, 0, NULL);
	assert_int_equal(f->nreq, 5);
	se.has_system_error = 1;
	se.system_error = 111;
	se.error_detail = "refused \"here\"";
	ae.has_code = 1;
	ae.code = 1;
	ae.detail = "connect";
	ae.has_error_body = 1;
	ae.error_body = (ProtobufCBinaryData){
	    .len = remsock__remote_socket_service_error__pack(&se, seb),
	    .data = seb};
	rs_http_conn_respond(f->c, fr, frame(fr, 1, NULL, &ae, NULL), 0);
	re.has_code = 1;
	re.code = REMSOCK__RPC__RPC_ERROR_CODE__RPC_UNAUTHENTICATED;
	re.detail = "who";
	rs_http_conn_respond(f->c, fr, frame(fr, 2, NULL, NULL, &re), 0);
	re.code = REMSOCK__RPC__RPC_ERROR_CODE__RPC_BAD_REQUEST;
	rs_http_conn_respond(f->c, fr, frame(fr, 3, NULL, NULL, &re), 0);
	/* Answered a second after their 1-second deadline header: a reply
	 * (the call took effect) goes out late; an error is
	 * DEADLINE_EXCEEDED. */
	rs_http_conn_respond(f->c, fr, frame(fr, 4, "late", NULL, NULL),
			     2000000000ull);
	rs_http_conn_respond(f->c, fr, frame(fr, 5, NULL, NULL, &re),
			     2000000000ull);

	r = next_response(f, &status, head, sizeof(head));
	assert_non_null(r->application_error);
	assert_int_equal(r->application_error->code, 1);
	assert_string_equal(
	    r->application_error->detail,
	    "system_error: 111 error_detail: \"refused 'here'\"");
	remsock__remote_api__response__free_unpacked(r, NULL);
	r = next_response(f, &status, head, sizeof(head));
	assert_int_equal(r->rpc_error->code, 3); /* SECURITY_VIOLATION */
	remsock__remote_api__response__free_unpacked(r, NULL);
	r = next_response(f, &status, head, sizeof(head));
	assert_int_equal(r->rpc_error->code, 8); /* BAD_REQUEST */
	assert_string_equal(r->rpc_error->detail, "who");
	remsock__remote_api__response__free_unpacked(r, NULL);
	r = next_response(f, &status, head, sizeof(head));
	assert_null(r->rpc_error);
	assert_true(r->has_response);
	assert_int_equal(r->response.len, 4);
	assert_memory_equal(r->response.data, "late", 4);
	remsock__remote_api__response__free_unpacked(r, NULL);
	r = next_response(f, &status, head, sizeof(head));
	assert_int_equal(r->rpc_error->code, 12); /* DEADLINE_EXCEEDED */
	assert_false(r->has_response);
	remsock__remote_api__response__free_unpacked(r, NULL);
}

static void test_http_errors(void **state)
{
	struct fix *f = *state;
	Remsock__RemoteApi__Response *r;
	char head[512];
	int status;
	static const char get[] = "GET /rpc_http HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char path[] =
	    "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nab";
	static const char junk[] =
	    "POST /rpc_http HTTP/1.1\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "X-Google-RPC-Service-Endpoint: app-engine-apis\r\n"
	    "X-Google-RPC-Service-Method: /VMRemoteAPI.CallRemoteAPI\r\n"
	    "Content-Length: 3\r\n\r\n\xff\xff\xff";
	static const char big[] =
	    "POST /rpc_http HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";

	rs_http_conn_input(f->c, (const uint8_t *)get, strlen(get), 0, NULL);
	rs_http_conn_input(f->c, (const uint8_t *)path, strlen(path), 0, NULL);
	rs_http_conn_input(f->c, (const uint8_t *)junk, sizeof(junk) - 1, 0,
			   NULL);
	assert_int_equal(f->nreq, 0);
	assert_null(next_response(f, &status, head, sizeof(head)));
	assert_int_equal(status, 405);
	assert_non_null(strstr(head, "Allow: POST\r\n"));
	assert_null(next_response(f, &status, head, sizeof(head)));
	assert_int_equal(status, 404);
	r = next_response(f, &status, head, sizeof(head));
	assert_int_equal(r->rpc_error->code, 2); /* PARSE_ERROR */
	remsock__remote_api__response__free_unpacked(r, NULL);
	assert_false(rs_http_conn_busy(f->c));
	/* Above the 4096-byte limit: 413 at once, and the end. */
	assert_int_equal(rs_http_conn_input(f->c, (const uint8_t *)big,
					    strlen(big), 0, NULL),
			 1);
	assert_null(next_response(f, &status, head, sizeof(head)));
	assert_int_equal(status, 413);
	assert_non_null(strstr(head, "Connection: close\r\n"));
	assert_true(rs_http_conn_done(f->c));
	assert_int_equal(f->read, f->nout);
}

static void test_garbage_after_held(void **state)
{
	struct fix *f = *state;
	static const char junk[] = "HELLO\r\n\r\n";
	uint8_t fr[128];
	char buf[1024], head[512];
	size_t n = request(buf, sizeof(buf), "A", "t", "");
	int status;

	rs_http_conn_input(f->c, (uint8_t *)buf, n, 0, NULL);
	assert_int_equal(rs_http_conn_input(f->c, (const uint8_t *)junk,
					    strlen(junk), 0, NULL),
			 1);
	assert_int_equal(f->nout, 0); /* the 400 waits for request 1 */
	assert_false(rs_http_conn_done(f->c));
	rs_http_conn_respond(f->c, fr, frame(fr, 1, "a", NULL, NULL), 0);
	expect_reply(f, "a");
	assert_null(next_response(f, &status, head, sizeof(head)));
	assert_int_equal(status, 400);
	assert_true(rs_http_conn_done(f->c));
}

/* GET /metrics: handed on with the Authorization's APP:SECRET and no
 * frame; answered with a body or a status (401 asks for Basic), never
 * with a frame. */
static void test_metrics(void **state)
{
	struct fix *f = *state;
	/* base64("ops:s3cret") */
	static const char get[] =
	    "GET /metrics HTTP/1.1\r\nHost: a\r\n"
	    "Authorization: Basic b3BzOnMzY3JldA==\r\n\r\n"
	    "GET /metrics?x=1 HTTP/1.1\r\n"
	    "Authorization: bearer   ops:s3cret \r\n\r\n"
	    "GET /metrics HTTP/1.1\r\n\r\n"
	    "GET /metrics HTTP/1.1\r\nAuthorization: Basic b3B%zz\r\n\r\n"
	    "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
	static const char text[] = "# TYPE remsock_x gauge\nremsock_x 1\n";
	uint8_t fr[256];
	char head[512], *body;
	size_t bl;
	int status;

	assert_int_equal(rs_http_conn_input(f->c, (const uint8_t *)get,
					    strlen(get), 0, NULL),
			 0);
	assert_int_equal(f->nreq, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_true(f->metrics[i]);
	assert_string_equal(f->ticket[0], "ops:s3cret");
	assert_string_equal(f->ticket[1], "ops:s3cret");
	assert_string_equal(f->ticket[2], "(none)");
	assert_string_equal(f->ticket[3], "(none)"); /* not base64 */
	/* A frame cannot answer it. */
	assert_int_equal(
	    rs_http_conn_respond(f->c, fr, frame(fr, 1, "x", NULL, NULL), 0),
	    -EPROTO);
	assert_int_equal(
	    rs_http_conn_respond_body(f->c, 1, "text/plain; version=0.0.4",
				      (const uint8_t *)text, strlen(text)),
	    0);
	body = next_raw(f, &status, head, sizeof(head), &bl);
	assert_int_equal(status, 200);
	assert_non_null(
	    strstr(head, "Content-Type: text/plain; version=0.0.4"));
	assert_int_equal(bl, strlen(text));
	assert_memory_equal(body, text, bl);
	assert_int_equal(rs_http_conn_respond_status(f->c, 2, 401, "who?"), 0);
	next_raw(f, &status, head, sizeof(head), &bl);
	assert_int_equal(status, 401);
	assert_non_null(strstr(head, "WWW-Authenticate: Basic realm="));
	assert_int_equal(rs_http_conn_respond_status(f->c, 3, 403, "no"), 0);
	assert_int_equal(rs_http_conn_respond_status(f->c, 4, 401, "no"), 0);
	next_raw(f, &status, head, sizeof(head), &bl);
	assert_int_equal(status, 403);
	next_raw(f, &status, head, sizeof(head), &bl);
	assert_int_equal(status, 401);
	/* POST /metrics: 405, Allow: GET. */
	next_raw(f, &status, head, sizeof(head), &bl);
	assert_int_equal(status, 405);
	assert_non_null(strstr(head, "Allow: GET\r\n"));
	assert_int_equal(f->read, f->nout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stops_when_full, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_byte_by_byte_and_pipelined,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_mapping, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_http_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_after_held, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
