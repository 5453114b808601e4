/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Data calls.  TCP shim sockets need none of this: the program's end is
 * a stream socket and read, write, send, recv, sendfile, splice ... work
 * on it as they are.  A UDP shim socket is a SOCK_SEQPACKET pair whose
 * messages carry a header, an address: towards the proxy the
 * destination (family 0: the connected peer), from it the source.  So
 * every call that reads or writes data stands in front of libc here, and
 * adds or takes off the header for UDP shim descriptors only; for every
 * other descriptor it costs a table lookup.  The header is a union
 * shim_addr of SHIM_HDR bytes, of the socket's family.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim_pvt.h"

#define EXPORT __attribute__((visibility("default")))
#define IOV_MAX_SHIM 64

static bool is_udp(int fd)
{
	struct shim_sock *ss = shim_tab_peek(fd);

	return ss != NULL && ss->kind == SHIM_UDP && shim_tab_same(fd, ss);
}

ssize_t shim_dgram_send(int fd, struct shim_sock *ss, const struct msghdr *m,
			int flags)
{
	union shim_addr hdr = {0};
	struct iovec iov[IOV_MAX_SHIM + 1];
	struct msghdr out = {.msg_iov = iov};
	size_t total = 0;
	socklen_t hlen;
	ssize_t n;
	int rc;

	if (m->msg_iovlen > IOV_MAX_SHIM) {
		errno = EMSGSIZE;
		return -1;
	}
	if (m->msg_name != NULL && m->msg_namelen > 0) {
		rc = shim_addr_take(ss, m->msg_name, m->msg_namelen, &hdr,
				    &hlen);
		if (rc < 0) {
			errno = -rc;
			return -1;
		}
	} else if (!ss->udp_peer && !ss->orphan) {
		errno = EDESTADDRREQ;
		return -1;
	}
	iov[0] = (struct iovec){&hdr, sizeof(hdr)};
	for (size_t i = 0; i < m->msg_iovlen; i++) {
		iov[i + 1] = m->msg_iov[i];
		total += m->msg_iov[i].iov_len;
	}
	if (total > SHIM_UDP_MAX - 29) { /* 65507: IPv4's largest */
		errno = EMSGSIZE;
		return -1;
	}
	out.msg_iovlen = m->msg_iovlen + 1;
	n = REAL(sendmsg)(fd, &out, (flags & MSG_DONTWAIT) | MSG_NOSIGNAL);
	if (n < 0 && errno == EPIPE && !(flags & MSG_NOSIGNAL))
		errno = EPIPE;
	return n < 0 ? n : n - (ssize_t)sizeof(hdr);
}

ssize_t shim_dgram_recv(int fd, struct msghdr *m, int flags)
{
	union shim_addr hdr;
	struct iovec iov[IOV_MAX_SHIM + 1];
	struct msghdr in = {.msg_iov = iov};
	socklen_t hlen;
	ssize_t n;

	if (m->msg_iovlen > IOV_MAX_SHIM) {
		errno = EMSGSIZE;
		return -1;
	}
	iov[0] = (struct iovec){&hdr, sizeof(hdr)};
	memcpy(iov + 1, m->msg_iov, m->msg_iovlen * sizeof(*iov));
	in.msg_iovlen = m->msg_iovlen + 1;
	n = REAL(recvmsg)(fd, &in,
			  flags & (MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC));
	m->msg_flags = in.msg_flags & MSG_TRUNC;
	m->msg_controllen = 0;
	if (n <= 0) {
		if (m->msg_name != NULL)
			m->msg_namelen = 0;
		return n;
	}
	if ((size_t)n < sizeof(hdr)) {
		errno = EIO;
		return -1;
	}
	if (m->msg_name != NULL) {
		hlen = hdr.sa.sa_family == AF_INET6 ? sizeof(hdr.v6)
						    : sizeof(hdr.v4);
		memcpy(m->msg_name, &hdr,
		       m->msg_namelen < hlen ? m->msg_namelen : hlen);
		m->msg_namelen = hlen;
	}
	return n - (ssize_t)sizeof(hdr);
}

/* The socket for a send on @p fd with a reference; NULL when it is not
 * UDP. */
static struct shim_sock *udp_get(int fd)
{
	struct shim_sock *ss;

	if (!is_udp(fd))
		return NULL;
	ss = shim_tab_get(fd);
	if (ss != NULL && ss->kind != SHIM_UDP) {
		shim_sock_put(ss);
		return NULL;
	}
	return ss;
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	struct shim_sock *ss = udp_get(fd);
	ssize_t n;

	if (ss == NULL)
		return REAL(sendmsg)(fd, m, flags);
	n = shim_dgram_send(fd, ss, m, flags);
	shim_sock_put(ss);
	return n;
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
		      const struct sockaddr *sa, socklen_t alen)
{
	struct iovec iov = {(void *)buf, len};
	struct msghdr m = {.msg_name = (void *)sa,
			   .msg_namelen = alen,
			   .msg_iov = &iov,
			   .msg_iovlen = 1};

	if (!is_udp(fd))
		return REAL(sendto)(fd, buf, len, flags, sa, alen);
	return sendmsg(fd, &m, flags);
}

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	if (!is_udp(fd))
		return REAL(send)(fd, buf, len, flags);
	return sendto(fd, buf, len, flags, NULL, 0);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	if (!is_udp(fd))
		return REAL(write)(fd, buf, len);
	return sendto(fd, buf, len, 0, NULL, 0);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	struct msghdr m = {.msg_iov = (struct iovec *)iov,
			   .msg_iovlen = n > 0 ? (size_t)n : 0};

	if (!is_udp(fd))
		return REAL(writev)(fd, iov, n);
	return sendmsg(fd, &m, 0);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	if (!is_udp(fd))
		return REAL(recvmsg)(fd, m, flags);
	return shim_dgram_recv(fd, m, flags);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
			struct sockaddr *sa, socklen_t *alen)
{
	struct iovec iov = {buf, len};
	struct msghdr m = {.msg_name = sa,
			   .msg_namelen = alen != NULL ? *alen : 0,
			   .msg_iov = &iov,
			   .msg_iovlen = 1};
	ssize_t n;

	if (!is_udp(fd))
		return REAL(recvfrom)(fd, buf, len, flags, sa, alen);
	if (sa == NULL)
		m.msg_name = NULL;
	n = shim_dgram_recv(fd, &m, flags);
	if (n >= 0 && sa != NULL && alen != NULL)
		*alen = m.msg_namelen;
	return n;
}

EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	if (!is_udp(fd))
		return REAL(recv)(fd, buf, len, flags);
	return recvfrom(fd, buf, len, flags, NULL, NULL);
}

EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	if (!is_udp(fd))
		return REAL(read)(fd, buf, len);
	return recvfrom(fd, buf, len, 0, NULL, NULL);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	struct msghdr m = {.msg_iov = (struct iovec *)iov,
			   .msg_iovlen = n > 0 ? (size_t)n : 0};

	if (!is_udp(fd))
		return REAL(readv)(fd, iov, n);
	return recvmsg(fd, &m, 0);
}

EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags);
EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		ssize_t r = sendmsg(fd, &v[i].msg_hdr, flags);

		if (r < 0)
			return i > 0 ? (int)i : -1;
		v[i].msg_len = (unsigned)r;
	}
	return (int)i;
}

EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags,
		    struct timespec *tmo);
EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags,
		    struct timespec *tmo)
{
	unsigned i;

	(void)tmo;
	for (i = 0; i < n; i++) {
		ssize_t r = recvmsg(fd, &v[i].msg_hdr,
				    i > 0 && (flags & MSG_WAITFORONE)
					? flags | MSG_DONTWAIT
					: flags);

		if (r < 0)
			return i > 0 ? (int)i : -1;
		v[i].msg_len = (unsigned)r;
	}
	return (int)i;
}

/* _FORTIFY_SOURCE's checked forms. */
EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		abort(); /* as glibc's __chk_fail */
	return read(fd, buf, len);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen,
			  int flags);
EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen,
			  int flags)
{
	if (len > buflen)
		abort();
	return recv(fd, buf, len, flags);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
			      int flags, struct sockaddr *sa, socklen_t *alen);
EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
			      int flags, struct sockaddr *sa, socklen_t *alen)
{
	if (len > buflen)
		abort();
	return recvfrom(fd, buf, len, flags, sa, alen);
}
