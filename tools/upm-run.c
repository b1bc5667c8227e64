/* upm-run: classify, retrieve or caption the clips of a video (or an
 * image) with a Uni-Perceiver(-MoE) model.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "upm-cli.h"
#include "upm-video.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/log.h>

/* As upmtokenizer: every decoded frame (the default preset). */
#define DEFAULT_FRAME_STRIDE 1
#define UPM_MAX_CROPS 3

typedef enum
{
  TASK_CLASSIFY,
  TASK_RETRIEVE,
  TASK_CAPTION,
} Task;

typedef struct
{
  UpmCliOptions cli; /* model, output, progress, threads, top-k, beam, length */
  char *task, *labels, *labels_file, *labelset, *captions_file;
  char *format, *raw, *dump_frames, *dump_views, *preset;
  int clip_frames, frame_stride, clip_hop;
  double fps, length_penalty;
  gboolean image, video, routing, routing_summary;
  char **inputs;
} Options;

/* A kept frame waiting for its clip(s): its patches for every crop. */
typedef struct
{
  int64_t k;     /* index among kept frames */
  int64_t index; /* among decoded frames */
  double pts;
  float *patches; /* n_crops x frame_floats */
  UpmCropBox box[UPM_MAX_CROPS];
} Pending;

/* The views of one clip: temporal views x crops, each span frames. */
typedef struct
{
  guint n_views, span;
  float *patches;  /* n_views x span x frame_floats */
  int64_t *index;  /* n_views x span: decoded frame indices */
  double *pts;     /* n_views x span */
  UpmCropBox *box; /* n_views x span */
  double start, end;
  guint n_present; /* frames of a padded partial clip (consecutive) */
} Clip;

/* A window of a timed preset: its frame indices, resolved in pass 1. */
typedef struct
{
  int64_t *index; /* n_temporal_views x span */
  int64_t first, last;
  double start, end;
  Clip clip; /* allocated once its first frame is decoded in pass 2 */
  guint filled;
} Window;

typedef struct
{
  Options opt;
  Task task;
  UpmFormat fmt;
  UpmModel *model;
  UpmContext *ctx;
  const UpmHParams *hp;
  char **texts; /* labels or captions */
  guint n_texts;
  float *text_feats;
  /* The labels are a prompt-tuned model's own: scored by its head
   * (upm_classify_prompt), from the clips' hidden states. */
  gboolean prompt_head;
  UpmCliOutput io; /* output file, progress */
  guint n_results;
  guint clips_done;
  int64_t clips_total;
  /* clip assembly */
  const UpmPreset *preset;
  UpmNormKind norm;
  UpmCrops crops;
  guint n_crops, n_tviews, resize;
  guint span, stride, hop;
  gboolean still, timed, cosine;
  UpmScale scale;
  double fps;
  GPtrArray *windows; /* timed presets */
  GQueue queue;
  int64_t next_start, n_kept, n_decoded;
  gsize frame_floats;
  int raw_w, raw_h;
} Run;

/* ------------------------------------------------------------ options */

static gboolean
parse_options (Options *o, int *argc, char ***argv, GError **error)
{
  UpmCliOptions *c = &o->cli;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &c->model,
        "Model file (.upm; default: the bundled model, $UPM_DEFAULT_MODEL "
        "if set)",
        "FILE" },
    { "preset", 'p', 0, G_OPTION_ARG_STRING, &o->preset,
        "How clips are sampled, cropped and scored (default: default; see "
        "below)",
        "NAME" },
    { "task", 't', 0, G_OPTION_ARG_STRING, &o->task,
        "classify, retrieve or caption (default: the preset's, else "
        "classify)",
        "TASK" },
    { "labels", 'l', 0, G_OPTION_ARG_STRING, &o->labels,
        "Comma-separated class names, or @NAME for a label set (@k400, "
        "@k700, @imagenet, @moments, or one bundled in the model) "
        "(classify)",
        "A,B,C|@NAME" },
    { "labels-file", 0, 0, G_OPTION_ARG_FILENAME, &o->labels_file,
        "Class names, one per line (classify)", "FILE" },
    { "labelset", 0, 0, G_OPTION_ARG_STRING, &o->labelset,
        "Label set bundled in the model (default: the first one)", "NAME" },
    { "captions-file", 0, 0, G_OPTION_ARG_FILENAME, &o->captions_file,
        "Captions to rank, one per line (retrieve)", "FILE" },
    UPM_CLI_OPTION_INT ("top-k", 'k', c->top_k, "Results per clip (default 5)"),
    UPM_CLI_OPTION_INT ("clip-frames", 0, o->clip_frames,
        "Frames per clip (per view) (default: the preset's, else the "
        "model's)"),
    UPM_CLI_OPTION_INT ("frame-stride", 0, o->frame_stride,
        "Keep every Nth decoded frame (default 1); with a timed preset "
        "(k400, msvd-*): 30-fps frames between sampled frames"),
    UPM_CLI_OPTION_INT ("clip-hop", 0, o->clip_hop,
        "Kept frames between clip starts (default: clip-frames); with a "
        "timed preset: 30-fps frames between windows (default: a window)"),
    UPM_CLI_OPTION_INT ("beam-size", 0, c->beam_size,
        "Caption beam size (default: the preset's, else the model's)"),
    UPM_CLI_OPTION_INT ("max-length", 0, c->max_length,
        "Caption length in tokens (default: the preset's, else the "
        "model's)"),
    { "length-penalty", 0, 0, G_OPTION_ARG_DOUBLE, &o->length_penalty,
        "Caption length penalty (default: the preset's, else the model's)",
        "X" },
    { "image", 0, 0, G_OPTION_ARG_NONE, &o->image,
        "Treat the input as a still image (first frame; default: by the "
        "input's format)",
        NULL },
    { "video", 0, 0, G_OPTION_ARG_NONE, &o->video,
        "Treat the input as a video (e.g. an image sequence)", NULL },
    { "raw", 0, 0, G_OPTION_ARG_STRING, &o->raw,
        "Input is concatenated RGB24 frames of this size", "WxH" },
    { "fps", 0, 0, G_OPTION_ARG_DOUBLE, &o->fps,
        "Frame rate of --raw input (default 30)", "FPS" },
    { "output-format", 'f', 0, G_OPTION_ARG_STRING, &o->format,
        "text (default), json, webvtt or srt", "FORMAT" },
    UPM_CLI_OPTION_OUTPUT (c, "Write results here (default: stdout)"),
    { "routing", 0, 0, G_OPTION_ARG_NONE, &o->routing,
        "Print the MoE routing of every clip", NULL },
    { "routing-summary", 0, 0, G_OPTION_ARG_NONE, &o->routing_summary,
        "Print one line of routing per clip: per segment, per MoE layer, "
        "the experts of the attention and FFN gates",
        NULL },
    UPM_CLI_OPTION_PRECISION (c), UPM_CLI_OPTION_PROGRESS (c),
    UPM_CLI_OPTION_THREADS (c),
    { "dump-frames", 0, 0, G_OPTION_ARG_FILENAME, &o->dump_frames,
        "Write the preprocessed frames of the first clip as PPM files here",
        "DIR" },
    { "dump-views", 0, 0, G_OPTION_ARG_FILENAME, &o->dump_views,
        "Write the patches of every view of the first clip here "
        "(clip0000-viewNN.f32: frames x tokens x 3 x P x P float32)",
        "DIR" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->inputs, NULL,
        "INPUT" },
    { NULL }
  };
  g_autofree char *description = NULL;
  GString *d = g_string_new (NULL);

  o->length_penalty = -1.0;
  g_string_append (d,
      "The default preset samples like the upmtokenizer element: decoded "
      "frames are\nsubsampled by --frame-stride and grouped into clips of "
      "--clip-frames frames\nstarting every --clip-hop kept frames. A "
      "partial clip at the end of the\nstream is padded by repeating its "
      "last frame when at least half of it is\npresent, and dropped "
      "otherwise. A still image is one 1-frame\nclip, under a video "
      "preset too (bicubic resize, ImageNet normalisation);\nvideo clips "
      "use bilinear resize and mean/std 0.5.\n\nTimed presets sample by "
      "timestamp as the "
      "official evaluation does: frame i of\na window at i * stride / 30 "
      "s from its first frame, wrapping around a video\nshorter than the "
      "window. Multi-view presets average the per-view softmax.\n"
      "Retrieval presets report the plain cosine, as officially.\n\n"
      "Presets:\n");
  for (guint i = 0; i < upm_n_presets (); i++)
    g_string_append_printf (d, "  %-20s %s\n", upm_preset_get (i)->name,
        upm_preset_get (i)->summary);
  g_string_append (
      d, "\nExit status: 0 success, 1 runtime error, 2 usage error.\n");
  description = g_string_free (d, FALSE);
  return upm_cli_parse (entries,
      "Run a Uni-Perceiver(-MoE) model on the clips of a video or image.",
      description, argc, argv, error);
}

static gboolean
parse_task (const char *task, Task *out)
{
  if (g_str_equal (task, "classify"))
    *out = TASK_CLASSIFY;
  else if (g_str_equal (task, "retrieve"))
    *out = TASK_RETRIEVE;
  else if (g_str_equal (task, "caption"))
    *out = TASK_CAPTION;
  else
    return FALSE;
  return TRUE;
}

/* The preset's task by name, "classify" for any. */
static const char *
preset_task (const UpmPreset *preset)
{
  switch (preset->task)
    {
    case UPM_TASK_RETRIEVAL:
      return "retrieve";
    case UPM_TASK_CAPTION:
      return "caption";
    default:
      return "classify";
    }
}

static gboolean
check_options (Run *r, GError **error)
{
  Options *o = &r->opt;
  const char *task;
  const char *fmt = o->format ? o->format : "text";
  GError *err = NULL;

  r->preset = upm_preset_lookup (o->preset ? o->preset : "default", &err);
  if (r->preset == NULL)
    {
      upm_cli_usage (error, "%s", err->message);
      g_error_free (err);
      return FALSE;
    }
  task = o->task ? o->task : preset_task (r->preset);
  if (o->cli.model == NULL)
    o->cli.model = g_strdup (upm_default_model_path ());
  if (o->image && o->video)
    return upm_cli_usage (error, "--image and --video are exclusive");
  if (o->inputs == NULL || o->inputs[0] == NULL)
    return upm_cli_usage (error, "no INPUT given");
  if (o->inputs[1] != NULL)
    return upm_cli_usage (error, "only one INPUT is supported");
  if (!parse_task (task, &r->task))
    return upm_cli_usage (
        error, "unknown task '%s' (classify, retrieve, caption)", task);
  if (!upm_format_from_name (fmt, &r->fmt))
    return upm_cli_usage (
        error, "unknown output format '%s' (text, json, webvtt, srt)", fmt);
  if (!upm_cli_parse_progress (o->cli.progress, &r->io.show_progress, error))
    return FALSE;
  if (!upm_cli_parse_precision (&o->cli, error))
    return FALSE;
  if (r->task == TASK_RETRIEVE && o->captions_file == NULL)
    return upm_cli_usage (error, "--task retrieve needs --captions-file");
  if (o->raw && !upm_video_parse_size (o->raw, &r->raw_w, &r->raw_h, error))
    return FALSE;
  if (o->labels && o->labels_file)
    return upm_cli_usage (error, "--labels and --labels-file are exclusive");
  if (o->cli.top_k < 0 || o->clip_frames < 0 || o->frame_stride < 0
      || o->clip_hop < 0 || o->cli.beam_size < 0 || o->cli.max_length < 0
      || o->cli.threads < 0 || o->fps < 0.0
      || (o->length_penalty < 0.0 && o->length_penalty != -1.0))
    return upm_cli_usage (error, "numeric options must not be negative");
  return TRUE;
}

/* ---------------------------------------------------------------- texts */

static char **
bundled_labels (Run *r, guint *n, GError **error)
{
  const char *name = r->opt.labelset;
  const char *const *labels;

  if (name == NULL && upm_model_n_labelsets (r->model) > 0)
    name = upm_model_labelset_name (r->model, 0);
  if (name == NULL)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "classify needs --labels or --labels-file (the model bundles no "
          "label set)");
      return NULL;
    }
  labels = upm_model_labelset_labels (r->model, name, n);
  if (labels == NULL)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "the model has no label set '%s'", name);
      return NULL;
    }
  return g_strdupv ((char **)labels);
}

/* Labels (classify) or captions (retrieve) and their target features. */
static gboolean
setup_texts (Run *r, GError **error)
{
  UpmAttr attr = r->task == TASK_CLASSIFY ? UPM_ATTR_CLS_TARGET
                                          : UPM_ATTR_RETRIEVAL_TARGET;

  if (r->task == TASK_RETRIEVE)
    r->texts = upm_labels_load_file (r->opt.captions_file, &r->n_texts, error);
  else if (r->opt.labels_file)
    r->texts = upm_labels_load_file (r->opt.labels_file, &r->n_texts, error);
  else if (r->opt.labels)
    r->texts = upm_labels_resolve (r->model, r->opt.labels, &r->n_texts, error);
  else if (!r->opt.labelset && upm_model_prompt_labels (r->model, NULL))
    {
      /* A prompt-tuned classifier: its classes, scored by its head. */
      r->texts = g_strdupv (
          (char **)upm_model_prompt_labels (r->model, &r->n_texts));
      r->prompt_head = TRUE;
    }
  else
    r->texts = bundled_labels (r, &r->n_texts, error);
  if (r->texts == NULL)
    return FALSE;
  if (r->n_texts == 0)
    {
      g_set_error (
          error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT, "no labels given");
      return FALSE;
    }
  r->text_feats = g_new (float, (gsize)r->n_texts * r->hp->n_embd);
  /* captions at the preset's truncation (MSVD retrieval: 77 tokens) */
  return upm_model_text_features_len (r->model, (const char *const *)r->texts,
      r->n_texts, attr,
      r->task == TASK_RETRIEVE ? r->preset->text_max_length : 0, r->text_feats,
      error);
}

/* ------------------------------------------------------------- progress */

/* Clips a stream of @n decoded frames should give. */
static int64_t
estimate_clips (const Run *r, int64_t n)
{
  int64_t kept, full, rest;

  if (r->still)
    return 1;
  if (n < 0)
    return -1;
  kept = (n + r->stride - 1) / r->stride;
  full = kept >= r->span ? (kept - r->span) / r->hop + 1 : 0;
  rest = MIN (kept - full * (int64_t)r->hop, (int64_t)r->span);
  return full + (rest > 0 && rest * 2 >= r->span ? 1 : 0);
}

/* -------------------------------------------------------------- output */

/* Token and context routing decide per token: "expert tokens L0 5,0,3,.../
 * 1,7,0,... L2 ...": per MoE layer, the tokens each expert served through
 * the attention / FFN gate. */
static void
routing_counts_summary (
    GString *s, const UpmRouting *routing, const char *indent)
{
  uint32_t a[64], f[64];
  const uint32_t n_exp = MIN (routing->n_expert, 64u);
  gboolean any = FALSE;

  for (uint32_t l = 0; l < routing->n_layer; l++)
    {
      if (!upm_routing_expert_counts (routing, l, UPM_GATE_ATTN, a, 64)
          || !upm_routing_expert_counts (routing, l, UPM_GATE_FFN, f, 64))
        continue;
      if (!any)
        g_string_append_printf (s, "%sexpert tokens", indent);
      any = TRUE;
      g_string_append_printf (s, " L%u ", l);
      for (uint32_t e = 0; e < n_exp; e++)
        g_string_append_printf (s, "%s%u", e ? "," : "", a[e]);
      g_string_append_c (s, '/');
      for (uint32_t e = 0; e < n_exp; e++)
        g_string_append_printf (s, "%s%u", e ? "," : "", f[e]);
    }
  if (any)
    g_string_append_c (s, '\n');
}

/* "experts caption_prefix L0 3+4/0+4 L2 7+6/3+5 | caption_text ...":
 * per segment (attribute row) and MoE layer, attention/FFN expert pairs. */
static void
routing_summary (GString *s, const UpmRouting *routing, const char *indent)
{
  int last_attr = -1;
  guint i;

  if (!routing->routes || routing->routes->len == 0)
    {
      routing_counts_summary (s, routing, indent);
      return;
    }
  g_string_append_printf (s, "%sexperts", indent);
  for (int a = 0; a < UPM_N_ATTRS; a++)
    {
      for (i = 0; i < routing->routes->len; i++)
        {
          const UpmRoute *rt = &g_array_index (routing->routes, UpmRoute, i);
          if ((int)rt->attr != a || rt->gate != UPM_GATE_ATTN)
            continue;
          if (last_attr != a)
            g_string_append_printf (s, "%s %s", last_attr < 0 ? "" : " |",
                upm_attr_name (rt->attr));
          last_attr = a;
          g_string_append_printf (
              s, " L%u %u+%u", rt->layer, rt->expert[0], rt->expert[1]);
          for (guint j = 0; j < routing->routes->len; j++)
            {
              const UpmRoute *f = &g_array_index (routing->routes, UpmRoute, j);
              if (f->attr == rt->attr && f->layer == rt->layer
                  && f->gate == UPM_GATE_FFN)
                g_string_append_printf (
                    s, "/%u+%u", f->expert[0], f->expert[1]);
            }
        }
    }
  g_string_append_c (s, '\n');
}

static const char *
task_name (Task task)
{
  return task == TASK_CLASSIFY   ? "classify"
         : task == TASK_RETRIEVE ? "retrieve"
                                 : "caption";
}

/* Result of one clip. */
typedef struct
{
  double start, end;
  uint32_t n_frames;
  UpmScore *scores; /* classify, retrieve */
  uint32_t n_scores;
  UpmCaption caption; /* caption */
  UpmRouting routing;
  const Clip *clip;
} ClipResult;

/* The frames and crop of each view of a clip, as the formatter's views
 * (upmhead writes the same fields): the crop of the view's first frame in
 * source pixels and in the resized frame. */
typedef struct
{
  UpmFormatView *views;
  guint64 *frames, *pts; /* n_views x span */
} ClipViews;

static void
clip_views (const Run *r, const Clip *clip, ClipViews *cv)
{
  const gsize n = (gsize)clip->n_views * clip->span;
  const guint n_crops = MAX (r->n_crops, 1u);

  cv->views = g_new0 (UpmFormatView, clip->n_views);
  cv->frames = g_new (guint64, n);
  cv->pts = g_new (guint64, n);
  for (gsize i = 0; i < n; i++)
    {
      cv->frames[i] = (guint64)clip->index[i];
      cv->pts[i] = (guint64)llround (clip->pts[i] * 1e9);
    }
  for (guint v = 0; v < clip->n_views; v++)
    {
      const gsize o = (gsize)v * clip->span;
      const UpmCropBox *b = &clip->box[o];

      cv->views[v] = (UpmFormatView){ .view = v,
        .n_views = clip->n_views,
        .temporal_view = v / n_crops,
        .crop = v % n_crops,
        .n_frames = clip->span,
        .frames = cv->frames + o,
        .pts = cv->pts + o,
        .x = b->src_x,
        .y = b->src_y,
        .width = b->src_w,
        .height = b->src_h,
        .resized_width = b->resized_w,
        .resized_height = b->resized_h,
        .resized_x = b->x,
        .resized_y = b->y,
        .resized_size = b->size };
    }
}

static void
clip_views_clear (ClipViews *cv)
{
  g_free (cv->views);
  g_free (cv->frames);
  g_free (cv->pts);
}

/* The clip as the formatter's record; @items has room for the scores. */
static void
clip_record (
    Run *r, const ClipResult *c, UpmFormatScore *items, UpmFormatRecord *rec)
{
  uint32_t i;

  rec->task = task_name (r->task);
  rec->precision = upm_cli_precision_used (r->ctx);
  rec->start = c->start;
  rec->end = c->end;
  rec->n_frames = c->n_frames;
  if (r->task == TASK_CAPTION)
    {
      rec->caption.present = TRUE;
      rec->caption.text = c->caption.text;
      rec->caption.ids = c->caption.ids;
      rec->caption.n_ids = c->caption.n_ids;
      rec->caption.score = c->caption.score;
    }
  else
    {
      for (i = 0; i < c->n_scores; i++)
        {
          items[i].label = r->texts[c->scores[i].index];
          items[i].index = c->scores[i].index;
          items[i].logit = c->scores[i].logit;
          items[i].prob = c->scores[i].prob;
        }
      rec->scores.present = TRUE;
      rec->scores.items = items;
      rec->scores.n_items = c->n_scores;
      if (r->task == TASK_RETRIEVE)
        rec->scores.kind = r->cosine ? "cosine" : "softmax";
    }
  rec->preset = r->preset->name;
}

static gboolean
write_result (Run *r, const ClipResult *c, GError **error)
{
  GString *s = g_string_new (NULL);
  UpmFormatScore *items = g_new0 (UpmFormatScore, MAX (c->n_scores, 1));
  UpmFormatRecord rec = { 0 };
  UpmFormatRoute *routes = NULL;
  ClipViews views = { 0 };
  gboolean ok;

  clip_record (r, c, items, &rec);
  if (r->fmt == UPM_FORMAT_JSON && c->clip)
    {
      clip_views (r, c->clip, &views);
      rec.views = views.views;
      rec.n_views = c->clip->n_views;
    }
  if (r->opt.routing)
    {
      routes = upm_cli_routes (&c->routing, &rec.routing.n_routes);
      rec.routing.present = TRUE;
      rec.routing.routes = routes;
    }
  upm_format_record (s, &rec, r->fmt, ++r->n_results);
  if (r->fmt == UPM_FORMAT_TEXT && !r->opt.routing && r->opt.routing_summary)
    routing_summary (s, &c->routing, "    ");
  ok = upm_cli_write (&r->io, s, error);
  g_string_free (s, TRUE);
  g_free (routes);
  g_free (items);
  clip_views_clear (&views);
  return ok;
}

/* --------------------------------------------------------- clip tasks */

/* Logits and probabilities of one view: its feature, or with the prompt
 * head, the hidden state it came from. */
static gboolean
score_view (
    Run *r, const float *feature, float *logits, float *probs, GError **error)
{
  const uint32_t n = r->n_texts;

  if (r->prompt_head)
    return upm_classify_prompt (r->model, feature, r->text_feats, n,
        upm_model_logit_scale (r->model, r->scale), logits, probs, error);

  if (r->cosine)
    {
      /* the official retrieval score: the plain cosine of the features */
      upm_classify (r->hp, feature, r->text_feats, n, 1.0f, logits, NULL);
      memcpy (probs, logits, n * sizeof (float));
      return TRUE;
    }
  upm_classify (r->hp, feature, r->text_feats, n,
      upm_model_logit_scale (r->model, r->scale), logits, probs);
  return TRUE;
}

/* Every view encoded; the mean over views of the logits and of the
 * per-view softmax (the official multi-view test), top-k by the mean
 * probability. */
static gboolean
run_scores (Run *r, ClipResult *c, UpmRouting *routing, GError **error)
{
  const Clip *clip = c->clip;
  const uint32_t n = r->n_texts;
  const gsize view_floats = r->frame_floats * clip->span;
  float *feature = g_new (float, r->hp->n_embd);
  float *logits = g_new (float, n), *probs = g_new (float, n);
  float *mean_logits = g_new0 (float, n), *mean_probs = g_new0 (float, n);
  UpmAttr attr = r->task == TASK_CLASSIFY ? UPM_ATTR_CLS_INPUT
                                          : UPM_ATTR_RETRIEVAL_INPUT;
  gboolean ok = TRUE;

  for (guint v = 0; ok && v < clip->n_views; v++)
    {
      ok = (r->prompt_head ? upm_encode_visual_hidden : upm_encode_visual) (
               r->ctx, clip->patches + v * view_floats, clip->span, attr,
               feature, v == 0 ? routing : NULL, error)
           && score_view (r, feature, logits, probs, error);
      if (!ok)
        break;
      for (uint32_t i = 0; i < n; i++)
        {
          mean_logits[i] += logits[i] / clip->n_views;
          mean_probs[i] += probs[i] / clip->n_views;
        }
    }
  if (ok)
    {
      uint32_t k = upm_cli_top_k (&r->opt.cli, n);

      c->scores = g_new (UpmScore, k);
      c->n_scores = k;
      upm_top_k (mean_probs, mean_probs, n, k, c->scores);
      for (uint32_t i = 0; i < k; i++)
        c->scores[i].logit = mean_logits[c->scores[i].index];
    }
  g_free (mean_probs);
  g_free (mean_logits);
  g_free (probs);
  g_free (logits);
  g_free (feature);
  return ok;
}

static gboolean
run_clip_task (Run *r, ClipResult *c, GError **error)
{
  UpmRouting *routing
      = r->opt.routing || r->opt.routing_summary ? &c->routing : NULL;

  if (r->task == TASK_CAPTION)
    {
      const Options *o = &r->opt;
      UpmCaptionParams p = {
        o->cli.beam_size ? (uint32_t)o->cli.beam_size : r->preset->beam_size,
        o->cli.max_length ? (uint32_t)o->cli.max_length : r->preset->max_length,
        o->length_penalty >= 0.0 ? (float)o->length_penalty
                                 : r->preset->length_penalty,
        NULL,
      };

      return upm_caption (r->ctx, c->clip->patches, c->clip->span, &p,
          &c->caption, routing, error);
    }
  return run_scores (r, c, routing, error);
}

/* ---------------------------------------------------------- dumping */

static gboolean
make_dir (const char *dir, GError **error)
{
  if (g_mkdir_with_parents (dir, 0755) == 0)
    return TRUE;
  g_set_error (
      error, UPM_ERROR, UPM_ERROR_IO, "%s: %s", dir, g_strerror (errno));
  return FALSE;
}

static gboolean
dump_frames (Run *r, const Clip *clip, GError **error)
{
  const UpmHParams *hp = r->hp;
  const float *mean
      = r->norm == UPM_NORM_IMAGE ? hp->image_mean : hp->video_mean;
  const float *std = r->norm == UPM_NORM_IMAGE ? hp->image_std : hp->video_std;
  guint s = hp->image_size, p = hp->patch_size, pp = p * p;
  gsize n = (gsize)s * s * 3;
  uint8_t *img;
  gboolean ok = TRUE;
  uint32_t f;

  if (!make_dir (r->opt.dump_frames, error))
    return FALSE;
  img = g_malloc (n);
  for (f = 0; ok && f < clip->span; f++)
    {
      const float *fp = clip->patches + f * r->frame_floats;
      char *name, *path, *header;
      GString *data;
      guint y, x, c;

      for (y = 0; y < s; y++)
        for (x = 0; x < s; x++)
          for (c = 0; c < 3; c++)
            {
              gsize row = (gsize)(y / p) * hp->grid + x / p;
              float v = fp[row * 3 * pp + c * pp + (y % p) * p + x % p];
              float u = (v * std[c] + mean[c]) * 255.0f;

              img[((gsize)y * s + x) * 3 + c]
                  = (uint8_t)CLAMP (lrintf (u), 0, 255);
            }
      header = g_strdup_printf ("P6\n%u %u\n255\n", s, s);
      data = g_string_new (header);
      g_string_append_len (data, (const char *)img, (gssize)n);
      name = g_strdup_printf ("clip0000-frame%02u.ppm", f);
      path = g_build_filename (r->opt.dump_frames, name, NULL);
      ok = g_file_set_contents (path, data->str, (gssize)data->len, error);
      g_free (path);
      g_free (name);
      g_string_free (data, TRUE);
      g_free (header);
    }
  g_free (img);
  return ok;
}

/* clip0000-viewNN.f32: the patches of each view as the model sees them
 * (native-endian float32, frames x tokens x 3 x P x P). */
static gboolean
dump_views (Run *r, const Clip *clip, GError **error)
{
  const gsize view_floats = r->frame_floats * clip->span;
  gboolean ok = TRUE;

  if (!make_dir (r->opt.dump_views, error))
    return FALSE;
  for (guint v = 0; ok && v < clip->n_views; v++)
    {
      g_autofree char *name = g_strdup_printf ("clip0000-view%02u.f32", v);
      g_autofree char *path = g_build_filename (r->opt.dump_views, name, NULL);

      ok = g_file_set_contents (path,
          (const char *)(clip->patches + v * view_floats),
          (gssize)(view_floats * sizeof (float)), error);
    }
  return ok;
}

/* ------------------------------------------------------------ clips */

static void
clip_alloc (Run *r, Clip *clip)
{
  const gsize n = (gsize)clip->n_views * clip->span;

  clip->patches = g_new (float, n * r->frame_floats);
  clip->index = g_new (int64_t, n);
  clip->pts = g_new (double, n);
  clip->box = g_new (UpmCropBox, n);
}

static void
clip_clear (Clip *clip)
{
  g_clear_pointer (&clip->patches, g_free);
  g_clear_pointer (&clip->index, g_free);
  g_clear_pointer (&clip->pts, g_free);
  g_clear_pointer (&clip->box, g_free);
}

/* Runs the task on @clip and writes its result. */
static gboolean
emit_clip (Run *r, const Clip *clip, GError **error)
{
  ClipResult c = { 0 };
  gboolean ok;

  c.clip = clip;
  c.n_frames = clip->span;
  c.start = clip->start;
  c.end = clip->end;
  upm_routing_init (&c.routing);
  ok = run_clip_task (r, &c, error);
  if (ok && c.caption.text && !g_utf8_validate (c.caption.text, -1, NULL))
    {
      char *valid = g_utf8_make_valid (c.caption.text, -1);

      g_free (c.caption.text);
      c.caption.text = valid;
    }
  if (ok && r->opt.dump_frames && r->clips_done == 0)
    ok = dump_frames (r, clip, error);
  if (ok && r->opt.dump_views && r->clips_done == 0)
    ok = dump_views (r, clip, error);
  if (ok)
    ok = write_result (r, &c, error);
  upm_routing_clear (&c.routing);
  upm_caption_clear (&c.caption);
  g_free (c.scores);
  r->clips_done++;
  upm_cli_progress_clips (&r->io, r->clips_done, r->clips_total);
  return ok;
}

/* The patches of every crop of @f. */
static gboolean
frame_crops (
    Run *r, const UpmFrame *f, float *patches, UpmCropBox *box, GError **error)
{
  for (guint c = 0; c < r->n_crops; c++)
    if (!upm_vision_crop_box (f->width, f->height, r->resize, r->hp->image_size,
            r->crops, c, &box[c], error)
        || !upm_vision_frame_to_patches_box (r->hp, r->norm, &box[c], f->rgb,
            f->width, f->height, f->stride, patches + c * r->frame_floats,
            error))
      return FALSE;
  return TRUE;
}

/* Sets frame @i of view @v of @clip. */
static void
clip_set_frame (Run *r, Clip *clip, guint v, guint i, int64_t index, double pts,
    const float *patches, const UpmCropBox *box)
{
  const gsize o = (gsize)v * clip->span + i;

  memcpy (clip->patches + o * r->frame_floats, patches,
      r->frame_floats * sizeof (float));
  clip->index[o] = index;
  clip->pts[o] = pts;
  clip->box[o] = *box;
}

/* ------------------------------------------- consecutive frames (default) */

static void
pending_free (gpointer data)
{
  Pending *p = data;

  g_free (p->patches);
  g_free (p);
}

/* The clip made of the first @n_present queued frames, padded to the clip
 * length with the last one; one view per crop. */
static gboolean
emit_queued_clip (Run *r, guint n_present, GError **error)
{
  Clip clip = { .n_views = r->n_crops, .span = r->span };
  Pending *first = g_queue_peek_head (&r->queue), *last = NULL;
  gboolean ok;

  clip_alloc (r, &clip);
  for (guint i = 0; i < r->span; i++)
    {
      if (i < n_present)
        last = g_queue_peek_nth (&r->queue, i);
      for (guint c = 0; c < r->n_crops; c++)
        clip_set_frame (r, &clip, c, i, last->index, last->pts,
            last->patches + c * r->frame_floats, &last->box[c]);
    }
  clip.start = first->pts;
  clip.end = r->still ? first->pts : last->pts + r->stride / r->fps;
  ok = emit_clip (r, &clip, error);
  clip_clear (&clip);
  return ok;
}

static void
advance_clip (Run *r)
{
  Pending *p;

  r->next_start += r->hop;
  while ((p = g_queue_peek_head (&r->queue)) && p->k < r->next_start)
    pending_free (g_queue_pop_head (&r->queue));
}

static gboolean
push_frame (Run *r, const UpmFrame *f, GError **error)
{
  int64_t k;
  Pending *p;

  if (r->n_decoded++ % r->stride != 0)
    return TRUE;
  k = r->n_kept++;
  if (k < r->next_start)
    return TRUE;
  p = g_new0 (Pending, 1);
  p->k = k;
  p->index = f->index;
  p->pts = f->pts;
  p->patches = g_new (float, r->frame_floats * r->n_crops);
  g_queue_push_tail (&r->queue, p);
  if (!frame_crops (r, f, p->patches, p->box, error))
    return FALSE;
  if (r->queue.length < r->span)
    return TRUE;
  if (!emit_queued_clip (r, r->span, error))
    return FALSE;
  advance_clip (r);
  return TRUE;
}

static gboolean
finish_clips (Run *r, GError **error)
{
  guint n = MIN (r->queue.length, r->span);

  if (n > 0 && n * 2 >= r->span && !emit_queued_clip (r, n, error))
    return FALSE;
  g_queue_clear_full (&r->queue, pending_free);
  return TRUE;
}

static gboolean
process_consecutive (Run *r, UpmVideo *video, GError **error)
{
  UpmFrame f;
  int got;

  while ((got = upm_video_read (video, &f, error)) > 0)
    {
      if (!push_frame (r, &f, error))
        return FALSE;
      if (r->still)
        break;
    }
  return got >= 0 && finish_clips (r, error);
}

/* -------------------------------------------- timed presets (two passes) */

static void
window_free (gpointer data)
{
  Window *w = data;

  g_free (w->index);
  clip_clear (&w->clip);
  g_free (w);
}

/* 30-fps frames -> seconds. */
static double
frames30 (guint n)
{
  return n / 30.0;
}

/* The frame indices of the window that starts at decoded frame @k0. */
static Window *
plan_window (Run *r, const double *pts, guint n, double end, guint k0)
{
  Window *w = g_new0 (Window, 1);
  double *times = g_new (double, r->span);
  uint32_t *idx = g_new (uint32_t, r->span);

  w->index = g_new (int64_t, (gsize)r->n_tviews * r->span);
  w->first = G_MAXINT64;
  w->last = -1;
  w->start = pts[k0];
  w->end = pts[k0] + frames30 (r->span * r->n_tviews * r->stride);
  for (guint v = 0; v < r->n_tviews; v++)
    {
      for (guint i = 0; i < r->span; i++)
        times[i] = (double)(i * r->n_tviews + v) * r->stride / 30.0;
      upm_sample_by_time (pts + k0, n - k0, end, times, r->span, idx);
      for (guint i = 0; i < r->span; i++)
        {
          int64_t k = (int64_t)k0 + idx[i];

          w->index[v * r->span + i] = k;
          w->first = MIN (w->first, k);
          w->last = MAX (w->last, k);
        }
    }
  g_free (idx);
  g_free (times);
  return w;
}

/* The first decoded frame at or after @t, from @k on (n when none). */
static guint
frame_at_or_after (const double *pts, guint n, guint k, double t)
{
  while (k < n && pts[k] < t - 1e-6)
    k++;
  return k;
}

/* Pass 1 gave the timestamps of every decoded frame: windows from the
 * first frame, the next --clip-hop 30-fps frames later. The first window
 * wraps around a short video as the official sampler does; later windows
 * run only when complete. */
static void
plan_windows (Run *r, const double *pts, guint n, double end)
{
  const double span = frames30 (r->span * r->n_tviews * r->stride);
  const double hop = frames30 (r->hop);
  const double last = frames30 ((r->span * r->n_tviews - 1) * r->stride);
  double covered;
  guint k0 = 0;

  r->windows = g_ptr_array_new_with_free_func (window_free);
  if (n == 0)
    return;
  /* the last target at or after the end wraps (upm_sample_by_time) */
  if (!r->still && pts[0] + last >= end - 1e-6)
    g_printerr ("upm-run: warning: %s: the video lasts %.3f s; preset "
                "\"%s\" samples up to %.3f s, so its frames wrap around (as "
                "in the official evaluation)\n",
        r->opt.inputs[0], end - pts[0], r->preset->name, last);
  g_ptr_array_add (r->windows, plan_window (r, pts, n, end, 0));
  for (guint w = 1; hop > 0.0; w++)
    {
      const double t = pts[0] + w * hop;

      if (t + span > end + 1e-6)
        break;
      k0 = frame_at_or_after (pts, n, k0, t);
      if (k0 >= n)
        break;
      g_ptr_array_add (r->windows, plan_window (r, pts, n, end, k0));
    }
  /* nothing lost silently: say what no window reached */
  covered = pts[k0] + span;
  if (end > covered + 1.0 / r->fps)
    g_printerr ("upm-run: note: %s: the last %.3f s are shorter than a "
                "window and not sampled\n",
        r->opt.inputs[0], end - covered);
}

/* Pass 1: the timestamps of every decodable frame and the stream's end. */
static gboolean
read_timestamps (
    Run *r, UpmVideo *video, GArray *pts, double *end, GError **error)
{
  UpmFrame f;
  int got;

  while ((got = upm_video_read (video, &f, error)) > 0)
    {
      g_array_append_val (pts, f.pts);
      if (r->still)
        break;
    }
  if (got < 0)
    return FALSE;
  *end = pts->len ? g_array_index (pts, double, pts->len - 1) + 1.0 / r->fps
                  : 0.0;
  return TRUE;
}

/* Copies decoded frame @k (its patches per crop) into the windows that
 * take it; emits the windows whose last frame it is, in order. */
static gboolean
fill_windows (Run *r, int64_t k, double pts, const float *patches,
    const UpmCropBox *box, guint *next, GError **error)
{
  for (guint w = *next; w < r->windows->len; w++)
    {
      Window *win = g_ptr_array_index (r->windows, w);

      if (win->first > k)
        break;
      if (win->clip.patches == NULL)
        {
          win->clip.n_views = r->n_tviews * r->n_crops;
          win->clip.span = r->span;
          win->clip.start = win->start;
          win->clip.end = win->end;
          clip_alloc (r, &win->clip);
        }
      for (guint v = 0; v < r->n_tviews; v++)
        for (guint i = 0; i < r->span; i++)
          if (win->index[v * r->span + i] == k)
            for (guint c = 0; c < r->n_crops; c++)
              clip_set_frame (r, &win->clip, v * r->n_crops + c, i, k, pts,
                  patches + c * r->frame_floats, &box[c]);
    }
  while (*next < r->windows->len)
    {
      Window *win = g_ptr_array_index (r->windows, *next);

      if (win->last > k)
        break;
      if (!emit_clip (r, &win->clip, error))
        return FALSE;
      clip_clear (&win->clip);
      (*next)++;
    }
  return TRUE;
}

/* Pass 2: decode again, converting only the frames a window takes. */
static gboolean
sample_windows (Run *r, UpmVideo *video, GError **error)
{
  float *patches = g_new (float, r->frame_floats * r->n_crops);
  UpmCropBox box[UPM_MAX_CROPS];
  guint next = 0;
  int64_t k = 0;
  UpmFrame f;
  int got = 1;
  gboolean ok = TRUE;

  while (ok && next < r->windows->len
         && (got = upm_video_read (video, &f, error)) > 0)
    {
      gboolean wanted = FALSE;

      for (guint w = next; w < r->windows->len && !wanted; w++)
        {
          Window *win = g_ptr_array_index (r->windows, w);

          if (win->first > k)
            break;
          for (guint j = 0; j < r->n_tviews * r->span && !wanted; j++)
            wanted = win->index[j] == k;
        }
      if (wanted)
        ok = frame_crops (r, &f, patches, box, error)
             && fill_windows (r, k, f.pts, patches, box, &next, error);
      k++;
    }
  g_free (patches);
  if (!ok || got < 0)
    return FALSE;
  if (next < r->windows->len)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_FORMAT,
          "%s: the second decoding pass gave %" G_GINT64_FORMAT
          " frames, fewer than the first",
          r->opt.inputs[0], k);
      return FALSE;
    }
  return TRUE;
}

static UpmVideo *open_input (Run *r, GError **error);

static gboolean
process_timed (Run *r, UpmVideo *video, GError **error)
{
  GArray *pts = g_array_new (FALSE, FALSE, sizeof (double));
  UpmVideo *again = NULL;
  double end = 0.0;
  gboolean ok;

  ok = read_timestamps (r, video, pts, &end, error);
  if (ok)
    {
      r->n_decoded = pts->len;
      plan_windows (r, (const double *)pts->data, pts->len, end);
      r->clips_total = r->windows->len;
    }
  if (ok && r->windows->len > 0)
    ok = (again = open_input (r, error)) != NULL
         && sample_windows (r, again, error);
  upm_video_close (again);
  g_array_free (pts, TRUE);
  return ok;
}

/* The crops; @own: the model's own layout (one centre crop). */
static gboolean
preset_resize (Run *r, gboolean own, GError **error)
{
  const UpmHParams *hp = r->hp;
  const double ratio = own ? 0.0 : r->preset->resize_ratio;

  /* int(256 / 224 * 224), as the official transforms compute it */
  r->resize = ratio > 0.0 ? (guint)(ratio * hp->image_size) : hp->image_size;
  r->crops = own ? UPM_CROPS_CENTRE : r->preset->crops;
  r->n_crops = upm_crops_count (r->crops);
  if (r->n_crops > UPM_MAX_CROPS)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "preset \"%s\": %u crops (at most %u)", r->preset->name, r->n_crops,
          UPM_MAX_CROPS);
      return FALSE;
    }
  return TRUE;
}

static gboolean
setup_clips (Run *r, UpmVideo *video, GError **error)
{
  const UpmHParams *hp = r->hp;
  const UpmPreset *pr = r->preset;
  const Options *o = &r->opt;
  guint def = hp->clip_frames ? hp->clip_frames : MIN (4u, hp->n_temporal);
  gboolean is_default = g_str_equal (pr->name, "default");

  gboolean own;

  r->still = o->image || (!o->video && upm_video_is_image (video));
  /* a still image under a video preset is one 1-frame clip on the image
   * path, as upmtokenizer makes it */
  own = is_default || (r->still && !pr->image);
  r->timed = pr->stride > 0 && !r->still;
  r->span = o->clip_frames ? (guint)o->clip_frames
            : pr->frames   ? pr->frames
                           : def;
  if (r->still)
    r->span = 1;
  if (!o->clip_frames && !upm_model_suits_preset (r->model, pr, error))
    return FALSE;
  if (r->span == 0 || r->span > hp->n_temporal)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "--clip-frames must be 1..%u for this model", hp->n_temporal);
      return FALSE;
    }
  if (!preset_resize (r, own, error))
    return FALSE;
  r->n_tviews = r->timed ? MAX (pr->views, 1u) : 1;
  if (r->task == TASK_CAPTION && r->n_tviews * r->n_crops > 1)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "preset \"%s\" has %u views; captioning takes one", pr->name,
          r->n_tviews * r->n_crops);
      return FALSE;
    }
  /* the model's own layout has upmtokenizer's norm=auto */
  r->norm = !own ? pr->norm : r->span == 1 ? UPM_NORM_IMAGE : UPM_NORM_VIDEO;
  r->scale = !own           ? pr->scale
             : r->span == 1 ? UPM_SCALE_IMG_CLS
                            : UPM_SCALE_VIDEO_CLS;
  if (r->task == TASK_RETRIEVE)
    r->scale = UPM_SCALE_RETRIEVE;
  r->cosine = r->task == TASK_RETRIEVE && !is_default;
  if (r->timed)
    {
      r->stride = o->frame_stride ? (guint)o->frame_stride : pr->stride;
      r->hop = o->clip_hop ? (guint)o->clip_hop
                           : r->span * r->n_tviews * r->stride;
    }
  else
    {
      r->stride
          = o->frame_stride ? (guint)o->frame_stride : DEFAULT_FRAME_STRIDE;
      r->hop = o->clip_hop ? (guint)o->clip_hop : r->span;
    }
  r->fps = upm_video_fps (video);
  r->frame_floats = upm_cli_frame_floats (hp);
  r->clips_total
      = r->timed ? -1 : estimate_clips (r, upm_video_n_frames (video));
  g_queue_init (&r->queue);
  return TRUE;
}

static gboolean
process (Run *r, UpmVideo *video, GError **error)
{
  r->io.t_start = g_get_monotonic_time ();
  if (r->cosine && r->fmt == UPM_FORMAT_TEXT)
    {
      GString *s = g_string_new (NULL);

      g_string_append_printf (s,
          "# preset %s: scores are the plain cosine of the features, as "
          "in the official retrieval evaluation\n",
          r->preset->name);
      if (!upm_cli_write (&r->io, s, error))
        {
          g_string_free (s, TRUE);
          return FALSE;
        }
      g_string_free (s, TRUE);
    }
  if (!(r->timed ? process_timed (r, video, error)
                 : process_consecutive (r, video, error)))
    return FALSE;
  if (r->clips_done == 0)
    g_printerr ("upm-run: warning: %s: no complete clip (%" G_GINT64_FORMAT
                " frames decoded)\n",
        r->opt.inputs[0], r->n_decoded);
  upm_cli_progress_clips (&r->io, r->clips_done, -1);
  upm_cli_progress_end (&r->io);
  return TRUE;
}

/* ------------------------------------------------------------- main */

static gboolean
setup_task (Run *r, GError **error)
{
  if (r->task != TASK_CAPTION)
    return setup_texts (r, error);
  return upm_cli_vocab_features (r->model, &r->io, error);
}

static UpmVideo *
open_input (Run *r, GError **error)
{
  if (r->opt.raw == NULL)
    return upm_video_open (r->opt.inputs[0], error);
  return upm_video_open_raw (
      r->opt.inputs[0], r->raw_w, r->raw_h, r->opt.fps, error);
}

static gboolean
open_output (Run *r, GError **error)
{
  GString *header;

  if (!upm_cli_open_output (&r->io, r->opt.cli.output, error))
    return FALSE;
  header = g_string_new (NULL);
  upm_format_header (header, r->fmt);
  fputs (header->str, r->io.out);
  g_string_free (header, TRUE);
  return TRUE;
}

static gboolean
load_model (Run *r, GError **error)
{
  if (!upm_cli_load_model (r->opt.cli.model, r->opt.cli.precision_value,
          &r->model, &r->ctx, error))
    return FALSE;
  r->hp = upm_model_hparams (r->model);
  return TRUE;
}

static int
run_all (Run *r, GError **error)
{
  UpmVideo *video = NULL;
  int status = UPM_CLI_EXIT_RUNTIME;

  if (!load_model (r, error))
    return UPM_CLI_EXIT_RUNTIME;
  if ((video = open_input (r, error)) == NULL)
    return UPM_CLI_EXIT_RUNTIME;
  if (!setup_clips (r, video, error))
    status = UPM_CLI_EXIT_USAGE;
  else if (setup_task (r, error) && open_output (r, error)
           && process (r, video, error))
    status = EXIT_SUCCESS;
  upm_video_close (video);
  return status;
}

static void
options_clear (Options *o)
{
  char *strings[]
      = { o->task, o->labels, o->labels_file, o->labelset, o->captions_file,
          o->format, o->raw, o->dump_frames, o->dump_views, o->preset };

  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    g_free (strings[i]);
  g_strfreev (o->inputs);
  upm_cli_options_clear (&o->cli);
}

static void
run_clear (Run *r)
{
  Options *o = &r->opt;

  upm_cli_close_output (&r->io);
  g_free (r->text_feats);
  g_strfreev (r->texts);
  if (r->ctx)
    upm_context_free (r->ctx);
  if (r->model)
    upm_model_unref (r->model);
  options_clear (o);
  if (r->windows)
    g_ptr_array_unref (r->windows);
}

int
main (int argc, char **argv)
{
  Run r = { 0 };
  GError *error = NULL;
  int status;

  av_log_set_level (AV_LOG_ERROR);
  if (!parse_options (&r.opt, &argc, &argv, &error)
      || !check_options (&r, &error))
    {
      run_clear (&r);
      return upm_cli_report_usage ("upm-run", &error);
    }
  if (r.opt.cli.threads > 0)
    upm_set_num_threads (r.opt.cli.threads);
  status = run_all (&r, &error);
  upm_cli_report_error ("upm-run", r.io.show_progress, &error);
  run_clear (&r);
  return status;
}
