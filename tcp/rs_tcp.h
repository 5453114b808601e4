/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef RS_TCP_H
#define RS_TCP_H

/* API v1: stable.  v1.1 adds, without changing v1: rs_tcp_icmp_input(),
 * rs_tcp_output_blocked() / rs_tcp_output_resume() with emit()'s -EAGAIN
 * (back-pressure), the ICMP_* drop reasons and the counters after
 * WINDOW_UPDATES (both appended: existing values unchanged).  v1.2 adds
 * rs_tcp_config's timestamps and sack (RFC 7323, 2018, 2883, 6675), the
 * PAWS drop reason and the SACK and spurious-recovery counters (appended
 * likewise).  v1.3 adds rs_tcp_config's cc (RFC 9438 CUBIC; NewReno
 * stays the default).  v1.4 adds rs_tcp_config's tw_reuse_ns,
 * rs_tcp_time_wait_flush() and the tw_reused, tw_evicted and tw_flushed
 * counters (appended), tso_max with rs_tcp_set_tso_max() and the
 * tso_segs_out counter, and ring_idle_ns.  v1.6 adds buffer auto-tuning:
 * rs_tcp_config's rcv_buf_max, snd_buf_max, tune_mem and grow (off when
 * left 0 / NULL), rs_tcp_sockopts' rcv_lock and snd_lock, rs_tcp_info's
 * rcv_buf, snd_buf and rcv_rtt_ns, and the rcv_tuned, snd_tuned and
 * tune_refused counters (appended); and HyStart++ (rs_tcp_config's hystart,
 * the hystart_* counters).  v1.7 adds the Tail Loss Probe (RFC 8985 §7:
 * rs_tcp_config's tlp, the tlp_* counters, appended).  v1.8 adds RACK
 * (RFC 8985 §6: rs_tcp_config's rack, the rack_* counters, appended)
 * and pacing (rs_tcp_config's pacing, the paced counter).  v1.9 adds
 * autocork (rs_tcp_sockopts' autocork, RS_TCP_OPT_AUTOCORK,
 * rs_tcp_flush()).  v1.10 adds rs_tcp_counters_at(): the counters kept
 * where the caller reads them. */

/**
 * @file
 * TCP core: a per-lcore TCP stack in pure C (no DPDK, no clock, no I/O).
 *
 * The caller (the data plane's worker loop, or the packet-script tests)
 * owns all I/O and all time:
 *
 *   rs_tcp_input()       hand it a received TCP segment (header + payload,
 *                        contiguous) with the IPv4 addresses around it;
 *   config.emit()        it hands back each segment to send, as a
 *                        struct rs_tcp_seg whose payload points straight
 *                        into the connection's send ring (valid only for
 *                        the duration of the call);
 *   rs_tcp_timers_run()  called from the poll loop; rs_tcp_next_timer()
 *                        says how long an idle loop may sleep;
 *   config.event()       tells the owner of a connection what changed.
 *
 * Every entry point takes @c now: monotonic time in nanoseconds, never
 * decreasing from one call to the next.  The stack never reads a clock.
 *
 * One stack per lcore; nothing here locks.  A stack, its connections and
 * listeners must be used by one thread only.
 *
 * Byte order: IPv4 addresses are in network byte order everywhere (as
 * they sit in the IP header); ports, sequence numbers and every other
 * integer are in host byte order.
 *
 * RFCs: 9293 (TCP), 5961 (blind in-window attacks: challenge ACKs),
 * 6298 (retransmission timer), 5681 + 6582 (congestion control, NewReno),
 * 9438 (CUBIC),
 * 7323 (window scale, timestamps, PAWS), 2018 + 2883 (SACK, DSACK),
 * 6675 (SACK loss recovery), 6528 (ISNs), 6056 (ephemeral ports),
 * 1122 §4.2.3.2 and 9293 §3.8.6.2 (delayed ACK, Nagle, SWS avoidance),
 * 1337 (RST in TIME-WAIT ignored).
 *
 * ----------------------------------------------------------------------
 * Connection lifetime (read this before keeping a pointer)
 * ----------------------------------------------------------------------
 *
 * A struct rs_tcp_conn handle belongs to the application from the moment
 * rs_tcp_connect() or rs_tcp_accept() returns it until the application
 * lets go of it with rs_tcp_close(), rs_tcp_abort() or rs_tcp_release().
 * While the application holds it, the stack NEVER frees it: when the
 * connection ends underneath (RST, time-out, orderly close finished) its
 * state becomes RS_TCP_CLOSED, the CLOSED event fires (in the same call
 * as ERROR when rs_tcp_error() is set), and the memory stays valid until
 * the application lets go.  After letting go the handle must not be used
 * again and no more events are delivered for it; a gracefully closed
 * connection lives on inside the stack ("orphaned") until its FIN is
 * acknowledged and TIME-WAIT ends, still counted by rs_tcp_conn_count().
 *
 * Events are delivered only from rs_tcp_input(), rs_tcp_timers_run() and
 * (API v1.1) rs_tcp_icmp_input(),
 * after the stack has finished with the segment or timer that caused
 * them; calls made by the application never call back.  Inside the event
 * callback the application may call any connection or listener function
 * of this API, including rs_tcp_close()/rs_tcp_abort()/rs_tcp_release()
 * on the connection the event is about (not rs_tcp_input(),
 * rs_tcp_timers_run(), rs_tcp_icmp_input(), rs_tcp_output_resume() or
 * rs_tcp_stack_destroy()).
 *
 * Connections that a listener completed but the application has not yet
 * accepted are owned by the stack: if one is reset or times out in the
 * accept queue it is freed silently and never returned by rs_tcp_accept().
 * The ACCEPTABLE event therefore carries no connection (c == NULL).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "rs_byte_ring.h"

struct rs_tcp_stack;
struct rs_tcp_conn;
struct rs_tcp_listener;

/* ---------------------------------------------------------------------- */
/* Segments                                                               */
/* ---------------------------------------------------------------------- */

/** TCP header flags, as in the header's flags byte. */
#define RS_TCP_FIN 0x01
#define RS_TCP_SYN 0x02
#define RS_TCP_RST 0x04
#define RS_TCP_PSH 0x08
#define RS_TCP_ACK 0x10
#define RS_TCP_URG 0x20
#define RS_TCP_ECE 0x40
#define RS_TCP_CWR 0x80

/** Longest TCP header (data offset 15), and the longest options part. */
#define RS_TCP_HDR_MAX 60
#define RS_TCP_OPT_MAX 40
/** TCP header without options. */
#define RS_TCP_HDR_MIN 20

/**
 * One segment for the caller to send.  Handed to config.emit(); every
 * pointer in it is valid only until emit() returns.
 *
 * The glue writes an IPv4 header (saddr -> daddr, protocol 6), then the
 * TCP header (rs_tcp_seg_write_hdr() does it), then the payload: first
 * payload.seg[0], then payload.seg[1] (len 0 when the bytes do not cross
 * the ring's physical end).  The checksum is the glue's (hardware offload,
 * or rs_tcp_seg_write_hdr() with csum = true).
 */
struct rs_tcp_seg {
	uint32_t saddr;	 /**< IPv4 source, network order (ours) */
	uint32_t daddr;	 /**< IPv4 destination, network order */
	uint16_t sport;	 /**< source port, host order */
	uint16_t dport;	 /**< destination port, host order */
	uint32_t seq;	 /**< sequence number */
	uint32_t ack;	 /**< acknowledgement number (0 without ACK) */
	uint16_t window; /**< window field as on the wire (scaled) */
	uint8_t flags;	 /**< RS_TCP_SYN | RS_TCP_ACK | ... */
	uint8_t opt_len; /**< bytes in opt[], a multiple of 4, <= 40 */
	uint8_t opt[RS_TCP_OPT_MAX]; /**< options, already encoded */
	uint32_t payload_len; /**< payload.seg[0].len + payload.seg[1].len */
	uint16_t tso_segsz;   /**< 0, or the payload of each segment the port
				   cuts this one into (TSO): set when
				   payload_len > the MSS; options repeat in
				   every piece */
	struct rs_byte_view payload; /**< payload bytes, in the send ring */
	struct rs_tcp_conn *conn;    /**< the connection, or NULL (a RST for a
					  segment that matched none) */
};

/**
 * Write the TCP header of @p seg (RS_TCP_HDR_MIN + opt_len bytes) into
 * @p hdr, in network byte order, urgent pointer 0.
 *
 * @param csum  true: fill in the checksum (pseudo-header, header and
 *              payload); false: leave it 0 for a hardware offload (which
 *              needs the pseudo-header sum the glue puts there itself).
 * @return the header length written (20..60).
 */
size_t rs_tcp_seg_write_hdr(const struct rs_tcp_seg *seg, void *hdr, bool csum);

/**
 * The Internet checksum of a TCP segment with its IPv4 pseudo-header.
 *
 * @param saddr, daddr  IPv4 addresses, network order.
 * @param tcp           TCP header and payload, contiguous.
 * @param len           their length.
 * @return the checksum as it goes into the header (network order value
 *         stored in host order, i.e. write it with memcpy); a segment
 *         whose checksum field is right gives 0 here.
 */
uint16_t rs_tcp_checksum(uint32_t saddr, uint32_t daddr, const void *tcp,
			 size_t len);

/* ---------------------------------------------------------------------- */
/* States, events, errors, counters                                       */
/* ---------------------------------------------------------------------- */

/** RFC 9293 §3.3.2 connection states. */
enum rs_tcp_state {
	RS_TCP_CLOSED = 0,
	RS_TCP_LISTEN,
	RS_TCP_SYN_SENT,
	RS_TCP_SYN_RECEIVED,
	RS_TCP_ESTABLISHED,
	RS_TCP_FIN_WAIT_1,
	RS_TCP_FIN_WAIT_2,
	RS_TCP_CLOSE_WAIT,
	RS_TCP_CLOSING,
	RS_TCP_LAST_ACK,
	RS_TCP_TIME_WAIT,
	RS_TCP_STATE_MAX
};

/** Event bits handed to config.event(), possibly several at once. */
#define RS_TCP_EV_READABLE 0x01u  /**< new in-order bytes to read */
#define RS_TCP_EV_WRITABLE 0x02u  /**< the peer acked data: send space */
#define RS_TCP_EV_CONNECTED 0x04u /**< active open completed */
#define RS_TCP_EV_ACCEPTABLE                                                   \
	0x08u /**< listener: rs_tcp_accept() has one                           \
		   (c is NULL, user is the listener's) */
#define RS_TCP_EV_PEER_FIN                                                     \
	0x10u		      /**< the peer sent FIN: EOF after the            \
				   bytes already readable */
#define RS_TCP_EV_ERROR 0x20u /**< rs_tcp_error() is now set */
#define RS_TCP_EV_CLOSED                                                       \
	0x40u /**< state is now CLOSED: let go of the                          \
		   handle (close/abort/release) */

/**
 * Why rs_tcp_input() dropped a segment: X(ENUM, name, meaning).
 * Each drop counts once under one reason (struct rs_tcp_stats.drops).
 * The values start at 1: 0 is RS_TCP_IN_OK.
 */
#define RS_TCP_DROPS(X)                                                        \
	X(SHORT, "short", "shorter than a TCP header")                         \
	X(BAD_DOFF, "bad_doff", "data offset < 5 or past the segment")         \
	X(BAD_OPT, "bad_opt", "malformed option list")                         \
	X(BAD_FLAGS, "bad_flags", "SYN with FIN or RST")                       \
	X(BAD_PORT, "bad_port", "source or destination port 0")                \
	X(BAD_CSUM, "bad_csum", "checksum wrong (RS_TCP_IN_CSUM)")             \
	X(NO_SOCKET, "no_socket", "no connection or listener (RST sent)")      \
	X(NO_SOCKET_RST, "no_socket_rst", "RST for no connection")             \
	X(LISTEN_BAD, "listen_bad", "listener got neither SYN nor ACK")        \
	X(SYN_QUEUE_FULL, "syn_queue_full", "SYN dropped: SYN queue full")     \
	X(ACCEPT_QUEUE_FULL, "accept_queue_full",                              \
	  "SYN or handshake ACK dropped: accept queue full")                   \
	X(POOL_FULL, "pool_full", "SYN dropped: connection pool empty")        \
	X(NO_MEMORY, "no_memory", "rings could not be allocated (RST sent)")   \
	X(SYN_SENT_BAD, "syn_sent_bad", "SYN-SENT: unacceptable segment")      \
	X(OUT_OF_WINDOW, "out_of_window", "sequence outside the window")       \
	X(RST_OUT_OF_WINDOW, "rst_out_of_window", "RST outside the window")    \
	X(RST_CHALLENGED, "rst_challenged", "RST in window: challenge ACK")    \
	X(RST_IGNORED, "rst_ignored", "RST in TIME-WAIT (RFC 1337)")           \
	X(SYN_CHALLENGED, "syn_challenged", "SYN in a synchronized state")     \
	X(NO_ACK, "no_ack", "no ACK flag in a synchronized state")             \
	X(ACK_TOO_OLD, "ack_too_old", "ACK below SND.UNA - MAX.SND.WND")       \
	X(ACK_UNSENT, "ack_unsent", "ACK for data not sent yet")               \
	X(BAD_HS_ACK, "bad_hs_ack", "SYN-RECEIVED: unacceptable ACK (RST)")    \
	X(DATA_AFTER_CLOSE, "data_after_close", "data after close (RST)")      \
	X(NO_SPACE, "no_space", "reserved (not counted yet)")                  \
	/* API v1.1: rs_tcp_icmp_input()'s reasons */                          \
	X(ICMP_SHORT, "icmp_short", "ICMP: quoted TCP header under 8 bytes")   \
	X(ICMP_NO_CONN, "icmp_no_conn", "ICMP: no connection for the quote")   \
	X(ICMP_BAD_SEQ, "icmp_bad_seq",                                        \
	  "ICMP: quoted sequence outside SND.UNA..SND.NXT")                    \
	X(ICMP_IGNORED, "icmp_ignored",                                        \
	  "ICMP: type, code or MTU not acted on")                              \
	/* API v1.2: timestamps */                                             \
	X(PAWS, "paws", "timestamp older than TS.Recent (RFC 7323 PAWS)")

/** Things that happened, for telemetry and tests: X(ENUM, name). */
#define RS_TCP_COUNTERS(X)                                                     \
	X(SEGS_IN, "segs_in")                                                  \
	X(SEGS_OUT, "segs_out")                                                \
	X(EMIT_FAILED, "emit_failed")                                          \
	X(DATA_SEGS_OUT, "data_segs_out")                                      \
	X(RETRANS_SEGS, "retrans_segs")                                        \
	X(RTO_FIRED, "rto_fired")                                              \
	X(FAST_RETRANS, "fast_retrans")                                        \
	X(PARTIAL_ACKS, "partial_acks")                                        \
	X(APP_LIMITED_ACKS, "app_limited_acks")                                \
	X(DUP_ACKS, "dup_acks")                                                \
	X(DELACK_SENT, "delack_sent")                                          \
	X(CHALLENGE_ACKS, "challenge_acks")                                    \
	X(CHALLENGE_ACKS_LIMITED, "challenge_acks_limited")                    \
	X(RST_SENT, "rst_sent")                                                \
	X(RST_RECEIVED, "rst_received")                                        \
	X(ACTIVE_OPENS, "active_opens")                                        \
	X(PASSIVE_OPENS, "passive_opens")                                      \
	X(ESTABLISHED, "established")                                          \
	X(TW_RECYCLED, "tw_recycled")                                          \
	X(OOO_SEGS, "ooo_segs")                                                \
	X(OOO_DROPPED, "ooo_dropped")                                          \
	X(ZWP_SENT, "zwp_sent")                                                \
	X(KEEPALIVE_SENT, "keepalive_sent")                                    \
	X(TIMEOUTS, "timeouts")                                                \
	X(WINDOW_UPDATES, "window_updates")                                    \
	/* API v1.1 */                                                         \
	X(ICMP_SOFT, "icmp_soft")                                              \
	X(ICMP_HARD, "icmp_hard")                                              \
	X(PMTU_LOWERED, "pmtu_lowered")                                        \
	X(EMIT_BLOCKED, "emit_blocked")                                        \
	/* API v1.2: SACK */                                                   \
	X(SACK_RECOVERY, "sack_recovery")                                      \
	X(SACK_RETRANS, "sack_retrans")                                        \
	X(SPURIOUS_RECOVERY, "spurious_recovery")                              \
	X(DSACK_SENT, "dsack_sent")                                            \
	/* API v1.4: TIME-WAIT under churn */                                  \
	X(TW_REUSED, "tw_reused")                                              \
	X(TW_EVICTED, "tw_evicted")                                            \
	X(TW_FLUSHED, "tw_flushed")                                            \
	/* segments of more than one MSS, for the port to cut (TSO) */         \
	X(TSO_SEGS_OUT, "tso_segs_out")                                        \
	/* API v1.5: SYN cookies */                                            \
	X(SYNCOOKIES_SENT, "syncookies_sent")                                  \
	X(SYNCOOKIES_OK, "syncookies_ok")                                      \
	X(SYNCOOKIES_BAD, "syncookies_bad")                                    \
	/* RFC 6675 NextSeg rule 4: the tail resent once per recovery */       \
	X(SACK_RESCUE, "sack_rescue")                                          \
	/* RFC 3708: every resend of a recovery D-SACKed: undone */            \
	X(DSACK_UNDO, "dsack_undo")                                            \
	/* API v1.6: buffer auto-tuning, a ring's capacity raised */           \
	X(RCV_TUNED, "rcv_tuned")                                              \
	X(SND_TUNED, "snd_tuned")                                              \
	X(TUNE_REFUSED, "tune_refused")                                        \
	/* API v1.6: HyStart++ (RFC 9406) */                                   \
	X(HYSTART_CSS, "hystart_css")                                          \
	X(HYSTART_CSS_UNDONE, "hystart_css_undone")                            \
	X(HYSTART_CA, "hystart_ca")                                            \
	/* API v1.7: Tail Loss Probe (RFC 8985 §7): probes sent; recoveries   \
	 * a probe's ACK started (holes below it); losses it repaired alone    \
	 * (cwnd reduced); probes that proved needless (D-SACK, dup ACK) */    \
	X(TLP_PROBES, "tlp_probes")                                            \
	X(TLP_RECOVERY, "tlp_recovery")                                        \
	X(TLP_REPAIRED, "tlp_repaired")                                        \
	X(TLP_NEEDLESS, "tlp_needless")                                        \
	/* API v1.8: RACK (RFC 8985 §6): the time rule found bytes lost;      \
	 * found a resend lost; the reordering timer fired; connections that   \
	 * saw reordering */                                                   \
	X(RACK_LOST, "rack_lost")                                              \
	X(RACK_LOST_RTX, "rack_lost_rtx")                                      \
	X(RACK_REO_TIMEOUTS, "rack_reo_timeouts")                              \
	X(RACK_REORDERING, "rack_reordering")                                  \
	/* API v1.8: pacing held new data back until its time */               \
	X(PACED, "paced")

#define RS_TCP_ENUM_DROP(e, name, meaning) RS_TCP_DROP_##e,
#define RS_TCP_ENUM_CTR(e, name) RS_TCP_CTR_##e,

/** Drop reasons; RS_TCP_DROP_NONE (0) is RS_TCP_IN_OK. */
enum rs_tcp_drop {
	RS_TCP_DROP_NONE = 0,
	RS_TCP_DROPS(RS_TCP_ENUM_DROP) RS_TCP_DROP_MAX
};

enum rs_tcp_counter { RS_TCP_COUNTERS(RS_TCP_ENUM_CTR) RS_TCP_CTR_MAX };

/** rs_tcp_input() accepted the segment (it may have been answered). */
#define RS_TCP_IN_OK 0

/** Counters of one stack. */
struct rs_tcp_stats {
	uint64_t drops[RS_TCP_DROP_MAX]; /**< indexed by enum rs_tcp_drop */
	uint64_t ctr[RS_TCP_CTR_MAX];	 /**< indexed by enum rs_tcp_counter */
};

/* ---------------------------------------------------------------------- */
/* Stack                                                                  */
/* ---------------------------------------------------------------------- */

/**
 * Send one segment.  @p io is config.io.  Called from inside the
 * stack's entry points: it must not call back into the stack.
 *
 * @return 0, or a negative errno (e.g. -ENOBUFS: no mbuf).  A failed
 *         segment is treated as lost on the wire: timers recover.
 *         API v1.1: -EAGAIN means "no room now, nothing taken": a data
 *         or FIN segment is held back (no sequence space used) and a
 *         bare ACK stays owed, until rs_tcp_output_resume(); other
 *         segments (SYN, RST, retransmissions, probes) count as lost.
 *         Answer -EAGAIN before allocating anything.
 */
typedef int (*rs_tcp_emit_fn)(void *io, const struct rs_tcp_seg *seg);

/**
 * Tell a connection's (or a listener's) owner what happened.
 *
 * @param user    the user pointer given to rs_tcp_connect(),
 *                rs_tcp_accept() or rs_tcp_listen().
 * @param c       the connection; NULL for listener events (ACCEPTABLE).
 * @param events  RS_TCP_EV_* bits.
 */
typedef void (*rs_tcp_event_fn)(void *user, struct rs_tcp_conn *c,
				unsigned events);

/**
 * May rs_tcp_connect() use this ephemeral port?  (E.g. the glue keeps
 * only ports whose return traffic RSS-hashes to this lcore.)  The stack
 * has already checked that the 4-tuple is free.  Asked first with
 * @p any false for every port in the range; only when none was taken,
 * again with @p any true: may the port be had some other way (the glue
 * claims it when the connection takes it, RS_TCP_PORT_ANY)?
 *
 * @return true to take it, false to try another.
 */
typedef bool (*rs_tcp_port_ok_fn)(void *ctx, uint32_t laddr, uint16_t lport,
				  uint32_t raddr, uint16_t rport, bool any);

/** How a connection came by its local port (port_use). */
enum rs_tcp_port_how {
	RS_TCP_PORT_GIVEN = 0, /**< bound by the application, or accepted */
	RS_TCP_PORT_HASHED,    /**< ephemeral, port_ok(any = false) took it */
	RS_TCP_PORT_ANY,       /**< ephemeral, port_ok(any = true) took it */
};

/**
 * A connection took local port @p lport (@p delta +1: an active open, or
 * a passive one's SYN-RECEIVED entry), or was freed (-1), having come by
 * it as @p how says.  How the glue counts who uses a port (its workers
 * share the port space).  Each +1 that succeeded has one -1, with the
 * same @p how.
 *
 * @return 0; for +1 with RS_TCP_PORT_ANY, a negative errno when the port
 *         cannot be had after all (the connect fails with
 *         EADDRNOTAVAIL).
 */
typedef int (*rs_tcp_port_use_fn)(void *ctx, uint16_t lport, int delta,
				  enum rs_tcp_port_how how);

/**
 * API v1.6: may connection @p c's ring grow by @p delta bytes of capacity
 * (auto-tuning, rcv: the receive ring, else the send ring)?  Called with
 * the connection's user pointer (rs_tcp_set_user()) once the growth fits
 * the stack's own budget (tune_mem); a yes charges it to whoever owns
 * @p user until the connection is freed (the bytes are not given back
 * before: a grown ring stays grown).
 *
 * @return true to allow it.
 */
typedef bool (*rs_tcp_grow_fn)(void *ctx, struct rs_tcp_conn *c, void *user,
			       bool rcv, size_t delta);

/** Congestion control (window arithmetic; loss recovery is shared). */
enum rs_tcp_cc {
	RS_TCP_CC_NEWRENO = 0, /**< RFC 5681 / 6582 */
	RS_TCP_CC_CUBIC,       /**< RFC 9438 */
	RS_TCP_CC_MAX
};

/** The largest payload of a TSO segment: an IPv4 packet of 64 KiB less
 * the IPv4 header and the largest TCP header. */
#define RS_TCP_TSO_MAX (65535u - 20u - 60u)

/** Stack configuration; rs_tcp_config_init() fills in the defaults. */
struct rs_tcp_config {
	uint32_t max_conns;	  /**< connection pool (incl. SYN-RECEIVED and
				       TIME-WAIT); default 4096 */
	uint32_t max_listeners;	  /**< default 64 */
	uint32_t max_syn_recv;	  /**< SYN-RECEIVED entries over all listeners
				       (each listener also <= its backlog);
				       default max_conns / 4 */
	uint16_t mss;		  /**< MSS we announce and our cap on the
				       peer's: MTU - 40; default 1460 */
	uint32_t snd_buf;	  /**< default send ring, power of two;
				       default 64 KiB */
	uint32_t rcv_buf;	  /**< default receive ring, power of two;
				       default 64 KiB */
	uint64_t tick_ns;	  /**< timer wheel granularity; default 1 ms */
	uint64_t delack_ns;	  /**< delayed-ACK time; default 40 ms */
	uint64_t rto_init_ns;	  /**< RFC 6298 initial RTO; default 1 s */
	uint64_t rto_min_ns;	  /**< default 200 ms */
	uint64_t rto_max_ns;	  /**< default 60 s */
	uint32_t max_retries;	  /**< data retransmissions before ETIMEDOUT;
				       default 15 */
	uint32_t max_syn_retries; /**< SYN / SYN-ACK retransmissions; 6 */
	bool keepalive;		  /**< default for new connections; false */
	uint64_t keep_idle_ns;	  /**< default 2 h */
	uint64_t keep_intvl_ns;	  /**< default 75 s */
	uint32_t keep_cnt;	  /**< unanswered probes before ETIMEDOUT; 9 */
	uint64_t time_wait_ns;	  /**< 2 * MSL; default 60 s */
	uint64_t tw_reuse_ns;	  /**< API v1.4: an active open may take
				       over a TIME-WAIT of its 4-tuple
				       that is this old, when timestamps
				       were on (RFC 6191, RFC 7323
				       appendix B); 0 = never; default
				       1 s */
	uint64_t fin_wait2_ns;	  /**< orphaned FIN-WAIT-2 lifetime; 60 s */
	uint64_t ring_idle_ns;	  /**< API v1.4: a connection's ring that
				       is empty and has taken no new bytes
				       for about this long gives a grown
				       buffer back; 0 = never; default 1 s */
	uint32_t init_cwnd;	  /**< initial window in segments; 0 = the
				       RFC 5681 §3.1 rule (2..4 segments) */
	uint32_t challenge_ack_limit;	/**< challenge ACKs per second per stack
					     (RFC 5961 §7); 0 = no limit;
					     default 1000.  A budget shared by
					     every connection is a side channel
					     (CVE-2016-5696): a host facing
					     untrusted peers sets 0 and keeps
					     the per-connection limit */
	uint64_t challenge_ack_conn_ns; /**< API v1.5: at most one challenge
					     ACK per connection this often;
					     0 = no limit; default 500 ms */
	uint16_t port_lo, port_hi;	/**< ephemeral range; 49152..65535 */
	uint32_t tso_max;	/**< payload bytes one segment may carry for the
				     port to cut into MSS pieces (TSO): at most
				     RS_TCP_TSO_MAX; 0 (default) = one MSS */
	bool timestamps;	/**< RFC 7323 timestamps: offered in our SYNs,
				     answered when the peer offers; default off */
	bool sack;		/**< RFC 2018 SACK: likewise; default off */
	bool syncookies;	/**< API v1.5: a listener whose SYN queue is
				     full answers with a SYN cookie (RFC 4987
				     §3.6) instead of dropping the SYN;
				     default off */
	enum rs_tcp_cc cc;	/**< API v1.3; default RS_TCP_CC_NEWRENO */
	bool hystart;		/**< API v1.6: HyStart++ (RFC 9406) in the
				     initial slow start: leave it when the
				     round trip starts to grow (a queue
				     filling), before a loss says so;
				     default off */
	bool tlp;		/**< API v1.7: Tail Loss Probe (RFC 8985 §7;
				     SACK connections): when no ACK comes
				     for two round trips, resend the last
				     segment instead of waiting for the RTO;
				     default off */
	bool rack;		/**< API v1.8: RACK (RFC 8985 §6; SACK
				     connections): a segment is lost once one
				     sent after it arrived and a reordering
				     window passed, besides DupThresh; lost
				     resends found without the RTO; default
				     off */
	bool pacing;		/**< API v1.8: new data goes at cwnd/SRTT
				     times 2 in slow start, 1.2 after, in
				     bursts of up to one tick's worth (at
				     least a segment); default off */
	uint8_t isn_secret[16]; /**< RFC 6528 key (also keys the flow hash
				     and RFC 6056 port choice); fill it from
				     a random source */
	rs_tcp_emit_fn emit;	/**< required */
	void *io;		/**< first argument of emit */
	rs_tcp_event_fn event;	/**< may be NULL (no events) */
	rs_tcp_port_ok_fn port_ok;   /**< may be NULL (every free port is ok) */
	void *port_ctx;		     /**< first argument of port_ok */
	rs_tcp_port_use_fn port_use; /**< may be NULL; called with port_ctx */
	/* API v1.6: buffer auto-tuning (tcp_tune.c).  A connection whose
	 * rings are not locked (rs_tcp_sockopts) starts them at rcv_buf and
	 * snd_buf and raises their capacity as the path asks: the receive
	 * ring to about twice what the application drained in the last
	 * round trip (as Linux's tcp_rcv_space_adjust), the send ring to
	 * twice cwnd; the window scale offered is sized for the maximum. */
	uint32_t rcv_buf_max; /**< largest receive ring, power of two; at or
				   below rcv_buf (0, the default): none */
	uint32_t snd_buf_max; /**< likewise for the send ring */
	uint64_t tune_mem;    /**< capacity all connections together may
				   gain by tuning; 0: no bound */
	rs_tcp_grow_fn grow;  /**< may be NULL (every growth within the
				   budget is allowed) */
	uint16_t ooo_max;     /**< API v1.6: disjoint out-of-order runs a
				   connection keeps (beyond, a segment is
				   dropped, ooo_dropped); 8..65535, default
				   1024.  The first 8 live in the connection,
				   more in an array it allocates when first
				   needed and keeps until it is freed */
	void *grow_ctx;	      /**< first argument of grow */
};

/**
 * Fill @p cfg with the defaults documented on each field.  emit, io,
 * event, port_ok, port_use and the secret are zeroed: the caller sets them.
 */
void rs_tcp_config_init(struct rs_tcp_config *cfg);

/**
 * Create a stack: preallocates the connection pool, the listener table,
 * the flow table and the timer wheel.  Per-connection rings are allocated
 * when a connection is opened (connect) or established (passive), never
 * per packet.
 *
 * @return the stack, or NULL with errno set: EINVAL (a bad field: no
 *         emit, sizes not powers of two, mss < 64, tick_ns 0, rto_min >
 *         rto_max, port_lo > port_hi, an unknown cc...), ENOMEM.
 */
struct rs_tcp_stack *rs_tcp_stack_create(const struct rs_tcp_config *cfg);

/**
 * Set cfg.tso_max after create (the port's offloads are known later than
 * the stack): segments sent from now on may carry up to @p tso_max bytes
 * (clamped to RS_TCP_TSO_MAX; 0 = one MSS).  API v1.4.
 */
void rs_tcp_set_tso_max(struct rs_tcp_stack *st, uint32_t tso_max);

/**
 * Free the stack and everything in it: connections (handles the
 * application still holds become invalid), listeners, rings.  Sends
 * nothing.  NULL is ignored.
 */
void rs_tcp_stack_destroy(struct rs_tcp_stack *st);

/**
 * Ring memory now held by the stack's connections: the sum of
 * rs_byte_ring_allocated() over every send and receive ring.  Walks the
 * connection pool (max_conns entries), so it is for reports and tests, not
 * for the packet path.
 *
 * @return bytes of ring buffer allocated.
 */
size_t rs_tcp_stack_ring_bytes(const struct rs_tcp_stack *st);

/** Flag for rs_tcp_input(): verify the TCP checksum here. */
#define RS_TCP_IN_CSUM 0x1u

/**
 * Process one received segment: parse, validate, look up (4-tuple, then
 * listener by exact then wildcard address), run the state machine,
 * deliver events.  Answers (ACKs, RSTs, SYN-ACKs, data) go out through
 * config.emit() before this returns.
 *
 * @param st      the stack.
 * @param now     monotonic time, ns.
 * @param saddr   IPv4 source (the peer), network order.
 * @param daddr   IPv4 destination (ours), network order.
 * @param tcp     the TCP header followed by the payload, contiguous.
 * @param len     header + payload length (IP total length - IP header).
 * @param flags   0 when the caller verified the checksum, or
 *                RS_TCP_IN_CSUM to have it verified here.
 * @return RS_TCP_IN_OK (0), or the enum rs_tcp_drop reason (> 0) under
 *         which the segment was dropped and counted.  Never fails
 *         otherwise, whatever the bytes.
 */
int rs_tcp_input(struct rs_tcp_stack *st, uint64_t now, uint32_t saddr,
		 uint32_t daddr, const void *tcp, size_t len, unsigned flags);

/** Most runs of memory rs_tcp_input_iov() takes. */
#define RS_TCP_IOV_MAX 64

/**
 * As rs_tcp_input(), for a segment in up to RS_TCP_IOV_MAX runs of memory
 * (a chained mbuf's segments), so that its payload is copied once, from
 * where it lies into the receive ring.  @p iov[0] holds the whole TCP
 * header, options included; the payload follows it there and in the
 * runs after.  The caller has verified the checksum.
 *
 * @param len  header + payload length: at most the runs' total.
 * @return as rs_tcp_input(); a header not within @p iov[0] is dropped as
 *         RS_TCP_DROP_BAD_DOFF.
 */
int rs_tcp_input_iov(struct rs_tcp_stack *st, uint64_t now, uint32_t saddr,
		     uint32_t daddr, const struct iovec *iov, unsigned niov,
		     size_t len);

/* API v1.1: ICMP errors (RFC 9293 §3.9, RFC 1122 §4.2.3.9, RFC 5927,
 * RFC 1191); tcp_icmp.c. */

/** ICMP types and codes rs_tcp_icmp_input() knows (RFC 792). */
#define RS_TCP_ICMP_UNREACH 3	     /**< destination unreachable */
#define RS_TCP_ICMP_TIME_EXCEEDED 11 /**< TTL exceeded in transit */
#define RS_TCP_ICMP_PARAM_PROBLEM 12 /**< parameter problem */
#define RS_TCP_ICMP_PROTO_UNREACH 2  /**< unreachable code: protocol */
#define RS_TCP_ICMP_PORT_UNREACH 3   /**< unreachable code: port */
#define RS_TCP_ICMP_FRAG_NEEDED 4    /**< unreachable code: DF set, too big */

/** Smallest path MTU rs_tcp_icmp_input() lowers a connection to (a
 *  smaller next-hop MTU is taken as this: RFC 5927 §7.2 tiny-MTU
 *  attacks; MSS 536, RFC 9293 §3.7.1's default). */
#define RS_TCP_PMTU_MIN 576

/**
 * An ICMP error about a segment we sent (API v1.1).
 *
 * The connection is the quoted segment's 4-tuple; the ICMP message is
 * acted on only when the quoted sequence number lies in
 * SND.UNA .. SND.NXT (RFC 5927 §4.1), so a blind attacker must guess it.
 *
 *   unreachable, fragmentation needed: the connection's send MSS drops
 *       to @p mtu - 40 (at least RS_TCP_PMTU_MIN - 40; @p mtu 0, an old
 *       router, means the next RFC 1191 plateau below the current path
 *       MTU); an increase is ignored.  What is in flight is sent again
 *       in segments of the new size (RFC 1191 §6.5: not a congestion
 *       signal, cwnd kept).
 *   unreachable, protocol or port, in SYN-SENT: the connection fails
 *       with ECONNREFUSED (RFC 1122 §4.2.3.9 hard errors).
 *   every other unreachable code, time exceeded, parameter problem, and
 *       protocol/port unreachable in a synchronized state (RFC 5927
 *       §4.2): a soft error, remembered; if the connection then times
 *       out, rs_tcp_error() is that error (EHOSTUNREACH, ENETUNREACH,
 *       ENOPROTOOPT, ECONNREFUSED; EPROTO for a parameter problem)
 *       instead of ETIMEDOUT.  New data acknowledged forgets it.
 *
 * @param st      the stack.
 * @param now     monotonic time, ns.
 * @param type    ICMP type; @p code its code.
 * @param mtu     next-hop MTU of fragmentation needed (0: not given).
 * @param saddr   the quoted IPv4 header's source (ours), network order.
 * @param daddr   its destination (the peer), network order.
 * @param tcp     the quoted TCP header's first bytes (ports, sequence).
 * @param len     their number (8 are enough).
 * @return RS_TCP_IN_OK (acted on), or the enum rs_tcp_drop reason
 *         (ICMP_*) under which it was dropped and counted.
 */
int rs_tcp_icmp_input(struct rs_tcp_stack *st, uint64_t now, uint8_t type,
		      uint8_t code, uint16_t mtu, uint32_t saddr,
		      uint32_t daddr, const void *tcp, size_t len);

/**
 * Run every timer due at @p now (retransmission, delayed ACK, persist,
 * keepalive, TIME-WAIT, FIN-WAIT-2, linger).  Call it from the poll loop;
 * calling it often is cheap (no timer due: a few comparisons).
 *
 * @return the number of timers that fired.
 */
unsigned rs_tcp_timers_run(struct rs_tcp_stack *st, uint64_t now);

/**
 * API v1.1: whether emit() held some connection's output back (-EAGAIN)
 * and rs_tcp_output_resume() has work.
 */
bool rs_tcp_output_blocked(const struct rs_tcp_stack *st);

/**
 * API v1.1: send what emit() held back, once the caller has room again
 * (e.g. after its TX burst).  Connections go in the order they were
 * blocked; when emit() refuses again the rest stay queued.  Delivers
 * no events.
 *
 * @return the connections pushed.
 */
unsigned rs_tcp_output_resume(struct rs_tcp_stack *st, uint64_t now);

/**
 * API v1.9: send for every connection with autocork whose application
 * wrote since the last call: one push for all the writes of a round, so
 * replies written one by one leave as full segments (and one ACK for
 * them comes back) instead of a segment each.  Call it once per loop
 * round, after the application's work and before the TX burst: what was
 * written waits no longer than that.  Delivers no events.
 *
 * @return the connections pushed.
 */
unsigned rs_tcp_flush(struct rs_tcp_stack *st, uint64_t now);

/**
 * When rs_tcp_timers_run() next has work.
 *
 * @return an absolute time (ns) no later than the earliest pending
 *         deadline (it may be earlier: the wheel's granularity, or an
 *         internal cascade), or UINT64_MAX when no timer is pending.
 */
uint64_t rs_tcp_next_timer(const struct rs_tcp_stack *st);

/** @return connections in the pool (any state, incl. orphans, TIME-WAIT,
 *  SYN-RECEIVED and closed ones the application has not let go of). */
unsigned rs_tcp_conn_count(const struct rs_tcp_stack *st);

/**
 * API v1.4: end every orphaned TIME-WAIT connection now (counted
 * tw_flushed), as a host that goes down forgets them: for a data plane
 * that stops, so that it need not wait 2 MSL.  Sends nothing.
 *
 * @return how many were freed.
 */
unsigned rs_tcp_time_wait_flush(struct rs_tcp_stack *st);

/** @return listeners open. */
unsigned rs_tcp_listener_count(const struct rs_tcp_stack *st);

/** Copy the stack's counters into @p stats. */
void rs_tcp_stats_get(const struct rs_tcp_stack *st,
		      struct rs_tcp_stats *stats);

/**
 * API v1.10: keep the counters (rs_tcp_stats.ctr) in @p ctr from now on,
 * RS_TCP_CTR_MAX of them in enum rs_tcp_counter's order: the caller reads
 * them where they are, with no copy a round.  What the stack counted so
 * far is added to them (its own array starts again at 0; an array given
 * before keeps what it holds).  The stack
 * writes each with a relaxed atomic store (one writer), so another
 * thread may read them with relaxed loads.  @p ctr (not NULL) must
 * outlive the stack, or be replaced before it goes.
 */
void rs_tcp_counters_at(struct rs_tcp_stack *st, uint64_t *ctr);

/** @return the short name of a drop reason (e.g. "bad_doff"), or NULL. */
const char *rs_tcp_drop_name(unsigned reason);

/** @return the short name of a counter (e.g. "rto_fired"), or NULL. */
const char *rs_tcp_counter_name(unsigned counter);

/** @return "ESTABLISHED" etc., or NULL for a bad value. */
const char *rs_tcp_state_name(unsigned state);

/** The pool's connections in state @p state now (CLOSED: allocated,
 *  closed, not yet given back). */
unsigned rs_tcp_state_count(const struct rs_tcp_stack *st,
			    enum rs_tcp_state state);

/* ---------------------------------------------------------------------- */
/* Sockets                                                                */
/* ---------------------------------------------------------------------- */

/**
 * Per-connection options; rs_tcp_sockopts_init() fills in the stack's
 * defaults.  Ring sizes can only be chosen here (before the connection
 * exists); the others can also be changed later with rs_tcp_setopt().
 */
struct rs_tcp_sockopts {
	uint32_t snd_buf; /**< send ring, power of two */
	uint32_t rcv_buf; /**< receive ring, power of two; also fixes
			       the window scale we offer */
	bool rcv_lock;	  /**< API v1.6: rcv_buf is the size for good, as
			       after SO_RCVBUF (no auto-tuning) */
	bool snd_lock;	  /**< likewise for snd_buf (SO_SNDBUF) */
	bool nodelay;	  /**< true: no Nagle */
	bool autocork;	  /**< API v1.9: rs_tcp_send() / rs_tcp_output()
			       only queue the connection; it sends at the
			       caller's rs_tcp_flush() (see there) */
	bool keepalive;
	uint64_t keep_idle_ns;
	uint64_t keep_intvl_ns;
	uint32_t keep_cnt;
	int64_t linger_ns; /**< < 0: off (close is graceful, unbounded
				by time except FIN-WAIT-2 / retries);
				0: close aborts (RST);
				> 0: a graceful close not finished after
				this long is aborted (RST) */
};

/** Fill @p o with the stack's defaults (config) and linger off. */
void rs_tcp_sockopts_init(const struct rs_tcp_stack *st,
			  struct rs_tcp_sockopts *o);

/**
 * Active open: send a SYN.  Connection state and events follow: CONNECTED
 * (ESTABLISHED), or ERROR + CLOSED with rs_tcp_error() ECONNREFUSED (RST),
 * ETIMEDOUT (no answer after max_syn_retries), ...
 * Bytes may be written before the connection is established; they go out
 * once it is.
 *
 * @param laddr  our IPv4 address, network order (not 0).
 * @param lport  our port, or 0 to choose an ephemeral one (RFC 6056
 *               algorithm 3, filtered by config.port_ok).
 * @param raddr, rport  the peer; neither 0.
 * @param opts   NULL for the stack's defaults.
 * @param user   passed to the event callback.
 * @return the connection (SYN-SENT; its handle rules are in the file
 *         comment), or NULL with errno: EINVAL (bad address, port or
 *         option), EADDRINUSE (the 4-tuple is taken), EADDRNOTAVAIL (no
 *         ephemeral port free), ENOBUFS (pool full), ENOMEM (rings).
 */
struct rs_tcp_conn *rs_tcp_connect(struct rs_tcp_stack *st, uint64_t now,
				   uint32_t laddr, uint16_t lport,
				   uint32_t raddr, uint16_t rport,
				   const struct rs_tcp_sockopts *opts,
				   void *user);

/**
 * Passive open.  SYNs beyond the backlog (SYN-RECEIVED children, and
 * separately established children not yet accepted) are dropped silently
 * and counted (the peer retransmits); so is the ACK completing a
 * handshake when the accept queue is full (our SYN-ACK retransmission
 * asks again).  No SYN cookies.
 *
 * @param laddr    our address, network order, or 0 for any.
 * @param lport    our port (not 0).
 * @param backlog  1..65535.
 * @param opts     options children inherit; NULL for the defaults.
 * @param user     passed to the event callback (ACCEPTABLE).
 * @return the listener, or NULL with errno: EINVAL, EADDRINUSE (same
 *         laddr and lport already listening), ENOBUFS (listener table
 *         full).
 */
struct rs_tcp_listener *rs_tcp_listen(struct rs_tcp_stack *st, uint32_t laddr,
				      uint16_t lport, unsigned backlog,
				      const struct rs_tcp_sockopts *opts,
				      void *user);

/**
 * Take the oldest established connection off the accept queue.  It may
 * already hold data, or the peer's FIN: check rs_tcp_readable() and
 * rs_tcp_state().
 *
 * @param user  the connection's user pointer from now on.
 * @return the connection, now the application's; or NULL with errno
 *         EAGAIN (queue empty).
 */
struct rs_tcp_conn *rs_tcp_accept(struct rs_tcp_listener *l, void *user);

/**
 * Close a listener: children in its queues (unaccepted) are reset and
 * freed, the listener is freed.  Accepted connections are not touched.
 *
 * @return 0.
 */
int rs_tcp_listener_close(struct rs_tcp_listener *l, uint64_t now);

/** @return established connections waiting in the accept queue. */
unsigned rs_tcp_listener_pending(const struct rs_tcp_listener *l);

/**
 * Copy up to @p len bytes into the send ring and send what the window,
 * Nagle and the congestion window allow.
 *
 * @return bytes taken (0: ring full, wait for WRITABLE); -EPIPE after
 *         shutdown(WR)/close; -ENOTCONN when CLOSED without error;
 *         -rs_tcp_error() when the connection failed.
 */
ssize_t rs_tcp_send(struct rs_tcp_conn *c, uint64_t now, const void *buf,
		    size_t len);

/**
 * Zero-copy send: the send ring.  Write at its head (write_view +
 * commit, or rs_byte_ring_write), never move its tail or mark; then call
 * rs_tcp_output().  Valid while the handle is.
 *
 * @return the ring (never NULL for a handle the application holds).
 */
struct rs_byte_ring *rs_tcp_snd_ring(struct rs_tcp_conn *c);

/**
 * Send what is in the send ring as far as the rules allow (after
 * zero-copy writes).
 *
 * @return 0; -EPIPE / -ENOTCONN / -error as rs_tcp_send().
 */
int rs_tcp_output(struct rs_tcp_conn *c, uint64_t now);

/**
 * Copy up to @p len received bytes out, release them, and send a window
 * update if the window opened enough (RFC 9293 §3.8.6.2.2).
 *
 * @return bytes copied (> 0); 0 at EOF (peer FIN, nothing left);
 *         -EAGAIN when nothing is there yet; -rs_tcp_error() after a
 *         reset or time-out; -ENOTCONN when CLOSED otherwise.
 */
ssize_t rs_tcp_recv(struct rs_tcp_conn *c, uint64_t now, void *buf, size_t len);

/**
 * Zero-copy receive: the receive ring.  Unread bytes are [mark, head):
 * read them in place (read_view) and move mark with
 * rs_byte_ring_advance_mark(); bytes [tail, mark) are kept until
 * rs_tcp_consumed() releases them (so a lost reply can be sent again).
 * Never write to this ring, nor move its tail or head: the free space
 * beyond head holds out-of-order data.
 *
 * @return the ring (never NULL for a handle the application holds).
 */
struct rs_byte_ring *rs_tcp_rcv_ring(struct rs_tcp_conn *c);

/**
 * A hint that @p c's receive side is read soon (a batch of Receives over
 * many connections, whose state is out of the cache): stage 0 brings the
 * connection's state toward the cache, stage 1 its receive ring, stage 2
 * the first unread bytes.  Each stage reads what the one before brought:
 * run a stage over every connection of the batch before the next, so
 * that their cache misses overlap instead of coming one after another.
 */
void rs_tcp_rx_prefetch(const struct rs_tcp_conn *c, unsigned stage);

/**
 * Release the @p n oldest bytes of the receive ring (from its tail;
 * mark moves too if it was behind), opening the window; sends a window
 * update if it opened enough.
 *
 * @return 0, or -ERANGE when @p n exceeds the bytes in the ring.
 */
int rs_tcp_consumed(struct rs_tcp_conn *c, uint64_t now, size_t n);

/**
 * Move the reader to stream offset @p off, inside [tail, mark] of the
 * receive ring: the bytes below it are released (as rs_tcp_consumed()),
 * and those from it up to mark are read again.  A client that lost a
 * reply asks for its bytes again this way.
 *
 * @return 0, or -ERANGE when @p off is outside [tail, mark].
 */
int rs_tcp_rx_seek(struct rs_tcp_conn *c, uint64_t now, uint64_t off);

/** rs_tcp_shutdown() directions. */
#define RS_TCP_SHUT_RD 1
#define RS_TCP_SHUT_WR 2
#define RS_TCP_SHUT_RDWR 3

/**
 * Half-close.  WR: a FIN follows the bytes already in the send ring
 * (ESTABLISHED -> FIN-WAIT-1, CLOSE-WAIT -> LAST-ACK).  RD: bytes
 * buffered and arriving later are discarded (still acknowledged).
 *
 * @return 0; -EINVAL (bad @p how); -ENOTCONN (SYN-SENT, LISTEN or
 *         CLOSED).
 */
int rs_tcp_shutdown(struct rs_tcp_conn *c, uint64_t now, int how);

/**
 * Graceful close, and let go of the handle.  A FIN follows the data
 * already queued and the connection finishes as an orphan.  Sends a RST
 * instead (RFC 9293 §3.10.4 / RFC 1122 §4.2.2.13) when unread bytes are
 * still in the receive ring or linger is 0; data arriving after the
 * close is answered with RST too.  In SYN-SENT or CLOSED the connection
 * is simply freed.
 *
 * @return 0.  The handle is invalid afterwards.
 */
int rs_tcp_close(struct rs_tcp_conn *c, uint64_t now);

/**
 * Reset: send RST (unless SYN-SENT, LISTEN or CLOSED), free the
 * connection, let go of the handle.  No event.
 *
 * @return 0.  The handle is invalid afterwards.
 */
int rs_tcp_abort(struct rs_tcp_conn *c, uint64_t now);

/**
 * Let go of a CLOSED connection's handle (after the CLOSED event).
 *
 * @return 0 (freed; the handle is invalid), or -EBUSY when the state is
 *         not CLOSED (use rs_tcp_close() or rs_tcp_abort()).
 */
int rs_tcp_release(struct rs_tcp_conn *c);

/** Options for rs_tcp_setopt() / rs_tcp_getopt(); times in ns. */
enum rs_tcp_opt {
	RS_TCP_OPT_NODELAY,   /**< 0/1; turning it on sends what waits */
	RS_TCP_OPT_KEEPALIVE, /**< 0/1 */
	RS_TCP_OPT_KEEPIDLE,  /**< ns, > 0 */
	RS_TCP_OPT_KEEPINTVL, /**< ns, > 0 */
	RS_TCP_OPT_KEEPCNT,   /**< 1..1000 */
	RS_TCP_OPT_LINGER,    /**< ns; < 0 off (see rs_tcp_sockopts) */
	RS_TCP_OPT_SNDBUF,    /**< get only after the connection exists */
	RS_TCP_OPT_RCVBUF,    /**< get only */
	RS_TCP_OPT_MAXSEG,    /**< get only: effective send MSS */
	RS_TCP_OPT_AUTOCORK,  /**< API v1.9: 0/1 (rs_tcp_sockopts.autocork);
				   turning it off sends what waits */
};

/**
 * Change an option of a live connection.
 *
 * @return 0; -EINVAL (bad value, or a get-only option); -ENOPROTOOPT
 *         (unknown option).
 */
int rs_tcp_setopt(struct rs_tcp_conn *c, uint64_t now, enum rs_tcp_opt opt,
		  int64_t val);

/**
 * Read an option.
 *
 * @return 0; -ENOPROTOOPT (unknown option).
 */
int rs_tcp_getopt(const struct rs_tcp_conn *c, enum rs_tcp_opt opt,
		  int64_t *val);

/** A connection's addresses (network order) and ports (host order). */
struct rs_tcp_tuple {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
};

/** @return the connection's state. */
enum rs_tcp_state rs_tcp_state(const struct rs_tcp_conn *c);

/** @return 0, or why the connection failed (positive errno:
 *  ECONNREFUSED, ECONNRESET, ETIMEDOUT, ...).  Sticky. */
int rs_tcp_error(const struct rs_tcp_conn *c);

/** Fill @p t with the connection's local and remote address and port. */
void rs_tcp_tuple_get(const struct rs_tcp_conn *c, struct rs_tcp_tuple *t);

/** @return unread bytes in the receive ring ([mark, head)). */
size_t rs_tcp_readable(const struct rs_tcp_conn *c);

/** @return free space in the send ring (0 after shutdown(WR)). */
size_t rs_tcp_writable(const struct rs_tcp_conn *c);

/** @return true once the peer's FIN has been received (in order). */
bool rs_tcp_peer_fin(const struct rs_tcp_conn *c);

/** Replace the user pointer. */
void rs_tcp_set_user(struct rs_tcp_conn *c, void *user);

/** Internals for telemetry and tests (RFC names; bytes, ns). */
struct rs_tcp_info {
	enum rs_tcp_state state;
	uint32_t snd_una, snd_nxt, snd_max, snd_wnd, iss;
	uint32_t rcv_nxt, rcv_wnd, irs;
	uint8_t snd_wscale, rcv_wscale; /**< 0 when scaling is off */
	uint16_t snd_mss;		/**< effective send MSS */
	uint32_t cwnd, ssthresh;
	uint64_t srtt_ns, rttvar_ns, rto_ns;
	uint32_t retransmits;	   /**< consecutive, current segment */
	bool in_recovery;	   /**< NewReno fast recovery */
	uint32_t rcv_buf, snd_buf; /**< API v1.6: the rings' capacities now
					(auto-tuning raises them) */
	uint64_t rcv_rtt_ns;	   /**< the receiver's RTT estimate; 0:
					none yet */
};

/** Fill @p info. */
void rs_tcp_info_get(const struct rs_tcp_conn *c, struct rs_tcp_info *info);

/* ---------------------------------------------------------------------- */
/* Sequence numbers (RFC 9293 §3.4): wrap-safe comparisons, mod 2^32      */
/* ---------------------------------------------------------------------- */

#define RS_SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define RS_SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define RS_SEQ_GT(a, b) RS_SEQ_LT(b, a)
#define RS_SEQ_GEQ(a, b) RS_SEQ_LEQ(b, a)
/** a <= x < b, with a window that may cross 2^32. */
#define RS_SEQ_IN(x, a, b)                                                     \
	((uint32_t)(x) - (uint32_t)(a) < (uint32_t)(b) - (uint32_t)(a))
/** The later / earlier of two sequence numbers. */
#define RS_SEQ_MAX(a, b) (RS_SEQ_GT(a, b) ? (uint32_t)(a) : (uint32_t)(b))
#define RS_SEQ_MIN(a, b) (RS_SEQ_LT(a, b) ? (uint32_t)(a) : (uint32_t)(b))

#endif /* RS_TCP_H */
