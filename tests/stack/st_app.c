/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The application on the worker: the three hooks of rs_dp_set_app(), and
 * what the modes share -- connection records, reading and writing with
 * hashing, result lines.
 *
 * Life of a run: init (on app->worker only) starts a server mode at once; poll
 * starts a client mode when main() sets `go`, then runs the mode's own
 * poll; a mode calls st_app_finish() when it is done, and main() stops
 * the data plane; fini closes whatever is still open, prints the summary
 * and counts the sockets left (which must be none).
 */
#define _GNU_SOURCE /* strerrorname_np() */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stacktest_pvt.h"

void st_prng_fill(struct st_prng *p, uint8_t *buf, size_t len)
{
	uint64_t w;

	while (len != 0 && p->left != 0) {
		*buf++ = (uint8_t)p->word;
		p->word >>= 8;
		p->left--;
		len--;
	}
	for (; len >= 8; buf += 8, len -= 8) {
		w = st_prng_next(p);
		memcpy(buf, &w, 8); /* x86: little-endian */
	}
	if (len == 0)
		return;
	p->word = st_prng_next(p);
	p->left = 8;
	st_prng_fill(p, buf, len);
}

const char *st_errname(int err)
{
	static __thread char other[16];
	const char *name;

	if (err == 0)
		return "0";
	name = strerrorname_np(err < 0 ? -err : err);
	if (name != NULL)
		return name;
	snprintf(other, sizeof(other), "E%d", err < 0 ? -err : err);
	return other;
}

void st_result(const struct st_app *app, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("result mode=%s %s\n", app->mode->name, line);
}

void st_app_fail(struct st_app *app)
{
	__atomic_store_n(&app->failed, true, __ATOMIC_RELEASE);
}

void st_app_finish(struct st_app *app, bool ok)
{
	if (!ok)
		st_app_fail(app);
	__atomic_store_n(&app->done, true, __ATOMIC_RELEASE);
}

struct st_conn *st_conn_new(struct st_app *app, struct rs_sock *s)
{
	struct st_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->app = app;
	c->s = s;
	c->id = app->next_id++;
	c->t0_ns = rs_lcore_now_ns(app->lc);
	rs_sha256_init(&c->sha);
	LIST_INSERT_HEAD(&app->conns, c, link);
	return c;
}

static void conn_free(struct st_conn *c)
{
	LIST_REMOVE(c, link);
	free(c);
}

void st_conn_close(struct st_conn *c)
{
	if (c->s != NULL)
		rs_sock_close(c->s);
	conn_free(c);
}

void st_conn_abort(struct st_conn *c)
{
	if (c->s != NULL)
		rs_sock_abort(c->s);
	conn_free(c);
}

double st_conn_seconds(const struct st_conn *c)
{
	return (double)(rs_lcore_now_ns(c->app->lc) - c->t0_ns) / 1e9;
}

struct st_conn *st_conn_connect(struct st_app *app, rs_sock_event_fn cb,
				int bufsize)
{
	struct st_conn *c = st_conn_new(app, NULL);
	int rc = 0;

	if (c == NULL) {
		st_result(app, "conn=%u error=ENOMEM", app->next_id);
		return NULL;
	}
	c->s = rs_sock_open(app->lc, RS_SOCK_TCP, cb, c);
	if (c->s == NULL) {
		st_result(app, "conn=%u open_error=%s", c->id,
			  st_errname(errno));
		conn_free(c);
		return NULL;
	}
	if (bufsize != 0) {
		rc = rs_sock_setopt(c->s, RS_SO_RCVBUF, bufsize);
		if (rc == 0)
			rc = rs_sock_setopt(c->s, RS_SO_SNDBUF, bufsize);
	}
	if (rc == 0)
		rc = rs_sock_connect(c->s, &app->peer);
	if (rc != -EINPROGRESS && rc != 0) {
		st_result(app, "conn=%u connect_error=%s", c->id,
			  st_errname(rc));
		st_conn_close(c);
		errno = rc < 0 ? -rc : rc;
		return NULL;
	}
	return c;
}

int st_conn_read(struct st_conn *c,
		 void (*eat)(struct st_conn *c, const uint8_t *p, size_t n))
{
	uint8_t *buf = c->app->buf;
	ssize_t n;

	for (;;) {
		n = rs_sock_recv(c->s, buf, ST_BUF, 0);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		if (n == 0) {
			c->eof = true;
			return 1;
		}
		c->rx += (uint64_t)n;
		c->app->bytes_total += (uint64_t)n;
		eat(c, buf, (size_t)n);
	}
}

int st_conn_write(struct st_conn *c)
{
	uint8_t *buf = c->app->buf;
	struct st_prng next;
	ssize_t room, n;
	size_t len;

	while (c->tx < c->tx_goal) {
		room = rs_sock_writable(c->s);
		if (room == 0 || room == -EAGAIN)
			return st_sock_want_writable(c->s);
		if (room < 0)
			return (int)room;
		len = (size_t)room < ST_BUF ? (size_t)room : ST_BUF;
		if (len > c->tx_goal - c->tx)
			len = (size_t)(c->tx_goal - c->tx);
		/* Generate from a copy of the PRNG: only what the ring
		 * takes is consumed from the stream.  --no-hash sends the
		 * buffer as it is (benchmarks measure the stack only). */
		next = c->tx_prng;
		if (!c->app->no_hash)
			st_prng_fill(&next, buf, len);
		n = rs_sock_send(c->s, buf, len, 0);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		c->tx += (uint64_t)n;
		if (c->app->no_hash)
			continue;
		if ((size_t)n == len)
			c->tx_prng = next;
		else
			st_prng_fill(&c->tx_prng, buf, (size_t)n);
		rs_sha256_update(&c->sha, buf, (size_t)n);
	}
	return 1;
}

int st_sock_want_writable(struct rs_sock *s)
{
	uint8_t byte = 0;
	ssize_t n = rs_sock_send(s, &byte, 1, 0);

	if (n == -EAGAIN)
		return 0;
	/* The ring had no room a moment ago, on this same thread. */
	return n < 0 ? (int)n : -EPROTO;
}

void st_eat_hash(struct st_conn *c, const uint8_t *p, size_t n)
{
	if (!c->app->no_hash)
		rs_sha256_update(&c->sha, p, n);
}

void st_eat_reply(struct st_conn *c, const uint8_t *p, size_t n)
{
	size_t room = sizeof(c->reply) - 1 - c->reply_len;

	if (n > room)
		n = room;
	memcpy(c->reply + c->reply_len, p, n);
	c->reply_len += (unsigned)n;
	c->reply[c->reply_len] = '\0';
}

void st_conn_sha_hex(struct st_conn *c, char hex[RS_SHA256_HEX_LEN])
{
	uint8_t d[RS_SHA256_DIGEST_LEN];

	rs_sha256_final(&c->sha, d);
	rs_sha256_hex(d, hex);
}

int st_conn_error(struct st_conn *c, int fallback)
{
	int err = c->s != NULL ? rs_sock_error(c->s) : 0;

	return err != 0 ? err : fallback;
}

void st_conn_done(struct st_conn *c, int err)
{
	struct st_app *app = c->app;
	bool ok = err == app->expect_err || -err == app->expect_err;

	if (ok)
		app->conns_done++;
	else
		app->conns_failed++;
	if (!ok)
		st_app_fail(app);
	if (err == 0)
		st_conn_close(c);
	else
		st_conn_abort(c);
	if (app->count != 0 &&
	    app->conns_done + app->conns_failed == app->count)
		st_app_finish(app, app->conns_failed == 0);
}

int st_app_init(struct rs_lcore *lc, void *arg)
{
	struct st_app *app = arg;
	int rc;

	if (rs_lcore_index(lc) != app->worker)
		return -1; /* one worker runs the test */
	app->lc = lc;
	LIST_INIT(&app->conns);
	if (app->mode->client)
		return 0;
	app->started = true;
	app->t0_ns = rs_lcore_now_ns(lc);
	rc = app->mode->start(app);
	if (rc < 0) {
		st_result(app, "start_error=%s", st_errname(rc));
		st_app_finish(app, false);
	}
	return 0;
}

int st_app_poll(struct rs_lcore *lc, void *arg)
{
	struct st_app *app = arg;
	int rc;

	if (!app->started) {
		if (!__atomic_load_n(&app->go, __ATOMIC_ACQUIRE))
			return 0;
		app->started = true;
		app->t0_ns = rs_lcore_now_ns(lc);
		rc = app->mode->start(app);
		if (rc < 0) {
			st_result(app, "start_error=%s", st_errname(rc));
			st_app_finish(app, false);
		}
		return 1;
	}
	return app->mode->poll != NULL ? app->mode->poll(app) : 0;
}

void st_app_fini(struct rs_lcore *lc, void *arg)
{
	struct st_app *app = arg;
	unsigned left = 0;

	while (!LIST_EMPTY(&app->conns)) {
		left++;
		st_conn_close(LIST_FIRST(&app->conns));
	}
	if (app->listener != NULL)
		rs_sock_close(app->listener);
	if (app->udp != NULL)
		rs_sock_close(app->udp);
	app->listener = app->udp = NULL;
	if (app->mode->report != NULL)
		app->mode->report(app);
	if (left != 0)
		st_result(app, "open_at_stop=%u", left);
	app->socks_after_fini = rs_lcore_sock_count(lc);
}
