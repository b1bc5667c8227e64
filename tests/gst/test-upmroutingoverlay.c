/* test-upmroutingoverlay.c: upmroutingoverlay draws the routing meta.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Two harnesses on one element (video_sink + src, routing_sink); every
 * output frame is compared pixel by pixel with an expected image built here
 * from the documented layout and the fixed expert colours.
 */
#include <string.h>
#include <json-glib/json-glib.h>

#include <gst/app/gstappsink.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "upmmeta.h"
#include "upm-test-harness.h"

#define W 64
#define H 64
#define GREY 128
#define FRAME (GST_SECOND / 8)
#define CLIP (GST_SECOND / 2)

/* the element's documented colours */
#define COLOUR_1 0x00ff00
#define COLOUR_2 0x0080ff
#define COLOUR_3 0xffff00
#define COLOUR_5 0x00ffff
#define COLOUR_7 0x8000ff

static const GstUpmRoute static_routes[] = {
  { 0, GST_UPM_GATE_ATTN, "cls_input", 0, 65, { 2, 5 }, { 0.7f, 0.3f } },
  { 0, GST_UPM_GATE_FFN, "cls_input", 0, 65, { 1, 0 }, { 0.5f, 0.5f } },
  { 0, GST_UPM_GATE_ATTN, "caption_text", 65, 70, { 7, 6 }, { 0.9f, 0.1f } },
};

/* ------------------------------------------------------------- images */

typedef struct
{
  guint8 px[H][W][3];
} Image;

static void
image_fill (Image *img, gint x0, gint y0, gint x1, gint y1, guint32 rgb)
{
  gint x, y;

  for (y = MAX (y0, 0); y < MIN (y1, H); y++)
    for (x = MAX (x0, 0); x < MIN (x1, W); x++)
      {
        img->px[y][x][0] = (rgb >> 16) & 0xff;
        img->px[y][x][1] = (rgb >> 8) & 0xff;
        img->px[y][x][2] = rgb & 0xff;
      }
}

static void
image_grey (Image *img)
{
  image_fill (img, 0, 0, W, H, GREY * 0x010101u);
}

/* The expert colour scaled by the gate weight, as documented. */
static guint32
scaled (guint32 rgb, gfloat w)
{
  guint r = (guint)(((rgb >> 16) & 0xff) * w + 0.5f);
  guint g = (guint)(((rgb >> 8) & 0xff) * w + 0.5f);
  guint b = (guint)((rgb & 0xff) * w + 0.5f);

  return (r << 16) | (g << 8) | b;
}

static guint
max_channel (guint32 rgb)
{
  return MAX (MAX ((rgb >> 16) & 0xff, (rgb >> 8) & 0xff), rgb & 0xff);
}

static GstBuffer *
frame_buffer (GstVideoFormat format, gint w, gint h, GstClockTime pts)
{
  GstVideoInfo info;
  GstVideoFrame f;
  GstBuffer *buf;
  gint x, y, c;

  gst_video_info_set_format (&info, format, w, h);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_memset (buf, 0, 0x11, GST_VIDEO_INFO_SIZE (&info));
  fail_unless (gst_video_frame_map (&f, &info, buf, GST_MAP_WRITE));
  for (y = 0; y < h; y++)
    for (x = 0; x < w; x++)
      for (c = 0; c < 3; c++)
        GST_VIDEO_FRAME_COMP_DATA (&f, c)
  [y * GST_VIDEO_FRAME_COMP_STRIDE (&f, c)
      + x * GST_VIDEO_FRAME_COMP_PSTRIDE (&f, c)]
      = GREY;
  gst_video_frame_unmap (&f);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = FRAME;
  return buf;
}

/* Compares the RGB of @buf (@format, W x H) with @want; the other bytes
 * (alpha, padding) must be 0x11 as written. */
static void
assert_frame (GstBuffer *buf, GstVideoFormat format, const Image *want)
{
  GstVideoInfo info;
  GstVideoFrame f;
  gint x, y, c, bad = 0;

  gst_video_info_set_format (&info, format, W, H);
  fail_unless (gst_video_frame_map (&f, &info, buf, GST_MAP_READ));
  for (y = 0; y < H; y++)
    for (x = 0; x < W; x++)
      for (c = 0; c < 3; c++)
        {
          guint8 v = GST_VIDEO_FRAME_COMP_DATA (
              &f, c)[y * GST_VIDEO_FRAME_COMP_STRIDE (&f, c)
                     + x * GST_VIDEO_FRAME_COMP_PSTRIDE (&f, c)];

          if (v != want->px[y][x][c] && bad++ < 5)
            GST_ERROR ("%s (%d,%d) c%d: %u, want %u",
                gst_video_format_to_string (format), x, y, c, v,
                want->px[y][x][c]);
        }
  if (GST_VIDEO_INFO_HAS_ALPHA (&info)
      || GST_VIDEO_FORMAT_INFO_PSTRIDE (info.finfo, 0) == 4)
    {
      /* the fourth byte of each pixel is untouched */
      const guint8 *d = GST_VIDEO_FRAME_PLANE_DATA (&f, 0);
      guint a_off = 0, i;

      for (i = 0; i < 4; i++)
        if (i != GST_VIDEO_FRAME_COMP_POFFSET (&f, 0)
            && i != GST_VIDEO_FRAME_COMP_POFFSET (&f, 1)
            && i != GST_VIDEO_FRAME_COMP_POFFSET (&f, 2))
          a_off = i;
      for (y = 0; y < H; y++)
        for (x = 0; x < W; x++)
          if (d[y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0) + x * 4 + a_off]
              != 0x11)
            bad++;
    }
  gst_video_frame_unmap (&f);
  fail_unless (bad == 0, "%d wrong bytes in the %s frame", bad,
      gst_video_format_to_string (format));
}

static void
assert_grey (GstBuffer *buf, GstVideoFormat format)
{
  Image img;

  image_grey (&img);
  assert_frame (buf, format, &img);
}

/* The next output frame of @v is @want. */
static void
assert_pulled_frame (GstHarness *v, GstVideoFormat format, const Image *want)
{
  GstBuffer *out = gst_harness_pull (v);

  assert_frame (out, format, want);
  gst_buffer_unref (out);
}

/* The next output frame of @v is undrawn. */
static void
assert_pulled_grey (GstHarness *v, GstVideoFormat format)
{
  GstBuffer *out = gst_harness_pull (v);

  assert_grey (out, format);
  gst_buffer_unref (out);
}

/* ------------------------------------------------------------ routing */

static GstBuffer *
routing_buffer (GstClockTime pts, GstClockTime duration,
    const GstUpmRoute *routes, guint n_routes)
{
  GstBuffer *buf = gst_buffer_new_memdup ("a caption", 9);

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  fail_unless (gst_buffer_add_upm_routing_meta (
                   buf, "test", 4, 8, pts, duration, routes, n_routes)
               != NULL);
  return buf;
}

/* The static_routes of a clip at @pts. */
static GstBuffer *
static_routing (GstClockTime pts)
{
  return routing_buffer (
      pts, CLIP, static_routes, G_N_ELEMENTS (static_routes));
}

/* 4x4 patches, 2 frames, visual tokens from 1: patch (x, y) of frame f is
 * token 1 + (f * 4 + y) * 4 + x. Attention layer 0: frame 0 all expert 7
 * but patches (1, 0) and (2, 3) on expert 3; frame 1 all expert 1. FFN
 * layer 0 (not drawn with gate=attn): all expert 5. */
#define GRID 4
static GstBuffer *
token_routing_buffer (GstClockTime pts)
{
  GstBuffer *buf = routing_buffer (pts, CLIP, NULL, 0);
  GstUpmRoutingMeta *m = gst_buffer_get_upm_routing_meta (buf);
  guint8 attn[2 * 32], ffn[2 * 32];
  guint i;

  for (i = 0; i < 32; i++)
    {
      guint f = i / 16, p = i % 16;

      attn[2 * i] = f == 0 ? 7 : 1;
      if (f == 0 && (p == 1 || p == 3 * GRID + 2))
        attn[2 * i] = 3;
      attn[2 * i + 1] = 0;
      ffn[2 * i] = 5;
      ffn[2 * i + 1] = 6;
    }
  gst_upm_routing_meta_add_token_routes (
      m, 0, GST_UPM_GATE_FFN, "cls_input", 1, 32, ffn);
  gst_upm_routing_meta_add_token_routes (
      m, 0, GST_UPM_GATE_ATTN, "cls_input", 1, 32, attn);
  gst_upm_routing_meta_set_visual_grid (m, 1, GRID, GRID, 2);
  return buf;
}

/* ------------------------------------------------------------ harness */

typedef struct
{
  GstHarness *v, *r;
} Pair;

static Pair
new_overlay (const gchar *format, const gchar *props)
{
  GstElement *e = gst_element_factory_make ("upmroutingoverlay", NULL);
  gchar **kv = g_strsplit (props ? props : "", " ", -1), **p;
  gchar *caps;
  Pair pr;

  fail_unless (e != NULL);
  /* no live timeout unless a test cranks the clock */
  g_object_set (e, "latency", (guint64)10 * GST_SECOND, NULL);
  for (p = kv; *p; p++)
    {
      gchar *eq = strchr (*p, '=');

      if (eq == NULL)
        continue;
      *eq = '\0';
      gst_util_set_object_arg (G_OBJECT (e), *p, eq + 1);
    }
  g_strfreev (kv);
  pr.v = gst_harness_new_with_element (e, "video_sink", "src");
  pr.r = gst_harness_new_with_element (e, "routing_sink", NULL);
  gst_object_unref (e);
  caps = g_strdup_printf (
      "video/x-raw,format=%s,width=%d,height=%d,framerate=8/1", format, W, H);
  gst_harness_set_src_caps_str (pr.v, caps);
  g_free (caps);
  gst_harness_set_src_caps_str (pr.r, "text/x-raw,format=utf8");
  return pr;
}

static void
pair_teardown (Pair *pr)
{
  gst_harness_teardown (pr->r);
  gst_harness_teardown (pr->v);
}

/* No output within @ms. */
static void
assert_no_output (Pair *pr, guint ms)
{
  GstBuffer *out;

  g_usleep (ms * 1000);
  out = gst_harness_try_pull (pr->v);
  fail_unless (out == NULL, "unexpected frame %" GST_PTR_FORMAT, out);
}

/* Pulls the events of @h up to its EOS, which must come. */
static void
pull_until_eos (GstHarness *h)
{
  GstEvent *ev;

  while ((ev = gst_harness_pull_event (h)) != NULL)
    {
      gboolean eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;

      gst_event_unref (ev);
      if (eos)
        break;
    }
  fail_unless (ev != NULL, "no EOS");
}

/* ---------------------------------------------------------- properties */

GST_START_TEST (test_properties)
{
  GstElement *e = gst_element_factory_make ("upmroutingoverlay", NULL);
  gdouble opacity;
  guint cell;
  gint layer, frame, pos, mode, gate;
  gchar *segment;
  GstPad *pad;

  g_object_get (e, "opacity", &opacity, "cell-size", &cell, "layer", &layer,
      "frame-index", &frame, "segment", &segment, "position", &pos, NULL);
  fail_unless_equals_float (opacity, 0.8);
  fail_unless_equals_int (cell, 0);
  fail_unless_equals_int (layer, -1);
  fail_unless_equals_int (frame, -1);
  fail_unless (segment == NULL);
  fail_unless_equals_int (pos, 1); /* top-right */

  /* out-of-range values are refused by the specs */
  upm_test_assert_refused (e, "opacity", "1.5");
  upm_test_assert_refused (e, "opacity", "-0.1");
  upm_test_assert_refused (e, "cell-size", "257");
  upm_test_assert_refused (e, "grid-width", "5000");
  upm_test_assert_refused (e, "layer", "-2");
  upm_test_assert_refused (e, "frame-index", "1024");

  /* unknown enum nicks are refused, the value stays */
  gst_util_set_object_arg (G_OBJECT (e), "position", "bottom-left");
  gst_util_set_object_arg (G_OBJECT (e), "position", "middle");
  gst_util_set_object_arg (G_OBJECT (e), "mode", "panel");
  gst_util_set_object_arg (G_OBJECT (e), "mode", "heatmap");
  gst_util_set_object_arg (G_OBJECT (e), "gate", "ffn");
  gst_util_set_object_arg (G_OBJECT (e), "gate", "moe");
  g_object_get (e, "position", &pos, "mode", &mode, "gate", &gate, NULL);
  fail_unless_equals_int (pos, 2);
  fail_unless_equals_int (mode, 1);
  fail_unless_equals_int (gate, 1);

  /* the empty segment is the default */
  g_object_set (e, "segment", "caption_text", NULL);
  g_object_get (e, "segment", &segment, NULL);
  fail_unless_equals_string (segment, "caption_text");
  g_free (segment);
  g_object_set (e, "segment", "", NULL);
  g_object_get (e, "segment", &segment, NULL);
  fail_unless (segment == NULL);

  /* the pads */
  pad = gst_element_get_static_pad (e, "video_sink");
  fail_unless (pad != NULL);
  gst_object_unref (pad);
  pad = gst_element_get_static_pad (e, "routing_sink");
  fail_unless (pad != NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
}

GST_END_TEST;

/* ---------------------------------------------------------------- panel */

/* The panel of static_routes for cls_input: top-left, cells of 6 px (5
 * drawn), rows layer 0 attn, layer 0 ffn; 8 experts. */
static void
expected_panel (Image *img, gfloat opacity_is_one)
{
  const gint c = 6, x0 = 6, y0 = 6;

  (void)opacity_is_one;
  image_grey (img);
  image_fill (
      img, x0 + 2 * c, y0, x0 + 2 * c + 5, y0 + 5, scaled (COLOUR_2, 0.7f));
  image_fill (
      img, x0 + 5 * c, y0, x0 + 5 * c + 5, y0 + 5, scaled (COLOUR_5, 0.3f));
  image_fill (img, x0 + 1 * c, y0 + c, x0 + 1 * c + 5, y0 + c + 5,
      scaled (COLOUR_1, 0.5f));
  image_fill (img, x0, y0 + c, x0 + 5, y0 + c + 5, scaled (0xff0000, 0.5f));
}

GST_START_TEST (test_panel_static)
{
  static const GstVideoFormat formats[] = { GST_VIDEO_FORMAT_RGBA,
    GST_VIDEO_FORMAT_BGRA, GST_VIDEO_FORMAT_ARGB, GST_VIDEO_FORMAT_ABGR,
    GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_xRGB,
    GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR };
  guint i;
  Image want;

  expected_panel (&want, 1.0f);
  /* expert 2 (weight 0.7) is brighter than expert 5 (0.3) */
  fail_unless (max_channel (scaled (COLOUR_2, 0.7f))
               > max_channel (scaled (COLOUR_5, 0.3f)));

  for (i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      Pair pr = new_overlay (gst_video_format_to_string (formats[i]),
          "position=top-left cell-size=6 opacity=1.0");
      GstBuffer *out;

      gst_harness_push (pr.r, static_routing (0));
      fail_unless_equals_int (
          gst_harness_push (pr.v, frame_buffer (formats[i], W, H, 0)),
          GST_FLOW_OK);
      out = gst_harness_pull (pr.v);
      fail_unless (out != NULL);
      assert_frame (out, formats[i], &want);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 0);
      gst_buffer_unref (out);
      pair_teardown (&pr);
    }
}

GST_END_TEST;

/* Position, the segment property, half opacity and the shading. */
GST_START_TEST (test_panel_options)
{
  Pair pr = new_overlay ("RGBx",
      "position=bottom-right cell-size=4 opacity=0.5 segment=caption_text "
      "shaded-background=true");
  const gint c = 4, x0 = W - c - 8 * c, y0 = H - c - c;
  Image want;
  guint32 col = scaled (COLOUR_7, 0.9f), col6 = scaled (0xff8000, 0.1f);
  guint32 shade = 0x606060; /* 128 darkened at alpha 64 / 256 */
  /* blend at alpha 128: (p * 128 + c * 128 + 128) >> 8 per channel */
#define BLEND(p, c) ((((p)*128 + (c)*128 + 128) >> 8) & 0xff)
  guint32 c7 = (BLEND (0x60, (col >> 16) & 0xff) << 16)
               | (BLEND (0x60, (col >> 8) & 0xff) << 8)
               | BLEND (0x60, col & 0xff);
  guint32 c6 = (BLEND (0x60, (col6 >> 16) & 0xff) << 16)
               | (BLEND (0x60, (col6 >> 8) & 0xff) << 8)
               | BLEND (0x60, col6 & 0xff);
#undef BLEND

  fail_unless_equals_int ((128 * 192 + 128) >> 8, 0x60);
  image_grey (&want);
  image_fill (&want, x0, y0, x0 + 8 * c, y0 + c, shade);
  image_fill (&want, x0 + 7 * c, y0, x0 + 7 * c + 3, y0 + 3, c7);
  image_fill (&want, x0 + 6 * c, y0, x0 + 6 * c + 3, y0 + 3, c6);

  gst_harness_push (pr.r, static_routing (0));
  gst_harness_push (pr.v, frame_buffer (GST_VIDEO_FORMAT_RGBx, W, H, 0));
  assert_pulled_frame (pr.v, GST_VIDEO_FORMAT_RGBx, &want);

  /* a segment the meta lacks: nothing drawn */
  g_object_set (pr.v->element, "segment", "retrieval_input", NULL);
  gst_harness_push (pr.v, frame_buffer (GST_VIDEO_FORMAT_RGBx, W, H, FRAME));
  assert_pulled_grey (pr.v, GST_VIDEO_FORMAT_RGBx);
  pair_teardown (&pr);
}

GST_END_TEST;

/* --------------------------------------------------------------- tokens */

static void
expected_tokens (Image *img, guint frame)
{
  const gint p = W / GRID;
  gint x, y;

  image_grey (img);
  for (y = 0; y < GRID; y++)
    for (x = 0; x < GRID; x++)
      {
        guint32 col = frame == 0 ? COLOUR_7 : COLOUR_1;

        if (frame == 0 && ((x == 1 && y == 0) || (x == 2 && y == 3)))
          col = COLOUR_3;
        image_fill (img, x * p, y * p, (x + 1) * p, (y + 1) * p, col);
      }
}

GST_START_TEST (test_tokens)
{
  Pair pr = new_overlay ("BGRx", "opacity=1.0 mode=tokens");
  Image want;
  guint i;

  /* the clip [0.5 s, 1 s) has 2 frames: 0.5 and 0.625 s show clip frame 0,
   * 0.75 and 0.875 s clip frame 1 */
  gst_harness_push (pr.r, token_routing_buffer (CLIP));
  for (i = 0; i < 4; i++)
    {
      gst_harness_push (
          pr.v, frame_buffer (GST_VIDEO_FORMAT_BGRx, W, H, CLIP + i * FRAME));
      expected_tokens (&want, i / 2);
      assert_pulled_frame (pr.v, GST_VIDEO_FORMAT_BGRx, &want);
    }

  /* frame-index fixed; the grid from the properties: 2x2 patches of 32 px
   * are tokens 1..4 of frame 0: experts 7, 3, 7, 7 */
  g_object_set (
      pr.v->element, "frame-index", 0, "grid-width", 2, "grid-height", 2, NULL);
  gst_harness_push (
      pr.v, frame_buffer (GST_VIDEO_FORMAT_BGRx, W, H, CLIP + 3 * FRAME + 1));
  image_grey (&want);
  image_fill (&want, 0, 0, 32, 32, COLOUR_7);
  image_fill (&want, 32, 0, 64, 32, COLOUR_3);
  image_fill (&want, 0, 32, 64, 64, COLOUR_7);
  assert_pulled_frame (pr.v, GST_VIDEO_FORMAT_BGRx, &want);

  /* the ffn gate: all expert 5; mode=panel: nothing (no static routes) */
  g_object_set (pr.v->element, "gate", 1, NULL);
  gst_harness_push (
      pr.v, frame_buffer (GST_VIDEO_FORMAT_BGRx, W, H, CLIP + 3 * FRAME + 2));
  image_fill (&want, 0, 0, W, H, COLOUR_5);
  assert_pulled_frame (pr.v, GST_VIDEO_FORMAT_BGRx, &want);
  gst_util_set_object_arg (G_OBJECT (pr.v->element), "mode", "panel");
  gst_harness_push (
      pr.v, frame_buffer (GST_VIDEO_FORMAT_BGRx, W, H, CLIP + 3 * FRAME + 3));
  assert_pulled_grey (pr.v, GST_VIDEO_FORMAT_BGRx);

  /* a layer without per-token routes: nothing */
  g_object_set (pr.v->element, "layer", 2, "mode", 0, NULL);
  gst_harness_push (
      pr.v, frame_buffer (GST_VIDEO_FORMAT_BGRx, W, H, CLIP + 3 * FRAME + 4));
  assert_pulled_grey (pr.v, GST_VIDEO_FORMAT_BGRx);
  pair_teardown (&pr);
}

GST_END_TEST;

/* A frame wider than high: the grid covers the centred square. */
GST_START_TEST (test_tokens_centre_crop)
{
  GstElement *e = gst_element_factory_make ("upmroutingoverlay", NULL);
  GstHarness *v, *r;
  GstVideoInfo info;
  GstVideoFrame f;
  GstBuffer *out;
  gint x, y;

  g_object_set (e, "latency", (guint64)10 * GST_SECOND, "opacity", 1.0,
      "frame-index", 1, NULL);
  v = gst_harness_new_with_element (e, "video_sink", "src");
  r = gst_harness_new_with_element (e, "routing_sink", NULL);
  gst_harness_set_src_caps_str (
      v, "video/x-raw,format=RGB,width=96,height=64,framerate=8/1");
  gst_harness_set_src_caps_str (r, "application/json");
  gst_harness_push (r, token_routing_buffer (0));
  gst_harness_push (v, frame_buffer (GST_VIDEO_FORMAT_RGB, 96, 64, 0));
  out = gst_harness_pull (v);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 96, 64);
  fail_unless (gst_video_frame_map (&f, &info, out, GST_MAP_READ));
  for (y = 0; y < 64; y++)
    for (x = 0; x < 96; x++)
      {
        const guint8 *p = (const guint8 *)GST_VIDEO_FRAME_PLANE_DATA (&f, 0)
                          + y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0) + x * 3;
        gboolean inside = x >= 16 && x < 80;

        /* expert 1: green */
        fail_unless (inside ? (p[0] == 0 && p[1] == 255 && p[2] == 0)
                            : (p[0] == GREY && p[1] == GREY && p[2] == GREY),
            "(%d,%d): %u %u %u", x, y, p[0], p[1], p[2]);
      }
  gst_video_frame_unmap (&f);
  gst_buffer_unref (out);
  gst_harness_teardown (r);
  gst_harness_teardown (v);
  gst_object_unref (e);
}

GST_END_TEST;

/* --------------------------------------------------------------- timing */

GST_START_TEST (test_timing)
{
  Pair pr = new_overlay ("RGBA", "position=top-left cell-size=6 opacity=1.0");
  GstBuffer *out, *plain;
  Image panel;

  expected_panel (&panel, 1.0f);

  /* a frame waits for the routing of its clip */
  gst_harness_push (pr.v, frame_buffer (GST_VIDEO_FORMAT_RGBA, W, H, 0));
  assert_no_output (&pr, 100);
  /* a buffer without the meta is ignored */
  plain = gst_buffer_new_memdup ("text", 4);
  GST_BUFFER_PTS (plain) = 0;
  GST_BUFFER_DURATION (plain) = CLIP;
  gst_harness_push (pr.r, plain);
  assert_no_output (&pr, 100);
  /* the routing of [1 s, 1.5 s): the frame at 0 comes before it, undrawn */
  gst_harness_push (pr.r, static_routing (2 * CLIP));
  out = gst_harness_pull (pr.v);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 0);
  assert_grey (out, GST_VIDEO_FORMAT_RGBA);
  gst_buffer_unref (out);

  /* 1.25 s: drawn; its end (1.5 s) is excluded */
  gst_harness_push (
      pr.v, frame_buffer (GST_VIDEO_FORMAT_RGBA, W, H, 2 * CLIP + 2 * FRAME));
  assert_pulled_frame (pr.v, GST_VIDEO_FORMAT_RGBA, &panel);
  gst_harness_push (pr.v, frame_buffer (GST_VIDEO_FORMAT_RGBA, W, H, 3 * CLIP));
  /* the routing ended: dropped, the frame waits for the next */
  assert_no_output (&pr, 100);
  /* the routing pad's EOS: frames pass undrawn */
  fail_unless (gst_harness_push_event (pr.r, gst_event_new_eos ()));
  out = gst_harness_pull (pr.v);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 3 * CLIP);
  assert_grey (out, GST_VIDEO_FORMAT_RGBA);
  gst_buffer_unref (out);
  gst_harness_push (
      pr.v, frame_buffer (GST_VIDEO_FORMAT_RGBA, W, H, 3 * CLIP + FRAME));
  assert_pulled_grey (pr.v, GST_VIDEO_FORMAT_RGBA);

  /* the video's EOS goes out */
  fail_unless (gst_harness_push_event (pr.v, gst_event_new_eos ()));
  pull_until_eos (pr.v);
  pair_teardown (&pr);
}

GST_END_TEST;

/* Frames and routing are matched in running time: the video's segment
 * starts at 10 s, the routing's at 0; the video segment goes out. A gap on
 * the video pad makes no frame. */
GST_START_TEST (test_segments)
{
  Pair pr = new_overlay ("RGBA", "position=top-left cell-size=6 opacity=1.0");
  GstSegment seg;
  GstBuffer *out;
  GstEvent *ev;
  Image panel;
  gboolean seen = FALSE;

  expected_panel (&panel, 1.0f);
  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = 10 * GST_SECOND;
  seg.time = 10 * GST_SECOND;
  fail_unless (gst_harness_push_event (pr.v, gst_event_new_segment (&seg)));
  fail_unless (gst_harness_push_event (
      pr.v, gst_event_new_gap (10 * GST_SECOND, FRAME)));
  gst_harness_push (pr.r, static_routing (0));
  gst_harness_push (pr.v,
      frame_buffer (GST_VIDEO_FORMAT_RGBA, W, H, 10 * GST_SECOND + FRAME));
  out = gst_harness_pull (pr.v);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), 10 * GST_SECOND + FRAME);
  assert_frame (out, GST_VIDEO_FORMAT_RGBA, &panel);
  gst_buffer_unref (out);
  /* 10.5 s is running time 0.5: after the routing */
  gst_harness_push (
      pr.v, frame_buffer (GST_VIDEO_FORMAT_RGBA, W, H, 10 * GST_SECOND + CLIP));
  fail_unless (gst_harness_push_event (pr.r, gst_event_new_eos ()));
  assert_pulled_grey (pr.v, GST_VIDEO_FORMAT_RGBA);
  fail_unless (gst_harness_try_pull (pr.v) == NULL);
  while ((ev = gst_harness_try_pull_event (pr.v)) != NULL)
    {
      if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT)
        {
          const GstSegment *s;

          gst_event_parse_segment (ev, &s);
          seen = s->start == 10 * GST_SECOND;
        }
      gst_event_unref (ev);
    }
  fail_unless (seen, "the video segment did not go out");
  pair_teardown (&pr);
}

GST_END_TEST;

/* Live: a frame whose routing is later than the latency passes undrawn. */
GST_START_TEST (test_live_timeout)
{
  Pair pr = new_overlay (
      "RGBA", "position=top-left cell-size=6 opacity=1.0 latency=250000000");
  Image panel;

  gst_harness_push (pr.v, frame_buffer (GST_VIDEO_FORMAT_RGBA, W, H, 0));
  assert_no_output (&pr, 50);
  fail_unless (gst_harness_crank_single_clock_wait (pr.v));
  assert_pulled_grey (pr.v, GST_VIDEO_FORMAT_RGBA);

  /* in time: drawn */
  expected_panel (&panel, 1.0f);
  gst_harness_push (pr.r, static_routing (0));
  gst_harness_push (pr.v, frame_buffer (GST_VIDEO_FORMAT_RGBA, W, H, FRAME));
  assert_pulled_frame (pr.v, GST_VIDEO_FORMAT_RGBA, &panel);
  pair_teardown (&pr);
}

GST_END_TEST;

static void
flush (GstHarness *h)
{
  GstSegment segment;

  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
}

GST_START_TEST (test_flush)
{
  Pair pr = new_overlay ("RGBA", "position=top-left cell-size=6 opacity=1.0");
  GstBuffer *out;
  Image panel;

  expected_panel (&panel, 1.0f);
  /* a frame waiting for its routing and a pending routing buffer are
   * dropped by a flush */
  gst_harness_push (pr.v, frame_buffer (GST_VIDEO_FORMAT_RGBA, W, H, 0));
  assert_no_output (&pr, 50);
  flush (pr.v);
  gst_harness_push (pr.r, static_routing (0));
  flush (pr.r);
  /* the pending routing is gone: this frame waits */
  gst_harness_push (pr.v, frame_buffer (GST_VIDEO_FORMAT_RGBA, W, H, FRAME));
  assert_no_output (&pr, 100);
  gst_harness_push (pr.r, static_routing (0));
  out = gst_harness_pull (pr.v);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), FRAME);
  assert_frame (out, GST_VIDEO_FORMAT_RGBA, &panel);
  gst_buffer_unref (out);
  fail_unless (gst_harness_try_pull (pr.v) == NULL);
  pair_teardown (&pr);
}

GST_END_TEST;

/* EOS without data does not hang; new caps mid-stream. */
GST_START_TEST (test_eos_caps)
{
  Pair pr = new_overlay ("RGBA", "position=top-left cell-size=6 opacity=1.0");
  GstCaps *caps;
  Image panel;
  Pair pr2;

  expected_panel (&panel, 1.0f);
  fail_unless (gst_harness_push_event (pr.r, gst_event_new_eos ()));
  fail_unless (gst_harness_push_event (pr.v, gst_event_new_eos ()));
  pull_until_eos (pr.v);
  pair_teardown (&pr);

  /* xBGR, then new caps mid-stream: RGB */
  pr2 = new_overlay ("xBGR", "position=top-left cell-size=6 opacity=1.0");
  gst_harness_push (pr2.r, static_routing (0));
  gst_harness_push (pr2.v, frame_buffer (GST_VIDEO_FORMAT_xBGR, W, H, 0));
  assert_pulled_frame (pr2.v, GST_VIDEO_FORMAT_xBGR, &panel);
  gst_harness_set_src_caps_str (
      pr2.v, "video/x-raw,format=RGB,width=64,height=64,framerate=8/1");
  gst_harness_push (pr2.v, frame_buffer (GST_VIDEO_FORMAT_RGB, W, H, FRAME));
  assert_pulled_frame (pr2.v, GST_VIDEO_FORMAT_RGB, &panel);
  caps = gst_pad_get_current_caps (pr2.v->sinkpad);
  fail_unless_equals_string (
      gst_structure_get_string (gst_caps_get_structure (caps, 0), "format"),
      "RGB");
  gst_caps_unref (caps);
  pair_teardown (&pr2);
}

GST_END_TEST;

/* ----------------------------------------------------------------- meta */

GST_START_TEST (test_meta_token_routes)
{
  GstBuffer *buf = token_routing_buffer (CLIP), *copy;
  GstUpmRoutingMeta *m;
  const GstUpmTokenRoute *r;
  JsonParser *parser = json_parser_new ();
  JsonObject *routing, *grid, *tr;
  JsonArray *trs, *experts;
  gchar *json;

  copy = gst_buffer_copy (buf);
  gst_buffer_unref (buf);
  m = gst_buffer_get_upm_routing_meta (copy);
  fail_unless (m != NULL);
  fail_unless_equals_int (m->n_token_routes, 2);
  fail_unless_equals_int (m->grid_width, GRID);
  fail_unless_equals_int (m->grid_height, GRID);
  fail_unless_equals_int (m->n_frames, 2);
  fail_unless_equals_int (m->visual_begin, 1);
  r = gst_upm_routing_meta_find_token_route (m, 0, GST_UPM_GATE_ATTN, 2);
  fail_unless (r != NULL);
  fail_unless_equals_int (r->gate, GST_UPM_GATE_ATTN);
  fail_unless_equals_string (r->segment, "cls_input");
  fail_unless (r->segment == g_intern_string ("cls_input"));
  fail_unless_equals_int (r->experts[2 * (2 - r->token_begin)], 3);
  fail_unless (
      gst_upm_routing_meta_find_token_route (m, 0, GST_UPM_GATE_ATTN, 0)
      == NULL);
  fail_unless (
      gst_upm_routing_meta_find_token_route (m, 0, GST_UPM_GATE_ATTN, 33)
      == NULL);
  fail_unless (gst_upm_routing_meta_find_token_route (m, 1, GST_UPM_GATE_FFN, 5)
               == NULL);

  json = gst_upm_buffer_metas_to_json (copy);
  fail_unless (json_parser_load_from_data (parser, json, -1, NULL), "%s", json);
  routing = json_object_get_object_member (
      json_node_get_object (json_parser_get_root (parser)), "routing");
  grid = json_object_get_object_member (routing, "grid");
  fail_unless_equals_int (json_object_get_int_member (grid, "width"), GRID);
  fail_unless_equals_int (json_object_get_int_member (grid, "frames"), 2);
  fail_unless_equals_int (json_object_get_int_member (grid, "visual_begin"), 1);
  trs = json_object_get_array_member (routing, "token_routes");
  fail_unless_equals_int (json_array_get_length (trs), 2);
  tr = json_array_get_object_element (trs, 1);
  fail_unless_equals_string (
      json_object_get_string_member (tr, "gate"), "attn");
  fail_unless_equals_int (json_object_get_int_member (tr, "token_begin"), 1);
  fail_unless_equals_int (json_object_get_int_member (tr, "n_tokens"), 32);
  experts = json_object_get_array_member (tr, "experts");
  fail_unless_equals_int (json_array_get_length (experts), 64);
  fail_unless_equals_int (json_array_get_int_element (experts, 0), 7);
  fail_unless_equals_int (json_array_get_int_element (experts, 2), 3);
  g_free (json);
  g_object_unref (parser);

  /* a meta without them has no such members */
  buf = routing_buffer (0, CLIP, static_routes, 1);
  json = gst_upm_buffer_metas_to_json (buf);
  fail_unless (strstr (json, "token_routes") == NULL);
  fail_unless (strstr (json, "\"grid\"") == NULL);
  g_free (json);
  gst_buffer_unref (buf);
  gst_buffer_unref (copy);
}

GST_END_TEST;

/* ------------------------------------------------------------- pipeline */

/* Plays @pipe to EOS and back to NULL: the frames of appsink "out". */
static GPtrArray *
run_frames (GstElement *pipe)
{
  GstElement *sink;
  GPtrArray *frames
      = g_ptr_array_new_with_free_func ((GDestroyNotify)gst_buffer_unref);
  GstSample *s;
  GstBus *bus;
  GstMessage *msg;

  sink = gst_bin_get_by_name (GST_BIN (pipe), "out");
  fail_unless_equals_int (
      gst_element_set_state (pipe, GST_STATE_PLAYING), GST_STATE_CHANGE_ASYNC);
  while (
      (s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 60 * GST_SECOND)))
    {
      g_ptr_array_add (frames, gst_buffer_ref (gst_sample_get_buffer (s)));
      gst_sample_unref (s);
    }
  fail_unless (gst_app_sink_is_eos (GST_APP_SINK (sink)), "no EOS");
  bus = gst_element_get_bus (pipe);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg == NULL, "error in %" GST_PTR_FORMAT, pipe);
  gst_object_unref (bus);
  fail_unless_equals_int (
      gst_element_set_state (pipe, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (sink);
  return frames;
}

GST_START_TEST (test_pipeline_upmbin)
{
  gchar *model = g_build_filename (g_getenv ("UPM_SOURCE_ROOT"), "models",
      "uniperceiver-synth-moe.upm", NULL);
  gchar *desc = g_strdup_printf (
      "videotestsrc num-buffers=16 pattern=ball ! "
      "video/x-raw,width=64,height=64,framerate=8/1 ! tee name=t ! queue ! "
      "videoconvert ! upmroutingoverlay name=o ! videoconvert ! "
      "video/x-raw,format=RGBx ! appsink name=out sync=false "
      "t. ! queue ! upmbin model=%s ! o.routing_sink",
      model);
  const gchar *plain = "videotestsrc num-buffers=16 pattern=ball ! "
                       "video/x-raw,width=64,height=64,framerate=8/1 ! "
                       "videoconvert ! video/x-raw,format=RGBx ! "
                       "appsink name=out sync=false";
  GstElement *pipe;
  GPtrArray *drawn, *ref;
  guint round;
  /* pattern=ball: the default pattern has random noise, different on the
   * second run. The panel: cells of 64 / 32 = 2 px, 8 experts, top-right, 2 px
   * margin; rows: 2 MoE layers x 2 gates */
  const guint px0 = 64 - 2 - 16, py0 = 2, px1 = 64 - 2, py1 = 2 + 4 * 2;
  guint i, x, y;

  pipe = gst_parse_launch (plain, NULL);
  fail_unless (pipe != NULL);
  ref = run_frames (pipe);
  gst_object_unref (pipe);
  pipe = gst_parse_launch (desc, NULL);
  fail_unless (pipe != NULL);
  /* twice: the elements are reusable after NULL */
  for (round = 0; round < 2; round++)
    {
      drawn = run_frames (pipe);
      fail_unless_equals_int (drawn->len, 16);
      fail_unless_equals_int (ref->len, 16);
      for (i = 0; i < 16; i++)
        {
          GstMapInfo a, b;
          guint in_panel = 0, outside = 0;

          fail_unless (
              gst_buffer_map (g_ptr_array_index (drawn, i), &a, GST_MAP_READ));
          fail_unless (
              gst_buffer_map (g_ptr_array_index (ref, i), &b, GST_MAP_READ));
          fail_unless_equals_int (a.size, b.size);
          for (y = 0; y < 64; y++)
            for (x = 0; x < 64; x++)
              {
                gboolean differs = memcmp (a.data + (y * 64 + x) * 4,
                                       b.data + (y * 64 + x) * 4, 3)
                                   != 0;

                if (x >= px0 && x < px1 && y >= py0 && y < py1)
                  in_panel += differs;
                else if (differs && outside++ < 4)
                  GST_ERROR ("(%u,%u) %u %u %u vs %u %u %u", x, y,
                      a.data[(y * 64 + x) * 4], a.data[(y * 64 + x) * 4 + 1],
                      a.data[(y * 64 + x) * 4 + 2], b.data[(y * 64 + x) * 4],
                      b.data[(y * 64 + x) * 4 + 1],
                      b.data[(y * 64 + x) * 4 + 2]);
              }
          gst_buffer_unmap (g_ptr_array_index (drawn, i), &a);
          gst_buffer_unmap (g_ptr_array_index (ref, i), &b);
          /* every frame is covered by one of the 4 clips */
          fail_unless (in_panel > 0, "frame %u: no panel", i);
          fail_unless (outside == 0,
              "round %u frame %u: %u pixels differ outside "
              "the panel",
              round, i, outside);
        }
      g_ptr_array_unref (drawn);
    }
  gst_object_unref (pipe);
  g_ptr_array_unref (ref);
  g_free (desc);
  g_free (model);
}

GST_END_TEST;

static const UpmCheckTest upmroutingoverlay_tests[] = {
  UPM_CHECK_TEST (test_properties),
  UPM_CHECK_TEST (test_panel_static),
  UPM_CHECK_TEST (test_panel_options),
  UPM_CHECK_TEST (test_tokens),
  UPM_CHECK_TEST (test_tokens_centre_crop),
  UPM_CHECK_TEST (test_timing),
  UPM_CHECK_TEST (test_segments),
  UPM_CHECK_TEST (test_live_timeout),
  UPM_CHECK_TEST (test_flush),
  UPM_CHECK_TEST (test_eos_caps),
  UPM_CHECK_TEST (test_meta_token_routes),
  UPM_CHECK_TEST (test_pipeline_upmbin),
};

UPM_CHECK_MAIN (upmroutingoverlay, NULL);
