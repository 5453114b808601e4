/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tcp-churn HOST:PORT N BYTES CONCURRENCY: N short connections to an
 * echo server, at most CONCURRENCY open at a time (the first alone, so
 * that ARP resolves the peer).  Each is one of tcp-many's (st_many.c):
 * it sends BYTES of its own stream, shuts down its side and checks the
 * echo to the peer's FIN, then closes.  Our FIN goes first, so the stack
 * keeps every connection's TIME-WAIT: with more connections than
 * ephemeral ports inside 2 MSL, ports run out unless TIME-WAIT 4-tuples
 * are reused (tcp_conn.c).
 *
 * A connect that finds no port (the core's EADDRNOTAVAIL, which
 * rs_sock_connect() reports as EADDRINUSE: every port's TIME-WAIT is
 * younger than [tcp] tw_reuse_ms) is put off for PORT_RETRY_NS and tried
 * again, as a client would: how soon a port comes round depends on how
 * fast the machine churns, and the run's outcome must not.
 *
 * The result line: cycles done and failed, connects put off for want
 * of a port (no_port), the peak open at once, the time and rate.
 * The TIME-WAIT counters (tcp.tw_reused, tcp.tw_evicted) are in the
 * final counters.
 */
#include <errno.h>

#include "stacktest_pvt.h"

/* Opens that may fail (for another reason than a port) before the run
 * gives up. */
#define OPEN_FAILURES_MAX 100
/* How long a connect that found no port waits before it tries again: each
 * try when no port is free costs a scan of the ephemeral range. */
#define PORT_RETRY_NS 1000000ull

static void churn_give_up(struct st_app *app)
{
	app->opened = app->n; /* open no more */
	app->count =
	    app->conns_done + app->conns_failed + app->connecting + app->live;
	if (app->connecting + app->live == 0)
		st_app_finish(app, false);
}

static void churn_more(struct st_app *app)
{
	unsigned window = app->conns_done == 0 ? 1 : app->concurrency;
	uint64_t now = rs_lcore_now_ns(app->lc);

	if (now < app->port_retry_ns)
		return;
	while (app->opened < app->n && app->connecting + app->live < window) {
		app->opened++;
		if (st_many_open(app) != NULL)
			continue;
		if (errno == EADDRNOTAVAIL || errno == EADDRINUSE) {
			app->opened--; /* rs_sock's name for it: later */
			app->addrnotavail++;
			app->port_retry_ns = now + PORT_RETRY_NS;
			return;
		}
		app->conns_failed++;
		st_app_fail(app);
		if (++app->open_failed >= OPEN_FAILURES_MAX)
			churn_give_up(app);
		else if (app->conns_done + app->conns_failed == app->count)
			st_app_finish(app, false); /* the last one failed */
	}
}

int st_tcp_churn_start(struct st_app *app)
{
	app->count = app->n;
	app->exchanging = true; /* each exchanges once connected */
	churn_more(app);
	return 0;
}

int st_tcp_churn_poll(struct st_app *app)
{
	unsigned before = app->opened;

	churn_more(app);
	return app->opened != before;
}

void st_tcp_churn_report(struct st_app *app)
{
	double secs = (double)(rs_lcore_now_ns(app->lc) - app->t0_ns) / 1e9;

	st_result(app,
		  "cycles=%u ok=%u failed=%u no_port=%u peak_open=%u "
		  "bytes_echoed=%lu seconds=%.3f cycles_per_s=%.0f",
		  app->n, app->conns_done, app->conns_failed, app->addrnotavail,
		  app->peak, (unsigned long)app->bytes_total, secs,
		  secs > 0 ? app->conns_done / secs : 0.0);
	if (app->conns_done != app->n)
		st_app_fail(app);
}
