/* upm-video.c: frame sources for upm-run.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * FFmpeg (libavformat + libavcodec) decodes the first video stream, and
 * libswscale converts every frame to packed RGB24. Raw files hold
 * concatenated RGB24 frames of a size given by the caller.
 */

#include "upm-video.h"

#include "upm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#define UPM_VIDEO_MAX_SIDE (1 << 15)
#define UPM_VIDEO_MAX_WARNINGS 5

struct _UpmVideo
{
  char *path;
  /* FFmpeg source */
  AVFormatContext *fmt;
  AVCodecContext *dec;
  AVPacket *pkt;
  AVFrame *frame;
  struct SwsContext *sws;
  int stream;
  double time_base;
  double start_time;
  gboolean draining, eof, is_image;
  /* raw source */
  FILE *raw;
  /* common */
  double fps, duration;
  int64_t n_frames, n_read;
  uint8_t *rgb;
  int width, height, stride;
  guint n_warnings;
};

static void
upm_video_warn (UpmVideo *v, const char *what, int err)
{
  char buf[AV_ERROR_MAX_STRING_SIZE] = "";

  v->n_warnings++;
  if (v->n_warnings > UPM_VIDEO_MAX_WARNINGS)
    return;
  if (err < 0)
    av_strerror (err, buf, sizeof (buf));
  g_printerr ("upm-run: warning: %s: %s%s%s (skipped)%s\n", v->path, what,
      err < 0 ? ": " : "", buf,
      v->n_warnings == UPM_VIDEO_MAX_WARNINGS
          ? "; further warnings are not shown"
          : "");
}

static void
upm_av_error (
    GError **error, int code, const char *path, const char *what, int err)
{
  char buf[AV_ERROR_MAX_STRING_SIZE] = "";

  av_strerror (err, buf, sizeof (buf));
  g_set_error (error, UPM_ERROR, code, "%s: %s: %s", path, what, buf);
}

/* ------------------------------------------------------------- FFmpeg */

static gboolean
upm_video_open_decoder (UpmVideo *v, GError **error)
{
  AVStream *st = v->fmt->streams[v->stream];
  const AVCodec *codec = avcodec_find_decoder (st->codecpar->codec_id);
  int err;

  if (codec == NULL)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: no decoder for codec '%s'", v->path,
          avcodec_get_name (st->codecpar->codec_id));
      return FALSE;
    }
  v->dec = avcodec_alloc_context3 (codec);
  if (v->dec == NULL
      || (err = avcodec_parameters_to_context (v->dec, st->codecpar)) < 0
      || (err = avcodec_open2 (v->dec, codec, NULL)) < 0)
    {
      upm_av_error (error, UPM_ERROR_FORMAT, v->path, "cannot open decoder",
          v->dec ? err : AVERROR (ENOMEM));
      return FALSE;
    }
  return TRUE;
}

static void
upm_video_probe_timing (UpmVideo *v)
{
  AVStream *st = v->fmt->streams[v->stream];
  AVRational r
      = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  const char *name = v->fmt->iformat->name;

  v->time_base = av_q2d (st->time_base);
  v->fps = (r.num > 0 && r.den > 0) ? av_q2d (r) : 30.0;
  if (!(v->fps > 0.0 && v->fps < 1000.0))
    v->fps = 30.0;
  v->start_time
      = st->start_time != AV_NOPTS_VALUE ? st->start_time * v->time_base : 0.0;
  v->duration = -1.0;
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
    v->duration = st->duration * v->time_base;
  else if (v->fmt->duration != AV_NOPTS_VALUE && v->fmt->duration > 0)
    v->duration = v->fmt->duration / (double)AV_TIME_BASE;
  v->n_frames = st->nb_frames > 0 ? st->nb_frames : -1;
  if (v->n_frames < 0 && v->duration > 0.0)
    v->n_frames = (int64_t)ceil (v->duration * v->fps);
  v->is_image
      = g_str_equal (name, "image2") || g_str_has_suffix (name, "_pipe");
  if (v->is_image && v->n_frames < 0)
    v->n_frames = 1;
}

UpmVideo *
upm_video_open (const char *path, GError **error)
{
  UpmVideo *v;
  int err;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (
          error, UPM_ERROR, UPM_ERROR_IO, "%s: %s", path, g_strerror (ENOENT));
      return NULL;
    }
  v = g_new0 (UpmVideo, 1);
  v->path = g_strdup (path);
  if ((err = avformat_open_input (&v->fmt, path, NULL, NULL)) < 0)
    {
      upm_av_error (error, UPM_ERROR_IO, path, "cannot open", err);
      goto fail;
    }
  if ((err = avformat_find_stream_info (v->fmt, NULL)) < 0)
    {
      upm_av_error (
          error, UPM_ERROR_FORMAT, path, "cannot read stream info", err);
      goto fail;
    }
  v->stream = av_find_best_stream (v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
  if (v->stream < 0)
    {
      g_set_error (
          error, UPM_ERROR, UPM_ERROR_FORMAT, "%s: no video stream", path);
      goto fail;
    }
  if (!upm_video_open_decoder (v, error))
    goto fail;
  upm_video_probe_timing (v);
  v->pkt = av_packet_alloc ();
  v->frame = av_frame_alloc ();
  if (v->pkt == NULL || v->frame == NULL)
    {
      g_set_error (
          error, UPM_ERROR, UPM_ERROR_NOMEM, "%s: out of memory", path);
      goto fail;
    }
  return v;

fail:
  upm_video_close (v);
  return NULL;
}

/* (Re)allocate the RGB buffer for a frame size. */
static gboolean
upm_video_ensure_rgb (UpmVideo *v, int width, int height, GError **error)
{
  if (width <= 0 || height <= 0 || width > UPM_VIDEO_MAX_SIDE
      || height > UPM_VIDEO_MAX_SIDE)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: unsupported frame size %dx%d", v->path, width, height);
      return FALSE;
    }
  if (v->rgb != NULL && v->width == width && v->height == height)
    return TRUE;
  g_free (v->rgb);
  v->width = width;
  v->height = height;
  v->stride = 3 * width;
  v->rgb = g_malloc ((gsize)v->stride * height);
  return TRUE;
}

static int
upm_video_convert (UpmVideo *v, UpmFrame *out, GError **error)
{
  AVFrame *f = v->frame;
  uint8_t *dst[4] = { NULL };
  int dst_stride[4] = { 0 };
  int64_t ts;

  if (!upm_video_ensure_rgb (v, f->width, f->height, error))
    return -1;
  v->sws = sws_getCachedContext (v->sws, f->width, f->height, f->format,
      f->width, f->height, AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
  if (v->sws == NULL)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: cannot convert pixel format '%s' to RGB", v->path,
          av_get_pix_fmt_name (f->format) ? av_get_pix_fmt_name (f->format)
                                          : "?");
      return -1;
    }
  dst[0] = v->rgb;
  dst_stride[0] = v->stride;
  sws_scale (v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height,
      dst, dst_stride);

  ts = f->best_effort_timestamp;
  out->rgb = v->rgb;
  out->width = v->width;
  out->height = v->height;
  out->stride = v->stride;
  out->index = v->n_read++;
  out->pts = ts != AV_NOPTS_VALUE ? ts * v->time_base - v->start_time
                                  : out->index / v->fps;
  if (out->pts < 0.0)
    out->pts = 0.0;
  av_frame_unref (f);
  return 1;
}

/* Feed the next packet of our stream to the decoder; start draining at
 * the end of the file. */
static void
upm_video_feed (UpmVideo *v)
{
  int err = av_read_frame (v->fmt, v->pkt);

  if (err < 0)
    {
      if (err != AVERROR_EOF)
        upm_video_warn (v, "read error, stopping", err);
      avcodec_send_packet (v->dec, NULL);
      v->draining = TRUE;
      return;
    }
  if (v->pkt->stream_index == v->stream)
    {
      err = avcodec_send_packet (v->dec, v->pkt);
      if (err < 0 && err != AVERROR (EAGAIN))
        upm_video_warn (v, "corrupt packet", err);
    }
  av_packet_unref (v->pkt);
}

static int
upm_video_read_av (UpmVideo *v, UpmFrame *out, GError **error)
{
  while (!v->eof)
    {
      int err = avcodec_receive_frame (v->dec, v->frame);

      if (err >= 0)
        return upm_video_convert (v, out, error);
      if (err == AVERROR_EOF)
        {
          v->eof = TRUE;
          break;
        }
      if (err != AVERROR (EAGAIN))
        {
          upm_video_warn (v, "corrupt frame", err);
          if (v->draining)
            {
              v->eof = TRUE;
              break;
            }
          continue;
        }
      if (v->draining)
        {
          v->eof = TRUE;
          break;
        }
      upm_video_feed (v);
    }
  return 0;
}

/* ---------------------------------------------------------------- raw */

gboolean
upm_video_parse_size (const char *text, int *width, int *height, GError **error)
{
  const char *orig = text;
  char *end = NULL;
  gint64 w, h;

  w = g_ascii_strtoll (text, &end, 10);
  if (end == text || (*end != 'x' && *end != 'X'))
    goto bad;
  text = end + 1;
  h = g_ascii_strtoll (text, &end, 10);
  if (end == text || *end != '\0')
    goto bad;
  if (w <= 0 || h <= 0 || w > UPM_VIDEO_MAX_SIDE || h > UPM_VIDEO_MAX_SIDE)
    goto bad;
  *width = (int)w;
  *height = (int)h;
  return TRUE;

bad:
  g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
      "bad frame size '%s' (expected WIDTHxHEIGHT, 1..%d)", orig,
      UPM_VIDEO_MAX_SIDE);
  return FALSE;
}

UpmVideo *
upm_video_open_raw (
    const char *path, int width, int height, double fps, GError **error)
{
  UpmVideo *v = g_new0 (UpmVideo, 1);
  gint64 frame_bytes;

  v->path = g_strdup (path);
  v->fps = (fps > 0.0 && fps < 1000.0) ? fps : 30.0;
  v->duration = -1.0;
  v->n_frames = -1;
  if (!upm_video_ensure_rgb (v, width, height, error))
    goto fail;
  v->raw = fopen (path, "rb");
  if (v->raw == NULL)
    {
      int e = errno;

      g_set_error (
          error, UPM_ERROR, UPM_ERROR_IO, "%s: %s", path, g_strerror (e));
      goto fail;
    }
  frame_bytes = (gint64)v->stride * height;
  if (fseeko (v->raw, 0, SEEK_END) == 0)
    {
      off_t size = ftello (v->raw);

      if (size >= 0)
        {
          v->n_frames = size / frame_bytes;
          v->duration = v->n_frames / v->fps;
        }
      fseeko (v->raw, 0, SEEK_SET);
    }
  return v;

fail:
  upm_video_close (v);
  return NULL;
}

static int
upm_video_read_raw (UpmVideo *v, UpmFrame *out, GError **error)
{
  gsize want = (gsize)v->stride * v->height;
  gsize got = fread (v->rgb, 1, want, v->raw);

  if (got != want)
    {
      if (ferror (v->raw))
        {
          g_set_error (
              error, UPM_ERROR, UPM_ERROR_IO, "%s: read error", v->path);
          return -1;
        }
      if (got > 0)
        upm_video_warn (v, "truncated last frame", 0);
      return 0;
    }
  out->rgb = v->rgb;
  out->width = v->width;
  out->height = v->height;
  out->stride = v->stride;
  out->index = v->n_read++;
  out->pts = out->index / v->fps;
  return 1;
}

/* ------------------------------------------------------------- common */

int
upm_video_read (UpmVideo *video, UpmFrame *frame, GError **error)
{
  g_return_val_if_fail (video != NULL && frame != NULL, -1);

  if (video->raw != NULL)
    return upm_video_read_raw (video, frame, error);
  return upm_video_read_av (video, frame, error);
}

double
upm_video_fps (const UpmVideo *video)
{
  return video->fps;
}

double
upm_video_duration (const UpmVideo *video)
{
  return video->duration;
}

int64_t
upm_video_n_frames (const UpmVideo *video)
{
  return video->n_frames;
}

gboolean
upm_video_is_image (const UpmVideo *video)
{
  return video->is_image;
}

guint
upm_video_n_warnings (const UpmVideo *video)
{
  return video->n_warnings;
}

void
upm_video_close (UpmVideo *video)
{
  if (video == NULL)
    return;
  if (video->raw != NULL)
    fclose (video->raw);
  sws_freeContext (video->sws);
  av_frame_free (&video->frame);
  av_packet_free (&video->pkt);
  avcodec_free_context (&video->dec);
  avformat_close_input (&video->fmt);
  g_free (video->rgb);
  g_free (video->path);
  g_free (video);
}
