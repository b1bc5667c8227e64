/* gstupmheadqueue.h: upmhead's decode worker: the clips and serialized
 * events between the sink pad's streaming thread and the source pad's task.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A GstDataQueue fed by the sink pad and emptied by a GstTask on the source
 * pad (gst_pad_start_task). Clips count against max-pending; events never
 * do and never wait. When the queue is full, a non-live stream waits for
 * room while a live stream drops the oldest waiting clip (handed to the
 * @dropped callback). Flushes cancel the clip being decoded (the cancel
 * flag) and empty the queue; EOS leaves after the clips before it.
 */
#ifndef __GST_UPM_HEAD_QUEUE_H__
#define __GST_UPM_HEAD_QUEUE_H__

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _GstUpmHeadQueue GstUpmHeadQueue;

/* Handles one queued clip (GstBuffer) or serialized GstEvent on the worker
 * thread and takes it. Anything but GST_FLOW_OK (GST_FLOW_EOS after an EOS
 * event) pauses the worker and is returned to upstream from then on. */
typedef GstFlowReturn (*GstUpmHeadQueueHandler) (
    GstMiniObject *item, gpointer user_data);

/* A clip dropped from the full queue of a live stream (not taken). */
typedef void (*GstUpmHeadQueueDropped) (GstBuffer *clip, gpointer user_data);

/* @sinkpad is asked whether upstream is live, @srcpad runs the worker. */
GstUpmHeadQueue *gst_upm_head_queue_new (GstPad *sinkpad, GstPad *srcpad,
    guint max_pending, GstUpmHeadQueueHandler handler,
    GstUpmHeadQueueDropped dropped, gpointer user_data);
void gst_upm_head_queue_free (GstUpmHeadQueue *queue);

/* Clips that may wait; a larger value lets a waiting push through now. */
void gst_upm_head_queue_set_max_pending (
    GstUpmHeadQueue *queue, guint max_pending);

/* What upstream's latency query said about liveness. */
void gst_upm_head_queue_set_live (GstUpmHeadQueue *queue, gboolean live);

/* Raised by flushes and stops: a caption being decoded is abandoned at its
 * next beam step (UpmCaptionParams.cancel). */
gint *gst_upm_head_queue_cancel_flag (GstUpmHeadQueue *queue);
gboolean gst_upm_head_queue_cancelled (GstUpmHeadQueue *queue);

/* The source pad's activate_mode (push): starts or joins the worker. */
gboolean gst_upm_head_queue_activate (GstUpmHeadQueue *queue, gboolean active);

/* FLUSH_START and FLUSH_STOP: pushed downstream (FLUSH_START first, so that
 * a worker blocked in a push returns), the queue emptied, the worker paused
 * and started again. Return what the push returned. */
gboolean gst_upm_head_queue_flush_start (
    GstUpmHeadQueue *queue, GstEvent *event);
gboolean gst_upm_head_queue_flush_stop (
    GstUpmHeadQueue *queue, GstEvent *event);

/* STREAM_START: liveness is asked again; after EOS the worker restarts.
 * (The event itself is queued with gst_upm_head_queue_push_event.) */
void gst_upm_head_queue_stream_start (GstUpmHeadQueue *queue);

/* Queues a clip; waits for room or drops the oldest clip as above. Returns
 * the worker's flow return (not OK: @clip was dropped). */
GstFlowReturn gst_upm_head_queue_push_clip (
    GstUpmHeadQueue *queue, GstBuffer *clip);

/* Queues a serialized event behind the clips before it; a gap is merged
 * with a gap still waiting at the tail, so that a slow worker never collects
 * a growing run of gaps. FALSE (event dropped) when the worker stopped. */
gboolean gst_upm_head_queue_push_event (
    GstUpmHeadQueue *queue, GstEvent *event);

/* Waits until the worker has handled everything queued so far. */
void gst_upm_head_queue_drain (GstUpmHeadQueue *queue);

G_END_DECLS
#endif /* __GST_UPM_HEAD_QUEUE_H__ */
