/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control thread's half of the remote socket service, as remsockd's
 * main sets it up and polls it (the workers' half is dataplane/'s
 * rs_svc_dp.h; the two talk only through service/'s rs_svc.h rings).
 *
 *   rs_svc_ctl_create()        register the control-plane methods
 *   rs_svc_ctl_counters_set()  where remsock.Stats takes its counters
 *   rs_svc_ctl_poll()          serve the workers' entries (main loop)
 *   rs_svc_ctl_stats_get()
 *   rs_svc_ctl_free()
 */
#ifndef RS_SVC_CTL_H
#define RS_SVC_CTL_H

#include <stdint.h>

struct rs_svc_shared;

/** The control thread's half of the service (opaque). */
struct rs_svc_ctl;

/**
 * Register the control-plane methods (CreateSocket ... Close, Resolve,
 * and remsock.Stats) in sh->registry and create the descriptor table.
 *
 * @return the control half, or NULL with errno set.
 */
struct rs_svc_ctl *rs_svc_ctl_create(struct rs_svc_shared *sh);

/** Free the control half; NULL is ignored. */
void rs_svc_ctl_free(struct rs_svc_ctl *ctl);

/**
 * Serve what the workers sent: at most @p budget entries.
 *
 * @return entries served (0: the ring was empty).
 */
unsigned rs_svc_ctl_poll(struct rs_svc_ctl *ctl, unsigned budget);

/** Counters of the control half, for telemetry and the leak check. */
struct rs_svc_ctl_stats {
	uint64_t calls;	      /**< CALL entries served */
	uint64_t execs;	      /**< approved: sent back as EXEC */
	uint64_t answered;    /**< answered by control (RESPOND) */
	uint64_t gone;	      /**< GONE entries */
	uint64_t ring_full;   /**< answers lost: a worker ring was full */
	uint32_t descriptors; /**< descriptors in the table now */
};

/** Read the control half's counters. */
void rs_svc_ctl_stats_get(const struct rs_svc_ctl *ctl,
			  struct rs_svc_ctl_stats *st);

/**
 * Set where remsock.Stats and GET /metrics take the process's counters
 * from (remsockd's main: the data plane's and the service's, as it prints
 * them at exit): sets the shared state's source (rs_svc.h), before the
 * workers run.  Without a source, Stats reports the caller app's quotas
 * only.
 */
void rs_svc_ctl_counters_set(struct rs_svc_ctl *ctl, rs_svc_counters_fn fn,
			     void *src);

#endif /* RS_SVC_CTL_H */
