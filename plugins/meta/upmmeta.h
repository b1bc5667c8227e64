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
 *   GstUpmViewMeta     one view of a clip sampled by a task preset: the
 *                      source frames (indices, timestamps) and the crop;
 *                      a result carries one per view it was computed from
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
  gchar *label; /* owned */
  guint index;  /* index in the label list */
  gfloat logit; /* cosine x logit scale */
  gfloat prob;  /* softmax over all labels */
} GstUpmScore;

typedef struct
{
  GstMeta meta;
  gchar *task; /* "classify", "retrieve", "text-classify" */
  GstClockTime pts, duration;
  guint n_scores; /* top-k, best first */
  GstUpmScore *scores;
  /* Added after 0.1.0: what logit holds, "cosine" for the plain cosine of
   * retrieval presets, "softmax" for other retrievals (cosine x the logit
   * scale); NULL (classification): cosine x the task's logit scale. */
  gchar *score_kind;
  gchar *preset; /* added after 0.1.0: the task preset's name, or NULL */
  /* Added after 0.1.0: the engine precision the features were computed in
   * ("fp32", "bf16", ...: upm_precision_name), interned; NULL: unknown. */
  const gchar *precision;
} GstUpmResultMeta;

GType gst_upm_result_meta_api_get_type (void);
const GstMetaInfo *gst_upm_result_meta_get_info (void);
#define GST_UPM_RESULT_META_API_TYPE (gst_upm_result_meta_api_get_type ())
#define GST_UPM_RESULT_META_INFO (gst_upm_result_meta_get_info ())
#define gst_buffer_get_upm_result_meta(b)                                      \
  ((GstUpmResultMeta *)gst_buffer_get_meta ((b), GST_UPM_RESULT_META_API_TYPE))

/* Copies @task and the scores (labels are duplicated). */
GstUpmResultMeta *gst_buffer_add_upm_result_meta (GstBuffer *buffer,
    const gchar *task, GstClockTime pts, GstClockTime duration,
    const GstUpmScore *scores, guint n_scores);

/* Sets (copies) the score kind, e.g. "cosine"; NULL unsets it. */
void gst_upm_result_meta_set_score_kind (
    GstUpmResultMeta *meta, const gchar *score_kind);

/* Sets (copies) the task preset's name, e.g. "k400"; NULL unsets it. */
void gst_upm_result_meta_set_preset (
    GstUpmResultMeta *meta, const gchar *preset);
/* Sets the precision ("fp32", "bf16", ...; interned); NULL unsets it. */
void gst_upm_result_meta_set_precision (
    GstUpmResultMeta *meta, const gchar *precision);

/* --------------------------------------------------------------- caption */

typedef struct
{
  GstMeta meta;
  gchar *text; /* UTF-8 */
  gint32 *ids; /* token ids up to the end token, excluded */
  guint n_ids;
  gfloat score; /* length-penalised log-probability */
  GstClockTime pts, duration;
  gchar *preset; /* added after 0.1.0: the task preset's name, or NULL */
  /* Added after 0.1.0: the engine precision of the decoding, interned;
   * NULL: unknown. */
  const gchar *precision;
} GstUpmCaptionMeta;

GType gst_upm_caption_meta_api_get_type (void);
const GstMetaInfo *gst_upm_caption_meta_get_info (void);
#define GST_UPM_CAPTION_META_API_TYPE (gst_upm_caption_meta_api_get_type ())
#define GST_UPM_CAPTION_META_INFO (gst_upm_caption_meta_get_info ())
#define gst_buffer_get_upm_caption_meta(b)                                     \
  ((GstUpmCaptionMeta *)gst_buffer_get_meta (                                  \
      (b), GST_UPM_CAPTION_META_API_TYPE))

GstUpmCaptionMeta *gst_buffer_add_upm_caption_meta (GstBuffer *buffer,
    const gchar *text, const gint32 *ids, guint n_ids, gfloat score,
    GstClockTime pts, GstClockTime duration);

/* Sets (copies) the task preset's name, e.g. "msvd-caption"; NULL unsets
 * it. */
void gst_upm_caption_meta_set_preset (
    GstUpmCaptionMeta *meta, const gchar *preset);
/* Sets the precision of the decoding (interned); NULL unsets it. */
void gst_upm_caption_meta_set_precision (
    GstUpmCaptionMeta *meta, const gchar *precision);

/* --------------------------------------------------------------- routing */

typedef enum
{
  GST_UPM_GATE_ATTN = 0, /* decides the QKV and attention output linears */
  GST_UPM_GATE_FFN = 1,  /* decides the two FFN linears */
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

/* Per-token routing of one MoE layer's gate (the dynamic token and context
 * routing levels): token i of the route is token token_begin + i of the
 * sequence; its two experts, best first, are experts[2 * i] and
 * experts[2 * i + 1]. */
typedef struct
{
  guint layer;
  GstUpmGate gate;
  const gchar *segment; /* interned, as in GstUpmRoute */
  guint token_begin, n_tokens;
  guint8 *experts; /* 2 x n_tokens, owned by the meta */
} GstUpmTokenRoute;

typedef struct
{
  GstMeta meta;
  gchar *model; /* model name */
  guint n_layers, n_experts;
  GstClockTime pts, duration;
  guint n_routes;
  GstUpmRoute *routes;
  /* Added after 0.1.0, zero / NULL when unset. */
  guint n_token_routes;
  GstUpmTokenRoute *token_routes;
  /* The layout of the visual tokens, for drawing per-token routing on the
   * frames: patch (x, y) of clip frame f is token
   * visual_begin + (f * grid_height + y) * grid_width + x of the sequence.
   * grid_width == 0: unknown. */
  guint visual_begin, grid_width, grid_height, n_frames;
  /* Added after 0.1.0: the engine precision the transformer ran the
   * sequence in ("fp32", "bf16", ...), interned; NULL: unknown. */
  const gchar *precision;
} GstUpmRoutingMeta;

GType gst_upm_routing_meta_api_get_type (void);
const GstMetaInfo *gst_upm_routing_meta_get_info (void);
#define GST_UPM_ROUTING_META_API_TYPE (gst_upm_routing_meta_api_get_type ())
#define GST_UPM_ROUTING_META_INFO (gst_upm_routing_meta_get_info ())
#define gst_buffer_get_upm_routing_meta(b)                                     \
  ((GstUpmRoutingMeta *)gst_buffer_get_meta (                                  \
      (b), GST_UPM_ROUTING_META_API_TYPE))

/* Segment names are interned with g_intern_string. */
GstUpmRoutingMeta *gst_buffer_add_upm_routing_meta (GstBuffer *buffer,
    const gchar *model, guint n_layers, guint n_experts, GstClockTime pts,
    GstClockTime duration, const GstUpmRoute *routes, guint n_routes);

/* Appends more routes (e.g. the caption text segment after the prefix). */
void gst_upm_routing_meta_append (
    GstUpmRoutingMeta *meta, const GstUpmRoute *routes, guint n_routes);

const gchar *gst_upm_gate_name (GstUpmGate gate);

/* Adds the per-token routing of (@layer, @gate) for @n_tokens tokens from
 * @token_begin: @experts holds 2 expert ids per token, best first (copied).
 * @segment is interned (may be NULL). Returns the stored route. */
const GstUpmTokenRoute *gst_upm_routing_meta_add_token_routes (
    GstUpmRoutingMeta *meta, guint layer, GstUpmGate gate, const gchar *segment,
    guint token_begin, guint n_tokens, const guint8 *experts);

/* The per-token route of (@layer, @gate) that contains @token, or NULL. */
const GstUpmTokenRoute *gst_upm_routing_meta_find_token_route (
    const GstUpmRoutingMeta *meta, guint layer, GstUpmGate gate, guint token);

/* Sets the visual token layout (see GstUpmRoutingMeta). */
void gst_upm_routing_meta_set_visual_grid (GstUpmRoutingMeta *meta,
    guint visual_begin, guint grid_width, guint grid_height, guint n_frames);

/* Sets the precision of the encoding (interned); NULL unsets it. */
void gst_upm_routing_meta_set_precision (
    GstUpmRoutingMeta *meta, const gchar *precision);

/* A deep copy of @src on @dest: routes, token routes, the grid and the
 * precision. */
GstUpmRoutingMeta *gst_buffer_copy_upm_routing_meta (
    GstBuffer *dest, const GstUpmRoutingMeta *src);

/* ------------------------------------------------------------------ view */

/* The crop of a view in the source frame's pixels (upm_vision_crop_box's
 * src_* for a frame of frame_width x frame_height) and in the resized
 * frame. */
typedef struct
{
  gdouble x, y, width, height;
  gint frame_width, frame_height;
  /* the same crop in the resized frame (upm_vision_crop_box's resized_w,
   * resized_h, x, y, size); resized_size 0: unknown */
  gint resized_width, resized_height, resized_x, resized_y, resized_size;
} GstUpmViewBox;

/* One view of a clip that a task preset samples (upmtokenizer preset=...):
 * temporal view temporal_view (of the interleaved ones) in crop crop; view
 * = temporal_view x crops + crop of n_views. Each clip buffer of the view
 * carries one; upmhead's result carries one for every view it averaged. */
typedef struct
{
  GstMeta meta;
  guint64 clip_id; /* counts the clips of the stream from 0 */
  guint view, n_views, temporal_view, crop;
  guint n_frames;
  guint64 *frames;         /* source frame indices, counted in the stream */
  GstClockTime *frame_pts; /* their timestamps */
  GstUpmViewBox box;
  GstClockTime pts, duration; /* the view's first frame and span */
} GstUpmViewMeta;

GType gst_upm_view_meta_api_get_type (void);
const GstMetaInfo *gst_upm_view_meta_get_info (void);
#define GST_UPM_VIEW_META_API_TYPE (gst_upm_view_meta_api_get_type ())
#define GST_UPM_VIEW_META_INFO (gst_upm_view_meta_get_info ())
/* The first view meta; see gst_buffer_get_upm_view_metas for all. */
#define gst_buffer_get_upm_view_meta(b)                                        \
  ((GstUpmViewMeta *)gst_buffer_get_meta ((b), GST_UPM_VIEW_META_API_TYPE))

/* Copies @frames and @frame_pts (@n_frames each). */
GstUpmViewMeta *gst_buffer_add_upm_view_meta (GstBuffer *buffer,
    guint64 clip_id, guint view, guint n_views, guint temporal_view, guint crop,
    const guint64 *frames, const GstClockTime *frame_pts, guint n_frames,
    const GstUpmViewBox *box, GstClockTime pts, GstClockTime duration);

/* A deep copy of @src on @dest. */
GstUpmViewMeta *gst_buffer_copy_upm_view_meta (
    GstBuffer *dest, const GstUpmViewMeta *src);

/* The view metas of @buffer ordered by view (free the array with g_free;
 * the metas belong to the buffer); NULL and 0 when it has none. */
GstUpmViewMeta **gst_buffer_get_upm_view_metas (
    GstBuffer *buffer, guint *n_views);

/* ------------------------------------------------------------------ JSON */

/* All uniperceiver metas of @buffer as one JSON object:
 * {"pts":..., "duration":..., "result":{...}, "caption":{...},
 *  "routing":{...}, "preset":..., "views":[...]} (members absent when the
 * meta is; "preset" from the result or caption meta; the
 * views as upm_format_views_json writes them). Free with g_free. */
gchar *gst_upm_buffer_metas_to_json (GstBuffer *buffer);

/* ------------------------------------------------------------- bindings */

/* Functions for applications in other languages (GObject-Introspection,
 * namespace GstUpm: upmmeta-gi.c), which cannot expand the macros above nor
 * index the C arrays of the metas. */

GstUpmResultMeta *gst_upm_buffer_get_result_meta (GstBuffer *buffer);
GstUpmCaptionMeta *gst_upm_buffer_get_caption_meta (GstBuffer *buffer);
GstUpmRoutingMeta *gst_upm_buffer_get_routing_meta (GstBuffer *buffer);

/* Score @index of the result (best first), or NULL past n_scores. */
const GstUpmScore *gst_upm_result_meta_get_score (
    const GstUpmResultMeta *meta, guint index);
/* The caption's token ids (n_ids of them). */
const gint32 *gst_upm_caption_meta_get_ids (
    const GstUpmCaptionMeta *meta, guint *n_ids);
/* Route @index of the routing meta, or NULL past n_routes. */
const GstUpmRoute *gst_upm_routing_meta_get_route (
    const GstUpmRoutingMeta *meta, guint index);
/* Per-token route @index of the routing meta, or NULL past
 * n_token_routes. */
const GstUpmTokenRoute *gst_upm_routing_meta_get_token_route (
    const GstUpmRoutingMeta *meta, guint index);
/* The two experts of each token of @route, best first (2 x n_tokens). */
const guint8 *gst_upm_token_route_get_experts (
    const GstUpmTokenRoute *route, guint *n_experts);
/* The source frame indices and their timestamps (n_frames each). */
const guint64 *gst_upm_view_meta_get_frames (
    const GstUpmViewMeta *meta, guint *n_frames);
const GstClockTime *gst_upm_view_meta_get_frame_pts (
    const GstUpmViewMeta *meta, guint *n_frames);

G_END_DECLS
#endif /* __GST_UPM_META_H__ */
