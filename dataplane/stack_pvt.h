/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The network stack's handlers.  Private to dataplane/.
 *
 * Input runs down the layers: rs_eth_input() -> rs_arp_input() or
 * rs_ipv4_input() -> rs_icmp_input() (UDP and TCP to come).  Each handler
 * takes a received mbuf whose l2_len (and, past IPv4, l3_len) is set and
 * returns an rs_verdict; a drop has been counted under its reason before
 * it is returned.  Headers are read from the first segment only: a
 * header that does not fit there is counted as too short.  Replies are
 * built in place, in the received mbuf, by the *_reply_prepare()
 * helpers of each layer.
 */
#ifndef RS_STACK_PVT_H
#define RS_STACK_PVT_H

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "lcore_pvt.h"

/** TTL of the packets we send. */
#define RS_IPV4_TTL 64

/* eth.c */
/**
 * Receive a frame: the entry to the stack.
 *
 * @return RS_VERDICT_TX (reply built in @p m), RS_VERDICT_CONSUMED, or
 *   RS_VERDICT_DROP with the reason counted.
 */
enum rs_verdict rs_eth_input(struct rs_lcore *lc, struct rte_mbuf *m);
/** Address a received frame back to its sender, from us (in place). */
void rs_eth_reply_prepare(const struct rs_lcore *lc, struct rte_mbuf *m);

/* arp.c */
/**
 * Receive an ARP packet (l2_len set): learn, answer requests for us.
 *
 * @return as rs_eth_input().
 */
enum rs_verdict rs_arp_input(struct rs_lcore *lc, struct rte_mbuf *m);
/**
 * Schedule the announcement of our address: gratuitous ARP requests, the
 * first at once, the rest 2 s apart (RFC 5227 section 2.3).
 */
void rs_arp_announce_start(struct rs_lcore *lc);
/**
 * ARP's timer: send an announcement when one is due.  Called every loop.
 *
 * @param now  rte_rdtsc() of this loop.
 */
void rs_arp_tick(struct rs_lcore *lc, uint64_t now);
/**
 * Look up a neighbour in this worker's ARP cache.
 *
 * @return 0 with @p mac filled, or -ENOENT (unknown or expired).
 */
int rs_arp_lookup(const struct rs_lcore *lc, rte_be32_t ip,
		  struct rte_ether_addr *mac);

/* ipv4.c */
/**
 * Receive an IPv4 datagram (l2_len set): validate, then hand it to its
 * protocol with l3_len set and link-layer padding trimmed.
 *
 * @return as rs_eth_input().
 */
enum rs_verdict rs_ipv4_input(struct rs_lcore *lc, struct rte_mbuf *m);
/**
 * Turn a received datagram around: from us to its sender, TTL reset, IP
 * options removed, checksum filled in (by the port when it offers that),
 * and the Ethernet header readdressed.  The payload stays where it is.
 */
void rs_ipv4_reply_prepare(const struct rs_lcore *lc, struct rte_mbuf *m);

/* icmp.c */
/**
 * Receive an ICMP message (l2_len and l3_len set): answer echo requests.
 *
 * @return as rs_eth_input().
 */
enum rs_verdict rs_icmp_input(struct rs_lcore *lc, struct rte_mbuf *m);

/**
 * Update an Internet checksum for one 16-bit word changing from @p old to
 * @p new (RFC 1624 eqn. 3).  All three in network order.
 */
static inline rte_be16_t rs_csum_replace16(rte_be16_t sum, rte_be16_t old,
					   rte_be16_t new)
{
	uint32_t s = (uint16_t)~sum + (uint16_t)~old + (uint32_t) new;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (rte_be16_t)~s;
}

#endif /* RS_STACK_PVT_H */
