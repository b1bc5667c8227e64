/* kern-q8.c: int8 weights (UpmQ8Matrix, one scale per output row) times
 * float activations, for few rows: the caption decode step, whose time is
 * the weights' trip from DRAM. Each weight row is read once for a group of
 * up to 4 rows of x, widened to float in registers and multiplied with
 * FMAs; the row's sums are scaled once at the end:
 *   y[r][j] = beta y[r][j] + scale[j] * sum_k x[r][k] q[j][k].
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Part of kern-level.c (one translation unit per ISA level), not compiled
 * on its own. The levels differ from the generic one (sums in the order of
 * the inputs) by the order of the float sums only. (A variant with x in
 * 15-bit integers and vpdpwssd was no faster: one core streams the int8
 * weights at ~8 GB/s either way.)
 */
#include "kern-simd.h"
#include "upm-kernels.h"

/* Rows of x per pass over a weight row. */
#define Q8_GROUP 4

/* 256-bit vectors at every x86 level: at 512 bits the widening and the
 * FMAs share ports 0 and 5 only (measured on an AVX-512 host, thread CPU
 * time of 36 matrices 3072 x 768 on 4 rows: 12.0 ms against 9.8 ms). */
#if defined(__AVX2__)
UPM_INLINE __m256
q8_widen8 (const int8_t *q)
{
  return _mm256_cvtepi32_ps (
      _mm256_cvtepi8_epi32 (_mm_loadl_epi64 ((const __m128i *)q)));
}

UPM_INLINE void
q8_dot_rows (const int R, const float *x, size_t ldx, const int8_t *q,
    uint32_t nk, float *sums)
{
  __m256 acc[Q8_GROUP][2];
  uint32_t c = 0;

#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
    acc[r][0] = acc[r][1] = _mm256_setzero_ps ();
  for (; c + 16 <= nk; c += 16)
    {
      _mm_prefetch ((const char *)(q + c) + 1024, _MM_HINT_T0);
      const __m256 w0 = q8_widen8 (q + c), w1 = q8_widen8 (q + c + 8);
#pragma GCC unroll 4
      for (int r = 0; r < R; r++)
        {
          const float *xr = x + (size_t)r * ldx + c;
          acc[r][0] = _mm256_fmadd_ps (w0, _mm256_loadu_ps (xr), acc[r][0]);
          acc[r][1] = _mm256_fmadd_ps (w1, _mm256_loadu_ps (xr + 8), acc[r][1]);
        }
    }
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
    {
      float s = hsum8 (_mm256_add_ps (acc[r][0], acc[r][1]));
      for (uint32_t k = c; k < nk; k++)
        s += x[(size_t)r * ldx + k] * (float)q[k];
      sums[r] = s;
    }
}
#else
UPM_INLINE void
q8_dot_rows (const int R, const float *x, size_t ldx, const int8_t *q,
    uint32_t nk, float *sums)
{
  for (int r = 0; r < R; r++)
    {
      float s = 0.0f;
      for (uint32_t k = 0; k < nk; k++)
        s += x[(size_t)r * ldx + k] * (float)q[k];
      sums[r] = s;
    }
}
#endif

/* Outputs [ja, jb) of w for the R rows of x. */
UPM_INLINE void
q8_rows (const int R, const float *x, size_t ldx, const UpmQ8Matrix *w,
    uint32_t c0, uint32_t ja, uint32_t jb, uint32_t k0, uint32_t nk, float beta,
    float *y, size_t ldy)
{
  for (uint32_t j = ja; j < jb; j++)
    {
      float sums[Q8_GROUP];
      q8_dot_rows (R, x, ldx, w->q + (size_t)(c0 + j) * w->n_in + k0, nk, sums);
      const float s = w->scale[c0 + j];
      for (int r = 0; r < R; r++)
        {
          float *out = y + (size_t)r * ldy + j;
          *out = beta != 0.0f ? beta * *out + s * sums[r] : s * sums[r];
        }
    }
}

/* y[m, nc] (rows ldy apart) = beta y + x[m, nk] W'^T, W' the outputs
 * [c0, c0 + nc) and inputs [k0, k0 + nk) of w dequantised; x rows ldx
 * apart. More than Q8_GROUP rows: sub-blocks of weight rows that stay in
 * L2 (~192 KiB) for every group of rows, so that the weights come from
 * DRAM once. */
static void
q8w_gemm (const float *x, size_t ldx, uint32_t m, const UpmQ8Matrix *w,
    uint32_t c0, uint32_t nc, uint32_t k0, uint32_t nk, float beta, float *y,
    size_t ldy)
{
  const uint32_t jc = m <= Q8_GROUP ? nc : MAX_U (4u, 196608u / MAX_U (nk, 1u));

  for (uint32_t ja = 0; ja < nc; ja += jc)
    {
      const uint32_t jb = MIN_U (nc, ja + jc);
      for (uint32_t r0 = 0; r0 < m; r0 += Q8_GROUP)
        {
          const float *xr = x + (size_t)r0 * ldx;
          float *yr = y + (size_t)r0 * ldy;
          switch (MIN_U (Q8_GROUP, m - r0))
            {
            case 1:
              q8_rows (1, xr, ldx, w, c0, ja, jb, k0, nk, beta, yr, ldy);
              break;
            case 2:
              q8_rows (2, xr, ldx, w, c0, ja, jb, k0, nk, beta, yr, ldy);
              break;
            case 3:
              q8_rows (3, xr, ldx, w, c0, ja, jb, k0, nk, beta, yr, ldy);
              break;
            default:
              q8_rows (4, xr, ldx, w, c0, ja, jb, k0, nk, beta, yr, ldy);
              break;
            }
        }
    }
}
