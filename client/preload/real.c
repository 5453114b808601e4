/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The real functions behind the shim's, from dlsym(RTLD_NEXT), and the
 * __wrap_* functions the linker (--wrap) gives libremsock's own objects in
 * the shim: the library's transport socket, its reads and writes and its
 * getaddrinfo go to libc, never through the shim; its descriptors (the
 * socket, the event fds) are the shim's own (shim_fd_own()).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "shim_pvt.h"

struct shim_real shim_real;

#define EXPORT_REAL __attribute__((visibility("default")))

#define LOAD(name)                                                             \
	shim_real.name = (__typeof__(shim_real.name))dlsym(RTLD_NEXT, #name)

void shim_real_init(void)
{
	LOAD(socket);
	LOAD(connect);
	LOAD(bind);
	LOAD(listen);
	LOAD(accept);
	LOAD(accept4);
	LOAD(getsockname);
	LOAD(getpeername);
	LOAD(setsockopt);
	LOAD(getsockopt);
	LOAD(close_range);
	LOAD(dup);
	LOAD(dup2);
	LOAD(dup3);
	LOAD(fcntl);
	LOAD(read);
	LOAD(write);
	LOAD(readv);
	LOAD(writev);
	LOAD(send);
	LOAD(sendto);
	LOAD(sendmsg);
	LOAD(recv);
	LOAD(recvfrom);
	LOAD(recvmsg);
	LOAD(getaddrinfo);
	LOAD(freeaddrinfo);
	LOAD(close); /* last: REAL() tests the one it wants */
}

void shim_debug(const char *fmt, ...)
{
	va_list ap;

	if (getenv("REMSOCK_DEBUG") == NULL)
		return;
	fputs("remsock-preload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int64_t shim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- for libremsock's objects (-Wl,--wrap=NAME) ------------------------- */

#define WRAP_PROTO(ret, name, params) ret __wrap_##name params;

WRAP_PROTO(int, socket, (int d, int t, int p))
WRAP_PROTO(int, connect, (int fd, const struct sockaddr *a, socklen_t l))
WRAP_PROTO(int, setsockopt, (int fd, int lv, int n, const void *v, socklen_t l))
WRAP_PROTO(int, getsockopt, (int fd, int lv, int n, void *v, socklen_t *l))
WRAP_PROTO(int, close, (int fd))
WRAP_PROTO(int, eventfd, (unsigned v, int flags))
WRAP_PROTO(ssize_t, read, (int fd, void *b, size_t n))
WRAP_PROTO(ssize_t, write, (int fd, const void *b, size_t n))
WRAP_PROTO(ssize_t, send, (int fd, const void *b, size_t n, int f))
WRAP_PROTO(int, fcntl, (int fd, int cmd, ...))
WRAP_PROTO(int, getaddrinfo,
	   (const char *n, const char *s, const struct addrinfo *h,
	    struct addrinfo **r))
WRAP_PROTO(void, freeaddrinfo, (struct addrinfo * r))

/* libc's socket(), for a libremsock.so in the program (conn.c's
 * transport_socket()): its transport reaches the proxy itself. */
EXPORT_REAL int remsock_preload_socket(int d, int t, int p);
EXPORT_REAL int remsock_preload_socket(int d, int t, int p)
{
	return REAL(socket)(d, t, p);
}

int __wrap_socket(int d, int t, int p)
{
	return shim_fd_own(REAL(socket)(d, t, p));
}

int __real_eventfd(unsigned v, int flags); /* libc's: --wrap's name */

int __wrap_eventfd(unsigned v, int flags)
{
	return shim_fd_own(__real_eventfd(v, flags));
}

int __wrap_connect(int fd, const struct sockaddr *a, socklen_t l)
{
	return REAL(connect)(fd, a, l);
}

int __wrap_setsockopt(int fd, int lv, int n, const void *v, socklen_t l)
{
	return REAL(setsockopt)(fd, lv, n, v, l);
}

int __wrap_getsockopt(int fd, int lv, int n, void *v, socklen_t *l)
{
	return REAL(getsockopt)(fd, lv, n, v, l);
}

int __wrap_close(int fd)
{
	return shim_fd_close(fd);
}

ssize_t __wrap_read(int fd, void *b, size_t n)
{
	return REAL(read)(fd, b, n);
}

ssize_t __wrap_write(int fd, const void *b, size_t n)
{
	return REAL(write)(fd, b, n);
}

ssize_t __wrap_send(int fd, const void *b, size_t n, int f)
{
	return REAL(send)(fd, b, n, f);
}

int __wrap_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return REAL(fcntl)(fd, cmd, arg);
}

int __wrap_getaddrinfo(const char *n, const char *s, const struct addrinfo *h,
		       struct addrinfo **r)
{
	return REAL(getaddrinfo)(n, s, h, r);
}

void __wrap_freeaddrinfo(struct addrinfo *r)
{
	REAL(freeaddrinfo)(r);
}
