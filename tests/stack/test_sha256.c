/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SHA-256 against the FIPS 180-4 example messages (the empty string,
 * "abc", the 448- and 896-bit messages, a million 'a'), against messages
 * whose length falls on each side of the padding boundaries, and fed in
 * every chunking: a digest must not depend on how the bytes arrive.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

static void digest_of(const void *msg, size_t len, size_t chunk,
		      char hex[RS_SHA256_HEX_LEN])
{
	struct rs_sha256 s;
	uint8_t d[RS_SHA256_DIGEST_LEN];
	const uint8_t *p = msg;

	rs_sha256_init(&s);
	for (size_t off = 0; off < len; off += chunk)
		rs_sha256_update(&s, p + off,
				 len - off < chunk ? len - off : chunk);
	rs_sha256_final(&s, d);
	rs_sha256_hex(d, hex);
}

static void check(const char *msg, size_t len, const char *want)
{
	char hex[RS_SHA256_HEX_LEN];

	digest_of(msg, len, len == 0 ? 1 : len, hex);
	assert_string_equal(hex, want);
}

static void test_fips_examples(void **state)
{
	check(
	    "", 0,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check(
	    "abc", 3,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check(
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	check(
	    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	    112,
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void **state)
{
	char *m = malloc(1000000), hex[RS_SHA256_HEX_LEN];

	assert_non_null(m);
	memset(m, 'a', 1000000);
	digest_of(m, 1000000, 1000000, hex);
	assert_string_equal(
	    hex,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	digest_of(m, 1000000, 4093, hex);
	assert_string_equal(
	    hex,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(m);
}

/* Lengths around 55/56 (the length field no longer fits) and 64. */
static void test_padding_boundaries(void **state)
{
	static const struct {
		size_t len;
		const char *hex;
	} v[] = {
	    {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac"
		 "70b"},
	    {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6"
		 "c27"},
	    {57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8"
		 "f73"},
	    {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625"
		 "055"},
	    {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882"
		 "241"},
	    {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae"
		 "95e"},
	    {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc"
		  "177e"},
	    {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a"
		  "04b5"},
	    {128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c0"
		  "8cf6"},
	};
	char m[128];

	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = (char)((i * 7 + 3) & 0xff);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		check(m, v[i].len, v[i].hex);
}

/* Every chunk size from 1 to 130 gives the one-shot digest. */
static void test_chunking(void **state)
{
	char m[300], want[RS_SHA256_HEX_LEN], got[RS_SHA256_HEX_LEN];

	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = (char)(i * 131 + 17);
	digest_of(m, sizeof(m), sizeof(m), want);
	for (size_t chunk = 1; chunk <= 130; chunk++) {
		digest_of(m, sizeof(m), chunk, got);
		assert_string_equal(got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fips_examples),
	    cmocka_unit_test(test_million_a),
	    cmocka_unit_test(test_padding_boundaries),
	    cmocka_unit_test(test_chunking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
