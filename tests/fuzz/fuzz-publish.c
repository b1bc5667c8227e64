/* fuzz-publish.c: upmpublish's messages, topics and broker URIs on
 * arbitrary bytes.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is fields split at NUL bytes: broker URI, topic template,
 * stream id, label, caption text, model id. Whatever they hold, a URI is
 * taken with a host and a port in 1-65535 or refused with a message; a
 * topic template is refused or gives a UTF-8 topic without wildcards; the
 * message is one valid UTF-8 JSON object of schema version 1 that holds
 * the result and the caption.
 */
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gstupmpublishmsg.h"
#include "upmmeta.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

enum
{
  F_URI,
  F_TOPIC,
  F_STREAM,
  F_LABEL,
  F_CAPTION,
  F_MODEL,
  N_FIELDS
};

static void
check_uri (const gchar *uri)
{
  GError *err = NULL;
  gboolean tls = FALSE;
  gchar *host = NULL;
  guint port = 0;

  if (gst_upm_publish_parse_uri (uri, &tls, &host, &port, &err))
    {
      if (host == NULL || *host == '\0' || port < 1 || port > 65535)
        abort ();
      g_free (host);
    }
  else if (err == NULL || err->message == NULL)
    abort ();
  g_clear_error (&err);
}

static void
check_topic (const gchar *templ, const gchar *stream, const gchar *task)
{
  GError *err = NULL;
  gchar *topic;

  if (!gst_upm_publish_topic_check (templ, &err))
    {
      if (err == NULL)
        abort ();
      g_clear_error (&err);
      return;
    }
  topic = gst_upm_publish_topic (templ, stream, task);
  if (!g_utf8_validate (topic, -1, NULL) || strpbrk (topic, "+#") != NULL)
    abort ();
  g_free (topic);
}

static GstBuffer *
result_buffer (const gchar *label, const gchar *caption)
{
  GstBuffer *buf = gst_buffer_new ();
  GstUpmScore score = { (gchar *)label, 0, 1.0f, 1.0f };
  static const gint32 ids[] = { 1, 2 };

  gst_buffer_add_upm_result_meta (buf, "classify", 0, GST_SECOND, &score, 1);
  gst_buffer_add_upm_caption_meta (
      buf, caption, ids, G_N_ELEMENTS (ids), -1.0f, 0, GST_SECOND);
  return buf;
}

static void
check_message (const gchar *const *f)
{
  GstUpmPublishEnvelope env = { f[F_STREAM], "1f", 7, 1, f[F_MODEL], TRUE };
  GstBuffer *buf = result_buffer (f[F_LABEL], f[F_CAPTION]);
  gchar *task = NULL, *msg = gst_upm_publish_message (buf, &env, &task);
  JsonNode *node;
  JsonObject *o;

  if (!g_utf8_validate (msg, -1, NULL) || strchr (msg, '\n') != NULL)
    abort ();
  node = json_from_string (msg, NULL);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    abort ();
  o = json_node_get_object (node);
  if (json_object_get_int_member (o, "schema_version") != 1
      || json_object_get_int_member (o, "seq") != 7
      || !json_object_has_member (o, "result")
      || !json_object_has_member (o, "caption")
      || g_strcmp0 (task, "classify") != 0)
    abort ();
  check_topic (f[F_TOPIC], f[F_STREAM], task);
  json_node_unref (node);
  g_free (task);
  g_free (msg);
  gst_buffer_unref (buf);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean inited;
  const gchar *f[N_FIELDS];
  gchar *copy = g_malloc (size + 1), *p = copy;
  guint i;

  if (!inited)
    gst_init (NULL, NULL), inited = TRUE;
  memcpy (copy, data, size);
  copy[size] = '\0';
  /* missing fields are empty */
  for (i = 0; i < N_FIELDS; i++)
    {
      if (p < copy + size)
        {
          f[i] = p;
          p += strlen (p) + 1;
        }
      else
        f[i] = "";
    }
  check_uri (f[F_URI]);
  check_message (f);
  g_free (copy);
  return 0;
}
