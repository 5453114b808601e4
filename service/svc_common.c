/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What both halves of the service share: the entry pool, the rings, the
 * error helper.  See rs_svc.h for who sends what where.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "remote_socket.pb-c.h"
#include "rs_acl.h"
#include "rs_apps.h"
#include "rs_config.h"
#include "rs_log.h"
#include "rs_rpc.h"
#include "rs_svc.h"

/* Key of a descriptor in the owners directory: its characters, zero
 * padded to whole words (rte_jhash reads words). */
#define OWNER_KEY_LEN 24
_Static_assert(OWNER_KEY_LEN > RS_DESC_LEN && OWNER_KEY_LEN % 4 == 0, "key");

static void drain(struct rs_svc_shared *sh, struct rte_ring *r)
{
	void *m;

	while (r != NULL && rte_ring_dequeue(r, &m) == 0)
		rs_svc_msg_put(sh, m);
}

void rs_svc_shared_drain(struct rs_svc_shared *sh)
{
	drain(sh, sh->to_ctl);
	for (unsigned k = 0; k < sh->workers; k++) {
		drain(sh, sh->to_worker[k]);
		drain(sh, sh->to_peer[k]);
	}
}

void rs_svc_shared_free(struct rs_svc_shared *sh)
{
	if (sh == NULL)
		return;
	if (sh->pool != NULL)
		rs_svc_shared_drain(sh);
	for (unsigned k = 0; k < sh->workers; k++) {
		rte_ring_free(sh->to_worker[k]);
		rte_ring_free(sh->to_peer[k]);
	}
	rte_ring_free(sh->to_ctl);
	rte_hash_free(sh->owners);
	rte_mempool_free(sh->pool);
	rs_rpc_registry_destroy(sh->registry);
	rs_apps_free(sh->apps);
	rs_acl_free(sh->acl);
	if (sh->dns != &sh->cfg->dns) /* a reload's copy */
		free((void *)sh->dns);
	free(sh);
}

static int rings_create(struct rs_svc_shared *sh, char *err, size_t errlen)
{
	unsigned size = sh->cfg->limits.msg_ring_size;
	char name[RTE_RING_NAMESIZE];

	unsigned rings = sh->workers == 1 ? 2 : 2 * sh->workers + 1;

	/* Entries for every ring full at once, and a worker's in-flight
	 * ones: running dry would only delay calls, never lose them. */
	sh->pool = rte_mempool_create("rs_svc_msgs", rings * size,
				      RS_SVC_MSG_SIZE, 0, 0, NULL, NULL, NULL,
				      NULL, (int)rte_socket_id(), 0);
	if (sh->pool == NULL)
		goto fail;
	sh->to_ctl = rte_ring_create("rs_svc_to_ctl", size,
				     (int)rte_socket_id(), RING_F_SC_DEQ);
	if (sh->to_ctl == NULL)
		goto fail;
	for (unsigned k = 0; k < sh->workers; k++) {
		snprintf(name, sizeof(name), "rs_svc_to_w%u", k);
		sh->to_worker[k] =
		    rte_ring_create(name, size, (int)rte_socket_id(),
				    RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (sh->to_worker[k] == NULL)
			goto fail;
		if (sh->workers == 1)
			continue;
		snprintf(name, sizeof(name), "rs_svc_to_p%u", k);
		sh->to_peer[k] = rte_ring_create(
		    name, size, (int)rte_socket_id(), RING_F_SC_DEQ);
		if (sh->to_peer[k] == NULL)
			goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen,
		 "service message rings ([limits] msg_ring_size = %u, %u "
		 "entries of %u bytes): %s",
		 size, rings * size, RS_SVC_MSG_SIZE, rte_strerror(rte_errno));
	return -(rte_errno ? rte_errno : ENOMEM);
}

/* Several workers: the directory of descriptors' workers.  Control
 * writes it and the workers read it, under rte_hash's reader-writer
 * lock; a worker reads it only for a descriptor it does not hold. */
static int owners_create(struct rs_svc_shared *sh, char *err, size_t errlen)
{
	struct rte_hash_parameters p = {
	    .name = "rs_svc_owners",
	    .entries = RTE_MAX(sh->cfg->sockets.max * sh->workers, 8u),
	    .key_len = OWNER_KEY_LEN,
	    .hash_func = rte_jhash,
	    .socket_id = (int)rte_socket_id(),
	    .extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY,
	};

	sh->owners = rte_hash_create(&p);
	if (sh->owners != NULL)
		return 0;
	snprintf(err, errlen, "service: the descriptor directory: %s",
		 rte_strerror(rte_errno));
	return -(rte_errno ? rte_errno : ENOMEM);
}

static void owner_key(const char *desc, uint8_t key[OWNER_KEY_LEN])
{
	memset(key, 0, OWNER_KEY_LEN);
	memcpy(key, desc, strnlen(desc, RS_DESC_LEN));
}

int rs_svc_owner_set(struct rs_svc_shared *sh, const char *desc,
		     unsigned worker)
{
	uint8_t key[OWNER_KEY_LEN];

	if (sh->owners == NULL)
		return 0;
	owner_key(desc, key);
	return rte_hash_add_key_data(sh->owners, key,
				     (void *)(uintptr_t)worker);
}

void rs_svc_owner_del(struct rs_svc_shared *sh, const char *desc)
{
	uint8_t key[OWNER_KEY_LEN];

	if (sh->owners == NULL)
		return;
	owner_key(desc, key);
	rte_hash_del_key(sh->owners, key);
}

int rs_svc_owner_get(const struct rs_svc_shared *sh, const char *desc)
{
	uint8_t key[OWNER_KEY_LEN];
	void *data;

	if (sh->owners == NULL || strlen(desc) != RS_DESC_LEN)
		return -1;
	owner_key(desc, key);
	if (rte_hash_lookup_data(sh->owners, key, &data) < 0)
		return -1;
	return (int)(uintptr_t)data;
}

struct rs_svc_shared *rs_svc_shared_create(const struct rs_config *cfg,
					   unsigned workers, char *err,
					   size_t errlen)
{
	struct rs_svc_shared *sh;
	int rc = 0;

	if (workers == 0 || workers > RTE_DIM(sh->to_worker)) {
		snprintf(err, errlen, "service: %u workers (1-%u)", workers,
			 RS_CONFIG_WORKERS_MAX);
		errno = EINVAL;
		return NULL;
	}
	sh = calloc(1, sizeof(*sh));
	if (sh == NULL)
		goto err_nomem;
	sh->cfg = cfg;
	sh->dns = &cfg->dns;
	sh->workers = workers;
	sh->acl = rs_acl_create_from_config(cfg, &rc);
	if (sh->acl == NULL) {
		snprintf(err, errlen, "[acl]: %s", strerror(-rc));
		goto err_free;
	}
	sh->apps = rs_apps_create(cfg, &rc);
	if (sh->apps == NULL) {
		snprintf(err, errlen, "[apps]: %s", strerror(-rc));
		goto err_free;
	}
	sh->registry = rs_rpc_registry_create();
	if (sh->registry == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "service registry: %s", strerror(-rc));
		goto err_free;
	}
	rc = rings_create(sh, err, errlen);
	if (rc == 0 && workers > 1)
		rc = owners_create(sh, err, errlen);
	if (rc < 0)
		goto err_free;
	return sh;

err_free:
	rs_svc_shared_free(sh);
	errno = rc < 0 ? -rc : EINVAL;
	return NULL;
err_nomem:
	snprintf(err, errlen, "service: out of memory");
	errno = ENOMEM;
	return NULL;
}

unsigned rs_svc_msgs_in_use(const struct rs_svc_shared *sh)
{
	return rte_mempool_in_use_count(sh->pool);
}

const struct rs_config_dns *rs_svc_dns_swap(struct rs_svc_shared *sh,
					    const struct rs_config_dns *dns)
{
	const struct rs_config_dns *old =
	    __atomic_exchange_n(&sh->dns, dns, __ATOMIC_ACQ_REL);

	__atomic_fetch_add(&sh->dns_gen, 1, __ATOMIC_RELEASE);
	return old;
}

void rs_svc_ring_counters(const struct rs_svc_shared *sh,
			  void (*emit)(void *arg, const char *name,
				       uint64_t value),
			  void *arg)
{
	char name[32];

	emit(arg, "ring.size", rte_ring_get_capacity(sh->to_ctl));
	emit(arg, "ring_used.to_ctl", rte_ring_count(sh->to_ctl));
	for (unsigned k = 0; k < sh->workers; k++) {
		snprintf(name, sizeof(name), "ring_used.to_worker%u", k);
		emit(arg, name, rte_ring_count(sh->to_worker[k]));
		if (sh->to_peer[k] == NULL)
			continue;
		snprintf(name, sizeof(name), "ring_used.to_peer%u", k);
		emit(arg, name, rte_ring_count(sh->to_peer[k]));
	}
	emit(arg, "msgs.size",
	     rte_mempool_avail_count(sh->pool) +
		 rte_mempool_in_use_count(sh->pool));
	emit(arg, "msgs.in_use", rte_mempool_in_use_count(sh->pool));
}

int rs_svc_msg_send(struct rs_svc_shared *sh, int k, struct rs_svc_msg *m)
{
	struct rte_ring *r = k < 0 ? sh->to_ctl : sh->to_worker[k];

	if (rte_ring_enqueue(r, m) != 0)
		return -ENOBUFS;
	if (k >= 0 && sh->wake != NULL)
		sh->wake(sh->wake_arg, (unsigned)k);
	return 0;
}

struct rs_svc_msg *rs_svc_msg_get(struct rs_svc_shared *sh)
{
	void *m;

	if (rte_mempool_get(sh->pool, &m) < 0)
		return NULL;
	memset(m, 0, sizeof(struct rs_svc_msg));
	return m;
}

void rs_svc_msg_put(struct rs_svc_shared *sh, struct rs_svc_msg *m)
{
	if (m->flags & RS_SVC_MSG_F_HEAP) {
		free(*(uint8_t **)m->data);
		m->flags &= (uint8_t)~RS_SVC_MSG_F_HEAP;
	}
	rte_mempool_put(sh->pool, m);
}

int rs_svc_msg_set_frame(struct rs_svc_msg *m, const uint8_t *buf, size_t len)
{
	uint8_t *p;

	m->len = (uint32_t)len;
	if (len <= RS_SVC_MSG_DATA_MAX) {
		memcpy(m->data, buf, len);
		return 0;
	}
	p = malloc(len);
	if (p == NULL)
		return -ENOMEM;
	memcpy(p, buf, len);
	memcpy(m->data, &p, sizeof(p));
	m->flags |= RS_SVC_MSG_F_HEAP;
	return 0;
}

const uint8_t *rs_svc_msg_frame(const struct rs_svc_msg *m)
{
	return (m->flags & RS_SVC_MSG_F_HEAP) ? *(uint8_t *const *)m->data
					      : m->data;
}

int rs_svc_peer_send(struct rs_svc_shared *sh, unsigned k, struct rs_svc_msg *m)
{
	return rte_ring_enqueue(sh->to_peer[k], m) == 0 ? 0 : -ENOBUFS;
}

void rs_svc_error(struct rs_rpc_call *call, int code, int sys_errno,
		  const char *fmt, ...)
{
	Remsock__RemoteSocketServiceError *e;
	char buf[RS_RPC_DETAIL_MAX], *detail;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* It cleans the detail: names in it may come from the peer. */
	rs_rpc_call_set_app_error(call, code, "%s", buf);
	e = rs_arena_alloc(call->arena, sizeof(*e));
	detail = rs_arena_alloc(call->arena, strlen(call->detail) + 1);
	if (e == NULL || detail == NULL)
		return; /* the code and the detail still go out */
	remsock__remote_socket_service_error__init(e);
	strcpy(detail, call->detail);
	e->has_system_error = sys_errno != 0;
	e->system_error = sys_errno;
	e->error_detail = detail;
	call->error_body = &e->base;
}

#define ERR(name) REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__##name

/* The IPv4 address of an AddressPort, or false with the call answered. */
bool rs_svc_addr_get(struct rs_rpc_call *call, const Remsock__AddressPort *a,
		     uint32_t *ip, uint16_t *port)
{
	if (a->port < 0 || a->port > 65535) {
		rs_svc_error(call, ERR(INVALID_REQUEST), 0, "port %d", a->port);
		return false;
	}
	*port = (uint16_t)a->port;
	*ip = 0;
	if (!a->has_packed_address || a->packed_address.len == 0)
		return true;
	if (a->packed_address.len == 16) {
		static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
		static const uint8_t any[16];
		const uint8_t *p = a->packed_address.data;

		if (memcmp(p, any, 16) == 0)
			return true;
		if (memcmp(p, mapped, 12) == 0) {
			memcpy(ip, p + 12, 4);
			return true;
		}
		rs_svc_sys_error(call, ENETUNREACH,
				 "an IPv6 address: the proxy's network is "
				 "IPv4 only (IPv4-mapped ::ffff:a.b.c.d "
				 "addresses work)");
		return false;
	}
	if (a->packed_address.len != 4) {
		rs_svc_error(call, ERR(INVALID_REQUEST), 0,
			     "packed_address of %zu bytes",
			     a->packed_address.len);
		return false;
	}
	memcpy(ip, a->packed_address.data, 4);
	return true;
}

struct rs_acl *rs_svc_acl_swap(struct rs_svc_shared *sh, struct rs_acl *acl)
{
	return __atomic_exchange_n(&sh->acl, acl, __ATOMIC_ACQ_REL);
}

/* Whether the ACL lets the app reach @p a; answers the call when not. */
/* A tenant can cause denials at will: each thread logs at most this
 * many a second, and says how many it held back. */
#define ACL_LOG_PER_S 10

bool rs_svc_acl_check(const struct rs_svc_shared *sh, struct rs_rpc_call *call,
		      uint32_t app, const Remsock__AddressPort *a)
{
	static __thread struct rs_log_limit limit;
	uint32_t held;
	const struct rs_acl *acl = rs_svc_acl(sh);
	const struct rs_acl_rule *rule;
	char ip[INET_ADDRSTRLEN], why[160];
	uint32_t addr;
	uint16_t port;

	if (!rs_svc_addr_get(call, a, &addr, &port))
		return false;
	if (rs_acl_allows(acl, addr, port, &rule))
		return true;
	rs_acl_count_denial(acl, rule);
	inet_ntop(AF_INET, &addr, ip, sizeof(ip));
	rs_acl_rule_format(rule, why, sizeof(why));
	rs_svc_error(call, ERR(PERMISSION_DENIED), 0, "%s:%u denied by %s", ip,
		     port, why);
	if (rs_log_on(RS_LOG_ACL, RTE_LOG_NOTICE) &&
	    rs_log_limit_now(&limit, ACL_LOG_PER_S, &held))
		rs_log(RS_LOG_ACL, RTE_LOG_NOTICE,
		       "app %s: %s:%u denied by %s (%u more held back before "
		       "this)",
		       rs_apps_id(sh->apps, app), ip, port, why, held);
	return false;
}

void rs_svc_addr_v6(uint32_t ip, uint8_t out[16])
{
	memset(out, 0, 16);
	if (ip == 0)
		return;
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &ip, 4);
}

unsigned rs_svc_resolve_len(const Remsock__ResolveRequest *req)
{
	bool v6 = false;

	for (size_t i = 0; i < req->n_address_families; i++) {
		if (req->address_families[i] ==
		    REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv4)
			return 4;
		v6 |= req->address_families[i] ==
		      REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv6;
	}
	return req->n_address_families == 0 ? 4 : v6 ? 16 : 0;
}

int rs_svc_resolve_reply(struct rs_rpc_call *call, Remsock__ResolveReply *resp,
			 const char *name, const uint32_t *addr, unsigned n,
			 unsigned len, const uint8_t (*addr6)[16], unsigned n6)
{
	resp->packed_address = rs_arena_alloc(
	    call->arena, (n + n6) * sizeof(*resp->packed_address));
	if (resp->packed_address == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = rs_arena_alloc(call->arena, len);

		if (p == NULL)
			return -ENOMEM;
		if (len == 16)
			rs_svc_addr_v6(addr[i], p);
		else
			memcpy(p, &addr[i], 4);
		resp->packed_address[i] =
		    (ProtobufCBinaryData){.len = len, .data = p};
	}
	for (unsigned i = 0; i < n6; i++) {
		uint8_t *p = rs_arena_alloc(call->arena, 16);

		if (p == NULL)
			return -ENOMEM;
		memcpy(p, addr6[i], 16);
		resp->packed_address[n + i] =
		    (ProtobufCBinaryData){.len = 16, .data = p};
	}
	resp->n_packed_address = n + n6;
	resp->canonical_name = rs_arena_strdup(call->arena, name);
	return resp->canonical_name != NULL ? 0 : -ENOMEM;
}
