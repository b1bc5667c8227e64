/* gstupmenum.h: registering the plugin's enum types.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_ENUM_H__
#define __GST_UPM_ENUM_H__

#include <glib-object.h>

G_BEGIN_DECLS

/* The enum type @name with @values (static, 0-terminated), registered on the
 * first call; @type is the caller's static storage for it. Thread-safe. */
GType gst_upm_enum_register_once (
    gsize *type, const gchar *name, const GEnumValue *values);

/* The body of an enum's get_type function: registers @name with the
 * GEnumValue entries that follow (the terminating entry is added). */
#define GST_UPM_ENUM_TYPE_ONCE(name, ...)                                      \
  static gsize type = 0;                                                       \
  static const GEnumValue values[] = { __VA_ARGS__, { 0, NULL, NULL } };       \
  return gst_upm_enum_register_once (&type, name, values)

/* GstUpmPrecision: the library's UpmPrecision values, nick = the name
 * upm_precision_name gives ("auto", "fp32", "bf16", ...): built from the
 * library at registration, so that a precision it adds needs no change
 * here. */
#define GST_TYPE_UPM_PRECISION (gst_upm_precision_get_type ())
GType gst_upm_precision_get_type (void);

/* A property "precision" of type GST_TYPE_UPM_PRECISION, default auto;
 * @blurb says what it sets. */
GParamSpec *gst_upm_precision_param_spec (const gchar *blurb);

G_END_DECLS
#endif /* __GST_UPM_ENUM_H__ */
