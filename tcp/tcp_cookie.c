/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SYN cookies (RFC 4987 §3.6), for a listener whose SYN queue is full
 * (rs_tcp_config.syncookies): the SYN is answered, and nothing is kept,
 * so spoofed SYNs cannot close the port.  The state the SYN-RECEIVED
 * entry would have held travels in our ISS and, when the peer uses
 * timestamps, in our TSval:
 *
 *   ISS   = count (5 bits) | MSS index (3 bits) | H (24 bits)
 *   TSval = our clock, low 5 bits replaced by the peer's window shift
 *           (4 bits, 15: none) and SACK-permitted (1 bit)
 *
 * count is the stack clock in 64 s steps; H the low 24 bits of a keyed
 * hash (rs_tcp_cookie_hash()) of the 4-tuple, the peer's ISN and count.
 * The ACK that returns ISS + 1 with the count of now or of the step
 * before, and the right H, completes the connection: the MSS from the
 * index (the largest table entry at or below the peer's), window
 * scaling and SACK from its TSecr.  Without timestamps there is no room
 * for them: the SYN-ACK then offers neither (as Linux does).
 *
 * ACKs are tried as cookies only while a listener has sent cookies in
 * the last COOKIE_LIFE: in calm times a stray ACK gets its RST as
 * before and a forger has nothing to aim at.
 */

#include "tcp_pvt.h"

#define COUNT_SHIFT 36 /* 2^36 ns: about 69 s a step */
#define COOKIE_LIFE (3ULL << COUNT_SHIFT)
#define WS_NONE 15u
#define TS_BITS 0x1fu

/* The MSS a cookie can name (3 bits), smallest first. */
static const uint16_t mss_table[8] = {536,  1024, 1220, 1360,
				      1440, 1460, 4312, 8960};

static uint32_t count_of(uint64_t now)
{
	return (uint32_t)(now >> COUNT_SHIFT);
}

static unsigned mss_index(uint16_t mss)
{
	unsigned i = 0;

	while (i + 1 < 8 && mss_table[i + 1] <= mss)
		i++;
	return i;
}

static uint32_t cookie_of(const struct rs_tcp_stack *st,
			  const struct rs_tcp_tuple *t, uint32_t irs,
			  uint32_t count, unsigned idx)
{
	uint32_t h = rs_tcp_cookie_hash(st->cfg.isn_secret, t, irs, count);

	return (count & 0x1f) << 27 | idx << 24 | (h & 0xffffff);
}

int rs_tcp_cookie_syn(struct rs_tcp_listener *l, uint64_t now,
		      const struct rs_tcp_seg_in *s)
{
	struct rs_tcp_stack *st = l->st;
	struct rs_tcp_tuple t = rs_tcp_tuple_of(s);
	uint16_t peer = s->opt.has_mss ? s->opt.mss : RS_TCP_DEFAULT_MSS;
	unsigned idx = mss_index(RS_TCP_MIN(peer, st->cfg.mss));
	uint32_t iss = cookie_of(st, &t, s->seq, count_of(now), idx);
	bool ts_on = st->cfg.timestamps && s->opt.has_ts;
	struct rs_tcp_ts ts;
	int ws = -1;
	bool sack = false;

	if (ts_on) {
		/* What the SYN-RECEIVED entry would keep, in our TSval. */
		uint32_t enc =
		    s->opt.has_ws ? RS_TCP_MIN(s->opt.ws, 14) : WS_NONE;

		sack = st->cfg.sack && s->opt.sack_perm;
		enc |= (uint32_t)sack << 4;
		ts.val = ((uint32_t)(now / 1000000) +
			  rs_tcp_ts_offset(st->cfg.isn_secret, &t)) &
			 ~TS_BITS;
		ts.val |= enc;
		ts.ecr = s->opt.ts_val;
		if (s->opt.has_ws)
			ws =
			    rs_tcp_wscale_for(rs_tcp_rcv_buf_top(st, &l->opts));
	}
	l->cookies_until = now + COOKIE_LIFE;
	RS_TCP_COUNT(st, SYNCOOKIES_SENT);
	rs_tcp_out_synack_cookie(st, s, iss,
				 (uint16_t)RS_TCP_MIN(l->opts.rcv_buf, 0xffffu),
				 ws, sack, ts_on ? &ts : NULL);
	return RS_TCP_IN_OK;
}

/* Whether @p iss is a cookie this stack made for @p t and @p irs, now
 * or one step ago; its MSS index then in @p idx. */
static bool cookie_ok(const struct rs_tcp_stack *st,
		      const struct rs_tcp_tuple *t, uint32_t irs, uint32_t iss,
		      uint64_t now, unsigned *idx)
{
	uint32_t count = count_of(now);

	for (uint32_t back = 0; back < 2; back++) {
		uint32_t c = count - back;

		if ((iss >> 27) != (c & 0x1f))
			continue;
		*idx = (iss >> 24) & 7;
		return cookie_of(st, t, irs, c, *idx) == iss;
	}
	return false;
}

/* The options the SYN carried, as far as the cookie kept them. */
static void syn_opts_of(const struct rs_tcp_stack *st,
			const struct rs_tcp_seg_in *s, unsigned idx,
			struct rs_tcp_opts *o)
{
	*o = (struct rs_tcp_opts){.has_mss = true, .mss = mss_table[idx]};
	if (!st->cfg.timestamps || !s->opt.has_ts)
		return;
	o->has_ts = true;
	o->ts_val = s->opt.ts_val;
	o->has_ws = (s->opt.ts_ecr & 0xf) != WS_NONE;
	o->ws = (uint8_t)(s->opt.ts_ecr & 0xf);
	o->sack_perm = (s->opt.ts_ecr >> 4) & 1;
}

struct rs_tcp_conn *rs_tcp_cookie_ack(struct rs_tcp_listener *l, uint64_t now,
				      const struct rs_tcp_seg_in *s)
{
	struct rs_tcp_stack *st = l->st;
	struct rs_tcp_tuple t = rs_tcp_tuple_of(s);
	uint32_t iss = s->ack - 1, irs = s->seq - 1;
	struct rs_tcp_opts o;
	struct rs_tcp_conn *c;
	unsigned idx;

	if (!st->cfg.syncookies || now >= l->cookies_until ||
	    (s->flags & (RS_TCP_SYN | RS_TCP_RST | RS_TCP_ACK)) != RS_TCP_ACK)
		return NULL;
	if (!cookie_ok(st, &t, irs, iss, now, &idx)) {
		RS_TCP_COUNT(st, SYNCOOKIES_BAD);
		return NULL;
	}
	if (l->n_acc >= l->backlog)
		return NULL; /* the ACK is dropped as for a full queue */
	c = rs_tcp_conn_alloc(st, &t, &l->opts, now);
	if (c == NULL)
		return NULL;
	RS_TCP_COUNT(st, SYNCOOKIES_OK);
	/* The SYN-RECEIVED entry the cookie stood for; the ACK finishes
	 * the handshake as for any other (hs_ack). */
	rs_tcp_syn_child(l, c);
	c->iss = c->snd_una = c->recover = iss;
	c->snd_nxt = c->snd_max = iss + 1;
	c->irs = irs;
	c->rcv_nxt = s->seq;
	syn_opts_of(st, s, idx, &o);
	rs_tcp_conn_negotiate(c, &o);
	c->ts_last = s->opt.ts_ecr;
	c->snd_wl1 = irs; /* the ACK's window is taken */
	c->snd_wl2 = iss;
	c->rcv_adv = c->rcv_nxt + RS_TCP_MIN(rs_tcp_rcv_space(c), 0xffffu);
	return c;
}
