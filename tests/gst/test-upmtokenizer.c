/* test-upmtokenizer.c: upmtokenizer with GstHarness.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <math.h>
#include <string.h>

#include "upm.h"
#include "upm-test-harness.h"

/* The fixture: image 32, patch 8 -> 16 tokens/frame, patch-dim 192,
 * 4 temporal slots, clip_frames 4, text max length 30. */
static UpmModel *model;
static const UpmHParams *hp;
static gsize frame_floats;

#define FPS 30

static GstClockTime
frame_pts (guint i)
{
  return gst_util_uint64_scale (i, GST_SECOND, FPS);
}

static void
setup (void)
{
  gchar *path
      = g_build_filename (g_getenv ("UPM_FIXTURES"), "tiny-moe.upm", NULL);
  GError *err = NULL;

  model = upm_model_load (path, &err);
  fail_unless (model != NULL, "%s", err ? err->message : "");
  hp = upm_model_hparams (model);
  frame_floats = (gsize)UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
  fail_unless_equals_int (UPM_HP_TOKENS_PER_FRAME (hp), 16);
  fail_unless_equals_int (UPM_HP_PATCH_DIM (hp), 192);
  fail_unless_equals_int (hp->n_temporal, 4);
  g_free (path);
}

static void
teardown (void)
{
  upm_model_unref (model);
  model = NULL;
}

static GstElement *
tokenizer (void)
{
  GstElement *e = gst_element_factory_make ("upmtokenizer", NULL);

  fail_unless (e != NULL);
  return e;
}

/* A harness over @e (the harness holds its own reference). */
static GstHarness *
harness (GstElement *e)
{
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");

  gst_object_unref (e);
  return h;
}

/* MUTABLE_READY properties are set before the harness plays the element */
static GstHarness *
video_harness_norm (
    guint clip_frames, guint stride, guint hop, const gchar *norm)
{
  GstElement *e = tokenizer ();

  g_object_set (e, "clip-frames", clip_frames, "frame-stride", stride,
      "clip-hop", hop, NULL);
  if (norm)
    gst_util_set_object_arg (G_OBJECT (e), "norm", norm);
  return harness (e);
}

static GstHarness *
video_harness (guint clip_frames, guint stride, guint hop)
{
  return video_harness_norm (clip_frames, stride, hop, NULL);
}

static void
set_video_caps (
    GstHarness *h, const gchar *format, gint w, gint hgt, gint fps_n)
{
  gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,"
                                 "framerate=%d/1",
      format, w, hgt, fps_n);

  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
}

/* A deterministic RGB image with the GstVideoInfo layout (row padding). */
static GstBuffer *
rgb_frame (GstVideoInfo *info, guint seed, gboolean smooth)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info->size, NULL);
  GstVideoFrame frame;
  gint x, y;

  fail_unless (gst_video_frame_map (&frame, info, buf, GST_MAP_WRITE));
  for (y = 0; y < info->height; y++)
    {
      guint8 *row = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
                    + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);

      for (x = 0; x < info->width; x++)
        {
          if (smooth)
            {
              row[3 * x] = (guint8)(40 + x * 170 / MAX (info->width - 1, 1));
              row[3 * x + 1]
                  = (guint8)(30 + y * 180 / MAX (info->height - 1, 1));
              row[3 * x + 2] = (guint8)(90 + ((x + y + seed) % 64));
            }
          else
            {
              row[3 * x] = (guint8)(x * 7 + seed * 13);
              row[3 * x + 1] = (guint8)(y * 11 + seed * 29);
              row[3 * x + 2] = (guint8)(x * y + seed * 41);
            }
        }
      /* garbage in the padding must not matter */
      memset (row + 3 * info->width, 0xa5,
          GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0) - 3 * info->width);
    }
  gst_video_frame_unmap (&frame);
  return buf;
}

/* Pushes the RGB frames @from to @end - 1 of @info at FPS; each is
 * accepted. */
static void
push_frames (GstHarness *h, GstVideoInfo *info, guint from, guint end)
{
  guint i;

  for (i = from; i < end; i++)
    {
      GstBuffer *in = rgb_frame (info, i, FALSE);

      GST_BUFFER_PTS (in) = frame_pts (i);
      fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    }
}

/* The library's patches of an RGB frame. */
static gfloat *
expected_patches (GstVideoInfo *info, GstBuffer *buf, UpmNormKind kind)
{
  gfloat *patches = g_new (gfloat, frame_floats);
  GstVideoFrame frame;
  GError *err = NULL;

  fail_unless (gst_video_frame_map (&frame, info, buf, GST_MAP_READ));
  fail_unless (upm_vision_frame_to_patches (hp, kind,
      GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), info->width, info->height,
      GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), patches, &err));
  gst_video_frame_unmap (&frame);
  return patches;
}

static void
check_patches_caps (GstHarness *h, const gchar *modality, gint frames)
{
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  GstStructure *s;
  gint v;

  fail_unless (caps != NULL);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_has_name (s, "application/x-upm-patches"));
  fail_unless_equals_string (
      gst_structure_get_string (s, "modality"), modality);
  fail_unless (gst_structure_get_int (s, "frames", &v));
  fail_unless_equals_int (v, frames);
  fail_unless (gst_structure_get_int (s, "tokens-per-frame", &v));
  fail_unless_equals_int (v, 16);
  fail_unless (gst_structure_get_int (s, "patch-dim", &v));
  fail_unless_equals_int (v, 192);
  gst_caps_unref (caps);
}

/* ----------------------------------------------------------- caps */

GST_START_TEST (test_caps_accept_video)
{
  static const gchar *formats[]
      = { "RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "xRGB", "ARGB", "I420",
          "YV12", "NV12", "NV21", "Y42B", "Y444", "GRAY8", "YUY2", "UYVY" };
  static const gint sizes[][2] = { { 33, 17 }, { 64, 48 }, { 1, 1 } };
  guint f, z, i;

  for (f = 0; f < G_N_ELEMENTS (formats); f++)
    {
      for (z = 0; z < G_N_ELEMENTS (sizes); z++)
        {
          GstHarness *h = video_harness (2, 1, 0);
          GstVideoInfo info;
          GstBuffer *out;

          set_video_caps (h, formats[f], sizes[z][0], sizes[z][1], FPS);
          fail_unless (gst_video_info_set_format (&info,
              gst_video_format_from_string (formats[f]), sizes[z][0],
              sizes[z][1]));
          for (i = 0; i < 2; i++)
            {
              GstBuffer *in = gst_buffer_new_allocate (NULL, info.size, NULL);

              gst_buffer_memset (in, 0, 0x80 + i, info.size);
              GST_BUFFER_PTS (in) = frame_pts (i);
              fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
            }
          out = gst_harness_pull (h);
          fail_unless (
              out != NULL, "%s %dx%d", formats[f], sizes[z][0], sizes[z][1]);
          fail_unless_equals_int (
              gst_buffer_get_size (out), 2 * frame_floats * sizeof (gfloat));
          check_patches_caps (h, "video", 2);
          gst_buffer_unref (out);
          gst_harness_teardown (h);
        }
    }
}

GST_END_TEST;

/* Every format, converted from one smooth RGB image, gives about the RGB
 * image's patches (chroma subsampling and 8-bit YUV cost a little). */
GST_START_TEST (test_formats_match_rgb)
{
  static const gchar *formats[]
      = { "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "xRGB", "ARGB", "I420", "YV12",
          "NV12", "NV21", "Y42B", "Y444", "YUY2", "UYVY", "GRAY8" };
  const gint w = 33, hgt = 17;
  GstVideoInfo rgb_info;
  GstBuffer *rgb;
  gfloat *want;
  guint f;

  gst_video_info_set_format (&rgb_info, GST_VIDEO_FORMAT_RGB, w, hgt);
  rgb = rgb_frame (&rgb_info, 3, TRUE);
  want = expected_patches (&rgb_info, rgb, UPM_NORM_IMAGE);

  for (f = 0; f < G_N_ELEMENTS (formats); f++)
    {
      GstHarness *h = video_harness (1, 1, 0);
      GstVideoInfo info;
      GstVideoConverter *conv;
      GstVideoFrame in_frame, out_frame;
      GstBuffer *in, *out;
      GstMapInfo map;
      gboolean gray = g_str_equal (formats[f], "GRAY8");
      gfloat *ref = want, max_diff = 0.0f;
      gdouble sum = 0.0;
      gsize j;

      set_video_caps (h, formats[f], w, hgt, FPS);
      gst_video_info_set_format (
          &info, gst_video_format_from_string (formats[f]), w, hgt);
      in = gst_buffer_new_allocate (NULL, info.size, NULL);
      conv = gst_video_converter_new (&rgb_info, &info, NULL);
      fail_unless (conv != NULL);
      gst_video_frame_map (&in_frame, &rgb_info, rgb, GST_MAP_READ);
      gst_video_frame_map (&out_frame, &info, in, GST_MAP_WRITE);
      gst_video_converter_frame (conv, &in_frame, &out_frame);
      gst_video_frame_unmap (&in_frame);
      gst_video_converter_free (conv);

      if (gray)
        {
          /* the reference of a grey frame is the same grey in RGB */
          GstBuffer *grey_rgb
              = gst_buffer_new_allocate (NULL, rgb_info.size, NULL);
          GstVideoFrame g;
          gint x, y;

          gst_video_frame_map (&g, &rgb_info, grey_rgb, GST_MAP_WRITE);
          for (y = 0; y < hgt; y++)
            for (x = 0; x < w; x++)
              {
                guint8 v = ((guint8 *)GST_VIDEO_FRAME_PLANE_DATA (&out_frame,
                    0))[y * GST_VIDEO_FRAME_PLANE_STRIDE (&out_frame, 0) + x];
                guint8 *p = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (&g, 0)
                            + y * GST_VIDEO_FRAME_PLANE_STRIDE (&g, 0) + 3 * x;

                p[0] = p[1] = p[2] = v;
              }
          gst_video_frame_unmap (&g);
          ref = expected_patches (&rgb_info, grey_rgb, UPM_NORM_IMAGE);
          gst_buffer_unref (grey_rgb);
        }
      gst_video_frame_unmap (&out_frame);

      fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
      out = gst_harness_pull (h);
      fail_unless (out != NULL);
      check_patches_caps (h, "image", 1);
      gst_buffer_map (out, &map, GST_MAP_READ);
      fail_unless_equals_int (map.size, frame_floats * sizeof (gfloat));
      for (j = 0; j < frame_floats; j++)
        {
          gfloat d = fabsf (((gfloat *)map.data)[j] - ref[j]);

          max_diff = MAX (max_diff, d);
          sum += d;
        }
      gst_buffer_unmap (out, &map);
      GST_INFO (
          "%s: max diff %f, mean %f", formats[f], max_diff, sum / frame_floats);
      /* 1/255 of the range is 0.017 after ImageNet normalisation */
      if (GST_VIDEO_INFO_IS_RGB (&info) || gray)
        fail_unless (max_diff < 1e-5, "%s: max diff %f", formats[f], max_diff);
      else
        fail_unless (max_diff < 0.3 && sum / frame_floats < 0.08,
            "%s: max diff %f, mean %f", formats[f], max_diff,
            sum / frame_floats);
      if (ref != want)
        g_free (ref);
      gst_buffer_unref (out);
      gst_harness_teardown (h);
    }
  g_free (want);
  gst_buffer_unref (rgb);
}

GST_END_TEST;

GST_START_TEST (test_caps_accept_text)
{
  GstHarness *h = harness (tokenizer ());
  GstCaps *caps, *want;
  GstBuffer *out;

  gst_harness_set_src_caps_str (h, "text/x-raw,format=utf8");
  fail_unless_equals_int (
      gst_harness_push (h, gst_buffer_new_wrapped (g_strdup ("a cat"), 5)),
      GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (out != NULL);
  caps = gst_pad_get_current_caps (h->sinkpad);
  want = gst_caps_from_string ("application/x-upm-tokens,modality=text");
  fail_unless (gst_caps_is_equal (caps, want));
  gst_caps_unref (want);
  gst_caps_unref (caps);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_caps_reject)
{
  static const gchar *bad[] = {
    "audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved",
    "video/x-raw,format=v210,width=64,height=48,framerate=30/1",
    "text/x-raw,format=pango-markup",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      GstHarness *h = harness (tokenizer ());

      gst_harness_set_src_caps_str (h, bad[i]);
      fail_unless_equals_int (
          gst_harness_push (h, gst_buffer_new_allocate (NULL, 64, NULL)),
          GST_FLOW_NOT_NEGOTIATED);
      fail_unless_equals_int (gst_harness_buffers_received (h), 0);
      gst_harness_teardown (h);
    }
}

GST_END_TEST;

/* With @downstream caps, the sink caps of @sinkpad are @name only. */
static void
assert_sink_caps_for (
    GstHarness *h, GstPad *sinkpad, const gchar *downstream, const gchar *name)
{
  GstCaps *caps;

  gst_harness_set_sink_caps_str (h, downstream);
  caps = gst_pad_query_caps (sinkpad, NULL);
  fail_unless_equals_int (gst_caps_get_size (caps), 1);
  fail_unless (gst_structure_has_name (gst_caps_get_structure (caps, 0), name));
  gst_caps_unref (caps);
}

/* The sink caps offer only what downstream takes. */
GST_START_TEST (test_caps_query_downstream)
{
  GstHarness *h = harness (tokenizer ());
  GstPad *sinkpad = gst_element_get_static_pad (h->element, "sink");
  GstCaps *caps;

  caps = gst_pad_query_caps (sinkpad, NULL);
  fail_unless_equals_int (gst_caps_get_size (caps), 2);
  gst_caps_unref (caps);

  assert_sink_caps_for (
      h, sinkpad, "application/x-upm-tokens,modality=text", "text/x-raw");
  assert_sink_caps_for (h, sinkpad, "application/x-upm-patches", "video/x-raw");

  gst_object_unref (sinkpad);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ------------------------------------------------------- properties */

GST_START_TEST (test_property_defaults)
{
  GstElement *e = tokenizer ();
  static const gchar *names[] = { "model", "clip-frames", "frame-stride",
    "clip-hop", "norm", "partial-clip" };
  guint clip_frames, stride, hop, i;
  gint norm, partial;
  gchar *path;

  g_object_get (e, "model", &path, "clip-frames", &clip_frames, "frame-stride",
      &stride, "clip-hop", &hop, "norm", &norm, "partial-clip", &partial, NULL);
  fail_unless (path == NULL);
  fail_unless_equals_int (clip_frames, 0);
  fail_unless_equals_int (stride, 0); /* from the preset: 1 for default */
  fail_unless_equals_int (hop, 0);
  fail_unless_equals_int (norm, 0);    /* auto */
  fail_unless_equals_int (partial, 0); /* pad */

  for (i = 0; i < G_N_ELEMENTS (names); i++)
    {
      GParamSpec *p
          = g_object_class_find_property (G_OBJECT_GET_CLASS (e), names[i]);

      fail_unless (p != NULL, "%s", names[i]);
      fail_unless (p->flags & GST_PARAM_DOC_SHOW_DEFAULT, "%s", names[i]);
      fail_unless (strlen (g_param_spec_get_blurb (p)) > 20, "%s", names[i]);
    }
  /* typed enums, not strings */
  fail_unless (G_IS_PARAM_SPEC_ENUM (
      g_object_class_find_property (G_OBJECT_GET_CLASS (e), "norm")));
  fail_unless (G_IS_PARAM_SPEC_ENUM (
      g_object_class_find_property (G_OBJECT_GET_CLASS (e), "partial-clip")));
  gst_util_set_object_arg (G_OBJECT (e), "norm", "image");
  gst_util_set_object_arg (G_OBJECT (e), "partial-clip", "drop");
  g_object_get (e, "norm", &norm, "partial-clip", &partial, NULL);
  fail_unless_equals_int (norm, 2);
  fail_unless_equals_int (partial, 1);
  gst_object_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_property_invalid)
{
  GstElement *e = tokenizer ();
  guint v;
  gint norm;

  /* refused with a g_warning (GLib 2.74) or a g_critical (GLib >= 2.76);
   * the property keeps its value */
  g_object_set (e, "frame-stride", 3, "clip-frames", 2, NULL);
  UPM_ASSERT_WARNING_OR_CRITICAL (
      g_object_set (e, "frame-stride", G_MAXUINT, NULL));
  g_object_get (e, "frame-stride", &v, NULL);
  fail_unless_equals_int (v, 3);
  UPM_ASSERT_WARNING_OR_CRITICAL (g_object_set (e, "clip-frames", 65, NULL));
  g_object_get (e, "clip-frames", &v, NULL);
  fail_unless_equals_int (v, 2);
  UPM_ASSERT_WARNING_OR_CRITICAL (g_object_set (e, "norm", 7, NULL));
  g_object_get (e, "norm", &norm, NULL);
  fail_unless_equals_int (norm, 0);
  gst_object_unref (e);
}

GST_END_TEST;

/* clip-frames above the model's temporal positions fails at READY->PAUSED
 * with an error that says what to do. */
GST_START_TEST (test_clip_frames_too_large)
{
  GstElement *e = tokenizer ();
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;

  gst_element_set_bus (e, bus);
  g_object_set (e, "clip-frames", 8, NULL);
  fail_unless_equals_int (
      gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (err->domain == GST_RESOURCE_ERROR);
  fail_unless (strstr (err->message, "clip-frames") != NULL);
  fail_unless (strstr (err->message, "4") != NULL);
  g_clear_error (&err);
  gst_message_unref (msg);

  /* fixed in READY, it runs */
  g_object_set (e, "clip-frames", 4, NULL);
  fail_unless_equals_int (
      gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_SUCCESS);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

GST_END_TEST;

/* MUTABLE_READY properties are not changed in PLAYING. */
GST_START_TEST (test_property_mutable_ready)
{
  GstHarness *h = video_harness (2, 1, 0);
  guint v;
  gint partial;

  g_object_set (h->element, "clip-frames", 3, "frame-stride", 5, NULL);
  g_object_get (h->element, "clip-frames", &v, NULL);
  fail_unless_equals_int (v, 2);
  g_object_get (h->element, "frame-stride", &v, NULL);
  fail_unless_equals_int (v, 1);
  /* partial-clip is read at EOS: changeable while playing */
  gst_util_set_object_arg (G_OBJECT (h->element), "partial-clip", "drop");
  g_object_get (h->element, "partial-clip", &partial, NULL);
  fail_unless_equals_int (partial, 1);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ------------------------------------------------------------ clips */

typedef struct
{
  guint n_frames, clip_frames, stride, hop;
  gboolean drop, no_duration;
  guint n_clips;
  /* per clip: the input frame index of each clip slot */
  gint frames[6][4];
} ClipCase;

static const ClipCase clip_cases[] = {
  /* 10 frames, clip 4: two clips and a half clip, padded */
  { 10, 4, 1, 0, FALSE, FALSE, 3,
      { { 0, 1, 2, 3 }, { 4, 5, 6, 7 }, { 8, 9, 9, 9 } } },
  /* ... or dropped */
  { 10, 4, 1, 0, TRUE, FALSE, 2, { { 0, 1, 2, 3 }, { 4, 5, 6, 7 } } },
  /* less than half a clip is always dropped */
  { 9, 4, 1, 0, FALSE, FALSE, 2, { { 0, 1, 2, 3 }, { 4, 5, 6, 7 } } },
  /* hop 2: sliding windows, the half window at the end padded */
  { 10, 4, 1, 2, FALSE, FALSE, 5,
      { { 0, 1, 2, 3 }, { 2, 3, 4, 5 }, { 4, 5, 6, 7 }, { 6, 7, 8, 9 },
          { 8, 9, 9, 9 } } },
  /* stride 2: kept 0 2 4 6 8; [8] alone is dropped */
  { 10, 4, 2, 0, FALSE, FALSE, 1, { { 0, 2, 4, 6 } } },
  { 16, 4, 2, 0, FALSE, FALSE, 2, { { 0, 2, 4, 6 }, { 8, 10, 12, 14 } } },
  /* hop 6 > clip 4: kept frames between clips are skipped */
  { 16, 4, 1, 6, FALSE, FALSE, 3,
      { { 0, 1, 2, 3 }, { 6, 7, 8, 9 }, { 12, 13, 14, 15 } } },
  /* stride 2, hop 1 */
  { 13, 4, 2, 1, FALSE, FALSE, 5,
      { { 0, 2, 4, 6 }, { 2, 4, 6, 8 }, { 4, 6, 8, 10 }, { 6, 8, 10, 12 },
          { 8, 10, 12, 12 } } },
  /* clip-frames 3 */
  { 6, 3, 1, 0, TRUE, FALSE, 2, { { 0, 1, 2 }, { 3, 4, 5 } } },
  /* short streams */
  { 3, 4, 1, 0, FALSE, FALSE, 1, { { 0, 1, 2, 2 } } },
  { 2, 4, 1, 0, FALSE, FALSE, 1, { { 0, 1, 1, 1 } } },
  { 1, 4, 1, 0, FALSE, FALSE, 0, { { 0 } } },
  { 0, 4, 1, 0, FALSE, FALSE, 0, { { 0 } } },
  /* clip-frames 0: the model's 4; buffers without duration */
  { 8, 0, 1, 0, FALSE, TRUE, 2, { { 0, 1, 2, 3 }, { 4, 5, 6, 7 } } },
  { 10, 4, 1, 2, FALSE, TRUE, 5,
      { { 0, 1, 2, 3 }, { 2, 3, 4, 5 }, { 4, 5, 6, 7 }, { 6, 7, 8, 9 },
          { 8, 9, 9, 9 } } },
};

static void
run_clip_case (const ClipCase *c)
{
  GstHarness *h = video_harness (c->clip_frames, c->stride, c->hop);
  const guint span = c->clip_frames ? c->clip_frames : 4;
  GstVideoInfo info;
  gfloat **want = g_new0 (gfloat *, MAX (c->n_frames, 1));
  guint i, j;

  GST_INFO ("case: %u frames, clip %u, stride %u, hop %u, %s", c->n_frames,
      c->clip_frames, c->stride, c->hop, c->drop ? "drop" : "pad");
  if (c->drop)
    gst_util_set_object_arg (G_OBJECT (h->element), "partial-clip", "drop");
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 20, 14);
  set_video_caps (h, "RGB", 20, 14, FPS);

  for (i = 0; i < c->n_frames; i++)
    {
      GstBuffer *in = rgb_frame (&info, i, FALSE);

      want[i] = expected_patches (&info, in, UPM_NORM_VIDEO);
      GST_BUFFER_PTS (in) = frame_pts (i);
      if (!c->no_duration)
        GST_BUFFER_DURATION (in) = frame_pts (i + 1) - frame_pts (i);
      fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  fail_unless_equals_int (gst_harness_buffers_in_queue (h), c->n_clips);
  for (j = 0; j < c->n_clips; j++)
    {
      GstBuffer *out = gst_harness_pull (h);
      const gint *fr = c->frames[j];
      gint last = fr[0];
      GstClockTime end;
      GstMapInfo map;

      /* the last present frame: padding repeats it */
      for (i = 1; i < span; i++)
        if (fr[i] != fr[i - 1])
          last = fr[i];
      end = c->no_duration
                ? frame_pts (last)
                      + gst_util_uint64_scale_int (GST_SECOND, 1, FPS)
                : frame_pts (last + 1);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), frame_pts (fr[0]));
      fail_unless_equals_uint64 (
          GST_BUFFER_DURATION (out), end - frame_pts (fr[0]));
      fail_unless_equals_int (
          GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_DISCONT), j == 0);

      gst_buffer_map (out, &map, GST_MAP_READ);
      fail_unless_equals_int (map.size, span * frame_floats * sizeof (gfloat));
      for (i = 0; i < span; i++)
        fail_unless (memcmp (map.data + i * frame_floats * sizeof (gfloat),
                         want[fr[i]], frame_floats * sizeof (gfloat))
                         == 0,
            "clip %u slot %u is not frame %d", j, i, fr[i]);
      gst_buffer_unmap (out, &map);
      gst_buffer_unref (out);
    }
  if (c->n_frames > 0)
    check_patches_caps (h, "video", span);
  /* EOS after the clips */
  fail_unless (upm_test_drain_events (h, GST_EVENT_EOS) > 0);

  for (i = 0; i < c->n_frames; i++)
    g_free (want[i]);
  g_free (want);
  gst_harness_teardown (h);
}

GST_START_TEST (test_clips)
{
  run_clip_case (&clip_cases[__i__]);
}

GST_END_TEST;

/* FLUSH_STOP forgets the frames of the clip in progress. */
GST_START_TEST (test_flush_resets)
{
  GstHarness *h = video_harness (4, 1, 0);
  GstVideoInfo info;
  GstSegment segment;
  GstBuffer *out;
  gfloat *want;
  GstMapInfo map;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 20, 14);
  set_video_caps (h, "RGB", 20, 14, FPS);
  push_frames (h, &info, 0, 3);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);

  /* three more do not complete the old clip */
  push_frames (h, &info, 10, 13);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  push_frames (h, &info, 13, 14);
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), frame_pts (10));
  fail_unless (GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_DISCONT));
  {
    GstBuffer *in = rgb_frame (&info, 10, FALSE);

    want = expected_patches (&info, in, UPM_NORM_VIDEO);
    gst_buffer_unref (in);
  }
  gst_buffer_map (out, &map, GST_MAP_READ);
  fail_unless (memcmp (map.data, want, frame_floats * sizeof (gfloat)) == 0);
  gst_buffer_unmap (out, &map);
  g_free (want);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A new segment ends the clip in progress (per partial-clip) before it. */
GST_START_TEST (test_segment_drains)
{
  GstHarness *h = video_harness (4, 1, 0);
  GstVideoInfo info;
  GstSegment segment;
  GstBuffer *out;
  GstEvent *ev;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 20, 14);
  set_video_caps (h, "RGB", 20, 14, FPS);
  push_frames (h, &info, 0, 3);
  while ((ev = gst_harness_try_pull_event (h)))
    gst_event_unref (ev);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.base = GST_SECOND;
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 0);
  /* no buffer durations: the last frame lasts 1/framerate */
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out),
      frame_pts (2) + gst_util_uint64_scale_int (GST_SECOND, 1, FPS));
  gst_buffer_unref (out);
  ev = gst_harness_pull_event (h);
  fail_unless_equals_int (GST_EVENT_TYPE (ev), GST_EVENT_SEGMENT);
  gst_event_unref (ev);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A still image (framerate 0/1) is a 1-frame clip: image modality and
 * normalisation, whatever clip-frames says. */
GST_START_TEST (test_still_image)
{
  GstHarness *h = video_harness (4, 1, 0);
  GstVideoInfo info;
  GstBuffer *in, *out;
  gfloat *want;
  GstMapInfo map;
  guint i;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 45, 31);
  set_video_caps (h, "RGB", 45, 31, 0);
  for (i = 0; i < 2; i++)
    {
      in = rgb_frame (&info, i, FALSE);
      want = expected_patches (&info, in, UPM_NORM_IMAGE);
      GST_BUFFER_PTS (in) = i * GST_SECOND;
      fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
      out = gst_harness_pull (h);
      check_patches_caps (h, "image", 1);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
      /* no duration and no framerate: unknown */
      fail_if (GST_BUFFER_DURATION_IS_VALID (out));
      gst_buffer_map (out, &map, GST_MAP_READ);
      fail_unless_equals_int (map.size, frame_floats * sizeof (gfloat));
      fail_unless (memcmp (map.data, want, map.size) == 0);
      gst_buffer_unmap (out, &map);
      gst_buffer_unref (out);
      g_free (want);
    }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* The patches are exactly the library's on the same RGB frame, with the
 * normalisation the norm property selects. */
GST_START_TEST (test_patches_exact)
{
  static const struct
  {
    guint clip_frames;
    const gchar *norm;
    UpmNormKind kind;
  } cases[] = {
    { 1, "auto", UPM_NORM_IMAGE },
    { 2, "auto", UPM_NORM_VIDEO },
    { 1, "video", UPM_NORM_VIDEO },
    { 2, "image", UPM_NORM_IMAGE },
  };
  guint c, i;

  for (c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      GstHarness *h
          = video_harness_norm (cases[c].clip_frames, 1, 0, cases[c].norm);
      GstVideoInfo info;
      gfloat *want[2];
      GstBuffer *out;
      GstMapInfo map;
      GRand *rand = g_rand_new_with_seed (c + 1);

      gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 33, 17);
      /* odd width: rows padded to 4 bytes */
      fail_unless_equals_int (GST_VIDEO_INFO_PLANE_STRIDE (&info, 0), 100);
      set_video_caps (h, "RGB", 33, 17, FPS);
      for (i = 0; i < cases[c].clip_frames; i++)
        {
          GstBuffer *in = gst_buffer_new_allocate (NULL, info.size, NULL);
          GstMapInfo m;
          gsize k;

          gst_buffer_map (in, &m, GST_MAP_WRITE);
          for (k = 0; k < m.size; k++)
            m.data[k] = (guint8)g_rand_int (rand);
          gst_buffer_unmap (in, &m);
          want[i] = expected_patches (&info, in, cases[c].kind);
          GST_BUFFER_PTS (in) = frame_pts (i);
          fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
        }
      out = gst_harness_pull (h);
      gst_buffer_map (out, &map, GST_MAP_READ);
      for (i = 0; i < cases[c].clip_frames; i++)
        {
          fail_unless (memcmp (map.data + i * frame_floats * sizeof (gfloat),
                           want[i], frame_floats * sizeof (gfloat))
                           == 0,
              "case %u frame %u differs", c, i);
          g_free (want[i]);
        }
      gst_buffer_unmap (out, &map);
      gst_buffer_unref (out);
      check_patches_caps (h, cases[c].clip_frames == 1 ? "image" : "video",
          cases[c].clip_frames);
      g_rand_free (rand);
      gst_harness_teardown (h);
    }
}

GST_END_TEST;

/* New caps with another size and format mid-clip: the clip goes on. */
GST_START_TEST (test_resolution_change)
{
  GstHarness *h = video_harness (4, 1, 0);
  GstVideoInfo a, b;
  gfloat *want[2];
  GstBuffer *out;
  GstMapInfo map;
  guint i, n = 0;

  gst_video_info_set_format (&a, GST_VIDEO_FORMAT_RGB, 64, 48);
  gst_video_info_set_format (&b, GST_VIDEO_FORMAT_I420, 33, 17);
  set_video_caps (h, "RGB", 64, 48, FPS);
  for (i = 0; i < 2; i++)
    {
      GstBuffer *in = rgb_frame (&a, i, FALSE);

      want[i] = expected_patches (&a, in, UPM_NORM_VIDEO);
      GST_BUFFER_PTS (in) = frame_pts (n++);
      fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    }
  set_video_caps (h, "I420", 33, 17, FPS);
  for (i = 0; i < 6; i++)
    {
      GstBuffer *in = gst_buffer_new_allocate (NULL, b.size, NULL);

      gst_buffer_memset (in, 0, 0x60, b.size);
      GST_BUFFER_PTS (in) = frame_pts (n++);
      fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    }
  set_video_caps (h, "RGB", 100, 80, FPS);
  for (i = 0; i < 4; i++)
    {
      GstBuffer *in;

      gst_video_info_set_format (&a, GST_VIDEO_FORMAT_RGB, 100, 80);
      in = rgb_frame (&a, i, FALSE);
      GST_BUFFER_PTS (in) = frame_pts (n++);
      fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    }
  /* 12 frames, 3 clips, the first across the change */
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 3);
  check_patches_caps (h, "video", 4);
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 0);
  gst_buffer_map (out, &map, GST_MAP_READ);
  for (i = 0; i < 2; i++)
    {
      fail_unless (memcmp (map.data + i * frame_floats * sizeof (gfloat),
                       want[i], frame_floats * sizeof (gfloat))
                   == 0);
      g_free (want[i]);
    }
  gst_buffer_unmap (out, &map);
  gst_buffer_unref (out);
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), frame_pts (4));
  gst_buffer_unref (out);
  out = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), frame_pts (8));
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---------------------------------------------------------- latency */

GST_START_TEST (test_latency)
{
  GstHarness *h = video_harness (4, 2, 0);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;

  gst_element_set_bus (h->element, bus);
  gst_harness_set_upstream_latency (h, 10 * GST_MSECOND);
  /* nothing held before the caps */
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 10 * GST_MSECOND);

  /* (clip-frames - 1) x frame-stride frames at 30 fps = 200 ms */
  set_video_caps (h, "RGB", 20, 14, FPS);
  fail_unless_equals_uint64 (gst_harness_query_latency (h),
      10 * GST_MSECOND + gst_util_uint64_scale (6, GST_SECOND, FPS));
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_LATENCY);
  fail_unless (msg != NULL);
  gst_message_unref (msg);

  /* 25 fps */
  set_video_caps (h, "RGB", 20, 14, 25);
  fail_unless_equals_uint64 (gst_harness_query_latency (h),
      10 * GST_MSECOND + gst_util_uint64_scale (6, GST_SECOND, 25));
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_LATENCY);
  fail_unless (msg != NULL);
  gst_message_unref (msg);

  /* still images and text are not held */
  set_video_caps (h, "RGB", 20, 14, 0);
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 10 * GST_MSECOND);
  gst_harness_set_src_caps_str (h, "text/x-raw,format=utf8");
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 10 * GST_MSECOND);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ------------------------------------------------------------- text */

static void
check_tokens (GstBuffer *out, const gchar *text)
{
  GArray *want = upm_tokenize_target (model, text, hp->text_max_length, NULL);
  GstMapInfo map;

  fail_unless (want != NULL);
  gst_buffer_map (out, &map, GST_MAP_READ);
  fail_unless_equals_int (map.size, want->len * sizeof (gint32));
  fail_unless (memcmp (map.data, want->data, map.size) == 0);
  gst_buffer_unmap (out, &map);
  g_array_unref (want);
}

GST_START_TEST (test_text_tokens)
{
  static const gchar *texts[] = {
    "A photo of a cat.",
    "a red circle moves left &amp; a blue square stays",
    "",
    "one two three four five six seven eight nine ten eleven twelve "
    "thirteen fourteen fifteen sixteen seventeen eighteen nineteen "
    "twenty twenty-one twenty-two twenty-three twenty-four",
    "ünïcødé: 日本語のテキスト",
  };
  GstHarness *h = harness (tokenizer ());
  guint i;

  gst_harness_set_src_caps_str (h, "text/x-raw,format=utf8");
  for (i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      GstBuffer *in
          = gst_buffer_new_wrapped (g_strdup (texts[i]), strlen (texts[i]));
      GstBuffer *out;
      const gint32 *ids;
      GstMapInfo map;

      GST_BUFFER_PTS (in) = i * GST_SECOND;
      GST_BUFFER_DURATION (in) = GST_SECOND / 2;
      fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
      out = gst_harness_pull (h);
      check_tokens (out, texts[i]);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), i * GST_SECOND);
      fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), GST_SECOND / 2);
      /* ends with <|endoftext|>, at most the model's text length */
      gst_buffer_map (out, &map, GST_MAP_READ);
      ids = (const gint32 *)map.data;
      fail_unless (map.size >= sizeof (gint32));
      fail_unless (map.size / sizeof (gint32) <= hp->text_max_length);
      fail_unless_equals_int (ids[map.size / sizeof (gint32) - 1], hp->eot_id);
      if (i == 3)
        fail_unless_equals_int (
            map.size / sizeof (gint32), hp->text_max_length);
      gst_buffer_unmap (out, &map);
      gst_buffer_unref (out);
    }

  /* a trailing NUL is not part of the text */
  {
    GstBuffer *in = gst_buffer_new_wrapped (g_strdup ("a dog"), 6);
    GstBuffer *out;

    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    out = gst_harness_pull (h);
    check_tokens (out, "a dog");
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Invalid UTF-8: a warning naming the problem, the buffer dropped, the
 * stream goes on. */
GST_START_TEST (test_text_invalid_utf8)
{
  static const gchar *bad[] = { "caf\xe9 au lait", "\xff\xfe", "a\0b" };
  static const gsize bad_len[] = { 12, 2, 3 };
  GstHarness *h = harness (tokenizer ());
  GstBus *bus = gst_bus_new ();
  GstBuffer *out;
  guint i;

  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, "text/x-raw,format=utf8");
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      GstMessage *msg;
      GError *err = NULL;
      gchar *debug = NULL;

      fail_unless_equals_int (
          gst_harness_push (h, gst_buffer_new_memdup (bad[i], bad_len[i])),
          GST_FLOW_OK);
      fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
      msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
      fail_unless (msg != NULL);
      gst_message_parse_warning (msg, &err, &debug);
      GST_INFO ("warning: %s (%s)", err->message, debug);
      fail_unless (err->domain == GST_STREAM_ERROR);
      fail_unless (strstr (err->message, "UTF-8") != NULL);
      fail_unless (debug != NULL && strstr (debug, "byte") != NULL);
      g_clear_error (&err);
      g_free (debug);
      gst_message_unref (msg);
      fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);
    }
  fail_unless_equals_int (
      gst_harness_push (
          h, gst_buffer_new_wrapped (g_strdup ("still fine"), 10)),
      GST_FLOW_OK);
  out = gst_harness_pull (h);
  check_tokens (out, "still fine");
  gst_buffer_unref (out);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ----------------------------------------------------------- states */

static void
count_handoff (GstElement *sink, GstBuffer *buf, GstPad *pad, guint *n)
{
  (*n)++;
}

/* NULL -> PLAYING -> NULL ten times, with a full run each time. */
GST_START_TEST (test_state_cycles)
{
  GstElement *pipeline = gst_parse_launch (
      "videotestsrc num-buffers=10 ! "
      "video/x-raw,format=I420,width=48,height=36,framerate=30/1 ! "
      "upmtokenizer clip-frames=4 ! fakesink name=sink signal-handoffs=true",
      NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstBus *bus = gst_element_get_bus (pipeline);
  guint cycle, n;

  g_signal_connect (sink, "handoff", G_CALLBACK (count_handoff), &n);
  for (cycle = 0; cycle < 10; cycle++)
    {
      GstMessage *msg;

      n = 0;
      fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING)
               == GST_STATE_CHANGE_FAILURE);
      msg = gst_bus_timed_pop_filtered (
          bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
      fail_unless (msg != NULL);
      fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
      gst_message_unref (msg);
      /* 10 frames: 2 clips and a padded half clip */
      fail_unless_equals_int (n, 3);
      fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
          GST_STATE_CHANGE_SUCCESS);
    }
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
}

GST_END_TEST;

/* The same with a harness: a fresh clip state after NULL. */
GST_START_TEST (test_harness_reuse)
{
  GstHarness *h = video_harness (4, 1, 0);
  GstVideoInfo info;
  guint cycle;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 20, 14);
  for (cycle = 0; cycle < 10; cycle++)
    {
      GstBuffer *out;

      if (cycle > 0)
        fail_unless (
            gst_harness_push_event (h, gst_event_new_stream_start ("again")));
      set_video_caps (h, "RGB", 20, 14, FPS);
      push_frames (h, &info, 0, 6);
      out = gst_harness_pull (h);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 0);
      gst_buffer_unref (out);
      /* frames 4 and 5 are forgotten at NULL */
      fail_unless_equals_int (
          gst_element_set_state (h->element, GST_STATE_NULL),
          GST_STATE_CHANGE_SUCCESS);
      fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
      gst_harness_play (h);
    }
  gst_harness_teardown (h);
}

GST_END_TEST;

static void
prepare (TCase *tc)
{
  g_free (upm_test_use_fixture_model ());
  tcase_add_checked_fixture (tc, setup, teardown);
}

static const UpmCheckTest upmtokenizer_tests[] = {
  UPM_CHECK_TEST (test_caps_accept_video),
  UPM_CHECK_TEST (test_formats_match_rgb),
  UPM_CHECK_TEST (test_caps_accept_text),
  UPM_CHECK_TEST (test_caps_reject),
  UPM_CHECK_TEST (test_caps_query_downstream),
  UPM_CHECK_TEST (test_property_defaults),
  UPM_CHECK_TEST (test_property_invalid),
  UPM_CHECK_TEST (test_clip_frames_too_large),
  UPM_CHECK_TEST (test_property_mutable_ready),
  UPM_CHECK_LOOP_TEST (test_clips, G_N_ELEMENTS (clip_cases)),
  UPM_CHECK_TEST (test_flush_resets),
  UPM_CHECK_TEST (test_segment_drains),
  UPM_CHECK_TEST (test_still_image),
  UPM_CHECK_TEST (test_patches_exact),
  UPM_CHECK_TEST (test_resolution_change),
  UPM_CHECK_TEST (test_latency),
  UPM_CHECK_TEST (test_text_tokens),
  UPM_CHECK_TEST (test_text_invalid_utf8),
  UPM_CHECK_TEST (test_state_cycles),
  UPM_CHECK_TEST (test_harness_reuse),
};

UPM_CHECK_MAIN (upmtokenizer, prepare);
