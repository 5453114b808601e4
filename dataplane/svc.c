/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The workers' half of the remote socket service: the hooks the data
 * plane runs on every worker, the worker's table of proxied sockets, the
 * entries from control, and parked calls (svc_pvt.h says how they wait).
 *
 * One round of the poll hook:
 *   1. entries from control: RESPOND frames are written to their
 *      connection, EXEC frames are run (svc_exec.c);
 *   2. calls over many sockets (Poll, ReceiveBatch) run again if any
 *      socket of the worker had an event;
 *   3. calls whose deadline passed run a last time;
 *   4. every SCAN_NS: connections that did not authenticate in time are
 *      closed, and sockets idle past [service] idle_timeout_s are reaped.
 * Calls parked on one socket run again from its event callback.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ares.h>
#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "remote_socket.pb-c.h"
#include "rs_apps.h"
#include "rs_config.h"
#include "svc_pvt.h"

#define SCAN_NS (250ull * 1000 * 1000)

/* Control's rings reach every worker the data plane may run. */
_Static_assert(RS_DP_WORKERS_MAX <=
		   sizeof(((struct rs_svc_shared *)0)->to_worker) /
		       sizeof(struct rte_ring *),
	       "rs_svc_shared.to_worker too small");

struct rs_svc_dp {
	struct rs_svc_shared *sh;
	struct svc_sources *sources;   /* shared by the workers */
	struct svc_sessions *sessions; /* ... and so are these */
	struct rs_rpc_registry *exec_reg;
	/* [rpc] tls_port's SSL_CTX, or NULL: a new connection takes the one
	 * here then (a reload swaps it); a connection keeps its own. */
	void *tls_ctx;
	struct svc_worker *w[RS_DP_WORKERS_MAX];
};

/* ---- the worker's sockets ----------------------------------------------- */

/* The hash key of @p desc: false (and a key no socket has) when it is
 * not a descriptor's length. */
static bool desc_key(char key[SVC_KEY_LEN], const char *desc)
{
	if (desc == NULL || strlen(desc) != RS_DESC_LEN) {
		memset(key, 0xff, SVC_KEY_LEN);
		return false;
	}
	memcpy(key, desc, RS_DESC_LEN);
	memset(key + RS_DESC_LEN, 0, SVC_KEY_LEN - RS_DESC_LEN);
	return true;
}

/* @p data if it is the caller app's socket (another app's descriptor
 * looks like one that never existed), now used; else NULL. */
static struct svc_sock *sock_mine(struct svc_call *sc, void *data, uint64_t now)
{
	struct svc_sock *ss = data;

	if (ss == NULL || ss->app != sc->app)
		return NULL;
	ss->last_use_ns = now;
	return ss;
}

/* The caller app's socket of @p desc, closed ones too; NULL when none. */
static struct svc_sock *sock_lookup(struct svc_call *sc, const char *desc)
{
	char key[SVC_KEY_LEN];
	void *data;

	if (!desc_key(key, desc) ||
	    rte_hash_lookup_data(sc->w->socks, key, &data) < 0)
		return NULL;
	return sock_mine(sc, data, rs_lcore_now_ns(sc->w->lc));
}

struct svc_sock *svc_sock_find(struct svc_call *sc, struct rs_rpc_call *call,
			       const char *desc)
{
	struct svc_sock *ss = sock_lookup(sc, desc);

	/* A Close waiting for its Sends has closed the descriptor for
	 * everything else. */
	if (ss != NULL && ss->close_at < 0)
		return ss;
	if (call != NULL)
		rs_svc_closed(call, "no such socket descriptor, or closed");
	return NULL;
}

void svc_sock_find_bulk(struct svc_call *sc,
			Remsock__ReceiveRequest *const *reqs, size_t n,
			struct svc_sock **out)
{
	char keys[RTE_HASH_LOOKUP_BULK_MAX][SVC_KEY_LEN];
	const void *kp[RTE_HASH_LOOKUP_BULK_MAX];
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t now = rs_lcore_now_ns(sc->w->lc), hits;

	for (size_t base = 0; base < n; base += RTE_HASH_LOOKUP_BULK_MAX) {
		uint32_t m = (uint32_t)RTE_MIN(
		    n - base, (size_t)RTE_HASH_LOOKUP_BULK_MAX);

		for (uint32_t i = 0; i < m; i++) {
			desc_key(keys[i], reqs[base + i]->socket_descriptor);
			kp[i] = keys[i];
		}
		if (rte_hash_lookup_bulk_data(sc->w->socks, kp, m, &hits,
					      data) < 0)
			hits = 0;
		for (uint32_t i = 0; i < m; i++) {
			struct svc_sock *ss = sock_mine(
			    sc, (hits >> i) & 1 ? data[i] : NULL, now);

			/* Not closed, as svc_sock_find(). */
			out[base + i] =
			    ss != NULL && ss->close_at < 0 ? ss : NULL;
		}
	}
}

struct svc_sock *svc_sock_find_send(struct svc_call *sc,
				    struct rs_rpc_call *call, const char *desc)
{
	struct svc_sock *ss = sock_lookup(sc, desc);

	if (ss == NULL && call != NULL)
		rs_svc_closed(call, "no such socket descriptor");
	return ss;
}

/* ---- calls on other workers' sockets ------------------------------------ */

/* The worker of @p desc's socket, or -1 when no worker has it. */
static int owner_of(const struct svc_worker *w, const char *desc)
{
	char key[SVC_KEY_LEN];

	if (!desc_key(key, desc))
		return -1;
	if (rte_hash_lookup(w->socks, key) >= 0)
		return (int)w->k;
	return rs_svc_owner_get(w->sh, desc);
}

unsigned svc_route_owner(const struct svc_worker *w, const char *desc)
{
	int o = owner_of(w, desc);

	return o < 0 ? w->k : (unsigned)o;
}

void svc_route_add(struct svc_call *sc, const char *desc)
{
	struct svc_worker *w = sc->w;
	int o;

	/* A call given here by another worker runs here: never twice. */
	if (sc->from != 0 || w->sh->owners == NULL ||
	    sc->route == SVC_ROUTE_MIXED)
		return;
	/* Nobody's (then any worker answers "closed" alike: it decides
	 * nothing), or the worker that holds it. */
	o = owner_of(w, desc);
	if (o < 0)
		return;
	unsigned k = (unsigned)o;

	if (sc->route == 0)
		sc->route = (uint16_t)(k + 1);
	else if (sc->route != k + 1)
		sc->route = SVC_ROUTE_MIXED;
}

bool svc_route_done(struct svc_call *sc)
{
	struct svc_worker *w = sc->w;

	if (sc->route == 0 || sc->route == w->k + 1)
		return true;
	/* Several workers': the handler splits the call. */
	if (sc->route != SVC_ROUTE_MIXED)
		sc->fwd_to = sc->route;
	return false;
}

void svc_peer_wake(const struct svc_worker *w, unsigned k)
{
	struct svc_worker *t = __atomic_load_n(&w->sdp->w[k], __ATOMIC_ACQUIRE);

	if (t != NULL)
		rs_lcore_wake(t->lc);
}

/* Entries for other workers go in order: one that found its ring full
 * waits, and those after it too, for the next polls. */
void svc_peer_send(struct svc_worker *w, unsigned k, struct rs_svc_msg *m)
{
	struct rs_svc_msg **q;

	m->target = (uint16_t)k;
	if (w->peer_n == 0 && rs_svc_peer_send(w->sh, k, m) == 0) {
		svc_peer_wake(w, k);
		return;
	}
	if (w->peer_n == w->peer_cap) {
		uint32_t cap = w->peer_cap == 0 ? 64 : 2 * w->peer_cap;

		q = realloc(w->peer_q, cap * sizeof(*q));
		if (q == NULL) {
			SVC_CNT_INC(w, gone_lost);
			rs_svc_msg_put(w->sh, m);
			return;
		}
		w->peer_q = q;
		w->peer_cap = cap;
	}
	w->peer_q[w->peer_n++] = m;
}

static void peer_flush(struct svc_worker *w)
{
	uint32_t i = 0;

	while (i < w->peer_n &&
	       rs_svc_peer_send(w->sh, w->peer_q[i]->target, w->peer_q[i]) == 0)
		svc_peer_wake(w, w->peer_q[i++]->target);
	memmove(w->peer_q, w->peer_q + i,
		(w->peer_n - i) * sizeof(w->peer_q[0]));
	w->peer_n -= i;
}

/* An answer for connection @p conn of worker @p k (@p part: to a split
 * batch's part, svc_split.c). */
static void answer_to(struct svc_worker *w, unsigned k, uint64_t conn,
		      uint32_t app, bool charged, bool part,
		      const struct rs_svc_fwd_out *fo, const uint8_t *frame,
		      size_t len)
{
	struct rs_svc_msg *m = rs_svc_msg_get(w->sh);

	if (m == NULL || rs_svc_msg_set_frame(m, frame, len) < 0) {
		/* Nothing to carry it: the client's deadline ends it (and its
		 * connection counts one call in flight too many). */
		if (m != NULL)
			rs_svc_msg_put(w->sh, m);
		SVC_CNT_INC(w, gone_lost);
		return;
	}
	m->type = RS_SVC_MSG_ANSWER;
	m->worker = (uint16_t)w->k;
	m->app = app;
	m->conn = conn;
	memcpy(m->desc, fo, sizeof(*fo));
	if (charged)
		m->flags |= RS_SVC_MSG_F_CHARGED;
	if (part)
		m->flags |= RS_SVC_MSG_F_PART;
	svc_peer_send(w, k, m);
}

void svc_answer(struct svc_call *sc, const uint8_t *frame, size_t len)
{
	answer_to(sc->w, sc->from - 1u, sc->from_conn, sc->app, sc->charged,
		  sc->part, &sc->fwd_out, frame, len);
	sc->charged = false;
}

static void remote_cancel(struct svc_worker *w, unsigned k, uint64_t conn,
			  uint64_t call_id);

void svc_conn_gone_tell(struct svc_worker *w, const struct svc_conn *c)
{
	struct rs_svc_msg *m;

	/* Its calls this worker runs as another's (a split batch's part
	 * here), then the other workers'. */
	remote_cancel(w, w->k, svc_conn_ref(c), 0);

	for (unsigned k = 0; k < w->sh->workers; k++) {
		if (k == w->k || (m = rs_svc_msg_get(w->sh)) == NULL)
			continue;
		m->type = RS_SVC_MSG_CONN_GONE;
		m->worker = (uint16_t)w->k;
		m->conn = svc_conn_ref(c);
		svc_peer_send(w, k, m);
	}
}

struct svc_sock *svc_sock_add(struct svc_worker *w, struct rs_sock *s,
			      const char *desc, uint32_t app, int32_t session)
{
	struct svc_sock *ss = calloc(1, sizeof(*ss));

	if (ss == NULL)
		return NULL;
	ss->s = s;
	ss->w = w;
	memcpy(ss->desc, desc, RS_DESC_LEN);
	ss->app = app;
	ss->kind = (uint8_t)rs_sock_kind(s);
	ss->close_at = -1;
	ss->shut_at = -1;
	ss->last_use_ns = ss->last_net_ns = rs_lcore_now_ns(w->lc);
	TAILQ_INIT(&ss->waits);
	TAILQ_INIT(&ss->watchers);
	if (rte_hash_add_key_data(w->socks, ss->desc, ss) < 0) {
		free(ss);
		return NULL;
	}
	rs_sock_set_callback(s, svc_sock_event, ss);
	rs_sock_set_owner(s, app + 1); /* apps never share a port */
	ss->session = session;
	svc_session_tag(w, session);
	TAILQ_INSERT_TAIL(&w->socks_all, ss, link);
	SVC_GAUGE_ADD(w, nsocks, 1);
	return ss;
}

struct svc_sock *svc_sock_new(struct svc_call *sc, enum rs_sock_kind kind)
{
	struct rs_sock *s = rs_sock_open(sc->w->lc, kind, NULL, NULL);
	struct svc_sock *ss;

	if (s == NULL) {
		SVC_ERR(&sc->rpc, -errno, "socket");
		return NULL;
	}
	/* The Sends a round writes to one peer share segments (and the
	 * connections a listener accepts inherit it). */
	if (kind == RS_SOCK_TCP)
		rs_sock_setopt(s, RS_TCP_AUTOCORK, 1);
	/* The session of the connection that makes it (none for another
	 * worker's call: CreateSocket runs on its connection's worker). */
	ss = svc_sock_add(sc->w, s, sc->desc, sc->app,
			  sc->conn != NULL ? sc->conn->session : -1);
	if (ss == NULL) {
		rs_sock_close(s);
		rs_svc_sys_error(&sc->rpc, ENOMEM, "socket table full");
	}
	return ss;
}

static void rerun(struct svc_worker *w, struct svc_wait *wt, bool expired);

/* Run the calls parked on @p list again (each unlinked first). */
static void rerun_list(struct svc_worker *w, struct svc_wait_list *list)
{
	struct svc_wait_list todo = TAILQ_HEAD_INITIALIZER(todo);
	struct svc_wait *wt;

	TAILQ_CONCAT(&todo, list, slink);
	while ((wt = TAILQ_FIRST(&todo)) != NULL) {
		TAILQ_REMOVE(&todo, wt, slink);
		wt->on = NULL;
		SVC_CNT_INC(w, woken);
		rerun(w, wt, false);
	}
}

/* The Polls and ReceiveBatches watching @p ss run again at the next poll
 * (their ties stay until they run: rerun() drops them). */
static void watchers_wake(struct svc_worker *w, struct svc_sock *ss)
{
	struct svc_watch *wa;

	TAILQ_FOREACH(wa, &ss->watchers, link)
	svc_wait_wake(w, wa->wt);
}

/* Untie a wait from its sockets. */
static void watch_drop(struct svc_wait *wt)
{
	for (uint32_t i = 0; i < wt->nwatch; i++) {
		struct svc_watch *wa = &wt->watch[i];

		if (wa->ss != NULL) {
			TAILQ_REMOVE(&wa->ss->watchers, wa, link);
			wa->ss = NULL;
		}
	}
	wt->nwatch = 0;
}

/* The ring bytes a socket holds once it carries data: what the app's
 * buffered_bytes quota counts.  Rings are allocated whole, so their size
 * is the memory, whatever they hold now. */
static uint64_t ring_bytes(struct svc_sock *ss)
{
	int rcv = 0, snd = 0;

	if (ss->listening)
		return 0;
	rs_sock_getopt(ss->s, RS_SO_RCVBUF, &rcv);
	if (ss->kind == RS_SOCK_TCP)
		rs_sock_getopt(ss->s, RS_SO_SNDBUF, &snd);
	return (uint64_t)rcv + (uint64_t)snd;
}

int svc_sock_charge(struct svc_worker *w, struct rs_rpc_call *call,
		    struct svc_sock *ss)
{
	struct rs_apps *apps = w->sh->apps;
	uint64_t want = ring_bytes(ss);

	if (want < ss->charged) {
		rs_apps_uncharge(apps, ss->app, RS_QUOTA_BUFFERED_BYTES,
				 ss->charged - want);
	} else if (want > ss->charged &&
		   rs_apps_charge(apps, ss->app, RS_QUOTA_BUFFERED_BYTES,
				  want - ss->charged) < 0) {
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(OVER_QUOTA),
		    "buffered_bytes quota (%lu) cannot hold this socket's "
		    "%lu ring bytes (SO_RCVBUF/SO_SNDBUF make them smaller)",
		    (unsigned long)rs_apps_limit(apps, ss->app,
						 RS_QUOTA_BUFFERED_BYTES),
		    (unsigned long)want);
		return -EDQUOT;
	}
	ss->charged = want;
	return 0;
}

/* A tenant's TCP socket grows a ring (auto-tuning, [tcp] rmem_max): the
 * growth is charged to its app as its first ring bytes were, and given
 * back with them when the socket goes.  Not the app's socket (a
 * connection not yet taken by Accept): refused. */
static bool sock_grow(struct rs_sock *s, void *user, size_t delta)
{
	struct svc_sock *ss = user;

	if (ss == NULL || ss->s != s ||
	    rs_apps_charge(ss->w->sh->apps, ss->app, RS_QUOTA_BUFFERED_BYTES,
			   delta) < 0)
		return false;
	ss->charged += delta;
	return true;
}

void svc_sock_close(struct svc_worker *w, struct svc_sock *ss, bool abort)
{
	/* The socket is gone now, not before: its charges end here. */
	rs_apps_uncharge(w->sh->apps, ss->app, RS_QUOTA_BUFFERED_BYTES,
			 ss->charged);
	rs_apps_uncharge(w->sh->apps, ss->app, RS_QUOTA_SOCKETS, 1);
	if (ss->listening)
		rs_apps_uncharge(w->sh->apps, ss->app, RS_QUOTA_LISTENERS, 1);
	if (ss->close_at >= 0)
		TAILQ_REMOVE(&w->closing, ss, clink);
	rte_hash_del_key(w->socks, ss->desc);
	TAILQ_REMOVE(&w->socks_all, ss, link);
	svc_session_untag(w, ss->session);
	SVC_GAUGE_ADD(w, nsocks, -1);
	if (abort)
		rs_sock_abort(ss->s);
	else
		rs_sock_close(ss->s);
	ss->s = NULL;
	/* Its calls find the descriptor gone and answer so, at the next
	 * poll: this may run inside a handler, whose arena and call a run
	 * now would overwrite. */
	while (!TAILQ_EMPTY(&ss->waits)) {
		struct svc_wait *wt = TAILQ_FIRST(&ss->waits);

		TAILQ_REMOVE(&ss->waits, wt, slink);
		wt->on = &w->ready;
		TAILQ_INSERT_TAIL(&w->ready, wt, slink);
	}
	/* ... and so do the Polls and ReceiveBatches that watch it, which
	 * let go of it now (ss is freed). */
	while (!TAILQ_EMPTY(&ss->watchers)) {
		struct svc_watch *wa = TAILQ_FIRST(&ss->watchers);

		TAILQ_REMOVE(&ss->watchers, wa, link);
		wa->ss = NULL;
		svc_wait_wake(w, wa->wt);
	}
	free(ss);
}

void svc_sock_close_at(struct svc_worker *w, struct svc_sock *ss, uint64_t off)
{
	struct svc_wait *wt, *next;

	ss->close_at = (int64_t)off;
	ss->close_by_ns = rs_lcore_now_ns(w->lc) +
			  (uint64_t)w->sh->cfg->service.close_wait_ms * 1000000;
	TAILQ_INSERT_TAIL(&w->closing, ss, clink);
	SVC_CNT_INC(w, close_deferred);
	/* Its calls other than the Sends answer "closed" now: Poll and
	 * ReceiveBatch run again at the next poll. */
	for (wt = TAILQ_FIRST(&ss->waits); wt != NULL; wt = next) {
		next = TAILQ_NEXT(wt, slink);
		if (wt->send)
			continue;
		TAILQ_REMOVE(&ss->waits, wt, slink);
		wt->on = &w->ready;
		TAILQ_INSERT_TAIL(&w->ready, wt, slink);
	}
	watchers_wake(w, ss);
}

/* Deferred Closes whose Sends did not all come within close_wait_ms close
 * with what came (all have the same wait: the list is in deadline
 * order). */
static void close_overdue(struct svc_worker *w)
{
	uint64_t now = rs_lcore_now_ns(w->lc);
	struct svc_sock *ss;

	while ((ss = TAILQ_FIRST(&w->closing)) != NULL &&
	       ss->close_by_ns <= now) {
		SVC_CNT_INC(w, close_overdue);
		svc_sock_close(w, ss, false);
	}
}

/* Send took bytes: a ShutDown or Close waiting for them goes ahead. */
void svc_sock_sent(struct svc_worker *w, struct svc_sock *ss)
{
	if (ss->shut_at >= 0 && ss->tx_off >= (uint64_t)ss->shut_at) {
		ss->shut_at = -1;
		rs_sock_shutdown(ss->s, (enum rs_sock_shut)ss->shut_how);
	}
	if (ss->close_at >= 0 && ss->tx_off >= (uint64_t)ss->close_at)
		svc_sock_close(w, ss, false);
}

void svc_sock_event(struct rs_sock *s, unsigned events, void *user)
{
	struct svc_sock *ss = user;

	if (ss == NULL)
		return;
	ss->last_net_ns = rs_lcore_now_ns(ss->w->lc);
	if (events & RS_SOCK_EV_CONNECTED)
		ss->connected = true;
	if (events & (RS_SOCK_EV_ERROR | RS_SOCK_EV_CLOSED))
		ss->failed = true;
	watchers_wake(ss->w, ss);
	rerun_list(ss->w, &ss->waits);
}

void svc_desc_unused(struct svc_worker *w, uint32_t app, const char *desc)
{
	rs_apps_uncharge(w->sh->apps, app, RS_QUOTA_SOCKETS, 1);
	svc_gone(w, app, desc);
}

/* Tell control to forget @p desc.  @return false when no entry could
 * go (the pool or the ring is full). */
static bool gone_send(struct svc_worker *w, uint32_t app, const char *desc)
{
	struct rs_svc_msg *m = rs_svc_msg_get(w->sh);

	if (m == NULL)
		return false;
	m->type = RS_SVC_MSG_GONE;
	m->worker = (uint16_t)w->k;
	m->app = app;
	memcpy(m->desc, desc, RS_DESC_LEN);
	if (rs_svc_msg_send(w->sh, -1, m) < 0) {
		rs_svc_msg_put(w->sh, m);
		return false;
	}
	SVC_CNT_INC(w, gone);
	return true;
}

/* Send the GONEs that waited, oldest first, while they go. */
static void gone_flush(struct svc_worker *w)
{
	uint32_t i = 0;

	while (i < w->gone_n &&
	       gone_send(w, w->gone_q[i].app, w->gone_q[i].desc))
		i++;
	memmove(w->gone_q, w->gone_q + i,
		(w->gone_n - i) * sizeof(w->gone_q[0]));
	w->gone_n -= i;
}

void svc_gone(struct svc_worker *w, uint32_t app, const char *desc)
{
	struct svc_gone *q;
	uint32_t cap;

	if (w->gone_n == 0 && gone_send(w, app, desc))
		return;
	/* A GONE is never dropped while memory lasts: control would keep a
	 * descriptor that leads nowhere until the restart. */
	if (w->gone_n == w->gone_cap) {
		cap = w->gone_cap ? 2 * w->gone_cap : 64;
		q = realloc(w->gone_q, cap * sizeof(*q));
		if (q == NULL) {
			SVC_CNT_INC(w, gone_lost);
			return;
		}
		w->gone_q = q;
		w->gone_cap = cap;
	}
	w->gone_q[w->gone_n].app = app;
	memcpy(w->gone_q[w->gone_n].desc, desc, RS_DESC_LEN);
	w->gone_n++;
}

/* An address out, in the family of the socket it belongs to: 4 bytes,
 * or 16 (IPv4-mapped) for a socket made IPv6. */
void svc_addr_fill(struct rs_arena *arena, Remsock__AddressPort **out,
		   const struct sockaddr_in *sa, bool v6)
{
	Remsock__AddressPort *a = rs_arena_alloc(arena, sizeof(*a));
	size_t len = v6 ? 16 : 4;
	uint8_t *ip = rs_arena_alloc(arena, len);

	if (a == NULL || ip == NULL)
		return;
	remsock__address_port__init(a);
	a->port = ntohs(sa->sin_port);
	if (v6)
		rs_svc_addr_v6(sa->sin_addr.s_addr, ip);
	else
		memcpy(ip, &sa->sin_addr, 4);
	a->has_packed_address = 1;
	a->packed_address = (ProtobufCBinaryData){.len = len, .data = ip};
	*out = a;
}

/* ---- deadlines: a binary min-heap of parked calls ----------------------- */

static void heap_set(struct svc_worker *w, uint32_t i, struct svc_wait *wt)
{
	w->heap[i] = wt;
	wt->heap = i;
}

static void heap_up(struct svc_worker *w, uint32_t i)
{
	struct svc_wait *wt = w->heap[i];

	while (i > 0 && w->heap[(i - 1) / 2]->deadline_ns > wt->deadline_ns) {
		heap_set(w, i, w->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(w, i, wt);
}

static void heap_down(struct svc_worker *w, uint32_t i)
{
	struct svc_wait *wt = w->heap[i];
	uint32_t c;

	while ((c = 2 * i + 1) < w->nheap) {
		if (c + 1 < w->nheap &&
		    w->heap[c + 1]->deadline_ns < w->heap[c]->deadline_ns)
			c++;
		if (w->heap[c]->deadline_ns >= wt->deadline_ns)
			break;
		heap_set(w, i, w->heap[c]);
		i = c;
	}
	heap_set(w, i, wt);
}

static bool heap_push(struct svc_worker *w, struct svc_wait *wt)
{
	if (w->nheap == w->heap_max) {
		uint32_t n = w->heap_max ? 2 * w->heap_max : 64;
		void *p = realloc(w->heap, n * sizeof(*w->heap));

		if (p == NULL)
			return false;
		w->heap = p;
		w->heap_max = n;
	}
	heap_set(w, w->nheap++, wt);
	heap_up(w, wt->heap);
	return true;
}

static void heap_remove(struct svc_worker *w, struct svc_wait *wt)
{
	uint32_t i = wt->heap;

	if (i == UINT32_MAX)
		return;
	wt->heap = UINT32_MAX;
	if (i == --w->nheap)
		return;
	heap_set(w, i, w->heap[w->nheap]);
	heap_down(w, i);
	heap_up(w, w->heap[i]->heap);
}

/* ---- parked calls ------------------------------------------------------- */

static void wait_link(struct svc_wait *wt, struct svc_wait_list *list)
{
	wt->on = list;
	TAILQ_INSERT_TAIL(list, wt, slink);
}

static uint64_t deadline_of(const struct svc_worker *w,
			    const struct rs_rpc_call *call, double timeout_s)
{
	double s = timeout_s;

	/* Negative, NaN or beyond 30 years: no deadline of its own. */
	if (!(s >= 0 && s < 1e9))
		s = -1;
	if (call->has_deadline && call->deadline_seconds >= 0 &&
	    call->deadline_seconds < 1e9 &&
	    (s < 0 || call->deadline_seconds < s))
		s = call->deadline_seconds;
	if (s < 0)
		return UINT64_MAX;
	return rs_lcore_now_ns(w->lc) + (uint64_t)(s * 1e9);
}

/* Waits whose frame fits SPARE_FRAME bytes are kept for reuse when they
 * end (SPARE_MAX of them), so a steady stream of parked Receives, Polls
 * and Connects allocates nothing; larger frames (a parked Send's data)
 * get a wait of their own size. */
#define SPARE_FRAME 512u
#define SPARE_MAX 1024u

/* The bytes after a wait's struct: its frame, then (aligned) a tie for
 * each of @p nwatch sockets. */
static size_t wait_room(size_t frame_len, size_t nwatch)
{
	size_t need = RTE_ALIGN_CEIL(frame_len, sizeof(void *)) +
		      nwatch * sizeof(struct svc_watch);

	return need <= SPARE_FRAME ? SPARE_FRAME : need;
}

static struct svc_wait *wait_alloc(struct svc_worker *w, size_t room)
{
	struct svc_wait *wt = w->spare;

	if (room <= SPARE_FRAME && wt != NULL) {
		w->spare = wt->ctx;
		w->nspare--;
		return wt;
	}
	return malloc(sizeof(*wt) + room);
}

static void wait_release(struct svc_worker *w, struct svc_wait *wt)
{
	if (wt->room > SPARE_FRAME || w->nspare == SPARE_MAX) {
		free(wt);
		return;
	}
	wt->ctx = w->spare;
	w->spare = wt;
	w->nspare++;
}

/* Park the call on @p list (see svc_park()); a new wait takes @p ctx,
 * room for @p nwatch ties to sockets, and @p keep (NULL: the frame). */
static int park(struct svc_call *sc, struct svc_wait_list *list,
		double timeout_s, bool owns_desc, void *ctx,
		void (*ctx_free)(void *), size_t nwatch,
		const struct svc_keep *keep)
{
	struct svc_worker *w = sc->w;
	struct rs_rpc_call *call = &sc->rpc;
	struct svc_conn *c = sc->conn;
	struct svc_wait *wt = sc->wait;
	struct svc_keep frame = {
	    .v = {{(void *)call->frame, call->frame_len}, {NULL, 0}}};
	size_t room, len;

	if (sc->expired || (c == NULL && sc->from == 0))
		return 0;
	if (wt != NULL) { /* run again, and still waiting */
		wait_link(wt, list);
		sc->parked = wt;
		rs_rpc_call_park(call);
		return 1;
	}
	if (timeout_s == 0 ||
	    (call->has_deadline && call->deadline_seconds <= 0))
		return 0;
	if (rs_apps_charge(w->sh->apps, sc->app, RS_QUOTA_PENDING_CALLS, 1) <
	    0) {
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(OVER_QUOTA), "pending call quota (%lu) used",
		    (unsigned long)rs_apps_limit(w->sh->apps, sc->app,
						 RS_QUOTA_PENDING_CALLS));
		return -1;
	}
	/* A parked call keeps its frame, or its state: its bytes are the
	 * app's too. */
	if (keep == NULL)
		keep = &frame;
	len = keep->v[0].iov_len + keep->v[1].iov_len;
	if (rs_apps_charge(w->sh->apps, sc->app, RS_QUOTA_PARKED_BYTES, len) <
	    0) {
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(OVER_QUOTA), "parked_bytes quota (%lu) used",
		    (unsigned long)rs_apps_limit(w->sh->apps, sc->app,
						 RS_QUOTA_PARKED_BYTES));
		goto err_charge;
	}
	room = wait_room(len, nwatch);
	wt = wait_alloc(w, room);
	if (wt == NULL)
		goto err_bytes;
	*wt = (struct svc_wait){
	    .conn = c != NULL ? svc_conn_ref(c) : sc->from_conn,
	    .from = sc->from,
	    .charged = sc->charged,
	    .part = sc->part,
	    .fwd_out = sc->fwd_out,
	    .t0 = sc->t0,
	    .deadline_ns = deadline_of(w, call, timeout_s),
	    .heap = UINT32_MAX,
	    .app = sc->app,
	    .exec = sc->desc != NULL,
	    .owns_desc = owns_desc,
	    .ctx = ctx,
	    .ctx_free = ctx_free,
	    .call_id = call->call_id,
	    .method = call->method,
	    .resume = keep->resume,
	    .len = (uint32_t)len,
	    .room = (uint32_t)room,
	    .frame = (uint8_t *)(wt + 1),
	    .watch = (struct svc_watch *)((uint8_t *)(wt + 1) +
					  RTE_ALIGN_CEIL(len, sizeof(void *))),
	    .watch_cap = (uint32_t)nwatch,
	};
	if (sc->desc != NULL)
		memcpy(wt->desc, sc->desc, RS_DESC_LEN);
	memcpy(wt->frame, keep->v[0].iov_base, keep->v[0].iov_len);
	if (keep->v[1].iov_len != 0)
		memcpy(wt->frame + keep->v[0].iov_len, keep->v[1].iov_base,
		       keep->v[1].iov_len);
	if (wt->deadline_ns != UINT64_MAX && !heap_push(w, wt))
		goto err_free;
	wait_link(wt, list);
	TAILQ_INSERT_TAIL(c != NULL ? &c->waits : &w->remote, wt, clink);
	SVC_CNT_INC(w, parked);
	SVC_GAUGE_ADD(w, nwaits, 1);
	sc->parked = wt;
	rs_rpc_call_park(call);
	return 1;

err_free:
	wait_release(w, wt);
err_bytes:
	rs_apps_uncharge(w->sh->apps, sc->app, RS_QUOTA_PARKED_BYTES, len);
	rs_rpc_call_set_rpc_error(call, RPC_ERR(INTERNAL), "no memory to wait");
err_charge: /* the error is set */
	rs_apps_uncharge(w->sh->apps, sc->app, RS_QUOTA_PENDING_CALLS, 1);
	return -1;
}

int svc_park(struct svc_call *sc, struct svc_sock *ss, double timeout_s,
	     bool owns_desc)
{
	return park(sc, ss != NULL ? &ss->waits : &sc->w->multi, timeout_s,
		    owns_desc, NULL, NULL, 0, NULL);
}

int svc_park_kept(struct svc_call *sc, struct svc_sock *ss, double timeout_s,
		  const struct svc_keep *keep)
{
	return park(sc, &ss->waits, timeout_s, false, NULL, NULL, 0, keep);
}

int svc_park_socks(struct svc_call *sc, struct svc_sock *const *socks, size_t n,
		   double timeout_s, const struct svc_keep *keep)
{
	struct svc_worker *w = sc->w;
	int rc = park(sc, &w->multi, timeout_s, false, NULL, NULL, n, keep);
	struct svc_wait *wt = sc->parked;

	if (rc <= 0)
		return rc;
	/* One tie a socket, however often the call names it.  A run again
	 * has the same entries, so the ties the first park made room for
	 * are enough (closed sockets only drop out). */
	w->watch_gen++;
	for (size_t i = 0; i < n && wt->nwatch < wt->watch_cap; i++) {
		struct svc_watch *wa;

		if (socks[i]->watch_mark == w->watch_gen)
			continue;
		socks[i]->watch_mark = w->watch_gen;
		wa = &wt->watch[wt->nwatch++];
		wa->wt = wt;
		wa->ss = socks[i];
		TAILQ_INSERT_TAIL(&socks[i]->watchers, wa, link);
	}
	return rc;
}

int svc_park_send(struct svc_call *sc, struct svc_sock *ss, double timeout_s,
		  const struct svc_keep *keep)
{
	int rc = park(sc, &ss->waits, timeout_s, false, NULL, NULL, 0, keep);

	if (rc > 0)
		sc->parked->send = true;
	return rc;
}

bool svc_sock_sending(const struct svc_sock *ss)
{
	const struct svc_wait *wt;

	TAILQ_FOREACH(wt, &ss->waits, slink)
	if (wt->send)
		return true;
	return false;
}

int svc_park_quiet(struct svc_call *sc, void *ctx, void (*ctx_free)(void *))
{
	return park(sc, &sc->w->quiet, -1, false, ctx, ctx_free, 0, NULL);
}

void *svc_wait_ctx(const struct svc_call *sc)
{
	return sc->wait != NULL ? sc->wait->ctx : NULL;
}

void svc_wait_wake(struct svc_worker *w, struct svc_wait *wt)
{
	if (wt->on == &w->ready)
		return;
	if (wt->on != NULL)
		TAILQ_REMOVE(wt->on, wt, slink);
	wait_link(wt, &w->ready);
}

static void wait_free(struct svc_worker *w, struct svc_wait *wt,
		      struct svc_conn *c)
{
	watch_drop(wt);
	if (wt->on != NULL)
		TAILQ_REMOVE(wt->on, wt, slink);
	heap_remove(w, wt);
	if (wt->from != 0)
		TAILQ_REMOVE(&w->remote, wt, clink);
	else if (c != NULL)
		TAILQ_REMOVE(&c->waits, wt, clink);
	rs_apps_uncharge(w->sh->apps, wt->app, RS_QUOTA_PENDING_CALLS, 1);
	rs_apps_uncharge(w->sh->apps, wt->app, RS_QUOTA_PARKED_BYTES, wt->len);
	if (wt->ctx_free != NULL)
		wt->ctx_free(wt->ctx);
	SVC_GAUGE_ADD(w, nwaits, -1);
	wait_release(w, wt);
}

/* The connection of a wait, when it is this worker's and still open. */
static struct svc_conn *wait_conn(struct svc_worker *w,
				  const struct svc_wait *wt)
{
	return wt->from == 0 ? svc_conn_get(w, wt->conn) : NULL;
}

void svc_wait_cancel(struct svc_worker *w, struct svc_wait *wt)
{
	size_t len;

	if (wt->owns_desc)
		svc_desc_unused(w, wt->app, wt->desc);
	/* Another worker's call that its connection counts in flight: the
	 * answer must reach it (and tells the client, if it is there). */
	if (wt->from != 0 && wt->charged &&
	    rs_rpc_error_write(wt->call_id, RPC_ERR(CANCELLED),
			       "cancelled: the connection closed, or "
			       "remsockd is stopping",
			       w->out, SVC_OUT_MAX, &len) == 0)
		answer_to(w, wt->from - 1u, wt->conn, wt->app, true, wt->part,
			  &wt->fwd_out, w->out, len);
	SVC_CNT_INC(w, cancelled);
	wait_free(w, wt, wait_conn(w, wt));
}

/* ---- running a call ----------------------------------------------------- */

int svc_call_run(struct svc_call *sc, const struct rs_rpc_env *env,
		 const uint8_t *frame, size_t len)
{
	struct svc_worker *w = sc->w;
	struct rs_rpc_env run = *env;
	size_t olen = 0;
	int rc;

	run.ctx = sc;
	sc->parked = NULL;
	rs_arena_reset(w->arena);
	rc = rs_rpc_dispatch(&run, frame, len, &sc->rpc, NULL, 0, &olen);
	if (sc->fwd_to != 0) { /* its sockets are another worker's */
		svc_conn_fwd(sc, frame, len);
		return 0;
	}
	if (sc->split) /* a batch over several workers: answered later */
		return 0;
	if (rc == RS_RPC_FORWARD && sc->from != 0) /* cannot happen */
		rc = rs_rpc_error_write(sc->rpc.call_id, RPC_ERR(INTERNAL),
					"not a data call", w->out, SVC_OUT_MAX,
					&olen);
	if (rc == RS_RPC_FORWARD || (rc == RS_RPC_PARKED && sc->parked != NULL))
		return rc;
	if (rc == RS_RPC_PARKED) /* parked on nothing: cannot be */
		rc =
		    rs_rpc_error_write(sc->rpc.call_id, RPC_ERR(INTERNAL),
				       "lost wait", w->out, SVC_OUT_MAX, &olen);
	svc_respond(sc, rc, olen);
	return 0;
}

static void rerun(struct svc_worker *w, struct svc_wait *wt, bool expired)
{
	struct svc_call sc = {
	    .w = w,
	    .conn = wait_conn(w, wt),
	    .from = wt->from,
	    .charged = wt->charged,
	    .part = wt->part,
	    .fwd_out = wt->fwd_out,
	    .from_conn = wt->conn,
	    .wait = wt,
	    .expired = expired,
	    .app = wt->app,
	    .desc = wt->exec ? wt->desc : NULL,
	    .t0 = wt->t0,
	};

	watch_drop(wt);		  /* a park again ties it to its sockets anew */
	if (wt->resume != NULL) { /* from its state, without a dispatch */
		rs_arena_reset(w->arena);
		sc.rpc = (struct rs_rpc_call){
		    .call_id = wt->call_id,
		    .method = wt->method,
		    .status = RS_RPC_CALL_OK,
		    .arena = w->arena,
		};
		wt->resume(&sc);
		if (sc.parked == NULL)
			wait_free(w, wt, sc.conn);
		return;
	}
	if (svc_call_run(&sc, wt->exec ? &w->env_exec : &w->env_rpc, wt->frame,
			 wt->len) != RS_RPC_PARKED)
		wait_free(w, wt, sc.conn);
}

static void deadlines_run(struct svc_worker *w)
{
	uint64_t now = rs_lcore_now_ns(w->lc);
	struct svc_wait *wt;

	while (w->nheap != 0 && w->heap[0]->deadline_ns <= now) {
		wt = w->heap[0];
		heap_remove(w, wt);
		if (wt->on != NULL) {
			TAILQ_REMOVE(wt->on, wt, slink);
			wt->on = NULL;
		}
		SVC_CNT_INC(w, expired);
		rerun(w, wt, true);
	}
}

/* ---- entries from control ----------------------------------------------- */

static void exec_run(struct svc_worker *w, struct rs_svc_msg *m)
{
	bool here = m->worker == w->k;
	/* A socket of this worker's, for a connection of another's: the
	 * answer goes there. */
	struct svc_call sc = {
	    .w = w,
	    .conn = here ? svc_conn_get(w, m->conn) : NULL,
	    .from = here ? 0 : (uint16_t)(m->worker + 1),
	    .from_conn = m->conn,
	    .app = m->app,
	    .desc = m->desc,
	    .t0 = 0, /* its start was the control thread's */
	};

	svc_call_run(&sc, &w->env_exec, m->data, m->len);
}

static unsigned ring_poll(struct svc_worker *w)
{
	void *burst[32];
	unsigned n;

	n = rte_ring_dequeue_burst(w->sh->to_worker[w->k], burst,
				   RTE_DIM(burst), NULL);
	for (unsigned i = 0; i < n; i++) {
		struct rs_svc_msg *m = burst[i];
		struct svc_conn *c;

		if (m->type == RS_SVC_MSG_EXEC) {
			exec_run(w, m);
		} else if (m->type == RS_SVC_MSG_RESPOND) {
			c = svc_conn_get(w, m->conn);
			if (c != NULL)
				svc_conn_reply(w, c, m->data, m->len);
		}
		/* Each answers a CALL the app's share paid for. */
		rs_apps_uncharge(w->sh->apps, m->app, RS_QUOTA_CONTROL_CALLS,
				 1);
		rs_svc_msg_put(w->sh, m);
	}
	return n;
}

/* A call another worker gave this one, for its sockets. */
static void fwd_run(struct svc_worker *w, struct rs_svc_msg *m)
{
	struct svc_call sc = {
	    .w = w,
	    .from = (uint16_t)(m->worker + 1),
	    .from_conn = m->conn,
	    .charged = (m->flags & RS_SVC_MSG_F_CHARGED) != 0,
	    .part = (m->flags & RS_SVC_MSG_F_PART) != 0,
	    .app = m->app,
	    .t0 = rte_rdtsc(),
	};

	memcpy(&sc.fwd_out, m->desc, sizeof(sc.fwd_out));

	SVC_CNT_INC(w, fwd_in);
	svc_call_run(&sc, &w->env_rpc, rs_svc_msg_frame(m), m->len);
}

/* Cancel what connection @p conn of worker @p k left waiting here: all
 * of it, or the call @p call_id (not 0). */
static void remote_cancel(struct svc_worker *w, unsigned k, uint64_t conn,
			  uint64_t call_id)
{
	struct svc_wait *wt, *next;

	for (wt = TAILQ_FIRST(&w->remote); wt != NULL; wt = next) {
		next = TAILQ_NEXT(wt, clink);
		if (wt->from == k + 1 && wt->conn == conn &&
		    (call_id == 0 || wt->call_id == call_id))
			svc_wait_cancel(w, wt);
	}
}

static unsigned peer_poll(struct svc_worker *w)
{
	struct rte_ring *r = w->sh->to_peer[w->k];
	void *burst[32];
	unsigned n;

	if (r == NULL)
		return 0;
	if (w->peer_n != 0)
		peer_flush(w);
	n = rte_ring_dequeue_burst(r, burst, RTE_DIM(burst), NULL);
	for (unsigned i = 0; i < n; i++) {
		struct rs_svc_msg *m = burst[i];
		struct svc_conn *c;

		switch (m->type) {
		case RS_SVC_MSG_FWD:
			fwd_run(w, m);
			break;
		case RS_SVC_MSG_ANSWER:
			c = svc_conn_get(w, m->conn);
			if (m->flags & RS_SVC_MSG_F_PART)
				svc_split_answer(w, m);
			else if (c != NULL)
				svc_conn_reply(w, c, rs_svc_msg_frame(m),
					       m->len);
			if (m->flags & RS_SVC_MSG_F_CHARGED)
				svc_conn_fwd_done(w, m);
			break;
		case RS_SVC_MSG_CONN_GONE:
			remote_cancel(w, m->worker, m->conn, 0);
			break;
		case RS_SVC_MSG_CANCEL: {
			uint64_t id;

			memcpy(&id, m->data, sizeof(id));
			remote_cancel(w, m->worker, m->conn, id);
			break;
		}
		}
		rs_svc_msg_put(w->sh, m);
	}
	return n;
}

/* ---- idle sockets ------------------------------------------------------- */

/* Bytes a TCP socket still has to send (its app was told they were
 * taken). */
static uint64_t unsent(const struct svc_sock *ss)
{
	int size = 0;
	ssize_t room;

	if (ss->kind != RS_SOCK_TCP || ss->listening ||
	    rs_sock_getopt(ss->s, RS_SO_SNDBUF, &size) < 0)
		return 0;
	room = rs_sock_writable(ss->s);
	return room >= 0 && room < size ? (uint64_t)(size - room) : 0;
}

/* Idle on both sides: no call from its app and no traffic for the
 * timeout, no call waiting, and nothing its app sent still to go (that
 * would be lost without the app knowing). */
static bool reapable(const struct svc_sock *ss, uint64_t now, uint64_t idle)
{
	return TAILQ_EMPTY(&ss->waits) && now - ss->last_use_ns >= idle &&
	       now - ss->last_net_ns >= idle && unsent(ss) == 0;
}

/* Sockets idle past [service] idle_timeout_s, and those whose session
 * ended ([service] session_grace_s after its last connection: the
 * client is gone; what it sent still goes, then a FIN, as when a
 * process dies). */
static void reap_idle(struct svc_worker *w)
{
	const struct rs_config_service *cs = &w->sh->cfg->service;
	uint64_t idle = (uint64_t)cs->idle_timeout_s * 1000000000ull;
	uint64_t grace = (uint64_t)cs->session_grace_s * 1000000000ull;
	uint64_t now = rs_lcore_now_ns(w->lc);
	struct svc_sock *ss, *next;

	if (idle == 0 && grace == 0)
		return;
	for (ss = TAILQ_FIRST(&w->socks_all); ss != NULL; ss = next) {
		next = TAILQ_NEXT(ss, link);
		if (svc_session_over(w, ss->session, now, grace))
			SVC_CNT_INC(w, session_closed);
		else if (idle != 0 && reapable(ss, now, idle))
			SVC_CNT_INC(w, reaped);
		else
			continue;
		svc_gone(w, ss->app, ss->desc);
		svc_sock_close(w, ss, false);
	}
}

/* ---- the hooks ---------------------------------------------------------- */

static void worker_free(struct svc_worker *w)
{
	if (w == NULL)
		return;
	while (w->spare != NULL) {
		struct svc_wait *wt = w->spare;

		w->spare = wt->ctx;
		free(wt);
	}
	rte_hash_free(w->socks);
	for (uint32_t i = 0; i < w->peer_n; i++)
		rs_svc_msg_put(w->sh, w->peer_q[i]);
	free(w->peer_q);
	free(w->gone_q);
	rs_arena_destroy(w->arena);
	rs_arena_destroy(w->http_arena);
	free(w->heap);
	free(w->conns);
	free(w->conn_gen);
	free(w->out);
	free(w);
}

static struct svc_worker *worker_new(struct rs_svc_dp *sdp, struct rs_lcore *lc)
{
	const struct rs_config *cfg = sdp->sh->cfg;
	/* Calls whose memory fits SVC_ARENA_KEEP allocate nothing once
	 * warm (a ReceiveBatch of a few hundred entries needs ~64 KiB). */
	size_t request_max = (size_t)cfg->rpc.max_request_mb << 20;
	struct rs_arena_conf ac = {
	    .keep = SVC_ARENA_KEEP,
	    .limit = 2 * request_max + SVC_OUT_MAX,
	};
	struct rs_arena_conf hac = {.limit = 2 * request_max + (1u << 20)};
	struct svc_worker *w = calloc(1, sizeof(*w));
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters hp = {
	    .name = name,
	    .entries = 2 * cfg->sockets.max,
	    .key_len = SVC_KEY_LEN,
	    .hash_func = rte_jhash,
	    .socket_id = (int)rte_socket_id(),
	};

	if (w == NULL)
		return NULL;
	w->sh = sdp->sh;
	w->sdp = sdp;
	w->tsc_per_us = rte_get_tsc_hz() / 1000000;
	if (w->tsc_per_us == 0)
		w->tsc_per_us = 1;
	w->lc = lc;
	w->k = rs_lcore_index(lc);
	rs_sock_set_grow_hook(lc, sock_grow);
	snprintf(name, sizeof(name), "rs_svc_socks%u", w->k);
	w->socks = rte_hash_create(&hp);
	w->arena = rs_arena_create(&ac);
	w->http_arena = rs_arena_create(&hac);
	w->nconns_max = cfg->rpc.max_conns != 0 ? cfg->rpc.max_conns
						: cfg->tcp.max_conns / 2;
	w->conns = calloc(w->nconns_max, sizeof(*w->conns));
	w->conn_gen = calloc(w->nconns_max, sizeof(*w->conn_gen));
	w->sources = sdp->sources;
	w->sessions = sdp->sessions;
	w->out = malloc(SVC_OUT_MAX);
	if (w->socks == NULL || w->arena == NULL || w->http_arena == NULL ||
	    w->conns == NULL || w->conn_gen == NULL || w->out == NULL) {
		worker_free(w);
		return NULL;
	}
	TAILQ_INIT(&w->socks_all);
	TAILQ_INIT(&w->closing);
	TAILQ_INIT(&w->multi);
	TAILQ_INIT(&w->ready);
	TAILQ_INIT(&w->remote);
	TAILQ_INIT(&w->splits);
	TAILQ_INIT(&w->quiet);
	TAILQ_INIT(&w->kick);
	TAILQ_INIT(&w->starved);
	w->env_rpc = (struct rs_rpc_env){
	    .registry = sdp->sh->registry,
	    .arena = w->arena,
	    .ctx = w,
	    .plane = RS_RPC_PLANE_DATA,
	};
	w->env_exec = w->env_rpc;
	w->env_exec.registry = sdp->exec_reg;
	return w;
}

static int svc_init(struct rs_lcore *lc, void *arg)
{
	struct rs_svc_dp *sdp = arg;
	struct svc_worker *w = worker_new(sdp, lc);
	int rc;

	if (w == NULL) {
		fprintf(stderr,
			"remsockd: worker %u: no memory for the "
			"service\n",
			rs_lcore_index(lc));
		return -ENOMEM;
	}
	rc = svc_dns_create(w);
	if (rc == 0)
		rc = svc_conn_listen(w);
	if (rc < 0) {
		svc_dns_free(w);
		worker_free(w);
		return rc;
	}
	__atomic_store_n(&sdp->w[w->k], w, __ATOMIC_RELEASE);
	return 0;
}

static int svc_poll(struct rs_lcore *lc, void *arg)
{
	struct rs_svc_dp *sdp = arg;
	struct svc_worker *w = sdp->w[rs_lcore_index(lc)];
	unsigned work = ring_poll(w) + peer_poll(w);

	if (!TAILQ_EMPTY(&w->ready))
		rerun_list(w, &w->ready);
	deadlines_run(w);
	svc_conn_kicks(w);
	svc_dns_poll(w);
	if (w->gone_n != 0)
		gone_flush(w);
	if (rs_lcore_now_ns(lc) >= w->next_scan_ns) {
		w->next_scan_ns = rs_lcore_now_ns(lc) + SCAN_NS;
		svc_conn_scan(w);
		reap_idle(w);
		close_overdue(w);
	}
	__atomic_store_n(&w->rounds, w->rounds + 1, __ATOMIC_RELEASE);
	return (int)work;
}

/* At the stop, each parked call is answered RPC_CANCELLED, saying why,
 * so that its client fails it at once instead of at its deadline. */
static void stop_answer(struct svc_worker *w)
{
	struct svc_wait *wt;
	struct svc_conn *c;
	size_t len;

	for (uint32_t i = 0; i < w->nconns_max; i++) {
		c = w->conns[i];
		while (c != NULL && !TAILQ_EMPTY(&c->waits)) {
			wt = TAILQ_FIRST(&c->waits);
			if (rs_rpc_error_write(
				wt->call_id, RPC_ERR(CANCELLED),
				"remsockd is stopping (SIGTERM): the call was "
				"waiting; retry with another proxy",
				w->out, SVC_OUT_MAX, &len) == 0)
				svc_conn_reply(w, c, w->out, len);
			SVC_CNT_INC(w, stop_answered);
			svc_wait_cancel(w, wt);
			c = w->conns[i]; /* a reply may have closed it */
		}
	}
	/* Other workers' calls: cancelled, with an answer when they hold
	 * a share (svc_wait_cancel()). */
	while (!TAILQ_EMPTY(&w->remote)) {
		SVC_CNT_INC(w, stop_answered);
		svc_wait_cancel(w, TAILQ_FIRST(&w->remote));
	}
}

static void svc_fini(struct rs_lcore *lc, void *arg)
{
	struct rs_svc_dp *sdp = arg;
	struct svc_worker *w = sdp->w[rs_lcore_index(lc)];

	/* No new connection from here. */
	if (w->listener != NULL)
		rs_sock_close(w->listener);
	if (w->http_listener != NULL)
		rs_sock_close(w->http_listener);
	if (w->tls_listener != NULL)
		rs_sock_close(w->tls_listener);
	if (w->https_listener != NULL)
		rs_sock_close(w->https_listener);
	w->listener = w->http_listener = w->tls_listener = NULL;
	w->https_listener = NULL;
	/* Entries still coming are answers nobody waits for any more. */
	ring_poll(w);
	peer_poll(w);
	stop_answer(w);
	svc_split_free_all(w);
	if (w->peer_n != 0)
		peer_flush(w);
	/* Closed, not aborted: what the TX rings hold (those answers too)
	 * goes out within [tcp] close_grace_ms. */
	svc_conn_close_all(w);
	svc_dns_free(w);
	while (!TAILQ_EMPTY(&w->socks_all))
		svc_sock_close(w, TAILQ_FIRST(&w->socks_all), false);
	/* Control forgets its table at the stop: GONEs still waiting have
	 * nothing to tell it. */
	w->gone_n = 0;
	/* The struct stays for the counters; rs_svc_dp_free() frees it. */
}

/* ---- set-up ------------------------------------------------------------- */

struct rs_svc_dp *rs_svc_dp_create(struct rs_svc_shared *sh, char *err,
				   size_t errlen)
{
	struct rs_svc_dp *sdp = calloc(1, sizeof(*sdp));
	int rc = -ENOMEM;

	if (sdp == NULL)
		goto err;
	sdp->sh = sh;
	sdp->exec_reg = rs_rpc_registry_create();
	sdp->sources = calloc(1, sizeof(*sdp->sources));
	sdp->sessions = svc_sessions_create();
	if (sdp->exec_reg == NULL || sdp->sources == NULL ||
	    sdp->sessions == NULL)
		goto err;
	rte_spinlock_init(&sdp->sources->lock);
	rc = svc_data_register(sh->registry);
	if (rc == 0)
		rc = svc_exec_register(sdp->exec_reg);
	if (rc == 0)
		rc = svc_dns_register(sdp->exec_reg);
	if (rc == 0 && ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		rc = -ENOMEM;
	if (rc < 0)
		goto err;
	if (sh->cfg->rpc.tls_port != 0 || sh->cfg->rpc.https_port != 0) {
		sdp->tls_ctx = svc_tls_ctx_create(sh->cfg, err, errlen);
		if (sdp->tls_ctx == NULL) {
			rs_svc_dp_free(sdp);
			errno = EINVAL;
			return NULL;
		}
	}
	return sdp;
err:
	snprintf(err, errlen, "service methods: %s", strerror(-rc));
	rs_svc_dp_free(sdp);
	errno = -rc;
	return NULL;
}

void *svc_tls_ctx(const struct svc_worker *w)
{
	return __atomic_load_n(&w->sdp->tls_ctx, __ATOMIC_ACQUIRE);
}

void *rs_svc_dp_tls_load(const struct rs_svc_dp *sdp, char *err, size_t errlen)
{
	if (sdp->tls_ctx == NULL)
		return NULL;
	return svc_tls_ctx_create(sdp->sh->cfg, err, errlen);
}

void *rs_svc_dp_tls_swap(struct rs_svc_dp *sdp, void *ctx)
{
	return __atomic_exchange_n(&sdp->tls_ctx, ctx, __ATOMIC_ACQ_REL);
}

void rs_svc_dp_tls_free(void *ctx)
{
	svc_tls_ctx_free(ctx);
}

/* Control put an entry on worker @p k's ring (rs_svc_shared.wake). */
static void svc_wake(void *arg, unsigned k)
{
	struct rs_svc_dp *sdp = arg;
	struct svc_worker *w = __atomic_load_n(&sdp->w[k], __ATOMIC_ACQUIRE);

	if (w != NULL)
		rs_lcore_wake(w->lc);
}

int rs_svc_dp_attach(struct rs_svc_dp *sdp, struct rs_dp *dp)
{
	sdp->sh->wake = svc_wake;
	sdp->sh->wake_arg = sdp;
	return rs_dp_set_app(dp, svc_init, svc_poll, svc_fini, sdp);
}

void rs_svc_dp_free(struct rs_svc_dp *sdp)
{
	if (sdp == NULL)
		return;
	for (unsigned k = 0; k < RS_DP_WORKERS_MAX; k++)
		worker_free(sdp->w[k]);
	rs_rpc_registry_destroy(sdp->exec_reg);
	svc_tls_ctx_free(sdp->tls_ctx);
	ares_library_cleanup();
	free(sdp->sources);
	svc_sessions_free(sdp->sessions);
	free(sdp);
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

int rs_svc_dp_quiesce(const struct rs_svc_dp *sdp, unsigned timeout_ms)
{
	uint64_t seen[RS_DP_WORKERS_MAX];
	const struct timespec pause = {0, 100000};

	for (unsigned k = 0; k < RS_DP_WORKERS_MAX; k++) {
		const struct svc_worker *w = LOAD(sdp->w[k]);

		seen[k] = w != NULL
			      ? __atomic_load_n(&w->rounds, __ATOMIC_ACQUIRE)
			      : 0;
	}
	for (unsigned waited_us = 0;; waited_us += 100) {
		bool all = true;

		for (unsigned k = 0; k < RS_DP_WORKERS_MAX && all; k++) {
			const struct svc_worker *w = LOAD(sdp->w[k]);

			all = w == NULL ||
			      __atomic_load_n(&w->rounds, __ATOMIC_ACQUIRE) !=
				  seen[k];
		}
		if (all)
			return 0;
		if (waited_us >= timeout_ms * 1000u)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
}

void svc_method_counters(const struct rs_svc_dp *sdp, rs_svc_counter_fn emit,
			 void *arg)
{
	static const char *const outcome[3] = {"ok", "app_error", "rpc_error"};
	const struct rs_rpc_method *seen[SVC_METHOD_SLOTS];
	unsigned nseen = 0, o;
	char name[96];
	uint64_t n;

	/* Each method once, summed over the workers, in the order met. */
	for (unsigned k = 0; k < RS_DP_WORKERS_MAX; k++) {
		const struct svc_worker *w = LOAD(sdp->w[k]);

		for (unsigned i = 0; w != NULL && i < SVC_METHOD_SLOTS; i++) {
			const struct rs_rpc_method *m =
			    __atomic_load_n(&w->mstat[i].m, __ATOMIC_ACQUIRE);
			unsigned j;

			for (j = 0; m != NULL && j < nseen && seen[j] != m; j++)
				;
			if (m != NULL && j == nseen && nseen < RTE_DIM(seen))
				seen[nseen++] = m;
		}
	}
	for (unsigned j = 0; j < nseen; j++)
		for (o = 0; o < 3; o++) {
			n = 0;
			for (unsigned k = 0; k < RS_DP_WORKERS_MAX; k++) {
				const struct svc_worker *w = LOAD(sdp->w[k]);

				for (unsigned i = 0;
				     w != NULL && i < SVC_METHOD_SLOTS; i++)
					if (__atomic_load_n(&w->mstat[i].m,
							    __ATOMIC_ACQUIRE) ==
					    seen[j])
						n += LOAD(w->mstat[i].n[o]);
			}
			snprintf(name, sizeof(name), "call.%s.%s",
				 seen[j]->name, outcome[o]);
			emit(arg, name, n);
		}
	/* The durations: cumulative buckets (call_hist.M.bucket.LE_US),
	 * then the sum and the count of the timed calls. */
	for (unsigned j = 0; j < nseen; j++) {
		uint64_t hist[SVC_HIST_BUCKETS] = {0}, sum = 0, total = 0;

		for (unsigned k = 0; k < RS_DP_WORKERS_MAX; k++) {
			const struct svc_worker *w = LOAD(sdp->w[k]);

			for (unsigned i = 0; w != NULL && i < SVC_METHOD_SLOTS;
			     i++) {
				if (__atomic_load_n(&w->mstat[i].m,
						    __ATOMIC_ACQUIRE) !=
				    seen[j])
					continue;
				for (unsigned b = 0; b < SVC_HIST_BUCKETS; b++)
					hist[b] += LOAD(w->mstat[i].hist[b]);
				sum += LOAD(w->mstat[i].sum_ns);
			}
		}
		for (unsigned b = 0; b + 1 < SVC_HIST_BUCKETS; b++) {
			total += hist[b];
			snprintf(name, sizeof(name), "call_hist.%s.bucket.%llu",
				 seen[j]->name, 1ull << b);
			emit(arg, name, total);
		}
		total += hist[SVC_HIST_BUCKETS - 1];
		snprintf(name, sizeof(name), "call_hist.%s.bucket.inf",
			 seen[j]->name);
		emit(arg, name, total);
		snprintf(name, sizeof(name), "call_hist.%s.sum_ns",
			 seen[j]->name);
		emit(arg, name, sum);
		snprintf(name, sizeof(name), "call_hist.%s.count",
			 seen[j]->name);
		emit(arg, name, total);
	}
}

void svc_app_counters(const struct rs_svc_dp *sdp, rs_svc_counter_fn emit,
		      void *arg)
{
	static const char *const outcome[3] = {"ok", "app_error", "rpc_error"};
	uint32_t napps = rs_apps_count(sdp->sh->apps);
	char name[RS_CONFIG_NAME_MAX + 32];

	for (uint32_t a = 0; a < napps && a < RS_APPS_SLOTS; a++) {
		const char *id = rs_apps_id(sdp->sh->apps, a);
		uint64_t calls[3] = {0}, bytes[2] = {0};

		for (unsigned k = 0; k < RS_DP_WORKERS_MAX; k++) {
			const struct svc_worker *w = LOAD(sdp->w[k]);

			for (unsigned o = 0; w != NULL && o < 3; o++)
				calls[o] += LOAD(w->apps[a].calls[o]);
			for (unsigned d = 0; w != NULL && d < 2; d++)
				bytes[d] += LOAD(w->apps[a].bytes[d]);
		}
		for (unsigned o = 0; o < 3; o++) {
			snprintf(name, sizeof(name), "app_calls.%s.%s", id,
				 outcome[o]);
			emit(arg, name, calls[o]);
		}
		snprintf(name, sizeof(name), "app_bytes_in.%s", id);
		emit(arg, name, bytes[0]);
		snprintf(name, sizeof(name), "app_bytes_out.%s", id);
		emit(arg, name, bytes[1]);
	}
}

void rs_svc_dp_stats_get(const struct rs_svc_dp *sdp,
			 struct rs_svc_dp_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned k = 0; k < RS_DP_WORKERS_MAX; k++) {
		const struct svc_worker *w = LOAD(sdp->w[k]);

		if (w == NULL)
			continue;
		st->conns_accepted += LOAD(w->st.conns_accepted);
		st->conns_closed += LOAD(w->st.conns_closed);
		st->auth_failed += LOAD(w->st.auth_failed);
		st->auth_timeouts += LOAD(w->st.auth_timeouts);
		st->auth_blocked += LOAD(w->st.auth_blocked);
		st->conns_refused += LOAD(w->st.conns_refused);
		st->http_slow += LOAD(w->st.http_slow);
		st->calls += LOAD(w->st.calls);
		st->forwarded += LOAD(w->st.forwarded);
		st->parked += LOAD(w->st.parked);
		st->woken += LOAD(w->st.woken);
		st->expired += LOAD(w->st.expired);
		st->cancelled += LOAD(w->st.cancelled);
		st->stop_answered += LOAD(w->st.stop_answered);
		st->busy += LOAD(w->st.busy);
		st->starved += LOAD(w->st.starved);
		st->reaped += LOAD(w->st.reaped);
		st->session_closed += LOAD(w->st.session_closed);
		st->sessions_full += LOAD(w->st.sessions_full);
		st->close_deferred += LOAD(w->st.close_deferred);
		st->close_overdue += LOAD(w->st.close_overdue);
		st->gone_lost += LOAD(w->st.gone_lost);
		st->fwd_out += LOAD(w->st.fwd_out);
		st->fwd_in += LOAD(w->st.fwd_in);
		st->splits += LOAD(w->st.splits);
		st->http_requests += LOAD(w->st.http_requests);
		st->http_errors += LOAD(w->st.http_errors);
		st->http_idle += LOAD(w->st.http_idle);
		st->tls_failed += LOAD(w->st.tls_failed);
		st->dns_dropped += LOAD(w->st.dns_dropped);
		st->conns_open += LOAD(w->nconns);
		st->socks_open += LOAD(w->nsocks);
		st->waits += LOAD(w->nwaits);
		st->out_bytes += LOAD(w->out_bytes);
	}
}
