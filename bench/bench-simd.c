/* bench-simd.c: the benchmark's vector loops (compiled with -mavx2 -mfma;
 * the 512-bit one through a target attribute).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-simd.h"

#include <immintrin.h>

/* The body of a loop of 12 independent chains a = a m + c on vectors of
 * vec_bytes bytes (GCC vector extensions: with -mfma, and the default
 * -ffp-contract=fast, each step is one FMA instruction). */
#define FMA_CHAINS(vec_bytes)                                                  \
  typedef float Vec __attribute__ ((vector_size (vec_bytes)));                 \
  const Vec zero = { 0 }, m = zero + 0.999999f, c = zero + 1e-7f;              \
  Vec a[12], s = zero;                                                         \
                                                                               \
  for (int i = 0; i < 12; i++)                                                 \
    a[i] = zero + (float)i;                                                    \
  for (long it = 0; it < iters; it++)                                          \
    {                                                                          \
      _Pragma ("GCC unroll 12") for (int i = 0; i < 12; i++) a[i]              \
          = a[i] * m + c;                                                      \
    }                                                                          \
  for (int i = 0; i < 12; i++)                                                 \
    s += a[i];                                                                 \
  return s[0]

float
upm_bench_fma_chains_256 (long iters)
{
  FMA_CHAINS (32);
}

/* Zen 4 executes 512-bit FMAs as two 256-bit halves: the same peak,
 * measured rather than assumed. */
__attribute__ ((target ("avx512f"))) float
upm_bench_fma_chains_512 (long iters)
{
  FMA_CHAINS (64);
}

double
upm_bench_sum_256 (const float *a, size_t n, size_t *done)
{
  __m256 s0 = _mm256_setzero_ps (), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  double sum = 0.0;
  float l[8];

  for (; i + 32 <= n; i += 32)
    {
      s0 = _mm256_add_ps (s0, _mm256_load_ps (a + i));
      s1 = _mm256_add_ps (s1, _mm256_load_ps (a + i + 8));
      s2 = _mm256_add_ps (s2, _mm256_load_ps (a + i + 16));
      s3 = _mm256_add_ps (s3, _mm256_load_ps (a + i + 24));
    }
  _mm256_storeu_ps (
      l, _mm256_add_ps (_mm256_add_ps (s0, s1), _mm256_add_ps (s2, s3)));
  for (int k = 0; k < 8; k++)
    sum += l[k];
  *done = i;
  return sum;
}

/* 12 independent chains of vdpbf16ps (16 lanes, two products a lane and
 * step): the BF16 dot product's peak. Named registers, not an array: GCC
 * kept an array's chains in memory, a store per step. */
__attribute__ ((target ("avx512f,avx512bf16"))) float
upm_bench_bf16_dot_chains_512 (long iters)
{
  const __m512bh x = (__m512bh)_mm512_set1_epi32 (0x3f803f80); /* 1, 1 */
  const __m512bh y = (__m512bh)_mm512_set1_epi32 (0x33d633d6); /* ~1e-7 */
  __m512 a0 = _mm512_set1_ps (0.0f), a1 = _mm512_set1_ps (1.0f);
  __m512 a2 = _mm512_set1_ps (2.0f), a3 = _mm512_set1_ps (3.0f);
  __m512 a4 = _mm512_set1_ps (4.0f), a5 = _mm512_set1_ps (5.0f);
  __m512 a6 = _mm512_set1_ps (6.0f), a7 = _mm512_set1_ps (7.0f);
  __m512 a8 = _mm512_set1_ps (8.0f), a9 = _mm512_set1_ps (9.0f);
  __m512 a10 = _mm512_set1_ps (10.0f), a11 = _mm512_set1_ps (11.0f);

  for (long it = 0; it < iters; it++)
    {
      a0 = _mm512_dpbf16_ps (a0, x, y);
      a1 = _mm512_dpbf16_ps (a1, x, y);
      a2 = _mm512_dpbf16_ps (a2, x, y);
      a3 = _mm512_dpbf16_ps (a3, x, y);
      a4 = _mm512_dpbf16_ps (a4, x, y);
      a5 = _mm512_dpbf16_ps (a5, x, y);
      a6 = _mm512_dpbf16_ps (a6, x, y);
      a7 = _mm512_dpbf16_ps (a7, x, y);
      a8 = _mm512_dpbf16_ps (a8, x, y);
      a9 = _mm512_dpbf16_ps (a9, x, y);
      a10 = _mm512_dpbf16_ps (a10, x, y);
      a11 = _mm512_dpbf16_ps (a11, x, y);
    }
  a0 = _mm512_add_ps (_mm512_add_ps (a0, a1), _mm512_add_ps (a2, a3));
  a4 = _mm512_add_ps (_mm512_add_ps (a4, a5), _mm512_add_ps (a6, a7));
  a8 = _mm512_add_ps (_mm512_add_ps (a8, a9), _mm512_add_ps (a10, a11));
  return _mm512_reduce_add_ps (_mm512_add_ps (_mm512_add_ps (a0, a4), a8));
}
