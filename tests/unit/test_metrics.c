/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rs_metrics: counters by their Stats names in, Prometheus text out:
 * types, labels (escaped), a family's samples together though added
 * interleaved, cycles in seconds (per worker), sums left out, unknown
 * names kept untyped, and one HELP and TYPE a family.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rs_metrics.h"

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void test_text(void **state)
{
	static const struct {
		const char *name, *app;
		uint64_t v;
	} in[] = {
	    {"quota.sockets.used", "ops", 1},
	    {"quota.sockets.limit", "ops", 100},
	    {"quota.sockets.refused", "ops", 7},
	    {"quota.sockets.used", "a\"b\\c", 2},
	    {"quota.sockets.limit", "a\"b\\c", 4},
	    {"rpc.calls", NULL, 5},
	    {"rpc.conns_open", NULL, 2},
	    {"drop.ip_csum", NULL, 3},
	    {"drop.udp_len", NULL, 1},
	    {"dropped", NULL, 4},
	    {"acl.denied.acl.no_smtp", NULL, 2},
	    {"worker.busy_cycles", NULL, 3000000000},
	    {"worker.0.busy_cycles", NULL, 3000000000},
	    {"worker.1.busy_cycles", NULL, 500000000},
	    {"ring_used.to_worker0", NULL, 6},
	    {"tsc_hz", NULL, 1000000000},
	    {"odd-name.x", NULL, 9},
	    {"event.tcp.segs_in", NULL, 11},
	};
	struct rs_metrics *m = rs_metrics_new();
	size_t len;
	char *t;

	(void)state;
	assert_non_null(m);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		rs_metrics_add(m, in[i].name, in[i].v, in[i].app);
	t = rs_metrics_end(m, &len);
	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	assert_non_null(strstr(t, "# TYPE remsock_rpc_calls_total counter\n"
				  "remsock_rpc_calls_total 5\n"));
	assert_non_null(strstr(t, "# TYPE remsock_rpc_connections_open gauge\n"
				  "remsock_rpc_connections_open 2\n"));
	/* One family, its samples together, though interleaved when added;
	 * a label value escaped. */
	assert_int_equal(count_of(t, "# TYPE remsock_quota_used "), 1);
	assert_non_null(strstr(
	    t,
	    "# TYPE remsock_quota_used gauge\n"
	    "remsock_quota_used{app=\"ops\",quota=\"sockets\"} 1\n"
	    "remsock_quota_used{app=\"a\\\"b\\\\c\",quota=\"sockets\"} 2\n"));
	assert_non_null(strstr(t, "# TYPE remsock_quota_refused_total counter\n"
				  "remsock_quota_refused_total{app=\"ops\","
				  "quota=\"sockets\"} 7\n"));
	assert_non_null(
	    strstr(t, "remsock_packets_dropped_total{reason=\"ip_csum\"} 3\n"
		      "remsock_packets_dropped_total{reason=\"udp_len\"} 1\n"));
	assert_null(strstr(t, "remsock_dropped")); /* the sum: left out */
	assert_non_null(strstr(
	    t,
	    "remsock_acl_denied_total{origin=\"acl\",rule=\"no_smtp\"} 2\n"));
	/* Each worker's, labelled, and in seconds; their sum left out. */
	assert_non_null(strstr(
	    t, "remsock_worker_busy_cycles_total{worker=\"0\"} 3000000000\n"
	       "remsock_worker_busy_cycles_total{worker=\"1\"} 500000000\n"));
	assert_int_equal(count_of(t, "remsock_worker_busy_cycles_total{"), 2);
	assert_non_null(
	    strstr(t, "remsock_worker_busy_seconds_total{worker=\"0\"} 3\n"
		      "remsock_worker_busy_seconds_total{worker=\"1\"} 0.5\n"));
	assert_non_null(
	    strstr(t, "remsock_message_ring_used{ring=\"to_worker0\"} 6\n"));
	assert_non_null(strstr(t, "# TYPE remsock_odd_name_x untyped\n"
				  "remsock_odd_name_x 9\n"));
	assert_non_null(
	    strstr(t, "remsock_events_total{event=\"tcp.segs_in\"} 11\n"));
	assert_int_equal(count_of(t, "# HELP "), count_of(t, "# TYPE "));
	free(t);
}

/* A histogram: _bucket with le in seconds (cumulative, +Inf last),
 * _sum in seconds, _count; TYPE histogram once. */
static void test_histogram(void **state)
{
	static const struct {
		const char *name;
		uint64_t v;
	} in[] = {
	    {"call_hist.Receive.bucket.1", 3},
	    {"call_hist.Receive.bucket.2", 5},
	    {"call_hist.Receive.bucket.inf", 6},
	    {"call_hist.Receive.sum_ns", 2500000000},
	    {"call_hist.Receive.count", 6},
	    {"call_hist.Send.bucket.1", 1},
	    {"call_hist.Send.bucket.inf", 1},
	    {"call_hist.Send.sum_ns", 500},
	    {"call_hist.Send.count", 1},
	};
	struct rs_metrics *m = rs_metrics_new();
	size_t len;
	char *t;

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		rs_metrics_add(m, in[i].name, in[i].v, NULL);
	t = rs_metrics_end(m, &len);
	assert_non_null(t);
	assert_int_equal(count_of(t, "# TYPE "), 1);
	assert_non_null(strstr(
	    t, "# TYPE remsock_rpc_call_duration_seconds histogram\n"
	       "remsock_rpc_call_duration_seconds_bucket{method=\"Receive\","
	       "le=\"1e-06\"} 3\n"
	       "remsock_rpc_call_duration_seconds_bucket{method=\"Receive\","
	       "le=\"2e-06\"} 5\n"
	       "remsock_rpc_call_duration_seconds_bucket{method=\"Receive\","
	       "le=\"+Inf\"} 6\n"
	       "remsock_rpc_call_duration_seconds_sum{method=\"Receive\"} 2.5\n"
	       "remsock_rpc_call_duration_seconds_count{method=\"Receive\"} 6\n"
	       "remsock_rpc_call_duration_seconds_bucket{method=\"Send\","
	       "le=\"1e-06\"} 1\n"));
	assert_non_null(strstr(
	    t,
	    "remsock_rpc_call_duration_seconds_sum{method=\"Send\"} 5e-07\n"));
	free(t);
}

/* Many counters: the set grows, and nothing is lost. */
static void test_many(void **state)
{
	struct rs_metrics *m = rs_metrics_new();
	char name[32];
	size_t len;
	char *t;

	(void)state;
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "drop.r%d", i);
		rs_metrics_add(m, name, (uint64_t)i, NULL);
	}
	t = rs_metrics_end(m, &len);
	assert_non_null(t);
	assert_int_equal(count_of(t, "remsock_packets_dropped_total{"), 5000);
	assert_non_null(strstr(
	    t, "remsock_packets_dropped_total{reason=\"r4999\"} 4999\n"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_histogram),
	    cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
