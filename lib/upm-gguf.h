/* upm-gguf.h: the GGUF container reader (upm-gguf.c): the mapped
 * file, its key/values and tensors, typed getters, and half floats.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_GGUF_H
#define UPM_GGUF_H

#include "upm.h"

G_BEGIN_DECLS

typedef enum
{
  UPM_GGUF_U8 = 0,
  UPM_GGUF_I8 = 1,
  UPM_GGUF_U16 = 2,
  UPM_GGUF_I16 = 3,
  UPM_GGUF_U32 = 4,
  UPM_GGUF_I32 = 5,
  UPM_GGUF_F32 = 6,
  UPM_GGUF_BOOL = 7,
  UPM_GGUF_STRING = 8,
  UPM_GGUF_ARRAY = 9,
  UPM_GGUF_U64 = 10,
  UPM_GGUF_I64 = 11,
  UPM_GGUF_F64 = 12,
} UpmGgufType;

typedef enum
{
  UPM_DTYPE_F32 = 0,
  UPM_DTYPE_F16 = 1,
  UPM_DTYPE_I8 = 24,
  UPM_DTYPE_I32 = 26,
  UPM_DTYPE_BF16 = 30,
} UpmDType;

#define UPM_GGUF_MAX_DIMS 4

typedef struct
{
  const char *name; /* NUL-terminated copy owned by the reader */
  uint32_t n_dims;
  uint64_t ne[UPM_GGUF_MAX_DIMS]; /* ne[0] = fastest dimension */
  UpmDType type;
  uint64_t offset; /* from the data section start */
  uint64_t n_bytes;
  const void *data; /* inside the mapping, aligned */
} UpmTensor;

typedef struct
{
  const char *key; /* NUL-terminated copy */
  UpmGgufType type;
  UpmGgufType array_type; /* when type == ARRAY */
  uint64_t n;             /* array length (1 for scalars) */
  const uint8_t *raw;     /* value bytes in the mapping */
} UpmGgufKv;

typedef struct _UpmGguf UpmGguf;

/* mmap and validate the whole container: sizes, offsets, types, UTF-8. */
UpmGguf *upm_gguf_open (const char *path, GError **error);
void upm_gguf_close (UpmGguf *gguf);
const char *upm_gguf_path (const UpmGguf *gguf);
uint32_t upm_gguf_version (const UpmGguf *gguf);
uint64_t upm_gguf_file_size (const UpmGguf *gguf);
uint32_t upm_gguf_alignment (const UpmGguf *gguf);

guint upm_gguf_n_kv (const UpmGguf *gguf);
const UpmGgufKv *upm_gguf_kv (const UpmGguf *gguf, guint i);
const UpmGgufKv *upm_gguf_find_kv (const UpmGguf *gguf, const char *key);
guint upm_gguf_n_tensors (const UpmGguf *gguf);
const UpmTensor *upm_gguf_tensor (const UpmGguf *gguf, guint i);
const UpmTensor *upm_gguf_find_tensor (const UpmGguf *gguf, const char *name);

/* Typed getters: FALSE with a GError naming file and key when the key is
 * missing or has another type. */
gboolean upm_gguf_get_u32 (
    const UpmGguf *gguf, const char *key, uint32_t *out, GError **error);
gboolean upm_gguf_get_f32 (
    const UpmGguf *gguf, const char *key, float *out, GError **error);
gboolean upm_gguf_get_bool (
    const UpmGguf *gguf, const char *key, gboolean *out, GError **error);
/* Newly allocated. */
char *upm_gguf_get_string (
    const UpmGguf *gguf, const char *key, GError **error);
/* Newly allocated NULL-terminated vector; *n may be NULL. */
char **upm_gguf_get_strv (
    const UpmGguf *gguf, const char *key, guint *n, GError **error);
/* Array getters copy into a newly allocated buffer of *n elements. */
uint8_t *upm_gguf_get_u8_array (
    const UpmGguf *gguf, const char *key, guint *n, GError **error);
uint32_t *upm_gguf_get_u32_array (
    const UpmGguf *gguf, const char *key, guint *n, GError **error);
int32_t *upm_gguf_get_i32_array (
    const UpmGguf *gguf, const char *key, guint *n, GError **error);
float *upm_gguf_get_f32_array (
    const UpmGguf *gguf, const char *key, guint *n, GError **error);

/* A tensor with this name, dtype and PyTorch-order shape (dims[0] slowest),
 * or NULL with an error "FILE: tensor 'NAME': expected [a, b] F32, found ...".
 */
const UpmTensor *upm_gguf_require_tensor (const UpmGguf *gguf, const char *name,
    UpmDType type, guint n_dims, const uint64_t *dims, GError **error);

const char *upm_dtype_name (UpmDType type);
float upm_f16_to_f32 (uint16_t h);
/* A bfloat16 (the high half of a float's bits) widened to float. */
static inline float
upm_bf16_to_f32 (uint16_t h)
{
  union
  {
    uint32_t u;
    float f;
  } v = { (uint32_t)h << 16 };
  return v.f;
}
uint16_t upm_f32_to_f16 (float f);

G_END_DECLS
#endif /* UPM_GGUF_H */
