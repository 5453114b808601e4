/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rs_frame: the decoder fed in every way a TCP ring can feed it (one byte at
 * a time, many frames at once, every split of a stream, random chunks), its
 * limits and failed state, and the encoder.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "remote_socket.pb-c.h"
#include "rs_frame.h"

#define MAX_FRAMES 512

/* A stream of frames with known bodies. */
struct stream {
	uint8_t *bytes;
	size_t len;
	size_t nframes;
	size_t start[MAX_FRAMES]; /* offset of each frame's header */
	size_t body_len[MAX_FRAMES];
};

/* What a decoder delivered. */
struct got {
	size_t nframes;
	size_t len[MAX_FRAMES];
	int bad_body[MAX_FRAMES]; /* body differs from the stream's */
	int assembled[MAX_FRAMES];
	const uint8_t *data[MAX_FRAMES];
};

static uint8_t body_byte(size_t frame, size_t i)
{
	return (uint8_t)(frame * 31 + i * 7 + 1);
}

static void stream_build(struct stream *s, const size_t *sizes, size_t n)
{
	size_t i, j, total = 0;
	uint8_t *p;

	assert_true(n <= MAX_FRAMES);
	for (i = 0; i < n; i++)
		total += RS_FRAME_HDR_LEN + sizes[i];
	s->bytes = malloc(total ? total : 1);
	assert_non_null(s->bytes);
	s->len = total;
	s->nframes = n;
	p = s->bytes;
	for (i = 0; i < n; i++) {
		s->start[i] = (size_t)(p - s->bytes);
		s->body_len[i] = sizes[i];
		assert_int_equal(rs_frame_header_write(p, sizes[i]), 0);
		p += RS_FRAME_HDR_LEN;
		for (j = 0; j < sizes[i]; j++)
			*p++ = body_byte(i, j);
	}
}

static void record(struct got *g, const struct rs_frame *f)
{
	size_t k = g->nframes++, j;

	assert_true(k < MAX_FRAMES);
	assert_non_null(f->data);
	g->len[k] = f->len;
	g->assembled[k] = f->assembled;
	g->data[k] = f->data;
	g->bad_body[k] = 0;
	for (j = 0; j < f->len; j++)
		if (f->data[j] != body_byte(k, j))
			g->bad_body[k] = 1;
}

/* Feed one chunk completely; returns the last status. */
static int feed(struct rs_frame_decoder *dec, const uint8_t *p, size_t len,
		struct got *g)
{
	int rc = RS_FRAME_NEED_MORE;
	size_t used;
	struct rs_frame f;

	while (len > 0) {
		rc = rs_frame_decode(dec, p, len, &used, &f);
		assert_true(used <= len);
		p += used;
		len -= used;
		if (rc < 0)
			return rc;
		if (rc == RS_FRAME_READY)
			record(g, &f);
		else
			assert_int_equal(len, 0);
	}
	return rc;
}

static void expect_all(const struct stream *s, const struct got *g)
{
	size_t i;

	assert_int_equal(g->nframes, s->nframes);
	for (i = 0; i < s->nframes; i++) {
		assert_int_equal(g->len[i], s->body_len[i]);
		assert_int_equal(g->bad_body[i], 0);
	}
}

static struct rs_frame_decoder *decoder_new(size_t max)
{
	struct rs_frame_decoder *dec = rs_frame_decoder_create(max);

	assert_non_null(dec);
	return dec;
}

static void test_create_bounds(void **state)
{
	struct rs_frame_decoder *dec = decoder_new(0);

	assert_int_equal(rs_frame_decoder_max(dec), RS_FRAME_MAX_DEFAULT);
	rs_frame_decoder_destroy(dec);
	dec = decoder_new(RS_FRAME_MAX_HARD);
	rs_frame_decoder_destroy(dec);
	errno = 0;
	assert_null(rs_frame_decoder_create(RS_FRAME_MAX_HARD + 1));
	assert_int_equal(errno, EINVAL);
}

static void test_one_frame_in_place(void **state)
{
	static const size_t sizes[] = {10};
	struct rs_frame_decoder *dec = decoder_new(0);
	struct stream s;
	struct rs_frame f;
	size_t used;

	stream_build(&s, sizes, 1);
	assert_int_equal(rs_frame_decode(dec, s.bytes, s.len, &used, &f),
			 RS_FRAME_READY);
	assert_int_equal(used, s.len);
	assert_false(f.assembled);
	assert_ptr_equal(f.data, s.bytes + RS_FRAME_HDR_LEN);
	assert_int_equal(f.len, 10);
	assert_int_equal(rs_frame_decoder_pending(dec), 0);
	free(s.bytes);
	rs_frame_decoder_destroy(dec);
}

static void test_many_frames_one_buffer(void **state)
{
	static const size_t sizes[] = {3, 0, 100, 1, 0, 0, 4000, 2};
	struct rs_frame_decoder *dec = decoder_new(0);
	struct got g = {0};
	struct stream s;
	size_t i;

	stream_build(&s, sizes, 8);
	assert_int_equal(feed(dec, s.bytes, s.len, &g), RS_FRAME_READY);
	expect_all(&s, &g);
	for (i = 0; i < 8; i++) {
		assert_false(g.assembled[i]);
		if (sizes[i] > 0)
			assert_ptr_equal(g.data[i], s.bytes + s.start[i] + 4);
	}
	free(s.bytes);
	rs_frame_decoder_destroy(dec);
}

static void test_zero_length_frame(void **state)
{
	const uint8_t hdr[4] = {0, 0, 0, 0};
	struct rs_frame_decoder *dec = decoder_new(0);
	struct rs_frame f;
	size_t used;

	assert_int_equal(rs_frame_decode(dec, hdr, 3, &used, &f),
			 RS_FRAME_NEED_MORE);
	assert_int_equal(used, 3);
	assert_int_equal(rs_frame_decoder_pending(dec), 3);
	assert_int_equal(rs_frame_decode(dec, hdr + 3, 1, &used, &f),
			 RS_FRAME_READY);
	assert_int_equal(f.len, 0);
	assert_non_null(f.data);
	assert_int_equal(rs_frame_decoder_pending(dec), 0);
	rs_frame_decoder_destroy(dec);
}

static void test_byte_at_a_time(void **state)
{
	static const size_t sizes[] = {5, 0, 300, 1, 70000, 2};
	struct rs_frame_decoder *dec = decoder_new(0);
	struct got g = {0};
	struct stream s;
	size_t i;

	stream_build(&s, sizes, 6);
	for (i = 0; i < s.len; i++) {
		assert_true(feed(dec, s.bytes + i, 1, &g) >= 0);
		/* Between frames nothing is held; inside one, what was fed. */
		if (g.nframes < s.nframes && i + 1 > s.start[g.nframes])
			assert_int_equal(rs_frame_decoder_pending(dec),
					 i + 1 - s.start[g.nframes]);
	}
	expect_all(&s, &g);
	free(s.bytes);
	rs_frame_decoder_destroy(dec);
}

/* A frame must come back in place exactly when its body lies wholly inside
 * one chunk [lo, hi); otherwise it must be assembled. */
static void check_placement(const struct stream *s, const struct got *g,
			    const size_t *cut, size_t ncut)
{
	size_t i, c;

	for (i = 0; i < s->nframes; i++) {
		size_t b = s->start[i] + RS_FRAME_HDR_LEN;
		size_t e = b + s->body_len[i];
		int inside = 0;

		if (s->body_len[i] == 0)
			continue;
		for (c = 0; c + 1 < ncut; c++)
			if (cut[c] <= b && e <= cut[c + 1])
				inside = 1;
		assert_int_equal(g->assembled[i], !inside);
		if (inside)
			assert_ptr_equal(g->data[i], s->bytes + b);
	}
}

static void test_every_split(void **state)
{
	static const size_t sizes[] = {0, 1, 2, 5, 0, 13};
	struct stream s;
	size_t i, j;

	stream_build(&s, sizes, 6);
	for (i = 0; i <= s.len; i++) {
		for (j = i; j <= s.len; j++) {
			const size_t cut[4] = {0, i, j, s.len};
			struct rs_frame_decoder *dec = decoder_new(0);
			struct got g = {0};
			size_t c;

			for (c = 0; c < 3; c++)
				assert_true(feed(dec, s.bytes + cut[c],
						 cut[c + 1] - cut[c], &g) >= 0);
			expect_all(&s, &g);
			check_placement(&s, &g, cut, 4);
			assert_int_equal(rs_frame_decoder_pending(dec), 0);
			rs_frame_decoder_destroy(dec);
		}
	}
	free(s.bytes);
}

/* A peer that announces a large frame and sends little costs little; a large
 * assembly buffer goes once its frame has been handed over. */
static void test_buffer_follows_bytes_received(void **state)
{
	static const size_t sizes[] = {RS_FRAME_MAX_DEFAULT - 12345};
	struct rs_frame_decoder *dec = decoder_new(0);
	struct got g = {0};
	struct stream s;
	size_t fed;

	stream_build(&s, sizes, 1);
	assert_int_equal(feed(dec, s.bytes, 14, &g), RS_FRAME_NEED_MORE);
	assert_true(rs_frame_decoder_held(dec) <= 256);
	fed = 14 + 100000;
	assert_int_equal(feed(dec, s.bytes + 14, 100000, &g),
			 RS_FRAME_NEED_MORE);
	assert_true(rs_frame_decoder_held(dec) >= fed - RS_FRAME_HDR_LEN);
	assert_true(rs_frame_decoder_held(dec) <= 2 * fed);
	/* The last 1000 bytes on their own: doubling would overshoot. */
	assert_int_equal(feed(dec, s.bytes + fed, s.len - fed - 1000, &g),
			 RS_FRAME_NEED_MORE);
	assert_int_equal(feed(dec, s.bytes + s.len - 1000, 1000, &g),
			 RS_FRAME_READY);
	expect_all(&s, &g);
	/* Never more than the frame itself. */
	assert_int_equal(rs_frame_decoder_held(dec), sizes[0]);
	/* Kept while the next frame's length is unknown, and for another
	 * large frame: assembled with no new buffer. */
	assert_int_equal(feed(dec, s.bytes, 2, &g), RS_FRAME_NEED_MORE);
	assert_int_equal(rs_frame_decoder_held(dec), sizes[0]);
	assert_int_equal(feed(dec, s.bytes + 2, 5000, &g), RS_FRAME_NEED_MORE);
	assert_int_equal(rs_frame_decoder_held(dec), sizes[0]);
	assert_int_equal(feed(dec, s.bytes + 5002, s.len - 5002, &g),
			 RS_FRAME_READY);
	assert_int_equal(rs_frame_decoder_held(dec), sizes[0]);
	/* A small frame lets it go. */
	{
		static const uint8_t small[] = {0, 0, 0, 2, 'h', 'i'};

		assert_int_equal(feed(dec, small, 4, &g), RS_FRAME_NEED_MORE);
		assert_int_equal(rs_frame_decoder_held(dec), 0);
		assert_int_equal(feed(dec, small + 4, 2, &g), RS_FRAME_READY);
	}
	free(s.bytes);
	rs_frame_decoder_destroy(dec);
}

static void test_oversize_fails_for_good(void **state)
{
	const uint8_t hdr[4] = {0, 0, 0x03, 0xe9}; /* 1001 */
	struct rs_frame_decoder *dec = decoder_new(1000);
	struct rs_frame f;
	size_t used;

	/* Split header: the error comes with its last byte. */
	assert_int_equal(rs_frame_decode(dec, hdr, 2, &used, &f),
			 RS_FRAME_NEED_MORE);
	assert_int_equal(rs_frame_decode(dec, hdr + 2, 2, &used, &f),
			 RS_FRAME_ETOOBIG);
	assert_true(rs_frame_decoder_failed(dec));
	assert_int_equal(rs_frame_decode(dec, hdr, 4, &used, &f),
			 RS_FRAME_EFAILED);
	assert_int_equal(used, 0);

	/* Reset makes it usable again, for a new stream. */
	rs_frame_decoder_reset(dec);
	assert_false(rs_frame_decoder_failed(dec));
	assert_int_equal(rs_frame_decode(dec, hdr, 4, &used, &f),
			 RS_FRAME_ETOOBIG);
	rs_frame_decoder_destroy(dec);
}

/* A connection's limit rises once it authenticates: frames whose header
 * comes after the change are held to the new one. */
static void test_set_max(void **state)
{
	const uint8_t hdr[4] = {0, 0, 0x03, 0xe9}; /* 1001 */
	struct rs_frame_decoder *dec = decoder_new(1000);
	struct rs_frame f;
	size_t used;

	assert_int_equal(rs_frame_decoder_set_max(dec, RS_FRAME_MAX_HARD + 1),
			 -EINVAL);
	assert_int_equal(rs_frame_decoder_max(dec), 1000);
	assert_int_equal(rs_frame_decoder_set_max(dec, 0), 0);
	assert_int_equal(rs_frame_decoder_max(dec), RS_FRAME_MAX_DEFAULT);
	assert_int_equal(rs_frame_decode(dec, hdr, 4, &used, &f),
			 RS_FRAME_NEED_MORE);
	rs_frame_decoder_destroy(dec);
}

static void test_max_size_exactly_accepted(void **state)
{
	const size_t sizes[] = {4096};
	struct stream s;
	int split;

	stream_build(&s, sizes, 1);
	for (split = 0; split < 2; split++) {
		struct rs_frame_decoder *dec = decoder_new(4096);
		struct got g = {0};
		size_t half = split ? s.len / 2 : s.len;

		assert_true(feed(dec, s.bytes, half, &g) >= 0);
		assert_int_equal(feed(dec, s.bytes + half, s.len - half, &g),
				 split ? RS_FRAME_READY : RS_FRAME_NEED_MORE);
		expect_all(&s, &g);
		assert_int_equal(g.assembled[0], split);
		rs_frame_decoder_destroy(dec);
	}
	free(s.bytes);
}

/* Something that is not our protocol: an HTTP request.  "GET " read as a
 * length is about 1.2 GB. */
static void test_garbage(void **state)
{
	const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct rs_frame_decoder *dec = decoder_new(0);
	struct got g = {0};

	assert_int_equal(feed(dec, (const uint8_t *)http, strlen(http), &g),
			 RS_FRAME_ETOOBIG);
	assert_int_equal(g.nframes, 0);
	assert_true(rs_frame_decoder_failed(dec));
	assert_non_null(strstr(rs_frame_strerror(RS_FRAME_ETOOBIG), "maximum"));
	rs_frame_decoder_destroy(dec);
}

static void test_randomized(void **state)
{
	const char *env = getenv("RS_TEST_SEED");
	unsigned seed = env ? (unsigned)strtoul(env, NULL, 0) : 0x5eed2024u;
	static size_t sizes[300];
	struct rs_frame_decoder *dec = decoder_new(0);
	struct got g = {0};
	struct stream s;
	size_t i, pos;

	printf("test_randomized: seed 0x%x (set RS_TEST_SEED to repeat)\n",
	       seed);
	srand(seed);
	for (i = 0; i < 300; i++) {
		int r = rand() % 100;

		sizes[i] = r < 10   ? 0
			   : r < 97 ? (size_t)(rand() % 3000)
				    : (size_t)(70000 + rand() % 70000);
	}
	stream_build(&s, sizes, 300);
	for (pos = 0; pos < s.len;) {
		size_t chunk = 1 + (size_t)(rand() % 6000);

		if (chunk > s.len - pos)
			chunk = s.len - pos;
		assert_true(feed(dec, s.bytes + pos, chunk, &g) >= 0);
		pos += chunk;
	}
	expect_all(&s, &g);
	free(s.bytes);
	rs_frame_decoder_destroy(dec);
}

static void test_header_codec(void **state)
{
	uint8_t hdr[4];

	assert_int_equal(rs_frame_header_write(hdr, 0x01020304), 0);
	assert_int_equal(hdr[0], 1);
	assert_int_equal(hdr[3], 4);
	assert_int_equal(rs_frame_header_read(hdr), 0x01020304);
	assert_int_equal(rs_frame_header_write(hdr, RS_FRAME_MAX_HARD), 0);
	assert_int_equal(rs_frame_header_write(hdr, RS_FRAME_MAX_HARD + 1),
			 -EMSGSIZE);
}

static void test_pack_message(void **state)
{
	Remsock__ReceiveReply rr = REMSOCK__RECEIVE_REPLY__INIT;
	uint8_t data[50], out[128];
	size_t need, len, used;
	struct rs_frame_decoder *dec = decoder_new(0);
	Remsock__ReceiveReply *back;
	struct rs_frame f;

	memset(data, 'x', sizeof(data));
	rr.has_stream_offset = 1;
	rr.stream_offset = 1234567;
	rr.has_data = 1;
	rr.data.data = data;
	rr.data.len = sizeof(data);
	assert_int_equal(rs_frame_pack(&rr.base, NULL, 0, &need), -ENOSPC);
	assert_int_equal(need,
			 RS_FRAME_HDR_LEN +
			     remsock__receive_reply__get_packed_size(&rr));
	assert_int_equal(rs_frame_pack(&rr.base, out, need - 1, &len), -ENOSPC);
	assert_int_equal(rs_frame_pack(&rr.base, out, sizeof(out), &len), 0);
	assert_int_equal(len, need);

	assert_int_equal(rs_frame_decode(dec, out, len, &used, &f),
			 RS_FRAME_READY);
	back = remsock__receive_reply__unpack(NULL, f.len, f.data);
	assert_non_null(back);
	assert_int_equal(back->stream_offset, 1234567);
	assert_int_equal(back->data.len, sizeof(data));
	remsock__receive_reply__free_unpacked(back, NULL);
	rs_frame_decoder_destroy(dec);
}

static void test_strerror_distinct(void **state)
{
	static const int codes[] = {RS_FRAME_NEED_MORE, RS_FRAME_READY,
				    RS_FRAME_ETOOBIG,	RS_FRAME_EFAILED,
				    RS_FRAME_ENOMEM,	-ENOSPC};
	size_t i, j;

	for (i = 0; i < 6; i++)
		for (j = i + 1; j < 6; j++)
			assert_string_not_equal(rs_frame_strerror(codes[i]),
						rs_frame_strerror(codes[j]));
	assert_non_null(rs_frame_strerror(-12345));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_bounds),
	    cmocka_unit_test(test_set_max),
	    cmocka_unit_test(test_one_frame_in_place),
	    cmocka_unit_test(test_many_frames_one_buffer),
	    cmocka_unit_test(test_zero_length_frame),
	    cmocka_unit_test(test_byte_at_a_time),
	    cmocka_unit_test(test_every_split),
	    cmocka_unit_test(test_buffer_follows_bytes_received),
	    cmocka_unit_test(test_oversize_fails_for_good),
	    cmocka_unit_test(test_max_size_exactly_accepted),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_randomized),
	    cmocka_unit_test(test_header_codec),
	    cmocka_unit_test(test_pack_message),
	    cmocka_unit_test(test_strerror_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
