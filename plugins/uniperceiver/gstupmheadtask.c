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

GST_DEBUG_CATEGORY_EXTERN (gst_upm_head_debug);
#define GST_CAT_DEFAULT gst_upm_head_debug

/* ------------------------------------------------------------- prepare */

static void
gst_upm_head_task_clear (GstUpmHeadTask *task)
{
  g_clear_pointer (&task->labels, g_strfreev);
  g_clear_pointer (&task->label_features, g_free);
  task->n_labels = 0;
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
  GError *err = NULL;

  if (settings->max_length > hp->n_text_ctx)
    {
      GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
          ("max-length %u is longer than the text context of the model "
           "\"%s\" (%u tokens).",
              settings->max_length, upm_model_path (task->model),
              hp->n_text_ctx),
          ("set max-length to 0 (model default, %u) .. %u",
              hp->caption_max_length, hp->n_text_ctx));
      return FALSE;
    }
  task->caption_params.beam_size = settings->beam_size;
  task->caption_params.max_length = settings->max_length;
  task->caption_params.length_penalty = -1.0f;
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
  GError *err = NULL;

  task->labels = gst_upm_head_resolve_labels (element, task->model, task->task,
      settings->labels, settings->labels_file, &task->n_labels);
  if (task->labels == NULL)
    return FALSE;

  task->label_features = g_new (gfloat, (gsize)task->n_labels * hp->n_embd);
  if (!upm_model_text_features (task->model, (const char *const *)task->labels,
          task->n_labels,
          task->task == GST_UPM_TASK_RETRIEVE ? UPM_ATTR_RETRIEVAL_TARGET
                                              : UPM_ATTR_CLS_TARGET,
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
  if (task->task == GST_UPM_TASK_CAPTION)
    return gst_upm_head_task_prepare_caption (task, element, settings);
  return gst_upm_head_task_prepare_labels (task, element, settings);
}

/* ------------------------------------------------------------ per clip */

static UpmScale
gst_upm_head_task_scale (
    GstUpmHeadTask *task, GstBuffer *in, const gchar *modality)
{
  GstCustomMeta *clip;
  guint frames = 0;

  if (task->task == GST_UPM_TASK_RETRIEVE)
    return UPM_SCALE_RETRIEVE;
  if (modality == NULL || !g_str_equal (modality, "video"))
    return UPM_SCALE_IMG_CLS;
  clip = gst_buffer_get_custom_meta (in, GST_UPM_CLIP_META_NAME);
  if (clip != NULL
      && gst_structure_get_uint (
          gst_custom_meta_get_structure (clip), "frames", &frames)
      && frames == 1)
    return UPM_SCALE_IMG_CLS;
  return UPM_SCALE_VIDEO_CLS;
}

static GstBuffer *
gst_upm_head_task_score (GstUpmHeadTask *task, GstBuffer *in,
    const GstUpmHeadClipSettings *clip, GstStructure **message)
{
  const UpmHParams *hp = upm_model_hparams (task->model);
  guint n = task->n_labels, k = MIN (clip->top_k, n), i;
  gfloat *feature = g_new (gfloat, hp->n_embd);
  gfloat *logits = g_new (gfloat, n), *probs = g_new (gfloat, n);
  const gchar *name;
  GstUpmScore *scores;
  UpmScore *top;
  GstBuffer *out;
  GstMapInfo map;
  gchar *text;

  gst_buffer_map (in, &map, GST_MAP_READ);
  upm_feature_from_hidden (task->ctx, (const gfloat *)map.data, feature);
  gst_buffer_unmap (in, &map);
  upm_classify (hp, feature, task->label_features, n,
      upm_model_logit_scale (
          task->model, gst_upm_head_task_scale (task, in, clip->modality)),
      logits, probs);
  top = g_new (UpmScore, k);
  upm_top_k (logits, probs, n, k, top);

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
  gst_buffer_add_upm_result_meta (
      out, name, GST_BUFFER_PTS (in), GST_BUFFER_DURATION (in), scores, k);
  gst_upm_head_copy_routing (out, in, NULL);
  if (clip->format == GST_UPM_HEAD_TEXT_FORMAT_JSON)
    out = gst_upm_head_to_json (out);

  *message = gst_upm_head_scores_message (clip->segment, name, in, scores, k);

  g_free (scores);
  g_free (top);
  g_free (probs);
  g_free (logits);
  g_free (feature);
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
  GError *err = NULL;
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

  out = gst_upm_head_text_buffer (caption.text, in);
  gst_buffer_add_upm_caption_meta (out, caption.text ? caption.text : "",
      caption.ids, caption.n_ids, caption.score, GST_BUFFER_PTS (in),
      GST_BUFFER_DURATION (in));
  gst_upm_head_copy_routing (out, in, with_routing ? &routing : NULL);
  upm_routing_clear (&routing);
  if (clip->format == GST_UPM_HEAD_TEXT_FORMAT_JSON)
    out = gst_upm_head_to_json (out);

  *message = gst_upm_head_caption_message (clip->segment, in, &caption);

  GST_DEBUG_OBJECT (element, "caption at %" GST_TIME_FORMAT ": \"%s\"",
      GST_TIME_ARGS (GST_BUFFER_PTS (in)), GST_STR_NULL (caption.text));
  upm_caption_clear (&caption);
  return out;
}

GstBuffer *
gst_upm_head_task_run (GstUpmHeadTask *task, GstElement *element, GstBuffer *in,
    const GstUpmHeadClipSettings *clip, GstStructure **message)
{
  if (task->task == GST_UPM_TASK_CAPTION)
    return gst_upm_head_task_caption (task, element, in, clip, message);
  return gst_upm_head_task_score (task, in, clip, message);
}
