/* upm-context.c: UpmContext, the per-stream state: the model it runs,
 * the path (fast or plain), its scratch buffers, the dynamic routing state
 * of the layer being run, and the caption decoder's state (freed through
 * the destroy notify the caption module sets). Also the library's thread
 * count.
 *
 * Uses: the scratch (upm-scratch.c), the routing state of the experts
 * (upm-moe.c), the model, the thread pool (upm-ops.h). The heads build a
 * context of their own to encode texts, so the context does not use them,
 * nor the caption decoder (no symbol of either).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-context.h"

#include "upm-moe.h"
#include "upm-ops.h"

UpmContext *
upm_context_new (UpmModel *model)
{
  UpmContext *ctx = g_new0 (UpmContext, 1);
  ctx->model = upm_model_ref (model);
  ctx->path = UPM_PATH_FAST;
  ctx->row_chunk = UPM_ROW_CHUNK;
  ctx->ff_block = UPM_FF_BLOCK;
  return ctx;
}

void
upm_context_free (UpmContext *ctx)
{
  if (!ctx)
    return;
  upm_scratch_clear (&ctx->scratch);
  upm_moe_ctx_clear (ctx);
  if (ctx->caption)
    ctx->caption_free (ctx->caption);
  upm_model_unref (ctx->model);
  g_free (ctx);
}

UpmModel *
upm_context_model (UpmContext *ctx)
{
  return ctx->model;
}

void
upm_context_set_path (UpmContext *ctx, UpmPath path)
{
  ctx->path = path;
}

void
upm_set_num_threads (int n_threads)
{
  upm_threads_set (n_threads);
}
