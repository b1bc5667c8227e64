/* test-vision.c: frame preprocessing and clip sampling.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The reference tensors in $UPM_FIXTURES/vision.expect.gguf are written by
 * tools/make_vision_fixture.py (torch for the bilinear video path, Pillow
 * for the bicubic image path).
 */

#include "upm-private.h"

#include <math.h>
#include <string.h>

#include "upm-test-util.h"

static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };

static void
hp_init (UpmHParams *hp, guint image_size, guint patch_size)
{
  guint c;

  memset (hp, 0, sizeof (*hp));
  hp->image_size = image_size;
  hp->patch_size = patch_size;
  hp->grid = image_size / patch_size;
  for (c = 0; c < 3; c++)
    {
      hp->image_mean[c] = imagenet_mean[c];
      hp->image_std[c] = imagenet_std[c];
      hp->video_mean[c] = 0.5f;
      hp->video_std[c] = 0.5f;
    }
}

/* Mirror of synth_frame() in tools/make_vision_fixture.py. */
static uint8_t
synth_pixel (uint32_t x, uint32_t y, uint32_t c)
{
  uint32_t h
      = ((x * 73856093u) ^ (y * 19349663u) ^ (c * 83492791u)) * 2654435761u;

  switch (((x >> 3) + (y >> 3)) % 3)
    {
    case 0:
      return (uint8_t)(h >> 24);
    case 1:
      return ((x + y + c) & 1) ? 255 : 0;
    default:
      return (uint8_t)((x * 7 + y * 3 + c * 40) & 255);
    }
}

/* A frame with @pad bytes of garbage after each row. */
static uint8_t *
synth_frame (int w, int h, int pad, int *stride, uint32_t *checksum)
{
  uint8_t *rgb;
  int x, y, c;

  *stride = 3 * w + pad;
  rgb = g_malloc ((gsize)*stride * h);
  memset (rgb, 0xa5, (gsize)*stride * h);
  *checksum = 0;
  for (y = 0; y < h; y++)
    for (x = 0; x < w; x++)
      for (c = 0; c < 3; c++)
        {
          uint8_t v = synth_pixel (x, y, c);

          rgb[(gsize)y * *stride + 3 * x + c] = v;
          *checksum += v;
        }
  return rgb;
}

static UpmGguf *
open_fixture (void)
{
  char *path = upm_test_fixture_path ("vision.expect.gguf");
  GError *error = NULL;
  UpmGguf *gguf;

  gguf = upm_gguf_open (path, &error);
  g_assert_no_error (error);
  g_free (path);
  return gguf;
}

static uint32_t
case_u32 (UpmGguf *gguf, guint i, const char *what)
{
  char *key = g_strdup_printf ("case.%u.%s", i, what);
  GError *error = NULL;
  uint32_t v = 0;

  upm_gguf_get_u32 (gguf, key, &v, &error);
  g_assert_no_error (error);
  g_free (key);
  return v;
}

static const float *
case_tensor (UpmGguf *gguf, guint i, const char *what, const UpmHParams *hp)
{
  char *name = g_strdup_printf ("case.%u.%s", i, what);
  uint64_t dims[2] = { UPM_HP_TOKENS_PER_FRAME (hp), UPM_HP_PATCH_DIM (hp) };
  GError *error = NULL;
  const UpmTensor *t;

  t = upm_gguf_require_tensor (gguf, name, UPM_DTYPE_F32, 2, dims, &error);
  g_assert_no_error (error);
  g_free (name);
  return t->data;
}

/* Largest |a - b| / tol[channel] over the patch rows. */
static double
max_err (const UpmHParams *hp, const float *a, const float *b,
    const float tol[3], double *abs_max)
{
  gsize pp = (gsize)hp->patch_size * hp->patch_size;
  gsize dim = 3 * pp, n = UPM_HP_TOKENS_PER_FRAME (hp) * dim, k;
  double worst = 0.0;

  *abs_max = 0.0;
  for (k = 0; k < n; k++)
    {
      double d = fabs ((double)a[k] - (double)b[k]);

      *abs_max = MAX (*abs_max, d);
      worst = MAX (worst, d / tol[(k % dim) / pp]);
    }
  return worst;
}

static void
check_case (UpmGguf *gguf, guint i)
{
  UpmHParams hp;
  GError *error = NULL;
  uint32_t checksum;
  int w = (int)case_u32 (gguf, i, "width");
  int h = (int)case_u32 (gguf, i, "height");
  int stride;
  uint8_t *rgb;
  float *patches, tol[3];
  double rel, abs_err;
  guint c;

  hp_init (
      &hp, case_u32 (gguf, i, "image_size"), case_u32 (gguf, i, "patch_size"));
  rgb = synth_frame (w, h, 5, &stride, &checksum);
  g_assert_cmpuint (checksum, ==, case_u32 (gguf, i, "checksum"));
  patches
      = g_new (float, UPM_HP_TOKENS_PER_FRAME (&hp) * UPM_HP_PATCH_DIM (&hp));

  g_assert_true (upm_vision_frame_to_patches (
      &hp, UPM_NORM_VIDEO, rgb, w, h, stride, patches, &error));
  g_assert_no_error (error);
  for (c = 0; c < 3; c++)
    tol[c] = 1e-5f;
  rel = max_err (
      &hp, patches, case_tensor (gguf, i, "video", &hp), tol, &abs_err);
  g_test_message ("%dx%d bilinear: max abs err %.3g", w, h, abs_err);
  g_assert_cmpfloat (rel, <=, 1.0);

  g_assert_true (upm_vision_frame_to_patches (
      &hp, UPM_NORM_IMAGE, rgb, w, h, stride, patches, &error));
  g_assert_no_error (error);
  /* exact uint8 equality before normalisation */
  for (c = 0; c < 3; c++)
    tol[c] = 0.5f / 255.0f / hp.image_std[c];
  rel = max_err (
      &hp, patches, case_tensor (gguf, i, "image", &hp), tol, &abs_err);
  g_test_message ("%dx%d bicubic: max abs err %.3g", w, h, abs_err);
  g_assert_cmpfloat (rel, <=, 1.0);

  g_free (patches);
  g_free (rgb);
}

static void
test_reference (void)
{
  UpmGguf *gguf = open_fixture ();
  uint32_t n = 0;
  GError *error = NULL;
  guint i;

  upm_gguf_get_u32 (gguf, "vision.n_cases", &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, >, 0);
  for (i = 0; i < n; i++)
    check_case (gguf, i);
  upm_gguf_close (gguf);
}

/* A 16x16 frame at image size 16 needs no resize: check the layout. */
static void
test_patch_order (void)
{
  const guint size = 16, p = 4, grid = 4;
  UpmHParams hp;
  GError *error = NULL;
  uint8_t rgb[16 * 16 * 3];
  float *patches;
  guint x, y, c, kind;

  hp_init (&hp, size, p);
  for (c = 0; c < 3; c++)
    {
      hp.video_mean[c] = 0.0f;
      hp.video_std[c] = 1.0f / 255.0f;
      hp.image_mean[c] = 0.0f;
      hp.image_std[c] = 1.0f / 255.0f;
    }
  for (y = 0; y < size; y++)
    for (x = 0; x < size; x++)
      for (c = 0; c < 3; c++)
        rgb[(y * size + x) * 3 + c] = (uint8_t)(y * 16 + x + c * 7 - c);
  patches = g_new (float, grid *grid * 3 * p * p);

  for (kind = UPM_NORM_IMAGE; kind <= UPM_NORM_VIDEO; kind++)
    {
      g_assert_true (upm_vision_frame_to_patches (
          &hp, kind, rgb, size, size, size * 3, patches, &error));
      g_assert_no_error (error);
      for (y = 0; y < size; y++)
        for (x = 0; x < size; x++)
          for (c = 0; c < 3; c++)
            {
              guint row = (y / p) * grid + x / p;
              guint col = c * p * p + (y % p) * p + x % p;
              float got = patches[row * 3 * p * p + col];

              g_assert_cmpfloat_with_epsilon (
                  got, (float)rgb[(y * size + x) * 3 + c], 1e-3);
            }
    }
  g_free (patches);
}

/* A uniform frame stays uniform whatever the size; 1x1 must not crash. */
static void
test_uniform (void)
{
  static const int sizes[][2] = { { 1, 1 }, { 1, 500 }, { 500, 1 }, { 2, 3 },
    { 1280, 720 }, { 33, 7 } };
  UpmHParams hp;
  GError *error = NULL;
  float *patches;
  guint i, kind;
  gsize k, n;

  hp_init (&hp, 32, 8);
  n = UPM_HP_TOKENS_PER_FRAME (&hp) * UPM_HP_PATCH_DIM (&hp);
  patches = g_new (float, n);
  for (i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      int w = sizes[i][0], h = sizes[i][1];
      uint8_t *rgb = g_malloc ((gsize)w * h * 3);

      memset (rgb, 200, (gsize)w * h * 3);
      for (kind = UPM_NORM_IMAGE; kind <= UPM_NORM_VIDEO; kind++)
        {
          const float *mean
              = kind == UPM_NORM_IMAGE ? hp.image_mean : hp.video_mean;
          const float *std
              = kind == UPM_NORM_IMAGE ? hp.image_std : hp.video_std;

          g_assert_true (upm_vision_frame_to_patches (
              &hp, kind, rgb, w, h, w * 3, patches, &error));
          g_assert_no_error (error);
          for (k = 0; k < n; k++)
            {
              guint c = (k % UPM_HP_PATCH_DIM (&hp)) / 64;
              float want = (200.0f / 255.0f - mean[c]) / std[c];

              g_assert_cmpfloat_with_epsilon (patches[k], want, 1e-5);
            }
        }
      g_free (rgb);
    }
  g_free (patches);
}

static void
expect_bad (const UpmHParams *hp, const uint8_t *rgb, int w, int h, int stride,
    float *patches)
{
  GError *error = NULL;

  g_assert_false (upm_vision_frame_to_patches (
      hp, UPM_NORM_VIDEO, rgb, w, h, stride, patches, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

static void
test_bad_sizes (void)
{
  UpmHParams hp, bad;
  uint8_t rgb[3 * 4 * 4] = { 0 };
  float *patches;

  hp_init (&hp, 32, 8);
  patches
      = g_new (float, UPM_HP_TOKENS_PER_FRAME (&hp) * UPM_HP_PATCH_DIM (&hp));
  expect_bad (&hp, rgb, 0, 4, 12, patches);
  expect_bad (&hp, rgb, 4, 0, 12, patches);
  expect_bad (&hp, rgb, -4, 4, 12, patches);
  expect_bad (&hp, rgb, 4, -1, 12, patches);
  expect_bad (&hp, rgb, (1 << 15) + 1, 4, 12, patches);
  expect_bad (&hp, rgb, 4, G_MAXINT, 12, patches);
  expect_bad (&hp, rgb, 4, 4, 11, patches);
  expect_bad (&hp, NULL, 4, 4, 12, patches);
  expect_bad (&hp, rgb, 4, 4, 12, NULL);
  bad = hp;
  bad.patch_size = 0;
  expect_bad (&bad, rgb, 4, 4, 12, patches);
  bad = hp;
  bad.grid = 3;
  expect_bad (&bad, rgb, 4, 4, 12, patches);
  g_free (patches);
}

static void
test_sample_indices (void)
{
  uint32_t idx[8];
  guint i;

  /* 30 fps, stride 32: every 32nd frame */
  upm_vision_sample_indices (1000, 30.0, 4, 32, 0, idx);
  for (i = 0; i < 4; i++)
    g_assert_cmpuint (idx[i], ==, 32 * i);
  /* 25 fps: int(i * 32 * 25 / 30) */
  upm_vision_sample_indices (1000, 25.0, 4, 32, 5, idx);
  g_assert_cmpuint (idx[0], ==, 5);
  g_assert_cmpuint (idx[1], ==, 5 + 26);
  g_assert_cmpuint (idx[2], ==, 5 + 53);
  g_assert_cmpuint (idx[3], ==, 5 + 80);
  /* wrap around the total */
  upm_vision_sample_indices (50, 30.0, 4, 32, 10, idx);
  g_assert_cmpuint (idx[0], ==, 10);
  g_assert_cmpuint (idx[1], ==, 42);
  g_assert_cmpuint (idx[2], ==, 74 % 50);
  g_assert_cmpuint (idx[3], ==, 106 % 50);
  /* no frames at all */
  memset (idx, 0xff, sizeof (idx));
  upm_vision_sample_indices (0, 30.0, 8, 32, 3, idx);
  for (i = 0; i < 8; i++)
    g_assert_cmpuint (idx[i], ==, 0);
  /* 29.97 fps, stride 8 */
  upm_vision_sample_indices (100000, 29.97, 8, 8, 0, idx);
  for (i = 0; i < 8; i++)
    g_assert_cmpuint (idx[i], ==, (uint32_t)(i * 8 * 29.97 / 30.0));
  /* a hostile start or fps does not overflow */
  upm_vision_sample_indices (7, 1e300, 3, G_MAXUINT32, G_MAXUINT32, idx);
  for (i = 0; i < 3; i++)
    g_assert_cmpuint (idx[i], <, 7);
}

static void
test_speed (void)
{
  UpmHParams hp;
  GError *error = NULL;
  uint32_t checksum;
  int stride, kind, rep;
  uint8_t *rgb;
  float *patches;

  hp_init (&hp, 224, 16);
  rgb = synth_frame (1280, 720, 0, &stride, &checksum);
  patches
      = g_new (float, UPM_HP_TOKENS_PER_FRAME (&hp) * UPM_HP_PATCH_DIM (&hp));
  for (kind = UPM_NORM_IMAGE; kind <= UPM_NORM_VIDEO; kind++)
    {
      gint64 t0 = g_get_monotonic_time ();

      for (rep = 0; rep < 20; rep++)
        g_assert_true (upm_vision_frame_to_patches (
            &hp, kind, rgb, 1280, 720, stride, patches, &error));
      g_test_message ("1280x720 -> 224 %s: %.2f ms per frame",
          kind == UPM_NORM_IMAGE ? "bicubic" : "bilinear",
          (g_get_monotonic_time () - t0) / 1000.0 / 20);
    }
  g_free (patches);
  g_free (rgb);
}

/* The official three-crop offsets (uniform_crop: centre rounded up) and
 * torchvision's centre crop (round half to even), landscape and portrait. */
static void
test_crop_boxes (void)
{
  UpmCropBox b;
  GError *error = NULL;

  /* 320x240 -> shorter side 224: 298x224; centre offset 37 */
  g_assert_true (upm_vision_crop_box (
      320, 240, 224, 224, UPM_CROPS_CENTRE, 0, &b, &error));
  g_assert_cmpint (b.resized_w, ==, 298);
  g_assert_cmpint (b.resized_h, ==, 224);
  g_assert_cmpint (b.x, ==, 37);
  g_assert_cmpint (b.y, ==, 0);
  /* three crops of the same frame: 0, ceil(74 / 2) = 37, 74 */
  for (guint i = 0; i < 3; i++)
    {
      static const int want[3] = { 0, 37, 74 };
      g_assert_true (upm_vision_crop_box (
          320, 240, 224, 224, UPM_CROPS_THREE, i, &b, &error));
      g_assert_cmpint (b.x, ==, want[i]);
      g_assert_cmpint (b.y, ==, 0);
    }
  /* odd remainder 75: centre crop rounds 37.5 to 38 (even), three-crop's
   * centre rounds up to 38 as well; 77: 38 against 39 */
  g_assert_true (upm_vision_crop_box (
      301, 224, 224, 224, UPM_CROPS_CENTRE, 0, &b, &error));
  g_assert_cmpint (b.x, ==, 38);
  g_assert_true (upm_vision_crop_box (
      299, 224, 224, 224, UPM_CROPS_CENTRE, 0, &b, &error));
  g_assert_cmpint (b.x, ==, 38);
  g_assert_true (
      upm_vision_crop_box (301, 224, 224, 224, UPM_CROPS_THREE, 1, &b, &error));
  g_assert_cmpint (b.x, ==, 39);
  /* portrait: top, centre, bottom */
  g_assert_true (
      upm_vision_crop_box (240, 320, 224, 224, UPM_CROPS_THREE, 2, &b, &error));
  g_assert_cmpint (b.x, ==, 0);
  g_assert_cmpint (b.y, ==, 298 - 224);
  g_assert_cmpfloat (b.src_h, >, 239.0);
  /* ImageNet: shorter side 256, centre crop 224 */
  g_assert_true (upm_vision_crop_box (
      500, 375, 256, 224, UPM_CROPS_CENTRE, 0, &b, &error));
  g_assert_cmpint (b.resized_w, ==, 341);
  g_assert_cmpint (b.resized_h, ==, 256);
  g_assert_cmpint (b.x, ==, 58);
  g_assert_cmpint (b.y, ==, 16);
  g_assert_no_error (error);

  /* refused: a crop index beyond the mode, a resize below the crop */
  g_assert_false (upm_vision_crop_box (
      320, 240, 224, 224, UPM_CROPS_CENTRE, 1, &b, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (upm_vision_crop_box (
      320, 240, 200, 224, UPM_CROPS_CENTRE, 0, &b, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
}

/* A crop box other than the centre one selects other pixels: patches of the
 * left crop of a frame equal the centre crop of the frame's left part. */
static void
test_crop_patches (void)
{
  UpmHParams hp;
  UpmCropBox box;
  GError *error = NULL;
  uint32_t checksum;
  int stride;
  uint8_t *rgb = synth_frame (64, 32, 3, &stride, &checksum);
  gsize n;
  float *left, *centre;

  hp_init (&hp, 32, 8);
  n = UPM_HP_TOKENS_PER_FRAME (&hp) * UPM_HP_PATCH_DIM (&hp);
  left = g_new (float, n);
  centre = g_new (float, n);
  /* no resize (shorter side already 32): crops are plain pixel windows */
  g_assert_true (
      upm_vision_crop_box (64, 32, 32, 32, UPM_CROPS_THREE, 0, &box, &error));
  g_assert_true (upm_vision_frame_to_patches_box (
      &hp, UPM_NORM_VIDEO, &box, rgb, 64, 32, stride, left, &error));
  g_assert_true (upm_vision_frame_to_patches (
      &hp, UPM_NORM_VIDEO, rgb, 32, 32, stride, centre, &error));
  g_assert_no_error (error);
  for (gsize k = 0; k < n; k++)
    g_assert_cmpfloat (fabsf (left[k] - centre[k]), <, 1e-6f);
  /* a box made for another frame size is refused */
  g_assert_false (upm_vision_frame_to_patches_box (
      &hp, UPM_NORM_VIDEO, &box, rgb, 60, 32, stride, left, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_free (left);
  g_free (centre);
  g_free (rgb);
}

/* Sampling by timestamp equals the official index formula on constant-rate
 * streams (25, 29.97, 30, 60 fps), wraps around on short ones, and keeps
 * the time span on a stream that drops frames. */
static void
test_sample_by_time (void)
{
  static const double rates[] = { 25.0, 30000.0 / 1001.0, 30.0, 60.0 };
  const guint n_frames = 400;
  double *pts = g_new (double, n_frames);
  double targets[32];
  uint32_t got[32], want[32];

  for (guint r = 0; r < G_N_ELEMENTS (rates); r++)
    for (guint total = 20; total <= n_frames; total += 380)
      {
        /* timestamps rounded to ns, as GStreamer has them */
        for (guint k = 0; k < total; k++)
          pts[k] = round (k * 1e9 / rates[r]) / 1e9;
        for (guint i = 0; i < 32; i++)
          targets[i] = i * 8 / 30.0;
        upm_vision_sample_indices (total, rates[r], 32, 8, 0, want);
        g_assert_cmpuint (
            upm_sample_by_time (pts, total, total / rates[r], targets, 32, got),
            ==, 32);
        for (guint i = 0; i < 32; i++)
          g_assert_cmpuint (got[i], ==, want[i]);
      }

  /* open-ended: stops at the first target after the last frame */
  for (guint k = 0; k < 10; k++)
    pts[k] = k / 30.0;
  for (guint i = 0; i < 4; i++)
    targets[i] = i * 4 / 30.0;
  g_assert_cmpuint (upm_sample_by_time (pts, 10, -1.0, targets, 4, got), ==, 3);
  g_assert_cmpuint (got[2], ==, 8);

  /* a 15 fps header over frames 0.5 s apart: the clip still spans the
   * targets' time, not a count of frames */
  for (guint k = 0; k < 20; k++)
    pts[k] = 10.0 + k * 0.5;
  for (guint i = 0; i < 4; i++)
    targets[i] = i * 32 / 30.0;
  g_assert_cmpuint (upm_sample_by_time (pts, 20, -1.0, targets, 4, got), ==, 4);
  g_assert_cmpuint (got[0], ==, 0);
  g_assert_cmpuint (got[1], ==, 2); /* 1.067 s -> the frame at 1.0 s */
  g_assert_cmpuint (got[3], ==, 6); /* 3.2 s -> the frame at 3.0 s */
  g_free (pts);
}

static void
test_presets (void)
{
  GError *error = NULL;
  UpmHParams hp = { 0 };
  const UpmPreset *k400, *p;
  double times[8];
  g_autofree char *names = upm_preset_names ();

  hp.clip_frames = 4;
  g_assert_cmpuint (upm_n_presets (), >=, 9);
  g_assert_nonnull (strstr (names, "msvd-caption"));
  for (guint i = 0; i < upm_n_presets (); i++)
    {
      p = upm_preset_get (i);
      g_assert_true (upm_preset_lookup (p->name, &error) == p);
      g_assert_cmpuint (upm_preset_n_views (p), >=, 1);
    }
  g_assert_null (upm_preset_get (upm_n_presets ()));

  k400 = upm_preset_lookup ("k400", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (upm_preset_n_views (k400), ==, 12);
  g_assert_cmpuint (upm_preset_n_samples (k400, &hp), ==, 32);
  /* view 1: sampled frames 1, 5, 9, ... of 32 at stride 8 */
  upm_preset_view_times (k400, &hp, 1, times);
  for (guint i = 0; i < 8; i++)
    g_assert_cmpfloat (fabs (times[i] - (4 * i + 1) * 8 / 30.0), <, 1e-12);

  p = upm_preset_lookup ("default", &error);
  g_assert_cmpuint (upm_preset_n_samples (p, &hp), ==, 4);
  g_assert_cmpuint (p->stride, ==, 0);

  g_assert_null (upm_preset_lookup ("kinetics", &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "k400"));
  g_clear_error (&error);
}

static const UpmTestCase tests[] = {
  { "/vision/reference", test_reference },
  { "/vision/patch-order", test_patch_order },
  { "/vision/uniform", test_uniform },
  { "/vision/bad-sizes", test_bad_sizes },
  { "/vision/sample-indices", test_sample_indices },
  { "/vision/crop-boxes", test_crop_boxes },
  { "/vision/crop-patches", test_crop_patches },
  { "/vision/sample-by-time", test_sample_by_time },
  { "/vision/presets", test_presets },
  { "/vision/speed", test_speed },
};

UPM_TEST_MAIN (tests);
