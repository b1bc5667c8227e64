/* upm-encoder.h: the shared encoder (upm-encoder.c): layers, chunked
 * layers with packed keys/values, the causal forward of the caption
 * decoder's plain path, and the batched encoding of texts. It includes the
 * headers of what its callers use with it: the embeddings and the experts
 * (upm_ctx_record, upm_routing_add_segments).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_ENCODER_H
#define UPM_ENCODER_H

#include "upm-context.h"
#include "upm-embed.h"
#include "upm-moe.h"
#include "upm-ops.h"
#include "upm-prompt.h"

G_BEGIN_DECLS

/* Whether the encoder and the caption prefix of this context run chunked
 * layers: the fast path of the static routing levels (a dynamic level
 * routes on the whole sequence's gate inputs; the plain path stays the
 * reference). */
static inline gboolean
upm_ctx_chunked (const UpmContext *ctx)
{
  return ctx->path == UPM_PATH_FAST
         && !upm_routing_level_is_dynamic (ctx->model->routing);
}

/* First half of a layer: qkv [n, 3D] = Wqkv LN1(x) per segment. */
gboolean upm_layer_qkv (UpmContext *ctx, uint32_t layer, const float *x,
    uint32_t n, const UpmSegment *segs, uint32_t n_segs, float *qkv,
    GError **error);
/* Second half: x += g1 Wout att; x += g2 FFN(LN2 x), per segment. */
gboolean upm_layer_finish (UpmContext *ctx, uint32_t layer, float *x,
    const float *att, uint32_t n, const UpmSegment *segs, uint32_t n_segs,
    GError **error);

/* One whole layer over chunks of rows (upm_ctx_chunked contexts only):
 * packs the keys and values of a prompt-tuned model's P prompt rows
 * (upm_prompt_kv, for segs[0]'s attribute row) and of all n rows of x into
 * kvbuf (upm_kv_packed_size (P + n) floats, described by *kv; with kv NULL,
 * where the caller keeps no keys, a bf16 context packs them in bfloat16 and
 * runs the bf16 attention), then updates the
 * first n_q rows of x, a chunk per task of the pool: queries, attention
 * (row r sees the keys < max(causal_from, r + 1)), the output projection
 * and the FFN. n_q = 0 only packs. */
gboolean upm_layer_chunked (UpmContext *ctx, uint32_t layer, float *x,
    uint32_t n, const UpmSegment *segs, uint32_t n_segs, uint32_t causal_from,
    uint32_t n_q, float *kvbuf, UpmKvPacked *kv, GError **error);

/* The rows of the last gate input (D floats each): LN1(x) after
 * upm_layer_qkv, LN2(x) after upm_layer_finish (the caption decoder sums
 * them for context routing). */
const float *upm_layer_gate_input (UpmContext *ctx);

/* The plain caption path: the encoder over one sequence whose rows from
 * causal_from on are causal text after a prefix. */
gboolean upm_transformer_forward_causal (UpmContext *ctx, float *x, uint32_t n,
    const UpmSegment *segs, uint32_t n_segs, uint32_t causal_from,
    GError **error);

/* upm_encode_texts with progress reports (@what names the work). */
gboolean upm_encode_texts_progress (UpmContext *ctx, const int32_t *const *ids,
    const uint32_t *n_ids, uint32_t n_texts, UpmAttr attr, float *features,
    UpmProgressFunc progress, gpointer user_data, const char *what,
    GError **error);

G_END_DECLS
#endif /* UPM_ENCODER_H */
