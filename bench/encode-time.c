/* encode-time.c: the clip and image encode times of one build of the
 * library, through the public API that every build since the first has
 * (upm_model_load, upm_context_new, upm_encode_visual), so that
 * bench/portable.sh can link it against an old build as well as this one.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   encode-time MODEL.upm [RUNS] [FRAMES]
 *
 * One JSON line: the medians of RUNS runs (after one warm-up) of the clip
 * (FRAMES frames, default 8) and of one image, fp32 (the context's default
 * on an f32 file), the inputs upm-bench's (the same integer hash).
 */
#include "upm-engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now_s (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* upm-bench's deterministic inputs: an integer hash mapped to [-1, 1). */
static float
input_value (uint32_t seed, uint64_t i)
{
  uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed << 32);
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return (float)((double)(h >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static int
cmp_double (const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The median of @runs encodes of @frames frames (after a warm-up). */
static double
encode_median (UpmContext *ctx, const UpmHParams *hp, uint32_t frames, int runs,
    uint32_t seed)
{
  const size_t n
      = (size_t)frames * UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
  float *patches = malloc (n * sizeof (float));
  float *feature = malloc (hp->n_embd * sizeof (float));
  double *t = malloc ((size_t)runs * sizeof (double)), med;
  GError *error = NULL;

  for (size_t i = 0; i < n; i++)
    patches[i] = input_value (seed, i);
  for (int r = -1; r < runs; r++)
    {
      const double t0 = now_s ();
      if (!upm_encode_visual (
              ctx, patches, frames, UPM_ATTR_CLS_INPUT, feature, NULL, &error))
        {
          fprintf (stderr, "encode-time: %s\n", error->message);
          exit (1);
        }
      if (r >= 0)
        t[r] = now_s () - t0;
    }
  qsort (t, (size_t)runs, sizeof (double), cmp_double);
  med = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
  free (patches);
  free (feature);
  free (t);
  return med;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  const int runs = argc > 2 ? MAX (1, atoi (argv[2])) : 3;
  UpmModel *model = argc > 1 ? upm_model_load (argv[1], &error) : NULL;

  if (!model)
    {
      fprintf (stderr, "encode-time: %s\n",
          error ? error->message
                : "usage: encode-time MODEL.upm [RUNS] "
                  "[FRAMES]");
      return 2;
    }
  const UpmHParams *hp = upm_model_hparams (model);
  const uint32_t frames
      = MIN (argc > 3 ? (uint32_t)MAX (1, atoi (argv[3])) : 8u, hp->n_temporal);
  UpmContext *ctx = upm_context_new (model);
  const double clip = encode_median (ctx, hp, frames, runs, 11);
  const double image = encode_median (ctx, hp, 1, runs, 12);

  printf (
      "{\"kind\": \"encode-time\", \"model\": \"%s\", \"runs\": %d, "
      "\"frames\": %u, \"encode_clip_s\": %.5f, \"encode_image_s\": %.5f}\n",
      upm_model_name (model), runs, frames, clip, image);
  upm_context_free (ctx);
  upm_model_unref (model);
  return 0;
}
