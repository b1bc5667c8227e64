/* test-upmprompt.c: the elements with a prompt-tuned model (issue 23,
 * docs/prompt-tuning.md), tests/fixtures/prompt-attribute.upm: with no
 * labels upmhead and upmbin classify with the model's own classes, scored
 * by its head (upm_classify_prompt); typed labels are scored by the
 * similarity alone. Every expectation is computed with the library
 * directly on the same patches.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "upm.h"
#include "upmmeta.h"
#include "upm-test-harness.h"

/* prompt-attribute: 16 patches of 192 floats per frame, 4 frames, D 32 */
#define TPF 16
#define PDIM 192
#define FRAMES 4
#define CLIP (GST_SECOND / 2)
#define PATCH_CAPS                                                             \
  "application/x-upm-patches, modality=(string)video, frames=(int)4, "         \
  "tokens-per-frame=(int)16, patch-dim=(int)192"

static gchar *model_path;

static void
prepare (TCase *tc G_GNUC_UNUSED)
{
  g_free (upm_test_use_fixture_model ());
  model_path = g_build_filename (
      g_getenv ("UPM_FIXTURES"), "prompt-attribute.upm", NULL);
}

/* upmencoder ! upmtransformer ! upmhead @props on the prompt model. */
static GstHarness *
new_chain (const gchar *props, GstBus **bus)
{
  g_autofree gchar *desc = g_strdup_printf (
      "upmencoder model=%s ! upmtransformer model=%s ! upmhead name=head "
      "model=%s task=classify top-k=5 %s",
      model_path, model_path, model_path, props);
  GstHarness *h = gst_harness_new_parse (desc);

  *bus = upm_test_bus_for (h->element);
  gst_harness_set_src_caps_str (h, PATCH_CAPS);
  return h;
}

/* The scores of one clip: with @labels NULL, the model's classes through
 * its head, else @labels by similarity. */
static guint
expected_scores (UpmModel *m, const gfloat *patches, const gchar *const *labels,
    UpmScore *out)
{
  const guint d = upm_model_hparams (m)->n_embd;
  UpmContext *ctx = upm_context_new (m);
  const gchar *const *own = upm_model_prompt_labels (m, NULL);
  const gchar *const *l = labels ? labels : own;
  const guint n = g_strv_length ((gchar **)l);
  const gfloat scale = upm_model_logit_scale (m, UPM_SCALE_VIDEO_CLS);
  gfloat *h = g_new (gfloat, d), *f = g_new (gfloat, d);
  gfloat *tf = g_new (gfloat, (gsize)n * d);
  gfloat *logits = g_new (gfloat, n), *probs = g_new (gfloat, n);

  fail_unless (
      upm_model_text_features (m, l, n, UPM_ATTR_CLS_TARGET, tf, NULL));
  fail_unless (upm_encode_visual_hidden (
      ctx, patches, FRAMES, UPM_ATTR_CLS_INPUT, h, NULL, NULL));
  if (labels)
    {
      upm_feature_from_hidden (ctx, h, f);
      upm_classify (upm_model_hparams (m), f, tf, n, scale, logits, probs);
    }
  else
    fail_unless (upm_classify_prompt (m, h, tf, n, scale, logits, probs, NULL));
  upm_top_k (logits, probs, n, MIN (n, 5), out);
  g_free (h);
  g_free (f);
  g_free (tf);
  g_free (logits);
  g_free (probs);
  upm_context_free (ctx);
  return MIN (n, 5);
}

static void
check_chain (const gchar *props, const gchar *const *labels)
{
  GstBus *bus;
  GstHarness *h = new_chain (props, &bus);
  UpmModel *m = upm_test_load_model (model_path);
  const gchar *const *own = upm_model_prompt_labels (m, NULL);
  gfloat *patches = upm_test_random_floats ((gsize)FRAMES * TPF * PDIM, 7);
  GstBuffer *in = gst_buffer_new_memdup (
      patches, (gsize)FRAMES * TPF * PDIM * sizeof (gfloat));
  UpmScore expect[5];
  GstUpmResultMeta *meta;
  GstBuffer *out;
  GstMessage *msg;
  guint k;

  GST_BUFFER_PTS (in) = 0;
  GST_BUFFER_DURATION (in) = CLIP;
  out = upm_test_push_and_pull_patiently (h, in);
  fail_unless (out != NULL);
  k = expected_scores (m, patches, labels, expect);
  meta = gst_buffer_get_upm_result_meta (out);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->n_scores, k);
  for (guint i = 0; i < k; i++)
    {
      fail_unless_equals_int (meta->scores[i].index, expect[i].index);
      fail_unless_equals_string (
          meta->scores[i].label, (labels ? labels : own)[expect[i].index]);
      fail_unless (fabsf (meta->scores[i].logit - expect[i].logit) < 1e-5f,
          "logit %u: %g != %g", i, meta->scores[i].logit, expect[i].logit);
      fail_unless (fabsf (meta->scores[i].prob - expect[i].prob) < 1e-6f);
    }
  msg = upm_test_pop_result (bus);
  fail_unless (msg != NULL);
  gst_message_unref (msg);
  gst_buffer_unref (out);
  g_free (patches);
  upm_model_unref (m);
  gst_harness_teardown (h);
  upm_test_drop_bus (bus);
}

GST_START_TEST (test_head_labels_from_model)
{
  check_chain ("", NULL);
}

GST_END_TEST;

GST_START_TEST (test_typed_labels_similarity)
{
  static const gchar *const typed[]
      = { "class 0", "class 1", "class 2", "class 3", "class 4", NULL };

  /* The head's own class names typed: similarity only (other logits). */
  check_chain ("labels=\"class 0, class 1, class 2, class 3, class 4\"", typed);
}

GST_END_TEST;

/* upmbin on test video with no labels: every clip's labels are the
 * model's classes. */
GST_START_TEST (test_upmbin_model_labels)
{
  g_autofree gchar *desc = g_strdup_printf (
      "videotestsrc num-buffers=16 ! "
      "video/x-raw,width=64,height=48,framerate=8/1 ! "
      "upmbin model=%s task=classify clip-frames=4 top-k=2 ! fakesink",
      model_path);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  guint n_results = 0;
  gboolean eos = FALSE;

  fail_unless (pipeline != NULL);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  while (!eos)
    {
      GstMessage *msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
          GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
      const GstStructure *s;

      fail_unless (msg != NULL, "no EOS within 120 s");
      fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "pipeline error");
      eos = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
      s = gst_message_get_structure (msg);
      if (!eos && s && gst_structure_has_name (s, "upm-result"))
        {
          const GValue *lv = gst_structure_get_value (s, "labels");
          fail_unless (GST_VALUE_HOLDS_ARRAY (lv));
          fail_unless_equals_int (gst_value_array_get_size (lv), 2);
          for (guint i = 0; i < 2; i++)
            fail_unless (g_str_has_prefix (
                g_value_get_string (gst_value_array_get_value (lv, i)),
                "class "));
          n_results++;
        }
      gst_message_unref (msg);
    }
  fail_unless (n_results >= 2, "%u results", n_results);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

GST_END_TEST;

static const UpmCheckTest upmprompt_tests[] = {
  UPM_CHECK_TEST (test_head_labels_from_model),
  UPM_CHECK_TEST (test_typed_labels_similarity),
  UPM_CHECK_TEST (test_upmbin_model_labels),
};

UPM_CHECK_MAIN (upmprompt, prepare);
