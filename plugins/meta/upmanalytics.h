/* upmanalytics.h: the uniperceiver results as GstAnalytics metadata.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Built when GStreamer >= 1.26 is found (meson option analytics). upmhead
 * adds to each result buffer, besides the uniperceiver metas of upmmeta.h,
 * a GstAnalyticsRelationMeta holding:
 *
 *   "upm-clip"     (GstUpmClipMtd)     the clip the results are about
 *   GstAnalyticsClsMtd                 a classification / retrieval result:
 *                                      labels as GQuarks, confidences the
 *                                      probabilities, best first
 *   "upm-caption"  (GstUpmCaptionMtd)  a caption: text, score, token ids
 *   "upm-routing"  (GstUpmRoutingMtd)  the per-segment expert routing
 *
 * with the clip CONTAIN each result and each result IS_PART_OF the clip.
 * The custom Mtds hold flat, pointer-free data (the relation meta copies it
 * with memcpy); their layouts are fixed and documented in docs/analytics.md
 * for readers that have only the upstream API. Apps with this library read
 * them through the accessors below.
 */
#ifndef __GST_UPM_ANALYTICS_H__
#define __GST_UPM_ANALYTICS_H__

#include <gst/analytics/analytics.h>
#include <gst/gst.h>

#include "upmmeta.h"

G_BEGIN_DECLS

/**
 * GstUpmClipMtd:
 *
 * Handle of a "upm-clip" Mtd: the clip (one or several views) that the
 * other Mtds of the relation meta describe.
 */
typedef struct _GstAnalyticsMtd GstUpmClipMtd;

/**
 * GstUpmCaptionMtd:
 *
 * Handle of a "upm-caption" Mtd: one caption of a clip.
 */
typedef struct _GstAnalyticsMtd GstUpmCaptionMtd;

/**
 * GstUpmRoutingMtd:
 *
 * Handle of a "upm-routing" Mtd: the expert routing of a clip's sequence,
 * one record per (layer, gate, segment).
 */
typedef struct _GstAnalyticsMtd GstUpmRoutingMtd;

/* ------------------------------------------------------------------ clip */

GstAnalyticsMtdType gst_upm_clip_mtd_get_mtd_type (void);

gboolean gst_upm_relation_meta_add_clip_mtd (GstAnalyticsRelationMeta *meta,
    GstClockTime pts, GstClockTime duration, guint n_views, const gchar *task,
    const gchar *preset, GstUpmClipMtd *clip_mtd);

gboolean gst_upm_relation_meta_get_clip_mtd (
    GstAnalyticsRelationMeta *meta, guint id, GstUpmClipMtd *clip_mtd);

GstClockTime gst_upm_clip_mtd_get_pts (const GstUpmClipMtd *handle);
GstClockTime gst_upm_clip_mtd_get_duration (const GstUpmClipMtd *handle);
guint gst_upm_clip_mtd_get_n_views (const GstUpmClipMtd *handle);
const gchar *gst_upm_clip_mtd_get_task (const GstUpmClipMtd *handle);
const gchar *gst_upm_clip_mtd_get_preset (const GstUpmClipMtd *handle);

/* --------------------------------------------------------------- caption */

GstAnalyticsMtdType gst_upm_caption_mtd_get_mtd_type (void);

gboolean gst_upm_relation_meta_add_caption_mtd (GstAnalyticsRelationMeta *meta,
    const gchar *text, gfloat score, const gint32 *ids, guint n_ids,
    GstUpmCaptionMtd *caption_mtd);

gboolean gst_upm_relation_meta_get_caption_mtd (
    GstAnalyticsRelationMeta *meta, guint id, GstUpmCaptionMtd *caption_mtd);

const gchar *gst_upm_caption_mtd_get_text (const GstUpmCaptionMtd *handle);
gfloat gst_upm_caption_mtd_get_score (const GstUpmCaptionMtd *handle);
const gint32 *gst_upm_caption_mtd_get_ids (
    const GstUpmCaptionMtd *handle, guint *n_ids);

/* --------------------------------------------------------------- routing */

GstAnalyticsMtdType gst_upm_routing_mtd_get_mtd_type (void);

gboolean gst_upm_relation_meta_add_routing_mtd (GstAnalyticsRelationMeta *meta,
    const gchar *model, guint n_layers, guint n_experts,
    const GstUpmRoute *routes, guint n_routes, GstUpmRoutingMtd *routing_mtd);

gboolean gst_upm_relation_meta_get_routing_mtd (
    GstAnalyticsRelationMeta *meta, guint id, GstUpmRoutingMtd *routing_mtd);

const gchar *gst_upm_routing_mtd_get_model (const GstUpmRoutingMtd *handle);
guint gst_upm_routing_mtd_get_n_layers (const GstUpmRoutingMtd *handle);
guint gst_upm_routing_mtd_get_n_experts (const GstUpmRoutingMtd *handle);
guint gst_upm_routing_mtd_get_n_routes (const GstUpmRoutingMtd *handle);
gboolean gst_upm_routing_mtd_get_route (
    const GstUpmRoutingMtd *handle, guint index, GstUpmRoute *route);

/* ---------------------------------------------------------------- buffer */

GstAnalyticsRelationMeta *gst_upm_buffer_add_analytics (GstBuffer *buffer);

G_END_DECLS
#endif /* __GST_UPM_ANALYTICS_H__ */
