/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TCP header on the wire (RFC 9293 §3.1): parsing a received header
 * and its options, encoding our SYN options, writing a header for the
 * glue, and the Internet checksum with the IPv4 pseudo-header.
 *
 * Options (RFC 9293 §3.2): kind 0 ends the list, kind 1 is padding, every
 * other kind carries a length byte that counts kind and length.  A list
 * whose length byte is < 2 or runs past the header is malformed and the
 * segment is dropped.  Known kinds with a wrong length are malformed too.
 * Parsed into struct rs_tcp_opts: MSS (2), window scale (3, RFC 7323
 * §2), SACK-permitted (4) and SACK blocks (5, RFC 2018 §2-3), timestamps
 * (8, RFC 7323 §3); other kinds are skipped.
 *
 * Encoded: our SYN options (MSS, window scale, SACK-permitted,
 * timestamps) and those of every other segment (timestamps, SACK blocks
 * in the room the payload leaves).  Layouts keep each option aligned as
 * RFC 7323 appendix A suggests: NOP,NOP,TS and NOP,NOP,SACK.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "tcp_pvt.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* One option of known @p kind whose body is @p p[0..len-2). */
static int opt_one(uint8_t kind, const uint8_t *p, uint8_t len,
		   struct rs_tcp_opts *o)
{
	switch (kind) {
	case RS_TCP_OPT_MSS:
		if (len != 4)
			return -EINVAL;
		o->has_mss = true;
		o->mss = get16(p);
		return 0;
	case RS_TCP_OPT_WS:
		if (len != 3)
			return -EINVAL;
		o->has_ws = true;
		o->ws = p[0];
		return 0;
	case RS_TCP_OPT_SACK_PERM:
		if (len != 2)
			return -EINVAL;
		o->sack_perm = true;
		return 0;
	case RS_TCP_OPT_SACK:
		if (len < 10 || (len - 2) % 8 != 0)
			return -EINVAL;
		o->sack_blocks =
		    (uint8_t)RS_TCP_MIN((len - 2) / 8, RS_TCP_SACK_BLOCKS_MAX);
		for (unsigned i = 0; i < o->sack_blocks; i++) {
			o->sack[i].left = get32(p + 8 * i);
			o->sack[i].right = get32(p + 8 * i + 4);
		}
		return 0;
	case RS_TCP_OPT_TS:
		if (len != 10)
			return -EINVAL;
		o->has_ts = true;
		o->ts_val = get32(p);
		o->ts_ecr = get32(p + 4);
		return 0;
	default:
		return 0; /* unknown: skipped */
	}
}

int rs_tcp_opt_parse(const uint8_t *p, size_t len, struct rs_tcp_opts *o)
{
	size_t i = 0;

	memset(o, 0, sizeof(*o));
	while (i < len) {
		uint8_t kind = p[i], olen;

		if (kind == RS_TCP_OPT_EOL)
			break;
		if (kind == RS_TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return -EINVAL;
		olen = p[i + 1];
		if (olen < 2 || olen > len - i)
			return -EINVAL;
		if (opt_one(kind, p + i + 2, olen, o) < 0)
			return -EINVAL;
		i += olen;
	}
	return 0;
}

/* Flag combinations no TCP sends: SYN with FIN or RST.  (Segments with
 * none of SYN, ACK, RST pass: RFC 9293 answers them with RST at a closed
 * port and drops them elsewhere, counted as listen_bad / no_ack.) */
static bool flags_bad(uint8_t f)
{
	return (f & RS_TCP_SYN) && (f & (RS_TCP_FIN | RS_TCP_RST));
}

int rs_tcp_parse(const void *tcp, size_t len, struct rs_tcp_seg_in *s)
{
	const uint8_t *h = tcp;
	size_t doff;

	if (len < RS_TCP_HDR_MIN)
		return RS_TCP_DROP_SHORT;
	doff = (size_t)(h[12] >> 4) * 4;
	if (doff < RS_TCP_HDR_MIN || doff > len)
		return RS_TCP_DROP_BAD_DOFF;
	s->sport = get16(h);
	s->dport = get16(h + 2);
	s->seq = get32(h + 4);
	s->ack = get32(h + 8);
	s->flags = h[13];
	s->wnd = get16(h + 14);
	s->data = h + doff;
	s->iov = NULL;
	s->niov = s->skip = 0;
	s->len = (uint32_t)(len - doff);
	if (s->sport == 0 || s->dport == 0)
		return RS_TCP_DROP_BAD_PORT;
	if (flags_bad(s->flags))
		return RS_TCP_DROP_BAD_FLAGS;
	if (rs_tcp_opt_parse(h + RS_TCP_HDR_MIN, doff - RS_TCP_HDR_MIN,
			     &s->opt) < 0)
		return RS_TCP_DROP_BAD_OPT;
	return 0;
}

/* Kind 8 with TSval and TSecr: 10 bytes. */
static uint8_t put_ts(uint8_t *p, const struct rs_tcp_ts *ts)
{
	p[0] = RS_TCP_OPT_TS;
	p[1] = 10;
	put32(p + 2, ts->val);
	put32(p + 6, ts->ecr);
	return 10;
}

uint8_t rs_tcp_opt_build_syn(uint8_t *buf, uint16_t mss, int ws, bool sack_perm,
			     const struct rs_tcp_ts *ts)
{
	uint8_t n = 0;

	buf[n++] = RS_TCP_OPT_MSS;
	buf[n++] = 4;
	put16(buf + n, mss);
	n += 2;
	if (ws >= 0) {
		buf[n++] = RS_TCP_OPT_NOP;
		buf[n++] = RS_TCP_OPT_WS;
		buf[n++] = 3;
		buf[n++] = (uint8_t)ws;
	}
	/* SACK-permitted takes the place of the two NOPs before TS. */
	if (!sack_perm || ts == NULL) {
		for (int i = 0; i < 2 && (sack_perm || ts); i++)
			buf[n++] = RS_TCP_OPT_NOP;
	}
	if (sack_perm) {
		buf[n++] = RS_TCP_OPT_SACK_PERM;
		buf[n++] = 2;
	}
	if (ts != NULL)
		n = (uint8_t)(n + put_ts(buf + n, ts));
	return n;
}

uint8_t rs_tcp_opt_build(uint8_t *buf, const struct rs_tcp_ts *ts,
			 const struct rs_tcp_sack_block *b, unsigned n,
			 unsigned room)
{
	uint8_t len = 0;

	room = RS_TCP_MIN(room, (unsigned)RS_TCP_OPT_MAX);
	if (ts != NULL && room >= RS_TCP_TS_LEN) {
		buf[len++] = RS_TCP_OPT_NOP;
		buf[len++] = RS_TCP_OPT_NOP;
		len = (uint8_t)(len + put_ts(buf + len, ts));
	}
	n = RS_TCP_MIN(n, (room - len >= 4 ? (room - len - 4) / 8 : 0));
	n = RS_TCP_MIN(n, (unsigned)RS_TCP_SACK_BLOCKS_MAX);
	if (n == 0)
		return len;
	buf[len++] = RS_TCP_OPT_NOP;
	buf[len++] = RS_TCP_OPT_NOP;
	buf[len++] = RS_TCP_OPT_SACK;
	buf[len++] = (uint8_t)(2 + 8 * n);
	for (unsigned i = 0; i < n; i++, len += 8) {
		put32(buf + len, b[i].left);
		put32(buf + len + 4, b[i].right);
	}
	return len;
}

/* One's-complement sum of @p len bytes, big-endian 16-bit words. */
static uint32_t sum_bytes(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

static uint32_t sum_pseudo(uint32_t saddr, uint32_t daddr, size_t len)
{
	uint8_t ph[12];

	memcpy(ph, &saddr, 4);
	memcpy(ph + 4, &daddr, 4);
	ph[8] = 0;
	ph[9] = 6; /* IPPROTO_TCP */
	put16(ph + 10, (uint16_t)len);
	return sum_bytes(0, ph, sizeof(ph));
}

static uint16_t sum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

uint16_t rs_tcp_checksum(uint32_t saddr, uint32_t daddr, const void *tcp,
			 size_t len)
{
	return sum_fold(sum_bytes(sum_pseudo(saddr, daddr, len), tcp, len));
}

/* Sum a payload piece that may start on an odd offset of the segment. */
static uint32_t sum_piece(uint32_t sum, const struct rs_byte_seg *p, bool *odd)
{
	const uint8_t *b = p->ptr;
	size_t len = p->len;

	if (len && *odd) {
		sum += b[0];
		b++;
		len--;
		*odd = false;
	}
	sum = sum_bytes(sum, b, len);
	if (len & 1)
		*odd = true;
	return sum;
}

size_t rs_tcp_seg_write_hdr(const struct rs_tcp_seg *seg, void *hdr, bool csum)
{
	uint8_t *h = hdr;
	size_t hl = RS_TCP_HDR_MIN + seg->opt_len;

	put16(h, seg->sport);
	put16(h + 2, seg->dport);
	put32(h + 4, seg->seq);
	put32(h + 8, seg->ack);
	h[12] = (uint8_t)((hl / 4) << 4);
	h[13] = seg->flags;
	put16(h + 14, seg->window);
	put16(h + 16, 0);
	put16(h + 18, 0);
	memcpy(h + RS_TCP_HDR_MIN, seg->opt, seg->opt_len);
	if (csum) {
		size_t total = hl + seg->payload_len;
		uint32_t sum = sum_pseudo(seg->saddr, seg->daddr, total);
		bool odd = false;
		uint16_t c;

		sum = sum_bytes(sum, h, hl);
		sum = sum_piece(sum, &seg->payload.seg[0], &odd);
		sum = sum_piece(sum, &seg->payload.seg[1], &odd);
		c = sum_fold(sum);
		memcpy(h + 16, &c, 2);
	}
	return hl;
}
