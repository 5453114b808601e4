/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RPC connections: the native transport on the userspace stack.
 *
 * Each worker listens on [net] ip, [rpc] listen_port.  A connection's
 * bytes go through its frame decoder; every complete frame is dispatched
 * at once, so calls are pipelined, and a call that parks answers later,
 * out of order.  Replies go straight into the connection's TX ring;
 * what does not fit waits in the connection's output buffer for
 * WRITABLE.  A client that does not read its replies stops itself and
 * nobody else: input is taken a frame (an HTTP request) at a time, and
 * while more than SVC_OUT_PAUSE bytes wait on the connection, or its
 * app's output_bytes quota is used up (what waits on all of its native
 * connections), or all of its control_calls are at the control thread,
 * no more is taken -- the rest stays in the socket's RX
 * ring (read with RS_SOCK_HOLD, released up to what was used) and its
 * window closes.  Replies that repeat bytes (MSG_PEEK, a consumed_offset
 * asked again) therefore cost the client its own quota, never memory
 * beyond the configuration.  A connection paused for its app's quota
 * waits on w->starved, and resumes from the worker's poll when the app
 * has drained below it.
 *
 * The first call must be remsock.Authenticate: any other call before it
 * is refused (RPC_UNAUTHENTICATED); a failed Authenticate, or none within
 * [service] auth_timeout_ms, closes the connection.  A frame longer than
 * the decoder's maximum closes it too: the stream cannot be resynchronised.
 * Closing a connection cancels its parked calls; its sockets stay, for a
 * client that reconnects.
 *
 * [rpc] http_port, when set, is a second listener whose connections
 * speak App Engine's API-host HTTP (svc_http.c, rpc/rs_http.h) instead
 * of frames: the same dispatch, a reply path that turns response frames
 * into HTTP responses in request order, and no Authenticate (each
 * request's ticket names its app).  An HTTP connection that stops taking
 * requests (an error, Connection: close, the client's FIN) is closed
 * once every answer has gone out; that, and resuming input that waited
 * for answers, happens from the worker's poll (svc_conn_kicks()), never
 * inside a call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

#include "rs_apps.h"
#include "rs_config.h"
#include "svc_pvt.h"

uint64_t svc_conn_ref(const struct svc_conn *c)
{
	return (uint64_t)c->gen << 32 | c->idx;
}

struct svc_conn *svc_conn_get(struct svc_worker *w, uint64_t ref)
{
	uint32_t idx = (uint32_t)ref;
	struct svc_conn *c;

	if (idx >= w->nconns_max)
		return NULL;
	c = w->conns[idx];
	return c != NULL && c->gen == (uint32_t)(ref >> 32) ? c : NULL;
}

/* The app a connection's waiting output is charged to: a native
 * connection's, once authenticated; an HTTP connection's owner, the app
 * of its first authenticated request (one connection may carry several
 * apps' calls, but it is one client's: the first app pays for it all,
 * so that no app's answers go uncounted); -1 for none yet. */
static int32_t out_app(const struct svc_conn *c)
{
	return c->http == NULL ? c->app : c->out_owner;
}

/* Keep the worker's count and the app's output_bytes charge equal to
 * @p want.  Charged even past the limit: a reply made cannot be
 * refused. */
static void out_set(struct svc_worker *w, struct svc_conn *c, uint64_t want)
{
	int32_t app = out_app(c);

	SVC_GAUGE_ADD(w, out_bytes, want - c->out_counted);
	c->out_counted = want;
	if (app < 0 || want == c->out_charged)
		return;
	if (want > c->out_charged)
		rs_apps_charge_over(w->sh->apps, (uint32_t)app,
				    RS_QUOTA_OUTPUT_BYTES,
				    want - c->out_charged);
	else
		rs_apps_uncharge(w->sh->apps, (uint32_t)app,
				 RS_QUOTA_OUTPUT_BYTES, c->out_charged - want);
	c->out_charged = want;
}

/* What waits: c->out, and an HTTP codec's responses held for their
 * turn. */
static void out_charge(struct svc_worker *w, struct svc_conn *c)
{
	uint64_t want = c->out_len - c->out_off;

	if (c->http != NULL)
		want += rs_http_conn_held_bytes(c->http);
	out_set(w, c, want);
}

void svc_conn_charge(struct svc_worker *w, struct svc_conn *c)
{
	out_charge(w, c);
}

size_t svc_request_max(const struct svc_worker *w)
{
	return (size_t)w->sh->cfg->rpc.max_request_mb << 20;
}

/* Keep what a large request holds while it arrives (its assembly buffer
 * above SVC_REQUEST_FREE) charged to the app: @return false when its
 * buffered_bytes have no room (the connection then ends, and the memory
 * with it). */
static bool big_charge(struct svc_worker *w, struct svc_conn *c)
{
	size_t held = c->http != NULL ? rs_http_conn_body_held(c->http)
				      : rs_frame_decoder_held(c->dec);
	uint64_t want = held > SVC_REQUEST_FREE ? held - SVC_REQUEST_FREE : 0;
	int32_t app = out_app(c);

	if (want == c->big_charged)
		return true;
	if (app < 0) /* cannot be: the limit is SVC_REQUEST_FREE until then */
		return want == 0;
	if (want < c->big_charged) {
		rs_apps_uncharge(w->sh->apps, (uint32_t)app,
				 RS_QUOTA_BUFFERED_BYTES,
				 c->big_charged - want);
	} else if (rs_apps_charge(w->sh->apps, (uint32_t)app,
				  RS_QUOTA_BUFFERED_BYTES,
				  want - c->big_charged) < 0) {
		return false;
	}
	c->big_charged = want;
	return true;
}

/* Whether the connection's app has used up a quota that holds its input
 * back rather than failing its calls: its replies waiting (output_bytes),
 * or its calls at the control thread (control_calls: a burst of them then
 * waits its turn in the socket instead of being refused). */
static bool app_starved(const struct svc_worker *w, const struct svc_conn *c)
{
	int32_t app = out_app(c);

	return app >= 0 && (rs_apps_over(w->sh->apps, (uint32_t)app,
					 RS_QUOTA_OUTPUT_BYTES) ||
			    rs_apps_over(w->sh->apps, (uint32_t)app,
					 RS_QUOTA_CONTROL_CALLS));
}

static void starved_drop(struct svc_worker *w, struct svc_conn *c)
{
	if (c->starved) {
		TAILQ_REMOVE(&w->starved, c, slink);
		c->starved = false;
	}
}

static void conn_close(struct svc_worker *w, struct svc_conn *c, bool abort)
{
	if (c->kicked)
		TAILQ_REMOVE(&w->kick, c, klink);
	starved_drop(w, c);
	c->out_off = c->out_len;
	out_set(w, c, 0);
	if (c->big_charged != 0)
		rs_apps_uncharge(w->sh->apps, (uint32_t)out_app(c),
				 RS_QUOTA_BUFFERED_BYTES, c->big_charged);
	if (c->http != NULL)
		SVC_CNT_ADD(w, http_errors,
			    rs_http_conn_stats(c->http)->http_errors);
	while (!TAILQ_EMPTY(&c->waits))
		svc_wait_cancel(w, TAILQ_FIRST(&c->waits));
	svc_conn_authed(w, c); /* no longer waiting to, in any case */
	svc_session_leave(w, c->session);
	if (c->forwarded) { /* its calls waiting on other workers end too */
		svc_conn_gone_tell(w, c);
		svc_split_conn_gone(w, svc_conn_ref(c));
	}
	if (abort)
		rs_sock_abort(c->s);
	else
		rs_sock_close(c->s);
	rs_frame_decoder_destroy(c->dec);
	rs_http_conn_destroy(c->http);
	svc_tls_free(c);
	free(c->out);
	w->conns[c->idx] = NULL;
	SVC_GAUGE_ADD(w, nconns, -1);
	SVC_CNT_INC(w, conns_closed);
	free(c);
}

void svc_conn_close_all(struct svc_worker *w)
{
	for (uint32_t i = 0; i < w->nconns_max; i++)
		if (w->conns[i] != NULL)
			conn_close(w, w->conns[i], false);
}

/* ---- output ------------------------------------------------------------- */

/* Bytes of RPC traffic to (@p dir 1) or from (0) a connection, for its
 * app (svc_pvt.h's svc_app_stat); none before it has one. */
static void app_bytes(struct svc_worker *w, const struct svc_conn *c,
		      unsigned dir, size_t n)
{
	int32_t app = out_app(c);

	if (app >= 0 && (uint32_t)app < RS_APPS_SLOTS)
		SVC_GAUGE_ADD(w, apps[app].bytes[dir], n);
}

static bool out_append(struct svc_conn *c, const uint8_t *buf, size_t len)
{
	size_t need = c->out_len + len, cap = c->out_cap;
	uint8_t *p;

	if (c->out_off != 0 && need - c->out_off <= cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		need = c->out_len + len;
	}
	if (need > cap) {
		cap = cap ? cap : 64 * 1024;
		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL)
			return false;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return true;
}

void svc_conn_write(struct svc_worker *w, struct svc_conn *c,
		    const uint8_t *buf, size_t len)
{
	app_bytes(w, c, 1, len);
	if (c->tls != NULL)
		svc_tls_write(w, c, buf, len); /* its records: below */
	else
		svc_conn_write_raw(w, c, buf, len);
}

void svc_conn_write_raw(struct svc_worker *w, struct svc_conn *c,
			const uint8_t *buf, size_t len)
{
	ssize_t n = 0;

	if (c->out_len == c->out_off) {
		n = rs_sock_send(c->s, buf, len, 0);
		if (n < 0 && n != -EAGAIN) /* broken: CLOSED follows */
			return;
		n = n < 0 ? 0 : n;
	}
	if ((size_t)n < len && !out_append(c, buf + n, len - (size_t)n)) {
		/* A reply cannot be dropped from a stream: end it. */
		c->doomed = true;
	}
	out_charge(w, c);
}

static bool conn_input(struct svc_worker *w, struct svc_conn *c);

/* Bytes of TX ring a native connection keeps free before it takes the
 * next call, so that the call's reply goes straight in (a Receive's is
 * cut to fit, svc_conn_room()): a quarter of the ring, at most this. */
#define SVC_ROOM_MIN (64u * 1024)

/* Whether input must wait: output beyond @p limit, HTTP answers, or a
 * native connection's TX ring short of room. */
static bool conn_busy(const struct svc_conn *c, size_t limit)
{
	ssize_t room;

	/* Its calls on other workers' sockets come back first. */
	if (c->out_len - c->out_off > limit || c->fwd_inflight >= SVC_FWD_MAX)
		return true;
	if (c->http != NULL)
		return rs_http_conn_busy(c->http);
	room = rs_sock_writable(c->s);
	return room >= 0 && (size_t)room < c->room_min; /* broken: CLOSED */
}

size_t svc_conn_room(const struct svc_conn *c)
{
	ssize_t room;

	if (c == NULL || c->http != NULL || c->tls != NULL ||
	    c->out_len != c->out_off || c->doomed)
		return 0;
	room = rs_sock_writable(c->s);
	return room > 0 ? (size_t)room : 0;
}

bool svc_conn_full(const struct svc_worker *w, const struct svc_conn *c)
{
	return c->doomed || conn_busy(c, SVC_OUT_PAUSE) || app_starved(w, c);
}

/* Stop taking input; one stopped by its app's quota waits on w->starved
 * (its own output may be empty: no WRITABLE would resume it). */
static void conn_pause(struct svc_worker *w, struct svc_conn *c)
{
	c->paused = true;
	if (!c->starved && app_starved(w, c)) {
		SVC_CNT_INC(w, starved);
		c->starved = true;
		TAILQ_INSERT_TAIL(&w->starved, c, slink);
	}
}

static bool conn_drained(const struct svc_conn *c)
{
	return c->http != NULL && rs_http_conn_done(c->http) &&
	       c->out_off == c->out_len;
}

/* @return false when the connection was closed. */
static bool conn_flush(struct svc_worker *w, struct svc_conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = rs_sock_send(c->s, c->out + c->out_off,
				 c->out_len - c->out_off, 0);
		if (n <= 0)
			break;
		c->out_off += (size_t)n;
	}
	out_charge(w, c);
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->out_cap > SVC_OUT_PAUSE) { /* give a burst's room back */
			free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
	}
	if (conn_drained(c)) {
		conn_close(w, c, false);
		return false;
	}
	if (c->paused && !conn_busy(c, SVC_OUT_PAUSE / 2)) {
		c->paused = false;
		return conn_input(w, c);
	}
	return true;
}

void svc_conn_kick(struct svc_worker *w, struct svc_conn *c)
{
	if (!c->kicked) {
		c->kicked = true;
		TAILQ_INSERT_TAIL(&w->kick, c, klink);
	}
}

void svc_conn_kicks(struct svc_worker *w)
{
	struct svc_conn *c, *next;

	/* Connections whose app has drained below its quota go on. */
	for (c = TAILQ_FIRST(&w->starved); c != NULL; c = next) {
		next = TAILQ_NEXT(c, slink);
		if (!app_starved(w, c)) {
			starved_drop(w, c);
			svc_conn_kick(w, c);
		}
	}
	while ((c = TAILQ_FIRST(&w->kick)) != NULL) {
		TAILQ_REMOVE(&w->kick, c, klink);
		c->kicked = false;
		if (conn_drained(c)) {
			conn_close(w, c, false);
		} else if (c->paused && !conn_busy(c, SVC_OUT_PAUSE / 2) &&
			   !(c->http != NULL && rs_http_conn_done(c->http))) {
			c->paused = false;
			conn_input(w, c);
		}
	}
}

/* A response frame for connection @p c, in its transport's form. */
void svc_conn_reply(struct svc_worker *w, struct svc_conn *c,
		    const uint8_t *frame, size_t len)
{
	if (c->http != NULL)
		svc_http_reply(w, c, frame, len);
	else
		svc_conn_write(w, c, frame, len);
}

/* The response straight into the connection's TX ring, when nothing waits
 * before it and it fits: Receive's data is then copied once, from its
 * socket's ring (svc_data.c).  @return false to take the other way. */
static bool respond_direct(struct svc_conn *c, const struct rs_rpc_call *call,
			   size_t len)
{
	struct rs_byte_view v;
	struct iovec iov[2];
	size_t done;

	if (c->http != NULL || c->tls != NULL || c->out_len != c->out_off ||
	    c->doomed || rs_sock_tx_view(c->s, len, &v) < len)
		return false;
	iov[0] = (struct iovec){v.seg[0].ptr, v.seg[0].len};
	iov[1] = (struct iovec){v.seg[1].ptr, v.seg[1].len};
	if (rs_rpc_call_respond_iov(call, call->resp, iov, &done) < 0)
		return false;
	rs_sock_tx_commit(c->s, done); /* a broken one: CLOSED follows */
	app_bytes(c->w, c, 1, done);
	return true;
}

/* Count a finished call by method and outcome, and by app (svc_pvt.h). */
static void method_count(const struct svc_call *sc)
{
	struct svc_worker *w = sc->w;
	const struct rs_rpc_method *m = sc->rpc.method;
	unsigned o = sc->rpc.status == RS_RPC_CALL_OK	       ? 0
		     : sc->rpc.status == RS_RPC_CALL_APP_ERROR ? 1
							       : 2;
	size_t h;

	struct svc_method_stat *s = NULL;
	uint64_t us, ns;
	unsigned b;

	if (sc->app < RS_APPS_SLOTS)
		SVC_GAUGE_ADD(w, apps[sc->app].calls[o], 1);
	if (m == NULL) /* no such method: an RPC error, not a method's */
		return;
	h = ((uintptr_t)m >> 4) % SVC_METHOD_SLOTS;
	for (unsigned i = 0; i < SVC_METHOD_SLOTS && s == NULL; i++) {
		if (w->mstat[h].m == m || w->mstat[h].m == NULL)
			s = &w->mstat[h];
		h = (h + 1) % SVC_METHOD_SLOTS;
	}
	if (s == NULL) /* more methods than slots: not counted */
		return;
	__atomic_store_n(&s->n[o], s->n[o] + 1, __ATOMIC_RELAXED);
	if (sc->t0 != 0) {
		us = (rte_rdtsc() - sc->t0) / w->tsc_per_us;
		ns = us * 1000;
		b = us == 0 ? 0 : 64 - (unsigned)__builtin_clzll(us);
		if (b >= SVC_HIST_BUCKETS)
			b = SVC_HIST_BUCKETS - 1;
		__atomic_store_n(&s->hist[b], s->hist[b] + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&s->sum_ns, s->sum_ns + ns, __ATOMIC_RELAXED);
	}
	if (s->m == NULL)
		__atomic_store_n(&s->m, m, __ATOMIC_RELEASE);
}

/* Answer a call: @p rc and @p len as rs_rpc_dispatch() returned them
 * given no buffer (-ENOSPC: the response is to be written, @p len bytes
 * of it), or 0 with the response already in w->out. */
void svc_respond(struct svc_call *sc, int rc, size_t len)
{
	struct svc_worker *w = sc->w;
	struct rs_rpc_call *call = &sc->rpc;
	struct svc_conn *c = sc->conn;

	method_count(sc);

	if (rc == -ENOSPC && len <= SVC_OUT_MAX) {
		if (c != NULL && respond_direct(c, call, len))
			return;
		rc = rs_rpc_call_respond(call, call->resp, w->out, SVC_OUT_MAX,
					 &len);
	}
	if (rc < 0) /* above SVC_OUT_MAX */
		rc = rs_rpc_error_write(
		    call->call_id, RPC_ERR(RESPONSE_TOO_LARGE),
		    "reply too large", w->out, SVC_OUT_MAX, &len);
	if (rc >= 0 && c != NULL)
		svc_conn_reply(w, c, w->out, len);
	else if (rc >= 0 && sc->from != 0) /* another worker's connection */
		svc_answer(sc, w->out, len);
}

void svc_answer_call(struct svc_call *sc)
{
	size_t len;
	/* Sized first (-ENOSPC), as a dispatch leaves a reply. */
	int rc = rs_rpc_call_respond(&sc->rpc, sc->rpc.resp, NULL, 0, &len);

	svc_respond(sc, rc == 0 ? -ENOSPC : rc, len);
}

/* ---- input -------------------------------------------------------------- */

static void answer_error(struct svc_worker *w, struct svc_conn *c,
			 uint64_t call_id, Remsock__Rpc__RpcErrorCode code,
			 const char *detail)
{
	size_t len;

	if (rs_rpc_error_write(call_id, code, detail, w->out, SVC_OUT_MAX,
			       &len) == 0)
		svc_conn_reply(w, c, w->out, len);
}

/* A control-plane call: to control, with the caller's app. */
static void forward(struct svc_worker *w, struct svc_conn *c, int32_t app,
		    const struct rs_rpc_call *call, const uint8_t *data,
		    size_t len)
{
	struct rs_svc_msg *m;

	if (app < 0) {
		answer_error(w, c, call->call_id, RPC_ERR(UNAUTHENTICATED),
			     "call remsock.Authenticate first");
		return;
	}
	if (len > RS_SVC_MSG_DATA_MAX) {
		answer_error(w, c, call->call_id, RPC_ERR(REQUEST_TOO_LARGE),
			     "control-plane request above 4000 bytes");
		return;
	}
	/* The control path's entries serve every app: each may hold a
	 * share (given back when the answer comes, ring_poll()). */
	if (rs_apps_charge(w->sh->apps, (uint32_t)app, RS_QUOTA_CONTROL_CALLS,
			   1) < 0) {
		answer_error(w, c, call->call_id, RPC_ERR(OVER_QUOTA),
			     "control_calls quota in flight: retry");
		return;
	}
	m = rs_svc_msg_get(w->sh);
	if (m != NULL) {
		m->type = RS_SVC_MSG_CALL;
		m->worker = (uint16_t)w->k;
		m->app = (uint32_t)app;
		m->conn = svc_conn_ref(c);
		m->len = (uint32_t)len;
		memcpy(m->data, data, len);
		if (rs_svc_msg_send(w->sh, -1, m) == 0) {
			SVC_CNT_INC(w, forwarded);
			/* Control may run it on another worker. */
			c->forwarded = true;
			return;
		}
		rs_svc_msg_put(w->sh, m);
	}
	rs_apps_uncharge(w->sh->apps, (uint32_t)app, RS_QUOTA_CONTROL_CALLS, 1);
	SVC_CNT_INC(w, busy);
	answer_error(w, c, call->call_id, RPC_ERR(OVER_QUOTA),
		     "control plane busy: retry");
}

void svc_conn_fwd(struct svc_call *sc, const uint8_t *frame, size_t len)
{
	struct svc_worker *w = sc->w;
	struct svc_conn *c = sc->conn;
	struct rs_svc_msg *m;

	if (c == NULL) /* only a connection's first run routes */
		return;
	/* What its answer may add waits as output from now: the app's
	 * output_bytes hold its input back before the answers come, as
	 * they would for a call answered here. */
	if (sc->fwd_out.bytes == 0)
		sc->fwd_out.bytes = SVC_FWD_SMALL;
	sc->fwd_out.out_app = out_app(c);
	m = rs_svc_msg_get(w->sh);
	if (m != NULL && rs_svc_msg_set_frame(m, frame, len) == 0) {
		m->type = RS_SVC_MSG_FWD;
		m->worker = (uint16_t)w->k;
		m->app = sc->app;
		m->conn = svc_conn_ref(c);
		m->flags |= RS_SVC_MSG_F_CHARGED;
		memcpy(m->desc, &sc->fwd_out, sizeof(sc->fwd_out));
		if (rs_svc_peer_send(w->sh, sc->fwd_to - 1u, m) == 0) {
			svc_peer_wake(w, sc->fwd_to - 1u);
			SVC_CNT_INC(w, fwd_out);
			c->forwarded = true;
			c->fwd_inflight++; /* at SVC_FWD_MAX, input pauses */
			if (sc->fwd_out.out_app >= 0)
				rs_apps_charge_over(
				    w->sh->apps, (uint32_t)sc->fwd_out.out_app,
				    RS_QUOTA_OUTPUT_BYTES, sc->fwd_out.bytes);
			return;
		}
	}
	if (m != NULL)
		rs_svc_msg_put(w->sh, m);
	SVC_CNT_INC(w, busy);
	answer_error(w, c, sc->rpc.call_id, RPC_ERR(OVER_QUOTA),
		     "the socket's worker is busy: retry");
}

void svc_conn_fwd_done(struct svc_worker *w, const struct rs_svc_msg *m)
{
	struct svc_conn *c = svc_conn_get(w, m->conn);
	struct rs_svc_fwd_out fo;

	memcpy(&fo, m->desc, sizeof(fo));
	if (fo.out_app >= 0 && fo.bytes != 0)
		rs_apps_uncharge(w->sh->apps, (uint32_t)fo.out_app,
				 RS_QUOTA_OUTPUT_BYTES, fo.bytes);
	if (c == NULL || c->fwd_inflight == 0)
		return;
	c->fwd_inflight--;
	if (c->paused) /* it may take input again */
		svc_conn_kick(w, c);
}

/* Serve one request frame of @p c for @p app (-1: not authenticated). */
void svc_conn_call(struct svc_worker *w, struct svc_conn *c, int32_t app,
		   const uint8_t *data, size_t len)
{
	struct svc_call sc = {
	    .w = w,
	    .conn = c,
	    .app = (uint32_t)app,
	    .t0 = rte_rdtsc(),
	};

	SVC_CNT_INC(w, calls);
	if (svc_call_run(&sc, &w->env_rpc, data, len) == RS_RPC_FORWARD)
		forward(w, c, app, &sc.rpc, data, len);
}

/* Feed a chunk to the decoder, a frame at a time while the connection
 * takes calls.  @return the bytes taken, or -1 when the stream is
 * broken. */
ssize_t svc_conn_feed(struct svc_worker *w, struct svc_conn *c,
		      const uint8_t *p, size_t len)
{
	struct rs_frame fr;
	size_t off = 0, used;
	int rc;

	if (c->http != NULL) {
		c->input_ns = rs_lcore_now_ns(w->lc);
		rs_http_conn_input(c->http, p, len, c->input_ns, &used);
		out_charge(w, c); /* answers the codec made or held */
		app_bytes(w, c, 0, used);
		return big_charge(w, c) ? (ssize_t)used : -1;
	}
	while (off < len && !svc_conn_full(w, c)) {
		rc = rs_frame_decode(c->dec, p + off, len - off, &used, &fr);
		off += used;
		if (rc < 0)
			return -1;
		if (rc == RS_FRAME_READY)
			svc_conn_call(w, c, c->app, fr.data, fr.len);
	}
	app_bytes(w, c, 0, off);
	return big_charge(w, c) ? (ssize_t)off : -1;
}

/* Feed what the connection's RX ring holds, where it lies (frames inside
 * one run are served in place; one across the ring's end is assembled by
 * the decoder).  @return the bytes taken, or -1 when the stream is
 * broken. */
static ssize_t view_feed(struct svc_worker *w, struct svc_conn *c,
			 const struct rs_byte_view *v)
{
	ssize_t used = svc_conn_feed(w, c, v->seg[0].ptr, v->seg[0].len), more;

	if (used != (ssize_t)v->seg[0].len || v->seg[1].len == 0)
		return used;
	more = svc_conn_feed(w, c, v->seg[1].ptr, v->seg[1].len);
	return more < 0 ? more : used + more;
}

/* @return false when the connection was closed. */
/* TLS: svc_tls.c decrypts and feeds.  @return false when closed. */
static bool tls_input(struct svc_worker *w, struct svc_conn *c)
{
	int rc;

	if (c->paused)
		return true;
	rc = svc_tls_input(w, c);
	if (rc == -2 && c->http != NULL && !c->doomed) {
		rs_http_conn_eof(c->http); /* answer what came, then go */
		c->paused = true;
		if (conn_drained(c))
			svc_conn_kick(w, c);
		return true;
	}
	if (rc < 0 || c->doomed) {
		conn_close(w, c, false); /* the replies made go out */
		return false;
	}
	if (rc > 0)
		conn_pause(w, c);
	return true;
}

static bool conn_input(struct svc_worker *w, struct svc_conn *c)
{
	if (c->tls != NULL)
		return tls_input(w, c);
	struct rs_byte_view v;
	ssize_t n, used;

	while (!c->paused) {
		if (svc_conn_full(w, c)) {
			conn_pause(w, c);
			break;
		}
		/* Taken once used: what a full connection does not take
		 * stays in the ring for later.  Nothing here closes the
		 * connection (a doomed one closes after), so the view
		 * lasts while its frames are served. */
		n = rs_sock_rx_view(c->s, SIZE_MAX, RS_SOCK_HOLD, &v);
		if (n == -EAGAIN)
			break;
		if (n == 0 && c->http != NULL) { /* answer what came, then go */
			rs_http_conn_eof(c->http);
			c->paused = true;
			break;
		}
		used = n > 0 ? view_feed(w, c, &v) : -1;
		if (used < 0) {
			conn_close(w, c, n < 0); /* EOF: the replies go out */
			return false;
		}
		rs_sock_rx_take(c->s, (size_t)used, 0);
		if (c->doomed) {
			conn_close(w, c, false);
			return false;
		}
	}
	if (conn_drained(c))
		svc_conn_kick(w, c);
	return true;
}

static void conn_event(struct rs_sock *s, unsigned ev, void *user)
{
	struct svc_conn *c = user;
	struct svc_worker *w = c->w;

	if ((ev & RS_SOCK_EV_READABLE) && !conn_input(w, c))
		return;
	if ((ev & RS_SOCK_EV_WRITABLE) && !conn_flush(w, c))
		return;
	if (ev & (RS_SOCK_EV_CLOSED | RS_SOCK_EV_ERROR))
		conn_close(w, c, true);
}

/* ---- accepting ---------------------------------------------------------- */

/* Probes for an address's count of connections not authenticated yet. */
#define UNAUTH_PROBE 16u

/* The count of @p ip in @p s (a free slot taken for it with @p take), or
 * NULL: none, or no slot in its probe set (then it is refused). */
static uint32_t *unauth_slot(struct svc_sources *s, uint32_t ip, bool take)
{
	uint32_t h = (ip * 2654435761u) >> 19;
	uint32_t *free_n = NULL;

	_Static_assert(SVC_UNAUTH_SLOTS == 1u << 13, "the hash's bits");
	for (uint32_t i = 0; i < UNAUTH_PROBE; i++) {
		uint32_t k = (h + i) & (SVC_UNAUTH_SLOTS - 1);

		if (s->unauth[k].ip == ip && s->unauth[k].n != 0)
			return &s->unauth[k].n;
		if (s->unauth[k].n == 0 && free_n == NULL) {
			free_n = &s->unauth[k].n;
			if (take)
				s->unauth[k].ip = ip;
		}
	}
	return take ? free_n : NULL;
}

/* A native connection from @p ip may wait to authenticate when its
 * address's share ([rpc] unauth_per_source) and everyone's ([rpc]
 * unauth_max; 0: half of all workers' connections) are not used up, so
 * that many addresses together cannot crowd out the tenants: @return
 * whether it may, counted then (c->unauth). */
static bool unauth_take(struct svc_worker *w, uint32_t ip)
{
	const struct rs_config_rpc *r = &w->sh->cfg->rpc;
	struct svc_sources *s = w->sources;
	uint32_t max = r->unauth_max != 0 ? r->unauth_max
					  : w->nconns_max / 2 * w->sh->workers;
	uint32_t *n;
	bool ok = false;

	rte_spinlock_lock(&s->lock);
	if (s->unauth_all < RTE_MAX(max, 1u)) {
		n = unauth_slot(s, ip, true);
		if (n != NULL && *n < r->unauth_per_source) {
			(*n)++;
			s->unauth_all++;
			ok = true;
		}
	}
	rte_spinlock_unlock(&s->lock);
	return ok;
}

/* Give back what unauth_take() counted for @p ip. */
static void unauth_give(struct svc_worker *w, uint32_t ip)
{
	struct svc_sources *s = w->sources;
	uint32_t *n;

	rte_spinlock_lock(&s->lock);
	n = unauth_slot(s, ip, false);
	if (n != NULL && *n != 0) {
		(*n)--;
		s->unauth_all--;
	}
	rte_spinlock_unlock(&s->lock);
}

void svc_conn_authed(struct svc_worker *w, struct svc_conn *c)
{
	if (c->unauth)
		unauth_give(w, c->peer_ip);
	c->unauth = false;
}

/* ---- failed authentications, by address and app ------------------------- */

/* Rated per pair, not per address: tenants behind one address (a host of
 * many runtimes) are not locked out by one of them guessing another
 * app's secret; an unknown app has no secret to guess and is not rated. */
#define SRC_PROBE 4u

static uint64_t src_interval(const struct svc_worker *w)
{
	return 60000000000ull / w->sh->cfg->rpc.auth_fail_per_min;
}

/* The slot rating (@p ip, @p app), or NULL; with @p take one is made for
 * it: a free one, or one whose pair's rate has fallen back (tat in the
 * past), or else the least penalised of the probe set. */
static struct svc_src *src_find(struct svc_worker *w, uint32_t ip, uint32_t app,
				uint64_t now, bool take)
{
	uint32_t h = ((ip ^ app * 0x9e3779b9u) * 2654435761u) >> 20;
	struct svc_src *victim = NULL;

	_Static_assert(SVC_SRC_SLOTS == 1u << 12, "the hash's bits");
	for (uint32_t i = 0; i < SRC_PROBE; i++) {
		struct svc_src *s =
		    &w->sources->src[(h + i) & (SVC_SRC_SLOTS - 1)];
		uint64_t tat = s->ip == 0 || s->tat < now ? 0 : s->tat;

		if (s->ip == ip && s->app == app)
			return s;
		if (victim == NULL ||
		    tat < (victim->ip == 0 || victim->tat < now ? 0
								: victim->tat))
			victim = s;
	}
	if (!take)
		return NULL;
	*victim = (struct svc_src){.ip = ip, .app = app, .tat = now};
	return victim;
}

/* Lines a tenant (or anyone who can connect) can cause: at most this
 * many a second a worker, the rest counted on the next. */
#define SVC_LOG_PER_S 10

static void auth_log(struct svc_worker *w, uint32_t ip, int app,
		     const char *what)
{
	char addr[INET_ADDRSTRLEN];
	uint32_t held;

	if (!rs_log_on(RS_LOG_AUTH, RTE_LOG_WARNING) ||
	    !rs_log_limit_pass(&w->log_auth, rs_lcore_now_ns(w->lc),
			       SVC_LOG_PER_S, &held))
		return;
	inet_ntop(AF_INET, &ip, addr, sizeof(addr));
	rs_log(RS_LOG_AUTH, RTE_LOG_WARNING,
	       "%s for app %s from %s (%u more "
	       "held back before this)",
	       what,
	       app >= 0 ? rs_apps_id(w->sh->apps, (uint32_t)app) : "(unknown)",
	       addr, held);
}

void svc_auth_failed(struct svc_worker *w, uint32_t ip, int app)
{
	uint64_t now = rs_lcore_now_ns(w->lc);
	struct svc_src *s;

	SVC_CNT_INC(w, auth_failed);
	auth_log(w, ip, app, "wrong secret or unknown app");
	if (app < 0 || w->sh->cfg->rpc.auth_fail_per_min == 0)
		return;
	rte_spinlock_lock(&w->sources->lock);
	s = src_find(w, ip, (uint32_t)app, now, true);
	s->tat = RTE_MAX(s->tat, now) + src_interval(w);
	rte_spinlock_unlock(&w->sources->lock);
}

bool svc_auth_allowed(struct svc_worker *w, uint32_t ip, int app)
{
	uint64_t now = rs_lcore_now_ns(w->lc);
	const struct svc_src *s;
	bool ok;

	if (app < 0 || w->sh->cfg->rpc.auth_fail_per_min == 0)
		return true;
	rte_spinlock_lock(&w->sources->lock);
	s = src_find(w, ip, (uint32_t)app, now, false);
	ok = s == NULL ||
	     s->tat <= now + w->sh->cfg->rpc.auth_fail_burst * src_interval(w);
	rte_spinlock_unlock(&w->sources->lock);
	if (ok)
		return true;
	SVC_CNT_INC(w, auth_blocked);
	auth_log(w, ip, app, "too many failures: refused unchecked");
	return false;
}

/* Whether @p ip (network order) is in one of [rpc] clients. */
static bool client_allowed(const struct rs_config *cfg, uint32_t ip)
{
	for (uint32_t i = 0; i < cfg->rpc.nclients; i++) {
		const struct rs_config_prefix *p = &cfg->rpc.clients[i];
		uint32_t mask = p->len == 0 ? 0 : ~0u << (32 - p->len);

		if ((ntohl(ip) & mask) == ntohl(p->prefix))
			return true;
	}
	return false;
}

/* What a listener's connections speak. */
enum conn_kind { CONN_NATIVE, CONN_HTTP, CONN_TLS, CONN_HTTPS };

static struct svc_conn *conn_new(struct svc_worker *w, struct rs_sock *s,
				 enum conn_kind kind, uint32_t ip)
{
	bool http = kind == CONN_HTTP || kind == CONN_HTTPS;
	bool tls = kind == CONN_TLS || kind == CONN_HTTPS;
	struct svc_conn *c;
	ssize_t ring;
	uint32_t i;

	if (!client_allowed(w->sh->cfg, ip)) {
		SVC_CNT_INC(w, conns_refused);
		return NULL;
	}
	if (w->nconns == w->nconns_max) {
		SVC_CNT_INC(w, conns_refused);
		return NULL;
	}
	if (!http && !unauth_take(w, ip)) {
		SVC_CNT_INC(w, conns_refused);
		return NULL;
	}
	for (i = 0; w->conns[i] != NULL; i++)
		;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		if (!http)
			unauth_give(w, ip);
		return NULL;
	}
	c->w = w;
	if ((http ? svc_http_attach(w, c) < 0
		  : (c->dec = rs_frame_decoder_create(SVC_UNAUTH_FRAME_MAX)) ==
			NULL) ||
	    (tls && svc_tls_attach(w, c) < 0)) {
		rs_frame_decoder_destroy(c->dec);
		rs_http_conn_destroy(c->http);
		free(c);
		if (!http)
			unauth_give(w, ip);
		return NULL;
	}
	c->unauth = !http;
	c->s = s;
	ring = rs_sock_writable(s); /* empty yet: its size */
	c->room_min =
	    RTE_MIN((size_t)SVC_ROOM_MIN, ring > 0 ? (size_t)ring / 4 : 0);
	c->idx = i;
	c->gen = ++w->conn_gen[i];
	if (c->gen == 0) /* 0 never names a connection */
		c->gen = ++w->conn_gen[i];
	c->app = c->out_owner = -1;
	c->session = -1;
	c->peer_ip = ip;
	c->opened_ns = c->input_ns = rs_lcore_now_ns(w->lc);
	TAILQ_INIT(&c->waits);
	w->conns[i] = c;
	SVC_GAUGE_ADD(w, nconns, 1);
	SVC_CNT_INC(w, conns_accepted);
	rs_sock_set_callback(s, conn_event, c);
	/* The next round delivers what came with the handshake. */
	return c;
}

static void accept_all(struct svc_worker *w, struct rs_sock *s,
		       enum conn_kind kind)
{
	struct sockaddr_in peer;
	struct rs_sock *n;

	while ((n = rs_sock_accept(s, &peer)) != NULL) {
		rs_sock_setopt(n, RS_TCP_NODELAY, 1);
		/* The replies of a round share segments (one for a
		 * pipelined window's worth, not one each). */
		rs_sock_setopt(n, RS_TCP_AUTOCORK, 1);
		if (conn_new(w, n, kind, peer.sin_addr.s_addr) == NULL)
			rs_sock_abort(n);
	}
}

static void listener_event(struct rs_sock *s, unsigned ev, void *user)
{
	accept_all(user, s, CONN_NATIVE);
}

static void http_listener_event(struct rs_sock *s, unsigned ev, void *user)
{
	accept_all(user, s, CONN_HTTP);
}

static void tls_listener_event(struct rs_sock *s, unsigned ev, void *user)
{
	accept_all(user, s, CONN_TLS);
}

static void https_listener_event(struct rs_sock *s, unsigned ev, void *user)
{
	accept_all(user, s, CONN_HTTPS);
}

static struct rs_sock *listen_on(struct svc_worker *w, uint32_t port,
				 const char *key, rs_sock_event_fn cb, int *err)
{
	struct sockaddr_in a = {
	    .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = w->sh->cfg->net.ip,
	};
	struct rs_sock *s;
	int rc;

	s = rs_sock_open(w->lc, RS_SOCK_TCP, cb, w);
	if (s == NULL) {
		*err = -errno;
		return NULL;
	}
	/* Every worker listens: a connection is its flow hash's.  Its rings
	 * keep their configured sizes: RPC connections are the service's,
	 * charged to no app, so they do not auto-tune. */
	rc = rs_sock_setopt(s, RS_SO_REUSEPORT, 1);
	if (rc == 0)
		rc = rs_sock_setopt(s, RS_SO_RCVBUF,
				    (int)w->sh->cfg->limits.sock_rx_ring);
	if (rc == 0)
		rc = rs_sock_setopt(s, RS_SO_SNDBUF,
				    (int)w->sh->cfg->limits.sock_tx_ring);
	if (rc == 0)
		rc = rs_sock_bind(s, &a);
	if (rc == 0)
		rc = rs_sock_listen(s, 0);
	if (rc < 0) {
		fprintf(stderr,
			"remsockd: worker %u: cannot listen on [rpc] "
			"%s %u: %s\n",
			w->k, key, port, strerror(-rc));
		rs_sock_close(s);
		*err = rc;
		return NULL;
	}
	return s;
}

int svc_conn_listen(struct svc_worker *w)
{
	const struct rs_config *cfg = w->sh->cfg;
	int rc = 0;

	if (cfg->rpc.listen_port != 0)
		w->listener = listen_on(w, cfg->rpc.listen_port, "listen_port",
					listener_event, &rc);
	if (rc == 0 && cfg->rpc.http_port != 0)
		w->http_listener = listen_on(w, cfg->rpc.http_port, "http_port",
					     http_listener_event, &rc);
	if (rc == 0 && cfg->rpc.tls_port != 0)
		w->tls_listener = listen_on(w, cfg->rpc.tls_port, "tls_port",
					    tls_listener_event, &rc);
	if (rc == 0 && cfg->rpc.https_port != 0)
		w->https_listener =
		    listen_on(w, cfg->rpc.https_port, "https_port",
			      https_listener_event, &rc);
	if (rc < 0) {
		if (w->tls_listener != NULL)
			rs_sock_close(w->tls_listener);
		if (w->http_listener != NULL)
			rs_sock_close(w->http_listener);
		if (w->listener != NULL)
			rs_sock_close(w->listener);
		w->listener = w->http_listener = w->tls_listener = NULL;
	}
	return rc;
}

/* An HTTP connection that waits for nothing, has nothing left to send
 * and has sent us nothing for [rpc] http_idle_s (a keep-alive client
 * reconnects; one stalled in the middle of a request is gone too; one
 * still reading a long answer is not). */
static bool http_idle(const struct svc_worker *w, const struct svc_conn *c,
		      uint64_t now)
{
	uint64_t limit = (uint64_t)w->sh->cfg->rpc.http_idle_s * 1000000000ull;

	return c->http != NULL && limit != 0 &&
	       rs_http_conn_in_flight(c->http) == 0 &&
	       c->out_off == c->out_len && now - c->input_ns >= limit;
}

/* An HTTP request that has been arriving for longer than [rpc]
 * http_request_s: a client trickling bytes to hold the connection. */
static bool http_slow(const struct svc_worker *w, const struct svc_conn *c,
		      uint64_t now)
{
	uint64_t limit =
	    (uint64_t)w->sh->cfg->rpc.http_request_s * 1000000000ull;
	uint64_t since =
	    c->http != NULL ? rs_http_conn_partial_since(c->http) : 0;

	return limit != 0 && since != 0 && now - since >= limit;
}

void svc_conn_scan(struct svc_worker *w)
{
	uint64_t limit =
	    (uint64_t)w->sh->cfg->service.auth_timeout_ms * 1000000;
	uint64_t now = rs_lcore_now_ns(w->lc);

	for (uint32_t i = 0; i < w->nconns_max; i++) {
		struct svc_conn *c = w->conns[i];

		if (c == NULL)
			continue;
		if (c->app < 0 && c->http == NULL && limit != 0 &&
		    now - c->opened_ns >= limit) {
			SVC_CNT_INC(w, auth_timeouts);
			conn_close(w, c, false);
		} else if (http_idle(w, c, now)) {
			SVC_CNT_INC(w, http_idle);
			conn_close(w, c, false);
		} else if (http_slow(w, c, now)) {
			SVC_CNT_INC(w, http_slow);
			conn_close(w, c, true);
		}
	}
}
