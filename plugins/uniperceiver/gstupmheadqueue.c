/* gstupmheadqueue.c: upmhead's decode worker: a GstDataQueue between the
 * sink pad's streaming thread and the source pad's GstTask.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmheadqueue.h"

#include <gst/base/gstdataqueue.h>

GST_DEBUG_CATEGORY_EXTERN (gst_upm_head_debug);
#define GST_CAT_DEFAULT gst_upm_head_debug

struct _GstUpmHeadQueue
{
  GstPad *sinkpad, *srcpad; /* not owned: the element's */
  GstUpmHeadQueueHandler handler;
  GstUpmHeadQueueDropped dropped;
  gpointer user_data;

  GstDataQueue *items; /* clips (visible), events and drain markers */
  guint max_pending;   /* atomic; read by the fullness check */
  gint cancel;         /* atomic */

  /* under lock; lock is taken before the data queue's own lock */
  GMutex lock;
  GCond cond;                 /* a drain marker passed or srcresult changed */
  GstFlowReturn srcresult;    /* not OK: the worker stopped */
  gboolean live, live_known;  /* upstream */
  GstDataQueueItem *tail_gap; /* the last item queued, while a waiting gap */
  gboolean drained;           /* the worker reached the drain marker */

  /* chain thread, while it drops the oldest clip */
  GThread *dropping_thread; /* atomic */
  GstBuffer *dropped_clip;
};

/* ------------------------------------------------------------------ items */

typedef struct
{
  GstDataQueueItem item;
  GstUpmHeadQueue *owner;
} QueueItem;

/* The destroy notify of every item. The worker takes the object out before;
 * an object still there was flushed, or is the oldest clip that
 * drop_oldest_clip removes: that one is handed to the dropping thread for
 * its QoS message instead of released. */
static void
queue_item_free (gpointer data)
{
  QueueItem *qi = data;
  GstUpmHeadQueue *queue = qi->owner;
  GstMiniObject *object = qi->item.object;

  if (object != NULL)
    {
      if (GST_IS_BUFFER (object)
          && g_atomic_pointer_get (&queue->dropping_thread) == g_thread_self ()
          && queue->dropped_clip == NULL)
        queue->dropped_clip = GST_BUFFER_CAST (object);
      else
        gst_mini_object_unref (object);
    }
  g_free (qi);
}

static GstDataQueueItem *
queue_item_new (GstUpmHeadQueue *queue, GstMiniObject *object)
{
  QueueItem *qi = g_new0 (QueueItem, 1);

  qi->item.object = object;
  /* only clips count against max-pending */
  qi->item.visible = GST_IS_BUFFER (object);
  qi->item.destroy = queue_item_free;
  qi->owner = queue;
  return &qi->item;
}

static gboolean
queue_check_full (GstDataQueue *items, guint visible, guint bytes, guint64 time,
    gpointer data)
{
  GstUpmHeadQueue *queue = data;

  return visible >= (guint)g_atomic_int_get (&queue->max_pending);
}

static gboolean
is_gap (GstMiniObject *object)
{
  return GST_IS_EVENT (object) && GST_EVENT_TYPE (object) == GST_EVENT_GAP;
}

/* A gap from the start of @gap to @end (the later of both ends). */
static GstEvent *
extend_gap (GstEvent *gap, GstClockTime start, GstClockTime end)
{
  GstClockTime ts, dur, old_end;
  GstEvent *merged;

  gst_event_parse_gap (gap, &ts, &dur);
  old_end = GST_CLOCK_TIME_IS_VALID (dur) ? ts + dur : ts;
  if (GST_CLOCK_TIME_IS_VALID (end) && end > old_end)
    old_end = end;
  ts = MIN (ts, start);
  merged = gst_event_new_gap (ts, old_end - ts);
  gst_event_set_seqnum (merged, gst_event_get_seqnum (gap));
  gst_event_unref (gap);
  return merged;
}

/* With the lock: merges @gap into the gap waiting at the tail. The worker
 * takes an item's object under the lock, so the tail may be replaced until
 * then. */
static void
merge_tail_gap (GstUpmHeadQueue *queue, GstEvent *gap)
{
  GstDataQueueItem *tail = queue->tail_gap;
  GstClockTime ts, dur;

  gst_event_parse_gap (gap, &ts, &dur);
  tail->object
      = GST_MINI_OBJECT_CAST (extend_gap (GST_EVENT_CAST (tail->object), ts,
          GST_CLOCK_TIME_IS_VALID (dur) ? ts + dur : ts));
  gst_event_unref (gap);
}

/* With the lock: drops everything queued. */
static void
flush_items (GstUpmHeadQueue *queue)
{
  queue->tail_gap = NULL;
  gst_data_queue_flush (queue->items);
}

/* ----------------------------------------------------------------- worker */

static void
gst_upm_head_queue_stop_worker (GstUpmHeadQueue *queue, GstFlowReturn ret)
{
  g_mutex_lock (&queue->lock);
  if (queue->srcresult == GST_FLOW_OK)
    queue->srcresult = ret;
  g_cond_broadcast (&queue->cond);
  g_mutex_unlock (&queue->lock);
  GST_DEBUG_OBJECT (queue->srcpad, "pausing: %s", gst_flow_get_name (ret));
  /* a chain function waiting for room returns */
  gst_data_queue_set_flushing (queue->items, TRUE);
  gst_pad_pause_task (queue->srcpad);
}

static void
gst_upm_head_queue_loop (gpointer data)
{
  GstUpmHeadQueue *queue = data;
  GstDataQueueItem *item;
  GstMiniObject *object;
  GstFlowReturn ret;

  if (!gst_data_queue_pop (queue->items, &item))
    {
      GST_DEBUG_OBJECT (queue->srcpad, "pausing: flushing");
      gst_pad_pause_task (queue->srcpad);
      return;
    }
  g_mutex_lock (&queue->lock);
  if (queue->tail_gap == item)
    queue->tail_gap = NULL;
  object = g_steal_pointer (&item->object);
  g_mutex_unlock (&queue->lock);
  item->destroy (item);

  if (GST_IS_QUERY (object))
    {
      /* a drain marker: everything before it is handled */
      g_mutex_lock (&queue->lock);
      queue->drained = TRUE;
      g_cond_broadcast (&queue->cond);
      g_mutex_unlock (&queue->lock);
      gst_mini_object_unref (object);
      return;
    }

  ret = queue->handler (object, queue->user_data);
  if (ret != GST_FLOW_OK)
    gst_upm_head_queue_stop_worker (queue, ret);
}

static gboolean
gst_upm_head_queue_start_worker (GstUpmHeadQueue *queue)
{
  gst_data_queue_set_flushing (queue->items, FALSE);
  return gst_pad_start_task (
      queue->srcpad, gst_upm_head_queue_loop, queue, NULL);
}

/* ------------------------------------------------------------------- API */

GstUpmHeadQueue *
gst_upm_head_queue_new (GstPad *sinkpad, GstPad *srcpad, guint max_pending,
    GstUpmHeadQueueHandler handler, GstUpmHeadQueueDropped dropped,
    gpointer user_data)
{
  GstUpmHeadQueue *queue = g_new0 (GstUpmHeadQueue, 1);

  queue->sinkpad = sinkpad;
  queue->srcpad = srcpad;
  queue->handler = handler;
  queue->dropped = dropped;
  queue->user_data = user_data;
  queue->max_pending = max_pending;
  queue->items = gst_data_queue_new (queue_check_full, NULL, NULL, queue);
  gst_data_queue_set_flushing (queue->items, TRUE);
  g_mutex_init (&queue->lock);
  g_cond_init (&queue->cond);
  queue->srcresult = GST_FLOW_FLUSHING;
  return queue;
}

void
gst_upm_head_queue_free (GstUpmHeadQueue *queue)
{
  if (queue == NULL)
    return;
  flush_items (queue);
  g_object_unref (queue->items);
  g_mutex_clear (&queue->lock);
  g_cond_clear (&queue->cond);
  g_free (queue);
}

void
gst_upm_head_queue_set_max_pending (GstUpmHeadQueue *queue, guint max_pending)
{
  g_atomic_int_set (&queue->max_pending, max_pending);
  /* A smaller queue takes effect at the next clip; a larger one may unblock
   * the chain function now. */
  gst_data_queue_limits_changed (queue->items);
}

void
gst_upm_head_queue_set_live (GstUpmHeadQueue *queue, gboolean live)
{
  g_mutex_lock (&queue->lock);
  queue->live = live;
  queue->live_known = TRUE;
  g_mutex_unlock (&queue->lock);
}

gint *
gst_upm_head_queue_cancel_flag (GstUpmHeadQueue *queue)
{
  return &queue->cancel;
}

gboolean
gst_upm_head_queue_cancelled (GstUpmHeadQueue *queue)
{
  return g_atomic_int_get (&queue->cancel) != 0;
}

gboolean
gst_upm_head_queue_activate (GstUpmHeadQueue *queue, gboolean active)
{
  gboolean ret;

  if (active)
    {
      g_atomic_int_set (&queue->cancel, 0);
      g_mutex_lock (&queue->lock);
      queue->srcresult = GST_FLOW_OK;
      queue->live_known = FALSE;
      g_mutex_unlock (&queue->lock);
      return gst_upm_head_queue_start_worker (queue);
    }

  g_atomic_int_set (&queue->cancel, 1);
  g_mutex_lock (&queue->lock);
  queue->srcresult = GST_FLOW_FLUSHING;
  g_cond_broadcast (&queue->cond);
  g_mutex_unlock (&queue->lock);
  gst_data_queue_set_flushing (queue->items, TRUE);
  /* Joins the worker; a caption being decoded is abandoned at its next beam
   * step. */
  ret = gst_pad_stop_task (queue->srcpad);
  g_mutex_lock (&queue->lock);
  flush_items (queue);
  g_mutex_unlock (&queue->lock);
  return ret;
}

gboolean
gst_upm_head_queue_flush_start (GstUpmHeadQueue *queue, GstEvent *event)
{
  gboolean ret;

  g_atomic_int_set (&queue->cancel, 1);
  /* Downstream first, so that a worker blocked in a push returns. */
  ret = gst_pad_push_event (queue->srcpad, event);
  g_mutex_lock (&queue->lock);
  queue->srcresult = GST_FLOW_FLUSHING;
  gst_data_queue_set_flushing (queue->items, TRUE);
  flush_items (queue);
  g_cond_broadcast (&queue->cond);
  g_mutex_unlock (&queue->lock);
  /* A caption being decoded stops at its next beam step (cancel), then the
   * worker pauses. */
  gst_pad_pause_task (queue->srcpad);
  return ret;
}

gboolean
gst_upm_head_queue_flush_stop (GstUpmHeadQueue *queue, GstEvent *event)
{
  gboolean ret;

  g_atomic_int_set (&queue->cancel, 0);
  g_mutex_lock (&queue->lock);
  flush_items (queue);
  queue->srcresult = GST_FLOW_OK;
  queue->live_known = FALSE;
  g_mutex_unlock (&queue->lock);
  ret = gst_pad_push_event (queue->srcpad, event);
  if (GST_PAD_IS_ACTIVE (queue->srcpad))
    gst_upm_head_queue_start_worker (queue);
  return ret;
}

void
gst_upm_head_queue_stream_start (GstUpmHeadQueue *queue)
{
  gboolean restart;

  g_mutex_lock (&queue->lock);
  queue->live_known = FALSE;
  /* a new stream after EOS */
  restart = queue->srcresult == GST_FLOW_EOS;
  if (restart)
    queue->srcresult = GST_FLOW_OK;
  g_mutex_unlock (&queue->lock);
  if (restart)
    gst_upm_head_queue_start_worker (queue);
}

static gboolean
gst_upm_head_queue_query_live (GstUpmHeadQueue *queue)
{
  GstQuery *query = gst_query_new_latency ();
  gboolean live = FALSE;

  if (gst_pad_peer_query (queue->sinkpad, query))
    gst_query_parse_latency (query, &live, NULL, NULL);
  gst_query_unref (query);
  GST_DEBUG_OBJECT (queue->sinkpad, "upstream is %slive", live ? "" : "not ");
  return live;
}

/* Whether a full queue drops its oldest clip (live) rather than waits; asks
 * upstream the first time. */
static gboolean
gst_upm_head_queue_is_live (GstUpmHeadQueue *queue)
{
  gboolean live, known;

  g_mutex_lock (&queue->lock);
  live = queue->live;
  known = queue->live_known;
  g_mutex_unlock (&queue->lock);
  if (!known)
    {
      live = gst_upm_head_queue_query_live (queue);
      gst_upm_head_queue_set_live (queue, live);
    }
  return live;
}

/* Removes the oldest waiting clip and returns it. Nothing takes its place:
 * a gap event there would make a synchronised sink hold the worker until the
 * gap's time, when the worker is already late. */
static GstBuffer *
drop_oldest_clip (GstUpmHeadQueue *queue)
{
  GstBuffer *clip;

  g_atomic_pointer_set (&queue->dropping_thread, g_thread_self ());
  gst_data_queue_drop_head (queue->items, GST_TYPE_BUFFER);
  g_atomic_pointer_set (&queue->dropping_thread, NULL);
  clip = g_steal_pointer (&queue->dropped_clip);
  return clip;
}

static GstFlowReturn
gst_upm_head_queue_result (GstUpmHeadQueue *queue)
{
  GstFlowReturn ret;

  g_mutex_lock (&queue->lock);
  ret = queue->srcresult;
  g_mutex_unlock (&queue->lock);
  return ret;
}

GstFlowReturn
gst_upm_head_queue_push_clip (GstUpmHeadQueue *queue, GstBuffer *clip)
{
  GstBuffer *dropped = NULL;
  GstDataQueueItem *item;
  GstFlowReturn ret = gst_upm_head_queue_result (queue);
  gboolean live = FALSE, pushed;

  if (ret == GST_FLOW_OK && gst_data_queue_is_full (queue->items))
    {
      live = gst_upm_head_queue_is_live (queue);
      if (live)
        dropped = drop_oldest_clip (queue);
      else
        GST_LOG_OBJECT (queue->sinkpad, "queue full, waiting");
    }
  if (ret == GST_FLOW_OK)
    {
      item = queue_item_new (queue, GST_MINI_OBJECT_CAST (clip));
      /* a live stream never waits, even when max-pending was lowered */
      pushed = live ? gst_data_queue_push_force (queue->items, item)
                    : gst_data_queue_push (queue->items, item);
      if (pushed)
        {
          g_mutex_lock (&queue->lock);
          queue->tail_gap = NULL;
          g_mutex_unlock (&queue->lock);
        }
      else
        {
          item->destroy (item);
          ret = gst_upm_head_queue_result (queue);
          if (ret == GST_FLOW_OK)
            ret = GST_FLOW_FLUSHING;
        }
    }
  else
    {
      GST_DEBUG_OBJECT (
          queue->sinkpad, "not queueing: %s", gst_flow_get_name (ret));
      gst_buffer_unref (clip);
    }

  if (dropped != NULL)
    {
      queue->dropped (dropped, queue->user_data);
      gst_buffer_unref (dropped);
    }
  return ret;
}

gboolean
gst_upm_head_queue_push_event (GstUpmHeadQueue *queue, GstEvent *event)
{
  GstMiniObject *object = GST_MINI_OBJECT_CAST (event);
  GstDataQueueItem *item;

  g_mutex_lock (&queue->lock);
  if (queue->srcresult != GST_FLOW_OK)
    {
      GstFlowReturn ret = queue->srcresult;

      g_mutex_unlock (&queue->lock);
      GST_DEBUG_OBJECT (queue->sinkpad, "dropping %" GST_PTR_FORMAT " (%s)",
          event, gst_flow_get_name (ret));
      gst_event_unref (event);
      return FALSE;
    }
  if (is_gap (object) && queue->tail_gap != NULL)
    {
      merge_tail_gap (queue, event);
      g_mutex_unlock (&queue->lock);
      return TRUE;
    }
  item = queue_item_new (queue, object);
  /* events never wait for room */
  if (!gst_data_queue_push_force (queue->items, item))
    {
      g_mutex_unlock (&queue->lock);
      item->destroy (item);
      return FALSE;
    }
  queue->tail_gap = is_gap (object) ? item : NULL;
  g_mutex_unlock (&queue->lock);
  return TRUE;
}

void
gst_upm_head_queue_drain (GstUpmHeadQueue *queue)
{
  GstDataQueueItem *marker;

  g_mutex_lock (&queue->lock);
  if (queue->srcresult != GST_FLOW_OK)
    {
      g_mutex_unlock (&queue->lock);
      return;
    }
  queue->drained = FALSE;
  marker
      = queue_item_new (queue, GST_MINI_OBJECT_CAST (gst_query_new_drain ()));
  if (!gst_data_queue_push_force (queue->items, marker))
    {
      g_mutex_unlock (&queue->lock);
      marker->destroy (marker);
      return;
    }
  queue->tail_gap = NULL;
  while (queue->srcresult == GST_FLOW_OK && !queue->drained)
    g_cond_wait (&queue->cond, &queue->lock);
  g_mutex_unlock (&queue->lock);
}
