/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tenants: RPC connections to the server under test, each with its
 * share of the proxied sockets (socket i belongs to connection
 * i % conns), keeping `depth` calls in flight.
 *
 * Calls are written by hand (lg_wire.c) straight into the connection's
 * output buffer, which is sent once per round (one write for many calls);
 * replies are parsed in place from the frame decoder's output.  A call
 * record sits in a per-connection slot whose index is the low bits of its
 * call_id, so a reply finds it at once, in any order.
 *
 * What is counted in the MEASURE window: calls answered (a batch is one
 * call, its entries with data are entries), payload bytes, errors, and
 * the latency from the call's write to its reply's arrival (echo: from
 * the request's scheduled time to the last byte's arrival, so that a
 * late request is not forgiven: no coordinated omission).  Every reply
 * is checked: a Receive's stream_offset must follow the last, a Send must
 * take all its bytes, and with --verify every byte is the pattern's.
 *
 * --plain: no RPC at all; the sockets are TCP connections to a relay
 * (haproxy) that joins them to the peers, for relay-down, relay-up and
 * echo, so the relay's cost can be set beside the proxy's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "lg.h"

enum {
	PH_CONNECT,
	PH_SETUP,
	PH_WARMUP,
	PH_MEASURE,
	PH_DRAIN,
	PH_CLOSE,
	PH_DONE
};

enum call_kind {
	C_AUTH,
	C_STATS,
	C_CREATE,
	C_RECV,
	C_RBATCH,
	C_SEND,
	C_SBATCH,
	C_CLOSE
};

#define SLOT_BITS 16u
#define DESC_MAX 40u
#define DRAIN_LIMIT_NS (15ull * 1000000000ull)

struct lsock {
	struct lconn *c;
	char desc[DESC_MAX];
	uint8_t desc_len;
	bool open; /* has a descriptor */
	bool busy; /* in a batch, an echo request or a churn cycle */
	bool closing;
	uint64_t tx_off;    /* the next Send's stream_offset */
	uint64_t rx_off;    /* the next Receive's expected offset */
	uint64_t t0;	    /* echo: scheduled; churn: cycle start */
	uint32_t echo_left; /* echo: bytes still to come back */
	struct lg_sock *ps; /* --plain: the connection */
};

struct call {
	uint64_t id; /* 0: free */
	uint64_t t0;
	uint8_t kind;
	uint32_t sock; /* index, or the first of the batch's list */
	uint32_t n;    /* entries; Stats: which snapshot */
};

struct lconn {
	struct lg_sock *s;
	unsigned idx;
	bool stats; /* the operator's connection */
	bool ready, dead;
	struct rs_frame_decoder *dec;
	uint8_t *in;
	size_t in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	struct call *calls;
	uint32_t *lists; /* batch sockets: depth slots x batch */
	unsigned nslots, inflight, next_slot;
	uint64_t gen;
	unsigned nsocks; /* sockets i with i % conns == idx */
	unsigned rr;	 /* round robin over them */
	unsigned created;
};

struct lg lg;

static struct lconn *conns;
static struct lconn *stats_conn;
static struct lsock *socks;
static unsigned nconns;
static uint64_t echo_t_run;
static unsigned echo_rr;
static uint8_t plain_buf[65536];

/* ---- output ---------------------------------------------------------- */

static void conn_dead(struct lconn *c, const char *why, int err)
{
	if (c->dead)
		return;
	c->dead = true;
	if (lg.phase < PH_CLOSE)
		lg_fail("rpc connection %u: %s%s%s", c->idx, why,
			err != 0 ? ": " : "", err != 0 ? strerror(err) : "");
}

static void flush(struct lconn *c)
{
	while (c->out_off < c->out_len && !c->dead) {
		ssize_t n = lg.io->send(c->s, c->out + c->out_off,
					c->out_len - c->out_off);

		if (n == -EAGAIN)
			return;
		if (n < 0) {
			conn_dead(c, "send", (int)-n);
			return;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
}

static const char *method_name[] = {
    [C_AUTH] = "Authenticate",	 [C_STATS] = "Stats",
    [C_CREATE] = "CreateSocket", [C_RECV] = "Receive",
    [C_RBATCH] = "ReceiveBatch", [C_SEND] = "Send",
    [C_SBATCH] = "SendBatch",	 [C_CLOSE] = "Close",
};

/*
 * Start a call: a slot, and room for the frame's header, the envelope and
 * @p body bytes of body, which the caller writes at w->p.  @return the
 * call, or NULL when the slots or the buffer are full (try later).
 */
static struct call *call_begin(struct lconn *c, enum call_kind k, size_t body,
			       struct lg_pb *w)
{
	const char *svc =
	    k == C_AUTH || k == C_STATS ? "remsock" : "remote_socket";
	const char *m = method_name[k];
	struct call *call;
	uint64_t id;
	size_t env, need;
	unsigned slot;

	if (c->inflight >= c->nslots || c->dead)
		return NULL;
	for (slot = c->next_slot; c->calls[slot].id != 0;)
		slot = (slot + 1) % c->nslots;
	id = (++c->gen << SLOT_BITS) | slot;
	env = 1 + lg_pb_varint_size(id) + lg_pb_bytes_size(2, strlen(svc)) +
	      lg_pb_bytes_size(3, strlen(m)) + lg_pb_bytes_size(4, body);
	need = RS_FRAME_HDR_LEN + env;
	if (c->out_cap - c->out_len < need && c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_cap - c->out_len < need)
		return NULL;
	rs_frame_header_write(c->out + c->out_len, env);
	w->p = c->out + c->out_len + RS_FRAME_HDR_LEN;
	w->end = w->p + env;
	lg_pb_varint(w, 1, id);
	lg_pb_bytes(w, 2, svc, strlen(svc));
	lg_pb_bytes(w, 3, m, strlen(m));
	lg_pb_len(w, 4, body);
	c->out_len += need;
	call = &c->calls[slot];
	call->id = id;
	call->kind = (uint8_t)k;
	call->t0 = lg.now_ns();
	c->inflight++;
	c->next_slot = (slot + 1) % c->nslots;
	return call;
}

static size_t desc_size(const struct lsock *ls)
{
	return lg_pb_bytes_size(1, ls->desc_len);
}

static size_t recv_req_size(const struct lsock *ls, unsigned size)
{
	return desc_size(ls) + 1 + lg_pb_varint_size(size);
}

static void recv_req_write(struct lg_pb *w, const struct lsock *ls,
			   unsigned size)
{
	lg_pb_bytes(w, 1, ls->desc, ls->desc_len);
	lg_pb_varint(w, 2, size);
}

static size_t send_req_size(const struct lsock *ls, unsigned size)
{
	return desc_size(ls) + lg_pb_bytes_size(2, size) + 1 +
	       lg_pb_varint_size(ls->tx_off);
}

static void send_req_write(struct lg_pb *w, const struct lsock *ls,
			   unsigned size)
{
	lg_pb_bytes(w, 1, ls->desc, ls->desc_len);
	lg_pb_bytes(w, 2, lg.pattern + ls->tx_off % LG_PATTERN_MOD, size);
	lg_pb_varint(w, 3, ls->tx_off);
}

static bool issue_auth(struct lconn *c, const char *app, const char *secret)
{
	struct lg_pb w;
	size_t n = lg_pb_bytes_size(1, strlen(app)) +
		   lg_pb_bytes_size(2, strlen(secret));

	if (call_begin(c, C_AUTH, n, &w) == NULL)
		return false;
	lg_pb_bytes(&w, 1, app, strlen(app));
	lg_pb_bytes(&w, 2, secret, strlen(secret));
	return true;
}

static bool issue_stats(struct lconn *c, unsigned which)
{
	struct lg_pb w;
	struct call *call = call_begin(c, C_STATS, 0, &w);

	if (call == NULL)
		return false;
	call->n = which;
	return true;
}

static uint16_t peer_port(void)
{
	switch (lg.o->workload) {
	case LG_W_RECV:
	case LG_W_RECV_BATCH:
	case LG_W_RELAY_DOWN:
		return LG_PORT_SOURCE;
	case LG_W_ECHO:
		return LG_PORT_ECHO;
	default:
		return LG_PORT_SINK;
	}
}

static bool issue_create(struct lconn *c, unsigned si)
{
	const struct sockaddr_in *to = &lg.o->peer_at;
	struct lg_pb w;
	size_t ap = 1 + lg_pb_varint_size(peer_port()) + lg_pb_bytes_size(2, 4);
	struct call *call =
	    call_begin(c, C_CREATE, 2 + 2 + 1 + lg_pb_varint_size(ap) + ap, &w);

	if (call == NULL)
		return false;
	call->sock = si;
	lg_pb_varint(&w, 1, 1); /* IPv4 */
	lg_pb_varint(&w, 2, 1); /* TCP */
	lg_pb_len(&w, 6, ap);	/* remote_ip: connect at once */
	lg_pb_varint(&w, 1, peer_port());
	lg_pb_bytes(&w, 2, &to->sin_addr.s_addr, 4);
	socks[si].t0 = call->t0;
	return true;
}

static bool issue_recv(struct lconn *c, unsigned si, unsigned size)
{
	struct lg_pb w;
	struct call *call =
	    call_begin(c, C_RECV, recv_req_size(&socks[si], size), &w);

	if (call == NULL)
		return false;
	call->sock = si;
	recv_req_write(&w, &socks[si], size);
	return true;
}

static bool issue_send(struct lconn *c, unsigned si, unsigned size)
{
	struct lsock *ls = &socks[si];
	struct lg_pb w;
	struct call *call = call_begin(c, C_SEND, send_req_size(ls, size), &w);

	if (call == NULL)
		return false;
	call->sock = si;
	call->n = size;
	send_req_write(&w, ls, size);
	ls->tx_off += size;
	return true;
}

static bool issue_close(struct lconn *c, unsigned si)
{
	struct lsock *ls = &socks[si];
	struct lg_pb w;
	struct call *call = call_begin(
	    c, C_CLOSE, desc_size(ls) + 1 + lg_pb_varint_size(ls->tx_off), &w);

	if (call == NULL)
		return false;
	call->sock = si;
	lg_pb_bytes(&w, 1, ls->desc, ls->desc_len);
	lg_pb_varint(&w, 2, ls->tx_off); /* after what was sent */
	ls->closing = true;
	return true;
}

/* The connection's idle sockets for a batch, round robin. */
static unsigned pick_idle(struct lconn *c, uint32_t *list, unsigned want)
{
	unsigned got = 0;

	for (unsigned k = 0; k < c->nsocks && got < want; k++) {
		unsigned si = c->idx + ((c->rr + k) % c->nsocks) * nconns;

		if (!socks[si].busy && socks[si].open)
			list[got++] = si;
	}
	c->rr = (c->rr + got) % (c->nsocks ? c->nsocks : 1);
	return got;
}

static bool issue_batch(struct lconn *c, bool send)
{
	unsigned size = lg.o->size;
	uint32_t list[1024];
	unsigned n = pick_idle(c, list, lg.o->batch), slot;
	size_t body = 0;
	struct call *call;
	struct lg_pb w;

	if (n == 0)
		return false;
	for (unsigned i = 0; i < n; i++) {
		size_t e = send ? send_req_size(&socks[list[i]], size)
				: recv_req_size(&socks[list[i]], size);

		body += 1 + lg_pb_varint_size(e) + e;
	}
	call = call_begin(c, send ? C_SBATCH : C_RBATCH, body, &w);
	if (call == NULL) {
		c->rr = (c->rr + c->nsocks - n) % c->nsocks;
		return false;
	}
	slot = (unsigned)(call->id & ((1u << SLOT_BITS) - 1));
	call->sock = slot * lg.o->batch;
	call->n = n;
	for (unsigned i = 0; i < n; i++) {
		struct lsock *ls = &socks[list[i]];

		c->lists[call->sock + i] = list[i];
		ls->busy = true;
		if (send) {
			lg_pb_len(&w, 1, send_req_size(ls, size));
			send_req_write(&w, ls, size);
		} else {
			lg_pb_len(&w, 1, recv_req_size(ls, size));
			recv_req_write(&w, ls, size);
		}
	}
	return true;
}

/* churn: a slot with no socket and no cycle going. */
static bool pick_idle_churn(struct lconn *c, uint32_t *si)
{
	for (unsigned k = 0; k < c->nsocks; k++) {
		unsigned i = c->idx + ((c->rr + k) % c->nsocks) * nconns;

		if (!socks[i].busy) {
			c->rr = (c->rr + k + 1) % c->nsocks;
			*si = i;
			return true;
		}
	}
	return false;
}

/* Keep the connection's calls in flight while the workload runs. */
static void fill(struct lconn *c)
{
	/* --cross-conns: the next connection's sockets (each is used by
	 * one connection only, so its offsets stay in order). */
	struct lconn *o =
	    lg.o->cross && nconns > 1 ? &conns[(c->idx + 1) % nconns] : c;

	if (c->stats || c->dead || !c->ready ||
	    (lg.phase != PH_WARMUP && lg.phase != PH_MEASURE) ||
	    o->nsocks == 0 || c->nsocks == 0)
		return;
	while (c->inflight < lg.o->depth) {
		unsigned si = o->idx + (c->rr % o->nsocks) * nconns;
		bool ok;

		switch (lg.o->workload) {
		case LG_W_RECV:
		case LG_W_RELAY_DOWN:
			c->rr = (c->rr + 1) % o->nsocks;
			ok = issue_recv(c, si, lg.o->size);
			break;
		case LG_W_SEND:
		case LG_W_RELAY_UP:
			c->rr = (c->rr + 1) % o->nsocks;
			ok = issue_send(c, si, lg.o->size);
			break;
		case LG_W_RECV_BATCH:
			ok = issue_batch(c, false);
			break;
		case LG_W_SEND_BATCH:
			ok = issue_batch(c, true);
			break;
		case LG_W_CHURN: {
			uint32_t one;

			ok = pick_idle_churn(c, &one) && issue_create(c, one);
			if (ok)
				socks[one].busy = true;
			break;
		}
		default:
			return; /* echo: the open loop issues */
		}
		if (!ok)
			break;
	}
}

/* ---- replies ------------------------------------------------------------ */

static bool measuring(void)
{
	return lg.phase == PH_MEASURE;
}

static void count_error(const char *what, const char *detail, size_t dlen)
{
	lg.errors_total++;
	if (measuring())
		lg.errors++;
	if (lg.errors_total <= 5)
		fprintf(stderr, "remsock-loadgen: %s: %.*s\n", what, (int)dlen,
			detail);
}

/* An error reply's errno (system_error), 0 if none is given. */
static int app_errno(const uint8_t *p, size_t n)
{
	struct lg_pbr r;
	int err = 0;

	lg_pbr_init(&r, p, n);
	while (lg_pbr_next(&r) == 1)
		if (r.field == 3 && r.wire == 2) { /* error_body */
			struct lg_pbr e;

			lg_pbr_init(&e, r.b, r.n);
			while (lg_pbr_next(&e) == 1)
				if (e.field == 1 && e.wire == 0)
					err = (int)e.v;
		}
	return err;
}

/* A ReceiveReply: check and count its data; @return its length, or -1
 * when it is wrong (counted). */
static long recv_data(struct lsock *ls, const uint8_t *p, size_t n)
{
	struct lg_pbr r;
	uint64_t off = UINT64_MAX;
	const uint8_t *data = NULL;
	size_t len = 0;

	lg_pbr_init(&r, p, n);
	while (lg_pbr_next(&r) == 1) {
		if (r.field == 2 && r.wire == 0)
			off = r.v;
		else if (r.field == 3 && r.wire == 2) {
			data = r.b;
			len = r.n;
		}
	}
	if (len > 0 && off != ls->rx_off) {
		char m[96];
		int ml = snprintf(m, sizeof(m), "offset %llu, expected %llu",
				  (unsigned long long)off,
				  (unsigned long long)ls->rx_off);

		count_error("Receive", m, (size_t)ml);
		return -1;
	}
	if (lg.o->verify && len > 0 &&
	    memcmp(data, lg.pattern + ls->rx_off % LG_PATTERN_MOD, len) != 0) {
		count_error("Receive", "bytes differ from the pattern", 29);
		ls->rx_off += len;
		return -1;
	}
	ls->rx_off += len;
	return (long)len;
}

static uint64_t send_taken(const uint8_t *p, size_t n)
{
	struct lg_pbr r;
	uint64_t sent = 0;

	lg_pbr_init(&r, p, n);
	while (lg_pbr_next(&r) == 1)
		if (r.field == 1 && r.wire == 0)
			sent = r.v;
	return sent;
}

static void stats_reply(const struct call *call, const uint8_t *p, size_t n)
{
	struct lg_pbr r, e;
	unsigned k = call->n;

	lg_pbr_init(&r, p, n);
	while (lg_pbr_next(&r) == 1) {
		const uint8_t *name = NULL;
		size_t nl = 0;
		uint64_t v = 0;

		if (r.field != 1 || r.wire != 2)
			continue;
		lg_pbr_init(&e, r.b, r.n);
		while (lg_pbr_next(&e) == 1) {
			if (e.field == 1 && e.wire == 2) {
				name = e.b;
				nl = e.n;
			} else if (e.field == 2 && e.wire == 0) {
				v = e.v;
			}
		}
#define IS(s) (nl == sizeof(s) - 1 && memcmp(name, s, nl) == 0)
		if (IS("worker.busy_cycles")) {
			lg.srv_busy[k] = v;
			lg.srv_stats_ok[k] = true;
		} else if (IS("control.busy_cycles")) {
			lg.srv_ctl_busy[k] = v;
		} else if (IS("rpc.fwd_out")) {
			lg.srv_fwd[k] = v;
		} else if (IS("tsc_hz")) {
			lg.srv_tsc_hz = v;
		}
#undef IS
	}
}

/* An entry of a batch reply: ReceiveBatchEntry or SendBatchEntry. */
static void batch_entry(struct lsock *ls, bool send, const uint8_t *p, size_t n)
{
	struct lg_pbr r;
	int err = 0;
	bool has_reply = false;

	ls->busy = false;
	lg_pbr_init(&r, p, n);
	while (lg_pbr_next(&r) == 1) {
		if (r.field == 1 && r.wire == 2) {
			has_reply = true;
			if (send) {
				uint64_t t = send_taken(r.b, r.n);

				ls->tx_off += t;
				if (measuring())
					lg.bytes += t;
				if (t > 0 && measuring())
					lg.entries++;
				else if (t == 0 && measuring())
					lg.empty++;
			} else {
				long got = recv_data(ls, r.b, r.n);

				if (got > 0 && measuring()) {
					lg.bytes += (uint64_t)got;
					lg.entries++;
				} else if (got == 0) {
					count_error("ReceiveBatch",
						    "end of stream", 13);
				}
			}
		} else if (r.field == 2 && r.wire == 2) {
			struct lg_pbr e;

			lg_pbr_init(&e, r.b, r.n);
			while (lg_pbr_next(&e) == 1)
				if (e.field == 1 && e.wire == 0)
					err = (int)e.v;
		}
	}
	if (has_reply)
		return;
	if (err == EAGAIN) {
		if (measuring())
			lg.empty++;
		return;
	}
	count_error(send ? "SendBatch entry" : "ReceiveBatch entry",
		    strerror(err), strlen(strerror(err)));
}

static void sample(uint64_t t0)
{
	if (measuring())
		lg_hist_add(&lg.hist, lg.now_ns() - t0);
}

static void echo_more(struct lconn *c, struct lsock *ls);

static void churn_step(struct lconn *c, struct lsock *ls, enum call_kind k)
{
	if (k == C_CREATE) {
		/* Send and Close pipelined: Close waits for the bytes. */
		if (!issue_send(c, (unsigned)(ls - socks), lg.o->size) ||
		    !issue_close(c, (unsigned)(ls - socks)))
			lg_fail("churn: no room to pipeline Send and Close "
				"(raise --depth)");
		return;
	}
	if (k == C_CLOSE) {
		ls->open = ls->busy = ls->closing = false;
		ls->tx_off = ls->rx_off = 0;
		if (measuring())
			lg.calls++;
		sample(ls->t0);
	}
}

static void reply_ok(struct lconn *c, struct call *call, const uint8_t *body,
		     size_t blen)
{
	struct lsock *ls = call->kind == C_RBATCH || call->kind == C_SBATCH ||
				   call->kind == C_AUTH || call->kind == C_STATS
			       ? NULL
			       : &socks[call->sock];
	bool churn = lg.o->workload == LG_W_CHURN;
	struct lg_pbr r;

	switch (call->kind) {
	case C_AUTH:
		c->ready = true;
		lg.conns_ready++;
		return;
	case C_STATS:
		stats_reply(call, body, blen);
		return;
	case C_CREATE:
		lg_pbr_init(&r, body, blen);
		while (lg_pbr_next(&r) == 1)
			if (r.field == 1 && r.wire == 2 && r.n < DESC_MAX) {
				memcpy(ls->desc, r.b, r.n);
				ls->desc_len = (uint8_t)r.n;
				ls->open = true;
			}
		if (!ls->open) {
			lg_fail("CreateSocket: no descriptor in the reply");
			return;
		}
		if (churn)
			churn_step(c, ls, C_CREATE);
		else
			lg.socks_ready++;
		return;
	case C_CLOSE:
		if (churn)
			churn_step(c, ls, C_CLOSE);
		else
			ls->open = false;
		return;
	case C_SEND: {
		uint64_t t = send_taken(body, blen);

		if (t != call->n)
			count_error("Send", "took fewer bytes than sent", 26);
		if (measuring() && !churn && lg.o->workload != LG_W_ECHO) {
			lg.bytes += t;
			lg.calls++;
			lg.entries++;
		}
		if (!churn && lg.o->workload != LG_W_ECHO)
			sample(call->t0);
		return;
	}
	case C_RECV: {
		long got = recv_data(ls, body, blen);

		if (got == 0)
			count_error("Receive", "end of stream", 13);
		if (lg.o->workload == LG_W_ECHO) {
			if (got > 0) {
				ls->echo_left -= (uint32_t)got;
				if (measuring())
					lg.bytes += (uint64_t)got;
			}
			echo_more(c, ls);
			return;
		}
		if (got > 0 && measuring()) {
			lg.bytes += (uint64_t)got;
			lg.calls++;
			lg.entries++;
		}
		sample(call->t0);
		return;
	}
	case C_RBATCH:
	case C_SBATCH: {
		unsigned i = 0;

		lg_pbr_init(&r, body, blen);
		while (lg_pbr_next(&r) == 1)
			if (r.field == 1 && r.wire == 2 && i < call->n)
				batch_entry(&socks[c->lists[call->sock + i++]],
					    call->kind == C_SBATCH, r.b, r.n);
		for (; i < call->n; i++) { /* entries missing */
			socks[c->lists[call->sock + i]].busy = false;
			count_error("batch", "an entry is missing", 19);
		}
		if (measuring())
			lg.calls++;
		sample(call->t0);
		return;
	}
	}
}

static void reply(struct lconn *c, const uint8_t *p, size_t n)
{
	struct lg_pbr r;
	uint64_t id = 0;
	const uint8_t *body = (const uint8_t *)"";
	size_t blen = 0;
	const uint8_t *err = NULL;
	size_t elen = 0;
	bool rpc_err = false;
	struct call *call;

	lg_pbr_init(&r, p, n);
	while (lg_pbr_next(&r) == 1) {
		if (r.field == 1 && r.wire == 0)
			id = r.v;
		else if (r.field == 2 && r.wire == 2) {
			body = r.b;
			blen = r.n;
		} else if ((r.field == 3 || r.field == 4) && r.wire == 2) {
			err = r.b;
			elen = r.n;
			rpc_err = r.field == 4;
		}
	}
	if ((id & ((1u << SLOT_BITS) - 1)) >= c->nslots) {
		conn_dead(c, "a reply to no call", 0);
		return;
	}
	call = &c->calls[id & ((1u << SLOT_BITS) - 1)];
	if (call->id != id || id == 0) {
		conn_dead(c, "a reply to no call", 0);
		return;
	}
	call->id = 0;
	c->inflight--;
	if (err == NULL) {
		reply_ok(c, call, body, blen);
		return;
	}
	/* Errors: fatal before the run, counted during it. */
	{
		struct lg_pbr d;
		const uint8_t *detail = (const uint8_t *)"";
		size_t dl = 0;
		char what[64];

		lg_pbr_init(&d, err, elen);
		while (lg_pbr_next(&d) == 1)
			if (d.field == 2 && d.wire == 2) {
				detail = d.b;
				dl = d.n;
			}
		snprintf(what, sizeof(what), "%s%s", method_name[call->kind],
			 rpc_err ? " (rpc error)" : "");
		if (call->kind == C_AUTH || call->kind == C_STATS ||
		    (call->kind == C_CREATE && lg.o->workload != LG_W_CHURN)) {
			lg_fail("%s failed: %.*s (errno %d)", what, (int)dl,
				detail, rpc_err ? 0 : app_errno(err, elen));
			return;
		}
		count_error(what, (const char *)detail, dl);
		if (call->kind == C_RBATCH || call->kind == C_SBATCH)
			for (unsigned i = 0; i < call->n; i++)
				socks[c->lists[call->sock + i]].busy = false;
		if (lg.o->workload == LG_W_CHURN &&
		    (call->kind == C_CREATE || call->kind == C_CLOSE))
			socks[call->sock].busy = socks[call->sock].open = false;
		if (lg.o->workload == LG_W_ECHO)
			socks[call->sock].busy = false;
	}
}

static void conn_read(struct lconn *c)
{
	for (;;) {
		ssize_t n = lg.io->recv(c->s, c->in, c->in_cap);
		const uint8_t *p = c->in;

		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			conn_dead(c, n == 0 ? "closed by the server" : "recv",
				  n == 0 ? 0 : (int)-n);
			return;
		}
		while (n > 0) {
			struct rs_frame f;
			size_t used;
			int rc =
			    rs_frame_decode(c->dec, p, (size_t)n, &used, &f);

			p += used;
			n -= (ssize_t)used;
			if (rc < 0) {
				conn_dead(c, rs_frame_strerror(rc), 0);
				return;
			}
			if (rc == RS_FRAME_READY)
				reply(c, f.data, f.len);
			if (c->dead)
				return;
		}
	}
}

static void conn_event(struct lg_sock *s, unsigned ev, void *user)
{
	struct lconn *c = user;

	(void)s;
	if (c->dead)
		return;
	if (ev & LG_EV_CONNECTED) {
		if (c->stats)
			issue_auth(c, lg.o->stats_app, lg.o->stats_secret);
		else
			issue_auth(c, lg.o->app, lg.o->secret);
	}
	if (ev & LG_EV_READ)
		conn_read(c);
	if ((ev & (LG_EV_ERROR | LG_EV_CLOSED)) && !c->dead) {
		int err = lg.io->error(c->s);

		conn_dead(c, "connection failed", err);
		return;
	}
	fill(c);
	flush(c);
}

/* ---- echo's open loop --------------------------------------------------- */

static void echo_more(struct lconn *c, struct lsock *ls)
{
	if (ls->echo_left == 0) {
		ls->busy = false;
		if (measuring())
			lg.calls++;
		sample(ls->t0);
		return;
	}
	if (!issue_recv(c, (unsigned)(ls - socks), ls->echo_left))
		lg_fail("echo: no room for a Receive (raise --depth)");
}

/* The next request due by now and an idle socket for it: @return the
 * socket's index and its due time in @p due, or -1 (none due, or no
 * socket idle: it waits, and its latency counts from when it was due). */
static int echo_next(uint64_t now, uint64_t *due)
{
	uint64_t period = (uint64_t)(1e9 / lg.o->rate), backlog;

	*due = echo_t_run + lg.echo_issued * period;
	if (*due > now)
		return -1;
	backlog = (now - echo_t_run) / period - lg.echo_issued;
	if (backlog > lg.echo_backlog_max)
		lg.echo_backlog_max = backlog;
	for (unsigned k = 0; k < lg.o->sockets; k++) {
		unsigned si = (echo_rr + k) % lg.o->sockets;

		if (!socks[si].busy && socks[si].open)
			return (int)si;
	}
	return -1;
}

/* A request is out on socket @p si, due at @p due. */
static void echo_sent(unsigned si, uint64_t due)
{
	socks[si].busy = true;
	socks[si].t0 = due;
	socks[si].echo_left = lg.o->size;
	echo_rr = si + 1;
	lg.echo_issued++;
}

static int echo_tick(void)
{
	uint64_t now = lg.now_ns(), due;
	int work = 0, si;

	while ((si = echo_next(now, &due)) >= 0) {
		struct lconn *c = socks[si].c;

		if (!issue_send(c, (unsigned)si, lg.o->size))
			break;
		echo_sent((unsigned)si, due);
		if (!issue_recv(c, (unsigned)si, lg.o->size))
			lg_fail("echo: no room for a Receive (raise --depth)");
		work++;
		flush(c);
	}
	return work;
}

/* ---- plain mode (a TCP relay) -------------------------------------------- */

static void plain_event(struct lg_sock *s, unsigned ev, void *user)
{
	struct lsock *ls = user;

	if (ev & (LG_EV_ERROR | LG_EV_CLOSED)) {
		if (lg.phase < PH_CLOSE)
			lg_fail("relay connection failed: %s",
				strerror(lg.io->error(s)));
		return;
	}
	if ((ev & LG_EV_CONNECTED) && !ls->open) {
		ls->open = true;
		lg.socks_ready++;
	}
	if (lg.phase != PH_WARMUP && lg.phase != PH_MEASURE)
		return;
	if (lg.o->workload == LG_W_RELAY_UP) {
		for (;;) {
			ssize_t n = lg.io->send(
			    s, lg.pattern + ls->tx_off % LG_PATTERN_MOD,
			    sizeof(plain_buf));

			if (n <= 0)
				break;
			ls->tx_off += (uint64_t)n;
			if (measuring())
				lg.bytes += (uint64_t)n;
		}
		return;
	}
	/* relay-down and echo read */
	for (;;) {
		size_t want = sizeof(plain_buf);
		ssize_t n;

		if (lg.o->workload == LG_W_ECHO && ls->echo_left < want)
			want = ls->echo_left;
		if (want == 0)
			break;
		n = lg.io->recv(s, plain_buf, want);
		if (n <= 0) {
			if (n == 0 && lg.phase < PH_CLOSE)
				lg_fail("relay closed the connection");
			break;
		}
		if (lg.o->verify &&
		    memcmp(plain_buf, lg.pattern + ls->rx_off % LG_PATTERN_MOD,
			   (size_t)n) != 0)
			count_error("relay", "bytes differ from the pattern",
				    29);
		ls->rx_off += (uint64_t)n;
		if (measuring())
			lg.bytes += (uint64_t)n;
		if (lg.o->workload == LG_W_ECHO) {
			ls->echo_left -= (uint32_t)n;
			if (ls->echo_left == 0) {
				ls->busy = false;
				if (measuring())
					lg.calls++;
				sample(ls->t0);
			}
		}
	}
}

static int plain_echo_tick(void)
{
	uint64_t now = lg.now_ns(), due;
	int work = 0, si;

	while ((si = echo_next(now, &due)) >= 0) {
		struct lsock *ls = &socks[si];
		ssize_t n = lg.io->send(
		    ls->ps, lg.pattern + ls->tx_off % LG_PATTERN_MOD,
		    lg.o->size);

		if (n != (ssize_t)lg.o->size) {
			lg_fail("relay echo: a request of %u bytes did not "
				"fit the socket",
				lg.o->size);
			break;
		}
		ls->tx_off += (uint64_t)n;
		echo_sent((unsigned)si, due);
		work++;
	}
	return work;
}

/* ---- phases ----------------------------------------------------------------
 */

/* The process's CPU time, seconds. */
static double cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Another process's CPU time (user + system, all threads), in clock
 * ticks: /proc/PID/stat's fields 14 and 15; 0 when it cannot be read. */
static uint64_t proc_ticks(int pid)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0;
	const char *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name may hold blanks */
	if (p == NULL ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		   &st) != 2)
		return 0;
	return ut + st;
}

static void snapshot(unsigned k)
{
	if (stats_conn != NULL)
		issue_stats(stats_conn, k), flush(stats_conn);
	if (lg.o->server_pid > 0)
		lg.srv_cpu_ticks[k] = proc_ticks(lg.o->server_pid);
	if (lg.self_busy_cycles != NULL)
		lg.self_busy[k] = lg.self_busy_cycles();
	lg.self_cpu[k] = cpu_self();
}

static void phase(int ph)
{
	lg.phase = ph;
	lg.t_phase = lg.now_ns();
	fprintf(stderr, "remsock-loadgen: %s\n",
		(const char *[]){"connect", "setup", "warmup", "measure",
				 "drain", "close", "done"}[ph]);
}

static unsigned inflight_all(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nconns; i++)
		n += conns[i].dead ? 0 : conns[i].inflight;
	return n;
}

static void setup_more(void)
{
	for (unsigned i = 0; i < nconns; i++) {
		struct lconn *c = &conns[i];

		while (c->created < c->nsocks &&
		       issue_create(c, c->idx + c->created * nconns))
			c->created++;
		flush(c);
	}
}

static void run_start(void)
{
	phase(PH_WARMUP);
	echo_t_run = lg.now_ns();
	for (unsigned i = 0; i < nconns; i++) {
		fill(&conns[i]);
		flush(&conns[i]);
	}
	if (lg.o->use_plain)
		for (unsigned i = 0; i < lg.o->sockets; i++)
			plain_event(socks[i].ps, LG_EV_WRITE | LG_EV_READ,
				    &socks[i]);
}

int lg_work_tick(void)
{
	uint64_t now = lg.now_ns(), in_phase = now - lg.t_phase;
	int work = 0;

	if (lg.done)
		return 0;
	switch (lg.phase) {
	case PH_CONNECT:
		if (lg.o->use_plain) {
			if (lg.socks_ready == lg.o->sockets)
				run_start();
		} else if (lg.conns_ready == nconns + (stats_conn != NULL)) {
			if (lg.o->workload == LG_W_CHURN) {
				run_start();
			} else {
				phase(PH_SETUP);
				setup_more();
			}
		}
		break;
	case PH_SETUP:
		setup_more();
		if (lg.socks_ready == lg.o->sockets)
			run_start();
		break;
	case PH_WARMUP:
		if (in_phase >= (uint64_t)(lg.o->warmup_s * 1e9)) {
			snapshot(0);
			phase(PH_MEASURE);
			lg.t_start = lg.now_ns();
			lg.calls = lg.entries = lg.bytes = lg.errors = 0;
			lg.empty = 0;
			memset(&lg.hist, 0, sizeof(lg.hist));
		}
		break;
	case PH_MEASURE:
		if (in_phase >= (uint64_t)(lg.o->duration_s * 1e9)) {
			lg.t_end = lg.now_ns();
			snapshot(1);
			phase(PH_DRAIN);
		}
		break;
	case PH_DRAIN:
		/* The Stats of the window's end must be in, too. */
		if (inflight_all() == 0 &&
		    (stats_conn == NULL || stats_conn->inflight == 0 ||
		     stats_conn->dead)) {
			phase(PH_CLOSE);
			for (unsigned i = 0; i < lg.o->sockets; i++) {
				if (lg.o->use_plain) {
					lg.io->close(socks[i].ps);
					socks[i].ps = NULL;
					socks[i].open = false;
				} else if (socks[i].open && !socks[i].closing) {
					issue_close(socks[i].c, i);
				}
			}
			for (unsigned i = 0; i < nconns; i++)
				flush(&conns[i]);
		} else if (in_phase > DRAIN_LIMIT_NS) {
			lg_fail("drain: %u calls never answered",
				inflight_all());
		}
		break;
	case PH_CLOSE:
		if (inflight_all() == 0)
			phase(PH_DONE), lg.done = true;
		else if (in_phase > DRAIN_LIMIT_NS)
			lg_fail("close: %u Close calls never answered",
				inflight_all());
		break;
	}
	if (lg.o->workload == LG_W_ECHO &&
	    (lg.phase == PH_WARMUP || lg.phase == PH_MEASURE))
		work += lg.o->use_plain ? plain_echo_tick() : echo_tick();
	return work;
}

uint64_t lg_work_next_due_ns(void)
{
	if (lg.o->workload != LG_W_ECHO ||
	    (lg.phase != PH_WARMUP && lg.phase != PH_MEASURE))
		return UINT64_MAX;
	return echo_t_run + lg.echo_issued * (uint64_t)(1e9 / lg.o->rate);
}

static struct lconn *conn_open(unsigned idx, bool stats)
{
	struct lconn *c = stats ? calloc(1, sizeof(*c)) : &conns[idx];
	unsigned size = lg.o->size, batch = lg.o->batch ? lg.o->batch : 1;
	size_t frame = (size_t)batch * (size + 64) + 256;

	if (c == NULL)
		return NULL;
	c->idx = idx;
	c->stats = stats;
	/* Echo and churn add calls beyond the depth: a Receive or Close
	 * after each answer, at most two per socket. */
	c->nslots = stats ? 4
			  : (lg.o->depth > 2 * c->nsocks ? lg.o->depth
							 : 2 * c->nsocks) +
				2;
	c->calls = calloc(c->nslots, sizeof(*c->calls));
	c->lists = calloc((size_t)c->nslots * batch, sizeof(*c->lists));
	/* Output for every call in flight at its largest; input a chunk. */
	c->out_cap = (size_t)c->nslots * frame + 65536;
	c->out = malloc(c->out_cap);
	/* Input: a read takes what the ring holds; with room for several
	 * frames, most lie whole in it and are parsed in place (only the one
	 * that straddles the end is assembled: a copy). */
	c->in_cap = 4 * frame < (256u << 10) ? 256u << 10
		    : 4 * frame > (4u << 20) ? 4u << 20
					     : 4 * frame;
	c->in = malloc(c->in_cap);
	c->dec = rs_frame_decoder_create(frame + (8u << 20) > RS_FRAME_MAX_HARD
					     ? RS_FRAME_MAX_HARD
					     : frame + (8u << 20));
	if (c->calls == NULL || c->lists == NULL || c->out == NULL ||
	    c->in == NULL || c->dec == NULL) {
		lg_fail("no memory for connection %u", idx);
		return NULL;
	}
	c->s = lg.io->connect(&lg.o->server, conn_event, c);
	if (c->s == NULL) {
		lg_fail("cannot connect to the server: %s", strerror(errno));
		return NULL;
	}
	return c;
}

int lg_work_start(void)
{
	const struct lg_opts *o = lg.o;

	socks = calloc(o->sockets, sizeof(*socks));
	if (socks == NULL)
		return -1;
	phase(PH_CONNECT);
	if (o->use_plain) {
		for (unsigned i = 0; i < o->sockets; i++) {
			socks[i].ps =
			    lg.io->connect(&o->plain, plain_event, &socks[i]);
			if (socks[i].ps == NULL) {
				lg_fail("cannot connect to the relay: %s",
					strerror(errno));
				return -1;
			}
		}
		return 0;
	}
	nconns = o->conns;
	conns = calloc(nconns, sizeof(*conns));
	if (conns == NULL)
		return -1;
	for (unsigned i = 0; i < o->sockets; i++) {
		socks[i].c = &conns[i % nconns];
		conns[i % nconns].nsocks++;
	}
	for (unsigned i = 0; i < nconns; i++)
		if (conn_open(i, false) == NULL)
			return -1;
	if (o->stats_app != NULL) {
		stats_conn = conn_open(nconns, true);
		if (stats_conn == NULL)
			return -1;
	}
	return 0;
}

void lg_work_stop(void)
{
	for (unsigned i = 0; socks != NULL && i < lg.o->sockets; i++)
		if (socks[i].ps != NULL)
			lg.io->close(socks[i].ps), socks[i].ps = NULL;
	for (unsigned i = 0; i <= nconns; i++) {
		struct lconn *c = i < nconns ? &conns[i] : stats_conn;

		if (c == NULL || c->s == NULL)
			continue;
		c->dead = true;
		lg.io->close(c->s);
		c->s = NULL;
	}
}
