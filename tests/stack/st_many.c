/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tcp-many HOST:PORT N BYTES: N connections to an echo server, all open
 * at once.  Phases:
 *   1. connect: handshakes started CONNECT_WINDOW at a time (the first
 *      alone, so that ARP resolves the peer before a burst of SYNs);
 *   2. exchange, once all N are established: each sends BYTES of its own
 *      PRNG stream (seed = connection number + SEED_BASE), shuts down its
 *      side, and checks that the echo is the same stream, to the peer's
 *      FIN;
 *   3. each connection closes on its own once the echo is complete.
 * The sockets get small rings (ST_MANY_RING bytes, or --ring), as a
 * proxy with many connections would.  The result line says how many
 * succeeded and the peak of connections established at once; the one
 * that starts the exchange, the heap each idle connection costs.
 */
#include <errno.h>
#include <string.h>

#include "stacktest_pvt.h"

#define CONNECT_WINDOW 64
#define SEED_BASE 1000

/* Compare what arrived with what was sent. */
static void eat_verify(struct st_conn *c, const uint8_t *p, size_t n)
{
	st_prng_fill(&c->rx_prng, c->app->want, n);
	if (memcmp(p, c->app->want, n) != 0)
		c->verify_failed = true;
}

static void many_done(struct st_conn *c, int err, const char *stage)
{
	struct st_app *app = c->app;

	if (c->connected)
		app->live--;
	else
		app->connecting--;
	if (err != 0) {
		err = st_conn_error(c, err);
		st_result(app,
			  "conn=%u stage=%s error=%s sent=%lu received=%lu",
			  c->id, stage, st_errname(err), (unsigned long)c->tx,
			  (unsigned long)c->rx);
	}
	st_conn_done(c, err);
}

static void exchange(struct st_conn *c, unsigned events)
{
	int rc = 0;

	if (!c->shut_wr) {
		rc = st_conn_write(c);
		if (rc == 1) {
			rc = rs_sock_shutdown(c->s, RS_SOCK_SHUT_WR);
			c->shut_wr = rc == 0;
		}
	}
	if (rc >= 0)
		rc = st_conn_read(c, eat_verify);
	if (rc == 1) {
		if (c->verify_failed || c->rx != c->tx_goal || !c->shut_wr)
			many_done(c, -EBADMSG, "echo");
		else
			many_done(c, 0, "echo");
	} else if (rc < 0) {
		many_done(c, rc, "echo");
	} else if (events & (RS_SOCK_EV_ERROR | RS_SOCK_EV_CLOSED)) {
		many_done(c, -ECONNABORTED, "echo");
	}
}

static void many_cb(struct rs_sock *s, unsigned events, void *user)
{
	struct st_conn *c = user;
	struct st_app *app = c->app;

	if (!c->connected) {
		if (events & RS_SOCK_EV_CONNECTED) {
			c->connected = true;
			app->connecting--;
			app->live++;
			if (app->live > app->peak)
				app->peak = app->live;
		} else if (events & (RS_SOCK_EV_ERROR | RS_SOCK_EV_CLOSED)) {
			many_done(c, -ECONNABORTED, "connect");
			return;
		}
	}
	if (c->connected && app->exchanging)
		exchange(c, events);
}

struct st_conn *st_many_open(struct st_app *app)
{
	struct st_conn *c = st_conn_connect(app, many_cb, app->ring);

	if (c == NULL)
		return NULL;
	c->tx_goal = app->bytes;
	st_prng_seed(&c->tx_prng, SEED_BASE + c->id);
	st_prng_seed(&c->rx_prng, SEED_BASE + c->id);
	app->connecting++;
	return c;
}

static void connect_more(struct st_app *app)
{
	unsigned window = app->live == 0 ? 1 : CONNECT_WINDOW;

	while (app->opened < app->n && app->connecting < window) {
		app->opened++;
		if (st_many_open(app) == NULL) {
			app->conns_failed++;
			st_app_fail(app);
		}
	}
}

/* Bytes jemalloc has handed out and not had back (0 without jemalloc,
 * e.g. under ASan): how much the connections cost, for the report. */
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
	    size_t newlen) __attribute__((weak));

static uint64_t heap_in_use(void)
{
	uint64_t epoch = 1;
	size_t allocated = 0, len = sizeof(epoch);

	if (mallctl == NULL ||
	    mallctl("epoch", &epoch, &len, &epoch, sizeof(epoch)) != 0)
		return 0;
	len = sizeof(allocated);
	if (mallctl("stats.allocated", &allocated, &len, NULL, 0) != 0)
		return 0;
	return allocated;
}

/* All connected: every connection starts sending.  Before it does, the
 * heap they cost while idle is reported per connection. */
static void exchange_start(struct st_app *app)
{
	struct st_conn *c, *next;
	uint64_t now = heap_in_use();

	app->exchanging = true;
	st_result(app, "phase=exchange established=%u heap_per_conn=%lu",
		  app->live,
		  now > app->heap0 && app->live != 0
		      ? (unsigned long)((now - app->heap0) / app->live)
		      : 0ul);
	for (c = LIST_FIRST(&app->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (c->connected)
			exchange(c, 0);
	}
}

int st_tcp_many_start(struct st_app *app)
{
	app->heap0 = heap_in_use();
	app->count = app->n;
	connect_more(app);
	return 0;
}

int st_tcp_many_poll(struct st_app *app)
{
	unsigned before = app->opened;

	connect_more(app);
	if (!app->exchanging && app->opened == app->n && app->connecting == 0)
		exchange_start(app);
	return app->opened != before;
}

void st_tcp_many_report(struct st_app *app)
{
	double secs = (double)(rs_lcore_now_ns(app->lc) - app->t0_ns) / 1e9;

	st_result(app,
		  "conns=%u ok=%u failed=%u peak_established=%u "
		  "bytes_echoed=%lu seconds=%.3f",
		  app->n, app->conns_done, app->conns_failed, app->peak,
		  (unsigned long)app->bytes_total, secs);
	if (app->conns_done != app->n)
		st_app_fail(app);
}
