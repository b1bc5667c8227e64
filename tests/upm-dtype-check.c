/* upm-dtype-check REF.upm MODEL.upm [PRECISION [PATH [BOUND [CLIPS [FRAMES]]]]]
 *
 * The features of MODEL (a file converted with another --dtype, run in
 * PRECISION: fp32, bf16 or auto; PATH fast or plain) against those of REF
 * (the f32 file, fp32, fast path): CLIPS seeded random clips of FRAMES
 * frames (visual features, cls_input) and as many random texts
 * (cls_target). Prints one JSON line with the max and mean abs error and
 * the smallest cosine; exit 1 when the max abs error exceeds BOUND
 * (default 1: report only), 2 on a usage or load error.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  double max_abs, sum_abs, min_cos;
  size_t n;
} Errors;

static void
compare (const float *a, const float *b, uint32_t d, Errors *e)
{
  double dot = 0, na = 0, nb = 0;

  for (uint32_t j = 0; j < d; j++)
    {
      const double diff = fabs ((double)a[j] - b[j]);
      e->max_abs = MAX (e->max_abs, diff);
      e->sum_abs += diff;
      dot += (double)a[j] * b[j];
      na += (double)a[j] * a[j];
      nb += (double)b[j] * b[j];
    }
  e->n += d;
  e->min_cos = MIN (e->min_cos, dot / sqrt (MAX (na * nb, 1e-300)));
}

/* Clip @i's visual feature and text @i's feature (2 x D). */
static gboolean
encode (
    UpmContext *ctx, uint32_t i, uint32_t frames, float *out, GError **error)
{
  const UpmHParams *hp = upm_model_hparams (upm_context_model (ctx));
  const size_t n
      = (size_t)frames * UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
  g_autofree float *patches = g_new (float, n);
  GRand *rand = g_rand_new_with_seed (1000 + i);
  int32_t ids[6];
  const int32_t *idp = ids;
  const uint32_t n_ids = G_N_ELEMENTS (ids);
  gboolean ok;

  for (size_t k = 0; k < n; k++)
    patches[k] = (float)g_rand_double_range (rand, -2.0, 2.0);
  for (uint32_t k = 0; k < n_ids; k++)
    ids[k] = (int32_t)g_rand_int_range (rand, 0, (gint32)hp->sot_id);
  ids[n_ids - 1] = (int32_t)hp->eot_id;
  g_rand_free (rand);
  ok = upm_encode_visual (
           ctx, patches, frames, UPM_ATTR_CLS_INPUT, out, NULL, error)
       && upm_encode_texts (
           ctx, &idp, &n_ids, 1, UPM_ATTR_CLS_TARGET, out + hp->n_embd, error);
  return ok;
}

static UpmContext *
context_for (const char *path, const char *precision, const char *path_kind,
    GError **error)
{
  UpmModel *model = upm_model_load (path, error);
  UpmPrecision p = UPM_PRECISION_AUTO;
  UpmContext *ctx;

  if (!model)
    return NULL;
  if (!upm_precision_parse (precision, &p))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "'%s' is not a precision", precision);
      upm_model_unref (model);
      return NULL;
    }
  ctx = upm_context_new (model);
  upm_model_unref (model);
  upm_context_set_precision (ctx, p);
  upm_context_set_path (
      ctx, strcmp (path_kind, "plain") == 0 ? UPM_PATH_PLAIN : UPM_PATH_FAST);
  return ctx;
}

int
main (int argc, char **argv)
{
  const char *precision = argc > 3 ? argv[3] : "fp32";
  const char *path_kind = argc > 4 ? argv[4] : "fast";
  const double bound = argc > 5 ? atof (argv[5]) : 1.0;
  const uint32_t clips = argc > 6 ? (uint32_t)atoi (argv[6]) : 2;
  const uint32_t frames = argc > 7 ? (uint32_t)atoi (argv[7]) : 1;
  GError *error = NULL;
  UpmContext *ref, *ctx;
  Errors e = { 0, 0, 1.0, 0 };
  uint32_t d;

  if (argc < 3)
    {
      fprintf (stderr,
          "usage: %s REF.upm MODEL.upm [PRECISION [PATH [BOUND [CLIPS "
          "[FRAMES]]]]]\n",
          argv[0]);
      return 2;
    }
  ref = context_for (argv[1], "fp32", "fast", &error);
  ctx = ref ? context_for (argv[2], precision, path_kind, &error) : NULL;
  if (!ctx)
    {
      fprintf (stderr, "%s\n", error->message);
      return 2;
    }
  d = upm_model_hparams (upm_context_model (ref))->n_embd;
  for (uint32_t i = 0; i < clips; i++)
    {
      g_autofree float *a = g_new (float, 2 * d);
      g_autofree float *b = g_new (float, 2 * d);

      if (!encode (ref, i, frames, a, &error)
          || !encode (ctx, i, frames, b, &error))
        {
          fprintf (stderr, "%s\n", error->message);
          return 2;
        }
      compare (a, b, 2 * d, &e);
    }
  printf ("{\"model\": \"%s\", \"precision\": \"%s\", \"path\": \"%s\", "
          "\"clips\": %u, \"frames\": %u, \"max_abs\": %.3g, "
          "\"mean_abs\": %.3g, \"min_cosine\": %.8f, \"bound\": %g}\n",
      argv[2], upm_precision_name (upm_context_precision (ctx)), path_kind,
      clips, frames, e.max_abs, e.sum_abs / MAX (e.n, 1), e.min_cos, bound);
  upm_context_free (ctx);
  upm_context_free (ref);
  return e.max_abs <= bound ? 0 : 1;
}
