/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Initial sequence numbers (RFC 6528 §3) and ephemeral port offsets
 * (RFC 6056 §3.3.3).
 *
 *   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * M is a timer ticking every 4 microseconds (taken from the caller's
 * clock, as every time here), F the low 32 bits of SipHash-2-4 under the
 * stack's secret.  A domain byte keeps F apart from the port offset,
 * which hashes (localip, remoteip, remoteport) only: all local ports of
 * one destination then share one starting point, as algorithm 3 asks.
 *
 * The TSval offset (RFC 7323 §7.1, appendix: a random offset per
 * connection keeps our clock from being read across connections) is the
 * same keyed hash of the 4-tuple under a third domain byte.
 */

#include <string.h>

#include "tcp_pvt.h"

enum {
	DOMAIN_ISN = 'I',
	DOMAIN_PORT = 'P',
	DOMAIN_TS = 'T',
	DOMAIN_COOKIE = 'C'
};

static uint32_t tuple_hash(const uint8_t key[16], const struct rs_tcp_tuple *t,
			   uint8_t domain)
{
	uint8_t msg[13];

	memcpy(msg, &t->laddr, 4);
	memcpy(msg + 4, &t->raddr, 4);
	memcpy(msg + 8, &t->lport, 2);
	memcpy(msg + 10, &t->rport, 2);
	msg[12] = domain;
	return (uint32_t)rs_tcp_siphash(key, msg, sizeof(msg));
}

uint32_t rs_tcp_isn(const uint8_t key[16], const struct rs_tcp_tuple *t,
		    uint64_t now)
{
	uint32_t m = (uint32_t)(now / 4000); /* 4 µs ticks, wraps mod 2^32 */

	return m + tuple_hash(key, t, DOMAIN_ISN);
}

uint32_t rs_tcp_ts_offset(const uint8_t key[16], const struct rs_tcp_tuple *t)
{
	return tuple_hash(key, t, DOMAIN_TS);
}

uint32_t rs_tcp_cookie_hash(const uint8_t key[16], const struct rs_tcp_tuple *t,
			    uint32_t irs, uint32_t count)
{
	uint8_t msg[21];

	memcpy(msg, &t->laddr, 4);
	memcpy(msg + 4, &t->raddr, 4);
	memcpy(msg + 8, &t->lport, 2);
	memcpy(msg + 10, &t->rport, 2);
	memcpy(msg + 12, &irs, 4);
	memcpy(msg + 16, &count, 4);
	msg[20] = DOMAIN_COOKIE;
	return (uint32_t)rs_tcp_siphash(key, msg, sizeof(msg));
}

uint32_t rs_tcp_port_offset(const uint8_t key[16], uint32_t laddr,
			    uint32_t raddr, uint16_t rport)
{
	uint8_t msg[11];

	memcpy(msg, &laddr, 4);
	memcpy(msg + 4, &raddr, 4);
	memcpy(msg + 8, &rport, 2);
	msg[10] = DOMAIN_PORT;
	return (uint32_t)rs_tcp_siphash(key, msg, sizeof(msg));
}
