/* SPDX-License-Identifier: BSD-3-Clause */
/* Link impairment: decisions, the option parser, the delay heap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "impair.h"

/* xorshift64*: plenty for test traffic, and the same for a seed. */
static uint64_t next(struct impair_state *st)
{
	uint64_t x = st->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	st->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, 1). */
static double uniform(struct impair_state *st)
{
	return (double)(next(st) >> 11) * (1.0 / 9007199254740992.0);
}

void impair_init(struct impair_state *st, const struct impair_conf *c,
		 uint64_t seed)
{
	st->c = *c;
	st->rng = seed != 0 ? seed : 0x9E3779B97F4A7C15ull;
	st->reorder_last = 0;
}

bool impair_active(const struct impair_conf *c)
{
	return c->loss > 0 || c->dup > 0 || c->corrupt > 0 || c->reorder > 0 ||
	       c->delay_us > 0 || c->jitter_us > 0;
}

struct impair_verdict impair_decide(struct impair_state *st)
{
	const struct impair_conf *c = &st->c;
	struct impair_verdict v = {0};
	double u;
	int64_t d;

	if (c->loss > 0 && uniform(st) < c->loss) {
		v.drop = true;
		return v;
	}
	v.dup = c->dup > 0 && uniform(st) < c->dup;
	if (c->corrupt > 0 && uniform(st) < c->corrupt) {
		v.corrupt = true;
		v.corrupt_at = (uint32_t)next(st);
		v.corrupt_bit = (uint8_t)(next(st) & 7);
	}
	if (c->reorder > 0) {
		/* Correlated: the previous outcome again with chance corr,
		 * else a fresh draw; the rate stays c->reorder. */
		u = uniform(st);
		if (uniform(st) >= c->reorder_corr)
			st->reorder_last = u < c->reorder;
		if (st->reorder_last != 0 && c->delay_us > 0) {
			v.reordered = true;
			return v;
		}
	}
	d = c->delay_us;
	if (c->jitter_us > 0)
		d += (int64_t)(next(st) % (2ull * c->jitter_us + 1)) -
		     c->jitter_us;
	v.delay_us = d > 0 ? (uint32_t)d : 0;
	return v;
}

/* ---- options ------------------------------------------------------------- */

static bool percent(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= 0 && v <= 100))
		return false;
	*out = v / 100;
	return true;
}

static bool millis(const char *s, uint32_t *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= 0 && v <= 10000))
		return false;
	*out = (uint32_t)(v * 1000 + 0.5);
	return true;
}

/* "A" or "A:B" into two parts; B may be absent. */
static bool pair(char *v, char **b)
{
	char *colon = strchr(v, ':');

	*b = NULL;
	if (colon != NULL) {
		*colon = '\0';
		*b = colon + 1;
	}
	return true;
}

static bool one(char *kv, struct impair_conf *c)
{
	char *eq = strchr(kv, '='), *b;

	if (eq == NULL)
		return false;
	*eq = '\0';
	if (strcmp(kv, "order") == 0) {
		c->keep_order = strcmp(eq + 1, "keep") == 0;
		return c->keep_order;
	}
	pair(eq + 1, &b);
	if (strcmp(kv, "loss") == 0 && b == NULL)
		return percent(eq + 1, &c->loss);
	if (strcmp(kv, "dup") == 0 && b == NULL)
		return percent(eq + 1, &c->dup);
	if (strcmp(kv, "corrupt") == 0 && b == NULL)
		return percent(eq + 1, &c->corrupt);
	if (strcmp(kv, "reorder") == 0)
		return percent(eq + 1, &c->reorder) &&
		       (b == NULL || percent(b, &c->reorder_corr));
	if (strcmp(kv, "delay") == 0)
		return millis(eq + 1, &c->delay_us) &&
		       (b == NULL || millis(b, &c->jitter_us));
	return false;
}

int impair_parse(const char *s, struct impair_conf *c, char *why,
		 unsigned whylen)
{
	char buf[256], part[256], *save = NULL, *kv;

	memset(c, 0, sizeof(*c));
	if (strcmp(s, "none") == 0)
		return 0;
	if (strlen(s) >= sizeof(buf)) {
		snprintf(why, whylen, "too long");
		return -1;
	}
	strcpy(buf, s);
	for (kv = strtok_r(buf, ",", &save); kv != NULL;
	     kv = strtok_r(NULL, ",", &save)) {
		snprintf(part, sizeof(part), "%s", kv);
		if (!one(kv, c)) {
			snprintf(why, whylen,
				 "'%s' (want loss=P, dup=P, corrupt=P, "
				 "reorder=P[:CORR], delay=MS[:JITTER], "
				 "order=keep; P in percent)",
				 part);
			return -1;
		}
	}
	if (c->reorder > 0 && c->delay_us == 0) {
		snprintf(why, whylen, "reorder needs a delay to overtake");
		return -1;
	}
	if (c->keep_order && c->reorder > 0) {
		snprintf(why, whylen, "order=keep and reorder contradict");
		return -1;
	}
	if (c->jitter_us > c->delay_us) {
		snprintf(why, whylen, "jitter larger than the delay");
		return -1;
	}
	return 0;
}

/* ---- the delay heap --------------------------------------------------------
 */

static bool before(const struct impair_item *a, const struct impair_item *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

int impair_queue_init(struct impair_queue *q, uint32_t cap)
{
	q->h = calloc(cap, sizeof(*q->h));
	q->n = 0;
	q->cap = cap;
	q->seq = 0;
	return q->h != NULL ? 0 : -1;
}

void impair_queue_free(struct impair_queue *q)
{
	free(q->h);
	q->h = NULL;
}

bool impair_queue_push(struct impair_queue *q, uint64_t due, void *pkt)
{
	struct impair_item it = {due, q->seq++, pkt};
	uint32_t i;

	if (q->n == q->cap)
		return false;
	for (i = q->n++; i > 0 && before(&it, &q->h[(i - 1) / 2]);
	     i = (i - 1) / 2)
		q->h[i] = q->h[(i - 1) / 2];
	q->h[i] = it;
	return true;
}

void *impair_queue_pop_due(struct impair_queue *q, uint64_t now)
{
	struct impair_item last;
	void *pkt;
	uint32_t i = 0, c;

	if (q->n == 0 || q->h[0].due > now)
		return NULL;
	pkt = q->h[0].pkt;
	last = q->h[--q->n];
	while ((c = 2 * i + 1) < q->n) {
		if (c + 1 < q->n && before(&q->h[c + 1], &q->h[c]))
			c++;
		if (!before(&q->h[c], &last))
			break;
		q->h[i] = q->h[c];
		i = c;
	}
	q->h[i] = last;
	return pkt;
}
