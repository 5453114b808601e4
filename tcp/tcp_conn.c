/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stack object: configuration, the preallocated connection pool, the
 * flow table (4-tuple -> connection) and listener table ((laddr, lport)
 * -> listener, wildcard address 0), ephemeral ports (RFC 6056 §3.3.3,
 * algorithm 3), and the lifetime of a connection:
 *
 *   rs_tcp_conn_alloc()   pool -> flow table, ISN (RFC 6528)
 *   rs_tcp_conn_rings()   send and receive rings (active: at connect;
 *                         passive: when the handshake completes, so a
 *                         SYN flood costs pool entries only)
 *   rs_tcp_conn_closed()  state CLOSED, off the flow table, events queued
 *   rs_tcp_conn_finish()  end of every entry point: events delivered to
 *                         the application, or an orphan freed
 *   rs_tcp_conn_free()    back to the pool
 *
 * TIME-WAIT under churn.  An orphan in TIME-WAIT sits on the stack's
 * time_wait list in the order it became one (it enters at the tail when
 * TIME-WAIT starts or restarts as an orphan, or when the application lets
 * go of a connection already in TIME-WAIT, whose timer started earlier:
 * so the head is the oldest orphan, nearly always the first to expire).
 * Two things may end
 * it early, both O(1):
 *   - reuse: an active open that wants its 4-tuple (a chosen ephemeral
 *     port, or an explicit one) takes it over when timestamps were on,
 *     TIME-WAIT has lasted tw_reuse_ns, and the new connection's first
 *     TSval is beyond the last one we sent, so that the peer's PAWS
 *     refuses the old connection's duplicates (RFC 6191, RFC 7323
 *     appendix B); the new ISS is put beyond the old snd_max and the
 *     window the peer offered past it (65,535 at least: it may still be
 *     in LAST-ACK if our last ACK was lost), so that the old sequence
 *     space is not reused either (tw_reused);
 *   - eviction: when the pool is empty, a new connection (active or
 *     passive) takes the oldest entry of the list (tw_evicted), as hosts
 *     that keep no TIME-WAIT when their table is full do.
 *
 * Both tables are open addressing with linear probing over an array of
 * tuple pointers, at most half full, with backward-shift deletion (no
 * tombstones); the hash is keyed from the ISN secret so a peer cannot
 * aim at one probe chain.  Nothing here allocates after creation, except
 * the rings of an opening connection.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_pvt.h"

#define DEF_MAX_CONNS 4096
#define DEF_MAX_LISTENERS 64
#define DEF_BUF (64u * 1024)
#define MS 1000000ULL
#define SEC (1000 * MS)

void rs_tcp_config_init(struct rs_tcp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_conns = DEF_MAX_CONNS;
	cfg->max_listeners = DEF_MAX_LISTENERS;
	cfg->max_syn_recv = DEF_MAX_CONNS / 4;
	cfg->mss = 1460;
	cfg->cc = RS_TCP_CC_NEWRENO; /* the packet scripts' cwnd arithmetic */
	cfg->snd_buf = DEF_BUF;
	cfg->rcv_buf = DEF_BUF;
	cfg->tick_ns = MS;
	cfg->delack_ns = 40 * MS;
	cfg->rto_init_ns = 1 * SEC;
	cfg->rto_min_ns = 200 * MS;
	cfg->rto_max_ns = 60 * SEC;
	cfg->max_retries = 15;
	cfg->max_syn_retries = 6;
	cfg->keep_idle_ns = 7200 * SEC;
	cfg->keep_intvl_ns = 75 * SEC;
	cfg->keep_cnt = 9;
	cfg->time_wait_ns = 60 * SEC;
	cfg->tw_reuse_ns = 1 * SEC;
	cfg->ring_idle_ns = 1 * SEC;
	cfg->fin_wait2_ns = 60 * SEC;
	cfg->challenge_ack_limit = 1000;
	cfg->challenge_ack_conn_ns = 500 * MS;
	cfg->ooo_max = 1024;
	cfg->port_lo = 49152;
	cfg->port_hi = 65535;
}

static bool pow2_ok(uint32_t v)
{
	return v >= 64 && v <= RS_BYTE_RING_MAX_CAPACITY && (v & (v - 1)) == 0;
}

static bool config_ok(const struct rs_tcp_config *c)
{
	return c->emit != NULL && c->max_conns > 0 && c->max_listeners > 0 &&
	       c->max_conns <= (1u << 24) && c->max_listeners <= (1u << 16) &&
	       c->mss >= RS_TCP_MIN_MSS && pow2_ok(c->snd_buf) &&
	       pow2_ok(c->rcv_buf) && c->tick_ns > 0 && c->rto_min_ns > 0 &&
	       c->rto_min_ns <= c->rto_max_ns && c->rto_init_ns > 0 &&
	       c->keep_idle_ns > 0 && c->keep_intvl_ns > 0 && c->keep_cnt > 0 &&
	       c->port_lo > 0 && c->port_lo <= c->port_hi &&
	       c->tso_max <= RS_TCP_TSO_MAX &&
	       (unsigned)c->cc < RS_TCP_CC_MAX &&
	       c->ooo_max >= RS_TCP_OOO_INLINE &&
	       (c->rcv_buf_max == 0 || pow2_ok(c->rcv_buf_max)) &&
	       (c->snd_buf_max == 0 || pow2_ok(c->snd_buf_max));
}

/* ---------------------------------------------------------------------- */
/* Flow tables                                                            */
/* ---------------------------------------------------------------------- */

int rs_tcp_flow_init(struct rs_tcp_flowtab *ft, uint32_t entries,
		     const uint8_t key[16])
{
	uint32_t size = 16;
	uint8_t k[16];

	while (size < 2 * entries)
		size <<= 1;
	ft->slot = calloc(size, sizeof(*ft->slot));
	if (ft->slot == NULL)
		return -ENOMEM;
	ft->mask = size - 1;
	/* A key of its own, derived, so the table says nothing of ISNs. */
	for (unsigned i = 0; i < 16; i++)
		k[i] = (uint8_t)(key[i] ^ 0x5a);
	ft->k0 = rs_tcp_siphash(k, "flow-k0", 7);
	ft->k1 = rs_tcp_siphash(k, "flow-k1", 7);
	return 0;
}

void rs_tcp_flow_fini(struct rs_tcp_flowtab *ft)
{
	free(ft->slot);
	ft->slot = NULL;
}

/* Keyed multiply-xorshift mix: cheap per packet, unpredictable without
 * the key. */
static uint32_t flow_hash(const struct rs_tcp_flowtab *ft,
			  const struct rs_tcp_tuple *t)
{
	uint64_t a = ((uint64_t)t->laddr << 32 | t->raddr) ^ ft->k0;
	uint64_t b = ((uint64_t)t->lport << 16 | t->rport) ^ ft->k1;
	uint64_t h = a * 0x9e3779b97f4a7c15ULL + b;

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 32;
	return (uint32_t)h;
}

static bool tuple_eq(const struct rs_tcp_tuple *a, const struct rs_tcp_tuple *b)
{
	return a->laddr == b->laddr && a->raddr == b->raddr &&
	       a->lport == b->lport && a->rport == b->rport;
}

struct rs_tcp_tuple *rs_tcp_flow_find(const struct rs_tcp_flowtab *ft,
				      const struct rs_tcp_tuple *key)
{
	uint32_t i = flow_hash(ft, key) & ft->mask;
	struct rs_tcp_tuple *t;

	while ((t = ft->slot[i]) != NULL) {
		if (tuple_eq(t, key))
			return t;
		i = (i + 1) & ft->mask;
	}
	return NULL;
}

void rs_tcp_flow_insert(struct rs_tcp_flowtab *ft, struct rs_tcp_tuple *t)
{
	uint32_t i = flow_hash(ft, t) & ft->mask;

	while (ft->slot[i] != NULL)
		i = (i + 1) & ft->mask;
	ft->slot[i] = t;
}

void rs_tcp_flow_remove(struct rs_tcp_flowtab *ft, struct rs_tcp_tuple *t)
{
	uint32_t i = flow_hash(ft, t) & ft->mask, j;

	while (ft->slot[i] != t) {
		if (ft->slot[i] == NULL)
			return;
		i = (i + 1) & ft->mask;
	}
	ft->slot[i] = NULL;
	/* Backward shift: pull later members of the chain into the hole
	 * when their home slot lies at or before it. */
	for (j = (i + 1) & ft->mask; ft->slot[j] != NULL;
	     j = (j + 1) & ft->mask) {
		uint32_t home = flow_hash(ft, ft->slot[j]) & ft->mask;

		if (((j - home) & ft->mask) >= ((j - i) & ft->mask)) {
			ft->slot[i] = ft->slot[j];
			ft->slot[j] = NULL;
			i = j;
		}
	}
}

struct rs_tcp_conn *rs_tcp_conn_lookup(struct rs_tcp_stack *st,
				       const struct rs_tcp_tuple *t)
{
	struct rs_tcp_tuple *f = rs_tcp_flow_find(&st->flows, t);

	return f ? RS_TCP_CONTAINER_OF(f, struct rs_tcp_conn, tuple) : NULL;
}

struct rs_tcp_listener *rs_tcp_listener_lookup(struct rs_tcp_stack *st,
					       uint32_t laddr, uint16_t lport)
{
	struct rs_tcp_tuple key = {.laddr = laddr, .lport = lport};
	struct rs_tcp_tuple *f = rs_tcp_flow_find(&st->lflows, &key);

	if (f == NULL && laddr != 0) {
		key.laddr = 0;
		f = rs_tcp_flow_find(&st->lflows, &key);
	}
	return f ? RS_TCP_CONTAINER_OF(f, struct rs_tcp_listener, tuple) : NULL;
}

/* ---------------------------------------------------------------------- */
/* Stack                                                                  */
/* ---------------------------------------------------------------------- */

struct rs_tcp_stack *rs_tcp_stack_create(const struct rs_tcp_config *cfg)
{
	struct rs_tcp_stack *st;

	if (cfg == NULL || !config_ok(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		goto err_stack;
	st->cfg = *cfg;
	st->ctr = st->stats.ctr;
	if (st->cfg.max_syn_recv == 0)
		st->cfg.max_syn_recv = cfg->max_conns;
	st->conns = calloc(cfg->max_conns, sizeof(*st->conns));
	if (st->conns == NULL)
		goto err_conns;
	st->listeners = calloc(cfg->max_listeners, sizeof(*st->listeners));
	if (st->listeners == NULL)
		goto err_listeners;
	if (rs_tcp_flow_init(&st->flows, cfg->max_conns, cfg->isn_secret) < 0)
		goto err_flows;
	if (rs_tcp_flow_init(&st->lflows, cfg->max_listeners, cfg->isn_secret) <
	    0)
		goto err_lflows;
	rs_tcp_wheel_init(&st->wheel, cfg->tick_ns);
	rs_tcp_list_init(&st->free_conns);
	rs_tcp_list_init(&st->blocked);
	rs_tcp_list_init(&st->corked);
	rs_tcp_list_init(&st->time_wait);
	for (uint32_t i = 0; i < cfg->max_conns; i++)
		rs_tcp_list_add_tail(&st->free_conns, &st->conns[i].qlink);
	return st;

err_lflows:
	rs_tcp_flow_fini(&st->flows);
err_flows:
	free(st->listeners);
err_listeners:
	free(st->conns);
err_conns:
	free(st);
err_stack:
	errno = ENOMEM;
	return NULL;
}

void rs_tcp_stack_destroy(struct rs_tcp_stack *st)
{
	if (st == NULL)
		return;
	for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
		rs_byte_ring_free(st->conns[i].snd);
		rs_byte_ring_free(st->conns[i].rcv);
	}
	rs_tcp_flow_fini(&st->lflows);
	rs_tcp_flow_fini(&st->flows);
	free(st->listeners);
	free(st->conns);
	free(st);
}

/* Idle rings give memory back.  The pool is visited in RING_SLICES
 * slices, one every ring_idle_ns / RING_SLICES, so each connection once
 * per ring_idle_ns: a ring that is empty and whose head has not moved
 * since the last visit shrinks.  The data path never shrinks (a ring
 * that empties at every burst keeps its buffer), and this costs a
 * comparison per timers_run and a slice of the pool a few times a
 * second. */
#define RING_SLICES 8

static void ring_idle(struct rs_byte_ring *r, uint64_t *seen)
{
	uint64_t head = rs_byte_ring_head(r);

	if (head == *seen)
		rs_byte_ring_shrink(r);
	*seen = head;
}

static void ring_sweep(struct rs_tcp_stack *st, uint64_t now)
{
	uint32_t n = st->cfg.max_conns;

	for (uint32_t k = n / RING_SLICES + 1; k > 0; k--) {
		struct rs_tcp_conn *c = &st->conns[st->sweep_next];

		st->sweep_next =
		    st->sweep_next + 1 < n ? st->sweep_next + 1 : 0;
		if (!c->in_use)
			continue;
		if (c->snd != NULL)
			ring_idle(c->snd, &c->snd_seen);
		if (c->rcv != NULL)
			ring_idle(c->rcv, &c->rcv_seen);
	}
	st->sweep_due = now + st->cfg.ring_idle_ns / RING_SLICES;
}

unsigned rs_tcp_timers_run(struct rs_tcp_stack *st, uint64_t now)
{
	st->run_now = now;
	if (st->cfg.ring_idle_ns != 0 && now >= st->sweep_due)
		ring_sweep(st, now);
	return rs_tcp_wheel_run(&st->wheel, now, rs_tcp_timer_fire, st);
}

bool rs_tcp_output_blocked(const struct rs_tcp_stack *st)
{
	return !rs_tcp_list_empty(&st->blocked);
}

unsigned rs_tcp_output_resume(struct rs_tcp_stack *st, uint64_t now)
{
	struct rs_tcp_link todo;
	unsigned n = 0;

	/* Detach the list: a connection blocked again goes back on the
	 * stack's, and the rest stay queued behind it. */
	if (rs_tcp_list_empty(&st->blocked))
		return 0;
	todo = st->blocked;
	todo.next->prev = todo.prev->next = &todo;
	rs_tcp_list_init(&st->blocked);
	while (!rs_tcp_list_empty(&todo)) {
		struct rs_tcp_conn *c =
		    RS_TCP_CONTAINER_OF(todo.next, struct rs_tcp_conn, blink);

		rs_tcp_list_del(&c->blink);
		if (!rs_tcp_list_empty(&st->blocked)) {
			rs_tcp_list_add_tail(&st->blocked, &c->blink);
			continue;
		}
		n++;
		rs_tcp_out_push(c, now); /* no events: nothing to finish */
	}
	return n;
}

unsigned rs_tcp_flush(struct rs_tcp_stack *st, uint64_t now)
{
	unsigned n = 0;

	while (!rs_tcp_list_empty(&st->corked)) {
		struct rs_tcp_conn *c = RS_TCP_CONTAINER_OF(
		    st->corked.next, struct rs_tcp_conn, clink);

		rs_tcp_list_del(&c->clink);
		if (c->state == RS_TCP_CLOSED) /* reset or timed out since */
			continue;
		n++;
		rs_tcp_out_push(c, now);
	}
	return n;
}

void rs_tcp_set_tso_max(struct rs_tcp_stack *st, uint32_t tso_max)
{
	st->cfg.tso_max = RS_TCP_MIN(tso_max, RS_TCP_TSO_MAX);
}

uint64_t rs_tcp_next_timer(const struct rs_tcp_stack *st)
{
	return rs_tcp_wheel_next(&st->wheel);
}

unsigned rs_tcp_conn_count(const struct rs_tcp_stack *st)
{
	return st->n_conns;
}

unsigned rs_tcp_listener_count(const struct rs_tcp_stack *st)
{
	return st->n_listeners;
}

void rs_tcp_stats_get(const struct rs_tcp_stack *st, struct rs_tcp_stats *stats)
{
	memcpy(stats->drops, st->stats.drops, sizeof(stats->drops));
	for (unsigned i = 0; i < RS_TCP_CTR_MAX; i++)
		stats->ctr[i] = __atomic_load_n(&st->ctr[i], __ATOMIC_RELAXED);
}

void rs_tcp_counters_at(struct rs_tcp_stack *st, uint64_t *ctr)
{
	if (ctr == st->ctr)
		return;
	for (unsigned i = 0; i < RS_TCP_CTR_MAX; i++)
		__atomic_store_n(&ctr[i], ctr[i] + st->ctr[i],
				 __ATOMIC_RELAXED);
	if (st->ctr == st->stats.ctr)
		memset(st->stats.ctr, 0, sizeof(st->stats.ctr));
	st->ctr = ctr;
}

/* ---------------------------------------------------------------------- */
/* Connection lifetime                                                    */
/* ---------------------------------------------------------------------- */

static struct rs_tcp_conn *tw_oldest(const struct rs_tcp_stack *st)
{
	if (rs_tcp_list_empty(&st->time_wait))
		return NULL;
	return RS_TCP_CONTAINER_OF(st->time_wait.next, struct rs_tcp_conn,
				   twlink);
}

void rs_tcp_tw_queue(struct rs_tcp_conn *c)
{
	if (c->state != RS_TCP_TIME_WAIT || c->app_held)
		return;
	rs_tcp_list_del(&c->twlink);
	rs_tcp_list_add_tail(&c->st->time_wait, &c->twlink);
}

/* The pool is empty: the oldest TIME-WAIT gives its entry up. */
static bool tw_evict(struct rs_tcp_stack *st)
{
	struct rs_tcp_conn *c = tw_oldest(st);

	if (c == NULL)
		return false;
	RS_TCP_COUNT(st, TW_EVICTED);
	rs_tcp_conn_free(c);
	return true;
}

unsigned rs_tcp_time_wait_flush(struct rs_tcp_stack *st)
{
	struct rs_tcp_conn *c;
	unsigned n = 0;

	while ((c = tw_oldest(st)) != NULL) {
		RS_TCP_COUNT(st, TW_FLUSHED);
		rs_tcp_conn_free(c);
		n++;
	}
	return n;
}

uint8_t rs_tcp_wscale_for(uint32_t buf)
{
	uint8_t s = 0;

	while (s < RS_TCP_WS_MAX && (buf >> s) > 0xffff)
		s++;
	return s;
}

struct rs_tcp_conn *rs_tcp_conn_alloc(struct rs_tcp_stack *st,
				      const struct rs_tcp_tuple *t,
				      const struct rs_tcp_sockopts *o,
				      uint64_t now)
{
	struct rs_tcp_conn *c;

	if (rs_tcp_list_empty(&st->free_conns) && !tw_evict(st))
		return NULL;
	c = RS_TCP_CONTAINER_OF(st->free_conns.next, struct rs_tcp_conn, qlink);
	rs_tcp_list_del(&c->qlink);
	memset(c, 0, sizeof(*c));
	rs_tcp_list_init(&c->qlink);
	rs_tcp_list_init(&c->blink);
	rs_tcp_list_init(&c->clink);
	rs_tcp_list_init(&c->twlink);
	c->tuple = *t;
	c->st = st;
	c->in_use = true;
	c->opts = *o;
	c->ooo = c->ooo_in;
	c->ooo_cap = RS_TCP_OOO_INLINE;
	for (unsigned k = 0; k < RS_TCP_T_KINDS; k++)
		rs_tcp_timer_init(&c->t[k], (uint8_t)k);
	c->iss = st->test_isn ? st->test_isn_value
			      : rs_tcp_isn(st->cfg.isn_secret, t, now);
	c->ts_offset = rs_tcp_ts_offset(st->cfg.isn_secret, t);
	c->dupthresh = RS_TCP_DUPTHRESH;
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->recover = c->iss;
	c->rack_lost = c->rack_fack = c->iss;
	c->reo_mult = 1;
	c->rto = st->cfg.rto_init_ns;
	c->snd_mss = c->rcv_mss = RS_TCP_DEFAULT_MSS;
	c->rcv_wscale = rs_tcp_wscale_for(rs_tcp_rcv_buf_top(st, o));
	c->last_rcv = now;
	rs_tcp_flow_insert(&st->flows, &c->tuple);
	c->in_flow = true;
	st->n_conns++;
	st->in_state[RS_TCP_CLOSED]++; /* memset: state 0 */
	return c;
}

size_t rs_tcp_stack_ring_bytes(const struct rs_tcp_stack *st)
{
	size_t sum = 0;

	for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
		const struct rs_tcp_conn *c = &st->conns[i];

		if (c->snd != NULL)
			sum += rs_byte_ring_allocated(c->snd);
		if (c->rcv != NULL)
			sum += rs_byte_ring_allocated(c->rcv);
	}
	return sum;
}

int rs_tcp_conn_rings(struct rs_tcp_conn *c)
{
	if (c->snd == NULL)
		c->snd = rs_byte_ring_create(c->opts.snd_buf, 0);
	if (c->rcv == NULL)
		c->rcv = rs_byte_ring_create(c->opts.rcv_buf, 0);
	return c->snd && c->rcv ? 0 : -ENOMEM;
}

static void leave_queue(struct rs_tcp_conn *c)
{
	struct rs_tcp_listener *l = c->parent;

	if (l == NULL)
		return;
	rs_tcp_list_del(&c->qlink);
	if (c->queue == RS_TCP_Q_SYN) {
		l->n_syn--;
		c->st->n_syn_recv--;
	} else if (c->queue == RS_TCP_Q_ACC) {
		l->n_acc--;
	}
	c->queue = RS_TCP_Q_NONE;
	c->parent = NULL;
}

static void stop_all(struct rs_tcp_conn *c)
{
	rs_tcp_list_del(&c->twlink);
	for (unsigned k = 0; k < RS_TCP_T_KINDS; k++)
		rs_tcp_wheel_del(&c->st->wheel, &c->t[k]);
	if (c->in_flow) {
		rs_tcp_flow_remove(&c->st->flows, &c->tuple);
		c->in_flow = false;
	}
}

int rs_tcp_conn_port_use(struct rs_tcp_conn *c, enum rs_tcp_port_how how)
{
	const struct rs_tcp_config *cfg = &c->st->cfg;
	int rc;

	if (cfg->port_use == NULL)
		return 0;
	rc = cfg->port_use(cfg->port_ctx, c->tuple.lport, 1, how);
	if (rc < 0)
		return rc;
	c->port_used = true;
	c->port_how = (uint8_t)how;
	return 0;
}

void rs_tcp_conn_free(struct rs_tcp_conn *c)
{
	struct rs_tcp_stack *st = c->st;

	stop_all(c);
	leave_queue(c);
	rs_tcp_list_del(&c->blink);
	rs_tcp_list_del(&c->clink);
	if (c->port_used)
		st->cfg.port_use(st->cfg.port_ctx, c->tuple.lport, -1,
				 (enum rs_tcp_port_how)c->port_how);
	c->port_used = false;
	rs_tcp_tune_free(c);
	if (c->ooo != c->ooo_in)
		free(c->ooo);
	c->ooo = c->ooo_in;
	c->ooo_cap = RS_TCP_OOO_INLINE;
	c->n_ooo = 0;
	rs_byte_ring_free(c->snd);
	rs_byte_ring_free(c->rcv);
	c->snd = c->rcv = NULL;
	c->in_use = false;
	c->app_held = false;
	rs_tcp_list_add_tail(&st->free_conns, &c->qlink);
	st->n_conns--;
	st->in_state[c->state]--;
}

void rs_tcp_conn_closed(struct rs_tcp_conn *c, int err)
{
	stop_all(c);
	leave_queue(c); /* an unaccepted child dies with its connection */
	tcp_state_set(c, RS_TCP_CLOSED);
	if (err && !c->error) {
		c->error = err;
		c->ev |= RS_TCP_EV_ERROR;
	}
	c->ev |= RS_TCP_EV_CLOSED;
}

void rs_tcp_conn_finish(struct rs_tcp_conn *c)
{
	struct rs_tcp_stack *st = c->st;
	unsigned ev = c->ev;

	c->ev = 0;
	if (c->app_held) {
		/* Last thing done with c: the callback may free it. */
		if (ev && st->cfg.event)
			st->cfg.event(c->user, c, ev);
		return;
	}
	if (c->state == RS_TCP_CLOSED)
		rs_tcp_conn_free(c);
}

int rs_tcp_conn_to_accept_q(struct rs_tcp_conn *c)
{
	struct rs_tcp_listener *l = c->parent;

	if (l->n_acc >= l->backlog)
		return -ENOBUFS;
	rs_tcp_list_del(&c->qlink);
	l->n_syn--;
	c->st->n_syn_recv--;
	rs_tcp_list_add_tail(&l->acc_q, &c->qlink);
	l->n_acc++;
	c->queue = RS_TCP_Q_ACC;
	l->ev |= RS_TCP_EV_ACCEPTABLE;
	return 0;
}

void rs_tcp_listener_finish(struct rs_tcp_listener *l)
{
	unsigned ev = l->ev;

	l->ev = 0;
	if (ev && l->in_use && l->st->cfg.event)
		l->st->cfg.event(l->user, NULL, ev);
}

void rs_tcp_conn_negotiate(struct rs_tcp_conn *c, const struct rs_tcp_opts *o)
{
	uint16_t peer = RS_TCP_DEFAULT_MSS;

	if (o->has_mss)
		peer = RS_TCP_MAX(o->mss, RS_TCP_MIN_MSS);
	/* RFC 7323 §3.2, RFC 2018 §2: only what both SYNs carry. */
	c->ts_ok = c->st->cfg.timestamps && o->has_ts;
	c->sack_ok = c->st->cfg.sack && o->sack_perm;
	if (c->ts_ok) {
		c->ts_recent = o->ts_val;
		c->ts_recent_at = c->last_rcv;
	}
	/* RFC 6691: the MSS counts options too; TS takes 12 of it. */
	c->snd_mss =
	    (uint16_t)(RS_TCP_MIN(peer, c->st->cfg.mss) - rs_tcp_ts_len(c));
	c->rcv_mss = c->snd_mss;
	c->ws_ok = o->has_ws;
	if (c->ws_ok) {
		c->snd_wscale = RS_TCP_MIN(o->ws, RS_TCP_WS_MAX);
		c->rcv_wscale =
		    rs_tcp_wscale_for(rs_tcp_rcv_buf_top(c->st, &c->opts));
	} else {
		c->snd_wscale = c->rcv_wscale = 0;
	}
	rs_tcp_cc_init(c);
}

/* ---------------------------------------------------------------------- */
/* Ephemeral ports (RFC 6056 §3.3.3, algorithm 3)                         */
/* ---------------------------------------------------------------------- */

/* RFC 6191 §2 with RFC 7323 appendix B: TIME-WAIT @p c may give its
 * 4-tuple to a new active open at @p now.  The new connection's TSval
 * offset is the same keyed hash of the same 4-tuple, so its first TSval
 * is rs_tcp_ts_now(c, now). */
static bool tw_reusable(const struct rs_tcp_conn *c, uint64_t now)
{
	uint64_t min = c->st->cfg.tw_reuse_ns;

	return c->state == RS_TCP_TIME_WAIT && !c->app_held && min != 0 &&
	       c->ts_ok && c->st->cfg.timestamps && now - c->tw_since >= min &&
	       RS_SEQ_GT(rs_tcp_ts_now(c, now), c->ts_last);
}

bool rs_tcp_tuple_usable(struct rs_tcp_stack *st, const struct rs_tcp_tuple *t,
			 uint64_t now, struct rs_tcp_conn **old)
{
	struct rs_tcp_conn *c = rs_tcp_conn_lookup(st, t);

	*old = NULL;
	if (c == NULL)
		return true;
	if (!tw_reusable(c, now))
		return false;
	*old = c;
	return true;
}

uint32_t rs_tcp_tw_reuse(struct rs_tcp_conn *old)
{
	/* Beyond the old window too: if our last ACK was lost, the peer may
	 * still be in LAST-ACK, accepting sequence numbers up to the window
	 * it offered past our old snd_max. */
	uint32_t seq = old->snd_max + RS_TCP_MAX(old->max_snd_wnd, 65535u) + 1;

	RS_TCP_COUNT(old->st, TW_REUSED);
	rs_tcp_conn_free(old);
	return seq;
}

void rs_tcp_conn_iss_beyond(struct rs_tcp_conn *c, uint32_t seq)
{
	if (RS_SEQ_GT(c->iss, seq))
		return;
	c->iss = seq + 1;
	c->snd_una = c->recover = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
}

static bool port_free(struct rs_tcp_stack *st, const struct rs_tcp_tuple *t,
		      uint64_t now, struct rs_tcp_conn **old, bool any)
{
	if (!rs_tcp_tuple_usable(st, t, now, old))
		return false;
	if (rs_tcp_listener_lookup(st, t->laddr, t->lport) != NULL)
		return false;
	return st->cfg.port_ok == NULL ||
	       st->cfg.port_ok(st->cfg.port_ctx, t->laddr, t->lport, t->raddr,
			       t->rport, any);
}

/* The first port in algorithm 3's order that is free or held by a
 * reusable TIME-WAIT: in steady churn that is the port used longest
 * ago, so the oldest TIME-WAIT is the one reused.  Only when port_ok
 * took none, a second round asks it for any port it can have. */
int rs_tcp_port_choose(struct rs_tcp_stack *st, struct rs_tcp_tuple *t,
		       uint64_t now, struct rs_tcp_conn **old,
		       enum rs_tcp_port_how *how)
{
	uint32_t num = (uint32_t)st->cfg.port_hi - st->cfg.port_lo + 1;
	uint32_t off = rs_tcp_port_offset(st->cfg.isn_secret, t->laddr,
					  t->raddr, t->rport);

	for (int any = 0; any <= (st->cfg.port_ok != NULL); any++) {
		for (uint32_t count = 0; count < num; count++) {
			t->lport = (uint16_t)(st->cfg.port_lo +
					      (off + st->port_next) % num);
			st->port_next++;
			if (port_free(st, t, now, old, any)) {
				*how =
				    any ? RS_TCP_PORT_ANY : RS_TCP_PORT_HASHED;
				return 0;
			}
		}
	}
	*old = NULL;
	return -EADDRNOTAVAIL;
}
