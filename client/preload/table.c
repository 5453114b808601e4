/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The program's descriptors that are shim sockets: two levels of 1024
 * pointers (pages made on demand, never freed), so that a lookup -- done
 * by every read and write the shim stands in front of -- is two loads
 * and no lock.  Writers hold shim.mu.  Each entry holds a reference on
 * its socket; dup() makes more entries for one socket.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim_pvt.h"

#define PAGE_BITS 10
#define PAGE (1u << PAGE_BITS)
#define PAGES 1024u /* fds below 1M */

static _Atomic(struct shim_sock *) *pages[PAGES];

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
