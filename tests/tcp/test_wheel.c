/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Timer wheel: a timer fires in the first run whose clock has reached its
 * deadline (rounded up to a tick), never before; disarming works from
 * anywhere, including a callback of the same slot; the next-deadline
 * hint is never later than the earliest deadline; deadlines beyond the
 * wheel's range still fire on time.  A randomized run checks all of it
 * against a plain list of deadlines.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_pvt.h"

#define TICK 1000000ULL /* 1 ms */
#define N 400

struct tt {
	struct rs_tcp_timer t;
	uint64_t deadline;
	uint64_t fired_at;
	int fired;
};

static struct tt T[N];
static struct rs_tcp_wheel W;
static uint64_t run_now;
static struct tt *kill_in_cb; /* disarmed by the next callback */

static void fire(void *ctx, struct rs_tcp_timer *t)
{
	struct tt *x = (struct tt *)(void *)t;

	(void)ctx;
	assert_false(rs_tcp_timer_armed(t));
	x->fired++;
	x->fired_at = run_now;
	if (kill_in_cb) {
		rs_tcp_wheel_del(&W, &kill_in_cb->t);
		kill_in_cb = NULL;
	}
}

static uint64_t due(uint64_t deadline)
{
	return (deadline + TICK - 1) / TICK * TICK;
}

static void setup_all(void)
{
	memset(T, 0, sizeof(T));
	rs_tcp_wheel_init(&W, TICK);
	for (int i = 0; i < N; i++)
		rs_tcp_timer_init(&T[i].t, 0);
	run_now = 0;
	kill_in_cb = NULL;
}

static unsigned run(uint64_t now)
{
	run_now = now;
	return rs_tcp_wheel_run(&W, now, fire, NULL);
}

static void test_fires_on_deadline_not_before(void **state)
{
	(void)state;
	setup_all();
	rs_tcp_wheel_add(&W, &T[0].t, 0, 10 * TICK);
	assert_int_equal(rs_tcp_wheel_next(&W), 10 * TICK);
	assert_int_equal(run(10 * TICK - 1), 0);
	assert_int_equal(T[0].fired, 0);
	assert_int_equal(run(10 * TICK), 1);
	assert_int_equal(T[0].fired, 1);
	assert_int_equal(rs_tcp_wheel_next(&W), UINT64_MAX);
	/* A deadline inside a tick rounds up: never early. */
	rs_tcp_wheel_add(&W, &T[1].t, 10 * TICK, 12 * TICK + 1);
	assert_int_equal(run(13 * TICK - 1), 0);
	assert_int_equal(run(13 * TICK), 1);
}

static void test_cancel_and_rearm(void **state)
{
	(void)state;
	setup_all();
	rs_tcp_wheel_add(&W, &T[0].t, 0, 5 * TICK);
	rs_tcp_wheel_add(&W, &T[1].t, 0, 5 * TICK);
	rs_tcp_wheel_del(&W, &T[0].t);
	rs_tcp_wheel_del(&W, &T[0].t);		       /* twice: harmless */
	rs_tcp_wheel_add(&W, &T[1].t, 0, 7000 * TICK); /* re-arm: moves */
	assert_int_equal(run(6999 * TICK), 0);
	assert_int_equal(run(7000 * TICK), 1);
	assert_int_equal(T[0].fired, 0);
	assert_int_equal(T[1].fired, 1);
	assert_int_equal(W.count, 0);
}

static void test_cancel_from_callback(void **state)
{
	(void)state;
	setup_all();
	rs_tcp_wheel_add(&W, &T[0].t, 0, 3 * TICK);
	rs_tcp_wheel_add(&W, &T[1].t, 0, 3 * TICK);
	rs_tcp_wheel_add(&W, &T[2].t, 0, 3 * TICK);
	kill_in_cb = &T[2]; /* same slot, still to come */
	assert_int_equal(run(3 * TICK), 2);
	assert_int_equal(T[0].fired, 1);
	assert_int_equal(T[1].fired, 1);
	assert_int_equal(T[2].fired, 0);
	assert_int_equal(W.count, 0);
}

static void test_far_beyond_range(void **state)
{
	uint64_t range = 1ULL << 36; /* ticks */
	uint64_t far = 2 * range * TICK, mid = (range + range / 2) * TICK;

	(void)state;
	setup_all();
	rs_tcp_wheel_add(&W, &T[0].t, 0, far);
	rs_tcp_wheel_add(&W, &T[1].t, 0, mid + 3 * TICK);
	assert_true(rs_tcp_wheel_next(&W) <= mid);
	assert_int_equal(run(mid + 2 * TICK), 0);
	assert_int_equal(run(mid + 3 * TICK), 1);
	assert_int_equal(T[1].fired_at, mid + 3 * TICK);
	assert_int_equal(run(far - TICK), 0);
	assert_int_equal(run(far), 1);
	assert_int_equal(T[0].fired_at, far);
}

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 17;
}

/* Deadlines spread over every level; clock steps of every size. */
static uint64_t rnd_delay(uint64_t *s)
{
	static const uint64_t span[] = {50, 5000, 300000, 20000000, 2000000000};

	return rnd(s) % (span[rnd(s) % 5] * TICK) + 1;
}

static void check_fired(uint64_t prev, uint64_t now)
{
	for (int i = 0; i < N; i++) {
		if (rs_tcp_timer_armed(&T[i].t)) {
			assert_true(due(T[i].deadline) > now);
			continue;
		}
		if (T[i].fired && T[i].fired_at == now) {
			assert_true(due(T[i].deadline) <= now);
			assert_true(due(T[i].deadline) > prev);
		}
	}
}

static void test_random_against_model(void **state)
{
	uint64_t seed = 42, now = 0;

	(void)state;
	setup_all();
	for (int step = 0; step < 20000; step++) {
		struct tt *x = &T[rnd(&seed) % N];
		uint64_t prev = now, hint;

		if (rnd(&seed) % 4 == 0) {
			rs_tcp_wheel_del(&W, &x->t);
		} else {
			x->deadline = now + rnd_delay(&seed);
			x->fired = 0;
			rs_tcp_wheel_add(&W, &x->t, now, x->deadline);
		}
		hint = rs_tcp_wheel_next(&W);
		for (int i = 0; i < N; i++)
			if (rs_tcp_timer_armed(&T[i].t))
				assert_true(hint <= due(T[i].deadline));
		now += rnd(&seed) % 3 == 0 ? hint - now
					   : rnd(&seed) % (2000 * TICK);
		if (hint == UINT64_MAX)
			now = prev + TICK;
		run(now);
		check_fired(prev, now);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fires_on_deadline_not_before),
	    cmocka_unit_test(test_cancel_and_rearm),
	    cmocka_unit_test(test_cancel_from_callback),
	    cmocka_unit_test(test_far_beyond_range),
	    cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
