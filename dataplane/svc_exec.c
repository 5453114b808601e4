/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket halves of the methods control approved (EXEC entries): the
 * same request frame, dispatched with this file's handlers.  Control has
 * checked the descriptor, the ACL and the quota and, for CreateSocket
 * and Accept, made the new socket's descriptor (svc_call.desc) and charged
 * it to the app's socket quota.  A new descriptor that ends up unused (the
 * socket could not be made, no connection came) gives the charge back and
 * goes back to control with svc_desc_unused(); a socket gives it back
 * when it is closed (svc_sock_close()).
 *
 * Close and ShutDown may name the stream offset the app's Sends reach
 * (send_offset): when Sends are still on their way (parked, or pipelined
 * behind a reconnect), the socket waits for them -- up to what Sends
 * have offered, and for [service] close_wait_ms at most -- and a closed
 * descriptor answers nothing but those Sends meanwhile.
 *
 * Socket options: the values are C ints as the client's kernel would
 * take them (4 bytes, little-endian; SO_LINGER a struct linger of two).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "remote_socket.pb-c.h"
#include "rs_acl.h"
#include "rs_apps.h"
#include "svc_pvt.h"

#define ERR(name) REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__##name
#define LEVEL(name)                                                            \
	REMSOCK__SOCKET_OPTION__SOCKET_OPTION_LEVEL__SOCKET_SOL_##name
#define OPT(name) REMSOCK__SOCKET_OPTION__SOCKET_OPTION_NAME__SOCKET_##name

/* ---- helpers ------------------------------------------------------------ */

static bool sockaddr_get(struct rs_rpc_call *call,
			 const Remsock__AddressPort *a, struct sockaddr_in *sa)
{
	uint32_t ip;
	uint16_t port;

	if (!rs_svc_addr_get(call, a, &ip, &port))
		return false;
	*sa = (struct sockaddr_in){
	    .sin_family = AF_INET,
	    .sin_port = htons(port),
	    .sin_addr.s_addr = ip,
	};
	return true;
}

static void local_fill(struct rs_rpc_call *call, struct svc_sock *ss,
		       Remsock__AddressPort **out)
{
	struct sockaddr_in sa;

	if (rs_sock_getsockname(ss->s, &sa) == 0)
		svc_addr_fill(call->arena, out, &sa, ss->v6);
}

/* A TCP connect in progress: done (true), or answered or parked. */
static bool connect_done(struct svc_call *sc, struct rs_rpc_call *call,
			 struct svc_sock *ss, double timeout_s)
{
	int err;

	if (ss->connected)
		return true;
	if (ss->failed) {
		err = rs_sock_error(ss->s);
		SVC_ERR(call, err != 0 ? err : -ECONNABORTED, "connect");
		return false;
	}
	if (svc_park(sc, ss, timeout_s, false) == 0) {
		if (sc->expired)
			rs_svc_sys_error(call, ETIMEDOUT, "connect timed out");
		else
			rs_svc_sys_error(call, EINPROGRESS, "connecting");
	}
	return false;
}

/* Start a connect; true when it completed at once (UDP). */
static bool connect_start(struct svc_call *sc, struct rs_rpc_call *call,
			  struct svc_sock *ss, const Remsock__AddressPort *to,
			  double timeout_s)
{
	struct sockaddr_in sa;
	int rc;

	if (!sockaddr_get(call, to, &sa))
		return false;
	rc = rs_sock_connect(ss->s, &sa);
	if (rc == 0) {
		ss->connected = true;
		return true;
	}
	if (rc == -EINPROGRESS) /* a new attempt: an ended one's news goes */
		ss->connected = ss->failed = false;
	if (rc == -EINPROGRESS || rc == -EALREADY)
		return connect_done(sc, call, ss, timeout_s);
	SVC_ERR(call, rc, "connect");
	return false;
}

/* ---- options ------------------------------------------------------------ */

/* (level, name) -> enum rs_sock_opt; -1 when not one the stack honours. */
static int opt_map(const Remsock__SocketOption *o)
{
	static const struct {
		int level, name, opt;
	} map[] = {
	    {LEVEL(SOCKET), OPT(SO_REUSEADDR), RS_SO_REUSEADDR},
	    {LEVEL(SOCKET), OPT(SO_KEEPALIVE), RS_SO_KEEPALIVE},
	    {LEVEL(SOCKET), OPT(SO_RCVBUF), RS_SO_RCVBUF},
	    {LEVEL(SOCKET), OPT(SO_SNDBUF), RS_SO_SNDBUF},
	    {LEVEL(SOCKET), OPT(SO_LINGER), RS_SO_LINGER},
	    {LEVEL(SOCKET), OPT(SO_ERROR), RS_SO_ERROR},
	    {LEVEL(SOCKET), OPT(SO_TYPE), RS_SOCK_OPT_MAX},
	    {LEVEL(TCP), OPT(TCP_NODELAY), RS_TCP_NODELAY},
	    {LEVEL(TCP), OPT(TCP_KEEPIDLE), RS_TCP_KEEPIDLE},
	    {LEVEL(TCP), OPT(TCP_KEEPINTVL), RS_TCP_KEEPINTVL},
	    {LEVEL(TCP), OPT(TCP_KEEPCNT), RS_TCP_KEEPCNT},
	};

	for (unsigned i = 0; i < RTE_DIM(map); i++)
		if ((int)o->level == map[i].level &&
		    (int)o->option == map[i].name)
			return map[i].opt;
	return -1;
}

/* Options Linux takes that the stack does not act on: set, they are kept
 * and read back (Linux's defaults before), so that programs that set
 * them as a matter of course (IP_TOS, TCP_QUICKACK, SO_DEBUG...) work;
 * docs/appengine.md lists them.  TCP-level ones on TCP sockets only. */
static const struct {
	int level, name;
	int32_t dflt;
} kept_opts[SVC_KEPT_OPTS] = {
    {LEVEL(SOCKET), OPT(SO_DEBUG), 0},
    {LEVEL(SOCKET), OPT(SO_DONTROUTE), 0},
    {LEVEL(SOCKET), OPT(SO_BROADCAST), 0},
    {LEVEL(SOCKET), OPT(SO_OOBINLINE), 0},
    {LEVEL(IP), OPT(IP_TOS), 0},
    {LEVEL(IP), OPT(IP_TTL), 64},
    {LEVEL(TCP), OPT(TCP_MAXSEG), 536},
    {LEVEL(TCP), OPT(TCP_CORK), 0},
    {LEVEL(TCP), OPT(TCP_SYNCNT), 6},
    {LEVEL(TCP), OPT(TCP_LINGER2), 60},
    {LEVEL(TCP), OPT(TCP_DEFER_ACCEPT), 0},
    {LEVEL(TCP), OPT(TCP_WINDOW_CLAMP), 0},
    {LEVEL(TCP), OPT(TCP_QUICKACK), 1},
};

/* The kept option @p o names, or -1. */
static int kept_opt(const struct svc_sock *ss, const Remsock__SocketOption *o)
{
	for (int i = 0; i < SVC_KEPT_OPTS; i++)
		if ((int)o->level == kept_opts[i].level &&
		    (int)o->option == kept_opts[i].name)
			return (int)o->level == LEVEL(TCP) &&
				       ss->kind != RS_SOCK_TCP
				   ? -1
				   : i;
	return -1;
}

static int32_t le32_get(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
			 (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void le32_put(uint8_t *p, int32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)((uint32_t)v >> (8 * i));
}

static int32_t be32_get(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			 (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

/* An int in the packing the socket's options were set with. */
static void int_put(const struct svc_sock *ss, uint8_t *p, int32_t v)
{
	if (!ss->opts_be) {
		le32_put(p, v);
		return;
	}
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)((uint32_t)v >> (8 * (3 - i)));
}

/* The values an option takes, for telling packings apart. */
static void opt_range(int opt, int32_t *lo, int32_t *hi)
{
	switch (opt) {
	case RS_SO_RCVBUF:
	case RS_SO_SNDBUF:
		*lo = SVC_BUF_MIN, *hi = SVC_BUF_MAX;
		break;
	case RS_TCP_KEEPIDLE:
	case RS_TCP_KEEPINTVL:
		*lo = 1, *hi = 86400;
		break;
	case RS_TCP_KEEPCNT:
		*lo = 1, *hi = 1000;
		break;
	case RS_SO_LINGER: /* l_linger, seconds */
		*lo = 0, *hi = 3600;
		break;
	default: /* booleans */
		*lo = 0, *hi = 1;
		break;
	}
}

/* A C int as a client packed it: little-endian (Python's struct, Go,
 * libremsock, on the hosts they run on) unless only the big-endian
 * reading is a value the option takes -- Java's runtime packs options
 * big-endian -- and then the socket answers its reads big-endian too.
 * Both readings valid (8 KiB big-endian is 2 MiB little-endian): read
 * little-endian.  A buffer size below 4 KiB is valid too (Linux clamps
 * it), so its big-endian reading is taken only on a socket already seen
 * big-endian or an IPv6 one (Java makes every socket so). */
static int32_t int_get(struct svc_sock *ss, int opt, const uint8_t *p)
{
	int32_t le = le32_get(p), be = be32_get(p), lo, hi;
	bool buf = opt == RS_SO_RCVBUF || opt == RS_SO_SNDBUF;

	opt_range(opt, &lo, &hi);
	if ((le < lo || le > hi) && be >= lo && be <= hi &&
	    (!buf || ss->opts_be || ss->v6 || le < 0 || le > hi)) {
		ss->opts_be = true;
		return be;
	}
	return le;
}

static bool opt_set(struct rs_rpc_call *call, struct svc_sock *ss,
		    const Remsock__SocketOption *o)
{
	int opt = opt_map(o), kept = kept_opt(ss, o), v, rc;
	const ProtobufCBinaryData *b = &o->value;

	if (kept >= 0 && b->len >= 4) {
		ss->kept[kept] = le32_get(b->data);
		ss->kept_set |= 1u << kept;
		return true;
	}
	if (opt < 0 || opt == RS_SO_ERROR || opt == RS_SOCK_OPT_MAX) {
		rs_svc_sys_error(call, ENOPROTOOPT,
				 "option level %d name %d: not settable here",
				 o->level, o->option);
		return false;
	}
	if (b->len < 4 || (opt == RS_SO_LINGER && b->len < 8)) {
		rs_svc_error(call, ERR(INVALID_REQUEST), 0,
			     "option %d: value of %zu bytes (a C int)",
			     o->option, b->len);
		return false;
	}
	v = opt == RS_SO_LINGER ? le32_get(b->data) : int_get(ss, opt, b->data);
	switch (opt) {
	case RS_SO_LINGER: /* struct linger { l_onoff, l_linger } */
		v = v != 0 ? int_get(ss, opt, b->data + 4) : -1;
		break;
	case RS_SO_REUSEADDR: /* as Linux: any value but 0 is true (so is */
	case RS_SO_KEEPALIVE: /* Java's big-endian 1) */
	case RS_TCP_NODELAY:
		v = v != 0;
		break;
	case RS_SO_RCVBUF: /* as Linux: clamped, not refused */
	case RS_SO_SNDBUF:
		v = v < SVC_BUF_MIN   ? SVC_BUF_MIN
		    : v > SVC_BUF_MAX ? SVC_BUF_MAX
				      : v;
		break;
	default:
		break;
	}
	rc = rs_sock_setopt(ss->s, (enum rs_sock_opt)opt, v);
	/* Linux takes a buffer size after connect too; the stack's rings
	 * are sized by then, and stay. */
	if (rc == -EISCONN && (opt == RS_SO_RCVBUF || opt == RS_SO_SNDBUF))
		rc = 0;
	if (rc < 0)
		SVC_ERR(call, rc, "setsockopt");
	return rc == 0;
}

static bool opt_get(struct rs_rpc_call *call, struct svc_sock *ss,
		    const Remsock__SocketOption *o, Remsock__SocketOption *out)
{
	int opt = opt_map(o), kept = kept_opt(ss, o), v = 0, rc = 0;
	size_t len = 4;
	uint8_t *p;

	if (kept >= 0) {
		p = rs_arena_alloc(call->arena, len);
		if (p == NULL)
			return false;
		if (ss->kept_set & (1u << kept)) /* the bytes as set */
			le32_put(p, ss->kept[kept]);
		else
			int_put(ss, p, kept_opts[kept].dflt);
		*out = *o;
		out->value = (ProtobufCBinaryData){.len = len, .data = p};
		return true;
	}
	if (opt < 0) {
		rs_svc_sys_error(call, ENOPROTOOPT,
				 "option level %d name %d: not supported",
				 o->level, o->option);
		return false;
	}
	if (opt == RS_SOCK_OPT_MAX) /* SO_TYPE: SOCK_STREAM, SOCK_DGRAM */
		v = ss->kind == RS_SOCK_TCP ? 1 : 2;
	else if (opt == RS_SO_ERROR)
		v = -rs_sock_error(ss->s);
	else
		rc = rs_sock_getopt(ss->s, (enum rs_sock_opt)opt, &v);
	if (rc < 0) {
		SVC_ERR(call, rc, "getsockopt");
		return false;
	}
	if (opt == RS_SO_LINGER)
		len = 8;
	p = rs_arena_alloc(call->arena, len);
	if (p == NULL)
		return false;
	*out = *o;
	if (opt == RS_SO_LINGER) {
		int_put(ss, p, v >= 0);
		int_put(ss, p + 4, v >= 0 ? v : 0);
	} else {
		int_put(ss, p, v);
	}
	out->value = (ProtobufCBinaryData){.len = len, .data = p};
	return true;
}

/* ---- the methods -------------------------------------------------------- */

/* Listen, charged to the app's listeners quota (a second Listen
 * changes the backlog only).  @return 0, or -1 with the call answered. */
static int sock_listen(struct svc_worker *w, struct rs_rpc_call *call,
		       struct svc_sock *ss, int backlog)
{
	struct rs_apps *apps = w->sh->apps;
	int rc;

	if (!ss->listening &&
	    rs_apps_charge(apps, ss->app, RS_QUOTA_LISTENERS, 1) < 0) {
		rs_rpc_call_set_rpc_error(
		    call, REMSOCK__RPC__RPC_ERROR_CODE__RPC_OVER_QUOTA,
		    "listeners quota (%lu) used",
		    (unsigned long)rs_apps_limit(apps, ss->app,
						 RS_QUOTA_LISTENERS));
		return -1;
	}
	rc = rs_sock_listen(ss->s, backlog);
	if (rc < 0) {
		if (!ss->listening)
			rs_apps_uncharge(apps, ss->app, RS_QUOTA_LISTENERS, 1);
		return SVC_ERR(call, rc, "listen"), -1;
	}
	ss->listening = true;
	return 0;
}

/* Take the socket made for a CreateSocket that failed back. */
static void create_undo(struct svc_call *sc, struct svc_sock *ss)
{
	if (ss == NULL) {
		svc_desc_unused(sc->w, sc->app, sc->desc);
		return;
	}
	svc_sock_close(sc->w, ss, true);
	svc_gone(sc->w, sc->app, sc->desc);
}

static bool create_setup(struct svc_worker *w, struct rs_rpc_call *call,
			 struct svc_sock *ss,
			 const Remsock__CreateSocketRequest *req)
{
	struct sockaddr_in sa;
	int rc;

	for (size_t i = 0; i < req->n_socket_options; i++)
		if (!opt_set(call, ss, req->socket_options[i]))
			return false;
	if (req->proxy_external_ip != NULL) {
		if (!sockaddr_get(call, req->proxy_external_ip, &sa))
			return false;
		rc = rs_sock_bind(ss->s, &sa);
		if (rc < 0)
			return SVC_ERR(call, rc, "bind"), false;
	}
	if (req->listen_backlog > 0 &&
	    sock_listen(w, call, ss, req->listen_backlog) < 0)
		return false;
	return svc_sock_charge(w, call, ss) == 0;
}

static int ex_create_socket(void *ctx, struct rs_rpc_call *call,
			    const ProtobufCMessage *reqm,
			    ProtobufCMessage *respm)
{
	const Remsock__CreateSocketRequest *req = (const void *)reqm;
	Remsock__CreateSocketReply *resp = (void *)respm;
	struct svc_call *sc = ctx;
	struct svc_sock *ss = svc_sock_find(sc, NULL, sc->desc);
	bool done = true;

	if (ss == NULL && sc->wait != NULL) { /* closed while it waited */
		rs_svc_closed(call, "closed while connecting");
		return 0;
	}
	if (ss == NULL) { /* the first run; a second finds it connecting */
		ss = svc_sock_new(
		    sc,
		    req->protocol ==
			    REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_PROTOCOL__TCP
			? RS_SOCK_TCP
			: RS_SOCK_UDP);
		if (ss != NULL)
			ss->v6 =
			    req->family ==
			    REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv6;
		if (ss == NULL || !create_setup(sc->w, call, ss, req))
			goto fail;
		if (req->remote_ip != NULL)
			done = connect_start(sc, call, ss, req->remote_ip, -1);
	} else if (req->remote_ip != NULL) {
		done = connect_done(sc, call, ss, -1);
	}
	if (!done) {
		if (call->status == RS_RPC_CALL_PARKED)
			return 0;
		goto fail;
	}
	resp->socket_descriptor = rs_arena_strdup(call->arena, sc->desc);
	local_fill(call, ss, &resp->proxy_external_ip);
	return 0;
fail:
	create_undo(sc, ss);
	return 0;
}

/* The socket an EXEC names (the caller's app only); NULL when answered. */
#define SOCK(sc, call, req) svc_sock_find(sc, call, (req)->socket_descriptor)

static int ex_bind(void *ctx, struct rs_rpc_call *call,
		   const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__BindRequest *req = (const void *)reqm;
	Remsock__BindReply *resp = (void *)respm;
	struct svc_sock *ss = SOCK(ctx, call, req);
	struct sockaddr_in sa;
	int rc;

	if (ss == NULL || !sockaddr_get(call, req->proxy_external_ip, &sa))
		return 0;
	rc = rs_sock_bind(ss->s, &sa);
	if (rc < 0)
		return SVC_ERR(call, rc, "bind"), 0;
	local_fill(call, ss, &resp->proxy_external_ip);
	return 0;
}

static int ex_get_socket_name(void *ctx, struct rs_rpc_call *call,
			      const ProtobufCMessage *reqm,
			      ProtobufCMessage *respm)
{
	const Remsock__GetSocketNameRequest *req = (const void *)reqm;
	Remsock__GetSocketNameReply *resp = (void *)respm;
	struct svc_sock *ss = SOCK(ctx, call, req);

	if (ss != NULL)
		local_fill(call, ss, &resp->proxy_external_ip);
	return 0;
}

static int ex_get_peer_name(void *ctx, struct rs_rpc_call *call,
			    const ProtobufCMessage *reqm,
			    ProtobufCMessage *respm)
{
	const Remsock__GetPeerNameRequest *req = (const void *)reqm;
	Remsock__GetPeerNameReply *resp = (void *)respm;
	struct svc_sock *ss = SOCK(ctx, call, req);
	struct sockaddr_in sa;
	int rc;

	if (ss == NULL)
		return 0;
	rc = rs_sock_getpeername(ss->s, &sa);
	if (rc < 0)
		return SVC_ERR(call, rc, "getpeername"), 0;
	svc_addr_fill(call->arena, &resp->peer_ip, &sa, ss->v6);
	return 0;
}

static int ex_set_socket_options(void *ctx, struct rs_rpc_call *call,
				 const ProtobufCMessage *reqm,
				 ProtobufCMessage *respm)
{
	const Remsock__SetSocketOptionsRequest *req = (const void *)reqm;
	struct svc_sock *ss = SOCK(ctx, call, req);
	int rcv = 0, snd = 0;

	if (ss == NULL)
		return 0;
	rs_sock_getopt(ss->s, RS_SO_RCVBUF, &rcv);
	rs_sock_getopt(ss->s, RS_SO_SNDBUF, &snd);
	for (size_t i = 0; i < req->n_options; i++)
		if (!opt_set(call, ss, req->options[i]))
			return 0;
	/* Larger rings than the quota holds: back to the sizes before. */
	if (svc_sock_charge(((struct svc_call *)ctx)->w, call, ss) < 0) {
		rs_sock_setopt(ss->s, RS_SO_RCVBUF, rcv);
		rs_sock_setopt(ss->s, RS_SO_SNDBUF, snd);
	}
	return 0;
}

static int ex_get_socket_options(void *ctx, struct rs_rpc_call *call,
				 const ProtobufCMessage *reqm,
				 ProtobufCMessage *respm)
{
	const Remsock__GetSocketOptionsRequest *req = (const void *)reqm;
	Remsock__GetSocketOptionsReply *resp = (void *)respm;
	struct svc_sock *ss = SOCK(ctx, call, req);
	Remsock__SocketOption *o;

	if (ss == NULL)
		return 0;
	o = rs_arena_alloc(call->arena, (req->n_options + 1) * sizeof(*o));
	resp->options =
	    rs_arena_alloc(call->arena, (req->n_options + 1) * sizeof(o));
	if (o == NULL || resp->options == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_options; i++) {
		if (!opt_get(call, ss, req->options[i], &o[i]))
			return 0;
		resp->options[i] = &o[i];
	}
	resp->n_options = req->n_options;
	return 0;
}

static int ex_connect(void *ctx, struct rs_rpc_call *call,
		      const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__ConnectRequest *req = (const void *)reqm;
	Remsock__ConnectReply *resp = (void *)respm;
	struct svc_call *sc = ctx;
	struct svc_sock *ss = SOCK(sc, call, req);
	bool done;

	if (ss == NULL)
		return 0;
	done = sc->wait != NULL
		   ? connect_done(sc, call, ss, req->timeout_seconds)
		   : connect_start(sc, call, ss, req->remote_ip,
				   req->timeout_seconds);
	if (done)
		local_fill(call, ss, &resp->proxy_external_ip);
	return 0;
}

static int ex_listen(void *ctx, struct rs_rpc_call *call,
		     const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__ListenRequest *req = (const void *)reqm;
	struct svc_call *sc = ctx;
	struct svc_sock *ss = SOCK(sc, call, req);

	if (ss == NULL || sock_listen(sc->w, call, ss, req->backlog) < 0)
		return 0;
	svc_sock_charge(sc->w, call, ss); /* gives the ring bytes back */
	return 0;
}

/* The ACL, for a peer that connected to a tenant's listener: by its
 * address and source port, as for a destination (a rule with a port
 * covers its service's port, not a peer's ephemeral one). */
static bool peer_allowed(struct svc_worker *w, const struct sockaddr_in *peer)
{
	const struct rs_acl_rule *r;

	const struct rs_acl *acl = rs_svc_acl(w->sh);

	if (rs_acl_allows(acl, peer->sin_addr.s_addr, ntohs(peer->sin_port),
			  &r))
		return true;
	rs_acl_count_denial(acl, r);
	return false;
}

static int ex_accept(void *ctx, struct rs_rpc_call *call,
		     const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__AcceptRequest *req = (const void *)reqm;
	Remsock__AcceptReply *resp = (void *)respm;
	struct svc_call *sc = ctx;
	struct svc_worker *w = sc->w;
	struct svc_sock *ss = SOCK(sc, call, req), *ns;
	struct sockaddr_in peer;
	struct rs_sock *n;
	char *d;
	int rc;

	if (ss == NULL)
		goto unused;
	/* A peer the ACL denies is reset (and the denial counted by its
	 * rule): the Accept waits for the next. */
	while ((n = rs_sock_accept(ss->s, &peer)) != NULL &&
	       !peer_allowed(w, &peer))
		rs_sock_abort(n);
	if (n == NULL && errno == EAGAIN) {
		rc = svc_park(sc, ss, req->timeout_seconds, true);
		if (rc > 0)
			return 0;
		if (rc == 0)
			rs_svc_sys_error(call, EAGAIN,
					 "no connection to accept");
		goto unused;
	}
	if (n == NULL) {
		SVC_ERR(call, -errno, "accept");
		goto unused;
	}
	/* The session of the connection that accepts, or the listener's
	 * when another worker's connection does. */
	ns = svc_sock_add(w, n, sc->desc, sc->app,
			  sc->conn != NULL ? sc->conn->session : ss->session);
	if (ns == NULL) {
		rs_sock_abort(n);
		rs_svc_sys_error(call, ENOMEM, "socket table full");
		goto unused;
	}
	ns->v6 = ss->v6; /* an IPv6 listener's connections are IPv6 too */
	ns->connected = true;
	d = rs_arena_strdup(call->arena, sc->desc);
	if (d == NULL) {
		rs_svc_sys_error(call, ENOMEM, "no call memory");
		goto closed;
	}
	if (svc_sock_charge(w, call, ns) < 0)
		goto closed;
	resp->has_new_socket_descriptor = 1;
	resp->new_socket_descriptor =
	    (ProtobufCBinaryData){.len = RS_DESC_LEN, .data = (uint8_t *)d};
	svc_addr_fill(call->arena, &resp->remote_address, &peer, ns->v6);
	return 0;
unused:
	if (call->status != RS_RPC_CALL_PARKED)
		svc_desc_unused(w, sc->app, sc->desc);
	return 0;
closed:
	svc_sock_close(w, ns, true);
	svc_gone(w, sc->app, sc->desc);
	return 0;
}

/* Whether a Close or ShutDown at @p send_offset waits for Sends: bytes
 * before it that the socket has not taken yet, which a Send has offered
 * (it waits for room, or was pipelined behind one that does).  An offset
 * beyond anything offered is not waited for: it would hold the socket
 * for bytes that may never come. */
static bool sends_to_come(const struct svc_sock *ss, int64_t send_offset)
{
	return ss->kind == RS_SOCK_TCP && send_offset >= 0 &&
	       ss->tx_off < (uint64_t)send_offset &&
	       (uint64_t)send_offset <= ss->tx_seen;
}

static int ex_shut_down(void *ctx, struct rs_rpc_call *call,
			const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__ShutDownRequest *req = (const void *)reqm;
	struct svc_sock *ss = SOCK(ctx, call, req);
	int rc;

	if (ss == NULL)
		return 0;
	if (req->how < REMSOCK__SHUT_DOWN_REQUEST__HOW__SOCKET_SHUT_RD ||
	    req->how > REMSOCK__SHUT_DOWN_REQUEST__HOW__SOCKET_SHUT_RDWR) {
		rs_svc_error(call, ERR(INVALID_REQUEST), 0, "how %d", req->how);
		return 0;
	}
	/* SOCKET_SHUT_RD is 1 on the wire, SHUT_RD 0 in the API.  Writing
	 * ends once the bytes up to send_offset came (a pipelined Send may
	 * still be on its way). */
	if (req->how != REMSOCK__SHUT_DOWN_REQUEST__HOW__SOCKET_SHUT_RD &&
	    sends_to_come(ss, req->send_offset)) {
		ss->shut_at = req->send_offset;
		ss->shut_how = (uint8_t)(req->how - 1);
		if (req->how ==
		    REMSOCK__SHUT_DOWN_REQUEST__HOW__SOCKET_SHUT_RDWR)
			rs_sock_shutdown(ss->s, RS_SOCK_SHUT_RD);
		return 0;
	}
	rc = rs_sock_shutdown(ss->s, (enum rs_sock_shut)(req->how - 1));
	if (rc < 0)
		SVC_ERR(call, rc, "shutdown");
	return 0;
}

static int ex_close(void *ctx, struct rs_rpc_call *call,
		    const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__CloseRequest *req = (const void *)reqm;
	struct svc_call *sc = ctx;
	struct svc_worker *w = sc->w;
	/* Gone meanwhile (reaped): closed, as asked. */
	struct svc_sock *ss = SOCK(sc, NULL, req);

	if (ss == NULL)
		return 0;
	/* Close once the bytes up to send_offset have come: a pipelined
	 * Send may still be on its way. */
	if (sends_to_come(ss, req->send_offset) &&
	    w->sh->cfg->service.close_wait_ms > 0) {
		svc_sock_close_at(w, ss, (uint64_t)req->send_offset);
		return 0;
	}
	svc_sock_close(w, ss, false);
	return 0;
}

/* ---- registration ------------------------------------------------------- */

#define M(name, fn, type) RS_SVC_METHOD(name, fn, type, RS_RPC_PLANE_DATA)

static const struct rs_rpc_method methods[] = {
    M("CreateSocket", ex_create_socket, create_socket),
    M("Bind", ex_bind, bind),
    M("GetSocketName", ex_get_socket_name, get_socket_name),
    M("GetPeerName", ex_get_peer_name, get_peer_name),
    M("SetSocketOptions", ex_set_socket_options, set_socket_options),
    {"GetSocketOptions", ex_get_socket_options,
     &rs_svc_get_socket_options_request_lenient,
     &remsock__get_socket_options_reply__descriptor, RS_RPC_PLANE_DATA},
    M("Connect", ex_connect, connect),
    M("Listen", ex_listen, listen),
    M("Accept", ex_accept, accept),
    M("ShutDown", ex_shut_down, shut_down),
    M("Close", ex_close, close),
};

int svc_exec_register(struct rs_rpc_registry *reg)
{
	int rc = 0;

	for (unsigned i = 0; i < RTE_DIM(methods) && rc == 0; i++)
		rc = rs_rpc_registry_add(reg, RS_SVC_SERVICE, &methods[i]);
	return rc;
}
