/* gstupmmodelfilter.c: the base of the GstBaseTransform elements that run
 * the shared model (upmencoder, upmtransformer).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmmodelfilter.h"
#include "gstupmcommon.h"
#include "gstupmenum.h"

GST_DEBUG_CATEGORY_STATIC (gst_upm_model_filter_debug);
#define GST_CAT_DEFAULT gst_upm_model_filter_debug

typedef struct
{
  GstUpmModelSlot slot;
  UpmPrecision precision; /* GST_OBJECT_LOCK */
} GstUpmModelFilterPrivate;

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_PRECISION,
};

#define gst_upm_model_filter_parent_class parent_class
G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (
    GstUpmModelFilter, gst_upm_model_filter, GST_TYPE_BASE_TRANSFORM);

static GstUpmModelSlot *
model_slot (gpointer filter)
{
  GstUpmModelFilterPrivate *priv = gst_upm_model_filter_get_instance_private (
      GST_UPM_MODEL_FILTER (filter));

  return &priv->slot;
}

static gboolean
gst_upm_model_filter_opened (GstElement *element, UpmModel *model)
{
  GstUpmModelFilterClass *klass = GST_UPM_MODEL_FILTER_GET_CLASS (element);

  return klass->opened == NULL
         || klass->opened (GST_UPM_MODEL_FILTER (element), model);
}

static void
gst_upm_model_filter_closing (GstElement *element)
{
  GstUpmModelFilterClass *klass = GST_UPM_MODEL_FILTER_GET_CLASS (element);

  if (klass->closing != NULL)
    klass->closing (GST_UPM_MODEL_FILTER (element));
}

GstCaps *
gst_upm_model_filter_finish_caps (GstUpmModelFilter *self,
    GstPadDirection direction, GstCaps *caps, GstCaps *out, GstCaps *filter)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  GstCaps *templ, *res;

  templ = gst_pad_get_pad_template_caps (
      direction == GST_PAD_SINK ? GST_BASE_TRANSFORM_SRC_PAD (trans)
                                : GST_BASE_TRANSFORM_SINK_PAD (trans));
  res = gst_caps_intersect_full (out, templ, GST_CAPS_INTERSECT_FIRST);
  gst_caps_unref (templ);
  gst_caps_unref (out);
  res = gst_upm_caps_filter (res, filter);
  GST_DEBUG_OBJECT (self, "%s caps %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT,
      direction == GST_PAD_SINK ? "sink" : "src", caps, res);
  return res;
}

/* Answers CONTEXT queries for the shared model, so that neighbours find it. */
static gboolean
gst_upm_model_filter_query (
    GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  if (gst_upm_model_slot_context_query (
          model_slot (trans), GST_ELEMENT (trans), query))
    return TRUE;
  return GST_BASE_TRANSFORM_CLASS (parent_class)
      ->query (trans, direction, query);
}

static GstStateChangeReturn
gst_upm_model_filter_change_state (
    GstElement *element, GstStateChange transition)
{
  return gst_upm_model_slot_change_state (model_slot (element), element,
      transition, GST_ELEMENT_CLASS (parent_class));
}

UpmPrecision
gst_upm_model_filter_get_precision (GstUpmModelFilter *self)
{
  GstUpmModelFilterPrivate *priv
      = gst_upm_model_filter_get_instance_private (self);
  UpmPrecision precision;

  GST_OBJECT_LOCK (self);
  precision = priv->precision;
  GST_OBJECT_UNLOCK (self);
  return precision;
}

static void
gst_upm_model_filter_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstUpmModelFilterPrivate *priv = gst_upm_model_filter_get_instance_private (
      GST_UPM_MODEL_FILTER (object));

  if (prop_id == PROP_PRECISION)
    {
      GST_OBJECT_LOCK (object);
      priv->precision = (UpmPrecision)g_value_get_enum (value);
      GST_OBJECT_UNLOCK (object);
      return;
    }
  if (!gst_upm_model_slot_set_property (
          model_slot (object), object, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_upm_model_filter_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstUpmModelFilterPrivate *priv = gst_upm_model_filter_get_instance_private (
      GST_UPM_MODEL_FILTER (object));

  if (prop_id == PROP_PRECISION)
    {
      GST_OBJECT_LOCK (object);
      g_value_set_enum (value, priv->precision);
      GST_OBJECT_UNLOCK (object);
      return;
    }
  if (!gst_upm_model_slot_get_property (
          model_slot (object), object, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_upm_model_filter_finalize (GObject *object)
{
  gst_upm_model_slot_clear (model_slot (object), GST_ELEMENT (object));
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_upm_model_filter_class_init (GstUpmModelFilterClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_upm_model_filter_debug, "upmmodelfilter", 0,
      "uniperceiver elements that run the model");

  gobject_class->set_property = gst_upm_model_filter_set_property;
  gobject_class->get_property = gst_upm_model_filter_get_property;
  gobject_class->finalize = gst_upm_model_filter_finalize;

  /**
   * GstUpmModelFilter:model:
   *
   * The Uni-Perceiver model file; NULL for the bundled default. Elements
   * of a pipeline that name the same file share one loaded model.
   */
  g_object_class_install_property (
      gobject_class, PROP_MODEL, gst_upm_model_param_spec (NULL));
  /**
   * GstUpmModelFilter:precision:
   *
   * The arithmetic of the model's linear layers: auto (UPM_PRECISION,
   * else the library's choice for this CPU), fp32, bf16, ... Takes
   * effect at the next buffer; the routing meta records what was used.
   */
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      gst_upm_precision_param_spec (
          "Engine precision of the linear layers (auto: UPM_PRECISION, else "
          "the library's choice for this CPU); the routing meta records "
          "the one used"));

  element_class->change_state
      = GST_DEBUG_FUNCPTR (gst_upm_model_filter_change_state);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_upm_model_filter_query);

  gst_type_mark_as_plugin_api (GST_TYPE_UPM_MODEL_FILTER, 0);
}

static void
gst_upm_model_filter_init (GstUpmModelFilter *filter)
{
  GstUpmModelFilterPrivate *priv
      = gst_upm_model_filter_get_instance_private (filter);

  priv->precision = UPM_PRECISION_AUTO;
  gst_upm_model_slot_init (model_slot (filter), PROP_MODEL,
      gst_upm_model_filter_opened, gst_upm_model_filter_closing);
}
