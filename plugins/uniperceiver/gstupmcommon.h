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

/* ----------------------------------------------------------- shared model */

/* The path of the bundled model: $UPM_DEFAULT_MODEL if set, else the
 * installed copy, else the source tree's models/ (uninstalled builds). */
const gchar *gst_upm_default_model_path (void);

/* GstContext type under which elements share a loaded model. Its structure
 * "upm-model" holds "path" (string) and "model" (GST_TYPE_UPM_MODEL). */
#define GST_UPM_MODEL_CONTEXT_TYPE "upm.model"

#define GST_TYPE_UPM_MODEL (gst_upm_model_get_type ())
GType gst_upm_model_get_type (void); /* boxed: upm_model_ref/unref */

/* The model at @path (NULL: the default) for @element: from a context set on
 * the element, a CONTEXT query downstream then upstream, a NEED_CONTEXT
 * message, or else loaded through a process-wide cache keyed by canonical
 * path and announced with HAVE_CONTEXT. Returns a new reference or NULL with
 * @error (the caller posts GST_ELEMENT_ERROR naming the file).
 * A context found by query or made from the cache is also set on @element
 * (gst_element_set_context, as GStreamer's GL/VA helpers do), so a
 * set_context vfunc may run from inside this call; chain up there so that
 * gst_element_get_context keeps the context. The cache entry lives as long
 * as some element holds that context (non-persistent: dropped at
 * READY->NULL); the model itself as long as any reference. */
UpmModel *gst_upm_element_get_model (
    GstElement *element, const gchar *path, GError **error);

/* gst_upm_element_get_model for an element's NULL->READY: on failure posts
 * the error users see (file not found, or why it could not be loaded, with
 * what to do about it) and returns NULL. */
UpmModel *gst_upm_element_open_model (GstElement *element, const gchar *path);

/* The model's part of an element's change_state: @open (NULL->READY, and
 * again at READY->PAUSED when *@model_changed, read under the object lock,
 * says the model property changed in READY) and @close (READY->NULL, or a
 * failed NULL->READY), around @parent_class's change_state. */
GstStateChangeReturn gst_upm_element_change_state_with_model (
    GstElement *element, GstStateChange transition,
    GstElementClass *parent_class, const gboolean *model_changed,
    gboolean (*open) (GstElement *element),
    void (*close) (GstElement *element));

/* For set_context vfuncs: the model of @context if it is for @path. */
UpmModel *gst_upm_context_get_model (GstContext *context, const gchar *path);

/* For pad query functions: answers a GST_QUERY_CONTEXT of type
 * GST_UPM_MODEL_CONTEXT_TYPE with @model (the element's own context when it
 * holds @model). Returns FALSE, leaving @query alone, for other queries or
 * when @model is NULL; forward those as usual. */
gboolean gst_upm_handle_context_query (
    GstElement *element, GstQuery *query, UpmModel *model);

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
