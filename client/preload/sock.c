/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The socket calls the shim stands in front of.  Each checks whether the
 * descriptor is a shim socket (the table) and otherwise hands the call to
 * libc untouched: Unix-domain, netlink and other local sockets, and
 * descriptors that are not sockets.  A socket that would reach the
 * network without the proxy (raw and packet sockets: EACCES; MPTCP, SCTP,
 * UDP-Lite, an ICMP "ping" socket: EPROTONOSUPPORT) is refused, never
 * made behind the proxy's back -- unless REMSOCK_PASSTHROUGH is set,
 * which lets the kernel make it.
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
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "shim_pvt.h"

#define EXPORT __attribute__((visibility("default")))

__attribute__((constructor)) static void shim_init(void)
{
	rskp_in_shim = true;
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

/* Families whose sockets reach the network on their own. */
static bool family_net(int domain)
{
	return domain == AF_INET || domain == AF_INET6 || domain == AF_PACKET;
}

EXPORT int socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), kind, h;

	kind = base == SOCK_STREAM  ? SHIM_TCP
	       : base == SOCK_DGRAM ? SHIM_UDP
				    : 0;
	if (!family_net(domain))
		return REAL(socket)(domain, type, protocol);
	if (domain == AF_PACKET || kind == 0 ||
	    (protocol != 0 &&
	     protocol != (kind == SHIM_TCP ? IPPROTO_TCP : IPPROTO_UDP))) {
		if (getenv("REMSOCK_PASSTHROUGH") != NULL)
			return REAL(socket)(domain, type, protocol);
		shim_debug("socket(%d, %d, %d) refused: the proxy carries TCP "
			   "and UDP only (REMSOCK_PASSTHROUGH lets the "
			   "kernel make it)",
			   domain, base, protocol);
		/* A stream or datagram socket of another protocol (MPTCP,
		 * SCTP, UDP-Lite, ICMP): not supported, which programs fall
		 * back from; raw and packet sockets: not permitted. */
		return fail(kind != 0 && domain != AF_PACKET ? EPROTONOSUPPORT
							     : EACCES);
	}
	if (shim_conn() == NULL)
		return -1; /* errno: why the proxy cannot be reached */
	h = rsk_socket_on(shim.conn, domain, base, protocol);
	if (h < 0)
		return -1;
	return shim_sock_new(h, domain, kind,
			     type & (SOCK_NONBLOCK | SOCK_CLOEXEC), ST_IDLE);
}

int shim_addr_take(const struct shim_sock *ss, const struct sockaddr *sa,
		   socklen_t len, union shim_addr *out, socklen_t *olen)
{
	if (sa == NULL || len < sizeof(sa_family_t))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET6 && ss->family == AF_INET6) {
		if (len < sizeof(out->v6))
			return -EINVAL;
		memcpy(&out->v6, sa, sizeof(out->v6));
		*olen = sizeof(out->v6);
		return 0;
	}
	if (sa->sa_family != AF_INET)
		return -EAFNOSUPPORT;
	if (len < sizeof(out->v4))
		return -EINVAL;
	if (ss->family == AF_INET) {
		memcpy(&out->v4, sa, sizeof(out->v4));
		*olen = sizeof(out->v4);
		return 0;
	}
	if (ss->v6only)
		return -ENETUNREACH;
	out->v6.sin6_family = AF_INET6;
	out->v6.sin6_port = ((const struct sockaddr_in *)sa)->sin_port;
	out->v6.sin6_addr.s6_addr[10] = out->v6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&out->v6.sin6_addr.s6_addr[12],
	       &((const struct sockaddr_in *)sa)->sin_addr, 4);
	*olen = sizeof(out->v6);
	return 0;
}

/* ---- connecting --------------------------------------------------------- */

/* Wait (mu held) for a Connect in flight to end.  @return 0 when it
 * connected, else its error (taken: a second connect() reports a failure
 * once, as Linux's does). */
static int connect_end(struct shim_sock *ss)
{
	int rc = 0;

	while (ss->state == ST_CONNECTING)
		pthread_cond_wait(&shim.cv, &shim.mu);
	if (ss->state != ST_CONNECTED) {
		rc = ss->so_error != 0 ? -ss->so_error : -ECONNABORTED;
		ss->so_error = 0;
	}
	return rc;
}

static int tcp_connect(int fd, struct shim_sock *ss, const struct sockaddr *sa,
		       socklen_t len)
{
	int rc = 0;

	pthread_mutex_lock(&shim.mu);
	switch (ss->state) {
	case ST_CONNECTING:
		/* The program's end was writable before the proxy's Connect
		 * finished, so a program that polled for POLLOUT and calls
		 * connect() again (hiredis does) must get what Linux would
		 * give once the handshake is over: 0, or the failure -- not
		 * EALREADY.  So wait for it, as SO_ERROR does. */
		rc = connect_end(ss);
		break;
	case ST_CONNECTED:
		rc = -EISCONN;
		break;
	case ST_LISTENING:
	case ST_CLOSED:
		rc = -EINVAL;
		break;
	case ST_FAILED: /* a second connect reports the first one's end */
		rc = connect_end(ss);
		break;
	case ST_IDLE:
		rc = shim_connect_start(ss, sa, len);
		if (rc == 0 && fd_nonblock(fd))
			rc = -EINPROGRESS;
		else if (rc == 0)
			rc = connect_end(ss);
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
	union shim_addr a;
	socklen_t alen = 0;
	int rc;

	if (ss == NULL)
		return REAL(connect)(fd, sa, len);
	rc = shim_addr_take(ss, sa, len, &a, &alen);
	if (rc < 0)
		rc = fail(-rc);
	else if (ss->orphan || ss->h < 0)
		rc = fail(EINVAL);
	else if (ss->kind == SHIM_UDP)
		rc = udp_connect(ss, &a.sa, alen);
	else {
		rc = tcp_connect(fd, ss, &a.sa, alen);
		rc = rc < 0 ? fail(-rc) : 0;
	}
	shim_sock_put(ss);
	return rc;
}

EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct shim_sock *ss = shim_tab_get(fd);
	union shim_addr a;
	socklen_t alen = 0;
	int rc;

	if (ss == NULL)
		return REAL(bind)(fd, sa, len);
	rc = shim_addr_take(ss, sa, len, &a, &alen);
	if (rc < 0)
		rc = fail(-rc);
	else
		rc = ss->orphan || ss->h < 0 ? fail(EINVAL)
					     : rsk_bind(ss->h, &a.sa, alen);
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
	return shim_sock_new(h, ss->family, SHIM_TCP, flags, ST_CONNECTED);
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
		union shim_addr any = {.sa.sa_family = (sa_family_t)ss->family};
		socklen_t n =
		    ss->family == AF_INET6 ? sizeof(any.v6) : sizeof(any.v4);

		rc = sa == NULL || len == NULL ? fail(EFAULT) : 0;
		if (rc == 0) {
			memcpy(sa, &any, *len < n ? *len : n);
			*len = n;
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
	       level == IPPROTO_IPV6 || level == IPPROTO_TCP ||
	       level == IPPROTO_UDP;
}

/* IPV6_V6ONLY, kept here: the proxy's IPv6 sockets reach IPv4-mapped
 * addresses only, so with it set they reach nothing (ENETUNREACH). */
static bool opt_v6only(const struct shim_sock *ss, int level, int name)
{
	return ss->family == AF_INET6 && level == IPPROTO_IPV6 &&
	       name == IPV6_V6ONLY;
}

EXPORT int setsockopt(int fd, int level, int name, const void *val,
		      socklen_t len)
{
	struct shim_sock *ss = shim_tab_get(fd);
	int rc;

	if (ss == NULL)
		return REAL(setsockopt)(fd, level, name, val, len);
	if (opt_v6only(ss, level, name)) {
		rc = val == NULL || len < sizeof(int) ? fail(EINVAL) : 0;
		if (rc == 0)
			ss->v6only = *(const int *)val != 0;
	} else if (opt_local(level, name) || ss->h < 0) {
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
		rc = int_opt(val, len, ss->family);
	else if (opt_v6only(ss, level, name))
		rc = int_opt(val, len, ss->v6only);
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

	if (shim_fd_is_own(fd)) {
		shim_debug("close(%d) refused: the shim's own descriptor", fd);
		return fail(EBADF);
	}
	if (shim_tab_peek(fd) == NULL || shim_shared_child())
		return REAL(close)(fd);
	pthread_mutex_lock(&shim.mu);
	shim_tab_clear(fd);
	rc = REAL(close)(fd);
	pthread_mutex_unlock(&shim.mu);
	return rc;
}

/* close_range() over [first, last] without the shim's own descriptors:
 * the ranges between them. */
static int close_range_around(unsigned first, unsigned last, int flags)
{
	unsigned from = first;
	int rc = 0;

	for (unsigned fd = first; fd <= last && fd < (1u << 16); fd++) {
		if (!shim_fd_is_own((int)fd))
			continue;
		if (fd > from && REAL(close_range)(from, fd - 1, flags) < 0)
			rc = -1;
		from = fd + 1;
	}
	if (from <= last && REAL(close_range)(from, last, flags) < 0)
		rc = -1;
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
	rc = close_range_around(first, last, flags);
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
	if (shim_fd_is_own(nfd)) {
		shim_debug("dup2 onto %d refused: the shim's own descriptor",
			   nfd);
		return fail(EBUSY);
	}
	return dup_done(fd, REAL(dup2)(fd, nfd));
}

EXPORT int dup3(int fd, int nfd, int flags)
{
	if (shim_fd_is_own(nfd)) {
		shim_debug("dup3 onto %d refused: the shim's own descriptor",
			   nfd);
		return fail(EBUSY);
	}
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
