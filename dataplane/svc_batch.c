/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ReceiveBatch's reply, encoded by hand (svc_recv_batch_gather(),
 * svc_pvt.h).
 *
 * protobuf-c packs a reply by walking it twice (its size, then its bytes)
 * and copies each entry's data into the output; most of a batch of small
 * entries is that walk.  An entry whose data lies in a socket's ring is
 * written here as its few header bytes -- entry tag and length, reply tag
 * and length, stream_offset, data tag and length -- followed by the data
 * where it lies, so the data is copied once, into the connection's
 * output.  Any field this does not write by hand (received_from,
 * buffer_size, an entry's error) is packed by protobuf-c and placed where
 * protobuf-c would have put it: the bytes are those protobuf-c writes for
 * the same message with the data in it, which test_svc_batch checks.
 */
#include <errno.h>
#include <string.h>

#include "rs_wire.h"
#include "svc_pvt.h"

/* Field numbers from proto/remote_socket.proto. */
enum {
	BATCH_ENTRIES = 1,	 /* ReceiveBatchReply.entries */
	ENTRY_REPLY = 1,	 /* ReceiveBatchEntry.reply */
	REPLY_STREAM_OFFSET = 2, /* ReceiveReply.stream_offset */
	REPLY_DATA = 3,		 /* ReceiveReply.data */
};

#define TAG(field, wire) ((uint8_t)((field) << 3 | (wire)))
#define WIRE_VARINT 0
#define WIRE_LEN 2

/* Header bytes of an entry with its data apart: two tags and lengths,
 * stream_offset's tag and value, data's tag and length. */
#define HEAD_MAX (2 * (1 + 5) + 1 + 10 + 1 + 5)

static size_t runs_len(const struct svc_runs *r)
{
	return r->iov[0].iov_len + r->iov[1].iov_len;
}

/* One entry's sizes, from the first pass to the second. */
struct plan {
	size_t entry;	   /* the ReceiveBatchEntry message */
	size_t reply;	   /* its reply message, with its data apart */
	size_t reply_rest; /* the reply's fields after data, packed */
	size_t entry_rest; /* the entry's fields after reply, packed */
	bool apart;	   /* data apart (runs), else the entry packed whole */
};

/* The reply without stream_offset and data: its later fields. */
static Remsock__ReceiveReply reply_rest(const Remsock__ReceiveReply *r)
{
	Remsock__ReceiveReply c = *r;

	c.has_stream_offset = 0;
	c.has_data = 0;
	return c;
}

/* The entry without its reply: its later fields. */
static Remsock__ReceiveBatchEntry
entry_rest(const Remsock__ReceiveBatchEntry *e)
{
	Remsock__ReceiveBatchEntry c = *e;

	c.reply = NULL;
	return c;
}

static bool has_rest(const Remsock__ReceiveReply *r)
{
	return r->received_from != NULL || r->has_buffer_size ||
	       r->base.n_unknown_fields != 0;
}

static size_t plan_entry(const Remsock__ReceiveBatchEntry *e,
			 const struct svc_runs *runs, struct plan *p)
{
	const Remsock__ReceiveReply *r = e->reply;
	size_t dlen;

	*p = (struct plan){0};
	if (r == NULL || runs == NULL || runs_len(runs) == 0 || r->has_data) {
		p->entry = protobuf_c_message_get_packed_size(&e->base);
		return 1 + rs_wire_varint_size(p->entry) + p->entry;
	}
	p->apart = true;
	dlen = runs_len(runs);
	if (has_rest(r)) {
		Remsock__ReceiveReply c = reply_rest(r);

		p->reply_rest = protobuf_c_message_get_packed_size(&c.base);
	}
	if (e->error != NULL || e->has_application_error ||
	    e->base.n_unknown_fields != 0) {
		Remsock__ReceiveBatchEntry c = entry_rest(e);

		p->entry_rest = protobuf_c_message_get_packed_size(&c.base);
	}
	p->reply = 1 + rs_wire_varint_size(dlen) + dlen + p->reply_rest;
	if (r->has_stream_offset)
		p->reply += 1 + rs_wire_varint_size((uint64_t)r->stream_offset);
	p->entry = 1 + rs_wire_varint_size(p->reply) + p->reply + p->entry_rest;
	return 1 + rs_wire_varint_size(p->entry) + p->entry;
}

/* Bytes of the entry written in call memory (all but its data). */
static size_t own_bytes(const struct plan *p)
{
	if (!p->apart)
		return 1 + 5 + p->entry;
	return HEAD_MAX + p->reply_rest + p->entry_rest;
}

/* Gather pieces: one appended where it continues the last is merged. */
struct pieces {
	struct iovec *iov;
	unsigned n;
};

static void piece(struct pieces *ps, const void *base, size_t len)
{
	struct iovec *last = ps->n > 0 ? &ps->iov[ps->n - 1] : NULL;

	if (len == 0)
		return;
	if (last != NULL &&
	    (const uint8_t *)last->iov_base + last->iov_len == base) {
		last->iov_len += len;
		return;
	}
	ps->iov[ps->n++] = (struct iovec){(void *)base, len};
}

/* Write one entry: its own bytes at @p o (returned: past them), its
 * pieces into @p ps. */
static uint8_t *write_entry(const Remsock__ReceiveBatchEntry *e,
			    const struct svc_runs *runs, const struct plan *p,
			    uint8_t *o, struct pieces *ps)
{
	const Remsock__ReceiveReply *r = e->reply;
	uint8_t *start = o;

	*o++ = TAG(BATCH_ENTRIES, WIRE_LEN);
	o = rs_wire_put_varint(o, p->entry);
	if (!p->apart) {
		o += protobuf_c_message_pack(&e->base, o);
		piece(ps, start, (size_t)(o - start));
		return o;
	}
	*o++ = TAG(ENTRY_REPLY, WIRE_LEN);
	o = rs_wire_put_varint(o, p->reply);
	if (r->has_stream_offset) {
		*o++ = TAG(REPLY_STREAM_OFFSET, WIRE_VARINT);
		o = rs_wire_put_varint(o, (uint64_t)r->stream_offset);
	}
	*o++ = TAG(REPLY_DATA, WIRE_LEN);
	o = rs_wire_put_varint(o, runs_len(runs));
	piece(ps, start, (size_t)(o - start));
	piece(ps, runs->iov[0].iov_base, runs->iov[0].iov_len);
	piece(ps, runs->iov[1].iov_base, runs->iov[1].iov_len);
	start = o;
	if (p->reply_rest > 0) {
		Remsock__ReceiveReply c = reply_rest(r);

		o += protobuf_c_message_pack(&c.base, o);
	}
	if (p->entry_rest > 0) {
		Remsock__ReceiveBatchEntry c = entry_rest(e);

		o += protobuf_c_message_pack(&c.base, o);
	}
	piece(ps, start, (size_t)(o - start));
	return o;
}

int svc_recv_batch_gather(struct rs_arena *a,
			  const Remsock__ReceiveBatchReply *resp,
			  const struct svc_runs *runs, struct rs_rpc_gather *g)
{
	size_t n = resp->n_entries, own = 0, len = 0;
	struct plan *plans;
	struct pieces ps;
	uint8_t *buf, *o;

	if (resp->base.n_unknown_fields != 0)
		return -EINVAL;
	plans = rs_arena_alloc(a, (n + 1) * sizeof(*plans));
	ps.iov = rs_arena_alloc(a, (4 * n + 1) * sizeof(*ps.iov));
	if (plans == NULL || ps.iov == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		len += plan_entry(resp->entries[i],
				  runs != NULL ? &runs[i] : NULL, &plans[i]);
		own += own_bytes(&plans[i]);
	}
	buf = rs_arena_alloc(a, own + 1);
	if (buf == NULL)
		return -ENOMEM;
	ps.n = 0;
	o = buf;
	for (size_t i = 0; i < n; i++)
		o = write_entry(resp->entries[i],
				runs != NULL ? &runs[i] : NULL, &plans[i], o,
				&ps);
	*g = (struct rs_rpc_gather){.len = len, .n = ps.n, .iov = ps.iov};
	return 0;
}
