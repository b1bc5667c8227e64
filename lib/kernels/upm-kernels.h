/* upm-kernels.h: the table of kernels of one ISA level (internal).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * kern-level.c is compiled once per level, with that level's flags and
 * UPM_KLEVEL set to its name: one object that holds the level's kernels
 * (kern-math.c, kern-linear.c, kern-attention.c, all static) and exports
 * only their table, upm_kernels_<level>. upm-cpu.c picks one table at run
 * time and upm-ops.c forwards the API to it.
 */
#ifndef UPM_KERNELS_H
#define UPM_KERNELS_H

#include "upm-ops.h"

/* Every kernel a level has: its name (upm_<name> in upm-ops.h, kern_<name>
 * in the level's sources), its parameters, and the arguments that pass
 * them on. upm_linear and upm_linear_ex are upm_linear_part's. */
#define UPM_KERNELS(X)                                                         \
  X (gelu, (float *x, size_t n), (x, n))                                       \
  X (exp, (float *x, size_t n), (x, n))                                        \
  X (softmax, (float *x, uint32_t n), (x, n))                                  \
  X (log_softmax, (float *x, uint32_t n), (x, n))                              \
  X (l2_normalize, (float *x, uint32_t d), (x, d))                             \
  X (scaled_residual,                                                          \
      (float *x, const float *y, const float *scale, uint32_t n, uint32_t d),  \
      (x, y, scale, n, d))                                                     \
  X (mix2,                                                                     \
      (const float *x0, float a0, const float *x1, float a1, size_t n,         \
          float *y),                                                           \
      (x0, a0, x1, a1, n, y))                                                  \
  X (layer_norm,                                                               \
      (const float *x, uint32_t n, uint32_t d, const float *g, const float *b, \
          float eps, float *y),                                                \
      (x, n, d, g, b, eps, y))                                                 \
  X (f32_to_f16_row, (const float *x, uint16_t *y, size_t n), (x, y, n))       \
  X (linear_part,                                                              \
      (const float *x, uint32_t n, uint32_t n_in, const float *w, size_t ldw,  \
          const float *b, uint32_t n_out, float beta, float *y,                \
          const UpmEpilogue *epi),                                             \
      (x, n, n_in, w, ldw, b, n_out, beta, y, epi))                            \
  X (linear_bf16,                                                              \
      (const float *x, uint32_t n, const UpmBf16Weights *w, uint32_t c0,       \
          uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *b,          \
          float beta, float *y, const UpmEpilogue *epi),                       \
      (x, n, w, c0, n_cols, k0, n_k, b, beta, y, epi))                         \
  X (linear_q8,                                                                \
      (const float *x, uint32_t n, const UpmQ8Matrix *w, uint32_t c0,          \
          uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *b,          \
          float beta, float *y, const UpmEpilogue *epi),                       \
      (x, n, w, c0, n_cols, k0, n_k, b, beta, y, epi))                         \
  X (linear_q8q8,                                                              \
      (const float *x, uint32_t n, const UpmQ8Packed *w, uint32_t c0,          \
          uint32_t n_cols, uint32_t k0, uint32_t n_k, const float *b,          \
          float beta, float *y, const UpmEpilogue *epi),                       \
      (x, n, w, c0, n_cols, k0, n_k, b, beta, y, epi))                         \
  X (linear_acc,                                                               \
      (const float *x, uint32_t n, uint32_t n_in, const float *w,              \
          const float *b, uint32_t n_out, float alpha, float *y),              \
      (x, n, n_in, w, b, n_out, alpha, y))                                     \
  X (matmul_rows,                                                              \
      (const float *x, uint32_t n, uint32_t n_in, const float *w,              \
          const uint16_t *w16, uint32_t n_out, float alpha, float *y),         \
      (x, n, n_in, w, w16, n_out, alpha, y))                                   \
  X (kv_pack,                                                                  \
      (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,              \
          uint32_t head_dim, float *buf, UpmKvPacked *out),                    \
      (spans, n_spans, n_head, head_dim, buf, out))                            \
  X (kv_pack_at,                                                               \
      (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,              \
          uint32_t head_dim, uint32_t n_keys, uint32_t key0, float *buf,       \
          UpmKvPacked *out),                                                   \
      (spans, n_spans, n_head, head_dim, n_keys, key0, buf, out))              \
  X (attention,                                                                \
      (const float *q, uint32_t ldq, uint32_t n_q, const UpmKvSpan *spans,     \
          uint32_t n_spans, uint32_t n_head, uint32_t head_dim,                \
          uint32_t causal_from, uint32_t key_offset, float *out, uint32_t ldo, \
          float *scratch),                                                     \
      (q, ldq, n_q, spans, n_spans, n_head, head_dim, causal_from, key_offset, \
          out, ldo, scratch))                                                  \
  X (attention_packed,                                                         \
      (const float *q, uint32_t ldq, uint32_t n_q, const UpmKvPacked *kv,      \
          uint32_t n_head, uint32_t head_dim, uint32_t causal_from,            \
          uint32_t key_offset, float *out, uint32_t ldo),                      \
      (q, ldq, n_q, kv, n_head, head_dim, causal_from, key_offset, out, ldo))  \
  X (kv_pack_bf16_at,                                                          \
      (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,              \
          uint32_t head_dim, uint32_t key0, const UpmKvBf16 *kv),              \
      (spans, n_spans, n_head, head_dim, key0, kv))                            \
  X (attention_bf16,                                                           \
      (const float *q, uint32_t ldq, uint32_t n_q, const UpmKvBf16 *kv,        \
          uint32_t n_head, uint32_t head_dim, uint32_t causal_from,            \
          uint32_t key_offset, float *out, uint32_t ldo),                      \
      (q, ldq, n_q, kv, n_head, head_dim, causal_from, key_offset, out, ldo))  \
  X (attention_groups,                                                         \
      (const float *q, uint32_t ldq, const UpmKvPacked *shared,                \
          const UpmAttnGroup *groups, uint32_t n_groups, uint32_t n_head,      \
          uint32_t head_dim, uint32_t causal_from, uint32_t key_offset,        \
          float *out, uint32_t ldo),                                           \
      (q, ldq, shared, groups, n_groups, n_head, head_dim, causal_from,        \
          key_offset, out, ldo))                                               \
  X (kv_packed_to_bf16,                                                        \
      (const UpmKvPacked *kv, uint32_t n_head, uint32_t head_dim,              \
          uint16_t *buf, UpmKvPacked16 *out),                                  \
      (kv, n_head, head_dim, buf, out))                                        \
  X (attention_groups_bf16,                                                    \
      (const float *q, uint32_t ldq, const UpmKvPacked16 *shared,              \
          const UpmAttnGroup *groups, uint32_t n_groups, uint32_t n_head,      \
          uint32_t head_dim, uint32_t causal_from, uint32_t key_offset,        \
          float *out, uint32_t ldo),                                           \
      (q, ldq, shared, groups, n_groups, n_head, head_dim, causal_from,        \
          key_offset, out, ldo))

#define UPM_KERNEL_MEMBER(name, params, args) void (*name) params;

typedef struct
{
  UPM_KERNELS (UPM_KERNEL_MEMBER)
} UpmKernels;

/* The levels built into this binary (upm-cpu.c knows which). */
extern const UpmKernels upm_kernels_generic;
#ifdef UPM_HAVE_KERNELS_AVX2
extern const UpmKernels upm_kernels_avx2;
#endif
#ifdef UPM_HAVE_KERNELS_AVX512
extern const UpmKernels upm_kernels_avx512;
#endif
#ifdef UPM_HAVE_KERNELS_AVX512BF16
extern const UpmKernels upm_kernels_avx512bf16;
#endif

/* The table of the level in use (upm-cpu.c; detects the CPU on the first
 * call). */
const UpmKernels *upm_cpu_kernels (void);

#endif /* UPM_KERNELS_H */
