/* gstupmhead.c: hidden state of <SPE> -> classification, retrieval or
 * caption text.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-upmhead
 * @title: upmhead
 *
 * The task head of the Uni-Perceiver pipeline. It takes the final hidden
 * state of <SPE> (application/x-upm-hidden) and outputs one text buffer
 * (text/x-raw, format=utf8) per clip with the clip's timestamps:
 *
 * - classify / retrieve: the best label (or text) among #GstUpmHead:labels
 *   or #GstUpmHead:labels-file, scored by cosine similarity with their
 *   target features; a #GstUpmResultMeta holds the top-k.
 * - caption: beam search over the caption prefix made by upmtransformer;
 *   a #GstUpmCaptionMeta holds the caption.
 *
 * The #GstUpmRoutingMeta of the input is carried over (for captions with
 * the routes of the text segment appended), and every result is also posted
 * as an element message "upm-result" on the bus. The metas and the message
 * say in "precision" which engine precision (fp32, bf16, ...) made the
 * result: the encoding's for scores, the decoding's for captions (the
 * message of a caption has "encode-precision" too).
 *
 * #GstUpmHead:preset gives the task (unless #GstUpmHead:task is set), the
 * logit scale and the caption settings of a benchmark's official
 * evaluation; beam-size, max-length and length-penalty override it where
 * set. The views of a clip that upmtokenizer makes for a preset (temporal
 * views x crops, consecutive buffers with a #GstUpmViewMeta) are collected
 * into one result: a classification averages the softmax of each view
 * over the views, then takes the top-k; a retrieval preset scores with the
 * plain cosine (score kind "cosine"). The result carries a
 * #GstUpmViewMeta per view, so that the frames and crops the model looked
 * at can be read back (and are in the JSON text format).
 *
 * Results are computed on a worker thread (the source pad's task), never on
 * the upstream streaming thread: the chain function queues the clip and
 * returns. At most #GstUpmHead:max-pending clips wait; when the queue is
 * full, a non-live stream waits for room while a live stream drops the
 * oldest waiting clip, counts it in
 * #GstUpmHead:dropped and posts a QoS message. The element adds
 * #GstUpmHead:processing-latency to the latency it reports.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=32 ! upmtokenizer ! upmencoder !
 *     upmtransformer ! upmhead task=caption ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstupmhead.h"
#include "gstupmcommon.h"
#include "gstupmelements.h"
#include "gstupmheadqueue.h"
#include "gstupmheadresult.h"
#include "gstupmheadtask.h"
#include "gstupmheadviews.h"

/* shared with the other gstupmhead*.c files */
GST_DEBUG_CATEGORY (gst_upm_head_debug);
#define GST_CAT_DEFAULT gst_upm_head_debug

#define DEFAULT_TASK GST_UPM_TASK_CLASSIFY
#define DEFAULT_TOP_K 3
#define DEFAULT_BEAM_SIZE 0
#define DEFAULT_MAX_LENGTH 0
#define DEFAULT_MAX_PENDING 2
#define DEFAULT_PROCESSING_LATENCY (200 * GST_MSECOND)
#define DEFAULT_TEXT_FORMAT GST_UPM_HEAD_TEXT_FORMAT_LABEL_SCORE
#define DEFAULT_PRESET GST_UPM_PRESET_DEFAULT
#define DEFAULT_LENGTH_PENALTY -1.0f
#define MAX_LENGTH_PENALTY 100.0f

#define MAX_BEAM_SIZE 64
#define MAX_LENGTH 1024
#define MAX_PENDING 1024

struct _GstUpmHead
{
  GstElement parent;

  GstPad *sinkpad, *srcpad;

  /* the model property and the model (READY and above) */
  GstUpmModelSlot slot;

  /* properties, GST_OBJECT_LOCK */
  GstUpmTask task;
  gboolean task_set; /* the task property was set: it overrides the preset */
  gint preset;       /* GST_TYPE_UPM_PRESET */
  gfloat length_penalty;
  gchar *labels;
  gchar *labels_file;
  guint top_k, beam_size, max_length, max_pending;
  guint batch_wait; /* µs */
  GstClockTime processing_latency;
  GstUpmHeadTextFormat text_format;
  UpmPrecision precision;
  guint64 dropped, processed;
  gboolean settings_changed;

  /* READY and above; dim also under GST_OBJECT_LOCK for queries */
  guint dim;
  GstUpmHeadTask run; /* the task being run; used by the worker */

  /* between the chain function and the worker (the source pad's task) */
  GstUpmHeadQueue *queue;

  /* streaming thread */
  GstSegment segment;
  GstUpmHeadViews views;

  /* worker */
  gchar *modality;
  GstSegment out_segment;
};

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_TASK,
  PROP_LABELS,
  PROP_LABELS_FILE,
  PROP_TOP_K,
  PROP_BEAM_SIZE,
  PROP_MAX_LENGTH,
  PROP_MAX_PENDING,
  PROP_DROPPED,
  PROP_PROCESSING_LATENCY,
  PROP_TEXT_FORMAT,
  PROP_PRESET,
  PROP_LENGTH_PENALTY,
  PROP_BATCH_WAIT,
  PROP_PRECISION,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_UPM_HIDDEN_CAPS));

static GstStaticPadTemplate src_template
    = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS ("text/x-raw, format = (string) utf8"));

#define gst_upm_head_parent_class parent_class
G_DEFINE_TYPE (GstUpmHead, gst_upm_head, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (
    upmhead, "upmhead", GST_RANK_NONE, GST_TYPE_UPM_HEAD);

GType
gst_upm_head_text_format_get_type (void)
{
  GST_UPM_ENUM_TYPE_ONCE ("GstUpmHeadTextFormat",
      { GST_UPM_HEAD_TEXT_FORMAT_LABEL, "The best label, or the caption",
          "label" },
      { GST_UPM_HEAD_TEXT_FORMAT_LABEL_SCORE,
          "The best label and its probability, e.g. \"moving left (0.93)\", "
          "or the caption",
          "label-score" },
      { GST_UPM_HEAD_TEXT_FORMAT_JSON,
          "All results, timing and routing as one JSON object", "json" });
}

/* ------------------------------------------------------------------ model */

/* With the object lock: the task property when set, else the preset's
 * task, else the property's default. */
static GstUpmTask
gst_upm_head_effective_task (GstUpmHead *self)
{
  GstUpmTask task = self->task;

  if (!self->task_set)
    gst_upm_preset_task (gst_upm_preset_from_value (self->preset), &task);
  return task;
}

/* Whether the model suits the preset; the frames of a clip are upmtokenizer's
 * concern (its clip-frames may override them), not the head's. */
static gboolean
gst_upm_head_check_preset (GstUpmHead *self, const UpmPreset *preset)
{
  UpmPreset any_frames = *preset;

  any_frames.frames = 0;
  return gst_upm_check_preset (
      GST_ELEMENT (self), self->slot.model, &any_frames);
}

/* The labels and their features, or the caption settings, of the task
 * properties. */
static gboolean
gst_upm_head_prepare_task (GstUpmHead *self)
{
  GstUpmHeadTaskSettings settings;
  gchar *labels, *labels_file;
  gboolean ok;

  GST_OBJECT_LOCK (self);
  settings.task = gst_upm_head_effective_task (self);
  settings.labels = labels = g_strdup (self->labels);
  settings.labels_file = labels_file = g_strdup (self->labels_file);
  settings.beam_size = self->beam_size;
  settings.max_length = self->max_length;
  settings.length_penalty = self->length_penalty;
  settings.preset = gst_upm_preset_from_value (self->preset);
  self->settings_changed = FALSE;
  GST_OBJECT_UNLOCK (self);

  if (!gst_upm_head_check_preset (self, settings.preset))
    return FALSE;

  ok = gst_upm_head_task_prepare (&self->run, GST_ELEMENT (self), &settings);
  g_free (labels);
  g_free (labels_file);
  return ok;
}

static gboolean
gst_upm_head_opened (GstElement *element, UpmModel *model)
{
  GstUpmHead *self = GST_UPM_HEAD (element);

  gst_upm_head_task_open (&self->run, model);
  GST_OBJECT_LOCK (self);
  self->dim = upm_model_hparams (model)->n_embd;
  GST_OBJECT_UNLOCK (self);
  return gst_upm_head_prepare_task (self);
}

static void
gst_upm_head_closing (GstElement *element)
{
  GstUpmHead *self = GST_UPM_HEAD (element);

  gst_upm_head_task_close (&self->run);
  GST_OBJECT_LOCK (self);
  self->dim = 0;
  GST_OBJECT_UNLOCK (self);
}

/* -------------------------------------------------------------- negotiate */

/* Checks the hidden caps against the task; posts an error when they do not
 * fit. */
static gboolean
gst_upm_head_check_caps (GstUpmHead *self, GstCaps *caps)
{
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *task = gst_structure_get_string (s, "task");
  const gchar *modality = gst_structure_get_string (s, "modality");
  GstUpmTask t;
  gint dim = 0;

  if (task == NULL || !gst_upm_task_from_nick (task, &t) || t != self->run.task)
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("upmhead runs task %s but receives hidden states for task %s.",
              gst_upm_task_nick (self->run.task), GST_STR_NULL (task)),
          ("set the task of upmtransformer to auto or %s",
              gst_upm_task_nick (self->run.task)));
      return FALSE;
    }
  if (!gst_structure_get_int (s, "dim", &dim) || (guint)dim != self->dim)
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("Hidden states of width %d do not fit the model \"%s\" (D = %u).",
              dim, upm_model_path (self->slot.model), self->dim),
          ("give upmtransformer the same model as upmhead"));
      return FALSE;
    }
  if (modality == NULL
      || (t == GST_UPM_TASK_CAPTION && g_str_equal (modality, "text")))
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("Cannot %s %s input.", gst_upm_task_nick (t),
              GST_STR_NULL (modality)),
          ("caps %" GST_PTR_FORMAT, caps));
      return FALSE;
    }
  return TRUE;
}

/* The template's hidden caps of the task (a caption takes prefix memory,
 * the others system memory) at the model's width. */
static GstCaps *
gst_upm_head_sink_caps (GstElement *element)
{
  GstUpmHead *self = GST_UPM_HEAD (element);
  GstCaps *templ = gst_pad_get_pad_template_caps (self->sinkpad);
  GstCaps *caps = gst_caps_new_empty ();
  GstUpmTask task;
  guint dim, i;

  GST_OBJECT_LOCK (self);
  task = gst_upm_head_effective_task (self);
  dim = self->dim;
  GST_OBJECT_UNLOCK (self);

  for (i = 0; i < gst_caps_get_size (templ); i++)
    {
      GstCapsFeatures *features = gst_caps_get_features (templ, i);
      gboolean prefix = features != NULL
                        && gst_caps_features_contains (
                            features, GST_CAPS_FEATURE_MEMORY_UPM_PREFIX);
      GstStructure *s;

      if (prefix != (task == GST_UPM_TASK_CAPTION))
        continue;
      s = gst_structure_copy (gst_caps_get_structure (templ, i));
      gst_structure_set (
          s, "task", G_TYPE_STRING, gst_upm_task_nick (task), NULL);
      if (dim > 0)
        gst_structure_set (s, "dim", G_TYPE_INT, (gint)dim, NULL);
      caps = gst_caps_merge_structure_full (
          caps, s, features != NULL ? gst_caps_features_copy (features) : NULL);
    }
  gst_caps_unref (templ);
  return caps;
}

static gboolean
gst_upm_head_sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstUpmHead *self = GST_UPM_HEAD (parent);

  switch (GST_QUERY_TYPE (query))
    {
    case GST_QUERY_CAPS:
      return gst_upm_answer_caps_query (
          query, GST_ELEMENT (self), gst_upm_head_sink_caps);
    case GST_QUERY_ALLOCATION:
      /* The output is text: nothing to propose for the hidden states. */
      return FALSE;
    case GST_QUERY_DRAIN:
      gst_upm_head_queue_drain (self->queue);
      return TRUE;
    default:
      if (GST_QUERY_IS_SERIALIZED (query))
        gst_upm_head_queue_drain (self->queue);
      return gst_upm_model_slot_pad_query (&self->slot, pad, parent, query);
    }
}

static gboolean
gst_upm_head_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstUpmHead *self = GST_UPM_HEAD (parent);
  GstClockTime latency;
  gboolean live;
  guint pending;

  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return gst_upm_model_slot_pad_query (&self->slot, pad, parent, query);

  GST_OBJECT_LOCK (self);
  latency = self->processing_latency;
  pending = self->max_pending;
  GST_OBJECT_UNLOCK (self);
  /* Up to max-pending clips wait while one is being processed. */
  if (!gst_upm_answer_latency_query (query, GST_ELEMENT (self), self->sinkpad,
          latency, latency * (pending + 1), &live))
    return FALSE;
  gst_upm_head_queue_set_live (self->queue, live);
  return TRUE;
}

/* ------------------------------------------------------------- accumulate */

static GstFlowReturn
gst_upm_head_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstUpmHead *self = GST_UPM_HEAD (parent);
  GstUpmViewMeta *view = gst_buffer_get_upm_view_meta (buf);
  GstBuffer *clip;

  if (self->run.task == GST_UPM_TASK_CAPTION && view != NULL
      && view->n_views > 1)
    {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("Cannot caption a clip of %u views: a caption is decoded from "
           "one.",
              view->n_views),
          ("give upmtokenizer a caption preset (msvd-caption, "
           "coco-caption, ...) or default"));
      gst_buffer_unref (buf);
      return GST_FLOW_ERROR;
    }
  if (self->run.task == GST_UPM_TASK_CAPTION)
    {
      if (gst_buffer_peek_upm_prefix_memory (buf) == NULL)
        {
          GST_ELEMENT_ERROR (self, STREAM, FORMAT,
              ("The hidden state carries no caption prefix."),
              ("upmtransformer must run with task=caption (or auto) in front "
               "of upmhead task=caption"));
          gst_buffer_unref (buf);
          return GST_FLOW_ERROR;
        }
    }
  else if (gst_buffer_get_size (buf) != (gsize)self->dim * sizeof (gfloat))
    {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("Invalid hidden state of %" G_GSIZE_FORMAT " bytes.",
              gst_buffer_get_size (buf)),
          ("one row of %u floats expected", self->dim));
      gst_buffer_unref (buf);
      return GST_FLOW_ERROR;
    }

  /* the views of a clip make one result */
  gst_upm_head_views_add (&self->views, GST_ELEMENT (self), buf, &clip);
  if (clip == NULL)
    return GST_FLOW_OK;
  return gst_upm_head_queue_push_clip (self->queue, clip);
}

/* A clip dropped from the full queue of a live stream: counted in
 * 'dropped' and reported in a QoS message. */
static void
gst_upm_head_dropped (GstBuffer *buf, gpointer user_data)
{
  GstUpmHead *self = GST_UPM_HEAD (user_data);
  GstClockTime pts = GST_BUFFER_PTS (buf);
  GstMessage *msg;
  guint64 dropped, processed;

  GST_OBJECT_LOCK (self);
  dropped = ++self->dropped;
  processed = self->processed;
  GST_OBJECT_UNLOCK (self);

  GST_INFO_OBJECT (self,
      "queue full: dropped the clip at %" GST_TIME_FORMAT " (%" G_GUINT64_FORMAT
      " dropped)",
      GST_TIME_ARGS (pts), dropped);
  msg = gst_message_new_qos (GST_OBJECT (self), TRUE,
      gst_upm_head_running_time (&self->segment, pts),
      gst_upm_head_stream_time (&self->segment, pts), pts,
      GST_BUFFER_DURATION (buf));
  gst_message_set_qos_stats (msg, GST_FORMAT_BUFFERS, processed, dropped);
  gst_element_post_message (GST_ELEMENT (self), msg);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DROPPED]);
}

static gboolean
gst_upm_head_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstUpmHead *self = GST_UPM_HEAD (parent);

  GST_LOG_OBJECT (self, "sink event %" GST_PTR_FORMAT, event);
  switch (GST_EVENT_TYPE (event))
    {
    case GST_EVENT_FLUSH_START:
      return gst_upm_head_queue_flush_start (self->queue, event);

    case GST_EVENT_FLUSH_STOP:
      gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
      gst_upm_head_views_reset (&self->views);
      return gst_upm_head_queue_flush_stop (self->queue, event);

    case GST_EVENT_CAPS:
      {
        GstCaps *caps;

        gst_event_parse_caps (event, &caps);
        if (!gst_upm_head_check_caps (self, caps))
          {
            gst_event_unref (event);
            return FALSE;
          }
        /* The worker turns it into text caps in stream order. */
        return gst_upm_head_queue_push_event (self->queue, event);
      }

    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->segment);
      return gst_upm_head_queue_push_event (self->queue, event);

    case GST_EVENT_EOS:
      gst_upm_head_views_finish (&self->views, GST_ELEMENT (self));
      return gst_upm_head_queue_push_event (self->queue, event);

    case GST_EVENT_STREAM_START:
      gst_upm_head_queue_stream_start (self->queue);
      return gst_upm_head_queue_push_event (self->queue, event);

    default:
      /* EOS and all other serialized events follow the queued clips: EOS
       * goes downstream once every clip before it has been decoded. */
      if (GST_EVENT_IS_SERIALIZED (event))
        return gst_upm_head_queue_push_event (self->queue, event);
      return gst_pad_push_event (self->srcpad, event);
    }
}

static gboolean
gst_upm_head_src_activate_mode (
    GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active)
{
  GstUpmHead *self = GST_UPM_HEAD (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  return gst_upm_head_queue_activate (self->queue, active);
}

/* --------------------------- worker: call the library, attach metas, push */

static GstFlowReturn
gst_upm_head_process (GstUpmHead *self, GstBuffer *in)
{
  GstUpmHeadClipSettings clip;
  GstStructure *result = NULL;
  GstBuffer *out;
  GstFlowReturn ret;

  GST_OBJECT_LOCK (self);
  clip.format = self->text_format;
  clip.top_k = self->top_k;
  clip.batch_wait_us = self->batch_wait;
  clip.precision = self->precision;
  GST_OBJECT_UNLOCK (self);
  clip.modality = self->modality;
  clip.segment = &self->out_segment;
  clip.cancel = gst_upm_head_queue_cancel_flag (self->queue);

  out = gst_upm_head_task_run (
      &self->run, GST_ELEMENT (self), in, &clip, &result);
  gst_buffer_unref (in);
  if (out == NULL)
    return gst_upm_head_queue_cancelled (self->queue) ? GST_FLOW_FLUSHING
                                                      : GST_FLOW_ERROR;

  GST_OBJECT_LOCK (self);
  self->processed++;
  GST_OBJECT_UNLOCK (self);

  gst_element_post_message (
      GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), result));
  ret = gst_pad_push (self->srcpad, out);
  if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS)
    GST_ELEMENT_FLOW_ERROR (self, ret);
  return ret;
}

static GstFlowReturn
gst_upm_head_push_event (GstUpmHead *self, GstEvent *event)
{
  GstEventType type = GST_EVENT_TYPE (event);

  switch (type)
    {
    case GST_EVENT_CAPS:
      {
        GstCaps *caps;
        const gchar *modality;

        gst_event_parse_caps (event, &caps);
        modality = gst_structure_get_string (
            gst_caps_get_structure (caps, 0), "modality");
        g_free (self->modality);
        self->modality = g_strdup (modality);
        gst_event_unref (event);
        caps = gst_pad_get_pad_template_caps (self->srcpad);
        event = gst_event_new_caps (caps);
        gst_caps_unref (caps);
        break;
      }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->out_segment);
      break;
    default:
      break;
    }

  if (!gst_pad_push_event (self->srcpad, event) && type != GST_EVENT_EOS)
    GST_DEBUG_OBJECT (
        self, "downstream refused a %s event", gst_event_type_get_name (type));
  return type == GST_EVENT_EOS ? GST_FLOW_EOS : GST_FLOW_OK;
}

/* The worker's handler of each queued clip or event. */
static GstFlowReturn
gst_upm_head_handle (GstMiniObject *item, gpointer user_data)
{
  GstUpmHead *self = GST_UPM_HEAD (user_data);

  if (GST_IS_BUFFER (item))
    return gst_upm_head_process (self, GST_BUFFER_CAST (item));
  return gst_upm_head_push_event (self, GST_EVENT_CAST (item));
}

/* ------------------------------------------------------------------ state */

static GstStateChangeReturn
gst_upm_head_change_state (GstElement *element, GstStateChange transition)
{
  GstUpmHead *self = GST_UPM_HEAD (element);
  GstStateChangeReturn ret;
  gboolean settings_changed;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    {
      GST_OBJECT_LOCK (self);
      settings_changed = self->settings_changed && !self->slot.changed;
      self->dropped = self->processed = 0;
      GST_OBJECT_UNLOCK (self);
      /* Task properties changed in READY (a changed model prepares the task
       * again when it is reloaded). */
      if (settings_changed && !gst_upm_head_prepare_task (self))
        return GST_STATE_CHANGE_FAILURE;
      gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
      gst_segment_init (&self->out_segment, GST_FORMAT_UNDEFINED);
    }

  ret = gst_upm_model_slot_change_state (
      &self->slot, element, transition, GST_ELEMENT_CLASS (parent_class));

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    {
      g_clear_pointer (&self->modality, g_free);
      gst_upm_head_views_reset (&self->views);
    }
  return ret;
}

/* ------------------------------------------------------------- properties */

static void
gst_upm_head_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstUpmHead *self = GST_UPM_HEAD (object);
  gboolean post_latency = FALSE;

  if (gst_upm_model_slot_set_property (&self->slot, object, prop_id, value))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_TASK:
      self->task = g_value_get_enum (value);
      self->task_set = TRUE;
      self->settings_changed = TRUE;
      break;
    case PROP_PRESET:
      self->preset = g_value_get_enum (value);
      self->settings_changed = TRUE;
      break;
    case PROP_LENGTH_PENALTY:
      self->length_penalty = g_value_get_float (value);
      self->settings_changed = TRUE;
      break;
    case PROP_LABELS:
      g_free (self->labels);
      self->labels = g_value_dup_string (value);
      self->settings_changed = TRUE;
      break;
    case PROP_LABELS_FILE:
      g_free (self->labels_file);
      self->labels_file = g_value_dup_string (value);
      self->settings_changed = TRUE;
      break;
    case PROP_TOP_K:
      self->top_k = g_value_get_uint (value);
      break;
    case PROP_BEAM_SIZE:
      self->beam_size = g_value_get_uint (value);
      self->settings_changed = TRUE;
      break;
    case PROP_MAX_LENGTH:
      self->max_length = g_value_get_uint (value);
      self->settings_changed = TRUE;
      break;
    case PROP_MAX_PENDING:
      self->max_pending = g_value_get_uint (value);
      break;
    case PROP_PROCESSING_LATENCY:
      post_latency = self->processing_latency != g_value_get_uint64 (value);
      self->processing_latency = g_value_get_uint64 (value);
      break;
    case PROP_TEXT_FORMAT:
      self->text_format = g_value_get_enum (value);
      break;
    case PROP_BATCH_WAIT:
      self->batch_wait = g_value_get_uint (value);
      break;
    case PROP_PRECISION:
      self->precision = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
  GST_OBJECT_UNLOCK (self);

  if (prop_id == PROP_MAX_PENDING)
    gst_upm_head_queue_set_max_pending (self->queue, g_value_get_uint (value));
  if (post_latency)
    gst_element_post_message (
        GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
}

static void
gst_upm_head_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstUpmHead *self = GST_UPM_HEAD (object);

  if (gst_upm_model_slot_get_property (&self->slot, object, prop_id, value))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_TASK:
      g_value_set_enum (value, gst_upm_head_effective_task (self));
      break;
    case PROP_PRESET:
      g_value_set_enum (value, self->preset);
      break;
    case PROP_LENGTH_PENALTY:
      g_value_set_float (value, self->length_penalty);
      break;
    case PROP_LABELS:
      g_value_set_string (value, self->labels);
      break;
    case PROP_LABELS_FILE:
      g_value_set_string (value, self->labels_file);
      break;
    case PROP_TOP_K:
      g_value_set_uint (value, self->top_k);
      break;
    case PROP_BEAM_SIZE:
      g_value_set_uint (value, self->beam_size);
      break;
    case PROP_MAX_LENGTH:
      g_value_set_uint (value, self->max_length);
      break;
    case PROP_MAX_PENDING:
      g_value_set_uint (value, self->max_pending);
      break;
    case PROP_DROPPED:
      g_value_set_uint64 (value, self->dropped);
      break;
    case PROP_PROCESSING_LATENCY:
      g_value_set_uint64 (value, self->processing_latency);
      break;
    case PROP_TEXT_FORMAT:
      g_value_set_enum (value, self->text_format);
      break;
    case PROP_BATCH_WAIT:
      g_value_set_uint (value, self->batch_wait);
      break;
    case PROP_PRECISION:
      g_value_set_enum (value, self->precision);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_upm_head_finalize (GObject *object)
{
  GstUpmHead *self = GST_UPM_HEAD (object);

  gst_upm_model_slot_clear (&self->slot, GST_ELEMENT (self));
  gst_upm_head_views_reset (&self->views);
  gst_upm_head_queue_free (self->queue);
  g_free (self->modality);
  g_free (self->labels);
  g_free (self->labels_file);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_upm_head_class_init (GstUpmHeadClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags rw
      = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_DOC_SHOW_DEFAULT;

  GST_DEBUG_CATEGORY_INIT (
      gst_upm_head_debug, "upmhead", 0, "Uni-Perceiver task head");

  gobject_class->set_property = gst_upm_head_set_property;
  gobject_class->get_property = gst_upm_head_get_property;
  gobject_class->finalize = gst_upm_head_finalize;

  /**
   * GstUpmHead:model:
   *
   * The Uni-Perceiver model file; NULL for the bundled default. Elements
   * of a pipeline that name the same file share one loaded model.
   */
  properties[PROP_MODEL] = gst_upm_model_param_spec (NULL);

  /**
   * GstUpmHead:task:
   *
   * The task; upstream upmtransformer (task=auto) follows it through the
   * caps.
   */
  properties[PROP_TASK] = g_param_spec_enum ("task", "Task",
      "What to output for each clip: the best labels (classify), the best "
      "matching texts (retrieve) or a caption. Unset: the preset's task "
      "(classify for the default preset)",
      GST_TYPE_UPM_TASK, DEFAULT_TASK, rw | GST_PARAM_MUTABLE_READY);

  /**
   * GstUpmHead:labels:
   *
   * Comma-separated labels of classification (or texts of retrieval).
   * Whitespace around the items is trimmed; empty items are an error.
   * "@NAME" names a label set: the model's bundled set NAME, else
   * NAME.txt of the official sets (data/labels: @k400, @k700, @imagenet,
   * @moments; $UPM_LABELS_DIR first).
   * Exclusive with #GstUpmHead:labels-file. When neither is set, the
   * model's first bundled label set is used.
   */
  properties[PROP_LABELS] = g_param_spec_string ("labels", "Labels",
      "Comma-separated labels to classify with (or texts to retrieve), e.g. "
      "\"walking, running, jumping\", or @NAME for a label set such as "
      "@k400; unset: a prompt-tuned classifier's own classes, scored by its "
      "head, else the model's first label set",
      NULL, rw | GST_PARAM_MUTABLE_READY);

  /**
   * GstUpmHead:labels-file:
   *
   * A UTF-8 text file with one label (or retrieval text) per line; blank
   * lines are skipped. Exclusive with #GstUpmHead:labels.
   */
  properties[PROP_LABELS_FILE] = g_param_spec_string ("labels-file",
      "Labels file", "UTF-8 file with one label (or retrieval text) per line",
      NULL, rw | GST_PARAM_MUTABLE_READY);

  properties[PROP_TOP_K] = g_param_spec_uint ("top-k", "Top k",
      "Number of best labels in the result meta and message", 1, G_MAXINT,
      DEFAULT_TOP_K, rw | GST_PARAM_MUTABLE_PLAYING);

  properties[PROP_BEAM_SIZE] = g_param_spec_uint ("beam-size", "Beam size",
      "Beam width of caption decoding (0: from the preset, else the "
      "model's default)",
      0, MAX_BEAM_SIZE, DEFAULT_BEAM_SIZE, rw | GST_PARAM_MUTABLE_READY);

  properties[PROP_MAX_LENGTH]
      = g_param_spec_uint ("max-length", "Maximum length",
          "Maximum caption length in tokens (0: from the preset, else the "
          "model's default)",
          0, MAX_LENGTH, DEFAULT_MAX_LENGTH, rw | GST_PARAM_MUTABLE_READY);

  /**
   * GstUpmHead:max-pending:
   *
   * Clips that may wait for the worker. When the queue is full, a
   * non-live stream waits; a live stream drops the oldest waiting clip.
   */
  properties[PROP_MAX_PENDING] = g_param_spec_uint ("max-pending",
      "Maximum pending",
      "Clips that may wait for the decoder; when full, live streams drop the "
      "oldest one and others wait",
      1, MAX_PENDING, DEFAULT_MAX_PENDING, rw | GST_PARAM_MUTABLE_PLAYING);

  properties[PROP_DROPPED] = g_param_spec_uint64 ("dropped", "Dropped",
      "Clips dropped because the queue was full on a live stream", 0,
      G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  properties[PROP_PROCESSING_LATENCY]
      = g_param_spec_uint64 ("processing-latency", "Processing latency",
          "Time allowed for computing a result (ns), added to the reported "
          "latency",
          0, G_MAXUINT64, DEFAULT_PROCESSING_LATENCY,
          rw | GST_PARAM_MUTABLE_PLAYING);

  properties[PROP_TEXT_FORMAT]
      = g_param_spec_enum ("text-format", "Text format",
          "What the text buffers hold", GST_TYPE_UPM_HEAD_TEXT_FORMAT,
          DEFAULT_TEXT_FORMAT, rw | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstUpmHead:preset:
   *
   * The official evaluation settings of a benchmark (upmtokenizer samples
   * its clips with the same preset; upmbin sets both): the task, the logit
   * scale of the scores (a retrieval preset: the plain cosine), beam
   * size, maximum length and length penalty of captions.
   */
  properties[PROP_PRESET] = g_param_spec_enum ("preset", "Preset",
      "Task, score scale and caption settings of a benchmark (k400, "
      "msvd-caption, imagenet, ...) or default; task, beam-size, max-length "
      "and length-penalty override it where set",
      GST_TYPE_UPM_PRESET, DEFAULT_PRESET, rw | GST_PARAM_MUTABLE_READY);

  properties[PROP_LENGTH_PENALTY]
      = g_param_spec_float ("length-penalty", "Length penalty",
          "Caption length penalty: the log-probability is divided by "
          "length^penalty once at the end (-1: from the preset, else the "
          "model's default)",
          -1.0f, MAX_LENGTH_PENALTY, DEFAULT_LENGTH_PENALTY,
          rw | GST_PARAM_MUTABLE_READY);

  /**
   * GstUpmHead:batch-wait:
   *
   * Streams of one model in one process batch their caption decode steps:
   * a step waits at most this long (µs) for the steps of the other
   * streams, then the beams of all that are ready run as one GEMM per
   * linear layer (captions unchanged). A lone stream runs at once. 0: no
   * batching.
   */
  properties[PROP_BATCH_WAIT] = gst_upm_batch_wait_param_spec ();

  /**
   * GstUpmHead:precision:
   *
   * The engine precision of what upmhead computes itself: the caption
   * decoding steps (the clip's prefix is encoded in upmtransformer's).
   * The caption meta and the "upm-result" message record the precision
   * used; a result meta records the precision its features were encoded
   * in (upmtransformer's). Takes effect at the next clip.
   */
  properties[PROP_PRECISION] = gst_upm_precision_param_spec (
      "Engine precision of the caption decoding (auto: UPM_PRECISION, else "
      "the library's choice for this CPU); results record the one used");

  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Uni-Perceiver head",
      "Filter/Analyzer/Video",
      "Classifies, retrieves or captions clips from the Uni-Perceiver hidden "
      "state; outputs timed text, result metas and bus messages",
      "gst-uniperceiver authors");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_upm_head_change_state);

  gst_type_mark_as_plugin_api (GST_TYPE_UPM_HEAD_TEXT_FORMAT, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_UPM_TASK, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_UPM_PRESET, 0);
}

static void
gst_upm_head_init (GstUpmHead *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (
      self->sinkpad, GST_DEBUG_FUNCPTR (gst_upm_head_chain));
  gst_pad_set_event_function (
      self->sinkpad, GST_DEBUG_FUNCPTR (gst_upm_head_sink_event));
  gst_pad_set_query_function (
      self->sinkpad, GST_DEBUG_FUNCPTR (gst_upm_head_sink_query));
  /* Accept any caps of the template; the event handler explains what does
   * not fit the task or model. */
  GST_PAD_SET_ACCEPT_TEMPLATE (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (
      self->srcpad, GST_DEBUG_FUNCPTR (gst_upm_head_src_query));
  gst_pad_set_activatemode_function (
      self->srcpad, GST_DEBUG_FUNCPTR (gst_upm_head_src_activate_mode));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->task = DEFAULT_TASK;
  self->top_k = DEFAULT_TOP_K;
  self->batch_wait = GST_UPM_DEFAULT_BATCH_WAIT;
  self->beam_size = DEFAULT_BEAM_SIZE;
  self->max_length = DEFAULT_MAX_LENGTH;
  self->max_pending = DEFAULT_MAX_PENDING;
  self->processing_latency = DEFAULT_PROCESSING_LATENCY;
  self->text_format = DEFAULT_TEXT_FORMAT;
  self->preset = DEFAULT_PRESET;
  self->length_penalty = DEFAULT_LENGTH_PENALTY;
  self->precision = UPM_PRECISION_AUTO;

  gst_upm_model_slot_init (
      &self->slot, PROP_MODEL, gst_upm_head_opened, gst_upm_head_closing);
  self->queue = gst_upm_head_queue_new (self->sinkpad, self->srcpad,
      self->max_pending, gst_upm_head_handle, gst_upm_head_dropped, self);
  gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
  gst_segment_init (&self->out_segment, GST_FORMAT_UNDEFINED);
}
