/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kbase: remsockd's native remote socket service on Linux sockets, the
 * baseline of the remote socket benchmark -- what a careful engineer
 * writes without DPDK: one thread, epoll, non-blocking sockets, batched
 * reads and writes, no heap allocation per call once warm.
 *
 * One round of the loop:
 *   1. epoll_wait() (no wait while a connection has input left over,
 *      output to retry or calls to run again; else until the next
 *      deadline);
 *   2. each event: the listener accepts; a connection reads one chunk
 *      (KB_IN_CHUNK) and serves every frame in it; a proxied socket runs
 *      its parked calls again (kbase_sock.c);
 *   3. connections whose chunk was full read again, deadlines, calls
 *      whose socket closed, ReceiveBatches if any socket became readable;
 *   4. every connection with new replies gets one send() of all of them.
 *
 * Replies are packed by rs_rpc_dispatch() straight into the connection's
 * output buffer.  While more than KB_OUT_PAUSE bytes wait there, its
 * input is not read (and what was read but not served waits in a spill
 * buffer), and its parked Receives take no data, so a client that does
 * not read its replies stops only itself.
 * A connection's frames are at most 4 KiB until it authenticates, and a
 * frame above the maximum closes it: the stream cannot be resynchronised.
 */
#define _GNU_SOURCE /* accept4() */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kbase_pvt.h"

#define RPC_ERR(name) REMSOCK__RPC__RPC_ERROR_CODE__RPC_##name

#define EVENTS_MAX 256
#define ACCEPTS_MAX 64	       /* per round: the rest wait (level-triggered) */
#define OUT_FIRST (64u * 1024) /* a connection's first output buffer */
#define OUT_MIN (16u * 1024)   /* room made before each call */
#define APPS_MAX 64

static const char usage[] =
    "NAME\n"
    "    kbase - remsockd's remote socket service on Linux sockets, the\n"
    "    kernel baseline of the remote socket benchmark\n"
    "\n"
    "SYNOPSIS\n"
    "    kbase --app NAME=SECRET... [--listen IP:PORT] [--max-conns N]\n"
    "          [--max-sockets N] [--quiet]\n"
    "\n"
    "DESCRIPTION\n"
    "    Serves remsockd's native transport (TCP; each message a 4-byte\n"
    "    big-endian length and a protobuf RpcRequest or RpcResponse) with\n"
    "    the kernel's TCP: one thread, epoll, non-blocking sockets, all\n"
    "    frames of a read served at once, a round's replies written with\n"
    "    one send() per connection.  Calls are pipelined; one that waits\n"
    "    answers later, out of order; calls on one socket keep their order.\n"
    "\n"
    "OPTIONS\n"
    "    --listen IP:PORT   the RPC listener (default 127.0.0.1:5757); port\n"
    "                       0 takes a free one, which the ready line shows\n"
    "    --app NAME=SECRET  an app that may authenticate: repeatable, 1 to\n"
    "                       64, each part 1-255 bytes (visible to ps(1):\n"
    "                       test keys only)\n"
    "    --max-conns N      RPC connections at once (default 1024); more\n"
    "                       are accepted and closed\n"
    "    --max-sockets N    sockets per app (default 1024); CreateSocket\n"
    "                       beyond answers RPC_OVER_QUOTA\n"
    "    --quiet            no counters at exit\n"
    "    -h, --help         this text\n"
    "\n"
    "METHODS\n"
    "    remsock.Authenticate (the first call; a failed one closes the\n"
    "    connection), remsock.Stats; remote_socket.CreateSocket (IPv4 TCP,\n"
    "    with remote_ip: answers once connected), Connect, Send, SendBatch,\n"
    "    Receive, ReceiveBatch, Close, as remsockd answers them: stream\n"
    "    offsets, exactly-once Send (duplicates skipped, a gap refused\n"
    "    unless a Send before it waits), timeouts (-1 waits, 0 answers\n"
    "    EAGAIN), MSG_PEEK, EOF as empty data, ReceiveBatch waiting for\n"
    "    news on any entry, Close with send_offset waiting up to 30 s for\n"
    "    its Sends; errors are RemoteSocketServiceError with the errno.\n"
    "\n"
    "DIFFERENCES FROM REMSOCKD\n"
    "    UDP: EPROTONOSUPPORT.  Bind, Listen, Accept, ShutDown, Poll,\n"
    "    Resolve, Get/SetSocketOptions, GetSocketName, GetPeerName:\n"
    "    RPC_CALL_NOT_FOUND (CreateSocket takes proxy_external_ip and the\n"
    "    options SO_REUSEADDR, SO_KEEPALIVE, SO_SNDBUF, SO_RCVBUF,\n"
    "    TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT).  No bytes\n"
    "    are kept to be sent again: consumed_offset must equal the bytes\n"
    "    handed out (a plain Receive), else INVALID_REQUEST.  No ACL, no\n"
    "    idle reaping, no authentication timeout.\n"
    "\n"
    "LIMITS\n"
    "    Frames: 4 KiB before Authenticate, 4 MiB after (larger: the\n"
    "    connection closes).  Replies: Receive 1 MiB of data, ReceiveBatch\n"
    "    8 MiB.  Input stops while 4 MiB of replies wait on a connection.\n"
    "    Per app: 1024 parked calls, 128 MiB of their requests.\n"
    "\n"
    "OUTPUT, SIGNALS, EXIT STATUS\n"
    "    'kbase: ready on IP:PORT' once listening.  SIGINT or SIGTERM: stop,\n"
    "    print the counters, exit 0.  1: cannot start; 2: bad arguments.\n"
    "\n"
    "EXAMPLE\n"
    "    kbase --listen 127.0.0.1:5757 --app demo=demo-secret\n";

struct kb_opts {
	struct sockaddr_in listen;
	struct kb_app *apps;
	unsigned napps;
	uint32_t max_conns, max_socks;
	bool quiet;
};

/* ---- options ------------------------------------------------------------ */

__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "kbase: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see kbase --help)\n");
	va_end(ap);
	return -1;
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v == 0 ||
	    v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_listen(const char *arg, struct sockaddr_in *sa)
{
	char ip[INET_ADDRSTRLEN];
	const char *colon = strrchr(arg, ':');
	uint32_t port = 0;

	if (colon == NULL || (size_t)(colon - arg) >= sizeof(ip))
		return bad("--listen %s: not IP:PORT", arg);
	memcpy(ip, arg, (size_t)(colon - arg));
	ip[colon - arg] = '\0';
	*sa = (struct sockaddr_in){.sin_family = AF_INET};
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
		return bad("--listen %s: not an IPv4 address", arg);
	if (strcmp(colon + 1, "0") != 0 &&
	    parse_u32(colon + 1, 65535, &port) < 0)
		return bad("--listen %s: the port is not 0-65535", arg);
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

static int parse_app(const char *arg, struct kb_opts *o)
{
	const char *eq = strchr(arg, '=');
	struct kb_app *a = &o->apps[o->napps];
	size_t nlen = eq != NULL ? (size_t)(eq - arg) : 0;

	if (eq == NULL || nlen == 0 || eq[1] == '\0')
		return bad("--app %s: not NAME=SECRET", arg);
	if (nlen >= KB_CRED_MAX || strlen(eq + 1) >= KB_CRED_MAX)
		return bad("--app %s: NAME and SECRET are 255 bytes at most",
			   arg);
	if (o->napps == APPS_MAX)
		return bad("--app %s: 64 apps at most", arg);
	for (unsigned i = 0; i < o->napps; i++)
		if (o->apps[i].name_len == nlen &&
		    memcmp(o->apps[i].name, arg, nlen) == 0)
			return bad("--app %s: that app is given twice", arg);
	memcpy(a->name, arg, nlen);
	a->name_len = nlen;
	a->secret_len = strlen(eq + 1);
	memcpy(a->secret, eq + 1, a->secret_len);
	o->napps++;
	return 0;
}

/* @return 0, 1 (--help: done), or -1 (bad arguments, said why). */
static int opts_parse(int argc, char **argv, struct kb_opts *o)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"app", required_argument, NULL, 'a'},
	    {"max-conns", required_argument, NULL, 'c'},
	    {"max-sockets", required_argument, NULL, 's'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch, rc = 0;

	*o = (struct kb_opts){.max_conns = 1024, .max_socks = 1024};
	parse_listen("127.0.0.1:5757", &o->listen);
	o->apps = calloc(APPS_MAX, sizeof(*o->apps));
	if (o->apps == NULL)
		return bad("%s", "out of memory");
	opterr = 0;
	while (rc == 0 &&
	       (ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			rc = parse_listen(optarg, &o->listen);
			break;
		case 'a':
			rc = parse_app(optarg, o);
			break;
		case 'c':
			if (parse_u32(optarg, 1000000, &o->max_conns) < 0)
				rc = bad("--max-conns %s: not 1-1000000",
					 optarg);
			break;
		case 's':
			if (parse_u32(optarg, 1000000, &o->max_socks) < 0)
				rc = bad("--max-sockets %s: not 1-1000000",
					 optarg);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		case ':':
			rc = bad("%s needs a value", argv[optind - 1]);
			break;
		default:
			rc = bad("unknown option %s", argv[optind - 1]);
		}
	}
	if (rc == 0 && optind < argc)
		rc = bad("unexpected argument %s", argv[optind]);
	if (rc == 0 && o->napps == 0)
		rc = bad("%s", "no --app NAME=SECRET given");
	/* Descriptors name a slot in 24 bits. */
	if (rc == 0 && (uint64_t)o->napps * o->max_socks > (1u << 24))
		rc = bad("%s", "--max-sockets x apps is above 16777216");
	return rc;
}

/* ---- connections -------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t out_pending(const struct kb_conn *c)
{
	return c->out_len - c->out_off;
}

static void more_add(struct kb *kb, struct kb_conn *c)
{
	if (!c->in_more && !c->dead) {
		c->in_more = true;
		TAILQ_INSERT_TAIL(&kb->more, c, more_link);
	}
}

static void dirty_add(struct kb *kb, struct kb_conn *c)
{
	if (!c->in_dirty && !c->dead) {
		c->in_dirty = true;
		TAILQ_INSERT_TAIL(&kb->dirty, c, dirty_link);
	}
}

/* Room for @p need more bytes of output: the written part is dropped
 * first, then the buffer grows. */
static int out_room(struct kb_conn *c, size_t need)
{
	size_t cap;
	uint8_t *p;

	if (c->out_cap - c->out_len >= need)
		return 0;
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, out_pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_cap - c->out_len >= need)
			return 0;
	}
	cap = c->out_cap ? c->out_cap : OUT_FIRST;
	while (cap - c->out_len < need)
		cap *= 2;
	p = realloc(c->out, cap);
	if (p == NULL)
		return -ENOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

static void conn_close(struct kb *kb, struct kb_conn *c)
{
	if (c->dead)
		return;
	kb_conn_waits_cancel(kb, c);
	c->dead = true;
	close(c->fd);
	kb->out_bytes -= out_pending(c);
	if (c->in_more)
		TAILQ_REMOVE(&kb->more, c, more_link);
	if (c->in_dirty)
		TAILQ_REMOVE(&kb->dirty, c, dirty_link);
	TAILQ_REMOVE(&kb->conns, c, link);
	TAILQ_INSERT_TAIL(&kb->dead, c, link); /* events may still name it */
	kb->nconns--;
	kb->st.conns_closed++;
}

/* No more input: its calls are cancelled, the replies made go out, then
 * the connection closes. */
static void conn_finish(struct kb *kb, struct kb_conn *c)
{
	c->eof = true;
	kb_conn_waits_cancel(kb, c);
	free(c->spill);
	c->spill = NULL;
	c->spill_len = 0;
	dirty_add(kb, c);
}

void kb_conn_call(struct kb *kb, struct kb_conn *c, const uint8_t *frame,
		  size_t len, struct kb_wait *wt, bool expired)
{
	struct kb_call x = {.kb = kb, .c = c, .wait = wt, .expired = expired};
	struct rs_rpc_env env = {
	    .registry = kb->reg,
	    .arena = kb->arena,
	    .ctx = &x,
	    .plane = RS_RPC_PLANE_DATA,
	};
	struct rs_rpc_call call;
	size_t olen = 0;
	int rc;

	kb->st.calls += wt == NULL;
	rs_arena_reset(kb->arena);
	rc = out_room(c, OUT_MIN);
	if (rc == 0)
		rc = rs_rpc_dispatch(&env, frame, len, &call,
				     c->out + c->out_len,
				     c->out_cap - c->out_len, &olen);
	if (rc == -ENOSPC) /* the reply waits in the arena */
		rc = out_room(c, olen) < 0
			 ? -ENOMEM
			 : rs_rpc_call_respond(&call, call.resp,
					       c->out + c->out_len,
					       c->out_cap - c->out_len, &olen);
	if (rc == RS_RPC_PARKED)
		return; /* wt, if any, is linked again */
	if (rc < 0) {	/* no memory for a reply: the connection ends */
		c->doomed = c->eof = true;
		olen = 0;
	}
	c->out_len += olen;
	kb->out_bytes += olen;
	dirty_add(kb, c);
	if (wt != NULL)
		kb_wait_free(kb, wt);
}

/* Serve the frames in @p p while the connection takes calls.
 * @return the bytes taken, or -1 when the stream is broken. */
static ssize_t feed(struct kb *kb, struct kb_conn *c, const uint8_t *p,
		    size_t len)
{
	struct rs_frame fr;
	size_t off = 0, used;
	int rc;

	while (off < len && !c->doomed && out_pending(c) <= KB_OUT_PAUSE) {
		rc = rs_frame_decode(c->dec, p + off, len - off, &used, &fr);
		off += used;
		if (rc < 0)
			return -1;
		if (rc == RS_FRAME_READY)
			kb_conn_call(kb, c, fr.data, fr.len, NULL, false);
	}
	return (ssize_t)off;
}

/* After feeding @p len bytes at @p p: what the connection did not take
 * waits in its spill buffer (@p p may be that buffer).  @return false
 * when the connection takes no more input now. */
static bool fed(struct kb *kb, struct kb_conn *c, const uint8_t *p, size_t len,
		ssize_t used)
{
	uint8_t *keep;

	if (used < 0) {
		conn_close(kb, c);
		return false;
	}
	if (c->doomed) {
		conn_finish(kb, c);
		return false;
	}
	if ((size_t)used == len)
		return true;
	keep = p == c->spill ? c->spill : malloc(len - (size_t)used);
	if (keep == NULL) {
		conn_close(kb, c);
		return false;
	}
	memmove(keep, p + used, len - (size_t)used);
	c->spill = keep;
	c->spill_len = len - (size_t)used;
	c->paused = true;
	return false;
}

static void conn_input(struct kb *kb, struct kb_conn *c)
{
	ssize_t n;

	if (c->dead || c->eof || c->paused)
		return;
	if (out_pending(c) > KB_OUT_PAUSE) {
		c->paused = true;
		return;
	}
	if (c->spill_len > 0) {
		uint8_t *p = c->spill;
		size_t len = c->spill_len;

		c->spill_len = 0;
		if (!fed(kb, c, p, len, feed(kb, c, p, len)))
			return;
		free(c->spill);
		c->spill = NULL;
	}
	n = recv(c->fd, kb->in, KB_IN_CHUNK, 0);
	if (n > 0) {
		/* A full chunk may have more behind it, and after the FIN
		 * only a read finds the EOF: read again this round, after
		 * the others had their turn. */
		if ((size_t)n == KB_IN_CHUNK || c->rdhup)
			more_add(kb, c);
		fed(kb, c, kb->in, (size_t)n, feed(kb, c, kb->in, (size_t)n));
	} else if (n == 0) {
		conn_finish(kb, c);
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		conn_close(kb, c);
	}
}

/* One send() of everything waiting. */
static void conn_flush(struct kb *kb, struct kb_conn *c)
{
	size_t pend = out_pending(c);
	ssize_t n;

	if (pend > 0 && !c->blocked) {
		n = send(c->fd, c->out + c->out_off, pend, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			dirty_add(kb, c);
			return;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_close(kb, c);
			return;
		}
		n = n < 0 ? 0 : n;
		c->out_off += (size_t)n;
		kb->out_bytes -= (size_t)n;
		pend -= (size_t)n;
		if (pend > 0)
			c->blocked = true; /* until EPOLLOUT */
		else
			c->out_off = c->out_len = 0;
	}
	if (c->eof && pend == 0) {
		conn_close(kb, c);
		return;
	}
	if (c->paused && pend <= KB_OUT_PAUSE) {
		c->paused = false;
		more_add(kb, c); /* edge-triggered: no event for old input */
	}
	if (c->held && pend <= KB_OUT_PAUSE) {
		c->held = false;
		kb_conn_waits_kick(kb, c);
	}
}

static void conn_event(struct kb *kb, struct kb_conn *c, uint32_t events)
{
	if (c->dead)
		return;
	/* An error or a hang-up of both directions: no reply can arrive. */
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_close(kb, c);
		return;
	}
	if (events & EPOLLOUT) {
		c->blocked = false;
		if (out_pending(c) > 0)
			dirty_add(kb, c);
	}
	c->rdhup |= (events & EPOLLRDHUP) != 0;
	if (events & (EPOLLIN | EPOLLRDHUP))
		conn_input(kb, c);
}

static int conn_new(struct kb *kb, int fd)
{
	struct epoll_event ev = {.events =
				     EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
	struct kb_conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (c == NULL)
		return -ENOMEM;
	c->fd = fd;
	c->app = -1;
	TAILQ_INIT(&c->waits);
	c->dec = rs_frame_decoder_create(KB_UNAUTH_FRAME_MAX);
	/* kbase batches its replies itself: Nagle would only delay them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev.data.u64 = (uintptr_t)c;
	if (c->dec == NULL || epoll_ctl(kb->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rs_frame_decoder_destroy(c->dec);
		free(c);
		return -errno;
	}
	TAILQ_INSERT_TAIL(&kb->conns, c, link);
	kb->nconns++;
	kb->st.conns_accepted++;
	return 0;
}

/* Out of file descriptors: the spare one makes room to accept a
 * connection and close it, so it does not wait in the backlog for
 * ever (the listener is level-triggered). */
static void refuse_one(struct kb *kb)
{
	int fd;

	if (kb->spare_fd < 0)
		return;
	close(kb->spare_fd);
	fd = accept4(kb->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		kb->st.conns_refused++;
	}
	kb->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void accept_some(struct kb *kb)
{
	for (int i = 0; i < ACCEPTS_MAX; i++) {
		int fd =
		    accept4(kb->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			refuse_one(kb);
			return;
		}
		if (fd < 0 && (errno == ECONNABORTED || errno == EINTR))
			continue;
		if (fd < 0) /* EAGAIN, or nothing we can do now */
			return;
		if (kb->nconns >= kb->max_conns || conn_new(kb, fd) < 0) {
			close(fd);
			kb->st.conns_refused++;
		}
	}
}

/* ---- the loop ----------------------------------------------------------- */

static void event(struct kb *kb, const struct epoll_event *ev)
{
	struct signalfd_siginfo si;

	switch (ev->data.u64 & 3) {
	case KB_EV_CONN:
		conn_event(kb, (struct kb_conn *)(uintptr_t)ev->data.u64,
			   ev->events);
		break;
	case KB_EV_SOCK:
		kb_sock_event(kb, ev->data.u64, ev->events);
		break;
	case KB_EV_LISTEN:
		accept_some(kb);
		break;
	default:
		while (read(kb->sfd, &si, sizeof(si)) == sizeof(si))
			kb->stop = true;
	}
}

/* Steps 3 and 4 of a round. */
static void round_end(struct kb *kb)
{
	struct kb_conn_list todo = TAILQ_HEAD_INITIALIZER(todo);
	struct kb_conn *c;

	TAILQ_CONCAT(&todo, &kb->more, more_link);
	while ((c = TAILQ_FIRST(&todo)) != NULL) {
		TAILQ_REMOVE(&todo, c, more_link);
		c->in_more = false;
		conn_input(kb, c);
	}
	kb_timers_run(kb);
	while (!TAILQ_EMPTY(&kb->ready))
		kb_waits_run(kb, &kb->ready);
	if (kb->any_rx) {
		kb->any_rx = false;
		kb_waits_run(kb, &kb->multi);
	}
	TAILQ_CONCAT(&todo, &kb->dirty, dirty_link);
	while ((c = TAILQ_FIRST(&todo)) != NULL) {
		TAILQ_REMOVE(&todo, c, dirty_link);
		c->in_dirty = false;
		conn_flush(kb, c);
	}
	while ((c = TAILQ_FIRST(&kb->dead)) != NULL) {
		TAILQ_REMOVE(&kb->dead, c, link);
		rs_frame_decoder_destroy(c->dec);
		free(c->out);
		free(c->spill);
		free(c);
	}
}

static int kb_run(struct kb *kb)
{
	struct epoll_event ev[EVENTS_MAX];
	int n, timeout;

	while (!kb->stop) {
		kb->now_ns = now_ns();
		timeout = TAILQ_EMPTY(&kb->more) && TAILQ_EMPTY(&kb->dirty) &&
				  TAILQ_EMPTY(&kb->ready)
			      ? kb_timers_next_ms(kb)
			      : 0;
		n = epoll_wait(kb->ep, ev, EVENTS_MAX, timeout);
		if (n < 0 && errno != EINTR) {
			perror("kbase: epoll_wait");
			return -1;
		}
		kb->now_ns = now_ns();
		for (int i = 0; i < n; i++)
			event(kb, &ev[i]);
		round_end(kb);
	}
	return 0;
}

/* ---- setup -------------------------------------------------------------- */

/* Room for every connection and socket the limits allow. */
static void fd_limit(const struct kb *kb)
{
	rlim_t need = (rlim_t)kb->max_conns + kb->socks_cap + 32;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need)
		fprintf(stderr,
			"kbase: warning: RLIMIT_NOFILE is %llu, the limits "
			"may need %llu descriptors\n",
			(unsigned long long)rl.rlim_cur,
			(unsigned long long)need);
}

static int listen_open(struct kb *kb, struct sockaddr_in *sa, char *err,
		       size_t errlen)
{
	socklen_t len = sizeof(*sa);
	int one = 1;

	kb->lfd =
	    socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (kb->lfd < 0 ||
	    setsockopt(kb->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) <
		0 ||
	    bind(kb->lfd, (struct sockaddr *)sa, sizeof(*sa)) < 0 ||
	    listen(kb->lfd, SOMAXCONN) < 0 ||
	    getsockname(kb->lfd, (struct sockaddr *)sa, &len) < 0) {
		snprintf(err, errlen, "listen on %s:%u: %s",
			 inet_ntoa(sa->sin_addr), ntohs(sa->sin_port),
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int epoll_add(struct kb *kb, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(kb->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* On failure kb_close() undoes what was done. */
static int kb_open(struct kb *kb, struct kb_opts *o, char *err, size_t errlen)
{
	struct rs_arena_conf ac = {
	    .first_size = 64 * 1024,
	    .keep = 24u << 20,	/* a 4 MiB Send decodes into ~8 MiB */
	    .limit = 64u << 20, /* what one request may decode into */
	};
	sigset_t mask;

	*kb = (struct kb){.ep = -1, .lfd = -1, .sfd = -1, .spare_fd = -1};
	kb->apps = o->apps;
	kb->napps = o->napps;
	kb->max_conns = o->max_conns;
	kb->max_socks = o->max_socks;
	kb->quiet = o->quiet;
	TAILQ_INIT(&kb->ready);
	TAILQ_INIT(&kb->multi);
	TAILQ_INIT(&kb->spare);
	TAILQ_INIT(&kb->conns);
	TAILQ_INIT(&kb->dead);
	TAILQ_INIT(&kb->more);
	TAILQ_INIT(&kb->dirty);
	if (kb_socks_init(kb, o->napps * o->max_socks) < 0)
		goto err_nomem;
	kb->arena = rs_arena_create(&ac);
	kb->reg = rs_rpc_registry_create();
	kb->in = malloc(KB_IN_CHUNK);
	if (kb->arena == NULL || kb->reg == NULL || kb->in == NULL ||
	    kb_rpc_register(kb->reg) < 0)
		goto err_nomem;
	fd_limit(kb);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	kb->ep = epoll_create1(EPOLL_CLOEXEC);
	if (kb->ep < 0 || sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (kb->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    epoll_add(kb, kb->sfd, KB_EV_SIGNAL) < 0) {
		snprintf(err, errlen, "epoll, signalfd: %s", strerror(errno));
		return -1;
	}
	if (listen_open(kb, &o->listen, err, errlen) < 0)
		return -1;
	if (epoll_add(kb, kb->lfd, KB_EV_LISTEN) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	kb->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
err_nomem:
	snprintf(err, errlen, "out of memory (%u sockets)", kb->socks_cap);
	return -1;
}

static void kb_close(struct kb *kb)
{
	struct kb_conn *c;

	/* Connections first: their calls go, and with them CreateSockets'
	 * sockets not handed out yet. */
	while ((c = TAILQ_FIRST(&kb->conns)) != NULL)
		conn_close(kb, c);
	round_end(kb);
	kb_socks_fini(kb);
	kb_waits_fini(kb);
	rs_rpc_registry_destroy(kb->reg);
	rs_arena_destroy(kb->arena);
	free(kb->in);
	free(kb->apps);
	if (kb->spare_fd >= 0)
		close(kb->spare_fd);
	if (kb->lfd >= 0)
		close(kb->lfd);
	if (kb->sfd >= 0)
		close(kb->sfd);
	if (kb->ep >= 0)
		close(kb->ep);
}

int main(int argc, char **argv)
{
	struct kb_opts o;
	struct kb kb;
	char err[256];
	int rc = opts_parse(argc, argv, &o);

	if (rc != 0) {
		free(o.apps);
		return rc > 0 ? 0 : 2;
	}
	if (kb_open(&kb, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "kbase: %s\n", err);
		kb_close(&kb);
		return 1;
	}
	printf("kbase: ready on %s:%u\n", inet_ntoa(o.listen.sin_addr),
	       ntohs(o.listen.sin_port));
	fflush(stdout);
	rc = kb_run(&kb);
	if (!kb.quiet) {
		printf("kbase: stopped: %llu calls served, %llu connections "
		       "(%llu refused, %u open), %llu sockets (%u open), "
		       "%llu calls parked (%llu timed out, %llu cancelled)\n",
		       (unsigned long long)kb.st.calls,
		       (unsigned long long)kb.st.conns_accepted,
		       (unsigned long long)kb.st.conns_refused, kb.nconns,
		       (unsigned long long)kb.st.socks_created, kb.nsocks,
		       (unsigned long long)kb.st.parked,
		       (unsigned long long)kb.st.expired,
		       (unsigned long long)kb.st.cancelled);
		fflush(stdout);
	}
	kb_close(&kb);
	return rc < 0 ? 1 : 0;
}
