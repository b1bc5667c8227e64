/* test-upmbin.c: upmbin, the whole chain in one element.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "upm.h"
#include "upmmeta.h"
#include "upm-test-harness.h"

static gchar *model_path;

static void
prepare (TCase *tc G_GNUC_UNUSED)
{
  model_path = upm_test_use_fixture_model ();
}

static const struct
{
  const gchar *name, *child;
} proxied[] = {
  { "model", "head" },
  { "task", "head" },
  { "labels", "head" },
  { "labels-file", "head" },
  { "top-k", "head" },
  { "clip-frames", "tokenizer" },
  { "frame-stride", "tokenizer" },
  { "clip-hop", "tokenizer" },
  { "beam-size", "head" },
  { "max-length", "head" },
  { "precision", "transformer" },
};

/* Samples of an appsink until EOS, as a list of buffers. */
static GList *
pull_all (GstElement *sink)
{
  GList *buffers = NULL;
  GstSample *sample;

  for (;;)
    {
      sample = NULL;
      g_signal_emit_by_name (sink, "pull-sample", &sample);
      if (sample == NULL)
        break;
      buffers = g_list_append (
          buffers, gst_buffer_ref (gst_sample_get_buffer (sample)));
      gst_sample_unref (sample);
    }
  return buffers;
}

static GstElement *
run_pipeline (const gchar *desc, GstBus **bus_out)
{
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);

  fail_unless (pipeline != NULL, "%s: %s", desc, err ? err->message : "?");
  *bus_out = gst_element_get_bus (pipeline);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  return pipeline;
}

static void
stop_pipeline (GstElement *pipeline, GstBus *bus)
{
  gchar *err = upm_test_pop_error (bus);

  fail_unless (err == NULL, "%s", GST_STR_NULL (err));
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  upm_test_drop_bus (bus);
  gst_object_unref (pipeline);
}

/* Plays @n_frames of 64x48 test video at 8 fps through "upmbin
 * model=@model @props" into an appsink; returns the buffers it got until
 * EOS, the pipeline still playing. */
static GList *
run_upmbin (const gchar *model, const gchar *props, guint n_frames,
    GstElement **pipeline_out, GstBus **bus_out)
{
  gchar *desc
      = g_strdup_printf ("videotestsrc num-buffers=%u ! "
                         "video/x-raw,width=64,height=48,framerate=8/1 ! "
                         "upmbin model=%s %s ! appsink name=sink sync=false",
          n_frames, model, props);
  GstElement *sink;
  GList *buffers;

  *pipeline_out = run_pipeline (desc, bus_out);
  sink = gst_bin_get_by_name (GST_BIN (*pipeline_out), "sink");
  buffers = pull_all (sink);
  gst_object_unref (sink);
  g_free (desc);
  return buffers;
}

/* The patches of RGB frames, as upm-run makes them (video normalisation). */
static gfloat *
frames_to_patches (
    UpmModel *m, GList *frames, GstCaps *caps, guint first, guint n)
{
  const UpmHParams *hp = upm_model_hparams (m);
  gsize per_frame = (gsize)UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
  gfloat *patches = g_new (gfloat, per_frame * n);
  GstVideoInfo info;
  guint i;

  fail_unless (gst_video_info_from_caps (&info, caps));
  for (i = 0; i < n; i++)
    {
      GstBuffer *buf = g_list_nth_data (frames, first + i);
      GstVideoFrame frame;

      fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
      fail_unless (upm_vision_frame_to_patches (hp, UPM_NORM_VIDEO,
          GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), GST_VIDEO_INFO_WIDTH (&info),
          GST_VIDEO_INFO_HEIGHT (&info),
          GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), patches + per_frame * i,
          NULL));
      gst_video_frame_unmap (&frame);
    }
  return patches;
}

/* --------------------------------------------------------------- tests */

GST_START_TEST (test_proxied_properties)
{
  GstElement *bin = gst_element_factory_make ("upmbin", NULL);
  GObjectClass *klass = G_OBJECT_GET_CLASS (bin);
  static const gchar *children[]
      = { "tokenizer", "encoder", "transformer", "head" };
  gchar *s = NULL;
  guint i, v = 0;

  fail_unless (bin != NULL);
  for (i = 0; i < G_N_ELEMENTS (proxied); i++)
    {
      GstElement *child = gst_bin_get_by_name (GST_BIN (bin), proxied[i].child);
      GParamSpec *mine = g_object_class_find_property (klass, proxied[i].name);
      GParamSpec *theirs;

      fail_unless (child != NULL);
      fail_unless (mine != NULL, "no property %s", proxied[i].name);
      theirs = g_object_class_find_property (
          G_OBJECT_GET_CLASS (child), proxied[i].name);
      fail_unless (theirs != NULL);
      fail_unless (G_PARAM_SPEC_TYPE (mine) == G_PARAM_SPEC_TYPE (theirs));
      fail_unless (
          G_PARAM_SPEC_VALUE_TYPE (mine) == G_PARAM_SPEC_VALUE_TYPE (theirs));
      fail_unless (
          g_param_values_cmp (mine, g_param_spec_get_default_value (mine),
              g_param_spec_get_default_value (theirs))
              == 0,
          "default of %s", proxied[i].name);
      fail_unless_equals_int (
          mine->flags & G_PARAM_READWRITE, theirs->flags & G_PARAM_READWRITE);
      gst_object_unref (child);
    }

  /* settings reach the children */
  g_object_set (bin, "labels", "a, b", "clip-frames", 2, "beam-size", 3,
      "model", model_path, NULL);
  gst_child_proxy_get (GST_CHILD_PROXY (bin), "head::labels", &s, NULL);
  fail_unless_equals_string (s, "a, b");
  g_free (s);
  gst_child_proxy_get (
      GST_CHILD_PROXY (bin), "tokenizer::clip-frames", &v, NULL);
  fail_unless_equals_int (v, 2);
  gst_child_proxy_get (GST_CHILD_PROXY (bin), "head::beam-size", &v, NULL);
  fail_unless_equals_int (v, 3);
  for (i = 0; i < G_N_ELEMENTS (children); i++)
    {
      gchar *path = g_strdup_printf ("%s::model", children[i]);

      gst_child_proxy_get (GST_CHILD_PROXY (bin), path, &s, NULL);
      fail_unless_equals_string (s, model_path);
      g_free (s);
      g_free (path);
    }
  g_object_get (bin, "beam-size", &v, NULL);
  fail_unless_equals_int (v, 3);
  gst_object_unref (bin);
}

GST_END_TEST;

GST_START_TEST (test_one_model)
{
  static const gchar *children[]
      = { "tokenizer", "encoder", "transformer", "head" };
  GstElement *bin = gst_element_factory_make ("upmbin", NULL);
  gconstpointer model = NULL;
  guint i;

  g_object_set (bin, "model", model_path, "task", 2 /* caption */, NULL);
  fail_unless_equals_int (
      gst_element_set_state (bin, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  for (i = 0; i < G_N_ELEMENTS (children); i++)
    {
      GstElement *child = gst_bin_get_by_name (GST_BIN (bin), children[i]);
      GstContext *ctx = gst_element_get_context (child, "upm.model");
      const GValue *v;

      fail_unless (ctx != NULL, "%s has no model context", children[i]);
      v = gst_structure_get_value (gst_context_get_structure (ctx), "model");
      fail_unless (v != NULL && G_VALUE_HOLDS_BOXED (v));
      if (i == 0)
        model = g_value_get_boxed (v);
      fail_unless (model != NULL && g_value_get_boxed (v) == model,
          "%s has another model", children[i]);
      gst_context_unref (ctx);
      gst_object_unref (child);
    }
  gst_element_set_state (bin, GST_STATE_NULL);
  gst_object_unref (bin);
}

GST_END_TEST;

GST_START_TEST (test_timed_captions)
{
  GstBus *bus;
  GstElement *pipeline;
  GstMessage *msg;
  GList *buffers, *l;
  guint i = 0, n_results = 0;

  buffers = run_upmbin (model_path, "task=caption", 16, &pipeline, &bus);
  /* 16 frames at 8 fps, 4-frame clips: a caption every half second */
  fail_unless_equals_int (g_list_length (buffers), 4);
  for (l = buffers; l != NULL; l = l->next, i++)
    {
      GstBuffer *buf = l->data;
      GstUpmCaptionMeta *meta = gst_buffer_get_upm_caption_meta (buf);
      gchar *text = upm_test_buffer_text (buf);

      fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), i * GST_SECOND / 2);
      fail_unless_equals_uint64 (GST_BUFFER_DURATION (buf), GST_SECOND / 2);
      fail_unless (meta != NULL);
      fail_unless_equals_string (text, meta->text);
      fail_unless_equals_uint64 (meta->pts, GST_BUFFER_PTS (buf));
      fail_unless (meta->n_ids > 0);
      fail_unless (gst_buffer_get_upm_routing_meta (buf) != NULL);
      g_free (text);
    }
  /* a "upm-result" message per caption, then EOS */
  while ((msg = gst_bus_timed_pop (bus, 30 * GST_SECOND)) != NULL)
    {
      GstMessageType type = GST_MESSAGE_TYPE (msg);

      fail_if (type == GST_MESSAGE_ERROR);
      if (type == GST_MESSAGE_ELEMENT)
        n_results += gst_message_has_name (msg, "upm-result");
      gst_message_unref (msg);
      if (type == GST_MESSAGE_EOS)
        break;
    }
  fail_unless (msg != NULL, "no EOS");
  fail_unless_equals_int (n_results, 4);

  g_list_free_full (buffers, (GDestroyNotify)gst_buffer_unref);
  stop_pipeline (pipeline, bus);
}

GST_END_TEST;

/* The bin's results equal the library's on the same frames. */
static void
check_against_library (const gchar *task_props, gboolean caption)
{
  static const gchar *const labels[]
      = { "moving left", "moving right", "a ball", NULL };
  gchar *desc = g_strdup_printf (
      "videotestsrc num-buffers=8 pattern=ball ! "
      "video/x-raw,format=RGB,width=64,height=48,framerate=8/1 ! tee name=t "
      "t. ! queue ! upmbin model=%s %s ! appsink name=text sync=false "
      "t. ! queue ! appsink name=frames sync=false",
      model_path, task_props);
  GstBus *bus;
  GstElement *pipeline = run_pipeline (desc, &bus);
  GstElement *text_sink = gst_bin_get_by_name (GST_BIN (pipeline), "text");
  GstElement *frame_sink = gst_bin_get_by_name (GST_BIN (pipeline), "frames");
  UpmModel *m = upm_test_load_model (model_path);
  UpmContext *ctx = upm_context_new (m);
  GList *texts, *frames;
  GstCaps *caps;
  GstPad *pad;
  guint clip;

  texts = pull_all (text_sink);
  frames = pull_all (frame_sink);
  fail_unless_equals_int (g_list_length (frames), 8);
  fail_unless_equals_int (g_list_length (texts), 2);
  pad = gst_element_get_static_pad (frame_sink, "sink");
  caps = gst_pad_get_current_caps (pad);
  gst_object_unref (pad);

  for (clip = 0; clip < 2; clip++)
    {
      gfloat *patches = frames_to_patches (m, frames, caps, clip * 4, 4);
      GstBuffer *out = g_list_nth_data (texts, clip);

      if (caption)
        {
          UpmCaptionParams params = { 0, 0, -1.0f, NULL };
          UpmCaption cap;
          gchar *text = upm_test_buffer_text (out);

          fail_unless (
              upm_caption (ctx, patches, 4, &params, &cap, NULL, NULL));
          fail_unless_equals_string (text, cap.text);
          upm_caption_clear (&cap);
          g_free (text);
        }
      else
        {
          GstUpmResultMeta *meta = gst_buffer_get_upm_result_meta (out);
          const UpmHParams *hp = upm_model_hparams (m);
          gfloat feature[64], tf[3 * 64], logits[3], probs[3];
          UpmScore top[3];
          guint i;

          fail_unless (upm_encode_visual (
              ctx, patches, 4, UPM_ATTR_CLS_INPUT, feature, NULL, NULL));
          fail_unless (upm_model_text_features (
              m, labels, 3, UPM_ATTR_CLS_TARGET, tf, NULL));
          upm_classify (hp, feature, tf, 3,
              upm_model_logit_scale (m, UPM_SCALE_VIDEO_CLS), logits, probs);
          upm_top_k (logits, probs, 3, 3, top);
          fail_unless (meta != NULL);
          fail_unless_equals_int (meta->n_scores, 3);
          for (i = 0; i < 3; i++)
            {
              fail_unless_equals_int (meta->scores[i].index, top[i].index);
              fail_unless (fabsf (meta->scores[i].prob - top[i].prob) < 1e-6f);
            }
        }
      g_free (patches);
    }

  gst_caps_unref (caps);
  g_list_free_full (texts, (GDestroyNotify)gst_buffer_unref);
  g_list_free_full (frames, (GDestroyNotify)gst_buffer_unref);
  upm_context_free (ctx);
  upm_model_unref (m);
  gst_object_unref (text_sink);
  gst_object_unref (frame_sink);
  stop_pipeline (pipeline, bus);
  g_free (desc);
}

GST_START_TEST (test_caption_matches_library)
{
  check_against_library ("task=caption", TRUE);
}

GST_END_TEST;

GST_START_TEST (test_classify_matches_library)
{
  check_against_library ("labels=\"moving left, moving right, a ball\"", FALSE);
}

GST_END_TEST;

GST_START_TEST (test_empty_labels_error)
{
  GstElement *bin = gst_element_factory_make ("upmbin", NULL);
  GstBus *bus = gst_bus_new ();
  gchar *err;

  gst_element_set_bus (bin, bus);
  g_object_set (bin, "model", model_path, NULL);
  fail_unless_equals_int (
      gst_element_set_state (bin, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  err = upm_test_pop_error (bus);
  fail_unless (err != NULL && strstr (err, "No labels") != NULL, "%s",
      GST_STR_NULL (err));
  g_free (err);
  gst_element_set_state (bin, GST_STATE_NULL);
  gst_object_unref (bin);
  upm_test_drop_bus (bus);
}

GST_END_TEST;

GST_START_TEST (test_state_cycles)
{
  GstElement *bin = gst_element_factory_make ("upmbin", NULL);
  GstHarness *h;

  g_object_set (bin, "model", model_path, "labels", "a, b", NULL);
  upm_test_cycle_states (bin, 10);
  /* then used: the latency upmhead adds is reported */
  h = gst_harness_new_with_element (bin, "sink", "src");
  gst_harness_set_src_caps_str (h, "video/x-raw, format=RGB, width=64, "
                                   "height=48, framerate=8/1");
  gst_harness_set_upstream_latency (h, 10 * GST_MSECOND);
  fail_unless (gst_harness_query_latency (h) >= 210 * GST_MSECOND);
  gst_harness_teardown (h);
  gst_object_unref (bin);
}

GST_END_TEST;

/* Token-level routing: every token's two experts reach the result buffers
 * (transformer -> head), with the patch grid that places them on the frame;
 * static (attribute) routing has per-segment routes only. */
GST_START_TEST (test_token_routes_reach_results)
{
  const gchar *models[] = { "route-token.upm", "tiny-moe.upm" };

  for (guint m = 0; m < G_N_ELEMENTS (models); m++)
    {
      gchar *path
          = g_build_filename (g_getenv ("UPM_FIXTURES"), models[m], NULL);
      GstBus *bus;
      GstElement *pipeline;
      GList *buffers, *l;

      buffers = run_upmbin (path,
          "task=classify labels=\"a,b,c\" clip-frames=4", 8, &pipeline, &bus);
      fail_unless_equals_int (g_list_length (buffers), 2);
      for (l = buffers; l != NULL; l = l->next)
        {
          GstUpmRoutingMeta *rm = gst_buffer_get_upm_routing_meta (l->data);

          fail_unless (rm != NULL);
          if (m == 1)
            {
              fail_unless_equals_int (rm->n_token_routes, 0);
              fail_unless (rm->n_routes > 0);
              continue;
            }
          /* 2 MoE layers x 2 gates, over <SPE> + 4 frames x 4x4 patches */
          fail_unless_equals_int (rm->n_routes, 0);
          fail_unless_equals_int (rm->n_token_routes, 4);
          fail_unless_equals_int (rm->visual_begin, 1);
          fail_unless_equals_int (rm->grid_width, 4);
          fail_unless_equals_int (rm->grid_height, 4);
          fail_unless_equals_int (rm->n_frames, 4);
          for (guint r = 0; r < rm->n_token_routes; r++)
            {
              const GstUpmTokenRoute *tr = &rm->token_routes[r];
              guint used = 0;

              fail_unless_equals_int (tr->n_tokens, 65);
              fail_unless_equals_int (tr->token_begin, 0);
              for (guint t = 0; t < tr->n_tokens; t++)
                {
                  fail_unless (tr->experts[2 * t] < rm->n_experts);
                  fail_unless (tr->experts[2 * t + 1] < rm->n_experts);
                  fail_unless (tr->experts[2 * t] != tr->experts[2 * t + 1]);
                  used |= 1u << tr->experts[2 * t];
                }
              /* a token-level gate on varied content uses several experts */
              fail_unless (used != 0 && (used & (used - 1)) != 0,
                  "layer %u: one expert for every token", tr->layer);
            }
        }
      g_list_free_full (buffers, (GDestroyNotify)gst_buffer_unref);
      stop_pipeline (pipeline, bus);
      g_free (path);
    }
}

GST_END_TEST;

/* The precision enum is the library's: a value per name it knows, the
 * nick that name. */
GST_START_TEST (test_precision_enum_is_the_library_s)
{
  GstElement *bin = gst_element_factory_make ("upmbin", NULL);
  GParamSpec *pspec
      = g_object_class_find_property (G_OBJECT_GET_CLASS (bin), "precision");
  GEnumClass *klass;
  UpmPrecision p;

  fail_unless (pspec != NULL && G_IS_PARAM_SPEC_ENUM (pspec));
  klass = G_PARAM_SPEC_ENUM (pspec)->enum_class;
  fail_unless (klass->n_values >= 3);
  for (guint i = 0; i < klass->n_values; i++)
    {
      fail_unless_equals_int (klass->values[i].value, i);
      fail_unless_equals_string (
          klass->values[i].value_nick, upm_precision_name ((UpmPrecision)i));
    }
  /* the first value past the enum is one the library does not name */
  fail_if (upm_precision_parse (
               upm_precision_name ((UpmPrecision)klass->n_values), &p)
           && (guint)p == klass->n_values);
  fail_unless_equals_int (
      G_PARAM_SPEC_ENUM (pspec)->default_value, UPM_PRECISION_AUTO);
  gst_object_unref (bin);
}

GST_END_TEST;

/* The precision the clip ran in reaches the routing, result and caption
 * metas, their JSON and the "upm-result" message; auto is recorded as what
 * it resolved to. */
static void
check_precision_recorded (
    const gchar *asked, const gchar *task, const gchar *expected)
{
  gchar *props = g_strdup_printf (
      "task=%s labels=\"a,b,c\" precision=%s text-format=json", task, asked);
  gboolean caption = g_str_equal (task, "caption");
  gchar *want = g_strdup_printf ("\"precision\":\"%s\"", expected);
  GstBus *bus;
  GstElement *pipeline, *head;
  GList *buffers, *l;
  GstMessage *msg;
  guint n_messages = 0;
  gint v = -1;

  buffers = run_upmbin (model_path, props, 8, &pipeline, &bus);
  fail_unless_equals_int (g_list_length (buffers), 2);
  head = gst_bin_get_by_name (GST_BIN (pipeline), "head");
  g_object_get (head, "precision", &v, NULL);
  fail_unless_equals_string (upm_precision_name ((UpmPrecision)v), asked);
  gst_object_unref (head);
  for (l = buffers; l != NULL; l = l->next)
    {
      GstUpmRoutingMeta *rm = gst_buffer_get_upm_routing_meta (l->data);
      gchar *json = upm_test_buffer_text (l->data);

      fail_unless (rm != NULL);
      fail_unless_equals_string (rm->precision, expected);
      if (caption)
        {
          GstUpmCaptionMeta *cm = gst_buffer_get_upm_caption_meta (l->data);

          fail_unless (cm != NULL);
          fail_unless_equals_string (cm->precision, expected);
        }
      else
        {
          GstUpmResultMeta *r = gst_buffer_get_upm_result_meta (l->data);

          fail_unless (r != NULL);
          fail_unless_equals_string (r->precision, expected);
        }
      /* the part's and the routing's */
      fail_unless (strstr (json, want) != NULL, "%s", json);
      fail_unless (strstr (strstr (json, want) + 1, want) != NULL, "%s", json);
      g_free (json);
    }
  while ((msg = gst_bus_timed_pop (bus, 30 * GST_SECOND)) != NULL)
    {
      GstMessageType type = GST_MESSAGE_TYPE (msg);

      fail_if (type == GST_MESSAGE_ERROR);
      if (type == GST_MESSAGE_ELEMENT
          && gst_message_has_name (msg, "upm-result"))
        {
          const GstStructure *st = gst_message_get_structure (msg);

          fail_unless_equals_string (
              gst_structure_get_string (st, "precision"), expected);
          n_messages++;
        }
      gst_message_unref (msg);
      if (type == GST_MESSAGE_EOS)
        break;
    }
  fail_unless_equals_int (n_messages, 2);
  g_list_free_full (buffers, (GDestroyNotify)gst_buffer_unref);
  stop_pipeline (pipeline, bus);
  g_free (want);
  g_free (props);
}

GST_START_TEST (test_precision_recorded)
{
  UpmModel *m = upm_test_load_model (model_path);
  UpmContext *ctx = upm_context_new (m);
  const gchar *resolved;

  check_precision_recorded ("fp32", "classify", "fp32");
  check_precision_recorded ("bf16", "classify", "bf16");
  check_precision_recorded ("bf16", "caption", "bf16");
  check_precision_recorded ("fp32", "caption", "fp32");
  /* auto: what the library resolves it to (UPM_PRECISION, the CPU) */
  upm_context_set_precision (ctx, UPM_PRECISION_AUTO);
  resolved = upm_precision_name (upm_context_precision (ctx));
  fail_if (g_str_equal (resolved, "auto"));
  check_precision_recorded ("auto", "classify", resolved);
  upm_context_free (ctx);
  upm_model_unref (m);
}

GST_END_TEST;

/* Encoding and decoding in different precisions: the routing meta says the
 * transformer's, the caption meta and the message the head's, with the
 * transformer's as "encode-precision". */
GST_START_TEST (test_precision_per_element)
{
  GstBus *bus;
  GstElement *pipeline;
  GstMessage *msg;
  GList *buffers, *l;
  guint n_messages = 0;

  buffers = run_upmbin (model_path,
      "task=caption precision=bf16 head::precision=fp32", 8, &pipeline, &bus);
  fail_unless_equals_int (g_list_length (buffers), 2);
  for (l = buffers; l != NULL; l = l->next)
    {
      fail_unless_equals_string (
          gst_buffer_get_upm_routing_meta (l->data)->precision, "bf16");
      fail_unless_equals_string (
          gst_buffer_get_upm_caption_meta (l->data)->precision, "fp32");
    }
  while ((msg = gst_bus_timed_pop (bus, 30 * GST_SECOND)) != NULL)
    {
      GstMessageType type = GST_MESSAGE_TYPE (msg);

      fail_if (type == GST_MESSAGE_ERROR);
      if (type == GST_MESSAGE_ELEMENT
          && gst_message_has_name (msg, "upm-result"))
        {
          const GstStructure *st = gst_message_get_structure (msg);

          fail_unless_equals_string (
              gst_structure_get_string (st, "precision"), "fp32");
          fail_unless_equals_string (
              gst_structure_get_string (st, "encode-precision"), "bf16");
          n_messages++;
        }
      gst_message_unref (msg);
      if (type == GST_MESSAGE_EOS)
        break;
    }
  fail_unless_equals_int (n_messages, 2);
  g_list_free_full (buffers, (GDestroyNotify)gst_buffer_unref);
  stop_pipeline (pipeline, bus);
}

GST_END_TEST;

static const UpmCheckTest upmbin_tests[] = {
  UPM_CHECK_TEST (test_proxied_properties),
  UPM_CHECK_TEST (test_one_model),
  UPM_CHECK_TEST (test_timed_captions),
  UPM_CHECK_TEST (test_caption_matches_library),
  UPM_CHECK_TEST (test_classify_matches_library),
  UPM_CHECK_TEST (test_empty_labels_error),
  UPM_CHECK_TEST (test_state_cycles),
  UPM_CHECK_TEST (test_token_routes_reach_results),
  UPM_CHECK_TEST (test_precision_enum_is_the_library_s),
  UPM_CHECK_TEST (test_precision_recorded),
  UPM_CHECK_TEST (test_precision_per_element),
};

UPM_CHECK_MAIN (upmbin, prepare);
