/* upm-heads.h: the similarity heads' internals (upm-heads.c; the label
 * and vocabulary features, classification and top-k are in upm.h). Uses
 * the model only.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_HEADS_H
#define UPM_HEADS_H

#include "upm-model.h"
#include "upm-ops.h"
#include "upm-quant.h"

G_BEGIN_DECLS

/* Where the vocabulary features of this model are cached on disk (NULL
 * when the model has no weights hash). Free with g_free. */
char *upm_engine_vocab_cache_path (const UpmModel *model);

/* Opt-in compact decoding (UPM_VOCAB_F16=1 in the environment): the fast
 * caption path scores the vocabulary against an IEEE-half copy of its
 * features (half the memory traffic; log-probabilities then differ from the
 * float32 reference by up to ~1e-2, beyond the 1e-4 fidelity tolerance, so
 * it is off by default; the plain path always uses float32). */
gboolean upm_engine_vocab_f16_enabled (void);
const uint16_t *upm_engine_vocab_f16 (UpmModel *model, GError **error);

/* The vocabulary features in int8, one scale per word (upm-quant.h),
 * quantised once: what an INT8 context's fast caption path scores against
 * (a quarter of the float traffic) at UPM_INT8_DECODE_X8=0. Mapped float
 * features (the model file's or the cache file's) leave the resident set
 * once an int8 copy exists. */
const UpmQ8Matrix *upm_engine_vocab_q8 (UpmModel *model, GError **error);
/* The same packed for upm_linear_q8q8 (the decode step's scoring with
 * int8 activations, upm_int8_decode_x8): packed from upm_engine_vocab_q8's
 * copy where it was made, else from a temporary one (no unpacked copy
 * stays). */
const UpmQ8Packed *upm_engine_vocab_q8_packed (UpmModel *model, GError **error);
/* Bytes of the int8 vocabulary copies made so far: unpacked, packed. */
void upm_engine_vocab_memory (UpmModel *model, size_t *q8, size_t *q8_packed);

G_END_DECLS
#endif /* UPM_HEADS_H */
