/* gstupmencoder.h: patches or token ids -> embeddings.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_ENCODER_H__
#define __GST_UPM_ENCODER_H__

#include <gst/gst.h>
#include "gstupmmodelfilter.h"

G_BEGIN_DECLS

#define GST_TYPE_UPM_ENCODER (gst_upm_encoder_get_type ())
G_DECLARE_FINAL_TYPE (
    GstUpmEncoder, gst_upm_encoder, GST, UPM_ENCODER, GstUpmModelFilter)

G_END_DECLS
#endif /* __GST_UPM_ENCODER_H__ */
