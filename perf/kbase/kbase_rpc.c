/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The methods kbase serves, with remsockd's wire semantics
 * (dataplane/svc_data.c, svc_exec.c): remsock.Authenticate and Stats;
 * remote_socket.CreateSocket, Connect, Send, SendBatch, Receive,
 * ReceiveBatch and Close.  rs_rpc_dispatch() decodes each call into the
 * per-call arena and writes the reply; a call that must wait parks
 * (kbase_sock.c) and runs again from the top, so each handler first asks
 * whether this is such a run (x->wait) or the last one (x->expired).
 *
 * Stream offsets.  A socket counts the bytes Send has taken (tx_off) and
 * those Receive has handed out (rx_off).  A Send says where its data
 * starts: bytes below tx_off were taken before (a retry) and are skipped,
 * a start beyond tx_off is a gap, refused unless an earlier Send waits
 * for room (then it waits its turn behind it).  A blocking Send answers
 * once all of its data is in the kernel's socket buffer, as send(2) on a
 * blocking socket would.  A Receive reply says where its data starts.
 *
 * Copies.  A Receive's one recv(2) writes into the reply's data buffer
 * in the call arena, and the reply is packed from there into the
 * connection's output buffer: one copy in user space, as remsockd copies
 * from its receive ring.  Sends go from the decoded request to send(2).
 *
 * Errors are App Engine's: ApplicationError.code a
 * RemoteSocketServiceError code, error_body the packed error with the
 * errno (remsockd's rs_svc_error()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "kbase_pvt.h"
#include "remote_socket.pb-c.h"

#define ERR(name) REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__##name
#define RPC_ERR(name) REMSOCK__RPC__RPC_ERROR_CODE__RPC_##name
#define MSG_PEEK_FLAG REMSOCK__RECEIVE_REQUEST__FLAGS__MSG_PEEK
#define FAMILY(n) REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__##n
#define PROTO(n) REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_PROTOCOL__##n

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- helpers ------------------------------------------------------------ */

__attribute__((format(printf, 4, 5))) static void
app_error(struct rs_rpc_call *call, int code, int sys, const char *fmt, ...)
{
	Remsock__RemoteSocketServiceError *e;
	char buf[RS_RPC_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rs_rpc_call_set_app_error(call, code, "%s", buf);
	e = rs_arena_alloc(call->arena, sizeof(*e));
	if (e == NULL)
		return; /* the code and the detail still go out */
	remsock__remote_socket_service_error__init(e);
	e->has_system_error = sys != 0;
	e->system_error = sys;
	e->error_detail = rs_arena_strdup(call->arena, call->detail);
	call->error_body = &e->base;
}

/* SYSTEM_ERROR with @p err, "what: strerror". */
static void sys_error(struct rs_rpc_call *call, int err, const char *what)
{
	app_error(call, ERR(SYSTEM_ERROR), err, "%s: %s", what, strerror(err));
}

static bool authed(struct kb_call *x, struct rs_rpc_call *call)
{
	if (x->c->app >= 0)
		return true;
	rs_rpc_call_set_rpc_error(call, RPC_ERR(UNAUTHENTICATED),
				  "call remsock.Authenticate first");
	return false;
}

/* The caller's socket, or NULL with EBADF set.  @p send: also a socket
 * whose Close waits for its Sends. */
static struct kb_sock *sock_find(struct kb_call *x, struct rs_rpc_call *call,
				 const char *desc, bool send)
{
	struct kb_sock *s =
	    kb_sock_find(x->kb, (uint32_t)x->c->app, desc, send);

	if (s == NULL)
		sys_error(call, EBADF, "no such socket descriptor");
	return s;
}

static bool addr_get(struct rs_rpc_call *call, const Remsock__AddressPort *a,
		     struct sockaddr_in *sa)
{
	*sa = (struct sockaddr_in){.sin_family = AF_INET};
	if (a->port < 0 || a->port > 65535) {
		app_error(call, ERR(INVALID_REQUEST), 0, "port %d", a->port);
		return false;
	}
	sa->sin_port = htons((uint16_t)a->port);
	if (!a->has_packed_address || a->packed_address.len == 0)
		return true;
	if (a->packed_address.len == 16) {
		sys_error(call, EAFNOSUPPORT, "IPv6 addresses");
		return false;
	}
	if (a->packed_address.len != 4) {
		app_error(call, ERR(INVALID_REQUEST), 0,
			  "packed_address of %zu bytes", a->packed_address.len);
		return false;
	}
	memcpy(&sa->sin_addr, a->packed_address.data, 4);
	return true;
}

/* The socket's own address, as remsockd's proxy_external_ip. */
static void local_fill(struct rs_arena *arena, const struct kb_sock *s,
		       Remsock__AddressPort **out)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	Remsock__AddressPort *a;
	uint8_t *ip;

	if (getsockname(s->fd, (struct sockaddr *)&sa, &len) < 0)
		return;
	a = rs_arena_alloc(arena, sizeof(*a));
	ip = rs_arena_alloc(arena, 4);
	if (a == NULL || ip == NULL)
		return;
	remsock__address_port__init(a);
	a->port = ntohs(sa.sin_port);
	memcpy(ip, &sa.sin_addr, 4);
	a->has_packed_address = 1;
	a->packed_address = (ProtobufCBinaryData){.len = 4, .data = ip};
	*out = a;
}

/* ---- remsock.Authenticate and Stats ------------------------------------- */

/* Constant time over KB_CRED_MAX bytes: 0 when equal. */
static unsigned ct_diff(const uint8_t *a, size_t alen, const uint8_t *b,
			size_t blen)
{
	unsigned d = (alen != blen) | (blen > KB_CRED_MAX);

	for (size_t i = 0; i < KB_CRED_MAX; i++)
		d |= (unsigned)((i < alen ? a[i] : 0) ^ (i < blen ? b[i] : 0));
	return d;
}

/* Every app is compared, whatever matches: an unknown app costs what a
 * wrong secret does.  @return the app, or -1. */
static int app_auth(const struct kb *kb, const char *id, size_t idlen,
		    const uint8_t *secret, size_t slen)
{
	int found = -1;

	for (unsigned i = 0; i < kb->napps; i++) {
		const struct kb_app *a = &kb->apps[i];
		unsigned d = ct_diff((const uint8_t *)a->name, a->name_len,
				     (const uint8_t *)id, idlen) |
			     ct_diff(a->secret, a->secret_len, secret, slen);
		int mask = -(int)(d == 0);

		found = (found & ~mask) | ((int)i & mask);
	}
	return found;
}

static int do_authenticate(void *ctx, struct rs_rpc_call *call,
			   const ProtobufCMessage *reqm,
			   ProtobufCMessage *respm)
{
	const Remsock__Rpc__AuthenticateRequest *req = (const void *)reqm;
	Remsock__Rpc__AuthenticateReply *resp = (void *)respm;
	struct kb_call *x = ctx;
	const char *id = req->app_id != NULL ? req->app_id : "";
	int app =
	    app_auth(x->kb, id, strlen(id), req->secret.data, req->secret.len);

	if (app < 0) {
		x->kb->st.auth_failed++;
		x->c->doomed = true; /* one try per connection */
		rs_rpc_call_set_rpc_error(call, RPC_ERR(UNAUTHENTICATED),
					  "unknown app or wrong secret");
		return 0;
	}
	if (x->c->app >= 0 && x->c->app != app) {
		rs_rpc_call_set_rpc_error(call, RPC_ERR(SECURITY_VIOLATION),
					  "already authenticated as %s",
					  x->kb->apps[x->c->app].name);
		return 0;
	}
	x->c->app = app;
	rs_frame_decoder_set_max(x->c->dec, 0); /* full frames from now on */
	resp->app_id = rs_arena_strdup(call->arena, x->kb->apps[app].name);
	return 0;
}

static int do_stats(void *ctx, struct rs_rpc_call *call,
		    const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	Remsock__Rpc__StatsReply *resp = (void *)respm;
	struct kb_call *x = ctx;
	const struct kb *kb = x->kb;
	Remsock__Rpc__StatsCounter *c;

	if (!authed(x, call))
		return 0;
	const struct kb_app *app = &kb->apps[x->c->app];
	const struct {
		const char *name;
		uint64_t value;
	} v[] = {
	    {"rpc.calls", kb->st.calls},
	    {"rpc.conns_accepted", kb->st.conns_accepted},
	    {"rpc.conns_open", kb->nconns},
	    {"rpc.conns_refused", kb->st.conns_refused},
	    {"rpc.conns_closed", kb->st.conns_closed},
	    {"rpc.auth_failed", kb->st.auth_failed},
	    {"rpc.socks_open", kb->nsocks},
	    {"rpc.socks_created", kb->st.socks_created},
	    {"rpc.parked", kb->st.parked},
	    {"rpc.waiting", kb->nwaits},
	    {"rpc.woken", kb->st.woken},
	    {"rpc.expired", kb->st.expired},
	    {"rpc.cancelled", kb->st.cancelled},
	    {"rpc.close_deferred", kb->st.close_deferred},
	    {"rpc.close_overdue", kb->st.close_overdue},
	    {"rpc.out_bytes", kb->out_bytes},
	    {"quota.sockets.used", app->socks},
	    {"quota.pending_calls.used", app->pending},
	};
	size_t n = sizeof(v) / sizeof(v[0]);

	c = rs_arena_alloc(call->arena, n * sizeof(*c));
	resp->counter = rs_arena_alloc(call->arena, n * sizeof(c));
	if (c == NULL || resp->counter == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		remsock__rpc__stats_counter__init(&c[i]);
		c[i].name = (char *)v[i].name;
		c[i].has_value = 1;
		c[i].value = v[i].value;
		resp->counter[i] = &c[i];
	}
	resp->n_counter = n;
	resp->app_id = (char *)app->name;
	return 0;
}

/* ---- CreateSocket, Connect ---------------------------------------------- */

/* A connect in progress: done (true), or answered or parked. */
static bool connect_wait(struct kb_call *x, struct rs_rpc_call *call,
			 struct kb_sock *s, double timeout_s)
{
	int err = s->err;

	if (!s->connecting && err == 0)
		return true;
	if (!s->connecting) {
		sys_error(call, err, "connect");
		return false;
	}
	if (kb_park(x, call, &s->tx_waits, timeout_s, false) == 0)
		sys_error(call, x->expired ? ETIMEDOUT : EINPROGRESS,
			  x->expired ? "connect timed out" : "connecting");
	return false;
}

static bool connect_start(struct kb_call *x, struct rs_rpc_call *call,
			  struct kb_sock *s, const Remsock__AddressPort *to,
			  double timeout_s)
{
	struct sockaddr_in sa;

	if (!addr_get(call, to, &sa))
		return false;
	s->err = 0; /* a socket whose connect failed may try again */
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return true;
	if (errno == EINPROGRESS)
		s->connecting = true;
	if (errno == EINPROGRESS || (errno == EALREADY && s->connecting))
		return connect_wait(x, call, s, timeout_s);
	sys_error(call, errno, "connect");
	return false;
}

/* Options the kernel takes as they come: the wire's levels and names are
 * Linux's numbers, the values C ints (4 bytes, little-endian). */
static bool opt_set(struct rs_rpc_call *call, struct kb_sock *s,
		    const Remsock__SocketOption *o)
{
	static const int ok[][2] = {
	    {SOL_SOCKET, SO_REUSEADDR},	  {SOL_SOCKET, SO_KEEPALIVE},
	    {SOL_SOCKET, SO_SNDBUF},	  {SOL_SOCKET, SO_RCVBUF},
	    {IPPROTO_TCP, TCP_NODELAY},	  {IPPROTO_TCP, TCP_KEEPIDLE},
	    {IPPROTO_TCP, TCP_KEEPINTVL}, {IPPROTO_TCP, TCP_KEEPCNT},
	};
	const uint8_t *b = o->value.data;
	int v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if ((int)o->level != ok[i][0] || (int)o->option != ok[i][1])
			continue;
		if (o->value.len != 4) {
			app_error(call, ERR(INVALID_REQUEST), 0,
				  "option %d: value of %zu bytes (a C int)",
				  o->option, o->value.len);
			return false;
		}
		v = (int)((uint32_t)b[0] | (uint32_t)b[1] << 8 |
			  (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
		if (setsockopt(s->fd, ok[i][0], ok[i][1], &v, sizeof(v)) < 0) {
			sys_error(call, errno, "setsockopt");
			return false;
		}
		return true;
	}
	sys_error(call, ENOPROTOOPT, "socket option not supported by kbase");
	return false;
}

/* A new socket as @p req says, or NULL with the call answered. */
static struct kb_sock *create_new(struct kb_call *x, struct rs_rpc_call *call,
				  const Remsock__CreateSocketRequest *req)
{
	struct kb_app *app = &x->kb->apps[x->c->app];
	struct sockaddr_in sa;
	struct kb_sock *s;
	int err = 0;

	if (req->family == FAMILY(IPv6))
		return sys_error(call, EAFNOSUPPORT, "IPv6 sockets"), NULL;
	if (req->family != FAMILY(IPv4) ||
	    (req->protocol != PROTO(TCP) && req->protocol != PROTO(UDP))) {
		app_error(call, ERR(INVALID_REQUEST), 0,
			  "family %d, protocol %d", req->family, req->protocol);
		return NULL;
	}
	if (req->protocol == PROTO(UDP))
		return sys_error(call, EPROTONOSUPPORT, "kbase: UDP"), NULL;
	if (req->listen_backlog > 0)
		return sys_error(call, EOPNOTSUPP, "kbase: Listen"), NULL;
	if (app->socks >= x->kb->max_socks) {
		rs_rpc_call_set_rpc_error(call, RPC_ERR(OVER_QUOTA),
					  "app %s: socket quota (%u) used",
					  app->name, x->kb->max_socks);
		return NULL;
	}
	s = kb_sock_new(x->kb, (uint32_t)x->c->app, &err);
	if (s == NULL)
		return sys_error(call, err, "socket"), NULL;
	for (size_t i = 0; i < req->n_socket_options; i++)
		if (!opt_set(call, s, req->socket_options[i]))
			goto fail;
	if (req->proxy_external_ip != NULL) {
		if (!addr_get(call, req->proxy_external_ip, &sa))
			goto fail;
		if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			sys_error(call, errno, "bind");
			goto fail;
		}
	}
	return s;
fail:
	kb_sock_close(x->kb, s);
	return NULL;
}

static int do_create_socket(void *ctx, struct rs_rpc_call *call,
			    const ProtobufCMessage *reqm,
			    ProtobufCMessage *respm)
{
	const Remsock__CreateSocketRequest *req = (const void *)reqm;
	Remsock__CreateSocketReply *resp = (void *)respm;
	struct kb_call *x = ctx;
	struct kb_sock *s = x->wait != NULL ? x->wait->made : NULL;
	bool done = true;

	if (!authed(x, call))
		return 0;
	if (s == NULL) { /* the first run; a second finds it connecting */
		s = create_new(x, call, req);
		if (s == NULL)
			return 0;
		if (req->remote_ip != NULL)
			done = connect_start(x, call, s, req->remote_ip, -1);
	} else {
		x->wait->made = NULL;
		done = connect_wait(x, call, s, -1);
	}
	if (call->status == RS_RPC_CALL_PARKED) {
		x->parked->made = s; /* closed if the call is cancelled */
		return 0;
	}
	if (!done) {
		kb_sock_close(x->kb, s);
		return 0;
	}
	resp->socket_descriptor = rs_arena_strdup(call->arena, s->desc);
	local_fill(call->arena, s, &resp->proxy_external_ip);
	return 0;
}

static int do_connect(void *ctx, struct rs_rpc_call *call,
		      const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__ConnectRequest *req = (const void *)reqm;
	Remsock__ConnectReply *resp = (void *)respm;
	struct kb_call *x = ctx;
	struct kb_sock *s;
	bool done;

	if (!authed(x, call) ||
	    (s = sock_find(x, call, req->socket_descriptor, false)) == NULL)
		return 0;
	done = x->wait != NULL ? connect_wait(x, call, s, req->timeout_seconds)
			       : connect_start(x, call, s, req->remote_ip,
					       req->timeout_seconds);
	if (done)
		local_fill(call->arena, s, &resp->proxy_external_ip);
	return 0;
}

/* ---- Send and SendBatch ------------------------------------------------- */

/* A Send offers the socket bytes up to its end: a Close at an offset up
 * to there waits for them. */
static void offered(struct kb_sock *s, const Remsock__SendRequest *req)
{
	uint64_t end = (uint64_t)req->stream_offset + req->data.len;

	if (end > s->tx_seen)
		s->tx_seen = end;
}

/* The core of Send.  @return the bytes of the request the socket has now
 * (those taken by earlier runs or a lost reply's Send included);
 * -EAGAIN when it has none (the buffer is full, or an earlier Send
 * waits); -1 with the error in @p call. */
static ssize_t send_stream(struct rs_rpc_call *call, struct kb_sock *s,
			   const Remsock__SendRequest *req)
{
	const ProtobufCBinaryData *d = &req->data;
	int64_t off = req->stream_offset;
	uint64_t skip;
	ssize_t n;

	if (req->send_to != NULL)
		return sys_error(call, EISCONN, "send_to on a TCP socket"), -1;
	if (s->err != 0)
		return sys_error(call, s->err, "connect"), -1;
	if (s->close_at >= 0 &&
	    (off < 0 || (uint64_t)off + d->len > (uint64_t)s->close_at))
		return sys_error(call, EBADF, "the socket is closed"), -1;
	/* Beyond what the socket took: a Send before it waits for room
	 * (pipelined), so this one waits its turn; else a gap. */
	if (off >= 0 && (uint64_t)off > s->tx_off && kb_sock_sending(s)) {
		offered(s, req);
		return -EAGAIN;
	}
	if (off < 0 || (uint64_t)off > s->tx_off) {
		app_error(call, ERR(INVALID_REQUEST), 0,
			  "stream_offset %lld: the socket has taken %llu bytes "
			  "(a Send before this one is missing)",
			  (long long)off, (unsigned long long)s->tx_off);
		return -1;
	}
	offered(s, req);
	skip = s->tx_off - (uint64_t)off;
	if (skip >= d->len) /* all of it taken before: a retry */
		return (ssize_t)d->len;
	n = send(s->fd, d->data + skip, d->len - skip, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return skip > 0 ? (ssize_t)skip : -EAGAIN;
	if (n < 0)
		return sys_error(call, errno, "send"), -1;
	s->tx_off += (uint64_t)n;
	return (ssize_t)skip + n;
}

static ssize_t send_one(struct kb_call *x, struct rs_rpc_call *call,
			const Remsock__SendRequest *req,
			Remsock__SendReply *resp, struct kb_sock **sp)
{
	struct kb_sock *s = sock_find(x, call, req->socket_descriptor, true);
	ssize_t n;

	*sp = s;
	if (s == NULL)
		return -1;
	if (req->flags != 0) {
		app_error(call, ERR(SYSTEM_ERROR), EOPNOTSUPP, "send flags %d",
			  req->flags);
		return -1;
	}
	n = send_stream(call, s, req);
	if (n < 0)
		return n;
	resp->has_data_sent = 1;
	resp->data_sent = (int32_t)n;
	if (s->close_at >= 0 && s->tx_off >= (uint64_t)s->close_at) {
		kb_sock_close(x->kb, s); /* the Close it waited for */
		*sp = NULL;
	}
	return n;
}

static int do_send(void *ctx, struct rs_rpc_call *call,
		   const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__SendRequest *req = (const void *)reqm;
	struct kb_call *x = ctx;
	struct kb_sock *s;
	ssize_t n;

	if (!authed(x, call))
		return 0;
	n = send_one(x, call, req, (void *)respm, &s);
	if (n == -1 || s == NULL)
		return 0;
	/* A blocking Send (a timeout other than 0) waits until all of its
	 * data is in the socket, so a client may pipeline Sends; at its
	 * deadline it answers with what was taken. */
	if (n == -EAGAIN || (size_t)n < req->data.len) {
		if (kb_park(x, call, &s->tx_waits, req->timeout_seconds,
			    true) != 0)
			return 0;
		if (n == -EAGAIN)
			sys_error(call, EAGAIN, "send buffer full");
		if (x->expired) /* Sends queued behind it see a gap now */
			kb_sock_kick(x->kb, s);
	}
	return 0;
}

/* ---- Receive and ReceiveBatch ------------------------------------------- */

/* Where a call's data goes: allocated on first use, @p left bytes. */
struct rx_room {
	uint8_t *buf;
	size_t left;
};

/* The core of Receive: at most min(data_size, room) bytes, read into the
 * reply's buffer.  @return bytes (0: EOF); -EAGAIN when there is nothing
 * yet (no error set); -1 with the error in @p call. */
static ssize_t recv_one(struct kb_call *x, struct rs_rpc_call *call,
			const Remsock__ReceiveRequest *req,
			Remsock__ReceiveReply *resp, struct kb_sock **sp,
			struct rx_room *room)
{
	struct kb_sock *s = sock_find(x, call, req->socket_descriptor, false);
	bool peek = (req->flags & MSG_PEEK_FLAG) != 0;
	size_t size;
	ssize_t n;

	*sp = s;
	if (s == NULL)
		return -1;
	if (req->data_size <= 0 || (req->flags & ~MSG_PEEK_FLAG) != 0) {
		app_error(call, ERR(INVALID_REQUEST), 0,
			  "data_size %d, flags %d (MSG_PEEK only)",
			  req->data_size, req->flags);
		return -1;
	}
	/* Nothing is held for a resend: only "all handed out" is valid. */
	if (req->consumed_offset >= 0 &&
	    (uint64_t)req->consumed_offset != s->rx_off) {
		app_error(call, ERR(INVALID_REQUEST), 0,
			  "consumed_offset %lld outside [%llu, %llu]",
			  (long long)req->consumed_offset,
			  (unsigned long long)s->rx_off,
			  (unsigned long long)s->rx_off);
		return -1;
	}
	if (s->err != 0)
		return sys_error(call, s->err, "connect"), -1;
	/* Receives parked before this one have the first claim. */
	if (!s->rx_ready || (x->wait == NULL && !TAILQ_EMPTY(&s->rx_waits)))
		return -EAGAIN;
	/* While the connection's replies are backed up, the data stays in
	 * the kernel, whose window holds the peer back: a parked Receive
	 * woken now waits for the output to drain (kbase.c). */
	if (x->c->out_len - x->c->out_off > KB_OUT_PAUSE && !x->expired) {
		x->c->held = true;
		return -EAGAIN;
	}
	if (room->buf == NULL &&
	    (room->buf = rs_arena_alloc(call->arena, room->left)) == NULL)
		return sys_error(call, ENOMEM, "no call memory"), -1;
	size = MIN((size_t)req->data_size, room->left);
	n = recv(s->fd, room->buf, size, peek ? MSG_PEEK : 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		s->rx_ready = false;
		return -EAGAIN;
	}
	if (n < 0)
		return sys_error(call, errno, "receive"), -1;
	/* A short read emptied the buffer (kbase_sock.c). */
	if (n > 0 && (size_t)n < size && !peek && !s->rx_end)
		s->rx_ready = false;
	resp->has_data = 1;
	resp->data = (ProtobufCBinaryData){.len = (size_t)n, .data = room->buf};
	resp->has_stream_offset = 1;
	resp->stream_offset = (int64_t)s->rx_off;
	if (!peek)
		s->rx_off += (uint64_t)n;
	room->buf += n;
	room->left -= (size_t)n;
	return n;
}

static int do_receive(void *ctx, struct rs_rpc_call *call,
		      const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__ReceiveRequest *req = (const void *)reqm;
	struct kb_call *x = ctx;
	struct rx_room room = {
	    .left = req->data_size > 0
			? MIN((size_t)req->data_size, (size_t)KB_RECV_MAX)
			: 1,
	};
	struct kb_sock *s;

	if (authed(x, call) &&
	    recv_one(x, call, req, (void *)respm, &s, &room) == -EAGAIN &&
	    kb_park(x, call, &s->rx_waits, req->timeout_seconds, false) == 0)
		sys_error(call, EAGAIN, "nothing to receive");
	return 0;
}

/* An entry's error, from the scratch call its core ran with. */
static Remsock__RemoteSocketServiceError *
entry_error(const struct rs_rpc_call *sub, int32_t *code)
{
	Remsock__RemoteSocketServiceError *e;

	*code =
	    sub->status == RS_RPC_CALL_APP_ERROR ? sub->app_code : ERR(FAILURE);
	if (sub->status == RS_RPC_CALL_APP_ERROR && sub->error_body != NULL)
		return (void *)sub->error_body;
	e = rs_arena_alloc(sub->arena, sizeof(*e));
	if (e != NULL) {
		remsock__remote_socket_service_error__init(e);
		e->error_detail = rs_arena_strdup(sub->arena, sub->detail);
	}
	return e;
}

#define ENTRY_ERROR(ent, sub)                                                  \
	do {                                                                   \
		(ent)->error = entry_error(&(sub), &(ent)->application_error); \
		(ent)->has_application_error = 1;                              \
	} while (0)

/* Pointers to n entries, and the entries with their replies after them
 * (*msgs); NULL when the call's memory is used up. */
static void **entries_alloc(struct rs_arena *a, size_t n, size_t size,
			    void **msgs)
{
	void **ptrs = rs_arena_alloc(a, (n + 1) * sizeof(void *));

	*msgs = rs_arena_alloc(a, (n + 1) * size);
	return *msgs != NULL ? ptrs : NULL;
}

static int do_send_batch(void *ctx, struct rs_rpc_call *call,
			 const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__SendBatchRequest *req = (const void *)reqm;
	Remsock__SendBatchReply *resp = (void *)respm;
	struct kb_call *x = ctx;
	Remsock__SendBatchEntry *ent;
	Remsock__SendReply *rep;
	struct kb_sock *s;
	void *m;

	if (!authed(x, call))
		return 0;
	resp->entries = (void *)entries_alloc(call->arena, req->n_sends,
					      sizeof(*ent) + sizeof(*rep), &m);
	if (resp->entries == NULL)
		return -ENOMEM;
	ent = m;
	rep = (void *)(ent + req->n_sends);
	for (size_t i = 0; i < req->n_sends; i++) {
		struct rs_rpc_call sub = {.arena = call->arena};

		remsock__send_batch_entry__init(&ent[i]);
		remsock__send_reply__init(&rep[i]);
		resp->entries[i] = &ent[i];
		/* No waiting in a batch: a full buffer answers EAGAIN. */
		switch (send_one(x, &sub, req->sends[i], &rep[i], &s)) {
		case -EAGAIN:
			sys_error(&sub, EAGAIN, "send buffer full");
			/* fall through */
		case -1:
			ENTRY_ERROR(&ent[i], sub);
			break;
		default:
			ent[i].reply = &rep[i];
		}
	}
	resp->n_entries = req->n_sends;
	return 0;
}

/* Bytes of data a ReceiveBatch of @p n entries may take so that its reply
 * fits KB_OUT_MAX whatever each entry says (remsockd's batch_room()):
 * data is never taken for a reply that could not be sent. */
#define BATCH_ENTRY_MAX 512u
static size_t batch_room(const Remsock__ReceiveBatchRequest *req)
{
	size_t over = (req->n_receives + 8) * BATCH_ENTRY_MAX, want = 0;

	if (over >= KB_OUT_MAX)
		return 0;
	for (size_t i = 0; i < req->n_receives; i++)
		if (req->receives[i]->data_size > 0)
			want += MIN((size_t)req->receives[i]->data_size,
				    (size_t)KB_RECV_MAX);
	return MIN(want, KB_OUT_MAX - over);
}

static int do_receive_batch(void *ctx, struct rs_rpc_call *call,
			    const ProtobufCMessage *reqm,
			    ProtobufCMessage *respm)
{
	const Remsock__ReceiveBatchRequest *req = (const void *)reqm;
	Remsock__ReceiveBatchReply *resp = (void *)respm;
	struct kb_call *x = ctx;
	struct rx_room room = {.left = batch_room(req)};
	Remsock__ReceiveBatchEntry *ent;
	Remsock__ReceiveReply *rep;
	struct kb_sock *s;
	size_t ready = 0;
	void *m;

	if (!authed(x, call))
		return 0;
	resp->entries = (void *)entries_alloc(call->arena, req->n_receives,
					      sizeof(*ent) + sizeof(*rep), &m);
	if (resp->entries == NULL)
		return -ENOMEM;
	ent = m;
	rep = (void *)(ent + req->n_receives);
	for (size_t i = 0; i < req->n_receives; i++) {
		struct rs_rpc_call sub = {.arena = call->arena};
		ssize_t n = -EAGAIN;

		remsock__receive_batch_entry__init(&ent[i]);
		remsock__receive_reply__init(&rep[i]);
		resp->entries[i] = &ent[i];
		if (room.left > 0)
			n = recv_one(x, &sub, req->receives[i], &rep[i], &s,
				     &room);
		else /* taking more could not be answered */
			sys_error(&sub, EAGAIN,
				  "the batch's reply is full: ask again");
		if (n == -EAGAIN && sub.status == RS_RPC_CALL_OK)
			sys_error(&sub, EAGAIN, "nothing to receive");
		if (n < 0)
			ENTRY_ERROR(&ent[i], sub);
		else
			ent[i].reply = &rep[i];
		/* Data, EOF or an error is news: it ends the wait. */
		ready += n != -EAGAIN;
	}
	resp->n_entries = req->n_receives;
	/* Nothing was read while nothing is ready: waiting loses nothing. */
	if (ready == 0)
		kb_park(x, call, &x->kb->multi, req->timeout_seconds, false);
	return 0;
}

/* ---- Close -------------------------------------------------------------- */

static int do_close(void *ctx, struct rs_rpc_call *call,
		    const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__CloseRequest *req = (const void *)reqm;
	struct kb_call *x = ctx;
	struct kb_sock *s;
	int64_t off = req->send_offset;

	if (!authed(x, call) ||
	    (s = sock_find(x, call, req->socket_descriptor, false)) == NULL)
		return 0;
	/* Close once the bytes up to send_offset have come, when Sends
	 * have offered them (one waits for room, or was pipelined behind
	 * it); an offset beyond what Sends offered is not waited for. */
	if (off >= 0 && s->tx_off < (uint64_t)off &&
	    (uint64_t)off <= s->tx_seen) {
		kb_sock_close_at(x->kb, s, (uint64_t)off);
		return 0;
	}
	kb_sock_close(x->kb, s);
	return 0;
}

/* ---- registration ------------------------------------------------------- */

#define M(name, fn, type)                                                      \
	{                                                                      \
		name, fn, &remsock__##type##_request__descriptor,              \
		    &remsock__##type##_reply__descriptor, RS_RPC_PLANE_DATA    \
	}

static const struct rs_rpc_method methods[] = {
    M("CreateSocket", do_create_socket, create_socket),
    M("Connect", do_connect, connect),
    M("Send", do_send, send),
    M("SendBatch", do_send_batch, send_batch),
    M("Receive", do_receive, receive),
    M("ReceiveBatch", do_receive_batch, receive_batch),
    M("Close", do_close, close),
};

static const struct rs_rpc_method auth_methods[] = {
    {"Authenticate", do_authenticate,
     &remsock__rpc__authenticate_request__descriptor,
     &remsock__rpc__authenticate_reply__descriptor, RS_RPC_PLANE_DATA},
    {"Stats", do_stats, &remsock__rpc__stats_request__descriptor,
     &remsock__rpc__stats_reply__descriptor, RS_RPC_PLANE_DATA},
};

int kb_rpc_register(struct rs_rpc_registry *reg)
{
	int rc = 0;

	for (size_t i = 0; i < 2 && rc == 0; i++)
		rc = rs_rpc_registry_add(reg, "remsock", &auth_methods[i]);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]) && rc == 0;
	     i++)
		rc = rs_rpc_registry_add(reg, "remote_socket", &methods[i]);
	return rc;
}
