/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The far peers, on the load generator's own address: what the server's
 * proxied sockets connect to.
 *
 *   source (LG_PORT_SOURCE)  sends the pattern stream as fast as the
 *                            connection takes it, until the other side
 *                            closes
 *   sink   (LG_PORT_SINK)    reads and drops (with --verify, checks
 *                            every byte against the pattern)
 *   echo   (LG_PORT_ECHO)    sends back what it reads
 *
 * Each connection is a small record; a source sends slices of the one
 * pattern buffer, so no peer copies more than its transport does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "lg.h"

enum peer_kind { P_SOURCE, P_SINK, P_ECHO };

#define ECHO_BUF 65536
#define SOURCE_CHUNK 65536

struct peer {
	LIST_ENTRY(peer) link;
	enum peer_kind kind;
	struct lg_sock *s;
	uint64_t off;	  /* source: bytes sent; sink: bytes read */
	uint32_t pending; /* echo: bytes read, not yet sent back */
	uint32_t sent;	  /* echo: of those, sent */
	uint8_t *buf;	  /* echo */
};

static struct lg_sock *listeners[3];
static LIST_HEAD(, peer) peers = LIST_HEAD_INITIALIZER(peers);
static uint8_t drop_buf[65536];
uint64_t lg_peer_verify_errors;

static void peer_free(struct peer *p)
{
	LIST_REMOVE(p, link);
	lg.io->close(p->s);
	free(p->buf);
	free(p);
}

static bool source_fill(struct peer *p)
{
	for (;;) {
		ssize_t n = lg.io->send(
		    p->s, lg.pattern + p->off % LG_PATTERN_MOD, SOURCE_CHUNK);

		if (n == -EAGAIN)
			return true;
		if (n < 0)
			return false;
		p->off += (uint64_t)n;
	}
}

static bool sink_drain(struct peer *p)
{
	for (;;) {
		ssize_t n = lg.io->recv(p->s, drop_buf, sizeof(drop_buf));

		if (n == -EAGAIN)
			return true;
		if (n <= 0)
			return false;
		if (lg.o->verify &&
		    memcmp(drop_buf, lg.pattern + p->off % LG_PATTERN_MOD,
			   (size_t)n) != 0)
			lg_peer_verify_errors++;
		p->off += (uint64_t)n;
	}
}

/* Send back what is pending, then read more; @return false when done. */
static bool echo_pump(struct peer *p)
{
	for (;;) {
		while (p->sent < p->pending) {
			ssize_t n = lg.io->send(p->s, p->buf + p->sent,
						p->pending - p->sent);

			if (n == -EAGAIN)
				return true;
			if (n < 0)
				return false;
			p->sent += (uint32_t)n;
		}
		p->pending = p->sent = 0;
		ssize_t n = lg.io->recv(p->s, p->buf, ECHO_BUF);

		if (n == -EAGAIN)
			return true;
		if (n <= 0)
			return false;
		p->pending = (uint32_t)n;
	}
}

static void peer_event(struct lg_sock *s, unsigned ev, void *user)
{
	struct peer *p = user;
	bool alive = true;

	(void)s;
	if (ev & (LG_EV_ERROR | LG_EV_CLOSED)) {
		peer_free(p);
		return;
	}
	switch (p->kind) {
	case P_SOURCE:
		/* What the other side sends is dropped; its EOF ends us. */
		if (ev & LG_EV_READ)
			alive = sink_drain(p);
		if (alive && (ev & LG_EV_WRITE))
			alive = source_fill(p);
		break;
	case P_SINK:
		alive = sink_drain(p);
		break;
	case P_ECHO:
		alive = echo_pump(p);
		break;
	}
	if (!alive)
		peer_free(p);
}

static void listener_event(struct lg_sock *l, unsigned ev, void *user)
{
	enum peer_kind kind = (enum peer_kind)(uintptr_t)user;
	struct peer *p;

	(void)ev;
	for (;;) {
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return;
		p->kind = kind;
		if (kind == P_ECHO && (p->buf = malloc(ECHO_BUF)) == NULL) {
			free(p);
			return;
		}
		p->s = lg.io->accept(l, peer_event, p);
		if (p->s == NULL) {
			free(p->buf);
			free(p);
			return;
		}
		LIST_INSERT_HEAD(&peers, p, link);
		/* Start at once: a new connection's first event may never
		 * come if nothing is sent to it. */
		peer_event(p->s, kind == P_SOURCE ? LG_EV_WRITE : LG_EV_READ,
			   p);
	}
}

int lg_peers_start(void)
{
	static const uint16_t port[] = {LG_PORT_SOURCE, LG_PORT_SINK,
					LG_PORT_ECHO};
	struct sockaddr_in at = lg.o->self;

	for (unsigned k = 0; k < 3; k++) {
		at.sin_port = htons(port[k]);
		listeners[k] =
		    lg.io->listen(&at, listener_event, (void *)(uintptr_t)k);
		if (listeners[k] == NULL) {
			lg_fail("peers: cannot listen on port %u: %s", port[k],
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

void lg_peers_stop(void)
{
	while (!LIST_EMPTY(&peers))
		peer_free(LIST_FIRST(&peers));
	for (unsigned k = 0; k < 3; k++)
		if (listeners[k] != NULL) {
			lg.io->close(listeners[k]);
			listeners[k] = NULL;
		}
}
