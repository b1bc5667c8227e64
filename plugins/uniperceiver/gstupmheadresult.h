/* gstupmheadresult.h: what upmhead makes of a result: the text buffer (or
 * its JSON), the routing meta carried over, the "upm-result" message.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_HEAD_RESULT_H__
#define __GST_UPM_HEAD_RESULT_H__

#include "gstupmcommon.h"
#include "gstupmhead.h"

G_BEGIN_DECLS

/* @ts in @segment; GST_CLOCK_TIME_NONE outside a time segment. */
GstClockTime gst_upm_head_running_time (
    const GstSegment *segment, GstClockTime ts);
GstClockTime gst_upm_head_stream_time (
    const GstSegment *segment, GstClockTime ts);

/* A buffer holding @text (NULL: empty) with the timestamps of @in. */
GstBuffer *gst_upm_head_text_buffer (const gchar *text, GstBuffer *in);

/* The text of the best score: "label" or "label (0.93)". */
gchar *gst_upm_head_score_text (
    const GstUpmScore *best, GstUpmHeadTextFormat format);

/* Replaces the payload of @out by the JSON of its metas; returns @out. */
GstBuffer *gst_upm_head_to_json (GstBuffer *out);

/* The routing meta of @in on @out, plus @extra routes (may be NULL). */
void gst_upm_head_copy_routing (
    GstBuffer *out, GstBuffer *in, const UpmRouting *extra);

/* The structures of the "upm-result" element messages. */
GstStructure *gst_upm_head_scores_message (const GstSegment *segment,
    const gchar *task, GstBuffer *in, const GstUpmScore *scores, guint k);
GstStructure *gst_upm_head_caption_message (
    const GstSegment *segment, GstBuffer *in, const UpmCaption *caption);

G_END_DECLS
#endif /* __GST_UPM_HEAD_RESULT_H__ */
