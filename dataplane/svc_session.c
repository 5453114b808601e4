/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sessions: the sockets of a client that is gone for good.
 *
 * A client may name a session when it authenticates (AuthenticateRequest
 * .session: libremsock draws one per connection it opens and gives it
 * again on every reconnect).  The sockets a connection of the session
 * makes or accepts carry it.  While some connection of the session is
 * open, or for [service] session_grace_s after the last one closed (the
 * client may be reconnecting), nothing changes; after that the client
 * is taken to be gone -- a program killed, or ended by _exit(), whose
 * library could not close its sockets -- and each worker closes the
 * session's sockets at its next scan, as the idle reaper does, instead
 * of letting them hold the app's quota until idle_timeout_s.  A client
 * that names no session (App Engine's) keeps today's semantics.
 *
 * The table is shared by the workers (a connection and its sockets may
 * be on different ones): open addressing on (app, id), under a spinlock
 * taken only when a connection authenticates or closes and when a
 * tagged socket is made or freed.  A slot stays while a connection or a
 * socket refers to it (sockets hold its index), so entries never move:
 * a freed slot becomes a tombstone.  A full table leaves a connection
 * without a session (counted), never refused.
 */
#include <string.h>

#include <rte_jhash.h>

#include "svc_pvt.h"

#define TOMB UINT64_MAX /* a freed slot, in a probe chain */

struct svc_session {
	uint64_t id; /* 0: never used; TOMB: freed */
	uint32_t app;
	uint32_t live;	  /* connections authenticated with it, open */
	uint32_t socks;	  /* sockets that carry it */
	uint64_t dead_ns; /* when live fell to 0 */
};

struct svc_sessions {
	rte_spinlock_t lock;
	struct svc_session slot[SVC_SESSIONS];
};

struct svc_sessions *svc_sessions_create(void)
{
	struct svc_sessions *t = calloc(1, sizeof(*t));

	if (t != NULL)
		rte_spinlock_init(&t->lock);
	return t;
}

void svc_sessions_free(struct svc_sessions *t)
{
	free(t);
}

static uint32_t home(uint32_t app, uint64_t id)
{
	return rte_jhash_2words((uint32_t)id, (uint32_t)(id >> 32), app) %
	       SVC_SESSIONS;
}

/* Free @p s once nothing refers to it (lock held). */
static void maybe_free(struct svc_session *s)
{
	if (s->live == 0 && s->socks == 0)
		s->id = TOMB;
}

int32_t svc_session_join(struct svc_worker *w, uint32_t app, uint64_t id)
{
	struct svc_sessions *t = w->sessions;
	uint32_t i = home(app, id), free_i = UINT32_MAX;
	struct svc_session *s = NULL;

	if (id == 0 || id == TOMB)
		return -1;
	rte_spinlock_lock(&t->lock);
	for (uint32_t n = 0; n < SVC_SESSIONS;
	     n++, i = (i + 1) % SVC_SESSIONS) {
		struct svc_session *x = &t->slot[i];

		if (x->id == id && x->app == app) {
			s = x;
			break;
		}
		if (x->id == TOMB && free_i == UINT32_MAX)
			free_i = i;
		if (x->id == 0) {
			if (free_i == UINT32_MAX)
				free_i = i;
			break; /* the chain ends: not there */
		}
	}
	if (s == NULL && free_i != UINT32_MAX) {
		i = free_i;
		s = &t->slot[i];
		*s = (struct svc_session){.id = id, .app = app};
	}
	if (s != NULL)
		__atomic_store_n(&s->live, s->live + 1, __ATOMIC_RELEASE);
	rte_spinlock_unlock(&t->lock);
	if (s == NULL) {
		SVC_CNT_INC(w, sessions_full);
		return -1;
	}
	return (int32_t)i;
}

void svc_session_leave(struct svc_worker *w, int32_t idx)
{
	struct svc_sessions *t = w->sessions;
	struct svc_session *s;

	if (idx < 0)
		return;
	s = &t->slot[idx];
	rte_spinlock_lock(&t->lock);
	if (s->live == 1)
		__atomic_store_n(&s->dead_ns, rs_lcore_now_ns(w->lc),
				 __ATOMIC_RELAXED);
	__atomic_store_n(&s->live, s->live - 1, __ATOMIC_RELEASE);
	maybe_free(s);
	rte_spinlock_unlock(&t->lock);
}

void svc_session_tag(struct svc_worker *w, int32_t idx)
{
	struct svc_sessions *t = w->sessions;

	if (idx < 0)
		return;
	rte_spinlock_lock(&t->lock);
	t->slot[idx].socks++;
	rte_spinlock_unlock(&t->lock);
}

void svc_session_untag(struct svc_worker *w, int32_t idx)
{
	struct svc_sessions *t = w->sessions;

	if (idx < 0)
		return;
	rte_spinlock_lock(&t->lock);
	t->slot[idx].socks--;
	maybe_free(&t->slot[idx]);
	rte_spinlock_unlock(&t->lock);
}

bool svc_session_over(struct svc_worker *w, int32_t idx, uint64_t now,
		      uint64_t grace_ns)
{
	struct svc_session *s;

	if (idx < 0 || grace_ns == 0)
		return false;
	s = &w->sessions->slot[idx];
	/* Read without the lock: a scan that misses a reconnect by a hair
	 * closes what the grace had already given up.  The workers share
	 * one clock origin, but each reads it once a loop round: the
	 * connection's worker may have stamped dead_ns a little after this
	 * worker's now, which is no time at all, not 2^64 ns. */
	return __atomic_load_n(&s->live, __ATOMIC_ACQUIRE) == 0 &&
	       (int64_t)(now -
			 __atomic_load_n(&s->dead_ns, __ATOMIC_RELAXED)) >=
		   (int64_t)grace_ns;
}
