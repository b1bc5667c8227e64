/* upm-ops.h: dense kernels of the engine (OpenBLAS and plain loops).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_OPS_H
#define UPM_OPS_H

#include <stdint.h>
#include <stddef.h>

/* y[n, n_out] = x[n, n_in] W^T + b, W row-major [n_out, n_in] (PyTorch).
 * Uses sgemv for a single row: OpenBLAS does not route M=1 gemm to gemv. */
void upm_linear (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float *y);

/* y += alpha * (x W^T + b): the plain path's per-expert accumulation. */
void upm_linear_acc (const float *x, uint32_t n, uint32_t n_in,
    const float *w, const float *b, uint32_t n_out, float alpha, float *y);

/* Row-wise LayerNorm of x [n, d] into y (may alias x). */
void upm_layer_norm (const float *x, uint32_t n, uint32_t d, const float *g,
    const float *b, float eps, float *y);

/* Exact-erf GELU in place: vectorised erf (fractional error < 2e-7) where
 * AVX2 is available; upm_gelu_ref is the libm reference the tests use. */
void upm_gelu (float *x, size_t n);
void upm_gelu_ref (float *x, size_t n);
/* exp in place (vectorised) and its libm reference. */
void upm_exp (float *x, size_t n);
void upm_exp_ref (float *x, size_t n);

/* x[n, d] += scale[d] * y[n, d] (layer scale + residual). */
void upm_scaled_residual (float *x, const float *y, const float *scale,
    uint32_t n, uint32_t d);

/* In-place softmax of x[n]; returns nothing, handles -inf. */
void upm_softmax (float *x, uint32_t n);
/* In-place log-softmax of x[n]. */
void upm_log_softmax (float *x, uint32_t n);

/* L2-normalise x[d] in place (eps 1e-12 as F.normalize). */
void upm_l2_normalize (float *x, uint32_t d);

/* A run of keys/values: rows of k and v with row stride ld (floats). */
typedef struct
{
  const float *k;
  const float *v;
  uint32_t ld;
  uint32_t n;
} UpmKvSpan;

/* Multi-head attention of n_q queries against the concatenation of the
 * key/value spans. Query row i sees the first visible(i) keys of the
 * concatenation, where visible(i) = n_keys when causal_from is UINT32_MAX,
 * else max(causal_from, key_offset + i + 1) clipped to n_keys.
 * q has row stride ldq, out has row stride ldo; heads are contiguous
 * head_dim-wide column blocks. scratch needs upm_attention_scratch() floats. */
void upm_attention (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvSpan * spans, uint32_t n_spans, uint32_t n_head,
    uint32_t head_dim, uint32_t causal_from, uint32_t key_offset,
    float *out, uint32_t ldo, float *scratch);
size_t upm_attention_scratch (uint32_t n_q, uint32_t n_keys);

#endif /* UPM_OPS_H */
