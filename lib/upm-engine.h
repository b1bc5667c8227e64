/* upm-engine.h: internals shared by the encoder and the caption decoder.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_ENGINE_H
#define UPM_ENGINE_H

#include "upm-private.h"
#include "upm-ops.h"

G_BEGIN_DECLS

/* Scratch buffers of a context, grown on demand. The encoder uses the
 * UPM_BUF_ENC_* slots, the caption decoder its own, so that a decoder can
 * call layer functions while holding its buffers. Chunked layers
 * (upm_layer_chunked) need only UPM_BUF_CHUNK besides x and the packed
 * keys/values. */
typedef enum
{
  UPM_BUF_ENC_X,
  UPM_BUF_ENC_QKV,
  UPM_BUF_ENC_ATT,
  UPM_BUF_ENC_KV,  /* packed keys/values of the sequence */
  UPM_BUF_LAYER_H, /* used inside upm_layer_finish */
  UPM_BUF_LAYER_FF,
  UPM_BUF_LAYER_TMP,
  UPM_BUF_CHUNK, /* a chunk's scratch, calling thread */
  UPM_BUF_CAP_X,
  UPM_BUF_CAP_QKV,
  UPM_BUF_CAP_ATT,
  UPM_BUF_CAP_SCORES,
  UPM_BUF_CAP_LOGITS,
  UPM_BUF_CAP_FEAT,
  UPM_BUF_MOE_X, /* rows of one expert, gathered (dynamic) */
  UPM_BUF_MOE_Y,
  UPM_N_BUFS
} UpmBufSlot;

typedef struct _UpmCaptionState UpmCaptionState;

/* Dynamic routing (token, context): the decision of one gate for one row. */
typedef struct
{
  uint8_t expert[2]; /* descending gate logit */
  float weight[2];
} UpmTokenRoute;

/* Which rows a row's context (context routing) is the mean over. The rows
 * are tiled by groups of group_rows (0: one group of all rows); in a group,
 * only the first n_valid[g] rows count (the rest is padding); row i sees the
 * group's rows < max(causal_from, i + 1) (UINT32_MAX: all), plus, when
 * base is set, base_count earlier tokens whose sums are base[g]
 * ([n_layer][UPM_N_GATES][D] floats: the KV-cached caption prefix and
 * words). NULL scope: one bidirectional sequence. */
typedef struct
{
  uint32_t group_rows;
  const uint32_t *n_valid;
  uint32_t causal_from;
  const float *const *base;
  const uint32_t *base_count;
} UpmRouteScope;

struct _UpmContext
{
  UpmModel *model;
  UpmPath path;
  uint32_t row_chunk; /* UPM_ROW_CHUNK (tests set fewer) */
  uint32_t ff_block;  /* UPM_FF_BLOCK (tests set fewer) */
  float *bufs[UPM_N_BUFS];
  size_t caps[UPM_N_BUFS];
  UpmCaptionState *caption;
  /* Dynamic routing: the scope of the current forward (set by callers of
   * the layer functions), the current layer's per-row decisions of each
   * gate (made by the first linear of the gate, used by the second). */
  const UpmRouteScope *scope;
  UpmTokenRoute *troute[UPM_N_GATES];
  size_t troute_cap[UPM_N_GATES];
  /* Where dynamic decisions are recorded (NULL: nowhere): counts of the
   * valid rows >= rec_from, per-token runs when rec_runs. */
  UpmRouting *rec;
  uint32_t rec_from;
  gboolean rec_runs;
};

/* NULL (and an error) when the allocation is refused. */
float *upm_ctx_buf (
    UpmContext *ctx, UpmBufSlot slot, size_t n_floats, GError **error);

/* Rows per chunk (at most) of a chunked layer: its scratch is a chunk's
 * rows, not the sequence's, while the GEMMs stay large. */
#define UPM_ROW_CHUNK 256
/* The FFN of a chunked layer runs over blocks of this many of its hidden
 * units (the second linear sums the blocks' products). */
#define UPM_FF_BLOCK 768

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

/* Text token at a text position: LN(E[id] + P[pos] + T[0]). */
void upm_embed_text_token (
    const UpmModel *model, int32_t id, uint32_t pos, float *out);
/* The leading <SPE>: LN(E[spe]), no position, no type. */
void upm_embed_spe (const UpmModel *model, float *out);

/* First half of a layer: qkv [n, 3D] = Wqkv LN1(x) per segment. */
gboolean upm_layer_qkv (UpmContext *ctx, uint32_t layer, const float *x,
    uint32_t n, const UpmSegment *segs, uint32_t n_segs, float *qkv,
    GError **error);
/* Second half: x += g1 Wout att; x += g2 FFN(LN2 x), per segment. */
gboolean upm_layer_finish (UpmContext *ctx, uint32_t layer, float *x,
    const float *att, uint32_t n, const UpmSegment *segs, uint32_t n_segs,
    GError **error);

/* One whole layer over chunks of rows (upm_ctx_chunked contexts only):
 * packs the keys and values of all n rows of x into kvbuf
 * (upm_kv_packed_size (n) floats, described by *kv), then updates the
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

/* Record the dynamic routing decisions of the next layer calls into
 * @routing (NULL, or a static level: nothing is recorded). */
static inline void
upm_ctx_record (
    UpmContext *ctx, UpmRouting *routing, uint32_t from, gboolean runs)
{
  ctx->rec = routing && routing->routes
                     && upm_routing_level_is_dynamic (ctx->model->routing)
                 ? routing
                 : NULL;
  ctx->rec_from = from;
  ctx->rec_runs = runs;
}

/* Add n tokens to the counts of these experts of a layer's gate. */
void upm_routing_count (UpmModel *model, UpmRouting *routing, uint32_t layer,
    UpmGateKind gate, const uint32_t expert[2], uint32_t n);

/* Append the routing of every MoE layer for these segments. */
void upm_routing_add_segments (UpmModel *model, UpmRouting *routing,
    const UpmSegment *segs, uint32_t n_segs, uint32_t token_base);

/* Log-probabilities over the vocabulary of the first caption step (one
 * beam): the numeric check of the decoder in the tests. */
gboolean upm_caption_first_step (UpmContext *ctx, const float *patches,
    uint32_t n_frames, float *logprobs, GError **error);

/* Bytes of the merged expert weights built so far (benchmarks). */
size_t upm_engine_merged_bytes (UpmModel *model);
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

/* The caption decoder's per-context state (upm-caption.c). */
void upm_caption_state_free (UpmCaptionState *state);

G_END_DECLS
#endif /* UPM_ENGINE_H */
