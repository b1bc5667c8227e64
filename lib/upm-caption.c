/* upm-caption.c: caption generation by beam search (model-spec §1.6b).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Fast path: the visual prefix is encoded once and its per-layer keys and
 * values are kept; each step runs, per beam, the word chosen at the previous
 * step (appending its keys/values to the beam's word history) together with
 * the new <SPE> query, in one pass over the weights. Plain path: every step
 * re-encodes the whole causal sequence [SPE, visual, words, query].
 *
 * Uses: the encoder (upm-encoder.h: layers, embeddings, routing records),
 * the vocabulary features of the heads (upm-heads.h), the context's state
 * (its own in ctx->caption, freed by the context through caption_free).
 */
#include "upm-caption.h"

#include "upm-encoder.h"
#include "upm-heads.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

struct _UpmPrefix
{
  gint ref_count;
  UpmModel *model;
  uint32_t n_tokens;   /* Lp = 1 + visual tokens */
  size_t kv_layer;     /* floats of one layer's packed keys/values */
  float *kv;           /* [layer][kv_layer] */
  UpmKvPacked *packed; /* [layer], views into kv */
  /* or, once encoded for an INT8 context, in bfloat16 (kv freed) */
  uint16_t *kv16;          /* [layer][kv_layer] */
  UpmKvPacked16 *packed16; /* [layer], views into kv16 */
  float *embeddings;       /* [Lp][D], for the plain path */
  float *ctx_sum;          /* context routing: [layer][gate][D] sums of
                            * the prefix's gate inputs, else NULL */
};

struct _UpmCaptionState
{
  size_t words_cap;
  float *word_k, *word_v; /* [beam][layer][max_len][D] */
  float *tmp_k, *tmp_v;   /* re-gather buffers */
  /* Context routing: per beam, [layer][gate][D] sums of the gate inputs of
   * the cached words, their re-gather buffer, and a step's bases (prefix +
   * cached words). */
  size_t sums_cap;
  float *word_sum, *tmp_sum, *base_sum;
};

/* The context's caption_free. */
static void
caption_state_free (gpointer data)
{
  UpmCaptionState *st = data;

  if (!st)
    return;
  g_free (st->word_k);
  g_free (st->word_v);
  g_free (st->tmp_k);
  g_free (st->tmp_v);
  g_free (st->word_sum);
  g_free (st->tmp_sum);
  g_free (st->base_sum);
  g_free (st);
}

void
upm_caption_clear (UpmCaption *caption)
{
  g_clear_pointer (&caption->ids, g_free);
  g_clear_pointer (&caption->text, g_free);
  caption->n_ids = 0;
  caption->score = 0.0f;
}

typedef struct
{
  uint32_t beam, max_len, vocab, eos, lp_tokens;
  float scale;
  float length_penalty;
  const float *vocab_feat;
  const uint16_t *vocab16;     /* opt-in half copy (fast path) */
  const UpmQ8Matrix *vocab_q8; /* int8 copy (fast path, INT8) */
  const UpmQ8Packed *vocab_wp; /* or packed alone (upm_int8_decode_x8) */
  UpmPrefix *prefix;
  /* Per beam: chosen ids, running score, finished flag. */
  int32_t *ids; /* [beam][max_len] */
  float *score;
  gboolean *finished;
  uint32_t n_beams; /* active beams (1 at t = 0) */
} BeamSearch;

static gboolean
state_reserve (UpmCaptionState *st, size_t words, GError **error)
{
  if (words > st->words_cap)
    {
      g_free (st->word_k);
      g_free (st->word_v);
      g_free (st->tmp_k);
      g_free (st->tmp_v);
      st->word_k = g_try_new (float, words);
      st->word_v = g_try_new (float, words);
      st->tmp_k = g_try_new (float, words);
      st->tmp_v = g_try_new (float, words);
      st->words_cap
          = st->word_k && st->word_v && st->tmp_k && st->tmp_v ? words : 0;
    }
  if (st->words_cap < words)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
          "out of memory for the caption key/value cache");
      return FALSE;
    }
  return TRUE;
}

/* out[D] = the sum of n rows of x (double accumulation). */
static void
sum_rows (const float *x, uint32_t n, uint32_t d, float *out)
{
  for (uint32_t j = 0; j < d; j++)
    {
      double acc = 0.0;
      for (uint32_t i = 0; i < n; i++)
        acc += x[(size_t)i * d + j];
      out[j] = (float)acc;
    }
}

/* out[D] += row. */
static void
add_row (const float *row, uint32_t d, float *out)
{
  for (uint32_t j = 0; j < d; j++)
    out[j] += row[j];
}

/* Encode [SPE, visual] with the caption_prefix row, keeping each layer's
 * keys and values packed for the attention kernels. The prefix outputs of
 * the last layer are never used. */
static gboolean
prefix_encode (UpmContext *ctx, UpmPrefix *pf, GError **error)
{
  const UpmHParams *hp = &ctx->model->hp;
  const uint32_t d = hp->n_embd, hd = d / hp->n_head, n = pf->n_tokens;
  UpmSegment seg = { UPM_ATTR_CAPTION_PREFIX, n };
  float *x = upm_ctx_buf (ctx, UPM_BUF_CAP_X, (size_t)n * d, error);
  float *qkv, *att;

  if (!x)
    return FALSE;
  memcpy (x, pf->embeddings, (size_t)n * d * sizeof (float));
  if (upm_ctx_chunked (ctx))
    {
      /* Chunks of rows: no context sums or recorded routing on these
       * levels, so the last layer only packs its keys and values. */
      for (uint32_t l = 0; l < hp->n_layer; l++)
        if (!upm_layer_chunked (ctx, l, x, n, &seg, 1, UINT32_MAX,
                l + 1 < hp->n_layer ? n : 0, pf->kv + l * pf->kv_layer,
                &pf->packed[l], error))
          return FALSE;
      return TRUE;
    }
  qkv = upm_ctx_buf (ctx, UPM_BUF_CAP_QKV, (size_t)n * 3 * d, error);
  att = qkv ? upm_ctx_buf (ctx, UPM_BUF_CAP_ATT, (size_t)n * d, error) : NULL;
  if (!att)
    return FALSE;
  const uint32_t P = upm_prompt_rows (ctx->model);
  g_autofree float *pkv = P > 0 ? g_try_new (float, (size_t)P * 2 * d) : NULL;
  if (P > 0 && !pkv)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
          "out of memory for a prompt of %u rows", P);
      return FALSE;
    }
  for (uint32_t l = 0; l < hp->n_layer; l++)
    {
      /* [prompt, prefix]: the prompt's keys first (model-spec's cache). */
      UpmKvSpan spans[2]
          = { upm_prompt_span (pkv, P, d), { qkv + d, qkv + 2 * d, 3 * d, n } };
      const UpmKvSpan *sp = P > 0 ? spans : spans + 1;
      if ((P > 0 && !upm_prompt_kv (ctx, l, seg.attr, pkv, error))
          || !upm_layer_qkv (ctx, l, x, n, &seg, 1, qkv, error))
        return FALSE;
      if (pf->ctx_sum)
        sum_rows (upm_layer_gate_input (ctx), n, d,
            pf->ctx_sum + ((size_t)l * UPM_N_GATES + UPM_GATE_ATTN) * d);
      upm_kv_pack (sp, P > 0 ? 2 : 1, hp->n_head, hd, pf->kv + l * pf->kv_layer,
          &pf->packed[l]);
      /* The last layer's outputs of the prefix are used only by the context
       * of context routing (the sum of its LN2 rows) and by recorded
       * per-token routing (its FFN decisions). */
      if (l + 1 == hp->n_layer && !pf->ctx_sum && !ctx->rec)
        break;
      upm_attention_packed (
          qkv, 3 * d, n, &pf->packed[l], hp->n_head, hd, UINT32_MAX, 0, att, d);
      if (!upm_layer_finish (ctx, l, x, att, n, &seg, 1, error))
        return FALSE;
      if (pf->ctx_sum)
        sum_rows (upm_layer_gate_input (ctx), n, d,
            pf->ctx_sum + ((size_t)l * UPM_N_GATES + UPM_GATE_FFN) * d);
    }
  return TRUE;
}

static float *
word_cache (const BeamSearch *bs, float *base, uint32_t beam, uint32_t layer,
    uint32_t n_layer, uint32_t d)
{
  return base + ((size_t)beam * n_layer + layer) * bs->max_len * d;
}

/* Query features of @n rows of h (row stride ld) -> log-probabilities
 * over the vocabulary, the vocabulary features read once for all rows. */
static void
vocab_log_probs (UpmContext *ctx, const BeamSearch *bs, const float *h,
    size_t ld, uint32_t n, float *lp)
{
  const UpmModel *m = ctx->model;
  const uint32_t d = m->hp.n_embd;
  float *t = g_new0 (float, (size_t)2 * n * d), *f = t + (size_t)n * d;

  for (uint32_t r = 0; r < n; r++)
    upm_layer_norm (h + r * ld, 1, d, m->post_norm_w, m->post_norm_b,
        m->hp.norm_eps, t + (size_t)r * d);
  upm_linear (t, n, d, m->proj_w, m->proj_b, d, f);
  for (uint32_t r = 0; r < n; r++)
    upm_l2_normalize (f + (size_t)r * d, d);
  if (bs->vocab_wp || bs->vocab_q8)
    {
      if (bs->vocab_wp)
        upm_linear_q8q8 (
            f, n, bs->vocab_wp, 0, bs->vocab, 0, d, NULL, 0.0f, lp, NULL);
      else
        upm_linear_q8 (
            f, n, bs->vocab_q8, 0, bs->vocab, 0, d, NULL, 0.0f, lp, NULL);
      for (size_t i = 0; i < (size_t)n * bs->vocab; i++)
        lp[i] *= bs->scale;
    }
  else
    upm_matmul_rows (f, n, d, bs->vocab16 ? NULL : bs->vocab_feat, bs->vocab16,
        bs->vocab, bs->scale, lp);
  for (uint32_t r = 0; r < n; r++)
    upm_log_softmax (lp + (size_t)r * bs->vocab, bs->vocab);
  g_free (t);
}

/* The rows of step t of the fast path into x: per beam [word t-1, query
 * t] (only the query at t = 0). */
static void
step_embed (const UpmModel *m, const BeamSearch *bs, uint32_t t, float *x)
{
  const uint32_t d = m->hp.n_embd, per = t > 0 ? 2 : 1;

  for (uint32_t b = 0; b < bs->n_beams; b++)
    {
      float *xb = x + (size_t)b * per * d;
      if (t > 0)
        upm_embed_text_token (m, bs->ids[b * bs->max_len + t - 1], t - 1, xb);
      upm_embed_text_token (m, (int32_t)m->hp.spe_id, t, xb + (per - 1) * d);
    }
}

/* The attention of layer l of step t (qkv, att: the step's rows): the
 * words' keys/values appended to the beams' caches, then each beam's rows
 * against the prefix, its cached words and its own rows. */
static void
step_attention (const UpmModel *m, UpmCaptionState *st, const BeamSearch *bs,
    uint32_t t, uint32_t l, const float *qkv, float *att)
{
  const UpmHParams *hp = &m->hp;
  const uint32_t d = hp->n_embd, hd = d / hp->n_head, nl = hp->n_layer;
  /* The prefix's cached keys: a prompt-tuned model's prompt, then the
   * prefix tokens. */
  const uint32_t per = t > 0 ? 2 : 1, lp_n = bs->prefix->packed[l].n;
  UpmKvSpan *spans = g_newa (UpmKvSpan, 2 * (size_t)bs->n_beams);
  UpmAttnGroup *groups = g_newa (UpmAttnGroup, bs->n_beams);

  for (uint32_t b = 0; b < bs->n_beams; b++)
    {
      const float *qb = qkv + (size_t)b * per * 3 * d;
      const float *self = qb + (size_t)(per - 1) * 3 * d;
      float *wk = word_cache (bs, st->word_k, b, l, nl, d);
      float *wv = word_cache (bs, st->word_v, b, l, nl, d);
      if (t > 0)
        {
          memcpy (wk + (size_t)(t - 1) * d, qb + d, d * sizeof (float));
          memcpy (wv + (size_t)(t - 1) * d, qb + 2 * d, d * sizeof (float));
        }
      spans[2 * b] = (UpmKvSpan){ wk, wv, d, t };
      spans[2 * b + 1] = (UpmKvSpan){ self + d, self + 2 * d, 3 * d, 1 };
      groups[b] = (UpmAttnGroup){ per, spans + 2 * b, 2 };
    }
  /* The word row sees prefix + words <= t-1; the query also itself. */
  if (bs->prefix->kv16)
    upm_attention_groups_bf16 (qkv, 3 * d, &bs->prefix->packed16[l], groups,
        bs->n_beams, hp->n_head, hd, lp_n + t, lp_n + t + 1 - per, att, d);
  else
    upm_attention_groups (qkv, 3 * d, &bs->prefix->packed[l], groups,
        bs->n_beams, hp->n_head, hd, lp_n + t, lp_n + t + 1 - per, att, d);
}

/* Step t of the fast path: rows per beam are [word t-1, query t] (only the
 * query at t = 0). The prefix keys/values are read once for all beams.
 * Fills lp [n_beams][V]. */
static gboolean
fast_step (
    UpmContext *ctx, BeamSearch *bs, uint32_t t, float *lp, GError **error)
{
  const UpmModel *m = ctx->model;
  const UpmHParams *hp = &m->hp;
  const uint32_t d = hp->n_embd, nl = hp->n_layer;
  const uint32_t per = t > 0 ? 2 : 1, rows = bs->n_beams * per;
  const uint32_t lp_n = bs->lp_tokens;
  UpmCaptionState *st = ctx->caption;
  UpmSegment seg = { UPM_ATTR_CAPTION_TEXT, rows };
  float *x = upm_ctx_buf (ctx, UPM_BUF_CAP_X, (size_t)rows * d, error);
  float *qkv
      = x ? upm_ctx_buf (ctx, UPM_BUF_CAP_QKV, (size_t)rows * 3 * d, error)
          : NULL;
  float *att = qkv ? upm_ctx_buf (ctx, UPM_BUF_CAP_ATT, (size_t)rows * d, error)
                   : NULL;
  /* Context routing: row i of a beam's rows sees the prefix, the cached
   * words and the beam's rows <= i (the training layout's mask). */
  const gboolean ctx_routing = m->routing == UPM_ROUTING_CONTEXT;
  const size_t sum_beam = (size_t)nl * UPM_N_GATES * d;
  const float **bases = g_newa (const float *, bs->n_beams);
  uint32_t *counts = g_newa (uint32_t, bs->n_beams);
  const UpmRouteScope scope = { per, NULL, 0, bases, counts };
  gboolean ok = TRUE;

  if (!att)
    return FALSE;
  if (ctx_routing)
    {
      if (t == 1)
        memset (st->word_sum, 0, bs->n_beams * sum_beam * sizeof (float));
      for (uint32_t b = 0; b < bs->n_beams; b++)
        {
          float *base = st->base_sum + b * sum_beam;
          const float *ws = st->word_sum + b * sum_beam;
          for (size_t i = 0; i < sum_beam; i++)
            base[i] = bs->prefix->ctx_sum[i] + (t > 1 ? ws[i] : 0.0f);
          bases[b] = base;
          counts[b] = lp_n + (t > 0 ? t - 1 : 0);
        }
      ctx->scope = &scope;
    }
  step_embed (m, bs, t, x);
  /* An INT8 context runs these rows' linears on int8 weights. */
  ctx->decoding = TRUE;
  for (uint32_t l = 0; ok && l < nl; l++)
    {
      if (!upm_layer_qkv (ctx, l, x, rows, &seg, 1, qkv, error))
        {
          ok = FALSE;
          break;
        }
      if (ctx_routing && t > 0)
        for (uint32_t b = 0; b < bs->n_beams; b++)
          add_row (upm_layer_gate_input (ctx) + (size_t)b * per * d, d,
              st->word_sum + b * sum_beam
                  + ((size_t)l * UPM_N_GATES + UPM_GATE_ATTN) * d);
      step_attention (m, st, bs, t, l, qkv, att);
      ok = upm_layer_finish (ctx, l, x, att, rows, &seg, 1, error);
      if (ok && ctx_routing && t > 0)
        for (uint32_t b = 0; b < bs->n_beams; b++)
          add_row (upm_layer_gate_input (ctx) + (size_t)b * per * d, d,
              st->word_sum + b * sum_beam
                  + ((size_t)l * UPM_N_GATES + UPM_GATE_FFN) * d);
    }
  ctx->scope = NULL;
  ctx->decoding = FALSE;
  if (!ok)
    return FALSE;
  vocab_log_probs (
      ctx, bs, x + (size_t)(per - 1) * d, (size_t)per * d, bs->n_beams, lp);
  return TRUE;
}

/* ------------------------------------------ steps of several streams */

/* A decode step submitted to the model's batcher. */
typedef struct
{
  UpmContext *ctx;
  BeamSearch *bs;
  uint32_t t, row; /* row: its first row in the batch */
  float *lp;
} StepJob;

static uint32_t
step_rows (const StepJob *s)
{
  return s->bs->n_beams * (s->t > 0 ? 2 : 1);
}

/* The log-probabilities of every stream's query rows (x: the batch's
 * rows): one product with the vocabulary features for all (read once), as
 * vocab_log_probs computes each row. */
static gboolean
step_batch_log_probs (
    UpmBatchJob **jobs, guint n, const float *x, GError **error)
{
  const StepJob *s0 = jobs[0]->data;
  const BeamSearch *bs0 = s0->bs;
  const uint32_t d = s0->ctx->model->hp.n_embd, v = bs0->vocab;
  uint32_t n_q = 0;
  float *hq, *lp;

  for (guint i = 0; i < n; i++)
    n_q += ((StepJob *)jobs[i]->data)->bs->n_beams;
  hq = g_try_new (float, (size_t)n_q *d);
  lp = hq ? g_try_new (float, (size_t)n_q *v) : NULL;
  if (!lp)
    {
      g_free (hq);
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
          "out of memory for the log-probabilities of %u beams", n_q);
      return FALSE;
    }
  for (guint i = 0, q = 0; i < n; i++)
    {
      const StepJob *s = jobs[i]->data;
      const uint32_t per = s->t > 0 ? 2 : 1;
      for (uint32_t b = 0; b < s->bs->n_beams; b++, q++)
        memcpy (hq + (size_t)q * d,
            x + ((size_t)s->row + (size_t)b * per + per - 1) * d,
            d * sizeof (float));
    }
  vocab_log_probs (s0->ctx, bs0, hq, d, n_q, lp);
  for (guint i = 0, q = 0; i < n; i++)
    {
      const StepJob *s = jobs[i]->data;
      memcpy (s->lp, lp + (size_t)q * v,
          (size_t)s->bs->n_beams * v * sizeof (float));
      q += s->bs->n_beams;
    }
  g_free (hq);
  g_free (lp);
  return TRUE;
}

/* UpmBatchRun of decode steps (all CAPTION_TEXT rows: one segment): per
 * layer, one GEMM per linear over the rows of every stream's beams,
 * attention per stream as fast_step; runs with the caption scratch of the
 * first job's context (its thread waits for this run). */
static void
step_batch (UpmBatchJob **jobs, guint n)
{
  UpmContext *ctx = ((StepJob *)jobs[0]->data)->ctx;
  const UpmModel *m = ctx->model;
  const uint32_t d = m->hp.n_embd;
  uint32_t rows = 0;
  float *x, *qkv = NULL, *att = NULL;
  GError *error = NULL;
  gboolean ok;

  for (guint i = 0; i < n; i++)
    {
      StepJob *s = jobs[i]->data;
      s->row = rows;
      rows += step_rows (s);
    }
  UpmSegment seg = { UPM_ATTR_CAPTION_TEXT, rows };
  x = upm_ctx_buf (ctx, UPM_BUF_CAP_X, (size_t)rows * d, &error);
  qkv = x ? upm_ctx_buf (ctx, UPM_BUF_CAP_QKV, (size_t)rows * 3 * d, &error)
          : NULL;
  att = qkv ? upm_ctx_buf (ctx, UPM_BUF_CAP_ATT, (size_t)rows * d, &error)
            : NULL;
  ok = att != NULL;
  for (guint i = 0; ok && i < n; i++)
    {
      StepJob *s = jobs[i]->data;
      step_embed (m, s->bs, s->t, x + (size_t)s->row * d);
    }
  /* An INT8 context runs these rows' linears on int8 weights. */
  ctx->decoding = TRUE;
  for (uint32_t l = 0; ok && l < m->hp.n_layer; l++)
    {
      ok = upm_layer_qkv (ctx, l, x, rows, &seg, 1, qkv, &error);
      for (guint i = 0; ok && i < n; i++)
        {
          StepJob *s = jobs[i]->data;
          step_attention (m, s->ctx->caption, s->bs, s->t, l,
              qkv + (size_t)s->row * 3 * d, att + (size_t)s->row * d);
        }
      ok = ok && upm_layer_finish (ctx, l, x, att, rows, &seg, 1, &error);
    }
  ctx->decoding = FALSE;
  ok = ok && step_batch_log_probs (jobs, n, x, &error);
  for (guint i = 0; i < n; i++)
    {
      jobs[i]->ok = ok;
      jobs[i]->error = ok ? NULL : g_error_copy (error);
    }
  g_clear_error (&error);
}

/* Batched steps pay where reading the layers' weights is what a step
 * costs: weights past the caches, read once for all streams instead of
 * once per stream. Measured on this project's 2-core host (1 MiB L2 per
 * core, 32 MiB L3): the bundled model (1.8 MB of merged weights, L3-
 * resident) decoded 16 streams batched at 1.6x the CPU time per clip of
 * unbatched (the prefixes' keys of all streams no longer stay in L2),
 * the Base-shape dense model (340 MB) at 0.48x. UPM_BATCH_STEPS=1 batches
 * every model's steps (tests), 0 none. */
#define UPM_BATCH_STEP_MIN_BYTES (16u << 20)

static gboolean
steps_worth_batching (const UpmContext *ctx)
{
  static gsize once;
  static int forced = -1;
  const UpmModel *m = ctx->model;
  size_t bytes = 0;

  if (g_once_init_enter (&once))
    {
      const char *env = g_getenv ("UPM_BATCH_STEPS");
      if (env && *env)
        forced = g_ascii_strtoll (env, NULL, 10) != 0;
      g_once_init_leave (&once, 1);
    }
  if (forced >= 0)
    return forced;
  for (uint32_t l = 0; l < m->hp.n_layer; l++)
    for (int i = 0; i < UPM_N_LIN; i++)
      bytes += (size_t)m->layers[l].lin[i].n_out * m->layers[l].lin[i].n_in;
  bytes *= ctx->precision == UPM_PRECISION_BF16 ? 2 : 4;
  return bytes >= UPM_BATCH_STEP_MIN_BYTES;
}

/* Step t of the fast path: with the steps of other streams (batching
 * contexts of static, non-context routing levels, models whose steps are
 * worth it), else alone. */
static gboolean
caption_step (
    UpmContext *ctx, BeamSearch *bs, uint32_t t, float *lp, GError **error)
{
  StepJob step = { ctx, bs, t, 0, lp };
  /* Steps batch with steps of the same precision (the layers' kernels). */
  UpmBatchJob job = { .run = step_batch,
    .key = GUINT_TO_POINTER (1u + ctx->precision),
    .data = &step,
    .rows = step_rows (&step) };

  if (!ctx->batcher || ctx->batch_wait_us <= 0 || !upm_ctx_chunked (ctx)
      || ctx->model->routing == UPM_ROUTING_CONTEXT
      || !steps_worth_batching (ctx))
    return fast_step (ctx, bs, t, lp, error);
  upm_batcher_submit (
      ctx->batcher, &ctx->batch_member, &job, ctx->batch_wait_us);
  if (!job.ok)
    g_propagate_error (error, job.error);
  return job.ok;
}

/* Step t of the plain path: the whole causal sequence of each beam. */
static gboolean
plain_step (
    UpmContext *ctx, BeamSearch *bs, uint32_t t, float *lp, GError **error)
{
  const UpmModel *m = ctx->model;
  const uint32_t d = m->hp.n_embd, lp_n = bs->lp_tokens, n = lp_n + t + 1;
  float *x = g_try_new (float, (size_t)n *d);
  gboolean ok = x != NULL;

  if (!ok)
    g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM, "out of memory");
  for (uint32_t b = 0; ok && b < bs->n_beams; b++)
    {
      UpmSegment segs[2] = {
        { UPM_ATTR_CAPTION_PREFIX, lp_n },
        { UPM_ATTR_CAPTION_TEXT, t + 1 },
      };
      memcpy (x, bs->prefix->embeddings, (size_t)lp_n * d * sizeof (float));
      for (uint32_t i = 0; ok && i < t; i++)
        upm_embed_text_token (
            m, bs->ids[b * bs->max_len + i], i, x + (size_t)(lp_n + i) * d);
      if (ok)
        {
          upm_embed_text_token (
              m, (int32_t)m->hp.spe_id, t, x + (size_t)(n - 1) * d);
          /* Count the rows the fast path runs: the last word and the query. */
          ctx->rec_from = n - (t > 0 ? 2 : 1);
          ok = upm_transformer_forward_causal (ctx, x, n, segs, 2, lp_n, error);
        }
      if (ok)
        vocab_log_probs (
            ctx, bs, x + (size_t)(n - 1) * d, d, 1, lp + (size_t)b * bs->vocab);
    }
  g_free (x);
  return ok;
}

typedef struct
{
  uint32_t src;
  int32_t word;
  float value;
} Candidate;

/* The best @k candidates over (beam x vocab), descending; a finished beam
 * may only extend with EOS at an unchanged score (others get -999). */
static uint32_t
select_candidates (const BeamSearch *bs, const float *lp, Candidate *best)
{
  const uint32_t k = MIN (bs->beam, bs->n_beams * bs->vocab);
  uint32_t n = 0;

  for (uint32_t b = 0; b < bs->n_beams; b++)
    {
      const float *row = lp + (size_t)b * bs->vocab;
      for (uint32_t v = 0; v < bs->vocab; v++)
        {
          float word_lp = row[v];
          if (bs->finished[b])
            word_lp = v == bs->eos ? 0.0f : -999.0f;
          const float value = bs->score[b] + word_lp;
          if (n == k && value <= best[k - 1].value)
            continue;
          uint32_t pos = n < k ? n++ : k - 1;
          while (pos > 0 && best[pos - 1].value < value)
            {
              best[pos] = best[pos - 1];
              pos--;
            }
          best[pos].src = b;
          best[pos].word = (int32_t)v;
          best[pos].value = value;
        }
    }
  return n;
}

/* New beams from the candidates: histories are re-gathered by source. */
static void
apply_candidates (
    UpmContext *ctx, BeamSearch *bs, const Candidate *c, uint32_t n, uint32_t t)
{
  const uint32_t d = ctx->model->hp.n_embd, nl = ctx->model->hp.n_layer;
  int32_t *ids = g_newa (int32_t, (size_t)n * bs->max_len);
  UpmCaptionState *st = ctx->caption;
  const size_t beam_floats = (size_t)nl * bs->max_len * d;

  for (uint32_t k = 0; k < n; k++)
    {
      memcpy (ids + (size_t)k * bs->max_len,
          bs->ids + (size_t)c[k].src * bs->max_len,
          bs->max_len * sizeof (int32_t));
      ids[(size_t)k * bs->max_len + t] = c[k].word;
      bs->score[k] = c[k].value;
      bs->finished[k] = (uint32_t)c[k].word == bs->eos;
    }
  memcpy (bs->ids, ids, (size_t)n * bs->max_len * sizeof (int32_t));
  if (st && st->words_cap && t > 0)
    {
      for (uint32_t k = 0; k < n; k++)
        {
          memcpy (st->tmp_k + k * beam_floats,
              st->word_k + c[k].src * beam_floats,
              beam_floats * sizeof (float));
          memcpy (st->tmp_v + k * beam_floats,
              st->word_v + c[k].src * beam_floats,
              beam_floats * sizeof (float));
        }
      float *swap = st->word_k;
      st->word_k = st->tmp_k;
      st->tmp_k = swap;
      swap = st->word_v;
      st->word_v = st->tmp_v;
      st->tmp_v = swap;
    }
  if (st && st->sums_cap && t > 0)
    {
      const size_t sum_beam = (size_t)nl * UPM_N_GATES * d;
      for (uint32_t k = 0; k < n; k++)
        memcpy (st->tmp_sum + k * sum_beam, st->word_sum + c[k].src * sum_beam,
            sum_beam * sizeof (float));
      float *swap = st->word_sum;
      st->word_sum = st->tmp_sum;
      st->tmp_sum = swap;
    }
  bs->n_beams = n;
}

static void
finish_caption (const UpmModel *m, const BeamSearch *bs, UpmCaption *out)
{
  uint32_t best = 0;
  float best_score = -INFINITY;

  for (uint32_t b = 0; b < bs->n_beams; b++)
    {
      uint32_t non_eos = 0;
      for (uint32_t i = 0; i < bs->max_len; i++)
        non_eos += (uint32_t)bs->ids[b * bs->max_len + i] != bs->eos;
      const float s
          = bs->score[b] / powf ((float)non_eos + 1.0f, bs->length_penalty);
      if (s > best_score)
        {
          best_score = s;
          best = b;
        }
    }
  const int32_t *ids = bs->ids + (size_t)best * bs->max_len;
  uint32_t n = 0;
  while (n < bs->max_len && (uint32_t)ids[n] != bs->eos)
    n++;
  out->ids = g_memdup2 (ids, MAX (n, 1) * sizeof (int32_t));
  out->n_ids = n;
  out->score = best_score;
  out->text = upm_bpe_decode (m->bpe, ids, n);
}

static gboolean
beam_init (UpmContext *ctx, BeamSearch *bs, UpmPrefix *prefix,
    const UpmCaptionParams *params, GError **error)
{
  UpmModel *m = ctx->model;
  const UpmHParams *hp = &m->hp;

  memset (bs, 0, sizeof *bs);
  bs->beam
      = params && params->beam_size ? params->beam_size : hp->caption_beam_size;
  bs->max_len = params && params->max_length ? params->max_length
                                             : hp->caption_max_length;
  bs->length_penalty = params && params->length_penalty >= 0.0f
                           ? params->length_penalty
                           : hp->caption_length_penalty;
  if (bs->beam < 1 || bs->beam > 64 || bs->max_len < 1
      || bs->max_len > hp->n_text_ctx)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "caption beam size %u (1..64) or max length %u (1..%u) out of range",
          bs->beam, bs->max_len, hp->n_text_ctx);
      return FALSE;
    }
  if (!prefix || prefix->model != m)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "the caption prefix was made with another model");
      return FALSE;
    }
  bs->vocab = hp->n_vocab;
  bs->eos = hp->eot_id;
  bs->scale = upm_model_logit_scale (m, UPM_SCALE_CAPTION);
  bs->lp_tokens = prefix->n_tokens;
  bs->prefix = prefix;
  bs->n_beams = 1;
  bs->vocab_feat = upm_model_vocab_features (m, NULL, NULL, error);
  if (!bs->vocab_feat)
    return FALSE;
  if (ctx->path == UPM_PATH_FAST && ctx->precision == UPM_PRECISION_INT8
      && upm_int8_decode_x8 ())
    {
      bs->vocab_wp = upm_engine_vocab_q8_packed (m, error);
      if (!bs->vocab_wp)
        return FALSE;
    }
  else if (ctx->path == UPM_PATH_FAST && ctx->precision == UPM_PRECISION_INT8)
    {
      bs->vocab_q8 = upm_engine_vocab_q8 (m, error);
      if (!bs->vocab_q8)
        return FALSE;
    }
  else if (ctx->path == UPM_PATH_FAST && upm_engine_vocab_f16_enabled ())
    {
      bs->vocab16 = upm_engine_vocab_f16 (m, error);
      if (!bs->vocab16)
        return FALSE;
    }
  bs->ids = g_new0 (int32_t, (size_t)bs->beam * bs->max_len);
  bs->score = g_new0 (float, bs->beam);
  bs->finished = g_new0 (gboolean, bs->beam);
  return TRUE;
}

static void
beam_clear (BeamSearch *bs)
{
  g_free (bs->ids);
  g_free (bs->score);
  g_free (bs->finished);
}

UpmPrefix *
upm_prefix_ref (UpmPrefix *prefix)
{
  g_atomic_int_inc (&prefix->ref_count);
  return prefix;
}

void
upm_prefix_unref (UpmPrefix *prefix)
{
  if (!prefix || !g_atomic_int_dec_and_test (&prefix->ref_count))
    return;
  g_free (prefix->kv);
  g_free (prefix->packed);
  g_free (prefix->kv16);
  g_free (prefix->packed16);
  g_free (prefix->embeddings);
  g_free (prefix->ctx_sum);
  upm_model_unref (prefix->model);
  g_free (prefix);
}

uint32_t
upm_prefix_n_tokens (const UpmPrefix *prefix)
{
  return prefix->n_tokens;
}

/* Whether an INT8 context keeps its caption prefixes' keys and values in
 * bfloat16 (prefix_kv_to_bf16): yes unless UPM_INT8_PREFIX_BF16=0. */
static gboolean
int8_prefix_bf16 (void)
{
  static gsize once;
  static gboolean on;

  if (g_once_init_enter (&once))
    {
      const char *e = g_getenv ("UPM_INT8_PREFIX_BF16");
      on = !(e && strcmp (e, "0") == 0);
      g_once_init_leave (&once, 1);
    }
  return on;
}

/* The prefix's keys and values in bfloat16 from now on: every decode
 * step reads them all (1569 keys x 12 layers of the Base shape: 116 MB in
 * float, as much as the int8 weights and vocabulary features together), so
 * halving them is the int8 step's largest saving after the weights'. Left
 * in float when memory runs out. */
static void
prefix_kv_to_bf16 (UpmPrefix *pf, const UpmHParams *hp)
{
  const uint32_t hd = hp->n_embd / hp->n_head;

  pf->kv16 = g_try_new (uint16_t, pf->kv_layer * hp->n_layer);
  if (!pf->kv16)
    return;
  pf->packed16 = g_new0 (UpmKvPacked16, hp->n_layer);
  for (uint32_t l = 0; l < hp->n_layer; l++)
    upm_kv_packed_to_bf16 (&pf->packed[l], hp->n_head, hd,
        pf->kv16 + l * pf->kv_layer, &pf->packed16[l]);
  g_clear_pointer (&pf->kv, g_free);
}

UpmPrefix *
upm_prefix_new (UpmContext *ctx, const float *embeddings, uint32_t n_tokens,
    UpmRouting *routing, GError **error)
{
  const UpmHParams *hp = &ctx->model->hp;
  const uint32_t s = UPM_HP_TOKENS_PER_FRAME (hp);
  UpmPrefix *pf;

  if (!embeddings || n_tokens < 1 + s || (n_tokens - 1) % s != 0
      || (n_tokens - 1) / s > hp->n_temporal)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "a caption prefix has 1 + frames x %u tokens (1 to %u frames), "
          "not %u",
          s, hp->n_temporal, n_tokens);
      return NULL;
    }
  pf = g_new0 (UpmPrefix, 1);
  pf->ref_count = 1;
  pf->model = upm_model_ref (ctx->model);
  pf->n_tokens = n_tokens;
  /* A prompt-tuned model's prompt keys come first in every layer. */
  pf->kv_layer = upm_kv_packed_size (upm_prompt_rows (ctx->model) + n_tokens,
      hp->n_head, hp->n_embd / hp->n_head);
  pf->kv = g_try_new (float, pf->kv_layer * hp->n_layer);
  pf->packed = g_new0 (UpmKvPacked, hp->n_layer);
  pf->embeddings
      = g_memdup2 (embeddings, (size_t)n_tokens * hp->n_embd * sizeof (float));
  if (ctx->model->routing == UPM_ROUTING_CONTEXT)
    pf->ctx_sum = g_new0 (float, (size_t)hp->n_layer *UPM_N_GATES * hp->n_embd);
  if (!pf->kv)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
          "out of memory for the caption key/value cache");
      upm_prefix_unref (pf);
      return NULL;
    }
  upm_ctx_record (ctx, routing, 0, TRUE);
  if (!prefix_encode (ctx, pf, error))
    {
      upm_ctx_record (ctx, NULL, 0, FALSE);
      upm_prefix_unref (pf);
      return NULL;
    }
  upm_ctx_record (ctx, NULL, 0, FALSE);
  if (ctx->precision == UPM_PRECISION_INT8 && int8_prefix_bf16 ())
    prefix_kv_to_bf16 (pf, hp);
  UpmSegment seg = { UPM_ATTR_CAPTION_PREFIX, n_tokens };
  upm_routing_add_segments (ctx->model, routing, &seg, 1, 0);
  return pf;
}

static gboolean
decode_prepare (UpmContext *ctx, BeamSearch *bs, GError **error)
{
  const UpmHParams *hp = &ctx->model->hp;

  if (ctx->path != UPM_PATH_FAST)
    return TRUE;
  if (!ctx->caption)
    {
      ctx->caption = g_new0 (UpmCaptionState, 1);
      ctx->caption_free = caption_state_free;
    }
  if (ctx->model->routing == UPM_ROUTING_CONTEXT)
    {
      UpmCaptionState *st = ctx->caption;
      const size_t sums
          = (size_t)bs->beam * hp->n_layer * UPM_N_GATES * hp->n_embd;
      if (sums > st->sums_cap)
        {
          g_free (st->word_sum);
          g_free (st->tmp_sum);
          g_free (st->base_sum);
          st->word_sum = g_try_new0 (float, sums);
          st->tmp_sum = g_try_new0 (float, sums);
          st->base_sum = g_try_new0 (float, sums);
          st->sums_cap = st->word_sum && st->tmp_sum && st->base_sum ? sums : 0;
          if (!st->sums_cap)
            {
              g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
                  "out of memory for the caption context sums");
              return FALSE;
            }
        }
    }
  return state_reserve (ctx->caption,
      (size_t)bs->beam * hp->n_layer * bs->max_len * hp->n_embd, error);
}

gboolean
upm_caption_decode (UpmContext *ctx, UpmPrefix *prefix,
    const UpmCaptionParams *params, UpmCaption *out, UpmRouting *routing,
    GError **error)
{
  const gboolean fast = ctx->path == UPM_PATH_FAST;
  BeamSearch bs;
  float *lp = NULL;
  Candidate *cand = NULL;
  gboolean ok;

  memset (out, 0, sizeof *out);
  if (!beam_init (ctx, &bs, prefix, params, error))
    return FALSE;
  ok = decode_prepare (ctx, &bs, error);
  lp = ok ? g_try_new (float, (size_t)bs.beam *bs.vocab) : NULL;
  cand = g_new (Candidate, bs.beam);
  if (ok && !lp)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM, "out of memory");
      ok = FALSE;
    }
  upm_ctx_record (ctx, routing, 0, FALSE);
  for (uint32_t t = 0; ok && t < bs.max_len; t++)
    {
      if (params && params->cancel && g_atomic_int_get (params->cancel))
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_CANCELLED,
              "caption decoding cancelled at step %u of %u", t, bs.max_len);
          ok = FALSE;
          break;
        }
      ok = fast ? caption_step (ctx, &bs, t, lp, error)
                : plain_step (ctx, &bs, t, lp, error);
      if (ok)
        apply_candidates (ctx, &bs, cand, select_candidates (&bs, lp, cand), t);
    }
  upm_ctx_record (ctx, NULL, 0, FALSE);
  if (ok)
    {
      UpmSegment seg = { UPM_ATTR_CAPTION_TEXT, bs.max_len };
      finish_caption (ctx->model, &bs, out);
      upm_routing_add_segments (ctx->model, routing, &seg, 1, bs.lp_tokens);
    }
  g_free (lp);
  g_free (cand);
  beam_clear (&bs);
  return ok;
}

/* [SPE, visual] embeddings of a clip into a fresh prefix. */
static UpmPrefix *
prefix_from_patches (UpmContext *ctx, const float *patches, uint32_t n_frames,
    UpmRouting *routing, GError **error)
{
  const UpmHParams *hp = &ctx->model->hp;
  uint32_t n;
  float *x;
  UpmPrefix *pf;

  if (!patches || n_frames < 1 || n_frames > hp->n_temporal)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "a clip has %u frames; this model takes 1 to %u", n_frames,
          hp->n_temporal);
      return NULL;
    }
  n = 1 + n_frames * UPM_HP_TOKENS_PER_FRAME (hp);
  x = g_try_new (float, (size_t)n * hp->n_embd);
  if (!x)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM, "out of memory");
      return NULL;
    }
  pf = upm_embed_patches (ctx, patches, n_frames, x, error)
           ? upm_prefix_new (ctx, x, n, routing, error)
           : NULL;
  g_free (x);
  return pf;
}

gboolean
upm_caption (UpmContext *ctx, const float *patches, uint32_t n_frames,
    const UpmCaptionParams *params, UpmCaption *out, UpmRouting *routing,
    GError **error)
{
  UpmPrefix *pf;
  gboolean ok;

  memset (out, 0, sizeof *out);
  pf = prefix_from_patches (ctx, patches, n_frames, routing, error);
  if (!pf)
    return FALSE;
  ok = upm_caption_decode (ctx, pf, params, out, routing, error);
  upm_prefix_unref (pf);
  return ok;
}

gboolean
upm_caption_first_step (UpmContext *ctx, const float *patches,
    uint32_t n_frames, float *logprobs, GError **error)
{
  UpmPrefix *pf = prefix_from_patches (ctx, patches, n_frames, NULL, error);
  BeamSearch bs;
  gboolean ok;

  if (!pf)
    return FALSE;
  ok = beam_init (ctx, &bs, pf, NULL, error);
  if (ok)
    {
      ok = decode_prepare (ctx, &bs, error)
           && (ctx->path == UPM_PATH_FAST
                   ? fast_step (ctx, &bs, 0, logprobs, error)
                   : plain_step (ctx, &bs, 0, logprobs, error));
      beam_clear (&bs);
    }
  upm_prefix_unref (pf);
  return ok;
}
