/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TIME-WAIT under connection churn (tcp_conn.c), white-box: an active
 * open reuses a TIME-WAIT 4-tuple only when it is safe (timestamps on
 * the old connection and in the new SYN, TIME-WAIT at least tw_reuse_ns
 * old, the application no longer holding it), with a first TSval beyond
 * the last one sent and an ISS beyond the old snd_max; when the pool is
 * full the oldest TIME-WAIT is evicted (a FIN that restarts TIME-WAIT
 * makes it the youngest); rs_tcp_time_wait_flush() ends them all.
 * Every test ends with the counters it expects and an empty pool.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tcp_pvt.h"

#define MS 1000000ULL
#define SEC (1000 * MS)
#define LPORT 50000
#define PEER_ISN 7000u
#define PEER_TS 100u

static uint32_t ip(const char *s)
{
	uint32_t a;

	inet_pton(AF_INET, s, &a);
	return a;
}

/* The last segment the stack sent, and its TSval (0: none). */
struct sink {
	unsigned n;
	struct rs_tcp_seg last;
	uint32_t tsval;
};

static int sink_emit(void *io, const struct rs_tcp_seg *s)
{
	struct sink *k = io;

	k->n++;
	k->last = *s;
	k->tsval = 0;
	for (unsigned i = 0; i + 10 <= s->opt_len;) {
		uint8_t kind = s->opt[i];

		if (kind == RS_TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (kind == RS_TCP_OPT_EOL)
			break;
		if (kind == RS_TCP_OPT_TS)
			k->tsval = (uint32_t)s->opt[i + 2] << 24 |
				   (uint32_t)s->opt[i + 3] << 16 |
				   (uint32_t)s->opt[i + 4] << 8 | s->opt[i + 5];
		i += s->opt[i + 1];
	}
	return 0;
}

/* A stack with @p ports ephemeral ports from LPORT up. */
static struct rs_tcp_stack *stack(struct sink *k, struct rs_tcp_config *cfg,
				  uint16_t ports)
{
	struct rs_tcp_stack *st;

	memset(k, 0, sizeof(*k));
	cfg->emit = sink_emit;
	cfg->io = k;
	cfg->port_lo = LPORT;
	cfg->port_hi = (uint16_t)(LPORT + ports - 1);
	memcpy(cfg->isn_secret, "test-tw-secret!!", 16);
	st = rs_tcp_stack_create(cfg);
	assert_non_null(st);
	return st;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* A segment from the peer (198.18.0.1:rport -> 198.18.0.2:lport), with
 * the timestamps option when @p ts. */
static void peer_in(struct rs_tcp_stack *st, uint64_t now, uint16_t rport,
		    uint16_t lport, uint32_t seq, uint32_t ack, uint8_t flags,
		    bool ts, uint32_t tsval, uint32_t tsecr)
{
	uint8_t b[32] = {0};
	size_t len = ts ? 32 : 20;

	b[0] = (uint8_t)(rport >> 8);
	b[1] = (uint8_t)rport;
	b[2] = (uint8_t)(lport >> 8);
	b[3] = (uint8_t)lport;
	put32(b + 4, seq);
	put32(b + 8, ack);
	b[12] = (uint8_t)(len / 4) << 4;
	b[13] = flags;
	b[14] = b[15] = 0xff;
	if (ts) {
		b[20] = b[21] = RS_TCP_OPT_NOP;
		b[22] = RS_TCP_OPT_TS;
		b[23] = 10;
		put32(b + 24, tsval);
		put32(b + 28, tsecr);
	}
	rs_tcp_input(st, now, ip("198.18.0.1"), ip("198.18.0.2"), b, len, 0);
}

static struct rs_tcp_conn *open_to(struct rs_tcp_stack *st, uint64_t now,
				   uint16_t lport, uint16_t rport)
{
	return rs_tcp_connect(st, now, ip("198.18.0.2"), lport,
			      ip("198.18.0.1"), rport, NULL, NULL);
}

/* Handshake with the peer offering timestamps when @p ts. */
static void establish(struct rs_tcp_stack *st, struct sink *k,
		      struct rs_tcp_conn *c, uint64_t now, bool ts)
{
	uint32_t iss = k->last.seq;

	assert_int_equal(k->last.flags, RS_TCP_SYN);
	peer_in(st, now, c->tuple.rport, c->tuple.lport, PEER_ISN, iss + 1,
		RS_TCP_SYN | RS_TCP_ACK, ts, PEER_TS, k->tsval);
	assert_int_equal(rs_tcp_state(c), RS_TCP_ESTABLISHED);
}

/* We close first; the peer's FIN acknowledges ours: TIME-WAIT. */
static void close_first(struct rs_tcp_stack *st, struct sink *k,
			struct rs_tcp_conn *c, uint64_t now, bool ts,
			bool let_go)
{
	if (let_go)
		assert_int_equal(rs_tcp_close(c, now), 0);
	else
		assert_int_equal(rs_tcp_shutdown(c, now, RS_TCP_SHUT_WR), 0);
	assert_true(k->last.flags & RS_TCP_FIN);
	peer_in(st, now + MS, c->tuple.rport, c->tuple.lport, PEER_ISN + 1,
		k->last.seq + 1, RS_TCP_FIN | RS_TCP_ACK, ts, PEER_TS + 1,
		k->tsval);
	assert_int_equal(c->state, RS_TCP_TIME_WAIT);
	assert_int_equal(k->last.flags, RS_TCP_ACK); /* the last ACK */
}

/* A connection on (LPORT or an ephemeral port, rport) left in TIME-WAIT,
 * the application having let go of it. */
static struct rs_tcp_conn *make_tw(struct rs_tcp_stack *st, struct sink *k,
				   uint64_t now, uint16_t rport, bool ts)
{
	struct rs_tcp_conn *c = open_to(st, now, 0, rport);

	assert_non_null(c);
	establish(st, k, c, now + MS, ts);
	close_first(st, k, c, now + 2 * MS, ts, true);
	return c;
}

static uint64_t ctr(const struct rs_tcp_stack *st, enum rs_tcp_counter i)
{
	return st->stats.ctr[i];
}

/* End: nothing held, timers run out, pool empty. */
static void finish(struct rs_tcp_stack *st, uint64_t now)
{
	rs_tcp_timers_run(st, now + 48 * 3600 * SEC);
	assert_int_equal(rs_tcp_conn_count(st), 0);
	rs_tcp_stack_destroy(st);
}

/* ---------------------------------------------------------------------- */

static void test_reuse_when_safe(void **state)
{
	struct rs_tcp_config cfg;
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_conn *old, *c;
	struct rs_tcp_info info;
	uint64_t t = 10 * SEC;
	uint32_t old_max, old_ts;

	(void)state;
	rs_tcp_config_init(&cfg);
	cfg.timestamps = true;
	st = stack(&k, &cfg, 1); /* one port: reuse or nothing */
	old = make_tw(st, &k, t, 80, true);
	old_max = old->snd_max;
	old_ts = old->ts_last;
	assert_int_equal(old_ts, k.tsval); /* the last ACK's */
	/* Too young: the only port is taken, and so is the explicit one. */
	errno = 0;
	assert_null(open_to(st, t + 500 * MS, 0, 80));
	assert_int_equal(errno, EADDRNOTAVAIL);
	errno = 0;
	assert_null(open_to(st, t + 500 * MS, LPORT, 80));
	assert_int_equal(errno, EADDRINUSE);
	assert_int_equal(ctr(st, RS_TCP_CTR_TW_REUSED), 0);
	/* One second on: the new connection takes the 4-tuple over. */
	c = open_to(st, t + 1100 * MS, 0, 80);
	assert_non_null(c);
	assert_int_equal(c->tuple.lport, LPORT);
	assert_int_equal(ctr(st, RS_TCP_CTR_TW_REUSED), 1);
	assert_int_equal(rs_tcp_conn_count(st), 1);
	assert_int_equal(k.last.flags, RS_TCP_SYN);
	assert_true(k.tsval != 0 && RS_SEQ_GT(k.tsval, old_ts));
	rs_tcp_info_get(c, &info);
	assert_true(RS_SEQ_GT(info.iss, old_max));
	assert_int_equal(k.last.seq, info.iss);
	/* Again, with the port given explicitly. */
	establish(st, &k, c, t + 1200 * MS, true);
	close_first(st, &k, c, t + 1300 * MS, true, true);
	assert_null(open_to(st, t + 2 * SEC, LPORT, 80));
	c = open_to(st, t + 2400 * MS, LPORT, 80);
	assert_non_null(c);
	assert_int_equal(ctr(st, RS_TCP_CTR_TW_REUSED), 2);
	rs_tcp_abort(c, t + 3 * SEC);
	finish(st, t);
}

/* Every ISN the same (the white-box hook): the clock would put the new
 * ISS on the old sequence space; it goes beyond the old snd_max and the
 * window the peer offered past it (65,535 at least). */
static void test_reuse_iss_beyond(void **state)
{
	struct rs_tcp_config cfg;
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_conn *old, *c;
	uint32_t old_max;

	(void)state;
	rs_tcp_config_init(&cfg);
	cfg.timestamps = true;
	st = stack(&k, &cfg, 1); /* one port: reuse or nothing */
	st->test_isn = true;
	st->test_isn_value = 0xfffffff0u; /* and across the wrap */
	old = make_tw(st, &k, SEC, 80, true);
	old_max = old->snd_max;
	assert_int_equal(old_max, 0xfffffff2u);
	c = open_to(st, 3 * SEC, 0, 80);
	assert_non_null(c);
	assert_int_equal(c->iss, old_max + 65535 + 2);
	assert_int_equal(c->snd_una, c->iss);
	assert_int_equal(c->snd_nxt, c->iss + 1);
	assert_int_equal(k.last.seq, c->iss);
	establish(st, &k, c, 3 * SEC + MS, true);
	assert_int_equal(c->snd_una, c->iss + 1);
	rs_tcp_abort(c, 4 * SEC);
	finish(st, 4 * SEC);
}

/* No timestamps on the old connection (ours off, or the peer's), reuse
 * off, or the application still holding it: the 4-tuple waits 2 MSL. */
static void no_reuse(bool ts_cfg, bool peer_ts, uint64_t reuse_ns, bool let_go)
{
	struct rs_tcp_config cfg;
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_conn *old, *c;

	rs_tcp_config_init(&cfg);
	cfg.timestamps = ts_cfg;
	cfg.tw_reuse_ns = reuse_ns;
	cfg.time_wait_ns = 60 * SEC;
	st = stack(&k, &cfg, 1); /* one port: reuse or nothing */
	old = open_to(st, SEC, 0, 80);
	assert_non_null(old);
	establish(st, &k, old, SEC + MS, peer_ts);
	close_first(st, &k, old, SEC + 2 * MS, peer_ts, let_go);
	errno = 0;
	assert_null(open_to(st, 30 * SEC, 0, 80));
	assert_int_equal(errno, EADDRNOTAVAIL);
	if (!let_go) {
		rs_tcp_close(old, 30 * SEC); /* still TIME-WAIT, an orphan */
		assert_int_equal(rs_tcp_conn_count(st), 1);
	}
	rs_tcp_timers_run(st, 62 * SEC);
	assert_int_equal(rs_tcp_conn_count(st), 0);
	c = open_to(st, 62 * SEC, 0, 80);
	assert_non_null(c);
	assert_int_equal(ctr(st, RS_TCP_CTR_TW_REUSED), 0);
	rs_tcp_abort(c, 62 * SEC);
	finish(st, 62 * SEC);
}

static void test_no_reuse_unsafe(void **state)
{
	(void)state;
	no_reuse(false, true, SEC, true); /* we offer no timestamps */
	no_reuse(true, false, SEC, true); /* the peer offers none */
	no_reuse(true, true, 0, true);	  /* reuse off */
	no_reuse(true, true, SEC, false); /* the application holds it */
}

/* A full pool takes the oldest TIME-WAIT's entry, for an active and for
 * a passive open; a FIN restarting TIME-WAIT makes it the youngest. */
static void test_evict_oldest(void **state)
{
	struct rs_tcp_config cfg;
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_conn *a, *b, *live, *c;
	struct rs_tcp_listener *l;
	struct rs_tcp_tuple ta, tb;

	(void)state;
	rs_tcp_config_init(&cfg);
	cfg.max_conns = 3;
	st = stack(&k, &cfg, 10);
	a = make_tw(st, &k, 1 * SEC, 81, false);
	b = make_tw(st, &k, 2 * SEC, 82, false);
	ta = a->tuple;
	tb = b->tuple;
	/* The peer's FIN again for a: its TIME-WAIT starts over. */
	peer_in(st, 3 * SEC, 81, ta.lport, PEER_ISN + 1, a->snd_max,
		RS_TCP_FIN | RS_TCP_ACK, false, 0, 0);
	assert_int_equal(k.last.flags, RS_TCP_ACK);
	live = open_to(st, 4 * SEC, 0, 83);
	assert_non_null(live);
	assert_int_equal(rs_tcp_conn_count(st), 3);
	/* Active open: b is now the oldest. */
	c = open_to(st, 5 * SEC, 0, 84);
	assert_non_null(c);
	assert_int_equal(ctr(st, RS_TCP_CTR_TW_EVICTED), 1);
	assert_null(rs_tcp_conn_lookup(st, &tb));
	assert_ptr_equal(rs_tcp_conn_lookup(st, &ta), a);
	assert_int_equal(rs_tcp_conn_count(st), 3);
	/* Passive open: a goes. */
	l = rs_tcp_listen(st, ip("198.18.0.2"), 8080, 16, NULL, NULL);
	assert_non_null(l);
	peer_in(st, 6 * SEC, 40000, 8080, PEER_ISN, 0, RS_TCP_SYN, false, 0, 0);
	assert_int_equal(k.last.flags, RS_TCP_SYN | RS_TCP_ACK);
	assert_int_equal(ctr(st, RS_TCP_CTR_TW_EVICTED), 2);
	assert_null(rs_tcp_conn_lookup(st, &ta));
	assert_int_equal(rs_tcp_conn_count(st), 3);
	/* Nothing left to evict: the pool is full. */
	peer_in(st, 7 * SEC, 40001, 8080, PEER_ISN, 0, RS_TCP_SYN, false, 0, 0);
	assert_int_equal(st->stats.drops[RS_TCP_DROP_POOL_FULL], 1);
	errno = 0;
	assert_null(open_to(st, 7 * SEC, 0, 85));
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(ctr(st, RS_TCP_CTR_TW_EVICTED), 2);
	rs_tcp_abort(live, 8 * SEC);
	rs_tcp_abort(c, 8 * SEC);
	rs_tcp_listener_close(l, 8 * SEC);
	finish(st, 8 * SEC);
}

/* A data plane that stops ends its TIME-WAITs at once. */
static void test_time_wait_flush(void **state)
{
	struct rs_tcp_config cfg;
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_conn *live;
	unsigned sent;

	(void)state;
	rs_tcp_config_init(&cfg);
	st = stack(&k, &cfg, 10);
	make_tw(st, &k, 1 * SEC, 81, false);
	make_tw(st, &k, 2 * SEC, 82, false);
	live = open_to(st, 3 * SEC, 0, 83);
	assert_non_null(live);
	sent = k.n;
	assert_int_equal(rs_tcp_time_wait_flush(st), 2);
	assert_int_equal(k.n, sent); /* silently */
	assert_int_equal(rs_tcp_conn_count(st), 1);
	assert_int_equal(ctr(st, RS_TCP_CTR_TW_FLUSHED), 2);
	assert_int_equal(rs_tcp_time_wait_flush(st), 0);
	assert_string_equal(rs_tcp_counter_name(RS_TCP_CTR_TW_REUSED),
			    "tw_reused");
	rs_tcp_abort(live, 4 * SEC);
	finish(st, 4 * SEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reuse_when_safe),
	    cmocka_unit_test(test_reuse_iss_beyond),
	    cmocka_unit_test(test_no_reuse_unsafe),
	    cmocka_unit_test(test_evict_oldest),
	    cmocka_unit_test(test_time_wait_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
