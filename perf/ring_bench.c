/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ring microbenchmark.
 *
 * Byte ring: each operation writes one chunk in at head, reads it out at
 * mark and releases it, so every payload byte is copied twice, and chunk
 * sizes that do not divide the capacity keep splitting across the physical
 * end.  The baseline does the same two memcpy calls through a flat staging
 * buffer of the same size in the same run, so the ratio column is the cost
 * of the ring's bookkeeping and wrap splitting, independent of the machine.
 *
 * Record ring: each operation pushes one datagram, peeks it, copies its
 * payload out and pops it, in bursts; half a burst stays queued so that the
 * ring never runs empty (an empty ring restarts at the buffer start) and
 * keeps wrapping.
 *
 * Each measurement runs for a fixed wall-clock budget, so the whole run
 * takes a few seconds.  A volatile sink takes a checksum of every
 * destination so that no copy can be optimised away.  Nothing here asserts
 * a speed: the exit status is 0 unless the arguments are wrong or memory
 * runs out.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "rs_byte_ring.h"
#include "rs_rec_ring.h"

#define BYTE_RING_CAP ((size_t)256 << 10)
#define REC_RING_CAP ((size_t)64 << 10)
#define MAX_CHUNK ((size_t)64 << 10)
#define REC_BURST 32
#define DEFAULT_BUDGET_MS 200

static const size_t chunk_sizes[] = {64, 512, 1460, 4096, 65536};
static const size_t rec_sizes[] = {64, 512, 1472};

static volatile uint64_t sink;

struct bench {
	struct rs_byte_ring *ring;
	struct rs_rec_ring *recs;
	uint8_t *src;
	uint8_t *dst;
	uint8_t *flat; /* BYTE_RING_CAP bytes, the baseline's staging area */
	size_t flat_pos;
	double budget_s;
};

/* One batch of n operations on chunk-byte payloads; returns a checksum. */
typedef uint64_t (*batch_fn)(struct bench *b, size_t chunk, size_t n);

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t byte_ring_batch(struct bench *b, size_t chunk, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++) {
		b->src[i % chunk] = (uint8_t)i;
		rs_byte_ring_write(b->ring, b->src, chunk);
		rs_byte_ring_read(b->ring, b->dst, chunk);
		rs_byte_ring_release_to(b->ring, rs_byte_ring_mark(b->ring));
		sum += b->dst[i % chunk];
	}
	return sum;
}

static uint64_t memcpy_batch(struct bench *b, size_t chunk, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++) {
		/* Move through the staging area like the ring does, but
		 * restart at zero instead of splitting a chunk. */
		if (b->flat_pos + chunk > BYTE_RING_CAP)
			b->flat_pos = 0;
		b->src[i % chunk] = (uint8_t)i;
		memcpy(b->flat + b->flat_pos, b->src, chunk);
		memcpy(b->dst, b->flat + b->flat_pos, chunk);
		b->flat_pos += chunk;
		sum += b->dst[i % chunk];
	}
	return sum;
}

/* Push REC_BURST datagrams, then take out all but half a burst. */
static uint64_t rec_ring_batch(struct bench *b, size_t len, size_t n)
{
	const struct rs_rec_addr peer = {.family = AF_INET, .port = 5353};
	struct rs_rec rec;
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i += REC_BURST) {
		b->src[i % len] = (uint8_t)i;
		for (size_t k = 0; k < REC_BURST; k++)
			sum += (uint64_t)rs_rec_ring_push(b->recs, &peer,
							  b->src, len);
		while (rs_rec_ring_count(b->recs) > REC_BURST / 2 &&
		       rs_rec_ring_peek(b->recs, &rec) == 0) {
			memcpy(b->dst, rec.data, rec.len);
			sum += b->dst[i % len] + rec.peer->port;
			rs_rec_ring_pop(b->recs);
		}
	}
	return sum;
}

/*
 * Run fn for the budget; returns operations per second.  Batches grow until
 * one takes about a millisecond, so reading the clock costs nothing
 * measurable.
 */
static double measure(struct bench *b, batch_fn fn, size_t chunk)
{
	size_t batch = REC_BURST, ops = 0;
	double start, elapsed;

	sink += fn(b, chunk, batch); /* warm caches and branch predictors */
	start = now_s();
	do {
		double t0 = now_s();

		sink += fn(b, chunk, batch);
		ops += batch;
		if (now_s() - t0 < 1e-3)
			batch *= 2;
		elapsed = now_s() - start;
	} while (elapsed < b->budget_s);
	return (double)ops / elapsed;
}

static void byte_ring_table(struct bench *b)
{
	printf("byte ring (%zu KiB): write a chunk, read it, release it; "
	       "memcpy: the same two copies through a flat buffer\n",
	       BYTE_RING_CAP >> 10);
	printf("%8s %12s %12s %8s %12s\n", "chunk", "ring GB/s", "memcpy GB/s",
	       "ratio", "ring ns/op");
	for (size_t i = 0; i < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]);
	     i++) {
		size_t chunk = chunk_sizes[i];
		double ring_ops = measure(b, byte_ring_batch, chunk);
		double copy_ops = measure(b, memcpy_batch, chunk);
		double ring_gbs = ring_ops * (double)chunk * 1e-9;
		double copy_gbs = copy_ops * (double)chunk * 1e-9;

		printf("%8zu %12.2f %12.2f %8.2f %12.1f\n", chunk, ring_gbs,
		       copy_gbs, ring_gbs / copy_gbs, 1e9 / ring_ops);
	}
}

static void rec_ring_table(struct bench *b)
{
	printf("\nrecord ring (%zu KiB): push, peek, copy out, pop; "
	       "bursts of %d\n",
	       REC_RING_CAP >> 10, REC_BURST);
	printf("%8s %12s %12s %12s\n", "payload", "Mrec/s", "GB/s", "ns/rec");
	for (size_t i = 0; i < sizeof(rec_sizes) / sizeof(rec_sizes[0]); i++) {
		size_t len = rec_sizes[i];
		double ops = measure(b, rec_ring_batch, len);

		printf("%8zu %12.2f %12.2f %12.1f\n", len, ops * 1e-6,
		       ops * (double)len * 1e-9, 1e9 / ops);
	}
}

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [--ms N] [--help]\n"
		"Copy rates through the byte ring next to plain memcpy, and\n"
		"record ring push/pop rates.  Prints tables; never fails on "
		"speed.\n"
		"  --ms N   time budget per measurement in milliseconds "
		"(default %d;\n"
		"           %zu measurements in all)\n"
		"  --help   this text\n",
		prog, DEFAULT_BUDGET_MS,
		2 * sizeof(chunk_sizes) / sizeof(chunk_sizes[0]) +
		    sizeof(rec_sizes) / sizeof(rec_sizes[0]));
}

/* @return 0, 1 when only help was asked for, or -EINVAL. */
static int parse_args(int argc, char **argv, struct bench *b)
{
	long ms = DEFAULT_BUDGET_MS;

	for (int i = 1; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return 1;
		if (strcmp(argv[i], "--ms") != 0 || i + 1 == argc)
			return -EINVAL;
		ms = strtol(argv[++i], &end, 10);
		if (*end != '\0' || ms < 1 || ms > 60000)
			return -EINVAL;
	}
	b->budget_s = (double)ms * 1e-3;
	return 0;
}

static int bench_init(struct bench *b)
{
	b->ring = rs_byte_ring_create(BYTE_RING_CAP, 0);
	b->recs = rs_rec_ring_create(REC_RING_CAP);
	b->src = aligned_alloc(64, MAX_CHUNK);
	b->dst = aligned_alloc(64, MAX_CHUNK);
	b->flat = aligned_alloc(64, BYTE_RING_CAP);
	if (!b->ring || !b->recs || !b->src || !b->dst || !b->flat)
		return -ENOMEM;
	memset(b->src, 0xa5, MAX_CHUNK);
	memset(b->dst, 0, MAX_CHUNK);
	memset(b->flat, 0, BYTE_RING_CAP);
	return 0;
}

static void bench_fini(struct bench *b)
{
	free(b->flat);
	free(b->dst);
	free(b->src);
	rs_rec_ring_free(b->recs);
	rs_byte_ring_free(b->ring);
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	int rc = parse_args(argc, argv, &b);

	if (rc != 0) {
		usage(rc > 0 ? stdout : stderr, argv[0]);
		return rc > 0 ? 0 : 2;
	}
	if (bench_init(&b) < 0) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		bench_fini(&b);
		return 1;
	}
	byte_ring_table(&b);
	rec_ring_table(&b);
	printf("\n(checksum %llu)\n", (unsigned long long)sink);
	bench_fini(&b);
	return 0;
}
