/* upm-scratch.c: UpmScratch, the growable float buffers of a context, one
 * per slot (each module uses its own slots, see upm-scratch.h).
 *
 * Uses: GLib only.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-scratch.h"

float *
upm_scratch_get (
    UpmScratch *scratch, UpmBufSlot slot, size_t n_floats, GError **error)
{
  if (n_floats <= scratch->caps[slot])
    return scratch->bufs[slot];
  if (n_floats > G_MAXSIZE / sizeof (float) / 2)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
          "refusing to allocate %" G_GSIZE_FORMAT " floats", n_floats);
      return NULL;
    }
  /* Grow geometrically: sequences of varying length reuse one buffer. */
  size_t cap = MAX (n_floats, scratch->caps[slot] + scratch->caps[slot] / 2);
  g_free (scratch->bufs[slot]);
  scratch->caps[slot] = 0;
  scratch->bufs[slot] = g_try_malloc (cap * sizeof (float));
  if (!scratch->bufs[slot])
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
          "out of memory allocating %" G_GSIZE_FORMAT " bytes",
          cap * sizeof (float));
      return NULL;
    }
  scratch->caps[slot] = cap;
  return scratch->bufs[slot];
}

void
upm_scratch_clear (UpmScratch *scratch)
{
  for (int i = 0; i < UPM_N_BUFS; i++)
    {
      g_free (scratch->bufs[i]);
      scratch->bufs[i] = NULL;
      scratch->caps[i] = 0;
    }
}
