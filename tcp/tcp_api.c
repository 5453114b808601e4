/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The application's side of a connection (RFC 9293 §3.10.1 - §3.10.6,
 * the user calls): OPEN (rs_tcp_connect, rs_tcp_listen + rs_tcp_accept),
 * SEND, RECEIVE, CLOSE (rs_tcp_shutdown, rs_tcp_close), ABORT, STATUS
 * (the queries), and the socket options.
 *
 * None of these delivers an event: the application is the caller.  They
 * may send segments (through config.emit) and arm timers.  Handle
 * lifetime is described in rs_tcp.h.
 */

#include <errno.h>
#include <string.h>

#include "tcp_pvt.h"

static const char *const state_names[RS_TCP_STATE_MAX] = {
    "CLOSED",	   "LISTEN",	 "SYN_SENT",   "SYN_RECEIVED",
    "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT",
    "CLOSING",	   "LAST_ACK",	 "TIME_WAIT",
};

#define DROP_NAME(e, name, meaning) [RS_TCP_DROP_##e] = name,
#define CTR_NAME(e, name) [RS_TCP_CTR_##e] = name,

static const char *const drop_names[RS_TCP_DROP_MAX] = {
    RS_TCP_DROPS(DROP_NAME)};
static const char *const ctr_names[RS_TCP_CTR_MAX] = {
    RS_TCP_COUNTERS(CTR_NAME)};

const char *rs_tcp_state_name(unsigned state)
{
	return state < RS_TCP_STATE_MAX ? state_names[state] : NULL;
}

unsigned rs_tcp_state_count(const struct rs_tcp_stack *st,
			    enum rs_tcp_state state)
{
	return (unsigned)state < RS_TCP_STATE_MAX ? st->in_state[state] : 0;
}

const char *rs_tcp_drop_name(unsigned reason)
{
	return reason < RS_TCP_DROP_MAX ? drop_names[reason] : NULL;
}

const char *rs_tcp_counter_name(unsigned counter)
{
	return counter < RS_TCP_CTR_MAX ? ctr_names[counter] : NULL;
}

void rs_tcp_sockopts_init(const struct rs_tcp_stack *st,
			  struct rs_tcp_sockopts *o)
{
	const struct rs_tcp_config *cfg = &st->cfg;

	memset(o, 0, sizeof(*o));
	o->snd_buf = cfg->snd_buf;
	o->rcv_buf = cfg->rcv_buf;
	o->keepalive = cfg->keepalive;
	o->keep_idle_ns = cfg->keep_idle_ns;
	o->keep_intvl_ns = cfg->keep_intvl_ns;
	o->keep_cnt = cfg->keep_cnt;
	o->linger_ns = -1;
}

static bool buf_ok(uint32_t v)
{
	return v >= 64 && v <= RS_BYTE_RING_MAX_CAPACITY && (v & (v - 1)) == 0;
}

static bool sockopts_ok(const struct rs_tcp_sockopts *o)
{
	return buf_ok(o->snd_buf) && buf_ok(o->rcv_buf) &&
	       o->keep_idle_ns > 0 && o->keep_intvl_ns > 0 && o->keep_cnt > 0;
}

/* The options to use: @p o, or the defaults in @p tmp. */
static const struct rs_tcp_sockopts *opts_pick(const struct rs_tcp_stack *st,
					       const struct rs_tcp_sockopts *o,
					       struct rs_tcp_sockopts *tmp)
{
	if (o != NULL)
		return sockopts_ok(o) ? o : NULL;
	rs_tcp_sockopts_init(st, tmp);
	return tmp;
}

static struct rs_tcp_conn *connect_fail(struct rs_tcp_conn *c, int err)
{
	if (c != NULL)
		rs_tcp_conn_free(c);
	errno = err;
	return NULL;
}

struct rs_tcp_conn *rs_tcp_connect(struct rs_tcp_stack *st, uint64_t now,
				   uint32_t laddr, uint16_t lport,
				   uint32_t raddr, uint16_t rport,
				   const struct rs_tcp_sockopts *opts,
				   void *user)
{
	struct rs_tcp_tuple t = {
	    .laddr = laddr, .raddr = raddr, .lport = lport, .rport = rport};
	struct rs_tcp_sockopts tmp;
	const struct rs_tcp_sockopts *o = opts_pick(st, opts, &tmp);
	struct rs_tcp_conn *c, *old;
	enum rs_tcp_port_how how = RS_TCP_PORT_GIVEN;
	uint32_t old_seq = 0;

	if (o == NULL || laddr == 0 || raddr == 0 || rport == 0)
		return connect_fail(NULL, EINVAL);
	if (lport == 0 && rs_tcp_port_choose(st, &t, now, &old, &how) < 0)
		return connect_fail(NULL, EADDRNOTAVAIL);
	if (lport != 0 && !rs_tcp_tuple_usable(st, &t, now, &old))
		return connect_fail(NULL, EADDRINUSE);
	if (old != NULL)
		old_seq = rs_tcp_tw_reuse(old); /* its entry is ours now */
	c = rs_tcp_conn_alloc(st, &t, o, now);
	if (c == NULL)
		return connect_fail(NULL, ENOBUFS);
	if (rs_tcp_conn_port_use(c, how) < 0)
		return connect_fail(c, EADDRNOTAVAIL);
	if (old != NULL)
		rs_tcp_conn_iss_beyond(c, old_seq);
	if (rs_tcp_conn_rings(c) < 0)
		return connect_fail(c, ENOMEM);
	c->app_held = true;
	c->user = user;
	tcp_state_set(c, RS_TCP_SYN_SENT);
	RS_TCP_COUNT(st, ACTIVE_OPENS);
	rs_tcp_out_syn(c, now);
	c->rtt_timing = true;
	c->rtt_seq = c->iss;
	c->rtt_start = now;
	rs_tcp_timer_rtx_restart(c, now);
	return c;
}

struct rs_tcp_listener *rs_tcp_listen(struct rs_tcp_stack *st, uint32_t laddr,
				      uint16_t lport, unsigned backlog,
				      const struct rs_tcp_sockopts *opts,
				      void *user)
{
	struct rs_tcp_tuple key = {.laddr = laddr, .lport = lport};
	struct rs_tcp_sockopts tmp;
	const struct rs_tcp_sockopts *o = opts_pick(st, opts, &tmp);
	struct rs_tcp_listener *l = NULL;

	if (o == NULL || lport == 0 || backlog == 0 || backlog > 65535) {
		errno = EINVAL;
		return NULL;
	}
	if (rs_tcp_flow_find(&st->lflows, &key) != NULL) {
		errno = EADDRINUSE;
		return NULL;
	}
	for (uint32_t i = 0; i < st->cfg.max_listeners && l == NULL; i++)
		if (!st->listeners[i].in_use)
			l = &st->listeners[i];
	if (l == NULL) {
		errno = ENOBUFS;
		return NULL;
	}
	memset(l, 0, sizeof(*l));
	l->tuple = key;
	l->st = st;
	l->in_use = true;
	l->user = user;
	l->backlog = backlog;
	l->opts = *o;
	rs_tcp_list_init(&l->syn_q);
	rs_tcp_list_init(&l->acc_q);
	rs_tcp_flow_insert(&st->lflows, &l->tuple);
	st->n_listeners++;
	return l;
}

struct rs_tcp_conn *rs_tcp_accept(struct rs_tcp_listener *l, void *user)
{
	struct rs_tcp_conn *c;

	if (rs_tcp_list_empty(&l->acc_q)) {
		errno = EAGAIN;
		return NULL;
	}
	c = RS_TCP_CONTAINER_OF(l->acc_q.next, struct rs_tcp_conn, qlink);
	rs_tcp_list_del(&c->qlink);
	l->n_acc--;
	c->queue = RS_TCP_Q_NONE;
	c->parent = NULL;
	c->app_held = true;
	c->user = user;
	c->ev = 0;
	return c;
}

unsigned rs_tcp_listener_pending(const struct rs_tcp_listener *l)
{
	return l->n_acc;
}

static void reset_queue(struct rs_tcp_link *q)
{
	while (!rs_tcp_list_empty(q)) {
		struct rs_tcp_conn *c =
		    RS_TCP_CONTAINER_OF(q->next, struct rs_tcp_conn, qlink);

		rs_tcp_out_rst(c);
		rs_tcp_conn_free(c);
	}
}

int rs_tcp_listener_close(struct rs_tcp_listener *l, uint64_t now)
{
	struct rs_tcp_stack *st = l->st;

	(void)now;
	reset_queue(&l->syn_q);
	reset_queue(&l->acc_q);
	rs_tcp_flow_remove(&st->lflows, &l->tuple);
	l->in_use = false;
	st->n_listeners--;
	return 0;
}

/* -errno for a call that needs a live connection, or 0. */
static int usable(const struct rs_tcp_conn *c)
{
	if (c->error)
		return -c->error;
	if (c->state == RS_TCP_CLOSED)
		return -ENOTCONN;
	return 0;
}

/* Send what autocork holds for @p c now, if it holds anything. */
static void uncork(struct rs_tcp_conn *c, uint64_t now)
{
	if (!rs_tcp_list_empty(&c->clink)) {
		rs_tcp_list_del(&c->clink);
		rs_tcp_out_push(c, now);
	}
}

/* After the application wrote: send now, or with autocork at the
 * round's rs_tcp_flush() -- unless a full segment waits already, which
 * gains nothing by waiting (as Linux corks only a short last skb). */
static void written(struct rs_tcp_conn *c, uint64_t now)
{
	if (c->opts.autocork &&
	    rs_byte_ring_pending(c->snd) < (size_t)c->snd_mss) {
		if (rs_tcp_list_empty(&c->clink))
			rs_tcp_list_add_tail(&c->st->corked, &c->clink);
		return;
	}
	rs_tcp_list_del(&c->clink);
	rs_tcp_out_push(c, now);
}

ssize_t rs_tcp_send(struct rs_tcp_conn *c, uint64_t now, const void *buf,
		    size_t len)
{
	int r = usable(c);
	size_t n;

	if (r < 0)
		return r;
	if (c->fin_queued)
		return -EPIPE;
	n = rs_byte_ring_write(c->snd, buf, len);
	written(c, now);
	return (ssize_t)n;
}

struct rs_byte_ring *rs_tcp_snd_ring(struct rs_tcp_conn *c)
{
	return c->snd;
}

int rs_tcp_output(struct rs_tcp_conn *c, uint64_t now)
{
	int r = usable(c);

	if (r < 0)
		return r;
	written(c, now);
	return 0;
}

ssize_t rs_tcp_recv(struct rs_tcp_conn *c, uint64_t now, void *buf, size_t len)
{
	size_t n;

	if (c->error)
		return -c->error;
	if (rs_byte_ring_pending(c->rcv) == 0) {
		if (c->peer_fin)
			return 0;
		return c->state == RS_TCP_CLOSED ? -ENOTCONN : -EAGAIN;
	}
	n = rs_byte_ring_read(c->rcv, buf, len);
	rs_byte_ring_release_to(c->rcv, rs_byte_ring_mark(c->rcv));
	rs_tcp_tune_rcv(c, now);
	rs_tcp_out_window_update(c, now);
	return (ssize_t)n;
}

struct rs_byte_ring *rs_tcp_rcv_ring(struct rs_tcp_conn *c)
{
	return c->rcv;
}

void rs_tcp_rx_prefetch(const struct rs_tcp_conn *c, unsigned stage)
{
	struct rs_byte_view v;

	switch (stage) {
	case 0: /* the state a read looks at, and the ring's pointer */
		__builtin_prefetch(c);
		__builtin_prefetch(&c->rcv);
		break;
	case 1:
		__builtin_prefetch(c->rcv);
		break;
	default:
		if (rs_byte_ring_read_view(c->rcv, &v) != 0)
			__builtin_prefetch(v.seg[0].ptr);
	}
}

int rs_tcp_consumed(struct rs_tcp_conn *c, uint64_t now, size_t n)
{
	if (n > rs_byte_ring_count(c->rcv))
		return -ERANGE;
	rs_byte_ring_release_to(c->rcv, rs_byte_ring_tail(c->rcv) + n);
	rs_tcp_tune_rcv(c, now);
	rs_tcp_out_window_update(c, now);
	return 0;
}

int rs_tcp_rx_seek(struct rs_tcp_conn *c, uint64_t now, uint64_t off)
{
	uint64_t tail = rs_byte_ring_tail(c->rcv);

	if (off - tail > rs_byte_ring_mark(c->rcv) - tail)
		return -ERANGE;
	rs_byte_ring_release_to(c->rcv, off);
	rs_byte_ring_set_mark(c->rcv, off);
	rs_tcp_tune_rcv(c, now);
	rs_tcp_out_window_update(c, now);
	return 0;
}

/* Queue our FIN: the state moves now, the FIN follows the data. */
static int shut_wr(struct rs_tcp_conn *c, uint64_t now)
{
	switch (c->state) {
	case RS_TCP_SYN_RECEIVED:
	case RS_TCP_ESTABLISHED:
		tcp_state_set(c, RS_TCP_FIN_WAIT_1);
		break;
	case RS_TCP_CLOSE_WAIT:
		tcp_state_set(c, RS_TCP_LAST_ACK);
		break;
	case RS_TCP_FIN_WAIT_1:
	case RS_TCP_FIN_WAIT_2:
	case RS_TCP_CLOSING:
	case RS_TCP_LAST_ACK:
	case RS_TCP_TIME_WAIT:
		return 0; /* already */
	default:
		return -ENOTCONN;
	}
	c->fin_queued = true;
	rs_tcp_out_push(c, now);
	return 0;
}

int rs_tcp_shutdown(struct rs_tcp_conn *c, uint64_t now, int how)
{
	if (how < RS_TCP_SHUT_RD || how > RS_TCP_SHUT_RDWR)
		return -EINVAL;
	if (c->state == RS_TCP_CLOSED || c->state == RS_TCP_SYN_SENT)
		return -ENOTCONN;
	if (how & RS_TCP_SHUT_RD) {
		c->shut_rd = true;
		rs_byte_ring_release_to(c->rcv, rs_byte_ring_head(c->rcv));
		rs_tcp_out_window_update(c, now);
	}
	if (how & RS_TCP_SHUT_WR)
		return shut_wr(c, now);
	return 0;
}

int rs_tcp_abort(struct rs_tcp_conn *c, uint64_t now)
{
	/* What autocork holds goes before the reset, as it would have gone
	 * at its write without autocork (a last reply, then the end). */
	uncork(c, now);
	if (rs_tcp_synchronized(c->state) && c->state != RS_TCP_TIME_WAIT)
		rs_tcp_out_rst(c);
	rs_tcp_conn_free(c);
	return 0;
}

int rs_tcp_close(struct rs_tcp_conn *c, uint64_t now)
{
	c->app_held = false;
	c->user = NULL;
	c->ev = 0;
	if (c->state == RS_TCP_CLOSED || c->state == RS_TCP_SYN_SENT) {
		rs_tcp_conn_free(c);
		return 0;
	}
	/* RFC 9293 §3.10.4 / RFC 1122 §4.2.2.13: unread data is lost,
	 * and the peer must know. */
	if (c->opts.linger_ns == 0 || rs_byte_ring_pending(c->rcv) > 0)
		return rs_tcp_abort(c, now);
	c->orphan = true;
	if (c->state == RS_TCP_TIME_WAIT) {
		rs_tcp_tw_queue(c); /* nothing left to send or linger for */
		return 0;
	}
	if (c->opts.linger_ns > 0)
		rs_tcp_timer_set(c, RS_TCP_T_CLOSE, now,
				 (uint64_t)c->opts.linger_ns);
	shut_wr(c, now);
	if (c->state == RS_TCP_FIN_WAIT_2)
		rs_tcp_timer_set(c, RS_TCP_T_CLOSE, now,
				 c->st->cfg.fin_wait2_ns);
	return 0;
}

int rs_tcp_release(struct rs_tcp_conn *c)
{
	if (c->state != RS_TCP_CLOSED)
		return -EBUSY;
	rs_tcp_conn_free(c);
	return 0;
}

static int set_keep(struct rs_tcp_conn *c, uint64_t now, enum rs_tcp_opt opt,
		    int64_t val)
{
	switch (opt) {
	case RS_TCP_OPT_KEEPALIVE:
		c->opts.keepalive = val != 0;
		break;
	case RS_TCP_OPT_KEEPIDLE:
		c->opts.keep_idle_ns = (uint64_t)val;
		break;
	case RS_TCP_OPT_KEEPINTVL:
		c->opts.keep_intvl_ns = (uint64_t)val;
		break;
	default:
		if (val > 1000)
			return -EINVAL;
		c->opts.keep_cnt = (uint32_t)val;
		break;
	}
	if (c->state == RS_TCP_ESTABLISHED || c->state == RS_TCP_CLOSE_WAIT)
		rs_tcp_timer_keep_check(c, now);
	return 0;
}

int rs_tcp_setopt(struct rs_tcp_conn *c, uint64_t now, enum rs_tcp_opt opt,
		  int64_t val)
{
	switch (opt) {
	case RS_TCP_OPT_NODELAY:
		c->opts.nodelay = val != 0;
		if (c->opts.nodelay && c->snd != NULL)
			rs_tcp_out_push(c, now);
		return 0;
	case RS_TCP_OPT_KEEPALIVE:
		return set_keep(c, now, opt, val);
	case RS_TCP_OPT_KEEPIDLE:
	case RS_TCP_OPT_KEEPINTVL:
	case RS_TCP_OPT_KEEPCNT:
		return val > 0 ? set_keep(c, now, opt, val) : -EINVAL;
	case RS_TCP_OPT_LINGER:
		c->opts.linger_ns = val < 0 ? -1 : val;
		return 0;
	case RS_TCP_OPT_AUTOCORK:
		c->opts.autocork = val != 0;
		if (!c->opts.autocork)
			uncork(c, now);
		return 0;
	case RS_TCP_OPT_SNDBUF:
	case RS_TCP_OPT_RCVBUF:
	case RS_TCP_OPT_MAXSEG:
		return -EINVAL;
	}
	return -ENOPROTOOPT;
}

int rs_tcp_getopt(const struct rs_tcp_conn *c, enum rs_tcp_opt opt,
		  int64_t *val)
{
	const struct rs_tcp_sockopts *o = &c->opts;

	switch (opt) {
	case RS_TCP_OPT_NODELAY:
		*val = o->nodelay;
		return 0;
	case RS_TCP_OPT_KEEPALIVE:
		*val = o->keepalive;
		return 0;
	case RS_TCP_OPT_KEEPIDLE:
		*val = (int64_t)o->keep_idle_ns;
		return 0;
	case RS_TCP_OPT_KEEPINTVL:
		*val = (int64_t)o->keep_intvl_ns;
		return 0;
	case RS_TCP_OPT_KEEPCNT:
		*val = o->keep_cnt;
		return 0;
	case RS_TCP_OPT_LINGER:
		*val = o->linger_ns;
		return 0;
	case RS_TCP_OPT_SNDBUF:
		*val = o->snd_buf;
		return 0;
	case RS_TCP_OPT_RCVBUF:
		*val = o->rcv_buf;
		return 0;
	case RS_TCP_OPT_MAXSEG:
		*val = c->snd_mss;
		return 0;
	case RS_TCP_OPT_AUTOCORK:
		*val = o->autocork;
		return 0;
	}
	return -ENOPROTOOPT;
}

enum rs_tcp_state rs_tcp_state(const struct rs_tcp_conn *c)
{
	return c->state;
}

int rs_tcp_error(const struct rs_tcp_conn *c)
{
	return c->error;
}

void rs_tcp_tuple_get(const struct rs_tcp_conn *c, struct rs_tcp_tuple *t)
{
	*t = c->tuple;
}

size_t rs_tcp_readable(const struct rs_tcp_conn *c)
{
	return c->rcv ? rs_byte_ring_pending(c->rcv) : 0;
}

size_t rs_tcp_writable(const struct rs_tcp_conn *c)
{
	if (c->snd == NULL || c->fin_queued || c->state == RS_TCP_CLOSED)
		return 0;
	return rs_byte_ring_space(c->snd);
}

bool rs_tcp_peer_fin(const struct rs_tcp_conn *c)
{
	return c->peer_fin;
}

void rs_tcp_set_user(struct rs_tcp_conn *c, void *user)
{
	c->user = user;
}

void rs_tcp_info_get(const struct rs_tcp_conn *c, struct rs_tcp_info *info)
{
	memset(info, 0, sizeof(*info));
	info->state = c->state;
	info->snd_una = c->snd_una;
	info->snd_nxt = c->snd_nxt;
	info->snd_max = c->snd_max;
	info->snd_wnd = c->snd_wnd;
	info->iss = c->iss;
	info->rcv_nxt = c->rcv_nxt;
	info->rcv_wnd =
	    RS_SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	info->irs = c->irs;
	info->snd_wscale = c->ws_ok ? c->snd_wscale : 0;
	info->rcv_wscale = c->ws_ok ? c->rcv_wscale : 0;
	info->snd_mss = c->snd_mss;
	info->cwnd = c->cwnd;
	info->ssthresh = c->ssthresh;
	info->srtt_ns = c->srtt;
	info->rttvar_ns = c->rttvar;
	info->rto_ns = c->rto;
	info->retransmits = c->retries;
	info->in_recovery = c->in_recovery;
	info->rcv_buf =
	    c->rcv ? (uint32_t)rs_byte_ring_capacity(c->rcv) : c->opts.rcv_buf;
	info->snd_buf =
	    c->snd ? (uint32_t)rs_byte_ring_capacity(c->snd) : c->opts.snd_buf;
	info->rcv_rtt_ns = c->rcv_rtt;
}
