/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libremsock's insides, shared by its files and its unit tests; never
 * installed.  Names are rskp_* so that the shared library's version script
 * (libremsock.map) keeps them local.
 */
#ifndef RSK_CLIENT_PVT_H
#define RSK_CLIENT_PVT_H

#include <stdbool.h>
#include <stdint.h>

#include "remsock.h"
#include "remote_socket.pb-c.h"
#include "rpc.pb-c.h"

/** The call id of the Authenticate call each transport connection opens
 *  with; other calls count from 1. */
#define RSKP_AUTH_ID 0u

/** Largest request body a call may carry (the proxy's default frame
 *  maximum is 4 MiB; the envelope needs a few bytes). */
#define RSKP_BODY_MAX ((4u << 20) - 256u)

/* ---- wire.c: envelopes and frames --------------------------------------- */

/** One RpcResponse, decoded: what a call keeps of it. */
struct rskp_resp {
	uint64_t call_id;
	int rpc_code;
	int app_code;
	int sys_error;
	char *detail;  /* malloc'ed, or NULL */
	uint8_t *body; /* malloc'ed (1 byte at least), or NULL on error */
	size_t body_len;
};

/**
 * Encode one request frame (4-byte big-endian length, RpcRequest).
 *
 * @param frame  out: malloc'ed frame.
 * @param flen   out: its length.
 * @return 0, -EINVAL (names missing, body too large), -ENOMEM.
 */
int rskp_wire_request(uint64_t call_id, const char *service, const char *method,
		      const void *body, size_t len, double deadline_s,
		      uint8_t **frame, size_t *flen);

/**
 * Decode the body of a response frame into @p out (fields owned by it;
 * free with rskp_resp_clear()).  An application error's error_body is
 * decoded for its errno.
 *
 * @return 0, -EPROTO (does not decode), -ENOMEM.
 */
int rskp_wire_response(const uint8_t *buf, size_t len, struct rskp_resp *out);

/** Free what rskp_wire_response() put in @p r and zero it. */
void rskp_resp_clear(struct rskp_resp *r);

/* ---- errmap.c ----------------------------------------------------------- */

/** The errno for a SYSTEM_ERROR's system_error (the SystemError enum),
 *  EIO for a value it does not know. */
int rskp_errno_from_sys(int sys_error);

/** Set the thread's rsk_last_detail() (printf-style). */
void rskp_detail_set(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/** poll(2) event bits <-> PollEvent.PollEventFlag bits. */
int rskp_poll_to_wire(int events);
int rskp_poll_from_wire(int events);

/* ---- conn.c / call.c ---------------------------------------------------- */

/** rsk_call_check_success() of a finished call, without waiting. */
int rskp_call_result(const struct rsk_call *call);

/**
 * Run one call synchronously: start, wait, and on success unpack the reply
 * with @p reply_desc into *reply (free with protobuf_c_message_free_unpacked).
 *
 * @param req        the request message (packed here).
 * @param reply_desc NULL: the reply is not wanted.
 * @param err        out (may be NULL): the error codes when it fails.
 * @return 0, or a negative errno (rsk_call_check_success()).
 */
int rskp_call_sync(struct rsk_conn *conn, const char *method,
		   const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *reply_desc,
		   ProtobufCMessage **reply, unsigned flags,
		   struct rsk_call_error *err);

/** Start @p req (a message) on @p call: rsk_call_start() after packing. */
int rskp_call_start_msg(struct rsk_call *call, const char *method,
			const ProtobufCMessage *req, unsigned flags);

/** Unpack a successful call's reply; NULL with -EPROTO/-ENOMEM in *rc. */
ProtobufCMessage *rskp_call_unpack(struct rsk_call *call,
				   const ProtobufCMessageDescriptor *desc,
				   int *rc);

/* Set by remsock-preload in its own copy of the library: the transport's
 * socket() is the one the shim wraps (conn.c). */
extern bool rskp_in_shim;

#endif /* RSK_CLIENT_PVT_H */
