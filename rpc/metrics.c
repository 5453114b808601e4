/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counters as Prometheus text (see rs_metrics.h).
 *
 * Each counter added becomes a sample of the family its name maps to.
 * The format wants a family's samples together under one HELP and TYPE,
 * and counters come interleaved (quota.X.used, .limit, .refused, app by
 * app), so the samples are gathered first and written family by family,
 * in the order each family first appeared.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_metrics.h"

#define PREFIX "remsock_"
#define LABELS_MAX 192

/* How a name maps.  EXACT: the whole name.  KEYED: name = prefix + KEY,
 * KEY the label's value.  KEYED2: prefix + K1 '.' K2, two labels.
 * QUOTA: "quota." Q "." suffix.  WORKER: "worker." K "." suffix.
 * HIST: prefix + KEY "." (bucket.LE_US | bucket.inf | sum_ns | count), a
 * histogram's samples. */
enum kind { EXACT, KEYED, KEYED2, QUOTA, WORKER, HIST };

struct rule {
	enum kind kind;
	const char *name;   /* the Stats name, or its prefix */
	const char *family; /* after PREFIX; "" drops the counter */
	const char *type;
	const char *label, *label2;
	const char *help;
};

#define C "counter"
#define G "gauge"
#define H "histogram"

static const struct rule rules[] = {
    /* The RPC service: connections and authentication. */
    {EXACT, "rpc.conns_accepted", "rpc_connections_accepted_total", C, NULL,
     NULL, "RPC connections accepted (native, TLS and HTTP ports)."},
    {EXACT, "rpc.conns_refused", "rpc_connections_refused_total", C, NULL, NULL,
     "RPC connections refused at accept: a worker or address limit."},
    {EXACT, "rpc.conns_open", "rpc_connections_open", G, NULL, NULL,
     "RPC connections open now."},
    {EXACT, "rpc.auth_failed", "rpc_auth_failed_total", C, NULL, NULL,
     "Authentications refused: unknown app or wrong secret."},
    {EXACT, "rpc.auth_timeouts", "rpc_auth_timeouts_total", C, NULL, NULL,
     "Connections closed for not authenticating in time."},
    {EXACT, "rpc.auth_blocked", "rpc_auth_blocked_total", C, NULL, NULL,
     "Authentications refused unchecked: too many failures for that app "
     "from that address."},
    {EXACT, "rpc.tls_failed", "rpc_tls_failed_total", C, NULL, NULL,
     "TLS connections ended by a handshake or record error."},
    {EXACT, "rpc.dns_dropped", "rpc_dns_dropped_total", C, NULL, NULL,
     "Datagrams on a DNS query's port that were not its answer (wrong "
     "ID): spoofing attempts or late copies."},
    /* Calls. */
    {EXACT, "rpc.calls", "rpc_calls_total", C, NULL, NULL,
     "Calls dispatched by the workers."},
    {KEYED2, "call.", "rpc_calls_by_method_total", C, "method", "outcome",
     "Calls the workers finished, by method and outcome (ok, app_error, "
     "rpc_error); calls the control thread answers itself are in "
     "remsock_rpc_control_answered_total."},
    {HIST, "call_hist.", "rpc_call_duration_seconds", H, "method", NULL,
     "How long the workers took over calls, from their first dispatch to "
     "their reply (waits included), by method; calls the control thread "
     "approved or answered are not timed."},
    {KEYED2, "app_calls.", "app_calls_total", C, "app", "outcome",
     "Calls an app's connections made that the workers finished, by "
     "outcome."},
    {KEYED, "app_bytes_in.", "app_rpc_received_bytes_total", C, "app", NULL,
     "RPC bytes the workers read from an app's connections (an HTTP "
     "connection's count for its first app)."},
    {KEYED, "app_bytes_out.", "app_rpc_sent_bytes_total", C, "app", NULL,
     "RPC bytes the workers wrote to an app's connections."},
    {EXACT, "rpc.forwarded", "rpc_calls_forwarded_total", C, NULL, NULL,
     "Calls the workers sent to the control thread."},
    {EXACT, "rpc.control_execs", "rpc_control_approved_total", C, NULL, NULL,
     "Control calls approved and sent back to a worker to run."},
    {EXACT, "rpc.control_answered", "rpc_control_answered_total", C, NULL, NULL,
     "Calls the control thread answered itself."},
    {EXACT, "rpc.parked", "rpc_calls_parked_total", C, NULL, NULL,
     "Calls that waited for a socket event (blocking Receive, Poll, "
     "Accept...)."},
    {EXACT, "rpc.woken", "rpc_calls_woken_total", C, NULL, NULL,
     "Waiting calls re-run on an event."},
    {EXACT, "rpc.expired", "rpc_calls_expired_total", C, NULL, NULL,
     "Waiting calls answered at their deadline."},
    {EXACT, "rpc.cancelled", "rpc_calls_cancelled_total", C, NULL, NULL,
     "Waiting calls dropped with their closed connection."},
    {EXACT, "rpc.stop_answered", "rpc_calls_stop_answered_total", C, NULL, NULL,
     "Waiting calls answered CANCELLED because remsockd stopped."},
    {EXACT, "rpc.waits", "rpc_calls_waiting", G, NULL, NULL,
     "Calls waiting now."},
    {EXACT, "rpc.busy", "rpc_calls_busy_total", C, NULL, NULL,
     "Calls refused because the control ring or the entry pool was full."},
    {EXACT, "rpc.starved", "rpc_inputs_paused_total", C, NULL, NULL,
     "Connection inputs paused for their app's quota."},
    {EXACT, "rpc.out_bytes", "rpc_output_bytes", G, NULL, NULL,
     "Reply bytes waiting to be written to RPC connections."},
    /* Sockets and descriptors. */
    {EXACT, "rpc.socks_open", "sockets_open", G, NULL, NULL,
     "Proxied sockets open now."},
    {EXACT, "rpc.descriptors", "descriptors", G, NULL, NULL,
     "Descriptors the control thread holds now."},
    {EXACT, "rpc.reaped", "sockets_reaped_total", C, NULL, NULL,
     "Sockets closed for idleness ([service] idle_timeout_s)."},
    {EXACT, "rpc.session_closed", "sockets_session_closed_total", C, NULL, NULL,
     "Sockets closed because their client's session ended ([service] "
     "session_grace_s)."},
    {EXACT, "rpc.sessions_full", "sessions_full_total", C, NULL, NULL,
     "Connections left without a session: the session table was full."},
    {EXACT, "rpc.close_deferred", "close_deferred_total", C, NULL, NULL,
     "Closes that waited for their Sends to go out."},
    {EXACT, "rpc.close_overdue", "close_overdue_total", C, NULL, NULL,
     "Deferred closes forced at [service] close_wait_ms."},
    {EXACT, "rpc.gone_lost", "descriptors_lost_total", C, NULL, NULL,
     "Closed sockets the control thread could not be told of, or answers "
     "lost between workers (a leak)."},
    /* Several workers. */
    {EXACT, "rpc.fwd_out", "calls_forwarded_out_total", C, NULL, NULL,
     "Calls given to the worker that holds their sockets."},
    {EXACT, "rpc.fwd_in", "calls_forwarded_in_total", C, NULL, NULL,
     "Calls run for another worker's connections."},
    {EXACT, "rpc.splits", "batches_split_total", C, NULL, NULL,
     "Batches over sockets of several workers, split and merged."},
    /* The API-host HTTP endpoint. */
    {EXACT, "rpc.http_requests", "http_requests_total", C, NULL, NULL,
     "HTTP requests that reached the service."},
    {EXACT, "rpc.http_errors", "http_errors_total", C, NULL, NULL,
     "HTTP requests answered with an HTTP error status."},
    {EXACT, "rpc.http_slow", "http_slow_total", C, NULL, NULL,
     "HTTP connections closed for a request that did not arrive in time."},
    {EXACT, "rpc.http_idle_closed", "http_idle_closed_total", C, NULL, NULL,
     "HTTP connections closed for idleness ([rpc] http_idle_s)."},
    /* The port and the stack. */
    {EXACT, "rx_pkts", "port_received_packets_total", C, NULL, NULL,
     "Packets received from the port."},
    {EXACT, "rx_bytes", "port_received_bytes_total", C, NULL, NULL,
     "Bytes received from the port."},
    {EXACT, "tx_pkts", "port_sent_packets_total", C, NULL, NULL,
     "Packets sent to the port."},
    {EXACT, "tx_bytes", "port_sent_bytes_total", C, NULL, NULL,
     "Bytes sent to the port."},
    {EXACT, "tx_dropped", "port_send_dropped_total", C, NULL, NULL,
     "Packets the port did not take."},
    {EXACT, "handled", "packets_handled_total", C, NULL, NULL,
     "Received packets the stack took."},
    {EXACT, "mbufs.in_use", "mbufs_in_use", G, NULL, NULL,
     "Packet buffers (mbufs) taken from the pool now."},
    {EXACT, "mbufs.size", "mbufs", G, NULL, NULL,
     "Packet buffers in the pool ([port] mbufs)."},
    /* The sum of remsock_packets_dropped_total: left out. */
    {EXACT, "dropped", "", C, NULL, NULL, NULL},
    {KEYED, "drop.", "packets_dropped_total", C, "reason", NULL,
     "Received packets dropped, by reason."},
    {KEYED, "tcp_state.", "tcp_connections", G, "state", NULL,
     "TCP connections in the pools now, by state (CLOSED: closed, not yet "
     "given back)."},
    {KEYED, "event.", "events_total", C, "event", NULL,
     "Things the stack did or met, by kind."},
    {KEYED2, "acl.denied.", "acl_denied_total", C, "origin", "rule",
     "Calls the ACL denied, by rule."},
    /* Cost. */
    /* The workers' sums: each worker's own below, labelled. */
    {EXACT, "worker.busy_cycles", "", C, NULL, NULL, NULL},
    {EXACT, "worker.busy_loops", "", C, NULL, NULL, NULL},
    {WORKER, "busy_cycles", "worker_busy_cycles_total", C, "worker", NULL,
     "TSC cycles a worker spent in rounds that did work."},
    {WORKER, "busy_loops", "worker_busy_rounds_total", C, "worker", NULL,
     "Worker rounds that did work."},
    {WORKER, "rx_pkts", "worker_received_packets_total", C, "worker", NULL,
     "Packets a worker received from its queue."},
    {WORKER, "tx_pkts", "worker_sent_packets_total", C, "worker", NULL,
     "Packets a worker sent to its queue."},
    /* The message rings between control and the workers. */
    {EXACT, "ring.size", "message_ring_size", G, NULL, NULL,
     "Entries each message ring holds ([limits] msg_ring_size)."},
    {KEYED, "ring_used.", "message_ring_used", G, "ring", NULL,
     "Entries waiting in a message ring now."},
    {EXACT, "msgs.size", "message_entries", G, NULL, NULL,
     "Message entries in the pool the rings share."},
    {EXACT, "msgs.in_use", "message_entries_in_use", G, NULL, NULL,
     "Message entries taken from the pool now."},
    {EXACT, "control.busy_cycles", "control_busy_cycles_total", C, NULL, NULL,
     "TSC cycles the control thread spent working."},
    {EXACT, "tsc_hz", "tsc_hertz", G, NULL, NULL,
     "The TSC's rate, cycles per second."},
    /* The caller's quotas (rs_apps.h). */
    {QUOTA, "used", "quota_used", G, "app", "quota",
     "What the app holds of a quota now."},
    {QUOTA, "limit", "quota_limit", G, "app", "quota",
     "A quota's limit for the app ([quotas])."},
    {QUOTA, "refused", "quota_refused_total", C, "app", "quota",
     "Requests refused for a quota."},
};

/* The derived families: cycles in seconds. */
/* Families of cycles, and the same in seconds (over tsc_hz). */
static const struct {
	const char *cycles, *family, *help;
} seconds[] = {
    {"worker_busy_cycles_total", "worker_busy_seconds_total",
     "Time a worker spent in rounds that did work (busy cycles over the "
     "TSC rate); its rate is the worker's busy share."},
    {"control_busy_cycles_total", "control_busy_seconds_total",
     "Time the control thread spent working."},
};

struct sample {
	const char *family; /* PREFIX omitted; NULL: untyped, in @c own */
	const char *type, *help;
	const char *suffix; /* a histogram's _bucket, _sum, _count; or "" */
	bool ns;	    /* the value is nanoseconds: written in seconds */
	char own[80];
	char labels[LABELS_MAX];
	bool real;
	uint64_t v;
	double d;
};

struct buf {
	char *p;
	size_t len, cap;
	bool nomem;
};

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->nomem)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->nomem = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = 2 * b->cap + (size_t)n;
		char *p = realloc(b->p, cap);

		if (p == NULL) {
			b->nomem = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* label="value", the value escaped as the format wants. */
static void label_put(char *out, size_t cap, const char *key, const char *v,
		      size_t vlen)
{
	size_t n = strlen(out);
	int k;

	if (n != 0 && n + 1 < cap)
		out[n++] = ',';
	k = snprintf(out + n, cap - n, "%s=\"", key);
	if (k < 0 || (size_t)k >= cap - n)
		return;
	n += (size_t)k;
	for (size_t i = 0; i < vlen && n + 3 < cap; i++) {
		if (v[i] == '\\' || v[i] == '"' || v[i] == '\n') {
			out[n++] = '\\';
			out[n++] = v[i] == '\n' ? 'n' : v[i];
		} else {
			out[n++] = v[i];
		}
	}
	if (n + 1 < cap)
		out[n++] = '"';
	out[n] = '\0';
}

/* Map one counter; false when it is left out. */
static bool map(struct sample *s, const char *name, size_t len, const char *app)
{
	const struct rule *r;
	size_t plen;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		r = &rules[i];
		plen = strlen(r->name);
		if (r->kind == EXACT) {
			if (plen != len || memcmp(name, r->name, len) != 0)
				continue;
		} else if (r->kind == QUOTA) {
			const char *q = name + 6, *dot;

			if (len < 6 + 2 + plen ||
			    memcmp(name, "quota.", 6) != 0 ||
			    name[len - plen - 1] != '.' ||
			    memcmp(name + len - plen, r->name, plen) != 0)
				continue;
			dot = name + len - plen - 1;
			label_put(s->labels, sizeof(s->labels), r->label, app,
				  strlen(app));
			label_put(s->labels, sizeof(s->labels), r->label2, q,
				  (size_t)(dot - q));
		} else if (r->kind == HIST) {
			const char *k = name + plen, *end = name + len, *dot;
			char le[32];
			size_t rest;

			if (len <= plen || memcmp(name, r->name, plen) != 0 ||
			    (dot = memchr(k, '.', (size_t)(end - k))) == NULL)
				continue;
			label_put(s->labels, sizeof(s->labels), r->label, k,
				  (size_t)(dot - k));
			rest = (size_t)(end - dot - 1);
			if (rest == 6 && memcmp(dot + 1, "sum_ns", 6) == 0) {
				s->suffix = "_sum";
				s->ns = true;
			} else if (rest == 5 &&
				   memcmp(dot + 1, "count", 5) == 0) {
				s->suffix = "_count";
			} else if (rest > 7 &&
				   memcmp(dot + 1, "bucket.", 7) == 0) {
				const char *v = dot + 8;

				if ((size_t)(end - v) == 3 &&
				    memcmp(v, "inf", 3) == 0)
					snprintf(le, sizeof(le), "+Inf");
				else
					snprintf(le, sizeof(le), "%.6g",
						 strtod(v, NULL) / 1e6);
				s->suffix = "_bucket";
				label_put(s->labels, sizeof(s->labels), "le",
					  le, strlen(le));
			} else {
				continue;
			}
		} else if (r->kind == WORKER) {
			const char *k = name + 7, *dot;

			if (len < 7 + 2 + plen ||
			    memcmp(name, "worker.", 7) != 0 ||
			    name[len - plen - 1] != '.' ||
			    memcmp(name + len - plen, r->name, plen) != 0)
				continue;
			dot = name + len - plen - 1;
			if (memchr(k, '.', (size_t)(dot - k)) != NULL)
				continue;
			label_put(s->labels, sizeof(s->labels), r->label, k,
				  (size_t)(dot - k));
		} else {
			const char *k = name + plen, *dot;

			if (len <= plen || memcmp(name, r->name, plen) != 0)
				continue;
			if (r->kind == KEYED) {
				label_put(s->labels, sizeof(s->labels),
					  r->label, k, len - plen);
			} else {
				dot = memchr(k, '.', len - plen);
				if (dot == NULL)
					continue;
				label_put(s->labels, sizeof(s->labels),
					  r->label, k, (size_t)(dot - k));
				label_put(s->labels, sizeof(s->labels),
					  r->label2, dot + 1,
					  len - plen - (size_t)(dot - k) - 1);
			}
		}
		if (r->family[0] == '\0')
			return false;
		s->family = r->family;
		s->type = r->type;
		s->help = r->help;
		return true;
	}
	/* Unknown: kept under its own name, made a valid one. */
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < sizeof(s->own); i++) {
		char ch = name[i];

		s->own[n++] = (ch >= 'a' && ch <= 'z') ||
				      (ch >= 'A' && ch <= 'Z') ||
				      (ch >= '0' && ch <= '9') || ch == '_'
				  ? ch
				  : '_';
	}
	s->own[n] = '\0';
	s->type = "untyped";
	return true;
}

static const char *family_of(const struct sample *s)
{
	return s->family != NULL ? s->family : s->own;
}

struct rs_metrics {
	struct sample *s;
	size_t n, cap;
	bool nomem;
	uint64_t tsc_hz;
};

struct rs_metrics *rs_metrics_new(void)
{
	return calloc(1, sizeof(struct rs_metrics));
}

/* Room for one more sample; false (and nomem) when there is none. */
static bool room(struct rs_metrics *m)
{
	size_t cap = m->cap ? 2 * m->cap : 128;
	struct sample *s;

	if (m->nomem)
		return false;
	if (m->n < m->cap)
		return true;
	s = realloc(m->s, cap * sizeof(*s));
	if (s == NULL) {
		m->nomem = true;
		return false;
	}
	m->s = s;
	m->cap = cap;
	return true;
}

void rs_metrics_add(struct rs_metrics *m, const char *name, uint64_t value,
		    const char *app)
{
	if (!room(m))
		return;
	if (!map(&m->s[m->n], name, strlen(name), app != NULL ? app : ""))
		return;
	m->s[m->n++].v = value;
	if (strcmp(name, "tsc_hz") == 0)
		m->tsc_hz = value;
}

/* Cycles in seconds, each after the last sample gathered. */
static void derive(struct rs_metrics *m)
{
	size_t n = m->n;

	for (size_t k = 0; k < sizeof(seconds) / sizeof(seconds[0]); k++)
		for (size_t i = 0; i < n && m->tsc_hz != 0; i++) {
			if (m->s[i].family == NULL ||
			    strcmp(m->s[i].family, seconds[k].cycles) != 0)
				continue;
			if (!room(m))
				return;
			m->s[m->n] = (struct sample){
			    .family = seconds[k].family,
			    .type = C,
			    .help = seconds[k].help,
			    .real = true,
			    .d = (double)m->s[i].v / (double)m->tsc_hz,
			};
			memcpy(m->s[m->n].labels, m->s[i].labels,
			       sizeof(m->s[i].labels));
			m->n++;
		}
}

/* Each sample's family as a number, in the order families first
 * appear, and the samples of each family chained in the order added:
 * O(samples x families), not O(samples^2) (128 apps' quotas are 2,688
 * samples of three families). */
static size_t chain(const struct rs_metrics *m, size_t *first, size_t *next)
{
	const char **fam = NULL;
	size_t nfam = 0, *last = NULL, f;

	fam = malloc((m->n + 1) * sizeof(*fam));
	last = malloc((m->n + 1) * sizeof(*last));
	if (fam == NULL || last == NULL) {
		free(fam);
		free(last);
		return SIZE_MAX;
	}
	for (size_t i = 0; i < m->n; i++) {
		const char *name = family_of(&m->s[i]);

		for (f = nfam; f > 0 && strcmp(fam[f - 1], name) != 0; f--)
			;
		next[i] = SIZE_MAX;
		if (f == 0) { /* a new family */
			fam[nfam] = name;
			first[nfam] = last[nfam] = i;
			nfam++;
		} else {
			next[last[f - 1]] = i;
			last[f - 1] = i;
		}
	}
	free(fam);
	free(last);
	return nfam;
}

char *rs_metrics_end(struct rs_metrics *m, size_t *text_len)
{
	struct buf b = {.cap = 16384};
	size_t *first, *next, nfam = SIZE_MAX;
	struct sample *s;

	derive(m);
	s = m->s;
	b.p = malloc(b.cap);
	first = malloc((m->n + 1) * sizeof(*first));
	next = malloc((m->n + 1) * sizeof(*next));
	if (b.p != NULL && first != NULL && next != NULL && !m->nomem)
		nfam = chain(m, first, next);
	if (nfam == SIZE_MAX)
		goto fail;
	b.p[0] = '\0';
	for (size_t f = 0; f < nfam; f++) {
		const struct sample *h = &s[first[f]];
		const char *fam = family_of(h);

		if (h->help != NULL)
			put(&b, "# HELP " PREFIX "%s %s\n", fam, h->help);
		else
			put(&b, "# HELP " PREFIX "%s remsockd's counter %s.\n",
			    fam, fam);
		put(&b, "# TYPE " PREFIX "%s %s\n", fam, h->type);
		for (size_t j = first[f]; j != SIZE_MAX; j = next[j]) {
			put(&b, PREFIX "%s%s", fam,
			    s[j].suffix != NULL ? s[j].suffix : "");
			if (s[j].labels[0] != '\0')
				put(&b, "{%s}", s[j].labels);
			if (s[j].real)
				put(&b, " %.9g\n", s[j].d);
			else if (s[j].ns)
				put(&b, " %.9g\n", (double)s[j].v / 1e9);
			else
				put(&b, " %" PRIu64 "\n", s[j].v);
		}
	}
	if (b.nomem)
		goto fail;
	free(first);
	free(next);
	free(m->s);
	free(m);
	*text_len = b.len;
	return b.p;
fail:
	free(first);
	free(next);
	free(b.p);
	free(m->s);
	free(m);
	errno = ENOMEM;
	return NULL;
}
