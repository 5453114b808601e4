/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a fuzz target gives the replay driver (fuzz_main.c): the libFuzzer
 * entry point, its built-in seeds, and how it writes a length field (the
 * mutation that finds the most bugs overwrites one).
 */
#ifndef RS_FUZZ_H
#define RS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/** One input; 0 (libFuzzer's convention).  Aborts on a broken check. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/**
 * Built-in seed @p i, written to @p buf (@p cap bytes).
 *
 * @return its length; 0 when there is no seed @p i (seeds are 0..n-1).
 */
size_t rs_fuzz_seed(unsigned i, uint8_t *buf, size_t cap);

/**
 * Write @p value as the target's length field at @p p, where @p avail
 * bytes remain.  Does nothing when the field does not fit.
 */
void rs_fuzz_put_len(uint8_t *p, size_t avail, size_t value);

#endif /* RS_FUZZ_H */
