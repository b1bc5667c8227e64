/* gstupmcommon.h: what the uniperceiver elements share: caps and buffer
 * layouts, the task enum, the caption prefix memory (the shared model is
 * in gstupmmodelslot.h, included here).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Data flow and buffer layouts (all little-endian, tightly packed):
 *
 *   upmtokenizer   video/x-raw  -> application/x-upm-patches
 *                    float32 [frames][grid*grid][3*P*P], one clip per buffer,
 *                    PTS = first frame, duration = clip span
 *                  text/x-raw   -> application/x-upm-tokens
 *                    int32 token ids of one text (no <SPE>, ends with EOT)
 *   upmencoder     -> application/x-upm-embeddings
 *                    float32 [1 + n_tokens][D], row 0 = <SPE>
 *   upmtransformer -> application/x-upm-hidden (classify, retrieve)
 *                    float32 [1][D]: the final hidden state of <SPE>
 *                  -> application/x-upm-hidden(memory:UpmPrefix) (caption)
 *                    the encoded clip as the decoder reads it: every
 *                    layer's keys and values of [SPE, visual], held by
 *                    reference in one GstUpmPrefixMemory (not mappable)
 *                  + GstUpmRoutingMeta
 *   upmhead        -> text/x-raw,format=utf8 (+ result/caption/routing metas,
 *                    element message "upm-result" on the bus)
 *
 * The task travels in the caps: the head's sink caps carry task=..., and the
 * transformer picks the attribute rows (model-spec §3.3) from it.
 */
#ifndef __GST_UPM_COMMON_H__
#define __GST_UPM_COMMON_H__

#include <gst/gst.h>
#include "upm.h"
#include "upmmeta.h"
#include "gstupmmodelslot.h"
#include "gstupmenum.h"

G_BEGIN_DECLS

#define GST_UPM_PATCHES_CAPS                                                   \
  "application/x-upm-patches, "                                                \
  "modality = (string) { video, image }, "                                     \
  "frames = (int) [ 1, 64 ], "                                                 \
  "tokens-per-frame = (int) [ 1, MAX ], "                                      \
  "patch-dim = (int) [ 1, MAX ]"

#define GST_UPM_TOKENS_CAPS "application/x-upm-tokens, modality = (string) text"

#define GST_UPM_EMBEDDINGS_CAPS                                                \
  "application/x-upm-embeddings, "                                             \
  "modality = (string) { video, image, text }, "                               \
  "dim = (int) [ 1, MAX ]"

/* The caps feature of caption buffers: their one memory is a
 * GstUpmPrefixMemory, a reference to the library's encoded prefix. */
#define GST_CAPS_FEATURE_MEMORY_UPM_PREFIX "memory:UpmPrefix"

/* The transformer's output, the head's input. For classify and retrieve the
 * payload is what the media type says, in system memory: float32 [1][D],
 * the final hidden state of <SPE>. A caption is decoded from the whole
 * encoded clip, not from <SPE> alone: its payload is that clip, [SPE,
 * visual] encoded under the caption_prefix row as every layer's keys and
 * values (UpmPrefix), and the memory feature says it travels by reference
 * (zero-copy, not mappable) in one GstUpmPrefixMemory. dim is D either
 * way. */
#define GST_UPM_HIDDEN_CAPS                                                    \
  "application/x-upm-hidden, "                                                 \
  "modality = (string) { video, image, text }, "                               \
  "task = (string) { classify, retrieve }, "                                   \
  "dim = (int) [ 1, MAX ]; "                                                   \
  "application/x-upm-hidden(" GST_CAPS_FEATURE_MEMORY_UPM_PREFIX "), "         \
  "modality = (string) { video, image }, "                                     \
  "task = (string) caption, "                                                  \
  "dim = (int) [ 1, MAX ]"

/* ------------------------------------------------------------ pad queries */

/* @caps (taken) limited to @filter, which may be NULL (no limit). */
GstCaps *gst_upm_caps_filter (GstCaps *caps, GstCaps *filter);

/* The caps an element's pad can take. */
typedef GstCaps *(*GstUpmCapsFunc) (GstElement *element);

/* Answers a CAPS query with @caps_func's caps, limited to its filter. */
gboolean gst_upm_answer_caps_query (
    GstQuery *query, GstElement *element, GstUpmCapsFunc caps_func);

/* Answers a LATENCY query on a src pad: upstream's latency (asked through
 * the peer of @sinkpad) with @min_add added to its minimum and @max_add to
 * its maximum when bounded; sets @live (may be NULL) to upstream's. FALSE
 * when upstream
 * does not answer. */
gboolean gst_upm_answer_latency_query (GstQuery *query, GstElement *element,
    GstPad *sinkpad, GstClockTime min_add, GstClockTime max_add,
    gboolean *live);

/* ------------------------------------------------------------------ task */

typedef enum
{
  GST_UPM_TASK_CLASSIFY,
  GST_UPM_TASK_RETRIEVE,
  GST_UPM_TASK_CAPTION,
} GstUpmTask;

#define GST_TYPE_UPM_TASK (gst_upm_task_get_type ())
GType gst_upm_task_get_type (void);
const gchar *gst_upm_task_nick (GstUpmTask task);
gboolean gst_upm_task_from_nick (const gchar *nick, GstUpmTask *task);

/* Attribute row of the input sequence for a task and modality. */
UpmAttr gst_upm_task_input_attr (GstUpmTask task, const gchar *modality);

/* ---------------------------------------------------------------- preset */

/* The task presets of the library (upm_preset_get) as an enum: value =
 * the table index, nick = the preset's name ("default", "k400", ...), so
 * that gst-launch takes preset=k400. */
#define GST_UPM_PRESET_DEFAULT 0
#define GST_TYPE_UPM_PRESET (gst_upm_preset_get_type ())
GType gst_upm_preset_get_type (void);

/* The preset of an enum value (the default one for an unknown value). */
const UpmPreset *gst_upm_preset_from_value (gint value);

/* The task of @preset's benchmark, FALSE for the default preset (any). */
gboolean gst_upm_preset_task (const UpmPreset *preset, GstUpmTask *task);

/* Whether @model can run @preset; posts the library's reason as an element
 * error otherwise. */
gboolean gst_upm_check_preset (
    GstElement *element, UpmModel *model, const UpmPreset *preset);

/* A view meta's box of a crop box: in source and in resized pixels. */
GstUpmViewBox gst_upm_view_box (const UpmCropBox *box);

/* ------------------------------------------------------- caption prefix */

/* The memory of a caption buffer (GST_CAPS_FEATURE_MEMORY_UPM_PREFIX): a
 * reference to the encoded prefix of a clip and to the model that made it.
 * Size 0 and not mappable; copies and shares hold the same prefix (it is
 * read-only once made). */
#define GST_UPM_PREFIX_MEMORY_TYPE "UpmPrefix"

typedef struct
{
  GstMemory memory;
  UpmPrefix *prefix; /* reference owned by the memory */
  UpmModel *model;   /* reference owned by the memory */
} GstUpmPrefixMemory;

/* Takes new references to @model and @prefix. */
GstMemory *gst_upm_prefix_memory_new (UpmModel *model, UpmPrefix *prefix);
gboolean gst_is_upm_prefix_memory (GstMemory *memory);
/* The prefix memory a caption buffer carries (its only memory), or NULL. */
GstUpmPrefixMemory *gst_buffer_peek_upm_prefix_memory (GstBuffer *buffer);

/* Converts a library routing list to meta routes (segment names interned).
 * Free the array with g_free; NULL when there are none. */
GstUpmRoute *gst_upm_routes_from_library (
    const UpmRouting *routing, guint *n_routes);

/* The batch-wait property of the elements that run the model (µs): how
 * long the first of the streams of one model that are ready may wait for
 * the others, so that their clips or caption steps run as one batch
 * (upm_context_set_batch_wait; 0: off). */
#define GST_UPM_DEFAULT_BATCH_WAIT 2000
#define GST_UPM_MAX_BATCH_WAIT 1000000
GParamSpec *gst_upm_batch_wait_param_spec (void);

G_END_DECLS
#endif /* __GST_UPM_COMMON_H__ */
