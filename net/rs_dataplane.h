/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The data plane as the control thread sees it.
 *
 * Life cycle, all from the main lcore:
 *
 *   rs_dp_eal_init()   EAL from [eal] args (+ command-line overrides)
 *   rs_dp_create()     probe and configure the port, packet pool, queues
 *   rs_dp_start()      start the port, wait for link, launch the workers
 *   ...                rs_dp_stats_read() / rs_dp_info_get() at any time
 *   rs_dp_stop()       stop the workers, stop and close the port
 *   rs_dp_destroy()    free everything; then rte_eal_cleanup()
 *
 * Worker k runs on the k-th worker lcore and owns RX/TX queue pair k.
 * Failures are explained on stderr (naming the cause and, where there is
 * one, the fix) and returned as negative errno values: the caller decides
 * whether to exit.
 */
#ifndef RS_DATAPLANE_H
#define RS_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "rs_config.h"
#include "rs_tcp.h"

/** Most workers a data plane runs. */
#define RS_DP_WORKERS_MAX RS_CONFIG_WORKERS_MAX

/**
 * Why a received packet was dropped: X(ENUM, name, meaning).
 * Every received packet is either handled or dropped for one of these, so
 * rx_pkts == handled + the sum of drops once the workers have stopped.
 * The list ends with the TCP core's reasons (RS_TCP_DROPS in rs_tcp.h),
 * named "tcp_<reason>": a user X must come with a companion X##_TCP
 * that takes the TCP core's (ENUM, name, meaning).
 */
#define RS_DP_DROPS(X)                                                         \
	X(ETH_SHORT, "eth_short", "shorter than an Ethernet header")           \
	X(ETH_NOT_OURS, "eth_not_ours", "unicast to another MAC")              \
	X(ETH_MULTICAST, "eth_multicast", "multicast; none joined")            \
	X(ETH_IPV6, "eth_ipv6", "IPv6 (not supported yet)")                    \
	X(ETH_TYPE, "eth_type", "other EtherType")                             \
	X(ARP_MALFORMED, "arp_malformed", "not Ethernet/IPv4 ARP, or short")   \
	X(ARP_OP, "arp_op", "neither request nor reply")                       \
	X(ARP_NOT_OURS, "arp_not_ours", "for another address")                 \
	X(ARP_CONFLICT, "arp_conflict", "sender claims our address or MAC")    \
	X(IP_SHORT, "ip_short", "shorter than an IPv4 header")                 \
	X(IP_VERSION, "ip_version", "version field not 4")                     \
	X(IP_HDR_LEN, "ip_hdr_len", "header length field invalid")             \
	X(IP_TOTAL_LEN, "ip_total_len", "total length field invalid")          \
	X(IP_CSUM, "ip_csum", "header checksum wrong")                         \
	X(IP_NOT_OURS, "ip_not_ours", "for another address")                   \
	X(IP_FRAGMENT, "ip_fragment", "fragment (no reassembly table)")        \
	X(IP_FRAG_TOO_BIG, "ip_frag_too_big", "fragment ends past 65535")      \
	X(IP_FRAG_BAD, "ip_frag_bad",                                          \
	  "fragment refused: overlap, duplicate, too many, table full")        \
	X(IP_REASM_REPLY, "ip_reasm_reply",                                    \
	  "reply built in a reassembled datagram (over the MTU)")              \
	X(IP_BAD_SRC, "ip_bad_src", "source not a unicast peer")               \
	X(IP_PROTO, "ip_proto", "protocol not handled yet")                    \
	X(ICMP_SHORT, "icmp_short", "shorter than an ICMP header")             \
	X(ICMP_CSUM, "icmp_csum", "checksum wrong")                            \
	X(ICMP_TYPE, "icmp_type", "type not handled")                          \
	X(ICMP_ERR_NO_SOCKET, "icmp_err_no_socket",                            \
	  "ICMP error about a flow no socket has")                             \
	X(UDP_SHORT, "udp_short", "shorter than a UDP header")                 \
	X(UDP_LEN, "udp_len", "length field invalid")                          \
	X(UDP_CSUM, "udp_csum", "checksum wrong")                              \
	X(UDP_NO_PORT, "udp_no_port", "no socket for the port")                \
	X(UDP_RCVBUF, "udp_rcvbuf", "socket's receive ring full")              \
	X(UDP_TOO_BIG, "udp_too_big", "larger than the socket's ring")         \
	X(UDP_SHUT, "udp_shut", "socket shut down for reading")                \
	X(TCP_TOO_LONG, "tcp_too_long", "segment over 64 KiB")                 \
	X(STEER_FULL, "steer_full",                                            \
	  "for another worker, whose steering ring was full")                  \
	X(STEER_STOPPED, "steer_stopped",                                      \
	  "for another worker, which had stopped")                             \
	RS_TCP_DROPS(X##_TCP)

/**
 * Things that happened, for telemetry: X(ENUM, name).  The list ends with
 * the TCP core's counters (RS_TCP_COUNTERS in rs_tcp.h: retransmissions,
 * time-outs, zero-window probes...), summed over the workers' stacks and
 * named "tcp.<counter>"; as for RS_DP_DROPS, a user X comes with a
 * companion X##_TCP taking the core's (ENUM, name).
 */
#define RS_DP_EVENTS(X)                                                        \
	X(ARP_REPLIED, "arp_replied")                                          \
	X(ARP_LEARNED, "arp_learned")                                          \
	X(ICMP_ECHO_REPLIED, "icmp_echo_replied")                              \
	X(GARP_SENT, "garp_sent")                                              \
	X(ALLOC_FAILED, "alloc_failed")                                        \
	X(IDLE_SLEEPS, "idle_sleeps")                                          \
	X(ARP_REQUESTS_SENT, "arp_requests_sent")                              \
	X(ARP_RESOLVED, "arp_resolved")                                        \
	X(ARP_FAILED, "arp_failed")                                            \
	X(TX_ARP_QUEUE_FULL, "tx_arp_queue_full")                              \
	X(TX_ARP_PENDING_FULL, "tx_arp_pending_full")                          \
	X(TX_ARP_UNREACHABLE, "tx_arp_unreachable")                            \
	X(TX_NO_ROUTE, "tx_no_route")                                          \
	X(ICMP_UNREACH_SENT, "icmp_unreach_sent")                              \
	X(ICMP_UNREACH_LIMITED, "icmp_unreach_limited")                        \
	X(ICMP_ERR_DELIVERED, "icmp_err_delivered")                            \
	X(UDP_DELIVERED, "udp_delivered")                                      \
	X(UDP_SENT, "udp_sent")                                                \
	X(TCP_SEGS_SENT, "tcp_segs_sent")                                      \
	X(TCP_EMIT_FAILED, "tcp_emit_failed")                                  \
	X(TCP_LRO_IN, "tcp_lro_in")	/* segments the port merged (LRO) */   \
	X(TCP_CHAIN_IN, "tcp_chain_in") /* chained segments taken in place */  \
	X(SOCK_OPENED, "sock_opened")                                          \
	X(SOCK_CLOSED, "sock_closed")                                          \
	X(SOCK_LEAKED, "sock_leaked")                                          \
	X(TCP_LEFT_AT_STOP, "tcp_left_at_stop")                                \
	X(IP_REASSEMBLED, "ip_reassembled")                                    \
	X(IP_FRAG_TIMED_OUT, "ip_frag_timed_out")                              \
	X(IP_FRAG_DROPPED, "ip_frag_dropped")                                  \
	X(STEERED_OUT, "steered_out") /* given to their owner worker */        \
	X(STEERED_IN, "steered_in")   /* taken from other workers */           \
	X(STEER_HELD, "steer_held")   /* held back: the owner's ring full */   \
	X(ARP_SHARED, "arp_shared")   /* ARP copies given to other workers */  \
	RS_TCP_COUNTERS(X##_TCP)

#define RS_DP_ENUM_DROP(e, name, meaning) RS_DP_DROP_##e,
#define RS_DP_ENUM_DROP_TCP(e, name, meaning) RS_DP_DROP_TCP_##e,
#define RS_DP_ENUM_EVENT(e, name) RS_DP_EV_##e,
#define RS_DP_ENUM_EVENT_TCP(e, name) RS_DP_EV_TCP_CORE_##e,

enum rs_dp_drop { RS_DP_DROPS(RS_DP_ENUM_DROP) RS_DP_DROP_MAX };
enum rs_dp_event { RS_DP_EVENTS(RS_DP_ENUM_EVENT) RS_DP_EV_MAX };

/** Counters of one worker, or of all. */
struct rs_dp_stats {
	uint64_t rx_pkts;    /**< packets received */
	uint64_t rx_bytes;   /**< their bytes */
	uint64_t tx_pkts;    /**< packets the port accepted for sending */
	uint64_t tx_bytes;   /**< their bytes */
	uint64_t handled;    /**< received packets that a handler consumed */
	uint64_t tx_dropped; /**< packets the TX queue had no room for */
	/** TSC cycles spent in loop rounds that found work (packets,
	 *  events, the app's poll, output): the worker's real load, which
	 *  idle polling and back-off sleeps do not blur.  rte_get_tsc_hz()
	 *  converts them to seconds. */
	uint64_t busy_cycles;
	uint64_t busy_loops; /**< those rounds */
	uint64_t drops[RS_DP_DROP_MAX];
	uint64_t events[RS_DP_EV_MAX];
	/* Gauges: values now, not counts. */
	uint64_t socks_open; /**< socket handles not given back */
	uint64_t tcp_conns;  /**< TCP connections in the pools */
	/** Of them, in each state (enum rs_tcp_state). */
	uint64_t tcp_states[RS_TCP_STATE_MAX];
	uint64_t arp_held;	    /**< packets waiting for ARP */
	uint64_t tcp_conns_at_stop; /**< TCP connections left after the
				       stop's grace period ([tcp]
				       close_grace_ms); TIME-WAIT ones are
				       not waited for (tcp.tw_flushed) */
};

/** What the data plane runs on, for the start banner. */
struct rs_dp_info {
	uint16_t port_id;
	char port_name[64];
	char driver[64];
	uint8_t mac[6];
	bool link_up;
	uint32_t link_speed; /**< Mbps; 0 when the PMD does not say */
	bool link_full_duplex;
	uint16_t mtu;
	uint16_t rx_desc, tx_desc;
	uint32_t mbufs;
	uint64_t rx_offloads, rx_offloads_offered; /**< checksum offloads */
	uint64_t tx_offloads, tx_offloads_offered;
	unsigned workers;
	unsigned worker_lcore[RS_DP_WORKERS_MAX];
};

struct rs_dp;

/**
 * Initialise the EAL with [eal] args followed by @p argv.
 *
 * @param cfg   the configuration.
 * @param argc  number of override arguments (may be 0).
 * @param argv  override arguments, appended after [eal] args.
 * @return 0; -E2BIG (too many arguments); -EINVAL (an argument the EAL
 *   did not consume); or the negative rte_errno of rte_eal_init().  The
 *   cause is printed, with a hint when it is a common setup problem
 *   (hugepages, privileges).
 */
int rs_dp_eal_init(const struct rs_config *cfg, int argc, char **argv);

/**
 * Probe and configure the port, create the packet pool and one queue pair
 * per worker.  Needs an initialised EAL.
 *
 * @return the data plane, or NULL with errno set: EINVAL (the port or the
 *   EAL cannot do what the configuration asks), ENODEV (no port matches
 *   [port] devargs), ENOMEM, or the errno of a failed ethdev call.
 */
struct rs_dp *rs_dp_create(const struct rs_config *cfg);

/**
 * Start the port, wait (at most [port] link_timeout_ms) for link up and
 * launch the workers; the first announces our address (gratuitous ARP).
 *
 * @return 0; -ETIMEDOUT (link still down); -EBUSY (a worker lcore is not
 *   idle); or the negative errno of rte_eth_dev_start().
 */
int rs_dp_start(struct rs_dp *dp);

/**
 * Tell the workers to stop, wait for them, then stop and close the port.
 * Counters stay readable.  Calling it again does nothing.
 */
void rs_dp_stop(struct rs_dp *dp);

/**
 * Route SIGINT and SIGTERM to @p handler, the way every remsock program
 * stops: the handler sets a flag that the main loop polls.
 *
 * @return 0, or a negative errno from sigaction().
 */
int rs_dp_signals_install(void (*handler)(int));

/** Stop if needed and free everything.  NULL is allowed. */
void rs_dp_destroy(struct rs_dp *dp);

/**
 * Read counters.
 *
 * @param dp      the data plane.
 * @param worker  a worker index, or -1 for the sum of all.
 * @param st      receives the counters.  While workers run, the fields
 *   are each exact but not taken at one instant.
 * @return 0, or -EINVAL for a bad worker index.
 */
int rs_dp_stats_read(const struct rs_dp *dp, int worker,
		     struct rs_dp_stats *st);

/**
 * Describe the port and the workers.
 *
 * @return 0.
 */
int rs_dp_info_get(const struct rs_dp *dp, struct rs_dp_info *info);

/**
 * Count the packet pool's mbufs that are out of it.
 *
 * @return mbufs in use; after rs_dp_stop() anything but 0 is a leak.
 */
unsigned rs_dp_mbufs_in_use(const struct rs_dp *dp);

/** @return the short name of a drop reason (e.g. "ip_csum"), or NULL. */
const char *rs_dp_drop_name(unsigned reason);

/** @return what a drop reason means, or NULL. */
const char *rs_dp_drop_meaning(unsigned reason);

/** @return the short name of an event (e.g. "arp_replied"), or NULL. */
const char *rs_dp_event_name(unsigned event);

#endif /* RS_DATAPLANE_H */
