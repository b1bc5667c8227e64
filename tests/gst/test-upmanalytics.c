/* test-upmanalytics.c: the results of the uniperceiver elements read the way
 * an app with nothing but GStreamer reads them: through the GstAnalytics API
 * of GStreamer 1.26 (relation meta, classification Mtd, tensor meta) and
 * the custom Mtds' documented layouts (docs/analytics.md), with no header
 * of this project. Each value is checked against the "upm-result" message
 * the head posts for the same clip, or against the buffer it describes.
 * Where GStreamer < 1.26 (or the analytics option is off) it skips (77).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/gst.h>

#ifndef UPM_HAVE_GST_ANALYTICS

int
main (void)
{
  g_print ("SKIP: built without GstAnalytics (GStreamer < 1.26 or "
           "-Danalytics=disabled)\n");
  return 77;
}

#else

#include <gst/analytics/analytics.h>
#include <gst/app/gstappsink.h>
#include <gst/check/gstcheck.h>
#include <math.h>
#include <string.h>

/* docs/analytics.md: the custom Mtds' data, as a reader without our
 * header declares it */
typedef struct
{
  guint64 pts, duration;
  guint32 n_views, task, preset, reserved;
} ClipData;

typedef struct
{
  gfloat score;
  guint32 n_ids, text_len;
  gint32 ids[];
} CaptionData;

typedef struct
{
  guint32 layer, gate, token_begin, token_end, expert[2];
  gfloat weight[2];
  guint32 segment;
} RouteData;

typedef struct
{
  guint32 n_layers, n_experts, n_routes, model;
  RouteData routes[];
} RoutingData;

static gchar *model_path;

typedef struct
{
  GList *messages;   /* "upm-result" structures, in order */
  guint n_tensors;   /* buffers seen with a checked tensor meta */
  guint n_untensors; /* buffers that should have had one and did not */
} Seen;

/* A tensor meta that describes @buf exactly: one FLOAT32 row-major tensor
 * @id of [rows, dim] whose data are the buffer's bytes. */
static GstPadProbeReturn
check_tensor_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  const gchar *id = g_object_get_data (G_OBJECT (pad), "tensor-id");
  Seen *seen = user_data;
  GstTensorMeta *tmeta = gst_buffer_get_tensor_meta (buf);
  const GstTensor *t;
  GstMapInfo a, b;
  gsize n_dims = 0, *dims;

  if (tmeta == NULL)
    {
      seen->n_untensors++;
      return GST_PAD_PROBE_OK;
    }
  fail_unless_equals_int ((gint)tmeta->num_tensors, 1);
  t = gst_tensor_meta_get (tmeta, 0);
  fail_unless_equals_string (g_quark_to_string (t->id), id);
  fail_unless_equals_int (
      gst_tensor_meta_get_index_from_id (tmeta, g_quark_from_string (id)), 0);
  fail_unless_equals_int (t->data_type, GST_TENSOR_DATA_TYPE_FLOAT32);
  fail_unless_equals_int (t->dims_order, GST_TENSOR_DIM_ORDER_ROW_MAJOR);
  fail_unless_equals_int (t->layout, GST_TENSOR_LAYOUT_CONTIGUOUS);
  dims = gst_tensor_get_dims ((GstTensor *)t, &n_dims);
  fail_unless_equals_int ((gint)n_dims, 2);
  fail_unless (dims[0] >= 1 && dims[1] >= 1);
  fail_unless_equals_uint64 (
      dims[0] * dims[1] * sizeof (gfloat), gst_buffer_get_size (buf));
  if (g_str_equal (id, "upm-spe-hidden"))
    fail_unless_equals_int ((gint)dims[0], 1);
  fail_unless (gst_buffer_map (t->data, &a, GST_MAP_READ));
  fail_unless (gst_buffer_map (buf, &b, GST_MAP_READ));
  fail_unless_equals_uint64 (a.size, b.size);
  fail_unless (memcmp (a.data, b.data, a.size) == 0);
  gst_buffer_unmap (buf, &b);
  gst_buffer_unmap (t->data, &a);
  seen->n_tensors++;
  return GST_PAD_PROBE_OK;
}

static void
probe_element (
    GstElement *pipeline, const gchar *factory, const gchar *id, Seen *seen)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GValue v = G_VALUE_INIT;
  gboolean found = FALSE;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK)
    {
      GstElement *e = g_value_get_object (&v);
      GstElementFactory *f = gst_element_get_factory (e);

      if (f != NULL && g_str_equal (GST_OBJECT_NAME (f), factory))
        {
          GstPad *src = gst_element_get_static_pad (e, "src");

          g_object_set_data_full (
              G_OBJECT (src), "tensor-id", g_strdup (id), g_free);
          gst_pad_add_probe (
              src, GST_PAD_PROBE_TYPE_BUFFER, check_tensor_probe, seen, NULL);
          gst_object_unref (src);
          found = TRUE;
        }
      g_value_reset (&v);
    }
  g_value_unset (&v);
  gst_iterator_free (it);
  fail_unless (found, "no %s in the pipeline", factory);
}

/* Runs @n_frames of videotestsrc through upmbin @props; returns the output
 * buffers; the "upm-result" messages go to @seen. */
static GList *
run (const gchar *props, guint n_frames, Seen *seen, gboolean probe_spe)
{
  gchar *desc
      = g_strdup_printf ("videotestsrc num-buffers=%u ! "
                         "video/x-raw,width=64,height=48,framerate=8/1 ! "
                         "upmbin model=%s %s ! appsink name=sink sync=false",
          n_frames, model_path, props);
  GstElement *pipeline = gst_parse_launch (desc, NULL), *sink;
  GstBus *bus;
  GstMessage *msg;
  GList *buffers = NULL;
  GstSample *sample;

  fail_unless (pipeline != NULL, "could not make %s", desc);
  g_free (desc);
  /* upmbin makes its chain when it is made */
  probe_element (pipeline, "upmencoder", "upm-embeddings", seen);
  if (probe_spe)
    probe_element (pipeline, "upmtransformer", "upm-spe-hidden", seen);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  while ((sample = gst_app_sink_try_pull_sample (
              GST_APP_SINK (sink), 300 * GST_SECOND))
         != NULL)
    {
      buffers = g_list_append (
          buffers, gst_buffer_ref (gst_sample_get_buffer (sample)));
      gst_sample_unref (sample);
    }
  fail_unless (gst_app_sink_is_eos (GST_APP_SINK (sink)), "no EOS in time");

  bus = gst_element_get_bus (pipeline);
  while ((msg = gst_bus_pop (bus)) != NULL)
    {
      const GstStructure *s = gst_message_get_structure (msg);

      fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
          && gst_structure_has_name (s, "upm-result"))
        seen->messages = g_list_append (seen->messages, gst_structure_copy (s));
      gst_message_unref (msg);
    }
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  return buffers;
}

static void
seen_clear (Seen *seen)
{
  g_list_free_full (seen->messages, (GDestroyNotify)gst_structure_free);
  memset (seen, 0, sizeof (*seen));
}

/* The one Mtd of @rmeta whose type is named @name. */
static gboolean
find_named (
    GstAnalyticsRelationMeta *rmeta, const gchar *name, GstAnalyticsMtd *out)
{
  gpointer state = NULL;
  GstAnalyticsMtd mtd;
  guint n = 0;

  while (gst_analytics_relation_meta_iterate (
      rmeta, &state, GST_ANALYTICS_MTD_TYPE_ANY, &mtd))
    if (g_str_equal (gst_analytics_mtd_type_get_name (
                         gst_analytics_mtd_get_mtd_type (&mtd)),
            name))
      {
        *out = mtd;
        n++;
      }
  fail_unless (n <= 1, "%u Mtds %s", n, name);
  return n == 1;
}

/* The clip CONTAINs @mtd, which IS_PART_OF it. */
static void
check_related (GstAnalyticsRelationMeta *rmeta, const GstAnalyticsMtd *clip,
    const GstAnalyticsMtd *mtd)
{
  GstAnalyticsMtd rel;
  gpointer state = NULL;
  gboolean found = FALSE;

  fail_unless_equals_int (
      gst_analytics_relation_meta_get_relation (rmeta, clip->id, mtd->id),
      GST_ANALYTICS_REL_TYPE_CONTAIN);
  fail_unless_equals_int (
      gst_analytics_relation_meta_get_relation (rmeta, mtd->id, clip->id),
      GST_ANALYTICS_REL_TYPE_IS_PART_OF);
  while (gst_analytics_relation_meta_get_direct_related (rmeta, clip->id,
      GST_ANALYTICS_REL_TYPE_CONTAIN, GST_ANALYTICS_MTD_TYPE_ANY, &state, &rel))
    found |= rel.id == mtd->id;
  fail_unless (found);
}

/* The "upm-clip" Mtd of @buf: its timing and task match the message. */
static GstAnalyticsMtd
check_clip (GstAnalyticsRelationMeta *rmeta, GstBuffer *buf,
    const GstStructure *msg, const gchar *task)
{
  GstAnalyticsMtd clip;
  const ClipData *d;
  guint64 pts = 0, duration = 0;

  fail_unless (find_named (rmeta, "upm-clip", &clip));
  fail_unless_equals_int (
      (gint)gst_analytics_mtd_get_size (&clip), (gint)sizeof (ClipData));
  d = gst_analytics_relation_meta_get_mtd_data (rmeta, clip.id);
  fail_unless (gst_structure_get_uint64 (msg, "pts", &pts));
  fail_unless (gst_structure_get_uint64 (msg, "duration", &duration));
  fail_unless_equals_uint64 (d->pts, pts);
  fail_unless_equals_uint64 (d->pts, GST_BUFFER_PTS (buf));
  fail_unless_equals_uint64 (d->duration, duration);
  fail_unless_equals_int (d->n_views, 1);
  fail_unless_equals_string (g_quark_to_string (d->task), task);
  fail_unless_equals_string (
      g_quark_to_string (d->preset), gst_structure_get_string (msg, "preset"));
  return clip;
}

/* The "upm-routing" Mtd: a route of each layer and gate, in range. */
static void
check_routing (GstAnalyticsRelationMeta *rmeta, const GstAnalyticsMtd *clip)
{
  GstAnalyticsMtd mtd;
  const RoutingData *d;
  guint i, seen_layers = 0;

  fail_unless (find_named (rmeta, "upm-routing", &mtd));
  check_related (rmeta, clip, &mtd);
  d = gst_analytics_relation_meta_get_mtd_data (rmeta, mtd.id);
  fail_unless (d->n_layers > 0 && d->n_experts > 1 && d->n_routes > 0);
  fail_unless_equals_int ((gint)gst_analytics_mtd_get_size (&mtd),
      (gint)(sizeof (RoutingData) + d->n_routes * sizeof (RouteData)));
  fail_unless (g_quark_to_string (d->model) != NULL);
  for (i = 0; i < d->n_routes; i++)
    {
      const RouteData *r = &d->routes[i];

      fail_unless (r->layer < d->n_layers);
      fail_unless (r->gate <= 1);
      fail_unless (r->token_begin < r->token_end);
      fail_unless (r->expert[0] < d->n_experts && r->expert[1] < d->n_experts);
      fail_unless (r->weight[0] >= r->weight[1]);
      fail_unless (fabsf (r->weight[0] + r->weight[1] - 1.0f) < 1e-3f);
      fail_unless (g_quark_to_string (r->segment) != NULL);
      seen_layers |= 1u << MIN (r->layer, 31);
    }
  fail_unless (seen_layers != 0);
}

static gdouble
array_double (const GstStructure *s, const gchar *field, guint i)
{
  return g_value_get_double (
      gst_value_array_get_value (gst_structure_get_value (s, field), i));
}

GST_START_TEST (test_classification_mtds)
{
  const gchar *labels[] = { "a dog", "a cat", "a red car", "a ball" };
  Seen seen = { 0 };
  GList *buffers, *l, *m;

  buffers = run ("task=classify labels=\"a dog,a cat,a red car,a ball\" "
                 "top-k=3",
      16, &seen, TRUE);
  fail_unless_equals_int (g_list_length (buffers), 4);
  fail_unless_equals_int (g_list_length (seen.messages), 4);
  /* every clip's embeddings and its <SPE> state carried a tensor meta */
  fail_unless_equals_int (seen.n_untensors, 0);
  fail_unless_equals_int (seen.n_tensors, 8);

  for (l = buffers, m = seen.messages; l != NULL; l = l->next, m = m->next)
    {
      GstBuffer *buf = l->data;
      const GstStructure *msg = m->data;
      GstAnalyticsRelationMeta *rmeta
          = gst_buffer_get_analytics_relation_meta (buf);
      GstAnalyticsClsMtd cls;
      GstAnalyticsMtd clip, other;
      gpointer state = NULL;
      guint i;

      fail_unless (rmeta != NULL);
      /* clip, classification, routing */
      fail_unless_equals_int (
          (gint)gst_analytics_relation_get_length (rmeta), 3);
      clip = check_clip (rmeta, buf, msg, "classify");
      fail_unless (gst_analytics_relation_meta_iterate (
          rmeta, &state, gst_analytics_cls_mtd_get_mtd_type (), &cls));
      /* (a handle apart: iterate overwrites it even when it finds none) */
      fail_if (gst_analytics_relation_meta_iterate (
          rmeta, &state, gst_analytics_cls_mtd_get_mtd_type (), &other));
      check_related (rmeta, &clip, &cls);
      /* the top-k of the message, best first: labels and probabilities */
      fail_unless_equals_int ((gint)gst_analytics_cls_mtd_get_length (&cls), 3);
      for (i = 0; i < 3; i++)
        {
          const gchar *label = g_value_get_string (gst_value_array_get_value (
              gst_structure_get_value (msg, "labels"), i));
          gfloat level = gst_analytics_cls_mtd_get_level (&cls, i);

          fail_unless_equals_string (
              g_quark_to_string (gst_analytics_cls_mtd_get_quark (&cls, i)),
              label);
          fail_unless (g_strv_contains (labels, label));
          fail_unless (fabs (level - array_double (msg, "probs", i)) < 1e-6,
              "level %f, prob %f", level, array_double (msg, "probs", i));
          fail_unless (level >= 0.0f && level <= 1.0f);
          if (i > 0)
            fail_unless (
                level <= gst_analytics_cls_mtd_get_level (&cls, i - 1));
        }
      check_routing (rmeta, &clip);
      fail_if (find_named (rmeta, "upm-caption", &clip));
    }
  g_list_free_full (buffers, (GDestroyNotify)gst_buffer_unref);
  seen_clear (&seen);
}

GST_END_TEST;

/* The caption Mtd of @rmeta against the message; returns its text. */
static const gchar *
check_caption (GstAnalyticsRelationMeta *rmeta, const GstAnalyticsMtd *clip,
    const GstStructure *msg)
{
  const GValue *ids = gst_structure_get_value (msg, "ids");
  const CaptionData *d;
  GstAnalyticsMtd mtd;
  gdouble score = 0;
  const gchar *text;
  guint i;

  fail_unless (find_named (rmeta, "upm-caption", &mtd));
  check_related (rmeta, clip, &mtd);
  d = gst_analytics_relation_meta_get_mtd_data (rmeta, mtd.id);
  text = (const gchar *)(d->ids + d->n_ids);
  fail_unless_equals_int ((gint)gst_analytics_mtd_get_size (&mtd),
      (gint)(sizeof (CaptionData) + d->n_ids * sizeof (gint32) + d->text_len
             + 1));
  fail_unless_equals_string (text, gst_structure_get_string (msg, "text"));
  fail_unless_equals_int ((gint)strlen (text), (gint)d->text_len);
  fail_unless (gst_structure_get_double (msg, "score", &score));
  fail_unless (fabs (d->score - score) < 1e-5);
  fail_unless (d->n_ids > 0);
  fail_unless_equals_int ((gint)d->n_ids, (gint)gst_value_array_get_size (ids));
  for (i = 0; i < d->n_ids; i++)
    fail_unless_equals_int (
        d->ids[i], g_value_get_int (gst_value_array_get_value (ids, i)));
  return text;
}

GST_START_TEST (test_caption_mtds)
{
  Seen seen = { 0 };
  GList *buffers, *l, *m;

  buffers = run ("task=caption", 16, &seen, FALSE);
  fail_unless_equals_int (g_list_length (buffers), 4);
  fail_unless_equals_int (g_list_length (seen.messages), 4);
  fail_unless_equals_int (seen.n_untensors, 0);
  fail_unless_equals_int (seen.n_tensors, 4);

  for (l = buffers, m = seen.messages; l != NULL; l = l->next, m = m->next)
    {
      GstBuffer *buf = l->data, *copy;
      GstAnalyticsRelationMeta *rmeta
          = gst_buffer_get_analytics_relation_meta (buf),
          *cmeta;
      GstAnalyticsMtd clip, cls;
      gpointer state = NULL;
      gchar *text;

      fail_unless (rmeta != NULL);
      fail_unless_equals_int (
          (gint)gst_analytics_relation_get_length (rmeta), 3);
      clip = check_clip (rmeta, buf, m->data, "caption");
      text = g_strdup (check_caption (rmeta, &clip, m->data));
      check_routing (rmeta, &clip);
      fail_if (gst_analytics_relation_meta_iterate (
          rmeta, &state, gst_analytics_cls_mtd_get_mtd_type (), &cls));

      /* a copy of the buffer (tee, queue leaks, apps) keeps all of it: the
       * data holds no pointer into the original */
      copy = gst_buffer_copy (buf);
      gst_buffer_unref (buf);
      l->data = copy;
      cmeta = gst_buffer_get_analytics_relation_meta (copy);
      fail_unless (cmeta != NULL && cmeta != rmeta);
      clip = check_clip (cmeta, copy, m->data, "caption");
      fail_unless_equals_string (check_caption (cmeta, &clip, m->data), text);
      g_free (text);
    }
  g_list_free_full (buffers, (GDestroyNotify)gst_buffer_unref);
  seen_clear (&seen);
}

GST_END_TEST;

static Suite *
upmanalytics_suite (void)
{
  Suite *s = suite_create ("upmanalytics");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 600);
  tcase_add_test (tc, test_classification_mtds);
  tcase_add_test (tc, test_caption_mtds);
  suite_add_tcase (s, tc);
  return s;
}

int
main (int argc, char **argv)
{
  const gchar *fixtures = g_getenv ("UPM_FIXTURES");
  Suite *s;
  SRunner *sr;
  gint failed;

  gst_check_init (&argc, &argv);
  if (fixtures == NULL)
    g_error ("UPM_FIXTURES is not set");
  model_path = g_build_filename (fixtures, "tiny-moe.upm", NULL);
  s = upmanalytics_suite ();
  sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  g_free (model_path);
  return failed == 0 ? 0 : 1;
}

#endif /* UPM_HAVE_GST_ANALYTICS */
