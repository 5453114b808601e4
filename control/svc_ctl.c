/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread's half of the remote socket service.
 *
 * A CALL entry holds a request frame that a worker forwarded from an
 * authenticated connection.  It is dispatched here with the control
 * plane's handlers, which never touch a socket: they decide.  A handler
 * either answers (an error, or a reply control can make alone) -- the
 * response frame goes back in the same entry as RESPOND -- or approves
 * the call with approve(), which parks it for the dispatcher: the entry
 * then goes back unchanged as EXEC, with the new descriptor when the
 * method makes one, and the worker runs the socket half (dataplane/
 * svc_exec.c).  The EXEC goes to the socket's worker (its target), which
 * may not be the connection's: it then sends the answer to the
 * connection's worker itself.  A new socket lives on the connection's
 * worker, an accepted one on its listener's; the directory of owners
 * (rs_svc_owner_set()) tells the workers which.  Its interface, for
 * remsockd's main, is rs_svc_ctl.h.
 *
 * The descriptor table is the authority on which app owns which
 * descriptor and on which worker it lives.  Sockets are charged to the
 * app's quota here, when their descriptor is made; the worker gives the
 * charge back when the socket is really gone (a Close that waits for
 * Sends still on their way keeps it), or when the descriptor never got a
 * socket.  A descriptor is forgotten here at once on Close (nothing but
 * "closed" answers it from then on), or on a GONE entry from the
 * worker.
 *
 * remsock.Stats is answered here too: the caller app's quota counters,
 * and for [service] operator every worker's counters (through the source
 * remsockd's main sets).
 *
 * Answers to a worker whose ring is full wait in a small backlog, and
 * while it is not empty no new CALL is taken: the workers then see
 * to_ctl fill up and refuse calls with RPC_OVER_QUOTA, which a client
 * retries, rather than anything being lost.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <rte_ring.h>

#include "remote_socket.pb-c.h"
#include "rs_acl.h"
#include "rs_apps.h"
#include "rs_config.h"
#include "rs_desc.h"
#include "rs_rpc.h"
#include "rs_svc.h"
#include "rs_svc_ctl.h"
#include "rs_wire.h"

#define ERR(name) REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__##name
#define RPC_ERR(name) REMSOCK__RPC__RPC_ERROR_CODE__RPC_##name
#define GAI(name) REMSOCK__RESOLVE_REPLY__ERROR_CODE__SOCKET_EAI_##name

/* Answers held for a worker whose ring was full. */
#define BACKLOG_MAX 256

struct rs_svc_ctl {
	struct rs_svc_shared *sh;
	struct rs_desc_table *desc;
	struct rs_arena *arena;
	struct rs_rpc_env env;
	struct rs_svc_msg *cur; /* the entry being served */
	bool approved;		/* the handler said EXEC */
	uint16_t target;	/* ... on this worker: the socket's */
	int64_t operator_app;	/* [service] operator's number, or -1 */
	unsigned nbacklog;
	struct rs_svc_msg *backlog[BACKLOG_MAX];
	struct rs_svc_ctl_stats st;
	uint8_t out[RS_SVC_MSG_DATA_MAX];
};

/* ---- helpers ------------------------------------------------------------ */

static void approve(struct rs_svc_ctl *ctl, struct rs_rpc_call *call)
{
	ctl->approved = true;
	rs_rpc_call_park(call);
}

/* The record of a descriptor of the caller's app, or NULL with the call
 * answered.  A descriptor of another app is answered the same way as one
 * that never existed. */
static struct rs_desc_rec *find(struct rs_svc_ctl *ctl,
				struct rs_rpc_call *call, const char *desc)
{
	struct rs_desc_rec *rec;

	rec = rs_desc_lookup(ctl->desc, ctl->cur->app, desc, strlen(desc));
	if (rec == NULL) {
		rs_svc_closed(call, "no such socket descriptor");
		return NULL;
	}
	/* The socket half runs where the socket lives; its answer goes to
	 * the connection's worker. */
	ctl->target = rec->worker;
	return rec;
}

/* A new descriptor for the caller, charged to its socket quota; false
 * with the call answered when the quota or the table is full. */
static bool desc_new(struct rs_svc_ctl *ctl, struct rs_rpc_call *call,
		     enum rs_desc_kind kind)
{
	struct rs_svc_msg *m = ctl->cur;
	/* On the worker that runs the EXEC: the connection's for a new
	 * socket, the listener's for an accepted one. */
	struct rs_desc_rec rec = {
	    .app = m->app,
	    .worker = ctl->target,
	    .kind = (uint8_t)kind,
	};
	int rc;

	if (rs_apps_charge(ctl->sh->apps, m->app, RS_QUOTA_SOCKETS, 1) < 0) {
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(OVER_QUOTA),
		    "app %s: socket quota (%lu) used",
		    rs_apps_id(ctl->sh->apps, m->app),
		    (unsigned long)rs_apps_limit(ctl->sh->apps, m->app,
						 RS_QUOTA_SOCKETS));
		return false;
	}
	rc = rs_desc_insert(ctl->desc, &rec, m->desc);
	if (rc < 0) {
		rs_apps_uncharge(ctl->sh->apps, m->app, RS_QUOTA_SOCKETS, 1);
		rs_svc_sys_error(call, rc == -ENOSPC ? ENFILE : -rc,
				 "descriptor table: %s", strerror(-rc));
		return false;
	}
	rc = rs_svc_owner_set(ctl->sh, m->desc, rec.worker);
	if (rc < 0) { /* cannot happen: the directory holds the table */
		rs_desc_remove(ctl->desc, m->app, m->desc, RS_DESC_LEN, NULL);
		rs_apps_uncharge(ctl->sh->apps, m->app, RS_QUOTA_SOCKETS, 1);
		rs_svc_sys_error(call, ENFILE, "descriptor directory: %s",
				 strerror(-rc));
		return false;
	}
	return true;
}

/* Forget a descriptor; its quota is the worker's to give back. */
static void desc_forget(struct rs_svc_ctl *ctl, uint32_t app, const char *d)
{
	if (rs_desc_remove(ctl->desc, app, d, strlen(d), NULL) == 0)
		rs_svc_owner_del(ctl->sh, d);
}

/* ---- the control-plane methods ------------------------------------------ */

static int do_create_socket(void *ctx, struct rs_rpc_call *call,
			    const ProtobufCMessage *reqm,
			    ProtobufCMessage *respm)
{
	const Remsock__CreateSocketRequest *req = (const void *)reqm;
	struct rs_svc_ctl *ctl = ctx;
	bool tcp = req->protocol ==
		   REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_PROTOCOL__TCP;
	uint32_t ip;
	uint16_t port;

	/* An IPv6 socket is an IPv4 one that speaks IPv4-mapped addresses
	 * (Java's runtime makes every socket so). */
	if ((req->family !=
		 REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv4 &&
	     req->family !=
		 REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv6) ||
	    (!tcp &&
	     req->protocol !=
		 REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_PROTOCOL__UDP)) {
		rs_svc_error(call, ERR(INVALID_REQUEST), 0,
			     "family %d, protocol %d", req->family,
			     req->protocol);
		return 0;
	}
	if (req->proxy_external_ip != NULL &&
	    !rs_svc_addr_get(call, req->proxy_external_ip, &ip, &port))
		return 0;
	if (req->remote_ip != NULL &&
	    !rs_svc_acl_check(ctl->sh, call, ctl->cur->app, req->remote_ip))
		return 0;
	if (!desc_new(ctl, call, tcp ? RS_DESC_TCP : RS_DESC_UDP))
		return 0;
	approve(ctl, call);
	return 0;
}

/* Methods that name a socket and need nothing more from control. */
#define BY_DESC(fn, type)                                                      \
	static int fn(void *ctx, struct rs_rpc_call *call,                     \
		      const ProtobufCMessage *reqm, ProtobufCMessage *respm)   \
	{                                                                      \
		const type *req = (const void *)reqm;                          \
		struct rs_svc_ctl *ctl = ctx;                                  \
                                                                               \
		if (find(ctl, call, req->socket_descriptor) != NULL)           \
			approve(ctl, call);                                    \
		return 0;                                                      \
	}
BY_DESC(do_bind, Remsock__BindRequest)
BY_DESC(do_get_socket_name, Remsock__GetSocketNameRequest)
BY_DESC(do_get_peer_name, Remsock__GetPeerNameRequest)
BY_DESC(do_set_socket_options, Remsock__SetSocketOptionsRequest)
BY_DESC(do_get_socket_options, Remsock__GetSocketOptionsRequest)
BY_DESC(do_listen, Remsock__ListenRequest)
BY_DESC(do_shut_down, Remsock__ShutDownRequest)

static int do_connect(void *ctx, struct rs_rpc_call *call,
		      const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__ConnectRequest *req = (const void *)reqm;
	struct rs_svc_ctl *ctl = ctx;

	if (find(ctl, call, req->socket_descriptor) != NULL &&
	    rs_svc_acl_check(ctl->sh, call, ctl->cur->app, req->remote_ip))
		approve(ctl, call);
	return 0;
}

static int do_accept(void *ctx, struct rs_rpc_call *call,
		     const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__AcceptRequest *req = (const void *)reqm;
	struct rs_svc_ctl *ctl = ctx;

	/* The accepted socket's descriptor is made now; the worker gives
	 * it back (GONE) if no connection comes. */
	if (find(ctl, call, req->socket_descriptor) != NULL &&
	    desc_new(ctl, call, RS_DESC_TCP))
		approve(ctl, call);
	return 0;
}

static int do_close_socket(void *ctx, struct rs_rpc_call *call,
			   const ProtobufCMessage *reqm,
			   ProtobufCMessage *respm)
{
	const Remsock__CloseRequest *req = (const void *)reqm;
	struct rs_svc_ctl *ctl = ctx;

	/* As App Engine: a descriptor the app does not have closes
	 * silently (a client's cleanup, a Close sent again). */
	if (rs_desc_lookup(ctl->desc, ctl->cur->app, req->socket_descriptor,
			   strlen(req->socket_descriptor)) == NULL)
		return 0;
	if (find(ctl, call, req->socket_descriptor) == NULL)
		return 0;
	desc_forget(ctl, ctl->cur->app, req->socket_descriptor);
	approve(ctl, call);
	return 0;
}

/* Resolve: a numeric IPv4 name and the [hosts] table are answered here;
 * other names go to the worker, which asks [dns] servers. */
static int do_resolve(void *ctx, struct rs_rpc_call *call,
		      const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__ResolveRequest *req = (const void *)reqm;
	const struct rs_config *cfg = ((struct rs_svc_ctl *)ctx)->sh->cfg;
	struct rs_svc_ctl *ctl = ctx;
	unsigned len = rs_svc_resolve_len(req);
	struct in_addr a;

	if (len == 0) {
		rs_svc_error(call, ERR(GAI_ERROR), GAI(ADDRFAMILY),
			     "neither IPv4 nor IPv6 asked");
		return 0;
	}
	if (inet_pton(AF_INET, req->name, &a) == 1)
		return rs_svc_resolve_reply(call, (void *)respm, req->name,
					    &a.s_addr, 1, len, NULL, 0);
	for (uint32_t i = 0; i < cfg->nhosts; i++)
		if (strcasecmp(cfg->hosts[i].name, req->name) == 0)
			return rs_svc_resolve_reply(
			    call, (void *)respm, cfg->hosts[i].name,
			    cfg->hosts[i].addr, cfg->hosts[i].naddr, len, NULL,
			    0);
	if (cfg->dns.nservers == 0) {
		rs_svc_error(call, ERR(GAI_ERROR), GAI(NONAME),
			     "'%.60s' is not in [hosts], and no [dns] "
			     "servers are set",
			     req->name);
		return 0;
	}
	approve(ctl, call);
	return 0;
}

/* ---- remsock.Stats ------------------------------------------------------ */

/* A reply being filled: counters go in while their packed size fits
 * @c room, so that the response frame fits one entry. */
struct stats_fill {
	struct rs_arena *arena;
	Remsock__Rpc__StatsReply *resp;
	size_t room, max;
	bool nomem;
};

static void stats_add(void *arg, const char *name, uint64_t value)
{
	struct stats_fill *f = arg;
	size_t nlen = strlen(name);
	size_t inner = 1 + rs_wire_varint_size(nlen) + nlen + 1 +
		       rs_wire_varint_size(value);
	size_t need = 1 + rs_wire_varint_size(inner) + inner;
	Remsock__Rpc__StatsCounter *c;

	if (f->nomem || f->resp->truncated)
		return;
	if (need > f->room || f->resp->n_counter == f->max) {
		f->resp->has_truncated = f->resp->truncated = true;
		return;
	}
	c = rs_arena_alloc(f->arena, sizeof(*c));
	if (c == NULL || (name = rs_arena_strdup(f->arena, name)) == NULL) {
		f->nomem = true;
		return;
	}
	remsock__rpc__stats_counter__init(c);
	c->name = (char *)name;
	c->has_value = true;
	c->value = value;
	f->resp->counter[f->resp->n_counter++] = c;
	f->room -= need;
}

/* The caller app's quotas: quota.<name>.used, .limit and .refused. */
static void stats_quotas(const struct rs_apps *apps, uint32_t app,
			 struct stats_fill *f)
{
	rs_apps_quota_counters(apps, app, stats_add, f);
}

/* Stats: answered here, where every worker's counters can be read. */
static int do_stats(void *ctx, struct rs_rpc_call *call,
		    const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	struct rs_svc_ctl *ctl = ctx;
	const Remsock__Rpc__StatsRequest *req = (const void *)reqm;
	Remsock__Rpc__StatsReply *resp = (void *)respm;
	uint32_t app = ctl->cur->app;
	bool operator= ctl->cur->app == ctl->operator_app, view = false;
	const char *id;
	int found;

	/* Another app's view: the operator's to ask for. */
	if (req->app_id != NULL) {
		found = rs_apps_find(ctl->sh->apps, req->app_id,
				     strlen(req->app_id));
		if (found < 0) {
			rs_rpc_call_set_rpc_error(call, RPC_ERR(BAD_REQUEST),
						  "no app '%.64s'",
						  req->app_id);
			return 0;
		}
		if ((uint32_t)found != app && !operator) {
			rs_rpc_call_set_rpc_error(
			    call, RPC_ERR(SECURITY_VIOLATION),
			    "only [service] operator sees another app's "
			    "counters");
			return 0;
		}
		app = (uint32_t)found;
		view = true;
	}
	id = rs_apps_id(ctl->sh->apps, app);
	/* The envelope around the body: length, call id, body tag and
	 * length, with room to spare. */
	struct stats_fill f = {
	    .arena = call->arena,
	    .resp = resp,
	    .room = sizeof(ctl->out) - 32 - 2 - (2 + strlen(id)),
	    .max = sizeof(ctl->out) / 8, /* a counter packs to >= 8 bytes */
	};

	resp->app_id = rs_arena_strdup(call->arena, id);
	resp->counter =
	    rs_arena_alloc(call->arena, f.max * sizeof(resp->counter[0]));
	if (resp->app_id == NULL || resp->counter == NULL)
		return -ENOMEM;
	stats_quotas(ctl->sh->apps, app, &f);
	/* remsockd's counters tell of every tenant: the operator's only,
	 * and not in an app's view. */
	if (ctl->sh->counters != NULL && operator&& !view)
		ctl->sh->counters(ctl->sh->counters_src, stats_add, &f);
	return f.nomem ? -ENOMEM : 0;
}

static const struct rs_rpc_method stats_method = {
    "Stats", do_stats, &remsock__rpc__stats_request__descriptor,
    &remsock__rpc__stats_reply__descriptor, RS_RPC_PLANE_CONTROL};

void rs_svc_ctl_counters_set(struct rs_svc_ctl *ctl, rs_svc_counters_fn fn,
			     void *src)
{
	ctl->sh->counters = fn;
	ctl->sh->counters_src = src;
}

/* ---- registration ------------------------------------------------------- */

#define M(name, fn, type) RS_SVC_METHOD(name, fn, type, RS_RPC_PLANE_CONTROL)

static const struct rs_rpc_method methods[] = {
    M("CreateSocket", do_create_socket, create_socket),
    M("Bind", do_bind, bind),
    M("GetSocketName", do_get_socket_name, get_socket_name),
    M("GetPeerName", do_get_peer_name, get_peer_name),
    M("SetSocketOptions", do_set_socket_options, set_socket_options),
    {"GetSocketOptions", do_get_socket_options,
     &rs_svc_get_socket_options_request_lenient,
     &remsock__get_socket_options_reply__descriptor, RS_RPC_PLANE_CONTROL},
    M("Connect", do_connect, connect),
    M("Listen", do_listen, listen),
    M("Accept", do_accept, accept),
    M("ShutDown", do_shut_down, shut_down),
    M("Close", do_close_socket, close),
    M("Resolve", do_resolve, resolve),
};

struct rs_svc_ctl *rs_svc_ctl_create(struct rs_svc_shared *sh)
{
	const struct rs_config *cfg = sh->cfg;
	struct rs_arena_conf ac = {.limit = 4u << 20};
	struct rs_svc_ctl *ctl;
	uint32_t cap;
	int rc = 0;

	ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL)
		return NULL;
	ctl->operator_app = -1;
	for (uint32_t i = 0; i < rs_apps_count(sh->apps); i++)
		if (strcmp(rs_apps_id(sh->apps, i), cfg->service.operator) == 0)
			ctl->operator_app = i;
	for (unsigned i = 0; i < RTE_DIM(methods); i++) {
		rc = rs_rpc_registry_add(sh->registry, RS_SVC_SERVICE,
					 &methods[i]);
		if (rc < 0)
			goto err;
	}
	rc = rs_rpc_registry_add(sh->registry, RS_SVC_SERVICE_AUTH,
				 &stats_method);
	if (rc < 0)
		goto err;
	/* Room for every worker's sockets. */
	cap = cfg->sockets.max * sh->workers;
	/* Apps a reload adds get numbers up to RS_APPS_SLOTS. */
	ctl->desc =
	    rs_desc_table_create(cap < 16 ? 16 : cap, RS_APPS_SLOTS, &rc);
	if (ctl->desc == NULL)
		goto err;
	ctl->arena = rs_arena_create(&ac);
	if (ctl->arena == NULL) {
		rc = -ENOMEM;
		goto err;
	}
	ctl->sh = sh;
	ctl->env = (struct rs_rpc_env){
	    .registry = sh->registry,
	    .arena = ctl->arena,
	    .ctx = ctl,
	    .plane = RS_RPC_PLANE_CONTROL,
	};
	return ctl;
err:
	rs_svc_ctl_free(ctl);
	errno = -rc;
	return NULL;
}

void rs_svc_ctl_free(struct rs_svc_ctl *ctl)
{
	if (ctl == NULL)
		return;
	for (unsigned i = 0; i < ctl->nbacklog; i++)
		rs_svc_msg_put(ctl->sh, ctl->backlog[i]);
	rs_arena_destroy(ctl->arena);
	rs_desc_table_free(ctl->desc);
	free(ctl);
}

/* ---- the loop ----------------------------------------------------------- */

static void to_worker(struct rs_svc_ctl *ctl, struct rs_svc_msg *m)
{
	if (ctl->nbacklog == 0 && rs_svc_msg_send(ctl->sh, m->target, m) == 0)
		return;
	if (ctl->nbacklog < BACKLOG_MAX) {
		ctl->backlog[ctl->nbacklog++] = m;
		return;
	}
	/* Cannot happen while CALLs stop at a non-empty backlog. */
	ctl->st.ring_full++;
	rs_svc_msg_put(ctl->sh, m);
}

static void backlog_flush(struct rs_svc_ctl *ctl)
{
	unsigned i = 0;

	while (i < ctl->nbacklog &&
	       rs_svc_msg_send(ctl->sh, ctl->backlog[i]->target,
			       ctl->backlog[i]) == 0)
		i++;
	memmove(ctl->backlog, ctl->backlog + i,
		(ctl->nbacklog - i) * sizeof(ctl->backlog[0]));
	ctl->nbacklog -= i;
}

static void serve(struct rs_svc_ctl *ctl, struct rs_svc_msg *m)
{
	struct rs_rpc_call call;
	size_t len = 0;
	int rc;

	ctl->st.calls++;
	ctl->cur = m;
	ctl->approved = false;
	ctl->target = m->worker;
	rs_arena_reset(ctl->arena);
	rc = rs_rpc_dispatch(&ctl->env, m->data, m->len, &call, ctl->out,
			     sizeof(ctl->out), &len);
	if (rc == RS_RPC_PARKED && ctl->approved) {
		m->type = RS_SVC_MSG_EXEC;
		m->target = ctl->target;
		ctl->st.execs++;
		to_worker(ctl, m);
		return;
	}
	if (rc == RS_RPC_FORWARD || rc == RS_RPC_PARKED)
		rc = rs_rpc_error_write(call.call_id, RPC_ERR(INTERNAL),
					"not a control-plane call", ctl->out,
					sizeof(ctl->out), &len);
	else if (rc == -ENOSPC)
		rc = rs_rpc_error_write(
		    call.call_id, RPC_ERR(RESPONSE_TOO_LARGE),
		    "reply too large", ctl->out, sizeof(ctl->out), &len);
	if (rc < 0)
		len = 0; /* cannot happen: an error frame is small */
	memcpy(m->data, ctl->out, len);
	m->len = (uint32_t)len;
	m->type = RS_SVC_MSG_RESPOND;
	m->target = m->worker;
	ctl->st.answered++;
	to_worker(ctl, m);
}

unsigned rs_svc_ctl_poll(struct rs_svc_ctl *ctl, unsigned budget)
{
	void *burst[32];
	unsigned n, done = 0;

	if (ctl->nbacklog != 0)
		backlog_flush(ctl);
	while (done < budget && ctl->nbacklog == 0) {
		n = rte_ring_dequeue_burst(
		    ctl->sh->to_ctl, burst,
		    RTE_MIN(RTE_DIM(burst), budget - done), NULL);
		if (n == 0)
			break;
		for (unsigned i = 0; i < n; i++) {
			struct rs_svc_msg *m = burst[i];

			if (m->type == RS_SVC_MSG_CALL) {
				serve(ctl, m);
				continue;
			}
			if (m->type == RS_SVC_MSG_GONE) {
				ctl->st.gone++;
				desc_forget(ctl, m->app, m->desc);
			}
			rs_svc_msg_put(ctl->sh, m);
		}
		done += n;
	}
	return done;
}

void rs_svc_ctl_stats_get(const struct rs_svc_ctl *ctl,
			  struct rs_svc_ctl_stats *st)
{
	*st = ctl->st;
	st->descriptors = rs_desc_total(ctl->desc);
}
