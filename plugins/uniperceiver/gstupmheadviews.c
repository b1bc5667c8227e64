/* gstupmheadviews.c: upmhead's collection of the views of one clip.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmheadviews.h"

GST_DEBUG_CATEGORY_EXTERN (gst_upm_head_debug);
#define GST_CAT_DEFAULT gst_upm_head_debug

void
gst_upm_head_views_reset (GstUpmHeadViews *views)
{
  gst_clear_buffer (&views->clip);
  views->n_views = views->n_have = 0;
}

/* The clip in progress is given up: a view was lost upstream. */
static void
gst_upm_head_views_abandon (GstUpmHeadViews *views, GstElement *element)
{
  GST_ELEMENT_WARNING (element, STREAM, FAILED,
      ("Clip %" G_GUINT64_FORMAT " lost %u of its %u views; it was dropped.",
          views->clip_id, views->n_views - views->n_have, views->n_views),
      ("the views of a clip must arrive one after the other"));
  gst_upm_head_views_reset (views);
}

void
gst_upm_head_views_finish (GstUpmHeadViews *views, GstElement *element)
{
  if (views->clip != NULL)
    gst_upm_head_views_abandon (views, element);
}

/* Appends the rows and the view record of @buf (taken) to the clip. */
static void
gst_upm_head_views_append (
    GstUpmHeadViews *views, GstBuffer *buf, const GstUpmViewMeta *vm)
{
  views->clip = gst_buffer_make_writable (views->clip);
  gst_buffer_append_memory (views->clip, gst_buffer_get_all_memory (buf));
  gst_buffer_copy_upm_view_meta (views->clip, vm);
  views->n_have++;
  gst_buffer_unref (buf);
}

void
gst_upm_head_views_add (GstUpmHeadViews *views, GstElement *element,
    GstBuffer *buf, GstBuffer **clip)
{
  GstUpmViewMeta *vm = gst_buffer_get_upm_view_meta (buf);

  *clip = NULL;
  if (views->clip != NULL && (vm == NULL || vm->clip_id != views->clip_id))
    gst_upm_head_views_abandon (views, element);
  if (vm == NULL || vm->n_views <= 1)
    {
      *clip = buf;
      return;
    }
  if (views->clip == NULL)
    {
      views->clip = buf;
      views->clip_id = vm->clip_id;
      views->n_views = vm->n_views;
      views->n_have = 1;
    }
  else
    gst_upm_head_views_append (views, buf, vm);
  if (views->n_have < views->n_views)
    return;
  GST_LOG_OBJECT (element, "clip %" G_GUINT64_FORMAT ": %u views collected",
      views->clip_id, views->n_views);
  *clip = g_steal_pointer (&views->clip);
  views->n_views = views->n_have = 0;
}
