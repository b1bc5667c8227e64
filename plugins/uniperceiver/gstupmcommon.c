/* gstupmcommon.c: what the uniperceiver elements share: the task enum, the
 * prefix meta, routes from the library. The shared model is in
 * gstupmmodelslot.c.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmcommon.h"

/* ------------------------------------------------------------------ task */

GType
gst_upm_task_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GST_UPM_TASK_CLASSIFY, "Classify against a label set", "classify" },
    { GST_UPM_TASK_RETRIEVE, "Rank a set of captions (retrieval)", "retrieve" },
    { GST_UPM_TASK_CAPTION, "Generate a caption", "caption" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type))
    {
      GType t = g_enum_register_static ("GstUpmTask", values);
      g_once_init_leave (&type, t);
    }
  return (GType)type;
}

const gchar *
gst_upm_task_nick (GstUpmTask task)
{
  GEnumClass *klass = g_type_class_ref (GST_TYPE_UPM_TASK);
  GEnumValue *v = g_enum_get_value (klass, task);
  const gchar *nick = v ? v->value_nick : NULL;

  g_type_class_unref (klass);
  return nick;
}

gboolean
gst_upm_task_from_nick (const gchar *nick, GstUpmTask *task)
{
  GEnumClass *klass;
  GEnumValue *v;

  if (!nick)
    return FALSE;
  klass = g_type_class_ref (GST_TYPE_UPM_TASK);
  v = g_enum_get_value_by_nick (klass, nick);
  if (v && task)
    *task = (GstUpmTask)v->value;
  g_type_class_unref (klass);
  return v != NULL;
}

UpmAttr
gst_upm_task_input_attr (GstUpmTask task, const gchar *modality)
{
  gboolean text = g_strcmp0 (modality, "text") == 0;

  switch (task)
    {
    case GST_UPM_TASK_CLASSIFY:
      return text ? UPM_ATTR_TEXT_INPUT : UPM_ATTR_CLS_INPUT;
    case GST_UPM_TASK_RETRIEVE:
      return text ? UPM_ATTR_RETRIEVAL_TARGET : UPM_ATTR_RETRIEVAL_INPUT;
    case GST_UPM_TASK_CAPTION:
      return UPM_ATTR_CAPTION_PREFIX;
    }
  return UPM_ATTR_CLS_INPUT;
}

/* -------------------------------------------------- caption prefix (internal)
 */

GType
gst_upm_prefix_meta_api_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    {
      static const gchar *tags[] = { NULL };
      GType t = gst_meta_api_type_register ("GstUpmPrefixMetaAPI", tags);
      g_once_init_leave (&type, t);
    }
  return (GType)type;
}

static gboolean
gst_upm_prefix_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstUpmPrefixMeta *m = (GstUpmPrefixMeta *)meta;

  m->prefix = NULL;
  m->model = NULL;
  return TRUE;
}

static void
gst_upm_prefix_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstUpmPrefixMeta *m = (GstUpmPrefixMeta *)meta;

  if (m->prefix)
    upm_prefix_unref (m->prefix);
  if (m->model)
    upm_model_unref (m->model);
  m->prefix = NULL;
  m->model = NULL;
}

static gboolean
gst_upm_prefix_meta_transform (GstBuffer *dest, GstMeta *meta,
    GstBuffer *buffer, GQuark type, gpointer data)
{
  GstUpmPrefixMeta *m = (GstUpmPrefixMeta *)meta;

  if (!GST_META_TRANSFORM_IS_COPY (type))
    return FALSE;
  /* The prefix is read-only once made: the copy shares it by reference. */
  return gst_buffer_add_upm_prefix_meta (dest, m->model, m->prefix) != NULL;
}

const GstMetaInfo *
gst_upm_prefix_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **)&info))
    {
      const GstMetaInfo *mi
          = gst_meta_register (GST_UPM_PREFIX_META_API_TYPE, "GstUpmPrefixMeta",
              sizeof (GstUpmPrefixMeta), gst_upm_prefix_meta_init,
              gst_upm_prefix_meta_free, gst_upm_prefix_meta_transform);
      g_once_init_leave ((GstMetaInfo **)&info, (GstMetaInfo *)mi);
    }
  return info;
}

GstUpmPrefixMeta *
gst_buffer_add_upm_prefix_meta (
    GstBuffer *buffer, UpmModel *model, UpmPrefix *prefix)
{
  GstUpmPrefixMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (prefix != NULL, NULL);

  m = (GstUpmPrefixMeta *)gst_buffer_add_meta (
      buffer, gst_upm_prefix_meta_get_info (), NULL);
  if (!m)
    return NULL;
  m->model = upm_model_ref (model);
  m->prefix = upm_prefix_ref (prefix);
  return m;
}

/* ---------------------------------------------------------------- routing */

GstUpmRoute *
gst_upm_routes_from_library (const UpmRouting *routing, guint *n_routes)
{
  GstUpmRoute *routes;
  guint i, n;

  g_return_val_if_fail (n_routes != NULL, NULL);

  n = routing && routing->routes ? routing->routes->len : 0;
  *n_routes = n;
  if (n == 0)
    return NULL;
  routes = g_new0 (GstUpmRoute, n);
  for (i = 0; i < n; i++)
    {
      const UpmRoute *r = &g_array_index (routing->routes, UpmRoute, i);
      const char *name = upm_attr_name (r->attr);

      routes[i].layer = r->layer;
      routes[i].gate
          = r->gate == UPM_GATE_FFN ? GST_UPM_GATE_FFN : GST_UPM_GATE_ATTN;
      routes[i].segment = g_intern_string (name ? name : "unknown");
      routes[i].token_begin = r->token_begin;
      routes[i].token_end = r->token_end;
      routes[i].expert[0] = r->expert[0];
      routes[i].expert[1] = r->expert[1];
      routes[i].weight[0] = r->weight[0];
      routes[i].weight[1] = r->weight[1];
    }
  return routes;
}
