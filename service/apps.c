/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Apps, their secrets and their quotas.
 *
 * Secrets are kept zero-padded to RS_CONFIG_VALUE_MAX bytes and every
 * comparison runs over all of them, whatever the lengths: only whether
 * the two are equal comes out.  An app id is not a secret, but an unknown
 * one is still compared against a dummy so that it takes as long as a
 * known one with a wrong secret.
 *
 * Quota use is kept per app and per quota in counters updated with
 * compare-and-swap: a charge either fits entirely or is refused, and a
 * refused charge changes nothing but its refusal counter.
 *
 * A reload (rs_apps_update(), the control thread) changes apps while the
 * workers use them.  The table has room for every app a configuration
 * may name, plus those removed since the start (an app keeps its number
 * for good: descriptors and connections carry it); an app is appended
 * whole before the count that shows it is published.  A secret has two
 * slots: the new one is written into the slot not in use, then made
 * current; the caller lets every worker end its round before the next
 * reload may write the old slot again.  Limits are single words, stored
 * and read atomically.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_apps.h"
#include "rs_config.h"
#include "rs_log.h"

struct app {
	char id[RS_CONFIG_NAME_MAX];
	uint8_t secret[2][RS_CONFIG_VALUE_MAX]; /* zero-padded */
	size_t secretlen[2];
	unsigned cur;			  /* the secret slot in use (atomic) */
	bool removed;			  /* by a reload: no authentication */
	uint64_t limit[RS_QUOTA_COUNT];	  /* atomic */
	uint64_t used[RS_QUOTA_COUNT];	  /* atomic */
	uint64_t refused[RS_QUOTA_COUNT]; /* atomic */
};

struct rs_apps {
	uint32_t napps;		/* atomic: published once an app is whole */
	uint64_t auth_failures; /* atomic */
	struct app app[];
};

const char *rs_apps_quota_name(enum rs_quota q)
{
	static const char *const names[RS_QUOTA_COUNT] = {
	    [RS_QUOTA_SOCKETS] = "sockets",
	    [RS_QUOTA_BUFFERED_BYTES] = "buffered_bytes",
	    [RS_QUOTA_PENDING_CALLS] = "pending_calls",
	    [RS_QUOTA_OUTPUT_BYTES] = "output_bytes",
	    [RS_QUOTA_LISTENERS] = "listeners",
	    [RS_QUOTA_PARKED_BYTES] = "parked_bytes",
	    [RS_QUOTA_CONTROL_CALLS] = "control_calls",
	};

	return (unsigned)q < RS_QUOTA_COUNT ? names[q] : "?";
}

void rs_apps_quota_counters(const struct rs_apps *apps, uint32_t app,
			    void (*emit)(void *arg, const char *name,
					 uint64_t value),
			    void *arg)
{
	char name[64];

	for (unsigned q = 0; q < RS_QUOTA_COUNT; q++) {
		snprintf(name, sizeof(name), "quota.%s.used",
			 rs_apps_quota_name(q));
		emit(arg, name, rs_apps_used(apps, app, q));
		snprintf(name, sizeof(name), "quota.%s.limit",
			 rs_apps_quota_name(q));
		emit(arg, name, rs_apps_limit(apps, app, q));
		snprintf(name, sizeof(name), "quota.%s.refused",
			 rs_apps_quota_name(q));
		emit(arg, name, rs_apps_refused(apps, app, q));
	}
}

/* What an unknown app id is compared against. */
static const uint8_t dummy_secret[RS_CONFIG_VALUE_MAX];

static int find_app(const struct rs_apps *apps, const char *id, size_t idlen);

/* An app's secret into its spare slot, made current. */
static void secret_set(struct app *a, const char *secret)
{
	unsigned next = __atomic_load_n(&a->cur, __ATOMIC_RELAXED) ^ 1;
	size_t len = strnlen(secret, RS_CONFIG_VALUE_MAX);

	memset(a->secret[next], 0, sizeof(a->secret[next]));
	memcpy(a->secret[next], secret, len);
	a->secretlen[next] = len;
	__atomic_store_n(&a->cur, next, __ATOMIC_RELEASE);
}

static bool secret_is(const struct app *a, const char *secret)
{
	unsigned cur = __atomic_load_n(&a->cur, __ATOMIC_ACQUIRE);
	size_t len = strnlen(secret, RS_CONFIG_VALUE_MAX);

	return len == a->secretlen[cur] &&
	       memcmp(a->secret[cur], secret, len) == 0;
}

static void limits_set(struct app *a, const struct rs_config_app *c)
{
	const uint64_t l[RS_QUOTA_COUNT] = {
	    [RS_QUOTA_SOCKETS] = c->quota.sockets,
	    [RS_QUOTA_BUFFERED_BYTES] = c->quota.buffered_bytes,
	    [RS_QUOTA_PENDING_CALLS] = c->quota.pending_calls,
	    [RS_QUOTA_OUTPUT_BYTES] = c->quota.output_bytes,
	    [RS_QUOTA_LISTENERS] = c->quota.listeners,
	    [RS_QUOTA_PARKED_BYTES] = c->quota.parked_bytes,
	    [RS_QUOTA_CONTROL_CALLS] = c->quota.control_calls,
	};

	for (unsigned q = 0; q < RS_QUOTA_COUNT; q++)
		__atomic_store_n(&a->limit[q], l[q], __ATOMIC_RELAXED);
}

static bool limits_are(const struct app *a, const struct rs_config_app *c)
{
	struct app b = {0};

	limits_set(&b, c);
	return memcmp(a->limit, b.limit, sizeof(b.limit)) == 0;
}

static uint64_t limit_of(const struct app *a, enum rs_quota q)
{
	return __atomic_load_n(&a->limit[q], __ATOMIC_RELAXED);
}

static uint32_t count_of(const struct rs_apps *apps)
{
	return __atomic_load_n(&apps->napps, __ATOMIC_ACQUIRE);
}

/* Append app @p c (the table has room): whole before it is counted. */
static void app_add(struct rs_apps *apps, const struct rs_config_app *c)
{
	struct app *a = &apps->app[apps->napps];

	memcpy(a->id, c->id, sizeof(a->id));
	secret_set(a, c->secret);
	limits_set(a, c);
	__atomic_store_n(&apps->napps, apps->napps + 1, __ATOMIC_RELEASE);
}

struct rs_apps *rs_apps_create(const struct rs_config *cfg, int *err)
{
	struct rs_apps *apps;

	if (cfg->napps == 0) {
		if (err != NULL)
			*err = -EINVAL;
		return NULL;
	}
	apps = calloc(1, sizeof(*apps) + RS_APPS_SLOTS * sizeof(apps->app[0]));
	if (apps == NULL) {
		if (err != NULL)
			*err = -ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < cfg->napps; i++)
		app_add(apps, &cfg->apps[i]);
	if (err != NULL)
		*err = 0;
	return apps;
}

int rs_apps_update(struct rs_apps *apps, const struct rs_config *cfg,
		   struct rs_apps_changes *ch)
{
	uint32_t n = apps->napps, added = 0;
	const struct rs_config_app *c;
	struct app *a;
	int i;

	memset(ch, 0, sizeof(*ch));
	for (uint32_t k = 0; k < cfg->napps; k++)
		if (find_app(apps, cfg->apps[k].id,
			     strnlen(cfg->apps[k].id, RS_CONFIG_NAME_MAX)) < 0)
			added++;
	if (n + added > RS_APPS_SLOTS)
		return -ENOSPC; /* nothing changed */
	for (uint32_t k = 0; k < cfg->napps; k++) {
		c = &cfg->apps[k];
		i = find_app(apps, c->id, strnlen(c->id, RS_CONFIG_NAME_MAX));
		if (i < 0) {
			app_add(apps, c);
			ch->added++;
			continue;
		}
		a = &apps->app[i];
		if (!secret_is(a, c->secret) || !limits_are(a, c) ||
		    a->removed) {
			if (!secret_is(a, c->secret))
				secret_set(a, c->secret);
			limits_set(a, c);
			__atomic_store_n(&a->removed, false, __ATOMIC_RELEASE);
			ch->changed++;
		}
	}
	for (uint32_t k = 0; k < n; k++) {
		a = &apps->app[k];
		bool kept = false;

		for (uint32_t j = 0; j < cfg->napps && !kept; j++)
			kept = strncmp(a->id, cfg->apps[j].id,
				       RS_CONFIG_NAME_MAX) == 0;
		if (!kept && !a->removed) {
			__atomic_store_n(&a->removed, true, __ATOMIC_RELEASE);
			ch->removed++;
		}
	}
	return 0;
}

void rs_apps_free(struct rs_apps *apps)
{
	if (apps == NULL)
		return;
	/* volatile, so that the wipe of memory about to be freed stays. */
	for (volatile uint8_t *p = (volatile uint8_t *)apps->app;
	     p < (volatile uint8_t *)(apps->app + RS_APPS_SLOTS); p++)
		*p = 0;
	free(apps);
}

uint32_t rs_apps_count(const struct rs_apps *apps)
{
	return count_of(apps);
}

const char *rs_apps_id(const struct rs_apps *apps, uint32_t app)
{
	return app < count_of(apps) ? apps->app[app].id : NULL;
}

/* Equal, in time that depends only on @p blen's relation to the buffer. */
static bool secret_equal(const uint8_t known[RS_CONFIG_VALUE_MAX],
			 size_t knownlen, const char *b, size_t blen)
{
	size_t diff = knownlen ^ blen;
	uint8_t y;

	for (size_t i = 0; i < RS_CONFIG_VALUE_MAX; i++) {
		y = i < blen ? (uint8_t)b[i] : 0;
		diff |= (size_t)(known[i] ^ y);
	}
	return diff == 0;
}

static int find_app(const struct rs_apps *apps, const char *id, size_t idlen)
{
	uint32_t n = count_of(apps);

	for (uint32_t i = 0; i < n; i++)
		if (strnlen(apps->app[i].id, sizeof(apps->app[i].id)) ==
			idlen &&
		    memcmp(apps->app[i].id, id, idlen) == 0)
			return (int)i;
	return -1;
}

int rs_apps_find(const struct rs_apps *apps, const char *id, size_t idlen)
{
	int i = id != NULL ? find_app(apps, id, idlen) : -1;

	return i >= 0 ? i : -ENOENT;
}

int rs_apps_auth(struct rs_apps *apps, const char *id, size_t idlen,
		 const char *secret, size_t secretlen)
{
	int i = id != NULL ? find_app(apps, id, idlen) : -1;
	const struct app *a = i >= 0 ? &apps->app[i] : NULL;
	unsigned cur =
	    a != NULL ? __atomic_load_n(&a->cur, __ATOMIC_ACQUIRE) : 0;
	const uint8_t *known = a != NULL ? a->secret[cur] : dummy_secret;
	size_t knownlen = a != NULL ? a->secretlen[cur] : 0;
	bool ok;

	if (secret == NULL)
		secretlen = 0;
	ok = secret_equal(known, knownlen, secret, secretlen);
	/* A removed app is compared all the same: timing tells nothing. */
	if (a != NULL && __atomic_load_n(&a->removed, __ATOMIC_ACQUIRE))
		ok = false;
	if (i < 0 || !ok) {
		__atomic_fetch_add(&apps->auth_failures, 1, __ATOMIC_RELAXED);
		return -EACCES;
	}
	return i;
}

uint64_t rs_apps_auth_failures(const struct rs_apps *apps)
{
	return __atomic_load_n(&apps->auth_failures, __ATOMIC_RELAXED);
}

static bool in_range(const struct rs_apps *apps, uint32_t app, enum rs_quota q)
{
	return app < count_of(apps) && (unsigned)q < RS_QUOTA_COUNT;
}

/* A refusal, logged (remsock.quota): an app can cause them at will, so
 * each thread logs at most this many a second. */
#define QUOTA_LOG_PER_S 10

static void refusal_log(const struct rs_apps *apps, uint32_t app,
			enum rs_quota q, uint64_t n)
{
	static __thread struct rs_log_limit limit;
	uint32_t held;

	if (rs_log_on(RS_LOG_QUOTA, RTE_LOG_NOTICE) &&
	    rs_log_limit_now(&limit, QUOTA_LOG_PER_S, &held))
		rs_log(RS_LOG_QUOTA, RTE_LOG_NOTICE,
		       "app %s: %s quota (%llu) refused %llu more (%u more "
		       "held back before this)",
		       apps->app[app].id, rs_apps_quota_name(q),
		       (unsigned long long)limit_of(&apps->app[app], q),
		       (unsigned long long)n, held);
}

int rs_apps_charge(struct rs_apps *apps, uint32_t app, enum rs_quota q,
		   uint64_t n)
{
	struct app *a;
	uint64_t cur;

	if (!in_range(apps, app, q))
		return -EINVAL;
	a = &apps->app[app];
	cur = __atomic_load_n(&a->used[q], __ATOMIC_RELAXED);
	do {
		if (n > limit_of(a, q) || cur > limit_of(a, q) - n) {
			__atomic_fetch_add(&a->refused[q], 1, __ATOMIC_RELAXED);
			refusal_log(apps, app, q, n);
			return -EDQUOT;
		}
	} while (!__atomic_compare_exchange_n(&a->used[q], &cur, cur + n, true,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return 0;
}

void rs_apps_charge_over(struct rs_apps *apps, uint32_t app, enum rs_quota q,
			 uint64_t n)
{
	if (in_range(apps, app, q))
		__atomic_fetch_add(&apps->app[app].used[q], n,
				   __ATOMIC_RELAXED);
}

bool rs_apps_over(const struct rs_apps *apps, uint32_t app, enum rs_quota q)
{
	return in_range(apps, app, q) &&
	       __atomic_load_n(&apps->app[app].used[q], __ATOMIC_RELAXED) >=
		   limit_of(&apps->app[app], q);
}

void rs_apps_uncharge(struct rs_apps *apps, uint32_t app, enum rs_quota q,
		      uint64_t n)
{
	struct app *a;
	uint64_t cur;

	if (!in_range(apps, app, q))
		return;
	a = &apps->app[app];
	cur = __atomic_load_n(&a->used[q], __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&a->used[q], &cur,
					    cur > n ? cur - n : 0, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

uint64_t rs_apps_used(const struct rs_apps *apps, uint32_t app, enum rs_quota q)
{
	return in_range(apps, app, q)
		   ? __atomic_load_n(&apps->app[app].used[q], __ATOMIC_RELAXED)
		   : 0;
}

uint64_t rs_apps_limit(const struct rs_apps *apps, uint32_t app,
		       enum rs_quota q)
{
	return in_range(apps, app, q) ? limit_of(&apps->app[app], q) : 0;
}

uint64_t rs_apps_refused(const struct rs_apps *apps, uint32_t app,
			 enum rs_quota q)
{
	return in_range(apps, app, q)
		   ? __atomic_load_n(&apps->app[app].refused[q],
				     __ATOMIC_RELAXED)
		   : 0;
}
