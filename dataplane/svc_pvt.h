/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The workers' half of the remote socket service.  Private to dataplane/.
 *
 *   svc.c       the app hooks, the control rings, the worker's socket
 *               table, parked calls and their deadlines
 *   svc_conn.c  RPC connections: listeners, framing, dispatch, output
 *   svc_http.c  the API-host HTTP connections' glue to rs_http
 *   svc_data.c  the methods served here: Authenticate, Send, Receive,
 *               Poll, SendBatch, ReceiveBatch
 *   svc_exec.c  the socket halves of the methods control approved
 *   svc_split.c a batch over several workers' sockets, split and merged
 *
 * Parked calls.  A call that must wait (Receive with nothing to read,
 * Connect in progress, Accept with none queued, Poll with nothing ready)
 * keeps a copy of its request frame and is run
 * again, from the start, when something may have changed: an event on
 * its socket (or, for calls over many sockets, on one of its sockets), or
 * its deadline.  Handlers are written so that a second run picks up where
 * the first stopped (struct svc_call's wait and expired say which run it
 * is).  This costs a decode per wake-up and keeps every method's logic in
 * one place.  A Send waiting for room keeps only what it has still to
 * send, and runs again from that (svc_data.c's send_wait).
 *
 * Everything here belongs to one worker lcore; nothing is shared but the
 * read-only parts of struct rs_svc_shared and the app quota counters.
 */
#ifndef RS_SVC_PVT_H
#define RS_SVC_PVT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <rte_common.h>
#include <rte_spinlock.h>

#include "rs_apps.h"
#include "rs_desc.h"
#include "rs_frame.h"
#include "rs_http.h"
#include "rs_log.h"
#include "rs_rpc.h"
#include "rs_sock.h"
#include "rs_svc.h"
#include "rs_svc_dp.h"
#include "remote_socket.pb-c.h"

/* Largest Receive reply, and the output buffer of one call. */
#define SVC_RECV_MAX (1u << 20)
/* Options Linux takes and the stack does not act on (svc_exec.c). */
#define SVC_KEPT_OPTS 13
/* SO_RCVBUF/SO_SNDBUF are clamped to what the stack takes. */
#define SVC_BUF_MIN 4096
#define SVC_BUF_MAX (1 << 26)
#define SVC_OUT_MAX (8u << 20)
/* Bytes of call memory (the worker's arena) kept from call to call. */
#define SVC_ARENA_KEEP (2u << 20)
/* Output waiting for a connection's TX ring beyond which its input is
 * not read (back-pressure on a client that does not read replies). */
#define SVC_OUT_PAUSE (4u << 20)
/* Calls a connection has given other workers and not had answered yet,
 * beyond which it takes no more input (they come back first). */
#define SVC_FWD_MAX 64u
/* What a forwarded call's answer may add when its method says nothing
 * (Send, Poll...): charged as output until it comes. */
#define SVC_FWD_SMALL 4096u
/* Largest frame before a connection authenticates (an Authenticate is a
 * few hundred bytes). */
#define SVC_UNAUTH_FRAME_MAX 4096u
/* Largest body of an HTTP request before its connection has an owner
 * (svc_request_max() after): as large as a native frame. */
#define SVC_HTTP_BODY_MAX RS_FRAME_MAX_DEFAULT
/* A request (frame, HTTP body) may hold this much while it arrives for
 * free; the rest is charged to its app's buffered_bytes
 * (svc_conn.c's big_charge()). */
#define SVC_REQUEST_FREE RS_FRAME_MAX_DEFAULT

/* Hash key of a descriptor: its 22 characters and zero padding to a
 * multiple of 4 bytes, since rte_jhash reads whole words. */
#define SVC_KEY_LEN 24
_Static_assert(SVC_KEY_LEN > RS_DESC_LEN && SVC_KEY_LEN % 4 == 0, "key");

struct svc_dns;
struct svc_tls;
struct svc_wait;
struct svc_call;

/* A GONE control has not taken yet (its ring or the entry pool was
 * full): sent again at the next polls, in order. */
struct svc_gone {
	uint32_t app;
	char desc[RS_DESC_LEN];
};
struct svc_worker;
TAILQ_HEAD(svc_wait_list, svc_wait);

/* A multi-socket wait's tie to one of its sockets (Poll, ReceiveBatch):
 * an event on that socket wakes the wait, and no other socket's does. */
struct svc_watch {
	TAILQ_ENTRY(svc_watch) link; /* ss->watchers */
	struct svc_wait *wt;
	struct svc_sock *ss; /* NULL: not linked */
};
TAILQ_HEAD(svc_watch_list, svc_watch);

/* A socket the proxy holds for an app. */
struct svc_sock {
	struct rs_sock *s;
	struct svc_worker *w;
	char desc[SVC_KEY_LEN]; /* NUL-padded: the hash key */
	uint32_t app;
	uint8_t kind;	      /* enum rs_sock_kind */
	bool connected;	      /* TCP: CONNECTED seen */
	bool listening;	      /* TCP: rings only for accepted sockets */
	uint64_t charged;     /* ring bytes charged to buffered_bytes */
	bool failed;	      /* ERROR or CLOSED seen */
	bool v6;	      /* made IPv6: addresses out IPv4-mapped */
	int32_t session;      /* svc_session.c's slot, -1: none */
	uint64_t last_use_ns; /* for the idle reaper: the app's last call */
	uint64_t last_net_ns; /* ... and the socket's last event */
	uint64_t tx_off;      /* stream offset of the next byte Send takes */
	uint64_t tx_seen;     /* end of the furthest Send taken or parked */
	int64_t close_at;     /* Close once tx_off reaches it; -1: none */
	uint64_t close_by_ns; /* ... or at this time (close_wait_ms) */
	int64_t shut_at;      /* ShutDown then (shut_how); -1: none */
	uint8_t shut_how;     /* enum rs_sock_shut */
	int32_t kept[SVC_KEPT_OPTS]; /* options kept, not acted on */
	bool opts_be;	   /* set with big-endian values (Java's): read so */
	uint16_t kept_set; /* which of them were set */
	struct svc_wait_list waits;
	struct svc_watch_list watchers; /* Polls and ReceiveBatches on it */
	uint64_t watch_mark;		/* svc_park_socks(): tied already */
	TAILQ_ENTRY(svc_sock) link;	/* w->socks_all */
	TAILQ_ENTRY(svc_sock) clink;	/* w->closing, while close_at >= 0 */
};

/* A parked call. */
struct svc_wait {
	uint64_t conn; /* its RPC connection (svc_conn_ref), on
			  worker from - 1 when from != 0 */
	uint16_t from; /* 0: a connection of this worker's; k + 1:
			  of worker k's */
	bool charged;  /* a forwarded call its connection counts in
			  flight: its answer (or cancellation)
			  must reach the origin */
	bool part;     /* ... a part of a split batch (svc_split.c) */
	struct rs_svc_fwd_out fwd_out; /* ... what its answer may add */
	uint64_t t0;		       /* the call's svc_call.t0 */
	uint64_t deadline_ns;	       /* UINT64_MAX: none */
	uint32_t heap;		       /* index in w->heap */
	uint32_t app;
	bool exec;	/* an EXEC frame (the exec registry) */
	bool owns_desc; /* desc is unused: GONE it when cancelled */
	bool send;	/* a Send waiting for room (pipelined ones wait too) */
	void *ctx;	/* the handler's, kept across runs */
	void (*ctx_free)(void *ctx);	    /* called when the wait ends */
	struct svc_wait_list *on;	    /* sock->waits, w->multi, or NULL */
	char desc[RS_DESC_LEN + 1];	    /* the EXEC's new descriptor */
	uint64_t call_id;		    /* to answer it without a run */
	const struct rs_rpc_method *method; /* ... and count it */
	/* A wait that keeps its method's state instead of its frame (a
	 * Send: what it has still to send) runs again through this, with
	 * sc->rpc set up for its answer: it answers (svc_respond()) or
	 * parks again. */
	void (*resume)(struct svc_call *sc);
	uint32_t len;
	uint32_t room;	/* bytes allocated after the struct */
	uint8_t *frame; /* copy of the request frame body, or the state */
	struct svc_watch *watch; /* after the frame: its sockets' ties */
	uint32_t nwatch, watch_cap;
	TAILQ_ENTRY(svc_wait) slink; /* sock->waits or w->multi */
	TAILQ_ENTRY(svc_wait) clink; /* conn->waits, or w->remote */
};

/* An RPC connection. */
struct svc_conn {
	struct rs_sock *s;
	struct svc_worker *w;
	uint32_t idx, gen;
	int32_t app;	 /* -1 until Authenticate succeeds */
	int32_t session; /* svc_session.c's slot, -1: none */
	/* HTTP: the app its output is charged to, its first authenticated
	 * request's (-1 until then; never changes). */
	int32_t out_owner;
	uint32_t peer_ip; /* the client's address (network order) */
	bool paused;	  /* input not read: too much output waiting */
	bool doomed;	  /* close once this input chunk is done */
	uint64_t opened_ns;
	uint64_t input_ns;	      /* HTTP: when bytes last came */
	struct rs_frame_decoder *dec; /* native framing, or NULL */
	struct rs_http_conn *http;    /* HTTP (svc_http.c), or NULL */
	struct svc_tls *tls;	      /* native over TLS (svc_tls.c), or NULL */
	bool kicked;		      /* on w->kick */
	bool forwarded;	       /* gave calls to other workers, or to control,
				  which may have them run on another worker */
	bool unauth;	       /* counted in svc_sources.unauth */
	uint32_t fwd_inflight; /* calls given to other workers, not answered
				  yet (SVC_FWD_MAX) */
	TAILQ_ENTRY(svc_conn) klink;
	bool starved; /* paused for its app's output_bytes: on w->starved */
	TAILQ_ENTRY(svc_conn) slink;
	uint8_t *out; /* bytes the TX ring had no room for: [off, len) */
	size_t out_off, out_len, out_cap;
	uint64_t out_counted; /* of them, counted in w->out_bytes */
	uint64_t out_charged; /* ... and charged to its app's output_bytes */
	/* A large request's bytes above SVC_REQUEST_FREE held while it
	 * arrives, charged to the app's buffered_bytes. */
	uint64_t big_charged;
	/* (HTTP: c->out and the codec's held responses both count.) */
	size_t room_min; /* TX ring room input waits for (native) */
	struct svc_wait_list waits;
};

/* The failed attempts at one app's secret from one address, rated by
 * GCRA: the theoretical arrival time runs ahead of the clock by the
 * failures above [rpc] auth_fail_per_min (svc_conn.c). */
struct svc_src {
	uint32_t ip; /* network order; 0: a free slot */
	uint32_t app;
	uint64_t tat; /* ns */
};
/* Pairs rated at once (a power of two); past that the least penalised
 * of a probe set makes room. */
#define SVC_SRC_SLOTS 4096u
/* Addresses with connections not yet authenticated, counted at once. */
#define SVC_UNAUTH_SLOTS 8192u

/* What the workers count together about the addresses that connect, so
 * that a client's connections landing on several workers get one
 * budget: failed authentications (svc_src) and connections that have
 * not authenticated yet, by address and in all.  Touched only when a
 * connection is accepted or authenticates, under its lock. */
struct svc_sources {
	rte_spinlock_t lock;
	uint32_t unauth_all;
	struct {
		uint32_t ip; /* 0: never used */
		uint32_t n;
	} unauth[SVC_UNAUTH_SLOTS];
	struct svc_src src[SVC_SRC_SLOTS];
};

struct svc_worker_stats {
	uint64_t conns_accepted, conns_closed, auth_failed, auth_timeouts;
	uint64_t auth_blocked;	/* attempts refused unchecked: too many
				 * failures for the app from the address */
	uint64_t conns_refused; /* not [rpc] clients, over max_conns or
				 * unauth_per_source */
	uint64_t http_slow;	/* HTTP requests that did not arrive in time */
	uint64_t calls, forwarded, parked, woken, expired, cancelled;
	uint64_t busy;		 /* refused: control ring or entry pool full */
	uint64_t starved;	 /* inputs paused for their app's quota */
	uint64_t reaped;	 /* sockets closed for idleness */
	uint64_t close_deferred; /* Closes that waited for their Sends */
	uint64_t close_overdue;	 /* ... and closed at close_wait_ms */
	uint64_t gone;		 /* GONE entries sent */
	uint64_t fwd_out;	 /* calls given to the worker of their
				    sockets */
	uint64_t fwd_in;	 /* calls other workers gave this one */
	uint64_t splits;	 /* batches over several workers' sockets */
	uint64_t stop_answered;	 /* parked calls answered CANCELLED at the
				    stop */
	uint64_t gone_lost;	 /* GONE entries that found no room (leak) */
	uint64_t http_requests;	 /* HTTP requests that reached the service */
	uint64_t http_errors;	 /* answered with an HTTP error status */
	uint64_t http_idle;	 /* HTTP connections closed for idleness */
	uint64_t tls_failed;	 /* TLS handshakes or records that failed */
	uint64_t dns_dropped;	 /* datagrams on a DNS query's port that
				    were not its answer */
	uint64_t session_closed; /* sockets closed: their session ended */
	uint64_t sessions_full;	 /* connections left without a session */
};

/* Calls a worker finished, by method and outcome (ok, app error, RPC
 * error): an open-addressed table keyed by the registry's method
 * pointer, written by its worker only (the key once, with release; the
 * counts with relaxed stores), read by any thread (svc_method_counters). */
#define SVC_METHOD_SLOTS 64
/* And how long they took, from their first dispatch on the worker to
 * their reply (waits included), in buckets of powers of two
 * microseconds: bucket b holds durations under 2^b us; the last one, the
 * rest.  Calls approved by control (EXEC) are not timed: their start is
 * the control thread's. */
#define SVC_HIST_BUCKETS 26
struct svc_method_stat {
	const struct rs_rpc_method *m; /* NULL: a free slot */
	uint64_t n[3];
	uint64_t hist[SVC_HIST_BUCKETS];
	uint64_t sum_ns;
};

/* An app's calls by outcome and RPC bytes from and to its connections
 * (an HTTP connection's go to its first app), on one worker; read by any
 * thread (svc_app_counters). */
struct svc_app_stat {
	uint64_t calls[3];
	uint64_t bytes[2]; /* [0] in, [1] out */
};

/*
 * The counter layer of the worker half, as the stack's (RS_CNT_ADD): one
 * writer, a relaxed load-add-store, an atomic store so that the threads
 * that read them (rs_svc_dp_stats_get()) see whole values.  SVC_CNT_*
 * count events in w->st; SVC_GAUGE_ADD moves a level (nsocks, nconns,
 * nwaits, out_bytes) up or down.
 */
#define SVC_GAUGE_ADD(w, field, n)                                             \
	__atomic_store_n(&(w)->field, (w)->field + (n), __ATOMIC_RELAXED)
#define SVC_CNT_ADD(w, field, n) SVC_GAUGE_ADD(w, st.field, n)
#define SVC_CNT_INC(w, field) SVC_CNT_ADD(w, field, 1)

struct svc_worker {
	struct rs_svc_shared *sh;
	const struct rs_svc_dp *sdp;
	struct rs_lcore *lc;
	unsigned k;
	struct rs_sock *listener;
	struct rs_sock *http_listener;	/* NULL: [rpc] http_port 0 */
	struct rs_sock *tls_listener;	/* NULL: [rpc] tls_port 0 */
	struct rs_sock *https_listener; /* NULL: [rpc] https_port 0 */
	struct rs_arena *arena;
	struct rs_arena *http_arena; /* decoding HTTP requests */
	struct svc_method_stat mstat[SVC_METHOD_SLOTS];
	struct svc_app_stat apps[RS_APPS_SLOTS];
	struct rs_log_limit log_auth, log_acl; /* lines a tenant can cause */
	TAILQ_HEAD(, svc_conn) kick; /* to resume or close at the next poll */
	TAILQ_HEAD(, svc_conn) starved; /* paused until their app drains */
	struct rs_rpc_env env_rpc, env_exec;
	struct rte_hash *socks; /* descriptor -> struct svc_sock */
	TAILQ_HEAD(, svc_sock) socks_all;
	TAILQ_HEAD(, svc_sock) closing; /* deferred Closes, oldest first */
	unsigned nsocks;
	struct svc_conn **conns; /* by index; NULL: free */
	uint32_t nconns_max, nconns;
	uint32_t *conn_gen;	/* generation of each index */
	struct svc_wait **heap; /* deadlines, a binary min-heap */
	uint32_t nheap, heap_max;
	struct svc_wait_list multi;  /* Poll, ReceiveBatch */
	uint64_t watch_gen;	     /* svc_park_socks()'s marks */
	struct svc_wait_list ready;  /* to run again at the next poll */
	struct svc_wait_list remote; /* waits of other workers' connections */
	struct rs_svc_msg **peer_q;  /* entries for other workers, to send
					again (their ring was full), in order */
	uint32_t peer_n, peer_cap;
	TAILQ_HEAD(, svc_split) splits; /* svc_split.c */
	uint64_t split_serial;
	struct svc_wait_list quiet; /* woken by svc_wait_wake() only */
	struct svc_dns *dns;	    /* svc_dns.c; NULL: no [dns] servers */
	struct svc_dns *dns_old;    /* the one a reload replaced, draining */
	uint64_t dns_gen;	    /* of sh->dns that dns was made from */
	uint32_t nwaits;	    /* parked calls */
	uint64_t out_bytes;	    /* replies waiting in connections' out */
	struct svc_gone *gone_q;    /* GONE entries to send again */
	uint32_t gone_n, gone_cap;
	struct svc_wait *spare; /* freed small waits, for the next park */
	uint32_t nspare;
	uint64_t next_scan_ns; /* auth timeouts and idle sockets */
	uint64_t rounds;       /* poll rounds ended (rs_svc_dp_quiesce()) */
	struct svc_sources *sources;   /* every worker's (rs_svc_dp's) */
	struct svc_sessions *sessions; /* every worker's (svc_session.c) */

	uint64_t tsc_per_us; /* for the durations */

	uint8_t *out;
	struct svc_worker_stats st;
};

/*
 * A call as it runs on the worker: one for each run of a request frame,
 * whether it came from a connection (svc_conn_call()), from control (an
 * EXEC entry) or is a parked call run again.  Handlers get it as their
 * ctx; everything a call needs of where it came from is here, nothing in
 * the worker.
 */
struct svc_call {
	struct svc_worker *w;
	struct svc_conn *conn; /* NULL: an EXEC for a gone connection, or
				  another worker's call */
	uint16_t from;	       /* 0: this worker's call; k + 1: made by
				  connection from_conn of worker k */
	bool charged;	       /* from != 0: see svc_wait.charged */
	bool part;	       /* ... and svc_wait.part */
	struct rs_svc_fwd_out fwd_out; /* from: svc_wait.fwd_out; a data
					  method's first run: the most
					  its answer may carry (0: small) */
	bool split;		       /* svc_split_start() answers it */
	uint64_t from_conn;
	uint16_t route;	       /* svc_route_add(): the worker of its sockets so
				  far + 1 (0: none yet, SVC_ROUTE_MIXED) */
	uint16_t fwd_to;       /* svc_route_done(): worker + 1 to give it to */
	struct svc_wait *wait; /* the parked call run again; NULL: first run */
	bool expired;	       /* ... a last time, at its deadline */
	uint32_t app;
	const char *desc; /* an EXEC's new descriptor, or NULL */
	uint64_t t0;	  /* TSC at its first dispatch; 0: not timed */
	/* Set by a park: the wait the call is parked on after this run
	 * (a new one, or wait again). */
	struct svc_wait *parked;
	struct rs_rpc_call rpc; /* the call the handler got */
};

#define SVC_ROUTE_MIXED UINT16_MAX

/* Run @p sc's request frame through @p env's methods, and answer it
 * unless it parked or is control's.  @return RS_RPC_PARKED (parked on
 * sc->parked), RS_RPC_FORWARD (a control-plane method: sc->rpc has its
 * call_id), or 0 (answered). */
int svc_call_run(struct svc_call *sc, const struct rs_rpc_env *env,
		 const uint8_t *frame, size_t len);

/* svc.c */
/* Several workers: a data method names each socket it will use
 * (svc_route_add()) before using any, then asks svc_route_done(): true
 * to go on here; false when the call goes to the worker that holds its
 * sockets (forwarded once the handler returns 0), or when they live on
 * several (sc->route is SVC_ROUTE_MIXED: the handler splits it,
 * svc_split_start()). */
void svc_route_add(struct svc_call *sc, const char *desc);
bool svc_route_done(struct svc_call *sc);
/* Worker @p k got an entry on its peer ring: wake it if it sleeps. */
void svc_peer_wake(const struct svc_worker *w, unsigned k);
/* Send an entry to worker @p k's peer ring (in order; one its ring has
 * no room for waits) and wake it. */
void svc_peer_send(struct svc_worker *w, unsigned k, struct rs_svc_msg *m);
/* The worker that holds @p desc's socket: this one, the directory's, or
 * this one for a descriptor nobody holds. */
unsigned svc_route_owner(const struct svc_worker *w, const char *desc);

/* svc_split.c: a batch over several workers' sockets, split and merged
 * here.  @return true when it took the call (sc->split); false with an
 * error in @p call. */
struct svc_split;
bool svc_split_start(struct svc_call *sc, struct rs_rpc_call *call,
		     const ProtobufCMessage *req);
/* An answer of a part (RS_SVC_MSG_F_PART). */
void svc_split_answer(struct svc_worker *w, const struct rs_svc_msg *m);
/* The connection of a split closed; the worker stops. */
void svc_split_conn_gone(struct svc_worker *w, uint64_t conn);
void svc_split_free_all(struct svc_worker *w);
/* Send an answer frame to the worker whose connection made @p sc. */
void svc_answer(struct svc_call *sc, const uint8_t *frame, size_t len);
/* A connection that gave calls to other workers is closing: they
 * cancel those still waiting. */
void svc_conn_gone_tell(struct svc_worker *w, const struct svc_conn *c);
struct svc_sock *svc_sock_find(struct svc_call *sc, struct rs_rpc_call *call,
			       const char *desc);
struct svc_sock *svc_sock_find_send(struct svc_call *sc,
				    struct rs_rpc_call *call, const char *desc);
/* svc_sock_find() of a batch's @p n descriptors at once, into @p out
 * (NULL where none: svc_sock_find() then says why), the hash table's
 * lookups overlapping. */
void svc_sock_find_bulk(struct svc_call *sc,
			Remsock__ReceiveRequest *const *reqs, size_t n,
			struct svc_sock **out);
void svc_sock_close_at(struct svc_worker *w, struct svc_sock *ss, uint64_t off);
void svc_desc_unused(struct svc_worker *w, uint32_t app, const char *desc);
struct svc_sock *svc_sock_add(struct svc_worker *w, struct rs_sock *s,
			      const char *desc, uint32_t app, int32_t session);
void svc_sock_close(struct svc_worker *w, struct svc_sock *ss, bool abort);
void svc_sock_sent(struct svc_worker *w, struct svc_sock *ss);
int svc_sock_charge(struct svc_worker *w, struct rs_rpc_call *call,
		    struct svc_sock *ss);
/* Park @p sc's call on @p ss: an event on it runs the call again, as
 * does its deadline (@p timeout_s or the call's, the sooner; negative:
 * none) a last time with sc->expired.  @p owns_desc: an EXEC whose new
 * descriptor goes back to control if the wait is cancelled.  @return 1
 * (parked), 0 (it may not wait: a timeout of 0, or this is the last
 * run; the handler answers), -1 (refused: the error is in the call). */
int svc_park(struct svc_call *sc, struct svc_sock *ss, double timeout_s,
	     bool owns_desc);
/* What a parked call keeps instead of its request frame: its method's
 * decoded state (what it waits for, its offsets, what it has still to
 * send), in up to two pieces, and the function that runs it again from
 * that state (the state at sc->wait->frame, sc->rpc set up for its
 * answer): it answers (svc_respond()) or parks again, which keeps the
 * wait and its state as they are.  Nothing is decoded again. */
struct svc_keep {
	struct iovec v[2];
	void (*resume)(struct svc_call *sc);
};
/* svc_park(), keeping @p keep. */
int svc_park_kept(struct svc_call *sc, struct svc_sock *ss, double timeout_s,
		  const struct svc_keep *keep);
/* Park a call over several sockets (Poll, ReceiveBatch): an event on one
 * of @p socks (or its close) runs it again, and nothing else does but
 * its deadline.  As svc_park_kept() otherwise. */
int svc_park_socks(struct svc_call *sc, struct svc_sock *const *socks, size_t n,
		   double timeout_s, const struct svc_keep *keep);
/* The answer of a call its handler or resume function completed, sized
 * and written (svc_respond()). */
void svc_answer_call(struct svc_call *sc);
void svc_gone(struct svc_worker *w, uint32_t app, const char *desc);
void svc_wait_cancel(struct svc_worker *w, struct svc_wait *wt);
void svc_sock_event(struct rs_sock *s, unsigned events, void *user);
void svc_addr_fill(struct rs_arena *arena, Remsock__AddressPort **out,
		   const struct sockaddr_in *sa, bool v6);
/* A new socket for an EXEC's descriptor; NULL with the error in the
 * call. */
struct svc_sock *svc_sock_new(struct svc_call *sc, enum rs_sock_kind kind);

/* svc_conn.c */
int svc_conn_listen(struct svc_worker *w);
void svc_conn_write(struct svc_worker *w, struct svc_conn *c,
		    const uint8_t *buf, size_t len);
/* As svc_conn_write(), the bytes as they are (a TLS connection's
 * records). */
void svc_conn_write_raw(struct svc_worker *w, struct svc_conn *c,
			const uint8_t *buf, size_t len);
/* Feed input to the connection's frame decoder, a frame at a time while
 * it takes calls.  @return the bytes taken, or -1 when the stream is
 * broken. */
ssize_t svc_conn_feed(struct svc_worker *w, struct svc_conn *c,
		      const uint8_t *p, size_t len);
struct svc_conn *svc_conn_get(struct svc_worker *w, uint64_t ref);
uint64_t svc_conn_ref(const struct svc_conn *c);
void svc_conn_scan(struct svc_worker *w);
void svc_conn_close_all(struct svc_worker *w);
void svc_respond(struct svc_call *sc, int rc, size_t len);
void svc_conn_reply(struct svc_worker *w, struct svc_conn *c,
		    const uint8_t *frame, size_t len);
void svc_conn_call(struct svc_worker *w, struct svc_conn *c, int32_t app,
		   const uint8_t *data, size_t len);
/* Give @p sc's request frame to the worker of its sockets (sc->fwd_to),
 * or answer the connection that the worker is busy. */
void svc_conn_fwd(struct svc_call *sc, const uint8_t *frame, size_t len);
/* The ANSWER of a call svc_conn_fwd() gave: no longer in flight, its
 * output charge given back. */
void svc_conn_fwd_done(struct svc_worker *w, const struct rs_svc_msg *m);
void svc_conn_kick(struct svc_worker *w, struct svc_conn *c);
bool svc_conn_full(const struct svc_worker *w, const struct svc_conn *c);
/* Every worker's calls by method and outcome, summed, to @p emit as
 * call.METHOD.OUTCOME (the outcomes ok, app_error, rpc_error). */
void svc_method_counters(const struct rs_svc_dp *sdp, rs_svc_counter_fn emit,
			 void *arg);
/* Every worker's per-app counters, summed: app_calls.APP.OUTCOME,
 * app_bytes_in.APP, app_bytes_out.APP. */
void svc_app_counters(const struct rs_svc_dp *sdp, rs_svc_counter_fn emit,
		      void *arg);
/* Bring the output's count and charge up to date (after the HTTP codec
 * held or wrote responses). */
void svc_conn_charge(struct svc_worker *w, struct svc_conn *c);
/* The largest request an authenticated connection may send ([rpc]
 * max_request_mb). */
size_t svc_request_max(const struct svc_worker *w);
/* A failed authentication from @p ip (network order) for @p app (its
 * number; negative: no such app): counted, and rated against [rpc]
 * auth_fail_per_min. */
void svc_auth_failed(struct svc_worker *w, uint32_t ip, int app);
/* The connection authenticated: no longer counted as waiting to. */
void svc_conn_authed(struct svc_worker *w, struct svc_conn *c);
/* Whether a secret for @p app may be tried from @p ip now: false when
 * its failures there exceed the rate (counted in auth_blocked; the
 * attempt is then refused without looking at the secret). */
bool svc_auth_allowed(struct svc_worker *w, uint32_t ip, int app);
/* Bytes a reply may take now to go straight into the connection's TX
 * ring: 0 for HTTP, or while earlier output waits (or @p c is NULL). */
size_t svc_conn_room(const struct svc_conn *c);
void svc_conn_kicks(struct svc_worker *w);

/* svc_tls.c: the native transport over TLS ([rpc] tls_port) */
void *svc_tls_ctx_create(const struct rs_config *cfg, char *err, size_t errlen);
void svc_tls_ctx_free(void *ctx);
/* The SSL_CTX a new TLS connection takes now (a reload may swap it). */
void *svc_tls_ctx(const struct svc_worker *w);
int svc_tls_attach(struct svc_worker *w, struct svc_conn *c);
void svc_tls_free(struct svc_conn *c);
/* The app a TLS connection's client certificate names ([rpc]
 * tls_client_ca): its number, SVC_CERT_NONE (its CN names no app), or
 * SVC_CERT_ANY (no client certificates asked, or not TLS: any app). */
#define SVC_CERT_ANY (-1000)
#define SVC_CERT_NONE (-1001)
#define SVC_CERT_UNSEEN (-1002)
int svc_tls_cert_app(const struct svc_worker *w, struct svc_conn *c);
void svc_tls_write(struct svc_worker *w, struct svc_conn *c, const uint8_t *buf,
		   size_t len);
/* Decrypt and feed what came.  @return 0 (all taken), 1 (the connection
 * is full: pause it), -1 (failed: close it), -2 (the peer ended it:
 * close_notify or EOF; answers still go out). */
int svc_tls_input(struct svc_worker *w, struct svc_conn *c);

/* svc_http.c */
int svc_http_attach(struct svc_worker *w, struct svc_conn *c);
void svc_http_reply(struct svc_worker *w, struct svc_conn *c,
		    const uint8_t *frame, size_t len);

/* A Send waiting for room (Sends behind it on the socket wait too),
 * keeping what it has still to send (@p keep).  As svc_park_kept()
 * otherwise. */
int svc_park_send(struct svc_call *sc, struct svc_sock *ss, double timeout_s,
		  const struct svc_keep *keep);
bool svc_sock_sending(const struct svc_sock *ss);
/* Park with no socket and no deadline, keeping @p ctx across runs (freed
 * with @p ctx_free when the wait ends): svc_wait_wake() runs it again. */
int svc_park_quiet(struct svc_call *sc, void *ctx, void (*ctx_free)(void *));
/* The ctx of the wait @p sc runs again; NULL on a first run. */
void *svc_wait_ctx(const struct svc_call *sc);
void svc_wait_wake(struct svc_worker *w, struct svc_wait *wt);

/* svc_data.c, svc_exec.c, svc_dns.c */
int svc_data_register(struct rs_rpc_registry *reg);
int svc_exec_register(struct rs_rpc_registry *reg);
int svc_dns_register(struct rs_rpc_registry *reg);
int svc_dns_create(struct svc_worker *w);
void svc_dns_free(struct svc_worker *w);
void svc_dns_poll(struct svc_worker *w);

/* An RpcErrorCode by its short name: RPC_ERR(OVER_QUOTA). */
#define RPC_ERR(name) REMSOCK__RPC__RPC_ERROR_CODE__RPC_##name

/* The errno of a failed call, from a negative return value. */
#define SVC_ERR(call, rc, what)                                                \
	rs_svc_sys_error(call, (int)(rc), "%s: %s", what, strerror(-(int)(rc)))

/* ---- svc_batch.c: ReceiveBatch's reply, encoded by hand ---------------- */

/* An entry's data where it lies (a socket's ring: up to two runs), apart
 * from its reply message, whose has_data is then 0; both lengths 0: the
 * reply carries its data itself, or has none. */
struct svc_runs {
	struct iovec iov[2];
};

/* @p resp as a gather (rs_rpc.h), entry i's data from @p runs[i] (NULL:
 * all in the replies); pieces and header bytes in @p a.  The bytes are
 * those protobuf-c would pack for @p resp with the data in it.  @return
 * 0, -ENOMEM, -EINVAL (unknown fields at the top). */
int svc_recv_batch_gather(struct rs_arena *a,
			  const Remsock__ReceiveBatchReply *resp,
			  const struct svc_runs *runs, struct rs_rpc_gather *g);

/* ---- svc_session.c: sessions, shared by the workers ------------------- */

/* Sessions the table holds at once (live, or in their grace). */
#define SVC_SESSIONS 8192u

struct svc_sessions;

struct svc_sessions *svc_sessions_create(void);
void svc_sessions_free(struct svc_sessions *t);
/** A connection of app @p app authenticated with session @p id (not
 *  0).  @return its slot, or -1: none (the table is full, counted). */
int32_t svc_session_join(struct svc_worker *w, uint32_t app, uint64_t id);
/** That connection closed (@p idx < 0: nothing). */
void svc_session_leave(struct svc_worker *w, int32_t idx);
/** A socket carries session @p idx now / no more. */
void svc_session_tag(struct svc_worker *w, int32_t idx);
void svc_session_untag(struct svc_worker *w, int32_t idx);
/** Whether session @p idx has had no connection for @p grace_ns (0:
 *  never ends). */
bool svc_session_over(struct svc_worker *w, int32_t idx, uint64_t now,
		      uint64_t grace_ns);

#endif /* RS_SVC_PVT_H */
