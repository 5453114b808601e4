/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Record ring tests: creation limits, FIFO order with peers, zero-length
 * datagrams, padding, the wrap marker, fullness and drops, reserve/commit,
 * and a randomized run against a model that keeps the records in a queue and
 * the buffer's bytes in an occupancy map, so that a record that splits or
 * overlaps another shows.  The last test checks that every ring was freed.
 *
 * RS_TEST_SEED=<n> in the environment replays a randomized run.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rs_rec_ring.h"

#define DEFAULT_SEED 20240601u
#define RANDOM_OPS 8000
#define HDR RS_REC_RING_HDR_SIZE

static int live_rings;

static struct rs_rec_ring *ring_new(size_t capacity)
{
	struct rs_rec_ring *r = rs_rec_ring_create(capacity);

	assert_non_null(r);
	live_rings++;
	return r;
}

static void ring_del(struct rs_rec_ring *r)
{
	rs_rec_ring_free(r);
	live_rings--;
}

static struct rs_rec_addr v4(const char *ip, uint16_t port)
{
	struct rs_rec_addr a = {.family = AF_INET, .port = port};

	assert_int_equal(inet_pton(AF_INET, ip, a.addr), 1);
	return a;
}

static struct rs_rec_addr v6(const char *ip, uint16_t port)
{
	struct rs_rec_addr a = {.family = AF_INET6, .port = port};

	assert_int_equal(inet_pton(AF_INET6, ip, a.addr), 1);
	return a;
}

static void assert_peek(const struct rs_rec_ring *r, const void *data,
			size_t len, const struct rs_rec_addr *peer)
{
	struct rs_rec rec;

	assert_int_equal(rs_rec_ring_peek(r, &rec), 0);
	assert_int_equal(rec.len, len);
	if (len != 0)
		assert_memory_equal(rec.data, data, len);
	assert_memory_equal(rec.peer, peer, sizeof(*peer));
}

static void test_create_rejects_bad_capacity(void **state)
{
	static const size_t bad[] = {0,
				     8,
				     32,
				     96,
				     1000,
				     (size_t)1 << 31,
				     RS_REC_RING_MAX_CAPACITY + 1,
				     SIZE_MAX};
	struct rs_rec_ring *r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_null(rs_rec_ring_create(bad[i]));
		assert_int_equal(errno, EINVAL);
	}
	r = ring_new(RS_REC_RING_MIN_CAPACITY);
	assert_int_equal(rs_rec_ring_capacity(r), 64);
	ring_del(r);
	rs_rec_ring_free(NULL);
}

static void test_empty(void **state)
{
	struct rs_rec_ring *r = ring_new(256);
	struct rs_rec rec;

	assert_int_equal(rs_rec_ring_peek(r, &rec), -EAGAIN);
	assert_int_equal(rs_rec_ring_pop(r), -EAGAIN);
	assert_int_equal(rs_rec_ring_count(r), 0);
	assert_int_equal(rs_rec_ring_bytes(r), 0);
	assert_int_equal(rs_rec_ring_used(r), 0);
	assert_int_equal(rs_rec_ring_drops(r), 0);
	assert_true(rs_rec_ring_fits(r, 256 - HDR));
	assert_false(rs_rec_ring_fits(r, 256 - HDR + 1));
	ring_del(r);
}

static void test_fifo_with_peers(void **state)
{
	struct rs_rec_ring *r = ring_new(256);
	struct rs_rec_addr a = v4("198.18.0.1", 5353);
	struct rs_rec_addr b = v6("2001:db8::1", 443);

	assert_int_equal(rs_rec_ring_push(r, &a, "first", 5), 0);
	assert_int_equal(rs_rec_ring_push(r, &b, "second!", 7), 0);
	assert_int_equal(rs_rec_ring_push(r, &a, "3", 1), 0);
	assert_int_equal(rs_rec_ring_count(r), 3);
	assert_int_equal(rs_rec_ring_bytes(r), 13);

	assert_peek(r, "first", 5, &a);
	assert_peek(r, "first", 5, &a); /* peeking takes nothing */
	assert_int_equal(rs_rec_ring_pop(r), 0);
	assert_peek(r, "second!", 7, &b);
	assert_int_equal(rs_rec_ring_pop(r), 0);
	assert_peek(r, "3", 1, &a);
	assert_int_equal(rs_rec_ring_pop(r), 0);
	assert_int_equal(rs_rec_ring_pop(r), -EAGAIN);
	assert_int_equal(rs_rec_ring_count(r), 0);
	assert_int_equal(rs_rec_ring_bytes(r), 0);
	assert_int_equal(rs_rec_ring_used(r), 0);
	ring_del(r);
}

static void test_zero_length_records(void **state)
{
	struct rs_rec_ring *r = ring_new(64);
	struct rs_rec_addr a = v4("198.18.0.1", 9);
	struct rs_rec_addr none = {0};

	assert_int_equal(rs_rec_ring_push(r, &a, NULL, 0), 0);
	assert_int_equal(rs_rec_ring_push(r, &none, NULL, 0), 0);
	assert_int_equal(rs_rec_ring_count(r), 2);
	assert_int_equal(rs_rec_ring_bytes(r), 0);
	assert_int_equal(rs_rec_ring_used(r), 2 * HDR);
	/* A third header does not fit in 64 bytes. */
	assert_int_equal(rs_rec_ring_push(r, &a, NULL, 0), -ENOBUFS);
	assert_int_equal(rs_rec_ring_drops(r), 1);
	assert_peek(r, NULL, 0, &a);
	assert_int_equal(rs_rec_ring_pop(r), 0);
	assert_peek(r, NULL, 0, &none);
	assert_int_equal(rs_rec_ring_pop(r), 0);
	assert_int_equal(rs_rec_ring_count(r), 0);
	ring_del(r);
}

static void test_padding(void **state)
{
	struct rs_rec_ring *r = ring_new(256);
	struct rs_rec_addr a = v4("198.18.0.1", 1);
	struct rs_rec rec;

	assert_int_equal(rs_rec_ring_footprint(0), HDR);
	assert_int_equal(rs_rec_ring_footprint(1), HDR + 8);
	assert_int_equal(rs_rec_ring_footprint(8), HDR + 8);
	assert_int_equal(rs_rec_ring_footprint(9), HDR + 16);

	assert_int_equal(rs_rec_ring_push(r, &a, "x", 1), 0);
	assert_int_equal(rs_rec_ring_used(r), HDR + 8);
	assert_int_equal(rs_rec_ring_push(r, &a, "12345678", 8), 0);
	assert_int_equal(rs_rec_ring_used(r), 2 * HDR + 16);
	assert_int_equal(rs_rec_ring_push(r, &a, "123456789", 9), 0);
	assert_int_equal(rs_rec_ring_used(r), 3 * HDR + 32);
	assert_int_equal(rs_rec_ring_bytes(r), 18);
	/* Each payload starts 8-byte aligned, right after its header. */
	assert_int_equal(rs_rec_ring_pop(r), 0);
	assert_int_equal(rs_rec_ring_peek(r, &rec), 0);
	assert_ptr_equal(rec.data, r->buf + HDR + 8 + HDR);
	assert_int_equal((uintptr_t)rec.data % RS_REC_RING_ALIGN, 0);
	ring_del(r);
}

static void test_oversize(void **state)
{
	struct rs_rec_ring *r = ring_new(128);
	struct rs_rec_addr a = v4("198.18.0.1", 1);
	uint8_t big[128] = {0};
	void *p;

	assert_int_equal(rs_rec_ring_push(r, &a, big, 128 - HDR + 1),
			 -EMSGSIZE);
	assert_int_equal(rs_rec_ring_reserve(r, SIZE_MAX, &p), -EMSGSIZE);
	assert_int_equal(rs_rec_ring_drops(r), 0);
	/* Exactly the capacity: fits an empty ring, and fills it. */
	big[0] = 0xab;
	assert_int_equal(rs_rec_ring_push(r, &a, big, 128 - HDR), 0);
	assert_int_equal(rs_rec_ring_used(r), 128);
	assert_int_equal(rs_rec_ring_push(r, &a, NULL, 0), -ENOBUFS);
	assert_int_equal(rs_rec_ring_drops(r), 1);
	assert_peek(r, big, 128 - HDR, &a);
	ring_del(r);
}

static void test_wrap_marker(void **state)
{
	struct rs_rec_ring *r = ring_new(128);
	struct rs_rec_addr a = v4("198.18.0.1", 1);
	struct rs_rec_addr c = v6("2001:db8::c", 3);
	uint8_t p40[40], p24[24];
	struct rs_rec rec;

	memset(p40, 0x40, sizeof(p40));
	memset(p24, 0x24, sizeof(p24));
	assert_int_equal(rs_rec_ring_push(r, &a, p40, 40), 0); /* [0, 64) */
	assert_int_equal(rs_rec_ring_push(r, &a, "sixteen bytes..", 16), 0);
	assert_int_equal(rs_rec_ring_pop(r), 0); /* B at [64, 104) remains */

	/* 48 bytes do not fit in the 24 before the end: C goes to 0. */
	assert_int_equal(rs_rec_ring_push(r, &c, p24, 24), 0);
	assert_int_equal(rs_rec_ring_used(r), 40 + 24 + 48);
	assert_int_equal(rs_rec_ring_pop(r), 0);
	/* The reader steps over the marker to C at the buffer start. */
	assert_int_equal(rs_rec_ring_peek(r, &rec), 0);
	assert_ptr_equal(rec.data, r->buf + HDR);
	assert_peek(r, p24, 24, &c);
	/* The skipped 24 bytes stay counted until C leaves. */
	assert_int_equal(rs_rec_ring_used(r), 24 + 48);
	assert_int_equal(rs_rec_ring_pop(r), 0);
	assert_int_equal(rs_rec_ring_used(r), 0);
	ring_del(r);
}

static void test_full_when_not_contiguous(void **state)
{
	struct rs_rec_ring *r = ring_new(128);
	struct rs_rec_addr a = v4("198.18.0.1", 1);
	uint8_t p[48] = {0};

	assert_int_equal(rs_rec_ring_push(r, &a, p, 40), 0); /* [0, 64) */
	assert_int_equal(rs_rec_ring_push(r, &a, p, 8), 0);  /* [64, 96) */
	assert_int_equal(rs_rec_ring_pop(r), 0);
	/* 96 bytes are free but in two pieces of 32 and 64: 72 fits
	 * neither. */
	assert_false(rs_rec_ring_fits(r, 48));
	assert_int_equal(rs_rec_ring_push(r, &a, p, 48), -ENOBUFS);
	assert_int_equal(rs_rec_ring_drops(r), 1);
	assert_int_equal(rs_rec_ring_count(r), 1);
	/* 64 fits the piece at the start. */
	assert_true(rs_rec_ring_fits(r, 40));
	assert_int_equal(rs_rec_ring_push(r, &a, p, 40), 0);
	assert_int_equal(rs_rec_ring_used(r), 32 + 32 + 64);
	ring_del(r);
}

static void test_empty_ring_restarts(void **state)
{
	struct rs_rec_ring *r = ring_new(128);
	struct rs_rec_addr a = v4("198.18.0.1", 1);
	uint8_t p[128 - HDR];

	memset(p, 0x5a, sizeof(p));
	assert_int_equal(rs_rec_ring_push(r, &a, p, 40), 0);
	assert_int_equal(rs_rec_ring_pop(r), 0);
	/* Head was at 64; a whole-capacity record still fits. */
	assert_int_equal(rs_rec_ring_push(r, &a, p, sizeof(p)), 0);
	assert_peek(r, p, sizeof(p), &a);
	ring_del(r);
}

static void test_reserve_commit(void **state)
{
	struct rs_rec_ring *r = ring_new(128);
	struct rs_rec_addr a = v4("198.18.0.7", 7);
	void *p, *q;

	assert_int_equal(rs_rec_ring_commit(r, &a), -EINVAL);
	assert_int_equal(rs_rec_ring_reserve(r, 200, &p), -EMSGSIZE);
	assert_int_equal(rs_rec_ring_reserve(r, 10, &p), 0);
	/* Not visible until committed; reserving again replaces it. */
	assert_int_equal(rs_rec_ring_count(r), 0);
	assert_int_equal(rs_rec_ring_reserve(r, 5, &q), 0);
	assert_ptr_equal(p, q);
	memcpy(q, "hello", 5);
	assert_int_equal(rs_rec_ring_commit(r, &a), 0);
	assert_int_equal(rs_rec_ring_commit(r, &a), -EINVAL);
	assert_int_equal(rs_rec_ring_count(r), 1);
	assert_peek(r, "hello", 5, &a);

	assert_int_equal(rs_rec_ring_reserve(r, 100, &p), -ENOBUFS);
	assert_int_equal(rs_rec_ring_drops(r), 1);
	ring_del(r);
}

static void test_reset(void **state)
{
	struct rs_rec_ring *r = ring_new(64);
	struct rs_rec_addr a = v4("198.18.0.1", 1);
	uint8_t p[40] = {0};
	struct rs_rec rec;

	assert_int_equal(rs_rec_ring_push(r, &a, p, 3), 0);
	assert_int_equal(rs_rec_ring_push(r, &a, p, 40), -ENOBUFS);
	rs_rec_ring_reset(r);
	assert_int_equal(rs_rec_ring_count(r), 0);
	assert_int_equal(rs_rec_ring_bytes(r), 0);
	assert_int_equal(rs_rec_ring_used(r), 0);
	assert_int_equal(rs_rec_ring_drops(r), 0);
	assert_int_equal(rs_rec_ring_peek(r, &rec), -EAGAIN);
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

/* A record as the model keeps it: where it lies and how to rebuild it. */
struct mrec {
	size_t start; /* buffer index of its header */
	size_t gap;   /* bytes skipped at the buffer end before it */
	size_t len;
	uint64_t seed; /* payload byte i is (uint8_t)(seed + i * 7) */
	struct rs_rec_addr peer;
};

struct model {
	struct rs_rec_ring *r;
	uint64_t rng;
	size_t cap;
	struct mrec *q; /* circular, qcap entries */
	size_t qcap, first, n;
	size_t used, bytes, head_idx;
	uint64_t drops;
	uint8_t *owned; /* per buffer byte: 1 while a record occupies it */
	uint8_t *payload;
	size_t pushes, pops, wraps;
};

static void payload_fill(uint8_t *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static size_t model_len(struct model *m)
{
	switch (rnd_below(&m->rng, 4)) {
	case 0:
		return rnd_below(&m->rng, 3); /* 0, 1, 2 */
	case 1:
		return rnd_below(&m->rng, m->cap / 2);
	default:
		return rnd_below(&m->rng, m->cap / 8 + 1);
	}
}

static void model_own(struct model *m, size_t start, size_t len, uint8_t v)
{
	assert_true(start + len <= m->cap); /* a record never splits */
	for (size_t i = start; i < start + len; i++) {
		assert_int_not_equal(m->owned[i], v); /* nor overlaps */
		m->owned[i] = v;
	}
}

/* Where the model puts a record of footprint fp; 0 when it is full. */
static int model_place(const struct model *m, size_t fp, struct mrec *rec)
{
	size_t to_end = m->cap - m->head_idx;

	rec->start = m->n == 0 ? 0 : m->head_idx;
	rec->gap = 0;
	if (m->n != 0 && fp > to_end) {
		rec->start = 0;
		rec->gap = to_end;
	}
	return fp <= m->cap && m->used + rec->gap + fp <= m->cap;
}

static void op_push(struct model *m)
{
	struct mrec rec = {.len = model_len(m), .seed = rnd_next(&m->rng)};
	size_t fp = rs_rec_ring_footprint(rec.len);
	int fits = model_place(m, fp, &rec);
	void *dst;
	int rc;

	rec.peer.family = rnd_below(&m->rng, 2) ? AF_INET : AF_INET6;
	rec.peer.port = (uint16_t)rnd_next(&m->rng);
	memcpy(rec.peer.addr, &rec.seed, sizeof(rec.seed));
	payload_fill(m->payload, rec.len, rec.seed);
	assert_int_equal(rs_rec_ring_fits(m->r, rec.len), fits);
	if (rnd_below(&m->rng, 2)) {
		rc = rs_rec_ring_push(m->r, &rec.peer, m->payload, rec.len);
	} else {
		rc = rs_rec_ring_reserve(m->r, rec.len, &dst);
		if (rc == 0) {
			memcpy(dst, m->payload, rec.len);
			assert_int_equal(rs_rec_ring_commit(m->r, &rec.peer),
					 0);
		}
	}
	if (!fits) {
		assert_int_equal(rc, -ENOBUFS);
		m->drops++;
		return;
	}
	assert_int_equal(rc, 0);
	if (m->n == 0)
		m->head_idx = 0;
	model_own(m, rec.start, fp, 1);
	m->q[(m->first + m->n++) % m->qcap] = rec;
	m->used += rec.gap + fp;
	m->bytes += rec.len;
	m->head_idx = (rec.start + fp) % m->cap;
	m->pushes++;
	m->wraps += rec.gap != 0;
}

static void op_pop(struct model *m)
{
	struct mrec *rec = &m->q[m->first];
	struct rs_rec got;
	size_t fp;

	if (m->n == 0) {
		assert_int_equal(rs_rec_ring_peek(m->r, &got), -EAGAIN);
		assert_int_equal(rs_rec_ring_pop(m->r), -EAGAIN);
		return;
	}
	fp = rs_rec_ring_footprint(rec->len);
	assert_int_equal(rs_rec_ring_peek(m->r, &got), 0);
	assert_ptr_equal(got.data, m->r->buf + rec->start + HDR);
	assert_int_equal(got.len, rec->len);
	payload_fill(m->payload, rec->len, rec->seed);
	assert_memory_equal(got.data, m->payload, rec->len);
	assert_memory_equal(got.peer, &rec->peer, sizeof(rec->peer));
	assert_int_equal(rs_rec_ring_pop(m->r), 0);
	model_own(m, rec->start, fp, 0);
	m->used -= rec->gap + fp;
	m->bytes -= rec->len;
	m->first = (m->first + 1) % m->qcap;
	m->n--;
	m->pops++;
}

static void op_reset(struct model *m)
{
	rs_rec_ring_reset(m->r);
	memset(m->owned, 0, m->cap);
	m->first = m->n = m->used = m->bytes = m->head_idx = 0;
	m->drops = 0;
}

static void model_check(const struct model *m)
{
	assert_int_equal(rs_rec_ring_count(m->r), m->n);
	assert_int_equal(rs_rec_ring_bytes(m->r), m->bytes);
	assert_int_equal(rs_rec_ring_used(m->r), m->used);
	assert_int_equal(rs_rec_ring_drops(m->r), m->drops);
}

static void run_model(size_t cap, uint64_t seed)
{
	struct model m = {.cap = cap, .rng = seed};

	print_message("record ring model: cap %zu seed %" PRIu64
		      " (RS_TEST_SEED replays)\n",
		      cap, seed);
	m.r = ring_new(cap);
	m.qcap = cap / HDR + 1;
	m.q = calloc(m.qcap, sizeof(*m.q));
	m.owned = calloc(cap, 1);
	m.payload = malloc(cap);
	assert_non_null(m.q);
	assert_non_null(m.owned);
	assert_non_null(m.payload);
	for (int i = 0; i < RANDOM_OPS; i++) {
		size_t dice = rnd_below(&m.rng, 1000);

		if (dice == 0)
			op_reset(&m);
		else if (dice < 520)
			op_push(&m);
		else
			op_pop(&m);
		model_check(&m);
	}
	print_message("  %zu pushed, %zu popped, %zu wrapped, %" PRIu64
		      " dropped since the last reset\n",
		      m.pushes, m.pops, m.wraps, m.drops);
	/* A run that never wrapped or filled would prove little. */
	assert_true(m.wraps > 50);
	assert_true(m.pushes > RANDOM_OPS / 4);
	free(m.payload);
	free(m.owned);
	free(m.q);
	ring_del(m.r);
}

static void test_random_against_model(void **state)
{
	uint64_t seed = test_seed();

	run_model(256, seed);
	run_model(4096, seed + 1);
}

static void test_no_ring_leaked(void **state)
{
	assert_int_equal(live_rings, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_rejects_bad_capacity),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_fifo_with_peers),
	    cmocka_unit_test(test_zero_length_records),
	    cmocka_unit_test(test_padding),
	    cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_wrap_marker),
	    cmocka_unit_test(test_full_when_not_contiguous),
	    cmocka_unit_test(test_empty_ring_restarts),
	    cmocka_unit_test(test_reserve_commit),
	    cmocka_unit_test(test_reset),
	    cmocka_unit_test(test_random_against_model),
	    cmocka_unit_test(test_no_ring_leaked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
