/* gstupmclipper.c: kept video frames -> clips of patch rows.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmclipper.h"
#include "gstupmenum.h"

#include <string.h>

/* the clips are the tokenizer's: its log category */
GST_DEBUG_CATEGORY_EXTERN (gst_upm_tokenizer_debug);
#define GST_CAT_DEFAULT gst_upm_tokenizer_debug

GType
gst_upm_partial_clip_get_type (void)
{
  GST_UPM_ENUM_TYPE_ONCE ("GstUpmPartialClip",
      { GST_UPM_PARTIAL_CLIP_PAD,
          "Pad a partial clip by repeating its last frame when at least half "
          "of it is present, else drop it",
          "pad" },
      { GST_UPM_PARTIAL_CLIP_DROP, "Drop a partial clip", "drop" });
}

void
gst_upm_clipper_init (GstUpmClipper *c, GstElement *element)
{
  c->element = element;
  c->fps_n = 0;
  c->fps_d = 1;
}

void
gst_upm_clipper_reset (GstUpmClipper *c)
{
  c->ring_head = 0;
  c->ring_len = 0;
  c->n_in = 0;
  c->n_kept = 0;
  c->next_start = 0;
  c->discont = TRUE;
}

void
gst_upm_clipper_clear (GstUpmClipper *c)
{
  gst_upm_clipper_reset (c);
  g_clear_pointer (&c->ring, g_free);
  g_clear_pointer (&c->ring_patches, g_free);
  c->span = 0;
  c->frame_floats = 0;
  gst_upm_clipper_set_rate (c, 0, 1);
}

gboolean
gst_upm_clipper_has_layout (
    const GstUpmClipper *c, guint span, guint stride, guint hop)
{
  return c->span == span && c->stride == stride && c->hop == hop;
}

void
gst_upm_clipper_set_layout (
    GstUpmClipper *c, guint span, guint stride, guint hop, gsize frame_floats)
{
  g_free (c->ring);
  g_free (c->ring_patches);
  c->span = span;
  c->stride = stride;
  c->hop = hop;
  c->frame_floats = frame_floats;
  c->ring = g_new0 (GstUpmKeptFrame, span);
  c->ring_patches = g_new (gfloat, frame_floats * span);
  gst_upm_clipper_reset (c);
}

void
gst_upm_clipper_set_rate (GstUpmClipper *c, gint fps_n, gint fps_d)
{
  c->fps_n = fps_n;
  c->fps_d = fps_d;
}

GstClockTime
gst_upm_clipper_latency (const GstUpmClipper *c)
{
  if (c->span <= 1 || c->fps_n <= 0)
    return 0;
  return gst_util_uint64_scale ((guint64)(c->span - 1) * c->stride,
      GST_SECOND * (guint64)c->fps_d, c->fps_n);
}

static GstClockTime
gst_upm_clipper_frame_duration (GstUpmClipper *c)
{
  if (c->fps_n <= 0 || c->fps_d <= 0)
    return GST_CLOCK_TIME_NONE;
  return gst_util_uint64_scale_int (GST_SECOND, c->fps_d, c->fps_n);
}

static GstUpmKeptFrame *
ring_nth (GstUpmClipper *c, guint i)
{
  return &c->ring[(c->ring_head + i) % c->span];
}

static gfloat *
ring_nth_patches (GstUpmClipper *c, guint i)
{
  return c->ring_patches + ((c->ring_head + i) % c->span) * c->frame_floats;
}

gboolean
gst_upm_clipper_keep (GstUpmClipper *c, guint64 *n)
{
  *n = c->n_in++;
  if (*n % c->stride != 0)
    return FALSE;
  /* FALSE between clips when clip-hop > clip-frames */
  return c->n_kept++ >= c->next_start;
}

gfloat *
gst_upm_clipper_frame_patches (GstUpmClipper *c)
{
  g_assert (c->ring_len < c->span);
  if (c->ring_patches == NULL)
    c->ring_patches = g_try_new (gfloat, c->frame_floats * c->span);
  if (c->ring_patches == NULL)
    {
      GST_ELEMENT_ERROR (c->element, RESOURCE, FAILED,
          ("Could not allocate the patches of a clip (%" G_GSIZE_FORMAT
           " bytes).",
              c->frame_floats * c->span * sizeof (gfloat)),
          (NULL));
      return NULL;
    }
  return ring_nth_patches (c, c->ring_len);
}

/* The clip made of the first @n_present pending frames, padded to the clip
 * length by repeating the last one; NULL (with an element error) when it
 * cannot be allocated. */
static GstBuffer *
gst_upm_clipper_take_clip (GstUpmClipper *c, guint n_present)
{
  const gsize frame_bytes = c->frame_floats * sizeof (gfloat);
  GstUpmKeptFrame *first = ring_nth (c, 0);
  GstUpmKeptFrame *last = ring_nth (c, n_present - 1);
  GstClockTime end = GST_CLOCK_TIME_NONE, last_duration;
  GstBuffer *buf;
  GstMapInfo map;
  guint i;

  if (n_present == c->span && c->ring_head == 0 && c->hop >= c->span)
    {
      /* The frames are in order and all leave the ring after this clip:
       * the clip takes the ring's patches instead of a copy, and the ring
       * gets new storage with its next frame. */
      buf = gst_buffer_new_wrapped (c->ring_patches, frame_bytes * c->span);
      c->ring_patches = NULL;
    }
  else
    {
      buf = gst_buffer_new_allocate (NULL, frame_bytes * c->span, NULL);
      if (!buf || !gst_buffer_map (buf, &map, GST_MAP_WRITE))
        {
          GST_ELEMENT_ERROR (c->element, RESOURCE, FAILED,
              ("Could not allocate a clip buffer of %" G_GSIZE_FORMAT " bytes.",
                  frame_bytes * c->span),
              (NULL));
          if (buf)
            gst_buffer_unref (buf);
          return NULL;
        }
      for (i = 0; i < c->span; i++)
        memcpy (map.data + i * frame_bytes,
            ring_nth_patches (c, MIN (i, n_present - 1)), frame_bytes);
      gst_buffer_unmap (buf, &map);
    }

  last_duration = GST_CLOCK_TIME_IS_VALID (last->duration)
                      ? last->duration
                      : gst_upm_clipper_frame_duration (c);
  if (GST_CLOCK_TIME_IS_VALID (last->pts)
      && GST_CLOCK_TIME_IS_VALID (last_duration))
    end = last->pts + last_duration;
  GST_BUFFER_PTS (buf) = first->pts;
  if (GST_CLOCK_TIME_IS_VALID (first->pts) && GST_CLOCK_TIME_IS_VALID (end)
      && end >= first->pts)
    GST_BUFFER_DURATION (buf) = end - first->pts;
  if (c->discont)
    {
      GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
      c->discont = FALSE;
    }

  GST_LOG_OBJECT (c->element,
      "clip of kept frames %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
      " (%u of %u present), pts %" GST_TIME_FORMAT
      " duration %" GST_TIME_FORMAT,
      first->k, last->k, n_present, c->span,
      GST_TIME_ARGS (GST_BUFFER_PTS (buf)),
      GST_TIME_ARGS (GST_BUFFER_DURATION (buf)));
  return buf;
}

/* After a clip: the next one starts clip-hop kept frames later. */
static void
gst_upm_clipper_advance (GstUpmClipper *c)
{
  c->next_start += c->hop;
  while (c->ring_len > 0 && ring_nth (c, 0)->k < c->next_start)
    {
      c->ring_head = (c->ring_head + 1) % c->span;
      c->ring_len--;
    }
}

GstFlowReturn
gst_upm_clipper_add_frame (
    GstUpmClipper *c, GstClockTime pts, GstClockTime duration, GstBuffer **clip)
{
  GstUpmKeptFrame *slot = ring_nth (c, c->ring_len);

  *clip = NULL;
  slot->k = c->n_kept - 1;
  slot->pts = pts;
  slot->duration = duration;
  c->ring_len++;
  if (c->ring_len < c->span)
    return GST_FLOW_OK;
  *clip = gst_upm_clipper_take_clip (c, c->span);
  gst_upm_clipper_advance (c);
  return *clip ? GST_FLOW_OK : GST_FLOW_ERROR;
}

GstFlowReturn
gst_upm_clipper_drain (
    GstUpmClipper *c, GstUpmPartialClip policy, GstBuffer **clip)
{
  GstFlowReturn ret = GST_FLOW_OK;
  guint n = MIN (c->ring_len, c->span);

  *clip = NULL;
  if (n > 0)
    {
      if (policy == GST_UPM_PARTIAL_CLIP_PAD && n * 2 >= c->span)
        {
          GST_DEBUG_OBJECT (
              c->element, "padding a partial clip of %u/%u frames", n, c->span);
          *clip = gst_upm_clipper_take_clip (c, n);
          if (*clip == NULL)
            ret = GST_FLOW_ERROR;
        }
      else
        {
          GST_DEBUG_OBJECT (c->element,
              "dropping a partial clip of %u/%u frames", n, c->span);
        }
    }
  gst_upm_clipper_reset (c);
  return ret;
}
