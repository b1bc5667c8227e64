/* upm-heads.c: the similarity heads of Uni-Perceiver-MoE (model-spec §1):
 * target texts and their features (label sets, cached per model), the
 * classification logits and top-k, and the features of the whole
 * vocabulary for captioning (cached per model, on disk, and as IEEE halves
 * on request). Its caches live in the model's UPM_MODEL_CACHE_HEADS slot.
 *
 * Uses: the encoder (upm-encoder.h) on a context of its own, the
 * tokenizer, the model and its cache slots, the kernels (upm-ops.h).
 * Nothing above (the caption decoder calls in).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-heads.h"

#include "upm-encoder.h"
#include "upm-target-cache.h"
#include "upm-weights.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* The state of this module in the model's UPM_MODEL_CACHE_HEADS slot. */
typedef struct
{
  GHashTable *text_features; /* "attr\x1fmax_length\x1ftext" -> float[D] */
  GMutex vocab_lock;         /* serialises the one-time vocab encoding */
  const float *vocab;        /* V x D, NULL until computed or loaded */
  float *vocab_owned;
  uint16_t *vocab16;     /* IEEE half copy (opt-in compact decoding) */
  UpmQ8Matrix *vocab_q8; /* int8 copy (INT8 contexts) */
  /* packed for int8 x int8 scoring (owns its buffer and scales; from
   * vocab_q8 or a temporary copy) */
  UpmQ8Packed vocab_wp;
  GMappedFile *vocab_mapped;
} UpmHeadsCache;

static void
heads_cache_free (gpointer data)
{
  UpmHeadsCache *cache = data;

  g_hash_table_destroy (cache->text_features);
  g_mutex_clear (&cache->vocab_lock);
  g_free (cache->vocab_owned);
  g_free (cache->vocab16);
  upm_q8_free (cache->vocab_q8);
  g_free ((gpointer)cache->vocab_wp.w);
  if (cache->vocab_mapped)
    g_mapped_file_unref (cache->vocab_mapped);
  g_free (cache);
}

static gpointer
heads_cache_new (UpmModel *model)
{
  UpmHeadsCache *c = g_new0 (UpmHeadsCache, 1);

  (void)model;
  c->text_features
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_mutex_init (&c->vocab_lock);
  return c;
}

static UpmHeadsCache *
heads_cache (UpmModel *model)
{
  UpmHeadsCache *c;

  g_mutex_lock (&model->lock);
  c = upm_model_cache_locked (
      model, UPM_MODEL_CACHE_HEADS, heads_cache_new, heads_cache_free);
  g_mutex_unlock (&model->lock);
  return c;
}

/* ------------------------------------------------------------ text heads */

GArray *
upm_tokenize_target (
    const UpmModel *model, const char *text, guint max_len, GError **error)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  int32_t eot = (int32_t)model->hp.eot_id;

  if (!upm_bpe_encode (model->bpe, text, -1, ids, error))
    {
      g_array_free (ids, TRUE);
      return NULL;
    }
  /* "<text> <|endoftext|>": the special token is atomic, so appending its
   * id equals tokenising the concatenated string. */
  g_array_append_val (ids, eot);
  if (max_len)
    upm_tokens_truncate (ids, max_len);
  return ids;
}

/* The features of a text depend on its truncation too: the same text at
 * 30 and at 77 tokens are two entries (equal when it is short). */
static char *
text_key (UpmAttr attr, uint32_t max_length, const char *text)
{
  return g_strdup_printf ("%d\x1f%u\x1f%s", (int)attr, max_length, text);
}

/* ---------------------------------------------- label sets cached on disk */

/* The target token ids of every label (GArray of int32_t each). */
static GPtrArray *
tokenize_all (UpmModel *model, const char *const *labels, guint n_labels,
    uint32_t max_length, GError **error)
{
  GPtrArray *all
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);

  for (guint i = 0; i < n_labels; i++)
    {
      GArray *ids = upm_tokenize_target (model, labels[i], max_length, error);
      if (!ids)
        {
          g_prefix_error (error, "label %u: ", i + 1);
          g_ptr_array_free (all, TRUE);
          return NULL;
        }
      g_ptr_array_add (all, ids);
    }
  return all;
}

/* A large label set whose features are not all in memory: its token ids
 * for the disk cache (upm-target-cache.c, keyed on the ids, so on the
 * truncation too), NULL for small sets, models without a weights hash, or
 * on a tokeniser error (then the label is tokenised again by the plain
 * path, which reports it). */
static GPtrArray *
disk_cache_ids (UpmModel *model, const char *const *labels, guint n_labels,
    uint32_t max_length)
{
  if (n_labels < UPM_TARGET_CACHE_MIN_LABELS || !model->weights_sha256)
    return NULL;
  return tokenize_all (model, labels, n_labels, max_length, NULL);
}

/* Features found on disk for the whole set: into @features, and the
 * missing ones (@todo_index) into the memory cache. */
static gboolean
text_features_from_disk (UpmModel *model, UpmHeadsCache *c, GPtrArray *all_ids,
    const char *const *labels, UpmAttr attr, uint32_t max_length,
    GArray *todo_index, float *features)
{
  const uint32_t d = model->hp.n_embd;

  if (!upm_target_cache_load (model, attr, all_ids, features))
    return FALSE;
  g_mutex_lock (&model->lock);
  for (guint k = 0; k < todo_index->len; k++)
    {
      const guint i = g_array_index (todo_index, guint, k);
      g_hash_table_replace (c->text_features,
          text_key (attr, max_length, labels[i]),
          g_memdup2 (features + (size_t)i * d, d * sizeof (float)));
    }
  g_mutex_unlock (&model->lock);
  return TRUE;
}

/* The truncation of target texts: @max_length, 0 for the model's; FALSE
 * when the model has fewer text positions. */
static gboolean
text_length (const UpmModel *model, uint32_t *max_length, GError **error)
{
  if (*max_length == 0)
    *max_length = model->hp.text_max_length;
  if (*max_length > model->hp.n_text_ctx)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "texts of up to %u tokens asked for; model %s has %u text "
          "positions",
          *max_length, upm_model_name (model), model->hp.n_text_ctx);
      return FALSE;
    }
  return TRUE;
}

gboolean
upm_model_text_features (UpmModel *model, const char *const *labels,
    guint n_labels, UpmAttr attr, float *features, GError **error)
{
  return upm_model_text_features_len (
      model, labels, n_labels, attr, 0, features, error);
}

gboolean
upm_model_text_features_len (UpmModel *model, const char *const *labels,
    guint n_labels, UpmAttr attr, uint32_t max_length, float *features,
    GError **error)
{
  const uint32_t d = model->hp.n_embd;
  UpmHeadsCache *c = heads_cache (model);
  GPtrArray *todo_ids
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  GArray *todo_index = g_array_new (FALSE, FALSE, sizeof (guint));
  GPtrArray *disk_ids = NULL;
  gboolean ok = text_length (model, &max_length, error);

  if (ok && (guint)attr >= UPM_N_ATTRS)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "invalid attribute row %d", attr);
      ok = FALSE;
    }
  for (guint i = 0; ok && i < n_labels; i++)
    {
      char *key = text_key (attr, max_length, labels[i]);
      const float *hit;
      g_mutex_lock (&model->lock);
      hit = g_hash_table_lookup (c->text_features, key);
      if (hit)
        memcpy (features + (size_t)i * d, hit, d * sizeof (float));
      g_mutex_unlock (&model->lock);
      g_free (key);
      if (hit)
        continue;
      GArray *ids = upm_tokenize_target (model, labels[i], max_length, error);
      if (!ids)
        {
          g_prefix_error (error, "label %u: ", i + 1);
          ok = FALSE;
          break;
        }
      g_ptr_array_add (todo_ids, ids);
      g_array_append_val (todo_index, i);
    }
  if (ok && todo_ids->len > 0
      && (disk_ids = disk_cache_ids (model, labels, n_labels, max_length))
             != NULL
      && text_features_from_disk (
          model, c, disk_ids, labels, attr, max_length, todo_index, features))
    g_ptr_array_set_size (todo_ids, 0);
  if (ok && todo_ids->len > 0)
    {
      const guint n = todo_ids->len;
      const int32_t **ids = g_new (const int32_t *, n);
      uint32_t *lens = g_new (uint32_t, n);
      float *feat = g_new (float, (size_t)n *d);
      UpmContext *ctx = upm_context_new (model);

      for (guint k = 0; k < n; k++)
        {
          GArray *a = g_ptr_array_index (todo_ids, k);
          ids[k] = (const int32_t *)a->data;
          lens[k] = a->len;
        }
      ok = upm_encode_texts (ctx, ids, lens, n, attr, feat, error);
      for (guint k = 0; ok && k < n; k++)
        {
          const guint i = g_array_index (todo_index, guint, k);
          memcpy (features + (size_t)i * d, feat + (size_t)k * d,
              d * sizeof (float));
          g_mutex_lock (&model->lock);
          g_hash_table_replace (c->text_features,
              text_key (attr, max_length, labels[i]),
              g_memdup2 (feat + (size_t)k * d, d * sizeof (float)));
          g_mutex_unlock (&model->lock);
        }
      upm_context_free (ctx);
      g_free (ids);
      g_free (lens);
      g_free (feat);
      if (ok && disk_ids)
        upm_target_cache_save (model, attr, disk_ids, features);
    }
  if (disk_ids)
    g_ptr_array_free (disk_ids, TRUE);
  g_ptr_array_free (todo_ids, TRUE);
  g_array_free (todo_index, TRUE);
  return ok;
}

void
upm_classify (const UpmHParams *hp, const float *feature,
    const float *label_features, uint32_t n_labels, float scale, float *logits,
    float *probs)
{
  const uint32_t d = hp->n_embd;

  if (n_labels == 0)
    return;
  upm_matmul_rows (
      feature, 1, d, label_features, NULL, n_labels, scale, logits);
  if (probs)
    {
      memcpy (probs, logits, n_labels * sizeof (float));
      upm_softmax (probs, n_labels);
    }
}

/* The official fc_prompt_process (uniperceiver/modeling/meta_arch/
 * unified_transformer.py): logits = similarity_weight * logits +
 * fc_prompt(feat), feat the predictor's projected <SPE> feature before its
 * L2 normalisation (predictor/embed_cls_predictor.py "feats"). */
gboolean
upm_classify_prompt (const UpmModel *model, const float *hidden,
    const float *label_features, uint32_t n_labels, float scale, float *logits,
    float *probs, GError **error)
{
  const UpmPromptWeights *p = &model->prompt;
  const uint32_t d = model->hp.n_embd;
  float *y, *f;

  if (!p->cls_w || n_labels != p->n_classes)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "%s: the model's prompt classification head has %u classes, not "
          "%u labels",
          model->path, p->cls_w ? p->n_classes : 0, n_labels);
      return FALSE;
    }
  y = g_new (float, 2 * (size_t)d);
  f = y + d;
  upm_layer_norm (hidden, 1, d, model->post_norm_w, model->post_norm_b,
      model->hp.norm_eps, f);
  upm_linear (f, 1, d, model->proj_w, model->proj_b, d, y);
  memcpy (f, y, d * sizeof (float));
  upm_l2_normalize (f, d);
  upm_classify (&model->hp, f, label_features, n_labels, scale, logits, NULL);
  for (uint32_t i = 0; i < n_labels; i++)
    {
      const float *w = p->cls_w + (size_t)i * d;
      double dot = p->cls_b[i];
      for (uint32_t j = 0; j < d; j++)
        dot += (double)w[j] * y[j];
      logits[i] = p->similarity_weight * logits[i] + (float)dot;
    }
  if (probs)
    {
      memcpy (probs, logits, n_labels * sizeof (float));
      upm_softmax (probs, n_labels);
    }
  g_free (y);
  return TRUE;
}

void
upm_top_k (const float *logits, const float *probs, uint32_t n, uint32_t k,
    UpmScore *out)
{
  k = MIN (k, n);
  for (uint32_t r = 0; r < k; r++)
    {
      int64_t best = -1;
      for (uint32_t i = 0; i < n; i++)
        {
          gboolean taken = FALSE;
          for (uint32_t j = 0; j < r && !taken; j++)
            taken = out[j].index == i;
          if (!taken && (best < 0 || logits[i] > logits[best]))
            best = i;
        }
      out[r].index = (uint32_t)best;
      out[r].logit = logits[best];
      out[r].prob = probs ? probs[best] : 0.0f;
    }
}

/* ----------------------------------------------------- vocabulary features */

/* The cache file: this header, then V x D floats. Version 02 added the
 * checksum, so that a file damaged after it was written (a disk error, a
 * copy cut short, someone's edit) is rebuilt instead of trusted: a wrong
 * feature would only show as worse captions. Files of version 01 are not
 * read and are replaced on the next build. */
#define UPM_VOCAB_MAGIC "UPMVOC02"

typedef struct
{
  char magic[8];
  uint32_t n_vocab;
  uint32_t n_embd;
  char sha256[64];
  uint64_t checksum; /* vocab_checksum() of the features */
} UpmVocabHeader;

/* A fast 64-bit checksum of the features (FNV-1a over 64-bit words, then a
 * final mix): about 20 ms for Base's 152 MB, against minutes to rebuild. */
static uint64_t
vocab_checksum (const float *feat, size_t n_floats)
{
  const unsigned char *bytes = (const unsigned char *)feat;
  const size_t n_bytes = n_floats * sizeof (float);
  uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)n_bytes;
  size_t i = 0;

  for (; i + 8 <= n_bytes; i += 8)
    {
      uint64_t w;
      memcpy (&w, bytes + i, 8);
      h = (h ^ w) * 0x100000001b3ull;
    }
  for (; i < n_bytes; i++)
    h = (h ^ bytes[i]) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

static char *
vocab_cache_path (const UpmModel *model)
{
  char *name;
  char *path;

  if (!model->weights_sha256 || strlen (model->weights_sha256) != 64)
    return NULL;
  name = g_strdup_printf ("%s-vocab-f32.bin", model->weights_sha256);
  path = g_build_filename (g_get_user_cache_dir (), "uniperceiver", name, NULL);
  g_free (name);
  return path;
}

/* Maps the cache at @path when its size, header and checksum all fit the
 * model; anything else (missing, truncated, another model's, corrupted)
 * returns FALSE and the features are rebuilt. */
static gboolean
vocab_load_cache (UpmModel *model, UpmHeadsCache *c, const char *path)
{
  const size_t d = model->hp.n_embd, v = model->hp.n_vocab;
  GMappedFile *mf = g_mapped_file_new (path, FALSE, NULL);
  const UpmVocabHeader *h;

  if (!mf)
    return FALSE;
  h = (const UpmVocabHeader *)g_mapped_file_get_contents (mf);
  if (g_mapped_file_get_length (mf) != sizeof *h + v * d * sizeof (float)
      || memcmp (h->magic, UPM_VOCAB_MAGIC, 8) != 0 || h->n_vocab != v
      || h->n_embd != d || memcmp (h->sha256, model->weights_sha256, 64)
      || h->checksum != vocab_checksum ((const float *)(h + 1), v * d))
    {
      g_mapped_file_unref (mf);
      return FALSE;
    }
  c->vocab_mapped = mf;
  c->vocab = (const float *)(h + 1);
  return TRUE;
}

/* Temporary files "<cache>.<pid>.tmp" left by a process that was killed
 * while writing: removed when that process is gone (each is as large as
 * the cache). */
static void
vocab_remove_stale_temps (const char *path)
{
  char *dir = g_path_get_dirname (path);
  char *base = g_path_get_basename (path);
  char *prefix = g_strconcat (base, ".", NULL);
  GDir *gd = g_dir_open (dir, 0, NULL);
  const char *name;

  while (gd && (name = g_dir_read_name (gd)))
    {
      char *end = NULL;
      guint64 pid;

      if (!g_str_has_prefix (name, prefix) || !g_str_has_suffix (name, ".tmp"))
        continue;
      pid = g_ascii_strtoull (name + strlen (prefix), &end, 10);
      if (end && strcmp (end, ".tmp") == 0 && pid > 0 && pid < G_MAXINT
          && kill ((pid_t)pid, 0) != 0 && errno == ESRCH)
        {
          char *stale = g_build_filename (dir, name, NULL);
          g_unlink (stale);
          g_free (stale);
        }
    }
  if (gd)
    g_dir_close (gd);
  g_free (prefix);
  g_free (base);
  g_free (dir);
}

/* Best effort: a cache that cannot be written only costs time later.
 * Written to a temporary file in the same directory, flushed to disk and
 * renamed over the cache, so that an interrupt or a crash at any point
 * leaves either no cache or a complete one, never a partial file under
 * the cache's name. */
static void
vocab_save_cache (const UpmModel *model, const float *feat, const char *path)
{
  const size_t n = (size_t)model->hp.n_vocab * model->hp.n_embd;
  const size_t bytes = n * sizeof (float);
  UpmVocabHeader h = { 0 };
  char *dir = g_path_get_dirname (path);
  char *tmp = g_strdup_printf ("%s.%d.tmp", path, (int)getpid ());
  gboolean ok;
  FILE *f;

  memcpy (h.magic, UPM_VOCAB_MAGIC, 8);
  h.n_vocab = model->hp.n_vocab;
  h.n_embd = model->hp.n_embd;
  memcpy (h.sha256, model->weights_sha256, 64);
  h.checksum = vocab_checksum (feat, n);
  g_mkdir_with_parents (dir, 0755);
  vocab_remove_stale_temps (path);
  f = fopen (tmp, "wb");
  ok = f && fwrite (&h, sizeof h, 1, f) == 1
       && fwrite (feat, 1, bytes, f) == bytes && fflush (f) == 0
       && fsync (fileno (f)) == 0;
  if (f && fclose (f) != 0)
    ok = FALSE;
  if (!ok || g_rename (tmp, path) != 0)
    g_unlink (tmp);
  g_free (tmp);
  g_free (dir);
}

static float *
vocab_compute (
    UpmModel *model, UpmProgressFunc progress, gpointer ud, GError **error)
{
  const uint32_t v = model->hp.n_vocab, d = model->hp.n_embd;
  int32_t *pairs = g_new (int32_t, (size_t)v * 2);
  const int32_t **ids = g_new (const int32_t *, v);
  uint32_t *lens = g_new (uint32_t, v);
  float *feat = g_try_new (float, (size_t)v *d);
  UpmContext *ctx = upm_context_new (model);
  gboolean ok = feat != NULL;

  /* The features go to an on-disk cache that every precision reads: the
   * float ones. */
  upm_context_set_precision (ctx, UPM_PRECISION_FP32);

  /* Entry v is the text [v, <|endoftext|>] with the vocab_target row. */
  for (uint32_t i = 0; i < v; i++)
    {
      pairs[2 * i] = (int32_t)i;
      pairs[2 * i + 1] = (int32_t)model->hp.eot_id;
      ids[i] = pairs + 2 * i;
      lens[i] = 2;
    }
  if (!ok)
    g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
        "out of memory for the vocabulary features");
  else
    ok = upm_encode_texts_progress (ctx, ids, lens, v, UPM_ATTR_VOCAB_TARGET,
        feat, progress, ud, "vocabulary features", error);
  upm_context_free (ctx);
  g_free (pairs);
  g_free (ids);
  g_free (lens);
  if (!ok)
    {
      g_free (feat);
      return NULL;
    }
  return feat;
}

const float *
upm_model_vocab_features (UpmModel *model, UpmProgressFunc progress,
    gpointer user_data, GError **error)
{
  UpmHeadsCache *c = heads_cache (model);
  const float *result = NULL;

  g_mutex_lock (&c->vocab_lock);
  if (!c->vocab && model->vocab_features)
    {
      const UpmTensor *t = model->vocab_features;
      if (t->type == UPM_DTYPE_F32)
        {
          c->vocab = t->data;
        }
      else
        {
          const size_t n = (size_t)model->hp.n_vocab * model->hp.n_embd;
          const uint16_t *src = t->data;
          c->vocab_owned = g_new (float, n);
          for (size_t i = 0; i < n; i++)
            c->vocab_owned[i] = upm_f16_to_f32 (src[i]);
          c->vocab = c->vocab_owned;
        }
    }
  if (!c->vocab)
    {
      char *path = vocab_cache_path (model);
      if (!path || !vocab_load_cache (model, c, path))
        {
          c->vocab_owned = vocab_compute (model, progress, user_data, error);
          c->vocab = c->vocab_owned;
          if (c->vocab && path)
            vocab_save_cache (model, c->vocab, path);
        }
      g_free (path);
    }
  result = c->vocab;
  g_mutex_unlock (&c->vocab_lock);
  return result;
}

gboolean
upm_engine_vocab_f16_enabled (void)
{
  static gsize once = 0;
  static gboolean on = FALSE;

  if (g_once_init_enter (&once))
    {
      const char *e = g_getenv ("UPM_VOCAB_F16");
      on = e && *e && strcmp (e, "0") != 0;
      g_once_init_leave (&once, 1);
    }
  return on;
}

const uint16_t *
upm_engine_vocab_f16 (UpmModel *model, GError **error)
{
  const float *v = upm_model_vocab_features (model, NULL, NULL, error);
  UpmHeadsCache *c = heads_cache (model);
  const uint16_t *result;

  if (!v)
    return NULL;
  g_mutex_lock (&c->vocab_lock);
  if (!c->vocab16)
    {
      const size_t n = (size_t)model->hp.n_vocab * model->hp.n_embd;
      c->vocab16 = g_try_new (uint16_t, n);
      if (c->vocab16)
        {
          upm_f32_to_f16_row (v, c->vocab16, n);
          /* Only the plain path reads the float copy again (from the page
           * cache when it was mapped from disk). */
          if (c->vocab_mapped)
            upm_release_mapped (v, n * sizeof (float));
        }
    }
  result = c->vocab16;
  g_mutex_unlock (&c->vocab_lock);
  if (!result)
    g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
        "out of memory for the half-precision vocabulary features");
  return result;
}

/* Once an int8 copy is made, the float features are read again only by
 * the other precisions and the plain path: when they are mapped (the
 * model file or the cache file), drop their pages from the resident set
 * (the page cache keeps them). Call with c->vocab_lock held. */
static void
vocab_release_float (const UpmModel *model, const UpmHeadsCache *c)
{
  if (c->vocab != c->vocab_owned)
    upm_release_mapped (c->vocab,
        (size_t)model->hp.n_vocab * model->hp.n_embd * sizeof (float));
}

const UpmQ8Matrix *
upm_engine_vocab_q8 (UpmModel *model, GError **error)
{
  const float *v = upm_model_vocab_features (model, NULL, NULL, error);
  UpmHeadsCache *c = heads_cache (model);
  const UpmQ8Matrix *result;

  if (!v)
    return NULL;
  g_mutex_lock (&c->vocab_lock);
  if (!c->vocab_q8)
    {
      c->vocab_q8 = upm_q8_quantize (v, model->hp.n_vocab, model->hp.n_embd);
      if (c->vocab_q8)
        vocab_release_float (model, c);
    }
  result = c->vocab_q8;
  g_mutex_unlock (&c->vocab_lock);
  if (!result)
    g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
        "out of memory for the int8 vocabulary features");
  return result;
}

const UpmQ8Packed *
upm_engine_vocab_q8_packed (UpmModel *model, GError **error)
{
  const float *v = upm_model_vocab_features (model, NULL, NULL, error);
  UpmHeadsCache *c = heads_cache (model);
  const UpmQ8Packed *result = NULL;

  if (!v)
    return NULL;
  g_mutex_lock (&c->vocab_lock);
  if (!c->vocab_wp.w)
    {
      /* Packed from the int8 copy when upm_engine_vocab_q8 made one, else
       * quantised and packed a block of words at a time (the same bytes):
       * neither the whole float features (when mapped) nor a whole
       * unpacked copy are resident at once. */
      gboolean ok;
      if (c->vocab_q8)
        ok = upm_q8_pack_owned (c->vocab_q8, &c->vocab_wp);
      else
        ok = upm_q8_pack_float (v, model->hp.n_vocab, model->hp.n_embd,
            c->vocab != c->vocab_owned, &c->vocab_wp);
      if (ok)
        vocab_release_float (model, c);
    }
  if (c->vocab_wp.w)
    result = &c->vocab_wp;
  g_mutex_unlock (&c->vocab_lock);
  if (!result)
    g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
        "out of memory for the packed int8 vocabulary features");
  return result;
}

void
upm_engine_vocab_memory (UpmModel *model, size_t *q8, size_t *q8_packed)
{
  UpmHeadsCache *c = heads_cache (model);

  g_mutex_lock (&c->vocab_lock);
  *q8 = c->vocab_q8 ? upm_q8_size (c->vocab_q8->n_out, c->vocab_q8->n_in) : 0;
  *q8_packed = c->vocab_wp.w ? upm_q8_packed_owned_size (
                   c->vocab_wp.n_out, c->vocab_wp.n_in)
                             : 0;
  g_mutex_unlock (&c->vocab_lock);
}

char *
upm_engine_vocab_cache_path (const UpmModel *model)
{
  return vocab_cache_path (model);
}
