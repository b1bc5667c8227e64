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
 * step): the BF16 dot product's peak. */
__attribute__ ((target ("avx512f,avx512bf16"))) float
upm_bench_bf16_dot_chains_512 (long iters)
{
  const __m512bh x = (__m512bh)_mm512_set1_epi32 (0x3f803f80); /* 1, 1 */
  const __m512bh y = (__m512bh)_mm512_set1_epi32 (0x33d633d6); /* ~1e-7 */
  __m512 a[12], s = _mm512_setzero_ps ();

  for (int i = 0; i < 12; i++)
    a[i] = _mm512_set1_ps ((float)i);
  for (long it = 0; it < iters; it++)
    {
#pragma GCC unroll 12
      for (int i = 0; i < 12; i++)
        a[i] = _mm512_dpbf16_ps (a[i], x, y);
      /* Keep the chains in registers without a memory round trip. */
      __asm__("" : "+v"(a[0]), "+v"(a[1]), "+v"(a[2]), "+v"(a[3]));
    }
  for (int i = 0; i < 12; i++)
    s = _mm512_add_ps (s, a[i]);
  return _mm512_reduce_add_ps (s);
}
