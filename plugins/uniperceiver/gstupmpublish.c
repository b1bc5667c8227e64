/* gstupmpublish.c: publishes each clip's results to an MQTT broker or a
 * JSON-lines file, passing the buffers through.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * SECTION:element-upmpublish
 *
 * Placed after upmbin or upmhead, it turns every buffer that carries a
 * result or caption meta into one message of the versioned schema of
 * docs/publish-schema.md and hands it to a bounded outbox; a thread of its
 * own (a GstTask) delivers the outbox in order to the broker (method=mqtt,
 * libmosquitto) or appends it to a file (method=file, JSON lines). The
 * streaming thread never waits for the network: while the broker is away
 * the outbox holds the messages (and the spool file, when set, keeps them
 * over a restart); a full outbox drops its oldest message, counted in
 * "dropped", with a WARNING. At EOS it waits up to flush-timeout for the
 * outbox to empty and says what it could not deliver.
 *
 *   gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert !
 *     upmbin model=model.gguf labels=labels.txt ! upmpublish
 *     uri=mqtt://127.0.0.1:1883 stream-id=cam1 qos=1 ! fakesink
 *
 * Bad settings (a URI that does not parse, a topic with wildcards, a CA
 * file that cannot be read, refused credentials, a rejected client id) are
 * errors that say what to fix; a broker that cannot be reached is a
 * WARNING, retried with exponential backoff up to max-backoff.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmpublish.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "gstupmenum.h"
#include "gstupmmqtt.h"
#include "gstupmoutbox.h"
#include "gstupmpublishmsg.h"

GST_DEBUG_CATEGORY_STATIC (gst_upm_publish_debug);
#define GST_CAT_DEFAULT gst_upm_publish_debug

#define DEFAULT_METHOD GST_UPM_PUBLISH_MQTT
#define DEFAULT_URI "mqtt://127.0.0.1:1883"
#define DEFAULT_TOPIC "upm/${stream}/${task}"
#define DEFAULT_QOS 1
#define DEFAULT_MQTT_VERSION 3
#define DEFAULT_KEEPALIVE 30
#define DEFAULT_OUTBOX_SIZE 1000
#define DEFAULT_FLUSH_TIMEOUT 5000
#define DEFAULT_MAX_BACKOFF 5000
#define DEFAULT_INCLUDE_ROUTING TRUE
#define DEFAULT_PASSWORD_ENV "UPM_MQTT_PASSWORD"

/* Messages sent but not yet acknowledged at a time: enough to fill a
 * loopback or LAN link, few enough that a lost connection resends little. */
#define MAX_IN_FLIGHT 20
#define MIN_BACKOFF_MS 100
/* How long the delivery thread sleeps when there is nothing to do (it
 * wakes at once for a new message). */
#define IDLE_WAIT_US (100 * G_TIME_SPAN_MILLISECOND)
/* A CONNACK that does not come in this time counts as a failed connect. */
#define CONNECT_TIMEOUT_US (10 * G_TIME_SPAN_SECOND)

enum
{
  PROP_0,
  PROP_METHOD,
  PROP_LOCATION,
  PROP_URI,
  PROP_TOPIC,
  PROP_STREAM_ID,
  PROP_QOS,
  PROP_MQTT_VERSION,
  PROP_CLIENT_ID,
  PROP_KEEPALIVE,
  PROP_CA_FILE,
  PROP_USERNAME,
  PROP_PASSWORD_FILE,
  PROP_PASSWORD_ENV,
  PROP_OUTBOX_SIZE,
  PROP_SPOOL,
  PROP_FLUSH_TIMEOUT,
  PROP_MAX_BACKOFF,
  PROP_MODEL_ID,
  PROP_INCLUDE_ROUTING,
  PROP_PUBLISHED,
  PROP_DROPPED,
  PROP_OUTBOX_DEPTH,
  PROP_RECONNECTS,
  PROP_CONNECTED,
};

typedef enum
{
  LINK_DOWN,    /* waiting for the next connect attempt */
  LINK_PENDING, /* connecting */
  LINK_UP,
  LINK_FAILED, /* a refusal the user must fix: stays so until restarted */
} LinkState;

struct _GstUpmPublish
{
  GstBaseTransform parent;

  /* settings, under the object lock */
  GstUpmPublishMethod method;
  gchar *location, *uri, *topic, *stream_id, *client_id, *ca_file;
  gchar *username, *password_file, *password_env, *spool, *model_id;
  guint qos, mqtt_version, keepalive, outbox_size, flush_timeout;
  guint max_backoff;
  gboolean include_routing;

  /* counters, under the object lock */
  guint64 published, dropped;
  guint reconnects;
  gboolean connected;

  /* the run (start to stop): set in start, read by both threads */
  GstUpmOutbox *outbox;
  gchar *session;
  guint64 seq;             /* streaming thread */
  GstUpmMqttSettings mqtt; /* strings owned below */
  gchar *host, *password;
  GstUpmPublishMethod run_method;
  gchar *run_topic, *run_stream, *run_model_id, *run_location;
  gchar *run_ca_file, *run_client_id, *run_username;
  gboolean run_include_routing, run_spool;
  guint run_max_backoff, run_outbox_size;

  /* the delivery thread's own */
  GstTask *task;
  GRecMutex task_lock;
  FILE *file;
  GstUpmMqtt *link;
  LinkState link_state;
  gint64 retry_at, connect_deadline;
  guint backoff_ms;
  guint64 send_from;
  gboolean ever_connected, warned_down;
};

G_DEFINE_TYPE (GstUpmPublish, gst_upm_publish, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (
    upmpublish, "upmpublish", GST_RANK_NONE, GST_TYPE_UPM_PUBLISH);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

GType
gst_upm_publish_method_get_type (void)
{
  GST_UPM_ENUM_TYPE_ONCE ("GstUpmPublishMethod",
      { GST_UPM_PUBLISH_MQTT, "MQTT broker (uri, topic)", "mqtt" },
      { GST_UPM_PUBLISH_FILE, "JSON lines appended to a file (location)",
          "file" });
}

GType
gst_upm_mqtt_version_get_type (void)
{
  GST_UPM_ENUM_TYPE_ONCE (
      "GstUpmMqttVersion", { 3, "MQTT 3.1.1", "3.1.1" }, { 5, "MQTT 5", "5" });
}

/* ------------------------------------------------------------ delivery */

static void
set_connected (GstUpmPublish *self, gboolean connected)
{
  GST_OBJECT_LOCK (self);
  self->connected = connected;
  GST_OBJECT_UNLOCK (self);
}

static void
count_published (GstUpmPublish *self, guint n)
{
  GST_OBJECT_LOCK (self);
  self->published += n;
  GST_OBJECT_UNLOCK (self);
}

static void
deliver_to_file (GstUpmPublish *self)
{
  GstUpmOutboxItem *item
      = gst_upm_outbox_next (self->outbox, self->send_from, IDLE_WAIT_US);

  if (item == NULL)
    return;
  if (fputs (item->payload, self->file) < 0 || fputc ('\n', self->file) < 0
      || fflush (self->file) != 0)
    {
      /* a full disk or a lost mount: keep the message, say so once */
      if (!self->warned_down)
        GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
            ("cannot write to \"%s\": %s; results are kept in the outbox",
                self->run_location, g_strerror (errno)),
            (NULL));
      self->warned_down = TRUE;
      g_usleep (IDLE_WAIT_US);
    }
  else
    {
      self->warned_down = FALSE;
      self->send_from = item->ticket + 1;
      count_published (self, 1);
      gst_upm_outbox_ack (self->outbox, item->ticket);
    }
  gst_upm_outbox_item_free (item);
}

static void
link_drop (GstUpmPublish *self)
{
  gst_upm_mqtt_free (self->link);
  self->link = NULL;
  self->link_state = LINK_DOWN;
  /* what was sent and not acknowledged goes again, in order */
  self->send_from = gst_upm_outbox_head (self->outbox);
  set_connected (self, FALSE);
}

static void
schedule_retry (GstUpmPublish *self, const GError *why)
{
  guint depth = gst_upm_outbox_depth (self->outbox);

  if (!self->warned_down)
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE,
        ("%s; retrying (up to every %u ms), %u results kept in the outbox",
            why->message, self->run_max_backoff, depth),
        (NULL));
  else
    GST_DEBUG_OBJECT (
        self, "%s; retry in %u ms", why->message, self->backoff_ms);
  self->warned_down = TRUE;
  self->retry_at = g_get_monotonic_time ()
                   + (gint64)self->backoff_ms * G_TIME_SPAN_MILLISECOND;
  self->backoff_ms = MIN (self->backoff_ms * 2, self->run_max_backoff);
}

static void
link_fail (GstUpmPublish *self, const GError *why)
{
  GST_ELEMENT_ERROR (
      self, RESOURCE, NOT_AUTHORIZED, ("%s", why->message), (NULL));
  self->link_state = LINK_FAILED;
}

static void
link_open (GstUpmPublish *self)
{
  GError *err = NULL;

  if (g_get_monotonic_time () < self->retry_at)
    {
      g_usleep (MIN (self->retry_at - g_get_monotonic_time (),
          50 * G_TIME_SPAN_MILLISECOND));
      return;
    }
  self->link = gst_upm_mqtt_connect (&self->mqtt, &err);
  if (self->link == NULL)
    {
      if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT)
          || g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
        link_fail (self, err);
      else
        schedule_retry (self, err);
      g_clear_error (&err);
      return;
    }
  self->link_state = LINK_PENDING;
  self->connect_deadline = g_get_monotonic_time () + CONNECT_TIMEOUT_US;
}

static void
on_link_up (GstUpmPublish *self)
{
  GST_INFO_OBJECT (
      self, "connected to %s:%u", self->mqtt.host, self->mqtt.port);
  GST_OBJECT_LOCK (self);
  if (self->ever_connected)
    self->reconnects++;
  self->connected = TRUE;
  GST_OBJECT_UNLOCK (self);
  if (self->warned_down)
    GST_ELEMENT_INFO (self, RESOURCE, OPEN_WRITE,
        ("reconnected to the MQTT broker %s:%u; delivering %u kept results",
            self->mqtt.host, self->mqtt.port,
            gst_upm_outbox_depth (self->outbox)),
        (NULL));
  self->ever_connected = TRUE;
  self->warned_down = FALSE;
  self->backoff_ms = MIN_BACKOFF_MS;
  self->link_state = LINK_UP;
  self->send_from = gst_upm_outbox_head (self->outbox);
}

/* The broker said no to these (MQTT 5): dropped, counted, said. */
static void
take_refused (GstUpmPublish *self)
{
  gchar *reason = NULL;
  GArray *refused = gst_upm_mqtt_take_refused (self->link, &reason);
  guint i;

  if (refused->len > 0)
    {
      GST_OBJECT_LOCK (self);
      self->dropped += refused->len;
      GST_OBJECT_UNLOCK (self);
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
          ("the MQTT broker refused %u results (%s): check its ACL for the "
           "topic; they are dropped (counted in dropped)",
              refused->len, reason),
          (NULL));
    }
  for (i = 0; i < refused->len; i++)
    gst_upm_outbox_ack (self->outbox, g_array_index (refused, guint64, i));
  g_array_unref (refused);
  g_free (reason);
}

static void
take_acks (GstUpmPublish *self)
{
  GArray *acks = gst_upm_mqtt_take_acks (self->link);
  guint i;

  /* counted first: whoever sees the outbox empty sees them published */
  if (acks->len > 0)
    count_published (self, acks->len);
  for (i = 0; i < acks->len; i++)
    gst_upm_outbox_ack (self->outbox, g_array_index (acks, guint64, i));
  g_array_unref (acks);
}

/* Sends what the window allows; TRUE when it sent anything. */
/* A message that can never be sent: dropped, counted, said. */
static void
reject (GstUpmPublish *self, const GstUpmOutboxItem *item, const GError *why)
{
  GST_OBJECT_LOCK (self);
  self->dropped++;
  GST_OBJECT_UNLOCK (self);
  GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
      ("%s; the result is dropped (counted in dropped)", why->message), (NULL));
  gst_upm_outbox_ack (self->outbox, item->ticket);
}

static gboolean
send_window (GstUpmPublish *self, gint64 wait_us)
{
  gboolean sent = FALSE;
  GstUpmMqttSend st;
  GError *err = NULL;

  while (gst_upm_mqtt_in_flight (self->link) < MAX_IN_FLIGHT)
    {
      GstUpmOutboxItem *item = gst_upm_outbox_next (
          self->outbox, self->send_from, sent ? 0 : wait_us);

      if (item == NULL)
        break;
      /* a dropped message leaves a gap: go on from the next one */
      st = gst_upm_mqtt_publish (
          self->link, item->topic, item->payload, item->ticket, &err);
      if (st == GST_UPM_MQTT_GONE)
        {
          gst_upm_outbox_item_free (item);
          break;
        }
      if (st == GST_UPM_MQTT_REJECTED)
        reject (self, item, err);
      g_clear_error (&err);
      self->send_from = item->ticket + 1;
      sent = TRUE;
      gst_upm_outbox_item_free (item);
    }
  return sent;
}

static void
link_run (GstUpmPublish *self)
{
  GError *err = NULL;
  GstUpmMqttState st;
  gint timeout_ms = 0;

  if (self->link_state == LINK_UP)
    {
      /* idle (nothing in flight): wait for a message instead of the socket */
      gint64 wait = gst_upm_mqtt_in_flight (self->link) == 0 ? IDLE_WAIT_US : 0;

      if (!send_window (self, wait) && gst_upm_mqtt_in_flight (self->link) > 0)
        timeout_ms = 20;
    }
  else
    timeout_ms = 20;
  st = gst_upm_mqtt_run (self->link, timeout_ms, &err);
  take_acks (self);
  take_refused (self);
  if (st == GST_UPM_MQTT_UP && self->link_state == LINK_PENDING)
    on_link_up (self);
  else if (st == GST_UPM_MQTT_REFUSED)
    {
      if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_BUSY))
        link_drop (self), schedule_retry (self, err);
      else
        link_drop (self), link_fail (self, err);
    }
  else if (st == GST_UPM_MQTT_LOST)
    link_drop (self), schedule_retry (self, err);
  else if (st == GST_UPM_MQTT_CONNECTING
           && g_get_monotonic_time () > self->connect_deadline)
    {
      g_set_error (&err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
          "the MQTT broker %s:%u did not answer the connect", self->mqtt.host,
          self->mqtt.port);
      link_drop (self), schedule_retry (self, err);
    }
  g_clear_error (&err);
}

static void
deliver_mqtt (GstUpmPublish *self)
{
  switch (self->link_state)
    {
    case LINK_DOWN:
      link_open (self);
      break;
    case LINK_PENDING:
    case LINK_UP:
      link_run (self);
      break;
    case LINK_FAILED:
      g_usleep (IDLE_WAIT_US);
      break;
    }
}

static void
deliver_loop (gpointer data)
{
  GstUpmPublish *self = data;

  if (self->run_method == GST_UPM_PUBLISH_FILE)
    deliver_to_file (self);
  else
    deliver_mqtt (self);
}

/* ---------------------------------------------------------------- start */

static gboolean
read_password (GstUpmPublish *self, GError **error)
{
  gchar *contents = NULL;

  if (self->password_file != NULL)
    {
      if (!g_file_get_contents (self->password_file, &contents, NULL, error))
        {
          g_prefix_error (error, "cannot read password-file: ");
          return FALSE;
        }
      /* the first line, without its line break */
      contents[strcspn (contents, "\r\n")] = '\0';
      self->password = contents;
    }
  else if (self->password_env != NULL && *self->password_env != '\0')
    self->password = g_strdup (g_getenv (self->password_env));
  return TRUE;
}

static gboolean
check_settings (GstUpmPublish *self, GError **error)
{
  if (self->method == GST_UPM_PUBLISH_FILE)
    {
      if (self->location == NULL || *self->location == '\0')
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
              "method=file needs a location (the JSON-lines file)");
          return FALSE;
        }
      return TRUE;
    }
  if (!gst_upm_mqtt_available ())
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
          "this plugin was built without libmosquitto (meson option mqtt): "
          "install libmosquitto-dev and rebuild, or use method=file");
      return FALSE;
    }
  if (!gst_upm_publish_topic_check (self->topic, error)
      || !gst_upm_publish_parse_uri (
          self->uri, &self->mqtt.tls, &self->host, &self->mqtt.port, error))
    return FALSE;
  if (self->ca_file != NULL
      && !g_file_test (self->ca_file, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
          "ca-file \"%s\" is not a file: set it to the broker's CA "
          "certificate (PEM)",
          self->ca_file);
      return FALSE;
    }
  return read_password (self, error);
}

/* Copies the settings the run uses (object lock held). */
static void
take_settings (GstUpmPublish *self)
{
  GstUpmMqttSettings *m = &self->mqtt;

  self->run_method = self->method;
  self->run_topic = g_strdup (self->topic);
  self->run_stream = g_strdup (
      self->stream_id != NULL ? self->stream_id : GST_OBJECT_NAME (self));
  self->run_model_id = g_strdup (self->model_id);
  self->run_include_routing = self->include_routing;
  self->run_max_backoff = MAX (self->max_backoff, MIN_BACKOFF_MS);
  self->run_outbox_size = self->outbox_size;
  self->run_spool = self->spool != NULL && *self->spool != '\0';
  /* copies: a property set while running cannot pull them away */
  self->run_location = g_strdup (self->location);
  self->run_ca_file = g_strdup (self->ca_file);
  self->run_client_id = g_strdup (self->client_id);
  self->run_username = g_strdup (self->username);
  m->host = self->host;
  m->ca_file = self->run_ca_file;
  m->client_id = self->run_client_id;
  m->username = self->run_username;
  m->password = self->password;
  m->keepalive = self->keepalive;
  m->version = self->mqtt_version;
  m->qos = (gint)self->qos;
}

static void
clear_run (GstUpmPublish *self)
{
  g_clear_pointer (&self->run_topic, g_free);
  g_clear_pointer (&self->run_stream, g_free);
  g_clear_pointer (&self->run_model_id, g_free);
  g_clear_pointer (&self->run_location, g_free);
  g_clear_pointer (&self->run_ca_file, g_free);
  g_clear_pointer (&self->run_client_id, g_free);
  g_clear_pointer (&self->run_username, g_free);
  g_clear_pointer (&self->session, g_free);
  g_clear_pointer (&self->host, g_free);
  if (self->password != NULL)
    memset (self->password, 0, strlen (self->password));
  g_clear_pointer (&self->password, g_free);
  memset (&self->mqtt, 0, sizeof self->mqtt);
  if (self->file != NULL)
    fclose (self->file);
  self->file = NULL;
}

static gboolean
open_file (GstUpmPublish *self, GError **error)
{
  self->file = g_fopen (self->location, "a");
  if (self->file == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
          "cannot open location \"%s\" to append: %s", self->location,
          g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static void
reset_run_state (GstUpmPublish *self)
{
  self->seq = 0;
  self->session
      = g_strdup_printf ("%" G_GINT64_MODIFIER "x", g_get_real_time ());
  self->published = 0;
  self->dropped = 0;
  self->reconnects = 0;
  self->connected = FALSE;
  self->link_state = LINK_DOWN;
  self->retry_at = 0;
  self->backoff_ms = MIN_BACKOFF_MS;
  self->ever_connected = FALSE;
  self->warned_down = FALSE;
  self->send_from = 0;
}

static gboolean
gst_upm_publish_start (GstBaseTransform *trans)
{
  GstUpmPublish *self = GST_UPM_PUBLISH (trans);
  GError *err = NULL;
  gboolean ok;

  GST_OBJECT_LOCK (self);
  reset_run_state (self);
  ok = check_settings (self, &err);
  if (ok)
    {
      take_settings (self);
      self->outbox = gst_upm_outbox_new (self->outbox_size, self->spool, &err);
      ok = self->outbox != NULL;
      if (ok)
        self->dropped = gst_upm_outbox_dropped (self->outbox);
    }
  if (ok && self->method == GST_UPM_PUBLISH_FILE)
    ok = open_file (self, &err);
  GST_OBJECT_UNLOCK (self);
  if (!ok)
    {
      GST_ELEMENT_ERROR (
          self, RESOURCE, SETTINGS, ("%s", err->message), (NULL));
      g_clear_error (&err);
      g_clear_pointer (&self->outbox, gst_upm_outbox_free);
      clear_run (self);
      return FALSE;
    }
  if (gst_upm_outbox_restored (self->outbox) > 0)
    GST_ELEMENT_INFO (self, RESOURCE, READ,
        ("%u results from the spool file \"%s\" are delivered first",
            gst_upm_outbox_restored (self->outbox), self->spool),
        (NULL));
  self->task = gst_task_new (deliver_loop, self, NULL);
  gst_task_set_lock (self->task, &self->task_lock);
  gst_object_set_name (GST_OBJECT (self->task), "upmpublish-delivery");
  gst_task_start (self->task);
  return TRUE;
}

static gboolean
gst_upm_publish_stop (GstBaseTransform *trans)
{
  GstUpmPublish *self = GST_UPM_PUBLISH (trans);
  guint left;

  if (self->task != NULL)
    {
      gst_task_stop (self->task);
      gst_upm_outbox_wake (self->outbox);
      gst_task_join (self->task);
      gst_clear_object (&self->task);
    }
  gst_upm_mqtt_free (self->link);
  self->link = NULL;
  set_connected (self, FALSE);
  GST_OBJECT_LOCK (self);
  left = self->outbox != NULL ? gst_upm_outbox_depth (self->outbox) : 0;
  /* Without a spool they are gone: counted in "dropped" like any other
   * result given up, so that a stream restarted while its broker was away
   * (upm-fleet) still accounts for every clip. */
  if (left > 0 && !self->run_spool)
    self->dropped += left;
  g_clear_pointer (&self->outbox, gst_upm_outbox_free);
  GST_OBJECT_UNLOCK (self);
  if (left > 0 && !self->run_spool)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("%u results were not delivered and are lost (set spool to keep "
         "them over a restart)",
            left),
        (NULL));
  else if (left > 0)
    GST_INFO_OBJECT (self, "%u results stay in the spool", left);
  clear_run (self);
  return TRUE;
}

/* ------------------------------------------------------------ streaming */

/* A WARNING at the 1st, 10th, 100th, ... drop: said, without a flood. */
static void
warn_dropped (GstUpmPublish *self)
{
  guint64 n = gst_upm_outbox_dropped (self->outbox), p = 1;

  while (p < n && p <= G_MAXUINT64 / 10)
    p *= 10;
  if (p == n)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("the outbox is full (outbox-size %u): dropped the oldest result, "
         "%" G_GUINT64_FORMAT " dropped so far; the broker is away or "
         "slower than the results",
            self->run_outbox_size, n),
        (NULL));
}

static GstFlowReturn
gst_upm_publish_transform_ip (GstBaseTransform *trans, GstBuffer *buffer)
{
  GstUpmPublish *self = GST_UPM_PUBLISH (trans);
  GstUpmPublishEnvelope env = { 0 };
  gchar *payload, *task = NULL, *topic;

  if (!gst_upm_publish_has_result (buffer))
    return GST_FLOW_OK;
  env.stream = self->run_stream;
  env.session = self->session;
  env.seq = self->seq++;
  env.wall_us = g_get_real_time ();
  env.model_id = self->run_model_id;
  env.include_routing = self->run_include_routing;
  payload = gst_upm_publish_message (buffer, &env, &task);
  topic = gst_upm_publish_topic (self->run_topic, self->run_stream, task);
  if (gst_upm_outbox_push (self->outbox, topic, payload))
    {
      GST_OBJECT_LOCK (self);
      self->dropped++;
      GST_OBJECT_UNLOCK (self);
      warn_dropped (self);
    }
  GST_LOG_OBJECT (
      self, "queued result %" G_GUINT64_FORMAT " on %s", env.seq, topic);
  g_free (topic);
  g_free (task);
  g_free (payload);
  return GST_FLOW_OK;
}

static gboolean
gst_upm_publish_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstUpmPublish *self = GST_UPM_PUBLISH (trans);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->outbox != NULL)
    {
      guint timeout, left;

      GST_OBJECT_LOCK (self);
      timeout = self->flush_timeout;
      GST_OBJECT_UNLOCK (self);
      if (!gst_upm_outbox_wait_empty (
              self->outbox, (gint64)timeout * G_TIME_SPAN_MILLISECOND))
        {
          left = gst_upm_outbox_depth (self->outbox);
          GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
              ("%u results not delivered within flush-timeout (%u ms)%s", left,
                  timeout,
                  self->run_spool ? "; they stay in the spool file"
                                  : "; they are lost at stop (no spool)"),
              (NULL));
        }
    }
  return GST_BASE_TRANSFORM_CLASS (gst_upm_publish_parent_class)
      ->sink_event (trans, event);
}

/* ----------------------------------------------------------- properties */

static void
set_string (gchar **field, const GValue *value)
{
  g_free (*field);
  *field = g_value_dup_string (value);
}

static void
gst_upm_publish_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstUpmPublish *self = GST_UPM_PUBLISH (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_METHOD:
      self->method = g_value_get_enum (value);
      break;
    case PROP_LOCATION:
      set_string (&self->location, value);
      break;
    case PROP_URI:
      set_string (&self->uri, value);
      break;
    case PROP_TOPIC:
      set_string (&self->topic, value);
      break;
    case PROP_STREAM_ID:
      set_string (&self->stream_id, value);
      break;
    case PROP_QOS:
      self->qos = g_value_get_uint (value);
      break;
    case PROP_MQTT_VERSION:
      self->mqtt_version = g_value_get_enum (value);
      break;
    case PROP_CLIENT_ID:
      set_string (&self->client_id, value);
      break;
    case PROP_KEEPALIVE:
      self->keepalive = g_value_get_uint (value);
      break;
    case PROP_CA_FILE:
      set_string (&self->ca_file, value);
      break;
    case PROP_USERNAME:
      set_string (&self->username, value);
      break;
    case PROP_PASSWORD_FILE:
      set_string (&self->password_file, value);
      break;
    case PROP_PASSWORD_ENV:
      set_string (&self->password_env, value);
      break;
    case PROP_OUTBOX_SIZE:
      self->outbox_size = g_value_get_uint (value);
      break;
    case PROP_SPOOL:
      set_string (&self->spool, value);
      break;
    case PROP_FLUSH_TIMEOUT:
      self->flush_timeout = g_value_get_uint (value);
      break;
    case PROP_MAX_BACKOFF:
      self->max_backoff = g_value_get_uint (value);
      break;
    case PROP_MODEL_ID:
      set_string (&self->model_id, value);
      break;
    case PROP_INCLUDE_ROUTING:
      self->include_routing = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_upm_publish_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstUpmPublish *self = GST_UPM_PUBLISH (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_METHOD:
      g_value_set_enum (value, self->method);
      break;
    case PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    case PROP_URI:
      g_value_set_string (value, self->uri);
      break;
    case PROP_TOPIC:
      g_value_set_string (value, self->topic);
      break;
    case PROP_STREAM_ID:
      g_value_set_string (value, self->stream_id);
      break;
    case PROP_QOS:
      g_value_set_uint (value, self->qos);
      break;
    case PROP_MQTT_VERSION:
      g_value_set_enum (value, self->mqtt_version);
      break;
    case PROP_CLIENT_ID:
      g_value_set_string (value, self->client_id);
      break;
    case PROP_KEEPALIVE:
      g_value_set_uint (value, self->keepalive);
      break;
    case PROP_CA_FILE:
      g_value_set_string (value, self->ca_file);
      break;
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_PASSWORD_FILE:
      g_value_set_string (value, self->password_file);
      break;
    case PROP_PASSWORD_ENV:
      g_value_set_string (value, self->password_env);
      break;
    case PROP_OUTBOX_SIZE:
      g_value_set_uint (value, self->outbox_size);
      break;
    case PROP_SPOOL:
      g_value_set_string (value, self->spool);
      break;
    case PROP_FLUSH_TIMEOUT:
      g_value_set_uint (value, self->flush_timeout);
      break;
    case PROP_MAX_BACKOFF:
      g_value_set_uint (value, self->max_backoff);
      break;
    case PROP_MODEL_ID:
      g_value_set_string (value, self->model_id);
      break;
    case PROP_INCLUDE_ROUTING:
      g_value_set_boolean (value, self->include_routing);
      break;
    case PROP_PUBLISHED:
      g_value_set_uint64 (value, self->published);
      break;
    case PROP_DROPPED:
      g_value_set_uint64 (value, self->dropped);
      break;
    case PROP_OUTBOX_DEPTH:
      g_value_set_uint (
          value, self->outbox ? gst_upm_outbox_depth (self->outbox) : 0);
      break;
    case PROP_RECONNECTS:
      g_value_set_uint (value, self->reconnects);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_upm_publish_finalize (GObject *object)
{
  GstUpmPublish *self = GST_UPM_PUBLISH (object);

  clear_run (self);
  g_free (self->location);
  g_free (self->uri);
  g_free (self->topic);
  g_free (self->stream_id);
  g_free (self->client_id);
  g_free (self->ca_file);
  g_free (self->username);
  g_free (self->password_file);
  g_free (self->password_env);
  g_free (self->spool);
  g_free (self->model_id);
  g_rec_mutex_clear (&self->task_lock);
  G_OBJECT_CLASS (gst_upm_publish_parent_class)->finalize (object);
}

#define RW                                                                     \
  (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)
#define RO (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)

static void
install_string (GObjectClass *oc, guint id, const gchar *name,
    const gchar *nick, const gchar *blurb, const gchar *def)
{
  g_object_class_install_property (
      oc, id, g_param_spec_string (name, nick, blurb, def, RW));
}

static void
install_uint (GObjectClass *oc, guint id, const gchar *name, const gchar *nick,
    const gchar *blurb, guint min, guint max, guint def)
{
  g_object_class_install_property (
      oc, id, g_param_spec_uint (name, nick, blurb, min, max, def, RW));
}

static void
install_settings (GObjectClass *oc)
{
  g_object_class_install_property (oc, PROP_METHOD,
      g_param_spec_enum ("method", "Method",
          "Where results go: an MQTT broker (uri, topic) or a JSON-lines "
          "file (location)",
          GST_TYPE_UPM_PUBLISH_METHOD, DEFAULT_METHOD, RW));
  install_string (oc, PROP_LOCATION, "location", "Location",
      "method=file: the file results are appended to, one JSON object a line",
      NULL);
  install_string (oc, PROP_URI, "uri", "Broker URI",
      "method=mqtt: mqtt://HOST[:PORT] (1883) or mqtts://HOST[:PORT] (TLS, "
      "8883)",
      DEFAULT_URI);
  install_string (oc, PROP_TOPIC, "topic", "Topic",
      "MQTT topic; ${stream} and ${task} are replaced by the stream id and "
      "the result's task",
      DEFAULT_TOPIC);
  install_string (oc, PROP_STREAM_ID, "stream-id", "Stream id",
      "The stream's name in the messages, their ids and topics (NULL: the "
      "element's name)",
      NULL);
  install_uint (oc, PROP_QOS, "qos", "QoS",
      "MQTT quality of service: 0 at most once, 1 at least once, 2 exactly "
      "once (per connection)",
      0, 2, DEFAULT_QOS);
  g_object_class_install_property (oc, PROP_MQTT_VERSION,
      g_param_spec_enum ("mqtt-version", "MQTT version",
          "The MQTT protocol version to speak", GST_TYPE_UPM_MQTT_VERSION,
          DEFAULT_MQTT_VERSION, RW));
  install_string (oc, PROP_CLIENT_ID, "client-id", "Client id",
      "MQTT client id, unique on the broker (NULL: a random one)", NULL);
  install_uint (oc, PROP_KEEPALIVE, "keepalive", "Keepalive",
      "MQTT keepalive in seconds", 5, 65535, DEFAULT_KEEPALIVE);
  install_string (oc, PROP_CA_FILE, "ca-file", "CA file",
      "TLS: the CA certificate (PEM) the broker's is checked against; "
      "setting it turns TLS on (mqtts:// without it: the system's CAs)",
      NULL);
  install_string (oc, PROP_USERNAME, "username", "User name",
      "MQTT user name (NULL: none)", NULL);
  install_string (oc, PROP_PASSWORD_FILE, "password-file", "Password file",
      "A file whose first line is the MQTT password (never logged); takes "
      "precedence over password-env",
      NULL);
  install_string (oc, PROP_PASSWORD_ENV, "password-env", "Password variable",
      "The environment variable that holds the MQTT password (never "
      "logged); unset or empty: no password",
      DEFAULT_PASSWORD_ENV);
}

static void
install_outbox (GObjectClass *oc)
{
  install_uint (oc, PROP_OUTBOX_SIZE, "outbox-size", "Outbox size",
      "Results kept while the broker is away; a full outbox drops the "
      "oldest (counted in dropped) (0: unbounded)",
      0, G_MAXUINT, DEFAULT_OUTBOX_SIZE);
  install_string (oc, PROP_SPOOL, "spool", "Spool file",
      "A file that keeps the outbox over a restart of the element or the "
      "process (NULL: memory only)",
      NULL);
  install_uint (oc, PROP_FLUSH_TIMEOUT, "flush-timeout", "Flush timeout",
      "At EOS, how long (ms) to wait for the outbox to be delivered", 0,
      G_MAXUINT, DEFAULT_FLUSH_TIMEOUT);
  install_uint (oc, PROP_MAX_BACKOFF, "max-backoff", "Max backoff",
      "The longest wait (ms) between two connect attempts (they start at "
      "100 ms and double)",
      MIN_BACKOFF_MS, G_MAXUINT, DEFAULT_MAX_BACKOFF);
  install_string (oc, PROP_MODEL_ID, "model-id", "Model id",
      "The model's id in the messages, e.g. \"sha256:<hex of the weights>\" "
      "(NULL: null)",
      NULL);
  g_object_class_install_property (oc, PROP_INCLUDE_ROUTING,
      g_param_spec_boolean ("include-routing", "Include routing",
          "Write the full \"routing\" member (the routing_summary is always "
          "there)",
          DEFAULT_INCLUDE_ROUTING, RW));
}

static void
install_counters (GObjectClass *oc)
{
  g_object_class_install_property (oc, PROP_PUBLISHED,
      g_param_spec_uint64 ("published", "Published",
          "Results the broker acknowledged (or the file took) since start", 0,
          G_MAXUINT64, 0, RO));
  g_object_class_install_property (oc, PROP_DROPPED,
      g_param_spec_uint64 ("dropped", "Dropped",
          "Results given up since start: the outbox was full, the broker "
          "refused them, or they were still undelivered at stop without a "
          "spool",
          0, G_MAXUINT64, 0, RO));
  g_object_class_install_property (oc, PROP_OUTBOX_DEPTH,
      g_param_spec_uint ("outbox-depth", "Outbox depth",
          "Results waiting to be delivered", 0, G_MAXUINT, 0, RO));
  g_object_class_install_property (oc, PROP_RECONNECTS,
      g_param_spec_uint ("reconnects", "Reconnects",
          "Connections to the broker made after the first, since start", 0,
          G_MAXUINT, 0, RO));
  g_object_class_install_property (oc, PROP_CONNECTED,
      g_param_spec_boolean ("connected", "Connected",
          "Whether the broker connection is up now", FALSE, RO));
}

static void
gst_upm_publish_class_init (GstUpmPublishClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  GstElementClass *ec = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *bc = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_upm_publish_debug, "upmpublish", 0,
      "publishes uniperceiver results to MQTT or a file");
  oc->set_property = gst_upm_publish_set_property;
  oc->get_property = gst_upm_publish_get_property;
  oc->finalize = gst_upm_publish_finalize;
  install_settings (oc);
  install_outbox (oc);
  install_counters (oc);
  gst_element_class_add_static_pad_template (ec, &sink_template);
  gst_element_class_add_static_pad_template (ec, &src_template);
  gst_element_class_set_static_metadata (ec, "Uni-Perceiver result publisher",
      "Sink/Network",
      "Publishes each clip's results (versioned JSON) to an "
      "MQTT broker or a JSON-lines file and passes the buffers through",
      "gst-uniperceiver authors");
  bc->start = GST_DEBUG_FUNCPTR (gst_upm_publish_start);
  bc->stop = GST_DEBUG_FUNCPTR (gst_upm_publish_stop);
  bc->transform_ip = GST_DEBUG_FUNCPTR (gst_upm_publish_transform_ip);
  bc->sink_event = GST_DEBUG_FUNCPTR (gst_upm_publish_sink_event);
  /* the buffers go through untouched; transform_ip only reads their metas */
  bc->transform_ip_on_passthrough = TRUE;
  gst_type_mark_as_plugin_api (GST_TYPE_UPM_PUBLISH_METHOD, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_UPM_MQTT_VERSION, 0);
}

static void
gst_upm_publish_init (GstUpmPublish *self)
{
  self->method = DEFAULT_METHOD;
  self->uri = g_strdup (DEFAULT_URI);
  self->topic = g_strdup (DEFAULT_TOPIC);
  self->qos = DEFAULT_QOS;
  self->mqtt_version = DEFAULT_MQTT_VERSION;
  self->keepalive = DEFAULT_KEEPALIVE;
  self->password_env = g_strdup (DEFAULT_PASSWORD_ENV);
  self->outbox_size = DEFAULT_OUTBOX_SIZE;
  self->flush_timeout = DEFAULT_FLUSH_TIMEOUT;
  self->max_backoff = DEFAULT_MAX_BACKOFF;
  self->include_routing = DEFAULT_INCLUDE_ROUTING;
  g_rec_mutex_init (&self->task_lock);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}
