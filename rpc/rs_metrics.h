/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * remsockd's counters in Prometheus' text exposition format (version
 * 0.0.4), for the operator's GET /metrics (rs_http.h).
 *
 * Counters are added by the names remsock.Stats gives them, and each maps
 * to a metric family with a type and a help line: `rpc.calls` is
 * `remsock_rpc_calls_total`, the gauges (`rpc.conns_open`, `quota.*.used`
 * ...) have no `_total`, and the names that carry a key become labels:
 * `drop.REASON` is `remsock_packets_dropped_total{reason="REASON"}`,
 * `event.E` `remsock_events_total{event="E"}`, `acl.denied.ORIGIN.RULE`
 * `remsock_acl_denied_total{origin,rule}`, `quota.Q.used|limit|refused`
 * `remsock_quota_used|limit|refused_total{app,quota}`.  Cycle counters
 * also come in seconds, over `tsc_hz`.  A name the table does not know is
 * kept, as an untyped metric.  docs/operations.md lists them all.
 */
#ifndef RS_METRICS_H
#define RS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/** Counters being gathered (opaque). */
struct rs_metrics;

/** @return an empty set, or NULL (ENOMEM). */
struct rs_metrics *rs_metrics_new(void);

/**
 * Add a counter; @p app labels the quota.* ones (may be NULL).  Out of
 * memory is remembered, and rs_metrics_end() then fails.
 */
void rs_metrics_add(struct rs_metrics *m, const char *name, uint64_t value,
		    const char *app);

/**
 * The text of what was added, and @p m freed.
 *
 * @param text_len  receives the text's length.
 * @return the text (NUL-terminated; free() it), or NULL with errno ENOMEM.
 */
char *rs_metrics_end(struct rs_metrics *m, size_t *text_len);

#endif /* RS_METRICS_H */
