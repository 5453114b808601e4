/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The proxied sockets, parked calls and their deadlines.
 *
 * Sockets live in a fixed table (apps x --max-sockets slots) with a free
 * list.  A descriptor is the slot's index in 4 base64url characters and
 * 18 random ones: a lookup is a decode and a compare, and another app's
 * descriptor, or an old one of a reused slot, is not found.  Each socket
 * is in epoll from its creation, edge-triggered, for IN, OUT and RDHUP;
 * the event's data carries the slot's generation, so an event that was
 * queued for a socket closed earlier in the round is dropped.
 *
 * rx_ready is what the last edge said: set by EPOLLIN (or an error or a
 * hang-up), cleared when a read finds the buffer empty (EAGAIN, or a
 * short read: any byte after it brings a new edge).  Once the peer's FIN
 * or an error was seen (EPOLLRDHUP, EPOLLERR) a short read clears
 * nothing, since no edge would follow the EOF already queued.  Receive
 * and ReceiveBatch read only a socket that may have data, so an idle
 * entry of a batch costs no system call.
 *
 * Parked calls.  A socket keeps two lists: Receives wait for input,
 * Sends and connects for output.  An event runs the list it concerns
 * again, oldest first; a call that still cannot finish parks at the tail
 * again, so the order of calls on a socket holds.  ReceiveBatch waits on
 * kb->multi, run again in any round where some socket became readable.
 * Deadlines are a binary min-heap; at its deadline a call runs a last
 * time with "expired" set and answers what it has.  Closing a socket
 * moves its calls to kb->ready, where they run once more this round and
 * find the descriptor gone (a socket is never closed under a running
 * list: the lists are detached before they run).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kbase_pvt.h"

#define RPC_ERR(name) REMSOCK__RPC__RPC_ERROR_CODE__RPC_##name

/* Waits whose frame buffer is at most SPARE_FRAME bytes are kept for
 * reuse, up to SPARE_BYTES of frame buffers in all. */
#define SPARE_FRAME (64u * 1024)
#define SPARE_BYTES (16u << 20)

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- the table ---------------------------------------------------------- */

int kb_socks_init(struct kb *kb, uint32_t cap)
{
	kb->socks = calloc(cap, sizeof(*kb->socks));
	if (kb->socks == NULL)
		return -ENOMEM;
	kb->socks_cap = cap;
	for (uint32_t i = 0; i < cap; i++) {
		kb->socks[i].fd = -1;
		kb->socks[i].next_free = i + 1 < cap ? i + 1 : KB_NONE;
	}
	kb->free_sock = 0;
	TAILQ_INIT(&kb->closing);
	return 0;
}

void kb_socks_fini(struct kb *kb)
{
	for (uint32_t i = 0; kb->socks != NULL && i < kb->socks_cap; i++)
		if (kb->socks[i].fd >= 0)
			kb_sock_close(kb, &kb->socks[i]);
	free(kb->socks);
	kb->socks = NULL;
}

static int rnd_get(struct kb *kb, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (kb->rnd_left == 0) {
			ssize_t got = getrandom(kb->rnd, sizeof(kb->rnd), 0);

			if (got <= 0)
				return got < 0 ? -errno : -EAGAIN;
			kb->rnd_left = (unsigned)got;
		}
		out[i] = kb->rnd[--kb->rnd_left];
	}
	return 0;
}

static int desc_make(struct kb *kb, struct kb_sock *s, uint32_t idx)
{
	uint8_t r[KB_DESC_LEN - 4];
	int rc = rnd_get(kb, r, sizeof(r));

	if (rc < 0)
		return rc;
	for (int i = 0; i < 4; i++)
		s->desc[i] = b64[(idx >> (6 * (3 - i))) & 63];
	for (size_t i = 0; i < sizeof(r); i++)
		s->desc[4 + i] = b64[r[i] & 63];
	s->desc[KB_DESC_LEN] = '\0';
	return 0;
}

static int b64_val(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '-' ? 62 : ch == '_' ? 63 : -1;
}

static uint64_t ev_data(const struct kb *kb, const struct kb_sock *s)
{
	uint64_t idx = (uint64_t)(s - kb->socks);

	return ((uint64_t)(s->gen & 0x3fffffff) << 32 | idx) << 2 | KB_EV_SOCK;
}

struct kb_sock *kb_sock_new(struct kb *kb, uint32_t app, int *err)
{
	struct epoll_event ev = {.events =
				     EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
	uint32_t idx = kb->free_sock;
	struct kb_sock *s;
	int fd, rc;

	if (idx == KB_NONE) {
		*err = ENFILE;
		return NULL;
	}
	s = &kb->socks[idx];
	rc = desc_make(kb, s, idx);
	if (rc < 0) {
		*err = -rc;
		return NULL;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	s->gen++;
	ev.data.u64 = ev_data(kb, s);
	if (epoll_ctl(kb->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		*err = errno;
		close(fd);
		return NULL;
	}
	kb->free_sock = s->next_free;
	s->fd = fd;
	s->app = app;
	s->connecting = false;
	s->rx_ready = true; /* unknown until a read says */
	s->rx_end = false;
	s->err = 0;
	s->tx_off = s->tx_seen = s->rx_off = 0;
	s->close_at = -1;
	TAILQ_INIT(&s->rx_waits);
	TAILQ_INIT(&s->tx_waits);
	kb->apps[app].socks++;
	kb->nsocks++;
	kb->st.socks_created++;
	return s;
}

struct kb_sock *kb_sock_find(struct kb *kb, uint32_t app, const char *desc,
			     bool send)
{
	uint32_t idx = 0;
	struct kb_sock *s;

	if (desc == NULL || strlen(desc) != KB_DESC_LEN)
		return NULL;
	for (int i = 0; i < 4; i++) {
		int v = b64_val(desc[i]);

		if (v < 0)
			return NULL;
		idx = idx << 6 | (uint32_t)v;
	}
	if (idx >= kb->socks_cap)
		return NULL;
	s = &kb->socks[idx];
	if (s->fd < 0 || s->app != app ||
	    memcmp(s->desc, desc, KB_DESC_LEN) != 0)
		return NULL;
	/* A Close waiting for its Sends has closed the descriptor for
	 * everything but those Sends. */
	if (s->close_at >= 0 && !send)
		return NULL;
	return s;
}

static void wait_link(struct kb_wait *wt, struct kb_wait_list *list)
{
	wt->on = list;
	TAILQ_INSERT_TAIL(list, wt, slink);
}

static void wait_unlink(struct kb_wait *wt)
{
	if (wt->on != NULL)
		TAILQ_REMOVE(wt->on, wt, slink);
	wt->on = NULL;
}

/* Move the waits of @p list (all, or only those not Sends) to kb->ready:
 * they run again this round and answer that the descriptor is gone. */
static void waits_to_ready(struct kb *kb, struct kb_wait_list *list,
			   bool keep_sends)
{
	struct kb_wait *wt, *next;

	for (wt = TAILQ_FIRST(list); wt != NULL; wt = next) {
		next = TAILQ_NEXT(wt, slink);
		if (keep_sends && wt->send)
			continue;
		wait_unlink(wt);
		wait_link(wt, &kb->ready);
	}
}

void kb_sock_close(struct kb *kb, struct kb_sock *s)
{
	uint32_t idx = (uint32_t)(s - kb->socks);

	kb->apps[s->app].socks--;
	kb->nsocks--;
	if (s->close_at >= 0)
		TAILQ_REMOVE(&kb->closing, s, clink);
	/* close(2) takes the fd out of epoll, and the kernel sends what its
	 * buffer still holds before the FIN. */
	close(s->fd);
	s->fd = -1;
	waits_to_ready(kb, &s->rx_waits, false);
	waits_to_ready(kb, &s->tx_waits, false);
	s->next_free = kb->free_sock;
	kb->free_sock = idx;
	kb->any_rx = true; /* a batch waiting on it answers EBADF */
}

void kb_sock_close_at(struct kb *kb, struct kb_sock *s, uint64_t off)
{
	s->close_at = (int64_t)off;
	s->close_by_ns = kb->now_ns + KB_CLOSE_WAIT_NS;
	TAILQ_INSERT_TAIL(&kb->closing, s, clink);
	kb->st.close_deferred++;
	waits_to_ready(kb, &s->rx_waits, false);
	waits_to_ready(kb, &s->tx_waits, true);
	kb->any_rx = true;
}

bool kb_sock_sending(const struct kb_sock *s)
{
	const struct kb_wait *wt;

	TAILQ_FOREACH(wt, &s->tx_waits, slink)
	if (wt->send)
		return true;
	return false;
}

/* Run the socket's Sends and connects again this round: a Send that
 * held their turn has answered without finishing (its deadline). */
void kb_sock_kick(struct kb *kb, struct kb_sock *s)
{
	waits_to_ready(kb, &s->tx_waits, false);
}

void kb_sock_event(struct kb *kb, uint64_t data, uint32_t events)
{
	uint32_t idx = (uint32_t)(data >> 2), gen = (uint32_t)(data >> 34);
	struct kb_sock *s;
	socklen_t len = sizeof(int);
	int err = 0;

	if (idx >= kb->socks_cap)
		return;
	s = &kb->socks[idx];
	if (s->fd < 0 || (s->gen & 0x3fffffff) != gen)
		return; /* closed earlier this round */
	if (s->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		s->connecting = false;
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		s->err = err;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
		s->rx_ready = true;
		s->rx_end |= (events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0;
		kb->any_rx = true;
		kb_waits_run(kb, &s->rx_waits);
	}
	if (s->fd >= 0 && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		kb_waits_run(kb, &s->tx_waits);
}

/* ---- deadlines: a binary min-heap of parked calls ----------------------- */

static void heap_set(struct kb *kb, uint32_t i, struct kb_wait *wt)
{
	kb->heap[i] = wt;
	wt->heap = i;
}

static void heap_up(struct kb *kb, uint32_t i)
{
	struct kb_wait *wt = kb->heap[i];

	while (i > 0 && kb->heap[(i - 1) / 2]->deadline_ns > wt->deadline_ns) {
		heap_set(kb, i, kb->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(kb, i, wt);
}

static void heap_down(struct kb *kb, uint32_t i)
{
	struct kb_wait *wt = kb->heap[i];
	uint32_t c;

	while ((c = 2 * i + 1) < kb->nheap) {
		if (c + 1 < kb->nheap &&
		    kb->heap[c + 1]->deadline_ns < kb->heap[c]->deadline_ns)
			c++;
		if (kb->heap[c]->deadline_ns >= wt->deadline_ns)
			break;
		heap_set(kb, i, kb->heap[c]);
		i = c;
	}
	heap_set(kb, i, wt);
}

static bool heap_push(struct kb *kb, struct kb_wait *wt)
{
	if (kb->nheap == kb->heap_cap) {
		uint32_t n = kb->heap_cap ? 2 * kb->heap_cap : 64;
		void *p = realloc(kb->heap, n * sizeof(*kb->heap));

		if (p == NULL)
			return false;
		kb->heap = p;
		kb->heap_cap = n;
	}
	heap_set(kb, kb->nheap++, wt);
	heap_up(kb, wt->heap);
	return true;
}

static void heap_remove(struct kb *kb, struct kb_wait *wt)
{
	uint32_t i = wt->heap;

	if (i == UINT32_MAX)
		return;
	wt->heap = UINT32_MAX;
	if (i == --kb->nheap)
		return;
	heap_set(kb, i, kb->heap[kb->nheap]);
	heap_down(kb, i);
	heap_up(kb, kb->heap[i]->heap);
}

/* ---- parked calls ------------------------------------------------------- */

static uint64_t deadline_of(const struct kb *kb, const struct rs_rpc_call *call,
			    double timeout_s)
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
	return kb->now_ns + (uint64_t)(s * 1e9);
}

/* A wait with room for a frame of @p len bytes: a spare one when there
 * is, so a steady stream of parked calls allocates nothing. */
static struct kb_wait *wait_alloc(struct kb *kb, size_t len)
{
	struct kb_wait *wt = TAILQ_FIRST(&kb->spare);
	uint8_t *f;

	if (wt != NULL) {
		TAILQ_REMOVE(&kb->spare, wt, slink);
		kb->spare_bytes -= wt->cap;
	} else {
		wt = calloc(1, sizeof(*wt));
		if (wt == NULL)
			return NULL;
	}
	if (wt->cap < len) {
		f = realloc(wt->frame, len < 512 ? 512 : len);
		if (f == NULL) {
			free(wt->frame);
			free(wt);
			return NULL;
		}
		wt->frame = f;
		wt->cap = (uint32_t)(len < 512 ? 512 : len);
	}
	return wt;
}

int kb_park(struct kb_call *x, struct rs_rpc_call *call,
	    struct kb_wait_list *list, double timeout_s, bool send)
{
	struct kb *kb = x->kb;
	struct kb_wait *wt = x->wait;
	struct kb_app *app;

	if (x->expired)
		return 0;
	if (wt != NULL) { /* run again, and still waiting */
		wait_link(wt, list);
		x->parked = wt;
		rs_rpc_call_park(call);
		return 1;
	}
	if (timeout_s == 0 ||
	    (call->has_deadline && call->deadline_seconds <= 0))
		return 0;
	app = &kb->apps[x->c->app];
	if (app->pending >= KB_APP_PENDING_MAX ||
	    app->parked_bytes + call->frame_len > KB_APP_PARKED_MAX) {
		rs_rpc_call_set_rpc_error(
		    call, RPC_ERR(OVER_QUOTA),
		    "app %s: parked calls (%u, %llu bytes) at the limit",
		    app->name, app->pending,
		    (unsigned long long)app->parked_bytes);
		return -1;
	}
	wt = wait_alloc(kb, call->frame_len);
	if (wt == NULL)
		goto err_nomem;
	wt->c = x->c;
	wt->made = NULL;
	wt->deadline_ns = deadline_of(kb, call, timeout_s);
	wt->heap = UINT32_MAX;
	wt->send = send;
	wt->len = (uint32_t)call->frame_len;
	memcpy(wt->frame, call->frame, call->frame_len);
	if (wt->deadline_ns != UINT64_MAX && !heap_push(kb, wt))
		goto err_free;
	wait_link(wt, list);
	TAILQ_INSERT_TAIL(&x->c->waits, wt, clink);
	app->pending++;
	app->parked_bytes += wt->len;
	kb->nwaits++;
	kb->st.parked++;
	x->parked = wt;
	rs_rpc_call_park(call);
	return 1;

err_free:
	free(wt->frame);
	free(wt);
err_nomem:
	rs_rpc_call_set_rpc_error(call, RPC_ERR(INTERNAL), "no memory to wait");
	return -1;
}

void kb_wait_free(struct kb *kb, struct kb_wait *wt)
{
	struct kb_app *app = &kb->apps[wt->c->app];

	wait_unlink(wt);
	heap_remove(kb, wt);
	TAILQ_REMOVE(&wt->c->waits, wt, clink);
	app->pending--;
	app->parked_bytes -= wt->len;
	kb->nwaits--;
	if (wt->made != NULL) /* a CreateSocket that never answered */
		kb_sock_close(kb, wt->made);
	if (wt->cap > SPARE_FRAME || kb->spare_bytes + wt->cap > SPARE_BYTES) {
		free(wt->frame);
		free(wt);
		return;
	}
	TAILQ_INSERT_HEAD(&kb->spare, wt, slink);
	kb->spare_bytes += wt->cap;
}

void kb_waits_run(struct kb *kb, struct kb_wait_list *list)
{
	struct kb_wait_list todo = TAILQ_HEAD_INITIALIZER(todo);
	struct kb_wait *wt;

	TAILQ_CONCAT(&todo, list, slink);
	TAILQ_FOREACH(wt, &todo, slink)
	wt->on = &todo;
	while ((wt = TAILQ_FIRST(&todo)) != NULL) {
		wait_unlink(wt);
		kb->st.woken++;
		kb_conn_call(kb, wt->c, wt->frame, wt->len, wt, false);
	}
}

void kb_conn_waits_cancel(struct kb *kb, struct kb_conn *c)
{
	struct kb_wait *wt;

	while ((wt = TAILQ_FIRST(&c->waits)) != NULL) {
		kb->st.cancelled++;
		kb_wait_free(kb, wt);
	}
}

/* Run the calls of a connection again this round, its Sends excepted:
 * its Receives were held back while its replies were backed up. */
void kb_conn_waits_kick(struct kb *kb, struct kb_conn *c)
{
	struct kb_wait *wt;

	TAILQ_FOREACH(wt, &c->waits, clink)
	if (wt->on != NULL && wt->on != &kb->ready && !wt->send) {
		wait_unlink(wt);
		wait_link(wt, &kb->ready);
	}
}

void kb_timers_run(struct kb *kb)
{
	struct kb_wait *wt;
	struct kb_sock *s;

	while (kb->nheap > 0 && kb->heap[0]->deadline_ns <= kb->now_ns) {
		wt = kb->heap[0];
		heap_remove(kb, wt);
		wait_unlink(wt);
		kb->st.expired++;
		kb_conn_call(kb, wt->c, wt->frame, wt->len, wt, true);
	}
	/* Closes whose Sends did not all come in time close with what came
	 * (all wait as long: the list is in deadline order). */
	while ((s = TAILQ_FIRST(&kb->closing)) != NULL &&
	       s->close_by_ns <= kb->now_ns) {
		kb->st.close_overdue++;
		kb_sock_close(kb, s);
	}
}

int kb_timers_next_ms(const struct kb *kb)
{
	uint64_t next = UINT64_MAX;
	const struct kb_sock *s = TAILQ_FIRST(&kb->closing);

	if (kb->nheap > 0)
		next = kb->heap[0]->deadline_ns;
	if (s != NULL && s->close_by_ns < next)
		next = s->close_by_ns;
	if (next == UINT64_MAX)
		return -1;
	if (next <= kb->now_ns)
		return 0;
	/* Rounded up: waking early would only spin to the deadline. */
	next = (next - kb->now_ns + 999999) / 1000000;
	return next > 60000 ? 60000 : (int)next;
}

void kb_waits_fini(struct kb *kb)
{
	struct kb_wait *wt;

	while ((wt = TAILQ_FIRST(&kb->spare)) != NULL) {
		TAILQ_REMOVE(&kb->spare, wt, slink);
		free(wt->frame);
		free(wt);
	}
	kb->spare_bytes = 0;
	free(kb->heap);
	kb->heap = NULL;
}
