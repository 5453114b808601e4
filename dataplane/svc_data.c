/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The methods a worker serves without the control thread: Authenticate,
 * and the data methods Send, Receive, Poll, SendBatch and ReceiveBatch,
 * which touch only the sockets' rings.  Each finds its socket in the worker's
 * table (the caller's app only), does what it can now, and parks when it must
 * wait; a parked call runs again from the top (svc_pvt.h).
 *
 * Stream offsets.  A TCP socket counts the bytes Send has taken
 * (tx_off) and the bytes Receive has handed out (rx_off).  A Send says
 * where its data starts: bytes below tx_off were taken already (a retry
 * after a lost reply) and are skipped, a start beyond tx_off is a gap and
 * refused.  A Receive reply says where its data starts; the receive
 * ring's own offsets are the stream's (recv_start()).
 *
 * Batches run each entry through the same core as the single call, with
 * a scratch call record for the entry's error.  SendBatch never waits;
 * ReceiveBatch waits (parked over all its sockets) until one entry has
 * data, EOF or an error, or its timeout ends.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "remote_socket.pb-c.h"
#include "rs_apps.h"
#include "svc_pvt.h"

#define ERR(name) REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__##name
#define POLL(name) REMSOCK__POLL_EVENT__POLL_EVENT_FLAG__SOCKET_POLL##name

static bool authed(struct svc_call *sc)
{
	/* An HTTP call reaches a handler only with a valid ticket; another
	 * worker gives this one only its connections' authenticated
	 * calls. */
	if (sc->from != 0 || (sc->conn != NULL &&
			      (sc->conn->app >= 0 || sc->conn->http != NULL)))
		return true;
	rs_rpc_call_set_rpc_error(&sc->rpc, RPC_ERR(UNAUTHENTICATED),
				  "call remsock.Authenticate first");
	return false;
}

/* Several workers: whether a call on one socket runs here (see
 * svc_route_done()). */
static bool here(struct svc_call *sc, const char *desc)
{
	svc_route_add(sc, desc);
	return svc_route_done(sc);
}

/* A batch that svc_route_done() did not keep: forwarded whole, or over
 * several workers' sockets, split (svc_split.c). */
static int split(struct svc_call *sc, struct rs_rpc_call *call,
		 const ProtobufCMessage *req)
{
	if (sc->route == SVC_ROUTE_MIXED)
		svc_split_start(sc, call, req);
	return 0;
}

static int authenticate(void *ctx, struct rs_rpc_call *call,
			const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__Rpc__AuthenticateRequest *req = (const void *)reqm;
	Remsock__Rpc__AuthenticateReply *resp = (void *)respm;
	struct svc_call *sc = ctx;
	struct svc_worker *w = sc->w;
	struct svc_conn *c = sc->conn;
	const char *id = req->app_id != NULL ? req->app_id : "";
	int known = rs_apps_find(w->sh->apps, id, strlen(id)), app, cert;

	if (!svc_auth_allowed(w, c->peer_ip, known)) {
		c->doomed = true;
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(UNAUTHENTICATED),
		    "too many failed attempts at this app's secret from this "
		    "address: try again later");
		return 0;
	}
	cert = svc_tls_cert_app(w, c);
	if (cert != SVC_CERT_ANY && cert != known) {
		svc_auth_failed(w, c->peer_ip, known);
		c->doomed = true;
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(UNAUTHENTICATED),
		    "the client certificate is not for app %.64s", id);
		return 0;
	}
	app = rs_apps_auth(w->sh->apps, id, strlen(id),
			   (const char *)req->secret.data, req->secret.len);
	if (app < 0) {
		svc_auth_failed(w, c->peer_ip, known);
		c->doomed = true; /* one try per connection */
		rs_rpc_call_set_rpc_error(call, RPC_ERR(UNAUTHENTICATED),
					  "unknown app or wrong secret");
		return 0;
	}
	if (c->app >= 0 && c->app != app) {
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(SECURITY_VIOLATION),
		    "already authenticated as %s",
		    rs_apps_id(w->sh->apps, (uint32_t)c->app));
		return 0;
	}
	c->app = app;
	svc_conn_authed(sc->w, c);
	/* A session named, and sessions on: its sockets end with it. */
	if (req->has_session && c->session < 0 &&
	    w->sh->cfg->service.session_grace_s != 0)
		c->session = svc_session_join(w, (uint32_t)app, req->session);
	/* Full frames from now on. */
	rs_frame_decoder_set_max(c->dec, svc_request_max(w));
	resp->app_id = rs_arena_strdup(call->arena,
				       rs_apps_id(w->sh->apps, (uint32_t)app));
	return 0;
}

/*
 * What the core of a data method did with an entry (Send's and
 * Receive's, for the call and for each entry of its batch).
 */
enum step {
	STEP_DONE,   /* bytes moved: as many as *n says (Receive: 0 is EOF) */
	STEP_WAIT,   /* nothing yet (no error set): park, or say EAGAIN */
	STEP_FAILED, /* the error is in the call */
};

/* ---- Send --------------------------------------------------------------- */

/* A Send offers the socket bytes up to its end: a Close at an offset
 * up to there waits for them (svc_exec.c). */
static void offered(struct svc_sock *ss, const Remsock__SendRequest *req)
{
	uint64_t end = (uint64_t)req->stream_offset + req->data.len;

	if (end > ss->tx_seen)
		ss->tx_seen = end;
}

/* The core of Send on a TCP socket.  *@p n: the bytes of the request
 * the socket has now (those taken before, on a retry, included).  WAIT
 * when it took none (the ring is full, or an earlier Send waits). */
static enum step send_stream(struct rs_rpc_call *call, struct svc_sock *ss,
			     const Remsock__SendRequest *req, size_t *n)
{
	const ProtobufCBinaryData *d = &req->data;
	uint64_t skip;
	ssize_t took;

	if (req->send_to != NULL) {
		rs_svc_sys_error(call, EISCONN, "send_to on a TCP socket");
		return STEP_FAILED;
	}
	if (req->stream_offset == RS_SVC_OFFSET_UNSET) {
		rs_svc_error(call, ERR(INVALID_REQUEST), 0,
			     "a Send on a TCP socket needs stream_offset (the "
			     "offset of its first byte in the stream)");
		return STEP_FAILED;
	}
	/* A closed socket takes the Sends its Close waits for, no more. */
	if (ss->close_at >= 0 &&
	    (req->stream_offset < 0 ||
	     (uint64_t)req->stream_offset + d->len > (uint64_t)ss->close_at)) {
		rs_svc_closed(call, "the socket is closed past this Send");
		return STEP_FAILED;
	}
	/* Beyond what the socket took: the Send before it is waiting for
	 * room (pipelined), so this one waits its turn; else a gap. */
	if (req->stream_offset >= 0 &&
	    (uint64_t)req->stream_offset > ss->tx_off && svc_sock_sending(ss)) {
		offered(ss, req);
		return STEP_WAIT;
	}
	if (req->stream_offset < 0 ||
	    (uint64_t)req->stream_offset > ss->tx_off) {
		rs_svc_error(call, ERR(INVALID_REQUEST), 0,
			     "stream_offset %lld: the socket has taken %llu "
			     "bytes (a Send before this one is missing)",
			     (long long)req->stream_offset,
			     (unsigned long long)ss->tx_off);
		return STEP_FAILED;
	}
	offered(ss, req);
	skip = ss->tx_off - (uint64_t)req->stream_offset;
	*n = (size_t)skip;
	if (skip >= d->len) { /* all of it taken before: a retry */
		*n = d->len;
		return STEP_DONE;
	}
	took = rs_sock_send(ss->s, d->data + skip, d->len - skip, 0);
	/* No room now, but an earlier run of this Send (it was parked) took
	 * its first bytes: those are what it has sent so far, not EAGAIN. */
	if (took == -EAGAIN)
		return skip > 0 ? STEP_DONE : STEP_WAIT;
	if (took < 0)
		return SVC_ERR(call, took, "send"), STEP_FAILED;
	ss->tx_off += (uint64_t)took;
	*n += (size_t)took;
	return STEP_DONE;
}

static enum step send_datagram(const struct svc_call *sc,
			       struct rs_rpc_call *call, struct svc_sock *ss,
			       const Remsock__SendRequest *req, size_t *n)
{
	struct sockaddr_in to = {.sin_family = AF_INET};
	uint32_t ip;
	uint16_t port;
	ssize_t sent;

	if (req->send_to != NULL) {
		if (!rs_svc_acl_check(sc->w->sh, call, sc->app, req->send_to) ||
		    !rs_svc_addr_get(call, req->send_to, &ip, &port))
			return STEP_FAILED;
		to.sin_addr.s_addr = ip;
		to.sin_port = htons(port);
	}
	sent = rs_sock_sendto(ss->s, req->data.data, req->data.len, 0,
			      req->send_to != NULL ? &to : NULL);
	if (sent < 0)
		return SVC_ERR(call, sent, "send"), STEP_FAILED;
	*n = (size_t)sent;
	return STEP_DONE;
}

/* The core of Send, for Send and SendBatch: *@p ssp is the socket
 * (NULL when it is gone, a Close it completed included). */
static enum step send_one(struct svc_call *sc, struct rs_rpc_call *call,
			  const Remsock__SendRequest *req,
			  Remsock__SendReply *resp, struct svc_sock **ssp)
{
	struct svc_sock *ss =
	    svc_sock_find_send(sc, call, req->socket_descriptor);
	enum step st;
	size_t n = 0;

	*ssp = ss;
	if (ss == NULL)
		return STEP_FAILED;
	if (req->flags != 0) {
		rs_svc_sys_error(call, EOPNOTSUPP, "send flags %d", req->flags);
		return STEP_FAILED;
	}
	st = ss->kind == RS_SOCK_TCP ? send_stream(call, ss, req, &n)
				     : send_datagram(sc, call, ss, req, &n);
	if (st != STEP_DONE)
		return st;
	resp->has_data_sent = 1;
	resp->data_sent = (int32_t)n;
	if (ss->close_at >= 0 || ss->shut_at >= 0) {
		bool closes =
		    ss->close_at >= 0 && ss->tx_off >= (uint64_t)ss->close_at;

		svc_sock_sent(sc->w, ss);
		if (closes) /* ss is gone */
			*ssp = NULL;
	}
	return STEP_DONE;
}

/*
 * A blocking Send (a timeout other than 0) waits until all of its data
 * is in the ring, as send(2) does, so a client may pipeline Sends; at its
 * deadline it answers with what was taken.  It waits as what it has
 * still to send, not as its frame: the state below, then the bytes of
 * the rest, which a run again offers the socket as a Send of its own
 * (the stream offset says where they go; bytes the socket took meanwhile
 * are skipped as for a retry).
 */
struct send_wait {
	char desc[RS_DESC_LEN + 1];
	int64_t offset; /* stream offset of the rest's first byte */
	uint32_t done;	/* bytes of the request taken before the rest */
	uint32_t rest;	/* bytes after this struct */
};

static void send_resume(struct svc_call *sc);

/* After a run of a TCP Send: wait for room for the rest, or answer.
 * @p req's first @p done bytes are taken, or (@p st WAIT) none. */
static void send_wait(struct svc_call *sc, struct svc_sock *ss,
		      const Remsock__SendRequest *req, enum step st,
		      size_t done, double timeout_s)
{
	struct send_wait sw = {
	    .offset = req->stream_offset + (int64_t)done,
	    .done = (uint32_t)done,
	    .rest = (uint32_t)(req->data.len - done),
	};
	int rc;

	if (st == STEP_DONE && done == req->data.len)
		return;
	/* A run again keeps the wait it has: park() takes no new state. */
	memcpy(sw.desc, ss->desc, RS_DESC_LEN);
	rc =
	    svc_park_send(sc, ss, timeout_s,
			  &(const struct svc_keep){
			      .v = {{&sw, sizeof(sw)},
				    {(void *)(req->data.data + done), sw.rest}},
			      .resume = send_resume,
			  });
	if (rc == 0 && st == STEP_WAIT)
		rs_svc_sys_error(&sc->rpc, EAGAIN, "send buffer full");
}

/* The reply of a call run again from its state (a wait keeps its
 * method), empty; NULL: the error is set. */
static void *resume_reply(struct svc_call *sc)
{
	const ProtobufCMessageDescriptor *d = sc->rpc.method->resp_desc;
	ProtobufCMessage *resp =
	    rs_arena_alloc(sc->rpc.arena, d->sizeof_message);

	if (resp == NULL) {
		rs_svc_sys_error(&sc->rpc, ENOMEM, "no call memory");
		return NULL;
	}
	protobuf_c_message_init(d, resp);
	sc->rpc.resp = resp;
	return resp;
}

/* A kept batch's or Poll's asks: after their count (64 bits, so that
 * the asks are aligned).  @return the count. */
static uint64_t kept_asks(const struct svc_call *sc, const void **asks)
{
	uint64_t n;

	memcpy(&n, sc->wait->frame, sizeof(n));
	*asks = sc->wait->frame + sizeof(n);
	return n;
}

static void send_resume(struct svc_call *sc)
{
	const struct send_wait *sw = (const void *)sc->wait->frame;
	Remsock__SendRequest rest = REMSOCK__SEND_REQUEST__INIT;
	struct rs_rpc_call *call = &sc->rpc;
	Remsock__SendReply *resp = resume_reply(sc);
	struct svc_sock *ss;
	enum step st;

	if (resp != NULL) {
		rest.socket_descriptor = (char *)sw->desc;
		rest.stream_offset = sw->offset;
		rest.data =
		    (ProtobufCBinaryData){sw->rest, (uint8_t *)(sw + 1)};
		st = send_one(sc, call, &rest, resp, &ss);
		if (st == STEP_DONE)
			resp->data_sent += (int32_t)sw->done;
		else if (st == STEP_WAIT && sw->done != 0) {
			/* nothing more taken: what was, is the answer */
			st = STEP_DONE;
			resp->has_data_sent = 1;
			resp->data_sent = (int32_t)sw->done;
		}
		if (st != STEP_FAILED && ss != NULL) {
			send_wait(sc, ss, &rest, st,
				  st == STEP_DONE
				      ? (size_t)resp->data_sent - sw->done
				      : 0,
				  -1);
			if (sc->parked != NULL)
				return;
		}
	}
	svc_answer_call(sc);
}

static int do_send(void *ctx, struct rs_rpc_call *call,
		   const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__SendRequest *req = (const void *)reqm;
	Remsock__SendReply *resp = (void *)respm;
	struct svc_call *sc = ctx;
	struct svc_sock *ss;
	enum step st;

	if (!authed(sc) || !here(sc, req->socket_descriptor))
		return 0;
	st = send_one(sc, call, req, resp, &ss);
	if (st == STEP_FAILED || ss == NULL || ss->kind != RS_SOCK_TCP)
		return 0;
	send_wait(sc, ss, req, st,
		  st == STEP_DONE ? (size_t)resp->data_sent : 0,
		  req->timeout_seconds);
	return 0;
}

/* ---- Receive ------------------------------------------------------------ */

/* TCP: where this Receive starts.  With consumed_offset (remsock's
 * extension) the client says how far it got: the bytes before are
 * released, those after it are sent again (a reply was lost), and what
 * is read now is held until the next Receive says it arrived.  Without
 * it, everything handed out counts as consumed. */
static bool recv_start(struct rs_rpc_call *call, struct svc_sock *ss,
		       const Remsock__ReceiveRequest *req, unsigned *flags,
		       uint64_t *start)
{
	uint64_t held, unread;

	if (rs_sock_rx_offsets(ss->s, &held, &unread) < 0)
		return true; /* not connected: the read reports it */
	*start = unread;
	if (req->consumed_offset < 0) {
		if (held != unread)
			rs_sock_rx_seek(ss->s, unread);
		return true;
	}
	if (rs_sock_rx_seek(ss->s, (uint64_t)req->consumed_offset) < 0) {
		rs_svc_error(call, ERR(INVALID_REQUEST), 0,
			     "consumed_offset %lld outside [%llu, %llu]",
			     (long long)req->consumed_offset,
			     (unsigned long long)held,
			     (unsigned long long)unread);
		return false;
	}
	*start = (uint64_t)req->consumed_offset;
	*flags |= RS_SOCK_HOLD;
	return true;
}

/* Linux's MSG_WAITALL (Python's runtime passes it through): wait for the
 * whole size, or what the receive ring can hold if less, or the end of
 * the stream or an error; at the deadline, take what is there. */
#define RECV_WAITALL 0x100

static bool waitall_ready(struct svc_sock *ss, size_t size)
{
	ssize_t avail = rs_sock_readable(ss->s);
	int ring = 0;

	if (avail < 0 ||
	    (rs_sock_poll(ss->s) &
	     (RS_SOCK_POLL_RDHUP | RS_SOCK_POLL_ERR | RS_SOCK_POLL_HUP)))
		return true;
	rs_sock_getopt(ss->s, RS_SO_RCVBUF, &ring);
	if (ring > 0 && (size_t)ring < size)
		size = (size_t)ring;
	return (size_t)avail >= size;
}

/* ReceiveReply.data's field number (a TCP reply's last field). */
#define RECV_DATA_FIELD 3

/* TCP: up to @p size bytes, read where they lie in the socket's ring.  A
 * Receive's reply ends with them and a ReceiveBatch entry's is written
 * around them (@p runs: svc_recv_batch_gather()), so they are copied
 * once, into the response.  @return as rs_sock_recv(). */
static ssize_t take_stream(struct svc_sock *ss, size_t size, unsigned flags,
			   Remsock__ReceiveReply *resp, struct svc_runs *runs)
{
	struct rs_byte_view v;
	ssize_t n = rs_sock_rx_view(ss->s, size, flags, &v);

	if (n <= 0) {
		resp->has_data = n == 0;
		return n;
	}
	runs->iov[0] = (struct iovec){v.seg[0].ptr, v.seg[0].len};
	runs->iov[1] = (struct iovec){v.seg[1].ptr, v.seg[1].len};
	rs_sock_rx_take(ss->s, (size_t)n, flags);
	return n;
}

/* A Receive's reply without its data: frame header, call_id, body and
 * field headers, stream_offset. */
#define RECV_HEAD_MAX 64u
/* Below this much room, a Receive is not cut: its reply waits in the
 * connection's output instead. */
#define RECV_ROOM_MIN 4096u

/* A Receive takes what its reply can carry straight into the RPC
 * connection's TX ring (svc_conn.c keeps room there before it takes a
 * call): fewer bytes than asked, as recv(2) may return, rather than a
 * reply that waits in a buffer and is copied again.  Not a peek (which
 * shows what is there) nor MSG_WAITALL (which waits for all). */
static size_t fit_room(const struct svc_call *sc, size_t size)
{
	size_t room = svc_conn_room(sc->conn);

	if (room < RECV_ROOM_MIN)
		return size;
	return RTE_MIN(size, room - RECV_HEAD_MAX);
}

/* UDP: the next datagram, copied into the call's memory. */
static ssize_t take_datagram(struct rs_rpc_call *call, struct svc_sock *ss,
			     size_t size, unsigned flags,
			     Remsock__ReceiveReply *resp)
{
	struct sockaddr_in from;
	uint8_t *buf;
	ssize_t n;

	/* Memory for what is there, not for what is asked: a batch of many
	 * large asks must not run out of call memory. */
	n = rs_sock_readable(ss->s);
	size = n > 0 ? RTE_MIN(size, (size_t)n) : 1;
	buf = rs_arena_alloc(call->arena, size);
	if (buf == NULL)
		return -ENOMEM;
	n = rs_sock_recvfrom(ss->s, buf, size, flags, &from);
	if (n < 0)
		return n;
	resp->has_data = 1;
	resp->data = (ProtobufCBinaryData){.len = (size_t)n, .data = buf};
	svc_addr_fill(call->arena, &resp->received_from, &from, ss->v6);
	return n;
}

/* The core of Receive, for Receive and ReceiveBatch, on @p ss (found):
 * at most @p cap bytes; TCP's data left where it lies, in @p runs; @p fit:
 * a Receive, which takes at most what its connection's output has room
 * for (fit_room()).  *@p got: the bytes taken (0: EOF). */
static enum step recv_one(struct svc_call *sc, struct rs_rpc_call *call,
			  const Remsock__ReceiveRequest *req,
			  Remsock__ReceiveReply *resp, struct svc_sock *ss,
			  size_t cap, struct svc_runs *runs, bool fit,
			  size_t *got)
{
	bool stream = ss->kind == RS_SOCK_TCP;
	uint64_t start = 0;
	unsigned flags = 0;
	size_t size;
	ssize_t n;

	if (req->data_size < 0 ||
	    (req->flags & ~(REMSOCK__RECEIVE_REQUEST__FLAGS__MSG_PEEK |
			    RECV_WAITALL)) != 0) {
		rs_svc_error(call, ERR(INVALID_REQUEST), 0,
			     "data_size %d, flags %d (MSG_PEEK and "
			     "MSG_WAITALL only)",
			     req->data_size, req->flags);
		return STEP_FAILED;
	}
	if (req->flags & REMSOCK__RECEIVE_REQUEST__FLAGS__MSG_PEEK)
		flags |= RS_SOCK_PEEK;
	if (stream && !recv_start(call, ss, req, &flags, &start))
		return STEP_FAILED;
	size = RTE_MIN(cap, (size_t)SVC_RECV_MAX);
	size = RTE_MIN((size_t)req->data_size, size);
	if (size == 0) { /* as recv(2) of 0 bytes: nothing, at once */
		resp->has_data = 1;
		resp->data = (ProtobufCBinaryData){.len = 0, .data = NULL};
		n = 0;
	} else if (stream && (req->flags & RECV_WAITALL) &&
		   !(flags & RS_SOCK_PEEK) && !sc->expired &&
		   !waitall_ready(ss, size)) {
		return STEP_WAIT;
	} else {
		if (stream && fit && !(req->flags & RECV_WAITALL) &&
		    !(flags & RS_SOCK_PEEK))
			size = fit_room(sc, size);
		n = stream ? take_stream(ss, size, flags, resp, runs)
			   : take_datagram(call, ss, size, flags, resp);
	}
	if (n == -EAGAIN)
		return STEP_WAIT;
	if (n == -ENOMEM)
		return rs_svc_sys_error(call, ENOMEM, "no call memory"),
		       STEP_FAILED;
	if (n < 0)
		return SVC_ERR(call, n, "receive"), STEP_FAILED;
	if (stream) {
		resp->has_stream_offset = 1;
		resp->stream_offset = (int64_t)start;
	}
	*got = (size_t)n;
	return STEP_DONE;
}

/* The most data a Receive's reply carries. */
static uint32_t recv_most(const Remsock__ReceiveRequest *req)
{
	int32_t n = req->data_size;

	return n <= 0 ? 0 : (uint32_t)RTE_MIN((uint32_t)n, SVC_RECV_MAX);
}

/*
 * A Receive, a ReceiveBatch or a Poll waits as what it asks, not as its
 * frame: the entries below, which a run again (recv_resume(),
 * batch_resume(), poll_resume()) turns back into the request without a
 * dispatch or a decode.  A wait is parked only once every socket it asks
 * was found, so each descriptor kept is one of RS_DESC_LEN characters.
 */
struct recv_ask {
	char desc[RS_DESC_LEN + 1];
	int32_t data_size, flags;
	int64_t consumed_offset; /* -1: none */
};

struct poll_ask {
	char desc[RS_DESC_LEN + 1];
	int32_t requested_events;
};

static void ask_keep(struct recv_ask *k, const Remsock__ReceiveRequest *r)
{
	snprintf(k->desc, sizeof(k->desc), "%s", r->socket_descriptor);
	k->data_size = r->data_size;
	k->flags = r->flags;
	k->consumed_offset = r->consumed_offset;
}

static void ask_request(Remsock__ReceiveRequest *r, const struct recv_ask *k)
{
	remsock__receive_request__init(r);
	r->socket_descriptor = (char *)k->desc;
	r->data_size = k->data_size;
	r->has_flags = k->flags != 0;
	r->flags = k->flags;
	r->has_consumed_offset = k->consumed_offset >= 0;
	r->consumed_offset = k->consumed_offset;
}

static void recv_resume(struct svc_call *sc);

/* A Receive once routed: its data as the reply's tail, or a wait. */
static int receive_run(struct svc_call *sc, struct rs_rpc_call *call,
		       const Remsock__ReceiveRequest *req,
		       Remsock__ReceiveReply *resp)
{
	struct rs_rpc_tail *tail = rs_arena_alloc(call->arena, sizeof(*tail));
	struct svc_sock *ss = svc_sock_find(sc, call, req->socket_descriptor);
	struct svc_runs runs = {0};
	struct recv_ask k;
	size_t got;

	if (tail == NULL)
		return -ENOMEM;
	if (ss == NULL)
		return 0;
	switch (recv_one(sc, call, req, resp, ss, SVC_RECV_MAX, &runs, true,
			 &got)) {
	case STEP_WAIT:
		ask_keep(&k, req);
		if (svc_park_kept(sc, ss, req->timeout_seconds,
				  &(const struct svc_keep){
				      .v = {{&k, sizeof(k)}},
				      .resume = recv_resume,
				  }) == 0)
			rs_svc_sys_error(call, EAGAIN, "nothing to receive");
		break;
	case STEP_DONE:
		if (runs.iov[0].iov_len + runs.iov[1].iov_len > 0) {
			*tail = (struct rs_rpc_tail){.field = RECV_DATA_FIELD};
			memcpy(tail->iov, runs.iov, sizeof(runs.iov));
			call->tail = tail;
		}
		break;
	case STEP_FAILED:
		break;
	}
	return 0;
}

static int do_receive(void *ctx, struct rs_rpc_call *call,
		      const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__ReceiveRequest *req = (const void *)reqm;
	struct svc_call *sc = ctx;

	/* Forwarded, its answer may carry this much. */
	sc->fwd_out.bytes = recv_most(req) + SVC_FWD_SMALL;
	if (!authed(sc) || !here(sc, req->socket_descriptor))
		return 0;
	return receive_run(sc, call, req, (void *)respm);
}

static void recv_resume(struct svc_call *sc)
{
	Remsock__ReceiveRequest req;
	Remsock__ReceiveReply *resp = resume_reply(sc);

	ask_request(&req, (const void *)sc->wait->frame);
	if (resp != NULL && receive_run(sc, &sc->rpc, &req, resp) < 0)
		rs_svc_sys_error(&sc->rpc, ENOMEM, "no call memory");
	if (sc->parked == NULL)
		svc_answer_call(sc);
}

/* ---- SendBatch and ReceiveBatch ----------------------------------------- */

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
	struct svc_call *sc = ctx;
	Remsock__SendBatchEntry *ent;
	Remsock__SendReply *rep;
	struct svc_sock *ss;
	void *m;

	if (!authed(sc))
		return 0;
	for (size_t i = 0; i < req->n_sends; i++)
		svc_route_add(sc, req->sends[i]->socket_descriptor);
	if (!svc_route_done(sc))
		return split(sc, call, reqm);
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
		/* No waiting in a batch: a full ring answers EAGAIN. */
		switch (send_one(sc, &sub, req->sends[i], &rep[i], &ss)) {
		case STEP_WAIT:
			rs_svc_sys_error(&sub, EAGAIN, "send buffer full");
			/* fall through */
		case STEP_FAILED:
			ENTRY_ERROR(&ent[i], sub);
			break;
		case STEP_DONE:
			ent[i].reply = &rep[i];
		}
	}
	resp->n_entries = req->n_sends;
	return 0;
}

/* Bytes of data a ReceiveBatch of @p n entries may take so that its reply
 * fits SVC_OUT_MAX whatever each entry says (an entry's framing, offset,
 * address or error, and the envelope, within BATCH_ENTRY_MAX each): data
 * is never taken for a reply that could not be sent. */
#define BATCH_ENTRY_MAX 512u
static size_t batch_room(size_t n)
{
	size_t over = (n + 8) * BATCH_ENTRY_MAX;

	return over >= SVC_OUT_MAX ? 0 : SVC_OUT_MAX - over;
}

/* A batch's sockets, found before any is read, and their state and the
 * first bytes each will give brought toward the cache (@p s: room for
 * their rs_socks): the sockets of a batch are many and out of the cache,
 * and their misses then overlap instead of coming one entry after
 * another. */
static void batch_find(struct svc_call *sc,
		       const Remsock__ReceiveBatchRequest *req,
		       struct svc_sock **socks, struct rs_sock **s)
{
	svc_sock_find_bulk(sc, req->receives, req->n_receives, socks);
	for (size_t i = 0; i < req->n_receives; i++)
		s[i] = socks[i] != NULL ? socks[i]->s : NULL;
	rs_sock_rx_prefetch(s, req->n_receives);
}

static void batch_resume(struct svc_call *sc);

/* A ReceiveBatch's wait: the count (64 bits: the asks after it stay
 * aligned), then what each entry asks. */
static int batch_park(struct svc_call *sc,
		      const Remsock__ReceiveBatchRequest *req,
		      struct svc_sock *const *socks)
{
	uint64_t n = req->n_receives;
	struct recv_ask *k = rs_arena_alloc(sc->rpc.arena, n * sizeof(*k));

	if (k == NULL)
		return rs_svc_sys_error(&sc->rpc, ENOMEM, "no call memory"), -1;
	for (uint64_t i = 0; i < n; i++)
		ask_keep(&k[i], req->receives[i]);
	return svc_park_socks(sc, socks, n, req->timeout_seconds,
			      &(const struct svc_keep){
				  .v = {{&n, sizeof(n)}, {k, n * sizeof(*k)}},
				  .resume = batch_resume,
			      });
}

/* A ReceiveBatch once routed: its entries, or a wait. */
static int batch_run(struct svc_call *sc, struct rs_rpc_call *call,
		     const Remsock__ReceiveBatchRequest *req,
		     Remsock__ReceiveBatchReply *resp)
{
	size_t ready = 0, nwaiting = 0, room = batch_room(req->n_receives);
	size_t got = 0, n = req->n_receives;
	Remsock__ReceiveBatchEntry *ent;
	Remsock__ReceiveReply *rep;
	struct svc_sock **socks;
	struct rs_rpc_gather *g;
	struct svc_runs *runs;
	struct rs_sock **s;
	void *m;

	resp->entries = (void *)entries_alloc(call->arena, n,
					      sizeof(*ent) + sizeof(*rep), &m);
	socks = rs_arena_alloc(call->arena, (n + 1) * sizeof(*socks));
	s = rs_arena_alloc(call->arena, (n + 1) * sizeof(*s));
	runs = rs_arena_alloc(call->arena, (n + 1) * sizeof(*runs));
	g = rs_arena_alloc(call->arena, sizeof(*g));
	if (resp->entries == NULL || socks == NULL || s == NULL ||
	    runs == NULL || g == NULL)
		return -ENOMEM;
	ent = m;
	rep = (void *)(ent + n);
	batch_find(sc, req, socks, s);
	for (size_t i = 0; i < n; i++) {
		struct rs_rpc_call sub = {.arena = call->arena};

		remsock__receive_batch_entry__init(&ent[i]);
		remsock__receive_reply__init(&rep[i]);
		runs[i] = (struct svc_runs){0};
		resp->entries[i] = &ent[i];
		if (room == 0) { /* taking more could not be answered */
			rs_svc_sys_error(
			    &sub, EAGAIN,
			    "the batch's reply is full: ask again");
			ENTRY_ERROR(&ent[i], sub);
			continue;
		}
		if (socks[i] == NULL) { /* the error, in the entry */
			svc_sock_find(sc, &sub,
				      req->receives[i]->socket_descriptor);
			ENTRY_ERROR(&ent[i], sub);
			ready++;
			continue;
		}
		switch (recv_one(sc, &sub, req->receives[i], &rep[i], socks[i],
				 room, &runs[i], false, &got)) {
		case STEP_WAIT:
			rs_svc_sys_error(&sub, EAGAIN, "nothing to receive");
			ENTRY_ERROR(&ent[i], sub);
			nwaiting++;
			break;
		case STEP_FAILED: /* an error is news too: it ends the wait */
			ENTRY_ERROR(&ent[i], sub);
			ready++;
			break;
		case STEP_DONE:
			ent[i].reply = &rep[i];
			room -= got;
			ready++;
		}
	}
	resp->n_entries = n;
	/* Nothing was read while nothing is ready: waiting loses nothing.
	 * Every entry waits on a socket it found. */
	if (ready == 0 && nwaiting == n && batch_park(sc, req, socks) != 0)
		return 0;
	if (svc_recv_batch_gather(call->arena, resp, runs, g) < 0)
		return -ENOMEM;
	call->gather = g;
	return 0;
}

static int do_receive_batch(void *ctx, struct rs_rpc_call *call,
			    const ProtobufCMessage *reqm,
			    ProtobufCMessage *respm)
{
	const Remsock__ReceiveBatchRequest *req = (const void *)reqm;
	struct svc_call *sc = ctx;
	size_t most = 0;

	if (!authed(sc))
		return 0;
	for (size_t i = 0; i < req->n_receives; i++) {
		svc_route_add(sc, req->receives[i]->socket_descriptor);
		most += recv_most(req->receives[i]);
	}
	sc->fwd_out.bytes =
	    (uint32_t)RTE_MIN(most + SVC_FWD_SMALL, (size_t)SVC_OUT_MAX);
	if (!svc_route_done(sc))
		return split(sc, call, reqm);
	return batch_run(sc, call, req, (void *)respm);
}

static void batch_resume(struct svc_call *sc)
{
	const struct recv_ask *k;
	uint64_t n = kept_asks(sc, (const void **)&k);
	Remsock__ReceiveBatchRequest req = REMSOCK__RECEIVE_BATCH_REQUEST__INIT;
	Remsock__ReceiveBatchReply *resp = resume_reply(sc);
	Remsock__ReceiveRequest *r;

	r = rs_arena_alloc(sc->rpc.arena, (n + 1) * sizeof(*r));
	req.receives = rs_arena_alloc(sc->rpc.arena, (n + 1) * sizeof(r));
	if (resp != NULL && (r == NULL || req.receives == NULL))
		rs_svc_sys_error(&sc->rpc, ENOMEM, "no call memory");
	else if (resp != NULL) {
		for (uint64_t i = 0; i < n; i++) {
			ask_request(&r[i], &k[i]);
			req.receives[i] = &r[i];
		}
		req.n_receives = n;
		if (batch_run(sc, &sc->rpc, &req, resp) < 0)
			rs_svc_sys_error(&sc->rpc, ENOMEM, "no call memory");
	}
	if (sc->parked == NULL)
		svc_answer_call(sc);
}

/* ---- Poll --------------------------------------------------------------- */

static int32_t observed(struct svc_call *sc, const Remsock__PollEvent *e,
			struct svc_sock **ssp)
{
	struct svc_sock *ss = svc_sock_find(sc, NULL, e->socket_descriptor);
	unsigned p;
	int32_t ev = 0;

	*ssp = ss;
	if (ss == NULL)
		return POLL(NVAL);
	p = rs_sock_poll(ss->s);
	/* An error makes the socket readable and writable, as select()
	 * reports it (App Engine's stub ran select() on Linux sockets, and
	 * Python's runtime looks at IN and OUT only): the call then says
	 * what happened.  A socket that ended is both already
	 * (rs_sock_poll(), as Linux's poll). */
	if (p & RS_SOCK_POLL_ERR)
		p |= RS_SOCK_POLL_IN | RS_SOCK_POLL_OUT;
	if (p & RS_SOCK_POLL_IN)
		ev |= POLL(IN) | POLL(RDNORM);
	if (p & RS_SOCK_POLL_OUT)
		ev |= POLL(OUT) | POLL(WRNORM);
	if (p & RS_SOCK_POLL_RDHUP)
		ev |= POLL(RDHUP);
	ev &= e->requested_events;
	/* As poll(2): errors and hang-ups are reported unasked. */
	if (p & RS_SOCK_POLL_ERR)
		ev |= POLL(ERR);
	if (p & RS_SOCK_POLL_HUP)
		ev |= POLL(HUP);
	return ev;
}

static void poll_resume(struct svc_call *sc);

/* A Poll's wait: the count (64 bits), then what each entry asks. */
static int poll_park(struct svc_call *sc, const Remsock__PollRequest *req,
		     struct svc_sock *const *socks)
{
	uint64_t n = req->n_events;
	struct poll_ask *k = rs_arena_alloc(sc->rpc.arena, n * sizeof(*k));

	if (k == NULL)
		return rs_svc_sys_error(&sc->rpc, ENOMEM, "no call memory"), -1;
	for (uint64_t i = 0; i < n; i++) {
		snprintf(k[i].desc, sizeof(k[i].desc), "%s",
			 req->events[i]->socket_descriptor);
		k[i].requested_events = req->events[i]->requested_events;
	}
	return svc_park_socks(sc, socks, n, req->timeout_seconds,
			      &(const struct svc_keep){
				  .v = {{&n, sizeof(n)}, {k, n * sizeof(*k)}},
				  .resume = poll_resume,
			      });
}

/* A Poll once routed: what is ready, or a wait. */
static int poll_run(struct svc_call *sc, struct rs_rpc_call *call,
		    const Remsock__PollRequest *req, Remsock__PollReply *resp)
{
	Remsock__PollEvent *ev;
	struct svc_sock **socks;
	size_t ready = 0;

	ev = rs_arena_alloc(call->arena, (req->n_events + 1) * sizeof(*ev));
	resp->events =
	    rs_arena_alloc(call->arena, (req->n_events + 1) * sizeof(ev));
	socks =
	    rs_arena_alloc(call->arena, (req->n_events + 1) * sizeof(*socks));
	if (ev == NULL || resp->events == NULL || socks == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_events; i++) {
		ev[i] = *req->events[i];
		ev[i].observed_events = observed(sc, req->events[i], &socks[i]);
		resp->events[i] = &ev[i];
		ready += ev[i].observed_events != 0;
	}
	resp->n_events = req->n_events;
	/* At the timeout, the reply says nothing is ready.  Every socket
	 * was found (an unknown one is NVAL: ready). */
	if (ready == 0)
		poll_park(sc, req, socks);
	return 0;
}

static int do_poll(void *ctx, struct rs_rpc_call *call,
		   const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__PollRequest *req = (const void *)reqm;
	struct svc_call *sc = ctx;

	if (!authed(sc))
		return 0;
	for (size_t i = 0; i < req->n_events; i++)
		svc_route_add(sc, req->events[i]->socket_descriptor);
	if (!svc_route_done(sc))
		return split(sc, call, reqm);
	return poll_run(sc, call, req, (void *)respm);
}

static void poll_resume(struct svc_call *sc)
{
	const struct poll_ask *k;
	uint64_t n = kept_asks(sc, (const void **)&k);
	Remsock__PollRequest req = REMSOCK__POLL_REQUEST__INIT;
	Remsock__PollReply *resp = resume_reply(sc);
	Remsock__PollEvent *e;

	e = rs_arena_alloc(sc->rpc.arena, (n + 1) * sizeof(*e));
	req.events = rs_arena_alloc(sc->rpc.arena, (n + 1) * sizeof(e));
	if (resp != NULL && (e == NULL || req.events == NULL))
		rs_svc_sys_error(&sc->rpc, ENOMEM, "no call memory");
	else if (resp != NULL) {
		for (uint64_t i = 0; i < n; i++) {
			remsock__poll_event__init(&e[i]);
			e[i].socket_descriptor = (char *)k[i].desc;
			e[i].requested_events = k[i].requested_events;
			req.events[i] = &e[i];
		}
		req.n_events = n;
		if (poll_run(sc, &sc->rpc, &req, resp) < 0)
			rs_svc_sys_error(&sc->rpc, ENOMEM, "no call memory");
	}
	if (sc->parked == NULL)
		svc_answer_call(sc);
}

/* ---- registration ------------------------------------------------------- */

#define M(name, fn, type) RS_SVC_METHOD(name, fn, type, RS_RPC_PLANE_DATA)

static const struct rs_rpc_method methods[] = {
    {"Send", do_send, &rs_svc_send_request_lenient,
     &remsock__send_reply__descriptor, RS_RPC_PLANE_DATA},
    M("Receive", do_receive, receive),
    M("Poll", do_poll, poll),
    M("SendBatch", do_send_batch, send_batch),
    M("ReceiveBatch", do_receive_batch, receive_batch),
};

static const struct rs_rpc_method auth_method = {
    "Authenticate", authenticate,
    &remsock__rpc__authenticate_request__descriptor,
    &remsock__rpc__authenticate_reply__descriptor, RS_RPC_PLANE_DATA};

int svc_data_register(struct rs_rpc_registry *reg)
{
	int rc = rs_rpc_registry_add(reg, RS_SVC_SERVICE_AUTH, &auth_method);

	for (unsigned i = 0; i < RTE_DIM(methods) && rc == 0; i++)
		rc = rs_rpc_registry_add(reg, RS_SVC_SERVICE, &methods[i]);
	return rc;
}
