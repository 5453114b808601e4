/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 reassembly (RFC 791 section 3.2, RFC 1122 section 3.3.2), with
 * DPDK's rte_ip_frag library: one fragment table per worker, bounded by
 * FRAG_DGRAMS datagrams in reassembly (at most RTE_LIBRTE_IP_FRAG_MAX_FRAG
 * fragments each) and by FRAG_TIMEOUT_MS from a datagram's first
 * fragment.  Fragments the table lets go of wait on the worker's death
 * row, freed every loop (rs_frag_tick()).
 *
 * A fragment is refused (the drop ip_frag_bad) when the library will not
 * take it -- a duplicate or overlapping fragment, more fragments than it
 * keeps, a full table -- and the fragments it held for that datagram are
 * freed (the event ip_frag_dropped); one reaching past 65535 bytes is the
 * drop ip_frag_too_big before it gets there.  A reassembled datagram goes
 * to its protocol like any other (the event ip_reassembled); a reply
 * built in place in it (an echo reply) is over the MTU, and only UDP
 * sends are fragmented (udp.c): it is the drop ip_reasm_reply.
 *
 * Accounting: each fragment kept is counted as handled when it arrives;
 * the one completing a datagram carries the datagram's verdict.  With
 * several workers, a datagram's fragments meet on one of them and the
 * datagram goes on to the worker that owns its flow (steer.c), which
 * settles that verdict.  Kept
 * fragments that time out are the event ip_frag_timed_out.
 */
/* rte_ip_frag_table_del_expired_entries() is experimental in 22.11. */
#define ALLOW_EXPERIMENTAL_API

#include <errno.h>

#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "stack_pvt.h"

/* Table geometry: FRAG_BUCKETS x FRAG_WAYS slots for FRAG_DGRAMS. */
#define FRAG_BUCKETS 16
#define FRAG_WAYS 4
#define FRAG_DGRAMS 32
/* Reassembly time-out.  RFC 791 suggests 15 s; on the LANs remsock runs
 * on the fragments of a datagram arrive together, and every mbuf held is
 * one the port cannot receive into. */
#define FRAG_TIMEOUT_MS 5000
/* Largest IPv4 datagram: total length is 16 bits. */
#define IP_MAX_LEN 65535u

int rs_frag_create(struct rs_lcore *lc, int socket)
{
	uint64_t cycles = lc->tsc_hz * FRAG_TIMEOUT_MS / 1000;

	lc->frag_tbl = rte_ip_frag_table_create(FRAG_BUCKETS, FRAG_WAYS,
						FRAG_DGRAMS, cycles, socket);
	return lc->frag_tbl == NULL ? -ENOMEM : 0;
}

void rs_frag_free(struct rs_lcore *lc)
{
	if (lc->frag_tbl != NULL)
		rte_ip_frag_table_destroy(lc->frag_tbl);
	lc->frag_tbl = NULL;
}

/* Free the death row, counting what landed there since @p before under
 * @p ev. */
static void death_row_free(struct rs_lcore *lc, uint32_t before,
			   enum rs_dp_event ev)
{
	RS_CNT_ADD(lc, events[ev], lc->frag_dr.cnt - before);
	rte_ip_frag_free_death_row(&lc->frag_dr, 0);
}

void rs_frag_tick(struct rs_lcore *lc)
{
	uint32_t before = lc->frag_dr.cnt;

	if (lc->frag_tbl == NULL)
		return;
	rte_ip_frag_table_del_expired_entries(lc->frag_tbl, &lc->frag_dr,
					      lc->now_tsc);
	death_row_free(lc, before, RS_DP_EV_IP_FRAG_TIMED_OUT);
}

void rs_frag_flush(struct rs_lcore *lc)
{
	/* Each pass frees at most a death row's worth: bounded by the
	 * table's size. */
	for (unsigned i = 0; lc->frag_tbl != NULL && i <= FRAG_DGRAMS; i++) {
		uint32_t before = lc->frag_dr.cnt;

		rte_ip_frag_table_del_expired_entries(lc->frag_tbl,
						      &lc->frag_dr, UINT64_MAX);
		if (lc->frag_dr.cnt == before)
			break;
		death_row_free(lc, before, RS_DP_EV_IP_FRAG_TIMED_OUT);
	}
}

/* Take @p m back off the death row, if the library put it there in the
 * call that started at @p before.  @return true if it did. */
static bool death_row_take(struct rs_lcore *lc, uint32_t before,
			   const struct rte_mbuf *m)
{
	struct rte_ip_frag_death_row *dr = &lc->frag_dr;

	for (uint32_t i = before; i < dr->cnt; i++)
		if (dr->row[i] == m) {
			dr->row[i] = dr->row[--dr->cnt];
			return true;
		}
	return false;
}

void rs_frag_deliver(struct rs_lcore *lc, struct rte_mbuf *r)
{
	switch (rs_ipv4_deliver(lc, r)) {
	case RS_VERDICT_TX:
		rs_drop(lc, RS_DP_DROP_IP_REASM_REPLY);
		break;
	case RS_VERDICT_CONSUMED:
		RS_CNT_INC(lc, handled);
		break;
	case RS_VERDICT_DROP:
	case RS_VERDICT_TAKEN:
		break;
	}
	rte_pktmbuf_free(r);
}

/* A reassembled datagram @p r: its verdict is settled by its owner, this
 * worker or another (steer.c). */
static enum rs_verdict datagram_done(struct rs_lcore *lc, struct rte_mbuf *r)
{
	RS_EVENT(lc, IP_REASSEMBLED);
	/* A port's L4 checksum verdict on the first fragment is not one on
	 * the datagram: verify in software. */
	r->ol_flags &= ~RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (lc->steer == NULL || !rs_steer_dgram(lc, r))
		rs_frag_deliver(lc, r);
	return RS_VERDICT_TAKEN;
}

enum rs_verdict rs_frag_input(struct rs_lcore *lc, struct rte_mbuf *m,
			      struct rte_ipv4_hdr *ip)
{
	uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);
	uint32_t off = (uint32_t)(fo & RTE_IPV4_HDR_OFFSET_MASK) *
		       RTE_IPV4_HDR_OFFSET_UNITS;
	uint32_t total = rte_be_to_cpu_16(ip->total_length);
	uint32_t before;
	struct rte_mbuf *r;
	bool refused;

	if (off + total > IP_MAX_LEN)
		return rs_drop(lc, RS_DP_DROP_IP_FRAG_TOO_BIG);
	/* Room on the death row for a whole datagram and this fragment
	 * (what is there was counted when it landed). */
	if (RTE_IP_FRAG_DEATH_ROW_MBUF_LEN - lc->frag_dr.cnt <
	    RTE_LIBRTE_IP_FRAG_MAX_FRAG + 1)
		rte_ip_frag_free_death_row(&lc->frag_dr, 0);
	before = lc->frag_dr.cnt;
	r = rte_ipv4_frag_reassemble_packet(lc->frag_tbl, &lc->frag_dr, m,
					    lc->now_tsc, ip);
	/* What the library let go of: m itself when it refused it (taken
	 * back: the caller frees it), and the datagram's other fragments. */
	refused = death_row_take(lc, before, m);
	RS_CNT_ADD(lc, events[RS_DP_EV_IP_FRAG_DROPPED],
		   lc->frag_dr.cnt - before);
	if (refused)
		return rs_drop(lc, RS_DP_DROP_IP_FRAG_BAD);
	if (r == NULL) { /* kept until the rest arrives */
		RS_CNT_INC(lc, handled);
		return RS_VERDICT_TAKEN;
	}
	return datagram_done(lc, r);
}
