/* kern-bf16-attention.c: multi-head attention on keys and values packed
 * in bfloat16 (upm_kv_pack_bf16_at): QK^T and PV through the bfloat16 GEMM
 * of kern-bf16.c, the softmax in float.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Part of kern-level.c (one translation unit per ISA level), after
 * kern-bf16.c and kern-attention.c (visible_keys), not compiled on its
 * own. Keys of head h are "weights" of hd inputs, one output per key;
 * values are weights of one input per key, one output per column: the
 * GEMM's packed layout serves both.
 */
#include "kern-simd.h"
#include "upm-kernels.h"

#include <stdlib.h>
#include <string.h>

typedef struct
{
  const UpmKvSpan *spans;
  uint32_t n_spans, n_head, hd, key0;
  const UpmKvBf16 *kv;
} Kv16Job;

/* Key j's rounded row of head h into the keys' layout (pairs of columns,
 * 16 keys a tile) and the values' (16 columns a panel, pairs of keys). */
static void
kv16_put_row (uint16_t *k, uint16_t *v, uint32_t ld, uint32_t hd, uint32_t j,
    const uint16_t *kr, const uint16_t *vr)
{
  const uint32_t kp = round_up (hd, 2) / 2;
  uint16_t *kt = k + (size_t)(j / 16) * kp * 32 + (j % 16) * 2;
  uint16_t *vt = v + (size_t)(j / 2) * 32 + (j & 1);

  for (uint32_t c = 0; c < 2 * kp; c += 2)
    memcpy (kt + (size_t)c * 16, kr + c, 2 * sizeof (uint16_t));
  for (uint32_t c = 0; c < round_up (hd, 16); c++)
    vt[(size_t)(c / 16) * (ld / 2) * 32 + (c % 16) * 2] = vr[c];
}

static void
kv16_pack_task (void *arg, uint32_t h)
{
  const Kv16Job *p = arg;
  const uint32_t hd = p->hd, ld = p->kv->ld, w = round_up (hd, 16);
  UpmBf16Weights kw, vw;
  uint32_t key = p->key0;
  uint16_t kr[w], vr[w];

  upm_kv_bf16_head (p->kv, p->n_head, hd, h, &kw, &vw);
  uint16_t *k = (uint16_t *)kw.w, *v = (uint16_t *)vw.w;
  memset (kr, 0, sizeof kr);
  memset (vr, 0, sizeof vr);
  for (uint32_t s = 0; s < p->n_spans; s++)
    {
      const UpmKvSpan *sp = &p->spans[s];
      for (uint32_t i = 0; i < sp->n; i++, key++)
        {
          round_row_bits (sp->k + (size_t)i * sp->ld + (size_t)h * hd, hd, kr);
          round_row_bits (sp->v + (size_t)i * sp->ld + (size_t)h * hd, hd, vr);
          kv16_put_row (k, v, ld, hd, key, kr, vr);
        }
    }
  /* Padding keys (once the last key is packed). */
  if (key < p->kv->n)
    return;
  memset (kr, 0, sizeof kr);
  memset (vr, 0, sizeof vr);
  for (; key < ld; key++)
    kv16_put_row (k, v, ld, hd, key, kr, vr);
}

static void
kern_kv_pack_bf16_at (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t hd, uint32_t key0, const UpmKvBf16 *kv)
{
  Kv16Job p = { spans, n_spans, n_head, hd, key0, kv };

  upm_parallel_for (n_head, kv16_pack_task, &p);
}

/* Query rows per task of the bf16 attention: the block's scores (rows x
 * keys floats) stay in L2; 7 of the GEMM's 7-row tiles. */
#define ATT16_QBLOCK 49

typedef struct
{
  const float *q;
  uint32_t ldq, n_q;
  const UpmKvBf16 *kv;
  uint32_t n_head, hd;
  uint32_t causal_from, key_offset;
  float *out;
  uint32_t ldo;
  uint32_t n_qblocks;
  float scale;
} Att16Job;

/* Rows [q0, q1) of head h: S = (scale Q) K^T and O = P V, both products
 * through bf16_gemm on the packed keys and values (Q and P rounded to
 * bfloat16), the softmax between them in float. */
static void
att16_task (void *arg, uint32_t task)
{
  const Att16Job *a = arg;
  const uint32_t h = task / a->n_qblocks, qb = task % a->n_qblocks;
  const uint32_t hd = a->hd, ld = a->kv->ld, n_keys = a->kv->n;
  const uint32_t q0 = qb * ATT16_QBLOCK;
  const uint32_t rows = MIN_U (a->n_q, q0 + ATT16_QBLOCK) - q0;
  const size_t lds = ld;
  UpmBf16Weights kw, vw;
  uint32_t vmax = 0;
  float *s = upm_thread_scratch (
      UPM_SCRATCH_SCORES, (size_t)rows * lds + (size_t)rows * hd);
  float *qs = s + (size_t)rows * lds;
  double sum[ATT16_QBLOCK];
  float *o = a->out + (size_t)q0 * a->ldo + (size_t)h * hd;

  if (!s)
    abort ();
  upm_kv_bf16_head (a->kv, a->n_head, hd, h, &kw, &vw);
  for (uint32_t i = 0; i < rows; i++)
    vmax = MAX_U (
        vmax, visible_keys (q0 + i, n_keys, a->causal_from, a->key_offset));
  if (vmax == 0)
    {
      for (uint32_t i = 0; i < rows; i++)
        memset (o + (size_t)i * a->ldo, 0, hd * sizeof (float));
      return;
    }
  /* The scale on the queries (as PyTorch's attention does): rounded
   * once, and no pass over the scores. */
  for (uint32_t i = 0; i < rows; i++)
    {
      const float *qr = a->q + (size_t)(q0 + i) * a->ldq + (size_t)h * hd;
      for (uint32_t c = 0; c < hd; c++)
        qs[(size_t)i * hd + c] = qr[c] * a->scale;
    }
  bf16_gemm (qs, hd, rows, &kw, 0, vmax, 0, hd, 0.0f, s, lds);
  for (uint32_t i = 0; i < rows; i++)
    {
      float *row = s + (size_t)i * lds;
      const uint32_t vis
          = visible_keys (q0 + i, n_keys, a->causal_from, a->key_offset);
      sum[i] = vis ? exp_shifted_sum (row, vis, max_of (row, vis)) : 0.0;
      memset (row + vis, 0, (vmax - vis) * sizeof (float));
    }
  bf16_gemm (s, lds, rows, &vw, 0, hd, 0, vmax, 0.0f, o, a->ldo);
  for (uint32_t i = 0; i < rows; i++)
    {
      const float inv = sum[i] > 0.0 ? (float)(1.0 / sum[i]) : 0.0f;
      float *oi = o + (size_t)i * a->ldo;
      for (uint32_t c = 0; c < hd; c++)
        oi[c] *= inv;
    }
}

static void
kern_attention_bf16 (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvBf16 *kv, uint32_t n_head, uint32_t hd, uint32_t causal_from,
    uint32_t key_offset, float *out, uint32_t ldo)
{
  Att16Job a = { q, ldq, n_q, kv, n_head, hd, causal_from, key_offset, out, ldo,
    (n_q + ATT16_QBLOCK - 1) / ATT16_QBLOCK, 1.0f / sqrtf ((float)hd) };

  if (n_q == 0)
    return;
  upm_parallel_for (n_head * a.n_qblocks, att16_task, &a);
}
