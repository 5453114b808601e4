/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethernet: accept frames for our MAC or broadcast, and hand them to the
 * layer their EtherType names.  We join no multicast group yet, so
 * multicast frames (IPv6 neighbour discovery, mDNS, ...) are dropped,
 * counted apart from frames for other MACs.  VLAN tags are not handled.
 */
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "stack_pvt.h"

enum rs_verdict rs_eth_input(struct rs_lcore *lc, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eh;

	if (rte_pktmbuf_data_len(m) < sizeof(*eh))
		return rs_drop(lc, RS_DP_DROP_ETH_SHORT);
	eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (!rte_is_same_ether_addr(&eh->dst_addr, &lc->ifc->mac) &&
	    !rte_is_broadcast_ether_addr(&eh->dst_addr))
		return rs_drop(lc, rte_is_multicast_ether_addr(&eh->dst_addr)
				       ? RS_DP_DROP_ETH_MULTICAST
				       : RS_DP_DROP_ETH_NOT_OURS);
	m->l2_len = sizeof(*eh);
	switch (eh->ether_type) {
	case RTE_BE16(RTE_ETHER_TYPE_ARP):
		return rs_arp_input(lc, m);
	case RTE_BE16(RTE_ETHER_TYPE_IPV4):
		return rs_ipv4_input(lc, m);
	case RTE_BE16(RTE_ETHER_TYPE_IPV6):
		return rs_drop(lc, RS_DP_DROP_ETH_IPV6);
	default:
		return rs_drop(lc, RS_DP_DROP_ETH_TYPE);
	}
}

void rs_eth_reply_prepare(const struct rs_lcore *lc, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	rte_ether_addr_copy(&eh->src_addr, &eh->dst_addr);
	rte_ether_addr_copy(&lc->ifc->mac, &eh->src_addr);
}

void rs_eth_output(struct rs_lcore *lc, struct rte_mbuf *m,
		   const struct rte_ether_addr *dst, uint16_t ether_type)
{
	struct rte_ether_hdr *eh;

	eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eh));
	if (eh == NULL) { /* every output mbuf keeps RS_OUT_HEADROOM */
		rte_pktmbuf_free(m);
		return;
	}
	rte_ether_addr_copy(dst, &eh->dst_addr);
	rte_ether_addr_copy(&lc->ifc->mac, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(ether_type);
	m->l2_len = sizeof(*eh);
	rs_lcore_tx(lc, m);
}
