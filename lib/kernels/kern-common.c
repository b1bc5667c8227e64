/* kern-common.c: the kernels' parts that no ISA level changes: the libm
 * references of the vectorised functions and the packed key/value layout.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "kern-simd.h"
#include "upm-ops.h"

void
upm_gelu_ref (float *x, size_t n)
{
  const float inv_sqrt2 = 0.70710678118654752440f;

  for (size_t i = 0; i < n; i++)
    x[i] = 0.5f * x[i] * (1.0f + erff (x[i] * inv_sqrt2));
}

void
upm_exp_ref (float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = expf (x[i]);
}

size_t
upm_attention_scratch (uint32_t n_q, uint32_t n_keys)
{
  (void)n_q;
  (void)n_keys;
  return 1;
}

size_t
upm_kv_packed_size (uint32_t n_keys, uint32_t n_head, uint32_t hd)
{
  const size_t ld = round_up (MAX_U (n_keys, 1u), 16);
  return (size_t)n_head * ld * (hd + head_dim_padded (hd));
}

void
upm_kv_packed_init (
    uint32_t n_keys, uint32_t n_head, uint32_t hd, float *buf, UpmKvPacked *out)
{
  out->ld = round_up (MAX_U (n_keys, 1u), 16);
  out->n = n_keys;
  out->kt = buf;
  out->v = buf + (size_t)n_head * out->ld * hd;
}

float
upm_bf16_round (float x)
{
  return bf16_round (x);
}

size_t
upm_bf16_weights_size (uint32_t n_out, uint32_t n_in)
{
  return (size_t)round_up (n_out, 16) * round_up (n_in, 2);
}

typedef struct
{
  const float *w;
  size_t ldw;
  uint32_t n_out, n_in, n_pairs;
  uint16_t *buf;
} PackJob;

/* Panel p: outputs [16 p, 16 p + 16), pairs of inputs, zero padded. */
static void
pack_panel (void *arg, uint32_t p)
{
  const PackJob *j = arg;
  uint16_t *dst = j->buf + (size_t)p * j->n_pairs * 32;

  for (uint32_t q = 0; q < j->n_pairs; q++)
    for (uint32_t i = 0; i < 16; i++)
      for (uint32_t h = 0; h < 2; h++)
        {
          const uint32_t o = 16 * p + i, k = 2 * q + h;
          *dst++ = o < j->n_out && k < j->n_in
                       ? bf16_bits (j->w[(size_t)o * j->ldw + k])
                       : 0;
        }
}

void
upm_bf16_weights_pack (const float *w, size_t ldw, uint32_t n_out,
    uint32_t n_in, uint16_t *buf, UpmBf16Weights *out)
{
  PackJob j = { w, ldw, n_out, n_in, (n_in + 1) / 2, buf };

  upm_parallel_for (round_up (n_out, 16) / 16, pack_panel, &j);
  out->w = buf;
  out->n_out = n_out;
  out->n_in = n_in;
  out->n_pairs = j.n_pairs;
}

/* Per head: keys ld x hd2 values, then (after every head's keys) values
 * hd16 x ld. */
static uint32_t
kv16_keys_stride (uint32_t ld, uint32_t hd)
{
  return ld * round_up (hd, 2);
}

size_t
upm_kv_bf16_size (uint32_t n_keys, uint32_t n_head, uint32_t hd)
{
  const size_t ld = round_up (MAX_U (n_keys, 1u), 16);
  return (size_t)n_head * ld * (round_up (hd, 2) + round_up (hd, 16));
}

void
upm_kv_bf16_init (
    uint32_t n_keys, uint32_t n_head, uint32_t hd, void *buf, UpmKvBf16 *out)
{
  (void)n_head;
  (void)hd;
  out->buf = buf;
  out->n = n_keys;
  out->ld = round_up (MAX_U (n_keys, 1u), 16);
}

void
upm_kv_bf16_head (const UpmKvBf16 *kv, uint32_t n_head, uint32_t hd, uint32_t h,
    UpmBf16Weights *keys, UpmBf16Weights *values)
{
  const size_t ks = kv16_keys_stride (kv->ld, hd);

  keys->w = kv->buf + h * ks;
  keys->n_out = kv->ld;
  keys->n_in = hd;
  keys->n_pairs = (hd + 1) / 2;
  values->w = kv->buf + n_head * ks + (size_t)h * round_up (hd, 16) * kv->ld;
  values->n_out = hd;
  values->n_in = kv->ld;
  values->n_pairs = kv->ld / 2;
}

size_t
upm_q8_packed_size (uint32_t n_out, uint32_t n_in)
{
  return (size_t)round_up (n_out, 16) * round_up (n_in, 4);
}

typedef struct
{
  const UpmQ8Matrix *m;
  uint32_t n_quads;
  int8_t *buf;
} Q8PackJob;

/* Panel p: outputs [16 p, 16 p + 16), quads of inputs, zero padded. */
static void
q8_pack_panel (void *arg, uint32_t p)
{
  const Q8PackJob *j = arg;
  const UpmQ8Matrix *m = j->m;
  int8_t *dst = j->buf + (size_t)p * j->n_quads * 64;

  for (uint32_t g = 0; g < j->n_quads; g++)
    for (uint32_t i = 0; i < 16; i++)
      for (uint32_t h = 0; h < 4; h++)
        {
          const uint32_t o = 16 * p + i, k = 4 * g + h;
          *dst++
              = o < m->n_out && k < m->n_in ? m->q[(size_t)o * m->n_in + k] : 0;
        }
}

void
upm_q8_pack (const UpmQ8Matrix *m, int8_t *buf, UpmQ8Packed *out)
{
  Q8PackJob j = { m, (m->n_in + 3) / 4, buf };

  upm_parallel_for (round_up (m->n_out, 16) / 16, q8_pack_panel, &j);
  out->w = buf;
  out->scale = m->scale;
  out->n_out = m->n_out;
  out->n_in = m->n_in;
  out->n_quads = j.n_quads;
}
