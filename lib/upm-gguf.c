/* upm-gguf.c: validating reader of GGUF v3 model files (read-only mmap).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The whole container is parsed and checked when the file is opened: every
 * count, length and offset is checked for overflow and against the file
 * size before it is used, so that a hostile file can neither make us read
 * outside the mapping nor allocate more than a small multiple of its size.
 * Afterwards the accessors and typed getters only read validated data.
 *
 * UpmGgufKv.raw points at the value bytes: for a scalar string at its u64
 * length prefix, for an array at its first element (after the count).
 */
#include "upm-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (upm - error - quark, upm_error);

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_VERSION 3u
#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_HEADER_SIZE 24u
#define GGUF_MAX_NAME 65535u
/* Smallest possible encodings: a kv with a 1-byte key and a 1-byte value,
 * a tensor info with a 1-byte name and one dimension. */
#define GGUF_MIN_KV_SIZE (8u + 1u + 4u + 1u)
#define GGUF_MIN_TENSOR_INFO_SIZE (8u + 1u + 4u + 8u + 4u + 8u)

struct _UpmGguf
{
  char *path;
  void *map; /* NULL for an empty file */
  const uint8_t *base;
  uint64_t size;
  uint32_t version;
  uint32_t alignment;
  uint64_t data_start;
  UpmGgufKv *kvs;
  guint n_kv;
  UpmTensor *tensors;
  guint n_tensors;
  GHashTable *kv_index;     /* key -> UpmGgufKv* */
  GHashTable *tensor_index; /* name -> UpmTensor* */
};

/* Parsing state: a bounds-checked cursor over the mapping. */
typedef struct
{
  const char *path;
  const uint8_t *base;
  uint64_t size;
  uint64_t pos;
  char item[192]; /* what is being read, for error messages */
} Cursor;

/* ---------------------------------------------------------------- helpers */

static uint32_t
read_le32 (const uint8_t *p)
{
  uint32_t v;

  memcpy (&v, p, sizeof v);
  return GUINT32_FROM_LE (v);
}

static uint64_t
read_le64 (const uint8_t *p)
{
  uint64_t v;

  memcpy (&v, p, sizeof v);
  return GUINT64_FROM_LE (v);
}

static uint16_t
read_le16 (const uint8_t *p)
{
  uint16_t v;

  memcpy (&v, p, sizeof v);
  return GUINT16_FROM_LE (v);
}

static const char *
gguf_type_name (uint32_t type)
{
  static const char *const names[] = { "u8", "i8", "u16", "i16", "u32", "i32",
    "f32", "bool", "string", "array", "u64", "i64", "f64" };

  return type < G_N_ELEMENTS (names) ? names[type] : "unknown";
}

/* Size of one value of a fixed-size type; 0 for string, array, unknown. */
static uint64_t
gguf_type_size (uint32_t type)
{
  switch (type)
    {
    case UPM_GGUF_U8:
    case UPM_GGUF_I8:
    case UPM_GGUF_BOOL:
      return 1;
    case UPM_GGUF_U16:
    case UPM_GGUF_I16:
      return 2;
    case UPM_GGUF_U32:
    case UPM_GGUF_I32:
    case UPM_GGUF_F32:
      return 4;
    case UPM_GGUF_U64:
    case UPM_GGUF_I64:
    case UPM_GGUF_F64:
      return 8;
    default:
      return 0;
    }
}

static uint64_t
dtype_size (uint32_t type)
{
  switch (type)
    {
    case UPM_DTYPE_F32:
    case UPM_DTYPE_I32:
      return 4;
    case UPM_DTYPE_F16:
      return 2;
    default:
      return 0;
    }
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

/* ----------------------------------------------------------------- cursor */

static gboolean
cur_need (Cursor *c, uint64_t n, GError **error)
{
  uint64_t end;

  if (n <= c->size - c->pos)
    return TRUE;
  if (__builtin_add_overflow (c->pos, n, &end))
    g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
        "%s: corrupt: %s has an impossible size %" G_GUINT64_FORMAT
        " at byte %" G_GUINT64_FORMAT,
        c->path, c->item, n, c->pos);
  else
    g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
        "%s: truncated: %s ends at byte %" G_GUINT64_FORMAT
        " but the file has %" G_GUINT64_FORMAT " bytes",
        c->path, c->item, end, c->size);
  return FALSE;
}

static gboolean
cur_u32 (Cursor *c, uint32_t *out, GError **error)
{
  if (!cur_need (c, 4, error))
    return FALSE;
  *out = read_le32 (c->base + c->pos);
  c->pos += 4;
  return TRUE;
}

static gboolean
cur_u64 (Cursor *c, uint64_t *out, GError **error)
{
  if (!cur_need (c, 8, error))
    return FALSE;
  *out = read_le64 (c->base + c->pos);
  c->pos += 8;
  return TRUE;
}

static gboolean
cur_skip (Cursor *c, uint64_t n, GError **error)
{
  if (!cur_need (c, n, error))
    return FALSE;
  c->pos += n;
  return TRUE;
}

/* A gguf_string: u64 length + UTF-8 bytes without NUL. */
static gboolean
cur_string (Cursor *c, const char **str, uint64_t *len, GError **error)
{
  uint64_t n;

  if (!cur_u64 (c, &n, error) || !cur_need (c, n, error))
    return FALSE;
  if (!g_utf8_validate ((const char *)c->base + c->pos, (gssize)n, NULL))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: %s: string at byte %" G_GUINT64_FORMAT
          " is not valid UTF-8",
          c->path, c->item, c->pos);
      return FALSE;
    }
  *str = (const char *)c->base + c->pos;
  *len = n;
  c->pos += n;
  return TRUE;
}

/* A key or tensor name: non-empty, bounded, UTF-8; returns a copy. */
static char *
cur_name (Cursor *c, const char *what, GError **error)
{
  const char *s;
  uint64_t len;

  if (!cur_string (c, &s, &len, error))
    return NULL;
  if (len == 0 || len > GGUF_MAX_NAME)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: %s: %s length %" G_GUINT64_FORMAT
          " is out of range (1..%u)",
          c->path, c->item, what, len, GGUF_MAX_NAME);
      return NULL;
    }
  return g_strndup (s, (gsize)len);
}

/* Check that @count items of at least @min_size bytes can fit. */
static gboolean
cur_check_count (Cursor *c, uint64_t count, uint64_t min_size, const char *what,
    GError **error)
{
  uint64_t total;

  if (__builtin_mul_overflow (count, min_size, &total))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: %s: %s %" G_GUINT64_FORMAT " is absurd", c->path,
          c->item, what, count);
      return FALSE;
    }
  if (total <= c->size - c->pos)
    return TRUE;
  g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
      "%s: truncated: %s: %s %" G_GUINT64_FORMAT
      " needs at least %" G_GUINT64_FORMAT " bytes but only %" G_GUINT64_FORMAT
      " are left",
      c->path, c->item, what, count, total, c->size - c->pos);
  return FALSE;
}

/* ------------------------------------------------------------------ parse */

static gboolean
parse_array (Cursor *c, UpmGgufKv *kv, GError **error)
{
  uint32_t elem;
  uint64_t count, size, total, i;

  if (!cur_u32 (c, &elem, error) || !cur_u64 (c, &count, error))
    return FALSE;
  if (elem == UPM_GGUF_ARRAY)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: %s: nested arrays are not supported", c->path, c->item);
      return FALSE;
    }
  size = elem == UPM_GGUF_STRING ? 8 : gguf_type_size (elem);
  if (size == 0)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: %s: unknown array element type %u", c->path, c->item,
          elem);
      return FALSE;
    }
  if (!cur_check_count (c, count, size, "array length", error))
    return FALSE;
  kv->array_type = (UpmGgufType)elem;
  kv->n = count;
  kv->raw = c->base + c->pos;
  if (elem != UPM_GGUF_STRING)
    {
      total = count * size; /* checked above */
      return cur_skip (c, total, error);
    }
  for (i = 0; i < count; i++)
    {
      const char *s;
      uint64_t len;

      if (!cur_string (c, &s, &len, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
parse_value (Cursor *c, UpmGgufKv *kv, GError **error)
{
  uint32_t type;
  uint64_t size;

  if (!cur_u32 (c, &type, error))
    return FALSE;
  kv->type = (UpmGgufType)type;
  kv->array_type = (UpmGgufType)type;
  kv->n = 1;
  kv->raw = c->base + c->pos;
  if (type == UPM_GGUF_ARRAY)
    return parse_array (c, kv, error);
  if (type == UPM_GGUF_STRING)
    {
      const char *s;
      uint64_t len;

      return cur_string (c, &s, &len, error);
    }
  size = gguf_type_size (type);
  if (size == 0)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: %s: unknown value type %u", c->path, c->item, type);
      return FALSE;
    }
  return cur_skip (c, size, error);
}

static gboolean
parse_kvs (UpmGguf *g, Cursor *c, uint64_t n_kv, GError **error)
{
  guint i;

  g_strlcpy (c->item, "header", sizeof c->item);
  if (!cur_check_count (c, n_kv, GGUF_MIN_KV_SIZE, "kv_count", error))
    return FALSE;
  if (n_kv > G_MAXUINT / 2)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: kv_count %" G_GUINT64_FORMAT " is absurd", c->path,
          n_kv);
      return FALSE;
    }
  g->kvs = g_new0 (UpmGgufKv, MAX (n_kv, 1));
  for (i = 0; i < n_kv; i++)
    {
      UpmGgufKv *kv = &g->kvs[i];
      char *key;

      g_snprintf (c->item, sizeof c->item, "key %u", i);
      key = cur_name (c, "key", error);
      if (!key)
        return FALSE;
      kv->key = key;
      g->n_kv = i + 1;
      g_snprintf (c->item, sizeof c->item, "key %u ('%.120s')", i, key);
      if (g_hash_table_contains (g->kv_index, key))
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
              "%s: corrupt: duplicate key '%s'", c->path, key);
          return FALSE;
        }
      g_hash_table_insert (g->kv_index, key, kv);
      if (!parse_value (c, kv, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
parse_alignment (UpmGguf *g, GError **error)
{
  const UpmGgufKv *kv = g_hash_table_lookup (g->kv_index, "general.alignment");
  uint32_t a;

  g->alignment = GGUF_DEFAULT_ALIGNMENT;
  if (!kv)
    return TRUE;
  if (kv->type != UPM_GGUF_U32)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: key 'general.alignment' must be u32, found %s", g->path,
          gguf_type_name (kv->type));
      return FALSE;
    }
  a = read_le32 (kv->raw);
  if (a < 8 || (a & (a - 1)) != 0)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: general.alignment %u is not a power of two >= 8",
          g->path, a);
      return FALSE;
    }
  g->alignment = a;
  return TRUE;
}

static gboolean
parse_shape (Cursor *c, UpmTensor *t, GError **error)
{
  uint64_t n_el = 1, size;
  uint32_t d, type;

  if (!cur_u32 (c, &t->n_dims, error))
    return FALSE;
  if (t->n_dims < 1 || t->n_dims > UPM_GGUF_MAX_DIMS)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: %s: n_dims %u is out of range (1..%u)", c->path,
          c->item, t->n_dims, UPM_GGUF_MAX_DIMS);
      return FALSE;
    }
  for (d = 0; d < t->n_dims; d++)
    {
      if (!cur_u64 (c, &t->ne[d], error))
        return FALSE;
      if (t->ne[d] == 0)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
              "%s: corrupt: %s: dimension %u is 0", c->path, c->item, d);
          return FALSE;
        }
      if (__builtin_mul_overflow (n_el, t->ne[d], &n_el))
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
              "%s: corrupt: %s: the element count overflows at dimension %u "
              "(%" G_GUINT64_FORMAT ")",
              c->path, c->item, d, t->ne[d]);
          return FALSE;
        }
    }
  if (!cur_u32 (c, &type, error))
    return FALSE;
  size = dtype_size (type);
  if (size == 0)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: %s: unknown tensor type %u", c->path, c->item, type);
      return FALSE;
    }
  t->type = (UpmDType)type;
  if (__builtin_mul_overflow (n_el, size, &t->n_bytes))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: %s: size in bytes overflows", c->path, c->item);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_tensor_infos (UpmGguf *g, Cursor *c, uint64_t n_tensors, GError **error)
{
  guint i;

  g_strlcpy (c->item, "header", sizeof c->item);
  if (!cur_check_count (
          c, n_tensors, GGUF_MIN_TENSOR_INFO_SIZE, "tensor_count", error))
    return FALSE;
  g->tensors = g_new0 (UpmTensor, MAX (n_tensors, 1));
  for (i = 0; i < n_tensors; i++)
    {
      UpmTensor *t = &g->tensors[i];
      char *name;

      g_snprintf (c->item, sizeof c->item, "tensor info %u", i);
      name = cur_name (c, "tensor name", error);
      if (!name)
        return FALSE;
      t->name = name;
      g->n_tensors = i + 1;
      g_snprintf (
          c->item, sizeof c->item, "tensor info %u ('%.120s')", i, name);
      if (g_hash_table_contains (g->tensor_index, name))
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
              "%s: corrupt: duplicate tensor '%s'", c->path, name);
          return FALSE;
        }
      g_hash_table_insert (g->tensor_index, name, t);
      if (!parse_shape (c, t, error) || !cur_u64 (c, &t->offset, error))
        return FALSE;
    }
  return TRUE;
}

static gint
compare_offsets (gconstpointer a, gconstpointer b)
{
  const UpmTensor *ta = *(const UpmTensor *const *)a;
  const UpmTensor *tb = *(const UpmTensor *const *)b;

  return ta->offset < tb->offset ? -1 : ta->offset > tb->offset;
}

static gboolean
place_tensor (UpmGguf *g, UpmTensor *t, GError **error)
{
  uint64_t begin, end;

  if (t->offset % g->alignment != 0)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: tensor '%s': offset %" G_GUINT64_FORMAT
          " is not a multiple of the alignment %u",
          g->path, t->name, t->offset, g->alignment);
      return FALSE;
    }
  if (__builtin_add_overflow (g->data_start, t->offset, &begin)
      || __builtin_add_overflow (begin, t->n_bytes, &end) || end > g->size)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: truncated: tensor '%s' (offset %" G_GUINT64_FORMAT
          ", %" G_GUINT64_FORMAT
          " bytes) ends beyond the end of the file (%" G_GUINT64_FORMAT
          " bytes, data section at byte %" G_GUINT64_FORMAT ")",
          g->path, t->name, t->offset, t->n_bytes, g->size, g->data_start);
      return FALSE;
    }
  t->data = g->base + begin;
  return TRUE;
}

static gboolean
place_tensors (UpmGguf *g, uint64_t header_end, GError **error)
{
  g_autofree UpmTensor **sorted = NULL;
  guint i;

  g->data_start = header_end;
  if (header_end % g->alignment)
    g->data_start += g->alignment - header_end % g->alignment;
  for (i = 0; i < g->n_tensors; i++)
    if (!place_tensor (g, &g->tensors[i], error))
      return FALSE;
  sorted = g_new (UpmTensor *, MAX (g->n_tensors, 1));
  for (i = 0; i < g->n_tensors; i++)
    sorted[i] = &g->tensors[i];
  qsort (sorted, g->n_tensors, sizeof *sorted, compare_offsets);
  for (i = 1; i < g->n_tensors; i++)
    {
      const UpmTensor *a = sorted[i - 1], *b = sorted[i];

      if (b->offset < a->offset + a->n_bytes)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
              "%s: corrupt: tensor '%s' (offset %" G_GUINT64_FORMAT
              ") overlaps tensor '%s' (offset %" G_GUINT64_FORMAT
              ", %" G_GUINT64_FORMAT " bytes)",
              g->path, b->name, b->offset, a->name, a->offset, a->n_bytes);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
parse_header (
    UpmGguf *g, Cursor *c, uint64_t *n_tensors, uint64_t *n_kv, GError **error)
{
  uint32_t magic;

  if (g->size == 0)
    {
      g_set_error (
          error, UPM_ERROR, UPM_ERROR_FORMAT, "%s: empty file", g->path);
      return FALSE;
    }
  g_strlcpy (c->item, "magic", sizeof c->item);
  if (g->size < 4 || (magic = read_le32 (g->base)) != GGUF_MAGIC)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: not a GGUF file (no 'GGUF' magic at the start)", g->path);
      return FALSE;
    }
  c->pos = 4;
  g_strlcpy (c->item, "header", sizeof c->item);
  if (!cur_u32 (c, &g->version, error))
    return FALSE;
  if (g->version != GGUF_VERSION)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_VERSION,
          "%s: GGUF version %u is not supported (only version %u)", g->path,
          g->version, GGUF_VERSION);
      return FALSE;
    }
  return cur_u64 (c, n_tensors, error) && cur_u64 (c, n_kv, error);
}

static gboolean
parse_all (UpmGguf *g, GError **error)
{
  Cursor c = { g->path, g->base, g->size, 0, "" };
  uint64_t n_tensors = 0, n_kv = 0;

  return parse_header (g, &c, &n_tensors, &n_kv, error)
         && parse_kvs (g, &c, n_kv, error) && parse_alignment (g, error)
         && parse_tensor_infos (g, &c, n_tensors, error)
         && place_tensors (g, c.pos, error);
}

static gboolean
io_fail (UpmGguf *g, const char *what, int err, GError **error)
{
  g_set_error (error, UPM_ERROR, UPM_ERROR_IO, "%s: %s: %s", g->path, what,
      g_strerror (err));
  return FALSE;
}

/* Map the whole file read-only. */
static gboolean
map_file (UpmGguf *g, GError **error)
{
  struct stat st;
  int fd, err;

  fd = open (g->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return io_fail (g, "cannot open", errno, error);
  if (fstat (fd, &st) != 0)
    {
      err = errno;
      close (fd);
      return io_fail (g, "cannot stat", err, error);
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (
          error, UPM_ERROR, UPM_ERROR_IO, "%s: not a regular file", g->path);
      return FALSE;
    }
  g->size = (uint64_t)st.st_size;
  if (g->size > 0)
    {
      g->map = mmap (NULL, (size_t)g->size, PROT_READ, MAP_PRIVATE, fd, 0);
      err = errno;
      if (g->map == MAP_FAILED)
        {
          g->map = NULL;
          close (fd);
          return io_fail (g, "cannot map", err, error);
        }
      g->base = g->map;
    }
  close (fd);
  return TRUE;
}

UpmGguf *
upm_gguf_open (const char *path, GError **error)
{
  UpmGguf *g;

  g_return_val_if_fail (path != NULL, NULL);
  g = g_new0 (UpmGguf, 1);
  g->path = g_strdup (path);
  g->kv_index = g_hash_table_new (g_str_hash, g_str_equal);
  g->tensor_index = g_hash_table_new (g_str_hash, g_str_equal);
  if (!map_file (g, error) || !parse_all (g, error))
    {
      upm_gguf_close (g);
      return NULL;
    }
  return g;
}

void
upm_gguf_close (UpmGguf *g)
{
  guint i;

  if (!g)
    return;
  for (i = 0; i < g->n_kv; i++)
    g_free ((char *)g->kvs[i].key);
  for (i = 0; i < g->n_tensors; i++)
    g_free ((char *)g->tensors[i].name);
  g_free (g->kvs);
  g_free (g->tensors);
  g_hash_table_unref (g->kv_index);
  g_hash_table_unref (g->tensor_index);
  if (g->map)
    munmap (g->map, (size_t)g->size);
  g_free (g->path);
  g_free (g);
}

/* -------------------------------------------------------------- accessors */

const char *
upm_gguf_path (const UpmGguf *g)
{
  return g->path;
}

uint32_t
upm_gguf_version (const UpmGguf *g)
{
  return g->version;
}

uint64_t
upm_gguf_file_size (const UpmGguf *g)
{
  return g->size;
}

uint32_t
upm_gguf_alignment (const UpmGguf *g)
{
  return g->alignment;
}

guint
upm_gguf_n_kv (const UpmGguf *g)
{
  return g->n_kv;
}

const UpmGgufKv *
upm_gguf_kv (const UpmGguf *g, guint i)
{
  return i < g->n_kv ? &g->kvs[i] : NULL;
}

const UpmGgufKv *
upm_gguf_find_kv (const UpmGguf *g, const char *key)
{
  return g_hash_table_lookup (g->kv_index, key);
}

guint
upm_gguf_n_tensors (const UpmGguf *g)
{
  return g->n_tensors;
}

const UpmTensor *
upm_gguf_tensor (const UpmGguf *g, guint i)
{
  return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const UpmTensor *
upm_gguf_find_tensor (const UpmGguf *g, const char *name)
{
  return g_hash_table_lookup (g->tensor_index, name);
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
          g->path, key);
      return NULL;
    }
  if (kv->type != type
      || (type == UPM_GGUF_ARRAY && kv->array_type != array_type))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_MODEL,
          "%s: key '%s': expected %s%s, found %s%s", g->path, key,
          type == UPM_GGUF_ARRAY ? "array of " : "",
          gguf_type_name (type == UPM_GGUF_ARRAY ? array_type : type),
          kv->type == UPM_GGUF_ARRAY ? "array of " : "",
          gguf_type_name (
              kv->type == UPM_GGUF_ARRAY ? kv->array_type : kv->type));
      return NULL;
    }
  if (type == UPM_GGUF_ARRAY && kv->n >= G_MAXUINT)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_MODEL,
          "%s: key '%s': array too long", g->path, key);
      return NULL;
    }
  return kv;
}

gboolean
upm_gguf_get_u32 (
    const UpmGguf *g, const char *key, uint32_t *out, GError **error)
{
  const UpmGgufKv *kv = get_kv (g, key, UPM_GGUF_U32, 0, error);

  if (!kv)
    return FALSE;
  *out = read_le32 (kv->raw);
  return TRUE;
}

gboolean
upm_gguf_get_f32 (const UpmGguf *g, const char *key, float *out, GError **error)
{
  const UpmGgufKv *kv = get_kv (g, key, UPM_GGUF_F32, 0, error);
  uint32_t bits;

  if (!kv)
    return FALSE;
  bits = read_le32 (kv->raw);
  memcpy (out, &bits, sizeof *out);
  return TRUE;
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
  return g_strndup ((const char *)kv->raw + 8, (gsize)read_le64 (kv->raw));
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
      uint64_t len = read_le64 (p);

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
  uint64_t size = gguf_type_size (type), i;
  uint8_t *out;

  if (!kv)
    return NULL;
  out = g_malloc (MAX (kv->n * size, 1));
  for (i = 0; i < kv->n; i++)
    {
      const uint8_t *src = kv->raw + i * size;

      if (size == 4)
        {
          uint32_t v = read_le32 (src);
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
          g->path, name);
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
          "%s: tensor '%s': expected %s, found %s", g->path, name, want->str,
          found->str);
      return NULL;
    }
  return t;
}
