/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libremsock's pure parts and its call machinery, without remsockd:
 * request frames, response decoding, the errno / EAI / poll tables, and
 * calls against a fake proxy on loopback that answers out of order and
 * breaks the transport on demand (re-issue of RSK_CALL_RETRY calls,
 * ECONNRESET for the others, a refused secret).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "client_pvt.h"
#include "rs_frame.h"

#define APPE(n) REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__##n
#define RPCE(n) REMSOCK__RPC__RPC_ERROR_CODE__RPC_##n

/* ---- frames ------------------------------------------------------------- */

static Remsock__Rpc__RpcRequest *unframe(const uint8_t *f, size_t flen)
{
	assert_true(flen >= 4);
	assert_int_equal(rs_frame_header_read(f), flen - 4);
	return remsock__rpc__rpc_request__unpack(NULL, flen - 4, f + 4);
}

static void test_request_frame(void **state)
{
	uint8_t *f;
	size_t flen;
	Remsock__Rpc__RpcRequest *r;

	(void)state;
	assert_int_equal(rskp_wire_request(7, "remote_socket", "Send", "abc", 3,
					   2.5, &f, &flen),
			 0);
	r = unframe(f, flen);
	assert_non_null(r);
	assert_true(r->has_call_id && r->call_id == 7);
	assert_string_equal(r->service_name, "remote_socket");
	assert_string_equal(r->method, "Send");
	assert_int_equal(r->body.len, 3);
	assert_memory_equal(r->body.data, "abc", 3);
	assert_true(r->has_deadline_seconds && r->deadline_seconds == 2.5);
	remsock__rpc__rpc_request__free_unpacked(r, NULL);
	free(f);
	/* No deadline: negative or NaN.  An empty body is still a body. */
	assert_int_equal(
	    rskp_wire_request(8, "s", "m", NULL, 0, NAN, &f, &flen), 0);
	r = unframe(f, flen);
	assert_false(r->has_deadline_seconds);
	assert_int_equal(r->body.len, 0);
	remsock__rpc__rpc_request__free_unpacked(r, NULL);
	free(f);
	assert_int_equal(rskp_wire_request(9, "s", "m", "x", 1, -1, &f, &flen),
			 0);
	r = unframe(f, flen);
	assert_false(r->has_deadline_seconds);
	remsock__rpc__rpc_request__free_unpacked(r, NULL);
	free(f);
}

static void test_request_limits(void **state)
{
	static uint8_t big[RSKP_BODY_MAX + 1];
	uint8_t *f = NULL;
	size_t flen;

	(void)state;
	assert_int_equal(rskp_wire_request(1, NULL, "m", "", 0, -1, &f, &flen),
			 -EINVAL);
	assert_int_equal(rskp_wire_request(1, "s", NULL, "", 0, -1, &f, &flen),
			 -EINVAL);
	assert_int_equal(rskp_wire_request(1, "s", "m", NULL, 5, -1, &f, &flen),
			 -EINVAL);
	assert_int_equal(
	    rskp_wire_request(1, "s", "m", big, sizeof(big), -1, &f, &flen),
	    -EINVAL);
	assert_null(f);
	assert_int_equal(
	    rskp_wire_request(1, "s", "m", big, sizeof(big) - 1, -1, &f, &flen),
	    0);
	assert_true(flen > sizeof(big) && flen - 4 <= RS_FRAME_MAX_DEFAULT);
	free(f);
}

/* Pack @p m into a heap buffer. */
static uint8_t *packed(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *b;

	*len = protobuf_c_message_get_packed_size(m);
	b = malloc(*len + 1);
	protobuf_c_message_pack(m, b);
	return b;
}

static void test_response_body(void **state)
{
	Remsock__Rpc__RpcResponse m = REMSOCK__RPC__RPC_RESPONSE__INIT;
	struct rskp_resp r;
	uint8_t *b;
	size_t len;

	(void)state;
	m.has_call_id = 1;
	m.call_id = 1ull << 40;
	m.has_body = 1;
	m.body.data = (uint8_t *)"reply";
	m.body.len = 5;
	b = packed(&m.base, &len);
	assert_int_equal(rskp_wire_response(b, len, &r), 0);
	assert_true(r.call_id == 1ull << 40);
	assert_int_equal(r.rpc_code + r.app_code + r.sys_error, 0);
	assert_int_equal(r.body_len, 5);
	assert_memory_equal(r.body, "reply", 5);
	assert_null(r.detail);
	rskp_resp_clear(&r);
	assert_null(r.body);
	free(b);
	/* No body at all: an empty reply, not an error. */
	m.has_body = 0;
	b = packed(&m.base, &len);
	assert_int_equal(rskp_wire_response(b, len, &r), 0);
	assert_non_null(r.body);
	assert_int_equal(r.body_len, 0);
	rskp_resp_clear(&r);
	free(b);
}

static void test_response_errors(void **state)
{
	Remsock__Rpc__RpcResponse m = REMSOCK__RPC__RPC_RESPONSE__INIT;
	Remsock__Rpc__ApplicationError ae =
	    REMSOCK__RPC__APPLICATION_ERROR__INIT;
	Remsock__Rpc__RpcError re = REMSOCK__RPC__RPC_ERROR__INIT;
	Remsock__RemoteSocketServiceError se =
	    REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__INIT;
	struct rskp_resp r;
	uint8_t *b, *eb;
	size_t len, elen;

	(void)state;
	se.has_system_error = 1;
	se.system_error = ECONNREFUSED;
	eb = packed(&se.base, &elen);
	ae.has_code = 1;
	ae.code = APPE(SYSTEM_ERROR);
	ae.detail = "connect";
	ae.has_error_body = 1;
	ae.error_body.data = eb;
	ae.error_body.len = elen;
	m.has_call_id = 1;
	m.call_id = 3;
	m.application_error = &ae;
	b = packed(&m.base, &len);
	assert_int_equal(rskp_wire_response(b, len, &r), 0);
	assert_int_equal(r.app_code, APPE(SYSTEM_ERROR));
	assert_int_equal(r.sys_error, ECONNREFUSED);
	assert_string_equal(r.detail, "connect");
	assert_null(r.body);
	assert_int_equal(
	    rsk_errno_from_error(r.rpc_code, r.app_code, r.sys_error),
	    ECONNREFUSED);
	rskp_resp_clear(&r);
	free(b);
	m.application_error = NULL;
	re.has_code = 1;
	re.code = RPCE(OVER_QUOTA);
	m.rpc_error = &re;
	b = packed(&m.base, &len);
	assert_int_equal(rskp_wire_response(b, len, &r), 0);
	assert_int_equal(r.rpc_code, RPCE(OVER_QUOTA));
	assert_int_equal(rsk_errno_from_error(r.rpc_code, 0, 0), ENOBUFS);
	rskp_resp_clear(&r);
	free(b);
	free(eb);
	/* Bytes that are no RpcResponse. */
	assert_int_equal(
	    rskp_wire_response((const uint8_t *)"\x0a\xff\xff", 3, &r),
	    -EPROTO);
}

/* ---- tables ------------------------------------------------------------- */

static void test_errno_map(void **state)
{
	const ProtobufCEnumDescriptor *d =
	    &remsock__remote_socket_service_error__system_error__descriptor;

	(void)state;
	assert_int_equal(rsk_errno_from_error(0, 0, 0), 0);
	assert_int_equal(rsk_errno_from_error(0, APPE(SYSTEM_ERROR), EBADF),
			 EBADF);
	assert_int_equal(rsk_errno_from_error(0, APPE(SYSTEM_ERROR), 0), EIO);
	assert_int_equal(rsk_errno_from_error(0, APPE(PERMISSION_DENIED), 0),
			 EACCES);
	assert_int_equal(rsk_errno_from_error(0, APPE(INVALID_REQUEST), 0),
			 EINVAL);
	assert_int_equal(rsk_errno_from_error(0, APPE(SOCKET_CLOSED), 0),
			 EBADF);
	assert_int_equal(rsk_errno_from_error(0, APPE(FAILURE), 0), EIO);
	assert_int_equal(rsk_errno_from_error(0, APPE(GAI_ERROR), 8), EIO);
	assert_int_equal(rsk_errno_from_error(0, 99, 0), EIO);
	assert_int_equal(rsk_errno_from_error(RPCE(DEADLINE_EXCEEDED), 0, 0),
			 ETIMEDOUT);
	assert_int_equal(rsk_errno_from_error(RPCE(UNAUTHENTICATED), 0, 0),
			 EACCES);
	assert_int_equal(rsk_errno_from_error(RPCE(CALL_NOT_FOUND), 0, 0),
			 ENOSYS);
	assert_int_equal(rsk_errno_from_error(RPCE(BAD_REQUEST), 0, 0), EINVAL);
	assert_int_equal(rsk_errno_from_error(RPCE(REQUEST_TOO_LARGE), 0, 0),
			 EMSGSIZE);
	assert_int_equal(rsk_errno_from_error(RPCE(CANCELLED), 0, 0),
			 ECANCELED);
	assert_int_equal(rsk_errno_from_error(RPCE(INTERNAL), 0, 0), EIO);
	/* The envelope's error wins over an application code. */
	assert_int_equal(
	    rsk_errno_from_error(RPCE(OVER_QUOTA), APPE(SYSTEM_ERROR), EBADF),
	    ENOBUFS);
	/* Every SystemError value is the Linux errno of its name. */
	for (unsigned i = 0; i < d->n_values; i++) {
		int v = d->values[i].value;

		if (v > 0)
			assert_int_equal(rskp_errno_from_sys(v), v);
	}
	assert_int_equal(rskp_errno_from_sys(ECONNRESET), ECONNRESET);
	assert_int_equal(rskp_errno_from_sys(100000), EIO);
	assert_int_equal(rskp_errno_from_sys(-3), EIO);
}

static void test_eai_map(void **state)
{
	static const struct {
		const char *name;
		int host;
	} want[] = {
	    {"SOCKET_EAI_ADDRFAMILY", EAI_ADDRFAMILY},
	    {"SOCKET_EAI_AGAIN", EAI_AGAIN},
	    {"SOCKET_EAI_BADFLAGS", EAI_BADFLAGS},
	    {"SOCKET_EAI_FAIL", EAI_FAIL},
	    {"SOCKET_EAI_FAMILY", EAI_FAMILY},
	    {"SOCKET_EAI_MEMORY", EAI_MEMORY},
	    {"SOCKET_EAI_NODATA", EAI_NODATA},
	    {"SOCKET_EAI_NONAME", EAI_NONAME},
	    {"SOCKET_EAI_SERVICE", EAI_SERVICE},
	    {"SOCKET_EAI_SOCKTYPE", EAI_SOCKTYPE},
	    {"SOCKET_EAI_SYSTEM", EAI_SYSTEM},
	    {"SOCKET_EAI_OVERFLOW", EAI_OVERFLOW},
	};
	const ProtobufCEnumDescriptor *d =
	    &remsock__resolve_reply__error_code__descriptor;

	(void)state;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const ProtobufCEnumValue *v =
		    protobuf_c_enum_descriptor_get_value_by_name(d,
								 want[i].name);

		assert_non_null(v);
		assert_int_equal(rsk_eai_from_error(v->value), want[i].host);
	}
	assert_int_equal(rsk_eai_from_error(0), EAI_FAIL);
	assert_int_equal(rsk_eai_from_error(1000), EAI_FAIL);
}

static void test_poll_map(void **state)
{
	(void)state;
	assert_int_equal(rskp_poll_to_wire(POLLIN | POLLOUT | POLLRDHUP),
			 1 | 4 | 8192);
	assert_int_equal(rskp_poll_from_wire(8 | 16 | 32),
			 POLLERR | POLLHUP | POLLNVAL);
	for (int bit = 0; bit < 15; bit++) {
		int w = rskp_poll_to_wire(1 << bit);

		if (w != 0)
			assert_int_equal(rskp_poll_from_wire(w), 1 << bit);
	}
	assert_int_equal(rskp_poll_from_wire(1 << 20), 0);
}

/* ---- calls against a fake proxy ----------------------------------------- */

/*
 * The fake proxy: one connection at a time; Authenticate succeeds for the
 * secret "good".  Method "Echo" answers with its body; "Hold" answers
 * nothing until a "Flush" comes, then all held calls in reverse order;
 * "Break" closes the connection unanswered the first time it is seen.
 */
struct fake {
	int lfd;
	int port;
	int conns;
	int breaks;
	pthread_t thr;
};

static void fake_reply(int fd, uint64_t id, const void *body, size_t len,
		       int rpc_code)
{
	Remsock__Rpc__RpcResponse m = REMSOCK__RPC__RPC_RESPONSE__INIT;
	Remsock__Rpc__RpcError e = REMSOCK__RPC__RPC_ERROR__INIT;
	uint8_t buf[4096];
	size_t n;

	m.has_call_id = 1;
	m.call_id = id;
	if (rpc_code != 0) {
		e.has_code = 1;
		e.code = (Remsock__Rpc__RpcErrorCode)rpc_code;
		m.rpc_error = &e;
	} else {
		m.has_body = 1;
		m.body.data = (uint8_t *)body;
		m.body.len = len;
	}
	assert_int_equal(rs_frame_pack(&m.base, buf, sizeof(buf), &n), 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
}

/* Serve one connection; false when it was broken on purpose. */
static bool fake_serve(struct fake *fk, int fd)
{
	struct rs_frame_decoder *dec = rs_frame_decoder_create(0);
	uint64_t held[64];
	unsigned nheld = 0;
	uint8_t buf[65536];
	bool authed = false, ok = true;
	ssize_t n;

	while (ok && (n = read(fd, buf, sizeof(buf))) > 0) {
		size_t off = 0, used;
		struct rs_frame f;

		while (ok && off < (size_t)n) {
			int rc = rs_frame_decode(dec, buf + off,
						 (size_t)n - off, &used, &f);
			Remsock__Rpc__RpcRequest *r;

			off += used;
			if (rc != RS_FRAME_READY)
				continue;
			r = remsock__rpc__rpc_request__unpack(NULL, f.len,
							      f.data);
			if (!authed) {
				Remsock__Rpc__AuthenticateRequest *a =
				    remsock__rpc__authenticate_request__unpack(
					NULL, r->body.len, r->body.data);

				authed = a != NULL && a->secret.len == 4 &&
					 memcmp(a->secret.data, "good", 4) == 0;
				remsock__rpc__authenticate_request__free_unpacked(
				    a, NULL);
				if (authed)
					fake_reply(fd, r->call_id, "", 0, 0);
				else
					ok = false; /* as remsockd: close */
			} else if (strcmp(r->method, "Echo") == 0) {
				fake_reply(fd, r->call_id, r->body.data,
					   r->body.len, 0);
			} else if (strcmp(r->method, "Hold") == 0 &&
				   nheld < 64) {
				held[nheld++] = r->call_id;
			} else if (strcmp(r->method, "Flush") == 0) {
				while (nheld > 0)
					fake_reply(fd, held[--nheld], "held", 4,
						   0);
				fake_reply(fd, r->call_id, "", 0, 0);
			} else if (strcmp(r->method, "Break") == 0 &&
				   fk->breaks++ == 0) {
				ok = false;
			} else {
				fake_reply(fd, r->call_id, NULL, 0,
					   RPCE(CALL_NOT_FOUND));
			}
			remsock__rpc__rpc_request__free_unpacked(r, NULL);
		}
	}
	rs_frame_decoder_destroy(dec);
	return ok;
}

static void *fake_main(void *arg)
{
	struct fake *fk = arg;
	int fd;

	while ((fd = accept(fk->lfd, NULL, NULL)) >= 0) {
		fk->conns++;
		fake_serve(fk, fd);
		close(fd);
	}
	return NULL;
}

static void fake_start(struct fake *fk)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);

	memset(fk, 0, sizeof(*fk));
	fk->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fk->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fk->lfd, 8), 0);
	getsockname(fk->lfd, (struct sockaddr *)&sa, &len);
	fk->port = ntohs(sa.sin_port);
	pthread_create(&fk->thr, NULL, fake_main, fk);
}

static void fake_stop(struct fake *fk)
{
	shutdown(fk->lfd, SHUT_RDWR);
	pthread_join(fk->thr, NULL);
	close(fk->lfd);
}

static struct rsk_conn *fake_conn(struct fake *fk, const char *secret)
{
	char addr[32];
	struct rsk_conn_opts o = {.addr = addr, .app = "t", .secret = secret};

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", fk->port);
	return rsk_conn_open(&o);
}

static void test_calls_secret(void **state)
{
	struct fake fk;

	(void)state;
	fake_start(&fk);
	errno = 0;
	assert_null(fake_conn(&fk, "bad!"));
	assert_int_equal(errno, EACCES);
	fake_stop(&fk);
}

static int cb_runs;

static void cb(struct rsk_call *call, void *arg)
{
	(void)arg;
	/* The result is there when the callback runs. */
	if (rsk_call_state(call) == RSK_CALL_FINISHING &&
	    rsk_call_reply(call, NULL) != NULL)
		cb_runs++;
}

static void test_calls_out_of_order(void **state)
{
	struct rsk_call *h[10], *fl, *done;
	struct fake fk;
	struct rsk_conn *c;
	size_t len;
	int n = 0;

	(void)state;
	fake_start(&fk);
	c = fake_conn(&fk, "good");
	assert_non_null(c);
	cb_runs = 0;
	for (int i = 0; i < 10; i++) {
		h[i] = rsk_call_new(c);
		rsk_call_set_callback(h[i], cb, NULL);
		assert_int_equal(rsk_call_start(h[i], "t", "Hold", "", 0, -1,
						RSK_CALL_NOTIFY),
				 0);
		assert_int_equal(
		    rsk_call_start(h[i], "t", "Hold", "", 0, -1, 0), -EBUSY);
	}
	assert_int_equal(rsk_call_wait(h[0], 50), -ETIMEDOUT);
	assert_null(rsk_conn_next_done(c));
	fl = rsk_call_new(c);
	assert_int_equal(rsk_call_start(fl, "t", "Flush", "", 0, -1, 0), 0);
	assert_int_equal(rsk_call_check_success(fl), 0);
	/* Answered last first: each reply found its own call. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(rsk_call_check_success(h[i]), 0);
		assert_memory_equal(rsk_call_reply(h[i], &len), "held", 4);
	}
	assert_int_equal(cb_runs, 10);
	struct pollfd p = {.fd = rsk_conn_event_fd(c), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 0), 1);
	while ((done = rsk_conn_next_done(c)) != NULL)
		n++;
	assert_int_equal(n, 10);
	assert_int_equal(poll(&p, 1, 0), 0);
	/* An unknown method is an RPC error. */
	rsk_call_reset(fl);
	rsk_call_start(fl, "t", "Nope", "", 0, -1, 0);
	assert_int_equal(rsk_call_check_success(fl), -ENOSYS);
	assert_int_equal(rsk_call_error(fl)->rpc_code, RPCE(CALL_NOT_FOUND));
	assert_null(rsk_call_reply(fl, &len));
	for (int i = 0; i < 10; i++)
		rsk_call_free(h[i]);
	rsk_call_free(fl);
	rsk_conn_close(c);
	fake_stop(&fk);
}

static void test_calls_reconnect(void **state)
{
	struct rsk_call *held, *safe, *brk, *after;
	struct fake fk;
	struct rsk_conn *c;
	size_t len;

	(void)state;
	fake_start(&fk);
	c = fake_conn(&fk, "good");
	assert_non_null(c);
	held = rsk_call_new(c);
	safe = rsk_call_new(c);
	brk = rsk_call_new(c);
	after = rsk_call_new(c);
	/* Two calls wait when the transport breaks: one safe to repeat. */
	rsk_call_start(held, "t", "Hold", "", 0, -1, 0);
	rsk_call_start(safe, "t", "Hold", "", 0, -1, RSK_CALL_RETRY);
	rsk_call_start(brk, "t", "Break", "", 0, -1, RSK_CALL_RETRY);
	assert_int_equal(rsk_call_check_success(held), -ECONNRESET);
	assert_int_equal(rsk_call_error(held)->local, -ECONNRESET);
	/* The re-issued Break is answered on the new connection (as an
	 * unknown method: only the first Break breaks). */
	assert_int_equal(rsk_call_check_success(brk), -ENOSYS);
	assert_true(rsk_call_reissued(brk));
	rsk_call_start(after, "t", "Flush", "", 0, -1, 0);
	assert_int_equal(rsk_call_check_success(after), 0);
	assert_int_equal(rsk_call_check_success(safe), 0);
	assert_true(rsk_call_reissued(safe));
	assert_memory_equal(rsk_call_reply(safe, &len), "held", 4);
	assert_false(rsk_call_reissued(after));
	assert_true(rsk_conn_reconnects(c) == 1);
	assert_int_equal(fk.conns, 2);
	/* rsk_conn_drop() breaks it too; a RETRY Echo comes through. */
	rsk_call_reset(after);
	assert_int_equal(rsk_conn_drop(c), 0);
	rsk_call_start(after, "t", "Echo", "hi", 2, -1, RSK_CALL_RETRY);
	assert_int_equal(rsk_call_check_success(after), 0);
	assert_memory_equal(rsk_call_reply(after, &len), "hi", 2);
	rsk_call_free(held);
	rsk_call_free(safe);
	rsk_call_free(brk);
	/* Closing the connection with a call running cancels it. */
	rsk_call_reset(after);
	rsk_call_start(after, "t", "Hold", "", 0, -1, 0);
	rsk_conn_close(c);
	assert_int_equal(rsk_call_check_success(after), -ECANCELED);
	rsk_call_free(after);
	fake_stop(&fk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_frame),
	    cmocka_unit_test(test_request_limits),
	    cmocka_unit_test(test_response_body),
	    cmocka_unit_test(test_response_errors),
	    cmocka_unit_test(test_errno_map),
	    cmocka_unit_test(test_eai_map),
	    cmocka_unit_test(test_poll_map),
	    cmocka_unit_test(test_calls_secret),
	    cmocka_unit_test(test_calls_out_of_order),
	    cmocka_unit_test(test_calls_reconnect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
