/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-worker struct, the counter macros and the handler verdicts.
 * Private to net/.
 *
 * One struct rs_lcore per worker, allocated on the worker's socket and
 * passed to every function of the fast path; there is no other per-packet
 * or per-core state.  Its fields are grouped by the thread that writes them:
 * control writes the first group before launch and the stop flag while the
 * worker runs; the worker writes everything after that.  Control reads the
 * counters while the worker runs, so the worker stores them with relaxed
 * atomics (plain moves on x86) and control loads them the same way.
 */
#ifndef RS_LCORE_PVT_H
#define RS_LCORE_PVT_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>

#include "rs_dataplane.h"
#include "rs_sock.h"

/** Largest RX burst ([workers] burst is at most this). */
#define RS_BURST_MAX 256

/** Packets a worker collects for one TX burst. */
#define RS_TX_BATCH_MAX (2 * RS_BURST_MAX)

/** ARP cache geometry: sets of ways, each set a few cache lines. */
#define RS_ARP_SETS 16
#define RS_ARP_WAYS 4

struct rs_lcore;
struct rs_route;
struct rte_ip_frag_tbl;
struct rs_socks;
struct rs_tcp_stack;
struct rs_steer;

/** An application run by the workers (rs_dp_set_app()). */
struct rs_app {
	int (*init)(struct rs_lcore *lc, void *arg);
	int (*poll)(struct rs_lcore *lc, void *arg);
	void (*fini)(struct rs_lcore *lc, void *arg);
	void *arg;
};

/** A next hop being resolved: packets wait for its MAC (arp.c). */
struct rs_arp_pend {
	rte_be32_t ip;	     /**< 0: free */
	uint16_t held;	     /**< packets in q */
	uint16_t tries;	     /**< requests sent */
	uint64_t next_tsc;   /**< next request, or giving up */
	struct rte_mbuf **q; /**< [arp_queue] held packets, IPv4 first */
};

/** What a packet handler did with the mbuf it was given. */
enum rs_verdict {
	RS_VERDICT_TX,	     /**< rewritten in place: the caller sends it */
	RS_VERDICT_CONSUMED, /**< handled; the handler kept or freed it */
	RS_VERDICT_DROP,     /**< reason counted; the caller frees it */
	RS_VERDICT_TAKEN,    /**< the handler owns the mbuf now and has
				  counted it (handled or a drop): the
				  caller does nothing (a fragment kept for
				  reassembly, frag.c) */
};

/** The port as the stack sees it; read-only once the workers run. */
struct rs_iface {
	struct rte_ether_addr mac;
	rte_be32_t ip;
	rte_be32_t netmask;
	rte_be32_t gateway; /**< 0: none */
	uint16_t port_id;
	uint16_t mtu;
	uint64_t rx_offloads; /**< negotiated RTE_ETH_RX_OFFLOAD_* */
	uint64_t tx_offloads; /**< negotiated RTE_ETH_TX_OFFLOAD_* */
};

struct rs_arp_entry {
	rte_be32_t ip; /**< 0: free */
	struct rte_ether_addr mac;
	uint64_t seen_tsc;  /**< last confirmed */
	uint64_t probe_tsc; /**< last refresh request */
};

struct rs_counters {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts, tx_bytes;
	uint64_t handled;
	uint64_t tx_dropped;
	uint64_t busy_cycles, busy_loops;
	uint64_t drops[RS_DP_DROP_MAX];
	uint64_t events[RS_DP_EV_MAX];
	uint64_t socks_open, tcp_conns, arp_held,
	    tcp_conns_at_stop;		       /* gauges */
	uint64_t tcp_states[RS_TCP_STATE_MAX]; /* gauges */
};

struct rs_lcore {
	/* Written by control before launch. */
	const struct rs_iface *ifc;
	struct rte_mempool *pool;
	unsigned lcore_id;
	uint16_t queue;
	uint16_t burst;
	uint16_t rx_want; /**< packets the next RX burst asks for (worker.c) */
	bool idle_backoff;
	uint32_t idle_polls;
	uint32_t idle_sleep_max_us;
	uint64_t arp_ttl_tsc;
	uint64_t arp_retry_tsc; /**< between requests */
	uint32_t arp_retries;	/**< requests before giving up */
	uint32_t arp_queue;	/**< packets held per pending next hop */
	uint32_t arp_npend;	/**< entries of arp_pend */
	struct rs_arp_pend *arp_pend;
	const struct rs_route *route;
	const struct rs_app *app; /**< NULL: none */
	rs_sock_grow_fn grow;	  /**< the app's charge for growth; NULL */
	const struct rs_config *cfg;
	struct rs_socks *socks;	  /**< sock.c */
	struct rs_tcp_stack *tcp; /**< tcp_glue.c */
	uint8_t *lin_buf;	  /**< a segment made contiguous */
	uint32_t lin_size;
	uint64_t icmp_interval_tsc; /**< between port unreachables */
	uint64_t icmp_burst_tsc;    /**< their burst allowance */
	uint64_t tsc_hz;
	uint64_t tsc0;	  /**< the clock's zero */
	uint64_t ns_mult; /**< ns = tsc * ns_mult >> 32 */
	uint64_t close_grace_tsc;
	struct rte_ip_frag_tbl *frag_tbl; /**< frag.c; NULL: none */
	struct rs_steer *steer;		  /**< steer.c; NULL: the only worker */
	uint16_t nworkers;		  /**< workers of the port */

	/* Written by control while the worker runs. */
	alignas(RTE_CACHE_LINE_SIZE) bool stop;
	/** 1 while the worker sleeps in its idle back-off (a futex word):
	 *  whoever gives it work wakes it (rs_lcore_wake()). */
	uint32_t sleeping;

	/* Written by the worker only. */
	alignas(RTE_CACHE_LINE_SIZE) struct rs_counters cnt;
	uint64_t now_tsc;	/**< the clock of this loop */
	uint64_t now_ns;	/**< the same in ns since tsc0 */
	uint64_t arp_next_tsc;	/**< earliest pending ARP deadline */
	uint32_t arp_pending;	/**< entries of arp_pend in use */
	uint32_t arp_held;	/**< packets they hold */
	uint64_t icmp_tat;	/**< rate limit (GCRA): theoretical arrival */
	uint16_t ip_id;		/**< next IPv4 identification */
	bool app_on;		/**< the app's init succeeded */
	uint32_t idle_empty;	/**< empty polls in a row */
	uint32_t idle_sleep_us; /**< next sleep */
	uint32_t announce_left; /**< gratuitous ARPs still to send */
	uint64_t announce_tsc;	/**< when to send the next one */
	uint16_t tx_n;
	struct rte_mbuf *tx[RS_TX_BATCH_MAX];
	struct rte_ip_frag_death_row frag_dr; /**< fragments to free */
	struct rs_arp_entry arp[RS_ARP_SETS][RS_ARP_WAYS];
} __rte_cache_aligned;

/*
 * The counter layer: the only way the fast path touches a counter.  Single
 * writer, so a relaxed load-add-store is exact; the store is atomic so
 * that control's concurrent reads see whole values.
 */
#define RS_CNT_ADD(lc, field, n)                                               \
	__atomic_store_n(&(lc)->cnt.field, (lc)->cnt.field + (n),              \
			 __ATOMIC_RELAXED)
#define RS_CNT_INC(lc, field) RS_CNT_ADD(lc, field, 1)
#define RS_EVENT(lc, ev) RS_CNT_INC(lc, events[RS_DP_EV_##ev])
#define RS_CNT_READ(lc, field)                                                 \
	__atomic_load_n(&(lc)->cnt.field, __ATOMIC_RELAXED)

#define RS_GAUGE_SET(lc, field, v)                                             \
	__atomic_store_n(&(lc)->cnt.field, (v), __ATOMIC_RELAXED)

/** Count a drop and say so: `return rs_drop(lc, RS_DP_DROP_IP_CSUM);`. */
static inline enum rs_verdict rs_drop(struct rs_lcore *lc, enum rs_dp_drop why)
{
	RS_CNT_INC(lc, drops[why]);
	return RS_VERDICT_DROP;
}

/**
 * Queue a packet the stack made for the next TX burst (worker.c).  The
 * packet is sent, possibly a loop later when the TX queue is full; only
 * when the batch itself is full is it freed and counted (tx_dropped).
 */
void rs_lcore_tx(struct rs_lcore *lc, struct rte_mbuf *m);

/**
 * Whether the TX batch has room for what TCP makes (a burst's worth is
 * kept for replies); when it looks full, one TX burst is tried first.
 */
bool rs_lcore_tx_room(struct rs_lcore *lc);

/** Settle a received packet by the verdict its handler gave. */
void rs_lcore_verdict(struct rs_lcore *lc, struct rte_mbuf *m,
		      enum rs_verdict v);

/** The worker loop; @p arg is the worker's struct rs_lcore.  Returns 0. */
int rs_lcore_run(void *arg);

/* The RX burst's size in bytes, at most about.  The port fills every
 * packet of a burst (a vhost port copies them out of the peer's memory)
 * before the stack looks at the first; 64 segments of 64 KiB (TSO, LRO)
 * are 4 MiB, past the caches, and the stack then reads each back from
 * memory to copy it into its socket's ring.  Measured (perf/tcp_bulk.py,
 * TSO, docs/performance.md): bursts of 4 such segments moved 29-30
 * Gbit/s, of 64 18. */
#define RS_RX_BURST_BYTES (256u << 10)

/* After a burst of @p n packets, @p bytes in all: ask the next for as
 * many packets of this size as RS_RX_BURST_BYTES holds; back to [workers]
 * burst, doubling, while bursts come full and twice as many would still
 * fit. */
static inline void rs_rx_want_adapt(struct rs_lcore *lc, uint16_t n,
				    uint64_t bytes)
{
	if (bytes > RS_RX_BURST_BYTES)
		lc->rx_want = (uint16_t)RTE_MAX(
		    (uint64_t)1, (uint64_t)n * RS_RX_BURST_BYTES / bytes);
	else if (n == lc->rx_want && lc->rx_want < lc->burst &&
		 2 * bytes <= RS_RX_BURST_BYTES)
		lc->rx_want = (uint16_t)RTE_MIN(2u * lc->rx_want, lc->burst);
}

#endif /* RS_LCORE_PVT_H */
