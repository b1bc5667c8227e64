/* test-format.c: the result formatter (lib/upm-format): every format on
 * one record, JSON escaping, cue-unsafe text, times.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-format.h"

#include <math.h>
#include <string.h>

static const UpmFormatScore scores[] = {
  { "a \"red\" --> ball\n", 2, 8.421689f, 0.75f },
  { "b\\c\t\x01", 0, 7.5f, 0.25f },
};

static const UpmFormatRoute routes[] = {
  { 0, "attn", "cls_input", 0, 65, { 3, 1 }, { 0.625f, 0.375f } },
};

static const guint8 token_experts[] = { 1, 2, 3, 0 };
static const UpmFormatTokenRoute token_routes[] = {
  { 2, "ffn", "caption_text", 65, 2, token_experts },
};

static const gint32 ids[] = { 320, 522, -1 };

#define SPAN_CLASSIFY                                                          \
  {                                                                            \
    1066600000, UPM_FORMAT_TIME_NONE                                           \
  }
#define SPAN_CAPTION                                                           \
  {                                                                            \
    0, 33333333                                                                \
  }

/* A classification of the clip 1.0666 s .. 2.1334 s with its routing. */
static const UpmFormatRecord classify_record = {
  .task = "classify",
  .start = 1.0666,
  .end = 2.1334,
  .n_frames = 4,
  .span = SPAN_CLASSIFY,
  .scores = { TRUE, SPAN_CLASSIFY, scores, G_N_ELEMENTS (scores) },
  .routing = { .present = TRUE,
      .span = SPAN_CLASSIFY,
      .model = "tiny",
      .n_layers = 4,
      .n_experts = 8,
      .routes = routes,
      .n_routes = G_N_ELEMENTS (routes) },
};

/* The caption of a still image, with characters cues cannot hold. */
static const UpmFormatRecord caption_record = {
  .task = "caption",
  .n_frames = 1,
  .span = SPAN_CAPTION,
  .caption = { TRUE, SPAN_CAPTION, "a cat\r\n--> \"runs\"", ids,
      G_N_ELEMENTS (ids), -0.5f },
};

static void
check_json_line (const UpmFormatRecord *r, const char *want)
{
  GString *s = g_string_new (NULL);

  upm_format_json (s, r, UPM_FORMAT_JSON_LINE);
  g_assert_cmpstr (s->str, ==, want);
  g_string_truncate (s, 0);
  upm_format_record (s, r, UPM_FORMAT_JSON, 1);
  g_assert_cmpuint (s->len, ==, strlen (want) + 1);
  g_assert_true (g_str_has_prefix (s->str, want));
  g_assert_cmpint (s->str[s->len - 1], ==, '\n');
  g_string_free (s, TRUE);
}

static void
test_json_line (void)
{
  UpmFormatRecord r = classify_record;

  check_json_line (&r,
      "{\"start\":1.067,\"end\":2.133,\"frames\":4,\"task\":\"classify\","
      "\"labels\":[{\"index\":2,\"label\":\"a \\\"red\\\" --> ball\\n\","
      "\"score\":8.42169,\"prob\":0.75},{\"index\":0,\"label\":"
      "\"b\\\\c\\t\\u0001\",\"score\":7.5,\"prob\":0.25}],"
      "\"routing\":[{\"layer\":0,\"gate\":\"attn\",\"attr\":\"cls_input\","
      "\"tokens\":[0,65],\"experts\":[3,1],\"weights\":[0.625,0.375]}]}");
  r.task = "retrieve";
  r.routing.present = FALSE;
  check_json_line (&r,
      "{\"start\":1.067,\"end\":2.133,\"frames\":4,\"task\":\"retrieve\","
      "\"results\":[{\"index\":2,\"caption\":\"a \\\"red\\\" --> ball\\n\","
      "\"score\":8.42169},{\"index\":0,\"caption\":\"b\\\\c\\t\\u0001\","
      "\"score\":7.5}]}");
  r = caption_record;
  check_json_line (&r,
      "{\"start\":0.000,\"end\":0.000,\"frames\":1,\"task\":\"caption\","
      "\"caption\":\"a cat\\r\\n--> \\\"runs\\\"\",\"ids\":[320,522,-1],"
      "\"score\":-0.5}");
}

static void
test_json_metas (void)
{
  UpmFormatRecord r = classify_record;
  GString *s = g_string_new (NULL);

  r.routing.token_routes = token_routes;
  r.routing.n_token_routes = G_N_ELEMENTS (token_routes);
  r.routing.grid_width = 4;
  r.routing.grid_height = 4;
  r.routing.grid_frames = 4;
  r.routing.visual_begin = 1;
  r.scores.n_items = 1;
  upm_format_json (s, &r, UPM_FORMAT_JSON_METAS);
  g_assert_cmpstr (s->str, ==,
      "{\"pts\":1066600000,\"pts_seconds\":1.0666,\"duration\":null,"
      "\"duration_seconds\":null,\"result\":{\"task\":\"classify\","
      "\"pts\":1066600000,\"pts_seconds\":1.0666,\"duration\":null,"
      "\"duration_seconds\":null,\"scores\":[{\"label\":"
      "\"a \\\"red\\\" --> ball\\n\",\"index\":2,"
      "\"logit\":8.4216890335083008,\"prob\":0.75}]},"
      "\"routing\":{\"model\":\"tiny\",\"layers\":4,\"experts\":8,"
      "\"pts\":1066600000,\"pts_seconds\":1.0666,\"duration\":null,"
      "\"duration_seconds\":null,\"routes\":[{\"layer\":0,\"gate\":\"attn\","
      "\"segment\":\"cls_input\",\"token_begin\":0,\"token_end\":65,"
      "\"experts\":[3,1],\"weights\":[0.625,0.375]}],"
      "\"grid\":{\"visual_begin\":1,\"width\":4,\"height\":4,\"frames\":4},"
      "\"token_routes\":[{\"layer\":2,\"gate\":\"ffn\","
      "\"segment\":\"caption_text\",\"token_begin\":65,\"n_tokens\":2,"
      "\"experts\":[1,2,3,0]}]}}");

  /* json-glib's numbers: %.17g, ".0" for integral values; NULL strings and
   * NaN are null */
  r = caption_record;
  r.caption.text = NULL;
  r.caption.score = NAN;
  r.caption.n_ids = 0;
  g_string_truncate (s, 0);
  upm_format_json (s, &r, UPM_FORMAT_JSON_METAS);
  g_assert_cmpstr (s->str, ==,
      "{\"pts\":0,\"pts_seconds\":0.0,\"duration\":33333333,"
      "\"duration_seconds\":0.033333333,\"caption\":{\"text\":null,"
      "\"ids\":[],\"score\":null,\"pts\":0,\"pts_seconds\":0.0,"
      "\"duration\":33333333,\"duration_seconds\":0.033333333}}");
  g_string_free (s, TRUE);
}

static void
test_json_values (void)
{
  GString *s = g_string_new (NULL);
  const float v[] = { 0.1f, INFINITY, -2.0f, NAN };

  upm_json_string (s, "q\"b\\s/n\nr\rt\tb\bf\f\x01\x1f\x7f é");
  g_assert_cmpstr (s->str, ==,
      "\"q\\\"b\\\\s/n\\nr\\rt\\tb\\bf\\f\\u0001\\u001f\\u007f é\"");
  g_string_truncate (s, 0);
  upm_json_string_or_null (s, NULL);
  upm_json_floats (s, v, G_N_ELEMENTS (v));
  upm_json_ints (s, ids, 0);
  g_assert_cmpstr (s->str, ==, "null[0.1,null,-2,null][]");
  g_string_free (s, TRUE);
}

static void
check_text (
    const UpmFormatRecord *r, UpmFormatTextStyle style, const char *want)
{
  GString *s = g_string_new (NULL);

  upm_format_text (s, r, style);
  g_assert_cmpstr (s->str, ==, want);
  if (style == UPM_FORMAT_TEXT_LINE)
    {
      g_string_truncate (s, 0);
      upm_format_record (s, r, UPM_FORMAT_TEXT, 1);
      g_assert_cmpstr (s->str, ==, want);
    }
  g_string_free (s, TRUE);
}

static void
test_text (void)
{
  UpmFormatRecord r = classify_record;

  check_text (&r, UPM_FORMAT_TEXT_LINE,
      "[00:00:01.067 --> 00:00:02.133] a \"red\" --> ball\n (p 0.750); "
      "b\\c\t\x01 (p 0.250)\n"
      "    layer  0 attn cls_input        tokens [0, 65): expert 3 (0.625) "
      "+ expert 1 (0.375)\n");
  check_text (&r, UPM_FORMAT_TEXT_LABEL, "a \"red\" --> ball\n");
  check_text (&r, UPM_FORMAT_TEXT_LABEL_SCORE, "a \"red\" --> ball\n (0.75)");
  r.task = "retrieve";
  r.routing.present = FALSE;
  check_text (&r, UPM_FORMAT_TEXT_LINE,
      "[00:00:01.067 --> 00:00:02.133] a \"red\" --> ball\n (score 8.422); "
      "b\\c\t\x01 (score 7.500)\n");
  check_text (&caption_record, UPM_FORMAT_TEXT_LINE,
      "[00:00:00.000 --> 00:00:00.000] a cat\r\n--> \"runs\" (score -0.50)\n");
  check_text (&caption_record, UPM_FORMAT_TEXT_LABEL, "a cat\r\n--> \"runs\"");
  check_text (
      &caption_record, UPM_FORMAT_TEXT_LABEL_SCORE, "a cat\r\n--> \"runs\"");
}

/* The scores of a cue are one line: cue-safe text has no line breaks. */
static void
test_cues (void)
{
  UpmFormatRecord r = classify_record;
  GString *s = g_string_new (NULL);

  upm_format_header (s, UPM_FORMAT_WEBVTT);
  upm_format_record (s, &r, UPM_FORMAT_WEBVTT, 1);
  g_assert_cmpstr (s->str, ==,
      "WEBVTT\n\n"
      "NOTE routing\n"
      "layer  0 attn cls_input        tokens [0, 65): expert 3 (0.625) + "
      "expert 1 (0.375)\n\n"
      "00:00:01.067 --> 00:00:02.133\n"
      "a \"red\" -> ball  (75.0%) b\\c\t\x01 (25.0%)\n\n");

  /* SRT: numbered, comma before the milliseconds, no routing; an empty
   * clip lasts 1 ms; no line breaks or "-->" in the text */
  r = caption_record;
  g_string_truncate (s, 0);
  upm_format_header (s, UPM_FORMAT_SRT);
  upm_format_cue (s, &r, UPM_FORMAT_SRT, 7);
  g_assert_cmpstr (
      s->str, ==, "7\n00:00:00,000 --> 00:00:00,001\na cat  -> \"runs\"\n\n");
  g_string_free (s, TRUE);
}

static void
test_helpers (void)
{
  char buf[32], *safe;
  UpmFormat f;

  upm_format_time (3723.4565, FALSE, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "01:02:03.457");
  upm_format_time (-1.0, TRUE, buf, sizeof buf);
  g_assert_cmpstr (buf, ==, "00:00:00,000");
  safe = upm_format_cue_safe ("a-->b--->c\n\nd\r-->");
  g_assert_cmpstr (safe, ==, "a->b-->c  d ->");
  g_free (safe);

  g_assert_true (upm_format_from_name ("vtt", &f) && f == UPM_FORMAT_WEBVTT);
  g_assert_true (upm_format_from_name ("webvtt", &f) && f == UPM_FORMAT_WEBVTT);
  g_assert_true (upm_format_from_name ("srt", &f) && f == UPM_FORMAT_SRT);
  g_assert_true (upm_format_from_name ("json", &f) && f == UPM_FORMAT_JSON);
  g_assert_true (upm_format_from_name ("text", &f) && f == UPM_FORMAT_TEXT);
  g_assert_false (upm_format_from_name ("xml", &f));
}

/* Two views of a clip: the first with its crop in the resized frame, the
 * second without it and with a frame of unknown time. */
static const guint64 view_frames[] = { 0, 32, 5, 37 };
static const guint64 view_pts[]
    = { 0, 1066666667, 166666667, UPM_FORMAT_TIME_NONE };
static const UpmFormatView views[] = {
  { .view = 0,
      .n_views = 2,
      .temporal_view = 0,
      .crop = 0,
      .n_frames = 2,
      .frames = view_frames,
      .pts = view_pts,
      .x = 37.5,
      .y = 0,
      .width = 240,
      .height = 240,
      .resized_width = 298,
      .resized_height = 224,
      .resized_x = 37,
      .resized_y = 0,
      .resized_size = 224 },
  { .view = 1,
      .n_views = 2,
      .temporal_view = 1,
      .crop = 0,
      .n_frames = 2,
      .frames = view_frames + 2,
      .pts = view_pts + 2,
      .x = 0.25,
      .y = 1,
      .width = 2,
      .height = 2 },
};

#define VIEWS_JSON                                                             \
  "[{\"view\":0,\"views\":2,\"temporal_view\":0,\"crop\":0,"                   \
  "\"frames\":[0,32],\"pts\":[0,1066666667],"                                  \
  "\"pts_seconds\":[0.0,1.066666667],"                                         \
  "\"box\":{\"x\":37.5,\"y\":0.0,\"width\":240.0,\"height\":240.0},"           \
  "\"resized\":{\"width\":298,\"height\":224,\"x\":37,\"y\":0,"                \
  "\"size\":224}},"                                                            \
  "{\"view\":1,\"views\":2,\"temporal_view\":1,\"crop\":0,"                    \
  "\"frames\":[5,37],\"pts\":[166666667,null],"                                \
  "\"pts_seconds\":[0.16666666699999999,null],"                                \
  "\"box\":{\"x\":0.25,\"y\":1.0,\"width\":2.0,\"height\":2.0}}]"

/* upm_format_views_json, and the views, preset and score kind of a record
 * in both JSON shapes (upm-run and upmhead write the same fields). */
static void
test_views (void)
{
  UpmFormatRecord r = classify_record;
  GString *s = g_string_new (NULL);

  upm_format_views_json (s, views, G_N_ELEMENTS (views));
  g_assert_cmpstr (s->str, ==, VIEWS_JSON);

  r.task = "retrieve";
  r.routing.present = FALSE;
  r.scores.n_items = 1;
  r.scores.kind = "cosine";
  r.preset = "msrvtt-retrieval";
  r.views = views;
  r.n_views = G_N_ELEMENTS (views);
  check_json_line (&r,
      "{\"start\":1.067,\"end\":2.133,\"frames\":4,\"task\":\"retrieve\","
      "\"results\":[{\"index\":2,\"caption\":\"a \\\"red\\\" --> ball\\n\","
      "\"score\":8.42169}],\"preset\":\"msrvtt-retrieval\","
      "\"score_kind\":\"cosine\",\"views\":" VIEWS_JSON "}");
  g_string_truncate (s, 0);
  upm_format_json (s, &r, UPM_FORMAT_JSON_METAS);
  g_assert_cmpstr (s->str, ==,
      "{\"pts\":1066600000,\"pts_seconds\":1.0666,\"duration\":null,"
      "\"duration_seconds\":null,\"result\":{\"task\":\"retrieve\","
      "\"pts\":1066600000,\"pts_seconds\":1.0666,\"duration\":null,"
      "\"duration_seconds\":null,\"score_kind\":\"cosine\",\"scores\":"
      "[{\"label\":\"a \\\"red\\\" --> ball\\n\",\"index\":2,"
      "\"logit\":8.4216890335083008,\"prob\":0.75}]},"
      "\"preset\":\"msrvtt-retrieval\",\"views\":" VIEWS_JSON "}");

  /* no views, no kind: only the preset */
  r.n_views = 0;
  r.scores.kind = NULL;
  r.preset = "default";
  g_string_truncate (s, 0);
  upm_format_json (s, &r, UPM_FORMAT_JSON_LINE);
  g_assert_true (g_str_has_suffix (s->str, "}],\"preset\":\"default\"}"));
  g_string_free (s, TRUE);
}

static const struct
{
  const char *path;
  GTestFunc func;
} tests[] = {
  { "/format/json-line", test_json_line },
  { "/format/json-metas", test_json_metas },
  { "/format/json-values", test_json_values },
  { "/format/views", test_views },
  { "/format/text", test_text },
  { "/format/cues", test_cues },
  { "/format/helpers", test_helpers },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (tests); i++)
    g_test_add_func (tests[i].path, tests[i].func);
  return g_test_run ();
}
