/* upm-spec.c: the names of the model spec's enumerations (attribute rows,
 * routing levels, logit scales) and what derives from an attribute row
 * (its modality and task), as model files and docs/model-format.md spell
 * them. Declared in upm.h.
 *
 * Uses: nothing (GLib types only).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm.h"

static const char *const attr_names[UPM_N_ATTRS] = {
  "cls_input",
  "retrieval_input",
  "retrieval_target",
  "caption_prefix",
  "caption_text",
  "text_input",
  "cls_target",
  "vocab_target",
};

static const char *const scale_names[UPM_N_SCALES] = {
  "img_cls",
  "video_cls",
  "text_mlm",
  "text_caption",
  "caption",
  "mlm",
  "retrieve",
  "tqa_mlm",
  "tqa_caption",
  "tqa_retrieve",
  "downstream",
};

static const char *const routing_names[UPM_N_ROUTING_LEVELS] = {
  "attribute",
  "token",
  "context",
  "modality",
  "task",
};

const char *
upm_attr_name (UpmAttr attr)
{
  return (guint)attr < UPM_N_ATTRS ? attr_names[attr] : NULL;
}

const char *
upm_routing_level_name (UpmRoutingLevel level)
{
  return (guint)level < UPM_N_ROUTING_LEVELS ? routing_names[level] : NULL;
}

gboolean
upm_routing_level_is_dynamic (UpmRoutingLevel level)
{
  return level == UPM_ROUTING_TOKEN || level == UPM_ROUTING_CONTEXT;
}

UpmModality
upm_attr_modality (UpmAttr attr)
{
  switch (attr)
    {
    case UPM_ATTR_CLS_INPUT:
    case UPM_ATTR_RETRIEVAL_INPUT:
    case UPM_ATTR_CAPTION_PREFIX:
      return UPM_MODALITY_VISUAL;
    default:
      return UPM_MODALITY_TEXT;
    }
}

UpmTask
upm_attr_task (UpmAttr attr)
{
  switch (attr)
    {
    case UPM_ATTR_CLS_INPUT:
    case UPM_ATTR_CLS_TARGET:
      return UPM_TASK_CLASSIFICATION;
    case UPM_ATTR_RETRIEVAL_INPUT:
    case UPM_ATTR_RETRIEVAL_TARGET:
      return UPM_TASK_RETRIEVAL;
    case UPM_ATTR_TEXT_INPUT:
      return UPM_TASK_TEXT;
    default:
      return UPM_TASK_CAPTION;
    }
}

const char *
upm_scale_name (UpmScale scale)
{
  return (guint)scale < UPM_N_SCALES ? scale_names[scale] : NULL;
}
