/* upm-bpe.c: CLIP byte-level BPE tokenizer (model-spec §2.1).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * This follows CLIP's / Uni-Perceiver's tokenization_clip.py: the text is
 * cleaned and split into pieces by upm-text-clean.c, each piece is
 * byte-encoded (bytes_to_unicode) and merged by rank here:
 *
 *   for piece in re.findall (PAT, clean (text)): BPE (byte_encode (piece))
 *
 * This file owns the vocabulary (symbols, merges, the CLIP file loader),
 * the merge loop and its cache, encode and decode.
 *
 * Deviations from the Python implementation: those of the clean-up and
 * the split are listed in upm-text-clean.c; the BPE's own:
 *
 * - Custom vocabularies without a special token BPE-encode its text.
 */
#include "upm-private.h"
#include "upm-text-clean.h"

#include <gio/gio.h>
#include <string.h>

#define UPM_BPE_CLIP_N_MERGES 48894
#define UPM_BPE_EOW "</w>"
#define UPM_BPE_EOW_LEN 4
#define UPM_BPE_CACHE_MAX 16384
#define UPM_BPE_MAX_FILE (256u << 20)

static const char *const special_tokens[] = {
  "<|startoftext|>",
  "<|endoftext|>",
  "<|mask|>",
  "<|gen|>",
  "<|spe|>",
};

/* Open-addressing map (left id, right id) -> (rank, merged id). */
typedef struct
{
  guint64 key;
  guint32 rank;
  gint32 result;
} UpmMergeSlot;

#define UPM_MERGE_EMPTY G_MAXUINT64

struct _UpmBpe
{
  guint n_tokens;
  char **symbols;          /* id -> symbol (byte-unicode form) */
  GHashTable *ids;         /* symbol -> id + 1 (later duplicate wins) */
  gint32 byte_id[256];     /* byte -> symbol id */
  gint32 byte_eow_id[256]; /* byte -> symbol + "</w>" id */
  gint32 special_id[UPM_TEXT_N_ATOMIC_SPECIALS]; /* or -1 */
  UpmMergeSlot *merges;
  guint32 merge_mask;
  guint n_merges;
  gint16 byte_decoder[512]; /* code point -> byte or -1 */

  GMutex cache_lock; /* guards cache: piece -> ids */
  GHashTable *cache;
};

/* ---------------------------------------------------------- byte encoder */

/* CLIP's bytes_to_unicode (): printable Latin-1 bytes map to themselves,
 * the others to U+0100 + n in byte order.  Order of the result = order of
 * the first 256 vocabulary entries. */
static void
bytes_to_unicode (guint8 order[256], gunichar cp[256])
{
  guint n = 0, k = 0, b;
  gboolean printable[256];

  for (b = 0; b < 256; b++)
    printable[b] = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac)
                   || (b >= 0xae && b <= 0xff);
  for (b = 0; b < 256; b++)
    {
      if (printable[b])
        {
          order[k] = b;
          cp[k++] = b;
        }
    }
  for (b = 0; b < 256; b++)
    {
      if (!printable[b])
        {
          order[k] = b;
          cp[k++] = 256 + n++;
        }
    }
}

/* ------------------------------------------------------------- the table */

static guint64
merge_key (gint32 left, gint32 right)
{
  return ((guint64)(guint32)left << 32) | (guint32)right;
}

static guint32
merge_hash (guint64 key)
{
  key ^= key >> 33;
  key *= G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
  key ^= key >> 33;
  return (guint32)key;
}

/* The slot holding @key, or the empty one where it would go. */
static UpmMergeSlot *
merge_probe (const UpmBpe *bpe, guint64 key)
{
  guint32 i = merge_hash (key) & bpe->merge_mask;

  for (;; i = (i + 1) & bpe->merge_mask)
    {
      UpmMergeSlot *slot = &bpe->merges[i];
      if (slot->key == key || slot->key == UPM_MERGE_EMPTY)
        return slot;
    }
}

static const UpmMergeSlot *
merge_lookup (const UpmBpe *bpe, gint32 left, gint32 right)
{
  guint64 key = merge_key (left, right);
  const UpmMergeSlot *slot = merge_probe (bpe, key);

  return slot->key == key ? slot : NULL;
}

static gint32
symbol_id (const UpmBpe *bpe, const char *symbol)
{
  gpointer v;

  if (bpe == NULL || symbol == NULL)
    return -1;
  v = g_hash_table_lookup (bpe->ids, symbol);
  return v ? GPOINTER_TO_INT (v) - 1 : -1;
}

static gint32
symbol_id_len (const UpmBpe *bpe, const char *symbol, gsize len, GString *tmp)
{
  g_string_truncate (tmp, 0);
  g_string_append_len (tmp, symbol, len);
  return symbol_id (bpe, tmp->str);
}

static void
free_ids (gpointer p)
{
  g_array_unref (p);
}

static gboolean
add_symbols (UpmBpe *bpe, const char *const *tokens, GError **error)
{
  guint i;

  for (i = 0; i < bpe->n_tokens; i++)
    {
      if (tokens[i] == NULL || tokens[i][0] == '\0'
          || !g_utf8_validate (tokens[i], -1, NULL))
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
              "BPE vocabulary: token %u is empty or not valid UTF-8", i);
          return FALSE;
        }
      bpe->symbols[i] = g_strdup (tokens[i]);
      g_hash_table_insert (bpe->ids, bpe->symbols[i], GINT_TO_POINTER (i + 1));
    }
  return TRUE;
}

/* Every byte must have a symbol, alone and word-final. */
static gboolean
find_byte_symbols (UpmBpe *bpe, GString *tmp, GError **error)
{
  guint8 order[256];
  gunichar cp[256];
  guint i;

  bytes_to_unicode (order, cp);
  memset (bpe->byte_decoder, 0xff, sizeof (bpe->byte_decoder));
  for (i = 0; i < 256; i++)
    {
      guint8 b = order[i];
      bpe->byte_decoder[cp[i]] = b;
      g_string_truncate (tmp, 0);
      g_string_append_unichar (tmp, cp[i]);
      bpe->byte_id[b] = symbol_id (bpe, tmp->str);
      g_string_append (tmp, UPM_BPE_EOW);
      bpe->byte_eow_id[b] = symbol_id (bpe, tmp->str);
      if (bpe->byte_id[b] < 0 || bpe->byte_eow_id[b] < 0)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
              "BPE vocabulary: no symbol for byte 0x%02x (\"%s\")", b,
              tmp->str);
          return FALSE;
        }
    }
  for (i = 0; i < UPM_TEXT_N_ATOMIC_SPECIALS; i++)
    bpe->special_id[i] = symbol_id (bpe, upm_text_atomic_specials[i]);
  return TRUE;
}

/* Merge @rank, "left right", into the table. */
static gboolean
add_merge (UpmBpe *bpe, guint rank, const char *m, GString *tmp, GError **error)
{
  const char *sp;
  gint32 l, r, res;
  UpmMergeSlot *slot;

  if (m == NULL || (sp = strchr (m, ' ')) == NULL || sp == m || sp[1] == '\0'
      || strchr (sp + 1, ' ') != NULL)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "BPE vocabulary: merge %u is not \"left right\"", rank);
      return FALSE;
    }
  l = symbol_id_len (bpe, m, sp - m, tmp);
  r = symbol_id (bpe, sp + 1);
  g_string_truncate (tmp, 0);
  g_string_append_len (tmp, m, sp - m);
  g_string_append (tmp, sp + 1);
  res = symbol_id (bpe, tmp->str);
  if (l < 0 || r < 0 || res < 0)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "BPE vocabulary: merge %u (\"%s\"): %s is not a symbol", rank,
          g_utf8_validate (m, -1, NULL) ? m : "?",
          l < 0   ? "left part"
          : r < 0 ? "right part"
                  : "result");
      return FALSE;
    }
  slot = merge_probe (bpe, merge_key (l, r));
  /* a repeated merge takes its last rank, as Python's dict does */
  if (slot->key == UPM_MERGE_EMPTY)
    bpe->n_merges++;
  slot->key = merge_key (l, r);
  slot->rank = rank;
  slot->result = res;
  return TRUE;
}

static gboolean
add_merges (UpmBpe *bpe, const char *const *merges, guint n_merges,
    GString *tmp, GError **error)
{
  guint i, cap = 16;

  while (cap < 2 * (n_merges + 1))
    cap <<= 1;
  bpe->merges = g_new (UpmMergeSlot, cap);
  bpe->merge_mask = cap - 1;
  for (i = 0; i < cap; i++)
    bpe->merges[i].key = UPM_MERGE_EMPTY;
  for (i = 0; i < n_merges; i++)
    if (!add_merge (bpe, i, merges[i], tmp, error))
      return FALSE;
  return TRUE;
}

UpmBpe *
upm_bpe_new (const char *const *tokens, guint n_tokens,
    const char *const *merges, guint n_merges, GError **error)
{
  UpmBpe *bpe;
  GString *tmp;
  gboolean ok;

  if ((tokens == NULL && n_tokens > 0) || (merges == NULL && n_merges > 0))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "BPE vocabulary: NULL token or merge list");
      return NULL;
    }
  if (n_tokens > (guint)G_MAXINT32 - 1 || n_merges > G_MAXUINT32 / 4)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "BPE vocabulary: too many tokens or merges");
      return NULL;
    }

  bpe = g_new0 (UpmBpe, 1);
  g_mutex_init (&bpe->cache_lock);
  bpe->cache
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_ids);
  bpe->n_tokens = n_tokens;
  bpe->symbols = g_new0 (char *, n_tokens + 1);
  bpe->ids = g_hash_table_new (g_str_hash, g_str_equal);
  tmp = g_string_new (NULL);
  ok = add_symbols (bpe, tokens, error) && find_byte_symbols (bpe, tmp, error)
       && add_merges (bpe, merges, n_merges, tmp, error);
  g_string_free (tmp, TRUE);
  if (!ok)
    {
      upm_bpe_free (bpe);
      return NULL;
    }
  return bpe;
}

void
upm_bpe_free (UpmBpe *bpe)
{
  guint i;

  if (bpe == NULL)
    return;
  if (bpe->ids)
    g_hash_table_destroy (bpe->ids);
  for (i = 0; i < bpe->n_tokens; i++)
    g_free (bpe->symbols[i]);
  g_free (bpe->symbols);
  g_free (bpe->merges);
  g_hash_table_destroy (bpe->cache);
  g_mutex_clear (&bpe->cache_lock);
  g_free (bpe);
}

guint
upm_bpe_n_tokens (const UpmBpe *bpe)
{
  return bpe ? bpe->n_tokens : 0;
}

int32_t
upm_bpe_token_id (const UpmBpe *bpe, const char *symbol)
{
  return symbol_id (bpe, symbol);
}

/* ------------------------------------------------------------- CLIP file */

static GBytes *
gunzip (const guint8 *data, gsize len, GError **error)
{
  GZlibDecompressor *dec
      = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  GByteArray *out = g_byte_array_new ();
  gsize in_pos = 0;
  guint8 buf[65536];

  for (;;)
    {
      gsize rd = 0, wr = 0;
      GConverterResult res;
      GError *err = NULL;

      res = g_converter_convert (G_CONVERTER (dec), data + in_pos, len - in_pos,
          buf, sizeof (buf), G_CONVERTER_INPUT_AT_END, &rd, &wr, &err);
      if (res == G_CONVERTER_ERROR)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT, "bad gzip data: %s",
              err->message);
          g_error_free (err);
          goto fail;
        }
      in_pos += rd;
      g_byte_array_append (out, buf, wr);
      if (out->len > UPM_BPE_MAX_FILE)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
              "gzip data expands beyond %u bytes", UPM_BPE_MAX_FILE);
          goto fail;
        }
      if (res == G_CONVERTER_FINISHED)
        break;
      if (rd == 0 && wr == 0)
        {
          g_set_error (
              error, UPM_ERROR, UPM_ERROR_FORMAT, "truncated gzip data");
          goto fail;
        }
    }
  g_object_unref (dec);
  return g_byte_array_free_to_bytes (out);

fail:
  g_object_unref (dec);
  g_byte_array_unref (out);
  return NULL;
}

/* The file's text, NUL-terminated, gunzipped when it starts with the gzip
 * magic. */
static char *
read_vocab_text (const char *path, gsize *len, GError **error)
{
  char *raw = NULL, *text;
  gsize raw_len = 0;
  GBytes *unz;
  GError *err = NULL;

  if (!g_file_get_contents (path, &raw, &raw_len, &err))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_IO, "%s", err->message);
      g_error_free (err);
      return NULL;
    }
  if (raw_len < 2 || (guint8)raw[0] != 0x1f || (guint8)raw[1] != 0x8b)
    {
      *len = raw_len;
      return raw;
    }
  unz = gunzip ((const guint8 *)raw, raw_len, error);
  g_free (raw);
  if (unz == NULL)
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  *len = g_bytes_get_size (unz);
  text = g_malloc (*len + 1);
  memcpy (text, g_bytes_get_data (unz, NULL), *len);
  text[*len] = '\0';
  g_bytes_unref (unz);
  return text;
}

/* Line 1 is the version header, then 48,894 merges: cuts those lines out
 * of @text in place into @merges; returns how many there were. */
static guint
split_merge_lines (char *text, gsize text_len, const char **merges)
{
  char *nl = strchr (text, '\n');
  char *line = nl ? nl + 1 : text + text_len;
  guint n_merges = 0;

  while (n_merges < UPM_BPE_CLIP_N_MERGES && *line)
    {
      nl = strchr (line, '\n');
      if (nl)
        *nl = '\0';
      if (nl != NULL && nl > line && nl[-1] == '\r')
        nl[-1] = '\0';
      merges[n_merges++] = line;
      line = nl ? nl + 1 : line + strlen (line);
    }
  return n_merges;
}

/* CLIP's symbols but the specials: the 256 bytes, the same word-final,
 * then one a merge (left + right); a NULL-terminated vector. */
static char **
clip_symbols (
    const char *const *merges, guint n_merges, const char *path, GError **error)
{
  char **owned = g_new0 (char *, 512 + n_merges + 1);
  guint8 order[256];
  gunichar cp[256];
  guint i;

  bytes_to_unicode (order, cp);
  for (i = 0; i < 256; i++)
    {
      char u[8] = { 0 };
      g_unichar_to_utf8 (cp[i], u);
      owned[i] = g_strdup (u);
      owned[256 + i] = g_strconcat (u, UPM_BPE_EOW, NULL);
    }
  for (i = 0; i < n_merges; i++)
    {
      const char *sp = strchr (merges[i], ' ');
      if (sp == NULL)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
              "%s: merge line %u is not \"left right\"", path, i + 2);
          g_strfreev (owned);
          return NULL;
        }
      owned[512 + i] = g_strconcat (merges[i], NULL);
      /* drop the space: left + right */
      memmove (owned[512 + i] + (sp - merges[i]),
          owned[512 + i] + (sp - merges[i]) + 1, strlen (sp));
    }
  return owned;
}

UpmBpe *
upm_bpe_new_from_clip_file (const char *path, GError **error)
{
  char *text;
  gsize text_len = 0;
  const char **tokens = NULL, **merges = NULL;
  char **owned = NULL;
  guint i, n_tokens, n_merges = 0;
  UpmBpe *bpe = NULL;

  if (path == NULL)
    {
      g_set_error (
          error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT, "no vocabulary path");
      return NULL;
    }
  text = read_vocab_text (path, &text_len, error);
  if (text == NULL)
    return NULL;
  if (!g_utf8_validate (text, text_len, NULL))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: vocabulary is not valid UTF-8", path);
      goto out;
    }

  merges = g_new (const char *, UPM_BPE_CLIP_N_MERGES);
  n_merges = split_merge_lines (text, text_len, merges);
  if (n_merges < UPM_BPE_CLIP_N_MERGES)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: %u merges, CLIP's vocabulary has at least %u", path, n_merges,
          UPM_BPE_CLIP_N_MERGES);
      goto out;
    }
  owned = clip_symbols (merges, n_merges, path, error);
  if (owned == NULL)
    goto out;

  n_tokens = 512 + n_merges + G_N_ELEMENTS (special_tokens);
  tokens = g_new (const char *, n_tokens);
  for (i = 0; i < 512 + n_merges; i++)
    tokens[i] = owned[i];
  for (i = 0; i < G_N_ELEMENTS (special_tokens); i++)
    tokens[512 + n_merges + i] = special_tokens[i];

  bpe = upm_bpe_new (tokens, n_tokens, merges, n_merges, error);
  if (bpe == NULL)
    g_prefix_error (error, "%s: ", path);

out:
  g_strfreev (owned);
  g_free (tokens);
  g_free (merges);
  g_free (text);
  return bpe;
}

/* ---------------------------------------------------------------- encode */

/* BPE of one piece: byte symbols (last one word-final), then repeatedly
 * merge every occurrence, left to right, of the adjacent pair of lowest
 * rank. */
/* The symbol of byte @i of a piece of @n bytes: word-final for the last. */
static gint32
byte_symbol (const UpmBpe *bpe, const guint8 *bytes, gsize i, gsize n)
{
  return i + 1 < n ? bpe->byte_id[bytes[i]] : bpe->byte_eow_id[bytes[i]];
}

static void
bpe_piece (const UpmBpe *bpe, const guint8 *bytes, gsize n, GArray *out)
{
  gint32 stack_word[64] = { 0 };
  gint32 *word
      = n <= G_N_ELEMENTS (stack_word) ? stack_word : g_new (gint32, n);
  gsize len = n, i, j;

  for (i = 0; i < n; i++)
    word[i] = byte_symbol (bpe, bytes, i, n);

  while (len > 1)
    {
      guint32 best_rank = G_MAXUINT32;
      gint32 first = -1, second = -1, merged = -1;

      for (i = 0; i + 1 < len; i++)
        {
          const UpmMergeSlot *s = merge_lookup (bpe, word[i], word[i + 1]);
          if (s != NULL && s->rank < best_rank)
            {
              best_rank = s->rank;
              first = word[i];
              second = word[i + 1];
              merged = s->result;
            }
        }
      if (merged < 0)
        break;
      for (i = 0, j = 0; i < len; j++)
        {
          if (i + 1 < len && word[i] == first && word[i + 1] == second)
            {
              word[j] = merged;
              i += 2;
            }
          else
            {
              word[j] = word[i++];
            }
        }
      len = j;
    }
  g_array_append_vals (out, word, len);
  if (word != stack_word)
    g_free (word);
}

/* The same for long pieces in O(n log n): a heap of (rank, position) over a
 * linked list of symbols.  All occurrences of the lowest-ranked pair are
 * merged in position order before the pairs they create enter the heap,
 * which reproduces the loop above exactly. */
static void
heap_push (GArray *heap, guint64 v)
{
  guint64 *h;
  guint i;

  g_array_append_val (heap, v);
  h = (guint64 *)heap->data;
  for (i = heap->len - 1; i > 0 && h[(i - 1) / 2] > h[i]; i = (i - 1) / 2)
    {
      guint64 t = h[i];
      h[i] = h[(i - 1) / 2];
      h[(i - 1) / 2] = t;
    }
}

static guint64
heap_pop (GArray *heap)
{
  guint64 *h = (guint64 *)heap->data, top = h[0];
  guint i = 0, n = heap->len - 1;

  h[0] = h[n];
  g_array_set_size (heap, n);
  for (;;)
    {
      guint l = 2 * i + 1, m = i;
      guint64 t;
      if (l < n && h[l] < h[m])
        m = l;
      if (l + 1 < n && h[l + 1] < h[m])
        m = l + 1;
      if (m == i)
        break;
      t = h[i];
      h[i] = h[m];
      h[m] = t;
      i = m;
    }
  return top;
}

/* The heap entry (rank, @left) of the pair at @left, @right; FALSE when
 * that pair has no merge. */
static gboolean
pair_entry (const UpmBpe *bpe, const gint32 *sym, gint64 left, gint64 right,
    guint64 *entry)
{
  const UpmMergeSlot *m = merge_lookup (bpe, sym[left], sym[right]);

  if (m == NULL)
    return FALSE;
  *entry = ((guint64)m->rank << 32) | (guint64)left;
  return TRUE;
}

static void
bpe_piece_long (const UpmBpe *bpe, const guint8 *bytes, gsize n, GArray *out)
{
  gint32 *sym = g_new (gint32, n);
  gint64 *next = g_new (gint64, n), *prev = g_new (gint64, n);
  GArray *heap = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *pending = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 v;
  gint64 i;

  for (i = 0; i < (gint64)n; i++)
    {
      sym[i] = byte_symbol (bpe, bytes, i, n);
      next[i] = i + 1 < (gint64)n ? i + 1 : -1;
      prev[i] = i - 1;
    }
  for (i = 0; i + 1 < (gint64)n; i++)
    if (pair_entry (bpe, sym, i, i + 1, &v))
      heap_push (heap, v);

  while (heap->len > 0)
    {
      guint32 rank = (guint32)(g_array_index (heap, guint64, 0) >> 32);
      guint k;

      g_array_set_size (pending, 0);
      while (heap->len > 0
             && (guint32)(g_array_index (heap, guint64, 0) >> 32) == rank)
        {
          gint64 pos = (gint64)(heap_pop (heap) & G_MAXUINT32), nx;
          const UpmMergeSlot *m;

          if (sym[pos] < 0 || (nx = next[pos]) < 0)
            continue;
          m = merge_lookup (bpe, sym[pos], sym[nx]);
          if (m == NULL || m->rank != rank)
            continue;
          sym[pos] = m->result;
          sym[nx] = -1;
          next[pos] = next[nx];
          if (next[nx] >= 0)
            prev[next[nx]] = pos;
          if (prev[pos] >= 0 && pair_entry (bpe, sym, prev[pos], pos, &v))
            g_array_append_val (pending, v);
          if (next[pos] >= 0 && pair_entry (bpe, sym, pos, next[pos], &v))
            g_array_append_val (pending, v);
        }
      for (k = 0; k < pending->len; k++)
        heap_push (heap, g_array_index (pending, guint64, k));
    }

  for (i = 0; i >= 0; i = next[i])
    g_array_append_val (out, sym[i]);

  g_array_unref (heap);
  g_array_unref (pending);
  g_free (sym);
  g_free (next);
  g_free (prev);
}

static void
encode_piece (const UpmBpe *bpe, const char *piece, gsize n, GArray *ids)
{
  UpmBpe *mut = (UpmBpe *)bpe;
  GArray *cached;
  char *key;

  if (n > 256)
    {
      bpe_piece_long (bpe, (const guint8 *)piece, n, ids);
      return;
    }
  key = g_strndup (piece, n);
  g_mutex_lock (&mut->cache_lock);
  cached = g_hash_table_lookup (mut->cache, key);
  if (cached != NULL)
    {
      g_array_append_vals (ids, cached->data, cached->len);
      g_mutex_unlock (&mut->cache_lock);
      g_free (key);
      return;
    }
  g_mutex_unlock (&mut->cache_lock);

  cached = g_array_new (FALSE, FALSE, sizeof (gint32));
  bpe_piece (bpe, (const guint8 *)piece, n, cached);
  g_array_append_vals (ids, cached->data, cached->len);

  g_mutex_lock (&mut->cache_lock);
  if (g_hash_table_size (mut->cache) >= UPM_BPE_CACHE_MAX)
    g_hash_table_remove_all (mut->cache);
  g_hash_table_replace (mut->cache, key, cached);
  g_mutex_unlock (&mut->cache_lock);
}

gboolean
upm_bpe_encode (const UpmBpe *bpe, const char *text, gssize len, GArray *ids,
    GError **error)
{
  const char *cursor, *piece;
  char *clean;
  gsize n;
  int special;

  if (bpe == NULL || ids == NULL || (text == NULL && len != 0))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "upm_bpe_encode: NULL argument");
      return FALSE;
    }
  if (g_array_get_element_size (ids) != sizeof (int32_t))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "upm_bpe_encode: the id array must hold int32_t");
      return FALSE;
    }
  if (text == NULL)
    return TRUE;
  clean = upm_text_clean (text, len, error);
  if (clean == NULL)
    return FALSE;

  cursor = clean;
  while (upm_text_next_piece (&cursor, &piece, &n, &special))
    {
      if (special >= 0 && bpe->special_id[special] >= 0)
        g_array_append_val (ids, bpe->special_id[special]);
      else
        encode_piece (bpe, piece, n, ids);
    }
  g_free (clean);
  return TRUE;
}

/* ---------------------------------------------------------------- decode */

/* The bytes of a symbol: byte-unicode characters back to their byte, any
 * other (a special's) as its UTF-8. */
static void
append_symbol_bytes (const UpmBpe *bpe, const char *symbol, GByteArray *bytes)
{
  const char *p;

  for (p = symbol; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (c < G_N_ELEMENTS (bpe->byte_decoder) && bpe->byte_decoder[c] >= 0)
        {
          guint8 b = (guint8)bpe->byte_decoder[c];
          g_byte_array_append (bytes, &b, 1);
        }
      else
        {
          g_byte_array_append (
              bytes, (const guint8 *)p, g_utf8_next_char (p) - p);
        }
    }
}

char *
upm_bpe_decode (const UpmBpe *bpe, const int32_t *ids, gsize n_ids)
{
  GByteArray *bytes;
  GString *out;
  gsize i, j;

  if (bpe == NULL || (ids == NULL && n_ids > 0))
    return g_strdup ("");

  bytes = g_byte_array_new ();
  for (i = 0; i < n_ids; i++)
    if (ids[i] >= 0 && (guint)ids[i] < bpe->n_tokens)
      append_symbol_bytes (bpe, bpe->symbols[ids[i]], bytes);

  /* "</w>" -> " " on the bytes, then lossy UTF-8 */
  for (i = 0, j = 0; i < bytes->len;)
    {
      if (i + UPM_BPE_EOW_LEN <= bytes->len
          && memcmp (bytes->data + i, UPM_BPE_EOW, UPM_BPE_EOW_LEN) == 0)
        {
          bytes->data[j++] = ' ';
          i += UPM_BPE_EOW_LEN;
        }
      else
        {
          bytes->data[j++] = bytes->data[i++];
        }
    }
  out = g_string_sized_new (j + 1);
  upm_text_append_utf8_lossy (out, bytes->data, j);
  g_byte_array_unref (bytes);
  return upm_text_strip (g_string_free (out, FALSE));
}

void
upm_tokens_truncate (GArray *ids, guint max_len)
{
  if (ids == NULL || max_len == 0 || ids->len <= max_len)
    return;
  g_array_index (ids, int32_t, max_len - 1)
      = g_array_index (ids, int32_t, ids->len - 1);
  g_array_set_size (ids, max_len);
}
