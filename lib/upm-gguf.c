/* upm-gguf.c: validating reader of GGUF v3 model files (read-only mmap).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The whole container is parsed and checked when the file is opened: every
 * count, length and offset is checked for overflow and against the file
 * size before it is used, so that a hostile file can neither make us read
 * outside the mapping nor allocate more than a small multiple of its size.
 * Afterwards the accessors here and the typed getters (upm-gguf-get.c)
 * only read validated data.
 *
 * This file owns the container: open, mmap, parse and validate the header,
 * the key/value pairs and the tensor infos, place the tensors, close, and
 * the plain accessors.
 *
 * UpmGgufKv.raw points at the value bytes: for a scalar string at its u64
 * length prefix, for an array at its first element (after the count).
 */
#include "upm-gguf-format.h"

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

/* ----------------------------------------------------------- value types */

const char *
upm_gguf_type_name (uint32_t type)
{
  static const char *const names[] = { "u8", "i8", "u16", "i16", "u32", "i32",
    "f32", "bool", "string", "array", "u64", "i64", "f64" };

  return type < G_N_ELEMENTS (names) ? names[type] : "unknown";
}

uint64_t
upm_gguf_type_size (uint32_t type)
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
    case UPM_DTYPE_BF16:
      return 2;
    case UPM_DTYPE_I8:
      return 1;
    default:
      return 0;
    }
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
  *out = upm_gguf_read_le32 (c->base + c->pos);
  c->pos += 4;
  return TRUE;
}

static gboolean
cur_u64 (Cursor *c, uint64_t *out, GError **error)
{
  if (!cur_need (c, 8, error))
    return FALSE;
  *out = upm_gguf_read_le64 (c->base + c->pos);
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

/* The name of item @i of a list ("key", "tensor info"), which must not be
 * in @index yet; names the item after it for the errors that follow. */
static char *
cur_unique_name (Cursor *c, GHashTable *index, const char *item, guint i,
    const char *what, const char *kind, GError **error)
{
  char *name;

  g_snprintf (c->item, sizeof c->item, "%s %u", item, i);
  name = cur_name (c, what, error);
  if (!name)
    return NULL;
  g_snprintf (c->item, sizeof c->item, "%s %u ('%.120s')", item, i, name);
  if (g_hash_table_contains (index, name))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: corrupt: duplicate %s '%s'", c->path, kind, name);
      g_free (name);
      return NULL;
    }
  return name;
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
  size = elem == UPM_GGUF_STRING ? 8 : upm_gguf_type_size (elem);
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
  size = upm_gguf_type_size (type);
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
      char *key
          = cur_unique_name (c, g->kv_index, "key", i, "key", "key", error);

      if (!key)
        return FALSE;
      kv->key = key;
      g->n_kv = i + 1;
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
          upm_gguf_type_name (kv->type));
      return FALSE;
    }
  a = upm_gguf_read_le32 (kv->raw);
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
      char *name = cur_unique_name (
          c, g->tensor_index, "tensor info", i, "tensor name", "tensor", error);

      if (!name)
        return FALSE;
      t->name = name;
      g->n_tensors = i + 1;
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
  if (g->size < 4 || (magic = upm_gguf_read_le32 (g->base)) != GGUF_MAGIC)
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
