/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP errors about segments we sent (RFC 9293 §3.9, RFC 1122 §4.2.3.9,
 * RFC 5927, RFC 1191).
 *
 * The glue hands over the type, code, next-hop MTU and the quoted IPv4
 * addresses and TCP header.  The order is: find the connection of the
 * quoted 4-tuple; check the quoted sequence number lies in
 * SND.UNA .. SND.NXT (RFC 5927 §4.1: an off-path attacker must guess
 * it; snd_max stands for SND.NXT, since a retransmission moves snd_nxt
 * back); then act:
 *
 *   fragmentation needed   path MTU discovery (RFC 1191 §6.3): the send
 *                          MSS drops to MTU - 40 (less the 12 bytes of
 *                          timestamps, when in use), never below
 *                          RS_TCP_PMTU_MIN - 40 (RFC 5927 §7.2), never
 *                          up; what is in flight goes again, cut to the
 *                          new size.  No congestion response (§6.5), no
 *                          per-destination cache and no probing for a
 *                          larger MTU later (§6.3's 10-minute retry).
 *   port / protocol        in SYN-SENT the connection is refused
 *   unreachable            (ECONNREFUSED); in a synchronized state a
 *                          soft error (RFC 5927 §4.2).
 *   anything else          a soft error: kept in c->soft_error, which a
 *                          later time-out reports instead of ETIMEDOUT
 *                          (tcp_timer.c); forgotten once new data is
 *                          acknowledged (tcp_cc.c, tcp_in.c).
 *
 * Source quench and every other type are ignored (RFC 6633).
 */

#include <errno.h>

#include "tcp_pvt.h"

/* Bytes of the quoted TCP header we need: ports and sequence number. */
#define QUOTE_MIN 8

/* RFC 1191 §7 plateaus, for a "fragmentation needed" without an MTU. */
static const uint16_t plateaus[] = {32000, 17914, 8166, 4352,
				    2002,  1492,  1006, 508};

/* The errno a soft error stands for. */
static int soft_errno(uint8_t type, uint8_t code)
{
	if (type == RS_TCP_ICMP_PARAM_PROBLEM)
		return EPROTO;
	if (type != RS_TCP_ICMP_UNREACH) /* time exceeded: a routing loop */
		return EHOSTUNREACH;
	switch (code) {
	case 0:	 /* net */
	case 6:	 /* net unknown */
	case 9:	 /* net prohibited */
	case 11: /* net for TOS */
		return ENETUNREACH;
	case RS_TCP_ICMP_PROTO_UNREACH:
		return ENOPROTOOPT;
	case RS_TCP_ICMP_PORT_UNREACH:
		return ECONNREFUSED;
	default:
		return EHOSTUNREACH;
	}
}

/* The next-hop MTU to use: the one given, else a plateau below ours. */
static uint32_t pmtu_of(const struct rs_tcp_conn *c, uint16_t mtu)
{
	uint32_t cur = (uint32_t)c->snd_mss + rs_tcp_ts_len(c) + 40;

	if (mtu == 0)
		for (size_t i = 0; i < sizeof(plateaus) / sizeof(plateaus[0]);
		     i++)
			if (plateaus[i] < cur) {
				mtu = plateaus[i];
				break;
			}
	return RS_TCP_MAX((uint32_t)mtu, (uint32_t)RS_TCP_PMTU_MIN);
}

static int frag_needed(struct rs_tcp_conn *c, uint64_t now, uint16_t mtu)
{
	uint32_t mss = pmtu_of(c, mtu) - 40 - rs_tcp_ts_len(c);

	if (!rs_tcp_synchronized(c->state) || mss >= c->snd_mss)
		return RS_TCP_DROP(c->st, ICMP_IGNORED);
	RS_TCP_COUNT(c->st, PMTU_LOWERED);
	c->snd_mss = (uint16_t)mss;
	if (c->snd != NULL && c->snd_una != c->snd_max &&
	    c->state != RS_TCP_TIME_WAIT) {
		rs_tcp_go_back(c);
		rs_tcp_out_push(c, now);
	}
	return RS_TCP_IN_OK;
}

static int unreach(struct rs_tcp_conn *c, uint64_t now, uint8_t type,
		   uint8_t code, uint16_t mtu)
{
	if (type == RS_TCP_ICMP_UNREACH && code == RS_TCP_ICMP_FRAG_NEEDED)
		return frag_needed(c, now, mtu);
	if (type == RS_TCP_ICMP_UNREACH && c->state == RS_TCP_SYN_SENT &&
	    (code == RS_TCP_ICMP_PROTO_UNREACH ||
	     code == RS_TCP_ICMP_PORT_UNREACH)) {
		RS_TCP_COUNT(c->st, ICMP_HARD);
		rs_tcp_conn_closed(c, ECONNREFUSED);
		return RS_TCP_IN_OK;
	}
	RS_TCP_COUNT(c->st, ICMP_SOFT);
	c->soft_error = soft_errno(type, code);
	return RS_TCP_IN_OK;
}

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int rs_tcp_icmp_input(struct rs_tcp_stack *st, uint64_t now, uint8_t type,
		      uint8_t code, uint16_t mtu, uint32_t saddr,
		      uint32_t daddr, const void *tcp, size_t len)
{
	const uint8_t *p = tcp;
	struct rs_tcp_tuple key;
	struct rs_tcp_conn *c;
	uint32_t seq;
	int rc;

	if (type != RS_TCP_ICMP_UNREACH && type != RS_TCP_ICMP_TIME_EXCEEDED &&
	    type != RS_TCP_ICMP_PARAM_PROBLEM)
		return RS_TCP_DROP(st, ICMP_IGNORED);
	if (len < QUOTE_MIN)
		return RS_TCP_DROP(st, ICMP_SHORT);
	key.laddr = saddr;
	key.raddr = daddr;
	key.lport = (uint16_t)(p[0] << 8 | p[1]);
	key.rport = (uint16_t)(p[2] << 8 | p[3]);
	seq = be32_at(p + 4);
	c = rs_tcp_conn_lookup(st, &key);
	if (c == NULL || c->state == RS_TCP_CLOSED)
		return RS_TCP_DROP(st, ICMP_NO_CONN);
	if (!RS_SEQ_IN(seq, c->snd_una, c->snd_max))
		return RS_TCP_DROP(st, ICMP_BAD_SEQ);
	rc = unreach(c, now, type, code, mtu);
	rs_tcp_conn_finish(c);
	return rc;
}
