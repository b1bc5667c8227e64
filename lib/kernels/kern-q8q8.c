/* kern-q8q8.c: int8 x int8 GEMM for many rows (the encoder): the weights
 * packed for VNNI (UpmQ8Packed: panels of 16 outputs, inputs in quads),
 * each row of x quantised on the fly to int8 with its own scale
 * (max |x| / 127 over the block's inputs), integer sums, then
 *   y[r][j] = fma (beta, y[r][j], ((float) sum_k xq[r][k] q[j][k] * xs[r])
 *             * s[j]).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Part of kern-level.c, not compiled on its own. The integer sums are
 * exact at every level, so the levels agree with the generic one to the
 * last bit:
 *   avx512bf16  vpdpbusd (AVX512_VNNI) on x + 128 as unsigned bytes; the
 *               offset is taken back with 128 times each output's sum of
 *               weights over the block (one more vpdpbusd per quad of a
 *               tile, against bytes of 1);
 *   avx2/avx512 vpmaddubsw on |w| and x with w's sign, vpmaddwd to 32
 *               bits (|w|, |x| <= 127: the 16-bit pair sums cannot
 *               saturate);
 *   generic     plain integer loops.
 */
#include "kern-simd.h"
#include "upm-kernels.h"

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define Q8Q8_VNNI 1
#define Q8Q8_MR 7
#define Q8Q8_NV 3 /* panels of 16 a tile */
#elif defined(__AVX2__)
#define Q8Q8_MR 4
#endif

/* The weight of output o, input k in the packed layout. */
UPM_INLINE int8_t
q8p_weight (const UpmQ8Packed *w, uint32_t o, uint32_t k)
{
  return w->w[(size_t)(o / 16) * w->n_quads * 64 + (size_t)(k / 4) * 64
              + (o % 16) * 4 + (k & 3)];
}

/* Row r of the block: xq[e] for inputs 4 qa + e (zero outside [k0, k0 +
 * nk)), its scale in *xs. */
static void
q8q8_quantize_row (const float *x, uint32_t k0, uint32_t nk, uint32_t qa,
    uint32_t n_e, int8_t *xq, float *xs)
{
  const uint32_t e_lo = k0 - 4 * qa;
  float amax = 0.0f;

  for (uint32_t k = 0; k < nk; k++)
    {
      const float a = fabsf (x[k]);
      amax = a > amax ? a : amax;
    }
  const float s = amax / 127.0f;
  const float inv = s > 0.0f ? 1.0f / s : 0.0f;
  memset (xq, 0, n_e);
  for (uint32_t k = 0; k < nk; k++)
    {
      /* x * (1 / s): within a rounding of x / s; both levels use this. */
      float v = nearbyintf (x[k] * inv);
      v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
      xq[e_lo + k] = (int8_t)v;
    }
  *xs = s;
}

UPM_INLINE void
q8q8_store (float *out, int32_t isum, float xs, float ws, float beta)
{
  const float v = (float)isum * xs * ws;
  /* fused, as the vector levels (and the same wherever FMA contracts) */
  *out = beta != 0.0f ? fmaf (beta, *out, v) : v;
}

#ifdef Q8Q8_VNNI
/* Rows [0, rows) of the tile (Q8Q8_MR computed) at NV panels from wp,
 * over nq quads; y at output column 16 p - c0, lanes outside [c0, c0 + nc)
 * masked. */
UPM_INLINE void
q8q8_tile_512 (const int NV, uint32_t nq, const uint8_t *xu, size_t ldx,
    const int8_t *wp, size_t panel, const float *xs, const float *ws, float *y,
    size_t ldy, uint32_t rows, const __mmask16 *mask, float beta)
{
  __m512i acc[Q8Q8_MR][Q8Q8_NV], corr[Q8Q8_NV];
  const __m512i ones = _mm512_set1_epi8 (1);

#pragma GCC unroll 8
  for (int r = 0; r < Q8Q8_MR; r++)
#pragma GCC unroll 3
    for (int v = 0; v < NV; v++)
      acc[r][v] = _mm512_setzero_si512 ();
#pragma GCC unroll 3
  for (int v = 0; v < NV; v++)
    corr[v] = _mm512_setzero_si512 ();
  for (uint32_t q = 0; q < nq; q++)
    {
      __m512i wv[Q8Q8_NV];
#pragma GCC unroll 3
      for (int v = 0; v < NV; v++)
        {
          wv[v] = _mm512_loadu_si512 (wp + v * panel + 64 * (size_t)q);
          corr[v] = _mm512_dpbusd_epi32 (corr[v], ones, wv[v]);
        }
#pragma GCC unroll 8
      for (int r = 0; r < Q8Q8_MR; r++)
        {
          uint32_t quad;
          memcpy (&quad, xu + r * ldx + 4 * (size_t)q, sizeof quad);
          const __m512i xv = _mm512_set1_epi32 ((int)quad);
#pragma GCC unroll 3
          for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_dpbusd_epi32 (acc[r][v], xv, wv[v]);
        }
    }
#pragma GCC unroll 3
  for (int v = 0; v < NV; v++)
    corr[v] = _mm512_slli_epi32 (corr[v], 7);
  const __m512 vbeta = _mm512_set1_ps (beta);
#pragma GCC unroll 8
  for (int r = 0; r < Q8Q8_MR; r++)
    {
      if ((uint32_t)r >= rows)
        break;
#pragma GCC unroll 3
      for (int v = 0; v < NV; v++)
        {
          float *out = y + (size_t)r * ldy + 16 * v;
          const __m512i isum = _mm512_sub_epi32 (acc[r][v], corr[v]);
          __m512 o = _mm512_mul_ps (
              _mm512_mul_ps (_mm512_cvtepi32_ps (isum), _mm512_set1_ps (xs[r])),
              _mm512_maskz_loadu_ps (mask[v], ws + 16 * v));
          if (beta != 0.0f)
            o = _mm512_fmadd_ps (
                vbeta, _mm512_maskz_loadu_ps (mask[v], out), o);
          _mm512_mask_storeu_ps (out, mask[v], o);
        }
    }
}

UPM_INLINE __mmask16
q8q8_mask (uint32_t p, uint32_t c0, uint32_t nc)
{
  const uint32_t lo = 16 * p < c0 ? c0 - 16 * p : 0;
  const uint32_t hi = MIN_U (16u, c0 + nc - 16 * p);
  return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* Panels [pa, pb) for the mp quantised rows (offset to unsigned). */
static void
q8q8_panels (uint32_t pa, uint32_t pb, uint32_t m, const uint8_t *xu,
    size_t ldx, const float *xs, const UpmQ8Packed *w, uint32_t qa, uint32_t nq,
    uint32_t c0, uint32_t nc, float beta, float *y, size_t ldy)
{
  const size_t panel = (size_t)w->n_quads * 64;

  for (uint32_t p = pa, nv; p < pb; p += nv)
    {
      nv = MIN_U ((uint32_t)Q8Q8_NV, pb - p);
      __mmask16 mask[Q8Q8_NV];
      for (uint32_t v = 0; v < nv; v++)
        mask[v] = q8q8_mask (p + v, c0, nc);
      const int8_t *wp = w->w + p * panel + (size_t)qa * 64;
      /* Column 16 p - c0 of y and of the scales (masked lanes unread). */
      const ptrdiff_t col = (ptrdiff_t)16 * p - (ptrdiff_t)c0;
      const float *ws = w->scale + 16 * p;
      for (uint32_t r = 0; r < m; r += Q8Q8_MR)
        {
          const uint8_t *xr = xu + (size_t)r * ldx;
          float *yr = y + col + (ptrdiff_t)(r * ldy);
          const uint32_t rows = MIN_U ((uint32_t)Q8Q8_MR, m - r);
          if (nv == 3)
            q8q8_tile_512 (3, nq, xr, ldx, wp, panel, xs + r, ws, yr, ldy, rows,
                mask, beta);
          else if (nv == 2)
            q8q8_tile_512 (2, nq, xr, ldx, wp, panel, xs + r, ws, yr, ldy, rows,
                mask, beta);
          else
            q8q8_tile_512 (1, nq, xr, ldx, wp, panel, xs + r, ws, yr, ldy, rows,
                mask, beta);
        }
    }
}
#elif defined(Q8Q8_MR)
/* One half panel (8 outputs: 32 bytes a quad) for R rows over nq quads:
 * the 8 sums of each row into isum[r][8]. */
UPM_INLINE void
q8q8_half_256 (const int R, uint32_t nq, const int8_t *xq, size_t ldx,
    const int8_t *wp, int32_t isum[][8])
{
  __m256i acc[Q8Q8_MR];
  const __m256i ones16 = _mm256_set1_epi16 (1);

#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
    acc[r] = _mm256_setzero_si256 ();
  for (uint32_t q = 0; q < nq; q++)
    {
      const __m256i wv = _mm256_loadu_si256 ((const __m256i *)(wp + 64 * q));
      const __m256i wabs = _mm256_abs_epi8 (wv);
#pragma GCC unroll 4
      for (int r = 0; r < R; r++)
        {
          uint32_t quad;
          memcpy (&quad, xq + r * ldx + 4 * (size_t)q, sizeof quad);
          const __m256i xs
              = _mm256_sign_epi8 (_mm256_set1_epi32 ((int)quad), wv);
          acc[r] = _mm256_add_epi32 (acc[r],
              _mm256_madd_epi16 (_mm256_maddubs_epi16 (wabs, xs), ones16));
        }
    }
#pragma GCC unroll 4
  for (int r = 0; r < R; r++)
    _mm256_storeu_si256 ((__m256i *)isum[r], acc[r]);
}
#endif

/* The same sums without a buffer (no scratch): each x quantised where it
 * is used, as q8q8_quantize_row would. */
static void
q8q8_gemm_unbuffered (const float *x, size_t ldx, uint32_t m,
    const UpmQ8Packed *w, uint32_t c0, uint32_t nc, uint32_t k0, uint32_t nk,
    float beta, float *y, size_t ldy)
{
  for (uint32_t r = 0; r < m; r++)
    {
      const float *xr = x + (size_t)r * ldx;
      float amax = 0.0f;
      for (uint32_t k = 0; k < nk; k++)
        amax = fabsf (xr[k]) > amax ? fabsf (xr[k]) : amax;
      const float s = amax / 127.0f, inv = s > 0.0f ? 1.0f / s : 0.0f;
      for (uint32_t j = 0; j < nc; j++)
        {
          int32_t isum = 0;
          for (uint32_t k = 0; k < nk; k++)
            {
              float v = nearbyintf (xr[k] * inv);
              v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
              isum += (int32_t)v * q8p_weight (w, c0 + j, k0 + k);
            }
          q8q8_store (y + (size_t)r * ldy + j, isum, s, w->scale[c0 + j], beta);
        }
    }
}

/* y[m, nc] (rows ldy apart) = beta y + x[m, nk] W'^T in int8 x int8, W'
 * the outputs [c0, c0 + nc) and inputs [k0, k0 + nk) of w; x rows ldx
 * apart. */
static void
q8q8_gemm (const float *x, size_t ldx, uint32_t m, const UpmQ8Packed *w,
    uint32_t c0, uint32_t nc, uint32_t k0, uint32_t nk, float beta, float *y,
    size_t ldy)
{
  const uint32_t qa = k0 / 4, qb = (k0 + nk + 3) / 4, nq = qb - qa;
  const size_t ldq = 4 * (size_t)nq;
#ifdef Q8Q8_VNNI
  const uint32_t mp = round_up (m, Q8Q8_MR); /* the tiles read mp rows */
#else
  const uint32_t mp = m;
#endif
  const size_t bytes = (size_t)mp * ldq + (size_t)mp * sizeof (float) + 64;
  float *buf = upm_thread_scratch (UPM_SCRATCH_Q8, (bytes + 3) / 4);

  if (!buf)
    {
      q8q8_gemm_unbuffered (x, ldx, m, w, c0, nc, k0, nk, beta, y, ldy);
      return;
    }
  float *xs = buf;
  int8_t *xq = (int8_t *)(buf + mp);
  for (uint32_t r = 0; r < m; r++)
    q8q8_quantize_row (
        x + (size_t)r * ldx, k0, nk, qa, (uint32_t)ldq, xq + r * ldq, &xs[r]);
  memset (xq + (size_t)m * ldq, 0, (size_t)(mp - m) * ldq);
  for (uint32_t r = m; r < mp; r++)
    xs[r] = 0.0f;
#ifdef Q8Q8_VNNI
  /* x + 128 as unsigned bytes (the padding too: the correction covers
   * every quad of the block, the padded weights are zero). */
  const size_t total = (size_t)mp * ldq;
  size_t i = 0;
  for (; i + 64 <= total; i += 64)
    _mm512_storeu_si512 (xq + i, _mm512_xor_si512 (_mm512_loadu_si512 (xq + i),
                                     _mm512_set1_epi8 (-128)));
  for (; i < total; i++)
    xq[i] = (int8_t)(xq[i] ^ 0x80);
  q8q8_panels (c0 / 16, (c0 + nc + 15) / 16, m, (const uint8_t *)xq, ldq, xs, w,
      qa, nq, c0, nc, beta, y, ldy);
#elif defined(Q8Q8_MR)
  const size_t panel = (size_t)w->n_quads * 64;
  for (uint32_t h = c0 / 8; h < (c0 + nc + 7) / 8; h++)
    {
      const int8_t *wp
          = w->w + (h / 2) * panel + (size_t)qa * 64 + (h % 2) * 32;
      const uint32_t lo = 8 * h < c0 ? c0 - 8 * h : 0;
      const uint32_t hi = MIN_U (8u, c0 + nc - 8 * h);
      for (uint32_t r0 = 0; r0 < m; r0 += Q8Q8_MR)
        {
          int32_t isum[Q8Q8_MR][8];
          const int8_t *xr = xq + r0 * ldq;
          const uint32_t rows = MIN_U ((uint32_t)Q8Q8_MR, m - r0);
          switch (rows)
            {
            case 1:
              q8q8_half_256 (1, nq, xr, ldq, wp, isum);
              break;
            case 2:
              q8q8_half_256 (2, nq, xr, ldq, wp, isum);
              break;
            case 3:
              q8q8_half_256 (3, nq, xr, ldq, wp, isum);
              break;
            default:
              q8q8_half_256 (4, nq, xr, ldq, wp, isum);
              break;
            }
          for (uint32_t r = 0; r < rows; r++)
            for (uint32_t l = lo; l < hi; l++)
              q8q8_store (y + (size_t)(r0 + r) * ldy + (8 * h + l - c0),
                  isum[r][l], xs[r0 + r], w->scale[8 * h + l], beta);
        }
    }
#else
  for (uint32_t r = 0; r < m; r++)
    for (uint32_t j = 0; j < nc; j++)
      {
        int32_t isum = 0;
        for (uint32_t e = 0; e < ldq; e++)
          isum += (int32_t)xq[r * ldq + e] * q8p_weight (w, c0 + j, 4 * qa + e);
        q8q8_store (
            y + (size_t)r * ldy + j, isum, xs[r], w->scale[c0 + j], beta);
      }
#endif
}
