/* upm-kernels.h: the table of kernels of one ISA level (internal).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The kernel sources (kern-math.c, kern-linear.c, kern-attention.c,
 * kern-table.c) are compiled once per level with that level's flags and
 * UPM_KLEVEL set to its name, so that every function they export carries
 * the level as a suffix (upm_gelu_avx2). Each level fills one UpmKernels;
 * upm-cpu.c picks the table once, upm-ops.c forwards the API to it.
 */
#ifndef UPM_KERNELS_H
#define UPM_KERNELS_H

#include "upm-ops.h"

typedef struct
{
  void (*gelu) (float *x, size_t n);
  void (*exp) (float *x, size_t n);
  void (*softmax) (float *x, uint32_t n);
  void (*log_softmax) (float *x, uint32_t n);
  void (*l2_normalize) (float *x, uint32_t d);
  void (*scaled_residual) (
      float *x, const float *y, const float *scale, uint32_t n, uint32_t d);
  void (*layer_norm) (const float *x, uint32_t n, uint32_t d, const float *g,
      const float *b, float eps, float *y);
  void (*f32_to_f16_row) (const float *x, uint16_t *y, size_t n);
  void (*linear_part) (const float *x, uint32_t n, uint32_t n_in,
      const float *w, size_t ldw, const float *b, uint32_t n_out, float beta,
      float *y, const UpmEpilogue *epi);
  void (*linear_acc) (const float *x, uint32_t n, uint32_t n_in, const float *w,
      const float *b, uint32_t n_out, float alpha, float *y);
  void (*matmul_rows) (const float *x, uint32_t n, uint32_t n_in,
      const float *w, const uint16_t *w16, uint32_t n_out, float alpha,
      float *y);
  void (*kv_pack) (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
      uint32_t head_dim, float *buf, UpmKvPacked *out);
  void (*kv_pack_at) (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
      uint32_t head_dim, uint32_t n_keys, uint32_t key0, float *buf,
      UpmKvPacked *out);
  void (*attention_packed) (const float *q, uint32_t ldq, uint32_t n_q,
      const UpmKvPacked *kv, uint32_t n_head, uint32_t head_dim,
      uint32_t causal_from, uint32_t key_offset, float *out, uint32_t ldo);
  void (*attention) (const float *q, uint32_t ldq, uint32_t n_q,
      const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
      uint32_t head_dim, uint32_t causal_from, uint32_t key_offset, float *out,
      uint32_t ldo);
  void (*attention_groups) (const float *q, uint32_t ldq,
      const UpmKvPacked *shared, const UpmAttnGroup *groups, uint32_t n_groups,
      uint32_t n_head, uint32_t head_dim, uint32_t causal_from,
      uint32_t key_offset, float *out, uint32_t ldo);
} UpmKernels;

/* The levels built into this binary (upm-cpu.c knows which). */
extern const UpmKernels upm_kernels_generic;
#ifdef UPM_HAVE_KERNELS_AVX2
extern const UpmKernels upm_kernels_avx2;
#endif

/* The table of the level in use (upm-cpu.c; detects the CPU on the first
 * call). */
const UpmKernels *upm_cpu_kernels (void);

#ifdef UPM_KLEVEL
/* -------------------------------------- inside the kernel sources of a level
 * UPM_K (upm_gelu) is upm_gelu_<level>. */
#define UPM_K_CAT2(name, level) name##_##level
#define UPM_K_CAT(name, level) UPM_K_CAT2 (name, level)
#define UPM_K(name) UPM_K_CAT (name, UPM_KLEVEL)

void UPM_K (upm_gelu) (float *x, size_t n);
void UPM_K (upm_exp) (float *x, size_t n);
void UPM_K (upm_softmax) (float *x, uint32_t n);
void UPM_K (upm_log_softmax) (float *x, uint32_t n);
void UPM_K (upm_l2_normalize) (float *x, uint32_t d);
void UPM_K (upm_scaled_residual) (
    float *x, const float *y, const float *scale, uint32_t n, uint32_t d);
/* One row of upm_layer_norm (the linear epilogue's LayerNorm). */
void UPM_K (upm_layer_norm_row) (const float *x, uint32_t d, const float *g,
    const float *b, float eps, float *y);
void UPM_K (upm_layer_norm) (const float *x, uint32_t n, uint32_t d,
    const float *g, const float *b, float eps, float *y);
void UPM_K (upm_f32_to_f16_row) (const float *x, uint16_t *y, size_t n);
void UPM_K (upm_linear_part) (const float *x, uint32_t n, uint32_t n_in,
    const float *w, size_t ldw, const float *b, uint32_t n_out, float beta,
    float *y, const UpmEpilogue *epi);
void UPM_K (upm_linear_acc) (const float *x, uint32_t n, uint32_t n_in,
    const float *w, const float *b, uint32_t n_out, float alpha, float *y);
void UPM_K (upm_matmul_rows) (const float *x, uint32_t n, uint32_t n_in,
    const float *w, const uint16_t *w16, uint32_t n_out, float alpha, float *y);
void UPM_K (upm_kv_pack) (const UpmKvSpan *spans, uint32_t n_spans,
    uint32_t n_head, uint32_t head_dim, float *buf, UpmKvPacked *out);
void UPM_K (upm_kv_pack_at) (const UpmKvSpan *spans, uint32_t n_spans,
    uint32_t n_head, uint32_t head_dim, uint32_t n_keys, uint32_t key0,
    float *buf, UpmKvPacked *out);
void UPM_K (upm_attention_packed) (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvPacked *kv, uint32_t n_head, uint32_t head_dim,
    uint32_t causal_from, uint32_t key_offset, float *out, uint32_t ldo);
void UPM_K (upm_attention) (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t head_dim, uint32_t causal_from, uint32_t key_offset, float *out,
    uint32_t ldo);
void UPM_K (upm_attention_groups) (const float *q, uint32_t ldq,
    const UpmKvPacked *shared, const UpmAttnGroup *groups, uint32_t n_groups,
    uint32_t n_head, uint32_t head_dim, uint32_t causal_from,
    uint32_t key_offset, float *out, uint32_t ldo);
#endif /* UPM_KLEVEL */

#endif /* UPM_KERNELS_H */
