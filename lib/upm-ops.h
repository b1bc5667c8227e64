/* upm-ops.h: dense kernels of the engine (OpenBLAS and plain loops).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The kernels run on the thread pool of upm-threads.h (included here).
 * Each has a plain C version and vectorised ones per ISA level
 * (lib/kernels/), one of which is chosen once at run time from the CPU;
 * the environment variable UPM_CPU=generic|avx2|avx512|avx512bf16 can
 * lower it (lib/kernels/upm-cpu.h).
 */
#ifndef UPM_OPS_H
#define UPM_OPS_H

#include "upm-quant.h"
#include "upm-threads.h"

#include <stddef.h>
#include <stdint.h>

/* ----------------------------------------------------------------- linear */

/* What happens to y = x W^T + b before it is stored. */
typedef enum
{
  UPM_EPI_NONE,     /* y = x W^T + b */
  UPM_EPI_GELU,     /* y = GELU(x W^T + b) */
  UPM_EPI_RESIDUAL, /* res += scale * (x W^T + b); y is scratch;
                     * then ln_out = LN(res) when ln_w is set */
} UpmEpiKind;

typedef struct
{
  UpmEpiKind kind;
  float *res;               /* [n, n_out] */
  const float *scale;       /* [n_out] */
  const float *ln_w, *ln_b; /* optional LayerNorm of the updated rows */
  float eps;
  float *ln_out; /* [n, n_out] */
} UpmEpilogue;

/* y[n, n_out] = x[n, n_in] W^T + b, W row-major [n_out, n_in] (PyTorch).
 * Few rows stream W once through our own kernel; more rows use OpenBLAS
 * sgemm, split over the pool. */
void upm_linear (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float *y);
/* The same with an epilogue fused into each task (epi may be NULL). */
void upm_linear_ex (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float *y, const UpmEpilogue *epi);

/* y = beta y + x W^T (+ b), then the epilogue, where W's rows are ldw
 * floats apart: a block of W's columns, so that a product can be summed
 * over blocks of its inputs (b and the epilogue with the last block). */
void upm_linear_part (const float *x, uint32_t n, uint32_t n_in, const float *w,
    size_t ldw, const float *b, uint32_t n_out, float beta, float *y,
    const UpmEpilogue *epi);

/* Weights W [n_out, n_in] in bfloat16 (rounded to nearest even), packed
 * for the bfloat16 GEMM: panels of 16 outputs, in a panel the inputs in
 * pairs, pair q holding w[16 p + i][2 q + h] at 2 i + h (the operand
 * layout of vdpbf16ps); n_out padded to 16 and n_in to 2 with zeros. */
typedef struct
{
  const uint16_t *w;
  uint32_t n_out, n_in;
  uint32_t n_pairs; /* (n_in + 1) / 2 */
} UpmBf16Weights;

/* uint16 values of the packed weights of [n_out, n_in]. */
size_t upm_bf16_weights_size (uint32_t n_out, uint32_t n_in);
/* Packs w (rows ldw floats apart) into buf (upm_bf16_weights_size
 * values), in parallel over the pool, and describes it in *out. */
void upm_bf16_weights_pack (const float *w, size_t ldw, uint32_t n_out,
    uint32_t n_in, uint16_t *buf, UpmBf16Weights *out);
/* x rounded to the nearest bfloat16 (ties to even), as a float. */
float upm_bf16_round (float x);

/* upm_linear_part in bfloat16: y = beta y + x' W'^T (+ b), then the
 * epilogue, where x' is x rounded to bfloat16 and W' the outputs
 * [c0, c0 + n_cols) and inputs [k0, k0 + n_k) of w; x rows n_k floats, y
 * rows n_cols floats, b the bias of those outputs (b[0] is output c0's).
 * The products are summed in float: the levels differ from the generic
 * one by the order of the sums only (within ~n_k 2^-24 sum |x'| |w|). */
void upm_linear_bf16 (const float *x, uint32_t n, const UpmBf16Weights *w,
    uint32_t c0, uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *b,
    float beta, float *y, const UpmEpilogue *epi);

/* upm_linear_bf16's block product with int8 weights (upm-quant.h), for few
 * rows (the caption decode step): y = beta y + x W'^T (+ b), then the
 * epilogue, where W' is scale[o] q[o][k] for the outputs [c0, c0 + n_cols)
 * and inputs [k0, k0 + n_k) of w, x in float. The weights are read once
 * for every 4 rows (more rows re-read them from L2). Sums in float: the
 * levels differ from the generic one by the order of the sums only. */
void upm_linear_q8 (const float *x, uint32_t n, const UpmQ8Matrix *w,
    uint32_t c0, uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *b,
    float beta, float *y, const UpmEpilogue *epi);

/* Int8 weights packed for the int8 x int8 GEMM: panels of 16 outputs, in
 * a panel the inputs in quads, quad g holding q[16 p + i][4 g + h] at
 * 4 i + h (the operand layout of vpdpbusd); n_out padded to 16 and n_in to
 * 4 with zeros; the scales (one per output) are the matrix's. */
typedef struct
{
  const int8_t *w;
  const float *scale;
  uint32_t n_out, n_in;
  uint32_t n_quads; /* (n_in + 3) / 4 */
} UpmQ8Packed;

/* Bytes of the packed weights of [n_out, n_in]. */
size_t upm_q8_packed_size (uint32_t n_out, uint32_t n_in);
/* Packs m into buf (upm_q8_packed_size bytes, m's scales referenced, not
 * copied), in parallel over the pool, and describes it in *out. */
void upm_q8_pack (const UpmQ8Matrix *m, int8_t *buf, UpmQ8Packed *out);

/* upm_linear_q8's product in int8 x int8, for many rows (the encoder):
 * each row of x quantised over the block's inputs [k0, k0 + n_k) to int8
 * with its own scale xs = max |x| / 127 (nearest, x * (1 / xs)), integer
 * sums exact, y = beta y + (sum xq q * xs) * scale[o] (+ b), then the
 * epilogue. The levels agree with the generic one to the last bit (also
 * the slow path taken when a thread's scratch for the quantised rows is
 * refused). */
void upm_linear_q8q8 (const float *x, uint32_t n, const UpmQ8Packed *w,
    uint32_t c0, uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *b,
    float beta, float *y, const UpmEpilogue *epi);

/* y += alpha * (x W^T + b): the plain path's per-expert accumulation. */
void upm_linear_acc (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float alpha, float *y);

/* y[n, n_out] = alpha * x W^T for few rows (n <= 8 per pass), W in float
 * (w) or IEEE half (w16, exactly one of them set): the similarity heads. */
void upm_matmul_rows (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const uint16_t *w16, uint32_t n_out, float alpha, float *y);

/* Row-wise LayerNorm of x [n, d] into y (may alias x). */
void upm_layer_norm (const float *x, uint32_t n, uint32_t d, const float *g,
    const float *b, float eps, float *y);

/* Exact-erf GELU in place: vectorised erf (fractional error < 2e-7) where
 * the AVX2 level runs; upm_gelu_ref is the libm reference the tests use. */
void upm_gelu (float *x, size_t n);
void upm_gelu_ref (float *x, size_t n);
/* exp in place (vectorised) and its libm reference. */
void upm_exp (float *x, size_t n);
void upm_exp_ref (float *x, size_t n);

/* x[n, d] += scale[d] * y[n, d] (layer scale + residual). */
void upm_scaled_residual (
    float *x, const float *y, const float *scale, uint32_t n, uint32_t d);

/* y[n] = a0 x0[n] + a1 x1[n] (merging two experts' weights). */
void upm_mix2 (
    const float *x0, float a0, const float *x1, float a1, size_t n, float *y);

/* In-place softmax of x[n]; returns nothing, handles -inf. */
void upm_softmax (float *x, uint32_t n);
/* In-place log-softmax of x[n]. */
void upm_log_softmax (float *x, uint32_t n);

/* L2-normalise x[d] in place (eps 1e-12 as F.normalize). */
void upm_l2_normalize (float *x, uint32_t d);

/* IEEE half <-> float (F16C in the AVX2 level). */
void upm_f32_to_f16_row (const float *x, uint16_t *y, size_t n);

/* -------------------------------------------------------------- attention */

/* A run of keys/values: rows of k and v with row stride ld (floats). */
typedef struct
{
  const float *k;
  const float *v;
  uint32_t ld;
  uint32_t n;
} UpmKvSpan;

/* Keys and values packed per head for the attention kernels: head h's keys
 * in 16-key tiles of head_dim x 16 floats, its values in 16-wide column
 * blocks of ld x 16 floats. ld is the key count rounded up to 16. */
typedef struct
{
  const float *kt;
  const float *v;
  uint32_t n;  /* keys */
  uint32_t ld; /* keys rounded up to 16 */
} UpmKvPacked;

/* Floats of a packed buffer for n keys. */
size_t upm_kv_packed_size (uint32_t n_keys, uint32_t n_head, uint32_t head_dim);
/* Packs the concatenation of the spans into buf (upm_kv_packed_size
 * floats), in parallel over heads. */
void upm_kv_pack (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t head_dim, float *buf, UpmKvPacked *out);
/* Packs the concatenation of the spans as keys key0.. of a buffer for
 * n_keys keys (upm_kv_packed_size (n_keys) floats), so that a sequence can
 * be packed a run of rows at a time; the padding keys are zeroed by the
 * call that packs the last key. *out describes the whole buffer. */
void upm_kv_pack_at (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t head_dim, uint32_t n_keys, uint32_t key0, float *buf,
    UpmKvPacked *out);
/* The description of a packed buffer for n_keys keys (what the packing
 * calls fill in). */
void upm_kv_packed_init (uint32_t n_keys, uint32_t n_head, uint32_t head_dim,
    float *buf, UpmKvPacked *out);

/* Multi-head attention of n_q queries against the concatenation of the
 * key/value spans. Query row i sees the first visible(i) keys of the
 * concatenation, where visible(i) = n_keys when causal_from is UINT32_MAX,
 * else max(causal_from, key_offset + i + 1) clipped to n_keys.
 * q has row stride ldq, out has row stride ldo; heads are contiguous
 * head_dim-wide column blocks. The scratch argument is no longer used (the
 * kernels keep per-thread buffers); upm_attention_scratch() stays for
 * callers that still allocate it. */
void upm_attention (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t head_dim, uint32_t causal_from, uint32_t key_offset, float *out,
    uint32_t ldo, float *scratch);
size_t upm_attention_scratch (uint32_t n_q, uint32_t n_keys);

/* The same against packed keys/values (head_dim a multiple of 8). */
void upm_attention_packed (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvPacked *kv, uint32_t n_head, uint32_t head_dim,
    uint32_t causal_from, uint32_t key_offset, float *out, uint32_t ldo);

/* Decoding: groups of consecutive query rows that all see the shared packed
 * keys first, then their own group's spans. Row i of a group sees the first
 * visible(i) keys of [shared, group spans] (rule above). The shared keys
 * are read once for all rows. */
typedef struct
{
  uint32_t n_rows;
  const UpmKvSpan *spans;
  uint32_t n_spans;
} UpmAttnGroup;

void upm_attention_groups (const float *q, uint32_t ldq,
    const UpmKvPacked *shared, const UpmAttnGroup *groups, uint32_t n_groups,
    uint32_t n_head, uint32_t head_dim, uint32_t causal_from,
    uint32_t key_offset, float *out, uint32_t ldo);

/* Shared keys and values kept in bfloat16 for decoding: the layout of
 * UpmKvPacked (same element offsets), each value rounded to bfloat16 (half
 * the bytes a decode step reads from the prefix). */
typedef struct
{
  const uint16_t *kt;
  const uint16_t *v;
  uint32_t n;  /* keys */
  uint32_t ld; /* keys rounded up to 16 */
} UpmKvPacked16;

/* *kv (upm_kv_packed_size (kv->n, ...) floats from kv->kt) rounded to
 * bfloat16 (nearest even) into buf (as many uint16 values), in parallel. */
void upm_kv_packed_to_bf16 (const UpmKvPacked *kv, uint32_t n_head,
    uint32_t head_dim, uint16_t *buf, UpmKvPacked16 *out);

/* upm_attention_groups with the shared keys and values in bfloat16,
 * widened to float in registers: queries, scores, the softmax and the sums
 * stay float (the group's own keys too). */
void upm_attention_groups_bf16 (const float *q, uint32_t ldq,
    const UpmKvPacked16 *shared, const UpmAttnGroup *groups, uint32_t n_groups,
    uint32_t n_head, uint32_t head_dim, uint32_t causal_from,
    uint32_t key_offset, float *out, uint32_t ldo);

/* ---------------------------------------------------- bfloat16 attention */

/* Keys and values in bfloat16, per head in the layout of UpmBf16Weights:
 * the keys as n_keys (rounded up to 16) outputs of head_dim inputs, the
 * values as head_dim (rounded up to 16) outputs of one input per key. */
typedef struct
{
  uint16_t *buf;
  uint32_t n;  /* keys */
  uint32_t ld; /* keys rounded up to 16 */
} UpmKvBf16;

/* uint16 values of a packed buffer for n keys (at most the bytes of
 * upm_kv_packed_size's floats: one buffer serves either). */
size_t upm_kv_bf16_size (uint32_t n_keys, uint32_t n_head, uint32_t head_dim);
/* The description of a buffer for n_keys keys. */
void upm_kv_bf16_init (uint32_t n_keys, uint32_t n_head, uint32_t head_dim,
    void *buf, UpmKvBf16 *out);
/* Packs the concatenation of the spans, rounded to bfloat16, as keys
 * key0.. of *kv (described by upm_kv_bf16_init), in parallel over heads;
 * the padding keys are zeroed by the call that packs the last key. */
void upm_kv_pack_bf16_at (const UpmKvSpan *spans, uint32_t n_spans,
    uint32_t n_head, uint32_t head_dim, uint32_t key0, const UpmKvBf16 *kv);
/* Head h's keys and values as the GEMM's weights. */
void upm_kv_bf16_head (const UpmKvBf16 *kv, uint32_t n_head, uint32_t head_dim,
    uint32_t h, UpmBf16Weights *keys, UpmBf16Weights *values);

/* upm_attention_packed against bfloat16 keys and values: the queries and
 * the probabilities rounded to bfloat16 for the two products, sums and
 * the softmax in float. */
void upm_attention_bf16 (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvBf16 *kv, uint32_t n_head, uint32_t head_dim,
    uint32_t causal_from, uint32_t key_offset, float *out, uint32_t ldo);

#endif /* UPM_OPS_H */
