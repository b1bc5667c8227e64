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

/* ---------------------------------------------------------- registration */

static void result_free_fields (GstMeta *meta);
static GstMeta *result_copy (GstBuffer *dest, GstMeta *meta);
static void caption_free_fields (GstMeta *meta);
static GstMeta *caption_copy (GstBuffer *dest, GstMeta *meta);
static void routing_free_fields (GstMeta *meta);
static GstMeta *routing_copy (GstBuffer *dest, GstMeta *meta);
static void view_free_fields (GstMeta *meta);
static GstMeta *view_copy (GstBuffer *dest, GstMeta *meta);

typedef enum
{
  META_RESULT,
  META_CAPTION,
  META_ROUTING,
  META_VIEW,
  N_METAS
} MetaKind;

/* What the metas differ in; they share init, free and transform. */
typedef struct
{
  const gchar *api, *impl;
  gsize size;
  gsize pts_offset, duration_offset;
  void (*free_fields) (GstMeta *meta);               /* what the meta owns */
  GstMeta *(*copy) (GstBuffer *dest, GstMeta *meta); /* a deep copy */
} MetaClass;

/* clang-format off */
#define META_CLASS(Type, free_fields, copy)                                    \
  { #Type "API", #Type, sizeof (Type), G_STRUCT_OFFSET (Type, pts),            \
    G_STRUCT_OFFSET (Type, duration), free_fields, copy }
/* clang-format on */

static const MetaClass meta_classes[N_METAS] = {
  META_CLASS (GstUpmResultMeta, result_free_fields, result_copy),
  META_CLASS (GstUpmCaptionMeta, caption_free_fields, caption_copy),
  META_CLASS (GstUpmRoutingMeta, routing_free_fields, routing_copy),
  META_CLASS (GstUpmViewMeta, view_free_fields, view_copy),
};

static GType meta_api (MetaKind kind);

/* The class of @meta, one of ours: result, caption, routing, else view. */
static const MetaClass *
meta_class (const GstMeta *meta)
{
  guint k;

  for (k = 0; k < N_METAS - 1; k++)
    if (meta->info->api == meta_api (k))
      break;
  return &meta_classes[k];
}

/* Zeroes the fields after the GstMeta header (NULL pointers, no items). */
static void
clear_fields (GstMeta *meta, const MetaClass *c)
{
  memset ((guint8 *)meta + sizeof (GstMeta), 0, c->size - sizeof (GstMeta));
}

static gboolean
meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  const MetaClass *c = meta_class (meta);

  clear_fields (meta, c);
  G_STRUCT_MEMBER (GstClockTime, meta, c->pts_offset) = GST_CLOCK_TIME_NONE;
  G_STRUCT_MEMBER (GstClockTime, meta, c->duration_offset)
      = GST_CLOCK_TIME_NONE;
  return TRUE;
}

static void
meta_free (GstMeta *meta, GstBuffer *buffer)
{
  const MetaClass *c = meta_class (meta);

  c->free_fields (meta);
  clear_fields (meta, c);
}

/* Copies (deep) only: the metas describe the whole clip. */
static gboolean
meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
    gpointer data)
{
  if (!GST_META_TRANSFORM_IS_COPY (type))
    return FALSE;
  return meta_class (meta)->copy (dest, meta) != NULL;
}

/* Empty tags: the metas describe the clip, not its pixels, so video
 * transforms (convert, scale, crop) keep them. */
static GType
meta_api (MetaKind kind)
{
  static gsize types[N_METAS];
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&types[kind]))
    {
      GType t = gst_meta_api_type_register (meta_classes[kind].api, tags);
      g_once_init_leave (&types[kind], t);
    }
  return (GType)types[kind];
}

static const GstMetaInfo *
meta_info (MetaKind kind)
{
  static const GstMetaInfo *infos[N_METAS];
  const MetaClass *c = &meta_classes[kind];

  if (g_once_init_enter ((GstMetaInfo **)&infos[kind]))
    {
      const GstMetaInfo *mi = gst_meta_register (meta_api (kind), c->impl,
          c->size, meta_init, meta_free, meta_transform);
      g_once_init_leave ((GstMetaInfo **)&infos[kind], (GstMetaInfo *)mi);
    }
  return infos[kind];
}

/* A new meta on @buffer with its times, the rest zero; NULL on failure. */
static gpointer
add_meta (GstBuffer *buffer, const GstMetaInfo *info, GstClockTime pts,
    GstClockTime duration)
{
  GstMeta *meta = gst_buffer_add_meta (buffer, info, NULL);
  const MetaClass *c;

  if (meta == NULL)
    return NULL;
  c = meta_class (meta);
  G_STRUCT_MEMBER (GstClockTime, meta, c->pts_offset) = pts;
  G_STRUCT_MEMBER (GstClockTime, meta, c->duration_offset) = duration;
  return meta;
}

/* ---------------------------------------------------------------- result */

static void
upm_scores_free (GstUpmScore *scores, guint n_scores)
{
  guint i;

  for (i = 0; i < n_scores; i++)
    g_free (scores[i].label);
  g_free (scores);
}

static void
result_free_fields (GstMeta *meta)
{
  GstUpmResultMeta *m = (GstUpmResultMeta *)meta;

  g_free (m->task);
  g_free (m->score_kind);
  g_free (m->preset);
  upm_scores_free (m->scores, m->n_scores);
}

static GstMeta *
result_copy (GstBuffer *dest, GstMeta *meta)
{
  GstUpmResultMeta *m = (GstUpmResultMeta *)meta;
  GstUpmResultMeta *copy = gst_buffer_add_upm_result_meta (
      dest, m->task, m->pts, m->duration, m->scores, m->n_scores);

  if (copy != NULL)
    {
      gst_upm_result_meta_set_score_kind (copy, m->score_kind);
      gst_upm_result_meta_set_preset (copy, m->preset);
      copy->precision = m->precision;
    }
  return (GstMeta *)copy;
}

void
gst_upm_result_meta_set_preset (GstUpmResultMeta *meta, const gchar *preset)
{
  g_return_if_fail (meta != NULL);

  g_free (meta->preset);
  meta->preset = g_strdup (preset);
}

void
gst_upm_result_meta_set_precision (
    GstUpmResultMeta *meta, const gchar *precision)
{
  g_return_if_fail (meta != NULL);

  meta->precision = g_intern_string (precision);
}

void
gst_upm_result_meta_set_score_kind (
    GstUpmResultMeta *meta, const gchar *score_kind)
{
  g_return_if_fail (meta != NULL);

  g_free (meta->score_kind);
  meta->score_kind = g_strdup (score_kind);
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

  m = add_meta (buffer, GST_UPM_RESULT_META_INFO, pts, duration);
  if (!m)
    return NULL;
  m->task = g_strdup (task);
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

static void
caption_free_fields (GstMeta *meta)
{
  GstUpmCaptionMeta *m = (GstUpmCaptionMeta *)meta;

  g_free (m->text);
  g_free (m->ids);
  g_free (m->preset);
}

static GstMeta *
caption_copy (GstBuffer *dest, GstMeta *meta)
{
  GstUpmCaptionMeta *m = (GstUpmCaptionMeta *)meta;
  GstUpmCaptionMeta *copy = gst_buffer_add_upm_caption_meta (
      dest, m->text, m->ids, m->n_ids, m->score, m->pts, m->duration);

  if (copy != NULL)
    gst_upm_caption_meta_set_preset (copy, m->preset);
  copy->precision = m->precision;
  return (GstMeta *)copy;
}

void
gst_upm_caption_meta_set_preset (GstUpmCaptionMeta *meta, const gchar *preset)
{
  g_return_if_fail (meta != NULL);

  g_free (meta->preset);
  meta->preset = g_strdup (preset);
}

void
gst_upm_caption_meta_set_precision (
    GstUpmCaptionMeta *meta, const gchar *precision)
{
  g_return_if_fail (meta != NULL);

  meta->precision = g_intern_string (precision);
}

GstUpmCaptionMeta *
gst_buffer_add_upm_caption_meta (GstBuffer *buffer, const gchar *text,
    const gint32 *ids, guint n_ids, gfloat score, GstClockTime pts,
    GstClockTime duration)
{
  GstUpmCaptionMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (ids != NULL || n_ids == 0, NULL);

  m = add_meta (buffer, GST_UPM_CAPTION_META_INFO, pts, duration);
  if (!m)
    return NULL;
  m->text = g_strdup (text);
  m->ids = n_ids ? g_memdup2 (ids, n_ids * sizeof (gint32)) : NULL;
  m->n_ids = n_ids;
  m->score = score;
  return m;
}

/* --------------------------------------------------------------- routing */

static void
routing_free_fields (GstMeta *meta)
{
  GstUpmRoutingMeta *m = (GstUpmRoutingMeta *)meta;
  guint i;

  g_free (m->model);
  g_free (m->routes);
  for (i = 0; i < m->n_token_routes; i++)
    g_free (m->token_routes[i].experts);
  g_free (m->token_routes);
}

static GstMeta *
routing_copy (GstBuffer *dest, GstMeta *meta)
{
  return (GstMeta *)gst_buffer_copy_upm_routing_meta (
      dest, (GstUpmRoutingMeta *)meta);
}

GstUpmRoutingMeta *
gst_buffer_add_upm_routing_meta (GstBuffer *buffer, const gchar *model,
    guint n_layers, guint n_experts, GstClockTime pts, GstClockTime duration,
    const GstUpmRoute *routes, guint n_routes)
{
  GstUpmRoutingMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (routes != NULL || n_routes == 0, NULL);

  m = add_meta (buffer, GST_UPM_ROUTING_META_INFO, pts, duration);
  if (!m)
    return NULL;
  m->n_layers = n_layers;
  m->n_experts = n_experts;
  m->model = g_strdup (model);
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

void
gst_upm_routing_meta_set_precision (
    GstUpmRoutingMeta *meta, const gchar *precision)
{
  g_return_if_fail (meta != NULL);

  meta->precision = g_intern_string (precision);
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
  m->precision = src->precision;
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

/* ------------------------------------------------------------------ view */

static void
view_free_fields (GstMeta *meta)
{
  GstUpmViewMeta *m = (GstUpmViewMeta *)meta;

  g_free (m->frames);
  g_free (m->frame_pts);
}

static GstMeta *
view_copy (GstBuffer *dest, GstMeta *meta)
{
  return (GstMeta *)gst_buffer_copy_upm_view_meta (
      dest, (GstUpmViewMeta *)meta);
}

GstUpmViewMeta *
gst_buffer_add_upm_view_meta (GstBuffer *buffer, guint64 clip_id, guint view,
    guint n_views, guint temporal_view, guint crop, const guint64 *frames,
    const GstClockTime *frame_pts, guint n_frames, const GstUpmViewBox *box,
    GstClockTime pts, GstClockTime duration)
{
  GstUpmViewMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (n_frames == 0 || (frames && frame_pts), NULL);

  m = add_meta (buffer, GST_UPM_VIEW_META_INFO, pts, duration);
  if (!m)
    return NULL;
  m->clip_id = clip_id;
  m->view = view;
  m->n_views = n_views;
  m->temporal_view = temporal_view;
  m->crop = crop;
  m->n_frames = n_frames;
  m->frames = n_frames ? g_memdup2 (frames, n_frames * sizeof (guint64)) : NULL;
  m->frame_pts = n_frames
                     ? g_memdup2 (frame_pts, n_frames * sizeof (GstClockTime))
                     : NULL;
  if (box != NULL)
    m->box = *box;
  return m;
}

GstUpmViewMeta *
gst_buffer_copy_upm_view_meta (GstBuffer *dest, const GstUpmViewMeta *src)
{
  g_return_val_if_fail (src != NULL, NULL);

  return gst_buffer_add_upm_view_meta (dest, src->clip_id, src->view,
      src->n_views, src->temporal_view, src->crop, src->frames, src->frame_pts,
      src->n_frames, &src->box, src->pts, src->duration);
}

static gint
compare_views (gconstpointer a, gconstpointer b)
{
  const GstUpmViewMeta *va = *(GstUpmViewMeta *const *)a;
  const GstUpmViewMeta *vb = *(GstUpmViewMeta *const *)b;

  if (va->clip_id != vb->clip_id)
    return va->clip_id < vb->clip_id ? -1 : 1;
  return va->view < vb->view ? -1 : (va->view > vb->view);
}

GstUpmViewMeta **
gst_buffer_get_upm_view_metas (GstBuffer *buffer, guint *n_views)
{
  GPtrArray *views;
  gpointer state = NULL;
  GstMeta *meta;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (n_views != NULL, NULL);

  views = g_ptr_array_new ();
  while ((meta = gst_buffer_iterate_meta_filtered (
              buffer, &state, GST_UPM_VIEW_META_API_TYPE)))
    g_ptr_array_add (views, meta);
  /* metas are added at the head of the buffer's list: order by view */
  g_ptr_array_sort (views, compare_views);
  *n_views = views->len;
  if (views->len == 0)
    {
      g_ptr_array_free (views, TRUE);
      return NULL;
    }
  return (GstUpmViewMeta **)g_ptr_array_free (views, FALSE);
}

/* gst_upm_<name>_meta_api_get_type () and gst_upm_<name>_meta_get_info () */
#define DEFINE_META_GETTERS(name, kind)                                        \
  GType gst_upm_##name##_meta_api_get_type (void)                              \
  {                                                                            \
    return meta_api (kind);                                                    \
  }                                                                            \
  const GstMetaInfo *gst_upm_##name##_meta_get_info (void)                     \
  {                                                                            \
    return meta_info (kind);                                                   \
  }

DEFINE_META_GETTERS (result, META_RESULT)
DEFINE_META_GETTERS (caption, META_CAPTION)
DEFINE_META_GETTERS (routing, META_ROUTING)
DEFINE_META_GETTERS (view, META_VIEW)

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
  UpmFormatView *views;
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
  r->rec.scores.kind = m->score_kind;
  r->rec.preset = m->preset;
  r->rec.scores.precision = m->precision;
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
  if (m->preset != NULL)
    r->rec.preset = m->preset;
  c->precision = m->precision;
}

static UpmFormatRoute
format_route (const GstUpmRoute *r)
{
  return (UpmFormatRoute){ r->layer, gst_upm_gate_name (r->gate), r->segment,
    r->token_begin, r->token_end, { r->expert[0], r->expert[1] },
    { r->weight[0], r->weight[1] } };
}

static UpmFormatTokenRoute
format_token_route (const GstUpmTokenRoute *r)
{
  return (UpmFormatTokenRoute){ r->layer, gst_upm_gate_name (r->gate),
    r->segment, r->token_begin, r->n_tokens, r->experts };
}

static void
add_routing (MetasRecord *r, const GstUpmRoutingMeta *m)
{
  UpmFormatRouting *f = &r->rec.routing;
  guint i;

  r->routes = g_new0 (UpmFormatRoute, MAX (m->n_routes, 1));
  for (i = 0; i < m->n_routes; i++)
    r->routes[i] = format_route (&m->routes[i]);
  r->token_routes = g_new0 (UpmFormatTokenRoute, MAX (m->n_token_routes, 1));
  for (i = 0; i < m->n_token_routes; i++)
    r->token_routes[i] = format_token_route (&m->token_routes[i]);
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
  f->precision = m->precision;
}

static void
add_views (MetasRecord *r, GstBuffer *buffer)
{
  guint n = 0;
  GstUpmViewMeta **metas = gst_buffer_get_upm_view_metas (buffer, &n);

  if (metas == NULL)
    return;
  r->views = g_new0 (UpmFormatView, n);
  for (guint i = 0; i < n; i++)
    {
      const GstUpmViewMeta *m = metas[i];
      UpmFormatView *v = &r->views[i];

      v->view = m->view;
      v->n_views = m->n_views;
      v->temporal_view = m->temporal_view;
      v->crop = m->crop;
      v->n_frames = m->n_frames;
      v->frames = m->frames;
      v->pts = m->frame_pts;
      v->x = m->box.x;
      v->y = m->box.y;
      v->width = m->box.width;
      v->height = m->box.height;
      v->resized_width = m->box.resized_width;
      v->resized_height = m->box.resized_height;
      v->resized_x = m->box.resized_x;
      v->resized_y = m->box.resized_y;
      v->resized_size = m->box.resized_size;
    }
  r->rec.views = r->views;
  r->rec.n_views = n;
  g_free (metas);
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
  add_views (&r, buffer);
  s = g_string_new (NULL);
  upm_format_json (s, &r.rec, UPM_FORMAT_JSON_METAS);
  g_free (r.views);
  g_free (r.scores);
  g_free (r.routes);
  g_free (r.token_routes);
  return g_string_free (s, FALSE);
}
