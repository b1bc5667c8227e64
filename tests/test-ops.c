/* test-ops.c: the engine's kernels at every ISA level the CPU has, against
 * plain references and against the generic level.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-ops.h"

#include "kernels/upm-cpu.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 100003 /* not a multiple of 8: the scalar tail runs */

/* The kernels' level when main started (UPM_CPU applies). */
static UpmCpuLevel start_level;
static char *start_reason;

/* Switches the kernels to the test's level (its data). */
static void
use_level (gconstpointer data)
{
  const UpmCpuLevel level = GPOINTER_TO_INT (data);
  g_assert_cmpint (upm_cpu_force_level (level), ==, level);
}

/* n values in [lo, hi): evenly spaced (seed 0) or random. */
static float *
values (size_t n, uint32_t seed, float lo, float hi)
{
  float *x = g_new (float, n);
  GRand *r = g_rand_new_with_seed (seed);

  for (size_t i = 0; i < n; i++)
    x[i] = seed ? (float)g_rand_double_range (r, lo, hi)
                : lo + (hi - lo) * (float)i / (float)(n - 1);
  g_rand_free (r);
  return x;
}

/* f against its libm reference on [lo, hi]: the worst error, relative
 * (rel_only), or relative where |ref| > 1 and absolute below, under 1e-6. */
static void
check_vs_ref (const char *name, void (*f) (float *, size_t),
    void (*ref) (float *, size_t), float lo, float hi, gboolean rel_only)
{
  g_autofree float *a = values (N, 0, lo, hi);
  g_autofree float *b = g_memdup2 (a, N * sizeof (float));
  double worst = 0.0;

  f (a, N);
  ref (b, N);
  for (int i = 0; i < N; i++)
    {
      g_assert_true (isfinite (a[i]));
      if (!rel_only)
        worst = MAX (worst, fabs (a[i] - b[i]) / MAX (1.0, fabs (b[i])));
      else if (b[i] > 1e-30f)
        worst = MAX (worst, fabs (a[i] - b[i]) / b[i]);
      else
        g_assert_cmpfloat (a[i], <, 1e-30);
    }
  g_test_message ("%s: worst error %.3g", name, worst);
  g_assert_cmpfloat (worst, <, 1e-6);
}

static void
test_exp (gconstpointer data)
{
  use_level (data);
  check_vs_ref ("exp", upm_exp, upm_exp_ref, -100, 88, TRUE);
}

static void
test_gelu (gconstpointer data)
{
  use_level (data);
  check_vs_ref ("gelu", upm_gelu, upm_gelu_ref, -12, 12, FALSE);
  /* Exact at the anchors. */
  float z[3] = { 0.0f, -0.0f, 1.0f };
  upm_gelu (z, 3);
  g_assert_cmpfloat (z[0], ==, 0.0f);
  g_assert_cmpfloat (fabs (z[2] - 0.8413447461f), <, 1e-6);
}

static void
test_softmax (gconstpointer data)
{
  use_level (data);
  for (uint32_t n = 1; n < 70; n++)
    {
      float x[70], ref[70];
      double sum = 0.0, max = -INFINITY;
      for (uint32_t i = 0; i < n; i++)
        {
          x[i] = (float)sin (i * 1.7) * 20.0f;
          max = MAX (max, x[i]);
        }
      for (uint32_t i = 0; i < n; i++)
        sum += exp ((double)x[i] - max);
      for (uint32_t i = 0; i < n; i++)
        ref[i] = (float)(exp ((double)x[i] - max) / sum);
      upm_softmax (x, n);
      for (uint32_t i = 0; i < n; i++)
        g_assert_cmpfloat (fabs (x[i] - ref[i]), <, 1e-6);
    }
}

/* Row i of head h of the attention of q against the first vis rows of k
 * and v (row stride ld), in double precision. */
static void
attention_ref (const float *q, const float *k, const float *v, uint32_t ld,
    uint32_t hd, uint32_t vis, double *o)
{
  g_autofree double *s = g_new (double, MAX (vis, 1u));
  double m = -INFINITY, z = 0.0;

  for (uint32_t j = 0; j < vis; j++)
    {
      double dot = 0.0;
      for (uint32_t c = 0; c < hd; c++)
        dot += (double)q[c] * k[(size_t)j * ld + c];
      s[j] = dot / sqrt (hd);
      m = MAX (m, s[j]);
    }
  for (uint32_t j = 0; j < vis; j++)
    z += (s[j] = exp (s[j] - m));
  for (uint32_t c = 0; c < hd; c++)
    {
      o[c] = 0.0;
      for (uint32_t j = 0; j < vis; j++)
        o[c] += s[j] / z * v[(size_t)j * ld + c];
    }
}

/* Blocked attention with spans and causal limits against a direct triple
 * loop in double precision. */
static void
test_attention (gconstpointer data)
{
  const uint32_t heads = 2, hd = 8, d = heads * hd;
  const uint32_t n = 300; /* spans two query blocks */
  g_autofree float *qkv = values ((size_t)n * 3 * d, 5, -2, 2);
  g_autofree float *out = g_new (float, (size_t)n *d);
  g_autofree float *scratch = g_new (float, upm_attention_scratch (n, n));

  use_level (data);
  for (int causal = 0; causal < 2; causal++)
    {
      const uint32_t causal_from = causal ? 40 : UINT32_MAX;
      UpmKvSpan spans[2] = {
        { qkv + d, qkv + 2 * d, 3 * d, 100 },
        { qkv + 100 * 3 * d + d, qkv + 100 * 3 * d + 2 * d, 3 * d, n - 100 },
      };
      upm_attention (
          qkv, 3 * d, n, spans, 2, heads, hd, causal_from, 0, out, d, scratch);
      for (uint32_t i = 0; i < n; i += 7)
        for (uint32_t h = 0; h < heads; h++)
          {
            double o[8];
            attention_ref (qkv + (size_t)i * 3 * d + h * hd, qkv + d + h * hd,
                qkv + 2 * d + h * hd, 3 * d, hd,
                causal ? MAX (causal_from, i + 1) : n, o);
            for (uint32_t c = 0; c < hd; c++)
              g_assert_cmpfloat (
                  fabs (o[c] - out[i * d + h * hd + c]), <, 1e-5);
          }
    }
}

/* Keys and values packed a run of rows at a time equal the same keys and
 * values packed at once, padding included. */
static void
test_kv_pack_at (gconstpointer data)
{
  const uint32_t heads = 3, hd = 8, d = heads * hd, n = 301;
  const size_t size = upm_kv_packed_size (n, heads, hd);
  g_autofree float *kv = values ((size_t)n * 2 * d, 7, -2, 2);
  g_autofree float *whole = g_new (float, size);
  g_autofree float *parts = g_new (float, size);
  UpmKvSpan span = { kv, kv + d, 2 * d, n };
  UpmKvPacked a, b;

  use_level (data);
  memset (whole, 0x7f, size * sizeof (float));
  memset (parts, 0x7f, size * sizeof (float));
  upm_kv_pack (&span, 1, heads, hd, whole, &a);
  for (uint32_t r0 = 0; r0 < n; r0 += 37)
    {
      UpmKvSpan s = { kv + (size_t)r0 * 2 * d, kv + (size_t)r0 * 2 * d + d,
        2 * d, MIN (37, n - r0) };
      upm_kv_pack_at (&s, 1, heads, hd, n, r0, parts, &b);
    }
  g_assert_cmpmem (whole, size * sizeof (float), parts, size * sizeof (float));
  g_assert_true (a.n == b.n && a.ld == b.ld);
  g_assert_true (a.kt - whole == b.kt - parts && a.v - whole == b.v - parts);
}

/* x W^T + b summed over blocks of the inputs (W's rows ldw apart, beta 1
 * after the first block, bias and residual epilogue with the last) equals
 * the whole product, for few rows (our kernel) and many (sgemm). */
static void
test_linear_part (gconstpointer data)
{
  const uint32_t n_in = 70, n_out = 24, blk = 16;
  g_autofree float *w = values (n_in * n_out, 9, -1, 1);
  g_autofree float *b = values (n_out, 10, -1, 1);
  g_autofree float *scale = values (n_out, 11, 0.5, 1.5);
  g_autofree float *x = values (40 * n_in, 12, -1, 1);
  g_autofree float *xb = g_new (float, 40 * blk);
  g_autofree float *y1 = g_new (float, 40 * n_out);
  g_autofree float *y2 = g_new (float, 40 * n_out);
  g_autofree float *r1 = g_new0 (float, 40 * n_out);
  g_autofree float *r2 = g_new0 (float, 40 * n_out);

  use_level (data);
  for (uint32_t rows = 3; rows <= 40; rows += 37)
    {
      const UpmEpilogue e1
          = { .kind = UPM_EPI_RESIDUAL, .res = r1, .scale = scale };
      const UpmEpilogue e2
          = { .kind = UPM_EPI_RESIDUAL, .res = r2, .scale = scale };
      upm_linear_ex (x, rows, n_in, w, b, n_out, y1, &e1);
      for (uint32_t k0 = 0; k0 < n_in; k0 += blk)
        {
          const uint32_t nb = MIN (blk, n_in - k0);
          const gboolean last = k0 + nb >= n_in;
          for (uint32_t i = 0; i < rows; i++)
            memcpy (xb + i * nb, x + i * n_in + k0, nb * sizeof (float));
          upm_linear_part (xb, rows, nb, w + k0, n_in, last ? b : NULL, n_out,
              k0 > 0 ? 1.0f : 0.0f, y2, last ? &e2 : NULL);
        }
      for (uint32_t i = 0; i < rows * n_out; i++)
        g_assert_cmpfloat (fabs (r1[i] - r2[i]), <, 1e-5);
    }
}

/* ------------------------------------------- every level against generic */

/* Fills out (n floats) from fixed inputs through the kernels in use. */
typedef void (*KernelCase) (float *out);

/* The case at the test's level equals the case at the generic level
 * within tol (relative where a value exceeds 1). */
static void
expect_generic (gconstpointer data, KernelCase run, size_t n, double tol)
{
  g_autofree float *want = g_new0 (float, n);
  g_autofree float *got = g_new0 (float, n);
  double worst = 0.0;

  g_assert_cmpint (upm_cpu_force_level (UPM_CPU_GENERIC), ==, UPM_CPU_GENERIC);
  run (want);
  use_level (data);
  run (got);
  for (size_t i = 0; i < n; i++)
    {
      g_assert_true (isfinite (got[i]) && isfinite (want[i]));
      worst = MAX (worst, fabs (got[i] - want[i]) / MAX (1.0, fabs (want[i])));
    }
  g_test_message ("worst difference from generic %.3g", worst);
  g_assert_cmpfloat (worst, <=, tol);
}

#define LIN_IN 300 /* 9 blocks of 32, one of 8, a tail of 4 */
#define LIN_OUT 40
#define LIN_ROWS 40
/* 5 outputs of 3 and of 40 rows, then matmul_rows on 3 and on 6 rows. */
#define LIN_FLOATS ((5 * (3 + LIN_ROWS) + 3 + 6) * LIN_OUT)

/* upm_linear, its GELU and residual + LayerNorm epilogues and upm_linear_acc
 * on few rows (our kernel) and many (sgemm); upm_matmul_rows on float and
 * half weights. */
static void
case_linear (float *out)
{
  g_autofree float *x = values (LIN_ROWS * LIN_IN, 21, -1, 1);
  g_autofree float *w = values (LIN_OUT * LIN_IN, 22, -0.2f, 0.2f);
  g_autofree float *b = values (LIN_OUT, 23, -1, 1);
  g_autofree float *scale = values (LIN_OUT, 24, 0.5f, 1.5f);
  g_autofree float *y = g_new (float, LIN_ROWS *LIN_OUT);
  g_autofree uint16_t *w16 = g_new (uint16_t, LIN_OUT * LIN_IN);

  for (uint32_t rows = 3; rows <= LIN_ROWS; rows += LIN_ROWS - 3)
    {
      const size_t n = (size_t)rows * LIN_OUT;
      float *res = memcpy (out + 2 * n, x, n * sizeof (float));
      const UpmEpilogue gelu = { .kind = UPM_EPI_GELU };
      const UpmEpilogue residual = { .kind = UPM_EPI_RESIDUAL,
        .res = res,
        .scale = scale,
        .ln_w = scale,
        .ln_b = b,
        .eps = 1e-5f,
        .ln_out = out + 3 * n };
      upm_linear (x, rows, LIN_IN, w, b, LIN_OUT, out);
      upm_linear_ex (x, rows, LIN_IN, w, b, LIN_OUT, out + n, &gelu);
      upm_linear_ex (x, rows, LIN_IN, w, b, LIN_OUT, y, &residual);
      memcpy (out + 4 * n, x, n * sizeof (float));
      upm_linear_acc (x, rows, LIN_IN, w, b, LIN_OUT, 0.5f, out + 4 * n);
      out += 5 * n;
    }
  upm_matmul_rows (x, 3, LIN_IN, w, NULL, LIN_OUT, 2.0f, out);
  upm_f32_to_f16_row (w, w16, LIN_OUT * LIN_IN);
  upm_matmul_rows (x, 6, LIN_IN, NULL, w16, LIN_OUT, 2.0f, out + 3 * LIN_OUT);
}

static void
test_linear_vs_generic (gconstpointer data)
{
  expect_generic (data, case_linear, LIN_FLOATS, 1e-5);
}

#define ROW_D 100     /* 6 blocks of 16, a tail of 4 */
#define ROW_N 700     /* 70000 floats: LayerNorm splits them over the pool */
#define ROW_ELEMS 999 /* element-wise runs */
#define ROW_FLOATS (ROW_N * ROW_D + 6 * ROW_ELEMS + ROW_D + 3 * ROW_D)

/* LayerNorm, GELU, exp, softmax, log-softmax, half precision (as floats),
 * L2 normalisation, the scaled residual and the mix of two rows. */
static void
case_rows (float *out)
{
  g_autofree float *x = values (ROW_N * ROW_D, 31, -3, 3);
  g_autofree float *g = values (ROW_D, 32, 0.5f, 1.5f);
  g_autofree float *b = values (ROW_D, 33, -1, 1);
  g_autofree uint16_t *h = g_new (uint16_t, ROW_ELEMS);

  upm_layer_norm (x, ROW_N, ROW_D, g, b, 1e-5f, out);
  out += ROW_N * ROW_D;
  for (int op = 0; op < 4; op++, out += ROW_ELEMS)
    {
      memcpy (out, x, ROW_ELEMS * sizeof (float));
      if (op == 0)
        upm_gelu (out, ROW_ELEMS);
      else if (op == 1)
        upm_exp (out, ROW_ELEMS);
      else if (op == 2)
        upm_softmax (out, ROW_ELEMS);
      else
        upm_log_softmax (out, ROW_ELEMS);
    }
  upm_f32_to_f16_row (x, h, ROW_ELEMS);
  for (int i = 0; i < ROW_ELEMS; i++)
    out[i] = h[i];
  out += ROW_ELEMS;
  memcpy (out, x, ROW_D * sizeof (float));
  upm_l2_normalize (out, ROW_D);
  out += ROW_D;
  memcpy (out, x, 3 * ROW_D * sizeof (float));
  upm_scaled_residual (out, x + 3 * ROW_D, g, 3, ROW_D);
  out += 3 * ROW_D;
  upm_mix2 (x, 0.75f, x + ROW_ELEMS, 0.25f, ROW_ELEMS, out);
}

static void
test_rows_vs_generic (gconstpointer data)
{
  expect_generic (data, case_rows, ROW_FLOATS, 2e-6);
}

#define ATT_HEADS 2
#define ATT_HD 24 /* value column blocks of 16 and of 8 */
#define ATT_D (ATT_HEADS * ATT_HD)
#define ATT_N 100
#define ATT_SHARED 50
#define ATT_FLOATS ((2 * ATT_N + 12) * ATT_D)

/* Self-attention of ATT_N rows, whole and causal, then two decoding groups
 * of 3 rows on ATT_SHARED shared keys plus 4 keys of their own. */
static void
case_attention (float *out)
{
  const uint32_t ld = 3 * ATT_D;
  g_autofree float *qkv = values ((size_t)ATT_N * ld, 41, -2, 2);
  g_autofree float *packed
      = g_new (float, upm_kv_packed_size (ATT_SHARED, ATT_HEADS, ATT_HD));
  const UpmKvSpan all = { qkv + ATT_D, qkv + 2 * ATT_D, ld, ATT_N };
  const UpmKvSpan own[2] = {
    { all.k + 60 * ld, all.v + 60 * ld, ld, 4 },
    { all.k + 70 * ld, all.v + 70 * ld, ld, 4 },
  };
  const UpmAttnGroup groups[2] = { { 3, &own[0], 1 }, { 3, &own[1], 1 } };
  UpmKvSpan shared = all;
  UpmKvPacked kv;

  for (int causal = 0; causal < 2; causal++, out += ATT_N * ATT_D)
    upm_attention (qkv, ld, ATT_N, &all, 1, ATT_HEADS, ATT_HD,
        causal ? 10 : UINT32_MAX, 0, out, ATT_D, NULL);
  shared.n = ATT_SHARED;
  upm_kv_pack (&shared, 1, ATT_HEADS, ATT_HD, packed, &kv);
  upm_attention_groups (qkv + 80 * ld, ld, &kv, groups, 2, ATT_HEADS, ATT_HD,
      ATT_SHARED + 1, ATT_SHARED, out, ATT_D);
  out += 6 * ATT_D;
  /* the same groups on the shared keys in bfloat16 */
  g_autofree uint16_t *packed16
      = g_new (uint16_t, upm_kv_packed_size (ATT_SHARED, ATT_HEADS, ATT_HD));
  UpmKvPacked16 kv16;
  upm_kv_packed_to_bf16 (&kv, ATT_HEADS, ATT_HD, packed16, &kv16);
  upm_attention_groups_bf16 (qkv + 80 * ld, ld, &kv16, groups, 2, ATT_HEADS,
      ATT_HD, ATT_SHARED + 1, ATT_SHARED, out, ATT_D);
}

static void
test_attention_vs_generic (gconstpointer data)
{
  expect_generic (data, case_attention, ATT_FLOATS, 1e-5);
}

/* Decoding groups on shared keys/values in bfloat16
 * (upm_kv_packed_to_bf16, upm_attention_groups_bf16) against the float
 * kernel on the same keys/values rounded to bfloat16 first: the same sums
 * in the same order, so within float rounding; the conversion keeps the
 * packed layout (each element the rounding of the float one); and the
 * rounding shows against the unrounded keys. */
static void
test_attention_groups_bf16 (gconstpointer data)
{
  const uint32_t ld = 3 * ATT_D;
  const size_t size = upm_kv_packed_size (ATT_SHARED, ATT_HEADS, ATT_HD);
  g_autofree float *qkv = values ((size_t)ATT_N * ld, 41, -2, 2);
  g_autofree float *packed = g_new (float, size);
  g_autofree float *rounded = g_new (float, size);
  g_autofree uint16_t *packed16 = g_new (uint16_t, size);
  g_autofree float *want = g_new (float, 6 * ATT_D);
  g_autofree float *exact = g_new (float, 6 * ATT_D);
  g_autofree float *got = g_new (float, 6 * ATT_D);
  const UpmKvSpan own[2] = {
    { qkv + ATT_D + 60 * ld, qkv + 2 * ATT_D + 60 * ld, ld, 4 },
    { qkv + ATT_D + 70 * ld, qkv + 2 * ATT_D + 70 * ld, ld, 4 },
  };
  const UpmAttnGroup groups[2] = { { 3, &own[0], 1 }, { 3, &own[1], 1 } };
  const UpmKvSpan shared = { qkv + ATT_D, qkv + 2 * ATT_D, ld, ATT_SHARED };
  UpmKvPacked kv, kvr;
  UpmKvPacked16 kv16;
  double worst = 0.0, moved = 0.0;

  use_level (data);
  upm_kv_pack (&shared, 1, ATT_HEADS, ATT_HD, packed, &kv);
  upm_kv_packed_to_bf16 (&kv, ATT_HEADS, ATT_HD, packed16, &kv16);
  g_assert_cmpuint (kv16.n, ==, kv.n);
  g_assert_cmpuint (kv16.ld, ==, kv.ld);
  g_assert_cmpint (kv16.v - kv16.kt, ==, kv.v - kv.kt);
  for (size_t i = 0; i < size; i++)
    {
      const uint32_t bits = (uint32_t)packed16[i] << 16;
      memcpy (&rounded[i], &bits, sizeof bits);
      g_assert_cmpfloat (rounded[i], ==, upm_bf16_round (packed[i]));
    }
  upm_kv_packed_init (ATT_SHARED, ATT_HEADS, ATT_HD, rounded, &kvr);
  upm_attention_groups (qkv + 80 * ld, ld, &kvr, groups, 2, ATT_HEADS, ATT_HD,
      ATT_SHARED + 1, ATT_SHARED, want, ATT_D);
  upm_attention_groups (qkv + 80 * ld, ld, &kv, groups, 2, ATT_HEADS, ATT_HD,
      ATT_SHARED + 1, ATT_SHARED, exact, ATT_D);
  upm_attention_groups_bf16 (qkv + 80 * ld, ld, &kv16, groups, 2, ATT_HEADS,
      ATT_HD, ATT_SHARED + 1, ATT_SHARED, got, ATT_D);
  for (int i = 0; i < 6 * ATT_D; i++)
    {
      worst = MAX (worst, fabs (got[i] - want[i]));
      moved = MAX (moved, fabs (got[i] - exact[i]));
    }
  g_test_message ("bf16 groups: %.3g from the rounded float run, %.3g from "
                  "the unrounded",
      worst, moved);
  g_assert_cmpfloat (worst, <=, 1e-6);
  g_assert_cmpfloat (moved, >, 1e-5);
  g_assert_cmpfloat (moved, <, 0.05);
}

/* --------------------------------------------------------------- bfloat16 */

#define BF_IN                                                                  \
  301             /* odd: the last pair is padded; two K blocks of 128 pairs   \
                   */
#define BF_OUT 50 /* three full panels of 16 and a partial one */

/* One block of a bfloat16 product: rows, outputs [c0, c0 + nc), inputs
 * [k0, k0 + nk), beta. */
typedef struct
{
  uint32_t rows, c0, nc, k0, nk;
  float beta;
} BfBlock;

static const BfBlock bf_blocks[] = {
  { 1, 0, BF_OUT, 0, BF_IN, 0.0f },
  { 13, 5, 37, 3, 290, 0.0f }, /* odd first input, unaligned outputs */
  { 40, 16, 34, 0, 300, 1.0f },
  { 300, 0, BF_OUT, 1, 300, 1.0f }, /* rows split over the pool */
};

/* upm_linear_bf16 on each block against the sums of the rounded values in
 * double: the products are exact in float, so the difference is the float
 * summation's, at most (nk + 1) 2^-24 sum |x'| |w'| (plus 2^-24 |y| for
 * beta = 1); and the rounding must show: the result differs from the float
 * product. */
static void
test_linear_bf16 (gconstpointer data)
{
  g_autofree float *w = values (BF_OUT * BF_IN, 51, -0.2f, 0.2f);
  g_autofree float *x = values (300 * BF_IN, 52, -1, 1);
  g_autofree float *y0 = values (300 * BF_OUT, 53, -1, 1);
  g_autofree float *y = g_new (float, 300 * BF_OUT);
  g_autofree uint16_t *buf
      = g_new (uint16_t, upm_bf16_weights_size (BF_OUT, BF_IN));
  UpmBf16Weights wb;
  double rounding = 0.0;

  use_level (data);
  upm_bf16_weights_pack (w, BF_IN, BF_OUT, BF_IN, buf, &wb);
  g_assert_cmpuint (wb.n_pairs, ==, (BF_IN + 1) / 2);
  for (size_t b = 0; b < G_N_ELEMENTS (bf_blocks); b++)
    {
      const BfBlock *k = &bf_blocks[b];
      double worst = 0.0;
      memcpy (y, y0, (size_t)k->rows * k->nc * sizeof (float));
      upm_linear_bf16 (
          x, k->rows, &wb, k->c0, k->nc, k->k0, k->nk, NULL, k->beta, y, NULL);
      for (uint32_t r = 0; r < k->rows; r++)
        for (uint32_t j = 0; j < k->nc; j++)
          {
            const float *xr = x + (size_t)r * k->nk;
            const float *wr = w + (size_t)(k->c0 + j) * BF_IN + k->k0;
            const float prev = y0[(size_t)r * k->nc + j];
            double ref = k->beta * prev, mag = 0.0, f32 = ref;
            for (uint32_t i = 0; i < k->nk; i++)
              {
                const double p
                    = (double)upm_bf16_round (xr[i]) * upm_bf16_round (wr[i]);
                ref += p;
                mag += fabs (p);
                f32 += (double)xr[i] * wr[i];
              }
            const double got = y[(size_t)r * k->nc + j];
            const double bound = (k->nk + 1) * ldexp (mag, -24)
                                 + ldexp (fabs (k->beta * prev), -24);
            g_assert_true (isfinite (got));
            g_assert_cmpfloat (fabs (got - ref), <=, bound);
            worst = MAX (worst, fabs (got - ref) / bound);
            rounding = MAX (rounding, fabs (got - f32));
          }
      g_test_message (
          "block %zu: worst difference %.3g of the bound", b, worst);
    }
  g_test_message ("worst difference from the float product %.3g", rounding);
  g_assert_cmpfloat (rounding, >, 1e-4);
  g_assert_cmpfloat (rounding, <, 0.1);
}

/* A typed linear (bf16, int8 rows, int8 x int8) over all its outputs and
 * inputs, with bias b: the adapters below give the three one shape. */
typedef void (*TypedLinear) (const float *x, uint32_t rows, const void *w,
    const float *b, float *y, const UpmEpilogue *epi);

/* The typed linear with no epilogue, GELU and residual + LayerNorm, on 3
 * and max_rows rows: per row count, 4 * rows * n_out floats of out (plain,
 * GELU, the residual sum, its LayerNorm); tmp takes the unused product. */
static void
typed_linear_epilogues (TypedLinear linear, const void *w, const float *x,
    const float *b, const float *scale, uint32_t n_out, uint32_t max_rows,
    float *tmp, float *out)
{
  for (uint32_t rows = 3; rows <= max_rows; rows += max_rows - 3)
    {
      const size_t n = (size_t)rows * n_out;
      const UpmEpilogue gelu = { .kind = UPM_EPI_GELU };
      float *res = memcpy (out + 2 * n, x, n * sizeof (float));
      const UpmEpilogue residual = { .kind = UPM_EPI_RESIDUAL,
        .res = res,
        .scale = scale,
        .ln_w = scale,
        .ln_b = b,
        .eps = 1e-5f,
        .ln_out = out + 3 * n };
      linear (x, rows, w, b, out, NULL);
      linear (x, rows, w, b, out + n, &gelu);
      linear (x, rows, w, b, tmp, &residual);
      out += 4 * n;
    }
}

#define BF_FLOATS (4 * (3 + 300) * BF_OUT)

static void
linear_bf16_all (const float *x, uint32_t rows, const void *w, const float *b,
    float *y, const UpmEpilogue *epi)
{
  upm_linear_bf16 (x, rows, w, 0, BF_OUT, 0, BF_IN, b, 0.0f, y, epi);
}

/* upm_linear_bf16 with a bias and each epilogue, on 3 and 300 rows. */
static void
case_linear_bf16 (float *out)
{
  g_autofree float *w = values (BF_OUT * BF_IN, 61, -0.2f, 0.2f);
  g_autofree float *x = values (300 * BF_IN, 62, -1, 1);
  g_autofree float *b = values (BF_OUT, 63, -1, 1);
  g_autofree float *scale = values (BF_OUT, 64, 0.5f, 1.5f);
  g_autofree float *tmp = g_new (float, 300 * BF_OUT);
  g_autofree uint16_t *buf
      = g_new (uint16_t, upm_bf16_weights_size (BF_OUT, BF_IN));
  UpmBf16Weights wb;

  upm_bf16_weights_pack (w, BF_IN, BF_OUT, BF_IN, buf, &wb);
  typed_linear_epilogues (
      linear_bf16_all, &wb, x, b, scale, BF_OUT, 300, tmp, out);
}

/* Against generic: the sums' order differs (K 2^-24 sum |x'||w'| ~ 3e-4 at
 * most here; the differences seen are ~1e-6), and LayerNorm divides by
 * the rows' deviation. */
static void
test_linear_bf16_vs_generic (gconstpointer data)
{
  expect_generic (data, case_linear_bf16, BF_FLOATS, 1e-4);
}

#define ATT16_FLOATS (2 * ATT_N * ATT_D)

/* bf16 attention of ATT_N rows, whole and causal from 10, the keys and
 * values packed in two calls (rows 0..39, then 40..). */
static void
case_attention_bf16 (float *out)
{
  const uint32_t ld = 3 * ATT_D;
  g_autofree float *qkv = values ((size_t)ATT_N * ld, 41, -2, 2);
  g_autofree uint16_t *buf
      = g_new (uint16_t, upm_kv_bf16_size (ATT_N, ATT_HEADS, ATT_HD));
  const UpmKvSpan head = { qkv + ATT_D, qkv + 2 * ATT_D, ld, 40 };
  const UpmKvSpan rest = { head.k + 40 * ld, head.v + 40 * ld, ld, ATT_N - 40 };
  UpmKvBf16 kv;

  memset (buf, 0xff, upm_kv_bf16_size (ATT_N, ATT_HEADS, ATT_HD) * 2);
  upm_kv_bf16_init (ATT_N, ATT_HEADS, ATT_HD, buf, &kv);
  upm_kv_pack_bf16_at (&rest, 1, ATT_HEADS, ATT_HD, 40, &kv);
  upm_kv_pack_bf16_at (&head, 1, ATT_HEADS, ATT_HD, 0, &kv);
  for (int causal = 0; causal < 2; causal++, out += ATT_N * ATT_D)
    upm_attention_bf16 (qkv, ld, ATT_N, &kv, ATT_HEADS, ATT_HD,
        causal ? 10 : UINT32_MAX, 0, out, ATT_D);
}

/* Against float attention in double: q, k, v and the probabilities in
 * bfloat16 (relative 2^-9 each) move an output by at most ~2^-6 of the
 * values' range here; and by more than float rounding would. */
static void
test_attention_bf16 (gconstpointer data)
{
  const uint32_t ld = 3 * ATT_D;
  g_autofree float *qkv = values ((size_t)ATT_N * ld, 41, -2, 2);
  g_autofree float *got = g_new (float, ATT16_FLOATS);
  const double scale = 1.0 / sqrt (ATT_HD);
  double worst = 0.0;

  use_level (data);
  case_attention_bf16 (got);
  for (int causal = 0; causal < 2; causal++)
    for (uint32_t i = 0; i < ATT_N; i++)
      for (uint32_t h = 0; h < ATT_HEADS; h++)
        {
          const uint32_t vis = causal ? MAX (10u, i + 1) : ATT_N;
          double sc[ATT_N], mx = -INFINITY, sum = 0.0;
          for (uint32_t j = 0; j < vis; j++)
            {
              double a = 0.0;
              for (uint32_t c = 0; c < ATT_HD; c++)
                a += (double)qkv[i * ld + h * ATT_HD + c]
                     * qkv[j * ld + ATT_D + h * ATT_HD + c];
              sc[j] = a * scale;
              mx = MAX (mx, sc[j]);
            }
          for (uint32_t j = 0; j < vis; j++)
            sum += (sc[j] = exp (sc[j] - mx));
          for (uint32_t c = 0; c < ATT_HD; c++)
            {
              double o = 0.0;
              for (uint32_t j = 0; j < vis; j++)
                o += sc[j] * qkv[j * ld + 2 * ATT_D + h * ATT_HD + c];
              o /= sum;
              const float g
                  = got[(causal * ATT_N + i) * ATT_D + h * ATT_HD + c];
              g_assert_true (isfinite (g));
              worst = MAX (worst, fabs (g - o));
            }
        }
  g_test_message ("worst difference from float attention %.3g", worst);
  g_assert_cmpfloat (worst, <, 2.0 / 64);
  g_assert_cmpfloat (worst, >, 1e-5);
}

static void
test_attention_bf16_vs_generic (gconstpointer data)
{
  expect_generic (data, case_attention_bf16, ATT16_FLOATS, 1e-3);
}

/* ------------------------------------------------------------------- int8 */

#define Q8_IN 301 /* 9 steps of 32, a 16 and a tail of 13 */
#define Q8_OUT 41

static void
linear_q8_all (const float *x, uint32_t rows, const void *w, const float *b,
    float *y, const UpmEpilogue *epi)
{
  upm_linear_q8 (x, rows, w, 0, Q8_OUT, 0, Q8_IN, b, 0.0f, y, epi);
}

static void
linear_q8q8_all (const float *x, uint32_t rows, const void *w, const float *b,
    float *y, const UpmEpilogue *epi)
{
  upm_linear_q8q8 (x, rows, w, 0, Q8_OUT, 0, Q8_IN, b, 0.0f, y, epi);
}

/* The quantisation rule of upm-quant.h: scale max|w|/127, |q| <= 127, the
 * largest weight at +-127, every weight within half a step, the nearest
 * even at ties, a zero row all zero. */
static void
test_q8_quantize (void)
{
  g_autofree float *w = values (Q8_OUT * Q8_IN, 71, -0.3f, 0.3f);
  UpmQ8Matrix *m;

  memset (w + 7 * Q8_IN, 0, Q8_IN * sizeof (float));
  w[3 * Q8_IN] = 1.27f; /* row 3: scale 0.01, ties at 0.005 */
  w[3 * Q8_IN + 1] = 0.025f;
  w[3 * Q8_IN + 2] = -0.015f;
  m = upm_q8_quantize (w, Q8_OUT, Q8_IN);
  g_assert_nonnull (m);
  g_assert_cmpuint (m->n_out, ==, Q8_OUT);
  g_assert_cmpuint (m->n_in, ==, Q8_IN);
  g_assert_cmpuint ((uintptr_t)m->q % 64, ==, 0);
  for (uint32_t r = 0; r < Q8_OUT; r++)
    {
      const float *wr = w + (size_t)r * Q8_IN;
      const int8_t *qr = m->q + (size_t)r * Q8_IN;
      float amax = 0.0f;
      int qmax = 0;
      for (uint32_t k = 0; k < Q8_IN; k++)
        amax = MAX (amax, fabsf (wr[k]));
      g_assert_cmpfloat (m->scale[r], ==, amax / 127.0f);
      for (uint32_t k = 0; k < Q8_IN; k++)
        {
          g_assert_cmpint (qr[k], >=, -127);
          qmax = MAX (qmax, abs (qr[k]));
          g_assert_cmpfloat (fabs (wr[k] - (double)m->scale[r] * qr[k]), <=,
              0.5001 * m->scale[r]);
        }
      g_assert_cmpint (qmax, ==, r == 7 ? 0 : 127);
    }
  /* 0.025 / 0.01 and -0.015 / 0.01 (as floats, near the ties) */
  g_assert_cmpint (m->q[3 * Q8_IN + 1], ==, (int)nearbyintf (0.025f / 0.01f));
  g_assert_cmpint (m->q[3 * Q8_IN + 2], ==, (int)nearbyintf (-0.015f / 0.01f));
  upm_q8_free (m);
}

static const BfBlock q8_blocks[] = {
  { 1, 0, Q8_OUT, 0, Q8_IN, 0.0f },
  { 4, 5, 33, 3, 290, 0.0f }, /* odd first input, unaligned outputs */
  { 7, 16, 25, 0, 300, 1.0f },
  { 70, 0, Q8_OUT, 1, 300, 1.0f }, /* several groups, L2 blocks */
};

/* upm_linear_q8 on each block against the dequantised product in double:
 * the products x q are exact in float, so the difference is the float
 * summation's and the scaling, at most (nk + 2) 2^-24 sum |x| |w'| (plus
 * 2^-24 |y| for beta = 1). With integer x the sums are exact: y is
 * scale * sum x q to the last bit. */
static void
test_linear_q8 (gconstpointer data)
{
  g_autofree float *w = values (Q8_OUT * Q8_IN, 81, -0.2f, 0.2f);
  g_autofree float *x = values (70 * Q8_IN, 82, -1, 1);
  g_autofree float *xi = g_new (float, 70 * Q8_IN);
  g_autofree float *y0 = values (70 * Q8_OUT, 83, -1, 1);
  g_autofree float *y = g_new (float, 70 * Q8_OUT);
  UpmQ8Matrix *m = upm_q8_quantize (w, Q8_OUT, Q8_IN);

  use_level (data);
  for (size_t b = 0; b < G_N_ELEMENTS (q8_blocks); b++)
    {
      const BfBlock *k = &q8_blocks[b];
      double worst = 0.0;
      memcpy (y, y0, (size_t)k->rows * k->nc * sizeof (float));
      upm_linear_q8 (
          x, k->rows, m, k->c0, k->nc, k->k0, k->nk, NULL, k->beta, y, NULL);
      for (uint32_t r = 0; r < k->rows; r++)
        for (uint32_t j = 0; j < k->nc; j++)
          {
            const float *xr = x + (size_t)r * k->nk;
            const int8_t *qr = m->q + (size_t)(k->c0 + j) * Q8_IN + k->k0;
            const double s = m->scale[k->c0 + j];
            const float prev = y0[(size_t)r * k->nc + j];
            double ref = k->beta * prev, mag = 0.0;
            for (uint32_t i = 0; i < k->nk; i++)
              {
                ref += (double)xr[i] * (s * qr[i]);
                mag += fabs ((double)xr[i] * (s * qr[i]));
              }
            const double got = y[(size_t)r * k->nc + j];
            const double bound = (k->nk + 2) * ldexp (mag, -24)
                                 + ldexp (fabs (k->beta * prev), -24);
            g_assert_true (isfinite (got));
            g_assert_cmpfloat (fabs (got - ref), <=, bound);
            worst = MAX (worst, fabs (got - ref) / bound);
          }
      g_test_message (
          "block %zu: worst difference %.3g of the bound", b, worst);
    }
  /* Integer activations: exact integer sums. */
  for (size_t i = 0; i < 70 * Q8_IN; i++)
    xi[i] = nearbyintf (8.0f * x[i]);
  upm_linear_q8 (xi, 70, m, 0, Q8_OUT, 0, Q8_IN, NULL, 0.0f, y, NULL);
  for (uint32_t r = 0; r < 70; r++)
    for (uint32_t j = 0; j < Q8_OUT; j++)
      {
        int64_t isum = 0;
        for (uint32_t i = 0; i < Q8_IN; i++)
          isum += (int64_t)xi[(size_t)r * Q8_IN + i]
                  * m->q[(size_t)j * Q8_IN + i];
        g_assert_cmpfloat (
            y[(size_t)r * Q8_OUT + j], ==, m->scale[j] * (float)isum);
      }
  upm_q8_free (m);
}

#define Q8_FLOATS (4 * (3 + 70) * Q8_OUT)

/* upm_linear_q8 with a bias and each epilogue, on 3 and 70 rows. */
static void
case_linear_q8 (float *out)
{
  g_autofree float *w = values (Q8_OUT * Q8_IN, 91, -0.2f, 0.2f);
  g_autofree float *x = values (70 * Q8_IN, 92, -1, 1);
  g_autofree float *b = values (Q8_OUT, 93, -1, 1);
  g_autofree float *scale = values (Q8_OUT, 94, 0.5f, 1.5f);
  g_autofree float *tmp = g_new (float, 70 * Q8_OUT);
  UpmQ8Matrix *m = upm_q8_quantize (w, Q8_OUT, Q8_IN);

  typed_linear_epilogues (linear_q8_all, m, x, b, scale, Q8_OUT, 70, tmp, out);
  upm_q8_free (m);
}

/* Against generic: the sums' order differs (~K 2^-24 sum |x||w|). */
static void
test_linear_q8_vs_generic (gconstpointer data)
{
  expect_generic (data, case_linear_q8, Q8_FLOATS, 1e-4);
}

/* The int8 x int8 product of each block to the last bit: the rows of x
 * quantised as upm-ops.h says, exact integer sums, then
 * (sum * xs) * scale (+ beta y) in float; also against the float product
 * (the quantisation of x and w must show, but stay small). */
static void
test_linear_q8q8 (gconstpointer data)
{
  g_autofree float *w = values (Q8_OUT * Q8_IN, 101, -0.2f, 0.2f);
  g_autofree float *x = values (70 * Q8_IN, 102, -1, 1);
  g_autofree float *y0 = values (70 * Q8_OUT, 103, -1, 1);
  g_autofree float *y = g_new (float, 70 * Q8_OUT);
  UpmQ8Matrix *m = upm_q8_quantize (w, Q8_OUT, Q8_IN);
  g_autofree int8_t *buf = g_new (int8_t, upm_q8_packed_size (Q8_OUT, Q8_IN));
  UpmQ8Packed wp;
  double worst_f32 = 0.0;

  use_level (data);
  upm_q8_pack (m, buf, &wp);
  g_assert_cmpuint (wp.n_quads, ==, (Q8_IN + 3) / 4);
  for (size_t b = 0; b < G_N_ELEMENTS (q8_blocks); b++)
    {
      const BfBlock *k = &q8_blocks[b];
      memcpy (y, y0, (size_t)k->rows * k->nc * sizeof (float));
      upm_linear_q8q8 (
          x, k->rows, &wp, k->c0, k->nc, k->k0, k->nk, NULL, k->beta, y, NULL);
      for (uint32_t r = 0; r < k->rows; r++)
        {
          const float *xr = x + (size_t)r * k->nk;
          float amax = 0.0f;
          for (uint32_t i = 0; i < k->nk; i++)
            amax = MAX (amax, fabsf (xr[i]));
          const float xs = amax / 127.0f, inv = 1.0f / xs;
          for (uint32_t j = 0; j < k->nc; j++)
            {
              const int8_t *qr = m->q + (size_t)(k->c0 + j) * Q8_IN + k->k0;
              const float *wr = w + (size_t)(k->c0 + j) * Q8_IN + k->k0;
              const float prev = y0[(size_t)r * k->nc + j];
              int64_t isum = 0;
              double f32 = k->beta * prev;
              for (uint32_t i = 0; i < k->nk; i++)
                {
                  const float v = nearbyintf (xr[i] * inv);
                  g_assert_cmpfloat (fabsf (v), <=, 127.0f);
                  isum += (int64_t)v * qr[i];
                  f32 += (double)xr[i] * wr[i];
                }
              const float v = (float)isum * xs * m->scale[k->c0 + j];
              const float want = k->beta != 0.0f ? fmaf (k->beta, prev, v) : v;
              g_assert_cmpfloat (y[(size_t)r * k->nc + j], ==, want);
              worst_f32 = MAX (worst_f32, fabs (want - f32));
            }
        }
    }
  g_test_message ("worst difference from the float product %.3g", worst_f32);
  g_assert_cmpfloat (worst_f32, >, 1e-4);
  g_assert_cmpfloat (worst_f32, <, 0.1);
  upm_q8_free (m);
}

/* upm_linear_q8q8 with a bias and each epilogue, on 3 and 70 rows. */
static void
case_linear_q8q8 (float *out)
{
  g_autofree float *w = values (Q8_OUT * Q8_IN, 111, -0.2f, 0.2f);
  g_autofree float *x = values (70 * Q8_IN, 112, -1, 1);
  g_autofree float *b = values (Q8_OUT, 113, -1, 1);
  g_autofree float *scale = values (Q8_OUT, 114, 0.5f, 1.5f);
  g_autofree float *tmp = g_new (float, 70 * Q8_OUT);
  UpmQ8Matrix *m = upm_q8_quantize (w, Q8_OUT, Q8_IN);
  g_autofree int8_t *buf = g_new (int8_t, upm_q8_packed_size (Q8_OUT, Q8_IN));
  UpmQ8Packed wp;

  upm_q8_pack (m, buf, &wp);
  typed_linear_epilogues (
      linear_q8q8_all, &wp, x, b, scale, Q8_OUT, 70, tmp, out);
  upm_q8_free (m);
}

/* Exact integer sums: only the epilogues' vectorised GELU/LayerNorm may
 * differ from generic (by float rounding). */
static void
test_linear_q8q8_vs_generic (gconstpointer data)
{
  expect_generic (data, case_linear_q8q8, Q8_FLOATS, 1e-5);
}

/* ------------------------------------------------------------- CPU levels */

static void
test_cpu_parse (void)
{
  UpmCpuLevel level;

  for (int l = 0; l < UPM_CPU_N_LEVELS; l++)
    {
      g_assert_true (upm_cpu_level_parse (upm_cpu_level_name (l), &level));
      g_assert_cmpint (level, ==, l);
    }
  g_assert_true (upm_cpu_level_parse ("AVX2", &level));
  g_assert_cmpint (level, ==, UPM_CPU_AVX2);
  g_assert_false (upm_cpu_level_parse ("avx3", &level));
  g_assert_false (upm_cpu_level_parse ("", &level));
  g_assert_true (upm_cpu_level_has_kernels (UPM_CPU_GENERIC));
}

/* The highest level with kernels not above level. */
static UpmCpuLevel
with_kernels (UpmCpuLevel level)
{
  while (!upm_cpu_level_has_kernels (level))
    level--;
  return level;
}

/* In a child with UPM_CPU set by the parent: the level at start. */
static void
test_cpu_env_child (void)
{
  const char *env = g_getenv ("UPM_CPU");
  UpmCpuLevel want = UPM_CPU_N_LEVELS;

  if (!g_test_subprocess ())
    {
      g_test_skip ("run by /cpu/env");
      return;
    }
  g_assert_nonnull (env);
  if (upm_cpu_level_parse (env, &want))
    g_assert_nonnull (strstr (start_reason, "UPM_CPU="));
  g_assert_cmpint (
      start_level, ==, with_kernels (MIN (want, upm_cpu_info ()->host)));
}

/* UPM_CPU=generic forces the generic kernels; a name that is no level is
 * ignored with a message. */
static void
test_cpu_env (void)
{
  const char *names[] = { "generic", "avx2", "avx512bf16", "bogus" };

  for (size_t i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_setenv ("UPM_CPU", names[i], TRUE);
      g_test_trap_subprocess ("/cpu/env-child", 0, G_TEST_SUBPROCESS_DEFAULT);
      g_unsetenv ("UPM_CPU");
      g_test_trap_assert_passed ();
      if (i == 3)
        g_test_trap_assert_stderr ("*UPM_CPU=bogus is not a level*");
    }
}

static void
test_cpu_force (void)
{
  const UpmCpuInfo *info = upm_cpu_info ();

  g_test_message (
      "at start: %s (%s)", upm_cpu_level_name (start_level), start_reason);
  for (int l = 0; l < UPM_CPU_N_LEVELS; l++)
    {
      const UpmCpuLevel got = upm_cpu_force_level (l);
      g_assert_cmpint (
          got, ==, with_kernels (MIN ((UpmCpuLevel)l, info->host)));
      g_assert_cmpint (info->level, ==, got);
      g_assert_nonnull (strstr (info->reason, "upm_cpu_force_level"));
    }
}

/* ------------------------------------------------------------------- main */

static void
add_level_test (UpmCpuLevel level, const char *name, GTestDataFunc func)
{
  g_autofree char *path
      = g_strdup_printf ("/ops/%s/%s", upm_cpu_level_name (level), name);
  g_test_add_data_func (path, GINT_TO_POINTER (level), func);
}

/* Every test at one level, and above generic the comparisons with it. */
static void
add_level_tests (UpmCpuLevel level)
{
  add_level_test (level, "exp", test_exp);
  add_level_test (level, "gelu", test_gelu);
  add_level_test (level, "softmax", test_softmax);
  add_level_test (level, "attention", test_attention);
  add_level_test (level, "kv-pack-at", test_kv_pack_at);
  add_level_test (level, "linear-part", test_linear_part);
  add_level_test (level, "linear-bf16", test_linear_bf16);
  add_level_test (level, "attention-bf16", test_attention_bf16);
  add_level_test (level, "attention-groups-bf16", test_attention_groups_bf16);
  add_level_test (level, "linear-q8", test_linear_q8);
  add_level_test (level, "linear-q8q8", test_linear_q8q8);
  if (level == UPM_CPU_GENERIC)
    return;
  add_level_test (level, "linear-vs-generic", test_linear_vs_generic);
  add_level_test (level, "rows-vs-generic", test_rows_vs_generic);
  add_level_test (level, "attention-vs-generic", test_attention_vs_generic);
  add_level_test (level, "linear-bf16-vs-generic", test_linear_bf16_vs_generic);
  add_level_test (
      level, "attention-bf16-vs-generic", test_attention_bf16_vs_generic);
  add_level_test (level, "linear-q8-vs-generic", test_linear_q8_vs_generic);
  add_level_test (level, "linear-q8q8-vs-generic", test_linear_q8q8_vs_generic);
}

int
main (int argc, char **argv)
{
  const UpmCpuInfo *info;

  g_test_init (&argc, &argv, NULL);
  info = upm_cpu_info ();
  start_level = info->level;
  start_reason = g_strdup (info->reason);
  g_test_add_func ("/cpu/parse", test_cpu_parse);
  g_test_add_func ("/cpu/env", test_cpu_env);
  g_test_add_func ("/cpu/env-child", test_cpu_env_child);
  g_test_add_func ("/cpu/force", test_cpu_force);
  g_test_add_func ("/ops/q8-quantize", test_q8_quantize);
  /* Every level the CPU has and this build has kernels for. */
  for (int l = 0; l <= (int)info->host; l++)
    if (upm_cpu_level_has_kernels (l))
      add_level_tests (l);
  const int rc = g_test_run ();
  g_free (start_reason);
  return rc;
}
