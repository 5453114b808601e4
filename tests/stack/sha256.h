/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * SHA-256 (FIPS 180-4, section 6.2), incremental, for the stack tests:
 * both ends of a transfer hash what they sent or received and the test
 * compares the digests.  Not constant-time; not for secrets.
 *
 *   struct rs_sha256 h;
 *   rs_sha256_init(&h);
 *   rs_sha256_update(&h, buf, len);   (any number of times, any sizes)
 *   rs_sha256_final(&h, digest);      (then init again to reuse)
 */
#ifndef RS_SHA256_H
#define RS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define RS_SHA256_DIGEST_LEN 32
/** Room for the digest in hex, terminator included. */
#define RS_SHA256_HEX_LEN (2 * RS_SHA256_DIGEST_LEN + 1)

struct rs_sha256 {
	uint32_t h[8];	    /**< intermediate hash value H(i) */
	uint64_t len;	    /**< message bytes so far */
	uint8_t block[64];  /**< the partial block */
	unsigned block_len; /**< bytes in block[] */
};

/** Start a new message. */
void rs_sha256_init(struct rs_sha256 *s);

/** Add @p len bytes of the message. */
void rs_sha256_update(struct rs_sha256 *s, const void *data, size_t len);

/** Pad, finish and write the 32-byte digest. */
void rs_sha256_final(struct rs_sha256 *s, uint8_t digest[RS_SHA256_DIGEST_LEN]);

/** Write @p digest as 64 lower-case hex digits and a terminator. */
void rs_sha256_hex(const uint8_t digest[RS_SHA256_DIGEST_LEN],
		   char hex[RS_SHA256_HEX_LEN]);

#endif /* RS_SHA256_H */
