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
 * ECONNREFUSED; net, host, protocol unreachable likewise), RFC 1122
 * section 4.1.3.3.  About TCP they are soft errors (section 4.2.3.9) that
 * the TCP core does not take yet: dropped and counted, like other types.
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
/* An error message's whole datagram at most (RFC 1812 4.3.2.3). */
#define ICMP_ERR_MAX 576
#define ICMP_HDR ((uint32_t)sizeof(struct rte_icmp_hdr))
#define IP_HDR ((uint32_t)sizeof(struct rte_ipv4_hdr))

static enum rs_verdict echo_reply(struct rs_lcore *lc, struct rte_mbuf *m,
				  struct rte_icmp_hdr *icmp)
{
	/* Type and code share the first 16-bit word of the header. */
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = rs_csum_replace16(
	    icmp->icmp_cksum, RTE_BE16(RTE_IP_ICMP_ECHO_REQUEST << 8),
	    RTE_BE16(RTE_IP_ICMP_ECHO_REPLY << 8));
	rs_ipv4_reply_prepare(lc, m);
	RS_EVENT(lc, ICMP_ECHO_REPLIED);
	return RS_VERDICT_TX;
}

/* The errno a destination unreachable code means, or 0 (not acted on). */
static int unreach_errno(uint8_t code)
{
	static const int err[] = {ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT,
				  ECONNREFUSED};

	return code < RTE_DIM(err) ? err[code] : 0;
}

/* A destination unreachable message: the IP header and first 8 bytes of
 * our datagram follow the ICMP header. */
static enum rs_verdict unreach_input(struct rs_lcore *lc,
				     const struct rte_mbuf *m, uint32_t off,
				     uint32_t len, uint8_t code)
{
	struct rte_ipv4_hdr ibuf;
	const struct rte_ipv4_hdr *in;
	rte_be16_t pbuf[2];
	const rte_be16_t *ports;
	uint32_t hl;
	int err = unreach_errno(code);

	if (len < ICMP_HDR + IP_HDR + 8)
		return rs_drop(lc, RS_DP_DROP_ICMP_SHORT);
	in = rte_pktmbuf_read(m, off + ICMP_HDR, IP_HDR, &ibuf);
	hl = rte_ipv4_hdr_len(in);
	if (hl < IP_HDR || len < ICMP_HDR + hl + 8)
		return rs_drop(lc, RS_DP_DROP_ICMP_SHORT);
	ports = rte_pktmbuf_read(m, off + ICMP_HDR + hl, sizeof(pbuf), pbuf);
	if (err == 0 || in->next_proto_id != IPPROTO_UDP ||
	    in->src_addr != lc->ifc->ip ||
	    !rs_udp_icmp_error(lc, in->dst_addr, ports[1], ports[0], err))
		return rs_drop(lc, RS_DP_DROP_ICMP_ERR_NO_SOCKET);
	RS_EVENT(lc, ICMP_ERR_DELIVERED);
	return RS_VERDICT_CONSUMED;
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
	if (icmp->icmp_type == RTE_IP_ICMP_ECHO_REQUEST &&
	    icmp->icmp_code == 0)
		return echo_reply(lc, m, icmp);
	if (icmp->icmp_type == ICMP_DEST_UNREACH)
		return unreach_input(lc, m, off, len, icmp->icmp_code);
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
