/* upm-video.h: frame sources for upm-run (FFmpeg decoding, raw RGB24).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_VIDEO_H
#define UPM_VIDEO_H

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct _UpmVideo UpmVideo;

/* One decoded frame, packed RGB24. The pixels are owned by the reader and
 * valid until the next upm_video_read(). */
typedef struct
{
  const uint8_t *rgb;
  int width, height, stride;
  double pts;    /* seconds from the start of the stream */
  int64_t index; /* 0, 1, 2, ... in decoding order */
} UpmFrame;

/* Open a video or image file with FFmpeg (first video stream). */
UpmVideo *upm_video_open (const char *path, GError **error);
/* A file of concatenated RGB24 frames of @width x @height at @fps. */
UpmVideo *upm_video_open_raw (
    const char *path, int width, int height, double fps, GError **error);
void upm_video_close (UpmVideo *video);

/* 1 with a frame, 0 at the end of the stream, -1 with @error set. Corrupt
 * packets are skipped with a warning on stderr. */
int upm_video_read (UpmVideo *video, UpmFrame *frame, GError **error);

double upm_video_fps (const UpmVideo *video);
/* Seconds, or a negative number when unknown. */
double upm_video_duration (const UpmVideo *video);
/* Estimated number of frames, or -1 when unknown. */
int64_t upm_video_n_frames (const UpmVideo *video);
/* TRUE for still images (image2 / *_pipe demuxers, raw files never). */
gboolean upm_video_is_image (const UpmVideo *video);
/* Warnings (skipped corrupt data) seen so far. */
guint upm_video_n_warnings (const UpmVideo *video);

/* "WxH" -> sizes in 1..32768. */
gboolean upm_video_parse_size (
    const char *text, int *width, int *height, GError **error);

G_END_DECLS
#endif /* UPM_VIDEO_H */
