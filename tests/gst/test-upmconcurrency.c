/* test-upmconcurrency.c: many pipelines in one process on one shared model.
 *
 * Sixteen pipelines, each with its own source (eight videotestsrc patterns,
 * captioning and classifying), run at once in one process and share one
 * loaded model (GstContext + the process cache). Every result must equal the
 * result of the same pipeline running alone: shared state between streams
 * would show up as a different caption, label or probability, or as a lost
 * or extra result. Built with -Db_sanitize=thread this is the ThreadSanitizer
 * test of the plugin (scripts/sanitize.sh thread).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include <gst/check/gstcheck.h>

#include "upm-test-harness.h"

/* UPM_TEST_PIPELINES (2..16) lowers the count where each thread costs a lot
 * (scripts/valgrind.sh runs 4: memcheck serialises all threads on one core) */
#define MAX_PIPELINES 16
#define N_FRAMES 16
#define CLIP_FRAMES 4

static gchar *model_path;
static guint n_pipelines = MAX_PIPELINES;

static void
prepare (TCase *tc)
{
  const gchar *n = g_getenv ("UPM_TEST_PIPELINES");

  if (n)
    n_pipelines = CLAMP (g_ascii_strtoull (n, NULL, 10), 2, MAX_PIPELINES);

  model_path = upm_test_bundled_model_path ();
  tcase_set_timeout (tc, 600);
  /* Streams batch their caption steps too (the library batches the steps
   * of larger models only), so that the tests below cover them. */
  g_setenv ("UPM_BATCH_STEPS", "1", TRUE);
}

static const gchar *patterns[] = { "smpte", "ball", "checkers-8", "colors",
  "circular", "zone-plate", "pinwheel", "spokes" };

static const gchar *labels
    = "a red circle moves to the left, a blue square grows, "
      "a green star stays still, a white cross bounces";

typedef struct
{
  GstElement *pipeline;
  GString *results;
  GArray *scores; /* caption scores (double), compared apart */
  guint n_results;
  gboolean done;
  gchar *error;
} Stream;

static void
append_result (Stream *s, const GstStructure *st)
{
  const gchar *task = gst_structure_get_string (st, "task");
  guint64 pts = GST_CLOCK_TIME_NONE;
  gchar *text;

  gst_structure_get_uint64 (st, "pts", &pts);
  g_string_append_printf (
      s->results, "%s@%" G_GUINT64_FORMAT ":", task ? task : "?", pts);
  /* The whole structure but its timing fields (the same for both runs
   * anyway): text, ids, labels and probabilities, exactly; the caption's
   * score apart, within 1e-6: streams decoding together run their beams'
   * rows as one GEMM (upmhead's batch-wait), which rounds the
   * log-probabilities differently in the last bits (the ids are the
   * same). */
  if (gst_structure_has_field_typed (st, "score", G_TYPE_DOUBLE))
    {
      GstStructure *copy = gst_structure_copy (st);
      gdouble score = 0;
      gst_structure_get_double (copy, "score", &score);
      g_array_append_val (s->scores, score);
      gst_structure_remove_field (copy, "score");
      text = gst_structure_to_string (copy);
      gst_structure_free (copy);
    }
  else
    text = gst_structure_to_string (st);
  g_string_append (s->results, text);
  g_string_append_c (s->results, '\n');
  g_free (text);
  s->n_results++;
}

static void
stream_init (Stream *s, guint index)
{
  const gchar *pattern = patterns[index % G_N_ELEMENTS (patterns)];
  gboolean caption = index < G_N_ELEMENTS (patterns);
  GError *err = NULL;
  gchar *desc;

  memset (s, 0, sizeof (*s));
  desc = g_strdup_printf (
      "videotestsrc pattern=%s num-buffers=%d ! "
      "video/x-raw,width=96,height=72,framerate=8/1 ! videoconvert ! "
      "upmbin name=upm clip-frames=%d task=%s model=\"%s\" ! fakesink",
      pattern, N_FRAMES, CLIP_FRAMES, caption ? "caption" : "classify",
      model_path);
  s->pipeline = gst_parse_launch (desc, &err);
  fail_unless (s->pipeline != NULL, "%s: %s", desc, err ? err->message : "?");
  g_free (desc);
  if (!caption)
    {
      GstElement *upm = gst_bin_get_by_name (GST_BIN (s->pipeline), "upm");
      g_object_set (upm, "labels", labels, "top-k", 4, NULL);
      gst_object_unref (upm);
    }
  s->results = g_string_new (NULL);
  s->scores = g_array_new (FALSE, FALSE, sizeof (gdouble));
}

static void
stream_clear (Stream *s)
{
  gst_element_set_state (s->pipeline, GST_STATE_NULL);
  gst_object_unref (s->pipeline);
  g_string_free (s->results, TRUE);
  g_array_free (s->scores, TRUE);
  g_free (s->error);
}

/* Handles the stream's pending bus messages; returns FALSE once done. */
static gboolean
stream_poll (Stream *s, GstClockTime timeout)
{
  GstBus *bus = gst_element_get_bus (s->pipeline);
  GstMessage *msg;

  while (!s->done
         && (msg = gst_bus_timed_pop_filtered (bus, timeout,
                 GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR)))
    {
      const GstStructure *st = gst_message_get_structure (msg);

      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
        {
          GError *err = NULL;

          gst_message_parse_error (msg, &err, NULL);
          s->error = g_strdup (err->message);
          g_clear_error (&err);
          s->done = TRUE;
        }
      else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS)
        {
          s->done = TRUE;
        }
      else if (st && gst_structure_has_name (st, "upm-result"))
        {
          append_result (s, st);
        }
      gst_message_unref (msg);
      timeout = 0;
    }
  gst_object_unref (bus);
  return !s->done;
}

/* The same results: the structures exactly, the caption scores within
 * 1e-6 (see append_result). */
static void
assert_same_results (const Stream *a, const Stream *b)
{
  fail_unless_equals_string (a->results->str, b->results->str);
  fail_unless_equals_int (a->scores->len, b->scores->len);
  for (guint i = 0; i < a->scores->len; i++)
    fail_unless (fabs (g_array_index (a->scores, gdouble, i)
                       - g_array_index (b->scores, gdouble, i))
                     <= 1e-6,
        "caption score %u: %.9g vs %.9g", i,
        g_array_index (a->scores, gdouble, i),
        g_array_index (b->scores, gdouble, i));
}

/* Runs streams[first .. first + n) at the same time until all reach EOS. */
static void
run_streams (Stream *streams, guint first, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 300 * G_TIME_SPAN_SECOND;
  gboolean running = TRUE;

  for (guint i = first; i < first + n; i++)
    fail_unless (gst_element_set_state (streams[i].pipeline, GST_STATE_PLAYING)
                 != GST_STATE_CHANGE_FAILURE);
  while (running)
    {
      running = FALSE;
      for (guint i = first; i < first + n; i++)
        running |= stream_poll (&streams[i], 5 * GST_MSECOND);
      fail_unless (g_get_monotonic_time () < deadline, "pipelines stalled");
    }
  for (guint i = first; i < first + n; i++)
    gst_element_set_state (streams[i].pipeline, GST_STATE_NULL);
}

GST_START_TEST (test_sixteen_pipelines_match_single_runs)
{
  Stream alone[MAX_PIPELINES], together[MAX_PIPELINES];

  for (guint i = 0; i < n_pipelines; i++)
    {
      stream_init (&alone[i], i);
      run_streams (alone, i, 1);
      fail_unless (
          alone[i].error == NULL, "pipeline %u alone: %s", i, alone[i].error);
      fail_unless_equals_int (alone[i].n_results, N_FRAMES / CLIP_FRAMES);
    }
  for (guint i = 0; i < n_pipelines; i++)
    stream_init (&together[i], i);
  run_streams (together, 0, n_pipelines);
  for (guint i = 0; i < n_pipelines; i++)
    {
      fail_unless (
          together[i].error == NULL, "pipeline %u: %s", i, together[i].error);
      fail_unless_equals_int (together[i].n_results, N_FRAMES / CLIP_FRAMES);
      assert_same_results (&together[i], &alone[i]);
    }
  /* Different sources give different results: the comparison above is not
   * comparing copies of one answer. */
  fail_if (g_str_equal (alone[0].results->str, alone[1].results->str));
  if (n_pipelines > 9)
    fail_if (g_str_equal (alone[8].results->str, alone[9].results->str));
  for (guint i = 0; i < n_pipelines; i++)
    {
      stream_clear (&alone[i]);
      stream_clear (&together[i]);
    }
}

GST_END_TEST;

/* Pipelines started and stopped while others run on the same model: the
 * shared model outlives every pipeline that used it and results of the
 * pipelines that keep running are unaffected. */
GST_START_TEST (test_pipelines_come_and_go)
{
  Stream ref, steady, churn;

  stream_init (&ref, 1);
  run_streams (&ref, 0, 1);
  fail_unless (ref.error == NULL);

  stream_init (&steady, 1);
  fail_unless (gst_element_set_state (steady.pipeline, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  for (guint round = 0; round < 4; round++)
    {
      stream_init (&churn, 8 + round);
      fail_unless (gst_element_set_state (churn.pipeline, GST_STATE_PLAYING)
                   != GST_STATE_CHANGE_FAILURE);
      /* stop it before its end of stream, mid-clip or mid-decoding */
      stream_poll (&churn, (round + 1) * 20 * GST_MSECOND);
      stream_poll (&steady, 0);
      stream_clear (&churn);
    }
  while (stream_poll (&steady, 10 * GST_MSECOND))
    ;
  fail_unless (steady.error == NULL, "%s", steady.error);
  assert_same_results (&steady, &ref);
  stream_clear (&steady);
  stream_clear (&ref);
}

GST_END_TEST;

/* Batching's waits are bounded by the streams that take part: two caption
 * streams with a batch wait of 1 s (each waits for the other's clips and
 * steps); one is stopped mid-stream, and the other, alone from then on,
 * runs at once (a stopped stream that still counted would hold each of its
 * steps for 1 s: tens of seconds) with the results it has alone. */
static void
set_batch_wait (Stream *s, guint wait_us)
{
  GstElement *upm = gst_bin_get_by_name (GST_BIN (s->pipeline), "upm");

  gst_child_proxy_set (GST_CHILD_PROXY (upm), "transformer::batch-wait",
      wait_us, "head::batch-wait", wait_us, NULL);
  gst_object_unref (upm);
}

GST_START_TEST (test_stopped_stream_never_holds_batches)
{
  Stream ref, steady, stopped;
  gint64 t0;

  stream_init (&ref, 2);
  run_streams (&ref, 0, 1);
  fail_unless (ref.error == NULL);

  stream_init (&steady, 2);
  stream_init (&stopped, 3);
  set_batch_wait (&steady, 1000000);
  set_batch_wait (&stopped, 1000000);
  fail_unless (gst_element_set_state (steady.pipeline, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_set_state (stopped.pipeline, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  /* Stopped after its first result: a member of the batches of clips and
   * of caption steps by then. */
  while (stopped.n_results == 0 && stream_poll (&stopped, 10 * GST_MSECOND))
    stream_poll (&steady, 0);
  fail_unless (stopped.n_results >= 1);
  stream_clear (&stopped);
  t0 = g_get_monotonic_time ();
  while (stream_poll (&steady, 10 * GST_MSECOND))
    fail_unless (g_get_monotonic_time () - t0 < 15 * G_TIME_SPAN_SECOND,
        "a stopped stream holds the batches of the others");
  fail_unless (steady.error == NULL, "%s", steady.error);
  assert_same_results (&steady, &ref);
  stream_clear (&steady);
  stream_clear (&ref);
}

GST_END_TEST;

static const UpmCheckTest upmconcurrency_tests[] = {
  UPM_CHECK_TEST (test_sixteen_pipelines_match_single_runs),
  UPM_CHECK_TEST (test_pipelines_come_and_go),
  UPM_CHECK_TEST (test_stopped_stream_never_holds_batches),
};

UPM_CHECK_MAIN (upmconcurrency, prepare);
