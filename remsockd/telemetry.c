/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * remsockd's telemetry commands (see telemetry.h).
 *
 * DPDK runs them on its telemetry thread, outside the EAL's lcores, and
 * offers no way to unregister one: the objects they read are published
 * under a mutex, and rsd_telemetry_stop() takes them back before remsockd
 * frees them.  The mutex is only ever taken by that thread and by the
 * control thread at start and stop, never on the data path.  The
 * counters themselves are read as remsock.Stats reads them (atomic
 * loads of what the workers write); the ACL's denial counters are left
 * out, because a reload frees the old ACL once the workers (not this
 * thread) have let go of it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "rs_apps.h"
#include "rs_log.h"
#include "telemetry.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct rsd_telemetry *cur; /* NULL: stopped */

/* Telemetry's names take letters, digits, '_' and '/' only: Stats'
 * "rpc.calls" is "rpc_calls" here. */
static void dict_add(void *d, const char *name, uint64_t value)
{
	char n[RTE_TEL_MAX_STRING_LEN];
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < sizeof(n); i++)
		n[i] = name[i] == '.' || name[i] == '-' ? '_' : name[i];
	n[i] = '\0';
	/* A dict holds RTE_TEL_MAX_DICT_ENTRIES: the rest is left out. */
	rte_tel_data_add_dict_u64(d, n, value);
}

/* Run @p fn on what the commands read, if remsockd still runs. */
static int with(int (*fn)(const struct rsd_telemetry *, const char *,
			  struct rte_tel_data *),
		const char *params, struct rte_tel_data *d)
{
	int rc = -EAGAIN;

	pthread_mutex_lock(&lock);
	if (cur != NULL)
		rc = fn(cur, params, d);
	pthread_mutex_unlock(&lock);
	return rc;
}

static int stats(const struct rsd_telemetry *t, const char *params,
		 struct rte_tel_data *d)
{
	(void)params;
	rte_tel_data_start_dict(d);
	t->counters(t->counters_src, dict_add, d);
	return 0;
}

static int apps(const struct rsd_telemetry *t, const char *params,
		struct rte_tel_data *d)
{
	const struct rs_apps *a = t->sh->apps;
	int app;

	if (params == NULL || *params == '\0') {
		rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
		for (uint32_t i = 0; i < rs_apps_count(a); i++)
			rte_tel_data_add_array_string(d, rs_apps_id(a, i));
		return 0;
	}
	app = rs_apps_find(a, params, strlen(params));
	if (app < 0)
		return -EINVAL;
	rte_tel_data_start_dict(d);
	rs_apps_quota_counters(a, (uint32_t)app, dict_add, d);
	return 0;
}

static int workers(const struct rsd_telemetry *t, const char *params,
		   struct rte_tel_data *d)
{
	struct rs_dp_stats st;
	struct rs_dp_info info;
	char *end;
	long k;

	rs_dp_info_get(t->dp, &info);
	rte_tel_data_start_dict(d);
	if (params == NULL || *params == '\0') {
		rte_tel_data_add_dict_u64(d, "count", info.workers);
		for (unsigned i = 0; i < info.workers; i++) {
			char name[32];

			snprintf(name, sizeof(name), "lcore_%u", i);
			rte_tel_data_add_dict_u64(d, name,
						  info.worker_lcore[i]);
		}
		return 0;
	}
	k = strtol(params, &end, 10);
	if (*end != '\0' || k < 0 || k >= (long)info.workers ||
	    rs_dp_stats_read(t->dp, (int)k, &st) < 0)
		return -EINVAL;
	rte_tel_data_add_dict_u64(d, "lcore", info.worker_lcore[k]);
	rte_tel_data_add_dict_u64(d, "rx_pkts", st.rx_pkts);
	rte_tel_data_add_dict_u64(d, "rx_bytes", st.rx_bytes);
	rte_tel_data_add_dict_u64(d, "tx_pkts", st.tx_pkts);
	rte_tel_data_add_dict_u64(d, "tx_bytes", st.tx_bytes);
	rte_tel_data_add_dict_u64(d, "tx_dropped", st.tx_dropped);
	rte_tel_data_add_dict_u64(d, "busy_cycles", st.busy_cycles);
	rte_tel_data_add_dict_u64(d, "busy_loops", st.busy_loops);
	rte_tel_data_add_dict_u64(d, "tcp_conns", st.tcp_conns);
	return 0;
}

static int sockets(const struct rsd_telemetry *t, const char *params,
		   struct rte_tel_data *d)
{
	struct rs_svc_dp_stats ds;
	struct rs_svc_ctl_stats cs;
	struct rs_dp_stats st;

	(void)params;
	rs_svc_dp_stats_get(t->sdp, &ds);
	rs_svc_ctl_stats_get(t->ctl, &cs);
	rs_dp_stats_read(t->dp, -1, &st);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "sockets_open", ds.socks_open);
	rte_tel_data_add_dict_u64(d, "descriptors", cs.descriptors);
	rte_tel_data_add_dict_u64(d, "tcp_conns", st.tcp_conns);
	rte_tel_data_add_dict_u64(d, "rpc_conns_open", ds.conns_open);
	rte_tel_data_add_dict_u64(d, "calls_waiting", ds.waits);
	return 0;
}

/* /remsock/log: the components' levels; /remsock/log,COMPONENT,LEVEL
 * sets one ("*" for all). */
static int log_levels(const struct rsd_telemetry *t, const char *params,
		      struct rte_tel_data *d)
{
	char comp[32];
	const char *comma;

	(void)t;
	if (params != NULL && *params != '\0') {
		comma = strchr(params, ',');
		if (comma == NULL || (size_t)(comma - params) >= sizeof(comp))
			return -EINVAL;
		memcpy(comp, params, (size_t)(comma - params));
		comp[comma - params] = '\0';
		if (rs_log_level_set(comp, comma + 1) < 0)
			return -EINVAL;
		rs_log(RS_LOG_CONTROL, RTE_LOG_NOTICE,
		       "log level of %s set to %s (telemetry)", comp,
		       comma + 1);
	}
	rte_tel_data_start_dict(d);
	for (unsigned i = 0; i < RS_LOG_TYPES; i++)
		rte_tel_data_add_dict_u64(d, rs_log_type_name(i),
					  rs_log_level(i));
	return 0;
}

#define CMD(fn)                                                                \
	static int cmd_##fn(const char *c, const char *p,                      \
			    struct rte_tel_data *d)                            \
	{                                                                      \
		(void)c;                                                       \
		return with(fn, p, d);                                         \
	}
CMD(stats)
CMD(apps)
CMD(workers)
CMD(sockets)
CMD(log_levels)

void rsd_telemetry_start(const struct rsd_telemetry *t)
{
	static bool registered;

	pthread_mutex_lock(&lock);
	cur = t;
	pthread_mutex_unlock(&lock);
	if (registered)
		return;
	registered = true;
	/* A help text longer than RTE_TEL_MAX_STRING_LEN is refused. */
	rte_telemetry_register_cmd("/remsock/stats", cmd_stats,
				   "remsockd's counters, as remsock.Stats "
				   "gives them.  No parameters");
	rte_telemetry_register_cmd("/remsock/apps", cmd_apps,
				   "The apps; with an app id, its quotas.  "
				   "Parameters: [APP]");
	rte_telemetry_register_cmd("/remsock/workers", cmd_workers,
				   "The workers; with N, worker N's packets "
				   "and busy cycles.  Parameters: [N]");
	rte_telemetry_register_cmd("/remsock/log", cmd_log_levels,
				   "Log levels (8 debug .. 1 emerg); "
				   "COMPONENT,LEVEL sets one, * all.  "
				   "Parameters: [COMPONENT,LEVEL]");
	rte_telemetry_register_cmd("/remsock/sockets", cmd_sockets,
				   "Sockets, descriptors and connections open "
				   "now.  No parameters");
}

void rsd_telemetry_stop(void)
{
	pthread_mutex_lock(&lock);
	cur = NULL;
	pthread_mutex_unlock(&lock);
}
