/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * BSD-like sockets on the remote socket service: the handle table and the
 * calls that set a socket up, name it, set its options and tear it down.
 * Data (send, recv, poll) is in sock_io.c.
 *
 * Which calls are re-issued after a reconnect (RSK_CALL_RETRY): those that
 * do the same when done twice -- names, options, ShutDown, Close (a second
 * Close is quietly taken; an older proxy's EBADF counts as success too)
 * -- but not CreateSocket, Bind,
 * Listen, Connect or Accept, which fail with ECONNRESET instead.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "sock_pvt.h"

#define M(name) #name
#define AF(name) REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__##name
#define PROTO(name) REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_PROTOCOL__##name

static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rx_cv = PTHREAD_COND_INITIALIZER;
static pthread_once_t rx_cv_once = PTHREAD_ONCE_INIT;
static struct rsk_sock **tab;
static int tab_cap;

/* ---- the table ---------------------------------------------------------- */

static void rx_cv_init(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rx_cv, &ca);
	pthread_condattr_destroy(&ca);
}

void rskp_tab_lock(void)
{
	pthread_once(&rx_cv_once, rx_cv_init);
	pthread_mutex_lock(&tab_mu);
}

void rskp_tab_unlock(void)
{
	pthread_mutex_unlock(&tab_mu);
}

bool rskp_rx_wait(const struct timespec *until)
{
	if (until == NULL) {
		pthread_cond_wait(&rx_cv, &tab_mu);
		return true;
	}
	return pthread_cond_timedwait(&rx_cv, &tab_mu, until) != ETIMEDOUT;
}

void rskp_rx_wake(void)
{
	pthread_cond_broadcast(&rx_cv);
}

int rskp_fail(int err)
{
	errno = err;
	return -1;
}

struct rsk_sock *rskp_sock_peek(int fd)
{
	return fd >= 0 && fd < tab_cap ? tab[fd] : NULL;
}

int rskp_tab_size(void)
{
	return tab_cap;
}

void rskp_sock_hold(struct rsk_sock *s)
{
	s->refs++;
}

struct rsk_sock *rskp_sock_get(int fd)
{
	struct rsk_sock *s;

	rskp_tab_lock();
	s = rskp_sock_peek(fd);
	if (s != NULL)
		s->refs++;
	rskp_tab_unlock();
	if (s == NULL)
		errno = EBADF;
	return s;
}

static void sock_free(struct rsk_sock *s)
{
	pthread_mutex_destroy(&s->tx_mu);
	free(s->rx_buf);
	free(s->desc);
	free(s);
}

void rskp_sock_put_locked(struct rsk_sock *s)
{
	if (--s->refs == 0)
		sock_free(s);
}

void rskp_sock_put(struct rsk_sock *s)
{
	rskp_tab_lock();
	rskp_sock_put_locked(s);
	rskp_tab_unlock();
}

/* A handle for a new socket of descriptor @p desc (taken); -1 (errno). */
static int sock_add(struct rsk_conn *c, char *desc, bool stream, bool nb)
{
	struct rsk_sock *s = calloc(1, sizeof(*s)), **t;
	int fd;

	if (s == NULL) {
		free(desc);
		return rskp_fail(ENOMEM);
	}
	s->conn = c;
	s->desc = desc;
	s->stream = stream;
	s->nonblock = nb;
	s->refs = 1;
	s->rcvtimeo = s->sndtimeo = -1;
	pthread_mutex_init(&s->tx_mu, NULL);
	rskp_tab_lock();
	for (fd = 0; fd < tab_cap && tab[fd] != NULL; fd++)
		;
	if (fd == tab_cap) {
		int cap = tab_cap ? tab_cap * 2 : 64;

		t = realloc(tab, (size_t)cap * sizeof(*t));
		if (t == NULL) {
			rskp_tab_unlock();
			sock_free(s);
			return rskp_fail(ENOMEM);
		}
		memset(t + tab_cap, 0, (size_t)(cap - tab_cap) * sizeof(*t));
		tab = t;
		tab_cap = cap;
	}
	tab[fd] = s;
	rskp_tab_unlock();
	return fd;
}

/* ---- addresses ---------------------------------------------------------- */

/* An AF_INET6 address goes as its 16 bytes: the proxy takes IPv4-mapped
 * ones (::ffff:a.b.c.d) and :: on any socket, and answers an AF_INET6
 * socket in 16 bytes too. */
int rskp_addr_to_wire(const struct sockaddr *sa, socklen_t len,
		      Remsock__AddressPort *ap, uint8_t ip[16])
{
	const struct sockaddr_in *in = (const void *)sa;
	const struct sockaddr_in6 *in6 = (const void *)sa;

	if (sa == NULL || len < sizeof(sa_family_t))
		return -EINVAL;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (len < (sa->sa_family == AF_INET ? sizeof(*in) : sizeof(*in6)))
		return -EINVAL;
	remsock__address_port__init(ap);
	ap->has_packed_address = 1;
	ap->packed_address.data = ip;
	if (sa->sa_family == AF_INET) {
		ap->port = ntohs(in->sin_port);
		memcpy(ip, &in->sin_addr, 4);
		ap->packed_address.len = 4;
	} else {
		ap->port = ntohs(in6->sin6_port);
		memcpy(ip, &in6->sin6_addr, 16);
		ap->packed_address.len = 16;
	}
	return 0;
}

void rskp_addr_from_wire(const Remsock__AddressPort *ap, struct sockaddr *sa,
			 socklen_t *len)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	bool v6 = ap != NULL && ap->has_packed_address &&
		  ap->packed_address.len == 16;

	if (sa == NULL || len == NULL)
		return;
	if (v6) {
		in6.sin6_port = htons((uint16_t)ap->port);
		memcpy(&in6.sin6_addr, ap->packed_address.data, 16);
		memcpy(sa, &in6, *len < sizeof(in6) ? *len : sizeof(in6));
		*len = sizeof(in6);
		return;
	}
	if (ap != NULL) {
		in.sin_port = htons((uint16_t)ap->port);
		if (ap->has_packed_address && ap->packed_address.len == 4)
			memcpy(&in.sin_addr, ap->packed_address.data, 4);
	}
	memcpy(sa, &in, *len < sizeof(in) ? *len : sizeof(in));
	*len = sizeof(in);
}

double rskp_timeout(const struct rsk_sock *s, bool nonblock, bool rcv)
{
	if (nonblock || s->nonblock)
		return 0;
	return rcv ? s->rcvtimeo : s->sndtimeo;
}

/* ---- creating ----------------------------------------------------------- */

int rsk_socket(int domain, int type, int protocol)
{
	struct rsk_conn *c = rsk_default_conn();

	return c != NULL ? rsk_socket_on(c, domain, type, protocol) : -1;
}

int rsk_socket_on(struct rsk_conn *conn, int domain, int type, int protocol)
{
	Remsock__CreateSocketRequest req = REMSOCK__CREATE_SOCKET_REQUEST__INIT;
	Remsock__CreateSocketReply *rep = NULL;
	int kind = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	bool stream = kind == SOCK_STREAM;
	char *desc = NULL;
	int rc;

	if (domain != AF_INET && domain != AF_INET6)
		return rskp_fail(EAFNOSUPPORT);
	if (kind != SOCK_STREAM && kind != SOCK_DGRAM)
		return rskp_fail(ESOCKTNOSUPPORT);
	if (protocol != 0 && protocol != (stream ? IPPROTO_TCP : IPPROTO_UDP))
		return rskp_fail(EPROTONOSUPPORT);
	req.family = domain == AF_INET ? AF(IPv4) : AF(IPv6);
	req.protocol = stream ? PROTO(TCP) : PROTO(UDP);
	rc = rskp_call_sync(conn, M(CreateSocket), &req.base,
			    &remsock__create_socket_reply__descriptor,
			    (ProtobufCMessage **)&rep, 0, NULL);
	if (rc < 0)
		return rskp_fail(-rc);
	if (rep->socket_descriptor == NULL) {
		remsock__create_socket_reply__free_unpacked(rep, NULL);
		return rskp_fail(EPROTO);
	}
	desc = strdup(rep->socket_descriptor);
	remsock__create_socket_reply__free_unpacked(rep, NULL);
	if (desc == NULL)
		return rskp_fail(ENOMEM);
	return sock_add(conn, desc, stream, type & SOCK_NONBLOCK);
}

/* ---- the simple calls --------------------------------------------------- */

/* A call on socket @p fd's descriptor: fills the request's descriptor
 * field (the first field of every request) and runs it.  @return 0, or -1
 * with errno. */
static int sock_call(struct rsk_sock *s, const char *method,
		     ProtobufCMessage *req, char **desc_field,
		     const ProtobufCMessageDescriptor *rdesc,
		     ProtobufCMessage **rep, unsigned flags, bool *reissued)
{
	struct rsk_call *call = rsk_call_new(s->conn);
	int rc;

	if (call == NULL)
		return rskp_fail(ENOMEM);
	*desc_field = s->desc;
	rc = rskp_call_start_msg(call, method, req, flags);
	if (rc == 0)
		rc = rsk_call_check_success(call);
	if (rc == 0 && rdesc != NULL)
		*rep = rskp_call_unpack(call, rdesc, &rc);
	if (reissued != NULL)
		*reissued = rsk_call_reissued(call);
	rsk_call_free(call);
	return rc < 0 ? rskp_fail(-rc) : 0;
}

int rsk_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	Remsock__BindRequest req = REMSOCK__BIND_REQUEST__INIT;
	Remsock__AddressPort ap;
	struct rsk_sock *s = rskp_sock_get(fd);
	uint8_t ip[16];
	int rc;

	if (s == NULL)
		return -1;
	rc = rskp_addr_to_wire(addr, len, &ap, ip);
	req.proxy_external_ip = &ap;
	rc = rc < 0 ? rskp_fail(-rc)
		    : sock_call(s, M(Bind), &req.base, &req.socket_descriptor,
				NULL, NULL, 0, NULL);
	rskp_sock_put(s);
	return rc;
}

int rsk_listen(int fd, int backlog)
{
	Remsock__ListenRequest req = REMSOCK__LISTEN_REQUEST__INIT;
	struct rsk_sock *s = rskp_sock_get(fd);
	int rc;

	if (s == NULL)
		return -1;
	req.backlog = backlog > 0 ? backlog : 1;
	rc = sock_call(s, M(Listen), &req.base, &req.socket_descriptor, NULL,
		       NULL, 0, NULL);
	rskp_sock_put(s);
	return rc;
}

int rsk_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	Remsock__ConnectRequest req = REMSOCK__CONNECT_REQUEST__INIT;
	Remsock__AddressPort ap;
	struct rsk_sock *s = rskp_sock_get(fd);
	uint8_t ip[16];
	int rc;

	if (s == NULL)
		return -1;
	rc = rskp_addr_to_wire(addr, len, &ap, ip);
	req.remote_ip = &ap;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = rskp_timeout(s, false, false);
	rc = rc < 0 ? rskp_fail(-rc)
		    : sock_call(s, M(Connect), &req.base,
				&req.socket_descriptor, NULL, NULL, 0, NULL);
	/* A second connect after EINPROGRESS reports EISCONN when done. */
	if (rc == 0 || (errno == EISCONN && !s->connected)) {
		rskp_tab_lock();
		rc = s->connected ? rc : 0;
		s->connected = true;
		rskp_tab_unlock();
	}
	rskp_sock_put(s);
	return rc;
}

int rsk_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	Remsock__AcceptRequest req = REMSOCK__ACCEPT_REQUEST__INIT;
	Remsock__AcceptReply *rep = NULL;
	struct rsk_sock *s = rskp_sock_get(fd), *ns;
	char *desc = NULL;
	int rc;

	if (s == NULL)
		return -1;
	req.has_timeout_seconds = 1;
	req.timeout_seconds = rskp_timeout(s, false, true);
	rc = sock_call(s, M(Accept), &req.base, &req.socket_descriptor,
		       &remsock__accept_reply__descriptor,
		       (ProtobufCMessage **)&rep, 0, NULL);
	if (rc == 0) {
		if (rep->has_new_socket_descriptor)
			desc = strndup(
			    (const char *)rep->new_socket_descriptor.data,
			    rep->new_socket_descriptor.len);
		rskp_addr_from_wire(rep->remote_address, addr, len);
		remsock__accept_reply__free_unpacked(rep, NULL);
		rc = desc != NULL ? sock_add(s->conn, desc, true, false)
				  : rskp_fail(EPROTO);
	}
	if (rc >= 0) {
		rskp_tab_lock();
		ns = rskp_sock_peek(rc);
		ns->connected = true;
		rskp_tab_unlock();
	}
	rskp_sock_put(s);
	return rc;
}

int rsk_shutdown(int fd, int how)
{
	Remsock__ShutDownRequest req = REMSOCK__SHUT_DOWN_REQUEST__INIT;
	struct rsk_sock *s = rskp_sock_get(fd);
	int rc;

	if (s == NULL)
		return -1;
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) {
		rskp_sock_put(s);
		return rskp_fail(EINVAL);
	}
	/* SHUT_RD=0, SHUT_WR=1, SHUT_RDWR=2; the wire counts from 1. */
	req.how = (Remsock__ShutDownRequest__How)(how + 1);
	pthread_mutex_lock(&s->tx_mu);
	req.send_offset = s->stream ? s->tx_off : 0;
	rc = sock_call(s, M(ShutDown), &req.base, &req.socket_descriptor, NULL,
		       NULL, RSK_CALL_RETRY, NULL);
	if (rc == 0 && how != SHUT_RD)
		s->wr_shut = true;
	pthread_mutex_unlock(&s->tx_mu);
	if (rc == 0 && how != SHUT_WR) {
		rskp_tab_lock();
		s->rd_shut = true;
		rskp_rx_wake();
		rskp_tab_unlock();
	}
	rskp_sock_put(s);
	return rc;
}

int rsk_close(int fd)
{
	Remsock__CloseRequest req = REMSOCK__CLOSE_REQUEST__INIT;
	struct rsk_sock *s;
	bool again = false;
	int rc;

	rskp_tab_lock();
	s = rskp_sock_peek(fd);
	if (s != NULL) {
		tab[fd] = NULL; /* the handle is free at once */
		s->closed = true;
		rskp_rx_wake();
	}
	rskp_tab_unlock();
	if (s == NULL)
		return rskp_fail(EBADF);
	pthread_mutex_lock(&s->tx_mu);
	req.has_send_offset = s->stream;
	req.send_offset = s->stream ? s->tx_off : -1;
	rc = sock_call(s, M(Close), &req.base, &req.socket_descriptor, NULL,
		       NULL, RSK_CALL_RETRY, &again);
	pthread_mutex_unlock(&s->tx_mu);
	if (rc < 0 && again && errno == EBADF)
		rc = 0; /* the first Close took effect before the reconnect */
	rskp_sock_put(s);
	return rc;
}

static int name_call(int fd, bool peer, struct sockaddr *addr, socklen_t *len)
{
	Remsock__GetSocketNameRequest nreq =
	    REMSOCK__GET_SOCKET_NAME_REQUEST__INIT;
	Remsock__GetPeerNameRequest preq = REMSOCK__GET_PEER_NAME_REQUEST__INIT;
	ProtobufCMessage *rep = NULL;
	struct rsk_sock *s = rskp_sock_get(fd);
	int rc;

	if (s == NULL)
		return -1;
	if (addr == NULL || len == NULL) {
		rskp_sock_put(s);
		return rskp_fail(EFAULT);
	}
	if (peer)
		rc = sock_call(s, M(GetPeerName), &preq.base,
			       &preq.socket_descriptor,
			       &remsock__get_peer_name_reply__descriptor, &rep,
			       RSK_CALL_RETRY, NULL);
	else
		rc = sock_call(s, M(GetSocketName), &nreq.base,
			       &nreq.socket_descriptor,
			       &remsock__get_socket_name_reply__descriptor,
			       &rep, RSK_CALL_RETRY, NULL);
	if (rc == 0) {
		rskp_addr_from_wire(
		    peer ? ((Remsock__GetPeerNameReply *)rep)->peer_ip
			 : ((Remsock__GetSocketNameReply *)rep)
			       ->proxy_external_ip,
		    addr, len);
		protobuf_c_message_free_unpacked(rep, NULL);
	}
	rskp_sock_put(s);
	return rc;
}

int rsk_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	return name_call(fd, false, addr, len);
}

int rsk_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	return name_call(fd, true, addr, len);
}

/* ---- options ------------------------------------------------------------ */

/* The wire's level for a host level; -1 for none. */
static int opt_level(int level)
{
	switch (level) {
	case SOL_SOCKET:
		return REMSOCK__SOCKET_OPTION__SOCKET_OPTION_LEVEL__SOCKET_SOL_SOCKET;
	case IPPROTO_IP:
		return REMSOCK__SOCKET_OPTION__SOCKET_OPTION_LEVEL__SOCKET_SOL_IP;
	case IPPROTO_TCP:
		return REMSOCK__SOCKET_OPTION__SOCKET_OPTION_LEVEL__SOCKET_SOL_TCP;
	case IPPROTO_UDP:
		return REMSOCK__SOCKET_OPTION__SOCKET_OPTION_LEVEL__SOCKET_SOL_UDP;
	default:
		return -1;
	}
}

/* SO_RCVTIMEO and SO_SNDTIMEO live here: true when @p name is one. */
static bool opt_local(int level, int name)
{
	return level == SOL_SOCKET &&
	       (name == SO_RCVTIMEO || name == SO_SNDTIMEO);
}

static int timeo_set(struct rsk_sock *s, int name, const void *val,
		     socklen_t len)
{
	struct timeval tv;
	double secs;

	if (val == NULL || len < sizeof(tv))
		return rskp_fail(EINVAL);
	memcpy(&tv, val, sizeof(tv));
	if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
		return rskp_fail(EDOM);
	secs = (double)tv.tv_sec + tv.tv_usec / 1e6;
	rskp_tab_lock();
	*(name == SO_RCVTIMEO ? &s->rcvtimeo : &s->sndtimeo) =
	    secs > 0 ? secs : -1;
	rskp_tab_unlock();
	return 0;
}

static int timeo_get(struct rsk_sock *s, int name, void *val, socklen_t *len)
{
	struct timeval tv = {0, 0};
	double secs;

	if (val == NULL || len == NULL || *len < sizeof(tv))
		return rskp_fail(EINVAL);
	rskp_tab_lock();
	secs = name == SO_RCVTIMEO ? s->rcvtimeo : s->sndtimeo;
	rskp_tab_unlock();
	if (secs > 0) {
		tv.tv_sec = (time_t)secs;
		tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	}
	memcpy(val, &tv, sizeof(tv));
	*len = sizeof(tv);
	return 0;
}

int rsk_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	Remsock__SetSocketOptionsRequest req =
	    REMSOCK__SET_SOCKET_OPTIONS_REQUEST__INIT;
	Remsock__SocketOption o = REMSOCK__SOCKET_OPTION__INIT, *op = &o;
	struct rsk_sock *s = rskp_sock_get(fd);
	int rc;

	if (s == NULL)
		return -1;
	if (opt_local(level, name))
		rc = timeo_set(s, name, val, len);
	else if (opt_level(level) < 0)
		rc = rskp_fail(ENOPROTOOPT);
	else if (val == NULL || len == 0)
		rc = rskp_fail(EINVAL);
	else {
		o.level =
		    (Remsock__SocketOption__SocketOptionLevel)opt_level(level);
		o.option = (Remsock__SocketOption__SocketOptionName)name;
		o.value.data = (uint8_t *)val;
		o.value.len = len;
		req.n_options = 1;
		req.options = &op;
		rc = sock_call(s, M(SetSocketOptions), &req.base,
			       &req.socket_descriptor, NULL, NULL,
			       RSK_CALL_RETRY, NULL);
	}
	rskp_sock_put(s);
	return rc;
}

int rsk_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	Remsock__GetSocketOptionsRequest req =
	    REMSOCK__GET_SOCKET_OPTIONS_REQUEST__INIT;
	Remsock__SocketOption o = REMSOCK__SOCKET_OPTION__INIT, *op = &o;
	Remsock__GetSocketOptionsReply *rep = NULL;
	struct rsk_sock *s = rskp_sock_get(fd);
	uint8_t zero[16] = {0};
	int rc;

	if (s == NULL)
		return -1;
	if (opt_local(level, name)) {
		rc = timeo_get(s, name, val, len);
	} else if (opt_level(level) < 0) {
		rc = rskp_fail(ENOPROTOOPT);
	} else if (val == NULL || len == NULL) {
		rc = rskp_fail(EFAULT);
	} else {
		o.level =
		    (Remsock__SocketOption__SocketOptionLevel)opt_level(level);
		o.option = (Remsock__SocketOption__SocketOptionName)name;
		o.value.data = zero;
		o.value.len =
		    *len < sizeof(zero) ? (*len < 4 ? 4 : *len) : sizeof(zero);
		req.n_options = 1;
		req.options = &op;
		rc = sock_call(s, M(GetSocketOptions), &req.base,
			       &req.socket_descriptor,
			       &remsock__get_socket_options_reply__descriptor,
			       (ProtobufCMessage **)&rep, RSK_CALL_RETRY, NULL);
		if (rc == 0 && rep->n_options < 1)
			rc = rskp_fail(EPROTO);
		else if (rc == 0) {
			const ProtobufCBinaryData *v = &rep->options[0]->value;

			memcpy(val, v->data, v->len < *len ? v->len : *len);
			*len = (socklen_t)(v->len < *len ? v->len : *len);
		}
		if (rep != NULL)
			remsock__get_socket_options_reply__free_unpacked(rep,
									 NULL);
	}
	rskp_sock_put(s);
	return rc;
}

int rsk_set_nonblock(int fd, bool on)
{
	struct rsk_sock *s = rskp_sock_get(fd);

	if (s == NULL)
		return -1;
	rskp_tab_lock();
	s->nonblock = on;
	rskp_tab_unlock();
	rskp_sock_put(s);
	return 0;
}
