/* upm-embed.c: the embeddings of the encoder's inputs (model-spec §1):
 * text tokens (token + position + type, LayerNorm), the leading <SPE>, and
 * video patches (linear projection + spatial and temporal positions).
 *
 * Uses: the model (upm-model.h), the context's model (upm-context.h), the
 * kernels (upm-ops.h). Nothing above.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-embed.h"

#include "upm-context.h"
#include "upm-ops.h"
#include "upm-weights.h"

/* The token embedding row of @id, with a prompt-tuned model's spe_bias
 * on every <|spe|> (the official token_embed.py adds s_token_bias to the
 * embeddings of id 49410 before the LayerNorm). */
static void
token_row (const UpmModel *model, uint32_t id, float *out)
{
  const float *bias = model->prompt.spe_bias;

  upm_model_token_row (model, id, out);
  if (bias && id == model->hp.spe_id)
    for (uint32_t j = 0; j < model->hp.n_embd; j++)
      out[j] += bias[j];
}

void
upm_embed_spe (const UpmModel *model, float *out)
{
  const uint32_t d = model->hp.n_embd;
  token_row (model, model->hp.spe_id, out);
  upm_layer_norm (out, 1, d, model->embd_norm_w, model->embd_norm_b,
      model->hp.norm_eps, out);
}

void
upm_embed_text_token (
    const UpmModel *model, int32_t id, uint32_t pos, float *out)
{
  const uint32_t d = model->hp.n_embd;
  const float *p = model->token_pos_embd + (size_t)pos * d;
  const float *t = model->token_type_embd;

  token_row (model, (uint32_t)id, out);
  for (uint32_t j = 0; j < d; j++)
    out[j] = out[j] + p[j] + t[j];
  upm_layer_norm (out, 1, d, model->embd_norm_w, model->embd_norm_b,
      model->hp.norm_eps, out);
}

gboolean
upm_embed_patches (UpmContext *ctx, const float *patches, uint32_t n_frames,
    float *out, GError **error)
{
  const UpmModel *m = ctx->model;
  const UpmHParams *hp = &m->hp;
  const uint32_t d = hp->n_embd, s = UPM_HP_TOKENS_PER_FRAME (hp);

  if (n_frames < 1 || n_frames > hp->n_temporal)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "a clip has %u frames; this model takes 1 to %u", n_frames,
          hp->n_temporal);
      return FALSE;
    }
  upm_embed_spe (m, out);
  float *rows = out + d;
  upm_linear (patches, n_frames * s, UPM_HP_PATCH_DIM (hp), m->patch_w,
      m->patch_b, d, rows);
  for (uint32_t t = 0; t < n_frames; t++)
    {
      const float *tp = m->temporal_pos + (size_t)t * d;
      for (uint32_t i = 0; i < s; i++)
        {
          float *r = rows + ((size_t)t * s + i) * d;
          const float *sp = m->spatial_pos + (size_t)i * d;
          for (uint32_t j = 0; j < d; j++)
            r[j] += sp[j] + tp[j];
        }
    }
  upm_layer_norm (rows, n_frames * s, d, m->embd_norm_w, m->embd_norm_b,
      hp->norm_eps, rows);
  return TRUE;
}

gboolean
upm_embed_check_ids (
    const UpmModel *m, const int32_t *ids, uint32_t n, GError **error)
{
  if (n > m->hp.n_text_ctx)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "text of %u tokens exceeds the model's %u positions", n,
          m->hp.n_text_ctx);
      return FALSE;
    }
  for (uint32_t i = 0; i < n; i++)
    {
      if (ids[i] < 0 || (uint32_t)ids[i] >= m->hp.n_vocab)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
              "token id %d at %u is outside the vocabulary (%u)", ids[i], i,
              m->hp.n_vocab);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
upm_embed_text (UpmContext *ctx, const int32_t *ids, uint32_t n_ids, float *out,
    GError **error)
{
  const UpmModel *m = ctx->model;
  const uint32_t d = m->hp.n_embd;

  if (!upm_embed_check_ids (m, ids, n_ids, error))
    return FALSE;
  upm_embed_spe (m, out);
  for (uint32_t i = 0; i < n_ids; i++)
    upm_embed_text_token (m, ids[i], i, out + (size_t)(i + 1) * d);
  return TRUE;
}
