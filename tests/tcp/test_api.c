/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TCP core through its public API, where packet scripts cannot go:
 * configuration checks, ephemeral ports with the port_ok hook, handle
 * lifetime inside event callbacks, the zero-copy paths, the timer hint,
 * random garbage thrown at a busy stack (never a crash, pool bounded),
 * and two stacks talking over a lossy, reordering, duplicating wire
 * (every byte arrives once and in order, both pools end empty), also
 * with timestamps and SACK on (every segment but RSTs carries TSval,
 * spurious fast retransmits undone, SACK recovery resends holes).
 *
 * RS_TEST_SEED=<n> replays the randomized tests.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_tcp.h"
#include "tcp_pvt.h" /* test_ack_far_from_iss() moves the ISN */

#define MS 1000000ULL
#define SEC (1000 * MS)

static uint64_t seed = 20240601;

static uint32_t rnd(void)
{
	seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(seed >> 33);
}

static uint32_t ip(const char *s)
{
	uint32_t a;

	inet_pton(AF_INET, s, &a);
	return a;
}

/* ---------------------------------------------------------------------- */
/* A stack whose segments are only counted or kept                        */
/* ---------------------------------------------------------------------- */

struct sink {
	unsigned n;
	struct rs_tcp_seg last;
	uint8_t data[2048];
	uint32_t data_len;
	const uint8_t *ring_lo, *ring_hi; /* payload must come from here */
	bool two_pieces;
};

static int sink_emit(void *io, const struct rs_tcp_seg *s)
{
	struct sink *k = io;

	k->n++;
	k->last = *s;
	k->data_len = s->payload_len < sizeof(k->data) ? s->payload_len : 0;
	if (k->data_len) {
		memcpy(k->data, s->payload.seg[0].ptr, s->payload.seg[0].len);
		memcpy(k->data + s->payload.seg[0].len, s->payload.seg[1].ptr,
		       s->payload.seg[1].len);
	}
	for (int i = 0; i < 2 && k->ring_lo; i++) {
		if (s->payload.seg[i].len == 0)
			continue;
		assert_true(s->payload.seg[i].ptr >= k->ring_lo);
		assert_true(s->payload.seg[i].ptr + s->payload.seg[i].len <=
			    k->ring_hi);
	}
	if (s->payload.seg[1].len)
		k->two_pieces = true;
	return 0;
}

static struct rs_tcp_stack *sink_stack(struct sink *k,
				       struct rs_tcp_config *cfg)
{
	struct rs_tcp_stack *st;

	memset(k, 0, sizeof(*k));
	cfg->emit = sink_emit;
	cfg->io = k;
	memcpy(cfg->isn_secret, "test-api-secret!", 16);
	st = rs_tcp_stack_create(cfg);
	assert_non_null(st);
	return st;
}

/* Build a segment from the peer (198.18.0.1:rport -> 198.18.0.2:lport). */
static size_t seg(uint8_t *b, uint16_t rport, uint16_t lport, uint32_t seq,
		  uint32_t ack, uint8_t flags, uint16_t win, uint32_t len)
{
	memset(b, 0, 20);
	b[0] = (uint8_t)(rport >> 8);
	b[1] = (uint8_t)rport;
	b[2] = (uint8_t)(lport >> 8);
	b[3] = (uint8_t)lport;
	for (int i = 0; i < 4; i++) {
		b[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		b[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	b[12] = 5 << 4;
	b[13] = flags;
	b[14] = (uint8_t)(win >> 8);
	b[15] = (uint8_t)win;
	for (uint32_t i = 0; i < len; i++)
		b[20 + i] = (uint8_t)(i + 1);
	return 20 + len;
}

/* ---------------------------------------------------------------------- */

static void test_config_checked(void **state)
{
	struct rs_tcp_config cfg;

	(void)state;
	rs_tcp_config_init(&cfg);
	errno = 0;
	assert_null(rs_tcp_stack_create(&cfg)); /* no emit */
	assert_int_equal(errno, EINVAL);
	cfg.emit = sink_emit;
	cfg.rcv_buf = 3000;
	assert_null(rs_tcp_stack_create(&cfg));
	rs_tcp_config_init(&cfg);
	cfg.emit = sink_emit;
	cfg.rto_min_ns = 2 * SEC;
	cfg.rto_max_ns = 1 * SEC;
	assert_null(rs_tcp_stack_create(&cfg));
	rs_tcp_config_init(&cfg);
	cfg.emit = sink_emit;
	cfg.port_lo = 2000;
	cfg.port_hi = 1000;
	assert_null(rs_tcp_stack_create(&cfg));
	rs_tcp_config_init(&cfg);
	assert_int_equal(cfg.cc, RS_TCP_CC_NEWRENO);
	cfg.emit = sink_emit;
	cfg.cc = RS_TCP_CC_MAX;
	assert_null(rs_tcp_stack_create(&cfg));
	assert_null(rs_tcp_stack_create(NULL));
	assert_string_equal(rs_tcp_state_name(RS_TCP_TIME_WAIT), "TIME_WAIT");
	assert_null(rs_tcp_state_name(RS_TCP_STATE_MAX));
	assert_string_equal(rs_tcp_drop_name(RS_TCP_DROP_BAD_DOFF), "bad_doff");
	assert_null(rs_tcp_drop_name(RS_TCP_DROP_MAX));
	assert_string_equal(rs_tcp_counter_name(RS_TCP_CTR_RTO_FIRED),
			    "rto_fired");
}

/* The port hooks' record: port_ok calls, and each port's users as
 * port_use counts them, by how they came by it. */
struct port_log {
	unsigned asked, asked_any;
	bool any_ok;	  /* the second round takes port 50003 */
	int used[8];	  /* ports 50000..50007, hashed */
	int claimed[8];	  /* ... taken in the second round */
	int refuse_claim; /* port_use(+1, ANY) fails this many times */
};

static bool only_even(void *ctx, uint32_t laddr, uint16_t lport, uint32_t raddr,
		      uint16_t rport, bool any)
{
	struct port_log *log = ctx;

	(void)laddr;
	(void)raddr;
	(void)rport;
	if (any) {
		log->asked_any++;
		return log->any_ok && lport == 50003;
	}
	log->asked++;
	return (lport & 1) == 0;
}

static int port_count(void *ctx, uint16_t lport, int delta,
		      enum rs_tcp_port_how how)
{
	struct port_log *log = ctx;
	int *n;

	assert_true(how == RS_TCP_PORT_HASHED || how == RS_TCP_PORT_ANY);
	assert_true(lport >= 50000 && lport <= 50007);
	if (how == RS_TCP_PORT_ANY && delta > 0 && log->refuse_claim > 0) {
		log->refuse_claim--;
		return -EADDRINUSE;
	}
	n = how == RS_TCP_PORT_ANY ? &log->claimed[lport - 50000]
				   : &log->used[lport - 50000];
	*n += delta;
	assert_true(*n >= 0);
	return 0;
}

static void test_ephemeral_ports(void **state)
{
	struct rs_tcp_config cfg;
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_conn *c[8] = {NULL};
	struct rs_tcp_tuple t;
	struct port_log log = {0};

	(void)state;
	rs_tcp_config_init(&cfg);
	cfg.port_lo = 50000;
	cfg.port_hi = 50007;
	cfg.port_ok = only_even;
	cfg.port_use = port_count;
	cfg.port_ctx = &log;
	st = sink_stack(&k, &cfg);
	/* Four even ports in the range: four connections to one peer. */
	for (int i = 0; i < 4; i++) {
		c[i] = rs_tcp_connect(st, 0, ip("198.18.0.2"), 0,
				      ip("198.18.0.1"), 80, NULL, NULL);
		assert_non_null(c[i]);
		rs_tcp_tuple_get(c[i], &t);
		assert_true(t.lport >= 50000 && t.lport <= 50007);
		assert_int_equal(t.lport & 1, 0);
		for (int j = 0; j < i; j++) {
			struct rs_tcp_tuple u;

			rs_tcp_tuple_get(c[j], &u);
			assert_int_not_equal(u.lport, t.lport);
		}
	}
	assert_true(log.asked >= 4);
	assert_int_equal(log.asked_any, 0); /* the first round had ports */
	/* port_use: one user on each even port, none on the odd ones. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(log.used[i], (i & 1) == 0 ? 1 : 0);
	/* No even port left: the second round, which takes none here. */
	errno = 0;
	assert_null(rs_tcp_connect(st, 0, ip("198.18.0.2"), 0, ip("198.18.0.1"),
				   80, NULL, NULL));
	assert_int_equal(errno, EADDRNOTAVAIL);
	assert_int_equal(log.asked_any, 4); /* the four odd ports */
	/* The second round takes 50003; its claim failing fails the
	 * connect and leaves nothing counted. */
	log.any_ok = true;
	log.refuse_claim = 1;
	errno = 0;
	assert_null(rs_tcp_connect(st, 0, ip("198.18.0.2"), 0, ip("198.18.0.1"),
				   80, NULL, NULL));
	assert_int_equal(errno, EADDRNOTAVAIL);
	assert_int_equal(rs_tcp_conn_count(st), 4);
	c[5] = rs_tcp_connect(st, 0, ip("198.18.0.2"), 0, ip("198.18.0.1"), 80,
			      NULL, NULL);
	assert_non_null(c[5]);
	rs_tcp_tuple_get(c[5], &t);
	assert_int_equal(t.lport, 50003);
	assert_int_equal(log.claimed[3], 1);
	rs_tcp_abort(c[5], 0);
	assert_int_equal(log.claimed[3], 0);
	log.any_ok = false;
	/* Another destination may reuse the same local ports. */
	c[4] = rs_tcp_connect(st, 0, ip("198.18.0.2"), 0, ip("198.18.0.1"), 81,
			      NULL, NULL);
	assert_non_null(c[4]);
	rs_tcp_tuple_get(c[4], &t);
	assert_int_equal(log.used[t.lport - 50000], 2);
	for (int i = 0; i < 5; i++)
		rs_tcp_abort(c[i], 0);
	assert_int_equal(rs_tcp_conn_count(st), 0);
	/* Every connection freed gave its port back. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(log.used[i], 0);
	rs_tcp_stack_destroy(st);
}

static void test_pool_full(void **state)
{
	struct rs_tcp_config cfg;
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_conn *a, *b;

	(void)state;
	rs_tcp_config_init(&cfg);
	cfg.max_conns = 1;
	st = sink_stack(&k, &cfg);
	a = rs_tcp_connect(st, 0, ip("198.18.0.2"), 0, ip("198.18.0.1"), 80,
			   NULL, NULL);
	assert_non_null(a);
	errno = 0;
	b = rs_tcp_connect(st, 0, ip("198.18.0.2"), 0, ip("198.18.0.1"), 81,
			   NULL, NULL);
	assert_null(b);
	assert_int_equal(errno, ENOBUFS);
	errno = 0;
	assert_null(
	    rs_tcp_connect(st, 0, 0, 0, ip("198.18.0.1"), 81, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	rs_tcp_abort(a, 0);
	rs_tcp_stack_destroy(st);
}

/* Event callback that lets go of the handle from inside the callback. */
static unsigned cb_events;

static void release_in_cb(void *user, struct rs_tcp_conn *c, unsigned ev)
{
	(void)user;
	cb_events |= ev;
	if (c && (ev & RS_TCP_EV_CLOSED))
		assert_int_equal(rs_tcp_release(c), 0);
	else if (c && (ev & RS_TCP_EV_READABLE))
		rs_tcp_close(c, 0); /* unread data: RST, freed at once */
}

static void test_let_go_inside_callback(void **state)
{
	struct rs_tcp_config cfg;
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_conn *c;
	struct rs_tcp_info info;
	uint8_t b[128];
	uint32_t daddr = ip("198.18.0.2"), saddr = ip("198.18.0.1");

	(void)state;
	rs_tcp_config_init(&cfg);
	cfg.event = release_in_cb;
	st = sink_stack(&k, &cfg);
	/* Refused: ERROR|CLOSED, released inside the callback. */
	c = rs_tcp_connect(st, 0, daddr, 50000, saddr, 80, NULL, NULL);
	rs_tcp_info_get(c, &info);
	rs_tcp_input(
	    st, MS, saddr, daddr, b,
	    seg(b, 80, 50000, 0, info.iss + 1, RS_TCP_RST | RS_TCP_ACK, 0, 0),
	    0);
	assert_int_equal(cb_events, RS_TCP_EV_ERROR | RS_TCP_EV_CLOSED);
	assert_int_equal(rs_tcp_conn_count(st), 0);
	/* Established, then data: closed inside READABLE. */
	cb_events = 0;
	c = rs_tcp_connect(st, 0, daddr, 50000, saddr, 80, NULL, NULL);
	rs_tcp_info_get(c, &info);
	rs_tcp_input(st, MS, saddr, daddr, b,
		     seg(b, 80, 50000, 1000, info.iss + 1,
			 RS_TCP_SYN | RS_TCP_ACK, 65535, 0),
		     0);
	assert_true(cb_events & RS_TCP_EV_CONNECTED);
	rs_tcp_input(
	    st, 2 * MS, saddr, daddr, b,
	    seg(b, 80, 50000, 1001, info.iss + 1, RS_TCP_ACK, 65535, 10), 0);
	assert_int_equal(rs_tcp_conn_count(st), 0);
	assert_int_equal(k.last.flags, RS_TCP_RST | RS_TCP_ACK);
	rs_tcp_stack_destroy(st);
}

static void test_timer_hint(void **state)
{
	struct rs_tcp_config cfg;
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_conn *c;

	(void)state;
	rs_tcp_config_init(&cfg);
	st = sink_stack(&k, &cfg);
	assert_int_equal(rs_tcp_next_timer(st), UINT64_MAX);
	c = rs_tcp_connect(st, 5 * SEC, ip("198.18.0.2"), 0, ip("198.18.0.1"),
			   80, NULL, NULL);
	assert_true(rs_tcp_next_timer(st) <= 6 * SEC);
	assert_true(rs_tcp_next_timer(st) > 5 * SEC);
	assert_int_equal(rs_tcp_timers_run(st, 6 * SEC - 1), 0);
	assert_int_equal(k.n, 1);
	assert_int_equal(rs_tcp_timers_run(st, 6 * SEC), 1);
	assert_int_equal(k.n, 2); /* the SYN again */
	rs_tcp_abort(c, 6 * SEC);
	assert_int_equal(rs_tcp_next_timer(st), UINT64_MAX);
	rs_tcp_stack_destroy(st);
}

/* An established connection with 4 KiB rings (peer MSS 536: no option). */
static struct rs_tcp_conn *zc_conn(struct sink *k, struct rs_tcp_stack **st,
				   uint32_t *una)
{
	struct rs_tcp_config cfg;
	struct rs_tcp_sockopts o;
	struct rs_tcp_info info;
	struct rs_tcp_conn *c;
	uint8_t b[64];

	rs_tcp_config_init(&cfg);
	*st = sink_stack(k, &cfg);
	rs_tcp_sockopts_init(*st, &o);
	o.snd_buf = 4096;
	o.rcv_buf = 4096;
	o.nodelay = true;
	c = rs_tcp_connect(*st, 0, ip("198.18.0.2"), 50000, ip("198.18.0.1"),
			   80, &o, NULL);
	assert_non_null(c);
	rs_tcp_info_get(c, &info);
	rs_tcp_input(*st, MS, ip("198.18.0.1"), ip("198.18.0.2"), b,
		     seg(b, 80, 50000, 1000, info.iss + 1,
			 RS_TCP_SYN | RS_TCP_ACK, 65535, 0),
		     0);
	assert_int_equal(rs_tcp_state(c), RS_TCP_ESTABLISHED);
	*una = info.iss + 1;
	return c;
}

/* Write into the send ring in place: segments point into the ring, also
 * across its physical end (two pieces).  Each ACK leaves the last segment
 * unacked: an emptied ring would start again at its buffer's start. */
static void test_zero_copy_send(void **state)
{
	struct sink k;
	struct rs_tcp_stack *st;
	uint32_t una;
	struct rs_tcp_conn *c = zc_conn(&k, &st, &una);
	struct rs_byte_ring *tx = rs_tcp_snd_ring(c);
	struct rs_byte_view v;
	uint8_t b[64];

	(void)state;
	k.ring_lo = tx->buf;
	k.ring_hi = tx->buf + rs_byte_ring_capacity(tx);
	for (int round = 0; round < 12; round++) {
		size_t n = rs_byte_ring_write_view(tx, &v);

		n = n > 500 ? 500 : n; /* one segment each */
		for (size_t i = 0; i < n; i++) {
			size_t s = i < v.seg[0].len ? 0 : 1;
			size_t at = s ? i - v.seg[0].len : i;

			v.seg[s].ptr[at] = (uint8_t)(round * 7 + i);
		}
		assert_int_equal(rs_byte_ring_commit(tx, n), 0);
		assert_int_equal(rs_tcp_output(c, 2 * MS), 0);
		assert_int_equal(k.last.payload_len, n);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(k.data[i], (uint8_t)(round * 7 + i));
		if (round > 0)
			rs_tcp_input(
			    st, 3 * MS, ip("198.18.0.1"), ip("198.18.0.2"), b,
			    seg(b, 80, 50000, 1001, una, RS_TCP_ACK, 65535, 0),
			    0);
		una += (uint32_t)n;
	}
	assert_true(k.two_pieces);
	rs_tcp_abort(c, 4 * MS);
	rs_tcp_stack_destroy(st);
}

/* ACKs 2 GiB and more past the ISN (SND.UNA - ISS above 2^31: sequence
 * arithmetic puts SND.UNA before ISS again) release exactly what they
 * ack.  The SYN was taken off every such ACK, keeping a byte of each in
 * the send ring: a bulk transfer (perf/tcp_bulk.py, 12 GiB) stalled at
 * about 2.9 GB, the ring full and nothing in flight. */
static void test_ack_far_from_iss(void **state)
{
	struct sink k;
	struct rs_tcp_stack *st;
	uint32_t una;
	struct rs_tcp_conn *c = zc_conn(&k, &st, &una);
	uint8_t b[64], data[400];

	(void)state;
	memset(data, 7, sizeof(data));
	/* As if 2^31 + 1000 bytes had gone and been acked: nothing after
	 * the handshake reads the ISN but that ACK. */
	c->iss -= 0x80000000u + 1000;
	for (int round = 0; round < 50; round++) {
		assert_int_equal(rs_tcp_send(c, 2 * MS, data, sizeof(data)),
				 (ssize_t)sizeof(data));
		una += (uint32_t)sizeof(data);
		rs_tcp_input(st, 3 * MS, ip("198.18.0.1"), ip("198.18.0.2"), b,
			     seg(b, 80, 50000, 1001, una, RS_TCP_ACK, 65535, 0),
			     0);
		assert_int_equal(rs_byte_ring_count(rs_tcp_snd_ring(c)), 0);
	}
	rs_tcp_abort(c, 4 * MS);
	rs_tcp_stack_destroy(st);
}

/* Read the receive ring in place, release in steps: a window update only
 * once the window opened by min(half the ring, MSS) = 536. */
/* A connection that has received 1500 bytes (payload byte i is i + 1). */
static struct rs_tcp_conn *zc_conn_fed(struct sink *k, struct rs_tcp_stack **st)
{
	uint32_t una;
	struct rs_tcp_conn *c = zc_conn(k, st, &una);
	uint8_t b[2048];

	rs_tcp_input(*st, 4 * MS, ip("198.18.0.1"), ip("198.18.0.2"), b,
		     seg(b, 80, 50000, 1001, una, RS_TCP_ACK, 65535, 1500), 0);
	return c;
}

static void test_zero_copy_recv(void **state)
{
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_conn *c = zc_conn_fed(&k, &st);
	struct rs_byte_ring *rx = rs_tcp_rcv_ring(c);
	struct rs_byte_view v;

	(void)state;
	assert_int_equal(rs_tcp_readable(c), 1500);
	assert_int_equal(rs_byte_ring_read_view(rx, &v), 1500);
	assert_int_equal(v.seg[0].ptr[0], 1);
	assert_int_equal(rs_byte_ring_advance_mark(rx, 1500), 0);
	assert_int_equal(rs_tcp_readable(c), 0);
	assert_int_equal(rs_tcp_consumed(c, 5 * MS, 2000), -ERANGE);
	k.n = 0;
	assert_int_equal(rs_tcp_consumed(c, 5 * MS, 500), 0);
	assert_int_equal(k.n, 0);
	assert_int_equal(rs_tcp_consumed(c, 5 * MS, 500), 0);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.last.flags, RS_TCP_ACK);
	assert_int_equal(rs_tcp_consumed(c, 5 * MS, 500), 0);
	assert_int_equal(k.n, 1);
	rs_tcp_abort(c, 6 * MS);
	rs_tcp_stack_destroy(st);
}

/* A lost Receive reply: read with the bytes held, seek back, read again;
 * seeking forward releases, and outside [tail, mark] is refused. */
static void test_rx_seek(void **state)
{
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_conn *c = zc_conn_fed(&k, &st);
	struct rs_byte_ring *rx = rs_tcp_rcv_ring(c);
	struct rs_byte_view v;

	(void)state;
	assert_int_equal(rs_byte_ring_advance_mark(rx, 1000), 0);
	assert_int_equal(rs_tcp_readable(c), 500);
	assert_int_equal(rs_tcp_rx_seek(c, 5 * MS, 1001), -ERANGE);
	assert_int_equal(rs_tcp_rx_seek(c, 5 * MS, 0), 0); /* again */
	assert_int_equal(rs_tcp_readable(c), 1500);
	assert_int_equal(rs_byte_ring_advance_mark(rx, 1000), 0);
	assert_int_equal(rs_tcp_rx_seek(c, 5 * MS, 400), 0);
	assert_int_equal(rs_byte_ring_tail(rx), 400); /* released */
	assert_int_equal(rs_byte_ring_read_view(rx, &v), 1100);
	assert_int_equal(v.seg[0].ptr[0], (uint8_t)(400 + 1)); /* byte 400 */
	assert_int_equal(rs_tcp_rx_seek(c, 5 * MS, 399), -ERANGE);
	assert_int_equal(rs_tcp_rx_seek(c, 5 * MS, 400), 0);
	rs_tcp_abort(c, 6 * MS);
	rs_tcp_stack_destroy(st);
}

/* ---------------------------------------------------------------------- */
/* Garbage in: never a crash, the pool stays bounded and drains.          */
/* ---------------------------------------------------------------------- */

static void test_random_input(void **state)
{
	struct rs_tcp_config cfg;
	struct sink k;
	struct rs_tcp_stack *st;
	struct rs_tcp_listener *l;
	uint8_t b[256];
	uint32_t daddr = ip("198.18.0.2"), saddr = ip("198.18.0.1");
	uint64_t now = 0;

	(void)state;
	rs_tcp_config_init(&cfg);
	cfg.max_conns = 64;
	cfg.time_wait_ns = SEC;
	st = sink_stack(&k, &cfg);
	l = rs_tcp_listen(st, 0, 8080, 16, NULL, NULL);
	assert_non_null(l);
	for (int i = 0; i < 300000; i++) {
		size_t len = rnd() % 120;
		uint8_t flags = (uint8_t)rnd();

		for (size_t j = 0; j < len; j++)
			b[j] = (uint8_t)rnd();
		if (len >= 20 && rnd() % 4) {
			/* Mostly well-formed enough to get somewhere. */
			seg(b, (uint16_t)(40000 + rnd() % 8), 8080, rnd() % 64,
			    rnd() % 64, flags, (uint16_t)rnd(), 0);
			b[12] = (uint8_t)((5 + rnd() % 3) << 4);
		}
		rs_tcp_input(st, now, saddr, daddr, b, len, 0);
		if (rnd() % 8 == 0) /* an ICMP error quoting those bytes */
			rs_tcp_icmp_input(st, now, (uint8_t)(rnd() % 16),
					  (uint8_t)(rnd() % 16),
					  (uint16_t)rnd(), daddr, saddr, b,
					  len < 12 ? len : 12);
		if (i % 64 == 0) {
			struct rs_tcp_conn *c = rs_tcp_accept(l, NULL);

			if (c)
				rs_tcp_close(c, now);
		}
		now += rnd() % (5 * MS);
		rs_tcp_timers_run(st, now);
		assert_true(rs_tcp_conn_count(st) <= 64);
	}
	rs_tcp_listener_close(l, now);
	rs_tcp_timers_run(st, now + 48 * 3600 * SEC);
	assert_int_equal(rs_tcp_conn_count(st), 0);
	rs_tcp_stack_destroy(st);
}

/* rs_tcp_counters_at(): what was counted moves to the caller's array,
 * what follows is counted there, and rs_tcp_stats_get() reads it. */
static void test_counters_at(void **state)
{
	uint64_t mine[RS_TCP_CTR_MAX + 1];
	struct rs_tcp_config cfg;
	struct rs_tcp_stats s;
	struct sink k;
	struct rs_tcp_stack *st;
	uint32_t daddr = ip("198.18.0.2"), saddr = ip("198.18.0.1");

	(void)state;
	for (unsigned i = 0; i <= RS_TCP_CTR_MAX; i++)
		mine[i] = 1000; /* already counting something else */
	rs_tcp_config_init(&cfg);
	st = sink_stack(&k, &cfg);
	assert_non_null(rs_tcp_connect(st, 0, daddr, 50000, saddr, 80, NULL,
				       NULL)); /* a SYN out */
	rs_tcp_stats_get(st, &s);
	assert_int_equal(s.ctr[RS_TCP_CTR_SEGS_OUT], 1);
	rs_tcp_counters_at(st, mine);
	assert_int_equal(mine[RS_TCP_CTR_SEGS_OUT], 1001);
	assert_int_equal(mine[RS_TCP_CTR_SEGS_IN], 1000);
	assert_non_null(
	    rs_tcp_connect(st, 0, daddr, 50001, saddr, 80, NULL, NULL));
	assert_int_equal(mine[RS_TCP_CTR_SEGS_OUT], 1002);
	assert_int_equal(mine[RS_TCP_CTR_MAX], 1000); /* nothing beyond */
	rs_tcp_stats_get(st, &s);
	assert_int_equal(s.ctr[RS_TCP_CTR_SEGS_OUT], 1002);
	assert_int_equal(k.n, 2);
	rs_tcp_stack_destroy(st);
}

/* rs_tcp_icmp_input()'s checks before any connection is looked at. */
static void test_icmp_checks(void **state)
{
	struct rs_tcp_config cfg;
	struct rs_tcp_stats s;
	struct sink k;
	struct rs_tcp_stack *st;
	uint32_t laddr = ip("198.18.0.2"), raddr = ip("198.18.0.1");
	uint8_t q[8] = {0x1f, 0x90, 0x9c, 0x40, 0, 0, 0, 1};

	(void)state;
	rs_tcp_config_init(&cfg);
	st = sink_stack(&k, &cfg);
	/* Source quench (RFC 6633) and redirect: ignored. */
	assert_int_equal(rs_tcp_icmp_input(st, 0, 4, 0, 0, laddr, raddr, q, 8),
			 RS_TCP_DROP_ICMP_IGNORED);
	assert_int_equal(rs_tcp_icmp_input(st, 0, 5, 1, 0, laddr, raddr, q, 8),
			 RS_TCP_DROP_ICMP_IGNORED);
	/* Fewer than 8 quoted bytes: no sequence number to check. */
	assert_int_equal(rs_tcp_icmp_input(st, 0, RS_TCP_ICMP_UNREACH, 1, 0,
					   laddr, raddr, q, 7),
			 RS_TCP_DROP_ICMP_SHORT);
	assert_int_equal(rs_tcp_icmp_input(st, 0, RS_TCP_ICMP_UNREACH, 1, 0,
					   laddr, raddr, q, 8),
			 RS_TCP_DROP_ICMP_NO_CONN);
	rs_tcp_stats_get(st, &s);
	assert_int_equal(s.drops[RS_TCP_DROP_ICMP_IGNORED], 2);
	assert_int_equal(s.drops[RS_TCP_DROP_ICMP_SHORT], 1);
	assert_int_equal(s.drops[RS_TCP_DROP_ICMP_NO_CONN], 1);
	assert_int_equal(k.n, 0);
	rs_tcp_stack_destroy(st);
}

/* ---------------------------------------------------------------------- */
/* Two stacks over a bad wire                                             */
/* ---------------------------------------------------------------------- */

#define WIRE_MAX 8192
#define XFER (1u << 20)

struct pkt {
	uint64_t at;
	int to; /* 0: A, 1: B */
	uint32_t saddr, daddr;
	size_t len;
	uint8_t b[1600];
};

struct world {
	struct rs_tcp_stack *st[2];
	struct pkt *wire[WIRE_MAX];
	int n;
	uint64_t now;
	unsigned loss, dup; /* per mille */
	unsigned block;	    /* per mille: emit() answers -EAGAIN */
	bool ext;	    /* timestamps and SACK on */
	bool tso;	    /* A sends TSO segments; the wire cuts them */
	bool lro;	    /* the wire merges what B receives, as LRO */
	uint64_t merged;    /* segments merged into the one before */
	uint64_t tso_segs, tso_max_seen, piece_max;
	uint8_t big[65536]; /* a merged segment */
	size_t lro_len;
	uint64_t lost, delivered, blocked;
	uint64_t no_ts, sack_segs; /* non-RST segments without TS; with SACK */
	struct rs_tcp_stats stats[2];
};

static struct world Wd;

/* Whether option @p kind is in the options of @p s. */
static bool has_opt(const struct rs_tcp_seg *s, uint8_t kind)
{
	for (unsigned i = 0; i < s->opt_len;) {
		if (s->opt[i] == 0)
			break;
		if (s->opt[i] == kind)
			return true;
		i += s->opt[i] == 1 ? 1 : s->opt[i + 1];
	}
	return false;
}

static int wire_put(int to, const struct rs_tcp_seg *s);

#define LESS(a, b) ((a) < (b) ? (a) : (b))
#define MORE(a, b) ((a) > (b) ? (a) : (b))

/* Bytes [off, off + len) of @p s's payload as the payload of @p out. */
static void seg_slice(const struct rs_tcp_seg *s, uint32_t off, uint32_t len,
		      struct rs_tcp_seg *out)
{
	const struct rs_byte_seg *v = s->payload.seg;
	uint32_t l0 = (uint32_t)v[0].len, a;

	*out = *s;
	if (off >= l0) {
		out->payload.seg[0].ptr = v[1].ptr + (off - l0);
		out->payload.seg[0].len = len;
		out->payload.seg[1].len = 0;
	} else {
		a = LESS(len, l0 - off);
		out->payload.seg[0].ptr = v[0].ptr + off;
		out->payload.seg[0].len = a;
		out->payload.seg[1].ptr = v[1].ptr;
		out->payload.seg[1].len = len - a;
	}
	out->payload_len = len;
	out->tso_segsz = 0;
}

/* What a port does with a TSO segment: MSS pieces, each with the
 * header and options, its own sequence number, FIN and PSH on the last
 * only.  The pieces share the fate the wire gives each. */
static int wire_cut(int to, const struct rs_tcp_seg *s)
{
	struct rs_tcp_seg piece;
	uint32_t k;

	Wd.tso_segs++;
	Wd.tso_max_seen = MORE(Wd.tso_max_seen, s->payload_len);
	for (uint32_t off = 0; off < s->payload_len; off += k) {
		k = LESS((uint32_t)s->tso_segsz, s->payload_len - off);
		seg_slice(s, off, k, &piece);
		piece.seq = s->seq + off;
		if (off + k < s->payload_len)
			piece.flags &= (uint8_t) ~(RS_TCP_FIN | RS_TCP_PSH);
		if (wire_put(to, &piece) == -EAGAIN)
			return off == 0 ? -EAGAIN : 0; /* the rest is lost */
	}
	return 0;
}

static int wire_put(int to, const struct rs_tcp_seg *s)
{
	struct pkt *p;
	size_t hl;

	if (s->tso_segsz != 0)
		return wire_cut(to, s);
	Wd.piece_max = MORE(Wd.piece_max, s->payload_len);

	if (!(s->flags & RS_TCP_RST) && !has_opt(s, 8))
		Wd.no_ts++;
	Wd.sack_segs += has_opt(s, 5);

	if (rnd() % 1000 < Wd.block) {
		Wd.blocked++;
		return -EAGAIN;
	}
	if (Wd.n == WIRE_MAX || rnd() % 1000 < Wd.loss) {
		Wd.lost++;
		return 0;
	}
	p = malloc(sizeof(*p));
	hl = rs_tcp_seg_write_hdr(s, p->b, true);
	memcpy(p->b + hl, s->payload.seg[0].ptr, s->payload.seg[0].len);
	memcpy(p->b + hl + s->payload.seg[0].len, s->payload.seg[1].ptr,
	       s->payload.seg[1].len);
	p->len = hl + s->payload_len;
	p->to = to;
	p->saddr = s->saddr;
	p->daddr = s->daddr;
	p->at = Wd.now + MS + rnd() % (20 * MS); /* reorders freely */
	Wd.wire[Wd.n++] = p;
	if (rnd() % 1000 < Wd.dup && Wd.n < WIRE_MAX) {
		struct pkt *d = malloc(sizeof(*d));

		*d = *p;
		d->at += rnd() % (10 * MS);
		Wd.wire[Wd.n++] = d;
	}
	return 0;
}

static int emit_to_b(void *io, const struct rs_tcp_seg *s)
{
	(void)io;
	return wire_put(1, s);
}

static int emit_to_a(void *io, const struct rs_tcp_seg *s)
{
	(void)io;
	return wire_put(0, s);
}

static int wire_first(void)
{
	int best = -1;

	for (int i = 0; i < Wd.n; i++)
		if (best < 0 || Wd.wire[i]->at < Wd.wire[best]->at)
			best = i;
	return best;
}

/* What the glue does after every TX burst: resume held-back output
 * (emit() may refuse again: a bounded number of tries). */
static void world_resume(void)
{
	for (int s = 0; s < 2; s++)
		for (int k = 0; k < 1000 && rs_tcp_output_blocked(Wd.st[s]);
		     k++)
			rs_tcp_output_resume(Wd.st[s], Wd.now);
	assert_false(rs_tcp_output_blocked(Wd.st[0]));
	assert_false(rs_tcp_output_blocked(Wd.st[1]));
}

/* The TCP fields a merge compares, from a packet's raw header. */
static uint32_t be32_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static size_t hdr_len(const struct pkt *p)
{
	return (size_t)(p->b[12] >> 4) * 4;
}

/* Whether @p q (due within 2 ms: one poll's worth) continues @p p's bytes
 * @p end: same direction, header
 * (options, ACK, window), pure ACK flags (PSH allowed on the last). */
static bool lro_follows(const struct pkt *p, const struct pkt *q, uint32_t end)
{
	size_t hl = hdr_len(p);

	return q->to == p->to && q->at <= Wd.now + 2 * MS && hdr_len(q) == hl &&
	       q->len > hl && be32_at(q->b + 4) == end &&
	       (q->b[13] & ~0x08) == 0x10 &&	       /* ACK, maybe PSH */
	       memcmp(q->b + 8, p->b + 8, 4) == 0 &&   /* ack */
	       memcmp(q->b + 14, p->b + 14, 2) == 0 && /* window */
	       memcmp(q->b + 20, p->b + 20, hl - 20) == 0;
}

/* What a receive offload does with @p p: the due segments on the wire
 * that continue it, appended into Wd.big (checksum left unverified, as
 * after a port that checked each piece).  @return whether any was. */
static bool lro_merge(const struct pkt *p)
{
	size_t hl = hdr_len(p), len = p->len;
	uint32_t end = be32_at(p->b + 4) + (uint32_t)(p->len - hl);
	bool any = false;

	if (p->len <= hl || p->b[13] != 0x10)
		return false;
	memcpy(Wd.big, p->b, p->len);
	for (int k = 0; k < Wd.n;) {
		struct pkt *q = Wd.wire[k];

		if (!lro_follows(p, q, end) ||
		    len + q->len - hl > sizeof(Wd.big) - 40) {
			k++;
			continue;
		}
		memcpy(Wd.big + len, q->b + hl, q->len - hl);
		len += q->len - hl;
		end += (uint32_t)(q->len - hl);
		Wd.big[13] |= q->b[13]; /* PSH of the last */
		Wd.wire[k] = Wd.wire[--Wd.n];
		free(q);
		Wd.merged++;
		any = true;
		if (Wd.big[13] & 0x08)
			break;
		k = 0; /* the next may be anywhere */
	}
	Wd.lro_len = len;
	return any;
}

/* Advance to the next event (a packet or a timer) and handle it. */
static void world_step(void)
{
	int i;
	uint64_t t;

	world_resume();
	i = wire_first();
	t = i >= 0 ? Wd.wire[i]->at : UINT64_MAX;

	for (int s = 0; s < 2; s++) {
		uint64_t nt = rs_tcp_next_timer(Wd.st[s]);

		t = nt < t ? nt : t;
	}
	assert_true(t != UINT64_MAX);
	Wd.now = t > Wd.now ? t : Wd.now;
	if (i >= 0 && Wd.wire[i]->at <= Wd.now) {
		struct pkt *p = Wd.wire[i];

		Wd.wire[i] = Wd.wire[--Wd.n];
		if (Wd.lro && p->to == 1 && lro_merge(p))
			assert_true(rs_tcp_input(Wd.st[1], Wd.now, p->saddr,
						 p->daddr, Wd.big, Wd.lro_len,
						 0) >= 0);
		else
			assert_true(rs_tcp_input(Wd.st[p->to], Wd.now, p->saddr,
						 p->daddr, p->b, p->len,
						 RS_TCP_IN_CSUM) >= 0);
		Wd.delivered++;
		free(p);
	}
	rs_tcp_timers_run(Wd.st[0], Wd.now);
	rs_tcp_timers_run(Wd.st[1], Wd.now);
	world_resume();
}

static uint8_t xfer_pat(uint64_t i)
{
	return (uint8_t)(i * 29 + (i >> 10));
}

static void world_make(unsigned loss, unsigned dup, unsigned block, bool ext,
		       enum rs_tcp_cc cc)
{
	struct rs_tcp_config cfg;

	bool tso = Wd.tso, lro = Wd.lro;

	memset(&Wd, 0, sizeof(Wd));
	Wd.tso = tso;
	Wd.lro = lro;
	Wd.loss = loss;
	Wd.dup = dup;
	Wd.block = block;
	Wd.ext = ext;
	for (int s = 0; s < 2; s++) {
		rs_tcp_config_init(&cfg);
		cfg.timestamps = cfg.sack = ext;
		cfg.cc = cc;
		cfg.emit = s == 0 ? emit_to_b : emit_to_a;
		cfg.time_wait_ns = 2 * SEC;
		cfg.rto_min_ns = 50 * MS;
		cfg.max_retries = 30;
		if (s == 0 && Wd.tso)
			cfg.tso_max = RS_TCP_TSO_MAX;
		memcpy(cfg.isn_secret,
		       s ? "stack-B-secret!!" : "stack-A-secret!!", 16);
		Wd.st[s] = rs_tcp_stack_create(&cfg);
		assert_non_null(Wd.st[s]);
	}
}

/* A sends XFER bytes and closes; B reads them all, checks them, closes. */
static void transfer_cc(unsigned loss, unsigned dup, unsigned block, bool ext,
			enum rs_tcp_cc cc)
{
	struct rs_tcp_listener *l;
	struct rs_tcp_conn *a, *b = NULL;
	uint64_t sent = 0, got = 0;
	static uint8_t buf[8192];
	bool a_closed = false, b_closed = false;

	world_make(loss, dup, block, ext, cc);
	l = rs_tcp_listen(Wd.st[1], 0, 80, 8, NULL, NULL);
	a = rs_tcp_connect(Wd.st[0], 0, ip("198.18.0.1"), 0, ip("198.18.0.2"),
			   80, NULL, NULL);
	assert_non_null(a);
	for (unsigned steps = 0; !(a_closed && b_closed); steps++) {
		assert_true(steps < 5000000);
		world_step();
		if (b == NULL && (b = rs_tcp_accept(l, NULL)) != NULL)
			rs_tcp_listener_close(l, Wd.now);
		while (sent < XFER && rs_tcp_state(a) == RS_TCP_ESTABLISHED) {
			size_t n = XFER - sent < sizeof(buf) ? XFER - sent
							     : sizeof(buf);
			ssize_t w;

			for (size_t i = 0; i < n; i++)
				buf[i] = xfer_pat(sent + i);
			w = rs_tcp_send(a, Wd.now, buf, n);
			assert_true(w >= 0);
			if (w == 0)
				break;
			sent += (uint64_t)w;
			if (sent == XFER) {
				rs_tcp_close(a, Wd.now);
				a_closed = true;
			}
		}
		while (b != NULL && !b_closed) {
			ssize_t r = rs_tcp_recv(b, Wd.now, buf, sizeof(buf));

			if (r == -EAGAIN)
				break;
			assert_true(r >= 0);
			for (ssize_t i = 0; i < r; i++)
				assert_int_equal(buf[i], xfer_pat(got + i));
			got += (uint64_t)r;
			if (r == 0) {
				assert_int_equal(got, XFER);
				rs_tcp_close(b, Wd.now);
				b_closed = true;
			}
		}
	}
	while (rs_tcp_next_timer(Wd.st[0]) != UINT64_MAX ||
	       rs_tcp_next_timer(Wd.st[1]) != UINT64_MAX || Wd.n > 0)
		world_step();
	assert_int_equal(rs_tcp_conn_count(Wd.st[0]), 0);
	assert_int_equal(rs_tcp_conn_count(Wd.st[1]), 0);
	rs_tcp_stats_get(Wd.st[0], &Wd.stats[0]);
	rs_tcp_stats_get(Wd.st[1], &Wd.stats[1]);
	rs_tcp_stack_destroy(Wd.st[0]);
	rs_tcp_stack_destroy(Wd.st[1]);
}

/* RS_TEST_VERBOSE=1: how the sender recovered. */
static void report(const char *what)
{
	const uint64_t *k = Wd.stats[0].ctr;

	if (getenv("RS_TEST_VERBOSE"))
		fprintf(stderr,
			"%s: lost %lu retrans %lu sack_retrans %lu "
			"rto %lu fast %lu steps-now %.3f s\n",
			what, (unsigned long)Wd.lost,
			(unsigned long)k[RS_TCP_CTR_RETRANS_SEGS],
			(unsigned long)k[RS_TCP_CTR_SACK_RETRANS],
			(unsigned long)k[RS_TCP_CTR_RTO_FIRED],
			(unsigned long)k[RS_TCP_CTR_FAST_RETRANS],
			(double)Wd.now / SEC);
}

static void transfer_ext(unsigned loss, unsigned dup, unsigned block, bool ext)
{
	transfer_cc(loss, dup, block, ext, RS_TCP_CC_NEWRENO);
}

static void transfer(unsigned loss, unsigned dup, unsigned block)
{
	transfer_ext(loss, dup, block, false);
}

static void test_transfer_clean(void **state)
{
	(void)state;
	transfer(0, 0, 0);
}

static void test_transfer_lossy(void **state)
{
	(void)state;
	transfer(50, 20, 0); /* 5 % loss, 2 % duplicates, heavy reordering */
	assert_true(Wd.lost > 0);
	assert_true(Wd.no_ts > 0 && Wd.sack_segs == 0);
	report("newreno");
}

/* The same wire with timestamps and SACK: every segment but RSTs carries
 * TSval; the receiver reports SACK blocks, the sender recovers from them,
 * and the reordering makes some fast retransmits spurious, which the
 * echoed timestamps reveal (RFC 3522). */
static void test_transfer_lossy_sack_ts(void **state)
{
	(void)state;
	transfer_ext(50, 20, 0, true);
	assert_true(Wd.lost > 0);
	assert_int_equal(Wd.no_ts, 0);
	assert_true(Wd.sack_segs > 0);
	assert_true(Wd.stats[0].ctr[RS_TCP_CTR_SPURIOUS_RECOVERY] > 0);
	assert_true(Wd.stats[0].ctr[RS_TCP_CTR_SACK_RECOVERY] > 0);
	report("sack+ts");
	transfer_ext(50, 20, 100, true); /* and back-pressure */
	assert_true(Wd.blocked > 0 && Wd.lost > 0);
	assert_int_equal(Wd.no_ts, 0);
}

/* The same lossy wire with CUBIC (RFC 9438) on both stacks, without and
 * with timestamps and SACK: its window arithmetic must not break
 * recovery, nor the spurious-retransmit undo its epoch. */
static void test_transfer_lossy_cubic(void **state)
{
	(void)state;
	transfer_cc(50, 20, 0, false, RS_TCP_CC_CUBIC);
	assert_true(Wd.lost > 0);
	assert_true(Wd.stats[0].ctr[RS_TCP_CTR_FAST_RETRANS] > 0);
	report("cubic");
	transfer_cc(50, 20, 0, true, RS_TCP_CC_CUBIC);
	assert_true(Wd.lost > 0 && Wd.sack_segs > 0);
	assert_true(Wd.stats[0].ctr[RS_TCP_CTR_SPURIOUS_RECOVERY] > 0);
	assert_true(Wd.stats[0].ctr[RS_TCP_CTR_SACK_RECOVERY] > 0);
	report("cubic sack+ts");
}

/* Back-pressure: a fifth of the emit() calls refused for now (-EAGAIN),
 * resumed at once as the glue does after its TX burst; then the same
 * over the lossy wire.  The stream must still arrive whole. */
static void test_transfer_blocked(void **state)
{
	(void)state;
	transfer(0, 0, 200);
	assert_true(Wd.blocked > 0);
	transfer(50, 20, 100);
	assert_true(Wd.blocked > 0 && Wd.lost > 0);
}

/* TSO (A's tso_max 64 KiB, the wire cutting as a port does): segments
 * larger than an MSS go out, none over RS_TCP_TSO_MAX, every piece on
 * the wire at most an MSS; the stream arrives whole, clean and over the
 * lossy, reordering wire, with and without timestamps (options repeat in
 * each piece). */
static void test_transfer_tso(void **state)
{
	(void)state;
	Wd.tso = true;
	transfer(0, 0, 0);
	assert_true(Wd.tso_segs > 0);
	assert_true(Wd.tso_max_seen > 1460 &&
		    Wd.tso_max_seen <= RS_TCP_TSO_MAX);
	assert_int_equal(Wd.stats[0].ctr[RS_TCP_CTR_TSO_SEGS_OUT], Wd.tso_segs);
	assert_true(Wd.piece_max <= 1460);
	Wd.tso = true;
	transfer_ext(50, 20, 100, true);
	assert_true(Wd.tso_segs > 0 && Wd.lost > 0 && Wd.blocked > 0);
	assert_true(Wd.piece_max <= 1448); /* 1460 less the timestamps */
	assert_int_equal(Wd.no_ts, 0);
	Wd.tso = false;
}

/* LRO: B receives runs of consecutive segments merged into one (up to
 * 64 KiB, the wire reordering freely), so segments overlap what B holds
 * at any offset: in order, out of order, partly old. */
static void test_transfer_lro(void **state)
{
	(void)state;
	Wd.lro = true;
	transfer(0, 0, 0);
	assert_true(Wd.merged > 0);
	Wd.lro = true;
	transfer_ext(50, 20, 0, true);
	assert_true(Wd.merged > 0 && Wd.lost > 0);
	Wd.lro = Wd.tso = true;
	transfer_ext(50, 20, 100, true);
	assert_true(Wd.merged > 0 && Wd.tso_segs > 0);
	Wd.lro = Wd.tso = false;
}

/* Push @p n pattern bytes from a to b and read them there. */
static void idle_xfer(struct rs_tcp_conn *a, struct rs_tcp_conn *b,
		      uint64_t *sent, uint64_t *got, uint64_t n)
{
	static uint8_t buf[8192];
	uint64_t end = *sent + n;

	for (unsigned steps = 0; *got < end; steps++) {
		assert_true(steps < 100000);
		while (*sent < end) {
			size_t k = LESS(end - *sent, sizeof(buf));
			ssize_t w;

			for (size_t i = 0; i < k; i++)
				buf[i] = xfer_pat(*sent + i);
			w = rs_tcp_send(a, Wd.now, buf, k);
			assert_true(w >= 0);
			if (w == 0)
				break;
			*sent += (uint64_t)w;
		}
		for (;;) {
			ssize_t r = rs_tcp_recv(b, Wd.now, buf, sizeof(buf));

			if (r == -EAGAIN)
				break;
			assert_true(r > 0);
			for (ssize_t i = 0; i < r; i++)
				assert_int_equal(buf[i], xfer_pat(*got + i));
			*got += (uint64_t)r;
		}
		if (*got < end)
			world_step();
	}
}

/* Rings that grew for a transfer keep their buffers while the data
 * flows, and give them back (to 4 KiB each) once the connection has been
 * idle about ring_idle_ns: found by the sweep in rs_tcp_timers_run().
 * The next transfer grows them again, intact. */
static void test_idle_rings_shrink(void **state)
{
	struct rs_tcp_listener *l;
	struct rs_tcp_conn *a, *b = NULL;
	uint64_t sent = 0, got = 0, t0;
	const size_t idle = 2 * RS_BYTE_RING_FIRST; /* a conn's two rings */

	(void)state;
	world_make(0, 0, 0, false, RS_TCP_CC_NEWRENO);
	l = rs_tcp_listen(Wd.st[1], 0, 80, 8, NULL, NULL);
	a = rs_tcp_connect(Wd.st[0], 0, ip("198.18.0.1"), 0, ip("198.18.0.2"),
			   80, NULL, NULL);
	for (unsigned steps = 0; b == NULL; steps++) {
		assert_true(steps < 1000);
		world_step();
		b = rs_tcp_accept(l, NULL);
	}
	rs_tcp_listener_close(l, Wd.now);
	idle_xfer(a, b, &sent, &got, 200000);
	assert_true(rs_tcp_stack_ring_bytes(Wd.st[0]) > idle);
	assert_true(rs_tcp_stack_ring_bytes(Wd.st[1]) > idle);
	/* Quiet: the wire empty and every byte acknowledged (the last ACK
	 * may wait for B's delayed-ACK timer), else A's ring holds them. */
	for (unsigned steps = 0;; steps++) {
		struct rs_tcp_info ia;

		rs_tcp_info_get(a, &ia);
		if (Wd.n == 0 && ia.snd_una == ia.snd_max)
			break;
		assert_true(steps < 100000);
		world_step();
	}
	/* Less than the idle time: nothing shrinks yet. */
	t0 = Wd.now;
	for (uint64_t t = t0; t < t0 + 500 * MS; t += 10 * MS) {
		rs_tcp_timers_run(Wd.st[0], t);
		rs_tcp_timers_run(Wd.st[1], t);
	}
	assert_true(rs_tcp_stack_ring_bytes(Wd.st[0]) > idle);
	for (uint64_t t = t0; t < t0 + 3 * SEC; t += 10 * MS) {
		rs_tcp_timers_run(Wd.st[0], t);
		rs_tcp_timers_run(Wd.st[1], t);
	}
	Wd.now = t0 + 3 * SEC;
	assert_int_equal(rs_tcp_stack_ring_bytes(Wd.st[0]), idle);
	assert_int_equal(rs_tcp_stack_ring_bytes(Wd.st[1]), idle);
	idle_xfer(a, b, &sent, &got, 300000);
	assert_true(rs_tcp_stack_ring_bytes(Wd.st[1]) > idle);
	rs_tcp_abort(a, Wd.now);
	rs_tcp_abort(b, Wd.now);
	rs_tcp_stack_destroy(Wd.st[0]);
	rs_tcp_stack_destroy(Wd.st[1]);
	while (Wd.n > 0)
		free(Wd.wire[--Wd.n]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_checked),
	    cmocka_unit_test(test_ephemeral_ports),
	    cmocka_unit_test(test_pool_full),
	    cmocka_unit_test(test_let_go_inside_callback),
	    cmocka_unit_test(test_timer_hint),
	    cmocka_unit_test(test_zero_copy_send),
	    cmocka_unit_test(test_ack_far_from_iss),
	    cmocka_unit_test(test_zero_copy_recv),
	    cmocka_unit_test(test_rx_seek),
	    cmocka_unit_test(test_random_input),
	    cmocka_unit_test(test_icmp_checks),
	    cmocka_unit_test(test_transfer_clean),
	    cmocka_unit_test(test_transfer_lossy),
	    cmocka_unit_test(test_transfer_lossy_sack_ts),
	    cmocka_unit_test(test_transfer_lossy_cubic),
	    cmocka_unit_test(test_transfer_blocked),
	    cmocka_unit_test(test_transfer_tso),
	    cmocka_unit_test(test_transfer_lro),
	    cmocka_unit_test(test_idle_rings_shrink),
	    cmocka_unit_test(test_counters_at),
	};
	const char *s = getenv("RS_TEST_SEED");

	if (s)
		seed = strtoull(s, NULL, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
