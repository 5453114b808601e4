/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shim's life: the connection (opened on first use, the relay with
 * it), sockets made (a pair, a table entry, the relay's interest) and
 * adopted after exec, fork and exit.
 *
 * Fork: the child keeps its copies of the program's ends, which the
 * parent's relay goes on serving; its copy of the table marks them
 * inherited (no handle: the child's libremsock state is the parent's).
 * It closes its copies of the relay's descriptors and opens a connection
 * of its own when it makes sockets.  Exit: the relay sends what is
 * queued and closes every socket (bounded by EXIT_FLUSH_MS).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn_pvt.h"
#include "shim_pvt.h"

#define EXIT_FLUSH_MS 5000

struct shim shim = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .conn_mu = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
    .ep = -1,
    .wake_fd = -1,
};

struct rsk_conn *shim_conn(void)
{
	struct rsk_conn *c;
	int rc;

	pthread_mutex_lock(&shim.conn_mu);
	c = shim.conn;
	if (c == NULL && shim.fail_ms != 0 &&
	    shim_now_ms() - shim.fail_ms < 1000) {
		errno = shim.fail_err; /* do not wait again at once */
		pthread_mutex_unlock(&shim.conn_mu);
		return NULL;
	}
	if (c == NULL) {
		sigset_t all, old;

		/* The threads made here (libremsock's I/O thread, the relay)
		 * take no signal of the program's. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		c = rsk_conn_open(NULL);
		rc = errno;
		if (c != NULL) {
			shim.conn = c;
			rsk_default_conn_set(c);
			rc = shim_relay_start();
			if (rc < 0)
				shim_debug("cannot start the relay: %s",
					   strerror(-rc));
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (c == NULL) {
			shim.fail_ms = shim_now_ms();
			shim.fail_err = rc;
			shim_debug("no connection to remsockd: %s (%s)",
				   rsk_last_detail(), strerror(rc));
			pthread_mutex_unlock(&shim.conn_mu);
			errno = shim.fail_err;
			return NULL;
		}
	}
	pthread_mutex_unlock(&shim.conn_mu);
	return c;
}

/* ---- sockets ------------------------------------------------------------ */

/* The program's end gets an abstract name, "remsock-shim/t/..." (TCP) or
 * "remsock-shim/u/..." (UDP), with 64 random bits: an image exec'd with
 * the end inherited finds its shim sockets by their names (shim_adopt),
 * so that UDP keeps its framing there. */
#define SHIM_TAG "remsock-shim/"

static void tag_end(int fd, int kind)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	unsigned long long r;
	int n;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (unsigned long long)shim_now_ms() ^
		    ((unsigned long long)getpid() << 32) ^ (uintptr_t)&r;
	n = snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1,
		     SHIM_TAG "%c/%016llx", kind == SHIM_TCP ? 't' : 'u', r);
	REAL(bind)
	(fd, (struct sockaddr *)&un,
	 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n));
}

/* The kind of a shim end inherited through exec, or 0. */
static int tag_kind(int fd)
{
	struct sockaddr_un un;
	socklen_t len = sizeof(un);
	size_t tl = strlen(SHIM_TAG),
	       at = offsetof(struct sockaddr_un, sun_path);

	if (REAL(getsockname)(fd, (struct sockaddr *)&un, &len) < 0 ||
	    un.sun_family != AF_UNIX || len < at + 2 + tl ||
	    un.sun_path[0] != 0 || memcmp(un.sun_path + 1, SHIM_TAG, tl) != 0)
		return 0;
	return un.sun_path[1 + tl] == 't'   ? SHIM_TCP
	       : un.sun_path[1 + tl] == 'u' ? SHIM_UDP
					    : 0;
}

void shim_adopt(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int kind;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);
		struct shim_sock *ss;

		if (!isdigit((unsigned char)e->d_name[0]) || fd == dirfd(d) ||
		    (kind = tag_kind(fd)) == 0 ||
		    (ss = calloc(1, sizeof(*ss))) == NULL)
			continue;
		ss->kind = kind;
		ss->ino = shim_ino(fd);
		ss->h = ss->rfd = -1;
		ss->orphan = true; /* the process that made it relays it */
		ss->state = ST_CONNECTED;
		pthread_mutex_lock(&shim.mu);
		ss->refs = 1;
		if (shim_tab_set(fd, ss) < 0)
			free(ss);
		else
			shim_sock_put_locked(ss); /* the table's alone */
		pthread_mutex_unlock(&shim.mu);
	}
	closedir(d);
}

int shim_sock_new(int h, int family, int kind, int flags, enum shim_state st)
{
	struct shim_sock *ss = calloc(1, sizeof(*ss));
	struct epoll_event e = {.data.ptr = ss};
	int sv[2] = {-1, -1}, err;

	if (ss == NULL) {
		err = ENOMEM;
		goto err_close;
	}
	ss->rs = rskp_sock_get(h);
	if (ss->rs == NULL) {
		err = EBADF;
		goto err_free;
	}
	if (socketpair(AF_UNIX,
		       (kind == SHIM_TCP ? SOCK_STREAM : SOCK_SEQPACKET) |
			   SOCK_CLOEXEC,
		       0, sv) < 0) {
		err = errno;
		goto err_put;
	}
	sv[1] = shim_fd_own(sv[1]); /* out of the program's way */
	tag_end(sv[0], kind);
	if (!(flags & SOCK_CLOEXEC))
		REAL(fcntl)(sv[0], F_SETFD, 0);
	if (flags & SOCK_NONBLOCK)
		REAL(fcntl)(sv[0], F_SETFL, O_NONBLOCK);
	REAL(fcntl)(sv[1], F_SETFL, O_NONBLOCK);
	ss->kind = kind;
	ss->family = family;
	ss->ino = shim_ino(sv[0]);
	ss->h = h;
	ss->rfd = sv[1];
	ss->state = st;
	ss->refs = 1; /* the relay's */
	for (unsigned i = 0; i < SHIM_PIPE; i++)
		ss->up[i].ss = ss;
	ss->cop.ss = ss->rop.ss = ss;
	ss->cop.kind = OP_CONNECT;
	pthread_mutex_lock(&shim.mu);
	err = -shim_tab_set(sv[0], ss);
	if (err == 0 && epoll_ctl(shim.ep, EPOLL_CTL_ADD, sv[1], &e) < 0)
		err = errno;
	if (err != 0) {
		shim_tab_clear(sv[0]);
		pthread_mutex_unlock(&shim.mu);
		goto err_pair;
	}
	ss->in_ep = true;
	ss->next = shim.socks;
	shim.socks = ss;
	shim_kick(ss);
	pthread_mutex_unlock(&shim.mu);
	return sv[0];

err_pair:
	REAL(close)(sv[0]);
	shim_fd_close(sv[1]);
	errno = err;
	return -1; /* the table entry held and dropped ss: it is gone */
err_put:
	rskp_sock_put(ss->rs);
err_free:
	free(ss);
err_close:
	rsk_close(h);
	errno = err;
	return -1;
}

/* ---- fork and exit ------------------------------------------------------ */

bool shim_shared_child(void)
{
	return getpid() != shim.pid;
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&shim.conn_mu);
	pthread_mutex_lock(&shim.mu);
	rskp_tab_lock();
	rskp_default_lock(); /* no thread opening it: the child may reset it */
}

static void fork_parent(void)
{
	rskp_default_unlock();
	rskp_tab_unlock();
	pthread_mutex_unlock(&shim.mu);
	pthread_mutex_unlock(&shim.conn_mu);
}

static void fork_child(void)
{
	struct rsk_conn *c = shim.conn;

	rskp_default_unlock();
	rskp_tab_unlock();
	shim.pid = getpid();
	for (struct shim_sock *ss = shim.socks; ss != NULL; ss = ss->next) {
		ss->orphan = true;
		if (ss->rfd >= 0)
			shim_fd_close(ss->rfd);
		ss->rfd = -1;
		ss->h = -1;
		ss->in_ep = false;
	}
	if (c != NULL) { /* the parent's: never written from here */
		shim_fd_close(c->fd);
		shim_fd_close(c->efd);
		shim_fd_close(c->stop_efd);
	}
	if (shim.ep >= 0)
		shim_fd_close(shim.ep);
	if (shim.wake_fd >= 0)
		shim_fd_close(shim.wake_fd);
	shim.ep = shim.wake_fd = -1;
	shim.conn = NULL;
	shim.relay_on = false;
	/* The parent's threads are not here: their jobs and waits are not
	 * this process's. */
	shim_relay_forked();
	shim.cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	pthread_mutex_unlock(&shim.mu);
	pthread_mutex_unlock(&shim.conn_mu);
	rsk_default_conn_set(NULL);
}

static bool all_closed(void)
{
	if (shim_relay_busy())
		return false;
	for (struct shim_sock *ss = shim.socks; ss != NULL; ss = ss->next)
		if (!ss->orphan && ss->state != ST_CLOSED)
			return false;
	return true;
}

/* At exit: send what the program wrote, close every socket. */
static void shim_fini(void)
{
	struct timespec until;
	uint64_t one = 1;

	pthread_mutex_lock(&shim.mu);
	if (!shim.relay_on) {
		pthread_mutex_unlock(&shim.mu);
		return;
	}
	shim.exiting = true;
	if (write(shim.wake_fd, &one, sizeof(one)) < 0) {
		/* cannot fail short of an overflow */
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += EXIT_FLUSH_MS / 1000;
	while (!all_closed())
		if (pthread_cond_timedwait(&shim.cv, &shim.mu, &until) != 0)
			break;
	pthread_mutex_unlock(&shim.mu);
	shim_relay_exit_note();
}

void shim_atfork_init(void)
{
	shim.pid = getpid();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	atexit(shim_fini);
}
