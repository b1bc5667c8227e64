/* kern-simd.h: helpers shared by the kernel sources of one ISA level.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Included by the kernel sources, which kern-level.c compiles once per
 * level (lib/kernels/meson.build), so that __AVX2__ and friends say which
 * level this copy is for, and by the level-free kern-common.c.
 */
#ifndef UPM_KERN_SIMD_H
#define UPM_KERN_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX2__) || defined(__F16C__)
#include <immintrin.h>
#endif

#define UPM_INLINE static inline __attribute__ ((always_inline))
#define MIN_U(a, b) ((a) < (b) ? (a) : (b))
#define MAX_U(a, b) ((a) > (b) ? (a) : (b))
/* Plain static helpers, as they were in upm-ops.c (kern-common.c uses only
 * some of them). */
#define UPM_HELPER static __attribute__ ((unused))

UPM_HELPER uint32_t
round_up (uint32_t v, uint32_t m)
{
  return (v + m - 1) / m * m;
}

/* Values are packed in rows of the head dimension rounded up to 8. */
UPM_HELPER uint32_t
head_dim_padded (uint32_t hd)
{
  return round_up (hd, 8);
}

/* x rounded to bfloat16 (nearest even; a NaN stays a quiet NaN): its
 * bits, and its value as a float. */
UPM_HELPER uint16_t
bf16_bits (float x)
{
  uint32_t u;
  memcpy (&u, &x, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t)((u | 0x400000u) >> 16);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

UPM_HELPER float
bf16_to_f32 (uint16_t h)
{
  const uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

UPM_HELPER float
bf16_round (float x)
{
  return bf16_to_f32 (bf16_bits (x));
}

#ifdef __AVX2__
/* The sum (max = 0) or the maximum (max = 1) of the 8 lanes. */
UPM_INLINE float
hreduce8 (__m256 v, const int max)
{
  __m128 lo = _mm256_castps256_ps128 (v), hi = _mm256_extractf128_ps (v, 1);
  lo = max ? _mm_max_ps (lo, hi) : _mm_add_ps (lo, hi);
  hi = _mm_movehl_ps (lo, lo);
  lo = max ? _mm_max_ps (lo, hi) : _mm_add_ps (lo, hi);
  hi = _mm_movehdup_ps (lo);
  lo = max ? _mm_max_ss (lo, hi) : _mm_add_ss (lo, hi);
  return _mm_cvtss_f32 (lo);
}
#define hsum8(v) hreduce8 (v, 0)
#define hmax8(v) hreduce8 (v, 1)

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
  __m256 k = _mm256_round_ps (
      _mm256_mul_ps (x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps (k, ln2_hi, x);
  r = _mm256_fnmadd_ps (k, ln2_lo, r);
  __m256 p = _mm256_set1_ps (1.3981999507e-3f);
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (8.3334519073e-3f));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (4.1665795894e-2f));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (1.6666665459e-1f));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (5.0000001201e-1f));
  p = _mm256_fmadd_ps (p, _mm256_mul_ps (r, r), r);
  p = _mm256_add_ps (p, _mm256_set1_ps (1.0f));
  __m256i e = _mm256_slli_epi32 (
      _mm256_add_epi32 (_mm256_cvtps_epi32 (k), _mm256_set1_epi32 (127)), 23);
  __m256 y = _mm256_mul_ps (p, _mm256_castsi256_ps (e));
  return _mm256_andnot_ps (under, y);
}

#endif

/* exp(x - max) in place, returning the sum. */
UPM_HELPER double
exp_shifted_sum (float *x, uint32_t n, float max)
{
  uint32_t i = 0;
  double sum = 0.0;
#ifdef __AVX2__
  const __m256 m = _mm256_set1_ps (max);
  __m256 acc = _mm256_setzero_ps ();
  for (; i + 8 <= n; i += 8)
    {
      __m256 e = exp8 (_mm256_sub_ps (_mm256_loadu_ps (x + i), m));
      _mm256_storeu_ps (x + i, e);
      acc = _mm256_add_ps (acc, e);
    }
  float lanes[8];
  _mm256_storeu_ps (lanes, acc);
  for (int k = 0; k < 8; k++)
    sum += lanes[k];
#endif
  for (; i < n; i++)
    {
      x[i] = expf (x[i] - max);
      sum += x[i];
    }
  return sum;
}

UPM_HELPER float
max_of (const float *x, uint32_t n)
{
  float max = -INFINITY;
  uint32_t i = 0;
#ifdef __AVX2__
  if (n >= 8)
    {
      __m256 m = _mm256_loadu_ps (x);
      for (i = 8; i + 8 <= n; i += 8)
        m = _mm256_max_ps (m, _mm256_loadu_ps (x + i));
      max = hmax8 (m);
    }
#endif
  for (; i < n; i++)
    max = x[i] > max ? x[i] : max;
  return max;
}

#endif /* UPM_KERN_SIMD_H */
