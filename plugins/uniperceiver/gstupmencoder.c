/* gstupmencoder.c: patches or token ids -> embeddings.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-upmencoder
 * @title: upmencoder
 *
 * Turns the patch rows of a clip (application/x-upm-patches) or the token ids
 * of a text (application/x-upm-tokens) into the embedded input sequence of
 * the Uni-Perceiver transformer (application/x-upm-embeddings): row 0 is the
 * <SPE> token, then one row of D floats per patch or token. The modality is
 * carried through, timestamps and metas are kept.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=32 ! upmtokenizer ! upmencoder !
 *     upmtransformer ! upmhead task=caption ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstupmencoder.h"
#include "gstupmcommon.h"
#include "gstupmelements.h"
#include "gstupmtensor.h"

GST_DEBUG_CATEGORY_STATIC (gst_upm_encoder_debug);
#define GST_CAT_DEFAULT gst_upm_encoder_debug

#define PATCHES_NAME "application/x-upm-patches"
#define TOKENS_NAME "application/x-upm-tokens"
#define EMBEDDINGS_NAME "application/x-upm-embeddings"

struct _GstUpmEncoder
{
  GstUpmModelFilter parent;

  /* READY and above: the model the base class holds */
  UpmModel *model;

  /* model shape for caps, GST_OBJECT_LOCK; 0 while no model is loaded */
  guint dim, tokens_per_frame, patch_dim, max_frames;

  /* READY and above */
  UpmContext *ctx;

  /* negotiated, streaming thread */
  gboolean is_text;
};

static GstStaticPadTemplate sink_template
    = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_UPM_PATCHES_CAPS "; " GST_UPM_TOKENS_CAPS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_UPM_EMBEDDINGS_CAPS));

#define gst_upm_encoder_parent_class parent_class
G_DEFINE_TYPE (GstUpmEncoder, gst_upm_encoder, GST_TYPE_UPM_MODEL_FILTER);
GST_ELEMENT_REGISTER_DEFINE (
    upmencoder, "upmencoder", GST_RANK_NONE, GST_TYPE_UPM_ENCODER);

/* ----------------------------------------------------------------- model */

/* What the encoder derives from the model: a library context and the
 * shapes of its caps. */
static gboolean
gst_upm_encoder_opened (GstUpmModelFilter *filter, UpmModel *model)
{
  GstUpmEncoder *self = GST_UPM_ENCODER (filter);
  const UpmHParams *hp = upm_model_hparams (model);

  self->model = model;
  self->ctx = upm_context_new (model);

  GST_OBJECT_LOCK (self);
  self->dim = hp->n_embd;
  self->tokens_per_frame = UPM_HP_TOKENS_PER_FRAME (hp);
  self->patch_dim = UPM_HP_PATCH_DIM (hp);
  self->max_frames = hp->n_temporal;
  GST_OBJECT_UNLOCK (self);

  GST_INFO_OBJECT (self, "model %s: D %u, %u patches of %u floats per frame",
      upm_model_name (model), hp->n_embd, self->tokens_per_frame,
      self->patch_dim);
  return TRUE;
}

static void
gst_upm_encoder_closing (GstUpmModelFilter *filter)
{
  GstUpmEncoder *self = GST_UPM_ENCODER (filter);

  GST_OBJECT_LOCK (self);
  self->dim = self->tokens_per_frame = self->patch_dim = self->max_frames = 0;
  GST_OBJECT_UNLOCK (self);
  g_clear_pointer (&self->ctx, upm_context_free);
  self->model = NULL;
}

/* ------------------------------------------------------------------ caps */

static void
set_int_or_range (
    GstStructure *s, const gchar *field, guint value, gint min, gint max)
{
  if (value > 0)
    gst_structure_set (s, field, G_TYPE_INT, (gint)value, NULL);
  else
    gst_structure_set (s, field, GST_TYPE_INT_RANGE, min, max, NULL);
}

/* A structure named @name holding only the modality of @from (if any). */
static GstStructure *
structure_with_modality (const GstStructure *from, const gchar *name)
{
  GstStructure *s = gst_structure_new_empty (name);
  const GValue *modality = gst_structure_get_value (from, "modality");

  if (modality != NULL)
    gst_structure_set_value (s, "modality", modality);
  return s;
}

static GstCaps *
gst_upm_encoder_transform_caps (GstBaseTransform *trans,
    GstPadDirection direction, GstCaps *caps, GstCaps *filter)
{
  GstUpmEncoder *self = GST_UPM_ENCODER (trans);
  GstCaps *out = gst_caps_new_empty ();
  guint dim, tpf, pdim, max_frames, i;

  GST_OBJECT_LOCK (self);
  dim = self->dim;
  tpf = self->tokens_per_frame;
  pdim = self->patch_dim;
  max_frames = self->max_frames;
  GST_OBJECT_UNLOCK (self);

  for (i = 0; i < gst_caps_get_size (caps); i++)
    {
      const GstStructure *s = gst_caps_get_structure (caps, i);
      GstStructure *o;

      if (direction == GST_PAD_SINK)
        {
          /* Any patches are turned into embeddings here; whether they fit
           * the model is checked in set_caps, with a clear error. */
          if (!gst_structure_has_name (s, PATCHES_NAME)
              && !gst_structure_has_name (s, TOKENS_NAME))
            continue;
          o = structure_with_modality (s, EMBEDDINGS_NAME);
          set_int_or_range (o, "dim", dim, 1, G_MAXINT);
          out = gst_caps_merge_structure (out, o);
        }
      else
        {
          if (!gst_structure_has_name (s, EMBEDDINGS_NAME))
            continue;
          o = structure_with_modality (s, PATCHES_NAME);
          set_int_or_range (o, "frames", 0, 1, max_frames ? max_frames : 64);
          set_int_or_range (o, "tokens-per-frame", tpf, 1, G_MAXINT);
          set_int_or_range (o, "patch-dim", pdim, 1, G_MAXINT);
          out = gst_caps_merge_structure (out, o);
          o = structure_with_modality (s, TOKENS_NAME);
          out = gst_caps_merge_structure (out, o);
        }
    }

  return gst_upm_model_filter_finish_caps (
      GST_UPM_MODEL_FILTER (self), direction, caps, out, filter);
}

static gboolean
gst_upm_encoder_set_caps (
    GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstUpmEncoder *self = GST_UPM_ENCODER (trans);
  const GstStructure *s = gst_caps_get_structure (incaps, 0);
  const UpmHParams *hp;
  gint frames = 0, tpf = 0, pdim = 0;

  if (self->model == NULL)
    return FALSE;
  hp = upm_model_hparams (self->model);

  if (gst_structure_has_name (s, TOKENS_NAME))
    {
      self->is_text = TRUE;
      return TRUE;
    }

  self->is_text = FALSE;
  if (!gst_structure_get_int (s, "tokens-per-frame", &tpf)
      || !gst_structure_get_int (s, "patch-dim", &pdim)
      || !gst_structure_get_int (s, "frames", &frames))
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("Incomplete patch caps: frames, tokens-per-frame and patch-dim "
           "must be fixed."),
          ("caps %" GST_PTR_FORMAT, incaps));
      return FALSE;
    }

  if ((guint)tpf != UPM_HP_TOKENS_PER_FRAME (hp)
      || (guint)pdim != UPM_HP_PATCH_DIM (hp))
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("The patches (%d per frame, %d floats each) do not fit the model "
           "\"%s\", which takes %u patches of %u floats per frame.",
              tpf, pdim, upm_model_path (self->model),
              UPM_HP_TOKENS_PER_FRAME (hp), UPM_HP_PATCH_DIM (hp)),
          ("model image size %u, patch size %u: give upmtokenizer the same "
           "model as upmencoder",
              hp->image_size, hp->patch_size));
      return FALSE;
    }
  if ((guint)frames > hp->n_temporal)
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("Clips of %d frames are too long for the model \"%s\", which "
           "takes at most %u frames per clip.",
              frames, upm_model_path (self->model), hp->n_temporal),
          ("set clip-frames on upmtokenizer to 1..%u", hp->n_temporal));
      return FALSE;
    }

  GST_DEBUG_OBJECT (self,
      "configured for %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT, incaps,
      outcaps);
  return TRUE;
}

/* ------------------------------------------------------------ processing */

/* Rows of the output for an input of @size bytes, or 0 (error posted). */
static guint
gst_upm_encoder_rows (GstUpmEncoder *self, gsize size, guint *n_items)
{
  const UpmHParams *hp = upm_model_hparams (self->model);

  if (self->is_text)
    {
      if (size % sizeof (gint32) != 0 || size / sizeof (gint32) >= G_MAXUINT32)
        {
          GST_ELEMENT_ERROR (self, STREAM, FORMAT,
              ("Invalid token buffer of %" G_GSIZE_FORMAT " bytes.", size),
              ("a token buffer holds int32 ids"));
          return 0;
        }
      *n_items = size / sizeof (gint32);
      return 1 + *n_items;
    }
  else
    {
      gsize frame = (gsize)UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp)
                    * sizeof (gfloat);

      if (size == 0 || size % frame != 0 || size / frame > hp->n_temporal)
        {
          GST_ELEMENT_ERROR (self, STREAM, FORMAT,
              ("Invalid patch buffer of %" G_GSIZE_FORMAT " bytes.", size),
              ("a clip holds 1 to %u frames of %" G_GSIZE_FORMAT " bytes",
                  hp->n_temporal, frame));
          return 0;
        }
      *n_items = size / frame;
      return 1 + *n_items * UPM_HP_TOKENS_PER_FRAME (hp);
    }
}

static GstFlowReturn
gst_upm_encoder_prepare_output_buffer (
    GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer **outbuf)
{
  GstUpmEncoder *self = GST_UPM_ENCODER (trans);
  guint rows, n_items;

  if (self->model == NULL)
    return GST_FLOW_NOT_NEGOTIATED;
  rows = gst_upm_encoder_rows (self, gst_buffer_get_size (inbuf), &n_items);
  if (rows == 0)
    return GST_FLOW_ERROR;

  *outbuf = gst_buffer_new_allocate (NULL,
      (gsize)rows * upm_model_hparams (self->model)->n_embd * sizeof (gfloat),
      NULL);
  if (*outbuf == NULL)
    {
      GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
          ("Could not allocate embeddings of %u rows.", rows), (NULL));
      return GST_FLOW_ERROR;
    }
  if (!GST_BASE_TRANSFORM_CLASS (parent_class)
           ->copy_metadata (trans, inbuf, *outbuf))
    GST_WARNING_OBJECT (self, "could not copy metadata");
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_upm_encoder_transform (
    GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer *outbuf)
{
  GstUpmEncoder *self = GST_UPM_ENCODER (trans);
  GstMapInfo in, out;
  GError *err = NULL;
  guint n_items, rows;
  gboolean ok;

  rows = gst_upm_encoder_rows (self, gst_buffer_get_size (inbuf), &n_items);
  if (rows == 0)
    return GST_FLOW_ERROR;
  /* the embeddings stay in float today; set for what the library adds */
  upm_context_set_precision (self->ctx,
      gst_upm_model_filter_get_precision (GST_UPM_MODEL_FILTER (self)));
  if (!gst_buffer_map (inbuf, &in, GST_MAP_READ))
    goto map_failed;
  if (!gst_buffer_map (outbuf, &out, GST_MAP_WRITE))
    {
      gst_buffer_unmap (inbuf, &in);
      goto map_failed;
    }

  if (self->is_text)
    ok = upm_embed_text (
        self->ctx, (const gint32 *)in.data, n_items, (gfloat *)out.data, &err);
  else
    ok = upm_embed_patches (
        self->ctx, (const gfloat *)in.data, n_items, (gfloat *)out.data, &err);

  gst_buffer_unmap (outbuf, &out);
  gst_buffer_unmap (inbuf, &in);

  if (!ok)
    {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("Could not embed the %s.", self->is_text ? "tokens" : "patches"),
          ("%s", err->message));
      g_clear_error (&err);
      return GST_FLOW_ERROR;
    }
  gst_upm_tensor_describe (outbuf, GST_UPM_TENSOR_EMBEDDINGS, rows,
      upm_model_hparams (self->model)->n_embd);
  return GST_FLOW_OK;

map_failed:
  GST_ELEMENT_ERROR (
      self, RESOURCE, FAILED, ("Could not map a buffer."), (NULL));
  return GST_FLOW_ERROR;
}

static void
gst_upm_encoder_class_init (GstUpmEncoderClass *klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstUpmModelFilterClass *filter_class = GST_UPM_MODEL_FILTER_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_upm_encoder_debug, "upmencoder", 0,
      "Uni-Perceiver embedding of patches and tokens");

  filter_class->opened = gst_upm_encoder_opened;
  filter_class->closing = gst_upm_encoder_closing;

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Uni-Perceiver encoder",
      "Filter/Analyzer/Video",
      "Embeds the patches of a clip or the tokens of a text into the input "
      "sequence of the Uni-Perceiver transformer",
      "gst-uniperceiver authors");

  trans_class->transform_caps
      = GST_DEBUG_FUNCPTR (gst_upm_encoder_transform_caps);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_upm_encoder_set_caps);
  trans_class->prepare_output_buffer
      = GST_DEBUG_FUNCPTR (gst_upm_encoder_prepare_output_buffer);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_upm_encoder_transform);
}

static void
gst_upm_encoder_init (GstUpmEncoder *self)
{
}
