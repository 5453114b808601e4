/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ACK field of a segment in a synchronized state (RFC 9293
 * §3.10.7.4, fifth step), and what hangs on it:
 *
 *   - acceptability (RFC 5961 §5): SND.UNA - MAX.SND.WND <= SEG.ACK <=
 *     SND.NXT (snd_max here: the highest we ever sent), else ACK / drop;
 *   - the send window update guarded by SND.WL1/SND.WL2 (RFC 9293);
 *   - snd_una moves, acknowledged bytes leave the send ring;
 *   - RTT sampling with one timed segment and Karn's rule, RTO per
 *     RFC 6298 §2 (G = the timer tick), clamped to [rto_min, rto_max];
 *   - the retransmission timer restarted only when snd_una moves (§5.3);
 *   - congestion control, RFC 5681: initial window (§3.1), slow start
 *     (by the bytes an ACK acknowledges, at most 8 segments: RFC 3465's
 *     L as RFC 9406 sets it, where §3.1 has one) and congestion
 *     avoidance, duplicate ACKs (§2 definition), fast
 *     retransmit on the third; NewReno recovery (RFC 6582 §3.2): partial
 *     ACKs retransmit the next hole and deflate cwnd, a full ACK ends
 *     recovery with cwnd = min(ssthresh, FlightSize + SMSS);
 *   - with cfg.cc CUBIC (RFC 9438, tcp_cubic.c): ssthresh on loss and
 *     on RTO is cwnd * 0.7 and congestion avoidance follows W_cubic /
 *     W_est instead of one SMSS per RTT; recovery is the same;
 *   - with SACK (tcp_sack.c), RFC 6675 recovery instead: entered on the
 *     third duplicate ACK or when the scoreboard shows the first hole
 *     lost, the first hole resent at once, then holes resent against
 *     pipe, with cwnd set on each ACK by RFC 6937's Proportional Rate
 *     Reduction (PRR-SSRB): what goes out follows what the ACKs say left
 *     the network, ssthresh/RecoverFS of it while pipe is above
 *     ssthresh, then catching up to ssthresh no faster than slow start
 *     -- no half-window silence, no burst; a partial ACK resends the new
 *     first hole if it was never resent and SACKed data lies above it;
 *     the same full-ACK exit;
 *   - RTT from timestamps when they are on (tcp_ts.c);
 *   - with timestamps, a fast retransmit the first ACK shows spurious
 *     (RFC 3522: its TSecr is older than the retransmission) is undone
 *     (RFC 4015: cwnd and ssthresh as before; CUBIC's W_max, K and
 *     epoch too, RFC 9438 §4.9) and DupThresh doubles, up
 *     to 64 and to 2/3 of cwnd in segments (tcp_pvt.h), so that a path
 *     that reorders stops costing halvings of cwnd.
 */

#include "tcp_pvt.h"

#define SSTHRESH_INIT (1u << 30)

/* RFC 9406 §4.3's constants: RTT samples a round needs, the bounds of
 * the delay increase that ends slow start (1/8 of the last round's
 * minimum, within 4..16 ms), conservative slow start's growth divisor
 * and its rounds before congestion avoidance. */
#define HS_N_RTT_SAMPLE 8
/* Slow start grows by what an ACK acknowledges, at most this many
 * segments (RFC 3465's L; RFC 9406 §4.2: 8 for a sender that does not
 * pace).  RFC 5681's one segment per ACK held a flow whose ACKs come
 * late and each acknowledge many segments -- a path that reorders,
 * stretch ACKs -- to a fraction of the window's growth (a reordered 50 ms
 * path: 104 Mbit/s, 235 with 8, Linux 255 with no bound). */
#define SS_L 8
#define HS_MIN_RTT_THRESH (4 * 1000000ull)
#define HS_MAX_RTT_THRESH (16 * 1000000ull)
#define HS_MIN_RTT_DIVISOR 8
#define HS_CSS_GROWTH_DIVISOR 4
#define HS_CSS_ROUNDS 5

void rs_tcp_cc_init(struct rs_tcp_conn *c)
{
	uint32_t mss = c->snd_mss, iw = c->st->cfg.init_cwnd;

	if (iw)
		c->cwnd = iw * mss;
	else if (mss > 2190)
		c->cwnd = 2 * mss;
	else if (mss > 1095)
		c->cwnd = 3 * mss;
	else
		c->cwnd = 4 * mss;
	c->ssthresh = SSTHRESH_INIT;
	c->recover = c->iss;
	c->in_recovery = false;
	c->dupacks = 0;
	rs_tcp_cubic_init(c);
	c->hs_phase = c->st->cfg.hystart ? RS_TCP_HS_SS : RS_TCP_HS_OFF;
	c->hs_end = c->snd_max; /* the first ACK of data starts a round */
	c->hs_min = c->hs_last_min = UINT64_MAX;
	c->hs_samples = c->hs_css_rounds = 0;
}

/* HyStart++ (RFC 9406), in the initial slow start only: rounds of one
 * window each (a round ends when snd_una passes what was sent when it
 * began); the least RTT of each round, from at least 8 samples.  When a
 * round's least RTT exceeds the last round's by an eighth (4..16 ms) a
 * queue is filling: conservative slow start (CSS) grows a quarter as
 * fast; an RTT back below where CSS began says the rise was noise (back
 * to slow start); five CSS rounds end slow start (ssthresh = cwnd).  A
 * loss ends it as always (rs_tcp_cc_on_rto(), fast_retransmit()). */
static void hystart_rtt(struct rs_tcp_conn *c, uint64_t rtt)
{
	uint64_t thresh;

	if (c->hs_phase == RS_TCP_HS_OFF)
		return;
	c->hs_min = RS_TCP_MIN(c->hs_min, rtt);
	if (c->hs_samples < UINT8_MAX)
		c->hs_samples++;
	if (c->hs_samples < HS_N_RTT_SAMPLE || c->hs_last_min == UINT64_MAX)
		return;
	if (c->hs_phase == RS_TCP_HS_SS) {
		thresh =
		    RS_TCP_MIN(RS_TCP_MAX(c->hs_last_min / HS_MIN_RTT_DIVISOR,
					  HS_MIN_RTT_THRESH),
			       HS_MAX_RTT_THRESH);
		if (c->hs_min >= c->hs_last_min + thresh) {
			RS_TCP_COUNT(c->st, HYSTART_CSS);
			c->hs_css_base = c->hs_min;
			c->hs_css_rounds = 0;
			c->hs_phase = RS_TCP_HS_CSS;
		}
	} else if (c->hs_min < c->hs_css_base) {
		RS_TCP_COUNT(c->st, HYSTART_CSS_UNDONE);
		c->hs_phase = RS_TCP_HS_SS;
	}
}

/* An ACK in slow start: a round that ended starts the next; the last of
 * CSS's rounds ends slow start. */
static void hystart_round(struct rs_tcp_conn *c)
{
	if (c->hs_phase == RS_TCP_HS_OFF || RS_SEQ_LT(c->snd_una, c->hs_end))
		return;
	if (c->hs_phase == RS_TCP_HS_CSS &&
	    ++c->hs_css_rounds >= HS_CSS_ROUNDS) {
		RS_TCP_COUNT(c->st, HYSTART_CA);
		c->ssthresh = c->cwnd;
		c->hs_phase = RS_TCP_HS_OFF;
		return;
	}
	c->hs_last_min = c->hs_min;
	c->hs_min = UINT64_MAX;
	c->hs_samples = 0;
	c->hs_end = c->snd_max;
}

void rs_tcp_rtt_sample(struct rs_tcp_conn *c, uint64_t rtt)
{
	const struct rs_tcp_config *cfg = &c->st->cfg;
	uint64_t g = cfg->tick_ns, rto;

	rtt = RS_TCP_MAX(rtt, 1);
	if (c->srtt == 0) {
		c->srtt = rtt;
		c->rttvar = rtt / 2;
	} else {
		uint64_t d = c->srtt > rtt ? c->srtt - rtt : rtt - c->srtt;

		c->rttvar = (3 * c->rttvar + d) / 4;
		c->srtt = (7 * c->srtt + rtt) / 8;
	}
	rto = c->srtt + RS_TCP_MAX(g, 4 * c->rttvar);
	c->rto = RS_TCP_MIN(RS_TCP_MAX(rto, cfg->rto_min_ns), cfg->rto_max_ns);
	hystart_rtt(c, rtt);
}

/* RFC 5681 eq. (4): half the flight, at least two segments. */
static uint32_t half_flight(const struct rs_tcp_conn *c)
{
	uint32_t flight = c->snd_max - c->snd_una;

	return RS_TCP_MAX(flight / 2, 2u * c->snd_mss);
}

static bool cubic(const struct rs_tcp_conn *c)
{
	return c->st->cfg.cc == RS_TCP_CC_CUBIC;
}

void rs_tcp_cc_on_rto(struct rs_tcp_conn *c)
{
	/* Not again when the retransmission is lost too (RFC 5681 §3.1). */
	if (c->retries == 1)
		c->ssthresh = cubic(c) ? rs_tcp_cubic_rto(c) : half_flight(c);
	c->hs_phase = RS_TCP_HS_OFF; /* RFC 9406 §4.3: not after an RTO */
	c->cwnd = c->snd_mss;	     /* loss window: 1 SMSS */
	c->in_recovery = false;
	c->dupacks = 0;
	c->recover = c->snd_max; /* RFC 6582 §3.2 step 7 */
	c->undo_ok = false;
	c->dsack_undo = false;
	c->n_sb = 0; /* RFC 6675 §5.1: the peer may renege */
	c->high_rxt = c->snd_una;
	c->tlp_out = c->tlp_lost = false; /* go-back-N resends it all */
	/* RACK forgets what was delivered with the scoreboard: a byte SACKed
	 * before, acked after, is no sign of reordering */
	c->rack_lost = c->rack_fack = c->snd_una;
}

/* Whether the window limits the flow (RFC 9438 §5.8, RFC 7661): cwnd
 * grows only then.  A flow the application (or its send ring, or the
 * peer's window) keeps below cwnd would otherwise raise it on every ACK
 * without ever testing it -- to 1 GiB, seen -- and burst that much when
 * it has more to send.  As Linux: the window was full at some send of
 * the last window of data (rs_tcp_out_push() keeps cwnd_full), or, in
 * slow start, cwnd is below twice that window's largest flight. */
static bool cwnd_limited(const struct rs_tcp_conn *c)
{
	return c->cwnd_full ||
	       (c->cwnd < c->ssthresh && c->cwnd < 2 * c->max_flight);
}

static void cc_grow(struct rs_tcp_conn *c, uint64_t now, uint32_t acked)
{
	uint32_t mss = c->snd_mss;
	struct rs_tcp_cubic *cu = &c->cub;

	hystart_round(c);
	if (!cwnd_limited(c)) {
		RS_TCP_COUNT(c->st, APP_LIMITED_ACKS);
		if (cu->app_limited_since == 0)
			cu->app_limited_since = now;
		return;
	}
	if (cu->app_limited_since != 0) {
		if (cu->epoch != RS_TCP_CUBIC_NO_EPOCH)
			cu->epoch += now - cu->app_limited_since;
		cu->app_limited_since = 0;
	}
	if (c->cwnd < c->ssthresh && c->hs_phase == RS_TCP_HS_CSS)
		c->cwnd += RS_TCP_MAX(
		    RS_TCP_MIN(acked, SS_L * mss) / HS_CSS_GROWTH_DIVISOR, 1u);
	else if (c->cwnd < c->ssthresh) /* slow start, both */
		c->cwnd = RS_TCP_MIN(c->cwnd + RS_TCP_MIN(acked, SS_L * mss),
				     RS_TCP_MAX(c->ssthresh, c->cwnd + mss));
	else if (cubic(c))
		rs_tcp_cubic_grow(c, now, acked);
	else
		c->cwnd += RS_TCP_MAX(1u, mss * mss / c->cwnd);
	c->cwnd = RS_TCP_MIN(c->cwnd, RS_TCP_CWND_MAX);
	rs_tcp_tune_snd(c);
}

/* RFC 6582 §3.2 step 5 (partial) and step 6 (full). */
static void cc_recovery_ack(struct rs_tcp_conn *c, uint64_t now, uint32_t acked)
{
	if (RS_SEQ_GEQ(c->snd_una, c->recover)) {
		uint32_t flight = c->snd_max - c->snd_una;

		c->cwnd = RS_TCP_MIN(c->ssthresh,
				     RS_TCP_MAX(flight, (uint32_t)c->snd_mss) +
					 c->snd_mss);
		c->in_recovery = false;
		c->dupacks = 0;
		c->tlp_lost = false;
		return;
	}
	RS_TCP_COUNT(c->st, PARTIAL_ACKS);
	if (c->sack_ok) {
		/* RFC 6675 keeps cwnd; the new first hole, if never resent
		 * and with SACKed data above it, is taken as lost as RFC 6582
		 * would (NextSeg follows).  Without SACKs above, what follows
		 * snd_una may simply still be on its way. */
		if (c->n_sb > 0 && RS_SEQ_GEQ(c->snd_una, c->high_rxt))
			c->high_rxt =
			    c->snd_una + rs_tcp_out_retransmit(c, now);
		return;
	}
	rs_tcp_out_retransmit(c, now);
	c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
	if (acked >= c->snd_mss)
		c->cwnd += c->snd_mss;
	c->cwnd = RS_TCP_MAX(c->cwnd, (uint32_t)c->snd_mss);
	if (!c->partial_seen) {
		c->partial_seen = true;
		rs_tcp_timer_rtx_restart(c, now);
	}
}

/* RTT (RFC 6298 §2): from the echoed timestamp when there is one (RFC
 * 7323 §4.1), else from the one timed segment under Karn's rule.  The
 * timed segment runs either way: RACK's least RTT (min_rtt) is its, to
 * the ns, where the timestamp option's ms would often say 0. */
static void rtt_measure(struct rs_tcp_conn *c, uint64_t now,
			const struct rs_tcp_seg_in *s)
{
	bool timed = c->rtt_timing && RS_SEQ_GT(s->ack, c->rtt_seq);
	uint64_t rtt = RS_TCP_MAX(now - c->rtt_start, (uint64_t)1);

	if (timed) {
		c->rtt_timing = false;
		c->min_rtt =
		    c->min_rtt != 0 ? RS_TCP_MIN(c->min_rtt, rtt) : rtt;
	}
	if (!rs_tcp_ts_rtt(c, now, s) && timed)
		rs_tcp_rtt_sample(c, rtt);
}

/* RFC 3522: the first ACK after a fast retransmit that echoes a TSval
 * older than the retransmission's answers the original, which was only
 * late (reordered): undo the reduction (RFC 4015 §3.2) and, as the
 * reordering was at least DupThresh deep, double DupThresh.
 * @return true when the recovery was undone. */
static bool spurious_undo(struct rs_tcp_conn *c, const struct rs_tcp_seg_in *s)
{
	if (!c->undo_ok)
		return false;
	c->undo_ok = false;
	if (!s->opt.has_ts || s->opt.ts_ecr == 0 ||
	    !RS_SEQ_LT(s->opt.ts_ecr, c->rtx_tsval))
		return false;
	RS_TCP_COUNT(c->st, SPURIOUS_RECOVERY);
	c->dsack_undo = false; /* undone already */
	c->cwnd = RS_TCP_MAX(c->cwnd, c->undo_cwnd);
	c->ssthresh = RS_TCP_MAX(c->ssthresh, c->undo_ssthresh);
	c->cub = c->cub_undo; /* RFC 9438 §4.9: W_max, K, the epoch */
	c->in_recovery = false;
	c->tlp_lost = false;
	c->rack_lost = c->snd_una;
	rs_tcp_rack_widen(c, true); /* the original came, only late */
	c->dupacks = 0;
	/* A real loss in this window may start a recovery again. */
	c->recover = c->snd_una - 1;
	c->dupthresh = (uint8_t)RS_TCP_MIN(2u * c->dupthresh,
					   (unsigned)RS_TCP_DUPTHRESH_MAX);
	return true;
}

/* SND.UNA < SEG.ACK <= snd_max. */
static void new_ack(struct rs_tcp_conn *c, uint64_t now,
		    const struct rs_tcp_seg_in *s)
{
	uint32_t ack = s->ack;
	uint32_t acked = ack - c->snd_una;
	uint32_t data;
	bool was_recovery = c->in_recovery;

	if (!c->syn_acked) { /* the first ACK acks the SYN */
		acked--;
		c->syn_acked = true;
	}
	data = RS_TCP_MIN(acked, (uint32_t)rs_byte_ring_count(c->snd));
	rs_byte_ring_release_to(c->snd, rs_byte_ring_tail(c->snd) + data);
	c->snd_una = ack;
	rs_tcp_sack_trim(c);
	rs_tcp_rack_trim(c);
	c->soft_error = 0; /* the path works after all */
	if (RS_SEQ_LT(c->snd_nxt, ack))
		c->snd_nxt = ack;
	if (c->fin_queued && RS_SEQ_GEQ(ack, rs_tcp_fin_seq(c) + 1)) {
		c->fin_acked = true;
		c->fin_sent = true;
	}
	rtt_measure(c, now, s);
	c->retries = 0;
	if (data)
		c->ev |= RS_TCP_EV_WRITABLE;
	if (was_recovery && spurious_undo(c, s))
		was_recovery = false;
	if (was_recovery)
		cc_recovery_ack(c, now, data);
	else if (data)
		cc_grow(c, now, data);
	c->dupacks = c->in_recovery ? c->dupacks : 0;
	/* RFC 6298 §5.2/5.3; under NewReno a partial ACK restarts it only
	 * the first time (RFC 6582 §3.2 step 5, done in cc_recovery_ack);
	 * SACK recovery resends several holes per RTT and restarts it on
	 * every ACK that moves snd_una. */
	if (c->snd_una == c->snd_max)
		rs_tcp_timer_stop(c, RS_TCP_T_RTX);
	else if (!c->in_recovery || c->sack_ok)
		rs_tcp_timer_rtx_restart(c, now);
}

/* Third duplicate ACK: fast retransmit, enter recovery (RFC 6582). */
static void fast_retransmit(struct rs_tcp_conn *c, uint64_t now, uint32_t ack)
{
	if (!RS_SEQ_GT(ack, c->recover))
		return; /* still the losses of an earlier window */
	RS_TCP_COUNT(c->st, FAST_RETRANS);
	c->undo_ok = c->ts_ok;
	c->undo_cwnd = c->cwnd;
	c->undo_ssthresh = c->ssthresh;
	c->cub_undo = c->cub;
	c->rtx_tsval = rs_tcp_ts_now(c, now);
	c->recover = c->snd_max;
	c->ssthresh = cubic(c) ? rs_tcp_cubic_loss(c) : half_flight(c);
	c->hs_phase = RS_TCP_HS_OFF;
	c->in_recovery = true;
	c->partial_seen = false;
	if (c->sack_ok) {
		/* RFC 6675 §5 step 4: snd_una resent whatever IsLost says
		 * (RFC 6937: the first send of the recovery goes, as Linux
		 * lets it); then, on this ACK and every one after, PRR sets
		 * cwnd and NextSeg runs while pipe allows (sack_after_ack). */
		RS_TCP_COUNT(c->st, SACK_RECOVERY);
		rs_tcp_rack_recovery(c);
		c->rescued = false;
		c->dsack_undo = true;
		c->undo_end_set = false;
		c->undo_retrans = 0;
		c->prr_delivered = c->prr_out = 0;
		c->recover_fs = RS_TCP_MAX(c->snd_max - c->snd_una, 1u);
		c->high_rxt = c->snd_una + rs_tcp_out_retransmit(c, now);
		return;
	}
	rs_tcp_out_retransmit(c, now);
	c->cwnd = c->ssthresh + 3u * c->snd_mss;
}

/* RFC 2883 §4: the first SACK block reports a duplicate when it lies
 * below the cumulative ACK or within the second block. */
static bool dsack_of(const struct rs_tcp_seg_in *s)
{
	const struct rs_tcp_sack_block *b = s->opt.sack;

	if (s->opt.sack_blocks == 0 || !RS_SEQ_LT(b[0].left, b[0].right))
		return false;
	return RS_SEQ_LEQ(b[0].right, s->ack) ||
	       (s->opt.sack_blocks > 1 && RS_SEQ_GEQ(b[0].left, b[1].left) &&
		RS_SEQ_LEQ(b[0].right, b[1].right));
}

/* RFC 3708 detection, RFC 4015's response: each D-SACK after a SACK
 * recovery's resends reports one of them; once every resend came back
 * so and the recovery point is passed, the originals had all arrived
 * -- the loss was reordering -- so the reduction is undone (cwnd,
 * ssthresh, CUBIC's epoch) and DupThresh doubles, as for a fast
 * retransmit the timestamps show spurious.  D-SACKs count until what
 * was sent by the recovery's end is acknowledged (about an RTT: the
 * last resend's duplicate comes back by then). */
static void dsack_check(struct rs_tcp_conn *c, const struct rs_tcp_seg_in *s)
{
	if (!c->dsack_undo)
		return;
	if (dsack_of(s) && c->undo_retrans > 0)
		c->undo_retrans--;
	if (c->in_recovery || RS_SEQ_LT(c->snd_una, c->recover))
		return;
	if (c->undo_retrans != 0) {
		if (!c->undo_end_set) {
			c->undo_end_set = true;
			c->undo_end = c->snd_max;
		} else if (RS_SEQ_GT(c->snd_una, c->undo_end)) {
			c->dsack_undo = false; /* a real loss among them */
		}
		return;
	}
	c->dsack_undo = false;
	RS_TCP_COUNT(c->st, DSACK_UNDO);
	rs_tcp_rack_widen(c, false);
	c->cwnd = RS_TCP_MAX(c->cwnd, c->undo_cwnd);
	c->ssthresh = RS_TCP_MAX(c->ssthresh, c->undo_ssthresh);
	c->cub = c->cub_undo;
	/* A real loss in the next window may start a recovery again. */
	c->recover = c->snd_una - 1;
	c->dupthresh = (uint8_t)RS_TCP_MIN(2u * c->dupthresh,
					   (unsigned)RS_TCP_DUPTHRESH_MAX);
}

/* RFC 8985 §7.4, as Linux decides it: what the ACKs after a tail loss
 * probe say.
 *   - The probe arrived (SACKed) with holes below it: everything there
 *     left a PTO (two round trips) before it, so RACK would call it lost:
 *     a SACK recovery starts with all of it lost (tlp_lost).
 *   - An ACK beyond what was sent when the probe went, with no D-SACK:
 *     the probe alone repaired a loss, which still calls for the
 *     congestion response (cwnd to the reduced ssthresh).
 *   - A D-SACK, or a duplicate ACK once all up to the probe arrived: the
 *     original had arrived too; the probe was needless. */
static void tlp_ack(struct rs_tcp_conn *c, uint64_t now,
		    const struct rs_tcp_seg_in *s, uint32_t una0)
{
	uint32_t probe_end = RS_SEQ_MIN(c->tlp_end, c->snd_max);

	if (!c->tlp_out)
		return;
	if (RS_SEQ_LT(c->snd_una, c->tlp_seq)) {
		/* Its first byte SACKed (a FIN is not) */
		if (c->in_recovery ||
		    !rs_tcp_sack_covers(c, c->tlp_seq, c->tlp_seq + 1))
			return;
		c->tlp_out = false;
		c->tlp_lost = true;
		fast_retransmit(c, now, s->ack);
		if (c->in_recovery)
			RS_TCP_COUNT(c->st, TLP_RECOVERY);
		else /* the losses of an earlier window: not again */
			c->tlp_lost = false;
		return;
	}
	if (dsack_of(s) && RS_SEQ_LT(s->opt.sack[0].left, probe_end) &&
	    RS_SEQ_GT(s->opt.sack[0].right, c->tlp_seq)) {
		c->tlp_out = false;
		RS_TCP_COUNT(c->st, TLP_NEEDLESS);
	} else if (RS_SEQ_GT(s->ack, c->tlp_end)) {
		c->tlp_out = false;
		RS_TCP_COUNT(c->st, TLP_REPAIRED);
		if (!c->in_recovery) {
			/* of cwnd: the flight is the little after the
			 * probe */
			c->ssthresh =
			    cubic(c) ? rs_tcp_cubic_loss(c)
				     : RS_TCP_MAX(c->cwnd / 2,
						  2u * (uint32_t)c->snd_mss);
			c->cwnd = RS_TCP_MAX(c->ssthresh, (uint32_t)c->snd_mss);
			c->hs_phase = RS_TCP_HS_OFF;
		}
	} else if (c->snd_una == una0 && RS_SEQ_GEQ(c->snd_una, c->tlp_end) &&
		   s->len == 0) {
		c->tlp_out = false;
		RS_TCP_COUNT(c->st, TLP_NEEDLESS);
	}
}

/* RFC 6937 PRR-SSRB: cwnd for this ACK of a SACK recovery that
 * delivered @p delivered bytes (snd_una's advance and the change in
 * SACKed bytes). */
static void prr_cwnd(struct rs_tcp_conn *c, uint32_t delivered)
{
	uint32_t pipe = rs_tcp_sack_pipe(c);
	int64_t sndcnt, limit;

	c->prr_delivered += delivered;
	if (pipe > c->ssthresh) { /* proportional: ssthresh / RecoverFS */
		sndcnt = (int64_t)(((uint64_t)c->prr_delivered * c->ssthresh +
				    c->recover_fs - 1) /
				   c->recover_fs) -
			 c->prr_out;
	} else { /* the slow start reduction bound */
		limit = RS_TCP_MAX((int64_t)c->prr_delivered - c->prr_out,
				   (int64_t)delivered) +
			c->snd_mss;
		sndcnt = RS_TCP_MIN((int64_t)c->ssthresh - pipe, limit);
	}
	c->cwnd = pipe + (uint32_t)RS_TCP_MAX(sndcnt, (int64_t)0);
}

/* Whether RACK's verdict (tcp_rack.c) holds unacknowledged bytes lost. */
static bool rack_pending(const struct rs_tcp_conn *c)
{
	return RS_SEQ_LT(c->snd_una, c->rack_lost);
}

/* After an ACK on a SACK connection (the caller checks): enter recovery when
 * new SACK information (or RACK's verdict) shows the first hole lost (RFC
 * 6675 §5 step 2) before three duplicate ACKs came; in recovery, PRR's
 * cwnd, then resend holes against it. */
static void sack_after_ack(struct rs_tcp_conn *c, uint64_t now, uint32_t newly,
			   uint32_t delivered)
{
	if (!c->in_recovery && (newly || rack_pending(c)) &&
	    rs_tcp_sack_head_lost(c))
		fast_retransmit(c, now, c->snd_una);
	if (!c->in_recovery)
		return;
	prr_cwnd(c, delivered);
	rs_tcp_sack_fill(c, now);
}

static void dup_ack(struct rs_tcp_conn *c, uint64_t now,
		    const struct rs_tcp_seg_in *s, bool wnd_changed)
{
	if (s->len || (s->flags & (RS_TCP_SYN | RS_TCP_FIN)) || wnd_changed ||
	    c->snd_una == c->snd_max || c->snd_wnd == 0)
		return;
	RS_TCP_COUNT(c->st, DUP_ACKS);
	c->dupacks++;
	if (rs_tcp_sack_recovery(c))
		return; /* no inflation: pipe counts what left */
	if (c->in_recovery)
		c->cwnd += c->snd_mss; /* inflate: a segment left */
	else if (c->dupacks >= rs_tcp_dupthresh(c) && !rs_tcp_rack_time_only(c))
		fast_retransmit(c, now, s->ack);
}

/* @return true when the window changed. */
static bool window_update(struct rs_tcp_conn *c, const struct rs_tcp_seg_in *s)
{
	uint32_t wnd = (uint32_t)s->wnd << c->snd_wscale;
	bool changed;

	if (!(RS_SEQ_LT(c->snd_wl1, s->seq) ||
	      (c->snd_wl1 == s->seq && RS_SEQ_LEQ(c->snd_wl2, s->ack))))
		return false;
	changed = wnd != c->snd_wnd;
	c->snd_wnd = wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->max_snd_wnd = RS_TCP_MAX(c->max_snd_wnd, wnd);
	return changed;
}

int rs_tcp_ack_process(struct rs_tcp_conn *c, uint64_t now,
		       const struct rs_tcp_seg_in *s)
{
	uint32_t ack = s->ack, newly, una0 = c->snd_una, sacked0;
	uint64_t reo_timeout;
	int64_t delivered;
	bool changed;

	if (RS_SEQ_GT(ack, c->snd_max)) {
		c->ack_now = true;
		return RS_TCP_DROP(c->st, ACK_UNSENT);
	}
	if (RS_SEQ_LT(ack, c->snd_una - c->max_snd_wnd)) {
		rs_tcp_out_challenge(c, now);
		return RS_TCP_DROP(c->st, ACK_TOO_OLD);
	}
	c->probes = 0; /* the peer is alive */
	if (RS_SEQ_LT(ack, c->snd_una))
		return 0; /* old duplicate: nothing to learn */
	changed = window_update(c, s);
	rs_tcp_rack_update(c, now, s, dsack_of(s));
	sacked0 = c->sack_ok ? rs_tcp_sack_bytes(c) : 0;
	newly = rs_tcp_sack_update(c, s);
	if (RS_SEQ_GT(ack, c->snd_una))
		new_ack(c, now, s);
	else
		dup_ack(c, now, s, changed);
	if (!c->sack_ok)
		return 0;
	/* RFC 6937 DeliveredData: snd_una's advance and the change in
	 * SACKed bytes (which falls as snd_una passes them). */
	delivered =
	    (int64_t)(c->snd_una - una0) + rs_tcp_sack_bytes(c) - sacked0;
	tlp_ack(c, now, s, una0);
	reo_timeout = rs_tcp_rack_detect(c, now);
	sack_after_ack(c, now, newly,
		       (uint32_t)RS_TCP_MAX(delivered, (int64_t)0));
	dsack_check(c, s);
	if (c->snd_una != una0) /* RFC 8985 §7.2: new data acknowledged */
		rs_tcp_tlp_arm(c, now);
	if (reo_timeout != 0)
		rs_tcp_rack_arm(c, now, reo_timeout);
	return 0;
}

void rs_tcp_rack_timeout(struct rs_tcp_conn *c, uint64_t now)
{
	uint64_t reo_timeout = rs_tcp_rack_detect(c, now);

	/* as after an ACK that delivered nothing */
	sack_after_ack(c, now, 0, 0);
	if (reo_timeout != 0)
		rs_tcp_rack_arm(c, now, reo_timeout);
}
