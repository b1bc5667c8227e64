/* fuzz-publishmsg.c: upmpublish's result message (gstupmpublishmsg.c) built
 * from fuzzed metas: result scores and labels, caption text and ids,
 * routing routes, envelope strings. The message must be one JSON object
 * that json-glib parses, with the envelope's values read back unchanged;
 * the topic and broker-URI helpers get the same strings.
 *
 * Input: byte 0 says which metas (bit 0 result, 1 caption, 2 routing,
 * 3 include_routing), byte 1 the number of scores, bytes 2-9 the wall
 * clock and sequence number; then NUL-separated strings (stream, session,
 * model id, task, caption, routing model, labels...); what is left after
 * the last label makes the routes (4 bytes each). The strings are made
 * valid UTF-8 first: their sources (GKeyFile, the label parser, the
 * tokenizer's decoder) only give valid UTF-8.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gstupmpublishmsg.h"
#include "upmmeta.h"

#include <json-glib/json-glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define N_STRINGS 6
#define MAX_SCORES 16

typedef struct
{
  const uint8_t *p, *end;
} Reader;

/* The next NUL-terminated string (or the rest), valid UTF-8; NULL at the
 * end of the input. */
static gchar *
next_string (Reader *r)
{
  const uint8_t *nul;
  gchar *s;

  if (r->p >= r->end)
    return NULL;
  nul = memchr (r->p, 0, r->end - r->p);
  if (nul == NULL)
    nul = r->end;
  s = g_utf8_make_valid ((const gchar *)r->p, nul - r->p);
  r->p = nul < r->end ? nul + 1 : nul;
  return s;
}

static GstBuffer *
make_buffer (guint8 flags, guint n_scores, gchar **str, Reader *r)
{
  GstBuffer *buf = gst_buffer_new ();
  GstUpmScore scores[MAX_SCORES];
  gchar *labels[MAX_SCORES] = { NULL };
  guint i;

  GST_BUFFER_PTS (buf) = 40 * GST_MSECOND;
  GST_BUFFER_DURATION (buf) = GST_SECOND;
  for (i = 0; i < n_scores; i++)
    {
      labels[i] = next_string (r);
      scores[i].label = labels[i] ? labels[i] : (gchar *)"";
      scores[i].index = i;
      scores[i].logit = (gfloat)(n_scores - i) * 0.5f;
      scores[i].prob = 1.0f / (gfloat)(i + 1);
    }
  if (flags & 1)
    {
      GstUpmResultMeta *m = gst_buffer_add_upm_result_meta (
          buf, str[3], 0, GST_SECOND, scores, n_scores);
      gst_upm_result_meta_set_preset (m, str[5]);
      gst_upm_result_meta_set_precision (m, "fp32");
    }
  if (flags & 2)
    {
      gint32 ids[4] = { 1, 2, 3, (gint32)n_scores };
      GstUpmCaptionMeta *m = gst_buffer_add_upm_caption_meta (
          buf, str[4] ? str[4] : "", ids, 4, -1.5f, 0, GST_SECOND);
      gst_upm_caption_meta_set_precision (m, "bf16");
    }
  if (flags & 4)
    {
      GstUpmRoute routes[64];
      guint n = 0;

      for (; n < 64 && r->end - r->p >= 4; n++, r->p += 4)
        {
          routes[n].layer = r->p[0] % 12;
          routes[n].gate = (GstUpmGate)(r->p[0] & 1);
          routes[n].segment = (r->p[1] & 1) ? "text" : "video";
          routes[n].token_begin = r->p[1];
          routes[n].token_end = r->p[2];
          routes[n].expert[0] = r->p[3] % 9; /* 8 experts: 8 is out */
          routes[n].expert[1] = (r->p[3] >> 4) % 8;
          routes[n].weight[0] = 0.75f;
          routes[n].weight[1] = 0.25f;
        }
      gst_buffer_add_upm_routing_meta (
          buf, str[5] ? str[5] : "", 12, 8, 0, GST_SECOND, routes, n);
    }
  for (i = 0; i < n_scores; i++)
    g_free (labels[i]);
  return buf;
}

static void
expect_string (JsonObject *o, const gchar *name, const gchar *want)
{
  const gchar *got;

  if (!json_object_has_member (o, name))
    abort ();
  got = json_object_get_string_member_with_default (o, name, NULL);
  if (g_strcmp0 (got, want) != 0)
    abort ();
}

/* The message parses; the envelope reads back as it was given. */
static void
check_message (const gchar *msg, GstBuffer *buf,
    const GstUpmPublishEnvelope *env, const gchar *task)
{
  JsonParser *parser = json_parser_new ();
  GstUpmResultMeta *result = gst_buffer_get_upm_result_meta (buf);
  GstUpmCaptionMeta *caption = gst_buffer_get_upm_caption_meta (buf);
  const gchar *text = NULL;
  JsonNode *root;
  JsonObject *o;

  if (strchr (msg, '\n') != NULL
      || !json_parser_load_from_data (parser, msg, -1, NULL))
    abort ();
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    abort ();
  o = json_node_get_object (root);
  if (caption != NULL)
    text = caption->text;
  else if (result != NULL && result->n_scores > 0)
    text = result->scores[0].label;
  expect_string (o, "schema", GST_UPM_PUBLISH_SCHEMA);
  expect_string (o, "stream", env->stream);
  expect_string (o, "session", env->session);
  expect_string (o, "task", task);
  expect_string (o, "text", text);
  if (json_object_get_int_member_with_default (o, "seq", -1) != (gint64)env->seq
      || json_object_get_int_member_with_default (o, "time_us", -1)
             != env->wall_us)
    abort ();
  if (!env->include_routing && json_object_has_member (o, "routing"))
    abort ();
  if ((gst_buffer_get_upm_routing_meta (buf) != NULL)
      != json_object_has_member (o, "routing_summary"))
    abort ();
  g_object_unref (parser);
}

static void
check_topic_and_uri (const gchar *stream, const gchar *task, const gchar *s)
{
  gchar *topic = gst_upm_publish_topic ("upm/${stream}/${task}", stream, task);
  gchar *host = NULL;
  guint port = 0;
  gboolean tls = FALSE;
  GError *error = NULL;

  if (strpbrk (topic, "+#") != NULL)
    abort ();
  g_free (topic);
  if (gst_upm_publish_topic_check (s, &error))
    {
      topic = gst_upm_publish_topic (s, stream, task);
      if (strpbrk (topic, "+#") != NULL)
        abort ();
      g_free (topic);
    }
  g_clear_error (&error);
  if (gst_upm_publish_parse_uri (s, &tls, &host, &port, &error))
    {
      if (host == NULL || host[0] == '\0' || port == 0 || port > 65535)
        abort ();
      g_free (host);
    }
  else if (error == NULL)
    abort ();
  g_clear_error (&error);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static gboolean inited = FALSE;
  Reader r = { data + MIN (size, 10), data + size };
  gchar *str[N_STRINGS] = { NULL };
  GstUpmPublishEnvelope env = { 0 };
  GstBuffer *buf;
  gchar *msg, *task = NULL;
  guint8 flags;
  guint i;

  if (!inited)
    {
      gst_init (NULL, NULL);
      inited = TRUE;
    }
  if (size < 10)
    return 0;
  flags = data[0];
  for (i = 0; i < N_STRINGS; i++)
    str[i] = next_string (&r);
  buf = make_buffer (flags, data[1] % MAX_SCORES, str, &r);
  env.stream = str[0] ? str[0] : "cam";
  env.session = str[1] ? str[1] : "s";
  env.model_id = str[2];
  env.seq = data[2] | (guint64)data[3] << 8 | (guint64)data[4] << 16;
  env.wall_us = (gint64)(data[5] | (guint64)data[6] << 8
                         | (guint64)data[7] << 16 | (guint64)data[8] << 24)
                * 1000003;
  env.include_routing = (flags & 8) != 0;
  msg = gst_upm_publish_message (buf, &env, &task);
  check_message (msg, buf, &env, task);
  check_topic_and_uri (env.stream, task, str[3] ? str[3] : "");
  g_free (msg);
  g_free (task);
  gst_buffer_unref (buf);
  for (i = 0; i < N_STRINGS; i++)
    g_free (str[i]);
  return 0;
}
