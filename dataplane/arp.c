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
 * Each worker keeps its own cache, so the fast path takes no lock: 16
 * sets of 4 ways, the set chosen by a hash of the address, the least
 * recently confirmed way replaced.  An entry is good for arp_ttl_tsc after
 * it was last confirmed; there is no timer, lookups just ignore stale
 * entries.  Requests for unknown next hops come with the first sender of
 * IP packets (UDP/TCP); until then the cache only fills from our peers'
 * requests and replies.
 */
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

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
	e->seen_tsc = rte_rdtsc();
}

int rs_arp_lookup(const struct rs_lcore *lc, rte_be32_t ip,
		  struct rte_ether_addr *mac)
{
	const struct rs_arp_entry *set = lc->arp[arp_set(ip)];
	int way = arp_way(set, ip);

	if (way < 0 || rte_rdtsc() - set[way].seen_tsc > lc->arp_ttl_tsc)
		return -ENOENT;
	rte_ether_addr_copy(&set[way].mac, mac);
	return 0;
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
	if (sip != 0 && rte_is_valid_assigned_ether_addr(&sha))
		arp_update(lc, sip, &sha, ah->arp_data.arp_tip == lc->ifc->ip);
	if (ah->arp_data.arp_tip != lc->ifc->ip)
		return rs_drop(lc, RS_DP_DROP_ARP_NOT_OURS);
	if (ah->arp_opcode == RTE_BE16(RTE_ARP_OP_REPLY))
		return RS_VERDICT_CONSUMED;
	arp_fill(lc, ah, RTE_ARP_OP_REPLY, &sha, sip);
	rs_eth_reply_prepare(lc, m);
	RS_EVENT(lc, ARP_REPLIED);
	return RS_VERDICT_TX;
}

static int announce(struct rs_lcore *lc)
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
		 lc->ifc->ip);
	rs_lcore_tx(lc, m);
	RS_EVENT(lc, GARP_SENT);
	return 0;
}

void rs_arp_announce_start(struct rs_lcore *lc)
{
	lc->announce_left = ANNOUNCE_NUM;
	lc->announce_tsc = rte_rdtsc();
}

void rs_arp_tick(struct rs_lcore *lc, uint64_t now)
{
	if (lc->announce_left == 0 || now < lc->announce_tsc)
		return;
	/* Without an mbuf, try again next interval rather than spin. */
	if (announce(lc) == 0)
		lc->announce_left--;
	lc->announce_tsc = now + ANNOUNCE_INTERVAL_S * rte_get_tsc_hz();
}
