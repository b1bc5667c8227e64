/* upm-gguf-format.h: the GGUF value encoding (internal).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the container reader (upm-gguf.c) and the typed getters
 * (upm-gguf-get.c) both need to read values: little-endian loads and the
 * names and sizes of the GGUF value types.  Defined in upm-gguf.c.
 */
#ifndef UPM_GGUF_FORMAT_H
#define UPM_GGUF_FORMAT_H

#include "upm-private.h"

#include <string.h>

G_BEGIN_DECLS

static inline uint32_t
upm_gguf_read_le32 (const uint8_t *p)
{
  uint32_t v;

  memcpy (&v, p, sizeof v);
  return GUINT32_FROM_LE (v);
}

static inline uint64_t
upm_gguf_read_le64 (const uint8_t *p)
{
  uint64_t v;

  memcpy (&v, p, sizeof v);
  return GUINT64_FROM_LE (v);
}

/* "u8" ... "f64", or "unknown". */
const char *upm_gguf_type_name (uint32_t type);

/* Size of one value of a fixed-size type; 0 for string, array, unknown. */
uint64_t upm_gguf_type_size (uint32_t type);

G_END_DECLS
#endif /* UPM_GGUF_FORMAT_H */
