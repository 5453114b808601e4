/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-call bump allocator (see rs_arena.h).
 *
 * Blocks form a list that starts at the first block.  `cur` is the block
 * being bumped and `off` the next free byte in it.  When a request does not
 * fit, the next block in the list (one kept by an earlier reset) is used if
 * it is big enough; otherwise a new block is linked in right after `cur`, so
 * kept blocks stay available for later requests.  Reset rewinds to the first
 * block and trims the list to the keep budget.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_arena.h"

#define ALIGN _Alignof(max_align_t)

struct block {
	struct block *next;
	size_t size; /* usable bytes in data[] */
	/* max_align_t elements make data[] itself aligned for anything. */
	max_align_t data[];
};

struct rs_arena {
	struct block *first;
	struct block *cur;
	size_t off;
	size_t used;
	size_t high_water;
	size_t held;
	unsigned blocks;
	bool own_first;
	uint64_t grows;
	uint64_t failures;
	size_t keep;
	size_t limit;
	ProtobufCAllocator pb;
};

/* Round up to ALIGN; 0 when that would overflow, which callers treat as
 * "too big" because they only call it for sizes that are not zero. */
static size_t align_up(size_t n)
{
	if (n > SIZE_MAX - (ALIGN - 1))
		return 0;
	return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

static void *pb_alloc(void *data, size_t size)
{
	return rs_arena_alloc(data, size);
}

/* Nothing to do: the whole call's memory goes at the next reset. */
static void pb_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

static struct block *block_in_caller_memory(void *mem, size_t size)
{
	uintptr_t start = (uintptr_t)mem;
	uintptr_t aligned = (start + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
	size_t skip = aligned - start;
	struct block *b = (struct block *)aligned;

	if (mem == NULL || size < skip + sizeof(*b) + ALIGN)
		return NULL;
	b->next = NULL;
	b->size = size - skip - sizeof(*b);
	return b;
}

static struct block *block_alloc(size_t size)
{
	struct block *b;

	if (size > SIZE_MAX - sizeof(*b))
		return NULL;
	b = malloc(sizeof(*b) + size);
	if (b == NULL)
		return NULL;
	b->next = NULL;
	b->size = size;
	return b;
}

struct rs_arena *rs_arena_create(const struct rs_arena_conf *conf)
{
	struct rs_arena_conf c = {0};
	struct rs_arena *a;

	if (conf != NULL)
		c = *conf;
	if (c.first_size == 0 && c.first == NULL)
		c.first_size = RS_ARENA_FIRST_DEFAULT;
	if (c.limit != 0 && c.first_size > c.limit) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		goto err_arena;
	a->own_first = c.first == NULL;
	if (a->own_first)
		a->first = block_alloc(c.first_size);
	else
		a->first = block_in_caller_memory(c.first, c.first_size);
	if (a->first == NULL)
		goto err_first;
	a->cur = a->first;
	a->held = a->first->size;
	a->blocks = 1;
	a->keep = c.keep;
	a->limit = c.limit;
	a->pb.alloc = pb_alloc;
	a->pb.free = pb_free;
	a->pb.allocator_data = a;
	return a;

err_first:
	free(a);
	errno = c.first == NULL ? ENOMEM : EINVAL;
	return NULL;
err_arena:
	errno = ENOMEM;
	return NULL;
}

void rs_arena_destroy(struct rs_arena *arena)
{
	struct block *b, *next;

	if (arena == NULL)
		return;
	for (b = arena->first->next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	if (arena->own_first)
		free(arena->first);
	free(arena);
}

/* Size of a block added for a request of n bytes: double what is held (so a
 * growing workload needs few blocks), bounded by RS_ARENA_GROW_MAX and by the
 * limit, but never less than n. */
static size_t grow_size(const struct rs_arena *a, size_t n)
{
	size_t size = a->held < RS_ARENA_GROW_MAX ? a->held : RS_ARENA_GROW_MAX;

	if (size < n)
		size = n;
	if (a->limit != 0 && size > a->limit - a->held)
		size = n;
	return size;
}

/* Make `cur` a block with n free bytes at off 0. */
static int advance(struct rs_arena *a, size_t n)
{
	struct block *next = a->cur->next;
	struct block *b;
	size_t size;

	if (next != NULL && n <= next->size) {
		a->cur = next;
		a->off = 0;
		return 0;
	}
	size = grow_size(a, n);
	if (a->limit != 0 && size > a->limit - a->held)
		return -ENOBUFS;
	b = block_alloc(size);
	if (b == NULL)
		return -ENOMEM;
	b->next = next;
	a->cur->next = b;
	a->cur = b;
	a->off = 0;
	a->held += size;
	a->blocks++;
	a->grows++;
	return 0;
}

void *rs_arena_alloc(struct rs_arena *arena, size_t size)
{
	size_t n = align_up(size);
	void *p;

	if (n == 0 && size != 0)
		goto err;
	if (n > arena->cur->size - arena->off && advance(arena, n) < 0)
		goto err;
	p = (char *)arena->cur->data + arena->off;
	arena->off += n;
	arena->used += n;
	if (arena->used > arena->high_water)
		arena->high_water = arena->used;
	return p;
err:
	arena->failures++;
	return NULL;
}

char *rs_arena_strdup(struct rs_arena *arena, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = rs_arena_alloc(arena, len);

	if (p != NULL)
		memcpy(p, s, len);
	return p;
}

char *rs_arena_vprintf(struct rs_arena *arena, const char *fmt, va_list ap)
{
	/* Print straight into the free tail of the current block; only when
	 * the text does not fit there is it printed a second time. */
	char *tail = (char *)arena->cur->data + arena->off;
	size_t avail = arena->cur->size - arena->off;
	char *p;
	va_list again;
	int len;

	va_copy(again, ap);
	len = vsnprintf(tail, avail, fmt, ap);
	if (len < 0) {
		p = NULL;
		goto out;
	}
	p = rs_arena_alloc(arena, (size_t)len + 1);
	if (p != NULL && p != tail)
		vsnprintf(p, (size_t)len + 1, fmt, again);
out:
	va_end(again);
	return p;
}

char *rs_arena_printf(struct rs_arena *arena, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = rs_arena_vprintf(arena, fmt, ap);
	va_end(ap);
	return p;
}

void rs_arena_reset(struct rs_arena *arena)
{
	struct block **link = &arena->first->next;
	size_t held = arena->first->size;
	struct block *b;

	while ((b = *link) != NULL) {
		if (held + b->size <= arena->keep) {
			held += b->size;
			link = &b->next;
			continue;
		}
		*link = b->next;
		free(b);
		arena->blocks--;
	}
	arena->held = held;
	arena->cur = arena->first;
	arena->off = 0;
	arena->used = 0;
}

ProtobufCAllocator *rs_arena_allocator(struct rs_arena *arena)
{
	return &arena->pb;
}

void rs_arena_stats_get(const struct rs_arena *arena,
			struct rs_arena_stats *stats)
{
	stats->used = arena->used;
	stats->high_water = arena->high_water;
	stats->held = arena->held;
	stats->blocks = arena->blocks;
	stats->grows = arena->grows;
	stats->failures = arena->failures;
}
