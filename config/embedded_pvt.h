/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The default configuration, compiled in.  The definitions are generated at
 * build time from configs/default.ini by embed_text (see meson.build); only
 * config.c reads them.
 */
#ifndef RS_EMBEDDED_PVT_H
#define RS_EMBEDDED_PVT_H

#include <stddef.h>

/** configs/default.ini, NUL-terminated. */
extern const char rs_config_embedded_default[];

/** Its length in bytes, without the terminator. */
extern const size_t rs_config_embedded_default_len;

#endif /* RS_EMBEDDED_PVT_H */
