/* upm-bpe.c: CLIP byte-level BPE tokenizer (temporary stub, being written).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-private.h"

struct _UpmBpe
{
  guint n_tokens;
};

UpmBpe *
upm_bpe_new (const char *const *tokens, guint n_tokens,
    const char *const *merges, guint n_merges, GError ** error)
{
  (void) tokens;
  (void) n_tokens;
  (void) merges;
  (void) n_merges;
  g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
      "BPE tokenizer not implemented yet");
  return NULL;
}

UpmBpe *
upm_bpe_new_from_clip_file (const char *path, GError ** error)
{
  (void) path;
  g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
      "BPE tokenizer not implemented yet");
  return NULL;
}

void
upm_bpe_free (UpmBpe * bpe)
{
  g_free (bpe);
}

guint
upm_bpe_n_tokens (const UpmBpe * bpe)
{
  return bpe ? bpe->n_tokens : 0;
}

int32_t
upm_bpe_token_id (const UpmBpe * bpe, const char *symbol)
{
  (void) bpe;
  (void) symbol;
  return -1;
}

gboolean
upm_bpe_encode (const UpmBpe * bpe, const char *text, gssize len,
    GArray * ids, GError ** error)
{
  (void) bpe;
  (void) text;
  (void) len;
  (void) ids;
  g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
      "BPE tokenizer not implemented yet");
  return FALSE;
}

char *
upm_bpe_decode (const UpmBpe * bpe, const int32_t * ids, gsize n_ids)
{
  (void) bpe;
  (void) ids;
  (void) n_ids;
  return g_strdup ("");
}

void
upm_tokens_truncate (GArray * ids, guint max_len)
{
  if (ids == NULL || max_len == 0 || ids->len <= max_len)
    return;
  g_array_index (ids, int32_t, max_len - 1) =
      g_array_index (ids, int32_t, ids->len - 1);
  g_array_set_size (ids, max_len);
}
