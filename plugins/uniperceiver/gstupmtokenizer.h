/* gstupmtokenizer.h: video frames -> clips of patch rows, text -> BPE ids.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_TOKENIZER_H__
#define __GST_UPM_TOKENIZER_H__

#include <gst/gst.h>
#include <gst/video/video.h>

#include "gstupmclipper.h"
#include "gstupmcommon.h"

G_BEGIN_DECLS

typedef enum
{
  GST_UPM_TOKENIZER_NORM_AUTO,
  GST_UPM_TOKENIZER_NORM_VIDEO,
  GST_UPM_TOKENIZER_NORM_IMAGE,
} GstUpmTokenizerNorm;

#define GST_TYPE_UPM_TOKENIZER_NORM (gst_upm_tokenizer_norm_get_type ())
GType gst_upm_tokenizer_norm_get_type (void);

#define GST_TYPE_UPM_TOKENIZER (gst_upm_tokenizer_get_type ())
G_DECLARE_FINAL_TYPE (
    GstUpmTokenizer, gst_upm_tokenizer, GST, UPM_TOKENIZER, GstElement);

G_END_DECLS
#endif /* __GST_UPM_TOKENIZER_H__ */
