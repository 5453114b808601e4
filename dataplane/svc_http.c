/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API-host HTTP connections: rpc/rs_http.h's codec on an RPC
 * connection of the worker (svc_conn.c accepts them on [rpc] http_port).
 *
 * A request the codec passes comes with its native frame.  Its ticket
 * (remote_api request_id) is APP_ID:SECRET of [apps], checked like
 * Authenticate's secret (constant time) for every request, so one
 * connection may carry several apps' calls, as App Engine's API host
 * allows.  The frame then goes through svc_conn_call(), exactly as a
 * native frame: data methods here, the others forwarded to control,
 * parked calls and all.  Each response frame comes back through
 * svc_conn_reply() to svc_http_reply(), which the codec turns into the
 * HTTP response of its request, in request order.
 *
 * GET /metrics comes with the Authorization header's APP:SECRET as its
 * ticket: none or a wrong one is 401 (a wrong one rated and ending the
 * connection, as a wrong request_id), an app other than [service]
 * operator 403.  The operator's is answered here, on the worker, with no
 * round trip to control and no limit of one ring entry: every app's
 * quotas, then the process's counters (rs_svc_shared's source, which
 * reads what others write atomically), as Prometheus text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rs_apps.h"
#include "rs_metrics.h"
#include "svc_pvt.h"

/* remote_api.RpcError codes. */
#define RA_CALL_NOT_FOUND 1
#define RA_SECURITY_VIOLATION 3

static void http_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct svc_conn *c = ctx;

	svc_conn_write(c->w, c, buf, len);
}

/* The app a ticket names, or -EACCES (a wrong ticket, counted and
 * rated), or -EAGAIN (too many wrong ones for that app from this address
 * lately: not looked at). */
static int ticket_app(struct svc_worker *w, struct svc_conn *c,
		      const char *ticket)
{
	const char *colon = ticket != NULL ? strchr(ticket, ':') : NULL;
	size_t idlen = colon != NULL ? (size_t)(colon - ticket) : 0;
	int known = colon != NULL ? rs_apps_find(w->sh->apps, ticket, idlen)
				  : -ENOENT,
	    app, cert;

	if (!svc_auth_allowed(w, c->peer_ip, known))
		return -EAGAIN;
	cert = svc_tls_cert_app(w, c);
	if (cert != SVC_CERT_ANY && cert != known) { /* not this cert's app */
		svc_auth_failed(w, c->peer_ip, known);
		return -EACCES;
	}
	app = colon == NULL ? rs_apps_auth(w->sh->apps, "", 0, "", 0)
			    : rs_apps_auth(w->sh->apps, ticket, idlen,
					   colon + 1, strlen(colon + 1));
	if (app < 0)
		svc_auth_failed(w, c->peer_ip, known);
	else if (rs_log_on(RS_LOG_AUTH, RTE_LOG_DEBUG))
		rs_log(RS_LOG_AUTH, RTE_LOG_DEBUG,
		       "app %s authenticated an HTTP request from %u.%u.%u.%u",
		       rs_apps_id(w->sh->apps, (uint32_t)app),
		       c->peer_ip & 0xff, (c->peer_ip >> 8) & 0xff,
		       (c->peer_ip >> 16) & 0xff, c->peer_ip >> 24);
	return app;
}

/* The connection's output is charged to its first authenticated app. */
static void owner_set(struct svc_conn *c, int app)
{
	if (c->out_owner >= 0)
		return;
	c->out_owner = app;
	/* Requests above SVC_HTTP_BODY_MAX, charged to it from now on. */
	rs_http_conn_set_body_max(c->http, svc_request_max(c->w));
}

static void metrics_add(void *m, const char *name, uint64_t value)
{
	rs_metrics_add(m, name, value, NULL);
}

struct quota_arg {
	struct rs_metrics *m;
	const char *app;
};

static void metrics_quota(void *arg, const char *name, uint64_t value)
{
	struct quota_arg *q = arg;

	rs_metrics_add(q->m, name, value, q->app);
}

/* The operator's GET /metrics: the text, or 500. */
static void metrics_answer(struct svc_worker *w, struct svc_conn *c,
			   uint64_t id)
{
	const struct rs_svc_shared *sh = w->sh;
	struct rs_metrics *m = rs_metrics_new();
	struct quota_arg q = {.m = m};
	size_t len;
	char *text;

	if (m == NULL) {
		rs_http_conn_respond_status(c->http, id, 500,
					    "no memory for the metrics");
		return;
	}
	for (uint32_t a = 0; a < rs_apps_count(sh->apps); a++) {
		q.app = rs_apps_id(sh->apps, a);
		rs_apps_quota_counters(sh->apps, a, metrics_quota, &q);
	}
	if (sh->counters != NULL)
		sh->counters(sh->counters_src, metrics_add, m);
	svc_method_counters(w->sdp, metrics_add, m);
	svc_app_counters(w->sdp, metrics_add, m);
	text = rs_metrics_end(m, &len);
	if (text == NULL) {
		rs_http_conn_respond_status(c->http, id, 500,
					    "no memory for the metrics");
		return;
	}
	rs_http_conn_respond_body(c->http, id,
				  "text/plain; version=0.0.4; charset=utf-8",
				  (const uint8_t *)text, len);
	free(text);
}

/* GET /metrics: the operator's only. */
static void metrics_request(struct svc_worker *w, struct svc_conn *c,
			    const struct rs_http_request *r)
{
	const char *op = w->sh->cfg->service.operator;
	int app;

	if (r->ticket == NULL) {
		rs_http_conn_respond_status(
		    c->http, r->id, 401,
		    "metrics need the operator's APP:SECRET: Authorization: "
		    "Basic (user APP, password SECRET) or Bearer APP:SECRET");
		return;
	}
	app = ticket_app(w, c, r->ticket);
	if (app < 0) {
		rs_http_conn_end(c->http, r->id);
		rs_http_conn_respond_status(
		    c->http, r->id, 401,
		    app == -EAGAIN ? "too many failed attempts at this app's "
				     "secret from this address: try again "
				     "later"
				   : "unknown app or wrong secret");
		return;
	}
	if (op[0] == '\0' ||
	    strcmp(rs_apps_id(w->sh->apps, (uint32_t)app), op) != 0) {
		rs_http_conn_respond_status(
		    c->http, r->id, 403,
		    op[0] == '\0' ? "metrics are [service] operator's, and "
				    "none is set"
				  : "metrics are [service] operator's only");
		return;
	}
	owner_set(c, app);
	metrics_answer(w, c, r->id);
}

static void http_request(void *ctx, const struct rs_http_request *r)
{
	struct svc_conn *c = ctx;
	struct svc_worker *w = c->w;
	int app;

	SVC_CNT_INC(w, http_requests);
	if (r->metrics) {
		metrics_request(w, c, r);
		return;
	}
	if (strcmp(r->service, RS_SVC_SERVICE_AUTH) == 0 &&
	    strcmp(r->method, "Authenticate") == 0) {
		rs_http_conn_respond_error(
		    c->http, r->id, RA_CALL_NOT_FOUND,
		    "remsock.Authenticate is not served over HTTP: each "
		    "request's request_id (APP_ID:SECRET) authenticates it");
		return;
	}
	app = ticket_app(w, c, r->ticket);
	if (app < 0) {
		/* One guess per connection, as with Authenticate. */
		rs_http_conn_end(c->http, r->id);
		rs_http_conn_respond_error(
		    c->http, r->id, RA_SECURITY_VIOLATION,
		    app == -EAGAIN
			? "request_id: too many failed attempts at this app's "
			  "secret from this address: try again later"
			: "request_id: unknown app or wrong secret (the ticket "
			  "is APP_ID:SECRET)");
		return;
	}
	owner_set(c, app);
	svc_conn_call(w, c, app, r->frame, r->frame_len);
}

static bool http_full(void *ctx)
{
	struct svc_conn *c = ctx;

	return svc_conn_full(c->w, c);
}

static const struct rs_http_ops http_ops = {
    .request = http_request,
    .write = http_write,
    .full = http_full,
};

int svc_http_attach(struct svc_worker *w, struct svc_conn *c)
{
	c->http =
	    rs_http_conn_create(&http_ops, c, w->http_arena, SVC_HTTP_BODY_MAX);
	return c->http != NULL ? 0 : -ENOMEM;
}

void svc_http_reply(struct svc_worker *w, struct svc_conn *c,
		    const uint8_t *frame, size_t len)
{
	rs_http_conn_respond(c->http, frame, len, rs_lcore_now_ns(w->lc));
	svc_conn_charge(w, c); /* held, or written at last */
	/* An answer may let input go on, or end a closing connection. */
	if (c->paused || rs_http_conn_done(c->http))
		svc_conn_kick(w, c);
}
