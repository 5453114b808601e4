/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * App Engine's API-host transport: HTTP/1.1 POST /rpc_http carrying a
 * remote_api Request, answered by a remote_api Response.  A codec that
 * does no I/O (the caller feeds it bytes and gives it a write callback),
 * so that it is tested without a network.
 *
 * Input: rs_http_conn_input() runs nodejs' http_parser (Debian's
 * libhttp-parser) over a connection's bytes in chunks of any size,
 * pipelined requests included.  A complete request that passes the HTTP
 * checks (method POST, path /rpc_http, Content-Type
 * application/octet-stream, X-Google-RPC-Service-Endpoint
 * app-engine-apis, X-Google-RPC-Service-Method /VMRemoteAPI.CallRemoteAPI,
 * an optional X-Google-RPC-Service-Deadline in seconds, a body within the
 * limit) and whose body decodes as a remote_api Request is turned into a
 * native RpcRequest frame (call_id = the request's number on the
 * connection, deadline_seconds = the header) and handed to ops->request.
 * HTTP-level failures are answered here with their status (400, 404,
 * 405, 413, 415, 417, 431, 505); a body that does not decode, or an
 * expired deadline, with the RpcError App Engine's API host gives.
 *
 * Output: rs_http_conn_respond() takes the native RpcResponse frame of a
 * request and writes an HTTP 200 response whose body is the remote_api
 * Response: the reply, the ApplicationError (code, and for
 * remote_socket's errors the detail App Engine's runtimes parse:
 * `system_error: N error_detail: "TEXT"`) or the RpcError.  Responses
 * leave in request order whatever order they are made in; one made
 * ahead of its turn is held.  A response made at or after its request's
 * deadline is DEADLINE_EXCEEDED instead.
 *
 * GET /metrics is the operator's Prometheus endpoint: the request comes
 * to ops->request with metrics set, no frame, and as ticket the
 * APP:SECRET of an Authorization header ("Bearer APP:SECRET", or Basic
 * with APP as user and SECRET as password), or NULL; the caller answers
 * it with rs_http_conn_respond_body() (the text, rs_metrics.h) or
 * rs_http_conn_respond_status() (401, 403...).
 */
#ifndef RS_HTTP_H
#define RS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rs_arena;

/** The path of App Engine's API host. */
#define RS_HTTP_PATH "/rpc_http"
/** Prometheus' path. */
#define RS_HTTP_METRICS_PATH "/metrics"

/** Requests in flight, or bytes of responses held, beyond which
 *  rs_http_conn_busy() tells the caller to stop reading. */
#define RS_HTTP_INFLIGHT_PAUSE 1024u
#define RS_HTTP_HELD_PAUSE (4u << 20)

/** A request that passed the HTTP checks. */
struct rs_http_request {
	uint64_t id;	     /**< its number on the connection, from 1 */
	const char *ticket;  /**< remote_api request_id (metrics: the
				  Authorization's APP:SECRET), or NULL */
	const char *service; /**< service_name */
	const char *method;
	/** The native RpcRequest frame body (no length header), valid
	 *  until the callback returns. */
	const uint8_t *frame;
	size_t frame_len;
	bool metrics; /**< GET /metrics (no frame) */
};

/** What a connection's codec calls. */
struct rs_http_ops {
	/** Serve a request: answer it, now or later, with
	 *  rs_http_conn_respond() or rs_http_conn_respond_error(). */
	void (*request)(void *ctx, const struct rs_http_request *req);
	/** Send bytes to the client, in order. */
	void (*write)(void *ctx, const uint8_t *buf, size_t len);
	/** Optional: whether the caller takes no more requests for now
	 *  (its output is over a limit).  Asked after each request served;
	 *  when true, rs_http_conn_input() stops there. */
	bool (*full)(void *ctx);
};

/** Counters of one connection. */
struct rs_http_stats {
	uint64_t requests;    /**< handed to ops->request */
	uint64_t http_errors; /**< answered with an HTTP error status */
	uint64_t rpc_errors;  /**< answered here with an RpcError */
};

/** One HTTP connection's codec (opaque). */
struct rs_http_conn;

/**
 * @param scratch   arena for decoding a request; reset at each request
 *                  (may be shared by the connections of one thread).
 * @param body_max  largest request body (413 above it).
 * @return the codec, or NULL with errno ENOMEM.
 */
struct rs_http_conn *rs_http_conn_create(const struct rs_http_ops *ops,
					 void *ctx, struct rs_arena *scratch,
					 size_t body_max);

/** Free the codec and the responses it holds; NULL is ignored. */
void rs_http_conn_destroy(struct rs_http_conn *c);

/** Change the largest request body, for requests whose headers come
 *  from now on. */
void rs_http_conn_set_body_max(struct rs_http_conn *c, size_t body_max);

/** @return bytes the codec holds for the request body in progress (or
 *  kept from the last one). */
size_t rs_http_conn_body_held(const struct rs_http_conn *c);

/**
 * Parse bytes from the client.  After each request served it stops when
 * ops->full says so or rs_http_conn_busy() holds: the bytes after that
 * request are not taken, and the caller gives them again later.
 *
 * @param now_ns  the caller's clock, for deadlines.
 * @param used    receives the bytes taken (all of them unless it
 *   stopped); may be NULL.
 * @return 0; 1 when the connection takes no more requests (an error
 *   that ends it, Connection: close, HTTP/1.0): close it once
 *   rs_http_conn_done().
 */
int rs_http_conn_input(struct rs_http_conn *c, const uint8_t *buf, size_t len,
		       uint64_t now_ns, size_t *used);

/** The client sent FIN: no more requests; those in flight are answered. */
void rs_http_conn_eof(struct rs_http_conn *c);

/**
 * End the connection at request @p id (from ops->request, before it is
 * answered): its answer says Connection: close, and no later request is
 * taken, even from bytes already given.
 */
void rs_http_conn_end(struct rs_http_conn *c, uint64_t id);

/**
 * Answer a request with its native RpcResponse frame (length header
 * included; its call_id names the request).
 *
 * @return 0, -ENOENT (no request of that id waits), -EPROTO (not a
 *   response frame, or the request is a GET /metrics).
 */
int rs_http_conn_respond(struct rs_http_conn *c, const uint8_t *frame,
			 size_t len, uint64_t now_ns);

/**
 * Answer request @p id with remote_api RpcError @p code.
 *
 * @return 0 or -ENOENT.
 */
int rs_http_conn_respond_error(struct rs_http_conn *c, uint64_t id, int code,
			       const char *detail);

/**
 * Answer request @p id with HTTP status @p status and a line of text
 * (401 says WWW-Authenticate: Basic).
 *
 * @return 0 or -ENOENT.
 */
int rs_http_conn_respond_status(struct rs_http_conn *c, uint64_t id, int status,
				const char *why);

/**
 * Answer request @p id with 200 and @p body, of type @p ctype.
 *
 * @return 0 or -ENOENT.
 */
int rs_http_conn_respond_body(struct rs_http_conn *c, uint64_t id,
			      const char *ctype, const uint8_t *body,
			      size_t len);

/** @return when (the caller's clock) the request now arriving began,
 *  or 0 between requests: a caller closes one that trickles. */
uint64_t rs_http_conn_partial_since(const struct rs_http_conn *c);

/** Whether the caller should stop reading: too much in flight or held,
 *  or no more requests are taken. */
bool rs_http_conn_busy(const struct rs_http_conn *c);

/** Whether the connection takes no more requests and every response
 *  has been written (or one was lost for want of memory): time to close
 *  it. */
bool rs_http_conn_done(const struct rs_http_conn *c);

/** Bytes of responses made ahead of their turn, held until the ones
 *  before them are written. */
size_t rs_http_conn_held_bytes(const struct rs_http_conn *c);

/** Requests not yet answered (written). */
uint64_t rs_http_conn_in_flight(const struct rs_http_conn *c);

/** The connection's counters. */
const struct rs_http_stats *rs_http_conn_stats(const struct rs_http_conn *c);

#endif /* RS_HTTP_H */
