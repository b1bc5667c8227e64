/* upm-weights.c: the stored weights of a linear in their file types.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A file may store the large matrices (docs/model-format.md) as F32, F16,
 * BF16, or I8 with one F32 scale per output row. Nothing here widens a
 * whole model: the bf16 path packs each matrix from its stored rows, the
 * merged experts are mixed a row at a time, and only the fp32 and plain
 * paths on a typed file ask for a float copy of a matrix (on first use).
 *
 * Uses: the model (upm-model.h), the GGUF half floats, the kernels'
 * mix2 (upm-ops.h) and the thread pool.
 */
#include "upm-weights.h"

#include "upm-ops.h"
#include "upm-threads.h"

#include <string.h>

/* Rows per pool task. */
#define ROWS_PER_TASK 64u

static size_t
dtype_bytes (UpmDType type)
{
  switch (type)
    {
    case UPM_DTYPE_I8:
      return 1;
    case UPM_DTYPE_F16:
    case UPM_DTYPE_BF16:
      return 2;
    default:
      return 4;
    }
}

size_t
upm_linear_stored_bytes (const UpmLinear *lin)
{
  return (size_t)lin->n_out * lin->n_in * dtype_bytes (lin->dtype);
}

const void *
upm_linear_stored (const UpmLinear *lin, uint32_t expert)
{
  return (const uint8_t *)lin->data + expert * upm_linear_stored_bytes (lin);
}

static void
row_f32 (const UpmLinear *lin, uint32_t expert, uint32_t row, float *out)
{
  const size_t n_in = lin->n_in;
  const size_t at = ((size_t)expert * lin->n_out + row) * n_in;

  switch (lin->dtype)
    {
    case UPM_DTYPE_F16:
      for (size_t j = 0; j < n_in; j++)
        out[j] = upm_f16_to_f32 (((const uint16_t *)lin->data)[at + j]);
      break;
    case UPM_DTYPE_BF16:
      for (size_t j = 0; j < n_in; j++)
        out[j] = upm_bf16_to_f32 (((const uint16_t *)lin->data)[at + j]);
      break;
    case UPM_DTYPE_I8:
      {
        const int8_t *q = (const int8_t *)lin->data + at;
        const float s = lin->scale[(size_t)expert * lin->n_out + row];
        for (size_t j = 0; j < n_in; j++)
          out[j] = s * (float)q[j];
      }
      break;
    default:
      memcpy (out, (const float *)lin->data + at, n_in * sizeof (float));
      break;
    }
}

void
upm_linear_rows_f32 (const UpmLinear *lin, uint32_t expert, uint32_t row0,
    uint32_t n, float *out)
{
  for (uint32_t i = 0; i < n; i++)
    row_f32 (lin, expert, row0 + i, out + (size_t)i * lin->n_in);
}

typedef struct
{
  const UpmLinear *lin;
  uint32_t e0, e1;
  float a0, a1;
  float *out;
} Mix2Job;

static void
mix2_task (void *arg, uint32_t task)
{
  const Mix2Job *j = arg;
  const uint32_t n_in = j->lin->n_in;
  const uint32_t r0 = task * ROWS_PER_TASK;
  const uint32_t r1 = MIN (r0 + ROWS_PER_TASK, j->lin->n_out);
  float *tmp = g_new (float, n_in);

  for (uint32_t r = r0; r < r1; r++)
    {
      float *dst = j->out + (size_t)r * n_in;
      row_f32 (j->lin, j->e0, r, dst);
      row_f32 (j->lin, j->e1, r, tmp);
      upm_mix2 (dst, j->a0, tmp, j->a1, n_in, dst);
    }
  g_free (tmp);
}

void
upm_linear_mix2_f32 (const UpmLinear *lin, uint32_t e0, float a0, uint32_t e1,
    float a1, float *out)
{
  const size_t nw = (size_t)lin->n_out * lin->n_in;
  Mix2Job j = { lin, e0, e1, a0, a1, out };

  if (lin->dtype == UPM_DTYPE_F32)
    {
      const float *w = lin->data;
      upm_mix2 (w + e0 * nw, a0, w + e1 * nw, a1, nw, out);
      return;
    }
  upm_parallel_for (
      (lin->n_out + ROWS_PER_TASK - 1) / ROWS_PER_TASK, mix2_task, &j);
}

typedef struct
{
  const UpmLinear *lin;
  float *out;
} WidenJob;

static void
widen_task (void *arg, uint32_t task)
{
  const WidenJob *j = arg;
  const uint32_t n_out = j->lin->n_out;
  const uint32_t e = task / ((n_out + ROWS_PER_TASK - 1) / ROWS_PER_TASK);
  const uint32_t r0
      = (task % ((n_out + ROWS_PER_TASK - 1) / ROWS_PER_TASK)) * ROWS_PER_TASK;
  const uint32_t n = MIN (ROWS_PER_TASK, n_out - r0);

  upm_linear_rows_f32 (
      j->lin, e, r0, n, j->out + ((size_t)e * n_out + r0) * j->lin->n_in);
}

const float *
upm_linear_f32 (UpmModel *model, const UpmLinear *lin)
{
  UpmLinear *l = (UpmLinear *)lin;
  const float *w = g_atomic_pointer_get (&l->w);
  const uint32_t n_mat = MAX (lin->n_expert, 1u);

  if (w)
    return w;
  g_mutex_lock (&model->lock);
  w = g_atomic_pointer_get (&l->w);
  if (!w)
    {
      float *buf = g_new (float, (size_t)n_mat * lin->n_out * lin->n_in);
      WidenJob j = { lin, buf };
      upm_parallel_for (
          n_mat * ((lin->n_out + ROWS_PER_TASK - 1) / ROWS_PER_TASK),
          widen_task, &j);
      /* The stored copy is read again only by the other precisions. */
      upm_release_mapped (lin->data, n_mat * upm_linear_stored_bytes (lin));
      g_atomic_pointer_set (&l->w, buf);
      w = buf;
    }
  g_mutex_unlock (&model->lock);
  return w;
}

gboolean
upm_linear_q8_view (const UpmModel *model, const UpmLinear *lin,
    uint32_t expert, UpmQ8Matrix *out, GError **error)
{
  const size_t n = (size_t)lin->n_out * lin->n_in;
  const int8_t *q;

  if (lin->dtype != UPM_DTYPE_I8 || expert >= MAX (lin->n_expert, 1u))
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "%s: no I8 weights for expert %u (stored as %s)", model->path, expert,
          upm_dtype_name (lin->dtype));
      return FALSE;
    }
  q = upm_linear_stored (lin, expert);
  for (size_t i = 0; i < n; i++)
    if (q[i] == INT8_MIN)
      {
        g_set_error (error, UPM_ERROR, UPM_ERROR_MODEL,
            "%s: an I8 weight matrix holds -128 (row %zu; the format keeps "
            "values in -127..127)",
            model->path, i / lin->n_in);
        return FALSE;
      }
  out->q = q;
  out->scale = lin->scale + (size_t)expert * lin->n_out;
  out->n_out = lin->n_out;
  out->n_in = lin->n_in;
  return TRUE;
}

size_t
upm_q8_packed_owned_size (uint32_t n_out, uint32_t n_in)
{
  return upm_q8_packed_size (n_out, n_in) + (size_t)n_out * sizeof (float);
}

gboolean
upm_q8_pack_owned (const UpmQ8Matrix *m, UpmQ8Packed *out)
{
  /* upm_q8_packed_size is a multiple of 64: the scales stay aligned. */
  const size_t packed = upm_q8_packed_size (m->n_out, m->n_in);
  int8_t *buf = g_try_malloc (upm_q8_packed_owned_size (m->n_out, m->n_in));
  float *scale = (float *)(buf + packed);

  if (!buf)
    return FALSE;
  memcpy (scale, m->scale, (size_t)m->n_out * sizeof (float));
  upm_q8_pack (m, buf, out);
  out->scale = scale;
  return TRUE;
}

/* Rows per block of upm_q8_pack_float: a multiple of a panel's 16
 * outputs, so that each block packs into its own run of panels. */
#define PACK_BLOCK_ROWS 1024u

gboolean
upm_q8_pack_float (const float *w, uint32_t n_out, uint32_t n_in,
    gboolean drop_mapped, UpmQ8Packed *out)
{
  const size_t packed = upm_q8_packed_size (n_out, n_in);
  const uint32_t n_quads = (n_in + 3) / 4;
  int8_t *buf = g_try_malloc (upm_q8_packed_owned_size (n_out, n_in));
  float *scale = (float *)(buf + packed);

  if (!buf)
    return FALSE;
  for (uint32_t r0 = 0; r0 < n_out; r0 += PACK_BLOCK_ROWS)
    {
      const uint32_t n = MIN (PACK_BLOCK_ROWS, n_out - r0);
      const float *rows = w + (size_t)r0 * n_in;
      UpmQ8Matrix *q = upm_q8_quantize (rows, n, n_in);
      UpmQ8Packed part;

      if (!q)
        {
          g_free (buf);
          return FALSE;
        }
      upm_q8_pack (q, buf + (size_t)r0 / 16 * n_quads * 64, &part);
      memcpy (scale + r0, q->scale, (size_t)n * sizeof (float));
      upm_q8_free (q);
      if (drop_mapped)
        upm_release_mapped (rows, (size_t)n * n_in * sizeof (float));
    }
  out->w = buf;
  out->scale = scale;
  out->n_out = n_out;
  out->n_in = n_in;
  out->n_quads = n_quads;
  return TRUE;
}

void
upm_model_token_row (const UpmModel *model, uint32_t id, float *out)
{
  const uint32_t d = model->hp.n_embd;

  if (model->token_embd)
    {
      memcpy (out, model->token_embd + (size_t)id * d, d * sizeof (float));
      return;
    }
  for (uint32_t j = 0; j < d; j++)
    out[j] = upm_f16_to_f32 (model->token_embd_f16[(size_t)id * d + j]);
}
