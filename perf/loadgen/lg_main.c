/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * remsock-loadgen: options, the two transports' main loops, and the
 * report.  See lg.h for the design and --help for the use.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_eal.h>

#include "lg.h"
#include "rs_config.h"
#include "rs_dataplane.h"
#include "rs_sock.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "Usage: remsock-loadgen [OPTIONS] WORKLOAD\n"
    "\n"
    "Load for remsock's remote socket service, and the far peers its\n"
    "proxied sockets talk to, in one process.  Tenants: RPC connections on\n"
    "the native transport, authenticated, each keeping --depth calls in\n"
    "flight over its share of --sockets proxied sockets.  Peers, on this\n"
    "process's own address: a source (port 9001) streams bytes, a sink\n"
    "(9002) drops them, an echo server (9003) returns them.  Only the\n"
    "--seconds after --warmup are counted.\n"
    "\n"
    "Workloads:\n"
    "  recv        Receive of --size bytes from sockets whose peer streams\n"
    "  recv-batch  ReceiveBatch over --batch sockets a call (entries/s:\n"
    "              entries that carried data)\n"
    "  send        Send of --size bytes, with stream offsets, to sinks\n"
    "  send-batch  SendBatch of --batch sockets a call\n"
    "  relay-down  bulk from the peers through the proxy (Receive, default\n"
    "              256 KiB); with --plain, reading from a TCP relay\n"
    "  relay-up    bulk to the peers (Send, default 256 KiB); --plain: too\n"
    "  echo        Send then Receive of --size bytes through the echo peer,\n"
    "              open loop at --rate requests/s; latency from the time\n"
    "              each request was due (no coordinated omission)\n"
    "  churn       CreateSocket + Send + Close cycles (--sockets slots)\n"
    "\n"
    "Transport:\n"
    "  -c, --config FILE   DPDK mode: the project's own stack on the port\n"
    "                      FILE configures ([eal], [port], [net], ...), as\n"
    "                      remsockd's; the server is reached through it\n"
    "  --kernel            Linux sockets instead (epoll, one thread)\n"
    "  --self IP           kernel mode: the address to bind and serve the\n"
    "                      peers on (default: any; DPDK: [net] ip)\n"
    "\n"
    "Server:\n"
    "  --server IP:PORT    the RPC service (default 198.18.4.2:5757)\n"
    "  --plain IP:PORT     no RPC: plain TCP connections to a relay\n"
    "                      (haproxy) joined to the peers; relay-down,\n"
    "                      relay-up and echo only\n"
    "  --peer-at IP        the peers' address as the server reaches it\n"
    "                      (CreateSocket's remote_ip; default --self)\n"
    "  --app NAME=SECRET   the tenants' app (default\n"
    "                      demo=demo-secret-not-for-production)\n"
    "  --stats-app NAME=SECRET  an operator app ([service] operator): its\n"
    "                      Stats before and after the window give the\n"
    "                      server's busy cycles (remsockd)\n"
    "  --server-pid PID    read the server's CPU time from /proc\n"
    "  --label NAME        the server's name in the result line\n"
    "\n"
    "Load:\n"
    "  --size BYTES        a call's (an entry's) payload (default 64;\n"
    "                      relay: 262144)\n"
    "  --sockets N         proxied sockets (default 64)\n"
    "  --conns N           RPC connections (default 4)\n"
    "  --depth N           calls in flight per connection (default 16)\n"
    "  --batch N           entries per batch call (default 16)\n"
    "  --rate N            echo: requests/s offered (default 10000)\n"
    "  --warmup S          seconds before counting (default 1)\n"
    "  --seconds S         seconds counted (default 5)\n"
    "  --verify            check every byte received against the stream\n"
    "  --cross-conns       recv, send, relay: each socket's calls come\n"
    "                      from the connection after the one that made it\n"
    "                      (a server with several workers forwards those\n"
    "                      whose two connections landed on different ones)\n"
    "  --cdf FILE          write the latency CDF (ns, fraction)\n"
    "  --timeout S         give up after S seconds (default: 60 + the run)\n"
    "  -h, --help          this text\n"
    "\n"
    "Output: a progress line per phase on stderr; on stdout a summary and\n"
    "one machine-readable line, 'result key=value ...' (calls_s,\n"
    "entries_s, gbit_s, p50_us, p99_us, p999_us, errors, the server's CPU\n"
    "and busy seconds per call and per byte, lg_busy: this process's own\n"
    "busy share, and lg_limited=1 when above 0.9: the figures are then\n"
    "the load generator's, not the server's).  Exit status: 0 when the run\n"
    "completed with no error, 1 otherwise, 2 for bad usage.\n";

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int usage(const char *what, const char *arg)
{
	fprintf(stderr,
		"remsock-loadgen: %s%s\nTry 'remsock-loadgen --help'.\n", what,
		arg);
	return EXIT_USAGE;
}

void lg_fail(const char *fmt, ...)
{
	va_list ap;

	if (lg.failed)
		return;
	va_start(ap, fmt);
	vsnprintf(lg.why, sizeof(lg.why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "remsock-loadgen: %s\n", lg.why);
	lg.failed = true;
	lg.done = true;
}

static const char *const wl_names[LG_W_MAX] = {
    [LG_W_RECV] = "recv",
    [LG_W_RECV_BATCH] = "recv-batch",
    [LG_W_SEND] = "send",
    [LG_W_SEND_BATCH] = "send-batch",
    [LG_W_RELAY_DOWN] = "relay-down",
    [LG_W_RELAY_UP] = "relay-up",
    [LG_W_ECHO] = "echo",
    [LG_W_CHURN] = "churn",
};

const char *lg_workload_name(enum lg_workload w)
{
	return wl_names[w];
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int parse_ipport(const char *s, struct sockaddr_in *a, bool need_port)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hl = colon != NULL ? (size_t)(colon - s) : strlen(s);
	char *end;
	unsigned long port = 0;

	if (hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return -1;
	if (colon == NULL)
		return need_port ? -1 : 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
		return -1;
	a->sin_port = htons((uint16_t)port);
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || x == 0 || x > max)
		return -1;
	*v = (unsigned)x;
	return 0;
}

static int parse_secs(const char *s, double min, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno != 0 || end == s || *end != '\0' || !(*v >= min) ||
		       *v > 86400
		   ? -1
		   : 0;
}

/* NAME=SECRET into its two halves (the string is the caller's). */
static int parse_app(char *s, const char **name, const char **secret)
{
	char *eq = strchr(s, '=');

	if (eq == NULL || eq == s || eq[1] == '\0')
		return -1;
	*eq = '\0';
	*name = s;
	*secret = eq + 1;
	return 0;
}

enum {
	O_KERNEL = 256,
	O_SELF,
	O_SERVER,
	O_PLAIN,
	O_PEER_AT,
	O_APP,
	O_STATS_APP,
	O_SERVER_PID,
	O_LABEL,
	O_SIZE,
	O_SOCKETS,
	O_CONNS,
	O_DEPTH,
	O_BATCH,
	O_RATE,
	O_WARMUP,
	O_SECONDS,
	O_VERIFY,
	O_CROSS,
	O_CDF,
	O_TIMEOUT,
};

static int opts_parse(int argc, char **argv, struct lg_opts *o)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"kernel", no_argument, NULL, O_KERNEL},
	    {"self", required_argument, NULL, O_SELF},
	    {"server", required_argument, NULL, O_SERVER},
	    {"plain", required_argument, NULL, O_PLAIN},
	    {"peer-at", required_argument, NULL, O_PEER_AT},
	    {"app", required_argument, NULL, O_APP},
	    {"stats-app", required_argument, NULL, O_STATS_APP},
	    {"server-pid", required_argument, NULL, O_SERVER_PID},
	    {"label", required_argument, NULL, O_LABEL},
	    {"size", required_argument, NULL, O_SIZE},
	    {"sockets", required_argument, NULL, O_SOCKETS},
	    {"conns", required_argument, NULL, O_CONNS},
	    {"depth", required_argument, NULL, O_DEPTH},
	    {"batch", required_argument, NULL, O_BATCH},
	    {"rate", required_argument, NULL, O_RATE},
	    {"warmup", required_argument, NULL, O_WARMUP},
	    {"seconds", required_argument, NULL, O_SECONDS},
	    {"verify", no_argument, NULL, O_VERIFY},
	    {"cross-conns", no_argument, NULL, O_CROSS},
	    {"cdf", required_argument, NULL, O_CDF},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool have_size = false, have_peer_at = false;
	unsigned v;
	int c;

	memset(o, 0, sizeof(*o));
	parse_ipport("198.18.4.2:5757", &o->server, true);
	o->app = "demo";
	o->secret = "demo-secret-not-for-production";
	o->size = 64;
	o->sockets = 64;
	o->conns = 4;
	o->depth = 16;
	o->batch = 16;
	o->rate = 10000;
	o->warmup_s = 1;
	o->duration_s = 5;
	o->label = "server";
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case O_KERNEL:
			o->kernel = true;
			break;
		case O_SELF:
			if (parse_ipport(optarg, &o->self, false) < 0)
				return usage("--self: not an IPv4 address: ",
					     optarg);
			break;
		case O_SERVER:
			if (parse_ipport(optarg, &o->server, true) < 0)
				return usage("--server: not IP:PORT: ", optarg);
			break;
		case O_PLAIN:
			if (parse_ipport(optarg, &o->plain, true) < 0)
				return usage("--plain: not IP:PORT: ", optarg);
			o->use_plain = true;
			break;
		case O_PEER_AT:
			if (parse_ipport(optarg, &o->peer_at, false) < 0)
				return usage("--peer-at: not an IPv4 address: ",
					     optarg);
			have_peer_at = true;
			break;
		case O_APP:
			if (parse_app(optarg, &o->app, &o->secret) < 0)
				return usage("--app: not NAME=SECRET", "");
			break;
		case O_STATS_APP:
			if (parse_app(optarg, &o->stats_app, &o->stats_secret) <
			    0)
				return usage("--stats-app: not NAME=SECRET",
					     "");
			break;
		case O_SERVER_PID:
			if (parse_uint(optarg, 1u << 30, &v) < 0)
				return usage("--server-pid: not a PID: ",
					     optarg);
			o->server_pid = (int)v;
			break;
		case O_LABEL:
			o->label = optarg;
			break;
		case O_SIZE:
			if (parse_uint(optarg, 4u << 20, &o->size) < 0)
				return usage("--size: 1 to 4194304: ", optarg);
			have_size = true;
			break;
		case O_SOCKETS:
			if (parse_uint(optarg, 100000, &o->sockets) < 0)
				return usage("--sockets: 1 to 100000: ",
					     optarg);
			break;
		case O_CONNS:
			if (parse_uint(optarg, 1024, &o->conns) < 0)
				return usage("--conns: 1 to 1024: ", optarg);
			break;
		case O_DEPTH:
			if (parse_uint(optarg, 4096, &o->depth) < 0)
				return usage("--depth: 1 to 4096: ", optarg);
			break;
		case O_BATCH:
			if (parse_uint(optarg, 1024, &o->batch) < 0)
				return usage("--batch: 1 to 1024: ", optarg);
			break;
		case O_RATE:
			if (parse_uint(optarg, 10000000, &v) < 0)
				return usage("--rate: 1 to 10000000: ", optarg);
			o->rate = v;
			break;
		case O_WARMUP:
			if (parse_secs(optarg, 0, &o->warmup_s) < 0)
				return usage("--warmup: seconds >= 0: ",
					     optarg);
			break;
		case O_SECONDS:
			if (parse_secs(optarg, 0.1, &o->duration_s) < 0)
				return usage("--seconds: 0.1 or more: ",
					     optarg);
			break;
		case O_VERIFY:
			o->verify = true;
			break;
		case O_CROSS:
			o->cross = true;
			break;
		case O_CDF:
			o->cdf_path = optarg;
			break;
		case O_TIMEOUT:
			if (parse_uint(optarg, 86400, &o->timeout_s) < 0)
				return usage("--timeout: seconds: ", optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		default:
			return usage("bad option", "");
		}
	}
	if (optind + 1 != argc)
		return usage(optind == argc ? "a WORKLOAD is required"
					    : "one WORKLOAD only: ",
			     optind == argc ? "" : argv[optind + 1]);
	for (c = 0; c < LG_W_MAX; c++)
		if (strcmp(argv[optind], wl_names[c]) == 0)
			break;
	if (c == LG_W_MAX)
		return usage("unknown workload: ", argv[optind]);
	o->workload = (enum lg_workload)c;
	if (!o->kernel && o->config == NULL)
		return usage("DPDK mode needs -c FILE (or use --kernel)", "");
	if (o->kernel && o->config != NULL)
		return usage("-c and --kernel exclude each other", "");
	if (o->use_plain && o->workload != LG_W_RELAY_DOWN &&
	    o->workload != LG_W_RELAY_UP && o->workload != LG_W_ECHO)
		return usage("--plain: relay-down, relay-up or echo only", "");
	if (o->use_plain && !o->kernel)
		return usage("--plain needs --kernel", "");
	if (!have_size &&
	    (o->workload == LG_W_RELAY_DOWN || o->workload == LG_W_RELAY_UP))
		o->size = 256 * 1024;
	if (o->conns > o->sockets && o->workload != LG_W_CHURN)
		o->conns = o->sockets;
	if ((o->workload == LG_W_RECV_BATCH ||
	     o->workload == LG_W_SEND_BATCH) &&
	    o->batch > o->sockets / o->conns)
		return usage("--batch: above the sockets of a connection "
			     "(--sockets / --conns)",
			     "");
	if (o->workload != LG_W_RECV_BATCH && o->workload != LG_W_SEND_BATCH)
		o->batch = 0;
	if (o->timeout_s == 0)
		o->timeout_s = (unsigned)(o->warmup_s + o->duration_s) + 60;
	if (!have_peer_at)
		o->peer_at = o->self;
	return -1;
}

/* ---- report -------------------------------------------------------------- */

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

void lg_report(void)
{
	const struct lg_opts *o = lg.o;
	double secs = (double)(lg.t_end - lg.t_start) / 1e9;
	long hz = sysconf(_SC_CLK_TCK);
	double srv_cpu =
	    o->server_pid > 0 && hz > 0
		? (double)(lg.srv_cpu_ticks[1] - lg.srv_cpu_ticks[0]) /
		      (double)hz
		: NAN;
	bool busy_ok =
	    lg.srv_stats_ok[0] && lg.srv_stats_ok[1] && lg.srv_tsc_hz != 0;
	double srv_busy = busy_ok ? (double)(lg.srv_busy[1] - lg.srv_busy[0]) /
					(double)lg.srv_tsc_hz
				  : NAN;
	double ctl_busy =
	    busy_ok ? (double)(lg.srv_ctl_busy[1] - lg.srv_ctl_busy[0]) /
			  (double)lg.srv_tsc_hz
		    : NAN;
	double self = lg.self_busy_cycles != NULL && lg.tsc_hz != 0
			  ? (double)(lg.self_busy[1] - lg.self_busy[0]) /
				(double)lg.tsc_hz
			  : lg.self_cpu[1] - lg.self_cpu[0];
	double lg_busy = ratio(self, secs);
	uint64_t units = lg.entries != 0 ? lg.entries : lg.calls;
	double p50 = lg_hist_quantile(&lg.hist, 0.5) / 1e3,
	       p99 = lg_hist_quantile(&lg.hist, 0.99) / 1e3,
	       p999 = lg_hist_quantile(&lg.hist, 0.999) / 1e3;
	uint64_t errors = lg.errors + lg_peer_verify_errors;

	if (secs <= 0)
		return;
	printf("%s %s on %s (%s): %.2f s counted\n",
	       lg_workload_name(o->workload), o->use_plain ? "(plain TCP)" : "",
	       o->label, lg.io->name, secs);
	printf("  calls/s %.0f   entries/s %.0f   Gbit/s %.3f   errors %" PRIu64
	       "\n",
	       lg.calls / secs, units / secs, lg.bytes * 8 / secs / 1e9,
	       errors);
	if (lg.hist.count != 0)
		printf(
		    "  latency us: p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
		    p50, p99, p999, lg.hist.max / 1e3);
	if (!isnan(srv_cpu))
		printf("  server CPU %.3f s (%.2f cores): %.2f us a call, %.3f "
		       "ns a byte\n",
		       srv_cpu, srv_cpu / secs,
		       ratio(srv_cpu * 1e6, (double)units),
		       ratio(srv_cpu * 1e9, (double)lg.bytes));
	if (busy_ok)
		printf("  server busy: worker %.3f s, control %.3f s: %.0f ns "
		       "a call, %.3f cycles a byte\n",
		       srv_busy, ctl_busy,
		       ratio((srv_busy + ctl_busy) * 1e9, (double)units),
		       ratio((srv_busy + ctl_busy) * lg.srv_tsc_hz,
			     (double)lg.bytes));
	printf("  load generator busy %.0f%%%s\n", lg_busy * 100,
	       lg_busy > 0.9 ? ": it is the bottleneck, figures are a floor"
			     : "");
	if (o->workload == LG_W_ECHO)
		printf("  echo: %" PRIu64 " requests offered at %.0f/s, most "
		       "waiting at once %" PRIu64 "\n",
		       lg.echo_issued, o->rate, lg.echo_backlog_max);
	printf("result workload=%s server=%s transport=%s plain=%d size=%u "
	       "sockets=%u conns=%u depth=%u batch=%u rate=%.0f seconds=%.3f "
	       "calls=%" PRIu64 " entries=%" PRIu64 " empty=%" PRIu64
	       " bytes=%" PRIu64 " calls_s=%.1f entries_s=%.1f gbit_s=%.4f "
	       "p50_us=%.2f p99_us=%.2f p999_us=%.2f max_us=%.2f "
	       "errors=%" PRIu64 " srv_cpu_s=%.4f srv_busy_s=%.4f "
	       "srv_ctl_busy_s=%.4f lg_busy=%.3f lg_limited=%d "
	       "echo_backlog_max=%" PRIu64 " srv_fwd=%" PRIu64 "\n",
	       lg_workload_name(o->workload), o->label, lg.io->name,
	       o->use_plain, o->size, o->sockets, o->conns, o->depth, o->batch,
	       o->workload == LG_W_ECHO ? o->rate : 0, secs, lg.calls, units,
	       lg.empty, lg.bytes, lg.calls / secs, units / secs,
	       lg.bytes * 8 / secs / 1e9, p50, p99, p999, lg.hist.max / 1e3,
	       errors, isnan(srv_cpu) ? -1 : srv_cpu,
	       isnan(srv_busy) ? -1 : srv_busy, isnan(ctl_busy) ? -1 : ctl_busy,
	       lg_busy, lg_busy > 0.9, lg.echo_backlog_max,
	       busy_ok ? lg.srv_fwd[1] - lg.srv_fwd[0] : 0);
	if (o->cdf_path != NULL && lg_hist_write_cdf(&lg.hist, o->cdf_path) < 0)
		fprintf(stderr, "remsock-loadgen: cannot write %s: %s\n",
			o->cdf_path, strerror(errno));
}

static int setup_common(const struct lg_opts *o)
{
	size_t psize = LG_PATTERN_MOD + (o->size > 65536 ? o->size : 65536);

	lg.o = o;
	lg.now_ns = mono_ns;
	lg.pattern = malloc(psize);
	if (lg.pattern == NULL)
		return -1;
	for (size_t i = 0; i < psize; i++)
		lg.pattern[i] = (uint8_t)(i % LG_PATTERN_MOD);
	return 0;
}

static int finish(void)
{
	uint64_t errors = lg.errors_total + lg_peer_verify_errors;

	if (!lg.failed)
		lg_report();
	if (lg.failed)
		printf("result workload=%s server=%s error=1 why=\"%s\"\n",
		       lg_workload_name(lg.o->workload), lg.o->label, lg.why);
	else if (errors != 0)
		fprintf(stderr, "remsock-loadgen: %" PRIu64 " errors\n",
			errors);
	return lg.failed || errors != 0 ? EXIT_FAIL : EXIT_OK;
}

/* ---- kernel mode ------------------------------------------------------- */

static int run_kernel(const struct lg_opts *o)
{
	uint64_t deadline = mono_ns() + (uint64_t)o->timeout_s * 1000000000ull;

	if (lg_kern_init() < 0) {
		perror("remsock-loadgen: epoll");
		return EXIT_FAIL;
	}
	lg.io = &lg_io_kern;
	if (lg_peers_start() < 0 || lg_work_start() < 0)
		goto out;
	while (!lg.done && !stop_signal) {
		uint64_t due = lg_work_next_due_ns(), now = mono_ns();
		struct timespec t = {0, 10 * 1000000L}; /* phases: 10 ms */

		if (due != UINT64_MAX)
			t.tv_nsec = due > now
					? (long)RTE_MIN(due - now, 10000000ull)
					: 0;
		if (lg_kern_poll(&t) < 0 && errno != EINTR) {
			lg_fail("epoll: %s", strerror(errno));
			break;
		}
		lg_work_tick();
		if (mono_ns() > deadline)
			lg_fail("time limit of %u s reached", o->timeout_s);
	}
	if (stop_signal)
		lg_fail("stopped by a signal");
out:
	lg_work_stop();
	lg_peers_stop();
	return finish();
}

/* ---- DPDK mode ----------------------------------------------------------- */

static struct rs_dp *dp;

static uint64_t dp_busy_cycles(void)
{
	struct rs_dp_stats st;

	rs_dp_stats_read(dp, 0, &st);
	return st.busy_cycles;
}

static int app_init(struct rs_lcore *lc, void *arg)
{
	(void)arg;
	/* One worker runs the load; with several, the others only steer
	 * packets to it. */
	if (rs_lcore_index(lc) != 0)
		return -1;
	lg_dpdk_bind(lc);
	if (lg_peers_start() < 0 || lg_work_start() < 0)
		return -1;
	return 0;
}

static int app_poll(struct rs_lcore *lc, void *arg)
{
	(void)lc;
	(void)arg;
	return lg_work_tick();
}

static void app_fini(struct rs_lcore *lc, void *arg)
{
	(void)lc;
	(void)arg;
	lg_work_stop();
	lg_peers_stop();
}

static int run_dpdk(const struct lg_opts *o)
{
	const struct timespec tick = {0, 10 * 1000000L};
	struct rs_config cfg;
	char err[1024];
	uint64_t deadline;
	int rc;

	if (rs_config_load_file(&cfg, o->config, err, sizeof(err)) < 0) {
		fprintf(stderr, "remsock-loadgen: %s\n", err);
		return EXIT_USAGE;
	}
	/* One thread plays every part; further workers (a port of several
	 * queue pairs, such as a server's with as many) only steer packets
	 * to it. */
	lg.io = &lg_io_dpdk;
	if (lg.o->self.sin_addr.s_addr == 0) {
		struct lg_opts *mo = (struct lg_opts *)o;

		mo->self.sin_family = AF_INET;
		mo->self.sin_addr.s_addr = cfg.net.ip;
		if (mo->peer_at.sin_addr.s_addr == 0)
			mo->peer_at = mo->self;
	}
	if (rs_dp_eal_init(&cfg, 0, NULL) < 0)
		return EXIT_FAIL;
	dp = rs_dp_create(&cfg);
	if (dp == NULL) {
		rte_eal_cleanup();
		return EXIT_FAIL;
	}
	lg.self_busy_cycles = dp_busy_cycles;
	lg.tsc_hz = rte_get_tsc_hz();
	if (rs_dp_signals_install(on_signal) < 0 ||
	    rs_dp_set_app(dp, app_init, app_poll, app_fini, NULL) < 0 ||
	    rs_dp_start(dp) < 0) {
		rs_dp_destroy(dp);
		rte_eal_cleanup();
		fprintf(stderr, "remsock-loadgen: data plane not started\n");
		return EXIT_FAIL;
	}
	fprintf(stderr, "remsock-loadgen: ready (DPDK)\n");
	deadline = mono_ns() + (uint64_t)o->timeout_s * 1000000000ull;
	while (!__atomic_load_n(&lg.done, __ATOMIC_ACQUIRE) && !stop_signal) {
		nanosleep(&tick, NULL);
		if (mono_ns() > deadline)
			break;
	}
	rs_dp_stop(dp);
	if (stop_signal)
		lg_fail("stopped by a signal");
	else if (!lg.done)
		lg_fail("time limit of %u s reached", o->timeout_s);
	rc = finish();
	rs_dp_destroy(dp);
	rte_eal_cleanup();
	return rc;
}

int main(int argc, char **argv)
{
	static struct lg_opts o;
	int rc = opts_parse(argc, argv, &o);

	if (rc >= 0)
		return rc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup_common(&o) < 0) {
		fprintf(stderr, "remsock-loadgen: no memory\n");
		return EXIT_FAIL;
	}
	if (o.kernel) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		return run_kernel(&o);
	}
	return run_dpdk(&o);
}
