/* upm-scratch.h: UpmScratch, the growable float buffers of a context, one
 * per slot (upm-scratch.c). Uses GLib only.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_SCRATCH_H
#define UPM_SCRATCH_H

#include "upm.h"

G_BEGIN_DECLS

/* Scratch buffers of a context, grown on demand. The encoder uses the
 * UPM_BUF_ENC_* slots, the caption decoder its own, so that a decoder can
 * call layer functions while holding its buffers. Chunked layers
 * (upm_layer_chunked) need only UPM_BUF_CHUNK besides x and the packed
 * keys/values. */
typedef enum
{
  UPM_BUF_ENC_X,
  UPM_BUF_ENC_QKV,
  UPM_BUF_ENC_ATT,
  UPM_BUF_ENC_KV,  /* packed keys/values of the sequence */
  UPM_BUF_LAYER_H, /* used inside upm_layer_finish */
  UPM_BUF_LAYER_FF,
  UPM_BUF_LAYER_TMP,
  UPM_BUF_CHUNK, /* a chunk's scratch, calling thread */
  UPM_BUF_CAP_X,
  UPM_BUF_CAP_QKV,
  UPM_BUF_CAP_ATT,
  UPM_BUF_CAP_SCORES,
  UPM_BUF_CAP_LOGITS,
  UPM_BUF_CAP_FEAT,
  UPM_BUF_MOE_X, /* rows of one expert, gathered (dynamic) */
  UPM_BUF_MOE_Y,
  UPM_N_BUFS
} UpmBufSlot;

typedef struct
{
  float *bufs[UPM_N_BUFS];
  size_t caps[UPM_N_BUFS];
} UpmScratch;

/* The buffer of @slot, grown to n_floats at least (its contents are lost
 * when it grows). NULL (and an error) when the allocation is refused. */
float *upm_scratch_get (
    UpmScratch *scratch, UpmBufSlot slot, size_t n_floats, GError **error);
/* Free every buffer (the scratch may be used again). */
void upm_scratch_clear (UpmScratch *scratch);

/* Scratches shared by whoever runs a job for others (a batch of several
 * streams' clips): a batch's buffers are sized by the batch, and kept in a
 * context they would stay that size in every context that ever led one. A
 * pool keeps one set per batch running at a time instead. Not locked:
 * guard it (the model's lock). */
typedef GPtrArray UpmScratchPool;

UpmScratchPool *upm_scratch_pool_new (void);
/* A scratch of the pool (or a new, empty one); give it back when done. */
UpmScratch *upm_scratch_pool_take (UpmScratchPool *pool);
void upm_scratch_pool_give (UpmScratchPool *pool, UpmScratch *scratch);
/* Frees the pool and the scratches in it. */
void upm_scratch_pool_free (UpmScratchPool *pool);

G_END_DECLS
#endif /* UPM_SCRATCH_H */
