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

#define DEFAULT_FRAME_STRIDE 8

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
  char *format, *raw, *dump_frames;
  int clip_frames, frame_stride, clip_hop;
  double fps;
  gboolean image, routing, routing_summary;
  char **inputs;
} Options;

/* A kept frame waiting for its clip(s). */
typedef struct
{
  int64_t k; /* index among kept frames */
  double pts;
  float *patches;
} Pending;

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
  UpmCliOutput io; /* output file, progress */
  guint n_results;
  guint clips_done;
  int64_t clips_total;
  /* clip assembly */
  UpmNormKind norm;
  guint span, stride, hop;
  gboolean still;
  double fps;
  GQueue queue;
  int64_t next_start, n_kept, n_decoded;
  gsize frame_floats;
  float *clip_patches;
  int raw_w, raw_h;
} Run;

/* ------------------------------------------------------------ options */

static gboolean
parse_options (Options *o, int *argc, char ***argv, GError **error)
{
  UpmCliOptions *c = &o->cli;
  GOptionEntry entries[] = { UPM_CLI_OPTION_MODEL (c),
    { "task", 't', 0, G_OPTION_ARG_STRING, &o->task,
        "classify (default), retrieve or caption", "TASK" },
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
        "Frames per clip (default: the model's)"),
    UPM_CLI_OPTION_INT ("frame-stride", 0, o->frame_stride,
        "Keep every Nth decoded frame (default 8)"),
    UPM_CLI_OPTION_INT ("clip-hop", 0, o->clip_hop,
        "Kept frames between clip starts (default: clip-frames)"),
    UPM_CLI_OPTION_INT ("beam-size", 0, c->beam_size,
        "Caption beam size (default: the model's)"),
    UPM_CLI_OPTION_INT ("max-length", 0, c->max_length,
        "Caption length in tokens (default: the model's)"),
    { "image", 0, 0, G_OPTION_ARG_NONE, &o->image,
        "Treat the input as a still image (first frame)", NULL },
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
    UPM_CLI_OPTION_PROGRESS (c), UPM_CLI_OPTION_THREADS (c),
    { "dump-frames", 0, 0, G_OPTION_ARG_FILENAME, &o->dump_frames,
        "Write the preprocessed frames of the first clip as PPM files here",
        "DIR" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->inputs, NULL,
        "INPUT" },
    { NULL } };

  return upm_cli_parse (entries,
      "Run a Uni-Perceiver(-MoE) model on the clips of a video or image.",
      "Decoded frames are subsampled by --frame-stride and grouped into "
      "clips of\n--clip-frames frames starting every --clip-hop kept frames. "
      "A partial clip at\nthe end of the stream is padded by repeating its "
      "last frame when at least\nhalf of it is present, and dropped "
      "otherwise. A still image is one\n1-frame clip (bicubic resize, "
      "ImageNet normalisation); video clips use\nbilinear resize and "
      "mean/std 0.5.\n\nExit status: 0 success, 1 runtime error, 2 usage "
      "error.\n",
      argc, argv, error);
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

static gboolean
check_options (Run *r, GError **error)
{
  Options *o = &r->opt;
  const char *task = o->task ? o->task : "classify";
  const char *fmt = o->format ? o->format : "text";

  if (o->cli.model == NULL)
    return upm_cli_usage (error, "--model is required");
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
  if (r->task == TASK_RETRIEVE && o->captions_file == NULL)
    return upm_cli_usage (error, "--task retrieve needs --captions-file");
  if (o->raw && !upm_video_parse_size (o->raw, &r->raw_w, &r->raw_h, error))
    return FALSE;
  if (o->labels && o->labels_file)
    return upm_cli_usage (error, "--labels and --labels-file are exclusive");
  if (o->cli.top_k < 0 || o->clip_frames < 0 || o->frame_stride < 0
      || o->clip_hop < 0 || o->cli.beam_size < 0 || o->cli.max_length < 0
      || o->cli.threads < 0 || o->fps < 0.0)
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
  return upm_model_text_features (r->model, (const char *const *)r->texts,
      r->n_texts, attr, r->text_feats, error);
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
} ClipResult;

/* The clip as the formatter's record; @items has room for the scores. */
static void
clip_record (
    Run *r, const ClipResult *c, UpmFormatScore *items, UpmFormatRecord *rec)
{
  uint32_t i;

  rec->task = task_name (r->task);
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
    }
}

static gboolean
write_result (Run *r, const ClipResult *c, GError **error)
{
  GString *s = g_string_new (NULL);
  UpmFormatScore *items = g_new0 (UpmFormatScore, MAX (c->n_scores, 1));
  UpmFormatRecord rec = { 0 };
  UpmFormatRoute *routes = NULL;
  gboolean ok;

  clip_record (r, c, items, &rec);
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
  return ok;
}

/* --------------------------------------------------------- clip tasks */

static gboolean
run_scores (Run *r, ClipResult *c, UpmRouting *routing, GError **error)
{
  uint32_t n = r->n_texts, k;
  float *feature = g_new (float, r->hp->n_embd);
  float *logits = g_new (float, n), *probs = g_new (float, n);
  UpmAttr attr = r->task == TASK_CLASSIFY ? UPM_ATTR_CLS_INPUT
                                          : UPM_ATTR_RETRIEVAL_INPUT;
  gboolean ok;

  ok = upm_encode_visual (
      r->ctx, r->clip_patches, c->n_frames, attr, feature, routing, error);
  if (ok)
    {
      /* Retrieval ranks captions by cosine; scaled by the retrieval logit
       * scale and softmaxed like classification, as upmhead does. */
      UpmScale which = r->task == TASK_RETRIEVE ? UPM_SCALE_RETRIEVE
                       : c->n_frames == 1       ? UPM_SCALE_IMG_CLS
                                                : UPM_SCALE_VIDEO_CLS;

      upm_classify (r->hp, feature, r->text_feats, n,
          upm_model_logit_scale (r->model, which), logits, probs);
    }
  if (ok)
    {
      k = upm_cli_top_k (&r->opt.cli, n);
      c->scores = g_new (UpmScore, k);
      c->n_scores = k;
      upm_top_k (logits, probs, n, k, c->scores);
    }
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
      UpmCaptionParams p = { (uint32_t)r->opt.cli.beam_size,
        (uint32_t)r->opt.cli.max_length, -1.0f, NULL };

      return upm_caption (r->ctx, r->clip_patches, c->n_frames, &p, &c->caption,
          routing, error);
    }
  return run_scores (r, c, routing, error);
}

/* ---------------------------------------------------------- dumping */

static gboolean
dump_frames (Run *r, uint32_t n_frames, GError **error)
{
  const UpmHParams *hp = r->hp;
  const float *mean
      = r->norm == UPM_NORM_IMAGE ? hp->image_mean : hp->video_mean;
  const float *std = r->norm == UPM_NORM_IMAGE ? hp->image_std : hp->video_std;
  guint s = hp->image_size, p = hp->patch_size, pp = p * p;
  gsize n = (gsize)s * s * 3;
  uint8_t *img = g_malloc (n);
  gboolean ok = TRUE;
  uint32_t f;

  if (g_mkdir_with_parents (r->opt.dump_frames, 0755) != 0)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_IO, "%s: %s", r->opt.dump_frames,
          g_strerror (errno));
      g_free (img);
      return FALSE;
    }
  for (f = 0; ok && f < n_frames; f++)
    {
      const float *fp = r->clip_patches + f * r->frame_floats;
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

/* ------------------------------------------------------------ clips */

static void
pending_free (gpointer data)
{
  Pending *p = data;

  g_free (p->patches);
  g_free (p);
}

/* Run the clip made of the first @n_present queued frames, padded to the
 * clip length with the last one. */
static gboolean
emit_clip (Run *r, guint n_present, GError **error)
{
  ClipResult c = { 0 };
  Pending *first = g_queue_peek_head (&r->queue), *last = NULL;
  gboolean ok;
  guint i;

  for (i = 0; i < r->span; i++)
    {
      if (i < n_present)
        last = g_queue_peek_nth (&r->queue, i);
      memcpy (r->clip_patches + i * r->frame_floats, last->patches,
          r->frame_floats * sizeof (float));
    }
  c.n_frames = r->span;
  c.start = first->pts;
  c.end = r->still ? first->pts : last->pts + r->stride / r->fps;
  upm_routing_init (&c.routing);
  ok = run_clip_task (r, &c, error);
  if (ok && c.caption.text && !g_utf8_validate (c.caption.text, -1, NULL))
    {
      char *valid = g_utf8_make_valid (c.caption.text, -1);

      g_free (c.caption.text);
      c.caption.text = valid;
    }
  if (ok && r->opt.dump_frames && r->clips_done == 0)
    ok = dump_frames (r, c.n_frames, error);
  if (ok)
    ok = write_result (r, &c, error);
  upm_routing_clear (&c.routing);
  upm_caption_clear (&c.caption);
  g_free (c.scores);
  r->clips_done++;
  upm_cli_progress_clips (&r->io, r->clips_done, r->clips_total);
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
  p->pts = f->pts;
  p->patches = g_new (float, r->frame_floats);
  g_queue_push_tail (&r->queue, p);
  if (!upm_vision_frame_to_patches (r->hp, r->norm, f->rgb, f->width, f->height,
          f->stride, p->patches, error))
    return FALSE;
  if (r->queue.length < r->span)
    return TRUE;
  if (!emit_clip (r, r->span, error))
    return FALSE;
  advance_clip (r);
  return TRUE;
}

static gboolean
finish_clips (Run *r, GError **error)
{
  guint n = MIN (r->queue.length, r->span);

  if (n > 0 && n * 2 >= r->span && !emit_clip (r, n, error))
    return FALSE;
  g_queue_clear_full (&r->queue, pending_free);
  return TRUE;
}

static gboolean
setup_clips (Run *r, UpmVideo *video, GError **error)
{
  const UpmHParams *hp = r->hp;
  guint def = hp->clip_frames ? hp->clip_frames : MIN (4u, hp->n_temporal);

  r->still = r->opt.image || upm_video_is_image (video);
  r->norm = r->still ? UPM_NORM_IMAGE : UPM_NORM_VIDEO;
  r->span
      = r->still ? 1 : (r->opt.clip_frames ? (guint)r->opt.clip_frames : def);
  if (r->span == 0 || r->span > hp->n_temporal)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "--clip-frames must be 1..%u for this model", hp->n_temporal);
      return FALSE;
    }
  r->stride
      = r->opt.frame_stride ? (guint)r->opt.frame_stride : DEFAULT_FRAME_STRIDE;
  r->hop = r->opt.clip_hop ? (guint)r->opt.clip_hop : r->span;
  r->fps = upm_video_fps (video);
  r->frame_floats = upm_cli_frame_floats (hp);
  r->clip_patches = g_new (float, r->frame_floats * r->span);
  r->clips_total = estimate_clips (r, upm_video_n_frames (video));
  g_queue_init (&r->queue);
  return TRUE;
}

static gboolean
process (Run *r, UpmVideo *video, GError **error)
{
  UpmFrame f;
  int got;

  r->io.t_start = g_get_monotonic_time ();
  while ((got = upm_video_read (video, &f, error)) > 0)
    {
      if (!push_frame (r, &f, error))
        return FALSE;
      if (r->still)
        break;
    }
  if (got < 0 || !finish_clips (r, error))
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
  if (!upm_cli_load_model (r->opt.cli.model, &r->model, &r->ctx, error))
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
  char *strings[] = { o->task, o->labels, o->labels_file, o->labelset,
    o->captions_file, o->format, o->raw, o->dump_frames };

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
  g_free (r->clip_patches);
  g_free (r->text_feats);
  g_strfreev (r->texts);
  if (r->ctx)
    upm_context_free (r->ctx);
  if (r->model)
    upm_model_unref (r->model);
  options_clear (o);
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
