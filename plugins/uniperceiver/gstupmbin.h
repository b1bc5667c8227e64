/* gstupmbin.h: upmtokenizer ! upmencoder ! upmtransformer ! upmhead in one
 * bin.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_BIN_H__
#define __GST_UPM_BIN_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_UPM_BIN (gst_upm_bin_get_type ())
G_DECLARE_FINAL_TYPE (GstUpmBin, gst_upm_bin, GST, UPM_BIN, GstBin)

G_END_DECLS
#endif /* __GST_UPM_BIN_H__ */
