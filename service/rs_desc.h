/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The descriptor table: the socket descriptors handed to apps, and what
 * each stands for.
 *
 * A descriptor is 128 random bits (from getrandom(), drawn in batches
 * when the table's pool runs dry, so neither an insert nor a lookup makes
 * a system call per descriptor), written as 22 base64url characters.  It
 * carries no index, counter or time: knowing any number of descriptors
 * tells nothing about another.
 *
 * Each descriptor is bound to the app that created it: a lookup or a
 * removal by any other app answers "not found", exactly as for a
 * descriptor that never existed.
 *
 * Records live in a fixed array (the table's capacity) with a free list;
 * an open-addressing hash table (linear probing, at most half full, keyed
 * by the descriptor's own random bits) finds them.  Insert, lookup and
 * remove are O(1) and allocate nothing.  Idle records are found by
 * rs_desc_reap(), which walks the array a bounded number of slots per
 * call, resuming where the previous call stopped.
 *
 * The table is the control thread's and is not thread-safe.
 */
#ifndef RS_DESC_H
#define RS_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Characters of a descriptor (no terminator). */
#define RS_DESC_LEN 22

/** Most descriptors a table may hold. */
#define RS_DESC_CAPACITY_MAX (1u << 24)

/** What kind of socket a descriptor stands for. */
enum rs_desc_kind {
	RS_DESC_TCP,	    /**< a stream socket, not listening */
	RS_DESC_TCP_LISTEN, /**< a listening stream socket */
	RS_DESC_UDP,	    /**< a datagram socket */
};

/** What a descriptor stands for.  Callers may change any field but app
 *  through the pointer rs_desc_lookup() returns. */
struct rs_desc_rec {
	void *sock;	      /**< the socket (opaque here) */
	uint64_t last_use_ns; /**< for rs_desc_reap() */
	uint64_t buffered;    /**< bytes buffered, for the app's quota */
	uint32_t app;	      /**< owner; set at insert, never changed */
	uint16_t worker;      /**< index of the owning worker lcore */
	uint8_t kind;	      /**< enum rs_desc_kind */
};

/** A descriptor table (opaque). */
struct rs_desc_table;

/**
 * Create a table.
 *
 * @param capacity  most descriptors at once, 1..RS_DESC_CAPACITY_MAX.
 * @param napps     apps are numbered 0..napps-1.
 * @param err       receives 0, -EINVAL (a size out of range), -ENOMEM, or
 *                  the negative errno of getrandom(); may be NULL.
 * @return the table, or NULL.
 */
struct rs_desc_table *rs_desc_table_create(uint32_t capacity, uint32_t napps,
					   int *err);

/** Free a table (not the sockets its records point to); NULL is ignored. */
void rs_desc_table_free(struct rs_desc_table *t);

/**
 * Add a descriptor.
 *
 * @param t    the table.
 * @param rec  the record; rec->app must be below the table's napps.
 * @param out  receives the descriptor, NUL-terminated.
 * @return 0; -EINVAL for an app out of range; -ENOSPC when the table is
 *   full; the negative errno of getrandom() when the random pool cannot
 *   be refilled.
 */
int rs_desc_insert(struct rs_desc_table *t, const struct rs_desc_rec *rec,
		   char out[RS_DESC_LEN + 1]);

/**
 * Find a descriptor of an app.
 *
 * @param t     the table.
 * @param app   the app asking.
 * @param desc  the descriptor as the app sent it (need not be
 *              NUL-terminated).
 * @param len   bytes of @p desc.
 * @return its record, valid until it is removed; NULL when @p desc is not
 *   a descriptor of @p app (malformed, unknown, removed, or another app's).
 */
struct rs_desc_rec *rs_desc_lookup(struct rs_desc_table *t, uint32_t app,
				   const char *desc, size_t len);

/**
 * Remove a descriptor of an app.
 *
 * @param out  receives a copy of its record (may be NULL).
 * @return 0, or -ENOENT when rs_desc_lookup() would return NULL.
 */
int rs_desc_remove(struct rs_desc_table *t, uint32_t app, const char *desc,
		   size_t len, struct rs_desc_rec *out);

/**
 * Called by rs_desc_reap() for an idle record.
 *
 * @param arg   as given to rs_desc_reap().
 * @param desc  the record's descriptor, NUL-terminated.
 * @param rec   the record.
 * @return true to remove it (the caller then closes rec->sock); false to
 *   keep it (e.g. a call is parked on it).  It must not insert into or
 *   remove from the table itself.
 */
typedef bool (*rs_desc_reap_fn)(void *arg, const char *desc,
				const struct rs_desc_rec *rec);

/**
 * Offer idle records to @p fn, looking at no more than @p budget slots;
 * the next call goes on from there, so repeated calls cover the table.
 *
 * @param now      current time, in the unit of last_use_ns.
 * @param idle_ns  a record is idle when now - last_use_ns >= idle_ns;
 *                 0 reaps nothing.
 * @return records removed.
 */
unsigned rs_desc_reap(struct rs_desc_table *t, uint64_t now, uint64_t idle_ns,
		      unsigned budget, rs_desc_reap_fn fn, void *arg);

/** Descriptors that @p app holds (0 for an app out of range). */
uint32_t rs_desc_count(const struct rs_desc_table *t, uint32_t app);

/** Descriptors in the table. */
uint32_t rs_desc_total(const struct rs_desc_table *t);

#endif /* RS_DESC_H */
