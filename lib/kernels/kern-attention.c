/* kern-attention.c: keys and values packed per head, blocked multi-head
 * attention over them and grouped decoding.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Part of kern-level.c (one translation unit per ISA level), not compiled
 * on its own.
 */
#include "kern-simd.h"
#include "upm-kernels.h"

#include <stdlib.h>
#include <string.h>

#define ATT_MR 6      /* query rows per micro-tile */
#define ATT_QBLOCK 48 /* query rows per task */

static uint32_t
visible_keys (
    uint32_t i, uint32_t n_keys, uint32_t causal_from, uint32_t key_offset)
{
  uint64_t vis;

  if (causal_from == UINT32_MAX)
    return n_keys;
  vis = (uint64_t)key_offset + i + 1;
  if (vis < causal_from)
    vis = causal_from;
  return vis < n_keys ? (uint32_t)vis : n_keys;
}

typedef struct
{
  const UpmKvSpan *spans;
  uint32_t n_spans, n_head, hd, hdp;
  float *kt, *v;
  uint32_t n, ld, key0;
} PackJob;

static void
pack_task (void *arg, uint32_t h)
{
  const PackJob *p = arg;
  const uint32_t hd = p->hd, hdp = p->hdp, ld = p->ld;
  float *kt = p->kt + (size_t)h * ld * hd;
  float *v = p->v + (size_t)h * ld * hdp;
  uint32_t key = p->key0;

  for (uint32_t s = 0; s < p->n_spans; s++)
    {
      const UpmKvSpan *sp = &p->spans[s];
      for (uint32_t i = 0; i < sp->n; i++, key++)
        {
          const float *kr = sp->k + (size_t)i * sp->ld + (size_t)h * hd;
          const float *vr = sp->v + (size_t)i * sp->ld + (size_t)h * hd;
          float *kd = kt + (size_t)(key / 16) * hd * 16 + key % 16;
          for (uint32_t c = 0; c < hd; c++)
            kd[(size_t)c * 16] = kr[c];
          for (uint32_t cb = 0; cb * 16 < hdp; cb++)
            {
              const uint32_t w = MIN_U (16u, hdp - cb * 16);
              float *vd = v + (size_t)cb * 16 * ld + (size_t)key * w;
              for (uint32_t c = 0; c < w; c++)
                {
                  const uint32_t col = cb * 16 + c;
                  vd[c] = col < hd ? vr[col] : 0.0f;
                }
            }
        }
    }
  /* Padding keys score 0 and are masked; zero them all the same (once the
   * last key is packed). */
  if (key < p->n)
    return;
  for (; key < ld; key++)
    {
      float *kd = kt + (size_t)(key / 16) * hd * 16 + key % 16;
      for (uint32_t c = 0; c < hd; c++)
        kd[(size_t)c * 16] = 0.0f;
      for (uint32_t cb = 0; cb * 16 < hdp; cb++)
        {
          const uint32_t w = MIN_U (16u, hdp - cb * 16);
          memset (v + (size_t)cb * 16 * ld + (size_t)key * w, 0,
              w * sizeof (float));
        }
    }
}

static void
kern_kv_pack_at (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t hd, uint32_t n_keys, uint32_t key0, float *buf, UpmKvPacked *out)
{
  PackJob p = { spans, n_spans, n_head, hd, head_dim_padded (hd), buf, NULL,
    n_keys, 0, key0 };
  uint32_t n = key0;

  for (uint32_t s = 0; s < n_spans; s++)
    n += spans[s].n;
  if (n > n_keys)
    abort ();
  upm_kv_packed_init (n_keys, n_head, hd, buf, out);
  p.v = (float *)out->v;
  p.ld = out->ld;
  upm_parallel_for (n_head, pack_task, &p);
}

static void
kern_kv_pack (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t hd, float *buf, UpmKvPacked *out)
{
  uint32_t n = 0;

  for (uint32_t s = 0; s < n_spans; s++)
    n += spans[s].n;
  kern_kv_pack_at (spans, n_spans, n_head, hd, n, 0, buf, out);
}

/* Element i of packed keys or values: float, or bfloat16 (BF). */
UPM_INLINE float
kv_at (const int BF, const void *p, size_t i)
{
  return BF ? bf16_to_f32 (((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

#ifdef __AVX2__
/* Elements [i, i + 8) of packed keys or values as floats: bfloat16 (BF)
 * widened in the register (half the bytes from memory). */
UPM_INLINE __m256
kv_load8 (const int BF, const void *p, size_t i)
{
  if (BF)
    return _mm256_castsi256_ps (
        _mm256_slli_epi32 (_mm256_cvtepu16_epi32 (_mm_loadu_si128 (
                               (const __m128i *)((const uint16_t *)p + i))),
            16));
  return _mm256_loadu_ps ((const float *)p + i);
}
#endif

/* s[i][16 t ..] = qp_i . k for the first n_tiles 16-key tiles (float or,
 * BF, bfloat16 keys). */
UPM_INLINE void
qk_tile (const int MR, const int BF, const float *qp, uint32_t hd,
    const void *kt, uint32_t n_tiles, float *s, size_t lds)
{
#ifdef __AVX2__
  for (uint32_t t = 0; t < n_tiles; t++)
    {
      const size_t kc = (size_t)t * hd * 16;
      __m256 acc[ATT_MR][2];
#pragma GCC unroll 6
      for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps ();
      for (uint32_t c = 0; c < hd; c++)
        {
          const __m256 k0 = kv_load8 (BF, kt, kc + (size_t)c * 16);
          const __m256 k1 = kv_load8 (BF, kt, kc + (size_t)c * 16 + 8);
#pragma GCC unroll 6
          for (int i = 0; i < MR; i++)
            {
              const __m256 q = _mm256_broadcast_ss (qp + (size_t)i * hd + c);
              acc[i][0] = _mm256_fmadd_ps (q, k0, acc[i][0]);
              acc[i][1] = _mm256_fmadd_ps (q, k1, acc[i][1]);
            }
        }
#pragma GCC unroll 6
      for (int i = 0; i < MR; i++)
        {
          _mm256_storeu_ps (s + (size_t)i * lds + t * 16, acc[i][0]);
          _mm256_storeu_ps (s + (size_t)i * lds + t * 16 + 8, acc[i][1]);
        }
    }
#else
  for (uint32_t t = 0; t < n_tiles; t++)
    for (int i = 0; i < MR; i++)
      for (int l = 0; l < 16; l++)
        {
          float a = 0.0f;
          for (uint32_t c = 0; c < hd; c++)
            a += qp[(size_t)i * hd + c]
                 * kv_at (BF, kt, (size_t)t * hd * 16 + c * 16 + l);
          s[(size_t)i * lds + t * 16 + l] = a;
        }
#endif
}

/* Keys per block of the fused softmax/PV loop: a block of probabilities
 * (ATT_MR rows) stays in L1 while the value column blocks stream by. */
#define PV_JBLK 256

/* For rows i < MR: p[i][j] = exp(s[i][j] - mx[i]) for j < vis[i] (0 for
 * vis[i] <= j < nk), computed in place block by block and summed into
 * sum[i]; ot[i][0..hdp) = sum_j p[i][j] v[j] over keys [0, nk), not
 * normalised. */
UPM_INLINE void
pv_tile (const int MR, const int BF, float *s, size_t lds, const float *mx,
    const uint32_t *vis, uint32_t nk, const void *vh, uint32_t ld, uint32_t hd,
    double *sum, float *ot)
{
  const uint32_t hdp = head_dim_padded (hd);

  memset (ot, 0, (size_t)MR * hdp * sizeof (float));
  for (uint32_t j0 = 0; j0 < nk; j0 += PV_JBLK)
    {
      const uint32_t j1 = MIN_U (nk, j0 + PV_JBLK);
      for (int i = 0; i < MR; i++)
        {
          float *row = s + (size_t)i * lds;
          const uint32_t e = MAX_U (j0, MIN_U (vis[i], j1));
          if (e > j0)
            sum[i] += exp_shifted_sum (row + j0, e - j0, mx[i]);
          if (e < j1)
            memset (row + e, 0, (j1 - e) * sizeof (float));
        }
      for (uint32_t cb = 0; cb * 16 < hdp; cb++)
        {
          const uint32_t w = MIN_U (16u, hdp - cb * 16);
          const size_t vb = (size_t)cb * 16 * ld;
#ifdef __AVX2__
          __m256 acc[ATT_MR][2];
#pragma GCC unroll 6
          for (int i = 0; i < MR; i++)
            {
              acc[i][0] = _mm256_loadu_ps (ot + (size_t)i * hdp + cb * 16);
              acc[i][1] = w == 16 ? _mm256_loadu_ps (
                              ot + (size_t)i * hdp + cb * 16 + 8)
                                  : _mm256_setzero_ps ();
            }
          if (w == 16)
            {
              for (uint32_t j = j0; j < j1; j++)
                {
                  const __m256 v0 = kv_load8 (BF, vh, vb + (size_t)j * 16);
                  const __m256 v1 = kv_load8 (BF, vh, vb + (size_t)j * 16 + 8);
#pragma GCC unroll 6
                  for (int i = 0; i < MR; i++)
                    {
                      const __m256 pj
                          = _mm256_broadcast_ss (s + (size_t)i * lds + j);
                      acc[i][0] = _mm256_fmadd_ps (pj, v0, acc[i][0]);
                      acc[i][1] = _mm256_fmadd_ps (pj, v1, acc[i][1]);
                    }
                }
            }
          else
            {
              for (uint32_t j = j0; j < j1; j++)
                {
                  const __m256 v0 = kv_load8 (BF, vh, vb + (size_t)j * 8);
#pragma GCC unroll 6
                  for (int i = 0; i < MR; i++)
                    {
                      const __m256 pj
                          = _mm256_broadcast_ss (s + (size_t)i * lds + j);
                      acc[i][0] = _mm256_fmadd_ps (pj, v0, acc[i][0]);
                    }
                }
            }
#pragma GCC unroll 6
          for (int i = 0; i < MR; i++)
            {
              _mm256_storeu_ps (ot + (size_t)i * hdp + cb * 16, acc[i][0]);
              if (w == 16)
                _mm256_storeu_ps (
                    ot + (size_t)i * hdp + cb * 16 + 8, acc[i][1]);
            }
#else
          for (int i = 0; i < MR; i++)
            for (uint32_t c = 0; c < w; c++)
              {
                float a = ot[(size_t)i * hdp + cb * 16 + c];
                for (uint32_t j = j0; j < j1; j++)
                  a += s[(size_t)i * lds + j]
                       * kv_at (BF, vh, vb + (size_t)j * w + c);
                ot[(size_t)i * hdp + cb * 16 + c] = a;
              }
#endif
        }
    }
}

#define MR_DISPATCH(MR, CALL)                                                  \
  switch (MR)                                                                  \
    {                                                                          \
    case 1:                                                                    \
      {                                                                        \
        const int M_ = 1;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    case 2:                                                                    \
      {                                                                        \
        const int M_ = 2;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    case 3:                                                                    \
      {                                                                        \
        const int M_ = 3;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    case 4:                                                                    \
      {                                                                        \
        const int M_ = 4;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    case 5:                                                                    \
      {                                                                        \
        const int M_ = 5;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    default:                                                                   \
      {                                                                        \
        const int M_ = 6;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    }

static void
qk_any (uint32_t mr, int bf, const float *qp, uint32_t hd, const void *kt,
    uint32_t n_tiles, float *s, size_t lds)
{
  if (bf)
    {
      MR_DISPATCH (mr, qk_tile (M_, 1, qp, hd, kt, n_tiles, s, lds));
    }
  else
    {
      MR_DISPATCH (mr, qk_tile (M_, 0, qp, hd, kt, n_tiles, s, lds));
    }
}

static void
pv_any (uint32_t mr, int bf, float *s, size_t lds, const float *mx,
    const uint32_t *vis, uint32_t nk, const void *vh, uint32_t ld, uint32_t hd,
    double *sum, float *ot)
{
  if (bf)
    {
      MR_DISPATCH (
          mr, pv_tile (M_, 1, s, lds, mx, vis, nk, vh, ld, hd, sum, ot));
    }
  else
    {
      MR_DISPATCH (
          mr, pv_tile (M_, 0, s, lds, mx, vis, nk, vh, ld, hd, sum, ot));
    }
}

/* o[i][0..hd) = ot[i][0..hd) / sum[i] (0 when nothing was visible). */
static void
store_rows (uint32_t mr, const float *ot, uint32_t hd, const double *sum,
    float *o, size_t ldo)
{
  const uint32_t hdp = head_dim_padded (hd);
  for (uint32_t i = 0; i < mr; i++)
    {
      const float inv = sum[i] > 0.0 ? (float)(1.0 / sum[i]) : 0.0f;
      for (uint32_t c = 0; c < hd; c++)
        o[(size_t)i * ldo + c] = ot[(size_t)i * hdp + c] * inv;
    }
}

typedef struct
{
  const float *q;
  uint32_t ldq, n_q;
  const UpmKvPacked *kv;
  uint32_t n_head, hd;
  uint32_t causal_from, key_offset;
  float *out;
  uint32_t ldo;
  uint32_t n_qblocks;
  float scale;
} AttJob;

static void
att_task (void *arg, uint32_t task)
{
  const AttJob *a = arg;
  const uint32_t h = task / a->n_qblocks, qb = task % a->n_qblocks;
  const uint32_t hd = a->hd, ld = a->kv->ld, n_keys = a->kv->n;
  const uint32_t hdp = head_dim_padded (hd);
  const float *kt = a->kv->kt + (size_t)h * ld * hd;
  const float *vh = a->kv->v + (size_t)h * ld * hdp;
  const uint32_t q0 = qb * ATT_QBLOCK;
  const uint32_t q1 = MIN_U (a->n_q, q0 + ATT_QBLOCK);
  float *s = upm_thread_scratch (
      UPM_SCRATCH_SCORES, (size_t)ATT_MR * (ld + hd + hdp));
  float *qp = s + (size_t)ATT_MR * ld;
  float *ot = qp + (size_t)ATT_MR * hd;
  float mx[ATT_MR];
  uint32_t vis[ATT_MR];
  double sum[ATT_MR];

  if (!s)
    abort ();
  for (uint32_t r0 = q0; r0 < q1; r0 += ATT_MR)
    {
      const uint32_t mr = MIN_U ((uint32_t)ATT_MR, q1 - r0);
      uint32_t vmax = 0;
      for (uint32_t i = 0; i < mr; i++)
        {
          const float *qr = a->q + (size_t)(r0 + i) * a->ldq + (size_t)h * hd;
          for (uint32_t c = 0; c < hd; c++)
            qp[(size_t)i * hd + c] = qr[c] * a->scale;
          vis[i] = visible_keys (r0 + i, n_keys, a->causal_from, a->key_offset);
          vmax = MAX_U (vmax, vis[i]);
          sum[i] = 0.0;
        }
      if (vmax > 0)
        {
          qk_any (mr, 0, qp, hd, kt, (vmax + 15) / 16, s, ld);
          for (uint32_t i = 0; i < mr; i++)
            mx[i] = vis[i] ? max_of (s + (size_t)i * ld, vis[i]) : 0.0f;
          pv_any (mr, 0, s, ld, mx, vis, vmax, vh, ld, hd, sum, ot);
        }
      else
        {
          memset (ot, 0, (size_t)mr * hdp * sizeof (float));
        }
      store_rows (mr, ot, hd, sum,
          a->out + (size_t)r0 * a->ldo + (size_t)h * hd, a->ldo);
    }
}

static void
kern_attention_packed (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvPacked *kv, uint32_t n_head, uint32_t hd, uint32_t causal_from,
    uint32_t key_offset, float *out, uint32_t ldo)
{
  AttJob a = { q, ldq, n_q, kv, n_head, hd, causal_from, key_offset, out, ldo,
    (n_q + ATT_QBLOCK - 1) / ATT_QBLOCK, 1.0f / sqrtf ((float)hd) };

  if (n_q == 0)
    return;
  upm_parallel_for (n_head * a.n_qblocks, att_task, &a);
}

static void
kern_attention (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t head_dim, uint32_t causal_from, uint32_t key_offset, float *out,
    uint32_t ldo, float *scratch)
{
  uint32_t n_keys = 0;
  UpmKvPacked kv;
  float *buf;

  (void)scratch;
  if (n_q == 0)
    return;
  for (uint32_t s = 0; s < n_spans; s++)
    n_keys += spans[s].n;
  buf = upm_thread_scratch (
      UPM_SCRATCH_PACK, upm_kv_packed_size (n_keys, n_head, head_dim));
  if (!buf)
    abort ();
  kern_kv_pack (spans, n_spans, n_head, head_dim, buf, &kv);
  kern_attention_packed (
      q, ldq, n_q, &kv, n_head, head_dim, causal_from, key_offset, out, ldo);
}

/* ------------------------------------------------------ grouped decoding */

typedef struct
{
  const float *q;
  uint32_t ldq;
  /* the shared keys and values (UpmKvPacked's layout), float or (bf16)
   * bfloat16 */
  const void *sh_kt, *sh_v;
  uint32_t n_sh, sh_ld;
  int bf16;
  const UpmAttnGroup *groups;
  const uint32_t *row_group, *row_local;
  uint32_t n_rows, max_extra, n_head, hd;
  uint32_t causal_from, key_offset;
  float *out;
  uint32_t ldo;
  float scale;
} GroupJob;

static float
dot (const float *a, const float *b, uint32_t n)
{
  uint32_t i = 0;
  float s = 0.0f;
#ifdef __AVX2__
  __m256 acc = _mm256_setzero_ps ();
  for (; i + 8 <= n; i += 8)
    acc = _mm256_fmadd_ps (
        _mm256_loadu_ps (a + i), _mm256_loadu_ps (b + i), acc);
  s = hsum8 (acc);
#endif
  for (; i < n; i++)
    s += a[i] * b[i];
  return s;
}

static void
group_task (void *arg, uint32_t h)
{
  const GroupJob *g = arg;
  const uint32_t hd = g->hd, ld = g->sh_ld, n_sh = g->n_sh;
  const uint32_t hdp = head_dim_padded (hd);
  const size_t lds = ld + round_up (g->max_extra, 8);
  const size_t esz = g->bf16 ? sizeof (uint16_t) : sizeof (float);
  const void *kt = (const char *)g->sh_kt + (size_t)h * ld * hd * esz;
  const void *vh = (const char *)g->sh_v + (size_t)h * ld * hdp * esz;
  float *s = upm_thread_scratch (UPM_SCRATCH_SCORES, ATT_MR * (lds + hd + hdp));
  float *qp = s + ATT_MR * lds;
  float *ot = qp + (size_t)ATT_MR * hd;
  float mx[ATT_MR];
  uint32_t vis[ATT_MR], vis_sh[ATT_MR];
  double sum[ATT_MR];

  if (!s)
    abort ();
  for (uint32_t r0 = 0; r0 < g->n_rows; r0 += ATT_MR)
    {
      const uint32_t mr = MIN_U ((uint32_t)ATT_MR, g->n_rows - r0);
      for (uint32_t i = 0; i < mr; i++)
        {
          const float *qr = g->q + (size_t)(r0 + i) * g->ldq + (size_t)h * hd;
          for (uint32_t c = 0; c < hd; c++)
            qp[(size_t)i * hd + c] = qr[c] * g->scale;
        }
      if (n_sh > 0)
        qk_any (mr, g->bf16, qp, hd, kt, ld / 16, s, lds);
      for (uint32_t i = 0; i < mr; i++)
        {
          const UpmAttnGroup *grp = &g->groups[g->row_group[r0 + i]];
          float *row = s + (size_t)i * lds;
          uint32_t e = n_sh;
          for (uint32_t sp = 0; sp < grp->n_spans; sp++)
            for (uint32_t k = 0; k < grp->spans[sp].n; k++, e++)
              row[e] = dot (qp + (size_t)i * hd,
                  grp->spans[sp].k + (size_t)k * grp->spans[sp].ld
                      + (size_t)h * hd,
                  hd);
          vis[i] = visible_keys (
              g->row_local[r0 + i], e, g->causal_from, g->key_offset);
          vis_sh[i] = MIN_U (vis[i], n_sh);
          mx[i] = vis[i] ? max_of (row, vis[i]) : 0.0f;
          sum[i] = 0.0;
        }
      if (n_sh > 0)
        pv_any (mr, g->bf16, s, lds, mx, vis_sh, n_sh, vh, ld, hd, sum, ot);
      else
        memset (ot, 0, (size_t)mr * hdp * sizeof (float));
      /* The group's own keys after the shared ones. */
      for (uint32_t i = 0; i < mr; i++)
        {
          const UpmAttnGroup *grp = &g->groups[g->row_group[r0 + i]];
          const float *row = s + (size_t)i * lds;
          float *oi = ot + (size_t)i * hdp;
          uint32_t e = n_sh;
          for (uint32_t sp = 0; sp < grp->n_spans; sp++)
            for (uint32_t k = 0; k < grp->spans[sp].n && e < vis[i]; k++, e++)
              {
                const float p = expf (row[e] - mx[i]);
                const float *v = grp->spans[sp].v
                                 + (size_t)k * grp->spans[sp].ld
                                 + (size_t)h * hd;
                sum[i] += p;
                for (uint32_t c = 0; c < hd; c++)
                  oi[c] += p * v[c];
              }
        }
      store_rows (mr, ot, hd, sum,
          g->out + (size_t)r0 * g->ldo + (size_t)h * hd, g->ldo);
    }
}

/* The grouped decoding of kern_attention_groups on shared keys and
 * values of either element type (GroupJob's). */
static void
groups_run (GroupJob *j, const UpmAttnGroup *groups, uint32_t n_groups)
{
  uint32_t n_rows = 0, max_extra = 0;

  for (uint32_t g = 0; g < n_groups; g++)
    {
      uint32_t extra = 0;
      for (uint32_t s = 0; s < groups[g].n_spans; s++)
        extra += groups[g].spans[s].n;
      max_extra = MAX_U (max_extra, extra);
      n_rows += groups[g].n_rows;
    }
  if (n_rows == 0)
    return;
  uint32_t *map = malloc (2 * (size_t)n_rows * sizeof (uint32_t));
  if (!map)
    abort ();
  for (uint32_t g = 0, r = 0; g < n_groups; g++)
    for (uint32_t i = 0; i < groups[g].n_rows; i++, r++)
      {
        map[r] = g;
        map[n_rows + r] = i;
      }
  j->groups = groups;
  j->row_group = map;
  j->row_local = map + n_rows;
  j->n_rows = n_rows;
  j->max_extra = max_extra;
  upm_parallel_for (j->n_head, group_task, j);
  free (map);
}

static void
kern_attention_groups (const float *q, uint32_t ldq, const UpmKvPacked *shared,
    const UpmAttnGroup *groups, uint32_t n_groups, uint32_t n_head, uint32_t hd,
    uint32_t causal_from, uint32_t key_offset, float *out, uint32_t ldo)
{
  GroupJob j = { .q = q,
    .ldq = ldq,
    .sh_kt = shared->kt,
    .sh_v = shared->v,
    .n_sh = shared->n,
    .sh_ld = shared->ld,
    .n_head = n_head,
    .hd = hd,
    .causal_from = causal_from,
    .key_offset = key_offset,
    .out = out,
    .ldo = ldo,
    .scale = 1.0f / sqrtf ((float)hd) };

  groups_run (&j, groups, n_groups);
}

static void
kern_attention_groups_bf16 (const float *q, uint32_t ldq,
    const UpmKvPacked16 *shared, const UpmAttnGroup *groups, uint32_t n_groups,
    uint32_t n_head, uint32_t hd, uint32_t causal_from, uint32_t key_offset,
    float *out, uint32_t ldo)
{
  GroupJob j = { .q = q,
    .ldq = ldq,
    .sh_kt = shared->kt,
    .sh_v = shared->v,
    .n_sh = shared->n,
    .sh_ld = shared->ld,
    .bf16 = 1,
    .n_head = n_head,
    .hd = hd,
    .causal_from = causal_from,
    .key_offset = key_offset,
    .out = out,
    .ldo = ldo,
    .scale = 1.0f / sqrtf ((float)hd) };

  groups_run (&j, groups, n_groups);
}

typedef struct
{
  const float *src;
  uint16_t *dst;
  size_t n, chunk;
} RoundJob;

static void
round_task (void *arg, uint32_t t)
{
  const RoundJob *r = arg;
  const size_t a = (size_t)t * r->chunk, b = MIN_U (r->n, a + r->chunk);

  if (a < b)
    round_row_bits (r->src + a, (uint32_t)(b - a), r->dst + a);
}

/* Packed keys/values rounded to bfloat16 in the same layout (the element
 * offsets of UpmKvPacked hold in *out). */
static void
kern_kv_packed_to_bf16 (const UpmKvPacked *kv, uint32_t n_head, uint32_t hd,
    uint16_t *buf, UpmKvPacked16 *out)
{
  const size_t n = upm_kv_packed_size (kv->n, n_head, hd);
  const size_t v_off = (size_t)(kv->v - kv->kt);
  RoundJob r = { kv->kt, buf, n, 1u << 16 };

  upm_parallel_for ((uint32_t)((n + r.chunk - 1) / r.chunk), round_task, &r);
  *out = (UpmKvPacked16){ buf, buf + v_off, kv->n, kv->ld };
}
