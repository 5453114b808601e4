/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Apps: who may use the service ([apps]), and how much of it ([quotas]).
 *
 * Apps are numbered 0..rs_apps_count()-1 in the order of [apps]; that
 * number is what the descriptor table binds descriptors to.
 *
 * Authentication compares secrets in constant time, and an unknown app id
 * costs the same comparison as a wrong secret, so timing tells neither.
 *
 * Each app has seven quotas: open sockets, bytes buffered in its sockets'
 * rings, calls parked at once and the request bytes they keep, bytes of
 * replies waiting to be sent, listening sockets (the stack's listener
 * slots are few), and calls at the control thread at once (its message
 * entries are shared by every app).
 * rs_apps_charge_over() takes an amount even past the limit, for what
 * cannot be refused (a reply already made); rs_apps_over() then says to
 * take no more work.  rs_apps_charge() takes an amount from
 * a quota, or refuses all of it with -EDQUOT and counts the refusal;
 * rs_apps_uncharge() gives it back.  The counters are atomic, so workers
 * and the control thread may charge the same app at once.
 */
#ifndef RS_APPS_H
#define RS_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rs_config.h"

struct rs_config;

/** The quotas of an app. */
enum rs_quota {
	RS_QUOTA_SOCKETS,	 /**< open descriptors */
	RS_QUOTA_BUFFERED_BYTES, /**< bytes in its sockets' rings */
	RS_QUOTA_PENDING_CALLS,	 /**< calls parked at once */
	RS_QUOTA_OUTPUT_BYTES,	 /**< reply bytes waiting for the client */
	RS_QUOTA_LISTENERS,	 /**< listening sockets */
	RS_QUOTA_PARKED_BYTES,	 /**< request bytes parked calls keep */
	RS_QUOTA_CONTROL_CALLS,	 /**< calls at the control thread */
	RS_QUOTA_COUNT
};

/** The apps of a configuration (opaque). */
struct rs_apps;

/**
 * Take the apps and their quotas from a validated configuration.
 *
 * @param err  receives 0, -EINVAL (no app) or -ENOMEM; may be NULL.
 * @return the apps, or NULL.
 */
struct rs_apps *rs_apps_create(const struct rs_config *cfg, int *err);

/** A quota's name in counters and messages ("sockets", "output_bytes"
 *  ...), as [quotas] spells its key. */
const char *rs_apps_quota_name(enum rs_quota q);

/** Report app @p app's quotas to @p emit: quota.NAME.used, .limit and
 *  .refused for each (what remsock.Stats and GET /metrics show). */
void rs_apps_quota_counters(const struct rs_apps *apps, uint32_t app,
			    void (*emit)(void *arg, const char *name,
					 uint64_t value),
			    void *arg);

/** Apps a table holds at most: those a configuration may name, and as
 *  many again removed by reloads (an app keeps its number for good). */
#define RS_APPS_SLOTS (2 * RS_CONFIG_APPS_MAX)

/** What rs_apps_update() did. */
struct rs_apps_changes {
	uint32_t added, changed, removed;
};

/**
 * Put a reloaded configuration's [apps] and [quotas] in force (the
 * control thread; workers go on using the table): new apps are added,
 * apps whose secret or quotas differ take the new ones (what they hold
 * stays charged; a quota now below its use refuses new charges until
 * enough is given back), apps no longer named can no longer
 * authenticate (their connections and sockets stay until closed).
 * Every worker must end its round before the next call.
 *
 * @return 0, or -ENOSPC (more apps than RS_APPS_SLOTS, counting the
 *   removed: nothing changed).
 */
int rs_apps_update(struct rs_apps *apps, const struct rs_config *cfg,
		   struct rs_apps_changes *ch);

/** Free the apps (and wipe their secrets); NULL is ignored. */
void rs_apps_free(struct rs_apps *apps);

/** Number of apps. */
uint32_t rs_apps_count(const struct rs_apps *apps);

/** An app's id, NUL-terminated; NULL for a number out of range. */
const char *rs_apps_id(const struct rs_apps *apps, uint32_t app);

/**
 * Authenticate.
 *
 * @param id          app id (need not be NUL-terminated).
 * @param idlen       bytes of @p id.
 * @param secret      its secret (need not be NUL-terminated).
 * @param secretlen   bytes of @p secret.
 * @return the app's number (>= 0), or -EACCES for an unknown app or a
 *   wrong secret, alike.
 */
int rs_apps_auth(struct rs_apps *apps, const char *id, size_t idlen,
		 const char *secret, size_t secretlen);

/**
 * The number of the app named @p id (@p idlen bytes, need not be
 * NUL-terminated), without checking anything else: to rate the attempts
 * at its secret before trying one.
 *
 * @return the app's number (>= 0), or -ENOENT.
 */
int rs_apps_find(const struct rs_apps *apps, const char *id, size_t idlen);

/** Failed rs_apps_auth() calls so far. */
uint64_t rs_apps_auth_failures(const struct rs_apps *apps);

/**
 * Take @p n from an app's quota.
 *
 * @return 0; -EDQUOT when the quota cannot hold @p n more (nothing is
 *   taken, and the refusal is counted); -EINVAL for an app or quota out of
 *   range.
 */
int rs_apps_charge(struct rs_apps *apps, uint32_t app, enum rs_quota q,
		   uint64_t n);

/** Take @p n from an app's quota even past its limit (an app or quota
 *  out of range is ignored). */
void rs_apps_charge_over(struct rs_apps *apps, uint32_t app, enum rs_quota q,
			 uint64_t n);

/** Whether an app's use of a quota has reached its limit. */
bool rs_apps_over(const struct rs_apps *apps, uint32_t app, enum rs_quota q);

/**
 * Give back @p n taken by rs_apps_charge().  Giving back more than was
 * taken leaves the use at 0 (and is a caller's bug).
 */
void rs_apps_uncharge(struct rs_apps *apps, uint32_t app, enum rs_quota q,
		      uint64_t n);

/** How much of a quota is in use (0 when out of range). */
uint64_t rs_apps_used(const struct rs_apps *apps, uint32_t app,
		      enum rs_quota q);

/** A quota's limit (0 when out of range). */
uint64_t rs_apps_limit(const struct rs_apps *apps, uint32_t app,
		       enum rs_quota q);

/** Charges refused with -EDQUOT so far (0 when out of range). */
uint64_t rs_apps_refused(const struct rs_apps *apps, uint32_t app,
			 enum rs_quota q);

#endif /* RS_APPS_H */
