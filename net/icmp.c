/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP (RFC 792, RFC 1122 section 3.2.2).
 *
 * Echo requests are answered, in place, with the same identifier,
 * sequence number and data (RFC 1122 section 3.2.2.6).  The message
 * checksum is verified over the whole message on input, and on output
 * only adjusted for the changed type (RFC 1624).
 *
 * Destination unreachable messages about UDP datagrams we sent reach the
 * connected socket of the quoted 4-tuple as an error (port unreachable:
 * ECONNREFUSED; net, host, protocol unreachable likewise; fragmentation
 * needed: EMSGSIZE), RFC 1122 section 4.1.3.3.  Destination unreachable,
 * time exceeded and parameter problem about TCP segments go to the TCP
 * core (rs_tcp_icmp_input(): path MTU, refused connects, soft errors),
 * which checks the quoted sequence number; what it declines is counted
 * under its tcp_icmp_* reasons.  Other types are dropped and counted.
 *
 * We send port unreachable for UDP datagrams no socket takes, quoting as
 * much of the datagram as fits in 576 bytes (RFC 1812 section 4.3.2.3),
 * at most [sockets] icmp_unreach_rate per second per worker with a burst
 * of a tenth of that (RFC 1812 section 4.3.2.8), by a GCRA: a theoretical
 * arrival time that each message pushes one interval on.
 */
#include <errno.h>
#include <string.h>

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "stack_pvt.h"

#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAM_PROBLEM 12
/* Bytes of the datagram's L4 header an error quotes (RFC 792). */
#define QUOTE_L4 8u
/* An error message's whole datagram at most (RFC 1812 4.3.2.3). */
#define ICMP_ERR_MAX 576
#define ICMP_HDR ((uint32_t)sizeof(struct rte_icmp_hdr))
#define IP_HDR ((uint32_t)sizeof(struct rte_ipv4_hdr))

/*
 * Turn the request into its reply in place.  The checksum is computed
 * again over the whole message rather than updated incrementally: the
 * RFC 1624 update yields 0x0000 for a message that is all zero but for its
 * type, where only 0xffff sums right (found by tests/fuzz/fuzz_input).
 */
static enum rs_verdict echo_reply(struct rs_lcore *lc, struct rte_mbuf *m,
				  struct rte_icmp_hdr *icmp, uint32_t off,
				  uint32_t len)
{
	uint16_t sum;

	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	if (rte_raw_cksum_mbuf(m, off, len, &sum) != 0)
		return rs_drop(lc, RS_DP_DROP_ICMP_SHORT);
	icmp->icmp_cksum = (uint16_t)~sum;
	rs_ipv4_reply_prepare(lc, m);
	RS_EVENT(lc, ICMP_ECHO_REPLIED);
	return RS_VERDICT_TX;
}

/* The errno a destination unreachable code means to a UDP socket, or 0
 * (not acted on). */
static int unreach_errno(uint8_t code)
{
	static const int err[] = {ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT,
				  ECONNREFUSED, EMSGSIZE};

	return code < RTE_DIM(err) ? err[code] : 0;
}

static enum rs_verdict udp_error(struct rs_lcore *lc,
				 const struct rte_icmp_hdr *icmp,
				 const struct rte_ipv4_hdr *in,
				 const rte_be16_t *ports)
{
	int err = unreach_errno(icmp->icmp_code);

	if (icmp->icmp_type != ICMP_DEST_UNREACH || err == 0 ||
	    !rs_udp_icmp_error(lc, in->dst_addr, ports[1], ports[0], err))
		return rs_drop(lc, RS_DP_DROP_ICMP_ERR_NO_SOCKET);
	RS_EVENT(lc, ICMP_ERR_DELIVERED);
	return RS_VERDICT_CONSUMED;
}

/* An error message (destination unreachable, time exceeded, parameter
 * problem): the IP header and first 8 bytes of our datagram follow the
 * ICMP header; for TCP those are the ports and the sequence number. */
static enum rs_verdict error_input(struct rs_lcore *lc,
				   const struct rte_mbuf *m, uint32_t off,
				   uint32_t len,
				   const struct rte_icmp_hdr *icmp)
{
	struct rte_ipv4_hdr ibuf;
	const struct rte_ipv4_hdr *in;
	uint8_t qbuf[QUOTE_L4];
	const uint8_t *q;
	uint32_t hl;
	uint16_t mtu = 0;

	if (len < ICMP_HDR + IP_HDR + QUOTE_L4)
		return rs_drop(lc, RS_DP_DROP_ICMP_SHORT);
	in = rte_pktmbuf_read(m, off + ICMP_HDR, IP_HDR, &ibuf);
	hl = rte_ipv4_hdr_len(in);
	if (hl < IP_HDR || len < ICMP_HDR + hl + QUOTE_L4)
		return rs_drop(lc, RS_DP_DROP_ICMP_SHORT);
	/* Not from us, or a later fragment (no L4 header quoted). */
	if (in->src_addr != lc->ifc->ip ||
	    (in->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) != 0)
		return rs_drop(lc, RS_DP_DROP_ICMP_ERR_NO_SOCKET);
	q = rte_pktmbuf_read(m, off + ICMP_HDR + hl, QUOTE_L4, qbuf);
	if (icmp->icmp_type == ICMP_DEST_UNREACH &&
	    icmp->icmp_code == ICMP_FRAG_NEEDED)
		mtu = rte_be_to_cpu_16(icmp->icmp_seq_nb); /* RFC 1191 §4 */
	if (in->next_proto_id == IPPROTO_TCP)
		return rs_tcp_glue_icmp(lc, icmp->icmp_type, icmp->icmp_code,
					mtu, in->src_addr, in->dst_addr, q,
					QUOTE_L4);
	if (in->next_proto_id == IPPROTO_UDP)
		return udp_error(lc, icmp, in, (const rte_be16_t *)q);
	return rs_drop(lc, RS_DP_DROP_ICMP_ERR_NO_SOCKET);
}

enum rs_verdict rs_icmp_input(struct rs_lcore *lc, struct rte_mbuf *m)
{
	uint32_t off = m->l2_len + m->l3_len;
	uint32_t len = rte_pktmbuf_pkt_len(m) - off;
	struct rte_icmp_hdr *icmp;
	uint16_t sum;

	if (len < ICMP_HDR || rte_pktmbuf_data_len(m) < off + ICMP_HDR)
		return rs_drop(lc, RS_DP_DROP_ICMP_SHORT);
	if (rte_raw_cksum_mbuf(m, off, len, &sum) != 0 || sum != 0xffff)
		return rs_drop(lc, RS_DP_DROP_ICMP_CSUM);
	icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, off);
	if (icmp->icmp_type == RTE_IP_ICMP_ECHO_REQUEST && icmp->icmp_code == 0)
		return echo_reply(lc, m, icmp, off, len);
	if (icmp->icmp_type == ICMP_DEST_UNREACH ||
	    icmp->icmp_type == ICMP_TIME_EXCEEDED ||
	    icmp->icmp_type == ICMP_PARAM_PROBLEM)
		return error_input(lc, m, off, len, icmp);
	return rs_drop(lc, RS_DP_DROP_ICMP_TYPE);
}

/* GCRA: one more message now, within the rate and its burst? */
static bool rate_ok(struct rs_lcore *lc)
{
	uint64_t now = lc->now_tsc;

	if (lc->icmp_interval_tsc == 0 ||
	    lc->icmp_tat > now + lc->icmp_burst_tsc)
		return false;
	lc->icmp_tat = RTE_MAX(lc->icmp_tat, now) + lc->icmp_interval_tsc;
	return true;
}

void rs_icmp_port_unreach(struct rs_lcore *lc, const struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip =
	    rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, m->l2_len);
	uint32_t quote = RTE_MIN(rte_pktmbuf_pkt_len(m) - m->l2_len,
				 ICMP_ERR_MAX - IP_HDR - ICMP_HDR);
	struct rte_icmp_hdr *icmp;
	struct rte_mbuf *r;
	const void *p;

	if (!rate_ok(lc)) {
		RS_EVENT(lc, ICMP_UNREACH_LIMITED);
		return;
	}
	r = rte_pktmbuf_alloc(lc->pool);
	if (r == NULL) {
		RS_EVENT(lc, ALLOC_FAILED);
		return;
	}
	icmp = (struct rte_icmp_hdr *)rte_pktmbuf_append(r, ICMP_HDR + quote);
	if (icmp == NULL) {
		rte_pktmbuf_free(r);
		return;
	}
	icmp->icmp_type = ICMP_DEST_UNREACH;
	icmp->icmp_code = ICMP_PORT_UNREACH;
	icmp->icmp_cksum = 0;
	icmp->icmp_ident = 0; /* unused, must be 0 */
	icmp->icmp_seq_nb = 0;
	p = rte_pktmbuf_read(m, m->l2_len, quote, icmp + 1);
	if (p != icmp + 1)
		memcpy(icmp + 1, p, quote);
	icmp->icmp_cksum = (rte_be16_t)~rte_raw_cksum(icmp, ICMP_HDR + quote);
	if (rs_ipv4_output(lc, r, lc->ifc->ip, ip->src_addr, IPPROTO_ICMP) == 0)
		RS_EVENT(lc, ICMP_UNREACH_SENT);
}
