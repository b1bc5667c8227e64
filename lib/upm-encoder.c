/* upm-encoder.c: the shared encoder of Uni-Perceiver-MoE (model-spec §1,
 * §3): a layer in two halves (queries/keys/values, then the output
 * projection and the FFN) or over chunks of rows with packed keys and
 * values, the transformer over a sequence (bidirectional or causal after a
 * prefix), and the encoding of a clip or of texts into features.
 *
 * Uses: the embeddings (upm-embed.c), the experts of a layer's linears
 * (upm-moe.c), the context's scratch (upm-context.h), the model, the
 * kernels (upm-ops.h). Nothing above (heads and caption call in).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-encoder.h"

#include <pthread.h>
#include <string.h>

/* ---------------------------------------------------------------- layers */

/* The epilogue of the output projection: x += g1 (att Wo + bo), then
 * h = LN2(x) (the rows of x and h of the linear's output rows). */
static UpmEpilogue
attn_epilogue (const UpmModel *m, const UpmLayer *ly, float *x, float *h)
{
  return (UpmEpilogue){ .kind = UPM_EPI_RESIDUAL,
    .res = x,
    .scale = ly->attn_scale,
    .ln_w = ly->ffn_norm_w,
    .ln_b = ly->ffn_norm_b,
    .eps = m->hp.norm_eps,
    .ln_out = h };
}

/* The epilogue of the FFN's second linear: x += g2 (ff W2 + b2). */
static UpmEpilogue
ffn_epilogue (const UpmLayer *ly, float *x)
{
  return (UpmEpilogue){
    .kind = UPM_EPI_RESIDUAL, .res = x, .scale = ly->ffn_scale
  };
}

const float *
upm_layer_gate_input (UpmContext *ctx)
{
  return ctx->scratch.bufs[UPM_BUF_LAYER_H];
}

gboolean
upm_layer_qkv (UpmContext *ctx, uint32_t layer, const float *x, uint32_t n,
    const UpmSegment *segs, uint32_t n_segs, float *qkv, GError **error)
{
  const UpmModel *m = ctx->model;
  const UpmLayer *ly = &m->layers[layer];
  const uint32_t d = m->hp.n_embd;
  float *h = upm_ctx_buf (ctx, UPM_BUF_LAYER_H, (size_t)n * d, error);

  if (!h)
    return FALSE;
  upm_layer_norm (x, n, d, ly->attn_norm_w, ly->attn_norm_b, m->hp.norm_eps, h);
  return upm_moe_linear (
      ctx, layer, UPM_LIN_QKV, h, n, segs, n_segs, qkv, NULL, error);
}

gboolean
upm_layer_finish (UpmContext *ctx, uint32_t layer, float *x, const float *att,
    uint32_t n, const UpmSegment *segs, uint32_t n_segs, GError **error)
{
  const UpmModel *m = ctx->model;
  const UpmLayer *ly = &m->layers[layer];
  const uint32_t d = m->hp.n_embd, f = m->hp.n_ff;
  float *h = upm_ctx_buf (ctx, UPM_BUF_LAYER_H, (size_t)n * d, error);
  float *ff
      = h ? upm_ctx_buf (ctx, UPM_BUF_LAYER_FF, (size_t)n * f, error) : NULL;
  float *tmp
      = ff ? upm_ctx_buf (ctx, UPM_BUF_LAYER_TMP, (size_t)n * d, error) : NULL;
  /* x += g1 (att Wo + bo), h = LN2(x); ff = GELU(h W1 + b1);
   * x += g2 (ff W2 + b2). */
  const UpmEpilogue attn_epi = attn_epilogue (m, ly, x, h);
  const UpmEpilogue gelu_epi = { .kind = UPM_EPI_GELU };
  const UpmEpilogue ffn_epi = ffn_epilogue (ly, x);

  if (!tmp)
    return FALSE;
  return upm_moe_linear (ctx, layer, UPM_LIN_OUT, att, n, segs, n_segs, tmp,
             &attn_epi, error)
         && upm_moe_linear (
             ctx, layer, UPM_LIN_UP, h, n, segs, n_segs, ff, &gelu_epi, error)
         && upm_moe_linear (ctx, layer, UPM_LIN_DOWN, ff, n, segs, n_segs, tmp,
             &ffn_epi, error);
}

/* ------------------------------------------------------ chunked layers */

/* A layer over chunks of rows, one chunk per task of the pool: a task
 * runs its chunk's LayerNorms, projections, attention and FFN one after
 * the other (the kernels it calls run in its thread), so that a layer is
 * two parallel regions (keys/values, then the rest) whatever the number
 * of chunks. A task's scratch is rows x (2 D + MAX (ff block, D)) floats:
 * h (LN outputs), y (queries, projections' outputs, the FFN's sums) and f
 * (the attention output, then a block of FFN activations; y and f hold a
 * chunk's keys and values first). The calling thread uses the context's
 * scratch, a pool worker its own (shared by the contexts it serves). */
typedef struct
{
  UpmContext *ctx;
  /* n_prompt: the prompt keys packed before the rows' (keys 0..P-1) */
  uint32_t layer, n, n_q, rows, ff_block, causal_from, n_prompt;
  float *x;
  const UpmSegment *segs;
  uint32_t n_segs;
  float *kvbuf;
  UpmKvPacked kv;
  /* bf16 attention: the keys and values in bfloat16 in kvbuf instead */
  gboolean att_bf16;
  UpmKvBf16 kv16;
  pthread_t caller;
  float *caller_scratch;
  size_t scratch_floats;
  gint failed;
} ChunkJob;

typedef struct
{
  float *buf;
  size_t cap;
} ChunkScratch;

static void
chunk_scratch_free (gpointer data)
{
  ChunkScratch *cs = data;
  g_free (cs->buf);
  g_free (cs);
}

static GPrivate worker_scratch = G_PRIVATE_INIT (chunk_scratch_free);

/* NULL when the allocation is refused. */
static float *
chunk_scratch (ChunkJob *j)
{
  ChunkScratch *cs;

  if (pthread_equal (pthread_self (), j->caller))
    return j->caller_scratch;
  cs = g_private_get (&worker_scratch);
  if (!cs)
    {
      cs = g_new0 (ChunkScratch, 1);
      g_private_set (&worker_scratch, cs);
    }
  if (j->scratch_floats > cs->cap)
    {
      g_free (cs->buf);
      cs->cap = 0;
      cs->buf = g_try_malloc (j->scratch_floats * sizeof (float));
      if (cs->buf)
        cs->cap = j->scratch_floats;
    }
  return cs->buf;
}

/* The segments of rows [row, row + n) of segs into out (n_segs entries at
 * most); returns their count. */
static uint32_t
segments_slice (const UpmSegment *segs, uint32_t n_segs, uint32_t row,
    uint32_t n, UpmSegment *out)
{
  uint32_t k = 0, begin = 0;

  for (uint32_t s = 0; s < n_segs && n > 0; s++)
    {
      const uint32_t end = begin + segs[s].n_tokens;
      if (end > row)
        {
          const uint32_t take = MIN (end - row, n);
          out[k].attr = segs[s].attr;
          out[k++].n_tokens = take;
          row += take;
          n -= take;
        }
      begin = end;
    }
  return k;
}

/* Task i: the keys and values of chunk i (outputs D..3D of Wqkv). */
static void
chunk_kv_task (void *arg, uint32_t task)
{
  ChunkJob *j = arg;
  const UpmModel *m = j->ctx->model;
  const UpmLayer *ly = &m->layers[j->layer];
  const uint32_t d = m->hp.n_embd, hd = d / m->hp.n_head;
  const uint32_t r0 = task * j->rows, rows = MIN (j->rows, j->n - r0);
  float *h = chunk_scratch (j), *k, *v;
  UpmSegment *cs;
  UpmKvSpan span;
  UpmKvPacked packed;

  if (!h)
    {
      g_atomic_int_set (&j->failed, 1);
      return;
    }
  k = h + (size_t)j->rows * d;
  v = k + (size_t)rows * d;
  span = (UpmKvSpan){ k, v, d, rows };
  cs = g_new (UpmSegment, MAX (j->n_segs, 1));
  const uint32_t nc = segments_slice (j->segs, j->n_segs, r0, rows, cs);
  upm_layer_norm (j->x + (size_t)r0 * d, rows, d, ly->attn_norm_w,
      ly->attn_norm_b, m->hp.norm_eps, h);
  /* Keys, then values: D outputs a call (a calling thread's OpenBLAS
   * buffer grows with the outputs of its calls). */
  upm_moe_linear_fast (
      j->ctx, j->layer, UPM_LIN_QKV, d, d, h, rows, cs, nc, k, NULL);
  upm_moe_linear_fast (
      j->ctx, j->layer, UPM_LIN_QKV, 2 * d, d, h, rows, cs, nc, v, NULL);
  if (j->att_bf16)
    upm_kv_pack_bf16_at (
        &span, 1, m->hp.n_head, hd, j->n_prompt + r0, &j->kv16);
  else
    upm_kv_pack_at (&span, 1, m->hp.n_head, hd, j->n_prompt + j->n,
        j->n_prompt + r0, j->kvbuf, &packed);
  g_free (cs);
}

/* Task i: the rest of the layer for the query rows of chunk i. */
static void
chunk_rest_task (void *arg, uint32_t task)
{
  ChunkJob *j = arg;
  UpmContext *ctx = j->ctx;
  const UpmModel *m = ctx->model;
  const UpmLayer *ly = &m->layers[j->layer];
  const uint32_t d = m->hp.n_embd, f = m->hp.n_ff, hd = d / m->hp.n_head;
  const uint32_t r0 = task * j->rows, rows = MIN (j->rows, j->n_q - r0);
  float *xr = j->x + (size_t)r0 * d;
  float *h = chunk_scratch (j);
  float *y, *a;
  const UpmEpilogue attn_epi = attn_epilogue (m, ly, xr, h);
  const UpmEpilogue gelu_epi = { .kind = UPM_EPI_GELU };
  const UpmEpilogue ffn_epi = ffn_epilogue (ly, xr);
  UpmSegment *cs;

  if (!h)
    {
      g_atomic_int_set (&j->failed, 1);
      return;
    }
  y = h + (size_t)j->rows * d;
  a = y + (size_t)j->rows * d;
  cs = g_new (UpmSegment, MAX (j->n_segs, 1));
  const uint32_t nc = segments_slice (j->segs, j->n_segs, r0, rows, cs);
  /* q = Wq LN1(x); a = attention; x += g1 (a Wo + bo), h = LN2(x). */
  upm_layer_norm (
      xr, rows, d, ly->attn_norm_w, ly->attn_norm_b, m->hp.norm_eps, h);
  upm_moe_linear_fast (
      ctx, j->layer, UPM_LIN_QKV, 0, d, h, rows, cs, nc, y, NULL);
  if (j->att_bf16)
    upm_attention_bf16 (y, d, rows, &j->kv16, m->hp.n_head, hd,
        upm_prompt_causal (j->causal_from, j->n_prompt), j->n_prompt + r0, a,
        d);
  else
    upm_attention_packed (y, d, rows, &j->kv, m->hp.n_head, hd,
        upm_prompt_causal (j->causal_from, j->n_prompt), j->n_prompt + r0, a,
        d);
  upm_moe_linear_fast (
      ctx, j->layer, UPM_LIN_OUT, 0, d, a, rows, cs, nc, y, &attn_epi);
  /* x += g2 (W2 GELU(W1 h + b1) + b2), over blocks of the FFN's width:
   * y sums the blocks' products. */
  for (uint32_t k0 = 0; k0 < f; k0 += j->ff_block)
    {
      const uint32_t nb = MIN (j->ff_block, f - k0);
      upm_moe_linear_fast (
          ctx, j->layer, UPM_LIN_UP, k0, nb, h, rows, cs, nc, a, &gelu_epi);
      upm_moe_linear_fast_block (ctx, j->layer, UPM_LIN_DOWN, 0, d, k0, nb, a,
          rows, cs, nc, k0 > 0 ? 1.0f : 0.0f, k0 + nb >= f, y, &ffn_epi);
    }
  g_free (cs);
}

/* A buffer for the keys and values of a prompt's P rows. */
static float *
prompt_buf (uint32_t P, uint32_t d, GError **error)
{
  float *kv = g_try_new (float, (size_t)P * 2 * d);

  if (!kv)
    g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
        "out of memory for a prompt of %u rows", P);
  return kv;
}

/* The prompt's keys and values as keys 0..P-1 of the job's buffer. */
static gboolean
pack_prompt (ChunkJob *j, UpmAttr attr, GError **error)
{
  const UpmHParams *hp = &j->ctx->model->hp;
  const uint32_t d = hp->n_embd, hd = d / hp->n_head, P = j->n_prompt;
  float *pkv = prompt_buf (P, d, error);
  UpmKvSpan span = upm_prompt_span (pkv, P, d);
  UpmKvPacked packed;

  if (!pkv)
    return FALSE;
  if (!upm_prompt_kv (j->ctx, j->layer, attr, pkv, error))
    {
      g_free (pkv);
      return FALSE;
    }
  if (j->att_bf16)
    upm_kv_pack_bf16_at (&span, 1, hp->n_head, hd, 0, &j->kv16);
  else
    upm_kv_pack_at (&span, 1, hp->n_head, hd, P + j->n, 0, j->kvbuf, &packed);
  g_free (pkv);
  return TRUE;
}

gboolean
upm_layer_chunked (UpmContext *ctx, uint32_t layer, float *x, uint32_t n,
    const UpmSegment *segs, uint32_t n_segs, uint32_t causal_from, uint32_t n_q,
    float *kvbuf, UpmKvPacked *kv, GError **error)
{
  const UpmHParams *hp = &ctx->model->hp;
  const uint32_t d = hp->n_embd, f = hp->n_ff, t = upm_threads_get ();
  /* A multiple of the threads' count of chunks of at most row_chunk
   * rows, of even sizes. */
  const uint32_t per = MAX (ctx->row_chunk, 1) * t;
  const uint32_t n_chunks
      = MAX (n, 1) <= MAX (ctx->row_chunk, 1) ? 1 : t * ((n + per - 1) / per);
  const uint32_t rows = (MAX (n, 1) + n_chunks - 1) / n_chunks;
  const uint32_t n_tasks = (n + rows - 1) / rows;
  /* One chunk (a short sequence) runs in this thread, its kernels on the
   * pool, with the FFN in one block. */
  ChunkJob j = { .ctx = ctx,
    .layer = layer,
    .n = n,
    .n_q = MIN (n_q, n),
    .rows = rows,
    .ff_block
    = n_tasks <= 1 ? MAX (f, 1) : MIN (MAX (ctx->ff_block, 1), MAX (f, 1)),
    .causal_from = causal_from,
    .n_prompt = upm_prompt_rows (ctx->model),
    .x = x,
    .segs = segs,
    .n_segs = n_segs,
    .kvbuf = kvbuf,
    .att_bf16 = !kv && ctx->precision == UPM_PRECISION_BF16,
    .caller = pthread_self () };

  g_return_val_if_fail (upm_ctx_chunked (ctx), FALSE);
  j.scratch_floats = (size_t)rows * (2 * d + MAX (j.ff_block, d));
  j.caller_scratch = upm_ctx_buf (ctx, UPM_BUF_CHUNK, j.scratch_floats, error);
  if (!j.caller_scratch)
    return FALSE;
  upm_kv_packed_init (j.n_prompt + n, hp->n_head, d / hp->n_head, kvbuf, &j.kv);
  /* The bfloat16 keys fit the floats' buffer (upm_kv_bf16_size). */
  upm_kv_bf16_init (j.n_prompt + n, hp->n_head, d / hp->n_head, kvbuf, &j.kv16);
  if (j.n_prompt > 0 && !pack_prompt (&j, segs[0].attr, error))
    return FALSE;
  if (n_tasks <= 1)
    {
      if (n > 0)
        chunk_kv_task (&j, 0);
      if (j.n_q > 0)
        chunk_rest_task (&j, 0);
    }
  else
    {
      upm_parallel_for (n_tasks, chunk_kv_task, &j);
      upm_parallel_for ((j.n_q + rows - 1) / rows, chunk_rest_task, &j);
    }
  if (g_atomic_int_get (&j.failed))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
          "out of memory for the scratch of %u rows", rows);
      return FALSE;
    }
  if (kv)
    *kv = j.kv;
  return TRUE;
}

static gboolean
check_segments (
    uint32_t n, const UpmSegment *segs, uint32_t n_segs, GError **error)
{
  uint64_t total = 0;

  for (uint32_t s = 0; s < n_segs; s++)
    {
      if ((guint)segs[s].attr >= UPM_N_ATTRS)
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
              "segment %u has an invalid attribute row %d", s, segs[s].attr);
          return FALSE;
        }
      total += segs[s].n_tokens;
    }
  if (n_segs == 0 || total != n)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "segments cover %" G_GUINT64_FORMAT " tokens of a %u-token sequence",
          total, n);
      return FALSE;
    }
  return TRUE;
}

/* Segments restricted to the first row: the last layer only needs the
 * <SPE> output when @first_only is set. */
static uint32_t
first_row_segments (const UpmSegment *segs, UpmSegment *out)
{
  out[0].attr = segs[0].attr;
  out[0].n_tokens = 1;
  return 1;
}

/* The encoder over one sequence. Row r attends to keys < max(causal_from,
 * r + 1) (UINT32_MAX: bidirectional). With @first_only the last layer
 * updates only row 0. */
static gboolean
transformer_run (UpmContext *ctx, float *x, uint32_t n, const UpmSegment *segs,
    uint32_t n_segs, uint32_t causal_from, gboolean first_only, GError **error)
{
  const UpmHParams *hp = &ctx->model->hp;
  const uint32_t d = hp->n_embd, hd = d / hp->n_head;
  const uint32_t P = upm_prompt_rows (ctx->model);
  const size_t kv_floats = upm_kv_packed_size (P + n, hp->n_head, hd);
  /* Causal rows' contexts follow the attention mask; a context gate of
   * the last layer needs every row's attention output. */
  const UpmRouteScope causal = { 0, NULL, causal_from, NULL, NULL };
  /* With a prompt, P keys come first (never masked). */
  const uint32_t cf = upm_prompt_causal (causal_from, P);
  float *qkv, *att, *kvbuf, *pkv = NULL;
  gboolean ok = TRUE;

  if (upm_ctx_chunked (ctx))
    {
      /* Only x and the keys/values cover every row. */
      kvbuf = upm_ctx_buf (ctx, UPM_BUF_ENC_KV, kv_floats, error);
      for (uint32_t l = 0; kvbuf && ok && l < hp->n_layer; l++)
        {
          const gboolean last_only = first_only && l + 1 == hp->n_layer;
          ok = upm_layer_chunked (ctx, l, x, n, segs, n_segs, causal_from,
              last_only ? 1 : n, kvbuf, NULL, error);
        }
      return kvbuf && ok;
    }
  qkv = upm_ctx_buf (ctx, UPM_BUF_ENC_QKV, (size_t)n * 3 * d, error);
  att = qkv ? upm_ctx_buf (ctx, UPM_BUF_ENC_ATT, (size_t)n * d, error) : NULL;
  kvbuf = att ? upm_ctx_buf (ctx, UPM_BUF_ENC_KV, kv_floats, error) : NULL;
  if (!kvbuf)
    return FALSE;
  if (P > 0 && !(pkv = prompt_buf (P, d, error)))
    return FALSE;
  /* Context gates of the last layer need every row's attention output;
   * recorded per-token routing covers every row. */
  if (ctx->model->routing == UPM_ROUTING_CONTEXT || ctx->rec)
    first_only = FALSE;
  ctx->scope = causal_from != UINT32_MAX ? &causal : NULL;
  for (uint32_t l = 0; ok && l < hp->n_layer; l++)
    {
      const gboolean last_only = first_only && l + 1 == hp->n_layer;
      const uint32_t n_q = last_only ? 1 : n;
      UpmSegment first_seg[1];
      const UpmSegment *fs = segs;
      uint32_t n_fs = n_segs;
      /* [prompt, rows]: the tokens' span alone without a prompt. */
      UpmKvSpan spans[2]
          = { upm_prompt_span (pkv, P, d), { qkv + d, qkv + 2 * d, 3 * d, n } };
      const UpmKvSpan *sp = P > 0 ? spans : spans + 1;
      const uint32_t n_sp = P > 0 ? 2 : 1;
      UpmKvPacked kv;

      /* The prompt first: a dynamic level's output projection uses the
       * decisions of the last QKV linear, the rows'. */
      if ((P > 0 && !upm_prompt_kv (ctx, l, segs[0].attr, pkv, error))
          || !upm_layer_qkv (ctx, l, x, n, segs, n_segs, qkv, error))
        {
          ok = FALSE;
          break;
        }
      if (ctx->precision == UPM_PRECISION_BF16)
        {
          /* The bfloat16 keys fit the floats' buffer. */
          UpmKvBf16 kv16;
          upm_kv_bf16_init (P + n, hp->n_head, hd, kvbuf, &kv16);
          upm_kv_pack_bf16_at (sp, n_sp, hp->n_head, hd, 0, &kv16);
          upm_attention_bf16 (
              qkv, 3 * d, n_q, &kv16, hp->n_head, hd, cf, P, att, d);
        }
      else
        {
          upm_kv_pack (sp, n_sp, hp->n_head, hd, kvbuf, &kv);
          upm_attention_packed (
              qkv, 3 * d, n_q, &kv, hp->n_head, hd, cf, P, att, d);
        }
      if (last_only)
        n_fs = first_row_segments (segs, first_seg), fs = first_seg;
      ok = upm_layer_finish (ctx, l, x, att, n_q, fs, n_fs, error);
    }
  ctx->scope = NULL;
  g_free (pkv);
  return ok;
}

static gboolean visual_batchable (const UpmContext *ctx, uint32_t n);
static gboolean forward_submit (UpmContext *ctx, float *x, uint32_t n,
    UpmAttr attr, UpmRouting *routing, GError **error);
static gboolean encode_visual_submit (UpmContext *ctx, const float *patches,
    uint32_t n_frames, UpmAttr attr, float *feature, UpmRouting *routing,
    GError **error);

gboolean
upm_transformer_forward (UpmContext *ctx, float *x, uint32_t n,
    const UpmSegment *segs, uint32_t n_segs, UpmForwardFlags flags,
    UpmRouting *routing, GError **error)
{
  if (!check_segments (n, segs, n_segs, error))
    return FALSE;
  /* One segment, its SPE row: what upmtransformer runs per clip. */
  if (n_segs == 1 && (flags & UPM_FORWARD_SPE_ONLY)
      && visual_batchable (ctx, n))
    return forward_submit (ctx, x, n, segs[0].attr, routing, error);
  upm_ctx_record (ctx, routing, 0, TRUE);
  gboolean ok = transformer_run (ctx, x, n, segs, n_segs, UINT32_MAX,
      (flags & UPM_FORWARD_SPE_ONLY) != 0, error);
  upm_ctx_record (ctx, NULL, 0, FALSE);
  if (!ok)
    return FALSE;
  upm_routing_add_segments (ctx->model, routing, segs, n_segs, 0);
  return TRUE;
}

gboolean
upm_transformer_forward_causal (UpmContext *ctx, float *x, uint32_t n,
    const UpmSegment *segs, uint32_t n_segs, uint32_t causal_from,
    GError **error)
{
  if (!check_segments (n, segs, n_segs, error))
    return FALSE;
  return transformer_run (ctx, x, n, segs, n_segs, causal_from, FALSE, error);
}

void
upm_feature_from_hidden (UpmContext *ctx, const float *h, float *feature)
{
  const UpmModel *m = ctx->model;
  const uint32_t d = m->hp.n_embd;
  float *t = g_newa (float, d);

  upm_layer_norm (h, 1, d, m->post_norm_w, m->post_norm_b, m->hp.norm_eps, t);
  upm_linear (t, 1, d, m->proj_w, m->proj_b, d, feature);
  upm_l2_normalize (feature, d);
}

gboolean
upm_encode_visual (UpmContext *ctx, const float *patches, uint32_t n_frames,
    UpmAttr attr, float *feature, UpmRouting *routing, GError **error)
{
  const UpmHParams *hp = &ctx->model->hp;
  const uint32_t d = hp->n_embd;
  uint32_t n;
  float *x;
  UpmSegment seg;

  if (!patches || n_frames < 1 || n_frames > hp->n_temporal
      || (guint)attr >= UPM_N_ATTRS)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "invalid visual input: %u frames (model takes 1 to %u)", n_frames,
          hp->n_temporal);
      return FALSE;
    }
  n = 1 + n_frames * UPM_HP_TOKENS_PER_FRAME (hp);
  if (visual_batchable (ctx, n))
    return encode_visual_submit (
        ctx, patches, n_frames, attr, feature, routing, error);
  x = upm_ctx_buf (ctx, UPM_BUF_ENC_X, (size_t)n * d, error);
  if (!x || !upm_embed_patches (ctx, patches, n_frames, x, error))
    return FALSE;
  seg.attr = attr;
  seg.n_tokens = n;
  upm_ctx_record (ctx, routing, 0, TRUE);
  gboolean ok = transformer_run (ctx, x, n, &seg, 1, UINT32_MAX, TRUE, error);
  upm_ctx_record (ctx, NULL, 0, FALSE);
  if (!ok)
    return FALSE;
  upm_routing_add_segments (ctx->model, routing, &seg, 1, 0);
  upm_feature_from_hidden (ctx, x, feature);
  return TRUE;
}

gboolean
upm_encode_visual_hidden (UpmContext *ctx, const float *patches,
    uint32_t n_frames, UpmAttr attr, float *hidden, UpmRouting *routing,
    GError **error)
{
  const UpmHParams *hp = &ctx->model->hp;
  const uint32_t d = hp->n_embd;
  uint32_t n;
  float *x;
  UpmSegment seg;
  gboolean ok;

  if (!patches || n_frames < 1 || n_frames > hp->n_temporal
      || (guint)attr >= UPM_N_ATTRS)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "invalid visual input: %u frames (model takes 1 to %u)", n_frames,
          hp->n_temporal);
      return FALSE;
    }
  n = 1 + n_frames * UPM_HP_TOKENS_PER_FRAME (hp);
  /* Not a scratch slot: a batched forward runs on another context's. */
  x = g_try_new (float, (size_t)n *d);
  if (!x)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
          "out of memory for a clip of %u tokens", n);
      return FALSE;
    }
  seg.attr = attr;
  seg.n_tokens = n;
  ok = upm_embed_patches (ctx, patches, n_frames, x, error)
       && upm_transformer_forward (
           ctx, x, n, &seg, 1, UPM_FORWARD_SPE_ONLY, routing, error);
  if (ok)
    memcpy (hidden, x, d * sizeof (float));
  g_free (x);
  return ok;
}

typedef struct
{
  const float *qkv;
  float *att;
  const uint32_t *n_ids;
  uint32_t len, d, n_head, hd;
  const float *pkv; /* the prompt's keys and values, P rows (or none) */
  uint32_t n_prompt;
} TextAttJob;

/* Attention of one text of a batch (the prompt's keys and its own). */
static void
text_att_task (void *arg, uint32_t i)
{
  const TextAttJob *j = arg;
  const uint32_t n = j->n_ids[i] + 1, d = j->d;
  const float *q = j->qkv + (size_t)i * j->len * 3 * d;
  UpmKvSpan spans[2] = { upm_prompt_span (j->pkv, j->n_prompt, d),
    { q + d, q + 2 * d, 3 * d, n } };
  const gboolean prompt = j->n_prompt > 0;

  upm_attention (q, 3 * d, n, prompt ? spans : spans + 1, prompt ? 2 : 1,
      j->n_head, j->hd, UINT32_MAX, 0, j->att + (size_t)i * j->len * d, d,
      NULL);
}

/* Several texts of one attribute row, padded on the right to one length:
 * padded keys are masked by restricting each sequence's key range. */
static gboolean
encode_text_batch (UpmContext *ctx, const int32_t *const *ids,
    const uint32_t *n_ids, uint32_t n_texts, UpmAttr attr, float *features,
    GError **error)
{
  const UpmHParams *hp = &ctx->model->hp;
  const uint32_t d = hp->n_embd, hd = d / hp->n_head;
  uint32_t len = 0;

  for (uint32_t i = 0; i < n_texts; i++)
    {
      if (!upm_embed_check_ids (ctx->model, ids[i], n_ids[i], error))
        return FALSE;
      len = MAX (len, n_ids[i] + 1);
    }
  const uint32_t rows = n_texts * len;
  float *x = upm_ctx_buf (ctx, UPM_BUF_ENC_X, (size_t)rows * d, error);
  float *qkv
      = x ? upm_ctx_buf (ctx, UPM_BUF_ENC_QKV, (size_t)rows * 3 * d, error)
          : NULL;
  float *att = qkv ? upm_ctx_buf (ctx, UPM_BUF_ENC_ATT, (size_t)rows * d, error)
                   : NULL;
  UpmSegment seg = { attr, rows };
  uint32_t *valid = g_newa (uint32_t, n_texts);
  const UpmRouteScope scope = { len, valid, UINT32_MAX, NULL, NULL };
  const uint32_t P = upm_prompt_rows (ctx->model);
  float *pkv = NULL;
  gboolean ok = TRUE;

  if (!att || (P > 0 && !(pkv = prompt_buf (P, d, error))))
    return FALSE;
  for (uint32_t i = 0; i < n_texts; i++)
    valid[i] = n_ids[i] + 1;
  memset (x, 0, (size_t)rows * d * sizeof (float));
  memset (att, 0, (size_t)rows * d * sizeof (float));
  for (uint32_t i = 0; i < n_texts; i++)
    upm_embed_text (ctx, ids[i], n_ids[i], x + (size_t)i * len * d, NULL);

  ctx->scope = &scope;
  for (uint32_t l = 0; ok && l < hp->n_layer; l++)
    {
      TextAttJob job = { qkv, att, n_ids, len, d, hp->n_head, hd, pkv, P };
      ok = (P == 0 || upm_prompt_kv (ctx, l, attr, pkv, error))
           && upm_layer_qkv (ctx, l, x, rows, &seg, 1, qkv, error);
      if (ok)
        upm_parallel_for (n_texts, text_att_task, &job);
      ok = ok && upm_layer_finish (ctx, l, x, att, rows, &seg, 1, error);
    }
  ctx->scope = NULL;
  g_free (pkv);
  if (!ok)
    return FALSE;
  for (uint32_t i = 0; i < n_texts; i++)
    upm_feature_from_hidden (
        ctx, x + (size_t)i * len * d, features + (size_t)i * d);
  return TRUE;
}

/* Texts are sorted by length and encoded in chunks of similar length. */
#define UPM_TEXT_CHUNK 256
/* ... and at most this many padded rows, which bounds the scratch buffers
 * (about 11 D floats per row) while the GEMMs stay large. */
#define UPM_TEXT_ROWS 1024

typedef struct
{
  uint32_t index;
  uint32_t len;
} LenIndex;

static gint
cmp_len (gconstpointer a, gconstpointer b)
{
  const LenIndex *x = a, *y = b;
  return x->len < y->len       ? -1
         : x->len > y->len     ? 1
         : x->index < y->index ? -1
                               : x->index > y->index;
}

gboolean
upm_encode_texts_progress (UpmContext *ctx, const int32_t *const *ids,
    const uint32_t *n_ids, uint32_t n_texts, UpmAttr attr, float *features,
    UpmProgressFunc progress, gpointer user_data, const char *what,
    GError **error)
{
  const uint32_t d = ctx->model->hp.n_embd;
  LenIndex *order = g_new (LenIndex, MAX (n_texts, 1));
  const int32_t **cids = g_new (const int32_t *, UPM_TEXT_CHUNK);
  uint32_t *clen = g_new (uint32_t, UPM_TEXT_CHUNK);
  float *cfeat = g_new (float, (size_t)UPM_TEXT_CHUNK *d);
  gboolean ok = TRUE;

  for (uint32_t i = 0; i < n_texts; i++)
    {
      order[i].index = i;
      order[i].len = n_ids[i];
    }
  qsort (order, n_texts, sizeof *order,
      (int (*) (const void *, const void *))cmp_len);
  for (uint32_t s = 0, cnt = 0; s < n_texts && ok; s += cnt)
    {
      /* Ascending lengths: the last text of a chunk is its longest. */
      cnt = 1;
      while (s + cnt < n_texts && cnt < UPM_TEXT_CHUNK
             && (cnt + 1) * (order[s + cnt].len + 1) <= UPM_TEXT_ROWS)
        cnt++;
      for (uint32_t k = 0; k < cnt; k++)
        {
          cids[k] = ids[order[s + k].index];
          clen[k] = n_ids[order[s + k].index];
        }
      ok = encode_text_batch (ctx, cids, clen, cnt, attr, cfeat, error);
      for (uint32_t k = 0; ok && k < cnt; k++)
        memcpy (features + (size_t)order[s + k].index * d,
            cfeat + (size_t)k * d, d * sizeof (float));
      if (progress)
        progress ((double)(s + cnt) / n_texts, what, user_data);
    }
  g_free (order);
  g_free (cids);
  g_free (clen);
  g_free (cfeat);
  return ok;
}

gboolean
upm_encode_texts (UpmContext *ctx, const int32_t *const *ids,
    const uint32_t *n_ids, uint32_t n_texts, UpmAttr attr, float *features,
    GError **error)
{
  if ((guint)attr >= UPM_N_ATTRS)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "invalid attribute row %d", attr);
      return FALSE;
    }
  return upm_encode_texts_progress (
      ctx, ids, n_ids, n_texts, attr, features, NULL, NULL, NULL, error);
}

/* ------------------------------------------- clips of several streams */

/* A clip submitted to the model's batcher (upm_context_set_batch_wait). */
typedef struct
{
  UpmContext *ctx;
  const float *patches; /* a clip's patches, embedded by the batch */
  float *x_io; /* or its embedded rows, updated as the unbatched forward */
  uint32_t n_frames, n, row; /* tokens, first row in the batch */
  UpmAttr attr;
  float *feature; /* NULL with x_io */
  UpmRouting *routing;
} VisualJob;

/* Clips that the unbatched path runs as one chunk (so that the batched
 * layers compute each row as it does), on a static routing level. */
static gboolean
visual_batchable (const UpmContext *ctx, uint32_t n)
{
  return ctx->batcher && ctx->batch_wait_us > 0 && upm_ctx_chunked (ctx)
         && n <= MAX (ctx->row_chunk, 1);
}

typedef struct
{
  VisualJob **clips;
  const float *q, *k, *v;
  float *att, *kvbuf;
  size_t kv_floats;
  uint32_t d, n_head, hd;
  gboolean bf16, spe_only;
  const float **pkv; /* per clip: its attribute row's prompt keys/values */
  uint32_t n_prompt;
} BatchAttJob;

/* Task i: clip i's keys and values packed as the chunked layer packs
 * them, and the attention of its queries (its SPE row only when
 * spe_only). */
static void
batch_att_task (void *arg, uint32_t i)
{
  const BatchAttJob *j = arg;
  const VisualJob *c = j->clips[i];
  const size_t off = (size_t)c->row * j->d;
  const uint32_t n_q = j->spe_only ? 1 : c->n;
  float *buf = j->kvbuf + i * j->kv_floats;
  const uint32_t P = j->n_prompt, n_keys = P + c->n;
  UpmKvSpan spans[2] = { upm_prompt_span (P ? j->pkv[i] : NULL, P, j->d),
    { j->k + off, j->v + off, j->d, c->n } };
  const UpmKvSpan *sp = P > 0 ? spans : spans + 1;
  const uint32_t n_sp = P > 0 ? 2 : 1;

  if (j->bf16)
    {
      UpmKvBf16 kv16;
      upm_kv_bf16_init (n_keys, j->n_head, j->hd, buf, &kv16);
      upm_kv_pack_bf16_at (sp, n_sp, j->n_head, j->hd, 0, &kv16);
      upm_attention_bf16 (j->q + off, j->d, n_q, &kv16, j->n_head, j->hd,
          UINT32_MAX, P, j->att + off, j->d);
    }
  else
    {
      UpmKvPacked kv, packed;
      upm_kv_packed_init (n_keys, j->n_head, j->hd, buf, &kv);
      upm_kv_pack_at (sp, n_sp, j->n_head, j->hd, n_keys, 0, buf, &packed);
      upm_attention_packed (j->q + off, j->d, n_q, &kv, j->n_head, j->hd,
          UINT32_MAX, P, j->att + off, j->d);
    }
}

static gint
cmp_clip_attr (gconstpointer a, gconstpointer b, gpointer unused)
{
  const VisualJob *x = *(VisualJob *const *)a, *y = *(VisualJob *const *)b;

  (void)unused;
  return (x->attr > y->attr) - (x->attr < y->attr);
}

/* One segment per run of clips with the same attribute row (the clips
 * sorted by it): rows of the same merged experts share one GEMM. */
static uint32_t
batch_segments (VisualJob **clips, guint n_clips, UpmSegment *segs)
{
  uint32_t n_segs = 0;

  for (guint i = 0; i < n_clips; i++)
    if (n_segs > 0 && segs[n_segs - 1].attr == clips[i]->attr)
      segs[n_segs - 1].n_tokens += clips[i]->n;
    else
      segs[n_segs++] = (UpmSegment){ clips[i]->attr, clips[i]->n };
  return n_segs;
}

/* The last layer's queries: each clip's SPE row alone (as the unbatched
 * layer computes its one query row). */
static void
spe_queries (UpmContext *ctx, uint32_t layer, VisualJob **clips, guint n_clips,
    const float *h, float *q)
{
  const uint32_t d = ctx->model->hp.n_embd;

  for (guint i = 0; i < n_clips; i++)
    {
      const size_t off = (size_t)clips[i]->row * d;
      UpmSegment seg = { clips[i]->attr, 1 };
      upm_moe_linear_fast (
          ctx, layer, UPM_LIN_QKV, 0, d, h + off, 1, &seg, 1, q + off, NULL);
    }
}

/* The encoder over the clips' rows [R, D]: per layer, LN1 and the
 * queries, keys and values of all rows (as the chunked layer's calls),
 * attention per clip, then the output projection and the FFN of all rows;
 * the last layer for the clips' SPE rows only (into x1, row i clip i's). */
static gboolean
batch_layers (UpmContext *ctx, VisualJob **clips, guint n_clips, uint32_t rows,
    float *x, float *x1, GError **error)
{
  const UpmModel *m = ctx->model;
  const UpmHParams *hp = &m->hp;
  const uint32_t d = hp->n_embd, hd = d / hp->n_head;
  UpmSegment *segs = g_newa (UpmSegment, n_clips);
  const uint32_t n_segs = batch_segments (clips, n_clips, segs);
  const uint32_t P = upm_prompt_rows (m);
  size_t kv_floats = 0;
  float *qkv, *att, *kvbuf, *h, *a1, *pkv = NULL;
  const float **clip_pkv = g_newa (const float *, n_clips);
  gboolean ok = TRUE;

  for (guint i = 0; i < n_clips; i++)
    kv_floats
        = MAX (kv_floats, upm_kv_packed_size (P + clips[i]->n, hp->n_head, hd));
  /* One prompt per segment (attribute row); the clips in segment order. */
  if (P > 0 && !(pkv = prompt_buf (P * n_segs, d, error)))
    return FALSE;
  for (guint i = 0, s = 0, left = segs[0].n_tokens; P > 0 && i < n_clips; i++)
    {
      if (left == 0)
        left = segs[++s].n_tokens;
      clip_pkv[i] = pkv + (size_t)s * P * 2 * d;
      left -= clips[i]->n;
    }
  qkv = upm_ctx_buf (ctx, UPM_BUF_ENC_QKV, (size_t)rows * 3 * d, error);
  att = qkv ? upm_ctx_buf (ctx, UPM_BUF_ENC_ATT, (size_t)rows * d, error)
            : NULL;
  kvbuf = att ? upm_ctx_buf (ctx, UPM_BUF_ENC_KV, kv_floats * n_clips, error)
              : NULL;
  h = kvbuf ? upm_ctx_buf (ctx, UPM_BUF_LAYER_H, (size_t)rows * d, error)
            : NULL;
  if (!h)
    {
      g_free (pkv);
      return FALSE;
    }
  a1 = g_new (float, (size_t)n_clips *d);
  for (uint32_t l = 0; ok && l < hp->n_layer; l++)
    {
      const UpmLayer *ly = &m->layers[l];
      const gboolean last = l + 1 == hp->n_layer;
      BatchAttJob aj = { clips, qkv, qkv + (size_t)rows * d,
        qkv + (size_t)2 * rows * d, att, kvbuf, kv_floats, d, hp->n_head, hd,
        ctx->precision == UPM_PRECISION_BF16, last, clip_pkv, P };

      for (uint32_t s = 0; ok && P > 0 && s < n_segs; s++)
        ok = upm_prompt_kv (
            ctx, l, segs[s].attr, pkv + (size_t)s * P * 2 * d, error);
      if (!ok)
        break;

      /* LN1 may reuse LAYER_H: upm_layer_finish asks for it again. */
      h = upm_ctx_buf (ctx, UPM_BUF_LAYER_H, (size_t)rows * d, error);
      upm_layer_norm (
          x, rows, d, ly->attn_norm_w, ly->attn_norm_b, hp->norm_eps, h);
      for (uint32_t part = last ? 1 : 0; part < 3; part++)
        upm_moe_linear_fast (ctx, l, UPM_LIN_QKV, part * d, d, h, rows, segs,
            n_segs, qkv + (size_t)part * rows * d, NULL);
      if (last)
        spe_queries (ctx, l, clips, n_clips, h, qkv);
      upm_parallel_for (n_clips, batch_att_task, &aj);
      if (!last)
        {
          ok = upm_layer_finish (ctx, l, x, att, rows, segs, n_segs, error);
          continue;
        }
      /* The SPE rows one by one, as the unbatched layer runs its one row
       * (the kernels of one row and of several round differently). */
      for (guint i = 0; ok && i < n_clips; i++)
        {
          const size_t off = (size_t)clips[i]->row * d;
          UpmSegment seg = { clips[i]->attr, 1 };
          memcpy (x1 + (size_t)i * d, x + off, d * sizeof (float));
          memcpy (a1 + (size_t)i * d, att + off, d * sizeof (float));
          ok = upm_layer_finish (ctx, l, x1 + (size_t)i * d, a1 + (size_t)i * d,
              1, &seg, 1, error);
        }
    }
  g_free (a1);
  g_free (pkv);
  return ok;
}

static void
batch_fail (UpmBatchJob **jobs, guint n, const GError *error)
{
  for (guint i = 0; i < n; i++)
    {
      jobs[i]->ok = FALSE;
      jobs[i]->error = g_error_copy (error);
    }
}

static gpointer
batch_scratch_new (UpmModel *model)
{
  (void)model;
  return upm_scratch_pool_new ();
}

/* A scratch for a batch of several clips, from the model's pool: the
 * leader's own scratch keeps the size of its own clips (in the hour-long
 * fleet soak, every context's scratch had grown to the largest batch it
 * ever led). */
static UpmScratch *
batch_scratch_take (UpmModel *model)
{
  UpmScratch *s;

  g_mutex_lock (&model->lock);
  s = upm_scratch_pool_take (
      upm_model_cache_locked (model, UPM_MODEL_CACHE_BATCH_SCRATCH,
          batch_scratch_new, (GDestroyNotify)upm_scratch_pool_free));
  g_mutex_unlock (&model->lock);
  return s;
}

static void
batch_scratch_give (UpmModel *model, UpmScratch *s)
{
  g_mutex_lock (&model->lock);
  upm_scratch_pool_give (
      upm_model_cache_peek_locked (model, UPM_MODEL_CACHE_BATCH_SCRATCH), s);
  g_mutex_unlock (&model->lock);
}

/* UpmBatchRun of clips: runs in the thread of one submitter, with the
 * scratch of the first job's context (its thread waits for this run). */
static void
encode_visual_batch (UpmBatchJob **jobs, guint n)
{
  VisualJob **clips = g_newa (VisualJob *, n);
  UpmContext *ctx = ((VisualJob *)jobs[0]->data)->ctx;
  const uint32_t d = ctx->model->hp.n_embd;
  uint32_t rows = 0;
  float *x, *x1 = g_new (float, (size_t)n *d);
  GError *error = NULL;
  UpmScratch own = ctx->scratch, *batch = NULL;

  if (n > 1)
    {
      /* the leader's context runs the batch on a pooled scratch */
      batch = batch_scratch_take (ctx->model);
      ctx->scratch = *batch;
    }
  for (guint i = 0; i < n; i++)
    clips[i] = jobs[i]->data;
  /* Stable: the clips of one attribute row keep their order. */
  g_qsort_with_data (clips, n, sizeof *clips, cmp_clip_attr, NULL);
  for (guint i = 0; i < n; i++)
    {
      clips[i]->row = rows;
      rows += clips[i]->n;
    }
  x = upm_ctx_buf (ctx, UPM_BUF_ENC_X, (size_t)rows * d, &error);
  for (guint i = 0; x && i < n; i++)
    if (clips[i]->x_io)
      memcpy (x + (size_t)clips[i]->row * d, clips[i]->x_io,
          (size_t)clips[i]->n * d * sizeof (float));
    else if (!upm_embed_patches (ctx, clips[i]->patches, clips[i]->n_frames,
                 x + (size_t)clips[i]->row * d, &error))
      x = NULL;
  if (x && batch_layers (ctx, clips, n, rows, x, x1, &error))
    for (guint i = 0; i < n; i++)
      {
        UpmSegment seg = { clips[i]->attr, clips[i]->n };
        if (clips[i]->x_io)
          {
            /* As the unbatched forward leaves x: the inputs of the last
             * layer, its output in row 0. */
            memcpy (clips[i]->x_io, x + (size_t)clips[i]->row * d,
                (size_t)clips[i]->n * d * sizeof (float));
            memcpy (clips[i]->x_io, x1 + (size_t)i * d, d * sizeof (float));
          }
        else
          upm_feature_from_hidden (
              clips[i]->ctx, x1 + (size_t)i * d, clips[i]->feature);
        upm_routing_add_segments (ctx->model, clips[i]->routing, &seg, 1, 0);
      }
  if (error)
    batch_fail (jobs, n, error);
  else
    for (guint i = 0; i < n; i++)
      jobs[i]->ok = TRUE;
  g_clear_error (&error);
  g_free (x1);
  if (batch)
    {
      *batch = ctx->scratch;
      ctx->scratch = own;
      batch_scratch_give (ctx->model, batch);
    }
}

static gboolean
encode_submit (UpmContext *ctx, VisualJob *clip, GError **error)
{
  /* Clips batch with clips of the same precision (the layers' kernels). */
  UpmBatchJob job = { .run = encode_visual_batch,
    .key = GUINT_TO_POINTER (1u + ctx->precision),
    .data = clip,
    .rows = clip->n };

  upm_batcher_submit (
      ctx->batcher, &ctx->batch_member, &job, ctx->batch_wait_us);
  if (!job.ok)
    g_propagate_error (error, job.error);
  return job.ok;
}

static gboolean
encode_visual_submit (UpmContext *ctx, const float *patches, uint32_t n_frames,
    UpmAttr attr, float *feature, UpmRouting *routing, GError **error)
{
  VisualJob clip = { ctx, patches, NULL, n_frames,
    1 + n_frames * UPM_HP_TOKENS_PER_FRAME (&ctx->model->hp), 0, attr, feature,
    routing };

  return encode_submit (ctx, &clip, error);
}

static gboolean
forward_submit (UpmContext *ctx, float *x, uint32_t n, UpmAttr attr,
    UpmRouting *routing, GError **error)
{
  VisualJob clip = { ctx, NULL, x, 0, n, 0, attr, NULL, routing };

  return encode_submit (ctx, &clip, error);
}
