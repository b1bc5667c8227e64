/* upm-test-harness.c: what the gst-check tests of the plugin share.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-test-harness.h"

#include <string.h>

gint
upm_test_run_suite (const gchar *name, const gchar *file,
    void (*prepare) (TCase *tc), const UpmCheckTest *tests, guint n_tests)
{
  Suite *s = suite_create (name);
  TCase *tc = tcase_create ("general");
  guint i;

  suite_add_tcase (s, tc);
  if (prepare)
    prepare (tc);
  for (i = 0; i < n_tests; i++)
    _tcase_add_test (
        tc, tests[i].func, tests[i].name, 0, 0, 0, tests[i].n_loops);
  return gst_check_run_suite (s, name, file);
}

gchar *
upm_test_use_fixture_model (void)
{
  gchar *path
      = g_build_filename (g_getenv ("UPM_FIXTURES"), "tiny-moe.upm", NULL);

  g_setenv ("UPM_DEFAULT_MODEL", path, TRUE);
  return path;
}

gchar *
upm_test_bundled_model_path (void)
{
  const gchar *root = g_getenv ("UPM_SOURCE_ROOT");

  return g_build_filename (
      root ? root : ".", "models", "uniperceiver-synth-moe.upm", NULL);
}

UpmModel *
upm_test_load_model (const gchar *path)
{
  GError *err = NULL;
  UpmModel *m = upm_model_load (path, &err);

  fail_unless (m != NULL, "cannot load %s: %s", path, err ? err->message : "?");
  return m;
}

void
upm_test_fill_random (gfloat *x, gsize n, guint32 seed)
{
  guint32 s = seed * 2654435761u + 12345u;
  gsize i;

  for (i = 0; i < n; i++)
    {
      s = s * 1664525u + 1013904223u;
      x[i] = (gfloat)((s >> 8) / 16777216.0 * 2.0 - 1.0);
    }
}

gfloat *
upm_test_random_floats (gsize n, guint32 seed)
{
  gfloat *x = g_new (gfloat, n);

  upm_test_fill_random (x, n, seed);
  return x;
}

void
upm_test_push_caps (GstHarness *h, const gchar *caps_str)
{
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstSegment segment;

  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&segment));
}

const gchar *
upm_test_output_caps_field (GstHarness *h, const gchar *field)
{
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  const gchar *value;

  fail_unless (caps != NULL);
  value = g_intern_string (
      gst_structure_get_string (gst_caps_get_structure (caps, 0), field));
  gst_caps_unref (caps);
  return value;
}

guint
upm_test_drain_events (GstHarness *h, GstEventType type)
{
  GstEvent *ev;
  guint n = 0;

  while ((ev = gst_harness_try_pull_event (h)) != NULL)
    {
      n += GST_EVENT_TYPE (ev) == type;
      gst_event_unref (ev);
    }
  return n;
}

void
upm_test_cycle_states (GstElement *e, guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    {
      fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PLAYING),
          GST_STATE_CHANGE_SUCCESS);
      fail_unless_equals_int (
          gst_element_set_state (e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    }
}

void
upm_test_assert_push_error (GstHarness *h, GstBus *bus, GstBuffer *buf,
    GstFlowReturn flow, const gchar *needle)
{
  gchar *text;

  fail_unless_equals_int (gst_harness_push (h, buf), flow);
  text = upm_test_pop_error (bus);
  fail_unless (
      text != NULL && strstr (text, needle) != NULL, "%s", GST_STR_NULL (text));
  g_free (text);
}

void
upm_test_assert_refused (GstElement *e, const gchar *name, const gchar *value)
{
  GParamSpec *p = g_object_class_find_property (G_OBJECT_GET_CLASS (e), name);
  GValue v = G_VALUE_INIT;

  fail_unless (p != NULL, "no property %s", name);
  g_value_init (&v, G_PARAM_SPEC_VALUE_TYPE (p));
  fail_unless (gst_value_deserialize (&v, value), "%s: not a value", value);
  fail_unless (g_param_value_validate (p, &v), "%s accepts %s", name, value);
  g_value_unset (&v);
}

GstBus *
upm_test_bus_for (GstElement *e)
{
  GstBus *bus = gst_bus_new ();

  gst_element_set_bus (e, bus);
  return bus;
}

void
upm_test_drop_bus (GstBus *bus)
{
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

gchar *
upm_test_pop_error (GstBus *bus)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  GError *err = NULL;
  gchar *dbg = NULL, *text;

  if (msg == NULL)
    return NULL;
  gst_message_parse_error (msg, &err, &dbg);
  text = g_strdup_printf ("%s | %s", err->message, dbg ? dbg : "");
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);
  return text;
}

GstMessage *
upm_test_pop_result (GstBus *bus)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) != NULL)
    {
      if (gst_message_has_name (msg, "upm-result"))
        return msg;
      gst_message_unref (msg);
    }
  return NULL;
}

gchar *
upm_test_buffer_text (GstBuffer *buf)
{
  GstMapInfo map;
  gchar *text;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  text = g_strndup ((const gchar *)map.data, map.size);
  gst_buffer_unmap (buf, &map);
  return text;
}

GstBuffer *
upm_test_pull_patiently (GstHarness *h)
{
  for (guint i = 0; i < 10; i++)
    {
      GstBuffer *buf = gst_harness_pull (h);
      if (buf != NULL)
        return buf;
    }
  return NULL;
}

GstBuffer *
upm_test_push_and_pull_patiently (GstHarness *h, GstBuffer *buf)
{
  if (gst_harness_push (h, buf) != GST_FLOW_OK)
    return NULL;
  return upm_test_pull_patiently (h);
}

gboolean
upm_test_timing_judged (void)
{
  return g_getenv ("UPM_TEST_NO_TIMING") == NULL;
}
