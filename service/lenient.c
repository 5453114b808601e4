/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lenient request descriptors (see rs_svc.h): copies of protobuf-c's
 * generated ones with a few required fields made LABEL_NONE, which
 * protobuf-c decodes when present and does not ask for when absent.
 *
 * App Engine's Java runtime leaves SendRequest.stream_offset unset on a
 * datagram Send and SocketOption.value unset in GetSocketOptions; strict
 * decoding answered both BAD_REQUEST.  A missing stream_offset reads as
 * RS_SVC_OFFSET_UNSET (this copy's message_init sets it before decoding),
 * so the Send handler can still refuse it where it matters: on a stream.
 *
 * Made by a constructor, before main() and any decoding.
 */
#include <stdlib.h>
#include <string.h>

#include "remote_socket.pb-c.h"
#include "rs_svc.h"

#define FIELDS_MAX 16

ProtobufCMessageDescriptor rs_svc_send_request_lenient;
ProtobufCMessageDescriptor rs_svc_get_socket_options_request_lenient;
static ProtobufCMessageDescriptor option_lenient;
static ProtobufCFieldDescriptor send_fields[FIELDS_MAX], gso_fields[FIELDS_MAX],
    option_fields[FIELDS_MAX];

static void send_init(ProtobufCMessage *m)
{
	Remsock__SendRequest *r = (Remsock__SendRequest *)m;

	remsock__send_request__init(r);
	r->stream_offset = RS_SVC_OFFSET_UNSET;
}

/* @p copy = @p orig with its fields in @p fields; @return the field
 * named @p name in the copy. */
static ProtobufCFieldDescriptor *copy(ProtobufCMessageDescriptor *copy,
				      const ProtobufCMessageDescriptor *orig,
				      ProtobufCFieldDescriptor *fields,
				      const char *name)
{
	ProtobufCFieldDescriptor *f = NULL;

	if (orig->n_fields > FIELDS_MAX)
		abort(); /* a .proto change this file must follow */
	*copy = *orig;
	memcpy(fields, orig->fields, orig->n_fields * sizeof(*fields));
	copy->fields = fields;
	for (unsigned i = 0; i < orig->n_fields; i++)
		if (strcmp(fields[i].name, name) == 0)
			f = &fields[i];
	if (f == NULL)
		abort();
	return f;
}

__attribute__((constructor)) static void lenient_init(void)
{
	copy(&rs_svc_send_request_lenient, &remsock__send_request__descriptor,
	     send_fields, "stream_offset")
	    ->label = PROTOBUF_C_LABEL_NONE;
	rs_svc_send_request_lenient.message_init = send_init;
	copy(&option_lenient, &remsock__socket_option__descriptor,
	     option_fields, "value")
	    ->label = PROTOBUF_C_LABEL_NONE;
	copy(&rs_svc_get_socket_options_request_lenient,
	     &remsock__get_socket_options_request__descriptor, gso_fields,
	     "options")
	    ->descriptor = &option_lenient;
}
