/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API-host HTTP codec (see rs_http.h).
 *
 * A request goes through http_parser's callbacks: message_begin resets
 * the request state, header fields and values are gathered (they may
 * come in pieces across chunks) for the five headers that matter,
 * headers_complete decides the HTTP verdict, body appends to the body
 * buffer, message_complete gives the request its slot and either answers
 * the verdict or decodes the body and hands the native frame on.
 *
 * Slots: request n of the connection has slot n (a power-of-two ring,
 * grown when full), with its deadline.  A response for the oldest slot
 * is written at once (its reply body straight from the caller's frame,
 * no copy); one for a later slot is assembled and held until the slots
 * before it are written.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "remote_api.pb-c.h"
#include "rpc.pb-c.h"
#include "rs_arena.h"
#include "rs_frame.h"
#include "rs_http.h"
#include "rs_wire.h"
#include "wire_pvt.h"

#define URL_MAX 256
#define NAME_MAX_LEN 40
#define VALUE_MAX 128
#define AUTH_MAX 512 /* Basic base64(APP:SECRET) of the longest ones */
#define DETAIL_MAX 400
#define BODY_KEEP (64u * 1024)

/* remote_api.RpcError.ErrorCode values used here. */
enum {
	RA_UNKNOWN = 0,
	RA_PARSE_ERROR = 2,
	RA_SECURITY_VIOLATION = 3,
	RA_REQUEST_TOO_LARGE = 5,
	RA_DEADLINE_EXCEEDED = 12,
};

enum hdr {
	H_NONE,
	H_CTYPE,
	H_ENDPOINT,
	H_METHOD,
	H_DEADLINE,
	H_EXPECT,
	H_AUTH,
	H_N
};

static const char *const hdr_names[H_N] = {
    [H_CTYPE] = "content-type",
    [H_ENDPOINT] = "x-google-rpc-service-endpoint",
    [H_METHOD] = "x-google-rpc-service-method",
    [H_DEADLINE] = "x-google-rpc-service-deadline",
    [H_EXPECT] = "expect",
    [H_AUTH] = "authorization",
};

struct slot {
	uint64_t deadline_ns; /* UINT64_MAX: none */
	uint8_t *held;	      /* a response made ahead of its turn */
	size_t len;
	bool done;
	bool close;	 /* the last response: Connection: close */
	bool keep_alive; /* HTTP/1.0 keep-alive: say so */
	bool metrics;	 /* GET /metrics: a Stats reply, as text */
};

struct rs_http_conn {
	http_parser p;
	const struct rs_http_ops *ops;
	void *ctx;
	struct rs_arena *scratch;
	size_t body_max;
	uint64_t now_ns;
	bool may_stop; /* this input's caller takes back what is not used */
	uint64_t msg_start_ns; /* the request arriving began; 0: none */

	/* The request being parsed. */
	bool in_message, in_value, name_long, url_long;
	enum hdr cur;
	char url[URL_MAX];
	size_t url_len, name_len;
	char name[NAME_MAX_LEN];
	char val[H_N][VALUE_MAX];
	char auth[AUTH_MAX]; /* H_AUTH's value, longer than the others */
	size_t val_len[H_N];
	bool seen[H_N], val_long[H_N];
	double deadline_s; /* < 0: none */
	int status;	   /* HTTP verdict, 0: fine */
	const char *why;
	bool fatal;   /* the verdict ends the connection */
	bool metrics; /* GET /metrics */
	uint8_t *body;
	size_t body_len, body_cap;

	/* Responses, in request order. */
	struct slot *slots;
	uint64_t cap, head, next; /* slots [head, next) wait */
	size_t held_bytes;
	bool closing; /* no more requests */
	bool failed;  /* an answer was lost: the stream is void */
	struct rs_http_stats st;
};

/* ---- output ------------------------------------------------------------- */

static const char *status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 417:
		return "Expectation Failed";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

static struct slot *slot_of(struct rs_http_conn *c, uint64_t id)
{
	if (id < c->head || id >= c->next)
		return NULL;
	return &c->slots[id & (c->cap - 1)];
}

static size_t head_make(char *buf, size_t cap, const struct slot *s, int status,
			const char *ctype, size_t len)
{
	int n = snprintf(
	    buf, cap,
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%s%s\r\n",
	    status, status_text(status), ctype, len,
	    status == 405 ? (s->metrics ? "Allow: GET\r\n" : "Allow: POST\r\n")
	    : status == 401 ? "WWW-Authenticate: Basic "
			      "realm=\"remsockd\", charset=\"UTF-8\"\r\n"
			    : "",
	    s->close	    ? "Connection: close\r\n"
	    : s->keep_alive ? "Connection: keep-alive\r\n"
			    : "");
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

/* Write the held responses whose turn has come. */
static void flush_held(struct rs_http_conn *c)
{
	struct slot *s;

	while (c->head < c->next && (s = slot_of(c, c->head))->done) {
		c->ops->write(c->ctx, s->held, s->len);
		c->held_bytes -= s->len;
		free(s->held);
		s->held = NULL;
		c->head++;
	}
}

/* Answer slot @p id: HTTP head, then @p pre and @p body as its body. */
static void emit(struct rs_http_conn *c, uint64_t id, int status,
		 const char *ctype, const uint8_t *pre, size_t pre_len,
		 const uint8_t *body, size_t body_len)
{
	struct slot *s = slot_of(c, id);
	char head[256];
	size_t hl;

	if (s == NULL || s->done)
		return;
	hl =
	    head_make(head, sizeof(head), s, status, ctype, pre_len + body_len);
	if (id == c->head) {
		c->ops->write(c->ctx, (const uint8_t *)head, hl);
		c->ops->write(c->ctx, pre, pre_len);
		if (body_len != 0)
			c->ops->write(c->ctx, body, body_len);
		c->head++;
		flush_held(c);
		return;
	}
	s->held = malloc(hl + pre_len + body_len);
	if (s->held == NULL) { /* cannot keep the order: end the stream */
		c->closing = c->failed = true;
		return;
	}
	memcpy(s->held, head, hl);
	memcpy(s->held + hl, pre, pre_len);
	if (body_len != 0)
		memcpy(s->held + hl + pre_len, body, body_len);
	s->len = hl + pre_len + body_len;
	s->done = true;
	c->held_bytes += s->len;
}

static void http_error(struct rs_http_conn *c, uint64_t id, int status,
		       const char *why)
{
	char text[160];
	int n = snprintf(text, sizeof(text), "remsockd: %s\n", why);
	size_t len = n < 0			? 0
		     : (size_t)n < sizeof(text) ? (size_t)n
						: sizeof(text) - 1;

	c->st.http_errors++;
	emit(c, id, status, "text/plain; charset=utf-8", (const uint8_t *)text,
	     len, NULL, 0);
}

/* ---- protobuf bits: the few fields of the envelopes, by hand ------------ */

/* Copy text for a detail: printable ASCII, quotes and backslashes made
 * harmless, so the runtimes' `error_detail: "([^"]*)"` still matches. */
static void clean_copy(char *out, size_t cap, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < cap; i++)
		out[i] = p[i] == '"' || p[i] == '\\'  ? '\''
			 : p[i] < 0x20 || p[i] > 0x7e ? '?'
						      : (char)p[i];
	out[i] = '\0';
}

/* A remote_api ApplicationError (field 3) or RpcError (field 5) as a
 * Response: tag, length, code (field 1), detail (field 2). */
static size_t error_response(uint8_t *buf, unsigned field, int64_t code,
			     const char *detail)
{
	size_t dl = strlen(detail);
	size_t inner = 1 + rs_wire_varint_size((uint64_t)code) + 1 +
		       rs_wire_varint_size(dl) + dl;
	uint8_t *p = buf;

	*p++ = (uint8_t)(field << 3 | 2);
	p = rs_wire_put_varint(p, inner);
	*p++ = 1 << 3 | 0;
	p = rs_wire_put_varint(p, (uint64_t)code);
	*p++ = 2 << 3 | 2;
	p = rs_wire_put_varint(p, dl);
	memcpy(p, detail, dl);
	return (size_t)(p + dl - buf);
}

#define RESPONSE_SMALL (DETAIL_MAX + 32)

static void rpc_error(struct rs_http_conn *c, uint64_t id, int code,
		      const char *detail)
{
	uint8_t buf[RESPONSE_SMALL];
	char d[DETAIL_MAX];

	clean_copy(d, sizeof(d), (const uint8_t *)detail, strlen(detail));
	c->st.rpc_errors++;
	emit(c, id, 200, "application/octet-stream", buf,
	     error_response(buf, 5, code, d), NULL, 0);
}

/* remsock's RpcErrorCode to remote_api's: the same numbers up to 12. */
static int rpc_code_map(uint64_t code)
{
	if (code <= RA_DEADLINE_EXCEEDED)
		return (int)code;
	if (code == REMSOCK__RPC__RPC_ERROR_CODE__RPC_UNAUTHENTICATED)
		return RA_SECURITY_VIOLATION;
	return RA_UNKNOWN;
}

/* The text App Engine's runtimes parse out of a remote_socket error:
 * the RemoteSocketServiceError in protobuf text format. */
static void app_detail(char *out, size_t cap, const struct rs_wire_field *body,
		       const struct rs_wire_field *detail)
{
	struct rs_wire_field f;
	size_t pos = 0;
	int64_t sys = 0;
	char text[DETAIL_MAX - 64];

	clean_copy(text, sizeof(text), detail->p, detail->len);
	if (body->p == NULL) {
		snprintf(out, cap, "%s", text);
		return;
	}
	while (rs_wire_next(body->p, body->len, &pos, &f) > 0) {
		if (f.num == 1 && f.wire == 0)
			sys = (int32_t)f.v;
		else if (f.num == 2 && f.wire == 2)
			clean_copy(text, sizeof(text), f.p, f.len);
	}
	snprintf(out, cap, "system_error: %lld error_detail: \"%s\"",
		 (long long)sys, text);
}

/* An RpcResponse's ApplicationError as remote_api's. */
static size_t app_error(const struct rs_wire_field *ae, uint8_t *buf)
{
	struct rs_wire_field f, body = {0}, detail = {0};
	size_t pos = 0;
	int64_t code = 0;
	char d[DETAIL_MAX];

	while (rs_wire_next(ae->p, ae->len, &pos, &f) > 0) {
		if (f.num == 1 && f.wire == 0)
			code = (int32_t)f.v;
		else if (f.num == 2 && f.wire == 2)
			detail = f;
		else if (f.num == 3 && f.wire == 2)
			body = f;
	}
	app_detail(d, sizeof(d), &body, &detail);
	return error_response(buf, 3, code, d);
}

static size_t rpc_error_of(const struct rs_wire_field *re, uint8_t *buf)
{
	struct rs_wire_field f, detail = {0};
	size_t pos = 0;
	uint64_t code = 0;
	char d[DETAIL_MAX];

	while (rs_wire_next(re->p, re->len, &pos, &f) > 0) {
		if (f.num == 1 && f.wire == 0)
			code = f.v;
		else if (f.num == 2 && f.wire == 2)
			detail = f;
	}
	clean_copy(d, sizeof(d), detail.p, detail.len);
	return error_response(buf, 5, rpc_code_map(code), d);
}

int rs_http_conn_respond(struct rs_http_conn *c, const uint8_t *frame,
			 size_t len, uint64_t now_ns)
{
	struct rs_wire_field f, id = {0}, body = {0}, ae = {0}, re = {0};
	uint8_t small[RESPONSE_SMALL];
	size_t pos = RS_FRAME_HDR_LEN, n;
	struct slot *s;
	int rc;

	if (len < RS_FRAME_HDR_LEN)
		return -EPROTO;
	while ((rc = rs_wire_next(frame, len, &pos, &f)) > 0) {
		if (f.num == 1 && f.wire == 0)
			id = f;
		else if (f.num == 2 && f.wire == 2)
			body = f;
		else if (f.num == 3 && f.wire == 2)
			ae = f;
		else if (f.num == 4 && f.wire == 2)
			re = f;
	}
	if (rc < 0)
		return -EPROTO;
	s = slot_of(c, id.v);
	if (s == NULL || s->done)
		return -ENOENT;
	if (s->metrics) /* answered with rs_http_conn_respond_body() */
		return -EPROTO;
	/* Past the deadline an error becomes DEADLINE_EXCEEDED, but a
	 * reply is a call that took effect (a Receive took bytes, an
	 * Accept made a socket): it goes out, late, rather than be lost. */
	if (now_ns >= s->deadline_ns && (re.p != NULL || ae.p != NULL)) {
		rpc_error(c, id.v, RA_DEADLINE_EXCEEDED,
			  "the call's deadline passed");
		return 0;
	}
	if (re.p != NULL || ae.p != NULL) {
		n = re.p != NULL ? rpc_error_of(&re, small)
				 : app_error(&ae, small);
		if (re.p != NULL)
			c->st.rpc_errors++;
		emit(c, id.v, 200, "application/octet-stream", small, n, NULL,
		     0);
		return 0;
	}
	small[0] = 1 << 3 | 2; /* Response.response */
	n = (size_t)(rs_wire_put_varint(small + 1, body.len) - small);
	emit(c, id.v, 200, "application/octet-stream", small, n, body.p,
	     body.len);
	return 0;
}

int rs_http_conn_respond_error(struct rs_http_conn *c, uint64_t id, int code,
			       const char *detail)
{
	struct slot *s = slot_of(c, id);

	if (s == NULL || s->done)
		return -ENOENT;
	rpc_error(c, id, code, detail);
	return 0;
}

int rs_http_conn_respond_status(struct rs_http_conn *c, uint64_t id, int status,
				const char *why)
{
	struct slot *s = slot_of(c, id);

	if (s == NULL || s->done)
		return -ENOENT;
	http_error(c, id, status, why);
	return 0;
}

int rs_http_conn_respond_body(struct rs_http_conn *c, uint64_t id,
			      const char *ctype, const uint8_t *body,
			      size_t len)
{
	struct slot *s = slot_of(c, id);

	if (s == NULL || s->done)
		return -ENOENT;
	emit(c, id, 200, ctype, body, len, NULL, 0);
	return 0;
}

/* ---- requests ----------------------------------------------------------- */

static bool slots_grow(struct rs_http_conn *c)
{
	uint64_t ncap = c->cap ? 2 * c->cap : 16;
	struct slot *n = calloc(ncap, sizeof(*n));

	if (n == NULL)
		return false;
	for (uint64_t id = c->head; id < c->next; id++)
		n[id & (ncap - 1)] = c->slots[id & (c->cap - 1)];
	free(c->slots);
	c->slots = n;
	c->cap = ncap;
	return true;
}

/* A slot for the request just parsed; 0 when there is no memory. */
static uint64_t slot_new(struct rs_http_conn *c, bool keep)
{
	struct slot *s;

	if (c->next - c->head == c->cap && !slots_grow(c))
		return 0;
	s = &c->slots[c->next & (c->cap - 1)];
	*s = (struct slot){
	    .deadline_ns = UINT64_MAX,
	    .close = !keep,
	    .keep_alive = keep && c->p.http_major == 1 && c->p.http_minor == 0,
	};
	return c->next++;
}

static bool value_is(const struct rs_http_conn *c, enum hdr h, const char *v)
{
	return c->seen[h] && !c->val_long[h] && strcasecmp(c->val[h], v) == 0;
}

/* Content-Type application/octet-stream, parameters allowed. */
static bool ctype_ok(const struct rs_http_conn *c)
{
	static const char want[] = "application/octet-stream";
	const char *v = c->val[H_CTYPE];
	size_t n = sizeof(want) - 1;

	if (!c->seen[H_CTYPE] || c->val_long[H_CTYPE] ||
	    strncasecmp(v, want, n) != 0)
		return false;
	v += n;
	while (*v == ' ' || *v == '\t')
		v++;
	return *v == '\0' || *v == ';';
}

static bool path_is(struct rs_http_conn *c, const char *want)
{
	struct http_parser_url u;
	const char *path;
	size_t len;

	if (c->url_long)
		return false;
	http_parser_url_init(&u);
	if (http_parser_parse_url(c->url, c->url_len, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_PATH)))
		return false;
	path = c->url + u.field_data[UF_PATH].off;
	len = u.field_data[UF_PATH].len;
	return len == strlen(want) && memcmp(path, want, len) == 0;
}

static bool deadline_parse(struct rs_http_conn *c)
{
	char *end;
	double d;

	c->deadline_s = -1;
	if (!c->seen[H_DEADLINE])
		return true;
	if (c->val_long[H_DEADLINE])
		return false;
	d = strtod(c->val[H_DEADLINE], &end);
	while (*end == ' ' || *end == '\t')
		end++;
	if (end == c->val[H_DEADLINE] || *end != '\0' || !isfinite(d))
		return false;
	c->deadline_s = d < 0 ? 0 : d;
	return true;
}

static void verdict(struct rs_http_conn *c, int status, const char *why)
{
	if (c->status == 0) {
		c->status = status;
		c->why = why;
	}
}

static void check_headers(struct rs_http_conn *c)
{
	/* First: a body that will not be read ends the connection. */
	if ((c->p.flags & F_CONTENTLENGTH) &&
	    c->p.content_length > c->body_max) {
		verdict(c, 413, "the body is above the limit");
		c->fatal = true;
	}
	c->metrics = path_is(c, RS_HTTP_METRICS_PATH);
	if (c->metrics) {
		if (c->p.method != HTTP_GET)
			verdict(c, 405,
				"only GET is served at " RS_HTTP_METRICS_PATH);
		goto expect;
	}
	if (c->p.method != HTTP_POST)
		verdict(c, 405, "only POST is served");
	else if (!path_is(c, RS_HTTP_PATH))
		verdict(c, 404,
			"the paths are " RS_HTTP_PATH
			" (POST) and " RS_HTTP_METRICS_PATH " (GET)");
	else if (!ctype_ok(c))
		verdict(c, 415,
			"Content-Type must be application/octet-stream");
	else if (!value_is(c, H_ENDPOINT, "app-engine-apis"))
		verdict(
		    c, 400,
		    "X-Google-RPC-Service-Endpoint must be app-engine-apis");
	else if (!value_is(c, H_METHOD, "/VMRemoteAPI.CallRemoteAPI"))
		verdict(c, 400,
			"X-Google-RPC-Service-Method must be "
			"/VMRemoteAPI.CallRemoteAPI");
	else if (!deadline_parse(c))
		verdict(c, 400,
			"X-Google-RPC-Service-Deadline is not a number "
			"of seconds");
expect:
	if (c->seen[H_EXPECT] && !value_is(c, H_EXPECT, "100-continue"))
		verdict(c, 417, "only Expect: 100-continue is known");
}

static int on_message_begin(http_parser *p)
{
	struct rs_http_conn *c = p->data;

	c->in_message = true;
	c->msg_start_ns = c->now_ns != 0 ? c->now_ns : 1;
	c->in_value = c->name_long = c->url_long = c->fatal = false;
	c->metrics = false;
	c->url_len = c->name_len = c->body_len = 0;
	memset(c->seen, 0, sizeof(c->seen));
	c->status = 0;
	c->why = NULL;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct rs_http_conn *c = p->data;

	if (c->url_len + n >= sizeof(c->url)) {
		c->url_long = true;
		return 0;
	}
	memcpy(c->url + c->url_len, at, n);
	c->url_len += n;
	c->url[c->url_len] = '\0';
	return 0;
}

static enum hdr hdr_find(const char *name, size_t len)
{
	for (int h = H_NONE + 1; h < H_N; h++)
		if (strlen(hdr_names[h]) == len &&
		    strncasecmp(hdr_names[h], name, len) == 0)
			return (enum hdr)h;
	return H_NONE;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct rs_http_conn *c = p->data;

	if (c->in_value) { /* a new header begins */
		c->in_value = c->name_long = false;
		c->name_len = 0;
	}
	if (c->name_len + n > sizeof(c->name)) {
		c->name_long = true;
		return 0;
	}
	memcpy(c->name + c->name_len, at, n);
	c->name_len += n;
	return 0;
}

static char *val_of(struct rs_http_conn *c, enum hdr h)
{
	return h == H_AUTH ? c->auth : c->val[h];
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct rs_http_conn *c = p->data;
	enum hdr h;

	if (!c->in_value) {
		c->in_value = true;
		c->cur = c->name_long ? H_NONE : hdr_find(c->name, c->name_len);
		if (c->cur != H_NONE) { /* the last one of a name counts */
			c->seen[c->cur] = true;
			c->val_len[c->cur] = 0;
			c->val_long[c->cur] = false;
			val_of(c, c->cur)[0] = '\0';
		}
	}
	h = c->cur;
	if (h == H_NONE || c->val_long[h])
		return 0;
	if (c->val_len[h] + n >= (h == H_AUTH ? AUTH_MAX : VALUE_MAX)) {
		c->val_long[h] = true;
		return 0;
	}
	memcpy(val_of(c, h) + c->val_len[h], at, n);
	c->val_len[h] += n;
	val_of(c, h)[c->val_len[h]] = '\0';
	return 0;
}

static void broken(struct rs_http_conn *c, enum http_errno e);

static int on_headers_complete(http_parser *p)
{
	struct rs_http_conn *c = p->data;
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	check_headers(c);
	if (c->fatal) { /* answer now: the body will not be read */
		broken(c, HPE_OK);
		return -1;
	}
	/* Only when nothing else is on its way, so it cannot interleave. */
	if (c->status == 0 && c->seen[H_EXPECT] && c->head == c->next &&
	    !c->closing)
		c->ops->write(c->ctx, (const uint8_t *)cont, sizeof(cont) - 1);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct rs_http_conn *c = p->data;
	size_t cap = c->body_cap ? c->body_cap : 4096;
	uint8_t *b;

	if (c->body_len + n > c->body_max) { /* chunked, and too long */
		verdict(c, 413, "the body is above the limit");
		c->fatal = true;
		return -1;
	}
	if (c->status != 0) { /* answered without it: count, do not keep */
		c->body_len += n;
		return 0;
	}
	if (c->body_len + n > c->body_cap) {
		while (cap < c->body_len + n)
			cap *= 2;
		b = realloc(c->body, cap);
		if (b == NULL) {
			verdict(c, 413, "no memory for the body");
			c->fatal = true;
			return -1;
		}
		c->body = b;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, at, n);
	c->body_len += n;
	return 0;
}

/* The body as a remote_api Request, made into a native frame. */
static void request_run(struct rs_http_conn *c, uint64_t id)
{
	ProtobufCAllocator *al = rs_arena_allocator(c->scratch);
	Remsock__Rpc__RpcRequest env = REMSOCK__RPC__RPC_REQUEST__INIT;
	Remsock__RemoteApi__Request *req;
	struct rs_http_request r = {.id = id};
	struct rs_arena_stats st;
	uint64_t failures;
	uint8_t *frame;

	if (c->deadline_s == 0) {
		rpc_error(c, id, RA_DEADLINE_EXCEEDED, "deadline of 0 seconds");
		return;
	}
	if (c->deadline_s > 0 && c->deadline_s < 1e9)
		slot_of(c, id)->deadline_ns =
		    c->now_ns + (uint64_t)(c->deadline_s * 1e9);
	rs_arena_reset(c->scratch);
	rs_arena_stats_get(c->scratch, &st);
	failures = st.failures;
	req = remsock__remote_api__request__unpack(al, c->body_len, c->body);
	if (req == NULL) {
		rs_arena_stats_get(c->scratch, &st);
		if (st.failures != failures)
			rpc_error(c, id, RA_REQUEST_TOO_LARGE,
				  "the request exceeds the call memory limit");
		else
			rpc_error(c, id, RA_PARSE_ERROR,
				  "the body is not a remote_api Request");
		return;
	}
	env.has_call_id = 1;
	env.call_id = id;
	env.service_name = req->service_name;
	env.method = req->method;
	env.has_body = 1;
	env.body = req->request;
	if (c->deadline_s > 0) {
		env.has_deadline_seconds = 1;
		env.deadline_seconds = c->deadline_s;
	}
	r.frame_len = remsock__rpc__rpc_request__get_packed_size(&env);
	frame = rs_arena_alloc(c->scratch, r.frame_len);
	if (frame == NULL) {
		rpc_error(c, id, RA_REQUEST_TOO_LARGE,
			  "the request exceeds the call memory limit");
		return;
	}
	remsock__rpc__rpc_request__pack(&env, frame);
	r.frame = frame;
	r.ticket = req->request_id;
	r.service = req->service_name;
	r.method = req->method;
	c->st.requests++;
	c->ops->request(c->ctx, &r);
}

static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Base64 (RFC 4648, padding optional) into a string; false when it is
 * not base64, holds a NUL or does not fit. */
static bool b64_decode(const char *in, char *out, size_t cap)
{
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0, v;

	for (; *in != '\0' && *in != '='; in++) {
		if ((v = b64_value(*in)) < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n + 1 >= cap || ((acc >> bits) & 0xff) == 0)
				return false;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	while (*in == '=')
		in++;
	out[n] = '\0';
	return *in == '\0';
}

/* Authorization's APP:SECRET: "Bearer APP:SECRET" or "Basic" with
 * base64(APP:SECRET), as Prometheus' basic_auth sends it; NULL when
 * there is none (or it is neither). */
static const char *credentials(struct rs_http_conn *c, char *out, size_t cap)
{
	const char *v = c->auth;

	if (!c->seen[H_AUTH] || c->val_long[H_AUTH])
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, "Bearer ", 7) == 0) {
		v += 7;
		while (*v == ' ')
			v++;
		snprintf(out, cap, "%s", v);
	} else if (strncasecmp(v, "Basic ", 6) == 0) {
		v += 6;
		while (*v == ' ')
			v++;
		if (!b64_decode(v, out, cap))
			return NULL;
	} else {
		return NULL;
	}
	for (size_t n = strlen(out);
	     n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t');)
		out[--n] = '\0';
	return out[0] != '\0' ? out : NULL;
}

/* GET /metrics: the caller answers it with rs_http_conn_respond_body()
 * or _status(). */
static void metrics_run(struct rs_http_conn *c, uint64_t id)
{
	char ticket[AUTH_MAX];
	struct rs_http_request r = {
	    .id = id,
	    .metrics = true,
	    .service = "",
	    .method = "GET " RS_HTTP_METRICS_PATH,
	};

	r.ticket = credentials(c, ticket, sizeof(ticket));
	c->st.requests++;
	c->ops->request(c->ctx, &r);
}

static int on_message_complete(http_parser *p)
{
	struct rs_http_conn *c = p->data;
	bool keep = http_should_keep_alive(p) && !c->fatal && !p->upgrade;
	uint64_t id = slot_new(c, keep);

	c->in_message = false;
	if (id == 0) {
		c->closing = true;
		http_parser_pause(p, 1);
		return 0;
	}
	slot_of(c, id)->metrics = c->metrics;
	if (c->status != 0)
		http_error(c, id, c->status, c->why);
	else if (c->metrics)
		metrics_run(c, id);
	else
		request_run(c, id);
	if (c->body_cap > BODY_KEEP) { /* give a burst's memory back */
		free(c->body);
		c->body = NULL;
		c->body_cap = 0;
	}
	if (!keep || c->closing) { /* closing: the request ended it */
		c->closing = true;
		http_parser_pause(p, 1);
	} else if (c->may_stop &&
		   (rs_http_conn_busy(c) ||
		    (c->ops->full != NULL && c->ops->full(c->ctx)))) {
		http_parser_pause(p, 1); /* the rest waits for the caller */
	}
	return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* The stream broke: answer what broke it, and take nothing more. */
static void broken(struct rs_http_conn *c, enum http_errno e)
{
	uint64_t id;

	if (c->status == 0 || !c->fatal) {
		c->status = 0;
		verdict(c,
			e == HPE_HEADER_OVERFLOW   ? 431
			: e == HPE_INVALID_VERSION ? 505
						   : 400,
			http_errno_description(e));
	}
	c->closing = true;
	id = slot_new(c, false);
	if (id != 0)
		http_error(c, id, c->status, c->why);
}

int rs_http_conn_input(struct rs_http_conn *c, const uint8_t *buf, size_t len,
		       uint64_t now_ns, size_t *used)
{
	enum http_errno e;
	size_t n;

	if (used != NULL)
		*used = len;
	if (c->closing)
		return 1;
	c->now_ns = now_ns;
	c->may_stop = used != NULL;
	if (HTTP_PARSER_ERRNO(&c->p) == HPE_PAUSED)
		http_parser_pause(&c->p, 0); /* stopped for the caller */
	n = http_parser_execute(&c->p, &settings, (const char *)buf, len);
	if (used != NULL && HTTP_PARSER_ERRNO(&c->p) == HPE_PAUSED &&
	    !c->closing)
		*used = n;
	e = HTTP_PARSER_ERRNO(&c->p);
	if (e != HPE_OK && e != HPE_PAUSED && !c->closing)
		broken(c, e);
	else if (c->p.upgrade && !c->closing)
		broken(c, HPE_UNKNOWN); /* CONNECT: no message to complete */
	return c->closing ? 1 : 0;
}

void rs_http_conn_eof(struct rs_http_conn *c)
{
	c->closing = true;
}

void rs_http_conn_end(struct rs_http_conn *c, uint64_t id)
{
	struct slot *s = slot_of(c, id);

	c->closing = true;
	if (s != NULL)
		s->close = true;
}

/* ---- the rest ----------------------------------------------------------- */

struct rs_http_conn *rs_http_conn_create(const struct rs_http_ops *ops,
					 void *ctx, struct rs_arena *scratch,
					 size_t body_max)
{
	struct rs_http_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	http_parser_init(&c->p, HTTP_REQUEST);
	c->p.data = c;
	c->ops = ops;
	c->ctx = ctx;
	c->scratch = scratch;
	c->body_max = body_max;
	c->head = c->next = 1;
	return c;
}

void rs_http_conn_destroy(struct rs_http_conn *c)
{
	if (c == NULL)
		return;
	for (uint64_t id = c->head; id < c->next; id++)
		free(slot_of(c, id)->held);
	free(c->slots);
	free(c->body);
	free(c);
}

uint64_t rs_http_conn_partial_since(const struct rs_http_conn *c)
{
	return c->in_message ? c->msg_start_ns : 0;
}

bool rs_http_conn_busy(const struct rs_http_conn *c)
{
	return c->closing || c->next - c->head >= RS_HTTP_INFLIGHT_PAUSE ||
	       c->held_bytes >= RS_HTTP_HELD_PAUSE;
}

bool rs_http_conn_done(const struct rs_http_conn *c)
{
	return c->failed || (c->closing && c->head == c->next);
}

void rs_http_conn_set_body_max(struct rs_http_conn *c, size_t body_max)
{
	c->body_max = body_max;
}

size_t rs_http_conn_body_held(const struct rs_http_conn *c)
{
	return c->body_cap;
}

size_t rs_http_conn_held_bytes(const struct rs_http_conn *c)
{
	return c->held_bytes;
}

uint64_t rs_http_conn_in_flight(const struct rs_http_conn *c)
{
	return c->next - c->head;
}

const struct rs_http_stats *rs_http_conn_stats(const struct rs_http_conn *c)
{
	return &c->st;
}
