/* test-upmhead.c: upmhead, hidden state -> labels, retrieval, captions.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The element runs behind upmencoder ! upmtransformer (the prefix of a
 * caption is made there); every expectation is computed with the library
 * directly, the way upm-run does, on the same patches.
 */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "upm.h"
#include "upmmeta.h"
#include "upm-test-harness.h"

/* tiny-moe: 16 patches of 192 floats per frame, 4 frames, D 64 */
#define TPF 16
#define PDIM 192
#define DIM 64

#define PATCH_CAPS(modality, frames)                                           \
  "application/x-upm-patches, modality=(string)" modality                      \
  ", frames=(int)" #frames ", tokens-per-frame=(int)16, patch-dim=(int)192"

#define CLIP (GST_SECOND / 2)

static gchar *model_path;

static void
prepare (TCase *tc G_GNUC_UNUSED)
{
  model_path = upm_test_use_fixture_model ();
}

static const gchar *const labels4[]
    = { "moving left", "moving right", "a red circle", "a blue square", NULL };
#define LABELS4 "moving left, moving right , a red circle,a blue square"

/* ------------------------------------------------------------- helpers */

static gfloat *
random_patches (guint frames, guint32 seed)
{
  return upm_test_random_floats ((gsize)frames * TPF * PDIM, seed);
}

static GstBuffer *
patches_buffer (const gfloat *patches, guint frames, GstClockTime pts)
{
  GstBuffer *buf = gst_buffer_new_memdup (
      patches, (gsize)frames * TPF * PDIM * sizeof (gfloat));

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = CLIP;
  return buf;
}

static GstBuffer *
clip_buffer (guint frames, guint32 seed, GstClockTime pts)
{
  gfloat *p = random_patches (frames, seed);
  GstBuffer *buf = patches_buffer (p, frames, pts);

  g_free (p);
  return buf;
}

/* Pushes the 4-frame clips @from to @to (seed and start time i * CLIP);
 * each is accepted. */
static void
push_clips (GstHarness *h, guint from, guint to)
{
  guint i;

  for (i = from; i <= to; i++)
    fail_unless_equals_int (
        gst_harness_push (h, clip_buffer (4, i, i * CLIP)), GST_FLOW_OK);
}

/* upmencoder ! upmtransformer ! upmhead name=head @props, playing. */
static GstHarness *
new_chain (const gchar *props, GstBus **bus)
{
  gchar *desc = g_strdup_printf (
      "upmencoder model=%s ! upmtransformer model=%s ! upmhead name=head "
      "model=%s %s",
      model_path, model_path, model_path, props ? props : "");
  GstHarness *h = gst_harness_new_parse (desc);

  g_free (desc);
  if (bus)
    *bus = upm_test_bus_for (h->element);
  return h;
}

static GstElement *
head_of (GstHarness *h)
{
  GstElement *head = gst_harness_find_element (h, "upmhead");

  fail_unless (head != NULL);
  return head;
}

/* Classification or retrieval of one clip, as upm-run computes it. */
static void
expected_scores (UpmModel *m, const gfloat *patches, guint frames,
    const gchar *const *labels, UpmAttr in_attr, UpmAttr target_attr,
    UpmScale scale, guint k, UpmScore *out)
{
  const UpmHParams *hp = upm_model_hparams (m);
  UpmContext *ctx = upm_context_new (m);
  guint n = g_strv_length ((gchar **)labels);
  gfloat feature[DIM], *tf = g_new (gfloat, (gsize)n * DIM);
  gfloat *logits = g_new (gfloat, n), *probs = g_new (gfloat, n);

  fail_unless (
      upm_encode_visual (ctx, patches, frames, in_attr, feature, NULL, NULL));
  fail_unless (upm_model_text_features (m, labels, n, target_attr, tf, NULL));
  upm_classify (
      hp, feature, tf, n, upm_model_logit_scale (m, scale), logits, probs);
  upm_top_k (logits, probs, n, k, out);
  g_free (probs);
  g_free (logits);
  g_free (tf);
  upm_context_free (ctx);
}

static void
assert_scores (GstBuffer *out, GstMessage *msg, const gchar *task,
    const gchar *const *labels, const UpmScore *expect, guint k)
{
  GstUpmResultMeta *meta = gst_buffer_get_upm_result_meta (out);
  const GstStructure *s = gst_message_get_structure (msg);
  const GValue *lv = gst_structure_get_value (s, "labels");
  const GValue *sv = gst_structure_get_value (s, "scores");
  const GValue *pv = gst_structure_get_value (s, "probs");
  gchar num[G_ASCII_DTOSTR_BUF_SIZE], *want, *text;
  GstClockTime pts = 0;
  guint i;

  fail_unless (meta != NULL);
  fail_unless_equals_string (meta->task, task);
  fail_unless_equals_int (meta->n_scores, k);
  fail_unless_equals_uint64 (meta->pts, GST_BUFFER_PTS (out));
  fail_unless_equals_uint64 (meta->duration, GST_BUFFER_DURATION (out));
  fail_unless_equals_string (gst_structure_get_string (s, "task"), task);
  fail_unless (gst_structure_get_uint64 (s, "pts", &pts));
  fail_unless_equals_uint64 (pts, GST_BUFFER_PTS (out));
  fail_unless (GST_VALUE_HOLDS_ARRAY (lv) && GST_VALUE_HOLDS_ARRAY (sv)
               && GST_VALUE_HOLDS_ARRAY (pv));
  fail_unless_equals_int (gst_value_array_get_size (lv), k);

  for (i = 0; i < k; i++)
    {
      fail_unless_equals_int (meta->scores[i].index, expect[i].index);
      fail_unless_equals_string (
          meta->scores[i].label, labels[expect[i].index]);
      fail_unless (fabsf (meta->scores[i].prob - expect[i].prob) < 1e-6f,
          "prob %u: %g != %g", i, meta->scores[i].prob, expect[i].prob);
      fail_unless (fabsf (meta->scores[i].logit - expect[i].logit) < 1e-5f);
      fail_unless_equals_string (
          g_value_get_string (gst_value_array_get_value (lv, i)),
          labels[expect[i].index]);
      fail_unless (fabs (g_value_get_double (gst_value_array_get_value (sv, i))
                         - expect[i].logit)
                   < 1e-5);
      fail_unless (fabs (g_value_get_double (gst_value_array_get_value (pv, i))
                         - expect[i].prob)
                   < 1e-6);
    }

  g_ascii_formatd (num, sizeof num, "%.2f", expect[0].prob);
  want = g_strdup_printf ("%s (%s)", labels[expect[0].index], num);
  text = upm_test_buffer_text (out);
  fail_unless_equals_string (text, want);
  g_free (text);
  g_free (want);
}

static void
expected_caption (UpmModel *m, const gfloat *patches, guint frames, guint beam,
    guint max_length, UpmCaption *cap, UpmRouting *routing)
{
  UpmContext *ctx = upm_context_new (m);
  UpmCaptionParams params = { beam, max_length, -1.0f, NULL };

  fail_unless (upm_caption (ctx, patches, frames, &params, cap, routing, NULL));
  upm_context_free (ctx);
}

static void
assert_caption (GstBuffer *out, GstMessage *msg, const UpmCaption *cap)
{
  GstUpmCaptionMeta *meta = gst_buffer_get_upm_caption_meta (out);
  gchar *text = upm_test_buffer_text (out);
  guint i;

  fail_unless_equals_string (text, cap->text);
  g_free (text);
  fail_unless (meta != NULL);
  fail_unless_equals_string (meta->text, cap->text);
  fail_unless_equals_int (meta->n_ids, cap->n_ids);
  for (i = 0; i < cap->n_ids; i++)
    fail_unless_equals_int (meta->ids[i], cap->ids[i]);
  fail_unless (meta->score == cap->score, "%g != %g", meta->score, cap->score);
  fail_unless_equals_uint64 (meta->pts, GST_BUFFER_PTS (out));

  if (msg != NULL)
    {
      const GstStructure *s = gst_message_get_structure (msg);
      const GValue *ids = gst_structure_get_value (s, "ids");
      gdouble score = 0.0;

      fail_unless_equals_string (
          gst_structure_get_string (s, "task"), "caption");
      fail_unless_equals_string (
          gst_structure_get_string (s, "text"), cap->text);
      fail_unless (gst_structure_get_double (s, "score", &score));
      fail_unless (fabs (score - cap->score) < 1e-6);
      fail_unless (GST_VALUE_HOLDS_ARRAY (ids));
      fail_unless_equals_int (gst_value_array_get_size (ids), cap->n_ids);
      for (i = 0; i < cap->n_ids; i++)
        fail_unless_equals_int (
            g_value_get_int (gst_value_array_get_value (ids, i)), cap->ids[i]);
    }
}

/* A probe on upmhead's source pad that holds result buffers while closed,
 * so that the worker sits in a push; it lets go when the pad flushes. */
typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean closed;
  guint entered;
  GString *trace; /* 'B' buffer, 'G' gap, 'E' EOS, in order */
  GstClockTime pts[32];
  guint n_pts;
} Gate;

static GstPadProbeReturn
gate_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Gate *g = data;

  g_mutex_lock (&g->lock);
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER)
    {
      g->entered++;
      g_string_append_c (g->trace, 'B');
      if (g->n_pts < G_N_ELEMENTS (g->pts))
        g->pts[g->n_pts++] = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));
      g_cond_broadcast (&g->cond);
      while (g->closed && !GST_PAD_IS_FLUSHING (pad))
        g_cond_wait_until (&g->cond, &g->lock,
            g_get_monotonic_time () + 5 * G_TIME_SPAN_MILLISECOND);
    }
  else
    {
      GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);

      if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS)
        g_string_append_c (g->trace, 'E');
      else if (GST_EVENT_TYPE (ev) == GST_EVENT_GAP)
        g_string_append_c (g->trace, 'G');
    }
  g_mutex_unlock (&g->lock);
  return GST_PAD_PROBE_OK;
}

static void
gate_free (gpointer data)
{
  Gate *g = data;

  g_string_free (g->trace, TRUE);
  g_mutex_clear (&g->lock);
  g_cond_clear (&g->cond);
  g_free (g);
}

/* The gate lives as long as the probe (until the pad goes). */
static Gate *
gate_new (GstHarness *h, gboolean closed)
{
  Gate *g = g_new0 (Gate, 1);
  GstElement *head = head_of (h);
  GstPad *src = gst_element_get_static_pad (head, "src");

  g_mutex_init (&g->lock);
  g_cond_init (&g->cond);
  g->closed = closed;
  g->trace = g_string_new (NULL);
  gst_pad_add_probe (src,
      GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      gate_probe, g, gate_free);
  gst_object_unref (src);
  gst_object_unref (head);
  return g;
}

static void
gate_wait_entered (Gate *g, guint n)
{
  /* generous: a failure here means a hang, and valgrind is ~50x slower */
  gint64 end = g_get_monotonic_time () + 600 * G_TIME_SPAN_SECOND;

  g_mutex_lock (&g->lock);
  while (g->entered < n)
    fail_unless (g_cond_wait_until (&g->cond, &g->lock, end),
        "the worker did not produce result %u", n);
  g_mutex_unlock (&g->lock);
}

static void
gate_open (Gate *g)
{
  g_mutex_lock (&g->lock);
  g->closed = FALSE;
  g_cond_broadcast (&g->cond);
  g_mutex_unlock (&g->lock);
}

static gchar *
gate_trace (Gate *g)
{
  gchar *t;

  g_mutex_lock (&g->lock);
  t = g_strdup (g->trace->str);
  g_mutex_unlock (&g->lock);
  return t;
}

static gchar *
write_temp (const gchar *contents, gssize len)
{
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("upmlabels-XXXXXX.txt", &path, NULL);

  fail_unless (fd >= 0);
  close (fd);
  fail_unless (g_file_set_contents (path, contents, len, NULL));
  return path;
}

/* A head alone, brought to READY: returns the state change result and the
 * error text (if any). */
static GstStateChangeReturn
head_to_ready (const gchar *props, gchar **error)
{
  gchar *desc = g_strdup_printf ("upmhead model=%s %s", model_path, props);
  GstElement *head = gst_parse_launch (desc, NULL);
  GstBus *bus = gst_bus_new ();
  GstStateChangeReturn ret;

  fail_unless (head != NULL);
  gst_element_set_bus (head, bus);
  ret = gst_element_set_state (head, GST_STATE_READY);
  *error = upm_test_pop_error (bus);
  gst_element_set_state (head, GST_STATE_NULL);
  gst_object_unref (head);
  upm_test_drop_bus (bus);
  g_free (desc);
  return ret;
}

/* --------------------------------------------------------- properties */

GST_START_TEST (test_property_defaults)
{
  GstElement *head = gst_element_factory_make ("upmhead", NULL);
  GObjectClass *klass = G_OBJECT_GET_CLASS (head);
  gchar *model, *labels, *labels_file;
  guint top_k, beam, max_length, max_pending;
  guint64 dropped, latency;
  gint task, format;
  GParamSpec *p;

  g_object_get (head, "model", &model, "labels", &labels, "labels-file",
      &labels_file, "top-k", &top_k, "beam-size", &beam, "max-length",
      &max_length, "max-pending", &max_pending, "dropped", &dropped,
      "processing-latency", &latency, "task", &task, "text-format", &format,
      NULL);
  fail_unless (model == NULL && labels == NULL && labels_file == NULL);
  fail_unless_equals_int (top_k, 3);
  fail_unless_equals_int (beam, 0);
  fail_unless_equals_int (max_length, 0);
  fail_unless_equals_int (max_pending, 2);
  fail_unless_equals_uint64 (dropped, 0);
  fail_unless_equals_uint64 (latency, 200 * GST_MSECOND);

  p = g_object_class_find_property (klass, "task");
  fail_unless_equals_string (
      g_enum_get_value (G_PARAM_SPEC_ENUM (p)->enum_class, task)->value_nick,
      "classify");
  fail_unless (
      g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (p)->enum_class, "retrieve")
      != NULL);
  fail_unless (
      g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (p)->enum_class, "caption")
      != NULL);
  p = g_object_class_find_property (klass, "text-format");
  fail_unless_equals_string (
      g_enum_get_value (G_PARAM_SPEC_ENUM (p)->enum_class, format)->value_nick,
      "label-score");
  p = g_object_class_find_property (klass, "dropped");
  fail_if (p->flags & G_PARAM_WRITABLE);
  gst_object_unref (head);
}

GST_END_TEST;

GST_START_TEST (test_property_invalid)
{
  GstElement *head = gst_element_factory_make ("upmhead", NULL);
  GObjectClass *klass = G_OBJECT_GET_CLASS (head);
  GParamSpec *p;
  gint task;

  /* Out-of-range values are refused by the specs: top-k 0, max-pending 0
   * (the queue is never unbounded), beam-size 65. */
  upm_test_assert_refused (head, "top-k", "0");
  upm_test_assert_refused (head, "max-pending", "0");
  upm_test_assert_refused (head, "max-pending", "100000");
  upm_test_assert_refused (head, "beam-size", "65");

  /* An unknown task name is refused, the value stays. */
  gst_util_set_object_arg (G_OBJECT (head), "task", "caption");
  gst_util_set_object_arg (G_OBJECT (head), "task", "translate");
  g_object_get (head, "task", &task, NULL);
  p = g_object_class_find_property (klass, "task");
  fail_unless_equals_string (
      g_enum_get_value (G_PARAM_SPEC_ENUM (p)->enum_class, task)->value_nick,
      "caption");
  gst_object_unref (head);
}

GST_END_TEST;

/* ------------------------------------------------------ label errors */

GST_START_TEST (test_labels_missing)
{
  gchar *err = NULL;

  fail_unless_equals_int (
      head_to_ready ("task=classify", &err), GST_STATE_CHANGE_FAILURE);
  fail_unless (err != NULL && strstr (err, "No labels") != NULL
                   && strstr (err, "labels-file") != NULL,
      "%s", GST_STR_NULL (err));
  g_free (err);
  fail_unless_equals_int (
      head_to_ready ("task=retrieve", &err), GST_STATE_CHANGE_FAILURE);
  fail_unless (err != NULL && strstr (err, "No labels") != NULL);
  g_free (err);
  /* captions need none */
  fail_unless_equals_int (
      head_to_ready ("task=caption", &err), GST_STATE_CHANGE_SUCCESS);
  fail_unless (err == NULL);
}

GST_END_TEST;

GST_START_TEST (test_labels_invalid)
{
  gchar *err = NULL;

  fail_unless_equals_int (
      head_to_ready ("labels=\"a,,b\"", &err), GST_STATE_CHANGE_FAILURE);
  fail_unless (
      err != NULL && strstr (err, "item 2") != NULL, "%s", GST_STR_NULL (err));
  g_free (err);
  fail_unless_equals_int (
      head_to_ready ("labels=\" , \"", &err), GST_STATE_CHANGE_FAILURE);
  fail_unless (err != NULL && strstr (err, "empty") != NULL);
  g_free (err);
  fail_unless_equals_int (
      head_to_ready ("labels=\"a, b\" labels-file=/x", &err),
      GST_STATE_CHANGE_FAILURE);
  fail_unless (err != NULL && strstr (err, "exclusive") != NULL);
  g_free (err);
}

GST_END_TEST;

GST_START_TEST (test_labels_file_errors)
{
  const gchar bad[] = "walking\nrunn\xff\xfeing\n";
  gchar *err = NULL, *props, *path;

  fail_unless_equals_int (
      head_to_ready ("labels-file=/nonexistent/labels.txt", &err),
      GST_STATE_CHANGE_FAILURE);
  fail_unless (err != NULL && strstr (err, "/nonexistent/labels.txt") != NULL,
      "%s", GST_STR_NULL (err));
  g_free (err);

  path = write_temp (bad, sizeof bad - 1);
  props = g_strdup_printf ("labels-file=%s", path);
  fail_unless_equals_int (
      head_to_ready (props, &err), GST_STATE_CHANGE_FAILURE);
  fail_unless (err != NULL && strstr (err, path) != NULL
                   && strstr (err, "UTF-8") != NULL
                   && strstr (err, "line 2") != NULL,
      "%s", GST_STR_NULL (err));
  g_free (err);
  g_free (props);
  g_unlink (path);
  g_free (path);

  path = write_temp ("\n  \n", -1);
  props = g_strdup_printf ("labels-file=%s", path);
  fail_unless_equals_int (
      head_to_ready (props, &err), GST_STATE_CHANGE_FAILURE);
  fail_unless (err != NULL && strstr (err, "no labels") != NULL);
  g_free (err);
  g_free (props);
  g_unlink (path);
  g_free (path);

  fail_unless_equals_int (head_to_ready ("task=caption max-length=500", &err),
      GST_STATE_CHANGE_FAILURE);
  fail_unless (err != NULL && strstr (err, "max-length 500") != NULL);
  g_free (err);
}

GST_END_TEST;

/* ------------------------------------------------------ classification */

/* How a clip is scored: the task, its labels, the library's attributes
 * and scale, top-k. */
typedef struct
{
  const gchar *task;
  const gchar *const *labels;
  UpmAttr in_attr, target_attr;
  UpmScale scale;
  guint k;
} Scoring;

static const Scoring classify_video = { "classify", labels4, UPM_ATTR_CLS_INPUT,
  UPM_ATTR_CLS_TARGET, UPM_SCALE_VIDEO_CLS, 3 };

/* Pushes @frames frames of random patches (@seed) at @pts through @h and
 * checks the output and its "upm-result" message against the library's
 * scores; returns the output. */
static GstBuffer *
push_and_check_scores (GstHarness *h, GstBus *bus, guint frames, guint32 seed,
    GstClockTime pts, const Scoring *sc)
{
  UpmModel *m = upm_test_load_model (model_path);
  gfloat *patches = random_patches (frames, seed);
  UpmScore *expect = g_new (UpmScore, sc->k);
  GstMessage *msg;
  GstBuffer *out;

  out = upm_test_push_and_pull_patiently (
      h, patches_buffer (patches, frames, pts));
  fail_unless (out != NULL);
  expected_scores (m, patches, frames, sc->labels, sc->in_attr, sc->target_attr,
      sc->scale, sc->k, expect);
  msg = upm_test_pop_result (bus);
  fail_unless (msg != NULL);
  assert_scores (out, msg, sc->task, sc->labels, expect, sc->k);
  gst_message_unref (msg);
  g_free (expect);
  g_free (patches);
  upm_model_unref (m);
  return out;
}

/* Tears down a harness of new_chain and its bus. */
static void
chain_teardown (GstHarness *h, GstBus *bus)
{
  gst_harness_teardown (h);
  upm_test_drop_bus (bus);
}

GST_START_TEST (test_classify_matches_library)
{
  GstBus *bus;
  GstHarness *h = new_chain ("labels=\"" LABELS4 "\"", &bus);
  GstBuffer *out;

  /* 4-frame clip: the video classification scale */
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  out = push_and_check_scores (h, bus, 4, 21, 3 * CLIP, &classify_video);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 3 * CLIP);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), CLIP);
  /* the routing of the transformer is carried over */
  fail_unless (gst_buffer_get_upm_routing_meta (out) != NULL);
  fail_unless (gst_buffer_get_upm_routing_meta (out)->n_routes > 0);
  gst_buffer_unref (out);
  chain_teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_classify_one_frame)
{
  static const Scoring image = { "classify", labels4, UPM_ATTR_CLS_INPUT,
    UPM_ATTR_CLS_TARGET, UPM_SCALE_IMG_CLS, 4 };
  GstBus *bus;
  GstHarness *h = new_chain ("labels=\"" LABELS4 "\" top-k=10", &bus);

  /* A 1-frame video clip is scored like an image (as upm-run does);
   * top-k is capped by the number of labels. */
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 1));
  gst_buffer_unref (push_and_check_scores (h, bus, 1, 8, 0, &image));
  chain_teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_labels_file)
{
  const gchar *file = "moving left\r\n\n  moving right  \na red circle\n"
                      "a blue square\n\n";
  gchar *path = write_temp (file, -1), *props;
  GstBus *bus;
  GstHarness *h;

  props = g_strdup_printf ("labels-file=%s", path);
  h = new_chain (props, &bus);
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  gst_buffer_unref (push_and_check_scores (h, bus, 4, 22, 0, &classify_video));
  chain_teardown (h, bus);
  g_unlink (path);
  g_free (path);
  g_free (props);
}

GST_END_TEST;

/* labels=@k400: the official Kinetics-400 names (data/labels), scored like
 * the same list given by the library. */
GST_START_TEST (test_labels_named)
{
  GError *error = NULL;
  guint n = 0;
  gchar **k400 = upm_labels_load_named ("k400", &n, &error);
  Scoring sc = { "classify", (const gchar *const *)k400, UPM_ATTR_CLS_INPUT,
    UPM_ATTR_CLS_TARGET, UPM_SCALE_VIDEO_CLS, 5 };
  GstBus *bus;
  GstHarness *h;
  gchar *err = NULL;

  fail_unless (k400 != NULL && n == 400, "%s", error ? error->message : "");
  h = new_chain ("labels=@k400 top-k=5", &bus);
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  gst_buffer_unref (push_and_check_scores (h, bus, 4, 23, 0, &sc));
  chain_teardown (h, bus);
  g_strfreev (k400);

  fail_unless_equals_int (
      head_to_ready ("labels=@no-such-set", &err), GST_STATE_CHANGE_FAILURE);
  fail_unless (err != NULL && strstr (err, "no-such-set") != NULL
                   && strstr (err, "@k400") != NULL,
      "%s", GST_STR_NULL (err));
  g_free (err);
}

GST_END_TEST;

GST_START_TEST (test_retrieve_matches_library)
{
  static const gchar *const texts[] = { "a red circle moving left",
    "a blue square moving right", "a green triangle", NULL };
  static const Scoring retrieve = { "retrieve", texts, UPM_ATTR_RETRIEVAL_INPUT,
    UPM_ATTR_RETRIEVAL_TARGET, UPM_SCALE_RETRIEVE, 2 };
  GstBus *bus;
  GstHarness *h = new_chain ("task=retrieve labels=\"a red circle moving "
                             "left, a blue square moving right, a green "
                             "triangle\" top-k=2",
      &bus);
  GstUpmResultMeta *result;
  GstBuffer *out;

  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  out = push_and_check_scores (h, bus, 4, 5, 0, &retrieve);
  /* outside a retrieval preset: the softmax of the scaled cosine, named as
   * upm-run names it */
  result = gst_buffer_get_upm_result_meta (out);
  fail_unless_equals_string (result->score_kind, "softmax");
  fail_unless_equals_string (result->preset, "default");
  gst_buffer_unref (out);
  chain_teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_text_classify)
{
  static const gint32 ids[] = { 40, 41, 300, 553 };
  GstBus *bus;
  GstHarness *h = new_chain ("labels=\"" LABELS4 "\"", &bus);
  UpmModel *m = upm_test_load_model (model_path);
  const UpmHParams *hp = upm_model_hparams (m);
  UpmContext *ctx = upm_context_new (m);
  guint rows = 1 + G_N_ELEMENTS (ids);
  gfloat *x = g_new (gfloat, rows * DIM), feature[DIM], tf[4 * DIM];
  gfloat logits[4], probs[4];
  UpmSegment seg = { UPM_ATTR_TEXT_INPUT, rows };
  UpmScore expect[3];
  GstMessage *msg;
  GstBuffer *in, *out;

  gst_harness_set_src_caps_str (
      h, "application/x-upm-tokens, modality=(string)text");
  in = gst_buffer_new_memdup (ids, sizeof ids);
  GST_BUFFER_PTS (in) = 0;
  out = upm_test_push_and_pull_patiently (h, in);
  fail_unless (out != NULL);

  /* text input: text_input row, image classification scale */
  fail_unless (upm_embed_text (ctx, ids, G_N_ELEMENTS (ids), x, NULL));
  fail_unless (upm_transformer_forward (
      ctx, x, rows, &seg, 1, UPM_FORWARD_SPE_ONLY, NULL, NULL));
  upm_feature_from_hidden (ctx, x, feature);
  fail_unless (
      upm_model_text_features (m, labels4, 4, UPM_ATTR_CLS_TARGET, tf, NULL));
  upm_classify (hp, feature, tf, 4,
      upm_model_logit_scale (m, UPM_SCALE_IMG_CLS), logits, probs);
  upm_top_k (logits, probs, 4, 3, expect);
  msg = upm_test_pop_result (bus);
  assert_scores (out, msg, "text-classify", labels4, expect, 3);

  gst_message_unref (msg);
  gst_buffer_unref (out);
  g_free (x);
  upm_context_free (ctx);
  upm_model_unref (m);
  chain_teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_text_format)
{
  GstHarness *h = new_chain ("labels=\"" LABELS4 "\" text-format=label", NULL);
  GstElement *head = head_of (h);
  GstUpmResultMeta *meta;
  JsonParser *parser = json_parser_new ();
  JsonObject *root;
  GstBuffer *out;
  gchar *text;

  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  out = upm_test_push_and_pull_patiently (h, clip_buffer (4, 1, 0));
  meta = gst_buffer_get_upm_result_meta (out);
  text = upm_test_buffer_text (out);
  fail_unless_equals_string (text, meta->scores[0].label);
  g_free (text);
  gst_buffer_unref (out);

  /* JSON: all metas of the buffer */
  gst_util_set_object_arg (G_OBJECT (head), "text-format", "json");
  out = upm_test_push_and_pull_patiently (h, clip_buffer (4, 2, CLIP));
  text = upm_test_buffer_text (out);
  fail_unless (json_parser_load_from_data (parser, text, -1, NULL), "%s", text);
  root = json_node_get_object (json_parser_get_root (parser));
  fail_unless (json_object_has_member (root, "result"));
  fail_unless (json_object_has_member (root, "routing"));
  g_free (text);
  gst_buffer_unref (out);
  g_object_unref (parser);
  gst_object_unref (head);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ------------------------------------------------------------ captions */

static void
check_caption (const gchar *props, guint beam, guint max_length)
{
  GstBus *bus;
  GstHarness *h = new_chain (props, &bus);
  UpmModel *m = upm_test_load_model (model_path);
  gfloat *patches = random_patches (4, 31);
  UpmCaption cap;
  UpmRouting routing;
  GstUpmRoutingMeta *rm;
  GstMessage *msg;
  GstBuffer *out;
  guint i;

  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  out = upm_test_push_and_pull_patiently (
      h, patches_buffer (patches, 4, 7 * CLIP));
  fail_unless (out != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 7 * CLIP);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), CLIP);

  upm_routing_init (&routing);
  expected_caption (m, patches, 4, beam, max_length, &cap, &routing);
  msg = upm_test_pop_result (bus);
  fail_unless (msg != NULL);
  assert_caption (out, msg, &cap);

  /* routing: prefix segment from upmtransformer + text segment */
  rm = gst_buffer_get_upm_routing_meta (out);
  fail_unless (rm != NULL);
  fail_unless_equals_int (rm->n_routes, routing.routes->len);
  for (i = 0; i < rm->n_routes; i++)
    {
      const UpmRoute *a = &g_array_index (routing.routes, UpmRoute, i);

      fail_unless_equals_string (
          rm->routes[i].segment, upm_attr_name (a->attr));
      fail_unless_equals_int (rm->routes[i].layer, a->layer);
      fail_unless_equals_int (rm->routes[i].token_begin, a->token_begin);
      fail_unless_equals_int (rm->routes[i].token_end, a->token_end);
      fail_unless_equals_int (rm->routes[i].expert[0], a->expert[0]);
      fail_unless_equals_int (rm->routes[i].expert[1], a->expert[1]);
    }
  fail_unless_equals_string (
      rm->routes[rm->n_routes - 1].segment, "caption_text");

  upm_routing_clear (&routing);
  upm_caption_clear (&cap);
  gst_message_unref (msg);
  gst_buffer_unref (out);
  g_free (patches);
  upm_model_unref (m);
  chain_teardown (h, bus);
}

GST_START_TEST (test_caption_matches_library)
{
  check_caption ("task=caption", 0, 0);
  check_caption ("task=caption beam-size=3 max-length=12", 3, 12);
}

GST_END_TEST;

GST_START_TEST (test_caption_does_not_block)
{
  GstHarness *h = new_chain (
      "task=caption max-pending=4 beam-size=64 max-length=64", NULL);
  Gate *g = gate_new (h, TRUE);
  GstBuffer *out;
  guint i;

  gst_harness_set_live (h, FALSE);
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));

  /* The worker decodes clip 0, then sits in its push behind the gate ... */
  push_clips (h, 0, 0);
  gate_wait_entered (g, 1);
  /* ... and the streaming thread still queues clips and returns: the pushes
   * come back while the worker is still held in its first push (a blocking
   * push would never return before gate_open). No wall-clock bound, so the
   * test means the same under valgrind. */
  push_clips (h, 1, 3);
  g_mutex_lock (&g->lock);
  fail_unless_equals_int (g->entered, 1);
  g_mutex_unlock (&g->lock);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  gate_open (g);
  for (i = 0; i <= 3; i++)
    {
      out = upm_test_pull_patiently (h);
      fail_unless (out != NULL);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * CLIP);
      gst_buffer_unref (out);
    }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_caption_push_faster_than_decode)
{
  GstHarness *h = new_chain (
      "task=caption max-pending=3 beam-size=64 max-length=64", NULL);
  UpmModel *m = upm_test_load_model (model_path);
  gfloat *patches = random_patches (4, 3);
  gint64 t0, push_us = 0, decode_us;
  UpmCaption cap;
  GstBuffer *out;
  guint i;

  gst_harness_set_live (h, FALSE);
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));

  /* the decode time of one clip with the library */
  t0 = g_get_monotonic_time ();
  expected_caption (m, patches, 4, 64, 64, &cap, NULL);
  decode_us = g_get_monotonic_time () - t0;
  upm_caption_clear (&cap);

  /* three clips back to back: each push returns long before a decode */
  for (i = 0; i < 3; i++)
    {
      t0 = g_get_monotonic_time ();
      fail_unless_equals_int (
          gst_harness_push (h, patches_buffer (patches, 4, i * CLIP)),
          GST_FLOW_OK);
      push_us = MAX (push_us, g_get_monotonic_time () - t0);
    }
  GST_INFO ("decode %" G_GINT64_FORMAT " us, slowest push %" G_GINT64_FORMAT
            " us",
      decode_us, push_us);
  if (upm_test_timing_judged ())
    fail_unless (push_us * 4 < decode_us,
        "a push took %" G_GINT64_FORMAT " us, a decode %" G_GINT64_FORMAT " us",
        push_us, decode_us);
  for (i = 0; i < 3; i++)
    {
      out = upm_test_pull_patiently (h);
      fail_unless (out != NULL);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * CLIP);
      gst_buffer_unref (out);
    }
  g_free (patches);
  upm_model_unref (m);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_order_preserved)
{
  GstBus *bus;
  GstHarness *h = new_chain ("task=caption max-pending=1", &bus);
  UpmModel *m = upm_test_load_model (model_path);
  const guint n = 6;
  GstBuffer *out;
  guint i;

  /* non-live: a full queue makes the streaming thread wait, nothing is
   * dropped and the results come out in order */
  gst_harness_set_live (h, FALSE);
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  for (i = 0; i < n; i++)
    fail_unless_equals_int (
        gst_harness_push (h, clip_buffer (4, 100 + i, i * CLIP)), GST_FLOW_OK);
  for (i = 0; i < n; i++)
    {
      gfloat *patches = random_patches (4, 100 + i);
      GstMessage *msg;
      UpmCaption cap;

      out = upm_test_pull_patiently (h);
      fail_unless (out != NULL);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * CLIP);
      expected_caption (m, patches, 4, 0, 0, &cap, NULL);
      msg = upm_test_pop_result (bus);
      assert_caption (out, msg, &cap);
      upm_caption_clear (&cap);
      gst_message_unref (msg);
      gst_buffer_unref (out);
      g_free (patches);
    }
  {
    GstElement *head = head_of (h);
    guint64 dropped;

    g_object_get (head, "dropped", &dropped, NULL);
    fail_unless_equals_uint64 (dropped, 0);
    gst_object_unref (head);
  }
  upm_model_unref (m);
  chain_teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_live_drops_oldest)
{
  GstBus *bus;
  GstHarness *h = new_chain ("task=caption max-pending=2", &bus);
  GstElement *head = head_of (h);
  Gate *g = gate_new (h, TRUE);
  GstMessage *msg;
  GstBuffer *out;
  guint64 dropped, processed, n_dropped;
  guint i, n_qos = 0, n_gaps = 0;
  GstEvent *ev;
  gchar *trace;

  /* the harness source is live */
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  push_clips (h, 0, 0);
  gate_wait_entered (g, 1);
  /* clips 1 and 2 wait; 3 pushes out 1, 4 pushes out 2 */
  push_clips (h, 1, 4);
  g_object_get (head, "dropped", &dropped, NULL);
  fail_unless_equals_uint64 (dropped, 2);

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_QOS)) != NULL)
    {
      GstClockTime ts;
      GstFormat format;

      gst_message_parse_qos (msg, NULL, NULL, NULL, &ts, NULL);
      gst_message_parse_qos_stats (msg, &format, &processed, &n_dropped);
      fail_unless_equals_uint64 (ts, (n_qos + 1) * CLIP);
      fail_unless_equals_int (format, GST_FORMAT_BUFFERS);
      fail_unless_equals_uint64 (n_dropped, n_qos + 1);
      n_qos++;
      gst_message_unref (msg);
    }
  fail_unless_equals_int (n_qos, 2);

  gate_open (g);
  for (i = 0; i < 3; i++)
    {
      static const guint kept[] = { 0, 3, 4 };

      out = upm_test_pull_patiently (h);
      fail_unless (out != NULL);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), kept[i] * CLIP);
      gst_buffer_unref (out);
    }
  /* the dropped clips are gone, no gap is pushed for them (a sink would
   * hold the late worker until its time) */
  trace = gate_trace (g);
  fail_unless_equals_string (trace, "BBB");
  g_free (trace);
  while ((ev = gst_harness_try_pull_event (h)) != NULL)
    {
      n_gaps += GST_EVENT_TYPE (ev) == GST_EVENT_GAP;
      gst_event_unref (ev);
    }
  fail_unless_equals_int (n_gaps, 0);
  fail_unless (gst_harness_try_pull (h) == NULL);

  gst_object_unref (head);
  chain_teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_gaps_merge)
{
  GstHarness *h = new_chain ("task=caption", NULL);
  Gate *g = gate_new (h, TRUE);
  GstClockTime ts, dur;
  GstBuffer *out;
  GstEvent *ev;
  guint i, n_gaps = 0;
  gchar *trace;

  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  gst_harness_push (h, clip_buffer (4, 0, 0));
  gate_wait_entered (g, 1);
  /* gaps that wait behind a slow worker are merged into one */
  for (i = 1; i <= 5; i++)
    fail_unless (
        gst_harness_push_event (h, gst_event_new_gap (i * CLIP, CLIP)));
  gate_open (g);
  out = upm_test_pull_patiently (h);
  fail_unless (out != NULL);
  gst_buffer_unref (out);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless (gst_harness_pull_until_eos (h, &out) && out == NULL);
  trace = gate_trace (g);
  fail_unless_equals_string (trace, "BGE");
  g_free (trace);
  while ((ev = gst_harness_try_pull_event (h)) != NULL)
    {
      if (GST_EVENT_TYPE (ev) == GST_EVENT_GAP)
        {
          gst_event_parse_gap (ev, &ts, &dur);
          fail_unless_equals_uint64 (ts, CLIP);
          fail_unless_equals_uint64 (dur, 5 * CLIP);
          n_gaps++;
        }
      gst_event_unref (ev);
    }
  fail_unless_equals_int (n_gaps, 1);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_eos_drains)
{
  GstHarness *h = new_chain ("task=caption max-pending=4 beam-size=16", NULL);
  Gate *g = gate_new (h, FALSE);
  GstBuffer *out;
  gchar *trace;
  guint i;

  gst_harness_set_live (h, FALSE);
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  for (i = 0; i < 3; i++)
    gst_harness_push (h, clip_buffer (4, i, i * CLIP));
  /* returns at once; EOS goes out after the three results */
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless (gst_harness_pull_until_eos (h, &out));
  for (i = 0; out != NULL; i++)
    {
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * CLIP);
      gst_buffer_unref (out);
      fail_unless (gst_harness_pull_until_eos (h, &out));
    }
  fail_unless_equals_int (i, 3);
  trace = gate_trace (g);
  fail_unless_equals_string (trace, "BBBE");
  g_free (trace);
  /* after EOS, the element refuses data */
  fail_unless_equals_int (
      gst_harness_push (h, clip_buffer (4, 9, 0)), GST_FLOW_EOS);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_flush_resets)
{
  GstHarness *h = new_chain ("task=caption max-pending=4", NULL);
  GstElement *head = head_of (h);
  Gate *g = gate_new (h, TRUE);
  GstSegment segment;
  GstBuffer *out;
  guint i;

  gst_harness_set_live (h, FALSE);
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  gst_harness_push (h, clip_buffer (4, 0, 0));
  gate_wait_entered (g, 1);
  for (i = 1; i <= 3; i++)
    gst_harness_push (h, clip_buffer (4, i, i * CLIP));

  /* the flush drops the three waiting clips and the one being pushed */
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gate_open (g);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));

  fail_unless_equals_int (
      gst_harness_push (h, clip_buffer (4, 7, 10 * CLIP)), GST_FLOW_OK);
  out = upm_test_pull_patiently (h);
  fail_unless (out != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 10 * CLIP);
  gst_buffer_unref (out);
  fail_unless (gst_harness_try_pull (h) == NULL);
  fail_unless_equals_int (gst_harness_buffers_received (h), 1);

  gst_object_unref (head);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Back to PLAYING after a stop, a new stream @stream_id of 4-frame clips. */
static void
restart_stream (GstHarness *h, const gchar *stream_id)
{
  GstCaps *caps = gst_caps_from_string (PATCH_CAPS ("video", 4));
  GstSegment segment;

  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_PLAYING),
      GST_STATE_CHANGE_SUCCESS);
  gst_harness_push_event (h, gst_event_new_stream_start (stream_id));
  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&segment));
}

/* Stopping while a long caption is decoded abandons it at the next beam
 * step: the stop takes a fraction of one decode, posts no error, and the
 * element decodes normally afterwards. */
GST_START_TEST (test_stop_cancels_decoding)
{
  GstBus *bus;
  GstHarness *h = new_chain ("task=caption beam-size=64", &bus);
  GstBuffer *out;
  gint64 t0, full, stop;
  GstMessage *msg;

  gst_harness_set_live (h, FALSE);
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  t0 = g_get_monotonic_time ();
  out = upm_test_push_and_pull_patiently (h, clip_buffer (4, 1, 0));
  full = g_get_monotonic_time () - t0;
  fail_unless (out != NULL);
  gst_buffer_unref (out);

  fail_unless_equals_int (
      gst_harness_push (h, clip_buffer (4, 2, CLIP)), GST_FLOW_OK);
  g_usleep (full / 5);
  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  stop = g_get_monotonic_time () - t0;
  GST_INFO ("one caption %" G_GINT64_FORMAT " us, stop %" G_GINT64_FORMAT " us",
      full, stop);
  if (upm_test_timing_judged ())
    fail_unless (stop < full / 2,
        "stop took %" G_GINT64_FORMAT " us, a whole "
        "caption %" G_GINT64_FORMAT " us",
        stop, full);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg == NULL, "a cancelled caption posted an error");

  /* and it works again */
  restart_stream (h, "again");
  out = upm_test_push_and_pull_patiently (h, clip_buffer (4, 1, 0));
  fail_unless (out != NULL);
  gst_buffer_unref (out);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_stop_while_decoding)
{
  GstHarness *h = new_chain (
      "task=caption max-pending=2 beam-size=64 max-length=64", NULL);
  GstBuffer *out;
  gint round, i;

  gst_harness_set_live (h, FALSE);
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  for (round = 0; round < 3; round++)
    {
      /* reusable: back to PLAYING, a new stream */
      if (round > 0)
        restart_stream (h, "again");
      for (i = 0; i < 3; i++)
        gst_harness_push (h, clip_buffer (4, i, i * CLIP));
      /* a caption is being decoded: stop now */
      fail_unless_equals_int (
          gst_element_set_state (
              h->element, round == 1 ? GST_STATE_NULL : GST_STATE_READY),
          GST_STATE_CHANGE_SUCCESS);
      while ((out = gst_harness_try_pull (h)) != NULL)
        gst_buffer_unref (out);
    }
  restart_stream (h, "last");
  out = upm_test_push_and_pull_patiently (h, clip_buffer (4, 5, 0));
  fail_unless (out != NULL);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_state_cycles)
{
  gchar *desc = g_strdup_printf (
      "upmencoder model=%s ! upmtransformer model=%s ! upmhead name=head "
      "model=%s labels=\"%s\"",
      model_path, model_path, model_path, LABELS4);
  GstElement *bin = gst_parse_bin_from_description (desc, TRUE, NULL);
  GstElement *head;
  GstHarness *h;
  GstBuffer *out;

  fail_unless (bin != NULL);
  upm_test_cycle_states (bin, 10);
  /* reused, with the task changed while in NULL */
  head = gst_bin_get_by_name (GST_BIN (bin), "head");
  gst_util_set_object_arg (G_OBJECT (head), "task", "caption");
  h = gst_harness_new_with_element (bin, "sink", "src");
  gst_harness_set_src_caps_str (h, PATCH_CAPS ("video", 4));
  out = upm_test_push_and_pull_patiently (h, clip_buffer (4, 1, 0));
  fail_unless (out != NULL);
  fail_unless (gst_buffer_get_upm_caption_meta (out) != NULL);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  gst_object_unref (head);
  gst_object_unref (bin);
  g_free (desc);
}

GST_END_TEST;

GST_START_TEST (test_latency)
{
  GstBus *bus;
  GstHarness *h = new_chain ("task=caption", &bus);
  GstElement *head = head_of (h);
  GstMessage *msg;

  gst_harness_set_upstream_latency (h, 40 * GST_MSECOND);
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 240 * GST_MSECOND);
  g_object_set (head, "processing-latency", (guint64)GST_SECOND, NULL);
  fail_unless_equals_uint64 (
      gst_harness_query_latency (h), GST_SECOND + 40 * GST_MSECOND);
  /* the change is announced */
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_LATENCY);
  fail_unless (msg != NULL);
  gst_message_unref (msg);
  gst_object_unref (head);
  chain_teardown (h, bus);
}

GST_END_TEST;

GST_START_TEST (test_caps_task_mismatch)
{
  GstElement *head = gst_element_factory_make ("upmhead", NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  GstCaps *caps;
  GstPad *sink;
  gchar *err;

  g_object_set (head, "model", model_path, NULL);
  gst_util_set_object_arg (G_OBJECT (head), "task", "caption");
  gst_element_set_bus (head, bus);
  h = gst_harness_new_with_element (head, "sink", "src");

  /* the sink caps ask for the task and the model's width */
  sink = gst_element_get_static_pad (head, "sink");
  caps = gst_pad_query_caps (sink, NULL);
  fail_unless_equals_string (
      gst_structure_get_string (gst_caps_get_structure (caps, 0), "task"),
      "caption");
  gst_caps_unref (caps);
  gst_object_unref (sink);

  caps = gst_caps_from_string ("application/x-upm-hidden, "
                               "modality=(string)video, "
                               "task=(string)classify, dim=(int)64");
  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  err = upm_test_pop_error (bus);
  fail_unless (err != NULL && strstr (err, "task caption") != NULL, "%s",
      GST_STR_NULL (err));
  g_free (err);
  gst_harness_teardown (h);
  gst_object_unref (head);
  upm_test_drop_bus (bus);
}

GST_END_TEST;

static const UpmCheckTest upmhead_tests[] = {
  UPM_CHECK_TEST (test_property_defaults),
  UPM_CHECK_TEST (test_property_invalid),
  UPM_CHECK_TEST (test_labels_missing),
  UPM_CHECK_TEST (test_labels_invalid),
  UPM_CHECK_TEST (test_labels_file_errors),
  UPM_CHECK_TEST (test_classify_matches_library),
  UPM_CHECK_TEST (test_classify_one_frame),
  UPM_CHECK_TEST (test_labels_file),
  UPM_CHECK_TEST (test_labels_named),
  UPM_CHECK_TEST (test_retrieve_matches_library),
  UPM_CHECK_TEST (test_text_classify),
  UPM_CHECK_TEST (test_text_format),
  UPM_CHECK_TEST (test_caption_matches_library),
  UPM_CHECK_TEST (test_caption_does_not_block),
  UPM_CHECK_TEST (test_caption_push_faster_than_decode),
  UPM_CHECK_TEST (test_order_preserved),
  UPM_CHECK_TEST (test_live_drops_oldest),
  UPM_CHECK_TEST (test_gaps_merge),
  UPM_CHECK_TEST (test_eos_drains),
  UPM_CHECK_TEST (test_flush_resets),
  UPM_CHECK_TEST (test_stop_while_decoding),
  UPM_CHECK_TEST (test_stop_cancels_decoding),
  UPM_CHECK_TEST (test_state_cycles),
  UPM_CHECK_TEST (test_latency),
  UPM_CHECK_TEST (test_caps_task_mismatch),
};

UPM_CHECK_MAIN (upmhead, prepare);
