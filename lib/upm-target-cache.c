/* upm-target-cache.c: target text features cached on disk (see the
 * header).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * File: a header (magic, counts, the weights' hash, the key, the SHA-256
 * of the data) and n x D native floats.  Everything in the header is
 * checked and the data's checksum too, so a truncated, foreign or damaged
 * file is recomputed, never used.
 */
#include "upm-target-cache.h"

#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>

#define UPM_TARGET_MAGIC "UPMTGT01"

typedef struct
{
  char magic[8];
  uint32_t n_labels;
  uint32_t n_embd;
  uint32_t attr;
  uint32_t reserved;
  char weights_sha256[64];
  char key[64];
  char data_sha256[64];
} UpmTargetHeader;

static gboolean
has_weights_hash (const UpmModel *model)
{
  return model->weights_sha256 && strlen (model->weights_sha256) == 64;
}

/* SHA-256 (hex) of the attribute row and each label's token ids. */
static char *
target_key (UpmAttr attr, GPtrArray *ids)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  const uint32_t head[2] = { (uint32_t)attr, ids->len };
  char *key;

  g_checksum_update (sum, (const guchar *)UPM_TARGET_MAGIC, 8);
  g_checksum_update (sum, (const guchar *)head, sizeof head);
  for (guint i = 0; i < ids->len; i++)
    {
      GArray *a = g_ptr_array_index (ids, i);
      const uint32_t len = a->len;
      g_checksum_update (sum, (const guchar *)&len, sizeof len);
      g_checksum_update (
          sum, (const guchar *)a->data, a->len * sizeof (int32_t));
    }
  key = g_strdup (g_checksum_get_string (sum));
  g_checksum_free (sum);
  return key;
}

static char *
data_checksum (const float *features, gsize bytes)
{
  return g_compute_checksum_for_data (
      G_CHECKSUM_SHA256, (const guchar *)features, bytes);
}

static char *
path_for_key (const UpmModel *model, const char *key)
{
  char *name
      = g_strdup_printf ("%s-targets-%s.bin", model->weights_sha256, key);
  char *path
      = g_build_filename (g_get_user_cache_dir (), "uniperceiver", name, NULL);

  g_free (name);
  return path;
}

char *
upm_target_cache_path (const UpmModel *model, UpmAttr attr, GPtrArray *ids)
{
  char *key, *path;

  if (!has_weights_hash (model))
    return NULL;
  key = target_key (attr, ids);
  path = path_for_key (model, key);
  g_free (key);
  return path;
}

static gboolean
header_matches (const UpmTargetHeader *h, const UpmModel *model, UpmAttr attr,
    guint n, const char *key)
{
  return memcmp (h->magic, UPM_TARGET_MAGIC, 8) == 0 && h->n_labels == n
         && h->n_embd == model->hp.n_embd && h->attr == (uint32_t)attr
         && memcmp (h->weights_sha256, model->weights_sha256, 64) == 0
         && memcmp (h->key, key, 64) == 0;
}

gboolean
upm_target_cache_load (
    const UpmModel *model, UpmAttr attr, GPtrArray *ids, float *features)
{
  const gsize bytes = (gsize)ids->len * model->hp.n_embd * sizeof (float);
  gboolean ok = FALSE;
  char *key, *path, *data = NULL, *sum = NULL;
  gsize len = 0;
  UpmTargetHeader h;

  if (!has_weights_hash (model))
    return FALSE;
  key = target_key (attr, ids);
  path = path_for_key (model, key);
  if (g_file_get_contents (path, &data, &len, NULL) && len == sizeof h + bytes)
    {
      memcpy (&h, data, sizeof h);
      sum = data_checksum ((const float *)(data + sizeof h), bytes);
      ok = header_matches (&h, model, attr, ids->len, key)
           && memcmp (h.data_sha256, sum, 64) == 0;
    }
  if (ok)
    memcpy (features, data + sizeof h, bytes);
  g_free (sum);
  g_free (data);
  g_free (path);
  g_free (key);
  return ok;
}

static gboolean
write_file (const char *tmp, const UpmTargetHeader *h, const float *features,
    gsize bytes)
{
  FILE *f = fopen (tmp, "wb");
  gboolean ok;

  if (!f)
    return FALSE;
  ok = fwrite (h, sizeof *h, 1, f) == 1
       && fwrite (features, 1, bytes, f) == bytes;
  return fclose (f) == 0 && ok;
}

void
upm_target_cache_save (
    const UpmModel *model, UpmAttr attr, GPtrArray *ids, const float *features)
{
  const gsize bytes = (gsize)ids->len * model->hp.n_embd * sizeof (float);
  UpmTargetHeader h = { 0 };
  char *key, *path, *dir, *tmp, *sum;

  if (!has_weights_hash (model))
    return;
  key = target_key (attr, ids);
  path = path_for_key (model, key);
  dir = g_path_get_dirname (path);
  tmp = g_strdup_printf ("%s.%u.tmp", path, (guint)g_random_int ());
  sum = data_checksum (features, bytes);
  memcpy (h.magic, UPM_TARGET_MAGIC, 8);
  h.n_labels = ids->len;
  h.n_embd = model->hp.n_embd;
  h.attr = (uint32_t)attr;
  memcpy (h.weights_sha256, model->weights_sha256, 64);
  memcpy (h.key, key, 64);
  memcpy (h.data_sha256, sum, 64);
  g_mkdir_with_parents (dir, 0755);
  /* readers see the old file or the whole new one, never a part */
  if (!write_file (tmp, &h, features, bytes) || g_rename (tmp, path) != 0)
    g_unlink (tmp);
  g_free (sum);
  g_free (tmp);
  g_free (dir);
  g_free (path);
  g_free (key);
}
