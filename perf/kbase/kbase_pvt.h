/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kbase: the kernel baseline of the remote socket benchmark.  Private to
 * perf/kbase/.
 *
 *   kbase.c       main(), the options, the epoll loop, RPC connections
 *   kbase_sock.c  the proxied sockets' table, parked calls, deadlines
 *   kbase_rpc.c   the methods
 *
 * One thread owns everything.  Every descriptor is non-blocking and
 * registered once, edge-triggered (the listener and the signalfd are
 * level-triggered), so no epoll_ctl() runs per call.  A call that must
 * wait (Receive with nothing to read, Send with a full socket buffer,
 * a connect in progress) keeps a copy of its request frame and runs
 * again from the top when its socket has an event, or a last time at its
 * deadline: each method's logic stays in one place, as in remsockd
 * (dataplane/svc_pvt.h), and the handlers are written to pick up where
 * the first run stopped.
 *
 * Per-call state travels in struct kb_call, the handlers' context; struct
 * kb holds only what outlives a call.
 */
#ifndef KBASE_PVT_H
#define KBASE_PVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "rs_arena.h"
#include "rs_frame.h"
#include "rs_rpc.h"

/* Largest frame before a connection authenticates (as remsockd). */
#define KB_UNAUTH_FRAME_MAX 4096u
/* Bytes read from an RPC connection at once. */
#define KB_IN_CHUNK (256u * 1024)
/* Replies waiting on a connection beyond which its input is not read. */
#define KB_OUT_PAUSE (4u << 20)
/* Largest reply: a ReceiveBatch's (as remsockd's SVC_OUT_MAX). */
#define KB_OUT_MAX (8u << 20)
/* Largest Receive reply's data. */
#define KB_RECV_MAX (1u << 20)
/* Socket descriptors: 4 characters of slot index, 18 random ones. */
#define KB_DESC_LEN 22
/* How long a Close with send_offset waits for its Sends. */
#define KB_CLOSE_WAIT_NS (30ull * 1000 * 1000 * 1000)
/* Per app, as remsockd's default quotas: calls parked at once and the
 * bytes of the frames they keep. */
#define KB_APP_PENDING_MAX 1024u
#define KB_APP_PARKED_MAX (128ull << 20)
/* Longest app name and secret. */
#define KB_CRED_MAX 256

/* What an epoll event's data names: the low two bits. */
enum kb_ev_tag {
	KB_EV_CONN = 0, /* a struct kb_conn pointer */
	KB_EV_SOCK = 1, /* a socket slot: index and generation */
	KB_EV_LISTEN = 2,
	KB_EV_SIGNAL = 3,
};

struct kb_wait;
struct kb_conn;
TAILQ_HEAD(kb_wait_list, kb_wait);
TAILQ_HEAD(kb_conn_list, kb_conn);

struct kb_app {
	char name[KB_CRED_MAX];
	uint8_t secret[KB_CRED_MAX];
	size_t name_len, secret_len;
	uint32_t socks;	       /* sockets open */
	uint32_t pending;      /* calls parked */
	uint64_t parked_bytes; /* bytes of their frames */
};

/* A proxied socket: one slot of kb->socks. */
struct kb_sock {
	int fd;	      /* -1: the slot is free */
	uint32_t gen; /* bumped at each use: stale events miss */
	uint32_t app;
	bool connecting;  /* connect() in progress */
	bool rx_ready;	  /* an EPOLLIN came since a read ran dry */
	bool rx_end;	  /* EOF or an error was seen: reads never block */
	int err;	  /* a failed connect's errno, reported from then on */
	uint64_t tx_off;  /* stream offset of the next byte Send takes */
	uint64_t tx_seen; /* end of the furthest Send taken or waiting */
	uint64_t rx_off;  /* stream offset of the next byte Receive reads */
	int64_t close_at; /* Close once tx_off reaches it; -1: none */
	uint64_t close_by_ns;
	struct kb_wait_list rx_waits; /* Receives */
	struct kb_wait_list tx_waits; /* Sends, connects */
	TAILQ_ENTRY(kb_sock) clink;   /* kb->closing */
	uint32_t next_free;
	char desc[KB_DESC_LEN + 1];
};

/* An RPC connection. */
struct kb_conn {
	int fd;
	int32_t app;   /* -1 until Authenticate */
	bool dead;     /* closed: freed at the end of the round */
	bool doomed;   /* a failed Authenticate: no more calls */
	bool eof;      /* no more input: close once the output is out */
	bool paused;   /* too much output waiting: input not read */
	bool blocked;  /* the socket buffer is full: wait for EPOLLOUT */
	bool in_more;  /* on kb->more */
	bool in_dirty; /* on kb->dirty */
	bool rdhup;    /* the client's FIN was seen: read to the EOF */
	bool held;     /* a Receive was held back for its output */
	struct rs_frame_decoder *dec;
	uint8_t *out; /* replies: [out_off, out_len) still to write */
	size_t out_off, out_len, out_cap;
	uint8_t *spill; /* input read but not fed while paused */
	size_t spill_len;
	struct kb_wait_list waits; /* its parked calls */
	TAILQ_ENTRY(kb_conn) link; /* kb->conns, or kb->dead */
	TAILQ_ENTRY(kb_conn) more_link;
	TAILQ_ENTRY(kb_conn) dirty_link;
};

/* A parked call. */
struct kb_wait {
	struct kb_conn *c;
	struct kb_sock *made;	 /* CreateSocket's socket, not handed out */
	struct kb_wait_list *on; /* a socket's list, kb->multi, kb->ready */
	uint64_t deadline_ns;	 /* UINT64_MAX: none */
	uint32_t heap;		 /* index in kb->heap; UINT32_MAX: none */
	bool send;		 /* a Send (pipelined Sends queue behind) */
	uint32_t len, cap;
	uint8_t *frame;		    /* the request frame, to run again */
	TAILQ_ENTRY(kb_wait) slink; /* on *on, or kb->spare */
	TAILQ_ENTRY(kb_wait) clink; /* c->waits */
};

struct kb_stats {
	uint64_t calls, conns_accepted, conns_refused, conns_closed;
	uint64_t auth_failed, socks_created, parked, woken, expired;
	uint64_t cancelled, close_deferred, close_overdue;
};

struct kb {
	int ep, lfd, sfd;
	int spare_fd; /* closed to accept-and-drop when out of fds */
	bool quiet, stop;
	struct kb_app *apps;
	unsigned napps;
	uint32_t max_conns, max_socks, nconns;
	struct kb_sock *socks;
	uint32_t socks_cap, free_sock, nsocks;
	struct kb_wait **heap; /* deadlines, a binary min-heap */
	uint32_t nheap, heap_cap;
	struct kb_wait_list ready; /* to run again this round */
	struct kb_wait_list multi; /* ReceiveBatch: any socket's event */
	struct kb_wait_list spare; /* freed waits, kept for reuse */
	uint64_t spare_bytes;	   /* their frame buffers */
	uint32_t nwaits;
	bool any_rx; /* a socket became readable (or closed) this round */
	struct kb_conn_list conns, dead, more, dirty;
	TAILQ_HEAD(, kb_sock) closing; /* Closes waiting for Sends */
	struct rs_rpc_registry *reg;
	struct rs_arena *arena;
	uint8_t *in;
	uint64_t now_ns;
	uint64_t out_bytes; /* replies waiting on all connections */
	uint8_t rnd[512];   /* getrandom() bytes for descriptors */
	unsigned rnd_left;
	struct kb_stats st;
};

/* A call being served: the handlers' context. */
struct kb_call {
	struct kb *kb;
	struct kb_conn *c;
	struct kb_wait *wait;	/* run again: its wait; NULL: a new call */
	struct kb_wait *parked; /* the wait the call parked on */
	bool expired;		/* run at its deadline: answer now */
};

#define KB_NONE UINT32_MAX

/* kbase.c */
void kb_conn_call(struct kb *kb, struct kb_conn *c, const uint8_t *frame,
		  size_t len, struct kb_wait *wt, bool expired);

/* kbase_sock.c */
int kb_socks_init(struct kb *kb, uint32_t cap);
void kb_socks_fini(struct kb *kb);
struct kb_sock *kb_sock_new(struct kb *kb, uint32_t app, int *err);
struct kb_sock *kb_sock_find(struct kb *kb, uint32_t app, const char *desc,
			     bool send);
void kb_sock_close(struct kb *kb, struct kb_sock *s);
void kb_sock_close_at(struct kb *kb, struct kb_sock *s, uint64_t off);
bool kb_sock_sending(const struct kb_sock *s);
void kb_sock_kick(struct kb *kb, struct kb_sock *s);
void kb_sock_event(struct kb *kb, uint64_t data, uint32_t events);
int kb_park(struct kb_call *x, struct rs_rpc_call *call,
	    struct kb_wait_list *list, double timeout_s, bool send);
void kb_waits_run(struct kb *kb, struct kb_wait_list *list);
void kb_wait_free(struct kb *kb, struct kb_wait *wt);
void kb_conn_waits_cancel(struct kb *kb, struct kb_conn *c);
void kb_conn_waits_kick(struct kb *kb, struct kb_conn *c);
void kb_timers_run(struct kb *kb);
int kb_timers_next_ms(const struct kb *kb);
void kb_waits_fini(struct kb *kb);

/* kbase_rpc.c */
int kb_rpc_register(struct rs_rpc_registry *reg);

#endif /* KBASE_PVT_H */
