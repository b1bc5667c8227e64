/* gstupmelements.h: element registration of the uniperceiver plugin.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_ELEMENTS_H__
#define __GST_UPM_ELEMENTS_H__

#include <gst/gst.h>

G_BEGIN_DECLS

GST_ELEMENT_REGISTER_DECLARE (upmtokenizer);
GST_ELEMENT_REGISTER_DECLARE (upmencoder);
GST_ELEMENT_REGISTER_DECLARE (upmtransformer);
GST_ELEMENT_REGISTER_DECLARE (upmhead);
GST_ELEMENT_REGISTER_DECLARE (upmbin);

G_END_DECLS
#endif
