/* gstupmcommon.h: what the uniperceiver elements share: caps and buffer
 * layouts, the task enum, the shared model, the internal prefix meta.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Data flow and buffer layouts (all little-endian, tightly packed):
 *
 *   upmtokenizer   video/x-raw  -> application/x-upm-patches
 *                    float32 [frames][grid*grid][3*P*P], one clip per buffer,
 *                    PTS = first frame, duration = clip span
 *                  text/x-raw   -> application/x-upm-tokens
 *                    int32 token ids of one text (no <SPE>, ends with EOT)
 *   upmencoder     -> application/x-upm-embeddings
 *                    float32 [1 + n_tokens][D], row 0 = <SPE>
 *   upmtransformer -> application/x-upm-hidden
 *                    float32 [1][D]: the final hidden state of <SPE>
 *                    (task caption: plus a GstUpmPrefixMeta holding the
 *                    clip's per-layer keys/values by reference)
 *                    + GstUpmRoutingMeta
 *   upmhead        -> text/x-raw,format=utf8 (+ result/caption/routing metas,
 *                    element message "upm-result" on the bus)
 *
 * The task travels in the caps: the head's sink caps carry task=..., and the
 * transformer picks the attribute rows (model-spec §3.3) from it.
 */
#ifndef __GST_UPM_COMMON_H__
#define __GST_UPM_COMMON_H__

#include <gst/gst.h>
#include "upm.h"
#include "upmmeta.h"
#include "gstupmmodelslot.h"

G_BEGIN_DECLS

#define GST_UPM_PATCHES_CAPS                                                   \
  "application/x-upm-patches, "                                                \
  "modality = (string) { video, image }, "                                     \
  "frames = (int) [ 1, 64 ], "                                                 \
  "tokens-per-frame = (int) [ 1, MAX ], "                                      \
  "patch-dim = (int) [ 1, MAX ]"

#define GST_UPM_TOKENS_CAPS "application/x-upm-tokens, modality = (string) text"

#define GST_UPM_EMBEDDINGS_CAPS                                                \
  "application/x-upm-embeddings, "                                             \
  "modality = (string) { video, image, text }, "                               \
  "dim = (int) [ 1, MAX ]"

#define GST_UPM_HIDDEN_CAPS                                                    \
  "application/x-upm-hidden, "                                                 \
  "modality = (string) { video, image, text }, "                               \
  "task = (string) { classify, retrieve, caption }, "                          \
  "dim = (int) [ 1, MAX ]"

/* ------------------------------------------------------------------ task */

typedef enum
{
  GST_UPM_TASK_CLASSIFY,
  GST_UPM_TASK_RETRIEVE,
  GST_UPM_TASK_CAPTION,
} GstUpmTask;

#define GST_TYPE_UPM_TASK (gst_upm_task_get_type ())
GType gst_upm_task_get_type (void);
const gchar *gst_upm_task_nick (GstUpmTask task);
gboolean gst_upm_task_from_nick (const gchar *nick, GstUpmTask *task);

/* Attribute row of the input sequence for a task and modality. */
UpmAttr gst_upm_task_input_attr (GstUpmTask task, const gchar *modality);

/* -------------------------------------------------- caption prefix (internal)
 */

typedef struct
{
  GstMeta meta;
  UpmPrefix *prefix; /* reference owned by the meta */
  UpmModel *model;   /* reference owned by the meta */
} GstUpmPrefixMeta;

GType gst_upm_prefix_meta_api_get_type (void);
const GstMetaInfo *gst_upm_prefix_meta_get_info (void);
#define GST_UPM_PREFIX_META_API_TYPE (gst_upm_prefix_meta_api_get_type ())
#define gst_buffer_get_upm_prefix_meta(b)                                      \
  ((GstUpmPrefixMeta *)gst_buffer_get_meta ((b), GST_UPM_PREFIX_META_API_TYPE))
GstUpmPrefixMeta *gst_buffer_add_upm_prefix_meta (
    GstBuffer *buffer, UpmModel *model, UpmPrefix *prefix);

/* Converts a library routing list to meta routes (segment names interned).
 * Free the array with g_free; NULL when there are none. */
GstUpmRoute *gst_upm_routes_from_library (
    const UpmRouting *routing, guint *n_routes);

G_END_DECLS
#endif /* __GST_UPM_COMMON_H__ */
