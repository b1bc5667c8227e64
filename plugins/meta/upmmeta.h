/* upmmeta.h: buffer metas of the uniperceiver GStreamer plugin.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Applications read results and expert routing off the buffers of the
 * uniperceiver elements with these functions (pkg-config gstupmmeta-1.0).
 * The metas own their strings (no GQuark for free text), have empty tags (so
 * they survive video transforms) and are deep-copied by copy transforms.
 *
 *   GstUpmResultMeta   labels and scores of a classification / retrieval
 *   GstUpmCaptionMeta  a caption: UTF-8 text, token ids, score
 *   GstUpmRoutingMeta  per MoE layer and gate, the two experts, their gate
 *                      weights and the token range (segment) they served
 *
 * Each also carries the clip's timing (pts, duration) it describes.
 */
#ifndef __GST_UPM_META_H__
#define __GST_UPM_META_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* ---------------------------------------------------------------- result */

typedef struct
{
  gchar *label;                 /* owned */
  guint index;                  /* index in the label list */
  gfloat logit;                 /* cosine x logit scale */
  gfloat prob;                  /* softmax over all labels */
} GstUpmScore;

typedef struct
{
  GstMeta meta;
  gchar *task;                  /* "classify", "retrieve", "text-classify" */
  GstClockTime pts, duration;
  guint n_scores;               /* top-k, best first */
  GstUpmScore *scores;
} GstUpmResultMeta;

GType gst_upm_result_meta_api_get_type (void);
const GstMetaInfo *gst_upm_result_meta_get_info (void);
#define GST_UPM_RESULT_META_API_TYPE (gst_upm_result_meta_api_get_type ())
#define GST_UPM_RESULT_META_INFO (gst_upm_result_meta_get_info ())
#define gst_buffer_get_upm_result_meta(b) \
  ((GstUpmResultMeta *) gst_buffer_get_meta ((b), GST_UPM_RESULT_META_API_TYPE))

/* Copies @task and the scores (labels are duplicated). */
GstUpmResultMeta *gst_buffer_add_upm_result_meta (GstBuffer * buffer,
    const gchar * task, GstClockTime pts, GstClockTime duration,
    const GstUpmScore * scores, guint n_scores);

/* --------------------------------------------------------------- caption */

typedef struct
{
  GstMeta meta;
  gchar *text;                  /* UTF-8 */
  gint32 *ids;                  /* token ids up to the end token, excluded */
  guint n_ids;
  gfloat score;                 /* length-penalised log-probability */
  GstClockTime pts, duration;
} GstUpmCaptionMeta;

GType gst_upm_caption_meta_api_get_type (void);
const GstMetaInfo *gst_upm_caption_meta_get_info (void);
#define GST_UPM_CAPTION_META_API_TYPE (gst_upm_caption_meta_api_get_type ())
#define GST_UPM_CAPTION_META_INFO (gst_upm_caption_meta_get_info ())
#define gst_buffer_get_upm_caption_meta(b) \
  ((GstUpmCaptionMeta *) gst_buffer_get_meta ((b), GST_UPM_CAPTION_META_API_TYPE))

GstUpmCaptionMeta *gst_buffer_add_upm_caption_meta (GstBuffer * buffer,
    const gchar * text, const gint32 * ids, guint n_ids, gfloat score,
    GstClockTime pts, GstClockTime duration);

/* --------------------------------------------------------------- routing */

typedef enum
{
  GST_UPM_GATE_ATTN = 0,        /* decides the QKV and attention output linears */
  GST_UPM_GATE_FFN = 1,         /* decides the two FFN linears */
} GstUpmGate;

typedef struct
{
  guint layer;
  GstUpmGate gate;
  const gchar *segment;         /* attribute row name, static string:
                                 * "cls_input", "caption_prefix", ... */
  guint token_begin, token_end; /* tokens of the sequence it served */
  guint expert[2];              /* best first */
  gfloat weight[2];             /* gate weights, sum 1 */
} GstUpmRoute;

typedef struct
{
  GstMeta meta;
  gchar *model;                 /* model name */
  guint n_layers, n_experts;
  GstClockTime pts, duration;
  guint n_routes;
  GstUpmRoute *routes;
} GstUpmRoutingMeta;

GType gst_upm_routing_meta_api_get_type (void);
const GstMetaInfo *gst_upm_routing_meta_get_info (void);
#define GST_UPM_ROUTING_META_API_TYPE (gst_upm_routing_meta_api_get_type ())
#define GST_UPM_ROUTING_META_INFO (gst_upm_routing_meta_get_info ())
#define gst_buffer_get_upm_routing_meta(b) \
  ((GstUpmRoutingMeta *) gst_buffer_get_meta ((b), GST_UPM_ROUTING_META_API_TYPE))

/* Segment names are interned with g_intern_string. */
GstUpmRoutingMeta *gst_buffer_add_upm_routing_meta (GstBuffer * buffer,
    const gchar * model, guint n_layers, guint n_experts, GstClockTime pts,
    GstClockTime duration, const GstUpmRoute * routes, guint n_routes);

/* Appends more routes (e.g. the caption text segment after the prefix). */
void gst_upm_routing_meta_append (GstUpmRoutingMeta * meta,
    const GstUpmRoute * routes, guint n_routes);

const gchar *gst_upm_gate_name (GstUpmGate gate);

/* ------------------------------------------------------------------ JSON */

/* All uniperceiver metas of @buffer as one JSON object:
 * {"pts":..., "duration":..., "result":{...}, "caption":{...},
 *  "routing":{...}} (members absent when the meta is). Free with g_free. */
gchar *gst_upm_buffer_metas_to_json (GstBuffer * buffer);

G_END_DECLS
#endif /* __GST_UPM_META_H__ */
