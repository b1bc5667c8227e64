/* upm-prompt.c: the deep prompts of a prompt-tuned model in the encoder.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The official layer (fundamentalvision/Uni-Perceiver,
 * uniperceiver/modeling/layers/transformer_encoder_moe_layer.py _sa_block)
 * passes its prompt through the layer's norm1 and prepends it to the keys
 * and values only; the MoE linear projects the prompt rows with the first
 * segment's experts (uniperceiver/task_moe/experts.py top2_expert_forward:
 * the prompt length is added to the first segment's length). Uses the
 * experts (upm-moe.c), the context and the kernels.
 */
#include "upm-prompt.h"

#include "upm-moe.h"
/* upm_ctx_chunked only (a static inline): whether the encoder's chunked
 * layers, whose merged experts the prompt must match, run. */
#include "upm-encoder.h"

#include <string.h>

static gboolean
is_target_row (UpmAttr attr)
{
  return attr == UPM_ATTR_RETRIEVAL_TARGET || attr == UPM_ATTR_CLS_TARGET
         || attr == UPM_ATTR_VOCAB_TARGET;
}

gboolean
upm_prompt_kv (
    UpmContext *ctx, uint32_t layer, UpmAttr attr, float *kv, GError **error)
{
  const UpmModel *m = ctx->model;
  const UpmLayer *ly = &m->layers[layer];
  const uint32_t P = m->prompt.length, d = m->hp.n_embd;
  const float *prompt = is_target_row (attr) ? ly->prompt_target : ly->prompt;
  UpmSegment seg = { attr, P };
  const UpmRouteScope *scope = ctx->scope;
  UpmRouting *rec = ctx->rec;
  float *h, *qkv;
  gboolean ok = TRUE;

  g_return_val_if_fail (P > 0 && prompt != NULL, FALSE);
  h = g_try_new (float, (size_t)P * 4 * d);
  if (!h)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
          "out of memory for a prompt of %u rows", P);
      return FALSE;
    }
  qkv = h + (size_t)P * d;
  upm_layer_norm (
      prompt, P, d, ly->attn_norm_w, ly->attn_norm_b, m->hp.norm_eps, h);
  if (upm_ctx_chunked (ctx))
    {
      /* The merged experts' K and V outputs, as the chunked layer's. */
      upm_moe_linear_fast (
          ctx, layer, UPM_LIN_QKV, d, 2 * d, h, P, &seg, 1, kv, NULL);
      g_free (h);
      return TRUE;
    }
  /* The prompt rows are one bidirectional group of their own. */
  ctx->scope = NULL;
  ctx->rec = NULL;
  ok = upm_moe_linear (
      ctx, layer, UPM_LIN_QKV, h, P, &seg, 1, qkv, NULL, error);
  ctx->scope = scope;
  ctx->rec = rec;
  for (uint32_t i = 0; ok && i < P; i++)
    memcpy (kv + (size_t)i * 2 * d, qkv + (size_t)i * 3 * d + d,
        2 * d * sizeof (float));
  g_free (h);
  return ok;
}
