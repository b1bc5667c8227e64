/* test-ops.c: the engine's vectorised kernels against plain references.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-ops.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#define N 100003 /* not a multiple of 8: the scalar tail runs */

static float *
ramp (float lo, float hi)
{
  float *x = g_new (float, N);
  for (int i = 0; i < N; i++)
    x[i] = lo + (hi - lo) * (float)i / (N - 1);
  return x;
}

static void
test_exp (void)
{
  float *a = ramp (-100.0f, 88.0f), *b = g_memdup2 (a, N * sizeof (float));
  double worst = 0.0;

  upm_exp (a, N);
  upm_exp_ref (b, N);
  for (int i = 0; i < N; i++)
    {
      g_assert_true (isfinite (a[i]) && a[i] >= 0.0f);
      if (b[i] > 1e-30f)
        worst = MAX (worst, fabs (a[i] - b[i]) / b[i]);
      else
        g_assert_cmpfloat (a[i], <, 1e-30);
    }
  g_test_message ("exp: worst relative error %.3g", worst);
  g_assert_cmpfloat (worst, <, 1e-6);
  g_free (a);
  g_free (b);
}

static void
test_gelu (void)
{
  float *a = ramp (-12.0f, 12.0f), *b = g_memdup2 (a, N * sizeof (float));
  double worst = 0.0;

  upm_gelu (a, N);
  upm_gelu_ref (b, N);
  for (int i = 0; i < N; i++)
    worst = MAX (worst, fabs (a[i] - b[i]) / MAX (1.0, fabs (b[i])));
  g_test_message ("gelu: worst error %.3g", worst);
  g_assert_cmpfloat (worst, <, 1e-6);
  /* Exact at the anchors. */
  float z[3] = { 0.0f, -0.0f, 1.0f };
  upm_gelu (z, 3);
  g_assert_cmpfloat (z[0], ==, 0.0f);
  g_assert_cmpfloat (fabs (z[2] - 0.8413447461f), <, 1e-6);
  g_free (a);
  g_free (b);
}

static void
test_softmax (void)
{
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

/* Blocked attention with spans and causal limits against a direct triple
 * loop in double precision. */
static void
test_attention (void)
{
  const uint32_t heads = 2, hd = 8, d = heads * hd;
  const uint32_t n = 300; /* spans two query blocks */
  float *qkv = g_new (float, (size_t)n * 3 * d);
  float *out = g_new (float, (size_t)n *d);
  float *scratch = g_new (float, upm_attention_scratch (n, n));
  GRand *r = g_rand_new_with_seed (5);

  for (size_t i = 0; i < (size_t)n * 3 * d; i++)
    qkv[i] = (float)g_rand_double_range (r, -2, 2);
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
        {
          const uint32_t vis = causal ? MAX (causal_from, i + 1) : n;
          for (uint32_t h = 0; h < heads; h++)
            {
              double s[300], m = -INFINITY, z = 0.0;
              for (uint32_t j = 0; j < vis; j++)
                {
                  double dot = 0.0;
                  for (uint32_t c = 0; c < hd; c++)
                    dot += (double)qkv[i * 3 * d + h * hd + c]
                           * qkv[j * 3 * d + d + h * hd + c];
                  s[j] = dot / sqrt (hd);
                  m = MAX (m, s[j]);
                }
              for (uint32_t j = 0; j < vis; j++)
                z += (s[j] = exp (s[j] - m));
              for (uint32_t c = 0; c < hd; c++)
                {
                  double o = 0.0;
                  for (uint32_t j = 0; j < vis; j++)
                    o += s[j] / z * qkv[j * 3 * d + 2 * d + h * hd + c];
                  g_assert_cmpfloat (
                      fabs (o - out[i * d + h * hd + c]), <, 1e-5);
                }
            }
        }
    }
  g_rand_free (r);
  g_free (qkv);
  g_free (out);
  g_free (scratch);
}

/* Keys and values packed a run of rows at a time equal the same keys and
 * values packed at once, padding included. */
static void
test_kv_pack_at (void)
{
  const uint32_t heads = 3, hd = 8, d = heads * hd, n = 301;
  const size_t size = upm_kv_packed_size (n, heads, hd);
  float *kv = g_new (float, (size_t)n * 2 * d);
  float *whole = g_new (float, size), *parts = g_new (float, size);
  GRand *r = g_rand_new_with_seed (7);
  UpmKvSpan span = { kv, kv + d, 2 * d, n };
  UpmKvPacked a, b;

  for (size_t i = 0; i < (size_t)n * 2 * d; i++)
    kv[i] = (float)g_rand_double_range (r, -2, 2);
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
  g_rand_free (r);
  g_free (kv);
  g_free (whole);
  g_free (parts);
}

/* x W^T + b summed over blocks of the inputs (W's rows ldw apart, beta 1
 * after the first block, bias and residual epilogue with the last) equals
 * the whole product, for few rows (our kernel) and many (sgemm). */
static void
test_linear_part (void)
{
  const uint32_t n_in = 70, n_out = 24, blk = 16;
  float *w = g_new (float, n_in *n_out), *b = g_new (float, n_out);
  float *scale = g_new (float, n_out);
  float *x = g_new (float, 40 * n_in), *xb = g_new (float, 40 * blk);
  float *y1 = g_new (float, 40 * n_out), *y2 = g_new (float, 40 * n_out);
  float *r1 = g_new0 (float, 40 * n_out), *r2 = g_new0 (float, 40 * n_out);
  GRand *r = g_rand_new_with_seed (9);

  for (uint32_t i = 0; i < n_in * n_out; i++)
    w[i] = (float)g_rand_double_range (r, -1, 1);
  for (uint32_t i = 0; i < n_out; i++)
    {
      b[i] = (float)g_rand_double_range (r, -1, 1);
      scale[i] = (float)g_rand_double_range (r, 0.5, 1.5);
    }
  for (uint32_t i = 0; i < 40 * n_in; i++)
    x[i] = (float)g_rand_double_range (r, -1, 1);
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
  g_rand_free (r);
  g_free (w);
  g_free (b);
  g_free (scale);
  g_free (x);
  g_free (xb);
  g_free (y1);
  g_free (y2);
  g_free (r1);
  g_free (r2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/exp", test_exp);
  g_test_add_func ("/ops/gelu", test_gelu);
  g_test_add_func ("/ops/softmax", test_softmax);
  g_test_add_func ("/ops/attention", test_attention);
  g_test_add_func ("/ops/kv-pack-at", test_kv_pack_at);
  g_test_add_func ("/ops/linear-part", test_linear_part);
  return g_test_run ();
}
