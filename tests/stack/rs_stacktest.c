/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rs_stacktest: the data plane's network stack as a test peer.  It runs
 * the data plane (rs_dataplane.h) on a configuration file, with an
 * application on the worker that uses the in-process socket API
 * (rs_sock.h) in one of the modes below, and ends with the stack's
 * counters and a leak check.  The stack tests (the scripts in tests/stack/) run
 * it against Linux in a test namespace.
 *
 * This file is the control side: options, the data plane's life cycle,
 * the wait (for the application, a signal, or the time limit) and the
 * final report.  The application is st_app.c and the mode files.
 */
#define _GNU_SOURCE /* strerrorname_np() */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <rte_eal.h>

#include "rs_config.h"
#include "rs_dataplane.h"
#include "stacktest_pvt.h"

/* Exit codes, as --help documents them. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

#define TICK_MS 10
#define COUNTERS_TICKS 10 /* --counters-file: every 100 ms */

const struct st_mode st_modes[] = {
    {"udp-echo", "p", "PORT", false, st_udp_echo_start, NULL,
     st_udp_echo_report},
    {"tcp-echo", "p", "PORT", false, st_tcp_echo_start, NULL, st_server_report},
    {"tcp-discard", "p", "PORT", false, st_tcp_discard_start, NULL,
     st_server_report},
    {"tcp-halfclose-server", "p", "PORT", false, st_tcp_halfclose_server_start,
     NULL, st_server_report},
    {"tcp-source", "abs", "HOST:PORT BYTES SEED", true, st_tcp_source_start,
     NULL, NULL},
    {"tcp-sink-client", "a", "HOST:PORT", true, st_tcp_sink_start, NULL, NULL},
    {"tcp-many", "anb", "HOST:PORT N BYTES", true, st_tcp_many_start,
     st_tcp_many_poll, st_tcp_many_report},
    {"tcp-churn", "anbk", "HOST:PORT N BYTES CONCURRENCY", true,
     st_tcp_churn_start, st_tcp_churn_poll, st_tcp_churn_report},
    {"tcp-connect", "a", "HOST:PORT", true, st_tcp_connect_start, NULL, NULL},
    {"tcp-expect-reset", "a", "HOST:PORT", true, st_tcp_expect_reset_start,
     NULL, NULL},
    {"tcp-keepalive", "a", "HOST:PORT", true, st_tcp_keepalive_start, NULL,
     NULL},
    {"tcp-abort", "ab", "HOST:PORT BYTES", true, st_tcp_abort_start, NULL,
     NULL},
    {"tcp-halfclose-client", "abs", "HOST:PORT BYTES SEED", true,
     st_tcp_halfclose_client_start, NULL, NULL},
    {NULL, NULL, NULL, false, NULL, NULL, NULL},
};

struct opts {
	const char *config;
	const char *go_file;	   /* NULL: go at once */
	const char *counters_file; /* NULL: counters only at the end */
	unsigned timeout_s;
};

static volatile sig_atomic_t stop_signal;

static const char usage_text[] =
    "NAME\n"
    "    rs_stacktest - run the data plane's stack as a test peer\n"
    "\n"
    "SYNOPSIS\n"
    "    rs_stacktest -c FILE [--go-file PATH] [--timeout SECS]\n"
    "                 [--count N] [--expect-error ERRNO] [--no-hash]\n"
    "                 [--ring BYTES]\n"
    "                 MODE ARGS...\n"
    "\n"
    "DESCRIPTION\n"
    "    Brings the data plane up on FILE (remsockd's INI format), prints\n"
    "    'rs_stacktest: ready' and runs MODE on worker 0 with the socket\n"
    "    API of net/rs_sock.h.  Client modes start once PATH exists\n"
    "    (--go-file), so a test can set the network up first.  A mode\n"
    "    prints 'result mode=MODE key=value...' lines; a client mode, or a\n"
    "    server with --count, then stops the run; otherwise SIGTERM does.\n"
    "    At the end: the stack's counters and\n"
    "      leak sockets_open=N tcp_conns=N tcp_conns_at_stop=N "
    "mbufs_in_use=N\n"
    "    all of which must be 0.\n"
    "\n"
    "MODES\n"
    "    udp-echo PORT             datagrams back to their sources\n"
    "    tcp-echo PORT             bytes back, until the peer's FIN\n"
    "    tcp-discard PORT          read to the end: bytes, sha256\n"
    "    tcp-halfclose-server PORT read to the end, then answer\n"
    "                              'BYTES SHA256' and close\n"
    "    tcp-source HOST:PORT BYTES SEED\n"
    "                              send a PRNG stream, shut down, wait\n"
    "                              for the peer's FIN\n"
    "    tcp-sink-client HOST:PORT read to the end: bytes, sha256\n"
    "    tcp-many HOST:PORT N BYTES\n"
    "                              N connections at once to an echo\n"
    "                              server, each sends BYTES and checks\n"
    "                              the echo\n"
    "    tcp-churn HOST:PORT N BYTES CONCURRENCY\n"
    "                              N connections to an echo server, at\n"
    "                              most CONCURRENCY at a time: each sends\n"
    "                              BYTES, shuts down, checks the echo and\n"
    "                              closes (the stack keeps TIME-WAIT)\n"
    "    tcp-connect HOST:PORT     print how the connect ends\n"
    "    tcp-expect-reset HOST:PORT\n"
    "                              send and read until the connection\n"
    "                              fails; print the error\n"
    "    tcp-keepalive HOST:PORT   connect with keepalive on ([tcp]\n"
    "                              keepidle_s...), idle until the\n"
    "                              connection fails; print the error\n"
    "    tcp-abort HOST:PORT BYTES send BYTES, then reset\n"
    "    tcp-halfclose-client HOST:PORT BYTES SEED\n"
    "                              send, shut down, read the reply; it\n"
    "                              must be 'BYTES SHA256'\n"
    "    BYTES takes a K, M or G suffix (powers of 1024).\n"
    "\n"
    "OPTIONS\n"
    "    -c, --config FILE     the data plane's configuration\n"
    "    --go-file PATH        client modes wait until PATH exists\n"
    "    --timeout SECS        give up after SECS (default 120)\n"
    "    --counters-file FILE  while running, write the counters to FILE\n"
    "                          (as the final report prints them) every\n"
    "                          100 ms, replaced whole each time: a test\n"
    "                          waits on a counter instead of sleeping\n"
    "    --count N             servers: finish after N connections\n"
    "                          (udp-echo: datagrams)\n"
    "    --expect-error ERRNO  each connection must end with this error\n"
    "                          (e.g. ECONNREFUSED); default: cleanly\n"
    "    --ring BYTES          tcp-many: each connection's receive and\n"
    "                          send rings (default 16384; 0: [limits]\n"
    "                          sock_rx_ring and sock_tx_ring)\n"
    "    --worker K            run the mode on worker K (default 0;\n"
    "                          [workers] count above K): with several,\n"
    "                          the others only steer packets to it\n"
    "    --no-hash             tcp-source sends its buffer unchanged and\n"
    "                          nobody hashes (benchmarks: the stack's cost\n"
    "                          only); sha256 then means nothing\n"
    "    -h, --help            this help\n"
    "\n"
    "EXIT STATUS\n"
    "    0 the mode succeeded and nothing leaked; 1 it failed, something\n"
    "    leaked, or the data plane did not start; 2 usage; 3 time limit.\n";

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int usage(const char *what, const char *arg)
{
	fprintf(stderr, "rs_stacktest: %s%s\nTry 'rs_stacktest --help'.\n",
		what, arg);
	return EXIT_USAGE;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end == 'K' || *end == 'M' || *end == 'G')
		shift = *end == 'K' ? 10 : *end == 'M' ? 20 : 30;
	if (shift != 0)
		end++;
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 ||
	    v > (max >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_hostport(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1 ||
	    parse_u64(colon + 1, 65535, &port) < 0 || port == 0)
		return -EINVAL;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

/* ERRNO name to its value; "0" is 0.  @return -1 when unknown. */
static int parse_errname(const char *s)
{
	if (strcmp(s, "0") == 0)
		return 0;
	for (int e = 1; e < 200; e++) {
		const char *name = strerrorname_np(e);

		if (name != NULL && strcmp(name, s) == 0)
			return e;
	}
	return -1;
}

/* One mode argument of kind @p k.  @return 0 or -EINVAL. */
static int parse_arg(struct st_app *app, char k, const char *s)
{
	uint64_t v;

	switch (k) {
	case 'a':
		return parse_hostport(s, &app->peer);
	case 'p':
		if (parse_u64(s, 65535, &v) < 0 || v == 0)
			return -EINVAL;
		app->port = (uint16_t)v;
		return 0;
	case 'b':
		return parse_u64(s, UINT64_MAX / 2, &app->bytes);
	case 's':
		return parse_u64(s, UINT64_MAX, &app->seed);
	case 'n':
		if (parse_u64(s, 100000, &v) < 0 || v == 0)
			return -EINVAL;
		app->n = (unsigned)v;
		return 0;
	case 'k':
		if (parse_u64(s, 4096, &v) < 0 || v == 0)
			return -EINVAL;
		app->concurrency = (unsigned)v;
		return 0;
	}
	return -EINVAL;
}

static int mode_parse(int argc, char **argv, struct st_app *app)
{
	const struct st_mode *m;

	if (argc < 1)
		return usage("no MODE given", "");
	for (m = st_modes; m->name != NULL; m++)
		if (strcmp(m->name, argv[0]) == 0)
			break;
	if (m->name == NULL)
		return usage("unknown mode: ", argv[0]);
	if ((size_t)argc - 1 != strlen(m->args)) {
		fprintf(stderr, "rs_stacktest: usage: %s %s\n", m->name,
			m->usage);
		return EXIT_USAGE;
	}
	for (int i = 0; m->args[i] != '\0'; i++)
		if (parse_arg(app, m->args[i], argv[i + 1]) < 0)
			return usage("bad argument: ", argv[i + 1]);
	app->mode = m;
	return -1;
}

/* @return -1 to go on, or the exit code. */
static int opts_parse(int argc, char **argv, struct opts *o, struct st_app *app)
{
	enum {
		O_GO = 256,
		O_TIMEOUT,
		O_COUNT,
		O_EXPECT,
		O_NOHASH,
		O_RING,
		O_COUNTERS,
		O_WORKER
	};
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"go-file", required_argument, NULL, O_GO},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"count", required_argument, NULL, O_COUNT},
	    {"expect-error", required_argument, NULL, O_EXPECT},
	    {"no-hash", no_argument, NULL, O_NOHASH},
	    {"ring", required_argument, NULL, O_RING},
	    {"counters-file", required_argument, NULL, O_COUNTERS},
	    {"worker", required_argument, NULL, O_WORKER},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout_s = 120;
	app->ring = ST_MANY_RING;
	while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case O_GO:
			o->go_file = optarg;
			break;
		case O_COUNTERS:
			o->counters_file = optarg;
			break;
		case O_TIMEOUT:
			if (parse_u64(optarg, 3600, &v) < 0 || v == 0)
				return usage("--timeout: bad value ", optarg);
			o->timeout_s = (unsigned)v;
			break;
		case O_COUNT:
			if (parse_u64(optarg, 1u << 30, &v) < 0 || v == 0)
				return usage("--count: bad value ", optarg);
			app->count = (unsigned)v;
			break;
		case O_EXPECT:
			app->expect_err = parse_errname(optarg);
			if (app->expect_err < 0)
				return usage("--expect-error: unknown ",
					     optarg);
			break;
		case O_NOHASH:
			app->no_hash = true;
			break;
		case O_WORKER:
			if (parse_u64(optarg, 126, &v) < 0)
				return usage("--worker: 0 to 126: ", optarg);
			app->worker = (unsigned)v;
			break;
		case O_RING:
			if (parse_u64(optarg, 1u << 26, &v) < 0 ||
			    (v != 0 && v < 4096))
				return usage("--ring: 0, or 4096 to 64M: ",
					     optarg);
			app->ring = (int)v;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		default:
			return usage("bad option", "");
		}
	}
	if (o->config == NULL)
		return usage("-c FILE is required", "");
	return mode_parse(argc - optind, argv + optind, app);
}

static void banner_print(const struct rs_dp *dp, const struct st_app *app)
{
	struct rs_dp_info in;

	rs_dp_info_get(dp, &in);
	printf("rs_stacktest: ready: mode %s, port %s (driver %s), mac "
	       "%02x:%02x:%02x:%02x:%02x:%02x, link %s\n",
	       app->mode->name, in.port_name, in.driver, in.mac[0], in.mac[1],
	       in.mac[2], in.mac[3], in.mac[4], in.mac[5],
	       in.link_up ? "up" : "down");
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t drops_sum(const struct rs_dp_stats *st)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++)
		sum += st->drops[i];
	return sum;
}

static void counters_print(FILE *f, const struct rs_dp_stats *st)
{
	fprintf(f, "  %-28s %" PRIu64 "\n", "rx_pkts", st->rx_pkts);
	fprintf(f, "  %-28s %" PRIu64 "\n", "rx_bytes", st->rx_bytes);
	fprintf(f, "  %-28s %" PRIu64 "\n", "tx_pkts", st->tx_pkts);
	fprintf(f, "  %-28s %" PRIu64 "\n", "tx_bytes", st->tx_bytes);
	fprintf(f, "  %-28s %" PRIu64 "\n", "handled", st->handled);
	fprintf(f, "  %-28s %" PRIu64 "\n", "dropped", drops_sum(st));
	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++)
		if (st->drops[i] != 0)
			fprintf(f, "    drop.%-22s %" PRIu64 "  (%s)\n",
				rs_dp_drop_name(i), st->drops[i],
				rs_dp_drop_meaning(i));
	fprintf(f, "  %-28s %" PRIu64 "\n", "tx_dropped", st->tx_dropped);
	for (unsigned i = 0; i < RS_DP_EV_MAX; i++)
		fprintf(f, "  event.%-22s %" PRIu64 "\n", rs_dp_event_name(i),
			st->events[i]);
	fprintf(f, "  %-28s %" PRId64 "\n", "unexplained",
		(int64_t)(st->rx_pkts - st->handled - drops_sum(st)));
	fprintf(f, "  %-28s %" PRIu64 "\n", "socks_open", st->socks_open);
	fprintf(f, "  %-28s %" PRIu64 "\n", "tcp_conns", st->tcp_conns);
	fprintf(f, "  %-28s %" PRIu64 "\n", "tcp_conns_at_stop",
		st->tcp_conns_at_stop);
	fprintf(f, "  %-28s %" PRIu64 "\n", "arp_held", st->arp_held);
}

/* --counters-file: the counters now, written beside the file and renamed
 * over it, so a reader never sees half of them. */
static void counters_write(const struct rs_dp *dp, const char *path)
{
	char tmp[4096];
	struct rs_dp_stats st;
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return;
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	rs_dp_stats_read(dp, -1, &st);
	counters_print(f, &st);
	if (fclose(f) == 0)
		rename(tmp, path);
}

/* Until the app is done, a signal, or the time limit.  @return 0, or
 * EXIT_TIMEOUT. */
static int wait_for_end(const struct rs_dp *dp, struct st_app *app,
			const struct opts *o)
{
	const struct timespec tick = {0, TICK_MS * 1000000L};
	uint64_t deadline = now_ms() + o->timeout_s * 1000ull;
	unsigned ticks = 0;

	while (!stop_signal && !__atomic_load_n(&app->done, __ATOMIC_ACQUIRE)) {
		if (o->counters_file != NULL && ticks++ % COUNTERS_TICKS == 0)
			counters_write(dp, o->counters_file);
		if (!__atomic_load_n(&app->go, __ATOMIC_RELAXED) &&
		    (o->go_file == NULL || access(o->go_file, F_OK) == 0))
			__atomic_store_n(&app->go, true, __ATOMIC_RELEASE);
		if (now_ms() >= deadline) {
			st_result(app, "error=TIMEOUT seconds=%u",
				  o->timeout_s);
			return EXIT_TIMEOUT;
		}
		nanosleep(&tick, NULL);
	}
	if (stop_signal)
		printf("rs_stacktest: %s received, stopping\n",
		       stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
	return 0;
}

/* The counters and the leak line.  @return true when nothing leaked. */
static bool final_report(const struct rs_dp *dp, const struct st_app *app)
{
	struct rs_dp_stats st;
	unsigned mbufs = rs_dp_mbufs_in_use(dp);
	bool clean;

	rs_dp_stats_read(dp, -1, &st);
	printf("final counters:\n");
	counters_print(stdout, &st);
	printf("  %-28s %u\n", "mbufs_in_use_after_close", mbufs);
	printf("leak sockets_open=%" PRIu64 " tcp_conns=%" PRIu64
	       " tcp_conns_at_stop=%" PRIu64 " mbufs_in_use=%u"
	       " app_sockets_after_fini=%u\n",
	       st.socks_open, st.tcp_conns, st.tcp_conns_at_stop, mbufs,
	       app->socks_after_fini);
	clean = st.socks_open == 0 && st.tcp_conns == 0 &&
		st.tcp_conns_at_stop == 0 && mbufs == 0 &&
		app->socks_after_fini == 0;
	if (!clean)
		fprintf(stderr, "rs_stacktest: leak check failed\n");
	return clean;
}

static int run(const struct rs_config *cfg, const struct opts *o,
	       struct st_app *app)
{
	struct rs_dp *dp;
	int rc;

	if (app->worker >= cfg->workers.count) {
		fprintf(stderr,
			"rs_stacktest: --worker %u: [workers] count is %u\n",
			app->worker, cfg->workers.count);
		return EXIT_USAGE;
	}
	if (rs_dp_eal_init(cfg, 0, NULL) < 0)
		return EXIT_FAIL;
	dp = rs_dp_create(cfg);
	if (dp == NULL)
		goto err_create;
	if (rs_dp_signals_install(on_signal) < 0 ||
	    rs_dp_set_app(dp, st_app_init, st_app_poll, st_app_fini, app) < 0 ||
	    rs_dp_start(dp) < 0)
		goto err_start;
	banner_print(dp, app);
	rc = wait_for_end(dp, app, o);
	rs_dp_stop(dp);
	if (!final_report(dp, app) && rc == EXIT_OK)
		rc = EXIT_FAIL;
	if (__atomic_load_n(&app->failed, __ATOMIC_ACQUIRE) && rc == EXIT_OK)
		rc = EXIT_FAIL;
	rs_dp_destroy(dp);
	rte_eal_cleanup();
	printf("rs_stacktest: exit %d\n", rc);
	return rc;

err_start:
	rs_dp_destroy(dp);
err_create:
	rte_eal_cleanup();
	fprintf(stderr, "rs_stacktest: data plane not started\n");
	return EXIT_FAIL;
}

int main(int argc, char **argv)
{
	static struct st_app app; /* large (buffers): not on the stack */
	struct rs_config cfg;
	struct opts o;
	char err[1024];
	int rc;

	rc = opts_parse(argc, argv, &o, &app);
	if (rc >= 0)
		return rc;
	if (rs_config_load_file(&cfg, o.config, err, sizeof(err)) < 0) {
		fprintf(stderr, "rs_stacktest: %s\n", err);
		return EXIT_USAGE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run(&cfg, &o, &app);
}
