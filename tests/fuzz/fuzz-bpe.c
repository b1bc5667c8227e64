/* fuzz-bpe.c: the CLIP tokenizer on arbitrary bytes and arbitrary ids.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static UpmBpe *
clip_bpe (void)
{
  static UpmBpe *bpe;
  if (!bpe)
    {
      const char *path = g_getenv ("UPM_CLIP_VOCAB");
      GError *error = NULL;
      bpe = upm_bpe_new_from_clip_file (
          path ? path : "data/clip-bpe/bpe_simple_vocab_16e6.txt.gz", &error);
      if (!bpe)
        {
          g_printerr ("fuzz-bpe: %s (set UPM_CLIP_VOCAB)\n", error->message);
          abort ();
        }
    }
  return bpe;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  UpmBpe *bpe = clip_bpe ();
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  GError *error = NULL;

  if (upm_bpe_encode (bpe, (const char *)data, (gssize)size, ids, &error))
    {
      char *text = upm_bpe_decode (bpe, (const int32_t *)ids->data, ids->len);
      if (!g_utf8_validate (text, -1, NULL))
        abort ();
      g_free (text);
      upm_tokens_truncate (ids, 1 + size % 40);
    }
  g_clear_error (&error);
  /* The same bytes as token ids, including out-of-range ones. */
  char *text = upm_bpe_decode (bpe, (const int32_t *)data, size / 4);
  if (!g_utf8_validate (text, -1, NULL))
    abort ();
  g_free (text);
  g_array_free (ids, TRUE);
  return 0;
}
