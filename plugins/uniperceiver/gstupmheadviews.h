/* gstupmheadviews.h: upmhead's collection of the views of one clip (a task
 * preset's temporal views x crops, consecutive buffers from upmtokenizer,
 * each with a GstUpmViewMeta) into one queued clip.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_HEAD_VIEWS_H__
#define __GST_UPM_HEAD_VIEWS_H__

#include "gstupmcommon.h"

G_BEGIN_DECLS

/* The views of the clip being collected; used by the streaming thread. */
typedef struct
{
  GstBuffer *clip; /* the first view's buffer, the others' rows appended */
  guint64 clip_id;
  guint n_views, n_have;
} GstUpmHeadViews;

/* Drops a clip being collected (flush, stop). */
void gst_upm_head_views_reset (GstUpmHeadViews *views);

/* The end of a stream: a clip still collecting is dropped with a warning
 * posted on @element (its other views never came). */
void gst_upm_head_views_finish (GstUpmHeadViews *views, GstElement *element);

/* Takes @buf. A buffer without views (or a clip of one view) is *@clip at
 * once; the views of a clip are collected until the last one, when *@clip
 * holds all their rows, one after the other, in view order of arrival,
 * and a GstUpmViewMeta per view (the first view's other metas). NULL
 * while collecting. A clip whose views stop before the last one (another
 * clip begins) is dropped with a warning posted on @element. */
void gst_upm_head_views_add (GstUpmHeadViews *views, GstElement *element,
    GstBuffer *buf, GstBuffer **clip);

G_END_DECLS
#endif /* __GST_UPM_HEAD_VIEWS_H__ */
