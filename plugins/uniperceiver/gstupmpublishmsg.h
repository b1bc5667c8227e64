/* gstupmpublishmsg.h: what upmpublish sends: the versioned result message
 * (docs/publish-schema.md), its topic and the broker URI.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_PUBLISH_MSG_H__
#define __GST_UPM_PUBLISH_MSG_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* The version of docs/publish-schema.json that the messages follow; it
 * changes only when a field changes meaning or goes away (fields are added
 * without a new version). */
#define GST_UPM_PUBLISH_SCHEMA "upm-result"
#define GST_UPM_PUBLISH_SCHEMA_VERSION 1

/* What the message says besides the buffer's metas. */
typedef struct
{
  const gchar *stream;      /* the stream id */
  const gchar *session;     /* this run of the element (see the schema) */
  guint64 seq;              /* counts the stream's results in the session */
  gint64 wall_us;           /* wall-clock time, microseconds since 1970 */
  const gchar *model_id;    /* e.g. "sha256:..."; NULL: unknown */
  gboolean include_routing; /* the full "routing" member, not only the
                             * summary */
} GstUpmPublishEnvelope;

/* TRUE when @buffer carries a result or caption meta (a clip's result). */
gboolean gst_upm_publish_has_result (GstBuffer *buffer);

/* The message of @buffer: one JSON object, no newline (free with g_free);
 * *@task (may be NULL) gets its task ("classify", "caption", ...; owned by
 * the caller). */
gchar *gst_upm_publish_message (
    GstBuffer *buffer, const GstUpmPublishEnvelope *env, gchar **task);

/* @templ with ${stream} and ${task} replaced; MQTT wildcards ('+', '#')
 * and NUL in the values become '_' (a topic to publish to may not hold
 * them). */
gchar *gst_upm_publish_topic (
    const gchar *templ, const gchar *stream, const gchar *task);

/* Checks a topic template: not empty, no '+' or '#', only the ${stream}
 * and ${task} variables. */
gboolean gst_upm_publish_topic_check (const gchar *templ, GError **error);

/* "mqtt://host[:port]" (port 1883) or "mqtts://host[:port]" (TLS, port
 * 8883); host may be an [IPv6] address. FALSE with a message that says
 * what is wrong otherwise. */
gboolean gst_upm_publish_parse_uri (
    const gchar *uri, gboolean *tls, gchar **host, guint *port, GError **error);

G_END_DECLS
#endif /* __GST_UPM_PUBLISH_MSG_H__ */
