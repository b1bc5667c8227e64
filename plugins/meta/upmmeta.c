/* upmmeta.c: buffer metas of the uniperceiver GStreamer plugin.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "upmmeta.h"

#include "upm-format.h"

#include <string.h>

/* Empty tags: the metas describe the clip, not its pixels, so video
 * transforms (convert, scale, crop) keep them. */
static GType
register_api (const gchar *name)
{
  static const gchar *tags[] = { NULL };

  return gst_meta_api_type_register (name, tags);
}

/* ---------------------------------------------------------------- result */

GType
gst_upm_result_meta_api_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    {
      GType t = register_api ("GstUpmResultMetaAPI");
      g_once_init_leave (&type, t);
    }
  return (GType)type;
}

static gboolean
gst_upm_result_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstUpmResultMeta *m = (GstUpmResultMeta *)meta;

  m->task = NULL;
  m->pts = GST_CLOCK_TIME_NONE;
  m->duration = GST_CLOCK_TIME_NONE;
  m->n_scores = 0;
  m->scores = NULL;
  return TRUE;
}

static void
upm_scores_free (GstUpmScore *scores, guint n_scores)
{
  guint i;

  for (i = 0; i < n_scores; i++)
    g_free (scores[i].label);
  g_free (scores);
}

static void
gst_upm_result_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstUpmResultMeta *m = (GstUpmResultMeta *)meta;

  g_free (m->task);
  upm_scores_free (m->scores, m->n_scores);
  m->task = NULL;
  m->scores = NULL;
  m->n_scores = 0;
}

static gboolean
gst_upm_result_meta_transform (GstBuffer *dest, GstMeta *meta,
    GstBuffer *buffer, GQuark type, gpointer data)
{
  GstUpmResultMeta *m = (GstUpmResultMeta *)meta;

  if (!GST_META_TRANSFORM_IS_COPY (type))
    return FALSE;
  return gst_buffer_add_upm_result_meta (
             dest, m->task, m->pts, m->duration, m->scores, m->n_scores)
         != NULL;
}

const GstMetaInfo *
gst_upm_result_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **)&info))
    {
      const GstMetaInfo *mi
          = gst_meta_register (GST_UPM_RESULT_META_API_TYPE, "GstUpmResultMeta",
              sizeof (GstUpmResultMeta), gst_upm_result_meta_init,
              gst_upm_result_meta_free, gst_upm_result_meta_transform);
      g_once_init_leave ((GstMetaInfo **)&info, (GstMetaInfo *)mi);
    }
  return info;
}

GstUpmResultMeta *
gst_buffer_add_upm_result_meta (GstBuffer *buffer, const gchar *task,
    GstClockTime pts, GstClockTime duration, const GstUpmScore *scores,
    guint n_scores)
{
  GstUpmResultMeta *m;
  guint i;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (scores != NULL || n_scores == 0, NULL);

  m = (GstUpmResultMeta *)gst_buffer_add_meta (
      buffer, GST_UPM_RESULT_META_INFO, NULL);
  if (!m)
    return NULL;
  m->task = g_strdup (task);
  m->pts = pts;
  m->duration = duration;
  m->n_scores = n_scores;
  m->scores = n_scores ? g_new0 (GstUpmScore, n_scores) : NULL;
  for (i = 0; i < n_scores; i++)
    {
      m->scores[i] = scores[i];
      m->scores[i].label = g_strdup (scores[i].label);
    }
  return m;
}

/* --------------------------------------------------------------- caption */

GType
gst_upm_caption_meta_api_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    {
      GType t = register_api ("GstUpmCaptionMetaAPI");
      g_once_init_leave (&type, t);
    }
  return (GType)type;
}

static gboolean
gst_upm_caption_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstUpmCaptionMeta *m = (GstUpmCaptionMeta *)meta;

  m->text = NULL;
  m->ids = NULL;
  m->n_ids = 0;
  m->score = 0.0f;
  m->pts = GST_CLOCK_TIME_NONE;
  m->duration = GST_CLOCK_TIME_NONE;
  return TRUE;
}

static void
gst_upm_caption_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstUpmCaptionMeta *m = (GstUpmCaptionMeta *)meta;

  g_free (m->text);
  g_free (m->ids);
  m->text = NULL;
  m->ids = NULL;
  m->n_ids = 0;
}

static gboolean
gst_upm_caption_meta_transform (GstBuffer *dest, GstMeta *meta,
    GstBuffer *buffer, GQuark type, gpointer data)
{
  GstUpmCaptionMeta *m = (GstUpmCaptionMeta *)meta;

  if (!GST_META_TRANSFORM_IS_COPY (type))
    return FALSE;
  return gst_buffer_add_upm_caption_meta (
             dest, m->text, m->ids, m->n_ids, m->score, m->pts, m->duration)
         != NULL;
}

const GstMetaInfo *
gst_upm_caption_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **)&info))
    {
      const GstMetaInfo *mi = gst_meta_register (GST_UPM_CAPTION_META_API_TYPE,
          "GstUpmCaptionMeta", sizeof (GstUpmCaptionMeta),
          gst_upm_caption_meta_init, gst_upm_caption_meta_free,
          gst_upm_caption_meta_transform);
      g_once_init_leave ((GstMetaInfo **)&info, (GstMetaInfo *)mi);
    }
  return info;
}

GstUpmCaptionMeta *
gst_buffer_add_upm_caption_meta (GstBuffer *buffer, const gchar *text,
    const gint32 *ids, guint n_ids, gfloat score, GstClockTime pts,
    GstClockTime duration)
{
  GstUpmCaptionMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (ids != NULL || n_ids == 0, NULL);

  m = (GstUpmCaptionMeta *)gst_buffer_add_meta (
      buffer, GST_UPM_CAPTION_META_INFO, NULL);
  if (!m)
    return NULL;
  m->text = g_strdup (text);
  m->ids = n_ids ? g_memdup2 (ids, n_ids * sizeof (gint32)) : NULL;
  m->n_ids = n_ids;
  m->score = score;
  m->pts = pts;
  m->duration = duration;
  return m;
}

/* --------------------------------------------------------------- routing */

GType
gst_upm_routing_meta_api_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    {
      GType t = register_api ("GstUpmRoutingMetaAPI");
      g_once_init_leave (&type, t);
    }
  return (GType)type;
}

static gboolean
gst_upm_routing_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstUpmRoutingMeta *m = (GstUpmRoutingMeta *)meta;

  m->model = NULL;
  m->n_layers = 0;
  m->n_experts = 0;
  m->pts = GST_CLOCK_TIME_NONE;
  m->duration = GST_CLOCK_TIME_NONE;
  m->n_routes = 0;
  m->routes = NULL;
  m->n_token_routes = 0;
  m->token_routes = NULL;
  m->visual_begin = 0;
  m->grid_width = 0;
  m->grid_height = 0;
  m->n_frames = 0;
  return TRUE;
}

static void
gst_upm_routing_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstUpmRoutingMeta *m = (GstUpmRoutingMeta *)meta;
  guint i;

  g_free (m->model);
  g_free (m->routes);
  for (i = 0; i < m->n_token_routes; i++)
    g_free (m->token_routes[i].experts);
  g_free (m->token_routes);
  m->model = NULL;
  m->routes = NULL;
  m->n_routes = 0;
  m->token_routes = NULL;
  m->n_token_routes = 0;
}

static gboolean
gst_upm_routing_meta_transform (GstBuffer *dest, GstMeta *meta,
    GstBuffer *buffer, GQuark type, gpointer data)
{
  GstUpmRoutingMeta *m = (GstUpmRoutingMeta *)meta;

  if (!GST_META_TRANSFORM_IS_COPY (type))
    return FALSE;
  return gst_buffer_copy_upm_routing_meta (dest, m) != NULL;
}

const GstMetaInfo *
gst_upm_routing_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **)&info))
    {
      const GstMetaInfo *mi = gst_meta_register (GST_UPM_ROUTING_META_API_TYPE,
          "GstUpmRoutingMeta", sizeof (GstUpmRoutingMeta),
          gst_upm_routing_meta_init, gst_upm_routing_meta_free,
          gst_upm_routing_meta_transform);
      g_once_init_leave ((GstMetaInfo **)&info, (GstMetaInfo *)mi);
    }
  return info;
}

GstUpmRoutingMeta *
gst_buffer_add_upm_routing_meta (GstBuffer *buffer, const gchar *model,
    guint n_layers, guint n_experts, GstClockTime pts, GstClockTime duration,
    const GstUpmRoute *routes, guint n_routes)
{
  GstUpmRoutingMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (routes != NULL || n_routes == 0, NULL);

  m = (GstUpmRoutingMeta *)gst_buffer_add_meta (
      buffer, GST_UPM_ROUTING_META_INFO, NULL);
  if (!m)
    return NULL;
  m->model = g_strdup (model);
  m->n_layers = n_layers;
  m->n_experts = n_experts;
  m->pts = pts;
  m->duration = duration;
  gst_upm_routing_meta_append (m, routes, n_routes);
  return m;
}

void
gst_upm_routing_meta_append (
    GstUpmRoutingMeta *meta, const GstUpmRoute *routes, guint n_routes)
{
  guint i;

  g_return_if_fail (meta != NULL);
  g_return_if_fail (routes != NULL || n_routes == 0);

  if (n_routes == 0)
    return;
  meta->routes
      = g_renew (GstUpmRoute, meta->routes, (gsize)meta->n_routes + n_routes);
  for (i = 0; i < n_routes; i++)
    {
      GstUpmRoute *r = &meta->routes[meta->n_routes + i];

      *r = routes[i];
      r->segment = g_intern_string (routes[i].segment);
    }
  meta->n_routes += n_routes;
}

const GstUpmTokenRoute *
gst_upm_routing_meta_add_token_routes (GstUpmRoutingMeta *meta, guint layer,
    GstUpmGate gate, const gchar *segment, guint token_begin, guint n_tokens,
    const guint8 *experts)
{
  GstUpmTokenRoute *r;

  g_return_val_if_fail (meta != NULL, NULL);
  g_return_val_if_fail (experts != NULL || n_tokens == 0, NULL);
  g_return_val_if_fail (n_tokens <= G_MAXUINT - token_begin, NULL);

  meta->token_routes = g_renew (
      GstUpmTokenRoute, meta->token_routes, (gsize)meta->n_token_routes + 1);
  r = &meta->token_routes[meta->n_token_routes++];
  r->layer = layer;
  r->gate = gate;
  r->segment = g_intern_string (segment);
  r->token_begin = token_begin;
  r->n_tokens = n_tokens;
  r->experts = n_tokens ? g_memdup2 (experts, (gsize)n_tokens * 2) : NULL;
  return r;
}

const GstUpmTokenRoute *
gst_upm_routing_meta_find_token_route (
    const GstUpmRoutingMeta *meta, guint layer, GstUpmGate gate, guint token)
{
  guint i;

  g_return_val_if_fail (meta != NULL, NULL);

  for (i = 0; i < meta->n_token_routes; i++)
    {
      const GstUpmTokenRoute *r = &meta->token_routes[i];

      if (r->layer == layer && r->gate == gate && token >= r->token_begin
          && token - r->token_begin < r->n_tokens)
        return r;
    }
  return NULL;
}

void
gst_upm_routing_meta_set_visual_grid (GstUpmRoutingMeta *meta,
    guint visual_begin, guint grid_width, guint grid_height, guint n_frames)
{
  g_return_if_fail (meta != NULL);

  meta->visual_begin = visual_begin;
  meta->grid_width = grid_width;
  meta->grid_height = grid_height;
  meta->n_frames = n_frames;
}

GstUpmRoutingMeta *
gst_buffer_copy_upm_routing_meta (GstBuffer *dest, const GstUpmRoutingMeta *src)
{
  GstUpmRoutingMeta *m;
  guint i;

  g_return_val_if_fail (GST_IS_BUFFER (dest), NULL);
  g_return_val_if_fail (src != NULL, NULL);

  m = gst_buffer_add_upm_routing_meta (dest, src->model, src->n_layers,
      src->n_experts, src->pts, src->duration, src->routes, src->n_routes);
  if (m == NULL)
    return NULL;
  for (i = 0; i < src->n_token_routes; i++)
    {
      const GstUpmTokenRoute *r = &src->token_routes[i];

      gst_upm_routing_meta_add_token_routes (m, r->layer, r->gate, r->segment,
          r->token_begin, r->n_tokens, r->experts);
    }
  gst_upm_routing_meta_set_visual_grid (
      m, src->visual_begin, src->grid_width, src->grid_height, src->n_frames);
  return m;
}

const gchar *
gst_upm_gate_name (GstUpmGate gate)
{
  switch (gate)
    {
    case GST_UPM_GATE_ATTN:
      return "attn";
    case GST_UPM_GATE_FFN:
      return "ffn";
    }
  return "unknown";
}

/* ------------------------------------------------------------------ JSON */

G_STATIC_ASSERT (GST_CLOCK_TIME_NONE == UPM_FORMAT_TIME_NONE);

static UpmFormatSpan
span (GstClockTime pts, GstClockTime duration)
{
  UpmFormatSpan s = { pts, duration };

  return s;
}

/* The metas of a buffer as the formatter's record, and what it points to. */
typedef struct
{
  UpmFormatRecord rec;
  UpmFormatScore *scores;
  UpmFormatRoute *routes;
  UpmFormatTokenRoute *token_routes;
} MetasRecord;

static void
add_result (MetasRecord *r, const GstUpmResultMeta *m)
{
  guint i;

  r->scores = g_new0 (UpmFormatScore, MAX (m->n_scores, 1));
  for (i = 0; i < m->n_scores; i++)
    {
      r->scores[i].label = m->scores[i].label;
      r->scores[i].index = m->scores[i].index;
      r->scores[i].logit = m->scores[i].logit;
      r->scores[i].prob = m->scores[i].prob;
    }
  r->rec.task = m->task;
  r->rec.scores.present = TRUE;
  r->rec.scores.span = span (m->pts, m->duration);
  r->rec.scores.items = r->scores;
  r->rec.scores.n_items = m->n_scores;
}

static void
add_caption (MetasRecord *r, const GstUpmCaptionMeta *m)
{
  UpmFormatCaption *c = &r->rec.caption;

  c->present = TRUE;
  c->span = span (m->pts, m->duration);
  c->text = m->text;
  c->ids = m->ids;
  c->n_ids = m->n_ids;
  c->score = m->score;
}

static UpmFormatRoute *
format_routes (const GstUpmRoute *routes, guint n)
{
  UpmFormatRoute *out = g_new0 (UpmFormatRoute, MAX (n, 1));
  guint i;

  for (i = 0; i < n; i++)
    {
      out[i].layer = routes[i].layer;
      out[i].gate = gst_upm_gate_name (routes[i].gate);
      out[i].segment = routes[i].segment;
      out[i].token_begin = routes[i].token_begin;
      out[i].token_end = routes[i].token_end;
      memcpy (out[i].expert, routes[i].expert, sizeof out[i].expert);
      memcpy (out[i].weight, routes[i].weight, sizeof out[i].weight);
    }
  return out;
}

static UpmFormatTokenRoute *
format_token_routes (const GstUpmTokenRoute *routes, guint n)
{
  UpmFormatTokenRoute *out = g_new0 (UpmFormatTokenRoute, MAX (n, 1));
  guint i;

  for (i = 0; i < n; i++)
    {
      out[i].layer = routes[i].layer;
      out[i].gate = gst_upm_gate_name (routes[i].gate);
      out[i].segment = routes[i].segment;
      out[i].token_begin = routes[i].token_begin;
      out[i].n_tokens = routes[i].n_tokens;
      out[i].experts = routes[i].experts;
    }
  return out;
}

static void
add_routing (MetasRecord *r, const GstUpmRoutingMeta *m)
{
  UpmFormatRouting *f = &r->rec.routing;

  r->routes = format_routes (m->routes, m->n_routes);
  r->token_routes = format_token_routes (m->token_routes, m->n_token_routes);
  f->present = TRUE;
  f->span = span (m->pts, m->duration);
  f->model = m->model;
  f->n_layers = m->n_layers;
  f->n_experts = m->n_experts;
  f->routes = r->routes;
  f->n_routes = m->n_routes;
  f->token_routes = r->token_routes;
  f->n_token_routes = m->n_token_routes;
  f->visual_begin = m->visual_begin;
  f->grid_width = m->grid_width;
  f->grid_height = m->grid_height;
  f->grid_frames = m->n_frames;
}

gchar *
gst_upm_buffer_metas_to_json (GstBuffer *buffer)
{
  MetasRecord r = { 0 };
  GstUpmResultMeta *result;
  GstUpmCaptionMeta *caption;
  GstUpmRoutingMeta *routing;
  GString *s;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);

  r.rec.span = span (GST_BUFFER_PTS (buffer), GST_BUFFER_DURATION (buffer));
  if ((result = gst_buffer_get_upm_result_meta (buffer)))
    add_result (&r, result);
  if ((caption = gst_buffer_get_upm_caption_meta (buffer)))
    add_caption (&r, caption);
  if ((routing = gst_buffer_get_upm_routing_meta (buffer)))
    add_routing (&r, routing);
  s = g_string_new (NULL);
  upm_format_json (s, &r.rec, UPM_FORMAT_JSON_METAS);
  g_free (r.scores);
  g_free (r.routes);
  g_free (r.token_routes);
  return g_string_free (s, FALSE);
}
