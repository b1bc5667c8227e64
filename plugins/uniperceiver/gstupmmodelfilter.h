/* gstupmmodelfilter.h: the base of the GstBaseTransform elements that run
 * the shared model (upmencoder, upmtransformer).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_MODEL_FILTER_H__
#define __GST_UPM_MODEL_FILTER_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include "upm.h"

G_BEGIN_DECLS

/* A GstBaseTransform with a GstUpmModelSlot: the 'model' property, the
 * model's GstContext (CONTEXT queries on both pads) and loading it in
 * change_state, and the 'precision' property. Subclasses make what they derive
 * from the model in
 * @opened and drop it in @closing; they chain up to the query and
 * change_state vfuncs when they override them. */
#define GST_TYPE_UPM_MODEL_FILTER (gst_upm_model_filter_get_type ())
G_DECLARE_DERIVABLE_TYPE (GstUpmModelFilter, gst_upm_model_filter, GST,
    UPM_MODEL_FILTER, GstBaseTransform)

struct _GstUpmModelFilterClass
{
  GstBaseTransformClass parent_class;

  /* after loading @model (READY and above): FALSE with an error posted
   * fails the state change */
  gboolean (*opened) (GstUpmModelFilter *filter, UpmModel *model);
  /* before the model is released */
  void (*closing) (GstUpmModelFilter *filter);
};

/* For the subclasses' transform_caps: @out (taken), limited to the template
 * of the pad opposite @direction, then to @filter (may be NULL); logs what
 * @caps became. */
GstCaps *gst_upm_model_filter_finish_caps (GstUpmModelFilter *self,
    GstPadDirection direction, GstCaps *caps, GstCaps *out, GstCaps *filter);

/* The precision property (GST_OBJECT_LOCK inside): what the subclass sets
 * on its context before each buffer. */
UpmPrecision gst_upm_model_filter_get_precision (GstUpmModelFilter *self);

G_END_DECLS
#endif /* __GST_UPM_MODEL_FILTER_H__ */
