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
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rs_apps.h"
#include "rs_config.h"

struct app {
	char id[RS_CONFIG_NAME_MAX];
	uint8_t secret[RS_CONFIG_VALUE_MAX]; /* zero-padded */
	size_t secretlen;
	uint64_t limit[RS_QUOTA_COUNT];
	uint64_t used[RS_QUOTA_COUNT];	  /* atomic */
	uint64_t refused[RS_QUOTA_COUNT]; /* atomic */
};

struct rs_apps {
	uint32_t napps;
	uint64_t auth_failures; /* atomic */
	struct app app[];
};

/* What an unknown app id is compared against. */
static const uint8_t dummy_secret[RS_CONFIG_VALUE_MAX];

struct rs_apps *rs_apps_create(const struct rs_config *cfg, int *err)
{
	const struct rs_config_app *c;
	struct rs_apps *apps;
	struct app *a;

	if (cfg->napps == 0) {
		if (err != NULL)
			*err = -EINVAL;
		return NULL;
	}
	apps = calloc(1, sizeof(*apps) + cfg->napps * sizeof(apps->app[0]));
	if (apps == NULL) {
		if (err != NULL)
			*err = -ENOMEM;
		return NULL;
	}
	apps->napps = cfg->napps;
	for (uint32_t i = 0; i < cfg->napps; i++) {
		c = &cfg->apps[i];
		a = &apps->app[i];
		memcpy(a->id, c->id, sizeof(a->id));
		a->secretlen = strnlen(c->secret, sizeof(c->secret));
		memcpy(a->secret, c->secret, a->secretlen);
		a->limit[RS_QUOTA_SOCKETS] = c->quota.sockets;
		a->limit[RS_QUOTA_BUFFERED_BYTES] = c->quota.buffered_bytes;
		a->limit[RS_QUOTA_PENDING_CALLS] = c->quota.pending_calls;
		a->limit[RS_QUOTA_OUTPUT_BYTES] = c->quota.output_bytes;
		a->limit[RS_QUOTA_LISTENERS] = c->quota.listeners;
		a->limit[RS_QUOTA_PARKED_BYTES] = c->quota.parked_bytes;
		a->limit[RS_QUOTA_CONTROL_CALLS] = c->quota.control_calls;
	}
	if (err != NULL)
		*err = 0;
	return apps;
}

void rs_apps_free(struct rs_apps *apps)
{
	if (apps == NULL)
		return;
	/* volatile, so that the wipe of memory about to be freed stays. */
	for (volatile uint8_t *p = (volatile uint8_t *)apps->app;
	     p < (volatile uint8_t *)(apps->app + apps->napps); p++)
		*p = 0;
	free(apps);
}

uint32_t rs_apps_count(const struct rs_apps *apps)
{
	return apps->napps;
}

const char *rs_apps_id(const struct rs_apps *apps, uint32_t app)
{
	return app < apps->napps ? apps->app[app].id : NULL;
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
	for (uint32_t i = 0; i < apps->napps; i++)
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
	const uint8_t *known = i >= 0 ? apps->app[i].secret : dummy_secret;
	size_t knownlen = i >= 0 ? apps->app[i].secretlen : 0;
	bool ok;

	if (secret == NULL)
		secretlen = 0;
	ok = secret_equal(known, knownlen, secret, secretlen);
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
	return app < apps->napps && (unsigned)q < RS_QUOTA_COUNT;
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
		if (n > a->limit[q] || cur > a->limit[q] - n) {
			__atomic_fetch_add(&a->refused[q], 1, __ATOMIC_RELAXED);
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
		   apps->app[app].limit[q];
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
	return in_range(apps, app, q) ? apps->app[app].limit[q] : 0;
}

uint64_t rs_apps_refused(const struct rs_apps *apps, uint32_t app,
			 enum rs_quota q)
{
	return in_range(apps, app, q)
		   ? __atomic_load_n(&apps->app[app].refused[q],
				     __ATOMIC_RELAXED)
		   : 0;
}
