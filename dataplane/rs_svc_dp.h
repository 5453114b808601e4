/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The workers' half of the remote socket service, as remsockd's main
 * sets it up (the control half is rs_svc.h's rs_svc_ctl).
 *
 *   rs_svc_dp_create()   register the data-plane methods, make the
 *                        exec registry (after rs_svc_ctl_create())
 *   rs_svc_dp_attach()   run it on the workers (before rs_dp_start())
 *   ...                  rs_dp_stop() runs its fini on every worker
 *   rs_svc_dp_stats_get()
 *   rs_svc_dp_free()
 *
 * Each worker listens for RPC connections on [net] ip, [rpc]
 * listen_port, and for App Engine API-host HTTP on [rpc] http_port
 * (unless 0), through the userspace stack.
 */
#ifndef RS_SVC_DP_H
#define RS_SVC_DP_H

#include <stddef.h>
#include <stdint.h>

struct rs_dp;
struct rs_svc_shared;

/** The workers' half (opaque). */
struct rs_svc_dp;

/**
 * @param err  receives a message on failure.
 * @return the workers' half, or NULL with errno set.
 */
struct rs_svc_dp *rs_svc_dp_create(struct rs_svc_shared *sh, char *err,
				   size_t errlen);

/**
 * Make it the application of the data plane's workers.
 *
 * @return 0, or the negative errno of rs_dp_set_app().
 */
int rs_svc_dp_attach(struct rs_svc_dp *sdp, struct rs_dp *dp);

/** Free it (after rs_dp_stop()); NULL is ignored. */
void rs_svc_dp_free(struct rs_svc_dp *sdp);

/** Counters summed over the workers.  Exact once the workers stopped. */
struct rs_svc_dp_stats {
	uint64_t conns_accepted; /**< RPC connections taken */
	uint64_t conns_closed;
	uint64_t auth_failed;	/**< Authenticate refused */
	uint64_t auth_timeouts; /**< closed before authenticating */
	uint64_t auth_blocked;	/**< refused: failed authentication too often */
	uint64_t conns_refused; /**< not clients, over max_conns, ... */
	uint64_t http_slow;	/**< HTTP requests not whole in time */
	uint64_t calls;		/**< frames dispatched */
	uint64_t forwarded;	/**< of which went to control */
	uint64_t parked;	/**< calls that waited */
	uint64_t woken;		/**< runs of parked calls after an event */
	uint64_t expired;	/**< runs at the deadline */
	uint64_t cancelled;	/**< parked calls of closed connections */
	uint64_t stop_answered; /**< parked calls answered CANCELLED at the
				     stop */
	uint64_t busy;		/**< refused: control ring or pool full */
	uint64_t starved;	/**< inputs paused for an app's quota */
	uint64_t reaped;	/**< sockets closed for idleness */
	uint64_t session_closed; /**< ... because their session ended */
	uint64_t sessions_full;	 /**< connections left without a session */
	uint64_t close_deferred; /**< Closes that waited for Sends */
	uint64_t close_overdue;	 /**< ... until close_wait_ms */
	uint64_t gone_lost;	 /**< descriptors control was not told
				      about, or answers lost between
				      workers */
	uint64_t fwd_out;	 /**< calls given to their sockets' worker */
	uint64_t fwd_in;	 /**< calls taken from other workers */
	uint64_t splits;	 /**< batches over several workers' sockets,
				      split and merged */
	uint64_t http_requests;	 /**< API-host HTTP requests served */
	uint64_t http_errors;	 /**< answered with an HTTP error status */
	uint64_t http_idle;	 /**< HTTP connections closed for idleness */
	uint64_t tls_failed;	 /**< TLS handshakes or records that failed */
	uint64_t dns_dropped;	 /**< datagrams on a DNS query's port that
				      were not its answer */
	/* Gauges. */
	uint64_t conns_open; /**< RPC connections now */
	uint64_t socks_open; /**< proxied sockets now */
	uint64_t waits;	     /**< parked calls now */
	uint64_t out_bytes;  /**< replies waiting for their clients now */
};

/**
 * Wait until every worker has finished the round it is in (control
 * thread, after replacing something workers read, e.g. the ACL): from
 * then on none holds the old one.
 *
 * @return 0, or -ETIMEDOUT after @p timeout_ms (a worker stuck).
 */
int rs_svc_dp_quiesce(const struct rs_svc_dp *sdp, unsigned timeout_ms);

/**
 * SIGHUP: read [rpc]'s TLS files again (tls_cert, tls_key, tls_client_ca,
 * tls_client_crl) into a new context, as at the start.  Nothing changes
 * yet: put it in force with rs_svc_dp_tls_swap().
 *
 * @return the context; NULL with @p err set when a file does not load,
 *         and NULL with @p err untouched when no TLS port is configured.
 */
void *rs_svc_dp_tls_load(const struct rs_svc_dp *sdp, char *err, size_t errlen);

/**
 * Connections that start from now on take @p ctx; those up already keep
 * theirs (each holds a reference to it).
 *
 * @return the context replaced: free it with rs_svc_dp_tls_free() (a
 *         worker may still be taking it until rs_svc_dp_quiesce()).
 */
void *rs_svc_dp_tls_swap(struct rs_svc_dp *sdp, void *ctx);

/** Drop the reference to a context (NULL is ignored). */
void rs_svc_dp_tls_free(void *ctx);

/** Sum the workers' counters. */
void rs_svc_dp_stats_get(const struct rs_svc_dp *sdp,
			 struct rs_svc_dp_stats *st);

#endif /* RS_SVC_DP_H */
