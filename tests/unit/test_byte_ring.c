/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Byte ring tests: edges first (empty, full, the physical wrap, start
 * offsets up to 2^64), then the cursor rules, then Send's duplicate rule,
 * and last a randomized run against a flat-array model of the stream.
 * Every ring is made and freed through ring_new()/ring_del(); the last test
 * checks that none is left.
 *
 * RS_TEST_SEED=<n> in the environment replays a randomized run.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rs_byte_ring.h"

#define DEFAULT_SEED 20240601u
#define RANDOM_OPS 6000
#define GROW_OPS 3000

static int live_rings;

static struct rs_byte_ring *ring_new(size_t capacity, uint64_t start)
{
	struct rs_byte_ring *r = rs_byte_ring_create(capacity, start);

	assert_non_null(r);
	live_rings++;
	return r;
}

static void ring_del(struct rs_byte_ring *r)
{
	rs_byte_ring_free(r);
	live_rings--;
}

/* Byte i of a test pattern: distinct enough that a misplaced byte shows. */
static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 8) + 7);
}

static void fill_pat(uint8_t *p, size_t len, uint64_t first)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pat(first + i);
}

static void assert_pos(const struct rs_byte_ring *r, uint64_t tail,
		       uint64_t mark, uint64_t head)
{
	assert_int_equal(rs_byte_ring_tail(r), tail);
	assert_int_equal(rs_byte_ring_mark(r), mark);
	assert_int_equal(rs_byte_ring_head(r), head);
}

static void test_create_rejects_bad_capacity(void **state)
{
	static const size_t bad[] = {0,
				     3,
				     12,
				     1000,
				     (size_t)1 << 31,
				     RS_BYTE_RING_MAX_CAPACITY + 1,
				     SIZE_MAX};
	struct rs_byte_ring *r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_null(rs_byte_ring_create(bad[i], 0));
		assert_int_equal(errno, EINVAL);
	}
	r = ring_new(1, 5);
	assert_int_equal(rs_byte_ring_capacity(r), 1);
	assert_int_equal(rs_byte_ring_write(r, "ab", 2), 1);
	ring_del(r);
	rs_byte_ring_free(NULL);
}

static void test_empty_edges(void **state)
{
	struct rs_byte_ring *r = ring_new(16, 0);
	struct rs_byte_view v;
	uint8_t buf[4];

	assert_pos(r, 0, 0, 0);
	assert_int_equal(rs_byte_ring_count(r), 0);
	assert_int_equal(rs_byte_ring_space(r), 16);
	assert_int_equal(rs_byte_ring_read_view(r, &v), 0);
	assert_int_equal(v.seg[0].len + v.seg[1].len, 0);
	assert_non_null(v.seg[0].ptr);
	assert_int_equal(rs_byte_ring_read(r, buf, sizeof(buf)), 0);
	assert_int_equal(rs_byte_ring_advance_mark(r, 1), -ERANGE);
	assert_int_equal(rs_byte_ring_release_to(r, 1), -ERANGE);
	assert_int_equal(rs_byte_ring_view_at(r, 0, 1, &v), -ERANGE);
	assert_int_equal(rs_byte_ring_view_at(r, 0, 0, &v), 0);
	assert_int_equal(rs_byte_ring_write_view(r, &v), 16);
	assert_int_equal(v.seg[0].len, 16);
	assert_int_equal(v.seg[1].len, 0);
	assert_pos(r, 0, 0, 0);
	ring_del(r);
}

static void test_full_edges(void **state)
{
	struct rs_byte_ring *r = ring_new(16, 0);
	struct rs_byte_view v;
	uint8_t in[20], out[20];

	fill_pat(in, sizeof(in), 0);
	assert_int_equal(rs_byte_ring_write(r, in, 20), 16);
	assert_int_equal(rs_byte_ring_space(r), 0);
	assert_int_equal(rs_byte_ring_write(r, in, 1), 0);
	assert_int_equal(rs_byte_ring_write_view(r, &v), 0);
	assert_int_equal(rs_byte_ring_commit(r, 1), -ENOBUFS);
	assert_pos(r, 0, 0, 16);

	/* Reading moves mark only: the ring stays full until released. */
	assert_int_equal(rs_byte_ring_read(r, out, 20), 16);
	assert_memory_equal(out, in, 16);
	assert_pos(r, 0, 16, 16);
	assert_int_equal(rs_byte_ring_space(r), 0);
	assert_int_equal(rs_byte_ring_release_to(r, 16), 0);
	assert_int_equal(rs_byte_ring_space(r), 16);
	assert_int_equal(rs_byte_ring_count(r), 0);
	ring_del(r);
}

static void test_wrap_at_physical_end(void **state)
{
	struct rs_byte_ring *r = ring_new(16, 0);
	struct rs_byte_view v;
	uint8_t in[16], out[16];

	fill_pat(in, sizeof(in), 0);
	assert_int_equal(rs_byte_ring_write(r, in, 12), 12);
	assert_int_equal(rs_byte_ring_read(r, out, 12), 12);
	/* One byte kept: the ring is not empty, nothing moves. */
	assert_int_equal(rs_byte_ring_release_to(r, 11), 0);

	/* Free space now runs from buf + 12 to the end and on from buf up
	 * to the byte kept. */
	assert_int_equal(rs_byte_ring_write_view(r, &v), 15);
	assert_ptr_equal(v.seg[0].ptr, r->buf + 12);
	assert_int_equal(v.seg[0].len, 4);
	assert_ptr_equal(v.seg[1].ptr, r->buf);
	assert_int_equal(v.seg[1].len, 11);

	fill_pat(in, sizeof(in), 12);
	assert_int_equal(rs_byte_ring_write(r, in, 10), 10);
	assert_int_equal(rs_byte_ring_read_view(r, &v), 10);
	assert_int_equal(v.seg[0].len, 4);
	assert_int_equal(v.seg[1].len, 6);
	assert_memory_equal(v.seg[0].ptr, in, 4);
	assert_memory_equal(v.seg[1].ptr, in + 4, 6);
	assert_int_equal(rs_byte_ring_read(r, out, 16), 10);
	assert_memory_equal(out, in, 10);
	assert_pos(r, 11, 22, 22);
	ring_del(r);
}

static void test_commit_in_place(void **state)
{
	struct rs_byte_ring *r = ring_new(8, 6);
	struct rs_byte_view v;
	uint8_t in[8], out[8];

	fill_pat(in, sizeof(in), 6);
	/* Offset 6 is index 6: a write view of 5 bytes splits as 2 + 3. */
	assert_int_equal(rs_byte_ring_write_view(r, &v), 8);
	memcpy(v.seg[0].ptr, in, 2);
	memcpy(v.seg[1].ptr, in + 2, 3);
	assert_int_equal(rs_byte_ring_commit(r, 5), 0);
	assert_pos(r, 6, 6, 11);
	assert_int_equal(rs_byte_ring_commit(r, 4), -ENOBUFS);
	assert_int_equal(rs_byte_ring_commit(r, 3), 0);
	assert_int_equal(rs_byte_ring_copy_out(r, 6, out, 5), 0);
	assert_memory_equal(out, in, 5);
	ring_del(r);
}

static void test_nonzero_start(void **state)
{
	const uint64_t isn1 = 0x9e3779b9ULL + 1;
	struct rs_byte_ring *r = ring_new(64, isn1);
	struct rs_byte_view v;
	uint8_t in[40], out[40];

	assert_pos(r, isn1, isn1, isn1);
	fill_pat(in, sizeof(in), isn1);
	assert_int_equal(rs_byte_ring_write(r, in, 40), 40);
	assert_pos(r, isn1, isn1, isn1 + 40);
	assert_int_equal(rs_byte_ring_copy_out(r, isn1 + 10, out, 30), 0);
	assert_memory_equal(out, in + 10, 30);
	assert_int_equal(rs_byte_ring_view_at(r, isn1 - 1, 1, &v), -ERANGE);
	assert_int_equal(rs_byte_ring_copy_out(r, 0, out, 1), -ERANGE);
	assert_int_equal(rs_byte_ring_release_to(r, isn1 + 10), 0);
	assert_pos(r, isn1 + 10, isn1 + 10, isn1 + 40);

	rs_byte_ring_reset(r, 1000);
	assert_pos(r, 1000, 1000, 1000);
	assert_int_equal(rs_byte_ring_space(r), 64);
	ring_del(r);
}

static void test_start_near_2_64(void **state)
{
	const uint64_t start = UINT64_MAX - 5; /* 6 bytes before 2^64 */
	struct rs_byte_ring *r = ring_new(16, start);
	uint8_t in[12], out[12];
	size_t dup;

	fill_pat(in, sizeof(in), 0);
	assert_int_equal(rs_byte_ring_write(r, in, 12), 12);
	assert_int_equal(rs_byte_ring_head(r), 6); /* ran across 2^64 */
	assert_int_equal(rs_byte_ring_count(r), 12);
	assert_int_equal(rs_byte_ring_space(r), 4);
	assert_int_equal(rs_byte_ring_copy_out(r, start + 3, out, 6), 0);
	assert_memory_equal(out, in + 3, 6);
	assert_int_equal(rs_byte_ring_copy_out(r, start + 3, out, 10), -ERANGE);
	assert_int_equal(rs_byte_ring_copy_out(r, start - 1, out, 1), -ERANGE);

	assert_int_equal(rs_byte_ring_dedup(r, UINT64_MAX - 1, 10, &dup), 0);
	assert_int_equal(dup, 8);
	assert_int_equal(rs_byte_ring_dedup(r, 7, 1, &dup), -ERANGE);

	assert_int_equal(rs_byte_ring_advance_mark(r, 8), 0);
	assert_int_equal(rs_byte_ring_mark(r), 2);
	assert_int_equal(rs_byte_ring_release_to(r, 1), 0);
	assert_pos(r, 1, 2, 6);
	assert_int_equal(rs_byte_ring_release_to(r, UINT64_MAX), -ERANGE);
	ring_del(r);
}

static void test_view_at_across_wrap(void **state)
{
	const uint64_t start = 8; /* index 8 of 16 */
	struct rs_byte_ring *r = ring_new(16, start);
	struct rs_byte_view v;
	uint8_t in[16], out[16];

	fill_pat(in, sizeof(in), start);
	assert_int_equal(rs_byte_ring_write(r, in, 16), 16);

	assert_int_equal(rs_byte_ring_view_at(r, start + 6, 6, &v), 0);
	assert_ptr_equal(v.seg[0].ptr, r->buf + 14);
	assert_int_equal(v.seg[0].len, 2);
	assert_ptr_equal(v.seg[1].ptr, r->buf);
	assert_int_equal(v.seg[1].len, 4);
	assert_memory_equal(v.seg[0].ptr, in + 6, 2);
	assert_memory_equal(v.seg[1].ptr, in + 8, 4);

	assert_int_equal(rs_byte_ring_copy_out(r, start, out, 16), 0);
	assert_memory_equal(out, in, 16);
	assert_int_equal(rs_byte_ring_view_at(r, start + 10, 7, &v), -ERANGE);
	assert_int_equal(rs_byte_ring_view_at(r, start + 16, 0, &v), 0);
	assert_int_equal(rs_byte_ring_view_at(r, start + 17, 0, &v), -ERANGE);
	/* Viewing moves nothing. */
	assert_pos(r, start, start, start + 16);
	ring_del(r);
}

static void test_mark_rules(void **state)
{
	struct rs_byte_ring *r = ring_new(32, 100);
	uint8_t in[20];

	fill_pat(in, sizeof(in), 0);
	assert_int_equal(rs_byte_ring_write(r, in, 20), 20);
	assert_int_equal(rs_byte_ring_advance_mark(r, 21), -ERANGE);
	assert_int_equal(rs_byte_ring_advance_mark(r, 15), 0);
	assert_int_equal(rs_byte_ring_pending(r), 5);
	assert_int_equal(rs_byte_ring_unacked(r), 15);
	assert_int_equal(rs_byte_ring_advance_mark(r, 6), -ERANGE);
	assert_pos(r, 100, 115, 120);

	assert_int_equal(rs_byte_ring_set_mark(r, 121), -ERANGE);
	assert_int_equal(rs_byte_ring_set_mark(r, 99), -ERANGE);
	assert_int_equal(rs_byte_ring_set_mark(r, 120), 0);
	/* Retransmission timeout: back to the oldest unacknowledged byte. */
	assert_int_equal(rs_byte_ring_set_mark(r, 100), 0);
	assert_int_equal(rs_byte_ring_pending(r), 20);
	assert_pos(r, 100, 100, 120);
	ring_del(r);
}

static void test_release_rules(void **state)
{
	struct rs_byte_ring *r = ring_new(32, 100);
	uint8_t in[20];

	fill_pat(in, sizeof(in), 0);
	assert_int_equal(rs_byte_ring_write(r, in, 20), 20);
	assert_int_equal(rs_byte_ring_advance_mark(r, 10), 0);

	assert_int_equal(rs_byte_ring_release_to(r, 105), 0);
	assert_pos(r, 105, 110, 120);
	assert_int_equal(rs_byte_ring_space(r), 17);
	assert_int_equal(rs_byte_ring_release_to(r, 105), 0); /* idempotent */
	assert_int_equal(rs_byte_ring_release_to(r, 104), -ERANGE);
	assert_int_equal(rs_byte_ring_release_to(r, 121), -ERANGE);
	assert_pos(r, 105, 110, 120);

	/* An acknowledgement past mark drags mark along. */
	assert_int_equal(rs_byte_ring_release_to(r, 115), 0);
	assert_pos(r, 115, 115, 120);
	assert_int_equal(rs_byte_ring_release_to(r, 120), 0);
	assert_pos(r, 120, 120, 120);
	assert_int_equal(rs_byte_ring_space(r), 32);
	ring_del(r);
}

static void test_dedup_send(void **state)
{
	struct rs_byte_ring *r = ring_new(16, 1000);
	size_t dup;

	assert_int_equal(rs_byte_ring_write(r, "0123456789", 10), 10);
	assert_int_equal(rs_byte_ring_release_to(r, 1004), 0);

	/* Fully duplicate, inside [tail, head) and below tail. */
	assert_int_equal(rs_byte_ring_dedup(r, 1005, 5, &dup), 0);
	assert_int_equal(dup, 5);
	assert_int_equal(rs_byte_ring_dedup(r, 1000, 3, &dup), 0);
	assert_int_equal(dup, 3);
	/* Partially duplicate, then fresh at head, then a gap. */
	assert_int_equal(rs_byte_ring_dedup(r, 1008, 6, &dup), 0);
	assert_int_equal(dup, 2);
	assert_int_equal(rs_byte_ring_dedup(r, 1010, 6, &dup), 0);
	assert_int_equal(dup, 0);
	dup = 77;
	assert_int_equal(rs_byte_ring_dedup(r, 1011, 6, &dup), -ERANGE);
	assert_int_equal(dup, 77);
	ring_del(r);
}

/*
 * Growth and shrinking.  BIG has a first buffer of RS_BYTE_RING_FIRST, so
 * these rings start small and double.
 */
#define FIRST RS_BYTE_RING_FIRST
#define BIG (16 * FIRST)

static void assert_stream(const struct rs_byte_ring *r, uint64_t off,
			  size_t len)
{
	uint8_t *out = malloc(len + 1);

	assert_non_null(out);
	assert_int_equal(rs_byte_ring_copy_out(r, off, out, len), 0);
	for (size_t i = 0; i < len; i++)
		if (out[i] != pat(off + i))
			fail_msg("byte at %" PRIu64 " wrong", off + i);
	free(out);
}

/* Write the pattern for [head, head + len) through rs_byte_ring_write. */
static size_t write_pat(struct rs_byte_ring *r, size_t len)
{
	uint8_t *in = malloc(len + 1);
	size_t n;

	assert_non_null(in);
	fill_pat(in, len, rs_byte_ring_head(r));
	n = rs_byte_ring_write(r, in, len);
	free(in);
	return n;
}

static int place_pat(struct rs_byte_ring *r, uint64_t off, size_t len)
{
	uint8_t *in = malloc(len + 1);
	int rc;

	assert_non_null(in);
	fill_pat(in, len, off);
	rc = rs_byte_ring_place(r, off, in, len);
	free(in);
	return rc;
}

/* Emptied by a release, a ring writes its next bytes at its buffer's
 * start, whatever the offsets: a reader that keeps up touches the same
 * few lines of a large buffer.  A ring holding bytes (or bytes placed
 * beyond head) keeps its layout; a view taken before still shows its
 * bytes. */
static void test_empty_ring_starts_again(void **state)
{
	struct rs_byte_ring *r = ring_new(BIG, 12345);
	struct rs_byte_view v, held;
	uint8_t in[3000], out[3000];

	for (unsigned round = 0; round < 200; round++) {
		uint64_t at = rs_byte_ring_head(r);

		fill_pat(in, sizeof(in), at);
		assert_int_equal(rs_byte_ring_write(r, in, sizeof(in)),
				 sizeof(in));
		assert_int_equal(rs_byte_ring_read_view(r, &held), sizeof(in));
		/* after the first round, always at the start */
		if (round > 0)
			assert_ptr_equal(held.seg[0].ptr, r->buf);
		assert_int_equal(held.seg[1].len, 0);
		assert_int_equal(rs_byte_ring_advance_mark(r, sizeof(in)), 0);
		assert_int_equal(rs_byte_ring_release_to(r, at + sizeof(in)),
				 0);
		assert_memory_equal(held.seg[0].ptr, in, sizeof(in));
	}
	/* 600,000 bytes went through a ring of FIRST bytes' buffer. */
	assert_int_equal(rs_byte_ring_allocated(r), FIRST);

	/* Bytes placed beyond head: not empty, so the layout stays. */
	assert_int_equal(place_pat(r, rs_byte_ring_head(r) + 100, 50), 0);
	assert_int_equal(write_pat(r, 100), 100);
	assert_int_equal(rs_byte_ring_read_view(r, &v), 100);
	assert_int_equal(rs_byte_ring_advance_mark(r, 100), 0);
	assert_int_equal(rs_byte_ring_release_to(r, rs_byte_ring_head(r)), 0);
	assert_int_equal(rs_byte_ring_commit(r, 50), 0);
	assert_int_equal(
	    rs_byte_ring_copy_out(r, rs_byte_ring_tail(r), out, 50), 0);
	fill_pat(in, 50, rs_byte_ring_tail(r));
	assert_memory_equal(out, in, 50);
	ring_del(r);
}

static void test_growth_keeps_wrapped_bytes(void **state)
{
	/* Start 1000 bytes before the small buffer's physical end. */
	uint64_t start = 7 * FIRST - 1000;
	struct rs_byte_ring *r = ring_new(BIG, start);
	struct rs_byte_view v;

	assert_int_equal(rs_byte_ring_allocated(r), FIRST);
	assert_int_equal(write_pat(r, 3000), 3000);
	assert_int_equal(rs_byte_ring_read_view(r, &v), 3000);
	assert_int_equal(v.seg[1].len, 2000); /* wrapped in the small one */
	assert_int_equal(rs_byte_ring_release_to(r, start + 500), 0);
	assert_int_equal(rs_byte_ring_allocated(r), FIRST);

	assert_int_equal(write_pat(r, 10000), 10000);
	assert_int_equal(rs_byte_ring_allocated(r), 4 * FIRST);
	assert_int_equal(rs_byte_ring_capacity(r), BIG);
	assert_int_equal(rs_byte_ring_count(r), 12500);
	assert_int_equal(rs_byte_ring_space(r), BIG - 12500);
	assert_pos(r, start + 500, start + 500, start + 13000);
	assert_stream(r, start + 500, 12500);

	/* Fill it to the capacity: the logical limit is still the limit. */
	assert_int_equal(write_pat(r, BIG), BIG - 12500);
	assert_int_equal(rs_byte_ring_allocated(r), BIG);
	assert_int_equal(rs_byte_ring_space(r), 0);
	assert_stream(r, start + 500, BIG);
	ring_del(r);
}

static void test_growth_keeps_placed_bytes(void **state)
{
	struct rs_byte_ring *r = ring_new(BIG, 100);
	uint64_t far = 100 + BIG - 3000;

	assert_int_equal(write_pat(r, 50), 50);
	/* One run beyond head inside the small buffer, one that needs the
	 * whole capacity: the first must survive the growth the second
	 * causes. */
	assert_int_equal(place_pat(r, 150 + 1000, 2000), 0);
	assert_int_equal(rs_byte_ring_allocated(r), FIRST);
	assert_int_equal(place_pat(r, far, 3000), 0);
	assert_int_equal(rs_byte_ring_allocated(r), BIG);
	assert_int_equal(rs_byte_ring_head(r), 150);
	assert_int_equal(rs_byte_ring_space(r), BIG - 50);
	assert_int_equal(place_pat(r, far, 3001), -ERANGE); /* past tail+cap */
	assert_int_equal(place_pat(r, 149, 1), -ERANGE);    /* below head */

	/* Empty below head, bytes held beyond it: no shrink. */
	assert_int_equal(rs_byte_ring_release_to(r, 150), 0);
	assert_false(rs_byte_ring_shrink(r));
	assert_int_equal(rs_byte_ring_allocated(r), BIG);

	/* Fill the holes in order, as TCP does, then commit over all. */
	assert_int_equal(place_pat(r, 150, 1000), 0);
	assert_int_equal(place_pat(r, 3150, far - 3150), 0);
	assert_int_equal(rs_byte_ring_commit(r, (size_t)(far + 3000 - 150)), 0);
	assert_stream(r, 150, (size_t)(far + 3000 - 150));
	assert_int_equal(rs_byte_ring_release_to(r, far + 3000), 0);
	assert_int_equal(rs_byte_ring_allocated(r), BIG);
	assert_true(rs_byte_ring_shrink(r));
	assert_int_equal(rs_byte_ring_allocated(r), FIRST);
	ring_del(r);
}

static void test_set_capacity(void **state)
{
	/* A full ring whose capacity is raised (TCP auto-tuning): the same
	 * bytes, the same buffer, room for more; only a larger power of
	 * two is taken. */
	struct rs_byte_ring *r = ring_new(FIRST, 7 * FIRST - 100);
	struct rs_byte_view v;
	uint8_t *buf;

	assert_int_equal(write_pat(r, FIRST), FIRST);
	assert_int_equal(rs_byte_ring_space(r), 0);
	assert_int_equal(rs_byte_ring_read_view(r, &v), FIRST);
	buf = v.seg[0].ptr;
	assert_int_equal(rs_byte_ring_set_capacity(r, FIRST / 2), -EINVAL);
	assert_int_equal(rs_byte_ring_set_capacity(r, 3 * FIRST), -EINVAL);
	assert_int_equal(
	    rs_byte_ring_set_capacity(r, RS_BYTE_RING_MAX_CAPACITY * 2),
	    -EINVAL);
	assert_int_equal(rs_byte_ring_capacity(r), FIRST);
	assert_int_equal(rs_byte_ring_set_capacity(r, FIRST), 0);
	assert_int_equal(rs_byte_ring_set_capacity(r, 4 * FIRST), 0);
	assert_int_equal(rs_byte_ring_read_view(r, &v), FIRST);
	assert_ptr_equal(v.seg[0].ptr, buf); /* nothing moved yet */
	assert_int_equal(rs_byte_ring_allocated(r), FIRST);
	assert_int_equal(rs_byte_ring_space(r), 3 * FIRST);
	assert_int_equal(write_pat(r, 4 * FIRST), 3 * FIRST);
	assert_int_equal(rs_byte_ring_allocated(r), 4 * FIRST);
	assert_stream(r, 7 * FIRST - 100, 4 * FIRST);
	ring_del(r);
}

static void test_shrink_after_emptying(void **state)
{
	struct rs_byte_ring *r = ring_new(BIG, 0);
	struct rs_byte_ring *small = ring_new(FIRST / 4, 0);
	struct rs_byte_view v;

	assert_int_equal(write_pat(r, 3 * FIRST), 3 * FIRST);
	assert_int_equal(rs_byte_ring_allocated(r), 4 * FIRST);
	assert_int_equal(rs_byte_ring_release_to(r, FIRST), 0);
	assert_false(rs_byte_ring_shrink(r)); /* not empty */
	assert_int_equal(rs_byte_ring_allocated(r), 4 * FIRST);
	/* Emptying alone keeps the buffer: a ring that empties and fills at
	 * every burst must not allocate each time. */
	assert_int_equal(rs_byte_ring_release_to(r, 3 * FIRST), 0);
	assert_int_equal(rs_byte_ring_allocated(r), 4 * FIRST);
	assert_true(rs_byte_ring_shrink(r));
	assert_int_equal(rs_byte_ring_allocated(r), FIRST);
	assert_false(rs_byte_ring_shrink(r)); /* already the first size */
	/* The small buffer works on from where the stream is. */
	assert_int_equal(write_pat(r, 100), 100);
	assert_stream(r, 3 * FIRST, 100);
	/* write_view doubles a buffer found more than half full. */
	assert_int_equal(write_pat(r, FIRST / 2), FIRST / 2);
	assert_int_equal(rs_byte_ring_write_view(r, &v),
			 2 * FIRST - FIRST / 2 - 100);
	assert_int_equal(rs_byte_ring_allocated(r), 2 * FIRST);
	assert_stream(r, 3 * FIRST, FIRST / 2 + 100);
	/* reset gives memory back too. */
	rs_byte_ring_reset(r, 77);
	assert_int_equal(rs_byte_ring_allocated(r), FIRST);
	assert_pos(r, 77, 77, 77);
	/* A ring smaller than the first size is allocated whole. */
	assert_int_equal(rs_byte_ring_allocated(small), FIRST / 4);
	assert_int_equal(write_pat(small, FIRST), FIRST / 4);
	assert_int_equal(rs_byte_ring_release_to(small, FIRST / 4), 0);
	assert_false(rs_byte_ring_shrink(small));
	assert_int_equal(rs_byte_ring_allocated(small), FIRST / 4);
	ring_del(small);
	ring_del(r);
}

static int allocs_fail;

static void *test_alloc(size_t align, size_t size)
{
	return allocs_fail ? NULL : aligned_alloc(align, size);
}

static void test_failed_growth_is_a_full_ring(void **state)
{
	struct rs_byte_ring *r = ring_new(BIG, 0);
	struct rs_byte_view v;

	rs_byte_ring_set_alloc_pvt(test_alloc);
	assert_int_equal(write_pat(r, 1000), 1000);
	allocs_fail = 1;
	/* Burst write: what fits in the buffer as it is, no more. */
	assert_int_equal(write_pat(r, 2 * FIRST), FIRST - 1000);
	assert_int_equal(write_pat(r, 1), 0);
	assert_int_equal(rs_byte_ring_write_view(r, &v), 0);
	assert_int_equal(rs_byte_ring_commit(r, 1), -ENOBUFS);
	assert_int_equal(place_pat(r, FIRST + 10, 5), -ENOMEM);
	assert_int_equal(rs_byte_ring_allocated(r), FIRST);
	assert_int_equal(rs_byte_ring_head(r), FIRST);
	assert_stream(r, 0, FIRST);
	allocs_fail = 0;
	assert_int_equal(write_pat(r, FIRST), FIRST);
	assert_stream(r, 0, 2 * FIRST);
	/* A shrink without memory keeps the big buffer, still working. */
	allocs_fail = 1;
	assert_int_equal(rs_byte_ring_release_to(r, 2 * FIRST), 0);
	assert_int_equal(rs_byte_ring_allocated(r), 2 * FIRST);
	assert_int_equal(write_pat(r, 10), 10);
	assert_stream(r, 2 * FIRST, 10);
	allocs_fail = 0;
	errno = 0;
	allocs_fail = 1;
	assert_null(rs_byte_ring_create(BIG, 0));
	assert_int_equal(errno, ENOMEM);
	allocs_fail = 0;
	rs_byte_ring_set_alloc_pvt(NULL);
	ring_del(r);
}

/* splitmix64: small, and the same sequence on every libc. */
static uint64_t rnd_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t rnd_below(uint64_t *s, size_t n)
{
	return n == 0 ? 0 : (size_t)(rnd_next(s) % n);
}

static uint64_t test_seed(void)
{
	const char *env = getenv("RS_TEST_SEED");

	return env != NULL ? strtoull(env, NULL, 0) : DEFAULT_SEED;
}

/*
 * The model: the stream as a flat array, model.bytes[i] being the byte at
 * offset base + i, and the three positions relative to base.
 */
struct model {
	struct rs_byte_ring *r;
	uint64_t rng;
	size_t cap;
	uint64_t base;
	uint8_t *bytes;
	size_t bytes_size;
	size_t tail, mark, head;
	size_t top;	  /* end of everything written, >= head */
	uint8_t *known;	  /* known[i]: the ring holds bytes[i] (beyond head) */
	uint8_t *scratch; /* cap + slack bytes */
	size_t shrinks;	  /* times the buffer went back to the first size */
	size_t through;	  /* bytes written over the run, across resets */
	int crossed_2_64; /* head ran across 2^64 */
};

static void model_check(const struct model *m)
{
	size_t a = rs_byte_ring_allocated(m->r);

	assert_int_equal(rs_byte_ring_tail(m->r), m->base + m->tail);
	assert_int_equal(rs_byte_ring_mark(m->r), m->base + m->mark);
	assert_int_equal(rs_byte_ring_head(m->r), m->base + m->head);
	assert_int_equal(rs_byte_ring_count(m->r), m->head - m->tail);
	assert_int_equal(rs_byte_ring_pending(m->r), m->head - m->mark);
	assert_true(m->head - m->tail <= m->cap);
	assert_int_equal(rs_byte_ring_capacity(m->r), m->cap);
	assert_int_equal(rs_byte_ring_space(m->r),
			 m->cap - (m->head - m->tail));
	/* The buffer: a power of two that holds [tail, top). */
	assert_true(a <= m->cap && (a & (a - 1)) == 0);
	assert_true(m->top - m->tail <= a);
}

static size_t first_of(size_t cap)
{
	return cap < RS_BYTE_RING_FIRST ? cap : RS_BYTE_RING_FIRST;
}

/* Every model head move goes through here. */
static void model_wrote(struct model *m, size_t n)
{
	if (m->base + m->head + n < m->base + m->head)
		m->crossed_2_64 = 1;
	m->head += n;
	m->through += n;
	if (m->top < m->head)
		m->top = m->head;
}

static void model_check_all(struct model *m)
{
	size_t n = m->head - m->tail;

	assert_int_equal(
	    rs_byte_ring_copy_out(m->r, m->base + m->tail, m->scratch, n), 0);
	assert_memory_equal(m->scratch, m->bytes + m->tail, n);
}

/* New stream bytes for [head, head + len) of the model. */
static const uint8_t *model_new_bytes(struct model *m, size_t len)
{
	assert_true(m->head + len <= m->bytes_size);
	for (size_t i = 0; i < len; i++)
		m->bytes[m->head + i] = (uint8_t)rnd_next(&m->rng);
	return m->bytes + m->head;
}

/* A relative offset near [lo, hi]: mostly inside, sometimes just out. */
static int64_t model_pick(struct model *m, size_t lo, size_t hi)
{
	return (int64_t)lo - 2 + (int64_t)rnd_below(&m->rng, hi - lo + 5);
}

static void op_write(struct model *m)
{
	size_t len = rnd_below(&m->rng, m->cap + m->cap / 4 + 1);
	size_t space = m->cap - (m->head - m->tail);
	size_t want = len < space ? len : space;
	const uint8_t *src = model_new_bytes(m, len < space ? len : space);
	uint8_t *tmp = m->scratch;

	/* Bytes beyond what fits must not land anywhere. */
	memcpy(tmp, src, want);
	memset(tmp + want, 0xee, len - want);
	assert_int_equal(rs_byte_ring_write(m->r, tmp, len), want);
	model_wrote(m, want);
}

static void op_commit(struct model *m)
{
	struct rs_byte_view v;
	size_t space = rs_byte_ring_write_view(m->r, &v);
	size_t n = rnd_below(&m->rng, space + 1);
	const uint8_t *src;
	size_t first = n < v.seg[0].len ? n : v.seg[0].len;

	/* The buffer's free space: all of it once grown to the capacity. */
	assert_true(space <= m->cap - (m->head - m->tail));
	assert_int_equal(space,
			 rs_byte_ring_allocated(m->r) - (m->head - m->tail));
	assert_int_equal(v.seg[0].len + v.seg[1].len, space);
	src = model_new_bytes(m, n);
	memcpy(v.seg[0].ptr, src, first);
	memcpy(v.seg[1].ptr, src + first, n - first);
	assert_int_equal(rs_byte_ring_commit(m->r, n), 0);
	model_wrote(m, n);
}

static void op_read(struct model *m)
{
	size_t len = rnd_below(&m->rng, m->cap + 2);
	size_t pending = m->head - m->mark;
	size_t want = len < pending ? len : pending;

	assert_int_equal(rs_byte_ring_read(m->r, m->scratch, len), want);
	assert_memory_equal(m->scratch, m->bytes + m->mark, want);
	m->mark += want;
}

static void op_advance_mark(struct model *m)
{
	size_t pending = m->head - m->mark;
	size_t n = rnd_below(&m->rng, pending + 3);
	struct rs_byte_view v;

	assert_int_equal(rs_byte_ring_read_view(m->r, &v), pending);
	if (n > pending) {
		assert_int_equal(rs_byte_ring_advance_mark(m->r, n), -ERANGE);
		return;
	}
	if (n > 0 && v.seg[0].len > 0)
		assert_int_equal(v.seg[0].ptr[0], m->bytes[m->mark]);
	assert_int_equal(rs_byte_ring_advance_mark(m->r, n), 0);
	m->mark += n;
}

static void op_set_mark(struct model *m)
{
	int64_t off = model_pick(m, m->tail, m->head);
	int ok = off >= (int64_t)m->tail && off <= (int64_t)m->head;

	assert_int_equal(rs_byte_ring_set_mark(m->r, m->base + off),
			 ok ? 0 : -ERANGE);
	if (ok)
		m->mark = (size_t)off;
}

/* After a release: the buffer is as it was (@p before: its size). */
static void model_released(struct model *m, size_t before)
{
	assert_int_equal(rs_byte_ring_allocated(m->r), before);
}

/* The owner's idle shrink: it happens iff the ring is empty with nothing
 * beyond head and its buffer has grown. */
static void op_shrink(struct model *m)
{
	size_t before = rs_byte_ring_allocated(m->r);
	bool want = m->tail == m->top && before > first_of(m->cap);

	assert_int_equal(rs_byte_ring_shrink(m->r), want);
	assert_int_equal(rs_byte_ring_allocated(m->r),
			 want ? first_of(m->cap) : before);
	m->shrinks += want;
}

static void op_release(struct model *m)
{
	int64_t off = model_pick(m, m->tail, m->head);
	int ok = off >= (int64_t)m->tail && off <= (int64_t)m->head;
	size_t before = rs_byte_ring_allocated(m->r);

	assert_int_equal(rs_byte_ring_release_to(m->r, m->base + off),
			 ok ? 0 : -ERANGE);
	if (!ok)
		return;
	m->tail = (size_t)off;
	if (m->mark < m->tail)
		m->mark = m->tail;
	model_released(m, before);
}

static void op_copy_out(struct model *m)
{
	int64_t off = model_pick(m, m->tail, m->head);
	size_t len = rnd_below(&m->rng, m->cap + 2);
	int ok = off >= (int64_t)m->tail && off + len <= m->head;

	assert_int_equal(
	    rs_byte_ring_copy_out(m->r, m->base + off, m->scratch, len),
	    ok ? 0 : -ERANGE);
	if (ok)
		assert_memory_equal(m->scratch, m->bytes + off, len);
}

static void op_reset(struct model *m)
{
	m->base = rnd_next(&m->rng);
	rs_byte_ring_reset(m->r, m->base);
	assert_int_equal(rs_byte_ring_allocated(m->r), first_of(m->cap));
	/* The model's arrays restart at 0 too; forget what lay beyond. */
	memset(m->known, 0, m->top + 1);
	m->tail = m->mark = m->head = m->top = 0;
}

/* Out-of-order bytes: somewhere in [head, tail + cap), head stays. */
static void op_place(struct model *m)
{
	size_t end = m->tail + m->cap;
	size_t off = m->head + rnd_below(&m->rng, end - m->head + 1);
	size_t len = rnd_below(&m->rng, end - off + 2); /* one too many */
	int ok = off + len <= end;

	for (size_t i = 0; i < len; i++)
		m->scratch[i] = (uint8_t)rnd_next(&m->rng);
	assert_int_equal(
	    rs_byte_ring_place(m->r, m->base + off, m->scratch, len),
	    ok ? 0 : -ERANGE);
	if (!ok)
		return;
	memcpy(m->bytes + off, m->scratch, len);
	memset(m->known + off, 1, len);
	if (m->top < off + len)
		m->top = off + len;
}

/* In-order data reaches placed bytes: place the holes, commit over all. */
static void op_fill(struct model *m)
{
	size_t n = m->top - m->head;

	if (rnd_below(&m->rng, 2))
		n = rnd_below(&m->rng, n + 1); /* or all the way to top */
	for (size_t i = m->head; i < m->head + n; i++) {
		if (m->known[i])
			continue;
		m->bytes[i] = (uint8_t)rnd_next(&m->rng);
		assert_int_equal(
		    rs_byte_ring_place(m->r, m->base + i, m->bytes + i, 1), 0);
	}
	assert_int_equal(rs_byte_ring_commit(m->r, n), 0);
	model_wrote(m, n);
}

/* The reader catches up and acknowledges all: the ring empties. */
static void op_drain(struct model *m)
{
	size_t before = rs_byte_ring_allocated(m->r);

	assert_int_equal(rs_byte_ring_release_to(m->r, m->base + m->head), 0);
	m->tail = m->mark = m->head;
	model_released(m, before);
}

/* Small writes, so that the buffer doubles step by step. */
static void op_write_small(struct model *m)
{
	size_t space = m->cap - (m->head - m->tail);
	size_t len = rnd_below(&m->rng, 2 * first_of(m->cap));
	size_t want = len < space ? len : space;

	assert_int_equal(rs_byte_ring_write(m->r, model_new_bytes(m, want),
					    len < space ? len : space),
			 want);
	model_wrote(m, want);
}

typedef void (*model_op)(struct model *);

static const model_op plain_ops[] = {
    op_write,	 op_commit,  op_read,	 op_read,     op_advance_mark,
    op_set_mark, op_release, op_release, op_copy_out,
};

/* With out-of-order placing and small writes: grows and shrinks. */
static const model_op grow_ops[] = {
    op_write,	op_write_small, op_write_small, op_commit,	 op_place,
    op_fill,	op_fill,	op_read,	op_advance_mark, op_set_mark,
    op_release, op_release,	op_drain,	op_copy_out,	 op_shrink,
    op_shrink,	op_shrink,	op_shrink,
};

struct model_run {
	const model_op *ops;
	size_t nops;
	int nruns; /* operations */
};

#define PLAIN_RUN                                                              \
	{                                                                      \
		plain_ops, sizeof(plain_ops) / sizeof(plain_ops[0]),           \
		    RANDOM_OPS                                                 \
	}

/* @return 1 when the stream ran across 2^64 somewhere in the run. */
static int run_model(size_t cap, uint64_t base, uint64_t seed,
		     struct model_run run, size_t *shrinks)
{
	const model_op *ops = run.ops;
	const size_t nops = run.nops;
	struct model m = {.cap = cap, .base = base, .rng = seed};

	print_message("byte ring model: cap %zu start %" PRIu64 " seed %" PRIu64
		      " (RS_TEST_SEED replays)\n",
		      cap, base, seed);
	m.r = ring_new(cap, base);
	m.bytes_size = (size_t)run.nruns * (cap + cap / 4 + 1) + cap;
	m.bytes = malloc(m.bytes_size);
	m.known = calloc(m.bytes_size + 1, 1);
	m.scratch = malloc(cap + cap / 4 + 2);
	assert_non_null(m.bytes);
	assert_non_null(m.known);
	assert_non_null(m.scratch);
	for (int i = 0; i < run.nruns; i++) {
		if (rnd_below(&m.rng, 2000) == 0)
			op_reset(&m);
		else
			ops[rnd_below(&m.rng, nops)](&m);
		model_check(&m);
		if (i % 32 == 0)
			model_check_all(&m);
	}
	model_check_all(&m);
	print_message("  %zu bytes through, %s 2^64\n", m.through,
		      m.crossed_2_64 ? "across" : "not across");
	/* A run that moved little data would prove little. */
	assert_true(m.through > (size_t)run.nruns * cap / 32);
	*shrinks = m.shrinks;
	free(m.known);
	free(m.scratch);
	free(m.bytes);
	ring_del(m.r);
	return m.crossed_2_64;
}

static void test_random_against_model(void **state)
{
	const struct model_run grow = {
	    grow_ops, sizeof(grow_ops) / sizeof(grow_ops[0]), GROW_OPS};
	uint64_t seed = test_seed();
	size_t shrinks;
	int crossed;

	run_model(64, 0, seed, (struct model_run)PLAIN_RUN, &shrinks);
	/* Resets allowing, the stream runs across 2^64 part way through;
	 * the default seed is known to get there. */
	crossed = run_model(256, UINT64_MAX - 3000, seed + 1,
			    (struct model_run)PLAIN_RUN, &shrinks);
	if (seed == DEFAULT_SEED)
		assert_true(crossed);
	run_model(16, 0x12345678ULL + 1, seed + 2, (struct model_run)PLAIN_RUN,
		  &shrinks);
	/* Buffers that grow from the first size: many grow/shrink cycles,
	 * out-of-order bytes across them, a start near 2^64. */
	run_model(4 * RS_BYTE_RING_FIRST, 0, seed + 3, grow, &shrinks);
	print_message("  %zu shrinks\n", shrinks);
	assert_true(shrinks >= 20);
	run_model(8 * RS_BYTE_RING_FIRST, UINT64_MAX - 50000, seed + 4, grow,
		  &shrinks);
	print_message("  %zu shrinks\n", shrinks);
	assert_true(shrinks >= 20);
}

static void test_no_ring_leaked(void **state)
{
	assert_int_equal(live_rings, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_rejects_bad_capacity),
	    cmocka_unit_test(test_empty_edges),
	    cmocka_unit_test(test_full_edges),
	    cmocka_unit_test(test_wrap_at_physical_end),
	    cmocka_unit_test(test_empty_ring_starts_again),
	    cmocka_unit_test(test_commit_in_place),
	    cmocka_unit_test(test_nonzero_start),
	    cmocka_unit_test(test_start_near_2_64),
	    cmocka_unit_test(test_view_at_across_wrap),
	    cmocka_unit_test(test_mark_rules),
	    cmocka_unit_test(test_release_rules),
	    cmocka_unit_test(test_dedup_send),
	    cmocka_unit_test(test_growth_keeps_wrapped_bytes),
	    cmocka_unit_test(test_growth_keeps_placed_bytes),
	    cmocka_unit_test(test_set_capacity),
	    cmocka_unit_test(test_shrink_after_emptying),
	    cmocka_unit_test(test_failed_growth_is_a_full_ring),
	    cmocka_unit_test(test_random_against_model),
	    cmocka_unit_test(test_no_ring_leaked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
