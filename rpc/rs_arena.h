/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Per-call bump allocator.
 *
 * One arena serves one RPC at a time: protobuf-c decodes the request into it,
 * the handler builds its reply in it, and the caller resets it once the
 * response frame is written.  Memory comes in blocks.  The first block is
 * either the caller's (e.g. part of a per-lcore struct) or allocated at
 * creation; further blocks are added only when a call needs more.  Reset
 * keeps the first block and, up to a byte budget, the blocks added since, so
 * the steady state allocates nothing; blocks beyond the budget are freed so
 * that one huge call does not pin its memory for ever.
 *
 * Every pointer handed out is aligned to max_align_t.  An arena is not
 * thread-safe: it belongs to one lcore.
 */
#ifndef RS_ARENA_H
#define RS_ARENA_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/** First block size when the configuration gives none. */
#define RS_ARENA_FIRST_DEFAULT (16u * 1024)

/** Largest block added for growth, unless one request needs more. */
#define RS_ARENA_GROW_MAX (1024u * 1024)

struct rs_arena;

/** How an arena is set up; zero fields take the documented defaults. */
struct rs_arena_conf {
	/** Caller memory for the first block, or NULL to allocate one.  It
	 *  must outlive the arena; the arena never frees it. */
	void *first;
	/** Bytes of @c first (required with it), or bytes to allocate
	 *  (0: RS_ARENA_FIRST_DEFAULT).  Caller memory loses a few bytes to
	 *  alignment and a block header. */
	size_t first_size;
	/** Reset keeps added blocks while all held blocks total at most this
	 *  many bytes (0: keep only the first block). */
	size_t keep;
	/** Most bytes the arena may hold at once, first block included
	 *  (0: no limit).  Bounds what one hostile request can make a decoder
	 *  allocate. */
	size_t limit;
};

/** Counters, for telemetry and for tests. */
struct rs_arena_stats {
	size_t used;	   /**< bytes handed out since the last reset */
	size_t high_water; /**< largest @c used since creation */
	size_t held;	   /**< bytes in all blocks now held */
	unsigned blocks;   /**< blocks now held, the first included */
	uint64_t grows;	   /**< blocks allocated after creation, ever */
	uint64_t
	    failures; /**< allocations refused (limit or no memory), ever */
};

/**
 * Create an arena.
 *
 * @param conf  setup, or NULL for all defaults.
 * @return the arena, or NULL with errno set: EINVAL (caller block without a
 *   size or too small to hold a block header, or first_size above a non-zero
 *   limit), ENOMEM.
 */
struct rs_arena *rs_arena_create(const struct rs_arena_conf *conf);

/**
 * Free the arena and every block it allocated (not caller memory).
 * NULL is allowed.
 */
void rs_arena_destroy(struct rs_arena *arena);

/**
 * Allocate @p size bytes aligned to max_align_t, valid until the next reset.
 *
 * @return the memory, or NULL when the limit is reached or no memory is left
 *   (counted in rs_arena_stats.failures).  A size of 0 yields a valid,
 *   aligned pointer to no bytes.
 */
void *rs_arena_alloc(struct rs_arena *arena, size_t size);

/**
 * Copy a NUL-terminated string into the arena.
 *
 * @return the copy, or NULL as rs_arena_alloc().
 */
char *rs_arena_strdup(struct rs_arena *arena, const char *s);

/**
 * Format a string into the arena, as vsnprintf().
 *
 * @return the string, or NULL as rs_arena_alloc() or on a format error.
 */
char *rs_arena_vprintf(struct rs_arena *arena, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/** As rs_arena_vprintf(), with variable arguments. */
char *rs_arena_printf(struct rs_arena *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * Forget everything allocated since the last reset.  Keeps the first block,
 * and added blocks while the total held stays within the configured keep
 * budget; frees the others.
 */
void rs_arena_reset(struct rs_arena *arena);

/**
 * The protobuf-c allocator over this arena: alloc bumps, free does nothing
 * (the reset frees).  Pass it to protobuf_c_message_unpack(); never call
 * protobuf_c_message_free_unpacked() on what it decoded, just reset.
 *
 * @return a pointer owned by the arena, valid for the arena's life.
 */
ProtobufCAllocator *rs_arena_allocator(struct rs_arena *arena);

/** Fill @p stats with the arena's counters. */
void rs_arena_stats_get(const struct rs_arena *arena,
			struct rs_arena_stats *stats);

#endif /* RS_ARENA_H */
