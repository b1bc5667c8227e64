/* upm-preset.c: task presets, the official evaluation settings of each
 * benchmark as one named choice (docs/official-settings.md cites the
 * official code for every number).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Layer: above the model (reads its hyper-parameters and its list of
 * suited presets), below everything that samples clips (the CLI, the
 * tokenizer, the head).
 */

#include "upm-private.h"

#include <string.h>

/* The zero-shot configs decode captions with beam 2, at most 21 tokens,
 * and a length penalty of 2 applied once at the end. */
#define CAPTION_BEAM 2
#define CAPTION_MAX_LENGTH 21
#define CAPTION_LENGTH_PENALTY 2.0f

#define IMAGE_PRESET(name_, summary_, task_, ratio_, scale_)                   \
  {                                                                            \
    .name = name_, .summary = summary_, .task = task_, .image = TRUE,          \
    .frames = 1, .views = 1, .crops = UPM_CROPS_CENTRE,                        \
    .resize_ratio = ratio_, .norm = UPM_NORM_IMAGE, .scale = scale_,           \
    .text_max_length = 30, .beam_size = CAPTION_BEAM,                          \
    .max_length = CAPTION_MAX_LENGTH,                                          \
    .length_penalty = CAPTION_LENGTH_PENALTY,                                  \
  }

#define MSVD_PRESET(name_, summary_, task_, scale_, text_len_)                 \
  {                                                                            \
    .name = name_, .summary = summary_, .task = task_, .frames = 4,            \
    .stride = 32, .views = 1, .crops = UPM_CROPS_CENTRE_SHORT_SIDE,            \
    .norm = UPM_NORM_VIDEO, .scale = scale_, .text_max_length = text_len_,     \
    .beam_size = CAPTION_BEAM, .max_length = CAPTION_MAX_LENGTH,               \
    .length_penalty = CAPTION_LENGTH_PENALTY,                                  \
  }

static const UpmPreset presets[] = {
  {
      .name = "default",
      .summary = "the model's clip length over consecutive decoded frames, "
                 "one centre crop, the model's caption settings",
      .task = UPM_N_TASKS,
      .views = 1,
      .crops = UPM_CROPS_CENTRE,
      .norm = UPM_NORM_VIDEO,
      .scale = UPM_SCALE_VIDEO_CLS,
      .length_penalty = -1.0f,
  },
  {
      .name = "k400",
      .summary = "Kinetics-400: 8 frames x 4 interleaved views (32 at "
                 "stride 8) x 3 crops, softmax averaged over the 12 views",
      .task = UPM_TASK_CLASSIFICATION,
      .frames = 8,
      .stride = 8,
      .views = 4,
      .crops = UPM_CROPS_THREE,
      .norm = UPM_NORM_VIDEO,
      .scale = UPM_SCALE_VIDEO_CLS,
      .length_penalty = -1.0f,
  },
  MSVD_PRESET ("msvd-caption",
      "MSVD captioning: 4 frames at stride 32, centre crop, beam 2, 21 "
      "tokens, length penalty 2",
      UPM_TASK_CAPTION, UPM_SCALE_CAPTION, 0),
  MSVD_PRESET ("msvd-retrieval",
      "MSVD retrieval: 4 frames at stride 32, centre crop, texts up to 77 "
      "tokens, cosine score",
      UPM_TASK_RETRIEVAL, UPM_SCALE_RETRIEVE, 77),
  IMAGE_PRESET ("imagenet",
      "ImageNet-1k: shorter side 256 (bicubic), centre crop 224, ImageNet "
      "mean/std",
      UPM_TASK_CLASSIFICATION, 256.0 / 224.0, UPM_SCALE_IMG_CLS),
  IMAGE_PRESET ("coco-caption",
      "COCO captioning: resize 224 (bicubic), centre crop, beam 2, 21 "
      "tokens, length penalty 2",
      UPM_TASK_CAPTION, 0.0, UPM_SCALE_CAPTION),
  IMAGE_PRESET ("coco-retrieval",
      "COCO retrieval: resize 224 (bicubic), centre crop, cosine score",
      UPM_TASK_RETRIEVAL, 0.0, UPM_SCALE_RETRIEVE),
  IMAGE_PRESET ("flickr30k-caption",
      "Flickr30k captioning: resize 224 (bicubic), centre crop, beam 2, "
      "21 tokens, length penalty 2",
      UPM_TASK_CAPTION, 0.0, UPM_SCALE_CAPTION),
  IMAGE_PRESET ("flickr30k-retrieval",
      "Flickr30k retrieval: resize 224 (bicubic), centre crop, cosine score",
      UPM_TASK_RETRIEVAL, 0.0, UPM_SCALE_RETRIEVE),
};

guint
upm_n_presets (void)
{
  return G_N_ELEMENTS (presets);
}

const UpmPreset *
upm_preset_get (guint index)
{
  return index < G_N_ELEMENTS (presets) ? &presets[index] : NULL;
}

char *
upm_preset_names (void)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", presets[i].name);
  return g_string_free (s, FALSE);
}

const UpmPreset *
upm_preset_lookup (const char *name, GError **error)
{
  g_autofree char *names = NULL;

  for (guint i = 0; name && i < G_N_ELEMENTS (presets); i++)
    if (strcmp (presets[i].name, name) == 0)
      return &presets[i];
  names = upm_preset_names ();
  g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
      "unknown preset \"%s\" (presets: %s)", name ? name : "(null)", names);
  return NULL;
}

uint32_t
upm_preset_n_views (const UpmPreset *preset)
{
  return MAX (preset->views, 1u) * upm_crops_count (preset->crops);
}

static uint32_t
preset_frames (const UpmPreset *preset, const UpmHParams *hp)
{
  return preset->frames ? preset->frames : hp->clip_frames;
}

uint32_t
upm_preset_n_samples (const UpmPreset *preset, const UpmHParams *hp)
{
  return preset_frames (preset, hp) * MAX (preset->views, 1u);
}

void
upm_preset_view_times (
    const UpmPreset *preset, const UpmHParams *hp, uint32_t view, double *times)
{
  const uint32_t views = MAX (preset->views, 1u);
  const uint32_t frames = preset_frames (preset, hp);

  for (uint32_t i = 0; i < frames; i++)
    times[i] = (double)(i * views + view) * preset->stride / 30.0;
}

/* The file's own list (uniperceiver.presets), when it has one. */
static gboolean
model_lists_preset (const UpmModel *model, const char *name, GError **error)
{
  g_auto (GStrv) names = NULL;
  g_autofree char *listed = NULL;
  guint n;

  if (!upm_gguf_find_kv (model->gguf, "uniperceiver.presets"))
    return TRUE;
  names = upm_gguf_get_strv (model->gguf, "uniperceiver.presets", &n, error);
  if (names == NULL)
    return FALSE;
  if (strcmp (name, "default") == 0
      || g_strv_contains ((const char *const *)names, name))
    return TRUE;
  listed = g_strjoinv (", ", names);
  g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
      "model %s does not suit preset \"%s\" (it lists: %s)",
      upm_model_name (model), name, listed);
  return FALSE;
}

gboolean
upm_model_suits_preset (
    const UpmModel *model, const UpmPreset *preset, GError **error)
{
  const UpmHParams *hp = upm_model_hparams (model);
  const uint32_t frames = preset_frames (preset, hp);

  if (frames > hp->n_temporal)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "preset \"%s\" needs %u frames per clip; model %s has %u "
          "temporal positions",
          preset->name, frames, upm_model_name (model), hp->n_temporal);
      return FALSE;
    }
  if (preset->text_max_length > hp->n_text_ctx)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "preset \"%s\" reads texts of up to %u tokens; model %s has %u "
          "text positions",
          preset->name, preset->text_max_length, upm_model_name (model),
          hp->n_text_ctx);
      return FALSE;
    }
  return model_lists_preset (model, preset->name, error);
}
