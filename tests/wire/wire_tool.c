/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wire_tool: the protobuf-c half of the wire compatibility suite.
 *
 * It handles every message of proto/ generically, through protobuf-c's
 * reflection (ProtobufCMessageDescriptor, ProtobufCFieldDescriptor), so a
 * field or message added to proto/ is exercised without touching this file.
 *
 *   wire_tool schema                 every message and enum descriptor
 *   wire_tool encode NAME MODE SEED  fill a message NAME, pack it
 *   wire_tool decode NAME <BYTES     unpack a NAME from stdin, re-pack it
 *
 * encode and decode print {"hex", "values", "defaults", "unknown"}: the
 * packed bytes and what the message holds.
 *
 * All output is one JSON document on stdout.  "values" is the canonical dump
 * that wire_compat.py also builds from App Engine's decoder: an object keyed
 * by field number (as a string) holding, for each field that is present,
 * its value, or a list for a repeated field.  Integers and enums are JSON
 * numbers, bools JSON booleans, strings JSON strings; doubles are
 * "d:<IEEE bits in hex>", floats "f:<bits>", bytes "b:<hex>", messages
 * nested objects.  Absent optional fields and empty repeated fields are left
 * out, so presence is compared as well as values.  "defaults" holds, for
 * the top-level message's absent optional fields that declare a default,
 * the value a reader sees; "unknown" the fields protobuf-c did not know, at
 * any depth.
 *
 * MODE says how encode fills a message; the same seed gives the same bytes.
 *   random    every field, values drawn from a pool of edge cases or at
 *             random; repeated fields get 2 to 5 elements
 *   min       every field at its lowest: INT*_MIN, the lowest enum value,
 *             -DBL_MAX, empty strings and bytes, 2 elements per list
 *   max       every field at its highest: INT*_MAX, UINT*_MAX, the highest
 *             enum value, +inf, 300-byte strings and bytes, 5 elements
 *   defaults  as random, but every optional field that declares a default
 *             is set, explicitly, to that default
 *   required  only required fields, at every depth
 *
 * Exit status: 0 done, 1 failed (reason on stderr), 2 usage.
 */

#include "wire_registry.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM(a) (sizeof(a) / sizeof((a)[0]))

/* No message of proto/ nests itself; the limit guards against one that
 * does, by filling only required fields below it. */
#define MAX_DEPTH 8

enum fill_mode {
	FILL_RANDOM,
	FILL_MIN,
	FILL_MAX,
	FILL_DEFAULTS,
	FILL_REQUIRED,
};

static const char *const mode_names[] = {
    [FILL_RANDOM] = "random",	  [FILL_MIN] = "min",
    [FILL_MAX] = "max",		  [FILL_DEFAULTS] = "defaults",
    [FILL_REQUIRED] = "required",
};

struct fill {
	uint64_t rng;
	enum fill_mode mode;
	unsigned depth;
};

/* ---- deterministic values ---- */

/* splitmix64: tiny, and the same sequence on every platform. */
static uint64_t next(struct fill *f)
{
	uint64_t z = (f->rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t below(struct fill *f, uint64_t n)
{
	return next(f) % n;
}

/* Values that encoders get wrong: varint length boundaries, sign
 * extension of negative int32s to ten bytes, 32-bit overflow. */
static const int64_t int_pool[] = {
    0,
    1,
    -1,
    127,
    128,
    -129,
    300,
    16383,
    16384,
    65535,
    -65536,
    INT32_MAX,
    INT32_MIN,
    (int64_t)1 << 32,
    -((int64_t)1 << 32) - 1,
    ((int64_t)1 << 53) + 1,
    INT64_MAX,
    INT64_MIN,
};

/* A value of a `bits`-wide integer type as a bit pattern; the caller
 * truncates it to the width. */
static uint64_t gen_integer(struct fill *f, unsigned bits, bool is_signed)
{
	uint64_t mask = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
	int64_t smax = (int64_t)(mask >> 1);
	int64_t v;

	if (f->mode == FILL_MIN)
		return is_signed ? (uint64_t)(-smax - 1) : 0;
	if (f->mode == FILL_MAX)
		return is_signed ? (uint64_t)smax : mask;
	if (below(f, 4) == 0)
		return next(f);
	do {
		v = int_pool[below(f, DIM(int_pool))];
	} while (is_signed ? (v < -smax - 1 || v > smax)
			   : (v < 0 || (uint64_t)v > mask));
	return (uint64_t)v;
}

static double gen_double(struct fill *f)
{
	static const double pool[] = {
	    0.0,       -0.0,	   1.5,	    -1.0,     3.141592653589793,
	    1e-300,    4.9e-324,   DBL_MAX, -DBL_MAX, INFINITY,
	    -INFINITY, 1e15 + 0.5,
	};
	uint64_t bits;
	double d;

	if (f->mode == FILL_MIN)
		return -DBL_MAX;
	if (f->mode == FILL_MAX)
		return INFINITY;
	if (below(f, 2) == 0)
		return pool[below(f, DIM(pool))];
	/* Any bits but a NaN's, which would not compare equal to itself. */
	bits = next(f);
	if ((bits >> 52 & 0x7ff) == 0x7ff)
		bits &= ~(UINT64_C(1) << 62);
	memcpy(&d, &bits, sizeof(d));
	return d;
}

static float gen_float(struct fill *f)
{
	static const float pool[] = {0.0f,     -0.0f,	 1.5f,	  -1.0f,
				     FLT_MIN,  1e-45f,	 FLT_MAX, -FLT_MAX,
				     INFINITY, -INFINITY};
	uint32_t bits;
	float x;

	if (f->mode == FILL_MIN)
		return -FLT_MAX;
	if (f->mode == FILL_MAX)
		return INFINITY;
	if (below(f, 2) == 0)
		return pool[below(f, DIM(pool))];
	bits = (uint32_t)next(f);
	if ((bits >> 23 & 0xff) == 0xff)
		bits &= ~(UINT32_C(1) << 30);
	memcpy(&x, &bits, sizeof(x));
	return x;
}

static int gen_enum(struct fill *f, const ProtobufCEnumDescriptor *ed)
{
	const ProtobufCEnumValueIndex *alias;

	/* values[] holds one entry per number, in ascending order. */
	if (f->mode == FILL_MIN)
		return ed->values[0].value;
	if (f->mode == FILL_MAX)
		return ed->values[ed->n_values - 1].value;
	/* By name, so each alias is as likely as the name it shadows. */
	alias = &ed->values_by_name[below(f, ed->n_value_names)];
	return ed->values[alias->index].value;
}

/* Code points that stress escaping and every UTF-8 length; no NUL, which a
 * protobuf-c string cannot hold. */
static uint32_t gen_code_point(struct fill *f)
{
	static const uint32_t pool[] = {'"',	'\\',	'\n',	 '\t',
					0x01,	0x7f,	0xe9,	 0x7ff,
					0x20ac, 0xfffd, 0x1f600, 0x10fff0};

	if (below(f, 3) == 0)
		return pool[below(f, DIM(pool))];
	return 'a' + (uint32_t)below(f, 26);
}

static size_t put_utf8(char *p, uint32_t c)
{
	if (c < 0x80) {
		p[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		p[0] = (char)(0xc0 | c >> 6);
		p[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		p[0] = (char)(0xe0 | c >> 12);
		p[1] = (char)(0x80 | (c >> 6 & 0x3f));
		p[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | c >> 18);
	p[1] = (char)(0x80 | (c >> 12 & 0x3f));
	p[2] = (char)(0x80 | (c >> 6 & 0x3f));
	p[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

static char *gen_string(struct fill *f)
{
	size_t n, i, len = 0;
	char *s;

	if (f->mode == FILL_MIN)
		n = 0;
	else if (f->mode == FILL_MAX)
		n = 300;
	else
		n = below(f, 8) == 0 ? 0 : 1 + below(f, 40);
	s = malloc(4 * n + 1);
	if (s == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		len += put_utf8(
		    s + len, f->mode == FILL_MAX ? 0x20ac : gen_code_point(f));
	s[len] = '\0';
	return s;
}

/* Bytes always carry a NUL and a high byte when they are not empty. */
static int gen_bytes(struct fill *f, ProtobufCBinaryData *b)
{
	size_t i;

	if (f->mode == FILL_MIN)
		b->len = 0;
	else if (f->mode == FILL_MAX)
		b->len = 300;
	else
		b->len = below(f, 8) == 0 ? 0 : 2 + below(f, 63);
	b->data = malloc(b->len + 1);
	if (b->data == NULL)
		return -ENOMEM;
	for (i = 0; i < b->len; i++)
		b->data[i] =
		    f->mode == FILL_MAX ? (uint8_t)i : (uint8_t)next(f);
	if (b->len >= 2) {
		b->data[0] = 0x00;
		b->data[b->len - 1] = 0xff;
	}
	return 0;
}

/* ---- filling a message from its descriptor ---- */

static size_t value_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 4;
	}
}

/* Optional fields of these types say whether they are set by a has_ flag;
 * strings and messages by a non-NULL pointer. */
static bool has_flag(const ProtobufCFieldDescriptor *fd)
{
	return fd->label == PROTOBUF_C_LABEL_OPTIONAL &&
	       fd->type != PROTOBUF_C_TYPE_STRING &&
	       fd->type != PROTOBUF_C_TYPE_MESSAGE;
}

static ProtobufCMessage *new_message(const ProtobufCMessageDescriptor *md)
{
	ProtobufCMessage *m = calloc(1, md->sizeof_message);

	if (m != NULL)
		md->message_init(m);
	return m;
}

static int fill_message(struct fill *f, ProtobufCMessage *m);

static int fill_submessage(struct fill *f, const ProtobufCFieldDescriptor *fd,
			   void *slot)
{
	enum fill_mode mode = f->mode;
	ProtobufCMessage *sub = new_message(fd->descriptor);
	int rc;

	*(ProtobufCMessage **)slot = sub;
	if (sub == NULL)
		return -ENOMEM;
	if (++f->depth > MAX_DEPTH)
		f->mode = FILL_REQUIRED;
	rc = fill_message(f, sub);
	f->depth--;
	f->mode = mode;
	return rc;
}

static void put_int(void *slot, size_t size, uint64_t v)
{
	uint32_t v32 = (uint32_t)v;

	if (size == 8)
		memcpy(slot, &v, 8);
	else
		memcpy(slot, &v32, 4);
}

/* One value of fd's type into slot: the field itself or a list element. */
static int fill_value(struct fill *f, const ProtobufCFieldDescriptor *fd,
		      void *slot)
{
	size_t size = value_size(fd->type);
	double d;
	float x;

	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		put_int(slot, size, gen_integer(f, 8 * size, true));
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		put_int(slot, size, gen_integer(f, 8 * size, false));
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)slot =
		    f->mode == FILL_MIN ? 0
					: f->mode == FILL_MAX || next(f) & 1;
		return 0;
	case PROTOBUF_C_TYPE_ENUM:
		*(int *)slot = gen_enum(f, fd->descriptor);
		return 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		d = gen_double(f);
		memcpy(slot, &d, sizeof(d));
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
		x = gen_float(f);
		memcpy(slot, &x, sizeof(x));
		return 0;
	case PROTOBUF_C_TYPE_STRING:
		*(char **)slot = gen_string(f);
		return *(char **)slot == NULL ? -ENOMEM : 0;
	case PROTOBUF_C_TYPE_BYTES:
		return gen_bytes(f, slot);
	case PROTOBUF_C_TYPE_MESSAGE:
		return fill_submessage(f, fd, slot);
	}
	return -ENOTSUP;
}

/* A copy of the declared default, in memory of our own, so that protobuf-c
 * packs it (it skips a string that is its default pointer) and frees it. */
static int copy_default(const ProtobufCFieldDescriptor *fd, void *slot)
{
	const ProtobufCBinaryData *def = fd->default_value;
	ProtobufCBinaryData *b = slot;

	switch (fd->type) {
	case PROTOBUF_C_TYPE_STRING:
		*(char **)slot = strdup(fd->default_value);
		return *(char **)slot == NULL ? -ENOMEM : 0;
	case PROTOBUF_C_TYPE_BYTES:
		b->len = def->len;
		b->data = malloc(def->len + 1);
		if (b->data == NULL)
			return -ENOMEM;
		memcpy(b->data, def->data, def->len);
		return 0;
	default:
		memcpy(slot, fd->default_value, value_size(fd->type));
		return 0;
	}
}

static int fill_repeated(struct fill *f, const ProtobufCFieldDescriptor *fd,
			 char *member, size_t *count)
{
	size_t size = value_size(fd->type), n, i;
	char *array;
	int rc;

	if (f->mode == FILL_REQUIRED)
		return 0;
	n = f->mode == FILL_MIN ? 2 : f->mode == FILL_MAX ? 5 : 2 + below(f, 4);
	array = calloc(n, size);
	if (array == NULL)
		return -ENOMEM;
	*(void **)member = array;
	/* The count grows element by element, so that a failure leaves a
	 * message that protobuf_c_message_free_unpacked can free. */
	for (i = 0; i < n; i++) {
		rc = fill_value(f, fd, array + i * size);
		*count = i + 1;
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int fill_field(struct fill *f, ProtobufCMessage *m,
		      const ProtobufCFieldDescriptor *fd)
{
	char *member = (char *)m + fd->offset;
	char *quantifier = (char *)m + fd->quantifier_offset;

	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return -ENOTSUP;
	switch (fd->label) {
	case PROTOBUF_C_LABEL_REQUIRED:
		return fill_value(f, fd, member);
	case PROTOBUF_C_LABEL_OPTIONAL:
		if (f->mode == FILL_REQUIRED)
			return 0;
		if (has_flag(fd))
			*(protobuf_c_boolean *)quantifier = 1;
		if (f->mode == FILL_DEFAULTS && fd->default_value != NULL)
			return copy_default(fd, member);
		return fill_value(f, fd, member);
	case PROTOBUF_C_LABEL_REPEATED:
		return fill_repeated(f, fd, member, (size_t *)quantifier);
	default:
		/* proto3 singular fields: none in proto/. */
		return -ENOTSUP;
	}
}

static int fill_message(struct fill *f, ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *md = m->descriptor;
	unsigned i;
	int rc;

	for (i = 0; i < md->n_fields; i++) {
		rc = fill_field(f, m, &md->fields[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- JSON output ---- */

static void emit_string(FILE *out, const char *s)
{
	const unsigned char *p;

	fputc('"', out);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void emit_hex(FILE *out, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(out, "%02x", p[i]);
}

static void emit_message(FILE *out, const ProtobufCMessage *m);

/* The canonical form of one value of fd's type, read from slot. */
static void emit_value(FILE *out, const ProtobufCFieldDescriptor *fd,
		       const void *slot)
{
	const ProtobufCBinaryData *b = slot;
	uint64_t u64;
	uint32_t u32;

	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(out, "%" PRId32, *(const int32_t *)slot);
		return;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(out, "%" PRIu32, *(const uint32_t *)slot);
		return;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(out, "%" PRId64, *(const int64_t *)slot);
		return;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		fprintf(out, "%" PRIu64, *(const uint64_t *)slot);
		return;
	case PROTOBUF_C_TYPE_ENUM:
		fprintf(out, "%d", *(const int *)slot);
		return;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)slot ? "true" : "false",
		      out);
		return;
	case PROTOBUF_C_TYPE_FLOAT:
		memcpy(&u32, slot, 4);
		fprintf(out, "\"f:%08" PRIx32 "\"", u32);
		return;
	case PROTOBUF_C_TYPE_DOUBLE:
		memcpy(&u64, slot, 8);
		fprintf(out, "\"d:%016" PRIx64 "\"", u64);
		return;
	case PROTOBUF_C_TYPE_STRING:
		emit_string(out, *(char *const *)slot);
		return;
	case PROTOBUF_C_TYPE_BYTES:
		fputs("\"b:", out);
		emit_hex(out, b->data, b->len);
		fputc('"', out);
		return;
	case PROTOBUF_C_TYPE_MESSAGE:
		emit_message(out, *(ProtobufCMessage *const *)slot);
		return;
	}
}

/* Presence as protobuf-c's packer decides it. */
static bool field_present(const ProtobufCMessage *m,
			  const ProtobufCFieldDescriptor *fd)
{
	const char *member = (const char *)m + fd->offset;
	const void *ptr;

	if (fd->label == PROTOBUF_C_LABEL_REQUIRED)
		return true;
	if (has_flag(fd))
		return *(const protobuf_c_boolean *)((const char *)m +
						     fd->quantifier_offset);
	ptr = *(const void *const *)member;
	return ptr != NULL && ptr != fd->default_value;
}

static void emit_field(FILE *out, const ProtobufCMessage *m,
		       const ProtobufCFieldDescriptor *fd)
{
	const char *member = (const char *)m + fd->offset;
	size_t n, i, size = value_size(fd->type);
	const char *array;

	fprintf(out, "\"%u\":", fd->id);
	if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
		emit_value(out, fd, member);
		return;
	}
	n = *(const size_t *)((const char *)m + fd->quantifier_offset);
	array = *(const char *const *)member;
	fputc('[', out);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', out);
		emit_value(out, fd, array + i * size);
	}
	fputc(']', out);
}

static size_t repeated_count(const ProtobufCMessage *m,
			     const ProtobufCFieldDescriptor *fd)
{
	return *(const size_t *)((const char *)m + fd->quantifier_offset);
}

static void emit_message(FILE *out, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *md = m->descriptor;
	const ProtobufCFieldDescriptor *fd;
	bool first = true;
	unsigned i;

	fputc('{', out);
	for (i = 0; i < md->n_fields; i++) {
		fd = &md->fields[i];
		if (fd->label == PROTOBUF_C_LABEL_REPEATED
			? repeated_count(m, fd) == 0
			: !field_present(m, fd))
			continue;
		if (!first)
			fputc(',', out);
		first = false;
		emit_field(out, m, fd);
	}
	fputc('}', out);
}

/* Unknown fields of m and of every message below it, each with the path of
 * field numbers (and list indexes) that leads to it. */
static void emit_unknown(FILE *out, const ProtobufCMessage *m, const char *path,
			 bool *first)
{
	const ProtobufCMessageDescriptor *md = m->descriptor;
	const ProtobufCMessageUnknownField *u;
	const ProtobufCFieldDescriptor *fd;
	ProtobufCMessage *const *subs;
	char sub_path[256];
	unsigned i;
	size_t n, k;

	for (i = 0; i < m->n_unknown_fields; i++) {
		u = &m->unknown_fields[i];
		fprintf(out,
			"%s{\"path\":\"%s\",\"number\":%" PRIu32
			",\"wire_type\":%d,\"hex\":\"",
			*first ? "" : ",", path, u->tag, (int)u->wire_type);
		emit_hex(out, u->data, u->len);
		fputs("\"}", out);
		*first = false;
	}
	for (i = 0; i < md->n_fields; i++) {
		fd = &md->fields[i];
		if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		subs =
		    (ProtobufCMessage *const *)((const char *)m + fd->offset);
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			n = repeated_count(m, fd);
			subs = *(ProtobufCMessage *const *const *)subs;
		} else {
			n = *subs != NULL;
		}
		for (k = 0; k < n; k++) {
			snprintf(sub_path, sizeof(sub_path), "%s%s%u[%zu]",
				 path, *path != '\0' ? "/" : "", fd->id, k);
			emit_unknown(out, subs[k], sub_path, first);
		}
	}
}

/* ---- schema ---- */

static const char *const label_names[] = {
    [PROTOBUF_C_LABEL_REQUIRED] = "required",
    [PROTOBUF_C_LABEL_OPTIONAL] = "optional",
    [PROTOBUF_C_LABEL_REPEATED] = "repeated",
    [PROTOBUF_C_LABEL_NONE] = "none",
};

static const char *const type_names[] = {
    [PROTOBUF_C_TYPE_INT32] = "int32",
    [PROTOBUF_C_TYPE_SINT32] = "sint32",
    [PROTOBUF_C_TYPE_SFIXED32] = "sfixed32",
    [PROTOBUF_C_TYPE_INT64] = "int64",
    [PROTOBUF_C_TYPE_SINT64] = "sint64",
    [PROTOBUF_C_TYPE_SFIXED64] = "sfixed64",
    [PROTOBUF_C_TYPE_UINT32] = "uint32",
    [PROTOBUF_C_TYPE_FIXED32] = "fixed32",
    [PROTOBUF_C_TYPE_UINT64] = "uint64",
    [PROTOBUF_C_TYPE_FIXED64] = "fixed64",
    [PROTOBUF_C_TYPE_FLOAT] = "float",
    [PROTOBUF_C_TYPE_DOUBLE] = "double",
    [PROTOBUF_C_TYPE_BOOL] = "bool",
    [PROTOBUF_C_TYPE_ENUM] = "enum",
    [PROTOBUF_C_TYPE_STRING] = "string",
    [PROTOBUF_C_TYPE_BYTES] = "bytes",
    [PROTOBUF_C_TYPE_MESSAGE] = "message",
};

static void emit_type_name(FILE *out, const ProtobufCFieldDescriptor *fd)
{
	if (fd->type == PROTOBUF_C_TYPE_MESSAGE)
		emit_string(
		    out,
		    ((const ProtobufCMessageDescriptor *)fd->descriptor)->name);
	else if (fd->type == PROTOBUF_C_TYPE_ENUM)
		emit_string(
		    out,
		    ((const ProtobufCEnumDescriptor *)fd->descriptor)->name);
	else
		fputs("null", out);
}

static void emit_field_schema(FILE *out, const ProtobufCFieldDescriptor *fd)
{
	/* A string's default_value is the string; any other type's points
	 * to the value, as a field's member would. */
	const void *def = fd->type == PROTOBUF_C_TYPE_STRING
			      ? (const void *)&fd->default_value
			      : fd->default_value;

	fprintf(out, "{\"number\":%u,\"name\":", fd->id);
	emit_string(out, fd->name);
	fprintf(out, ",\"label\":\"%s\",\"type\":\"%s\",\"type_name\":",
		label_names[fd->label], type_names[fd->type]);
	emit_type_name(out, fd);
	fprintf(out, ",\"packed\":%s,\"oneof\":%s,\"default\":",
		fd->flags & PROTOBUF_C_FIELD_FLAG_PACKED ? "true" : "false",
		fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF ? "true" : "false");
	if (fd->default_value != NULL)
		emit_value(out, fd, def);
	else
		fputs("null", out);
	fputc('}', out);
}

static void emit_message_schema(FILE *out, const ProtobufCMessageDescriptor *md)
{
	unsigned i;

	fputs("{\"name\":", out);
	emit_string(out, md->name);
	fputs(",\"package\":", out);
	emit_string(out, md->package_name);
	fputs(",\"fields\":[", out);
	for (i = 0; i < md->n_fields; i++) {
		if (i > 0)
			fputc(',', out);
		emit_field_schema(out, &md->fields[i]);
	}
	fputs("]}", out);
}

/* Every name, aliases included, with its number. */
static void emit_enum_schema(FILE *out, const ProtobufCEnumDescriptor *ed)
{
	const ProtobufCEnumValueIndex *v;
	unsigned i;

	fputs("{\"name\":", out);
	emit_string(out, ed->name);
	fputs(",\"package\":", out);
	emit_string(out, ed->package_name);
	fputs(",\"values\":[", out);
	for (i = 0; i < ed->n_value_names; i++) {
		v = &ed->values_by_name[i];
		fprintf(out, "%s[", i > 0 ? "," : "");
		emit_string(out, v->name);
		fprintf(out, ",%d]", ed->values[v->index].value);
	}
	fputs("]}", out);
}

static int cmd_schema(FILE *out)
{
	size_t i;

	fputs("{\"messages\":[", out);
	for (i = 0; i < DIM(registry_messages); i++) {
		fputs(i > 0 ? ",\n" : "\n", out);
		emit_message_schema(out, registry_messages[i]);
	}
	fputs("],\n\"enums\":[", out);
	for (i = 0; i < DIM(registry_enums); i++) {
		fputs(i > 0 ? ",\n" : "\n", out);
		emit_enum_schema(out, registry_enums[i]);
	}
	fputs("]}\n", out);
	return 0;
}

/* ---- encode and decode ---- */

static const ProtobufCMessageDescriptor *find_message(const char *name)
{
	size_t i;

	for (i = 0; i < DIM(registry_messages); i++)
		if (strcmp(registry_messages[i]->name, name) == 0)
			return registry_messages[i];
	fprintf(stderr, "wire_tool: no message %s in proto/\n", name);
	return NULL;
}

/* What a reader of m sees in the absent optional fields that declare a
 * default: the default, which a peer must read the same, or a field that
 * is left out means something else on each side. */
static void emit_defaults(FILE *out, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *md = m->descriptor;
	const ProtobufCFieldDescriptor *fd;
	bool first = true;
	unsigned i;

	fputc('{', out);
	for (i = 0; i < md->n_fields; i++) {
		fd = &md->fields[i];
		if (fd->label != PROTOBUF_C_LABEL_OPTIONAL ||
		    fd->default_value == NULL || field_present(m, fd))
			continue;
		fprintf(out, "%s\"%u\":", first ? "" : ",", fd->id);
		emit_value(out, fd, (const char *)m + fd->offset);
		first = false;
	}
	fputc('}', out);
}

/* Packs m and writes {"hex", "values", "defaults", "unknown"}. */
static int emit_packed(FILE *out, const ProtobufCMessage *m)
{
	size_t size = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(size + 1);
	bool first = true;

	if (buf == NULL)
		return -ENOMEM;
	if (protobuf_c_message_pack(m, buf) != size) {
		free(buf);
		return -EIO;
	}
	fputs("{\"hex\":\"", out);
	emit_hex(out, buf, size);
	fputs("\",\n\"values\":", out);
	emit_message(out, m);
	fputs(",\n\"defaults\":", out);
	emit_defaults(out, m);
	fputs(",\n\"unknown\":[", out);
	emit_unknown(out, m, "", &first);
	fputs("]}\n", out);
	free(buf);
	return 0;
}

static int parse_mode(const char *name, enum fill_mode *mode)
{
	size_t i;

	for (i = 0; i < DIM(mode_names); i++) {
		if (strcmp(mode_names[i], name) == 0) {
			*mode = (enum fill_mode)i;
			return 0;
		}
	}
	fprintf(stderr, "wire_tool: no mode %s\n", name);
	return -EINVAL;
}

static int cmd_encode(FILE *out, const char *name, const char *mode,
		      const char *seed)
{
	const ProtobufCMessageDescriptor *md = find_message(name);
	struct fill f = {.rng = strtoull(seed, NULL, 0)};
	ProtobufCMessage *m;
	int rc;

	if (md == NULL || parse_mode(mode, &f.mode) < 0)
		return -EINVAL;
	m = new_message(md);
	if (m == NULL)
		return -ENOMEM;
	rc = fill_message(&f, m);
	if (rc == 0)
		rc = emit_packed(out, m);
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

static uint8_t *read_all(FILE *in, size_t *len)
{
	size_t cap = 4096;
	uint8_t *buf = malloc(cap), *bigger;

	*len = 0;
	while (buf != NULL && !feof(in)) {
		if (*len == cap) {
			bigger = realloc(buf, cap *= 2);
			if (bigger == NULL)
				free(buf);
			buf = bigger;
			continue;
		}
		*len += fread(buf + *len, 1, cap - *len, in);
		if (ferror(in)) {
			free(buf);
			return NULL;
		}
	}
	return buf;
}

static int cmd_decode(FILE *out, FILE *in, const char *name)
{
	const ProtobufCMessageDescriptor *md = find_message(name);
	ProtobufCMessage *m;
	uint8_t *buf;
	size_t len;
	int rc;

	if (md == NULL)
		return -EINVAL;
	buf = read_all(in, &len);
	if (buf == NULL)
		return -EIO;
	m = protobuf_c_message_unpack(md, NULL, len, buf);
	free(buf);
	if (m == NULL) {
		fprintf(stderr, "wire_tool: %s does not unpack\n", name);
		return -EBADMSG;
	}
	rc = emit_packed(out, m);
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc == 2 && strcmp(argv[1], "schema") == 0)
		rc = cmd_schema(stdout);
	else if (argc == 5 && strcmp(argv[1], "encode") == 0)
		rc = cmd_encode(stdout, argv[2], argv[3], argv[4]);
	else if (argc == 3 && strcmp(argv[1], "decode") == 0)
		rc = cmd_decode(stdout, stdin, argv[2]);
	else {
		fprintf(stderr, "usage: wire_tool schema\n"
				"       wire_tool encode NAME MODE SEED\n"
				"       wire_tool decode NAME <BYTES\n");
		return 2;
	}
	if (rc < 0) {
		fprintf(stderr, "wire_tool: %s\n", strerror(-rc));
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
