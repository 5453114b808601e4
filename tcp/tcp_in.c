/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP input: parse -> validate -> look up -> state machine -> deliver.
 *
 *   rs_tcp_input()     checksum (if asked), rs_tcp_parse() (header,
 *                      options, illegal flags: dropped and counted)
 *   dispatch()         4-tuple, else listener (exact, then wildcard),
 *                      else the CLOSED rules; TIME-WAIT recycling
 *   closed_input()     RFC 9293 §3.10.7.1: RST for anything but a RST
 *   listen_input()     §3.10.7.2: SYN -> SYN-RECEIVED child (bounded by
 *                      the backlog and max_syn_recv; past them a SYN
 *                      cookie when configured, tcp_cookie.c), ACK -> RST
 *                      (or the connection a returning cookie names)
 *   syn_sent_input()   §3.10.7.3
 *   sync_input()       §3.10.7.4 for SYN-RECEIVED and later, in RFC
 *                      order with RFC 5961: RST (exact -> reset, in
 *                      window -> challenge ACK), PAWS (RFC 7323 §5.3,
 *                      tcp_ts.c), SYN (challenge ACK), sequence
 *                      acceptability, TS.Recent, trimming, ACK
 *                      (tcp_cc.c), FIN-acknowledged transitions, data
 *                      and FIN (tcp_rcv.c)
 *   conn_input()       then output (ACKs, data the ACK let out) and the
 *                      events, delivered last (rs_tcp_conn_finish()).
 *
 * Choices where the RFCs leave room:
 *   - a RST in TIME-WAIT is ignored (RFC 1337);
 *   - a SYN in TIME-WAIT whose sequence number is beyond rcv_nxt, for a
 *     port with a listener, ends the TIME-WAIT and opens a new
 *     connection (RFC 9293 §3.6.1, RFC 6191 without timestamps); other
 *     SYNs there get a challenge ACK;
 *   - in SYN-RECEIVED, the peer's retransmitted SYN gets our SYN-ACK
 *     again, and in a simultaneous open the peer's SYN-ACK (seq = IRS,
 *     ack = ISS + 1) completes the handshake (RFC 9293 figure 8) rather
 *     than drawing a challenge ACK;
 *   - data carried on a SYN is not accepted (the peer sends it again);
 *   - on a SACK connection a segment wholly below rcv_nxt is answered
 *     with a D-SACK and not counted as a drop (unacceptable());
 *   - with a zero receive window, a segment at rcv_nxt is acceptable so
 *     that its ACK (and RST) count; its data is trimmed (§3.10.7.4);
 *   - a segment without data is acceptable from the rcv_nxt we last
 *     acknowledged (Last.ACK.sent, Linux's rcv_wup), not only from
 *     rcv_nxt: a pure ACK the peer sent before data that overtook it
 *     (reordered, or steered to another queue) still counts.
 */

#include "tcp_pvt.h"

/* RFC 6298 §5.7: after a lost SYN, data starts with an RTO of 3 s. */
#define RTO_AFTER_SYN_LOSS 3000000000ULL

static uint32_t rcv_wnd(const struct rs_tcp_conn *c)
{
	return RS_SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
}

static int closed_input(struct rs_tcp_stack *st, const struct rs_tcp_seg_in *s)
{
	if (s->flags & RS_TCP_RST)
		return RS_TCP_DROP(st, NO_SOCKET_RST);
	rs_tcp_out_rst_reply(st, s);
	return RS_TCP_DROP(st, NO_SOCKET);
}

static void established(struct rs_tcp_conn *c, uint64_t now)
{
	tcp_state_set(c, RS_TCP_ESTABLISHED);
	RS_TCP_COUNT(c->st, ESTABLISHED);
	if (c->retries && c->srtt == 0)
		c->rto = RS_TCP_MIN(RS_TCP_MAX(c->rto, RTO_AFTER_SYN_LOSS),
				    c->st->cfg.rto_max_ns);
	c->retries = 0;
	rs_tcp_timer_keep_check(c, now);
}

/* Sequence and window state taken from the peer's SYN. */
static void take_syn(struct rs_tcp_conn *c, const struct rs_tcp_seg_in *s)
{
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	rs_tcp_conn_negotiate(c, &s->opt);
	c->snd_wnd = s->wnd; /* never scaled in a SYN */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
}

void rs_tcp_syn_child(struct rs_tcp_listener *l, struct rs_tcp_conn *c)
{
	c->parent = l;
	c->passive = true;
	c->queue = RS_TCP_Q_SYN;
	rs_tcp_list_add_tail(&l->syn_q, &c->qlink);
	l->n_syn++;
	l->st->n_syn_recv++;
	tcp_state_set(c, RS_TCP_SYN_RECEIVED);
	RS_TCP_COUNT(l->st, PASSIVE_OPENS);
	(void)rs_tcp_conn_port_use(c, RS_TCP_PORT_GIVEN); /* cannot fail */
}

static int listen_input(struct rs_tcp_listener *l, uint64_t now,
			const struct rs_tcp_seg_in *s)
{
	struct rs_tcp_stack *st = l->st;
	struct rs_tcp_tuple t = rs_tcp_tuple_of(s);
	struct rs_tcp_conn *c;

	if (s->flags & RS_TCP_RST)
		return RS_TCP_DROP(st, NO_SOCKET_RST);
	if (s->flags & RS_TCP_ACK)
		return closed_input(st, s);
	if (!(s->flags & RS_TCP_SYN))
		return RS_TCP_DROP(st, LISTEN_BAD);
	if (l->n_acc >= l->backlog)
		return RS_TCP_DROP(st, ACCEPT_QUEUE_FULL);
	if (l->n_syn >= l->backlog || st->n_syn_recv >= st->cfg.max_syn_recv) {
		if (st->cfg.syncookies)
			return rs_tcp_cookie_syn(l, now, s);
		return RS_TCP_DROP(st, SYN_QUEUE_FULL);
	}
	c = rs_tcp_conn_alloc(st, &t, &l->opts, now);
	if (c == NULL)
		return RS_TCP_DROP(st, POOL_FULL);
	rs_tcp_syn_child(l, c);
	take_syn(c, s);
	rs_tcp_out_syn(c, now);
	c->rtt_timing = true;
	c->rtt_seq = c->iss;
	c->rtt_start = now;
	rs_tcp_timer_rtx_restart(c, now);
	return RS_TCP_IN_OK;
}

static int syn_sent_input(struct rs_tcp_conn *c, uint64_t now,
			  const struct rs_tcp_seg_in *s)
{
	uint8_t f = s->flags;

	if ((f & RS_TCP_ACK) &&
	    (RS_SEQ_LEQ(s->ack, c->iss) || RS_SEQ_GT(s->ack, c->snd_max))) {
		rs_tcp_out_rst_reply(c->st, s);
		return RS_TCP_DROP(c->st, SYN_SENT_BAD);
	}
	if (f & RS_TCP_RST) {
		if (!(f & RS_TCP_ACK))
			return RS_TCP_DROP(c->st, SYN_SENT_BAD);
		RS_TCP_COUNT(c->st, RST_RECEIVED);
		rs_tcp_conn_closed(c, ECONNREFUSED);
		return RS_TCP_IN_OK;
	}
	if (!(f & RS_TCP_SYN))
		return RS_TCP_DROP(c->st, SYN_SENT_BAD);
	take_syn(c, s);
	c->rcv_adv = c->rcv_nxt + RS_TCP_MIN(rs_tcp_rcv_space(c), 0xffffu);
	if (!(f & RS_TCP_ACK)) {
		/* Simultaneous open (RFC 9293 figure 8). */
		tcp_state_set(c, RS_TCP_SYN_RECEIVED);
		rs_tcp_out_syn(c, now);
		return RS_TCP_IN_OK;
	}
	c->snd_una = s->ack;
	c->syn_acked = true;
	c->soft_error = 0;
	if (c->rtt_timing) {
		c->rtt_timing = false;
		rs_tcp_rtt_sample(c, now - c->rtt_start);
	}
	rs_tcp_timer_stop(c, RS_TCP_T_RTX);
	c->ev |= RS_TCP_EV_CONNECTED;
	established(c, now);
	c->ack_now = true;
	return RS_TCP_IN_OK;
}

/* RFC 5961 §3.2, after RFC 1337 for TIME-WAIT. */
static int rst_in(struct rs_tcp_conn *c, uint64_t now,
		  const struct rs_tcp_seg_in *s, uint32_t wnd)
{
	static const int err[RS_TCP_STATE_MAX] = {
	    [RS_TCP_ESTABLISHED] = ECONNRESET,
	    [RS_TCP_FIN_WAIT_1] = ECONNRESET,
	    [RS_TCP_FIN_WAIT_2] = ECONNRESET,
	    [RS_TCP_CLOSE_WAIT] = ECONNRESET,
	};

	if (c->state == RS_TCP_TIME_WAIT)
		return RS_TCP_DROP(c->st, RST_IGNORED);
	if (s->seq != c->rcv_nxt &&
	    !RS_SEQ_IN(s->seq, c->rcv_nxt, c->rcv_nxt + wnd))
		return RS_TCP_DROP(c->st, RST_OUT_OF_WINDOW);
	if (s->seq != c->rcv_nxt) {
		rs_tcp_out_challenge(c, now);
		return RS_TCP_DROP(c->st, RST_CHALLENGED);
	}
	RS_TCP_COUNT(c->st, RST_RECEIVED);
	if (c->state == RS_TCP_SYN_RECEIVED)
		rs_tcp_conn_closed(c, c->passive ? 0 : ECONNREFUSED);
	else
		rs_tcp_conn_closed(c, err[c->state]);
	return RS_TCP_IN_OK;
}

/* RFC 9293 §3.10.7.4, first check. */
static bool seq_acceptable(const struct rs_tcp_conn *c,
			   const struct rs_tcp_seg_in *s, uint32_t wnd)
{
	uint32_t len = rs_tcp_seg_space(s), nxt = c->rcv_nxt;

	if (len == 0)
		return RS_SEQ_IN(s->seq, c->last_ack_sent,
				 nxt + RS_TCP_MAX(wnd, 1u));
	if (wnd == 0)
		return s->seq == nxt;
	return RS_SEQ_IN(s->seq, nxt, nxt + wnd) ||
	       RS_SEQ_IN(s->seq + len - 1, nxt, nxt + wnd);
}

/* A segment outside the window is dropped (and ACKed).  One that only
 * repeats data already received is, on a SACK connection, answered with
 * a D-SACK (RFC 2883) and so taken as input, not dropped: senders probe
 * that way (Linux's tail loss probe resends the last segment when our
 * delayed ACK is slow) and learn from the answer that nothing was lost. */
static int unacceptable(struct rs_tcp_conn *c, const struct rs_tcp_seg_in *s)
{
	if (s->len == 0 || !RS_SEQ_LEQ(s->seq + s->len, c->rcv_nxt))
		return RS_TCP_DROP(c->st, OUT_OF_WINDOW);
	rs_tcp_rcv_dup(c, s->seq, s->len);
	if (!c->sack_ok)
		return RS_TCP_DROP(c->st, OUT_OF_WINDOW);
	return RS_TCP_IN_OK;
}

/* Cut what lies before rcv_nxt or beyond the window (or the ring). */
static void trim(struct rs_tcp_conn *c, struct rs_tcp_seg_in *s, uint32_t wnd)
{
	uint32_t room, off, space;

	if (s->len == 0 && !(s->flags & RS_TCP_FIN) &&
	    RS_SEQ_LT(s->seq, c->rcv_nxt)) {
		s->seq = c->rcv_nxt; /* an ACK from before data we took */
		return;
	}
	if (RS_SEQ_LT(s->seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - s->seq;

		if (d > s->len)
			s->flags &= (uint8_t)~RS_TCP_FIN; /* old FIN */
		d = RS_TCP_MIN(d, s->len);
		rs_tcp_rcv_dup(c, s->seq, d);
		if (s->iov != NULL)
			s->skip += d;
		else
			s->data += d;
		s->len -= d;
		s->seq += d;
		c->ack_now = true; /* a retransmission: say where we are */
	}
	off = s->seq - c->rcv_nxt;
	space = rs_tcp_rcv_space(c);
	room = RS_TCP_MIN(wnd - off, space > off ? space - off : 0);
	if (s->len > room) {
		s->len = room;
		s->flags &= (uint8_t)~RS_TCP_FIN;
		c->ack_now = true;
	}
}

/* The ACK completing our SYN-RECEIVED. */
static int hs_ack(struct rs_tcp_conn *c, uint64_t now,
		  const struct rs_tcp_seg_in *s)
{
	if (!RS_SEQ_GT(s->ack, c->snd_una) || RS_SEQ_GT(s->ack, c->snd_max)) {
		rs_tcp_out_rst_reply(c->st, s);
		return RS_TCP_DROP(c->st, BAD_HS_ACK);
	}
	if (c->passive) {
		if (c->parent->n_acc >= c->parent->backlog)
			return RS_TCP_DROP(c->st, ACCEPT_QUEUE_FULL);
		if (rs_tcp_conn_rings(c) < 0) {
			rs_tcp_out_rst(c);
			rs_tcp_conn_closed(c, 0);
			return RS_TCP_DROP(c->st, NO_MEMORY);
		}
		rs_tcp_conn_to_accept_q(c);
	} else {
		c->ev |= RS_TCP_EV_CONNECTED;
	}
	established(c, now);
	return 0;
}

/* Our FIN is acknowledged: FIN-WAIT-1, CLOSING, LAST-ACK move on. */
static void fin_acked_step(struct rs_tcp_conn *c, uint64_t now)
{
	if (!c->fin_acked)
		return;
	switch (c->state) {
	case RS_TCP_FIN_WAIT_1:
		tcp_state_set(c, RS_TCP_FIN_WAIT_2);
		if (c->orphan)
			rs_tcp_timer_set(c, RS_TCP_T_CLOSE, now,
					 c->st->cfg.fin_wait2_ns);
		break;
	case RS_TCP_CLOSING:
		rs_tcp_enter_time_wait(c, now);
		break;
	case RS_TCP_LAST_ACK:
		rs_tcp_conn_closed(c, 0);
		break;
	default:
		break;
	}
}

static int data_in(struct rs_tcp_conn *c, uint64_t now,
		   const struct rs_tcp_seg_in *s)
{
	if (s->len == 0 && !(s->flags & RS_TCP_FIN))
		return RS_TCP_IN_OK;
	if (c->state != RS_TCP_ESTABLISHED && c->state != RS_TCP_FIN_WAIT_1 &&
	    c->state != RS_TCP_FIN_WAIT_2) {
		c->ack_now = true; /* after the peer's FIN: just ACK */
		return RS_TCP_IN_OK;
	}
	if (c->orphan && s->len > 0) {
		rs_tcp_out_rst(c);
		rs_tcp_conn_closed(c, 0);
		return RS_TCP_DROP(c->st, DATA_AFTER_CLOSE);
	}
	rs_tcp_rcv_data(c, now, s);
	return RS_TCP_IN_OK;
}

/* SYN-RECEIVED special cases; @return true when the segment is done. */
static bool syn_received_special(struct rs_tcp_conn *c, uint64_t now,
				 struct rs_tcp_seg_in *s)
{
	uint8_t syn_ack = RS_TCP_SYN | RS_TCP_ACK;

	if (c->state != RS_TCP_SYN_RECEIVED || !(s->flags & RS_TCP_SYN) ||
	    s->seq != c->irs || (s->flags & RS_TCP_RST))
		return false;
	if (!(s->flags & RS_TCP_ACK)) {
		rs_tcp_out_syn(c, now); /* our SYN-ACK was lost */
		return true;
	}
	if ((s->flags & syn_ack) == syn_ack && s->ack == c->iss + 1 &&
	    !c->passive) {
		s->flags &= (uint8_t)~RS_TCP_SYN; /* crossing SYN-ACK */
		s->seq++;
	}
	return false;
}

static int sync_input(struct rs_tcp_conn *c, uint64_t now,
		      struct rs_tcp_seg_in *s)
{
	uint32_t wnd = rcv_wnd(c);
	int r;

	if (syn_received_special(c, now, s))
		return RS_TCP_IN_OK;
	if (s->flags & RS_TCP_RST)
		return rst_in(c, now, s, wnd);
	if (!rs_tcp_ts_paws_ok(c, now, s)) {
		c->ack_now = true; /* RFC 7323 §5.3 R1 */
		return RS_TCP_DROP(c->st, PAWS);
	}
	if (c->state == RS_TCP_TIME_WAIT && (s->flags & RS_TCP_FIN))
		rs_tcp_time_wait_restart(c, now);
	if (s->flags & RS_TCP_SYN) {
		rs_tcp_out_challenge(c, now); /* RFC 5961 §4 */
		return RS_TCP_DROP(c->st, SYN_CHALLENGED);
	}
	if (!seq_acceptable(c, s, wnd)) {
		c->ack_now = true;
		return unacceptable(c, s);
	}
	rs_tcp_ts_recent_update(c, now, s); /* before trim moves seq */
	trim(c, s, wnd);
	if (!(s->flags & RS_TCP_ACK))
		return RS_TCP_DROP(c->st, NO_ACK);
	if (c->state == RS_TCP_SYN_RECEIVED && (r = hs_ack(c, now, s)) != 0)
		return r;
	r = rs_tcp_ack_process(c, now, s);
	if (r != 0)
		return r;
	fin_acked_step(c, now);
	if (c->state == RS_TCP_CLOSED)
		return RS_TCP_IN_OK;
	return data_in(c, now, s);
}

static int conn_input(struct rs_tcp_conn *c, uint64_t now,
		      struct rs_tcp_seg_in *s)
{
	struct rs_tcp_listener *l = c->parent;
	int r;

	c->last_rcv = now;
	if (c->state == RS_TCP_SYN_SENT)
		r = syn_sent_input(c, now, s);
	else
		r = sync_input(c, now, s);
	if (c->state != RS_TCP_CLOSED)
		rs_tcp_out_push(c, now);
	rs_tcp_conn_finish(c); /* c may be gone */
	if (l != NULL)
		rs_tcp_listener_finish(l);
	return r;
}

/* A new SYN may end a TIME-WAIT (RFC 9293 §3.6.1, RFC 6191). */
static bool tw_recycle(struct rs_tcp_conn *c, const struct rs_tcp_seg_in *s)
{
	if (c->state != RS_TCP_TIME_WAIT ||
	    (s->flags & (RS_TCP_SYN | RS_TCP_ACK)) != RS_TCP_SYN ||
	    !RS_SEQ_GT(s->seq, c->rcv_nxt) ||
	    rs_tcp_listener_lookup(c->st, s->daddr, s->dport) == NULL)
		return false;
	RS_TCP_COUNT(c->st, TW_RECYCLED);
	rs_tcp_conn_closed(c, 0);
	rs_tcp_conn_finish(c);
	return true;
}

static int dispatch(struct rs_tcp_stack *st, uint64_t now,
		    struct rs_tcp_seg_in *s)
{
	struct rs_tcp_tuple key = rs_tcp_tuple_of(s);
	struct rs_tcp_conn *c = rs_tcp_conn_lookup(st, &key);
	struct rs_tcp_listener *l;

	if (c != NULL && !tw_recycle(c, s))
		return conn_input(c, now, s);
	l = rs_tcp_listener_lookup(st, key.laddr, key.lport);
	if (l != NULL && (c = rs_tcp_cookie_ack(l, now, s)) != NULL)
		return conn_input(c, now, s); /* a SYN cookie came back */
	if (l != NULL) {
		int r = listen_input(l, now, s);

		rs_tcp_listener_finish(l);
		return r;
	}
	return closed_input(st, s);
}

int rs_tcp_input(struct rs_tcp_stack *st, uint64_t now, uint32_t saddr,
		 uint32_t daddr, const void *tcp, size_t len, unsigned flags)
{
	struct rs_tcp_seg_in s;
	int r;

	RS_TCP_COUNT(st, SEGS_IN);
	if (len < RS_TCP_HDR_MIN)
		return RS_TCP_DROP(st, SHORT);
	if ((flags & RS_TCP_IN_CSUM) && len <= 0xffff &&
	    rs_tcp_checksum(saddr, daddr, tcp, len) != 0)
		return RS_TCP_DROP(st, BAD_CSUM);
	r = rs_tcp_parse(tcp, len, &s);
	if (r != 0) {
		st->stats.drops[r]++;
		return r;
	}
	s.saddr = saddr;
	s.daddr = daddr;
	return dispatch(st, now, &s);
}

int rs_tcp_input_iov(struct rs_tcp_stack *st, uint64_t now, uint32_t saddr,
		     uint32_t daddr, const struct iovec *iov, unsigned niov,
		     size_t len)
{
	struct rs_tcp_seg_in s;
	size_t total = 0;
	int r;

	if (niov == 1 || niov == 0)
		return rs_tcp_input(
		    st, now, saddr, daddr, niov ? iov[0].iov_base : NULL,
		    niov ? RS_TCP_MIN(len, iov[0].iov_len) : 0, 0);
	RS_TCP_COUNT(st, SEGS_IN);
	for (unsigned i = 0; i < niov; i++)
		total += iov[i].iov_len;
	if (len < RS_TCP_HDR_MIN || iov[0].iov_len < RS_TCP_HDR_MIN ||
	    niov > RS_TCP_IOV_MAX || len > total)
		return RS_TCP_DROP(st, SHORT);
	/* The header (options too) is in the first run. */
	r = rs_tcp_parse(iov[0].iov_base, iov[0].iov_len, &s);
	if (r != 0) {
		st->stats.drops[r]++;
		return r;
	}
	s.skip = (uint32_t)(iov[0].iov_len - s.len); /* the header's bytes */
	s.data = NULL;
	s.iov = iov;
	s.niov = niov;
	s.len = (uint32_t)(len - s.skip);
	s.saddr = saddr;
	s.daddr = daddr;
	return dispatch(st, now, &s);
}
