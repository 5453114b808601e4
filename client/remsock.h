/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * libremsock: the client of remsockd, the remote socket proxy.
 *
 * Three layers, each usable on its own:
 *
 *  - A connection (struct rsk_conn) to remsockd over kernel TCP: framing,
 *    authentication as an app, and automatic reconnect.  One I/O thread per
 *    connection reads the replies, so any number of calls may be in flight
 *    at once from any number of threads.
 *  - Calls (struct rsk_call): the generic interface (service, method,
 *    request bytes, reply bytes), synchronous or asynchronous.  A call is
 *    IDLE, then RUNNING once started, then FINISHING when its answer (or
 *    its failure) is in.  Completion can be waited for, signalled by a
 *    callback, and announced on the connection's event file descriptor,
 *    which is readable while completed calls are queued, for poll/epoll
 *    loops.
 *  - BSD-like sockets (rsk_socket() ... rsk_getaddrinfo()) on the remote
 *    socket service.  They return what their BSD namesakes return and set
 *    errno (getaddrinfo: an EAI_* code) from the service's errors.  Send
 *    and Receive carry stream offsets, so a reconnect in the middle of a
 *    transfer loses and duplicates nothing; Receive reads ahead, for all
 *    the process's stream sockets in one ReceiveBatch, so that small recv
 *    calls seldom cost a round trip.
 *
 * Socket handles are small integers of the library's own (not kernel file
 * descriptors); they are valid for the rsk_* functions only.
 *
 * Environment (used when the options leave a field unset):
 *  - REMSOCK_ADDR    the proxy, "HOST" or "HOST:PORT" (port 5757 when left
 *                    out), or "unix:PATH" (or "/PATH"): a Unix socket that
 *                    leads to it (remsock run --isolate's relay)
 *  - REMSOCK_APP     the app id
 *  - REMSOCK_SECRET  the app's secret
 *  - REMSOCK_TLS_CA  a PEM file of the CA that signed the proxy's
 *                    certificate: the transport is then TLS 1.3 (give
 *                    REMSOCK_ADDR the proxy's [rpc] tls_port), and the
 *                    certificate must name the proxy as REMSOCK_ADDR does
 *                    (an IP address or a host name)
 *  - REMSOCK_TLS_NAME  the name (or IP) the certificate must carry when
 *                    REMSOCK_ADDR is a Unix socket's path
 *  - REMSOCK_TLS_CERT, REMSOCK_TLS_KEY  a client certificate (PEM chain)
 *                    and its key, shown in the TLS handshake: a proxy
 *                    with [rpc] tls_client_ca asks for one, whose CN is
 *                    the app (REMSOCK_APP)
 *
 * Sessions: a connection names a session of its own (drawn at
 * rsk_conn_open(), named again on every reconnect), so that the proxy
 * closes the sockets made on it once none of the session's transports has
 * come back within its [service] session_grace_s: a process killed, or
 * ended by _exit(), leaves nothing open for long.
 *
 * Thread safety: every function may be called from any thread, except
 * that one call object must not be started, reset or freed by two threads
 * at once.
 */
#ifndef REMSOCK_H
#define REMSOCK_H

#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Default TCP port of remsockd's RPC service. */
#define RSK_DEFAULT_PORT 5757

/** The remote socket service's name on the wire. */
#define RSK_SERVICE "remote_socket"

/* ---- connections -------------------------------------------------------- */

struct rsk_conn;

/** How to reach and authenticate to remsockd.  Zeroed fields take the
 *  environment's value, then the default. */
struct rsk_conn_opts {
	/** "HOST" or "HOST:PORT"; NULL: $REMSOCK_ADDR. */
	const char *addr;
	/** App id; NULL: $REMSOCK_APP. */
	const char *app;
	/** Secret; NULL: $REMSOCK_SECRET. */
	const void *secret;
	/** Bytes of @c secret; 0 with a non-NULL secret: strlen(secret). */
	size_t secret_len;
	/** Time to establish and authenticate one transport connection;
	 *  0: 5000 ms. */
	int connect_timeout_ms;
	/** How long calls wait for the transport to come back after it broke
	 *  before they fail with ENOTCONN; 0: 10000 ms, negative: for ever. */
	int reconnect_timeout_ms;
};

/**
 * Connect to remsockd and authenticate.
 *
 * @param opts  the options; NULL for all defaults (the environment).
 * @return the connection, or NULL with errno set: EINVAL (no address or app
 *   or secret, or an address that does not parse), EACCES (authentication
 *   refused), ETIMEDOUT, ECONNREFUSED and other connect(2) errors, ENOMEM.
 */
struct rsk_conn *rsk_conn_open(const struct rsk_conn_opts *opts);

/**
 * Close the connection: calls still running fail with ECANCELED (their
 * callbacks run), the I/O thread stops.  Sockets of the connection are not
 * closed on the proxy (it reaps them when idle); close them first.  Calls
 * of the connection must still be freed by their owners.  NULL is allowed.
 */
void rsk_conn_close(struct rsk_conn *conn);

/**
 * @return a file descriptor that is readable while calls started with
 *   RSK_CALL_NOTIFY have completed and not yet been taken with
 *   rsk_conn_next_done().  Owned by the connection; do not read or close it.
 */
int rsk_conn_event_fd(const struct rsk_conn *conn);

/**
 * Take the oldest completed RSK_CALL_NOTIFY call off the connection's queue.
 *
 * @return the call (FINISHING), or NULL when none is queued.
 */
struct rsk_call *rsk_conn_next_done(struct rsk_conn *conn);

/**
 * Break the transport connection as a network failure would (shutdown(2) of
 * the kernel socket); the I/O thread reconnects and re-issues the calls that
 * are safe to re-issue.  For tests.
 *
 * @return 0, or -ENOTCONN when the transport is down already.
 */
int rsk_conn_drop(struct rsk_conn *conn);

/**
 * Break the transport (as rsk_conn_drop() does) each time another @p bytes
 * of frames have gone out, and each time another @p bytes have come in,
 * counted apart; 0 stops it.  Faults by count, not by clock: a test that
 * moves M bytes sees about M / @p bytes breaks however fast the machine.
 * $REMSOCK_TEST_DROP_BYTES sets it when a connection opens.  For tests.
 */
void rsk_conn_drop_every(struct rsk_conn *conn, uint64_t bytes);

/** @return how many times the transport was re-established. */
uint64_t rsk_conn_reconnects(const struct rsk_conn *conn);

/** @return how many calls were started on the connection (the round trips
 *  asked for; re-issues not counted). */
uint64_t rsk_conn_calls(const struct rsk_conn *conn);

/**
 * The connection the socket functions use: the one set with
 * rsk_default_conn_set(), or else one opened from the environment on first
 * use.
 *
 * @return the connection, or NULL with errno set as by rsk_conn_open().
 */
struct rsk_conn *rsk_default_conn(void);

/**
 * Make @p conn the connection rsk_socket() uses (NULL: open one from the
 * environment at the next use).  The caller keeps ownership.
 */
void rsk_default_conn_set(struct rsk_conn *conn);

/* ---- calls -------------------------------------------------------------- */

struct rsk_call;

/** A call's life: rsk_call_start() makes it RUNNING; its answer makes it
 *  FINISHING; rsk_call_reset() makes it IDLE again. */
enum rsk_call_state {
	RSK_CALL_IDLE = 0,
	RSK_CALL_RUNNING = 1,
	RSK_CALL_FINISHING = 2,
};

/** rsk_call_start() flag: the call may be sent again on a new transport
 *  connection if the old one broke before the answer came (idempotent
 *  calls; Send with stream_offset, Receive with consumed_offset).  Calls
 *  without it fail with ECONNRESET when the transport breaks. */
#define RSK_CALL_RETRY 1u
/** rsk_call_start() flag: queue the call for rsk_conn_next_done() and
 *  signal the event fd when it completes. */
#define RSK_CALL_NOTIFY 2u

/** Completion callback: runs on the connection's I/O thread once the call
 *  is FINISHING.  It must not block and must not wait for or free @p call;
 *  it may start other calls. */
typedef void (*rsk_call_cb)(struct rsk_call *call, void *arg);

/** What went wrong in a call that failed. */
struct rsk_call_error {
	/** An RpcErrorCode of the envelope, 0 when the call reached its
	 *  method. */
	int rpc_code;
	/** The service's error code (RemoteSocketServiceError.ErrorCode for
	 *  remote_socket), 0 for none. */
	int app_code;
	/** With SYSTEM_ERROR, the errno; with GAI_ERROR, the
	 *  ResolveReply.ErrorCode. */
	int sys_error;
	/** A negative errno when the call failed in the client (transport
	 *  lost: -ECONNRESET, -ENOTCONN; -ECANCELED), else 0. */
	int local;
	/** The detail text the proxy sent, or "" (never NULL). */
	const char *detail;
};

/**
 * Create an IDLE call on @p conn.
 *
 * @return the call, or NULL with errno ENOMEM.
 */
struct rsk_call *rsk_call_new(struct rsk_conn *conn);

/**
 * Free a call.  A RUNNING call is cancelled first (its answer is dropped,
 * its callback does not run).  NULL is allowed.
 */
void rsk_call_free(struct rsk_call *call);

/** Set the completion callback (NULL for none) of an IDLE call.
 *  @return 0, or -EBUSY when the call is not IDLE. */
int rsk_call_set_callback(struct rsk_call *call, rsk_call_cb cb, void *arg);

/** @return the argument given with rsk_call_set_callback(). */
void *rsk_call_arg(const struct rsk_call *call);

/**
 * Send the call: @p req (a packed request message) to @p method of
 * @p service.  Returns at once; the call is RUNNING.
 *
 * @param deadline_s  the envelope's deadline in seconds (the proxy answers
 *   RPC_DEADLINE_EXCEEDED or the method's timeout error then); negative or
 *   NaN: none.
 * @param flags  RSK_CALL_RETRY, RSK_CALL_NOTIFY.
 * @return 0; -EBUSY (the call is RUNNING), -EINVAL (names missing or
 *   @p len above the frame maximum), -ENOMEM.  When the transport is down
 *   the call still starts and waits for it (or fails at completion).
 */
int rsk_call_start(struct rsk_call *call, const char *service,
		   const char *method, const void *req, size_t len,
		   double deadline_s, unsigned flags);

/** @return the call's state. */
enum rsk_call_state rsk_call_state(const struct rsk_call *call);

/**
 * Wait until the call is FINISHING (its callback, if any, has returned).
 *
 * @param timeout_ms  negative: no limit.
 * @return 0; -ETIMEDOUT (still RUNNING), -EINVAL (the call is IDLE).
 */
int rsk_call_wait(struct rsk_call *call, int timeout_ms);

/**
 * Wait for the call (no limit) and say whether it succeeded.
 *
 * @return 0 when the method answered with a reply; else a negative errno
 *   mapped from the error (rsk_call_error() has the codes): see
 *   rsk_errno_from_error().  -EINVAL for an IDLE call.
 */
int rsk_call_check_success(struct rsk_call *call);

/** @return the error of a FINISHING call (all zero on success), or NULL
 *  when the call is not FINISHING. */
const struct rsk_call_error *rsk_call_error(const struct rsk_call *call);

/**
 * The reply of a FINISHING call that succeeded: a packed response message,
 * valid until the call is reset, restarted or freed.
 *
 * @param len  out: its length (may be 0).
 * @return the bytes (non-NULL), or NULL when the call is not FINISHING or
 *   failed.
 */
const void *rsk_call_reply(const struct rsk_call *call, size_t *len);

/** @return true when the call was sent again after a reconnect (its
 *  first sending may have taken effect). */
bool rsk_call_reissued(const struct rsk_call *call);

/** Make a FINISHING call IDLE again, for reuse (callback kept).
 *  @return 0, or -EBUSY when it is RUNNING. */
int rsk_call_reset(struct rsk_call *call);

/* ---- error mapping ------------------------------------------------------ */

/**
 * Words on the calling thread's last failed exchange with the proxy: the
 * detail the proxy gave with the last call that failed (e.g. why [acl]
 * denied a Connect; "" when it gave none or the transport failed), or why
 * the last rsk_conn_open() -- or the default connection -- could not open
 * (a variable not set, a proxy name that does not resolve, the proxy
 * refusing the app).  Successful calls and the library's own checks
 * (EBADF for an unknown handle...) leave it as it is.
 *
 * @return the text, valid until the thread's next failing call into the
 *   library (never NULL).
 */
const char *rsk_last_detail(void);

/**
 * The errno for an error of the remote socket service: SYSTEM_ERROR gives
 * the errno it carries, PERMISSION_DENIED EACCES, INVALID_REQUEST EINVAL,
 * SOCKET_CLOSED EBADF, FAILURE and GAI_ERROR EIO; RPC errors: OVER_QUOTA
 * ENOBUFS, DEADLINE_EXCEEDED ETIMEDOUT, UNAUTHENTICATED and
 * SECURITY_VIOLATION EACCES, CALL_NOT_FOUND ENOSYS, BAD_REQUEST and
 * PARSE_ERROR EINVAL, REQUEST/RESPONSE_TOO_LARGE EMSGSIZE, CANCELLED
 * ECANCELED, the rest EIO.
 *
 * @return a positive errno; 0 when all three codes are 0.
 */
int rsk_errno_from_error(int rpc_code, int app_code, int sys_error);

/**
 * The getaddrinfo(3) code for a ResolveReply.ErrorCode (EAI_NONAME for
 * SOCKET_EAI_NONAME, ...); EAI_FAIL for a code it does not know.
 */
int rsk_eai_from_error(int resolve_code);

/* ---- sockets ------------------------------------------------------------ */

/**
 * Create a socket on the default connection (rsk_default_conn()).
 *
 * @param domain    AF_INET (the proxy refuses AF_INET6 with EAFNOSUPPORT).
 * @param type      SOCK_STREAM or SOCK_DGRAM, optionally | SOCK_NONBLOCK.
 * @param protocol  0, IPPROTO_TCP or IPPROTO_UDP to match @p type.
 * @return a handle >= 0, or -1 with errno: EAFNOSUPPORT, EPROTONOSUPPORT,
 *   EINVAL, ENOBUFS (the app's socket quota), EMFILE, a connection error.
 */
int rsk_socket(int domain, int type, int protocol);

/** rsk_socket() on an explicit connection. */
int rsk_socket_on(struct rsk_conn *conn, int domain, int type, int protocol);

/** bind(2): a local address of the proxy.  @return 0, or -1 with errno
 *  (EADDRINUSE, EADDRNOTAVAIL, EINVAL, EBADF, EAFNOSUPPORT). */
int rsk_bind(int fd, const struct sockaddr *addr, socklen_t len);

/** connect(2).  Blocking unless the socket is non-blocking (then
 *  EINPROGRESS; call again, or rsk_poll() for POLLOUT).  @return 0, or -1
 *  with errno (ECONNREFUSED, ETIMEDOUT, EACCES for a destination the
 *  proxy's ACL denies, EBADF, EINPROGRESS, EISCONN, ...). */
int rsk_connect(int fd, const struct sockaddr *addr, socklen_t len);

/** listen(2).  @return 0, or -1 with errno. */
int rsk_listen(int fd, int backlog);

/** accept(2): a new socket handle, with the peer's address in @p addr
 *  (may be NULL).  @return the handle, or -1 with errno (EAGAIN when
 *  non-blocking and nothing is queued, EINVAL when not listening, EBADF). */
int rsk_accept(int fd, struct sockaddr *addr, socklen_t *len);

/**
 * send(2).  A blocking send returns when all of @p buf is taken by the
 * proxy (pipelined in chunks); a non-blocking one may take less, or fail
 * with EAGAIN.  Survives reconnects: each byte is sent exactly once.
 *
 * @param flags  MSG_DONTWAIT, MSG_NOSIGNAL (accepted; no signal is ever
 *   raised).
 * @return bytes taken, or -1 with errno (EPIPE after SHUT_WR, ENOTCONN,
 *   ECONNRESET, EAGAIN, EBADF, ...).
 */
ssize_t rsk_send(int fd, const void *buf, size_t len, int flags);

/**
 * recv(2).  Served from the socket's read-ahead buffer when it holds
 * bytes; else one ReceiveBatch fetches for this socket and for every other
 * stream socket of the connection whose buffer is empty.
 *
 * @param flags  MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL.
 * @return bytes (0 at end of stream), or -1 with errno (EAGAIN when
 *   non-blocking or SO_RCVTIMEO passes, ECONNRESET, ENOTCONN, EBADF, ...).
 */
ssize_t rsk_recv(int fd, void *buf, size_t len, int flags);

/** sendto(2): for UDP the datagram goes to @p addr (NULL: the connected
 *  peer); for TCP @p addr must be NULL.  @return as rsk_send(). */
ssize_t rsk_sendto(int fd, const void *buf, size_t len, int flags,
		   const struct sockaddr *addr, socklen_t alen);

/** recvfrom(2): for UDP one datagram (truncated to @p len) and its source
 *  in @p addr (may be NULL).  @return as rsk_recv(). */
ssize_t rsk_recvfrom(int fd, void *buf, size_t len, int flags,
		     struct sockaddr *addr, socklen_t *alen);

/** shutdown(2): SHUT_WR takes effect after the bytes already sent.
 *  @return 0, or -1 with errno (ENOTCONN, EINVAL, EBADF). */
int rsk_shutdown(int fd, int how);

/** close(2): the proxy closes the socket once the bytes already sent have
 *  gone out.  The handle is free at once.  @return 0, or -1 with errno
 *  (EBADF; other errors still free the handle). */
int rsk_close(int fd);

/** getsockname(2).  @return 0, or -1 with errno. */
int rsk_getsockname(int fd, struct sockaddr *addr, socklen_t *len);

/** getpeername(2).  @return 0, or -1 with errno (ENOTCONN). */
int rsk_getpeername(int fd, struct sockaddr *addr, socklen_t *len);

/** setsockopt(2) for levels SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP and
 *  IPPROTO_UDP; SO_RCVTIMEO and SO_SNDTIMEO are kept in the library.
 *  @return 0, or -1 with errno (ENOPROTOOPT for options the proxy does not
 *  honour, EINVAL, EBADF). */
int rsk_setsockopt(int fd, int level, int name, const void *val, socklen_t len);

/** getsockopt(2), as rsk_setsockopt().  @return 0, or -1 with errno. */
int rsk_getsockopt(int fd, int level, int name, void *val, socklen_t *len);

/**
 * poll(2) over socket handles (fd < 0 entries are skipped; an unknown
 * handle reports POLLNVAL).  Bytes in a socket's read-ahead buffer count as
 * readable.  All the handles must be on one connection.
 *
 * @param timeout_ms  negative: no limit; 0: do not wait.
 * @return the number of entries with events, 0 on timeout, or -1 with
 *   errno (EINVAL for handles on different connections, a connection
 *   error).
 */
int rsk_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms);

/** Set or clear the socket's non-blocking mode (as O_NONBLOCK).
 *  @return 0, or -1 with errno EBADF. */
int rsk_set_nonblock(int fd, bool on);

/**
 * getaddrinfo(3) through the proxy's Resolve (its [hosts] table and DNS)
 * on the default connection.  Numeric hosts and a NULL host are answered
 * here; services are port numbers or names from the local services
 * database.  The proxy reaches IPv4 only: asked for AF_INET6, a name's
 * addresses come back IPv4-mapped (::ffff:a.b.c.d, for AF_INET6
 * sockets); a numeric IPv6 host comes back as it is.
 *
 * @return 0 with the list in *res (free with rsk_freeaddrinfo()), or an
 *   EAI_* code (EAI_NONAME, EAI_AGAIN, EAI_FAIL, EAI_FAMILY, EAI_SERVICE,
 *   EAI_SOCKTYPE, EAI_MEMORY, EAI_SYSTEM with errno set, ...).
 */
int rsk_getaddrinfo(const char *node, const char *service,
		    const struct addrinfo *hints, struct addrinfo **res);

/** Free a list from rsk_getaddrinfo().  NULL is allowed. */
void rsk_freeaddrinfo(struct addrinfo *res);

/** @return the message for an EAI_* code (as gai_strerror(3)). */
const char *rsk_gai_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* REMSOCK_H */
