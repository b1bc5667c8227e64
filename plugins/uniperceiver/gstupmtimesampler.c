/* gstupmtimesampler.c: decoded video frames -> the views of a task preset's
 * clips, sampled by timestamp.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmtimesampler.h"
#include "gstupmcommon.h"
#include "upmmeta.h"

GST_DEBUG_CATEGORY_EXTERN (gst_upm_tokenizer_debug);
#define GST_CAT_DEFAULT gst_upm_tokenizer_debug

/* timestamps are ns; a frame this close after a time counts as at it */
#define SLACK_S 1e-6
/* A window holds its span of decoded frames; this many means a source far
 * faster than video (or timestamps that do not advance). */
#define MAX_HELD_FRAMES 8192

typedef struct
{
  GstBuffer *buf;
  GstVideoInfo info;
  guint64 index; /* in the stream, from 0 at the start or a reset */
  GstClockTime pts, duration;
  gdouble t; /* pts in seconds, made monotonic */
} Frame;

struct _GstUpmTimeSampler
{
  GstElement *element;
  UpmHParams hp;
  GstUpmTimeLayout layout;
  GstUpmRgbConverter *converter;
  guint n_samples;  /* frames x views */
  gdouble *targets; /* sample j at j * stride / 30 s */
  gint fps_n, fps_d;

  GArray *frames;  /* Frame, from the first frame of the oldest window */
  GArray *windows; /* guint64: the stream index of each window's first frame */
  guint64 n_in, clip_id;
  gboolean started;     /* a window was opened since the reset */
  gdouble next_start;   /* intended start of the next window, s */
  gboolean discont;     /* the next clip is the first after a reset */
  gboolean first_drawn; /* the stream's first window has left */
  gdouble last_end;     /* the end of the last frame, s (-1: none) */
  guint64 decided;      /* frames before it were released unless sampled */
  gboolean may_wrap;    /* the stream may end before its first window */
  gpointer last_pool;   /* the pool of the last frame held, not a ref */
  gboolean last_pool_bounded;
};

static void
frame_clear (gpointer data)
{
  Frame *f = data;

  gst_clear_buffer (&f->buf);
}

GstUpmTimeSampler *
gst_upm_time_sampler_new (GstElement *element, const UpmHParams *hp,
    const GstUpmTimeLayout *layout, GstUpmRgbConverter *converter)
{
  GstUpmTimeSampler *s = g_new0 (GstUpmTimeSampler, 1);

  s->element = element;
  s->hp = *hp;
  s->layout = *layout;
  s->layout.views = MAX (layout->views, 1u);
  s->converter = converter;
  s->n_samples = layout->frames * s->layout.views;
  s->targets = g_new (gdouble, s->n_samples);
  for (guint j = 0; j < s->n_samples; j++)
    s->targets[j] = (gdouble)j * layout->stride / 30.0;
  s->frames = g_array_new (FALSE, FALSE, sizeof (Frame));
  g_array_set_clear_func (s->frames, frame_clear);
  s->windows = g_array_new (FALSE, FALSE, sizeof (guint64));
  gst_upm_time_sampler_reset (s);
  return s;
}

void
gst_upm_time_sampler_free (GstUpmTimeSampler *s)
{
  if (s == NULL)
    return;
  g_array_unref (s->frames);
  g_array_unref (s->windows);
  g_free (s->targets);
  g_free (s);
}

gboolean
gst_upm_time_sampler_has_layout (
    const GstUpmTimeSampler *s, const GstUpmTimeLayout *layout)
{
  return s->layout.frames == layout->frames
         && s->layout.views == MAX (layout->views, 1u)
         && s->layout.crops == layout->crops
         && s->layout.stride == layout->stride && s->layout.hop == layout->hop
         && s->layout.resize == layout->resize
         && s->layout.norm == layout->norm;
}

guint
gst_upm_time_sampler_n_views (const GstUpmTimeSampler *s)
{
  return s->layout.views * upm_crops_count (s->layout.crops);
}

static gdouble
span_seconds (const GstUpmTimeSampler *s)
{
  return (gdouble)s->n_samples * s->layout.stride / 30.0;
}

GstClockTime
gst_upm_time_sampler_span (const GstUpmTimeSampler *s)
{
  return (GstClockTime)(span_seconds (s) * GST_SECOND + 0.5);
}

static gdouble
hop_seconds (const GstUpmTimeSampler *s)
{
  return s->layout.hop ? s->layout.hop / 30.0 : span_seconds (s);
}

void
gst_upm_time_sampler_set_rate (GstUpmTimeSampler *s, gint fps_n, gint fps_d)
{
  s->fps_n = fps_n;
  s->fps_d = fps_d;
}

void
gst_upm_time_sampler_reset (GstUpmTimeSampler *s)
{
  g_array_set_size (s->frames, 0);
  g_array_set_size (s->windows, 0);
  s->n_in = 0;
  s->started = FALSE;
  s->next_start = 0.0;
  s->discont = TRUE;
  s->first_drawn = FALSE;
  s->may_wrap = TRUE;
  s->decided = 0;
  s->last_end = -1.0;
}

/* ------------------------------------------------------------ frames */

static Frame *
frame_at (GstUpmTimeSampler *s, guint i)
{
  return &g_array_index (s->frames, Frame, i);
}

/* Seconds a frame lasts: its duration, else the rate's, else 1/30 s. */
static gdouble
frame_seconds (const GstUpmTimeSampler *s, const Frame *f)
{
  if (GST_CLOCK_TIME_IS_VALID (f->duration) && f->duration > 0)
    return (gdouble)f->duration / GST_SECOND;
  if (s->fps_n > 0 && s->fps_d > 0)
    return (gdouble)s->fps_d / s->fps_n;
  return 1.0 / 30.0;
}

/* The time of a frame at @pts: its PTS, else the previous frame's end;
 * never before the previous frame (held or not). */
static gdouble
frame_time (GstUpmTimeSampler *s, GstClockTime pts, const Frame *prev)
{
  gdouble t;

  if (GST_CLOCK_TIME_IS_VALID (pts))
    t = (gdouble)pts / GST_SECOND;
  else
    t = MAX (s->last_end, 0.0);
  if (prev && t < prev->t)
    t = prev->t;
  return t;
}

/* Index in s->frames of the stream's frame @index. */
static guint
frame_position (GstUpmTimeSampler *s, guint64 index)
{
  return (guint)(index - frame_at (s, 0)->index);
}

/* ------------------------------------------------------------ views */

/* The source crop of crop @c on a @info frame. */
static gboolean
view_box (GstUpmTimeSampler *s, const GstVideoInfo *info, guint c,
    UpmCropBox *box, GError **error)
{
  return upm_vision_crop_box (GST_VIDEO_INFO_WIDTH (info),
      GST_VIDEO_INFO_HEIGHT (info), s->layout.resize, s->hp.image_size,
      s->layout.crops, c, box, error);
}

/* The patches of @f in every crop, to @patches[c] + @offset. */
static gboolean
frame_to_crops (GstUpmTimeSampler *s, Frame *f, gfloat **patches, gsize offset,
    GError **error)
{
  guint n_crops = upm_crops_count (s->layout.crops);
  GstVideoFrame vf;
  const guint8 *rgb;
  gint stride, w = GST_VIDEO_INFO_WIDTH (&f->info),
               h = GST_VIDEO_INFO_HEIGHT (&f->info);
  gboolean ok = TRUE;

  if (!gst_video_frame_map (&vf, &f->info, f->buf, GST_MAP_READ))
    {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
          "a buffer of %" G_GSIZE_FORMAT " bytes is not a %dx%d %s frame",
          gst_buffer_get_size (f->buf), w, h, GST_VIDEO_INFO_NAME (&f->info));
      return FALSE;
    }
  ok = gst_upm_rgb_converter_convert (s->converter, &vf, &rgb, &stride, error);
  for (guint c = 0; ok && c < n_crops; c++)
    {
      UpmCropBox box;

      ok = view_box (s, &f->info, c, &box, error)
           && upm_vision_frame_to_patches_box (&s->hp, s->layout.norm, &box,
               rgb, w, h, stride, patches[c] + offset, error);
    }
  gst_video_frame_unmap (&vf);
  return ok;
}

/* Attaches the view record of temporal view @v, crop @c to @buf. */
static void
add_view_meta (GstUpmTimeSampler *s, GstBuffer *buf, guint first,
    const guint32 *indices, guint v, guint c)
{
  guint n_crops = upm_crops_count (s->layout.crops), nf = s->layout.frames;
  guint64 *frames = g_new (guint64, nf);
  GstClockTime *pts = g_new (GstClockTime, nf);
  GstUpmViewBox vbox = { 0 };
  UpmCropBox box;
  Frame *f0 = NULL;

  for (guint i = 0; i < nf; i++)
    {
      Frame *f = frame_at (s, first + indices[i * s->layout.views + v]);

      if (i == 0)
        f0 = f;
      frames[i] = f->index;
      pts[i] = f->pts;
    }
  if (view_box (s, &f0->info, c, &box, NULL))
    vbox = gst_upm_view_box (&box);
  gst_buffer_add_upm_view_meta (buf, s->clip_id, v * n_crops + c,
      gst_upm_time_sampler_n_views (s), v, c, frames, pts, nf, &vbox,
      GST_BUFFER_PTS (buf), GST_BUFFER_DURATION (buf));
  g_free (frames);
  g_free (pts);
}

/* The views of the window whose first frame is s->frames[@first], its
 * samples at @indices (relative to @first), appended to @out. */
static gboolean
emit_views (
    GstUpmTimeSampler *s, guint first, const guint32 *indices, GPtrArray *out)
{
  const guint n_crops = upm_crops_count (s->layout.crops);
  const guint nf = s->layout.frames, n_views = gst_upm_time_sampler_n_views (s);
  const gsize frame_floats
      = (gsize)UPM_HP_TOKENS_PER_FRAME (&s->hp) * UPM_HP_PATCH_DIM (&s->hp);
  const gsize view_bytes = frame_floats * nf * sizeof (gfloat);
  gfloat **patches = g_new0 (gfloat *, n_views);
  GError *err = NULL;
  Frame *start = frame_at (s, first);
  gboolean ok = TRUE;

  for (guint k = 0; k < n_views; k++)
    patches[k] = g_try_malloc (view_bytes);
  for (guint k = 0; k < n_views; k++)
    if (patches[k] == NULL)
      {
        GST_ELEMENT_ERROR (s->element, RESOURCE, NO_SPACE_LEFT,
            ("Out of memory for a clip view of %" G_GSIZE_FORMAT " bytes.",
                view_bytes),
            (NULL));
        ok = FALSE;
        break;
      }

  /* sample j: frame j / views of temporal view j % views */
  for (guint j = 0; ok && j < s->n_samples; j++)
    {
      guint v = j % s->layout.views, i = j / s->layout.views;
      Frame *f = frame_at (s, first + indices[j]);

      if (f->buf == NULL)
        {
          /* is_sampled() and upm_sample_by_time() disagree: a bug */
          GST_ELEMENT_ERROR (s->element, CORE, FAILED,
              ("Frame %" G_GUINT64_FORMAT " of a clip was released.", f->index),
              (NULL));
          ok = FALSE;
          break;
        }
      ok = frame_to_crops (
          s, f, patches + v * n_crops, (gsize)i * frame_floats, &err);
      if (!ok)
        {
          GST_ELEMENT_ERROR (s->element, STREAM, FORMAT,
              ("Could not convert a video frame to patches: %s", err->message),
              ("frame %" G_GUINT64_FORMAT ", pts %" GST_TIME_FORMAT, f->index,
                  GST_TIME_ARGS (f->pts)));
          g_clear_error (&err);
        }
    }

  for (guint k = 0; k < n_views; k++)
    {
      GstBuffer *buf;

      if (!ok)
        {
          g_free (patches[k]);
          continue;
        }
      buf = gst_buffer_new_wrapped (patches[k], view_bytes);
      GST_BUFFER_PTS (buf) = start->pts;
      GST_BUFFER_DURATION (buf) = gst_upm_time_sampler_span (s);
      if (s->discont && k == 0)
        GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
      add_view_meta (s, buf, first, indices, k / n_crops, k % n_crops);
      g_ptr_array_add (out, buf);
    }
  g_free (patches);
  if (ok)
    {
      GST_LOG_OBJECT (s->element,
          "clip %" G_GUINT64_FORMAT ": %u views from frame %" G_GUINT64_FORMAT
          " (pts %" GST_TIME_FORMAT ")",
          s->clip_id, n_views, start->index, GST_TIME_ARGS (start->pts));
      s->clip_id++;
      s->discont = FALSE;
      s->first_drawn = TRUE;
    }
  return ok;
}

/* Samples the window starting at s->frames[@first]: the number of targets
 * that have their frame (@end < 0: only the frames so far, none may come
 * later; else all, wrapping around at @end). */
static guint
sample_window (GstUpmTimeSampler *s, guint first, gdouble end, guint32 *indices)
{
  guint n = s->frames->len - first;
  gdouble *pts = g_new (gdouble, n);
  guint resolved;

  for (guint k = 0; k < n; k++)
    pts[k] = frame_at (s, first + k)->t;
  resolved = upm_sample_by_time (
      pts, n, end, s->targets, s->n_samples, (uint32_t *)indices);
  g_free (pts);
  return resolved;
}

/* Whether the frame at @p (not the last one) is the one a target of an
 * open window takes: the last frame at or before the target, as
 * upm_sample_by_time finds it (the same sums, the same slack). */
static gboolean
is_sampled (GstUpmTimeSampler *s, guint p)
{
  const Frame *f = frame_at (s, p), *next = frame_at (s, p + 1);

  for (guint w = 0; w < s->windows->len; w++)
    {
      guint64 start = g_array_index (s->windows, guint64, w);
      const Frame *ws;

      if (start > f->index)
        break; /* windows open in order */
      ws = frame_at (s, frame_position (s, start));
      for (guint j = 0; j < s->n_samples; j++)
        {
          gdouble t = ws->t + s->targets[j] + SLACK_S;

          if (f->t <= t && t < next->t)
            return TRUE;
        }
    }
  return FALSE;
}

/* Once the stream's first window has left, a window that ends early is
 * padded with its last frame, not wrapped around: a frame that no target
 * takes is released as soon as the next frame shows it, and a window holds
 * its samples only (frames x views) instead of its span of frames. */
static void
prune_frames (GstUpmTimeSampler *s)
{
  if ((s->may_wrap && !s->first_drawn) || s->frames->len < 2)
    return;
  for (guint p = 0; p + 1 < s->frames->len; p++)
    {
      Frame *f = frame_at (s, p);

      if (f->index >= s->decided && f->buf != NULL && !is_sampled (s, p))
        gst_clear_buffer (&f->buf);
    }
  s->decided = frame_at (s, s->frames->len - 1)->index;
}

/* Drops the frames no open window needs. */
static void
release_frames (GstUpmTimeSampler *s)
{
  guint keep;

  if (s->windows->len == 0)
    {
      g_array_set_size (s->frames, 0);
      return;
    }
  keep = frame_position (s, g_array_index (s->windows, guint64, 0));
  if (keep > 0)
    g_array_remove_range (s->frames, 0, keep);
}

/* Emits the complete windows, oldest first. */
static gboolean
emit_complete (GstUpmTimeSampler *s, GPtrArray *out)
{
  guint32 *indices = g_new (guint32, s->n_samples);
  gboolean ok = TRUE;

  while (ok && s->windows->len > 0)
    {
      guint first = frame_position (s, g_array_index (s->windows, guint64, 0));

      if (sample_window (s, first, -1.0, indices) < s->n_samples)
        break;
      ok = emit_views (s, first, indices, out);
      g_array_remove_index (s->windows, 0);
    }
  g_free (indices);
  release_frames (s);
  prune_frames (s);
  return ok;
}

/* A window holds its span of frames (k400: 8.5 s), more than a pool of a
 * few buffers (a hardware decoder's) has: the buffers of a pool with a
 * maximum are copied, so that the pool is never drained while the window
 * fills. Others (system memory, unbounded pools) are held as they are. */
static gboolean
pool_is_bounded (GstUpmTimeSampler *s, GstBuffer *buf)
{
  GstStructure *config;
  guint min = 0, max = 0;

  if (buf->pool == NULL)
    return FALSE;
  if (buf->pool == s->last_pool)
    return s->last_pool_bounded;
  config = gst_buffer_pool_get_config (buf->pool);
  if (config != NULL)
    {
      gst_buffer_pool_config_get_params (config, NULL, NULL, &min, &max);
      gst_structure_free (config);
    }
  /* only compared, never dereferenced: a new pool at the same address is
   * asked again at worst one frame late */
  s->last_pool = buf->pool;
  s->last_pool_bounded = max != 0;
  GST_DEBUG_OBJECT (s->element, "frames from a pool of %u..%u buffers: %s", min,
      max, max != 0 ? "copied" : "held");
  return s->last_pool_bounded;
}

/* Opens a window at the frame just added when its time has come. */
static void
maybe_open_window (GstUpmTimeSampler *s, const Frame *f)
{
  if (!s->started)
    {
      s->started = TRUE;
      s->next_start = f->t;
    }
  if (f->t + SLACK_S < s->next_start)
    return;
  g_array_append_val (s->windows, f->index);
  /* the intended starts, hop apart; those before this frame are passed */
  do
    s->next_start += hop_seconds (s);
  while (s->next_start <= f->t + SLACK_S);
}

gboolean
gst_upm_time_sampler_add_frame (GstUpmTimeSampler *s, GstBuffer *buf,
    const GstVideoInfo *info, GPtrArray *out)
{
  Frame f = { 0 };
  const Frame *prev
      = s->frames->len > 0 ? frame_at (s, s->frames->len - 1) : NULL;

  f.info = *info;
  f.index = s->n_in++;
  f.pts = GST_BUFFER_PTS (buf);
  f.duration = GST_BUFFER_DURATION (buf);
  f.t = frame_time (s, f.pts, prev);
  s->last_end = f.t + frame_seconds (s, &f);
  maybe_open_window (s, &f);
  if (s->windows->len == 0)
    return TRUE; /* between windows (clip-hop beyond the span) */
  if (s->frames->len >= MAX_HELD_FRAMES)
    {
      GST_ELEMENT_ERROR (s->element, STREAM, FAILED,
          ("A clip window would hold more than %u frames.", MAX_HELD_FRAMES),
          ("the window spans %.2f s; are the timestamps advancing?",
              span_seconds (s)));
      return FALSE;
    }
  f.buf = pool_is_bounded (s, buf) ? gst_buffer_copy_deep (buf)
                                   : gst_buffer_ref (buf);
  if (f.buf == NULL)
    {
      GST_ELEMENT_ERROR (s->element, RESOURCE, NO_SPACE_LEFT,
          ("Out of memory for a frame of the clip window."), (NULL));
      return FALSE;
    }
  g_array_append_val (s->frames, f);
  return emit_complete (s, out);
}

/* ------------------------------------------------------------ drain */

gboolean
gst_upm_time_sampler_is_fresh (const GstUpmTimeSampler *s)
{
  return s->n_in == 0;
}

void
gst_upm_time_sampler_set_no_wrap (GstUpmTimeSampler *s)
{
  s->may_wrap = FALSE;
}

GstBuffer *
gst_upm_time_sampler_single_frame (GstUpmTimeSampler *s, guint64 *index)
{
  if (s->first_drawn || s->n_in != 1 || s->frames->len != 1)
    return NULL;
  *index = frame_at (s, 0)->index;
  return frame_at (s, 0)->buf;
}

gboolean
gst_upm_time_sampler_drain (GstUpmTimeSampler *s, gboolean pad, GPtrArray *out)
{
  guint32 *indices = g_new (guint32, s->n_samples);
  gboolean ok = TRUE;
  Frame *last;
  gdouble end;

  if (s->windows->len == 0 || s->frames->len == 0)
    goto done;
  last = frame_at (s, s->frames->len - 1);
  end = last->t + frame_seconds (s, last);
  while (ok && s->windows->len > 0)
    {
      guint first = frame_position (s, g_array_index (s->windows, guint64, 0));
      gdouble covered = end - frame_at (s, first)->t;

      if (!s->first_drawn)
        {
          GST_ELEMENT_WARNING (s->element, STREAM, FAILED,
              ("The video (%.2f s) is shorter than the span of preset %s "
               "(%.2f s): its frames were repeated to fill the clip.",
                  covered, s->layout.preset_name, span_seconds (s)),
              ("the samples past the end wrap around to the start, as the "
               "official sampler takes frame indices modulo the frame "
               "count"));
        }
      else if (!pad || covered * 2 < span_seconds (s))
        {
          GST_DEBUG_OBJECT (s->element,
              "dropping the last window: %.2f s of %.2f s", covered,
              span_seconds (s));
          g_array_remove_index (s->windows, 0);
          continue;
        }
      if (!s->first_drawn && s->may_wrap)
        sample_window (s, first, end, indices);
      else
        {
          /* the samples past the end repeat the last frame */
          guint n = sample_window (s, first, -1.0, indices);

          for (guint j = n; j < s->n_samples; j++)
            indices[j] = s->frames->len - 1 - first;
          GST_DEBUG_OBJECT (s->element,
              "padding the last window (%.2f s of %.2f s): %u of %u samples "
              "repeat its last frame",
              covered, span_seconds (s), s->n_samples - n, s->n_samples);
        }
      ok = emit_views (s, first, indices, out);
      g_array_remove_index (s->windows, 0);
    }
done:
  g_free (indices);
  gst_upm_time_sampler_reset (s);
  return ok;
}
