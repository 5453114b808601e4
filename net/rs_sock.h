/* SPDX-License-Identifier: BSD-3-Clause */
/* API v1: stable */
/**
 * @file
 * The data plane's in-process socket API: UDP and TCP sockets for code
 * that runs on a worker lcore (the proxy service, test applications).
 *
 * Threading.  A socket belongs to the worker lcore it was opened on; every
 * function here must be called on that lcore, from an application's poll
 * function or from a socket event callback (see rs_dp_set_app()).  Nothing
 * here blocks, locks, or makes a system call; sends and receives allocate
 * nothing on the heap.
 *
 * Handles.  rs_sock_open() and rs_sock_accept() hand out a socket; the
 * handle stays valid until the application gives it back with
 * rs_sock_close() or rs_sock_abort(), whatever happens to the connection
 * meanwhile.  After that call the handle must not be used again, and no
 * callback for it follows.  A TCP connection closed gracefully lives on
 * inside the stack (FIN handshake, TIME-WAIT) without its handle.
 *
 * Events.  Each socket has one callback, called with a mask of
 * RS_SOCK_EV_* bits.  Events are collected while packets and timers are
 * processed and delivered afterwards, from the worker loop, so a
 * callback may call any function here, including rs_sock_close() on its
 * own socket.  Events are edge-style hints, at most one call per socket
 * and loop with the bits of that loop together: READABLE when data (or
 * the end of the stream, or a datagram) arrives, WRITABLE when room
 * appears in a TCP TX ring (the peer acknowledged data, or the connection
 * was established); the application drains or fills until -EAGAIN.
 *
 * Return values: 0 or a count on success, a negative errno on failure,
 * as below.  Addresses are struct sockaddr_in, network byte order in
 * both fields, family AF_INET (IPv4 only).
 *
 * Multi-worker note: with RSS, a packet reaches the worker its hash
 * selects.  A listening or bound socket serves the packets of its own
 * worker only; open one per worker (for example from the app's init
 * function, which runs on every worker).
 */
#ifndef RS_SOCK_H
#define RS_SOCK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rs_byte_ring.h"
#include "rs_dataplane.h"

/** A worker lcore's context (opaque); given to application hooks. */
struct rs_lcore;

/** A socket (opaque). */
struct rs_sock;

/** Socket kinds. */
enum rs_sock_kind {
	RS_SOCK_UDP = 1, /**< datagrams; RX in a record ring */
	RS_SOCK_TCP = 2, /**< a byte stream; RX and TX byte rings */
};

/** Event bits given to the callback. */
#define RS_SOCK_EV_READABLE 0x01u  /**< data, a datagram, or EOF to recv */
#define RS_SOCK_EV_WRITABLE 0x02u  /**< room to send again */
#define RS_SOCK_EV_CONNECTED 0x04u /**< a TCP connect completed */
#define RS_SOCK_EV_ACCEPTED 0x08u  /**< a listener has connections */
#define RS_SOCK_EV_ERROR 0x10u	   /**< rs_sock_error() has an error */
/** TCP: the connection is CLOSED (reset, timed out, or closed by the peer
 *  last): nothing more will happen on it; the handle is still to be
 *  closed.  A connection whose FIN went first ends in TIME-WAIT, which
 *  brings no CLOSED: after EOF on both sides, just close the handle. */
#define RS_SOCK_EV_CLOSED 0x20u

/**
 * An event callback.
 *
 * @param s       the socket.
 * @param events  RS_SOCK_EV_* bits, never 0.
 * @param user    the pointer given with it.
 */
typedef void (*rs_sock_event_fn)(struct rs_sock *s, unsigned events,
				 void *user);

/** Flags of rs_sock_recv() and rs_sock_recvfrom(). */
#define RS_SOCK_PEEK 0x1u /**< look without consuming */
/** UDP: return the datagram's real length, even when longer than the
 *  buffer (which receives the first bytes only, as always). */
#define RS_SOCK_TRUNC 0x2u
/** TCP: keep the bytes read in the RX ring (they still count against
 *  the receive window) until rs_sock_rx_seek() moves past them; until
 *  then they can be read again. */
#define RS_SOCK_HOLD 0x4u

/** rs_sock_shutdown() directions: the values of SHUT_RD, SHUT_WR and
 *  SHUT_RDWR. */
enum rs_sock_shut {
	RS_SOCK_SHUT_RD = 0,
	RS_SOCK_SHUT_WR = 1,
	RS_SOCK_SHUT_RDWR = 2,
};

/** Socket options: int values. */
enum rs_sock_opt {
	RS_SO_REUSEADDR,  /**< bool: bind even if the port is in use */
	RS_SO_KEEPALIVE,  /**< bool: TCP keepalive probes */
	RS_SO_RCVBUF,	  /**< bytes of the RX ring (before connect/listen
			       for TCP; rounded up to a power of two).
			       TCP rings auto-tune ([tcp] rmem_max) unless
			       set: reading it gives the size now */
	RS_SO_SNDBUF,	  /**< bytes of the TX ring (TCP; as RCVBUF,
			       [tcp] wmem_max) */
	RS_SO_LINGER,	  /**< seconds; -1 off (default), 0: close resets */
	RS_SO_ERROR,	  /**< get only: pending error as a positive
			       errno, then cleared */
	RS_TCP_NODELAY,	  /**< bool: no Nagle */
	RS_TCP_KEEPIDLE,  /**< seconds idle before the first probe */
	RS_TCP_KEEPINTVL, /**< seconds between probes */
	RS_TCP_KEEPCNT,	  /**< probes unanswered before the reset */
	RS_SO_REUSEPORT,  /**< bool, TCP, before bind: the port is served
			       by a socket on each worker (a listener of
			       each), which share its connections by their
			       flow hash; without it, a bound port belongs
			       to the socket's worker, which gets all its
			       packets */
	RS_TCP_AUTOCORK,  /**< bool, TCP: what is written (rs_sock_send(),
			       rs_sock_tx_commit()) leaves at the end of
			       the worker's loop round, with everything
			       else written to the socket in that round:
			       replies written one by one share segments.
			       Adds no wait beyond the round */
	RS_SOCK_OPT_MAX
};

/**
 * Open a socket on the calling worker.
 *
 * @param lc    the worker, as given to the application hooks.
 * @param kind  RS_SOCK_UDP or RS_SOCK_TCP.
 * @param cb    event callback (may be NULL: no events).
 * @param user  given to @p cb.
 * @return the socket, or NULL with errno set: EINVAL (bad kind),
 *   EMFILE (the worker's [sockets] max reached), ENOMEM.
 */
struct rs_sock *rs_sock_open(struct rs_lcore *lc, enum rs_sock_kind kind,
			     rs_sock_event_fn cb, void *user);

/** Replace a socket's callback and its user pointer. */
void rs_sock_set_callback(struct rs_sock *s, rs_sock_event_fn cb, void *user);

/**
 * Say whose a socket is: SO_REUSEADDR shares a port only among sockets of
 * the same owner (0 for all, as opened).  A service that holds sockets
 * for several parties gives each its own, so that one never takes
 * another's port or datagrams.  Set it before binding.
 */
void rs_sock_set_owner(struct rs_sock *s, uint32_t owner);

/** @return the socket's kind. */
enum rs_sock_kind rs_sock_kind(const struct rs_sock *s);

/** @return the worker that owns the socket. */
struct rs_lcore *rs_sock_lcore(const struct rs_sock *s);

/**
 * Bind to a local address and port.
 *
 * @param addr  INADDR_ANY or the proxy's address; port 0 picks an
 *   ephemeral port (RFC 6056).
 * @return 0; -EINVAL (already bound, or not AF_INET); -EADDRNOTAVAIL
 *   (not our address); -EADDRINUSE (port taken and RS_SO_REUSEADDR not
 *   set on both, another worker's port (see RS_SO_REUSEPORT), or no
 *   ephemeral port free).
 */
int rs_sock_bind(struct rs_sock *s, const struct sockaddr_in *addr);

/**
 * Connect.  UDP: fix the peer (send without an address, receive only
 * from it).  TCP: start the handshake; completion is the CONNECTED event,
 * failure the ERROR and CLOSED events with rs_sock_error() telling why
 * (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH).  Binds an ephemeral port when
 * the socket is not bound.
 *
 * @return UDP: 0.  TCP: -EINPROGRESS (the handshake started).  Or
 *   -EALREADY (TCP: still connecting); -EISCONN (TCP: connected);
 *   -EINVAL (listening,
 *   not AF_INET, or a zero address or port); -ENETUNREACH (no route);
 *   -EADDRINUSE (no ephemeral port free); -ENOMEM (TCP: no connection
 *   free, [tcp] max_conns reached).
 */
int rs_sock_connect(struct rs_sock *s, const struct sockaddr_in *addr);

/**
 * Listen for TCP connections (binds an ephemeral port if unbound).
 *
 * @param backlog  connections established but not yet accepted, at
 *   most; beyond it new SYNs are dropped.  <= 0 means the default.
 * @return 0; -EOPNOTSUPP (UDP); -EINVAL (connected).
 */
int rs_sock_listen(struct rs_sock *s, int backlog);

/**
 * Take an established connection from a listener.  The new socket gets
 * the listener's callback and user pointer; change them with
 * rs_sock_set_callback().
 *
 * @param peer  receives the peer's address (may be NULL).
 * @return the socket, or NULL with errno set: EAGAIN (none waiting),
 *   EINVAL (not listening), EOPNOTSUPP (UDP), EMFILE ([sockets] max
 *   reached; the connection stays queued).
 */
struct rs_sock *rs_sock_accept(struct rs_sock *s, struct sockaddr_in *peer);

/**
 * Send on a connected socket; as rs_sock_sendto() with no address.
 */
ssize_t rs_sock_send(struct rs_sock *s, const void *buf, size_t len,
		     unsigned flags);

/**
 * Send.  TCP: copy as much as fits into the TX ring (the stack sends it
 * when the window allows); @p to must be NULL.  UDP: send one datagram
 * now (binds an ephemeral port first if unbound); the datagram may still
 * be lost (ARP resolution pending, TX queue full), as UDP may.
 *
 * @param to  destination (UDP; NULL: the connected peer).
 * @return bytes taken (TCP: maybe fewer than @p len); or -EAGAIN (TCP:
 *   the TX ring is full; wait for WRITABLE); -ENOTCONN (no peer);
 *   -EPIPE (TCP: shut down for writing, or the connection ended);
 *   -EMSGSIZE (UDP: longer than the MTU allows; no fragmentation);
 *   -ENETUNREACH (UDP: no route); -EHOSTUNREACH (UDP: the next hop did
 *   not answer ARP lately); -ENOBUFS (UDP: no mbuf); -EISCONN (TCP: @p to
 *   given); a pending error of the connection (e.g. -ECONNRESET).
 */
ssize_t rs_sock_sendto(struct rs_sock *s, const void *buf, size_t len,
		       unsigned flags, const struct sockaddr_in *to);

/**
 * Receive; as rs_sock_recvfrom() without the source.
 */
ssize_t rs_sock_recv(struct rs_sock *s, void *buf, size_t len, unsigned flags);

/**
 * Receive.  TCP: copy up to @p len bytes from the RX ring.  UDP: copy the
 * oldest datagram (its first @p len bytes; the rest is discarded unless
 * RS_SOCK_PEEK).
 *
 * @param flags  RS_SOCK_PEEK, RS_SOCK_TRUNC, RS_SOCK_HOLD.
 * @param from   receives the source (may be NULL).
 * @return bytes copied (UDP with RS_SOCK_TRUNC: the datagram's length);
 *   0 at the end of a TCP stream (the peer's FIN; also for an empty
 *   datagram); -EAGAIN (nothing yet); -ENOTCONN (TCP: not connected);
 *   a pending error of the connection (e.g. -ECONNRESET, -ETIMEDOUT).
 */
ssize_t rs_sock_recvfrom(struct rs_sock *s, void *buf, size_t len,
			 unsigned flags, struct sockaddr_in *from);

/**
 * TCP: where the reader stands in the received stream, as stream offsets
 * (the first byte received is offset 0).
 *
 * @param held    receives the first byte read but still held
 *                (RS_SOCK_HOLD); equal to @p unread when none is.
 * @param unread  receives the first byte not read yet.
 * @return 0; -EOPNOTSUPP (UDP); -ENOTCONN (no connection).
 */
int rs_sock_rx_offsets(const struct rs_sock *s, uint64_t *held,
		       uint64_t *unread);

/**
 * TCP: release the held bytes below @p off and read again from @p off.
 *
 * @return 0; -ERANGE when @p off is outside [held, unread]; -EOPNOTSUPP
 *   (UDP); -ENOTCONN.
 */
int rs_sock_rx_seek(struct rs_sock *s, uint64_t off);

/**
 * TCP, zero-copy receive: what rs_sock_recv() with @p flags would copy
 * out, described in place instead (one run of the receive ring, or two
 * where it wraps), and nothing moves.  Take what was used with
 * rs_sock_rx_take().  The view stays valid until the stack runs again
 * (the current callback or poll hook returns): bytes taken meanwhile
 * are released but not overwritten.
 *
 * @return bytes in the view (at most @p len); otherwise as rs_sock_recv()
 *   (0 at the end of the stream, -EAGAIN, -ENOTCONN, a pending error;
 *   -EOPNOTSUPP for UDP).
 */
ssize_t rs_sock_rx_view(struct rs_sock *s, size_t len, unsigned flags,
			struct rs_byte_view *v);

/**
 * A hint that each of @p n sockets (NULL entries and UDP ones skipped)
 * will be read soon, with rs_sock_rx_view(): their state, their TCP
 * connections' and their first unread bytes are brought toward the cache
 * in stages over all of them, so that the cache misses of many sockets
 * overlap (a batch of Receives).
 */
void rs_sock_rx_prefetch(struct rs_sock *const *socks, size_t n);

/**
 * TCP: take the first @p n bytes of the latest rs_sock_rx_view() as
 * rs_sock_recv() with @p flags would have: consumed (the window opens),
 * held (RS_SOCK_HOLD), or left where they are (RS_SOCK_PEEK).
 *
 * @return 0; -ERANGE (more than the unread bytes); -EOPNOTSUPP (UDP);
 *   -ENOTCONN.
 */
int rs_sock_rx_take(struct rs_sock *s, size_t n, unsigned flags);

/**
 * TCP, zero-copy send: free room in the TX ring, in place, grown first to
 * cover @p need bytes where the ring's size allows; write there, then
 * rs_sock_tx_commit().  Nothing written through it is sent before that.
 *
 * @return bytes the view covers (may be below @p need); 0 when nothing
 *   can be written now (full, shut down, not connected or failed:
 *   rs_sock_send() says which).
 */
size_t rs_sock_tx_view(struct rs_sock *s, size_t need, struct rs_byte_view *v);

/**
 * TCP: send the first @p n bytes written through the latest
 * rs_sock_tx_view(), as rs_sock_send() sends what it copies.
 *
 * @return 0; -ENOBUFS (beyond the view: nothing moves); or as
 *   rs_sock_send().
 */
int rs_sock_tx_commit(struct rs_sock *s, size_t n);

/**
 * @return bytes rs_sock_recv() would return now (TCP), or the length
 *   of the next datagram (UDP); -EAGAIN when there is none.
 */
ssize_t rs_sock_readable(const struct rs_sock *s);

/**
 * @return bytes rs_sock_send() would take now (TCP: free TX ring
 *   space), or the largest datagram (UDP).
 */
ssize_t rs_sock_writable(const struct rs_sock *s);

/** rs_sock_poll() bits: what poll(2) would say. */
#define RS_SOCK_POLL_IN                                                        \
	0x01u		       /**< data, EOF, a datagram, or (listener)       \
				    a connection to accept */
#define RS_SOCK_POLL_OUT 0x02u /**< room to send, or a send would fail */
#define RS_SOCK_POLL_ERR 0x04u /**< a pending error (not cleared) */
#define RS_SOCK_POLL_HUP                                                       \
	0x08u			 /**< TCP: the connection is over (or was      \
				      never made) */
#define RS_SOCK_POLL_RDHUP 0x10u /**< TCP: the peer shut down its side */

/**
 * What the socket is ready for, without changing anything: the pending
 * error is reported, not taken.  As Linux's: a TCP socket never
 * connected is OUT|HUP; one whose connection ended (refused, reset,
 * timed out, closed both ways) is IN|RDHUP|OUT|HUP, so that a poller
 * calls and learns what happened.
 *
 * @return RS_SOCK_POLL_* bits.
 */
unsigned rs_sock_poll(const struct rs_sock *s);

/**
 * Shut down one or both directions.  TCP SHUT_WR sends FIN after the
 * data already in the TX ring; SHUT_RD discards what arrives.
 *
 * @return 0, -ENOTCONN (not connected), or -EINVAL (bad @p how).
 */
int rs_sock_shutdown(struct rs_sock *s, enum rs_sock_shut how);

/**
 * Give the handle back.  TCP: a graceful close -- the data in the TX ring
 * is still delivered, then FIN -- unless RS_SO_LINGER is 0 or unread data
 * is left, which resets the connection (RFC 1122 section 4.2.2.13); a
 * listener resets the connections not yet accepted.  UDP: unbind.
 */
void rs_sock_close(struct rs_sock *s);

/** Give the handle back, resetting a TCP connection (RST) at once. */
void rs_sock_abort(struct rs_sock *s);

/**
 * Local address and port.
 *
 * @return 0 (all zero when unbound), or -EINVAL for a NULL @p addr.
 */
int rs_sock_getsockname(const struct rs_sock *s, struct sockaddr_in *addr);

/**
 * The peer's address and port.
 *
 * @return 0, or -ENOTCONN.
 */
int rs_sock_getpeername(const struct rs_sock *s, struct sockaddr_in *addr);

/**
 * Set an option.
 *
 * @return 0; -ENOPROTOOPT (unknown, get-only, or meaningless for the
 *   kind); -EINVAL (value out of range); -EISCONN (a buffer size after
 *   TCP connect or listen).
 */
int rs_sock_setopt(struct rs_sock *s, enum rs_sock_opt opt, int value);

/**
 * Read an option.
 *
 * @return 0, or -ENOPROTOOPT.
 */
int rs_sock_getopt(struct rs_sock *s, enum rs_sock_opt opt, int *value);

/**
 * Take the pending error (SO_ERROR): it is cleared.
 *
 * @return 0, or the error as a negative errno (-ECONNREFUSED,
 *   -ECONNRESET, -ETIMEDOUT, -EHOSTUNREACH, ...).
 */
int rs_sock_error(struct rs_sock *s);

/* ---- applications on the worker lcores ----------------------------------- */

/**
 * An application hook: called on each worker lcore.  @p arg is what
 * rs_dp_set_app() was given.
 */
typedef int (*rs_dp_app_init_fn)(struct rs_lcore *lc, void *arg);
/** Poll hook: returns how much work it did (> 0 keeps the worker from
 *  idling), or 0. */
typedef int (*rs_dp_app_poll_fn)(struct rs_lcore *lc, void *arg);
/** Fini hook: the worker is stopping; close every socket now. */
typedef void (*rs_dp_app_fini_fn)(struct rs_lcore *lc, void *arg);

/**
 * Run an application on every worker: @p init once when the worker
 * starts (a negative return value skips the app on that worker), @p poll
 * every loop after the stack ran, @p fini when the worker stops, before
 * it lets the stack finish closing connections (at most [tcp]
 * close_grace_ms) and checks that nothing is left.  Any hook may be NULL.
 * Call before rs_dp_start().
 *
 * @return 0, or -EBUSY when the workers already run.
 */
int rs_dp_set_app(struct rs_dp *dp, rs_dp_app_init_fn init,
		  rs_dp_app_poll_fn poll, rs_dp_app_fini_fn fini, void *arg);

/**
 * A TCP socket's ring is about to grow by @p delta bytes of capacity
 * (auto-tuning): return false to refuse it (the ring stays as it is).
 * The growth is the socket's until it is freed; @p user is the pointer
 * given with the socket.
 */
typedef bool (*rs_sock_grow_fn)(struct rs_sock *s, void *user, size_t delta);

/**
 * Ask @p fn before any socket of worker @p lc grows (the application's
 * charge for it); NULL: allow every growth within [tcp] tune_mem_mb.
 * Call from the init hook.
 */
void rs_sock_set_grow_hook(struct rs_lcore *lc, rs_sock_grow_fn fn);

/** @return the worker's index (0 .. [workers] count - 1). */
unsigned rs_lcore_index(const struct rs_lcore *lc);

/** @return the workers of the port ([workers] count). */
unsigned rs_lcore_count(const struct rs_lcore *lc);

/**
 * Another thread gave worker @p lc work (a message on a ring it polls):
 * wake it if it sleeps in its idle back-off.  A barrier and a load when
 * it does not; a system call when it does.
 */
void rs_lcore_wake(struct rs_lcore *lc);

/** @return the worker's monotonic clock in nanoseconds (from the TSC). */
uint64_t rs_lcore_now_ns(const struct rs_lcore *lc);

/** @return the proxy's address (network order). */
uint32_t rs_lcore_local_ip(const struct rs_lcore *lc);

/** @return sockets open on this worker (handles not yet given back). */
unsigned rs_lcore_sock_count(const struct rs_lcore *lc);

#endif /* RS_SOCK_H */
