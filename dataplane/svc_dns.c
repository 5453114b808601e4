/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Resolve's DNS half: c-ares on the worker, its sockets the userspace
 * stack's UDP sockets.
 *
 * Control answers numeric names and [hosts] itself and sends the rest
 * here (EXEC).  Each worker has one c-ares channel with [dns] servers,
 * timeout and tries, no search domains and no hosts file ("b" lookups).
 * ares_set_socket_functions() routes its sockets through rs_sock: a
 * "file descriptor" is an index into this worker's small socket table
 * plus FD_BASE, which no kernel descriptor of ours is near.  The
 * kernel's resolver and sockets are never used.  TCP (for truncated
 * answers) is refused, so c-ares keeps to UDP.
 *
 * A Resolve parks quietly (only its own answer wakes it) with its query
 * record attached to the wait; the c-ares callback fills the record and
 * wakes the call, whose second run answers.  A call cancelled or timed
 * out before the answer leaves the record orphaned: the callback frees it.
 * Socket readiness drives ares_process_fd() from the sockets' event
 * callback; timeouts are looked at every TIMEOUT_CHECK_NS while queries
 * are out.
 *
 * A reload publishes a new [dns] (rs_svc_shared.dns, its generation
 * bumped): the worker's next poll opens a channel on it for new queries
 * and keeps the old one, polled, until its queries are answered, then
 * closes it.  Nothing asked is lost.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "rs_config.h"
#include "svc_pvt.h"

#define ERR(name) REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__##name
#define GAI(name) REMSOCK__RESOLVE_REPLY__ERROR_CODE__SOCKET_EAI_##name

#define FD_BASE 1000000
/* c-ares' sockets: one per server. */
#define DNS_FDS 16
/* Queries out at once, each on a port of its own. */
#define DNS_PORTS 256
#define DNS_ADDRS 16
/* Aliases (CNAMEs) kept for a Resolve's reply, at most. */
#define DNS_ALIASES 8
#define TIMEOUT_CHECK_NS (10ull * 1000 * 1000)

struct svc_dns;

/* One query sent: the port it went from, open until its answer. */
struct dns_port {
	struct rs_sock *s; /* NULL: free */
	struct svc_dns *d;
	uint64_t born_ns;
	uint8_t id[2]; /* the query's ID, as sent */
	uint16_t fd;   /* the c-ares socket it was sent on, less FD_BASE */
};

struct svc_dns {
	struct svc_worker *w;
	ares_channel ch;
	bool fd_open[DNS_FDS];
	struct sockaddr_in server[DNS_FDS]; /* what each one "connected" to */
	struct dns_port ports[DNS_PORTS];
	unsigned nports;       /* ports open */
	uint64_t port_life_ns; /* the longest one try waits, twice */
	unsigned pending;      /* queries not answered yet */
	uint64_t next_check_ns;
};

struct dns_q {
	struct svc_dns *dns;
	struct svc_wait *wt; /* the parked call; NULL before it parks */
	bool done, orphan;
	int status;
	uint32_t n, n6;
	uint32_t addr[DNS_ADDRS];
	uint8_t addr6[DNS_ADDRS][16]; /* AAAA records, when IPv6 was asked */
	char canon[256];
	/* The names CNAMEs led from (gethostbyname_ex()'s alias list). */
	char aliases[DNS_ALIASES][256];
	uint32_t naliases;
};

/* ---- c-ares' sockets ---------------------------------------------------- */

/*
 * A c-ares socket is a server's address, not a stack socket: each query
 * (each try of one) goes out from a stack UDP socket of its own, bound to
 * a random port (RFC 5452 section 9.2; RFC 6056 algorithm 1, since the
 * port is picked before the server is known), and that port takes one
 * datagram carrying the query's ID from the server and then closes.  So
 * an answer is matched on the server's address (the stack socket is
 * connected), the port and the ID (here) and the question (c-ares); a
 * forger must guess the port as well as the ID.  Datagrams that are not
 * the answer are dropped and counted (rpc.dns_dropped).  A port also
 * closes when no query is out any more, when it is older than the
 * longest one try may wait (twice), and, when DNS_PORTS are open, for a
 * new query (the oldest first: its try then times out and c-ares asks
 * again).
 */

static int fd_index(const struct svc_dns *d, ares_socket_t fd)
{
	unsigned i = (unsigned)(fd - FD_BASE);

	return fd >= FD_BASE && i < DNS_FDS && d->fd_open[i] ? (int)i : -1;
}

static void port_close(struct dns_port *p)
{
	if (p->s == NULL)
		return;
	rs_sock_close(p->s);
	p->s = NULL;
	p->d->nports--;
}

static void dns_port_event(struct rs_sock *s, unsigned ev, void *user)
{
	struct dns_port *p = user;

	if (p->s == s && (ev & RS_SOCK_EV_READABLE))
		ares_process_fd(p->d->ch, FD_BASE + p->fd, ARES_SOCKET_BAD);
}

/* A port for a query: a free slot, else the oldest's. */
static struct dns_port *port_take(struct svc_dns *d)
{
	struct dns_port *old = &d->ports[0];

	for (unsigned i = 0; i < DNS_PORTS; i++) {
		if (d->ports[i].s == NULL)
			return &d->ports[i];
		if (d->ports[i].born_ns < old->born_ns)
			old = &d->ports[i];
	}
	port_close(old);
	return old;
}

static ares_socket_t dns_socket(int domain, int type, int proto, void *user)
{
	struct svc_dns *d = user;

	(void)proto;
	if (domain != AF_INET || type != SOCK_DGRAM) {
		errno = EAFNOSUPPORT;
		return ARES_SOCKET_BAD;
	}
	for (unsigned i = 0; i < DNS_FDS; i++) {
		if (d->fd_open[i])
			continue;
		d->fd_open[i] = true;
		memset(&d->server[i], 0, sizeof(d->server[i]));
		return FD_BASE + (int)i;
	}
	errno = EMFILE;
	return ARES_SOCKET_BAD;
}

static int dns_close(ares_socket_t fd, void *user)
{
	struct svc_dns *d = user;
	int i = fd_index(d, fd);

	if (i < 0)
		return -1;
	for (unsigned k = 0; k < DNS_PORTS; k++)
		if (d->ports[k].fd == i)
			port_close(&d->ports[k]);
	d->fd_open[i] = false;
	return 0;
}

static int dns_connect(ares_socket_t fd, const struct sockaddr *sa,
		       ares_socklen_t len, void *user)
{
	struct svc_dns *d = user;
	int i = fd_index(d, fd);

	if (i < 0 || sa->sa_family != AF_INET ||
	    len < sizeof(struct sockaddr_in)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(&d->server[i], sa, sizeof(d->server[i]));
	return 0;
}

static ares_ssize_t dns_recvfrom(ares_socket_t fd, void *buf, size_t len,
				 int flags, struct sockaddr *from,
				 ares_socklen_t *fromlen, void *user)
{
	struct svc_dns *d = user;
	int i = fd_index(d, fd);
	struct sockaddr_in sin;
	ssize_t n = -EAGAIN;

	(void)flags;
	if (i < 0) {
		errno = EBADF;
		return -1;
	}
	for (unsigned k = 0; k < DNS_PORTS && n == -EAGAIN; k++) {
		struct dns_port *p = &d->ports[k];

		while (p->s != NULL && p->fd == i) {
			n = rs_sock_recvfrom(p->s, buf, len, 0, &sin);
			if (n < 0)
				break;
			if (n >= 2 && memcmp(buf, p->id, 2) == 0) {
				port_close(p); /* its one answer */
				break;
			}
			SVC_CNT_INC(d->w, dns_dropped);
			n = -EAGAIN;
		}
	}
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	if (from != NULL && fromlen != NULL && *fromlen >= sizeof(sin)) {
		memcpy(from, &sin, sizeof(sin));
		*fromlen = sizeof(sin);
	}
	return n;
}

static ares_ssize_t dns_sendv(ares_socket_t fd, const struct iovec *iov, int n,
			      void *user)
{
	const struct sockaddr_in any = {.sin_family = AF_INET};
	struct svc_dns *d = user;
	int i = fd_index(d, fd);
	struct dns_port *p;
	uint8_t buf[4096];
	size_t len = 0;
	ssize_t rc;

	if (i < 0 || d->server[i].sin_family != AF_INET) {
		errno = EBADF;
		return -1;
	}
	for (int k = 0; k < n; k++) {
		if (iov[k].iov_len > sizeof(buf) - len) {
			errno = EMSGSIZE;
			return -1;
		}
		memcpy(buf + len, iov[k].iov_base, iov[k].iov_len);
		len += iov[k].iov_len;
	}
	if (len < 2) {
		errno = EINVAL;
		return -1;
	}
	p = port_take(d);
	p->s = rs_sock_open(d->w->lc, RS_SOCK_UDP, dns_port_event, p);
	if (p->s == NULL) {
		errno = ENOMEM;
		return -1;
	}
	d->nports++;
	p->d = d;
	p->fd = (uint16_t)i;
	p->born_ns = rs_lcore_now_ns(d->w->lc);
	memcpy(p->id, buf, 2);
	rc = rs_sock_bind(p->s, &any); /* a random port */
	if (rc == 0)
		rc = rs_sock_connect(p->s, &d->server[i]);
	if (rc == 0)
		rc = rs_sock_send(p->s, buf, len, 0);
	if (rc < 0) {
		port_close(p);
		errno = (int)-rc;
		return -1;
	}
	return rc;
}

static const struct ares_socket_functions dns_funcs = {
    .asocket = dns_socket,
    .aclose = dns_close,
    .aconnect = dns_connect,
    .arecvfrom = dns_recvfrom,
    .asendv = dns_sendv,
};

/* ---- the channel -------------------------------------------------------- */

/* A channel on [dns] @p c; NULL with none (no servers) or on failure
 * (*rc < 0). */
static struct svc_dns *dns_open(struct svc_worker *w,
				const struct rs_config_dns *c, int *err)
{
	struct ares_options o = {
	    .flags = ARES_FLAG_NOSEARCH,
	    .timeout = (int)c->timeout_ms,
	    .tries = (int)c->tries,
	    .lookups = (char *)"b",
	};
	char csv[RS_CONFIG_DNS_MAX * 16], ip[INET_ADDRSTRLEN];
	struct svc_dns *d;
	size_t used = 0;
	int rc;

	*err = 0;
	if (c->nservers == 0)
		return NULL; /* control answers every Resolve itself */
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	d->w = w;
	/* c-ares waits timeout_ms for a try, doubled for each round of the
	 * servers: tries rounds at most. */
	d->port_life_ns = ((uint64_t)c->timeout_ms * 1000000ull)
			  << RTE_MIN(c->tries, 10u);
	rc = ares_init_options(&d->ch, &o,
			       ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS |
				   ARES_OPT_TRIES | ARES_OPT_LOOKUPS);
	if (rc != ARES_SUCCESS)
		goto err;
	ares_set_socket_functions(d->ch, &dns_funcs, d);
	for (uint32_t i = 0; i < c->nservers; i++) {
		inet_ntop(AF_INET, &c->servers[i], ip, sizeof(ip));
		used += (size_t)snprintf(csv + used, sizeof(csv) - used, "%s%s",
					 i ? "," : "", ip);
	}
	rc = ares_set_servers_csv(d->ch, csv);
	if (rc != ARES_SUCCESS) {
		ares_destroy(d->ch);
		goto err;
	}
	return d;
err:
	fprintf(stderr, "remsockd: worker %u: DNS resolver: %s\n", w->k,
		ares_strerror(rc));
	free(d);
	*err = -EINVAL;
	return NULL;
}

/* Pending queries end with ARES_EDESTRUCTION: their calls are gone
 * already (the connections closed first), or it is drained. */
static void dns_close_one(struct svc_dns *d)
{
	if (d == NULL)
		return;
	ares_destroy(d->ch);
	free(d);
}

int svc_dns_create(struct svc_worker *w)
{
	int rc;

	w->dns_gen = __atomic_load_n(&w->sh->dns_gen, __ATOMIC_ACQUIRE);
	w->dns =
	    dns_open(w, __atomic_load_n(&w->sh->dns, __ATOMIC_ACQUIRE), &rc);
	return rc;
}

void svc_dns_free(struct svc_worker *w)
{
	dns_close_one(w->dns);
	dns_close_one(w->dns_old);
	w->dns = w->dns_old = NULL;
}

static void dns_poll_one(struct svc_worker *w, struct svc_dns *d)
{
	uint64_t now;

	if (d == NULL || (d->pending == 0 && d->nports == 0))
		return;
	now = rs_lcore_now_ns(w->lc);
	if (d->pending > 0 && now < d->next_check_ns)
		return;
	d->next_check_ns = now + TIMEOUT_CHECK_NS;
	for (unsigned i = 0; i < DNS_PORTS; i++) {
		struct dns_port *p = &d->ports[i];

		if (p->s == NULL)
			continue;
		/* No query out: no answer is awaited. */
		if (d->pending == 0 || now - p->born_ns > d->port_life_ns)
			port_close(p);
		/* Events are edge hints: pick up answers an event left
		 * behind. */
		else if (rs_sock_readable(p->s) >= 0)
			ares_process_fd(d->ch, FD_BASE + p->fd,
					ARES_SOCKET_BAD);
	}
	if (d->pending > 0)
		ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

/* A reload's [dns]: a new channel for new queries; the old one drains.
 * One drains at a time: a second reload waits for it. */
static void dns_reload(struct svc_worker *w, uint64_t gen)
{
	struct svc_dns *next;
	int rc;

	if (w->dns_old != NULL)
		return;
	next = dns_open(w, __atomic_load_n(&w->sh->dns, __ATOMIC_ACQUIRE), &rc);
	w->dns_gen = gen;
	if (rc < 0) /* the old one stays in use (reported) */
		return;
	w->dns_old = w->dns;
	w->dns = next;
}

void svc_dns_poll(struct svc_worker *w)
{
	uint64_t gen = __atomic_load_n(&w->sh->dns_gen, __ATOMIC_ACQUIRE);

	if (gen != w->dns_gen)
		dns_reload(w, gen);
	dns_poll_one(w, w->dns);
	dns_poll_one(w, w->dns_old);
	if (w->dns_old != NULL && w->dns_old->pending == 0) {
		dns_close_one(w->dns_old);
		w->dns_old = NULL;
	}
}

/* ---- queries ------------------------------------------------------------ */

static void q_release(void *arg)
{
	struct dns_q *q = arg;

	if (q->done)
		free(q);
	else
		q->orphan = true; /* the callback frees it */
}

static void q_done(void *arg, int status, int timeouts,
		   struct ares_addrinfo *res)
{
	struct dns_q *q = arg;

	q->dns->pending--;
	q->done = true;
	q->status = status;
	for (struct ares_addrinfo_node *n = res ? res->nodes : NULL;
	     n != NULL && q->n < DNS_ADDRS; n = n->ai_next)
		if (n->ai_family == AF_INET)
			memcpy(&q->addr[q->n++],
			       &((struct sockaddr_in *)n->ai_addr)->sin_addr,
			       4);
	for (struct ares_addrinfo_node *n = res ? res->nodes : NULL;
	     n != NULL && q->n6 < DNS_ADDRS; n = n->ai_next)
		if (n->ai_family == AF_INET6)
			memcpy(q->addr6[q->n6++],
			       &((struct sockaddr_in6 *)n->ai_addr)->sin6_addr,
			       16);
	if (res != NULL && res->name != NULL)
		snprintf(q->canon, sizeof(q->canon), "%s", res->name);
	/* c-ares names the question; the canonical name is where the
	 * CNAMEs end. */
	for (struct ares_addrinfo_cname *cn = res ? res->cnames : NULL;
	     cn != NULL; cn = cn->next) {
		if (cn->alias != NULL && q->naliases < DNS_ALIASES)
			snprintf(q->aliases[q->naliases++],
				 sizeof(q->aliases[0]), "%s", cn->alias);
		if (cn->name != NULL)
			snprintf(q->canon, sizeof(q->canon), "%s", cn->name);
	}
	if (res != NULL)
		ares_freeaddrinfo(res);
	if (q->orphan)
		free(q);
	else if (q->wt != NULL)
		svc_wait_wake(q->dns->w, q->wt);
}

/* The GAI code of a c-ares status, as Linux's getaddrinfo() gives it
 * (App Engine's answers came from it): a name without an address of the
 * families asked is NONAME, not NODATA, as is a name that cannot be one;
 * a server that refuses or fails, AGAIN.  Java's runtime needs this: it
 * makes NONAME and AGAIN an UnknownHostException, anything else a
 * RuntimeException that an application does not expect. */
static int gai_of(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
	case ARES_EBADNAME:
		return GAI(NONAME);
	case ARES_ETIMEOUT:
	case ARES_ECONNREFUSED:
	case ARES_EREFUSED:
	case ARES_ESERVFAIL:
		return GAI(AGAIN);
	case ARES_ENOMEM:
		return GAI(MEMORY);
	default:
		return GAI(FAIL);
	}
}

/* What a c-ares status means for the one who asked, in words that point
 * at the cause (c-ares says "Could not contact DNS servers" also when
 * every server answered REFUSED). */
static const char *status_text(int status)
{
	switch (status) {
	case ARES_SUCCESS:
	case ARES_ENODATA:
		return "no address of the families asked";
	case ARES_ENOTFOUND:
		return "no such name (NXDOMAIN)";
	case ARES_ETIMEOUT:
		return "no answer from [dns] servers in time";
	case ARES_ECONNREFUSED:
		return "[dns] servers refused the query (REFUSED: do they "
		       "resolve for the proxy's address?) or are unreachable";
	case ARES_EREFUSED:
		return "[dns] servers refused the query (REFUSED)";
	case ARES_ESERVFAIL:
		return "[dns] servers failed (SERVFAIL)";
	case ARES_EBADNAME:
		return "not a valid DNS name";
	default:
		return ares_strerror(status);
	}
}

static int q_answer(struct rs_rpc_call *call, Remsock__ResolveReply *resp,
		    const struct dns_q *q, const Remsock__ResolveRequest *req)
{
	const char *name = req->name;

	if (q->status != ARES_SUCCESS || q->n + q->n6 == 0) {
		rs_svc_error(call, ERR(GAI_ERROR),
			     q->status == ARES_SUCCESS ? GAI(NONAME)
						       : gai_of(q->status),
			     "%.60s: %s", name, status_text(q->status));
		return 0;
	}
	if (rs_svc_resolve_reply(call, resp, q->canon[0] ? q->canon : name,
				 q->addr, q->n, rs_svc_resolve_len(req),
				 (const uint8_t(*)[16])q->addr6, q->n6) < 0)
		return -ENOMEM;
	resp->aliases =
	    rs_arena_alloc(call->arena, (q->naliases + 1) * sizeof(char *));
	if (resp->aliases == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->naliases; i++)
		if ((resp->aliases[resp->n_aliases] =
			 rs_arena_strdup(call->arena, q->aliases[i])) != NULL)
			resp->n_aliases++;
	return 0;
}

static bool resolve_v6(const Remsock__ResolveRequest *req)
{
	for (size_t i = 0; i < req->n_address_families; i++)
		if (req->address_families[i] ==
		    REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv6)
			return true;
	return false;
}

static int ex_resolve(void *ctx, struct rs_rpc_call *call,
		      const ProtobufCMessage *reqm, ProtobufCMessage *respm)
{
	const Remsock__ResolveRequest *req = (const void *)reqm;
	/* IPv6 asked: AAAA records too (A and AAAA asked at once). */
	struct ares_addrinfo_hints hints = {
	    .ai_family = resolve_v6(req) ? AF_UNSPEC : AF_INET,
	    .ai_flags = ARES_AI_NOSORT | ARES_AI_CANONNAME,
	};
	struct svc_call *sc = ctx;
	struct svc_worker *w = sc->w;
	struct dns_q *q = svc_wait_ctx(sc);
	int rc;

	if (w->dns == NULL) { /* control sends none then: cannot be */
		rs_svc_error(call, ERR(GAI_ERROR), GAI(FAIL), "no resolver");
		return 0;
	}
	if (q == NULL) { /* the first run: park, then ask */
		q = calloc(1, sizeof(*q));
		if (q == NULL)
			return -ENOMEM;
		q->dns = w->dns;
		/* Parking is charged to the app's pending calls: a call over
		 * quota sends no query. */
		rc = svc_park_quiet(sc, q, q_release);
		if (rc <= 0) {
			free(q); /* not asked: no callback will come */
			if (rc == 0)
				rs_svc_error(call, ERR(GAI_ERROR), GAI(AGAIN),
					     "no time to ask DNS");
			return 0;
		}
		q->wt = sc->parked;
		w->dns->pending++;
		/* An answer at once (a bad name) wakes the wait: the next
		 * run answers it. */
		ares_getaddrinfo(w->dns->ch, req->name, NULL, &hints, q_done,
				 q);
		return 0;
	}
	if (q->done)
		return q_answer(call, (void *)respm, q, req);
	if (svc_park_quiet(sc, NULL, NULL) == 0)
		rs_svc_error(call, ERR(GAI_ERROR), GAI(AGAIN),
			     "%.60s: DNS timed out", req->name);
	return 0;
}

static const struct rs_rpc_method resolve_method =
    RS_SVC_METHOD("Resolve", ex_resolve, resolve, RS_RPC_PLANE_DATA);

int svc_dns_register(struct rs_rpc_registry *reg)
{
	return rs_rpc_registry_add(reg, RS_SVC_SERVICE, &resolve_method);
}
