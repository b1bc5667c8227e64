/* gstupmenum.c: registering the plugin's enum types.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmenum.h"

#include <gst/gst.h>

#include "upm.h"

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

/* What a precision means, for gst-inspect; a precision not listed here is
 * described by its name. */
static const gchar *
precision_description (const gchar *name)
{
  static const struct
  {
    const gchar *name, *description;
  } descriptions[] = {
    { "auto", "The default: UPM_PRECISION, else what the library picks for "
              "this CPU" },
    { "fp32", "32-bit float weights and arithmetic" },
    { "bf16", "bfloat16 weights and GEMM inputs, float sums" },
    { "int8", "8-bit integer weights with per-channel scales" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (descriptions); i++)
    if (g_str_equal (name, descriptions[i].name))
      return descriptions[i].description;
  return name;
}

GType
gst_upm_precision_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    {
      /* zero-terminated; registered for good, so never freed */
      GArray *values = g_array_new (TRUE, TRUE, sizeof (GEnumValue));
      GType t;

      /* the values are dense from 0: stop at the first the library does
       * not name (upm_precision_name says "unknown", which does not
       * parse) */
      for (gint i = 0; i < 64; i++)
        {
          const gchar *name = upm_precision_name ((UpmPrecision)i);
          UpmPrecision parsed;
          GEnumValue v;

          if (!upm_precision_parse (name, &parsed) || (gint)parsed != i)
            break;
          v.value = i;
          v.value_name = precision_description (name);
          v.value_nick = name;
          g_array_append_val (values, v);
        }
      t = g_enum_register_static (
          "GstUpmPrecision", (const GEnumValue *)g_array_free (values, FALSE));
      g_once_init_leave (&type, t);
    }
  return (GType)type;
}

GParamSpec *
gst_upm_precision_param_spec (const gchar *blurb)
{
  return g_param_spec_enum ("precision", "Precision", blurb,
      GST_TYPE_UPM_PRECISION, UPM_PRECISION_AUTO,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
}
