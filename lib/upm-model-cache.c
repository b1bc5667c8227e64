/* upm-model-cache.c: the per-model state built lazily by the modules above
 * the model (merged experts, feature caches), one slot per owner, freed
 * with the model by the destroy notify its owner registered; and the
 * release of mapped weight pages once such a cache holds a copy.
 *
 * Uses: upm-model.h only (no symbol of the modules that own the slots).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-model.h"

#include <sys/mman.h>
#include <unistd.h>

gpointer
upm_model_cache_locked (UpmModel *model, UpmModelCacheSlot slot,
    UpmModelCacheNew create, GDestroyNotify destroy)
{
  UpmModelCache *c = &model->caches[slot];

  if (!c->data)
    {
      c->data = create (model);
      c->destroy = destroy;
    }
  return c->data;
}

void
upm_model_caches_free (UpmModel *model)
{
  for (guint i = 0; i < UPM_N_MODEL_CACHES; i++)
    {
      UpmModelCache *c = &model->caches[i];
      if (c->destroy)
        c->destroy (c->data);
      c->data = NULL;
      c->destroy = NULL;
    }
}

/* The pages of a copied range are only read again by the plain path, which
 * faults them back in from the page cache. */
void
upm_release_mapped (const void *p, size_t bytes)
{
  const uintptr_t page = (uintptr_t)sysconf (_SC_PAGESIZE);
  uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1);
  uintptr_t b = ((uintptr_t)p + bytes) & ~(page - 1);

  if (b > a)
    madvise ((void *)a, b - a, MADV_DONTNEED);
}
