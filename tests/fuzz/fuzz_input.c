/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: received frames through the data plane's input path
 * (rs_eth_input() and everything under it: ARP, IPv4, ICMP, UDP, the TCP
 * glue and core, the socket layer), on a worker set up without a port.
 *
 * The worker is built by dataplane.c's constructor (rs_dp_lcore_create()),
 * from the default configuration with small tables, on a packet pool
 * without a per-lcore cache (so that its count is exact), with the
 * routing table.  The EAL runs without hugepages and without shared
 * files (--no-huge --no-shconf; --in-memory refuses --no-huge).  Each
 * input gets a fresh socket table and TCP stack, so that inputs do not
 * depend on one another; the application on it is a TCP echo server on
 * port 80 (the listener accepts, the connections echo what they read) and
 * a UDP echo on port 7.  Its clock is the harness's: it starts at the same
 * value for every input and moves only when the input says so.
 *
 * Input: byte 0 picks the mode, the rest is its data.
 *   mode & 3 == 0   one raw frame;
 *   mode & 3 == 1   raw frames, each a 2-byte length and the bytes;
 *   mode & 3 >= 2   a TCP session: the harness opens a connection to port
 *                   80 from 198.18.0.1 (SYN, the stack's SYN-ACK, ACK),
 *                   then runs ops of OP_LEN bytes (+ their data), see
 *                   op_run(): segments built on the connection's
 *                   sequence numbers, raw frames, application calls and
 *                   clock steps.
 *   mode & 4        raw frames: fix the IPv4 and UDP/TCP/ICMP checksums,
 *                   so that the bytes reach past them;
 *   mode & 8        split every frame into two chained mbufs, at an
 *                   offset from mode >> 4.
 * Before the mode's frames the peer 198.18.0.1 asks for our MAC (ARP), so
 * that replies find its address.
 *
 * Checked (abort() on violation, which the fuzzer reports):
 *   - a DROP verdict counted exactly one drop, other verdicts none;
 *   - every frame the stack emits is whole: Ethernet from our MAC, a
 *     valid IPv4 header and checksum, a right UDP/TCP/ICMP checksum;
 *   - the TX batch never fills (it has no port to drain into);
 *   - after the input, with the sockets and the TCP stack freed and the
 *     emitted frames freed, every mbuf is back in the pool.
 * At exit: what the run reached (RS_FUZZ_VERBOSE: each drop reason).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "../../net/dp_pvt.h"
#include "../../net/sock_pvt.h"
#include "../../net/stack_pvt.h"
#include "fuzz.h"
#include "rs_config.h"
#include "rs_sock.h"

#define US_NS 1000ull
#define FRAME_MAX 1600
#define POOL_SIZE 511
#define CONNS_MAX 4
#define OP_LEN 6
#define OPS_MAX 64
#define FRAMES_MAX 64

#define OUR_IP 0xc6120002u  /* 198.18.0.2 */
#define PEER_IP 0xc6120001u /* 198.18.0.1 */
#define TCP_PORT 80
#define UDP_PORT 7
#define PEER_PORT 40000
#define PEER_ISN 1000000u

static const struct rte_ether_addr our_mac = {{0x02, 0, 0xc6, 0x12, 0, 2}};
static const struct rte_ether_addr peer_mac = {{0x02, 0, 0xc6, 0x12, 0, 1}};

struct world {
	struct rs_config cfg;
	struct rs_dp *dp; /* the routing table, the interface */
	struct rs_lcore *lc;
	struct rte_mempool *pool;
	/* The application. */
	struct rs_sock *lst, *udp;
	struct rs_sock *conn[CONNS_MAX];
	/* The session: the peer's next sequence number, and the stack's. */
	uint32_t cli_nxt, srv_nxt;
	/* Over the whole run, for the summary at exit. */
	uint64_t frames, verdicts[3], emitted, sessions;
	uint64_t drops[RS_DP_DROP_MAX];
	uint8_t scratch[8192];
};

static void check_at(int ok, const char *what, int line)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_input.c:%d: check failed: %s\n", line, what);
	abort();
}

#define check(ok) check_at(!!(ok), #ok, __LINE__)

/* ---- the worker ---------------------------------------------------------- */

static void config_make(struct rs_config *cfg)
{
	char err[256];

	if (rs_config_load_default(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_input: default config: %s\n", err);
		abort();
	}
	cfg->net.ip = rte_cpu_to_be_32(OUR_IP);
	cfg->net.prefix = 24;
	cfg->net.gateway = 0;
	cfg->nroutes = 0;
	cfg->port.mtu = 1500;
	cfg->sockets.max = 8;
	cfg->sockets.icmp_unreach_rate = 1000;
	cfg->tcp.max_conns = CONNS_MAX;
	cfg->tcp.mss = 0;
	cfg->limits.sock_rx_ring = 16384;
	cfg->limits.sock_tx_ring = 16384;
	cfg->arp.pending = 2;
	cfg->arp.queue = 4;
}

static void eal_init(void)
{
	char *argv[] = {
	    "fuzz_input",  "--no-huge",	     "-m", "64", "--no-pci",
	    "--no-shconf", "--no-telemetry", "-l", "0",	 "--log-level=*:error",
	    NULL};

	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr, "fuzz_input: EAL: %s\n",
			rte_strerror(rte_errno));
		abort();
	}
}

/* A worker as dataplane.c makes one (rs_dp_lcore_create()), without a
 * port, on the harness's pool; its socket table and TCP stack are made
 * afresh for each input (app_start()).  No fragment table: fragments are
 * dropped (ip_fragment), so that no input leaves one for the next and a
 * frame's verdict accounts for all its drops (reassembly has its own
 * test, ip_reassembly).  Its linearising buffer counts as a frame's size,
 * as a port without LRO has it: a longer chained segment is one the
 * stack drops, a path the inputs reach. */
static struct rs_lcore *lcore_make(struct world *w)
{
	struct rs_dp *dp = w->dp;
	struct rs_lcore *lc;

	dp->ifc.mac = our_mac;
	dp->ifc.ip = w->cfg.net.ip;
	dp->ifc.netmask = rte_cpu_to_be_32(~0u << (32 - w->cfg.net.prefix));
	dp->ifc.mtu = (uint16_t)w->cfg.port.mtu;
	lc = rs_dp_lcore_create(dp, rte_lcore_id(), 0);
	check(lc != NULL);
	rs_socks_free(lc);
	rs_tcp_glue_free(lc);
	rs_frag_free(lc);
	lc->pool = w->pool;
	lc->route = dp->route;
	lc->burst = 32;
	lc->idle_backoff = false;
	lc->lin_size = w->cfg.port.mtu;
	return lc;
}

static struct world *world;

/* What the run reached: the frames' verdicts and the drop reasons. */
static void summary_print(void)
{
	struct world *w = world;
	unsigned reasons = 0;

	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++)
		reasons += w->drops[i] != 0;
	printf("fuzz_input: %" PRIu64 " frames in: %" PRIu64
	       " answered, %" PRIu64 " consumed, %" PRIu64
	       " dropped under %u of %u reasons; %" PRIu64
	       " frames out; %" PRIu64 " sessions established\n",
	       w->frames, w->verdicts[RS_VERDICT_TX],
	       w->verdicts[RS_VERDICT_CONSUMED], w->verdicts[RS_VERDICT_DROP],
	       reasons, (unsigned)RS_DP_DROP_MAX, w->emitted, w->sessions);
	if (getenv("RS_FUZZ_VERBOSE") == NULL)
		return;
	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++)
		printf("  drop.%-24s %" PRIu64 "\n", rs_dp_drop_name(i),
		       w->drops[i]);
}

/* Built once: libFuzzer calls the entry point millions of times. */
static struct world *world_get(void)
{
	struct world *w = world;

	if (w != NULL)
		return w;
	w = calloc(1, sizeof(*w));
	check(w != NULL);
	world = w;
	atexit(summary_print);
	eal_init();
	config_make(&w->cfg);
	w->pool =
	    rte_pktmbuf_pool_create("fz_pool", POOL_SIZE, 0, 0,
				    RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	w->dp = rte_zmalloc("fz_dp", sizeof(*w->dp), 64);
	check(w->pool != NULL && w->dp != NULL);
	w->dp->cfg = w->cfg;
	check(rs_route_create(w->dp) == 0);
	w->lc = lcore_make(w);
	return w;
}

/* The harness's clock: the same start for every input. */
static void clock_set(struct world *w, uint64_t ns)
{
	struct rs_lcore *lc = w->lc;

	lc->now_ns = ns;
	lc->now_tsc = lc->tsc0 +
		      (uint64_t)((unsigned __int128)ns * lc->tsc_hz / NS_PER_S);
}

/* ---- emitted frames ------------------------------------------------------ */

static bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

/* The UDP/TCP checksum of a contiguous segment is right. */
static bool l4_sum_ok(const struct rte_ipv4_hdr *ip, const uint8_t *l4,
		      uint32_t len)
{
	uint32_t sum = rte_raw_cksum(l4, len) + rte_ipv4_phdr_cksum(ip, 0);

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static void check_l4(struct world *w, const struct rte_ipv4_hdr *ip,
		     const uint8_t *l4, uint32_t len)
{
	const struct rte_tcp_hdr *th;
	uint32_t end;

	switch (ip->next_proto_id) {
	case IPPROTO_TCP:
		check(len >= sizeof(*th));
		check(l4_sum_ok(ip, l4, len));
		th = (const void *)l4;
		if (th->dst_port != RTE_BE16(PEER_PORT) ||
		    th->src_port != RTE_BE16(TCP_PORT))
			return;
		end = rte_be_to_cpu_32(th->sent_seq) + len -
		      (th->data_off >> 4) * 4u +
		      !!(th->tcp_flags & RTE_TCP_SYN_FLAG) +
		      !!(th->tcp_flags & RTE_TCP_FIN_FLAG);
		if ((th->tcp_flags & RTE_TCP_SYN_FLAG) ||
		    seq_after(end, w->srv_nxt))
			w->srv_nxt = end;
		return;
	case IPPROTO_UDP:
		check(len >= sizeof(struct rte_udp_hdr));
		check(((const struct rte_udp_hdr *)l4)->dgram_cksum == 0 ||
		      l4_sum_ok(ip, l4, len));
		return;
	case IPPROTO_ICMP:
		check(len >= sizeof(struct rte_icmp_hdr));
		check(rte_raw_cksum(l4, len) == 0xffff);
		return;
	default:
		check(0);
	}
}

/* One frame the stack sent: whole and well formed. */
static void check_out(struct world *w, const struct rte_mbuf *m)
{
	const uint8_t *p = w->scratch;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	const struct rte_ether_hdr *eh;
	const struct rte_ipv4_hdr *ip;
	uint16_t total;

	check(len >= sizeof(*eh) && len <= sizeof(w->scratch));
	p = rte_pktmbuf_read(m, 0, len, w->scratch);
	check(p != NULL);
	eh = (const void *)p;
	check(rte_is_same_ether_addr(&eh->src_addr, &our_mac));
	if (eh->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
		check(len >= sizeof(*eh) + sizeof(struct rte_arp_hdr));
		return;
	}
	check(eh->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4));
	ip = (const void *)(eh + 1);
	check(len >= sizeof(*eh) + sizeof(*ip));
	check(ip->version_ihl == RTE_IPV4_VHL_DEF);
	check(rte_ipv4_cksum(ip) == 0);
	check(ip->src_addr == rte_cpu_to_be_32(OUR_IP));
	total = rte_be_to_cpu_16(ip->total_length);
	check(total >= sizeof(*ip) && total <= len - sizeof(*eh));
	check(total <= w->cfg.port.mtu);
	check_l4(w, ip, (const uint8_t *)(ip + 1), total - sizeof(*ip));
}

/* Check and free what the stack queued for TX. */
static void tx_drain(struct world *w)
{
	struct rs_lcore *lc = w->lc;

	check(lc->tx_n < RS_TX_BATCH_MAX);
	w->emitted += lc->tx_n;
	for (uint16_t i = 0; i < lc->tx_n; i++) {
		check_out(w, lc->tx[i]);
		rte_pktmbuf_free(lc->tx[i]);
	}
	lc->tx_n = 0;
}

/* ---- the application ----------------------------------------------------- */

static void conn_forget(struct world *w, struct rs_sock *s)
{
	for (int i = 0; i < CONNS_MAX; i++)
		if (w->conn[i] == s)
			w->conn[i] = NULL;
	rs_sock_close(s);
}

static void on_listener(struct world *w, struct rs_sock *s)
{
	struct rs_sock *n;
	int i;

	while ((n = rs_sock_accept(s, NULL)) != NULL) {
		for (i = 0; i < CONNS_MAX && w->conn[i] != NULL; i++)
			;
		if (i == CONNS_MAX)
			rs_sock_close(n);
		else
			w->conn[i] = n;
	}
}

/* Echo what there is to read, as far as the TX ring takes it. */
static void on_conn(struct world *w, struct rs_sock *s, unsigned ev)
{
	uint8_t buf[2048];
	ssize_t n;

	if (ev & RS_SOCK_EV_CLOSED) {
		conn_forget(w, s);
		return;
	}
	while ((n = rs_sock_recv(s, buf, sizeof(buf), 0)) > 0)
		(void)rs_sock_send(s, buf, (size_t)n, 0);
	if (n == 0)
		(void)rs_sock_shutdown(s, RS_SOCK_SHUT_WR);
}

static void on_udp(struct world *w, struct rs_sock *s)
{
	struct sockaddr_in from;
	uint8_t buf[2048];
	ssize_t n;

	while ((n = rs_sock_recvfrom(s, buf, sizeof(buf), 0, &from)) >= 0)
		(void)rs_sock_sendto(s, buf, (size_t)n, 0, &from);
}

static void on_event(struct rs_sock *s, unsigned ev, void *user)
{
	struct world *w = user;

	if (s == w->lst)
		on_listener(w, s);
	else if (s == w->udp)
		on_udp(w, s);
	else
		on_conn(w, s, ev);
}

static struct rs_sock *sock_make(struct world *w, enum rs_sock_kind kind,
				 uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = rte_cpu_to_be_16(port)};
	struct rs_sock *s = rs_sock_open(w->lc, kind, on_event, w);

	check(s != NULL);
	check(rs_sock_bind(s, &a) == 0);
	return s;
}

/* A fresh socket table, TCP stack and clock. */
static void app_start(struct world *w)
{
	struct rs_lcore *lc = w->lc;

	memset(&lc->cnt, 0, sizeof(lc->cnt));
	memset(lc->arp, 0, sizeof(lc->arp));
	lc->icmp_tat = 0;
	lc->arp_next_tsc = UINT64_MAX;
	clock_set(w, 1000ull * NS_PER_S);
	check(rs_socks_create(lc, &w->cfg) == 0);
	check(rs_tcp_glue_create(lc, &w->cfg) == 0);
	w->lst = sock_make(w, RS_SOCK_TCP, TCP_PORT);
	check(rs_sock_listen(w->lst, 2) == 0);
	w->udp = sock_make(w, RS_SOCK_UDP, UDP_PORT);
	memset(w->conn, 0, sizeof(w->conn));
}

/* Everything freed; every mbuf back. */
static void app_stop(struct world *w)
{
	struct rs_lcore *lc = w->lc;

	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++)
		w->drops[i] += lc->cnt.drops[i];
	rs_socks_free(lc);
	tx_drain(w);
	rs_tcp_glue_free(lc);
	rs_arp_flush(lc);
	tx_drain(w);
	check(lc->cnt.tx_dropped == 0);
	check(rte_mempool_in_use_count(w->pool) == 0);
}

/* ---- input --------------------------------------------------------------- */

static uint64_t drops_sum(const struct rs_lcore *lc)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++)
		sum += lc->cnt.drops[i];
	return sum;
}

/* The frame in an mbuf: the first segment ends at @p cut (0: where it
 * is full), the others hold what is left as far as each fits. */
static struct rte_mbuf *frame_mbuf(struct world *w, const uint8_t *p,
				   size_t len, size_t cut)
{
	struct rte_mbuf *head = NULL, *m;
	size_t off = 0, n;

	if (cut == 0 || cut >= len)
		cut = len;
	do {
		m = rte_pktmbuf_alloc(w->pool);
		check(m != NULL);
		n = RTE_MIN(off == 0 ? cut : len - off,
			    (size_t)rte_pktmbuf_tailroom(m));
		if (n != 0)
			memcpy(rte_pktmbuf_append(m, (uint16_t)n), p + off, n);
		off += n;
		if (head == NULL)
			head = m;
		else
			check(rte_pktmbuf_chain(head, m) == 0);
	} while (off < len);
	return head;
}

/* What worker.c's rx_handle() does with one frame, then the events. */
static enum rs_verdict frame_in(struct world *w, const uint8_t *p, size_t len,
				size_t cut)
{
	struct rs_lcore *lc = w->lc;
	struct rte_mbuf *m = frame_mbuf(w, p, len, cut);
	uint64_t before = drops_sum(lc);
	enum rs_verdict v = rs_eth_input(lc, m);

	check(drops_sum(lc) == before + (v == RS_VERDICT_DROP));
	w->frames++;
	w->verdicts[v]++;
	if (v == RS_VERDICT_TX)
		rs_lcore_tx(lc, m);
	else
		rte_pktmbuf_free(m);
	rs_socks_dispatch(lc);
	tx_drain(w);
	return v;
}

/* Make the checksums right, as far as the lengths let us find them. */
static void csum_fix(uint8_t *p, size_t len)
{
	struct rte_ipv4_hdr *ip = (void *)(p + RTE_ETHER_HDR_LEN);
	size_t hl, total;
	uint8_t *l4;

	if (len < RTE_ETHER_HDR_LEN + sizeof(*ip) ||
	    ((struct rte_ether_hdr *)p)->ether_type !=
		RTE_BE16(RTE_ETHER_TYPE_IPV4))
		return;
	hl = (size_t)(ip->version_ihl & 0xf) * 4;
	total = rte_be_to_cpu_16(ip->total_length);
	if (hl < sizeof(*ip) || RTE_ETHER_HDR_LEN + hl > len)
		return;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	if (total < hl || RTE_ETHER_HDR_LEN + total > len || hl != sizeof(*ip))
		return;
	l4 = p + RTE_ETHER_HDR_LEN + hl;
	if (ip->next_proto_id == IPPROTO_TCP && total - hl >= 20) {
		((struct rte_tcp_hdr *)l4)->cksum = 0;
		((struct rte_tcp_hdr *)l4)->cksum =
		    rte_ipv4_udptcp_cksum(ip, l4);
	} else if (ip->next_proto_id == IPPROTO_UDP && total - hl >= 8) {
		((struct rte_udp_hdr *)l4)->dgram_cksum = 0;
		((struct rte_udp_hdr *)l4)->dgram_cksum =
		    rte_ipv4_udptcp_cksum(ip, l4);
	} else if (ip->next_proto_id == IPPROTO_ICMP && total - hl >= 8) {
		((struct rte_icmp_hdr *)l4)->icmp_cksum = 0;
		((struct rte_icmp_hdr *)l4)->icmp_cksum =
		    (uint16_t)~rte_raw_cksum(l4, total - hl);
	}
}

static void raw_in(struct world *w, const uint8_t *p, size_t len, uint8_t mode)
{
	uint8_t *buf = w->scratch;

	len = RTE_MIN(len, (size_t)FRAME_MAX);
	memcpy(buf, p, len);
	if (mode & 4)
		csum_fix(buf, len);
	frame_in(w, buf, len, (mode & 8) ? 14u + (mode >> 4) * 4u : 0);
}

/* Ethernet and IPv4 headers from the peer to us, around @p l4len. */
static uint8_t *ip_frame(uint8_t *buf, uint8_t proto, size_t l4len)
{
	struct rte_ether_hdr *eh = (void *)buf;
	struct rte_ipv4_hdr *ip = (void *)(eh + 1);

	eh->dst_addr = our_mac;
	eh->src_addr = peer_mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(sizeof(*ip) + l4len);
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = rte_cpu_to_be_32(PEER_IP);
	ip->dst_addr = rte_cpu_to_be_32(OUR_IP);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	return (uint8_t *)(ip + 1);
}

/* The peer asks for our MAC: we learn its own. */
static void arp_hello(struct world *w)
{
	uint8_t buf[64] = {0};
	struct rte_ether_hdr *eh = (void *)buf;
	struct rte_arp_hdr *ah = (void *)(eh + 1);

	memset(&eh->dst_addr, 0xff, sizeof(eh->dst_addr));
	eh->src_addr = peer_mac;
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = 4;
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	ah->arp_data.arp_sha = peer_mac;
	ah->arp_data.arp_sip = rte_cpu_to_be_32(PEER_IP);
	ah->arp_data.arp_tip = rte_cpu_to_be_32(OUR_IP);
	check(frame_in(w, buf, 60, 0) == RS_VERDICT_TX);
}

/* A segment of the peer's connection. */
struct seg {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t wnd, dport;
	const uint8_t *opt;
	size_t optlen; /* a multiple of 4, at most 40 */
	const uint8_t *data;
	size_t len;
	bool bad_csum;
	size_t cut;
};

static enum rs_verdict seg_in(struct world *w, const struct seg *s)
{
	uint8_t *buf = w->scratch + 4096;
	size_t l4len = sizeof(struct rte_tcp_hdr) + s->optlen + s->len;
	uint8_t *l4 = ip_frame(buf, IPPROTO_TCP, l4len);
	struct rte_tcp_hdr *th = (void *)l4;

	memset(th, 0, sizeof(*th));
	th->src_port = RTE_BE16(PEER_PORT);
	th->dst_port = rte_cpu_to_be_16(s->dport);
	th->sent_seq = rte_cpu_to_be_32(s->seq);
	th->recv_ack = rte_cpu_to_be_32(s->ack);
	th->data_off = (uint8_t)((sizeof(*th) + s->optlen) / 4 << 4);
	th->tcp_flags = s->flags;
	th->rx_win = rte_cpu_to_be_16(s->wnd);
	memset(th + 1, 0, s->optlen);
	if (s->opt != NULL)
		memcpy(th + 1, s->opt, s->optlen);
	if (s->len != 0)
		memcpy(l4 + sizeof(*th) + s->optlen, s->data, s->len);
	th->cksum =
	    rte_ipv4_udptcp_cksum((const void *)(buf + RTE_ETHER_HDR_LEN), l4);
	if (s->bad_csum)
		th->cksum ^= 0x0101;
	return frame_in(w, buf,
			RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) + l4len,
			s->cut);
}

/* SYN, the stack's SYN-ACK, ACK: an established connection. */
static void handshake(struct world *w)
{
	static const uint8_t syn_opt[] = {2, 4, 0x05, 0xb4, 1, 3,
					  3, 7, 4,    2,    1, 1};
	struct seg s = {.flags = RTE_TCP_SYN_FLAG,
			.seq = PEER_ISN,
			.wnd = 65535,
			.dport = TCP_PORT,
			.opt = syn_opt,
			.optlen = sizeof(syn_opt)};

	w->srv_nxt = 0;
	check(seg_in(w, &s) == RS_VERDICT_CONSUMED);
	s.flags = RTE_TCP_ACK_FLAG;
	s.seq = PEER_ISN + 1;
	s.ack = w->srv_nxt;
	s.opt = NULL;
	s.optlen = 0;
	check(seg_in(w, &s) == RS_VERDICT_CONSUMED);
	check(w->conn[0] != NULL);
	w->cli_nxt = PEER_ISN + 1;
	w->sessions++;
}

/* A signed byte as a sequence offset: small ones near the edge of the
 * window, large ones far outside it. */
static int32_t seq_delta(uint8_t b)
{
	int32_t d = (int8_t)b;

	return d > 100 || d < -100 ? d * 1000 : d;
}

static void op_segment(struct world *w, const uint8_t *op, const uint8_t *p,
		       size_t n)
{
	static const uint16_t wnds[] = {65535, 0, 1, 512};
	struct seg s = {
	    .flags = op[1],
	    .seq = w->cli_nxt + (uint32_t)seq_delta(op[2]),
	    .ack = w->srv_nxt + (uint32_t)seq_delta(op[3]),
	    .wnd = wnds[op[0] >> 6],
	    .dport = (op[0] & 0x08) ? TCP_PORT + 1 : TCP_PORT,
	    .opt = p,
	    .optlen = RTE_MIN((size_t)(op[4] & 0x3f) / 4 * 4, (size_t)40),
	    .bad_csum = op[0] & 0x04,
	    .cut = (op[0] & 0x20) ? 40 : 0,
	};

	s.optlen = RTE_MIN(s.optlen, n);
	s.optlen -= s.optlen % 4;
	s.data = p + s.optlen;
	s.len = RTE_MIN((size_t)op[5] * 8, n - s.optlen);
	if (seg_in(w, &s) == RS_VERDICT_CONSUMED && op[2] == 0)
		w->cli_nxt += (uint32_t)s.len + !!(s.flags & RTE_TCP_SYN_FLAG) +
			      !!(s.flags & RTE_TCP_FIN_FLAG);
}

/* The application does something on the first live connection. */
static void op_app(struct world *w, const uint8_t *op)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_addr.s_addr = rte_cpu_to_be_32(PEER_IP),
				 .sin_port = rte_cpu_to_be_16(op[3] | 1)};
	struct rs_sock *s = NULL;
	uint8_t buf[4096];

	for (int i = 0; i < CONNS_MAX && s == NULL; i++)
		s = w->conn[i];
	memset(buf, op[4], sizeof(buf));
	switch (op[1] % 8) {
	case 0:
		if (s != NULL)
			(void)rs_sock_send(s, buf, (size_t)op[2] * 16, 0);
		break;
	case 1:
		if (s != NULL)
			(void)rs_sock_shutdown(s, op[2] % 3);
		break;
	case 2:
		if (s != NULL)
			conn_forget(w, s);
		break;
	case 3:
		if (s != NULL)
			on_conn(w, s, 0); /* read and echo now */
		break;
	case 4:
		if (s != NULL)
			(void)rs_sock_setopt(
			    s, (enum rs_sock_opt)(op[2] % RS_SOCK_OPT_MAX),
			    (int8_t)op[3]);
		break;
	case 5:
		(void)rs_sock_sendto(w->udp, buf, op[2], 0, &to);
		break;
	case 6:
		if (s != NULL)
			(void)rs_sock_recv(s, buf, op[2], RS_SOCK_PEEK);
		break;
	default:
		if (s != NULL) {
			for (int i = 0; i < CONNS_MAX; i++)
				if (w->conn[i] == s)
					w->conn[i] = NULL;
			rs_sock_abort(s);
		}
		break;
	}
	rs_socks_dispatch(w->lc);
	tx_drain(w);
}

/* Time passes: @p op[1] steps of 2^(op[2] % 24) us, timers run. */
static void op_clock(struct world *w, const uint8_t *op)
{
	struct rs_lcore *lc = w->lc;

	for (unsigned i = 0; i <= op[1] % 16; i++) {
		clock_set(w, lc->now_ns + (US_NS << (op[2] % 24)));
		rs_arp_tick(lc, lc->now_tsc);
		rs_tcp_glue_timers(lc);
		rs_socks_dispatch(lc);
		tx_drain(w);
	}
}

/*
 * One op: OP_LEN bytes, then the data it takes.
 *   op[0] & 3 == 0  a segment on the connection: op[1] flags, op[2] and
 *                   op[3] offsets of seq from the peer's next and of ack
 *                   from the stack's (seq_delta()), op[4] option bytes,
 *                   op[5] data bytes / 8; op[0] & 4 spoils the checksum,
 *                   & 8 sends to a closed port, & 0x20 chains the mbuf,
 *                   >> 6 picks the window;
 *   op[0] & 3 == 1  a raw frame of op[1..2] bytes, checksums fixed unless
 *                   op[0] & 4;
 *   op[0] & 3 == 2  an application call (op_app());
 *   op[0] & 3 == 3  a clock step (op_clock()).
 * @return the bytes consumed.
 */
static size_t op_run(struct world *w, const uint8_t *p, size_t n)
{
	const uint8_t *op = p;
	size_t len;

	if (n < OP_LEN)
		return n;
	p += OP_LEN;
	n -= OP_LEN;
	switch (op[0] & 3) {
	case 0:
		op_segment(w, op, p, n);
		len = RTE_MIN(n, (size_t)(op[4] & 0x3f) + (size_t)op[5] * 8);
		return OP_LEN + len;
	case 1:
		len = RTE_MIN(n, (size_t)(op[1] << 8 | op[2]) % FRAME_MAX);
		raw_in(w, p, len, (op[0] & 4) ? 0 : 4);
		return OP_LEN + len;
	case 2:
		op_app(w, op);
		return OP_LEN;
	default:
		op_clock(w, op);
		return OP_LEN;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world *w = world_get();
	uint8_t mode;
	size_t len, used;
	unsigned k;

	if (size == 0)
		return 0;
	mode = data[0];
	data++;
	size--;
	app_start(w);
	arp_hello(w);
	switch (mode & 3) {
	case 0:
		raw_in(w, data, size, mode);
		break;
	case 1:
		for (k = 0; k < FRAMES_MAX && size >= 2; k++) {
			len =
			    RTE_MIN((size_t)(data[0] << 8 | data[1]), size - 2);
			raw_in(w, data + 2, len, mode);
			data += 2 + len;
			size -= 2 + len;
		}
		break;
	default:
		handshake(w);
		for (k = 0; k < OPS_MAX && size > 0; k++) {
			used = op_run(w, data, size);
			data += used;
			size -= used;
		}
		break;
	}
	app_stop(w);
	return 0;
}

/* ---- the replay driver's hooks (fuzz.h) ---------------------------------- */

/* A frame from the peer: @p l4 (@p len bytes) over IPv4 @p proto;
 * checksums left to the harness (mode & 4).  @return its length. */
static size_t seed_ip(uint8_t *buf, uint8_t proto, const void *l4, size_t len)
{
	memcpy(ip_frame(buf, proto, len), l4, len);
	return RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) + len;
}

static size_t seed_tcp(uint8_t *buf, uint16_t dport, uint8_t flags)
{
	uint8_t th[24] = {PEER_PORT >> 8,
			  PEER_PORT & 0xff,
			  dport >> 8,
			  dport & 0xff,
			  0,
			  0,
			  0,
			  1,
			  0,
			  0,
			  0,
			  0,
			  6 << 4,
			  flags,
			  0xff,
			  0xff,
			  0,
			  0,
			  0,
			  0,
			  2,
			  4,
			  0x05,
			  0xb4};

	return seed_ip(buf, IPPROTO_TCP, th, sizeof(th));
}

static size_t seed_udp(uint8_t *buf, uint16_t dport)
{
	uint8_t uh[16] = {0x9c, 0x40, dport >> 8, dport & 0xff, 0,   16,  0,
			  0,	'h',  'e',	  'l',		'l', 'o', '!',
			  '\n', 0};

	return seed_ip(buf, IPPROTO_UDP, uh, sizeof(uh));
}

static size_t seed_icmp(uint8_t *buf, uint8_t type)
{
	alignas(4)
	    uint8_t m[8 + 28] = {type, type == 3 ? 3 : 0, 0, 0, 0, 1, 0, 1};
	struct rte_ipv4_hdr *in = (void *)(m + 8);

	/* Port unreachable quotes one of our datagrams to the peer. */
	in->version_ihl = RTE_IPV4_VHL_DEF;
	in->total_length = RTE_BE16(28);
	in->next_proto_id = IPPROTO_UDP;
	in->src_addr = rte_cpu_to_be_32(OUR_IP);
	in->dst_addr = rte_cpu_to_be_32(PEER_IP);
	m[28] = 0;
	m[29] = UDP_PORT;
	m[30] = 0x9c;
	m[31] = 0x40;
	return seed_ip(buf, IPPROTO_ICMP, m, sizeof(m));
}

/* Raw frames, each behind its 2-byte length (mode 1). */
static size_t seed_frames(uint8_t *buf)
{
	alignas(8) uint8_t f[128];
	size_t len = 0, n, k;

	for (k = 0; k < 6; k++) {
		switch (k) {
		case 0:
			n = seed_tcp(f, TCP_PORT + 1, RTE_TCP_SYN_FLAG);
			break;
		case 1:
			n = seed_udp(f, UDP_PORT + 1);
			break;
		case 2:
			n = seed_icmp(f, 3);
			break;
		case 3:
			n = seed_icmp(f, RTE_IP_ICMP_ECHO_REQUEST);
			break;
		case 4: /* a fragment */
			n = seed_udp(f, UDP_PORT);
			f[RTE_ETHER_HDR_LEN + 6] = 0x20;
			break;
		default: /* IP options: 4 NOPs */
			n = seed_udp(f, UDP_PORT);
			memmove(f + 38, f + 34, n - 34);
			memset(f + 34, 1, 4);
			f[RTE_ETHER_HDR_LEN] = 0x46;
			f[RTE_ETHER_HDR_LEN + 3] += 4;
			n += 4;
			break;
		}
		buf[len++] = 0;
		buf[len++] = (uint8_t)n;
		memcpy(buf + len, f, n);
		len += n;
	}
	return len;
}

/* Session ops (OP_LEN bytes each, then their data). */
static size_t seed_session(uint8_t *buf, unsigned which)
{
	/* clang-format off */
	static const uint8_t echo[] = {
		0, RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG, 0, 0, 0, 8, /* 64 bytes */
		'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
		'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
		'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
		'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
		'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
		'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
		'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
		'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
		3, 2, 6, 0, 0, 0,			/* 3 x 64 us */
		2, 0, 200, 0, 'x', 0,			/* the app sends 3200 */
		0, RTE_TCP_ACK_FLAG, 0, 0, 0, 0,	/* ACK all */
		0, RTE_TCP_ACK_FLAG | RTE_TCP_FIN_FLAG, 0, 0, 0, 0,
		3, 4, 20, 0, 0, 0,			/* 5 x 1 s */
		0, RTE_TCP_ACK_FLAG, 0, 0, 0, 0,
	};
	/* clang-format on */
	static const uint8_t junk[] = {
	    0,	  RTE_TCP_ACK_FLAG,
	    0,	  0,
	    12,	  0, /* options: */
	    1,	  1,
	    8,	  10,
	    0,	  0,
	    0,	  1,
	    0,	  0,
	    0,	  0,
	    0,	  RTE_TCP_SYN_FLAG,
	    0,	  0,
	    0,	  0,
	    0,	  RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG,
	    5,	  0,
	    0,	  0,
	    0,	  RTE_TCP_ACK_FLAG,
	    0,	  0x90,
	    0,	  0,
	    0,	  RTE_TCP_ACK_FLAG,
	    0xa0, 0,
	    0,	  0,
	    0x44, RTE_TCP_ACK_FLAG,
	    0,	  0,
	    0,	  0,
	    2,	  0,
	    255,  0,
	    'y',  0,
	    3,	  15,
	    16,	  0,
	    0,	  0,
	    0,	  RTE_TCP_RST_FLAG,
	    0,	  0,
	    0,	  0};
	static const uint8_t closing[] = {
	    2,	2,
	    0,	0,
	    0,	0, /* the app closes */
	    0,	RTE_TCP_ACK_FLAG,
	    0,	0,
	    0,	0,
	    0,	RTE_TCP_ACK_FLAG | RTE_TCP_FIN_FLAG,
	    0,	0,
	    0,	0,
	    3,	15,
	    22, 0,
	    0,	0, /* TIME-WAIT ends */
	    0,	RTE_TCP_ACK_FLAG,
	    0,	0,
	    0,	0};
	const uint8_t *ops[] = {echo, junk, closing};
	const size_t lens[] = {sizeof(echo), sizeof(junk), sizeof(closing)};

	buf[0] = 0x02;
	memcpy(buf + 1, ops[which], lens[which]);
	return 1 + lens[which];
}

size_t rs_fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	alignas(8) uint8_t f[1024]; /* the frames' headers are aligned */
	size_t len;

	if (cap < sizeof(f) + 1)
		return 0;
	buf[0] = 0x04; /* one frame, checksums fixed */
	switch (i) {
	case 0:
		len = seed_icmp(f, RTE_IP_ICMP_ECHO_REQUEST);
		break;
	case 1:
		len = seed_udp(f, UDP_PORT);
		break;
	case 2:
		len = seed_tcp(f, TCP_PORT, RTE_TCP_SYN_FLAG);
		break;
	case 3:
	case 4:
		buf[0] = i == 3 ? 0x05 : 0x5d; /* 0x5d: chained at 14 + 20 */
		len = seed_frames(f);
		break;
	case 5:
	case 6:
	case 7:
		return seed_session(buf, i - 5);
	default:
		return 0;
	}
	memcpy(buf + 1, f, len);
	return 1 + len;
}

/* Frame lengths (mode 1), IPv4 and UDP lengths: 16 bits, big-endian. */
void rs_fuzz_put_len(uint8_t *p, size_t avail, size_t value)
{
	if (avail < 2)
		return;
	p[0] = (uint8_t)(value >> 8);
	p[1] = (uint8_t)value;
}
