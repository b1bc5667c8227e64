/* upm-moe.h: the experts of a layer's linears (upm-moe.c): the five
 * routing levels, the merged experts of the static levels, and the
 * dispatch of a linear over the rows of its segments. Uses the context's
 * fields (upm-context.h), the routing record, the model and the kernels.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_MOE_H
#define UPM_MOE_H

#include "upm-context.h"
#include "upm-ops.h"

G_BEGIN_DECLS

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

/* Append the routing of every MoE layer for these segments. */
void upm_routing_add_segments (UpmModel *model, UpmRouting *routing,
    const UpmSegment *segs, uint32_t n_segs, uint32_t token_base);

/* y = x W^T + b of linear @lin_id (UPM_LIN_*) of a layer for the rows of
 * each segment, with the segment's expert choice in MoE layers, followed
 * by the epilogue @epi (may be NULL): merged weights with the epilogue
 * fused into the GEMM tasks (fast), or per-expert outputs mixed by the gate
 * weights and the epilogue in separate passes (plain). Dynamic levels route
 * per row instead: the first linear of a gate decides from its input rows
 * (by ctx->scope), the second uses that decision. */
gboolean upm_moe_linear (UpmContext *ctx, uint32_t layer, int lin_id,
    const float *x, uint32_t n, const UpmSegment *segs, uint32_t n_segs,
    float *y, const UpmEpilogue *epi, GError **error);

/* The fast path of a dense layer or a static routing level (merged weights
 * in MoE layers): y = beta y + x W'^T, plus b' and the fused epilogue when
 * @last, where W' is the block of W's outputs [c0, c0 + n_cols) and inputs
 * [k0, k0 + n_k) and b' the bias of those outputs; x rows are n_k floats,
 * y rows (and the epilogue's) n_cols floats. */
/* Whether an INT8 context's caption decode step runs its linears and the
 * vocabulary scoring in int8 x int8 (rows quantised per row, as the
 * encoder's): yes unless UPM_INT8_DECODE_X8=0, which keeps the float rows
 * on int8 weights. Measured on the Base shape (AVX-512 VNNI host, one
 * thread, 36 matrices 3072 x 768, 4 rows): 8.7 GB/s of weights with float
 * rows (the widening and FMAs are the limit), 13.1 GB/s in int8 x int8
 * (DRAM's per-core rate; 25 GB/s from L3); at the avx2 level 7.8 against
 * 10.0 GB/s. */
gboolean upm_int8_decode_x8 (void);

void upm_moe_linear_fast_block (UpmContext *ctx, uint32_t layer, int lin_id,
    uint32_t c0, uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *x,
    uint32_t n, const UpmSegment *segs, uint32_t n_segs, float beta,
    gboolean last, float *y, const UpmEpilogue *epi);
/* Output columns [c0, c0 + n_cols) of x W^T + b, the epilogue fused. */
void upm_moe_linear_fast (UpmContext *ctx, uint32_t layer, int lin_id,
    uint32_t c0, uint32_t n_cols, const float *x, uint32_t n,
    const UpmSegment *segs, uint32_t n_segs, float *y, const UpmEpilogue *epi);

/* Free the context's per-row routing decisions (upm_context_free). */
void upm_moe_ctx_clear (UpmContext *ctx);

/* What the model holds beside its mapping for its layers' linears, in
 * bytes by kind: float copies widened from a typed file (upm_linear_f32,
 * the fp32 and plain paths), and the copies each precision builds on
 * first use (merged experts of the static levels, dense linears, experts
 * of the dynamic levels); q8 the unpacked int8 copies, q8_packed those
 * packed for the int8 x int8 GEMM (upm_engine_weight_memory). */
typedef struct
{
  size_t f32_copies;
  size_t merged_f32, merged_bf16, merged_q8, merged_q8_packed;
  size_t dense_bf16, dense_q8, dense_q8_packed;
  size_t expert_bf16;
} UpmWeightMemory;

void upm_engine_weight_memory (UpmModel *model, UpmWeightMemory *out);

/* Bytes of the merged expert weights built so far (benchmarks). */
size_t upm_engine_merged_bytes (UpmModel *model);

G_END_DECLS
#endif /* UPM_MOE_H */
