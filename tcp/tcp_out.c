/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP output: every segment the stack sends is built here and handed to
 * config.emit(), with its payload pointing into the send ring.
 *
 * rs_tcp_out_push() is the one place that decides what to send: as much
 * unsent data as min(snd_wnd, cwnd) allows, one segment of at most
 * snd_mss at a time, held back by
 *   - Nagle (RFC 9293 §3.7.4, RFC 1122 §4.2.3.4): a segment shorter than
 *     snd_mss waits while data is in flight, unless NODELAY or it carries
 *     the FIN;
 *   - sender SWS avoidance (RFC 9293 §3.8.6.2.1): a short segment goes
 *     only when it is all we have and nothing is in flight, or it fills
 *     half the largest window the peer has offered;
 * then the FIN once every byte before it is out, then a bare ACK if one
 * is owed and nothing else carried it.  Data in flight starts the
 * retransmission timer; data blocked with nothing in flight starts the
 * persist timer (tcp_timer.c).
 *
 * Back-pressure: emit() may answer -EAGAIN (the glue's TX batch is
 * full).  A data or FIN segment so refused changes nothing -- no
 * sequence space used, no timer, no count but emit_blocked -- and a bare
 * ACK stays owed; the connection waits on the stack's blocked list
 * until the glue calls rs_tcp_output_resume(), which pushes it again.
 * Other segments (SYN, RST, retransmissions, probes) refused that way
 * count as lost, as for any other emit() error: their timers recover.
 *
 * Options: SYNs carry MSS, window scale, SACK-permitted and timestamps
 * (a SYN-ACK only what the peer offered); every other segment but a RST
 * carries timestamps once negotiated (RFC 7323 §3.2) and, with SACK and
 * out-of-order data held, SACK blocks in the room its payload leaves
 * (RFC 2018 §4).  The payload gives up the 12 bytes of timestamps
 * (snd_mss is kept net of them, RFC 6691).  In SACK recovery new data
 * goes against cwnd - pipe (RFC 6675) instead of cwnd - flight, and
 * rs_tcp_out_resend() sends the holes tcp_sack.c picks.
 *
 * The window we announce (rs_tcp_rcv_window) follows receiver SWS
 * avoidance (RFC 9293 §3.8.6.2.2): the right edge moves only by at least
 * min(half the ring, one MSS), and never moves left.  SYN segments carry
 * it unscaled (RFC 7323 §2.2).
 */

#include <errno.h>
#include <string.h>

#include "tcp_pvt.h"

static const uint8_t no_payload[1];

static void seg_init(struct rs_tcp_seg *s)
{
	s->opt_len = 0;
	s->payload_len = 0;
	s->tso_segsz = 0;
	s->payload.seg[0].ptr = (uint8_t *)no_payload;
	s->payload.seg[0].len = 0;
	s->payload.seg[1] = s->payload.seg[0];
}

/* A segment of connection @p c; with ACK it carries rcv_nxt and the
 * window. */
static void seg_of(struct rs_tcp_conn *c, struct rs_tcp_seg *s, uint32_t seq,
		   uint8_t flags)
{
	seg_init(s);
	s->saddr = c->tuple.laddr;
	s->daddr = c->tuple.raddr;
	s->sport = c->tuple.lport;
	s->dport = c->tuple.rport;
	s->seq = seq;
	s->flags = flags;
	s->ack = (flags & RS_TCP_ACK) ? c->rcv_nxt : 0;
	s->window = (flags & RS_TCP_ACK) && !(flags & RS_TCP_RST)
			? rs_tcp_rcv_window(c)
			: 0;
	s->conn = c;
	if (flags & RS_TCP_ACK)
		c->last_ack_sent = s->ack; /* RFC 7323 §4.3 Last.ACK.sent */
}

/* Timestamps (RFC 7323 §3.2: on every segment once negotiated, RSTs
 * aside) and SACK blocks (RFC 2018 §4) of a non-SYN segment, in the room
 * its payload leaves: the MSS covers options and payload (RFC 6691), so
 * a full data segment carries no blocks. */
static void seg_opts(struct rs_tcp_conn *c, struct rs_tcp_seg *s, uint64_t now)
{
	struct rs_tcp_sack_block b[RS_TCP_SACK_BLOCKS_MAX];
	struct rs_tcp_ts ts = {rs_tcp_ts_now(c, now), c->ts_recent};
	uint32_t mss = c->snd_mss + rs_tcp_ts_len(c);
	/* A TSO segment's options repeat in each MSS piece. */
	uint32_t plen = s->tso_segsz ? s->tso_segsz : s->payload_len;
	unsigned n = 0;

	if (s->flags & (RS_TCP_RST | RS_TCP_SYN))
		return;
	/* Not on a TSO segment: its pieces would repeat the blocks (a
	 * D-SACK reported once per piece). */
	if (c->sack_ok && (s->flags & RS_TCP_ACK) && s->tso_segsz == 0)
		n = rs_tcp_rcv_sack_blocks(c, b, RS_TCP_SACK_BLOCKS_MAX);
	s->opt_len = rs_tcp_opt_build(s->opt, c->ts_ok ? &ts : NULL, b, n,
				      mss > plen ? mss - plen : 0);
	c->ts_last = ts.val; /* TIME-WAIT reuse must go beyond it */
	if (s->opt_len > rs_tcp_ts_len(c))
		c->dsack = false; /* reported once (RFC 2883 §4) */
}

/* @return emit()'s: -EAGAIN when the glue held the segment back (not
 * counted as sent), another error when it was lost. */
static int emit(struct rs_tcp_stack *st, const struct rs_tcp_seg *s)
{
	int rc = st->cfg.emit(st->cfg.io, s);

	if (rc == -EAGAIN) {
		RS_TCP_COUNT(st, EMIT_BLOCKED);
		return rc;
	}
	RS_TCP_COUNT(st, SEGS_OUT);
	if (s->flags & RS_TCP_RST)
		RS_TCP_COUNT(st, RST_SENT);
	if (rc < 0)
		RS_TCP_COUNT(st, EMIT_FAILED);
	return rc;
}

/* A segment of @p c: its options, then emit(). */
static int emit_conn(struct rs_tcp_conn *c, struct rs_tcp_seg *s, uint64_t now)
{
	seg_opts(c, s, now);
	return emit(c->st, s);
}

void rs_tcp_out_block(struct rs_tcp_conn *c)
{
	if (rs_tcp_list_empty(&c->blink))
		rs_tcp_list_add_tail(&c->st->blocked, &c->blink);
}

/* Any segment with our ACK pays what we owe. */
static void acked_now(struct rs_tcp_conn *c)
{
	c->ack_now = false;
	c->rcv_unacked = 0;
	rs_tcp_timer_stop(c, RS_TCP_T_DELACK);
}

uint16_t rs_tcp_rcv_window(struct rs_tcp_conn *c)
{
	uint32_t space = rs_tcp_rcv_space(c);
	uint32_t cur =
	    RS_SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t cap =
	    c->rcv ? (uint32_t)rs_byte_ring_capacity(c->rcv) : c->opts.rcv_buf;
	uint32_t thresh = RS_TCP_MIN(cap / 2, (uint32_t)c->rcv_mss);
	uint8_t ws = c->rcv_wscale;
	uint32_t wnd = cur, field;

	if (c->state <= RS_TCP_SYN_RECEIVED)
		ws = 0; /* SYN and SYN-ACK: never scaled */
	if (space >= cur + thresh)
		wnd = space;
	wnd = RS_TCP_MIN(wnd, (uint32_t)0xffff << ws);
	field = wnd >> ws;
	if (RS_SEQ_GT(c->rcv_nxt + (field << ws), c->rcv_adv) ||
	    c->state <= RS_TCP_SYN_RECEIVED)
		c->rcv_adv = c->rcv_nxt + (field << ws);
	return (uint16_t)field;
}

void rs_tcp_out_ack(struct rs_tcp_conn *c, uint64_t now, uint32_t seq)
{
	struct rs_tcp_seg s;

	seg_of(c, &s, seq, RS_TCP_ACK);
	acked_now(c);
	if (emit_conn(c, &s, now) == -EAGAIN) {
		/* owed still: resume sends it */
		c->ack_now = true;
		rs_tcp_out_block(c);
	}
}

void rs_tcp_out_challenge(struct rs_tcp_conn *c, uint64_t now)
{
	struct rs_tcp_stack *st = c->st;
	uint64_t second = now / 1000000000ULL;
	uint64_t gap = st->cfg.challenge_ack_conn_ns;

	/* Per connection first (as Linux's tcp_invalid_ratelimit): it tells
	 * an off-path attacker nothing about other connections. */
	if (gap != 0 && c->chack_last != 0 && now - c->chack_last < gap) {
		RS_TCP_COUNT(st, CHALLENGE_ACKS_LIMITED);
		return;
	}
	if (st->cfg.challenge_ack_limit) {
		if (second != st->chack_second) {
			st->chack_second = second;
			st->chack_count = 0;
		}
		if (st->chack_count >= st->cfg.challenge_ack_limit) {
			RS_TCP_COUNT(st, CHALLENGE_ACKS_LIMITED);
			return;
		}
		st->chack_count++;
	}
	c->chack_last = now != 0 ? now : 1;
	RS_TCP_COUNT(st, CHALLENGE_ACKS);
	rs_tcp_out_ack(c, now, c->snd_nxt);
}

void rs_tcp_out_syn(struct rs_tcp_conn *c, uint64_t now)
{
	const struct rs_tcp_config *cfg = &c->st->cfg;
	struct rs_tcp_seg s;
	bool synack = c->state == RS_TCP_SYN_RECEIVED;
	struct rs_tcp_ts ts = {rs_tcp_ts_now(c, now), 0};
	bool sack = cfg->sack, tson = cfg->timestamps;
	int ws;

	if (synack) {
		seg_of(c, &s, c->iss, RS_TCP_SYN | RS_TCP_ACK);
		ws = c->ws_ok ? c->rcv_wscale : -1;
		sack = c->sack_ok; /* answer only what the peer offered */
		tson = c->ts_ok;
		ts.ecr = c->ts_recent;
	} else {
		seg_of(c, &s, c->iss, RS_TCP_SYN);
		s.window = (uint16_t)RS_TCP_MIN(rs_tcp_rcv_space(c), 0xffffu);
		ws = rs_tcp_wscale_for(rs_tcp_rcv_buf_top(c->st, &c->opts));
	}
	s.opt_len =
	    rs_tcp_opt_build_syn(s.opt, cfg->mss, ws, sack, tson ? &ts : NULL);
	c->ts_last = ts.val;
	emit(c->st, &s);
}

void rs_tcp_out_rst(struct rs_tcp_conn *c)
{
	struct rs_tcp_seg s;

	seg_of(c, &s, c->snd_nxt, RS_TCP_RST | RS_TCP_ACK);
	emit(c->st, &s);
}

void rs_tcp_out_rst_reply(struct rs_tcp_stack *st,
			  const struct rs_tcp_seg_in *in)
{
	struct rs_tcp_seg s;

	if (in->flags & RS_TCP_RST)
		return; /* never answer a RST */
	seg_init(&s);
	s.saddr = in->daddr;
	s.daddr = in->saddr;
	s.sport = in->dport;
	s.dport = in->sport;
	s.window = 0;
	s.conn = NULL;
	if (in->flags & RS_TCP_ACK) {
		s.seq = in->ack;
		s.ack = 0;
		s.flags = RS_TCP_RST;
	} else {
		s.seq = 0;
		s.ack = in->seq + rs_tcp_seg_space(in);
		s.flags = RS_TCP_RST | RS_TCP_ACK;
	}
	emit(st, &s);
}

void rs_tcp_out_synack_cookie(struct rs_tcp_stack *st,
			      const struct rs_tcp_seg_in *in, uint32_t iss,
			      uint16_t window, int ws, bool sack,
			      const struct rs_tcp_ts *ts)
{
	struct rs_tcp_seg s;

	seg_init(&s);
	s.saddr = in->daddr;
	s.daddr = in->saddr;
	s.sport = in->dport;
	s.dport = in->sport;
	s.seq = iss;
	s.ack = in->seq + 1;
	s.flags = RS_TCP_SYN | RS_TCP_ACK;
	s.window = window;
	s.conn = NULL;
	s.opt_len = rs_tcp_opt_build_syn(s.opt, st->cfg.mss, ws, sack, ts);
	emit(st, &s);
}

/* Payload [off, off + len) of the send ring into @p s. */
static void seg_payload(struct rs_tcp_conn *c, struct rs_tcp_seg *s,
			uint64_t off, uint32_t len)
{
	if (len == 0)
		return;
	rs_byte_ring_view_at(c->snd, off, len, &s->payload);
	s->payload_len = len;
}

static void count_data(struct rs_tcp_conn *c, uint32_t seq, uint32_t len,
		       uint64_t now)
{
	RS_TCP_COUNT(c->st, DATA_SEGS_OUT);
	rs_tcp_rack_sent(c, seq, len, now);
	if (rs_tcp_sack_recovery(c))
		c->prr_out += len; /* RFC 6937: sent in recovery */
	if (rs_tcp_sack_recovery(c) && RS_SEQ_LT(seq, c->snd_max) &&
	    c->undo_retrans < UINT16_MAX)
		c->undo_retrans++; /* RFC 3708: a resend to see D-SACKed */
	if (RS_SEQ_LT(seq, c->snd_max)) {
		RS_TCP_COUNT(c->st, RETRANS_SEGS);
		c->rtt_timing = false; /* Karn: no sample from a resend */
	}
}

uint32_t rs_tcp_out_retransmit(struct rs_tcp_conn *c, uint64_t now)
{
	uint32_t outstanding = c->snd_max - c->snd_una;
	uint32_t data =
	    RS_TCP_MIN(outstanding, (uint32_t)rs_byte_ring_count(c->snd));
	uint32_t len = RS_TCP_MIN(data, (uint32_t)c->snd_mss);
	bool fin = len == data && outstanding > data && c->fin_queued;
	struct rs_tcp_seg s;

	if (len == 0 && !fin)
		return 0;
	seg_of(c, &s, c->snd_una, RS_TCP_ACK | (fin ? RS_TCP_FIN : 0));
	seg_payload(c, &s, rs_byte_ring_tail(c->snd), len);
	count_data(c, c->snd_una, len, now);
	acked_now(c);
	emit_conn(c, &s, now);
	return len + fin;
}

uint32_t rs_tcp_out_resend(struct rs_tcp_conn *c, uint64_t now, uint32_t seq,
			   uint32_t len)
{
	uint32_t off = seq - c->snd_una;
	uint32_t data = (uint32_t)rs_byte_ring_count(c->snd);
	struct rs_tcp_seg s;

	if (off >= data)
		return 0; /* only the FIN is there: the timers resend it */
	len = RS_TCP_MIN(RS_TCP_MIN(len, data - off), (uint32_t)c->snd_mss);
	seg_of(c, &s, seq, RS_TCP_ACK);
	seg_payload(c, &s, rs_byte_ring_tail(c->snd) + off, len);
	if (emit_conn(c, &s, now) == -EAGAIN)
		return 0;
	count_data(c, seq, len, now);
	acked_now(c);
	return len;
}

uint32_t rs_tcp_out_tail_probe(struct rs_tcp_conn *c, uint64_t now,
			       uint32_t *seq)
{
	bool fin = c->fin_sent && c->snd_max == rs_tcp_fin_seq(c) + 1;
	uint32_t data = RS_TCP_MIN(c->snd_max - c->snd_una - fin,
				   (uint32_t)rs_byte_ring_count(c->snd));
	uint32_t len = RS_TCP_MIN(data, (uint32_t)c->snd_mss);
	struct rs_tcp_seg s;

	if (len == 0 && !fin)
		return 0;
	*seq = c->snd_una + data - len;
	/* The tail, as it went: pushed. */
	seg_of(c, &s, *seq,
	       RS_TCP_ACK | (fin ? RS_TCP_FIN : 0) | (len ? RS_TCP_PSH : 0));
	seg_payload(c, &s, rs_byte_ring_tail(c->snd) + (data - len), len);
	if (emit_conn(c, &s, now) == -EAGAIN)
		return 0;
	count_data(c, *seq, len, now);
	acked_now(c);
	return len + fin;
}

void rs_tcp_out_probe(struct rs_tcp_conn *c, uint64_t now)
{
	struct rs_tcp_seg s;

	if (rs_byte_ring_count(c->snd) == 0)
		return;
	seg_of(c, &s, c->snd_una, RS_TCP_ACK);
	seg_payload(c, &s, rs_byte_ring_tail(c->snd), 1);
	/* Beyond the window: if the peer takes it, its ACK is legal. */
	c->snd_max = RS_SEQ_MAX(c->snd_max, c->snd_una + 1);
	RS_TCP_COUNT(c->st, ZWP_SENT);
	acked_now(c);
	emit_conn(c, &s, now);
}

static bool data_state(enum rs_tcp_state s)
{
	return s == RS_TCP_ESTABLISHED || s == RS_TCP_CLOSE_WAIT ||
	       s == RS_TCP_FIN_WAIT_1 || s == RS_TCP_LAST_ACK;
}

static bool fin_state(enum rs_tcp_state s)
{
	return s == RS_TCP_FIN_WAIT_1 || s == RS_TCP_LAST_ACK ||
	       s == RS_TCP_CLOSING;
}

/* Nagle and sender SWS avoidance for a segment of @p len < snd_mss. */
static bool short_ok(const struct rs_tcp_conn *c, uint32_t len,
		     uint32_t pending)
{
	bool idle = c->snd_nxt == c->snd_una;

	if (c->force)
		return true;
	if (len == pending && (idle || c->opts.nodelay))
		return true;
	return c->max_snd_wnd > 0 && len >= c->max_snd_wnd / 2 &&
	       (idle || c->opts.nodelay);
}

/* Room for new data: the peer's window less what is in flight, and
 * cwnd less the same -- or, in SACK recovery, less RFC 6675's pipe. */
static uint32_t send_room(const struct rs_tcp_conn *c)
{
	uint32_t flight = rs_tcp_flight(c);
	uint32_t used = rs_tcp_sack_recovery(c) ? rs_tcp_sack_pipe(c) : flight;
	uint32_t rwnd = c->snd_wnd > flight ? c->snd_wnd - flight : 0;

	return RS_TCP_MIN(rwnd, c->cwnd > used ? c->cwnd - used : 0);
}

/* The most payload one segment may carry: an MSS, or with TSO as many
 * whole MSS as tso_max holds. */
static uint32_t seg_max(const struct rs_tcp_conn *c)
{
	uint32_t mss = c->snd_mss, tso = c->st->cfg.tso_max;

	return tso > mss ? tso - tso % mss : mss;
}

/* A TSO segment's last piece is short: it goes with the rest only when
 * it could go alone (Nagle, the burst counted as one), else whole MSS. */
static uint32_t tso_trim(const struct rs_tcp_conn *c, uint32_t len,
			 uint32_t pending)
{
	uint32_t tail = len % c->snd_mss;

	if (len <= c->snd_mss || tail == 0 ||
	    (len == pending && short_ok(c, tail, tail)))
		return len;
	return len - tail;
}

/* Pacing ([tcp] pacing): new data goes at cwnd / SRTT times 2 in slow
 * start (below half ssthresh) and 1.2 after (Linux's ratios), so a
 * window the ACK clock would release at once -- slow start's doubling, a
 * jump of cwnd, the end of a recovery -- spreads over the round trip
 * instead of filling a queue on the path.  Each send moves pace_next
 * on by len / rate, from no earlier than a tick ago: a tick's worth may
 * go at once (TSO keeps its 64 KiB pieces) and the wheel's resolution
 * costs no rate.  Resends (RFC 6675, PRR-limited) are not held.  Only a
 * flow cwnd limits is paced (cwnd_full): one the application keeps
 * below cwnd sends what it is given -- a request/response flow's SRTT
 * carries the peer's think time and delayed ACKs, and a rate drawn from
 * it would throttle replies far below what the path and the ACK clock
 * allow (perf/run recv-batch: 2M entries/s to 5k, seen). */
static bool pace_hold(struct rs_tcp_conn *c, uint64_t now)
{
	if (!c->st->cfg.pacing || c->srtt == 0 || !c->cwnd_full ||
	    now >= c->pace_next)
		return false;
	RS_TCP_COUNT(c->st, PACED);
	rs_tcp_wheel_add(&c->st->wheel, &c->t[RS_TCP_T_PACE], now,
			 c->pace_next);
	return true;
}

static void pace_sent(struct rs_tcp_conn *c, uint64_t now, uint32_t len)
{
	uint64_t tick = c->st->cfg.tick_ns, from;
	/* as Linux: below half ssthresh the next round doubles cwnd; nearer,
	 * slow start ends within it -- and in recovery cwnd sits at or below
	 * ssthresh without growing */
	bool ss = c->cwnd < c->ssthresh / 2;

	if (!c->st->cfg.pacing || c->srtt == 0 || !c->cwnd_full)
		return;
	from = RS_TCP_MAX(c->pace_next, now > tick ? now - tick : 0);
	/* len / (cwnd / srtt * 2 or 1.2) */
	c->pace_next = from + (uint64_t)len * c->srtt * (ss ? 1 : 5) /
				  ((uint64_t)c->cwnd * (ss ? 2 : 6));
}

/* Send one segment if the rules allow.  @return true if one went. */
static bool send_one(struct rs_tcp_conn *c, uint64_t now)
{
	uint32_t pending = (uint32_t)rs_byte_ring_pending(c->snd);
	uint32_t avail = send_room(c);
	uint32_t len = tso_trim(
	    c, RS_TCP_MIN(RS_TCP_MIN(pending, avail), seg_max(c)), pending);
	bool fin = c->fin_queued && !c->fin_sent && len == pending &&
		   fin_state(c->state);
	uint8_t flags = RS_TCP_ACK;
	struct rs_tcp_seg s;

	if (!data_state(c->state))
		len = 0;
	if (len == 0 && !fin)
		return false;
	if (len > 0 && len < c->snd_mss && !fin && !short_ok(c, len, pending))
		return false;
	if (len > 0 && pace_hold(c, now))
		return false;
	if (len > 0 && len == pending)
		flags |= RS_TCP_PSH;
	if (fin)
		flags |= RS_TCP_FIN;
	seg_of(c, &s, c->snd_nxt, flags);
	seg_payload(c, &s, rs_byte_ring_mark(c->snd), len);
	if (len > c->snd_mss)
		s.tso_segsz = c->snd_mss;
	if (emit_conn(c, &s, now) == -EAGAIN) {
		/* Held back, not lost: nothing moves, resume sends it. */
		rs_tcp_out_block(c);
		return false;
	}
	if (len) {
		count_data(c, c->snd_nxt, len, now);
		pace_sent(c, now, len);
	}
	if (s.tso_segsz != 0)
		RS_TCP_COUNT(c->st, TSO_SEGS_OUT);
	if (!c->rtt_timing && c->snd_nxt == c->snd_max) {
		c->rtt_timing = true;
		c->rtt_seq = c->snd_nxt;
		c->rtt_start = now;
	}
	acked_now(c);
	rs_byte_ring_advance_mark(c->snd, len);
	c->snd_nxt += len + fin;
	c->fin_sent = c->fin_sent || fin;
	c->snd_max = RS_SEQ_MAX(c->snd_max, c->snd_nxt);
	if (!rs_tcp_timer_armed(&c->t[RS_TCP_T_RTX]))
		rs_tcp_timer_rtx_restart(c, now);
	if (len) {
		rs_tcp_timer_stop(c, RS_TCP_T_PERSIST);
		c->persist_shift = 0;
	}
	return true;
}

/* After sending: whether cwnd limited this send -- the flight filled it,
 * data waits that it has no room for, or data waits for the pacer (a
 * window being spread over the round trip, not an application keeping
 * it short) -- kept until a window of data is acked (usage_seq), with
 * the largest flight meanwhile, for cc_grow() (as Linux's
 * tcp_cwnd_validate()) and pace_hold(). */
static void cwnd_validate(struct rs_tcp_conn *c)
{
	uint32_t flight = rs_tcp_flight(c);
	uint32_t used = rs_tcp_sack_recovery(c) ? rs_tcp_sack_pipe(c) : flight;
	uint32_t pending = (uint32_t)rs_byte_ring_pending(c->snd);
	uint32_t room = c->cwnd > used ? c->cwnd - used : 0;
	bool full =
	    used >= c->cwnd ||
	    (pending > 0 && (room < RS_TCP_MIN(pending, (uint32_t)c->snd_mss) ||
			     rs_tcp_timer_armed(&c->t[RS_TCP_T_PACE])));

	if (!RS_SEQ_LT(c->snd_una, c->usage_seq) || full ||
	    (!c->cwnd_full && flight > c->max_flight)) {
		c->cwnd_full = full;
		c->max_flight = flight;
		c->usage_seq = c->snd_nxt;
	}
}

void rs_tcp_out_push(struct rs_tcp_conn *c, uint64_t now)
{
	uint32_t max0 = c->snd_max;
	bool sent = false;

	if (c->snd != NULL && (data_state(c->state) || fin_state(c->state))) {
		while (send_one(c, now))
			sent = true;
		cwnd_validate(c);
	}
	if (c->snd_max != max0) /* new data: the probe timeout restarts */
		rs_tcp_tlp_arm(c, now);
	if (!sent && c->ack_now && rs_tcp_synchronized(c->state) &&
	    rs_tcp_list_empty(&c->blink))
		rs_tcp_out_ack(c, now, c->snd_nxt);
	rs_tcp_timer_persist_check(c, now);
}

void rs_tcp_out_window_update(struct rs_tcp_conn *c, uint64_t now)
{
	uint32_t space, cap, thresh, edge;

	if (c->peer_fin ||
	    (c->state != RS_TCP_ESTABLISHED && c->state != RS_TCP_FIN_WAIT_1 &&
	     c->state != RS_TCP_FIN_WAIT_2))
		return;
	space = rs_tcp_rcv_space(c);
	cap = (uint32_t)rs_byte_ring_capacity(c->rcv);
	thresh = RS_TCP_MIN(cap / 2, (uint32_t)c->rcv_mss);
	edge = c->rcv_nxt + space;
	if (RS_SEQ_LT(edge, c->rcv_adv) || edge - c->rcv_adv < thresh)
		return;
	RS_TCP_COUNT(c->st, WINDOW_UPDATES);
	rs_tcp_out_ack(c, now, c->snd_nxt);
}
