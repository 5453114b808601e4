/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket layer: what UDP and TCP sockets share.
 *
 * Each worker has a table of [sockets] max sockets, allocated at start;
 * opening one takes it off a free list, so neither opening nor anything
 * later allocates, except the kind's rings (a UDP record ring at open, TCP
 * rings inside the core at connect or handshake).
 *
 * Ports (RFC 6056).  bind() to port 0, and a UDP send or connect on an
 * unbound socket, pick an ephemeral port from [sockets] ephemeral_min..max:
 * algorithm 3 (a keyed hash of the peer picks the starting point, a
 * per-bucket counter moves it on) when the peer is known, algorithm 1
 * (random start) otherwise.  A TCP connect on an unbound socket leaves the
 * choice to the TCP core, which applies algorithm 3 itself.
 *
 * Events are queued per socket (bits or-ed together while the socket waits
 * in the queue) and dispatched from the worker loop once the packets and
 * timers of the round are done, so callbacks never run inside the stack.
 * A socket closed while queued stays out of the free list until the queue
 * lets go of it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <rte_jhash.h>
#include <rte_prefetch.h>
#include <rte_random.h>

#include "sock_pvt.h"
#include "stack_pvt.h"

#define PORT_BUCKETS 1024u
#define PERTURB_SIZE 256u /* RFC 6056 algorithm 3's table */

struct rs_socks {
	struct rs_sock *free;
	struct rs_sock *ev_head, *ev_tail;
	unsigned open; /* handles held by the application */
	unsigned max;
	uint32_t conn_mask;
	uint16_t eph_min, eph_num;
	uint32_t secret[3];
	uint16_t perturb[PERTURB_SIZE];
	struct rs_sock *ports[2][PORT_BUCKETS]; /* [kind - 1] */
	struct rs_sock **conns;
	struct rs_sock pool[];
};

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static void secret_fill(uint32_t *w, size_t n)
{
	if (getrandom(w, n * sizeof(*w), GRND_NONBLOCK) == (ssize_t)(n * 4))
		return;
	for (size_t i = 0; i < n; i++)
		w[i] = (uint32_t)rte_rand();
}

int rs_socks_create(struct rs_lcore *lc, const struct rs_config *cfg)
{
	const struct rs_config_sockets *c = &cfg->sockets;
	struct rs_socks *t;

	t = calloc(1, sizeof(*t) + c->max * sizeof(t->pool[0]));
	if (t == NULL)
		return -ENOMEM;
	t->conn_mask = pow2_at_least(c->max) - 1;
	t->conns = calloc(t->conn_mask + 1, sizeof(*t->conns));
	if (t->conns == NULL) {
		free(t);
		return -ENOMEM;
	}
	t->max = c->max;
	t->eph_min = c->ephemeral_min;
	t->eph_num = c->ephemeral_max - c->ephemeral_min + 1;
	secret_fill(t->secret, 3);
	for (unsigned i = c->max; i-- > 0;) {
		t->pool[i].ev_next = t->free;
		t->free = &t->pool[i];
	}
	lc->socks = t;
	return 0;
}

void rs_socks_reap(struct rs_lcore *lc)
{
	struct rs_socks *t = lc->socks;

	if (t == NULL)
		return;
	for (unsigned i = 0; i < t->max; i++) {
		if (t->pool[i].flags & RS_SF_OPEN) {
			RS_EVENT(lc, SOCK_LEAKED);
			rs_sock_close(&t->pool[i]);
		}
	}
}

void rs_socks_free(struct rs_lcore *lc)
{
	if (lc->socks == NULL)
		return;
	rs_socks_reap(lc);
	free(lc->socks->conns);
	free(lc->socks);
	lc->socks = NULL;
}

/* ---- events -------------------------------------------------------------- */

void rs_sock_event(struct rs_sock *s, unsigned ev)
{
	struct rs_socks *t = s->lc->socks;

	if (!(s->flags & RS_SF_OPEN) || s->cb == NULL)
		return;
	s->ev |= ev;
	if (s->flags & RS_SF_QUEUED)
		return;
	s->flags |= RS_SF_QUEUED;
	s->ev_next = NULL;
	if (t->ev_tail == NULL)
		t->ev_head = s;
	else
		t->ev_tail->ev_next = s;
	t->ev_tail = s;
}

void rs_sock_fail(struct rs_sock *s, int err, unsigned more)
{
	s->so_error = err;
	rs_sock_event(s, RS_SOCK_EV_ERROR | more);
}

static void sock_free(struct rs_socks *t, struct rs_sock *s)
{
	s->flags = 0;
	s->ev_next = t->free;
	t->free = s;
}

/* Take the oldest socket off the event queue. */
static struct rs_sock *ev_pop(struct rs_socks *t)
{
	struct rs_sock *s = t->ev_head;

	t->ev_head = s->ev_next;
	if (t->ev_head == NULL)
		t->ev_tail = NULL;
	s->flags &= ~RS_SF_QUEUED;
	return s;
}

/* Only the sockets queued when it starts: a callback that causes new
 * events cannot keep the loop here. */
unsigned rs_socks_dispatch(struct rs_lcore *lc)
{
	struct rs_socks *t = lc->socks;
	struct rs_sock *s, *last = t->ev_tail;
	unsigned n = 0, ev;
	bool done = last == NULL;

	while (!done) {
		s = ev_pop(t);
		done = s == last;
		ev = s->ev;
		s->ev = 0;
		if (!(s->flags & RS_SF_OPEN)) {
			sock_free(t, s); /* closed while queued */
			continue;
		}
		s->cb(s, ev, s->user);
		n++;
	}
	return n;
}

/* ---- ports --------------------------------------------------------------- */

static struct rs_sock **port_bucket(struct rs_socks *t, unsigned kind,
				    rte_be16_t port)
{
	return &t->ports[kind - 1][rte_be_to_cpu_16(port) & (PORT_BUCKETS - 1)];
}

/* Whether @p s may take @p port: nobody has it, or everybody who has it
 * and @p s allow sharing (SO_REUSEADDR) and have the same owner. */
static bool port_free(struct rs_socks *t, const struct rs_sock *s,
		      rte_be16_t port, bool share)
{
	for (struct rs_sock *o = *port_bucket(t, s->kind, port); o != NULL;
	     o = o->port_next)
		if (o->lport == port &&
		    !(share && o->opt[RS_SO_REUSEADDR] &&
		      s->opt[RS_SO_REUSEADDR] && o->owner == s->owner))
			return false;
	return true;
}

static uint8_t kind_proto(unsigned kind)
{
	return kind == RS_SOCK_TCP ? IPPROTO_TCP : IPPROTO_UDP;
}

/* Several workers share the port space: a socket's port must be claimed
 * for its worker (steer.c), unless the socket shares the port with one
 * on every worker (RS_SO_REUSEPORT).  @return false when another worker
 * has it. */
static bool port_claim(struct rs_sock *s, rte_be16_t port)
{
	if (s->lc->steer == NULL || s->opt[RS_SO_REUSEPORT])
		return true;
	if (rs_steer_claim(s->lc, kind_proto(s->kind), rte_be_to_cpu_16(port)) <
	    0)
		return false;
	s->flags |= RS_SF_CLAIMED;
	return true;
}

/* The socket leaves its port: steer.c lets the claim go once nothing of
 * this worker holds it. */
static void port_unclaim(struct rs_sock *s)
{
	if (!(s->flags & RS_SF_CLAIMED))
		return;
	s->flags &= ~RS_SF_CLAIMED;
	rs_steer_release(s->lc, kind_proto(s->kind),
			 rte_be_to_cpu_16(s->lport));
}

static void port_insert(struct rs_socks *t, struct rs_sock *s, rte_be16_t port)
{
	struct rs_sock **b = port_bucket(t, s->kind, port);

	s->lport = port;
	s->port_next = *b;
	*b = s;
	s->flags |= RS_SF_BOUND;
}

static void port_remove(struct rs_socks *t, struct rs_sock *s)
{
	struct rs_sock **p = port_bucket(t, s->kind, s->lport);

	if (!(s->flags & RS_SF_BOUND))
		return;
	while (*p != s)
		p = &(*p)->port_next;
	*p = s->port_next;
	s->flags &= ~RS_SF_BOUND;
	port_unclaim(s);
}

/* RFC 6056 section 3.3.3 (algorithm 3), or 3.3.1 (algorithm 1) when the
 * peer is not known yet. */
static int port_pick(struct rs_socks *t, struct rs_sock *s, rte_be32_t raddr,
		     rte_be16_t rport)
{
	uint32_t offset, idx = 0;
	rte_be16_t port;

	if (raddr != 0) {
		offset = rte_jhash_3words(s->lc->ifc->ip, raddr, rport,
					  t->secret[0]);
		idx = rte_jhash_3words(s->lc->ifc->ip, raddr, rport,
				       t->secret[1]) %
		      PERTURB_SIZE;
	} else {
		offset = (uint32_t)rte_rand();
	}
	for (uint32_t i = 0; i < t->eph_num; i++) {
		port = rte_cpu_to_be_16(
		    t->eph_min + (offset + t->perturb[idx]++) % t->eph_num);
		if (port_free(t, s, port, false) && port_claim(s, port)) {
			port_insert(t, s, port);
			return 0;
		}
	}
	return -EADDRINUSE;
}

int rs_sock_port_bind(struct rs_sock *s, rte_be16_t port, rte_be32_t raddr,
		      rte_be16_t rport)
{
	struct rs_socks *t = s->lc->socks;

	if (port == 0)
		return port_pick(t, s, raddr, rport);
	if (!port_free(t, s, port, true) || !port_claim(s, port))
		return -EADDRINUSE;
	port_insert(t, s, port);
	return 0;
}

/* ---- connected UDP sockets ----------------------------------------------- */

static struct rs_sock **conn_bucket(struct rs_socks *t, rte_be32_t raddr,
				    rte_be16_t rport, rte_be16_t lport)
{
	uint32_t h = rte_jhash_3words(raddr, rport, lport, t->secret[2]);

	return &t->conns[h & t->conn_mask];
}

void rs_sock_conn_insert(struct rs_sock *s)
{
	struct rs_sock **b =
	    conn_bucket(s->lc->socks, s->raddr, s->rport, s->lport);

	s->conn_next = *b;
	*b = s;
	s->flags |= RS_SF_CONNECTED;
}

void rs_sock_conn_remove(struct rs_sock *s)
{
	struct rs_sock **p;

	if (!(s->flags & RS_SF_CONNECTED) || s->kind != RS_SOCK_UDP)
		return;
	p = conn_bucket(s->lc->socks, s->raddr, s->rport, s->lport);
	while (*p != s)
		p = &(*p)->conn_next;
	*p = s->conn_next;
	s->flags &= ~RS_SF_CONNECTED;
}

struct rs_sock *rs_socks_udp_lookup(struct rs_lcore *lc, rte_be32_t raddr,
				    rte_be16_t rport, rte_be16_t lport)
{
	struct rs_socks *t = lc->socks;
	struct rs_sock *s;

	for (s = *conn_bucket(t, raddr, rport, lport); s != NULL;
	     s = s->conn_next)
		if (s->raddr == raddr && s->rport == rport && s->lport == lport)
			return s;
	for (s = *port_bucket(t, RS_SOCK_UDP, lport); s != NULL;
	     s = s->port_next)
		if (s->lport == lport && !(s->flags & RS_SF_CONNECTED))
			return s;
	return NULL;
}

void rs_socks_unreachable(struct rs_lcore *lc, rte_be32_t nh)
{
	struct rs_socks *t = lc->socks;

	for (unsigned i = 0; i < t->max; i++)
		if (t->pool[i].flags & RS_SF_OPEN)
			t->pool[i].ops->unreachable(&t->pool[i], nh);
}

/* ---- open and close ------------------------------------------------------ */

static void opts_default(struct rs_sock *s, const struct rs_config *cfg)
{
	int *o = s->opt;

	o[RS_SO_RCVBUF] = s->kind == RS_SOCK_UDP ? cfg->sockets.udp_rx_ring
						 : cfg->limits.sock_rx_ring;
	o[RS_SO_SNDBUF] = cfg->limits.sock_tx_ring;
	o[RS_SO_LINGER] = -1;
	o[RS_TCP_KEEPIDLE] = cfg->tcp.keepidle_s;
	o[RS_TCP_KEEPINTVL] = cfg->tcp.keepintvl_s;
	o[RS_TCP_KEEPCNT] = cfg->tcp.keepcnt;
}

struct rs_sock *rs_sock_new(struct rs_lcore *lc, enum rs_sock_kind kind,
			    rs_sock_event_fn cb, void *user)
{
	struct rs_socks *t = lc->socks;
	struct rs_sock *s = t->free, *next;
	int rc;

	if (kind != RS_SOCK_UDP && kind != RS_SOCK_TCP) {
		errno = EINVAL;
		return NULL;
	}
	if (s == NULL) {
		errno = EMFILE;
		return NULL;
	}
	next = s->ev_next;
	memset(s, 0, sizeof(*s));
	s->ev_next = next; /* still on the free list until open succeeds */
	s->ops = kind == RS_SOCK_UDP ? &rs_udp_ops : &rs_tcp_ops;
	s->lc = lc;
	s->kind = kind;
	s->cb = cb;
	s->user = user;
	opts_default(s, lc->cfg);
	rc = s->ops->open(s);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	t->free = s->ev_next;
	s->ev_next = NULL;
	s->flags = RS_SF_OPEN;
	t->open++;
	RS_GAUGE_SET(lc, socks_open, t->open);
	RS_EVENT(lc, SOCK_OPENED);
	return s;
}

struct rs_sock *rs_sock_open(struct rs_lcore *lc, enum rs_sock_kind kind,
			     rs_sock_event_fn cb, void *user)
{
	return rs_sock_new(lc, kind, cb, user);
}

static void sock_close(struct rs_sock *s, bool abort)
{
	struct rs_lcore *lc = s->lc;
	struct rs_socks *t = lc->socks;

	s->ops->release(s, abort);
	rs_sock_conn_remove(s);
	port_remove(t, s);
	t->open--;
	RS_GAUGE_SET(lc, socks_open, t->open);
	RS_EVENT(lc, SOCK_CLOSED);
	if (s->flags & RS_SF_QUEUED) {
		s->flags = RS_SF_QUEUED; /* dispatch frees it */
		return;
	}
	sock_free(t, s);
}

void rs_sock_close(struct rs_sock *s)
{
	sock_close(s, false);
}

void rs_sock_abort(struct rs_sock *s)
{
	sock_close(s, true);
}

void rs_sock_set_callback(struct rs_sock *s, rs_sock_event_fn cb, void *user)
{
	s->cb = cb;
	s->user = user;
}

void rs_sock_set_owner(struct rs_sock *s, uint32_t owner)
{
	s->owner = owner;
}

enum rs_sock_kind rs_sock_kind(const struct rs_sock *s)
{
	return s->kind;
}

struct rs_lcore *rs_sock_lcore(const struct rs_sock *s)
{
	return s->lc;
}

/* ---- addresses ----------------------------------------------------------- */

int rs_sock_bind(struct rs_sock *s, const struct sockaddr_in *addr)
{
	int rc;

	if (addr == NULL || addr->sin_family != AF_INET ||
	    (s->flags & (RS_SF_BOUND | RS_SF_LISTENING)))
		return -EINVAL;
	if (addr->sin_addr.s_addr != INADDR_ANY &&
	    addr->sin_addr.s_addr != s->lc->ifc->ip)
		return -EADDRNOTAVAIL;
	rc = rs_sock_port_bind(s, addr->sin_port, 0, 0);
	if (rc == 0)
		s->laddr = addr->sin_addr.s_addr;
	return rc;
}

int rs_sock_connect(struct rs_sock *s, const struct sockaddr_in *addr)
{
	if (addr == NULL || addr->sin_family != AF_INET ||
	    addr->sin_addr.s_addr == 0 || addr->sin_port == 0 ||
	    (s->flags & RS_SF_LISTENING))
		return -EINVAL;
	return s->ops->connect(s, addr->sin_addr.s_addr, addr->sin_port);
}

int rs_sock_listen(struct rs_sock *s, int backlog)
{
	if (backlog <= 0)
		backlog = (int)s->lc->cfg->tcp.backlog;
	return s->ops->listen(s, RTE_MIN(backlog, 65535));
}

static void sockaddr_fill(struct sockaddr_in *a, rte_be32_t ip,
			  rte_be16_t port);

struct rs_sock *rs_sock_accept(struct rs_sock *s, struct sockaddr_in *peer)
{
	struct rs_sock *c = s->ops->accept(s);

	/* Whoever it came from, even if it was reset while it queued (the
	 * service checks the address against its ACL). */
	if (c != NULL && peer != NULL)
		sockaddr_fill(peer, c->raddr, c->rport);
	return c;
}

static void sockaddr_fill(struct sockaddr_in *a, rte_be32_t ip, rte_be16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = ip;
	a->sin_port = port;
}

int rs_sock_getsockname(const struct rs_sock *s, struct sockaddr_in *addr)
{
	rte_be32_t ip = s->laddr;

	if (addr == NULL)
		return -EINVAL;
	/* Bound to any address and connected: the address its datagrams
	 * leave from (the port's, the only one), as Linux answers. */
	if (ip == 0 && (s->flags & RS_SF_CONNECTED))
		ip = s->lc->ifc->ip;
	sockaddr_fill(addr, ip, s->lport);
	return 0;
}

int rs_sock_getpeername(const struct rs_sock *s, struct sockaddr_in *addr)
{
	if (addr == NULL)
		return -EINVAL;
	if (!(s->flags & RS_SF_CONNECTED) ||
	    (s->kind == RS_SOCK_TCP && !rs_tcp_glue_peer_known(s)))
		return -ENOTCONN;
	sockaddr_fill(addr, s->raddr, s->rport);
	return 0;
}

/* ---- data ---------------------------------------------------------------- */

ssize_t rs_sock_send(struct rs_sock *s, const void *buf, size_t len,
		     unsigned flags)
{
	return rs_sock_sendto(s, buf, len, flags, NULL);
}

ssize_t rs_sock_sendto(struct rs_sock *s, const void *buf, size_t len,
		       unsigned flags, const struct sockaddr_in *to)
{
	if (to != NULL && to->sin_family != AF_INET)
		return -EINVAL;
	if (s->flags & RS_SF_SHUT_WR)
		return -EPIPE;
	return s->ops->sendto(s, buf, len, to);
}

ssize_t rs_sock_recv(struct rs_sock *s, void *buf, size_t len, unsigned flags)
{
	return rs_sock_recvfrom(s, buf, len, flags, NULL);
}

ssize_t rs_sock_recvfrom(struct rs_sock *s, void *buf, size_t len,
			 unsigned flags, struct sockaddr_in *from)
{
	return s->ops->recvfrom(s, buf, len, flags, from);
}

ssize_t rs_sock_readable(const struct rs_sock *s)
{
	return s->ops->readable(s);
}

ssize_t rs_sock_writable(const struct rs_sock *s)
{
	return s->ops->writable(s);
}

int rs_sock_shutdown(struct rs_sock *s, enum rs_sock_shut how)
{
	int rc;

	if (how != RS_SOCK_SHUT_RD && how != RS_SOCK_SHUT_WR &&
	    how != RS_SOCK_SHUT_RDWR)
		return -EINVAL;
	rc = s->ops->shutdown(s, how);
	if (rc < 0)
		return rc;
	if (how != RS_SOCK_SHUT_WR)
		s->flags |= RS_SF_SHUT_RD;
	if (how != RS_SOCK_SHUT_RD)
		s->flags |= RS_SF_SHUT_WR;
	return 0;
}

/* ---- options and errors -------------------------------------------------- */

/* Values an option accepts; kinds check the rest. */
static bool opt_value_ok(enum rs_sock_opt opt, int v)
{
	switch (opt) {
	case RS_SO_REUSEADDR:
	case RS_SO_REUSEPORT:
	case RS_SO_KEEPALIVE:
	case RS_TCP_NODELAY:
	case RS_TCP_AUTOCORK:
		return v == 0 || v == 1;
	case RS_SO_RCVBUF:
	case RS_SO_SNDBUF:
		return v >= 4096 && v <= (1 << 26);
	case RS_SO_LINGER:
		return v >= -1 && v <= 3600;
	case RS_TCP_KEEPIDLE:
	case RS_TCP_KEEPINTVL:
		return v >= 1 && v <= 86400;
	case RS_TCP_KEEPCNT:
		return v >= 1 && v <= 1000;
	default:
		return false;
	}
}

int rs_sock_setopt(struct rs_sock *s, enum rs_sock_opt opt, int value)
{
	int old, rc;

	if (opt < 0 || opt >= RS_SOCK_OPT_MAX || opt == RS_SO_ERROR)
		return -ENOPROTOOPT;
	if (!opt_value_ok(opt, value) ||
	    (opt == RS_SO_REUSEPORT && (s->flags & RS_SF_BOUND)))
		return -EINVAL;
	if (opt == RS_SO_RCVBUF || opt == RS_SO_SNDBUF)
		value = (int)pow2_at_least((uint32_t)value);
	old = s->opt[opt];
	s->opt[opt] = value;
	rc = s->ops->setopt(s, opt, value);
	if (rc < 0)
		s->opt[opt] = old;
	else if (opt == RS_SO_RCVBUF)
		s->flags |= RS_SF_RCVBUF_SET;
	else if (opt == RS_SO_SNDBUF)
		s->flags |= RS_SF_SNDBUF_SET;
	return rc;
}

int rs_sock_getopt(struct rs_sock *s, enum rs_sock_opt opt, int *value)
{
	if (opt < 0 || opt >= RS_SOCK_OPT_MAX)
		return -ENOPROTOOPT;
	if (opt == RS_SO_ERROR)
		*value = -rs_sock_error(s);
	else
		*value = s->opt[opt];
	return 0;
}

int rs_sock_rx_offsets(const struct rs_sock *s, uint64_t *held,
		       uint64_t *unread)
{
	if (s->kind != RS_SOCK_TCP)
		return -EOPNOTSUPP;
	return rs_tcp_glue_rx_offsets(s, held, unread);
}

int rs_sock_rx_seek(struct rs_sock *s, uint64_t off)
{
	if (s->kind != RS_SOCK_TCP)
		return -EOPNOTSUPP;
	return rs_tcp_glue_rx_seek(s, off);
}

ssize_t rs_sock_rx_view(struct rs_sock *s, size_t len, unsigned flags,
			struct rs_byte_view *v)
{
	if (s->kind != RS_SOCK_TCP)
		return -EOPNOTSUPP;
	return rs_tcp_glue_rx_view(s, len, flags, v);
}

void rs_sock_rx_prefetch(struct rs_sock *const *socks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (socks[i] != NULL)
			rte_prefetch0(socks[i]);
	for (unsigned stage = 0; stage < 3; stage++)
		for (size_t i = 0; i < n; i++)
			if (socks[i] != NULL && socks[i]->kind == RS_SOCK_TCP &&
			    socks[i]->tcp.conn != NULL)
				rs_tcp_rx_prefetch(socks[i]->tcp.conn, stage);
}

int rs_sock_rx_take(struct rs_sock *s, size_t n, unsigned flags)
{
	if (s->kind != RS_SOCK_TCP)
		return -EOPNOTSUPP;
	return rs_tcp_glue_rx_take(s, n, flags);
}

size_t rs_sock_tx_view(struct rs_sock *s, size_t need, struct rs_byte_view *v)
{
	if (s->kind != RS_SOCK_TCP || (s->flags & RS_SF_SHUT_WR))
		return 0;
	return rs_tcp_glue_tx_view(s, need, v);
}

int rs_sock_tx_commit(struct rs_sock *s, size_t n)
{
	if (s->kind != RS_SOCK_TCP)
		return -EOPNOTSUPP;
	if (s->flags & RS_SF_SHUT_WR)
		return -EPIPE;
	return rs_tcp_glue_tx_commit(s, n);
}

unsigned rs_sock_poll(const struct rs_sock *s)
{
	unsigned ev = RS_SOCK_POLL_OUT;

	if (s->kind == RS_SOCK_TCP)
		return rs_tcp_glue_poll(s);
	if (s->ops->readable(s) >= 0)
		ev |= RS_SOCK_POLL_IN;
	if (s->so_error != 0)
		ev |= RS_SOCK_POLL_ERR;
	return ev;
}

int rs_sock_error(struct rs_sock *s)
{
	int err = s->so_error;

	s->so_error = 0;
	return -err;
}

/* ---- the worker, as applications see it ---------------------------------- */

unsigned rs_lcore_index(const struct rs_lcore *lc)
{
	return lc->queue;
}

unsigned rs_lcore_count(const struct rs_lcore *lc)
{
	return lc->nworkers;
}

uint64_t rs_lcore_now_ns(const struct rs_lcore *lc)
{
	return lc->now_ns;
}

uint32_t rs_lcore_local_ip(const struct rs_lcore *lc)
{
	return lc->ifc->ip;
}

unsigned rs_lcore_sock_count(const struct rs_lcore *lc)
{
	return lc->socks == NULL ? 0 : lc->socks->open;
}
