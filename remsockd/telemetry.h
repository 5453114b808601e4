/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * remsockd's commands on DPDK's telemetry socket (dpdk-telemetry.py):
 *
 *   /remsock/stats         every counter remsock.Stats gives the operator
 *                          (the ACL's denials excepted: see telemetry.c),
 *                          '.' made '_' as telemetry's names want
 *   /remsock/apps[,APP]    the apps' ids; with APP, its quotas
 *   /remsock/workers[,N]   the worker count and lcores; with N, worker
 *                          N's packets, bytes and busy cycles
 *   /remsock/sockets       sockets, descriptors, TCP connections and RPC
 *                          connections open now
 *
 * Private to remsockd/.  Telemetry runs only when [eal] args lack
 * --no-telemetry (the embedded default has it).
 */
#ifndef RSD_TELEMETRY_H
#define RSD_TELEMETRY_H

#include "rs_dataplane.h"
#include "rs_svc.h"
#include "rs_svc_ctl.h"
#include "rs_svc_dp.h"

/** What the commands read. */
struct rsd_telemetry {
	const struct rs_svc_shared *sh;
	const struct rs_dp *dp;
	struct rs_svc_ctl *ctl;
	const struct rs_svc_dp *sdp;
	/** The process's counters, safe to read from DPDK's telemetry
	 *  thread (no ACL: a reload frees the old one). */
	rs_svc_counters_fn counters;
	void *counters_src;
};

/** Register the commands, reading @p t (kept until
 *  rsd_telemetry_stop()). */
void rsd_telemetry_start(const struct rsd_telemetry *t);

/** From now on the commands answer nothing: what they read may go. */
void rsd_telemetry_stop(void);

#endif /* RSD_TELEMETRY_H */
