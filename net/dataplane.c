/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data plane's life cycle and its read-outs for control: create the
 * port and one struct rs_lcore per worker, launch the workers, stop them,
 * sum their counters.  See rs_dataplane.h for the order of calls.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dp_pvt.h"
#include "rs_sock.h"
#include "sock_pvt.h"
#include "stack_pvt.h"

/* How often rs_dp_stop() looks whether a worker has stopped. */
#define STOP_POLL_US 1000

_Static_assert(sizeof(((struct rs_dp_info *)0)->port_name) >=
		   RTE_ETH_NAME_MAX_LEN,
	       "rs_dp_info.port_name must hold any ethdev name");

void rs_dp_err(const char *fmt, ...)
{
	va_list ap;

	fputs("remsockd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The clock, the timers' and the rate limit's units. */
static void lcore_clock_init(struct rs_lcore *lc, const struct rs_dp *dp)
{
	const struct rs_config *cfg = &dp->cfg;
	uint64_t hz = rte_get_tsc_hz();
	uint32_t rate = cfg->sockets.icmp_unreach_rate;

	lc->tsc_hz = hz;
	lc->tsc0 = dp->tsc0 != 0 ? dp->tsc0 : rte_rdtsc();
	lc->ns_mult = ((uint64_t)NS_PER_S << 32) / hz;
	lc->arp_ttl_tsc = cfg->arp.ttl_s * hz;
	lc->arp_retry_tsc = cfg->arp.retry_ms * hz / 1000;
	lc->close_grace_tsc = cfg->tcp.close_grace_ms * hz / 1000;
	lc->icmp_interval_tsc = rate == 0 ? 0 : hz / rate;
	lc->icmp_burst_tsc = rate == 0 ? 0 : hz / 10;
	lc->arp_next_tsc = UINT64_MAX;
}

/* The worker's own tables: ARP's pending entries, the socket table, the
 * TCP stack, the fragment table, the buffer that makes chained segments
 * contiguous. */
static int lcore_tables_create(struct rs_lcore *lc, const struct rs_config *cfg,
			       int socket)
{
	const struct rs_config_arp *a = &cfg->arp;
	struct rte_mbuf **held;
	int rc;

	lc->arp_npend = a->pending;
	lc->arp_queue = a->queue;
	lc->arp_retries = a->retries;
	lc->arp_pend = rte_zmalloc_socket(
	    "rs_arp_pend",
	    a->pending * (sizeof(*lc->arp_pend) + a->queue * sizeof(*held)),
	    RTE_CACHE_LINE_SIZE, socket);
	/* Any IPv4 packet's payload: a merged (LRO) segment, or one a vhost
	 * peer sent with TSO, which the vhost port hands over as it came. */
	lc->lin_size = UINT16_MAX;
	lc->lin_buf = rte_malloc_socket("rs_lin", lc->lin_size, 0, socket);
	if (lc->arp_pend == NULL || lc->lin_buf == NULL)
		return -ENOMEM;
	held = (struct rte_mbuf **)(lc->arp_pend + a->pending);
	for (uint32_t i = 0; i < a->pending; i++)
		lc->arp_pend[i].q = held + i * a->queue;
	rc = rs_socks_create(lc, cfg);
	if (rc == 0)
		rc = rs_tcp_glue_create(lc, cfg);
	if (rc == 0)
		rc = rs_frag_create(lc, socket);
	return rc;
}

void rs_dp_lcore_free(struct rs_lcore *lc)
{
	if (lc == NULL)
		return;
	rs_socks_free(lc);
	rs_tcp_glue_free(lc);
	rs_frag_free(lc);
	rte_free(lc->arp_pend);
	rte_free(lc->lin_buf);
	rte_free(lc);
}

struct rs_lcore *rs_dp_lcore_create(struct rs_dp *dp, unsigned lcore_id,
				    uint16_t queue)
{
	const struct rs_config_workers *w = &dp->cfg.workers;
	int socket = rte_lcore_to_socket_id(lcore_id);
	struct rs_lcore *lc;

	lc = rte_zmalloc_socket("rs_lcore", sizeof(*lc), RTE_CACHE_LINE_SIZE,
				socket);
	if (lc == NULL)
		return NULL;
	lc->ifc = &dp->ifc;
	lc->cfg = &dp->cfg;
	lc->lcore_id = lcore_id;
	lc->queue = queue;
	lc->nworkers = 1; /* rs_dp_create() says how many */
	lc->ip_id = queue;
	lc->burst = w->burst;
	lc->rx_want = w->burst;
	lc->idle_backoff = w->idle_backoff;
	lc->idle_polls = w->idle_polls;
	lc->idle_sleep_max_us = w->idle_sleep_max_us;
	lcore_clock_init(lc, dp);
	if (lcore_tables_create(lc, &dp->cfg, socket) < 0) {
		rs_dp_lcore_free(lc);
		return NULL;
	}
	return lc;
}

/* One struct rs_lcore per worker, on the worker lcores in EAL order. */
static int lcores_create(struct rs_dp *dp)
{
	unsigned want = dp->cfg.workers.count, id;
	uint16_t q = 0;

	if (rte_lcore_count() - 1 < want) {
		rs_dp_err("[workers] count: %u workers need %u lcores besides "
			  "the main one; the EAL has %u (see -l in [eal] args "
			  "of %s)",
			  want, want, rte_lcore_count() - 1, dp->cfg.source);
		return -EINVAL;
	}
	RTE_LCORE_FOREACH_WORKER(id)
	{
		if (q == want)
			break;
		dp->lc[q] = rs_dp_lcore_create(dp, id, q);
		if (dp->lc[q] == NULL)
			return -ENOMEM;
		q++;
	}
	dp->nworkers = q;
	return 0;
}

static void lcores_free(struct rs_dp *dp)
{
	for (unsigned i = 0; i < RS_DP_WORKERS_MAX; i++) {
		rs_dp_lcore_free(dp->lc[i]);
		dp->lc[i] = NULL;
	}
}

struct rs_dp *rs_dp_create(const struct rs_config *cfg)
{
	struct rs_dp *dp;
	int rc;

	dp = rte_zmalloc("rs_dp", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	if (dp == NULL) {
		rs_dp_err("out of memory for the data plane");
		errno = ENOMEM;
		return NULL;
	}
	dp->cfg = *cfg;
	dp->tsc0 = rte_rdtsc();
	rc = lcores_create(dp);
	if (rc < 0)
		goto err_lcores;
	rc = rs_port_probe(dp);
	if (rc < 0)
		goto err_lcores;
	rc = rs_port_configure(dp);
	if (rc < 0)
		goto err_port;
	rc = rs_route_create(dp);
	if (rc == 0)
		rc = rs_steer_create(dp);
	if (rc < 0)
		goto err_port;
	/* The workers read the pool and the routes only now that they
	 * exist. */
	for (unsigned i = 0; i < dp->nworkers; i++) {
		dp->lc[i]->nworkers = (uint16_t)dp->nworkers;
		dp->lc[i]->pool = dp->pool;
		dp->lc[i]->route = dp->route;
		rs_tcp_glue_port_ready(dp->lc[i]);
	}
	return dp;

err_port:
	rs_port_close(dp);
err_lcores:
	lcores_free(dp);
	rs_steer_free(dp);
	rs_route_free(dp);
	rte_mempool_free(dp->pool);
	rte_free(dp);
	errno = -rc;
	return NULL;
}

int rs_dp_start(struct rs_dp *dp)
{
	int rc = rs_port_start(dp);

	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < dp->nworkers; i++) {
		rc = rte_eal_remote_launch(rs_lcore_run, dp->lc[i],
					   dp->lc[i]->lcore_id);
		if (rc < 0) {
			rs_dp_err("worker %u: lcore %u is busy", i,
				  dp->lc[i]->lcore_id);
			dp->nworkers = i; /* stop only what runs */
			dp->running = true;
			rs_dp_stop(dp);
			return -EBUSY;
		}
	}
	dp->running = true;
	return 0;
}

/* rte_eal_wait_lcore() spins on the main lcore, and a worker may take
 * [tcp] close_grace_ms to stop: sleep while it runs (DPDK 22.11 has no
 * FINISHED state: a worker goes from RUNNING back to WAIT), then collect
 * it.  Bounded by the grace plus the worker's last loop. */
static void worker_wait(unsigned lcore_id)
{
	while (rte_eal_get_lcore_state(lcore_id) == RUNNING)
		rte_delay_us_sleep(STOP_POLL_US);
	rte_eal_wait_lcore(lcore_id);
}

void rs_dp_stop(struct rs_dp *dp)
{
	if (dp->running) {
		for (unsigned i = 0; i < dp->nworkers; i++)
			__atomic_store_n(&dp->lc[i]->stop, true,
					 __ATOMIC_RELEASE);
		for (unsigned i = 0; i < dp->nworkers; i++)
			worker_wait(dp->lc[i]->lcore_id);
		rs_steer_drain(dp); /* what was steered too late */
		dp->running = false;
	}
	rs_port_close(dp);
}

void rs_dp_destroy(struct rs_dp *dp)
{
	if (dp == NULL)
		return;
	rs_dp_stop(dp);
	lcores_free(dp);
	rs_steer_free(dp); /* after the TCP stacks: they give ports back */
	rs_route_free(dp);
	rte_mempool_free(dp->pool);
	rte_free(dp);
}

int rs_dp_set_app(struct rs_dp *dp, rs_dp_app_init_fn init,
		  rs_dp_app_poll_fn poll, rs_dp_app_fini_fn fini, void *arg)
{
	if (dp->running)
		return -EBUSY;
	dp->app.init = init;
	dp->app.poll = poll;
	dp->app.fini = fini;
	dp->app.arg = arg;
	for (unsigned i = 0; i < dp->nworkers; i++)
		dp->lc[i]->app = &dp->app;
	return 0;
}

static void stats_add(struct rs_dp_stats *st, const struct rs_lcore *lc)
{
	st->rx_pkts += RS_CNT_READ(lc, rx_pkts);
	st->rx_bytes += RS_CNT_READ(lc, rx_bytes);
	st->tx_pkts += RS_CNT_READ(lc, tx_pkts);
	st->tx_bytes += RS_CNT_READ(lc, tx_bytes);
	st->handled += RS_CNT_READ(lc, handled);
	st->tx_dropped += RS_CNT_READ(lc, tx_dropped);
	st->busy_cycles += RS_CNT_READ(lc, busy_cycles);
	st->busy_loops += RS_CNT_READ(lc, busy_loops);
	for (unsigned i = 0; i < RS_DP_DROP_MAX; i++)
		st->drops[i] += RS_CNT_READ(lc, drops[i]);
	for (unsigned i = 0; i < RS_DP_EV_MAX; i++)
		st->events[i] += RS_CNT_READ(lc, events[i]);
	st->socks_open += RS_CNT_READ(lc, socks_open);
	st->tcp_conns += RS_CNT_READ(lc, tcp_conns);
	for (unsigned s = 0; s < RS_TCP_STATE_MAX; s++)
		st->tcp_states[s] += RS_CNT_READ(lc, tcp_states[s]);
	st->arp_held += RS_CNT_READ(lc, arp_held);
	st->tcp_conns_at_stop += RS_CNT_READ(lc, tcp_conns_at_stop);
}

int rs_dp_stats_read(const struct rs_dp *dp, int worker, struct rs_dp_stats *st)
{
	if (worker < -1 || worker >= (int)dp->nworkers)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < dp->nworkers; i++)
		if (worker == -1 || (unsigned)worker == i)
			stats_add(st, dp->lc[i]);
	return 0;
}

int rs_dp_info_get(const struct rs_dp *dp, struct rs_dp_info *info)
{
	struct rte_eth_link link;

	memset(info, 0, sizeof(*info));
	info->port_id = dp->port_id;
	snprintf(info->port_name, sizeof(info->port_name), "%s", dp->port_name);
	snprintf(info->driver, sizeof(info->driver), "%s", dp->driver);
	memcpy(info->mac, dp->ifc.mac.addr_bytes, sizeof(info->mac));
	if (dp->port_started &&
	    rte_eth_link_get_nowait(dp->port_id, &link) == 0) {
		info->link_up = link.link_status == RTE_ETH_LINK_UP;
		info->link_speed = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN
				       ? 0
				       : link.link_speed;
		info->link_full_duplex =
		    link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
	}
	info->mtu = dp->ifc.mtu;
	info->rx_desc = dp->rx_desc;
	info->tx_desc = dp->tx_desc;
	info->mbufs = dp->cfg.port.mbufs;
	info->rx_offloads = dp->ifc.rx_offloads;
	info->rx_offloads_offered = dp->rx_offloads_offered;
	info->tx_offloads = dp->ifc.tx_offloads;
	info->tx_offloads_offered = dp->tx_offloads_offered;
	info->workers = dp->nworkers;
	for (unsigned i = 0; i < dp->nworkers; i++)
		info->worker_lcore[i] = dp->lc[i]->lcore_id;
	return 0;
}

unsigned rs_dp_mbufs_in_use(const struct rs_dp *dp)
{
	return dp->pool == NULL ? 0 : rte_mempool_in_use_count(dp->pool);
}

#define NAME_OF_DROP(e, name, meaning) name,
#define NAME_OF_DROP_TCP(e, name, meaning) "tcp_" name,
#define MEANING_OF_DROP(e, name, meaning) meaning,
#define MEANING_OF_DROP_TCP(e, name, meaning) "TCP: " meaning,
#define NAME_OF_EVENT(e, name) name,
#define NAME_OF_EVENT_TCP(e, name) "tcp." name,

static const char *const drop_names[] = {RS_DP_DROPS(NAME_OF_DROP)};
static const char *const drop_meanings[] = {RS_DP_DROPS(MEANING_OF_DROP)};
static const char *const event_names[] = {RS_DP_EVENTS(NAME_OF_EVENT)};

const char *rs_dp_drop_name(unsigned reason)
{
	return reason < RS_DP_DROP_MAX ? drop_names[reason] : NULL;
}

const char *rs_dp_drop_meaning(unsigned reason)
{
	return reason < RS_DP_DROP_MAX ? drop_meanings[reason] : NULL;
}

const char *rs_dp_event_name(unsigned event)
{
	return event < RS_DP_EV_MAX ? event_names[event] : NULL;
}

int rs_dp_signals_install(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0)
		return -errno;
	return 0;
}
