/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP (RFC 826) for Ethernet and IPv4.
 *
 * Requests for our address are answered in place.  The cache follows RFC
 * 826's merge rule: a packet's sender updates an entry we already have,
 * whoever the target is, and creates one only when we are the target.
 * At start the first worker announces our address with gratuitous
 * requests (RFC 5227 sections 2.3 and 3), ANNOUNCE_NUM of them
 * ANNOUNCE_INTERVAL_S apart: the first may leave before the link really
 * carries packets (a vhost-user peer still enabling its queues).  A packet
 * whose sender claims our address or our MAC is a conflict: counted, not
 * learned, not answered.
 *
 * Each worker keeps its own cache, so the fast path takes no lock (with
 * several workers, the one that receives an ARP packet gives the others
 * a copy to learn from, steer.c): 16
 * sets of 4 ways, the set chosen by a hash of the address, the least
 * recently confirmed way replaced.  An entry is good for arp_ttl_tsc after
 * it was last confirmed; there is no timer, lookups just ignore stale
 * entries.  An entry in use within its last quarter of life is refreshed
 * with a request (at most one per retry interval), so that a busy flow
 * does not stall every ttl while its next hop is asked again.
 *
 * Resolution (RFC 826, RFC 1122 section 2.3.2.2): a packet for a next
 * hop we have no entry for starts a pending entry -- a broadcast request,
 * repeated every [arp] retry_ms -- and waits in it, up to [arp] queue
 * packets per next hop and [arp] pending next hops per worker; beyond
 * that packets are dropped and counted.  The answer sends what waited.
 * After [arp] retries requests without one, the waiting packets are
 * dropped, the sockets sending through that next hop get EHOSTUNREACH,
 * and for one more interval new packets to it fail at once (RFC 1122
 * asks that a host not flood an unresponsive neighbour); then the next
 * packet starts over.
 *
 * Timers, all checked from rs_arp_tick() every loop: announcements, and
 * each pending entry's next request or its end; lc->arp_next_tsc is the
 * earliest of the latter, so that an idle worker wakes for it.
 */
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "sock_pvt.h"
#include "stack_pvt.h"

/* RFC 5227 section 1.1. */
#define ANNOUNCE_NUM 2
#define ANNOUNCE_INTERVAL_S 2

static unsigned arp_set(rte_be32_t ip)
{
	/* Fibonacci hashing: the top bits of the product mix every byte. */
	uint32_t h = rte_be_to_cpu_32(ip) * 2654435761u;

	return h >> 28 & (RS_ARP_SETS - 1);
}

/* The way of @p set that holds @p ip, or -1. */
static int arp_way(const struct rs_arp_entry *set, rte_be32_t ip)
{
	for (int i = 0; i < RS_ARP_WAYS; i++)
		if (set[i].ip == ip)
			return i;
	return -1;
}

static void pend_resolved(struct rs_lcore *lc, rte_be32_t ip,
			  const struct rte_ether_addr *mac);

/* Refresh @p ip's entry; create it only if @p create.  Creating takes a
 * free way or the one confirmed longest ago. */
static void arp_update(struct rs_lcore *lc, rte_be32_t ip,
		       const struct rte_ether_addr *mac, bool create)
{
	struct rs_arp_entry *set = lc->arp[arp_set(ip)];
	int way = arp_way(set, ip);
	struct rs_arp_entry *e = way < 0 ? NULL : &set[way];

	if (e == NULL && !create)
		return;
	if (e == NULL) {
		e = &set[0];
		for (unsigned i = 1; i < RS_ARP_WAYS && e->ip != 0; i++)
			if (set[i].ip == 0 || set[i].seen_tsc < e->seen_tsc)
				e = &set[i];
		e->ip = ip;
		RS_EVENT(lc, ARP_LEARNED);
	}
	rte_ether_addr_copy(mac, &e->mac);
	e->seen_tsc = lc->now_tsc;
	if (lc->arp_pending != 0)
		pend_resolved(lc, ip, mac);
}

/* The live entry of @p ip, or NULL. */
static struct rs_arp_entry *arp_find(struct rs_lcore *lc, rte_be32_t ip)
{
	struct rs_arp_entry *set = lc->arp[arp_set(ip)];
	int way = arp_way(set, ip);

	if (way < 0 || lc->now_tsc - set[way].seen_tsc > lc->arp_ttl_tsc)
		return NULL;
	return &set[way];
}

/* Fill an ARP header sent by us. */
static void arp_fill(const struct rs_lcore *lc, struct rte_arp_hdr *ah,
		     uint16_t op, const struct rte_ether_addr *tha,
		     rte_be32_t tip)
{
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = sizeof(rte_be32_t);
	ah->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(&lc->ifc->mac, &ah->arp_data.arp_sha);
	ah->arp_data.arp_sip = lc->ifc->ip;
	rte_ether_addr_copy(tha, &ah->arp_data.arp_tha);
	ah->arp_data.arp_tip = tip;
}

static bool arp_valid(const struct rte_arp_hdr *ah)
{
	return ah->arp_hardware == RTE_BE16(RTE_ARP_HRD_ETHER) &&
	       ah->arp_protocol == RTE_BE16(RTE_ETHER_TYPE_IPV4) &&
	       ah->arp_hlen == RTE_ETHER_ADDR_LEN &&
	       ah->arp_plen == sizeof(rte_be32_t);
}

enum rs_verdict rs_arp_input(struct rs_lcore *lc, struct rte_mbuf *m)
{
	struct rte_arp_hdr *ah;
	struct rte_ether_addr sha;
	rte_be32_t sip;

	if (rte_pktmbuf_data_len(m) < m->l2_len + sizeof(*ah))
		return rs_drop(lc, RS_DP_DROP_ARP_MALFORMED);
	ah = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, m->l2_len);
	if (!arp_valid(ah))
		return rs_drop(lc, RS_DP_DROP_ARP_MALFORMED);
	if (ah->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST) &&
	    ah->arp_opcode != RTE_BE16(RTE_ARP_OP_REPLY))
		return rs_drop(lc, RS_DP_DROP_ARP_OP);
	rte_ether_addr_copy(&ah->arp_data.arp_sha, &sha);
	sip = ah->arp_data.arp_sip;
	if (sip == lc->ifc->ip || rte_is_same_ether_addr(&sha, &lc->ifc->mac))
		return rs_drop(lc, RS_DP_DROP_ARP_CONFLICT);
	/* A probe (sender 0.0.0.0, RFC 5227) teaches nothing, but is still
	 * answered when it asks for us. */
	if (sip != 0 && rte_is_valid_assigned_ether_addr(&sha)) {
		arp_update(lc, sip, &sha, ah->arp_data.arp_tip == lc->ifc->ip);
		if (lc->steer != NULL)
			rs_steer_arp_share(lc, m);
	}
	if (ah->arp_data.arp_tip != lc->ifc->ip)
		return rs_drop(lc, RS_DP_DROP_ARP_NOT_OURS);
	if (ah->arp_opcode == RTE_BE16(RTE_ARP_OP_REPLY))
		return RS_VERDICT_CONSUMED;
	arp_fill(lc, ah, RTE_ARP_OP_REPLY, &sha, sip);
	rs_eth_reply_prepare(lc, m);
	RS_EVENT(lc, ARP_REPLIED);
	return RS_VERDICT_TX;
}

void rs_arp_learn(struct rs_lcore *lc, struct rte_mbuf *m)
{
	const struct rte_arp_hdr *ah = rte_pktmbuf_mtod_offset(
	    m, const struct rte_arp_hdr *, sizeof(struct rte_ether_hdr));

	arp_update(lc, ah->arp_data.arp_sip, &ah->arp_data.arp_sha,
		   ah->arp_data.arp_tip == lc->ifc->ip);
}

/* Broadcast a request for @p tip (our own address: an announcement). */
static int request_send(struct rs_lcore *lc, rte_be32_t tip)
{
	static const struct rte_ether_addr zero;
	struct rte_mbuf *m = rte_pktmbuf_alloc(lc->pool);
	struct rte_ether_hdr *eh;

	if (m == NULL) {
		RS_EVENT(lc, ALLOC_FAILED);
		return -ENOMEM;
	}
	eh = (struct rte_ether_hdr *)rte_pktmbuf_append(
	    m, sizeof(*eh) + sizeof(struct rte_arp_hdr));
	if (eh == NULL) {
		rte_pktmbuf_free(m);
		return -ENOMEM;
	}
	memset(&eh->dst_addr, 0xff, sizeof(eh->dst_addr));
	rte_ether_addr_copy(&lc->ifc->mac, &eh->src_addr);
	eh->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	arp_fill(lc, (struct rte_arp_hdr *)(eh + 1), RTE_ARP_OP_REQUEST, &zero,
		 tip);
	rs_lcore_tx(lc, m);
	if (tip == lc->ifc->ip)
		RS_EVENT(lc, GARP_SENT);
	else
		RS_EVENT(lc, ARP_REQUESTS_SENT);
	return 0;
}

void rs_arp_announce_start(struct rs_lcore *lc)
{
	lc->announce_left = ANNOUNCE_NUM;
	lc->announce_tsc = rte_rdtsc();
}

static void announce_tick(struct rs_lcore *lc, uint64_t now)
{
	if (lc->announce_left == 0 || now < lc->announce_tsc)
		return;
	/* Without an mbuf, try again next interval rather than spin. */
	if (request_send(lc, lc->ifc->ip) == 0)
		lc->announce_left--;
	lc->announce_tsc = now + ANNOUNCE_INTERVAL_S * rte_get_tsc_hz();
}

/* ---- resolution ---------------------------------------------------------- */

static struct rs_arp_pend *pend_find(struct rs_lcore *lc, rte_be32_t ip)
{
	for (uint32_t i = 0; i < lc->arp_npend; i++)
		if (lc->arp_pend[i].ip == ip)
			return &lc->arp_pend[i];
	return NULL;
}

static void held_set(struct rs_lcore *lc, int delta)
{
	lc->arp_held += delta;
	RS_GAUGE_SET(lc, arp_held, lc->arp_held);
}

static void pend_free(struct rs_lcore *lc, struct rs_arp_pend *p)
{
	p->ip = 0;
	p->held = 0;
	lc->arp_pending--;
}

/* A new pending entry for @p ip, its first request sent; NULL when all
 * are in use. */
static struct rs_arp_pend *pend_start(struct rs_lcore *lc, rte_be32_t ip)
{
	struct rs_arp_pend *p = pend_find(lc, 0);

	if (p == NULL)
		return NULL;
	p->ip = ip;
	p->held = 0;
	p->tries = 1;
	p->next_tsc = lc->now_tsc + lc->arp_retry_tsc;
	lc->arp_pending++;
	lc->arp_next_tsc = RTE_MIN(lc->arp_next_tsc, p->next_tsc);
	request_send(lc, ip);
	return p;
}

static void pend_resolved(struct rs_lcore *lc, rte_be32_t ip,
			  const struct rte_ether_addr *mac)
{
	struct rs_arp_pend *p = pend_find(lc, ip);

	if (p == NULL)
		return;
	for (uint16_t i = 0; i < p->held; i++)
		rs_eth_output(lc, p->q[i], mac, RTE_ETHER_TYPE_IPV4);
	held_set(lc, -(int)p->held);
	pend_free(lc, p);
	RS_EVENT(lc, ARP_RESOLVED);
}

/* No answer: drop what waits, fail the sockets, hold off one interval. */
static void pend_fail(struct rs_lcore *lc, struct rs_arp_pend *p)
{
	for (uint16_t i = 0; i < p->held; i++) {
		rte_pktmbuf_free(p->q[i]);
		RS_EVENT(lc, TX_ARP_UNREACHABLE);
	}
	held_set(lc, -(int)p->held);
	p->held = 0;
	p->tries++;
	RS_EVENT(lc, ARP_FAILED);
	rs_socks_unreachable(lc, p->ip);
}

/* Refresh an entry in its last quarter of life, once per interval. */
static void refresh(struct rs_lcore *lc, struct rs_arp_entry *e)
{
	uint64_t now = lc->now_tsc;

	if (now - e->seen_tsc < lc->arp_ttl_tsc - lc->arp_ttl_tsc / 4 ||
	    now - e->probe_tsc < lc->arp_retry_tsc)
		return;
	e->probe_tsc = now;
	request_send(lc, e->ip);
}

int rs_arp_output(struct rs_lcore *lc, struct rte_mbuf *m, rte_be32_t nh)
{
	struct rs_arp_entry *e = arp_find(lc, nh);
	struct rs_arp_pend *p;

	if (e != NULL) {
		refresh(lc, e);
		rs_eth_output(lc, m, &e->mac, RTE_ETHER_TYPE_IPV4);
		return 0;
	}
	p = pend_find(lc, nh);
	if (p == NULL)
		p = pend_start(lc, nh);
	if (p == NULL) {
		RS_EVENT(lc, TX_ARP_PENDING_FULL);
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	if (p->tries > lc->arp_retries) {
		RS_EVENT(lc, TX_ARP_UNREACHABLE);
		rte_pktmbuf_free(m);
		return -EHOSTUNREACH;
	}
	if (p->held == lc->arp_queue) {
		RS_EVENT(lc, TX_ARP_QUEUE_FULL);
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	p->q[p->held++] = m;
	held_set(lc, 1);
	return 0;
}

/* One pending entry's timer: the next request, the failure, or the end
 * of the hold-off. */
static void pend_tick(struct rs_lcore *lc, struct rs_arp_pend *p, uint64_t now)
{
	if (now < p->next_tsc)
		return;
	if (p->tries > lc->arp_retries) {
		pend_free(lc, p);
		return;
	}
	if (p->tries == lc->arp_retries)
		pend_fail(lc, p);
	else if (request_send(lc, p->ip) == 0)
		p->tries++;
	p->next_tsc = now + lc->arp_retry_tsc;
}

void rs_arp_tick(struct rs_lcore *lc, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	announce_tick(lc, now);
	if (lc->arp_pending == 0 || now < lc->arp_next_tsc)
		return;
	for (uint32_t i = 0; i < lc->arp_npend; i++) {
		if (lc->arp_pend[i].ip == 0)
			continue;
		pend_tick(lc, &lc->arp_pend[i], now);
		if (lc->arp_pend[i].ip != 0)
			next = RTE_MIN(next, lc->arp_pend[i].next_tsc);
	}
	lc->arp_next_tsc = next;
}

void rs_arp_flush(struct rs_lcore *lc)
{
	for (uint32_t i = 0; i < lc->arp_npend; i++) {
		struct rs_arp_pend *p = &lc->arp_pend[i];

		for (uint16_t k = 0; k < p->held; k++)
			rte_pktmbuf_free(p->q[k]);
		held_set(lc, -(int)p->held);
		if (p->ip != 0)
			pend_free(lc, p);
	}
	lc->arp_next_tsc = UINT64_MAX;
}
