/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The operator log (see rs_log.h).  A line is built in a buffer on the
 * stack (UTC time, component, text) and handed to rte_log() whole, so
 * that lines of several threads do not interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rs_log.h"

static const char *const names[RS_LOG_TYPES] = {
    [RS_LOG_PORT] = "port",	  [RS_LOG_ARP] = "arp",
    [RS_LOG_TCP] = "tcp",	  [RS_LOG_SERVICE] = "service",
    [RS_LOG_CONTROL] = "control", [RS_LOG_DNS] = "dns",
    [RS_LOG_HTTP] = "http",	  [RS_LOG_ACL] = "acl",
    [RS_LOG_AUTH] = "auth",	  [RS_LOG_QUOTA] = "quota",
};

static int types[RS_LOG_TYPES];
static bool ready;

void rs_log_init(void)
{
	char name[32];

	if (ready)
		return;
	for (unsigned t = 0; t < RS_LOG_TYPES; t++) {
		snprintf(name, sizeof(name), "remsock.%s", names[t]);
		types[t] =
		    rte_log_register_type_and_pick_level(name, RTE_LOG_NOTICE);
		if (types[t] < 0)
			types[t] = RTE_LOGTYPE_USER1;
	}
	ready = true;
}

bool rs_log_on(enum rs_log_type type, uint32_t level)
{
	return ready && (unsigned)type < RS_LOG_TYPES &&
	       rte_log_can_log((uint32_t)types[type], level);
}

void rs_log(enum rs_log_type type, uint32_t level, const char *fmt, ...)
{
	char line[1280];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (!rs_log_on(type, level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n,
		      ".%03ldZ remsockd: %s: ", ts.tv_nsec / 1000000,
		      names[type]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	rte_log(level, (uint32_t)types[type], "%s\n", line);
}

const char *rs_log_type_name(enum rs_log_type type)
{
	return (unsigned)type < RS_LOG_TYPES ? names[type] : "?";
}

uint32_t rs_log_level(enum rs_log_type type)
{
	int lv = ready && (unsigned)type < RS_LOG_TYPES
		     ? rte_log_get_level((uint32_t)types[type])
		     : -1;

	return lv < 0 ? 0 : (uint32_t)lv;
}

int rs_log_level_set(const char *name, const char *level)
{
	static const struct {
		const char *name;
		uint32_t level;
	} levels[] = {
	    {"emerg", RTE_LOG_EMERG},	{"alert", RTE_LOG_ALERT},
	    {"crit", RTE_LOG_CRIT},	{"err", RTE_LOG_ERR},
	    {"error", RTE_LOG_ERR},	{"warning", RTE_LOG_WARNING},
	    {"notice", RTE_LOG_NOTICE}, {"info", RTE_LOG_INFO},
	    {"debug", RTE_LOG_DEBUG},
	};
	int lv = -1;
	unsigned t;

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(level, levels[i].name) == 0)
			lv = (int)levels[i].level;
	if (lv < 0 || !ready)
		return -EINVAL;
	if (strcmp(name, "*") == 0) {
		for (t = 0; t < RS_LOG_TYPES; t++)
			rte_log_set_level((uint32_t)types[t], (uint32_t)lv);
		return 0;
	}
	for (t = 0; t < RS_LOG_TYPES; t++)
		if (strcmp(name, names[t]) == 0)
			return rte_log_set_level((uint32_t)types[t],
						 (uint32_t)lv);
	return -EINVAL;
}

bool rs_log_limit_now(struct rs_log_limit *l, uint32_t per_s, uint32_t *held)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	return rs_log_limit_pass(
	    l, (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec,
	    per_s, held);
}

bool rs_log_limit_pass(struct rs_log_limit *l, uint64_t now_ns, uint32_t per_s,
		       uint32_t *held)
{
	uint64_t second = now_ns / 1000000000ull;

	if (second != l->second) {
		l->second = second;
		l->n = 0;
	}
	if (l->n >= per_s) {
		l->held++;
		return false;
	}
	l->n++;
	*held = l->held;
	l->held = 0;
	return true;
}
