/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK transport: lg_io over the project's own stack (rs_sock.h), on
 * the data plane's single worker.  The load generator's loop is the
 * worker's: its poll hook runs lg_work_tick(), its socket callbacks the
 * workloads' and peers' handlers.  An lg_sock wraps an rs_sock with the
 * handler to call, so that both transports share one callback type.
 */
#include <errno.h>
#include <stdlib.h>

#include "lg.h"
#include "rs_sock.h"

struct lg_sock {
	struct rs_sock *s;
	lg_ev_fn cb;
	void *user;
};

static struct rs_lcore *dp_lc;

static void trampoline(struct rs_sock *s, unsigned ev, void *user)
{
	struct lg_sock *ls = user;

	(void)s;
	ls->cb(ls, ev, ls->user);
}

static struct lg_sock *wrap(struct rs_sock *s, lg_ev_fn cb, void *user)
{
	struct lg_sock *ls = malloc(sizeof(*ls));

	if (ls == NULL) {
		rs_sock_abort(s);
		errno = ENOMEM;
		return NULL;
	}
	ls->s = s;
	ls->cb = cb;
	ls->user = user;
	rs_sock_set_callback(s, trampoline, ls);
	return ls;
}

static struct lg_sock *dp_connect(const struct sockaddr_in *to, lg_ev_fn cb,
				  void *user)
{
	struct rs_sock *s = rs_sock_open(dp_lc, RS_SOCK_TCP, NULL, NULL);
	int rc;

	if (s == NULL)
		return NULL;
	/* Ring sizes are the ini's ([limits] sock_rx_ring/sock_tx_ring). */
	rs_sock_setopt(s, RS_TCP_NODELAY, 1);
	/* The calls written in a round share segments, as a Linux client's
	 * do (tcp_autocorking). */
	rs_sock_setopt(s, RS_TCP_AUTOCORK, 1);
	/* Several workers (the load runs on the first): a bound port is
	 * claimed, so its packets come here whatever their hash, and the
	 * server's workers share the connections by it (an unbound connect
	 * takes a port that hashes here, which would put them all on the
	 * server's worker of the same index). */
	rc = 0;
	if (rs_lcore_count(dp_lc) > 1) {
		struct sockaddr_in any = {.sin_family = AF_INET};

		rc = rs_sock_bind(s, &any);
	}
	if (rc == 0)
		rc = rs_sock_connect(s, to);
	if (rc != -EINPROGRESS) {
		rs_sock_abort(s);
		errno = -rc;
		return NULL;
	}
	return wrap(s, cb, user);
}

static struct lg_sock *dp_listen(const struct sockaddr_in *at, lg_ev_fn cb,
				 void *user)
{
	struct rs_sock *s = rs_sock_open(dp_lc, RS_SOCK_TCP, NULL, NULL);
	int rc;

	if (s == NULL)
		return NULL;
	rs_sock_setopt(s, RS_SO_REUSEADDR, 1);
	rc = rs_sock_bind(s, at);
	if (rc == 0)
		rc = rs_sock_listen(s, 4096);
	if (rc < 0) {
		rs_sock_abort(s);
		errno = -rc;
		return NULL;
	}
	return wrap(s, cb, user);
}

static struct lg_sock *dp_accept(struct lg_sock *l, lg_ev_fn cb, void *user)
{
	struct rs_sock *s = rs_sock_accept(l->s, NULL);

	if (s == NULL)
		return NULL;
	rs_sock_setopt(s, RS_TCP_NODELAY, 1);
	return wrap(s, cb, user);
}

static ssize_t dp_send(struct lg_sock *ls, const void *buf, size_t len)
{
	return rs_sock_send(ls->s, buf, len, 0);
}

static ssize_t dp_recv(struct lg_sock *ls, void *buf, size_t len)
{
	return rs_sock_recv(ls->s, buf, len, 0);
}

static int dp_error(struct lg_sock *ls)
{
	return -rs_sock_error(ls->s);
}

static void dp_close(struct lg_sock *ls)
{
	rs_sock_close(ls->s);
	free(ls);
}

const struct lg_io lg_io_dpdk = {
    .name = "dpdk",
    .connect = dp_connect,
    .listen = dp_listen,
    .accept = dp_accept,
    .send = dp_send,
    .recv = dp_recv,
    .error = dp_error,
    .close = dp_close,
};

void lg_dpdk_bind(struct rs_lcore *lc)
{
	dp_lc = lc;
}
