/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP glue: the TCP core (tcp/rs_tcp.h) on a worker, and TCP sockets.
 *
 * Each worker owns one rs_tcp_stack, configured from [tcp] and [limits]
 * (ring sizes) at create.  The core does no I/O and reads no clock:
 *
 *   input    rs_tcp_glue_input(): checksum (the port's verdict, or ours:
 *            RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN counts as unverified), then
 *            rs_tcp_input() with the worker's clock; a chained mbuf (an
 *            LRO or TSO segment) goes as its segments' runs of memory
 *            (rs_tcp_input_iov(): the payload is copied once, into the
 *            receive ring), made contiguous in lc->lin_buf only when its
 *            TCP header is not all in the first segment or the chain is
 *            longer than RS_TCP_IOV_MAX;
 *   output   emit(): one mbuf per segment -- headroom for IPv4 and
 *            Ethernet, the header the core encodes, the payload copied from
 *            the core's two send-ring pieces -- into rs_ipv4_output(),
 *            which fills the checksum or leaves it to the port.  With TSO
 *            negotiated the core sends up to 64 KiB a segment (tso_max):
 *            its payload goes on in chained mbufs, and the port cuts it
 *            into MSS pieces (RTE_MBUF_F_TX_TCP_SEG, tso_segsz);
 *   timers   rs_tcp_glue_timers() every loop; the worker's idle back-off
 *            never sleeps past rs_tcp_next_timer();
 *   back-pressure  emit() answers -EAGAIN, before allocating, while the
 *            worker's TX batch is nearly full (rs_lcore_tx_room()): the
 *            core holds the segment back instead of losing it, and
 *            rs_tcp_glue_resume(), after each TX burst, lets it go on;
 *   autocork sockets that set RS_TCP_AUTOCORK only queue their writes;
 *            rs_tcp_glue_flush(), once a loop before the TX burst,
 *            sends them (rs_tcp_flush());
 *   counters the core's, copied every loop into the worker's events
 *            ("tcp.<name>") for rs_dp_stats_read();
 *   events   the core's, turned into socket events and queued.
 *
 * The clock is lc->now_ns, the worker's TSC in nanoseconds, read once per
 * loop.  A socket holds its connection (or listener) handle until it is
 * closed; a graceful close leaves the connection to finish inside the
 * core as an orphan.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "rs_tcp.h"
#include "sock_pvt.h"
#include "stack_pvt.h"

#define NS_MS ((uint64_t)NS_PER_S / MS_PER_S)
/* mbufs a TSO segment's payload may take beyond the first: 64 KiB in
 * data rooms of 1 KiB or more. */
#define RS_TSO_MBUFS_MAX 64
#define NS_S ((uint64_t)NS_PER_S)

/* The data plane's drop reason for each of the core's (rs_dataplane.h
 * appends them to RS_DP_DROPS as TCP_<reason>). */
#define TCP_DROP_MAP(e, name, meaning) [RS_TCP_DROP_##e] = RS_DP_DROP_TCP_##e,
static const uint16_t tcp_drop_map[RS_TCP_DROP_MAX] = {
    RS_TCP_DROPS(TCP_DROP_MAP)};

/* The core counts in the worker's events ("tcp.<name>"), which end with
 * its counters in its order (rs_dataplane.h): rs_tcp_counters_at(). */
#define TCP_CTR_AT(e, name)                                                    \
	_Static_assert(RS_DP_EV_TCP_CORE_##e - TCP_CTR_FIRST ==                \
			   RS_TCP_CTR_##e,                                     \
		       "the TCP core's counters in the worker's, in order");
#define TCP_CTR_FIRST RS_DP_EV_TCP_CORE_SEGS_IN
RS_TCP_COUNTERS(TCP_CTR_AT)
_Static_assert(RS_DP_EV_MAX - TCP_CTR_FIRST == RS_TCP_CTR_MAX,
	       "the TCP core's counters end the worker's events");

/* ---- the core's callbacks ------------------------------------------------ */

/* The payload of @p seg after the header in @p m, chaining mbufs for
 * what does not fit (a TSO segment: up to 64 KiB). */
static int payload_copy(struct rs_lcore *lc, struct rte_mbuf *m,
			const struct rs_tcp_seg *seg)
{
	struct rte_mbuf *more[RS_TSO_MBUFS_MAX], *cur = m;
	uint32_t room = rte_pktmbuf_tailroom(m), unit, n = 0, k, left;
	const uint8_t *src;

	if (seg->payload_len > room) {
		unit = rte_pktmbuf_data_room_size(lc->pool);
		n = (seg->payload_len - room + unit - 1) / unit;
		if (n > RS_TSO_MBUFS_MAX)
			return -EMSGSIZE;
		if (rte_pktmbuf_alloc_bulk(lc->pool, more, n) != 0)
			return -ENOBUFS;
	}
	for (uint32_t i = 0, next = 0; i < 2; i++) {
		src = seg->payload.seg[i].ptr;
		for (left = seg->payload.seg[i].len; left > 0; left -= k) {
			if (rte_pktmbuf_tailroom(cur) == 0) {
				cur->next = more[next++];
				cur = cur->next;
				cur->data_off = 0; /* no header goes here */
				m->nb_segs++;
			}
			k = RTE_MIN(left, (uint32_t)rte_pktmbuf_tailroom(cur));
			memcpy(rte_pktmbuf_mtod_offset(cur, uint8_t *,
						       cur->data_len),
			       src, k);
			cur->data_len = (uint16_t)(cur->data_len + k);
			m->pkt_len += k;
			src += k;
		}
	}
	return 0;
}

static int emit(void *io, const struct rs_tcp_seg *seg)
{
	struct rs_lcore *lc = io;
	uint32_t hlen = RS_TCP_HDR_MIN + seg->opt_len;
	struct rte_mbuf *m;
	uint8_t *p;
	int rc;

	/* Back-pressure: the core holds the segment until resume. */
	if (!rs_lcore_tx_room(lc))
		return -EAGAIN;
	m = rte_pktmbuf_alloc(lc->pool);
	if (m == NULL) {
		RS_EVENT(lc, ALLOC_FAILED);
		RS_EVENT(lc, TCP_EMIT_FAILED);
		return -ENOBUFS;
	}
	p = (uint8_t *)rte_pktmbuf_append(m, hlen);
	rc = p == NULL ? -EMSGSIZE : payload_copy(lc, m, seg);
	if (rc < 0) {
		rte_pktmbuf_free(m);
		if (rc == -ENOBUFS)
			RS_EVENT(lc, ALLOC_FAILED);
		RS_EVENT(lc, TCP_EMIT_FAILED);
		return rc;
	}
	rs_tcp_seg_write_hdr(seg, p, false);
	m->l4_len = hlen;
	m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
	if (seg->tso_segsz != 0) {
		m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
		m->tso_segsz = seg->tso_segsz;
	}
	rc = rs_ipv4_output(lc, m, seg->saddr, seg->daddr, IPPROTO_TCP);
	if (rc < 0)
		RS_EVENT(lc, TCP_EMIT_FAILED);
	else
		RS_EVENT(lc, TCP_SEGS_SENT);
	return rc;
}

static unsigned events_map(struct rs_sock *s, struct rs_tcp_conn *c,
			   unsigned ev)
{
	unsigned out = 0;

	if (ev & (RS_TCP_EV_READABLE | RS_TCP_EV_PEER_FIN))
		out |= RS_SOCK_EV_READABLE;
	if (ev & RS_TCP_EV_WRITABLE)
		out |= RS_SOCK_EV_WRITABLE;
	if (ev & RS_TCP_EV_CONNECTED)
		out |= RS_SOCK_EV_CONNECTED | RS_SOCK_EV_WRITABLE;
	if (ev & RS_TCP_EV_ACCEPTABLE)
		out |= RS_SOCK_EV_ACCEPTED;
	if ((ev & RS_TCP_EV_ERROR) && c != NULL) {
		s->so_error = rs_tcp_error(c);
		out |= RS_SOCK_EV_ERROR;
	}
	if (ev & RS_TCP_EV_CLOSED)
		out |= RS_SOCK_EV_CLOSED;
	return out;
}

static void event(void *user, struct rs_tcp_conn *c, unsigned ev)
{
	struct rs_sock *s = user;
	unsigned out;

	if (s == NULL)
		return;
	out = events_map(s, c, ev);
	if (out != 0)
		rs_sock_event(s, out);
}

/* ---- the stack ----------------------------------------------------------- */

/* Several workers: an ephemeral port whose flow hashes back to this
 * worker (or, when none is left, one it can claim), and its users
 * counted (steer.c). */
static bool port_ok(void *ctx, uint32_t laddr, uint16_t lport, uint32_t raddr,
		    uint16_t rport, bool any)
{
	const struct rs_lcore *lc = ctx;

	return lc->steer == NULL ||
	       rs_steer_port_ok(lc, laddr, lport, raddr, rport, any);
}

static int port_use(void *ctx, uint16_t lport, int delta,
		    enum rs_tcp_port_how how)
{
	struct rs_lcore *lc = ctx;

	return lc->steer == NULL ? 0 : rs_steer_port_use(lc, lport, delta, how);
}

/* A socket's ring grows (auto-tuning): its application may refuse (its
 * charge); then SO_RCVBUF / SO_SNDBUF read the new size, as on Linux. */
static bool sock_grow(void *ctx, struct rs_tcp_conn *c, void *user, bool rcv,
		      size_t delta)
{
	struct rs_lcore *lc = ctx;
	struct rs_sock *s = user;

	if (s == NULL || (lc->grow != NULL && !lc->grow(s, s->user, delta)))
		return false;
	s->opt[rcv ? RS_SO_RCVBUF : RS_SO_SNDBUF] += (int)delta;
	return true;
}

void rs_sock_set_grow_hook(struct rs_lcore *lc, rs_sock_grow_fn fn)
{
	lc->grow = fn;
}

static void config_fill(struct rs_tcp_config *tc, struct rs_lcore *lc,
			const struct rs_config *cfg)
{
	const struct rs_config_tcp *t = &cfg->tcp;

	rs_tcp_config_init(tc);
	tc->max_conns = t->max_conns;
	tc->mss = t->mss != 0 ? t->mss : cfg->port.mtu - 40;
	tc->snd_buf = cfg->limits.sock_tx_ring;
	tc->rcv_buf = cfg->limits.sock_rx_ring;
	tc->rcv_buf_max = t->rmem_max;
	tc->snd_buf_max = t->wmem_max;
	tc->tune_mem = (uint64_t)t->tune_mem_mb << 20;
	tc->grow = sock_grow;
	tc->grow_ctx = lc;
	tc->delack_ns = t->delack_ms * NS_MS;
	tc->rto_min_ns = t->rto_min_ms * NS_MS;
	tc->rto_max_ns = t->rto_max_ms * NS_MS;
	tc->max_retries = t->retries;
	tc->max_syn_retries = t->syn_retries;
	tc->keep_idle_ns = t->keepidle_s * NS_S;
	tc->keep_intvl_ns = t->keepintvl_s * NS_S;
	tc->keep_cnt = t->keepcnt;
	tc->time_wait_ns = t->time_wait_ms * NS_MS;
	tc->tw_reuse_ns = t->tw_reuse_ms * NS_MS;
	tc->timestamps = t->timestamps;
	tc->sack = t->sack;
	tc->syncookies = t->syncookies;
	tc->hystart = t->hystart;
	tc->tlp = t->tlp;
	tc->rack = t->rack;
	tc->pacing = t->pacing;
	/* Challenge ACKs: limited per connection (the core's 500 ms), with
	 * no budget shared between connections -- one is a side channel
	 * through which an off-path attacker learns of other connections
	 * (CVE-2016-5696); Linux has dropped its own. */
	tc->challenge_ack_limit = 0;
	tc->cc = t->congestion == RS_CONFIG_CC_CUBIC ? RS_TCP_CC_CUBIC
						     : RS_TCP_CC_NEWRENO;
	tc->port_lo = cfg->sockets.ephemeral_min;
	tc->port_hi = cfg->sockets.ephemeral_max;
	if (getrandom(tc->isn_secret, sizeof(tc->isn_secret), GRND_NONBLOCK) !=
	    sizeof(tc->isn_secret))
		for (size_t i = 0; i < sizeof(tc->isn_secret); i++)
			tc->isn_secret[i] = (uint8_t)rte_rand();
	tc->emit = emit;
	tc->io = lc;
	tc->event = event;
	tc->port_ok = port_ok;
	tc->port_use = port_use;
	tc->port_ctx = lc;
}

int rs_tcp_glue_create(struct rs_lcore *lc, const struct rs_config *cfg)
{
	struct rs_tcp_config tc;

	config_fill(&tc, lc, cfg);
	lc->tcp = rs_tcp_stack_create(&tc);
	if (lc->tcp == NULL)
		return -errno;
	rs_tcp_counters_at(lc->tcp, &lc->cnt.events[TCP_CTR_FIRST]);
	return 0;
}

void rs_tcp_glue_port_ready(struct rs_lcore *lc)
{
	bool tso = lc->ifc->tx_offloads & RTE_ETH_TX_OFFLOAD_TCP_TSO;

	if (lc->tcp != NULL)
		rs_tcp_set_tso_max(lc->tcp, tso ? RS_TCP_TSO_MAX : 0);
}

void rs_tcp_glue_free(struct rs_lcore *lc)
{
	rs_tcp_stack_destroy(lc->tcp);
	lc->tcp = NULL;
}

void rs_tcp_glue_timers(struct rs_lcore *lc)
{
	rs_tcp_timers_run(lc->tcp, lc->now_ns);
	RS_GAUGE_SET(lc, tcp_conns, rs_tcp_conn_count(lc->tcp));
	for (unsigned s = 0; s < RS_TCP_STATE_MAX; s++)
		RS_GAUGE_SET(lc, tcp_states[s],
			     rs_tcp_state_count(lc->tcp, (enum rs_tcp_state)s));
}

unsigned rs_tcp_glue_resume(struct rs_lcore *lc)
{
	if (!rs_tcp_output_blocked(lc->tcp) || !rs_lcore_tx_room(lc))
		return 0;
	return rs_tcp_output_resume(lc->tcp, lc->now_ns);
}

unsigned rs_tcp_glue_flush(struct rs_lcore *lc)
{
	return lc->tcp == NULL ? 0 : rs_tcp_flush(lc->tcp, lc->now_ns);
}

uint64_t rs_tcp_glue_next_ns(const struct rs_lcore *lc)
{
	return rs_tcp_next_timer(lc->tcp);
}

unsigned rs_tcp_glue_conns(const struct rs_lcore *lc)
{
	return lc->tcp == NULL ? 0 : rs_tcp_conn_count(lc->tcp);
}

/* The data plane's verdict for what the core returned. */
static enum rs_verdict core_verdict(struct rs_lcore *lc, int rc)
{
	if (rc == RS_TCP_IN_OK)
		return RS_VERDICT_CONSUMED;
	if (rc < 0 || rc >= RS_TCP_DROP_MAX) /* the core promises otherwise */
		return rs_drop(lc, RS_DP_DROP_IP_PROTO);
	return rs_drop(lc, (enum rs_dp_drop)tcp_drop_map[rc]);
}

enum rs_verdict rs_tcp_glue_icmp(struct rs_lcore *lc, uint8_t type,
				 uint8_t code, uint16_t mtu, rte_be32_t src,
				 rte_be32_t dst, const uint8_t *quote,
				 uint32_t len)
{
	int rc;

	if (lc->tcp == NULL)
		return rs_drop(lc, RS_DP_DROP_ICMP_ERR_NO_SOCKET);
	rc = rs_tcp_icmp_input(lc->tcp, lc->now_ns, type, code, mtu, src, dst,
			       quote, len);
	if (rc == RS_TCP_IN_OK)
		RS_EVENT(lc, ICMP_ERR_DELIVERED);
	return core_verdict(lc, rc);
}

/* A chained segment to the core as its segments' runs, the header whole
 * in the first.  @return as rs_tcp_input(), or -1 to make it contiguous
 * instead (the header is cut, or the chain is too long). */
static int chain_input(struct rs_lcore *lc, struct rte_mbuf *m,
		       const struct rte_ipv4_hdr *ip, uint32_t off,
		       uint32_t len)
{
	struct iovec iov[RS_TCP_IOV_MAX];
	const uint8_t *th = rte_pktmbuf_mtod_offset(m, const uint8_t *, off);
	uint32_t first = rte_pktmbuf_data_len(m) - off, doff;
	unsigned n = 0;

	if (first < RS_TCP_HDR_MIN || m->nb_segs > RS_TCP_IOV_MAX)
		return -1;
	doff = (uint32_t)(th[12] >> 4) * 4;
	if (doff > first)
		return -1;
	iov[n++] = (struct iovec){(void *)th, first};
	for (struct rte_mbuf *s = m->next; s != NULL; s = s->next)
		if (rte_pktmbuf_data_len(s) != 0)
			iov[n++] = (struct iovec){rte_pktmbuf_mtod(s, void *),
						  rte_pktmbuf_data_len(s)};
	RS_EVENT(lc, TCP_CHAIN_IN);
	return rs_tcp_input_iov(lc->tcp, lc->now_ns, ip->src_addr, ip->dst_addr,
				iov, n, len);
}

enum rs_verdict rs_tcp_glue_input(struct rs_lcore *lc, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip =
	    rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, m->l2_len);
	uint32_t off = m->l2_len + m->l3_len;
	uint32_t len = rte_pktmbuf_pkt_len(m) - off;
	const void *seg;
	int rc;

	if (!rs_ipv4_l4_csum_ok(m, len))
		return rs_drop(lc, RS_DP_DROP_TCP_BAD_CSUM);
	if (rte_pktmbuf_data_len(m) < off + len && len > lc->lin_size)
		return rs_drop(lc, RS_DP_DROP_TCP_TOO_LONG);
	if (m->ol_flags & RTE_MBUF_F_RX_LRO)
		RS_EVENT(lc, TCP_LRO_IN);
	if (rte_pktmbuf_data_len(m) < off + len &&
	    (rc = chain_input(lc, m, ip, off, len)) >= 0)
		return core_verdict(lc, rc);
	seg = rte_pktmbuf_read(m, off, len, lc->lin_buf);
	rc = rs_tcp_input(lc->tcp, lc->now_ns, ip->src_addr, ip->dst_addr, seg,
			  len, 0);
	return core_verdict(lc, rc);
}

/* ---- socket operations --------------------------------------------------- */

static int64_t secs_ns(int s)
{
	return s < 0 ? -1 : (int64_t)s * (int64_t)NS_S;
}

static void sockopts_fill(const struct rs_sock *s, struct rs_tcp_sockopts *o)
{
	const int *v = s->opt;

	rs_tcp_sockopts_init(s->lc->tcp, o);
	o->snd_buf = v[RS_SO_SNDBUF];
	o->rcv_buf = v[RS_SO_RCVBUF];
	o->rcv_lock = (s->flags & RS_SF_RCVBUF_SET) != 0;
	o->snd_lock = (s->flags & RS_SF_SNDBUF_SET) != 0;
	o->nodelay = v[RS_TCP_NODELAY];
	o->autocork = v[RS_TCP_AUTOCORK];
	o->keepalive = v[RS_SO_KEEPALIVE];
	o->keep_idle_ns = secs_ns(v[RS_TCP_KEEPIDLE]);
	o->keep_intvl_ns = secs_ns(v[RS_TCP_KEEPINTVL]);
	o->keep_cnt = v[RS_TCP_KEEPCNT];
	o->linger_ns = secs_ns(v[RS_SO_LINGER]);
}

static void names_fill(struct rs_sock *s)
{
	struct rs_tcp_tuple t;

	rs_tcp_tuple_get(s->tcp.conn, &t);
	s->laddr = t.laddr;
	s->lport = rte_cpu_to_be_16(t.lport);
	s->raddr = t.raddr;
	s->rport = rte_cpu_to_be_16(t.rport);
	s->flags |= RS_SF_CONNECTED;
}

static int tcp_open(struct rs_sock *s)
{
	if (s->lc->tcp == NULL)
		return -EPROTONOSUPPORT;
	s->tcp.conn = NULL;
	s->tcp.lst = NULL;
	return 0;
}

static void tcp_release(struct rs_sock *s, bool abort)
{
	uint64_t now = s->lc->now_ns;

	if (s->tcp.conn != NULL && abort)
		rs_tcp_abort(s->tcp.conn, now);
	else if (s->tcp.conn != NULL)
		rs_tcp_close(s->tcp.conn, now);
	if (s->tcp.lst != NULL)
		rs_tcp_listener_close(s->tcp.lst, now);
	s->tcp.conn = NULL;
	s->tcp.lst = NULL;
}

/* rs_tcp_connect()'s errno, as rs_sock_connect() documents it. */
static int connect_errno(int err)
{
	switch (err) {
	case EADDRNOTAVAIL:
		return -EADDRINUSE;
	case ENOBUFS:
		return -ENOMEM;
	default:
		return -err;
	}
}

static int tcp_connect(struct rs_sock *s, rte_be32_t addr, rte_be16_t port)
{
	struct rs_lcore *lc = s->lc;
	struct rs_tcp_sockopts o;
	rte_be32_t nh;

	/* As Linux: a connection that ended (refused, reset, timed out)
	 * leaves the socket free to connect again; its error was told. */
	if (s->tcp.conn != NULL && rs_tcp_state(s->tcp.conn) == RS_TCP_CLOSED) {
		rs_tcp_close(s->tcp.conn, lc->now_ns);
		s->tcp.conn = NULL;
		s->flags &= ~RS_SF_CONNECTED;
		s->so_error = 0;
	}
	if (s->tcp.conn != NULL)
		return rs_tcp_state(s->tcp.conn) == RS_TCP_SYN_SENT ? -EALREADY
								    : -EISCONN;
	if (rs_route_lookup(lc, addr, &nh) < 0)
		return -ENETUNREACH;
	sockopts_fill(s, &o);
	s->tcp.conn = rs_tcp_connect(
	    lc->tcp, lc->now_ns, lc->ifc->ip,
	    (s->flags & RS_SF_BOUND) ? rte_be_to_cpu_16(s->lport) : 0, addr,
	    rte_be_to_cpu_16(port), &o, s);
	if (s->tcp.conn == NULL)
		return connect_errno(errno);
	names_fill(s);
	return -EINPROGRESS;
}

static int tcp_listen(struct rs_sock *s, int backlog)
{
	struct rs_tcp_sockopts o;
	int rc;

	if (s->tcp.conn != NULL)
		return -EINVAL;
	if (s->flags & RS_SF_LISTENING)
		return 0;
	if (!(s->flags & RS_SF_BOUND)) {
		rc = rs_sock_port_bind(s, 0, 0, 0);
		if (rc < 0)
			return rc;
	}
	sockopts_fill(s, &o);
	s->tcp.lst = rs_tcp_listen(s->lc->tcp, s->laddr,
				   rte_be_to_cpu_16(s->lport), backlog, &o, s);
	if (s->tcp.lst == NULL)
		return errno == ENOBUFS ? -ENOMEM : -errno;
	s->flags |= RS_SF_LISTENING;
	return 0;
}

/* What happened to a connection before its socket existed. */
static void accepted_events(struct rs_sock *n)
{
	unsigned ev = RS_SOCK_EV_WRITABLE;

	if (rs_tcp_readable(n->tcp.conn) != 0 || rs_tcp_peer_fin(n->tcp.conn))
		ev |= RS_SOCK_EV_READABLE;
	if (rs_tcp_state(n->tcp.conn) == RS_TCP_CLOSED)
		ev |= RS_SOCK_EV_CLOSED;
	rs_sock_event(n, ev);
}

static struct rs_sock *tcp_accept(struct rs_sock *s)
{
	struct rs_sock *n;

	if (s->tcp.lst == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (rs_tcp_listener_pending(s->tcp.lst) == 0) {
		errno = EAGAIN;
		return NULL;
	}
	n = rs_sock_new(s->lc, RS_SOCK_TCP, s->cb, s->user);
	if (n == NULL)
		return NULL;
	memcpy(n->opt, s->opt, sizeof(n->opt));
	n->flags |= s->flags & (RS_SF_RCVBUF_SET | RS_SF_SNDBUF_SET);
	n->owner = s->owner;
	n->tcp.conn = rs_tcp_accept(s->tcp.lst, n);
	if (n->tcp.conn == NULL) { /* pending said otherwise: cannot be */
		rs_sock_close(n);
		errno = EAGAIN;
		return NULL;
	}
	names_fill(n);
	accepted_events(n);
	return n;
}

unsigned rs_tcp_glue_poll(const struct rs_sock *s)
{
	unsigned ev = s->so_error != 0 ? RS_SOCK_POLL_ERR : 0;
	enum rs_tcp_state st;

	if (s->tcp.lst != NULL)
		return ev | (rs_tcp_listener_pending(s->tcp.lst) != 0
				 ? RS_SOCK_POLL_IN
				 : 0);
	/* As Linux's tcp_poll(): a socket never connected is writable and
	 * hung up; one whose connection ended (given up, reset, refused,
	 * closed both ways) is readable and writable too -- the call then
	 * says what happened -- so that a poller does not wait for ever. */
	if (s->tcp.conn == NULL)
		return ev | RS_SOCK_POLL_OUT | RS_SOCK_POLL_HUP |
		       ((s->flags & RS_SF_CONNECTED)
			    ? RS_SOCK_POLL_IN | RS_SOCK_POLL_RDHUP
			    : 0);
	st = rs_tcp_state(s->tcp.conn);
	if (st == RS_TCP_CLOSED)
		return ev | RS_SOCK_POLL_IN | RS_SOCK_POLL_RDHUP |
		       RS_SOCK_POLL_OUT | RS_SOCK_POLL_HUP;
	if (rs_tcp_readable(s->tcp.conn) != 0)
		ev |= RS_SOCK_POLL_IN;
	if (rs_tcp_peer_fin(s->tcp.conn))
		ev |= RS_SOCK_POLL_IN | RS_SOCK_POLL_RDHUP;
	if ((st == RS_TCP_ESTABLISHED || st == RS_TCP_CLOSE_WAIT) &&
	    rs_tcp_writable(s->tcp.conn) != 0)
		ev |= RS_SOCK_POLL_OUT;
	return ev;
}

bool rs_tcp_glue_peer_known(const struct rs_sock *s)
{
	enum rs_tcp_state st;

	if (s->tcp.conn == NULL)
		return false;
	st = rs_tcp_state(s->tcp.conn);
	return st != RS_TCP_SYN_SENT && st != RS_TCP_CLOSED;
}

/* The error of a socket without a connection: what ended it, once. */
static int no_conn(struct rs_sock *s)
{
	return s->so_error != 0 ? rs_sock_error(s) : -ENOTCONN;
}

static ssize_t tcp_sendto(struct rs_sock *s, const void *buf, size_t len,
			  const struct sockaddr_in *to)
{
	ssize_t n;

	if (to != NULL)
		return -EISCONN;
	if (s->tcp.conn == NULL)
		return no_conn(s);
	n = rs_tcp_send(s->tcp.conn, s->lc->now_ns, buf, len);
	return n == 0 && len != 0 ? -EAGAIN : n;
}

/* A plain read reports the connection's failure before anything else
 * (rs_tcp_recv()); a peek or a held read looks at the bytes first. */
ssize_t rs_tcp_glue_rx_view(struct rs_sock *s, size_t len, unsigned flags,
			    struct rs_byte_view *v)
{
	bool plain = !(flags & (RS_SOCK_PEEK | RS_SOCK_HOLD));
	struct rs_tcp_conn *c = s->tcp.conn;
	size_t n;

	if (c == NULL)
		return no_conn(s);
	if (plain && rs_tcp_error(c) != 0)
		return -rs_tcp_error(c);
	n = RTE_MIN(len, rs_byte_ring_read_view(rs_tcp_rcv_ring(c), v));
	if (n == 0) {
		if (rs_tcp_peer_fin(c))
			return 0;
		return plain && rs_tcp_state(c) == RS_TCP_CLOSED ? -ENOTCONN
								 : -EAGAIN;
	}
	if (n <= v->seg[0].len) {
		v->seg[0].len = n;
		v->seg[1].len = 0;
	} else {
		v->seg[1].len = n - v->seg[0].len;
	}
	return (ssize_t)n;
}

int rs_tcp_glue_rx_take(struct rs_sock *s, size_t n, unsigned flags)
{
	struct rs_byte_ring *r;
	int rc;

	if (s->tcp.conn == NULL)
		return -ENOTCONN;
	if (flags & RS_SOCK_PEEK)
		return n <= rs_tcp_readable(s->tcp.conn) ? 0 : -ERANGE;
	r = rs_tcp_rcv_ring(s->tcp.conn);
	rc = rs_byte_ring_advance_mark(r, n);
	if (rc < 0 || (flags & RS_SOCK_HOLD))
		return rc;
	/* Consumed, with whatever was held before them: the window opens. */
	return rs_tcp_rx_seek(s->tcp.conn, s->lc->now_ns, rs_byte_ring_mark(r));
}

static ssize_t tcp_recvfrom(struct rs_sock *s, void *buf, size_t len,
			    unsigned flags, struct sockaddr_in *from)
{
	struct rs_byte_view v;
	ssize_t n;

	if (from != NULL && s->tcp.conn != NULL)
		rs_sock_getpeername(s, from);
	n = rs_tcp_glue_rx_view(s, len, flags, &v);
	if (n <= 0)
		return n;
	memcpy(buf, v.seg[0].ptr, v.seg[0].len);
	memcpy((uint8_t *)buf + v.seg[0].len, v.seg[1].ptr, v.seg[1].len);
	rs_tcp_glue_rx_take(s, (size_t)n, flags);
	return n;
}

size_t rs_tcp_glue_tx_view(struct rs_sock *s, size_t need,
			   struct rs_byte_view *v)
{
	if (s->tcp.conn == NULL || rs_tcp_writable(s->tcp.conn) == 0)
		return 0;
	return rs_byte_ring_write_view_for(rs_tcp_snd_ring(s->tcp.conn), need,
					   v);
}

int rs_tcp_glue_tx_commit(struct rs_sock *s, size_t n)
{
	int rc;

	if (s->tcp.conn == NULL)
		return no_conn(s);
	rc = rs_byte_ring_commit(rs_tcp_snd_ring(s->tcp.conn), n);
	return rc < 0 ? rc : rs_tcp_output(s->tcp.conn, s->lc->now_ns);
}

int rs_tcp_glue_rx_offsets(const struct rs_sock *s, uint64_t *held,
			   uint64_t *unread)
{
	struct rs_byte_ring *r;

	if (s->tcp.conn == NULL)
		return -ENOTCONN;
	r = rs_tcp_rcv_ring(s->tcp.conn);
	*held = rs_byte_ring_tail(r);
	*unread = rs_byte_ring_mark(r);
	return 0;
}

int rs_tcp_glue_rx_seek(struct rs_sock *s, uint64_t off)
{
	if (s->tcp.conn == NULL)
		return -ENOTCONN;
	return rs_tcp_rx_seek(s->tcp.conn, s->lc->now_ns, off);
}

static ssize_t tcp_readable(const struct rs_sock *s)
{
	size_t n;

	if (s->tcp.conn == NULL)
		return -ENOTCONN;
	n = rs_tcp_readable(s->tcp.conn);
	if (n == 0 && !rs_tcp_peer_fin(s->tcp.conn))
		return -EAGAIN;
	return (ssize_t)n;
}

static ssize_t tcp_writable(const struct rs_sock *s)
{
	if (s->tcp.conn == NULL)
		return -ENOTCONN;
	return (ssize_t)rs_tcp_writable(s->tcp.conn);
}

static int tcp_shutdown(struct rs_sock *s, enum rs_sock_shut how)
{
	static const int map[] = {RS_TCP_SHUT_RD, RS_TCP_SHUT_WR,
				  RS_TCP_SHUT_RDWR};

	if (s->tcp.conn == NULL)
		return -ENOTCONN;
	return rs_tcp_shutdown(s->tcp.conn, s->lc->now_ns, map[how]);
}

/* The core's name of each option a live connection takes, and whether
 * its value is in seconds here and in ns there. */
static const struct {
	enum rs_sock_opt opt;
	enum rs_tcp_opt tcp;
	bool secs;
} live_opts[] = {
    {RS_TCP_NODELAY, RS_TCP_OPT_NODELAY, false},
    {RS_TCP_AUTOCORK, RS_TCP_OPT_AUTOCORK, false},
    {RS_SO_KEEPALIVE, RS_TCP_OPT_KEEPALIVE, false},
    {RS_TCP_KEEPCNT, RS_TCP_OPT_KEEPCNT, false},
    {RS_TCP_KEEPIDLE, RS_TCP_OPT_KEEPIDLE, true},
    {RS_TCP_KEEPINTVL, RS_TCP_OPT_KEEPINTVL, true},
    {RS_SO_LINGER, RS_TCP_OPT_LINGER, true},
};

static int setopt_live(struct rs_sock *s, enum rs_sock_opt opt, int v)
{
	for (size_t i = 0; i < RTE_DIM(live_opts); i++)
		if (live_opts[i].opt == opt)
			return rs_tcp_setopt(
			    s->tcp.conn, s->lc->now_ns, live_opts[i].tcp,
			    live_opts[i].secs ? secs_ns(v) : v);
	return 0;
}

static int tcp_setopt(struct rs_sock *s, enum rs_sock_opt opt, int value)
{
	bool live = s->tcp.conn != NULL || s->tcp.lst != NULL;

	if ((opt == RS_SO_RCVBUF || opt == RS_SO_SNDBUF) && live)
		return -EISCONN;
	if (s->tcp.conn != NULL)
		return setopt_live(s, opt, value);
	return 0;
}

/* A connection attempt whose next hop did not answer ARP fails now
 * (RFC 1122 section 4.2.3.9 lets a SYN-SENT connection take it as hard). */
static void tcp_unreachable(struct rs_sock *s, rte_be32_t nh)
{
	rte_be32_t hop;

	if (s->tcp.conn == NULL ||
	    rs_tcp_state(s->tcp.conn) != RS_TCP_SYN_SENT ||
	    rs_route_lookup(s->lc, s->raddr, &hop) != 0 || hop != nh)
		return;
	rs_tcp_abort(s->tcp.conn, s->lc->now_ns);
	s->tcp.conn = NULL;
	rs_sock_fail(s, EHOSTUNREACH, RS_SOCK_EV_CLOSED);
}

const struct rs_sock_ops rs_tcp_ops = {
    .open = tcp_open,
    .release = tcp_release,
    .connect = tcp_connect,
    .listen = tcp_listen,
    .accept = tcp_accept,
    .sendto = tcp_sendto,
    .recvfrom = tcp_recvfrom,
    .readable = tcp_readable,
    .writable = tcp_writable,
    .shutdown = tcp_shutdown,
    .setopt = tcp_setopt,
    .unreachable = tcp_unreachable,
};
