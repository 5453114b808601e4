/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rs_arena: alignment, growth, reuse after reset, the keep budget, the
 * limit, and protobuf-c decoding into the arena.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "remote_socket.pb-c.h"
#include "rs_arena.h"

#define ALIGN _Alignof(max_align_t)

static struct rs_arena *arena_new(size_t first, size_t keep, size_t limit)
{
	struct rs_arena_conf conf = {
	    .first_size = first, .keep = keep, .limit = limit};
	struct rs_arena *a = rs_arena_create(&conf);

	assert_non_null(a);
	return a;
}

static struct rs_arena_stats stats_of(const struct rs_arena *a)
{
	struct rs_arena_stats st;

	rs_arena_stats_get(a, &st);
	return st;
}

static void test_alignment(void **state)
{
	static const size_t sizes[] = {1, 3, 0, 7, 16, 17, 31, 100, 1, 250};
	struct rs_arena *a = arena_new(256, 0, 0);
	size_t i, round;

	/* Two rounds so that the sizes also straddle a block boundary. */
	for (round = 0; round < 2; round++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			void *p = rs_arena_alloc(a, sizes[i]);

			assert_non_null(p);
			assert_int_equal((uintptr_t)p % ALIGN, 0);
		}
	}
	assert_true(stats_of(a).blocks > 1);
	rs_arena_destroy(a);
}

static void test_caller_memory_misaligned(void **state)
{
	static unsigned char mem[1024 + 1];
	struct rs_arena_conf conf = {.first = mem + 1, .first_size = 1024};
	struct rs_arena *a = rs_arena_create(&conf);
	unsigned char *p;

	assert_non_null(a);
	p = rs_arena_alloc(a, 10);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % ALIGN, 0);
	assert_true(p > mem && p + 10 <= mem + sizeof(mem));
	assert_int_equal(stats_of(a).grows, 0);
	/* Freeing static memory here would crash or trip ASan. */
	rs_arena_destroy(a);
}

static void test_create_rejects(void **state)
{
	unsigned char tiny[8];
	struct rs_arena_conf small = {.first = tiny,
				      .first_size = sizeof(tiny)};
	struct rs_arena_conf over = {.first_size = 4096, .limit = 1024};
	/* Caller memory of unknown size must not be taken as the default. */
	struct rs_arena_conf unsized = {.first = tiny};

	errno = 0;
	assert_null(rs_arena_create(&small));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(rs_arena_create(&over));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(rs_arena_create(&unsized));
	assert_int_equal(errno, EINVAL);
}

/* Allocations never overlap, within a block or across blocks. */
static void test_growth_keeps_contents(void **state)
{
	struct rs_arena *a = arena_new(256, 0, 0);
	unsigned char *p[64];
	size_t i, j;

	for (i = 0; i < 64; i++) {
		p[i] = rs_arena_alloc(a, 40 + i);
		assert_non_null(p[i]);
		memset(p[i], (int)i, 40 + i);
	}
	for (i = 0; i < 64; i++)
		for (j = 0; j < 40 + i; j++)
			assert_int_equal(p[i][j], i);
	assert_true(stats_of(a).blocks >= 2);
	assert_int_equal(stats_of(a).grows, stats_of(a).blocks - 1);
	rs_arena_destroy(a);
}

static void test_request_larger_than_any_block(void **state)
{
	struct rs_arena *a = arena_new(256, 0, 0);
	unsigned char *big = rs_arena_alloc(a, 3 * RS_ARENA_GROW_MAX);

	assert_non_null(big);
	memset(big, 0xab, 3 * RS_ARENA_GROW_MAX);
	assert_true(stats_of(a).held >= 3 * RS_ARENA_GROW_MAX);
	rs_arena_destroy(a);
}

static void test_reset_reuses_first_block(void **state)
{
	struct rs_arena *a = arena_new(1024, 0, 0);
	void *first = rs_arena_alloc(a, 100);

	rs_arena_alloc(a, 200);
	assert_int_equal(stats_of(a).used, 112 + 208);
	rs_arena_reset(a);
	assert_int_equal(stats_of(a).used, 0);
	assert_int_equal(stats_of(a).high_water, 112 + 208);
	assert_ptr_equal(rs_arena_alloc(a, 8), first);
	rs_arena_destroy(a);
}

/* A workload that needs more than the first block: with a keep budget that
 * covers it, repeating it after a reset allocates no new block. */
static void test_steady_state_no_growth(void **state)
{
	struct rs_arena *a = arena_new(512, 64 * 1024, 0);
	uint64_t grows;
	int call, i;

	for (i = 0; i < 20; i++)
		assert_non_null(rs_arena_alloc(a, 100));
	grows = stats_of(a).grows;
	assert_true(grows > 0);
	for (call = 0; call < 100; call++) {
		rs_arena_reset(a);
		for (i = 0; i < 20; i++)
			assert_non_null(rs_arena_alloc(a, 100));
	}
	assert_int_equal(stats_of(a).grows, grows);
	rs_arena_destroy(a);
}

static void test_reset_frees_beyond_keep(void **state)
{
	struct rs_arena *a = arena_new(1024, 0, 0);
	struct rs_arena_stats st;

	assert_non_null(rs_arena_alloc(a, 100 * 1024));
	assert_int_equal(stats_of(a).blocks, 2);
	rs_arena_reset(a);
	st = stats_of(a);
	assert_int_equal(st.blocks, 1);
	assert_int_equal(st.held, 1024);
	rs_arena_destroy(a);
}

static void test_reset_keeps_within_budget(void **state)
{
	struct rs_arena *a = arena_new(1024, 8 * 1024, 0);

	/* A 2 KiB block (kept: 1 KiB + 2 KiB <= 8 KiB), then a 64 KiB one
	 * (over the budget, freed). */
	assert_non_null(rs_arena_alloc(a, 900));
	assert_non_null(rs_arena_alloc(a, 2 * 1024));
	assert_non_null(rs_arena_alloc(a, 64 * 1024));
	assert_int_equal(stats_of(a).blocks, 3);
	rs_arena_reset(a);
	assert_int_equal(stats_of(a).blocks, 2);
	assert_true(stats_of(a).held <= 8 * 1024);
	rs_arena_destroy(a);
}

static void test_limit_refuses(void **state)
{
	struct rs_arena *a = arena_new(1024, 0, 4096);

	assert_non_null(rs_arena_alloc(a, 512));
	assert_null(rs_arena_alloc(a, 8192));
	assert_int_equal(stats_of(a).failures, 1);
	assert_true(stats_of(a).held <= 4096);
	/* What fits under the limit still works. */
	assert_non_null(rs_arena_alloc(a, 2048));
	assert_true(stats_of(a).held <= 4096);
	assert_null(rs_arena_alloc(a, SIZE_MAX));
	assert_int_equal(stats_of(a).failures, 2);
	rs_arena_destroy(a);
}

static void test_printf_across_blocks(void **state)
{
	struct rs_arena *a = arena_new(64, 0, 0);
	char *s, *t;

	s = rs_arena_printf(a, "%s-%d", "short", 7);
	assert_string_equal(s, "short-7");
	/* Does not fit the rest of the first block: printed again. */
	t = rs_arena_printf(a, "%0200d", 5);
	assert_non_null(t);
	assert_int_equal(strlen(t), 200);
	assert_int_equal(t[199], '5');
	assert_string_equal(s, "short-7");
	assert_string_equal(rs_arena_strdup(a, "dup"), "dup");
	rs_arena_destroy(a);
}

static size_t pack_receive(uint8_t *buf)
{
	Remsock__ReceiveRequest rq = REMSOCK__RECEIVE_REQUEST__INIT;

	rq.socket_descriptor = "sock-0123456789";
	rq.data_size = 65536;
	rq.has_timeout_seconds = 1;
	rq.timeout_seconds = 2.5;
	return remsock__receive_request__pack(&rq, buf);
}

static void test_protobuf_decode_then_reset(void **state)
{
	struct rs_arena *a = arena_new(4096, 0, 0);
	uint8_t buf[128];
	size_t len = pack_receive(buf);
	Remsock__ReceiveRequest *rq, *again;

	rq = remsock__receive_request__unpack(rs_arena_allocator(a), len, buf);
	assert_non_null(rq);
	assert_string_equal(rq->socket_descriptor, "sock-0123456789");
	assert_int_equal(rq->data_size, 65536);
	assert_true(rq->timeout_seconds == 2.5);
	assert_int_equal(rq->consumed_offset, -1); /* the default */
	assert_true(stats_of(a).used >= sizeof(*rq));
	/* free is a no-op: freeing through the allocator changes nothing. */
	remsock__receive_request__free_unpacked(rq, rs_arena_allocator(a));
	assert_string_equal(rq->socket_descriptor, "sock-0123456789");

	rs_arena_reset(a);
	again =
	    remsock__receive_request__unpack(rs_arena_allocator(a), len, buf);
	assert_ptr_equal(again, rq);
	assert_int_equal(stats_of(a).grows, 0);
	rs_arena_destroy(a);
}

static void test_protobuf_decode_over_limit_fails(void **state)
{
	struct rs_arena *a = arena_new(256, 0, 256);
	Remsock__SendRequest sq = REMSOCK__SEND_REQUEST__INIT;
	static uint8_t data[4096], buf[8192];
	size_t len;

	sq.socket_descriptor = "s";
	sq.data.data = data;
	sq.data.len = sizeof(data);
	sq.stream_offset = 0;
	len = remsock__send_request__pack(&sq, buf);
	assert_null(
	    remsock__send_request__unpack(rs_arena_allocator(a), len, buf));
	assert_true(stats_of(a).failures > 0);
	rs_arena_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alignment),
	    cmocka_unit_test(test_caller_memory_misaligned),
	    cmocka_unit_test(test_create_rejects),
	    cmocka_unit_test(test_growth_keeps_contents),
	    cmocka_unit_test(test_request_larger_than_any_block),
	    cmocka_unit_test(test_reset_reuses_first_block),
	    cmocka_unit_test(test_steady_state_no_growth),
	    cmocka_unit_test(test_reset_frees_beyond_keep),
	    cmocka_unit_test(test_reset_keeps_within_budget),
	    cmocka_unit_test(test_limit_refuses),
	    cmocka_unit_test(test_printf_across_blocks),
	    cmocka_unit_test(test_protobuf_decode_then_reset),
	    cmocka_unit_test(test_protobuf_decode_over_limit_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
