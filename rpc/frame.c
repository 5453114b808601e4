/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The native frame codec (see rs_frame.h).
 *
 * Decoder states:
 *   HEADER  hdr_have < 4: collecting the length header, possibly across
 *           chunks (a chunk may end inside the header).
 *   BODY    hdr_have == 4: `need` body bytes announced, `have` of them
 *           copied into buf (only when the body straddles chunks).
 *   FAILED  a header announced more than `max`; terminal until reset.
 * A frame is delivered, and the state returns to HEADER, as soon as the last
 * body byte is seen, so a zero-length frame is delivered with its header.
 */
#include <stdlib.h>
#include <string.h>

#include "rs_frame.h"

/* Smallest assembly buffer worth allocating. */
#define BUF_MIN 256u

struct rs_frame_decoder {
	uint8_t hdr[RS_FRAME_HDR_LEN];
	unsigned hdr_have;
	bool failed;
	size_t need;
	size_t have;
	uint8_t *buf;
	size_t cap;
	size_t max;
};

/* What an empty frame points at, so that frame.data is never NULL. */
static const uint8_t empty_body[1];

struct rs_frame_decoder *rs_frame_decoder_create(size_t max_frame)
{
	struct rs_frame_decoder *dec;

	if (max_frame == 0)
		max_frame = RS_FRAME_MAX_DEFAULT;
	if (max_frame > RS_FRAME_MAX_HARD) {
		errno = EINVAL;
		return NULL;
	}
	dec = calloc(1, sizeof(*dec));
	if (dec == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	dec->max = max_frame;
	return dec;
}

void rs_frame_decoder_destroy(struct rs_frame_decoder *dec)
{
	if (dec == NULL)
		return;
	free(dec->buf);
	free(dec);
}

/* The previous frame is no longer the caller's once a new call starts, so a
 * large assembly buffer can go -- unless the new frame is large too: then
 * it is kept, and a client that sends large frames one after the other
 * assembles each without a malloc, a free and the copies of regrowing. */
static void release_large_buffer(struct rs_frame_decoder *dec)
{
	if (dec->cap <= RS_FRAME_KEEP_BYTES)
		return;
	free(dec->buf);
	dec->buf = NULL;
	dec->cap = 0;
}

void rs_frame_decoder_reset(struct rs_frame_decoder *dec)
{
	dec->hdr_have = 0;
	dec->need = 0;
	dec->have = 0;
	dec->failed = false;
	release_large_buffer(dec);
}

bool rs_frame_decoder_failed(const struct rs_frame_decoder *dec)
{
	return dec->failed;
}

size_t rs_frame_decoder_pending(const struct rs_frame_decoder *dec)
{
	return dec->hdr_have + dec->have;
}

size_t rs_frame_decoder_held(const struct rs_frame_decoder *dec)
{
	return dec->cap;
}

size_t rs_frame_decoder_max(const struct rs_frame_decoder *dec)
{
	return dec->max;
}

int rs_frame_decoder_set_max(struct rs_frame_decoder *dec, size_t max_frame)
{
	if (max_frame == 0)
		max_frame = RS_FRAME_MAX_DEFAULT;
	if (max_frame > RS_FRAME_MAX_HARD)
		return -EINVAL;
	dec->max = max_frame;
	return 0;
}

uint32_t rs_frame_header_read(const uint8_t *hdr)
{
	return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	       (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3];
}

int rs_frame_header_write(uint8_t *out, size_t body_len)
{
	if (body_len > RS_FRAME_MAX_HARD)
		return -EMSGSIZE;
	out[0] = (uint8_t)(body_len >> 24);
	out[1] = (uint8_t)(body_len >> 16);
	out[2] = (uint8_t)(body_len >> 8);
	out[3] = (uint8_t)body_len;
	return 0;
}

/* Enter BODY for a frame of `len` bytes, or fail the decoder. */
static int start_body(struct rs_frame_decoder *dec, uint32_t len)
{
	if (len > dec->max) {
		dec->failed = true;
		return RS_FRAME_ETOOBIG;
	}
	dec->hdr_have = RS_FRAME_HDR_LEN;
	dec->need = len;
	dec->have = 0;
	if (len <= RS_FRAME_KEEP_BYTES)
		release_large_buffer(dec);
	return 0;
}

/* Take header bytes; true once the header is complete. */
static bool take_header(struct rs_frame_decoder *dec, const uint8_t *buf,
			size_t len, size_t *pos)
{
	size_t take = RS_FRAME_HDR_LEN - dec->hdr_have;

	if (take > len - *pos)
		take = len - *pos;
	memcpy(dec->hdr + dec->hdr_have, buf + *pos, take);
	dec->hdr_have += take;
	*pos += take;
	return dec->hdr_have == RS_FRAME_HDR_LEN;
}

/* Grow the assembly buffer to hold at least `size` bytes: geometrically, but
 * never beyond the frame being assembled. */
static int reserve(struct rs_frame_decoder *dec, size_t size)
{
	size_t cap = dec->cap * 2;
	uint8_t *buf;

	if (size <= dec->cap)
		return 0;
	if (cap < BUF_MIN)
		cap = BUF_MIN;
	if (cap > dec->need)
		cap = dec->need;
	if (cap < size)
		cap = size;
	buf = realloc(dec->buf, cap);
	if (buf == NULL)
		return RS_FRAME_ENOMEM;
	dec->buf = buf;
	dec->cap = cap;
	return 0;
}

static void deliver(struct rs_frame_decoder *dec, const uint8_t *data,
		    bool assembled, struct rs_frame *frame)
{
	frame->data = dec->need == 0 ? empty_body : data;
	frame->len = dec->need;
	frame->assembled = assembled;
	dec->hdr_have = 0;
	dec->need = 0;
	dec->have = 0;
}

/* In BODY: deliver the frame in place if its whole body is in the chunk,
 * otherwise copy what there is. */
static int take_body(struct rs_frame_decoder *dec, const uint8_t *buf,
		     size_t len, size_t *pos, struct rs_frame *frame)
{
	size_t avail = len - *pos;
	size_t take = dec->need - dec->have;
	int rc;

	if (dec->have == 0 && avail >= take) {
		deliver(dec, buf + *pos, false, frame);
		*pos += take;
		return RS_FRAME_READY;
	}
	if (avail == 0)
		return RS_FRAME_NEED_MORE;
	if (take > avail)
		take = avail;
	rc = reserve(dec, dec->have + take);
	if (rc < 0)
		return rc;
	memcpy(dec->buf + dec->have, buf + *pos, take);
	dec->have += take;
	*pos += take;
	if (dec->have < dec->need)
		return RS_FRAME_NEED_MORE;
	deliver(dec, dec->buf, true, frame);
	return RS_FRAME_READY;
}

int rs_frame_decode(struct rs_frame_decoder *dec, const uint8_t *buf,
		    size_t len, size_t *consumed, struct rs_frame *frame)
{
	size_t pos = 0;
	int rc = RS_FRAME_NEED_MORE;

	*consumed = 0;
	if (dec->failed)
		return RS_FRAME_EFAILED;
	if (len == 0)
		return RS_FRAME_NEED_MORE;
	if (dec->hdr_have < RS_FRAME_HDR_LEN) {
		if (!take_header(dec, buf, len, &pos))
			goto out;
		rc = start_body(dec, rs_frame_header_read(dec->hdr));
		if (rc < 0)
			goto out;
	}
	rc = take_body(dec, buf, len, &pos, frame);
out:
	*consumed = pos;
	return rc;
}

int rs_frame_pack(const ProtobufCMessage *msg, uint8_t *out, size_t cap,
		  size_t *len)
{
	size_t body = protobuf_c_message_get_packed_size(msg);

	if (body > RS_FRAME_MAX_HARD)
		return -EMSGSIZE;
	*len = RS_FRAME_HDR_LEN + body;
	if (cap < *len)
		return -ENOSPC;
	rs_frame_header_write(out, body);
	protobuf_c_message_pack(msg, out + RS_FRAME_HDR_LEN);
	return 0;
}

const char *rs_frame_strerror(int code)
{
	switch (code) {
	case RS_FRAME_NEED_MORE:
		return "frame incomplete, more bytes needed";
	case RS_FRAME_READY:
		return "frame ready";
	case RS_FRAME_ETOOBIG:
		return "frame length above the maximum; stream unusable";
	case RS_FRAME_EFAILED:
		return "frame decoder failed earlier; stream unusable";
	case RS_FRAME_ENOMEM:
		return "no memory to assemble a frame";
	case -ENOSPC:
		return "output buffer too small for the frame";
	default:
		return "unknown frame codec status";
	}
}
