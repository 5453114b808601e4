/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * remsock nc: stdin and stdout through one proxied socket.
 *
 * Two directions, two threads: rsk_* handles are not kernel descriptors,
 * so one poll(2) cannot wait for stdin and the socket at once.  The
 * sender thread reads stdin and sends (TCP: each read as it comes, then
 * shutdown(SHUT_WR) at EOF; UDP: each line, or each full buffer, as one
 * datagram); the main thread receives and writes stdout until the peer
 * closes (TCP), or until -w seconds pass without a datagram after stdin
 * ended (UDP).  The socket is closed by the main thread under the lock
 * the sender holds around each call on it, so no call runs on a closed
 * handle.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli_pvt.h"
#include "remsock.h"

#define NC_BUF (64u * 1024)
/* Largest UDP payload over IPv4. */
#define NC_DGRAM_MAX 65507u

static const char nc_help[] =
    "NAME\n"
    "    remsock nc - stdin and stdout through a proxied socket\n"
    "\n"
    "SYNOPSIS\n"
    "    remsock [GLOBAL-OPTIONS] nc [-u] [-w SECS] HOST PORT\n"
    "\n"
    "DESCRIPTION\n"
    "    Connects a socket the proxy holds to HOST (resolved by the\n"
    "    proxy) and PORT, sends what it reads from stdin and writes what\n"
    "    it receives to stdout, both at once.\n"
    "\n"
    "    TCP: at the end of stdin the sending side is shut down\n"
    "    (shutdown(SHUT_WR)) and receiving goes on until the peer closes\n"
    "    the connection.\n"
    "\n"
    "    UDP (-u): each line of stdin (up to and with its newline), or each\n"
    "    65507 bytes without one, is one datagram; each datagram received is\n"
    "    written as it came.  After the end of stdin, remsock nc waits for\n"
    "    replies until SECS seconds pass without one (-w, default 1).\n"
    "\n"
    "OPTIONS\n"
    "    -u, --udp\n"
    "        Use UDP instead of TCP.\n"
    "    -w, --wait SECS\n"
    "        TCP: give up when connecting, or a send, takes SECS seconds\n"
    "        (exit 1), or when nothing is received for SECS seconds\n"
    "        (exit 0; default: wait for the peer to close).  UDP: how\n"
    "        long to wait for replies after stdin ended (default 1).\n"
    "        1-86400.\n"
    "    -h, --help\n"
    "        Print this manual and exit.\n"
    "\n"
    "EXIT STATUS\n"
    "    0   stdin sent and the peer closed (TCP) or went quiet (UDP, and\n"
    "        TCP with -w)\n"
    "    1   the name does not resolve; the connection is refused, denied\n"
    "        by the proxy's ACL or reset; an ICMP error (UDP); a send,\n"
    "        receive, stdin or stdout error; the proxy cannot be reached\n"
    "    2   usage error\n"
    "\n"
    "ENVIRONMENT\n"
    "    REMSOCK_ADDR, REMSOCK_APP, REMSOCK_SECRET (see remsock --help).\n"
    "\n"
    "EXAMPLES\n"
    "    printf 'GET / HTTP/1.0\\r\\n\\r\\n' | remsock nc 198.18.0.1 8080\n"
    "    echo ping | remsock nc -u -w 2 198.18.0.1 7\n";

struct nc {
	int fd; /* the rsk_* socket */
	bool udp;
	int wait_s; /* -w; 0: not given */
	pthread_mutex_t mu;
	bool stop;	     /* under mu: main is done with fd */
	atomic_bool in_done; /* stdin ended or failed */
	_Atomic uint64_t in_done_ns;
	int in_err;	     /* errno of the sender's failure */
	const char *in_what; /* what failed: "send", "read stdin" */
	bool detached;	     /* the sender still runs: nc stays */
	char buf[NC_BUF];
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Send @p len bytes (one datagram for UDP) unless main is done.
 * @return 0, or -1 with nc->in_err set. */
static int nc_send(struct nc *nc, const char *p, size_t len)
{
	ssize_t n = 0;

	pthread_mutex_lock(&nc->mu);
	if (!nc->stop)
		n = rsk_send(nc->fd, p, len, MSG_NOSIGNAL);
	pthread_mutex_unlock(&nc->mu);
	if (n >= 0)
		return 0;
	nc->in_err = errno;
	nc->in_what = "send";
	return -1;
}

/* UDP: send the complete lines of buf[0, *have) (all of it at @p eof or
 * when full), keep the rest.  @return 0 or -1. */
static int udp_lines(struct nc *nc, size_t *have, bool eof)
{
	size_t off = 0;
	char *nl;

	while ((nl = memchr(nc->buf + off, '\n', *have - off)) != NULL) {
		size_t len = (size_t)(nl - (nc->buf + off)) + 1;

		if (nc_send(nc, nc->buf + off, len) < 0)
			return -1;
		off += len;
	}
	if ((eof || *have - off == NC_DGRAM_MAX) && *have > off) {
		if (nc_send(nc, nc->buf + off, *have - off) < 0)
			return -1;
		off = *have;
	}
	memmove(nc->buf, nc->buf + off, *have - off);
	*have -= off;
	return 0;
}

static void *sender(void *arg)
{
	struct nc *nc = arg;
	size_t have = 0, room;
	ssize_t n;

	for (;;) {
		room = (nc->udp ? NC_DGRAM_MAX : NC_BUF) - have;
		n = read(STDIN_FILENO, nc->buf + have, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			nc->in_err = errno;
			nc->in_what = "read stdin";
			break;
		}
		if (nc->udp) {
			have += (size_t)n;
			if (udp_lines(nc, &have, n == 0) < 0 || n == 0)
				break;
		} else if (n == 0 || nc_send(nc, nc->buf, (size_t)n) < 0) {
			break;
		}
	}
	pthread_mutex_lock(&nc->mu);
	if (!nc->udp && nc->in_err == 0 && !nc->stop &&
	    rsk_shutdown(nc->fd, SHUT_WR) < 0) {
		nc->in_err = errno;
		nc->in_what = "shutdown";
	}
	pthread_mutex_unlock(&nc->mu);
	atomic_store(&nc->in_done_ns, now_ns());
	atomic_store(&nc->in_done, true);
	return NULL;
}

/* TCP: receive until the peer closes.  @return 0, or -1 once the reason
 * is printed. */
static int tcp_pump(struct nc *nc, char *buf)
{
	ssize_t n;

	while ((n = rsk_recv(nc->fd, buf, NC_BUF, 0)) > 0)
		if (cli_write_out(buf, (size_t)n) < 0) {
			cli_err("nc", "write to stdout: %s", strerror(errno));
			return -1;
		}
	if (n < 0 && errno == EAGAIN)
		return 0; /* -w: idle for SECS */
	if (n < 0) {
		cli_err("nc", "receive: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* UDP: datagrams to stdout until -w seconds without one after stdin
 * ended.  @return 0, or -1 once the reason is printed. */
static int udp_pump(struct nc *nc, char *buf)
{
	uint64_t wait_ns =
	    (uint64_t)(nc->wait_s > 0 ? nc->wait_s : 1) * 1000000000ull;
	uint64_t last = 0;
	struct pollfd p = {.fd = nc->fd, .events = POLLIN};
	ssize_t n;

	for (;;) {
		if (atomic_load(&nc->in_done)) {
			uint64_t t = atomic_load(&nc->in_done_ns);

			if (now_ns() - (last > t ? last : t) >= wait_ns)
				return 0;
		}
		if (rsk_poll(&p, 1, 100) <= 0 ||
		    !(p.revents & (POLLIN | POLLERR)))
			continue;
		n = rsk_recv(nc->fd, buf, NC_DGRAM_MAX, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0) {
			cli_err("nc", "receive: %s", strerror(errno));
			return -1;
		}
		last = now_ns();
		if (cli_write_out(buf, (size_t)n) < 0) {
			cli_err("nc", "write to stdout: %s", strerror(errno));
			return -1;
		}
	}
}

static int nc_opt(int ch, const char *arg, void *ctx)
{
	struct nc *nc = ctx;
	char *end;
	long v;

	if (ch == 'u') {
		nc->udp = true;
		return -1;
	}
	v = strtol(arg, &end, 10);
	if (*arg == 0 || *end != 0 || v < 1 || v > 86400)
		return cli_usage("nc", "-w: '%s' is not seconds (1-86400)",
				 arg);
	nc->wait_s = (int)v;
	return -1;
}

/* Both directions on a connected socket; @return the exit status. */
static int nc_pump(struct nc *nc)
{
	char *buf = malloc(NC_BUF);
	pthread_t thr;
	int rc = 0;

	if (buf == NULL || pthread_create(&thr, NULL, sender, nc) != 0) {
		cli_err("nc", "cannot start: %s",
			strerror(errno ? errno : ENOMEM));
		free(buf);
		rsk_close(nc->fd);
		return CLI_FAIL;
	}
	rc = nc->udp ? udp_pump(nc, buf) : tcp_pump(nc, buf);
	pthread_mutex_lock(&nc->mu);
	nc->stop = true;
	rsk_close(nc->fd);
	pthread_mutex_unlock(&nc->mu);
	free(buf);
	if (atomic_load(&nc->in_done)) {
		pthread_join(thr, NULL);
		if (nc->in_err != 0 && rc == 0) {
			cli_err("nc", "%s: %s", nc->in_what,
				strerror(nc->in_err));
			rc = -1;
		}
	} else {
		pthread_detach(thr); /* still reading stdin: exit leaves it */
		nc->detached = true;
	}
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

static int nc_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"udp", no_argument, NULL, 'u'},
	    {"wait", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rsk_conn *c;
	struct nc *nc;
	int rc, port;

	nc = calloc(1, sizeof(*nc));
	if (nc == NULL) {
		cli_err("nc", "%s", strerror(ENOMEM));
		return CLI_FAIL;
	}
	pthread_mutex_init(&nc->mu, NULL);
	rc = cli_opts(&cli_nc, argc, argv, "uw:", longopts, nc_opt, nc);
	if (rc >= 0)
		goto out;
	rc = CLI_USAGE;
	if (argc - optind != 2) {
		cli_usage("nc", "%s",
			  argc - optind < 2 ? "HOST and PORT are needed"
					    : "too many arguments");
		goto out;
	}
	port = cli_port(argv[optind + 1]);
	if (port < 0) {
		cli_usage("nc", "'%s' is not a port (1-65535)",
			  argv[optind + 1]);
		goto out;
	}
	c = cli_connect("nc", &rc);
	if (c == NULL)
		goto out;
	/* TCP -w bounds the connect and each receive; UDP's waits in
	 * udp_pump(). */
	nc->fd = cli_dial("nc", c, argv[optind], port,
			  nc->udp ? SOCK_DGRAM : SOCK_STREAM,
			  nc->udp ? 0 : nc->wait_s);
	rc = nc->fd < 0 ? CLI_FAIL : nc_pump(nc);
	if (nc->detached)
		return rc; /* the sender still holds nc */
out:
	pthread_mutex_destroy(&nc->mu);
	free(nc);
	return rc;
}

const struct cli_cmd cli_nc = {"nc", nc_help, nc_run};
