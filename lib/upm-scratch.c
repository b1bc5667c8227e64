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

static void
scratch_free (gpointer data)
{
  upm_scratch_clear (data);
  g_free (data);
}

UpmScratchPool *
upm_scratch_pool_new (void)
{
  return g_ptr_array_new_with_free_func (scratch_free);
}

UpmScratch *
upm_scratch_pool_take (UpmScratchPool *pool)
{
  if (pool->len == 0)
    return g_new0 (UpmScratch, 1);
  return g_ptr_array_steal_index_fast (pool, pool->len - 1);
}

void
upm_scratch_pool_give (UpmScratchPool *pool, UpmScratch *scratch)
{
  g_ptr_array_add (pool, scratch);
}

void
upm_scratch_pool_free (UpmScratchPool *pool)
{
  g_ptr_array_unref (pool);
}
