/* upmmeta-gi.c: the metas for language bindings (GObject-Introspection).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The accessors bindings need (the C API's getters are macros, its arrays
 * are plain pointers), and the introspection annotations of the functions
 * upmmeta.c defines: g-ir-scanner reads every comment block below, whichever
 * file defines the function. Python:
 *
 *   gi.require_version ("GstUpm", "1.0")
 *   from gi.repository import GstUpm
 *   caption = GstUpm.buffer_get_caption_meta (buffer)
 *   if caption: print (caption.text, caption.score, caption.get_ids ())
 */
#include "upmmeta.h"

/**
 * gst_upm_buffer_get_result_meta:
 * @buffer: a #GstBuffer
 *
 * Returns: (transfer none) (nullable): the classification / retrieval result
 * of @buffer
 */
GstUpmResultMeta *
gst_upm_buffer_get_result_meta (GstBuffer *buffer)
{
  return gst_buffer_get_upm_result_meta (buffer);
}

/**
 * gst_upm_buffer_get_caption_meta:
 * @buffer: a #GstBuffer
 *
 * Returns: (transfer none) (nullable): the caption of @buffer
 */
GstUpmCaptionMeta *
gst_upm_buffer_get_caption_meta (GstBuffer *buffer)
{
  return gst_buffer_get_upm_caption_meta (buffer);
}

/**
 * gst_upm_buffer_get_routing_meta:
 * @buffer: a #GstBuffer
 *
 * Returns: (transfer none) (nullable): the expert routing of @buffer
 */
GstUpmRoutingMeta *
gst_upm_buffer_get_routing_meta (GstBuffer *buffer)
{
  return gst_buffer_get_upm_routing_meta (buffer);
}

/**
 * gst_upm_result_meta_get_score:
 * @meta: a #GstUpmResultMeta
 * @index: 0 for the best score
 *
 * Returns: (transfer none) (nullable): score @index, NULL past n_scores
 */
const GstUpmScore *
gst_upm_result_meta_get_score (const GstUpmResultMeta *meta, guint index)
{
  g_return_val_if_fail (meta != NULL, NULL);
  return index < meta->n_scores ? &meta->scores[index] : NULL;
}

/**
 * gst_upm_caption_meta_get_ids:
 * @meta: a #GstUpmCaptionMeta
 * @n_ids: (out): the number of token ids
 *
 * Returns: (transfer none) (array length=n_ids): the caption's token ids
 */
const gint32 *
gst_upm_caption_meta_get_ids (const GstUpmCaptionMeta *meta, guint *n_ids)
{
  g_return_val_if_fail (meta != NULL && n_ids != NULL, NULL);
  *n_ids = meta->n_ids;
  return meta->ids;
}

/**
 * gst_upm_routing_meta_get_route:
 * @meta: a #GstUpmRoutingMeta
 * @index: the route's index
 *
 * Returns: (transfer none) (nullable): route @index, NULL past n_routes
 */
const GstUpmRoute *
gst_upm_routing_meta_get_route (const GstUpmRoutingMeta *meta, guint index)
{
  g_return_val_if_fail (meta != NULL, NULL);
  return index < meta->n_routes ? &meta->routes[index] : NULL;
}

/**
 * gst_upm_routing_meta_get_token_route:
 * @meta: a #GstUpmRoutingMeta
 * @index: the per-token route's index
 *
 * Returns: (transfer none) (nullable): per-token route @index, NULL past
 * n_token_routes
 */
const GstUpmTokenRoute *
gst_upm_routing_meta_get_token_route (
    const GstUpmRoutingMeta *meta, guint index)
{
  g_return_val_if_fail (meta != NULL, NULL);
  return index < meta->n_token_routes ? &meta->token_routes[index] : NULL;
}

/**
 * gst_upm_token_route_get_experts:
 * @route: a #GstUpmTokenRoute
 * @n_experts: (out): 2 x n_tokens
 *
 * Returns: (transfer none) (array length=n_experts): the two experts of each
 * token, best first
 */
const guint8 *
gst_upm_token_route_get_experts (
    const GstUpmTokenRoute *route, guint *n_experts)
{
  g_return_val_if_fail (route != NULL && n_experts != NULL, NULL);
  *n_experts = 2 * route->n_tokens;
  return route->experts;
}

/**
 * gst_upm_view_meta_get_frames:
 * @meta: a #GstUpmViewMeta
 * @n_frames: (out): the number of frames
 *
 * Returns: (transfer none) (array length=n_frames): the source frame indices
 */
const guint64 *
gst_upm_view_meta_get_frames (const GstUpmViewMeta *meta, guint *n_frames)
{
  g_return_val_if_fail (meta != NULL && n_frames != NULL, NULL);
  *n_frames = meta->n_frames;
  return meta->frames;
}

/**
 * gst_upm_view_meta_get_frame_pts:
 * @meta: a #GstUpmViewMeta
 * @n_frames: (out): the number of frames
 *
 * Returns: (array length=n_frames) (element-type guint64): the frames'
 * timestamps
 */
const GstClockTime *
gst_upm_view_meta_get_frame_pts (const GstUpmViewMeta *meta, guint *n_frames)
{
  g_return_val_if_fail (meta != NULL && n_frames != NULL, NULL);
  *n_frames = meta->n_frames;
  return meta->frame_pts;
}

/* ------------------------------------ annotations of upmmeta.c's functions */

/**
 * gst_buffer_add_upm_result_meta:
 * @buffer: a writable #GstBuffer
 * @task: "classify", "retrieve" or "text-classify"
 * @pts: the clip's timestamp
 * @duration: the clip's duration
 * @scores: (array length=n_scores): the scores, best first (copied)
 * @n_scores: their number
 *
 * Returns: (transfer none): the meta added to @buffer
 */

/**
 * gst_buffer_add_upm_caption_meta:
 * @buffer: a writable #GstBuffer
 * @text: the caption (UTF-8)
 * @ids: (array length=n_ids): its token ids (copied)
 * @n_ids: their number
 * @score: the length-penalised log-probability
 * @pts: the clip's timestamp
 * @duration: the clip's duration
 *
 * Returns: (transfer none): the meta added to @buffer
 */

/**
 * gst_buffer_add_upm_routing_meta:
 * @buffer: a writable #GstBuffer
 * @model: the model's name
 * @n_layers: its layers
 * @n_experts: its experts per MoE layer
 * @pts: the clip's timestamp
 * @duration: the clip's duration
 * @routes: (array length=n_routes): the routes (copied)
 * @n_routes: their number
 *
 * Returns: (transfer none): the meta added to @buffer
 */

/**
 * gst_upm_routing_meta_append:
 * @meta: a #GstUpmRoutingMeta
 * @routes: (array length=n_routes): more routes (copied)
 * @n_routes: their number
 */

/**
 * gst_upm_routing_meta_add_token_routes:
 * @meta: a #GstUpmRoutingMeta
 * @layer: the MoE layer
 * @gate: the gate
 * @segment: (nullable): the attribute row name
 * @token_begin: the first token
 * @n_tokens: the number of tokens
 * @experts: (array): 2 x @n_tokens expert ids, best first (copied)
 *
 * Returns: (transfer none): the stored route
 */

/**
 * gst_upm_routing_meta_find_token_route:
 * @meta: a #GstUpmRoutingMeta
 * @layer: the MoE layer
 * @gate: the gate
 * @token: a token of the sequence
 *
 * Returns: (transfer none) (nullable): the per-token route that contains
 * @token
 */

/**
 * gst_buffer_add_upm_view_meta:
 * @buffer: a writable #GstBuffer
 * @clip_id: the clip's number in the stream
 * @view: the view's index
 * @n_views: the number of views
 * @temporal_view: the temporal view
 * @crop: the crop
 * @frames: (array length=n_frames): source frame indices (copied)
 * @frame_pts: (array length=n_frames): their timestamps (copied)
 * @n_frames: their number
 * @box: the crop box
 * @pts: the view's first frame
 * @duration: the view's span
 *
 * Returns: (transfer none): the meta added to @buffer
 */

/**
 * gst_buffer_get_upm_view_metas:
 * @buffer: a #GstBuffer
 * @n_views: (out): the number of view metas
 *
 * Returns: (transfer container) (array length=n_views) (nullable): the view
 * metas of @buffer ordered by view
 */

/**
 * gst_buffer_copy_upm_routing_meta:
 * @dest: a writable #GstBuffer
 * @src: the meta to copy
 *
 * Returns: (transfer none): the copy on @dest
 */

/**
 * gst_buffer_copy_upm_view_meta:
 * @dest: a writable #GstBuffer
 * @src: the meta to copy
 *
 * Returns: (transfer none): the copy on @dest
 */

/**
 * gst_upm_buffer_metas_to_json:
 * @buffer: a #GstBuffer
 *
 * Returns: (transfer full): all uniperceiver metas of @buffer as one JSON
 * object
 */

/**
 * gst_upm_result_meta_get_info: (skip)
 */

/**
 * gst_upm_caption_meta_get_info: (skip)
 */

/**
 * gst_upm_routing_meta_get_info: (skip)
 */

/**
 * gst_upm_view_meta_get_info: (skip)
 */
