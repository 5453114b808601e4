/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Runs a fuzz target without libFuzzer, so that any compiler's build (and
 * the sanitizer build) exercises it in the 'fuzz' suite:
 *
 *   TARGET_replay FILE...     replay inputs (a corpus, a crash)
 *   TARGET_replay --seed DIR  write the built-in seeds to DIR/seed-N, to
 *                             start a libFuzzer corpus
 *   TARGET_replay             mutate the built-in seeds for a while, from
 *                             a printed seed (RS_FUZZ_SEED to repeat,
 *                             RS_FUZZ_ITERATIONS for more)
 *
 * The target supplies the seeds and the format of its length fields
 * (fuzz.h).  The seeds are valid inputs; the mutations flip bits,
 * overwrite, cut and splice bytes, and touch length fields most, where
 * the bugs are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define INPUT_MAX 8192

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
		rs_fuzz_put_len(buf + at, len - at, (size_t)rand() % 300);
		return len;
	}
}

static int write_seeds(const char *dir)
{
	static uint8_t seed[INPUT_MAX];
	char path[4096];
	size_t len;
	unsigned i;

	for (i = 0; (len = rs_fuzz_seed(i, seed, sizeof(seed))) != 0; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-%u", dir, i);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(seed, 1, len, f) != len) {
			perror(path);
			if (f != NULL)
				fclose(f);
			return 1;
		}
		if (fclose(f) != 0)
			return 1;
	}
	printf("wrote %u seed(s) to %s\n", i, dir);
	return 0;
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
	unsigned nseeds;
	int k;

	if (argc == 3 && strcmp(argv[1], "--seed") == 0)
		return write_seeds(argv[2]);
	if (argc > 1)
		return replay(argc, argv);
	for (nseeds = 0; rs_fuzz_seed(nseeds, seed, sizeof(seed)) != 0;)
		nseeds++;
	if (nseeds == 0)
		return 1;
	printf("fuzz: seed 0x%x, %ld iterations, %u built-in seeds\n", rnd, n,
	       nseeds);
	srand(rnd);
	for (i = 0; i < (long)nseeds; i++) {
		seed_len = rs_fuzz_seed((unsigned)i, seed, sizeof(seed));
		LLVMFuzzerTestOneInput(seed, seed_len);
	}
	for (i = 0; i < n; i++) {
		seed_len =
		    rs_fuzz_seed((unsigned)rand() % nseeds, seed, sizeof(seed));
		memcpy(buf, seed, seed_len);
		len = seed_len;
		for (k = rand() % 8; k >= 0; k--)
			len = mutate(buf, len, sizeof(buf));
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("fuzz: %ld inputs, no check failed\n", n + (long)nseeds);
	return 0;
}
