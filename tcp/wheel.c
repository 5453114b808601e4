/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hierarchical timer wheel: O(1) arm and disarm, pure C, no allocation.
 *
 * Time is counted in ticks of tick_ns.  Six levels of 64 slots: level k
 * holds timers due 64^k to 64^(k+1) - 1 ticks from now, in the slot
 * (expires >> 6k) & 63.  When the clock reaches a multiple of 64^k, the
 * level-k slot whose turn it is moves down ("cascades") to finer levels,
 * so a timer always fires on its own tick, never early and never later
 * than one tick after its deadline.  The range is 64^6 ticks (about two
 * years at 1 ms); a farther deadline is parked in the top level, and each
 * cascade of its slot parks it again until it comes within range, so it
 * reaches level 0 only on its own tick.
 *
 * One bitmap word per level marks its non-empty slots, so the next tick
 * at which anything happens is found with a few bit scans; running the
 * wheel jumps from one such tick to the next, which makes a run after a
 * long idle spell (or a test's virtual clock leaping hours) cheap.
 *
 * Firing detaches the slot's list onto a local head first: a callback may
 * disarm or re-arm any timer, including others of the same slot.
 */

#include "tcp_pvt.h"

#define LEVEL_SHIFT(k) ((unsigned)(k)*RS_TCP_WHEEL_BITS)
#define SLOT_MASK (RS_TCP_WHEEL_SLOTS - 1)
#define RANGE ((uint64_t)1 << LEVEL_SHIFT(RS_TCP_WHEEL_LEVELS))

static void node_reset(struct rs_tcp_timer *h)
{
	h->next = h->prev = h;
}

void rs_tcp_wheel_init(struct rs_tcp_wheel *w, uint64_t tick_ns)
{
	w->now = 0;
	w->tick_ns = tick_ns;
	w->count = 0;
	for (unsigned k = 0; k < RS_TCP_WHEEL_LEVELS; k++) {
		w->bitmap[k] = 0;
		for (unsigned s = 0; s < RS_TCP_WHEEL_SLOTS; s++)
			node_reset(&w->slot[k][s]);
	}
}

void rs_tcp_timer_init(struct rs_tcp_timer *t, uint8_t kind)
{
	t->next = t->prev = NULL;
	t->expires = 0;
	t->level = t->slot = 0;
	t->kind = kind;
}

static void unlink_timer(struct rs_tcp_wheel *w, struct rs_tcp_timer *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	if (t->level != RS_TCP_WHEEL_DETACHED) {
		struct rs_tcp_timer *h = &w->slot[t->level][t->slot];

		if (h->next == h)
			w->bitmap[t->level] &= ~((uint64_t)1 << t->slot);
	}
	t->next = t->prev = NULL;
	w->count--;
}

/* Link @p t (expires already set, >= w->now) into its slot. */
static void place(struct rs_tcp_wheel *w, struct rs_tcp_timer *t)
{
	uint64_t at = t->expires;
	uint64_t delta = at - w->now;
	unsigned level = 0;
	struct rs_tcp_timer *h;

	if (delta >= RANGE) {
		at = w->now + RANGE - 1; /* parked; re-armed when reached */
		delta = RANGE - 1;
	}
	while (level + 1 < RS_TCP_WHEEL_LEVELS &&
	       delta >> LEVEL_SHIFT(level + 1) != 0)
		level++;
	t->level = (uint8_t)level;
	t->slot = (uint8_t)((at >> LEVEL_SHIFT(level)) & SLOT_MASK);
	h = &w->slot[level][t->slot];
	t->prev = h->prev;
	t->next = h;
	h->prev->next = t;
	h->prev = t;
	w->bitmap[level] |= (uint64_t)1 << t->slot;
	w->count++;
}

void rs_tcp_wheel_add(struct rs_tcp_wheel *w, struct rs_tcp_timer *t,
		      uint64_t now, uint64_t deadline)
{
	uint64_t cur = now / w->tick_ns;
	uint64_t at = deadline / w->tick_ns + (deadline % w->tick_ns != 0);

	if (rs_tcp_timer_armed(t))
		unlink_timer(w, t);
	/* An empty wheel may skip ahead to the caller's clock at once. */
	if (w->count == 0 && cur > w->now)
		w->now = cur;
	/* Ticks up to w->now are done: the earliest is the next one. */
	t->expires = at > w->now ? at : w->now + 1;
	place(w, t);
}

void rs_tcp_wheel_del(struct rs_tcp_wheel *w, struct rs_tcp_timer *t)
{
	if (rs_tcp_timer_armed(t))
		unlink_timer(w, t);
}

/* Bits of @p map rotated so that bit 0 is slot @p from. */
static uint64_t rotate_from(uint64_t map, unsigned from)
{
	from &= SLOT_MASK;
	return from == 0 ? map : (map >> from) | (map << (64 - from));
}

/* The first tick after w->now at which level @p k has work, or
 * UINT64_MAX.  Level 0: a slot fires; above: a slot cascades. */
static uint64_t level_next(const struct rs_tcp_wheel *w, unsigned k)
{
	uint64_t base = w->now >> LEVEL_SHIFT(k);
	uint64_t map = w->bitmap[k];

	if (map == 0)
		return UINT64_MAX;
	map = rotate_from(map, (unsigned)(base + 1));
	return (base + 1 + (uint64_t)__builtin_ctzll(map)) << LEVEL_SHIFT(k);
}

static uint64_t next_tick(const struct rs_tcp_wheel *w)
{
	uint64_t best = UINT64_MAX;

	for (unsigned k = 0; k < RS_TCP_WHEEL_LEVELS; k++) {
		uint64_t t = level_next(w, k);

		best = t < best ? t : best;
	}
	return best;
}

/* Move every timer of @p h onto the local list @p out (detached). */
static void detach_slot(struct rs_tcp_timer *h, struct rs_tcp_timer *out)
{
	node_reset(out);
	if (h->next == h)
		return;
	out->next = h->next;
	out->prev = h->prev;
	out->next->prev = out;
	out->prev->next = out;
	node_reset(h);
	for (struct rs_tcp_timer *t = out->next; t != out; t = t->next)
		t->level = RS_TCP_WHEEL_DETACHED;
}

/* Re-place the timers of every level-k slot whose turn is w->now. */
static void cascade(struct rs_tcp_wheel *w)
{
	for (unsigned k = 1; k < RS_TCP_WHEEL_LEVELS; k++) {
		struct rs_tcp_timer local, *t;
		unsigned s;

		if (w->now & (((uint64_t)1 << LEVEL_SHIFT(k)) - 1))
			break; /* not a multiple of 64^k: nor of 64^(k+1) */
		s = (unsigned)((w->now >> LEVEL_SHIFT(k)) & SLOT_MASK);
		if (!(w->bitmap[k] & ((uint64_t)1 << s)))
			continue;
		w->bitmap[k] &= ~((uint64_t)1 << s);
		detach_slot(&w->slot[k][s], &local);
		while ((t = local.next) != &local) {
			unlink_timer(w, t);
			place(w, t); /* expires >= now: a finer level */
		}
	}
}

/* Fire the level-0 slot of tick w->now. */
static unsigned fire_slot(struct rs_tcp_wheel *w, rs_tcp_wheel_fire_fn fire,
			  void *ctx)
{
	unsigned s = (unsigned)(w->now & SLOT_MASK), n = 0;
	struct rs_tcp_timer local, *t;

	if (!(w->bitmap[0] & ((uint64_t)1 << s)))
		return 0;
	w->bitmap[0] &= ~((uint64_t)1 << s);
	detach_slot(&w->slot[0][s], &local);
	while ((t = local.next) != &local) {
		unlink_timer(w, t);
		n++;
		fire(ctx, t);
	}
	return n;
}

unsigned rs_tcp_wheel_run(struct rs_tcp_wheel *w, uint64_t now,
			  rs_tcp_wheel_fire_fn fire, void *ctx)
{
	uint64_t target = now / w->tick_ns;
	unsigned n = 0;

	while (w->now < target) {
		uint64_t next = w->count ? next_tick(w) : UINT64_MAX;

		if (next > target) {
			w->now = target;
			break;
		}
		w->now = next;
		cascade(w);
		n += fire_slot(w, fire, ctx);
	}
	return n;
}

uint64_t rs_tcp_wheel_next(const struct rs_tcp_wheel *w)
{
	uint64_t t;

	if (w->count == 0)
		return UINT64_MAX;
	t = next_tick(w);
	if (t > UINT64_MAX / w->tick_ns)
		return UINT64_MAX - 1;
	return t * w->tick_ns;
}
