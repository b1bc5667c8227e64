/* gstupmtensor.h: the GstAnalytics side of the elements (GStreamer >= 1.26,
 * meson option analytics; docs/analytics.md): a GstTensorMeta describing the
 * float rows of upmencoder's and upmtransformer's outputs, and the results of
 * upmhead as a GstAnalyticsRelationMeta. Without GstAnalytics, each function
 * does nothing.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_TENSOR_H__
#define __GST_UPM_TENSOR_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* The tensor ids (GQuark names) of the outputs. */
#define GST_UPM_TENSOR_EMBEDDINGS "upm-embeddings"
#define GST_UPM_TENSOR_SPE_HIDDEN "upm-spe-hidden"

/* Adds to the writable @buffer a GstTensorMeta with one FLOAT32 row-major
 * tensor @id of dims [@rows, @dim] whose data is @buffer's memory (shared,
 * not copied). */
void gst_upm_tensor_describe (
    GstBuffer *buffer, const gchar *id, guint rows, guint dim);

/* Removes the GstTensorMeta of the writable @buffer, so that its memory is
 * no longer shared and can be written in place. */
void gst_upm_tensor_release (GstBuffer *buffer);

/* The results of upmhead on @buffer (writable) as GstAnalytics Mtds
 * (gst_upm_buffer_add_analytics). */
void gst_upm_tensor_add_analytics (GstBuffer *buffer);

G_END_DECLS
#endif /* __GST_UPM_TENSOR_H__ */
