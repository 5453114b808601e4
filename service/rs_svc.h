/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The remote socket service as the two planes share it: the message
 * rings between the control thread and the workers, the entries that
 * travel on them, and the read-only state both sides consult.
 *
 * Who does what.  A worker owns its RPC connections and the sockets it
 * opened for them.  It answers Authenticate and the data methods (Send,
 * Receive, Poll, ReceiveBatch, SendBatch) by itself.  Every other method
 * is forwarded to the control thread as a CALL: control checks it
 * against the descriptor table, the ACL and the quotas and either
 * answers it (RESPOND: an error, or a reply it makes alone, such as
 * Resolve) or approves it (EXEC: the same frame goes back to the worker
 * with what control decided, e.g. the new descriptor, and the worker
 * runs the socket half of the method).  When a worker forgets a
 * descriptor on its own (a CreateSocket that failed at the socket, an
 * Accept that timed out, a socket reaped for idleness) it tells control
 * with a GONE entry.
 *
 *   worker k --CALL/GONE--> to_ctl (MPSC) --> control
 *   control  --EXEC/RESPOND--> to_worker[k] (SPSC) --> worker k
 *
 * Each direction is FIFO, so the two views of a socket change in the
 * same order on both sides.
 *
 * Several workers.  A socket lives on the worker of the connection that
 * created it (an accepted one on its listener's); control keeps a
 * directory, descriptor -> worker (owners), that the workers read.  A
 * call on another worker's socket goes to that worker and its answer
 * comes back to the connection's:
 *
 *   data methods    worker a --FWD--> to_peer[b] --> worker b runs it
 *                   worker b --ANSWER--> to_peer[a] --> a's connection
 *   control-plane   control sends the EXEC to the socket's worker
 *                   (target), which answers the connection's (worker)
 *                   with an ANSWER
 *
 * A connection that closes after forwarding calls tells the other
 * workers (CONN_GONE), which cancel its calls still waiting there.  Entries are
 * fixed-size buffers from one mempool; whoever dequeues an entry either reuses
 * it for the answer or puts it back.
 */
#ifndef RS_SVC_H
#define RS_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "rs_config.h"
#include "rs_desc.h"

struct rs_acl;
struct rs_apps;
struct rs_config;
struct rs_rpc_registry;
struct rs_svc_shared;
struct rte_mempool;
struct rte_hash;
struct rte_ring;

/** Bytes of one message entry, header included. */
#define RS_SVC_MSG_SIZE 4096u

/** The service names of the native transport. */
#define RS_SVC_SERVICE "remote_socket"
#define RS_SVC_SERVICE_AUTH "remsock"

/** A registry entry for remote_socket method @p name, handled by @p fn,
 *  with messages remsock__<type>_request / _reply, on @p plane. */
#define RS_SVC_METHOD(name, fn, type, plane)                                   \
	{                                                                      \
		name, fn, &remsock__##type##_request__descriptor,              \
		    &remsock__##type##_reply__descriptor, plane                \
	}

/**
 * Request descriptors that take what App Engine's Java runtime sends:
 * SendRequest with stream_offset unset (a datagram Send; it then reads
 * RS_SVC_OFFSET_UNSET), GetSocketOptionsRequest with options whose value
 * is unset.  Registered in place of the generated ones (service/
 * lenient.c).
 */
extern ProtobufCMessageDescriptor rs_svc_send_request_lenient;
extern ProtobufCMessageDescriptor rs_svc_get_socket_options_request_lenient;
#define RS_SVC_OFFSET_UNSET INT64_MIN

/** What an entry is. */
enum rs_svc_msg_type {
	RS_SVC_MSG_CALL = 1,	  /**< worker -> control: a frame to serve */
	RS_SVC_MSG_EXEC = 2,	  /**< control -> worker: run the socket half */
	RS_SVC_MSG_RESPOND = 3,	  /**< control -> worker: a response frame */
	RS_SVC_MSG_GONE = 4,	  /**< worker -> control: forget desc */
	RS_SVC_MSG_FWD = 5,	  /**< worker -> worker: a data call to run */
	RS_SVC_MSG_ANSWER = 6,	  /**< worker -> worker: a response frame */
	RS_SVC_MSG_CONN_GONE = 7, /**< worker -> worker: conn closed */
	RS_SVC_MSG_CANCEL = 8,	  /**< worker -> worker: cancel the waiting
				       call of conn whose call_id data[]
				       holds (8 bytes) */
};

/* rs_svc_msg.flags. */
/** The frame is on the heap (rs_svc_msg_frame()). */
#define RS_SVC_MSG_F_HEAP 0x01u
/** FWD, ANSWER: the origin's connection counts the call in flight until
 *  its ANSWER arrives. */
#define RS_SVC_MSG_F_CHARGED 0x02u
/** FWD, ANSWER: a part of a batch its connection's worker split. */
#define RS_SVC_MSG_F_PART 0x04u

/** One entry on a ring.  Fields are written by the sender only. */
struct rs_svc_msg {
	uint16_t type;	 /**< enum rs_svc_msg_type */
	uint16_t worker; /**< the worker of the RPC connection */
	uint32_t app;	 /**< the connection's app */
	uint64_t conn;	 /**< the RPC connection, as its worker names it */
	uint32_t len;	 /**< bytes in data[] */
	/** EXEC of CreateSocket and Accept: the descriptor control made
	 *  for the new socket.  GONE: the descriptor to forget.  FWD and
	 *  its ANSWER: struct rs_svc_fwd_out. */
	char desc[RS_DESC_LEN + 1];
	uint8_t flags;	 /**< RS_SVC_MSG_F_* */
	uint16_t target; /**< EXEC: the worker that runs it (the socket's) */
	uint8_t pad[2];
	/** CALL, EXEC, FWD: the request frame body (without its length
	 *  header).  RESPOND, ANSWER: the response frame, header included.
	 *  With RS_SVC_MSG_F_HEAP, a pointer to it (rs_svc_msg_frame()). */
	uint8_t data[];
};

/** What a FWD's answer may add to its connection's output, charged to
 *  the app the output is (out_app) from FWD to ANSWER; the ANSWER
 *  carries it back (in rs_svc_msg.desc). */
struct rs_svc_fwd_out {
	uint32_t bytes;
	int32_t out_app; /* -1: none */
};

/** Room for a frame inside an entry. */
#define RS_SVC_MSG_DATA_MAX (RS_SVC_MSG_SIZE - sizeof(struct rs_svc_msg))

_Static_assert(sizeof(struct rs_svc_msg) == 48, "rs_svc_msg header grew");
_Static_assert(RS_SVC_MSG_DATA_MAX >= 2048, "rs_svc_msg data too small");

/** Report one counter: @p name is copied. */
typedef void (*rs_svc_counter_fn)(void *arg, const char *name, uint64_t value);

/** A source of counters: calls @p emit(@p emit_arg, ...) once for each.
 *  It may be called from the control thread (remsock.Stats) and from a
 *  worker (GET /metrics): it reads counters others write, atomically. */
typedef void (*rs_svc_counters_fn)(void *src, rs_svc_counter_fn emit,
				   void *emit_arg);

/**
 * Publish a new [dns] to the workers (a reload; the control thread): each
 * opens a resolver on it at its next round and lets the old one drain.
 * @return the one it replaces, to free (unless it is the configuration's
 * own) once every worker has ended a round; the one in force at the end
 * is rs_svc_shared_free()'s to free.
 */
const struct rs_config_dns *rs_svc_dns_swap(struct rs_svc_shared *sh,
					    const struct rs_config_dns *dns);

/** The message rings' and entries' use, to @p emit: ring.size (each
 *  ring's entries), ring_used.to_ctl, ring_used.to_workerK, msgs.size
 *  and msgs.in_use (the pool). */
void rs_svc_ring_counters(const struct rs_svc_shared *sh,
			  void (*emit)(void *arg, const char *name,
				       uint64_t value),
			  void *arg);

/** What both planes read; set up by rs_svc_shared_create(), read-only
 *  once the workers run (the rings and counters excepted). */
struct rs_svc_shared {
	const struct rs_config *cfg;
	/** Thread-safe lookups; replaced by a reload: read it with
	 *  rs_svc_acl(). */
	struct rs_acl *acl;
	struct rs_apps *apps; /**< thread-safe auth and quota counters */
	struct rs_rpc_registry *registry; /**< every method, both planes */
	struct rte_mempool *pool;	  /**< of RS_SVC_MSG_SIZE entries */
	struct rte_ring *to_ctl;	  /**< workers -> control */
	struct rte_ring *to_worker[RS_CONFIG_WORKERS_MAX]; /**< control -> k */
	/** Other workers -> k (several workers only). */
	struct rte_ring *to_peer[RS_CONFIG_WORKERS_MAX];
	/** Descriptor -> its socket's worker (several workers only): written
	 *  by control, read by the workers (rs_svc_owner_get()). */
	struct rte_hash *owners;
	unsigned workers;
	/** [dns] as the workers' resolvers take it: replaced by a reload
	 *  (rs_svc_dns_swap()), read with an acquire load when dns_gen moves;
	 *  at first, cfg->dns. */
	const struct rs_config_dns *dns;
	uint64_t dns_gen;
	/** The process's counters (rs_svc_ctl_counters_set()), or NULL. */
	rs_svc_counters_fn counters;
	void *counters_src;
	/** Wake worker k if it sleeps in its idle back-off: set by the
	 *  workers' half before they run, called once an entry is on its
	 *  ring (rs_svc_msg_send()); NULL: nobody to wake. */
	void (*wake)(void *arg, unsigned k);
	void *wake_arg;
};

/**
 * Create the shared state: ACL and apps from @p cfg, an empty registry,
 * the entry pool and the rings ([limits] msg_ring_size entries each).
 * Needs an initialised EAL.
 *
 * @param workers  worker lcores (1..RS_CONFIG_WORKERS_MAX).
 * @param err      receives a message on failure.
 * @return the state, or NULL with errno set (EINVAL, ENOMEM, or the
 *   rte_errno of a ring or pool).
 */
struct rs_svc_shared *rs_svc_shared_create(const struct rs_config *cfg,
					   unsigned workers, char *err,
					   size_t errlen);

/** Free the shared state; entries still on the rings go back to the
 *  pool first.  NULL is ignored. */
void rs_svc_shared_free(struct rs_svc_shared *sh);

/** Give the entries left on the rings back to the pool (once the
 *  workers have stopped). */
void rs_svc_shared_drain(struct rs_svc_shared *sh);

/** @return entries of the pool not in it (0 once everything is done). */
unsigned rs_svc_msgs_in_use(const struct rs_svc_shared *sh);

/**
 * Send an entry to control, or to worker @p k (@p k < 0: control).  On
 * failure the entry stays the caller's.
 *
 * @return 0, or -ENOBUFS when the ring is full.
 */
int rs_svc_msg_send(struct rs_svc_shared *sh, int k, struct rs_svc_msg *m);

/**
 * Answer a call with a remote_socket error: @p code is a
 * RemoteSocketServiceError.ErrorCode (SYSTEM_ERROR, PERMISSION_DENIED,
 * INVALID_REQUEST...), @p sys_errno the errno that SYSTEM_ERROR carries
 * (0 otherwise).  The error body (a RemoteSocketServiceError with the
 * errno and the detail) is made in call->arena.
 */
struct rs_rpc_call;
void rs_svc_error(struct rs_rpc_call *call, int code, int sys_errno,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/**
 * The answer for a descriptor the app does not have (never made, closed,
 * reaped, or another app's): SOCKET_CLOSED, as App Engine answered (its
 * runtimes map it: Python's to EPIPE), with EBADF in the detail for a
 * native client.  @p what says which of the cases it was.
 */
#define rs_svc_closed(call, what)                                              \
	rs_svc_error(                                                          \
	    call,                                                              \
	    REMSOCK__REMOTE_SOCKET_SERVICE_ERROR__ERROR_CODE__SOCKET_CLOSED,   \
	    0, "%s (EBADF)", what)

/** rs_svc_error() with SYSTEM_ERROR and the errno @p err (either sign). */
#define rs_svc_sys_error(call, err, ...)                                       \
	rs_svc_error(call, 1, (err) < 0 ? -(err) : (err), __VA_ARGS__)

struct Remsock__AddressPort;

/**
 * The IPv4 address (network order, 0 when none is given) and port of an
 * AddressPort: 4 bytes, or 16 of an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, as Java's runtime sends every address) or the
 * unspecified :: (any); false with the call answered (INVALID_REQUEST,
 * or ENETUNREACH for any other IPv6 address: the stack is IPv4 only)
 * when it has none that remsock can use.
 */
bool rs_svc_addr_get(struct rs_rpc_call *call,
		     const struct Remsock__AddressPort *a, uint32_t *ip,
		     uint16_t *port);

/** The ACL in force (a reload may replace it between two calls). */
static inline const struct rs_acl *rs_svc_acl(const struct rs_svc_shared *sh)
{
	return __atomic_load_n(&sh->acl, __ATOMIC_ACQUIRE);
}

/**
 * Put @p acl in force (control thread).  @return the one it replaces,
 * which workers may still be reading until each finishes its round
 * (rs_svc_dp_quiesce()).
 */
struct rs_acl *rs_svc_acl_swap(struct rs_svc_shared *sh, struct rs_acl *acl);

/**
 * Whether the ACL lets a call reach @p a; false with the call answered
 * (PERMISSION_DENIED naming the rule, or as rs_svc_addr_get()) when not;
 * a denial is logged for app @p app (remsock.acl, rate-limited).
 */
bool rs_svc_acl_check(const struct rs_svc_shared *sh, struct rs_rpc_call *call,
		      uint32_t app, const struct Remsock__AddressPort *a);

struct Remsock__ResolveReply;

struct Remsock__ResolveRequest;

/**
 * How a Resolve's IPv4 addresses are answered: 4 (IPv4, also when it
 * names no family), 16 (IPv6 only: IPv4-mapped addresses, as
 * getaddrinfo()'s AI_V4MAPPED), or 0 (neither: answered ADDRFAMILY).
 */
unsigned rs_svc_resolve_len(const struct Remsock__ResolveRequest *req);

/**
 * Fill a Resolve reply with @p n IPv4 addresses (network order), as
 * @p len bytes each (rs_svc_resolve_len()), then @p n6 IPv6 ones (DNS's
 * AAAA records, when IPv6 was asked), and the canonical name, in
 * call->arena.  IPv4 first: the proxy's network is IPv4 only, and a
 * client that takes the first address must get one it can reach.
 *
 * @return 0, or -ENOMEM.
 */
int rs_svc_resolve_reply(struct rs_rpc_call *call,
			 struct Remsock__ResolveReply *resp, const char *name,
			 const uint32_t *addr, unsigned n, unsigned len,
			 const uint8_t (*addr6)[16], unsigned n6);

/** Write @p ip (network order) as 16 bytes: ::ffff:a.b.c.d, or :: for
 *  0.0.0.0 (as Linux names an unbound IPv6 socket). */
void rs_svc_addr_v6(uint32_t ip, uint8_t out[16]);

/** @return a fresh entry, or NULL when the pool is empty. */
struct rs_svc_msg *rs_svc_msg_get(struct rs_svc_shared *sh);

/** Give an entry back to the pool (and its heap frame). */
void rs_svc_msg_put(struct rs_svc_shared *sh, struct rs_svc_msg *m);

/** Put a frame in an entry: in data[] when it fits, else a heap copy
 *  (RS_SVC_MSG_F_HEAP).  @return 0 or -ENOMEM. */
int rs_svc_msg_set_frame(struct rs_svc_msg *m, const uint8_t *buf, size_t len);

/** The frame of an entry (m->len bytes). */
const uint8_t *rs_svc_msg_frame(const struct rs_svc_msg *m);

/** Send an entry to worker @p k's peer ring.  @return 0 or -ENOBUFS
 *  (the entry stays the caller's). */
int rs_svc_peer_send(struct rs_svc_shared *sh, unsigned k,
		     struct rs_svc_msg *m);

/** The directory of several workers (control writes, workers read):
 *  set, forget, and find a descriptor's worker (-1: none, or one
 *  worker). */
int rs_svc_owner_set(struct rs_svc_shared *sh, const char *desc,
		     unsigned worker);
void rs_svc_owner_del(struct rs_svc_shared *sh, const char *desc);
int rs_svc_owner_get(const struct rs_svc_shared *sh, const char *desc);

#endif /* RS_SVC_H */
