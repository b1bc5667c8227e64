/* upmanalytics.c: the uniperceiver results as GstAnalytics metadata (see
 * upmanalytics.h and docs/analytics.md).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "upmanalytics.h"

/* The data of the custom Mtds. The relation meta copies a buffer's Mtds with
 * one memcpy, so the data holds no pointer: strings are GQuarks (bounded
 * sets: task, preset, model and segment names) or inline bytes (the caption
 * text). The layouts are part of the API (docs/analytics.md): fields are
 * only ever appended. */

typedef struct
{
  guint64 pts, duration; /* GstClockTime */
  guint32 n_views;
  guint32 task;   /* GQuark */
  guint32 preset; /* GQuark, 0: none */
  guint32 reserved;
} UpmClipData;

typedef struct
{
  gfloat score;
  guint32 n_ids;
  guint32 text_len; /* bytes, without the NUL that follows them */
  gint32 ids[];     /* n_ids ids, then text_len + 1 bytes of UTF-8 */
} UpmCaptionData;

typedef struct
{
  guint32 layer, gate, token_begin, token_end;
  guint32 expert[2];
  gfloat weight[2];
  guint32 segment; /* GQuark */
} UpmRouteData;

typedef struct
{
  guint32 n_layers, n_experts, n_routes;
  guint32 model; /* GQuark */
  UpmRouteData routes[];
} UpmRoutingData;

G_STATIC_ASSERT (sizeof (UpmClipData) == 32);
G_STATIC_ASSERT (sizeof (UpmCaptionData) == 12);
G_STATIC_ASSERT (sizeof (UpmRouteData) == 36);
G_STATIC_ASSERT (sizeof (UpmRoutingData) == 16);

/* Plain data: the relation meta's memcpy is the whole transform, and there
 * is nothing to free. */
static const GstAnalyticsMtdImpl clip_impl = { "upm-clip", NULL, NULL, { 0 } };
static const GstAnalyticsMtdImpl caption_impl
    = { "upm-caption", NULL, NULL, { 0 } };
static const GstAnalyticsMtdImpl routing_impl
    = { "upm-routing", NULL, NULL, { 0 } };

static GQuark
quark_or_zero (const gchar *s)
{
  return s != NULL ? g_quark_from_string (s) : 0;
}

/* The data of @handle if it is a Mtd of @impl, else NULL. */
static gpointer
mtd_data (const GstAnalyticsMtd *handle, const GstAnalyticsMtdImpl *impl)
{
  g_return_val_if_fail (handle != NULL && handle->meta != NULL, NULL);
  if (gst_analytics_mtd_get_mtd_type (handle) != (GstAnalyticsMtdType)impl)
    return NULL;
  return gst_analytics_relation_meta_get_mtd_data (handle->meta, handle->id);
}

static gboolean
get_mtd (GstAnalyticsRelationMeta *meta, guint id,
    const GstAnalyticsMtdImpl *impl, GstAnalyticsMtd *mtd)
{
  g_return_val_if_fail (meta != NULL && mtd != NULL, FALSE);
  return gst_analytics_relation_meta_get_mtd (
      meta, id, (GstAnalyticsMtdType)impl, mtd);
}

/* ------------------------------------------------------------------ clip */

/**
 * gst_upm_clip_mtd_get_mtd_type:
 *
 * Returns: the type of the "upm-clip" Mtds
 */
GstAnalyticsMtdType
gst_upm_clip_mtd_get_mtd_type (void)
{
  return (GstAnalyticsMtdType)&clip_impl;
}

/**
 * gst_upm_relation_meta_add_clip_mtd:
 * @meta: a #GstAnalyticsRelationMeta
 * @pts: the clip's first timestamp
 * @duration: the clip's span
 * @n_views: the views the results were computed from (1 but for presets)
 * @task: the head's task ("classify", "retrieve", "text-classify",
 *   "caption")
 * @preset: (nullable): the task preset's name
 * @clip_mtd: (out caller-allocates) (nullable): the new Mtd
 *
 * Adds a "upm-clip" Mtd to @meta.
 *
 * Returns: whether it was added
 */
gboolean
gst_upm_relation_meta_add_clip_mtd (GstAnalyticsRelationMeta *meta,
    GstClockTime pts, GstClockTime duration, guint n_views, const gchar *task,
    const gchar *preset, GstUpmClipMtd *clip_mtd)
{
  UpmClipData *d;

  g_return_val_if_fail (meta != NULL && task != NULL, FALSE);
  d = gst_analytics_relation_meta_add_mtd (
      meta, &clip_impl, sizeof (UpmClipData), clip_mtd);
  if (d == NULL)
    return FALSE;
  memset (d, 0, sizeof (*d));
  d->pts = pts;
  d->duration = duration;
  d->n_views = n_views;
  d->task = g_quark_from_string (task);
  d->preset = quark_or_zero (preset);
  return TRUE;
}

/**
 * gst_upm_relation_meta_get_clip_mtd:
 * @meta: a #GstAnalyticsRelationMeta
 * @id: the Mtd's id in @meta
 * @clip_mtd: (out caller-allocates): the Mtd
 *
 * Returns: whether @id is a "upm-clip" Mtd of @meta
 */
gboolean
gst_upm_relation_meta_get_clip_mtd (
    GstAnalyticsRelationMeta *meta, guint id, GstUpmClipMtd *clip_mtd)
{
  return get_mtd (meta, id, &clip_impl, clip_mtd);
}

/**
 * gst_upm_clip_mtd_get_pts:
 * @handle: a "upm-clip" Mtd
 *
 * Returns: the clip's first timestamp
 */
GstClockTime
gst_upm_clip_mtd_get_pts (const GstUpmClipMtd *handle)
{
  const UpmClipData *d = mtd_data (handle, &clip_impl);

  return d != NULL ? d->pts : GST_CLOCK_TIME_NONE;
}

/**
 * gst_upm_clip_mtd_get_duration:
 * @handle: a "upm-clip" Mtd
 *
 * Returns: the clip's span
 */
GstClockTime
gst_upm_clip_mtd_get_duration (const GstUpmClipMtd *handle)
{
  const UpmClipData *d = mtd_data (handle, &clip_impl);

  return d != NULL ? d->duration : GST_CLOCK_TIME_NONE;
}

/**
 * gst_upm_clip_mtd_get_n_views:
 * @handle: a "upm-clip" Mtd
 *
 * Returns: the views of the clip the results were computed from
 */
guint
gst_upm_clip_mtd_get_n_views (const GstUpmClipMtd *handle)
{
  const UpmClipData *d = mtd_data (handle, &clip_impl);

  return d != NULL ? d->n_views : 0;
}

/**
 * gst_upm_clip_mtd_get_task:
 * @handle: a "upm-clip" Mtd
 *
 * Returns: (nullable): the head's task
 */
const gchar *
gst_upm_clip_mtd_get_task (const GstUpmClipMtd *handle)
{
  const UpmClipData *d = mtd_data (handle, &clip_impl);

  return d != NULL ? g_quark_to_string (d->task) : NULL;
}

/**
 * gst_upm_clip_mtd_get_preset:
 * @handle: a "upm-clip" Mtd
 *
 * Returns: (nullable): the task preset's name, %NULL without one
 */
const gchar *
gst_upm_clip_mtd_get_preset (const GstUpmClipMtd *handle)
{
  const UpmClipData *d = mtd_data (handle, &clip_impl);

  return d != NULL ? g_quark_to_string (d->preset) : NULL;
}

/* --------------------------------------------------------------- caption */

/**
 * gst_upm_caption_mtd_get_mtd_type:
 *
 * Returns: the type of the "upm-caption" Mtds
 */
GstAnalyticsMtdType
gst_upm_caption_mtd_get_mtd_type (void)
{
  return (GstAnalyticsMtdType)&caption_impl;
}

/**
 * gst_upm_relation_meta_add_caption_mtd:
 * @meta: a #GstAnalyticsRelationMeta
 * @text: the caption, UTF-8
 * @score: its length-penalised log-probability
 * @ids: (array length=n_ids): its token ids, up to the end token
 * @n_ids: the number of @ids
 * @caption_mtd: (out caller-allocates) (nullable): the new Mtd
 *
 * Adds a "upm-caption" Mtd to @meta; the text and the ids are copied into
 * it.
 *
 * Returns: whether it was added
 */
gboolean
gst_upm_relation_meta_add_caption_mtd (GstAnalyticsRelationMeta *meta,
    const gchar *text, gfloat score, const gint32 *ids, guint n_ids,
    GstUpmCaptionMtd *caption_mtd)
{
  gsize len, size;
  UpmCaptionData *d;

  g_return_val_if_fail (meta != NULL && text != NULL, FALSE);
  g_return_val_if_fail (ids != NULL || n_ids == 0, FALSE);
  len = strlen (text);
  if (len >= G_MAXUINT32 || n_ids > G_MAXUINT32 / sizeof (gint32))
    return FALSE;
  size = sizeof (UpmCaptionData) + n_ids * sizeof (gint32) + len + 1;
  d = gst_analytics_relation_meta_add_mtd (
      meta, &caption_impl, size, caption_mtd);
  if (d == NULL)
    return FALSE;
  d->score = score;
  d->n_ids = n_ids;
  d->text_len = len;
  if (n_ids > 0)
    memcpy (d->ids, ids, n_ids * sizeof (gint32));
  memcpy ((gchar *)(d->ids + n_ids), text, len + 1);
  return TRUE;
}

/**
 * gst_upm_relation_meta_get_caption_mtd:
 * @meta: a #GstAnalyticsRelationMeta
 * @id: the Mtd's id in @meta
 * @caption_mtd: (out caller-allocates): the Mtd
 *
 * Returns: whether @id is a "upm-caption" Mtd of @meta
 */
gboolean
gst_upm_relation_meta_get_caption_mtd (
    GstAnalyticsRelationMeta *meta, guint id, GstUpmCaptionMtd *caption_mtd)
{
  return get_mtd (meta, id, &caption_impl, caption_mtd);
}

/**
 * gst_upm_caption_mtd_get_text:
 * @handle: a "upm-caption" Mtd
 *
 * Returns: (nullable): the caption, owned by the meta
 */
const gchar *
gst_upm_caption_mtd_get_text (const GstUpmCaptionMtd *handle)
{
  const UpmCaptionData *d = mtd_data (handle, &caption_impl);

  return d != NULL ? (const gchar *)(d->ids + d->n_ids) : NULL;
}

/**
 * gst_upm_caption_mtd_get_score:
 * @handle: a "upm-caption" Mtd
 *
 * Returns: the caption's length-penalised log-probability
 */
gfloat
gst_upm_caption_mtd_get_score (const GstUpmCaptionMtd *handle)
{
  const UpmCaptionData *d = mtd_data (handle, &caption_impl);

  return d != NULL ? d->score : 0.0f;
}

/**
 * gst_upm_caption_mtd_get_ids:
 * @handle: a "upm-caption" Mtd
 * @n_ids: (out): the number of ids
 *
 * Returns: (array length=n_ids) (nullable): the token ids, owned by the
 *   meta
 */
const gint32 *
gst_upm_caption_mtd_get_ids (const GstUpmCaptionMtd *handle, guint *n_ids)
{
  const UpmCaptionData *d = mtd_data (handle, &caption_impl);

  *n_ids = d != NULL ? d->n_ids : 0;
  return d != NULL ? d->ids : NULL;
}

/* --------------------------------------------------------------- routing */

/**
 * gst_upm_routing_mtd_get_mtd_type:
 *
 * Returns: the type of the "upm-routing" Mtds
 */
GstAnalyticsMtdType
gst_upm_routing_mtd_get_mtd_type (void)
{
  return (GstAnalyticsMtdType)&routing_impl;
}

static void
route_to_data (const GstUpmRoute *r, UpmRouteData *d)
{
  d->layer = r->layer;
  d->gate = r->gate;
  d->token_begin = r->token_begin;
  d->token_end = r->token_end;
  d->expert[0] = r->expert[0];
  d->expert[1] = r->expert[1];
  d->weight[0] = r->weight[0];
  d->weight[1] = r->weight[1];
  d->segment = quark_or_zero (r->segment);
}

/**
 * gst_upm_relation_meta_add_routing_mtd:
 * @meta: a #GstAnalyticsRelationMeta
 * @model: the model's name
 * @n_layers: its layers
 * @n_experts: its experts per MoE layer
 * @routes: (array length=n_routes): the per-segment routes
 * @n_routes: the number of @routes
 * @routing_mtd: (out caller-allocates) (nullable): the new Mtd
 *
 * Adds a "upm-routing" Mtd to @meta, a copy of @routes.
 *
 * Returns: whether it was added
 */
gboolean
gst_upm_relation_meta_add_routing_mtd (GstAnalyticsRelationMeta *meta,
    const gchar *model, guint n_layers, guint n_experts,
    const GstUpmRoute *routes, guint n_routes, GstUpmRoutingMtd *routing_mtd)
{
  UpmRoutingData *d;

  g_return_val_if_fail (meta != NULL, FALSE);
  g_return_val_if_fail (routes != NULL || n_routes == 0, FALSE);
  if (n_routes > G_MAXUINT32 / sizeof (UpmRouteData))
    return FALSE;
  d = gst_analytics_relation_meta_add_mtd (meta, &routing_impl,
      sizeof (UpmRoutingData) + (gsize)n_routes * sizeof (UpmRouteData),
      routing_mtd);
  if (d == NULL)
    return FALSE;
  d->n_layers = n_layers;
  d->n_experts = n_experts;
  d->n_routes = n_routes;
  d->model = quark_or_zero (model);
  for (guint i = 0; i < n_routes; i++)
    route_to_data (&routes[i], &d->routes[i]);
  return TRUE;
}

/**
 * gst_upm_relation_meta_get_routing_mtd:
 * @meta: a #GstAnalyticsRelationMeta
 * @id: the Mtd's id in @meta
 * @routing_mtd: (out caller-allocates): the Mtd
 *
 * Returns: whether @id is a "upm-routing" Mtd of @meta
 */
gboolean
gst_upm_relation_meta_get_routing_mtd (
    GstAnalyticsRelationMeta *meta, guint id, GstUpmRoutingMtd *routing_mtd)
{
  return get_mtd (meta, id, &routing_impl, routing_mtd);
}

/**
 * gst_upm_routing_mtd_get_model:
 * @handle: a "upm-routing" Mtd
 *
 * Returns: (nullable): the model's name
 */
const gchar *
gst_upm_routing_mtd_get_model (const GstUpmRoutingMtd *handle)
{
  const UpmRoutingData *d = mtd_data (handle, &routing_impl);

  return d != NULL ? g_quark_to_string (d->model) : NULL;
}

/**
 * gst_upm_routing_mtd_get_n_layers:
 * @handle: a "upm-routing" Mtd
 *
 * Returns: the model's layers
 */
guint
gst_upm_routing_mtd_get_n_layers (const GstUpmRoutingMtd *handle)
{
  const UpmRoutingData *d = mtd_data (handle, &routing_impl);

  return d != NULL ? d->n_layers : 0;
}

/**
 * gst_upm_routing_mtd_get_n_experts:
 * @handle: a "upm-routing" Mtd
 *
 * Returns: the model's experts per MoE layer
 */
guint
gst_upm_routing_mtd_get_n_experts (const GstUpmRoutingMtd *handle)
{
  const UpmRoutingData *d = mtd_data (handle, &routing_impl);

  return d != NULL ? d->n_experts : 0;
}

/**
 * gst_upm_routing_mtd_get_n_routes:
 * @handle: a "upm-routing" Mtd
 *
 * Returns: the number of routes
 */
guint
gst_upm_routing_mtd_get_n_routes (const GstUpmRoutingMtd *handle)
{
  const UpmRoutingData *d = mtd_data (handle, &routing_impl);

  return d != NULL ? d->n_routes : 0;
}

/**
 * gst_upm_routing_mtd_get_route:
 * @handle: a "upm-routing" Mtd
 * @index: the route, below gst_upm_routing_mtd_get_n_routes()
 * @route: (out caller-allocates): the route (its segment name interned)
 *
 * Returns: whether @index is a route of @handle
 */
gboolean
gst_upm_routing_mtd_get_route (
    const GstUpmRoutingMtd *handle, guint index, GstUpmRoute *route)
{
  const UpmRoutingData *d = mtd_data (handle, &routing_impl);
  const UpmRouteData *r;

  g_return_val_if_fail (route != NULL, FALSE);
  if (d == NULL || index >= d->n_routes)
    return FALSE;
  r = &d->routes[index];
  route->layer = r->layer;
  route->gate
      = r->gate == GST_UPM_GATE_FFN ? GST_UPM_GATE_FFN : GST_UPM_GATE_ATTN;
  route->segment = g_quark_to_string (r->segment);
  route->token_begin = r->token_begin;
  route->token_end = r->token_end;
  route->expert[0] = r->expert[0];
  route->expert[1] = r->expert[1];
  route->weight[0] = r->weight[0];
  route->weight[1] = r->weight[1];
  return TRUE;
}

/* ---------------------------------------------------------------- buffer */

/* The clip CONTAINs @mtd, which IS_PART_OF the clip. */
static void
relate_to_clip (GstAnalyticsRelationMeta *meta, const GstUpmClipMtd *clip,
    const GstAnalyticsMtd *mtd)
{
  gst_analytics_relation_meta_set_relation (
      meta, GST_ANALYTICS_REL_TYPE_CONTAIN, clip->id, mtd->id);
  gst_analytics_relation_meta_set_relation (
      meta, GST_ANALYTICS_REL_TYPE_IS_PART_OF, mtd->id, clip->id);
}

/* A ClsMtd of the top-k of @result: labels as quarks, the probabilities as
 * confidences, best first. */
static gboolean
add_cls_mtd (GstAnalyticsRelationMeta *meta, const GstUpmResultMeta *result,
    GstAnalyticsClsMtd *cls)
{
  gfloat *levels = g_new (gfloat, MAX (result->n_scores, 1));
  GQuark *quarks = g_new (GQuark, MAX (result->n_scores, 1));
  gboolean ok;

  for (guint i = 0; i < result->n_scores; i++)
    {
      levels[i] = result->scores[i].prob;
      quarks[i] = g_quark_from_string (result->scores[i].label);
    }
  ok = gst_analytics_relation_meta_add_cls_mtd (
      meta, result->n_scores, levels, quarks, cls);
  g_free (quarks);
  g_free (levels);
  return ok;
}

static guint
n_view_metas (GstBuffer *buffer)
{
  guint n = 0;
  GstUpmViewMeta **views = gst_buffer_get_upm_view_metas (buffer, &n);

  g_free (views);
  return MAX (n, 1);
}

/**
 * gst_upm_buffer_add_analytics:
 * @buffer: a writable #GstBuffer with a result or a caption meta
 *
 * Maps the uniperceiver metas of @buffer onto a #GstAnalyticsRelationMeta
 * (the one it has, else a new one): a "upm-clip" Mtd, a
 * #GstAnalyticsClsMtd for a #GstUpmResultMeta, a "upm-caption" Mtd for a
 * #GstUpmCaptionMeta and a "upm-routing" Mtd for a #GstUpmRoutingMeta, the
 * clip related to each (docs/analytics.md). upmhead calls it on every
 * result.
 *
 * Returns: (transfer none) (nullable): the relation meta, %NULL when
 *   @buffer has neither a result nor a caption meta
 */
GstAnalyticsRelationMeta *
gst_upm_buffer_add_analytics (GstBuffer *buffer)
{
  GstUpmResultMeta *result = gst_buffer_get_upm_result_meta (buffer);
  GstUpmCaptionMeta *caption = gst_buffer_get_upm_caption_meta (buffer);
  GstUpmRoutingMeta *routing = gst_buffer_get_upm_routing_meta (buffer);
  GstAnalyticsRelationMeta *meta;
  GstUpmClipMtd clip;
  GstAnalyticsMtd mtd;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  if (result == NULL && caption == NULL)
    return NULL;
  meta = gst_buffer_get_analytics_relation_meta (buffer);
  if (meta == NULL)
    meta = gst_buffer_add_analytics_relation_meta (buffer);
  if (meta == NULL)
    return NULL;

  if (!gst_upm_relation_meta_add_clip_mtd (meta,
          result ? result->pts : caption->pts,
          result ? result->duration : caption->duration, n_view_metas (buffer),
          result ? result->task : "caption",
          result ? result->preset : caption->preset, &clip))
    return meta;
  if (result != NULL && add_cls_mtd (meta, result, &mtd))
    relate_to_clip (meta, &clip, &mtd);
  if (caption != NULL
      && gst_upm_relation_meta_add_caption_mtd (meta, caption->text,
          caption->score, caption->ids, caption->n_ids, &mtd))
    relate_to_clip (meta, &clip, &mtd);
  if (routing != NULL
      && gst_upm_relation_meta_add_routing_mtd (meta, routing->model,
          routing->n_layers, routing->n_experts, routing->routes,
          routing->n_routes, &mtd))
    relate_to_clip (meta, &clip, &mtd);
  return meta;
}
