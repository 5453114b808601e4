/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libremsock-preload: the LD_PRELOAD shim.  Shared by its files; never
 * installed.
 *
 * An AF_INET or AF_INET6 TCP or UDP socket of the program is a socket of
 * the proxy (an rsk handle of the libremsock copied into the shim; the
 * proxy's IPv6 sockets take IPv4-mapped addresses) and one end of
 * an AF_UNIX socketpair (SOCK_STREAM for TCP, SOCK_SEQPACKET for UDP):
 * the program gets the other end, a real descriptor.  The relay thread
 * (relay.c, one per process) moves bytes between the pair's relay end and
 * the proxy with asynchronous Send and Receive calls.
 *
 * Locks: shim.mu guards the fd table's writers, every shim_sock and the
 * relay's state; shim.conn_mu the opening of the connection.  Order:
 * conn_mu, mu, then libremsock's own locks.  No blocking call to the
 * proxy is made with mu held; the relay makes none at all (Close and
 * ShutDown go to a closer thread).
 */
#ifndef RSK_SHIM_PVT_H
#define RSK_SHIM_PVT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "sock_pvt.h"

#define SHIM_TCP 1
#define SHIM_UDP 2

#define SHIM_PIPE 4		/* Sends in flight per socket */
#define SHIM_CHUNK (128u << 10) /* bytes per TCP Send */
#define SHIM_RECV (512u << 10)	/* bytes per TCP Receive */
#define SHIM_UDP_MAX 65536u	/* largest datagram */

/* An address of either family; a UDP frame's header is one (family 0:
 * none), in SHIM_HDR bytes whatever the family. */
union shim_addr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};
#define SHIM_HDR sizeof(union shim_addr)

enum shim_state {
	ST_IDLE,       /* created, or bound */
	ST_CONNECTING, /* a Connect is in flight */
	ST_CONNECTED,  /* relayed */
	ST_LISTENING,  /* a Poll for connections is in flight or due */
	ST_FAILED,     /* connect failed: both directions shut */
	ST_CLOSED,     /* the proxy's socket is closed */
};

enum shim_op_kind { OP_CONNECT, OP_SEND, OP_RECV, OP_POLL };

/* One asynchronous call of a socket. */
struct shim_op {
	struct rsk_call *call;
	struct shim_sock *ss;
	uint8_t kind;
	bool busy;
	int64_t off;  /* Send: stream offset of buf[0] */
	size_t len;   /* Send: bytes of buf */
	size_t cap;   /* Send: room in buf */
	uint8_t *buf; /* Send: up to SHIM_CHUNK (TCP) or a datagram (UDP) */
	union shim_addr to; /* UDP Send: destination, family 0: none */
};

struct shim_sock {
	int refs;	     /* table entries, app calls, the relay */
	int kind;	     /* SHIM_TCP, SHIM_UDP */
	int family;	     /* AF_INET, AF_INET6 */
	bool v6only;	     /* IPV6_V6ONLY as the program set it */
	int h;		     /* rsk handle; -1 once closed or inherited */
	struct rsk_sock *rs; /* its insides: descriptor, send offset */
	int rfd;	     /* relay end; -1 when gone */
	/* The inode of the program's end: a stale entry (its fd closed
	 * behind the shim's back, the number reused) does not match. */
	unsigned long ino;
	bool orphan; /* inherited (fork, exec): its maker relays it */
	enum shim_state state;
	int so_error;
	/* The relay's. */
	bool in_ep;  /* rfd is in the epoll set */
	uint32_t ev; /* its interest */
	bool hup;    /* the program closed every copy of its end */
	bool up_eof, up_err, shut_sent;
	bool dn_eof;
	bool rx_on;    /* UDP: bound or connected: receives run */
	bool udp_peer; /* UDP: connected */
	int64_t up_off, up_acked, rx_next;
	unsigned n_up;
	Remsock__ReceiveReply *dn; /* bytes or a datagram for the program */
	size_t dn_pos;
	struct shim_op cop, rop, up[SHIM_PIPE];
	struct shim_sock *next;	     /* shim.socks */
	struct shim_sock *dead_next; /* shim.dead */
};

struct shim {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a connect finished, a socket closed */
	pthread_mutex_t conn_mu;
	struct rsk_conn *conn;
	int ep, wake_fd;
	pthread_t relay, closer;
	bool relay_on;
	bool exiting;
	pid_t pid;	 /* whose memory this is: a vfork child differs */
	int64_t fail_ms; /* when opening the connection last failed */
	int fail_err;
	struct shim_sock *socks;
	struct shim_sock *dead; /* closed, the relay's reference to drop */
};

extern struct shim shim;

/* ---- real.c: the functions the shim stands in front of ----------------- */

struct shim_real {
	int (*socket)(int, int, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*close)(int);
	int (*close_range)(unsigned, unsigned, int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*sendto)(int, const void *, size_t, int,
			  const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *,
			    socklen_t *);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
	void (*freeaddrinfo)(struct addrinfo *);
};

extern struct shim_real shim_real;

/** Resolve the real functions (idempotent). */
void shim_real_init(void);

#define REAL(name)                                                             \
	(shim_real.name != NULL ? (void)0 : shim_real_init(), shim_real.name)

/* ---- table.c: fd -> shim_sock ------------------------------------------ */

/** The socket behind program fd @p fd, or NULL (lock-free read). */
struct shim_sock *shim_tab_peek(int fd);

/** The socket behind @p fd with a reference (mu taken and dropped). */
struct shim_sock *shim_tab_get(int fd);

/** Whether @p fd still is @p ss's end (fstat). */
bool shim_tab_same(int fd, const struct shim_sock *ss);

/** The inode of @p fd, 0 when fstat fails. */
unsigned long shim_ino(int fd);

/** Point @p fd at @p ss (mu held; takes a reference).  @return 0, -ENOMEM. */
int shim_tab_set(int fd, struct shim_sock *ss);

/** Forget @p fd (mu held; drops its reference). */
void shim_tab_clear(int fd);

/** Drop a reference (mu held); the last frees the socket. */
void shim_sock_put_locked(struct shim_sock *ss);
void shim_sock_put(struct shim_sock *ss);

/**
 * The shim's own descriptors (the transport, its event fds, the epoll
 * set, each socket's relay end) live out of the program's way: moved to
 * the top quarter of RLIMIT_NOFILE's soft limit (at most from 4096),
 * close-on-exec, and marked, so that a program that dup2()s over or
 * closes a number it never opened (bash's exec 3<>/dev/tcp/...) cannot
 * take them (close: EBADF, dup2/dup3 onto one: EBUSY).
 *
 * @return the descriptor to use instead of @p fd (@p fd when it cannot
 *   move), or @p fd when negative.
 */
int shim_fd_own(int fd);

/** Whether @p fd is one of the shim's own (in the process that made it). */
bool shim_fd_is_own(int fd);

/** Close one of the shim's own descriptors. */
int shim_fd_close(int fd);

/* ---- relay.c ------------------------------------------------------------ */

/** Start the relay and closer threads on shim.conn.  @return 0 or a
 *  negative errno. */
int shim_relay_start(void);

/** Whether Closes or ShutDowns are still queued or running (mu held). */
bool shim_relay_busy(void);

/** In a forked child: forget the parent's queued jobs. */
void shim_relay_forked(void);

/** At exit, with REMSOCK_TEST_DROP_BYTES: say how often the transport
 *  came back (REMSOCK_DEBUG). */
void shim_relay_exit_note(void);

/* ---- life.c ------------------------------------------------------------- */

/** The connection, opened (and the relay started) on first use.  NULL
 *  with errno set when the proxy cannot be reached. */
struct rsk_conn *shim_conn(void);

/**
 * A socket for rsk handle @p h: the pair, the table entry, the relay.
 *
 * @param flags  SOCK_NONBLOCK, SOCK_CLOEXEC for the program's end.
 * @return the program's fd, or -1 with errno (the handle is closed).
 */
int shim_sock_new(int h, int family, int kind, int flags, enum shim_state st);

/**
 * An address the program gave a socket of @p ss's family, as the proxy
 * takes it: an AF_INET one for an AF_INET6 socket becomes IPv4-mapped
 * (as Linux's IPv6 sockets take it; ENETUNREACH with IPV6_V6ONLY).
 *
 * @return 0 with *@p out and *@p olen, or a negative errno (EAFNOSUPPORT,
 *   EINVAL).
 */
int shim_addr_take(const struct shim_sock *ss, const struct sockaddr *sa,
		   socklen_t len, union shim_addr *out, socklen_t *olen);

/** Start a socket's Connect (mu held).  @return 0 or a negative errno. */
int shim_connect_start(struct shim_sock *ss, const struct sockaddr *sa,
		       socklen_t len);

/** Let the relay look at @p ss again (mu held): start receives, re-arm a
 *  listener's Poll. */
void shim_kick(struct shim_sock *ss);

/** Take the shim sockets this image inherited through exec into the
 *  table (as inherited: the process that made them relays them). */
void shim_adopt(void);

/** Whether this is a child sharing the parent's memory (vfork, as
 *  posix_spawn and Python's subprocess use): it must not change the
 *  table, which is the parent's. */
bool shim_shared_child(void);

/** Fork and exit handling. */
void shim_atfork_init(void);

/* ---- dgram.c ------------------------------------------------------------ */

/** sendmsg(2) on a UDP shim fd: frame and send.  @return as sendmsg. */
ssize_t shim_dgram_send(int fd, struct shim_sock *ss, const struct msghdr *m,
			int flags);

/** recvmsg(2) on a UDP shim fd.  @return as recvmsg. */
ssize_t shim_dgram_recv(int fd, struct msghdr *m, int flags);

/* ---- misc --------------------------------------------------------------- */

/** A line on stderr when REMSOCK_DEBUG is set. */
void shim_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int64_t shim_now_ms(void);

#endif /* RSK_SHIM_PVT_H */
