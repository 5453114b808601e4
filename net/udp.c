/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * UDP (RFC 768, RFC 1122 section 4.1).
 *
 * Input: the length field must fit the IP payload (a shorter one trims
 * it), the checksum is verified unless it is 0 (none sent, allowed over
 * IPv4) or the port vouched for it.  The datagram goes to the connected
 * socket of its 4-tuple, else to the socket bound to its port, and is
 * copied into that socket's record ring with its source.  No socket: ICMP
 * port unreachable (rate-limited) and a counted drop.  A full ring drops
 * and counts, as a full socket buffer does.
 *
 * Output: one datagram per send, built in a fresh mbuf and handed to
 * rs_ipv4_output(); one larger than the MTU (up to 65,507 bytes) is cut
 * into IPv4 fragments here, built from the caller's buffer -- a copy is
 * made anyway, so rte_ipv4_fragment_packet()'s indirect mbufs (and a
 * second pool) would save nothing -- with the checksum computed in
 * software over the whole datagram.
 * An unbound socket gets an ephemeral port at its first send or connect.
 * Errors from ICMP (port or host unreachable) reach connected sockets
 * only (RFC 1122 section 4.1.3.3), as Linux does.
 */
#include <errno.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "rs_rec_ring.h"
#include "sock_pvt.h"
#include "stack_pvt.h"

#define UDP_HDR ((uint32_t)sizeof(struct rte_udp_hdr))
#define IP_HDR ((uint32_t)sizeof(struct rte_ipv4_hdr))
/* Largest payload: an IPv4 datagram's total length is 16 bits. */
#define UDP_MAX_PAYLOAD (65535u - IP_HDR - UDP_HDR)

static enum rs_verdict deliver(struct rs_lcore *lc, struct rs_sock *s,
			       const struct rte_mbuf *m, uint32_t off,
			       uint32_t len, rte_be32_t src, rte_be16_t sport)
{
	struct rs_rec_addr peer = {.family = AF_INET};
	const void *p;
	void *dst;
	int rc;

	if (s->flags & RS_SF_SHUT_RD)
		return rs_drop(lc, RS_DP_DROP_UDP_SHUT);
	rc = rs_rec_ring_reserve(s->udp_rx, len, &dst);
	if (rc == -EMSGSIZE)
		return rs_drop(lc, RS_DP_DROP_UDP_TOO_BIG);
	if (rc < 0)
		return rs_drop(lc, RS_DP_DROP_UDP_RCVBUF);
	p = rte_pktmbuf_read(m, off, len, dst);
	if (p != dst && len != 0)
		memcpy(dst, p, len);
	peer.port = rte_be_to_cpu_16(sport);
	memcpy(peer.addr, &src, sizeof(src));
	rs_rec_ring_commit(s->udp_rx, &peer);
	rs_sock_event(s, RS_SOCK_EV_READABLE);
	RS_EVENT(lc, UDP_DELIVERED);
	return RS_VERDICT_CONSUMED;
}

enum rs_verdict rs_udp_input(struct rs_lcore *lc, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip =
	    rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, m->l2_len);
	uint32_t off = m->l2_len + m->l3_len;
	uint32_t avail = rte_pktmbuf_pkt_len(m) - off;
	const struct rte_udp_hdr *uh;
	struct rs_sock *s;
	uint16_t ulen;

	if (avail < UDP_HDR || rte_pktmbuf_data_len(m) < off + UDP_HDR)
		return rs_drop(lc, RS_DP_DROP_UDP_SHORT);
	uh = rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *, off);
	ulen = rte_be_to_cpu_16(uh->dgram_len);
	if (ulen < UDP_HDR || ulen > avail)
		return rs_drop(lc, RS_DP_DROP_UDP_LEN);
	if (ulen < avail && rte_pktmbuf_trim(m, avail - ulen) != 0)
		return rs_drop(lc, RS_DP_DROP_UDP_LEN);
	if (uh->dgram_cksum != 0 && !rs_ipv4_l4_csum_ok(m, ulen))
		return rs_drop(lc, RS_DP_DROP_UDP_CSUM);
	s = rs_socks_udp_lookup(lc, ip->src_addr, uh->src_port, uh->dst_port);
	if (s == NULL) {
		rs_icmp_port_unreach(lc, m);
		return rs_drop(lc, RS_DP_DROP_UDP_NO_PORT);
	}
	return deliver(lc, s, m, off + UDP_HDR, ulen - UDP_HDR, ip->src_addr,
		       uh->src_port);
}

bool rs_udp_icmp_error(struct rs_lcore *lc, rte_be32_t raddr, rte_be16_t rport,
		       rte_be16_t lport, int err)
{
	struct rs_sock *s = rs_socks_udp_lookup(lc, raddr, rport, lport);

	if (s == NULL || !(s->flags & RS_SF_CONNECTED))
		return false;
	rs_sock_fail(s, err, 0);
	return true;
}

/* ---- socket operations --------------------------------------------------- */

static uint32_t max_payload(const struct rs_lcore *lc)
{
	return lc->ifc->mtu - sizeof(struct rte_ipv4_hdr) - UDP_HDR;
}

static int udp_open(struct rs_sock *s)
{
	s->udp_rx = rs_rec_ring_create(s->opt[RS_SO_RCVBUF]);
	return s->udp_rx == NULL ? -ENOMEM : 0;
}

static void udp_release(struct rs_sock *s, bool abort)
{
	rs_rec_ring_free(s->udp_rx);
	s->udp_rx = NULL;
}

static int udp_connect(struct rs_sock *s, rte_be32_t addr, rte_be16_t port)
{
	rte_be32_t nh;
	int rc;

	if (rs_route_lookup(s->lc, addr, &nh) < 0)
		return -ENETUNREACH;
	rs_sock_conn_remove(s);
	if (!(s->flags & RS_SF_BOUND)) {
		rc = rs_sock_port_bind(s, 0, addr, port);
		if (rc < 0)
			return rc;
	}
	s->raddr = addr;
	s->rport = port;
	rs_sock_conn_insert(s);
	return 0;
}

static int udp_listen(struct rs_sock *s, int backlog)
{
	return -EOPNOTSUPP;
}

static struct rs_sock *udp_accept(struct rs_sock *s)
{
	errno = EOPNOTSUPP;
	return NULL;
}

/* One datagram in a fresh mbuf, left for rs_ipv4_output(). */
static struct rte_mbuf *datagram_build(struct rs_sock *s, const void *buf,
				       size_t len, rte_be16_t dport)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(s->lc->pool);
	struct rte_udp_hdr *uh;

	if (m == NULL) {
		RS_EVENT(s->lc, ALLOC_FAILED);
		return NULL;
	}
	uh = (struct rte_udp_hdr *)rte_pktmbuf_append(m, UDP_HDR + len);
	if (uh == NULL || rte_pktmbuf_headroom(m) < RS_OUT_HEADROOM) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	uh->src_port = s->lport;
	uh->dst_port = dport;
	uh->dgram_len = rte_cpu_to_be_16(UDP_HDR + len);
	uh->dgram_cksum = 0;
	if (len != 0)
		memcpy(uh + 1, buf, len);
	m->l4_len = UDP_HDR;
	m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
	return m;
}

/* The UDP checksum of the datagram @p uh + @p buf, in software (RFC
 * 768): the fragments of a datagram cannot ask the port for it. */
static rte_be16_t udp_cksum(rte_be32_t src, rte_be32_t dst,
			    const struct rte_udp_hdr *uh, const void *buf,
			    size_t len)
{
	struct rte_ipv4_hdr ph = {
	    .version_ihl = RTE_IPV4_VHL_DEF,
	    .total_length = rte_cpu_to_be_16(IP_HDR + UDP_HDR + len),
	    .next_proto_id = IPPROTO_UDP,
	    .src_addr = src,
	    .dst_addr = dst,
	};
	uint32_t sum = rte_ipv4_phdr_cksum(&ph, 0);

	sum += rte_raw_cksum(uh, UDP_HDR); /* even: the sums add up */
	sum += rte_raw_cksum(buf, len);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (uint16_t) ~((sum & 0xffff) + (sum >> 16));
	return sum == 0 ? 0xffff : (rte_be16_t)sum; /* 0 means none */
}

/* A datagram larger than the MTU, cut into fragments (RFC 791 section
 * 3.2: one identification, offsets in 8-byte units, DF clear), each
 * built straight from the caller's buffer. */
static int send_fragments(struct rs_sock *s, const void *buf, size_t len,
			  rte_be32_t dst, rte_be16_t dport)
{
	struct rs_lcore *lc = s->lc;
	uint32_t chunk = (lc->ifc->mtu - IP_HDR) & ~7u;
	uint32_t total = UDP_HDR + (uint32_t)len;
	uint16_t id = rs_ip_id_next(lc);
	struct rte_udp_hdr uh = {.src_port = s->lport,
				 .dst_port = dport,
				 .dgram_len = rte_cpu_to_be_16(total)};
	int rc;

	uh.dgram_cksum = udp_cksum(lc->ifc->ip, dst, &uh, buf, len);
	for (uint32_t off = 0; off < total; off += chunk) {
		uint32_t n = RTE_MIN(chunk, total - off);
		struct rte_mbuf *m = rte_pktmbuf_alloc(lc->pool);
		uint8_t *p =
		    m != NULL ? (uint8_t *)rte_pktmbuf_append(m, n) : NULL;

		if (p == NULL) {
			rte_pktmbuf_free(m);
			RS_EVENT(lc, ALLOC_FAILED);
			return -ENOBUFS;
		}
		if (off == 0) {
			memcpy(p, &uh, UDP_HDR);
			memcpy(p + UDP_HDR, buf, n - UDP_HDR);
		} else {
			memcpy(p, (const uint8_t *)buf + off - UDP_HDR, n);
		}
		rc = rs_ipv4_output_frag(lc, m, lc->ifc->ip, dst, IPPROTO_UDP,
					 id, off, off + n < total);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One datagram, whole or in fragments. */
static int datagram_send(struct rs_sock *s, const void *buf, size_t len,
			 rte_be32_t dst, rte_be16_t dport)
{
	struct rte_mbuf *m;

	if (len > max_payload(s->lc))
		return send_fragments(s, buf, len, dst, dport);
	m = datagram_build(s, buf, len, dport);
	if (m == NULL)
		return -ENOBUFS;
	return rs_ipv4_output(s->lc, m, s->lc->ifc->ip, dst, IPPROTO_UDP);
}

static ssize_t udp_sendto(struct rs_sock *s, const void *buf, size_t len,
			  const struct sockaddr_in *to)
{
	rte_be32_t dst = to != NULL ? to->sin_addr.s_addr : s->raddr;
	rte_be16_t dport = to != NULL ? to->sin_port : s->rport;
	int rc;

	if (to == NULL && !(s->flags & RS_SF_CONNECTED))
		return -ENOTCONN;
	if (dst == 0 || dport == 0)
		return -EINVAL;
	if (len > UDP_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (s->so_error != 0 && (s->flags & RS_SF_CONNECTED))
		return rs_sock_error(s);
	if (!(s->flags & RS_SF_BOUND)) {
		rc = rs_sock_port_bind(s, 0, dst, dport);
		if (rc < 0)
			return rc;
	}
	rc = datagram_send(s, buf, len, dst, dport);
	if (rc < 0)
		return rc;
	RS_EVENT(s->lc, UDP_SENT);
	return (ssize_t)len;
}

static void sockaddr_from_rec(struct sockaddr_in *a,
			      const struct rs_rec_addr *p)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = rte_cpu_to_be_16(p->port);
	memcpy(&a->sin_addr.s_addr, p->addr, sizeof(a->sin_addr.s_addr));
}

static ssize_t udp_recvfrom(struct rs_sock *s, void *buf, size_t len,
			    unsigned flags, struct sockaddr_in *from)
{
	struct rs_rec rec;
	size_t n;

	if (s->so_error != 0)
		return rs_sock_error(s);
	if (rs_rec_ring_peek(s->udp_rx, &rec) < 0)
		return -EAGAIN;
	n = RTE_MIN(len, rec.len);
	if (n != 0)
		memcpy(buf, rec.data, n);
	if (from != NULL)
		sockaddr_from_rec(from, rec.peer);
	if (!(flags & RS_SOCK_PEEK))
		rs_rec_ring_pop(s->udp_rx);
	return (ssize_t)((flags & RS_SOCK_TRUNC) ? rec.len : n);
}

static ssize_t udp_readable(const struct rs_sock *s)
{
	struct rs_rec rec;

	if (rs_rec_ring_peek(s->udp_rx, &rec) < 0)
		return -EAGAIN;
	return (ssize_t)rec.len;
}

static ssize_t udp_writable(const struct rs_sock *s)
{
	return max_payload(s->lc);
}

static int udp_shutdown(struct rs_sock *s, enum rs_sock_shut how)
{
	return (s->flags & RS_SF_CONNECTED) ? 0 : -ENOTCONN;
}

/* A new receive ring; the datagrams already queued move over, as far as
 * they fit. */
static int rcvbuf_set(struct rs_sock *s, int size)
{
	struct rs_rec_ring *r = rs_rec_ring_create((size_t)size);
	struct rs_rec rec;

	if (r == NULL)
		return -ENOMEM;
	while (rs_rec_ring_peek(s->udp_rx, &rec) == 0) {
		rs_rec_ring_push(r, rec.peer, rec.data, rec.len);
		rs_rec_ring_pop(s->udp_rx);
	}
	rs_rec_ring_free(s->udp_rx);
	s->udp_rx = r;
	return 0;
}

static int udp_setopt(struct rs_sock *s, enum rs_sock_opt opt, int value)
{
	switch (opt) {
	case RS_SO_RCVBUF:
		return rcvbuf_set(s, value);
	case RS_SO_REUSEADDR:
	case RS_SO_SNDBUF:
	case RS_SO_LINGER:
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

static void udp_unreachable(struct rs_sock *s, rte_be32_t nh)
{
	rte_be32_t hop;

	if ((s->flags & RS_SF_CONNECTED) &&
	    rs_route_lookup(s->lc, s->raddr, &hop) == 0 && hop == nh)
		rs_sock_fail(s, EHOSTUNREACH, 0);
}

const struct rs_sock_ops rs_udp_ops = {
    .open = udp_open,
    .release = udp_release,
    .connect = udp_connect,
    .listen = udp_listen,
    .accept = udp_accept,
    .sendto = udp_sendto,
    .recvfrom = udp_recvfrom,
    .readable = udp_readable,
    .writable = udp_writable,
    .shutdown = udp_shutdown,
    .setopt = udp_setopt,
    .unreachable = udp_unreachable,
};
