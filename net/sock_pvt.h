/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket layer's insides.  Private to net/.
 *
 * sock.c keeps what every socket has -- the per-worker pool, the port
 * table, names, options, the pending error, events -- and calls through
 * a table of operations for what depends on the kind (udp.c, tcp_glue.c),
 * as Redis' connection types do.
 *
 * Tables, per worker, chained through the sockets themselves so that
 * inserting allocates nothing:
 *   port table   (kind, local port) -> bound sockets, for bind conflicts
 *                and for unconnected UDP demux;
 *   conn table   (remote address, remote port, local port) -> connected
 *                UDP sockets, looked up first on input.
 * TCP demux is the TCP core's own.
 */
#ifndef RS_SOCK_PVT_H
#define RS_SOCK_PVT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_byteorder.h>

#include "lcore_pvt.h"
#include "rs_sock.h"

struct rs_rec_ring;
struct rs_tcp_conn;
struct rs_tcp_listener;

/** What a kind does differently.  Every member is set. */
struct rs_sock_ops {
	/** Set up the kind's state at open: 0 or a negative errno. */
	int (*open)(struct rs_sock *s);
	/** Free it at close; @p abort resets a TCP connection. */
	void (*release)(struct rs_sock *s, bool abort);
	/** The address is checked and the socket is bound when needed
	 *  (UDP; TCP binds in the core). */
	int (*connect)(struct rs_sock *s, rte_be32_t addr, rte_be16_t port);
	int (*listen)(struct rs_sock *s, int backlog);
	struct rs_sock *(*accept)(struct rs_sock *s);
	ssize_t (*sendto)(struct rs_sock *s, const void *buf, size_t len,
			  const struct sockaddr_in *to);
	ssize_t (*recvfrom)(struct rs_sock *s, void *buf, size_t len,
			    unsigned flags, struct sockaddr_in *from);
	ssize_t (*readable)(const struct rs_sock *s);
	ssize_t (*writable)(const struct rs_sock *s);
	int (*shutdown)(struct rs_sock *s, enum rs_sock_shut how);
	/** Apply an option already validated and stored in s->opt[]. */
	int (*setopt)(struct rs_sock *s, enum rs_sock_opt opt, int value);
	/** ARP gave up on next hop @p nh: fail what waits on it. */
	void (*unreachable)(struct rs_sock *s, rte_be32_t nh);
};

/* s->flags */
#define RS_SF_OPEN 0x01u      /* the application holds the handle */
#define RS_SF_BOUND 0x02u     /* in the port table */
#define RS_SF_CONNECTED 0x04u /* raddr/rport fixed */
#define RS_SF_LISTENING 0x08u /* TCP listener */
#define RS_SF_SHUT_RD 0x10u
#define RS_SF_SHUT_WR 0x20u
#define RS_SF_QUEUED 0x40u	/* on the event queue */
#define RS_SF_CLAIMED 0x80u	/* its port claimed for this worker (steer.c) */
#define RS_SF_RCVBUF_SET 0x100u /* SO_RCVBUF set: no auto-tuning */
#define RS_SF_SNDBUF_SET 0x200u /* SO_SNDBUF set: likewise */

struct rs_sock {
	const struct rs_sock_ops *ops;
	struct rs_lcore *lc;
	rs_sock_event_fn cb;
	void *user;
	uint16_t flags; /* RS_SF_* */
	uint8_t kind;	/* enum rs_sock_kind */
	uint8_t ev;	/* RS_SOCK_EV_* waiting for dispatch */
	int so_error;	/* positive errno, 0: none */
	uint32_t owner; /* SO_REUSEADDR shares a port within one owner */
	rte_be32_t laddr, raddr;
	rte_be16_t lport, rport;
	int opt[RS_SOCK_OPT_MAX];  /* values as set (RS_SO_ERROR unused) */
	struct rs_sock *port_next; /* port table chain */
	struct rs_sock *conn_next; /* conn table chain */
	struct rs_sock *ev_next;   /* event queue, or free list */
	union {
		struct rs_rec_ring *udp_rx;
		struct {
			struct rs_tcp_conn *conn;
			struct rs_tcp_listener *lst;
		} tcp;
	};
};

/* sock.c */
/** Create the worker's socket table ([sockets] max); 0 or -ENOMEM. */
int rs_socks_create(struct rs_lcore *lc, const struct rs_config *cfg);
/** Free it; sockets still open are freed too (and counted leaked). */
void rs_socks_free(struct rs_lcore *lc);
/** Close every socket the application left open, counting each. */
void rs_socks_reap(struct rs_lcore *lc);
/** Deliver queued events.  @return sockets called back. */
unsigned rs_socks_dispatch(struct rs_lcore *lc);
/** ARP gave up on @p nh: tell the sockets that send through it. */
void rs_socks_unreachable(struct rs_lcore *lc, rte_be32_t nh);
/** Take a fresh socket (accept): as rs_sock_open() with the
 *  listener's callback. @return NULL with errno set. */
struct rs_sock *rs_sock_new(struct rs_lcore *lc, enum rs_sock_kind kind,
			    rs_sock_event_fn cb, void *user);
/** Queue events for dispatch after the current packet or timer. */
void rs_sock_event(struct rs_sock *s, unsigned ev);
/** Set the pending error and queue ERROR (plus @p more events). */
void rs_sock_fail(struct rs_sock *s, int err, unsigned more);
/**
 * Bind in the port table: @p port 0 picks an ephemeral one, with
 * @p raddr / @p rport as RFC 6056's algorithm 3 input when known (else
 * 0).  @return 0 or -EADDRINUSE.
 */
int rs_sock_port_bind(struct rs_sock *s, rte_be16_t port, rte_be32_t raddr,
		      rte_be16_t rport);
/** Enter a connected UDP socket in the conn table (raddr/rport set). */
void rs_sock_conn_insert(struct rs_sock *s);
/** Take it out again (disconnect, close). */
void rs_sock_conn_remove(struct rs_sock *s);
/** The UDP socket a datagram to @p lport from @p raddr:@p rport is for:
 *  connected first, then bound. NULL: none. */
struct rs_sock *rs_socks_udp_lookup(struct rs_lcore *lc, rte_be32_t raddr,
				    rte_be16_t rport, rte_be16_t lport);

/* udp.c, tcp_glue.c */
extern const struct rs_sock_ops rs_udp_ops;
extern const struct rs_sock_ops rs_tcp_ops;

/* tcp_glue.c */
/** Create the worker's TCP stack from [tcp]; 0 or a negative errno. */
int rs_tcp_glue_create(struct rs_lcore *lc, const struct rs_config *cfg);
/** Push the connections whose output emit() held back, if the TX batch
 *  has room.  @return connections pushed. */
unsigned rs_tcp_glue_resume(struct rs_lcore *lc);
/** Send what autocork sockets wrote this round (rs_tcp_flush()).
 *  @return connections pushed. */
unsigned rs_tcp_glue_flush(struct rs_lcore *lc);
/** rs_sock_rx_offsets() and rs_sock_rx_seek() of a TCP socket. */
int rs_tcp_glue_rx_offsets(const struct rs_sock *s, uint64_t *held,
			   uint64_t *unread);
int rs_tcp_glue_rx_seek(struct rs_sock *s, uint64_t off);
/** The zero-copy halves of a TCP socket's receive and send (rs_sock.h). */
ssize_t rs_tcp_glue_rx_view(struct rs_sock *s, size_t len, unsigned flags,
			    struct rs_byte_view *v);
int rs_tcp_glue_rx_take(struct rs_sock *s, size_t n, unsigned flags);
size_t rs_tcp_glue_tx_view(struct rs_sock *s, size_t need,
			   struct rs_byte_view *v);
int rs_tcp_glue_tx_commit(struct rs_sock *s, size_t n);
/** Whether a TCP socket has a peer to name: connected, not connecting
 *  and not ended (Linux's getpeername() says ENOTCONN otherwise). */
bool rs_tcp_glue_peer_known(const struct rs_sock *s);
/** rs_sock_poll() of a TCP socket. */
unsigned rs_tcp_glue_poll(const struct rs_sock *s);
/** The port is configured: take TSO if it was negotiated. */
void rs_tcp_glue_port_ready(struct rs_lcore *lc);
/** Destroy it (after rs_tcp_glue_drain()). */
void rs_tcp_glue_free(struct rs_lcore *lc);
/** Run due timers. */
void rs_tcp_glue_timers(struct rs_lcore *lc);
/** @return when the next TCP timer is due (ns, lc->now_ns's clock), or
 *  UINT64_MAX. */
uint64_t rs_tcp_glue_next_ns(const struct rs_lcore *lc);
/** @return connections in the pool. */
unsigned rs_tcp_glue_conns(const struct rs_lcore *lc);

#endif /* RS_SOCK_PVT_H */
