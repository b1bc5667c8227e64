/* upm-caption.h: the caption decoder's internals (upm-caption.c; the
 * prefix and beam search API is in upm.h). Uses the context only.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_CAPTION_H
#define UPM_CAPTION_H

#include "upm-context.h"

G_BEGIN_DECLS

/* Log-probabilities over the vocabulary of the first caption step (one
 * beam): the numeric check of the decoder in the tests. */
gboolean upm_caption_first_step (UpmContext *ctx, const float *patches,
    uint32_t n_frames, float *logprobs, GError **error);

G_END_DECLS
#endif /* UPM_CAPTION_H */
