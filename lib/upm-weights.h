/* upm-weights.h: the stored weights of a linear in their file types
 * (upm-weights.c): F32, F16, BF16 and I8 with per-row scales, read as
 * float a row at a time, mixed (merged experts), or widened once. Uses
 * the model and the kernels.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_WEIGHTS_H
#define UPM_WEIGHTS_H

#include "upm-model.h"
#include "upm-ops.h"
#include "upm-quant.h"

G_BEGIN_DECLS

/* Bytes of one expert's stored weights (the whole matrix when dense). */
size_t upm_linear_stored_bytes (const UpmLinear *lin);
/* Expert @expert's stored weights in the mapping. */
const void *upm_linear_stored (const UpmLinear *lin, uint32_t expert);

/* Rows [row0, row0 + n) of expert @expert's W as float (n x n_in). */
void upm_linear_rows_f32 (const UpmLinear *lin, uint32_t expert, uint32_t row0,
    uint32_t n, float *out);

/* out = a0 W_e0 + a1 W_e1 [n_out, n_in]: two experts merged, read a row
 * at a time from their stored type (in parallel over the pool). */
void upm_linear_mix2_f32 (const UpmLinear *lin, uint32_t e0, float a0,
    uint32_t e1, float a1, float *out);

/* The float weights [n_expert or 1][n_out][n_in]: the mapping of an F32
 * file, else a copy widened on first use and kept with the model (the
 * fp32 and plain paths on typed files; the bf16 path never asks). */
const float *upm_linear_f32 (UpmModel *model, const UpmLinear *lin);

/* A view of expert @expert's I8 weights and scales in the mapping (no
 * copy, no re-quantisation) for the int8 kernels; FALSE with an error
 * when the linear is not I8 or the matrix holds a -128 (the format keeps
 * |q| <= 127, which the VNNI kernels rely on). Reads the whole matrix
 * once: call when the matrix is about to be used. */
gboolean upm_linear_q8_view (const UpmModel *model, const UpmLinear *lin,
    uint32_t expert, UpmQ8Matrix *out, GError **error);

/* Bytes of a packed copy of upm_q8_pack_owned. */
size_t upm_q8_packed_owned_size (uint32_t n_out, uint32_t n_in);
/* @m packed for upm_linear_q8q8 into one new allocation that holds the
 * packed weights and a copy of the scales, so that @m (or the file pages
 * of a view) need not stay; FALSE, nothing allocated, when memory runs
 * out. Free with g_free (out->w). */
gboolean upm_q8_pack_owned (const UpmQ8Matrix *m, UpmQ8Packed *out);

/* upm_q8_quantize's matrix of w [n_out, n_in] packed as upm_q8_pack_owned
 * packs it (the same bytes), made a block of rows at a time so that no
 * whole unpacked copy exists; with @drop_mapped, each block's float pages
 * (a file mapping) leave the resident set once read. FALSE, nothing
 * allocated, when memory runs out. */
gboolean upm_q8_pack_float (const float *w, uint32_t n_out, uint32_t n_in,
    gboolean drop_mapped, UpmQ8Packed *out);

/* Token @id's embedding row as float (D values). */
void upm_model_token_row (const UpmModel *model, uint32_t id, float *out);

G_END_DECLS
#endif /* UPM_WEIGHTS_H */
