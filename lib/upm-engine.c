/* upm-engine.c: embeddings, the shared encoder with conditional MoE, and the
 * similarity heads of Uni-Perceiver-MoE (model-spec §1, §3).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-engine.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* Routing is decided by the attribute vector only, so every (layer, gate,
 * attribute row) has one constant decision, and the two chosen experts of
 * each linear can be merged into one matrix once (model-spec §3.5). Rows
 * that route identically share one merged copy. */
typedef struct
{
  uint32_t expert[2];
  float weight[2];
  float *w[2]; /* merged weights of the gate's two linears */
  float *b[2];
  size_t bytes;
} UpmMerged;

typedef struct
{
  gboolean decided;
  uint32_t expert[2];
  float weight[2];
  UpmMerged *merged; /* built on first use by the fast path */
} UpmDecision;

struct _UpmEngineCache
{
  uint32_t n_layer;
  UpmDecision *decisions;    /* [layer][gate][attr] */
  GPtrArray *merged;         /* every UpmMerged, for freeing */
  GHashTable *text_features; /* "attr\x1ftext" -> float[D] */
  GMutex vocab_lock;         /* serialises the one-time vocab encoding */
  const float *vocab;        /* V x D, NULL until computed or loaded */
  float *vocab_owned;
  uint16_t *vocab16; /* IEEE half copy (opt-in compact decoding) */
  GMappedFile *vocab_mapped;
};

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
    }
  g_free (m);
}

void
upm_engine_cache_free (UpmEngineCache *cache)
{
  if (!cache)
    return;
  g_free (cache->decisions);
  g_ptr_array_free (cache->merged, TRUE);
  g_hash_table_destroy (cache->text_features);
  g_mutex_clear (&cache->vocab_lock);
  g_free (cache->vocab_owned);
  g_free (cache->vocab16);
  if (cache->vocab_mapped)
    g_mapped_file_unref (cache->vocab_mapped);
  g_free (cache);
}

/* Call with model->lock held. */
static UpmEngineCache *
engine_cache_locked (UpmModel *model)
{
  if (!model->engine)
    {
      UpmEngineCache *c = g_new0 (UpmEngineCache, 1);
      c->n_layer = model->hp.n_layer;
      c->decisions
          = g_new0 (UpmDecision, (gsize)c->n_layer * UPM_N_GATES * UPM_N_ATTRS);
      c->merged = g_ptr_array_new_with_free_func (merged_free);
      c->text_features
          = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_mutex_init (&c->vocab_lock);
      model->engine = c;
    }
  return model->engine;
}

static UpmEngineCache *
engine_cache (UpmModel *model)
{
  UpmEngineCache *c;
  g_mutex_lock (&model->lock);
  c = engine_cache_locked (model);
  g_mutex_unlock (&model->lock);
  return c;
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
  UpmEngineCache *c = engine_cache_locked (model);
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

/* Drop the pages of a read-only mapped range from the resident set (the
 * page cache keeps them): once merged, an expert's weights are only read
 * again by the plain path, which faults them back in. */
static void
release_mapped (const void *p, size_t bytes)
{
  const uintptr_t page = (uintptr_t)sysconf (_SC_PAGESIZE);
  uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1);
  uintptr_t b = ((uintptr_t)p + bytes) & ~(page - 1);

  if (b > a)
    madvise ((void *)a, b - a, MADV_DONTNEED);
}

static void
merge_linear (const UpmLinear *lin, const uint32_t expert[2],
    const float weight[2], float **w_out, float **b_out)
{
  const size_t nw = (size_t)lin->n_out * lin->n_in;
  const float *w0 = lin->w + expert[0] * nw, *w1 = lin->w + expert[1] * nw;
  const float *b0 = lin->b + (size_t)expert[0] * lin->n_out;
  const float *b1 = lin->b + (size_t)expert[1] * lin->n_out;
  float *w = g_new (float, nw), *b = g_new (float, lin->n_out);

  for (size_t i = 0; i < nw; i++)
    w[i] = weight[0] * w0[i] + weight[1] * w1[i];
  for (uint32_t i = 0; i < lin->n_out; i++)
    b[i] = weight[0] * b0[i] + weight[1] * b1[i];
  release_mapped (w0, nw * sizeof (float));
  release_mapped (w1, nw * sizeof (float));
  *w_out = w;
  *b_out = b;
}

/* The merged weights serving (layer, gate, attr), built once. */
static const UpmMerged *
merged_for (UpmModel *model, uint32_t layer, UpmGateKind gate, UpmAttr attr)
{
  UpmEngineCache *c;
  UpmDecision *d;
  const UpmLayer *ly = &model->layers[layer];

  g_mutex_lock (&model->lock);
  c = engine_cache_locked (model);
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
          merge_linear (lin, d->expert, d->weight, &m->w[i], &m->b[i]);
          m->bytes += ((size_t)lin->n_out * lin->n_in + lin->n_out) * 4;
        }
      g_ptr_array_add (c->merged, m);
      d->merged = m;
    }
  g_mutex_unlock (&model->lock);
  return d->merged;
}

/* A recorded run of per-token expert ids (bytes at offset in token_ids). */
typedef struct
{
  uint32_t layer;
  UpmGateKind gate;
  uint32_t token_begin, n_tokens;
  guint offset;
} TokenRun;

void
upm_routing_init (UpmRouting *routing)
{
  memset (routing, 0, sizeof *routing);
  routing->routes = g_array_new (FALSE, TRUE, sizeof (UpmRoute));
}

void
upm_routing_clear (UpmRouting *routing)
{
  if (routing->routes)
    g_array_free (routing->routes, TRUE);
  routing->routes = NULL;
  g_clear_pointer (&routing->counts, g_free);
  routing->n_layer = routing->n_expert = 0;
  if (routing->token_runs)
    g_array_free (routing->token_runs, TRUE);
  routing->token_runs = NULL;
  if (routing->token_ids)
    g_byte_array_unref (routing->token_ids);
  routing->token_ids = NULL;
}

void
upm_routing_set_token_experts (UpmRouting *routing, gboolean enable)
{
  routing->token_experts = enable;
}

static uint32_t *
routing_counts (
    UpmModel *model, UpmRouting *routing, uint32_t layer, UpmGateKind gate)
{
  if (!routing->counts)
    {
      routing->n_layer = model->hp.n_layer;
      routing->n_expert = model->hp.n_expert;
      routing->counts = g_new0 (uint32_t,
          (gsize)routing->n_layer * UPM_N_GATES * MAX (routing->n_expert, 1));
    }
  if (layer >= routing->n_layer || routing->n_expert != model->hp.n_expert)
    return NULL;
  return routing->counts
         + ((gsize)layer * UPM_N_GATES + gate) * routing->n_expert;
}

void
upm_routing_count (UpmModel *model, UpmRouting *routing, uint32_t layer,
    UpmGateKind gate, const uint32_t expert[2], uint32_t n)
{
  uint32_t *c = routing ? routing_counts (model, routing, layer, gate) : NULL;

  if (!c)
    return;
  for (int k = 0; k < 2; k++)
    if (expert[k] < routing->n_expert)
      c[expert[k]] += n;
}

gboolean
upm_routing_expert_counts (const UpmRouting *routing, uint32_t layer,
    UpmGateKind gate, uint32_t *counts, uint32_t n_counts)
{
  const uint32_t *c;
  uint32_t total = 0;

  if (!routing || !routing->counts || layer >= routing->n_layer
      || (guint)gate >= UPM_N_GATES)
    return FALSE;
  c = routing->counts + ((gsize)layer * UPM_N_GATES + gate) * routing->n_expert;
  for (uint32_t e = 0; e < routing->n_expert; e++)
    total += c[e];
  if (total == 0)
    return FALSE;
  memcpy (counts, c, MIN (n_counts, routing->n_expert) * sizeof (uint32_t));
  return TRUE;
}

guint
upm_routing_n_token_runs (const UpmRouting *routing)
{
  return routing && routing->token_runs ? routing->token_runs->len : 0;
}

gboolean
upm_routing_token_run (const UpmRouting *routing, guint i, UpmTokenExperts *out)
{
  const TokenRun *r;

  if (i >= upm_routing_n_token_runs (routing))
    return FALSE;
  r = &g_array_index (routing->token_runs, TokenRun, i);
  out->layer = r->layer;
  out->gate = r->gate;
  out->token_begin = r->token_begin;
  out->n_tokens = r->n_tokens;
  out->experts = routing->token_ids->data + r->offset;
  return TRUE;
}

/* Record the dynamic decisions of @n rows (valid ones only). */
static void
routing_record (UpmContext *ctx, uint32_t layer, UpmGateKind gate,
    const UpmTokenRoute *r, uint32_t n)
{
  UpmRouting *rt = ctx->rec;
  const UpmRouteScope *sc = ctx->scope;
  const uint32_t group_rows = sc && sc->group_rows ? sc->group_rows : n;
  uint32_t *c = routing_counts (ctx->model, rt, layer, gate);
  TokenRun run = { layer, gate, 0, 0, 0 };

  if (!c)
    return;
  if (ctx->rec_runs && rt->token_experts)
    {
      if (!rt->token_runs)
        {
          rt->token_runs = g_array_new (FALSE, FALSE, sizeof (TokenRun));
          rt->token_ids = g_byte_array_new ();
        }
      run.token_begin = ctx->rec_from;
      run.offset = rt->token_ids->len;
    }
  for (uint32_t i = ctx->rec_from; i < n; i++)
    {
      const uint32_t gi = i / group_rows, off = i % group_rows;
      if (sc && sc->n_valid && off >= sc->n_valid[gi])
        continue;
      c[r[i].expert[0]]++;
      c[r[i].expert[1]]++;
      if (ctx->rec_runs && rt->token_experts)
        {
          g_byte_array_append (rt->token_ids, r[i].expert, 2);
          run.n_tokens++;
        }
    }
  if (ctx->rec_runs && rt->token_experts)
    g_array_append_val (rt->token_runs, run);
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

/* --------------------------------------------------------------- context */

UpmContext *
upm_context_new (UpmModel *model)
{
  UpmContext *ctx = g_new0 (UpmContext, 1);
  ctx->model = upm_model_ref (model);
  ctx->path = UPM_PATH_FAST;
  ctx->row_chunk = UPM_ROW_CHUNK;
  ctx->ff_block = UPM_FF_BLOCK;
  return ctx;
}

void
upm_context_free (UpmContext *ctx)
{
  if (!ctx)
    return;
  for (int i = 0; i < UPM_N_BUFS; i++)
    g_free (ctx->bufs[i]);
  for (int g = 0; g < UPM_N_GATES; g++)
    g_free (ctx->troute[g]);
  upm_caption_state_free (ctx->caption);
  upm_model_unref (ctx->model);
  g_free (ctx);
}

UpmModel *
upm_context_model (UpmContext *ctx)
{
  return ctx->model;
}

void
upm_context_set_path (UpmContext *ctx, UpmPath path)
{
  ctx->path = path;
}

float *
upm_ctx_buf (UpmContext *ctx, UpmBufSlot slot, size_t n_floats, GError **error)
{
  if (n_floats <= ctx->caps[slot])
    return ctx->bufs[slot];
  if (n_floats > G_MAXSIZE / sizeof (float) / 2)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
          "refusing to allocate %" G_GSIZE_FORMAT " floats", n_floats);
      return NULL;
    }
  /* Grow geometrically: sequences of varying length reuse one buffer. */
  size_t cap = MAX (n_floats, ctx->caps[slot] + ctx->caps[slot] / 2);
  g_free (ctx->bufs[slot]);
  ctx->caps[slot] = 0;
  ctx->bufs[slot] = g_try_malloc (cap * sizeof (float));
  if (!ctx->bufs[slot])
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
          "out of memory allocating %" G_GSIZE_FORMAT " bytes",
          cap * sizeof (float));
      return NULL;
    }
  ctx->caps[slot] = cap;
  return ctx->bufs[slot];
}

/* ------------------------------------------------------------ embeddings */

void
upm_embed_spe (const UpmModel *model, float *out)
{
  const uint32_t d = model->hp.n_embd;
  upm_layer_norm (model->token_embd + (size_t)model->hp.spe_id * d, 1, d,
      model->embd_norm_w, model->embd_norm_b, model->hp.norm_eps, out);
}

void
upm_embed_text_token (
    const UpmModel *model, int32_t id, uint32_t pos, float *out)
{
  const uint32_t d = model->hp.n_embd;
  const float *e = model->token_embd + (size_t)id * d;
  const float *p = model->token_pos_embd + (size_t)pos * d;
  const float *t = model->token_type_embd;

  for (uint32_t j = 0; j < d; j++)
    out[j] = e[j] + p[j] + t[j];
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

static gboolean
check_ids (const UpmModel *m, const int32_t *ids, uint32_t n, GError **error)
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

  if (!check_ids (m, ids, n_ids, error))
    return FALSE;
  upm_embed_spe (m, out);
  for (uint32_t i = 0; i < n_ids; i++)
    upm_embed_text_token (m, ids[i], i, out + (size_t)(i + 1) * d);
  return TRUE;
}

/* ---------------------------------------------------------------- layers */

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
        routing_record (ctx, layer, gate, r, n);
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
    routing_record (ctx, layer, gate, r, n);
  return TRUE;
}

/* y = sum_k w_k (x W_{e_k}^T + b_{e_k}) per row. Fast: the rows of each
 * active expert are gathered, one GEMM per expert, weighted scatter-add.
 * Plain: per row, both experts, mixed. */
static gboolean
dispatch_linear (UpmContext *ctx, const UpmLinear *lin, const UpmTokenRoute *r,
    const float *x, uint32_t n, float *y, GError **error)
{
  const uint32_t E = lin->n_expert, n_in = lin->n_in, n_out = lin->n_out;
  const size_t nw = (size_t)n_out * n_in;
  uint32_t cnt[UPM_MAX_EXPERTS] = { 0 }, off[UPM_MAX_EXPERTS + 1];
  uint32_t max_cnt = 0, *rows;
  float *wts, *xg, *yg;

  memset (y, 0, (size_t)n * n_out * sizeof (float));
  if (ctx->path != UPM_PATH_FAST)
    {
      for (uint32_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++)
          upm_linear_acc (x + (size_t)i * n_in, 1, n_in,
              lin->w + r[i].expert[k] * nw,
              lin->b + (size_t)r[i].expert[k] * n_out, n_out, r[i].weight[k],
              y + (size_t)i * n_out);
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
      upm_linear (
          xg, c, n_in, lin->w + e * nw, lin->b + (size_t)e * n_out, n_out, yg);
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

/* The fast path of a dense layer or a static routing level, for the rows
 * of each segment (merged weights in MoE layers): y = beta y + x W'^T,
 * plus b' and the fused epilogue when @last, where W' is the block of W's
 * outputs [c0, c0 + n_cols) and inputs [k0, k0 + n_k) and b' the bias of
 * those outputs; x rows are n_k floats, y rows (and the epilogue's) n_cols
 * floats. Summing the blocks of the inputs gives the whole product. */
static void
fast_linear_block (UpmContext *ctx, uint32_t layer, int lin_id, uint32_t c0,
    uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *x, uint32_t n,
    const UpmSegment *segs, uint32_t n_segs, float beta, gboolean last,
    float *y, const UpmEpilogue *epi)
{
  UpmModel *m = ctx->model;
  const UpmLayer *ly = &m->layers[layer];
  const UpmLinear *lin = &ly->lin[lin_id];
  const UpmGateKind gate = lin_id <= UPM_LIN_OUT ? UPM_GATE_ATTN : UPM_GATE_FFN;
  const int which = (lin_id == UPM_LIN_OUT || lin_id == UPM_LIN_DOWN);
  const size_t w_off = (size_t)c0 * lin->n_in + k0;
  uint32_t row = 0;

  if (!ly->is_moe)
    {
      upm_linear_part (x, n, n_k, lin->w + w_off, lin->n_in,
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
      upm_linear_part (x + (size_t)row * n_k, cnt, n_k, mg->w[which] + w_off,
          lin->n_in, last ? mg->b[which] + c0 : NULL, n_cols, beta,
          y + (size_t)row * n_cols, last && epi ? &e : NULL);
      row += cnt;
    }
}

/* Output columns [c0, c0 + n_cols) of x W^T + b, the epilogue fused. */
static void
fast_linear (UpmContext *ctx, uint32_t layer, int lin_id, uint32_t c0,
    uint32_t n_cols, const float *x, uint32_t n, const UpmSegment *segs,
    uint32_t n_segs, float *y, const UpmEpilogue *epi)
{
  const UpmLinear *lin = &ctx->model->layers[layer].lin[lin_id];

  fast_linear_block (ctx, layer, lin_id, c0, n_cols, 0, lin->n_in, x, n, segs,
      n_segs, 0.0f, TRUE, y, epi);
}

/* y = x W^T + b for the rows of each segment, with the segment's expert
 * choice in MoE layers, followed by the epilogue @epi (may be NULL):
 * merged weights with the epilogue fused into the GEMM tasks (fast), or
 * per-expert outputs mixed by the gate weights and the epilogue in
 * separate passes (plain). Dynamic levels route per row instead: the
 * first linear of a gate decides from its input rows. */
static gboolean
segment_linear (UpmContext *ctx, uint32_t layer, int lin_id, const float *x,
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
      fast_linear (
          ctx, layer, lin_id, 0, lin->n_out, x, n, segs, n_segs, y, epi);
      return TRUE;
    }
  if (!ly->is_moe)
    {
      upm_linear (x, n, lin->n_in, lin->w, lin->b, lin->n_out, y);
      epilogue_apply (epi, y, n, lin->n_out);
      return TRUE;
    }
  if (dynamic)
    {
      if (!which && !route_rows (ctx, layer, gate, x, n, error))
        return FALSE;
      if (!dispatch_linear (ctx, lin, ctx->troute[gate], x, n, y, error))
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
        upm_linear_acc (xs, cnt, lin->n_in, lin->w + expert[k] * nw,
            lin->b + (size_t)expert[k] * lin->n_out, lin->n_out, weight[k], ys);
      epilogue_apply (epi ? &e : NULL, ys, cnt, lin->n_out);
      row += cnt;
    }
  return TRUE;
}

const float *
upm_layer_gate_input (UpmContext *ctx)
{
  return ctx->bufs[UPM_BUF_LAYER_H];
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
  return segment_linear (
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
  const UpmEpilogue attn_epi = { .kind = UPM_EPI_RESIDUAL,
    .res = x,
    .scale = ly->attn_scale,
    .ln_w = ly->ffn_norm_w,
    .ln_b = ly->ffn_norm_b,
    .eps = m->hp.norm_eps,
    .ln_out = h };
  const UpmEpilogue gelu_epi = { .kind = UPM_EPI_GELU };
  const UpmEpilogue ffn_epi
      = { .kind = UPM_EPI_RESIDUAL, .res = x, .scale = ly->ffn_scale };

  if (!tmp)
    return FALSE;
  return segment_linear (ctx, layer, UPM_LIN_OUT, att, n, segs, n_segs, tmp,
             &attn_epi, error)
         && segment_linear (
             ctx, layer, UPM_LIN_UP, h, n, segs, n_segs, ff, &gelu_epi, error)
         && segment_linear (ctx, layer, UPM_LIN_DOWN, ff, n, segs, n_segs, tmp,
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
  uint32_t layer, n, n_q, rows, ff_block, causal_from;
  float *x;
  const UpmSegment *segs;
  uint32_t n_segs;
  float *kvbuf;
  UpmKvPacked kv;
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
  fast_linear (j->ctx, j->layer, UPM_LIN_QKV, d, d, h, rows, cs, nc, k, NULL);
  fast_linear (
      j->ctx, j->layer, UPM_LIN_QKV, 2 * d, d, h, rows, cs, nc, v, NULL);
  upm_kv_pack_at (&span, 1, m->hp.n_head, hd, j->n, r0, j->kvbuf, &packed);
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
  const UpmEpilogue attn_epi = { .kind = UPM_EPI_RESIDUAL,
    .res = xr,
    .scale = ly->attn_scale,
    .ln_w = ly->ffn_norm_w,
    .ln_b = ly->ffn_norm_b,
    .eps = m->hp.norm_eps,
    .ln_out = h };
  const UpmEpilogue gelu_epi = { .kind = UPM_EPI_GELU };
  const UpmEpilogue ffn_epi
      = { .kind = UPM_EPI_RESIDUAL, .res = xr, .scale = ly->ffn_scale };
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
  fast_linear (ctx, j->layer, UPM_LIN_QKV, 0, d, h, rows, cs, nc, y, NULL);
  upm_attention_packed (
      y, d, rows, &j->kv, m->hp.n_head, hd, j->causal_from, r0, a, d);
  fast_linear (ctx, j->layer, UPM_LIN_OUT, 0, d, a, rows, cs, nc, y, &attn_epi);
  /* x += g2 (W2 GELU(W1 h + b1) + b2), over blocks of the FFN's width:
   * y sums the blocks' products. */
  for (uint32_t k0 = 0; k0 < f; k0 += j->ff_block)
    {
      const uint32_t nb = MIN (j->ff_block, f - k0);
      fast_linear (
          ctx, j->layer, UPM_LIN_UP, k0, nb, h, rows, cs, nc, a, &gelu_epi);
      fast_linear_block (ctx, j->layer, UPM_LIN_DOWN, 0, d, k0, nb, a, rows, cs,
          nc, k0 > 0 ? 1.0f : 0.0f, k0 + nb >= f, y, &ffn_epi);
    }
  g_free (cs);
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
    .x = x,
    .segs = segs,
    .n_segs = n_segs,
    .kvbuf = kvbuf,
    .caller = pthread_self () };

  g_return_val_if_fail (upm_ctx_chunked (ctx), FALSE);
  j.scratch_floats = (size_t)rows * (2 * d + MAX (j.ff_block, d));
  j.caller_scratch = upm_ctx_buf (ctx, UPM_BUF_CHUNK, j.scratch_floats, error);
  if (!j.caller_scratch)
    return FALSE;
  upm_kv_packed_init (n, hp->n_head, d / hp->n_head, kvbuf, &j.kv);
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
  const size_t kv_floats = upm_kv_packed_size (n, hp->n_head, hd);
  /* Causal rows' contexts follow the attention mask; a context gate of
   * the last layer needs every row's attention output. */
  const UpmRouteScope causal = { 0, NULL, causal_from, NULL, NULL };
  float *qkv, *att, *kvbuf;
  gboolean ok = TRUE;

  if (upm_ctx_chunked (ctx))
    {
      /* Only x and the keys/values cover every row. */
      kvbuf = upm_ctx_buf (ctx, UPM_BUF_ENC_KV, kv_floats, error);
      for (uint32_t l = 0; kvbuf && ok && l < hp->n_layer; l++)
        {
          const gboolean last_only = first_only && l + 1 == hp->n_layer;
          UpmKvPacked kv;
          ok = upm_layer_chunked (ctx, l, x, n, segs, n_segs, causal_from,
              last_only ? 1 : n, kvbuf, &kv, error);
        }
      return kvbuf && ok;
    }
  qkv = upm_ctx_buf (ctx, UPM_BUF_ENC_QKV, (size_t)n * 3 * d, error);
  att = qkv ? upm_ctx_buf (ctx, UPM_BUF_ENC_ATT, (size_t)n * d, error) : NULL;
  kvbuf = att ? upm_ctx_buf (ctx, UPM_BUF_ENC_KV, kv_floats, error) : NULL;
  if (!kvbuf)
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
      UpmKvSpan span = { qkv + d, qkv + 2 * d, 3 * d, n };
      UpmKvPacked kv;

      if (!upm_layer_qkv (ctx, l, x, n, segs, n_segs, qkv, error))
        {
          ok = FALSE;
          break;
        }
      upm_kv_pack (&span, 1, hp->n_head, hd, kvbuf, &kv);
      upm_attention_packed (
          qkv, 3 * d, n_q, &kv, hp->n_head, hd, causal_from, 0, att, d);
      if (last_only)
        n_fs = first_row_segments (segs, first_seg), fs = first_seg;
      ok = upm_layer_finish (ctx, l, x, att, n_q, fs, n_fs, error);
    }
  ctx->scope = NULL;
  return ok;
}

gboolean
upm_transformer_forward (UpmContext *ctx, float *x, uint32_t n,
    const UpmSegment *segs, uint32_t n_segs, UpmForwardFlags flags,
    UpmRouting *routing, GError **error)
{
  if (!check_segments (n, segs, n_segs, error))
    return FALSE;
  upm_ctx_record (ctx, routing, 0, TRUE);
  gboolean ok = transformer_run (ctx, x, n, segs, n_segs, UINT32_MAX,
      (flags & UPM_FORWARD_SPE_ONLY) != 0, error);
  upm_ctx_record (ctx, NULL, 0, FALSE);
  if (!ok)
    return FALSE;
  upm_routing_add_segments (ctx->model, routing, segs, n_segs, 0);
  return TRUE;
}

/* Internal entry for the plain caption path: causal text after a prefix. */
gboolean upm_transformer_forward_causal (UpmContext *ctx, float *x, uint32_t n,
    const UpmSegment *segs, uint32_t n_segs, uint32_t causal_from,
    GError **error);

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

typedef struct
{
  const float *qkv;
  float *att;
  const uint32_t *n_ids;
  uint32_t len, d, n_head, hd;
} TextAttJob;

/* Attention of one text of a batch (its own keys only). */
static void
text_att_task (void *arg, uint32_t i)
{
  const TextAttJob *j = arg;
  const uint32_t n = j->n_ids[i] + 1, d = j->d;
  const float *q = j->qkv + (size_t)i * j->len * 3 * d;
  UpmKvSpan span = { q + d, q + 2 * d, 3 * d, n };

  upm_attention (q, 3 * d, n, &span, 1, j->n_head, j->hd, UINT32_MAX, 0,
      j->att + (size_t)i * j->len * d, d, NULL);
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
      if (!check_ids (ctx->model, ids[i], n_ids[i], error))
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
  gboolean ok = TRUE;

  if (!att)
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
      TextAttJob job = { qkv, att, n_ids, len, d, hp->n_head, hd };
      ok = upm_layer_qkv (ctx, l, x, rows, &seg, 1, qkv, error);
      if (ok)
        upm_parallel_for (n_texts, text_att_task, &job);
      ok = ok && upm_layer_finish (ctx, l, x, att, rows, &seg, 1, error);
    }
  ctx->scope = NULL;
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

static gboolean
encode_texts_progress (UpmContext *ctx, const int32_t *const *ids,
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
  return encode_texts_progress (
      ctx, ids, n_ids, n_texts, attr, features, NULL, NULL, NULL, error);
}

/* ------------------------------------------------------------ text heads */

GArray *
upm_tokenize_target (
    const UpmModel *model, const char *text, guint max_len, GError **error)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  int32_t eot = (int32_t)model->hp.eot_id;

  if (!upm_bpe_encode (model->bpe, text, -1, ids, error))
    {
      g_array_free (ids, TRUE);
      return NULL;
    }
  /* "<text> <|endoftext|>": the special token is atomic, so appending its
   * id equals tokenising the concatenated string. */
  g_array_append_val (ids, eot);
  if (max_len)
    upm_tokens_truncate (ids, max_len);
  return ids;
}

static char *
text_key (UpmAttr attr, const char *text)
{
  return g_strdup_printf ("%d\x1f%s", (int)attr, text);
}

gboolean
upm_model_text_features (UpmModel *model, const char *const *labels,
    guint n_labels, UpmAttr attr, float *features, GError **error)
{
  const uint32_t d = model->hp.n_embd;
  UpmEngineCache *c = engine_cache (model);
  GPtrArray *todo_ids
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  GArray *todo_index = g_array_new (FALSE, FALSE, sizeof (guint));
  gboolean ok = TRUE;

  if ((guint)attr >= UPM_N_ATTRS)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "invalid attribute row %d", attr);
      ok = FALSE;
    }
  for (guint i = 0; ok && i < n_labels; i++)
    {
      char *key = text_key (attr, labels[i]);
      const float *hit;
      g_mutex_lock (&model->lock);
      hit = g_hash_table_lookup (c->text_features, key);
      if (hit)
        memcpy (features + (size_t)i * d, hit, d * sizeof (float));
      g_mutex_unlock (&model->lock);
      g_free (key);
      if (hit)
        continue;
      GArray *ids = upm_tokenize_target (
          model, labels[i], model->hp.text_max_length, error);
      if (!ids)
        {
          g_prefix_error (error, "label %u: ", i + 1);
          ok = FALSE;
          break;
        }
      g_ptr_array_add (todo_ids, ids);
      g_array_append_val (todo_index, i);
    }
  if (ok && todo_ids->len > 0)
    {
      const guint n = todo_ids->len;
      const int32_t **ids = g_new (const int32_t *, n);
      uint32_t *lens = g_new (uint32_t, n);
      float *feat = g_new (float, (size_t)n *d);
      UpmContext *ctx = upm_context_new (model);

      for (guint k = 0; k < n; k++)
        {
          GArray *a = g_ptr_array_index (todo_ids, k);
          ids[k] = (const int32_t *)a->data;
          lens[k] = a->len;
        }
      ok = upm_encode_texts (ctx, ids, lens, n, attr, feat, error);
      for (guint k = 0; ok && k < n; k++)
        {
          const guint i = g_array_index (todo_index, guint, k);
          memcpy (features + (size_t)i * d, feat + (size_t)k * d,
              d * sizeof (float));
          g_mutex_lock (&model->lock);
          g_hash_table_replace (c->text_features, text_key (attr, labels[i]),
              g_memdup2 (feat + (size_t)k * d, d * sizeof (float)));
          g_mutex_unlock (&model->lock);
        }
      upm_context_free (ctx);
      g_free (ids);
      g_free (lens);
      g_free (feat);
    }
  g_ptr_array_free (todo_ids, TRUE);
  g_array_free (todo_index, TRUE);
  return ok;
}

void
upm_classify (const UpmHParams *hp, const float *feature,
    const float *label_features, uint32_t n_labels, float scale, float *logits,
    float *probs)
{
  const uint32_t d = hp->n_embd;

  if (n_labels == 0)
    return;
  upm_matmul_rows (
      feature, 1, d, label_features, NULL, n_labels, scale, logits);
  if (probs)
    {
      memcpy (probs, logits, n_labels * sizeof (float));
      upm_softmax (probs, n_labels);
    }
}

void
upm_top_k (const float *logits, const float *probs, uint32_t n, uint32_t k,
    UpmScore *out)
{
  k = MIN (k, n);
  for (uint32_t r = 0; r < k; r++)
    {
      int64_t best = -1;
      for (uint32_t i = 0; i < n; i++)
        {
          gboolean taken = FALSE;
          for (uint32_t j = 0; j < r && !taken; j++)
            taken = out[j].index == i;
          if (!taken && (best < 0 || logits[i] > logits[best]))
            best = i;
        }
      out[r].index = (uint32_t)best;
      out[r].logit = logits[best];
      out[r].prob = probs ? probs[best] : 0.0f;
    }
}

/* ----------------------------------------------------- vocabulary features */

#define UPM_VOCAB_MAGIC "UPMVOC01"

typedef struct
{
  char magic[8];
  uint32_t n_vocab;
  uint32_t n_embd;
  char sha256[64];
} UpmVocabHeader;

static char *
vocab_cache_path (const UpmModel *model)
{
  char *name;
  char *path;

  if (!model->weights_sha256 || strlen (model->weights_sha256) != 64)
    return NULL;
  name = g_strdup_printf ("%s-vocab-f32.bin", model->weights_sha256);
  path = g_build_filename (g_get_user_cache_dir (), "uniperceiver", name, NULL);
  g_free (name);
  return path;
}

static gboolean
vocab_load_cache (UpmModel *model, UpmEngineCache *c, const char *path)
{
  const size_t d = model->hp.n_embd, v = model->hp.n_vocab;
  GMappedFile *mf = g_mapped_file_new (path, FALSE, NULL);
  const UpmVocabHeader *h;

  if (!mf)
    return FALSE;
  h = (const UpmVocabHeader *)g_mapped_file_get_contents (mf);
  if (g_mapped_file_get_length (mf) != sizeof *h + v * d * sizeof (float)
      || memcmp (h->magic, UPM_VOCAB_MAGIC, 8) != 0 || h->n_vocab != v
      || h->n_embd != d || memcmp (h->sha256, model->weights_sha256, 64))
    {
      g_mapped_file_unref (mf);
      return FALSE;
    }
  c->vocab_mapped = mf;
  c->vocab = (const float *)(h + 1);
  return TRUE;
}

/* Best effort: a cache that cannot be written only costs time later. */
static void
vocab_save_cache (const UpmModel *model, const float *feat, const char *path)
{
  const size_t bytes = (size_t)model->hp.n_vocab * model->hp.n_embd * 4;
  UpmVocabHeader h = { 0 };
  char *dir = g_path_get_dirname (path);
  char *tmp = g_strdup_printf ("%s.%u.tmp", path, (guint)g_random_int ());
  FILE *f;

  memcpy (h.magic, UPM_VOCAB_MAGIC, 8);
  h.n_vocab = model->hp.n_vocab;
  h.n_embd = model->hp.n_embd;
  memcpy (h.sha256, model->weights_sha256, 64);
  g_mkdir_with_parents (dir, 0755);
  f = fopen (tmp, "wb");
  if (f && fwrite (&h, sizeof h, 1, f) == 1
      && fwrite (feat, 1, bytes, f) == bytes && fclose (f) == 0)
    {
      if (g_rename (tmp, path) != 0)
        g_unlink (tmp);
    }
  else
    {
      if (f)
        fclose (f);
      g_unlink (tmp);
    }
  g_free (tmp);
  g_free (dir);
}

static float *
vocab_compute (
    UpmModel *model, UpmProgressFunc progress, gpointer ud, GError **error)
{
  const uint32_t v = model->hp.n_vocab, d = model->hp.n_embd;
  int32_t *pairs = g_new (int32_t, (size_t)v * 2);
  const int32_t **ids = g_new (const int32_t *, v);
  uint32_t *lens = g_new (uint32_t, v);
  float *feat = g_try_new (float, (size_t)v *d);
  UpmContext *ctx = upm_context_new (model);
  gboolean ok = feat != NULL;

  /* Entry v is the text [v, <|endoftext|>] with the vocab_target row. */
  for (uint32_t i = 0; i < v; i++)
    {
      pairs[2 * i] = (int32_t)i;
      pairs[2 * i + 1] = (int32_t)model->hp.eot_id;
      ids[i] = pairs + 2 * i;
      lens[i] = 2;
    }
  if (!ok)
    g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
        "out of memory for the vocabulary features");
  else
    ok = encode_texts_progress (ctx, ids, lens, v, UPM_ATTR_VOCAB_TARGET, feat,
        progress, ud, "vocabulary features", error);
  upm_context_free (ctx);
  g_free (pairs);
  g_free (ids);
  g_free (lens);
  if (!ok)
    {
      g_free (feat);
      return NULL;
    }
  return feat;
}

const float *
upm_model_vocab_features (UpmModel *model, UpmProgressFunc progress,
    gpointer user_data, GError **error)
{
  UpmEngineCache *c = engine_cache (model);
  const float *result = NULL;

  g_mutex_lock (&c->vocab_lock);
  if (!c->vocab && model->vocab_features)
    {
      const UpmTensor *t = model->vocab_features;
      if (t->type == UPM_DTYPE_F32)
        {
          c->vocab = t->data;
        }
      else
        {
          const size_t n = (size_t)model->hp.n_vocab * model->hp.n_embd;
          const uint16_t *src = t->data;
          c->vocab_owned = g_new (float, n);
          for (size_t i = 0; i < n; i++)
            c->vocab_owned[i] = upm_f16_to_f32 (src[i]);
          c->vocab = c->vocab_owned;
        }
    }
  if (!c->vocab)
    {
      char *path = vocab_cache_path (model);
      if (!path || !vocab_load_cache (model, c, path))
        {
          c->vocab_owned = vocab_compute (model, progress, user_data, error);
          c->vocab = c->vocab_owned;
          if (c->vocab && path)
            vocab_save_cache (model, c->vocab, path);
        }
      g_free (path);
    }
  result = c->vocab;
  g_mutex_unlock (&c->vocab_lock);
  return result;
}

gboolean
upm_engine_vocab_f16_enabled (void)
{
  static gsize once = 0;
  static gboolean on = FALSE;

  if (g_once_init_enter (&once))
    {
      const char *e = g_getenv ("UPM_VOCAB_F16");
      on = e && *e && strcmp (e, "0") != 0;
      g_once_init_leave (&once, 1);
    }
  return on;
}

const uint16_t *
upm_engine_vocab_f16 (UpmModel *model, GError **error)
{
  const float *v = upm_model_vocab_features (model, NULL, NULL, error);
  UpmEngineCache *c = engine_cache (model);
  const uint16_t *result;

  if (!v)
    return NULL;
  g_mutex_lock (&c->vocab_lock);
  if (!c->vocab16)
    {
      const size_t n = (size_t)model->hp.n_vocab * model->hp.n_embd;
      c->vocab16 = g_try_new (uint16_t, n);
      if (c->vocab16)
        {
          upm_f32_to_f16_row (v, c->vocab16, n);
          /* Only the plain path reads the float copy again (from the page
           * cache when it was mapped from disk). */
          if (c->vocab_mapped)
            release_mapped (v, n * sizeof (float));
        }
    }
  result = c->vocab16;
  g_mutex_unlock (&c->vocab_lock);
  if (!result)
    g_set_error (error, UPM_ERROR, UPM_ERROR_NOMEM,
        "out of memory for the half-precision vocabulary features");
  return result;
}

/* ------------------------------------------------------------------ misc */

size_t
upm_engine_merged_bytes (UpmModel *model)
{
  size_t bytes = 0;

  g_mutex_lock (&model->lock);
  if (model->engine)
    {
      UpmEngineCache *c = model->engine;
      for (guint i = 0; i < c->merged->len; i++)
        {
          const UpmMerged *mg = g_ptr_array_index (c->merged, i);
          bytes += mg->bytes;
        }
    }
  g_mutex_unlock (&model->lock);
  return bytes;
}

char *
upm_engine_vocab_cache_path (const UpmModel *model)
{
  return vocab_cache_path (model);
}

void
upm_set_num_threads (int n_threads)
{
  upm_threads_set (n_threads);
}
