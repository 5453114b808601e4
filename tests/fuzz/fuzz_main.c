/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Runs a fuzz target without libFuzzer, so that any compiler's build (and
 * the sanitizer build) exercises it in the 'fuzz' suite:
 *
 *   fuzz_frame_replay FILE...   replay inputs (a corpus, a crash)
 *   fuzz_frame_replay --seed F  write the built-in seed input to F, to
 *                               start a libFuzzer corpus
 *   fuzz_frame_replay           mutate built-in seed streams for a while,
 *                               from a printed seed (RS_FUZZ_SEED to repeat,
 *                               RS_FUZZ_ITERATIONS for more)
 *
 * The seeds are valid request streams; the mutations flip bits, overwrite,
 * cut and splice bytes, and touch length headers most, where the bugs are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "remote_socket.pb-c.h"
#include "rpc.pb-c.h"
#include "rs_frame.h"

#define INPUT_MAX 8192

static size_t put_request(uint8_t *p, uint64_t id, const char *method,
			  const ProtobufCMessage *body)
{
	Remsock__Rpc__RpcRequest rq = REMSOCK__RPC__RPC_REQUEST__INIT;
	uint8_t packed[256];
	size_t len;

	rq.has_call_id = 1;
	rq.call_id = id;
	rq.service_name = "remote_socket";
	rq.method = (char *)method;
	rq.has_body = 1;
	rq.body.data = packed;
	rq.body.len = protobuf_c_message_pack(body, packed);
	len = remsock__rpc__rpc_request__pack(&rq, p + RS_FRAME_HDR_LEN);
	rs_frame_header_write(p, len);
	return RS_FRAME_HDR_LEN + len;
}

/* One stream that reaches every handler path. */
static size_t seed_stream(uint8_t *buf)
{
	static const int32_t sizes[] = {10, -4, 100, 3000, 7};
	static const int32_t flags[] = {0, 0, 1, 0, 2};
	Remsock__ReceiveRequest rq = REMSOCK__RECEIVE_REQUEST__INIT;
	Remsock__CreateSocketRequest cq = REMSOCK__CREATE_SOCKET_REQUEST__INIT;
	size_t len = 0, i;

	buf[len++] = 0x05; /* chunked */
	rq.socket_descriptor = "sock-A";
	rq.has_flags = 1;
	for (i = 0; i < 5; i++) {
		rq.data_size = sizes[i];
		rq.flags = flags[i];
		len += put_request(buf + len, i + 1, "Receive", &rq.base);
	}
	cq.family = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_FAMILY__IPv4;
	cq.protocol = REMSOCK__CREATE_SOCKET_REQUEST__SOCKET_PROTOCOL__TCP;
	len += put_request(buf + len, 9, "CreateSocket", &cq.base);
	len += put_request(buf + len, 10, "Nope", &cq.base);
	return len;
}

static size_t mutate(uint8_t *buf, size_t len, size_t cap)
{
	size_t at = len ? (size_t)rand() % len : 0, n;

	switch (rand() % 6) {
	case 0: /* bit flip */
		if (len)
			buf[at] ^= (uint8_t)(1u << (rand() % 8));
		return len;
	case 1: /* random byte */
		if (len)
			buf[at] = (uint8_t)rand();
		return len;
	case 2: /* cut the tail */
		return at;
	case 3: /* duplicate a slice onto the end */
		n = (size_t)rand() % 64;
		if (at + n > len)
			n = len - at;
		if (len + n > cap)
			return len;
		memmove(buf + len, buf + at, n);
		return len + n;
	case 4: /* delete a slice */
		n = (size_t)rand() % 16;
		if (at + n > len)
			n = len - at;
		memmove(buf + at, buf + at + n, len - at - n);
		return len - n;
	default: /* small length-like number at a random place */
		if (len > 4 && at + 4 <= len)
			rs_frame_header_write(buf + at, (size_t)rand() % 300);
		return len;
	}
}

static int write_seed(const char *path)
{
	static uint8_t seed[INPUT_MAX];
	size_t len = seed_stream(seed);
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(seed, 1, len, f) != len) {
		perror(path);
		if (f != NULL)
			fclose(f);
		return 1;
	}
	return fclose(f) == 0 ? 0 : 1;
}

static int replay(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	int i;

	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t len;

		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("replayed %d input(s)\n", argc - 1);
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t seed[INPUT_MAX], buf[INPUT_MAX];
	const char *s = getenv("RS_FUZZ_SEED");
	const char *it = getenv("RS_FUZZ_ITERATIONS");
	unsigned rnd = s ? (unsigned)strtoul(s, NULL, 0) : 0xf00d;
	long n = it ? strtol(it, NULL, 0) : 20000, i;
	size_t seed_len, len;
	int k;

	if (argc == 3 && strcmp(argv[1], "--seed") == 0)
		return write_seed(argv[2]);
	if (argc > 1)
		return replay(argc, argv);
	printf("fuzz: seed 0x%x, %ld iterations\n", rnd, n);
	srand(rnd);
	seed_len = seed_stream(seed);
	LLVMFuzzerTestOneInput(seed, seed_len);
	for (i = 0; i < n; i++) {
		memcpy(buf, seed, seed_len);
		len = seed_len;
		for (k = rand() % 8; k >= 0; k--)
			len = mutate(buf, len, sizeof(buf));
		LLVMFuzzerTestOneInput(buf, len);
	}
	return 0;
}
