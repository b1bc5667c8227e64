/* gstupmrgbconverter.h: video frames of any of the tokenizer's formats ->
 * packed RGB at the same size (libswscale).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_RGB_CONVERTER_H__
#define __GST_UPM_RGB_CONVERTER_H__

#include <gst/gst.h>
#include <gst/video/video.h>
#include <libavutil/pixfmt.h>

G_BEGIN_DECLS

struct SwsContext;

/* Embedded in its element, which serialises the calls (stream lock); the
 * fields are private to gstupmrgbconverter.c. */
typedef struct
{
  GstElement *element; /* the owner, for logs */
  struct SwsContext *sws;
  gint sws_width, sws_height;
  enum AVPixelFormat sws_format;
  GstVideoColorMatrix sws_matrix;
  GstVideoColorRange sws_range;
  guint8 *rgb;
  gint rgb_stride;
  gsize rgb_size;
  guint8 *stage; /* padded copy of the input planes */
  gsize stage_size;
} GstUpmRgbConverter;

void gst_upm_rgb_converter_init (GstUpmRgbConverter *conv, GstElement *element);

/* Frees the converter and its buffers. */
void gst_upm_rgb_converter_clear (GstUpmRgbConverter *conv);

/* @frame (mapped) as packed RGB: *@rgb and *@stride point into @frame when it
 * is RGB already, else into the converter's buffer, valid until the next
 * call. */
gboolean gst_upm_rgb_converter_convert (GstUpmRgbConverter *conv,
    GstVideoFrame *frame, const guint8 **rgb, gint *stride, GError **error);

G_END_DECLS
#endif /* __GST_UPM_RGB_CONVERTER_H__ */
