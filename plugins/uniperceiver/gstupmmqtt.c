/* gstupmmqtt.c: one MQTT connection of upmpublish (libmosquitto).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libmosquitto runs without its own thread (mosquitto_loop from the
 * delivery thread): its callbacks run inside gst_upm_mqtt_run, on the
 * caller's thread, so the connection needs no lock.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmmqtt.h"

#include <gio/gio.h>

#ifdef HAVE_MQTT
#include <errno.h>
#include <mosquitto.h>
#include <string.h>

struct _GstUpmMqtt
{
  struct mosquitto *mosq;
  gint qos;
  GstUpmMqttState state;
  gint refusal;          /* CONNACK reason code when refused */
  GHashTable *in_flight; /* mid -> ticket (guint64 in a pointer) */
  GArray *acks;          /* guint64 tickets */
  GHashTable *early;     /* mids acknowledged inside the publish call */
  GArray *refused;       /* guint64 tickets the broker refused */
  gint refusal_reason;   /* the last one's MQTT 5 reason code */
  gint lost_rc;          /* mosquitto error of the loss */
  gint lost_errno;       /* errno then, for MOSQ_ERR_ERRNO */
  gboolean tls;
};

static gpointer
init_library (gpointer unused)
{
  mosquitto_lib_init ();
  return NULL;
}

gboolean
gst_upm_mqtt_available (void)
{
  return TRUE;
}

static void
on_connect (struct mosquitto *mosq, void *obj, int rc, int flags,
    const mosquitto_property *props)
{
  GstUpmMqtt *m = obj;

  (void)mosq, (void)flags, (void)props;
  if (rc == 0)
    m->state = GST_UPM_MQTT_UP;
  else
    m->state = GST_UPM_MQTT_REFUSED, m->refusal = rc;
}

static void
on_disconnect (
    struct mosquitto *mosq, void *obj, int rc, const mosquitto_property *props)
{
  GstUpmMqtt *m = obj;

  (void)mosq, (void)props;
  if (m->state != GST_UPM_MQTT_REFUSED)
    m->state = GST_UPM_MQTT_LOST, m->lost_rc = rc;
}

/* The broker has the message (QoS 1: PUBACK, 2: PUBCOMP) or, at QoS 0, it
 * was written to the socket. */
static void
on_publish (struct mosquitto *mosq, void *obj, int mid, int reason,
    const mosquitto_property *props)
{
  GstUpmMqtt *m = obj;
  gpointer ticket;

  (void)mosq, (void)props;
  if (g_hash_table_steal_extended (
          m->in_flight, GINT_TO_POINTER (mid), NULL, &ticket))
    {
      guint64 t = GPOINTER_TO_SIZE (ticket);

      /* MQTT 5 reason codes from 0x80 are failures */
      if (reason >= 0x80)
        {
          g_array_append_val (m->refused, t);
          m->refusal_reason = reason;
        }
      else
        g_array_append_val (m->acks, t);
    }
  else
    g_hash_table_add (m->early, GINT_TO_POINTER (mid));
}

static gboolean
set_up (GstUpmMqtt *m, const GstUpmMqttSettings *s, GError **error)
{
  int rc;

  mosquitto_int_option (m->mosq, MOSQ_OPT_PROTOCOL_VERSION,
      s->version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  mosquitto_connect_v5_callback_set (m->mosq, on_connect);
  mosquitto_disconnect_v5_callback_set (m->mosq, on_disconnect);
  mosquitto_publish_v5_callback_set (m->mosq, on_publish);
  if (s->username != NULL || s->password != NULL)
    mosquitto_username_pw_set (m->mosq, s->username, s->password);
  if (s->tls || s->ca_file != NULL)
    {
      if (s->ca_file != NULL)
        rc = mosquitto_tls_set (m->mosq, s->ca_file, NULL, NULL, NULL, NULL);
      else
        rc = mosquitto_int_option (m->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
      if (rc != MOSQ_ERR_SUCCESS)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
              "cannot use the CA file \"%s\" for TLS (%s): set ca-file to a "
              "readable PEM file",
              s->ca_file ? s->ca_file : "(system)", mosquitto_strerror (rc));
          return FALSE;
        }
    }
  return TRUE;
}

static void
set_connect_error (GError **error, int rc, const GstUpmMqttSettings *s)
{
  const gchar *why
      = rc == MOSQ_ERR_ERRNO ? g_strerror (errno) : mosquitto_strerror (rc);

  if (rc == MOSQ_ERR_TLS)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
        "TLS with the MQTT broker %s:%u failed (%s): check that ca-file is "
        "the CA that signed the broker's certificate and that the "
        "certificate names the host of the URI",
        s->host, s->port, why);
  else
    g_set_error (error, G_IO_ERROR,
        rc == MOSQ_ERR_EAI ? G_IO_ERROR_HOST_NOT_FOUND
                           : G_IO_ERROR_CONNECTION_REFUSED,
        "cannot connect to the MQTT broker %s:%u: %s", s->host, s->port, why);
}

GstUpmMqtt *
gst_upm_mqtt_connect (const GstUpmMqttSettings *s, GError **error)
{
  static GOnce once = G_ONCE_INIT;
  GstUpmMqtt *m;
  int rc;

  g_once (&once, init_library, NULL);
  m = g_new0 (GstUpmMqtt, 1);
  m->qos = s->qos;
  m->tls = s->tls || s->ca_file != NULL;
  m->state = GST_UPM_MQTT_CONNECTING;
  m->in_flight = g_hash_table_new (NULL, NULL);
  m->acks = g_array_new (FALSE, FALSE, sizeof (guint64));
  m->early = g_hash_table_new (NULL, NULL);
  m->refused = g_array_new (FALSE, FALSE, sizeof (guint64));
  m->mosq = mosquitto_new (s->client_id, TRUE, m);
  if (m->mosq == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "cannot make an MQTT client (client id \"%s\"): %s",
          s->client_id ? s->client_id : "(random)", g_strerror (errno));
      gst_upm_mqtt_free (m);
      return NULL;
    }
  if (!set_up (m, s, error))
    {
      gst_upm_mqtt_free (m);
      return NULL;
    }
  rc = mosquitto_connect_async (
      m->mosq, s->host, (int)s->port, (int)MAX (s->keepalive, 5));
  if (rc != MOSQ_ERR_SUCCESS)
    {
      set_connect_error (error, rc, s);
      gst_upm_mqtt_free (m);
      return NULL;
    }
  return m;
}

void
gst_upm_mqtt_free (GstUpmMqtt *m)
{
  if (m == NULL)
    return;
  if (m->mosq != NULL)
    {
      if (m->state == GST_UPM_MQTT_UP)
        mosquitto_disconnect (m->mosq);
      mosquitto_destroy (m->mosq);
    }
  g_hash_table_unref (m->in_flight);
  g_array_unref (m->acks);
  g_hash_table_unref (m->early);
  g_array_unref (m->refused);
  g_free (m);
}

static gboolean
is_credentials_refusal (gint rc)
{
  /* 3.1.1: 4 bad user name or password, 5 not authorised; 5: 0x86, 0x87,
   * 0x8C bad authentication method */
  return rc == 4 || rc == 5 || rc == 0x86 || rc == 0x87 || rc == 0x8C;
}

static void
set_refusal_error (GstUpmMqtt *m, GError **error)
{
  if (is_credentials_refusal (m->refusal))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
        "the MQTT broker refused the credentials (%s): check username and "
        "the password in password-file or password-env",
        mosquitto_connack_string (m->refusal));
  else if (m->refusal == 1 || m->refusal == 0x84)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "the MQTT broker does not accept this protocol version (%s): set "
        "mqtt-version",
        mosquitto_connack_string (m->refusal));
  else if (m->refusal == 2 || m->refusal == 0x85)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "the MQTT broker rejected the client id (%s): set another client-id",
        mosquitto_connack_string (m->refusal));
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
        "the MQTT broker refused the connection (%s)",
        mosquitto_connack_string (m->refusal));
}

/* A TLS link lost before the CONNACK, not for want of a listener: the
 * handshake failed (libmosquitto reports it as MOSQ_ERR_TLS or, from its
 * reads, as an errno such as EPROTO). */
static gboolean
lost_in_handshake (const GstUpmMqtt *m, gboolean was_connecting)
{
  if (!m->tls || !was_connecting)
    return FALSE;
  if (m->lost_rc == MOSQ_ERR_TLS)
    return TRUE;
  return m->lost_rc != MOSQ_ERR_ERRNO
         || (m->lost_errno != ECONNREFUSED && m->lost_errno != EHOSTUNREACH
             && m->lost_errno != ENETUNREACH && m->lost_errno != ETIMEDOUT);
}

static const gchar *
lost_reason (const GstUpmMqtt *m)
{
  return m->lost_rc == MOSQ_ERR_ERRNO ? g_strerror (m->lost_errno)
                                      : mosquitto_strerror (m->lost_rc);
}

GstUpmMqttState
gst_upm_mqtt_run (GstUpmMqtt *m, gint timeout_ms, GError **error)
{
  gboolean was_connecting = m->state == GST_UPM_MQTT_CONNECTING;
  int rc = MOSQ_ERR_SUCCESS;

  if (m->state == GST_UPM_MQTT_CONNECTING || m->state == GST_UPM_MQTT_UP)
    {
      rc = mosquitto_loop (m->mosq, timeout_ms, 1);
      m->lost_errno = errno;
    }
  if (rc != MOSQ_ERR_SUCCESS && m->state != GST_UPM_MQTT_REFUSED)
    m->state = GST_UPM_MQTT_LOST, m->lost_rc = rc;
  if (m->state == GST_UPM_MQTT_REFUSED)
    set_refusal_error (m, error);
  else if (m->state == GST_UPM_MQTT_LOST
           && lost_in_handshake (m, was_connecting))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
        "TLS with the MQTT broker failed (%s): check that ca-file is the CA "
        "that signed the broker's certificate and that the certificate "
        "names the host of the URI",
        lost_reason (m));
  else if (m->state == GST_UPM_MQTT_LOST)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
        "lost the connection to the MQTT broker: %s", lost_reason (m));
  return m->state;
}

GstUpmMqttSend
gst_upm_mqtt_publish (GstUpmMqtt *m, const gchar *topic, const gchar *payload,
    guint64 ticket, GError **error)
{
  int mid = 0, rc;

  rc = mosquitto_publish_v5 (m->mosq, &mid, topic, (int)strlen (payload),
      payload, m->qos, FALSE, NULL);
  if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_PAYLOAD_SIZE
      || rc == MOSQ_ERR_MALFORMED_UTF8 || rc == MOSQ_ERR_OVERSIZE_PACKET
      || rc == MOSQ_ERR_QOS_NOT_SUPPORTED)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "the MQTT message to \"%s\" (%zu bytes) cannot be sent: %s", topic,
          strlen (payload), mosquitto_strerror (rc));
      return GST_UPM_MQTT_REJECTED;
    }
  if (rc != MOSQ_ERR_SUCCESS)
    {
      m->state = GST_UPM_MQTT_LOST, m->lost_rc = rc;
      return GST_UPM_MQTT_GONE;
    }
  /* a QoS 0 message may already be written (and its callback run) */
  if (g_hash_table_remove (m->early, GINT_TO_POINTER (mid)))
    g_array_append_val (m->acks, ticket);
  else
    g_hash_table_insert (
        m->in_flight, GINT_TO_POINTER (mid), GSIZE_TO_POINTER (ticket));
  return GST_UPM_MQTT_SENT;
}

guint
gst_upm_mqtt_in_flight (GstUpmMqtt *m)
{
  return g_hash_table_size (m->in_flight);
}

GArray *
gst_upm_mqtt_take_acks (GstUpmMqtt *m)
{
  GArray *acks = m->acks;

  m->acks = g_array_new (FALSE, FALSE, sizeof (guint64));
  return acks;
}

GArray *
gst_upm_mqtt_take_refused (GstUpmMqtt *m, gchar **reason)
{
  GArray *refused = m->refused;

  m->refused = g_array_new (FALSE, FALSE, sizeof (guint64));
  if (reason != NULL)
    *reason = refused->len > 0
                  ? g_strdup (mosquitto_reason_string (m->refusal_reason))
                  : NULL;
  return refused;
}

#else /* !HAVE_MQTT */

gboolean
gst_upm_mqtt_available (void)
{
  return FALSE;
}

GstUpmMqtt *
gst_upm_mqtt_connect (const GstUpmMqttSettings *s, GError **error)
{
  (void)s;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
      "this plugin was built without libmosquitto (meson option mqtt): "
      "install libmosquitto-dev and rebuild, or use method=file");
  return NULL;
}

void
gst_upm_mqtt_free (GstUpmMqtt *m)
{
  (void)m;
}

GstUpmMqttState
gst_upm_mqtt_run (GstUpmMqtt *m, gint timeout_ms, GError **error)
{
  (void)m, (void)timeout_ms, (void)error;
  return GST_UPM_MQTT_LOST;
}

GstUpmMqttSend
gst_upm_mqtt_publish (GstUpmMqtt *m, const gchar *topic, const gchar *payload,
    guint64 ticket, GError **error)
{
  (void)m, (void)topic, (void)payload, (void)ticket, (void)error;
  return GST_UPM_MQTT_GONE;
}

guint
gst_upm_mqtt_in_flight (GstUpmMqtt *m)
{
  (void)m;
  return 0;
}

GArray *
gst_upm_mqtt_take_acks (GstUpmMqtt *m)
{
  (void)m;
  return g_array_new (FALSE, FALSE, sizeof (guint64));
}

GArray *
gst_upm_mqtt_take_refused (GstUpmMqtt *m, gchar **reason)
{
  (void)m;
  if (reason != NULL)
    *reason = NULL;
  return g_array_new (FALSE, FALSE, sizeof (guint64));
}

#endif /* HAVE_MQTT */
