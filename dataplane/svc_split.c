/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A batch over the sockets of several workers (Poll, ReceiveBatch,
 * SendBatch), split and merged by the worker of its connection.
 *
 * The call becomes a struct svc_split: its entries grouped by the worker
 * that holds their sockets (unknown descriptors stay here, where any
 * worker answers them alike), each group a part -- a call of the same
 * method over those entries -- given to its worker as a forwarded call
 * (FWD, marked RS_SVC_MSG_F_PART; a group of this worker's goes on its
 * own peer ring), whose answer comes back as an ANSWER with the same
 * mark (svc_split_answer()).  The parts' call_id is the split's token:
 * a serial number and a round, so that answers of an earlier round are
 * known and dropped.
 *
 *   sweep   every part with timeout 0.  When all have answered, their
 *           entries are merged in the call's order: the answer, if one
 *           is ready (an event; data, an error or the end of a stream;
 *           SendBatch always), or the timeout is 0 or over.
 *   watch   otherwise every part becomes a Poll of its sockets (IN, or
 *           the events asked) with the time left.  The first to answer
 *           (something became ready, or the time is up) ends the round:
 *           the others are cancelled (CANCEL), and a sweep runs again.
 *
 * A watch never consumes: a Receive is only ever made by a sweep, whose
 * every answer is merged, so nothing read is lost whichever part wins.
 *
 * A split holds one pending_calls share of its app while it lasts, and
 * each part counts in its connection's calls in flight until its answer,
 * as any forwarded call.  When the connection closes the split is dropped; its
 * parts on other workers are cancelled by the connection's CONN_GONE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>

#include "rpc.pb-c.h"
#include "svc_pvt.h"

enum split_kind { SPLIT_POLL, SPLIT_RECV, SPLIT_SEND };
enum split_phase { PHASE_SWEEP, PHASE_WATCH };

struct split_part {
	uint16_t worker;
	uint32_t n;			 /* entries */
	uint32_t *idx;			 /* their places in the call */
	Remsock__Rpc__RpcResponse *resp; /* the sweep's answer, or NULL */
	bool out;			 /* its answer is awaited this round */
};

struct svc_split {
	TAILQ_ENTRY(svc_split) link;
	uint64_t serial;
	uint16_t round;
	enum split_kind kind;
	enum split_phase phase;
	uint64_t conn; /* svc_conn_ref() */
	uint32_t app;
	uint64_t call_id;
	const struct rs_rpc_method *method;
	uint64_t deadline_ns; /* UINT64_MAX: none */
	uint8_t *frame;	      /* the call's request frame body */
	size_t len;
	uint32_t nparts, outstanding;
	struct split_part *parts;
};

/* ---- the call's request -------------------------------------------------- */

/* The request of a split's frame (free with protobuf_c_message_free_
 * unpacked()), and the envelope it came in. */
static ProtobufCMessage *request_of(const struct svc_split *sp,
				    Remsock__Rpc__RpcRequest **env)
{
	ProtobufCMessage *req;

	*env = remsock__rpc__rpc_request__unpack(NULL, sp->len, sp->frame);
	if (*env == NULL)
		return NULL;
	req = protobuf_c_message_unpack(sp->method->req_desc, NULL,
					(*env)->body.len, (*env)->body.data);
	if (req == NULL)
		remsock__rpc__rpc_request__free_unpacked(*env, NULL);
	return req;
}

static size_t n_entries(enum split_kind kind, const ProtobufCMessage *req)
{
	switch (kind) {
	case SPLIT_POLL:
		return ((const Remsock__PollRequest *)req)->n_events;
	case SPLIT_RECV:
		return ((const Remsock__ReceiveBatchRequest *)req)->n_receives;
	default:
		return ((const Remsock__SendBatchRequest *)req)->n_sends;
	}
}

static const char *desc_of(enum split_kind kind, const ProtobufCMessage *req,
			   size_t i)
{
	switch (kind) {
	case SPLIT_POLL:
		return ((const Remsock__PollRequest *)req)
		    ->events[i]
		    ->socket_descriptor;
	case SPLIT_RECV:
		return ((const Remsock__ReceiveBatchRequest *)req)
		    ->receives[i]
		    ->socket_descriptor;
	default:
		return ((const Remsock__SendBatchRequest *)req)
		    ->sends[i]
		    ->socket_descriptor;
	}
}

static double timeout_of(enum split_kind kind, const ProtobufCMessage *req)
{
	switch (kind) {
	case SPLIT_POLL:
		return ((const Remsock__PollRequest *)req)->timeout_seconds;
	case SPLIT_RECV:
		return ((const Remsock__ReceiveBatchRequest *)req)
		    ->timeout_seconds;
	default:
		return 0;
	}
}

/* ---- splits of a worker -------------------------------------------------- */

static uint64_t token(const struct svc_split *sp)
{
	return sp->serial << 16 | sp->round;
}

static void split_free(struct svc_worker *w, struct svc_split *sp)
{
	TAILQ_REMOVE(&w->splits, sp, link);
	rs_apps_uncharge(w->sh->apps, sp->app, RS_QUOTA_PENDING_CALLS, 1);
	for (uint32_t i = 0; i < sp->nparts; i++) {
		free(sp->parts[i].idx);
		if (sp->parts[i].resp != NULL)
			remsock__rpc__rpc_response__free_unpacked(
			    sp->parts[i].resp, NULL);
	}
	free(sp->parts);
	free(sp->frame);
	free(sp);
}

void svc_split_conn_gone(struct svc_worker *w, uint64_t conn)
{
	struct svc_split *sp, *next;

	for (sp = TAILQ_FIRST(&w->splits); sp != NULL; sp = next) {
		next = TAILQ_NEXT(sp, link);
		if (sp->conn == conn)
			split_free(w, sp);
	}
}

void svc_split_free_all(struct svc_worker *w)
{
	while (!TAILQ_EMPTY(&w->splits))
		split_free(w, TAILQ_FIRST(&w->splits));
}

/* ---- answering the call ------------------------------------------------- */

/* Answer the call with the frame of a response envelope @p r (its
 * call_id made the call's), and end the split. */
static void finish(struct svc_worker *w, struct svc_split *sp,
		   Remsock__Rpc__RpcResponse *r)
{
	struct svc_conn *c = svc_conn_get(w, sp->conn);
	size_t n;
	uint8_t *buf;

	r->has_call_id = true;
	r->call_id = sp->call_id;
	n = remsock__rpc__rpc_response__get_packed_size(r);
	buf = malloc(4 + n);
	if (buf != NULL && c != NULL) {
		uint32_t be = rte_cpu_to_be_32((uint32_t)n);

		memcpy(buf, &be, 4);
		remsock__rpc__rpc_response__pack(r, buf + 4);
		svc_conn_reply(w, c, buf, 4 + n);
	}
	free(buf);
	split_free(w, sp);
}

static void finish_error(struct svc_worker *w, struct svc_split *sp,
			 Remsock__Rpc__RpcErrorCode code, const char *detail)
{
	struct svc_conn *c = svc_conn_get(w, sp->conn);
	size_t len;

	if (c != NULL && rs_rpc_error_write(sp->call_id, code, detail, w->out,
					    SVC_OUT_MAX, &len) == 0)
		svc_conn_reply(w, c, w->out, len);
	split_free(w, sp);
}

/* Whether a merged entry is news: an event; a Receive's data, end of
 * stream or error other than EAGAIN. */
static bool entry_ready(enum split_kind kind, const void *e)
{
	const Remsock__ReceiveBatchEntry *r = e;

	if (kind == SPLIT_POLL)
		return ((const Remsock__PollEvent *)e)->observed_events != 0;
	if (kind == SPLIT_SEND)
		return true;
	return r->error == NULL || r->error->system_error != EAGAIN;
}

/* The sweep's answers, merged in the call's order, answer the call when
 * something is ready or the time is up; @return whether they did. */
static bool merge(struct svc_worker *w, struct svc_split *sp, bool last)
{
	Remsock__Rpc__RpcResponse out = REMSOCK__RPC__RPC_RESPONSE__INIT;
	ProtobufCMessage *replies[RS_CONFIG_WORKERS_MAX] = {0};
	Remsock__PollReply poll = REMSOCK__POLL_REPLY__INIT;
	Remsock__ReceiveBatchReply recv = REMSOCK__RECEIVE_BATCH_REPLY__INIT;
	Remsock__SendBatchReply send = REMSOCK__SEND_BATCH_REPLY__INIT;
	ProtobufCMessage *msg = sp->kind == SPLIT_POLL	 ? &poll.base
				: sp->kind == SPLIT_RECV ? &recv.base
							 : &send.base;
	size_t total = 0;
	void **ent;
	bool ready = false, done = false;

	/* A part that failed as a whole (a quota, a full ring): the call
	 * answers its error. */
	for (uint32_t i = 0; i < sp->nparts; i++) {
		Remsock__Rpc__RpcResponse *r = sp->parts[i].resp;

		if (r->rpc_error != NULL || r->application_error != NULL) {
			out.rpc_error = r->rpc_error;
			out.application_error = r->application_error;
			finish(w, sp, &out);
			return true;
		}
		total += sp->parts[i].n;
	}
	ent = calloc(total + 1, sizeof(*ent));
	if (ent == NULL) {
		finish_error(w, sp, RPC_ERR(INTERNAL), "no memory to merge");
		return true;
	}
	for (uint32_t i = 0; i < sp->nparts && !done; i++) {
		struct split_part *p = &sp->parts[i];
		void **got;
		size_t n;

		replies[i] = protobuf_c_message_unpack(sp->method->resp_desc,
						       NULL, p->resp->body.len,
						       p->resp->body.data);
		if (replies[i] == NULL) {
			done = true;
			break;
		}
		if (sp->kind == SPLIT_POLL) {
			n = ((Remsock__PollReply *)replies[i])->n_events;
			got =
			    (void **)((Remsock__PollReply *)replies[i])->events;
		} else if (sp->kind == SPLIT_RECV) {
			n = ((Remsock__ReceiveBatchReply *)replies[i])
				->n_entries;
			got =
			    (void **)((Remsock__ReceiveBatchReply *)replies[i])
				->entries;
		} else {
			n = ((Remsock__SendBatchReply *)replies[i])->n_entries;
			got = (void **)((Remsock__SendBatchReply *)replies[i])
				  ->entries;
		}
		if (n != p->n) {
			done = true;
			break;
		}
		for (size_t k = 0; k < n; k++) {
			ent[p->idx[k]] = got[k];
			ready |= entry_ready(sp->kind, got[k]);
		}
	}
	if (done) { /* a part's answer did not decode: cannot happen */
		finish_error(w, sp, RPC_ERR(INTERNAL), "a part's answer");
	} else if (ready || last) {
		uint8_t *body;

		poll.n_events = recv.n_entries = send.n_entries = total;
		poll.events = (Remsock__PollEvent **)ent;
		recv.entries = (Remsock__ReceiveBatchEntry **)ent;
		send.entries = (Remsock__SendBatchEntry **)ent;
		out.has_body = true;
		out.body.len = protobuf_c_message_get_packed_size(msg);
		body = malloc(out.body.len + 1);
		if (body == NULL) {
			finish_error(w, sp, RPC_ERR(INTERNAL),
				     "no memory to merge");
		} else {
			protobuf_c_message_pack(msg, body);
			out.body.data = body;
			finish(w, sp, &out);
			free(body);
		}
		done = true;
	}
	for (uint32_t i = 0; i < RS_CONFIG_WORKERS_MAX; i++)
		if (replies[i] != NULL)
			protobuf_c_message_free_unpacked(replies[i], NULL);
	free(ent);
	return done;
}

/* ---- parts --------------------------------------------------------------- */

/* A part's request, one of them. */
struct part_req {
	Remsock__PollRequest poll;
	Remsock__ReceiveBatchRequest recv;
	Remsock__SendBatchRequest send;
};

/* The request of part @p p for this round, in @p pr: the call's method
 * over its entries with timeout 0 (a sweep), or a Poll of its sockets
 * with the time left (a watch). */
static ProtobufCMessage *part_request(const struct svc_split *sp,
				      const struct split_part *p,
				      ProtobufCMessage *req, double left,
				      void **buf, struct part_req *pr,
				      const char **method)
{
	Remsock__PollRequest *poll = &pr->poll;
	Remsock__ReceiveBatchRequest *recv = &pr->recv;
	Remsock__SendBatchRequest *send = &pr->send;
	Remsock__PollEvent *ev;
	void **v = buf;

	*method = sp->method->name;
	if (sp->phase == PHASE_WATCH) {
		*method = "Poll";
		remsock__poll_request__init(poll);
		ev = (Remsock__PollEvent *)(buf + p->n);
		for (uint32_t k = 0; k < p->n; k++) {
			remsock__poll_event__init(&ev[k]);
			if (sp->kind == SPLIT_POLL)
				ev[k] = *((Remsock__PollRequest *)req)
					     ->events[p->idx[k]];
			else
				ev[k].requested_events =
				    REMSOCK__POLL_EVENT__POLL_EVENT_FLAG__SOCKET_POLLIN;
			ev[k].socket_descriptor =
			    (char *)desc_of(sp->kind, req, p->idx[k]);
			v[k] = &ev[k];
		}
		poll->n_events = p->n;
		poll->events = (Remsock__PollEvent **)v;
		poll->has_timeout_seconds = true;
		poll->timeout_seconds = left;
		return &poll->base;
	}
	switch (sp->kind) {
	case SPLIT_POLL:
		remsock__poll_request__init(poll);
		for (uint32_t k = 0; k < p->n; k++)
			v[k] = ((Remsock__PollRequest *)req)->events[p->idx[k]];
		poll->n_events = p->n;
		poll->events = (Remsock__PollEvent **)v;
		poll->has_timeout_seconds = true;
		poll->timeout_seconds = 0;
		return &poll->base;
	case SPLIT_RECV:
		remsock__receive_batch_request__init(recv);
		for (uint32_t k = 0; k < p->n; k++)
			v[k] = ((Remsock__ReceiveBatchRequest *)req)
				   ->receives[p->idx[k]];
		recv->n_receives = p->n;
		recv->receives = (Remsock__ReceiveRequest **)v;
		recv->has_timeout_seconds = true;
		recv->timeout_seconds = 0;
		return &recv->base;
	default:
		remsock__send_batch_request__init(send);
		for (uint32_t k = 0; k < p->n; k++)
			v[k] = ((Remsock__SendBatchRequest *)req)
				   ->sends[p->idx[k]];
		send->n_sends = p->n;
		send->sends = (Remsock__SendRequest **)v;
		return &send->base;
	}
}

/* Give part @p p of this round to its worker.  @return 0, or -1 when it
 * could not (no entry, no memory). */
static int part_send(struct svc_worker *w, struct svc_split *sp,
		     struct split_part *p, ProtobufCMessage *req, double left)
{
	Remsock__Rpc__RpcRequest env = REMSOCK__RPC__RPC_REQUEST__INIT;
	struct part_req pr;
	ProtobufCMessage *sub;
	struct rs_svc_msg *m = NULL;
	struct svc_conn *c;
	const char *method;
	uint8_t *body = NULL, *frame = NULL;
	void **buf;
	size_t blen, flen;
	int rc = -1;

	buf = calloc(p->n + 1, sizeof(void *) + sizeof(Remsock__PollEvent));
	if (buf == NULL)
		return -1;
	sub = part_request(sp, p, req, left, buf, &pr, &method);
	blen = protobuf_c_message_get_packed_size(sub);
	body = malloc(blen + 1);
	if (body == NULL)
		goto out;
	protobuf_c_message_pack(sub, body);
	env.has_call_id = true;
	env.call_id = token(sp);
	env.service_name = RS_SVC_SERVICE;
	env.method = (char *)method;
	env.has_body = true;
	env.body.len = blen;
	env.body.data = body;
	flen = remsock__rpc__rpc_request__get_packed_size(&env);
	frame = malloc(flen);
	if (frame == NULL)
		goto out;
	remsock__rpc__rpc_request__pack(&env, frame);
	m = rs_svc_msg_get(w->sh);
	if (m == NULL || rs_svc_msg_set_frame(m, frame, flen) < 0)
		goto out;
	m->type = RS_SVC_MSG_FWD;
	m->worker = (uint16_t)w->k;
	m->app = sp->app;
	m->conn = sp->conn;
	m->flags |= RS_SVC_MSG_F_CHARGED | RS_SVC_MSG_F_PART;
	svc_peer_send(w, p->worker, m);
	m = NULL;
	if ((c = svc_conn_get(w, sp->conn)) != NULL)
		c->fwd_inflight++;
	p->out = true;
	sp->outstanding++;
	SVC_CNT_INC(w, fwd_out);
	rc = 0;
out:
	if (m != NULL)
		rs_svc_msg_put(w->sh, m);
	free(frame);
	free(body);
	free(buf);
	return rc;
}

/* Start a round: every part, as the phase says. */
static void round_start(struct svc_worker *w, struct svc_split *sp)
{
	Remsock__Rpc__RpcRequest *env;
	ProtobufCMessage *req = request_of(sp, &env);
	uint64_t now = rs_lcore_now_ns(w->lc);
	double left = -1;

	if (req == NULL) { /* it decoded once: cannot happen */
		finish_error(w, sp, RPC_ERR(INTERNAL), "the batch");
		return;
	}
	if (sp->deadline_ns != UINT64_MAX)
		left = sp->deadline_ns > now
			   ? (double)(sp->deadline_ns - now) / 1e9
			   : 0;
	sp->round++;
	sp->outstanding = 0;
	for (uint32_t i = 0; i < sp->nparts; i++) {
		struct split_part *p = &sp->parts[i];

		if (p->resp != NULL)
			remsock__rpc__rpc_response__free_unpacked(p->resp,
								  NULL);
		p->resp = NULL;
		p->out = false;
		if (part_send(w, sp, p, req, left) < 0)
			break;
	}
	protobuf_c_message_free_unpacked(req, NULL);
	remsock__rpc__rpc_request__free_unpacked(env, NULL);
	if (sp->outstanding != sp->nparts) {
		/* Parts sent answer into a split that is gone. */
		finish_error(w, sp, RPC_ERR(OVER_QUOTA),
			     "the batch's sockets are on several workers, "
			     "and their calls found no room: retry");
	}
}

/* Cancel this round's watches still out: their answers would be of a
 * round that is over. */
static void watches_cancel(struct svc_worker *w, struct svc_split *sp)
{
	for (uint32_t i = 0; i < sp->nparts; i++) {
		struct rs_svc_msg *m;
		uint64_t t = token(sp);

		if (!sp->parts[i].out || (m = rs_svc_msg_get(w->sh)) == NULL)
			continue;
		m->type = RS_SVC_MSG_CANCEL;
		m->worker = (uint16_t)w->k;
		m->conn = sp->conn;
		m->len = sizeof(t);
		memcpy(m->data, &t, sizeof(t));
		svc_peer_send(w, sp->parts[i].worker, m);
	}
}

bool svc_split_start(struct svc_call *sc, struct rs_rpc_call *call,
		     const ProtobufCMessage *req)
{
	struct svc_worker *w = sc->w;
	const char *name = call->method->name;
	enum split_kind kind = strcmp(name, "Poll") == 0	   ? SPLIT_POLL
			       : strcmp(name, "ReceiveBatch") == 0 ? SPLIT_RECV
								   : SPLIT_SEND;
	size_t n = n_entries(kind, req);
	double timeout = timeout_of(kind, req);
	uint16_t *owner = NULL;
	struct svc_split *sp;

	if (sc->conn == NULL || call->frame == NULL)
		return false;
	if (rs_apps_charge(w->sh->apps, sc->app, RS_QUOTA_PENDING_CALLS, 1) <
	    0) {
		rs_rpc_call_set_rpc_error(call, RPC_ERR(OVER_QUOTA),
					  "pending call quota used");
		return false;
	}
	sp = calloc(1, sizeof(*sp));
	owner = calloc(n + 1, sizeof(*owner));
	if (sp != NULL)
		sp->frame = malloc(call->frame_len + 1);
	if (sp == NULL || owner == NULL || sp->frame == NULL) {
		free(owner);
		if (sp != NULL)
			free(sp->frame);
		free(sp);
		rs_apps_uncharge(w->sh->apps, sc->app, RS_QUOTA_PENDING_CALLS,
				 1);
		rs_rpc_call_set_rpc_error(call, RPC_ERR(INTERNAL),
					  "no memory to split the batch");
		return false;
	}
	memcpy(sp->frame, call->frame, call->frame_len);
	sp->len = call->frame_len;
	sp->serial = ++w->split_serial;
	sp->kind = kind;
	sp->conn = svc_conn_ref(sc->conn);
	sp->app = sc->app;
	sp->call_id = call->call_id;
	sp->method = call->method;
	sp->deadline_ns =
	    kind == SPLIT_SEND || timeout == 0 ? rs_lcore_now_ns(w->lc)
	    : timeout < 0		       ? UINT64_MAX
			  : rs_lcore_now_ns(w->lc) + (uint64_t)(timeout * 1e9);
	if (call->has_deadline && call->deadline_seconds >= 0)
		sp->deadline_ns =
		    RTE_MIN(sp->deadline_ns,
			    rs_lcore_now_ns(w->lc) +
				(uint64_t)(call->deadline_seconds * 1e9));
	TAILQ_INSERT_TAIL(&w->splits, sp, link);
	/* The parts: one per worker, in the order of their first entry. */
	for (size_t i = 0; i < n; i++)
		owner[i] = (uint16_t)svc_route_owner(w, desc_of(kind, req, i));
	sp->parts = calloc(RS_CONFIG_WORKERS_MAX, sizeof(*sp->parts));
	for (size_t i = 0; sp->parts != NULL && i < n; i++) {
		struct split_part *p = NULL;

		for (uint32_t k = 0; k < sp->nparts; k++)
			if (sp->parts[k].worker == owner[i])
				p = &sp->parts[k];
		if (p == NULL) {
			p = &sp->parts[sp->nparts++];
			p->worker = owner[i];
			p->idx = calloc(n, sizeof(*p->idx));
			if (p->idx == NULL)
				break;
		}
		p->idx[p->n++] = (uint32_t)i;
	}
	free(owner);
	sc->split = true;
	sc->conn->forwarded = true; /* its parts end with it */
	SVC_CNT_INC(w, splits);
	sp->phase = PHASE_SWEEP;
	if (sp->parts == NULL || sp->nparts == 0 ||
	    sp->parts[sp->nparts - 1].idx == NULL) {
		finish_error(w, sp, RPC_ERR(INTERNAL),
			     "no memory to split the batch");
		return true;
	}
	round_start(w, sp);
	return true;
}

void svc_split_answer(struct svc_worker *w, const struct rs_svc_msg *m)
{
	const uint8_t *f = rs_svc_msg_frame(m);
	Remsock__Rpc__RpcResponse *r;
	struct svc_split *sp;
	uint16_t round;

	if (m->len < 4)
		return;
	r = remsock__rpc__rpc_response__unpack(NULL, m->len - 4, f + 4);
	if (r == NULL)
		return;
	round = (uint16_t)r->call_id;
	TAILQ_FOREACH(sp, &w->splits, link)
	if (sp->serial == r->call_id >> 16)
		break;
	/* Gone (the connection closed, the call answered), or an answer of
	 * a round that is over (a cancelled watch). */
	if (sp == NULL || round != sp->round) {
		remsock__rpc__rpc_response__free_unpacked(r, NULL);
		return;
	}
	for (uint32_t i = 0; i < sp->nparts; i++) {
		if (sp->parts[i].worker != m->worker || !sp->parts[i].out)
			continue;
		sp->parts[i].out = false;
		sp->parts[i].resp = r;
		r = NULL;
		sp->outstanding--;
		break;
	}
	if (r != NULL) { /* not a part of it: cannot happen */
		remsock__rpc__rpc_response__free_unpacked(r, NULL);
		return;
	}
	if (sp->phase == PHASE_WATCH) {
		/* The first watch to answer ends the round: sweep again. */
		watches_cancel(w, sp);
		sp->phase = PHASE_SWEEP;
		round_start(w, sp);
		return;
	}
	if (sp->outstanding != 0)
		return;
	if (merge(w, sp, rs_lcore_now_ns(w->lc) >= sp->deadline_ns))
		return;
	sp->phase = PHASE_WATCH;
	round_start(w, sp);
}
