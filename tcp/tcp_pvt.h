/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef RS_TCP_PVT_H
#define RS_TCP_PVT_H

/*
 * TCP core internals, shared by the files of tcp/ (and by the white-box
 * unit tests in tests/tcp/).  Not part of the API: never include it from
 * another module.
 *
 * Call order of one received segment:
 *
 *   rs_tcp_input()            tcp_in.c    parse, validate, look up
 *     rs_tcp_opt_parse()      tcp_opt.c
 *     listen / syn-sent /     tcp_in.c    RFC 9293 §3.10.7
 *     synchronized states
 *       PAWS, TS.Recent       tcp_ts.c    RFC 7323 §4.3, §5.3
 *       rs_tcp_ack_process()  tcp_cc.c    snd_una, RTT, cwnd, recovery
 *         rs_tcp_sack_*()     tcp_sack.c  scoreboard, RFC 6675 resends
 *       rs_tcp_rcv_data()     tcp_rcv.c   in-order and out-of-order data
 *     rs_tcp_out_push()       tcp_out.c   data, FIN, ACK -> config.emit
 *                                         (TS and SACK blocks added)
 *     rs_tcp_conn_finish()    tcp_conn.c  deliver events, free orphans
 *
 * Timers (tcp_timer.c) run through the wheel (wheel.c) and end the same
 * way: output, then rs_tcp_conn_finish().  ICMP errors (tcp_icmp.c):
 * look up, check the quoted sequence number, act (path MTU, refusal,
 * soft error), rs_tcp_conn_finish().  Output emit() held back waits on
 * the stack's blocked list for rs_tcp_output_resume() (tcp_conn.c).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rs_byte_ring.h"
#include "rs_tcp.h"

#define RS_TCP_CONTAINER_OF(ptr, type, member)                                 \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define RS_TCP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RS_TCP_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Counting: the one macro layer through which every counter goes. */
/* One writer (the stack's thread); the store is atomic so that a reader
 * of rs_tcp_counters_at()'s array sees whole values. */
#define RS_TCP_COUNT(st, name)                                                 \
	__atomic_store_n(&(st)->ctr[RS_TCP_CTR_##name],                        \
			 (st)->ctr[RS_TCP_CTR_##name] + 1, __ATOMIC_RELAXED)
#define RS_TCP_DROP(st, reason)                                                \
	((st)->stats.drops[RS_TCP_DROP_##reason]++, RS_TCP_DROP_##reason)

/* ---------------------------------------------------------------------- */
/* SipHash-2-4 (siphash.c), ISNs and port offsets (isn.c)                 */
/* ---------------------------------------------------------------------- */

/** SipHash-2-4 of @p len bytes under a 16-byte key. */
uint64_t rs_tcp_siphash(const uint8_t key[16], const void *data, size_t len);

/** RFC 6528: M (4 µs clock) + F(4-tuple, secret). */
uint32_t rs_tcp_isn(const uint8_t key[16], const struct rs_tcp_tuple *t,
		    uint64_t now);

/** RFC 7323 §7.1: the per-connection offset of our TSval clock. */
uint32_t rs_tcp_ts_offset(const uint8_t key[16], const struct rs_tcp_tuple *t);

/** The keyed hash a SYN cookie carries: of the 4-tuple, the peer's ISN
 *  and the cookie's time count. */
uint32_t rs_tcp_cookie_hash(const uint8_t key[16], const struct rs_tcp_tuple *t,
			    uint32_t irs, uint32_t count);

/** RFC 6056 F(): the per-destination offset into the ephemeral range. */
uint32_t rs_tcp_port_offset(const uint8_t key[16], uint32_t laddr,
			    uint32_t raddr, uint16_t rport);

/* ---------------------------------------------------------------------- */
/* Timer wheel (wheel.c)                                                  */
/* ---------------------------------------------------------------------- */

#define RS_TCP_WHEEL_BITS 6
#define RS_TCP_WHEEL_SLOTS (1u << RS_TCP_WHEEL_BITS)
#define RS_TCP_WHEEL_LEVELS 6
/* Level of a timer that is being fired (off the wheel's slots). */
#define RS_TCP_WHEEL_DETACHED 0xff

/** A timer: an intrusive list node plus its expiry tick. */
struct rs_tcp_timer {
	struct rs_tcp_timer *next, *prev; /* NULL when not armed */
	uint64_t expires;		  /* tick */
	uint8_t level, slot;		  /* where it is linked */
	uint8_t kind;			  /* enum tcp_timer_kind */
};

struct rs_tcp_wheel {
	uint64_t now; /* every tick <= now has been processed */
	uint64_t tick_ns;
	unsigned count;			      /* armed timers */
	uint64_t bitmap[RS_TCP_WHEEL_LEVELS]; /* non-empty slots */
	struct rs_tcp_timer slot[RS_TCP_WHEEL_LEVELS][RS_TCP_WHEEL_SLOTS];
};

typedef void (*rs_tcp_wheel_fire_fn)(void *ctx, struct rs_tcp_timer *t);

void rs_tcp_wheel_init(struct rs_tcp_wheel *w, uint64_t tick_ns);
void rs_tcp_timer_init(struct rs_tcp_timer *t, uint8_t kind);
/** Arm (or re-arm) @p t to fire at the first run with now >= deadline. */
void rs_tcp_wheel_add(struct rs_tcp_wheel *w, struct rs_tcp_timer *t,
		      uint64_t now, uint64_t deadline);
/** Disarm @p t; a disarmed timer is ignored. */
void rs_tcp_wheel_del(struct rs_tcp_wheel *w, struct rs_tcp_timer *t);
/** Fire everything due at @p now; @return how many fired. */
unsigned rs_tcp_wheel_run(struct rs_tcp_wheel *w, uint64_t now,
			  rs_tcp_wheel_fire_fn fire, void *ctx);
/** @return a time (ns) <= the earliest deadline, or UINT64_MAX. */
uint64_t rs_tcp_wheel_next(const struct rs_tcp_wheel *w);

static inline bool rs_tcp_timer_armed(const struct rs_tcp_timer *t)
{
	return t->next != NULL;
}

/* ---------------------------------------------------------------------- */
/* Wire parsing and building (tcp_opt.c)                                  */
/* ---------------------------------------------------------------------- */

#define RS_TCP_OPT_EOL 0
#define RS_TCP_OPT_NOP 1
#define RS_TCP_OPT_MSS 2
#define RS_TCP_OPT_WS 3
#define RS_TCP_OPT_SACK_PERM 4
#define RS_TCP_OPT_SACK 5
#define RS_TCP_OPT_TS 8

#define RS_TCP_WS_MAX 14       /* RFC 7323 §2.3 */
#define RS_TCP_DEFAULT_MSS 536 /* RFC 9293 §3.7.1, IPv4 */
#define RS_TCP_MIN_MSS 64      /* floor for a peer's MSS option */

/* SACK blocks one option holds: (40 - 2) / 8. */
#define RS_TCP_SACK_BLOCKS_MAX 4
/* Timestamps option as we send it: NOP, NOP, kind 8, length 10. */
#define RS_TCP_TS_LEN 12

/** A SACK block (RFC 2018 §3): sequence numbers [left, right). */
struct rs_tcp_sack_block {
	uint32_t left, right;
};

/** Our TSval and TSecr for an outgoing segment (RFC 7323 §3). */
struct rs_tcp_ts {
	uint32_t val, ecr;
};

/** Options found in a segment. */
struct rs_tcp_opts {
	bool has_mss, has_ws, sack_perm, has_ts;
	uint16_t mss;
	uint8_t ws;
	uint8_t sack_blocks; /* in sack[] */
	uint32_t ts_val, ts_ecr;
	struct rs_tcp_sack_block sack[RS_TCP_SACK_BLOCKS_MAX];
};

/** A received segment, parsed. */
struct rs_tcp_seg_in {
	uint32_t saddr, daddr; /* network order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint16_t wnd; /* raw window field */
	uint8_t flags;
	/* The payload: @c len bytes at @c data, or (@c iov set) @c len
	 * bytes from @c skip bytes into the runs @c iov[0..niov). */
	const uint8_t *data;
	const struct iovec *iov;
	uint32_t niov, skip;
	uint32_t len; /* payload bytes */
	struct rs_tcp_opts opt;
};

/** @return 0, or -EINVAL for a malformed option list. */
int rs_tcp_opt_parse(const uint8_t *p, size_t len, struct rs_tcp_opts *o);

/** The 4-tuple of our end of a received segment. */
static inline struct rs_tcp_tuple rs_tcp_tuple_of(const struct rs_tcp_seg_in *s)
{
	return (struct rs_tcp_tuple){.laddr = s->daddr,
				     .raddr = s->saddr,
				     .lport = s->dport,
				     .rport = s->sport};
}

/** Parse header and options. @return 0 or an enum rs_tcp_drop reason. */
int rs_tcp_parse(const void *tcp, size_t len, struct rs_tcp_seg_in *s);

/** Encode SYN options: MSS; window scale when @p ws >= 0; SACK-permitted
 *  when @p sack_perm; timestamps when @p ts is not NULL.
 *  @return bytes written (a multiple of 4, <= 20). */
uint8_t rs_tcp_opt_build_syn(uint8_t *buf, uint16_t mss, int ws, bool sack_perm,
			     const struct rs_tcp_ts *ts);

/** Encode the options of a non-SYN segment: timestamps when @p ts is not
 *  NULL, then as many of the @p n SACK blocks @p b as fit in @p room
 *  bytes (at most RS_TCP_OPT_MAX).
 *  @return bytes written (a multiple of 4). */
uint8_t rs_tcp_opt_build(uint8_t *buf, const struct rs_tcp_ts *ts,
			 const struct rs_tcp_sack_block *b, unsigned n,
			 unsigned room);

/** Sequence space a segment occupies: payload + SYN + FIN. */
static inline uint32_t rs_tcp_seg_space(const struct rs_tcp_seg_in *s)
{
	return s->len + !!(s->flags & RS_TCP_SYN) + !!(s->flags & RS_TCP_FIN);
}

/* ---------------------------------------------------------------------- */
/* Objects                                                                */
/* ---------------------------------------------------------------------- */

/** Intrusive doubly linked list (circular, with a head node). */
struct rs_tcp_link {
	struct rs_tcp_link *next, *prev;
};

static inline void rs_tcp_list_init(struct rs_tcp_link *h)
{
	h->next = h->prev = h;
}

static inline bool rs_tcp_list_empty(const struct rs_tcp_link *h)
{
	return h->next == h;
}

static inline void rs_tcp_list_add_tail(struct rs_tcp_link *h,
					struct rs_tcp_link *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void rs_tcp_list_del(struct rs_tcp_link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

/* The roles of the RTX timer (rs_tcp_conn.rtx_as). */
enum {
	RS_TCP_RTX_AS_RTO, /* retransmission time-out (RFC 6298) */
	RS_TCP_RTX_AS_PTO, /* tail loss probe time-out (RFC 8985 §7) */
	RS_TCP_RTX_AS_REO, /* RACK's reordering timer (RFC 8985 §6) */
};

enum tcp_timer_kind {
	RS_TCP_T_RTX,	  /* retransmission (SYN, SYN-ACK, data, FIN) */
	RS_TCP_T_PERSIST, /* zero-window probe */
	RS_TCP_T_DELACK,  /* delayed ACK */
	RS_TCP_T_KEEP,	  /* keepalive */
	RS_TCP_T_CLOSE,	  /* TIME-WAIT, orphaned FIN-WAIT-2, linger */
	RS_TCP_T_PACE,	  /* pacing: the next data may go */
	RS_TCP_T_KINDS
};

/* Out-of-order intervals (receive ring offsets): this many in the
 * connection itself; more (up to cfg.ooo_max) in an array of its own. */
#define RS_TCP_OOO_INLINE 8

struct rs_tcp_ooo {
	uint64_t start, end; /* [start, end) beyond the ring's head */
	uint32_t stamp;	     /* when last added to: SACK block order */
};

/* SACKed ranges the sender remembers above snd_una (RFC 6675). */
#define RS_TCP_SB_MAX 8

/* RACK's send-time log (tcp_rack.c): ranges of the flight, each with
 * when its bytes last went. */
#define RS_TCP_XLOG_MAX 16
struct rs_tcp_xlog {
	uint32_t end; /* from the previous entry's end (snd_una) to here */
	uint32_t t;   /* sent at (ns >> 10); bit 0: resent */
};

/* CUBIC (tcp_cubic.c, RFC 9438 §4): one congestion epoch.  Bytes, ms. */
struct rs_tcp_cubic {
	uint64_t epoch; /* when congestion avoidance began (ns); or
			   RS_TCP_CUBIC_NO_EPOCH: on the next CA ACK */
	uint32_t w_max; /* W_max: the window at the last reduction */
	uint32_t prior; /* cwnd_prior: cwnd just before it (§4.3) */
	uint32_t k_ms;	/* K: when W_cubic is back at W_max */
	uint32_t w_est; /* W_est: the Reno-friendly window (§4.3) */
	/* What the per-ACK increments of cwnd and W_est left over, in
	 * bytes * acked / cwnd units (below one byte): without them a
	 * window near W_max, which gains a fraction of a byte per ACK,
	 * would not grow at all. */
	uint64_t cwnd_rem, est_rem;
	/* §5.8: when the flow stopped using its window (ns; 0: it uses
	 * it): the epoch moves on by the time it did not, so that W_cubic
	 * does not count it. */
	uint64_t app_limited_since;
};

#define RS_TCP_CUBIC_NO_EPOCH UINT64_MAX

/* HyStart++ phases (struct rs_tcp_conn.hs_phase) */
#define RS_TCP_HS_OFF 0 /* not used, or done: slow start as RFC 5681 */
#define RS_TCP_HS_SS 1	/* the initial slow start, watching the RTT */
#define RS_TCP_HS_CSS 2 /* conservative slow start (growth / 4) */

struct rs_tcp_listener;

enum { RS_TCP_Q_NONE, RS_TCP_Q_SYN, RS_TCP_Q_ACC };

/**
 * One connection.  Sequence numbers follow RFC 9293 §3.3.1.  The send
 * ring holds byte i of the stream at ring offset i and sequence number
 * iss + 1 + i; the receive ring likewise with irs.  So snd_una is the
 * ring's tail (once the SYN is acked), snd_nxt its mark, and rcv_nxt its
 * head (until the peer's FIN).
 */
struct rs_tcp_conn {
	struct rs_tcp_tuple tuple; /* flow table key; must stay first */
	struct rs_tcp_stack *st;
	enum rs_tcp_state state;
	int error;	/* positive errno, sticky */
	int soft_error; /* ICMP soft error, reported on time-out (tcp_icmp.c) */
	unsigned ev;	/* events not yet delivered */
	void *user;
	struct rs_tcp_listener *parent; /* before accept */
	struct rs_tcp_link qlink;	/* listener queue, or the free list */
	struct rs_tcp_link blink;	/* st->blocked while output waits */
	struct rs_tcp_link clink;	/* st->corked: written, not pushed */
	struct rs_tcp_link twlink;	/* st->time_wait: orphan in TIME-WAIT */
	uint64_t tw_since;		/* TIME-WAIT (re)started */

	/* who holds it, what is queued */
	bool in_use, app_held, orphan, in_flow, shut_rd;
	bool port_used;	  /* port_use(+1) was called: -1 when freed */
	uint8_t port_how; /* ... how it came by the port (rs_tcp_port_how) */
	bool fin_queued, fin_sent, fin_acked, peer_fin, ack_now, ws_ok;
	/* Our SYN is acked: from here on SND.UNA counts data only.  A flag,
	 * not SND.UNA compared with ISS: 2 GiB on, sequence arithmetic
	 * puts SND.UNA "before" ISS again. */
	bool syn_acked;
	/* RFC 7661 (tcp_out.c cwnd_validate()): whether cwnd was full at a
	 * send of the window of data that ends at usage_seq, and that
	 * window's largest flight. */
	bool cwnd_full;
	uint32_t max_flight, usage_seq;
	bool rtt_timing, in_recovery, partial_seen, passive, force;
	uint8_t queue; /* RS_TCP_Q_*: which listener queue */
	bool ooo_fin;  /* a FIN sits at ooo_fin_off */
	uint64_t ooo_fin_off;

	/* send sequence space */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	uint8_t snd_wscale, rcv_wscale;
	uint16_t snd_mss, rcv_mss;

	/* receive sequence space */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge announced */
	uint32_t rcv_unacked;		/* bytes since our last ACK */
	uint16_t n_ooo, ooo_cap;	/* intervals held, room at ooo */
	struct rs_tcp_ooo *ooo;		/* ooo_in, or a heap array */
	struct rs_tcp_ooo ooo_in[RS_TCP_OOO_INLINE];
	uint32_t ooo_stamp;		    /* arrivals out of order */
	bool dsack;			    /* report dsack_blk once */
	struct rs_tcp_sack_block dsack_blk; /* RFC 2883 duplicate */

	/* RFC 7323 timestamps (tcp_ts.c), RFC 2018 SACK (tcp_sack.c) */
	bool ts_ok, sack_ok;	/* negotiated */
	uint32_t ts_offset;	/* TSval = ms clock + ts_offset */
	uint32_t ts_recent;	/* TS.Recent (§4.3) */
	uint64_t ts_recent_at;	/* when it was taken (§5.5: 24 days) */
	uint32_t last_ack_sent; /* Last.ACK.sent */
	uint64_t chack_last;	/* our last challenge ACK (per connection) */
	uint32_t ts_last;	/* the last TSval we sent (TIME-WAIT reuse) */
	uint64_t snd_seen, rcv_seen; /* ring heads at the last sweep */
	uint8_t n_sb;		     /* scoreboard: SACKed, sorted, disjoint */
	struct rs_tcp_sack_block sb[RS_TCP_SB_MAX];
	uint32_t high_rxt; /* RFC 6675 HighRxt: resent up to here */
	bool rescued;	   /* ... and this recovery's rescue resend went */
	/* RFC 6937 PRR, in SACK recovery (tcp_cc.c): bytes delivered and
	 * sent since it began, and the flight when it began */
	uint32_t prr_delivered, prr_out, recover_fs;
	/* Spurious fast retransmits (RFC 3522 detection by timestamps,
	 * RFC 4015 response) and the DupThresh they teach (tcp_cc.c) */
	bool undo_ok; /* recovery may still prove spurious */
	/* RFC 3708: the last SACK recovery's resends not D-SACKed yet; while
	 * dsack_undo, all of them coming back D-SACKed undoes it */
	bool dsack_undo;
	bool undo_end_set; /* ... and undo_end is set: */
	uint32_t undo_end; /* D-SACKs count until this is acked (an RTT
			      after the recovery) */
	uint16_t undo_retrans;
	uint8_t dupthresh;		   /* 3, raised by reordering seen */
	uint32_t undo_cwnd, undo_ssthresh; /* before the recovery */
	uint32_t rtx_tsval;		   /* TSval of its first resend */
	struct rs_tcp_cubic cub_undo;	   /* CUBIC's epoch before it */

	/* What the RTX timer is armed as (RS_TCP_RTX_AS_*: the RTO, the
	 * probe timeout, RACK's reordering timer; tcp_timer.c) */
	uint8_t rtx_as;
	/* Tail Loss Probe (RFC 8985 §7; tcp_timer.c, tcp_cc.c): a probe is
	 * out (tlp_out), the segment it resent began at tlp_seq, and snd_max
	 * was tlp_end then; once an ACK shows holes below a delivered probe,
	 * every unSACKed byte below tlp_seq is lost (tlp_lost: RACK's
	 * verdict, as all of it left a PTO before) */
	bool tlp_out, tlp_lost;
	uint32_t tlp_seq, tlp_end;

	/* RACK (RFC 8985 §6; tcp_rack.c): when each range of the flight
	 * last went (xl); of the delivered bytes, the range sent last
	 * (rack_t, rack_end) and its RTT; the highest delivered byte
	 * (rack_fack); reordering seen; the reordering window's D-SACK
	 * multiplier, its round and the recoveries it lasts; the verdict:
	 * every unSACKed byte below rack_lost is lost. */
	bool rack_valid, rack_reord, reo_round_on;
	uint8_t xl_n, reo_mult, reo_persist;
	uint32_t rack_t, rack_end, rack_fack, rack_lost, reo_round;
	uint32_t xl_first; /* when the last range's first byte went */

	/* Pacing (tcp_out.c): new data goes no sooner than this (ns) */
	uint64_t pace_next;
	/* ns; min_rtt: the least of the timed segment's RTTs (tcp_cc.c;
	 * 0, none yet) */
	uint64_t rack_rtt, min_rtt;
	struct rs_tcp_xlog xl[RS_TCP_XLOG_MAX];

	/* HyStart++ (RFC 9406, tcp_cc.c): its phase, the round (ends when
	 * snd_una reaches hs_end), RTT samples and minimum of this round
	 * and the last, and conservative slow start's baseline and rounds */
	uint8_t hs_phase; /* RS_TCP_HS_* */
	uint8_t hs_samples, hs_css_rounds;
	uint32_t hs_end;
	uint64_t hs_min, hs_last_min, hs_css_base;

	/* congestion control (RFC 5681, 6582) and RTT (RFC 6298) */
	uint32_t cwnd, ssthresh, recover;
	uint32_t dupacks;
	struct rs_tcp_cubic cub;    /* cfg.cc CUBIC only */
	uint64_t srtt, rttvar, rto; /* ns; srtt 0: no sample yet */
	uint32_t rtt_seq;
	uint64_t rtt_start;
	uint32_t retries;	/* consecutive RTOs, this segment */
	uint32_t probes;	/* zero-window probes unanswered */
	uint32_t persist_shift; /* persist back-off exponent */
	uint32_t keep_probes;	/* keepalives unanswered */
	uint64_t keep_sent;	/* when the last keepalive went */
	uint64_t last_rcv;	/* when a segment last arrived */

	/* Buffer auto-tuning (tcp_tune.c): the receiver's RTT estimate and
	 * its per-window measurement, what the application drained in the
	 * last measured round trip, and the capacity the rings gained */
	uint64_t rcv_rtt;      /* ns; 0: none yet */
	uint32_t rcv_rtt_seq;  /* window measurement: ends when rcv_nxt */
	uint64_t rcv_rtt_time; /* ... passes this; started then (0: off) */
	uint64_t rcvq_seq;     /* ring tail when the round began */
	uint64_t rcvq_time;    /* when it began; 0: not yet */
	uint32_t rcvq_space;   /* bytes drained in the last round */
	uint32_t tuned;	       /* capacity gained, both rings */
	bool snd_tune_off;     /* a growth of the send ring was refused */

	struct rs_tcp_timer t[RS_TCP_T_KINDS];
	struct rs_tcp_sockopts opts;
	struct rs_byte_ring *snd, *rcv;
};

struct rs_tcp_listener {
	struct rs_tcp_tuple tuple; /* raddr = rport = 0; must stay first */
	struct rs_tcp_stack *st;
	bool in_use;
	unsigned ev;
	void *user;
	unsigned backlog, n_syn, n_acc;
	struct rs_tcp_link syn_q, acc_q;
	struct rs_tcp_sockopts opts;
	uint64_t cookies_until; /* ACKs are tried as SYN cookies till then */
};

/** Open-addressing hash of tuple pointers (conns and listeners). */
struct rs_tcp_flowtab {
	struct rs_tcp_tuple **slot;
	uint32_t mask;
	uint64_t k0, k1; /* hash key */
};

struct rs_tcp_stack {
	struct rs_tcp_config cfg;
	struct rs_tcp_stats stats; /* drops; ctr unless counted elsewhere */
	uint64_t *ctr; /* the counters: stats.ctr, or the caller's */
	struct rs_tcp_wheel wheel;
	struct rs_tcp_conn *conns;
	struct rs_tcp_link free_conns;
	struct rs_tcp_link blocked; /* conns whose output emit() held back */
	struct rs_tcp_link corked;  /* autocork conns written this round */
	/* Orphans in TIME-WAIT, oldest first: what a new open may take
	 * over (rs_tcp_tw_reuse) or evict when the pool is full. */
	struct rs_tcp_link time_wait;
	unsigned n_conns, n_syn_recv;
	uint64_t tuned; /* capacity auto-tuning gave all connections */
	/* Connections of the pool in each state (tcp_state_set()): they
	 * add up to n_conns. */
	unsigned in_state[RS_TCP_STATE_MAX];
	struct rs_tcp_listener *listeners;
	unsigned n_listeners;
	struct rs_tcp_flowtab flows, lflows;
	uint32_t port_next;	 /* RFC 6056 next_ephemeral */
	uint32_t sweep_next;	 /* ring_sweep(): the next pool entry */
	uint64_t sweep_due;	 /* ring_sweep(): when the next slice is */
	uint64_t run_now;	 /* now of rs_tcp_timers_run() */
	bool test_isn;		 /* tests only: every ISN is ... */
	uint32_t test_isn_value; /* ... this one */
	uint64_t chack_second;	 /* challenge ACK rate limit */
	uint32_t chack_count;
};

/* ---------------------------------------------------------------------- */
/* tcp_conn.c: pool, flow table, lifetime                                 */
/* ---------------------------------------------------------------------- */

int rs_tcp_flow_init(struct rs_tcp_flowtab *ft, uint32_t entries,
		     const uint8_t key[16]);
void rs_tcp_flow_fini(struct rs_tcp_flowtab *ft);
struct rs_tcp_tuple *rs_tcp_flow_find(const struct rs_tcp_flowtab *ft,
				      const struct rs_tcp_tuple *key);
void rs_tcp_flow_insert(struct rs_tcp_flowtab *ft, struct rs_tcp_tuple *t);
void rs_tcp_flow_remove(struct rs_tcp_flowtab *ft, struct rs_tcp_tuple *t);

struct rs_tcp_conn *rs_tcp_conn_lookup(struct rs_tcp_stack *st,
				       const struct rs_tcp_tuple *t);
struct rs_tcp_listener *rs_tcp_listener_lookup(struct rs_tcp_stack *st,
					       uint32_t laddr, uint16_t lport);
/** Take a pool entry for @p t (ISN chosen, timers idle, no rings). */
struct rs_tcp_conn *rs_tcp_conn_alloc(struct rs_tcp_stack *st,
				      const struct rs_tcp_tuple *t,
				      const struct rs_tcp_sockopts *o,
				      uint64_t now);
/** The connection takes its local port: config.port_use(+1).
 *  @return 0, or port_use's negative errno. */
int rs_tcp_conn_port_use(struct rs_tcp_conn *c, enum rs_tcp_port_how how);
/** Allocate the two rings.  @return 0 or -ENOMEM. */
int rs_tcp_conn_rings(struct rs_tcp_conn *c);
/* tcp_tune.c: buffer auto-tuning */
/** The largest receive ring @p o may grow to (its window scale). */
static inline uint32_t rs_tcp_rcv_buf_top(const struct rs_tcp_stack *st,
					  const struct rs_tcp_sockopts *o)
{
	if (o->rcv_lock || st->cfg.rcv_buf_max <= o->rcv_buf)
		return o->rcv_buf;
	return st->cfg.rcv_buf_max;
}
/** Whether @p c's receive ring may still grow. */
static inline bool rs_tcp_rcv_tunable(const struct rs_tcp_conn *c)
{
	return c->rcv != NULL && rs_tcp_rcv_buf_top(c->st, &c->opts) >
				     rs_byte_ring_capacity(c->rcv);
}
/** In-order data arrived: a sample of the receiver's RTT, by the
 *  echoed timestamp or by the time one window took to arrive. */
void rs_tcp_tune_rcv_rtt(struct rs_tcp_conn *c, uint64_t now,
			 const struct rs_tcp_seg_in *s);
/** The application drained the receive ring: once a round trip, raise
 *  its capacity to what the last round trip drained, doubled. */
void rs_tcp_tune_rcv(struct rs_tcp_conn *c, uint64_t now);
/** cwnd may have grown: keep the send ring at twice it. */
void rs_tcp_tune_snd(struct rs_tcp_conn *c);
/** The connection is freed: the stack's budget gets its growth back. */
void rs_tcp_tune_free(struct rs_tcp_conn *c);

/** Return an entry to the pool (timers, flow, queue, rings undone). */
void rs_tcp_conn_free(struct rs_tcp_conn *c);
/** Enter CLOSED: cancel timers, leave the flow table, set @p err and
 *  queue ERROR/CLOSED events. */
void rs_tcp_conn_closed(struct rs_tcp_conn *c, int err);
/** End of an entry point for @p c: deliver its events, free an orphan
 *  that reached CLOSED.  @p c may be gone afterwards. */
void rs_tcp_conn_finish(struct rs_tcp_conn *c);
/** Move a child from its listener's SYN queue to the accept queue.
 *  @return 0, or -ENOBUFS when the accept queue is full. */
int rs_tcp_conn_to_accept_q(struct rs_tcp_conn *c);
void rs_tcp_listener_finish(struct rs_tcp_listener *l);
/** Choose a local port for @p t (lport filled in): a free one, or one
 *  whose TIME-WAIT may be reused (then *@p old is that connection, to be
 *  replaced through rs_tcp_tw_reuse(); else NULL); *@p how says which
 *  round of port_ok took it.
 *  @return 0 or -EADDRNOTAVAIL. */
int rs_tcp_port_choose(struct rs_tcp_stack *st, struct rs_tcp_tuple *t,
		       uint64_t now, struct rs_tcp_conn **old,
		       enum rs_tcp_port_how *how);
/** May an active open at @p now take @p t (given its port)?  True when
 *  no connection has it, or a TIME-WAIT one that may be reused (*@p old
 *  set as for rs_tcp_port_choose()). */
bool rs_tcp_tuple_usable(struct rs_tcp_stack *st, const struct rs_tcp_tuple *t,
			 uint64_t now, struct rs_tcp_conn **old);
/** Free the TIME-WAIT @p old that a new active open replaces (counted
 *  tw_reused).  @return the sequence number the new ISS must pass. */
uint32_t rs_tcp_tw_reuse(struct rs_tcp_conn *old);
/** Make @p c's ISS (not yet sent) lie beyond @p seq. */
void rs_tcp_conn_iss_beyond(struct rs_tcp_conn *c, uint32_t seq);
/** Put @p c at the tail of the stack's TIME-WAIT list, if it is an
 *  orphan in TIME-WAIT (entered, restarted, or just closed by the
 *  application). */
void rs_tcp_tw_queue(struct rs_tcp_conn *c);
/** Choose the receive window scale for a ring of @p buf bytes. */
uint8_t rs_tcp_wscale_for(uint32_t buf);
/** Set snd_mss, rcv_mss, the window scales and cwnd after a SYN. */
void rs_tcp_conn_negotiate(struct rs_tcp_conn *c, const struct rs_tcp_opts *o);

/* ---------------------------------------------------------------------- */
/* tcp_out.c                                                              */
/* ---------------------------------------------------------------------- */

/** Send what the window, cwnd, Nagle allow; FIN; a pending ACK. */
void rs_tcp_out_push(struct rs_tcp_conn *c, uint64_t now);
/** Send a bare ACK now (also serves challenge ACKs and keepalives at
 *  @p seq). */
void rs_tcp_out_ack(struct rs_tcp_conn *c, uint64_t now, uint32_t seq);
/** Challenge ACK (RFC 5961), rate limited per stack. */
void rs_tcp_out_challenge(struct rs_tcp_conn *c, uint64_t now);
/** SYN (active open) or SYN-ACK, at iss. */
void rs_tcp_out_syn(struct rs_tcp_conn *c, uint64_t now);
/** RST for connection @p c (seq snd_nxt, ACK rcv_nxt). */
void rs_tcp_out_rst(struct rs_tcp_conn *c);
/** RST answering @p s, which matched no connection (RFC 9293 §3.10.7.1). */
void rs_tcp_out_rst_reply(struct rs_tcp_stack *st,
			  const struct rs_tcp_seg_in *s);
/** Retransmit one segment at snd_una (fast retransmit, partial ACK).
 *  @return the sequence space it covers (0: nothing sent). */
uint32_t rs_tcp_out_retransmit(struct rs_tcp_conn *c, uint64_t now);
/** Resend data [@p seq, @p seq + @p len) (SACK recovery; at most
 *  snd_mss).  @return bytes sent (0: none, or emit() refused). */
uint32_t rs_tcp_out_resend(struct rs_tcp_conn *c, uint64_t now, uint32_t seq,
			   uint32_t len);
/** Tail loss probe: resend the last segment sent (its last SMSS of data,
 *  and the FIN if it went).  @return the sequence number it starts at
 *  in *@p seq, and the sequence space it covers (0: nothing sent). */
uint32_t rs_tcp_out_tail_probe(struct rs_tcp_conn *c, uint64_t now,
			       uint32_t *seq);
/** Zero-window probe: one byte at snd_una. */
void rs_tcp_out_probe(struct rs_tcp_conn *c, uint64_t now);
/** emit() held @p c's output back (-EAGAIN): queue it for
 *  rs_tcp_output_resume(). */
void rs_tcp_out_block(struct rs_tcp_conn *c);
/** Window update after the application released receive space. */
void rs_tcp_out_window_update(struct rs_tcp_conn *c, uint64_t now);
/** The window field to announce now (also moves rcv_adv). */
uint16_t rs_tcp_rcv_window(struct rs_tcp_conn *c);

/* ---------------------------------------------------------------------- */
/* tcp_rcv.c: receive side                                                */
/* ---------------------------------------------------------------------- */

/** Take in-window payload (already trimmed to the window) and a FIN. */
void rs_tcp_rcv_data(struct rs_tcp_conn *c, uint64_t now,
		     const struct rs_tcp_seg_in *s);
/** Space the receive ring can still promise (ring free space). */
uint32_t rs_tcp_rcv_space(const struct rs_tcp_conn *c);
/** A duplicate segment's data [@p seq, @p seq + @p len) arrived: report
 *  it in the next ACK (RFC 2883). */
void rs_tcp_rcv_dup(struct rs_tcp_conn *c, uint32_t seq, uint32_t len);
/** The SACK blocks our next ACK reports (RFC 2018 §4, RFC 2883):
 *  a pending duplicate first, then the out-of-order runs, most recently
 *  grown first.  @return how many were written (<= @p max). */
unsigned rs_tcp_rcv_sack_blocks(const struct rs_tcp_conn *c,
				struct rs_tcp_sack_block *b, unsigned max);

/* ---------------------------------------------------------------------- */
/* tcp_ts.c: timestamps (RFC 7323)                                        */
/* ---------------------------------------------------------------------- */

/** Our TSval at @p now. */
uint32_t rs_tcp_ts_now(const struct rs_tcp_conn *c, uint64_t now);
/** PAWS (§5.3 R1). @return false when @p s is an old duplicate. */
bool rs_tcp_ts_paws_ok(const struct rs_tcp_conn *c, uint64_t now,
		       const struct rs_tcp_seg_in *s);
/** Keep TS.Recent (§4.3) from an acceptable segment. */
void rs_tcp_ts_recent_update(struct rs_tcp_conn *c, uint64_t now,
			     const struct rs_tcp_seg_in *s);
/** An RTT sample from the TSecr of an ACK that moved snd_una (§4.1).
 *  @return false when @p s gives none. */
bool rs_tcp_ts_rtt(struct rs_tcp_conn *c, uint64_t now,
		   const struct rs_tcp_seg_in *s);

/* ---------------------------------------------------------------------- */
/* tcp_sack.c: the sender's scoreboard and SACK recovery (RFC 6675)       */
/* ---------------------------------------------------------------------- */

/** Take in the SACK blocks of @p s.  @return bytes newly SACKed. */
uint32_t rs_tcp_sack_update(struct rs_tcp_conn *c,
			    const struct rs_tcp_seg_in *s);
/** snd_una moved: forget what lies below it. */
void rs_tcp_sack_trim(struct rs_tcp_conn *c);
/** IsLost(snd_una): enough SACKed above the first hole. */
bool rs_tcp_sack_head_lost(const struct rs_tcp_conn *c);
/** RFC 6675 SetPipe(): bytes presumed in flight. */
uint32_t rs_tcp_sack_pipe(const struct rs_tcp_conn *c);
/** Bytes the scoreboard holds SACKed. */
uint32_t rs_tcp_sack_bytes(const struct rs_tcp_conn *c);
/** Whether the scoreboard holds all of [@p l, @p r). */
bool rs_tcp_sack_covers(const struct rs_tcp_conn *c, uint32_t l, uint32_t r);
/** In recovery: resend holes (NextSeg rules 1 and 3) while cwnd - pipe
 *  leaves a segment's room; new data (rule 2) is left to the output. */
void rs_tcp_sack_fill(struct rs_tcp_conn *c, uint64_t now);
/* RFC 5681 DupThresh, and the most reordering may raise it to. */
#define RS_TCP_DUPTHRESH 3
#define RS_TCP_DUPTHRESH_MAX 64

/** DupThresh now: raised after spurious retransmits (RFC 4653's idea),
 *  but never so far that the window could not supply it (2/3 of cwnd,
 *  as TCP-NCR's careful variant), never below 3. */
static inline uint32_t rs_tcp_dupthresh(const struct rs_tcp_conn *c)
{
	uint32_t cap = c->cwnd / c->snd_mss * 2 / 3;

	return RS_TCP_MAX((uint32_t)RS_TCP_DUPTHRESH,
			  RS_TCP_MIN((uint32_t)c->dupthresh, cap));
}

/** Whether loss recovery runs on the scoreboard (RFC 6675). */
static inline bool rs_tcp_sack_recovery(const struct rs_tcp_conn *c)
{
	return c->sack_ok && c->in_recovery;
}

/* ---------------------------------------------------------------------- */
/* tcp_cc.c: ACK processing, congestion control, RTT                      */
/* ---------------------------------------------------------------------- */

void rs_tcp_cc_init(struct rs_tcp_conn *c);
/** Process the ACK field of an acceptable segment in a synchronized
 *  state (RFC 9293 §3.10.7.4 fifth step).  @return 0, or a drop reason. */
int rs_tcp_ack_process(struct rs_tcp_conn *c, uint64_t now,
		       const struct rs_tcp_seg_in *s);
/** Retransmission time-out: collapse cwnd (RFC 5681 §3.1, RFC 6582). */
void rs_tcp_cc_on_rto(struct rs_tcp_conn *c);
/** An RTT sample (RFC 6298 §2). */
void rs_tcp_rtt_sample(struct rs_tcp_conn *c, uint64_t rtt);

/* Largest cwnd (bytes) either algorithm grows to. */
#define RS_TCP_CWND_MAX (1u << 30)

/* ---------------------------------------------------------------------- */
/* tcp_cubic.c: CUBIC window arithmetic (RFC 9438)                        */
/* ---------------------------------------------------------------------- */

/** floor(cbrt(@p x)), exactly, in integers. */
uint64_t rs_tcp_cbrt(uint64_t x);
/** K (§4.2 eq. 2) in ms for W_max - cwnd_epoch = @p dist bytes. */
uint32_t rs_tcp_cubic_k(uint32_t dist, uint16_t mss);
/** W_cubic(t) (§4.2 eq. 1) in bytes, t in ms since the epoch began;
 *  clamped to [0, RS_TCP_CWND_MAX]. */
uint32_t rs_tcp_cubic_w(uint32_t w_max, uint32_t k_ms, uint16_t mss,
			uint64_t t_ms);
/** Forget every epoch (a new connection). */
void rs_tcp_cubic_init(struct rs_tcp_conn *c);
/** A congestion event (§4.6, §4.7): W_max, end of the epoch.
 *  @return the new ssthresh, cwnd * beta_cubic (at least 2 SMSS). */
uint32_t rs_tcp_cubic_loss(struct rs_tcp_conn *c);
/** A retransmission time-out (§4.8).  @return the new ssthresh. */
uint32_t rs_tcp_cubic_rto(struct rs_tcp_conn *c);
/** Congestion avoidance: @p acked new bytes at @p now (§4.2-4.5). */
void rs_tcp_cubic_grow(struct rs_tcp_conn *c, uint64_t now, uint32_t acked);

/* ---------------------------------------------------------------------- */
/* tcp_rack.c: RACK (RFC 8985 §6)                                         */
/* ---------------------------------------------------------------------- */

/** Data [@p seq, +@p len) went at @p now (new, or resent below snd_max). */
void rs_tcp_rack_sent(struct rs_tcp_conn *c, uint32_t seq, uint32_t len,
		      uint64_t now);
/** snd_una moved: ranges it passed leave the log. */
void rs_tcp_rack_trim(struct rs_tcp_conn *c);
/** An acceptable ACK, before the scoreboard takes its blocks: what it
 *  delivers updates RACK's segment, RTT and reordering; @p dsack, it
 *  carries a D-SACK. */
void rs_tcp_rack_update(struct rs_tcp_conn *c, uint64_t now,
			const struct rs_tcp_seg_in *s, bool dsack);
/** The reordering window's multiplier doubles: a D-SACK round, or a
 *  recovery undone as spurious; @p reordered (the timestamps showed the
 *  original arrived, only late: as Linux's undo) is reordering seen too.
 *  A D-SACK is not: a rescue resend or a tail loss probe earns one
 *  whenever the original was not lost. */
void rs_tcp_rack_widen(struct rs_tcp_conn *c, bool reordered);
/** A SACK recovery begins: the widening counts it. */
void rs_tcp_rack_recovery(struct rs_tcp_conn *c);
/** Mark what RACK finds lost (rack_lost, and HighRxt back for a lost
 *  resend).  @return when the next verdict falls due, ns from now (0:
 *  none). */
uint64_t rs_tcp_rack_detect(struct rs_tcp_conn *c, uint64_t now);
/** The reordering timer fired (tcp_cc.c): detect, recover, resend. */
void rs_tcp_rack_timeout(struct rs_tcp_conn *c, uint64_t now);
/** After an ACK: arm the RTX timer as the reordering timer, @p timeout
 *  ns from now, when that comes before it fires anyway. */
void rs_tcp_rack_arm(struct rs_tcp_conn *c, uint64_t now, uint64_t timeout);

/* ---------------------------------------------------------------------- */
/* tcp_timer.c                                                            */
/* ---------------------------------------------------------------------- */

void rs_tcp_timer_set(struct rs_tcp_conn *c, enum tcp_timer_kind k,
		      uint64_t now, uint64_t delay);
void rs_tcp_timer_stop(struct rs_tcp_conn *c, enum tcp_timer_kind k);
/** (Re)start the retransmission timer at the current RTO. */
void rs_tcp_timer_rtx_restart(struct rs_tcp_conn *c, uint64_t now);
/** RFC 8985 §7.2: after new data went out or an ACK acknowledged new
 *  data, arm the RTX timer as the probe timeout when that comes before
 *  the RTO (a SACK connection with data in flight, no probe out, not in
 *  recovery). */
void rs_tcp_tlp_arm(struct rs_tcp_conn *c, uint64_t now);
/** Arm the persist timer if data waits, nothing is in flight and no
 *  retransmission timer runs. */
void rs_tcp_timer_persist_check(struct rs_tcp_conn *c, uint64_t now);
/** Arm keepalive if enabled and the state wants it. */
void rs_tcp_timer_keep_check(struct rs_tcp_conn *c, uint64_t now);
/** Enter TIME-WAIT (2 MSL). */
void rs_tcp_enter_time_wait(struct rs_tcp_conn *c, uint64_t now);
/** TIME-WAIT starts again (a retransmitted FIN): 2 MSL from @p now. */
void rs_tcp_time_wait_restart(struct rs_tcp_conn *c, uint64_t now);
void rs_tcp_timer_fire(void *ctx, struct rs_tcp_timer *t);
/** Back to snd_una: everything unacknowledged is sent again. */
void rs_tcp_go_back(struct rs_tcp_conn *c);
/** Fail @p c for a time-out: ETIMEDOUT, or the soft error it had. */
void rs_tcp_timed_out(struct rs_tcp_conn *c, int err);

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

/** A synchronized state: SYN-RECEIVED and later, not CLOSED/LISTEN. */
static inline bool rs_tcp_synchronized(enum rs_tcp_state s)
{
	return s >= RS_TCP_SYN_RECEIVED;
}

/** Sequence number of the send ring's byte at offset @p off. */
static inline uint32_t rs_tcp_snd_seq(const struct rs_tcp_conn *c, uint64_t off)
{
	return c->iss + 1 + (uint32_t)off;
}

/** Sequence number of the FIN (valid once fin_queued). */
static inline uint32_t rs_tcp_fin_seq(const struct rs_tcp_conn *c)
{
	return rs_tcp_snd_seq(c, rs_byte_ring_head(c->snd));
}

/** Option bytes every segment of @p c carries (timestamps), which the
 *  payload gives up (RFC 6691). */
static inline uint16_t rs_tcp_ts_len(const struct rs_tcp_conn *c)
{
	return c->ts_ok ? RS_TCP_TS_LEN : 0;
}

/** Bytes of data in flight (sent, not acked), not counting SYN/FIN. */
static inline uint32_t rs_tcp_flight(const struct rs_tcp_conn *c)
{
	return c->snd_nxt - c->snd_una;
}

/** RACK alone decides loss (tcp_rack.c): it is on and the path was seen
 *  to reorder, where DupThresh -- counted in duplicate ACKs or in SACKed
 *  segments -- would call reordered segments lost (as Linux). */
static inline bool rs_tcp_rack_time_only(const struct rs_tcp_conn *c)
{
	return c->st->cfg.rack && c->sack_ok && c->rack_reord;
}

/** Make @p c the SYN-RECEIVED child of listener @p l (tcp_in.c). */
void rs_tcp_syn_child(struct rs_tcp_listener *l, struct rs_tcp_conn *c);

/* tcp_cookie.c: SYN cookies (RFC 4987 §3.6). */

/** Answer a SYN to a listener whose SYN queue is full with a SYN cookie,
 *  keeping nothing.  @return RS_TCP_IN_OK, or a drop. */
int rs_tcp_cookie_syn(struct rs_tcp_listener *l, uint64_t now,
		      const struct rs_tcp_seg_in *s);

/** An ACK to a listener: when it returns a valid cookie, the connection
 *  it completes (in SYN-RECEIVED, for the ACK to finish); else NULL. */
struct rs_tcp_conn *rs_tcp_cookie_ack(struct rs_tcp_listener *l, uint64_t now,
				      const struct rs_tcp_seg_in *s);

/** Send the SYN-ACK of a cookie: @p iss, for the SYN @p in. */
void rs_tcp_out_synack_cookie(struct rs_tcp_stack *st,
			      const struct rs_tcp_seg_in *in, uint32_t iss,
			      uint16_t window, int ws, bool sack,
			      const struct rs_tcp_ts *ts);

/* Every change of a connection's state goes through here, so that the
 * stack's count of connections by state stays true. */
static inline void tcp_state_set(struct rs_tcp_conn *c, enum rs_tcp_state s)
{
	c->st->in_state[c->state]--;
	c->st->in_state[s]++;
	c->state = s;
}

#endif /* RS_TCP_PVT_H */
