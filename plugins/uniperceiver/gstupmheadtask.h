/* gstupmheadtask.h: upmhead's calls into the library: the labels' features
 * or the caption settings of the task, then per clip the scores or the
 * caption and the text buffer carrying them.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_HEAD_TASK_H__
#define __GST_UPM_HEAD_TASK_H__

#include "gstupmcommon.h"
#include "gstupmhead.h"

G_BEGIN_DECLS

/* The task properties it is prepared from (copied under the object lock). */
typedef struct
{
  GstUpmTask task;
  const gchar *labels, *labels_file;
  guint beam_size, max_length; /* 0: the preset's, else the model's */
  gfloat length_penalty;       /* < 0: the preset's, else the model's */
  const UpmPreset *preset;     /* the scale of scores, caption settings */
} GstUpmHeadTaskSettings;

/* What one clip's output depends on besides the task. */
typedef struct
{
  GstUpmHeadTextFormat format;
  guint top_k;               /* classify, retrieve */
  const gchar *modality;     /* of the input caps */
  const GstSegment *segment; /* the output segment, for the message */
  gint *cancel;              /* caption: raised to abandon decoding */
  gint64 batch_wait_us;      /* upm_context_set_batch_wait */
  UpmPrecision precision;    /* of the head's context (caption decoding) */
} GstUpmHeadClipSettings;

typedef struct
{
  /* from gst_upm_head_task_open to _close */
  UpmModel *model; /* borrowed: the element's model slot holds it */
  UpmContext *ctx; /* used by the worker only */

  /* from _prepare, in the state changes */
  GstUpmTask task;
  const UpmPreset *preset;
  gchar **labels;
  guint n_labels;
  gfloat *label_features; /* n_labels x D */
  /* The labels are a prompt-tuned model's own: its head scores them. */
  gboolean prompt_head;
  UpmCaptionParams caption_params;
} GstUpmHeadTask;

void gst_upm_head_task_open (GstUpmHeadTask *task, UpmModel *model);
void gst_upm_head_task_close (GstUpmHeadTask *task);

/* Labels and their features, or the vocabulary features, of the task.
 * FALSE with an error posted on @element. */
gboolean gst_upm_head_task_prepare (GstUpmHeadTask *task, GstElement *element,
    const GstUpmHeadTaskSettings *settings);

/* The text buffer of clip @in with its metas (result or caption, routing,
 * views), and in @message the structure of its "upm-result" message. A
 * classify / retrieve clip may hold several views (rows of D floats, see
 * gstupmheadviews.h): the softmax of each view's scores is averaged over
 * the views (the logits too), then the top-k taken. NULL with an error
 * posted, or (caption) when decoding was cancelled. */
GstBuffer *gst_upm_head_task_run (GstUpmHeadTask *task, GstElement *element,
    GstBuffer *in, const GstUpmHeadClipSettings *clip, GstStructure **message);

G_END_DECLS
#endif /* __GST_UPM_HEAD_TASK_H__ */
