/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SipHash-2-4, written from the specification (Aumasson and Bernstein,
 * "SipHash: a fast short-input PRF", 2012): four 64-bit words of state
 * initialised from the 128-bit key and four constants, two SipRounds per
 * 8-byte message word, a last word holding the remaining bytes and the
 * length modulo 256 in its top byte, then four finalisation rounds.
 * All words are read little-endian.
 *
 * It is the keyed function F of RFC 6528 (ISNs), RFC 6056 (port offsets)
 * and keys the flow-table hash: an attacker who does not know the key can
 * neither predict our sequence numbers nor aim at one hash bucket.
 */

#include "tcp_pvt.h"

static inline uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

struct sip {
	uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

/* Compression: c = 2 rounds per message word. */
static void sip_absorb(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

uint64_t rs_tcp_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	struct sip s = {
	    .v0 = k0 ^ 0x736f6d6570736575ULL, /* "somepseu" */
	    .v1 = k1 ^ 0x646f72616e646f6dULL, /* "dorandom" */
	    .v2 = k0 ^ 0x6c7967656e657261ULL, /* "lygenera" */
	    .v3 = k1 ^ 0x7465646279746573ULL, /* "tedbytes" */
	};
	size_t words = len / 8;
	uint64_t last = (uint64_t)(len & 0xff) << 56;

	for (size_t i = 0; i < words; i++)
		sip_absorb(&s, load_le64(p + 8 * i));
	for (size_t i = 0; i < (len & 7); i++)
		last |= (uint64_t)p[8 * words + i] << (8 * i);
	sip_absorb(&s, last);
	/* Finalisation: d = 4 rounds. */
	s.v2 ^= 0xff;
	for (unsigned i = 0; i < 4; i++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
