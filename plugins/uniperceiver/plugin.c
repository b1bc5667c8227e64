/* plugin.c: the uniperceiver plugin.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmelements.h"
#include "gstupmpublish.h"
#include "gstupmroutingoverlay.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (upmtokenizer, plugin);
  ret |= GST_ELEMENT_REGISTER (upmencoder, plugin);
  ret |= GST_ELEMENT_REGISTER (upmtransformer, plugin);
  ret |= GST_ELEMENT_REGISTER (upmhead, plugin);
  ret |= GST_ELEMENT_REGISTER (upmbin, plugin);
  ret |= GST_ELEMENT_REGISTER (upmroutingoverlay, plugin);
  ret |= GST_ELEMENT_REGISTER (upmpublish, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, uniperceiver,
    "Uni-Perceiver-MoE: classify and caption video with a generalist "
    "mixture-of-experts transformer",
    plugin_init, PACKAGE_VERSION, "LGPL", "gst-uniperceiver",
    "https://example.invalid/gst-uniperceiver")
