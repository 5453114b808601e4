/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The server modes: a listener on PORT, and for each connection
 *   tcp-echo              everything back, until the peer's FIN; then
 *                         close (so the peer reads our FIN after its data)
 *   tcp-discard           read to the end; report bytes and SHA-256
 *   tcp-halfclose-server  read to the end, then -- the peer having shut
 *                         down its side -- answer "BYTES SHA256\n" and
 *                         close: data must still flow towards a peer
 *                         that sent FIN
 * Connections run concurrently; --count N finishes after N of them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "stacktest_pvt.h"

#define BACKLOG 1024

/* The connection ended before its end of stream. */
static void conn_broken(struct st_conn *c, int fallback)
{
	int err = st_conn_error(c, fallback);

	st_result(c->app, "conn=%u error=%s bytes=%lu", c->id, st_errname(err),
		  (unsigned long)c->rx);
	st_conn_done(c, err);
}

/* Echo no more than the TX ring takes, so nothing waits in between. */
static void echo_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_conn *c = user;
	ssize_t room, n, sent;

	for (;;) {
		room = rs_sock_writable(s);
		if (room <= 0) {
			sent = room < 0 && room != -EAGAIN
				   ? room
				   : st_sock_want_writable(s);
			if (sent < 0) {
				conn_broken(c, (int)sent);
				return;
			}
			break; /* WRITABLE comes */
		}
		n = rs_sock_recv(s, c->app->buf,
				 (size_t)room < ST_BUF ? (size_t)room : ST_BUF,
				 0);
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			if (n == 0)
				st_conn_done(c, 0);
			else
				conn_broken(c, (int)n);
			return;
		}
		c->rx += (uint64_t)n;
		c->app->bytes_total += (uint64_t)n;
		sent = rs_sock_send(s, c->app->buf, (size_t)n, 0);
		if (sent != n) {
			conn_broken(c, sent < 0 ? (int)sent : -EIO);
			return;
		}
	}
	if (events & (RS_SOCK_EV_ERROR | RS_SOCK_EV_CLOSED))
		conn_broken(c, -ECONNABORTED);
}

static void discard_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_conn *c = user;
	char hex[RS_SHA256_HEX_LEN];
	double secs;
	int rc = st_conn_read(c, st_eat_hash);

	if (rc == 1) {
		secs = st_conn_seconds(c);
		st_conn_sha_hex(c, hex);
		st_result(c->app,
			  "conn=%u bytes=%lu sha256=%s seconds=%.3f "
			  "mbit_s=%.1f",
			  c->id, (unsigned long)c->rx, hex, secs,
			  secs > 0 ? (double)c->rx * 8 / secs / 1e6 : 0.0);
		st_conn_done(c, 0);
	} else if (rc < 0) {
		conn_broken(c, rc);
	} else if (events & (RS_SOCK_EV_ERROR | RS_SOCK_EV_CLOSED)) {
		conn_broken(c, -ECONNABORTED);
	}
}

static void halfclose_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_conn *c = user;
	char hex[RS_SHA256_HEX_LEN], line[128];
	ssize_t sent;
	int rc = st_conn_read(c, st_eat_hash), len;

	if (rc == 1) {
		st_conn_sha_hex(c, hex);
		len = snprintf(line, sizeof(line), "%lu %s\n",
			       (unsigned long)c->rx, hex);
		sent = rs_sock_send(s, line, (size_t)len, 0);
		st_result(c->app, "conn=%u bytes=%lu sha256=%s reply_sent=%s",
			  c->id, (unsigned long)c->rx, hex,
			  sent == len ? "yes" : st_errname((int)sent));
		st_conn_done(c,
			     sent == len ? 0 : (sent < 0 ? (int)sent : -EIO));
	} else if (rc < 0) {
		conn_broken(c, rc);
	} else if (events & (RS_SOCK_EV_ERROR | RS_SOCK_EV_CLOSED)) {
		conn_broken(c, -ECONNABORTED);
	}
}

static void listener_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_app *app = user;
	struct rs_sock *cs;
	struct st_conn *c;

	while ((cs = rs_sock_accept(s, NULL)) != NULL) {
		c = st_conn_new(app, cs);
		if (c == NULL) {
			rs_sock_abort(cs);
			st_result(app, "accept_error=ENOMEM");
			st_app_fail(app);
			continue;
		}
		rs_sock_set_callback(cs, app->conn_cb, c);
		app->conn_cb(cs, RS_SOCK_EV_READABLE | RS_SOCK_EV_WRITABLE, c);
	}
}

/* Listen on the app's port; @p cb serves each connection. */
static int listen_start(struct st_app *app, rs_sock_event_fn cb)
{
	struct sockaddr_in local;
	int rc;

	app->conn_cb = cb;
	app->listener = rs_sock_open(app->lc, RS_SOCK_TCP, listener_cb, app);
	if (app->listener == NULL)
		return -errno;
	memset(&local, 0, sizeof(local));
	local.sin_family = AF_INET;
	local.sin_addr.s_addr = htonl(INADDR_ANY);
	local.sin_port = htons(app->port);
	rc = rs_sock_bind(app->listener, &local);
	if (rc == 0)
		rc = rs_sock_listen(app->listener, BACKLOG);
	return rc;
}

int st_tcp_echo_start(struct st_app *app)
{
	return listen_start(app, echo_cb);
}

int st_tcp_discard_start(struct st_app *app)
{
	return listen_start(app, discard_cb);
}

int st_tcp_halfclose_server_start(struct st_app *app)
{
	return listen_start(app, halfclose_cb);
}

void st_server_report(struct st_app *app)
{
	st_result(app, "conns=%u failed=%u bytes=%lu", app->conns_done,
		  app->conns_failed, (unsigned long)app->bytes_total);
}
