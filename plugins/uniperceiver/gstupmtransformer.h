/* gstupmtransformer.h: embeddings -> final hidden state of <SPE>.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_TRANSFORMER_H__
#define __GST_UPM_TRANSFORMER_H__

#include <gst/gst.h>
#include "gstupmmodelfilter.h"

G_BEGIN_DECLS

#define GST_TYPE_UPM_TRANSFORMER (gst_upm_transformer_get_type ())
G_DECLARE_FINAL_TYPE (GstUpmTransformer, gst_upm_transformer, GST,
    UPM_TRANSFORMER, GstUpmModelFilter)

/* The task property: a task, or follow the task downstream asks for. */
typedef enum
{
  GST_UPM_TRANSFORMER_TASK_AUTO,
  GST_UPM_TRANSFORMER_TASK_CLASSIFY,
  GST_UPM_TRANSFORMER_TASK_RETRIEVE,
  GST_UPM_TRANSFORMER_TASK_CAPTION,
} GstUpmTransformerTask;

#define GST_TYPE_UPM_TRANSFORMER_TASK (gst_upm_transformer_task_get_type ())
GType gst_upm_transformer_task_get_type (void);

/* Every hidden buffer also carries a custom meta (gst_meta_register_custom)
 * of this name whose structure holds "frames" (guint: frames of the clip,
 * 0 for a text), "tokens" (guint: rows of the input sequence, <SPE>
 * included) and "precision" (string: the engine precision the sequence ran
 * in, upm_precision_name). upmhead reads it with gst_buffer_get_custom_meta()
 * to pick the logit scale of a clip as upm-run does (one frame: image scale).
 */
#define GST_UPM_CLIP_META_NAME "GstUpmClipMeta"

G_END_DECLS
#endif /* __GST_UPM_TRANSFORMER_H__ */
