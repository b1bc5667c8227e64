/* kern-bf16.c: the bfloat16 GEMM of the linear layers: y = beta y + x W^T
 * for a block of W's outputs and inputs, W packed in bfloat16 by
 * upm_bf16_weights_pack (kern-common.c), x rounded to bfloat16 (nearest
 * even) at the input, products summed in float.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Part of kern-level.c (one translation unit per ISA level), not compiled
 * on its own. One algorithm, four ways of running it:
 *   avx512bf16  vdpbf16ps on pairs of inputs (the packed layout's pairs),
 *               7 rows x 48 outputs a register tile;
 *   avx512      the same tiles in float FMAs, the bfloat16 weights widened
 *               in registers (a shift and a mask per pair);
 *   avx2        likewise, 4 rows x 16 outputs;
 *   generic     the plain emulation every other level is tested against.
 * The products of two bfloat16 values are exact in float, so the levels
 * differ only in the order of the sums (and vdpbf16ps flushes denormals).
 * x is rounded a block of KC pairs of inputs at a time into a per-thread
 * buffer (rows of the block times KC pairs, in L2); the weights of one
 * register tile's outputs over KC pairs stay in L1 while every row block
 * of x passes.
 */
#include "kern-simd.h"
#include "upm-kernels.h"

#include <string.h>

/* Pairs of inputs per K block. */
#define BF16_KC 128u

#if defined(__AVX512BF16__) && defined(__AVX512BW__)
/* 7 x 3 accumulators: GCC 12 spilled two weight vectors of the 8 x 3 tile
 * to the stack every step (measured: 160 -> 210 GFLOP/s a core). */
#define BF16_MR 7
#define BF16_NV 3
#define BF16_DOT 1 /* x kept as bfloat16 pairs */
#elif defined(__AVX512F__)
#define BF16_MR 8
#define BF16_NV 2
#define BF16_DOT 0 /* x kept as rounded floats */
#elif defined(__AVX2__)
#define BF16_MR 4
#define BF16_NV 1
#define BF16_DOT 0
#endif

/* A weight of the packed layout (panel of 16 outputs, pairs of inputs). */
UPM_INLINE float
bf16_weight (const UpmBf16Weights *w, uint32_t o, uint32_t k)
{
  const size_t panel = (size_t)w->n_pairs * 32;
  return bf16_to_f32 (
      w->w[(o / 16) * panel + (size_t)(k / 2) * 32 + (o % 16) * 2 + (k & 1)]);
}

/* dst[i] = the bfloat16 bits of x[i] (nearest even; NaN stays NaN). */
UPM_HELPER void
round_row_bits (const float *x, uint32_t n, uint16_t *dst)
{
  uint32_t i = 0;
#ifdef __AVX512BW__
  const __m512i bias = _mm512_set1_epi32 (0x7fff), one = _mm512_set1_epi32 (1);
  for (; i + 16 <= n; i += 16)
    {
      const __m512 v = _mm512_loadu_ps (x + i);
      __m512i u = _mm512_castps_si512 (v);
      const __m512i lsb = _mm512_and_si512 (_mm512_srli_epi32 (u, 16), one);
      const __mmask16 nan = _mm512_cmp_ps_mask (v, v, _CMP_UNORD_Q);
      u = _mm512_mask_or_epi32 (
          _mm512_add_epi32 (u, _mm512_add_epi32 (bias, lsb)), nan, u,
          _mm512_set1_epi32 (0x400000));
      _mm256_storeu_si256 ((__m256i *)(dst + i),
          _mm512_cvtepi32_epi16 (_mm512_srli_epi32 (u, 16)));
    }
#elif defined(__AVX2__)
  const __m256i bias = _mm256_set1_epi32 (0x7fff), one = _mm256_set1_epi32 (1);
  for (; i + 8 <= n; i += 8)
    {
      const __m256 v = _mm256_loadu_ps (x + i);
      __m256i u = _mm256_castps_si256 (v);
      const __m256i lsb = _mm256_and_si256 (_mm256_srli_epi32 (u, 16), one);
      const __m256i nan
          = _mm256_castps_si256 (_mm256_cmp_ps (v, v, _CMP_UNORD_Q));
      u = _mm256_blendv_epi8 (
          _mm256_add_epi32 (u, _mm256_add_epi32 (bias, lsb)),
          _mm256_or_si256 (u, _mm256_set1_epi32 (0x400000)), nan);
      u = _mm256_srli_epi32 (u, 16);
      /* 32 -> 16 bits: lanes 0-3 and 4-7 packed in each half, then the
       * halves' low quarters together. */
      u = _mm256_permute4x64_epi64 (_mm256_packus_epi32 (u, u), 0x08);
      _mm_storeu_si128 ((__m128i *)(dst + i), _mm256_castsi256_si128 (u));
    }
#endif
  for (; i < n; i++)
    dst[i] = bf16_bits (x[i]);
}

/* The plain emulation: inputs rounded to bfloat16, products summed in
 * float in the order of the inputs. */
static void
bf16_gemm_plain (const float *x, size_t ldx, uint32_t m,
    const UpmBf16Weights *w, uint32_t c0, uint32_t nc, uint32_t k0, uint32_t nk,
    float beta, float *y, size_t ldy)
{
  for (uint32_t r = 0; r < m; r++)
    for (uint32_t j = 0; j < nc; j++)
      {
        float s = 0.0f;
        for (uint32_t k = 0; k < nk; k++)
          s += bf16_round (x[(size_t)r * ldx + k])
               * bf16_weight (w, c0 + j, k0 + k);
        float *out = y + (size_t)r * ldy + j;
        *out = beta != 0.0f ? beta * *out + s : s;
      }
}

#ifdef BF16_MR

#if BF16_DOT
typedef uint16_t XElem; /* bfloat16 bits */
#else
typedef float XElem; /* a float rounded to bfloat16 */
#endif

/* dst[i] = x[i] rounded to bfloat16 (nearest even; NaN stays NaN), as
 * XElem. */
static void
round_row (const float *x, uint32_t n, XElem *dst)
{
  uint32_t i = 0;
#ifdef __AVX512F__
  const __m512i bias = _mm512_set1_epi32 (0x7fff), one = _mm512_set1_epi32 (1);
  for (; i + 16 <= n; i += 16)
    {
      const __m512 v = _mm512_loadu_ps (x + i);
      __m512i u = _mm512_castps_si512 (v);
      const __m512i lsb = _mm512_and_si512 (_mm512_srli_epi32 (u, 16), one);
      const __mmask16 nan = _mm512_cmp_ps_mask (v, v, _CMP_UNORD_Q);
      u = _mm512_mask_or_epi32 (
          _mm512_add_epi32 (u, _mm512_add_epi32 (bias, lsb)), nan, u,
          _mm512_set1_epi32 (0x400000));
#if BF16_DOT
      _mm256_storeu_si256 ((__m256i *)(dst + i),
          _mm512_cvtepi32_epi16 (_mm512_srli_epi32 (u, 16)));
#else
      _mm512_storeu_ps (dst + i, _mm512_castsi512_ps (_mm512_and_si512 (
                                     u, _mm512_set1_epi32 ((int)0xffff0000))));
#endif
    }
#elif defined(__AVX2__)
  const __m256i bias = _mm256_set1_epi32 (0x7fff), one = _mm256_set1_epi32 (1);
  for (; i + 8 <= n; i += 8)
    {
      const __m256 v = _mm256_loadu_ps (x + i);
      __m256i u = _mm256_castps_si256 (v);
      const __m256i lsb = _mm256_and_si256 (_mm256_srli_epi32 (u, 16), one);
      const __m256i nan
          = _mm256_castps_si256 (_mm256_cmp_ps (v, v, _CMP_UNORD_Q));
      const __m256i r = _mm256_add_epi32 (u, _mm256_add_epi32 (bias, lsb));
      u = _mm256_blendv_epi8 (
          r, _mm256_or_si256 (u, _mm256_set1_epi32 (0x400000)), nan);
      _mm256_storeu_ps (dst + i, _mm256_castsi256_ps (_mm256_and_si256 (
                                     u, _mm256_set1_epi32 ((int)0xffff0000))));
    }
#endif
  for (; i < n; i++)
    {
#if BF16_DOT
      dst[i] = bf16_bits (x[i]);
#else
      dst[i] = bf16_round (x[i]);
#endif
    }
}

/* The block of x for K pairs [q0, q0 + kc) of W, rows [0, mp) (rows from m
 * on are zero): element e of a row is input 2 q0 + e of W, x column
 * 2 q0 + e - k0 where that is in [0, nk), zero elsewhere. */
static void
pack_x (const float *x, size_t ldx, uint32_t m, uint32_t mp, uint32_t k0,
    uint32_t nk, uint32_t q0, uint32_t kc, XElem *xb)
{
  const uint32_t e_n = 2 * kc, k_first = 2 * q0;
  /* Elements [e_lo, e_hi) come from x. */
  const uint32_t e_lo = k0 > k_first ? k0 - k_first : 0;
  const uint32_t e_hi = MIN_U (e_n, k0 + nk - k_first);

  for (uint32_t r = 0; r < mp; r++)
    {
      XElem *row = xb + (size_t)r * e_n;
      if (r >= m || e_hi <= e_lo)
        {
          memset (row, 0, e_n * sizeof (XElem));
          continue;
        }
      memset (row, 0, e_lo * sizeof (XElem));
      round_row (
          x + (size_t)r * ldx + (k_first + e_lo - k0), e_hi - e_lo, row + e_lo);
      memset (row + e_hi, 0, (e_n - e_hi) * sizeof (XElem));
    }
}

#ifdef __AVX512F__
/* The lanes of panel p that are outputs [c0, c0 + nc). */
UPM_INLINE __mmask16
panel_mask (uint32_t p, uint32_t c0, uint32_t nc)
{
  const uint32_t lo = 16 * p < c0 ? c0 - 16 * p : 0;
  const uint32_t hi = MIN_U (16u, c0 + nc - 16 * p);
  return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* The register tile: rows [0, rows) of y (of BF16_MR computed) at panels
 * p .. p + NV - 1, over kc pairs; y points at output column 16 p - c0
 * (lanes outside the block masked). first: the first K block, where y is
 * beta y; later blocks add to y. */
UPM_INLINE void
tile_512 (const int NV, uint32_t kc, const XElem *xb, const uint16_t *wp,
    size_t panel, float *y, size_t ldy, uint32_t rows, const __mmask16 *mask,
    int first, float beta)
{
  __m512 acc[BF16_MR][BF16_NV];
  const size_t ldx = 2 * (size_t)kc;

#pragma GCC unroll 8
  for (int r = 0; r < BF16_MR; r++)
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++)
      acc[r][v] = _mm512_setzero_ps ();
  for (uint32_t q = 0; q < kc; q++)
    {
#if BF16_DOT
      __m512bh wv[BF16_NV];
#pragma GCC unroll 3
      for (int v = 0; v < NV; v++)
        wv[v] = (__m512bh)_mm512_loadu_si512 (wp + v * panel + 32 * q);
#pragma GCC unroll 8
      for (int r = 0; r < BF16_MR; r++)
        {
          uint32_t pair;
          memcpy (&pair, xb + r * ldx + 2 * q, sizeof pair);
          const __m512bh xv = (__m512bh)_mm512_set1_epi32 ((int)pair);
#pragma GCC unroll 3
          for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_dpbf16_ps (acc[r][v], wv[v], xv);
        }
#else
      const __m512i hi = _mm512_set1_epi32 ((int)0xffff0000);
      __m512 we[BF16_NV], wo[BF16_NV];
#pragma GCC unroll 3
      for (int v = 0; v < NV; v++)
        {
          const __m512i raw = _mm512_loadu_si512 (wp + v * panel + 32 * q);
          we[v] = _mm512_castsi512_ps (_mm512_slli_epi32 (raw, 16));
          wo[v] = _mm512_castsi512_ps (_mm512_and_si512 (raw, hi));
        }
#pragma GCC unroll 8
      for (int r = 0; r < BF16_MR; r++)
        {
          const __m512 xe = _mm512_set1_ps (xb[r * ldx + 2 * q]);
          const __m512 xo = _mm512_set1_ps (xb[r * ldx + 2 * q + 1]);
#pragma GCC unroll 3
          for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_fmadd_ps (
                wo[v], xo, _mm512_fmadd_ps (we[v], xe, acc[r][v]));
        }
#endif
    }
#pragma GCC unroll 8
  for (int r = 0; r < BF16_MR; r++)
    {
      if ((uint32_t)r >= rows)
        break;
#pragma GCC unroll 3
      for (int v = 0; v < NV; v++)
        {
          float *out = y + (size_t)r * ldy + 16 * v;
          __m512 o = acc[r][v];
          if (!first)
            o = _mm512_add_ps (o, _mm512_maskz_loadu_ps (mask[v], out));
          else if (beta != 0.0f)
            o = _mm512_fmadd_ps (
                _mm512_set1_ps (beta), _mm512_maskz_loadu_ps (mask[v], out), o);
          _mm512_mask_storeu_ps (out, mask[v], o);
        }
    }
}
#else /* AVX2 */
/* One panel (16 outputs as two halves of 8), BF16_MR rows; y points at
 * output column 16 p - c0, columns outside [lo, hi) of the panel not
 * stored. */
static void
tile_256 (uint32_t kc, const XElem *xb, const uint16_t *wp, float *y,
    size_t ldy, uint32_t rows, uint32_t lo, uint32_t hi, int first, float beta)
{
  __m256 acc[BF16_MR][2];
  const size_t ldx = 2 * (size_t)kc;
  const __m256i mhi = _mm256_set1_epi32 ((int)0xffff0000);

  for (int r = 0; r < BF16_MR; r++)
    acc[r][0] = acc[r][1] = _mm256_setzero_ps ();
  for (uint32_t q = 0; q < kc; q++)
    {
      __m256 we[2], wo[2];
      for (int h = 0; h < 2; h++)
        {
          const __m256i raw
              = _mm256_loadu_si256 ((const __m256i *)(wp + 32 * q + 16 * h));
          we[h] = _mm256_castsi256_ps (_mm256_slli_epi32 (raw, 16));
          wo[h] = _mm256_castsi256_ps (_mm256_and_si256 (raw, mhi));
        }
#pragma GCC unroll 4
      for (int r = 0; r < BF16_MR; r++)
        {
          const __m256 xe = _mm256_set1_ps (xb[r * ldx + 2 * q]);
          const __m256 xo = _mm256_set1_ps (xb[r * ldx + 2 * q + 1]);
          for (int h = 0; h < 2; h++)
            acc[r][h] = _mm256_fmadd_ps (
                wo[h], xo, _mm256_fmadd_ps (we[h], xe, acc[r][h]));
        }
    }
  for (uint32_t r = 0; r < rows; r++)
    {
      float lanes[16];
      _mm256_storeu_ps (lanes, acc[r][0]);
      _mm256_storeu_ps (lanes + 8, acc[r][1]);
      float *out = y + (size_t)r * ldy;
      for (uint32_t l = lo; l < hi; l++)
        out[l] = !first         ? out[l] + lanes[l]
                 : beta != 0.0f ? beta * out[l] + lanes[l]
                                : lanes[l];
    }
}
#endif

/* Output panels [pa, pb) over every row block of the packed x block. */
static void
bf16_panels (uint32_t pa, uint32_t pb, uint32_t mp, uint32_t m, uint32_t kc,
    const XElem *xb, const UpmBf16Weights *w, uint32_t q0, uint32_t c0,
    uint32_t nc, int first, float beta, float *y, size_t ldy)
{
  const size_t panel = (size_t)w->n_pairs * 32;

#ifdef __AVX512F__
  for (uint32_t p = pa, nv; p < pb; p += nv)
    {
      nv = MIN_U ((uint32_t)BF16_NV, pb - p);
      /* 4 panels (a 64-wide head's values) as 2 + 2, not 3 + 1: a tile of
       * one panel loads a weight vector per 8 products. */
      if (BF16_NV == 3 && pb - p == 4)
        nv = 2;
      __mmask16 mask[BF16_NV];
      for (uint32_t v = 0; v < nv; v++)
        mask[v] = panel_mask (p + v, c0, nc);
      const uint16_t *wp = w->w + p * panel + (size_t)q0 * 32;
      /* Column 16 p - c0 of y: before y for a first panel that starts
       * before c0 (those lanes are masked). */
      float *yp = y + ((ptrdiff_t)16 * p - (ptrdiff_t)c0);
      for (uint32_t r = 0; r < mp; r += BF16_MR)
        {
          const XElem *xr = xb + (size_t)r * 2 * kc;
          float *yr = yp + (size_t)r * ldy;
          const uint32_t rows = MIN_U ((uint32_t)BF16_MR, m - r);
          if (nv == BF16_NV)
            tile_512 (
                BF16_NV, kc, xr, wp, panel, yr, ldy, rows, mask, first, beta);
          else if (nv == 2)
            tile_512 (2, kc, xr, wp, panel, yr, ldy, rows, mask, first, beta);
          else
            tile_512 (1, kc, xr, wp, panel, yr, ldy, rows, mask, first, beta);
        }
    }
#else
  for (uint32_t p = pa; p < pb; p++)
    {
      const uint32_t lo = 16 * p < c0 ? c0 - 16 * p : 0;
      const uint32_t hi = MIN_U (16u, c0 + nc - 16 * p);
      const uint16_t *wp = w->w + p * panel + (size_t)q0 * 32;
      float *yp = y + ((ptrdiff_t)16 * p - (ptrdiff_t)c0);
      for (uint32_t r = 0; r < mp; r += BF16_MR)
        tile_256 (kc, xb + (size_t)r * 2 * kc, wp, yp + (size_t)r * ldy, ldy,
            MIN_U ((uint32_t)BF16_MR, m - r), lo, hi, first, beta);
    }
#endif
}
#endif /* BF16_MR */

/* y[m, nc] (rows ldy apart) = beta y + x[m, nk] W'^T, W' the outputs
 * [c0, c0 + nc) and inputs [k0, k0 + nk) of w; x rows ldx apart. */
static void
bf16_gemm (const float *x, size_t ldx, uint32_t m, const UpmBf16Weights *w,
    uint32_t c0, uint32_t nc, uint32_t k0, uint32_t nk, float beta, float *y,
    size_t ldy)
{
  if (m == 0 || nc == 0)
    return;
#ifdef BF16_MR
  const uint32_t mp = round_up (m, BF16_MR);
  const uint32_t qa = k0 / 2, qb = (k0 + nk + 1) / 2;
  const uint32_t pa = c0 / 16, pb = (c0 + nc + 15) / 16;
  const size_t xb_floats
      = ((size_t)mp * 2 * BF16_KC * sizeof (XElem) + 3) / sizeof (float);
  XElem *xb = (XElem *)upm_thread_scratch (UPM_SCRATCH_BF16, xb_floats);

  if (xb && nk > 0)
    {
      for (uint32_t q0 = qa; q0 < qb; q0 += BF16_KC)
        {
          const uint32_t kc = MIN_U (BF16_KC, qb - q0);
          pack_x (x, ldx, m, mp, k0, nk, q0, kc, xb);
          bf16_panels (
              pa, pb, mp, m, kc, xb, w, q0, c0, nc, q0 == qa, beta, y, ldy);
        }
      return;
    }
#endif
  /* No vector level, or no memory for the packed x. */
  bf16_gemm_plain (x, ldx, m, w, c0, nc, k0, nk, beta, y, ldy);
}
