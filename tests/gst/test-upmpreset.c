/* test-upmpreset.c: task presets in the elements: the preset property and
 * its overrides, clips sampled by time (views x crops, their records),
 * short streams, flushes, and the head's average over the views.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "upm.h"
#include "upm-test-harness.h"
#include "upmmeta.h"

/* tiny-dense-t8.upm: image 32, patch 8, 8 temporal positions, D 64 */
static gchar *t8_path;
static UpmModel *t8;

#define WIDTH 64
#define HEIGHT 48
#define K400_VIEWS 12
#define K400_FRAMES 8
#define K400_SAMPLES 32 /* 8 frames x 4 temporal views */
#define K400_STRIDE 8
#define LABELS "walking, running, jumping, sitting, waving"
#define N_LABELS 5

static void
setup (void)
{
  t8_path
      = g_build_filename (g_getenv ("UPM_FIXTURES"), "tiny-dense-t8.upm", NULL);
  t8 = upm_test_load_model (t8_path);
  fail_unless_equals_int (upm_model_hparams (t8)->n_temporal, 8);
}

static void
teardown (void)
{
  upm_model_unref (t8);
  t8 = NULL;
  g_clear_pointer (&t8_path, g_free);
}

/* ------------------------------------------------------------ input */

/* The RGB pixels of source frame @n: a pattern that differs per frame and
 * across the frame (so that crops and frames are told apart). */
static guint8 *
frame_pixels (guint n)
{
  guint8 *rgb = g_malloc (WIDTH * HEIGHT * 3);

  for (guint y = 0; y < HEIGHT; y++)
    for (guint x = 0; x < WIDTH; x++)
      {
        guint8 *p = rgb + (y * WIDTH + x) * 3;

        p[0] = (guint8)(x * 4 + n * 7);
        p[1] = (guint8)(y * 5 + n * 3);
        p[2] = (guint8)((x * y + n * 11) & 0xff);
      }
  return rgb;
}

static GstBuffer *
frame_buffer (guint n, GstClockTime pts, GstClockTime duration)
{
  GstBuffer *buf
      = gst_buffer_new_wrapped (frame_pixels (n), WIDTH * HEIGHT * 3);

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  return buf;
}

static gchar *
video_caps (gint fps_n, gint fps_d)
{
  return g_strdup_printf (
      "video/x-raw, format=RGB, width=%d, height=%d, framerate=%d/%d", WIDTH,
      HEIGHT, fps_n, fps_d);
}

/* upmtokenizer model=t8 preset=@preset @props, playing at @fps_n/@fps_d,
 * fed by a source that is live or not (a file of unknown duration). */
static GstHarness *
tokenizer_harness_live (const gchar *preset, const gchar *props, gint fps_n,
    gint fps_d, gboolean live)
{
  gchar *desc = g_strdup_printf ("upmtokenizer model=%s preset=%s %s", t8_path,
      preset, props ? props : "");
  GstHarness *h = gst_harness_new_parse (desc);
  gchar *caps = video_caps (fps_n, fps_d);

  gst_harness_set_live (h, live);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  g_free (desc);
  return h;
}

static GstHarness *
tokenizer_harness (
    const gchar *preset, const gchar *props, gint fps_n, gint fps_d)
{
  return tokenizer_harness_live (preset, props, fps_n, fps_d, FALSE);
}

/* Pushes source frames @from .. @to - 1 of which @keep says TRUE, at the
 * times @pts gives (ns). */
static void
push_frames (GstHarness *h, guint from, guint to, const GstClockTime *pts,
    const gboolean *keep)
{
  for (guint n = from; n < to; n++)
    if (keep == NULL || keep[n])
      fail_unless_equals_int (
          gst_harness_push (h, frame_buffer (n, pts[n], GST_CLOCK_TIME_NONE)),
          GST_FLOW_OK);
}

static GstClockTime *
constant_rate_pts (guint n, gint fps_n, gint fps_d)
{
  GstClockTime *pts = g_new (GstClockTime, n);

  for (guint i = 0; i < n; i++)
    pts[i] = gst_util_uint64_scale (i, GST_SECOND * fps_d, fps_n);
  return pts;
}

/* ------------------------------------------------------------ checks */

/* The patches of source frame @n in crop @c of preset k400 (video norm,
 * the three-crop boxes of the model's image size). */
static gfloat *
reference_patches (guint n, guint c)
{
  const UpmHParams *hp = upm_model_hparams (t8);
  gsize floats = (gsize)UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
  gfloat *patches = g_new (gfloat, floats);
  guint8 *rgb = frame_pixels (n);
  GError *err = NULL;
  UpmCropBox box;

  fail_unless (upm_vision_crop_box (WIDTH, HEIGHT, hp->image_size,
      hp->image_size, UPM_CROPS_THREE, c, &box, &err));
  fail_unless (upm_vision_frame_to_patches_box (hp, UPM_NORM_VIDEO, &box, rgb,
                   WIDTH, HEIGHT, WIDTH * 3, patches, &err),
      "%s", err ? err->message : "");
  g_free (rgb);
  return patches;
}

/* A k400 view buffer: clip @clip_id, view @k; its frames are @want
 * (stream indices of the frames, see sample_of) and their PTS @pts[want];
 * its box the three-crop box; when @check_pixels, its patches those of the
 * source frames @source[want] (the frame numbers of the pushed frames). */
static void
check_k400_view (GstBuffer *buf, guint64 clip_id, guint k, const guint32 *want,
    const GstClockTime *stream_pts, const guint *source, gboolean check_pixels)
{
  const UpmHParams *hp = upm_model_hparams (t8);
  gsize floats = (gsize)UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
  GstUpmViewMeta *vm = gst_buffer_get_upm_view_meta (buf);
  guint v = k / 3, c = k % 3;
  UpmCropBox box;
  GstMapInfo map;

  fail_unless (vm != NULL);
  fail_unless_equals_uint64 (vm->clip_id, clip_id);
  fail_unless_equals_int (vm->view, k);
  fail_unless_equals_int (vm->n_views, K400_VIEWS);
  fail_unless_equals_int (vm->temporal_view, v);
  fail_unless_equals_int (vm->crop, c);
  fail_unless_equals_int (vm->n_frames, K400_FRAMES);
  fail_unless_equals_int (gst_buffer_get_size (buf), floats * K400_FRAMES * 4);
  for (guint i = 0; i < K400_FRAMES; i++)
    {
      guint32 s = want[i * 4 + v];

      fail_unless_equals_uint64 (vm->frames[i], s);
      fail_unless_equals_uint64 (vm->frame_pts[i], stream_pts[s]);
    }
  fail_unless (upm_vision_crop_box (WIDTH, HEIGHT, hp->image_size,
      hp->image_size, UPM_CROPS_THREE, c, &box, NULL));
  fail_unless_equals_float (vm->box.x, box.src_x);
  fail_unless_equals_float (vm->box.y, box.src_y);
  fail_unless_equals_float (vm->box.width, box.src_w);
  fail_unless_equals_float (vm->box.height, box.src_h);
  fail_unless_equals_int (vm->box.frame_width, WIDTH);
  /* and in the resized frame, as upm-run writes it */
  fail_unless_equals_int (vm->box.resized_width, box.resized_w);
  fail_unless_equals_int (vm->box.resized_height, box.resized_h);
  fail_unless_equals_int (vm->box.resized_x, box.x);
  fail_unless_equals_int (vm->box.resized_y, box.y);
  fail_unless_equals_int (vm->box.resized_size, box.size);
  fail_unless (box.size > 0);
  if (!check_pixels)
    return;
  gst_buffer_map (buf, &map, GST_MAP_READ);
  for (guint i = 0; i < K400_FRAMES; i++)
    {
      gfloat *ref = reference_patches (source[want[i * 4 + v]], c);
      const gfloat *got = (const gfloat *)map.data + i * floats;

      for (gsize q = 0; q < floats; q++)
        fail_unless (fabsf (got[q] - ref[q]) < 1e-5f, "view %u frame %u", k, i);
      g_free (ref);
    }
  gst_buffer_unmap (buf, &map);
}

/* Pulls the 12 views of a k400 clip and checks them. */
static void
pull_k400_clip (GstHarness *h, guint64 clip_id, const guint32 *want,
    const GstClockTime *stream_pts, const guint *source, gboolean pixels)
{
  for (guint k = 0; k < K400_VIEWS; k++)
    {
      GstBuffer *buf = gst_harness_try_pull (h);

      fail_unless (
          buf != NULL, "view %u of clip %u missing", k, (guint)clip_id);
      /* the clip's time: its window's first frame (sample 0) */
      fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), stream_pts[want[0]]);
      check_k400_view (buf, clip_id, k, want, stream_pts, source, pixels);
      gst_buffer_unref (buf);
    }
}

/* ------------------------------------------------------ properties */

static gint
enum_value (GstElement *e, const gchar *name)
{
  gint v;

  g_object_get (e, name, &v, NULL);
  return v;
}

static gint
preset_index (const gchar *name)
{
  for (guint i = 0; i < upm_n_presets (); i++)
    if (g_str_equal (upm_preset_get (i)->name, name))
      return (gint)i;
  return -1;
}

GST_START_TEST (test_preset_property)
{
  static const gchar *factories[] = { "upmtokenizer", "upmhead", "upmbin" };

  for (guint f = 0; f < G_N_ELEMENTS (factories); f++)
    {
      GstElement *e = gst_element_factory_make (factories[f], NULL);
      GParamSpec *p
          = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "preset");
      GEnumClass *klass;

      fail_unless (p != NULL && G_IS_PARAM_SPEC_ENUM (p), "%s", factories[f]);
      fail_unless (strlen (g_param_spec_get_blurb (p)) > 20);
      fail_unless_equals_int (
          enum_value (e, "preset"), preset_index ("default"));
      /* every preset of the library, by its name */
      klass = G_PARAM_SPEC_ENUM (p)->enum_class;
      fail_unless_equals_int (klass->n_values, upm_n_presets ());
      for (guint i = 0; i < upm_n_presets (); i++)
        {
          gst_util_set_object_arg (
              G_OBJECT (e), "preset", upm_preset_get (i)->name);
          fail_unless_equals_int (enum_value (e, "preset"), i);
        }
      {
        GValue v = G_VALUE_INIT;

        g_value_init (&v, G_PARAM_SPEC_VALUE_TYPE (p));
        fail_if (gst_value_deserialize (&v, "kinetics"));
        g_value_unset (&v);
      }
      gst_object_unref (e);
    }
}

GST_END_TEST;

/* The head's task follows the preset until the task property is set; the
 * caption settings are 0 / -1 (from the preset) until set. */
GST_START_TEST (test_preset_overrides)
{
  GstElement *head = gst_element_factory_make ("upmhead", NULL);
  GstElement *bin = gst_element_factory_make ("upmbin", NULL);
  GstElement *child;
  gfloat penalty;
  guint beam;

  g_object_get (head, "length-penalty", &penalty, "beam-size", &beam, NULL);
  fail_unless_equals_float (penalty, -1.0f);
  fail_unless_equals_int (beam, 0);
  gst_util_set_object_arg (G_OBJECT (head), "preset", "msvd-caption");
  fail_unless_equals_int (enum_value (head, "task"), 2); /* caption */
  gst_util_set_object_arg (G_OBJECT (head), "preset", "coco-retrieval");
  fail_unless_equals_int (enum_value (head, "task"), 1); /* retrieve */
  gst_util_set_object_arg (G_OBJECT (head), "task", "classify");
  gst_util_set_object_arg (G_OBJECT (head), "preset", "msvd-caption");
  fail_unless_equals_int (enum_value (head, "task"), 0); /* set: kept */
  g_object_set (head, "length-penalty", 0.5f, NULL);
  g_object_get (head, "length-penalty", &penalty, NULL);
  fail_unless_equals_float (penalty, 0.5f);
  UPM_ASSERT_WARNING_OR_CRITICAL (
      g_object_set (head, "length-penalty", -2.0f, NULL));
  gst_object_unref (head);

  /* upmbin sets the preset on its tokenizer and head */
  gst_util_set_object_arg (G_OBJECT (bin), "preset", "k400");
  child = gst_bin_get_by_name (GST_BIN (bin), "tokenizer");
  fail_unless_equals_int (enum_value (child, "preset"), preset_index ("k400"));
  gst_object_unref (child);
  child = gst_bin_get_by_name (GST_BIN (bin), "head");
  fail_unless_equals_int (enum_value (child, "preset"), preset_index ("k400"));
  gst_object_unref (child);
  g_object_set (bin, "length-penalty", 1.5f, NULL);
  child = gst_bin_get_by_name (GST_BIN (bin), "head");
  g_object_get (child, "length-penalty", &penalty, NULL);
  fail_unless_equals_float (penalty, 1.5f);
  gst_object_unref (child);
  gst_object_unref (bin);
}

GST_END_TEST;

/* ------------------------------------------------------- k400 by time */

/* A 30 fps stream: one clip of 12 views; frames at the official indices
 * (upm_vision_sample_indices), the three-crop boxes, the patches of the
 * right source frames in the right crops. The clip leaves as soon as the
 * frame of its last sample has arrived. */
GST_START_TEST (test_k400_30fps)
{
  const guint n = 300;
  GstClockTime *pts = constant_rate_pts (n, 30, 1);
  guint *source = g_new (guint, n);
  guint32 want[K400_SAMPLES];
  GstHarness *h = tokenizer_harness ("k400", NULL, 30, 1);

  for (guint i = 0; i < n; i++)
    source[i] = i;
  upm_vision_sample_indices (n, 30.0, K400_SAMPLES, K400_STRIDE, 0, want);
  fail_unless_equals_int (want[31], 248);
  push_frames (h, 0, want[31], pts, NULL);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  push_frames (h, want[31], want[31] + 1, pts, NULL);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), K400_VIEWS);
  fail_unless_equals_string (
      upm_test_output_caps_field (h, "modality"), "video");
  pull_k400_clip (h, 0, want, pts, source, TRUE);
  /* the next window starts at 8.53 s: frame 256; the stream ends at
   * 10 s, 1.47 s of its 8.53 s: dropped (partial-clip=pad needs half) */
  push_frames (h, want[31] + 1, n, pts, NULL);
  gst_harness_push_event (h, gst_event_new_eos ());
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  gst_harness_teardown (h);
  g_free (source);
  g_free (pts);
}

GST_END_TEST;

/* 25 fps: windows by time, at the official indices of a 25 fps video; the
 * second window starts 256/30 s after the first. */
GST_START_TEST (test_k400_25fps)
{
  const guint n = 500;
  GstClockTime *pts = constant_rate_pts (n, 25, 1);
  guint *source = g_new (guint, n);
  guint32 want[K400_SAMPLES], next[K400_SAMPLES];
  GstHarness *h = tokenizer_harness ("k400", NULL, 25, 1);
  guint start2;

  for (guint i = 0; i < n; i++)
    source[i] = i;
  upm_vision_sample_indices (n, 25.0, K400_SAMPLES, K400_STRIDE, 0, want);
  push_frames (h, 0, n, pts, NULL);
  pull_k400_clip (h, 0, want, pts, source, FALSE);
  /* window 2: the first frame at or after 256/30 s = 8.533 s -> 214 */
  start2 = (guint)ceil (256.0 / 30.0 * 25.0);
  fail_unless_equals_int (start2, 214);
  upm_vision_sample_indices (
      n - start2, 25.0, K400_SAMPLES, K400_STRIDE, 0, next);
  for (guint j = 0; j < K400_SAMPLES; j++)
    next[j] += start2;
  pull_k400_clip (h, 1, next, pts, source, FALSE);
  gst_harness_teardown (h);
  g_free (source);
  g_free (pts);
}

GST_END_TEST;

/* frame-stride and clip-hop override the preset, in 30-fps frames: 32
 * samples 4/30 s apart (4.27 s), a window every 2 s (60 frames). */
GST_START_TEST (test_k400_overrides)
{
  const guint n = 300;
  GstClockTime *pts = constant_rate_pts (n, 30, 1);
  guint *source = g_new (guint, n);
  guint32 want[K400_SAMPLES];
  /* live, where the latency matters */
  GstHarness *h = tokenizer_harness_live (
      "k400", "frame-stride=4 clip-hop=60", 30, 1, TRUE);
  guint64 latency_ns = 0;
  GstQuery *q = gst_query_new_latency ();

  for (guint i = 0; i < n; i++)
    source[i] = i;
  push_frames (h, 0, 250, pts, NULL);
  for (guint w = 0; w < 3; w++)
    {
      upm_vision_sample_indices (n, 30.0, K400_SAMPLES, 4, 0, want);
      for (guint j = 0; j < K400_SAMPLES; j++)
        want[j] += w * 60;
      fail_unless_equals_int (want[31], w * 60 + 124);
      pull_k400_clip (h, w, want, pts, source, w == 1);
    }
  /* window 3 (from frame 180) needs frame 304 */
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  /* a clip leaves its span after its first frame: reported as latency */
  if (gst_pad_peer_query (h->sinkpad, q))
    {
      GstClockTime min;

      gst_query_parse_latency (q, NULL, &min, NULL);
      latency_ns = min;
    }
  fail_unless_equals_uint64 (latency_ns, 32 * 4 * GST_SECOND / 30 + 1);
  gst_query_unref (q);
  gst_harness_teardown (h);
  g_free (source);
  g_free (pts);
}

GST_END_TEST;

/* Frames from a pool of 4 buffers (a hardware decoder's): the window of
 * 249 frames does not drain it (the sampler copies them), and the clip is
 * the same as from system memory. */
GST_START_TEST (test_k400_bounded_pool)
{
  const guint n = 249;
  GstClockTime *pts = constant_rate_pts (n, 30, 1);
  guint *source = g_new (guint, n);
  guint32 want[K400_SAMPLES];
  GstHarness *h = tokenizer_harness ("k400", NULL, 30, 1);
  GstBufferPool *pool = gst_video_buffer_pool_new ();
  GstStructure *config = gst_buffer_pool_get_config (pool);
  gchar *caps_str = video_caps (30, 1);
  GstCaps *caps = gst_caps_from_string (caps_str);

  gst_buffer_pool_config_set_params (config, caps, WIDTH * HEIGHT * 3, 4, 4);
  fail_unless (gst_buffer_pool_set_config (pool, config));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  for (guint i = 0; i < n; i++)
    {
      GstBufferPoolAcquireParams params
          = { .flags = GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT };
      GstBuffer *buf = NULL;
      guint8 *rgb = frame_pixels (i);

      source[i] = i;
      fail_unless_equals_int (
          gst_buffer_pool_acquire_buffer (pool, &buf, &params), GST_FLOW_OK);
      gst_buffer_fill (buf, 0, rgb, WIDTH * HEIGHT * 3);
      GST_BUFFER_PTS (buf) = pts[i];
      fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
      g_free (rgb);
    }
  upm_vision_sample_indices (300, 30.0, K400_SAMPLES, K400_STRIDE, 0, want);
  pull_k400_clip (h, 0, want, pts, source, TRUE);
  gst_harness_teardown (h);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_caps_unref (caps);
  g_free (caps_str);
  g_free (source);
  g_free (pts);
}

GST_END_TEST;

/* A 30 fps timeline that lost frames (a variable-rate / dropping source):
 * every sample is the last frame received at or before its time, so the
 * clip keeps its 8.27 s span instead of stretching over more time. */
GST_START_TEST (test_k400_dropped_frames)
{
  const guint n = 300;
  GstClockTime *pts30 = constant_rate_pts (n, 30, 1);
  GstClockTime *pts = g_new (GstClockTime, n);
  gboolean *keep = g_new (gboolean, n);
  guint *source = g_new (guint, n);
  guint32 want[K400_SAMPLES];
  /* live: the sampler holds only the frames it samples from the start */
  GstHarness *h = tokenizer_harness_live ("k400", NULL, 30, 1, TRUE);
  guint m = 0;

  /* drop 2 of every 5 frames, and a whole second (frames 90..119) */
  for (guint i = 0; i < n; i++)
    {
      keep[i] = i % 5 != 1 && i % 5 != 3 && (i < 90 || i >= 120);
      if (keep[i])
        {
          pts[m] = pts30[i];
          source[m] = i;
          m++;
        }
    }
  /* the expected index of each sample: a plain scan of the received
   * frames, independent of the library's search */
  for (guint j = 0; j < K400_SAMPLES; j++)
    {
      gdouble t = j * K400_STRIDE / 30.0;

      want[j] = 0;
      for (guint k = 0; k < m; k++)
        if ((gdouble)pts[k] / GST_SECOND <= t + 1e-6)
          want[j] = k;
    }
  /* sample 12 (t = 3.2 s) falls in the lost second: frame 89, 0.233 s
   * earlier */
  fail_unless_equals_int (source[want[12]], 89);
  push_frames (h, 0, n, pts30, keep);
  pull_k400_clip (h, 0, want, pts, source, TRUE);
  /* the last sample is within one source frame of the window's span */
  fail_unless (
      (gdouble)pts[want[31]] / GST_SECOND > 31 * K400_STRIDE / 30.0 - 0.07);
  gst_harness_teardown (h);
  g_free (source);
  g_free (keep);
  g_free (pts);
  g_free (pts30);
}

GST_END_TEST;

/* A 2 s video, shorter than k400's 8.53 s: at EOS one clip whose indices
 * wrap around modulo the 60 frames (as the official sampler), and a
 * warning that says so. */
GST_START_TEST (test_k400_short_stream)
{
  const guint n = 60;
  GstClockTime *pts = constant_rate_pts (n, 30, 1);
  guint *source = g_new (guint, n);
  guint32 want[K400_SAMPLES];
  GstHarness *h = tokenizer_harness ("k400", NULL, 30, 1);
  GstBus *bus = upm_test_bus_for (h->element);
  GstMessage *msg;
  GError *err = NULL;

  for (guint i = 0; i < n; i++)
    source[i] = i;
  upm_vision_sample_indices (n, 30.0, K400_SAMPLES, K400_STRIDE, 0, want);
  fail_unless_equals_int (want[8], 4); /* 64 mod 60 */
  push_frames (h, 0, n, pts, NULL);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  gst_harness_push_event (h, gst_event_new_eos ());
  pull_k400_clip (h, 0, want, pts, source, TRUE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  gst_message_parse_warning (msg, &err, NULL);
  fail_unless (strstr (err->message, "shorter") != NULL, "%s", err->message);
  fail_unless (strstr (err->message, "2.00 s") != NULL, "%s", err->message);
  fail_unless (strstr (err->message, "8.53 s") != NULL, "%s", err->message);
  g_clear_error (&err);
  gst_message_unref (msg);
  upm_test_drop_bus (bus);
  gst_harness_teardown (h);
  g_free (source);
  g_free (pts);
}

GST_END_TEST;

/* A later window that the stream ends in, with at least half of its span:
 * at EOS its samples past the end repeat its last frame (frames no sample
 * takes were released as they came, the sampled ones are intact). */
GST_START_TEST (test_k400_padded_tail)
{
  const guint n = 400;
  GstClockTime *pts = constant_rate_pts (n, 30, 1);
  guint *source = g_new (guint, n);
  guint32 want[K400_SAMPLES];
  GstHarness *h = tokenizer_harness ("k400", NULL, 30, 1);

  for (guint i = 0; i < n; i++)
    source[i] = i;
  push_frames (h, 0, n, pts, NULL);
  upm_vision_sample_indices (n, 30.0, K400_SAMPLES, K400_STRIDE, 0, want);
  pull_k400_clip (h, 0, want, pts, source, FALSE);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  /* window 2 from frame 256 (8.53 s) to 13.33 s: 4.8 of 8.53 s */
  gst_harness_push_event (h, gst_event_new_eos ());
  for (guint j = 0; j < K400_SAMPLES; j++)
    want[j] = MIN (256 + j * K400_STRIDE, n - 1);
  pull_k400_clip (h, 1, want, pts, source, TRUE);
  gst_harness_teardown (h);
  g_free (source);
  g_free (pts);
}

GST_END_TEST;

/* A live stream is taken to outlast its first window (nothing is held for
 * a wrap around): one that ends early anyway repeats its last frame, and
 * the warning still says the video was shorter than the preset. */
GST_START_TEST (test_k400_short_live)
{
  const guint n = 60;
  GstClockTime *pts = constant_rate_pts (n, 30, 1);
  guint *source = g_new (guint, n);
  guint32 want[K400_SAMPLES];
  GstHarness *h = tokenizer_harness_live ("k400", NULL, 30, 1, TRUE);
  GstBus *bus = upm_test_bus_for (h->element);
  GstMessage *msg;

  for (guint i = 0; i < n; i++)
    source[i] = i;
  push_frames (h, 0, n, pts, NULL);
  gst_harness_push_event (h, gst_event_new_eos ());
  for (guint j = 0; j < K400_SAMPLES; j++)
    want[j] = MIN (j * K400_STRIDE, n - 1);
  pull_k400_clip (h, 0, want, pts, source, TRUE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  gst_message_unref (msg);
  upm_test_drop_bus (bus);
  gst_harness_teardown (h);
  g_free (source);
  g_free (pts);
}

GST_END_TEST;

/* A flushing seek: the window in progress is forgotten, the next frame
 * starts a window and counts from 0. */
GST_START_TEST (test_k400_flush)
{
  const guint n = 300;
  GstClockTime *pts = constant_rate_pts (n, 30, 1);
  guint *source = g_new (guint, n);
  guint32 want[K400_SAMPLES];
  GstHarness *h = tokenizer_harness ("k400", NULL, 30, 1);
  GstSegment segment;

  push_frames (h, 0, 100, pts, NULL);
  gst_harness_push_event (h, gst_event_new_flush_start ());
  gst_harness_push_event (h, gst_event_new_flush_stop (TRUE));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&segment));
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  /* source frames 40.. again from time 0 */
  for (guint i = 0; i < n - 40; i++)
    {
      source[i] = i + 40;
      fail_unless_equals_int (gst_harness_push (h, frame_buffer (i + 40, pts[i],
                                                       GST_CLOCK_TIME_NONE)),
          GST_FLOW_OK);
    }
  upm_vision_sample_indices (n, 30.0, K400_SAMPLES, K400_STRIDE, 0, want);
  pull_k400_clip (h, 0, want, pts, source, TRUE);
  gst_harness_teardown (h);
  g_free (source);
  g_free (pts);
}

GST_END_TEST;

/* The bundled model's 4 temporal positions cannot hold k400's 8 frames:
 * the tokenizer refuses to start, saying why. */
GST_START_TEST (test_unsuited_preset)
{
  gchar *bundled = upm_test_bundled_model_path ();
  GstElement *e = gst_element_factory_make ("upmtokenizer", NULL);
  GstBus *bus = upm_test_bus_for (e);
  gchar *text;

  g_object_set (e, "model", bundled, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "preset", "k400");
  fail_unless_equals_int (
      gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  text = upm_test_pop_error (bus);
  fail_unless (text != NULL);
  fail_unless (strstr (text, "preset=k400") != NULL, "%s", text);
  fail_unless (strstr (text, "8 frames") != NULL, "%s", text);
  fail_unless (strstr (text, "4 temporal positions") != NULL, "%s", text);
  g_free (text);
  /* with clip-frames 4 it fits */
  gst_element_set_state (e, GST_STATE_NULL);
  g_object_set (e, "clip-frames", 4, NULL);
  fail_unless (
      gst_element_set_state (e, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  gst_element_set_state (e, GST_STATE_NULL);
  upm_test_drop_bus (bus);
  gst_object_unref (e);
  g_free (bundled);
}

GST_END_TEST;

/* MSVD retrieval reads texts of up to 77 tokens: the head refuses a model
 * of 64 text positions, saying so. */
GST_START_TEST (test_retrieval_text_positions)
{
  GstElement *e = gst_element_factory_make ("upmhead", NULL);
  GstBus *bus = upm_test_bus_for (e);
  gchar *text;

  g_object_set (e, "model", t8_path, "labels", "a man is walking", NULL);
  gst_util_set_object_arg (G_OBJECT (e), "preset", "msvd-retrieval");
  fail_unless_equals_int (
      gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  text = upm_test_pop_error (bus);
  fail_unless (text != NULL);
  fail_unless (strstr (text, "77 tokens") != NULL, "%s", text);
  fail_unless (strstr (text, "64 text positions") != NULL, "%s", text);
  g_free (text);
  gst_element_set_state (e, GST_STATE_NULL);
  upm_test_drop_bus (bus);
  gst_object_unref (e);
}

GST_END_TEST;

/* A caption is decoded from one view: the head refuses k400 captions. */
GST_START_TEST (test_caption_views_refused)
{
  GstElement *e = gst_element_factory_make ("upmhead", NULL);
  GstBus *bus = upm_test_bus_for (e);
  gchar *text;

  g_object_set (e, "model", t8_path, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "preset", "k400");
  gst_util_set_object_arg (G_OBJECT (e), "task", "caption");
  fail_unless_equals_int (
      gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  text = upm_test_pop_error (bus);
  fail_unless (text != NULL);
  fail_unless (strstr (text, "12 views") != NULL, "%s", text);
  g_free (text);
  gst_element_set_state (e, GST_STATE_NULL);
  upm_test_drop_bus (bus);
  gst_object_unref (e);
}

GST_END_TEST;

/* ------------------------------------------------------------ head */

/* The hidden states of the 12 views of a k400 clip of frames 0..248. */
static GPtrArray *
k400_hidden_views (void)
{
  gchar *desc = g_strdup_printf (
      "upmtokenizer model=%s preset=k400 ! upmencoder model=%s ! "
      "upmtransformer model=%s task=classify",
      t8_path, t8_path, t8_path);
  GstHarness *h = gst_harness_new_parse (desc);
  GstClockTime *pts = constant_rate_pts (249, 30, 1);
  GPtrArray *views
      = g_ptr_array_new_with_free_func ((GDestroyNotify)gst_buffer_unref);
  gchar *caps = video_caps (30, 1);

  gst_harness_set_src_caps_str (h, caps);
  push_frames (h, 0, 249, pts, NULL);
  for (guint k = 0; k < K400_VIEWS; k++)
    {
      GstBuffer *buf = gst_harness_try_pull (h);

      fail_unless (buf != NULL);
      /* the view record passes the encoder and transformer */
      fail_unless (gst_buffer_get_upm_view_meta (buf) != NULL);
      fail_unless_equals_int (gst_buffer_get_upm_view_meta (buf)->view, k);
      g_ptr_array_add (views, buf);
    }
  gst_harness_teardown (h);
  g_free (caps);
  g_free (pts);
  g_free (desc);
  return views;
}

/* The head's probabilities are the mean over the views of each view's
 * softmax (computed here with the library, video classification scale),
 * its result records the 12 views, and so does its JSON. */
GST_START_TEST (test_head_average)
{
  const UpmHParams *hp = upm_model_hparams (t8);
  GPtrArray *views = k400_hidden_views ();
  const char *labels[N_LABELS]
      = { "walking", "running", "jumping", "sitting", "waving" };
  gfloat *label_features = g_new (gfloat, N_LABELS * hp->n_embd);
  gfloat mean[N_LABELS] = { 0 }, feature[256], logits[N_LABELS],
         probs[N_LABELS];
  gchar *desc = g_strdup_printf ("upmhead model=%s preset=k400 labels=\"%s\" "
                                 "top-k=%d text-format=json",
      t8_path, LABELS, N_LABELS);
  GstHarness *h = gst_harness_new_parse (desc);
  UpmContext *ctx = upm_context_new (t8);
  GError *err = NULL;
  GstUpmResultMeta *result;
  GstUpmViewMeta **vms;
  JsonParser *parser;
  JsonArray *jviews;
  JsonObject *resized;
  gchar *text;
  GstBuffer *out;
  guint n_views = 0;

  fail_unless (upm_model_text_features (
      t8, labels, N_LABELS, UPM_ATTR_CLS_TARGET, label_features, &err));
  fail_unless (hp->n_embd <= G_N_ELEMENTS (feature));
  for (guint k = 0; k < K400_VIEWS; k++)
    {
      GstMapInfo map;

      gst_buffer_map (g_ptr_array_index (views, k), &map, GST_MAP_READ);
      upm_feature_from_hidden (ctx, (const gfloat *)map.data, feature);
      gst_buffer_unmap (g_ptr_array_index (views, k), &map);
      upm_classify (hp, feature, label_features, N_LABELS,
          upm_model_logit_scale (t8, UPM_SCALE_VIDEO_CLS), logits, probs);
      for (guint i = 0; i < N_LABELS; i++)
        mean[i] += probs[i] / K400_VIEWS;
    }

  gst_harness_set_src_caps_str (
      h, "application/x-upm-hidden, modality=video, task=classify, dim=64");
  for (guint k = 0; k < K400_VIEWS; k++)
    {
      fail_unless_equals_int (gst_harness_buffers_received (h), 0);
      fail_unless_equals_int (
          gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (views, k))),
          GST_FLOW_OK);
    }
  out = upm_test_pull_patiently (h);
  fail_unless (out != NULL);
  result = gst_buffer_get_upm_result_meta (out);
  fail_unless (result != NULL);
  fail_unless_equals_int (result->n_scores, N_LABELS);
  for (guint r = 0; r < N_LABELS; r++)
    {
      const GstUpmScore *sc = &result->scores[r];

      fail_unless (fabsf (sc->prob - mean[sc->index]) < 1e-5f, "%s: %g vs %g",
          sc->label, sc->prob, mean[sc->index]);
      if (r > 0)
        fail_unless (sc->prob <= result->scores[r - 1].prob);
    }
  /* one record per view, as the tokenizer made them */
  vms = gst_buffer_get_upm_view_metas (out, &n_views);
  fail_unless_equals_int (n_views, K400_VIEWS);
  for (guint k = 0; k < n_views; k++)
    {
      GstUpmViewMeta *in
          = gst_buffer_get_upm_view_meta (g_ptr_array_index (views, k));

      fail_unless_equals_int (vms[k]->view, k);
      fail_unless (
          memcmp (vms[k]->frames, in->frames, K400_FRAMES * sizeof (guint64))
          == 0);
      fail_unless_equals_float (vms[k]->box.x, in->box.x);
      fail_unless_equals_int (vms[k]->box.resized_x, in->box.resized_x);
      fail_unless_equals_int (vms[k]->box.resized_size, in->box.resized_size);
    }
  fail_unless_equals_string (result->preset, "k400");

  /* the JSON text has them */
  text = upm_test_buffer_text (out);
  parser = json_parser_new ();
  fail_unless (json_parser_load_from_data (parser, text, -1, &err), "%s", text);
  jviews = json_object_get_array_member (
      json_node_get_object (json_parser_get_root (parser)), "views");
  fail_unless_equals_int (json_array_get_length (jviews), K400_VIEWS);
  fail_unless_equals_int (
      json_array_get_length (json_object_get_array_member (
          json_array_get_object_element (jviews, 4), "frames")),
      K400_FRAMES);
  /* temporal view 1: sample 1 of 32 at stride 8 = frame 8 */
  fail_unless_equals_int (
      json_array_get_int_element (
          json_object_get_array_member (
              json_array_get_object_element (jviews, 4), "frames"),
          0),
      8);
  /* the crop in the resized frame and the preset, named as upm-run does */
  resized = json_object_get_object_member (
      json_array_get_object_element (jviews, 4), "resized");
  fail_unless (resized != NULL, "%s", text);
  fail_unless_equals_int (
      json_object_get_int_member (resized, "x"), vms[4]->box.resized_x);
  fail_unless_equals_int (
      json_object_get_int_member (resized, "y"), vms[4]->box.resized_y);
  fail_unless_equals_int (
      json_object_get_int_member (resized, "size"), vms[4]->box.resized_size);
  fail_unless_equals_int (
      json_object_get_int_member (resized, "width"), vms[4]->box.resized_width);
  fail_unless_equals_int (json_object_get_int_member (resized, "height"),
      vms[4]->box.resized_height);
  fail_unless_equals_string (
      json_object_get_string_member (
          json_node_get_object (json_parser_get_root (parser)), "preset"),
      "k400");
  g_free (vms);
  g_object_unref (parser);
  g_free (text);

  gst_buffer_unref (out);
  gst_harness_teardown (h);
  upm_context_free (ctx);
  g_free (desc);
  g_free (label_features);
  g_ptr_array_unref (views);
}

GST_END_TEST;

/* upmbin preset=k400: the tokenizer samples the views, the head averages
 * them: one result per clip, 12 views recorded. */
GST_START_TEST (test_bin_k400)
{
  gchar *desc = g_strdup_printf (
      "upmbin model=%s preset=k400 labels=\"%s\"", t8_path, LABELS);
  GstHarness *h = gst_harness_new_parse (desc);
  GstClockTime *pts = constant_rate_pts (249, 30, 1);
  gchar *caps = video_caps (30, 1);
  GstUpmViewMeta **vms;
  GstBuffer *out;
  guint n_views = 0;

  gst_harness_set_src_caps_str (h, caps);
  push_frames (h, 0, 249, pts, NULL);
  out = upm_test_pull_patiently (h);
  fail_unless (out != NULL);
  fail_unless (gst_buffer_get_upm_result_meta (out) != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 0);
  vms = gst_buffer_get_upm_view_metas (out, &n_views);
  fail_unless_equals_int (n_views, K400_VIEWS);
  fail_unless_equals_int (vms[11]->temporal_view, 3);
  fail_unless_equals_int (vms[11]->crop, 2);
  fail_unless_equals_uint64 (vms[11]->frames[7], 31 * K400_STRIDE);
  g_free (vms);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (caps);
  g_free (pts);
  g_free (desc);
}

GST_END_TEST;

/* A clip whose views stop early (EOS after 6 of 12) gives no result and a
 * warning that says how many views were lost. */
GST_START_TEST (test_head_lost_views)
{
  GPtrArray *views = k400_hidden_views ();
  gchar *desc = g_strdup_printf (
      "upmhead model=%s preset=k400 labels=\"%s\"", t8_path, LABELS);
  GstHarness *h = gst_harness_new_parse (desc);
  GstBus *bus = upm_test_bus_for (h->element);
  GstMessage *msg;
  GError *err = NULL;

  gst_harness_set_src_caps_str (
      h, "application/x-upm-hidden, modality=video, task=classify, dim=64");
  for (guint k = 0; k < 6; k++)
    fail_unless_equals_int (
        gst_harness_push (h, gst_buffer_ref (g_ptr_array_index (views, k))),
        GST_FLOW_OK);
  gst_harness_push_event (h, gst_event_new_eos ());
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  gst_message_parse_warning (msg, &err, NULL);
  fail_unless (strstr (err->message, "lost 6 of its 12 views") != NULL, "%s",
      err->message);
  g_clear_error (&err);
  gst_message_unref (msg);
  fail_unless (gst_harness_try_pull (h) == NULL);
  upm_test_drop_bus (bus);
  gst_harness_teardown (h);
  g_free (desc);
  g_ptr_array_unref (views);
}

GST_END_TEST;

/* msvd-caption: one view of 4 frames 32/30 s apart; one caption that
 * records them. */
GST_START_TEST (test_msvd_caption)
{
  gchar *desc = g_strdup_printf (
      "upmtokenizer model=%s preset=msvd-caption ! upmencoder model=%s ! "
      "upmtransformer model=%s ! upmhead model=%s preset=msvd-caption "
      "max-length=4 text-format=json",
      t8_path, t8_path, t8_path, t8_path);
  GstHarness *h = gst_harness_new_parse (desc);
  GstClockTime *pts = constant_rate_pts (150, 30, 1);
  gchar *caps = video_caps (30, 1);
  guint32 want[4];
  GstUpmViewMeta *vm;
  GstBuffer *out;

  gst_harness_set_src_caps_str (h, caps);
  push_frames (h, 0, 150, pts, NULL);
  gst_harness_push_event (h, gst_event_new_eos ());
  out = upm_test_pull_patiently (h);
  fail_unless (out != NULL);
  fail_unless (gst_buffer_get_upm_caption_meta (out) != NULL);
  vm = gst_buffer_get_upm_view_meta (out);
  fail_unless (vm != NULL);
  fail_unless_equals_int (vm->n_views, 1);
  fail_unless_equals_int (vm->n_frames, 4);
  upm_vision_sample_indices (150, 30.0, 4, 32, 0, want);
  for (guint i = 0; i < 4; i++)
    {
      fail_unless_equals_uint64 (vm->frames[i], want[i]);
      fail_unless_equals_uint64 (vm->frame_pts[i], pts[want[i]]);
    }
  fail_unless_equals_int (want[3], 96);
  /* centre crop of the 64x48 frame */
  fail_unless (vm->box.x > 0.0 && vm->box.y == 0.0);
  /* one caption only: the second window (4.27 s .. 5 s) is too short */
  gst_buffer_unref (out);
  fail_unless (gst_harness_try_pull (h) == NULL);
  gst_harness_teardown (h);
  g_free (caps);
  g_free (pts);
  g_free (desc);
}

GST_END_TEST;

/* ------------------------------------------------------- still images */

/* The patches of source frame @n on the image path: bicubic, the model's
 * mean/std, the centre crop after resizing the shorter side to @resize. */
static void
check_image_clip (GstBuffer *buf, guint n, guint resize)
{
  const UpmHParams *hp = upm_model_hparams (t8);
  gsize floats = (gsize)UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
  gfloat *ref = g_new (gfloat, floats);
  guint8 *rgb = frame_pixels (n);
  GError *err = NULL;
  UpmCropBox box;
  GstMapInfo map;
  gfloat max_diff = 0.0f;

  fail_unless (upm_vision_crop_box (
      WIDTH, HEIGHT, resize, hp->image_size, UPM_CROPS_CENTRE, 0, &box, &err));
  fail_unless (upm_vision_frame_to_patches_box (
      hp, UPM_NORM_IMAGE, &box, rgb, WIDTH, HEIGHT, WIDTH * 3, ref, &err));
  fail_unless_equals_int (gst_buffer_get_size (buf), floats * 4);
  gst_buffer_map (buf, &map, GST_MAP_READ);
  for (gsize q = 0; q < floats; q++)
    max_diff = MAX (max_diff, fabsf (((const gfloat *)map.data)[q] - ref[q]));
  gst_buffer_unmap (buf, &map);
  fail_unless (max_diff < 1e-5f, "max diff %g", max_diff);
  g_free (rgb);
  g_free (ref);
}

/* A stream of one frame under a video preset is a still image: one 1-frame
 * clip on the image path, no clip of the frame repeated, no warning. */
GST_START_TEST (test_one_frame_stream)
{
  GstHarness *h = tokenizer_harness ("k400", NULL, 30, 1);
  GstBus *bus = upm_test_bus_for (h->element);
  GstClockTime pts = 0;
  GstUpmViewMeta *vm;
  GstBuffer *buf;

  push_frames (h, 0, 1, &pts, NULL);
  gst_harness_push_event (h, gst_event_new_eos ());
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 1);
  buf = gst_harness_pull (h);
  fail_unless_equals_string (
      upm_test_output_caps_field (h, "modality"), "image");
  check_image_clip (buf, 0, upm_model_hparams (t8)->image_size);
  vm = gst_buffer_get_upm_view_meta (buf);
  fail_unless (vm != NULL && vm->n_views == 1 && vm->n_frames == 1);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING) == NULL);
  gst_buffer_unref (buf);
  upm_test_drop_bus (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* imagenet on a still image: shorter side int(256 / 224 x 32) = 36, centre
 * crop 32, the image normalisation. */
GST_START_TEST (test_imagenet_still)
{
  GstHarness *h = tokenizer_harness ("imagenet", NULL, 0, 1);
  GstBuffer *buf;

  fail_unless_equals_int (
      gst_harness_push (h, frame_buffer (5, 0, GST_CLOCK_TIME_NONE)),
      GST_FLOW_OK);
  buf = gst_harness_pull (h);
  fail_unless_equals_string (
      upm_test_output_caps_field (h, "modality"), "image");
  check_image_clip (buf, 5, 36);
  gst_buffer_unref (buf);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A retrieval preset scores with the plain cosine, and says so (this
 * model's 64 text positions cannot hold msvd-retrieval's 77-token texts:
 * COCO's). */
GST_START_TEST (test_retrieval_cosine)
{
  const UpmHParams *hp = upm_model_hparams (t8);
  const char *texts[2] = { "a man is walking", "a dog runs" };
  gchar *desc = g_strdup_printf ("upmhead model=%s preset=coco-retrieval "
                                 "labels=\"%s, %s\" top-k=2",
      t8_path, texts[0], texts[1]);
  GstHarness *h = gst_harness_new_parse (desc);
  gfloat *hidden = upm_test_random_floats (hp->n_embd, 7);
  gfloat *targets = g_new (gfloat, 2 * hp->n_embd);
  gfloat feature[256], cosines[2];
  UpmContext *ctx = upm_context_new (t8);
  GstUpmResultMeta *result;
  GError *err = NULL;
  GstBuffer *out;
  gchar *json;

  fail_unless (upm_model_text_features (
      t8, texts, 2, UPM_ATTR_RETRIEVAL_TARGET, targets, &err));
  upm_feature_from_hidden (ctx, hidden, feature);
  upm_classify (hp, feature, targets, 2, 1.0f, cosines, NULL);
  gst_harness_set_src_caps_str (
      h, "application/x-upm-hidden, modality=image, task=retrieve, dim=64");
  out = gst_harness_push_and_pull (
      h, gst_buffer_new_memdup (hidden, hp->n_embd * sizeof (gfloat)));
  result = gst_buffer_get_upm_result_meta (out);
  fail_unless (result != NULL);
  fail_unless_equals_string (result->task, "retrieve");
  fail_unless_equals_string (result->score_kind, "cosine");
  fail_unless_equals_string (result->preset, "coco-retrieval");
  json = gst_upm_buffer_metas_to_json (out);
  fail_unless (strstr (json, "\"score_kind\":\"cosine\"") != NULL, "%s", json);
  fail_unless (
      strstr (json, "\"preset\":\"coco-retrieval\"") != NULL, "%s", json);
  g_free (json);
  for (guint r = 0; r < 2; r++)
    {
      fail_unless (
          fabsf (result->scores[r].logit - cosines[result->scores[r].index])
          < 1e-5f);
      fail_unless (fabsf (result->scores[r].logit) <= 1.0f + 1e-5f);
    }
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  upm_context_free (ctx);
  g_free (targets);
  g_free (hidden);
  g_free (desc);
}

GST_END_TEST;

static const UpmCheckTest upmpreset_tests[] = {
  UPM_CHECK_TEST (test_preset_property),
  UPM_CHECK_TEST (test_preset_overrides),
  UPM_CHECK_TEST (test_k400_30fps),
  UPM_CHECK_TEST (test_k400_25fps),
  UPM_CHECK_TEST (test_k400_overrides),
  UPM_CHECK_TEST (test_k400_bounded_pool),
  UPM_CHECK_TEST (test_k400_dropped_frames),
  UPM_CHECK_TEST (test_k400_short_stream),
  UPM_CHECK_TEST (test_k400_padded_tail),
  UPM_CHECK_TEST (test_k400_short_live),
  UPM_CHECK_TEST (test_k400_flush),
  UPM_CHECK_TEST (test_unsuited_preset),
  UPM_CHECK_TEST (test_caption_views_refused),
  UPM_CHECK_TEST (test_head_average),
  UPM_CHECK_TEST (test_head_lost_views),
  UPM_CHECK_TEST (test_bin_k400),
  UPM_CHECK_TEST (test_msvd_caption),
  UPM_CHECK_TEST (test_one_frame_stream),
  UPM_CHECK_TEST (test_imagenet_still),
  UPM_CHECK_TEST (test_retrieval_cosine),
  UPM_CHECK_TEST (test_retrieval_text_positions),
};

static void
prepare (TCase *tc)
{
  tcase_add_checked_fixture (tc, setup, teardown);
}

UPM_CHECK_MAIN (upmpreset, prepare);
