/* gstupmpublish.h: publishes each clip's results to an MQTT broker or a
 * JSON-lines file, passing the buffers through.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_PUBLISH_H__
#define __GST_UPM_PUBLISH_H__

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum
{
  GST_UPM_PUBLISH_MQTT = 0,
  GST_UPM_PUBLISH_FILE = 1,
} GstUpmPublishMethod;

#define GST_TYPE_UPM_PUBLISH_METHOD (gst_upm_publish_method_get_type ())
GType gst_upm_publish_method_get_type (void);

#define GST_TYPE_UPM_MQTT_VERSION (gst_upm_mqtt_version_get_type ())
GType gst_upm_mqtt_version_get_type (void);

#define GST_TYPE_UPM_PUBLISH (gst_upm_publish_get_type ())
G_DECLARE_FINAL_TYPE (
    GstUpmPublish, gst_upm_publish, GST, UPM_PUBLISH, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (upmpublish);

G_END_DECLS
#endif /* __GST_UPM_PUBLISH_H__ */
