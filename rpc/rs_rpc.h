/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The service registry and the dispatcher shared by every RPC transport.
 *
 * The registry maps service name → method name → handler, request and reply
 * descriptors and plane (which thread serves the method).  It is filled at
 * start-up, before the first dispatch, and read-only afterwards, so that all
 * lcores may share it without locks.
 *
 * rs_rpc_dispatch() serves one frame:
 *   1. decode the RpcRequest envelope in the arena    → RPC_PARSE_ERROR
 *   2. look up service and method                     → RPC_CALL_NOT_FOUND
 *   3. method served by the other plane               → RS_RPC_FORWARD
 *   4. decode the body with the method's descriptor   → RPC_BAD_REQUEST
 *   5. initialise the reply in the arena, run the handler
 *   6. handler parked the call                        → RS_RPC_PARKED
 *   7. write the RpcResponse frame to the caller's buffer.
 * All memory it needs comes from the arena, which the caller resets once the
 * response is written: in steady state a call allocates nothing on the heap.
 *
 * A parked call is not kept as a struct rs_rpc_call: whoever parks it keeps
 * a copy of its request frame, and dispatches that frame again when the
 * call may complete (an event, its deadline), or keeps its own decoded
 * state and answers from it with rs_rpc_call_respond(); the handler then
 * answers or parks it once more.
 */
#ifndef RS_RPC_H
#define RS_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <protobuf-c/protobuf-c.h>

#include "rpc.pb-c.h"
#include "rs_arena.h"

/** Room for an error's detail text inside a call; longer text is cut. */
#define RS_RPC_DETAIL_MAX 120

/** The thread kind a method runs on. */
enum rs_rpc_plane {
	RS_RPC_PLANE_CONTROL = 0, /**< the control thread */
	RS_RPC_PLANE_DATA = 1,	  /**< a dataplane worker lcore */
};

/** Where a call stands after its handler ran. */
enum rs_rpc_call_status {
	RS_RPC_CALL_OK = 0,	   /**< reply in the response message */
	RS_RPC_CALL_APP_ERROR = 1, /**< the service's own error */
	RS_RPC_CALL_RPC_ERROR = 2, /**< an RPC-level error */
	RS_RPC_CALL_PARKED = 3,	   /**< to be completed later */
};

/** What rs_rpc_dispatch() did; negative values are negative errnos. */
enum rs_rpc_dispatch_result {
	/** A response frame is in the output buffer. */
	RS_RPC_DONE = 0,
	/** The handler parked the call: no response yet. */
	RS_RPC_PARKED = 1,
	/** The method runs on the other plane: pass the raw frame there
	 *  unchanged; nothing was written. */
	RS_RPC_FORWARD = 2,
};

struct rs_rpc_call;

/**
 * A method's handler.
 *
 * @param ctx   the caller's context (e.g. its per-lcore struct).
 * @param call  the call: set an error or park it here.
 * @param req   the decoded request, of the method's request type.
 * @param resp  the reply, of the method's reply type, initialised with its
 *              defaults; fill it (sub-messages, strings and bytes from
 *              call->arena).
 * @return 0 (outcome as set in @p call: OK unless an error was set or the
 *   call parked), or a negative errno for an internal failure, which is
 *   answered with RPC_INTERNAL.
 */
typedef int (*rs_rpc_handler_t)(void *ctx, struct rs_rpc_call *call,
				const ProtobufCMessage *req,
				ProtobufCMessage *resp);

/** A method as registered. */
struct rs_rpc_method {
	const char *name; /**< e.g. "Receive"; copied at registration */
	rs_rpc_handler_t handler;
	const ProtobufCMessageDescriptor *req_desc;
	const ProtobufCMessageDescriptor *resp_desc;
	enum rs_rpc_plane plane;
};

/**
 * Bytes a reply ends with, not packed by protobuf-c: one `bytes` field
 * (number @p field, below 16) written after the packed reply, from up to
 * two runs of memory that are not the reply's (a socket's receive ring,
 * where the bytes lie across its end), so that they are copied once,
 * straight into the response.  The field must be the last one of the
 * reply that is present: the response is then what protobuf-c would
 * have written had the field been set in the reply.
 */
struct rs_rpc_tail {
	unsigned field;
	struct iovec iov[2];
};

/**
 * A reply its handler encoded itself, as pieces of memory written one
 * after the other: what protobuf-c would pack for the reply message
 * (which the handler still fills, for its type and for a reader that
 * walks it), with bytes fields left where they lie -- in a socket's ring,
 * say -- instead of copied into the message.  Used in place of packing
 * the reply; an error answer ignores it.
 */
struct rs_rpc_gather {
	size_t len; /**< of all pieces */
	unsigned n;
	const struct iovec *iov;
};

/**
 * One call.  The caller provides it, typically on its stack for one
 * dispatch; visible rather than opaque so that it needs no allocation.
 * Apart from the fields marked below, nothing in it points into the arena.
 */
struct rs_rpc_call {
	uint64_t call_id;		    /**< echoed in the response */
	const struct rs_rpc_method *method; /**< registry-owned, or NULL */
	bool has_deadline;
	double deadline_seconds; /**< from receipt, when has_deadline */
	enum rs_rpc_call_status status;
	int32_t app_code;		     /**< with RS_RPC_CALL_APP_ERROR */
	Remsock__Rpc__RpcErrorCode rpc_code; /**< with RS_RPC_CALL_RPC_ERROR */
	char detail[RS_RPC_DETAIL_MAX];	     /**< error detail, or "" */

	/* Valid only until the arena is reset. */
	struct rs_arena *arena; /**< for the handler's allocations */
	const uint8_t *frame;	/**< the raw request frame body */
	size_t frame_len;
	ProtobufCMessage *resp;		/**< the reply the handler filled */
	const struct rs_rpc_tail *tail; /**< ends an OK reply, or NULL */
	/** The OK reply encoded by its handler, or NULL (then packed). */
	const struct rs_rpc_gather *gather;
	/** The packed size of @c sized_reply, as rs_rpc_dispatch() measured
	 *  it: a response it sized and the caller then writes is measured
	 *  once (a ReceiveBatch's reply is a walk of every entry).  Valid
	 *  while that reply is unchanged; parking clears it. */
	const ProtobufCMessage *sized_reply;
	size_t sized_len;
	const ProtobufCMessage *error_body; /**< optional, with APP_ERROR */
};

/* One lives on the stack of every dispatch: keep it small. */
_Static_assert(sizeof(struct rs_rpc_call) <= 256, "rs_rpc_call grew");

struct rs_rpc_registry;

/** What a caller brings to every dispatch; typically one per lcore. */
struct rs_rpc_env {
	const struct rs_rpc_registry *registry;
	struct rs_arena *arena;
	void *ctx;		 /**< passed to handlers */
	enum rs_rpc_plane plane; /**< the plane this caller serves */
};

/**
 * Create an empty registry.
 *
 * @return the registry, or NULL with errno set to ENOMEM.
 */
struct rs_rpc_registry *rs_rpc_registry_create(void);

/** Free a registry and its copies of names.  NULL is allowed. */
void rs_rpc_registry_destroy(struct rs_rpc_registry *reg);

/**
 * Register a method of a service (the service is created on first use).
 * Not thread-safe; register everything before the first dispatch, since
 * calls keep pointers to the entries (struct rs_rpc_call.method).
 *
 * @param service  e.g. "remote_socket"; copied.
 * @param method   the method; copied, its name too.
 * @return 0, -EEXIST (the service already has a method of that name),
 *   -EINVAL (empty name, no handler or descriptor, bad plane), -ENOMEM.
 */
int rs_rpc_registry_add(struct rs_rpc_registry *reg, const char *service,
			const struct rs_rpc_method *method);

/**
 * Find a method.  Costs two binary searches; allocates nothing.
 *
 * @param found  out: the registry's entry, on success.
 * @return 0, -ESRCH (no such service), -ENOENT (the service has no such
 *   method).
 */
int rs_rpc_registry_lookup(const struct rs_rpc_registry *reg,
			   const char *service, const char *method,
			   const struct rs_rpc_method **found);

/**
 * Serve one request frame (its body, without the length header).
 *
 * @param env      registry, arena, context and plane of the caller.
 * @param frame    the frame body; must stay valid until the call returns
 *                 (the handler may read it through call->frame).
 * @param len      its length.
 * @param call     out: the call record (to retry the response on
 *                 -ENOSPC).
 * @param out      where the response frame goes.
 * @param cap      bytes available at @p out.
 * @param out_len  out: bytes written; on -ENOSPC the bytes needed.
 * @return RS_RPC_DONE, RS_RPC_PARKED, RS_RPC_FORWARD, or -ENOSPC: @p cap is
 *   too small, the handler has run and its reply waits in the arena — call
 *   rs_rpc_call_respond(call, call->resp, ...) with a larger buffer before
 *   resetting the arena.
 */
int rs_rpc_dispatch(const struct rs_rpc_env *env, const uint8_t *frame,
		    size_t len, struct rs_rpc_call *call, uint8_t *out,
		    size_t cap, size_t *out_len);

/**
 * Write the response frame of a call, as its status says: the reply
 * @p resp (status OK, or PARKED: a parked call answered without running
 * its handler again), the application error, or the RPC error.
 *
 * @param resp     the reply, of the method's reply type; NULL for an empty
 *                 body.  Ignored for errors.
 * @param out      where to write; may be NULL when @p cap is 0.
 * @param out_len  out: bytes written; on -ENOSPC the bytes needed.
 * @return 0, -ENOSPC (nothing written), -EMSGSIZE (the response is above
 *   RS_FRAME_MAX_HARD), -EINVAL (@p resp is not of the method's reply type).
 */
int rs_rpc_call_respond(const struct rs_rpc_call *call,
			const ProtobufCMessage *resp, uint8_t *out, size_t cap,
			size_t *out_len);

/**
 * As rs_rpc_call_respond(), into up to two runs of memory, @p out[0]
 * first: the free space of a ring, where it wraps.
 *
 * @return as rs_rpc_call_respond(); -ENOSPC when the runs together are
 *   too small (nothing written).
 */
int rs_rpc_call_respond_iov(const struct rs_rpc_call *call,
			    const ProtobufCMessage *resp,
			    const struct iovec out[2], size_t *out_len);

/**
 * The call_id of a request frame body (RpcRequest field 1), read without
 * decoding the rest: from an envelope that does not decode, or from a
 * frame kept to answer later.  0 when there is none.
 */
uint64_t rs_rpc_frame_call_id(const uint8_t *frame, size_t len);

/**
 * Write an error-only response frame for @p call_id: for errors a transport
 * finds itself (RPC_UNAUTHENTICATED, RPC_OVER_QUOTA,
 * RPC_DEADLINE_EXCEEDED...).
 *
 * @param detail   text, or NULL; cut at RS_RPC_DETAIL_MAX - 1 bytes.
 * @return as rs_rpc_call_respond().
 */

int rs_rpc_error_write(uint64_t call_id, Remsock__Rpc__RpcErrorCode code,
		       const char *detail, uint8_t *out, size_t cap,
		       size_t *out_len);

/**
 * Make the call answer with the service's error @p code (for remote_socket a
 * RemoteSocketServiceError.ErrorCode) and a formatted detail; clears
 * call->error_body, which the handler may set afterwards.
 */
void rs_rpc_call_set_app_error(struct rs_rpc_call *call, int32_t code,
			       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Make the call answer with RPC error @p code and a formatted detail. */
void rs_rpc_call_set_rpc_error(struct rs_rpc_call *call,
			       Remsock__Rpc__RpcErrorCode code, const char *fmt,
			       ...) __attribute__((format(printf, 3, 4)));

/**
 * Mark the call parked: the dispatcher writes nothing and returns
 * RS_RPC_PARKED.  Whoever parks it keeps the request frame (call->frame,
 * call->frame_len) and dispatches it again to complete it.
 */
void rs_rpc_call_park(struct rs_rpc_call *call);

/**
 * Decode a message as protobuf_c_message_unpack() does, into @p arena,
 * except that its own bytes fields (not repeated, not in a oneof) point
 * into @p buf instead of being copied: a Send's data, the envelope's
 * body.  @p buf must outlive the message; never free it with
 * protobuf_c_message_free_unpacked().
 *
 * @return the message, or NULL where protobuf-c fails (malformed input, a
 *   required field missing, the arena's limit).
 */
ProtobufCMessage *rs_rpc_unpack(const ProtobufCMessageDescriptor *d,
				struct rs_arena *arena, const uint8_t *buf,
				size_t len);

/** @return the name of an RPC error code, e.g. "RPC_OVER_QUOTA". */
const char *rs_rpc_error_name(Remsock__Rpc__RpcErrorCode code);

#endif /* RS_RPC_H */
