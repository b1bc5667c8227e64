/* upm-ops.c: dense kernels of the engine.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

/* Queries per attention block: keeps the score buffer linear in the
 * sequence length (block x n_keys floats) while the per-head GEMMs stay
 * large enough for OpenBLAS. */
#define UPM_ATTN_BLOCK 256

static void
fill_rows (float *y, uint32_t n, uint32_t d, const float *row)
{
  for (uint32_t i = 0; i < n; i++)
    memcpy (y + (size_t) i * d, row, d * sizeof (float));
}

void
upm_linear (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float *y)
{
  float beta = 0.0f;

  if (n == 0)
    return;
  if (b) {
    fill_rows (y, n, n_out, b);
    beta = 1.0f;
  }
  if (n == 1)
    cblas_sgemv (CblasRowMajor, CblasNoTrans, n_out, n_in, 1.0f, w, n_in, x,
        1, beta, y, 1);
  else
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, n_out, n_in,
        1.0f, x, n_in, w, n_in, beta, y, n_out);
}

void
upm_linear_acc (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float alpha, float *y)
{
  if (n == 0)
    return;
  if (b) {
    for (uint32_t i = 0; i < n; i++) {
      float *row = y + (size_t) i * n_out;
      for (uint32_t j = 0; j < n_out; j++)
        row[j] += alpha * b[j];
    }
  }
  if (n == 1)
    cblas_sgemv (CblasRowMajor, CblasNoTrans, n_out, n_in, alpha, w, n_in, x,
        1, 1.0f, y, 1);
  else
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, n_out, n_in,
        alpha, x, n_in, w, n_in, 1.0f, y, n_out);
}

void
upm_layer_norm (const float *x, uint32_t n, uint32_t d, const float *g,
    const float *b, float eps, float *y)
{
  for (uint32_t i = 0; i < n; i++) {
    const float *xr = x + (size_t) i * d;
    float *yr = y + (size_t) i * d;
    double sum = 0.0, sq = 0.0;

    for (uint32_t j = 0; j < d; j++)
      sum += xr[j];
    const double mean = sum / d;
    for (uint32_t j = 0; j < d; j++) {
      const double c = xr[j] - mean;
      sq += c * c;
    }
    const float inv = (float) (1.0 / sqrt (sq / d + eps));
    const float m = (float) mean;
    for (uint32_t j = 0; j < d; j++)
      yr[j] = (xr[j] - m) * inv * g[j] + b[j];
  }
}

void
upm_gelu_ref (float *x, size_t n)
{
  const float inv_sqrt2 = 0.70710678118654752440f;

  for (size_t i = 0; i < n; i++)
    x[i] = 0.5f * x[i] * (1.0f + erff (x[i] * inv_sqrt2));
}

void
upm_exp_ref (float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = expf (x[i]);
}

#ifdef __AVX2__
/* exp(x) for 8 lanes: x = k ln2 + r, |r| <= ln2/2, exp(r) by a degree-6
 * polynomial, 2^k through the exponent bits (relative error ~2e-7).
 * Inputs below -87.3 give 0, as expf underflows there in practice. */
static inline __m256
exp8 (__m256 x)
{
  const __m256 hi = _mm256_set1_ps (88.3762626647949f);
  const __m256 lo = _mm256_set1_ps (-87.3365447505531f);
  const __m256 log2e = _mm256_set1_ps (1.44269504088896341f);
  const __m256 ln2_hi = _mm256_set1_ps (0.693359375f);
  const __m256 ln2_lo = _mm256_set1_ps (-2.12194440e-4f);
  __m256 under = _mm256_cmp_ps (x, lo, _CMP_LT_OQ);

  x = _mm256_min_ps (_mm256_max_ps (x, lo), hi);
  __m256 k = _mm256_round_ps (_mm256_mul_ps (x, log2e),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps (k, ln2_hi, x);
  r = _mm256_fnmadd_ps (k, ln2_lo, r);
  __m256 p = _mm256_set1_ps (1.3981999507e-3f);
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (8.3334519073e-3f));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (4.1665795894e-2f));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (1.6666665459e-1f));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (5.0000001201e-1f));
  p = _mm256_fmadd_ps (p, _mm256_mul_ps (r, r), r);
  p = _mm256_add_ps (p, _mm256_set1_ps (1.0f));
  __m256i e = _mm256_slli_epi32 (_mm256_add_epi32 (_mm256_cvtps_epi32 (k),
          _mm256_set1_epi32 (127)), 23);
  __m256 y = _mm256_mul_ps (p, _mm256_castsi256_ps (e));
  return _mm256_andnot_ps (under, y);
}

/* erf(z) = 1 - t exp(-z^2 + P(t)), t = 1 / (1 + |z|/2) (Numerical Recipes'
 * erfc, fractional error < 1.2e-7), sign restored. */
static inline __m256
erf8 (__m256 z)
{
  const __m256 sign = _mm256_set1_ps (-0.0f);
  const __m256 one = _mm256_set1_ps (1.0f);
  __m256 a = _mm256_andnot_ps (sign, z);
  __m256 t = _mm256_div_ps (one, _mm256_fmadd_ps (_mm256_set1_ps (0.5f), a,
          one));
  __m256 p = _mm256_set1_ps (0.17087277f);
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (-0.82215223f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (1.48851587f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (-1.13520398f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (0.27886807f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (-0.18628806f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (0.09678418f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (0.37409196f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (1.00002368f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (-1.26551223f));
  p = _mm256_fnmadd_ps (a, a, p);
  __m256 erfc = _mm256_mul_ps (t, exp8 (p));
  __m256 r = _mm256_sub_ps (one, erfc);
  return _mm256_or_ps (r, _mm256_and_ps (z, sign));
}
#endif

void
upm_gelu (float *x, size_t n)
{
  size_t i = 0;
#ifdef __AVX2__
  const __m256 half = _mm256_set1_ps (0.5f), one = _mm256_set1_ps (1.0f);
  const __m256 inv_sqrt2 = _mm256_set1_ps (0.70710678118654752440f);
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps (x + i);
    __m256 e = erf8 (_mm256_mul_ps (v, inv_sqrt2));
    _mm256_storeu_ps (x + i, _mm256_mul_ps (_mm256_mul_ps (half, v),
            _mm256_add_ps (one, e)));
  }
#endif
  upm_gelu_ref (x + i, n - i);
}

void
upm_exp (float *x, size_t n)
{
  size_t i = 0;
#ifdef __AVX2__
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps (x + i, exp8 (_mm256_loadu_ps (x + i)));
#endif
  upm_exp_ref (x + i, n - i);
}

/* exp(x - max) in place, returning the sum. */
static double
exp_shifted_sum (float *x, uint32_t n, float max)
{
  uint32_t i = 0;
  double sum = 0.0;
#ifdef __AVX2__
  const __m256 m = _mm256_set1_ps (max);
  __m256 acc = _mm256_setzero_ps ();
  for (; i + 8 <= n; i += 8) {
    __m256 e = exp8 (_mm256_sub_ps (_mm256_loadu_ps (x + i), m));
    _mm256_storeu_ps (x + i, e);
    acc = _mm256_add_ps (acc, e);
  }
  float lanes[8];
  _mm256_storeu_ps (lanes, acc);
  for (int k = 0; k < 8; k++)
    sum += lanes[k];
#endif
  for (; i < n; i++) {
    x[i] = expf (x[i] - max);
    sum += x[i];
  }
  return sum;
}

void
upm_scaled_residual (float *x, const float *y, const float *scale,
    uint32_t n, uint32_t d)
{
  for (uint32_t i = 0; i < n; i++) {
    float *xr = x + (size_t) i * d;
    const float *yr = y + (size_t) i * d;
    for (uint32_t j = 0; j < d; j++)
      xr[j] += scale[j] * yr[j];
  }
}

void
upm_softmax (float *x, uint32_t n)
{
  float max = -INFINITY;

  if (n == 0)
    return;
  for (uint32_t i = 0; i < n; i++)
    max = x[i] > max ? x[i] : max;
  const double sum = exp_shifted_sum (x, n, max);
  const float inv = (float) (1.0 / sum);
  for (uint32_t i = 0; i < n; i++)
    x[i] *= inv;
}

void
upm_log_softmax (float *x, uint32_t n)
{
  float max = -INFINITY;
  double sum = 0.0;

  if (n == 0)
    return;
  for (uint32_t i = 0; i < n; i++)
    max = x[i] > max ? x[i] : max;
  for (uint32_t i = 0; i < n; i++)
    sum += exp ((double) x[i] - max);
  const float lse = max + (float) log (sum);
  for (uint32_t i = 0; i < n; i++)
    x[i] -= lse;
}

void
upm_l2_normalize (float *x, uint32_t d)
{
  double sq = 0.0;

  for (uint32_t i = 0; i < d; i++)
    sq += (double) x[i] * x[i];
  double norm = sqrt (sq);
  if (norm < 1e-12)
    norm = 1e-12;
  const float inv = (float) (1.0 / norm);
  for (uint32_t i = 0; i < d; i++)
    x[i] *= inv;
}

size_t
upm_attention_scratch (uint32_t n_q, uint32_t n_keys)
{
  const uint32_t block = n_q < UPM_ATTN_BLOCK ? n_q : UPM_ATTN_BLOCK;
  return (size_t) (block ? block : 1) * (n_keys ? n_keys : 1);
}

static uint32_t
visible_keys (uint32_t i, uint32_t n_keys, uint32_t causal_from,
    uint32_t key_offset)
{
  uint64_t vis;

  if (causal_from == UINT32_MAX)
    return n_keys;
  vis = (uint64_t) key_offset + i + 1;
  if (vis < causal_from)
    vis = causal_from;
  return vis < n_keys ? (uint32_t) vis : n_keys;
}

/* Scores of m queries (one head) against every span, into s [m, n_keys]. */
static void
attention_scores (const float *q, uint32_t ldq, uint32_t m,
    const UpmKvSpan * spans, uint32_t n_spans, uint32_t head_off,
    uint32_t head_dim, float scale, float *s, uint32_t n_keys)
{
  uint32_t col = 0;

  for (uint32_t sp = 0; sp < n_spans; sp++) {
    const UpmKvSpan *span = &spans[sp];
    if (span->n == 0)
      continue;
    if (m == 1)
      cblas_sgemv (CblasRowMajor, CblasNoTrans, span->n, head_dim, scale,
          span->k + head_off, span->ld, q, 1, 0.0f, s + col, 1);
    else
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, m, span->n,
          head_dim, scale, q, ldq, span->k + head_off, span->ld, 0.0f,
          s + col, n_keys);
    col += span->n;
  }
}

/* out [m, head_dim] (row stride ldo) = s [m, n_keys] V over the spans. */
static void
attention_values (const float *s, uint32_t m, uint32_t n_keys,
    const UpmKvSpan * spans, uint32_t n_spans, uint32_t head_off,
    uint32_t head_dim, float *out, uint32_t ldo)
{
  uint32_t col = 0;
  float beta = 0.0f;

  for (uint32_t sp = 0; sp < n_spans; sp++) {
    const UpmKvSpan *span = &spans[sp];
    if (span->n == 0)
      continue;
    if (m == 1)
      cblas_sgemv (CblasRowMajor, CblasTrans, span->n, head_dim, 1.0f,
          span->v + head_off, span->ld, s + col, 1, beta, out, 1);
    else
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, m, head_dim,
          span->n, 1.0f, s + col, n_keys, span->v + head_off, span->ld, beta,
          out, ldo);
    beta = 1.0f;
    col += span->n;
  }
}

void
upm_attention (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvSpan * spans, uint32_t n_spans, uint32_t n_head,
    uint32_t head_dim, uint32_t causal_from, uint32_t key_offset,
    float *out, uint32_t ldo, float *scratch)
{
  const float scale = 1.0f / sqrtf ((float) head_dim);
  uint32_t n_keys = 0;

  for (uint32_t sp = 0; sp < n_spans; sp++)
    n_keys += spans[sp].n;

  for (uint32_t r0 = 0; r0 < n_q; r0 += UPM_ATTN_BLOCK) {
    const uint32_t m = n_q - r0 < UPM_ATTN_BLOCK ? n_q - r0 : UPM_ATTN_BLOCK;

    for (uint32_t h = 0; h < n_head; h++) {
      const uint32_t off = h * head_dim;
      const float *qb = q + (size_t) r0 * ldq + off;
      float *ob = out + (size_t) r0 * ldo + off;

      if (m <= 2) {
        /* Decoding: one or two rows, matrix-vector products per row. */
        for (uint32_t i = 0; i < m; i++) {
          const uint32_t vis = visible_keys (r0 + i, n_keys, causal_from,
              key_offset);
          attention_scores (qb + (size_t) i * ldq, ldq, 1, spans, n_spans,
              off, head_dim, scale, scratch, n_keys);
          upm_softmax (scratch, vis);
          memset (scratch + vis, 0, (n_keys - vis) * sizeof (float));
          attention_values (scratch, 1, n_keys, spans, n_spans, off,
              head_dim, ob + (size_t) i * ldo, ldo);
        }
        continue;
      }
      attention_scores (qb, ldq, m, spans, n_spans, off, head_dim, scale,
          scratch, n_keys);
      for (uint32_t i = 0; i < m; i++) {
        float *row = scratch + (size_t) i * n_keys;
        const uint32_t vis = visible_keys (r0 + i, n_keys, causal_from,
            key_offset);
        upm_softmax (row, vis);
        memset (row + vis, 0, (n_keys - vis) * sizeof (float));
      }
      attention_values (scratch, m, n_keys, spans, n_spans, off, head_dim,
          ob, ldo);
    }
  }
}
