/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The native frame codec: on a byte stream every RPC envelope is one frame,
 * a 4-byte big-endian length followed by that many bytes.
 *
 * The decoder is fed the stream in chunks of any size (segments of a TCP
 * receive ring) and hands back one complete frame per call.  A frame that
 * lies wholly inside the chunk is returned in place, pointing into the
 * caller's bytes; a frame that straddles chunks is assembled in the decoder's
 * own buffer, which grows with the bytes that actually arrive (a peer that
 * announces a large frame and sends nothing costs nothing) and is released
 * after a large frame.  A length above the decoder's maximum breaks the
 * stream for good: the decoder fails and refuses all further input, and the
 * connection must be closed.
 *
 * Calling pattern:
 * @code
 *	while (len > 0) {
 *		rc = rs_frame_decode(dec, p, len, &used, &frame);
 *		p += used;
 *		len -= used;
 *		if (rc < 0)
 *			close the connection (rs_frame_strerror(rc) says why);
 *		else if (rc == RS_FRAME_READY)
 *			handle frame.data, frame.len;
 *	}
 * @endcode
 */
#ifndef RS_FRAME_H
#define RS_FRAME_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/** Bytes of the length header in front of every frame. */
#define RS_FRAME_HDR_LEN 4u

/** Maximum frame body a decoder accepts when created with 0. */
#define RS_FRAME_MAX_DEFAULT (4u * 1024 * 1024)

/** No decoder accepts, and no encoder writes, a frame body above this. */
#define RS_FRAME_MAX_HARD (64u * 1024 * 1024)

/** An assembly buffer above this size is freed when a frame no larger
 *  than this starts (a larger one reuses it). */
#define RS_FRAME_KEEP_BYTES (64u * 1024)

/** What rs_frame_decode() returns.  Negative values are negative errnos. */
enum rs_frame_status {
	/** All input consumed; no complete frame yet. */
	RS_FRAME_NEED_MORE = 0,
	/** One frame returned. */
	RS_FRAME_READY = 1,
	/** A header announced a frame above the maximum; the decoder has
	 *  failed. */
	RS_FRAME_ETOOBIG = -EMSGSIZE,
	/** The decoder failed earlier and refuses input. */
	RS_FRAME_EFAILED = -EPROTO,
	/** No memory to assemble a frame; the decoder is intact, nothing past
	 *  the bytes reported consumed was taken, and the call may be
	 *  retried. */
	RS_FRAME_ENOMEM = -ENOMEM,
};

/** One decoded frame. */
struct rs_frame {
	/** The body: never NULL, even for an empty frame. */
	const uint8_t *data;
	/** Body length in bytes (may be 0). */
	size_t len;
	/** true: @c data is in the decoder's buffer, valid until the next
	 *  call on the decoder.  false: @c data points into the chunk the
	 *  caller passed, valid as long as the caller keeps those bytes. */
	bool assembled;
};

struct rs_frame_decoder;

/**
 * Create a decoder.
 *
 * @param max_frame  largest body accepted; 0 for RS_FRAME_MAX_DEFAULT.
 * @return the decoder, or NULL with errno set: EINVAL (max_frame above
 *   RS_FRAME_MAX_HARD), ENOMEM.
 */
struct rs_frame_decoder *rs_frame_decoder_create(size_t max_frame);

/** Free a decoder and its buffer.  NULL is allowed. */
void rs_frame_decoder_destroy(struct rs_frame_decoder *dec);

/**
 * Start over as for a new stream: forget any partial frame and clear the
 * failed state.  Keeps a small assembly buffer.
 */
void rs_frame_decoder_reset(struct rs_frame_decoder *dec);

/**
 * Consume bytes from @p buf up to and including the end of the next complete
 * frame.
 *
 * @param buf       the next bytes of the stream (may be NULL if len is 0).
 * @param len       bytes at @p buf.
 * @param consumed  out: bytes of @p buf taken, whatever the result; the
 *                  caller continues with buf + *consumed.
 * @param frame     out: the frame, on RS_FRAME_READY.  A frame returned
 *                  earlier with @c assembled set is invalid from this call on.
 * @return RS_FRAME_READY (one frame in @p frame), RS_FRAME_NEED_MORE (all of
 *   @p buf consumed, the frame is not complete), RS_FRAME_ETOOBIG,
 *   RS_FRAME_EFAILED, RS_FRAME_ENOMEM.
 */
int rs_frame_decode(struct rs_frame_decoder *dec, const uint8_t *buf,
		    size_t len, size_t *consumed, struct rs_frame *frame);

/** @return true once the decoder has failed and refuses input. */
bool rs_frame_decoder_failed(const struct rs_frame_decoder *dec);

/**
 * @return bytes held for the frame in progress (header bytes included):
 *   0 between frames.
 */
size_t rs_frame_decoder_pending(const struct rs_frame_decoder *dec);

/**
 * @return bytes of assembly buffer the decoder holds (for per-connection
 *   memory accounting): it follows the bytes received, not the lengths
 *   announced.
 */
size_t rs_frame_decoder_held(const struct rs_frame_decoder *dec);

/** @return the decoder's maximum frame body. */
size_t rs_frame_decoder_max(const struct rs_frame_decoder *dec);

/**
 * Change the largest body accepted, for frames whose header is read from
 * now on (e.g. small before a connection authenticates).
 *
 * @param max_frame  as rs_frame_decoder_create()'s.
 * @return 0, or -EINVAL above RS_FRAME_MAX_HARD.
 */
int rs_frame_decoder_set_max(struct rs_frame_decoder *dec, size_t max_frame);

/**
 * Write the header of a frame whose body is @p body_len bytes.
 *
 * @param out  at least RS_FRAME_HDR_LEN bytes.
 * @return 0, or -EMSGSIZE if @p body_len is above RS_FRAME_MAX_HARD (nothing
 *   written).
 */
int rs_frame_header_write(uint8_t *out, size_t body_len);

/** @return the body length a frame header announces. */
uint32_t rs_frame_header_read(const uint8_t *hdr);

/**
 * Pack a protobuf-c message as one frame (header + packed message).
 *
 * @param msg  the message.
 * @param out  where to write; may be NULL when @p cap is 0 (size query).
 * @param cap  bytes available at @p out.
 * @param len  out: bytes written, or on -ENOSPC the bytes needed.
 * @return 0, -ENOSPC (@p cap too small; nothing written), -EMSGSIZE (the
 *   message is above RS_FRAME_MAX_HARD).
 */
int rs_frame_pack(const ProtobufCMessage *msg, uint8_t *out, size_t cap,
		  size_t *len);

/**
 * Describe a status or negative errno returned by this module.
 *
 * @return a static, human-readable message (never NULL).
 */
const char *rs_frame_strerror(int code);

#endif /* RS_FRAME_H */
