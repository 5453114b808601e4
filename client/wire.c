/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client's side of the native envelope: one RpcRequest per frame out,
 * one RpcResponse per frame in (rpc.proto).  The frame header and the
 * packing are rpc/'s (rs_frame_pack), the same code the proxy uses.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "client_pvt.h"
#include "rs_frame.h"

int rskp_wire_request(uint64_t call_id, const char *service, const char *method,
		      const void *body, size_t len, double deadline_s,
		      uint8_t **frame, size_t *flen)
{
	Remsock__Rpc__RpcRequest env = REMSOCK__RPC__RPC_REQUEST__INIT;
	size_t need = 0;
	uint8_t *buf;
	int rc;

	if (service == NULL || method == NULL || len > RSKP_BODY_MAX ||
	    (body == NULL && len > 0))
		return -EINVAL;
	env.has_call_id = 1;
	env.call_id = call_id;
	env.service_name = (char *)service;
	env.method = (char *)method;
	env.has_body = 1;
	env.body.data = (uint8_t *)(body != NULL ? body : "");
	env.body.len = len;
	if (!isnan(deadline_s) && deadline_s >= 0) {
		env.has_deadline_seconds = 1;
		env.deadline_seconds = deadline_s;
	}
	rs_frame_pack(&env.base, NULL, 0, &need);
	buf = malloc(need);
	if (buf == NULL)
		return -ENOMEM;
	rc = rs_frame_pack(&env.base, buf, need, flen);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*frame = buf;
	return 0;
}

static void *memdup0(const void *p, size_t len)
{
	uint8_t *q = malloc(len + 1);

	if (q != NULL) {
		if (len > 0)
			memcpy(q, p, len);
		q[len] = 0;
	}
	return q;
}

/* The errno (or EAI code) an application error's body carries. */
static int app_sys_error(const Remsock__Rpc__ApplicationError *ae)
{
	Remsock__RemoteSocketServiceError *e;
	int v;

	if (!ae->has_error_body || ae->error_body.len == 0)
		return 0;
	e = remsock__remote_socket_service_error__unpack(
	    NULL, ae->error_body.len, ae->error_body.data);
	if (e == NULL)
		return 0;
	v = e->system_error;
	remsock__remote_socket_service_error__free_unpacked(e, NULL);
	return v;
}

static int resp_fill(const Remsock__Rpc__RpcResponse *m, struct rskp_resp *out)
{
	const char *detail = NULL;

	out->call_id = m->call_id;
	if (m->rpc_error != NULL) {
		out->rpc_code =
		    m->rpc_error->has_code
			? (int)m->rpc_error->code
			: REMSOCK__RPC__RPC_ERROR_CODE__RPC_INTERNAL;
		if (out->rpc_code == 0) /* an error without a code */
			out->rpc_code =
			    REMSOCK__RPC__RPC_ERROR_CODE__RPC_INTERNAL;
		detail = m->rpc_error->detail;
	} else if (m->application_error != NULL) {
		out->app_code = m->application_error->code;
		if (out->app_code == 0)
			out->app_code =
			    REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__FAILURE;
		out->sys_error = app_sys_error(m->application_error);
		detail = m->application_error->detail;
	} else {
		out->body =
		    memdup0(m->body.data, m->has_body ? m->body.len : 0);
		if (out->body == NULL)
			return -ENOMEM;
		out->body_len = m->has_body ? m->body.len : 0;
	}
	if (detail != NULL &&
	    (out->detail = memdup0(detail, strlen(detail))) == NULL)
		return -ENOMEM;
	return 0;
}

int rskp_wire_response(const uint8_t *buf, size_t len, struct rskp_resp *out)
{
	Remsock__Rpc__RpcResponse *m;
	int rc;

	memset(out, 0, sizeof(*out));
	m = remsock__rpc__rpc_response__unpack(NULL, len, buf);
	if (m == NULL)
		return -EPROTO;
	rc = resp_fill(m, out);
	remsock__rpc__rpc_response__free_unpacked(m, NULL);
	if (rc < 0)
		rskp_resp_clear(out);
	return rc;
}

void rskp_resp_clear(struct rskp_resp *r)
{
	free(r->detail);
	free(r->body);
	memset(r, 0, sizeof(*r));
}
