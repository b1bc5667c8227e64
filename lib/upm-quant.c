/* upm-quant.c: weight matrices quantised to int8 per output row.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-quant.h"

#include "upm-threads.h"

#include <math.h>
#include <stdlib.h>

void
upm_q8_quantize_row (const float *w, uint32_t n, int8_t *q, float *scale)
{
  float amax = 0.0f;

  for (uint32_t k = 0; k < n; k++)
    amax = fmaxf (amax, fabsf (w[k]));
  *scale = amax / 127.0f;
  for (uint32_t k = 0; k < n; k++)
    {
      const float v = *scale > 0.0f ? nearbyintf (w[k] / *scale) : 0.0f;
      q[k] = (int8_t)fminf (127.0f, fmaxf (-127.0f, v));
    }
}

/* scale first (64-byte multiple), then q. */
static size_t
scale_bytes (uint32_t n_out)
{
  return ((size_t)n_out * sizeof (float) + 63) / 64 * 64;
}

static size_t
header_bytes (void)
{
  return (sizeof (UpmQ8Matrix) + 63) / 64 * 64;
}

size_t
upm_q8_size (uint32_t n_out, uint32_t n_in)
{
  return header_bytes () + scale_bytes (n_out) + (size_t)n_out * n_in;
}

typedef struct
{
  const float *w;
  uint32_t n_in;
  int8_t *q;
  float *scale;
} QuantJob;

/* Task t: 64 rows. */
static void
quantize_rows (void *arg, uint32_t t)
{
  const QuantJob *j = arg;

  for (uint32_t r = 64 * t; r < 64 * t + 64; r++)
    upm_q8_quantize_row (j->w + (size_t)r * j->n_in, j->n_in,
        j->q + (size_t)r * j->n_in, j->scale + r);
}

UpmQ8Matrix *
upm_q8_quantize (const float *w, uint32_t n_out, uint32_t n_in)
{
  const size_t bytes = upm_q8_size (n_out, n_in);
  char *mem = aligned_alloc (64, (bytes + 63) / 64 * 64);
  UpmQ8Matrix *m = (UpmQ8Matrix *)mem;
  float *scale;
  int8_t *q;

  if (!mem)
    return NULL;
  scale = (float *)(mem + header_bytes ());
  q = (int8_t *)(mem + header_bytes () + scale_bytes (n_out));
  QuantJob j = { w, n_in, q, scale };
  upm_parallel_for (n_out / 64, quantize_rows, &j);
  for (uint32_t r = n_out / 64 * 64; r < n_out; r++)
    upm_q8_quantize_row (
        w + (size_t)r * n_in, n_in, q + (size_t)r * n_in, scale + r);
  m->q = q;
  m->scale = scale;
  m->n_out = n_out;
  m->n_in = n_in;
  return m;
}

void
upm_q8_free (UpmQ8Matrix *m)
{
  free (m);
}
