/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker loop, until control sets the stop flag:
 *
 *   clock      the TSC, once per loop, and the same in ns (lc->now_ns)
 *   steering   with several workers, what the others gave this one,
 *              from its ring (steer.c), before its own burst
 *   RX burst   -> stack (socket events are queued, not called); what
 *              another worker owns goes to that worker's ring; a burst
 *              of large packets (TSO, LRO) asks for fewer next time, so
 *              that what the port copied is still in the cache when the
 *              stack copies it on (rs_rx_want_adapt())
 *   timers     ARP (announcements, requests, give-ups), IPv4 fragments,
 *              TCP
 *   events     socket callbacks (rs_socks_dispatch())
 *   app        the application's poll hook, then its events
 *   TX burst
 *   idle       back-off (below)
 *
 * A round that found work adds its TSC cycles to busy_cycles: what the
 * benchmark divides by calls and bytes (perf/run), unblurred by idle
 * polls and back-off sleeps.
 *
 * Stopping: the app's fini hook closes its sockets; sockets it left open
 * are closed and counted (sock_leaked); then the loop runs on without
 * the app for at most [tcp] close_grace_ms while TCP connections finish
 * closing (TIME-WAIT ones are ended at once), and with several workers
 * until all of them have (the others' packets may arrive here); what is
 * left is counted
 * (tcp_left_at_stop, the tcp_conns_at_stop gauge), and packets still
 * waiting for ARP are freed.
 *
 * Replies are built in the received mbufs and collected in lc->tx with
 * whatever the stack made itself (rs_lcore_tx()), then sent in one burst
 * per loop.  Packets the TX queue has no room for wait in the batch for
 * the next loop's burst (never a retry loop, which would let one slow
 * queue stall the worker); only a packet that finds the batch full is
 * freed and counted (tx_dropped).  TCP does not fill the batch: past
 * TX_TCP_LIMIT its output is held back in the core (back-pressure,
 * tcp_glue.c) and resumed after the burst, so segments are not lost to
 * a full batch and a connection does not wait for its RTO.
 *
 * Idle back-off: after idle_polls empty polls in a row the worker sleeps
 * (with a timer slack of 1 us, so that a sleep lasts what it asks; on a
 * futex, so that another worker that gives it work wakes it at once),
 * first IDLE_SLEEP_MIN_US, doubling on every further empty poll up to
 * idle_sleep_max_us; the first packet resets it.  This trades up to
 * idle_sleep_max_us of latency on the first packet after a quiet spell for
 * a core left to other work.  A sleep never runs past the next timer
 * (TCP's, ARP's): the worker wakes for it.
 */
#include <linux/futex.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "sock_pvt.h"
#include "stack_pvt.h"

#define IDLE_SLEEP_MIN_US 8u

/* The worker's clock in ns from a TSC value: a 64x64 -> 128-bit product,
 * so that neither a long uptime nor a fast TSC overflows it. */
static uint64_t tsc_ns(const struct rs_lcore *lc, uint64_t tsc)
{
	return (uint64_t)(((unsigned __int128)(tsc - lc->tsc0) * lc->ns_mult) >>
			  32);
}

static void clock_update(struct rs_lcore *lc)
{
	lc->now_tsc = rte_rdtsc();
	lc->now_ns = tsc_ns(lc, lc->now_tsc);
}

/* The earliest timer, in ns; UINT64_MAX when none is pending. */
static uint64_t next_timer_ns(const struct rs_lcore *lc)
{
	uint64_t next = rs_tcp_glue_next_ns(lc);

	if (lc->arp_next_tsc != UINT64_MAX)
		next = RTE_MIN(next, tsc_ns(lc, lc->arp_next_tsc));
	if (lc->announce_left != 0)
		next = RTE_MIN(next, tsc_ns(lc, lc->announce_tsc));
	return next;
}

/* One TX burst of the batch.  What the queue refuses stays at the front
 * of the batch for the next loop: TCP would only send it again later,
 * and a queue that is briefly full (a slow vhost-user peer) is common.
 * @return packets left. */
static uint16_t tx_flush(struct rs_lcore *lc)
{
	uint64_t bytes = 0;
	uint16_t sent, n = lc->tx_n;

	if (n == 0)
		return 0;
	/* Lengths first: a PMD may free what it sent before returning. */
	for (uint16_t i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(lc->tx[i]);
	sent = rte_eth_tx_burst(lc->ifc->port_id, lc->queue, lc->tx, n);
	for (uint16_t i = sent; i < n; i++)
		bytes -= rte_pktmbuf_pkt_len(lc->tx[i]);
	if (sent != 0 && sent != n)
		memmove(lc->tx, lc->tx + sent, (n - sent) * sizeof(lc->tx[0]));
	RS_CNT_ADD(lc, tx_pkts, sent);
	RS_CNT_ADD(lc, tx_bytes, bytes);
	lc->tx_n = n - sent;
	return lc->tx_n;
}

/* Free what the queue would not take (the worker is stopping). */
static void tx_drop_all(struct rs_lcore *lc)
{
	for (uint16_t i = 0; i < lc->tx_n; i++)
		rte_pktmbuf_free(lc->tx[i]);
	RS_CNT_ADD(lc, tx_dropped, lc->tx_n);
	lc->tx_n = 0;
}

/* TCP stops adding to the batch here: the rest is for replies. */
#define TX_TCP_LIMIT (RS_TX_BATCH_MAX - RS_BURST_MAX)

bool rs_lcore_tx_room(struct rs_lcore *lc)
{
	return lc->tx_n < TX_TCP_LIMIT || tx_flush(lc) < TX_TCP_LIMIT;
}

/* A packet for the batch; when the batch is full even after a burst,
 * the packet is dropped and counted. */
void rs_lcore_tx(struct rs_lcore *lc, struct rte_mbuf *m)
{
	if (lc->tx_n == RS_TX_BATCH_MAX && tx_flush(lc) == RS_TX_BATCH_MAX) {
		rte_pktmbuf_free(m);
		RS_CNT_INC(lc, tx_dropped);
		return;
	}
	lc->tx[lc->tx_n++] = m;
}

void rs_lcore_verdict(struct rs_lcore *lc, struct rte_mbuf *m,
		      enum rs_verdict v)
{
	switch (v) {
	case RS_VERDICT_TX:
		rs_lcore_tx(lc, m);
		RS_CNT_INC(lc, handled);
		break;
	case RS_VERDICT_CONSUMED:
		rte_pktmbuf_free(m);
		RS_CNT_INC(lc, handled);
		break;
	case RS_VERDICT_DROP:
		rte_pktmbuf_free(m);
		break;
	case RS_VERDICT_TAKEN:
		break;
	}
}

static void rx_handle(struct rs_lcore *lc, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(pkts[i]);
	rs_rx_want_adapt(lc, n, bytes);
	RS_CNT_ADD(lc, rx_pkts, n);
	RS_CNT_ADD(lc, rx_bytes, bytes);
	/* Several workers: what another one owns goes to it first. */
	if (lc->steer != NULL)
		n = rs_steer_split(lc, pkts, n);
	for (uint16_t i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		rs_lcore_verdict(lc, pkts[i], rs_eth_input(lc, pkts[i]));
	}
}

static void idle_reset(struct rs_lcore *lc)
{
	lc->idle_empty = 0;
	lc->idle_sleep_us = RTE_MIN(IDLE_SLEEP_MIN_US, lc->idle_sleep_max_us);
}

/* Sleep @p us, or until another worker gives this one work
 * (rs_lcore_wake()): a futex wait on lc->sleeping.  Set before the last
 * look at the steering ring, with a full barrier on both sides (the
 * waker's after its enqueue), so that no packet it gives is left
 * waiting for the timeout. */
static void idle_sleep(struct rs_lcore *lc, uint64_t us)
{
	struct timespec ts = {.tv_sec = (time_t)(us / 1000000),
			      .tv_nsec = (long)(us % 1000000) * 1000};

	__atomic_store_n(&lc->sleeping, 1, __ATOMIC_SEQ_CST);
	if (lc->steer == NULL || !rs_steer_pending(lc))
		syscall(SYS_futex, &lc->sleeping, FUTEX_WAIT_PRIVATE, 1, &ts,
			NULL, 0);
	__atomic_store_n(&lc->sleeping, 0, __ATOMIC_RELAXED);
}

void rs_lcore_wake(struct rs_lcore *lc)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&lc->sleeping, __ATOMIC_RELAXED) != 0 &&
	    __atomic_exchange_n(&lc->sleeping, 0, __ATOMIC_ACQ_REL) != 0)
		syscall(SYS_futex, &lc->sleeping, FUTEX_WAKE_PRIVATE, 1, NULL,
			NULL, 0);
}

static void idle_step(struct rs_lcore *lc, unsigned work)
{
	uint64_t next, sleep_us = lc->idle_sleep_us;

	if (work != 0 || !lc->idle_backoff) {
		idle_reset(lc);
		return;
	}
	if (lc->idle_empty < lc->idle_polls) {
		lc->idle_empty++;
		return;
	}
	next = next_timer_ns(lc);
	if (next != UINT64_MAX)
		sleep_us = next <= lc->now_ns
			       ? 0
			       : RTE_MIN(sleep_us, (next - lc->now_ns) / 1000);
	if (sleep_us == 0)
		return;
	idle_sleep(lc, sleep_us);
	RS_EVENT(lc, IDLE_SLEEPS);
	lc->idle_sleep_us =
	    RTE_MIN(lc->idle_sleep_us * 2, lc->idle_sleep_max_us);
}

static int app_poll(struct rs_lcore *lc)
{
	if (!lc->app_on || lc->app->poll == NULL)
		return 0;
	return lc->app->poll(lc, lc->app->arg);
}

/* One round of the loop; @return how much work it found. */
static unsigned loop_once(struct rs_lcore *lc, bool with_app)
{
	struct rte_mbuf *pkts[RS_BURST_MAX];
	unsigned work;
	uint16_t n, left;

	clock_update(lc);
	/* What other workers gave this one first: they received it
	 * earlier than this burst, so a flow whose packets change queue
	 * keeps its order -- unless the other worker has not yet given
	 * what it received (a port that moves flows between queues may
	 * reorder them at that moment; TCP takes it as reordering). */
	work = lc->steer != NULL ? rs_steer_poll(lc) : 0;
	/* Packets held back for a full ring go first; while some are
	 * still held, the RX queue waits (steer.c). */
	if (lc->steer != NULL && rs_steer_flush(lc) != 0)
		n = 0, work++;
	else
		n = rte_eth_rx_burst(lc->ifc->port_id, lc->queue, pkts,
				     lc->rx_want);
	if (n != 0)
		rx_handle(lc, pkts, n);
	rs_arp_tick(lc, lc->now_tsc);
	rs_frag_tick(lc);
	rs_tcp_glue_timers(lc);
	work += n + rs_socks_dispatch(lc);
	if (with_app && app_poll(lc) > 0)
		work++;
	work += rs_socks_dispatch(lc);
	/* What autocork sockets wrote this round, in as few segments as
	 * it fills. */
	rs_tcp_glue_flush(lc);
	left = tx_flush(lc);
	/* Output TCP held back for room (back-pressure) goes out now. */
	if (rs_tcp_glue_resume(lc) != 0)
		left = tx_flush(lc);
	return work + left;
}

static void app_start(struct rs_lcore *lc)
{
	const struct rs_app *app = lc->app;

	lc->app_on =
	    app != NULL && (app->init == NULL || app->init(lc, app->arg) >= 0);
}

/* TCP connections still to finish.  Those in TIME-WAIT are ended at
 * once (counted tcp.tw_flushed), as a host going down forgets them:
 * nothing is left to send, and no new connection will need protecting
 * from their old segments. */
static unsigned tcp_unfinished(struct rs_lcore *lc)
{
	if (lc->tcp != NULL)
		rs_tcp_time_wait_flush(lc->tcp);
	return rs_tcp_glue_conns(lc);
}

/* Let the TCP connections the app closed finish, within the grace. */
static void stop_drain(struct rs_lcore *lc)
{
	uint64_t end = lc->now_tsc + lc->close_grace_tsc;
	unsigned left;

	if (lc->app_on && lc->app->fini != NULL)
		lc->app->fini(lc, lc->app->arg);
	lc->app_on = false;
	rs_socks_reap(lc);
	while (tcp_unfinished(lc) != 0 && lc->now_tsc < end)
		idle_step(lc, loop_once(lc, false));
	/* Several workers: the others' packets may reach this one's queue
	 * until they are done too. */
	if (lc->steer != NULL && !rs_steer_drained(lc, true))
		while (!rs_steer_drained(lc, false) && lc->now_tsc < end)
			idle_step(lc, loop_once(lc, false));
	if (lc->tcp != NULL)
		rs_tcp_glue_timers(lc); /* the last counters, tw_flushed too */
	left = rs_tcp_glue_conns(lc);
	RS_GAUGE_SET(lc, tcp_conns, left);
	RS_GAUGE_SET(lc, tcp_conns_at_stop, left);
	RS_CNT_ADD(lc, events[RS_DP_EV_TCP_LEFT_AT_STOP], left);
	rs_arp_flush(lc);
	rs_frag_flush(lc);
	for (int i = 0; i < 100 && tx_flush(lc) != 0; i++)
		rte_delay_us_sleep(100);
	tx_drop_all(lc);
}

int rs_lcore_run(void *arg)
{
	struct rs_lcore *lc = arg;

	/* Back-off sleeps are a few microseconds: Linux's default timer
	 * slack (50 us) would stretch every one of them past 50 us, which
	 * cost a third of the calls/s of a busy closed loop (perf/run recv:
	 * 390k -> 550k calls/s with 1 us). */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	idle_reset(lc);
	clock_update(lc);
	if (lc->queue == 0)
		rs_arp_announce_start(lc);
	app_start(lc);
	while (!__atomic_load_n(&lc->stop, __ATOMIC_ACQUIRE)) {
		unsigned work = loop_once(lc, true);

		/* Busy time: one more TSC read, in rounds that did work only
		 * (loop_once() read the clock at its start). */
		if (work != 0) {
			RS_CNT_ADD(lc, busy_cycles, rte_rdtsc() - lc->now_tsc);
			RS_CNT_INC(lc, busy_loops);
		}
		idle_step(lc, work);
	}
	stop_drain(lc);
	return 0;
}
