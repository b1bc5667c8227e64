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
