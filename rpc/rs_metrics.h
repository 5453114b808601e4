/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * remsock.Stats in Prometheus' text exposition format (version 0.0.4),
 * for the operator's GET /metrics (rs_http.h).
 *
 * Each counter name of a StatsReply maps to a metric family with a type
 * and a help line: `rpc.calls` is `remsock_rpc_calls_total`, the gauges
 * (`rpc.conns_open`, `quota.*.used` ...) have no `_total`, and the names
 * that carry a key become labels: `drop.REASON` is
 * `remsock_packets_dropped_total{reason="REASON"}`, `event.E`
 * `remsock_events_total{event="E"}`, `acl.denied.ORIGIN.RULE`
 * `remsock_acl_denied_total{origin,rule}`, `quota.Q.used|limit|refused`
 * `remsock_quota_used|limit|refused_total{app,quota}`.  Cycle counters
 * also come in seconds, over `tsc_hz`.  A name the table does not know
 * is kept, as an untyped metric.  docs/operations.md lists them all.
 */
#ifndef RS_METRICS_H
#define RS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/**
 * @param reply  a remsock.StatsReply, packed.
 * @param text_len  receives the text's length.
 * @return the text (NUL-terminated; free() it), or NULL with errno
 *   EPROTO (not a StatsReply) or ENOMEM.
 */
char *rs_metrics_text(const uint8_t *reply, size_t len, size_t *text_len);

#endif /* RS_METRICS_H */
