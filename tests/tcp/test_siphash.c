/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SipHash-2-4 against the test vectors of the SipHash paper (key
 * 00 01 .. 0f, message 00 01 .. of length n), the RFC 6528 ISN built on
 * it, and the RFC 6056 port offset.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "tcp_pvt.h"

static const struct {
	size_t len;
	uint64_t out;
} vectors[] = {
    {0, 0x726fdb47dd0e0e31ULL},	 {1, 0x74f839c593dc67fdULL},
    {7, 0xab0200f58b01d137ULL},	 {8, 0x93f5f5799a932462ULL},
    {15, 0xa129ca6149be45e5ULL}, {16, 0x3f2acc7f57c29bdbULL},
    {63, 0x958a324ceb064572ULL},
};

static void key_and_msg(uint8_t key[16], uint8_t msg[64])
{
	for (unsigned i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (unsigned i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
}

static void test_paper_vectors(void **state)
{
	uint8_t key[16], msg[64];

	(void)state;
	key_and_msg(key, msg);
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		assert_int_equal(rs_tcp_siphash(key, msg, vectors[i].len),
				 vectors[i].out);
}

static void test_key_and_message_matter(void **state)
{
	uint8_t key[16], msg[64];
	uint64_t h;

	(void)state;
	key_and_msg(key, msg);
	h = rs_tcp_siphash(key, msg, 15);
	msg[3] ^= 1;
	assert_int_not_equal(rs_tcp_siphash(key, msg, 15), h);
	msg[3] ^= 1;
	key[15] ^= 0x80;
	assert_int_not_equal(rs_tcp_siphash(key, msg, 15), h);
}

/* RFC 6528: ISN = M + F(tuple, key), M ticking every 4 µs. */
static void test_isn_clock_and_tuple(void **state)
{
	uint8_t key[16] = "0123456789abcdef";
	struct rs_tcp_tuple t = {.laddr = 0x0100a8c0,
				 .raddr = 0x0200a8c0,
				 .lport = 80,
				 .rport = 40000};
	struct rs_tcp_tuple u = t;
	uint32_t a = rs_tcp_isn(key, &t, 0);

	(void)state;
	assert_int_equal(rs_tcp_isn(key, &t, 3999), a);
	assert_int_equal(rs_tcp_isn(key, &t, 4000), a + 1);
	assert_int_equal(rs_tcp_isn(key, &t, 4000ULL * 1000), a + 1000);
	u.rport++;
	assert_int_not_equal(rs_tcp_isn(key, &u, 0), a);
	key[0] ^= 1;
	assert_int_not_equal(rs_tcp_isn(key, &t, 0), a);
}

/* RFC 6056 algorithm 3: F() does not depend on the local port. */
static void test_port_offset(void **state)
{
	uint8_t key[16] = "0123456789abcdef";
	uint32_t a = rs_tcp_port_offset(key, 1, 2, 80);

	(void)state;
	assert_int_equal(rs_tcp_port_offset(key, 1, 2, 80), a);
	assert_int_not_equal(rs_tcp_port_offset(key, 1, 2, 81), a);
	assert_int_not_equal(rs_tcp_port_offset(key, 1, 3, 80), a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paper_vectors),
	    cmocka_unit_test(test_key_and_message_matter),
	    cmocka_unit_test(test_isn_clock_and_tuple),
	    cmocka_unit_test(test_port_offset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
