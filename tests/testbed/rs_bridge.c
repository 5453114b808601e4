/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rs_bridge: the virtio-mode testbed's wire.  One DPDK process with two
 * ports -- net_vhost, the server side of a vhost-user socket that the
 * proxy's virtio_user port connects to, and net_tap, whose kernel
 * interface the testbed moves into the test namespace -- and one loop that
 * moves frames between them, both ways, in bursts, untouched.
 *
 * The loop: rx burst on one port -> tx burst on the other (a short,
 * bounded retry when the other side's ring is full, then the rest is
 * freed and counted as dropped) -> the same the other way -> idle
 * back-off.  After IDLE_POLLS empty rounds the thread sleeps, first
 * IDLE_SLEEP_MIN_US, doubling up to --idle-sleep-max-us, so an idle
 * bridge costs next to nothing on a two-core machine; the first frame
 * resets it.
 *
 * The main lcore runs the loop; after the EAL has pinned it, its CPU
 * affinity is given back to what the process started with, so the
 * scheduler may move it next to the proxy's worker.
 *
 * Impairment (--impair, impair.h): netem's loss, duplication, corruption,
 * delay, jitter and reordering, applied to both directions, since this
 * kernel has no netem.  Delayed frames wait in a heap per direction and
 * leave when due; the idle sleep never runs past the next due frame.
 *
 * Queues (--queues N, vhost only): the virtio side's N queue pairs are all
 * polled; a frame for it goes to the queue a fold of its addresses and
 * ports picks -- not the proxy's own hash, as a port that spreads flows
 * its own way -- so that a proxy with several workers must steer.
 *
 * Checksums: the vhost port is configured without RX checksum offloads, so
 * the vhost PMD completes a frame whose checksum the virtio side left to
 * the device before handing it over; the tap side gets whole frames.
 */
#define _GNU_SOURCE /* sched_setaffinity() */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_vhost.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_vhost.h>

#include "impair.h"
#include "rs_dataplane.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#define BURST 32
#define RING_DESC 512
#define MBUF_CACHE 128
#define IDLE_POLLS 256
#define IDLE_SLEEP_MIN_US 8u
/* A full destination ring is retried this often, 1 us apart. */
#define TX_RETRIES 64
#define EAL_ARGS_MAX 64
#define VHOST_NAME "net_vhost0"
#define AFPKT_NAME "net_af_packet0"
#define TAP_NAME "net_tap0"

enum { DIR_TO_TAP, DIR_TO_VHOST, DIR_MAX };

/* Frames a direction holds to send (impairment): due ones, in order. */
#define PEND_MAX (4 * BURST)
/* Frames a burst may become once its TSO packets are cut: 64 KiB in
 * pieces of at least 536 bytes. */
#define CUT_MAX (BURST * 123)
/* Delayed frames a direction holds at most. */
#define DELAY_MAX 32768

struct dir_stats {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts;
	uint64_t dropped; /* the destination stayed full */
	uint64_t no_peer; /* the destination's link was down */
	uint64_t retries;
	/* impairment */
	uint64_t lost, duplicated, corrupted, reordered, delayed, delay_full;
	/* TSO packets cut into frames, the frames, pieces lost for want of
	 * mbufs */
	uint64_t tso_cut, tso_pieces, cut_failed;
	/* tap_to_vhost: frames merged into the segment before them, and
	 * the merged segments sent (a host's receive offload) */
	uint64_t merged, merged_segs;
};

struct dir_impair {
	struct impair_state st;
	struct impair_queue q;
	uint64_t last_due; /* order=keep: no frame leaves before this */
	uint16_t npend;
	struct rte_mbuf *pend[PEND_MAX];
};

struct opts {
	const char *vhost_path;
	const char *af_iface; /* --af-packet: the stack side is a kernel
				 interface (a tap-mode stack's), not vhost */
	const char *tap_iface;
	unsigned mbufs;
	unsigned idle_sleep_max_us;
	unsigned stats_every; /* seconds; 0: none */
	struct impair_conf impair;
	unsigned seed;
	unsigned queues; /* --queues: the vhost port's queue pairs */
	bool no_tso;
	int eal_argc; /* arguments after "--" */
	char **eal_argv;
};

struct bridge {
	uint16_t port[DIR_MAX]; /* destination port of each direction */
	struct rte_mempool *pool;
	struct dir_stats st[DIR_MAX];
	uint32_t idle_empty;
	uint32_t idle_sleep_us;
	uint32_t idle_sleep_max_us;
	uint64_t idle_sleeps;
	bool impaired;
	bool no_tso; /* --no-tso: no cutting, no merging */
	uint16_t nq; /* the vhost port's queue pairs */
	struct dir_impair imp[DIR_MAX];
	struct rte_mbuf *cut[CUT_MAX]; /* a burst, its TSO packets cut */
};

static const char *const dir_name[DIR_MAX] = {"vhost_to_tap", "tap_to_vhost"};

/* Set by the signal handler: a handler cannot be given an argument. */
static volatile sig_atomic_t stop_signal;

static const char usage_text[] =
    "NAME\n"
    "    rs_bridge - forward frames between a vhost-user socket and a tap\n"
    "\n"
    "SYNOPSIS\n"
    "    rs_bridge (--vhost PATH | --af-packet IFACE) --tap IFACE\n"
    "              [--mbufs N] [--idle-sleep-max-us US]\n"
    "              [--stats-interval SECS]\n"
    "              [--impair SPEC [--seed N]] [--no-tso] [--queues N]\n"
    "              [-- EAL-ARG...]\n"
    "    rs_bridge --help\n"
    "\n"
    "DESCRIPTION\n"
    "    The virtio-mode testbed's bridge.  It creates the vhost-user\n"
    "    server socket PATH (DPDK net_vhost) and the kernel tap interface\n"
    "    IFACE (DPDK net_tap), prints 'rs_bridge: ready' and forwards\n"
    "    every frame from one to the other, both ways, unchanged.  A\n"
    "    virtio_user port (the proxy, configs/virtio.ini) connects to\n"
    "    PATH, and may disconnect and connect again; move IFACE into a\n"
    "    network namespace and give it an address to put Linux on the\n"
    "    other end.  When idle the bridge sleeps, doubling the sleep up\n"
    "    to --idle-sleep-max-us.  SIGINT or SIGTERM stops it; it prints\n"
    "    its counters and exits.\n"
    "\n"
    "    TSO: the vhost port offers it (net_vhost tso=1), so the virtio\n"
    "    side may send TCP segments of up to 64 KiB; the bridge cuts each\n"
    "    into MSS-sized frames (headers repeated, lengths, sequence\n"
    "    numbers, flags and checksums per frame) before impairing and\n"
    "    forwarding them, as a NIC would on the wire.  The other way,\n"
    "    when the virtio side took GUEST_TSO4, runs of consecutive TCP\n"
    "    segments of a flow whose checksums verify are merged into one\n"
    "    (as a host's receive offload), which the virtio side gets as an\n"
    "    LRO segment; the rest pass one by one.\n"
    "\n"
    "    The EAL runs in memory (--in-memory, no files), without PCI\n"
    "    scan or telemetry, on one lcore whose CPU affinity is then\n"
    "    widened to the process's own; EAL-ARGs are appended.\n"
    "\n"
    "OPTIONS\n"
    "    --vhost PATH             vhost-user socket to create (server)\n"
    "    --af-packet IFACE        instead, an existing kernel interface\n"
    "                             (DPDK net_af_packet): a tap-mode stack's\n"
    "                             tap, left in this namespace, so that\n"
    "                             its frames can be impaired too\n"
    "    --tap IFACE              kernel tap interface to create\n"
    "                             (15 bytes at most)\n"
    "    --mbufs N                packet pool size (default 4095)\n"
    "    --idle-sleep-max-us US   longest idle sleep (default 500)\n"
    "    --stats-interval SECS    print a counters line every SECS\n"
    "    --impair SPEC            impair both directions as netem would:\n"
    "                             comma-separated loss=P, dup=P,\n"
    "                             corrupt=P (one bit flipped past the\n"
    "                             Ethernet header), delay=MS[:JITTER_MS],\n"
    "                             reorder=P[:CORR] (P percent of frames\n"
    "                             skip the delay; needs delay),\n"
    "                             order=keep (jitter never reorders:\n"
    "                             a frame leaves no earlier than the\n"
    "                             one before it), e.g.\n"
    "                             loss=1,delay=5:2; or none\n"
    "    --seed N                 seed of the impairment draws (1)\n"
    "    --no-tso                 offer no TSO on the vhost port and\n"
    "                             merge nothing: frames one by one\n"
    "    --queues N               queue pairs of the vhost port (1-16,\n"
    "                             default 1; not with --af-packet):\n"
    "                             all are polled, and a frame for the\n"
    "                             virtio side goes to the queue a fold\n"
    "                             of its addresses and ports picks (not\n"
    "                             RSS's hash), impaired or not\n"
    "    -h, --help               print this help\n"
    "\n"
    "COUNTERS\n"
    "    Per direction (vhost_to_tap, tap_to_vhost; with --af-packet the\n"
    "    'vhost' side is that interface): frames and bytes\n"
    "    received, frames sent, frames dropped because the destination\n"
    "    stayed full (dropped) or had no link (no_peer: no virtio side\n"
    "    attached), and ring-full retries; with --impair also frames\n"
    "    lost, duplicated, corrupted, reordered, delayed, and dropped\n"
    "    because the delay queue was full; vhost_to_tap: TSO packets\n"
    "    cut, the frames they made, and frames lost for want of mbufs;\n"
    "    tap_to_vhost: frames merged into the one before them, and the\n"
    "    merged segments that made;\n"
    "    then idle sleeps.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 stopped by a signal; 1 set-up failed, or mbufs leaked;\n"
    "    2 usage error.\n";

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < min ||
	    v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* "rs_bridge: WHAT ARG", a hint, and the exit code of a usage error. */
static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "rs_bridge: %s%s\nTry 'rs_bridge --help'.\n", what,
		arg);
	return EXIT_USAGE;
}

/* @return -1 to go on, or the exit code. */
static int opts_parse(int argc, char **argv, struct opts *o)
{
	enum {
		O_VHOST = 256,
		O_TAP,
		O_MBUFS,
		O_SLEEP,
		O_STATS,
		O_IMPAIR,
		O_SEED,
		O_AF,
		O_NO_TSO,
		O_QUEUES
	};
	static const struct option longopts[] = {
	    {"vhost", required_argument, NULL, O_VHOST},
	    {"af-packet", required_argument, NULL, O_AF},
	    {"tap", required_argument, NULL, O_TAP},
	    {"mbufs", required_argument, NULL, O_MBUFS},
	    {"idle-sleep-max-us", required_argument, NULL, O_SLEEP},
	    {"stats-interval", required_argument, NULL, O_STATS},
	    {"impair", required_argument, NULL, O_IMPAIR},
	    {"seed", required_argument, NULL, O_SEED},
	    {"no-tso", no_argument, NULL, O_NO_TSO},
	    {"queues", required_argument, NULL, O_QUEUES},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char why[256];
	int c, bad = 0;

	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->queues = 1;
	o->mbufs = 4095;
	o->idle_sleep_max_us = 500;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case O_VHOST:
			o->vhost_path = optarg;
			break;
		case O_TAP:
			o->tap_iface = optarg;
			break;
		case O_AF:
			o->af_iface = optarg;
			break;
		case O_MBUFS:
			bad = parse_uint(optarg, 2 * RING_DESC + 4 * BURST,
					 1u << 20, &o->mbufs);
			break;
		case O_SLEEP:
			bad = parse_uint(optarg, 1, 1000000,
					 &o->idle_sleep_max_us);
			break;
		case O_STATS:
			bad = parse_uint(optarg, 1, 3600, &o->stats_every);
			break;
		case O_IMPAIR:
			if (impair_parse(optarg, &o->impair, why, sizeof(why)) <
			    0)
				return usage_error("--impair: ", why);
			break;
		case O_NO_TSO:
			o->no_tso = true;
			break;
		case O_SEED:
			bad = parse_uint(optarg, 1, UINT32_MAX, &o->seed);
			break;
		case O_QUEUES:
			bad = parse_uint(optarg, 1, 16, &o->queues);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		default:
			return usage_error("bad option", "");
		}
		if (bad)
			return usage_error("value out of range: ", optarg);
	}
	if (optind < argc && strcmp(argv[optind - 1], "--") != 0)
		return usage_error("unexpected argument: ", argv[optind]);
	if ((o->vhost_path == NULL) == (o->af_iface == NULL) ||
	    o->tap_iface == NULL)
		return usage_error("--tap and one of --vhost, --af-packet are "
				   "required",
				   "");
	if (strlen(o->tap_iface) > 15)
		return usage_error("--tap: 15 bytes at most: ", o->tap_iface);
	if (o->queues > 1 && o->af_iface != NULL)
		return usage_error("--queues: more than 1 only with --vhost",
				   "");
	o->eal_argc = argc - optind;
	o->eal_argv = argv + optind;
	return -1;
}

/* The EAL on the first CPU we may run on; afterwards the main thread gets
 * the process's whole affinity back. */
static int eal_init(const struct opts *o, const cpu_set_t *cpus)
{
	static char lcores[32], vhost[512], tap[64];
	char *args[EAL_ARGS_MAX + 16];
	int n = 0, cpu = 0, rc;

	if (o->eal_argc > EAL_ARGS_MAX) {
		fprintf(stderr, "rs_bridge: too many EAL arguments\n");
		return -E2BIG;
	}
	while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, cpus))
		cpu++;
	snprintf(lcores, sizeof(lcores), "--lcores=0@%d", cpu);
	if (o->af_iface != NULL)
		snprintf(vhost, sizeof(vhost), "--vdev=%s,iface=%s,qpairs=1",
			 AFPKT_NAME, o->af_iface);
	else
		snprintf(vhost, sizeof(vhost),
			 "--vdev=%s,iface=%s,queues=%u,tso=%d", VHOST_NAME,
			 o->vhost_path, o->queues, !o->no_tso);
	snprintf(tap, sizeof(tap), "--vdev=%s,iface=%s", TAP_NAME,
		 o->tap_iface);
	args[n++] = "rs_bridge";
	args[n++] = lcores;
	args[n++] = "--in-memory";
	args[n++] = "--no-pci";
	args[n++] = "--no-telemetry";
	args[n++] = "--log-level=lib.eal:notice";
	args[n++] = "--log-level=lib.vhost.config:warning";
	args[n++] = vhost;
	args[n++] = tap;
	for (int i = 0; i < o->eal_argc; i++)
		args[n++] = o->eal_argv[i];
	args[n] = NULL;
	rc = rte_eal_init(n, args);
	if (rc < 0) {
		fprintf(stderr, "rs_bridge: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		return -rte_errno;
	}
	if (sched_setaffinity(0, sizeof(*cpus), cpus) < 0)
		fprintf(stderr, "rs_bridge: cannot widen CPU affinity: %s\n",
			strerror(errno));
	return 0;
}

static int port_setup(uint16_t port, uint16_t nq, struct rte_mempool *pool)
{
	struct rte_eth_conf conf;
	uint16_t rxd = RING_DESC, txd = RING_DESC;
	int rc;

	/* No offloads at all: see the file comment on checksums. */
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(port, nq, nq, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
	for (uint16_t q = 0; q < nq && rc == 0; q++) {
		rc = rte_eth_rx_queue_setup(
		    port, q, rxd, rte_eth_dev_socket_id(port), NULL, pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(
			    port, q, txd, rte_eth_dev_socket_id(port), NULL);
	}
	if (rc == 0)
		rc = rte_eth_dev_start(port);
	if (rc < 0)
		return rc;
	/* Frames pass through whatever their address: best effort. */
	rte_eth_promiscuous_enable(port);
	return 0;
}

static int ports_setup(struct bridge *b, unsigned mbufs, bool af)
{
	uint16_t vhost, tap;
	int rc;

	if (rte_eth_dev_get_port_by_name(af ? AFPKT_NAME : VHOST_NAME,
					 &vhost) != 0 ||
	    rte_eth_dev_get_port_by_name(TAP_NAME, &tap) != 0) {
		fprintf(stderr, "rs_bridge: the EAL did not create both "
				"ports (see its messages above)\n");
		return -ENODEV;
	}
	b->port[DIR_TO_TAP] = tap;
	b->port[DIR_TO_VHOST] = vhost;
	b->pool =
	    rte_pktmbuf_pool_create("rs_bridge", mbufs, MBUF_CACHE, 0,
				    RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (b->pool == NULL) {
		fprintf(stderr, "rs_bridge: no packet pool of %u mbufs: %s\n",
			mbufs, rte_strerror(rte_errno));
		return -rte_errno;
	}
	rc = port_setup(vhost, b->nq, b->pool);
	if (rc == 0)
		rc = port_setup(tap, 1, b->pool);
	if (rc < 0)
		fprintf(stderr, "rs_bridge: port set-up failed: %s\n",
			rte_strerror(-rc));
	return rc;
}

/* Stop and close both ports; the pool stays, to be counted. */
static void ports_close(void)
{
	uint16_t id;

	RTE_ETH_FOREACH_DEV(id)
	{
		rte_eth_dev_stop(id);
		rte_eth_dev_close(id);
	}
}

static bool link_up(uint16_t port)
{
	struct rte_eth_link link;

	return rte_eth_link_get_nowait(port, &link) == 0 &&
	       link.link_status == RTE_ETH_LINK_UP;
}

/* Cut TSO packet @p m (the virtio side's RTE_MBUF_F_RX_LRO, with
 * tso_segsz) into frames of tso_segsz payload as a NIC would: headers
 * repeated; IPv4 length, id and checksum, TCP sequence number and
 * checksum per frame; FIN and PSH on the last only, CWR on the first.
 * @p m is freed.  @return frames put in @p out (at most @p room). */
static unsigned tso_cut(struct bridge *b, struct dir_stats *st,
			struct rte_mbuf *m, struct rte_mbuf **out,
			unsigned room)
{
	uint8_t copy[RTE_ETHER_HDR_LEN + 60 + 60], *d;
	uint32_t len = rte_pktmbuf_pkt_len(m), mss = m->tso_segsz;
	uint32_t l3 = 0, l4 = 0, hlen = UINT32_MAX, plen, seq, k, n = 0;
	const uint8_t *h =
	    rte_pktmbuf_read(m, 0, RTE_MIN(len, (uint32_t)sizeof(copy)), copy);
	const struct rte_ipv4_hdr *ip =
	    (const struct rte_ipv4_hdr *)(h + RTE_ETHER_HDR_LEN);
	const struct rte_tcp_hdr *th = NULL;
	struct rte_ipv4_hdr *pip;
	struct rte_tcp_hdr *pth;
	const void *src;
	uint16_t id;

	/* An MSS below the IPv4 minimum (RFC 879) would make more pieces
	 * than a burst's room (CUT_MAX): such a packet is dropped. */
	if (len >= RTE_ETHER_HDR_LEN + 40 && mss >= 536 &&
	    ((const struct rte_ether_hdr *)h)->ether_type ==
		rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) &&
	    (ip->version_ihl >> 4) == 4 && ip->next_proto_id == IPPROTO_TCP) {
		l3 = (uint32_t)(ip->version_ihl & 0xf) * 4;
		th = (const struct rte_tcp_hdr *)((const uint8_t *)ip + l3);
		if (len >= RTE_ETHER_HDR_LEN + l3 + 20) {
			l4 = (uint32_t)(th->data_off >> 4) * 4;
			hlen = RTE_ETHER_HDR_LEN + l3 + l4;
		}
	}
	if (hlen <= RTE_MIN(len, (uint32_t)sizeof(copy)) && hlen < len &&
	    l3 >= 20 && l4 >= 20) {
		plen = len - hlen;
		seq = rte_be_to_cpu_32(th->sent_seq);
		id = rte_be_to_cpu_16(ip->packet_id);
		for (uint32_t off = 0; off < plen && n < room; off += k) {
			k = RTE_MIN(mss, plen - off);
			out[n] = rte_pktmbuf_alloc(b->pool);
			d = out[n] == NULL ? NULL
					   : (uint8_t *)rte_pktmbuf_append(
						 out[n], hlen + k);
			if (d == NULL) {
				rte_pktmbuf_free(out[n]);
				st->cut_failed++;
				break;
			}
			memcpy(d, h, hlen);
			src = rte_pktmbuf_read(m, hlen + off, k, d + hlen);
			if (src != d + hlen)
				memcpy(d + hlen, src, k);
			pip = (struct rte_ipv4_hdr *)(d + RTE_ETHER_HDR_LEN);
			pip->total_length = rte_cpu_to_be_16(l3 + l4 + k);
			pip->packet_id = rte_cpu_to_be_16((uint16_t)(id + n));
			pip->hdr_checksum = 0;
			pip->hdr_checksum = rte_ipv4_cksum(pip);
			pth = (struct rte_tcp_hdr *)((uint8_t *)pip + l3);
			pth->sent_seq = rte_cpu_to_be_32(seq + off);
			if (off + k < plen)
				pth->tcp_flags &= (uint8_t) ~(RTE_TCP_FIN_FLAG |
							      RTE_TCP_PSH_FLAG);
			if (off > 0)
				pth->tcp_flags &= (uint8_t)~RTE_TCP_CWR_FLAG;
			pth->cksum = 0;
			pth->cksum = rte_ipv4_udptcp_cksum(pip, pth);
			n++;
		}
		st->tso_cut++;
		st->tso_pieces += n;
	} else {
		st->cut_failed++; /* not a TCP/IPv4 TSO packet: dropped */
	}
	rte_pktmbuf_free(m);
	return n;
}

/* A received burst with its TSO packets cut, into b->cut. */
static uint16_t cut_burst(struct bridge *b, int dir, struct rte_mbuf **pkts,
			  uint16_t n)
{
	unsigned out = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (out == CUT_MAX) { /* cannot be: 536-byte pieces at least */
			b->st[dir].cut_failed++;
			rte_pktmbuf_free(pkts[i]);
		} else if ((pkts[i]->ol_flags & RTE_MBUF_F_RX_LRO) &&
			   pkts[i]->tso_segsz != 0) {
			out += tso_cut(b, &b->st[dir], pkts[i], b->cut + out,
				       CUT_MAX - out);
		} else {
			b->cut[out++] = pkts[i];
		}
	}
	return (uint16_t)out;
}

/* ---- merging for the virtio side (its LRO) ------------------------- */

/* What merging needs of a frame: a TCP/IPv4 segment with data, no IP
 * options or fragments, checksums verified. */
struct seg_info {
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;
	uint32_t hlen, plen, seq;
};

static bool l4_sum_ok(const struct rte_ipv4_hdr *ip, const void *l4,
		      uint32_t len)
{
	uint32_t sum = rte_ipv4_phdr_cksum(ip, 0) + rte_raw_cksum(l4, len);

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static bool seg_parse(struct rte_mbuf *m, struct seg_info *si)
{
	uint32_t len = rte_pktmbuf_data_len(m), tot, l4;
	const struct rte_ether_hdr *eth =
	    rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);

	if (m->nb_segs != 1 || (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) ||
	    len < RTE_ETHER_HDR_LEN + 40 ||
	    eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return false;
	si->ip = (const struct rte_ipv4_hdr *)(eth + 1);
	tot = rte_be_to_cpu_16(si->ip->total_length);
	if (si->ip->version_ihl != RTE_IPV4_VHL_DEF ||
	    si->ip->next_proto_id != IPPROTO_TCP ||
	    (si->ip->fragment_offset &
	     rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG |
			      RTE_IPV4_HDR_OFFSET_MASK)) ||
	    tot + RTE_ETHER_HDR_LEN > len || tot < 40 ||
	    rte_ipv4_cksum(si->ip) != 0)
		return false;
	/* Ethernet padding is not payload: a merge must not carry it. */
	if (len > tot + RTE_ETHER_HDR_LEN &&
	    rte_pktmbuf_trim(m, (uint16_t)(len - tot - RTE_ETHER_HDR_LEN)) != 0)
		return false;
	si->th = (const struct rte_tcp_hdr *)(si->ip + 1);
	l4 = (uint32_t)(si->th->data_off >> 4) * 4;
	if (l4 < 20 || 20 + l4 >= tot || !l4_sum_ok(si->ip, si->th, tot - 20))
		return false;
	si->hlen = RTE_ETHER_HDR_LEN + 20 + l4;
	si->plen = tot - 20 - l4;
	si->seq = rte_be_to_cpu_32(si->th->sent_seq);
	return true;
}

/* Whether @p b continues @p a: the same flow, the next bytes, the same
 * ACK, window and options, flags ACK (PSH ends a merge), room left. */
static bool seg_follows(const struct seg_info *a, uint32_t a_total,
			uint16_t mss, const struct seg_info *b)
{
	uint32_t opt = a->hlen - RTE_ETHER_HDR_LEN - 40;

	return a->ip->src_addr == b->ip->src_addr &&
	       a->ip->dst_addr == b->ip->dst_addr &&
	       a->th->src_port == b->th->src_port &&
	       a->th->dst_port == b->th->dst_port && b->seq == a->seq &&
	       a->hlen == b->hlen && a->th->recv_ack == b->th->recv_ack &&
	       a->th->rx_win == b->th->rx_win &&
	       a->th->tcp_flags == RTE_TCP_ACK_FLAG &&
	       (b->th->tcp_flags & ~RTE_TCP_PSH_FLAG) == RTE_TCP_ACK_FLAG &&
	       b->plen <= mss && a_total + b->plen <= UINT16_MAX - 40 &&
	       memcmp(a->th + 1, b->th + 1, opt) == 0;
}

/* Whether the virtio side negotiated taking merged TCP segments. */
static bool guest_merges(uint16_t vhost_port)
{
	int vid = rte_eth_vhost_get_vid_from_port_id(vhost_port);
	uint64_t f;

	return vid >= 0 && rte_vhost_get_negotiated_features(vid, &f) == 0 &&
	       (f & (1ull << VIRTIO_NET_F_GUEST_TSO4)) &&
	       (f & (1ull << VIRTIO_NET_F_GUEST_CSUM));
}

/* Mark merged segment @p m for the vhost port: a TSO request, which the
 * virtio side receives as one segment (RTE_MBUF_F_RX_LRO). */
static void merged_mark(struct rte_mbuf *m, const struct seg_info *si,
			uint16_t mss)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(
	    m, struct rte_ipv4_hdr *, RTE_ETHER_HDR_LEN);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);

	ip->total_length =
	    rte_cpu_to_be_16(rte_pktmbuf_pkt_len(m) - RTE_ETHER_HDR_LEN);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	m->l2_len = RTE_ETHER_HDR_LEN;
	m->l3_len = 20;
	m->l4_len = si->hlen - RTE_ETHER_HDR_LEN - 20;
	m->tso_segsz = mss;
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_SEG |
		       RTE_MBUF_F_TX_TCP_CKSUM;
	/* Checksum left to the receiver: the pseudo-header sum, as for a
	 * partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM). */
	th->cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
}

/* Merge runs of consecutive segments of one flow in @p p, as a host
 * merges for a guest that took GUEST_TSO4: frames whose checksums fail,
 * or that do not continue the one before, pass as they are.  @return
 * frames left. */
static uint16_t merge_burst(struct bridge *b, int dir, struct rte_mbuf **p,
			    uint16_t n)
{
	struct dir_stats *st = &b->st[dir];
	struct seg_info head = {0}, cur;
	uint32_t total = 0;
	uint16_t out = 0, mss = 0;
	bool open = false;

	if (b->no_tso || n < 2 || !guest_merges(b->port[dir]))
		return n;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = p[i];

		if (!seg_parse(m, &cur)) {
			open = false;
			p[out++] = m;
			continue;
		}
		if (open && seg_follows(&head, total, mss, &cur) &&
		    rte_pktmbuf_adj(m, (uint16_t)cur.hlen) != NULL) {
			if (rte_pktmbuf_chain(p[out - 1], m) == 0) {
				if (p[out - 1]->nb_segs == 2)
					st->merged_segs++;
				st->merged++;
				total += cur.plen;
				head.seq += cur.plen;
				merged_mark(p[out - 1], &head, mss);
				if (cur.plen < mss)
					open = false; /* a short one ends it */
				if (cur.th->tcp_flags & RTE_TCP_PSH_FLAG) {
					rte_pktmbuf_mtod_offset(
					    p[out - 1], struct rte_tcp_hdr *,
					    RTE_ETHER_HDR_LEN + 20)
					    ->tcp_flags |= RTE_TCP_PSH_FLAG;
					open = false;
				}
				continue;
			}
			rte_pktmbuf_prepend(m, (uint16_t)cur.hlen);
		}
		p[out++] = m;
		head = cur;
		head.seq += cur.plen; /* the next byte expected */
		total = cur.hlen - RTE_ETHER_HDR_LEN + cur.plen;
		mss = (uint16_t)cur.plen;
		open = true;
	}
	return out;
}

/* Send @p n frames on queue @p q of direction @p dir's port; a full
 * queue is retried for a while, one whose link is down (vhost: no virtio
 * side attached) is not.  What is not sent is freed and counted. */
static void tx_send(struct bridge *b, int dir, uint16_t q,
		    struct rte_mbuf **pkts, uint16_t n)
{
	struct dir_stats *st = &b->st[dir];
	uint16_t sent, to = b->port[dir];
	unsigned tries = 0;

	sent = rte_eth_tx_burst(to, q, pkts, n);
	if (sent < n && dir == DIR_TO_VHOST && !link_up(to))
		tries = TX_RETRIES + 1;
	while (sent < n && tries < TX_RETRIES) {
		tries++;
		rte_delay_us_block(1);
		sent += rte_eth_tx_burst(to, q, pkts + sent, n - sent);
	}
	st->tx_pkts += sent;
	if (tries > TX_RETRIES)
		st->no_peer += n - sent;
	else
		st->dropped += n - sent;
	st->retries += tries > TX_RETRIES ? 0 : tries;
	rte_pktmbuf_free_bulk(pkts + sent, n - sent);
}

/* The virtio side's queue for a frame: its IPv4 addresses and ports
 * (none for a fragment) folded, modulo the queues; 0 for anything else. */
static uint16_t queue_of(const struct bridge *b, const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_ipv4_hdr *ip;
	uint32_t h, len = rte_pktmbuf_data_len(m), ihl;

	if (len < RTE_ETHER_HDR_LEN + sizeof(*ip) || p[12] != 0x08 ||
	    p[13] != 0x00)
		return 0;
	ip = (const struct rte_ipv4_hdr *)(p + RTE_ETHER_HDR_LEN);
	h = ip->src_addr ^ ip->dst_addr;
	ihl = (ip->version_ihl & 0xf) * 4u;
	if ((ip->next_proto_id == IPPROTO_TCP ||
	     ip->next_proto_id == IPPROTO_UDP) &&
	    (ip->fragment_offset &
	     RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) == 0 &&
	    len >= RTE_ETHER_HDR_LEN + ihl + 4) {
		uint32_t ports;

		memcpy(&ports, p + RTE_ETHER_HDR_LEN + ihl, 4);
		h ^= ports;
	}
	h ^= h >> 16;
	h ^= h >> 8;
	return (uint16_t)((h & 0xff) % b->nq);
}

/* Send a burst to the virtio side, each frame on its queue, in order
 * within a queue. */
static void tx_spread(struct bridge *b, int dir, struct rte_mbuf **pkts,
		      uint16_t n)
{
	static struct rte_mbuf *one[CUT_MAX];
	static uint8_t qs[CUT_MAX];

	for (uint16_t i = 0; i < n; i++)
		qs[i] = (uint8_t)queue_of(b, pkts[i]);
	for (uint16_t q = 0; q < b->nq; q++) {
		uint16_t k = 0;

		for (uint16_t i = 0; i < n; i++)
			if (qs[i] == q)
				one[k++] = pkts[i];
		if (k != 0)
			tx_send(b, dir, q, one, k);
	}
}

/* One round from @p from to the other port: a burst from each of its
 * queues; @return frames received. */
static uint16_t forward(struct bridge *b, int dir, uint16_t from)
{
	struct dir_stats *st = &b->st[dir];
	struct rte_mbuf *rx[BURST], **pkts = b->cut;
	uint16_t n, nq = dir == DIR_TO_TAP ? b->nq : 1, total = 0;

	for (uint16_t q = 0; q < nq; q++) {
		n = rte_eth_rx_burst(from, q, rx, BURST);
		if (n == 0)
			continue;
		total += n;
		for (uint16_t i = 0; i < n; i++)
			st->rx_bytes += rte_pktmbuf_pkt_len(rx[i]);
		st->rx_pkts += n;
		n = cut_burst(b, dir, rx, n);
		if (dir == DIR_TO_VHOST)
			n = merge_burst(b, dir, pkts, n);
		if (dir == DIR_TO_VHOST && b->nq > 1)
			tx_spread(b, dir, pkts, n);
		else
			tx_send(b, dir, 0, pkts, n);
	}
	return total;
}

/* Flip one bit past the Ethernet header (first segment). */
static void corrupt(struct rte_mbuf *m, const struct impair_verdict *v)
{
	uint32_t len = rte_pktmbuf_data_len(m);
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);

	if (len > RTE_ETHER_HDR_LEN)
		p[RTE_ETHER_HDR_LEN +
		  v->corrupt_at % (len - RTE_ETHER_HDR_LEN)] ^=
		    (uint8_t)(1u << v->corrupt_bit);
}

/* Queue a frame to leave after @p delay_us (0: with this round). */
static void schedule(struct bridge *b, int dir, struct rte_mbuf *m,
		     uint32_t delay_us, uint64_t now)
{
	struct dir_impair *im = &b->imp[dir];
	uint64_t due = now + delay_us * rte_get_tsc_hz() / 1000000;

	if (im->st.c.keep_order && delay_us != 0) {
		if (due < im->last_due)
			due = im->last_due;
		im->last_due = due;
	}
	if (delay_us != 0)
		b->st[dir].delayed++;
	if (!impair_queue_push(&im->q, delay_us ? due : 0, m)) {
		b->st[dir].delay_full++;
		rte_pktmbuf_free(m);
	}
}

static void impair_rx(struct bridge *b, int dir, struct rte_mbuf **pkts,
		      uint16_t n, uint64_t now)
{
	struct dir_stats *st = &b->st[dir];
	struct impair_verdict v;
	struct rte_mbuf *copy;

	for (uint16_t i = 0; i < n; i++) {
		v = impair_decide(&b->imp[dir].st);
		if (v.drop) {
			st->lost++;
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		if (v.corrupt) {
			st->corrupted++;
			corrupt(pkts[i], &v);
		}
		st->reordered += v.reordered;
		if (v.dup) {
			copy =
			    rte_pktmbuf_copy(pkts[i], b->pool, 0, UINT32_MAX);
			if (copy != NULL) {
				st->duplicated++;
				schedule(b, dir, copy, v.delay_us, now);
			}
		}
		schedule(b, dir, pkts[i], v.delay_us, now);
	}
}

/* Send what is due on each of the vhost port's queues (the one
 * queue_of() picks); what a full queue does not take stays pending, in
 * order.  @return frames sent. */
static uint16_t tx_pend_spread(struct bridge *b, struct dir_impair *im,
			       uint16_t to)
{
	struct rte_mbuf *one[PEND_MAX];
	uint8_t qs[PEND_MAX];
	bool sent_it[PEND_MAX];
	uint16_t k, sent, total = 0, left = 0;

	for (uint16_t i = 0; i < im->npend; i++) {
		qs[i] = (uint8_t)queue_of(b, im->pend[i]);
		sent_it[i] = false;
	}
	for (uint16_t q = 0; q < b->nq; q++) {
		k = 0;
		for (uint16_t i = 0; i < im->npend; i++)
			if (qs[i] == q)
				one[k++] = im->pend[i];
		if (k == 0)
			continue;
		sent = rte_eth_tx_burst(to, q, one, k);
		total += sent;
		for (uint16_t i = 0; i < im->npend && sent != 0; i++)
			if (qs[i] == q) {
				sent_it[i] = true;
				sent--;
			}
	}
	for (uint16_t i = 0; i < im->npend; i++)
		if (!sent_it[i])
			im->pend[left++] = im->pend[i];
	im->npend = left;
	return total;
}

/* The impaired path: received frames (from every queue of the vhost
 * port) get their fate, due ones leave. */
static uint16_t forward_impaired(struct bridge *b, int dir, uint16_t from)
{
	struct dir_impair *im = &b->imp[dir];
	struct dir_stats *st = &b->st[dir];
	uint64_t now = rte_get_tsc_cycles();
	struct rte_mbuf *pkts[BURST], *m;
	uint16_t n, got = 0, sent, to = b->port[dir];
	uint16_t nq = dir == DIR_TO_TAP ? b->nq : 1;

	for (uint16_t q = 0; q < nq; q++) {
		n = rte_eth_rx_burst(from, q, pkts, BURST);
		for (uint16_t i = 0; i < n; i++)
			st->rx_bytes += rte_pktmbuf_pkt_len(pkts[i]);
		st->rx_pkts += n;
		got += n;
		n = cut_burst(b, dir, pkts, n);
		impair_rx(b, dir, b->cut, n, now);
	}
	while (im->npend < PEND_MAX &&
	       (m = impair_queue_pop_due(&im->q, now)) != NULL)
		im->pend[im->npend++] = m;
	if (im->npend == 0)
		return got;
	if (dir == DIR_TO_VHOST)
		im->npend = merge_burst(b, dir, im->pend, im->npend);
	if (dir == DIR_TO_VHOST && b->nq > 1) {
		sent = tx_pend_spread(b, im, to);
	} else {
		sent = rte_eth_tx_burst(to, 0, im->pend, im->npend);
		memmove(im->pend, im->pend + sent,
			(im->npend - sent) * sizeof(im->pend[0]));
		im->npend -= sent;
	}
	st->tx_pkts += sent;
	if (im->npend != 0 && dir == DIR_TO_VHOST && !link_up(to)) {
		st->no_peer += im->npend;
		rte_pktmbuf_free_bulk(im->pend, im->npend);
		im->npend = 0;
	}
	return got + sent;
}

/* Microseconds until the next delayed frame is due (UINT32_MAX: none). */
static uint32_t next_due_us(const struct bridge *b)
{
	uint64_t now = rte_get_tsc_cycles(), first = UINT64_MAX;

	for (int d = 0; d < DIR_MAX; d++) {
		if (b->imp[d].npend != 0)
			return 0;
		if (b->imp[d].q.n != 0 && b->imp[d].q.h[0].due < first)
			first = b->imp[d].q.h[0].due;
	}
	if (first == UINT64_MAX)
		return UINT32_MAX;
	return first <= now ? 0
			    : (uint32_t)RTE_MIN((first - now) * 1000000 /
						    rte_get_tsc_hz(),
						(uint64_t)UINT32_MAX);
}

static void idle_step(struct bridge *b, unsigned moved)
{
	if (moved != 0) {
		b->idle_empty = 0;
		b->idle_sleep_us = IDLE_SLEEP_MIN_US;
		return;
	}
	if (b->idle_empty < IDLE_POLLS) {
		b->idle_empty++;
		return;
	}
	if (b->impaired) {
		uint32_t due = next_due_us(b);

		if (due < b->idle_sleep_us) {
			if (due != 0)
				rte_delay_us_sleep(due);
			return;
		}
	}
	rte_delay_us_sleep(b->idle_sleep_us);
	b->idle_sleeps++;
	b->idle_sleep_us = RTE_MIN(b->idle_sleep_us * 2, b->idle_sleep_max_us);
}

static void stats_line_print(const struct bridge *b)
{
	printf("stats:");
	for (int d = 0; d < DIR_MAX; d++)
		printf(" %s rx %" PRIu64 " tx %" PRIu64 " dropped %" PRIu64 ";",
		       dir_name[d], b->st[d].rx_pkts, b->st[d].tx_pkts,
		       b->st[d].dropped);
	printf(" idle_sleeps %" PRIu64 "\n", b->idle_sleeps);
}

static void final_print(const struct bridge *b, unsigned leaked)
{
	printf("final counters:\n");
	for (int d = 0; d < DIR_MAX; d++) {
		const struct dir_stats *st = &b->st[d];

		printf("  %s.rx_pkts %" PRIu64 "\n", dir_name[d], st->rx_pkts);
		printf("  %s.rx_bytes %" PRIu64 "\n", dir_name[d],
		       st->rx_bytes);
		printf("  %s.tx_pkts %" PRIu64 "\n", dir_name[d], st->tx_pkts);
		printf("  %s.dropped %" PRIu64 "\n", dir_name[d], st->dropped);
		printf("  %s.no_peer %" PRIu64 "\n", dir_name[d], st->no_peer);
		printf("  %s.retries %" PRIu64 "\n", dir_name[d], st->retries);
		printf("  %s.tso_cut %" PRIu64 "\n", dir_name[d], st->tso_cut);
		printf("  %s.tso_pieces %" PRIu64 "\n", dir_name[d],
		       st->tso_pieces);
		printf("  %s.cut_failed %" PRIu64 "\n", dir_name[d],
		       st->cut_failed);
		printf("  %s.merged %" PRIu64 "\n", dir_name[d], st->merged);
		printf("  %s.merged_segs %" PRIu64 "\n", dir_name[d],
		       st->merged_segs);
		if (!b->impaired)
			continue;
		printf("  %s.lost %" PRIu64 "\n", dir_name[d], st->lost);
		printf("  %s.duplicated %" PRIu64 "\n", dir_name[d],
		       st->duplicated);
		printf("  %s.corrupted %" PRIu64 "\n", dir_name[d],
		       st->corrupted);
		printf("  %s.reordered %" PRIu64 "\n", dir_name[d],
		       st->reordered);
		printf("  %s.delayed %" PRIu64 "\n", dir_name[d], st->delayed);
		printf("  %s.delay_full %" PRIu64 "\n", dir_name[d],
		       st->delay_full);
	}
	printf("  idle_sleeps %" PRIu64 "\n", b->idle_sleeps);
	printf("  mbufs_in_use_after_close %u\n", leaked);
}

/* Frames still delayed or pending at the stop go back to the pool. */
static void impair_drain(struct bridge *b)
{
	struct rte_mbuf *m;

	for (int d = 0; b->impaired && d < DIR_MAX; d++) {
		while ((m = impair_queue_pop_due(&b->imp[d].q, UINT64_MAX)))
			rte_pktmbuf_free(m);
		rte_pktmbuf_free_bulk(b->imp[d].pend, b->imp[d].npend);
		b->imp[d].npend = 0;
		impair_queue_free(&b->imp[d].q);
	}
}

static void run(struct bridge *b, unsigned stats_every)
{
	uint64_t hz = rte_get_tsc_hz(), next = 0, now;
	unsigned moved;

	if (stats_every != 0)
		next = rte_get_tsc_cycles() + stats_every * hz;
	while (!stop_signal) {
		if (b->impaired) {
			moved = forward_impaired(b, DIR_TO_TAP,
						 b->port[DIR_TO_VHOST]);
			moved += forward_impaired(b, DIR_TO_VHOST,
						  b->port[DIR_TO_TAP]);
		} else {
			moved = forward(b, DIR_TO_TAP, b->port[DIR_TO_VHOST]);
			moved += forward(b, DIR_TO_VHOST, b->port[DIR_TO_TAP]);
		}
		idle_step(b, moved);
		if (stats_every == 0)
			continue;
		now = rte_get_tsc_cycles();
		if (now >= next) {
			stats_line_print(b);
			next = now + stats_every * hz;
		}
	}
	printf("rs_bridge: %s received, stopping\n",
	       stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
}

int main(int argc, char **argv)
{
	static struct bridge b;
	struct opts o;
	cpu_set_t cpus;
	unsigned leaked;
	int rc;

	rc = opts_parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (rs_dp_signals_install(on_signal) < 0 ||
	    sched_getaffinity(0, sizeof(cpus), &cpus) < 0) {
		fprintf(stderr, "rs_bridge: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (eal_init(&o, &cpus) < 0)
		return EXIT_RUNTIME;
	b.idle_sleep_max_us = o.idle_sleep_max_us;
	b.idle_sleep_us = IDLE_SLEEP_MIN_US;
	b.impaired = impair_active(&o.impair);
	b.no_tso = o.no_tso || o.af_iface != NULL;
	b.nq = (uint16_t)o.queues;
	for (int d = 0; b.impaired && d < DIR_MAX; d++) {
		impair_init(&b.imp[d].st, &o.impair, (uint64_t)o.seed * 2 + d);
		if (impair_queue_init(&b.imp[d].q, DELAY_MAX) < 0) {
			fprintf(stderr, "rs_bridge: no memory for the delay "
					"queues\n");
			return EXIT_RUNTIME;
		}
	}
	if (ports_setup(&b, o.mbufs, o.af_iface != NULL) < 0)
		goto err_ports;
	printf("rs_bridge: ready: %s %s <-> tap %s (ports %u, %u)\n",
	       o.af_iface ? "af_packet" : "vhost-user",
	       o.af_iface ? o.af_iface : o.vhost_path, o.tap_iface,
	       b.port[DIR_TO_VHOST], b.port[DIR_TO_TAP]);
	if (b.impaired)
		printf("rs_bridge: impairing both directions: loss %.2f%% dup "
		       "%.2f%% corrupt %.2f%% delay %u us +- %u us reorder "
		       "%.2f%% (correlation %.0f%%), seed %u\n",
		       o.impair.loss * 100, o.impair.dup * 100,
		       o.impair.corrupt * 100, o.impair.delay_us,
		       o.impair.jitter_us, o.impair.reorder * 100,
		       o.impair.reorder_corr * 100, o.seed);
	run(&b, o.stats_every);
	impair_drain(&b);
	ports_close();
	leaked = rte_mempool_in_use_count(b.pool);
	final_print(&b, leaked);
	rte_mempool_free(b.pool);
	rte_eal_cleanup();
	return leaked == 0 ? EXIT_OK : EXIT_RUNTIME;

err_ports:
	ports_close();
	rte_mempool_free(b.pool);
	rte_eal_cleanup();
	fprintf(stderr, "rs_bridge: not started\n");
	return EXIT_RUNTIME;
}
