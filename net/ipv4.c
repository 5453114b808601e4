/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 input (RFC 791, with RFC 1122 section 3.2.1's checks).
 *
 * A datagram is validated -- version, header length, total length, header
 * checksum -- then accepted only for our own address, from a unicast
 * source; fragments are reassembled first (frag.c).  Options are
 * accepted and ignored.  Link-layer padding past the total length is
 * trimmed so that upper layers see exactly the datagram.
 *
 * The header checksum is the port's job when it offers the offload: on
 * input the mbuf flags say good or bad, and only "unknown" is checked in
 * software; on output the checksum is left to the port, with l2_len and
 * l3_len set, or computed here when the port cannot.  The same holds for
 * UDP and TCP checksums, which this file computes for both (pseudo-header
 * included) so that there is one implementation.
 *
 * Output (rs_ipv4_output()): route, header (DF set: TCP follows the path
 * MTU), checksums, then ARP for the next hop.  A UDP datagram larger
 * than the MTU is cut by udp.c into fragments (DF clear), each sent
 * through rs_ipv4_output_frag().
 */
#include <string.h>

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "stack_pvt.h"

static bool csum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
	switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
	case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
	case RTE_MBUF_F_RX_IP_CKSUM_NONE: /* header verified, sum not */
		return true;
	case RTE_MBUF_F_RX_IP_CKSUM_BAD:
		return false;
	default:
		/* Summing a header with its checksum gives 0xffff. */
		return rte_ipv4_cksum(ip) == 0;
	}
}

/* A source we may answer: not zero, loopback, multicast, broadcast (all
 * ones or our subnet's; /31 and /32 have none, RFC 3021), nor ourselves. */
static bool src_ok(const struct rs_iface *ifc, rte_be32_t src)
{
	uint32_t a = rte_be_to_cpu_32(src);
	uint32_t host = ~rte_be_to_cpu_32(ifc->netmask);

	return a != 0 && (a >> 24) != 127 && (a >> 28) < 14 && src != ifc->ip &&
	       (host <= 1 || (a & host) != host);
}

/* No drop: what header_check() returns for a good header. */
#define HEADER_OK RS_DP_DROP_MAX

/* Check the fields every datagram must get right; on success trim the
 * link-layer padding and set l3_len. */
static enum rs_dp_drop header_check(struct rte_mbuf *m,
				    const struct rte_ipv4_hdr *ip)
{
	uint32_t avail = rte_pktmbuf_pkt_len(m) - m->l2_len;
	uint16_t hlen, total;

	if ((ip->version_ihl >> 4) != 4)
		return RS_DP_DROP_IP_VERSION;
	hlen = rte_ipv4_hdr_len(ip);
	if (hlen < sizeof(*ip) || rte_pktmbuf_data_len(m) < m->l2_len + hlen)
		return RS_DP_DROP_IP_HDR_LEN;
	total = rte_be_to_cpu_16(ip->total_length);
	if (total < hlen || total > avail)
		return RS_DP_DROP_IP_TOTAL_LEN;
	if (!csum_ok(m, ip))
		return RS_DP_DROP_IP_CSUM;
	/* Padding is shorter than a minimum frame, so it sits in the last
	 * segment unless the segments are tiny. */
	if (total < avail && rte_pktmbuf_trim(m, avail - total) != 0)
		return RS_DP_DROP_IP_TOTAL_LEN;
	m->l3_len = hlen;
	return HEADER_OK;
}

enum rs_verdict rs_ipv4_input(struct rs_lcore *lc, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip;
	enum rs_dp_drop why;
	bool frag;

	if (rte_pktmbuf_data_len(m) < m->l2_len + sizeof(*ip))
		return rs_drop(lc, RS_DP_DROP_IP_SHORT);
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, m->l2_len);
	why = header_check(m, ip);
	if (why != HEADER_OK)
		return rs_drop(lc, why);
	if (ip->dst_addr != lc->ifc->ip)
		return rs_drop(lc, RS_DP_DROP_IP_NOT_OURS);
	frag = (ip->fragment_offset &
		RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0;
	if (frag && lc->frag_tbl == NULL)
		return rs_drop(lc, RS_DP_DROP_IP_FRAGMENT);
	if (!src_ok(lc->ifc, ip->src_addr))
		return rs_drop(lc, RS_DP_DROP_IP_BAD_SRC);
	if (frag)
		return rs_frag_input(lc, m, ip);
	return rs_ipv4_deliver(lc, m);
}

enum rs_verdict rs_ipv4_deliver(struct rs_lcore *lc, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip =
	    rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, m->l2_len);

	switch (ip->next_proto_id) {
	case IPPROTO_ICMP:
		return rs_icmp_input(lc, m);
	case IPPROTO_UDP:
		return rs_udp_input(lc, m);
	case IPPROTO_TCP:
		return rs_tcp_glue_input(lc, m);
	default:
		return rs_drop(lc, RS_DP_DROP_IP_PROTO);
	}
}

/* Remove IP options by moving the Ethernet and base IP headers over them:
 * the payload does not move. */
static struct rte_ipv4_hdr *strip_options(struct rte_mbuf *m)
{
	uint16_t opt = m->l3_len - sizeof(struct rte_ipv4_hdr);
	char *start = rte_pktmbuf_mtod(m, char *);
	struct rte_ipv4_hdr *ip;

	memmove(start + opt, start, m->l2_len + sizeof(*ip));
	rte_pktmbuf_adj(m, opt);
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, m->l2_len);
	ip->total_length =
	    rte_cpu_to_be_16(rte_be_to_cpu_16(ip->total_length) - opt);
	m->l3_len = sizeof(*ip);
	return ip;
}

void rs_ipv4_reply_prepare(const struct rs_lcore *lc, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip =
	    rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, m->l2_len);

	if (m->l3_len > sizeof(*ip))
		ip = strip_options(m);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->dst_addr = ip->src_addr;
	ip->src_addr = lc->ifc->ip;
	ip->time_to_live = RS_IPV4_TTL;
	ip->hdr_checksum = 0;
	if (lc->ifc->tx_offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	else
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	rs_eth_reply_prepare(lc, m);
}

/* ---- UDP and TCP checksums ----------------------------------------------- */

/* The pseudo-header's sum, folded, not complemented: its 16-bit words
 * added as values, not through a struct read back word by word (the
 * struct's byte stores cannot be forwarded to its word loads, a stall
 * on every segment sent). */
static uint16_t phdr_sum(rte_be32_t src, rte_be32_t dst, uint8_t proto,
			 uint32_t len)
{
	uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) +
		       (dst & 0xffff) + rte_cpu_to_be_16((uint16_t)proto) +
		       rte_cpu_to_be_16((uint16_t)len);

	sum = (sum >> 16) + (sum & 0xffff);
	return (uint16_t)((sum >> 16) + (sum & 0xffff));
}

uint16_t rs_ipv4_l4_cksum(const struct rte_mbuf *m, uint32_t off, uint32_t len,
			  rte_be32_t src, rte_be32_t dst, uint8_t proto)
{
	uint16_t raw = 0;
	uint32_t sum;

	if (rte_raw_cksum_mbuf(m, off, len, &raw) != 0)
		return 0xffff; /* out of the mbuf: cannot be right */
	sum = (uint32_t)raw + phdr_sum(src, dst, proto, len);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

bool rs_ipv4_l4_csum_ok(const struct rte_mbuf *m, uint32_t len)
{
	const struct rte_ipv4_hdr *ip;

	switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
	case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
	case RTE_MBUF_F_RX_L4_CKSUM_NONE: /* data verified, field not */
		return true;
	case RTE_MBUF_F_RX_L4_CKSUM_BAD:
		return false;
	default:
		ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *,
					     m->l2_len);
		return rs_ipv4_l4_cksum(m, m->l2_len + m->l3_len, len,
					ip->src_addr, ip->dst_addr,
					ip->next_proto_id) == 0;
	}
}

/* The L4 checksum asked for in ol_flags: the port's job (it wants the
 * pseudo-header sum in the field), or ours now. */
static void l4_csum_fill(const struct rs_lcore *lc, struct rte_mbuf *m,
			 const struct rte_ipv4_hdr *ip, uint32_t l4len)
{
	uint64_t want = m->ol_flags & RTE_MBUF_F_TX_L4_MASK;
	uint32_t off = sizeof(*ip);
	rte_be16_t *field;
	uint64_t capa;

	if (want == RTE_MBUF_F_TX_UDP_CKSUM) {
		field = rte_pktmbuf_mtod_offset(m, rte_be16_t *, off + 6);
		capa = RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	} else if (want == RTE_MBUF_F_TX_TCP_CKSUM) {
		field = rte_pktmbuf_mtod_offset(m, rte_be16_t *, off + 16);
		capa = RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	} else {
		return;
	}
	if (lc->ifc->tx_offloads & capa) {
		/* TSO wants the sum without the length (each piece has its
		 * own); see RTE_MBUF_F_TX_TCP_SEG. */
		*field =
		    phdr_sum(ip->src_addr, ip->dst_addr, ip->next_proto_id,
			     (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) ? 0 : l4len);
		m->ol_flags |= RTE_MBUF_F_TX_IPV4;
		return;
	}
	*field = 0;
	*field = rs_ipv4_l4_cksum(m, off, l4len, ip->src_addr, ip->dst_addr,
				  ip->next_proto_id);
	/* 0 means "no checksum" in UDP: send its other form (RFC 768). */
	if (*field == 0 && want == RTE_MBUF_F_TX_UDP_CKSUM)
		*field = 0xffff;
	m->ol_flags &= ~RTE_MBUF_F_TX_L4_MASK;
}

/* @p frag: the flags and offset field, host order. */
static void hdr_fill(struct rte_ipv4_hdr *ip, rte_be32_t src, rte_be32_t dst,
		     uint8_t proto, uint32_t l4len, uint16_t id, uint16_t frag)
{
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16(sizeof(*ip) + l4len);
	ip->packet_id = rte_cpu_to_be_16(id);
	ip->fragment_offset = rte_cpu_to_be_16(frag);
	ip->time_to_live = RS_IPV4_TTL;
	ip->next_proto_id = proto;
	ip->hdr_checksum = 0;
	ip->src_addr = src;
	ip->dst_addr = dst;
}

static int output(struct rs_lcore *lc, struct rte_mbuf *m, rte_be32_t src,
		  rte_be32_t dst, uint8_t proto, uint16_t id, uint16_t frag)
{
	uint32_t l4len = rte_pktmbuf_pkt_len(m);
	struct rte_ipv4_hdr *ip;
	rte_be32_t nh;

	if (rs_route_lookup(lc, dst, &nh) < 0) {
		RS_EVENT(lc, TX_NO_ROUTE);
		rte_pktmbuf_free(m);
		return -ENETUNREACH;
	}
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_prepend(m, sizeof(*ip));
	if (ip == NULL) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	hdr_fill(ip, src, dst, proto, l4len, id, frag);
	m->l2_len = RTE_ETHER_HDR_LEN;
	m->l3_len = sizeof(*ip);
	l4_csum_fill(lc, m, ip, l4len);
	if (lc->ifc->tx_offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	else
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	return rs_arp_output(lc, m, nh);
}

int rs_ipv4_output(struct rs_lcore *lc, struct rte_mbuf *m, rte_be32_t src,
		   rte_be32_t dst, uint8_t proto)
{
	return output(lc, m, src, dst, proto, rs_ip_id_next(lc),
		      RTE_IPV4_HDR_DF_FLAG);
}

int rs_ipv4_output_frag(struct rs_lcore *lc, struct rte_mbuf *m, rte_be32_t src,
			rte_be32_t dst, uint8_t proto, uint16_t id,
			uint32_t off, bool more)
{
	uint16_t frag = (uint16_t)(off / RTE_IPV4_HDR_OFFSET_UNITS);

	if (more)
		frag |= RTE_IPV4_HDR_MF_FLAG;
	return output(lc, m, src, dst, proto, id, frag);
}
