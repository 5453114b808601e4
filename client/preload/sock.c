/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket calls the shim stands in front of.  Each checks whether the
 * descriptor is a shim socket (the table) and otherwise hands the call to
 * libc untouched: Unix-domain, IPv6, raw and every other socket, and
 * descriptors that are not sockets.
 *
 * This file defines the exported names; it calls libc only through
 * REAL(), never by those names.
 */
/* fcntl and fcntl64 are both defined here: no redirection of one to the
 * other by the headers. */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "shim_pvt.h"

#define EXPORT __attribute__((visibility("default")))

__attribute__((constructor)) static void shim_init(void)
{
	shim_real_init();
	shim_atfork_init();
	shim_adopt();
}

static int fail(int err)
{
	errno = err;
	return -1;
}

static bool fd_nonblock(int fd)
{
	int fl = REAL(fcntl)(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

/* ---- creating ----------------------------------------------------------- */

EXPORT int socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), kind, h;

	kind = base == SOCK_STREAM  ? SHIM_TCP
	       : base == SOCK_DGRAM ? SHIM_UDP
				    : 0;
	if (domain != AF_INET || kind == 0 ||
	    (protocol != 0 &&
	     protocol != (kind == SHIM_TCP ? IPPROTO_TCP : IPPROTO_UDP)))
		return REAL(socket)(domain, type, protocol);
	if (shim_conn() == NULL)
		return -1; /* errno: why the proxy cannot be reached */
	h = rsk_socket_on(shim.conn, AF_INET, base, protocol);
	if (h < 0)
		return -1;
	return shim_sock_new(h, kind, type & (SOCK_NONBLOCK | SOCK_CLOEXEC),
			     ST_IDLE);
}

/* ---- connecting --------------------------------------------------------- */

static int tcp_connect(int fd, struct shim_sock *ss, const struct sockaddr *sa,
		       socklen_t len)
{
	int rc = 0;

	pthread_mutex_lock(&shim.mu);
	switch (ss->state) {
	case ST_CONNECTING:
		rc = -EALREADY;
		break;
	case ST_CONNECTED:
		rc = -EISCONN;
		break;
	case ST_LISTENING:
	case ST_CLOSED:
		rc = -EINVAL;
		break;
	case ST_FAILED: /* a second connect reports the first one's end */
		rc = ss->so_error != 0 ? -ss->so_error : -ECONNABORTED;
		ss->so_error = 0;
		break;
	case ST_IDLE:
		rc = shim_connect_start(ss, sa, len);
		if (rc == 0 && fd_nonblock(fd))
			rc = -EINPROGRESS;
		while (rc == 0 && ss->state == ST_CONNECTING)
			pthread_cond_wait(&shim.cv, &shim.mu);
		if (rc == 0 && ss->state != ST_CONNECTED) {
			rc = ss->so_error != 0 ? -ss->so_error : -ECONNABORTED;
			ss->so_error = 0;
		}
		break;
	}
	if (ss->state == ST_CONNECTED)
		shim_kick(ss);
	pthread_mutex_unlock(&shim.mu);
	return rc;
}

static int udp_connect(struct shim_sock *ss, const struct sockaddr *sa,
		       socklen_t len)
{
	int rc = rsk_connect(ss->h, sa, len);

	if (rc == 0) {
		pthread_mutex_lock(&shim.mu);
		ss->udp_peer = true;
		ss->rx_on = true;
		shim_kick(ss);
		pthread_mutex_unlock(&shim.mu);
	}
	return rc;
}

EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct shim_sock *ss = shim_tab_get(fd);
	int rc;

	if (ss == NULL)
		return REAL(connect)(fd, sa, len);
	if (ss->orphan || ss->h < 0)
		rc = fail(EINVAL);
	else if (ss->kind == SHIM_UDP)
		rc = udp_connect(ss, sa, len);
	else {
		rc = tcp_connect(fd, ss, sa, len);
		rc = rc < 0 ? fail(-rc) : 0;
	}
	shim_sock_put(ss);
	return rc;
}

EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct shim_sock *ss = shim_tab_get(fd);
	int rc;

	if (ss == NULL)
		return REAL(bind)(fd, sa, len);
	rc = ss->orphan || ss->h < 0 ? fail(EINVAL) : rsk_bind(ss->h, sa, len);
	if (rc == 0 && ss->kind == SHIM_UDP) {
		pthread_mutex_lock(&shim.mu);
		ss->rx_on = true;
		shim_kick(ss);
		pthread_mutex_unlock(&shim.mu);
	}
	shim_sock_put(ss);
	return rc;
}

EXPORT int listen(int fd, int backlog)
{
	struct shim_sock *ss = shim_tab_get(fd);
	int rc;

	if (ss == NULL)
		return REAL(listen)(fd, backlog);
	if (ss->orphan || ss->h < 0 || ss->kind != SHIM_TCP)
		rc = fail(ss->kind != SHIM_TCP ? EOPNOTSUPP : EINVAL);
	else
		rc = rsk_listen(ss->h, backlog);
	if (rc == 0) {
		rsk_set_nonblock(ss->h, true); /* accept() waits for tokens */
		pthread_mutex_lock(&shim.mu);
		if (ss->state == ST_IDLE)
			ss->state = ST_LISTENING;
		shim_kick(ss);
		pthread_mutex_unlock(&shim.mu);
	}
	shim_sock_put(ss);
	return rc;
}

/* One rsk_accept() for listener @p ss, after the tokens are taken.
 * @return the new fd, or -1 with errno (EAGAIN: nothing yet). */
static int accept_once(int fd, struct shim_sock *ss, struct sockaddr *sa,
		       socklen_t *len, int flags)
{
	char tok[64];
	int h;

	while (REAL(recv)(fd, tok, sizeof(tok), MSG_DONTWAIT) > 0)
		;
	h = rsk_accept(ss->h, sa, len);
	pthread_mutex_lock(&shim.mu);
	shim_kick(ss); /* the next Poll */
	pthread_mutex_unlock(&shim.mu);
	if (h < 0)
		return -1;
	return shim_sock_new(h, SHIM_TCP, flags, ST_CONNECTED);
}

EXPORT int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	struct shim_sock *ss = shim_tab_get(fd);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int rc;

	if (ss == NULL)
		return REAL(accept4)(fd, sa, len, flags);
	if (ss->state != ST_LISTENING || ss->h < 0) {
		shim_sock_put(ss);
		return fail(EINVAL);
	}
	for (;;) {
		rc = accept_once(fd, ss, sa, len, flags);
		if (rc >= 0 || errno != EAGAIN || fd_nonblock(fd))
			break;
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break; /* wait for the relay's token */
	}
	shim_sock_put(ss);
	return rc;
}

EXPORT int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	if (shim_tab_peek(fd) == NULL)
		return REAL(accept)(fd, sa, len);
	return accept4(fd, sa, len, 0);
}

/* ---- names -------------------------------------------------------------- */

/* A name of a socket inherited through fork, asked by its descriptor on
 * this process's own connection (descriptors belong to the app, not to
 * a connection).  @return 0, or -1 with errno. */
static int orphan_name(struct shim_sock *ss, bool peer, struct sockaddr *sa,
		       socklen_t *len)
{
	Remsock__GetSocketNameRequest nreq =
	    REMSOCK__GET_SOCKET_NAME_REQUEST__INIT;
	Remsock__GetPeerNameRequest preq = REMSOCK__GET_PEER_NAME_REQUEST__INIT;
	ProtobufCMessage *rep = NULL;
	int rc;

	if (sa == NULL || len == NULL)
		return fail(EFAULT);
	if (ss->rs == NULL || shim_conn() == NULL)
		return fail(ENOTCONN);
	nreq.socket_descriptor = preq.socket_descriptor = ss->rs->desc;
	rc = rskp_call_sync(shim.conn, peer ? "GetPeerName" : "GetSocketName",
			    peer ? &preq.base : &nreq.base,
			    peer ? &remsock__get_peer_name_reply__descriptor
				 : &remsock__get_socket_name_reply__descriptor,
			    &rep, RSK_CALL_RETRY, NULL);
	if (rc < 0)
		return fail(-rc);
	rskp_addr_from_wire(
	    peer ? ((Remsock__GetPeerNameReply *)rep)->peer_ip
		 : ((Remsock__GetSocketNameReply *)rep)->proxy_external_ip,
	    sa, len);
	protobuf_c_message_free_unpacked(rep, NULL);
	return 0;
}

EXPORT int getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct shim_sock *ss = shim_tab_get(fd);
	int rc;

	if (ss == NULL)
		return REAL(getsockname)(fd, sa, len);
	if (ss->orphan && ss->rs != NULL) {
		rc = orphan_name(ss, false, sa, len);
	} else if (ss->h < 0) {
		struct sockaddr_in any = {.sin_family = AF_INET};

		rc = sa == NULL || len == NULL ? fail(EFAULT) : 0;
		if (rc == 0) {
			memcpy(sa, &any,
			       *len < sizeof(any) ? *len : sizeof(any));
			*len = sizeof(any);
		}
	} else {
		rc = rsk_getsockname(ss->h, sa, len);
	}
	shim_sock_put(ss);
	return rc;
}

EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct shim_sock *ss = shim_tab_get(fd);
	int rc;

	if (ss == NULL)
		return REAL(getpeername)(fd, sa, len);
	if (ss->orphan && ss->rs != NULL)
		rc = orphan_name(ss, true, sa, len);
	else if (ss->h < 0 ||
		 (ss->kind == SHIM_TCP && ss->state != ST_CONNECTED) ||
		 (ss->kind == SHIM_UDP && !ss->udp_peer))
		rc = fail(ENOTCONN);
	else
		rc = rsk_getpeername(ss->h, sa, len);
	shim_sock_put(ss);
	return rc;
}

/* ---- options ------------------------------------------------------------ */

/* Options that act on the program's own end: its blocking reads and
 * writes are on the socketpair. */
static bool opt_local(int level, int name)
{
	return level == SOL_SOCKET &&
	       (name == SO_RCVTIMEO || name == SO_SNDTIMEO);
}

static bool level_inet(int level)
{
	return level == SOL_SOCKET || level == IPPROTO_IP ||
	       level == IPPROTO_TCP || level == IPPROTO_UDP;
}

EXPORT int setsockopt(int fd, int level, int name, const void *val,
		      socklen_t len)
{
	struct shim_sock *ss = shim_tab_get(fd);
	int rc;

	if (ss == NULL)
		return REAL(setsockopt)(fd, level, name, val, len);
	if (opt_local(level, name) || ss->h < 0) {
		rc = REAL(setsockopt)(fd, level, name, val, len);
	} else {
		rc = rsk_setsockopt(ss->h, level, name, val, len);
		/* What the proxy does not do (keep-alive timers, TOS, ...) is
		 * taken and ignored, as the program cannot do without it. */
		if (rc < 0 && errno == ENOPROTOOPT && level_inet(level)) {
			shim_debug("setsockopt(%d, %d) ignored", level, name);
			rc = 0;
		}
	}
	shim_sock_put(ss);
	return rc;
}

/* An int option answered here.  @return 0 or -1 (errno). */
static int int_opt(void *val, socklen_t *len, int v)
{
	if (val == NULL || len == NULL || *len < sizeof(int))
		return fail(EINVAL);
	memcpy(val, &v, sizeof(v));
	*len = sizeof(v);
	return 0;
}

static int so_error(struct shim_sock *ss, void *val, socklen_t *len)
{
	int err;

	pthread_mutex_lock(&shim.mu);
	while (ss->state == ST_CONNECTING) /* the program saw it writable */
		pthread_cond_wait(&shim.cv, &shim.mu);
	err = ss->so_error;
	ss->so_error = 0;
	pthread_mutex_unlock(&shim.mu);
	return int_opt(val, len, err);
}

static int tcp_info(void *val, socklen_t *len)
{
	struct tcp_info ti;

	memset(&ti, 0, sizeof(ti));
	ti.tcpi_state = TCP_ESTABLISHED;
	if (val == NULL || len == NULL)
		return fail(EFAULT);
	memcpy(val, &ti, *len < sizeof(ti) ? *len : sizeof(ti));
	*len = *len < sizeof(ti) ? *len : sizeof(ti);
	return 0;
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct shim_sock *ss = shim_tab_get(fd);
	int rc;

	if (ss == NULL)
		return REAL(getsockopt)(fd, level, name, val, len);
	if (level == SOL_SOCKET && name == SO_ERROR)
		rc = so_error(ss, val, len);
	else if (level == SOL_SOCKET && name == SO_TYPE)
		rc = int_opt(val, len,
			     ss->kind == SHIM_TCP ? SOCK_STREAM : SOCK_DGRAM);
	else if (level == SOL_SOCKET && name == SO_DOMAIN)
		rc = int_opt(val, len, AF_INET);
	else if (level == SOL_SOCKET && name == SO_PROTOCOL)
		rc = int_opt(val, len,
			     ss->kind == SHIM_TCP ? IPPROTO_TCP : IPPROTO_UDP);
	else if (level == SOL_SOCKET && name == SO_ACCEPTCONN)
		rc = int_opt(val, len, ss->state == ST_LISTENING);
	else if (opt_local(level, name) || ss->h < 0)
		rc = REAL(getsockopt)(fd, level, name, val, len);
	else {
		rc = rsk_getsockopt(ss->h, level, name, val, len);
		if (rc < 0 && errno == ENOPROTOOPT && level == IPPROTO_TCP &&
		    name == TCP_INFO)
			rc = tcp_info(val, len); /* zeros: nothing known */
	}
	shim_sock_put(ss);
	return rc;
}

/* ---- descriptors: the table follows close and dup ----------------------- */

EXPORT int close(int fd)
{
	int rc;

	if (shim_tab_peek(fd) == NULL || shim_shared_child())
		return REAL(close)(fd);
	pthread_mutex_lock(&shim.mu);
	shim_tab_clear(fd);
	rc = REAL(close)(fd);
	pthread_mutex_unlock(&shim.mu);
	return rc;
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	int rc;

	if (shim_shared_child())
		return REAL(close_range)(first, last, flags);
	pthread_mutex_lock(&shim.mu);
	if (!(flags & CLOSE_RANGE_CLOEXEC))
		for (unsigned fd = first; fd <= last && fd < (1u << 20); fd++)
			shim_tab_clear((int)fd);
	rc = REAL(close_range)(first, last, flags);
	pthread_mutex_unlock(&shim.mu);
	return rc;
}

/* After a dup that made @p nfd from @p fd (or failed: nfd < 0). */
static int dup_done(int fd, int nfd)
{
	struct shim_sock *ss;

	if (nfd < 0 || nfd == fd || shim_shared_child())
		return nfd;
	pthread_mutex_lock(&shim.mu);
	ss = shim_tab_peek(fd);
	if (ss != NULL)
		shim_tab_set(nfd, ss);
	else
		shim_tab_clear(nfd);
	pthread_mutex_unlock(&shim.mu);
	return nfd;
}

EXPORT int dup(int fd)
{
	return dup_done(fd, REAL(dup)(fd));
}

EXPORT int dup2(int fd, int nfd)
{
	return dup_done(fd, REAL(dup2)(fd, nfd));
}

EXPORT int dup3(int fd, int nfd, int flags)
{
	return dup_done(fd, REAL(dup3)(fd, nfd, flags));
}

static int fcntl_any(int fd, int cmd, va_list ap)
{
	void *arg = va_arg(ap, void *);
	int rc = REAL(fcntl)(fd, cmd, arg);

	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return dup_done(fd, rc);
	return rc;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	int rc;

	va_start(ap, cmd);
	rc = fcntl_any(fd, cmd, ap);
	va_end(ap);
	return rc;
}

EXPORT int fcntl64(int fd, int cmd, ...);
EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	int rc;

	va_start(ap, cmd);
	rc = fcntl_any(fd, cmd, ap);
	va_end(ap);
	return rc;
}
