/* upm-model-prompt.c: the tensors and keys of a prompt-tuned model file
 * (docs/model-format.md, "Prompt-tuned models"): loading and validation,
 * and the public accessors.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The key uniperceiver.prompt.length marks a prompt-tuned file. Then every
 * layer has blk.N.prompt [P, D] (and blk.N.prompt_target when
 * uniperceiver.prompt.shared_target is false), the file has spe_bias [D],
 * and optionally the classification head cls_prompt.{weight [C, D],
 * bias [C], similarity_weight [1]} with uniperceiver.prompt.labels (C
 * strings). A file without the key must have none of these tensors. The
 * tuned LayerNorms replace the base ones under their usual names, so
 * nothing else changes. Uses the GGUF reader and the model struct only.
 */
#include "upm-model.h"

#include <math.h>
#include <string.h>

#define MAX_PROMPT 4096u

static const char *const prompt_tasks[]
    = { "classify", "caption", "retrieval" };

static gboolean prompt_fail (UpmModel *m, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
prompt_fail (UpmModel *m, GError **error, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, UPM_ERROR, UPM_ERROR_MODEL, "%s: %s", m->path, msg);
  return FALSE;
}

/* An F32 tensor of PyTorch shape [d0] or [d0, d1] (d1 0: 1-D). */
static const float *
req (UpmModel *m, const char *name, uint64_t d0, uint64_t d1, GError **error)
{
  const uint64_t dims[2] = { d0, d1 };
  const UpmTensor *t = upm_gguf_require_tensor (
      m->gguf, name, UPM_DTYPE_F32, d1 ? 2 : 1, dims, error);

  return t ? t->data : NULL;
}

/* The name of a prompt tensor in a file that is not prompt-tuned, or
 * NULL. */
static const char *
stray_prompt_tensor (const UpmModel *m)
{
  for (guint i = 0; i < upm_gguf_n_tensors (m->gguf); i++)
    {
      const char *name = upm_gguf_tensor (m->gguf, i)->name;
      if (g_str_has_suffix (name, ".prompt")
          || g_str_has_suffix (name, ".prompt_target")
          || strcmp (name, "spe_bias") == 0
          || g_str_has_prefix (name, "cls_prompt."))
        return name;
    }
  return NULL;
}

static gboolean
load_prompt_keys (UpmModel *m, GError **error)
{
  UpmPromptWeights *p = &m->prompt;
  gboolean known = FALSE;

  if (!upm_gguf_get_u32 (
          m->gguf, "uniperceiver.prompt.length", &p->length, error)
      || !upm_gguf_get_bool (m->gguf, "uniperceiver.prompt.shared_target",
          &p->shared_target, error))
    return FALSE;
  if (p->length < 1 || p->length > MAX_PROMPT)
    return prompt_fail (m, error,
        "uniperceiver.prompt.length %u is outside 1..%u", p->length,
        MAX_PROMPT);
  p->task = upm_gguf_get_string (m->gguf, "uniperceiver.prompt.task", error);
  if (!p->task)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (prompt_tasks); i++)
    known = known || strcmp (p->task, prompt_tasks[i]) == 0;
  if (!known)
    return prompt_fail (m, error,
        "uniperceiver.prompt.task '%s' is not classify, caption or retrieval",
        p->task);
  return TRUE;
}

static gboolean
load_layer_prompts (UpmModel *m, GError **error)
{
  const uint32_t P = m->prompt.length, D = m->hp.n_embd;
  char name[96];

  for (guint l = 0; l < m->hp.n_layer; l++)
    {
      UpmLayer *L = &m->layers[l];
      g_snprintf (name, sizeof name, "blk.%u.prompt", l);
      if (!(L->prompt = req (m, name, P, D, error)))
        return FALSE;
      L->prompt_target = L->prompt;
      g_snprintf (name, sizeof name, "blk.%u.prompt_target", l);
      if (m->prompt.shared_target)
        {
          if (upm_gguf_find_tensor (m->gguf, name))
            return prompt_fail (m, error,
                "tensor '%s' is present but uniperceiver.prompt.shared_target "
                "is true",
                name);
          continue;
        }
      if (!(L->prompt_target = req (m, name, P, D, error)))
        return FALSE;
    }
  return TRUE;
}

/* cls_prompt.*: C from the weight's rows, then every part and the labels
 * checked against it. */
static gboolean
load_cls_prompt (UpmModel *m, GError **error)
{
  UpmPromptWeights *p = &m->prompt;
  const UpmTensor *w = upm_gguf_find_tensor (m->gguf, "cls_prompt.weight");
  const float *sw;
  guint n_labels = 0;

  if (!w)
    {
      if (upm_gguf_find_kv (m->gguf, "uniperceiver.prompt.labels"))
        return prompt_fail (m, error,
            "uniperceiver.prompt.labels is present but tensor "
            "'cls_prompt.weight' is missing");
      return TRUE;
    }
  if (strcmp (p->task, "classify") != 0)
    return prompt_fail (m, error,
        "tensor 'cls_prompt.weight' (a classification head) in a model tuned "
        "for %s",
        p->task);
  if (w->n_dims != 2 || w->ne[1] < 1 || w->ne[1] > UINT32_MAX)
    return prompt_fail (
        m, error, "tensor 'cls_prompt.weight' must be [classes, D]");
  p->n_classes = (uint32_t)w->ne[1];
  if (!(p->cls_w
          = req (m, "cls_prompt.weight", p->n_classes, m->hp.n_embd, error))
      || !(p->cls_b = req (m, "cls_prompt.bias", p->n_classes, 0, error))
      || !(sw = req (m, "cls_prompt.similarity_weight", 1, 0, error)))
    return FALSE;
  if (!isfinite (sw[0]))
    return prompt_fail (
        m, error, "tensor 'cls_prompt.similarity_weight' is not finite");
  p->similarity_weight = sw[0];
  p->labels = upm_gguf_get_strv (
      m->gguf, "uniperceiver.prompt.labels", &n_labels, error);
  if (!p->labels)
    return FALSE;
  if (n_labels != p->n_classes)
    return prompt_fail (m, error,
        "uniperceiver.prompt.labels has %u labels but tensor "
        "'cls_prompt.weight' has %u classes",
        n_labels, p->n_classes);
  for (guint i = 0; i < n_labels; i++)
    if (!*g_strstrip (p->labels[i]))
      return prompt_fail (
          m, error, "uniperceiver.prompt.labels: label %u is empty", i);
  return TRUE;
}

gboolean
upm_model_load_prompt (UpmModel *m, GError **error)
{
  const char *stray;

  if (!upm_gguf_find_kv (m->gguf, "uniperceiver.prompt.length"))
    {
      stray = stray_prompt_tensor (m);
      if (stray)
        return prompt_fail (m, error,
            "tensor '%s' belongs to a prompt-tuned model but "
            "uniperceiver.prompt.length is missing",
            stray);
      return TRUE;
    }
  return load_prompt_keys (m, error) && load_layer_prompts (m, error)
         && (m->prompt.spe_bias = req (m, "spe_bias", m->hp.n_embd, 0, error))
         && load_cls_prompt (m, error);
}

void
upm_model_prompt_clear (UpmModel *m)
{
  g_clear_pointer (&m->prompt.task, g_free);
  g_clear_pointer (&m->prompt.labels, g_strfreev);
}

/* -------------------------------------------------------------- accessors */

uint32_t
upm_model_prompt_length (const UpmModel *model)
{
  return model->prompt.length;
}

const char *
upm_model_prompt_task (const UpmModel *model)
{
  return model->prompt.task;
}

gboolean
upm_model_prompt_shared_target (const UpmModel *model)
{
  return model->prompt.length == 0 || model->prompt.shared_target;
}

const char *const *
upm_model_prompt_labels (const UpmModel *model, guint *n_labels)
{
  if (n_labels)
    *n_labels = model->prompt.labels ? model->prompt.n_classes : 0;
  return (const char *const *)model->prompt.labels;
}

float
upm_model_prompt_similarity_weight (const UpmModel *model)
{
  return model->prompt.cls_w ? model->prompt.similarity_weight : 1.0f;
}
