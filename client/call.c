/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Call objects and the connection's table of calls in flight.
 *
 * A call: IDLE --start--> RUNNING --answer, or failure--> FINISHING
 * --reset--> IDLE.  While RUNNING it is in the table (a list in start order,
 * so that a re-issue after a reconnect sends pipelined Sends in their
 * order, and a hash by call id for the replies).  The I/O thread takes it
 * out, stores the result, runs the callback, then marks it settled, queues
 * it for rsk_conn_next_done() (RSK_CALL_NOTIFY) and wakes the waiters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn_pvt.h"

/* ---- the table (under mu) ----------------------------------------------- */

static struct rsk_call **bucket(struct rsk_conn *c, uint64_t id)
{
	return &c->hash[id & (RSKP_HASH - 1)];
}

static void table_add(struct rsk_conn *c, struct rsk_call *call)
{
	struct rsk_call **b = bucket(c, call->id);

	call->next = NULL;
	call->prev = c->tail;
	if (c->tail != NULL)
		c->tail->next = call;
	else
		c->head = call;
	c->tail = call;
	call->hnext = *b;
	*b = call;
	call->pending = true;
}

static void table_del(struct rsk_conn *c, struct rsk_call *call)
{
	struct rsk_call **p = bucket(c, call->id);

	while (*p != call)
		p = &(*p)->hnext;
	*p = call->hnext;
	if (call->prev != NULL)
		call->prev->next = call->next;
	else
		c->head = call->next;
	if (call->next != NULL)
		call->next->prev = call->prev;
	else
		c->tail = call->prev;
	call->pending = false;
}

struct rsk_call *rskp_table_take(struct rsk_conn *c, uint64_t id)
{
	struct rsk_call *call = *bucket(c, id);

	while (call != NULL && call->id != id)
		call = call->hnext;
	if (call != NULL) {
		table_del(c, call);
		call->taken = true;
	}
	return call;
}

struct rsk_call *rskp_table_take_all(struct rsk_conn *c, bool retry_too)
{
	struct rsk_call *list = NULL, **tail = &list, *call, *next;

	for (call = c->head; call != NULL; call = next) {
		next = call->next;
		if (!retry_too && (call->flags & RSK_CALL_RETRY))
			continue;
		table_del(c, call);
		call->taken = true;
		call->qnext = NULL;
		*tail = call;
		tail = &call->qnext;
	}
	return list;
}

/* ---- completion --------------------------------------------------------- */

static void result_clear(struct rsk_call *call)
{
	free(call->detail);
	free(call->reply);
	call->detail = NULL;
	call->reply = NULL;
	call->reply_len = 0;
	memset(&call->err, 0, sizeof(call->err));
	call->err.detail = "";
}

void rskp_call_complete(struct rsk_call *call, struct rskp_resp *r, int local)
{
	struct rsk_conn *c = call->conn;
	uint64_t one = 1;

	result_clear(call);
	if (r != NULL) {
		call->err.rpc_code = r->rpc_code;
		call->err.app_code = r->app_code;
		call->err.sys_error = r->sys_error;
		call->detail = r->detail;
		call->reply = r->body;
		call->reply_len = r->body_len;
		r->detail = NULL;
		r->body = NULL;
	} else {
		call->err.local = local;
	}
	if (call->detail != NULL)
		call->err.detail = call->detail;
	pthread_mutex_lock(&c->mu);
	/* The answer can come while rsk_call_start() is still in send() with
	 * the frame (the kernel has the bytes; the call has not returned):
	 * then the writer frees it. */
	if (call->writing) {
		call->frame_done = true;
	} else {
		free(call->frame);
		call->frame = NULL;
	}
	call->state = RSK_CALL_FINISHING;
	pthread_mutex_unlock(&c->mu);
	if (call->cb != NULL)
		call->cb(call, call->arg);
	pthread_mutex_lock(&c->mu);
	call->taken = false;
	/* A callback that started the call again has made it RUNNING. */
	call->settled = call->state == RSK_CALL_FINISHING;
	if (call->settled && (call->flags & RSK_CALL_NOTIFY)) {
		call->qnext = NULL;
		if (c->qtail != NULL)
			c->qtail->qnext = call;
		else
			c->qhead = call;
		c->qtail = call;
		call->queued = true;
		if (write(c->efd, &one, sizeof(one)) < 0) {
			/* cannot fail short of a counter overflow */
		}
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

void rskp_calls_fail(struct rsk_call *list, int local)
{
	struct rsk_call *next;

	for (; list != NULL; list = next) {
		next = list->qnext;
		rskp_call_complete(list, NULL, local);
	}
}

/* ---- the public call API ------------------------------------------------ */

struct rsk_call *rsk_call_new(struct rsk_conn *conn)
{
	struct rsk_call *call = calloc(1, sizeof(*call));

	if (call == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	call->conn = conn;
	call->err.detail = "";
	atomic_fetch_add(&conn->refs, 1);
	return call;
}

/* Off the done queue (under mu). */
static void unqueue(struct rsk_conn *c, struct rsk_call *call)
{
	struct rsk_call **p = &c->qhead, *prev = NULL;

	while (*p != call) {
		prev = *p;
		p = &(*p)->qnext;
	}
	*p = call->qnext;
	if (c->qtail == call)
		c->qtail = prev;
	call->queued = false;
}

void rsk_call_free(struct rsk_call *call)
{
	struct rsk_conn *c;

	if (call == NULL)
		return;
	c = call->conn;
	pthread_mutex_lock(&c->mu);
	if (call->pending)
		table_del(c,
			  call); /* cancelled: its answer will find nothing */
	while (call->taken || call->writing)
		pthread_cond_wait(&c->cv, &c->mu);
	if (call->queued)
		unqueue(c, call);
	pthread_mutex_unlock(&c->mu);
	result_clear(call);
	free(call->frame);
	free(call);
	rskp_conn_unref(c);
}

int rsk_call_set_callback(struct rsk_call *call, rsk_call_cb cb, void *arg)
{
	if (rsk_call_state(call) == RSK_CALL_RUNNING)
		return -EBUSY;
	call->cb = cb;
	call->arg = arg;
	return 0;
}

void *rsk_call_arg(const struct rsk_call *call)
{
	return call->arg;
}

int rsk_call_start(struct rsk_call *call, const char *service,
		   const char *method, const void *req, size_t len,
		   double deadline_s, unsigned flags)
{
	struct rsk_conn *c = call->conn;
	uint64_t id, gen;
	bool write_now;
	int rc;

	if (rsk_call_state(call) == RSK_CALL_RUNNING)
		return -EBUSY;
	/* Started again from its callback: the first writer may still be
	 * returning from send() with the old frame. */
	pthread_mutex_lock(&c->mu);
	while (call->writing)
		pthread_cond_wait(&c->cv, &c->mu);
	call->frame_done = false;
	pthread_mutex_unlock(&c->mu);
	id = atomic_fetch_add(&c->next_id, 1);
	free(call->frame);
	call->frame = NULL;
	rc = rskp_wire_request(id, service, method, req, len, deadline_s,
			       &call->frame, &call->flen);
	if (rc < 0)
		return rc;
	result_clear(call);
	pthread_mutex_lock(&c->mu);
	rc = c->stopping ? -ECANCELED : c->down_err;
	if (rc == 0) {
		if (call->queued)
			unqueue(c, call);
		call->id = id;
		call->flags = flags;
		call->state = RSK_CALL_RUNNING;
		call->settled = false;
		call->reissued = false;
		call->gen = c->up ? c->gen : 0;
		table_add(c, call);
	}
	write_now = rc == 0 && c->up;
	call->writing = write_now;
	gen = c->gen;
	pthread_mutex_unlock(&c->mu);
	if (rc < 0)
		return rc;
	if (!write_now)
		return 0; /* the reconnect sends it */
	/* From here the call may be answered at any time, but it is not
	 * freed (nor its frame) while `writing`; only a transport still the
	 * one it was registered on has not been sent it by a re-issue. */
	pthread_mutex_lock(&c->wmu);
	if (c->up && c->gen == gen)
		rskp_conn_write(c, call->frame, call->flen);
	pthread_mutex_unlock(&c->wmu);
	pthread_mutex_lock(&c->mu);
	call->writing = false;
	if (call->frame_done) {
		free(call->frame);
		call->frame = NULL;
		call->frame_done = false;
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

enum rsk_call_state rsk_call_state(const struct rsk_call *call)
{
	struct rsk_conn *c = call->conn;
	enum rsk_call_state s;

	pthread_mutex_lock(&c->mu);
	s = call->state;
	pthread_mutex_unlock(&c->mu);
	return s;
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int rsk_call_wait(struct rsk_call *call, int timeout_ms)
{
	struct rsk_conn *c = call->conn;
	struct timespec until;
	int rc = 0;

	if (timeout_ms >= 0)
		deadline_after(&until, timeout_ms);
	pthread_mutex_lock(&c->mu);
	if (call->state == RSK_CALL_IDLE)
		rc = -EINVAL;
	while (rc == 0 && !call->settled) {
		if (timeout_ms < 0)
			pthread_cond_wait(&c->cv, &c->mu);
		else if (pthread_cond_timedwait(&c->cv, &c->mu, &until) ==
			 ETIMEDOUT)
			rc = call->settled ? 0 : -ETIMEDOUT;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int rskp_call_result(const struct rsk_call *call)
{
	const struct rsk_call_error *e = &call->err;

	int err;

	if (e->local != 0) {
		rskp_detail_set("%s", "");
		return e->local;
	}
	err = rsk_errno_from_error(e->rpc_code, e->app_code, e->sys_error);
	if (err != 0)
		rskp_detail_set("%s", e->detail);
	return -err;
}

int rsk_call_check_success(struct rsk_call *call)
{
	int rc = rsk_call_wait(call, -1);

	return rc < 0 ? rc : rskp_call_result(call);
}

const struct rsk_call_error *rsk_call_error(const struct rsk_call *call)
{
	return rsk_call_state(call) == RSK_CALL_FINISHING ? &call->err : NULL;
}

const void *rsk_call_reply(const struct rsk_call *call, size_t *len)
{
	if (rsk_call_state(call) != RSK_CALL_FINISHING || call->reply == NULL)
		return NULL;
	if (len != NULL)
		*len = call->reply_len;
	return call->reply;
}

bool rsk_call_reissued(const struct rsk_call *call)
{
	return call->reissued;
}

int rsk_call_reset(struct rsk_call *call)
{
	struct rsk_conn *c = call->conn;

	if (rsk_call_state(call) == RSK_CALL_RUNNING)
		return -EBUSY;
	pthread_mutex_lock(&c->mu);
	if (call->queued)
		unqueue(c, call);
	call->state = RSK_CALL_IDLE;
	call->settled = false;
	pthread_mutex_unlock(&c->mu);
	result_clear(call);
	return 0;
}

struct rsk_call *rsk_conn_next_done(struct rsk_conn *conn)
{
	struct rsk_call *call;
	uint64_t n;

	pthread_mutex_lock(&conn->mu);
	call = conn->qhead;
	if (call != NULL)
		unqueue(conn, call);
	if (conn->qhead == NULL && read(conn->efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: already drained */
	}
	pthread_mutex_unlock(&conn->mu);
	return call;
}

/* ---- messages ----------------------------------------------------------- */

int rskp_call_start_msg(struct rsk_call *call, const char *method,
			const ProtobufCMessage *req, unsigned flags)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t small[512], *buf = len <= sizeof(small) ? small : malloc(len);
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	protobuf_c_message_pack(req, buf);
	rc = rsk_call_start(call, RSK_SERVICE, method, buf, len, -1, flags);
	if (buf != small)
		free(buf);
	return rc;
}

ProtobufCMessage *rskp_call_unpack(struct rsk_call *call,
				   const ProtobufCMessageDescriptor *desc,
				   int *rc)
{
	ProtobufCMessage *m;

	*rc = rskp_call_result(call);
	if (*rc < 0)
		return NULL;
	m = protobuf_c_message_unpack(desc, NULL, call->reply_len, call->reply);
	if (m == NULL)
		*rc = -EPROTO;
	return m;
}

int rskp_call_sync(struct rsk_conn *conn, const char *method,
		   const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *reply_desc,
		   ProtobufCMessage **reply, unsigned flags,
		   struct rsk_call_error *err)
{
	struct rsk_call *call = rsk_call_new(conn);
	ProtobufCMessage *m = NULL;
	int rc;

	if (call == NULL)
		return -ENOMEM;
	rc = rskp_call_start_msg(call, method, req, flags);
	if (rc == 0)
		rc = rsk_call_check_success(call);
	if (rc == 0 && reply_desc != NULL) {
		m = rskp_call_unpack(call, reply_desc, &rc);
		*reply = m;
	}
	if (err != NULL) {
		*err = call->err;
		err->detail = ""; /* the text goes with the call */
	}
	rsk_call_free(call);
	return rc;
}
