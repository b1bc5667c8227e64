/* upm-target-cache.h: target (label set) text features cached on disk.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One file per (model weights, attribute row, token ids of every label),
 * next to the vocabulary cache: $XDG_CACHE_HOME/uniperceiver/
 * <weights sha256>-targets-<key>.bin.  The key hashes the *token ids*, not
 * the raw texts, so a change in the text clean-up or the BPE gives a new
 * key instead of stale features.  Uses the model only (the tokenised labels
 * come from the caller: upm-heads.c).
 */
#ifndef UPM_TARGET_CACHE_H
#define UPM_TARGET_CACHE_H

#include "upm-model.h"

G_BEGIN_DECLS

/* Label sets smaller than this are not worth a file. */
#define UPM_TARGET_CACHE_MIN_LABELS 16

/* The cache file of the @n tokenised labels @ids (GArray of int32_t each)
 * under @attr; NULL when the model has no weights hash. g_free it. */
char *upm_target_cache_path (
    const UpmModel *model, UpmAttr attr, GPtrArray *ids);

/* Fills @features (n x D) from the cache file; FALSE when it is missing or
 * does not check out (size, header, keys, checksum of the data): the
 * caller then computes the features and saves them anew. */
gboolean upm_target_cache_load (
    const UpmModel *model, UpmAttr attr, GPtrArray *ids, float *features);

/* Best effort, atomically (temporary file and rename): a cache that cannot
 * be written only costs time later. */
void upm_target_cache_save (
    const UpmModel *model, UpmAttr attr, GPtrArray *ids, const float *features);

G_END_DECLS
#endif /* UPM_TARGET_CACHE_H */
