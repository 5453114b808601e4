/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * remsock.Stats on the control half of the service, without a port or a
 * worker: a CALL entry goes in on to_ctl as a worker would send it, the
 * RESPOND comes back on to_worker[0], and its frame is decoded.  The
 * reply holds the caller app's quotas and the source's counters in
 * order; a source with more than one entry can carry is cut short,
 * with truncated set and the frame still inside the entry; every entry
 * is back in the pool at the end.  The EAL runs without hugepages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_ring.h>

#include "rpc.pb-c.h"
#include "rs_apps.h"
#include "rs_config.h"
#include "rs_svc.h"
#include "rs_svc_ctl.h"

/* Stats rows of the caller's quotas: used, limit, refused of each. */
#define QROWS (3 * RS_QUOTA_COUNT)

static const char text[] =
    "[port]\ndevargs = x\n[net]\nip = 10.1.2.3\n"
    "[apps]\nalpha = aaaa-aaaa-aaaa-aaaa\nbeta = bbbb-bbbb-bbbb-bbbb\n"
    "[quotas]\nsockets = 3\nbeta = sockets=7, pending_calls=5\n"
    "[service]\noperator = alpha\n";

struct world {
	struct rs_config cfg;
	struct rs_svc_shared *sh;
	struct rs_svc_ctl *ctl;
};

/* The counters a source emits: n of them, named test.NNNN = NNNN. */
static void source(void *src, rs_svc_counter_fn emit, void *arg)
{
	char name[32];

	for (unsigned i = 0; i < *(unsigned *)src; i++) {
		snprintf(name, sizeof(name), "test.%04u", i);
		emit(arg, name, i);
	}
}

static int setup(void **state)
{
	static struct world w;
	char err[512] = "";

	assert_int_equal(rs_config_load_buffer(&w.cfg, "x.ini", text,
					       strlen(text), err, sizeof(err)),
			 0);
	w.sh = rs_svc_shared_create(&w.cfg, 1, err, sizeof(err));
	assert_non_null(w.sh);
	w.ctl = rs_svc_ctl_create(w.sh);
	assert_non_null(w.ctl);
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	assert_int_equal(rs_svc_msgs_in_use(w->sh), 0);
	rs_svc_ctl_free(w->ctl);
	rs_svc_shared_free(w->sh);
	return 0;
}

/* Call remsock.Stats as app @p app, for the view of app @p view (NULL:
 * none); @return the reply (free it) and the response frame's length in
 * *frame_len, or NULL with the RpcError's code in *frame_len. */
static Remsock__Rpc__StatsReply *call_view(struct world *w, uint32_t app,
					   const char *view, size_t *frame_len)
{
	Remsock__Rpc__RpcRequest req = REMSOCK__RPC__RPC_REQUEST__INIT;
	Remsock__Rpc__StatsRequest sr = REMSOCK__RPC__STATS_REQUEST__INIT;
	Remsock__Rpc__RpcResponse *resp;
	Remsock__Rpc__StatsReply *rep;
	struct rs_svc_msg *m = rs_svc_msg_get(w->sh);
	uint8_t body[128];
	void *out = NULL;

	assert_non_null(m);
	req.has_call_id = 1;
	req.call_id = 42;
	req.service_name = "remsock";
	req.method = "Stats";
	sr.app_id = (char *)view;
	req.has_body = 1; /* empty without a view */
	req.body.len = remsock__rpc__stats_request__pack(&sr, body);
	req.body.data = body;
	m->type = RS_SVC_MSG_CALL;
	m->worker = 0;
	m->app = app;
	m->len = (uint32_t)remsock__rpc__rpc_request__pack(&req, m->data);
	assert_int_equal(rs_svc_msg_send(w->sh, -1, m), 0);
	assert_int_equal(rs_svc_ctl_poll(w->ctl, 8), 1);
	assert_int_equal(rte_ring_dequeue(w->sh->to_worker[0], &out), 0);
	m = out;
	assert_int_equal(m->type, RS_SVC_MSG_RESPOND);
	assert_true(m->len > 4 && m->len <= RS_SVC_MSG_DATA_MAX);
	*frame_len = m->len;
	resp =
	    remsock__rpc__rpc_response__unpack(NULL, m->len - 4, m->data + 4);
	assert_non_null(resp);
	assert_int_equal(resp->call_id, 42);
	assert_null(resp->application_error);
	if (resp->rpc_error != NULL) {
		*frame_len = resp->rpc_error->code;
		remsock__rpc__rpc_response__free_unpacked(resp, NULL);
		rs_svc_msg_put(w->sh, m);
		return NULL;
	}
	rep = remsock__rpc__stats_reply__unpack(NULL, resp->body.len,
						resp->body.data);
	assert_non_null(rep);
	remsock__rpc__rpc_response__free_unpacked(resp, NULL);
	rs_svc_msg_put(w->sh, m);
	return rep;
}

static Remsock__Rpc__StatsReply *call_stats(struct world *w, uint32_t app,
					    size_t *frame_len)
{
	Remsock__Rpc__StatsReply *rep = call_view(w, app, NULL, frame_len);

	assert_non_null(rep);
	return rep;
}

static uint64_t value_of(const Remsock__Rpc__StatsReply *rep, const char *n)
{
	for (size_t i = 0; i < rep->n_counter; i++)
		if (strcmp(rep->counter[i]->name, n) == 0)
			return rep->counter[i]->value;
	fail_msg("no counter %s", n);
	return 0;
}

static void test_quotas_only(void **state)
{
	struct world *w = *state;
	Remsock__Rpc__StatsReply *rep;
	size_t len;

	rs_svc_ctl_counters_set(w->ctl, NULL, NULL);
	assert_int_equal(rs_apps_charge(w->sh->apps, 1, RS_QUOTA_SOCKETS, 2),
			 0);
	rep = call_stats(w, 1, &len);
	assert_string_equal(rep->app_id, "beta");
	assert_false(rep->truncated);
	assert_int_equal(rep->n_counter, QROWS);
	assert_int_equal(value_of(rep, "quota.sockets.used"), 2);
	assert_int_equal(value_of(rep, "quota.sockets.limit"), 7);
	assert_int_equal(value_of(rep, "quota.pending_calls.limit"), 5);
	assert_int_equal(value_of(rep, "quota.sockets.refused"), 0);
	remsock__rpc__stats_reply__free_unpacked(rep, NULL);
	rs_apps_uncharge(w->sh->apps, 1, RS_QUOTA_SOCKETS, 2);

	/* Another app sees its own. */
	rep = call_stats(w, 0, &len);
	assert_string_equal(rep->app_id, "alpha");
	assert_int_equal(value_of(rep, "quota.sockets.used"), 0);
	assert_int_equal(value_of(rep, "quota.sockets.limit"), 3);
	remsock__rpc__stats_reply__free_unpacked(rep, NULL);
}

static void test_source_in_order(void **state)
{
	struct world *w = *state;
	Remsock__Rpc__StatsReply *rep;
	unsigned n = 50;
	char name[32];
	size_t len;

	rs_svc_ctl_counters_set(w->ctl, source, &n);
	rep = call_stats(w, 0, &len);
	assert_false(rep->truncated);
	assert_int_equal(rep->n_counter, QROWS + n);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "test.%04u", i);
		assert_string_equal(rep->counter[QROWS + i]->name, name);
		assert_int_equal(rep->counter[QROWS + i]->value, i);
	}
	remsock__rpc__stats_reply__free_unpacked(rep, NULL);
}

/* remsockd's counters tell of every tenant: an app that is not
 * [service] operator gets its own quotas only. */
static void test_counters_for_the_operator_only(void **state)
{
	struct world *w = *state;
	Remsock__Rpc__StatsReply *rep;
	unsigned n = 50;
	size_t len;

	rs_svc_ctl_counters_set(w->ctl, source, &n);
	rep = call_stats(w, 1, &len);
	assert_string_equal(rep->app_id, "beta");
	assert_int_equal(rep->n_counter, QROWS);
	for (size_t i = 0; i < rep->n_counter; i++)
		assert_memory_equal(rep->counter[i]->name, "quota.", 6);
	remsock__rpc__stats_reply__free_unpacked(rep, NULL);
}

/* An app's view: the operator may ask for any app's quotas (and gets
 * no process counters in it), an app for its own only. */
static void test_app_view(void **state)
{
	struct world *w = *state;
	Remsock__Rpc__StatsReply *rep;
	unsigned n = 50;
	size_t len;

	rs_svc_ctl_counters_set(w->ctl, source, &n);
	rep = call_view(w, 0, "beta", &len);
	assert_non_null(rep);
	assert_string_equal(rep->app_id, "beta");
	assert_int_equal(rep->n_counter, QROWS);
	assert_int_equal(value_of(rep, "quota.sockets.limit"), 7);
	remsock__rpc__stats_reply__free_unpacked(rep, NULL);
	rep = call_view(w, 1, "beta", &len);
	assert_non_null(rep);
	assert_int_equal(rep->n_counter, QROWS);
	remsock__rpc__stats_reply__free_unpacked(rep, NULL);
	assert_null(call_view(w, 1, "alpha", &len));
	assert_int_equal(len,
			 REMSOCK__RPC__RPC_ERROR_CODE__RPC_SECURITY_VIOLATION);
	assert_null(call_view(w, 0, "nosuch", &len));
	assert_int_equal(len, REMSOCK__RPC__RPC_ERROR_CODE__RPC_BAD_REQUEST);
}

static void test_too_many_truncated(void **state)
{
	struct world *w = *state;
	Remsock__Rpc__StatsReply *rep;
	unsigned n = 2000;
	char name[32];
	size_t len;

	rs_svc_ctl_counters_set(w->ctl, source, &n);
	rep = call_stats(w, 0, &len);
	assert_true(rep->truncated);
	/* Cut where the entry is full, not far before: a counter here
	 * packs to 16 bytes. */
	assert_true(rep->n_counter > QROWS + 200);
	assert_true(rep->n_counter < QROWS + n);
	assert_true(len > RS_SVC_MSG_DATA_MAX - 64);
	/* What is there is the source's first counters, in order. */
	assert_string_equal(rep->counter[QROWS]->name, "test.0000");
	snprintf(name, sizeof(name), "test.%04zu", rep->n_counter - 1 - QROWS);
	assert_string_equal(rep->counter[rep->n_counter - 1]->name, name);
	remsock__rpc__stats_reply__free_unpacked(rep, NULL);
}

int main(void)
{
	char *argv[] = {"test_svc_stats",
			"--no-huge",
			"-m",
			"64",
			"--no-pci",
			"--no-shconf",
			"--no-telemetry",
			"-l",
			"0",
			"--log-level=*:error",
			NULL};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quotas_only),
	    cmocka_unit_test(test_source_in_order),
	    cmocka_unit_test(test_counters_for_the_operator_only),
	    cmocka_unit_test(test_app_view),
	    cmocka_unit_test(test_too_many_truncated),
	};

	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		fprintf(stderr, "test_svc_stats: EAL init failed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
