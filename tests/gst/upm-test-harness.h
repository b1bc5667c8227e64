/* upm-test-harness.h: what the gst-check tests of the plugin share: the
 * model they run, random input, caps and bus helpers, patient pulls.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "upm.h"

G_BEGIN_DECLS

/* One test of a program's table: its function, its name, and how many
 * times it runs (1, or the @i range of a loop test). */
typedef struct
{
  const gchar *name;
  TFun func;
  gint n_loops;
} UpmCheckTest;

#define UPM_CHECK_TEST(func)                                                   \
  {                                                                            \
#func, func, 1                                                             \
  }
#define UPM_CHECK_LOOP_TEST(func, n)                                           \
  {                                                                            \
#func, func, n                                                             \
  }

/* Runs the suite @name, its one test case "general" made ready by @prepare
 * (its model, timeout, fixtures; NULL when there is nothing to do) and
 * holding the @n_tests of @tests, in order; returns the exit status. */
gint upm_test_run_suite (const gchar *name, const gchar *file,
    void (*prepare) (TCase *tc), const UpmCheckTest *tests, guint n_tests);

/* GST_CHECK_MAIN with the harness's suite: main() runs the tests of the
 * table @name##_tests after @prepare. */
#define UPM_CHECK_MAIN(name, prepare)                                          \
  int main (int argc, char **argv)                                             \
  {                                                                            \
    gst_check_init (&argc, &argv);                                             \
    return upm_test_run_suite (                                                \
        #name, __FILE__, prepare, name##_tests, G_N_ELEMENTS (name##_tests));  \
  }

/* $UPM_FIXTURES/tiny-moe.upm, made the default model of the elements
 * ($UPM_DEFAULT_MODEL): the bundled model is not built here. */
gchar *upm_test_use_fixture_model (void);

/* The bundled model, models/uniperceiver-synth-moe.upm in the source tree
 * ($UPM_SOURCE_ROOT, else the current directory). */
gchar *upm_test_bundled_model_path (void);

/* Loads @path or fails the test with the error. */
UpmModel *upm_test_load_model (const gchar *path);

/* @n floats in [-1, 1), the same for the same @seed. */
void upm_test_fill_random (gfloat *x, gsize n, guint32 seed);
gfloat *upm_test_random_floats (gsize n, guint32 seed);

/* Pushes caps and a TIME segment without asserting that they are accepted
 * (a refused sticky event still counts as stored). */
void upm_test_push_caps (GstHarness *h, const gchar *caps_str);

/* The string @field of the caps on the harness's sink pad (interned),
 * failing the test where there are none. */
const gchar *upm_test_output_caps_field (GstHarness *h, const gchar *field);

/* Pulls every event waiting at the harness's sink pad; returns how many
 * were of @type. */
guint upm_test_drain_events (GstHarness *h, GstEventType type);

/* Takes @e from NULL to PLAYING and back @n times, each change a
 * synchronous success. */
void upm_test_cycle_states (GstElement *e, guint n);

/* Pushing @buf into @h returns @flow and posts an error on @bus whose
 * text contains @needle. */
void upm_test_assert_push_error (GstHarness *h, GstBus *bus, GstBuffer *buf,
    GstFlowReturn flow, const gchar *needle);

/* Fails unless the spec of @e's property @name refuses @value (as
 * gst-launch would write it): validating it changes it. */
void upm_test_assert_refused (
    GstElement *e, const gchar *name, const gchar *value);

/* A new bus set on @e, for the messages the tests pop. */
GstBus *upm_test_bus_for (GstElement *e);

/* Unrefs @bus after dropping its messages: they hold the elements, which
 * hold the bus. */
void upm_test_drop_bus (GstBus *bus);

/* "message | debug" of the next error on @bus, NULL if none. */
gchar *upm_test_pop_error (GstBus *bus);

/* The next "upm-result" element message on @bus, NULL if none. */
GstMessage *upm_test_pop_result (GstBus *bus);

/* The bytes of @buf as a string. */
gchar *upm_test_buffer_text (GstBuffer *buf);

/* gst_harness_pull waits 60 s: a caption takes longer than that where
 * every thread runs serialised under valgrind; these wait up to 10
 * minutes. */
GstBuffer *upm_test_pull_patiently (GstHarness *h);
GstBuffer *upm_test_push_and_pull_patiently (GstHarness *h, GstBuffer *buf);

/* Whether the tests' time ratios are judged: not where every thread runs
 * serialised on one core (scripts/valgrind.sh sets UPM_TEST_NO_TIMING),
 * which makes a push wait for a decode and a stop for a beam step; the
 * behaviour around them is still checked there. */
gboolean upm_test_timing_judged (void);

/* Runs @code and fails unless it logged a g_warning or a g_critical.
 * GObject reports an invalid property value with g_warning in GLib 2.74
 * (Debian 12) and with g_critical from GLib 2.76 on (Debian 13 has 2.84):
 * commit 0ffe86a1 "Replace most GObject warnings with criticals", reverted
 * on the 2.74 branch only. */
#define UPM_ASSERT_WARNING_OR_CRITICAL(code)                                   \
  G_STMT_START                                                                 \
  {                                                                            \
    _gst_check_expecting_log = TRUE;                                           \
    _gst_check_raised_warning = FALSE;                                         \
    _gst_check_raised_critical = FALSE;                                        \
    code;                                                                      \
    _gst_check_expecting_log = FALSE;                                          \
    fail_unless (_gst_check_raised_warning || _gst_check_raised_critical,      \
        "Expected g_warning or g_critical, got nothing: " #code);              \
  }                                                                            \
  G_STMT_END

G_END_DECLS
