/* gstupmroutingoverlay.h: draws mixture-of-experts routing onto video.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_ROUTING_OVERLAY_H__
#define __GST_UPM_ROUTING_OVERLAY_H__

#include <gst/gst.h>
#include <gst/base/gstaggregator.h>
#include <gst/video/video.h>

#include "gstupmroutingdraw.h"

G_BEGIN_DECLS

#define GST_TYPE_UPM_OVERLAY_POSITION (gst_upm_overlay_position_get_type ())
GType gst_upm_overlay_position_get_type (void);

#define GST_TYPE_UPM_OVERLAY_MODE (gst_upm_overlay_mode_get_type ())
GType gst_upm_overlay_mode_get_type (void);

#define GST_TYPE_UPM_ROUTING_OVERLAY (gst_upm_routing_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstUpmRoutingOverlay, gst_upm_routing_overlay, GST,
    UPM_ROUTING_OVERLAY, GstAggregator);

GST_ELEMENT_REGISTER_DECLARE (upmroutingoverlay);

G_END_DECLS
#endif /* __GST_UPM_ROUTING_OVERLAY_H__ */
