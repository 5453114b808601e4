/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Wrap-safe sequence comparisons (RFC 9293 §3.4): every macro around
 * 0, around 2^31 and across 2^32.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>

#include "rs_tcp.h"

static void test_order_across_wrap(void **state)
{
	(void)state;
	assert_true(RS_SEQ_LT(0xfffffff0u, 0x10u));
	assert_true(RS_SEQ_GT(0x10u, 0xfffffff0u));
	assert_true(RS_SEQ_LEQ(5u, 5u));
	assert_true(RS_SEQ_GEQ(5u, 5u));
	assert_false(RS_SEQ_LT(5u, 5u));
	assert_false(RS_SEQ_GT(5u, 5u));
	assert_true(RS_SEQ_LT(0xffffffffu, 0u));
	assert_true(RS_SEQ_LEQ(0xffffffffu, 0u));
	assert_false(RS_SEQ_GEQ(0xffffffffu, 0u));
}

static void test_half_space(void **state)
{
	(void)state;
	/* Less than 2^31 ahead is "greater"; 2^31 + 1 ahead is behind. */
	assert_true(RS_SEQ_GT(0x7fffffffu, 0u));
	assert_true(RS_SEQ_LT(0x80000001u, 0u));
	assert_true(RS_SEQ_GT(0x10u + 0x7fffffffu, 0x10u));
}

static void test_in_window(void **state)
{
	(void)state;
	assert_true(RS_SEQ_IN(5u, 5u, 6u));
	assert_false(RS_SEQ_IN(6u, 5u, 6u));
	assert_false(RS_SEQ_IN(4u, 5u, 6u));
	assert_false(RS_SEQ_IN(5u, 5u, 5u)); /* empty window */
	assert_true(RS_SEQ_IN(0xfffffffeu, 0xfffffff0u, 0x10u));
	assert_true(RS_SEQ_IN(0x0fu, 0xfffffff0u, 0x10u));
	assert_false(RS_SEQ_IN(0x10u, 0xfffffff0u, 0x10u));
	assert_false(RS_SEQ_IN(0xffffffefu, 0xfffffff0u, 0x10u));
}

static void test_min_max(void **state)
{
	(void)state;
	assert_int_equal(RS_SEQ_MAX(0xfffffff0u, 0x10u), 0x10u);
	assert_int_equal(RS_SEQ_MIN(0xfffffff0u, 0x10u), 0xfffffff0u);
	assert_int_equal(RS_SEQ_MAX(7u, 7u), 7u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_across_wrap),
	    cmocka_unit_test(test_half_space),
	    cmocka_unit_test(test_in_window),
	    cmocka_unit_test(test_min_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
