/* gstupmcommon.c: what the uniperceiver elements share: the task enum, the
 * caption prefix memory, routes from the library. The shared model is in
 * gstupmmodelslot.c.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmcommon.h"

/* ------------------------------------------------------------ pad queries */

GstCaps *
gst_upm_caps_filter (GstCaps *caps, GstCaps *filter)
{
  GstCaps *res;

  if (filter == NULL)
    return caps;
  res = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
  gst_caps_unref (caps);
  return res;
}

gboolean
gst_upm_answer_caps_query (
    GstQuery *query, GstElement *element, GstUpmCapsFunc caps_func)
{
  GstCaps *filter, *caps;

  gst_query_parse_caps (query, &filter);
  caps = gst_upm_caps_filter (caps_func (element), filter);
  gst_query_set_caps_result (query, caps);
  gst_caps_unref (caps);
  return TRUE;
}

gboolean
gst_upm_answer_latency_query (GstQuery *query, GstElement *element,
    GstPad *sinkpad, GstClockTime min_add, GstClockTime max_add, gboolean *live)
{
  GstClockTime min, max;
  gboolean is_live;

  if (!gst_pad_peer_query (sinkpad, query))
    return FALSE;
  gst_query_parse_latency (query, &is_live, &min, &max);
  min += min_add;
  if (GST_CLOCK_TIME_IS_VALID (max))
    max += max_add;
  GST_DEBUG_OBJECT (element,
      "latency: live %d, ours %" GST_TIME_FORMAT ", total min %" GST_TIME_FORMAT
      " max %" GST_TIME_FORMAT,
      is_live, GST_TIME_ARGS (min_add), GST_TIME_ARGS (min),
      GST_TIME_ARGS (max));
  gst_query_set_latency (query, is_live, min, max);
  if (live != NULL)
    *live = is_live;
  return TRUE;
}

/* ------------------------------------------------------------------ task */

GType
gst_upm_task_get_type (void)
{
  GST_UPM_ENUM_TYPE_ONCE ("GstUpmTask",
      { GST_UPM_TASK_CLASSIFY, "Classify against a label set", "classify" },
      { GST_UPM_TASK_RETRIEVE, "Rank a set of captions (retrieval)",
          "retrieve" },
      { GST_UPM_TASK_CAPTION, "Generate a caption", "caption" });
}

/* ---------------------------------------------------------------- preset */

GType
gst_upm_preset_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    {
      guint n = upm_n_presets ();
      /* registered once for the process: never freed */
      GEnumValue *values = g_new0 (GEnumValue, n + 1);
      GType t;

      for (guint i = 0; i < n; i++)
        {
          const UpmPreset *p = upm_preset_get (i);

          values[i].value = (gint)i;
          values[i].value_name = p->summary;
          values[i].value_nick = p->name;
        }
      t = g_enum_register_static ("GstUpmPreset", values);
      g_once_init_leave (&type, t);
    }
  return (GType)type;
}

const UpmPreset *
gst_upm_preset_from_value (gint value)
{
  const UpmPreset *p = value >= 0 ? upm_preset_get ((guint)value) : NULL;

  return p ? p : upm_preset_get (GST_UPM_PRESET_DEFAULT);
}

gboolean
gst_upm_preset_task (const UpmPreset *preset, GstUpmTask *task)
{
  switch (preset->task)
    {
    case UPM_TASK_CLASSIFICATION:
      *task = GST_UPM_TASK_CLASSIFY;
      return TRUE;
    case UPM_TASK_RETRIEVAL:
      *task = GST_UPM_TASK_RETRIEVE;
      return TRUE;
    case UPM_TASK_CAPTION:
      *task = GST_UPM_TASK_CAPTION;
      return TRUE;
    default:
      return FALSE;
    }
}

GstUpmViewBox
gst_upm_view_box (const UpmCropBox *box)
{
  return (GstUpmViewBox){ box->src_x, box->src_y, box->src_w, box->src_h,
    box->width, box->height, box->resized_w, box->resized_h, box->x, box->y,
    box->size };
}

gboolean
gst_upm_check_preset (
    GstElement *element, UpmModel *model, const UpmPreset *preset)
{
  GError *err = NULL;
  g_autofree gchar *names = NULL;

  if (model == NULL || upm_model_suits_preset (model, preset, &err))
    return TRUE;
  names = upm_preset_names ();
  GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
      ("The model does not suit preset=%s: %s.", preset->name, err->message),
      ("choose a model made for this benchmark, or another preset (%s)",
          names));
  g_clear_error (&err);
  return FALSE;
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

/* ------------------------------------------------------- caption prefix */

/* The allocator of prefix memories: it allocates nothing by itself (the
 * library makes the prefix); it names the memory type and frees, copies and
 * shares by reference. */
typedef struct
{
  GstAllocator parent;
} GstUpmPrefixAllocator;

typedef struct
{
  GstAllocatorClass parent_class;
} GstUpmPrefixAllocatorClass;

static GType gst_upm_prefix_allocator_get_type (void);
G_DEFINE_TYPE (
    GstUpmPrefixAllocator, gst_upm_prefix_allocator, GST_TYPE_ALLOCATOR);

static GstAllocator *
gst_upm_prefix_allocator_get (void)
{
  static GstAllocator *allocator = NULL;

  if (g_once_init_enter (&allocator))
    {
      GstAllocator *a
          = g_object_new (gst_upm_prefix_allocator_get_type (), NULL);

      gst_object_ref_sink (a);
      /* lives as long as the process, like the system allocator */
      GST_OBJECT_FLAG_SET (a, GST_OBJECT_FLAG_MAY_BE_LEAKED);
      g_once_init_leave (&allocator, a);
    }
  return allocator;
}

static GstMemory *
prefix_memory_new (UpmModel *model, UpmPrefix *prefix)
{
  GstUpmPrefixMemory *mem = g_new0 (GstUpmPrefixMemory, 1);

  gst_memory_init (GST_MEMORY_CAST (mem),
      GST_MEMORY_FLAG_NOT_MAPPABLE | GST_MEMORY_FLAG_READONLY,
      gst_upm_prefix_allocator_get (), NULL, 0, 0, 0, 0);
  mem->model = upm_model_ref (model);
  mem->prefix = upm_prefix_ref (prefix);
  return GST_MEMORY_CAST (mem);
}

static GstMemory *
gst_upm_prefix_allocator_alloc (
    GstAllocator *allocator, gsize size, GstAllocationParams *params)
{
  return NULL;
}

static void
gst_upm_prefix_allocator_free (GstAllocator *allocator, GstMemory *memory)
{
  GstUpmPrefixMemory *mem = (GstUpmPrefixMemory *)memory;

  upm_prefix_unref (mem->prefix);
  upm_model_unref (mem->model);
  g_free (mem);
}

static gpointer
prefix_memory_map (GstMemory *memory, gsize maxsize, GstMapFlags flags)
{
  return NULL;
}

static void
prefix_memory_unmap (GstMemory *memory)
{
}

/* The prefix is read-only once made: copies and shares refer to it (as
 * whole memories: there is no part of a prefix to share). */
static GstMemory *
prefix_memory_copy (GstMemory *memory, gssize offset, gssize size)
{
  GstUpmPrefixMemory *mem = (GstUpmPrefixMemory *)memory;

  return prefix_memory_new (mem->model, mem->prefix);
}

static void
gst_upm_prefix_allocator_class_init (GstUpmPrefixAllocatorClass *klass)
{
  GstAllocatorClass *allocator_class = GST_ALLOCATOR_CLASS (klass);

  allocator_class->alloc = gst_upm_prefix_allocator_alloc;
  allocator_class->free = gst_upm_prefix_allocator_free;
}

static void
gst_upm_prefix_allocator_init (GstUpmPrefixAllocator *self)
{
  GstAllocator *allocator = GST_ALLOCATOR_CAST (self);

  allocator->mem_type = GST_UPM_PREFIX_MEMORY_TYPE;
  allocator->mem_map = prefix_memory_map;
  allocator->mem_unmap = prefix_memory_unmap;
  allocator->mem_copy = prefix_memory_copy;
  allocator->mem_share = prefix_memory_copy;
  GST_OBJECT_FLAG_SET (self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
}

GstMemory *
gst_upm_prefix_memory_new (UpmModel *model, UpmPrefix *prefix)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (prefix != NULL, NULL);

  return prefix_memory_new (model, prefix);
}

gboolean
gst_is_upm_prefix_memory (GstMemory *memory)
{
  return memory != NULL
         && gst_memory_is_type (memory, GST_UPM_PREFIX_MEMORY_TYPE);
}

GstUpmPrefixMemory *
gst_buffer_peek_upm_prefix_memory (GstBuffer *buffer)
{
  GstMemory *memory;

  if (gst_buffer_n_memory (buffer) != 1)
    return NULL;
  memory = gst_buffer_peek_memory (buffer, 0);
  return gst_is_upm_prefix_memory (memory) ? (GstUpmPrefixMemory *)memory
                                           : NULL;
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

GParamSpec *
gst_upm_batch_wait_param_spec (void)
{
  return g_param_spec_uint ("batch-wait", "Batch wait",
      "Microseconds a clip (or caption step) may wait for those of other "
      "streams of the same model in this process, so that they run as one "
      "batch (a lone stream never waits; 0: no batching)",
      0, GST_UPM_MAX_BATCH_WAIT, GST_UPM_DEFAULT_BATCH_WAIT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
}
