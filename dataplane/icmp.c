/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP (RFC 792): echo requests are answered, in place, with the same
 * identifier, sequence number and data (RFC 1122 section 3.2.2.6).  The
 * message checksum is verified over the whole message on input, and on
 * output only adjusted for the changed type (RFC 1624).  Other types are
 * dropped and counted until something needs them (errors for TCP/UDP).
 */
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "stack_pvt.h"

enum rs_verdict rs_icmp_input(struct rs_lcore *lc, struct rte_mbuf *m)
{
	uint32_t off = m->l2_len + m->l3_len;
	uint32_t len = rte_pktmbuf_pkt_len(m) - off;
	struct rte_icmp_hdr *icmp;
	uint16_t sum;

	if (len < sizeof(*icmp) ||
	    rte_pktmbuf_data_len(m) < off + sizeof(*icmp))
		return rs_drop(lc, RS_DP_DROP_ICMP_SHORT);
	if (rte_raw_cksum_mbuf(m, off, len, &sum) != 0 || sum != 0xffff)
		return rs_drop(lc, RS_DP_DROP_ICMP_CSUM);
	icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, off);
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0)
		return rs_drop(lc, RS_DP_DROP_ICMP_TYPE);

	/* Type and code share the first 16-bit word of the header. */
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = rs_csum_replace16(
	    icmp->icmp_cksum, RTE_BE16(RTE_IP_ICMP_ECHO_REQUEST << 8),
	    RTE_BE16(RTE_IP_ICMP_ECHO_REPLY << 8));
	rs_ipv4_reply_prepare(lc, m);
	RS_EVENT(lc, ICMP_ECHO_REPLIED);
	return RS_VERDICT_TX;
}
