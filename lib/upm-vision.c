/* upm-vision.c: frame preprocessing (resize, centre crop, normalise,
 * patchify) and clip frame sampling.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Two resamplers reproduce the reference pipelines bit for bit (model-spec
 * §2.2, §2.3):
 *
 *  - UPM_NORM_VIDEO: torch F.interpolate(mode='bilinear',
 *    align_corners=False, antialias=False) on the float [0,1] frame.
 *  - UPM_NORM_IMAGE: Pillow's Image.resize(BICUBIC) on the uint8 image:
 *    separable convolution with the a = -0.5 cubic kernel whose support is
 *    widened by the downscale factor, coefficients normalised and converted
 *    to 22-bit fixed point, a horizontal pass into an intermediate uint8
 *    image, then a vertical pass.
 *
 * Both resamplers only compute the pixels that survive the centre crop;
 * every output pixel depends on its own coefficients only, so the result is
 * the same as resizing the whole frame and cropping afterwards.
 */

#include "upm-private.h"

#include <math.h>
#include <string.h>

#define UPM_VISION_MAX_SIDE (1 << 15)
#define UPM_PIL_PRECISION_BITS (32 - 8 - 2)
/* Timestamps are rounded (to ns in GStreamer, to the time base in files):
 * a frame this close after a target time still counts as at it. The
 * official index formula never puts a frame nearer than 1 / (30 * fps
 * denominator) of a frame period after a target, far above this. */
#define UPM_SAMPLE_SLACK_S 1e-6

/* Resampling coefficients of one axis, for the @n outputs of the crop. */
typedef struct
{
  guint n;     /* outputs */
  guint ksize; /* taps stored per output */
  int *first;  /* first input index of each output */
  int *count;  /* taps used by each output (<= ksize) */
  float *wf;   /* bilinear weights, n * ksize */
  int32_t *wi; /* Pillow fixed-point weights, n * ksize */
} UpmAxis;

static void
upm_axis_clear (UpmAxis *axis)
{
  g_free (axis->first);
  g_free (axis->count);
  g_free (axis->wf);
  g_free (axis->wi);
  memset (axis, 0, sizeof (*axis));
}

/* ---------------------------------------------------------- geometry */

/* torchvision Resize(int): the shorter side becomes @size, the longer one
 * int(size * long / short). */
static void
upm_resized_size (int width, int height, int size, int *out_w, int *out_h)
{
  if (width <= height)
    {
      *out_w = size;
      *out_h = (int)((double)size * (double)height / (double)width);
    }
  else
    {
      *out_h = size;
      *out_w = (int)((double)size * (double)width / (double)height);
    }
}

/* torchvision CenterCrop offset: int(round((len - size) / 2.0)), where
 * Python's round() breaks ties to even. */
static int
upm_crop_offset (int len, int size)
{
  int d = len - size;
  int half = d / 2;

  if (d % 2 == 0)
    return half;
  return (half % 2 == 0) ? half : half + 1;
}

/* ---------------------------------------------------------- bilinear */

/* torch's compute_source_index_and_lambda with align_corners = False. The
 * source index is computed in double (torch's CPU kernel uses a double
 * scale; float here costs up to 6e-6), the weights are stored as float. */
static void
upm_axis_bilinear (
    UpmAxis *axis, int in_size, int out_size, int offset, guint n)
{
  double scale = (double)in_size / (double)out_size;
  guint i;

  axis->n = n;
  axis->ksize = 2;
  axis->first = g_new (int, n);
  axis->count = g_new (int, n);
  axis->wf = g_new (float, 2 * n);

  for (i = 0; i < n; i++)
    {
      int o = offset + (int)i;
      double src;
      float l1;
      int i0;

      axis->count[i] = 2;
      if (in_size == out_size)
        {
          axis->count[i] = 1;
          axis->first[i] = o;
          axis->wf[2 * i] = 1.0f;
          axis->wf[2 * i + 1] = 0.0f;
          continue;
        }
      src = scale * ((double)o + 0.5) - 0.5;
      if (src < 0.0)
        src = 0.0;
      i0 = (int)src;
      if (i0 > in_size - 1)
        i0 = in_size - 1;
      l1 = (float)CLAMP (src - (double)i0, 0.0, 1.0);
      if (i0 >= in_size - 1)
        {
          /* torch reads the same pixel twice: fold both weights on it */
          axis->count[i] = 1;
          axis->first[i] = i0;
          axis->wf[2 * i] = 1.0f;
          axis->wf[2 * i + 1] = 0.0f;
          continue;
        }
      axis->first[i] = i0;
      axis->wf[2 * i] = 1.0f - l1;
      axis->wf[2 * i + 1] = l1;
    }
}

/* Horizontal pass on the source rows [y0, y1): uint8 -> float [0,1]. */
static void
upm_bilinear_h (const UpmAxis *ax, const uint8_t *rgb, int stride, int y0,
    int y1, float *tmp)
{
  float lut[256];
  int y;
  guint i;

  for (i = 0; i < 256; i++)
    lut[i] = (float)i / 255.0f;

  for (y = y0; y < y1; y++)
    {
      const uint8_t *row = rgb + (gsize)y * (gsize)stride;
      float *dst = tmp + (gsize)(y - y0) * ax->n * 3;

      for (i = 0; i < ax->n; i++)
        {
          const uint8_t *p = row + (gsize)ax->first[i] * 3;
          float w0 = ax->wf[2 * i], w1 = ax->wf[2 * i + 1];
          int c;

          if (ax->count[i] == 1)
            {
              for (c = 0; c < 3; c++)
                dst[3 * i + c] = lut[p[c]];
              continue;
            }
          for (c = 0; c < 3; c++)
            dst[3 * i + c] = w0 * lut[p[c]] + w1 * lut[p[3 + c]];
        }
    }
}

/* Vertical pass: tmp (rows from y0) -> out (n_rows x n_cols x 3). */
static void
upm_bilinear_v (
    const UpmAxis *ay, const float *tmp, guint n_cols, int y0, float *out)
{
  gsize row_len = (gsize)n_cols * 3;
  guint j, k;

  for (j = 0; j < ay->n; j++)
    {
      const float *r0 = tmp + (gsize)(ay->first[j] - y0) * row_len;
      const float *r1 = ay->count[j] == 2 ? r0 + row_len : r0;
      float w0 = ay->wf[2 * j], w1 = ay->wf[2 * j + 1];
      float *dst = out + (gsize)j * row_len;

      if (ay->count[j] == 1)
        {
          memcpy (dst, r0, row_len * sizeof (float));
          continue;
        }
      for (k = 0; k < row_len; k++)
        dst[k] = w0 * r0[k] + w1 * r1[k];
    }
}

/* ---------------------------------------------------------- bicubic */

static double
upm_cubic (double x)
{
  const double a = -0.5;

  if (x < 0.0)
    x = -x;
  if (x < 1.0)
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0)
    return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

static int32_t
upm_to_fixed (double w)
{
  double s = w * (double)(1 << UPM_PIL_PRECISION_BITS);

  return (int32_t)(w < 0.0 ? s - 0.5 : s + 0.5);
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for outputs
 * [offset, offset + n) of a resize from @in_size to @out_size. */
static void
upm_axis_bicubic (UpmAxis *axis, int in_size, int out_size, int offset, guint n)
{
  double scale = (double)in_size / (double)out_size;
  double filterscale = MAX (scale, 1.0);
  double support = 2.0 * filterscale;
  double *k;
  guint i;

  axis->n = n;
  axis->ksize = (guint)ceil (support) * 2 + 1;
  axis->first = g_new (int, n);
  axis->count = g_new (int, n);
  axis->wi = g_new0 (int32_t, (gsize)n * axis->ksize);
  k = g_new (double, axis->ksize);

  for (i = 0; i < n; i++)
    {
      double center = ((double)(offset + (int)i) + 0.5) * scale;
      double ww = 0.0;
      int xmin = (int)(center - support + 0.5);
      int xmax = (int)(center + support + 0.5);
      int x;

      xmin = MAX (xmin, 0);
      xmax = MIN (xmax, in_size) - xmin;
      xmax = CLAMP (xmax, 0, (int)axis->ksize);
      for (x = 0; x < xmax; x++)
        {
          k[x] = upm_cubic (((double)(x + xmin) - center + 0.5) / filterscale);
          ww += k[x];
        }
      for (x = 0; x < xmax; x++)
        axis->wi[i * axis->ksize + x]
            = upm_to_fixed (ww != 0.0 ? k[x] / ww : k[x]);
      axis->first[i] = xmin;
      axis->count[i] = xmax;
    }
  g_free (k);
}

static inline uint8_t
upm_clip8 (int32_t v)
{
  if (v >= (1 << UPM_PIL_PRECISION_BITS << 8))
    return 255;
  if (v <= 0)
    return 0;
  return (uint8_t)(v >> UPM_PIL_PRECISION_BITS);
}

static void
upm_bicubic_h (const UpmAxis *ax, const uint8_t *rgb, int stride, int y0,
    int y1, uint8_t *tmp)
{
  int y;

  for (y = y0; y < y1; y++)
    {
      const uint8_t *row = rgb + (gsize)y * (gsize)stride;
      uint8_t *dst = tmp + (gsize)(y - y0) * ax->n * 3;
      guint i;

      for (i = 0; i < ax->n; i++)
        {
          const int32_t *w = ax->wi + (gsize)i * ax->ksize;
          const uint8_t *p = row + (gsize)ax->first[i] * 3;
          int32_t s0, s1, s2;
          int x;

          s0 = s1 = s2 = 1 << (UPM_PIL_PRECISION_BITS - 1);
          for (x = 0; x < ax->count[i]; x++)
            {
              s0 += p[3 * x] * w[x];
              s1 += p[3 * x + 1] * w[x];
              s2 += p[3 * x + 2] * w[x];
            }
          dst[3 * i] = upm_clip8 (s0);
          dst[3 * i + 1] = upm_clip8 (s1);
          dst[3 * i + 2] = upm_clip8 (s2);
        }
    }
}

static void
upm_bicubic_v (const UpmAxis *ay, const uint8_t *tmp, guint n_cols, int y0,
    int32_t *acc, uint8_t *out)
{
  gsize row_len = (gsize)n_cols * 3;
  guint j;

  for (j = 0; j < ay->n; j++)
    {
      const int32_t *w = ay->wi + (gsize)j * ay->ksize;
      const uint8_t *src = tmp + (gsize)(ay->first[j] - y0) * row_len;
      gsize k;
      int y;

      for (k = 0; k < row_len; k++)
        acc[k] = 1 << (UPM_PIL_PRECISION_BITS - 1);
      for (y = 0; y < ay->count[j]; y++)
        {
          const uint8_t *r = src + (gsize)y * row_len;
          int32_t wy = w[y];

          for (k = 0; k < row_len; k++)
            acc[k] += r[k] * wy;
        }
      for (k = 0; k < row_len; k++)
        out[(gsize)j * row_len + k] = upm_clip8 (acc[k]);
    }
}

/* ---------------------------------------------------------- patchify */

/* img: size x size x 3 values in [0,1] -> normalised patch rows. */
static void
upm_patchify (
    const UpmHParams *hp, UpmNormKind kind, const float *img, float *patches)
{
  const float *mean = kind == UPM_NORM_IMAGE ? hp->image_mean : hp->video_mean;
  const float *std = kind == UPM_NORM_IMAGE ? hp->image_std : hp->video_std;
  guint size = hp->image_size, p = hp->patch_size, grid = hp->grid;
  guint pp = p * p, gy, gx, c, py, px;
  float inv[3];

  for (c = 0; c < 3; c++)
    inv[c] = 1.0f / std[c];

  for (gy = 0; gy < grid; gy++)
    {
      for (gx = 0; gx < grid; gx++)
        {
          float *dst = patches + ((gsize)gy * grid + gx) * 3 * pp;

          for (c = 0; c < 3; c++)
            {
              for (py = 0; py < p; py++)
                {
                  const float *src
                      = img + (((gsize)gy * p + py) * size + gx * p) * 3;
                  float *d = dst + c * pp + py * p;

                  for (px = 0; px < p; px++)
                    d[px] = (src[3 * px + c] - mean[c]) * inv[c];
                }
            }
        }
    }
}

/* ---------------------------------------------------------- entry */

static gboolean
upm_vision_check (const UpmHParams *hp, const uint8_t *rgb, int width,
    int height, int stride, float *patches, GError **error)
{
  if (hp == NULL || rgb == NULL || patches == NULL)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "frame to patches: NULL argument");
      return FALSE;
    }
  if (hp->patch_size == 0 || hp->image_size == 0
      || hp->image_size > UPM_VISION_MAX_SIDE
      || hp->grid * hp->patch_size != hp->image_size)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "frame to patches: bad geometry (image size %u, patch %u, grid %u)",
          hp->image_size, hp->patch_size, hp->grid);
      return FALSE;
    }
  if (width <= 0 || height <= 0 || width > UPM_VISION_MAX_SIDE
      || height > UPM_VISION_MAX_SIDE)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "frame to patches: bad frame size %dx%d (1..%d)", width, height,
          UPM_VISION_MAX_SIDE);
      return FALSE;
    }
  if (stride < 3 * width)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "frame to patches: stride %d is less than 3 * width %d", stride,
          width);
      return FALSE;
    }
  return TRUE;
}

/* Source rows touched by the vertical axis. */
static void
upm_axis_range (const UpmAxis *ay, int *y0, int *y1)
{
  guint j;

  *y0 = G_MAXINT;
  *y1 = 0;
  for (j = 0; j < ay->n; j++)
    {
      *y0 = MIN (*y0, ay->first[j]);
      *y1 = MAX (*y1, ay->first[j] + MAX (ay->count[j], 1));
    }
}

static void
upm_resample_bilinear (const UpmAxis *ax, const UpmAxis *ay, const uint8_t *rgb,
    int stride, float *img)
{
  int y0, y1;
  float *tmp;

  upm_axis_range (ay, &y0, &y1);
  tmp = g_new (float, (gsize)(y1 - y0) * ax->n * 3);
  upm_bilinear_h (ax, rgb, stride, y0, y1, tmp);
  upm_bilinear_v (ay, tmp, ax->n, y0, img);
  g_free (tmp);
}

static void
upm_resample_bicubic (const UpmAxis *ax, const UpmAxis *ay, const uint8_t *rgb,
    int stride, float *img)
{
  gsize n_out = (gsize)ax->n * ay->n * 3, k;
  int y0, y1;
  uint8_t *tmp, *out;
  int32_t *acc;
  float lut[256];

  upm_axis_range (ay, &y0, &y1);
  tmp = g_new (uint8_t, (gsize)(y1 - y0) * ax->n * 3);
  out = g_new (uint8_t, n_out);
  acc = g_new (int32_t, (gsize)ax->n * 3);
  upm_bicubic_h (ax, rgb, stride, y0, y1, tmp);
  upm_bicubic_v (ay, tmp, ax->n, y0, acc, out);
  for (k = 0; k < 256; k++)
    lut[k] = (float)k / 255.0f;
  for (k = 0; k < n_out; k++)
    img[k] = lut[out[k]];
  g_free (acc);
  g_free (out);
  g_free (tmp);
}

/* ---------------------------------------------------------- crops */

const char *
upm_crops_name (UpmCrops crops)
{
  switch (crops)
    {
    case UPM_CROPS_CENTRE:
      return "centre";
    case UPM_CROPS_THREE:
      return "three";
    case UPM_CROPS_CENTRE_SHORT_SIDE:
      return "centre-short-side";
    default:
      return NULL;
    }
}

uint32_t
upm_crops_count (UpmCrops crops)
{
  return crops == UPM_CROPS_THREE ? 3 : 1;
}

/* The official three-crop test (video_transform.py uniform_crop): the
 * centre offset rounded up, the others at either end of the longer side. */
static int
upm_three_crop_offset (int len, int size, uint32_t index)
{
  if (index == 0)
    return 0;
  if (index == 2)
    return len - size;
  return (len - size + 1) / 2;
}

/* random_short_side_scale_jitter's long side: floor(long / short * size),
 * the quotient first (it can differ from int(size * long / short) by one
 * where the exact value is an integer); a frame whose shorter side is
 * already @size is returned as it is (floor(230 / 224 * 224) is 229). */
static void
upm_resized_size_slowfast (int width, int height, int size, int *w, int *h)
{
  *w = *h = size;
  if (MIN (width, height) == size)
    {
      *w = width;
      *h = height;
    }
  else if (width < height)
    *h = (int)floor ((double)height / (double)width * (double)size);
  else
    *w = (int)floor ((double)width / (double)height * (double)size);
}

gboolean
upm_vision_crop_box (int width, int height, uint32_t resize, uint32_t size,
    UpmCrops crops, uint32_t index, UpmCropBox *box, GError **error)
{
  int rw, rh;

  if (resize == 0)
    resize = size;
  if (width <= 0 || height <= 0 || width > UPM_VISION_MAX_SIDE
      || height > UPM_VISION_MAX_SIDE || size == 0 || resize < size
      || resize > UPM_VISION_MAX_SIDE || crops >= UPM_N_CROPS_MODES
      || index >= upm_crops_count (crops) || box == NULL)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "crop box: bad arguments (frame %dx%d, resize %u, crop %u, "
          "crop index %u of %s)",
          width, height, resize, size, index,
          upm_crops_name (crops) ? upm_crops_name (crops) : "?");
      return FALSE;
    }

  if (crops == UPM_CROPS_CENTRE)
    upm_resized_size (width, height, (int)resize, &rw, &rh);
  else
    upm_resized_size_slowfast (width, height, (int)resize, &rw, &rh);

  box->width = width;
  box->height = height;
  box->resized_w = rw;
  box->resized_h = rh;
  box->size = (int)size;
  if (crops == UPM_CROPS_THREE && rh > rw)
    {
      box->x = (rw - (int)size + 1) / 2;
      box->y = upm_three_crop_offset (rh, (int)size, index);
    }
  else if (crops == UPM_CROPS_THREE)
    {
      box->x = upm_three_crop_offset (rw, (int)size, index);
      box->y = (rh - (int)size + 1) / 2;
    }
  else
    {
      box->x = upm_crop_offset (rw, (int)size);
      box->y = upm_crop_offset (rh, (int)size);
    }
  box->src_x = box->x * (double)width / rw;
  box->src_y = box->y * (double)height / rh;
  box->src_w = size * (double)width / rw;
  box->src_h = size * (double)height / rh;
  return TRUE;
}

static gboolean
upm_crop_box_fits (const UpmHParams *hp, const UpmCropBox *box, int width,
    int height, GError **error)
{
  if (box == NULL || box->width != width || box->height != height
      || box->size != (int)hp->image_size || box->x < 0 || box->y < 0
      || box->x + box->size > box->resized_w
      || box->y + box->size > box->resized_h
      || box->resized_w > UPM_VISION_MAX_SIDE
      || box->resized_h > UPM_VISION_MAX_SIDE)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "frame to patches: the crop box does not fit a %dx%d frame and "
          "%u px crops",
          width, height, hp->image_size);
      return FALSE;
    }
  return TRUE;
}

gboolean
upm_vision_frame_to_patches_box (const UpmHParams *hp, UpmNormKind kind,
    const UpmCropBox *box, const uint8_t *rgb, int width, int height,
    int stride, float *patches, GError **error)
{
  UpmAxis ax = { 0 }, ay = { 0 };
  int size;
  float *img;

  if (!upm_vision_check (hp, rgb, width, height, stride, patches, error)
      || !upm_crop_box_fits (hp, box, width, height, error))
    return FALSE;

  size = (int)hp->image_size;
  img = g_new (float, (gsize)size *size * 3);
  if (kind == UPM_NORM_IMAGE)
    {
      upm_axis_bicubic (&ax, width, box->resized_w, box->x, size);
      upm_axis_bicubic (&ay, height, box->resized_h, box->y, size);
      upm_resample_bicubic (&ax, &ay, rgb, stride, img);
    }
  else
    {
      upm_axis_bilinear (&ax, width, box->resized_w, box->x, size);
      upm_axis_bilinear (&ay, height, box->resized_h, box->y, size);
      upm_resample_bilinear (&ax, &ay, rgb, stride, img);
    }
  upm_patchify (hp, kind, img, patches);

  upm_axis_clear (&ax);
  upm_axis_clear (&ay);
  g_free (img);
  return TRUE;
}

gboolean
upm_vision_frame_to_patches (const UpmHParams *hp, UpmNormKind kind,
    const uint8_t *rgb, int width, int height, int stride, float *patches,
    GError **error)
{
  UpmCropBox box;

  if (!upm_vision_check (hp, rgb, width, height, stride, patches, error)
      || !upm_vision_crop_box (width, height, hp->image_size, hp->image_size,
          UPM_CROPS_CENTRE, 0, &box, error))
    return FALSE;
  return upm_vision_frame_to_patches_box (
      hp, kind, &box, rgb, width, height, stride, patches, error);
}

/* ---------------------------------------------------------- sampling */

void
upm_vision_sample_indices (uint32_t n_total, double fps, uint32_t n_frames,
    uint32_t stride, uint32_t start, uint32_t *indices)
{
  uint32_t i;

  if (indices == NULL)
    return;
  if (!(fps > 0.0) || !isfinite (fps))
    fps = 30.0;

  for (i = 0; i < n_frames; i++)
    {
      double off;

      if (n_total == 0)
        {
          indices[i] = 0;
          continue;
        }
      off = floor ((double)i * (double)stride * fps / 30.0);
      off = fmod (off, (double)n_total);
      indices[i] = (uint32_t)(((uint64_t)start + (uint64_t)off) % n_total);
    }
}

/* The last frame at or before @t; -1 when @t precedes the first frame. */
static int64_t
upm_frame_at (const double *pts, uint32_t n_frames, double t)
{
  uint32_t lo = 0, hi = n_frames;

  /* first frame after t + slack */
  while (lo < hi)
    {
      uint32_t mid = lo + (hi - lo) / 2;
      if (pts[mid] <= t + UPM_SAMPLE_SLACK_S)
        lo = mid + 1;
      else
        hi = mid;
    }
  return (int64_t)lo - 1;
}

uint32_t
upm_sample_by_time (const double *pts, uint32_t n_frames, double end,
    const double *targets, uint32_t n_targets, uint32_t *indices)
{
  double span;
  uint32_t i;

  if (pts == NULL || n_frames == 0 || targets == NULL || indices == NULL)
    return 0;
  span = end - pts[0];
  for (i = 0; i < n_targets; i++)
    {
      double t = pts[0] + targets[i];
      int64_t k;

      if (end < 0.0 && t > pts[n_frames - 1] + UPM_SAMPLE_SLACK_S)
        return i; /* not decoded yet */
      if (end >= 0.0 && span > 0.0 && t >= end - UPM_SAMPLE_SLACK_S)
        t = pts[0] + fmod (targets[i] + UPM_SAMPLE_SLACK_S, span)
            - UPM_SAMPLE_SLACK_S;
      k = upm_frame_at (pts, n_frames, t);
      indices[i] = (uint32_t)MAX (k, 0);
    }
  return n_targets;
}
