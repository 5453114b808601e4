/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libremsock against a running remsockd, from inside the test namespace.
 * The program is both the library's client and, with Linux's own sockets
 * (threads below), the peers the proxied sockets talk to: an echo server,
 * a closed port, a UDP socket, a client of a proxied listener.
 *
 * Each scenario prints 'check NAME ok' or 'check NAME FAIL: why' lines,
 * which client.sh turns into results; the last line is 'done failures=N'.
 *
 *     rsk_test PROXY PORT PEER APP SECRET
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#include "remsock.h"
#include "remote_socket.pb-c.h"
#include "sha256.h"

static const char *proxy_ip, *peer_ip, *app, *secret, *tls_dir;
static char proxy_addr[64];

/* ---- Linux peers -------------------------------------------------------- */

/* A kernel listener on the peer address: fd and port. */
static int k_listen(int *port)
{
	struct sockaddr_in sa = sin_of(peer_ip, 0);
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, SA(sa), sizeof(sa)) < 0 || listen(fd, 128) < 0)
		return -1;
	getsockname(fd, SA(sa), &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	enum { LEN = 1 << 16 };
	char *b = malloc(LEN);
	ssize_t n;

	while ((n = read(fd, b, LEN)) > 0)
		for (ssize_t off = 0, w; off < n; off += w)
			if ((w = write(fd, b + off, (size_t)(n - off))) <= 0)
				goto out;
out:
	shutdown(fd, SHUT_WR);
	free(b);
	close(fd);
	return NULL;
}

static void *echo_server(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;
	pthread_t t;

	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
	return NULL;
}

static int echo_port;

static void echo_start(void)
{
	pthread_t t;
	int lfd = k_listen(&echo_port);

	pthread_create(&t, NULL, echo_server, (void *)(intptr_t)lfd);
	pthread_detach(t);
}

/* A proxied TCP socket connected to the echo server; -1 on failure. */
static int echo_socket(struct rsk_conn *c)
{
	struct sockaddr_in sa = sin_of(peer_ip, echo_port);
	int fd = rsk_socket_on(c, AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && rsk_connect(fd, SA(sa), sizeof(sa)) < 0) {
		rsk_close(fd);
		return -1;
	}
	return fd;
}

/* recv exactly @p len bytes (MSG_WAITALL); true when they came. */
static bool recv_all(int fd, void *buf, size_t len)
{
	return rsk_recv(fd, buf, len, MSG_WAITALL) == (ssize_t)len;
}

/* ---- scenarios ---------------------------------------------------------- */

static void t_conn(void)
{
	struct rsk_conn_opts o = {
	    .addr = proxy_addr, .app = app, .secret = "wrong-secret-wrong"};
	struct rsk_conn *c;

	errno = 0;
	c = rsk_conn_open(&o);
	check("a wrong secret is refused (EACCES)",
	      c == NULL && errno == EACCES, "c=%p errno=%d", (void *)c, errno);
	check("... and rsk_last_detail() says which app and what to check",
	      strstr(rsk_last_detail(), "refused app '") != NULL &&
		  strstr(rsk_last_detail(), "REMSOCK_SECRET") != NULL,
	      "%s", rsk_last_detail());
	o.secret = NULL;
	o.app = NULL;
	unsetenv("REMSOCK_APP");
	c = rsk_conn_open(&o);
	check("no app id: EINVAL", c == NULL && errno == EINVAL, "errno=%d",
	      errno);
	check("... naming the variable to set",
	      strncmp(rsk_last_detail(), "REMSOCK_APP is not set", 22) == 0,
	      "%s", rsk_last_detail());
	setenv("REMSOCK_APP", app, 1);
	o.addr = "198.18.0.2:70000";
	c = rsk_conn_open(&o);
	check("a port above 65535: EINVAL, and the detail says so",
	      c == NULL && errno == EINVAL &&
		  strstr(rsk_last_detail(), "port '70000'") != NULL,
	      "errno=%d %s", errno, rsk_last_detail());
	o.addr = "198.18.0.2:1";
	o.connect_timeout_ms = 30000; /* a refusal comes at once */
	c = rsk_conn_open(&o);
	check("a port nobody listens on: ECONNREFUSED",
	      c == NULL && errno == ECONNREFUSED, "errno=%d", errno);
	check("... and the detail asks whether remsockd runs there",
	      strstr(rsk_last_detail(), "nothing listens at 198.18.0.2:1") !=
		  NULL,
	      "%s", rsk_last_detail());
	c = rsk_default_conn();
	check("the default connection comes from REMSOCK_ADDR/APP/SECRET",
	      c != NULL, "errno=%d", errno);
}

static void t_stream_calls(struct rsk_conn *c)
{
	struct sockaddr_in sa, want = sin_of(peer_ip, echo_port);
	socklen_t len = sizeof(sa);
	char buf[2048], msg[1000];
	int fd = rsk_socket(AF_INET, SOCK_STREAM, 0), v = 0, rc;
	uint64_t calls;
	struct timeval tv = {0, 300000};
	double t0;
	ssize_t n;

	check("socket() gives a handle", fd >= 0, "errno=%d", errno);
	check("connect() to the Linux echo server",
	      rsk_connect(fd, SA(want), sizeof(want)) == 0, "errno=%d", errno);
	check("getpeername() is the echo server",
	      rsk_getpeername(fd, SA(sa), &len) == 0 &&
		  sa.sin_port == want.sin_port &&
		  sa.sin_addr.s_addr == want.sin_addr.s_addr,
	      "errno=%d port=%d", errno, ntohs(sa.sin_port));
	len = sizeof(sa);
	check("getsockname() is on the proxy's address",
	      rsk_getsockname(fd, SA(sa), &len) == 0 &&
		  sa.sin_addr.s_addr == sin_of(proxy_ip, 0).sin_addr.s_addr &&
		  sa.sin_port != 0,
	      "errno=%d", errno);
	n = rsk_send(fd, "hello", 5, 0);
	check("send() takes the bytes", n == 5, "n=%zd errno=%d", n, errno);
	memset(buf, 0, sizeof(buf));
	check("recv() gets the echo",
	      recv_all(fd, buf, 5) && memcmp(buf, "hello", 5) == 0,
	      "got '%.5s' errno=%d", buf, errno);

	/* Read-ahead: 100 recv()s of 10 bytes cost about one round trip. */
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('a' + i % 26);
	rsk_send(fd, msg, sizeof(msg), 0);
	{ /* until the echo is at the proxy (a Poll that waits for it) */
		struct pollfd p = {.fd = fd, .events = POLLIN};

		check("poll() sees the echo arrive at the proxy",
		      rsk_poll(&p, 1, 60000) == 1 && (p.revents & POLLIN),
		      "revents=%#x errno=%d", p.revents, errno);
	}
	calls = rsk_conn_calls(c);
	n = 0;
	for (int i = 0; i < 100; i++) {
		ssize_t k = rsk_recv(fd, buf + n, 10, 0);

		if (k <= 0)
			break;
		n += k;
		if (n >= (ssize_t)sizeof(msg))
			break;
	}
	calls = rsk_conn_calls(c) - calls;
	/* The echo may come in two segments (the echo server's two reads):
	 * a batch each. */
	check("small recv()s are served from read-ahead (at most 2 calls for "
	      "100 recvs)",
	      n == (ssize_t)sizeof(msg) && memcmp(buf, msg, sizeof(msg)) == 0 &&
		  calls <= 2,
	      "n=%zd calls=%llu", n, (unsigned long long)calls);

	v = 1;
	check("setsockopt(TCP_NODELAY)",
	      rsk_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) == 0,
	      "errno=%d", errno);
	v = 0;
	len = sizeof(v);
	check("getsockopt(TCP_NODELAY) reads it back",
	      rsk_getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 &&
		  v == 1,
	      "v=%d errno=%d", v, errno);
	len = sizeof(v);
	check("getsockopt(SO_TYPE) is SOCK_STREAM",
	      rsk_getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0 &&
		  v == SOCK_STREAM,
	      "v=%d errno=%d", v, errno);
	v = 500;
	rc = rsk_setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof(v));
	v = 0;
	len = sizeof(v);
	check("setsockopt(TCP_MAXSEG), which the proxy keeps without acting "
	      "on (as Linux takes it), reads back",
	      rc == 0 &&
		  rsk_getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, &len) == 0 &&
		  v == 500,
	      "rc=%d v=%d errno=%d", rc, v, errno);
	v = 1;
	check("setsockopt(IP_HDRINCL): ENOPROTOOPT",
	      rsk_setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &v, sizeof(v)) < 0 &&
		  errno == ENOPROTOOPT,
	      "errno=%d", errno);
	check("an unknown level: ENOPROTOOPT",
	      rsk_setsockopt(fd, 99, 1, &v, sizeof(v)) < 0 &&
		  errno == ENOPROTOOPT,
	      "errno=%d", errno);
	rsk_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	t0 = now_s();
	n = rsk_recv(fd, buf, 10, 0);
	t0 = now_s() - t0;
	check("recv() with SO_RCVTIMEO 0.3 s and nothing to read: EAGAIN "
	      "after 0.3 s",
	      n < 0 && errno == EAGAIN && t0 >= 0.28 && t0 < 30,
	      "n=%zd errno=%d after %.3f s", n, errno, t0);
	check("recv(MSG_DONTWAIT) with nothing to read: EAGAIN",
	      rsk_recv(fd, buf, 10, MSG_DONTWAIT) < 0 && errno == EAGAIN,
	      "errno=%d", errno);
	tv.tv_usec = 0;
	rsk_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	rsk_send(fd, "peek", 4, 0);
	n = rsk_recv(fd, buf, 4, MSG_PEEK | MSG_WAITALL);
	check("recv(MSG_PEEK) leaves the bytes",
	      n == 4 && memcmp(buf, "peek", 4) == 0 && recv_all(fd, buf, 4) &&
		  memcmp(buf, "peek", 4) == 0,
	      "n=%zd", n);
	check("shutdown(SHUT_WR)", rsk_shutdown(fd, SHUT_WR) == 0, "errno=%d",
	      errno);
	n = rsk_recv(fd, buf, sizeof(buf), 0);
	check("the echo server saw EOF and closed: recv() is 0", n == 0,
	      "n=%zd errno=%d", n, errno);
	check("send() after SHUT_WR: EPIPE",
	      rsk_send(fd, "x", 1, 0) < 0 && errno == EPIPE, "errno=%d", errno);
	check("close()", rsk_close(fd) == 0, "errno=%d", errno);
	check("send() on a closed handle: EBADF",
	      rsk_send(fd, "x", 1, 0) < 0 && errno == EBADF, "errno=%d", errno);
}

static void *k_client(void *arg)
{
	struct sockaddr_in sa = sin_of(proxy_ip, 7300);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char *out = arg;

	if (connect(fd, SA(sa), sizeof(sa)) == 0) {
		write(fd, "in", 2);
		struct timeval tv = {60, 0};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (read(fd, out, 3) != 3)
			out[0] = 0;
	}
	close(fd);
	return NULL;
}

/* An AF_INET6 socket with IPv4-mapped addresses, as dual-stack programs
 * (and Java's runtime) use them: the proxy keeps the family. */
static void t_ipv6(void)
{
	struct sockaddr_in6 to = {.sin6_family = AF_INET6,
				  .sin6_port = htons((uint16_t)echo_port)},
			    got;
	socklen_t len = sizeof(got);
	char want[INET6_ADDRSTRLEN + 8], name[INET6_ADDRSTRLEN] = "";
	int fd = rsk_socket(AF_INET6, SOCK_STREAM, 0);
	char buf[8] = "";

	snprintf(want, sizeof(want), "::ffff:%s", peer_ip);
	inet_pton(AF_INET6, want, &to.sin6_addr);
	check("socket(AF_INET6) gives a handle", fd >= 0, "errno=%d", errno);
	check("connect() to ::ffff:PEER (a sockaddr_in6)",
	      rsk_connect(fd, SA(to), sizeof(to)) == 0, "errno=%d", errno);
	check("getpeername() is a sockaddr_in6, the IPv4-mapped peer",
	      rsk_getpeername(fd, SA(got), &len) == 0 && len == sizeof(got) &&
		  got.sin6_family == AF_INET6 &&
		  inet_ntop(AF_INET6, &got.sin6_addr, name, sizeof(name)) &&
		  strcmp(name, want) == 0 && ntohs(got.sin6_port) == echo_port,
	      "len=%u family=%d %s", len, got.sin6_family, name);
	check("and the echo comes back",
	      rsk_send(fd, "six", 3, 0) == 3 && recv_all(fd, buf, 3) &&
		  memcmp(buf, "six", 3) == 0,
	      "errno=%d", errno);
	rsk_close(fd);
}

/* $@p var = tls_dir/@p file (NULL: unset). */
static void tls_env(const char *var, const char *file)
{
	char path[512];

	if (file == NULL) {
		unsetenv(var);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", tls_dir, file);
	setenv(var, path, 1);
}

/* The transport over TLS ([rpc] tls_port 5758): the proxy's certificate
 * checked against $REMSOCK_TLS_CA, ours ([rpc] tls_client_ca) shown from
 * $REMSOCK_TLS_CERT and $REMSOCK_TLS_KEY, then calls as over plain TCP. */
static void t_tls(void)
{
	struct rsk_conn_opts o = {.app = app, .secret = secret};
	struct sockaddr_in sa = sin_of(peer_ip, echo_port);
	static char blob[200000], back[sizeof(blob)];
	char addr[64];
	struct rsk_conn *c;
	size_t got = 0;
	ssize_t n;
	int fd;

	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (char)(i * 31 + 7);
	snprintf(addr, sizeof(addr), "%s:5758", proxy_ip);
	o.addr = addr;
	tls_env("REMSOCK_TLS_CA", "other.crt");
	c = rsk_conn_open(&o);
	check("TLS: a proxy whose certificate another CA signed is refused",
	      c == NULL && errno == EPROTO &&
		  strstr(rsk_last_detail(), "does not check out") != NULL,
	      "errno=%d %s", errno, rsk_last_detail());
	tls_env("REMSOCK_TLS_CA", "ca.crt");
	c = rsk_conn_open(&o);
	check("TLS: without a client certificate the proxy refuses us",
	      c == NULL, "errno=%d %s", errno, rsk_last_detail());
	if (c != NULL)
		rsk_conn_close(c);
	tls_env("REMSOCK_TLS_CERT", "demo-app.crt");
	c = rsk_conn_open(&o);
	check("TLS: REMSOCK_TLS_CERT without REMSOCK_TLS_KEY: EINVAL, saying "
	      "so",
	      c == NULL && errno == EINVAL &&
		  strstr(rsk_last_detail(), "go together") != NULL,
	      "errno=%d %s", errno, rsk_last_detail());
	tls_env("REMSOCK_TLS_CERT", "other-app.crt");
	tls_env("REMSOCK_TLS_KEY", "other-app.key");
	c = rsk_conn_open(&o);
	check("TLS: another app's client certificate cannot authenticate as "
	      "ours",
	      c == NULL && strstr(rsk_last_detail(), "certificate") != NULL,
	      "errno=%d %s", errno, rsk_last_detail());
	tls_env("REMSOCK_TLS_CERT", "demo-app.crt");
	tls_env("REMSOCK_TLS_KEY", "demo-app.key");
	c = rsk_conn_open(&o);
	tls_env("REMSOCK_TLS_CA", NULL);
	tls_env("REMSOCK_TLS_CERT", NULL);
	tls_env("REMSOCK_TLS_KEY", NULL);
	check("TLS: with REMSOCK_TLS_CA and the app's certificate, a "
	      "connection to the tls_port opens",
	      c != NULL, "errno=%d %s", errno, rsk_last_detail());
	if (c == NULL)
		return;
	fd = rsk_socket_on(c, AF_INET, SOCK_STREAM, 0);
	check("TLS: socket() and connect() to the echo server",
	      fd >= 0 && rsk_connect(fd, SA(sa), sizeof(sa)) == 0, "errno=%d",
	      errno);
	if (rsk_send(fd, blob, sizeof(blob), 0) == (ssize_t)sizeof(blob))
		while (got < sizeof(back) &&
		       (n = rsk_recv(fd, back + got, sizeof(back) - got, 0)) >
			   0)
			got += (size_t)n;
	check("TLS: 200 KB echoed whole",
	      got == sizeof(blob) && memcmp(blob, back, got) == 0,
	      "got %zu errno=%d", got, errno);
	rsk_close(fd);
	rsk_conn_close(c);
}

static void t_listen_accept(void)
{
	struct sockaddr_in sa = sin_of(proxy_ip, 7300), from;
	socklen_t len = sizeof(from);
	char got[8] = {0}, buf[4] = {0};
	pthread_t t;
	int l = rsk_socket(AF_INET, SOCK_STREAM, 0), a, l2;

	check("bind() a proxied socket to port 7300",
	      rsk_bind(l, SA(sa), sizeof(sa)) == 0, "errno=%d", errno);
	l2 = rsk_socket(AF_INET, SOCK_STREAM, 0);
	check("a second bind() to port 7300: EADDRINUSE",
	      rsk_bind(l2, SA(sa), sizeof(sa)) < 0 && errno == EADDRINUSE,
	      "errno=%d", errno);
	rsk_close(l2);
	check("listen()", rsk_listen(l, 8) == 0, "errno=%d", errno);
	rsk_set_nonblock(l, true);
	check("accept() on a non-blocking listener with nothing queued: "
	      "EAGAIN",
	      rsk_accept(l, NULL, NULL) < 0 && errno == EAGAIN, "errno=%d",
	      errno);
	rsk_set_nonblock(l, false);
	pthread_create(&t, NULL, k_client, got);
	a = rsk_accept(l, SA(from), &len);
	check("accept() gives the Linux client's connection",
	      a >= 0 &&
		  from.sin_addr.s_addr == sin_of(peer_ip, 0).sin_addr.s_addr,
	      "a=%d errno=%d", a, errno);
	check("the accepted socket receives",
	      recv_all(a, buf, 2) && memcmp(buf, "in", 2) == 0, "got '%.2s'",
	      buf);
	rsk_send(a, "out", 3, 0);
	pthread_join(t, NULL);
	check("and sends", memcmp(got, "out", 3) == 0, "got '%.3s'", got);
	rsk_close(a);
	rsk_close(l);
}

static void t_udp(void)
{
	struct sockaddr_in k = sin_of(peer_ip, 0), from, src;
	socklen_t len = sizeof(k);
	int kfd = socket(AF_INET, SOCK_DGRAM, 0);
	int u = rsk_socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = {60, 0};
	char buf[16] = {0};
	ssize_t n;

	bind(kfd, SA(k), sizeof(k));
	getsockname(kfd, SA(k), &len);
	setsockopt(kfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = rsk_sendto(u, "ping", 4, 0, SA(k), sizeof(k));
	len = sizeof(src);
	check("UDP sendto() reaches Linux",
	      n == 4 &&
		  recvfrom(kfd, buf, sizeof(buf), 0, SA(src), &len) == 4 &&
		  memcmp(buf, "ping", 4) == 0,
	      "n=%zd errno=%d", n, errno);
	sendto(kfd, "pong", 4, 0, SA(src), len);
	rsk_setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	len = sizeof(from);
	n = rsk_recvfrom(u, buf, sizeof(buf), 0, SA(from), &len);
	check("UDP recvfrom() has the datagram and its source",
	      n == 4 && memcmp(buf, "pong", 4) == 0 &&
		  from.sin_port == k.sin_port,
	      "n=%zd errno=%d", n, errno);
	k = sin_of("127.0.0.1", 53);
	check("UDP sendto() a denied address: EACCES",
	      rsk_sendto(u, "x", 1, 0, SA(k), sizeof(k)) < 0 && errno == EACCES,
	      "errno=%d", errno);
	rsk_close(u);
	close(kfd);
}

static void t_errors(void)
{
	int port, lfd = k_listen(&port), fd;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	close(lfd); /* now nobody listens there */
	fd = rsk_socket(AF_INET, SOCK_STREAM, 0);
	sa = sin_of(peer_ip, port);
	check("connect() to a closed Linux port: ECONNREFUSED",
	      rsk_connect(fd, SA(sa), sizeof(sa)) < 0 && errno == ECONNREFUSED,
	      "errno=%d", errno);
	rsk_close(fd);
	fd = rsk_socket(AF_INET, SOCK_STREAM, 0);
	check("getpeername() before connect(): ENOTCONN",
	      rsk_getpeername(fd, SA(sa), &len) < 0 && errno == ENOTCONN,
	      "errno=%d", errno);
	sa = sin_of("127.0.0.1", 80);
	check("connect() to loopback, which the ACL denies: EACCES",
	      rsk_connect(fd, SA(sa), sizeof(sa)) < 0 && errno == EACCES,
	      "errno=%d", errno);
	check("... rsk_last_detail() has the proxy's words: the rule",
	      strstr(rsk_last_detail(), "127.0.0.1:80 denied by ") != NULL,
	      "%s", rsk_last_detail());
	rsk_close(fd);
	check("send() on a handle never made: EBADF",
	      rsk_send(4242, "x", 1, 0) < 0 && errno == EBADF, "errno=%d",
	      errno);

	check("recv()/close()/listen() on it: EBADF",
	      rsk_recv(4242, &sa, 1, 0) < 0 && errno == EBADF &&
		  rsk_close(-1) < 0 && errno == EBADF &&
		  rsk_listen(4242, 1) < 0 && errno == EBADF,
	      "errno=%d", errno);
	check("socket(AF_UNIX): EAFNOSUPPORT",
	      rsk_socket(AF_UNIX, SOCK_STREAM, 0) < 0 && errno == EAFNOSUPPORT,
	      "errno=%d", errno);
	check("socket(SOCK_STREAM, IPPROTO_UDP): EPROTONOSUPPORT",
	      rsk_socket(AF_INET, SOCK_STREAM, IPPROTO_UDP) < 0 &&
		  errno == EPROTONOSUPPORT,
	      "errno=%d", errno);
}

static void t_getaddrinfo(void)
{
	struct addrinfo h = {.ai_family = AF_INET,
			     .ai_socktype = SOCK_STREAM,
			     .ai_flags = AI_CANONNAME},
			*r = NULL, *p;
	char ips[4][INET_ADDRSTRLEN], ips6[4][INET6_ADDRSTRLEN];
	int rc, n = 0;

	rc = rsk_getaddrinfo("198.18.0.1", "80", &h, &r);
	check("getaddrinfo() of a numeric host and port",
	      rc == 0 && r != NULL && r->ai_next == NULL &&
		  ((struct sockaddr_in *)r->ai_addr)->sin_port == htons(80),
	      "rc=%d", rc);
	rsk_freeaddrinfo(r);
	r = NULL;
	rc = rsk_getaddrinfo("STATIC.test", "http", &h, &r);
	for (p = r; p != NULL && n < 4; p = p->ai_next, n++)
		inet_ntop(AF_INET,
			  &((struct sockaddr_in *)p->ai_addr)->sin_addr, ips[n],
			  sizeof(ips[n]));
	check("getaddrinfo() through Resolve ([hosts], service by name)",
	      rc == 0 && n == 2 && strcmp(ips[0], "198.18.0.7") == 0 &&
		  strcmp(ips[1], "198.18.0.8") == 0 &&
		  ((struct sockaddr_in *)r->ai_addr)->sin_port == htons(80) &&
		  r->ai_canonname != NULL &&
		  strcmp(r->ai_canonname, "static.test") == 0,
	      "rc=%d n=%d", rc, n);
	rsk_freeaddrinfo(r);
	r = NULL;
	rc = rsk_getaddrinfo("nosuch.invalid", "80", &h, &r);
	check("getaddrinfo() of an unknown name: EAI_NONAME",
	      rc == EAI_NONAME && r == NULL, "rc=%d (%s)", rc,
	      rsk_gai_strerror(rc));
	rc = rsk_getaddrinfo("198.18.0.1", "no-such-service", &h, &r);
	check("an unknown service: EAI_SERVICE", rc == EAI_SERVICE, "rc=%d",
	      rc);
	h.ai_socktype = SOCK_RAW;
	rc = rsk_getaddrinfo("198.18.0.1", "80", &h, &r);
	check("SOCK_RAW: EAI_SOCKTYPE", rc == EAI_SOCKTYPE, "rc=%d", rc);
	/* AF_INET6: the proxy reaches IPv4 only, its IPv6 sockets take
	 * IPv4-mapped addresses, and so does the answer. */
	h.ai_socktype = SOCK_STREAM;
	h.ai_family = AF_INET6;
	r = NULL;
	n = 0;
	rc = rsk_getaddrinfo("STATIC.test", "80", &h, &r);
	for (p = r; p != NULL && n < 4; p = p->ai_next, n++)
		inet_ntop(AF_INET6,
			  &((struct sockaddr_in6 *)p->ai_addr)->sin6_addr,
			  ips6[n], sizeof(ips6[n]));
	check("getaddrinfo(AF_INET6) through Resolve: the addresses mapped",
	      rc == 0 && n == 2 && r->ai_family == AF_INET6 &&
		  r->ai_addrlen == sizeof(struct sockaddr_in6) &&
		  strcmp(ips6[0], "::ffff:198.18.0.7") == 0 &&
		  strcmp(ips6[1], "::ffff:198.18.0.8") == 0 &&
		  ((struct sockaddr_in6 *)r->ai_addr)->sin6_port == htons(80),
	      "rc=%d n=%d %s", rc, n, n > 0 ? ips6[0] : "-");
	rsk_freeaddrinfo(r);
	r = NULL;
	h.ai_family = AF_UNSPEC;
	rc = rsk_getaddrinfo("2001:db8::1", "80", &h, &r);
	check("getaddrinfo() of a numeric IPv6 host: itself, AF_INET6",
	      rc == 0 && r != NULL && r->ai_family == AF_INET6 &&
		  ((struct sockaddr_in6 *)r->ai_addr)->sin6_addr.s6_addr[0] ==
		      0x20,
	      "rc=%d", rc);
	rsk_freeaddrinfo(r);
	r = NULL;
	h.ai_family = AF_INET;
	rc = rsk_getaddrinfo("2001:db8::1", "80", &h, &r);
	check("getaddrinfo(AF_INET) of a numeric IPv6 host: EAI_ADDRFAMILY",
	      rc == EAI_ADDRFAMILY && r == NULL, "rc=%d", rc);
}

static void t_poll(struct rsk_conn *c)
{
	struct pollfd p[6];
	int fds[5], rc;
	double t0;

	for (int i = 0; i < 5; i++) {
		fds[i] = echo_socket(c);
		p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	}
	p[5] = (struct pollfd){.fd = 4343, .events = POLLIN};
	rc = rsk_poll(p, 5, 0);
	check("poll() over 5 quiet sockets: nothing", rc == 0, "rc=%d errno=%d",
	      rc, errno);
	rsk_send(fds[3], "x", 1, 0);
	rc = rsk_poll(p, 5, 60000);
	check("poll() wakes for the one socket whose echo came back",
	      rc == 1 && (p[3].revents & POLLIN) && p[0].revents == 0,
	      "rc=%d revents[3]=%x", rc, p[3].revents);
	char b;
	rsk_recv(fds[3], &b, 1, 0);
	t0 = now_s();
	rc = rsk_poll(p, 5, 300);
	t0 = now_s() - t0;
	check("poll() with nothing ready returns at its timeout",
	      rc == 0 && t0 >= 0.28 && t0 < 30, "rc=%d after %.3f", rc, t0);
	for (int i = 0; i < 5; i++)
		p[i].events = POLLOUT;
	rc = rsk_poll(p, 6, 60000);
	check("poll() for POLLOUT: all writable, an unknown handle POLLNVAL",
	      rc == 6 && (p[0].revents & POLLOUT) && (p[4].revents & POLLOUT) &&
		  p[5].revents == POLLNVAL,
	      "rc=%d %x %x", rc, p[0].revents, p[5].revents);
	for (int i = 0; i < 5; i++)
		rsk_close(fds[i]);
}

/* ---- async calls -------------------------------------------------------- */

static atomic_int cb_count;

static void count_cb(struct rsk_call *call, void *arg)
{
	(void)call;
	atomic_fetch_add(&cb_count, 1);
	atomic_fetch_add((atomic_int *)arg, 1);
}

static int start_name(struct rsk_call *call, const char *desc)
{
	Remsock__GetSocketNameRequest r =
	    REMSOCK__GET_SOCKET_NAME_REQUEST__INIT;
	uint8_t buf[128];
	size_t n;

	r.socket_descriptor = (char *)desc;
	n = remsock__get_socket_name_request__pack(&r, buf);
	return rsk_call_start(call, RSK_SERVICE, "GetSocketName", buf, n, -1,
			      RSK_CALL_NOTIFY | RSK_CALL_RETRY);
}

/* The descriptor of a fresh TCP socket, made through the generic API. */
static char *create_desc(struct rsk_conn *c)
{
	Remsock__CreateSocketRequest r = REMSOCK__CREATE_SOCKET_REQUEST__INIT;
	Remsock__CreateSocketReply *rep;
	struct rsk_call *call = rsk_call_new(c);
	uint8_t buf[64];
	const void *body;
	size_t n;
	char *d = NULL;

	r.family = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv4;
	r.protocol = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_PROTOCOL__TCP;
	n = remsock__create_socket_request__pack(&r, buf);
	check("a call is IDLE when made", rsk_call_state(call) == RSK_CALL_IDLE,
	      "%d", rsk_call_state(call));
	rsk_call_start(call, RSK_SERVICE, "CreateSocket", buf, n, -1, 0);
	n = (size_t)-rsk_call_check_success(call);
	check("a synchronous call through the generic API succeeds",
	      n == 0 && rsk_call_state(call) == RSK_CALL_FINISHING, "err=%zu",
	      n);
	body = rsk_call_reply(call, &n);
	rep = remsock__create_socket_reply__unpack(NULL, n, body);
	if (rep != NULL && rep->socket_descriptor != NULL)
		d = strdup(rep->socket_descriptor);
	remsock__create_socket_reply__free_unpacked(rep, NULL);
	rsk_call_free(call);
	return d;
}

static void t_async(struct rsk_conn *c)
{
	enum { N = 300 };
	struct rsk_call *calls[N], *done;
	atomic_int mine = 0;
	char *d = create_desc(c);
	int efd = rsk_conn_event_fd(c), got = 0, good = 0, woke = 0;
	double t0 = now_s();

	for (int i = 0; i < N; i++) {
		calls[i] = rsk_call_new(c);
		rsk_call_set_callback(calls[i], count_cb, &mine);
		start_name(calls[i], d);
	}
	while (got < N && now_s() - t0 < 120) {
		struct pollfd p = {.fd = efd, .events = POLLIN};

		if (poll(&p, 1, 1000) == 1)
			woke++;
		while ((done = rsk_conn_next_done(c)) != NULL) {
			size_t n;
			const void *b = rsk_call_reply(done, &n);
			Remsock__GetSocketNameReply *r =
			    b != NULL ? remsock__get_socket_name_reply__unpack(
					    NULL, n, b)
				      : NULL;

			good += r != NULL && rsk_call_check_success(done) == 0;
			remsock__get_socket_name_reply__free_unpacked(r, NULL);
			got++;
		}
	}
	check("300 calls in flight at once all complete through the event fd",
	      got == N && good == N && woke > 0, "got=%d good=%d woke=%d", got,
	      good, woke);
	check("their callbacks ran once each", atomic_load(&mine) == N,
	      "callbacks=%d", atomic_load(&mine));
	{
		struct pollfd p = {.fd = efd, .events = POLLIN};

		check("the event fd is quiet once the queue is empty",
		      poll(&p, 1, 0) == 0, "readable");
	}
	for (int i = 0; i < N; i++)
		rsk_call_free(calls[i]);
	free(d);
}

static void t_async_order(struct rsk_conn *c)
{
	struct rsk_call *rx = rsk_call_new(c), *nm = rsk_call_new(c);
	Remsock__ReceiveRequest r = REMSOCK__RECEIVE_REQUEST__INIT;
	uint8_t buf[128];
	size_t n;
	int rc;

	/* A socket of the generic API's own: a raw Receive on one of the
	 * library's sockets would disturb its read-ahead offsets. */
	char *d = create_desc(c);
	Remsock__ConnectRequest cr = REMSOCK__CONNECT_REQUEST__INIT;
	struct sockaddr_in sa = sin_of(peer_ip, echo_port);
	Remsock__AddressPort ap = REMSOCK__ADDRESS_PORT__INIT;
	struct rsk_call *cc = rsk_call_new(c);

	ap.port = echo_port;
	ap.has_packed_address = 1;
	ap.packed_address.data = (uint8_t *)&sa.sin_addr;
	ap.packed_address.len = 4;
	cr.socket_descriptor = d;
	cr.remote_ip = &ap;
	n = remsock__connect_request__pack(&cr, buf);
	rsk_call_start(cc, RSK_SERVICE, "Connect", buf, n, -1, 0);
	rc = rsk_call_check_success(cc);
	check("Connect through the generic API", rc == 0, "rc=%d", rc);

	r.socket_descriptor = d;
	r.data_size = 100;
	r.has_timeout_seconds = 1;
	r.timeout_seconds = 10;
	n = remsock__receive_request__pack(&r, buf);
	rsk_call_start(rx, RSK_SERVICE, "Receive", buf, n, -1, 0);
	check("a started call is RUNNING",
	      rsk_call_state(rx) == RSK_CALL_RUNNING, "%d", rsk_call_state(rx));
	check("waiting on a parked call times out (-ETIMEDOUT)",
	      rsk_call_wait(rx, 200) == -ETIMEDOUT, "");
	start_name(nm, d);
	rc = rsk_call_wait(nm, 60000);
	check("a later call overtakes the parked Receive",
	      rc == 0 && rsk_call_state(rx) == RSK_CALL_RUNNING,
	      "rc=%d rx state %d", rc, rsk_call_state(rx));
	/* Bytes for the parked Receive: sent to the echo server. */
	{
		Remsock__SendRequest s = REMSOCK__SEND_REQUEST__INIT;
		struct rsk_call *sc = rsk_call_new(c);

		s.socket_descriptor = d;
		s.data.data = (uint8_t *)"wake";
		s.data.len = 4;
		s.stream_offset = 0;
		n = remsock__send_request__pack(&s, buf);
		rsk_call_start(sc, RSK_SERVICE, "Send", buf, n, -1, 0);
		rsk_call_check_success(sc);
		rsk_call_free(sc);
	}
	rc = rsk_call_check_success(rx);
	{
		const void *b = rsk_call_reply(rx, &n);
		Remsock__ReceiveReply *rr =
		    b != NULL ? remsock__receive_reply__unpack(NULL, n, b)
			      : NULL;

		check("the parked Receive completes when the data comes",
		      rc == 0 && rr != NULL && rr->data.len == 4 &&
			  memcmp(rr->data.data, "wake", 4) == 0,
		      "rc=%d", rc);
		remsock__receive_reply__free_unpacked(rr, NULL);
	}
	check("a finished call resets to IDLE",
	      rsk_call_reset(rx) == 0 && rsk_call_state(rx) == RSK_CALL_IDLE,
	      "");
	/* A running call freed: cancelled, nothing breaks. */
	rsk_call_start(rx, RSK_SERVICE, "Receive", buf,
		       remsock__receive_request__pack(&r, buf), -1, 0);
	rsk_call_free(rx);
	{
		Remsock__CloseRequest cl = REMSOCK__CLOSE_REQUEST__INIT;
		Remsock__GetSocketNameRequest gn =
		    REMSOCK__GET_SOCKET_NAME_REQUEST__INIT;
		const struct rsk_call_error *e;

		cl.socket_descriptor = d;
		n = remsock__close_request__pack(&cl, buf);
		rsk_call_reset(cc);
		rsk_call_start(cc, RSK_SERVICE, "Close", buf, n, -1, 0);
		rc = rsk_call_check_success(cc);
		rsk_call_reset(cc);
		rsk_call_start(cc, RSK_SERVICE, "Close", buf, n, -1, 0);
		check("a second Close is quietly taken, as App Engine did",
		      rc == 0 && rsk_call_check_success(cc) == 0, "rc=%d", rc);
		gn.socket_descriptor = d;
		n = remsock__get_socket_name_request__pack(&gn, buf);
		rsk_call_reset(cc);
		rsk_call_start(cc, RSK_SERVICE, "GetSocketName", buf, n, -1, 0);
		rc = rsk_call_check_success(cc);
		e = rsk_call_error(cc);
		check(
		    "an error through the generic API: a closed descriptor is "
		    "SOCKET_CLOSED, EBADF to a C program",
		    rc == -EBADF && e != NULL && e->app_code == 7 &&
			strstr(e->detail, "EBADF") != NULL,
		    "rc=%d app_code=%d detail=%s", rc,
		    e != NULL ? e->app_code : -1, e != NULL ? e->detail : "-");
	}
	rsk_call_free(cc);
	rsk_call_free(nm);
	free(d);
}

/* ---- reconnect mid-transfer --------------------------------------------- */

struct xfer {
	int fd;
	const uint8_t *data;
	size_t size;
	size_t got;
	uint8_t digest[RS_SHA256_DIGEST_LEN];
};

static void *xfer_send(void *arg)
{
	struct xfer *x = arg;

	for (size_t off = 0; off < x->size;) {
		size_t chunk = x->size - off < 100000 ? x->size - off : 100000;
		ssize_t n = rsk_send(x->fd, x->data + off, chunk, 0);

		if (n <= 0) {
			printf("# send failed at %zu: errno %d\n", off, errno);
			break;
		}
		off += (size_t)n;
	}
	rsk_shutdown(x->fd, SHUT_WR);
	return NULL;
}

static void *xfer_recv(void *arg)
{
	struct xfer *x = arg;
	struct rs_sha256 h;
	uint8_t buf[1500];
	ssize_t n;

	rs_sha256_init(&h);
	/* Small reads: most come from the read-ahead buffer. */
	while ((n = rsk_recv(x->fd, buf, sizeof(buf), 0)) > 0) {
		rs_sha256_update(&h, buf, (size_t)n);
		x->got += (size_t)n;
	}
	if (n < 0)
		printf("# recv failed at %zu: errno %d\n", x->got, errno);
	rs_sha256_final(&h, x->digest);
	return NULL;
}

static void t_reconnect(struct rsk_conn *c)
{
	enum { SIZE = 24 << 20, DROP_EVERY = 2 << 20 };
	struct xfer x = {.size = SIZE};
	uint8_t *blob = malloc(SIZE), want[RS_SHA256_DIGEST_LEN];
	char hw[RS_SHA256_HEX_LEN], hg[RS_SHA256_HEX_LEN];
	uint64_t rc0 = rsk_conn_reconnects(c), reconnects;
	struct timeval tmo = {30, 0};
	struct rs_sha256 h;
	pthread_t ts, tr;
	double t0 = now_s();

	for (size_t off = 0; off < SIZE;)
		off += (size_t)getrandom(blob + off, SIZE - off, 0);
	rs_sha256_init(&h);
	rs_sha256_update(&h, blob, SIZE);
	rs_sha256_final(&h, want);
	x.fd = echo_socket(c);
	x.data = blob;
	/* A transfer that goes wrong ends in a failed check, not a hang. */
	rsk_setsockopt(x.fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	rsk_setsockopt(x.fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	/* Faults by count: a break after every DROP_EVERY bytes of frames
	 * each way, so the number of breaks does not depend on speed. */
	rsk_conn_drop_every(c, DROP_EVERY);
	pthread_create(&tr, NULL, xfer_recv, &x);
	pthread_create(&ts, NULL, xfer_send, &x);
	pthread_join(ts, NULL);
	pthread_join(tr, NULL);
	rsk_conn_drop_every(c, 0);
	reconnects = rsk_conn_reconnects(c) - rc0;
	rs_sha256_hex(want, hw);
	rs_sha256_hex(x.digest, hg);
	printf("# %d MiB echoed with %llu reconnects in %.1f s\n", SIZE >> 20,
	       (unsigned long long)reconnects, now_s() - t0);
	/* 24 MiB each way: a break per 2 MiB written alone makes about 12. */
	check("the transport was broken at least 6 times mid-transfer and "
	      "came back each time",
	      reconnects >= 6, "reconnects=%llu",
	      (unsigned long long)reconnects);
	check("24 MiB through the echo server across reconnects: nothing lost, "
	      "nothing twice (length and SHA-256)",
	      x.got == SIZE && strcmp(hw, hg) == 0, "got %zu bytes, %s vs %s",
	      x.got, hg, hw);
	rsk_close(x.fd);
	free(blob);
}

int main(int argc, char **argv)
{
	struct rsk_conn *c;

	if (argc != 7) {
		fprintf(stderr,
			"usage: rsk_test PROXY PORT PEER APP SECRET TLS_DIR\n");
		return 2;
	}
	tls_dir = argv[6];
	proxy_ip = argv[1];
	peer_ip = argv[3];
	app = argv[4];
	secret = argv[5];
	snprintf(proxy_addr, sizeof(proxy_addr), "%s:%s", argv[1], argv[2]);
	setenv("REMSOCK_ADDR", proxy_addr, 1);
	setenv("REMSOCK_APP", app, 1);
	setenv("REMSOCK_SECRET", secret, 1);
	echo_start();
	t_conn();
	c = rsk_default_conn();
	if (c == NULL) {
		printf("done failures=%d\n", check_failures + 1);
		return 1;
	}
	t_stream_calls(c);
	t_ipv6();
	t_tls();
	t_listen_accept();
	t_udp();
	t_errors();
	t_getaddrinfo();
	t_poll(c);
	t_async(c);
	t_async_order(c);
	t_reconnect(c);
	rsk_conn_close(c);
	printf("done failures=%d\n", check_failures);
	return check_failures != 0;
}
