/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The single-connection client modes, each connecting to HOST:PORT once
 * the test network is up:
 *   tcp-source BYTES SEED   send the PRNG stream, shut down, wait for the
 *                           peer's FIN (it has read everything); report
 *                           bytes, SHA-256 and the rate
 *   tcp-sink-client         read to the end; report bytes and SHA-256
 *   tcp-connect             report how the connect ended (error=0 when
 *                           it was accepted) and close
 *   tcp-expect-reset        send and read until the connection fails;
 *                           report the error (the peer resets it)
 *   tcp-keepalive           connect, turn keepalive on and wait, reading,
 *                           until the connection fails; report the error
 *   tcp-abort BYTES         send BYTES, then reset the connection
 *   tcp-halfclose-client BYTES SEED
 *                           send, shut down, then read the peer's reply
 *                           to the end: it must be "BYTES SHA256\n"
 * Each reports one result line and finishes the run.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "stacktest_pvt.h"

/* Until CONNECTED: @return true once connected; false while connecting
 * or when the attempt failed (then @p c is gone). */
static bool connected(struct st_conn *c, unsigned events)
{
	int err;

	if (c->connected)
		return true;
	if (events & RS_SOCK_EV_CONNECTED) {
		c->connected = true;
		c->t0_ns = rs_lcore_now_ns(c->app->lc);
		return true;
	}
	if (events & (RS_SOCK_EV_ERROR | RS_SOCK_EV_CLOSED)) {
		err = st_conn_error(c, -ECONNABORTED);
		st_result(c->app, "conn=%u stage=connect error=%s", c->id,
			  st_errname(err));
		st_conn_done(c, err);
	}
	return false;
}

static void broken(struct st_conn *c, int err)
{
	err = st_conn_error(c, err);
	st_result(c->app,
		  "conn=%u stage=transfer error=%s sent=%lu "
		  "received=%lu",
		  c->id, st_errname(err), (unsigned long)c->tx,
		  (unsigned long)c->rx);
	st_conn_done(c, err);
}

static void eat_nothing(struct st_conn *c, const uint8_t *p, size_t n)
{
}

/* Send to the goal, then shut down our side once.  @return 0, or the
 * error that broke the connection (then @p c is gone). */
static int send_then_shut(struct st_conn *c)
{
	int rc;

	if (c->shut_wr)
		return 0;
	rc = st_conn_write(c);
	if (rc == 1) {
		rc = rs_sock_shutdown(c->s, RS_SOCK_SHUT_WR);
		c->shut_wr = rc == 0;
	}
	if (rc < 0)
		broken(c, rc);
	return rc < 0 ? rc : 0;
}

static void report_rate(struct st_conn *c, const char *what)
{
	char hex[RS_SHA256_HEX_LEN];
	double secs = st_conn_seconds(c);
	uint64_t bytes = c->tx > c->rx ? c->tx : c->rx;

	st_conn_sha_hex(c, hex);
	st_result(c->app, "conn=%u %s=%lu sha256=%s seconds=%.3f mbit_s=%.1f",
		  c->id, what, (unsigned long)bytes, hex, secs,
		  secs > 0 ? (double)bytes * 8 / secs / 1e6 : 0.0);
}

static void source_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_conn *c = user;
	int rc;

	if (!connected(c, events) || send_then_shut(c) < 0)
		return;
	rc = st_conn_read(c, eat_nothing);
	if (rc == 1 && c->shut_wr) {
		report_rate(c, "bytes");
		st_conn_done(c, 0);
	} else if (rc != 0) {
		broken(c, rc < 0 ? rc : -EPIPE); /* EOF before we were done */
	} else if (events & (RS_SOCK_EV_ERROR | RS_SOCK_EV_CLOSED)) {
		broken(c, -ECONNABORTED);
	}
}

static void sink_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_conn *c = user;
	int rc;

	if (!connected(c, events))
		return;
	rc = st_conn_read(c, st_eat_hash);
	if (rc == 1) {
		report_rate(c, "bytes");
		st_conn_done(c, 0);
	} else if (rc < 0) {
		broken(c, rc);
	} else if (events & (RS_SOCK_EV_ERROR | RS_SOCK_EV_CLOSED)) {
		broken(c, -ECONNABORTED);
	}
}

static void connect_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_conn *c = user;
	struct sockaddr_in local;

	if (!connected(c, events))
		return;
	rs_sock_getsockname(s, &local);
	st_result(c->app, "conn=%u stage=connect error=0 local_port=%u", c->id,
		  ntohs(local.sin_port));
	st_conn_done(c, 0);
}

static void expect_reset_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_conn *c = user;
	int rc;

	if (!connected(c, events))
		return;
	rc = st_conn_write(c);
	if (rc >= 0)
		rc = st_conn_read(c, eat_nothing);
	if (rc == 1) {
		st_result(c->app,
			  "conn=%u stage=transfer error=EOF sent=%lu "
			  "received=%lu",
			  c->id, (unsigned long)c->tx, (unsigned long)c->rx);
		st_conn_done(c, -ENODATA);
	} else if (rc < 0) {
		broken(c, rc);
	} else if (events & (RS_SOCK_EV_ERROR | RS_SOCK_EV_CLOSED)) {
		broken(c, -ECONNABORTED);
	}
}

/* Idle with keepalive on ([tcp] keepidle_s, keepintvl_s, keepcnt): the
 * connection must end only when the peer stops answering the probes. */
static void keepalive_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_conn *c = user;
	int rc;

	if (!c->connected && (events & RS_SOCK_EV_CONNECTED)) {
		rc = rs_sock_setopt(s, RS_SO_KEEPALIVE, 1);
		if (rc < 0) {
			broken(c, rc);
			return;
		}
	}
	expect_reset_cb(s, events, user);
}

static void abort_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_conn *c = user;
	struct st_app *app = c->app;
	int rc;

	if (!connected(c, events))
		return;
	rc = st_conn_write(c);
	if (rc == 1) {
		st_result(app, "conn=%u aborted_after=%lu", c->id,
			  (unsigned long)c->tx);
		st_conn_abort(c);
		app->conns_done++;
		st_app_finish(app, true);
	} else if (rc < 0) {
		broken(c, rc);
	}
}

static void halfclose_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_conn *c = user;
	char hex[RS_SHA256_HEX_LEN], want[128];
	int rc;

	if (!connected(c, events) || send_then_shut(c) < 0)
		return;
	rc = st_conn_read(c, st_eat_reply);
	if (rc == 1 && c->shut_wr) {
		st_conn_sha_hex(c, hex);
		snprintf(want, sizeof(want), "%lu %s\n", (unsigned long)c->tx,
			 hex);
		st_result(c->app,
			  "conn=%u sent=%lu sha256=%s reply_ok=%s "
			  "reply_bytes=%lu",
			  c->id, (unsigned long)c->tx, hex,
			  strcmp(c->reply, want) == 0 ? "yes" : "no",
			  (unsigned long)c->rx);
		st_conn_done(c, strcmp(c->reply, want) == 0 ? 0 : -EBADMSG);
	} else if (rc != 0) {
		broken(c, rc < 0 ? rc : -EPIPE);
	} else if (events & (RS_SOCK_EV_ERROR | RS_SOCK_EV_CLOSED)) {
		broken(c, -ECONNABORTED);
	}
}

/* One connection to the peer, sending @p goal bytes of the app's seed. */
static int client_start(struct st_app *app, rs_sock_event_fn cb, uint64_t goal)
{
	struct st_conn *c;

	app->count = 1;
	c = st_conn_connect(app, cb, 0);
	if (c == NULL)
		return -ECONNABORTED;
	c->tx_goal = goal;
	st_prng_seed(&c->tx_prng, app->seed);
	return 0;
}

int st_tcp_source_start(struct st_app *app)
{
	return client_start(app, source_cb, app->bytes);
}

int st_tcp_sink_start(struct st_app *app)
{
	return client_start(app, sink_cb, 0);
}

int st_tcp_connect_start(struct st_app *app)
{
	return client_start(app, connect_cb, 0);
}

int st_tcp_expect_reset_start(struct st_app *app)
{
	return client_start(app, expect_reset_cb, UINT64_MAX);
}

int st_tcp_keepalive_start(struct st_app *app)
{
	return client_start(app, keepalive_cb, 0);
}

int st_tcp_abort_start(struct st_app *app)
{
	return client_start(app, abort_cb, app->bytes);
}

int st_tcp_halfclose_client_start(struct st_app *app)
{
	return client_start(app, halfclose_cb, app->bytes);
}
