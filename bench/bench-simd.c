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

/* 12 independent chains of vpdpbusd (u8 x s8 products summed in fours
 * into int32 lanes): the int8 VNNI peak. Named registers, as above. */
#define VNNI_CHAINS(Vec, set1, dpbusd, reduce)                                 \
  const Vec x = set1 (0x01010101), y = set1 (0x01fe01fe);                      \
  Vec a0 = set1 (0), a1 = set1 (1), a2 = set1 (2), a3 = set1 (3);              \
  Vec a4 = set1 (4), a5 = set1 (5), a6 = set1 (6), a7 = set1 (7);              \
  Vec a8 = set1 (8), a9 = set1 (9), a10 = set1 (10), a11 = set1 (11);          \
                                                                               \
  for (long it = 0; it < iters; it++)                                          \
    {                                                                          \
      a0 = dpbusd (a0, x, y);                                                  \
      a1 = dpbusd (a1, x, y);                                                  \
      a2 = dpbusd (a2, x, y);                                                  \
      a3 = dpbusd (a3, x, y);                                                  \
      a4 = dpbusd (a4, x, y);                                                  \
      a5 = dpbusd (a5, x, y);                                                  \
      a6 = dpbusd (a6, x, y);                                                  \
      a7 = dpbusd (a7, x, y);                                                  \
      a8 = dpbusd (a8, x, y);                                                  \
      a9 = dpbusd (a9, x, y);                                                  \
      a10 = dpbusd (a10, x, y);                                                \
      a11 = dpbusd (a11, x, y);                                                \
    }                                                                          \
  return (float)reduce (a0) + reduce (a1) + reduce (a2) + reduce (a3)          \
         + reduce (a4) + reduce (a5) + reduce (a6) + reduce (a7) + reduce (a8) \
         + reduce (a9) + reduce (a10) + reduce (a11)

__attribute__ ((target ("avx512f,avx512vnni"))) float
upm_bench_vnni_chains_512 (long iters)
{
  VNNI_CHAINS (
      __m512i, _mm512_set1_epi32, _mm512_dpbusd_epi32, _mm512_reduce_add_epi32);
}

static inline __attribute__ ((target ("avx2"))) int
reduce_256 (__m256i v)
{
  __m128i s = _mm_add_epi32 (
      _mm256_castsi256_si128 (v), _mm256_extracti128_si256 (v, 1));

  s = _mm_add_epi32 (s, _mm_shuffle_epi32 (s, 0x4e));
  s = _mm_add_epi32 (s, _mm_shuffle_epi32 (s, 0xb1));
  return _mm_cvtsi128_si32 (s);
}

/* The 256-bit form (EVEX, AVX512_VNNI + AVX512VL): on CPUs that split
 * 512-bit operations it reaches the same peak. */
__attribute__ ((target ("avx512f,avx512vl,avx512vnni"))) float
upm_bench_vnni_chains_256 (long iters)
{
  VNNI_CHAINS (__m256i, _mm256_set1_epi32, _mm256_dpbusd_epi32, reduce_256);
}

/* int8 without VNNI (what AVX2 has): vpmaddubsw (u8 x s8 pairs to int16,
 * saturating) + vpmaddwd by ones (to int32) + vpaddd, 32 multiply-adds per
 * three instructions. The products do not depend on the sums: an empty asm
 * makes each chain's weights opaque every step, so that they are neither
 * hoisted out of the loop nor shared between chains. */
float
upm_bench_int8_avx2_chains_256 (long iters)
{
  const __m256i x = _mm256_set1_epi32 (0x01010101);
  const __m256i ones = _mm256_set1_epi16 (1);
  __m256i y0 = _mm256_set1_epi32 (0x01fe01fe), y1 = y0, y2 = y0, y3 = y0;
  __m256i a0 = _mm256_set1_epi32 (0), a1 = _mm256_set1_epi32 (1);
  __m256i a2 = _mm256_set1_epi32 (2), a3 = _mm256_set1_epi32 (3);

#define INT8_STEP(a, y)                                                        \
  a = _mm256_add_epi32 (                                                       \
      a, _mm256_madd_epi16 (_mm256_maddubs_epi16 (x, y), ones))
  for (long it = 0; it < iters; it++)
    {
      __asm__("" : "+x"(y0), "+x"(y1), "+x"(y2), "+x"(y3));
      INT8_STEP (a0, y0);
      INT8_STEP (a1, y1);
      INT8_STEP (a2, y2);
      INT8_STEP (a3, y3);
    }
#undef INT8_STEP
  return (float)reduce_256 (a0) + reduce_256 (a1) + reduce_256 (a2)
         + reduce_256 (a3);
}
