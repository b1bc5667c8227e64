/* upm-prompt.h: the deep prompts of a prompt-tuned model in the encoder
 * (upm-prompt.c): each layer's prompt keys and values, which every query
 * of the layer sees before the sequence's own keys (docs/prompt-tuning.md).
 * Uses the experts (upm-moe.h), the context and the kernels.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_PROMPT_H
#define UPM_PROMPT_H

#include "upm-context.h"
#include "upm-ops.h"

G_BEGIN_DECLS

/* The prompt rows every layer prepends to its keys and values (0: a model
 * without prompts). */
static inline uint32_t
upm_prompt_rows (const UpmModel *model)
{
  return model->prompt.length;
}

/* The attention's causal_from once the prompt's P keys come first: the
 * prompt is never masked, so a causal bound moves by P. */
static inline uint32_t
upm_prompt_causal (uint32_t causal_from, uint32_t n_prompt)
{
  return causal_from == UINT32_MAX ? UINT32_MAX : causal_from + n_prompt;
}

/* The keys and values of a layer's prompt as a span of kv (see
 * upm_prompt_kv). */
static inline UpmKvSpan
upm_prompt_span (const float *kv, uint32_t n_prompt, uint32_t d)
{
  return (UpmKvSpan){ kv, kv + d, 2 * d, n_prompt };
}

/* kv [P][2D]: the keys (columns 0..D) and values (D..2D) of layer @layer's
 * prompt for a sequence whose first segment has attribute row @attr:
 * LN1 of the prompt (the target prompt for a target row when the model
 * has one), through the K and V outputs of the QKV linear with @attr's
 * experts in MoE layers (static levels: merged; dynamic levels: each
 * prompt row routed by its LN1 row, or by the mean of the prompt's rows
 * for context routing). Nothing is recorded in the context's routing.
 * Call it before the layer's upm_layer_qkv: a dynamic level keeps the
 * last QKV linear's decisions for the output projection. */
gboolean upm_prompt_kv (
    UpmContext *ctx, uint32_t layer, UpmAttr attr, float *kv, GError **error);

G_END_DECLS
#endif /* UPM_PROMPT_H */
