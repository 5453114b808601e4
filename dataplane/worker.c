/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker loop: RX burst -> stack -> timers -> TX burst, until control
 * sets the stop flag.  The only timer so far is ARP's announcements.
 *
 * Replies are built in the received mbufs and collected in lc->tx with
 * whatever the stack made itself (rs_lcore_tx()), then sent in one burst
 * per loop.  A packet the TX queue has no room for is freed and counted:
 * retrying would let one slow queue stall the whole loop.
 *
 * Idle back-off: after idle_polls empty polls in a row the worker sleeps,
 * first IDLE_SLEEP_MIN_US, doubling on every further empty poll up to
 * idle_sleep_max_us; the first packet resets it.  This trades up to
 * idle_sleep_max_us of latency on the first packet after a quiet spell for
 * a core left to other work.
 */
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "stack_pvt.h"

#define IDLE_SLEEP_MIN_US 8u

static void tx_flush(struct rs_lcore *lc)
{
	uint64_t bytes = 0;
	uint16_t sent, n = lc->tx_n;

	if (n == 0)
		return;
	for (uint16_t i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(lc->tx[i]);
	sent = rte_eth_tx_burst(lc->ifc->port_id, lc->queue, lc->tx, n);
	for (uint16_t i = sent; i < n; i++) {
		bytes -= rte_pktmbuf_pkt_len(lc->tx[i]);
		rte_pktmbuf_free(lc->tx[i]);
	}
	RS_CNT_ADD(lc, tx_pkts, sent);
	RS_CNT_ADD(lc, tx_bytes, bytes);
	RS_CNT_ADD(lc, tx_dropped, n - sent);
	lc->tx_n = 0;
}

void rs_lcore_tx(struct rs_lcore *lc, struct rte_mbuf *m)
{
	if (lc->tx_n == RS_TX_BATCH_MAX)
		tx_flush(lc);
	lc->tx[lc->tx_n++] = m;
}

static void rx_handle(struct rs_lcore *lc, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		bytes += rte_pktmbuf_pkt_len(pkts[i]);
		switch (rs_eth_input(lc, pkts[i])) {
		case RS_VERDICT_TX:
			rs_lcore_tx(lc, pkts[i]);
			RS_CNT_INC(lc, handled);
			break;
		case RS_VERDICT_CONSUMED:
			rte_pktmbuf_free(pkts[i]);
			RS_CNT_INC(lc, handled);
			break;
		case RS_VERDICT_DROP:
			rte_pktmbuf_free(pkts[i]);
			break;
		}
	}
	RS_CNT_ADD(lc, rx_pkts, n);
	RS_CNT_ADD(lc, rx_bytes, bytes);
}

static void idle_reset(struct rs_lcore *lc)
{
	lc->idle_empty = 0;
	lc->idle_sleep_us = RTE_MIN(IDLE_SLEEP_MIN_US, lc->idle_sleep_max_us);
}

static void idle_step(struct rs_lcore *lc, uint16_t received)
{
	if (received != 0 || !lc->idle_backoff) {
		idle_reset(lc);
		return;
	}
	if (lc->idle_empty < lc->idle_polls) {
		lc->idle_empty++;
		return;
	}
	rte_delay_us_sleep(lc->idle_sleep_us);
	RS_EVENT(lc, IDLE_SLEEPS);
	lc->idle_sleep_us =
	    RTE_MIN(lc->idle_sleep_us * 2, lc->idle_sleep_max_us);
}

int rs_lcore_run(void *arg)
{
	struct rs_lcore *lc = arg;
	struct rte_mbuf *pkts[RS_BURST_MAX];
	uint16_t n;

	idle_reset(lc);
	if (lc->queue == 0)
		rs_arp_announce_start(lc);
	while (!__atomic_load_n(&lc->stop, __ATOMIC_ACQUIRE)) {
		n = rte_eth_rx_burst(lc->ifc->port_id, lc->queue, pkts,
				     lc->burst);
		if (n != 0)
			rx_handle(lc, pkts, n);
		rs_arp_tick(lc, rte_rdtsc());
		tx_flush(lc);
		idle_step(lc, n);
	}
	tx_flush(lc);
	return 0;
}
