/* test-upmencoder.c: upmencoder, patches and tokens -> embeddings.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "upm.h"
#include "upm-test-harness.h"

/* tiny-moe: image 32, patch 8 -> 16 patches of 192 floats, 4 frames, D 64 */
#define TPF 16
#define PDIM 192
#define DIM 64
#define MAX_FRAMES 4

#define PATCH_CAPS(frames, tpf, pdim)                                          \
  "application/x-upm-patches, modality=(string)video, frames=(int)" #frames    \
  ", tokens-per-frame=(int)" #tpf ", patch-dim=(int)" #pdim

static gchar *model_path;

static void
prepare (TCase *tc G_GNUC_UNUSED)
{
  model_path = upm_test_use_fixture_model ();
}

static GstBuffer *
patches_buffer (guint frames, guint32 seed, GstClockTime pts,
    GstClockTime duration, gfloat **copy)
{
  gsize n = (gsize)frames * TPF * PDIM;
  gfloat *x = g_new (gfloat, n);
  GstBuffer *buf;

  upm_test_fill_random (x, n, seed);
  buf = gst_buffer_new_memdup (x, n * sizeof (gfloat));
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  if (copy)
    *copy = x;
  else
    g_free (x);
  return buf;
}

static GstElement *
new_encoder (GstBus **bus)
{
  GstElement *e = gst_element_factory_make ("upmencoder", NULL);

  fail_unless (e != NULL);
  g_object_set (e, "model", model_path, NULL);
  if (bus)
    *bus = upm_test_bus_for (e);
  return e;
}

/* A harness over new_encoder (the harness holds the element). */
static GstHarness *
encoder_harness (GstBus **bus)
{
  GstElement *e = new_encoder (bus);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");

  gst_object_unref (e);
  return h;
}

static void
assert_floats_equal (const gfloat *a, const gfloat *b, gsize n)
{
  gsize i;

  for (i = 0; i < n; i++)
    fail_unless (
        a[i] == b[i], "element %" G_GSIZE_FORMAT ": %g != %g", i, a[i], b[i]);
}

/* @out holds exactly the @rows rows of @expect. */
static void
assert_embeddings (GstBuffer *out, const gfloat *expect, gsize rows)
{
  GstMapInfo map;

  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  fail_unless_equals_uint64 (map.size, rows * DIM * sizeof (gfloat));
  assert_floats_equal ((const gfloat *)map.data, expect, rows * DIM);
  gst_buffer_unmap (out, &map);
}

/* @out holds the rows the library embeds @patches (@frames frames) into,
 * or the @n_ids token @ids where @patches is NULL. */
static void
assert_library_embeddings (GstBuffer *out, const gfloat *patches, guint frames,
    const gint32 *ids, guint n_ids)
{
  UpmModel *m = upm_test_load_model (model_path);
  UpmContext *ctx = upm_context_new (m);
  gsize rows = patches ? 1 + frames * TPF : 1 + n_ids;
  gfloat *expect = g_new (gfloat, rows * DIM);

  if (patches)
    fail_unless (upm_embed_patches (ctx, patches, frames, expect, NULL));
  else
    fail_unless (upm_embed_text (ctx, ids, n_ids, expect, NULL));
  assert_embeddings (out, expect, rows);
  g_free (expect);
  upm_context_free (ctx);
  upm_model_unref (m);
}

/* Whether @caps can intersect the caps of @str. */
static gboolean
can_intersect (GstCaps *caps, const gchar *str)
{
  GstCaps *want = gst_caps_from_string (str);
  gboolean can = gst_caps_can_intersect (caps, want);

  gst_caps_unref (want);
  return can;
}

/* --------------------------------------------------------------- tests */

GST_START_TEST (test_properties)
{
  GstElement *e = gst_element_factory_make ("upmencoder", NULL);
  GParamSpec *pspec
      = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "model");
  gchar *path = NULL;

  fail_unless (pspec != NULL);
  fail_unless (pspec->flags & GST_PARAM_MUTABLE_READY);
  fail_unless (G_PARAM_SPEC_STRING (pspec)->default_value == NULL);
  g_object_get (e, "model", &path, NULL);
  fail_unless (path == NULL);
  g_object_set (e, "model", model_path, NULL);
  g_object_get (e, "model", &path, NULL);
  fail_unless_equals_string (path, model_path);
  g_free (path);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_missing_model)
{
  GstBus *bus;
  GstElement *e = new_encoder (&bus);
  gchar *text;

  g_object_set (e, "model", "/nonexistent/model.upm", NULL);
  fail_unless_equals_int (
      gst_element_set_state (e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  text = upm_test_pop_error (bus);
  fail_unless (text != NULL);
  fail_unless (strstr (text, "/nonexistent/model.upm") != NULL, "%s", text);
  g_free (text);
  gst_element_set_state (e, GST_STATE_NULL);
  upm_test_drop_bus (bus);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_patches_match_library)
{
  GstHarness *h = encoder_harness (NULL);
  gfloat *patches;
  GstBuffer *out;
  GstCaps *caps;
  GstStructure *s;
  gint dim = 0;

  gst_harness_set_src_caps_str (h, PATCH_CAPS (4, 16, 192));
  out = gst_harness_push_and_pull (h,
      patches_buffer (MAX_FRAMES, 1, 2 * GST_SECOND, GST_SECOND / 2, &patches));
  fail_unless (out != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 2 * GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), GST_SECOND / 2);

  assert_library_embeddings (out, patches, MAX_FRAMES, NULL, 0);
  gst_buffer_unref (out);

  caps = gst_pad_get_current_caps (h->sinkpad);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_has_name (s, "application/x-upm-embeddings"));
  fail_unless_equals_string (gst_structure_get_string (s, "modality"), "video");
  fail_unless (gst_structure_get_int (s, "dim", &dim));
  fail_unless_equals_int (dim, DIM);
  gst_caps_unref (caps);
  g_free (patches);

  /* A shorter clip under the same caps: the rows follow the buffer. */
  out = gst_harness_push_and_pull (
      h, patches_buffer (2, 7, 3 * GST_SECOND, GST_SECOND / 4, &patches));
  fail_unless (out != NULL);
  fail_unless_equals_uint64 (
      gst_buffer_get_size (out), (1 + 2 * TPF) * DIM * sizeof (gfloat));
  gst_buffer_unref (out);

  g_free (patches);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_image_modality)
{
  GstHarness *h = encoder_harness (NULL);
  GstBuffer *out;

  gst_harness_set_src_caps_str (h,
      "application/x-upm-patches, modality=(string)image, frames=(int)1, "
      "tokens-per-frame=(int)16, patch-dim=(int)192");
  out = gst_harness_push_and_pull (
      h, patches_buffer (1, 3, 0, GST_SECOND, NULL));
  fail_unless (out != NULL);
  fail_unless_equals_uint64 (
      gst_buffer_get_size (out), (1 + TPF) * DIM * sizeof (gfloat));
  gst_buffer_unref (out);
  fail_unless_equals_string (
      upm_test_output_caps_field (h, "modality"), "image");
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_tokens_match_library)
{
  GstHarness *h = encoder_harness (NULL);
  const gint32 ids[] = { 10, 20, 30, 553 };
  GstBuffer *in, *out;

  gst_harness_set_src_caps_str (h, "application/x-upm-tokens, "
                                   "modality=(string)text");
  in = gst_buffer_new_memdup (ids, sizeof ids);
  GST_BUFFER_PTS (in) = 5 * GST_SECOND;
  out = gst_harness_push_and_pull (h, in);
  fail_unless (out != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 5 * GST_SECOND);

  assert_library_embeddings (out, NULL, 0, ids, G_N_ELEMENTS (ids));
  gst_buffer_unref (out);

  fail_unless_equals_string (
      upm_test_output_caps_field (h, "modality"), "text");

  gst_harness_teardown (h);
}

GST_END_TEST;

static void
check_rejected (const gchar *caps_str, const gchar *expect_in_error)
{
  GstBus *bus;
  GstHarness *h = encoder_harness (&bus);

  upm_test_push_caps (h, caps_str);
  upm_test_assert_push_error (h, bus, patches_buffer (1, 1, 0, 1, NULL),
      GST_FLOW_NOT_NEGOTIATED, expect_in_error);
  gst_harness_teardown (h);
  upm_test_drop_bus (bus);
}

GST_START_TEST (test_caps_reject)
{
  /* wrong patch grid, wrong patch size, clip longer than the model takes */
  check_rejected (PATCH_CAPS (4, 9, 192), "16 patches of 192 floats");
  check_rejected (PATCH_CAPS (4, 16, 100), "16 patches of 192 floats");
  check_rejected (PATCH_CAPS (8, 16, 192), "at most 4 frames");
}

GST_END_TEST;

GST_START_TEST (test_caps_query)
{
  GstElement *e = new_encoder (NULL);
  GstPad *sink;
  GstCaps *caps;

  /* Before the model is loaded: the template ranges. */
  sink = gst_element_get_static_pad (e, "sink");
  caps = gst_pad_query_caps (sink, NULL);
  fail_unless (can_intersect (caps, PATCH_CAPS (4, 9, 100)));
  gst_caps_unref (caps);

  /* Loaded: the model's patch layout and width. */
  fail_unless_equals_int (
      gst_element_set_state (e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  caps = gst_pad_query_caps (sink, NULL);
  fail_unless (can_intersect (caps, PATCH_CAPS (4, 16, 192)));
  fail_if (can_intersect (caps, PATCH_CAPS (4, 9, 100)));
  fail_unless (can_intersect (caps, "application/x-upm-tokens, modality=text"));
  gst_caps_unref (caps);
  gst_object_unref (sink);

  sink = gst_element_get_static_pad (e, "src");
  caps = gst_pad_query_caps (sink, NULL);
  fail_unless (can_intersect (
      caps, "application/x-upm-embeddings, modality=video, dim=(int)64"));
  fail_if (can_intersect (
      caps, "application/x-upm-embeddings, modality=video, dim=(int)32"));
  gst_caps_unref (caps);
  gst_object_unref (sink);

  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_invalid_buffer)
{
  GstBus *bus;
  GstHarness *h = encoder_harness (&bus);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 1000, NULL);

  gst_harness_set_src_caps_str (h, PATCH_CAPS (4, 16, 192));
  gst_buffer_memset (buf, 0, 0, 1000);
  upm_test_assert_push_error (h, bus, buf, GST_FLOW_ERROR, "1000 bytes");
  gst_harness_teardown (h);
  upm_test_drop_bus (bus);
}

GST_END_TEST;

GST_START_TEST (test_eos)
{
  GstHarness *h = encoder_harness (NULL);

  gst_harness_set_src_caps_str (h, PATCH_CAPS (4, 16, 192));
  gst_buffer_unref (gst_harness_push_and_pull (
      h, patches_buffer (4, 1, 0, GST_SECOND, NULL)));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless (upm_test_drain_events (h, GST_EVENT_EOS) > 0);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_state_cycles)
{
  GstElement *e = new_encoder (NULL);
  GstHarness *h;
  GstBuffer *out;

  upm_test_cycle_states (e, 10);
  /* Still works after the cycles. */
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_harness_set_src_caps_str (h, PATCH_CAPS (4, 16, 192));
  out = gst_harness_push_and_pull (h, patches_buffer (4, 1, 0, 1, NULL));
  fail_unless (out != NULL);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  gst_object_unref (e);
}

GST_END_TEST;

static const UpmCheckTest upmencoder_tests[] = {
  UPM_CHECK_TEST (test_properties),
  UPM_CHECK_TEST (test_missing_model),
  UPM_CHECK_TEST (test_patches_match_library),
  UPM_CHECK_TEST (test_image_modality),
  UPM_CHECK_TEST (test_tokens_match_library),
  UPM_CHECK_TEST (test_caps_reject),
  UPM_CHECK_TEST (test_caps_query),
  UPM_CHECK_TEST (test_invalid_buffer),
  UPM_CHECK_TEST (test_eos),
  UPM_CHECK_TEST (test_state_cycles),
};

UPM_CHECK_MAIN (upmencoder, prepare);
