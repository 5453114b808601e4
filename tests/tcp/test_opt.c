/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Wire code: option lists (well-formed, malformed, unknown kinds, SACK
 * blocks and timestamps), header validation (length, data offset, ports,
 * illegal flags), the SYN option encoder with and without SACK-permitted
 * and timestamps, the encoder of timestamps and SACK blocks with its room
 * limit, the header writer and the checksum against an independent sum.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "tcp_pvt.h"

static void test_options_known(void **state)
{
	static const uint8_t o[] = {2,	4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8,
				    10, 0, 0,	 0,    1, 0, 0, 0, 2, 1, 1};
	struct rs_tcp_opts p;

	(void)state;
	assert_int_equal(rs_tcp_opt_parse(o, sizeof(o), &p), 0);
	assert_true(p.has_mss);
	assert_int_equal(p.mss, 1460);
	assert_true(p.has_ws);
	assert_int_equal(p.ws, 7);
	assert_true(p.sack_perm);
	assert_true(p.has_ts);
	assert_int_equal(p.ts_val, 1);
	assert_int_equal(p.ts_ecr, 2);
}

static void test_options_unknown_and_eol(void **state)
{
	/* kind 30 (unknown, 4 bytes) skipped; EOL ends the list even if
	 * garbage follows. */
	static const uint8_t o[] = {30, 4, 9, 9, 2, 4, 0x02, 0x18, 0, 0xff};
	static const uint8_t sack[] = {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 9};
	struct rs_tcp_opts p;

	(void)state;
	assert_int_equal(rs_tcp_opt_parse(o, sizeof(o), &p), 0);
	assert_int_equal(p.mss, 536);
	assert_false(p.has_ws);
	assert_int_equal(rs_tcp_opt_parse(sack, sizeof(sack), &p), 0);
	assert_int_equal(p.sack_blocks, 1);
	assert_int_equal(p.sack[0].left, 1);
	assert_int_equal(p.sack[0].right, 9);
}

static void test_options_malformed(void **state)
{
	static const uint8_t len0[] = {30, 0, 1, 1};
	static const uint8_t len1[] = {30, 1, 1, 1};
	static const uint8_t past[] = {1, 30, 8, 1};
	static const uint8_t nolen[] = {1, 1, 1, 2};
	static const uint8_t mss3[] = {2, 3, 5, 1};
	static const uint8_t ws4[] = {3, 4, 7, 0};
	static const uint8_t sack7[] = {5, 7, 0, 0, 0, 0, 0, 1};
	struct {
		const uint8_t *p;
		size_t n;
	} bad[] = {{len0, 4}, {len1, 4}, {past, 4}, {nolen, 4},
		   {mss3, 4}, {ws4, 4},	 {sack7, 8}};
	struct rs_tcp_opts p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rs_tcp_opt_parse(bad[i].p, bad[i].n, &p),
				 -EINVAL);
}

/* A 20-byte header + @p olen option bytes + @p plen payload bytes. */
static size_t hdr(uint8_t *b, uint8_t doff_words, uint8_t flags, uint16_t sport,
		  uint16_t dport, size_t total)
{
	memset(b, 0, total);
	b[0] = (uint8_t)(sport >> 8);
	b[1] = (uint8_t)sport;
	b[2] = (uint8_t)(dport >> 8);
	b[3] = (uint8_t)dport;
	b[4] = 0x11; /* seq 0x11223344 */
	b[5] = 0x22;
	b[6] = 0x33;
	b[7] = 0x44;
	b[12] = (uint8_t)(doff_words << 4);
	b[13] = flags;
	b[14] = 0x12;
	b[15] = 0x34;
	return total;
}

static void test_parse_header(void **state)
{
	uint8_t b[64];
	struct rs_tcp_seg_in s;

	(void)state;
	hdr(b, 6, RS_TCP_SYN, 1000, 80, 30);
	b[20] = 2; /* mss 1000 */
	b[21] = 4;
	b[22] = 0x03;
	b[23] = 0xe8;
	assert_int_equal(rs_tcp_parse(b, 30, &s), 0);
	assert_int_equal(s.sport, 1000);
	assert_int_equal(s.dport, 80);
	assert_int_equal(s.seq, 0x11223344);
	assert_int_equal(s.wnd, 0x1234);
	assert_int_equal(s.len, 6);
	assert_ptr_equal(s.data, b + 24);
	assert_int_equal(s.opt.mss, 1000);
	assert_int_equal(rs_tcp_seg_space(&s), 7);
}

static void test_parse_rejects(void **state)
{
	uint8_t b[64];
	struct rs_tcp_seg_in s;

	(void)state;
	hdr(b, 5, RS_TCP_ACK, 1, 2, 20);
	assert_int_equal(rs_tcp_parse(b, 19, &s), RS_TCP_DROP_SHORT);
	hdr(b, 4, RS_TCP_ACK, 1, 2, 20);
	assert_int_equal(rs_tcp_parse(b, 20, &s), RS_TCP_DROP_BAD_DOFF);
	hdr(b, 6, RS_TCP_ACK, 1, 2, 20);
	assert_int_equal(rs_tcp_parse(b, 20, &s), RS_TCP_DROP_BAD_DOFF);
	hdr(b, 5, RS_TCP_ACK, 0, 2, 20);
	assert_int_equal(rs_tcp_parse(b, 20, &s), RS_TCP_DROP_BAD_PORT);
	hdr(b, 5, RS_TCP_SYN | RS_TCP_FIN, 1, 2, 20);
	assert_int_equal(rs_tcp_parse(b, 20, &s), RS_TCP_DROP_BAD_FLAGS);
	hdr(b, 5, RS_TCP_SYN | RS_TCP_RST, 1, 2, 20);
	assert_int_equal(rs_tcp_parse(b, 20, &s), RS_TCP_DROP_BAD_FLAGS);
	hdr(b, 5, RS_TCP_SYN | RS_TCP_FIN | RS_TCP_ACK, 1, 2, 20);
	assert_int_equal(rs_tcp_parse(b, 20, &s), RS_TCP_DROP_BAD_FLAGS);
	hdr(b, 5, 0, 1, 2, 20); /* legal on the wire; RFC 9293 decides */
	assert_int_equal(rs_tcp_parse(b, 20, &s), 0);
	hdr(b, 6, RS_TCP_ACK, 1, 2, 24);
	b[20] = 2; /* mss option cut short */
	b[21] = 6;
	assert_int_equal(rs_tcp_parse(b, 24, &s), RS_TCP_DROP_BAD_OPT);
}

static void test_build_syn(void **state)
{
	uint8_t b[40];
	struct rs_tcp_opts p;

	(void)state;
	assert_int_equal(rs_tcp_opt_build_syn(b, 1460, 7, false, NULL), 8);
	assert_int_equal(rs_tcp_opt_parse(b, 8, &p), 0);
	assert_int_equal(p.mss, 1460);
	assert_true(p.has_ws);
	assert_int_equal(p.ws, 7);
	assert_int_equal(rs_tcp_opt_build_syn(b, 536, -1, false, NULL), 4);
	assert_int_equal(rs_tcp_opt_parse(b, 4, &p), 0);
	assert_false(p.has_ws);
}

/* The SYN layouts with SACK-permitted and timestamps, byte for byte:
 * each option 4-byte aligned, no byte wasted, 20 bytes at most. */
static void test_build_syn_sack_ts(void **state)
{
	static const uint8_t all[] = {2,    4,	  0x05, 0xb4, 1,  3,	3,
				      7,    4,	  2,	8,    10, 0x12, 0x34,
				      0x56, 0x78, 0,	0,    0,  9};
	static const uint8_t sack_only[] = {2, 4, 0x05, 0xb4, 1, 3,
					    3, 7, 1,	1,    4, 2};
	static const uint8_t ts_only[] = {2, 4, 0x02, 0x18, 1, 1, 8, 10,
					  0, 0, 0,    1,    0, 0, 0, 2};
	struct rs_tcp_ts ts = {0x12345678, 9}, ts2 = {1, 2};
	struct rs_tcp_opts p;
	uint8_t b[40];

	(void)state;
	assert_int_equal(rs_tcp_opt_build_syn(b, 1460, 7, true, &ts),
			 sizeof(all));
	assert_memory_equal(b, all, sizeof(all));
	assert_int_equal(rs_tcp_opt_parse(b, sizeof(all), &p), 0);
	assert_true(p.sack_perm && p.has_ts && p.has_ws);
	assert_int_equal(p.ts_val, 0x12345678);
	assert_int_equal(p.ts_ecr, 9);
	assert_int_equal(rs_tcp_opt_build_syn(b, 1460, 7, true, NULL),
			 sizeof(sack_only));
	assert_memory_equal(b, sack_only, sizeof(sack_only));
	assert_int_equal(rs_tcp_opt_build_syn(b, 536, -1, false, &ts2),
			 sizeof(ts_only));
	assert_memory_equal(b, ts_only, sizeof(ts_only));
}

/* Timestamps then SACK blocks: three blocks fit with TS (40 bytes), four
 * without (36); a smaller room keeps fewer, never a cut block. */
static void test_build_ts_sack(void **state)
{
	static const struct rs_tcp_sack_block blk[4] = {
	    {100, 200}, {300, 400}, {500, 600}, {0xfffffff0, 16}};
	static const uint8_t ts_one[] = {1, 1, 8, 10,  0, 0, 0, 5,
					 0, 0, 0, 6,   1, 1, 5, 10,
					 0, 0, 0, 100, 0, 0, 0, 200};
	struct rs_tcp_ts ts = {5, 6};
	struct rs_tcp_opts p;
	uint8_t b[40];

	(void)state;
	assert_int_equal(rs_tcp_opt_build(b, &ts, NULL, 0, 40), 12);
	assert_int_equal(rs_tcp_opt_build(b, &ts, blk, 4, 40), 40);
	assert_int_equal(rs_tcp_opt_parse(b, 40, &p), 0);
	assert_true(p.has_ts);
	assert_int_equal(p.sack_blocks, 3);
	assert_int_equal(p.sack[2].left, 500);
	assert_int_equal(p.sack[2].right, 600);
	assert_int_equal(rs_tcp_opt_build(b, NULL, blk, 4, 40), 36);
	assert_int_equal(rs_tcp_opt_parse(b, 36, &p), 0);
	assert_false(p.has_ts);
	assert_int_equal(p.sack_blocks, 4);
	assert_int_equal(p.sack[3].left, 0xfffffff0);
	assert_int_equal(p.sack[3].right, 16);
	/* room for TS and one block only (e.g. a short data segment) */
	assert_int_equal(rs_tcp_opt_build(b, &ts, blk, 4, 31), 24);
	assert_memory_equal(b, ts_one, sizeof(ts_one));
	/* no room for TS: nothing rather than a broken list */
	assert_int_equal(rs_tcp_opt_build(b, &ts, blk, 4, 11), 0);
	assert_int_equal(rs_tcp_opt_build(b, NULL, blk, 0, 40), 0);
}

/* One's-complement sum written from RFC 1071's definition. */
static uint16_t ref_sum(const uint8_t *ph, const uint8_t *p, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < 12; i += 2)
		sum += (uint64_t)ph[i] << 8 | ph[i + 1];
	for (size_t i = 0; i < n; i++)
		sum += i & 1 ? p[i] : (uint64_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void test_write_and_checksum(void **state)
{
	uint8_t pay[41], out[128],
	    ph[12] = {198, 18, 0, 2, 198, 18, 0, 1, 0, 6};
	struct rs_tcp_seg s = {0};
	uint32_t sa, da;
	size_t hl;
	uint16_t want;

	(void)state;
	memcpy(&sa, ph, 4);
	memcpy(&da, ph + 4, 4);
	for (unsigned i = 0; i < sizeof(pay); i++)
		pay[i] = (uint8_t)(i * 7 + 1);
	s.saddr = sa;
	s.daddr = da;
	s.sport = 8080;
	s.dport = 40000;
	s.seq = 0xfffffff0;
	s.ack = 7;
	s.flags = RS_TCP_ACK | RS_TCP_PSH;
	s.window = 513;
	s.opt_len = rs_tcp_opt_build_syn(s.opt, 1460, 2, false, NULL);
	/* payload in two pieces, the first of odd length */
	s.payload.seg[0].ptr = pay;
	s.payload.seg[0].len = 13;
	s.payload.seg[1].ptr = pay + 13;
	s.payload.seg[1].len = sizeof(pay) - 13;
	s.payload_len = sizeof(pay);
	hl = rs_tcp_seg_write_hdr(&s, out, true);
	assert_int_equal(hl, 28);
	assert_int_equal(out[12] >> 4, 7);
	memcpy(out + hl, pay, sizeof(pay));
	ph[10] = 0;
	ph[11] = (uint8_t)(hl + sizeof(pay));
	want = (uint16_t)(out[16] << 8 | out[17]);
	out[16] = out[17] = 0;
	assert_int_equal(ref_sum(ph, out, hl + sizeof(pay)), want);
	out[16] = (uint8_t)(want >> 8);
	out[17] = (uint8_t)want;
	assert_int_equal(rs_tcp_checksum(sa, da, out, hl + sizeof(pay)), 0);
	out[30] ^= 1;
	assert_int_not_equal(rs_tcp_checksum(sa, da, out, hl + sizeof(pay)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_options_known),
	    cmocka_unit_test(test_options_unknown_and_eol),
	    cmocka_unit_test(test_options_malformed),
	    cmocka_unit_test(test_parse_header),
	    cmocka_unit_test(test_parse_rejects),
	    cmocka_unit_test(test_build_syn),
	    cmocka_unit_test(test_build_syn_sack_ts),
	    cmocka_unit_test(test_build_ts_sack),
	    cmocka_unit_test(test_write_and_checksum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
