/* kern-linear.c: y = x W^T + b with fused epilogues: our row kernel for few
 * rows (float or half weights), OpenBLAS sgemm for more, split over the
 * pool.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Part of kern-level.c (one translation unit per ISA level), not compiled
 * on its own; the epilogues use kern-math.c's GELU and LayerNorm.
 */
#include "kern-simd.h"
#include "upm-kernels.h"

#include <cblas.h>

static inline float
f16_to_f32 (uint16_t h)
{
#ifdef __F16C__
  return _cvtsh_ss (h);
#else
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
  if (e == 0)
    {
      if (m == 0)
        u = sign;
      else
        {
          e = 127 - 15 + 1;
          while (!(m & 0x400))
            {
              m <<= 1;
              e--;
            }
          u = sign | (e << 23) | ((m & 0x3ff) << 13);
        }
    }
  else if (e == 31)
    u = sign | 0x7f800000 | (m << 13);
  else
    u = sign | ((e + 127 - 15) << 23) | (m << 13);
  union
  {
    uint32_t u;
    float f;
  } v = { u };
  return v.f;
#endif
}

/* ----------------------------------------------------------------- linear */

/* Up to this many rows, our kernel streams the weights once for all rows
 * (decoding); above it OpenBLAS sgemm. */
#define SMALL_ROWS 8

#ifdef __AVX2__
UPM_INLINE __m256
load_w8 (const int f16, const void *w, size_t off)
{
  if (f16)
    return _mm256_cvtph_ps (
        _mm_loadu_si128 ((const __m128i *)((const uint16_t *)w + off)));
  return _mm256_loadu_ps ((const float *)w + off);
}
#endif

UPM_INLINE float
load_w1 (const int f16, const void *w, size_t off)
{
  if (f16)
    return f16_to_f32 (((const uint16_t *)w)[off]);
  return ((const float *)w)[off];
}

UPM_INLINE void
store_out (
    float *y, float s, float alpha, const float *b, uint32_t j, float beta)
{
  const float v = alpha * (b ? s + b[j] : s);
  *y = beta != 0.0f ? *y + v : v;
}

/* y[r][j] = beta y[r][j] + alpha (x_r . w_j + b_j) for r < R, j in
 * [j0, j1), weight rows ldw apart. One weight row at a time, read as one
 * sequential stream (U vectors per step) for the R rows of x: interleaving
 * several weight rows defeats the hardware prefetcher and halves the
 * bandwidth. */
UPM_INLINE void
rows_kernel (const int R, const int U, const int f16, const float *x,
    size_t ldx, uint32_t k, const void *w, size_t ldw, uint32_t j0, uint32_t j1,
    float alpha, const float *b, float beta, float *y, size_t ldy)
{
  for (uint32_t j = j0; j < j1; j++)
    {
      const size_t wo = (size_t)j * ldw;
      uint32_t c = 0;
#ifdef __AVX2__
      __m256 acc[4][4];
#pragma GCC unroll 4
      for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int u = 0; u < U; u++)
          acc[r][u] = _mm256_setzero_ps ();
      for (; c + 8 * U <= k; c += 8 * U)
        {
          __m256 wv[4];
          /* ~1 KiB ahead: more misses in flight than the prefetcher keeps */
          const char *pf = f16 ? (const char *)((const uint16_t *)w + wo + c)
                               : (const char *)((const float *)w + wo + c);
          _mm_prefetch (pf + 1024, _MM_HINT_T0);
          if (U * 8 * (f16 ? 2 : 4) > 64)
            _mm_prefetch (pf + 1088, _MM_HINT_T0);
#pragma GCC unroll 4
          for (int u = 0; u < U; u++)
            wv[u] = load_w8 (f16, w, wo + c + 8 * u);
#pragma GCC unroll 4
          for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int u = 0; u < U; u++)
              acc[r][u] = _mm256_fmadd_ps (wv[u],
                  _mm256_loadu_ps (x + (size_t)r * ldx + c + 8 * u), acc[r][u]);
        }
      for (; c + 8 <= k; c += 8)
        {
          const __m256 wv = load_w8 (f16, w, wo + c);
#pragma GCC unroll 4
          for (int r = 0; r < R; r++)
            acc[r][0] = _mm256_fmadd_ps (
                wv, _mm256_loadu_ps (x + (size_t)r * ldx + c), acc[r][0]);
        }
#endif
#pragma GCC unroll 4
      for (int r = 0; r < R; r++)
        {
          float s = 0.0f;
#ifdef __AVX2__
          __m256 v = acc[r][0];
#pragma GCC unroll 4
          for (int u = 1; u < U; u++)
            v = _mm256_add_ps (v, acc[r][u]);
          s = hsum8 (v);
#endif
          for (uint32_t cc = c; cc < k; cc++)
            s += load_w1 (f16, w, wo + cc) * x[(size_t)r * ldx + cc];
          store_out (y + (size_t)r * ldy + j, s, alpha, b, j, beta);
        }
    }
}

#define ROWS_CASE(F16, W)                                                      \
  switch (rr)                                                                  \
    {                                                                          \
    case 1:                                                                    \
      rows_kernel (                                                            \
          1, 4, F16, xr, ldx, k, W, ldw, ja, jb, alpha, b, beta, yr, ldy);     \
      break;                                                                   \
    case 2:                                                                    \
      rows_kernel (                                                            \
          2, 4, F16, xr, ldx, k, W, ldw, ja, jb, alpha, b, beta, yr, ldy);     \
      break;                                                                   \
    case 3:                                                                    \
      rows_kernel (                                                            \
          3, 2, F16, xr, ldx, k, W, ldw, ja, jb, alpha, b, beta, yr, ldy);     \
      break;                                                                   \
    default:                                                                   \
      rows_kernel (                                                            \
          4, 2, F16, xr, ldx, k, W, ldw, ja, jb, alpha, b, beta, yr, ldy);     \
      break;                                                                   \
    }

/* Any number of rows: groups of g rows whose x block stays in L1 (16 KiB),
 * over sub-blocks of weight rows that stay in L2 (~192 KiB), so that the
 * weights come from DRAM once and the later groups re-read them from L2. */
static void
rows_block (const float *x, size_t ldx, uint32_t n, uint32_t k, const float *w,
    const uint16_t *w16, size_t ldw, uint32_t j0, uint32_t j1, float alpha,
    const float *b, float beta, float *y, size_t ldy)
{
  const size_t row_bytes = (size_t)MAX_U (k, 1u) * (w16 ? 2 : 4);
  const uint32_t g = MAX_U (1u, MIN_U (4u, 16384u / (MAX_U (k, 1u) * 4u)));
  const uint32_t jc
      = n <= g ? j1 - j0
               : (uint32_t)MAX_U ((size_t)4, (size_t)196608 / row_bytes);

  for (uint32_t jj = j0; jj < j1; jj += jc)
    {
      const uint32_t je = MIN_U (j1, jj + jc);
      for (uint32_t r0 = 0; r0 < n; r0 += g)
        {
          const uint32_t rr = MIN_U (g, n - r0);
          const float *xr = x + (size_t)r0 * ldx;
          float *yr = y + (size_t)r0 * ldy;
          const uint32_t ja = jj, jb = je;
          if (w16)
            ROWS_CASE (1, w16)
          else
            ROWS_CASE (0, w)
        }
    }
}

typedef struct
{
  const float *x;
  uint32_t n, n_in;
  const float *w;
  const uint16_t *w16;
  size_t ldw; /* floats between weight rows */
  const float *b;
  uint32_t n_out;
  float *y;
  float alpha, beta;
  const UpmEpilogue *epi;
  /* bfloat16 weights (w and w16 unset): the block of outputs from wc0 and
   * inputs from wk0 of wb */
  const UpmBf16Weights *wb;
  /* or int8 weights (kern-q8.c), the same block of wq */
  const UpmQ8Matrix *wq;
  /* or int8 weights packed for the int8 x int8 GEMM (kern-q8q8.c) */
  const UpmQ8Packed *wp;
  uint32_t wc0, wk0;
  int rows_only; /* our row kernel, whatever the number of rows */
  int small, by_rows;
  uint32_t chunk, n_tasks;
} LinJob;

/* y += alpha b; res += s (y + b) (b may be NULL): vectorised rows. */
static void
add_bias (float *y, const float *b, float alpha, uint32_t w)
{
  uint32_t c = 0;
#ifdef __AVX2__
  const __m256 a = _mm256_set1_ps (alpha);
  for (; c + 8 <= w; c += 8)
    _mm256_storeu_ps (y + c,
        _mm256_fmadd_ps (a, _mm256_loadu_ps (b + c), _mm256_loadu_ps (y + c)));
#endif
  for (; c < w; c++)
    y[c] += alpha * b[c];
}

static void
add_residual (
    float *res, const float *scale, const float *y, const float *b, uint32_t w)
{
  uint32_t c = 0;
#ifdef __AVX2__
  for (; c + 8 <= w; c += 8)
    {
      __m256 v = _mm256_loadu_ps (y + c);
      if (b)
        v = _mm256_add_ps (v, _mm256_loadu_ps (b + c));
      _mm256_storeu_ps (res + c, _mm256_fmadd_ps (_mm256_loadu_ps (scale + c),
                                     v, _mm256_loadu_ps (res + c)));
    }
#endif
  for (; c < w; c++)
    res[c] += scale[c] * (b ? y[c] + b[c] : y[c]);
}

static void
epilogue_block (const LinJob *j, uint32_t r0, uint32_t r1, uint32_t c0,
    uint32_t c1, const float *pending_bias)
{
  const UpmEpilogue *e = j->epi;
  const UpmEpiKind kind = e ? e->kind : UPM_EPI_NONE;
  const uint32_t w = c1 - c0;

  for (uint32_t r = r0; r < r1; r++)
    {
      float *yr = j->y + (size_t)r * j->n_out + c0;
      const float *b = pending_bias ? pending_bias + c0 : NULL;
      switch (kind)
        {
        case UPM_EPI_NONE:
          if (b)
            add_bias (yr, b, j->alpha, w);
          break;
        case UPM_EPI_GELU:
          if (b)
            add_bias (yr, b, 1.0f, w);
          kern_gelu (yr, w);
          break;
        case UPM_EPI_RESIDUAL:
          add_residual (
              e->res + (size_t)r * j->n_out + c0, e->scale + c0, yr, b, w);
          break;
        }
    }
  if (kind == UPM_EPI_RESIDUAL && e->ln_w && c0 == 0 && c1 == j->n_out)
    for (uint32_t r = r0; r < r1; r++)
      kern_layer_norm_row (e->res + (size_t)r * j->n_out, j->n_out, e->ln_w,
          e->ln_b, e->eps, e->ln_out + (size_t)r * j->n_out);
}

static void
lin_task (void *arg, uint32_t task)
{
  const LinJob *j = arg;
  uint32_t r0 = 0, r1 = j->n, c0 = 0, c1 = j->n_out;
  const float *pending = NULL;

  if (j->n_tasks > 1)
    {
      if (j->by_rows)
        {
          r0 = task * j->chunk;
          r1 = MIN_U (j->n, r0 + j->chunk);
        }
      else
        {
          c0 = task * j->chunk;
          c1 = MIN_U (j->n_out, c0 + j->chunk);
        }
    }
  if (r0 >= r1 || c0 >= c1)
    return;
  const float *x = j->x + (size_t)r0 * j->n_in;
  float *y = j->y + (size_t)r0 * j->n_out;
  if (j->wb)
    {
      bf16_gemm (x, j->n_in, r1 - r0, j->wb, j->wc0 + c0, c1 - c0, j->wk0,
          j->n_in, j->beta, y + c0, j->n_out);
      pending = j->b;
    }
  else if (j->wp)
    {
      q8q8_gemm (x, j->n_in, r1 - r0, j->wp, j->wc0 + c0, c1 - c0, j->wk0,
          j->n_in, j->beta, y + c0, j->n_out);
      pending = j->b;
    }
  else if (j->wq)
    {
      q8w_gemm (x, j->n_in, r1 - r0, j->wq, j->wc0 + c0, c1 - c0, j->wk0,
          j->n_in, j->beta, y + c0, j->n_out);
      pending = j->b;
    }
  else if (j->small)
    {
      rows_block (x, j->n_in, r1 - r0, j->n_in, j->w, j->w16, j->ldw, c0, c1,
          j->alpha, j->b, j->beta, y, j->n_out);
    }
  else
    {
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, c1 - c0,
          j->n_in, j->alpha, x, j->n_in, j->w + (size_t)c0 * j->ldw, j->ldw,
          j->beta, y + c0, j->n_out);
      pending = j->b;
    }
  if (j->epi || pending)
    epilogue_block (j, r0, r1, c0, c1, pending);
}

/* Splits the job over the pool and runs it. */
static void
linear_run (LinJob *j)
{
  const uint32_t t = upm_threads_get ();
  const double work = (double)j->n * j->n_in * j->n_out;

  j->small = !j->wb && !j->wq && !j->wp && (j->rows_only || j->n <= SMALL_ROWS);
  j->by_rows = 0;
  j->chunk = j->n_out;
  if (j->small || (j->wq && j->n <= 64))
    {
      /* ~1 MiB of weights per task (a quarter of that in int8), at least
       * four tasks per thread. */
      uint32_t c = MAX_U (8u, (262144u / MAX_U (j->n_in, 1u)) & ~7u);
      const uint32_t per = round_up ((j->n_out + 4 * t - 1) / (4 * t), 8);
      j->chunk = MAX_U (8u, MIN_U (c, per));
    }
  else if (t > 1 && work >= 1e5)
    {
      /* Each task packs its share of one operand and all of the other.
       * Measured on the Base shapes (2 threads): splitting the rows is as
       * fast or faster as soon as each thread gets a few hundred rows;
       * fewer rows split the columns. */
      if (j->n >= 256 * t || j->n_out < j->n)
        {
          j->by_rows = 1;
          j->chunk = (j->n + t - 1) / t;
        }
      else
        {
          j->chunk = round_up ((j->n_out + t - 1) / t, 16);
        }
    }
  j->n_tasks = j->by_rows ? (j->n + j->chunk - 1) / j->chunk
                          : (j->n_out + j->chunk - 1) / j->chunk;
  upm_parallel_for (j->n_tasks, lin_task, j);
  /* LayerNorm needs whole rows: a second pass when columns were split. */
  if (j->epi && j->epi->kind == UPM_EPI_RESIDUAL && j->epi->ln_w && !j->by_rows
      && j->n_tasks > 1)
    kern_layer_norm (j->epi->res, j->n, j->n_out, j->epi->ln_w, j->epi->ln_b,
        j->epi->eps, j->epi->ln_out);
}

/* y = beta y + alpha (x W^T + b), then epi; W's rows ldw apart, in half
 * precision when w16 is set. */
static void
linear (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const uint16_t *w16, size_t ldw, const float *b, uint32_t n_out, float *y,
    float alpha, float beta, const UpmEpilogue *epi, int rows_only)
{
  LinJob j = { .x = x,
    .n = n,
    .n_in = n_in,
    .w = w,
    .w16 = w16,
    .ldw = ldw,
    .b = b,
    .n_out = n_out,
    .y = y,
    .alpha = alpha,
    .beta = beta,
    .epi = epi,
    .rows_only = rows_only };

  if (n > 0 && n_out > 0)
    linear_run (&j);
}

static void
kern_linear_part (const float *x, uint32_t n, uint32_t n_in, const float *w,
    size_t ldw, const float *b, uint32_t n_out, float beta, float *y,
    const UpmEpilogue *epi)
{
  linear (x, n, n_in, w, NULL, ldw, b, n_out, y, 1.0f, beta, epi, 0);
}

static void
kern_linear_acc (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float alpha, float *y)
{
  linear (x, n, n_in, w, NULL, n_in, b, n_out, y, alpha, 1.0f, NULL, 0);
}

/* Always our row kernel, whatever the number of rows. */
static void
kern_matmul_rows (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const uint16_t *w16, uint32_t n_out, float alpha, float *y)
{
  linear (x, n, n_in, w16 ? NULL : w, w16, n_in, NULL, n_out, y, alpha, 0.0f,
      NULL, 1);
}

/* Columns [c0, c0 + n_cols) and inputs [k0, k0 + n_k) of a typed weight
 * matrix (bf16 pack, int8 rows or int8 pack: the caller sets which). */
static LinJob
typed_part_job (const float *x, uint32_t n, uint32_t c0, uint32_t n_cols,
    uint32_t k0, uint32_t n_k, const float *b, float beta, float *y,
    const UpmEpilogue *epi)
{
  LinJob j = { .x = x,
    .n = n,
    .n_in = n_k,
    .b = b,
    .n_out = n_cols,
    .y = y,
    .alpha = 1.0f,
    .beta = beta,
    .epi = epi,
    .wc0 = c0,
    .wk0 = k0 };

  return j;
}

static void
kern_linear_bf16 (const float *x, uint32_t n, const UpmBf16Weights *w,
    uint32_t c0, uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *b,
    float beta, float *y, const UpmEpilogue *epi)
{
  LinJob j = typed_part_job (x, n, c0, n_cols, k0, n_k, b, beta, y, epi);

  j.wb = w;
  if (n > 0 && n_cols > 0)
    linear_run (&j);
}

static void
kern_linear_q8 (const float *x, uint32_t n, const UpmQ8Matrix *w, uint32_t c0,
    uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *b, float beta,
    float *y, const UpmEpilogue *epi)
{
  LinJob j = typed_part_job (x, n, c0, n_cols, k0, n_k, b, beta, y, epi);

  j.wq = w;
  if (n > 0 && n_cols > 0)
    linear_run (&j);
}

static void
kern_linear_q8q8 (const float *x, uint32_t n, const UpmQ8Packed *w, uint32_t c0,
    uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *b, float beta,
    float *y, const UpmEpilogue *epi)
{
  LinJob j = typed_part_job (x, n, c0, n_cols, k0, n_k, b, beta, y, epi);

  j.wp = w;
  if (n > 0 && n_cols > 0)
    linear_run (&j);
}
