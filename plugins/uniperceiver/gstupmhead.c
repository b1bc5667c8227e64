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
 * as an element message "upm-result" on the bus.
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
#include "gstupmtransformer.h"

GST_DEBUG_CATEGORY_STATIC (gst_upm_head_debug);
#define GST_CAT_DEFAULT gst_upm_head_debug

#define DEFAULT_TASK GST_UPM_TASK_CLASSIFY
#define DEFAULT_TOP_K 3
#define DEFAULT_BEAM_SIZE 0
#define DEFAULT_MAX_LENGTH 0
#define DEFAULT_MAX_PENDING 2
#define DEFAULT_PROCESSING_LATENCY (200 * GST_MSECOND)
#define DEFAULT_TEXT_FORMAT GST_UPM_HEAD_TEXT_FORMAT_LABEL_SCORE

#define MAX_BEAM_SIZE 64
#define MAX_LENGTH 1024
#define MAX_PENDING 1024

struct _GstUpmHead
{
  GstElement parent;

  GstPad *sinkpad, *srcpad;

  /* properties, GST_OBJECT_LOCK */
  gchar *model_path;
  GstUpmTask task;
  gchar *labels;
  gchar *labels_file;
  guint top_k, beam_size, max_length, max_pending;
  GstClockTime processing_latency;
  GstUpmHeadTextFormat text_format;
  guint64 dropped, processed;
  gboolean model_changed, settings_changed;

  /* READY and above; model and dim also under GST_OBJECT_LOCK for queries */
  UpmModel *model;
  guint dim;
  UpmContext *ctx; /* used by the worker only */
  GstUpmTask run_task;
  gchar **label_list;
  guint n_labels;
  gfloat *label_features; /* n_labels x D */
  UpmCaptionParams caption_params;
  /* raised (atomically) by flushes and stops: the caption being decoded is
   * abandoned at its next beam step instead of finished */
  gint cancel;

  /* queue between the chain function and the worker, under lock */
  GMutex lock;
  GCond cond;
  GQueue queue;    /* GstBuffer (clips) and serialized GstEvent */
  guint n_pending; /* buffers in the queue */
  gboolean busy;   /* the worker holds an item */
  GstFlowReturn srcresult;
  gboolean live, live_known;

  /* streaming thread */
  GstSegment segment;

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

static void gst_upm_head_loop (gpointer data);
static void push_gap (GstUpmHead *self, GstEvent *gap);

GType
gst_upm_head_text_format_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GST_UPM_HEAD_TEXT_FORMAT_LABEL, "The best label, or the caption",
        "label" },
    { GST_UPM_HEAD_TEXT_FORMAT_LABEL_SCORE,
        "The best label and its probability, e.g. \"moving left (0.93)\", "
        "or the caption",
        "label-score" },
    { GST_UPM_HEAD_TEXT_FORMAT_JSON,
        "All results, timing and routing as one JSON object", "json" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type))
    {
      GType t = g_enum_register_static ("GstUpmHeadTextFormat", values);
      g_once_init_leave (&type, t);
    }
  return (GType)type;
}

/* ---------------------------------------------------------------- labels */

/* Splits @text at @sep, trims each item; @what names the source in errors.
 * Empty items are an error when @allow_empty is FALSE, else skipped. */
static gchar **
split_labels (GstUpmHead *self, const gchar *text, const gchar *sep,
    gboolean allow_empty, guint *n_labels, gchar **problem)
{
  gchar **parts = g_strsplit (text, sep, -1);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  guint i;

  for (i = 0; parts[i] != NULL; i++)
    {
      gchar *s = g_strstrip (parts[i]);

      if (*s == '\0')
        {
          if (allow_empty)
            continue;
          *problem
              = g_strdup_printf ("item %u of \"%s\" is empty", i + 1, text);
          g_strfreev (parts);
          g_ptr_array_free (out, TRUE);
          return NULL;
        }
      g_ptr_array_add (out, g_strdup (s));
    }
  g_strfreev (parts);
  *n_labels = out->len;
  g_ptr_array_set_free_func (out, NULL);
  g_ptr_array_add (out, NULL);
  return (gchar **)g_ptr_array_free (out, FALSE);
}

static gchar **
read_labels_file (GstUpmHead *self, const gchar *path, guint *n_labels)
{
  GError *err = NULL;
  gchar *contents = NULL, *problem = NULL;
  const gchar *end;
  gsize len = 0;
  gchar **labels;

  if (!g_file_get_contents (path, &contents, &len, &err))
    {
      if (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
            ("The labels file \"%s\" does not exist.", path),
            ("%s", err->message));
      else
        GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
            ("Could not read the labels file \"%s\".", path),
            ("%s", err->message));
      g_clear_error (&err);
      return NULL;
    }
  if (!g_utf8_validate (contents, len, &end))
    {
      guint line = 1;
      const gchar *p;

      for (p = contents; p < end; p++)
        line += *p == '\n';
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("The labels file \"%s\" is not valid UTF-8 (line %u).", path, line),
          ("invalid byte at offset %" G_GSIZE_FORMAT, (gsize)(end - contents)));
      g_free (contents);
      return NULL;
    }
  labels = split_labels (self, contents, "\n", TRUE, n_labels, &problem);
  g_free (contents);
  if (labels != NULL && *n_labels == 0)
    {
      GST_ELEMENT_ERROR (self, RESOURCE, READ,
          ("The labels file \"%s\" has no labels.", path),
          ("one label per line, UTF-8"));
      g_strfreev (labels);
      return NULL;
    }
  return labels;
}

/* The labels of classification / the texts of retrieval: labels-file,
 * labels, else the model's first bundled label set. */
static gchar **
gst_upm_head_resolve_labels (GstUpmHead *self, const gchar *labels,
    const gchar *labels_file, guint *n_labels)
{
  gchar *problem = NULL;
  gchar **list;

  if (labels != NULL && labels_file != NULL)
    {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("The labels and labels-file properties are exclusive."),
          ("labels=\"%s\", labels-file=\"%s\"", labels, labels_file));
      return NULL;
    }
  if (labels_file != NULL)
    return read_labels_file (self, labels_file, n_labels);
  if (labels != NULL)
    {
      list = split_labels (self, labels, ",", FALSE, n_labels, &problem);
      if (list == NULL || *n_labels == 0)
        {
          GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
              ("Invalid labels: %s.", problem ? problem : "no labels"),
              ("labels is a comma-separated list such as \"walking, "
               "running, jumping\""));
          g_free (problem);
          g_strfreev (list);
          return NULL;
        }
      return list;
    }
  if (upm_model_n_labelsets (self->model) > 0)
    {
      const gchar *name = upm_model_labelset_name (self->model, 0);
      const gchar *const *bundled
          = upm_model_labelset_labels (self->model, name, n_labels);

      if (bundled != NULL && *n_labels > 0)
        {
          GST_INFO_OBJECT (self, "using the model's label set \"%s\"", name);
          return g_strdupv ((gchar **)bundled);
        }
    }
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
      ("No labels to %s with.",
          self->run_task == GST_UPM_TASK_RETRIEVE ? "retrieve" : "classify"),
      ("set labels=\"a, b, c\" or labels-file=FILE (one label per line); the "
       "model \"%s\" bundles no label set",
          upm_model_path (self->model)));
  return NULL;
}

/* ----------------------------------------------------------------- model */

static void
gst_upm_head_clear_task (GstUpmHead *self)
{
  g_clear_pointer (&self->label_list, g_strfreev);
  g_clear_pointer (&self->label_features, g_free);
  self->n_labels = 0;
}

/* Labels and their features, or the vocabulary features, of the task. */
static gboolean
gst_upm_head_prepare_task (GstUpmHead *self)
{
  const UpmHParams *hp = upm_model_hparams (self->model);
  GError *err = NULL;
  gchar *labels, *labels_file;
  guint beam_size, max_length;

  GST_OBJECT_LOCK (self);
  self->run_task = self->task;
  labels = g_strdup (self->labels);
  labels_file = g_strdup (self->labels_file);
  beam_size = self->beam_size;
  max_length = self->max_length;
  self->settings_changed = FALSE;
  GST_OBJECT_UNLOCK (self);

  gst_upm_head_clear_task (self);

  if (self->run_task == GST_UPM_TASK_CAPTION)
    {
      g_free (labels);
      g_free (labels_file);
      if (max_length > hp->n_text_ctx)
        {
          GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
              ("max-length %u is longer than the text context of the model "
               "\"%s\" (%u tokens).",
                  max_length, upm_model_path (self->model), hp->n_text_ctx),
              ("set max-length to 0 (model default, %u) .. %u",
                  hp->caption_max_length, hp->n_text_ctx));
          return FALSE;
        }
      self->caption_params.beam_size = beam_size;
      self->caption_params.max_length = max_length;
      self->caption_params.length_penalty = -1.0f;
      /* Computed once per model, cached by the library (and on disk). */
      if (upm_model_vocab_features (self->model, NULL, NULL, &err) == NULL)
        {
          GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
              ("Could not compute the vocabulary features of the model "
               "\"%s\".",
                  upm_model_path (self->model)),
              ("%s", err ? err->message : "unknown error"));
          g_clear_error (&err);
          return FALSE;
        }
      return TRUE;
    }

  self->label_list = gst_upm_head_resolve_labels (
      self, labels, labels_file, &self->n_labels);
  g_free (labels);
  g_free (labels_file);
  if (self->label_list == NULL)
    return FALSE;

  self->label_features = g_new (gfloat, (gsize)self->n_labels * hp->n_embd);
  if (!upm_model_text_features (self->model,
          (const char *const *)self->label_list, self->n_labels,
          self->run_task == GST_UPM_TASK_RETRIEVE ? UPM_ATTR_RETRIEVAL_TARGET
                                                  : UPM_ATTR_CLS_TARGET,
          self->label_features, &err))
    {
      GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
          ("Could not compute the features of the %u labels.", self->n_labels),
          ("%s", err ? err->message : "unknown error"));
      g_clear_error (&err);
      gst_upm_head_clear_task (self);
      return FALSE;
    }
  GST_INFO_OBJECT (self, "%s with %u labels",
      gst_upm_task_nick (self->run_task), self->n_labels);
  return TRUE;
}

static void
gst_upm_head_close (GstUpmHead *self)
{
  UpmModel *model;

  gst_upm_head_clear_task (self);
  g_clear_pointer (&self->ctx, upm_context_free);
  GST_OBJECT_LOCK (self);
  model = g_steal_pointer (&self->model);
  self->dim = 0;
  GST_OBJECT_UNLOCK (self);
  if (model != NULL)
    upm_model_unref (model);
}

static gboolean
gst_upm_head_open (GstUpmHead *self)
{
  gchar *path;
  UpmModel *model;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  self->model_changed = FALSE;
  GST_OBJECT_UNLOCK (self);

  model = gst_upm_element_open_model (GST_ELEMENT (self), path);
  g_free (path);
  if (model == NULL)
    return FALSE;

  self->ctx = upm_context_new (model);
  GST_OBJECT_LOCK (self);
  self->model = model;
  self->dim = upm_model_hparams (model)->n_embd;
  GST_OBJECT_UNLOCK (self);

  if (!gst_upm_head_prepare_task (self))
    {
      gst_upm_head_close (self);
      return FALSE;
    }
  return TRUE;
}

/* ----------------------------------------------------------------- queue */

/* With the lock: drop everything queued. */
static void
gst_upm_head_flush_queue (GstUpmHead *self)
{
  GstMiniObject *item;

  while ((item = g_queue_pop_head (&self->queue)) != NULL)
    gst_mini_object_unref (item);
  self->n_pending = 0;
}

/* Queues a serialized event behind the clips before it. */
static gboolean
gst_upm_head_enqueue_event (GstUpmHead *self, GstEvent *event)
{
  g_mutex_lock (&self->lock);
  if (self->srcresult != GST_FLOW_OK)
    {
      GstFlowReturn ret = self->srcresult;

      g_mutex_unlock (&self->lock);
      GST_DEBUG_OBJECT (self, "dropping %" GST_PTR_FORMAT " (%s)", event,
          gst_flow_get_name (ret));
      gst_event_unref (event);
      return FALSE;
    }
  if (GST_EVENT_TYPE (event) == GST_EVENT_GAP)
    push_gap (self, event);
  else
    g_queue_push_tail (&self->queue, event);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* Waits until the worker has handled everything queued. */
static void
gst_upm_head_drain (GstUpmHead *self)
{
  g_mutex_lock (&self->lock);
  while (self->srcresult == GST_FLOW_OK
         && (!g_queue_is_empty (&self->queue) || self->busy))
    g_cond_wait (&self->cond, &self->lock);
  g_mutex_unlock (&self->lock);
}

static gboolean
gst_upm_head_query_live (GstUpmHead *self)
{
  GstQuery *query = gst_query_new_latency ();
  gboolean live = FALSE;

  if (gst_pad_peer_query (self->sinkpad, query))
    gst_query_parse_latency (query, &live, NULL, NULL);
  gst_query_unref (query);
  GST_DEBUG_OBJECT (self, "upstream is %slive", live ? "" : "not ");
  return live;
}

static gboolean
is_gap (gconstpointer item)
{
  return GST_IS_EVENT (item) && GST_EVENT_TYPE (item) == GST_EVENT_GAP;
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

/* With the lock: queues a gap after the others, merged with a gap at the
 * tail, so that a slow worker never collects a growing run of gaps. */
static void
push_gap (GstUpmHead *self, GstEvent *gap)
{
  GList *tail = self->queue.tail;
  GstClockTime ts, dur;

  gst_event_parse_gap (gap, &ts, &dur);
  if (tail != NULL && is_gap (tail->data))
    {
      tail->data = extend_gap (
          tail->data, ts, GST_CLOCK_TIME_IS_VALID (dur) ? ts + dur : ts);
      gst_event_unref (gap);
    }
  else
    g_queue_push_tail (&self->queue, gap);
}

/* With the lock, queue full on a live stream: removes the oldest waiting
 * clip and returns it. Nothing takes its place: a gap event there would make
 * a synchronised sink hold the worker until the gap's time, when the worker
 * is already late. */
static GstBuffer *
gst_upm_head_drop_oldest (GstUpmHead *self)
{
  GList *l;

  for (l = self->queue.head; l != NULL; l = l->next)
    {
      if (GST_IS_BUFFER (l->data))
        {
          GstBuffer *buf = l->data;

          g_queue_delete_link (&self->queue, l);
          self->n_pending--;
          return buf;
        }
    }
  return NULL;
}

static GstClockTime
running_time (const GstSegment *segment, GstClockTime ts)
{
  if (segment->format != GST_FORMAT_TIME || !GST_CLOCK_TIME_IS_VALID (ts))
    return GST_CLOCK_TIME_NONE;
  return gst_segment_to_running_time (segment, GST_FORMAT_TIME, ts);
}

static GstClockTime
stream_time (const GstSegment *segment, GstClockTime ts)
{
  if (segment->format != GST_FORMAT_TIME || !GST_CLOCK_TIME_IS_VALID (ts))
    return GST_CLOCK_TIME_NONE;
  return gst_segment_to_stream_time (segment, GST_FORMAT_TIME, ts);
}

static void
gst_upm_head_post_qos (GstUpmHead *self, GstBuffer *buf)
{
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
      running_time (&self->segment, pts), stream_time (&self->segment, pts),
      pts, GST_BUFFER_DURATION (buf));
  gst_message_set_qos_stats (msg, GST_FORMAT_BUFFERS, processed, dropped);
  gst_element_post_message (GST_ELEMENT (self), msg);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DROPPED]);
}

/* ------------------------------------------------------------- sink pad */

static GstFlowReturn
gst_upm_head_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstUpmHead *self = GST_UPM_HEAD (parent);
  GstBuffer *dropped = NULL;
  GstFlowReturn ret;
  guint max_pending;

  if (gst_buffer_get_size (buf) != (gsize)self->dim * sizeof (gfloat))
    {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("Invalid hidden state of %" G_GSIZE_FORMAT " bytes.",
              gst_buffer_get_size (buf)),
          ("one row of %u floats expected", self->dim));
      gst_buffer_unref (buf);
      return GST_FLOW_ERROR;
    }
  if (self->run_task == GST_UPM_TASK_CAPTION
      && gst_buffer_get_upm_prefix_meta (buf) == NULL)
    {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("The hidden state carries no caption prefix."),
          ("upmtransformer must run with task=caption (or auto) in front of "
           "upmhead task=caption"));
      gst_buffer_unref (buf);
      return GST_FLOW_ERROR;
    }

  GST_OBJECT_LOCK (self);
  max_pending = self->max_pending;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  while (
      (ret = self->srcresult) == GST_FLOW_OK && self->n_pending >= max_pending)
    {
      if (!self->live_known)
        {
          gboolean live;

          g_mutex_unlock (&self->lock);
          live = gst_upm_head_query_live (self);
          g_mutex_lock (&self->lock);
          self->live = live;
          self->live_known = TRUE;
          continue;
        }
      if (self->live)
        {
          dropped = gst_upm_head_drop_oldest (self);
          break;
        }
      GST_LOG_OBJECT (self, "queue full (%u clips), waiting", self->n_pending);
      g_cond_wait (&self->cond, &self->lock);
    }
  if (ret == GST_FLOW_OK)
    {
      g_queue_push_tail (&self->queue, buf);
      self->n_pending++;
      g_cond_broadcast (&self->cond);
    }
  g_mutex_unlock (&self->lock);

  if (ret != GST_FLOW_OK)
    {
      GST_DEBUG_OBJECT (self, "not queueing: %s", gst_flow_get_name (ret));
      gst_buffer_unref (buf);
    }
  if (dropped != NULL)
    {
      gst_upm_head_post_qos (self, dropped);
      gst_buffer_unref (dropped);
    }
  return ret;
}

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

  if (task == NULL || !gst_upm_task_from_nick (task, &t) || t != self->run_task)
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("upmhead runs task %s but receives hidden states for task %s.",
              gst_upm_task_nick (self->run_task), GST_STR_NULL (task)),
          ("set the task of upmtransformer to auto or %s",
              gst_upm_task_nick (self->run_task)));
      return FALSE;
    }
  if (!gst_structure_get_int (s, "dim", &dim) || (guint)dim != self->dim)
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("Hidden states of width %d do not fit the model \"%s\" (D = %u).",
              dim, upm_model_path (self->model), self->dim),
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

static gboolean
gst_upm_head_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstUpmHead *self = GST_UPM_HEAD (parent);
  gboolean ret;

  GST_LOG_OBJECT (self, "sink event %" GST_PTR_FORMAT, event);
  switch (GST_EVENT_TYPE (event))
    {
    case GST_EVENT_FLUSH_START:
      g_atomic_int_set (&self->cancel, 1);
      /* Downstream first, so that a worker blocked in a push returns. */
      ret = gst_pad_push_event (self->srcpad, event);
      g_mutex_lock (&self->lock);
      self->srcresult = GST_FLOW_FLUSHING;
      gst_upm_head_flush_queue (self);
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      /* A caption being decoded stops at its next beam step (cancel), then
       * the worker pauses. */
      gst_pad_pause_task (self->srcpad);
      return ret;

    case GST_EVENT_FLUSH_STOP:
      g_atomic_int_set (&self->cancel, 0);
      g_mutex_lock (&self->lock);
      gst_upm_head_flush_queue (self);
      self->srcresult = GST_FLOW_OK;
      self->live_known = FALSE;
      g_mutex_unlock (&self->lock);
      gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
      ret = gst_pad_push_event (self->srcpad, event);
      if (GST_PAD_IS_ACTIVE (self->srcpad))
        gst_pad_start_task (self->srcpad, gst_upm_head_loop, self, NULL);
      return ret;

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
        return gst_upm_head_enqueue_event (self, event);
      }

    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->segment);
      return gst_upm_head_enqueue_event (self, event);

    case GST_EVENT_STREAM_START:
      g_mutex_lock (&self->lock);
      self->live_known = FALSE;
      if (self->srcresult == GST_FLOW_EOS)
        {
          /* A new stream after EOS. */
          self->srcresult = GST_FLOW_OK;
          g_mutex_unlock (&self->lock);
          gst_pad_start_task (self->srcpad, gst_upm_head_loop, self, NULL);
        }
      else
        g_mutex_unlock (&self->lock);
      return gst_upm_head_enqueue_event (self, event);

    default:
      /* EOS and all other serialized events follow the queued clips: EOS
       * goes downstream once every clip before it has been decoded. */
      if (GST_EVENT_IS_SERIALIZED (event))
        return gst_upm_head_enqueue_event (self, event);
      return gst_pad_push_event (self->srcpad, event);
    }
}

static GstCaps *
gst_upm_head_sink_caps (GstUpmHead *self, GstCaps *filter)
{
  GstCaps *caps = gst_pad_get_pad_template_caps (self->sinkpad);
  GstUpmTask task;
  guint dim, i;

  GST_OBJECT_LOCK (self);
  task = self->task;
  dim = self->dim;
  GST_OBJECT_UNLOCK (self);

  caps = gst_caps_make_writable (caps);
  for (i = 0; i < gst_caps_get_size (caps); i++)
    {
      GstStructure *s = gst_caps_get_structure (caps, i);

      gst_structure_set (
          s, "task", G_TYPE_STRING, gst_upm_task_nick (task), NULL);
      if (dim > 0)
        gst_structure_set (s, "dim", G_TYPE_INT, (gint)dim, NULL);
      if (task == GST_UPM_TASK_CAPTION)
        {
          GValue list = G_VALUE_INIT, v = G_VALUE_INIT;

          gst_value_list_init (&list, 2);
          g_value_init (&v, G_TYPE_STRING);
          g_value_set_static_string (&v, "video");
          gst_value_list_append_value (&list, &v);
          g_value_set_static_string (&v, "image");
          gst_value_list_append_value (&list, &v);
          g_value_unset (&v);
          gst_structure_take_value (s, "modality", &list);
        }
    }
  if (filter != NULL)
    {
      GstCaps *tmp
          = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
      gst_caps_unref (caps);
      caps = tmp;
    }
  return caps;
}

static gboolean
gst_upm_head_context_query (GstUpmHead *self, GstQuery *query)
{
  UpmModel *model = NULL;
  gboolean handled;

  GST_OBJECT_LOCK (self);
  if (self->model != NULL)
    model = upm_model_ref (self->model);
  GST_OBJECT_UNLOCK (self);
  handled = gst_upm_handle_context_query (GST_ELEMENT (self), query, model);
  if (model != NULL)
    upm_model_unref (model);
  return handled;
}

static gboolean
gst_upm_head_sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstUpmHead *self = GST_UPM_HEAD (parent);

  switch (GST_QUERY_TYPE (query))
    {
    case GST_QUERY_CAPS:
      {
        GstCaps *filter, *caps;

        gst_query_parse_caps (query, &filter);
        caps = gst_upm_head_sink_caps (self, filter);
        gst_query_set_caps_result (query, caps);
        gst_caps_unref (caps);
        return TRUE;
      }
    case GST_QUERY_ALLOCATION:
      /* The output is text: nothing to propose for the hidden states. */
      return FALSE;
    case GST_QUERY_DRAIN:
      gst_upm_head_drain (self);
      return TRUE;
    case GST_QUERY_CONTEXT:
      if (gst_upm_head_context_query (self, query))
        return TRUE;
      return gst_pad_query_default (pad, parent, query);
    default:
      if (GST_QUERY_IS_SERIALIZED (query))
        gst_upm_head_drain (self);
      return gst_pad_query_default (pad, parent, query);
    }
}

/* -------------------------------------------------------------- src pad */

static gboolean
gst_upm_head_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstUpmHead *self = GST_UPM_HEAD (parent);

  switch (GST_QUERY_TYPE (query))
    {
    case GST_QUERY_LATENCY:
      {
        GstClockTime min, max, latency;
        gboolean live;
        guint pending;

        if (!gst_pad_peer_query (self->sinkpad, query))
          return FALSE;
        gst_query_parse_latency (query, &live, &min, &max);
        GST_OBJECT_LOCK (self);
        latency = self->processing_latency;
        pending = self->max_pending;
        GST_OBJECT_UNLOCK (self);

        min += latency;
        /* Up to max-pending clips wait while one is being processed. */
        if (GST_CLOCK_TIME_IS_VALID (max))
          max += latency * (pending + 1);
        GST_DEBUG_OBJECT (self,
            "latency: live %d, min %" GST_TIME_FORMAT ", max %" GST_TIME_FORMAT,
            live, GST_TIME_ARGS (min), GST_TIME_ARGS (max));
        gst_query_set_latency (query, live, min, max);

        g_mutex_lock (&self->lock);
        self->live = live;
        self->live_known = TRUE;
        g_mutex_unlock (&self->lock);
        return TRUE;
      }
    case GST_QUERY_CONTEXT:
      if (gst_upm_head_context_query (self, query))
        return TRUE;
      return gst_pad_query_default (pad, parent, query);
    default:
      return gst_pad_query_default (pad, parent, query);
    }
}

static gboolean
gst_upm_head_src_activate_mode (
    GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active)
{
  GstUpmHead *self = GST_UPM_HEAD (parent);
  gboolean ret;

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;

  if (active)
    {
      g_atomic_int_set (&self->cancel, 0);
      g_mutex_lock (&self->lock);
      self->srcresult = GST_FLOW_OK;
      self->busy = FALSE;
      self->live_known = FALSE;
      g_mutex_unlock (&self->lock);
      return gst_pad_start_task (pad, gst_upm_head_loop, self, NULL);
    }

  g_atomic_int_set (&self->cancel, 1);
  g_mutex_lock (&self->lock);
  self->srcresult = GST_FLOW_FLUSHING;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  /* Joins the worker; a caption being decoded is abandoned at its next beam
   * step. */
  ret = gst_pad_stop_task (pad);
  g_mutex_lock (&self->lock);
  gst_upm_head_flush_queue (self);
  g_mutex_unlock (&self->lock);
  return ret;
}

/* --------------------------------------------------------------- worker */

static void
set_string_array (
    GstStructure *s, const gchar *field, const GstUpmScore *scores, guint n)
{
  GValue arr = G_VALUE_INIT;
  guint i;

  gst_value_array_init (&arr, n);
  for (i = 0; i < n; i++)
    {
      GValue v = G_VALUE_INIT;

      g_value_init (&v, G_TYPE_STRING);
      g_value_set_string (&v, scores[i].label);
      gst_value_array_append_and_take_value (&arr, &v);
    }
  gst_structure_take_value (s, field, &arr);
}

static void
set_double_array (GstStructure *s, const gchar *field,
    const GstUpmScore *scores, guint n, gboolean probs)
{
  GValue arr = G_VALUE_INIT;
  guint i;

  gst_value_array_init (&arr, n);
  for (i = 0; i < n; i++)
    {
      GValue v = G_VALUE_INIT;

      g_value_init (&v, G_TYPE_DOUBLE);
      g_value_set_double (&v, probs ? scores[i].prob : scores[i].logit);
      gst_value_array_append_and_take_value (&arr, &v);
    }
  gst_structure_take_value (s, field, &arr);
}

static GstStructure *
result_structure (GstUpmHead *self, const gchar *task, GstBuffer *in)
{
  GstClockTime pts = GST_BUFFER_PTS (in);

  return gst_structure_new ("upm-result", "task", G_TYPE_STRING, task, "pts",
      G_TYPE_UINT64, pts, "duration", G_TYPE_UINT64, GST_BUFFER_DURATION (in),
      "running-time", G_TYPE_UINT64, running_time (&self->out_segment, pts),
      "stream-time", G_TYPE_UINT64, stream_time (&self->out_segment, pts),
      NULL);
}

/* The routing meta of @in on @out, plus @extra routes. */
static void
copy_routing (GstBuffer *out, GstBuffer *in, const UpmRouting *extra)
{
  GstUpmRoutingMeta *rin = gst_buffer_get_upm_routing_meta (in), *rout;

  if (rin == NULL)
    return;
  /* all of it: per-segment routes, per-token routes and the patch grid */
  rout = gst_buffer_copy_upm_routing_meta (out, rin);
  if (rout != NULL && extra != NULL)
    {
      guint n = 0;
      GstUpmRoute *routes = gst_upm_routes_from_library (extra, &n);

      if (n > 0)
        gst_upm_routing_meta_append (rout, routes, n);
      g_free (routes);
    }
}

static GstBuffer *
text_buffer (const gchar *text, GstBuffer *in)
{
  gsize len = text ? strlen (text) : 0;
  GstBuffer *out
      = len > 0 ? gst_buffer_new_memdup (text, len) : gst_buffer_new ();

  GST_BUFFER_PTS (out) = GST_BUFFER_PTS (in);
  GST_BUFFER_DTS (out) = GST_BUFFER_DTS (in);
  GST_BUFFER_DURATION (out) = GST_BUFFER_DURATION (in);
  return out;
}

/* Replaces the payload by the JSON of the buffer's metas. */
static GstBuffer *
to_json (GstBuffer *out)
{
  gchar *json = gst_upm_buffer_metas_to_json (out);

  if (json != NULL)
    {
      gst_buffer_replace_all_memory (
          out, gst_memory_new_wrapped (
                   0, json, strlen (json), 0, strlen (json), json, g_free));
    }
  return out;
}

static UpmScale
gst_upm_head_scale (GstUpmHead *self, GstBuffer *in)
{
  GstCustomMeta *clip;
  guint frames = 0;

  if (self->run_task == GST_UPM_TASK_RETRIEVE)
    return UPM_SCALE_RETRIEVE;
  if (self->modality == NULL || !g_str_equal (self->modality, "video"))
    return UPM_SCALE_IMG_CLS;
  clip = gst_buffer_get_custom_meta (in, GST_UPM_CLIP_META_NAME);
  if (clip != NULL
      && gst_structure_get_uint (
          gst_custom_meta_get_structure (clip), "frames", &frames)
      && frames == 1)
    return UPM_SCALE_IMG_CLS;
  return UPM_SCALE_VIDEO_CLS;
}

static GstBuffer *
gst_upm_head_score (GstUpmHead *self, GstBuffer *in, GstStructure **result)
{
  const UpmHParams *hp = upm_model_hparams (self->model);
  guint n = self->n_labels, k, i;
  gfloat *feature = g_new (gfloat, hp->n_embd);
  gfloat *logits = g_new (gfloat, n), *probs = g_new (gfloat, n);
  GstUpmHeadTextFormat format;
  const gchar *task;
  GstUpmScore *scores;
  UpmScore *top;
  GstBuffer *out;
  GstMapInfo map;
  gchar *text;

  GST_OBJECT_LOCK (self);
  k = MIN (self->top_k, n);
  format = self->text_format;
  GST_OBJECT_UNLOCK (self);

  gst_buffer_map (in, &map, GST_MAP_READ);
  upm_feature_from_hidden (self->ctx, (const gfloat *)map.data, feature);
  gst_buffer_unmap (in, &map);
  upm_classify (hp, feature, self->label_features, n,
      upm_model_logit_scale (self->model, gst_upm_head_scale (self, in)),
      logits, probs);
  top = g_new (UpmScore, k);
  upm_top_k (logits, probs, n, k, top);

  scores = g_new0 (GstUpmScore, k);
  for (i = 0; i < k; i++)
    {
      scores[i].label = self->label_list[top[i].index];
      scores[i].index = top[i].index;
      scores[i].logit = top[i].logit;
      scores[i].prob = top[i].prob;
    }

  if (format == GST_UPM_HEAD_TEXT_FORMAT_LABEL_SCORE)
    {
      gchar num[G_ASCII_DTOSTR_BUF_SIZE];

      g_ascii_formatd (num, sizeof num, "%.2f", scores[0].prob);
      text = g_strdup_printf ("%s (%s)", scores[0].label, num);
    }
  else
    text = g_strdup (scores[0].label);
  out = text_buffer (text, in);
  g_free (text);

  if (self->run_task == GST_UPM_TASK_RETRIEVE)
    task = "retrieve";
  else if (self->modality != NULL && g_str_equal (self->modality, "text"))
    task = "text-classify";
  else
    task = "classify";
  gst_buffer_add_upm_result_meta (
      out, task, GST_BUFFER_PTS (in), GST_BUFFER_DURATION (in), scores, k);
  copy_routing (out, in, NULL);
  if (format == GST_UPM_HEAD_TEXT_FORMAT_JSON)
    out = to_json (out);

  *result = result_structure (self, task, in);
  set_string_array (*result, "labels", scores, k);
  set_double_array (*result, "scores", scores, k, FALSE);
  set_double_array (*result, "probs", scores, k, TRUE);

  g_free (scores);
  g_free (top);
  g_free (probs);
  g_free (logits);
  g_free (feature);
  return out;
}

static GstBuffer *
gst_upm_head_caption (GstUpmHead *self, GstBuffer *in, GstStructure **result)
{
  GstUpmPrefixMeta *pm = gst_buffer_get_upm_prefix_meta (in);
  gboolean with_routing = gst_buffer_get_upm_routing_meta (in) != NULL;
  GstUpmHeadTextFormat format;
  UpmCaptionParams params;
  UpmCaption caption;
  UpmRouting routing;
  GError *err = NULL;
  GstBuffer *out;
  GValue ids = G_VALUE_INIT;
  guint i;

  if (pm->model != self->model)
    {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("The caption prefix was made with another model (\"%s\") than "
           "upmhead's (\"%s\").",
              upm_model_path (pm->model), upm_model_path (self->model)),
          ("give upmtransformer and upmhead the same model"));
      return NULL;
    }

  GST_OBJECT_LOCK (self);
  format = self->text_format;
  params = self->caption_params;
  GST_OBJECT_UNLOCK (self);
  params.cancel = &self->cancel;

  upm_routing_init (&routing);
  if (!upm_caption_decode (self->ctx, pm->prefix, &params, &caption,
          with_routing ? &routing : NULL, &err))
    {
      if (g_error_matches (err, UPM_ERROR, UPM_ERROR_CANCELLED))
        {
          /* flushing or stopping: no result for this clip, no error */
          GST_DEBUG_OBJECT (self,
              "caption of the clip at %" GST_TIME_FORMAT " cancelled",
              GST_TIME_ARGS (GST_BUFFER_PTS (in)));
          g_clear_error (&err);
          upm_routing_clear (&routing);
          return NULL;
        }
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("Could not decode the caption of the clip at %" GST_TIME_FORMAT ".",
              GST_TIME_ARGS (GST_BUFFER_PTS (in))),
          ("%s", err ? err->message : "unknown error"));
      g_clear_error (&err);
      upm_routing_clear (&routing);
      return NULL;
    }

  out = text_buffer (caption.text, in);
  gst_buffer_add_upm_caption_meta (out, caption.text ? caption.text : "",
      caption.ids, caption.n_ids, caption.score, GST_BUFFER_PTS (in),
      GST_BUFFER_DURATION (in));
  copy_routing (out, in, with_routing ? &routing : NULL);
  upm_routing_clear (&routing);
  if (format == GST_UPM_HEAD_TEXT_FORMAT_JSON)
    out = to_json (out);

  *result = result_structure (self, "caption", in);
  gst_value_array_init (&ids, caption.n_ids);
  for (i = 0; i < caption.n_ids; i++)
    {
      GValue v = G_VALUE_INIT;

      g_value_init (&v, G_TYPE_INT);
      g_value_set_int (&v, caption.ids[i]);
      gst_value_array_append_and_take_value (&ids, &v);
    }
  gst_structure_set (*result, "text", G_TYPE_STRING,
      caption.text ? caption.text : "", "score", G_TYPE_DOUBLE,
      (gdouble)caption.score, NULL);
  gst_structure_take_value (*result, "ids", &ids);

  GST_DEBUG_OBJECT (self, "caption at %" GST_TIME_FORMAT ": \"%s\"",
      GST_TIME_ARGS (GST_BUFFER_PTS (in)), GST_STR_NULL (caption.text));
  upm_caption_clear (&caption);
  return out;
}

static GstFlowReturn
gst_upm_head_process (GstUpmHead *self, GstBuffer *in)
{
  GstStructure *result = NULL;
  GstBuffer *out;
  GstFlowReturn ret;

  if (self->run_task == GST_UPM_TASK_CAPTION)
    out = gst_upm_head_caption (self, in, &result);
  else
    out = gst_upm_head_score (self, in, &result);
  gst_buffer_unref (in);
  if (out == NULL)
    return g_atomic_int_get (&self->cancel) ? GST_FLOW_FLUSHING
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

static void
gst_upm_head_loop (gpointer data)
{
  GstUpmHead *self = GST_UPM_HEAD (data);
  GstMiniObject *item;
  GstFlowReturn ret;

  g_mutex_lock (&self->lock);
  while (self->srcresult == GST_FLOW_OK && g_queue_is_empty (&self->queue))
    g_cond_wait (&self->cond, &self->lock);
  if (self->srcresult != GST_FLOW_OK)
    {
      GST_DEBUG_OBJECT (
          self, "pausing: %s", gst_flow_get_name (self->srcresult));
      g_mutex_unlock (&self->lock);
      gst_pad_pause_task (self->srcpad);
      return;
    }
  item = g_queue_pop_head (&self->queue);
  if (GST_IS_BUFFER (item))
    self->n_pending--;
  self->busy = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  if (GST_IS_BUFFER (item))
    ret = gst_upm_head_process (self, GST_BUFFER_CAST (item));
  else
    ret = gst_upm_head_push_event (self, GST_EVENT_CAST (item));

  g_mutex_lock (&self->lock);
  self->busy = FALSE;
  if (ret != GST_FLOW_OK && self->srcresult == GST_FLOW_OK)
    self->srcresult = ret;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* ----------------------------------------------------------------- state */

static GstStateChangeReturn
gst_upm_head_change_state (GstElement *element, GstStateChange transition)
{
  GstUpmHead *self = GST_UPM_HEAD (element);
  GstStateChangeReturn ret;
  gboolean model_changed, settings_changed;

  switch (transition)
    {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_upm_head_open (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      GST_OBJECT_LOCK (self);
      model_changed = self->model_changed;
      settings_changed = self->settings_changed;
      self->dropped = self->processed = 0;
      GST_OBJECT_UNLOCK (self);
      /* Properties changed in READY. */
      if (model_changed)
        {
          gst_upm_head_close (self);
          if (!gst_upm_head_open (self))
            return GST_STATE_CHANGE_FAILURE;
        }
      else if (settings_changed && !gst_upm_head_prepare_task (self))
        return GST_STATE_CHANGE_FAILURE;
      gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
      gst_segment_init (&self->out_segment, GST_FORMAT_UNDEFINED);
      break;
    default:
      break;
    }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  switch (transition)
    {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      g_clear_pointer (&self->modality, g_free);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      gst_upm_head_close (self);
      break;
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (ret == GST_STATE_CHANGE_FAILURE)
        gst_upm_head_close (self);
      break;
    default:
      break;
    }
  return ret;
}

/* ------------------------------------------------------------ properties */

static void
gst_upm_head_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstUpmHead *self = GST_UPM_HEAD (object);
  gboolean post_latency = FALSE;

  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      self->model_changed = TRUE;
      break;
    case PROP_TASK:
      self->task = g_value_get_enum (value);
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
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
  GST_OBJECT_UNLOCK (self);

  if (prop_id == PROP_MAX_PENDING)
    {
      /* A smaller queue takes effect at the next clip; a larger one may
       * unblock the chain function now. */
      g_mutex_lock (&self->lock);
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
    }
  if (post_latency)
    gst_element_post_message (
        GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
}

static void
gst_upm_head_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstUpmHead *self = GST_UPM_HEAD (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_TASK:
      g_value_set_enum (value, self->task);
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

  gst_upm_head_close (self);
  gst_upm_head_flush_queue (self);
  g_free (self->modality);
  g_free (self->model_path);
  g_free (self->labels);
  g_free (self->labels_file);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
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
  properties[PROP_MODEL] = g_param_spec_string ("model", "Model",
      "Path of the Uni-Perceiver model file (.upm); NULL for the bundled "
      "default model",
      NULL, rw | GST_PARAM_MUTABLE_READY);

  /**
   * GstUpmHead:task:
   *
   * The task; upstream upmtransformer (task=auto) follows it through the
   * caps.
   */
  properties[PROP_TASK] = g_param_spec_enum ("task", "Task",
      "What to output for each clip: the best labels (classify), the best "
      "matching texts (retrieve) or a caption",
      GST_TYPE_UPM_TASK, DEFAULT_TASK, rw | GST_PARAM_MUTABLE_READY);

  /**
   * GstUpmHead:labels:
   *
   * Comma-separated labels of classification (or texts of retrieval).
   * Whitespace around the items is trimmed; empty items are an error.
   * Exclusive with #GstUpmHead:labels-file. When neither is set, the
   * model's first bundled label set is used.
   */
  properties[PROP_LABELS] = g_param_spec_string ("labels", "Labels",
      "Comma-separated labels to classify with (or texts to retrieve), e.g. "
      "\"walking, running, jumping\"",
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
      "Beam width of caption decoding (0 = the model's default)", 0,
      MAX_BEAM_SIZE, DEFAULT_BEAM_SIZE, rw | GST_PARAM_MUTABLE_READY);

  properties[PROP_MAX_LENGTH]
      = g_param_spec_uint ("max-length", "Maximum length",
          "Maximum caption length in tokens (0 = the model's default)", 0,
          MAX_LENGTH, DEFAULT_MAX_LENGTH, rw | GST_PARAM_MUTABLE_READY);

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
  self->beam_size = DEFAULT_BEAM_SIZE;
  self->max_length = DEFAULT_MAX_LENGTH;
  self->max_pending = DEFAULT_MAX_PENDING;
  self->processing_latency = DEFAULT_PROCESSING_LATENCY;
  self->text_format = DEFAULT_TEXT_FORMAT;

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->queue);
  self->srcresult = GST_FLOW_FLUSHING;
  gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
  gst_segment_init (&self->out_segment, GST_FORMAT_UNDEFINED);
}
