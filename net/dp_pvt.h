/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data plane's control-side state, shared by dataplane.c, eal.c and
 * port.c.  Private to net/; the fast path sees only struct rs_lcore
 * and the struct rs_iface it points to.
 */
#ifndef RS_DP_PVT_H
#define RS_DP_PVT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "lcore_pvt.h"
#include "rs_config.h"
#include "rs_dataplane.h"

struct rs_dp {
	struct rs_config cfg;
	struct rs_iface ifc; /* what the workers read */
	/* The workers' common clock origin (lcore now_ns = 0), so that a
	 * time one worker stores another may compare with its own; 0: each
	 * worker takes its own (a worker made alone, as tests do). */
	uint64_t tsc0;
	struct rte_mempool *pool;
	uint16_t port_id;
	bool port_probed; /* an ethdev port to close */
	bool port_started;
	bool running; /* workers launched */
	uint16_t rx_desc, tx_desc;
	uint64_t rx_offloads_offered, tx_offloads_offered;
	char port_name[RTE_ETH_NAME_MAX_LEN]; /* kept past close */
	char driver[64];
	unsigned nworkers;
	struct rs_lcore *lc[RS_DP_WORKERS_MAX];
	struct rs_route *route; /* route.c; read by every worker */
	struct rs_app app;	/* rs_dp_set_app() */
	bool app_set;
	struct rs_steer *steer; /* steer.c; NULL: one worker */
};

/* steer.c: the RSS key a port is given (steering computes the same). */
#define RS_STEER_KEY_LEN 40
extern const uint8_t rs_steer_rss_key[RS_STEER_KEY_LEN];

/** Print "remsockd: MESSAGE" on stderr: how the data plane explains a
 *  failure to whoever runs it. */
__attribute__((format(printf, 1, 2))) void rs_dp_err(const char *fmt, ...);

/* dataplane.c: a worker's state but for its port (the pool, the port and
 * its offloads come with rs_port_configure()): clock, ARP, socket table,
 * TCP stack, fragments.  White-box tests build workers without a port
 * with it (tests/service/test_svc_worker.c). */
struct rs_lcore *rs_dp_lcore_create(struct rs_dp *dp, unsigned lcore_id,
				    uint16_t queue);
void rs_dp_lcore_free(struct rs_lcore *lc);

/* steer.c: the rings and port claims of several workers (nothing for
 * one); rs_steer_drain() frees what the rings hold once the workers
 * have stopped. */
int rs_steer_create(struct rs_dp *dp);
void rs_steer_drain(struct rs_dp *dp);
void rs_steer_free(struct rs_dp *dp);

/* route.c: the table of [net] and [routes], after rs_port_configure(). */
int rs_route_create(struct rs_dp *dp);
void rs_route_free(struct rs_dp *dp);

/* port.c: each step undone by rs_port_close(). */
int rs_port_probe(struct rs_dp *dp);
int rs_port_configure(struct rs_dp *dp);
int rs_port_start(struct rs_dp *dp);
void rs_port_close(struct rs_dp *dp);

#endif /* RS_DP_PVT_H */
