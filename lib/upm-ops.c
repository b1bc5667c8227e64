/* upm-ops.c: the kernel API, forwarded to the kernels of the ISA level
 * that lib/kernels/upm-cpu.c picked for this CPU.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The kernels themselves are in lib/kernels/ (compiled once per level);
 * the libm references and the packed key/value layout, which no level
 * changes, in lib/kernels/kern-common.c.
 */
#include "upm-ops.h"

#include "kernels/upm-kernels.h"

#define K() upm_cpu_kernels ()

void
upm_linear (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float *y)
{
  K ()->linear_part (x, n, n_in, w, n_in, b, n_out, 0.0f, y, NULL);
}

void
upm_linear_ex (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float *y, const UpmEpilogue *epi)
{
  K ()->linear_part (x, n, n_in, w, n_in, b, n_out, 0.0f, y, epi);
}

void
upm_linear_part (const float *x, uint32_t n, uint32_t n_in, const float *w,
    size_t ldw, const float *b, uint32_t n_out, float beta, float *y,
    const UpmEpilogue *epi)
{
  K ()->linear_part (x, n, n_in, w, ldw, b, n_out, beta, y, epi);
}

void
upm_linear_acc (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float alpha, float *y)
{
  K ()->linear_acc (x, n, n_in, w, b, n_out, alpha, y);
}

void
upm_matmul_rows (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const uint16_t *w16, uint32_t n_out, float alpha, float *y)
{
  K ()->matmul_rows (x, n, n_in, w, w16, n_out, alpha, y);
}

void
upm_layer_norm (const float *x, uint32_t n, uint32_t d, const float *g,
    const float *b, float eps, float *y)
{
  K ()->layer_norm (x, n, d, g, b, eps, y);
}

void
upm_gelu (float *x, size_t n)
{
  K ()->gelu (x, n);
}

void
upm_exp (float *x, size_t n)
{
  K ()->exp (x, n);
}

void
upm_scaled_residual (
    float *x, const float *y, const float *scale, uint32_t n, uint32_t d)
{
  K ()->scaled_residual (x, y, scale, n, d);
}

void
upm_softmax (float *x, uint32_t n)
{
  K ()->softmax (x, n);
}

void
upm_log_softmax (float *x, uint32_t n)
{
  K ()->log_softmax (x, n);
}

void
upm_l2_normalize (float *x, uint32_t d)
{
  K ()->l2_normalize (x, d);
}

void
upm_f32_to_f16_row (const float *x, uint16_t *y, size_t n)
{
  K ()->f32_to_f16_row (x, y, n);
}

void
upm_kv_pack (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t head_dim, float *buf, UpmKvPacked *out)
{
  K ()->kv_pack (spans, n_spans, n_head, head_dim, buf, out);
}

void
upm_kv_pack_at (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t head_dim, uint32_t n_keys, uint32_t key0, float *buf,
    UpmKvPacked *out)
{
  K ()->kv_pack_at (spans, n_spans, n_head, head_dim, n_keys, key0, buf, out);
}

void
upm_attention (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t head_dim, uint32_t causal_from, uint32_t key_offset, float *out,
    uint32_t ldo, float *scratch)
{
  (void)scratch;
  K ()->attention (q, ldq, n_q, spans, n_spans, n_head, head_dim, causal_from,
      key_offset, out, ldo);
}

void
upm_attention_packed (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvPacked *kv, uint32_t n_head, uint32_t head_dim,
    uint32_t causal_from, uint32_t key_offset, float *out, uint32_t ldo)
{
  K ()->attention_packed (
      q, ldq, n_q, kv, n_head, head_dim, causal_from, key_offset, out, ldo);
}

void
upm_attention_groups (const float *q, uint32_t ldq, const UpmKvPacked *shared,
    const UpmAttnGroup *groups, uint32_t n_groups, uint32_t n_head,
    uint32_t head_dim, uint32_t causal_from, uint32_t key_offset, float *out,
    uint32_t ldo)
{
  K ()->attention_groups (q, ldq, shared, groups, n_groups, n_head, head_dim,
      causal_from, key_offset, out, ldo);
}
