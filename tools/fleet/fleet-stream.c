/* fleet-stream.c: one camera of upm-fleet.
 *
 * Each stream is its own pipeline, so a lost camera or an error stops only
 * that stream:
 *   uridecodebin uri=... ! videoconvert ! upmbin ... [! upmpublish ...]
 *     ! fakesink
 * All of them run on one loaded model: upmbin's elements share a model by
 * path (the plugin's process-wide cache), and their batch-wait batches the
 * linear layers of clips from different streams.
 *
 * Everything here runs on the main loop (bus watches, timers), except the
 * pad probe that notes when frames arrive.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fleet-stream.h"

#include <string.h>

#define FRAME_RING 256
#define RATE_WINDOW_US (10 * G_USEC_PER_SEC)
#define RATE_RING 512

const gdouble fleet_latency_bounds[FLEET_LATENCY_BUCKETS]
    = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };

typedef struct
{
  GstClockTime pts;
  gint64 arrived_us;
} FrameArrival;

struct _FleetStream
{
  FleetConfig *config; /* ref: @sc lives in it */
  FleetStreamConfig *sc;
  FleetStreamState state;
  FleetStreamStats stats;

  GstElement *pipeline, *bin, *publish;
  guint bus_watch, timer;
  guint failures; /* in a row, for the backoff */
  gboolean saw_frame;
  gint64 last_frame_us; /* under @lock: the streaming thread writes it */

  GMutex lock; /* the frame ring */
  FrameArrival frames[FRAME_RING];
  guint n_frames;

  gint64 result_times[RATE_RING];
  guint n_results;

  /* the element counters of pipelines already torn down */
  guint64 base_head_dropped, base_publish_ok, base_publish_dropped,
      base_publish_reconnects;

  FleetStreamDone done;
  gpointer done_data;
};

const gchar *
fleet_stream_state_name (FleetStreamState state)
{
  static const gchar *const names[]
      = { "running", "reconnecting", "draining", "finished", "stopped" };

  return names[state];
}

FleetStream *
fleet_stream_new (FleetConfig *config, FleetStreamConfig *sc)
{
  FleetStream *stream = g_new0 (FleetStream, 1);

  stream->config = fleet_config_ref (config);
  stream->sc = sc;
  stream->state = FLEET_STREAM_STOPPED;
  g_mutex_init (&stream->lock);
  return stream;
}

const gchar *
fleet_stream_name (const FleetStream *stream)
{
  return stream->sc->name;
}

const FleetStreamConfig *
fleet_stream_config (const FleetStream *stream)
{
  return stream->sc;
}

FleetStreamState
fleet_stream_state (const FleetStream *stream)
{
  return stream->state;
}

const FleetStreamStats *
fleet_stream_stats (const FleetStream *stream)
{
  return &stream->stats;
}

gdouble
fleet_stream_results_per_second (const FleetStream *stream)
{
  gint64 now = g_get_monotonic_time ();
  guint i, n = MIN (stream->n_results, RATE_RING), recent = 0;

  for (i = 0; i < n; i++)
    if (now - stream->result_times[i] <= RATE_WINDOW_US)
      recent++;
  return recent / (RATE_WINDOW_US / (gdouble)G_USEC_PER_SEC);
}

gchar *
fleet_stream_public_uri (const FleetStream *stream)
{
  GUri *uri = g_uri_parse (stream->sc->uri, G_URI_FLAGS_NONE, NULL);
  gchar *out;

  if (uri == NULL)
    return g_strdup ("(invalid uri)");
  out = g_uri_to_string_partial (uri, G_URI_HIDE_USERINFO);
  g_uri_unref (uri);
  return out;
}

/* ------------------------------------------------------- configuration */

/* @value with every ${stream} replaced by @stream, so that one [publish]
 * default gives each stream its own client id or spool file. */
static gchar *
expand_stream (const gchar *value, const gchar *stream)
{
  gchar **parts = g_strsplit (value, "${stream}", -1);
  gchar *out = g_strjoinv (stream, parts);

  g_strfreev (parts);
  return out;
}

static gboolean
set_keys (GstElement *element, const gchar *what, const gchar *stream,
    GPtrArray *keys, GPtrArray *values, GError **error)
{
  guint i;

  for (i = 0; i < keys->len; i++)
    {
      const gchar *key = g_ptr_array_index (keys, i);

      if (g_object_class_find_property (G_OBJECT_GET_CLASS (element), key)
          == NULL)
        {
          g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
              "[stream %s] %s: no such %s property (gst-inspect-1.0 %s)",
              stream, key, what, what);
          return FALSE;
        }
      {
        gchar *value = expand_stream (g_ptr_array_index (values, i), stream);

        gst_util_set_object_arg (G_OBJECT (element), key, value);
        g_free (value);
      }
    }
  return TRUE;
}

static void
set_model_keys (const FleetConfig *config, GstElement *bin)
{
  g_object_set (bin, "model", config->model_path, NULL);
  if (config->precision != NULL)
    gst_util_set_object_arg (G_OBJECT (bin), "precision", config->precision);
  if (config->batch_wait >= 0)
    {
      gst_child_proxy_set (GST_CHILD_PROXY (bin), "transformer::batch-wait",
          (guint)config->batch_wait, NULL);
      gst_child_proxy_set (GST_CHILD_PROXY (bin), "head::batch-wait",
          (guint)config->batch_wait, NULL);
    }
}

/* upmbin with the model and the stream's keys; NULL and @error on a bad
 * key. */
static GstElement *
make_bin (
    const FleetConfig *config, const FleetStreamConfig *sc, GError **error)
{
  GstElement *bin = gst_element_factory_make ("upmbin", NULL);

  if (bin == NULL)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
          "no upmbin element: set GST_PLUGIN_PATH to the uniperceiver "
          "plugin's directory");
      return NULL;
    }
  set_model_keys (config, bin);
  if (!set_keys (bin, "upmbin", sc->name, sc->bin_keys, sc->bin_values, error))
    {
      gst_object_unref (bin);
      return NULL;
    }
  return bin;
}

/* upmpublish with the stream's publish.* keys; NULL without an error when
 * the stream publishes nothing. */
static GstElement *
make_publish (const FleetStreamConfig *sc, GError **error)
{
  GstElement *publish;

  if (sc->publish_keys->len == 0)
    return NULL;
  publish = gst_element_factory_make ("upmpublish", NULL);
  if (publish == NULL)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
          "[stream %s] publish.* keys given but no upmpublish element "
          "(GST_PLUGIN_PATH?)",
          sc->name);
      return NULL;
    }
  /* the stream's name is its id in every result, unless set */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (publish), "stream-id"))
    g_object_set (publish, "stream-id", sc->name, NULL);
  if (!set_keys (publish, "upmpublish", sc->name, sc->publish_keys,
          sc->publish_values, error))
    {
      gst_object_unref (publish);
      return NULL;
    }
  return publish;
}

gboolean
fleet_stream_check_config (
    const FleetConfig *config, const FleetStreamConfig *sc, GError **error)
{
  GstElement *bin = make_bin (config, sc, error), *publish;
  GError *e = NULL;

  if (bin == NULL)
    return FALSE;
  gst_object_unref (gst_object_ref_sink (bin));
  publish = make_publish (sc, &e);
  if (publish != NULL)
    gst_object_unref (gst_object_ref_sink (publish));
  if (e != NULL)
    {
      g_propagate_error (error, e);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------- counters */

static guint64
get_u64 (GstElement *element, const gchar *name)
{
  GParamSpec *pspec;
  GValue v = G_VALUE_INIT;
  guint64 out = 0;

  if (element == NULL)
    return 0;
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (element), name);
  if (pspec == NULL)
    return 0;
  g_value_init (&v, pspec->value_type);
  g_object_get_property (G_OBJECT (element), name, &v);
  if (G_VALUE_HOLDS_UINT64 (&v))
    out = g_value_get_uint64 (&v);
  else if (G_VALUE_HOLDS_UINT (&v))
    out = g_value_get_uint (&v);
  else if (G_VALUE_HOLDS_INT (&v))
    out = (guint64)MAX (g_value_get_int (&v), 0);
  else if (G_VALUE_HOLDS_INT64 (&v))
    out = (guint64)MAX (g_value_get_int64 (&v), 0);
  g_value_unset (&v);
  return out;
}

/* The element counters: those of earlier pipelines plus the current. */
static void
read_counters (FleetStream *stream)
{
  FleetStreamStats *st = &stream->stats;

  st->head_dropped
      = stream->base_head_dropped + get_u64 (stream->bin, "dropped");
  st->publish_ok
      = stream->base_publish_ok + get_u64 (stream->publish, "published");
  st->publish_dropped
      = stream->base_publish_dropped + get_u64 (stream->publish, "dropped");
  st->publish_reconnects = stream->base_publish_reconnects
                           + get_u64 (stream->publish, "reconnects");
  st->outbox_depth = get_u64 (stream->publish, "outbox-depth");
}

/* -------------------------------------------------------------- results */

static GstPadProbeReturn
frame_arrived (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  FleetStream *stream = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&stream->lock);
  stream->last_frame_us = now;
  if (buf == NULL || !GST_BUFFER_PTS_IS_VALID (buf))
    {
      g_mutex_unlock (&stream->lock);
      return GST_PAD_PROBE_OK;
    }
  stream->frames[stream->n_frames % FRAME_RING].pts = GST_BUFFER_PTS (buf);
  stream->frames[stream->n_frames % FRAME_RING].arrived_us = now;
  stream->n_frames++;
  g_mutex_unlock (&stream->lock);
  return GST_PAD_PROBE_OK;
}

/* When the last frame of the clip [@pts, @end) arrived; 0 if forgotten. */
static gint64
clip_arrival (FleetStream *stream, GstClockTime pts, GstClockTime end)
{
  gint64 best = 0;
  GstClockTime best_pts = 0;
  guint i, n;

  g_mutex_lock (&stream->lock);
  n = MIN (stream->n_frames, FRAME_RING);
  for (i = 0; i < n; i++)
    {
      const FrameArrival *f = &stream->frames[i];

      if (f->pts >= pts && f->pts < end && (best == 0 || f->pts > best_pts))
        {
          best = f->arrived_us;
          best_pts = f->pts;
        }
    }
  g_mutex_unlock (&stream->lock);
  return best;
}

static void
add_latency (FleetStreamStats *st, gdouble seconds)
{
  guint b = 0;

  while (b < FLEET_LATENCY_BUCKETS && seconds > fleet_latency_bounds[b])
    b++;
  st->latency_counts[b]++;
  st->latency_sum += seconds;
}

/* "label 0.93, label 0.05" from the message's labels and probs. */
static gchar *
labels_text (const GstStructure *s)
{
  const GValue *labels = gst_structure_get_value (s, "labels");
  const GValue *probs = gst_structure_get_value (s, "probs");
  GString *out = g_string_new (NULL);
  guint i, n;

  if (labels == NULL || !GST_VALUE_HOLDS_ARRAY (labels))
    return g_string_free (out, FALSE);
  n = gst_value_array_get_size (labels);
  for (i = 0; i < n && i < 5; i++)
    {
      const GValue *l = gst_value_array_get_value (labels, i);
      /* not inside g_string_append: GLib 2.84's macro would shadow */
      const gchar *label
          = G_VALUE_HOLDS_STRING (l) ? g_value_get_string (l) : "?";

      if (i > 0)
        g_string_append (out, ", ");
      g_string_append (out, label);
      if (probs != NULL && GST_VALUE_HOLDS_ARRAY (probs)
          && i < gst_value_array_get_size (probs))
        {
          const GValue *p = gst_value_array_get_value (probs, i);

          if (G_VALUE_HOLDS_DOUBLE (p))
            g_string_append_printf (out, " %.2f", g_value_get_double (p));
        }
    }
  return g_string_free (out, FALSE);
}

static void
on_result (FleetStream *stream, const GstStructure *s)
{
  FleetStreamStats *st = &stream->stats;
  const gchar *task = gst_structure_get_string (s, "task");
  guint64 pts = GST_CLOCK_TIME_NONE, duration = 0;
  gint64 now = g_get_monotonic_time (), arrived;

  st->results++;
  st->last_result_wall_us = g_get_real_time ();
  stream->result_times[stream->n_results % RATE_RING] = now;
  stream->n_results++;
  g_free (st->last_task);
  st->last_task = g_strdup (task ? task : "");
  g_free (st->last_text);
  if (gst_structure_has_field_typed (s, "text", G_TYPE_STRING))
    st->last_text = g_strdup (gst_structure_get_string (s, "text"));
  else
    st->last_text = labels_text (s);
  gst_structure_get_uint64 (s, "pts", &pts);
  gst_structure_get_uint64 (s, "duration", &duration);
  if (pts == GST_CLOCK_TIME_NONE)
    return;
  arrived = clip_arrival (stream, pts, pts + MAX (duration, 1));
  if (arrived > 0)
    add_latency (st, (now - arrived) / (gdouble)G_USEC_PER_SEC);
}

/* ------------------------------------------------------------ lifecycle */

static void schedule_reconnect (FleetStream *stream, const gchar *why);

static void
clear_timer (FleetStream *stream)
{
  if (stream->timer != 0)
    g_source_remove (stream->timer);
  stream->timer = 0;
}

/* NULL state, counters kept, pipeline freed. */
static void
teardown (FleetStream *stream)
{
  if (stream->pipeline == NULL)
    return;
  read_counters (stream);
  gst_element_set_state (stream->pipeline, GST_STATE_NULL);
  /* final values: a publisher may count its last deliveries at NULL */
  read_counters (stream);
  stream->base_head_dropped = stream->stats.head_dropped;
  stream->base_publish_ok = stream->stats.publish_ok;
  stream->base_publish_dropped = stream->stats.publish_dropped;
  stream->base_publish_reconnects = stream->stats.publish_reconnects;
  stream->stats.outbox_depth = 0;
  if (stream->bus_watch != 0)
    g_source_remove (stream->bus_watch);
  stream->bus_watch = 0;
  gst_clear_object (&stream->pipeline);
  stream->bin = stream->publish = NULL;
}

static void
finish_drain (FleetStream *stream)
{
  FleetStreamDone done = stream->done;

  const FleetStreamStats *st = &stream->stats;

  clear_timer (stream);
  teardown (stream);
  /* the totals, once: what a supervisor or a test checks against */
  g_message (
      "stream %s stopped: clips %" G_GUINT64_FORMAT
      ", published %" G_GUINT64_FORMAT ", publish-dropped %" G_GUINT64_FORMAT
      ", head-dropped %" G_GUINT64_FORMAT ", reconnects %" G_GUINT64_FORMAT,
      stream->sc->name, st->results, st->publish_ok, st->publish_dropped,
      st->head_dropped, st->reconnects);
  stream->state = FLEET_STREAM_STOPPED;
  stream->done = NULL;
  if (done != NULL)
    done (stream, stream->done_data);
}

static void
on_eos (FleetStream *stream)
{
  if (stream->state == FLEET_STREAM_DRAINING)
    finish_drain (stream);
  else if (stream->sc->restart_at_eos)
    schedule_reconnect (stream, "end of stream");
  else
    {
      g_message ("stream %s: end of stream, finished", stream->sc->name);
      teardown (stream);
      stream->state = FLEET_STREAM_FINISHED;
    }
}

static void
on_error (FleetStream *stream, GstMessage *msg)
{
  GError *err = NULL;
  gchar *dbg = NULL, *why;

  gst_message_parse_error (msg, &err, &dbg);
  stream->stats.errors++;
  why = g_strdup_printf ("%s: %s", GST_OBJECT_NAME (msg->src), err->message);
  g_free (stream->stats.last_error);
  stream->stats.last_error = g_strdup (why);
  if (stream->state == FLEET_STREAM_DRAINING)
    {
      g_warning ("stream %s: error while stopping: %s", stream->sc->name, why);
      finish_drain (stream);
    }
  else
    schedule_reconnect (stream, why);
  g_free (why);
  g_free (dbg);
  g_error_free (err);
}

static gboolean
on_bus (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  FleetStream *stream = user_data;
  const GstStructure *s;

  switch (GST_MESSAGE_TYPE (msg))
    {
    case GST_MESSAGE_ELEMENT:
      s = gst_message_get_structure (msg);
      if (s != NULL && gst_structure_has_name (s, "upm-result"))
        on_result (stream, s);
      break;
    case GST_MESSAGE_EOS:
      on_eos (stream);
      break;
    case GST_MESSAGE_ERROR:
      on_error (stream, msg);
      break;
    case GST_MESSAGE_WARNING:
      {
        GError *err = NULL;
        gchar *dbg = NULL;

        gst_message_parse_warning (msg, &err, &dbg);
        g_message ("stream %s: warning from %s: %s (%s)", stream->sc->name,
            GST_OBJECT_NAME (msg->src), err->message, dbg ? dbg : "");
        g_free (dbg);
        g_error_free (err);
        break;
      }
    default:
      break;
    }
  return G_SOURCE_CONTINUE;
}

/* Live RTSP over interleaved TCP: a camera that goes away closes the
 * connection, so the loss is seen at once (no UDP timeout), and one
 * connection per camera crosses firewalls. HTTP: live as configured. */
static void
on_source_setup (GstElement *uridecodebin, GstElement *source, gpointer data)
{
  FleetStream *stream = data;
  GObjectClass *klass = G_OBJECT_GET_CLASS (source);

  if (g_object_class_find_property (klass, "protocols") != NULL
      && g_object_class_find_property (klass, "latency") != NULL)
    {
      gst_util_set_object_arg (G_OBJECT (source), "protocols", "tcp");
      g_object_set (source, "latency", stream->sc->rtsp_latency_ms, NULL);
    }
  if (g_object_class_find_property (klass, "is-live") != NULL)
    g_object_set (source, "is-live", stream->sc->live, NULL);
}

static void
on_pad_added (GstElement *src, GstPad *pad, gpointer data)
{
  GstElement *convert = data;
  GstPad *sink = gst_element_get_static_pad (convert, "sink");
  GstCaps *caps = gst_pad_get_current_caps (pad);

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  if (!gst_pad_is_linked (sink) && !gst_caps_is_empty (caps)
      && g_str_has_prefix (
          gst_structure_get_name (gst_caps_get_structure (caps, 0)), "video/"))
    gst_pad_link (pad, sink);
  gst_caps_unref (caps);
  gst_object_unref (sink);
}

static GstElement *
build_pipeline (FleetStream *stream, GError **error)
{
  GstElement *pipeline = gst_pipeline_new (stream->sc->name);
  GstElement *src = gst_element_factory_make ("uridecodebin", NULL);
  GstElement *convert = gst_element_factory_make ("videoconvert", NULL);
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  GstElement *bin = NULL, *publish = NULL;
  GstCaps *raw = gst_caps_from_string ("video/x-raw");
  GstPad *pad;

  if (src == NULL || convert == NULL || sink == NULL)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
          "uridecodebin, videoconvert or fakesink missing "
          "(gstreamer1.0-plugins-base)");
      goto fail;
    }
  bin = make_bin (stream->config, stream->sc, error);
  if (bin == NULL)
    goto fail;
  publish = make_publish (stream->sc, error);
  if (publish == NULL && stream->sc->publish_keys->len > 0)
    goto fail;
  g_object_set (src, "uri", stream->sc->uri, "caps", raw, "expose-all-streams",
      FALSE, NULL);
  g_object_set (sink, "sync", FALSE, NULL);
  gst_bin_add_many (GST_BIN (pipeline), src, convert, bin, sink, NULL);
  if (publish != NULL)
    gst_bin_add (GST_BIN (pipeline), publish);
  if (!gst_element_link (convert, bin)
      || (publish != NULL ? !gst_element_link_many (bin, publish, sink, NULL)
                          : !gst_element_link (bin, sink)))
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
          "[stream %s] cannot link upmbin to upmpublish", stream->sc->name);
      gst_caps_unref (raw);
      gst_object_unref (pipeline);
      return NULL;
    }
  g_signal_connect (src, "source-setup", G_CALLBACK (on_source_setup), stream);
  g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added), convert);
  pad = gst_element_get_static_pad (convert, "sink");
  gst_pad_add_probe (
      pad, GST_PAD_PROBE_TYPE_BUFFER, frame_arrived, stream, NULL);
  gst_object_unref (pad);
  gst_caps_unref (raw);
  stream->bin = bin;
  stream->publish = publish;
  return pipeline;

fail:
  gst_caps_unref (raw);
  g_clear_object (&src);
  g_clear_object (&convert);
  g_clear_object (&sink);
  if (bin != NULL)
    gst_object_unref (gst_object_ref_sink (bin));
  if (publish != NULL)
    gst_object_unref (gst_object_ref_sink (publish));
  gst_object_unref (pipeline);
  return NULL;
}

static gboolean
reconnect_now (gpointer data)
{
  FleetStream *stream = data;

  stream->timer = 0;
  stream->stats.reconnects++;
  fleet_stream_start (stream);
  return G_SOURCE_REMOVE;
}

/* Tear down, wait reconnect-min * 2^failures (at most reconnect-max),
 * start again. */
static void
schedule_reconnect (FleetStream *stream, const gchar *why)
{
  gdouble delay = stream->sc->reconnect_min_s;
  gboolean had_frames;
  guint i;

  g_mutex_lock (&stream->lock);
  had_frames = stream->last_frame_us > stream->stats.started_us;
  g_mutex_unlock (&stream->lock);
  /* a pipeline that delivered frames starts the backoff from the bottom */
  if (had_frames)
    stream->failures = 0;
  teardown (stream);
  clear_timer (stream);
  for (i = 0; i < stream->failures && delay < stream->sc->reconnect_max_s; i++)
    delay *= 2;
  delay = MIN (delay, stream->sc->reconnect_max_s);
  stream->failures++;
  stream->state = FLEET_STREAM_BACKOFF;
  g_message ("stream %s: %s; reconnecting in %.1f s (attempt %u)",
      stream->sc->name, why, delay, stream->failures);
  stream->timer = g_timeout_add ((guint)(delay * 1000), reconnect_now, stream);
}

void
fleet_stream_start (FleetStream *stream)
{
  GError *error = NULL;
  GstBus *bus;

  stream->pipeline = build_pipeline (stream, &error);
  if (stream->pipeline == NULL)
    {
      g_free (stream->stats.last_error);
      stream->stats.last_error = g_strdup (error->message);
      schedule_reconnect (stream, error->message);
      g_error_free (error);
      return;
    }
  bus = gst_element_get_bus (stream->pipeline);
  stream->bus_watch = gst_bus_add_watch (bus, on_bus, stream);
  gst_object_unref (bus);
  stream->state = FLEET_STREAM_RUNNING;
  stream->saw_frame = FALSE;
  stream->stats.started_us = g_get_monotonic_time ();
  g_mutex_lock (&stream->lock);
  stream->last_frame_us = stream->stats.started_us;
  stream->n_frames = 0;
  g_mutex_unlock (&stream->lock);
  if (gst_element_set_state (stream->pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE)
    schedule_reconnect (stream, "the pipeline did not start");
}

static gboolean
drain_timed_out (gpointer data)
{
  FleetStream *stream = data;

  stream->timer = 0;
  g_warning ("stream %s: no end of stream after the stop timeout; stopping "
             "it anyway (outbox depth %" G_GUINT64_FORMAT ")",
      stream->sc->name, stream->stats.outbox_depth);
  finish_drain (stream);
  return G_SOURCE_REMOVE;
}

void
fleet_stream_drain (FleetStream *stream, gdouble timeout_s,
    FleetStreamDone done, gpointer user_data)
{
  stream->done = done;
  stream->done_data = user_data;
  clear_timer (stream);
  if (stream->state != FLEET_STREAM_RUNNING || stream->pipeline == NULL)
    {
      finish_drain (stream);
      return;
    }
  stream->state = FLEET_STREAM_DRAINING;
  gst_element_send_event (stream->pipeline, gst_event_new_eos ());
  stream->timer
      = g_timeout_add ((guint)(timeout_s * 1000), drain_timed_out, stream);
}

void
fleet_stream_tick (FleetStream *stream)
{
  gint64 now = g_get_monotonic_time ();
  gint64 last;

  g_mutex_lock (&stream->lock);
  last = stream->last_frame_us;
  g_mutex_unlock (&stream->lock);

  if (stream->pipeline != NULL)
    read_counters (stream);
  if (stream->state != FLEET_STREAM_RUNNING)
    return;
  if (last > stream->stats.started_us && !stream->saw_frame)
    {
      /* frames again: the next loss starts the backoff from the bottom */
      stream->saw_frame = TRUE;
      stream->failures = 0;
    }
  if (stream->sc->live && stream->sc->stall_timeout_s > 0
      && now - last > stream->sc->stall_timeout_s * G_USEC_PER_SEC)
    schedule_reconnect (stream, "no frames within stall-timeout");
}

void
fleet_stream_free (FleetStream *stream)
{
  clear_timer (stream);
  teardown (stream);
  g_mutex_clear (&stream->lock);
  g_free (stream->stats.last_text);
  g_free (stream->stats.last_task);
  g_free (stream->stats.last_error);
  fleet_config_unref (stream->config);
  g_free (stream);
}
