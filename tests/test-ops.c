/* test-ops.c: the engine's vectorised kernels against plain references.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-ops.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#define N 100003                /* not a multiple of 8: the scalar tail runs */

static float *
ramp (float lo, float hi)
{
  float *x = g_new (float, N);
  for (int i = 0; i < N; i++)
    x[i] = lo + (hi - lo) * (float) i / (N - 1);
  return x;
}

static void
test_exp (void)
{
  float *a = ramp (-100.0f, 88.0f), *b = g_memdup2 (a, N * sizeof (float));
  double worst = 0.0;

  upm_exp (a, N);
  upm_exp_ref (b, N);
  for (int i = 0; i < N; i++) {
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
  for (uint32_t n = 1; n < 70; n++) {
    float x[70], ref[70];
    double sum = 0.0, max = -INFINITY;
    for (uint32_t i = 0; i < n; i++) {
      x[i] = (float) sin (i * 1.7) * 20.0f;
      max = MAX (max, x[i]);
    }
    for (uint32_t i = 0; i < n; i++)
      sum += exp ((double) x[i] - max);
    for (uint32_t i = 0; i < n; i++)
      ref[i] = (float) (exp ((double) x[i] - max) / sum);
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
  const uint32_t n = 300;       /* spans two query blocks */
  float *qkv = g_new (float, (size_t) n * 3 * d);
  float *out = g_new (float, (size_t) n * d);
  float *scratch = g_new (float, upm_attention_scratch (n, n));
  GRand *r = g_rand_new_with_seed (5);

  for (size_t i = 0; i < (size_t) n * 3 * d; i++)
    qkv[i] = (float) g_rand_double_range (r, -2, 2);
  for (int causal = 0; causal < 2; causal++) {
    const uint32_t causal_from = causal ? 40 : UINT32_MAX;
    UpmKvSpan spans[2] = {
      {qkv + d, qkv + 2 * d, 3 * d, 100},
      {qkv + 100 * 3 * d + d, qkv + 100 * 3 * d + 2 * d, 3 * d, n - 100},
    };
    upm_attention (qkv, 3 * d, n, spans, 2, heads, hd, causal_from, 0, out, d,
        scratch);
    for (uint32_t i = 0; i < n; i += 7) {
      const uint32_t vis = causal ? MAX (causal_from, i + 1) : n;
      for (uint32_t h = 0; h < heads; h++) {
        double s[300], m = -INFINITY, z = 0.0;
        for (uint32_t j = 0; j < vis; j++) {
          double dot = 0.0;
          for (uint32_t c = 0; c < hd; c++)
            dot += (double) qkv[i * 3 * d + h * hd + c] *
                qkv[j * 3 * d + d + h * hd + c];
          s[j] = dot / sqrt (hd);
          m = MAX (m, s[j]);
        }
        for (uint32_t j = 0; j < vis; j++)
          z += (s[j] = exp (s[j] - m));
        for (uint32_t c = 0; c < hd; c++) {
          double o = 0.0;
          for (uint32_t j = 0; j < vis; j++)
            o += s[j] / z * qkv[j * 3 * d + 2 * d + h * hd + c];
          g_assert_cmpfloat (fabs (o - out[i * d + h * hd + c]), <, 1e-5);
        }
      }
    }
  }
  g_rand_free (r);
  g_free (qkv);
  g_free (out);
  g_free (scratch);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/exp", test_exp);
  g_test_add_func ("/ops/gelu", test_gelu);
  g_test_add_func ("/ops/softmax", test_softmax);
  g_test_add_func ("/ops/attention", test_attention);
  return g_test_run ();
}
