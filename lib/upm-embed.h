/* upm-embed.h: the embeddings of the encoder's inputs (upm-embed.c;
 * upm_embed_patches and upm_embed_text are in upm.h). Uses the model only.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_EMBED_H
#define UPM_EMBED_H

#include "upm-model.h"

G_BEGIN_DECLS

/* Text token at a text position: LN(E[id] + P[pos] + T[0]). */
void upm_embed_text_token (
    const UpmModel *model, int32_t id, uint32_t pos, float *out);
/* The leading <SPE>: LN(E[spe]), no position, no type. */
void upm_embed_spe (const UpmModel *model, float *out);

/* FALSE (and an error) when a text of n ids is too long for the model or
 * an id is outside its vocabulary. */
gboolean upm_embed_check_ids (
    const UpmModel *m, const int32_t *ids, uint32_t n, GError **error);

G_END_DECLS
#endif /* UPM_EMBED_H */
