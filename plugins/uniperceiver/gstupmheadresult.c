/* gstupmheadresult.c: what upmhead makes of a result: the text buffer (or
 * its JSON), the routing meta carried over, the "upm-result" message.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstupmheadresult.h"
#include "upm-format.h"

GstClockTime
gst_upm_head_running_time (const GstSegment *segment, GstClockTime ts)
{
  if (segment->format != GST_FORMAT_TIME || !GST_CLOCK_TIME_IS_VALID (ts))
    return GST_CLOCK_TIME_NONE;
  return gst_segment_to_running_time (segment, GST_FORMAT_TIME, ts);
}

GstClockTime
gst_upm_head_stream_time (const GstSegment *segment, GstClockTime ts)
{
  if (segment->format != GST_FORMAT_TIME || !GST_CLOCK_TIME_IS_VALID (ts))
    return GST_CLOCK_TIME_NONE;
  return gst_segment_to_stream_time (segment, GST_FORMAT_TIME, ts);
}

typedef enum
{
  SCORE_LABEL,
  SCORE_LOGIT,
  SCORE_PROB,
} ScoreField;

/* The @what of each of @scores as the array @field of @s. */
static void
set_score_array (GstStructure *s, const gchar *field, const GstUpmScore *scores,
    guint n, ScoreField what)
{
  GValue arr = G_VALUE_INIT;
  guint i;

  gst_value_array_init (&arr, n);
  for (i = 0; i < n; i++)
    {
      GValue v = G_VALUE_INIT;

      if (what == SCORE_LABEL)
        {
          g_value_init (&v, G_TYPE_STRING);
          g_value_set_string (&v, scores[i].label);
        }
      else
        {
          g_value_init (&v, G_TYPE_DOUBLE);
          g_value_set_double (
              &v, what == SCORE_PROB ? scores[i].prob : scores[i].logit);
        }
      gst_value_array_append_and_take_value (&arr, &v);
    }
  gst_structure_take_value (s, field, &arr);
}

static GstStructure *
result_structure (const GstSegment *segment, const gchar *task, GstBuffer *in)
{
  GstClockTime pts = GST_BUFFER_PTS (in);

  return gst_structure_new ("upm-result", "task", G_TYPE_STRING, task, "pts",
      G_TYPE_UINT64, pts, "duration", G_TYPE_UINT64, GST_BUFFER_DURATION (in),
      "running-time", G_TYPE_UINT64, gst_upm_head_running_time (segment, pts),
      "stream-time", G_TYPE_UINT64, gst_upm_head_stream_time (segment, pts),
      NULL);
}

/* The routing meta of @in on @out, plus @extra routes. */
void
gst_upm_head_copy_routing (
    GstBuffer *out, GstBuffer *in, const UpmRouting *extra)
{
  GstUpmRoutingMeta *rin = gst_buffer_get_upm_routing_meta (in), *rout;

  if (rin == NULL)
    return;
  /* all of it: per-segment routes, per-token routes and the patch grid */
  rout = gst_buffer_copy_upm_routing_meta (out, rin);
  if (rout != NULL && extra != NULL)
    {
      guint n = 0;
      GstUpmRoute *routes = gst_upm_routes_from_library (extra, &n);

      if (n > 0)
        gst_upm_routing_meta_append (rout, routes, n);
      g_free (routes);
    }
}

GstBuffer *
gst_upm_head_text_buffer (const gchar *text, GstBuffer *in)
{
  gsize len = text ? strlen (text) : 0;
  GstBuffer *out
      = len > 0 ? gst_buffer_new_memdup (text, len) : gst_buffer_new ();

  GST_BUFFER_PTS (out) = GST_BUFFER_PTS (in);
  GST_BUFFER_DTS (out) = GST_BUFFER_DTS (in);
  GST_BUFFER_DURATION (out) = GST_BUFFER_DURATION (in);
  return out;
}

/* Replaces the payload by the JSON of the buffer's metas. */
GstBuffer *
gst_upm_head_to_json (GstBuffer *out)
{
  gchar *json = gst_upm_buffer_metas_to_json (out);

  if (json != NULL)
    {
      gst_buffer_replace_all_memory (
          out, gst_memory_new_wrapped (
                   0, json, strlen (json), 0, strlen (json), json, g_free));
    }
  return out;
}

GstStructure *
gst_upm_head_scores_message (const GstSegment *segment, const gchar *task,
    GstBuffer *in, const GstUpmScore *scores, guint k)
{
  GstStructure *result = result_structure (segment, task, in);

  set_score_array (result, "labels", scores, k, SCORE_LABEL);
  set_score_array (result, "scores", scores, k, SCORE_LOGIT);
  set_score_array (result, "probs", scores, k, SCORE_PROB);
  return result;
}

GstStructure *
gst_upm_head_caption_message (
    const GstSegment *segment, GstBuffer *in, const UpmCaption *caption)
{
  GstStructure *result = result_structure (segment, "caption", in);
  GValue ids = G_VALUE_INIT;
  guint i;

  gst_value_array_init (&ids, caption->n_ids);
  for (i = 0; i < caption->n_ids; i++)
    {
      GValue v = G_VALUE_INIT;

      g_value_init (&v, G_TYPE_INT);
      g_value_set_int (&v, caption->ids[i]);
      gst_value_array_append_and_take_value (&ids, &v);
    }
  gst_structure_set (result, "text", G_TYPE_STRING,
      caption->text ? caption->text : "", "score", G_TYPE_DOUBLE,
      (gdouble)caption->score, NULL);
  gst_structure_take_value (result, "ids", &ids);
  return result;
}

gchar *
gst_upm_head_score_text (const GstUpmScore *best, GstUpmHeadTextFormat format)
{
  UpmFormatScore item = { best->label, best->index, best->logit, best->prob };
  UpmFormatRecord record = { 0 };
  GString *text = g_string_new (NULL);

  record.scores.present = TRUE;
  record.scores.items = &item;
  record.scores.n_items = 1;
  upm_format_text (text, &record,
      format == GST_UPM_HEAD_TEXT_FORMAT_LABEL_SCORE
          ? UPM_FORMAT_TEXT_LABEL_SCORE
          : UPM_FORMAT_TEXT_LABEL);
  return g_string_free (text, FALSE);
}
