/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection timers.  Each connection has six, all on the stack's wheel
 * (wheel.c), each armed at most once:
 *
 *   RTX      Retransmission (RFC 6298).  Runs while SYN, SYN-ACK, data or
 *            FIN is unacknowledged.  Started when such a segment is sent
 *            and the timer is idle; restarted when an ACK acknowledges new
 *            data (and only then: an ACK that does not move snd_una leaves
 *            it alone); stopped when everything is acknowledged.  On
 *            expiry: back off (RTO doubles, up to rto_max), collapse cwnd
 *            (RFC 5681 §3.1), forget the SACK scoreboard (RFC 6675
 *            §5.1), go back to snd_una and resend; after
 *            max_retries (max_syn_retries for the handshake) the
 *            connection fails with ETIMEDOUT (or with the ICMP soft
 *            error it last got, tcp_icmp.c).  With a zero send window
 *            it hands over to PERSIST instead (RFC 9293 §3.8.6.1).
 *            Tail Loss Probe (RFC 8985 §7, [tlp] on SACK connections):
 *            while data is in flight and no probe is out, the timer is
 *            armed as the probe timeout instead whenever that comes
 *            first -- PTO = 2 SRTT (at least 10 ms; 1 s before a
 *            sample), + 200 ms (the peer's worst delayed ACK) when one
 *            segment is in flight -- restarted when new data goes or an
 *            ACK acknowledges new data.  On expiry it resends the last
 *            segment sent (the probe) and is armed as the RTO.  The
 *            probe's ACK decides (tcp_cc.c): holes below it are lost,
 *            or the probe alone repaired a loss, or it was needless.
 *   PERSIST  Zero-window probing (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17).
 *            Armed when data waits, nothing is in flight and RTX is idle;
 *            sends one byte beyond the window (or, if the window is
 *            open but too small for the sender SWS rule, what fits),
 *            backing off from RTO to rto_max.  The connection is kept for
 *            as long as the peer answers; max_retries unanswered probes
 *            fail it with ETIMEDOUT.
 *   DELACK   Delayed ACK (RFC 1122 §4.2.3.2, RFC 5681 §4.2): in-order
 *            data not yet acknowledged is acknowledged after delack_ns;
 *            any segment we send with the ACK cancels it.
 *   KEEP     Keepalive (RFC 1122 §4.2.3.6).  Lazily re-armed: on expiry
 *            it checks when a segment last arrived.  After keep_idle of
 *            silence it sends a probe (seq snd_una - 1, no data) every
 *            keep_intvl; keep_cnt unanswered probes fail the connection
 *            with ETIMEDOUT.  Only in ESTABLISHED / CLOSE-WAIT /
 *            FIN-WAIT-2 with nothing in flight.
 *   PACE     Pacing (tcp_out.c): armed when new data is held back until
 *            its time; sends what is due.
 *   CLOSE    The end of a connection: in TIME-WAIT, 2*MSL (time_wait_ns)
 *            and then CLOSED (restarted by a FIN; a new active open may
 *            end it sooner, tcp_conn.c); for an orphan (closed by the
 *            application) in FIN-WAIT-2, fin_wait2_ns and then freed;
 *            for an orphan with linger > 0, the linger time, then RST.
 */

#include "tcp_pvt.h"

/* RFC 6298 §5.7: after a lost SYN, data starts with an RTO of 3 s. */
#define RTO_AFTER_SYN_LOSS 3000000000ULL

void rs_tcp_timer_set(struct rs_tcp_conn *c, enum tcp_timer_kind k,
		      uint64_t now, uint64_t delay)
{
	rs_tcp_wheel_add(&c->st->wheel, &c->t[k], now, now + delay);
}

void rs_tcp_timer_stop(struct rs_tcp_conn *c, enum tcp_timer_kind k)
{
	rs_tcp_wheel_del(&c->st->wheel, &c->t[k]);
}

void rs_tcp_timer_rtx_restart(struct rs_tcp_conn *c, uint64_t now)
{
	c->rtx_as = RS_TCP_RTX_AS_RTO;
	rs_tcp_timer_set(c, RS_TCP_T_RTX, now, c->rto);
}

/* Arm the RTX timer as @p as, @p delay from now. */
static void rtx_arm_as(struct rs_tcp_conn *c, uint8_t as, uint64_t now,
		       uint64_t delay)
{
	c->rtx_as = as;
	rs_tcp_timer_set(c, RS_TCP_T_RTX, now, delay);
}

/* When the RTX timer fires if it is armed as @p as; UINT64_MAX if not. */
static uint64_t rtx_due_as(const struct rs_tcp_conn *c, uint8_t as)
{
	const struct rs_tcp_timer *t = &c->t[RS_TCP_T_RTX];

	return rs_tcp_timer_armed(t) && c->rtx_as == as
		   ? t->expires * c->st->wheel.tick_ns
		   : UINT64_MAX;
}

static bool data_state(enum rs_tcp_state s)
{
	return s == RS_TCP_ESTABLISHED || s == RS_TCP_CLOSE_WAIT ||
	       s == RS_TCP_FIN_WAIT_1 || s == RS_TCP_LAST_ACK;
}

/* RFC 8985 §7.2: WCDelAckT, the worst delayed ACK the peer may make. */
#define TLP_DELACK_NS 200000000ULL
/* Before an RTT sample. */
#define TLP_PTO_NO_RTT_NS 1000000000ULL
/* At least (Linux's floor): on a short path, ACKs held back by the
 * scheduling of either end would make needless probes, and a probe the
 * late ACK shows "repaired" costs a cwnd reduction. */
#define TLP_PTO_MIN_NS 10000000ULL

void rs_tcp_tlp_arm(struct rs_tcp_conn *c, uint64_t now)
{
	uint64_t pto, rto_at;

	if (!c->st->cfg.tlp || !c->sack_ok || c->in_recovery || c->tlp_out ||
	    !data_state(c->state) || c->snd_una == c->snd_max ||
	    c->snd_wnd == 0 || rtx_due_as(c, RS_TCP_RTX_AS_REO) != UINT64_MAX)
		return; /* the reordering timer comes first */
	pto = c->srtt != 0 ? RS_TCP_MAX(2 * c->srtt, TLP_PTO_MIN_NS)
			   : TLP_PTO_NO_RTT_NS;
	if (c->snd_max - c->snd_una <= c->snd_mss)
		pto += TLP_DELACK_NS;
	rto_at = rtx_due_as(c, RS_TCP_RTX_AS_RTO);
	if (rto_at == UINT64_MAX) /* a probe timeout, or nothing: afresh */
		rto_at = now + c->rto;
	if (now + pto >= rto_at) { /* the RTO comes first */
		if (rtx_due_as(c, RS_TCP_RTX_AS_RTO) == UINT64_MAX)
			rs_tcp_timer_rtx_restart(c, now);
		return;
	}
	rtx_arm_as(c, RS_TCP_RTX_AS_PTO, now, pto);
}

void rs_tcp_rack_arm(struct rs_tcp_conn *c, uint64_t now, uint64_t timeout)
{
	const struct rs_tcp_timer *t = &c->t[RS_TCP_T_RTX];

	if (c->rtx_as != RS_TCP_RTX_AS_REO && rs_tcp_timer_armed(t) &&
	    t->expires * c->st->wheel.tick_ns <= now + timeout)
		return; /* it fires first anyway: RACK detects then too */
	rtx_arm_as(c, RS_TCP_RTX_AS_REO, now, timeout);
}

static uint64_t persist_delay(const struct rs_tcp_conn *c)
{
	const struct rs_tcp_config *cfg = &c->st->cfg;
	uint64_t d = c->rto;

	for (uint32_t i = 0; i < c->persist_shift && d < cfg->rto_max_ns; i++)
		d <<= 1;
	return RS_TCP_MIN(RS_TCP_MAX(d, cfg->rto_min_ns), cfg->rto_max_ns);
}

void rs_tcp_timer_persist_check(struct rs_tcp_conn *c, uint64_t now)
{
	if (!data_state(c->state) || c->snd == NULL ||
	    rs_byte_ring_pending(c->snd) == 0 || c->snd_nxt != c->snd_una ||
	    rs_tcp_timer_armed(&c->t[RS_TCP_T_RTX]) ||
	    rs_tcp_timer_armed(&c->t[RS_TCP_T_PERSIST]))
		return;
	rs_tcp_timer_set(c, RS_TCP_T_PERSIST, now, persist_delay(c));
}

void rs_tcp_timer_keep_check(struct rs_tcp_conn *c, uint64_t now)
{
	if (!c->opts.keepalive) {
		rs_tcp_timer_stop(c, RS_TCP_T_KEEP);
		return;
	}
	c->keep_probes = 0;
	rs_tcp_wheel_add(&c->st->wheel, &c->t[RS_TCP_T_KEEP], now,
			 c->last_rcv + c->opts.keep_idle_ns);
}

void rs_tcp_time_wait_restart(struct rs_tcp_conn *c, uint64_t now)
{
	c->tw_since = now;
	rs_tcp_timer_set(c, RS_TCP_T_CLOSE, now, c->st->cfg.time_wait_ns);
	rs_tcp_tw_queue(c); /* to the tail: the list stays in expiry order */
}

void rs_tcp_enter_time_wait(struct rs_tcp_conn *c, uint64_t now)
{
	tcp_state_set(c, RS_TCP_TIME_WAIT);
	for (unsigned k = 0; k < RS_TCP_T_KINDS; k++)
		rs_tcp_timer_stop(c, (enum tcp_timer_kind)k);
	rs_tcp_time_wait_restart(c, now);
}

/* RFC 1122 §4.2.3.9: a soft error is what the application hears when
 * the connection then gives up. */
void rs_tcp_timed_out(struct rs_tcp_conn *c, int err)
{
	RS_TCP_COUNT(c->st, TIMEOUTS);
	rs_tcp_conn_closed(c, err != 0 && c->soft_error != 0 ? c->soft_error
							     : err);
}

/* SYN or SYN-ACK unanswered. */
static void rtx_handshake(struct rs_tcp_conn *c, uint64_t now)
{
	const struct rs_tcp_config *cfg = &c->st->cfg;

	if (++c->retries > cfg->max_syn_retries) {
		rs_tcp_timed_out(c, c->passive ? 0 : ETIMEDOUT);
		return;
	}
	c->rto = RS_TCP_MIN(c->rto * 2, cfg->rto_max_ns);
	c->rtt_timing = false; /* Karn */
	RS_TCP_COUNT(c->st, RETRANS_SEGS);
	rs_tcp_out_syn(c, now);
	rs_tcp_timer_rtx_restart(c, now);
}

void rs_tcp_go_back(struct rs_tcp_conn *c)
{
	c->snd_nxt = c->snd_una;
	rs_byte_ring_set_mark(c->snd, rs_byte_ring_tail(c->snd));
	if (!c->fin_acked)
		c->fin_sent = false;
}

static void rtx_data(struct rs_tcp_conn *c, uint64_t now)
{
	const struct rs_tcp_config *cfg = &c->st->cfg;

	if (c->snd_una == c->snd_max)
		return;
	if (c->snd_wnd == 0 && rs_byte_ring_count(c->snd) > 0) {
		/* Shrunk to zero: probe, do not count towards failure. */
		rs_tcp_go_back(c);
		rs_tcp_timer_persist_check(c, now);
		return;
	}
	if (++c->retries > cfg->max_retries) {
		rs_tcp_timed_out(c, ETIMEDOUT);
		return;
	}
	RS_TCP_COUNT(c->st, RTO_FIRED);
	rs_tcp_cc_on_rto(c);
	c->rto = RS_TCP_MIN(c->rto * 2, cfg->rto_max_ns);
	c->rtt_timing = false; /* Karn */
	rs_tcp_go_back(c);
	rs_tcp_out_push(c, now); /* one segment: cwnd is 1 SMSS */
	if (!rs_tcp_timer_armed(&c->t[RS_TCP_T_RTX]))
		rs_tcp_timer_rtx_restart(c, now);
}

/* The probe timeout: resend the last segment, then wait for the RTO.  The
 * probe is not counted towards the connection's failure.  A probe
 * timeout that finds a recovery begun (by duplicate ACKs, which do not
 * restart the timer) or the connection past its data states sends no
 * probe: the RTO takes over. */
static void fire_pto(struct rs_tcp_conn *c, uint64_t now)
{
	uint32_t seq, sent = 0;

	if (c->snd_una == c->snd_max)
		return;
	if (!c->in_recovery && data_state(c->state))
		sent = rs_tcp_out_tail_probe(c, now, &seq);
	if (sent != 0) {
		RS_TCP_COUNT(c->st, TLP_PROBES);
		c->tlp_out = true;
		c->tlp_seq = seq;
		c->tlp_end = c->snd_max;
	}
	rs_tcp_timer_rtx_restart(c, now);
}

/* The reordering timer: RACK's verdicts that fell due; then the RTO (or
 * the probe timeout) as before, unless RACK waits on more. */
static void fire_reo(struct rs_tcp_conn *c, uint64_t now)
{
	RS_TCP_COUNT(c->st, RACK_REO_TIMEOUTS);
	if (c->snd_una == c->snd_max)
		return;
	rs_tcp_rack_timeout(c, now);
	rs_tcp_out_push(c, now);
	if (!rs_tcp_timer_armed(&c->t[RS_TCP_T_RTX])) {
		rs_tcp_timer_rtx_restart(c, now);
		rs_tcp_tlp_arm(c, now);
	}
}

static void fire_rtx(struct rs_tcp_conn *c, uint64_t now)
{
	uint8_t as = c->rtx_as;

	c->rtx_as = RS_TCP_RTX_AS_RTO; /* unless re-armed as another */
	if (as == RS_TCP_RTX_AS_REO) {
		fire_reo(c, now);
		return;
	}
	if (as == RS_TCP_RTX_AS_PTO) {
		fire_pto(c, now);
		return;
	}
	if (c->state == RS_TCP_SYN_SENT || c->state == RS_TCP_SYN_RECEIVED)
		rtx_handshake(c, now);
	else if (c->state != RS_TCP_TIME_WAIT && c->state != RS_TCP_CLOSED)
		rtx_data(c, now);
}

static void fire_persist(struct rs_tcp_conn *c, uint64_t now)
{
	if (!data_state(c->state) || rs_byte_ring_pending(c->snd) == 0)
		return;
	if (c->snd_wnd > 0) {
		c->force = true; /* what fits, despite the SWS rule */
		rs_tcp_out_push(c, now);
		c->force = false;
		return;
	}
	if (++c->probes > c->st->cfg.max_retries) {
		rs_tcp_timed_out(c, ETIMEDOUT);
		return;
	}
	rs_tcp_out_probe(c, now);
	c->persist_shift++;
	rs_tcp_timer_set(c, RS_TCP_T_PERSIST, now, persist_delay(c));
}

static void fire_delack(struct rs_tcp_conn *c, uint64_t now)
{
	if (!rs_tcp_synchronized(c->state) || c->state == RS_TCP_TIME_WAIT)
		return;
	if (c->rcv_unacked == 0 && !c->ack_now)
		return;
	RS_TCP_COUNT(c->st, DELACK_SENT);
	rs_tcp_out_ack(c, now, c->snd_nxt);
}

static bool keep_state(const struct rs_tcp_conn *c)
{
	return c->state == RS_TCP_ESTABLISHED ||
	       c->state == RS_TCP_CLOSE_WAIT || c->state == RS_TCP_FIN_WAIT_2;
}

static void fire_keep(struct rs_tcp_conn *c, uint64_t now)
{
	const struct rs_tcp_sockopts *o = &c->opts;
	bool heard = c->keep_probes ? c->last_rcv > c->keep_sent
				    : now < c->last_rcv + o->keep_idle_ns;

	if (!o->keepalive || !keep_state(c))
		return;
	if (heard) {
		c->keep_probes = 0;
		rs_tcp_wheel_add(&c->st->wheel, &c->t[RS_TCP_T_KEEP], now,
				 c->last_rcv + o->keep_idle_ns);
		return;
	}
	if (c->snd_una != c->snd_max || rs_byte_ring_pending(c->snd) > 0) {
		/* Data in flight or waiting: RTX / PERSIST watch the peer. */
		rs_tcp_timer_set(c, RS_TCP_T_KEEP, now, o->keep_idle_ns);
		return;
	}
	if (c->keep_probes >= o->keep_cnt) {
		rs_tcp_timed_out(c, ETIMEDOUT);
		return;
	}
	RS_TCP_COUNT(c->st, KEEPALIVE_SENT);
	rs_tcp_out_ack(c, now, c->snd_una - 1);
	c->keep_probes++;
	c->keep_sent = now;
	rs_tcp_timer_set(c, RS_TCP_T_KEEP, now, o->keep_intvl_ns);
}

static void fire_close(struct rs_tcp_conn *c, uint64_t now)
{
	(void)now;
	if (c->state == RS_TCP_TIME_WAIT) {
		rs_tcp_conn_closed(c, 0);
		return;
	}
	if (!c->orphan || c->state == RS_TCP_CLOSED)
		return;
	if (!(c->state == RS_TCP_FIN_WAIT_2 && c->opts.linger_ns < 0))
		rs_tcp_out_rst(c); /* linger ran out */
	rs_tcp_conn_closed(c, 0);
}

void rs_tcp_timer_fire(void *ctx, struct rs_tcp_timer *t)
{
	struct rs_tcp_stack *st = ctx;
	struct rs_tcp_conn *c =
	    RS_TCP_CONTAINER_OF(t - t->kind, struct rs_tcp_conn, t[0]);
	uint64_t now = st->run_now;

	switch ((enum tcp_timer_kind)t->kind) {
	case RS_TCP_T_RTX:
		fire_rtx(c, now);
		break;
	case RS_TCP_T_PERSIST:
		fire_persist(c, now);
		break;
	case RS_TCP_T_DELACK:
		fire_delack(c, now);
		break;
	case RS_TCP_T_KEEP:
		fire_keep(c, now);
		break;
	case RS_TCP_T_PACE: /* pacing: the held data's time has come */
		rs_tcp_out_push(c, now);
		break;
	default:
		fire_close(c, now);
		break;
	}
	rs_tcp_conn_finish(c);
}
