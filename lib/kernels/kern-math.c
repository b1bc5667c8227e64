/* kern-math.c: element-wise and row kernels (exp, GELU, softmax,
 * LayerNorm, half-precision rows).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Part of kern-level.c (one translation unit per ISA level), not compiled
 * on its own.
 */
#include "kern-simd.h"
#include "upm-kernels.h"

#include <math.h>

#ifdef __AVX2__
/* erf(z) = 1 - t exp(-z^2 + P(t)), t = 1 / (1 + |z|/2) (Numerical Recipes'
 * erfc, fractional error < 1.2e-7), sign restored. */
static inline __m256
erf8 (__m256 z)
{
  const __m256 sign = _mm256_set1_ps (-0.0f);
  const __m256 one = _mm256_set1_ps (1.0f);
  __m256 a = _mm256_andnot_ps (sign, z);
  __m256 t
      = _mm256_div_ps (one, _mm256_fmadd_ps (_mm256_set1_ps (0.5f), a, one));
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

static void
kern_gelu (float *x, size_t n)
{
  size_t i = 0;
#ifdef __AVX2__
  const __m256 half = _mm256_set1_ps (0.5f), one = _mm256_set1_ps (1.0f);
  const __m256 inv_sqrt2 = _mm256_set1_ps (0.70710678118654752440f);
  for (; i + 8 <= n; i += 8)
    {
      __m256 v = _mm256_loadu_ps (x + i);
      __m256 e = erf8 (_mm256_mul_ps (v, inv_sqrt2));
      _mm256_storeu_ps (x + i,
          _mm256_mul_ps (_mm256_mul_ps (half, v), _mm256_add_ps (one, e)));
    }
#endif
  upm_gelu_ref (x + i, n - i);
}

static void
kern_exp (float *x, size_t n)
{
  size_t i = 0;
#ifdef __AVX2__
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps (x + i, exp8 (_mm256_loadu_ps (x + i)));
#endif
  upm_exp_ref (x + i, n - i);
}

static void
kern_scaled_residual (
    float *x, const float *y, const float *scale, uint32_t n, uint32_t d)
{
  for (uint32_t i = 0; i < n; i++)
    {
      float *xr = x + (size_t)i * d;
      const float *yr = y + (size_t)i * d;
      for (uint32_t j = 0; j < d; j++)
        xr[j] += scale[j] * yr[j];
    }
}

static void
kern_mix2 (
    const float *x0, float a0, const float *x1, float a1, size_t n, float *y)
{
  /* a plain loop: the level's flags vectorise it (FMA at avx2) */
  for (size_t i = 0; i < n; i++)
    y[i] = a0 * x0[i] + a1 * x1[i];
}

static void
kern_softmax (float *x, uint32_t n)
{
  if (n == 0)
    return;
  const float max = max_of (x, n);
  const double sum = exp_shifted_sum (x, n, max);
  const float inv = (float)(1.0 / sum);
  for (uint32_t i = 0; i < n; i++)
    x[i] *= inv;
}

static void
kern_log_softmax (float *x, uint32_t n)
{
  double sum = 0.0;
  uint32_t i = 0;

  if (n == 0)
    return;
  const float max = max_of (x, n);
#ifdef __AVX2__
  const __m256 m = _mm256_set1_ps (max);
  __m256d acc0 = _mm256_setzero_pd (), acc1 = _mm256_setzero_pd ();
  for (; i + 8 <= n; i += 8)
    {
      __m256 e = exp8 (_mm256_sub_ps (_mm256_loadu_ps (x + i), m));
      acc0 = _mm256_add_pd (acc0, _mm256_cvtps_pd (_mm256_castps256_ps128 (e)));
      acc1 = _mm256_add_pd (
          acc1, _mm256_cvtps_pd (_mm256_extractf128_ps (e, 1)));
    }
  double lanes[4];
  _mm256_storeu_pd (lanes, _mm256_add_pd (acc0, acc1));
  sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
#endif
  for (; i < n; i++)
    sum += exp ((double)x[i] - max);
  const float lse = max + (float)log (sum);
  for (i = 0; i < n; i++)
    x[i] -= lse;
}

static void
kern_l2_normalize (float *x, uint32_t d)
{
  double sq = 0.0;

  for (uint32_t i = 0; i < d; i++)
    sq += (double)x[i] * x[i];
  double norm = sqrt (sq);
  if (norm < 1e-12)
    norm = 1e-12;
  const float inv = (float)(1.0 / norm);
  for (uint32_t i = 0; i < d; i++)
    x[i] *= inv;
}

/* One row: two passes (mean, centred variance), as PyTorch. */
static void
kern_layer_norm_row (const float *x, uint32_t d, const float *g, const float *b,
    float eps, float *y)
{
  uint32_t j = 0;
  float sum = 0.0f, sq = 0.0f;
#ifdef __AVX2__
  __m256 s0 = _mm256_setzero_ps (), s1 = _mm256_setzero_ps ();
  for (; j + 16 <= d; j += 16)
    {
      s0 = _mm256_add_ps (s0, _mm256_loadu_ps (x + j));
      s1 = _mm256_add_ps (s1, _mm256_loadu_ps (x + j + 8));
    }
  sum = hsum8 (_mm256_add_ps (s0, s1));
#endif
  for (; j < d; j++)
    sum += x[j];
  const float mean = sum / (float)d;
  j = 0;
#ifdef __AVX2__
  const __m256 mv = _mm256_set1_ps (mean);
  s0 = _mm256_setzero_ps ();
  s1 = _mm256_setzero_ps ();
  for (; j + 16 <= d; j += 16)
    {
      __m256 c0 = _mm256_sub_ps (_mm256_loadu_ps (x + j), mv);
      __m256 c1 = _mm256_sub_ps (_mm256_loadu_ps (x + j + 8), mv);
      s0 = _mm256_fmadd_ps (c0, c0, s0);
      s1 = _mm256_fmadd_ps (c1, c1, s1);
    }
  sq = hsum8 (_mm256_add_ps (s0, s1));
#endif
  for (; j < d; j++)
    {
      const float c = x[j] - mean;
      sq += c * c;
    }
  const float inv = (float)(1.0 / sqrt ((double)sq / d + eps));
  j = 0;
#ifdef __AVX2__
  const __m256 iv = _mm256_set1_ps (inv);
  for (; j + 8 <= d; j += 8)
    {
      __m256 c
          = _mm256_mul_ps (_mm256_sub_ps (_mm256_loadu_ps (x + j), mv), iv);
      _mm256_storeu_ps (y + j, _mm256_fmadd_ps (c, _mm256_loadu_ps (g + j),
                                   _mm256_loadu_ps (b + j)));
    }
#endif
  for (; j < d; j++)
    y[j] = (x[j] - mean) * inv * g[j] + b[j];
}

typedef struct
{
  const float *x;
  float *y;
  const float *g, *b;
  float eps;
  uint32_t n, d, rows_per_task;
} LnJob;

static void
ln_task (void *arg, uint32_t task)
{
  const LnJob *j = arg;
  const uint32_t r0 = task * j->rows_per_task;
  const uint32_t r1 = MIN_U (j->n, r0 + j->rows_per_task);
  for (uint32_t r = r0; r < r1; r++)
    kern_layer_norm_row (j->x + (size_t)r * j->d, j->d, j->g, j->b, j->eps,
        j->y + (size_t)r * j->d);
}

/* Rows per task so that a task handles at least ~32k floats. */
static uint32_t
rows_per_task (uint32_t n, uint32_t d)
{
  uint32_t r = MAX_U (1u, 32768u / MAX_U (d, 1u));
  const uint32_t t = upm_threads_get ();
  /* Still give every thread a few tasks when there is enough work. */
  if (n / r < 4 * t && n >= 4 * t)
    r = MAX_U (1u, n / (4 * t));
  return r;
}

static void
kern_layer_norm (const float *x, uint32_t n, uint32_t d, const float *g,
    const float *b, float eps, float *y)
{
  LnJob j = { x, y, g, b, eps, n, d, 0 };

  if ((size_t)n * d < 65536)
    {
      for (uint32_t r = 0; r < n; r++)
        kern_layer_norm_row (
            x + (size_t)r * d, d, g, b, eps, y + (size_t)r * d);
      return;
    }
  j.rows_per_task = rows_per_task (n, d);
  upm_parallel_for ((n + j.rows_per_task - 1) / j.rows_per_task, ln_task, &j);
}

static void
kern_f32_to_f16_row (const float *x, uint16_t *y, size_t n)
{
  size_t i = 0;
#ifdef __F16C__
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128 ((__m128i *)(y + i),
        _mm256_cvtps_ph (_mm256_loadu_ps (x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++)
    y[i] = (uint16_t)_cvtss_sh (x[i], _MM_FROUND_TO_NEAREST_INT);
#else
  for (; i < n; i++)
    {
      /* Round to nearest even through the float bits (normal range). */
      union
      {
        float f;
        uint32_t u;
      } v = { x[i] };
      uint32_t sign = (v.u >> 16) & 0x8000, e = (v.u >> 23) & 0xff;
      uint32_t m = v.u & 0x7fffff;
      int32_t he = (int32_t)e - 127 + 15;
      if (e == 0xff)
        y[i] = (uint16_t)(sign | 0x7c00 | (m ? 0x200 : 0));
      else if (he >= 31)
        y[i] = (uint16_t)(sign | 0x7c00);
      else if (he <= 0)
        {
          if (he < -10)
            y[i] = (uint16_t)sign;
          else
            {
              m |= 0x800000;
              uint32_t shift = (uint32_t)(14 - he);
              uint32_t hm = m >> shift, rem = m & ((1u << shift) - 1);
              uint32_t half = 1u << (shift - 1);
              if (rem > half || (rem == half && (hm & 1)))
                hm++;
              y[i] = (uint16_t)(sign | hm);
            }
        }
      else
        {
          uint32_t hm = m >> 13, rem = m & 0x1fff;
          uint32_t h = sign | ((uint32_t)he << 10) | hm;
          if (rem > 0x1000 || (rem == 0x1000 && (hm & 1)))
            h++;
          y[i] = (uint16_t)h;
        }
    }
#endif
}
