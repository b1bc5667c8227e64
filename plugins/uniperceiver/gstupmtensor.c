/* gstupmtensor.c: the GstAnalytics side of the elements (see
 * gstupmtensor.h).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmtensor.h"

#ifdef UPM_HAVE_GST_ANALYTICS
#include <gst/analytics/analytics.h>

#include "upmanalytics.h"

void
gst_upm_tensor_describe (
    GstBuffer *buffer, const gchar *id, guint rows, guint dim)
{
  gsize dims[2] = { rows, dim };
  GstTensorMeta *tmeta;
  GstTensor **tensors;
  GstBuffer *data;

  g_return_if_fail (gst_buffer_is_writable (buffer));
  if (gst_buffer_get_size (buffer) != (gsize)rows * dim * sizeof (gfloat))
    return;
  /* the tensor shares the buffer's memory: a buffer holding memories, not
   * the buffer itself, which would hold its own meta */
  data = gst_buffer_copy_region (buffer, GST_BUFFER_COPY_MEMORY, 0, -1);
  tensors = g_new (GstTensor *, 1);
  tensors[0] = gst_tensor_new_simple (g_quark_from_static_string (id),
      GST_TENSOR_DATA_TYPE_FLOAT32, data, GST_TENSOR_DIM_ORDER_ROW_MAJOR, 2,
      dims);
  if (tensors[0] == NULL)
    {
      g_free (tensors);
      return;
    }
  /* 1.26.0 returns an existing meta from gst_buffer_add_tensor_meta, later
   * releases add a second one: look first */
  tmeta = gst_buffer_get_tensor_meta (buffer);
  if (tmeta == NULL)
    tmeta = gst_buffer_add_tensor_meta (buffer);
  gst_tensor_meta_set (tmeta, 1, tensors);
}

void
gst_upm_tensor_release (GstBuffer *buffer)
{
  GstTensorMeta *tmeta;

  g_return_if_fail (gst_buffer_is_writable (buffer));
  while ((tmeta = gst_buffer_get_tensor_meta (buffer)) != NULL)
    gst_buffer_remove_meta (buffer, (GstMeta *)tmeta);
}

void
gst_upm_tensor_add_analytics (GstBuffer *buffer)
{
  gst_upm_buffer_add_analytics (buffer);
}

#else /* !UPM_HAVE_GST_ANALYTICS */

void
gst_upm_tensor_describe (
    GstBuffer *buffer, const gchar *id, guint rows, guint dim)
{
}

void
gst_upm_tensor_release (GstBuffer *buffer)
{
}

void
gst_upm_tensor_add_analytics (GstBuffer *buffer)
{
}

#endif
