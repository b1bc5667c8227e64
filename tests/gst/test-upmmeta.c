/* test-upmmeta.c: the result, caption and routing metas and their JSON.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "upm-test-harness.h"
#include "upmmeta.h"

static const GstUpmScore test_scores[] = {
  { (gchar *)"a red circle", 3, 12.5f, 0.75f },
  { (gchar *)"a blue square", 0, 10.25f, 0.2f },
  { (gchar *)"ünïcødé \"quoted\"", 7, -1.5f, 0.05f },
};

static const gint32 test_ids[] = { 320, 1125, 539, 49406 };

static GstUpmRoute test_routes[] = {
  { 0, GST_UPM_GATE_ATTN, "cls_input", 0, 17, { 3, 5 }, { 0.625f, 0.375f } },
  { 0, GST_UPM_GATE_FFN, "cls_input", 0, 17, { 1, 0 }, { 0.5f, 0.5f } },
  { 2, GST_UPM_GATE_ATTN, "caption_prefix", 1, 65, { 7, 2 },
      { 0.875f, 0.125f } },
};

static GstUpmRoute extra_routes[] = {
  { 2, GST_UPM_GATE_FFN, "caption_text", 65, 80, { 4, 6 }, { 0.75f, 0.25f } },
};

static GstBuffer *
buffer_with_all_metas (void)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 16, NULL);

  GST_BUFFER_PTS (buf) = 2 * GST_SECOND;
  GST_BUFFER_DURATION (buf) = 500 * GST_MSECOND;
  fail_unless (gst_buffer_add_upm_result_meta (buf, "classify", 2 * GST_SECOND,
                   500 * GST_MSECOND, test_scores, G_N_ELEMENTS (test_scores))
               != NULL);
  fail_unless (
      gst_buffer_add_upm_caption_meta (buf, "a red circle moves", test_ids,
          G_N_ELEMENTS (test_ids), -0.5f, 2 * GST_SECOND, GST_CLOCK_TIME_NONE)
      != NULL);
  fail_unless (
      gst_buffer_add_upm_routing_meta (buf, "tiny-moe", 4, 8, 2 * GST_SECOND,
          500 * GST_MSECOND, test_routes, G_N_ELEMENTS (test_routes))
      != NULL);
  return buf;
}

static void
check_result (GstUpmResultMeta *m)
{
  guint i;

  fail_unless (m != NULL);
  fail_unless_equals_string (m->task, "classify");
  fail_unless_equals_uint64 (m->pts, 2 * GST_SECOND);
  fail_unless_equals_uint64 (m->duration, 500 * GST_MSECOND);
  fail_unless_equals_int (m->n_scores, G_N_ELEMENTS (test_scores));
  for (i = 0; i < m->n_scores; i++)
    {
      fail_unless_equals_string (m->scores[i].label, test_scores[i].label);
      /* a copy, not the caller's string */
      fail_unless (m->scores[i].label != test_scores[i].label);
      fail_unless_equals_int (m->scores[i].index, test_scores[i].index);
      fail_unless_equals_float (m->scores[i].logit, test_scores[i].logit);
      fail_unless_equals_float (m->scores[i].prob, test_scores[i].prob);
    }
}

static void
check_caption (GstUpmCaptionMeta *m)
{
  guint i;

  fail_unless (m != NULL);
  fail_unless_equals_string (m->text, "a red circle moves");
  fail_unless_equals_int (m->n_ids, G_N_ELEMENTS (test_ids));
  fail_unless (m->ids != test_ids);
  for (i = 0; i < m->n_ids; i++)
    fail_unless_equals_int (m->ids[i], test_ids[i]);
  fail_unless_equals_float (m->score, -0.5f);
  fail_unless_equals_uint64 (m->pts, 2 * GST_SECOND);
  fail_unless_equals_uint64 (m->duration, GST_CLOCK_TIME_NONE);
}

static void
check_route (const GstUpmRoute *a, const GstUpmRoute *b)
{
  fail_unless_equals_int (a->layer, b->layer);
  fail_unless_equals_int (a->gate, b->gate);
  fail_unless_equals_string (a->segment, b->segment);
  /* interned */
  fail_unless (a->segment == g_intern_string (b->segment));
  fail_unless_equals_int (a->token_begin, b->token_begin);
  fail_unless_equals_int (a->token_end, b->token_end);
  fail_unless_equals_int (a->expert[0], b->expert[0]);
  fail_unless_equals_int (a->expert[1], b->expert[1]);
  fail_unless_equals_float (a->weight[0], b->weight[0]);
  fail_unless_equals_float (a->weight[1], b->weight[1]);
}

static void
check_routing (GstUpmRoutingMeta *m, gboolean with_extra)
{
  guint i;

  fail_unless (m != NULL);
  fail_unless_equals_string (m->model, "tiny-moe");
  fail_unless_equals_int (m->n_layers, 4);
  fail_unless_equals_int (m->n_experts, 8);
  fail_unless_equals_uint64 (m->pts, 2 * GST_SECOND);
  fail_unless_equals_uint64 (m->duration, 500 * GST_MSECOND);
  fail_unless_equals_int (
      m->n_routes, G_N_ELEMENTS (test_routes) + (with_extra ? 1 : 0));
  for (i = 0; i < G_N_ELEMENTS (test_routes); i++)
    check_route (&m->routes[i], &test_routes[i]);
  if (with_extra)
    check_route (&m->routes[G_N_ELEMENTS (test_routes)], &extra_routes[0]);
}

/* The three metas of buffer_with_all_metas on @buf. */
static void
check_metas (GstBuffer *buf)
{
  check_result (gst_buffer_get_upm_result_meta (buf));
  check_caption (gst_buffer_get_upm_caption_meta (buf));
  check_routing (gst_buffer_get_upm_routing_meta (buf), FALSE);
}

GST_START_TEST (test_api_types)
{
  const gchar *const *tags;

  fail_unless (GST_UPM_RESULT_META_API_TYPE != 0);
  fail_unless (GST_UPM_CAPTION_META_API_TYPE != 0);
  fail_unless (GST_UPM_ROUTING_META_API_TYPE != 0);
  fail_unless_equals_string (
      g_type_name (GST_UPM_RESULT_META_API_TYPE), "GstUpmResultMetaAPI");
  fail_unless_equals_string (
      g_type_name (GST_UPM_RESULT_META_INFO->type), "GstUpmResultMeta");
  fail_unless_equals_string (
      g_type_name (GST_UPM_CAPTION_META_INFO->type), "GstUpmCaptionMeta");
  fail_unless_equals_string (
      g_type_name (GST_UPM_ROUTING_META_INFO->type), "GstUpmRoutingMeta");
  /* same info on every call */
  fail_unless (GST_UPM_ROUTING_META_INFO == gst_upm_routing_meta_get_info ());

  /* empty tags: video transforms keep the metas */
  tags = gst_meta_api_type_get_tags (GST_UPM_RESULT_META_API_TYPE);
  fail_unless (tags == NULL || tags[0] == NULL);
  tags = gst_meta_api_type_get_tags (GST_UPM_CAPTION_META_API_TYPE);
  fail_unless (tags == NULL || tags[0] == NULL);
  tags = gst_meta_api_type_get_tags (GST_UPM_ROUTING_META_API_TYPE);
  fail_unless (tags == NULL || tags[0] == NULL);

  fail_unless_equals_string (gst_upm_gate_name (GST_UPM_GATE_ATTN), "attn");
  fail_unless_equals_string (gst_upm_gate_name (GST_UPM_GATE_FFN), "ffn");
}

GST_END_TEST;

GST_START_TEST (test_add_get)
{
  GstBuffer *buf = gst_buffer_new ();

  fail_unless (gst_buffer_get_upm_result_meta (buf) == NULL);
  fail_unless (gst_buffer_get_upm_caption_meta (buf) == NULL);
  fail_unless (gst_buffer_get_upm_routing_meta (buf) == NULL);
  gst_buffer_unref (buf);

  buf = buffer_with_all_metas ();
  check_metas (buf);
  gst_buffer_unref (buf);
}

GST_END_TEST;

GST_START_TEST (test_empty_metas)
{
  GstBuffer *buf = gst_buffer_new ();
  GstUpmResultMeta *r;
  GstUpmCaptionMeta *c;
  GstUpmRoutingMeta *m;

  r = gst_buffer_add_upm_result_meta (
      buf, NULL, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, NULL, 0);
  fail_unless (r != NULL);
  fail_unless (r->task == NULL && r->scores == NULL && r->n_scores == 0);
  c = gst_buffer_add_upm_caption_meta (buf, "", NULL, 0, 0.0f, 0, 0);
  fail_unless (c != NULL);
  fail_unless_equals_string (c->text, "");
  fail_unless (c->ids == NULL && c->n_ids == 0);
  m = gst_buffer_add_upm_routing_meta (buf, "dense", 2, 0, 0, 0, NULL, 0);
  fail_unless (m != NULL);
  fail_unless (m->routes == NULL && m->n_routes == 0);
  gst_upm_routing_meta_append (m, NULL, 0);
  fail_unless_equals_int (m->n_routes, 0);
  gst_buffer_unref (buf);
}

GST_END_TEST;

GST_START_TEST (test_copy_transform)
{
  GstBuffer *buf = buffer_with_all_metas ();
  GstBuffer *copy = gst_buffer_copy (buf);
  GstUpmResultMeta *r0 = gst_buffer_get_upm_result_meta (buf);
  GstUpmResultMeta *r1 = gst_buffer_get_upm_result_meta (copy);
  GstUpmCaptionMeta *c0 = gst_buffer_get_upm_caption_meta (buf);
  GstUpmCaptionMeta *c1 = gst_buffer_get_upm_caption_meta (copy);
  GstUpmRoutingMeta *m0 = gst_buffer_get_upm_routing_meta (buf);
  GstUpmRoutingMeta *m1 = gst_buffer_get_upm_routing_meta (copy);

  /* deep copies, not shared storage */
  fail_unless (r1 != NULL && r1 != r0);
  fail_unless (r1->task != r0->task && r1->scores != r0->scores);
  fail_unless (r1->scores[0].label != r0->scores[0].label);
  fail_unless (c1 != NULL && c1->text != c0->text && c1->ids != c0->ids);
  fail_unless (m1 != NULL && m1->model != m0->model);
  fail_unless (m1->routes != m0->routes);

  /* the copy outlives the original */
  gst_buffer_unref (buf);
  check_result (r1);
  check_caption (c1);
  check_routing (m1, FALSE);

  /* and is copied again in turn */
  buf = gst_buffer_copy (copy);
  gst_buffer_unref (copy);
  check_metas (buf);
  gst_buffer_unref (buf);
}

GST_END_TEST;

/* The preset names and score kind added after 0.1.0 are copied with their
 * metas and written as upm-run writes them. */
GST_START_TEST (test_preset_fields)
{
  GstBuffer *buf = buffer_with_all_metas (), *copy;
  GstUpmResultMeta *r;
  GstUpmCaptionMeta *c;
  gchar *json;

  gst_upm_result_meta_set_score_kind (
      gst_buffer_get_upm_result_meta (buf), "softmax");
  gst_upm_result_meta_set_preset (
      gst_buffer_get_upm_result_meta (buf), "coco-retrieval");
  gst_upm_caption_meta_set_preset (
      gst_buffer_get_upm_caption_meta (buf), "coco-retrieval");
  copy = gst_buffer_copy (buf);
  gst_buffer_unref (buf);
  r = gst_buffer_get_upm_result_meta (copy);
  c = gst_buffer_get_upm_caption_meta (copy);
  fail_unless_equals_string (r->score_kind, "softmax");
  fail_unless_equals_string (r->preset, "coco-retrieval");
  fail_unless_equals_string (c->preset, "coco-retrieval");
  json = gst_upm_buffer_metas_to_json (copy);
  fail_unless (strstr (json, "\"score_kind\":\"softmax\"") != NULL, "%s", json);
  fail_unless (
      g_str_has_suffix (json, ",\"preset\":\"coco-retrieval\"}"), "%s", json);
  g_free (json);
  /* unset */
  gst_upm_result_meta_set_preset (r, NULL);
  gst_upm_caption_meta_set_preset (c, NULL);
  json = gst_upm_buffer_metas_to_json (copy);
  fail_unless (strstr (json, "\"preset\"") == NULL, "%s", json);
  g_free (json);
  gst_buffer_unref (copy);
}

GST_END_TEST;

GST_START_TEST (test_copy_region)
{
  GstBuffer *buf = buffer_with_all_metas ();
  GstBuffer *part = gst_buffer_copy_region (buf, GST_BUFFER_COPY_ALL, 4, 8);

  gst_buffer_unref (buf);
  check_metas (part);
  gst_buffer_unref (part);
}

GST_END_TEST;

GST_START_TEST (test_other_transform_refused)
{
  GstBuffer *buf = buffer_with_all_metas ();
  GstBuffer *dest = gst_buffer_new ();
  GstMeta *meta = (GstMeta *)gst_buffer_get_upm_routing_meta (buf);
  GQuark scale = g_quark_from_static_string ("gst-video-scale");

  fail_if (meta->info->transform_func (dest, meta, buf, scale, NULL));
  fail_unless (gst_buffer_get_upm_routing_meta (dest) == NULL);
  meta = (GstMeta *)gst_buffer_get_upm_result_meta (buf);
  fail_if (meta->info->transform_func (dest, meta, buf, scale, NULL));
  meta = (GstMeta *)gst_buffer_get_upm_caption_meta (buf);
  fail_if (meta->info->transform_func (dest, meta, buf, scale, NULL));
  fail_unless_equals_int (
      gst_buffer_get_n_meta (dest, GST_UPM_RESULT_META_API_TYPE), 0);
  gst_buffer_unref (dest);
  gst_buffer_unref (buf);
}

GST_END_TEST;

GST_START_TEST (test_append)
{
  GstBuffer *buf = buffer_with_all_metas ();
  GstUpmRoutingMeta *m = gst_buffer_get_upm_routing_meta (buf);
  gchar segment[] = "caption_text";
  GstUpmRoute route = extra_routes[0];
  GstBuffer *copy;

  /* the segment name is interned: a caller's buffer may go away */
  route.segment = segment;
  gst_upm_routing_meta_append (m, &route, 1);
  memset (segment, 'x', sizeof (segment) - 1);
  check_routing (m, TRUE);

  copy = gst_buffer_copy (buf);
  gst_buffer_unref (buf);
  check_routing (gst_buffer_get_upm_routing_meta (copy), TRUE);
  gst_buffer_unref (copy);
}

GST_END_TEST;

/* ------------------------------------------------------------------ JSON */

static JsonObject *
parse_json (const gchar *json, JsonParser **parser)
{
  GError *err = NULL;
  JsonNode *root;

  *parser = json_parser_new ();
  fail_unless (json_parser_load_from_data (*parser, json, -1, &err),
      "not JSON: %s", err ? err->message : "");
  root = json_parser_get_root (*parser);
  fail_unless (JSON_NODE_HOLDS_OBJECT (root));
  return json_node_get_object (root);
}

static void
check_json_time (JsonObject *o, const gchar *name, GstClockTime t)
{
  gchar *seconds = g_strconcat (name, "_seconds", NULL);

  fail_unless (json_object_has_member (o, name), "no %s", name);
  fail_unless (json_object_has_member (o, seconds), "no %s", seconds);
  if (GST_CLOCK_TIME_IS_VALID (t))
    {
      fail_unless_equals_int64 (json_object_get_int_member (o, name), t);
      fail_unless (G_APPROX_VALUE (json_object_get_double_member (o, seconds),
          (gdouble)t / GST_SECOND, 1e-12));
    }
  else
    {
      fail_unless (json_object_get_null_member (o, name));
      fail_unless (json_object_get_null_member (o, seconds));
    }
  g_free (seconds);
}

/* floats go through %.17g doubles: exact after a cast back */
static void
check_json_float (JsonNode *node, gfloat v)
{
  fail_unless (JSON_NODE_HOLDS_VALUE (node));
  fail_unless ((gfloat)json_node_get_double (node) == v, "%.9g != %.9g",
      json_node_get_double (node), v);
}

GST_START_TEST (test_json)
{
  GstBuffer *buf = buffer_with_all_metas ();
  JsonParser *parser;
  JsonObject *root, *o, *e;
  JsonArray *a, *pair;
  gchar *json;
  guint i;

  gst_upm_routing_meta_append (
      gst_buffer_get_upm_routing_meta (buf), extra_routes, 1);
  json = gst_upm_buffer_metas_to_json (buf);
  fail_unless (json != NULL);
  GST_INFO ("%s", json);
  root = parse_json (json, &parser);

  check_json_time (root, "pts", 2 * GST_SECOND);
  check_json_time (root, "duration", 500 * GST_MSECOND);

  /* result */
  o = json_object_get_object_member (root, "result");
  fail_unless (o != NULL);
  fail_unless_equals_string (
      json_object_get_string_member (o, "task"), "classify");
  check_json_time (o, "pts", 2 * GST_SECOND);
  check_json_time (o, "duration", 500 * GST_MSECOND);
  a = json_object_get_array_member (o, "scores");
  fail_unless_equals_int (
      json_array_get_length (a), G_N_ELEMENTS (test_scores));
  for (i = 0; i < G_N_ELEMENTS (test_scores); i++)
    {
      e = json_array_get_object_element (a, i);
      fail_unless_equals_string (
          json_object_get_string_member (e, "label"), test_scores[i].label);
      fail_unless_equals_int (
          json_object_get_int_member (e, "index"), test_scores[i].index);
      check_json_float (
          json_object_get_member (e, "logit"), test_scores[i].logit);
      check_json_float (
          json_object_get_member (e, "prob"), test_scores[i].prob);
    }

  /* caption */
  o = json_object_get_object_member (root, "caption");
  fail_unless (o != NULL);
  fail_unless_equals_string (
      json_object_get_string_member (o, "text"), "a red circle moves");
  a = json_object_get_array_member (o, "ids");
  fail_unless_equals_int (json_array_get_length (a), G_N_ELEMENTS (test_ids));
  for (i = 0; i < G_N_ELEMENTS (test_ids); i++)
    fail_unless_equals_int (json_array_get_int_element (a, i), test_ids[i]);
  check_json_float (json_object_get_member (o, "score"), -0.5f);
  check_json_time (o, "pts", 2 * GST_SECOND);
  check_json_time (o, "duration", GST_CLOCK_TIME_NONE);

  /* routing */
  o = json_object_get_object_member (root, "routing");
  fail_unless (o != NULL);
  fail_unless_equals_string (
      json_object_get_string_member (o, "model"), "tiny-moe");
  fail_unless_equals_int (json_object_get_int_member (o, "layers"), 4);
  fail_unless_equals_int (json_object_get_int_member (o, "experts"), 8);
  check_json_time (o, "pts", 2 * GST_SECOND);
  check_json_time (o, "duration", 500 * GST_MSECOND);
  a = json_object_get_array_member (o, "routes");
  fail_unless_equals_int (
      json_array_get_length (a), G_N_ELEMENTS (test_routes) + 1);
  for (i = 0; i < json_array_get_length (a); i++)
    {
      const GstUpmRoute *r
          = i < G_N_ELEMENTS (test_routes) ? &test_routes[i] : &extra_routes[0];

      e = json_array_get_object_element (a, i);
      fail_unless_equals_int (
          json_object_get_int_member (e, "layer"), r->layer);
      fail_unless_equals_string (json_object_get_string_member (e, "gate"),
          gst_upm_gate_name (r->gate));
      fail_unless_equals_string (
          json_object_get_string_member (e, "segment"), r->segment);
      fail_unless_equals_int (
          json_object_get_int_member (e, "token_begin"), r->token_begin);
      fail_unless_equals_int (
          json_object_get_int_member (e, "token_end"), r->token_end);
      pair = json_object_get_array_member (e, "experts");
      fail_unless_equals_int (json_array_get_length (pair), 2);
      fail_unless_equals_int (
          json_array_get_int_element (pair, 0), r->expert[0]);
      fail_unless_equals_int (
          json_array_get_int_element (pair, 1), r->expert[1]);
      pair = json_object_get_array_member (e, "weights");
      fail_unless_equals_int (json_array_get_length (pair), 2);
      check_json_float (json_array_get_element (pair, 0), r->weight[0]);
      check_json_float (json_array_get_element (pair, 1), r->weight[1]);
    }

  g_object_unref (parser);
  g_free (json);
  gst_buffer_unref (buf);
}

GST_END_TEST;

GST_START_TEST (test_json_partial)
{
  GstBuffer *buf = gst_buffer_new ();
  GstUpmScore s = { (gchar *)"x", 0, NAN, INFINITY };
  JsonParser *parser;
  JsonObject *root, *e;
  gchar *json;

  /* no metas, no timestamps */
  json = gst_upm_buffer_metas_to_json (buf);
  root = parse_json (json, &parser);
  check_json_time (root, "pts", GST_CLOCK_TIME_NONE);
  check_json_time (root, "duration", GST_CLOCK_TIME_NONE);
  fail_if (json_object_has_member (root, "result"));
  fail_if (json_object_has_member (root, "caption"));
  fail_if (json_object_has_member (root, "routing"));
  g_object_unref (parser);
  g_free (json);

  /* only a result, with values JSON cannot hold */
  GST_BUFFER_PTS (buf) = 0;
  gst_buffer_add_upm_result_meta (
      buf, "retrieve", 0, GST_CLOCK_TIME_NONE, &s, 1);
  json = gst_upm_buffer_metas_to_json (buf);
  root = parse_json (json, &parser);
  check_json_time (root, "pts", 0);
  fail_unless (json_object_has_member (root, "result"));
  fail_if (json_object_has_member (root, "caption"));
  fail_if (json_object_has_member (root, "routing"));
  e = json_array_get_object_element (
      json_object_get_array_member (
          json_object_get_object_member (root, "result"), "scores"),
      0);
  fail_unless (json_object_get_null_member (e, "logit"));
  fail_unless (json_object_get_null_member (e, "prob"));
  g_object_unref (parser);
  g_free (json);
  gst_buffer_unref (buf);
}

GST_END_TEST;

/* The precision of each part: unset (no member) by default, set on each
 * meta, kept by copies, written in each part of the JSON. */
GST_START_TEST (test_precision)
{
  GstBuffer *buf = buffer_with_all_metas (), *copy;
  gchar precision[] = "bf16"; /* not a literal: the metas intern it */
  JsonParser *parser;
  JsonObject *root;
  gchar *json;
  static const gchar *parts[] = { "result", "caption", "routing" };

  json = gst_upm_buffer_metas_to_json (buf);
  root = parse_json (json, &parser);
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    fail_if (json_object_has_member (
        json_object_get_object_member (root, parts[i]), "precision"));
  g_object_unref (parser);
  g_free (json);

  gst_upm_result_meta_set_precision (
      gst_buffer_get_upm_result_meta (buf), precision);
  gst_upm_caption_meta_set_precision (
      gst_buffer_get_upm_caption_meta (buf), "fp32");
  gst_upm_routing_meta_set_precision (
      gst_buffer_get_upm_routing_meta (buf), precision);
  precision[0] = 'x';
  copy = gst_buffer_copy (buf);
  gst_buffer_unref (buf);
  fail_unless_equals_string (
      gst_buffer_get_upm_result_meta (copy)->precision, "bf16");
  fail_unless_equals_string (
      gst_buffer_get_upm_caption_meta (copy)->precision, "fp32");
  fail_unless_equals_string (
      gst_buffer_get_upm_routing_meta (copy)->precision, "bf16");

  json = gst_upm_buffer_metas_to_json (copy);
  root = parse_json (json, &parser);
  fail_unless_equals_string (
      json_object_get_string_member (
          json_object_get_object_member (root, "result"), "precision"),
      "bf16");
  fail_unless_equals_string (
      json_object_get_string_member (
          json_object_get_object_member (root, "caption"), "precision"),
      "fp32");
  fail_unless_equals_string (
      json_object_get_string_member (
          json_object_get_object_member (root, "routing"), "precision"),
      "bf16");
  g_object_unref (parser);
  g_free (json);

  gst_upm_routing_meta_set_precision (
      gst_buffer_get_upm_routing_meta (copy), NULL);
  fail_unless (gst_buffer_get_upm_routing_meta (copy)->precision == NULL);
  gst_buffer_unref (copy);
}

GST_END_TEST;

static const UpmCheckTest upmmeta_tests[] = {
  UPM_CHECK_TEST (test_api_types),
  UPM_CHECK_TEST (test_add_get),
  UPM_CHECK_TEST (test_empty_metas),
  UPM_CHECK_TEST (test_copy_transform),
  UPM_CHECK_TEST (test_preset_fields),
  UPM_CHECK_TEST (test_copy_region),
  UPM_CHECK_TEST (test_other_transform_refused),
  UPM_CHECK_TEST (test_append),
  UPM_CHECK_TEST (test_json),
  UPM_CHECK_TEST (test_json_partial),
  UPM_CHECK_TEST (test_precision),
};

UPM_CHECK_MAIN (upmmeta, NULL);
