/* gstupmmqtt.h: one MQTT connection of upmpublish (libmosquitto), driven
 * from the delivery thread only.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A connection lives from one connect to its loss: the publisher makes a
 * new one after a loss, so that only its outbox (not libmosquitto's own
 * queue) resends what was not acknowledged, in order.
 */
#ifndef __GST_UPM_MQTT_H__
#define __GST_UPM_MQTT_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  const gchar *host;
  guint port;
  gboolean tls;
  const gchar *ca_file;   /* NULL: the system's CAs (with tls) */
  const gchar *client_id; /* NULL: a random one */
  const gchar *username;  /* NULL: none */
  const gchar *password;  /* NULL: none; never logged */
  guint keepalive;        /* seconds */
  guint version;          /* 3 (3.1.1) or 5 */
  gint qos;
} GstUpmMqttSettings;

typedef enum
{
  GST_UPM_MQTT_CONNECTING, /* waiting for the broker's CONNACK */
  GST_UPM_MQTT_UP,
  GST_UPM_MQTT_LOST,    /* connect failed or the connection went */
  GST_UPM_MQTT_REFUSED, /* the broker refused: see the error */
} GstUpmMqttState;

typedef struct _GstUpmMqtt GstUpmMqtt;

/* TRUE when the plugin was built with libmosquitto. */
gboolean gst_upm_mqtt_available (void);

/* Starts connecting (the TCP connect does not wait). NULL with @error
 * (G_IO_ERROR_CONNECTION_REFUSED etc.: try again later;
 * G_IO_ERROR_INVALID_ARGUMENT: settings that will never work, e.g. a CA
 * file that cannot be read) otherwise. */
GstUpmMqtt *gst_upm_mqtt_connect (
    const GstUpmMqttSettings *settings, GError **error);

void gst_upm_mqtt_free (GstUpmMqtt *mqtt);

/* Runs the network for up to @timeout_ms. On GST_UPM_MQTT_LOST and _REFUSED
 * @error says why; a refusal is G_IO_ERROR_PERMISSION_DENIED (credentials)
 * or G_IO_ERROR_NOT_SUPPORTED (protocol version, client id), both for the
 * user to fix. */
GstUpmMqttState gst_upm_mqtt_run (
    GstUpmMqtt *mqtt, gint timeout_ms, GError **error);

typedef enum
{
  GST_UPM_MQTT_SENT,     /* acknowledged later under its ticket */
  GST_UPM_MQTT_GONE,     /* the connection is gone: send it again later */
  GST_UPM_MQTT_REJECTED, /* it can never be sent (too big, bad topic) */
} GstUpmMqttSend;

/* Publishes @payload to @topic, acknowledged later under @ticket. On
 * GST_UPM_MQTT_REJECTED @error says why. */
GstUpmMqttSend gst_upm_mqtt_publish (GstUpmMqtt *mqtt, const gchar *topic,
    const gchar *payload, guint64 ticket, GError **error);

/* The messages still waiting for their acknowledgement. */
guint gst_upm_mqtt_in_flight (GstUpmMqtt *mqtt);

/* The tickets acknowledged since the last call, oldest first (free with
 * g_array_unref; guint64 elements). */
GArray *gst_upm_mqtt_take_acks (GstUpmMqtt *mqtt);

/* The tickets the broker refused since the last call (MQTT 5: a PUBACK or
 * PUBREC with a failure reason, e.g. not authorised for the topic), as
 * gst_upm_mqtt_take_acks; @reason (may be NULL) gets the last one's reason
 * in words. Under MQTT 3.1.1 a broker drops such messages unsaid. */
GArray *gst_upm_mqtt_take_refused (GstUpmMqtt *mqtt, gchar **reason);

G_END_DECLS
#endif /* __GST_UPM_MQTT_H__ */
