/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The libFuzzer entry point, shared by the fuzz targets and by the replay
 * driver (fuzz_main.c) that runs them without libFuzzer.
 */
#ifndef RS_FUZZ_H
#define RS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* RS_FUZZ_H */
