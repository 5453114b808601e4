/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * remsock-loadgen's shared state.
 *
 * One thread does everything: the tenants (RPC connections to the server
 * under test, calls pipelined to a depth), the far peers (TCP source, sink
 * and echo servers that the server's proxied sockets connect to) and the
 * clock of the run.  The same code runs over two transports (lg_io):
 * the project's own stack on a DPDK port (lg_dpdk.c: the thread is the
 * data plane's worker, joined to remsockd by vhost-user), or Linux
 * sockets with epoll (lg_kern.c: against perf/kbase or haproxy over a veth
 * pair).  Workloads (lg_work.c) see only lg_io, so both servers get the
 * same calls.
 *
 * Phases of a run: CONNECT (RPC connections authenticate), SETUP (each
 * creates its proxied sockets), WARMUP, MEASURE (only this window is
 * counted), DRAIN (calls in flight answer), CLOSE (sockets closed), DONE.
 */
#ifndef LG_H
#define LG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rs_frame.h"

/* Event bits, the values of rs_sock.h's RS_SOCK_EV_*. */
#define LG_EV_READ 0x01u
#define LG_EV_WRITE 0x02u
#define LG_EV_CONNECTED 0x04u
#define LG_EV_ACCEPT 0x08u
#define LG_EV_ERROR 0x10u
#define LG_EV_CLOSED 0x20u

struct lg_sock;
typedef void (*lg_ev_fn)(struct lg_sock *s, unsigned ev, void *user);

/* A transport: TCP sockets with edge-style events, as rs_sock.h's (an
 * event follows a recv/send that returned -EAGAIN). */
struct lg_io {
	const char *name;
	/* Start connecting; NULL with errno on failure. */
	struct lg_sock *(*connect)(const struct sockaddr_in *to, lg_ev_fn cb,
				   void *user);
	struct lg_sock *(*listen)(const struct sockaddr_in *at, lg_ev_fn cb,
				  void *user);
	/* A waiting connection, or NULL. */
	struct lg_sock *(*accept)(struct lg_sock *l, lg_ev_fn cb, void *user);
	/* Bytes taken, -EAGAIN, or a negative errno. */
	ssize_t (*send)(struct lg_sock *s, const void *buf, size_t len);
	/* Bytes read, 0 at EOF, -EAGAIN, or a negative errno. */
	ssize_t (*recv)(struct lg_sock *s, void *buf, size_t len);
	int (*error)(struct lg_sock *s); /* positive errno, 0 */
	void (*close)(struct lg_sock *s);
};

extern const struct lg_io lg_io_dpdk, lg_io_kern;
struct rs_lcore;
/* lg_dpdk.c: the worker the DPDK transport opens its sockets on. */
void lg_dpdk_bind(struct rs_lcore *lc);
/* lg_kern.c: wait for events up to @p timeout and dispatch them;
 * @return events handled, or -1 with errno. */
struct timespec;
int lg_kern_poll(const struct timespec *timeout);
int lg_kern_init(void);

enum lg_workload {
	LG_W_RECV,
	LG_W_RECV_BATCH,
	LG_W_SEND,
	LG_W_SEND_BATCH,
	LG_W_RELAY_DOWN,
	LG_W_RELAY_UP,
	LG_W_ECHO,
	LG_W_CHURN,
	LG_W_MAX
};

/* The peers' ports on the load generator's own address. */
#define LG_PORT_SOURCE 9001
#define LG_PORT_SINK 9002
#define LG_PORT_ECHO 9003

/* Byte k of every stream the load generator sends is k % LG_PATTERN_MOD:
 * cheap to produce (a slice of one buffer) and to check. */
#define LG_PATTERN_MOD 251u

/* Latency: a log-linear histogram of nanoseconds (HdrHistogram's layout:
 * 32 linear buckets per power of two, within 3.2% of the value). */
#define LG_HIST_SUB 64u
#define LG_HIST_BUCKETS (LG_HIST_SUB * 42u)

struct lg_hist {
	uint64_t count;
	uint64_t max;
	uint64_t n[LG_HIST_BUCKETS];
};

void lg_hist_add(struct lg_hist *h, uint64_t ns);
/* The value at quantile q (0..1): the top of its bucket. */
uint64_t lg_hist_quantile(const struct lg_hist *h, double q);
/* Write "ns cumulative_fraction" lines (the CDF) to @p path. */
int lg_hist_write_cdf(const struct lg_hist *h, const char *path);

struct lg_opts {
	enum lg_workload workload;
	bool kernel;		   /* --mode kernel */
	const char *config;	   /* -c: DPDK mode's ini */
	struct sockaddr_in server; /* the RPC service */
	struct sockaddr_in plain;  /* --plain: a TCP relay (haproxy) */
	bool use_plain;
	struct sockaddr_in self;    /* our address (peers listen here) */
	struct sockaddr_in peer_at; /* the peers' address as the server
				       reaches it (CreateSocket remote_ip) */
	const char *app, *secret;   /* the tenants' app */
	const char *stats_app, *stats_secret; /* an operator app: Stats */
	int server_pid;			      /* its CPU time from /proc */
	unsigned size;			      /* bytes a call (or entry) */
	unsigned sockets;
	unsigned conns;
	unsigned depth; /* calls in flight per connection */
	unsigned batch; /* entries per batch call */
	double warmup_s, duration_s;
	double rate;	      /* echo: requests/s offered (open loop) */
	bool verify;	      /* check every byte received (the pattern) */
	bool cross;	      /* calls on a socket come from the next
				 connection, not the one that made it */
	const char *cdf_path; /* the latency CDF */
	const char *label;    /* a name for the server, in the result */
	unsigned timeout_s;   /* the whole run's limit */
};

/* The run, shared by every file. */
struct lg {
	const struct lg_opts *o;
	const struct lg_io *io;
	uint64_t (*now_ns)(void);
	/* The transport's own busy cycles and their rate, if it counts them
	 * (DPDK); else the process's CPU time is used. */
	uint64_t (*self_busy_cycles)(void);
	uint64_t tsc_hz;

	int phase;
	bool done, failed;
	char why[256];	  /* the first failure */
	uint64_t t_phase; /* when the phase began */
	uint64_t t_start, t_end;

	/* Counted in the MEASURE window. */
	uint64_t calls, entries, bytes, errors, empty;
	struct lg_hist hist;
	/* Counted always. */
	uint64_t errors_total;
	unsigned conns_ready, socks_ready;

	/* Cost snapshots at the window's edges. */
	uint64_t srv_cpu_ticks[2];
	uint64_t srv_busy[2], srv_ctl_busy[2], srv_tsc_hz;
	uint64_t srv_fwd[2]; /* calls forwarded between its workers */
	bool srv_stats_ok[2];
	uint64_t self_busy[2];
	double self_cpu[2];

	/* Echo's open loop. */
	uint64_t echo_issued, echo_backlog_max;
	uint8_t *pattern; /* LG_PATTERN_MOD + largest size bytes */
};

extern struct lg lg;

void lg_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *lg_workload_name(enum lg_workload w);

/* lg_peer.c: the source, sink and echo servers. */
int lg_peers_start(void);
void lg_peers_stop(void);

/* lg_work.c: the tenants. */
int lg_work_start(void);
/* Advance phases and the open loop; @return work done. */
int lg_work_tick(void);
void lg_work_stop(void);
/* echo: when the next request is due (UINT64_MAX: none). */
uint64_t lg_work_next_due_ns(void);
/* Bytes the sink saw differ from the pattern (--verify). */
extern uint64_t lg_peer_verify_errors;
/* After the run: the result line and the summary. */
void lg_report(void);

/* lg_wire.c: hand-written protobuf for the few messages used, so that
 * neither side allocates per call. */
struct lg_pb {
	uint8_t *p, *end; /* writer */
};
void lg_pb_varint(struct lg_pb *w, unsigned field, uint64_t v);
void lg_pb_bytes(struct lg_pb *w, unsigned field, const void *b, size_t n);
/* A length-delimited field whose body follows: the header now, with the
 * length @p n given up front. */
void lg_pb_len(struct lg_pb *w, unsigned field, size_t n);
void lg_pb_double(struct lg_pb *w, unsigned field, double v);
size_t lg_pb_varint_size(uint64_t v);
size_t lg_pb_bytes_size(unsigned field, size_t n);

/* A reader over one message's fields. */
struct lg_pbr {
	const uint8_t *p, *end;
	unsigned field, wire;
	uint64_t v;	  /* varint, fixed */
	const uint8_t *b; /* length-delimited */
	size_t n;
};
/* @return 1 with the next field, 0 at the end, -1 malformed. */
int lg_pbr_next(struct lg_pbr *r);
static inline void lg_pbr_init(struct lg_pbr *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->end = p + n;
}

#endif /* LG_H */
