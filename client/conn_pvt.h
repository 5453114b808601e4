/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The connection and its calls, shared by conn.c (transport, I/O thread,
 * reconnect) and call.c (call objects, the table of calls in flight).
 *
 * Locks: conn->mu guards the call table, the done queue, the calls' state
 * fields and the transport state (up, gen, down_err); conn->wmu serialises
 * writes to the transport socket and its replacement.  Order: wmu, then mu.
 * The I/O thread holds neither while it reads, so replies keep flowing
 * while a caller is blocked writing a large request.
 */
#ifndef RSK_CONN_PVT_H
#define RSK_CONN_PVT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/un.h>

#include "client_pvt.h"
#include "tls_pvt.h"

#define RSKP_HASH 256u

struct rsk_call {
	struct rsk_conn *conn;
	/* Written by the owner while the call is not RUNNING. */
	rsk_call_cb cb;
	void *arg;
	unsigned flags;
	uint8_t *frame; /* the request frame, kept for a re-issue */
	size_t flen;
	/* Under conn->mu. */
	enum rsk_call_state state;
	bool pending;	 /* in the table, waiting for its answer */
	bool taken;	 /* out of the table, being completed */
	bool settled;	 /* completed, callback returned: waiters may go */
	bool queued;	 /* on the done queue */
	bool reissued;	 /* sent on more than one transport connection */
	bool writing;	 /* rsk_call_start() is sending frame, unlocked */
	bool frame_done; /* completed while writing: the writer frees it */
	uint64_t id;
	uint64_t gen; /* transport it was last written on; 0: none */
	struct rsk_call *prev, *next; /* table, in start order */
	struct rsk_call *hnext;	      /* hash chain by id */
	struct rsk_call *qnext;	      /* done queue */
	/* The result, written by the completer before settled. */
	struct rsk_call_error err;
	char *detail;
	uint8_t *reply;
	size_t reply_len;
};

struct rsk_conn {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a call settled, or the transport changed */
	pthread_mutex_t wmu;
	/* Under both locks to change, either to read. */
	int fd;		      /* transport socket, -1 while down */
	struct rskp_tls *tls; /* its TLS session, or NULL */
	uint64_t gen;	      /* counts transport connections */
	bool up;	      /* authenticated: calls may be written */
	/* Under mu. */
	bool stopping;
	int down_err; /* new calls fail with it: -ENOTCONN, -EACCES */
	struct rsk_call *head, *tail;
	struct rsk_call *hash[RSKP_HASH];
	struct rsk_call *qhead, *qtail;
	/* Set at open. */
	int efd;      /* eventfd: completed NOTIFY calls queued */
	int stop_efd; /* eventfd: the I/O thread is to stop */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_un un;
	} addr; /* the proxy: TCP, or a Unix socket's path */
	socklen_t addr_len;
	char where[128];       /* it, for messages: "IP:PORT" or the path */
	char auth_detail[160]; /* why the last Authenticate was refused */
	char host[256];	       /* the proxy as given: TLS checks this name */
	void *tls_ctx;	       /* $REMSOCK_TLS_CA's, or NULL: plain TCP */
	char tls_why[256];     /* why the last TLS handshake failed */
	/* The session every transport of the connection names: the proxy
	 * closes its sockets once none has been open for a while (the
	 * process died).  Drawn at open; 0: none (no randomness). */
	uint64_t session;
	char *app;
	uint8_t *secret;
	size_t secret_len;
	int connect_ms;
	int reconnect_ms;
	pthread_t thr;
	atomic_uint_fast64_t next_id;
	atomic_uint_fast64_t reconnects;
	atomic_int refs; /* the owner's, and one per call object */
	/* Test hook (rsk_conn_drop_every()): break the transport after every
	 * drop_every bytes of frames, counted apart in each direction; 0 is
	 * off.  drop_tx is under wmu, drop_rx the I/O thread's. */
	atomic_uint_fast64_t drop_every;
	uint64_t drop_tx;
	/* I/O thread only. */
	uint64_t drop_rx;
	struct rs_frame_decoder *dec;
	uint8_t *rbuf;
};

/* call.c, for conn.c: */

/** Take the call answering @p id out of the table (under mu); NULL when
 *  none waits for it (cancelled, or answered before a re-issue). */
struct rsk_call *rskp_table_take(struct rsk_conn *c, uint64_t id);

/** Take every call of the table, or (@p retry_too false) only those
 *  without RSK_CALL_RETRY, onto a list linked by qnext (under mu). */
struct rsk_call *rskp_table_take_all(struct rsk_conn *c, bool retry_too);

/** Complete a taken call with the answer in @p r (its fields are moved
 *  into the call) or, when @p r is NULL, the local error @p local. */
void rskp_call_complete(struct rsk_call *call, struct rskp_resp *r, int local);

/** Complete every call of a rskp_table_take_all() list with @p local. */
void rskp_calls_fail(struct rsk_call *list, int local);

/* conn.c, for call.c: */

/** Write a whole frame to the transport (under wmu).  @return 0 or a
 *  negative errno; on failure the transport is shut down, so the I/O
 *  thread reconnects. */
int rskp_conn_write(struct rsk_conn *c, const uint8_t *frame, size_t len);

/** Drop a reference; the last frees the connection. */
void rskp_conn_unref(struct rsk_conn *c);

/* The default connection's lock, for a fork handler (the shim): held
 * across fork(), no thread is half way through opening it. */
void rskp_default_lock(void);
void rskp_default_unlock(void);

#endif /* RSK_CONN_PVT_H */
