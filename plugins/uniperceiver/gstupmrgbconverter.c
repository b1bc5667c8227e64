/* gstupmrgbconverter.c: video frames of any of the tokenizer's formats ->
 * packed RGB at the same size (libswscale).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmrgbconverter.h"

#include <string.h>
#include <libavutil/mem.h>
#include <libswscale/swscale.h>

/* the conversion is the tokenizer's: its log category */
GST_DEBUG_CATEGORY_EXTERN (gst_upm_tokenizer_debug);
#define GST_CAT_DEFAULT gst_upm_tokenizer_debug

void
gst_upm_rgb_converter_init (GstUpmRgbConverter *conv, GstElement *element)
{
  conv->element = element;
  conv->sws_format = AV_PIX_FMT_NONE;
}

void
gst_upm_rgb_converter_clear (GstUpmRgbConverter *conv)
{
  if (conv->sws)
    sws_freeContext (conv->sws);
  conv->sws = NULL;
  conv->sws_format = AV_PIX_FMT_NONE;
  av_freep (&conv->rgb);
  conv->rgb_size = 0;
  av_freep (&conv->stage);
  conv->stage_size = 0;
}

static enum AVPixelFormat
gst_upm_rgb_converter_av_format (GstVideoFormat format)
{
  switch (format)
    {
    case GST_VIDEO_FORMAT_RGB:
      return AV_PIX_FMT_RGB24;
    case GST_VIDEO_FORMAT_BGR:
      return AV_PIX_FMT_BGR24;
    case GST_VIDEO_FORMAT_RGBA:
      return AV_PIX_FMT_RGBA;
    case GST_VIDEO_FORMAT_BGRA:
      return AV_PIX_FMT_BGRA;
    case GST_VIDEO_FORMAT_RGBx:
      return AV_PIX_FMT_RGB0;
    case GST_VIDEO_FORMAT_BGRx:
      return AV_PIX_FMT_BGR0;
    case GST_VIDEO_FORMAT_xRGB:
      return AV_PIX_FMT_0RGB;
    case GST_VIDEO_FORMAT_ARGB:
      return AV_PIX_FMT_ARGB;
    case GST_VIDEO_FORMAT_I420:
    case GST_VIDEO_FORMAT_YV12: /* planes passed as U, V */
      return AV_PIX_FMT_YUV420P;
    case GST_VIDEO_FORMAT_NV12:
      return AV_PIX_FMT_NV12;
    case GST_VIDEO_FORMAT_NV21:
      return AV_PIX_FMT_NV21;
    case GST_VIDEO_FORMAT_Y42B:
      return AV_PIX_FMT_YUV422P;
    case GST_VIDEO_FORMAT_Y444:
      return AV_PIX_FMT_YUV444P;
    case GST_VIDEO_FORMAT_GRAY8:
      return AV_PIX_FMT_GRAY8;
    case GST_VIDEO_FORMAT_YUY2:
      return AV_PIX_FMT_YUYV422;
    case GST_VIDEO_FORMAT_UYVY:
      return AV_PIX_FMT_UYVY422;
    default:
      return AV_PIX_FMT_NONE;
    }
}

static int
gst_upm_rgb_converter_sws_colorspace (GstVideoColorMatrix matrix)
{
  switch (matrix)
    {
    case GST_VIDEO_COLOR_MATRIX_BT709:
      return SWS_CS_ITU709;
    case GST_VIDEO_COLOR_MATRIX_FCC:
      return SWS_CS_FCC;
    case GST_VIDEO_COLOR_MATRIX_SMPTE240M:
      return SWS_CS_SMPTE240M;
    case GST_VIDEO_COLOR_MATRIX_BT2020:
      return SWS_CS_BT2020;
    default:
      return SWS_CS_ITU601;
    }
}

/* A converter from the frame's format to packed RGB at the same size, with
 * the YUV matrix and range of the caps. */
static gboolean
gst_upm_rgb_converter_ensure_sws (GstUpmRgbConverter *conv,
    const GstVideoInfo *info, gint width, gint height, GError **error)
{
  enum AVPixelFormat format
      = gst_upm_rgb_converter_av_format (GST_VIDEO_INFO_FORMAT (info));
  GstVideoColorMatrix matrix = info->colorimetry.matrix;
  GstVideoColorRange range = info->colorimetry.range;
  gsize size;

  if (conv->sws && conv->sws_width == width && conv->sws_height == height
      && conv->sws_format == format && conv->sws_matrix == matrix
      && conv->sws_range == range)
    return TRUE;

  if (conv->sws)
    sws_freeContext (conv->sws);
  conv->sws = sws_getContext (width, height, format, width, height,
      AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
  if (!conv->sws)
    {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
          "libswscale cannot convert %dx%d %s to RGB", width, height,
          GST_VIDEO_INFO_NAME (info));
      return FALSE;
    }
  if (GST_VIDEO_INFO_IS_YUV (info))
    {
      int *inv_table, *table, src_range, dst_range, brightness, contrast,
          saturation;

      if (sws_getColorspaceDetails (conv->sws, &inv_table, &src_range, &table,
              &dst_range, &brightness, &contrast, &saturation)
          >= 0)
        sws_setColorspaceDetails (conv->sws,
            sws_getCoefficients (gst_upm_rgb_converter_sws_colorspace (matrix)),
            range == GST_VIDEO_COLOR_RANGE_0_255, table, dst_range, brightness,
            contrast, saturation);
    }
  conv->sws_width = width;
  conv->sws_height = height;
  conv->sws_format = format;
  conv->sws_matrix = matrix;
  conv->sws_range = range;

  conv->rgb_stride = GST_ROUND_UP_32 (width * 3);
  size = (gsize)conv->rgb_stride * height;
  if (size > conv->rgb_size)
    {
      av_freep (&conv->rgb);
      conv->rgb = av_malloc (size + 64);
      conv->rgb_size = conv->rgb ? size : 0;
      if (!conv->rgb)
        {
          g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
              "could not allocate a %dx%d RGB frame", width, height);
          return FALSE;
        }
    }
  GST_DEBUG_OBJECT (conv->element,
      "converting %dx%d %s to RGB (matrix %d, range %d)", width, height,
      GST_VIDEO_INFO_NAME (info), matrix, range);
  return TRUE;
}

/* libswscale's SIMD reads a little past the end of rows and planes, which
 * GStreamer buffers need not allow: convert from a copy of the planes, each
 * followed by zeroed padding. Planar YUV is passed by component, so that
 * YV12 reads as I420. */
#define STAGE_PADDING 64

static gboolean
gst_upm_rgb_converter_stage_planes (GstUpmRgbConverter *conv,
    GstVideoFrame *frame, const guint8 *src[4], int src_stride[4],
    GError **error)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  const guint n_planes = GST_VIDEO_FRAME_N_PLANES (frame);
  gsize used[GST_VIDEO_MAX_PLANES], size[GST_VIDEO_MAX_PLANES], total = 0;
  guint8 *plane[GST_VIDEO_MAX_PLANES];
  guint p, i;

  for (p = 0; p < n_planes; p++)
    {
      gint comp[GST_VIDEO_MAX_COMPONENTS];

      gst_video_format_info_component (finfo, p, comp);
      used[p] = (gsize)GST_VIDEO_FRAME_PLANE_STRIDE (frame, p)
                * GST_VIDEO_FRAME_COMP_HEIGHT (frame, comp[0]);
      size[p] = GST_ROUND_UP_64 (used[p]) + STAGE_PADDING;
      total += size[p];
    }
  if (total > conv->stage_size)
    {
      av_freep (&conv->stage);
      conv->stage = av_malloc (total);
      conv->stage_size = conv->stage ? total : 0;
      if (!conv->stage)
        {
          g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
              "could not allocate %" G_GSIZE_FORMAT " bytes", total);
          return FALSE;
        }
    }
  plane[0] = conv->stage;
  for (p = 0; p < n_planes; p++)
    {
      if (p > 0)
        plane[p] = plane[p - 1] + size[p - 1];
      memcpy (plane[p], GST_VIDEO_FRAME_PLANE_DATA (frame, p), used[p]);
      memset (plane[p] + used[p], 0, size[p] - used[p]);
    }

  if (n_planes == 3)
    {
      for (i = 0; i < 3; i++)
        {
          p = GST_VIDEO_FORMAT_INFO_PLANE (finfo, i);
          src[i] = plane[p] + GST_VIDEO_FORMAT_INFO_POFFSET (finfo, i);
          src_stride[i] = GST_VIDEO_FRAME_PLANE_STRIDE (frame, p);
        }
    }
  else
    {
      for (p = 0; p < n_planes; p++)
        {
          src[p] = plane[p];
          src_stride[p] = GST_VIDEO_FRAME_PLANE_STRIDE (frame, p);
        }
    }
  return TRUE;
}

gboolean
gst_upm_rgb_converter_convert (GstUpmRgbConverter *conv, GstVideoFrame *frame,
    const guint8 **rgb, gint *stride, GError **error)
{
  gint width = GST_VIDEO_FRAME_WIDTH (frame);
  gint height = GST_VIDEO_FRAME_HEIGHT (frame);
  const guint8 *src[4] = {
    NULL,
  };
  int src_stride[4] = {
    0,
  };
  guint8 *dst[4] = {
    NULL,
  };
  int dst_stride[4] = {
    0,
  };

  if (GST_VIDEO_FRAME_FORMAT (frame) == GST_VIDEO_FORMAT_RGB)
    {
      *rgb = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
      *stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
      return TRUE;
    }
  if (!gst_upm_rgb_converter_ensure_sws (
          conv, &frame->info, width, height, error)
      || !gst_upm_rgb_converter_stage_planes (
          conv, frame, src, src_stride, error))
    return FALSE;
  dst[0] = conv->rgb;
  dst_stride[0] = conv->rgb_stride;
  sws_scale (conv->sws, src, src_stride, 0, height, dst, dst_stride);
  *rgb = conv->rgb;
  *stride = conv->rgb_stride;
  return TRUE;
}
