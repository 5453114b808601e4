/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow steering between workers.  With one worker none of this runs
 * (lc->steer is NULL); with several, every packet has one owner, the
 * worker whose tables know its flow, and every worker computes it the
 * same way:
 *
 *   TCP or UDP to a local port that a worker has claimed -> that worker.
 *       A socket bound to a port claims it: every UDP socket, and a TCP
 *       socket the application binds (a listener of its own, or a
 *       connect from a chosen port).  RS_SO_REUSEPORT sockets do not:
 *       the port is served by a socket on each worker.
 *   Other TCP -> the flow's hash: Toeplitz with a symmetric key over the
 *       addresses and ports, as a port's RSS computes it (port.c gives RSS
 *       the same key), its low 7 bits an index into a 128-entry table
 *       whose entry i is worker i mod n (RSS's default redirection table).
 *   Other UDP -> the worker that received it (no socket has the port, or
 *       RS_SO_REUSEPORT sockets each take what reaches their worker).
 *   ICMP errors -> the owner of the flow they quote; other ICMP, and
 *       anything not for our address or malformed -> the receiver.
 *   IPv4 fragments -> a hash of source, destination and id, so that a
 *       datagram's fragments meet on one worker; the datagram they make
 *       goes on to its own owner.
 *   ARP -> the receiver, which answers it and gives every other worker
 *       a copy to learn the sender from (each has its own ARP cache).
 *
 * A worker gives each packet it does not own to its owner's ring (one per
 * worker, any producer, one consumer), a burst per owner, and takes its
 * own ring's packets every loop before its RX burst.  The low bits of a
 * ring entry's pointer say what it is: a frame, a reassembled datagram,
 * an ARP copy.  What a full ring does not take the worker holds (struct
 * steer_held) and gives first in its next rounds; while it holds any, it
 * takes nothing from its RX queue, so that an owner that cannot keep up
 * pushes back on the port's queues (where one worker's overload would
 * be) instead of losing packets between workers.
 *
 * Ports.  A TCP connection opened without a bound port takes an
 * ephemeral port whose flow hashes back to its own worker (the TCP
 * core's port_ok), so that steering is the exception: packets cross only
 * where the port cannot hash as we ask (tap; virtio without RSS).  When
 * no such port is free for the destination (a worker's share of the
 * range is 1/n of it), the connection claims a port no one uses instead,
 * as a bound socket would: its flows then come to it whatever they hash
 * to.  Every
 * (protocol, port) has a claim word the workers share: the claiming
 * worker + 1 in its low byte, and above it the TCP connections that use
 * the port by hash (port_use).  A port is claimed only while no one else
 * uses it, so a claim never takes another worker's flows, and lasts
 * while the worker has a socket that claimed it or a connection on it
 * that was not given the port by hash (struct steer_refs).
 *
 * Stopping: a worker that has finished its own connections goes on
 * receiving for the others until every worker has (within the same
 * grace), since their packets may reach it; what is left on a ring once
 * all have stopped is the drop steer_stopped.
 *
 * Accounting: a packet is counted received (rx_pkts) by the worker that
 * received it, and handled or dropped by its owner; the events
 * steered_out and steered_in count the crossings, steer_held the packets
 * held back for a full ring, arp_shared the copies; the drop steer_full
 * is a packet held back with no room left to hold it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_thash.h>

#include "dp_pvt.h"
#include "rs_sock.h"
#include "stack_pvt.h"

/* Entries of each worker's ring: a few bursts of every other worker. */
#define STEER_RING_SIZE 4096u
/* The redirection table a port's RSS has by default (and ours). */
#define RETA_SIZE 128u

/* What a ring entry is: its pointer's low bits (mbufs are aligned). */
#define TAG_FRAME 0u /* a received frame: from Ethernet up */
#define TAG_DGRAM 1u /* a reassembled datagram: from its protocol up */
#define TAG_ARP 2u   /* a copy of an ARP packet: learn from it */
#define TAG_MASK 3u

/* A claim word: the claiming worker + 1, and the users by hash. */
#define CLAIM_OWNER 0xffu
#define CLAIM_USER 0x100u

/* What holds a worker's claim on a port: its sockets that claimed it,
 * and its TCP connections on the port that were not given it by hash
 * (accepted by a listener, or connected from a bound port), which
 * outlive their sockets (FIN-WAIT, TIME-WAIT).  The claim goes when the
 * last of them does. */
struct steer_refs {
	uint32_t n[2][65536];
};

/* What a worker could not give yet, in order: each entry and its owner.
 * Twice a burst: a round that holds takes no RX burst, but what it takes
 * from its own ring may still give (a reassembled datagram). */
#define HELD_MAX (2u * RS_BURST_MAX)
struct steer_held {
	void *obj[HELD_MAX];
	uint8_t owner[HELD_MAX];
	unsigned n;
};

struct rs_steer {
	unsigned n;
	uint32_t draining; /* workers still finishing their connections */
	struct rte_ring *in[RS_DP_WORKERS_MAX];
	struct rs_lcore *lc[RS_DP_WORKERS_MAX];	    /* to wake them */
	struct steer_refs *refs[RS_DP_WORKERS_MAX]; /* each worker's own */
	struct steer_held *held[RS_DP_WORKERS_MAX]; /* each worker's own */
	uint32_t ports[2][65536]; /* [0] UDP, [1] TCP; by host-order port */
};

/* 0x6d5a repeated: a Toeplitz key with which swapping the addresses and
 * the ports gives the same hash (Woo and Park, "Scalable TCP Session
 * Monitoring with Symmetric Receive-side Scaling"), so that both
 * directions of a flow land on one queue. */
const uint8_t rs_steer_rss_key[RS_STEER_KEY_LEN] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

int rs_steer_create(struct rs_dp *dp)
{
	char name[RTE_RING_NAMESIZE];
	struct rs_steer *sd;

	if (dp->nworkers < 2)
		return 0;
	sd = rte_zmalloc("rs_steer", sizeof(*sd), RTE_CACHE_LINE_SIZE);
	if (sd == NULL) {
		rs_dp_err("out of memory for steering between workers");
		return -ENOMEM;
	}
	sd->n = dp->nworkers;
	sd->draining = sd->n;
	dp->steer = sd;
	for (unsigned k = 0; k < sd->n; k++) {
		int socket = rte_lcore_to_socket_id(dp->lc[k]->lcore_id);

		sd->refs[k] =
		    rte_zmalloc_socket("rs_steer_refs", sizeof(*sd->refs[k]),
				       RTE_CACHE_LINE_SIZE, socket);
		sd->held[k] =
		    rte_zmalloc_socket("rs_steer_held", sizeof(*sd->held[k]),
				       RTE_CACHE_LINE_SIZE, socket);
		if (sd->refs[k] == NULL || sd->held[k] == NULL) {
			rs_dp_err("out of memory for steering between workers");
			return -ENOMEM;
		}
		snprintf(name, sizeof(name), "rs_steer_%u_%u", dp->port_id, k);
		sd->in[k] = rte_ring_create(name, STEER_RING_SIZE, socket,
					    RING_F_SC_DEQ);
		if (sd->in[k] == NULL) {
			rs_dp_err("worker %u: cannot create its steering ring: "
				  "%s",
				  k, rte_strerror(rte_errno));
			return -rte_errno;
		}
		dp->lc[k]->steer = sd;
		sd->lc[k] = dp->lc[k];
	}
	return 0;
}

/* Free a ring entry left at the stop; counted by worker @p k, whose it
 * was. */
static void stopped_free(struct rs_dp *dp, unsigned k, void *o)
{
	rte_pktmbuf_free(
	    (struct rte_mbuf *)((uintptr_t)o & ~(uintptr_t)TAG_MASK));
	if (((uintptr_t)o & TAG_MASK) != TAG_ARP)
		RS_CNT_INC(dp->lc[k], drops[RS_DP_DROP_STEER_STOPPED]);
}

void rs_steer_drain(struct rs_dp *dp)
{
	struct steer_held *h;
	void *o;

	if (dp->steer == NULL)
		return;
	/* The workers have stopped: their counters are ours to write. */
	for (unsigned k = 0; k < dp->steer->n; k++) {
		while (dp->steer->in[k] != NULL &&
		       rte_ring_dequeue(dp->steer->in[k], &o) == 0)
			stopped_free(dp, k, o);
		h = dp->steer->held[k];
		for (unsigned i = 0; h != NULL && i < h->n; i++)
			stopped_free(dp, h->owner[i], h->obj[i]);
		if (h != NULL)
			h->n = 0;
	}
	dp->steer->draining = dp->steer->n;
}

void rs_steer_free(struct rs_dp *dp)
{
	if (dp->steer == NULL)
		return;
	rs_steer_drain(dp);
	for (unsigned k = 0; k < dp->steer->n; k++) {
		rte_ring_free(dp->steer->in[k]);
		rte_free(dp->steer->refs[k]);
		rte_free(dp->steer->held[k]);
	}
	rte_free(dp->steer);
	dp->steer = NULL;
}

/* ---- owners -------------------------------------------------------------- */

unsigned rs_steer_flow_owner(unsigned n, rte_be32_t a, rte_be32_t b,
			     uint16_t pa, uint16_t pb)
{
	uint32_t t[3] = {rte_be_to_cpu_32(a), rte_be_to_cpu_32(b),
			 (uint32_t)pa << 16 | pb};

	return (rte_softrss(t, 3, rs_steer_rss_key) & (RETA_SIZE - 1)) % n;
}

static uint32_t *claim_word(struct rs_steer *sd, uint8_t proto, uint16_t port)
{
	return &sd->ports[proto == IPPROTO_TCP][port];
}

/* The owner of a TCP or UDP flow to our @p lport (host order) from
 * @p raddr:@p rport. */
static unsigned l4_owner(const struct rs_lcore *lc, uint8_t proto,
			 rte_be32_t raddr, uint16_t lport, uint16_t rport)
{
	uint32_t w = __atomic_load_n(claim_word(lc->steer, proto, lport),
				     __ATOMIC_RELAXED) &
		     CLAIM_OWNER;

	if (w != 0)
		return w - 1;
	if (proto == IPPROTO_TCP)
		return rs_steer_flow_owner(lc->steer->n, raddr, lc->ifc->ip,
					   rport, lport);
	return lc->queue;
}

/* The ports at @p p, host order. */
static void ports_get(const uint8_t *p, uint16_t *src, uint16_t *dst)
{
	*src = (uint16_t)(p[0] << 8 | p[1]);
	*dst = (uint16_t)(p[2] << 8 | p[3]);
}

/* The owner of an ICMP error, from the header it quotes (ours: our
 * address is its source, our port its source port); the receiver when
 * it quotes none we can use. */
static unsigned icmp_owner(const struct rs_lcore *lc, const uint8_t *p,
			   uint32_t len)
{
	const struct rte_ipv4_hdr *in;
	uint16_t lport, rport;
	uint32_t ihl;

	/* The errors icmp.c acts on: destination unreachable, time
	 * exceeded, parameter problem. */
	if (p[0] != 3 && p[0] != 11 && p[0] != 12)
		return lc->queue;
	if (len < sizeof(struct rte_icmp_hdr) + sizeof(*in))
		return lc->queue;
	in = (const struct rte_ipv4_hdr *)(p + sizeof(struct rte_icmp_hdr));
	ihl = (in->version_ihl & 0xf) * 4u;
	if (ihl < sizeof(*in) || len < sizeof(struct rte_icmp_hdr) + ihl + 4 ||
	    in->src_addr != lc->ifc->ip ||
	    (in->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) != 0 ||
	    (in->next_proto_id != IPPROTO_TCP &&
	     in->next_proto_id != IPPROTO_UDP))
		return lc->queue;
	ports_get((const uint8_t *)in + ihl, &lport, &rport);
	return l4_owner(lc, in->next_proto_id, in->dst_addr, lport, rport);
}

/* The owner of the IPv4 packet at @p off in @p m's first segment;
 * @p whole: a reassembled datagram (its fragment field is not read). */
static unsigned ipv4_owner(const struct rs_lcore *lc, const struct rte_mbuf *m,
			   uint32_t off, bool whole)
{
	uint32_t len = rte_pktmbuf_data_len(m), ihl;
	const struct rte_ipv4_hdr *ip;
	uint16_t sport, dport;
	const uint8_t *l4;

	if (len < off + sizeof(*ip))
		return lc->queue;
	ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, off);
	ihl = (ip->version_ihl & 0xf) * 4u;
	if (ihl < sizeof(*ip) || ip->dst_addr != lc->ifc->ip)
		return lc->queue;
	/* Before the length of what follows: a last fragment may carry a
	 * byte. */
	if (!whole &&
	    (ip->fragment_offset &
	     RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0)
		return rte_jhash_3words(ip->src_addr, ip->dst_addr,
					ip->packet_id, 0) %
		       lc->steer->n;
	if (len < off + ihl + 4)
		return lc->queue;
	l4 = (const uint8_t *)ip + ihl;
	switch (ip->next_proto_id) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		ports_get(l4, &sport, &dport);
		return l4_owner(lc, ip->next_proto_id, ip->src_addr, dport,
				sport);
	case IPPROTO_ICMP:
		return icmp_owner(lc, l4, len - off - ihl);
	default:
		return lc->queue;
	}
}

unsigned rs_steer_owner(const struct rs_lcore *lc, const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eh;

	if (rte_pktmbuf_data_len(m) < sizeof(*eh))
		return lc->queue;
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (eh->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))
		return lc->queue;
	return ipv4_owner(lc, m, sizeof(*eh), false);
}

/* ---- crossing ------------------------------------------------------------ */

/* Give @p n entries (tagged pointers) to worker @p k; what its ring has
 * no room for is held, behind what is held already (nothing passes it),
 * or with no room left to hold it, freed and counted steer_full. */
static void give(struct rs_lcore *lc, unsigned k, void *const *objs, unsigned n)
{
	struct steer_held *h = lc->steer->held[lc->queue];
	unsigned sent = 0;

	if (h->n == 0) {
		sent = rte_ring_enqueue_burst(lc->steer->in[k], objs, n, NULL);
		RS_CNT_ADD(lc, events[RS_DP_EV_STEERED_OUT], sent);
	}
	rs_lcore_wake(lc->steer->lc[k]);
	for (unsigned i = sent; i < n; i++) {
		if (h->n < HELD_MAX) {
			h->obj[h->n] = objs[i];
			h->owner[h->n++] = (uint8_t)k;
			RS_EVENT(lc, STEER_HELD);
			continue;
		}
		rte_pktmbuf_free((struct rte_mbuf *)((uintptr_t)objs[i] &
						     ~(uintptr_t)TAG_MASK));
		RS_CNT_INC(lc, drops[RS_DP_DROP_STEER_FULL]);
	}
}

unsigned rs_steer_flush(struct rs_lcore *lc)
{
	struct steer_held *h = lc->steer->held[lc->queue];
	void *burst[HELD_MAX];
	bool gone[HELD_MAX];
	unsigned nb, sent, left = 0;

	if (h->n == 0)
		return 0;
	/* Owner by owner, each one's entries in order; what a ring takes
	 * is the first of them. */
	for (unsigned k = 0; k < lc->steer->n; k++) {
		nb = 0;
		for (unsigned i = 0; i < h->n; i++)
			if (h->owner[i] == k)
				burst[nb++] = h->obj[i];
		if (nb == 0)
			continue;
		sent =
		    rte_ring_enqueue_burst(lc->steer->in[k], burst, nb, NULL);
		RS_CNT_ADD(lc, events[RS_DP_EV_STEERED_OUT], sent);
		rs_lcore_wake(lc->steer->lc[k]);
		for (unsigned i = 0; i < h->n; i++) {
			if (h->owner[i] == k) {
				gone[i] = sent != 0;
				sent -= sent != 0;
			}
		}
	}
	for (unsigned i = 0; i < h->n; i++) {
		if (!gone[i]) {
			h->obj[left] = h->obj[i];
			h->owner[left++] = h->owner[i];
		}
	}
	h->n = left;
	return left;
}

uint16_t rs_steer_split(struct rs_lcore *lc, struct rte_mbuf **pkts, uint16_t n)
{
	void *far[RS_BURST_MAX], *burst[RS_BURST_MAX];
	uint8_t owner[RS_BURST_MAX];
	uint16_t keep = 0, nfar = 0;

	for (uint16_t i = 0; i < n; i++) {
		unsigned o = rs_steer_owner(lc, pkts[i]);

		if (o == lc->queue) {
			pkts[keep++] = pkts[i];
			continue;
		}
		far[nfar] = pkts[i];
		owner[nfar++] = (uint8_t)o;
	}
	/* A burst per owner, in arrival order. */
	while (nfar != 0) {
		uint8_t o = owner[0];
		uint16_t nb = 0, rest = 0;

		for (uint16_t i = 0; i < nfar; i++) {
			if (owner[i] == o) {
				burst[nb++] = far[i];
			} else {
				far[rest] = far[i];
				owner[rest++] = owner[i];
			}
		}
		give(lc, o, burst, nb);
		nfar = rest;
	}
	return keep;
}

bool rs_steer_dgram(struct rs_lcore *lc, struct rte_mbuf *r)
{
	unsigned o = ipv4_owner(lc, r, r->l2_len, true);
	void *obj = (void *)((uintptr_t)r | TAG_DGRAM);

	if (o == lc->queue)
		return false;
	give(lc, o, &obj, 1);
	return true;
}

void rs_steer_arp_share(struct rs_lcore *lc, const struct rte_mbuf *m)
{
	for (unsigned k = 0; k < lc->steer->n; k++) {
		struct rte_mbuf *c;
		void *obj;
		unsigned sent;

		if (k == lc->queue)
			continue;
		c = rte_pktmbuf_copy(m, lc->pool, 0, UINT32_MAX);
		if (c == NULL) {
			RS_EVENT(lc, ALLOC_FAILED);
			continue;
		}
		obj = (void *)((uintptr_t)c | TAG_ARP);
		sent = rte_ring_enqueue_burst(lc->steer->in[k], &obj, 1, NULL);
		if (sent == 0) {
			rte_pktmbuf_free(c); /* a copy: nothing is lost */
		} else {
			RS_EVENT(lc, ARP_SHARED);
			rs_lcore_wake(lc->steer->lc[k]);
		}
	}
}

bool rs_steer_pending(const struct rs_lcore *lc)
{
	return !rte_ring_empty(lc->steer->in[lc->queue]);
}

unsigned rs_steer_poll(struct rs_lcore *lc)
{
	void *objs[RS_BURST_MAX];
	unsigned n, in = 0;

	n = rte_ring_dequeue_burst(lc->steer->in[lc->queue], objs, lc->burst,
				   NULL);
	for (unsigned i = 0; i < n; i++) {
		uintptr_t tag = (uintptr_t)objs[i] & TAG_MASK;
		struct rte_mbuf *m = (struct rte_mbuf *)((uintptr_t)objs[i] &
							 ~(uintptr_t)TAG_MASK);

		switch (tag) {
		case TAG_FRAME:
			rs_lcore_verdict(lc, m, rs_eth_input(lc, m));
			in++;
			break;
		case TAG_DGRAM:
			rs_frag_deliver(lc, m);
			in++;
			break;
		default:
			rs_arp_learn(lc, m);
			rte_pktmbuf_free(m);
			break;
		}
	}
	RS_CNT_ADD(lc, events[RS_DP_EV_STEERED_IN], in);
	return n;
}

bool rs_steer_drained(struct rs_lcore *lc, bool done)
{
	if (done)
		__atomic_fetch_sub(&lc->steer->draining, 1, __ATOMIC_RELEASE);
	return __atomic_load_n(&lc->steer->draining, __ATOMIC_ACQUIRE) == 0;
}

/* ---- ports --------------------------------------------------------------- */

static uint32_t *refs_of(const struct rs_lcore *lc, uint8_t proto,
			 uint16_t port)
{
	return &lc->steer->refs[lc->queue]->n[proto == IPPROTO_TCP][port];
}

int rs_steer_claim(struct rs_lcore *lc, uint8_t proto, uint16_t port)
{
	uint32_t *w = claim_word(lc->steer, proto, port);
	uint32_t cur = __atomic_load_n(w, __ATOMIC_RELAXED);
	uint32_t me = lc->queue + 1u;

	while ((cur & CLAIM_OWNER) != me) {
		if (cur != 0) /* another worker's, or in use by hash */
			return -EADDRINUSE;
		if (__atomic_compare_exchange_n(
			w, &cur, me, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			break;
	}
	(*refs_of(lc, proto, port))++;
	return 0;
}

void rs_steer_release(struct rs_lcore *lc, uint8_t proto, uint16_t port)
{
	uint32_t *w = claim_word(lc->steer, proto, port), cur;

	if (--*refs_of(lc, proto, port) != 0)
		return;
	cur = __atomic_load_n(w, __ATOMIC_RELAXED);
	do {
		if ((cur & CLAIM_OWNER) != lc->queue + 1u)
			return;
	} while (!__atomic_compare_exchange_n(w, &cur, cur & ~CLAIM_OWNER,
					      false, __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
}

bool rs_steer_port_ok(const struct rs_lcore *lc, rte_be32_t laddr,
		      uint16_t lport, rte_be32_t raddr, uint16_t rport,
		      bool any)
{
	uint32_t w = __atomic_load_n(claim_word(lc->steer, IPPROTO_TCP, lport),
				     __ATOMIC_RELAXED);
	uint32_t owner = w & CLAIM_OWNER, me = lc->queue + 1u;

	if (any) /* claimable: ours already, or no one's and unused */
		return owner == me || w == 0;
	if (owner != 0 && owner != me)
		return false;
	return rs_steer_flow_owner(lc->steer->n, raddr, laddr, rport, lport) ==
	       lc->queue;
}

int rs_steer_port_use(struct rs_lcore *lc, uint16_t lport, int delta,
		      enum rs_tcp_port_how how)
{
	if (how == RS_TCP_PORT_HASHED)
		__atomic_fetch_add(claim_word(lc->steer, IPPROTO_TCP, lport),
				   (uint32_t)delta * CLAIM_USER,
				   __ATOMIC_RELAXED);
	else if (delta > 0 && how == RS_TCP_PORT_ANY)
		return rs_steer_claim(lc, IPPROTO_TCP, lport);
	else if (delta > 0)
		(*refs_of(lc, IPPROTO_TCP, lport))++;
	else
		rs_steer_release(lc, IPPROTO_TCP, lport);
	return 0;
}
