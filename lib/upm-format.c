/* upm-format.c: one clip's result as text, JSON, WebVTT or SRT.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "upm-format.h"

#include <math.h>
#include <string.h>

#define NS_PER_SECOND 1000000000.0

gboolean
upm_format_from_name (const char *name, UpmFormat *format)
{
  if (g_str_equal (name, "text"))
    *format = UPM_FORMAT_TEXT;
  else if (g_str_equal (name, "json"))
    *format = UPM_FORMAT_JSON;
  else if (g_str_equal (name, "webvtt") || g_str_equal (name, "vtt"))
    *format = UPM_FORMAT_WEBVTT;
  else if (g_str_equal (name, "srt"))
    *format = UPM_FORMAT_SRT;
  else
    return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------ JSON values */

/* Short escapes where JSON has them, \u00XX for the other control
 * characters and DEL, as json-glib writes them (the meta library's JSON
 * was json-glib's). */
void
upm_json_string (GString *s, const char *text)
{
  const char *p;

  g_string_append_c (s, '"');
  for (p = text; *p; p++)
    {
      guchar c = (guchar)*p;

      if (c == '"' || c == '\\')
        g_string_append_printf (s, "\\%c", c);
      else if (c == '\b')
        g_string_append (s, "\\b");
      else if (c == '\f')
        g_string_append (s, "\\f");
      else if (c == '\n')
        g_string_append (s, "\\n");
      else if (c == '\r')
        g_string_append (s, "\\r");
      else if (c == '\t')
        g_string_append (s, "\\t");
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (s, "\\u%04x", c);
      else
        g_string_append_c (s, (char)c);
    }
  g_string_append_c (s, '"');
}

void
upm_json_string_or_null (GString *s, const char *text)
{
  if (text)
    upm_json_string (s, text);
  else
    g_string_append (s, "null");
}

void
upm_json_number (GString *s, double v)
{
  if (isfinite (v))
    g_string_append_printf (s, "%.6g", v);
  else
    g_string_append (s, "null");
}

void
upm_json_floats (GString *s, const float *v, guint n)
{
  guint i;

  g_string_append_c (s, '[');
  for (i = 0; i < n; i++)
    {
      if (i)
        g_string_append_c (s, ',');
      upm_json_number (s, v[i]);
    }
  g_string_append_c (s, ']');
}

void
upm_json_ints (GString *s, const gint32 *v, guint n)
{
  const char *sep = "";
  guint i;

  g_string_append_c (s, '[');
  for (i = 0; i < n; i++, sep = ",")
    g_string_append_printf (s, "%s%d", sep, v[i]);
  g_string_append_c (s, ']');
}

/* A double as json-glib writes it: shortest exact (%.17g), ".0" when it
 * would read as an integer; null for NaN and infinity. */
static void
json_double (GString *s, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (v))
    {
      g_string_append (s, "null");
      return;
    }
  g_ascii_dtostr (buf, sizeof buf, v);
  g_string_append (s, buf);
  if (strpbrk (buf, ".eE") == NULL)
    g_string_append (s, ".0");
}

/* ,"<key>": -- every member but the first of an object */
static void
json_key (GString *s, const char *key)
{
  g_string_append_printf (s, ",\"%s\":", key);
}

/* "<name>": nanoseconds and "<name>_seconds": seconds, null when unknown. */
static void
json_time (GString *s, const char *name, guint64 t)
{
  if (t == UPM_FORMAT_TIME_NONE)
    {
      g_string_append_printf (s, "\"%s\":null,\"%s_seconds\":null", name, name);
      return;
    }
  g_string_append_printf (
      s, "\"%s\":%" G_GINT64_FORMAT ",\"%s_seconds\":", name, (gint64)t, name);
  json_double (s, (double)t / NS_PER_SECOND);
}

static void
json_span (GString *s, const UpmFormatSpan *span)
{
  json_time (s, "pts", span->pts);
  g_string_append_c (s, ',');
  json_time (s, "duration", span->duration);
}

/* {"layer":L,"gate":G,"<segment_key>":S -- the head of a route object,
 * after a comma but for the @first */
static void
route_head (GString *s, gboolean first, guint layer, const char *gate,
    const char *segment_key, const char *segment)
{
  g_string_append_printf (s, "%s{\"layer\":%u", first ? "" : ",", layer);
  json_key (s, "gate");
  upm_json_string_or_null (s, gate);
  json_key (s, segment_key);
  upm_json_string_or_null (s, segment);
}

/* ------------------------------------------------------------ views */

static void
json_u64s (GString *s, const guint64 *v, guint n)
{
  g_string_append_c (s, '[');
  for (guint i = 0; i < n; i++)
    {
      if (i)
        g_string_append_c (s, ',');
      if (v[i] == UPM_FORMAT_TIME_NONE)
        g_string_append (s, "null");
      else
        g_string_append_printf (s, "%" G_GUINT64_FORMAT, v[i]);
    }
  g_string_append_c (s, ']');
}

static void
json_seconds (GString *s, const guint64 *ns, guint n)
{
  g_string_append_c (s, '[');
  for (guint i = 0; i < n; i++)
    {
      if (i)
        g_string_append_c (s, ',');
      json_double (s,
          ns[i] == UPM_FORMAT_TIME_NONE ? NAN : (double)ns[i] / NS_PER_SECOND);
    }
  g_string_append_c (s, ']');
}

void
upm_format_views_json (GString *s, const UpmFormatView *views, guint n)
{
  g_string_append_c (s, '[');
  for (guint i = 0; i < n; i++)
    {
      const UpmFormatView *v = &views[i];

      g_string_append_printf (s,
          "%s{\"view\":%u,\"views\":%u,\"temporal_view\":%u,\"crop\":%u",
          i ? "," : "", v->view, v->n_views, v->temporal_view, v->crop);
      json_key (s, "frames");
      json_u64s (s, v->frames, v->n_frames);
      json_key (s, "pts");
      json_u64s (s, v->pts, v->n_frames);
      json_key (s, "pts_seconds");
      json_seconds (s, v->pts, v->n_frames);
      g_string_append (s, ",\"box\":{\"x\":");
      json_double (s, v->x);
      json_key (s, "y");
      json_double (s, v->y);
      json_key (s, "width");
      json_double (s, v->width);
      json_key (s, "height");
      json_double (s, v->height);
      g_string_append_c (s, '}');
      if (v->resized_size > 0)
        g_string_append_printf (s,
            ",\"resized\":{\"width\":%d,\"height\":%d,\"x\":%d,\"y\":%d,"
            "\"size\":%d}",
            v->resized_width, v->resized_height, v->resized_x, v->resized_y,
            v->resized_size);
      g_string_append_c (s, '}');
    }
  g_string_append_c (s, ']');
}

/* "preset", "score_kind" (@with_kind: the line shape; the metas shape
 * writes it in "result") and "views", the last members of both shapes */
static void
json_views (GString *s, const UpmFormatRecord *r, gboolean with_kind)
{
  if (r->preset != NULL)
    {
      json_key (s, "preset");
      upm_json_string (s, r->preset);
    }
  if (with_kind && r->scores.present && r->scores.kind != NULL)
    {
      json_key (s, "score_kind");
      upm_json_string (s, r->scores.kind);
    }
  if (r->n_views == 0 || r->views == NULL)
    return;
  json_key (s, "views");
  upm_format_views_json (s, r->views, r->n_views);
}

/* ------------------------------------------------------ JSON, line shape */

static gboolean
is_retrieval (const UpmFormatRecord *r)
{
  return r->task && g_str_equal (r->task, "retrieve");
}

static void
line_scores (GString *s, const UpmFormatRecord *r)
{
  gboolean retrieve = is_retrieval (r);
  guint i;

  json_key (s, retrieve ? "results" : "labels");
  g_string_append_c (s, '[');
  for (i = 0; i < r->scores.n_items; i++)
    {
      const UpmFormatScore *sc = &r->scores.items[i];

      g_string_append_printf (s, "%s{\"index\":%u", i ? "," : "", sc->index);
      json_key (s, retrieve ? "caption" : "label");
      upm_json_string_or_null (s, sc->label);
      json_key (s, "score");
      upm_json_number (s, sc->logit);
      if (!retrieve)
        {
          json_key (s, "prob");
          upm_json_number (s, sc->prob);
        }
      g_string_append_c (s, '}');
    }
  g_string_append_c (s, ']');
}

static void
line_caption (GString *s, const UpmFormatCaption *c)
{
  json_key (s, "caption");
  upm_json_string (s, c->text ? c->text : "");
  json_key (s, "ids");
  upm_json_ints (s, c->ids, c->n_ids);
  json_key (s, "score");
  upm_json_number (s, c->score);
}

static void
line_routing (GString *s, const UpmFormatRouting *routing)
{
  guint i;

  json_key (s, "routing");
  g_string_append_c (s, '[');
  for (i = 0; i < routing->n_routes; i++)
    {
      const UpmFormatRoute *rt = &routing->routes[i];

      route_head (s, i == 0, rt->layer, rt->gate, "attr", rt->segment);
      g_string_append_printf (s, ",\"tokens\":[%u,%u],\"experts\":[%u,%u]",
          rt->token_begin, rt->token_end, rt->expert[0], rt->expert[1]);
      json_key (s, "weights");
      upm_json_floats (s, rt->weight, 2);
      g_string_append_c (s, '}');
    }
  g_string_append_c (s, ']');
}

/* ,"precision":"bf16" when known */
static void
json_precision (GString *s, const char *precision)
{
  if (precision == NULL)
    return;
  json_key (s, "precision");
  upm_json_string (s, precision);
}

static void
json_line (GString *s, const UpmFormatRecord *r)
{
  g_string_append_printf (s, "{\"start\":%.3f,\"end\":%.3f,\"frames\":%u",
      r->start, r->end, r->n_frames);
  json_key (s, "task");
  upm_json_string_or_null (s, r->task);
  if (r->caption.present)
    line_caption (s, &r->caption);
  else if (r->scores.present)
    line_scores (s, r);
  if (r->routing.present)
    line_routing (s, &r->routing);
  json_precision (s, r->precision);
  json_views (s, r, TRUE);
  g_string_append_c (s, '}');
}

/* ----------------------------------------------------- JSON, metas shape */

static void
metas_float (GString *s, const char *key, float v)
{
  json_key (s, key);
  json_double (s, v);
}

static void
metas_scores (GString *s, const UpmFormatRecord *r)
{
  guint i;

  g_string_append (s, ",\"result\":{\"task\":");
  upm_json_string_or_null (s, r->task);
  g_string_append_c (s, ',');
  json_span (s, &r->scores.span);
  if (r->scores.kind != NULL)
    {
      json_key (s, "score_kind");
      upm_json_string (s, r->scores.kind);
    }
  json_precision (s, r->scores.precision);
  g_string_append (s, ",\"scores\":[");
  for (i = 0; i < r->scores.n_items; i++)
    {
      const UpmFormatScore *sc = &r->scores.items[i];

      g_string_append (s, i ? ",{\"label\":" : "{\"label\":");
      upm_json_string_or_null (s, sc->label);
      g_string_append_printf (s, ",\"index\":%u", sc->index);
      metas_float (s, "logit", sc->logit);
      metas_float (s, "prob", sc->prob);
      g_string_append_c (s, '}');
    }
  g_string_append (s, "]}");
}

static void
metas_caption (GString *s, const UpmFormatCaption *c)
{
  g_string_append (s, ",\"caption\":{\"text\":");
  upm_json_string_or_null (s, c->text);
  json_key (s, "ids");
  upm_json_ints (s, c->ids, c->n_ids);
  metas_float (s, "score", c->score);
  json_precision (s, c->precision);
  g_string_append_c (s, ',');
  json_span (s, &c->span);
  g_string_append_c (s, '}');
}

static void
metas_route (GString *s, gboolean first, const UpmFormatRoute *rt)
{
  route_head (s, first, rt->layer, rt->gate, "segment", rt->segment);
  g_string_append_printf (s,
      ",\"token_begin\":%u,\"token_end\":%u,\"experts\":[%u,%u],"
      "\"weights\":[",
      rt->token_begin, rt->token_end, rt->expert[0], rt->expert[1]);
  json_double (s, rt->weight[0]);
  g_string_append_c (s, ',');
  json_double (s, rt->weight[1]);
  g_string_append (s, "]}");
}

/* compact: the expert ids of a route as one flat array, 2 per token */
static void
metas_token_route (GString *s, gboolean first, const UpmFormatTokenRoute *rt)
{
  guint j;

  route_head (s, first, rt->layer, rt->gate, "segment", rt->segment);
  g_string_append_printf (s,
      ",\"token_begin\":%u,\"n_tokens\":%u,\"experts\":[", rt->token_begin,
      rt->n_tokens);
  for (j = 0; j < 2 * rt->n_tokens; j++)
    g_string_append_printf (s, "%s%u", j ? "," : "", rt->experts[j]);
  g_string_append (s, "]}");
}

static void
metas_routing (GString *s, const UpmFormatRouting *m)
{
  guint i;

  g_string_append (s, ",\"routing\":{\"model\":");
  upm_json_string_or_null (s, m->model);
  g_string_append_printf (
      s, ",\"layers\":%u,\"experts\":%u", m->n_layers, m->n_experts);
  json_precision (s, m->precision);
  g_string_append_c (s, ',');
  json_span (s, &m->span);
  g_string_append (s, ",\"routes\":[");
  for (i = 0; i < m->n_routes; i++)
    metas_route (s, i == 0, &m->routes[i]);
  g_string_append_c (s, ']');
  if (m->grid_width > 0)
    g_string_append_printf (s,
        ",\"grid\":{\"visual_begin\":%u,\"width\":%u,\"height\":%u,"
        "\"frames\":%u}",
        m->visual_begin, m->grid_width, m->grid_height, m->grid_frames);
  if (m->n_token_routes > 0)
    {
      g_string_append (s, ",\"token_routes\":[");
      for (i = 0; i < m->n_token_routes; i++)
        metas_token_route (s, i == 0, &m->token_routes[i]);
      g_string_append_c (s, ']');
    }
  g_string_append_c (s, '}');
}

static void
json_metas (GString *s, const UpmFormatRecord *r)
{
  g_string_append_c (s, '{');
  json_span (s, &r->span);
  if (r->scores.present)
    metas_scores (s, r);
  if (r->caption.present)
    metas_caption (s, &r->caption);
  if (r->routing.present)
    metas_routing (s, &r->routing);
  json_views (s, r, FALSE);
  g_string_append_c (s, '}');
}

void
upm_format_json (GString *s, const UpmFormatRecord *r, UpmFormatJsonShape shape)
{
  if (shape == UPM_FORMAT_JSON_METAS)
    json_metas (s, r);
  else
    json_line (s, r);
}

/* ------------------------------------------------------------------ text */

void
upm_format_time (double seconds, gboolean comma, char *buf, gsize len)
{
  gint64 ms = (gint64)llround (MAX (seconds, 0.0) * 1000.0);

  g_snprintf (buf, len, "%02d:%02d:%02d%c%03d", (int)(ms / 3600000),
      (int)(ms / 60000 % 60), (int)(ms / 1000 % 60), comma ? ',' : '.',
      (int)(ms % 1000));
}

/* Subtitle text must not contain blank lines or "-->". */
char *
upm_format_cue_safe (const char *text)
{
  GString *s = g_string_new (NULL);
  const char *p;

  for (p = text; *p; p++)
    {
      if (*p == '\n' || *p == '\r')
        g_string_append_c (s, ' ');
      else if (g_str_has_prefix (p, "-->"))
        {
          g_string_append (s, "->");
          p += 2;
        }
      else
        g_string_append_c (s, *p);
    }
  return g_string_free (s, FALSE);
}

void
upm_format_routes_text (
    GString *s, const UpmFormatRouting *routing, const char *indent)
{
  guint i;

  for (i = 0; i < routing->n_routes; i++)
    {
      const UpmFormatRoute *rt = &routing->routes[i];

      g_string_append_printf (s,
          "%slayer %2u %-4s %-16s tokens [%u, %u): expert %u (%.3f) + "
          "expert %u (%.3f)\n",
          indent, rt->layer, rt->gate, rt->segment, rt->token_begin,
          rt->token_end, rt->expert[0], rt->weight[0], rt->expert[1],
          rt->weight[1]);
    }
}

static const char *
label_or_empty (const UpmFormatScore *sc)
{
  return sc->label ? sc->label : "";
}

/* All scores on one line (text) or one line each (cues). */
static void
scores_body (GString *s, const UpmFormatRecord *r, gboolean cue)
{
  gboolean retrieve = is_retrieval (r);
  guint i;

  for (i = 0; i < r->scores.n_items; i++)
    {
      const UpmFormatScore *sc = &r->scores.items[i];

      if (i > 0)
        g_string_append (s, cue ? "\n" : "; ");
      if (retrieve)
        g_string_append_printf (
            s, "%s (score %.3f)", label_or_empty (sc), sc->logit);
      else if (cue)
        g_string_append_printf (
            s, "%s (%.1f%%)", label_or_empty (sc), 100.0 * sc->prob);
      else
        g_string_append_printf (
            s, "%s (p %.3f)", label_or_empty (sc), sc->prob);
    }
}

static void
body (GString *s, const UpmFormatRecord *r, gboolean cue)
{
  if (!r->caption.present)
    {
      scores_body (s, r, cue);
      return;
    }
  g_string_append (s, r->caption.text ? r->caption.text : "");
  if (!cue)
    g_string_append_printf (s, " (score %.2f)", r->caption.score);
}

static void
text_line (GString *s, const UpmFormatRecord *r)
{
  char a[32], b[32];

  upm_format_time (r->start, FALSE, a, sizeof (a));
  upm_format_time (r->end, FALSE, b, sizeof (b));
  g_string_append_printf (s, "[%s --> %s] ", a, b);
  body (s, r, FALSE);
  g_string_append_c (s, '\n');
  if (r->routing.present)
    upm_format_routes_text (s, &r->routing, "    ");
}

void
upm_format_text (GString *s, const UpmFormatRecord *r, UpmFormatTextStyle style)
{
  const UpmFormatScore *best
      = r->scores.n_items > 0 ? &r->scores.items[0] : NULL;

  if (style == UPM_FORMAT_TEXT_LINE)
    text_line (s, r);
  else if (r->caption.present)
    g_string_append (s, r->caption.text ? r->caption.text : "");
  else if (best && style == UPM_FORMAT_TEXT_LABEL_SCORE)
    {
      char num[G_ASCII_DTOSTR_BUF_SIZE];

      g_ascii_formatd (num, sizeof num, "%.2f", best->prob);
      g_string_append_printf (s, "%s (%s)", label_or_empty (best), num);
    }
  else if (best)
    g_string_append (s, label_or_empty (best));
}

/* ------------------------------------------------------------------ cues */

void
upm_format_header (GString *s, UpmFormat format)
{
  if (format == UPM_FORMAT_WEBVTT)
    g_string_append (s, "WEBVTT\n\n");
}

void
upm_format_cue (
    GString *s, const UpmFormatRecord *r, UpmFormat format, guint index)
{
  gboolean srt = format == UPM_FORMAT_SRT;
  char a[32], b[32], *safe;
  GString *text = g_string_new (NULL);

  if (!srt && r->routing.present)
    {
      g_string_append (s, "NOTE routing\n");
      upm_format_routes_text (s, &r->routing, "");
      g_string_append_c (s, '\n');
    }
  upm_format_time (r->start, srt, a, sizeof (a));
  upm_format_time (MAX (r->end, r->start + 0.001), srt, b, sizeof (b));
  if (srt)
    g_string_append_printf (s, "%u\n", index);
  body (text, r, TRUE);
  safe = upm_format_cue_safe (text->str);
  g_string_append_printf (s, "%s --> %s\n%s\n\n", a, b, safe);
  g_free (safe);
  g_string_free (text, TRUE);
}

void
upm_format_record (
    GString *s, const UpmFormatRecord *r, UpmFormat format, guint index)
{
  switch (format)
    {
    case UPM_FORMAT_JSON:
      json_line (s, r);
      g_string_append_c (s, '\n');
      break;
    case UPM_FORMAT_TEXT:
      text_line (s, r);
      break;
    case UPM_FORMAT_WEBVTT:
    case UPM_FORMAT_SRT:
      upm_format_cue (s, r, format, index);
      break;
    }
}
