/* gstupmtimesampler.h: decoded video frames -> the views of a task preset's
 * clips, sampled by timestamp (upmtokenizer preset=... with a stride).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A window starts at a frame and spans frames x views sampled frames
 * stride / 30 s apart (upm_preset_view_times): sample j is taken at
 * t_j = j * stride / 30 s after the window's first frame, the last frame
 * at or before it (upm_sample_by_time on the buffers' PTS), so that
 * variable-rate and frame-dropping sources give clips of the intended
 * span. Sample j belongs to temporal view j mod views (interleaved, as
 * the official multi-view test). Once the frame after the last target has
 * arrived the window is complete and leaves as views x crops clip buffers,
 * each a normal clip of patch rows carrying a GstUpmViewMeta. The next
 * window starts hop / 30 s after the previous one's start (hop 0: the
 * window's span), at the first frame at or after that time.
 *
 * The sampler holds the decoded frames (references; copies of the buffers
 * of a pool with a maximum, so that a decoder's pool is not drained) of the
 * windows in progress. Until the stream's first window is complete, all of
 * them (the window's span of frames), unless the stream is known to be
 * longer (gst_upm_time_sampler_set_no_wrap): a stream shorter than the
 * window makes it wrap around (frames are sampled again, as the official
 * sampler takes indices modulo the frame count), so any frame may be
 * needed. After it, only the frames a window samples (frames x views per
 * window); a later window that ends early repeats its last frame.
 * Embedded in its element, which serialises the calls (stream lock).
 */
#ifndef __GST_UPM_TIME_SAMPLER_H__
#define __GST_UPM_TIME_SAMPLER_H__

#include <gst/gst.h>
#include <gst/video/video.h>

#include "gstupmrgbconverter.h"
#include "upm.h"

G_BEGIN_DECLS

/* What the clips are: from the preset and the overriding properties. */
typedef struct
{
  const gchar *preset_name; /* static, for messages */
  guint frames;             /* per view */
  guint views;              /* temporal views */
  UpmCrops crops;           /* crops of each frame */
  guint stride;             /* 30-fps frames between samples */
  guint hop;    /* 30-fps frames between window starts; 0: the span */
  guint resize; /* shorter side before cropping, px */
  UpmNormKind norm;
} GstUpmTimeLayout;

typedef struct _GstUpmTimeSampler GstUpmTimeSampler;

/* @converter belongs to the element and is shared with it. */
GstUpmTimeSampler *gst_upm_time_sampler_new (GstElement *element,
    const UpmHParams *hp, const GstUpmTimeLayout *layout,
    GstUpmRgbConverter *converter);
void gst_upm_time_sampler_free (GstUpmTimeSampler *s);

gboolean gst_upm_time_sampler_has_layout (
    const GstUpmTimeSampler *s, const GstUpmTimeLayout *layout);

/* Views of a clip: views x crops. */
guint gst_upm_time_sampler_n_views (const GstUpmTimeSampler *s);

/* The window's span in time: frames x views x stride / 30 s. */
GstClockTime gst_upm_time_sampler_span (const GstUpmTimeSampler *s);

/* The frame rate (0/1: unknown) timing frames without a PTS. */
void gst_upm_time_sampler_set_rate (
    GstUpmTimeSampler *s, gint fps_n, gint fps_d);

/* Forgets the frames and windows (flush, new segment); the next frame
 * starts a window and is frame 0 of a new count. */
void gst_upm_time_sampler_reset (GstUpmTimeSampler *s);

/* Adds a decoded frame of format @info (its buffer is referenced). The
 * view buffers of the windows it completes are appended to @out, oldest
 * first. FALSE with an element error posted. */
gboolean gst_upm_time_sampler_add_frame (GstUpmTimeSampler *s, GstBuffer *frame,
    const GstVideoInfo *info, GPtrArray *out);

/* TRUE before the first frame (of the stream, or after a reset). */
gboolean gst_upm_time_sampler_is_fresh (const GstUpmTimeSampler *s);

/* The stream is known to outlast its first window (a duration beyond the
 * span, a live source): its first window cannot wrap around, so that its
 * frames no sample takes are released from the start too (else they are
 * held until the first window is complete). Until the next reset. */
void gst_upm_time_sampler_set_no_wrap (GstUpmTimeSampler *s);

/* The frame of a stream that so far is one frame (a still image sent as
 * video), nothing sampled yet; NULL otherwise. *@index: its stream index.
 * The buffer stays the sampler's. */
GstBuffer *gst_upm_time_sampler_single_frame (
    GstUpmTimeSampler *s, guint64 *index);

/* The end of the stream (EOS, new segment): the windows in progress are
 * completed, their views appended to @out; then reset. The first window of
 * the stream always, wrapping around the frames it has, with a warning that
 * the video is shorter than the preset; later ones when @pad and they hold
 * at least half of the span, their last frame repeated. FALSE with an
 * error posted. */
gboolean gst_upm_time_sampler_drain (
    GstUpmTimeSampler *s, gboolean pad, GPtrArray *out);

G_END_DECLS
#endif /* __GST_UPM_TIME_SAMPLER_H__ */
