/* SPDX-License-Identifier: BSD-3-Clause */
#define _GNU_SOURCE /* accept4(), epoll_pwait2() */
/*
 * The kernel transport: lg_io over Linux TCP sockets, non-blocking, in
 * one edge-triggered epoll set.  Edge-triggered readiness is the same
 * contract as rs_sock.h's events (drain or fill until EAGAIN, then wait
 * for the next event), so the workloads run unchanged.  A connect's
 * completion is the first EPOLLOUT (SO_ERROR says how it ended).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "lg.h"

struct lg_sock {
	int fd;
	lg_ev_fn cb;
	void *user;
	bool listening, connecting;
	int err; /* how the connect ended, kept: SO_ERROR clears itself */
};

static int ep = -1;

int lg_kern_init(void)
{
	ep = epoll_create1(EPOLL_CLOEXEC);
	return ep < 0 ? -1 : 0;
}

static struct lg_sock *add(int fd, lg_ev_fn cb, void *user, bool listening,
			   bool connecting)
{
	struct lg_sock *s = calloc(1, sizeof(*s));
	struct epoll_event e = {.events =
				    EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};

	if (s == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	s->fd = fd;
	s->cb = cb;
	s->user = user;
	s->listening = listening;
	s->connecting = connecting;
	if (listening)
		e.events = EPOLLIN;
	e.data.ptr = s;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) {
		int err = errno;

		close(fd);
		free(s);
		errno = err;
		return NULL;
	}
	return s;
}

static struct lg_sock *k_connect(const struct sockaddr_in *to, lg_ev_fn cb,
				 void *user)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (lg.o->self.sin_addr.s_addr != 0) {
		struct sockaddr_in me = lg.o->self;

		me.sin_port = 0;
		if (bind(fd, (const struct sockaddr *)&me, sizeof(me)) < 0)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 &&
	    errno != EINPROGRESS)
		goto fail;
	return add(fd, cb, user, false, true);
fail:;
	int err = errno;

	close(fd);
	errno = err;
	return NULL;
}

static struct lg_sock *k_listen(const struct sockaddr_in *at, lg_ev_fn cb,
				void *user)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)at, sizeof(*at)) < 0 ||
	    listen(fd, 4096) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return NULL;
	}
	return add(fd, cb, user, true, false);
}

static struct lg_sock *k_accept(struct lg_sock *l, lg_ev_fn cb, void *user)
{
	int one = 1;
	int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return add(fd, cb, user, false, false);
}

static ssize_t k_send(struct lg_sock *s, const void *buf, size_t len)
{
	ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);

	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static ssize_t k_recv(struct lg_sock *s, void *buf, size_t len)
{
	ssize_t n = recv(s->fd, buf, len, 0);

	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static int so_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	return err;
}

static int k_error(struct lg_sock *s)
{
	return s->err != 0 ? s->err : so_error(s->fd);
}

static void k_close(struct lg_sock *s)
{
	close(s->fd); /* also leaves the epoll set */
	free(s);
}

const struct lg_io lg_io_kern = {
    .name = "kernel",
    .connect = k_connect,
    .listen = k_listen,
    .accept = k_accept,
    .send = k_send,
    .recv = k_recv,
    .error = k_error,
    .close = k_close,
};

int lg_kern_poll(const struct timespec *timeout)
{
	struct epoll_event ev[256];
	/* Nanoseconds: echo's requests are due at exact times. */
	int n = epoll_pwait2(ep, ev, 256, timeout, NULL);

	for (int i = 0; i < n; i++) {
		struct lg_sock *s = ev[i].data.ptr;
		unsigned bits = 0;

		if (s->listening) {
			bits = LG_EV_ACCEPT;
		} else {
			if (ev[i].events & (EPOLLERR | EPOLLHUP)) {
				bits |= LG_EV_ERROR | LG_EV_READ;
			}
			if (ev[i].events & (EPOLLIN | EPOLLRDHUP))
				bits |= LG_EV_READ;
			if (ev[i].events & EPOLLOUT) {
				if (s->connecting) {
					s->connecting = false;
					s->err = so_error(s->fd);
					if (s->err == 0)
						bits |= LG_EV_CONNECTED;
					else
						bits |= LG_EV_ERROR;
				}
				bits |= LG_EV_WRITE;
			}
		}
		/* A callback may close its own socket (nothing of s is
		 * touched after it), never another's: that one's event may
		 * be further down this array. */
		s->cb(s, bits, s->user);
	}
	return n;
}
