/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * remsockd: the daemon.
 *
 * main() sits on top of every other folder.  The main lcore is the
 * control thread: it reads the configuration, brings the data plane up
 * (net/, with dataplane/'s workers' half as its application) and the
 * control half (control/), then waits -- printing counters when asked --
 * until SIGINT or SIGTERM, and takes the data plane down again.  It is
 * the only place that exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_log.h>

#include "rs_acl.h"
#include "rs_apps.h"
#include "rs_config.h"
#include "rs_dataplane.h"
#include "rs_log.h"
#include "rs_svc.h"
#include "rs_svc_ctl.h"
#include "rs_svc_dp.h"
#include "telemetry.h"

#ifndef RS_VERSION
#define RS_VERSION "unknown"
#endif
#ifndef RS_SYSCONFDIR
#define RS_SYSCONFDIR "/etc"
#endif

/* Exit codes, as --help documents them. */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct opts {
	const char *config;   /* NULL: the embedded default */
	bool check;	      /* --check-config */
	bool test_secrets;    /* --test-secrets */
	bool print_default;   /* --print-default-config */
	unsigned stats_every; /* seconds; 0: no periodic line */
	bool verbose;	      /* -v: DPDK's start-up lines too */
	int eal_argc;	      /* arguments after "--" */
	char **eal_argv;
};

/* Set by the signal handlers, read by the main loop: the only globals,
 * because a signal handler cannot be given an argument. */
static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t reload_signal;

static const char usage_text[] =
    "NAME\n"
    "    remsockd - kernel-bypass remote socket proxy\n"
    "\n"
    "SYNOPSIS\n"
    "    remsockd [-c FILE] [-v] [--stats-interval SECS] [-- EAL-ARG...]\n"
    "    remsockd [-c FILE] [--test-secrets] --check-config\n"
    "    remsockd --print-default-config\n"
    "    remsockd --help | --version\n"
    "\n"
    "DESCRIPTION\n"
    "    remsockd holds sockets on behalf of programs that may not open\n"
    "    them, and serves them over RPC.  Its data path bypasses the\n"
    "    kernel: DPDK poll-mode workers drive one port through a\n"
    "    userspace TCP/IP stack (ARP, IPv4, ICMP, UDP, TCP).\n"
    "\n"
    "    Clients connect over TCP to [net] ip, port [rpc] listen_port\n"
    "    (5757), on the DPDK port itself, and send framed RPCs: a 4-byte\n"
    "    big-endian length, then a remsock.rpc.RpcRequest (proto/rpc.proto)\n"
    "    whose body is one of App Engine's remote_socket requests\n"
    "    (proto/remote_socket.proto).  The first call on a connection must\n"
    "    be remsock.Authenticate with an app id and secret from [apps].\n"
    "    Calls are pipelined and answered as they complete.  Send,\n"
    "    Receive and Poll are served on the worker that holds the\n"
    "    connection; CreateSocket, Connect, Close and the other methods\n"
    "    are checked by the control thread (descriptors, [acl], [quotas])\n"
    "    and carried out on the worker.  Resolve answers numeric names\n"
    "    and [hosts] itself and asks [dns] servers through the proxy's\n"
    "    own UDP stack (c-ares), never the kernel's resolver.\n"
    "\n"
    "    With [rpc] http_port set, the same service also answers App\n"
    "    Engine's API-host protocol there: HTTP/1.1 POST /rpc_http with a\n"
    "    remote_api Request body whose request_id is APP_ID:SECRET\n"
    "    (docs/appengine.md).\n"
    "\n"
    "    It initialises the EAL from [eal] args, probes the port named by\n"
    "    [port] devargs (any PMD: net_tap, virtio_user, a PCI NIC), gives\n"
    "    each worker lcore one RX/TX queue pair, waits for link up, prints\n"
    "    a banner (port, MAC, address, negotiated offloads,\n"
    "    workers, RPC port) and runs in the foreground.  SIGINT or\n"
    "    SIGTERM stops it: the workers stop accepting, answer every call\n"
    "    still waiting RPC_CANCELLED (rpc.stop_answered), close every\n"
    "    connection and socket and give TCP ones [tcp] close_grace_ms to\n"
    "    finish (those that did not: tcp_conns_at_stop); then the port\n"
    "    closes and the final counters are printed.\n"
    "\n"
    "    SIGHUP reads FILE again and puts its [acl], [hosts], [apps],\n"
    "    [quotas] and [dns] in force at once, connections, sockets and\n"
    "    queries in flight kept (what a reload changed is printed).  An app no "
    "longer in [apps] cannot\n"
    "    authenticate again; its connections and sockets stay until they\n"
    "    close.  With a TLS port it also reads [rpc]'s TLS files again\n"
    "    (tls_cert, tls_key, tls_client_ca, tls_client_crl: a rotated\n"
    "    certificate, a new CRL) for the connections that come next.\n"
    "    A FILE that does not parse, or that changes anything else\n"
    "    (only a restart applies that), is refused with the reason, and\n"
    "    the running configuration stays whole.\n"
    "\n"
    "OPTIONS\n"
    "    -c, --config FILE\n"
    "        Read FILE (INI) instead of the embedded default\n"
    "        configuration.  Keys FILE leaves out take the default's\n"
    "        values; [port] devargs and [net] ip are required.  FILE\n"
    "        names its own [apps]: a secret published in remsock's own\n"
    "        files (the demo's) or the example's CHANGE-ME placeholder\n"
    "        is refused.\n"
    "    --test-secrets\n"
    "        On a test machine: let FILE use the published demo secrets,\n"
    "        or leave [apps] out and keep the embedded demo app.\n"
    "    --check-config\n"
    "        Validate the configuration, print the verdict and exit.\n"
    "        Needs neither root nor hugepages.\n"
    "    --print-default-config\n"
    "        Print the embedded default configuration, with comments on\n"
    "        every key: a starting point for FILE.\n"
    "    -v, --verbose\n"
    "        Print what DPDK says while remsockd starts (EAL, the port's\n"
    "        driver).  Without it those lines are kept back and printed\n"
    "        only if the start fails: they are the driver's notes on\n"
    "        what it does without (1 GiB hugepages, a tap's multiq qdisc,\n"
    "        secondary processes), not errors of remsockd.\n"
    "    --stats-interval SECS\n"
    "        Print one line of counters every SECS seconds (1-3600),\n"
    "        after the time (UTC, e.g. 2026-12-07T01:52:50.123Z).\n"
    "        Default: only at exit.\n"
    "    -h, --help\n"
    "        Print this help and exit.\n"
    "    -V, --version\n"
    "        Print the version and exit.\n"
    "    -- EAL-ARG...\n"
    "        Arguments for the DPDK EAL, appended to [eal] args, e.g.\n"
    "        -- --log-level=pmd.net.tap:debug.  The EAL refuses some\n"
    "        options given twice (such as -l): change those in the file.\n"
    "\n"
    "FILES\n"
    "    " RS_SYSCONFDIR "/remsock/remsockd.ini\n"
    "        The configuration meson install puts in place (from\n"
    "        nic-example.ini, when there is none): run remsockd -c on it\n"
    "        once its [port], [net] and [apps] are yours.\n"
    "    configs/default.ini\n"
    "        The embedded default: tap mode, port net_tap0 with kernel\n"
    "        interface rs-tap0, address 198.18.0.2/24, idle back-off on.\n"
    "    configs/virtio.ini\n"
    "        virtio_user over a vhost-user socket (test network).\n"
    "    configs/nic-example.ini\n"
    "        A PCI NIC bound to vfio-pci.\n"
    "        (Installed, the three are in share/remsock/examples/.)\n"
    "\n"
    "    PREFIX/lib/systemd/system/remsockd.service\n"
    "        The systemd unit meson install puts in place: Type=notify\n"
    "        (remsockd says READY=1 to $NOTIFY_SOCKET when its workers\n"
    "        serve, STOPPING=1 at SIGINT or SIGTERM), running it on\n"
    "        the configuration above.\n"
    "    /run/remsock/port-KEY.lock\n"
    "        Held while remsockd runs (it holds its PID): a second\n"
    "        remsockd on the same port (KEY: the interface, socket path or\n"
    "        device of [port] devargs) refuses to start.\n"
    "\n"
    "    Hugepages must be reserved (as root: echo 256 >\n"
    "    /proc/sys/vm/nr_hugepages; mount -t hugetlbfs nodev\n"
    "    /dev/hugepages unless [eal] args has --in-memory).\n"
    "\n"
    "LOG\n"
    "    Events an operator wants a line for go through DPDK's rte_log\n"
    "    (stdout and syslog), stamped with the UTC time and the component:\n"
    "    remsock.port (link changes; a drop reason above 100 packets a\n"
    "    second), remsock.service (start, stop), remsock.control\n"
    "    (reloads), remsock.auth (failed authentications), remsock.acl\n"
    "    (denials), remsock.quota (refusals), remsock.arp, remsock.tcp,\n"
    "    remsock.dns, remsock.http.  Lines a tenant can cause at will are\n"
    "    limited to 10 a second a thread, the rest counted on the next.\n"
    "    Levels: NOTICE and above by default; at start with EAL's\n"
    "    --log-level (remsockd -- --log-level=remsock.auth:debug), at\n"
    "    run time with the telemetry command /remsock/log,COMPONENT,LEVEL.\n"
    "\n"
    "COUNTERS\n"
    "    Every received packet is either handled (answered, or learned\n"
    "    from) or dropped for a named reason; 'unexplained' is what is\n"
    "    neither, and is 0 unless remsockd has a bug.  A running\n"
    "    remsockd reports its counters to an authenticated client through\n"
    "    remsock.Stats ('remsock stats').\n"
    "\n"
    "EXIT STATUS\n"
    "    0   stopped by SIGINT or SIGTERM; or the configuration is valid\n"
    "    1   run-time failure: another remsockd holds the port, EAL\n"
    "        (hugepages, privileges), port, link, RPC listener; or mbufs,\n"
    "        sockets or service entries leaked at exit\n"
    "    2   usage error, or the configuration is invalid\n"
    "\n"
    "EXAMPLES\n"
    "    remsockd --check-config --test-secrets -c configs/virtio.ini\n"
    "    remsockd --stats-interval 5\n"
    "    remsockd -c my.ini -- --log-level=pmd.net.tap:debug\n"
    "    scripts/demo.sh    (tap mode end to end: an HTTP GET through\n"
    "                        the proxy)\n";

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int parse_interval(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < 1 ||
	    v > 3600)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* @return -1 to go on, or the exit code. */
static int opts_parse(int argc, char **argv, struct opts *o)
{
	enum { O_CHECK = 256, O_PRINT, O_STATS, O_TEST_SECRETS };
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, O_CHECK},
	    {"test-secrets", no_argument, NULL, O_TEST_SECRETS},
	    {"print-default-config", no_argument, NULL, O_PRINT},
	    {"stats-interval", required_argument, NULL, O_STATS},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	/* '+': stop at the first non-option, so that EAL arguments after
	 * "--" are left alone. */
	while ((c = getopt_long(argc, argv, "+c:hvV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case O_CHECK:
			o->check = true;
			break;
		case O_TEST_SECRETS:
			o->test_secrets = true;
			break;
		case O_PRINT:
			o->print_default = true;
			break;
		case O_STATS:
			if (parse_interval(optarg, &o->stats_every) == 0)
				break;
			fprintf(stderr,
				"remsockd: --stats-interval: '%s' is "
				"not a number of seconds (1-3600)\n",
				optarg);
			return EXIT_USAGE;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		case 'V':
			printf("remsockd %s\n", RS_VERSION);
			return EXIT_OK;
		default:
			fprintf(stderr, "Try 'remsockd --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc && strcmp(argv[optind - 1], "--") != 0) {
		fprintf(stderr,
			"remsockd: unexpected argument '%s' (EAL "
			"arguments go after '--')\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	o->eal_argc = argc - optind;
	o->eal_argv = argv + optind;
	return -1;
}

static void offloads_print(const char *dir, uint64_t got, uint64_t offered,
			   const char *(*name)(uint64_t))
{
	const char *sep = "";

	printf("  %-9s ", dir);
	if (got == 0)
		printf("none (in software)");
	for (unsigned b = 0; b < 64; b++) {
		if (got & (1ull << b)) {
			printf("%s%s", sep, name(1ull << b));
			sep = " ";
		}
	}
	if (got != offered)
		printf(" (offered: %#" PRIx64 ")", offered);
	printf("\n");
}

/* systemd's readiness protocol (sd_notify(3)), without libsystemd: a
 * datagram to $NOTIFY_SOCKET (a path, or '@' for an abstract name) when
 * it is set (Type=notify), nothing otherwise. */
static void notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(
		fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		(socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		fprintf(stderr, "remsockd: warning: NOTIFY_SOCKET %s: %s\n",
			path, strerror(errno));
	close(fd);
}

static void banner_print(const struct rs_dp *dp, const struct rs_config *cfg)
{
	struct rs_dp_info in;
	char ip[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN] = "none";

	rs_dp_info_get(dp, &in);
	inet_ntop(AF_INET, &cfg->net.ip, ip, sizeof(ip));
	if (cfg->net.gateway != 0)
		inet_ntop(AF_INET, &cfg->net.gateway, gw, sizeof(gw));
	printf("remsockd %s: config %s\n", RS_VERSION, cfg->source);
	printf("  port      %u %s (driver %s), devargs %s\n", in.port_id,
	       in.port_name, in.driver, cfg->port.devargs);
	printf("  link      %s", in.link_up ? "up" : "down");
	if (in.link_speed != 0)
		printf(", %u Mbps %s-duplex", in.link_speed,
		       in.link_full_duplex ? "full" : "half");
	printf("\n  mac       %02x:%02x:%02x:%02x:%02x:%02x\n", in.mac[0],
	       in.mac[1], in.mac[2], in.mac[3], in.mac[4], in.mac[5]);
	printf("  ip        %s/%u, gateway %s, mtu %u\n", ip, cfg->net.prefix,
	       gw, in.mtu);
	offloads_print("rx offload", in.rx_offloads, in.rx_offloads_offered,
		       rte_eth_dev_rx_offload_name);
	offloads_print("tx offload", in.tx_offloads, in.tx_offloads_offered,
		       rte_eth_dev_tx_offload_name);
	/* net_tap gives the kernel side the port's MAC, so a peer there
	 * looks to ARP like someone claiming our MAC. */
	if (strcmp(in.driver, "net_tap") == 0)
		printf(
		    "  note      the kernel side of net_tap starts with this "
		    "MAC too: give it another\n"
		    "            (ip link set IFACE address ...) before "
		    "talking to the proxy\n");
	printf("  queues    %u RX / %u TX descriptors per queue, %u mbufs\n",
	       in.rx_desc, in.tx_desc, in.mbufs);
	printf("  workers   %u:", in.workers);
	for (unsigned i = 0; i < in.workers; i++)
		printf(" lcore %u (queue %u)", in.worker_lcore[i], i);
	if (cfg->workers.idle_backoff)
		printf("; idle back-off on (after %u empty polls, sleeps up "
		       "to %u us)\n",
		       cfg->workers.idle_polls, cfg->workers.idle_sleep_max_us);
	else
		printf("; idle back-off off (busy polling)\n");
	if (cfg->rpc.listen_port != 0)
		printf("  rpc       %s:%u (remote_socket service, %u app%s)\n",
		       ip, cfg->rpc.listen_port, cfg->napps,
		       cfg->napps == 1 ? "" : "s");
	if (cfg->rpc.tls_port != 0)
		printf("  rpc-tls   %s:%u (the same, in TLS 1.3)\n", ip,
		       cfg->rpc.tls_port);
	if (cfg->rpc.http_port != 0)
		printf(
		    "  http      %s:%u (App Engine API host, POST /rpc_http)\n",
		    ip, cfg->rpc.http_port);
	if (cfg->rpc.https_port != 0)
		printf("  https     %s:%u (the same, in TLS 1.3)\n", ip,
		       cfg->rpc.https_port);
	printf("remsockd: ready; SIGINT or SIGTERM stops it\n");
	rs_log(RS_LOG_SERVICE, RTE_LOG_NOTICE,
	       "started: pid %d, %s on port %s, %u worker%s, %u app%s",
	       (int)getpid(), ip, in.port_name, in.workers,
	       in.workers == 1 ? "" : "s", cfg->napps,
	       cfg->napps == 1 ? "" : "s");
	notify("READY=1\nSTATUS=serving");
}

static uint64_t drops_sum(const struct rs_dp_stats *st)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++)
		sum += st->drops[i];
	return sum;
}

/* Received packets neither handled nor dropped for a reason.  Signed:
 * while workers run, the counters are not read at one instant. */
static int64_t unexplained(const struct rs_dp_stats *st)
{
	return (int64_t)(st->rx_pkts - st->handled - drops_sum(st));
}

/* One line of counters, after the time (UTC, ISO 8601), so that a log of
 * them can be read against other logs. */
static void stats_line_print(const struct rs_dp *dp)
{
	struct rs_dp_stats st;
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	rs_dp_stats_read(dp, -1, &st);
	printf("%s.%03ldZ stats: rx %" PRIu64 " pkts %" PRIu64 " B, tx %" PRIu64
	       " pkts %" PRIu64 " B, handled %" PRIu64 ", dropped %" PRIu64,
	       when, ts.tv_nsec / 1000000, st.rx_pkts, st.rx_bytes, st.tx_pkts,
	       st.tx_bytes, st.handled, drops_sum(&st));
	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++)
		if (st.drops[i] != 0)
			printf(" %s=%" PRIu64, rs_dp_drop_name(i), st.drops[i]);
	printf(", tx_dropped %" PRIu64 ", unexplained %" PRId64 "\n",
	       st.tx_dropped, unexplained(&st));
}

static void final_print(const struct rs_dp *dp, unsigned leaked)
{
	struct rs_dp_stats st;
	struct rs_dp_info in;

	rs_dp_stats_read(dp, -1, &st);
	rs_dp_info_get(dp, &in);
	printf("final counters:\n");
	printf("  %-28s %" PRIu64 "\n", "rx_pkts", st.rx_pkts);
	printf("  %-28s %" PRIu64 "\n", "rx_bytes", st.rx_bytes);
	printf("  %-28s %" PRIu64 "\n", "tx_pkts", st.tx_pkts);
	printf("  %-28s %" PRIu64 "\n", "tx_bytes", st.tx_bytes);
	printf("  %-28s %" PRIu64 "\n", "handled", st.handled);
	printf("  %-28s %" PRIu64 "\n", "dropped", drops_sum(&st));
	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++)
		if (st.drops[i] != 0)
			printf("    drop.%-22s %" PRIu64 "  (%s)\n",
			       rs_dp_drop_name(i), st.drops[i],
			       rs_dp_drop_meaning(i));
	printf("  %-28s %" PRIu64 "\n", "tx_dropped", st.tx_dropped);
	for (unsigned i = 0; i < RS_DP_EV_MAX; i++)
		printf("  event.%-22s %" PRIu64 "\n", rs_dp_event_name(i),
		       st.events[i]);
	for (unsigned w = 0; w < in.workers; w++) {
		rs_dp_stats_read(dp, (int)w, &st);
		printf("  worker %u (lcore %u): rx %" PRIu64 " tx %" PRIu64
		       "\n",
		       w, in.worker_lcore[w], st.rx_pkts, st.tx_pkts);
	}
	rs_dp_stats_read(dp, -1, &st);
	printf("  %-28s %" PRId64 "\n", "unexplained", unexplained(&st));
	printf("  %-28s %u\n", "mbufs_in_use_after_close", leaked);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* TSC cycles the control thread spent serving entries (Stats'
 * control.busy_cycles): the benchmark's cost of a control-path call.
 * Written by the control thread, read by it (Stats runs there too). */
static uint64_t control_busy_cycles;

/*
 * The control thread's loop until a signal: serve the workers' entries;
 * when there are none, sleep -- doubling from 10 us up to [workers]
 * idle_sleep_max_us, or not at all without idle back-off -- and print a
 * stats line when one is due.
 */
static void on_hup(int sig)
{
	reload_signal = sig;
}

/* ---- SIGHUP: [acl], [hosts], [apps], [quotas] and [dns] read again ------ */

/* What a reload may not change, by section: the rest of the program
 * (ports, workers, rings...) is set up once. */
#define PART(what, f)                                                          \
	{                                                                      \
		what, offsetof(struct rs_config, f),                           \
		    sizeof(((struct rs_config *)0)->f)                         \
	}
static const struct {
	const char *name;
	size_t off, len;
} fixed_parts[] = {
    PART("[eal]", eal),	      PART("[port]", port),
    PART("[net]", net),	      PART("[workers]", workers),
    PART("[rpc]", rpc),	      PART("[sockets]", sockets),
    PART("[arp]", arp),	      PART("[tcp]", tcp),
    PART("[routes]", routes), PART("[routes]", nroutes),
    PART("[limits]", limits), PART("[service]", service),
};

/* What a reload found in @p next: NULL when only [acl], [hosts], [apps],
 * [quotas] and [dns] differ from @p cur, else the first section that
 * does. */
static const char *fixed_changed(const struct rs_config *cur,
				 const struct rs_config *next)
{
	for (size_t i = 0; i < RTE_DIM(fixed_parts); i++)
		if (memcmp((const uint8_t *)cur + fixed_parts[i].off,
			   (const uint8_t *)next + fixed_parts[i].off,
			   fixed_parts[i].len) != 0)
			return fixed_parts[i].name;
	return NULL;
}

/* Read the file again and put its [acl], [hosts], [apps], [quotas] and
 * [dns] in force, without touching a connection; anything else changed is
 * refused with the section named, and the running configuration stays
 * whole. */
static void reload(struct rs_config *cfg, const struct opts *o,
		   struct rs_svc_shared *sh, struct rs_svc_dp *sdp)
{
	struct rs_config *next = malloc(sizeof(*next));
	const struct rs_config_dns *old_dns = NULL;
	struct rs_config_dns *dns = NULL;
	struct rs_apps_changes ch;
	struct rs_acl *acl, *old;
	void *tls = NULL, *old_tls = NULL;
	bool dns_changed;
	const char *changed;
	char err[1024];
	int rc = -ENOMEM;

	notify("RELOADING=1");
	if (o->config == NULL) {
		rs_log(RS_LOG_CONTROL, RTE_LOG_ERR,
		       "SIGHUP: running on the embedded "
		       "default, there is no file to read again");
		goto out;
	}
	if (next != NULL)
		rc = rs_config_load_file(next, o->config, err, sizeof(err));
	if (rc == 0)
		rc = rs_config_check_secrets(next, o->test_secrets, err,
					     sizeof(err));
	if (rc < 0) {
		rs_log(RS_LOG_CONTROL, RTE_LOG_ERR,
		       "reload: %s; the running configuration "
		       "stays",
		       next != NULL ? err : strerror(ENOMEM));
		goto out;
	}
	changed = fixed_changed(cfg, next);
	if (changed != NULL) {
		rs_log(RS_LOG_CONTROL, RTE_LOG_ERR,
		       "reload refused: %s changed, which only a "
		       "restart applies (a reload takes [acl], [hosts], "
		       "[apps], [quotas] and [dns]); the running "
		       "configuration stays\n",
		       changed);
		goto out;
	}
	/* The TLS files, read again: a rotated certificate or key, a new
	 * CRL (the paths are [rpc]'s, which a reload keeps). */
	err[0] = '\0';
	tls = rs_svc_dp_tls_load(sdp, err, sizeof(err));
	if (tls == NULL && err[0] != '\0') {
		rs_log(RS_LOG_CONTROL, RTE_LOG_ERR,
		       "reload: %s; the running configuration stays", err);
		goto out;
	}
	acl = rs_acl_create_from_config(next, &rc);
	if (acl == NULL) {
		rs_svc_dp_tls_free(tls);
		rs_log(RS_LOG_CONTROL, RTE_LOG_ERR,
		       "reload: [acl]: %s; the running "
		       "configuration stays",
		       strerror(-rc));
		goto out;
	}
	dns_changed = memcmp(&cfg->dns, &next->dns, sizeof(cfg->dns)) != 0;
	if (dns_changed && (dns = malloc(sizeof(*dns))) == NULL) {
		rs_svc_dp_tls_free(tls);
		rs_acl_free(acl);
		rs_log(RS_LOG_CONTROL, RTE_LOG_ERR,
		       "reload: %s; the running "
		       "configuration stays",
		       strerror(ENOMEM));
		goto out;
	}
	if (rs_apps_update(sh->apps, next, &ch) < 0) {
		rs_svc_dp_tls_free(tls);
		free(dns);
		rs_acl_free(acl);
		rs_log(RS_LOG_CONTROL, RTE_LOG_ERR,
		       "reload: [apps]: more than %u apps, counting "
		       "those removed since the start (they keep their "
		       "number until a restart); the running configuration "
		       "stays\n",
		       RS_APPS_SLOTS);
		goto out;
	}
	old = rs_svc_acl_swap(sh, acl);
	if (tls != NULL)
		old_tls = rs_svc_dp_tls_swap(sdp, tls);
	if (dns_changed) {
		*dns = next->dns;
		old_dns = rs_svc_dns_swap(sh, dns);
	}
	/* Workers may hold the old [acl] and [dns] until their round ends,
	 * and the next reload may write the secrets' spare slots only then. */
	if (rs_svc_dp_quiesce(sdp, 5000) == 0) {
		rs_acl_free(old);
		/* Connections up keep their own reference to it. */
		rs_svc_dp_tls_free(old_tls);
		if (old_dns != &cfg->dns)
			free((void *)old_dns);
	} else {
		rs_log(RS_LOG_CONTROL, RTE_LOG_ERR,
		       "reload: a worker did not finish "
		       "its round in 5 s: the old [acl], [dns] and TLS "
		       "context are "
		       "kept in memory");
	}
	/* Control's own (it answers Resolve itself without servers); the
	 * workers read sh->dns. */
	cfg->dns = next->dns;
	/* [hosts] is the control thread's alone. */
	memcpy(cfg->acl, next->acl, sizeof(cfg->acl));
	cfg->nacl = next->nacl;
	memcpy(cfg->hosts, next->hosts, sizeof(cfg->hosts));
	cfg->nhosts = next->nhosts;
	/* What the next reload compares with (the workers read the apps'
	 * table, not these). */
	memcpy(cfg->apps, next->apps, sizeof(cfg->apps));
	cfg->napps = next->napps;
	cfg->apps_given = next->apps_given;
	cfg->quotas = next->quotas;
	memcpy(cfg->quota_overrides, next->quota_overrides,
	       sizeof(cfg->quota_overrides));
	cfg->nquota_overrides = next->nquota_overrides;
	rs_log(RS_LOG_CONTROL, RTE_LOG_NOTICE,
	       "reload: %s: [acl] %u rule%s, [hosts] %u name%s, "
	       "[apps] %u (%u added, %u changed, %u removed), [dns] %u "
	       "server%s%s%s in force",
	       o->config, cfg->nacl, cfg->nacl == 1 ? "" : "s", cfg->nhosts,
	       cfg->nhosts == 1 ? "" : "s", cfg->napps, ch.added, ch.changed,
	       ch.removed, cfg->dns.nservers, cfg->dns.nservers == 1 ? "" : "s",
	       dns_changed ? " (changed)" : "",
	       tls != NULL ? ", the TLS files read again" : "");
out:
	free(next);
	notify("READY=1");
}

/* Drops of one reason in one second above which a line is logged. */
#define DROPS_LOG_PER_S 100

/* What the control thread watches once a second for the log: the link,
 * and drops by reason crossing DROPS_LOG_PER_S. */
struct watch_state {
	uint64_t next_ns;
	bool link_up;
	uint64_t drops[RS_DP_DROP_MAX];
};

static void watch_tick(const struct rs_dp *dp, struct watch_state *ws)
{
	struct rs_dp_stats st;
	struct rs_dp_info info;
	uint64_t now = now_ns(), d;

	if (now < ws->next_ns)
		return;
	ws->next_ns = now + 1000000000ull;
	rs_dp_info_get(dp, &info);
	if (info.link_up != ws->link_up)
		rs_log(RS_LOG_PORT, info.link_up ? RTE_LOG_NOTICE : RTE_LOG_ERR,
		       "port %s: link %s%s", info.port_name,
		       info.link_up ? "up" : "down",
		       info.link_up ? "" : ": nothing is sent or received");
	ws->link_up = info.link_up;
	rs_dp_stats_read(dp, -1, &st);
	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++) {
		d = st.drops[i] - ws->drops[i];
		if (d > DROPS_LOG_PER_S)
			rs_log(RS_LOG_PORT, RTE_LOG_WARNING,
			       "drop.%s: %llu packets in the last second (%s)",
			       rs_dp_drop_name(i), (unsigned long long)d,
			       rs_dp_drop_meaning(i));
		ws->drops[i] = st.drops[i];
	}
}

static void control_loop(struct rs_config *cfg, const struct opts *o,
			 const struct rs_dp *dp, struct rs_svc_ctl *ctl,
			 struct rs_svc_shared *sh, struct rs_svc_dp *sdp)
{
	unsigned every = o->stats_every;
	uint64_t next = now_ns() + (uint64_t)every * 1000000000ull;
	unsigned sleep_us = 10, max_us = cfg->workers.idle_sleep_max_us;
	struct watch_state ws = {.link_up = true};

	while (!stop_signal) {
		uint64_t t0 = rte_rdtsc();

		watch_tick(dp, &ws);
		if (reload_signal) {
			reload_signal = 0;
			reload(cfg, o, sh, sdp);
		}
		if (rs_svc_ctl_poll(ctl, 256) != 0) {
			control_busy_cycles += rte_rdtsc() - t0;
			sleep_us = 10;
			continue;
		}
		if (cfg->workers.idle_backoff) {
			struct timespec t = {0, (long)sleep_us * 1000};

			nanosleep(&t, NULL);
			sleep_us =
			    sleep_us * 2 > max_us ? max_us : sleep_us * 2;
		}
		if (every != 0 && now_ns() >= next) {
			stats_line_print(dp);
			next += (uint64_t)every * 1000000000ull;
		}
	}
	printf("remsockd: %s received, stopping\n",
	       stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
	rs_log(RS_LOG_SERVICE, RTE_LOG_NOTICE, "stopping (%s)",
	       stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
	notify("STOPPING=1\nSTATUS=stopping: closing every socket");
}

/* What remsock.Stats reports: the counters remsockd prints at exit. */
struct counters_src {
	const struct rs_svc_shared *sh;
	const struct rs_dp *dp;
	struct rs_svc_ctl *ctl;
	const struct rs_svc_dp *sdp;
	/* The ACL's denials too: not from the telemetry thread (a reload
	 * frees the old ACL once the workers, not it, let go). */
	bool acl;
};

/* Denials by ACL rule, those not zero: acl.denied.KIND.NAME (blanks and
 * parentheses of built-in names made '_'). */
static void acl_counters(const struct rs_acl *acl, rs_svc_counter_fn emit,
			 void *arg)
{
	static const char *const kind[] = {
	    [RS_ACL_PINNED] = "pinned",
	    [RS_ACL_CONFIG] = "acl",
	    [RS_ACL_BUILTIN] = "builtin",
	    [RS_ACL_DEFAULT] = "default",
	};
	const struct rs_acl_rule *r;
	char name[RS_ACL_NAME_MAX + 32];
	uint64_t n;

	for (unsigned i = 0; i < rs_acl_rule_count(acl); i++) {
		n = rs_acl_denials(acl, i, &r);
		if (n == 0)
			continue;
		snprintf(name, sizeof(name), "acl.denied.%s.%s",
			 kind[r->origin], r->name);
		for (char *p = name; *p != '\0'; p++)
			if (*p == ' ' || *p == '(' || *p == ')')
				*p = '_';
		emit(arg, name, n);
	}
}

/* The service's rpc.* counters, for the exit report and for Stats. */
static void service_counters(const struct counters_src *src,
			     rs_svc_counter_fn emit, void *arg)
{
	struct rs_svc_ctl_stats cs;
	struct rs_svc_dp_stats ds;

	rs_svc_ctl_stats_get(src->ctl, &cs);
	rs_svc_dp_stats_get(src->sdp, &ds);
	const struct {
		const char *name;
		uint64_t v;
	} rows[] = {
	    {"rpc.conns_accepted", ds.conns_accepted},
	    {"rpc.auth_failed", ds.auth_failed},
	    {"rpc.auth_timeouts", ds.auth_timeouts},
	    {"rpc.auth_blocked", ds.auth_blocked},
	    {"rpc.tls_failed", ds.tls_failed},
	    {"rpc.dns_dropped", ds.dns_dropped},
	    {"rpc.conns_refused", ds.conns_refused},
	    {"rpc.http_slow", ds.http_slow},
	    {"rpc.calls", ds.calls},
	    {"rpc.forwarded", ds.forwarded},
	    {"rpc.control_execs", cs.execs},
	    {"rpc.control_answered", cs.answered},
	    {"rpc.parked", ds.parked},
	    {"rpc.woken", ds.woken},
	    {"rpc.expired", ds.expired},
	    {"rpc.cancelled", ds.cancelled},
	    {"rpc.stop_answered", ds.stop_answered},
	    {"rpc.busy", ds.busy},
	    {"rpc.starved", ds.starved},
	    {"rpc.reaped", ds.reaped},
	    {"rpc.session_closed", ds.session_closed},
	    {"rpc.sessions_full", ds.sessions_full},
	    {"rpc.close_deferred", ds.close_deferred},
	    {"rpc.close_overdue", ds.close_overdue},
	    {"rpc.gone_lost", ds.gone_lost},
	    {"rpc.fwd_out", ds.fwd_out},
	    {"rpc.fwd_in", ds.fwd_in},
	    {"rpc.splits", ds.splits},
	    {"rpc.http_requests", ds.http_requests},
	    {"rpc.http_errors", ds.http_errors},
	    {"rpc.http_idle_closed", ds.http_idle},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		emit(arg, rows[i].name, rows[i].v);
	if (src->acl)
		acl_counters(rs_svc_acl(src->sh), emit, arg);
}

/* remsock.Stats' source: rpc.*, gauges, the data plane's packets and
 * its drops and events that are not zero. */
static void stats_counters(void *srcp, rs_svc_counter_fn emit, void *arg)
{
	const struct counters_src *src = srcp;
	struct rs_svc_dp_stats ds;
	struct rs_svc_ctl_stats cs;
	struct rs_dp_stats st, one;
	char name[64];

	service_counters(src, emit, arg);
	rs_svc_dp_stats_get(src->sdp, &ds);
	rs_svc_ctl_stats_get(src->ctl, &cs);
	emit(arg, "rpc.conns_open", ds.conns_open);
	emit(arg, "rpc.socks_open", ds.socks_open);
	emit(arg, "rpc.waits", ds.waits);
	emit(arg, "rpc.out_bytes", ds.out_bytes);
	emit(arg, "rpc.descriptors", cs.descriptors);
	rs_dp_stats_read(src->dp, -1, &st);
	emit(arg, "rx_pkts", st.rx_pkts);
	emit(arg, "rx_bytes", st.rx_bytes);
	emit(arg, "tx_pkts", st.tx_pkts);
	emit(arg, "tx_bytes", st.tx_bytes);
	emit(arg, "handled", st.handled);
	emit(arg, "dropped", drops_sum(&st));
	emit(arg, "tx_dropped", st.tx_dropped);
	emit(arg, "mbufs.in_use", rs_dp_mbufs_in_use(src->dp));
	emit(arg, "mbufs.size", src->sh->cfg->port.mbufs);
	/* The cost side of the benchmark: busy cycles over the TSC's rate. */
	emit(arg, "worker.busy_cycles", st.busy_cycles);
	emit(arg, "worker.busy_loops", st.busy_loops);
	/* Each worker's own (GET /metrics labels them by worker). */
	for (int k = 0; rs_dp_stats_read(src->dp, k, &one) == 0; k++) {
		snprintf(name, sizeof(name), "worker.%d.busy_cycles", k);
		emit(arg, name, one.busy_cycles);
		snprintf(name, sizeof(name), "worker.%d.busy_loops", k);
		emit(arg, name, one.busy_loops);
		snprintf(name, sizeof(name), "worker.%d.rx_pkts", k);
		emit(arg, name, one.rx_pkts);
		snprintf(name, sizeof(name), "worker.%d.tx_pkts", k);
		emit(arg, name, one.tx_pkts);
	}
	rs_svc_ring_counters(src->sh, emit, arg);
	/* TCP connections by state (listeners are not connections). */
	for (unsigned s = 0; s < RS_TCP_STATE_MAX; s++) {
		if (s == RS_TCP_LISTEN)
			continue;
		snprintf(name, sizeof(name), "tcp_state.%s",
			 rs_tcp_state_name(s));
		emit(arg, name, st.tcp_states[s]);
	}
	emit(arg, "control.busy_cycles", control_busy_cycles);
	emit(arg, "tsc_hz", rte_get_tsc_hz());
	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++) {
		if (st.drops[i] == 0)
			continue;
		snprintf(name, sizeof(name), "drop.%s", rs_dp_drop_name(i));
		emit(arg, name, st.drops[i]);
	}
	for (unsigned i = 0; i < RS_DP_EV_MAX; i++) {
		if (st.events[i] == 0)
			continue;
		snprintf(name, sizeof(name), "event.%s", rs_dp_event_name(i));
		emit(arg, name, st.events[i]);
	}
}

static void counter_print(void *arg, const char *name, uint64_t value)
{
	(void)arg;
	printf("  %-28s %" PRIu64 "\n", name, value);
}

/* The service's counters and the leak check; @return entries leaked. */
static unsigned service_print(struct rs_svc_shared *sh,
			      const struct counters_src *src)
{
	struct rs_svc_ctl_stats cs;
	struct rs_svc_dp_stats ds;
	unsigned in_use;

	/* What the workers sent while stopping (descriptors they gave up). */
	while (rs_svc_ctl_poll(src->ctl, 1024) != 0)
		;
	service_counters(src, counter_print, NULL);
	rs_svc_ctl_stats_get(src->ctl, &cs);
	rs_svc_dp_stats_get(src->sdp, &ds);
	rs_svc_shared_drain(sh); /* answers for connections now closed */
	in_use = rs_svc_msgs_in_use(sh);
	/* Descriptors control still holds name sockets the workers closed
	 * at the stop: they are forgotten with the table. */
	printf("  %-28s %u\n", "rpc.descriptors_at_stop", cs.descriptors);
	printf("service leak: conns_open=%" PRIu64 " socks_open=%" PRIu64
	       " waits=%" PRIu64 " msgs_in_use=%u\n",
	       ds.conns_open, ds.socks_open, ds.waits, in_use);
	return (unsigned)(ds.conns_open + ds.socks_open + ds.waits) + in_use;
}

/* ---- one remsockd a port ------------------------------------------------ */

#define LOCK_DIR "/run/remsock"

/* What names the port's device in [port] devargs: its kernel interface
 * or socket path where it has one (two names for one tap, "net_tap0" and
 * "net_tap1", are the same interface), else the device (a PCI address, a
 * vdev name); made safe for a file name. */
static void port_key(const char *devargs, char *key, size_t len)
{
	const char *pick = devargs;
	size_t n;

	for (const char *c = devargs; c != NULL; c = strchr(c, ',')) {
		c += *c == ',';
		if (strncmp(c, "iface=", 6) == 0 || strncmp(c, "path=", 5) == 0)
			pick = c;
	}
	for (n = 0; pick[n] != '\0' && pick[n] != ',' && n + 1 < len; n++) {
		char ch = pick[n];
		bool ok = (ch >= 'a' && ch <= 'z') ||
			  (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
			  ch == '=';

		key[n] = ok ? ch : '_';
	}
	key[n] = '\0';
}

/* Take the port's lock for the life of the process (the descriptor is
 * never closed: the kernel lets go at exit, however remsockd ends) and
 * write our PID into it; @p path receives the lock file's name, for
 * run() to remove at a clean exit ("" when no lock could be made: no
 * /run, which is only warned about).  A file removed by the remsockd
 * that held it, between our open and our lock, is not the lock any more:
 * open it anew.  @return 0, or -1 with the reason printed: another
 * remsockd runs on the port. */
static int port_lock(const struct rs_config *cfg, char *path, size_t len)
{
	struct stat held, now;
	char key[128], pid[32] = "";
	ssize_t n;
	int fd;

	port_key(cfg->port.devargs, key, sizeof(key));
	snprintf(path, len, "%s/port-%s.lock", LOCK_DIR, key);
	if (mkdir(LOCK_DIR, 0755) < 0 && errno != EEXIST)
		goto unlocked;
	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			goto unlocked;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0)
			break;
		if (fstat(fd, &held) == 0 && stat(path, &now) == 0 &&
		    held.st_ino == now.st_ino && held.st_dev == now.st_dev) {
			n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
			if (ftruncate(fd, 0) < 0 ||
			    write(fd, pid, (size_t)n) != n)
				fprintf(stderr,
					"remsockd: warning: %s: cannot write "
					"the pid: %s\n",
					path, strerror(errno));
			return 0;
		}
		close(fd);
	}
	if (errno != EWOULDBLOCK) {
		close(fd);
		goto unlocked;
	}
	n = read(fd, pid, sizeof(pid) - 1);
	pid[n > 0 ? n : 0] = '\0';
	pid[strcspn(pid, "\n")] = '\0';
	fprintf(stderr,
		"remsockd: [port] devargs '%s' is in use by another remsockd "
		"(pid %s; lock %s): stop it first, or give this one another "
		"port\n",
		cfg->port.devargs, pid[0] != '\0' ? pid : "unknown", path);
	close(fd);
	return -1;

unlocked:
	fprintf(stderr,
		"remsockd: warning: cannot lock the port (%s: %s); a second "
		"remsockd on it would not be refused\n",
		path, strerror(errno));
	path[0] = '\0';
	return 0;
}

/* DPDK's lines while remsockd starts, kept back unless -v: in memory,
 * printed only if the start fails. */
struct startlog {
	FILE *f; /* NULL: not kept back */
	char *buf;
	size_t len;
};

static void startlog_begin(struct startlog *l, bool verbose)
{
	*l = (struct startlog){0};
	if (verbose)
		return;
	l->f = open_memstream(&l->buf, &l->len);
	if (l->f != NULL)
		rte_openlog_stream(l->f);
}

/* Back to DPDK's own stream; @p show: print what was kept (a failed
 * start). */
static void startlog_end(struct startlog *l, bool show)
{
	if (l->f == NULL)
		return;
	rte_openlog_stream(NULL);
	fclose(l->f);
	if (show && l->len > 0) {
		fputs("remsockd: DPDK said while starting:\n", stderr);
		fputs(l->buf, stderr);
	}
	free(l->buf);
	l->f = NULL;
}

static int serve(struct rs_config *cfg, const struct opts *o)
{
	struct rs_svc_shared *sh;
	struct rs_svc_ctl *ctl = NULL;
	struct rs_svc_dp *sdp = NULL;
	struct counters_src src, tel_src;
	struct rsd_telemetry tel;
	unsigned leaked, svc_leaked;
	struct startlog log;
	struct rs_dp *dp;
	char err[256];
	int rc;

	startlog_begin(&log, o->verbose);
	if (rs_dp_eal_init(cfg, o->eal_argc, o->eal_argv) < 0) {
		startlog_end(&log, true);
		return EXIT_RUNTIME;
	}
	dp = rs_dp_create(cfg);
	if (dp == NULL)
		goto err_create;
	sh = rs_svc_shared_create(cfg, cfg->workers.count, err, sizeof(err));
	if (sh == NULL)
		goto err_svc;
	ctl = rs_svc_ctl_create(sh);
	if (ctl == NULL) {
		snprintf(err, sizeof(err), "control plane: %s",
			 strerror(errno));
		goto err_svc;
	}
	sdp = rs_svc_dp_create(sh, err, sizeof(err));
	if (sdp == NULL)
		goto err_svc;
	rc = rs_svc_dp_attach(sdp, dp);
	if (rc < 0) {
		snprintf(err, sizeof(err), "service workers: %s",
			 strerror(-rc));
		goto err_svc;
	}
	src = (struct counters_src){
	    .sh = sh, .dp = dp, .ctl = ctl, .sdp = sdp, .acl = true};
	tel_src = src;
	tel_src.acl = false;
	tel = (struct rsd_telemetry){.sh = sh,
				     .dp = dp,
				     .ctl = ctl,
				     .sdp = sdp,
				     .counters = stats_counters,
				     .counters_src = &tel_src};
	rs_svc_ctl_counters_set(ctl, stats_counters, &src);
	rsd_telemetry_start(&tel);
	if (rs_dp_signals_install(on_signal) < 0 ||
	    sigaction(SIGHUP,
		      &(struct sigaction){.sa_handler = on_hup, .sa_flags = 0},
		      NULL) < 0) {
		fprintf(stderr,
			"remsockd: cannot install signal handlers: %s\n",
			strerror(errno));
		goto err_start;
	}
	if (rs_dp_start(dp) < 0)
		goto err_start;
	startlog_end(&log, false);
	banner_print(dp, cfg);
	control_loop(cfg, o, dp, ctl, sh, sdp);
	rsd_telemetry_stop();
	rs_dp_stop(dp);
	leaked = rs_dp_mbufs_in_use(dp);
	final_print(dp, leaked);
	svc_leaked = service_print(sh, &src);
	rs_svc_dp_free(sdp);
	rs_svc_ctl_free(ctl);
	rs_svc_shared_free(sh);
	rs_dp_destroy(dp);
	rte_eal_cleanup();
	if (leaked != 0 || svc_leaked != 0) {
		fprintf(stderr,
			"remsockd: leaked %u mbufs, %u service objects\n",
			leaked, svc_leaked);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;

err_svc:
	startlog_end(&log, true);
	fprintf(stderr, "remsockd: %s\n", err);
err_start:
	startlog_end(&log, true);
	rsd_telemetry_stop();
	rs_svc_dp_free(sdp);
	rs_svc_ctl_free(ctl);
	rs_svc_shared_free(sh);
	rs_dp_destroy(dp);
err_create:
	startlog_end(&log, true);
	rte_eal_cleanup();
	fprintf(stderr, "remsockd: not started\n");
	return EXIT_RUNTIME;
}

/* Serve, holding the port's lock (removed at the end while still held,
 * so that no one takes the old file meanwhile). */
static int run(struct rs_config *cfg, const struct opts *o)
{
	char lock[256];
	int rc;

	if (port_lock(cfg, lock, sizeof(lock)) < 0) {
		fprintf(stderr, "remsockd: not started\n");
		return EXIT_RUNTIME;
	}
	rc = serve(cfg, o);
	if (lock[0] != '\0')
		unlink(lock);
	return rc;
}

int main(int argc, char **argv)
{
	struct rs_config cfg;
	struct opts o;
	char err[1024];
	int rc;

	rc = opts_parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (o.print_default) {
		fputs(rs_config_default_text(NULL), stdout);
		return EXIT_OK;
	}
	rc = o.config != NULL
		 ? rs_config_load_file(&cfg, o.config, err, sizeof(err))
		 : rs_config_load_default(&cfg, err, sizeof(err));
	/* The embedded default is the demo's: its secret is published on
	 * purpose.  A file serves tenants. */
	if (rc == 0 && o.config != NULL)
		rc = rs_config_check_secrets(&cfg, o.test_secrets, err,
					     sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "remsockd: %s\n", err);
		return EXIT_USAGE;
	}
	if (o.check) {
		printf("remsockd: %s: configuration OK\n", cfg.source);
		return EXIT_OK;
	}
	/* Line by line even into a file or a pipe, so that the banner and
	 * the stats lines can be followed while remsockd runs. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run(&cfg, &o);
}
