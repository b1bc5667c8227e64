/* upm-quant.h: weight matrices quantised to int8 per output row.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The format (the same in memory, quantised at load, and in a model file
 * of dtype q8): W [n_out, n_in] row-major as the float linears, each row r
 * (one output channel) symmetric with its own scale:
 *   scale[r] = max_k |w[r][k]| / 127        (float)
 *   q[r][k]  = nearest (w[r][k] / scale[r])  clamped to [-127, 127],
 *              ties to even (nearbyintf, numpy.round); 0 where scale is 0,
 * so that w[r][k] ~ scale[r] * q[r][k]. -128 never occurs (the VNNI kernels
 * rely on |q| <= 127).
 */
#ifndef UPM_QUANT_H
#define UPM_QUANT_H

#include <stddef.h>
#include <stdint.h>

typedef struct
{
  const int8_t *q;    /* [n_out, n_in], row-major */
  const float *scale; /* [n_out] */
  uint32_t n_out, n_in;
} UpmQ8Matrix;

/* A new matrix (q and scale in the same allocation, q 64-byte aligned)
 * quantised from w [n_out, n_in] (rows n_in floats apart), rows in
 * parallel over the pool; NULL when memory runs out. Free with
 * upm_q8_free. */
UpmQ8Matrix *upm_q8_quantize (const float *w, uint32_t n_out, uint32_t n_in);
/* Frees a matrix of upm_q8_quantize (NULL is ignored); not for views on
 * file data. */
void upm_q8_free (UpmQ8Matrix *m);

/* One row: q[n] and *scale from w[n] (the rule above). */
void upm_q8_quantize_row (const float *w, uint32_t n, int8_t *q, float *scale);

/* Bytes of a matrix of upm_q8_quantize (for memory accounting). */
size_t upm_q8_size (uint32_t n_out, uint32_t n_in);

#endif /* UPM_QUANT_H */
