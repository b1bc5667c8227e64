/* test-upmmodel.c: model loading and sharing (GstContext "upm.model", the
 * process-wide cache) through upmtokenizer.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "upm.h"
#include "upm-test-harness.h"

#define CONTEXT_TYPE "upm.model"

static gchar *
fixture_path (void)
{
  const gchar *dir = g_getenv ("UPM_FIXTURES");

  fail_unless (dir != NULL, "UPM_FIXTURES is not set");
  return g_build_filename (dir, "tiny-moe.upm", NULL);
}

/* A private copy of the fixture, so that its mapping in this process can
 * be watched. */
static gchar *
fixture_copy (const gchar *name)
{
  gchar *src = fixture_path (), *data = NULL, *path;
  gsize len;

  fail_unless (g_file_get_contents (src, &data, &len, NULL));
  path = g_build_filename (g_get_tmp_dir (), name, NULL);
  fail_unless (g_file_set_contents (path, data, len, NULL));
  g_free (data);
  g_free (src);
  return path;
}

/* Whether @path is mapped into this process (the library mmaps models). */
static gboolean
file_is_mapped (const gchar *path)
{
  gchar *maps = NULL, *real = realpath (path, NULL);
  gboolean mapped;

  fail_unless (real != NULL);
  fail_unless (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  mapped = strstr (maps, real) != NULL;
  g_free (maps);
  free (real);
  return mapped;
}

static GstContext *
element_context (GstElement *e)
{
  return gst_element_get_context (e, CONTEXT_TYPE);
}

/* The model of @e's context (borrowed: valid while @e holds it). */
static UpmModel *
element_model (GstElement *e)
{
  GstContext *context = element_context (e);
  const GValue *v;
  UpmModel *model;

  if (!context)
    return NULL;
  v = gst_structure_get_value (gst_context_get_structure (context), "model");
  fail_unless (v != NULL);
  fail_unless (G_VALUE_HOLDS_BOXED (v));
  fail_unless_equals_string (G_VALUE_TYPE_NAME (v), "GstUpmModel");
  model = g_value_get_boxed (v);
  gst_context_unref (context);
  return model;
}

static GstElement *
tokenizer (const gchar *name, const gchar *model)
{
  GstElement *e = gst_element_factory_make ("upmtokenizer", name);

  fail_unless (e != NULL);
  if (model)
    g_object_set (e, "model", model, NULL);
  return e;
}

static void
set_state (GstElement *e, GstState state)
{
  fail_unless (gst_element_set_state (e, state) == GST_STATE_CHANGE_SUCCESS);
}

/* "videotestsrc ! upmtokenizer ! fakesink" branches in one pipeline */
static GstElement *
pipeline_with_tokenizers (guint n, const gchar *model, GstElement **toks)
{
  GstElement *pipeline = gst_pipeline_new (NULL);
  guint i;

  for (i = 0; i < n; i++)
    {
      GstElement *src = gst_element_factory_make ("videotestsrc", NULL);
      GstElement *sink = gst_element_factory_make ("fakesink", NULL);
      gchar *name = g_strdup_printf ("tok%u", i);

      toks[i] = tokenizer (name, model);
      g_free (name);
      gst_bin_add_many (GST_BIN (pipeline), src, toks[i], sink, NULL);
      fail_unless (gst_element_link_many (src, toks[i], sink, NULL));
    }
  return pipeline;
}

GST_START_TEST (test_property_default)
{
  GstElement *e = tokenizer (NULL, NULL);
  GParamSpec *pspec
      = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "model");
  gchar *model = (gchar *)"unset";
  GstContext *context;
  gchar *want, *have;

  fail_unless (pspec != NULL);
  fail_unless (G_IS_PARAM_SPEC_STRING (pspec));
  fail_unless (G_PARAM_SPEC_STRING (pspec)->default_value == NULL);
  fail_unless (pspec->flags & GST_PARAM_DOC_SHOW_DEFAULT);
  fail_unless (pspec->flags & GST_PARAM_MUTABLE_READY);
  fail_unless (pspec->flags & G_PARAM_READWRITE);
  fail_unless (g_param_spec_get_blurb (pspec) != NULL);
  g_object_get (e, "model", &model, NULL);
  fail_unless (model == NULL);

  /* NULL: the default model, $UPM_DEFAULT_MODEL here */
  set_state (e, GST_STATE_READY);
  fail_unless (element_model (e) != NULL);
  context = element_context (e);
  want = realpath (g_getenv ("UPM_DEFAULT_MODEL"), NULL);
  have = realpath (
      gst_structure_get_string (gst_context_get_structure (context), "path"),
      NULL);
  fail_unless_equals_string (have, want);
  fail_unless (gst_structure_has_name (
      gst_context_get_structure (context), "upm-model"));
  fail_if (gst_context_is_persistent (context));
  free (want);
  free (have);
  gst_context_unref (context);
  set_state (e, GST_STATE_NULL);
  /* the context goes at READY->NULL */
  fail_unless (element_context (e) == NULL);

  /* set and read back */
  g_object_set (e, "model", "/some/where.upm", NULL);
  g_object_get (e, "model", &model, NULL);
  fail_unless_equals_string (model, "/some/where.upm");
  g_free (model);
  g_object_set (e, "model", NULL, NULL);
  g_object_get (e, "model", &model, NULL);
  fail_unless (model == NULL);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_share_in_pipeline)
{
  gchar *path = fixture_path ();
  GstElement *toks[3], *pipeline = pipeline_with_tokenizers (3, path, toks);
  GstContext *c0, *c1, *c2, *cp;
  UpmModel *m;

  set_state (pipeline, GST_STATE_READY);
  m = element_model (toks[0]);
  fail_unless (m != NULL);
  fail_unless (element_model (toks[1]) == m);
  fail_unless (element_model (toks[2]) == m);
  fail_unless_equals_string (upm_model_name (m), "tiny-moe");

  /* one element loaded it and announced it; the pipeline kept the context
   * and gave it to the others */
  c0 = element_context (toks[0]);
  c1 = element_context (toks[1]);
  c2 = element_context (toks[2]);
  cp = element_context (pipeline);
  fail_unless (cp != NULL);
  fail_unless (c0 == cp && c1 == cp && c2 == cp);
  gst_context_unref (c0);
  gst_context_unref (c1);
  gst_context_unref (c2);
  gst_context_unref (cp);

  /* and again after NULL */
  set_state (pipeline, GST_STATE_NULL);
  fail_unless (element_context (pipeline) == NULL);
  set_state (pipeline, GST_STATE_READY);
  fail_unless (element_model (toks[0]) != NULL);
  fail_unless (element_model (toks[0]) == element_model (toks[1]));
  set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_share_between_pipelines)
{
  gchar *path = fixture_copy ("test-upmmodel-share.upm");
  GstElement *t1[1], *t2[1];
  GstElement *p1 = pipeline_with_tokenizers (1, path, t1);
  GstElement *p2 = pipeline_with_tokenizers (1, path, t2);
  GstContext *c1, *c2;

  fail_if (file_is_mapped (path));
  set_state (p1, GST_STATE_READY);
  set_state (p2, GST_STATE_READY);
  /* one load through the process-wide cache ... */
  fail_unless (element_model (t1[0]) != NULL);
  fail_unless (element_model (t1[0]) == element_model (t2[0]));
  /* ... announced separately in each pipeline */
  c1 = element_context (p1);
  c2 = element_context (p2);
  fail_unless (c1 != NULL && c2 != NULL && c1 != c2);
  gst_context_unref (c1);
  gst_context_unref (c2);
  fail_unless (file_is_mapped (path));

  /* weak entries: loaded while any element uses it, then unloaded */
  set_state (p1, GST_STATE_NULL);
  fail_unless (file_is_mapped (path));
  set_state (p2, GST_STATE_NULL);
  fail_if (file_is_mapped (path));

  /* and loaded again on demand */
  set_state (p1, GST_STATE_READY);
  fail_unless (element_model (t1[0]) != NULL);
  fail_unless (file_is_mapped (path));
  set_state (p1, GST_STATE_NULL);
  fail_if (file_is_mapped (path));

  gst_object_unref (p1);
  gst_object_unref (p2);
  g_unlink (path);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_share_by_query)
{
  gchar *path = fixture_path ();
  GstElement *t1[1], *p1 = pipeline_with_tokenizers (1, path, t1);
  GstElement *b = tokenizer ("b", path);
  GstPad *srcpad = gst_element_get_static_pad (t1[0], "src");
  GstPad *sinkpad = gst_element_get_static_pad (b, "sink");
  GstPad *fakesink_pad = gst_pad_get_peer (srcpad);
  GstQuery *query;
  GstContext *ca, *cb, *cq;

  set_state (p1, GST_STATE_READY);
  /* b, with no bin, finds the model upstream with a CONTEXT query */
  gst_pad_unlink (srcpad, fakesink_pad);
  fail_unless (gst_pad_link_full (srcpad, sinkpad, GST_PAD_LINK_CHECK_NOTHING)
               == GST_PAD_LINK_OK);
  set_state (b, GST_STATE_READY);
  fail_unless (element_model (b) == element_model (t1[0]));
  ca = element_context (t1[0]);
  cb = element_context (b);
  fail_unless (ca == cb);

  /* the elements answer CONTEXT queries with their model */
  query = gst_query_new_context (CONTEXT_TYPE);
  fail_unless (gst_pad_query (sinkpad, query));
  gst_query_parse_context (query, &cq);
  fail_unless (cq == cb);
  gst_query_unref (query);
  query = gst_query_new_context ("something.else");
  fail_if (gst_pad_query (sinkpad, query));
  gst_query_unref (query);

  gst_context_unref (ca);
  gst_context_unref (cb);
  set_state (b, GST_STATE_NULL);
  /* no model, no answer */
  query = gst_query_new_context (CONTEXT_TYPE);
  fail_if (gst_pad_query (sinkpad, query));
  gst_query_unref (query);

  gst_pad_unlink (srcpad, sinkpad);
  gst_object_unref (fakesink_pad);
  gst_object_unref (srcpad);
  gst_object_unref (sinkpad);
  gst_object_unref (b);
  set_state (p1, GST_STATE_NULL);
  gst_object_unref (p1);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_application_context)
{
  gchar *path = fixture_path ();
  GstElement *toks[2], *pipeline = pipeline_with_tokenizers (2, NULL, toks);
  UpmModel *model = upm_model_load (path, NULL);
  GType type = g_type_from_name ("GstUpmModel");
  GstContext *context;
  GstStructure *s;

  fail_unless (model != NULL);
  fail_unless (type != 0);
  context = gst_context_new (CONTEXT_TYPE, TRUE);
  s = gst_context_writable_structure (context);
  gst_structure_set (
      s, "path", G_TYPE_STRING, path, "model", type, model, NULL);
  /* the elements ask for the default model, which is the same file here */
  gst_element_set_context (pipeline, context);
  set_state (pipeline, GST_STATE_READY);
  fail_unless (element_model (toks[0]) == model);
  fail_unless (element_model (toks[1]) == model);
  set_state (pipeline, GST_STATE_NULL);

  /* a context for another file is not used */
  gst_context_unref (context);
  context = gst_context_new (CONTEXT_TYPE, FALSE);
  s = gst_context_writable_structure (context);
  gst_structure_set (
      s, "path", G_TYPE_STRING, "/other/model.upm", "model", type, model, NULL);
  gst_element_set_context (pipeline, context);
  set_state (pipeline, GST_STATE_READY);
  fail_unless (element_model (toks[0]) != NULL);
  fail_unless (element_model (toks[0]) != model);
  set_state (pipeline, GST_STATE_NULL);

  gst_context_unref (context);
  upm_model_unref (model);
  gst_object_unref (pipeline);
  g_free (path);
}

GST_END_TEST;

/* Sets @pipeline to READY, expects a failure and an ERROR naming @path. */
static void
expect_load_error (GstElement *pipeline, const gchar *path, gint code)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;
  GError *err = NULL;
  gchar *debug = NULL;

  fail_unless (gst_element_set_state (pipeline, GST_STATE_READY)
               == GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message");
  gst_message_parse_error (msg, &err, &debug);
  GST_INFO ("error: %s (%s)", err->message, debug);
  fail_unless (err->domain == GST_RESOURCE_ERROR);
  fail_unless_equals_int (err->code, code);
  fail_unless (strstr (err->message, path) != NULL, "'%s' does not name %s",
      err->message, path);
  fail_unless (
      g_str_has_prefix (GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), "tok"));
  g_clear_error (&err);
  g_free (debug);
  gst_message_unref (msg);
  gst_object_unref (bus);
  set_state (pipeline, GST_STATE_NULL);
}

GST_START_TEST (test_missing_model)
{
  const gchar *path = "/nonexistent/dir/missing-model.upm";
  GstElement *toks[1], *pipeline = pipeline_with_tokenizers (1, path, toks);
  gchar *good = fixture_path ();

  expect_load_error (pipeline, path, GST_RESOURCE_ERROR_NOT_FOUND);
  /* again: no state left behind */
  expect_load_error (pipeline, path, GST_RESOURCE_ERROR_NOT_FOUND);
  /* and usable with a good file */
  g_object_set (toks[0], "model", good, NULL);
  set_state (pipeline, GST_STATE_READY);
  fail_unless (element_model (toks[0]) != NULL);
  set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (good);
}

GST_END_TEST;

GST_START_TEST (test_corrupt_model)
{
  gchar *garbage
      = g_build_filename (g_get_tmp_dir (), "test-upmmodel-garbage.upm", NULL);
  gchar *truncated = g_build_filename (
      g_get_tmp_dir (), "test-upmmodel-truncated.upm", NULL);
  gchar *good = fixture_path (), *data = NULL;
  GstElement *toks[1], *pipeline;
  gsize len;
  guint8 noise[4096];
  guint i;

  for (i = 0; i < sizeof (noise); i++)
    noise[i] = (guint8)(i * 131 + 7);
  fail_unless (
      g_file_set_contents (garbage, (gchar *)noise, sizeof (noise), NULL));
  fail_unless (g_file_get_contents (good, &data, &len, NULL));
  fail_unless (g_file_set_contents (truncated, data, len / 3, NULL));
  g_free (data);

  pipeline = pipeline_with_tokenizers (1, garbage, toks);
  expect_load_error (pipeline, garbage, GST_RESOURCE_ERROR_OPEN_READ);
  g_object_set (toks[0], "model", truncated, NULL);
  expect_load_error (pipeline, truncated, GST_RESOURCE_ERROR_OPEN_READ);
  /* an empty file */
  fail_unless (g_file_set_contents (garbage, "", 0, NULL));
  g_object_set (toks[0], "model", garbage, NULL);
  expect_load_error (pipeline, garbage, GST_RESOURCE_ERROR_OPEN_READ);
  /* a directory */
  g_object_set (toks[0], "model", g_get_tmp_dir (), NULL);
  expect_load_error (pipeline, g_get_tmp_dir (), GST_RESOURCE_ERROR_OPEN_READ);
  gst_object_unref (pipeline);

  g_unlink (garbage);
  g_unlink (truncated);
  g_free (garbage);
  g_free (truncated);
  g_free (good);
}

GST_END_TEST;

GST_START_TEST (test_error_without_bus)
{
  /* no bin, no bus: the failure must still be clean */
  GstElement *e = tokenizer (NULL, "/nonexistent/model.upm");

  fail_unless (
      gst_element_set_state (e, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE);
  fail_unless (
      gst_element_set_state (e, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_model_changed_in_ready)
{
  gchar *a = fixture_path ();
  gchar *b = fixture_copy ("test-upmmodel-ready.upm");
  GstElement *e = tokenizer (NULL, a);
  UpmModel *first;

  set_state (e, GST_STATE_READY);
  first = element_model (e);
  fail_unless (first != NULL);
  /* changeable in READY: used from READY->PAUSED on */
  g_object_set (e, "model", b, NULL);
  set_state (e, GST_STATE_PAUSED);
  fail_unless (element_model (e) != NULL);
  fail_unless (element_model (e) != first);
  fail_unless (file_is_mapped (b));
  set_state (e, GST_STATE_NULL);
  fail_if (file_is_mapped (b));
  gst_object_unref (e);
  g_unlink (b);
  g_free (a);
  g_free (b);
}

GST_END_TEST;

static void
prepare (TCase *tc G_GNUC_UNUSED)
{
  g_free (upm_test_use_fixture_model ());
}

static const UpmCheckTest upmmodel_tests[] = {
  UPM_CHECK_TEST (test_property_default),
  UPM_CHECK_TEST (test_share_in_pipeline),
  UPM_CHECK_TEST (test_share_between_pipelines),
  UPM_CHECK_TEST (test_share_by_query),
  UPM_CHECK_TEST (test_application_context),
  UPM_CHECK_TEST (test_missing_model),
  UPM_CHECK_TEST (test_corrupt_model),
  UPM_CHECK_TEST (test_error_without_bus),
  UPM_CHECK_TEST (test_model_changed_in_ready),
};

UPM_CHECK_MAIN (upmmodel, prepare);
