/* gstupmhead.h: hidden state of <SPE> -> classification, retrieval or
 * caption text.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_HEAD_H__
#define __GST_UPM_HEAD_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_UPM_HEAD (gst_upm_head_get_type ())
G_DECLARE_FINAL_TYPE (GstUpmHead, gst_upm_head, GST, UPM_HEAD, GstElement)

/* What the text buffers hold. */
typedef enum
{
  GST_UPM_HEAD_TEXT_FORMAT_LABEL,       /* "moving left" / the caption */
  GST_UPM_HEAD_TEXT_FORMAT_LABEL_SCORE, /* "moving left (0.93)" / the caption */
  GST_UPM_HEAD_TEXT_FORMAT_JSON,        /* gst_upm_buffer_metas_to_json() */
} GstUpmHeadTextFormat;

#define GST_TYPE_UPM_HEAD_TEXT_FORMAT (gst_upm_head_text_format_get_type ())
GType gst_upm_head_text_format_get_type (void);

G_END_DECLS
#endif /* __GST_UPM_HEAD_H__ */
