/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Link impairment for the testbed's bridge, after netem's model: loss,
 * duplication, corruption, delay with jitter, and reordering, each with
 * its own probability, per direction.
 *
 * Why here: this machine's kernel has no sch_netem (nor tc classifiers),
 * so the impairment that netem would put on the namespace's interface is
 * put on the wire between the proxy and the namespace instead, in both
 * directions, which is what the fault tests need.
 *
 * The decisions (impair_decide()) are pure and seeded, so a unit test
 * checks their rates; the bridge applies them to mbufs and keeps delayed
 * frames in a heap ordered by due time (impair_queue_*).  As in netem,
 * jitter may reorder delayed frames, and a frame picked by the reorder
 * probability skips the delay and so overtakes those in flight
 * (netem's "delay D reorder P C": meaningful only with a delay).
 * Correlation (reorder's) makes outcomes come in runs: with chance C a
 * frame repeats the previous frame's outcome, else it draws afresh.
 * Unlike netem's u = C * u_prev + (1 - C) * fresh, which narrows the
 * draws and so lowers the rate it is given, this keeps the rate.
 */
#ifndef RS_IMPAIR_H
#define RS_IMPAIR_H

#include <stdbool.h>
#include <stdint.h>

/** What to do to a direction; probabilities in [0, 1]. */
struct impair_conf {
	double loss;
	double dup;
	double corrupt;
	double reorder;	     /* skip the delay */
	double reorder_corr; /* correlation of the reorder draws */
	uint32_t delay_us;
	uint32_t jitter_us; /* delay is uniform in delay +- jitter */
	bool keep_order;    /* jitter never lets a frame overtake another
			       (a frame leaves no earlier than the one
			       before it): a path's varying queues, not
			       netem's reordering jitter */
};

/** The fate of one frame. */
struct impair_verdict {
	bool drop;
	bool dup;
	bool corrupt;
	uint32_t corrupt_at; /* a draw, for the byte to flip (mod len) */
	uint8_t corrupt_bit; /* which bit */
	uint32_t delay_us;   /* 0: now */
	bool reordered;	     /* skipped a delay */
};

struct impair_state {
	struct impair_conf c;
	uint64_t rng;
	double reorder_last;
};

/**
 * Parse "loss=P,dup=P,corrupt=P,reorder=P[:C],delay=MS[:JITTER_MS],order=keep"
 * (percentages for P and C, milliseconds, decimals allowed; any subset,
 * in any order; "none" for nothing).
 *
 * @return 0, or -1 with @p why naming the bad part.
 */
int impair_parse(const char *s, struct impair_conf *c, char *why,
		 unsigned whylen);

/** Seed a direction's state. */
void impair_init(struct impair_state *st, const struct impair_conf *c,
		 uint64_t seed);

/** @return whether @p c does anything at all. */
bool impair_active(const struct impair_conf *c);

/** Decide one frame's fate. */
struct impair_verdict impair_decide(struct impair_state *st);

/** Delayed frames: a binary min-heap by due time, FIFO among equals. */
struct impair_item {
	uint64_t due;
	uint64_t seq;
	void *pkt;
};

struct impair_queue {
	struct impair_item *h;
	uint32_t n, cap;
	uint64_t seq;
};

/** @return 0, or -1 without memory. */
int impair_queue_init(struct impair_queue *q, uint32_t cap);
void impair_queue_free(struct impair_queue *q);
/** @return false when full (the caller drops the frame). */
bool impair_queue_push(struct impair_queue *q, uint64_t due, void *pkt);
/** The earliest frame due at or before @p now, or NULL. */
void *impair_queue_pop_due(struct impair_queue *q, uint64_t now);

#endif /* RS_IMPAIR_H */
