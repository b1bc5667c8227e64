/* upm-moe.c: the mixture of experts of a layer's linears (model-spec §3):
 * the gates, the five routing levels (static attribute, modality and task
 * decisions made once per attribute row; dynamic token and context
 * decisions per row), the merged experts of the static levels (a cache in
 * the model's UPM_MODEL_CACHE_MOE slot), and the dispatch of a linear to
 * its experts, fused with its epilogue.
 *
 * Uses: the context's fields and scratch (upm-context.h), the routing
 * record (upm-routing.c), the model and its cache slots, the kernels
 * (upm-ops.h). Nothing above (the encoder calls in).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-moe.h"

#include "upm-weights.h"

#include <float.h>
#include <string.h>

/* Routing is decided by the attribute vector only, so every (layer, gate,
 * attribute row) has one constant decision, and the two chosen experts of
 * each linear can be merged into one matrix once (model-spec §3.5). Rows
 * that route identically share one merged copy. */
typedef struct
{
  uint32_t expert[2];
  float weight[2];
  /* The merged weights of the gate's two linears in float, built on first
   * use by an fp32 context; the biases at once. */
  float *w[2];
  float *b[2];
  size_t bytes; /* of everything held, below included */
  /* Their bfloat16 copies, packed on first use by a bf16 context (merged
   * from the stored experts, not from w: a bf16 context holds no float
   * copy). */
  UpmBf16Weights wb[2];
  /* Their int8 copies for upm_linear_q8 (an int8 decode step at
   * UPM_INT8_DECODE_X8=0), and packed for the int8 x int8 GEMM (the
   * encoder, the decode step): each quantised from w when an fp32 context
   * built it, else from a temporary merge, so that an int8 context holds
   * no float copy; wq stays only where upm_linear_q8 reads it. */
  UpmQ8Matrix *wq[2];
  UpmQ8Packed wp[2]; /* owns its scales (upm_q8_pack_owned) */
} UpmMerged;

typedef struct
{
  gboolean decided;
  uint32_t expert[2];
  float weight[2];
  UpmMerged *merged; /* built on first use by the fast path */
} UpmDecision;

/* The state of this module in the model's UPM_MODEL_CACHE_MOE slot. */
typedef struct
{
  uint32_t n_layer;
  UpmDecision *decisions; /* [layer][gate][attr] */
  GPtrArray *merged;      /* every UpmMerged, for freeing */
  /* The bfloat16 copies of the dense layers' linears, packed on first use
   * by a bf16 context: [layer][UPM_LIN_*]; and of the experts of the
   * dynamic levels' MoE layers: [layer][UPM_LIN_*][expert]. */
  UpmBf16Weights *dense_wb, *expert_wb;
  /* Their int8 copies (float and f16/bf16 files), quantised on first use
   * and kept only where upm_linear_q8 reads them, and packed for the int8
   * x int8 GEMM (from the copy or from the I8 file's own weights). */
  UpmQ8Matrix **dense_wq;
  UpmQ8Packed *dense_wp;
  /* An I8 file's own weights as views (not owned), [layer][UPM_LIN_*]. */
  UpmQ8Matrix *dense_wv;
} UpmMoeCache;

static const int gate_linears[UPM_N_GATES][2] = {
  [UPM_GATE_ATTN] = { UPM_LIN_QKV, UPM_LIN_OUT },
  [UPM_GATE_FFN] = { UPM_LIN_UP, UPM_LIN_DOWN },
};

static void
merged_free (gpointer data)
{
  UpmMerged *m = data;
  for (int i = 0; i < 2; i++)
    {
      g_free (m->w[i]);
      g_free (m->b[i]);
      g_free ((gpointer)m->wb[i].w);
      upm_q8_free (m->wq[i]);
      g_free ((gpointer)m->wp[i].w);
    }
  g_free (m);
}

static void
moe_cache_free (gpointer data)
{
  UpmMoeCache *cache = data;

  g_free (cache->decisions);
  g_ptr_array_free (cache->merged, TRUE);
  for (size_t i = 0; i < (size_t)cache->n_layer * UPM_N_LIN; i++)
    {
      g_free ((gpointer)cache->dense_wb[i].w);
      upm_q8_free (cache->dense_wq[i]);
      g_free ((gpointer)cache->dense_wp[i].w);
    }
  for (size_t i = 0; i < (size_t)cache->n_layer * UPM_N_LIN * UPM_MAX_EXPERTS;
       i++)
    g_free ((gpointer)cache->expert_wb[i].w);
  g_free (cache->dense_wb);
  g_free (cache->expert_wb);
  g_free (cache->dense_wq);
  g_free (cache->dense_wp);
  g_free (cache->dense_wv);
  g_free (cache);
}

static gpointer
moe_cache_new (UpmModel *model)
{
  UpmMoeCache *c = g_new0 (UpmMoeCache, 1);

  c->n_layer = model->hp.n_layer;
  c->decisions
      = g_new0 (UpmDecision, (gsize)c->n_layer * UPM_N_GATES * UPM_N_ATTRS);
  c->merged = g_ptr_array_new_with_free_func (merged_free);
  c->dense_wb = g_new0 (UpmBf16Weights, (gsize)c->n_layer * UPM_N_LIN);
  c->expert_wb = g_new0 (
      UpmBf16Weights, (gsize)c->n_layer * UPM_N_LIN * UPM_MAX_EXPERTS);
  c->dense_wq = g_new0 (UpmQ8Matrix *, (gsize)c->n_layer * UPM_N_LIN);
  c->dense_wp = g_new0 (UpmQ8Packed, (gsize)c->n_layer * UPM_N_LIN);
  c->dense_wv = g_new0 (UpmQ8Matrix, (gsize)c->n_layer * UPM_N_LIN);
  return c;
}

/* Call with model->lock held. */
static UpmMoeCache *
moe_cache_locked (UpmModel *model)
{
  return upm_model_cache_locked (
      model, UPM_MODEL_CACHE_MOE, moe_cache_new, moe_cache_free);
}

/* ------------------------------------------------------------------ gate */

/* Top-2 of @logits (n_exp of them, overwritten by the softmax) with the
 * renormalised softmax weights (§3.2). */
static void
gate_top2 (float *logits, uint32_t n_exp, uint32_t expert[2], float weight[2])
{
  uint32_t i1 = 0, i2;

  for (uint32_t e = 1; e < n_exp; e++)
    if (logits[e] > logits[i1])
      i1 = e;
  i2 = i1 == 0 ? 1 : 0;
  for (uint32_t e = 0; e < n_exp; e++)
    if (e != i1 && logits[e] > logits[i2])
      i2 = e;
  upm_softmax (logits, n_exp);
  float denom = logits[i1] + logits[i2];
  if (denom < FLT_EPSILON)
    denom = FLT_EPSILON;
  expert[0] = i1;
  expert[1] = i2;
  weight[0] = logits[i1] / denom;
  weight[1] = logits[i2] / denom;
}

/* logits = Wg g (double accumulation). */
static void
gate_logits (const UpmGate *gate, const float *g, uint32_t d, uint32_t n_exp,
    float *logits)
{
  for (uint32_t e = 0; e < n_exp; e++)
    {
      double acc = 0.0;
      for (uint32_t j = 0; j < d; j++)
        acc += (double)gate->wg[(size_t)e * d + j] * g[j];
      logits[e] = (float)acc;
    }
}

/* The static decision of a gate for an attribute row: attribute routing
 * g = LN(Wt a + bt) (§3.2); modality and task routing g = the learned
 * embedding row of the segment's modality or task. */
static void
gate_decide (const UpmModel *model, const UpmGate *gate, UpmAttr attr,
    uint32_t expert[2], float weight[2])
{
  const uint32_t d = model->hp.n_embd, n_exp = model->hp.n_expert;
  float *g = g_new (float, d);
  float *logits = g_new (float, n_exp);

  if (model->routing == UPM_ROUTING_MODALITY)
    {
      memcpy (g, gate->embd + (size_t)upm_attr_modality (attr) * d,
          d * sizeof (float));
    }
  else if (model->routing == UPM_ROUTING_TASK)
    {
      memcpy (
          g, gate->embd + (size_t)upm_attr_task (attr) * d, d * sizeof (float));
    }
  else
    {
      const uint8_t *bits = model->attr_bits[attr];
      for (uint32_t j = 0; j < d; j++)
        {
          float acc = gate->tag_b[j];
          for (int k = 0; k < 8; k++)
            acc += gate->tag_w[j * 8 + k] * (float)bits[k];
          g[j] = acc;
        }
      upm_layer_norm (
          g, 1, d, gate->norm_w, gate->norm_b, model->hp.norm_eps, g);
    }
  gate_logits (gate, g, d, n_exp, logits);
  gate_top2 (logits, n_exp, expert, weight);
  g_free (g);
  g_free (logits);
}

static UpmDecision *
decision_locked (
    UpmModel *model, uint32_t layer, UpmGateKind gate, UpmAttr attr)
{
  UpmMoeCache *c = moe_cache_locked (model);
  UpmDecision *d
      = &c->decisions[((gsize)layer * UPM_N_GATES + gate) * UPM_N_ATTRS + attr];

  if (!d->decided)
    {
      gate_decide (
          model, &model->layers[layer].gate[gate], attr, d->expert, d->weight);
      d->decided = TRUE;
    }
  return d;
}

gboolean
upm_model_route (UpmModel *model, uint32_t layer, UpmGateKind gate,
    UpmAttr attr, uint32_t expert[2], float weight[2])
{
  UpmDecision *d;

  if (layer >= model->hp.n_layer || !model->layers[layer].is_moe
      || (guint)gate >= UPM_N_GATES || (guint)attr >= UPM_N_ATTRS
      || upm_routing_level_is_dynamic (model->routing))
    return FALSE;
  g_mutex_lock (&model->lock);
  d = decision_locked (model, layer, gate, attr);
  memcpy (expert, d->expert, sizeof d->expert);
  memcpy (weight, d->weight, sizeof d->weight);
  g_mutex_unlock (&model->lock);
  return TRUE;
}

/* The merged biases of a linear (the weights are merged on first use by
 * the precision that needs them). */
static float *
merge_bias (
    const UpmLinear *lin, const uint32_t expert[2], const float weight[2])
{
  const float *b0 = lin->b + (size_t)expert[0] * lin->n_out;
  const float *b1 = lin->b + (size_t)expert[1] * lin->n_out;
  float *b = g_new (float, lin->n_out);

  upm_mix2 (b0, weight[0], b1, weight[1], lin->n_out, b);
  return b;
}

/* Once merged, an expert's stored weights are only read again by another
 * merge or the plain path, which fault them back in: drop their pages
 * from the resident set (the page cache keeps them). */
static void
release_experts (const UpmLinear *lin, const uint32_t expert[2])
{
  for (int k = 0; k < 2; k++)
    upm_release_mapped (
        upm_linear_stored (lin, expert[k]), upm_linear_stored_bytes (lin));
}

/* The float matrix of merged linear @which; call with model->lock held. */
static float *
merge_weights_locked (
    const UpmMerged *mg, const UpmLinear *lin, gboolean release_sources)
{
  float *w = g_new (float, (size_t)lin->n_out * lin->n_in);

  upm_linear_mix2_f32 (
      lin, mg->expert[0], mg->weight[0], mg->expert[1], mg->weight[1], w);
  if (release_sources)
    release_experts (lin, mg->expert);
  return w;
}

/* The merged weights serving (layer, gate, attr), built once. */
static const UpmMerged *
merged_for (UpmModel *model, uint32_t layer, UpmGateKind gate, UpmAttr attr)
{
  UpmMoeCache *c;
  UpmDecision *d;
  const UpmLayer *ly = &model->layers[layer];

  g_mutex_lock (&model->lock);
  c = moe_cache_locked (model);
  d = decision_locked (model, layer, gate, attr);
  if (!d->merged)
    {
      /* Another attribute row of this gate may route identically. */
      for (int a = 0; a < UPM_N_ATTRS && !d->merged; a++)
        {
          UpmDecision *o
              = &c->decisions[((gsize)layer * UPM_N_GATES + gate) * UPM_N_ATTRS
                              + a];
          if (o->merged && o->expert[0] == d->expert[0]
              && o->expert[1] == d->expert[1] && o->weight[0] == d->weight[0]
              && o->weight[1] == d->weight[1])
            d->merged = o->merged;
        }
    }
  if (!d->merged)
    {
      UpmMerged *m = g_new0 (UpmMerged, 1);
      memcpy (m->expert, d->expert, sizeof m->expert);
      memcpy (m->weight, d->weight, sizeof m->weight);
      for (int i = 0; i < 2; i++)
        {
          const UpmLinear *lin = &ly->lin[gate_linears[gate][i]];
          m->b[i] = merge_bias (lin, d->expert, d->weight);
          m->bytes += (size_t)lin->n_out * sizeof (float);
        }
      g_ptr_array_add (c->merged, m);
      d->merged = m;
    }
  g_mutex_unlock (&model->lock);
  return d->merged;
}

void
upm_routing_add_segments (UpmModel *model, UpmRouting *routing,
    const UpmSegment *segs, uint32_t n_segs, uint32_t token_base)
{
  if (!routing || !routing->routes
      || upm_routing_level_is_dynamic (model->routing))
    return;
  for (uint32_t l = 0; l < model->hp.n_layer; l++)
    {
      if (!model->layers[l].is_moe)
        continue;
      for (int g = 0; g < UPM_N_GATES; g++)
        {
          uint32_t begin = token_base;
          for (uint32_t s = 0; s < n_segs; s++)
            {
              UpmRoute r = { 0 };
              r.layer = l;
              r.gate = g;
              r.attr = segs[s].attr;
              r.token_begin = begin;
              r.token_end = begin + segs[s].n_tokens;
              upm_model_route (model, l, g, segs[s].attr, r.expert, r.weight);
              g_array_append_val (routing->routes, r);
              upm_routing_count (
                  model, routing, l, g, r.expert, segs[s].n_tokens);
              begin = r.token_end;
            }
        }
    }
}

/* ------------------------------------------------------------- epilogues */

/* The epilogue of a linear restricted to the rows from @row on. */
static UpmEpilogue
epilogue_rows (const UpmEpilogue *e, uint32_t row, uint32_t n_out)
{
  UpmEpilogue r = *e;
  if (r.res)
    r.res += (size_t)row * n_out;
  if (r.ln_out)
    r.ln_out += (size_t)row * n_out;
  return r;
}

/* What the fused epilogue does, in separate passes (plain path). */
static void
epilogue_apply (const UpmEpilogue *e, float *y, uint32_t n, uint32_t n_out)
{
  if (!e)
    return;
  switch (e->kind)
    {
    case UPM_EPI_NONE:
      break;
    case UPM_EPI_GELU:
      upm_gelu (y, (size_t)n * n_out);
      break;
    case UPM_EPI_RESIDUAL:
      upm_scaled_residual (e->res, y, e->scale, n, n_out);
      if (e->ln_w)
        upm_layer_norm (e->res, n, n_out, e->ln_w, e->ln_b, e->eps, e->ln_out);
      break;
    }
}

/* ----------------------------------------------------- dynamic routing */

static UpmTokenRoute *
troute_buf (UpmContext *ctx, UpmGateKind gate, size_t n, GError **error)
{
  if (n > ctx->troute_cap[gate])
    {
      g_free (ctx->troute[gate]);
      ctx->troute_cap[gate] = 0;
      ctx->troute[gate] = g_try_new (UpmTokenRoute, n);
      if (!ctx->troute[gate])
        {
          g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
              "out of memory for %" G_GSIZE_FORMAT " routing decisions", n);
          return NULL;
        }
      ctx->troute_cap[gate] = n;
    }
  return ctx->troute[gate];
}

/* Record the dynamic decisions of @n rows where the context asks for it. */
static void
record_routes (UpmContext *ctx, uint32_t layer, UpmGateKind gate,
    const UpmTokenRoute *r, uint32_t n)
{
  upm_routing_record (ctx->rec, ctx->model, ctx->scope, ctx->rec_from,
      ctx->rec_runs, layer, gate, r, n);
}

/* The top-2 of wg z into r. */
static void
route_vector (
    const UpmModel *m, const UpmGate *g, const float *z, UpmTokenRoute *r)
{
  float logits[UPM_MAX_EXPERTS];
  uint32_t ex[2];

  gate_logits (g, z, m->hp.n_embd, m->hp.n_expert, logits);
  gate_top2 (logits, m->hp.n_expert, ex, r->weight);
  r->expert[0] = (uint8_t)ex[0];
  r->expert[1] = (uint8_t)ex[1];
}

/* z = (base + acc) / count, then its decision. */
static void
route_mean (const UpmModel *m, const UpmGate *g, const double *acc,
    double count, float *z, UpmTokenRoute *r)
{
  const uint32_t d = m->hp.n_embd;

  for (uint32_t j = 0; j < d; j++)
    z[j] = (float)(acc[j] / count);
  route_vector (m, g, z, r);
}

/* Per-row decisions of a gate of a dynamic level from its input rows x
 * (LN1 or LN2 output): the row itself (token) or the mean over the rows it
 * sees (context, by ctx->scope). */
static gboolean
route_rows (UpmContext *ctx, uint32_t layer, UpmGateKind gate, const float *x,
    uint32_t n, GError **error)
{
  const UpmModel *m = ctx->model;
  const UpmGate *g = &m->layers[layer].gate[gate];
  const uint32_t d = m->hp.n_embd;
  const UpmRouteScope def = { 0, NULL, UINT32_MAX, NULL, NULL };
  const UpmRouteScope *sc = ctx->scope ? ctx->scope : &def;
  const uint32_t group_rows = sc->group_rows ? sc->group_rows : MAX (n, 1);
  UpmTokenRoute *r = troute_buf (ctx, gate, MAX (n, 1), error);
  double *acc;
  float *z;

  if (!r)
    return FALSE;
  if (m->routing == UPM_ROUTING_TOKEN)
    {
      for (uint32_t i = 0; i < n; i++)
        route_vector (m, g, x + (size_t)i * d, &r[i]);
      if (ctx->rec)
        record_routes (ctx, layer, gate, r, n);
      return TRUE;
    }
  acc = g_new (double, d);
  z = g_new (float, d);
  for (uint32_t g0 = 0, gi = 0; g0 < n; g0 += group_rows, gi++)
    {
      const uint32_t rows = MIN (group_rows, n - g0);
      const uint32_t valid = sc->n_valid ? MIN (sc->n_valid[gi], rows) : rows;
      const uint32_t cf = MIN (sc->causal_from, valid);
      const float *base
          = sc->base && sc->base[gi]
                ? sc->base[gi] + ((size_t)layer * UPM_N_GATES + gate) * d
                : NULL;
      double count = sc->base_count ? sc->base_count[gi] : 0;
      const float *xg = x + (size_t)g0 * d;
      UpmTokenRoute *rg = r + g0;

      for (uint32_t j = 0; j < d; j++)
        acc[j] = base ? base[j] : 0.0;
      /* Rows below causal_from (all rows when bidirectional) share one
       * context; padding rows take the last decision. */
      for (uint32_t i = 0; i < cf; i++)
        for (uint32_t j = 0; j < d; j++)
          acc[j] += xg[(size_t)i * d + j];
      count += cf;
      if (cf > 0)
        {
          route_mean (m, g, acc, count, z, &rg[0]);
          for (uint32_t i = 1; i < cf; i++)
            rg[i] = rg[0];
        }
      for (uint32_t i = cf; i < rows; i++)
        {
          if (i < valid)
            {
              for (uint32_t j = 0; j < d; j++)
                acc[j] += xg[(size_t)i * d + j];
              count += 1;
            }
          if (i < valid || i == 0)
            route_mean (m, g, acc, MAX (count, 1), z, &rg[i]);
          else
            rg[i] = rg[i - 1];
        }
    }
  g_free (acc);
  g_free (z);
  if (ctx->rec)
    record_routes (ctx, layer, gate, r, n);
  return TRUE;
}

/* *wb packed from w [n_out, n_in] unless it is already; call with
 * model->lock held (packing runs on the pool). */
static void
bf16_pack_locked (
    UpmBf16Weights *wb, const float *w, uint32_t n_out, uint32_t n_in)
{
  uint16_t *buf;

  if (wb->w)
    return;
  buf = g_new (uint16_t, upm_bf16_weights_size (n_out, n_in));
  upm_bf16_weights_pack (w, n_in, n_out, n_in, buf, wb);
}

/* The bfloat16 weights of a dense layer's linear, packed once from its
 * stored type: a float file's rows are rounded, a bf16 file's widened
 * into a temporary and packed back exactly, an f16 or i8 file's
 * dequantised and rounded. */
static const UpmBf16Weights *
dense_bf16 (UpmModel *model, uint32_t layer, int lin_id)
{
  const UpmLinear *lin = &model->layers[layer].lin[lin_id];
  const float *w = g_atomic_pointer_get (&((UpmLinear *)lin)->w);
  UpmBf16Weights *wb;

  g_mutex_lock (&model->lock);
  wb = &moe_cache_locked (model)->dense_wb[(size_t)layer * UPM_N_LIN + lin_id];
  if (!wb->w)
    {
      float *tmp = NULL;
      if (!w)
        {
          w = tmp = g_new (float, (size_t)lin->n_out * lin->n_in);
          upm_linear_rows_f32 (lin, 0, 0, lin->n_out, tmp);
        }
      bf16_pack_locked (wb, w, lin->n_out, lin->n_in);
      g_free (tmp);
      /* A bf16 context reads only the copy; fp32 ones fault the stored
       * weights back in. */
      upm_release_mapped (lin->data, upm_linear_stored_bytes (lin));
    }
  g_mutex_unlock (&model->lock);
  return wb;
}

/* The bfloat16 weights of expert @e of a MoE layer's linear (dynamic
 * levels), packed once from @lw, the linear's float weights
 * (upm_linear_f32, which takes the model's lock itself). */
static const UpmBf16Weights *
expert_bf16 (UpmModel *model, uint32_t layer, const UpmLinear *lin, int lin_id,
    const float *lw, uint32_t e)
{
  const size_t nw = (size_t)lin->n_out * lin->n_in;
  UpmBf16Weights *wb;

  g_mutex_lock (&model->lock);
  wb = &moe_cache_locked (model)
            ->expert_wb[((size_t)layer * UPM_N_LIN + lin_id) * UPM_MAX_EXPERTS
                        + e];
  bf16_pack_locked (wb, lw + e * nw, lin->n_out, lin->n_in);
  g_mutex_unlock (&model->lock);
  return wb;
}

/* The float weights of merged linear @which, built once. */
static const float *
merged_f32 (
    UpmModel *model, const UpmMerged *mg, const UpmLinear *lin, int which)
{
  UpmMerged *m = (UpmMerged *)mg;
  const float *w = g_atomic_pointer_get (&m->w[which]);

  if (w)
    return w;
  g_mutex_lock (&model->lock);
  if (!m->w[which])
    {
      float *nw = merge_weights_locked (m, lin, TRUE);
      m->bytes += (size_t)lin->n_out * lin->n_in * sizeof (float);
      g_atomic_pointer_set (&m->w[which], nw);
    }
  w = m->w[which];
  g_mutex_unlock (&model->lock);
  return w;
}

/* The bfloat16 weights of merged linear @which (0, 1), packed once: from
 * the float merge when an fp32 context built it, else merged into a
 * temporary from the stored experts. */
static const UpmBf16Weights *
merged_bf16 (
    UpmModel *model, const UpmMerged *mg, const UpmLinear *lin, int which)
{
  UpmMerged *m = (UpmMerged *)mg;
  UpmBf16Weights *wb = &m->wb[which];

  g_mutex_lock (&model->lock);
  if (!wb->w)
    {
      float *tmp = NULL;
      const float *w = m->w[which];
      if (!w)
        w = tmp = merge_weights_locked (m, lin, TRUE);
      bf16_pack_locked (wb, w, lin->n_out, lin->n_in);
      g_free (tmp);
      m->bytes
          += upm_bf16_weights_size (lin->n_out, lin->n_in) * sizeof (uint16_t);
    }
  g_mutex_unlock (&model->lock);
  return wb;
}

/* Whether the unpacked int8 copies stay once packed: only the decode
 * step's upm_linear_q8 reads them (UPM_INT8_DECODE_X8=0); the int8 x int8
 * kernels read the packed copy alone, at every level. */
static gboolean
q8_keep_unpacked (void)
{
  return !upm_int8_decode_x8 ();
}

/* An I8 file's weights of a dense layer's linear as a view (no
 * re-quantisation), kept in the cache slot @at; NULL when the file holds
 * another type or a -128. Call with model->lock held. */
static const UpmQ8Matrix *
dense_q8_view_locked (
    UpmModel *model, UpmMoeCache *c, const UpmLinear *lin, size_t at)
{
  UpmQ8Matrix *wv = &c->dense_wv[at];

  if (lin->dtype != UPM_DTYPE_I8)
    return NULL;
  if (!wv->q && !upm_linear_q8_view (model, lin, 0, wv, NULL))
    wv->q = NULL;
  return wv->q ? wv : NULL;
}

/* A dense linear of a float or f16/bf16 file quantised: from the mapping
 * of an F32 file or the copy an fp32 context widened, else from rows
 * widened into a temporary (the values upm_linear_f32 would hold), so
 * that an int8 context keeps no float copy. The stored pages are dropped
 * from the resident set, as the bf16 path does. NULL when memory runs
 * out. Call with model->lock held. */
static UpmQ8Matrix *
dense_quantize_locked (const UpmLinear *lin)
{
  const float *w = g_atomic_pointer_get (&((UpmLinear *)lin)->w);
  float *tmp = NULL;
  UpmQ8Matrix *q;

  if (!w)
    {
      w = tmp = g_try_new (float, (size_t)lin->n_out * lin->n_in);
      if (!tmp)
        return NULL;
      upm_linear_rows_f32 (lin, 0, 0, lin->n_out, tmp);
    }
  q = upm_q8_quantize (w, lin->n_out, lin->n_in);
  g_free (tmp);
  if (w == tmp || w == lin->data)
    upm_release_mapped (lin->data, upm_linear_stored_bytes (lin));
  return q;
}

/* The int8 weights of a dense layer's linear for upm_linear_q8: the
 * file's own (read in place), or quantised once. */
static const UpmQ8Matrix *
dense_q8 (UpmModel *model, uint32_t layer, int lin_id)
{
  const UpmLinear *lin = &model->layers[layer].lin[lin_id];
  const size_t at = (size_t)layer * UPM_N_LIN + lin_id;
  const UpmQ8Matrix *wq;
  UpmMoeCache *c;

  g_mutex_lock (&model->lock);
  c = moe_cache_locked (model);
  wq = dense_q8_view_locked (model, c, lin, at);
  if (!wq)
    {
      if (!c->dense_wq[at])
        c->dense_wq[at] = dense_quantize_locked (lin);
      wq = c->dense_wq[at];
    }
  g_mutex_unlock (&model->lock);
  return wq;
}

/* Merged linear @which quantised: from the float merge when an fp32
 * context built it, else from a temporary merge of the stored experts,
 * freed at once (the same values either way). NULL when memory runs out.
 * Call with model->lock held. */
static UpmQ8Matrix *
merged_quantize_locked (UpmMerged *m, const UpmLinear *lin, int which)
{
  const float *w = m->w[which];
  float *tmp = NULL;
  UpmQ8Matrix *q;

  if (!w)
    w = tmp = merge_weights_locked (m, lin, TRUE);
  q = upm_q8_quantize (w, lin->n_out, lin->n_in);
  g_free (tmp);
  return q;
}

/* The int8 weights of merged linear @which (0, 1) for upm_linear_q8,
 * quantised once. */
static const UpmQ8Matrix *
merged_q8 (
    UpmModel *model, const UpmMerged *mg, const UpmLinear *lin, int which)
{
  UpmMerged *m = (UpmMerged *)mg;
  const UpmQ8Matrix *wq;

  g_mutex_lock (&model->lock);
  if (!m->wq[which])
    {
      m->wq[which] = merged_quantize_locked (m, lin, which);
      if (m->wq[which])
        m->bytes += upm_q8_size (lin->n_out, lin->n_in);
    }
  wq = m->wq[which];
  g_mutex_unlock (&model->lock);
  return wq;
}

/* The packed weights of a dense layer's linear, packed once from the
 * file's I8 matrix in place or from a quantised copy; neither stays
 * unless upm_linear_q8 reads it (q8_keep_unpacked). NULL when memory
 * runs out. */
static const UpmQ8Packed *
dense_q8_packed (UpmModel *model, uint32_t layer, int lin_id)
{
  const UpmLinear *lin = &model->layers[layer].lin[lin_id];
  const size_t at = (size_t)layer * UPM_N_LIN + lin_id;
  const UpmQ8Packed *result;
  UpmMoeCache *c;
  UpmQ8Packed *wp;

  g_mutex_lock (&model->lock);
  c = moe_cache_locked (model);
  wp = &c->dense_wp[at];
  if (!wp->w)
    {
      const UpmQ8Matrix *view = dense_q8_view_locked (model, c, lin, at);
      UpmQ8Matrix *tmp = NULL;
      const UpmQ8Matrix *wq = view ? view : c->dense_wq[at];

      if (!wq)
        wq = tmp = dense_quantize_locked (lin);
      if (wq)
        upm_q8_pack_owned (wq, wp);
      if (tmp && q8_keep_unpacked ())
        c->dense_wq[at] = tmp;
      else
        upm_q8_free (tmp);
      if (view && wp->w && !q8_keep_unpacked ())
        upm_release_mapped (lin->data, upm_linear_stored_bytes (lin));
    }
  result = wp->w ? wp : NULL;
  g_mutex_unlock (&model->lock);
  return result;
}

/* The packed weights of merged linear @which, packed once from its int8
 * copy or from a temporary one (kept only where upm_linear_q8 reads it).
 * NULL when memory runs out. */
static const UpmQ8Packed *
merged_q8_packed (
    UpmModel *model, const UpmMerged *mg, const UpmLinear *lin, int which)
{
  UpmMerged *m = (UpmMerged *)mg;
  UpmQ8Packed *wp = &m->wp[which];
  const UpmQ8Packed *result;

  g_mutex_lock (&model->lock);
  if (!wp->w)
    {
      UpmQ8Matrix *tmp = NULL;
      const UpmQ8Matrix *wq = m->wq[which];

      if (!wq)
        wq = tmp = merged_quantize_locked (m, lin, which);
      if (wq && upm_q8_pack_owned (wq, wp))
        m->bytes += upm_q8_packed_owned_size (lin->n_out, lin->n_in);
      if (tmp && q8_keep_unpacked ())
        {
          m->wq[which] = tmp;
          m->bytes += upm_q8_size (lin->n_out, lin->n_in);
        }
      else
        upm_q8_free (tmp);
    }
  result = wp->w ? wp : NULL;
  g_mutex_unlock (&model->lock);
  return result;
}

/* Whether INT8 runs the encoder's linears in int8 x int8 too: yes unless
 * UPM_INT8_ENCODER=0 (measured on the bundled model's 500 held-out clips:
 * every metric within 0.005 of fp32; Base-shape clip features at cosine
 * 0.9999 of fp32's, classification top-1 unchanged). */
static gboolean
int8_encoder_enabled (void)
{
  static gsize once;
  static gboolean on;

  if (g_once_init_enter (&once))
    {
      const char *e = g_getenv ("UPM_INT8_ENCODER");
      on = !(e && strcmp (e, "0") == 0);
      g_once_init_leave (&once, 1);
    }
  return on;
}

gboolean
upm_int8_decode_x8 (void)
{
  static gsize once;
  static gboolean on;

  if (g_once_init_enter (&once))
    {
      const char *e = g_getenv ("UPM_INT8_DECODE_X8");
      on = !(e && strcmp (e, "0") == 0);
      g_once_init_leave (&once, 1);
    }
  return on;
}

/* y = sum_k w_k (x W_{e_k}^T + b_{e_k}) per row. Fast: the rows of each
 * active expert are gathered, one GEMM per expert, weighted scatter-add.
 * Plain: per row, both experts, mixed. */
static gboolean
dispatch_linear (UpmContext *ctx, uint32_t layer, int lin_id,
    const UpmTokenRoute *r, const float *x, uint32_t n, float *y,
    GError **error)
{
  const UpmLinear *lin = &ctx->model->layers[layer].lin[lin_id];
  const uint32_t E = lin->n_expert, n_in = lin->n_in, n_out = lin->n_out;
  const size_t nw = (size_t)n_out * n_in;
  const float *lw = upm_linear_f32 (ctx->model, lin);
  uint32_t cnt[UPM_MAX_EXPERTS] = { 0 }, off[UPM_MAX_EXPERTS + 1];
  uint32_t max_cnt = 0, *rows;
  float *wts, *xg, *yg;

  memset (y, 0, (size_t)n * n_out * sizeof (float));
  if (ctx->path != UPM_PATH_FAST)
    {
      for (uint32_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
          upm_linear_acc (x + (size_t)i * n_in, 1, n_in,
              lw + r[i].expert[k] * nw, lin->b + (size_t)r[i].expert[k] * n_out,
              n_out, r[i].weight[k], y + (size_t)i * n_out);
      return TRUE;
    }
  for (uint32_t i = 0; i < n; i++)
    for (int k = 0; k < 2; k++)
      cnt[r[i].expert[k]]++;
  off[0] = 0;
  for (uint32_t e = 0; e < E; e++)
    {
      off[e + 1] = off[e] + cnt[e];
      max_cnt = MAX (max_cnt, cnt[e]);
    }
  xg = upm_ctx_buf (ctx, UPM_BUF_MOE_X, (size_t)MAX (max_cnt, 1) * n_in, error);
  yg = xg ? upm_ctx_buf (
           ctx, UPM_BUF_MOE_Y, (size_t)MAX (max_cnt, 1) * n_out, error)
          : NULL;
  if (!yg)
    return FALSE;
  rows = g_new (uint32_t, 2 * (size_t)MAX (n, 1));
  wts = g_new (float, 2 * (size_t)MAX (n, 1));
  memset (cnt, 0, sizeof cnt);
  for (uint32_t i = 0; i < n; i++)
    for (int k = 0; k < 2; k++)
      {
        const uint32_t e = r[i].expert[k], at = off[e] + cnt[e]++;
        rows[at] = i;
        wts[at] = r[i].weight[k];
      }
  for (uint32_t e = 0; e < E; e++)
    {
      const uint32_t c = cnt[e];
      if (c == 0)
        continue;
      for (uint32_t k = 0; k < c; k++)
        memcpy (xg + (size_t)k * n_in, x + (size_t)rows[off[e] + k] * n_in,
            n_in * sizeof (float));
      if (ctx->precision == UPM_PRECISION_BF16)
        upm_linear_bf16 (xg, c,
            expert_bf16 (ctx->model, layer, lin, lin_id, lw, e), 0, n_out, 0,
            n_in, lin->b + (size_t)e * n_out, 0.0f, yg, NULL);
      else
        upm_linear (
            xg, c, n_in, lw + e * nw, lin->b + (size_t)e * n_out, n_out, yg);
      for (uint32_t k = 0; k < c; k++)
        {
          float *dst = y + (size_t)rows[off[e] + k] * n_out;
          const float *src = yg + (size_t)k * n_out, w = wts[off[e] + k];
          for (uint32_t j = 0; j < n_out; j++)
            dst[j] += w * src[j];
        }
    }
  g_free (rows);
  g_free (wts);
  return TRUE;
}

/* The fast path of a dense layer or a static routing level, for the rows
 * of each segment (merged weights in MoE layers): y = beta y + x W'^T,
 * plus b' and the fused epilogue when @last, where W' is the block of W's
 * outputs [c0, c0 + n_cols) and inputs [k0, k0 + n_k) and b' the bias of
 * those outputs; x rows are n_k floats, y rows (and the epilogue's) n_cols
 * floats. Summing the blocks of the inputs gives the whole product. */
void
upm_moe_linear_fast_block (UpmContext *ctx, uint32_t layer, int lin_id,
    uint32_t c0, uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *x,
    uint32_t n, const UpmSegment *segs, uint32_t n_segs, float beta,
    gboolean last, float *y, const UpmEpilogue *epi)
{
  UpmModel *m = ctx->model;
  const UpmLayer *ly = &m->layers[layer];
  const UpmLinear *lin = &ly->lin[lin_id];
  const UpmGateKind gate = lin_id <= UPM_LIN_OUT ? UPM_GATE_ATTN : UPM_GATE_FFN;
  const int which = (lin_id == UPM_LIN_OUT || lin_id == UPM_LIN_DOWN);
  const size_t w_off = (size_t)c0 * lin->n_in + k0;
  const gboolean bf16 = ctx->precision == UPM_PRECISION_BF16;
  /* int8: the encoder's many rows in int8 x int8 (the VNNI rate); the
   * decode step's few rows too (upm_int8_decode_x8), else on int8
   * weights and float inputs. */
  const gboolean int8 = ctx->precision == UPM_PRECISION_INT8;
  const gboolean q8q8
      = int8
        && (ctx->decoding ? upm_int8_decode_x8 () : int8_encoder_enabled ());
  const gboolean q8 = int8 && ctx->decoding && !q8q8;
  const UpmQ8Matrix *wq;
  const UpmQ8Packed *wp;
  uint32_t row = 0;

  if (!ly->is_moe && q8q8 && (wp = dense_q8_packed (m, layer, lin_id)))
    {
      upm_linear_q8q8 (x, n, wp, c0, n_cols, k0, n_k,
          last && lin->b ? lin->b + c0 : NULL, beta, y, last ? epi : NULL);
      return;
    }

  if (!ly->is_moe && q8 && (wq = dense_q8 (m, layer, lin_id)))
    {
      upm_linear_q8 (x, n, wq, c0, n_cols, k0, n_k,
          last && lin->b ? lin->b + c0 : NULL, beta, y, last ? epi : NULL);
      return;
    }
  if (!ly->is_moe && bf16)
    {
      upm_linear_bf16 (x, n, dense_bf16 (m, layer, lin_id), c0, n_cols, k0, n_k,
          last && lin->b ? lin->b + c0 : NULL, beta, y, last ? epi : NULL);
      return;
    }
  if (!ly->is_moe)
    {
      upm_linear_part (x, n, n_k, upm_linear_f32 (m, lin) + w_off, lin->n_in,
          last && lin->b ? lin->b + c0 : NULL, n_cols, beta, y,
          last ? epi : NULL);
      return;
    }
  for (uint32_t s = 0; s < n_segs && row < n; s++)
    {
      const uint32_t cnt = MIN (segs[s].n_tokens, n - row);
      const UpmMerged *mg = merged_for (m, layer, gate, segs[s].attr);
      UpmEpilogue e;

      if (epi)
        e = epilogue_rows (epi, row, n_cols);
      if (q8q8 && (wp = merged_q8_packed (m, mg, lin, which)))
        upm_linear_q8q8 (x + (size_t)row * n_k, cnt, wp, c0, n_cols, k0, n_k,
            last ? mg->b[which] + c0 : NULL, beta, y + (size_t)row * n_cols,
            last && epi ? &e : NULL);
      else if (q8 && (wq = merged_q8 (m, mg, lin, which)))
        upm_linear_q8 (x + (size_t)row * n_k, cnt, wq, c0, n_cols, k0, n_k,
            last ? mg->b[which] + c0 : NULL, beta, y + (size_t)row * n_cols,
            last && epi ? &e : NULL);
      else if (bf16)
        upm_linear_bf16 (x + (size_t)row * n_k, cnt,
            merged_bf16 (m, mg, lin, which), c0, n_cols, k0, n_k,
            last ? mg->b[which] + c0 : NULL, beta, y + (size_t)row * n_cols,
            last && epi ? &e : NULL);
      else
        upm_linear_part (x + (size_t)row * n_k, cnt, n_k,
            merged_f32 (m, mg, lin, which) + w_off, lin->n_in,
            last ? mg->b[which] + c0 : NULL, n_cols, beta,
            y + (size_t)row * n_cols, last && epi ? &e : NULL);
      row += cnt;
    }
}

/* Output columns [c0, c0 + n_cols) of x W^T + b, the epilogue fused. */
void
upm_moe_linear_fast (UpmContext *ctx, uint32_t layer, int lin_id, uint32_t c0,
    uint32_t n_cols, const float *x, uint32_t n, const UpmSegment *segs,
    uint32_t n_segs, float *y, const UpmEpilogue *epi)
{
  const UpmLinear *lin = &ctx->model->layers[layer].lin[lin_id];

  upm_moe_linear_fast_block (ctx, layer, lin_id, c0, n_cols, 0, lin->n_in, x, n,
      segs, n_segs, 0.0f, TRUE, y, epi);
}

/* y = x W^T + b for the rows of each segment, with the segment's expert
 * choice in MoE layers, followed by the epilogue @epi (may be NULL):
 * merged weights with the epilogue fused into the GEMM tasks (fast), or
 * per-expert outputs mixed by the gate weights and the epilogue in
 * separate passes (plain). Dynamic levels route per row instead: the
 * first linear of a gate decides from its input rows. */
gboolean
upm_moe_linear (UpmContext *ctx, uint32_t layer, int lin_id, const float *x,
    uint32_t n, const UpmSegment *segs, uint32_t n_segs, float *y,
    const UpmEpilogue *epi, GError **error)
{
  UpmModel *m = ctx->model;
  const UpmLayer *ly = &m->layers[layer];
  const UpmLinear *lin = &ly->lin[lin_id];
  const UpmGateKind gate = lin_id <= UPM_LIN_OUT ? UPM_GATE_ATTN : UPM_GATE_FFN;
  const int which = (lin_id == UPM_LIN_OUT || lin_id == UPM_LIN_DOWN);
  const gboolean fast = ctx->path == UPM_PATH_FAST;
  const gboolean dynamic = upm_routing_level_is_dynamic (m->routing);
  uint32_t row = 0;

  if (fast && (!ly->is_moe || !dynamic))
    {
      upm_moe_linear_fast (
          ctx, layer, lin_id, 0, lin->n_out, x, n, segs, n_segs, y, epi);
      return TRUE;
    }
  if (!ly->is_moe)
    {
      upm_linear (
          x, n, lin->n_in, upm_linear_f32 (m, lin), lin->b, lin->n_out, y);
      epilogue_apply (epi, y, n, lin->n_out);
      return TRUE;
    }
  if (dynamic)
    {
      if (!which && !route_rows (ctx, layer, gate, x, n, error))
        return FALSE;
      if (!dispatch_linear (
              ctx, layer, lin_id, ctx->troute[gate], x, n, y, error))
        return FALSE;
      epilogue_apply (epi, y, n, lin->n_out);
      return TRUE;
    }
  for (uint32_t s = 0; s < n_segs && row < n; s++)
    {
      const uint32_t cnt = MIN (segs[s].n_tokens, n - row);
      const float *xs = x + (size_t)row * lin->n_in;
      float *ys = y + (size_t)row * lin->n_out;
      const size_t nw = (size_t)lin->n_out * lin->n_in;
      uint32_t expert[2];
      float weight[2];
      UpmEpilogue e;

      if (epi)
        e = epilogue_rows (epi, row, lin->n_out);
      upm_model_route (m, layer, gate, segs[s].attr, expert, weight);
      memset (ys, 0, (size_t)cnt * lin->n_out * sizeof (float));
      for (int k = 0; k < 2; k++)
        upm_linear_acc (xs, cnt, lin->n_in,
            upm_linear_f32 (m, lin) + expert[k] * nw,
            lin->b + (size_t)expert[k] * lin->n_out, lin->n_out, weight[k], ys);
      epilogue_apply (epi ? &e : NULL, ys, cnt, lin->n_out);
      row += cnt;
    }
  return TRUE;
}

void
upm_moe_ctx_clear (UpmContext *ctx)
{
  for (int g = 0; g < UPM_N_GATES; g++)
    {
      g_free (ctx->troute[g]);
      ctx->troute[g] = NULL;
      ctx->troute_cap[g] = 0;
    }
}

size_t
upm_engine_merged_bytes (UpmModel *model)
{
  const UpmMoeCache *c;
  size_t bytes = 0;

  g_mutex_lock (&model->lock);
  c = upm_model_cache_peek_locked (model, UPM_MODEL_CACHE_MOE);
  if (c)
    {
      for (guint i = 0; i < c->merged->len; i++)
        {
          const UpmMerged *mg = g_ptr_array_index (c->merged, i);
          bytes += mg->bytes;
        }
    }
  g_mutex_unlock (&model->lock);
  return bytes;
}

/* Bytes of one int8 matrix and its packed copy, where present. */
static void
add_q8 (
    const UpmQ8Matrix *wq, const UpmQ8Packed *wp, size_t *q8, size_t *packed)
{
  if (wq)
    *q8 += upm_q8_size (wq->n_out, wq->n_in);
  if (wp->w)
    *packed += upm_q8_packed_owned_size (wp->n_out, wp->n_in);
}

static void
merged_memory (const UpmMerged *mg, const UpmLayer *ly, UpmGateKind gate,
    UpmWeightMemory *out)
{
  for (int i = 0; i < 2; i++)
    {
      const UpmLinear *lin = &ly->lin[gate_linears[gate][i]];
      const size_t nw = (size_t)lin->n_out * lin->n_in;
      if (mg->w[i])
        out->merged_f32 += nw * sizeof (float);
      if (mg->wb[i].w)
        out->merged_bf16 += upm_bf16_weights_size (lin->n_out, lin->n_in)
                            * sizeof (uint16_t);
      add_q8 (mg->wq[i], &mg->wp[i], &out->merged_q8, &out->merged_q8_packed);
    }
}

/* The merges reached from the decisions (rows that route identically
 * share one: counted once). */
static void
all_merged_memory (
    const UpmModel *model, const UpmMoeCache *c, UpmWeightMemory *out)
{
  GHashTable *seen = g_hash_table_new (NULL, NULL);

  for (uint32_t l = 0; l < c->n_layer; l++)
    for (int g = 0; g < UPM_N_GATES; g++)
      for (int a = 0; a < UPM_N_ATTRS; a++)
        {
          const UpmMerged *mg
              = c->decisions[((gsize)l * UPM_N_GATES + g) * UPM_N_ATTRS + a]
                    .merged;
          if (mg && g_hash_table_add (seen, (gpointer)mg))
            merged_memory (mg, &model->layers[l], g, out);
        }
  g_hash_table_destroy (seen);
}

static void
dense_memory (const UpmModel *model, const UpmMoeCache *c, UpmWeightMemory *out)
{
  for (uint32_t l = 0; l < c->n_layer; l++)
    for (int k = 0; k < UPM_N_LIN; k++)
      {
        const size_t at = (size_t)l * UPM_N_LIN + k;
        const UpmLinear *lin = &model->layers[l].lin[k];
        if (c->dense_wb[at].w)
          out->dense_bf16 += upm_bf16_weights_size (lin->n_out, lin->n_in)
                             * sizeof (uint16_t);
        add_q8 (c->dense_wq[at], &c->dense_wp[at], &out->dense_q8,
            &out->dense_q8_packed);
        for (uint32_t e = 0; e < UPM_MAX_EXPERTS; e++)
          if (c->expert_wb[at * UPM_MAX_EXPERTS + e].w)
            out->expert_bf16 += upm_bf16_weights_size (lin->n_out, lin->n_in)
                                * sizeof (uint16_t);
      }
}

void
upm_engine_weight_memory (UpmModel *model, UpmWeightMemory *out)
{
  const UpmMoeCache *c;

  memset (out, 0, sizeof *out);
  g_mutex_lock (&model->lock);
  for (uint32_t l = 0; l < model->hp.n_layer; l++)
    for (int k = 0; k < UPM_N_LIN; k++)
      {
        const UpmLinear *lin = &model->layers[l].lin[k];
        if (lin->w && lin->w != lin->data)
          out->f32_copies += (size_t)MAX (lin->n_expert, 1u) * lin->n_out
                             * lin->n_in * sizeof (float);
      }
  c = upm_model_cache_peek_locked (model, UPM_MODEL_CACHE_MOE);
  if (c)
    {
      all_merged_memory (model, c, out);
      dense_memory (model, c, out);
    }
  g_mutex_unlock (&model->lock);
}
