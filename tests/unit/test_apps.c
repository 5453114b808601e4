/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Apps: authentication (right secret only; unknown ids and near misses
 * refused alike and counted), quotas at their boundary, per-app quotas,
 * one app's exhaustion leaving another untouched, charges from many
 * threads never overshooting, and a reload's changes (rs_apps_update()).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rs_apps.h"
#include "rs_config.h"

#define SECRET_A "aaaa-aaaa-aaaa-aaaa"
#define SECRET_B "bbbb+bbbb/bbbb=bbbb#b"

static const char text[] =
    "[port]\ndevargs = x\n[net]\nip = 10.1.2.3\n"
    "[apps]\nalpha = " SECRET_A "\nbeta = " SECRET_B "\n"
    "gamma = gggggggggggggggggggggggggggg\n"
    "[quotas]\nsockets = 3\nbuffered_bytes = 10000\npending_calls = 2\n"
    "beta = sockets=1, pending_calls=5\n";

static struct rs_apps *make(void)
{
	struct rs_config cfg;
	char err[512] = "";
	struct rs_apps *apps;
	int rc = 1;

	assert_int_equal(rs_config_load_buffer(&cfg, "x.ini", text,
					       strlen(text), err, sizeof(err)),
			 0);
	apps = rs_apps_create(&cfg, &rc);
	assert_non_null(apps);
	assert_int_equal(rc, 0);
	return apps;
}

static int auth(struct rs_apps *apps, const char *id, const char *secret)
{
	return rs_apps_auth(apps, id, strlen(id), secret, strlen(secret));
}

static void test_auth(void **state)
{
	struct rs_apps *apps = make();
	char longer[400];

	assert_int_equal(rs_apps_count(apps), 3);
	assert_string_equal(rs_apps_id(apps, 0), "alpha");
	assert_string_equal(rs_apps_id(apps, 2), "gamma");
	assert_null(rs_apps_id(apps, 3));

	assert_int_equal(auth(apps, "alpha", SECRET_A), 0);
	assert_int_equal(auth(apps, "beta", SECRET_B), 1);
	assert_int_equal(rs_apps_auth_failures(apps), 0);

	assert_int_equal(auth(apps, "alpha", SECRET_B), -EACCES);
	assert_int_equal(auth(apps, "beta", SECRET_A), -EACCES);
	assert_int_equal(auth(apps, "alpha", "aaaa-aaaa-aaaa-aaa"), -EACCES);
	assert_int_equal(auth(apps, "alpha", SECRET_A "a"), -EACCES);
	assert_int_equal(auth(apps, "alpha", "aaaa-aaaa-aaaa-aaab"), -EACCES);
	assert_int_equal(auth(apps, "alpha", "baaa-aaaa-aaaa-aaaa"), -EACCES);
	assert_int_equal(auth(apps, "alpha", ""), -EACCES);
	assert_int_equal(rs_apps_auth(apps, "alpha", 5, NULL, 0), -EACCES);
	/* the secret followed by NULs is not the secret */
	assert_int_equal(rs_apps_auth(apps, "alpha", 5, SECRET_A "\0\0", 21),
			 -EACCES);
	assert_int_equal(auth(apps, "alph", SECRET_A), -EACCES);
	assert_int_equal(auth(apps, "alphaa", SECRET_A), -EACCES);
	assert_int_equal(auth(apps, "ALPHA", SECRET_A), -EACCES);
	assert_int_equal(auth(apps, "nobody", ""), -EACCES);
	assert_int_equal(rs_apps_auth(apps, NULL, 0, SECRET_A, 19), -EACCES);
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(auth(apps, "alpha", longer), -EACCES);
	assert_int_equal(rs_apps_auth_failures(apps), 15);
	/* the id need not be NUL-terminated */
	assert_int_equal(
	    rs_apps_auth(apps, "gammaX", 5, "gggggggggggggggggggggggggggg", 28),
	    2);
	rs_apps_free(apps);
	rs_apps_free(NULL);
}

static void test_quota_boundary(void **state)
{
	struct rs_apps *apps = make();

	assert_int_equal(rs_apps_limit(apps, 0, RS_QUOTA_SOCKETS), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_SOCKETS, 1),
				 0);
	assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_SOCKETS, 1), -EDQUOT);
	assert_int_equal(rs_apps_used(apps, 0, RS_QUOTA_SOCKETS), 3);
	assert_int_equal(rs_apps_refused(apps, 0, RS_QUOTA_SOCKETS), 1);
	rs_apps_uncharge(apps, 0, RS_QUOTA_SOCKETS, 1);
	assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_SOCKETS, 1), 0);
	assert_int_equal(rs_apps_refused(apps, 0, RS_QUOTA_SOCKETS), 1);

	/* bytes: exactly the limit fits; one more is refused whole */
	assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_BUFFERED_BYTES, 9999),
			 0);
	assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_BUFFERED_BYTES, 2),
			 -EDQUOT);
	assert_int_equal(rs_apps_used(apps, 0, RS_QUOTA_BUFFERED_BYTES), 9999);
	assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_BUFFERED_BYTES, 1),
			 0);
	assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_BUFFERED_BYTES, 0),
			 0);
	assert_int_equal(rs_apps_used(apps, 0, RS_QUOTA_BUFFERED_BYTES), 10000);
	/* a sum that would wrap around is refused too */
	assert_int_equal(
	    rs_apps_charge(apps, 0, RS_QUOTA_BUFFERED_BYTES, UINT64_MAX),
	    -EDQUOT);
	rs_apps_uncharge(apps, 0, RS_QUOTA_BUFFERED_BYTES, 10000);
	assert_int_equal(
	    rs_apps_charge(apps, 0, RS_QUOTA_BUFFERED_BYTES, 10001), -EDQUOT);
	assert_int_equal(rs_apps_refused(apps, 0, RS_QUOTA_BUFFERED_BYTES), 3);
	assert_int_equal(rs_apps_used(apps, 0, RS_QUOTA_BUFFERED_BYTES), 0);

	/* giving back too much stops at 0 */
	assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_PENDING_CALLS, 2), 0);
	rs_apps_uncharge(apps, 0, RS_QUOTA_PENDING_CALLS, 5);
	assert_int_equal(rs_apps_used(apps, 0, RS_QUOTA_PENDING_CALLS), 0);

	assert_int_equal(rs_apps_charge(apps, 3, RS_QUOTA_SOCKETS, 1), -EINVAL);
	assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_COUNT, 1), -EINVAL);
	assert_int_equal(rs_apps_used(apps, 3, RS_QUOTA_SOCKETS), 0);
	assert_int_equal(rs_apps_limit(apps, 0, RS_QUOTA_COUNT), 0);
	rs_apps_free(apps);
}

/* beta has its own quotas; an app's exhaustion leaves the others be. */
static void test_per_app(void **state)
{
	struct rs_apps *apps = make();

	assert_int_equal(rs_apps_limit(apps, 1, RS_QUOTA_SOCKETS), 1);
	assert_int_equal(rs_apps_limit(apps, 1, RS_QUOTA_PENDING_CALLS), 5);
	assert_int_equal(rs_apps_limit(apps, 1, RS_QUOTA_BUFFERED_BYTES),
			 10000);
	assert_int_equal(rs_apps_limit(apps, 2, RS_QUOTA_SOCKETS), 3);

	assert_int_equal(rs_apps_charge(apps, 1, RS_QUOTA_SOCKETS, 1), 0);
	assert_int_equal(rs_apps_charge(apps, 1, RS_QUOTA_SOCKETS, 1), -EDQUOT);
	assert_int_equal(rs_apps_charge(apps, 2, RS_QUOTA_SOCKETS, 3), 0);
	assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_SOCKETS, 3), 0);
	assert_int_equal(rs_apps_refused(apps, 0, RS_QUOTA_SOCKETS), 0);
	assert_int_equal(rs_apps_refused(apps, 2, RS_QUOTA_SOCKETS), 0);
	assert_int_equal(rs_apps_refused(apps, 1, RS_QUOTA_SOCKETS), 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(
		    rs_apps_charge(apps, 1, RS_QUOTA_PENDING_CALLS, 1), 0);
	assert_int_equal(rs_apps_charge(apps, 1, RS_QUOTA_PENDING_CALLS, 1),
			 -EDQUOT);
	rs_apps_free(apps);
}

struct race {
	struct rs_apps *apps;
	unsigned ok;
};

static void *charger(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < 20000; i++)
		if (rs_apps_charge(r->apps, 0, RS_QUOTA_BUFFERED_BYTES, 1) == 0)
			r->ok++;
	return NULL;
}

/* Four threads charge 80,000 bytes against 10,000: exactly 10,000 fit. */
static void test_concurrent(void **state)
{
	struct rs_apps *apps = make();
	struct race r[4];
	pthread_t th[4];
	unsigned ok = 0;

	for (int i = 0; i < 4; i++) {
		r[i].apps = apps;
		r[i].ok = 0;
		assert_int_equal(pthread_create(&th[i], NULL, charger, &r[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ok += r[i].ok;
	}
	assert_int_equal(ok, 10000);
	assert_int_equal(rs_apps_used(apps, 0, RS_QUOTA_BUFFERED_BYTES), 10000);
	assert_int_equal(rs_apps_refused(apps, 0, RS_QUOTA_BUFFERED_BYTES),
			 70000);
	rs_apps_free(apps);
}

static void load(struct rs_config *cfg, const char *t)
{
	char err[512] = "";

	assert_int_equal(
	    rs_config_load_buffer(cfg, "x.ini", t, strlen(t), err, sizeof(err)),
	    0);
}

/* A reload: beta's secret and quota change, gamma goes (its number and
 * what it holds stay), delta comes after the others; use stays
 * charged, and a quota now below it refuses until enough is given back. */
static void test_update(void **state)
{
	static const char next[] =
	    "[port]\ndevargs = x\n[net]\nip = 10.1.2.3\n"
	    "[apps]\nalpha = " SECRET_A "\nbeta = new-secret-for-beta\n"
	    "delta = dddddddddddddddddddd\n"
	    "[quotas]\nsockets = 3\nbuffered_bytes = 10000\npending_calls = 2\n"
	    "beta = sockets=2\n";
	struct rs_apps *apps = make();
	struct rs_apps_changes ch;
	struct rs_config *cfg = malloc(sizeof(*cfg));

	assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_SOCKETS, 3), 0);
	assert_int_equal(rs_apps_charge(apps, 2, RS_QUOTA_SOCKETS, 1), 0);
	load(cfg, next);
	assert_int_equal(rs_apps_update(apps, cfg, &ch), 0);
	assert_int_equal(ch.added, 1);
	assert_int_equal(ch.changed, 1);
	assert_int_equal(ch.removed, 1);
	assert_int_equal(rs_apps_count(apps), 4);
	assert_string_equal(rs_apps_id(apps, 3), "delta");
	assert_int_equal(auth(apps, "beta", SECRET_B), -EACCES);
	assert_int_equal(auth(apps, "beta", "new-secret-for-beta"), 1);
	assert_int_equal(auth(apps, "delta", "dddddddddddddddddddd"), 3);
	assert_int_equal(auth(apps, "gamma", "gggggggggggggggggggggggggggg"),
			 -EACCES);
	assert_int_equal(rs_apps_used(apps, 2, RS_QUOTA_SOCKETS), 1);
	assert_int_equal(rs_apps_limit(apps, 1, RS_QUOTA_SOCKETS), 2);
	/* alpha untouched: its 3 sockets stay charged, at its limit. */
	assert_int_equal(rs_apps_charge(apps, 0, RS_QUOTA_SOCKETS, 1), -EDQUOT);
	/* The same file again changes nothing. */
	assert_int_equal(rs_apps_update(apps, cfg, &ch), 0);
	assert_int_equal(ch.added + ch.changed + ch.removed, 0);
	/* Gamma back: known again, under its old number. */
	load(cfg, text);
	assert_int_equal(rs_apps_update(apps, cfg, &ch), 0);
	assert_int_equal(ch.added, 0);
	assert_int_equal(ch.removed, 1); /* delta */
	assert_int_equal(auth(apps, "gamma", "gggggggggggggggggggggggggggg"),
			 2);
	assert_int_equal(auth(apps, "beta", SECRET_B), 1);
	free(cfg);
	rs_apps_free(apps);
}

/* More apps than the table holds, counting the removed: refused whole. */
static void test_update_full(void **state)
{
	struct rs_apps *apps = make();
	struct rs_apps_changes ch;
	struct rs_config *cfg = malloc(sizeof(*cfg));
	char *t = malloc(65536);
	int n, round;

	for (round = 0; round < 4; round++) {
		n = snprintf(t, 65536,
			     "[port]\ndevargs = x\n[net]\nip = 10.1.2.3\n"
			     "[apps]\n");
		for (int i = 0; i < RS_CONFIG_APPS_MAX; i++)
			n += snprintf(t + n, 65536 - (size_t)n,
				      "r%d_%d = secret-of-sixteen-bytes\n",
				      round, i);
		load(cfg, t);
		if (rs_apps_update(apps, cfg, &ch) < 0)
			break;
	}
	/* 3 + 64 fit in 128, 3 + 128 do not. */
	assert_int_equal(round, 1);
	assert_int_equal(rs_apps_count(apps), 3 + RS_CONFIG_APPS_MAX);
	assert_int_equal(auth(apps, "r0_5", "secret-of-sixteen-bytes"), 8);
	free(t);
	free(cfg);
	rs_apps_free(apps);
}

static void test_default_demo(void **state)
{
	struct rs_config cfg;
	struct rs_apps *apps;
	int err = 1;

	assert_int_equal(rs_config_load_default(&cfg, NULL, 0), 0);
	apps = rs_apps_create(&cfg, &err);
	assert_non_null(apps);
	assert_int_equal(auth(apps, "demo", "demo-secret-not-for-production"),
			 0);
	assert_int_equal(rs_apps_limit(apps, 0, RS_QUOTA_SOCKETS),
			 cfg.quotas.sockets);
	rs_apps_free(apps);

	cfg.napps = 0;
	assert_null(rs_apps_create(&cfg, &err));
	assert_int_equal(err, -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auth),
	    cmocka_unit_test(test_quota_boundary),
	    cmocka_unit_test(test_per_app),
	    cmocka_unit_test(test_concurrent),
	    cmocka_unit_test(test_default_demo),
	    cmocka_unit_test(test_update),
	    cmocka_unit_test(test_update_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
