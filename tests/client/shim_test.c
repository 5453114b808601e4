/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A program that knows nothing of remsock, run by preload.sh under
 * libremsock-preload in the test namespace.  Its AF_INET sockets go
 * through the proxy; its peers are Linux sockets made with the raw
 * socket system call, which the shim does not see (the shim passes every
 * descriptor it did not make straight to libc).
 *
 *  - epoll, a non-blocking connect (EINPROGRESS, then EPOLLOUT and
 *    SO_ERROR 0), 8 MiB written with partial writes and read back
 *    interleaved, half-close, EOF; the Linux server saw the proxy
 *  - a refused non-blocking connect: SO_ERROR ECONNREFUSED
 *  - a listener on the proxy: epoll says readable, accept4, names, data;
 *    a blocking accept that waits
 *  - gethostbyname of a name only the proxy's [hosts] knows
 *  - a Unix-domain socket and socketpair: untouched (AF_UNIX names)
 *  - fork: the child talks on an inherited socket, the parent after it;
 *    a child makes a socket, writes 1 MiB and exits without closing it
 *  - UDP: SO_TYPE, copies made by dup, fcntl(F_DUPFD_CLOEXEC) and dup2
 *    frame their datagrams; closing them leaves the socket working
 *  - exec: the new image talks on inherited TCP and UDP sockets
 *  - select on a shim socket
 *
 * Prints 'check NAME ok|FAIL: why' lines and 'done failures=N'.
 *
 *     shim_test PEER_IP PROXY_IP
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static const char *peer_ip, *proxy_ip;
static char seen_peer[64]; /* the address the kernel server saw */

/* A Linux socket the shim does not know of. */
static int ksocket(int type)
{
	return (int)syscall(SYS_socket, AF_INET, type, 0);
}

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

/* ---- the Linux echo server ---------------------------------------------- */

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char b[65536];
	ssize_t n;

	while ((n = read(fd, b, sizeof(b))) > 0)
		for (ssize_t off = 0, w; off < n; off += w)
			if ((w = write(fd, b + off, (size_t)(n - off))) <= 0)
				goto out;
out:
	shutdown(fd, SHUT_WR);
	close(fd);
	return NULL;
}

static void *echo_server(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	pthread_t t;

	while ((fd = accept(lfd, SA(sa), &len)) >= 0) {
		inet_ntop(AF_INET, &sa.sin_addr, seen_peer, sizeof(seen_peer));
		len = sizeof(sa);
		pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
	return NULL;
}

static int echo_start(void)
{
	struct sockaddr_in sa = sin_of(peer_ip, 0);
	socklen_t len = sizeof(sa);
	int fd = ksocket(SOCK_STREAM), one = 1;
	pthread_t t;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, SA(sa), sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, SA(sa), &len) < 0)
		return -1;
	pthread_create(&t, NULL, echo_server, (void *)(intptr_t)fd);
	pthread_detach(t);
	return ntohs(sa.sin_port);
}

/* ---- the Linux sink: counts what each connection sent ------------------- */

static _Atomic long long sunk = -1; /* bytes of the last connection, at EOF */

static void *sink_server(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;
	char b[65536];

	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		long long n = 0;
		ssize_t r;

		while ((r = read(fd, b, sizeof(b))) > 0)
			n += r;
		close(fd);
		sunk = n;
	}
	return NULL;
}

static int sink_start(void)
{
	struct sockaddr_in sa = sin_of(peer_ip, 0);
	socklen_t len = sizeof(sa);
	int fd = ksocket(SOCK_STREAM);
	pthread_t t;

	if (fd < 0 || bind(fd, SA(sa), sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, SA(sa), &len) < 0)
		return -1;
	pthread_create(&t, NULL, sink_server, (void *)(intptr_t)fd);
	pthread_detach(t);
	return ntohs(sa.sin_port);
}

/* ---- epoll, non-blocking ------------------------------------------------ */

enum { BULK = 8 << 20 };

/* Write BULK bytes and read them back, both non-blocking under epoll. */
static void bulk_epoll(int fd, int ep)
{
	/* Far above the socketpair's buffer (wmem_default, 208 KiB): a
	 * non-blocking write of it is partial unless the relay drains 800 KiB
	 * within the one call, whatever the machine's speed. */
	static uint8_t buf[1 << 20];
	uint64_t sent = 0, got = 0, bad = 0, partial = 0;
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
	double until = now_s() + 60;
	bool shut = false, eof = false;

	epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
	while (!eof && now_s() < until) {
		if (epoll_wait(ep, &e, 1, 1000) <= 0)
			continue;
		if ((e.events & EPOLLOUT) && sent < BULK) {
			size_t want = BULK - sent < sizeof(buf) ? BULK - sent
								: sizeof(buf);
			ssize_t n;

			for (size_t i = 0; i < want; i++)
				buf[i] = pattern(sent + i);
			n = write(fd, buf, want);
			if (n < 0 && errno != EAGAIN)
				break;
			if (n < (ssize_t)want)
				partial++;
			sent += n > 0 ? (uint64_t)n : 0;
		}
		if (sent == BULK && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
			e = (struct epoll_event){.events = EPOLLIN,
						 .data.fd = fd};
			epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
		}
		if (e.events & (EPOLLIN | EPOLLHUP)) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n == 0)
				eof = true;
			for (ssize_t i = 0; i < n; i++)
				bad += buf[i] != pattern(got + (uint64_t)i);
			got += n > 0 ? (uint64_t)n : 0;
		}
	}
	check("epoll: 8 MiB written with partial writes",
	      sent == BULK && partial > 0, "sent %llu partial %llu",
	      (unsigned long long)sent, (unsigned long long)partial);
	check("epoll: 8 MiB echoed back intact, then EOF",
	      eof && got == BULK && bad == 0, "got %llu bad %llu eof %d",
	      (unsigned long long)got, (unsigned long long)bad, eof);
}

static void test_epoll(int port)
{
	struct sockaddr_in sa = sin_of(peer_ip, port), me;
	socklen_t len = sizeof(me);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), ep, err = -1;
	struct epoll_event e = {.events = EPOLLOUT};
	int rc;

	check("socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK)", fd >= 0, "%s",
	      strerror(errno));
	rc = connect(fd, SA(sa), sizeof(sa));
	check("non-blocking connect: EINPROGRESS",
	      rc < 0 && errno == EINPROGRESS, "rc %d %s", rc, strerror(errno));
	ep = epoll_create1(0);
	e.data.fd = fd;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	rc = epoll_wait(ep, &e, 1, 10000);
	len = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	check("epoll: writable, SO_ERROR 0",
	      rc == 1 && (e.events & EPOLLOUT) && err == 0,
	      "rc %d events %x err %d", rc, e.events, err);
	len = sizeof(me);
	rc = getsockname(fd, SA(me), &len);
	check("getsockname: the proxy's address",
	      rc == 0 && me.sin_family == AF_INET &&
		  me.sin_addr.s_addr == sin_of(proxy_ip, 0).sin_addr.s_addr,
	      "rc %d %s", rc, inet_ntoa(me.sin_addr));
	{
		fd_set w;
		struct timeval tv = {5, 0};

		FD_ZERO(&w);
		FD_SET(fd, &w);
		rc = select(fd + 1, NULL, &w, NULL, &tv);
		check("select: the connected socket is writable",
		      rc == 1 && FD_ISSET(fd, &w), "rc %d", rc);
	}
	bulk_epoll(fd, ep);
	close(fd);
	close(ep);
	check("the Linux server saw the proxy as the client",
	      strcmp(seen_peer, proxy_ip) == 0, "saw %s", seen_peer);
}

static void test_refused(void)
{
	struct sockaddr_in sa = sin_of(peer_ip, 9);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0, rc;
	socklen_t len = sizeof(err);
	int ep = epoll_create1(0);
	struct epoll_event e = {.events = EPOLLOUT, .data.fd = fd};

	rc = connect(fd, SA(sa), sizeof(sa));
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	epoll_wait(ep, &e, 1, 10000);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	check("refused non-blocking connect: SO_ERROR ECONNREFUSED",
	      rc < 0 && errno == EINPROGRESS && err == ECONNREFUSED,
	      "rc %d err %d", rc, err);
	close(fd);
	close(ep);
}

/* ---- a listener on the proxy -------------------------------------------- */

static void *kclient(void *arg)
{
	int port = (int)(intptr_t)arg, fd = ksocket(SOCK_STREAM);
	struct sockaddr_in sa = sin_of(proxy_ip, port);
	char b[64];
	ssize_t n;

	if (connect(fd, SA(sa), sizeof(sa)) == 0) {
		n = write(fd, "from linux", 10);
		n = read(fd, b, sizeof(b));
		(void)n;
	}
	close(fd);
	return NULL;
}

static void *kclient_late(void *arg)
{
	usleep(200000);
	return kclient(arg);
}

static void test_listen(void)
{
	struct sockaddr_in sa = sin_of("0.0.0.0", 7345), peer;
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0), ep = epoll_create1(0), fd, rc;
	struct epoll_event e = {.events = EPOLLIN, .data.fd = l};
	pthread_t t;
	char b[64] = "";

	rc = bind(l, SA(sa), sizeof(sa));
	rc = rc == 0 ? listen(l, 8) : rc;
	check("bind and listen on the proxy", rc == 0, "%s", strerror(errno));
	pthread_create(&t, NULL, kclient, (void *)(intptr_t)7345);
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &e);
	rc = epoll_wait(ep, &e, 1, 10000);
	check("epoll: the listener is readable when a connection comes",
	      rc == 1, "rc %d", rc);
	fd = accept4(l, SA(peer), &len, SOCK_CLOEXEC);
	check("accept4 on the proxy's listener: the Linux client's address",
	      fd >= 0 &&
		  peer.sin_addr.s_addr == sin_of(peer_ip, 0).sin_addr.s_addr,
	      "fd %d %s", fd, strerror(errno));
	if (fd >= 0) {
		for (size_t got = 0; got < 10;) {
			ssize_t n = read(fd, b + got, 10 - got);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		check("accepted socket: data from Linux",
		      memcmp(b, "from linux", 10) == 0, "got '%.10s'", b);
		write(fd, "ok", 2);
		close(fd);
	}
	pthread_join(t, NULL);
	/* A blocking accept waits for the connection (200 ms later). */
	pthread_create(&t, NULL, kclient_late, (void *)(intptr_t)7345);
	len = sizeof(peer);
	fd = accept(l, SA(peer), &len);
	check("blocking accept waits for a connection", fd >= 0, "%s",
	      strerror(errno));
	if (fd >= 0)
		close(fd);
	pthread_join(t, NULL);
	close(l);
	close(ep);
}

/* ---- Unix-domain: untouched --------------------------------------------- */

static void test_unix(void)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX}, got;
	socklen_t len = sizeof(got);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0), sv[2], rc;
	char b[16] = "";

	snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "shim_test.%d",
		 (int)getpid());
	rc =
	    bind(fd, SA(un), sizeof(sa_family_t) + 1 + strlen(un.sun_path + 1));
	rc = rc == 0 ? getsockname(fd, SA(got), &len) : rc;
	check("Unix-domain datagram socket: bind and name untouched",
	      rc == 0 && got.sun_family == AF_UNIX, "rc %d family %d", rc,
	      got.sun_family);
	rc = (int)sendto(fd, "unix", 4, 0, SA(un),
			 sizeof(sa_family_t) + 1 + strlen(un.sun_path + 1));
	rc = rc == 4 ? (int)recv(fd, b, sizeof(b), 0) : rc;
	check("Unix-domain datagram to itself",
	      rc == 4 && memcmp(b, "unix", 4) == 0, "rc %d", rc);
	close(fd);
	rc = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	rc = rc == 0 ? (int)write(sv[0], "pair", 4) : rc;
	rc = rc == 4 ? (int)read(sv[1], b, 4) : rc;
	check("socketpair untouched", rc == 4 && memcmp(b, "pair", 4) == 0,
	      "rc %d", rc);
	close(sv[0]);
	close(sv[1]);
}

/* ---- fork --------------------------------------------------------------- */

static int exchange(int fd, const char *msg)
{
	size_t len = strlen(msg), got = 0;
	char b[64];

	if (write(fd, msg, len) != (ssize_t)len)
		return -1;
	while (got < len) {
		ssize_t n = read(fd, b + got, len - got);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return memcmp(b, msg, len) == 0 ? 0 : -1;
}

static void test_fork(int port)
{
	struct sockaddr_in sa = sin_of(peer_ip, port);
	int fd = socket(AF_INET, SOCK_STREAM, 0), st = -1, rc;
	pid_t pid;

	rc = connect(fd, SA(sa), sizeof(sa));
	check("blocking connect", rc == 0, "%s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		struct sockaddr_in pa;
		socklen_t plen = sizeof(pa);

		if (getpeername(fd, SA(pa), &plen) < 0 ||
		    pa.sin_addr.s_addr != sa.sin_addr.s_addr ||
		    pa.sin_port != sa.sin_port)
			_exit(2); /* the child asks by descriptor */
		_exit(exchange(fd, "hello from the child") == 0 ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	check("fork: the child names and talks on an inherited socket",
	      WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	check("fork: the parent goes on on it",
	      exchange(fd, "and the parent after") == 0, "exchange failed");
	close(fd);
}

/* A child that makes a socket of its own (its own connection to the
 * proxy), writes 1 MiB and exits without closing it: the shim sends it
 * all at exit and closes the socket, so the sink sees 1 MiB and EOF. */
static void test_child_exit(int sink_port)
{
	struct sockaddr_in sa = sin_of(peer_ip, sink_port);
	double until;
	int st = -1;
	pid_t pid;

	sunk = -1;
	pid = fork();
	if (pid == 0) {
		static char b[1 << 20];
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		memset(b, 'x', sizeof(b));
		if (fd < 0 || connect(fd, SA(sa), sizeof(sa)) < 0 ||
		    write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
			_exit(1);
		exit(
		    0); /* no close: the shim's exit handler sends and closes */
	}
	waitpid(pid, &st, 0);
	until = now_s() + 10;
	while (sunk < 0 && now_s() < until)
		usleep(10000);
	check("fork: a socket made in the child, written and left open at exit",
	      WIFEXITED(st) && WEXITSTATUS(st) == 0 && sunk == 1 << 20,
	      "status %d, sink got %lld", st, (long long)sunk);
}

/* exec: the new image (the shim again, from LD_PRELOAD) talks on an
 * inherited socket. */
static void test_exec(int port, const char *self)
{
	struct sockaddr_in sa = sin_of(peer_ip, port);
	int fd = socket(AF_INET, SOCK_STREAM, 0), st = -1;
	char arg[16];
	pid_t pid;

	if (fd < 0 || connect(fd, SA(sa), sizeof(sa)) < 0) {
		check("exec: connect", 0, "%s", strerror(errno));
		return;
	}
	snprintf(arg, sizeof(arg), "%d", fd);
	pid = fork();
	if (pid == 0) {
		execl(self, self, "--exec-child", arg, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	check("exec: the new image talks on an inherited socket",
	      WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	check("exec: the parent goes on on it afterwards",
	      exchange(fd, "parent after exec") == 0, "exchange failed");
	close(fd);
}

/* A Linux UDP echo server; its port. */
static void *udp_echo(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct sockaddr_in from;
	socklen_t len;
	char b[2048];
	ssize_t n;

	for (;;) {
		len = sizeof(from);
		n = recvfrom(fd, b, sizeof(b), 0, SA(from), &len);
		if (n < 0)
			break;
		sendto(fd, b, (size_t)n, 0, SA(from), len);
	}
	return NULL;
}

static int udp_echo_start(void)
{
	struct sockaddr_in sa = sin_of(peer_ip, 0);
	socklen_t len = sizeof(sa);
	int fd = ksocket(SOCK_DGRAM);
	pthread_t t;

	if (fd < 0 || bind(fd, SA(sa), sizeof(sa)) < 0 ||
	    getsockname(fd, SA(sa), &len) < 0)
		return -1;
	pthread_create(&t, NULL, udp_echo, (void *)(intptr_t)fd);
	pthread_detach(t);
	return ntohs(sa.sin_port);
}

/* One datagram to the connected peer and its echo, bounded by 5 s. */
static int udp_exchange(int fd, const char *msg)
{
	struct timeval tv = {5, 0};
	char b[256];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, msg, strlen(msg), 0) != (ssize_t)strlen(msg))
		return -1;
	n = recv(fd, b, sizeof(b), 0);
	return n == (ssize_t)strlen(msg) && memcmp(b, msg, (size_t)n) == 0 ? 0
									   : -1;
}

/* dup, fcntl(F_DUPFD_CLOEXEC), dup2 of a UDP socket: each copy frames
 * its datagrams, and closing copies leaves the socket to the others. */
static void test_udp_dups(int fd)
{
	int d1 = dup(fd), d2 = fcntl(fd, F_DUPFD_CLOEXEC, 100), d3 = dup(fd);
	int type = 0, rc;
	socklen_t len = sizeof(type);

	rc = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	check("UDP: SO_TYPE is SOCK_DGRAM", rc == 0 && type == SOCK_DGRAM,
	      "rc %d type %d", rc, type);
	check("UDP: a dup frames its datagrams",
	      d1 >= 0 && udp_exchange(d1, "via dup") == 0, "d1 %d", d1);
	check("UDP: an F_DUPFD_CLOEXEC copy frames its datagrams",
	      d2 >= 100 && udp_exchange(d2, "via fcntl") == 0, "d2 %d", d2);
	rc = dup2(d3, 90) == 90 ? udp_exchange(90, "via dup2") : -1;
	check("UDP: a dup2 copy frames its datagrams", rc == 0, "rc %d", rc);
	close(d1);
	close(d2);
	close(d3);
	close(90);
	check("UDP: closing the copies leaves the socket working",
	      udp_exchange(fd, "after the copies") == 0, "exchange failed");
}

/* exec with a connected UDP socket: the new image keeps its framing. */
static void test_exec_udp(const char *self)
{
	struct sockaddr_in sa = sin_of(peer_ip, udp_echo_start());
	int fd = socket(AF_INET, SOCK_DGRAM, 0), st = -1;
	char arg[16];
	pid_t pid;

	if (fd < 0 || connect(fd, SA(sa), sizeof(sa)) < 0 ||
	    udp_exchange(fd, "udp before exec") < 0) {
		check("exec udp: connected UDP echo", 0, "%s", strerror(errno));
		return;
	}
	test_udp_dups(fd);
	snprintf(arg, sizeof(arg), "%d", fd);
	pid = fork();
	if (pid == 0) {
		execl(self, self, "--exec-udp", arg, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	check(
	    "exec: the new image sends and receives on an inherited UDP socket",
	    WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	close(fd);
}

int main(int argc, char **argv)
{
	int port, sink;

	if (argc == 3 && strcmp(argv[1], "--exec-child") == 0)
		return exchange(atoi(argv[2]), "hello from the exec'd image") ==
			       0
			   ? 0
			   : 1;
	if (argc == 3 && strcmp(argv[1], "--exec-udp") == 0)
		return udp_exchange(atoi(argv[2]),
				    "udp from the exec'd image") == 0
			   ? 0
			   : 1;
	if (argc != 3) {
		fprintf(stderr, "usage: shim_test PEER_IP PROXY_IP\n");
		return 2;
	}
	peer_ip = argv[1];
	proxy_ip = argv[2];
	port = echo_start();
	check("a Linux echo server (raw socket system call)", port > 0, "%s",
	      strerror(errno));
	test_unix();
	{
		struct hostent *he = gethostbyname("peer.remsock.test");
		struct in_addr a = {0};

		if (he != NULL && he->h_length == 4)
			memcpy(&a, he->h_addr_list[0], 4);
		check("gethostbyname: a name only the proxy knows",
		      he != NULL &&
			  a.s_addr == sin_of(peer_ip, 0).sin_addr.s_addr,
		      "%s", he != NULL ? inet_ntoa(a) : hstrerror(h_errno));
	}
	test_epoll(port);
	test_refused();
	test_listen();
	test_fork(port);
	sink = sink_start();
	check("a Linux sink server", sink > 0, "%s", strerror(errno));
	test_child_exit(sink);
	test_exec(port, argv[0]);
	test_exec_udp(argv[0]);
	printf("done failures=%d\n", check_failures);
	return check_failures != 0;
}
