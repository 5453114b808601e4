/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow steering between workers (net/steer.c), white box: two workers
 * without a port, built with net/'s rs_dp_lcore_create() and given
 * steering's rings and claims by rs_steer_create().
 *
 *   t_flow_hash     the flow hash is symmetric, spreads flows, and agrees
 *                   with tests/stack/rss_owner.py (a separate
 *                   implementation) on fixed tuples
 *   t_owners        the owner of crafted frames: TCP by hash or claim,
 *                   UDP by claim or the receiver, both fragments of a
 *                   datagram (the last of one byte) on one worker, an
 *                   ICMP error by the flow it quotes, ARP and frames for
 *                   another address at the receiver
 *   t_claims        a claim excludes the other worker, lasts while a
 *                   socket or a connection holds it, and is refused while
 *                   connections use the port by hash; port_ok takes only
 *                   ports that hash back to the worker
 *   t_hand_over     an RX burst split between the workers: the owner's
 *                   ring gets the other's packets and settles them (SYNs
 *                   to a closed port), and the counters add up; an ARP
 *                   request answered by one worker teaches the other
 *   t_held          past what the owner's ring takes, packets are held
 *                   back (up to twice the largest burst, then dropped as
 *                   steer_full), given as the owner takes its ring, and
 *                   none is lost
 * And the worker's RX burst size (worker.c, beside steering in the RX
 * path), built the same way:
 *   t_rx_want       a worker made by rs_dp_lcore_create() asks for
 *                   [workers] burst; bursts of 64 KiB segments make it
 *                   ask for what RS_RX_BURST_BYTES holds (4, never 0,
 *                   1 for a larger packet), a full burst at the budget
 *                   keeps it, small full bursts double it back to
 *                   [workers] burst, a burst not full keeps it
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
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
#include "rs_config.h"

#define US "198.18.0.2"
#define PEER "198.18.0.1"

struct world {
	struct rs_dp *dp;
	struct rs_lcore *lc[2];
};

static struct rte_mempool *pool;

static uint32_t ip(const char *s)
{
	uint32_t a;

	inet_pton(AF_INET, s, &a);
	return a;
}

static void eal_init(void)
{
	char *argv[] = {
	    "test_steer",  "--no-huge",	     "-m", "128", "--no-pci",
	    "--no-shconf", "--no-telemetry", "-l", "0",	  "--log-level=*:error",
	    NULL};

	assert_true(rte_eal_init((int)RTE_DIM(argv) - 1, argv) >= 0);
	pool = rte_pktmbuf_pool_create(
	    "test_steer", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	assert_non_null(pool);
}

static int setup(void **state)
{
	static bool eal;
	static struct rs_config cfg;
	struct world *w = calloc(1, sizeof(*w));
	char err[256];

	if (!eal) {
		eal_init();
		eal = true;
	}
	assert_int_equal(rs_config_load_default(&cfg, err, sizeof(err)), 0);
	cfg.sockets.max = 16;
	cfg.tcp.max_conns = 16;
	cfg.net.ip = ip(US);
	cfg.net.prefix = 24;
	cfg.net.gateway = 0;
	cfg.nroutes = 0;
	w->dp = rte_zmalloc("ts_dp", sizeof(*w->dp), 64);
	assert_non_null(w->dp);
	w->dp->cfg = cfg;
	w->dp->pool = pool;
	w->dp->port_id = 9;
	w->dp->ifc = (struct rs_iface){
	    .mac = {{0x02, 0, 0xc6, 0x12, 0, 2}},
	    .ip = ip(US),
	    .netmask = htonl(~0u << 8),
	    .mtu = 1500,
	};
	assert_int_equal(rs_route_create(w->dp), 0);
	for (uint16_t k = 0; k < 2; k++) {
		w->lc[k] = rs_dp_lcore_create(w->dp, rte_lcore_id(), k);
		assert_non_null(w->lc[k]);
		w->lc[k]->pool = pool;
		w->lc[k]->route = w->dp->route;
		w->lc[k]->nworkers = 2;
		w->dp->lc[k] = w->lc[k];
	}
	w->dp->nworkers = 2;
	assert_int_equal(rs_steer_create(w->dp), 0);
	assert_non_null(w->lc[0]->steer);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	for (int k = 0; k < 2; k++) {
		struct rs_lcore *lc = w->lc[k];

		rs_socks_free(lc);
		rs_tcp_glue_free(lc);
		rs_arp_flush(lc); /* what waited for an answer */
		for (uint16_t i = 0; i < lc->tx_n; i++)
			rte_pktmbuf_free(lc->tx[i]);
		lc->tx_n = 0;
		rs_dp_lcore_free(lc);
	}
	rs_steer_free(w->dp);
	rs_route_free(w->dp);
	rte_free(w->dp);
	assert_int_equal(rte_mempool_in_use_count(pool), 0);
	free(w);
	return 0;
}

/* ---- frames -------------------------------------------------------------- */

/* Ethernet + IPv4 from PEER to @p dst with @p l4len bytes after the
 * header (zeroed; the caller fills them). */
static struct rte_mbuf *ipv4_frame(uint8_t proto, const char *dst,
				   uint16_t l4len, uint16_t id, uint16_t frag,
				   uint8_t **l4)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eh;
	struct rte_ipv4_hdr *iph;

	assert_non_null(m);
	eh = (struct rte_ether_hdr *)rte_pktmbuf_append(
	    m, sizeof(*eh) + sizeof(*iph) + l4len);
	assert_non_null(eh);
	memset(eh, 0, sizeof(*eh) + sizeof(*iph) + l4len);
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	memcpy(eh->dst_addr.addr_bytes, "\x02\x00\xc6\x12\x00\x02", 6);
	memcpy(eh->src_addr.addr_bytes, "\x02\x00\xc6\x12\x00\x01", 6);
	iph = (struct rte_ipv4_hdr *)(eh + 1);
	iph->version_ihl = 0x45;
	iph->total_length = htons((uint16_t)(sizeof(*iph) + l4len));
	iph->packet_id = htons(id);
	iph->fragment_offset = htons(frag);
	iph->time_to_live = 64;
	iph->next_proto_id = proto;
	iph->src_addr = ip(PEER);
	iph->dst_addr = ip(dst);
	iph->hdr_checksum = rte_ipv4_cksum(iph);
	*l4 = (uint8_t *)(iph + 1);
	return m;
}

/* A TCP segment from PEER:@p sport to US:@p dport with @p flags. */
static struct rte_mbuf *tcp_frame(uint16_t sport, uint16_t dport, uint8_t flags)
{
	struct rte_mbuf *m;
	struct rte_tcp_hdr *th;
	struct rte_ipv4_hdr *iph;
	uint8_t *l4;

	m = ipv4_frame(IPPROTO_TCP, US, sizeof(*th), 1, 0, &l4);
	th = (struct rte_tcp_hdr *)l4;
	th->src_port = htons(sport);
	th->dst_port = htons(dport);
	th->sent_seq = htonl(1000);
	th->data_off = sizeof(*th) << 2;
	th->tcp_flags = flags;
	th->rx_win = htons(65535);
	iph = (struct rte_ipv4_hdr *)(l4 - sizeof(*iph));
	th->cksum = rte_ipv4_udptcp_cksum(iph, th);
	return m;
}

static struct rte_mbuf *udp_frame(uint16_t sport, uint16_t dport)
{
	struct rte_udp_hdr *uh;
	uint8_t *l4;
	struct rte_mbuf *m =
	    ipv4_frame(IPPROTO_UDP, US, sizeof(*uh) + 4, 2, 0, &l4);

	uh = (struct rte_udp_hdr *)l4;
	uh->src_port = htons(sport);
	uh->dst_port = htons(dport);
	uh->dgram_len = htons(sizeof(*uh) + 4);
	return m;
}

/* ICMP port unreachable quoting a TCP segment US:@p lport -> PEER:@p
 * rport. */
static struct rte_mbuf *icmp_frame(uint16_t lport, uint16_t rport)
{
	struct rte_ipv4_hdr *in;
	uint8_t *l4;
	struct rte_mbuf *m = ipv4_frame(
	    IPPROTO_ICMP, US, sizeof(struct rte_icmp_hdr) + sizeof(*in) + 8, 3,
	    0, &l4);
	uint8_t *q;

	l4[0] = 3; /* destination unreachable */
	l4[1] = 3; /* port */
	in = (struct rte_ipv4_hdr *)(l4 + sizeof(struct rte_icmp_hdr));
	in->version_ihl = 0x45;
	in->next_proto_id = IPPROTO_TCP;
	in->src_addr = ip(US);
	in->dst_addr = ip(PEER);
	q = (uint8_t *)(in + 1);
	q[0] = (uint8_t)(lport >> 8);
	q[1] = (uint8_t)lport;
	q[2] = (uint8_t)(rport >> 8);
	q[3] = (uint8_t)rport;
	return m;
}

/* PEER asks who has US. */
static struct rte_mbuf *arp_frame(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eh;
	struct rte_arp_hdr *ah;

	assert_non_null(m);
	assert_non_null(rte_pktmbuf_append(m, sizeof(*eh) + sizeof(*ah)));
	eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	memset(eh, 0, sizeof(*eh) + sizeof(*ah));
	memset(eh->dst_addr.addr_bytes, 0xff, 6);
	memcpy(eh->src_addr.addr_bytes, "\x02\x00\xc6\x12\x00\x01", 6);
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	ah = (struct rte_arp_hdr *)(eh + 1);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = 6;
	ah->arp_plen = 4;
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	memcpy(ah->arp_data.arp_sha.addr_bytes, "\x02\x00\xc6\x12\x00\x01", 6);
	ah->arp_data.arp_sip = ip(PEER);
	ah->arp_data.arp_tip = ip(US);
	return m;
}

/* Whether @p lc's ARP cache has @p addr. */
static bool arp_knows(const struct rs_lcore *lc, uint32_t addr)
{
	for (unsigned s = 0; s < RS_ARP_SETS; s++)
		for (unsigned k = 0; k < RS_ARP_WAYS; k++)
			if (lc->arp[s][k].ip == addr)
				return true;
	return false;
}

/* ---- tests --------------------------------------------------------------- */

static void t_flow_hash(void **state)
{
	/* rss_owner.py 2 198.18.0.2 198.18.0.1 7020 40000..40015, and
	 * rss_owner.py 3 198.18.0.2 198.18.0.1 443 50000..50015. */
	static const unsigned two[16] = {0, 1, 0, 1, 1, 0, 1, 0,
					 1, 0, 1, 0, 0, 1, 0, 1};
	static const unsigned three[16] = {1, 0, 2, 2, 0, 0, 2, 0,
					   2, 0, 0, 0, 2, 2, 1, 0};
	unsigned seen[2] = {0};

	(void)state;
	for (uint16_t i = 0; i < 16; i++) {
		assert_int_equal(rs_steer_flow_owner(2, ip(US), ip(PEER),
						     (uint16_t)(40000 + i),
						     7020),
				 two[i]);
		assert_int_equal(rs_steer_flow_owner(3, ip(US), ip(PEER),
						     (uint16_t)(50000 + i),
						     443),
				 three[i]);
	}
	srand(7);
	for (int i = 0; i < 2000; i++) {
		uint32_t a = (uint32_t)rand(), b = (uint32_t)rand();
		uint16_t pa = (uint16_t)rand(), pb = (uint16_t)rand();
		unsigned o = rs_steer_flow_owner(2, a, b, pa, pb);

		assert_int_equal(o, rs_steer_flow_owner(2, b, a, pb, pa));
		seen[o]++;
	}
	assert_true(seen[0] > 800 && seen[1] > 800);
}

static void t_owners(void **state)
{
	struct world *w = *state;
	struct rs_lcore *a = w->lc[0], *b = w->lc[1];
	struct rte_mbuf *m, *first, *last;
	uint8_t *l4;
	unsigned o;

	/* TCP, no claim: the flow's hash, wherever it arrives. */
	for (uint16_t p = 40000; p < 40016; p++) {
		m = tcp_frame(p, 7020, RTE_TCP_SYN_FLAG);
		o = rs_steer_flow_owner(2, ip(US), ip(PEER), 7020, p);
		assert_int_equal(rs_steer_owner(a, m), o);
		assert_int_equal(rs_steer_owner(b, m), o);
		rte_pktmbuf_free(m);
	}
	/* Claimed by worker 1: all of the port's packets. */
	assert_int_equal(rs_steer_claim(b, IPPROTO_TCP, 7020), 0);
	for (uint16_t p = 40000; p < 40016; p++) {
		m = tcp_frame(p, 7020, RTE_TCP_ACK_FLAG);
		assert_int_equal(rs_steer_owner(a, m), 1);
		rte_pktmbuf_free(m);
	}
	rs_steer_release(b, IPPROTO_TCP, 7020);
	/* UDP: the receiver, unless claimed. */
	m = udp_frame(5353, 7000);
	assert_int_equal(rs_steer_owner(a, m), 0);
	assert_int_equal(rs_steer_owner(b, m), 1);
	assert_int_equal(rs_steer_claim(a, IPPROTO_UDP, 7000), 0);
	assert_int_equal(rs_steer_owner(b, m), 0);
	rs_steer_release(a, IPPROTO_UDP, 7000);
	assert_int_equal(rs_steer_owner(b, m), 1);
	rte_pktmbuf_free(m);
	/* A datagram's fragments, the last of one byte, meet. */
	for (uint16_t id = 1; id < 64; id++) {
		first = ipv4_frame(IPPROTO_UDP, US, 1480, id,
				   RTE_IPV4_HDR_MF_FLAG, &l4);
		last = ipv4_frame(IPPROTO_UDP, US, 1, id, 1480 / 8, &l4);
		assert_int_equal(rs_steer_owner(a, first),
				 rs_steer_owner(b, last));
		rte_pktmbuf_free(first);
		rte_pktmbuf_free(last);
	}
	/* An ICMP error: the flow it quotes. */
	for (uint16_t p = 40000; p < 40016; p++) {
		m = icmp_frame(p, 80);
		assert_int_equal(
		    rs_steer_owner(b, m),
		    rs_steer_flow_owner(2, ip(US), ip(PEER), p, 80));
		rte_pktmbuf_free(m);
	}
	/* ARP, and packets for another address: the receiver. */
	m = arp_frame();
	assert_int_equal(rs_steer_owner(b, m), 1);
	rte_pktmbuf_free(m);
	m = ipv4_frame(IPPROTO_TCP, "198.18.0.9", 20, 1, 0, &l4);
	assert_int_equal(rs_steer_owner(a, m), 0);
	assert_int_equal(rs_steer_owner(b, m), 1);
	rte_pktmbuf_free(m);
}

static void t_claims(void **state)
{
	struct world *w = *state;
	struct rs_lcore *a = w->lc[0], *b = w->lc[1];
	unsigned ok[2] = {0};

	/* One worker at a time; each claim has its release. */
	assert_int_equal(rs_steer_claim(a, IPPROTO_TCP, 8080), 0);
	assert_int_equal(rs_steer_claim(a, IPPROTO_TCP, 8080), 0);
	assert_int_equal(rs_steer_claim(b, IPPROTO_TCP, 8080), -EADDRINUSE);
	assert_int_equal(rs_steer_claim(b, IPPROTO_UDP, 8080), 0);
	rs_steer_release(a, IPPROTO_TCP, 8080);
	assert_int_equal(rs_steer_claim(b, IPPROTO_TCP, 8080), -EADDRINUSE);
	/* A connection accepted on the port holds the claim past its
	 * listener's socket. */
	rs_steer_port_use(a, 8080, 1, RS_TCP_PORT_GIVEN);
	rs_steer_release(a, IPPROTO_TCP, 8080);
	assert_int_equal(rs_steer_claim(b, IPPROTO_TCP, 8080), -EADDRINUSE);
	rs_steer_port_use(a, 8080, -1, RS_TCP_PORT_GIVEN);
	assert_int_equal(rs_steer_claim(b, IPPROTO_TCP, 8080), 0);
	rs_steer_release(b, IPPROTO_TCP, 8080);
	rs_steer_release(b, IPPROTO_UDP, 8080);
	/* A port in use by hash cannot be claimed, by anyone. */
	rs_steer_port_use(a, 9090, 1, RS_TCP_PORT_HASHED);
	assert_int_equal(rs_steer_claim(b, IPPROTO_TCP, 9090), -EADDRINUSE);
	assert_int_equal(rs_steer_claim(a, IPPROTO_TCP, 9090), -EADDRINUSE);
	rs_steer_port_use(a, 9090, -1, RS_TCP_PORT_HASHED);
	assert_int_equal(rs_steer_claim(b, IPPROTO_TCP, 9090), 0);
	/* port_ok: the flow hashes back, and no other worker claims it. */
	assert_false(rs_steer_port_ok(a, ip(US), 9090, ip(PEER), 80, false));
	for (uint16_t p = 40000; p < 40100; p++) {
		unsigned o = rs_steer_flow_owner(2, ip(US), ip(PEER), p, 80);

		assert_int_equal(
		    rs_steer_port_ok(w->lc[o], ip(US), p, ip(PEER), 80, false),
		    true);
		assert_int_equal(
		    rs_steer_port_ok(w->lc[!o], ip(US), p, ip(PEER), 80, false),
		    false);
		ok[o]++;
	}
	assert_true(ok[0] > 20 && ok[1] > 20);
	/* port_ok's second round (no port hashed back): a port that is the
	 * worker's own or no one's and unused, whatever the flow hashes
	 * to; port_use(ANY) then claims it. */
	assert_true(rs_steer_port_ok(b, ip(US), 9090, ip(PEER), 80, true));
	assert_false(rs_steer_port_ok(a, ip(US), 9090, ip(PEER), 80, true));
	rs_steer_port_use(b, 9191, 1, RS_TCP_PORT_HASHED);
	assert_false(rs_steer_port_ok(a, ip(US), 9191, ip(PEER), 80, true));
	assert_int_equal(rs_steer_port_use(a, 9191, 1, RS_TCP_PORT_ANY),
			 -EADDRINUSE);
	rs_steer_port_use(b, 9191, -1, RS_TCP_PORT_HASHED);
	assert_true(rs_steer_port_ok(a, ip(US), 9191, ip(PEER), 80, true));
	assert_int_equal(rs_steer_port_use(a, 9191, 1, RS_TCP_PORT_ANY), 0);
	assert_int_equal(rs_steer_claim(b, IPPROTO_TCP, 9191), -EADDRINUSE);
	assert_false(rs_steer_port_ok(b, ip(US), 9191, ip(PEER), 81, false));
	for (uint16_t p = 40000; p < 40032; p++) { /* its flows come to a */
		struct rte_mbuf *m = tcp_frame(p, 9191, RTE_TCP_ACK_FLAG);

		assert_int_equal(rs_steer_owner(b, m), 0);
		rte_pktmbuf_free(m);
	}
	rs_steer_port_use(a, 9191, -1, RS_TCP_PORT_ANY);
	assert_int_equal(rs_steer_claim(b, IPPROTO_TCP, 9191), 0);
	rs_steer_release(b, IPPROTO_TCP, 9191);
	rs_steer_release(b, IPPROTO_TCP, 9090);
}

/* Packets @p lc handled or dropped for a reason. */
static uint64_t settled(const struct rs_lcore *lc)
{
	uint64_t n = RS_CNT_READ(lc, handled);

	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++)
		n += RS_CNT_READ(lc, drops[i]);
	return n;
}

static void t_hand_over(void **state)
{
	struct world *w = *state;
	struct rs_lcore *a = w->lc[0], *b = w->lc[1];
	struct rte_mbuf *pkts[8];
	uint16_t n = 0, nt = 0, kept;

	/* SYNs to a port nobody listens on: half of the flows are b's. */
	for (uint16_t p = 40000; p < 40008; p++) {
		pkts[n] = tcp_frame(p, 7020, RTE_TCP_SYN_FLAG);
		if (rs_steer_owner(a, pkts[n]) == 1)
			nt++;
		n++;
	}
	assert_int_equal(nt, 4); /* two[] of t_flow_hash, reversed */
	kept = rs_steer_split(a, pkts, n);
	assert_int_equal(kept, n - nt);
	for (uint16_t i = 0; i < kept; i++)
		assert_int_equal(rs_steer_owner(a, pkts[i]), 0);
	assert_int_equal(RS_CNT_READ(a, events[RS_DP_EV_STEERED_OUT]), nt);
	for (uint16_t i = 0; i < kept; i++)
		rte_pktmbuf_free(pkts[i]);
	/* b takes them and settles each: handled or dropped for a reason
	 * (no socket: the RST waits for ARP), none unexplained. */
	assert_int_equal(rs_steer_poll(b), nt);
	assert_int_equal(RS_CNT_READ(b, events[RS_DP_EV_STEERED_IN]), nt);
	assert_int_equal(settled(b), nt);
	assert_int_equal(RS_CNT_READ(b, rx_pkts), 0); /* a received them */
	assert_int_equal(rs_steer_poll(b), 0);
	/* ARP: a answers, and b learns from the copy a gives it, which is
	 * not a packet b received. */
	assert_false(arp_knows(b, ip(PEER)));
	pkts[0] = arp_frame();
	assert_int_equal(rs_eth_input(a, pkts[0]), RS_VERDICT_TX);
	rte_pktmbuf_free(pkts[0]);
	assert_true(arp_knows(a, ip(PEER)));
	assert_int_equal(RS_CNT_READ(a, events[RS_DP_EV_ARP_SHARED]), 1);
	assert_int_equal(rs_steer_poll(b), 1);
	assert_true(arp_knows(b, ip(PEER)));
	assert_int_equal(RS_CNT_READ(b, events[RS_DP_EV_STEERED_IN]), nt);
	assert_int_equal(settled(b), nt);
}

/* A SYN (to a closed port) of a flow @p owner owns, from a new port. */
static struct rte_mbuf *owned_frame(const struct rs_lcore *lc, unsigned owner,
				    uint16_t *port)
{
	for (;;) {
		struct rte_mbuf *m =
		    tcp_frame((*port)++, 7020, RTE_TCP_SYN_FLAG);

		if (rs_steer_owner(lc, m) == owner)
			return m;
		rte_pktmbuf_free(m);
	}
}

static void t_held(void **state)
{
	struct world *w = *state;
	struct rs_lcore *a = w->lc[0], *b = w->lc[1];
	/* What b's ring takes (4096 entries, one kept free), what a may
	 * hold past it (twice RS_BURST_MAX), and 5 more. */
	const unsigned ring = 4095, held = 2 * RS_BURST_MAX,
		       total = ring + held + 5;
	struct rte_mbuf *pkts[32];
	uint16_t port = 1024;
	unsigned given = 0, n;

	while (given < total) {
		n = RTE_MIN(32u, total - given);
		for (unsigned i = 0; i < n; i++)
			pkts[i] = owned_frame(a, 1, &port);
		assert_int_equal(rs_steer_split(a, pkts, (uint16_t)n), 0);
		given += n;
	}
	assert_int_equal(RS_CNT_READ(a, events[RS_DP_EV_STEERED_OUT]), ring);
	assert_int_equal(RS_CNT_READ(a, events[RS_DP_EV_STEER_HELD]), held);
	assert_int_equal(RS_CNT_READ(a, drops[RS_DP_DROP_STEER_FULL]), 5);
	assert_int_equal(rs_steer_flush(a), held); /* b has taken nothing */
	/* b takes a burst: as much room, which a's flush fills. */
	n = rs_steer_poll(b);
	assert_int_equal(n, b->burst);
	assert_int_equal(rs_steer_flush(a), held - b->burst);
	/* Until b has taken everything: nothing lost on the way. */
	while (rs_steer_flush(a) != 0 || n != 0)
		n = rs_steer_poll(b);
	assert_int_equal(RS_CNT_READ(a, events[RS_DP_EV_STEERED_OUT]),
			 ring + held);
	assert_int_equal(RS_CNT_READ(b, events[RS_DP_EV_STEERED_IN]),
			 ring + held);
	assert_int_equal(settled(b), ring + held);
}

static void t_rx_want(void **state)
{
	struct world *w = *state;
	struct rs_lcore *a = w->lc[0];
	uint16_t burst = a->burst;

	assert_true(burst >= 8);
	assert_int_equal(a->rx_want, burst);
	/* A full burst of 64 KiB segments: 4 of them next time. */
	rs_rx_want_adapt(a, burst, (uint64_t)burst * 65536);
	assert_int_equal(a->rx_want, RS_RX_BURST_BYTES / 65536);
	/* The 4 again: no change; one huge packet: at least 1. */
	rs_rx_want_adapt(a, 4, 4 * 65536);
	assert_int_equal(a->rx_want, 4);
	rs_rx_want_adapt(a, 1, 2 * RS_RX_BURST_BYTES);
	assert_int_equal(a->rx_want, 1);
	/* A burst not full of small packets keeps it; full ones double it
	 * back, up to the burst and no further. */
	rs_rx_want_adapt(a, 0, 0);
	assert_int_equal(a->rx_want, 1);
	for (uint16_t want = 1; want < burst; want *= 2) {
		rs_rx_want_adapt(a, a->rx_want, (uint64_t)a->rx_want * 1500);
		assert_int_equal(a->rx_want, RTE_MIN(2 * want, burst));
	}
	rs_rx_want_adapt(a, burst, (uint64_t)burst * 1500);
	assert_int_equal(a->rx_want, burst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(t_flow_hash, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_owners, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_claims, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_hand_over, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(t_rx_want, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
