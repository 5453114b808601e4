/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * syscall(2), which is libc's too, so the shim can stand in front of it:
 * a program that makes its socket and I/O calls through syscall() (bind9's
 * libuv sends UDP with syscall(SYS_sendmmsg, ...)) would otherwise reach
 * the kernel with a shim descriptor -- a UDP frame without its address
 * header, data corrupted at the proxy.  The calls the shim stands in
 * front of go to its own functions (which answer as syscall() does: -1
 * and errno); every other number goes to libc's syscall() with six
 * arguments, as its own assembly passes them.
 *
 * What calls the kernel without libc at all (Go's runtime, inline
 * assembly) the shim cannot see: remsock-preload(8) says so.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "shim_pvt.h"

#define EXPORT __attribute__((visibility("default")))

typedef long (*syscall_fn)(long, long, long, long, long, long, long);

/* The shim's function for @p nr given the arguments @p a, or -2 with
 * *@p taken false when the number is not one the shim stands in front
 * of. */
static long shim_sys(long nr, const long *a, bool *taken)
{
	*taken = true;
	switch (nr) {
	case SYS_socket:
		return socket((int)a[0], (int)a[1], (int)a[2]);
	case SYS_connect:
		return connect((int)a[0], (const struct sockaddr *)a[1],
			       (socklen_t)a[2]);
	case SYS_bind:
		return bind((int)a[0], (const struct sockaddr *)a[1],
			    (socklen_t)a[2]);
	case SYS_listen:
		return listen((int)a[0], (int)a[1]);
	case SYS_accept:
		return accept((int)a[0], (struct sockaddr *)a[1],
			      (socklen_t *)a[2]);
	case SYS_accept4:
		return accept4((int)a[0], (struct sockaddr *)a[1],
			       (socklen_t *)a[2], (int)a[3]);
	case SYS_getsockname:
		return getsockname((int)a[0], (struct sockaddr *)a[1],
				   (socklen_t *)a[2]);
	case SYS_getpeername:
		return getpeername((int)a[0], (struct sockaddr *)a[1],
				   (socklen_t *)a[2]);
	case SYS_setsockopt:
		return setsockopt((int)a[0], (int)a[1], (int)a[2],
				  (const void *)a[3], (socklen_t)a[4]);
	case SYS_getsockopt:
		return getsockopt((int)a[0], (int)a[1], (int)a[2], (void *)a[3],
				  (socklen_t *)a[4]);
	case SYS_sendto:
		return sendto((int)a[0], (const void *)a[1], (size_t)a[2],
			      (int)a[3], (const struct sockaddr *)a[4],
			      (socklen_t)a[5]);
	case SYS_recvfrom:
		return recvfrom((int)a[0], (void *)a[1], (size_t)a[2],
				(int)a[3], (struct sockaddr *)a[4],
				(socklen_t *)a[5]);
	case SYS_sendmsg:
		return sendmsg((int)a[0], (const struct msghdr *)a[1],
			       (int)a[2]);
	case SYS_recvmsg:
		return recvmsg((int)a[0], (struct msghdr *)a[1], (int)a[2]);
	case SYS_sendmmsg:
		return sendmmsg((int)a[0], (struct mmsghdr *)a[1],
				(unsigned)a[2], (int)a[3]);
	case SYS_recvmmsg:
		return recvmmsg((int)a[0], (struct mmsghdr *)a[1],
				(unsigned)a[2], (int)a[3],
				(struct timespec *)a[4]);
	case SYS_read:
		return read((int)a[0], (void *)a[1], (size_t)a[2]);
	case SYS_write:
		return write((int)a[0], (const void *)a[1], (size_t)a[2]);
	case SYS_readv:
		return readv((int)a[0], (const struct iovec *)a[1], (int)a[2]);
	case SYS_writev:
		return writev((int)a[0], (const struct iovec *)a[1], (int)a[2]);
	case SYS_close:
		return close((int)a[0]);
	case SYS_close_range:
		return close_range((unsigned)a[0], (unsigned)a[1], (int)a[2]);
	case SYS_dup:
		return dup((int)a[0]);
	case SYS_dup2:
		return dup2((int)a[0], (int)a[1]);
	case SYS_dup3:
		return dup3((int)a[0], (int)a[1], (int)a[2]);
	default:
		*taken = false;
		return -2;
	}
}

EXPORT long syscall(long nr, ...)
{
	static syscall_fn real;
	long a[6];
	va_list ap;
	bool taken;
	long rc;

	/* Six, whatever the call takes: libc's syscall() passes six
	 * registers on as they are too (the x86-64 and arm64 ABIs read
	 * the unpassed ones from the register save area). */
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	rc = shim_sys(nr, a, &taken);
	if (taken)
		return rc;
	if (real == NULL)
		real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
