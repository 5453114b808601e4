/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The transport to remsockd and its I/O thread.
 *
 * A transport connection is a kernel TCP connection to [rpc] listen_port
 * (or TLS 1.3 to [rpc] tls_port, when $REMSOCK_TLS_CA names the CA that
 * signed the proxy's certificate: tls.c) that opens with
 * remsock.Authenticate (call id 0).  Callers write their
 * frames themselves (under wmu); the I/O thread only reads: it decodes the
 * replies and completes the calls they answer.  When the transport breaks
 * (EOF, an error, a frame that does not decode) the thread:
 *
 *  1. marks it down and fails the calls that are not safe to send twice
 *     (no RSK_CALL_RETRY) with ECONNRESET;
 *  2. reconnects and re-authenticates, backing off from 10 ms to 1 s;
 *     after reconnect_timeout_ms it fails all waiting calls with ENOTCONN
 *     and new calls fail at once, until a reconnect succeeds; a refused
 *     Authenticate fails them with EACCES and ends the attempts;
 *  3. on success sends every call still in the table again, in start order
 *     (Sends carry stream offsets and Receives consumed offsets, so the
 *     proxy takes each byte once and hands out again what a lost reply
 *     carried), holding both locks so no new call overtakes them.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "conn_pvt.h"
#include "rs_frame.h"

#define RBUF_LEN (256u << 10)
#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000

/* An environment variable's value, NULL when unset or empty. */
static const char *env_set(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- writing ------------------------------------------------------------ */

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Whether the test hook's count says to break the transport now, after
 * @p len more bytes on the counter @p count. */
static bool drop_due(struct rsk_conn *c, uint64_t *count, size_t len)
{
	uint64_t every = atomic_load(&c->drop_every);

	if (every == 0)
		return false;
	*count += len;
	if (*count < every)
		return false;
	*count = 0;
	return true;
}

/* Bytes to the transport @p fd, in TLS records through @p tls if set. */
static int conn_send(int fd, struct rskp_tls *tls, const uint8_t *p, size_t len)
{
	return tls != NULL ? rskp_tls_write(tls, p, len)
			   : write_all(fd, p, len);
}

/* @return bytes from the transport, 0 at its end, -EAGAIN when none
 * came, or -errno. */
static ssize_t conn_recv(int fd, struct rskp_tls *tls, uint8_t *buf, size_t len)
{
	ssize_t n;

	if (tls != NULL)
		return rskp_tls_read(tls, buf, len);
	n = read(fd, buf, len);
	return n < 0 ? (errno == EINTR ? -EAGAIN : -errno) : n;
}

int rskp_conn_write(struct rsk_conn *c, const uint8_t *frame, size_t len)
{
	int rc = conn_send(c->fd, c->tls, frame, len);

	if (rc < 0 || drop_due(c, &c->drop_tx, len))
		shutdown(c->fd, SHUT_RDWR); /* a part of a frame may be out */
	return rc;
}

/* ---- opening a transport ------------------------------------------------ */

bool rskp_in_shim;

/* The transport's socket.  Under remsock-preload the program's socket()
 * is the shim's, which would send a libremsock.so in that program (the
 * remsock command in a shimmed shell) to the proxy through the proxy
 * itself: the shim exports libc's as remsock_preload_socket().  The
 * shim's own copy of this library (rskp_in_shim) keeps socket(), which
 * the shim wraps. */
static int transport_socket(int domain, int type)
{
	static int (*shim_socket)(int, int, int);

	if (!rskp_in_shim && shim_socket == NULL)
		shim_socket = (int (*)(int, int, int))dlsym(
		    RTLD_DEFAULT, "remsock_preload_socket");
	return !rskp_in_shim && shim_socket != NULL
		   ? shim_socket(domain, type, 0)
		   : socket(domain, type, 0);
}

static int tcp_connect(struct rsk_conn *c, int *fdp)
{
	struct pollfd p;
	int fd, one = 1, err = 0, rc;
	socklen_t elen = sizeof(err);

	fd = transport_socket(c->addr.sa.sa_family,
			      SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return -errno;
	rc = connect(fd, &c->addr.sa, c->addr_len);
	if (rc < 0 && errno == EINPROGRESS) {
		p = (struct pollfd){.fd = fd, .events = POLLOUT};
		rc = poll(&p, 1, c->connect_ms);
		if (rc == 0)
			err = ETIMEDOUT;
		else if (rc < 0 ||
			 getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
	} else if (rc < 0) {
		err = errno;
	}
	if (err != 0) {
		close(fd);
		return -err;
	}
	if (c->addr.sa.sa_family == AF_INET)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*fdp = fd;
	return 0;
}

/* Read until the Authenticate reply; 0, -EACCES, -ETIMEDOUT, -EPROTO. */
static int auth_reply(struct rsk_conn *c, int fd, struct rskp_tls *tls)
{
	int64_t until = now_ms() + c->connect_ms;
	struct rskp_resp r;
	struct rs_frame f;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t used;
	ssize_t n;
	int rc;

	rs_frame_decoder_reset(c->dec);
	c->auth_detail[0] = '\0';
	for (;;) {
		int64_t left = until - now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return -ETIMEDOUT;
		n = conn_recv(fd, tls, c->rbuf, RBUF_LEN);
		if (n == -EAGAIN)
			continue;
		if (n <= 0) /* a wrong secret closes the connection */
			return n == 0 ? -EACCES : (int)n;
		/* Nothing else is in flight: the first frame is the reply. */
		rc = rs_frame_decode(c->dec, c->rbuf, (size_t)n, &used, &f);
		if (rc < 0)
			return -EPROTO;
		if (rc == RS_FRAME_READY)
			break;
	}
	if (rskp_wire_response(f.data, f.len, &r) < 0 ||
	    r.call_id != RSKP_AUTH_ID)
		rc = -EPROTO;
	else if (r.rpc_code ==
		     REMSOCK__RPC__RPC_ERROR_CODE__RPC_UNAUTHENTICATED ||
		 r.rpc_code ==
		     REMSOCK__RPC__RPC_ERROR_CODE__RPC_SECURITY_VIOLATION) {
		rc = -EACCES;
		/* The proxy's words: a wrong secret, another app's client
		 * certificate, too many failures... */
		snprintf(c->auth_detail, sizeof(c->auth_detail), "%s",
			 r.detail != NULL ? r.detail : "");
	} else if (r.rpc_code != 0 || r.app_code != 0)
		rc = -EPROTO;
	else
		rc = 0;
	rskp_resp_clear(&r);
	return rc;
}

static int transport_open(struct rsk_conn *c, int *fdp, struct rskp_tls **tlsp)
{
	struct rskp_tls *tls = NULL;
	Remsock__Rpc__AuthenticateRequest a =
	    REMSOCK__RPC__AUTHENTICATE_REQUEST__INIT;
	uint8_t body[1024], *frame;
	size_t flen;
	int fd = -1, rc;

	a.app_id = c->app;
	a.has_secret = 1;
	a.secret.data = c->secret;
	a.secret.len = c->secret_len;
	a.has_session = c->session != 0;
	a.session = c->session;
	if (protobuf_c_message_get_packed_size(&a.base) > sizeof(body))
		return -EINVAL;
	rc = rskp_wire_request(RSKP_AUTH_ID, "remsock", "Authenticate", body,
			       protobuf_c_message_pack(&a.base, body), -1,
			       &frame, &flen);
	if (rc < 0)
		return rc;
	rc = tcp_connect(c, &fd);
	if (rc == 0 && c->tls_ctx != NULL)
		rc = rskp_tls_open(c->tls_ctx, fd, c->host, c->connect_ms, &tls,
				   c->tls_why, sizeof(c->tls_why));
	if (rc == 0)
		rc = conn_send(fd, tls, frame, flen);
	free(frame);
	if (rc == 0)
		rc = auth_reply(c, fd, tls);
	if (rc < 0) {
		rskp_tls_close(tls);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	*fdp = fd;
	*tlsp = tls;
	return 0;
}

/* ---- the I/O thread ----------------------------------------------------- */

/* One reply frame: complete its call.  @return 0, or -EPROTO. */
static int dispatch(struct rsk_conn *c, const uint8_t *data, size_t len)
{
	struct rsk_call *call;
	struct rskp_resp r;

	if (rskp_wire_response(data, len, &r) < 0)
		return -EPROTO;
	pthread_mutex_lock(&c->mu);
	call = rskp_table_take(c, r.call_id);
	pthread_mutex_unlock(&c->mu);
	if (call != NULL)
		rskp_call_complete(call, &r, 0);
	rskp_resp_clear(&r);
	return 0;
}

/* Read and dispatch until the transport breaks (0) or a stop (1). */
static int read_loop(struct rsk_conn *c, int fd, struct rskp_tls *tls)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
			      {.fd = c->stop_efd, .events = POLLIN}};
	struct rs_frame f;
	size_t used, off;
	ssize_t n;
	int rc;

	for (;;) {
		/* Bytes TLS decrypted already are not poll()'s to see. */
		if (tls == NULL || !rskp_tls_pending(tls)) {
			if (poll(p, 2, -1) < 0 && errno != EINTR)
				return 0;
			if (p[1].revents)
				return 1;
			if (!p[0].revents)
				continue;
		}
		n = conn_recv(fd, tls, c->rbuf, RBUF_LEN);
		if (n == -EAGAIN)
			continue;
		if (n <= 0)
			return 0;
		for (off = 0; off < (size_t)n; off += used) {
			rc = rs_frame_decode(c->dec, c->rbuf + off,
					     (size_t)n - off, &used, &f);
			if (rc < 0 || (rc == RS_FRAME_READY &&
				       dispatch(c, f.data, f.len) < 0))
				return 0;
			if (rc == RS_FRAME_READY &&
			    drop_due(c, &c->drop_rx, f.len)) {
				shutdown(fd, SHUT_RDWR);
				return 0;
			}
		}
	}
}

/* The transport broke: down, and fail what may not be sent twice. */
static void transport_down(struct rsk_conn *c)
{
	struct rsk_call *list;

	pthread_mutex_lock(&c->wmu);
	pthread_mutex_lock(&c->mu);
	c->up = false;
	rskp_tls_close(c->tls);
	c->tls = NULL;
	close(c->fd);
	c->fd = -1;
	list = rskp_table_take_all(c, false);
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_unlock(&c->wmu);
	rskp_calls_fail(list, -ECONNRESET);
}

/* A new transport: up, and send the waiting calls again. */
static void transport_up(struct rsk_conn *c, int fd, struct rskp_tls *tls)
{
	struct rsk_call *call;

	pthread_mutex_lock(&c->wmu);
	pthread_mutex_lock(&c->mu);
	c->fd = fd;
	c->tls = tls;
	c->gen++;
	c->up = true;
	c->down_err = 0;
	for (call = c->head; call != NULL; call = call->next) {
		call->reissued = call->reissued || call->gen != 0;
		call->gen = c->gen;
		if (conn_send(fd, tls, call->frame, call->flen) < 0) {
			shutdown(fd, SHUT_RDWR); /* the reader sees it */
			break;
		}
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_unlock(&c->wmu);
}

/* Fail everything waiting, and new calls, with @p err. */
static void give_up(struct rsk_conn *c, int err)
{
	struct rsk_call *list;

	pthread_mutex_lock(&c->mu);
	c->down_err = err;
	list = rskp_table_take_all(c, true);
	pthread_mutex_unlock(&c->mu);
	rskp_calls_fail(list, err);
}

/* Sleep @p ms unless told to stop.  @return true to stop. */
static bool nap(struct rsk_conn *c, int ms)
{
	struct pollfd p = {.fd = c->stop_efd, .events = POLLIN};

	return poll(&p, 1, ms) > 0;
}

static bool reconnect(struct rsk_conn *c)
{
	int64_t since = now_ms();
	int backoff = BACKOFF_MIN_MS, fd, rc;
	struct rskp_tls *tls;

	for (;;) {
		rc = transport_open(c, &fd, &tls);
		if (rc == 0) {
			atomic_fetch_add(&c->reconnects, 1);
			transport_up(c, fd, tls);
			return false;
		}
		if (rc == -EACCES) { /* the secret will not get better */
			give_up(c, -EACCES);
			return true;
		}
		if (c->reconnect_ms >= 0 &&
		    now_ms() - since > c->reconnect_ms && c->down_err == 0)
			give_up(c, -ENOTCONN);
		if (nap(c, backoff))
			return true;
		backoff =
		    backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
}

static void *io_thread(void *arg)
{
	struct rsk_conn *c = arg;

	while (read_loop(c, c->fd, c->tls) == 0) {
		transport_down(c);
		rs_frame_decoder_reset(c->dec);
		if (reconnect(c))
			break;
	}
	return NULL;
}

/* ---- opening and closing ------------------------------------------------ */

/* The connection the socket calls use (rsk_default_conn()). */
static pthread_mutex_t default_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rsk_conn *default_conn;

/* "unix:PATH" or "/PATH": a Unix socket that leads to the proxy (remsock
 * run --isolate's relay).  TLS checks $REMSOCK_TLS_NAME then. */
static int parse_unix(struct rsk_conn *c, const char *s)
{
	const char *path = s[0] == '/' ? s : s + 5;
	const char *name = getenv("REMSOCK_TLS_NAME");

	if (path[0] == 0 || strlen(path) >= sizeof(c->addr.un.sun_path)) {
		rskp_detail_set("proxy address '%.64s': a Unix socket's path "
				"of 1 to %zu bytes",
				s, sizeof(c->addr.un.sun_path) - 1);
		return -EINVAL;
	}
	c->addr.un.sun_family = AF_UNIX;
	strcpy(c->addr.un.sun_path, path);
	c->addr_len = sizeof(c->addr.un);
	snprintf(c->where, sizeof(c->where), "%.120s", path);
	snprintf(c->host, sizeof(c->host), "%s", name != NULL ? name : "");
	return 0;
}

static int parse_addr(struct rsk_conn *c, const char *s)
{
	char *host = c->host;
	size_t hostlen = sizeof(c->host);
	struct sockaddr_in *sa = &c->addr.in;
	const char *colon = strrchr(s, ':');
	struct addrinfo hints = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *res;
	unsigned long port = RSK_DEFAULT_PORT;
	size_t hlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
	char *end;
	int rc;

	if (hlen == 0 || hlen >= hostlen) {
		rskp_detail_set("proxy address '%.64s': no host name (give "
				"HOST or HOST:PORT)",
				s);
		return -EINVAL;
	}
	memcpy(host, s, hlen);
	host[hlen] = 0;
	if (colon != NULL) {
		port = strtoul(colon + 1, &end, 10);
		if (*end != 0 || end == colon + 1 || port == 0 ||
		    port > 65535) {
			rskp_detail_set("proxy address '%.64s': port '%.16s' "
					"is not a number from 1 to 65535",
					s, colon + 1);
			return -EINVAL;
		}
	}
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		rskp_detail_set("proxy address '%.64s': cannot resolve "
				"'%.64s' (%s)",
				s, host, gai_strerror(rc));
		return -EINVAL;
	}
	*sa = *(struct sockaddr_in *)res->ai_addr;
	sa->sin_port = htons((uint16_t)port);
	freeaddrinfo(res);
	c->addr_len = sizeof(*sa);
	inet_ntop(AF_INET, &sa->sin_addr, c->where, sizeof(c->where));
	snprintf(c->where + strlen(c->where),
		 sizeof(c->where) - strlen(c->where), ":%lu", port);
	return 0;
}

static int conn_config(struct rsk_conn *c, const struct rsk_conn_opts *o)
{
	const char *addr = o->addr != NULL ? o->addr : getenv("REMSOCK_ADDR");
	const char *app = o->app != NULL ? o->app : getenv("REMSOCK_APP");
	const char *secret =
	    o->secret != NULL ? o->secret : getenv("REMSOCK_SECRET");
	size_t slen = o->secret != NULL && o->secret_len > 0 ? o->secret_len
		      : secret != NULL			     ? strlen(secret)
							     : 0;
	const char *drop, *tls_ca;
	char why[256];

	if (addr == NULL || app == NULL || secret == NULL) {
		rskp_detail_set(
		    "%s is not set: export %s (or give it in "
		    "struct rsk_conn_opts)",
		    addr == NULL  ? "REMSOCK_ADDR"
		    : app == NULL ? "REMSOCK_APP"
				  : "REMSOCK_SECRET",
		    addr == NULL  ? "REMSOCK_ADDR=HOST[:PORT], the proxy's "
				    "address"
		    : app == NULL ? "REMSOCK_APP=APP_ID, an app of the "
				    "proxy's [apps]"
				  : "REMSOCK_SECRET, that app's secret");
		return -EINVAL;
	}
	if ((addr[0] == '/' || strncmp(addr, "unix:", 5) == 0
		 ? parse_unix(c, addr)
		 : parse_addr(c, addr)) < 0)
		return -EINVAL;
	tls_ca = getenv("REMSOCK_TLS_CA");
	if (tls_ca != NULL && tls_ca[0] != '\0') {
		c->tls_ctx =
		    rskp_tls_ctx(tls_ca, env_set("REMSOCK_TLS_CERT"),
				 env_set("REMSOCK_TLS_KEY"), why, sizeof(why));
		if (c->tls_ctx == NULL) {
			rskp_detail_set("%s", why);
			return -EINVAL;
		}
	}
	c->app = strdup(app);
	c->secret = malloc(slen + 1);
	if (c->app == NULL || c->secret == NULL)
		return -ENOMEM;
	memcpy(c->secret, secret, slen);
	c->secret_len = slen;
	c->connect_ms =
	    o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
	c->reconnect_ms =
	    o->reconnect_timeout_ms == 0 ? 10000 : o->reconnect_timeout_ms;
	if (getrandom(&c->session, sizeof(c->session), GRND_NONBLOCK) !=
	    sizeof(c->session))
		c->session = 0;
	drop = getenv("REMSOCK_TEST_DROP_BYTES");
	if (drop != NULL)
		atomic_store(&c->drop_every, strtoull(drop, NULL, 0));
	return 0;
}

/* rsk_last_detail() of a transport that did not open. */
static void open_detail(const struct rsk_conn *c, int rc)
{
	const char *w = c->where;
	unsigned port =
	    c->addr.sa.sa_family == AF_INET ? ntohs(c->addr.in.sin_port) : 0;

	switch (-rc) {
	case EACCES:
		if (c->auth_detail[0] != '\0')
			rskp_detail_set(
			    "the proxy at %s refused app "
			    "'%.64s': %s (REMSOCK_APP, "
			    "REMSOCK_SECRET%s)",
			    w, c->app, c->auth_detail,
			    c->tls_ctx != NULL ? ", REMSOCK_TLS_CERT" : "");
		else
			rskp_detail_set("the proxy at %s refused app "
					"'%.64s': wrong app id or secret "
					"(REMSOCK_APP, REMSOCK_SECRET), or the "
					"app is not in its [apps]",
					w, c->app);
		break;
	case ECONNREFUSED:
		if (port == 0)
			rskp_detail_set("nothing listens at %s", w);
		else
			rskp_detail_set("nothing listens at %s: is remsockd "
					"running, with [rpc] listen_port %u?",
					w, port);
		break;
	case ECONNRESET:
		rskp_detail_set("the proxy at %s reset the connection: is "
				"this host in its [rpc] clients?",
				w);
		break;
	case ETIMEDOUT:
		rskp_detail_set("no answer from %s within %d ms: is it "
				"the proxy's [net] ip, reached through the "
				"right interface?",
				w, c->connect_ms);
		break;
	case EPROTO:
		if (c->tls_why[0] != '\0')
			rskp_detail_set("%s: %s", w, c->tls_why);
		else
			rskp_detail_set("%s does not answer as remsockd "
					"does (is it the proxy's RPC port, not "
					"its HTTP one%s?)",
					w,
					c->tls_ctx == NULL
					    ? "; or its tls_port, which needs "
					      "REMSOCK_TLS_CA"
					    : "");
		break;
	default:
		rskp_detail_set("cannot reach the proxy at %s: %s", w,
				strerror(-rc));
	}
}

static void conn_free(struct rsk_conn *c)
{
	if (c->efd >= 0)
		close(c->efd);
	if (c->stop_efd >= 0)
		close(c->stop_efd);
	rs_frame_decoder_destroy(c->dec);
	free(c->rbuf);
	free(c->app);
	if (c->secret != NULL)
		explicit_bzero(c->secret, c->secret_len);
	free(c->secret);
	rskp_tls_ctx_free(c->tls_ctx);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->wmu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

void rskp_conn_unref(struct rsk_conn *c)
{
	if (atomic_fetch_sub(&c->refs, 1) == 1)
		conn_free(c);
}

static struct rsk_conn *conn_alloc(void)
{
	struct rsk_conn *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;

	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->wmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	c->fd = -1;
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->dec = rs_frame_decoder_create(RS_FRAME_MAX_HARD);
	c->rbuf = malloc(RBUF_LEN);
	atomic_init(&c->next_id, 1);
	atomic_init(&c->reconnects, 0);
	atomic_init(&c->refs, 1);
	return c;
}

struct rsk_conn *rsk_conn_open(const struct rsk_conn_opts *opts)
{
	static const struct rsk_conn_opts none;
	struct rsk_conn *c = conn_alloc();
	int rc = -ENOMEM;

	if (c == NULL)
		goto err;
	if (c->efd < 0 || c->stop_efd < 0 || c->dec == NULL || c->rbuf == NULL)
		goto err_free;
	rc = conn_config(c, opts != NULL ? opts : &none);
	if (rc < 0)
		goto err_free;
	rc = transport_open(c, &c->fd, &c->tls);
	if (rc < 0) {
		open_detail(c, rc);
		goto err_free;
	}
	c->gen = 1;
	c->up = true;
	rc = -pthread_create(&c->thr, NULL, io_thread, c);
	if (rc < 0)
		goto err_close;
	return c;

err_close:
	rskp_tls_close(c->tls);
	close(c->fd);
err_free:
	conn_free(c);
err:
	errno = -rc;
	return NULL;
}

void rsk_conn_close(struct rsk_conn *conn)
{
	uint64_t one = 1;
	struct rsk_call *list;

	if (conn == NULL)
		return;
	pthread_mutex_lock(&default_mu);
	if (default_conn == conn) /* the next socket call opens another */
		default_conn = NULL;
	pthread_mutex_unlock(&default_mu);
	pthread_mutex_lock(&conn->mu);
	conn->stopping = true;
	pthread_mutex_unlock(&conn->mu);
	if (write(conn->stop_efd, &one, sizeof(one)) < 0)
		perror("remsock: eventfd");
	pthread_join(conn->thr, NULL);
	pthread_mutex_lock(&conn->wmu);
	pthread_mutex_lock(&conn->mu);
	rskp_tls_close(conn->tls);
	conn->tls = NULL;
	if (conn->fd >= 0)
		close(conn->fd);
	conn->fd = -1;
	conn->up = false;
	list = rskp_table_take_all(conn, true);
	pthread_mutex_unlock(&conn->mu);
	pthread_mutex_unlock(&conn->wmu);
	rskp_calls_fail(list, -ECANCELED);
	rskp_conn_unref(conn);
}

int rsk_conn_event_fd(const struct rsk_conn *conn)
{
	return conn->efd;
}

int rsk_conn_drop(struct rsk_conn *conn)
{
	int rc = -ENOTCONN;

	pthread_mutex_lock(&conn->wmu);
	if (conn->up && conn->fd >= 0)
		rc = shutdown(conn->fd, SHUT_RDWR) < 0 ? -errno : 0;
	pthread_mutex_unlock(&conn->wmu);
	return rc;
}

void rsk_conn_drop_every(struct rsk_conn *conn, uint64_t bytes)
{
	pthread_mutex_lock(&conn->wmu);
	conn->drop_tx = 0;
	atomic_store(&conn->drop_every, bytes);
	pthread_mutex_unlock(&conn->wmu);
}

uint64_t rsk_conn_reconnects(const struct rsk_conn *conn)
{
	return atomic_load(&((struct rsk_conn *)conn)->reconnects);
}

uint64_t rsk_conn_calls(const struct rsk_conn *conn)
{
	return atomic_load(&((struct rsk_conn *)conn)->next_id) - 1;
}

/* ---- the default connection --------------------------------------------- */

struct rsk_conn *rsk_default_conn(void)
{
	struct rsk_conn *c;

	pthread_mutex_lock(&default_mu);
	if (default_conn == NULL)
		default_conn = rsk_conn_open(NULL);
	c = default_conn;
	pthread_mutex_unlock(&default_mu);
	return c;
}

void rskp_default_lock(void)
{
	pthread_mutex_lock(&default_mu);
}

void rskp_default_unlock(void)
{
	pthread_mutex_unlock(&default_mu);
}

void rsk_default_conn_set(struct rsk_conn *conn)
{
	pthread_mutex_lock(&default_mu);
	default_conn = conn;
	pthread_mutex_unlock(&default_mu);
}
