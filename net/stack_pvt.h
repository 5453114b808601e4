/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The network stack's handlers.  Private to net/.
 *
 * Input runs down the layers: rs_eth_input() -> rs_arp_input() or
 * rs_ipv4_input() -> rs_icmp_input(), rs_udp_input(), rs_tcp_glue_input().
 * Each handler
 * takes a received mbuf whose l2_len (and, past IPv4, l3_len) is set and
 * returns an rs_verdict; a drop has been counted under its reason before
 * it is returned.  Headers are read from the first segment only: a
 * header that does not fit there is counted as too short.  Replies are
 * built in place, in the received mbuf, by the *_reply_prepare()
 * helpers of each layer.
 *
 * Output runs up: a protocol builds its header and payload in a fresh
 * mbuf (headroom left for IPv4 and Ethernet, RS_OUT_HEADROOM), asks for
 * its checksum with RTE_MBUF_F_TX_UDP_CKSUM or RTE_MBUF_F_TX_TCP_CKSUM
 * and l4_len, and calls rs_ipv4_output(): route, IPv4 header, checksums
 * (the port's or ours), then rs_arp_output(): the next hop's MAC, known
 * or asked for (the packet waits meanwhile), and the TX batch.
 */
#ifndef RS_STACK_PVT_H
#define RS_STACK_PVT_H

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "lcore_pvt.h"

/** TTL of the packets we send. */
#define RS_IPV4_TTL 64

/** Headroom that output mbufs need in front of the L4 header. */
#define RS_OUT_HEADROOM (RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr))

/* route.c */
/**
 * The next hop towards @p dst (network order).
 *
 * @return 0 with @p nh set (@p dst itself when on-link); -ENETUNREACH
 *   (no route, or not a unicast destination, or ourselves).
 */
int rs_route_lookup(const struct rs_lcore *lc, rte_be32_t dst, rte_be32_t *nh);

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
/** Prepend an Ethernet header from us to @p dst and queue for TX. */
void rs_eth_output(struct rs_lcore *lc, struct rte_mbuf *m,
		   const struct rte_ether_addr *dst, uint16_t ether_type);

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
 * Send an IPv4 packet (@p m starts with its IPv4 header) to next hop
 * @p nh: Ethernet header and TX batch when the MAC is known; otherwise
 * the packet is held ([arp] queue per next hop) and a request sent.
 * @p m is the callee's in every case.
 *
 * @return 0 (sent or held); -ENOBUFS (dropped: too many held, or too
 *   many next hops pending), counted as an event.
 */
int rs_arp_output(struct rs_lcore *lc, struct rte_mbuf *m, rte_be32_t nh);
/** Free every held packet (the worker is stopping). */
void rs_arp_flush(struct rs_lcore *lc);

/* ipv4.c */
/**
 * Receive an IPv4 datagram (l2_len set): validate, then hand it to its
 * protocol with l3_len set and link-layer padding trimmed.
 *
 * @return as rs_eth_input().
 */
enum rs_verdict rs_ipv4_input(struct rs_lcore *lc, struct rte_mbuf *m);
/**
 * Hand a whole datagram (l2_len and l3_len set, validated, ours) to its
 * protocol.
 *
 * @return as rs_eth_input().
 */
enum rs_verdict rs_ipv4_deliver(struct rs_lcore *lc, struct rte_mbuf *m);

/** The next IPv4 identification: the workers' sequences interleave
 *  (worker k sends k, k + n, ...), so that no two of them send one id
 *  to the same destination at once. */
static inline uint16_t rs_ip_id_next(struct rs_lcore *lc)
{
	uint16_t id = lc->ip_id;

	lc->ip_id = (uint16_t)(id + lc->nworkers);
	return id;
}

/* frag.c */
/** Create the worker's fragment table.  @return 0 or -ENOMEM. */
int rs_frag_create(struct rs_lcore *lc, int socket);
/** Destroy it (fragments still held are freed).  NULL table is fine. */
void rs_frag_free(struct rs_lcore *lc);
/**
 * A fragment (l3_len set, validated, ours, from a good source): keep it
 * until its datagram is whole, then deliver the datagram.
 *
 * @return RS_VERDICT_TAKEN (kept, or the datagram delivered and
 *   counted), or RS_VERDICT_DROP (refused; the caller frees it).
 */
enum rs_verdict rs_frag_input(struct rs_lcore *lc, struct rte_mbuf *m,
			      struct rte_ipv4_hdr *ip);
/** A whole datagram made from fragments (here or on another worker):
 *  deliver it, settle its verdict and free it. */
void rs_frag_deliver(struct rs_lcore *lc, struct rte_mbuf *r);
/** Every loop: free fragments past their time-out and the death row. */
void rs_frag_tick(struct rs_lcore *lc);
/** The worker is stopping: free every fragment held. */
void rs_frag_flush(struct rs_lcore *lc);

/**
 * Turn a received datagram around: from us to its sender, TTL reset, IP
 * options removed, checksum filled in (by the port when it offers that),
 * and the Ethernet header readdressed.  The payload stays where it is.
 */
void rs_ipv4_reply_prepare(const struct rs_lcore *lc, struct rte_mbuf *m);
/**
 * Send an L4 packet: @p m holds the L4 header and payload, with
 * RS_OUT_HEADROOM of headroom; an L4 checksum is asked for with
 * RTE_MBUF_F_TX_UDP_CKSUM or RTE_MBUF_F_TX_TCP_CKSUM in ol_flags (the
 * checksum field 0).  Routes, prepends the IPv4 header (DF set, no
 * options), fills in the checksums or leaves them to the port, and hands
 * the packet to ARP.  @p m is the callee's in every case.
 *
 * @return 0 (sent, or held for ARP); -ENETUNREACH (no route);
 *   -ENOBUFS (no headroom, or ARP holds too many); each counted.
 */
int rs_ipv4_output(struct rs_lcore *lc, struct rte_mbuf *m, rte_be32_t src,
		   rte_be32_t dst, uint8_t proto);
/**
 * Send one fragment of a datagram: as rs_ipv4_output(), but DF clear and
 * the caller's identification @p id, fragment offset @p off (bytes, a
 * multiple of 8) and more-fragments flag.  @p m holds the fragment's
 * part of the L4 datagram, with no checksum request (the L4 checksum of
 * a fragmented datagram is the sender's, over all of it).
 *
 * @return as rs_ipv4_output().
 */
int rs_ipv4_output_frag(struct rs_lcore *lc, struct rte_mbuf *m, rte_be32_t src,
			rte_be32_t dst, uint8_t proto, uint16_t id,
			uint32_t off, bool more);
/**
 * The UDP/TCP checksum of the @p len bytes at @p off in @p m, across
 * mbuf segments, with the IPv4 pseudo-header of @p src, @p dst, @p proto
 * and length @p len (RFC 768, RFC 9293 section 3.1).
 *
 * @return the value for the checksum field (network order), computed
 *   with that field 0; or 0 when it is filled in and right.
 */
uint16_t rs_ipv4_l4_cksum(const struct rte_mbuf *m, uint32_t off, uint32_t len,
			  rte_be32_t src, rte_be32_t dst, uint8_t proto);
/**
 * Whether a received UDP or TCP segment's checksum is right (l2_len and
 * l3_len set, @p len bytes of L4): the port's verdict when it gave one
 * (RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN is none), else rs_ipv4_l4_cksum().
 */
bool rs_ipv4_l4_csum_ok(const struct rte_mbuf *m, uint32_t len);

/* icmp.c */
/**
 * Receive an ICMP message (l2_len and l3_len set): answer echo requests.
 *
 * @return as rs_eth_input().
 */
enum rs_verdict rs_icmp_input(struct rs_lcore *lc, struct rte_mbuf *m);
/**
 * Answer a received datagram with ICMP port unreachable (RFC 1122
 * section 3.2.2.1), rate-limited ([sockets] icmp_unreach_rate).  @p m
 * stays the caller's.
 */
void rs_icmp_port_unreach(struct rs_lcore *lc, const struct rte_mbuf *m);

/* udp.c */
/**
 * Receive a UDP datagram (l2_len and l3_len set): validate, deliver to
 * its socket's record ring.
 *
 * @return RS_VERDICT_CONSUMED (delivered; the caller frees the mbuf) or
 *   RS_VERDICT_DROP.
 */
enum rs_verdict rs_udp_input(struct rs_lcore *lc, struct rte_mbuf *m);

/**
 * An ICMP error about a datagram we sent from @p lport to @p raddr:@p
 * rport: set @p err on the connected socket of that 4-tuple.
 *
 * @return true when a socket took it.
 */
bool rs_udp_icmp_error(struct rs_lcore *lc, rte_be32_t raddr, rte_be16_t rport,
		       rte_be16_t lport, int err);

/* tcp_glue.c */
/**
 * Receive a TCP segment (l2_len and l3_len set): checksum, contiguous
 * copy when the mbuf is chained, then the TCP core.
 *
 * @return RS_VERDICT_CONSUMED or RS_VERDICT_DROP (the core's reason).
 */
enum rs_verdict rs_tcp_glue_input(struct rs_lcore *lc, struct rte_mbuf *m);

/**
 * An ICMP error about a TCP segment we sent: the quoted IPv4 source and
 * destination (network order) and the first @p len bytes of the quoted
 * TCP header, for the TCP core (rs_tcp_icmp_input()).
 *
 * @return RS_VERDICT_CONSUMED (acted on, counted as icmp_err_delivered)
 *   or RS_VERDICT_DROP (the core's tcp_icmp_* reason).
 */
enum rs_verdict rs_tcp_glue_icmp(struct rs_lcore *lc, uint8_t type,
				 uint8_t code, uint16_t mtu, rte_be32_t src,
				 rte_be32_t dst, const uint8_t *quote,
				 uint32_t len);

/* steer.c (several workers: lc->steer is not NULL) */
/** The worker that owns a received frame (see steer.c). */
unsigned rs_steer_owner(const struct rs_lcore *lc, const struct rte_mbuf *m);
/** The owner of a TCP flow by its hash: any order of the two ends
 *  (addresses network order, ports host order) gives the same. */
unsigned rs_steer_flow_owner(unsigned n, rte_be32_t a, rte_be32_t b,
			     uint16_t pa, uint16_t pb);
/** Give the packets of an RX burst another worker owns to it; @return
 *  how many are left at the front of @p pkts, in order: this worker's. */
uint16_t rs_steer_split(struct rs_lcore *lc, struct rte_mbuf **pkts,
			uint16_t n);
/** A reassembled datagram another worker owns: give it (true), or
 *  false when it is this worker's. */
bool rs_steer_dgram(struct rs_lcore *lc, struct rte_mbuf *r);
/** Give every other worker a copy of a valid ARP packet to learn from. */
void rs_steer_arp_share(struct rs_lcore *lc, const struct rte_mbuf *m);
/** Take what other workers gave this one.  @return entries taken. */
unsigned rs_steer_poll(struct rs_lcore *lc);
/** Give what this worker holds back (a ring was full) to its owners.
 *  @return entries still held: while there are any, the worker takes no
 *  RX burst. */
unsigned rs_steer_flush(struct rs_lcore *lc);
/** Whether other workers gave this one something not taken yet. */
bool rs_steer_pending(const struct rs_lcore *lc);
/** Stopping: this worker has finished its connections (@p done, once);
 *  @return whether every worker has. */
bool rs_steer_drained(struct rs_lcore *lc, bool done);
/** Claim a local port (host order) of @p proto for this worker: 0, or
 *  -EADDRINUSE when another worker has it or uses it. */
int rs_steer_claim(struct rs_lcore *lc, uint8_t proto, uint16_t port);
/** Let go of a claim (each successful rs_steer_claim() has one). */
void rs_steer_release(struct rs_lcore *lc, uint8_t proto, uint16_t port);
/** The TCP core's port_ok: the flow hashes to this worker and no other
 *  worker claims the port; with @p any (no such port was free), the port
 *  is this worker's or no one's, so that it can be claimed. */
bool rs_steer_port_ok(const struct rs_lcore *lc, rte_be32_t laddr,
		      uint16_t lport, rte_be32_t raddr, uint16_t rport,
		      bool any);
/** The TCP core's port_use: connections using @p lport by hash
 *  (RS_TCP_PORT_HASHED) or holding this worker's claim on it (the
 *  others; RS_TCP_PORT_ANY claims it first).  @return 0, or -EADDRINUSE
 *  when that claim fails. */
int rs_steer_port_use(struct rs_lcore *lc, uint16_t lport, int delta,
		      enum rs_tcp_port_how how);

/* arp.c */
/** A copy of an ARP packet another worker received and answered: learn
 *  its sender as from the original, count nothing else. */
void rs_arp_learn(struct rs_lcore *lc, struct rte_mbuf *m);

#endif /* RS_STACK_PVT_H */
