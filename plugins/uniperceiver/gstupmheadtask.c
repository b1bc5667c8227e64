/* gstupmheadtask.c: upmhead's calls into the library: the labels' features
 * or the caption settings of the task, then per clip the scores or the
 * caption and the text buffer carrying them.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmheadtask.h"
#include "gstupmheadlabels.h"
#include "gstupmheadresult.h"
#include "gstupmtransformer.h"

#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (gst_upm_head_debug);
#define GST_CAT_DEFAULT gst_upm_head_debug

/* ------------------------------------------------------------- prepare */

static void
gst_upm_head_task_clear (GstUpmHeadTask *task)
{
  g_clear_pointer (&task->labels, g_strfreev);
  g_clear_pointer (&task->label_features, g_free);
  task->n_labels = 0;
  task->prompt_head = FALSE;
}

void
gst_upm_head_task_open (GstUpmHeadTask *task, UpmModel *model)
{
  task->model = model;
  task->ctx = upm_context_new (model);
}

void
gst_upm_head_task_close (GstUpmHeadTask *task)
{
  gst_upm_head_task_clear (task);
  g_clear_pointer (&task->ctx, upm_context_free);
  task->model = NULL;
}

static gboolean
gst_upm_head_task_prepare_caption (GstUpmHeadTask *task, GstElement *element,
    const GstUpmHeadTaskSettings *settings)
{
  const UpmHParams *hp = upm_model_hparams (task->model);
  const UpmPreset *p = settings->preset;
  guint max_length
      = settings->max_length ? settings->max_length : p->max_length;
  GError *err = NULL;

  if (upm_preset_n_views (p) > 1)
    {
      GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
          ("Cannot caption with preset=%s: it makes %u views of a clip and a "
           "caption is decoded from one.",
              p->name, upm_preset_n_views (p)),
          ("use a caption preset (msvd-caption, coco-caption, ...) or "
           "default"));
      return FALSE;
    }
  if (max_length > hp->n_text_ctx)
    {
      GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
          ("max-length %u is longer than the text context of the model "
           "\"%s\" (%u tokens).",
              max_length, upm_model_path (task->model), hp->n_text_ctx),
          ("set max-length to 0 (model default, %u) .. %u",
              hp->caption_max_length, hp->n_text_ctx));
      return FALSE;
    }
  task->caption_params.beam_size
      = settings->beam_size ? settings->beam_size : p->beam_size;
  task->caption_params.max_length = max_length;
  task->caption_params.length_penalty = settings->length_penalty >= 0.0f
                                            ? settings->length_penalty
                                            : p->length_penalty;
  /* Computed once per model, cached by the library (and on disk). */
  if (upm_model_vocab_features (task->model, NULL, NULL, &err) == NULL)
    {
      GST_ELEMENT_ERROR (element, RESOURCE, FAILED,
          ("Could not compute the vocabulary features of the model "
           "\"%s\".",
              upm_model_path (task->model)),
          ("%s", err ? err->message : "unknown error"));
      g_clear_error (&err);
      return FALSE;
    }
  return TRUE;
}

static gboolean
gst_upm_head_task_prepare_labels (GstUpmHeadTask *task, GstElement *element,
    const GstUpmHeadTaskSettings *settings)
{
  const UpmHParams *hp = upm_model_hparams (task->model);
  const gboolean retrieve = task->task == GST_UPM_TASK_RETRIEVE;
  GError *err = NULL;

  task->labels = gst_upm_head_resolve_labels (element, task->model, task->task,
      settings->labels, settings->labels_file, &task->n_labels,
      &task->prompt_head);
  if (task->labels == NULL)
    return FALSE;

  task->label_features = g_new (gfloat, (gsize)task->n_labels * hp->n_embd);
  /* retrieval texts at the preset's truncation (MSVD: 77 tokens) */
  if (!upm_model_text_features_len (task->model,
          (const char *const *)task->labels, task->n_labels,
          retrieve ? UPM_ATTR_RETRIEVAL_TARGET : UPM_ATTR_CLS_TARGET,
          retrieve && settings->preset ? settings->preset->text_max_length : 0,
          task->label_features, &err))
    {
      GST_ELEMENT_ERROR (element, RESOURCE, FAILED,
          ("Could not compute the features of the %u labels.", task->n_labels),
          ("%s", err ? err->message : "unknown error"));
      g_clear_error (&err);
      gst_upm_head_task_clear (task);
      return FALSE;
    }
  GST_INFO_OBJECT (element, "%s with %u labels", gst_upm_task_nick (task->task),
      task->n_labels);
  return TRUE;
}

gboolean
gst_upm_head_task_prepare (GstUpmHeadTask *task, GstElement *element,
    const GstUpmHeadTaskSettings *settings)
{
  gst_upm_head_task_clear (task);
  task->task = settings->task;
  task->preset = settings->preset;
  if (task->task == GST_UPM_TASK_CAPTION)
    return gst_upm_head_task_prepare_caption (task, element, settings);
  return gst_upm_head_task_prepare_labels (task, element, settings);
}

/* ------------------------------------------------------------ per clip */

/* The precision the clip was encoded in, as upmtransformer recorded it in
 * the clip meta; else (an older producer) the head's own. */
static const gchar *
gst_upm_head_task_encode_precision (GstUpmHeadTask *task, GstBuffer *in)
{
  GstCustomMeta *clip = gst_buffer_get_custom_meta (in, GST_UPM_CLIP_META_NAME);
  const gchar *name = NULL;

  if (clip != NULL)
    name = gst_structure_get_string (
        gst_custom_meta_get_structure (clip), "precision");
  return name ? g_intern_string (name)
              : upm_precision_name (upm_context_precision (task->ctx));
}

static UpmScale
gst_upm_head_task_scale (
    GstUpmHeadTask *task, GstBuffer *in, const gchar *modality)
{
  GstCustomMeta *clip;
  guint frames = 0;

  if (task->task == GST_UPM_TASK_RETRIEVE)
    return UPM_SCALE_RETRIEVE;
  /* still images (a one-frame stream under a video preset too) */
  if (modality == NULL || !g_str_equal (modality, "video"))
    return UPM_SCALE_IMG_CLS;
  clip = gst_buffer_get_custom_meta (in, GST_UPM_CLIP_META_NAME);
  if (clip != NULL
      && gst_structure_get_uint (
          gst_custom_meta_get_structure (clip), "frames", &frames)
      && frames == 1)
    return UPM_SCALE_IMG_CLS;
  /* video clips of a classification preset: its benchmark's scale */
  if (task->preset != NULL && task->preset->task == UPM_TASK_CLASSIFICATION)
    return task->preset->scale;
  return UPM_SCALE_VIDEO_CLS;
}

/* The logit scale of the clip's scores; *@kind "cosine" for the plain
 * cosine of a retrieval preset (as the official evaluation scores). */
static gfloat
gst_upm_head_task_scale_value (GstUpmHeadTask *task, GstBuffer *in,
    const gchar *modality, const gchar **kind)
{
  *kind = NULL;
  if (task->task == GST_UPM_TASK_RETRIEVE && task->preset != NULL
      && task->preset->task == UPM_TASK_RETRIEVAL)
    {
      *kind = "cosine";
      return 1.0f;
    }
  if (task->task == GST_UPM_TASK_RETRIEVE)
    *kind = "softmax"; /* as upm-run's retrievals outside retrieval presets */
  return upm_model_logit_scale (
      task->model, gst_upm_head_task_scale (task, in, modality));
}

/* The preset's name for the results ("preset" in JSON and messages), as
 * upm-run writes it; NULL without one. */
static const gchar *
gst_upm_head_task_preset (GstUpmHeadTask *task)
{
  return task->preset != NULL ? task->preset->name : NULL;
}

static void
gst_upm_head_task_message_preset (GstUpmHeadTask *task, GstStructure *message)
{
  if (task->preset != NULL)
    gst_structure_set (
        message, "preset", G_TYPE_STRING, task->preset->name, NULL);
}

/* The mean over the @n_views rows of @in of each view's logits and softmax
 * (a view's probabilities are the softmax of its own logits). */
static void
gst_upm_head_task_mean_scores (GstUpmHeadTask *task, GstBuffer *in,
    guint n_views, gfloat scale, gfloat *logits, gfloat *probs)
{
  const UpmHParams *hp = upm_model_hparams (task->model);
  guint n = task->n_labels;
  gfloat *feature = g_new (gfloat, hp->n_embd);
  gfloat *vl = g_new (gfloat, n), *vp = g_new (gfloat, n);
  GstMapInfo map;

  memset (logits, 0, n * sizeof (gfloat));
  memset (probs, 0, n * sizeof (gfloat));
  gst_buffer_map (in, &map, GST_MAP_READ);
  for (guint v = 0; v < n_views; v++)
    {
      const gfloat *hidden = (const gfloat *)map.data + (gsize)v * hp->n_embd;

      /* The prompt head (it cannot fail: n is its own class count). */
      if (!task->prompt_head
          || !upm_classify_prompt (task->model, hidden, task->label_features, n,
              scale, vl, vp, NULL))
        {
          upm_feature_from_hidden (task->ctx, hidden, feature);
          upm_classify (hp, feature, task->label_features, n, scale, vl, vp);
        }
      for (guint i = 0; i < n; i++)
        {
          logits[i] += vl[i] / n_views;
          probs[i] += vp[i] / n_views;
        }
    }
  gst_buffer_unmap (in, &map);
  g_free (vp);
  g_free (vl);
  g_free (feature);
}

/* The view records of @in on @out. */
static void
gst_upm_head_task_copy_views (GstBuffer *out, GstBuffer *in)
{
  guint n = 0;
  GstUpmViewMeta **views = gst_buffer_get_upm_view_metas (in, &n);

  for (guint i = 0; i < n; i++)
    gst_buffer_copy_upm_view_meta (out, views[i]);
  g_free (views);
}

static GstBuffer *
gst_upm_head_task_score (GstUpmHeadTask *task, GstBuffer *in,
    const GstUpmHeadClipSettings *clip, GstStructure **message)
{
  const UpmHParams *hp = upm_model_hparams (task->model);
  guint n = task->n_labels, k = MIN (clip->top_k, n), i;
  guint n_views = MAX (
      gst_buffer_get_size (in) / ((gsize)hp->n_embd * sizeof (gfloat)), 1);
  gfloat *logits = g_new (gfloat, n), *probs = g_new (gfloat, n);
  const gchar *name, *kind;
  GstUpmResultMeta *meta;
  GstUpmScore *scores;
  UpmScore *top;
  GstBuffer *out;
  gchar *text;
  gfloat scale
      = gst_upm_head_task_scale_value (task, in, clip->modality, &kind);
  const gchar *precision = gst_upm_head_task_encode_precision (task, in);

  gst_upm_head_task_mean_scores (task, in, n_views, scale, logits, probs);
  top = g_new (UpmScore, k);
  /* ranked by the mean probability (by the logit for one view) */
  upm_top_k (probs, probs, n, k, top);
  for (i = 0; i < k; i++)
    top[i].logit = logits[top[i].index];

  scores = g_new0 (GstUpmScore, k);
  for (i = 0; i < k; i++)
    {
      scores[i].label = task->labels[top[i].index];
      scores[i].index = top[i].index;
      scores[i].logit = top[i].logit;
      scores[i].prob = top[i].prob;
    }

  text = gst_upm_head_score_text (&scores[0], clip->format);
  out = gst_upm_head_text_buffer (text, in);
  g_free (text);

  if (task->task == GST_UPM_TASK_RETRIEVE)
    name = "retrieve";
  else if (clip->modality != NULL && g_str_equal (clip->modality, "text"))
    name = "text-classify";
  else
    name = "classify";
  meta = gst_buffer_add_upm_result_meta (
      out, name, GST_BUFFER_PTS (in), GST_BUFFER_DURATION (in), scores, k);
  if (meta != NULL)
    {
      if (kind != NULL)
        gst_upm_result_meta_set_score_kind (meta, kind);
      gst_upm_result_meta_set_preset (meta, gst_upm_head_task_preset (task));
      gst_upm_result_meta_set_precision (meta, precision);
    }
  gst_upm_head_copy_routing (out, in, NULL);
  gst_upm_head_task_copy_views (out, in);
  if (clip->format == GST_UPM_HEAD_TEXT_FORMAT_JSON)
    out = gst_upm_head_to_json (out);

  *message = gst_upm_head_scores_message (clip->segment, name, in, scores, k);
  gst_structure_set (*message, "views", G_TYPE_UINT, n_views, "precision",
      G_TYPE_STRING, precision, NULL);
  if (kind != NULL)
    gst_structure_set (*message, "score-kind", G_TYPE_STRING, kind, NULL);
  gst_upm_head_task_message_preset (task, *message);

  g_free (scores);
  g_free (top);
  g_free (probs);
  g_free (logits);
  return out;
}

static GstBuffer *
gst_upm_head_task_caption (GstUpmHeadTask *task, GstElement *element,
    GstBuffer *in, const GstUpmHeadClipSettings *clip, GstStructure **message)
{
  GstUpmPrefixMemory *pm = gst_buffer_peek_upm_prefix_memory (in);
  gboolean with_routing = gst_buffer_get_upm_routing_meta (in) != NULL;
  UpmCaptionParams params = task->caption_params;
  UpmCaption caption;
  UpmRouting routing;
  GstUpmCaptionMeta *cmeta;
  GError *err = NULL;
  const gchar *precision;
  GstBuffer *out;

  if (pm->model != task->model)
    {
      GST_ELEMENT_ERROR (element, STREAM, FAILED,
          ("The caption prefix was made with another model (\"%s\") than "
           "upmhead's (\"%s\").",
              upm_model_path (pm->model), upm_model_path (task->model)),
          ("give upmtransformer and upmhead the same model"));
      return NULL;
    }

  params.cancel = clip->cancel;
  upm_routing_init (&routing);
  if (!upm_caption_decode (task->ctx, pm->prefix, &params, &caption,
          with_routing ? &routing : NULL, &err))
    {
      if (g_error_matches (err, UPM_ERROR, UPM_ERROR_CANCELLED))
        {
          /* flushing or stopping: no result for this clip, no error */
          GST_DEBUG_OBJECT (element,
              "caption of the clip at %" GST_TIME_FORMAT " cancelled",
              GST_TIME_ARGS (GST_BUFFER_PTS (in)));
          g_clear_error (&err);
          upm_routing_clear (&routing);
          return NULL;
        }
      GST_ELEMENT_ERROR (element, STREAM, FAILED,
          ("Could not decode the caption of the clip at %" GST_TIME_FORMAT ".",
              GST_TIME_ARGS (GST_BUFFER_PTS (in))),
          ("%s", err ? err->message : "unknown error"));
      g_clear_error (&err);
      upm_routing_clear (&routing);
      return NULL;
    }

  precision = upm_precision_name (upm_context_precision (task->ctx));
  out = gst_upm_head_text_buffer (caption.text, in);
  cmeta = gst_buffer_add_upm_caption_meta (out,
      caption.text ? caption.text : "", caption.ids, caption.n_ids,
      caption.score, GST_BUFFER_PTS (in), GST_BUFFER_DURATION (in));
  if (cmeta != NULL)
    {
      gst_upm_caption_meta_set_preset (cmeta, gst_upm_head_task_preset (task));
      gst_upm_caption_meta_set_precision (cmeta, precision);
    }
  gst_upm_head_copy_routing (out, in, with_routing ? &routing : NULL);
  gst_upm_head_task_copy_views (out, in);
  upm_routing_clear (&routing);
  if (clip->format == GST_UPM_HEAD_TEXT_FORMAT_JSON)
    out = gst_upm_head_to_json (out);

  *message = gst_upm_head_caption_message (clip->segment, in, &caption);
  gst_upm_head_task_message_preset (task, *message);
  gst_structure_set (*message, "precision", G_TYPE_STRING, precision,
      "encode-precision", G_TYPE_STRING,
      gst_upm_head_task_encode_precision (task, in), NULL);

  GST_DEBUG_OBJECT (element, "caption at %" GST_TIME_FORMAT ": \"%s\"",
      GST_TIME_ARGS (GST_BUFFER_PTS (in)), GST_STR_NULL (caption.text));
  upm_caption_clear (&caption);
  return out;
}

GstBuffer *
gst_upm_head_task_run (GstUpmHeadTask *task, GstElement *element, GstBuffer *in,
    const GstUpmHeadClipSettings *clip, GstStructure **message)
{
  /* The context is the worker's: its batch wait changes here. */
  if (upm_context_get_batch_wait (task->ctx) != clip->batch_wait_us)
    upm_context_set_batch_wait (task->ctx, clip->batch_wait_us);
  upm_context_set_precision (task->ctx, clip->precision);
  if (task->task == GST_UPM_TASK_CAPTION)
    return gst_upm_head_task_caption (task, element, in, clip, message);
  return gst_upm_head_task_score (task, in, clip, message);
}
