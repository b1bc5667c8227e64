/* test-upmbadinput.c: bad input as a user meets it, through whole pipelines.
 *
 * Each test is one row of the README's bad-input table: what goes in, and
 * what the application sees on the bus (an error naming the cause, or the
 * documented recovery with every clip accounted for). The element-level and
 * library-level rows are tested next to the code they exercise (see the
 * table); these are the ones that need a pipeline.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <gst/app/gstappsrc.h>
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>

#include "upm-test-harness.h"

static gchar *model_path;
static gchar *tmp_dir;

static void
prepare (TCase *tc)
{
  model_path = upm_test_bundled_model_path ();
  tmp_dir = g_build_filename (
      g_getenv ("UPM_BUILD_ROOT") ? g_getenv ("UPM_BUILD_ROOT") : ".", "tests",
      "gst", "badinput", NULL);
  g_mkdir_with_parents (tmp_dir, 0755);
  tcase_set_timeout (tc, 300);
}

typedef struct
{
  gchar *error; /* message + debug of the first ERROR */
  GArray *pts;  /* guint64 pts of each upm-result */
  gboolean eos;
} Outcome;

static void
outcome_clear (Outcome *o)
{
  g_free (o->error);
  g_array_unref (o->pts);
}

/* Plays @pipeline until EOS or an error; optionally calls @step once it is
 * PLAYING (to feed an appsrc, seek, ...). */
static Outcome
play (
    GstElement *pipeline, void (*step) (GstElement *, gpointer), gpointer data)
{
  Outcome o = { NULL, g_array_new (FALSE, FALSE, sizeof (guint64)), FALSE };
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING)
          != GST_STATE_CHANGE_FAILURE
      && step != NULL)
    step (pipeline, data);
  while ((msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
              GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR
                  | GST_MESSAGE_APPLICATION)))
    {
      const GstStructure *s = gst_message_get_structure (msg);
      gboolean done = FALSE;

      /* a step marks the point after which results count (the bus is FIFO) */
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_APPLICATION)
        g_array_set_size (o.pts, 0);

      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
        {
          GError *err = NULL;
          gchar *dbg = NULL;

          gst_message_parse_error (msg, &err, &dbg);
          o.error = g_strdup_printf ("%s | %s", err->message, dbg ? dbg : "");
          g_clear_error (&err);
          g_free (dbg);
          done = TRUE;
        }
      else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS)
        {
          o.eos = done = TRUE;
        }
      else if (s && gst_structure_has_name (s, "upm-result"))
        {
          guint64 pts = GST_CLOCK_TIME_NONE;

          gst_structure_get_uint64 (s, "pts", &pts);
          g_array_append_val (o.pts, pts);
        }
      gst_message_unref (msg);
      if (done)
        break;
    }
  fail_unless (o.eos || o.error, "neither EOS nor an error within 60 s");
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  return o;
}

static GstElement *launch (const gchar *fmt, ...) G_GNUC_PRINTF (1, 2);

static GstElement *
launch (const gchar *fmt, ...)
{
  GError *err = NULL;
  GstElement *p;
  va_list ap;
  gchar *desc;

  va_start (ap, fmt);
  desc = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  p = gst_parse_launch (desc, &err);
  fail_unless (
      p != NULL && err == NULL, "%s: %s", desc, err ? err->message : "?");
  g_free (desc);
  return p;
}

/* The model error a pipeline on @path shows. */
static gchar *
model_error (const gchar *path)
{
  GstElement *p = launch (
      "videotestsrc num-buffers=4 ! "
      "video/x-raw,width=64,height=48,framerate=8/1 ! upmbin model=\"%s\" ! "
      "fakesink",
      path);
  Outcome o = play (p, NULL, NULL);
  gchar *error = g_strdup (o.error);

  fail_unless (error != NULL, "%s: no error", path);
  fail_unless_equals_int (o.pts->len, 0);
  outcome_clear (&o);
  gst_object_unref (p);
  return error;
}

static void
assert_contains (const gchar *text, const gchar *part)
{
  fail_unless (strstr (text, part) != NULL, "'%s' not in '%s'", part, text);
}

/* A copy of the bundled model with @patch applied at byte @offset, or cut to
 * @length bytes when @patch is NULL. */
static gchar *
model_variant (
    const gchar *name, gsize offset, const void *patch, gsize n, gsize length)
{
  gchar *contents, *path = g_build_filename (tmp_dir, name, NULL);
  gsize size;

  fail_unless (g_file_get_contents (model_path, &contents, &size, NULL));
  if (patch != NULL)
    {
      fail_unless (offset + n <= size);
      memcpy (contents + offset, patch, n);
    }
  else
    {
      size = MIN (size, length);
    }
  fail_unless (g_file_set_contents (path, contents, size, NULL));
  g_free (contents);
  return path;
}

/* Byte offset of the value of the string key @key in the bundled model. */
static gsize
string_value_offset (const gchar *key)
{
  gchar *contents, *hit;
  gsize size, offset;

  fail_unless (g_file_get_contents (model_path, &contents, &size, NULL));
  hit = memmem (contents, size, key, strlen (key));
  fail_unless (hit != NULL, "%s not in the model file", key);
  /* key bytes, then the value type (u32) and the string length (u64) */
  offset = (hit - contents) + strlen (key) + 4 + 8;
  g_free (contents);
  return offset;
}

/* A pipeline on model_variant (@name, @offset, @patch, @n, @length) fails
 * with an error that contains @part. */
static void
assert_variant_error (const gchar *name, gsize offset, const void *patch,
    gsize n, gsize length, const gchar *part)
{
  gchar *path = model_variant (name, offset, patch, n, length);
  gchar *error = model_error (path);

  assert_contains (error, part);
  g_free (error);
  g_free (path);
}

GST_START_TEST (test_model_missing_or_unreadable)
{
  gchar *missing = g_build_filename (tmp_dir, "no-such-model.upm", NULL);
  gchar *e1 = model_error (missing), *e2 = model_error (tmp_dir);

  assert_contains (e1, "Model file \"");
  assert_contains (e1, "no-such-model.upm\" not found");
  assert_contains (e1, "Set the 'model' property");
  assert_contains (e2, "Could not load the Uni-Perceiver model \"");
  assert_contains (e2, "not a regular file");
  assert_contains (e2, "upm-inspect");
  g_free (e1);
  g_free (e2);
  g_free (missing);
}

GST_END_TEST;

GST_START_TEST (test_model_truncated_or_corrupt)
{
  assert_variant_error ("cut.upm", 0, NULL, 0, 100000, "truncated");
  assert_variant_error ("empty.upm", 0, NULL, 0, 0, "empty file");
  assert_variant_error (
      "garbage.upm", 0, "NOT A MODEL", 11, 0, "not a GGUF file");
}

GST_END_TEST;

/* A hostile header: counts that would make a naive reader allocate
 * exabytes. The reader checks them against the file size first. */
GST_START_TEST (test_model_hostile_counts)
{
  const guint64 huge = G_GUINT64_CONSTANT (1) << 62;

  /* GGUF v3 header: magic, version (u32), tensor count (u64), kv count */
  assert_variant_error ("tensors.upm", 8, &huge, 8, 0,
      "tensor_count 4611686018427387904 is absurd");
  assert_variant_error (
      "kvs.upm", 16, &huge, 8, 0, "kv_count 4611686018427387904 is absurd");
}

GST_END_TEST;

GST_START_TEST (test_model_wrong_architecture_or_version)
{
  const guint32 version = 99;

  assert_variant_error ("arch.upm",
      string_value_offset ("general.architecture"), "llama", 5, 0,
      "architecture 'llamarceiver' is not supported");
  assert_variant_error ("version.upm", 4, &version, 4, 0, "version 99");
}

GST_END_TEST;

/* Audio cannot be linked to upmbin: the application gets the link error at
 * construction, before anything runs. */
GST_START_TEST (test_unsupported_caps)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch ("audiotestsrc num-buffers=4 ! upmbin ! "
                                    "fakesink",
      &err);

  fail_unless (err != NULL);
  assert_contains (err->message, "could not link");
  g_clear_error (&err);
  gst_clear_object (&p);
}

GST_END_TEST;

/* Frames smaller than one patch (down to 1x1) are resized to the model's
 * input like any other: every clip gets a result. */
GST_START_TEST (test_frames_smaller_than_a_patch)
{
  static const gint sizes[][2] = { { 1, 1 }, { 5, 3 }, { 2, 200 } };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      GstElement *p = launch (
          "videotestsrc num-buffers=8 ! "
          "video/x-raw,width=%d,height=%d,framerate=8/1 ! upmbin clip-frames=4 "
          "model=\"%s\" ! fakesink",
          sizes[i][0], sizes[i][1], model_path);
      Outcome o = play (p, NULL, NULL);

      fail_unless (
          o.error == NULL, "%dx%d: %s", sizes[i][0], sizes[i][1], o.error);
      fail_unless_equals_int (o.pts->len, 2);
      outcome_clear (&o);
      gst_object_unref (p);
    }
}

GST_END_TEST;

typedef struct
{
  gint rates[2];
  guint frames_per_rate;
} RateChange;

static void
push_frames (GstElement *pipeline, gpointer data)
{
  const RateChange *rc = data;
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstClockTime pts = 0;

  for (guint r = 0; r < 2; r++)
    {
      GstVideoInfo info;
      GstCaps *caps;

      gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 64, 48);
      info.fps_n = rc->rates[r];
      info.fps_d = 1;
      caps = gst_video_info_to_caps (&info);
      gst_app_src_set_caps (GST_APP_SRC (src), caps);
      gst_caps_unref (caps);
      for (guint i = 0; i < rc->frames_per_rate; i++)
        {
          GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);

          gst_buffer_memset (buf, 0, (guint8)(40 + 20 * i), info.size);
          GST_BUFFER_PTS (buf) = pts;
          GST_BUFFER_DURATION (buf)
              = gst_util_uint64_scale_int (GST_SECOND, 1, rc->rates[r]);
          pts += GST_BUFFER_DURATION (buf);
          fail_unless_equals_int (
              gst_app_src_push_buffer (GST_APP_SRC (src), buf), GST_FLOW_OK);
        }
    }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  gst_object_unref (src);
}

/* The frame rate changes mid-stream (8 -> 25 fps): the clips keep their
 * frame count, their timestamps follow the buffers, none is lost. */
GST_START_TEST (test_framerate_change)
{
  RateChange rc = { { 8, 25 }, 8 };
  GstElement *p = launch ("appsrc name=src format=time ! videoconvert ! "
                          "upmbin clip-frames=4 model=\"%s\" ! fakesink",
      model_path);
  Outcome o = play (p, push_frames, &rc);

  fail_unless (o.error == NULL, "%s", o.error);
  fail_unless_equals_int (o.pts->len, 4);
  fail_unless_equals_uint64 (g_array_index (o.pts, guint64, 0), 0);
  fail_unless_equals_uint64 (g_array_index (o.pts, guint64, 1), GST_SECOND / 2);
  fail_unless_equals_uint64 (g_array_index (o.pts, guint64, 2), GST_SECOND);
  fail_unless_equals_uint64 (g_array_index (o.pts, guint64, 3),
      GST_SECOND + gst_util_uint64_scale_int (GST_SECOND, 4, 25));
  outcome_clear (&o);
  gst_object_unref (p);
}

GST_END_TEST;

/* EOS in the middle of a clip: the partial clip is padded with its last
 * frame and still gets a result (partial-clip=pad, the default), or is
 * dropped on request (partial-clip=drop). */
GST_START_TEST (test_eos_mid_clip)
{
  static const struct
  {
    const gchar *mode;
    guint results;
  } cases[] = { { "pad", 3 }, { "drop", 2 } };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GstElement *p
          = launch ("videotestsrc num-buffers=10 ! "
                    "video/x-raw,width=64,height=48,framerate=8/1 ! "
                    "upmtokenizer partial-clip=%s clip-frames=4 model=\"%s\" ! "
                    "upmencoder ! upmtransformer ! upmhead ! fakesink",
              cases[i].mode, model_path);
      Outcome o = play (p, NULL, NULL);

      fail_unless (o.error == NULL, "%s", o.error);
      fail_unless_equals_int (o.pts->len, cases[i].results);
      outcome_clear (&o);
      gst_object_unref (p);
    }
}

GST_END_TEST;

static void
seek_after_first_result (GstElement *pipeline, gpointer data)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg
      = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, GST_MESSAGE_ELEMENT);
  guint64 *first = data;

  fail_unless (msg != NULL);
  fail_unless (
      gst_structure_get_uint64 (gst_message_get_structure (msg), "pts", first));
  gst_message_unref (msg);
  gst_object_unref (bus);
  fail_unless (gst_element_seek (pipeline, 1.0, GST_FORMAT_TIME,
      GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, GST_SEEK_TYPE_SET,
      10 * GST_SECOND, GST_SEEK_TYPE_SET, 15 * GST_SECOND));
  /* Results posted before the flushing seek returned may still be queued on
   * the bus; everything after this marker was posted after the seek. */
  gst_element_post_message (
      pipeline, gst_message_new_application (GST_OBJECT (pipeline),
                    gst_structure_new_empty ("seek-done")));
}

/* A flushing seek while clips are in flight: once the seek has returned, no
 * result from before it arrives; results start at the seek position and come
 * in clip cadence up to the segment's stop, none lost. */
GST_START_TEST (test_flushing_seek)
{
  GstElement *p
      = launch ("videotestsrc pattern=ball ! "
                "video/x-raw,width=64,height=48,framerate=8/1 ! "
                "upmbin clip-frames=4 model=\"%s\" ! fakesink sync=true",
          model_path);
  guint64 first_pts = GST_CLOCK_TIME_NONE;
  Outcome o = play (p, seek_after_first_result, &first_pts);
  guint64 last = 0;

  fail_unless (o.error == NULL, "%s", o.error);
  fail_unless_equals_uint64 (first_pts, 0);
  fail_unless (o.pts->len > 0);
  for (guint i = 0; i < o.pts->len; i++)
    {
      guint64 pts = g_array_index (o.pts, guint64, i);

      fail_unless (pts >= 10 * GST_SECOND,
          "result at %" GST_TIME_FORMAT " after the seek to 10 s",
          GST_TIME_ARGS (pts));
      if (i > 0)
        fail_unless_equals_uint64 (pts - last, GST_SECOND / 2);
      last = pts;
    }
  /* the seek segment ends at 15 s: ten clips from 10 s */
  fail_unless_equals_int (o.pts->len, 10);
  fail_unless_equals_uint64 (
      g_array_index (o.pts, guint64, 0), 10 * GST_SECOND);
  outcome_clear (&o);
  gst_object_unref (p);
}

GST_END_TEST;

static const UpmCheckTest upmbadinput_tests[] = {
  UPM_CHECK_TEST (test_model_missing_or_unreadable),
  UPM_CHECK_TEST (test_model_truncated_or_corrupt),
  UPM_CHECK_TEST (test_model_hostile_counts),
  UPM_CHECK_TEST (test_model_wrong_architecture_or_version),
  UPM_CHECK_TEST (test_unsupported_caps),
  UPM_CHECK_TEST (test_frames_smaller_than_a_patch),
  UPM_CHECK_TEST (test_framerate_change),
  UPM_CHECK_TEST (test_eos_mid_clip),
  UPM_CHECK_TEST (test_flushing_seek),
};

UPM_CHECK_MAIN (upmbadinput, prepare);
