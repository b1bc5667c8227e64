/* gstupmenum.c: registering the plugin's enum types.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmenum.h"

GType
gst_upm_enum_register_once (
    gsize *type, const gchar *name, const GEnumValue *values)
{
  if (g_once_init_enter (type))
    {
      GType t = g_enum_register_static (name, values);
      g_once_init_leave (type, t);
    }
  return (GType)*type;
}
