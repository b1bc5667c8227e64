/* upm-gguf-get.c: typed values out of an opened GGUF container.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The container (upm-gguf.c) has validated every key, string and tensor
 * when it was opened; this file only reads them: typed key and array
 * getters with errors naming file and key, tensor requirements (dtype and
 * shape), dtype names and the f16 <-> f32 conversions.
 */
#include "upm-gguf-format.h"

#include <string.h>

static uint16_t
read_le16 (const uint8_t *p)
{
  uint16_t v;

  memcpy (&v, p, sizeof v);
  return GUINT16_FROM_LE (v);
}

const char *
upm_dtype_name (UpmDType type)
{
  switch (type)
    {
    case UPM_DTYPE_F32:
      return "F32";
    case UPM_DTYPE_F16:
      return "F16";
    case UPM_DTYPE_I32:
      return "I32";
    case UPM_DTYPE_I8:
      return "I8";
    case UPM_DTYPE_BF16:
      return "BF16";
    default:
      return "unknown";
    }
}

/* ------------------------------------------------------------ f16 <-> f32 */

float
upm_f16_to_f32 (uint16_t h)
{
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  float f;

  if (exp == 0 && mant == 0)
    {
      bits = sign;
    }
  else if (exp == 0)
    {
      /* subnormal: normalise the mantissa */
      uint32_t e = 127 - 15 + 1;

      while (!(mant & 0x400u))
        {
          mant <<= 1;
          e--;
        }
      bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
    }
  else if (exp == 31)
    {
      bits = sign | 0x7f800000u | (mant << 13);
    }
  else
    {
      bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
  memcpy (&f, &bits, sizeof f);
  return f;
}

/* Round-to-nearest-even of the bits below @shift. */
static uint32_t
round_shift (uint32_t m, uint32_t shift)
{
  uint32_t r = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);

  if (rem > half || (rem == half && (r & 1u)))
    r++;
  return r;
}

uint16_t
upm_f32_to_f16 (float f)
{
  uint32_t bits, sign, exp, mant;
  int32_t e;

  memcpy (&bits, &f, sizeof bits);
  sign = (bits >> 16) & 0x8000u;
  exp = (bits >> 23) & 0xffu;
  mant = bits & 0x7fffffu;

  if (exp == 0xff) /* inf, or nan kept quiet with its payload */
    return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0));
  e = (int32_t)exp - 127 + 15;
  if (e >= 31)
    return (uint16_t)(sign | 0x7c00u);
  if (e <= 0)
    {
      if (e < -10)
        return (uint16_t)sign;
      /* subnormal half; a carry into 0x400 gives the smallest normal */
      return (
          uint16_t)(sign | round_shift (mant | 0x800000u, (uint32_t)(14 - e)));
    }
  /* a carry out of the mantissa correctly bumps the exponent (to inf) */
  return (uint16_t)(sign + (((uint32_t)e << 10) | (mant >> 13))
                    + (round_shift (mant, 13) - (mant >> 13)));
}

/* ---------------------------------------------------------- typed getters */

static const UpmGgufKv *
get_kv (const UpmGguf *g, const char *key, UpmGgufType type,
    UpmGgufType array_type, GError **error)
{
  const UpmGgufKv *kv = upm_gguf_find_kv (g, key);

  if (!kv)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_MODEL, "%s: missing key '%s'",
          upm_gguf_path (g), key);
      return NULL;
    }
  if (kv->type != type
      || (type == UPM_GGUF_ARRAY && kv->array_type != array_type))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_MODEL,
          "%s: key '%s': expected %s%s, found %s%s", upm_gguf_path (g), key,
          type == UPM_GGUF_ARRAY ? "array of " : "",
          upm_gguf_type_name (type == UPM_GGUF_ARRAY ? array_type : type),
          kv->type == UPM_GGUF_ARRAY ? "array of " : "",
          upm_gguf_type_name (
              kv->type == UPM_GGUF_ARRAY ? kv->array_type : kv->type));
      return NULL;
    }
  if (type == UPM_GGUF_ARRAY && kv->n >= G_MAXUINT)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_MODEL,
          "%s: key '%s': array too long", upm_gguf_path (g), key);
      return NULL;
    }
  return kv;
}

/* Copy the 4-byte little-endian scalar @key, of @type, into @out. */
static gboolean
get_le32 (const UpmGguf *g, const char *key, UpmGgufType type, void *out,
    GError **error)
{
  const UpmGgufKv *kv = get_kv (g, key, type, 0, error);
  uint32_t bits;

  if (!kv)
    return FALSE;
  bits = upm_gguf_read_le32 (kv->raw);
  memcpy (out, &bits, sizeof bits);
  return TRUE;
}

gboolean
upm_gguf_get_u32 (
    const UpmGguf *g, const char *key, uint32_t *out, GError **error)
{
  return get_le32 (g, key, UPM_GGUF_U32, out, error);
}

gboolean
upm_gguf_get_f32 (const UpmGguf *g, const char *key, float *out, GError **error)
{
  return get_le32 (g, key, UPM_GGUF_F32, out, error);
}

gboolean
upm_gguf_get_bool (
    const UpmGguf *g, const char *key, gboolean *out, GError **error)
{
  const UpmGgufKv *kv = get_kv (g, key, UPM_GGUF_BOOL, 0, error);

  if (!kv)
    return FALSE;
  *out = kv->raw[0] != 0;
  return TRUE;
}

char *
upm_gguf_get_string (const UpmGguf *g, const char *key, GError **error)
{
  const UpmGgufKv *kv = get_kv (g, key, UPM_GGUF_STRING, 0, error);

  if (!kv)
    return NULL;
  return g_strndup (
      (const char *)kv->raw + 8, (gsize)upm_gguf_read_le64 (kv->raw));
}

char **
upm_gguf_get_strv (const UpmGguf *g, const char *key, guint *n, GError **error)
{
  const UpmGgufKv *kv = get_kv (g, key, UPM_GGUF_ARRAY, UPM_GGUF_STRING, error);
  const uint8_t *p;
  char **v;
  guint i;

  if (!kv)
    return NULL;
  v = g_new (char *, kv->n + 1);
  for (i = 0, p = kv->raw; i < kv->n; i++)
    {
      uint64_t len = upm_gguf_read_le64 (p);

      v[i] = g_strndup ((const char *)p + 8, (gsize)len);
      p += 8 + len;
    }
  v[kv->n] = NULL;
  if (n)
    *n = (guint)kv->n;
  return v;
}

/* Copy an array of @size-byte little-endian elements. */
static void *
get_array (const UpmGguf *g, const char *key, UpmGgufType type, guint *n,
    GError **error)
{
  const UpmGgufKv *kv = get_kv (g, key, UPM_GGUF_ARRAY, type, error);
  uint64_t size = upm_gguf_type_size (type), i;
  uint8_t *out;

  if (!kv)
    return NULL;
  out = g_malloc (MAX (kv->n * size, 1));
  for (i = 0; i < kv->n; i++)
    {
      const uint8_t *src = kv->raw + i * size;

      if (size == 4)
        {
          uint32_t v = upm_gguf_read_le32 (src);
          memcpy (out + i * 4, &v, 4);
        }
      else if (size == 2)
        {
          uint16_t v = read_le16 (src);
          memcpy (out + i * 2, &v, 2);
        }
      else
        {
          out[i] = src[0];
        }
    }
  if (n)
    *n = (guint)kv->n;
  return out;
}

uint8_t *
upm_gguf_get_u8_array (
    const UpmGguf *g, const char *key, guint *n, GError **error)
{
  return get_array (g, key, UPM_GGUF_U8, n, error);
}

uint32_t *
upm_gguf_get_u32_array (
    const UpmGguf *g, const char *key, guint *n, GError **error)
{
  return get_array (g, key, UPM_GGUF_U32, n, error);
}

int32_t *
upm_gguf_get_i32_array (
    const UpmGguf *g, const char *key, guint *n, GError **error)
{
  return get_array (g, key, UPM_GGUF_I32, n, error);
}

float *
upm_gguf_get_f32_array (
    const UpmGguf *g, const char *key, guint *n, GError **error)
{
  return get_array (g, key, UPM_GGUF_F32, n, error);
}

/* ----------------------------------------------------------- requirements */

/* "[a, b] F32" in PyTorch order (slowest dimension first). */
static void
append_shape (GString *s, guint n_dims, const uint64_t *dims,
    gboolean ggml_order, UpmDType type)
{
  guint i;

  g_string_append_c (s, '[');
  for (i = 0; i < n_dims; i++)
    g_string_append_printf (s, "%s%" G_GUINT64_FORMAT, i ? ", " : "",
        ggml_order ? dims[n_dims - 1 - i] : dims[i]);
  g_string_append_printf (s, "] %s", upm_dtype_name (type));
}

const UpmTensor *
upm_gguf_require_tensor (const UpmGguf *g, const char *name, UpmDType type,
    guint n_dims, const uint64_t *dims, GError **error)
{
  const UpmTensor *t = upm_gguf_find_tensor (g, name);
  gboolean ok;
  guint i;

  if (!t)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_MODEL, "%s: missing tensor '%s'",
          upm_gguf_path (g), name);
      return NULL;
    }
  ok = t->type == type && t->n_dims == n_dims;
  for (i = 0; ok && i < n_dims; i++)
    ok = t->ne[i] == dims[n_dims - 1 - i];
  if (!ok)
    {
      g_autoptr (GString) want = g_string_new (NULL);
      g_autoptr (GString) found = g_string_new (NULL);

      append_shape (want, n_dims, dims, FALSE, type);
      append_shape (found, t->n_dims, t->ne, TRUE, t->type);
      g_set_error (error, UPM_ERROR, UPM_ERROR_MODEL,
          "%s: tensor '%s': expected %s, found %s", upm_gguf_path (g), name,
          want->str, found->str);
      return NULL;
    }
  return t;
}
