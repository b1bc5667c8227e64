/* gstupmpublishmsg.c: the versioned result message of upmpublish.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The message is the JSON of gst_upm_buffer_metas_to_json (every member
 * kept, so its readers keep working) behind an envelope: schema, id,
 * stream, session, sequence number, wall-clock time, task, text, precision,
 * model and a routing summary (docs/publish-schema.md).
 */
#include "gstupmpublishmsg.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "upmmeta.h"

gboolean
gst_upm_publish_has_result (GstBuffer *buffer)
{
  return gst_buffer_get_upm_result_meta (buffer) != NULL
         || gst_buffer_get_upm_caption_meta (buffer) != NULL;
}

static const gchar *
buffer_task (GstBuffer *buffer)
{
  GstUpmResultMeta *result = gst_buffer_get_upm_result_meta (buffer);

  if (result != NULL && result->task != NULL)
    return result->task;
  if (gst_buffer_get_upm_caption_meta (buffer) != NULL)
    return "caption";
  return "none";
}

/* The best label, or the caption: what a status line shows. */
static const gchar *
buffer_text (GstBuffer *buffer)
{
  GstUpmCaptionMeta *caption = gst_buffer_get_upm_caption_meta (buffer);
  GstUpmResultMeta *result = gst_buffer_get_upm_result_meta (buffer);

  if (caption != NULL && caption->text != NULL)
    return caption->text;
  if (result != NULL && result->n_scores > 0)
    return result->scores[0].label;
  return NULL;
}

static const gchar *
buffer_precision (GstBuffer *buffer)
{
  GstUpmResultMeta *result = gst_buffer_get_upm_result_meta (buffer);
  GstUpmCaptionMeta *caption = gst_buffer_get_upm_caption_meta (buffer);
  GstUpmRoutingMeta *routing = gst_buffer_get_upm_routing_meta (buffer);

  if (result != NULL && result->precision != NULL)
    return result->precision;
  if (caption != NULL && caption->precision != NULL)
    return caption->precision;
  if (routing != NULL)
    return routing->precision;
  return NULL;
}

/* @value as a JSON string (bytes that are not UTF-8 become U+FFFD), or
 * null. */
static void
set_string_or_null (JsonObject *o, const gchar *name, const gchar *value)
{
  gchar *valid;

  if (value == NULL)
    {
      json_object_set_null_member (o, name);
      return;
    }
  valid = g_utf8_make_valid (value, -1);
  json_object_set_string_member (o, name, valid);
  g_free (valid);
}

/* Which experts served the tokens: per expert, the tokens it was the
 * first choice for, summed over the layers and gates. */
static JsonObject *
routing_summary (const GstUpmRoutingMeta *m)
{
  JsonObject *o = json_object_new ();
  JsonArray *load = json_array_new ();
  guint64 *tokens = g_new0 (guint64, MAX (m->n_experts, 1));
  guint i, best = 0;

  for (i = 0; i < m->n_routes; i++)
    {
      const GstUpmRoute *r = &m->routes[i];

      if (r->expert[0] < m->n_experts && r->token_end > r->token_begin)
        tokens[r->expert[0]] += r->token_end - r->token_begin;
    }
  for (i = 0; i < m->n_experts; i++)
    {
      json_array_add_int_element (load, (gint64)tokens[i]);
      if (tokens[i] > tokens[best])
        best = i;
    }
  set_string_or_null (o, "model", m->model);
  json_object_set_int_member (o, "layers", m->n_layers);
  json_object_set_int_member (o, "experts", m->n_experts);
  json_object_set_int_member (o, "routes", m->n_routes);
  json_object_set_array_member (o, "expert_tokens", load);
  if (m->n_experts > 0)
    json_object_set_int_member (o, "top_expert", best);
  g_free (tokens);
  return o;
}

static JsonObject *
model_object (GstBuffer *buffer, const GstUpmPublishEnvelope *env)
{
  GstUpmRoutingMeta *routing = gst_buffer_get_upm_routing_meta (buffer);
  JsonObject *o = json_object_new ();

  set_string_or_null (o, "id", env->model_id);
  set_string_or_null (o, "name", routing ? routing->model : NULL);
  return o;
}

static gchar *
iso8601_utc (gint64 wall_us)
{
  GDateTime *t = g_date_time_new_from_unix_utc (wall_us / G_USEC_PER_SEC);
  GDateTime *tu = g_date_time_add (t, wall_us % G_USEC_PER_SEC);
  gchar *s = g_date_time_format (tu, "%Y-%m-%dT%H:%M:%S.%fZ");

  g_date_time_unref (tu);
  g_date_time_unref (t);
  return s;
}

static void
add_envelope (JsonObject *o, GstBuffer *buffer,
    const GstUpmPublishEnvelope *env, const gchar *task)
{
  GstUpmRoutingMeta *routing = gst_buffer_get_upm_routing_meta (buffer);
  gchar *id = g_strdup_printf (
      "%s/%s/%" G_GUINT64_FORMAT, env->stream, env->session, env->seq);
  gchar *time = iso8601_utc (env->wall_us);

  json_object_set_string_member (o, "schema", GST_UPM_PUBLISH_SCHEMA);
  json_object_set_int_member (
      o, "schema_version", GST_UPM_PUBLISH_SCHEMA_VERSION);
  set_string_or_null (o, "id", id);
  set_string_or_null (o, "stream", env->stream);
  json_object_set_string_member (o, "session", env->session);
  json_object_set_int_member (o, "seq", (gint64)env->seq);
  json_object_set_string_member (o, "time", time);
  json_object_set_int_member (o, "time_us", env->wall_us);
  set_string_or_null (o, "task", task);
  set_string_or_null (o, "text", buffer_text (buffer));
  set_string_or_null (o, "precision", buffer_precision (buffer));
  json_object_set_object_member (o, "model", model_object (buffer, env));
  if (routing != NULL)
    json_object_set_object_member (
        o, "routing_summary", routing_summary (routing));
  g_free (time);
  g_free (id);
}

/* Copies the members of the metas JSON after the envelope. Labels and
 * captions are user data: bytes that are not UTF-8 become U+FFFD so that
 * the message is valid JSON. */
static void
add_metas (JsonObject *o, GstBuffer *buffer, gboolean include_routing)
{
  gchar *json = gst_upm_buffer_metas_to_json (buffer);
  gchar *valid = g_utf8_make_valid (json, -1);
  GError *err = NULL;
  JsonNode *root = json_from_string (valid, &err);
  JsonObject *metas;
  GList *names, *l;

  g_free (valid);
  g_free (json);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      /* not expected (the formatter writes JSON): said in the message */
      json_object_set_string_member (
          o, "metas_error", err ? err->message : "not a JSON object");
      g_clear_error (&err);
      if (root != NULL)
        json_node_unref (root);
      return;
    }
  metas = json_node_get_object (root);
  names = json_object_get_members (metas);
  for (l = names; l != NULL; l = l->next)
    {
      const gchar *name = l->data;

      if (!include_routing && strcmp (name, "routing") == 0)
        continue;
      json_object_set_member (
          o, name, json_node_copy (json_object_get_member (metas, name)));
    }
  g_list_free (names);
  json_node_unref (root);
}

gchar *
gst_upm_publish_message (
    GstBuffer *buffer, const GstUpmPublishEnvelope *env, gchar **task)
{
  const gchar *t = buffer_task (buffer);
  JsonObject *o = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  gchar *text;

  add_envelope (o, buffer, env, t);
  add_metas (o, buffer, env->include_routing);
  json_node_take_object (node, o);
  text = json_to_string (node, FALSE);
  json_node_unref (node);
  if (task != NULL)
    *task = g_strdup (t);
  return text;
}

/* MQTT topics are UTF-8 without wildcards: other bytes become U+FFFD. */
static void
append_topic_value (GString *s, const gchar *value)
{
  gchar *valid = g_utf8_make_valid (value ? value : "", -1);
  const gchar *p;

  for (p = valid; *p != '\0'; p++)
    g_string_append_c (s, (*p == '+' || *p == '#') ? '_' : *p);
  g_free (valid);
}

gchar *
gst_upm_publish_topic (
    const gchar *templ, const gchar *stream, const gchar *task)
{
  GString *s = g_string_new (NULL);
  const gchar *p = templ;

  while (*p != '\0')
    {
      if (g_str_has_prefix (p, "${stream}"))
        {
          append_topic_value (s, stream);
          p += strlen ("${stream}");
        }
      else if (g_str_has_prefix (p, "${task}"))
        {
          append_topic_value (s, task);
          p += strlen ("${task}");
        }
      else
        g_string_append_c (s, *p++);
    }
  return g_string_free (s, FALSE);
}

gboolean
gst_upm_publish_topic_check (const gchar *templ, GError **error)
{
  const gchar *p;

  if (templ == NULL || *templ == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "the topic is empty: set topic, e.g. \"upm/${stream}/${task}\"");
      return FALSE;
    }
  if (!g_utf8_validate (templ, -1, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "the topic is not UTF-8, as MQTT wants it");
      return FALSE;
    }
  if (strpbrk (templ, "+#") != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "topic \"%s\" holds an MQTT wildcard ('+' or '#'), which a "
          "publisher may not use",
          templ);
      return FALSE;
    }
  for (p = strstr (templ, "${"); p != NULL; p = strstr (p + 2, "${"))
    {
      if (!g_str_has_prefix (p, "${stream}")
          && !g_str_has_prefix (p, "${task}"))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
              "topic \"%s\": unknown variable at \"%s\" (only ${stream} and "
              "${task})",
              templ, p);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
uri_fail (GError **error, const gchar *uri, const gchar *why)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
      "bad broker URI \"%s\": %s; write mqtt://HOST[:PORT] (or mqtts:// "
      "for TLS)",
      uri ? uri : "(null)", why);
  return FALSE;
}

static gboolean
parse_port (const gchar *text, guint *port)
{
  guint64 v;

  return g_ascii_string_to_unsigned (text, 10, 1, 65535, &v, NULL)
         && (*port = (guint)v, TRUE);
}

/* @hostport: "host", "host:port", "[v6]" or "[v6]:port". */
static gboolean
split_host_port (const gchar *uri, const gchar *hostport, gchar **host,
    guint *port, GError **error)
{
  const gchar *colon;
  gchar *h;

  if (hostport[0] == '[')
    {
      const gchar *end = strchr (hostport, ']');

      if (end == NULL || (end[1] != '\0' && end[1] != ':'))
        return uri_fail (error, uri, "unterminated [IPv6 address]");
      h = g_strndup (hostport + 1, end - hostport - 1);
      colon = end[1] == ':' ? end + 1 : NULL;
    }
  else
    {
      colon = strchr (hostport, ':');
      h = colon ? g_strndup (hostport, colon - hostport) : g_strdup (hostport);
    }
  if (*h == '\0')
    {
      g_free (h);
      return uri_fail (error, uri, "no host");
    }
  if (colon != NULL && !parse_port (colon + 1, port))
    {
      g_free (h);
      return uri_fail (error, uri, "the port is not a number 1-65535");
    }
  *host = h;
  return TRUE;
}

gboolean
gst_upm_publish_parse_uri (
    const gchar *uri, gboolean *tls, gchar **host, guint *port, GError **error)
{
  gchar *hostport;
  gboolean ok;

  if (uri == NULL)
    return uri_fail (error, uri, "no URI");
  if (g_str_has_prefix (uri, "mqtt://"))
    *tls = FALSE, hostport = g_strdup (uri + strlen ("mqtt://"));
  else if (g_str_has_prefix (uri, "mqtts://"))
    *tls = TRUE, hostport = g_strdup (uri + strlen ("mqtts://"));
  else
    return uri_fail (error, uri, "the scheme is not mqtt:// or mqtts://");
  *port = *tls ? 8883 : 1883;
  /* one trailing slash is fine: "mqtt://host/" */
  if (g_str_has_suffix (hostport, "/"))
    hostport[strlen (hostport) - 1] = '\0';
  if (strpbrk (hostport, "/?#@ ") != NULL)
    ok = uri_fail (
        error, uri, "a path, query, user or space is not supported there");
  else
    ok = split_host_port (uri, hostport, host, port, error);
  g_free (hostport);
  return ok;
}
