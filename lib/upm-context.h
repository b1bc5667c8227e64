/* upm-context.h: UpmContext, the per-stream state every layer of the
 * engine takes (created and freed by upm-context.c). Its fields are owned
 * by the modules named below; this header only declares the struct, so it
 * includes nothing above the model, the scratch and the routing record.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_CONTEXT_H
#define UPM_CONTEXT_H

#include "upm-batcher.h"
#include "upm-model.h"
#include "upm-routing.h"
#include "upm-scratch.h"

G_BEGIN_DECLS

/* Rows per chunk (at most) of a chunked layer: its scratch is a chunk's
 * rows, not the sequence's, while the GEMMs stay large. */
#define UPM_ROW_CHUNK 256
/* The FFN of a chunked layer runs over blocks of this many of its hidden
 * units (the second linear sums the blocks' products). */
#define UPM_FF_BLOCK 768

/* The caption decoder's per-context state (upm-caption.c). */
typedef struct _UpmCaptionState UpmCaptionState;

struct _UpmContext
{
  UpmModel *model;
  UpmPath path;
  /* What upm_context_set_precision asked (AUTO: the model's default) and
   * what that resolves to (FP32, BF16 or INT8; read by upm-moe.c). */
  UpmPrecision precision_asked, precision;
  /* Set by the caption decoder during a fast decode step: INT8 runs its
   * linears on int8 weights (upm-moe.c). */
  gboolean decoding;
  /* The encoder's chunked layers (upm-encoder.c). */
  uint32_t row_chunk; /* UPM_ROW_CHUNK (tests set fewer) */
  uint32_t ff_block;  /* UPM_FF_BLOCK (tests set fewer) */
  UpmScratch scratch;
  /* Set and freed (by caption_free) by the caption decoder. */
  UpmCaptionState *caption;
  GDestroyNotify caption_free;
  /* Dynamic routing (upm-moe.c): the scope of the current forward (set by
   * callers of the layer functions), the current layer's per-row decisions
   * of each gate (made by the first linear of the gate, used by the
   * second). */
  const UpmRouteScope *scope;
  UpmTokenRoute *troute[UPM_N_GATES];
  size_t troute_cap[UPM_N_GATES];
  /* Where dynamic decisions are recorded (NULL: nowhere): counts of the
   * valid rows >= rec_from, per-token runs when rec_runs. */
  UpmRouting *rec;
  uint32_t rec_from;
  gboolean rec_runs;
  /* Batching (upm_context_set_batch_wait): the model's batcher while
   * batch_wait_us > 0, else NULL; the kinds of jobs it submitted. */
  UpmBatcher *batcher;
  UpmBatchMember batch_member;
  gint64 batch_wait_us;
};

/* NULL (and an error) when the allocation is refused. */
static inline float *
upm_ctx_buf (UpmContext *ctx, UpmBufSlot slot, size_t n_floats, GError **error)
{
  return upm_scratch_get (&ctx->scratch, slot, n_floats, error);
}

G_END_DECLS
#endif /* UPM_CONTEXT_H */
