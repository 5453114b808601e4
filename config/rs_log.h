/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * remsockd's operator log: DPDK's rte_log with a log type per component
 * (remsock.port, remsock.arp, remsock.tcp, remsock.service,
 * remsock.control, remsock.dns, remsock.http, remsock.acl, remsock.auth,
 * remsock.quota), each line stamped with the UTC time and its component.
 *
 * Levels are DPDK's: a type logs at NOTICE and above by default; set
 * them at start with EAL's --log-level (e.g. `remsockd --
 * --log-level=remsock.auth:debug`) and at run time with
 * rs_log_level_set() (the telemetry command /remsock/log).  Nothing is
 * logged per packet at the default level; events that a tenant can
 * cause at will go through a limiter (rs_log_limit_pass()).
 */
#ifndef RS_LOG_H
#define RS_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_log.h>

/** The components. */
enum rs_log_type {
	RS_LOG_PORT,
	RS_LOG_ARP,
	RS_LOG_TCP,
	RS_LOG_SERVICE,
	RS_LOG_CONTROL,
	RS_LOG_DNS,
	RS_LOG_HTTP,
	RS_LOG_ACL,
	RS_LOG_AUTH,
	RS_LOG_QUOTA,
	RS_LOG_TYPES
};

/** Register the types with rte_log (after rte_eal_init(), which keeps
 *  --log-level patterns for types registered later); again: nothing. */
void rs_log_init(void);

/** A line of component @p type at rte_log level @p level (RTE_LOG_ERR,
 *  RTE_LOG_NOTICE, RTE_LOG_INFO...). */
__attribute__((format(printf, 3, 4))) void
rs_log(enum rs_log_type type, uint32_t level, const char *fmt, ...);

/** Whether @p type logs at @p level now (to skip building a line). */
bool rs_log_on(enum rs_log_type type, uint32_t level);

/**
 * Set the level of component @p name ("auth", or "*" for all) to
 * @p level ("debug", "info", "notice", "warning", "err"...).
 *
 * @return 0, or -EINVAL (no such component or level).
 */
int rs_log_level_set(const char *name, const char *level);

/** Component @p type's name ("auth"), and its level now. */
const char *rs_log_type_name(enum rs_log_type type);
uint32_t rs_log_level(enum rs_log_type type);

/** A rate limit for lines a tenant could cause at will: at most a number
 *  a second; the lines held back are counted and said on the next one. */
struct rs_log_limit {
	uint64_t second; /* the current second (ns / 1e9) */
	uint32_t n;	 /* lines in it */
	uint32_t held;	 /* held back since the last line */
};

/**
 * @param now_ns  a clock in nanoseconds.
 * @param held    receives the lines held back before this one (say so).
 * @return whether this line may go.
 */
bool rs_log_limit_pass(struct rs_log_limit *l, uint64_t now_ns, uint32_t per_s,
		       uint32_t *held);

/** The same on the coarse monotonic clock, for callers without one. */
bool rs_log_limit_now(struct rs_log_limit *l, uint32_t per_s, uint32_t *held);

#endif /* RS_LOG_H */
