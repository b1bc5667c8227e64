/* upm-format.h: one clip's result as text, JSON, WebVTT or SRT.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The one result formatter of upm-run, upm-eval, upmhead and the meta
 * library gstupmmeta-1.0. It needs GLib only (no GStreamer, no OpenBLAS)
 * and is a static library of its own; every symbol is G_GNUC_INTERNAL so
 * that the meta library links it without exporting it (not installed).
 *
 * A UpmFormatRecord describes one clip by plain values: the caller fills it
 * from its own types (library results, GStreamer metas) and owns all the
 * memory it points to. Every function appends to a GString.
 *
 * JSON comes in two shapes, each with its documented fields:
 *   UPM_FORMAT_JSON_LINE   upm-run --output-format json, one line a clip:
 *     {"start":0.000,"end":1.067,"frames":4,"task":"classify",
 *      "labels":[{"index":2,"label":"up","score":8.42,"prob":0.327}],
 *      "routing":[{"layer":0,"gate":"attn","attr":"cls_input",
 *                  "tokens":[0,65],"experts":[0,1],"weights":[0.57,0.43]}]}
 *     ("results" with "caption" items and no "prob" for retrieval;
 *     "caption", "ids", "score" for captioning; "routing" when present;
 *     "precision":"bf16" when known)
 *   UPM_FORMAT_JSON_METAS  gst_upm_buffer_metas_to_json() and upmhead
 *     text-format=json: times in nanoseconds and seconds, each part with
 *     its own times, numbers as json-glib wrote them (%.17g):
 *     {"pts":...,"pts_seconds":...,"duration":...,"duration_seconds":...,
 *      "result":{...,"score_kind":...},"caption":{...},"routing":{...},
 *      "preset":...,"views":[...]}
 *     (each part with its "precision" when known: the result's features,
 *     the caption's decoding, the routing's encoding)
 * The two differ because their readers do (tools/upm-routing-heatmap.py,
 * examples/, tests); both write valid JSON: null for NaN and infinity.
 */
#ifndef UPM_FORMAT_H
#define UPM_FORMAT_H

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  UPM_FORMAT_TEXT,
  UPM_FORMAT_JSON,
  UPM_FORMAT_WEBVTT,
  UPM_FORMAT_SRT,
} UpmFormat;

/* One line (or clip) of upm_format_text(). */
typedef enum
{
  UPM_FORMAT_TEXT_LABEL,       /* the best label, or the caption */
  UPM_FORMAT_TEXT_LABEL_SCORE, /* "moving left (0.93)", or the caption */
  /* "[00:00:00.000 --> 00:00:01.067] a (p 0.930); b (p 0.050)\n" and the
   * routes, one indented line each (upm-run) */
  UPM_FORMAT_TEXT_LINE,
} UpmFormatTextStyle;

typedef enum
{
  UPM_FORMAT_JSON_LINE,
  UPM_FORMAT_JSON_METAS,
} UpmFormatJsonShape;

/* Nanoseconds, as GstClockTime; UPM_FORMAT_TIME_NONE: unknown. */
#define UPM_FORMAT_TIME_NONE G_MAXUINT64

typedef struct
{
  guint64 pts, duration;
} UpmFormatSpan;

typedef struct
{
  const char *label; /* label, or caption text for retrieval */
  guint index;       /* in the label list */
  float logit, prob;
} UpmFormatScore;

/* Which two experts a MoE gate chose for a range of tokens. */
typedef struct
{
  guint layer;
  const char *gate;    /* "attn", "ffn" */
  const char *segment; /* attribute row: "cls_input", "caption_prefix", ... */
  guint token_begin, token_end;
  guint expert[2]; /* best first */
  float weight[2];
} UpmFormatRoute;

/* Per-token routing: token_begin + i went to experts[2 i], experts[2 i + 1]. */
typedef struct
{
  guint layer;
  const char *gate, *segment;
  guint token_begin, n_tokens;
  const guint8 *experts;
} UpmFormatTokenRoute;

/* Each part of a record is written only when present. */
typedef struct
{
  gboolean present;
  UpmFormatSpan span;
  const UpmFormatScore *items; /* best first */
  guint n_items;
  /* what the "logit" of a score is, written as "score_kind": "cosine"
   * (retrieval presets: the plain cosine, as officially), "softmax"
   * (retrieval: cosine x logit scale, prob its softmax); NULL: not written
   * (classification: always cosine x logit scale) */
  const char *kind;
  /* the precision the features were computed in ("fp32", "bf16", ...);
   * NULL: unknown (not written) */
  const char *precision;
} UpmFormatScores;

typedef struct
{
  gboolean present;
  UpmFormatSpan span;
  const char *text; /* UTF-8 */
  const gint32 *ids;
  guint n_ids;
  float score;
  const char *precision; /* of the decoding; NULL: unknown (not written) */
} UpmFormatCaption;

typedef struct
{
  gboolean present;
  UpmFormatSpan span;
  const char *model;
  guint n_layers, n_experts;
  const UpmFormatRoute *routes;
  guint n_routes;
  const UpmFormatTokenRoute *token_routes;
  guint n_token_routes;
  /* visual token layout, grid_width 0: unknown (see upmmeta.h) */
  guint visual_begin, grid_width, grid_height, grid_frames;
  const char *precision; /* of the encoding; NULL: unknown (not written) */
} UpmFormatRouting;

/* One view of a clip (a task preset's temporal view x crop): what the
 * model looked at. */
typedef struct
{
  guint view, n_views;       /* this view of the clip's n_views */
  guint temporal_view, crop; /* which temporal view, which crop */
  guint n_frames;
  const guint64 *frames;      /* source frame indices, counted in the stream */
  const guint64 *pts;         /* their timestamps (ns, UPM_FORMAT_TIME_NONE) */
  double x, y, width, height; /* the crop in source pixels */
  /* the crop in the resized frame (upm_vision_crop_box's resized_w,
   * resized_h, x, y, size); written as "resized" when resized_size > 0 */
  int resized_width, resized_height, resized_x, resized_y, resized_size;
} UpmFormatView;

typedef struct
{
  const char *task;  /* "classify", "retrieve", "text-classify", "caption" */
  double start, end; /* seconds: text, cues, the line shape */
  guint n_frames;
  UpmFormatSpan span; /* nanoseconds: the buffer, the metas shape */
  UpmFormatScores scores;
  UpmFormatCaption caption;
  UpmFormatRouting routing;
  const char *preset;         /* both JSON shapes: "preset" when not NULL */
  const UpmFormatView *views; /* both JSON shapes: "views" when n_views */
  guint n_views;
  /* the line shape's "precision" (what the engine ran the clip in, "fp32",
   * "bf16", ...); NULL: not written. The metas shape writes the parts'. */
  const char *precision;
} UpmFormatRecord;

/* "text", "json", "webvtt" (or "vtt"), "srt". */
G_GNUC_INTERNAL gboolean upm_format_from_name (
    const char *name, UpmFormat *format);

/* What a file of @format starts with: "WEBVTT\n\n" for WebVTT. */
G_GNUC_INTERNAL void upm_format_header (GString *s, UpmFormat format);

/* One clip as @format: a JSON line, a text line or a cue (@index counts
 * the cues from 1; SRT numbers them). */
G_GNUC_INTERNAL void upm_format_record (
    GString *s, const UpmFormatRecord *r, UpmFormat format, guint index);

/* The views as a JSON array (both shapes write it as "views"):
 * [{"view":0,"views":12,"temporal_view":0,"crop":0,"frames":[0,32,...],
 *   "pts":[0,1066666666,...],"pts_seconds":[0.0,1.0666666666666667,...],
 *   "box":{"x":37.14,"y":0.0,"width":240.0,"height":240.0},
 *   "resized":{"width":298,"height":224,"x":37,"y":0,"size":224}},...]
 * ("resized" when the view has it). */
G_GNUC_INTERNAL void upm_format_views_json (
    GString *s, const UpmFormatView *views, guint n);

/* One JSON object, no newline. */
G_GNUC_INTERNAL void upm_format_json (
    GString *s, const UpmFormatRecord *r, UpmFormatJsonShape shape);

G_GNUC_INTERNAL void upm_format_text (
    GString *s, const UpmFormatRecord *r, UpmFormatTextStyle style);

/* A WebVTT (with a NOTE of the routing when present) or SRT cue. */
G_GNUC_INTERNAL void upm_format_cue (
    GString *s, const UpmFormatRecord *r, UpmFormat format, guint index);

/* The routes, one line each: "<indent>layer  0 attn cls_input ...". */
G_GNUC_INTERNAL void upm_format_routes_text (
    GString *s, const UpmFormatRouting *routing, const char *indent);

/* "HH:MM:SS.mmm" (",mmm" with @comma, as SRT wants); negative times are 0. */
G_GNUC_INTERNAL void upm_format_time (
    double seconds, gboolean comma, char *buf, gsize len);

/* @text without line breaks and "-->", which end a cue. Free with g_free. */
G_GNUC_INTERNAL char *upm_format_cue_safe (const char *text);

/* ------------------------------------------------------ JSON values */

/* A JSON string: quotes, backslashes and control characters escaped. */
G_GNUC_INTERNAL void upm_json_string (GString *s, const char *text);
/* upm_json_string(), or null for NULL. */
G_GNUC_INTERNAL void upm_json_string_or_null (GString *s, const char *text);
/* "%.6g", or null for NaN and infinity. */
G_GNUC_INTERNAL void upm_json_number (GString *s, double v);
/* [v0,v1,...] with upm_json_number(). */
G_GNUC_INTERNAL void upm_json_floats (GString *s, const float *v, guint n);
/* [v0,v1,...] of integers. */
G_GNUC_INTERNAL void upm_json_ints (GString *s, const gint32 *v, guint n);

G_END_DECLS
#endif /* UPM_FORMAT_H */
