/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rs_stacktest's shared state: the application that runs on the data
 * plane's worker lcore, its connections, and the modes.
 *
 * Threads.  main() (rs_stacktest.c) runs on the main lcore: it brings the
 * data plane up, sets `go` when the test network is ready, waits for
 * `done`, a signal or the time limit, and stops the data plane.
 * Everything else runs on one worker (0, or --worker), in the hooks of
 * rs_dp_set_app() and in the socket callbacks; only `go`, `done` and
 * `failed` cross between the two, with atomics.
 *
 * Output.  Machine-readable lines, one per event worth checking:
 *   result mode=NAME key=value ...
 * then, from main(), the counters ("  name value") and one
 *   leak sockets_open=N tcp_conns=N tcp_conns_at_stop=N mbufs_in_use=N
 */
#ifndef RS_STACKTEST_PVT_H
#define RS_STACKTEST_PVT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "rs_sock.h"
#include "sha256.h"

/** Bytes moved per recv/send call. */
#define ST_BUF 65536

/* A deterministic byte stream: xorshift64* words, little-endian. */
struct st_prng {
	uint64_t x;
	uint64_t word; /**< bytes not yet handed out, low first */
	unsigned left; /**< how many of them */
};

static inline void st_prng_seed(struct st_prng *p, uint64_t seed)
{
	p->x = seed * 0x9e3779b97f4a7c15ull + 1; /* never 0 */
	p->left = 0;
}

static inline uint64_t st_prng_next(struct st_prng *p)
{
	p->x ^= p->x >> 12;
	p->x ^= p->x << 25;
	p->x ^= p->x >> 27;
	return p->x * 0x2545f4914f6cdd1dull;
}

/** Write the stream's next @p len bytes to @p buf. */
void st_prng_fill(struct st_prng *p, uint8_t *buf, size_t len);

struct st_app;

/** One TCP connection (or the UDP socket's counters). */
struct st_conn {
	LIST_ENTRY(st_conn) link;
	struct st_app *app;
	struct rs_sock *s; /**< NULL once given back */
	unsigned id;
	uint64_t tx, rx;  /**< bytes sent, received */
	uint64_t tx_goal; /**< bytes to send */
	uint64_t t0_ns;	  /**< connected (or accepted) */
	struct st_prng tx_prng, rx_prng;
	struct rs_sha256 sha; /**< of what was sent or received */
	bool connected;
	bool shut_wr;	    /**< our FIN is queued */
	bool eof;	    /**< the peer's FIN was read */
	bool verify_failed; /**< tcp-many: the echo differed */
	char reply[160];    /**< the peer's text reply */
	unsigned reply_len;
};

/** A mode: its name, its arguments, and what it does on the worker. */
struct st_mode {
	const char *name;
	/** Arguments, one letter each: a HOST:PORT, p PORT, b BYTES,
	 *  s SEED, n COUNT, k CONCURRENCY. */
	const char *args;
	const char *usage;
	bool client; /**< starts only once the network is ready (go) */
	/** Open the sockets; on the worker.  @return 0 or -errno. */
	int (*start)(struct st_app *app);
	/** Called every loop (may be NULL).  @return work done. */
	int (*poll)(struct st_app *app);
	/** The summary result line, at the end (may be NULL). */
	void (*report)(struct st_app *app);
};

/** tcp-many's ring bytes per direction, unless --ring says otherwise. */
#define ST_MANY_RING 16384

struct st_app {
	const struct st_mode *mode;
	/* Arguments, set by main() before the workers start. */
	struct sockaddr_in peer; /**< a */
	uint16_t port;		 /**< p (host order) */
	uint64_t bytes;		 /**< b */
	uint64_t seed;		 /**< s */
	unsigned n;		 /**< n */
	unsigned concurrency;	 /**< k */
	unsigned count;		 /**< --count: stop after this many */
	unsigned worker;	 /**< --worker: the one that runs the mode */
	/** --expect-error: how each connection must end (0: cleanly). */
	int expect_err;
	/** --no-hash: neither generate nor hash the stream (benchmarks). */
	bool no_hash;
	/** --ring: tcp-many's ring bytes per direction (0: the defaults). */
	int ring;

	/* Written by main(), read by the worker. */
	bool go;

	/* Written by the worker, read by main(). */
	bool done;
	bool failed;

	/* The worker's own. */
	struct rs_lcore *lc;
	bool started;
	struct rs_sock *listener;
	rs_sock_event_fn conn_cb; /**< serves the listener's connections */
	struct rs_sock *udp;
	LIST_HEAD(, st_conn) conns;
	unsigned next_id;
	/* tcp-many */
	unsigned opened, connecting, live, peak;
	uint64_t heap0; /**< heap in use before the first connect */
	bool exchanging;
	/* tcp-churn: connects put off for want of a port, opens failed
	 * otherwise, and when the next open may try for a port again */
	unsigned addrnotavail, open_failed;
	uint64_t port_retry_ns;
	unsigned conns_done, conns_failed;
	uint64_t bytes_total, datagrams, send_errors;
	uint64_t t0_ns;
	unsigned socks_after_fini; /* rs_lcore_sock_count() after closing */
	uint8_t buf[ST_BUF];
	uint8_t want[ST_BUF]; /**< expected bytes, to compare with buf */
};

/* rs_stacktest.c's mode table */
extern const struct st_mode st_modes[];

/* st_app.c: the hooks and what the modes share */
int st_app_init(struct rs_lcore *lc, void *arg);
int st_app_poll(struct rs_lcore *lc, void *arg);
void st_app_fini(struct rs_lcore *lc, void *arg);
/** The errno's name ("ECONNRESET"); "0" for 0.  @p err may be negative. */
const char *st_errname(int err);
/** Print "result mode=NAME " and the rest. */
__attribute__((format(printf, 2, 3))) void st_result(const struct st_app *app,
						     const char *fmt, ...);
/** Mark the run finished; @p ok false makes the exit status 1. */
void st_app_finish(struct st_app *app, bool ok);
/** Mark the run failed, but let it go on. */
void st_app_fail(struct st_app *app);
/** A new connection record for @p s (NULL: opened later). */
struct st_conn *st_conn_new(struct st_app *app, struct rs_sock *s);
/** Give the socket back (graceful close) and free the record. */
void st_conn_close(struct st_conn *c);
/** Same with a reset. */
void st_conn_abort(struct st_conn *c);
/** Seconds since the connection started, for rates. */
double st_conn_seconds(const struct st_conn *c);
/** Open a TCP socket, give it rings of @p bufsize bytes (0: the
 *  default) and start connecting it to the app's peer.
 *  @return the record, or NULL with the failure reported. */
struct st_conn *st_conn_connect(struct st_app *app, rs_sock_event_fn cb,
				int bufsize);
/**
 * Read what is there, handing it to @p eat.
 * @return 1 at EOF, 0 when drained, or a negative errno.
 */
int st_conn_read(struct st_conn *c,
		 void (*eat)(struct st_conn *c, const uint8_t *p, size_t n));
/**
 * Send the PRNG stream up to tx_goal, hashing what is sent.
 * @return 1 when all is sent, 0 when the ring is full, or a negative
 *   errno.
 */
int st_conn_write(struct st_conn *c);
/**
 * Ask for WRITABLE once the TX ring has no room: the event follows only
 * a send that returned -EAGAIN (rs_sock.h), so make one.
 * @return 0, or the error the send returned instead.
 */
int st_sock_want_writable(struct rs_sock *s);
/** eat() that hashes. */
void st_eat_hash(struct st_conn *c, const uint8_t *p, size_t n);
/** eat() that keeps the first bytes as a text reply. */
void st_eat_reply(struct st_conn *c, const uint8_t *p, size_t n);
/** The hex SHA-256 of what the connection hashed (finishes it). */
void st_conn_sha_hex(struct st_conn *c, char hex[RS_SHA256_HEX_LEN]);
/** The error that ended a connection: rs_sock_error(), or @p fallback. */
int st_conn_error(struct st_conn *c, int fallback);
/**
 * A connection has ended with @p err (0: cleanly): count it, fail the run
 * unless that is what --expect-error asked for, close it (with a reset
 * when it failed), and finish after --count connections.
 */
void st_conn_done(struct st_conn *c, int err);

/* st_udp.c */
int st_udp_echo_start(struct st_app *app);
void st_udp_echo_report(struct st_app *app);

/* st_server.c */
int st_tcp_echo_start(struct st_app *app);
int st_tcp_discard_start(struct st_app *app);
int st_tcp_halfclose_server_start(struct st_app *app);
void st_server_report(struct st_app *app);

/* st_client.c */
int st_tcp_source_start(struct st_app *app);
int st_tcp_sink_start(struct st_app *app);
int st_tcp_connect_start(struct st_app *app);
int st_tcp_expect_reset_start(struct st_app *app);
int st_tcp_abort_start(struct st_app *app);
int st_tcp_keepalive_start(struct st_app *app);
int st_tcp_halfclose_client_start(struct st_app *app);

/* st_many.c */
int st_tcp_many_start(struct st_app *app);
int st_tcp_many_poll(struct st_app *app);
void st_tcp_many_report(struct st_app *app);
/** Open one of tcp-many's connections (its callback, stream and
 *  checks: it exchanges once connected if app->exchanging).
 *  @return the record, or NULL with errno set (reported). */
struct st_conn *st_many_open(struct st_app *app);

/* st_churn.c */
int st_tcp_churn_start(struct st_app *app);
int st_tcp_churn_poll(struct st_app *app);
void st_tcp_churn_report(struct st_app *app);

#endif /* RS_STACKTEST_PVT_H */
