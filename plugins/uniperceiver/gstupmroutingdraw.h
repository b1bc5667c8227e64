/* gstupmroutingdraw.h: draws mixture-of-experts routing into RGB frames.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_ROUTING_DRAW_H__
#define __GST_UPM_ROUTING_DRAW_H__

#include <gst/gst.h>
#include <gst/video/video.h>

#include "upmmeta.h"

G_BEGIN_DECLS

typedef enum
{
  GST_UPM_OVERLAY_TOP_LEFT,
  GST_UPM_OVERLAY_TOP_RIGHT,
  GST_UPM_OVERLAY_BOTTOM_LEFT,
  GST_UPM_OVERLAY_BOTTOM_RIGHT,
} GstUpmOverlayPosition;

typedef enum
{
  GST_UPM_OVERLAY_MODE_AUTO,
  GST_UPM_OVERLAY_MODE_PANEL,
  GST_UPM_OVERLAY_MODE_TOKENS,
} GstUpmOverlayMode;

/* What to draw and how: the properties of upmroutingoverlay. */
typedef struct
{
  GstUpmOverlayPosition position;
  guint cell_size;
  gdouble opacity;
  gboolean shaded;
  gchar *segment;
  GstUpmOverlayMode mode;
  gint layer;
  GstUpmGate gate;
  gint frame_index;
  guint grid_width, grid_height;
} GstUpmRoutingDrawSettings;

/* The colour of @expert (0xRRGGBB), one of 16, repeating. */
guint32 gst_upm_routing_overlay_expert_colour (guint expert);

/* Draws @meta into @frame (packed RGB, mapped for writing): when @tokens, the
 * patches of clip frame @frame_index tinted by their top-1 expert, then when
 * @panel, the expert panel of the static routes. */
void gst_upm_routing_draw_frame (GstVideoFrame *frame,
    const GstUpmRoutingMeta *meta, const GstUpmRoutingDrawSettings *s,
    guint frame_index, gboolean panel, gboolean tokens);

G_END_DECLS
#endif /* __GST_UPM_ROUTING_DRAW_H__ */
