/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The program's descriptors that are shim sockets: two levels of 1024
 * pointers (pages made on demand, never freed), so that a lookup -- done
 * by every read and write the shim stands in front of -- is two loads
 * and no lock.  Writers hold shim.mu.  Each entry holds a reference on
 * its socket; dup() makes more entries for one socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim_pvt.h"

#define PAGE_BITS 10
#define PAGE (1u << PAGE_BITS)
#define PAGES 1024u /* fds below 1M */

static _Atomic(struct shim_sock *) *pages[PAGES];

/* The shim's own descriptors below OWN_MAX: a bit each. */
#define OWN_MAX 65536u
static _Atomic uint64_t own[OWN_MAX / 64];

/* Where the shim's own descriptors go: the top quarter of the soft
 * RLIMIT_NOFILE, starting at most at 4096 (a larger number only grows
 * the kernel's table); 0: the limit is too small to move them. */
static int own_base(void)
{
	static int base = -1;
	struct rlimit r;

	if (base >= 0)
		return base;
	if (getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur < 256)
		base = 0;
	else
		base = (int)(r.rlim_cur - r.rlim_cur / 4 < 4096
				 ? r.rlim_cur - r.rlim_cur / 4
				 : 4096);
	return base;
}

static void own_mark(int fd, bool on)
{
	uint64_t bit;

	if (fd < 0 || (unsigned)fd >= OWN_MAX)
		return;
	bit = 1ull << (fd % 64);
	if (on)
		atomic_fetch_or(&own[fd / 64], bit);
	else
		atomic_fetch_and(&own[fd / 64], ~bit);
}

int shim_fd_own(int fd)
{
	int base = own_base(), hi;

	if (fd < 0)
		return fd;
	if (base > 0 && fd < base) {
		hi = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, base);
		if (hi >= 0) {
			REAL(close)(fd);
			fd = hi;
		}
	}
	own_mark(fd, true);
	return fd;
}

bool shim_fd_is_own(int fd)
{
	return fd >= 0 && (unsigned)fd < OWN_MAX && !shim_shared_child() &&
	       (atomic_load(&own[fd / 64]) >> (fd % 64) & 1) != 0;
}

int shim_fd_close(int fd)
{
	own_mark(fd, false);
	return REAL(close)(fd);
}

struct shim_sock *shim_tab_peek(int fd)
{
	_Atomic(struct shim_sock *) *p;

	if (fd < 0 || (unsigned)fd >= PAGE * PAGES)
		return NULL;
	p = __atomic_load_n(&pages[(unsigned)fd >> PAGE_BITS],
			    __ATOMIC_ACQUIRE);
	if (p == NULL)
		return NULL;
	return atomic_load_explicit(&p[(unsigned)fd & (PAGE - 1)],
				    memory_order_acquire);
}

unsigned long shim_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

bool shim_tab_same(int fd, const struct shim_sock *ss)
{
	return shim_ino(fd) == ss->ino;
}

struct shim_sock *shim_tab_get(int fd)
{
	struct shim_sock *ss;

	if (shim_tab_peek(fd) == NULL)
		return NULL;
	pthread_mutex_lock(&shim.mu);
	ss = shim_tab_peek(fd);
	if (ss != NULL && !shim_tab_same(fd, ss)) {
		shim_tab_clear(fd); /* closed behind our back, number reused */
		ss = NULL;
	}
	if (ss != NULL)
		ss->refs++;
	pthread_mutex_unlock(&shim.mu);
	return ss;
}

int shim_tab_set(int fd, struct shim_sock *ss)
{
	unsigned pg = (unsigned)fd >> PAGE_BITS;
	_Atomic(struct shim_sock *) *p;

	if (fd < 0 || pg >= PAGES)
		return -EMFILE;
	p = pages[pg];
	if (p == NULL) {
		p = calloc(PAGE, sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		__atomic_store_n(&pages[pg], p, __ATOMIC_RELEASE);
	}
	shim_tab_clear(fd);
	ss->refs++;
	atomic_store_explicit(&p[(unsigned)fd & (PAGE - 1)], ss,
			      memory_order_release);
	return 0;
}

void shim_tab_clear(int fd)
{
	struct shim_sock *ss = shim_tab_peek(fd);

	if (ss == NULL)
		return;
	atomic_store_explicit(
	    &pages[(unsigned)fd >> PAGE_BITS][(unsigned)fd & (PAGE - 1)], NULL,
	    memory_order_release);
	shim_sock_put_locked(ss);
}

static void op_clear(struct shim_op *op)
{
	rsk_call_free(op->call);
	op->call = NULL;
	free(op->buf);
	op->buf = NULL;
	op->busy = false;
}

void shim_sock_put_locked(struct shim_sock *ss)
{
	struct shim_sock **pp;

	if (--ss->refs > 0)
		return;
	for (pp = &shim.socks; *pp != NULL; pp = &(*pp)->next)
		if (*pp == ss) {
			*pp = ss->next;
			break;
		}
	if (!ss->orphan) {
		op_clear(&ss->cop);
		op_clear(&ss->rop);
		for (unsigned i = 0; i < SHIM_PIPE; i++)
			op_clear(&ss->up[i]);
		if (ss->dn != NULL)
			remsock__receive_reply__free_unpacked(ss->dn, NULL);
		if (ss->rs != NULL)
			rskp_sock_put(ss->rs);
	}
	free(ss);
}

void shim_sock_put(struct shim_sock *ss)
{
	pthread_mutex_lock(&shim.mu);
	shim_sock_put_locked(ss);
	pthread_mutex_unlock(&shim.mu);
}
