/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The descriptor table.
 *
 * A descriptor's 128 bits are its token; slots[] holds the records and
 * buckets[] (a power of two, at least twice the capacity, so at most half
 * full) maps a token to its slot: bucket = low bits of the token's second
 * word, then linear probing; removal shifts the following entries back
 * (no tombstones), so a lookup stops at the first empty bucket.
 *
 * Tokens are compared whole, without an early exit.  How long a probe
 * takes depends on which buckets are in use, which could tell a patient
 * attacker the low ~log2(buckets) bits of some tokens: the other 100-odd
 * bits stay unguessable.  The app is compared after the token, and a
 * mismatch answers exactly as an unknown token does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "rs_desc.h"

/* Tokens drawn from getrandom() at once. */
#define POOL_TOKENS 256

#define NO_SLOT UINT32_MAX

struct slot {
	uint64_t tok[2];
	struct rs_desc_rec rec;
	uint32_t next_free; /* NO_SLOT when in use or last free */
	bool used;
};

struct rs_desc_table {
	struct slot *slots;
	uint32_t capacity;
	uint32_t free_head;
	uint32_t total;
	uint32_t reap_cursor;
	uint32_t *buckets; /* slot index + 1; 0 = empty */
	uint32_t mask;	   /* buckets - 1 */
	uint32_t napps;
	uint32_t *count; /* per app */
	uint64_t pool[2 * POOL_TOKENS];
	unsigned pool_left; /* tokens not yet used, at the pool's end */
};

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- text form: base64url of the 16 bytes, little-endian words -------- */

static void encode(const uint64_t tok[2], char out[RS_DESC_LEN + 1])
{
	uint8_t b[18] = {0};
	uint32_t v;

	for (unsigned i = 0; i < 16; i++)
		b[i] = (uint8_t)(tok[i / 8] >> (8 * (i % 8)));
	for (unsigned i = 0, o = 0; o < RS_DESC_LEN; i += 3) {
		v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
		for (unsigned k = 0; k < 4 && o < RS_DESC_LEN; k++)
			out[o++] = b64[(v >> (18 - 6 * k)) & 63];
	}
	out[RS_DESC_LEN] = '\0';
}

static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* The inverse of encode(); false for anything encode() cannot write (the
 * last character's 4 unused bits must be 0, so each token has one form). */
static bool decode(const char *s, size_t len, uint64_t tok[2])
{
	uint8_t b[18] = {0};
	int v;

	if (len != RS_DESC_LEN)
		return false;
	for (unsigned o = 0; o < RS_DESC_LEN; o++) {
		v = sextet(s[o]);
		if (v < 0)
			return false;
		/* Sextet o holds bits 6o..6o+5 of the big-endian stream. */
		for (unsigned k = 0; k < 6; k++)
			if (v & (32 >> k))
				b[(6 * o + k) / 8] |=
				    (uint8_t)(0x80 >> ((6 * o + k) % 8));
	}
	if (b[16] != 0)
		return false;
	tok[0] = tok[1] = 0;
	for (unsigned i = 0; i < 16; i++)
		tok[i / 8] |= (uint64_t)b[i] << (8 * (i % 8));
	return true;
}

/* ---- the random pool ---------------------------------------------------- */

static int refill(struct rs_desc_table *t)
{
	uint8_t *p = (uint8_t *)t->pool;
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(t->pool)) {
		n = getrandom(p + got, sizeof(t->pool) - got, 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		got += n > 0 ? (size_t)n : 0;
	}
	t->pool_left = POOL_TOKENS;
	return 0;
}

/* Take a token out of the pool, and wipe it there. */
static int draw(struct rs_desc_table *t, uint64_t tok[2])
{
	uint64_t *p;
	int rc;

	if (t->pool_left == 0) {
		rc = refill(t);
		if (rc < 0)
			return rc;
	}
	p = &t->pool[2 * --t->pool_left];
	tok[0] = p[0];
	tok[1] = p[1];
	p[0] = p[1] = 0;
	return 0;
}

/* ---- the hash ------------------------------------------------------------ */

static uint32_t home(const struct rs_desc_table *t, const uint64_t tok[2])
{
	return (uint32_t)tok[1] & t->mask;
}

/* The bucket that holds @p tok, or the empty one where it would go. */
static uint32_t probe(const struct rs_desc_table *t, const uint64_t tok[2])
{
	const struct slot *s;
	uint32_t i = home(t, tok);

	while (t->buckets[i] != 0) {
		s = &t->slots[t->buckets[i] - 1];
		if (((s->tok[0] ^ tok[0]) | (s->tok[1] ^ tok[1])) == 0)
			break;
		i = (i + 1) & t->mask;
	}
	return i;
}

/* Empty bucket @p i, moving back the entries that probed past it. */
static void unlink_bucket(struct rs_desc_table *t, uint32_t i)
{
	uint32_t j = i, k;

	t->buckets[i] = 0;
	for (;;) {
		j = (j + 1) & t->mask;
		if (t->buckets[j] == 0)
			return;
		k = home(t, t->slots[t->buckets[j] - 1].tok);
		/* Movable when its home is not in (i, j], cyclically. */
		if (((j - k) & t->mask) >= ((j - i) & t->mask)) {
			t->buckets[i] = t->buckets[j];
			t->buckets[j] = 0;
			i = j;
		}
	}
}

/* ---- the table ----------------------------------------------------------- */

struct rs_desc_table *rs_desc_table_create(uint32_t capacity, uint32_t napps,
					   int *err)
{
	struct rs_desc_table *t;
	uint32_t nb = 2;
	int rc = -EINVAL;

	if (capacity == 0 || capacity > RS_DESC_CAPACITY_MAX || napps == 0)
		goto err_out;
	while (nb < 2 * capacity)
		nb *= 2;
	rc = -ENOMEM;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto err_out;
	t->slots = calloc(capacity, sizeof(*t->slots));
	t->buckets = calloc(nb, sizeof(*t->buckets));
	t->count = calloc(napps, sizeof(*t->count));
	if (t->slots == NULL || t->buckets == NULL || t->count == NULL)
		goto err_free;
	t->capacity = capacity;
	t->mask = nb - 1;
	t->napps = napps;
	for (uint32_t i = 0; i < capacity; i++)
		t->slots[i].next_free = i + 1 < capacity ? i + 1 : NO_SLOT;
	t->free_head = 0;
	rc = refill(t);
	if (rc < 0)
		goto err_free;
	if (err != NULL)
		*err = 0;
	return t;

err_free:
	rs_desc_table_free(t);
err_out:
	if (err != NULL)
		*err = rc;
	return NULL;
}

void rs_desc_table_free(struct rs_desc_table *t)
{
	if (t == NULL)
		return;
	free(t->count);
	free(t->buckets);
	free(t->slots);
	memset(t->pool, 0, sizeof(t->pool));
	free(t);
}

int rs_desc_insert(struct rs_desc_table *t, const struct rs_desc_rec *rec,
		   char out[RS_DESC_LEN + 1])
{
	uint64_t tok[2];
	uint32_t b, idx = t->free_head;
	struct slot *s;
	int rc;

	if (rec->app >= t->napps)
		return -EINVAL;
	if (idx == NO_SLOT)
		return -ENOSPC;
	do { /* a repeat is a 2^-128 event, but costs nothing to rule out */
		rc = draw(t, tok);
		if (rc < 0)
			return rc;
		b = probe(t, tok);
	} while (t->buckets[b] != 0);
	s = &t->slots[idx];
	t->free_head = s->next_free;
	s->next_free = NO_SLOT;
	s->used = true;
	s->tok[0] = tok[0];
	s->tok[1] = tok[1];
	s->rec = *rec;
	t->buckets[b] = idx + 1;
	t->count[rec->app]++;
	t->total++;
	encode(tok, out);
	return 0;
}

/* The bucket of @p app's descriptor @p desc, or -1. */
static int64_t find(const struct rs_desc_table *t, uint32_t app,
		    const char *desc, size_t len)
{
	uint64_t tok[2];
	uint32_t b;

	if (desc == NULL || !decode(desc, len, tok))
		return -1;
	b = probe(t, tok);
	if (t->buckets[b] == 0 || t->slots[t->buckets[b] - 1].rec.app != app)
		return -1;
	return b;
}

struct rs_desc_rec *rs_desc_lookup(struct rs_desc_table *t, uint32_t app,
				   const char *desc, size_t len)
{
	int64_t b = find(t, app, desc, len);

	return b < 0 ? NULL : &t->slots[t->buckets[b] - 1].rec;
}

static void release(struct rs_desc_table *t, uint32_t bucket)
{
	uint32_t idx = t->buckets[bucket] - 1;
	struct slot *s = &t->slots[idx];

	unlink_bucket(t, bucket);
	t->count[s->rec.app]--;
	t->total--;
	memset(s, 0, sizeof(*s));
	s->next_free = t->free_head;
	t->free_head = idx;
}

int rs_desc_remove(struct rs_desc_table *t, uint32_t app, const char *desc,
		   size_t len, struct rs_desc_rec *out)
{
	int64_t b = find(t, app, desc, len);

	if (b < 0)
		return -ENOENT;
	if (out != NULL)
		*out = t->slots[t->buckets[b] - 1].rec;
	release(t, (uint32_t)b);
	return 0;
}

unsigned rs_desc_reap(struct rs_desc_table *t, uint64_t now, uint64_t idle_ns,
		      unsigned budget, rs_desc_reap_fn fn, void *arg)
{
	char desc[RS_DESC_LEN + 1];
	unsigned removed = 0;
	struct slot *s;

	if (idle_ns == 0)
		return 0;
	for (unsigned n = 0; n < budget && n < t->capacity; n++) {
		s = &t->slots[t->reap_cursor];
		t->reap_cursor =
		    t->reap_cursor + 1 < t->capacity ? t->reap_cursor + 1 : 0;
		if (!s->used || now < s->rec.last_use_ns ||
		    now - s->rec.last_use_ns < idle_ns)
			continue;
		encode(s->tok, desc);
		if (!fn(arg, desc, &s->rec))
			continue;
		release(t, probe(t, s->tok));
		removed++;
	}
	return removed;
}

uint32_t rs_desc_count(const struct rs_desc_table *t, uint32_t app)
{
	return app < t->napps ? t->count[app] : 0;
}

uint32_t rs_desc_total(const struct rs_desc_table *t)
{
	return t->total;
}
