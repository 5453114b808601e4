/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The relay: one thread per process, an epoll set over the relay ends of
 * the socketpairs, the connection's event fd (completed calls) and a wake
 * eventfd.  Per socket it keeps up to SHIM_PIPE Sends in flight (what the
 * program wrote, read from the relay end; stream offsets, so a reconnect
 * duplicates nothing) and one Receive (consumed_offset = the bytes handed
 * on), whose bytes it writes into the relay end; what does not fit waits
 * for EPOLLOUT before the next Receive goes out, so the program's reading
 * paces the proxy.  A listener has a Poll instead; its POLLIN writes a
 * token byte that makes the program's end readable.
 *
 * Ends: the program's end reading EOF (read 0) is its shutdown(SHUT_WR):
 * a ShutDown after the Sends.  EPOLLHUP is every copy of its end closed
 * (in this process and in forked children): the bytes still queued are
 * sent, then Close.  The proxy's EOF is shutdown(SHUT_WR) of the relay
 * end, so the program reads EOF.  Close and ShutDown run on the closer
 * thread, in order: the relay never waits on a call.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "shim_pvt.h"

static int conn_tag, wake_tag; /* epoll data of the two control fds */

static void pump(struct shim_sock *ss);

/* ---- calls -------------------------------------------------------------- */

static int op_start(struct shim_op *op, const char *method,
		    const ProtobufCMessage *req, unsigned flags)
{
	int rc;

	if (op->call == NULL) {
		op->call = rsk_call_new(shim.conn);
		if (op->call == NULL)
			return -ENOMEM;
		rsk_call_set_callback(op->call, NULL, op);
	}
	rc =
	    rskp_call_start_msg(op->call, method, req, flags | RSK_CALL_NOTIFY);
	op->busy = rc == 0;
	return rc;
}

static void op_cancel(struct shim_op *op)
{
	rsk_call_free(op->call);
	op->call = NULL;
	op->busy = false;
}

static int send_start(struct shim_sock *ss, struct shim_op *op)
{
	Remsock__SendRequest req = REMSOCK__SEND_REQUEST__INIT;
	Remsock__AddressPort ap;
	uint8_t ip[16];

	req.socket_descriptor = ss->rs->desc;
	req.data.data = op->buf;
	req.data.len = op->len;
	req.stream_offset = ss->kind == SHIM_TCP ? op->off : 0;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = -1;
	if (op->to.sa.sa_family != 0 &&
	    rskp_addr_to_wire(&op->to.sa, sizeof(op->to), &ap, ip) == 0)
		req.send_to = &ap;
	return op_start(op, "Send", &req.base,
			ss->kind == SHIM_TCP ? RSK_CALL_RETRY : 0);
}

static int recv_start(struct shim_sock *ss)
{
	Remsock__ReceiveRequest req = REMSOCK__RECEIVE_REQUEST__INIT;

	req.socket_descriptor = ss->rs->desc;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = -1;
	if (ss->kind == SHIM_TCP) {
		req.data_size = SHIM_RECV;
		req.has_consumed_offset = 1;
		req.consumed_offset = ss->rx_next;
	} else {
		req.data_size = SHIM_UDP_MAX;
	}
	return op_start(&ss->rop, "Receive", &req.base, RSK_CALL_RETRY);
}

static int poll_start(struct shim_sock *ss)
{
	Remsock__PollRequest req = REMSOCK__POLL_REQUEST__INIT;
	Remsock__PollEvent e = REMSOCK__POLL_EVENT__INIT, *ep = &e;

	e.socket_descriptor = ss->rs->desc;
	e.requested_events = rskp_poll_to_wire(POLLIN);
	req.n_events = 1;
	req.events = &ep;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = -1;
	return op_start(&ss->rop, "Poll", &req.base, RSK_CALL_RETRY);
}

int shim_connect_start(struct shim_sock *ss, const struct sockaddr *sa,
		       socklen_t len)
{
	Remsock__ConnectRequest req = REMSOCK__CONNECT_REQUEST__INIT;
	Remsock__AddressPort ap;
	uint8_t ip[16];
	int rc = rskp_addr_to_wire(sa, len, &ap, ip);

	if (rc < 0)
		return rc;
	req.socket_descriptor = ss->rs->desc;
	req.remote_ip = &ap;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = -1;
	rc = op_start(&ss->cop, "Connect", &req.base, 0);
	if (rc == 0)
		ss->state = ST_CONNECTING;
	return rc;
}

/* ---- interest ----------------------------------------------------------- */

static void ev_set(struct shim_sock *ss, uint32_t want)
{
	struct epoll_event e = {.events = want, .data.ptr = ss};

	if (!ss->in_ep || ss->ev == want)
		return;
	if (epoll_ctl(shim.ep, EPOLL_CTL_MOD, ss->rfd, &e) == 0)
		ss->ev = want;
}

static void ep_drop(struct shim_sock *ss)
{
	if (ss->in_ep)
		epoll_ctl(shim.ep, EPOLL_CTL_DEL, ss->rfd, NULL);
	ss->in_ep = false;
}

/* ---- completions -------------------------------------------------------- */

static void up_error(struct shim_sock *ss, int err)
{
	if (ss->so_error == 0)
		ss->so_error = err;
	ss->up_err = true;
	shutdown(ss->rfd, SHUT_RD); /* the program's writes fail (EPIPE) */
}

static void dn_end(struct shim_sock *ss, int err)
{
	if (err != 0 && ss->so_error == 0)
		ss->so_error = err;
	ss->dn_eof = true;
	if (ss->kind == SHIM_TCP)
		shutdown(ss->rfd, SHUT_WR); /* the program reads EOF */
}

/* After a small Send, keep no large buffer. */
static void up_trim(struct shim_op *op)
{
	if (op->cap > (16u << 10) && op->len < op->cap / 4) {
		free(op->buf);
		op->buf = NULL;
		op->cap = 0;
	}
}

static void send_done(struct shim_op *op)
{
	struct shim_sock *ss = op->ss;
	Remsock__SendReply *r;
	int64_t end;
	int rc;

	r = (void *)rskp_call_unpack(op->call, &remsock__send_reply__descriptor,
				     &rc);
	if (r == NULL) {
		ss->n_up--;
		if (ss->kind == SHIM_TCP)
			up_error(ss, -rc);
		else if (ss->so_error == 0 && rc != -EAGAIN)
			ss->so_error = -rc;
		return;
	}
	end = op->off + (r->has_data_sent ? r->data_sent : 0);
	remsock__send_reply__free_unpacked(r, NULL);
	if (ss->kind == SHIM_UDP || end == op->off + (int64_t)op->len)
		up_trim(op);
	if (ss->kind == SHIM_UDP) {
		ss->n_up--;
		ss->rx_on = true; /* the first Send bound it */
		return;
	}
	if (end < op->off + (int64_t)op->len && end >= op->off) {
		/* Taken in part (cannot happen without a timeout): the rest. */
		memmove(op->buf, op->buf + (end - op->off),
			op->len - (size_t)(end - op->off));
		op->len -= (size_t)(end - op->off);
		op->off = end;
		if (send_start(ss, op) == 0)
			return;
		up_error(ss, EIO);
	}
	ss->n_up--;
	if (end > ss->up_acked) {
		ss->up_acked = end;
		pthread_mutex_lock(&ss->rs->tx_mu);
		ss->rs->tx_off = end; /* Close and ShutDown wait for them */
		pthread_mutex_unlock(&ss->rs->tx_mu);
	}
}

static void recv_done(struct shim_op *op)
{
	struct shim_sock *ss = op->ss;
	Remsock__ReceiveReply *r;
	int rc;

	r = (void *)rskp_call_unpack(op->call,
				     &remsock__receive_reply__descriptor, &rc);
	if (r == NULL) {
		if (rc == -EAGAIN || rc == -ETIMEDOUT)
			return; /* pump asks again */
		if (ss->kind == SHIM_UDP)
			ss->rx_on = false; /* until the next Send or bind */
		else
			dn_end(ss, -rc);
		return;
	}
	if (ss->kind == SHIM_TCP && (!r->has_data || r->data.len == 0)) {
		remsock__receive_reply__free_unpacked(r, NULL);
		dn_end(ss, 0);
		return;
	}
	if (ss->kind == SHIM_TCP &&
	    (!r->has_stream_offset || r->stream_offset != ss->rx_next)) {
		remsock__receive_reply__free_unpacked(r, NULL);
		dn_end(ss, EPROTO);
		return;
	}
	ss->rx_next += (int64_t)r->data.len;
	ss->dn = r;
	ss->dn_pos = 0;
}

static void connect_done(struct shim_op *op)
{
	struct shim_sock *ss = op->ss;
	int rc = rskp_call_result(op->call);

	if (ss->state != ST_CONNECTING)
		return;
	if (rc == 0) {
		ss->state = ST_CONNECTED;
	} else {
		ss->state = ST_FAILED;
		ss->so_error = -rc;
		shutdown(ss->rfd, SHUT_RDWR);
		/* The program sees an errno only (curl: "Couldn't connect");
		 * the proxy's reason (an ACL rule, ...) for REMSOCK_DEBUG. */
		shim_debug("connect failed: %s: %s", strerror(-rc),
			   rsk_call_error(op->call)->detail);
	}
	pthread_cond_broadcast(&shim.cv);
}

static void poll_done(struct shim_op *op)
{
	struct shim_sock *ss = op->ss;
	Remsock__PollReply *r;
	int rc;

	r = (void *)rskp_call_unpack(op->call, &remsock__poll_reply__descriptor,
				     &rc);
	if (r == NULL)
		return;
	if (r->n_events == 1 &&
	    (r->events[0]->observed_events & rskp_poll_to_wire(POLLIN)))
		send(ss->rfd, "a", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	remsock__poll_reply__free_unpacked(r, NULL);
}

static void op_done(struct shim_op *op)
{
	op->busy = false;
	if (op->ss->orphan || op->ss->state == ST_CLOSED)
		return;
	switch (op->kind) {
	case OP_CONNECT:
		connect_done(op);
		break;
	case OP_SEND:
		send_done(op);
		break;
	case OP_RECV:
		recv_done(op);
		break;
	case OP_POLL:
		poll_done(op);
		break;
	}
	pump(op->ss);
}

/* ---- moving bytes ------------------------------------------------------- */

/* The pending reply into the relay end.  @return true when it is all out. */
static bool dn_flush(struct shim_sock *ss)
{
	Remsock__ReceiveReply *r = ss->dn;
	ssize_t n;

	if (r == NULL)
		return true;
	if (ss->kind == SHIM_UDP) {
		union shim_addr from = {0};
		socklen_t flen = sizeof(from);
		struct iovec iov[2] = {{&from, SHIM_HDR},
				       {r->data.data, r->data.len}};
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};

		rskp_addr_from_wire(r->received_from, &from.sa, &flen);
		n = sendmsg(ss->rfd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			return false;
	} else {
		while (ss->dn_pos < r->data.len) {
			n = send(ss->rfd, r->data.data + ss->dn_pos,
				 r->data.len - ss->dn_pos,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return false;
			if (n < 0) { /* the program shut its reading */
				ss->dn_eof = true;
				break;
			}
			ss->dn_pos += (size_t)n;
		}
	}
	remsock__receive_reply__free_unpacked(r, NULL);
	ss->dn = NULL;
	return true;
}

static struct shim_op *up_free_op(struct shim_sock *ss)
{
	for (unsigned i = 0; i < SHIM_PIPE; i++)
		if (!ss->up[i].busy)
			return &ss->up[i];
	return NULL;
}

/* A buffer for what is queued in the relay end: as large as that (4 KiB
 * at least, SHIM_CHUNK at most), kept while the socket moves bulk, so
 * that a socket that sends little holds little.  @return false: ENOMEM. */
static bool up_room(struct shim_sock *ss, struct shim_op *op)
{
	size_t max =
	    ss->kind == SHIM_TCP ? SHIM_CHUNK : SHIM_HDR + SHIM_UDP_MAX;
	size_t want = max;
	int avail = 0;
	uint8_t *b;

	/* FIONREAD: the bytes queued; for SOCK_SEQPACKET all messages',
	 * so at least the next one's. */
	if (ioctl(ss->rfd, FIONREAD, &avail) == 0)
		want = avail < 4096	     ? 4096
		       : (size_t)avail > max ? max
					     : (size_t)avail;
	if (op->buf != NULL && op->cap >= want)
		return true;
	b = realloc(op->buf, want);
	if (b == NULL)
		return op->buf != NULL;
	op->buf = b;
	op->cap = want;
	return true;
}

/* Read what the program wrote and send it, while the pipe has room. */
static void up_pump(struct shim_sock *ss)
{
	struct shim_op *op;
	ssize_t n;

	while (!ss->up_eof && !ss->up_err && (op = up_free_op(ss)) != NULL) {
		if (!up_room(ss, op))
			return;
		n = recv(ss->rfd, op->buf, op->cap, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (shim.exiting)
				ss->up_eof = true; /* all there is */
			return;
		}
		if (n <= 0) {
			ss->up_eof = true;
			return;
		}
		op->kind = OP_SEND;
		op->ss = ss;
		op->to.sa.sa_family = 0;
		if (ss->kind == SHIM_UDP) {
			if ((size_t)n < SHIM_HDR)
				continue;
			memcpy(&op->to, op->buf, SHIM_HDR);
			n -= (ssize_t)SHIM_HDR;
			memmove(op->buf, op->buf + SHIM_HDR, (size_t)n);
		}
		op->off = ss->up_off;
		op->len = (size_t)n;
		if (send_start(ss, op) < 0) {
			up_error(ss, EIO);
			return;
		}
		ss->up_off += n;
		ss->n_up++;
	}
}

/* Whether the socket is done with: close it (outside mu). */
static bool close_due(const struct shim_sock *ss)
{
	if (ss->state == ST_CLOSED || ss->orphan)
		return false;
	if (!ss->hup && !shim.exiting)
		return false;
	if (ss->state == ST_CONNECTED || ss->kind == SHIM_UDP)
		return (ss->up_eof || ss->up_err) && ss->n_up == 0;
	return true;
}

/* ---- the closer: Close and ShutDown off the relay thread ---------------- */

/* They wait for the proxy (and, while the transport is down, for the
 * reconnect): a thread of their own runs them in order, so the relay
 * never waits on a call. */
struct shim_job {
	struct shim_job *next;
	struct shim_sock *ss; /* a reference */
	int h;
	bool close; /* else ShutDown(SHUT_WR) */
};

static struct shim_job *jobs, **jobs_tail = &jobs;
static pthread_cond_t jobs_cv = PTHREAD_COND_INITIALIZER;
static int jobs_n; /* queued or running */

static void job_run(int h, bool cl)
{
	if ((cl ? rsk_close(h) : rsk_shutdown(h, SHUT_WR)) < 0)
		shim_debug("%s of a proxied socket: %s",
			   cl ? "close" : "shutdown", strerror(errno));
}

/* Queue a Close or ShutDown of @p ss (mu held). */
static void job_add(struct shim_sock *ss, bool cl)
{
	struct shim_job *j = malloc(sizeof(*j));
	int h = ss->h;

	if (j == NULL) { /* no memory: do it here, waiting */
		pthread_mutex_unlock(&shim.mu);
		job_run(h, cl);
		pthread_mutex_lock(&shim.mu);
		return;
	}
	*j = (struct shim_job){.ss = ss, .h = h, .close = cl};
	ss->refs++;
	*jobs_tail = j;
	jobs_tail = &j->next;
	jobs_n++;
	pthread_cond_signal(&jobs_cv);
}

static void *closer_main(void *arg)
{
	struct shim_job *j;

	pthread_mutex_lock(&shim.mu);
	for (;;) {
		while (jobs == NULL)
			pthread_cond_wait(&jobs_cv, &shim.mu);
		j = jobs;
		jobs = j->next;
		if (jobs == NULL)
			jobs_tail = &jobs;
		pthread_mutex_unlock(&shim.mu);
		job_run(j->h, j->close);
		pthread_mutex_lock(&shim.mu);
		jobs_n--;
		pthread_cond_broadcast(&shim.cv);
		shim_sock_put_locked(j->ss);
		free(j);
	}
	return arg;
}

static void sock_close(struct shim_sock *ss)
{
	op_cancel(&ss->cop);
	op_cancel(&ss->rop);
	ep_drop(ss);
	ss->state = ST_CLOSED;
	if (ss->rfd >= 0)
		shim_fd_close(ss->rfd);
	ss->rfd = -1;
	if (ss->h >= 0)
		job_add(ss, true);
	ss->h = -1;
	pthread_cond_broadcast(&shim.cv);
	/* The relay's reference goes after its current batch of events,
	 * which may name the socket again. */
	ss->dead_next = shim.dead;
	shim.dead = ss;
}

static void half_close(struct shim_sock *ss)
{
	ss->shut_sent = true;
	job_add(ss, false);
}

/* Everything the socket can do now (mu held). */
static void pump(struct shim_sock *ss)
{
	uint32_t want = 0;

	if (ss->orphan || ss->state == ST_CLOSED)
		return;
	if (ss->hup && (ss->state == ST_CONNECTED || ss->kind == SHIM_UDP)) {
		/* Nobody reads any more: what comes is dropped. */
		if (ss->rop.busy)
			op_cancel(&ss->rop);
		if (ss->dn != NULL)
			remsock__receive_reply__free_unpacked(ss->dn, NULL);
		ss->dn = NULL;
		ss->dn_eof = true;
	}
	if (ss->state == ST_CONNECTED || ss->kind == SHIM_UDP) {
		bool out = dn_flush(ss);

		if (out && !ss->rop.busy && !ss->dn_eof &&
		    (ss->kind == SHIM_TCP || ss->rx_on)) {
			ss->rop.kind = OP_RECV;
			ss->rop.ss = ss;
			if (recv_start(ss) < 0)
				dn_end(ss, EIO);
		}
		up_pump(ss);
		if (!ss->up_eof && !ss->up_err && up_free_op(ss) != NULL)
			want |= EPOLLIN;
		if (!out)
			want |= EPOLLOUT;
		if (ss->kind == SHIM_TCP && ss->up_eof && !ss->up_err &&
		    ss->n_up == 0 && !ss->shut_sent && !ss->hup &&
		    !shim.exiting)
			half_close(ss);
	} else if (ss->state == ST_LISTENING && !ss->rop.busy) {
		ss->rop.kind = OP_POLL;
		ss->rop.ss = ss;
		poll_start(ss);
	}
	if (close_due(ss))
		sock_close(ss);
	else if (!ss->hup)
		ev_set(ss, want);
}

void shim_kick(struct shim_sock *ss)
{
	pump(ss);
}

/* ---- the thread --------------------------------------------------------- */

static void sock_event(struct shim_sock *ss, uint32_t ev)
{
	if (ev & (EPOLLHUP | EPOLLERR)) {
		ss->hup = true;
		ep_drop(ss); /* HUP stays: no more epoll for it */
	}
	pump(ss);
}

static void pump_all(void)
{
	struct shim_sock *ss, *next;

	for (ss = shim.socks; ss != NULL; ss = next) {
		ss->refs++;
		pump(ss);
		next = ss->next;
		shim_sock_put_locked(ss);
	}
}

static void *relay_main(void *arg)
{
	struct epoll_event evs[64];
	struct rsk_call *call;
	uint64_t v;
	int n;

	for (;;) {
		n = epoll_wait(shim.ep, evs, 64, -1);
		if (n < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&shim.mu);
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &conn_tag) {
				while ((call = rsk_conn_next_done(shim.conn)))
					op_done(rsk_call_arg(call));
			} else if (p == &wake_tag) {
				if (read(shim.wake_fd, &v, sizeof(v)) < 0) {
					/* EAGAIN: another wake took it */
				}
				pump_all();
			} else {
				sock_event(p, evs[i].events);
			}
		}
		while (shim.dead != NULL) {
			struct shim_sock *ss = shim.dead;

			shim.dead = ss->dead_next;
			shim_sock_put_locked(ss);
		}
		pthread_mutex_unlock(&shim.mu);
	}
	return arg;
}

int shim_relay_start(void)
{
	struct epoll_event e = {.events = EPOLLIN};

	shim.ep = shim_fd_own(epoll_create1(EPOLL_CLOEXEC));
	/* eventfd() is __wrap_eventfd() in the shim: its own already. */
	shim.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (shim.ep < 0 || shim.wake_fd < 0)
		return -errno;
	e.data.ptr = &conn_tag;
	if (epoll_ctl(shim.ep, EPOLL_CTL_ADD, rsk_conn_event_fd(shim.conn),
		      &e) < 0)
		return -errno;
	e.data.ptr = &wake_tag;
	if (epoll_ctl(shim.ep, EPOLL_CTL_ADD, shim.wake_fd, &e) < 0)
		return -errno;
	if (pthread_create(&shim.relay, NULL, relay_main, NULL) != 0)
		return -EAGAIN;
	if (pthread_create(&shim.closer, NULL, closer_main, NULL) != 0)
		return -EAGAIN;
	shim.relay_on = true;
	return 0;
}

bool shim_relay_busy(void)
{
	return jobs_n > 0;
}

void shim_relay_forked(void)
{
	jobs = NULL;
	jobs_tail = &jobs;
	jobs_n = 0;
	jobs_cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
}

void shim_relay_exit_note(void)
{
	/* The test hook REMSOCK_TEST_DROP_BYTES (rsk_conn_drop_every()) breaks
	 * the transport by count; the tests read how often it came back. */
	if (getenv("REMSOCK_TEST_DROP_BYTES") != NULL)
		shim_debug("transport re-established %llu times",
			   (unsigned long long)rsk_conn_reconnects(shim.conn));
}
