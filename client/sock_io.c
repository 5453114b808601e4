/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Data on sockets: send, receive with read-ahead, poll.
 *
 * Send: a socket's Sends carry the stream offset of their first byte
 * (tx_off).  A blocking send of many bytes is cut into chunks that are in
 * flight together (the proxy answers each once all of it is in the TX
 * ring); afterwards tx_off is the highest offset any of them reached.
 * Sends are re-issued after a reconnect, and the proxy skips the bytes it
 * has already: each byte goes out once.
 *
 * Receive: a stream socket keeps a read-ahead buffer.  recv() copies from
 * it; when it is empty, one ReceiveBatch asks for this socket and for every
 * other connected stream socket of the connection whose buffer is empty and
 * that has no Receive in flight, each with consumed_offset = rx_next (the
 * bytes it holds): after a reconnect the re-issued batch gets the same bytes
 * again, so a reply lost with the transport loses nothing.  The batch
 * returns as soon as one socket has data, EOF or an error, and fills every
 * socket's buffer that got some.  UDP receives go one by one (datagrams
 * keep their boundaries and sources).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sock_pvt.h"

#define SEND_CHUNK (256u << 10) /* bytes per Send */
#define SEND_PIPE 8u		/* Sends in flight per send() */
#define RA_CHUNK (64u << 10)	/* read-ahead per socket and batch */
#define RA_MAX (1u << 20)	/* the proxy's Receive maximum */
#define RA_SOCKS 64u		/* sockets per ReceiveBatch */

/* ---- send --------------------------------------------------------------- */

static int send_start(struct rsk_call *call, struct rsk_sock *s,
		      const uint8_t *p, size_t len, int64_t off, double tmo,
		      const Remsock__AddressPort *to)
{
	Remsock__SendRequest req = REMSOCK__SEND_REQUEST__INIT;

	req.socket_descriptor = s->desc;
	req.data.data = (uint8_t *)p;
	req.data.len = len;
	req.stream_offset = off;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = tmo;
	req.send_to = (Remsock__AddressPort *)to;
	return rskp_call_start_msg(call, "Send", &req.base,
				   s->stream ? RSK_CALL_RETRY : 0);
}

/* The bytes the socket has after a finished Send at @p off; or a negative
 * errno. */
static int64_t send_result(struct rsk_call *call, int64_t off)
{
	Remsock__SendReply *r;
	int64_t end;
	int rc;

	r = (void *)rskp_call_unpack(call, &remsock__send_reply__descriptor,
				     &rc);
	if (r == NULL)
		return rc;
	end = off + (r->has_data_sent ? r->data_sent : 0);
	remsock__send_reply__free_unpacked(r, NULL);
	return end;
}

/* Send [p, p + len) from tx_off, up to SEND_PIPE chunks in flight (one
 * when non-blocking).  @return bytes taken, or -1 with errno. */
static ssize_t stream_send(struct rsk_sock *s, const uint8_t *p, size_t len,
			   bool nb)
{
	struct rsk_call *calls[SEND_PIPE] = {NULL};
	int64_t offs[SEND_PIPE], lens[SEND_PIPE], off0, hi, end;
	unsigned head = 0, n = 0, pipe = nb ? 1 : SEND_PIPE;
	size_t issued = 0;
	double tmo;
	int err = 0;

	pthread_mutex_lock(&s->tx_mu);
	if (s->wr_shut) {
		pthread_mutex_unlock(&s->tx_mu);
		return rskp_fail(EPIPE);
	}
	rskp_tab_lock();
	tmo = rskp_timeout(s, nb, false);
	rskp_tab_unlock();
	off0 = hi = s->tx_off;
	for (;;) {
		/* Keep the pipe full until an error or a short Send. */
		while (err == 0 && n < pipe && issued < len) {
			unsigned i = (head + n) % SEND_PIPE;
			size_t chunk = len - issued < SEND_CHUNK ? len - issued
								 : SEND_CHUNK;

			if (calls[i] == NULL &&
			    (calls[i] = rsk_call_new(s->conn)) == NULL) {
				err = ENOMEM;
				break;
			}
			rsk_call_reset(calls[i]);
			offs[i] = off0 + (int64_t)issued;
			lens[i] = (int64_t)chunk;
			err = -send_start(calls[i], s, p + issued, chunk,
					  offs[i], tmo, NULL);
			if (err != 0)
				break;
			issued += chunk;
			n++;
		}
		if (n == 0)
			break;
		end = rsk_call_check_success(calls[head]) < 0
			  ? rskp_call_result(calls[head])
			  : send_result(calls[head], offs[head]);
		if (end < 0 && err == 0)
			err = (int)-end;
		if (end > hi)
			hi = end;
		if (end >= 0 && end < offs[head] + lens[head] && err == 0)
			err = EAGAIN; /* short (non-blocking, or SO_SNDTIMEO) */
		head = (head + 1) % SEND_PIPE;
		n--;
	}
	for (unsigned i = 0; i < SEND_PIPE; i++)
		rsk_call_free(calls[i]);
	s->tx_off = hi;
	pthread_mutex_unlock(&s->tx_mu);
	if (hi > off0 || len == 0)
		return (ssize_t)(hi - off0);
	return rskp_fail(err != 0 ? err : EAGAIN);
}

static ssize_t dgram_send(struct rsk_sock *s, const uint8_t *p, size_t len,
			  bool nb, const struct sockaddr *to, socklen_t tolen)
{
	Remsock__AddressPort ap;
	struct rsk_call *call;
	uint8_t ip[16];
	int64_t end;
	int rc = 0;

	if (to != NULL)
		rc = rskp_addr_to_wire(to, tolen, &ap, ip);
	if (rc < 0)
		return rskp_fail(-rc);
	call = rsk_call_new(s->conn);
	if (call == NULL)
		return rskp_fail(ENOMEM);
	rskp_tab_lock();
	double tmo = rskp_timeout(s, nb, false);
	rskp_tab_unlock();
	rc = send_start(call, s, p, len, 0, tmo, to != NULL ? &ap : NULL);
	end = rc < 0				 ? rc
	      : rsk_call_check_success(call) < 0 ? rskp_call_result(call)
						 : send_result(call, 0);
	rsk_call_free(call);
	return end < 0 ? rskp_fail((int)-end) : (ssize_t)end;
}

ssize_t rsk_sendto(int fd, const void *buf, size_t len, int flags,
		   const struct sockaddr *addr, socklen_t alen)
{
	struct rsk_sock *s = rskp_sock_get(fd);
	bool nb = flags & MSG_DONTWAIT;
	ssize_t n;

	if (s == NULL)
		return -1;
	if (flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL))
		n = rskp_fail(EOPNOTSUPP);
	else if (buf == NULL && len > 0)
		n = rskp_fail(EFAULT);
	else if (s->stream)
		n = addr != NULL ? rskp_fail(EISCONN)
				 : stream_send(s, buf, len, nb);
	else
		n = dgram_send(s, buf, len, nb, addr, alen);
	rskp_sock_put(s);
	return n;
}

ssize_t rsk_send(int fd, const void *buf, size_t len, int flags)
{
	return rsk_sendto(fd, buf, len, flags, NULL, 0);
}

/* ---- read-ahead --------------------------------------------------------- */

/* Room for @p more bytes after the buffered ones.  @return 0 or -ENOMEM. */
static int rx_room(struct rsk_sock *s, size_t more)
{
	uint8_t *b;
	size_t cap;

	if (s->rx_pos > 0 && s->rx_len > 0)
		memmove(s->rx_buf, s->rx_buf + s->rx_pos, s->rx_len);
	s->rx_pos = 0;
	if (s->rx_len + more <= s->rx_cap)
		return 0;
	cap = s->rx_len + more;
	b = realloc(s->rx_buf, cap);
	if (b == NULL)
		return -ENOMEM;
	s->rx_buf = b;
	s->rx_cap = cap;
	return 0;
}

/* One entry of a ReceiveBatch reply into its socket (table lock held). */
static void rx_apply(struct rsk_sock *s, const Remsock__ReceiveBatchEntry *e)
{
	const Remsock__ReceiveReply *r = e->reply;
	int err;

	if (r == NULL) {
		err = rsk_errno_from_error(
		    0, e->has_application_error ? e->application_error : 0,
		    e->error != NULL ? e->error->system_error : 0);
		if (err != EAGAIN)
			s->rx_err = err != 0 ? err : EIO;
		return;
	}
	if (!r->has_data || r->data.len == 0) {
		s->rx_eof = true;
		return;
	}
	if (!r->has_stream_offset || r->stream_offset != s->rx_next) {
		s->rx_err =
		    EPROTO; /* a hole or an overlap: never hand it out */
		return;
	}
	if (rx_room(s, r->data.len) < 0) {
		s->rx_err = ENOMEM;
		return;
	}
	memcpy(s->rx_buf + s->rx_len, r->data.data, r->data.len);
	s->rx_len += r->data.len;
	s->rx_next += (int64_t)r->data.len;
}

/* Whether @p o may join a batch made for another socket (lock held). */
static bool ra_eligible(const struct rsk_sock *o, const struct rsk_conn *c)
{
	return o->conn == c && o->stream && o->connected && !o->rx_busy &&
	       o->rx_len == 0 && !o->rx_eof && o->rx_err == 0 && !o->rd_shut;
}

/* The sockets of one batch: @p s first (table lock held; each held). */
static unsigned ra_collect(struct rsk_sock *s, struct rsk_sock **v)
{
	unsigned n = 0;

	v[n++] = s;
	for (int fd = 0; fd < rskp_tab_size() && n < RA_SOCKS; fd++) {
		struct rsk_sock *o = rskp_sock_peek(fd);

		if (o != NULL && o != s && ra_eligible(o, s->conn))
			v[n++] = o;
	}
	for (unsigned i = 0; i < n; i++) {
		v[i]->rx_busy = true;
		rskp_sock_hold(v[i]);
	}
	return n;
}

/*
 * Fetch into @p s's buffer (and the others' of the batch), waiting up to
 * @p tmo seconds (negative: no limit).  Called and returns with the table
 * lock held; drops it during the call.
 *
 * @return 0 (something happened to @p s: data, EOF or an error noted),
 *   -EAGAIN (nothing for @p s yet), or a negative errno of the call.
 */
static int ra_fetch(struct rsk_sock *s, size_t want, double tmo)
{
	Remsock__ReceiveBatchRequest req = REMSOCK__RECEIVE_BATCH_REQUEST__INIT;
	Remsock__ReceiveRequest rr[RA_SOCKS], *rp[RA_SOCKS];
	Remsock__ReceiveBatchReply *rep = NULL;
	struct rsk_sock *v[RA_SOCKS];
	unsigned n = ra_collect(s, v);
	size_t first = want < RA_CHUNK ? RA_CHUNK
		       : want > RA_MAX ? RA_MAX
				       : want;
	int rc;

	for (unsigned i = 0; i < n; i++) {
		remsock__receive_request__init(&rr[i]);
		rr[i].socket_descriptor = v[i]->desc;
		rr[i].data_size = (int32_t)(i == 0 ? first : RA_CHUNK);
		rr[i].has_consumed_offset = 1;
		rr[i].consumed_offset = v[i]->rx_next;
		rp[i] = &rr[i];
	}
	req.n_receives = n;
	req.receives = rp;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = tmo;
	rskp_tab_unlock();
	rc = rskp_call_sync(s->conn, "ReceiveBatch", &req.base,
			    &remsock__receive_batch_reply__descriptor,
			    (ProtobufCMessage **)&rep, RSK_CALL_RETRY, NULL);
	rskp_tab_lock();
	if (rc == 0 && rep->n_entries != n)
		rc = -EPROTO;
	for (unsigned i = 0; i < n; i++) {
		if (rc == 0 && !v[i]->closed)
			rx_apply(v[i], rep->entries[i]);
		v[i]->rx_busy = false;
	}
	if (rc == 0 && s->rx_len == 0 && !s->rx_eof && s->rx_err == 0)
		rc = -EAGAIN;
	for (unsigned i = 0; i < n; i++) /* s keeps the caller's */
		rskp_sock_put_locked(v[i]);
	rskp_rx_wake();
	if (rep != NULL)
		remsock__receive_batch_reply__free_unpacked(rep, NULL);
	return rc;
}

static void deadline_of(struct timespec *ts, double secs)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)secs;
	ts->tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static double seconds_left(const struct timespec *until)
{
	struct timespec now;
	double left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (double)(until->tv_sec - now.tv_sec) +
	       (double)(until->tv_nsec - now.tv_nsec) / 1e9;
	return left > 0 ? left : 0;
}

/* Copy out of the buffer (lock held).  @return bytes copied. */
static size_t rx_take(struct rsk_sock *s, uint8_t *p, size_t len, bool peek)
{
	size_t n = len < s->rx_len ? len : s->rx_len;

	memcpy(p, s->rx_buf + s->rx_pos, n);
	if (!peek) {
		s->rx_pos += n;
		s->rx_len -= n;
		if (s->rx_len == 0)
			s->rx_pos = 0;
	}
	return n;
}

/* The next step of a stream recv once the buffer is empty (lock held):
 * 1 to go on, 0 to return what was got, or a negative errno. */
static int rx_step(struct rsk_sock *s, size_t want, double tmo,
		   const struct timespec *until)
{
	int err;

	if (s->rx_err != 0) {
		err = s->rx_err;
		s->rx_err = 0;
		return -err;
	}
	if (s->rx_eof || s->rd_shut)
		return 0;
	if (s->closed)
		return -EBADF;
	if (s->rx_busy) { /* another thread's batch covers it: wait */
		if (tmo == 0 || !rskp_rx_wait(tmo < 0 ? NULL : until))
			return -EAGAIN;
		return 1;
	}
	if (tmo > 0)
		tmo = seconds_left(until);
	err = ra_fetch(s, want, tmo);
	if (err == -EAGAIN && tmo < 0)
		return 1; /* other sockets' data ended the batch */
	if (err == -EAGAIN && tmo > 0 && seconds_left(until) > 0)
		return 1;
	return err < 0 ? err : 1;
}

static ssize_t stream_recv(struct rsk_sock *s, uint8_t *p, size_t len,
			   int flags)
{
	bool peek = flags & MSG_PEEK, all = (flags & MSG_WAITALL) && !peek;
	struct timespec until;
	size_t got = 0;
	double tmo;
	int rc = 1;

	rskp_tab_lock();
	tmo = rskp_timeout(s, flags & MSG_DONTWAIT, true);
	if (tmo > 0)
		deadline_of(&until, tmo);
	while (got < len) {
		if (s->rx_len > 0) {
			got += rx_take(s, p + got, len - got, peek);
			if (!all)
				break;
			continue;
		}
		if (got > 0 && !all)
			break;
		rc = rx_step(s, len - got, tmo, &until);
		if (rc <= 0)
			break;
	}
	rskp_tab_unlock();
	if (got > 0 || rc == 0 || len == 0)
		return (ssize_t)got;
	return rskp_fail(-rc);
}

static ssize_t dgram_recv(struct rsk_sock *s, uint8_t *p, size_t len, int flags,
			  struct sockaddr *from, socklen_t *flen)
{
	Remsock__ReceiveRequest req = REMSOCK__RECEIVE_REQUEST__INIT;
	Remsock__ReceiveReply *rep = NULL;
	size_t n;
	int rc;

	req.socket_descriptor = s->desc;
	req.data_size = (int32_t)(len == 0 ? 1 : len > RA_MAX ? RA_MAX : len);
	req.has_flags = (flags & MSG_PEEK) != 0;
	req.flags = REMSOCK__RECEIVE_REQUEST__FLAGS__MSG_PEEK;
	req.has_timeout_seconds = 1;
	rskp_tab_lock();
	req.timeout_seconds = rskp_timeout(s, flags & MSG_DONTWAIT, true);
	rskp_tab_unlock();
	rc = rskp_call_sync(s->conn, "Receive", &req.base,
			    &remsock__receive_reply__descriptor,
			    (ProtobufCMessage **)&rep, RSK_CALL_RETRY, NULL);
	if (rc < 0)
		return rskp_fail(-rc);
	n = rep->has_data ? rep->data.len : 0;
	n = n < len ? n : len;
	if (n > 0)
		memcpy(p, rep->data.data, n);
	rskp_addr_from_wire(rep->received_from, from, flen);
	remsock__receive_reply__free_unpacked(rep, NULL);
	return (ssize_t)n;
}

ssize_t rsk_recvfrom(int fd, void *buf, size_t len, int flags,
		     struct sockaddr *addr, socklen_t *alen)
{
	struct rsk_sock *s = rskp_sock_get(fd);
	ssize_t n;

	if (s == NULL)
		return -1;
	if (flags & ~(MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL | MSG_NOSIGNAL))
		n = rskp_fail(EOPNOTSUPP);
	else if (buf == NULL && len > 0)
		n = rskp_fail(EFAULT);
	else if (s->stream) {
		n = stream_recv(s, buf, len, flags);
		if (n >= 0 && addr != NULL && alen != NULL &&
		    rsk_getpeername(fd, addr, alen) < 0)
			*alen = 0;
	} else {
		n = dgram_recv(s, buf, len, flags, addr, alen);
	}
	rskp_sock_put(s);
	return n;
}

ssize_t rsk_recv(int fd, void *buf, size_t len, int flags)
{
	return rsk_recvfrom(fd, buf, len, flags, NULL, NULL);
}

/* ---- poll --------------------------------------------------------------- */

/* What the library itself knows is ready (lock held). */
static short local_events(const struct rsk_sock *s, short want)
{
	short ev = 0;

	if ((want & (POLLIN | POLLRDNORM)) &&
	    (s->rx_len > 0 || s->rx_eof || s->rx_err != 0))
		ev |= want & (POLLIN | POLLRDNORM);
	if (s->rx_err != 0)
		ev |= POLLERR;
	return ev;
}

/* Fill @p ev for the handles that exist; @return their connection, NULL
 * with *bad set when they are on different ones, and the count locally
 * ready in *ready. */
static struct rsk_conn *poll_prepare(struct pollfd *fds, nfds_t nfds,
				     Remsock__PollEvent *ev,
				     Remsock__PollEvent **evp, size_t *nev,
				     int *ready, bool *bad)
{
	struct rsk_conn *c = NULL;

	*nev = 0;
	*ready = 0;
	*bad = false;
	rskp_tab_lock();
	for (nfds_t i = 0; i < nfds; i++) {
		struct rsk_sock *s = rskp_sock_peek(fds[i].fd);

		fds[i].revents = 0;
		if (fds[i].fd < 0)
			continue;
		if (s == NULL) {
			fds[i].revents = POLLNVAL;
			(*ready)++;
			continue;
		}
		if (c != NULL && s->conn != c)
			*bad = true;
		c = s->conn;
		fds[i].revents = local_events(s, fds[i].events);
		*ready += fds[i].revents != 0;
		remsock__poll_event__init(&ev[*nev]);
		ev[*nev].socket_descriptor = strdup(s->desc);
		ev[*nev].requested_events = rskp_poll_to_wire(fds[i].events);
		evp[*nev] = &ev[*nev];
		(*nev)++;
	}
	rskp_tab_unlock();
	return c;
}

int rsk_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	Remsock__PollRequest req = REMSOCK__POLL_REQUEST__INIT;
	Remsock__PollReply *rep = NULL;
	Remsock__PollEvent *ev = calloc(nfds + 1, sizeof(*ev));
	Remsock__PollEvent **evp = calloc(nfds + 1, sizeof(*evp));
	struct rsk_conn *c;
	size_t nev, k = 0;
	int ready, rc = 0;
	bool bad;

	if (ev == NULL || evp == NULL) {
		free(ev);
		free(evp);
		return rskp_fail(ENOMEM);
	}
	c = poll_prepare(fds, nfds, ev, evp, &nev, &ready, &bad);
	if (bad)
		rc = -EINVAL;
	else if (nev > 0) {
		req.events = evp;
		req.n_events = nev;
		req.has_timeout_seconds = 1;
		req.timeout_seconds = ready > 0	       ? 0
				      : timeout_ms < 0 ? -1
						       : timeout_ms / 1000.0;
		rc = rskp_call_sync(
		    c, "Poll", &req.base, &remsock__poll_reply__descriptor,
		    (ProtobufCMessage **)&rep, RSK_CALL_RETRY, NULL);
	}
	if (rc == 0 && rep != NULL && rep->n_events != nev)
		rc = -EPROTO;
	for (nfds_t i = 0; rc == 0 && rep != NULL && i < nfds; i++) {
		if (fds[i].fd < 0 || fds[i].revents == POLLNVAL)
			continue;
		if (fds[i].revents == 0 && rep->events[k]->observed_events != 0)
			ready++;
		fds[i].revents |= (short)rskp_poll_from_wire(
		    rep->events[k++]->observed_events);
	}
	for (size_t i = 0; i < nev; i++)
		free(ev[i].socket_descriptor);
	free(ev);
	free(evp);
	if (rep != NULL)
		remsock__poll_reply__free_unpacked(rep, NULL);
	return rc < 0 ? rskp_fail(-rc) : ready;
}
