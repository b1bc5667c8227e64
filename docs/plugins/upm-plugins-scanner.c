/* upm-plugins-scanner.c: the element documentation of a GStreamer plugin as
 * JSON, in the format of GStreamer's gst-hotdoc-plugins-scanner (the
 * gst_plugins_cache.json of the gst-plugins-* modules), which Debian does
 * not ship: docs/plugins/plugins-cache.py sorts and writes it.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * usage: upm-plugins-scanner PLUGIN.so
 */
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  JsonBuilder *other_types; /* members of "other-types" */
  GHashTable *seen;         /* type names already in it */
} Scan;

static void add_object_details (
    Scan *scan, JsonBuilder *b, GObject *object, GType type);

static void
member_string (JsonBuilder *b, const gchar *name, const gchar *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value != NULL ? value : "NULL");
}

static void member_printf (JsonBuilder *b, const gchar *name,
    const gchar *format, ...) G_GNUC_PRINTF (3, 4);

static void
member_printf (JsonBuilder *b, const gchar *name, const gchar *format, ...)
{
  va_list args;
  gchar *value;

  va_start (args, format);
  value = g_strdup_vprintf (format, args);
  va_end (args);
  member_string (b, name, value);
  g_free (value);
}

static void
member_bool (JsonBuilder *b, const gchar *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

/* ------------------------------------------------------------ other types */

static void
add_enum_type (Scan *scan, GType type, GstPluginAPIFlags api_flags)
{
  JsonBuilder *b = scan->other_types;
  GEnumClass *klass = g_type_class_ref (type);

  json_builder_set_member_name (b, g_type_name (type));
  json_builder_begin_object (b);
  member_string (b, "kind", "enum");
  if (api_flags & GST_PLUGIN_API_FLAG_IGNORE_ENUM_MEMBERS)
    member_bool (b, "ignore-enum-members", TRUE);
  else
    {
      json_builder_set_member_name (b, "values");
      json_builder_begin_array (b);
      for (guint i = 0; i < klass->n_values; i++)
        {
          json_builder_begin_object (b);
          member_string (b, "name", klass->values[i].value_nick);
          member_printf (b, "value", "%d", klass->values[i].value);
          member_string (b, "desc", klass->values[i].value_name);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
  g_type_class_unref (klass);
}

static void
add_flags_type (Scan *scan, GType type)
{
  JsonBuilder *b = scan->other_types;
  GFlagsClass *klass = g_type_class_ref (type);

  json_builder_set_member_name (b, g_type_name (type));
  json_builder_begin_object (b);
  member_string (b, "kind", "flags");
  json_builder_set_member_name (b, "values");
  json_builder_begin_array (b);
  for (guint i = 0; i < klass->n_values; i++)
    {
      json_builder_begin_object (b);
      member_string (b, "name", klass->values[i].value_nick);
      member_printf (b, "value", "0x%08x", klass->values[i].value);
      member_string (b, "desc", klass->values[i].value_name);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_type_class_unref (klass);
}

/* A base class or interface of @inst_type documented as plugin API: its own
 * properties and signals, read on an instance of @inst_type. */
static void
add_object_type (Scan *scan, GType type, GType inst_type)
{
  JsonBuilder *b = scan->other_types;
  GObject *object;

  if (G_TYPE_IS_ABSTRACT (inst_type) || G_TYPE_IS_INTERFACE (inst_type))
    return; /* nothing to instantiate: the final type documents it */
  object = g_object_new (inst_type, NULL);
  json_builder_set_member_name (b, g_type_name (type));
  json_builder_begin_object (b);
  member_string (
      b, "kind", G_TYPE_IS_INTERFACE (type) ? "interface" : "object");
  add_object_details (scan, b, object, type);
  json_builder_end_object (b);
  gst_object_unref (object);
}

/* Documents @type in "other-types" once, when the plugin marked it as API
 * (gst_type_mark_as_plugin_api). */
static void
note_type (Scan *scan, GType type, GType inst_type)
{
  GstPluginAPIFlags api_flags = 0;
  const gchar *name = g_type_name (type);

  if (name == NULL || g_hash_table_contains (scan->seen, name)
      || !gst_type_is_plugin_api (type, &api_flags))
    return;
  g_hash_table_add (scan->seen, (gpointer)name);
  if (G_TYPE_IS_ENUM (type))
    add_enum_type (scan, type, api_flags);
  else if (G_TYPE_IS_FLAGS (type))
    add_flags_type (scan, type);
  else if (g_type_is_a (type, G_TYPE_OBJECT) || G_TYPE_IS_INTERFACE (type))
    add_object_type (scan, type, inst_type);
}

/* ------------------------------------------------------------- properties */

static const gchar *
enum_nick (GType type, gint value)
{
  GEnumValue *v = g_enum_get_value (g_type_class_peek (type), value);
  return v != NULL ? v->value_nick : "";
}

static gchar *
flags_nicks (GType type, guint value)
{
  GFlagsClass *klass = g_type_class_peek (type);
  GString *s = g_string_new (NULL);
  guint left = value;

  for (guint i = 0; i < klass->n_values; i++)
    if (klass->values[i].value == value)
      {
        g_string_free (s, TRUE);
        return g_strdup (klass->values[i].value_nick);
      }
  for (guint i = klass->n_values; i-- > 0 && left != 0;)
    {
      guint v = klass->values[i].value;
      if (v != 0 && (left & v) == v)
        {
          g_string_append_printf (
              s, "%s%s", s->len ? "+" : "", klass->values[i].value_nick);
          left &= ~v;
        }
    }
  if (s->len == 0)
    g_string_assign (s, "(none)");
  return g_string_free (s, FALSE);
}

/* "default" (and "min", "max" for numbers) as the GStreamer scanner writes
 * them. */
static void
add_value (JsonBuilder *b, GParamSpec *spec, const GValue *value)
{
  GType type = G_VALUE_TYPE (value);

#define RANGE(fmt, get, cast)                                                  \
  do                                                                           \
    {                                                                          \
      member_printf (b, "default", fmt, get (value));                          \
      member_printf (b, "min", fmt, cast (spec)->minimum);                     \
      member_printf (b, "max", fmt, cast (spec)->maximum);                     \
    }                                                                          \
  while (0)
  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_STRING:
      member_string (b, "default", g_value_get_string (value));
      return;
    case G_TYPE_BOOLEAN:
      member_string (
          b, "default", g_value_get_boolean (value) ? "true" : "false");
      return;
    case G_TYPE_INT:
      RANGE ("%d", g_value_get_int, G_PARAM_SPEC_INT);
      return;
    case G_TYPE_UINT:
      RANGE ("%u", g_value_get_uint, G_PARAM_SPEC_UINT);
      return;
    case G_TYPE_INT64:
      RANGE ("%" G_GINT64_FORMAT, g_value_get_int64, G_PARAM_SPEC_INT64);
      return;
    case G_TYPE_UINT64:
      RANGE ("%" G_GUINT64_FORMAT, g_value_get_uint64, G_PARAM_SPEC_UINT64);
      return;
    case G_TYPE_LONG:
      RANGE ("%ld", g_value_get_long, G_PARAM_SPEC_LONG);
      return;
    case G_TYPE_ULONG:
      RANGE ("%lu", g_value_get_ulong, G_PARAM_SPEC_ULONG);
      return;
    case G_TYPE_FLOAT:
      RANGE ("%g", g_value_get_float, G_PARAM_SPEC_FLOAT);
      return;
    case G_TYPE_DOUBLE:
      RANGE ("%g", g_value_get_double, G_PARAM_SPEC_DOUBLE);
      return;
    case G_TYPE_ENUM:
      member_printf (b, "default", "%s (%d)",
          enum_nick (type, g_value_get_enum (value)), g_value_get_enum (value));
      return;
    case G_TYPE_FLAGS:
      {
        gchar *nicks = flags_nicks (type, g_value_get_flags (value));
        member_string (b, "default", nicks);
        g_free (nicks);
        return;
      }
    default:
      break;
    }
#undef RANGE
  if (type == GST_TYPE_CAPS && gst_value_get_caps (value) != NULL)
    {
      gchar *caps = gst_caps_to_string (gst_value_get_caps (value));
      member_string (b, "default", caps);
      g_free (caps);
    }
  else if (type == GST_TYPE_STRUCTURE && gst_value_get_structure (value))
    {
      gchar *s = gst_structure_to_string (gst_value_get_structure (value));
      member_string (b, "default", s);
      g_free (s);
    }
  else if (GST_IS_PARAM_SPEC_FRACTION (spec))
    {
      GstParamSpecFraction *f = GST_PARAM_SPEC_FRACTION (spec);
      member_printf (b, "default", "%d/%d",
          gst_value_get_fraction_numerator (value),
          gst_value_get_fraction_denominator (value));
      member_printf (b, "min", "%d/%d", f->min_num, f->min_den);
      member_printf (b, "max", "%d/%d", f->max_num, f->max_den);
    }
}

static const gchar *
mutable_state (GParamFlags flags)
{
  if (flags & GST_PARAM_MUTABLE_PLAYING)
    return "playing";
  if (flags & GST_PARAM_MUTABLE_PAUSED)
    return "paused";
  if (flags & GST_PARAM_MUTABLE_READY)
    return "ready";
  return "null";
}

static void
add_property (Scan *scan, JsonBuilder *b, GObject *object, GParamSpec *spec)
{
  GValue value = G_VALUE_INIT;

  g_value_init (&value, spec->value_type);
  if ((spec->flags & G_PARAM_READABLE)
      && !(spec->flags & GST_PARAM_DOC_SHOW_DEFAULT))
    g_object_get_property (object, spec->name, &value);
  else
    g_param_value_set_default (spec, &value);

  json_builder_set_member_name (b, spec->name);
  json_builder_begin_object (b);
  member_string (b, "blurb", g_param_spec_get_blurb (spec));
  member_bool (b, "conditionally-available",
      spec->flags & GST_PARAM_CONDITIONALLY_AVAILABLE);
  member_bool (b, "construct", spec->flags & G_PARAM_CONSTRUCT);
  member_bool (b, "construct-only", spec->flags & G_PARAM_CONSTRUCT_ONLY);
  member_bool (b, "controllable", spec->flags & GST_PARAM_CONTROLLABLE);
  json_builder_set_member_name (b, "mutable");
  json_builder_add_string_value (b, mutable_state (spec->flags));
  member_bool (b, "readable", spec->flags & G_PARAM_READABLE);
  member_string (b, "type", g_type_name (spec->value_type));
  member_bool (b, "writable", spec->flags & G_PARAM_WRITABLE);
  add_value (b, spec, &value);
  json_builder_end_object (b);
  g_value_unset (&value);

  note_type (scan, spec->value_type, spec->value_type);
}

static void
add_properties (Scan *scan, JsonBuilder *b, GObject *object, GType type)
{
  guint n_specs;
  GParamSpec **specs
      = g_object_class_list_properties (G_OBJECT_GET_CLASS (object), &n_specs);
  gboolean opened = FALSE;

  for (guint i = 0; i < n_specs; i++)
    {
      if (specs[i]->owner_type != type)
        continue;
      if (!opened)
        {
          json_builder_set_member_name (b, "properties");
          json_builder_begin_object (b);
          opened = TRUE;
        }
      add_property (scan, b, object, specs[i]);
    }
  if (opened)
    json_builder_end_object (b);
  g_free (specs);
}

/* ---------------------------------------------------------------- signals */

static void
add_signal (Scan *scan, JsonBuilder *b, guint id)
{
  GSignalQuery q;

  g_signal_query (id, &q);
  json_builder_set_member_name (b, q.signal_name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "args");
  json_builder_begin_array (b);
  for (guint j = 0; j < q.n_params; j++)
    {
      GType t = q.param_types[j] & ~G_SIGNAL_TYPE_STATIC_SCOPE;
      json_builder_begin_object (b);
      member_printf (b, "name", "arg%u", j);
      member_string (b, "type", g_type_name (t));
      json_builder_end_object (b);
      note_type (scan, t, t);
    }
  json_builder_end_array (b);
  note_type (scan, q.return_type, q.return_type);
  member_string (b, "return-type", g_type_name (q.return_type));
  if (q.signal_flags & G_SIGNAL_RUN_FIRST)
    member_string (b, "when", "first");
  else if (q.signal_flags & G_SIGNAL_RUN_LAST)
    member_string (b, "when", "last");
  else if (q.signal_flags & G_SIGNAL_RUN_CLEANUP)
    member_string (b, "when", "cleanup");
  if (q.signal_flags & G_SIGNAL_NO_RECURSE)
    member_bool (b, "no-recurse", TRUE);
  if (q.signal_flags & G_SIGNAL_DETAILED)
    member_bool (b, "detailed", TRUE);
  if (q.signal_flags & G_SIGNAL_ACTION)
    member_bool (b, "action", TRUE);
  if (q.signal_flags & G_SIGNAL_NO_HOOKS)
    member_bool (b, "no-hooks", TRUE);
  json_builder_end_object (b);
}

static void
add_signals (Scan *scan, JsonBuilder *b, GType type)
{
  guint n_ids;
  guint *ids = g_signal_list_ids (type, &n_ids);

  if (n_ids > 0)
    {
      json_builder_set_member_name (b, "signals");
      json_builder_begin_object (b);
      for (guint i = 0; i < n_ids; i++)
        add_signal (scan, b, ids[i]);
      json_builder_end_object (b);
    }
  g_free (ids);
}

/* ---------------------------------------------------------------- objects */

static void
add_object_details (Scan *scan, JsonBuilder *b, GObject *object, GType type)
{
  guint n_ifaces;
  GType *ifaces;

  json_builder_set_member_name (b, "hierarchy");
  json_builder_begin_array (b);
  for (GType t = type; t != 0; t = g_type_parent (t))
    {
      json_builder_add_string_value (b, g_type_name (t));
      note_type (scan, t, G_OBJECT_TYPE (object));
    }
  json_builder_end_array (b);

  ifaces = g_type_interfaces (type, &n_ifaces);
  if (n_ifaces > 0)
    {
      json_builder_set_member_name (b, "interfaces");
      json_builder_begin_array (b);
      for (guint i = 0; i < n_ifaces; i++)
        {
          json_builder_add_string_value (b, g_type_name (ifaces[i]));
          note_type (scan, ifaces[i], G_OBJECT_TYPE (object));
        }
      json_builder_end_array (b);
    }
  g_free (ifaces);

  add_properties (scan, b, object, type);
  add_signals (scan, b, type);
}

/* ------------------------------------------------------------ pad templates */

static void
append_caps_field (GString *s, const gchar *field, const GValue *value)
{
  gchar *text = gst_value_serialize (value);

  if (g_str_equal (field, "format") || g_str_equal (field, "rate"))
    {
      GRegex *types = g_regex_new ("\\(string\\)|\\(rate\\)", 0, 0, NULL);
      gchar *clean = g_regex_replace (types, text, -1, 0, "", 0, NULL);
      g_regex_unref (types);
      g_free (text);
      text = clean;
    }
  g_string_append_printf (s, "%15s: %s\n", field, text);
  g_free (text);
}

/* The caps as the GStreamer scanner writes them: per structure its name,
 * then one "field: value" line per field. */
static gchar *
caps_text (const GstCaps *caps)
{
  GString *s = g_string_new (NULL);

  if (gst_caps_is_any (caps))
    g_string_append (s, "ANY");
  else if (gst_caps_is_empty (caps))
    g_string_append (s, "EMPTY");
  for (guint i = 0; i < gst_caps_get_size (caps) && !gst_caps_is_any (caps);
       i++)
    {
      const GstStructure *st = gst_caps_get_structure (caps, i);
      GstCapsFeatures *features = gst_caps_get_features (caps, i);

      if (features != NULL
          && (gst_caps_features_is_any (features)
              || !gst_caps_features_is_equal (
                  features, GST_CAPS_FEATURES_MEMORY_SYSTEM_MEMORY)))
        {
          gchar *f = gst_caps_features_to_string (features);
          g_string_append_printf (
              s, "%s%s(%s):\n", i ? "\n" : "", gst_structure_get_name (st), f);
          g_free (f);
        }
      else
        g_string_append_printf (s, "%s:\n", gst_structure_get_name (st));
      for (gint f = 0; f < gst_structure_n_fields (st); f++)
        {
          const gchar *field = gst_structure_nth_field_name (st, f);
          append_caps_field (s, field, gst_structure_get_value (st, field));
        }
    }
  return g_string_free (s, FALSE);
}

static const gchar *
presence_name (GstPadPresence presence)
{
  switch (presence)
    {
    case GST_PAD_ALWAYS:
      return "always";
    case GST_PAD_SOMETIMES:
      return "sometimes";
    case GST_PAD_REQUEST:
      return "request";
    }
  return "unknown";
}

static void
add_pad_templates (
    Scan *scan, JsonBuilder *b, GstElement *element, GstElementFactory *factory)
{
  const GList *l = gst_element_factory_get_static_pad_templates (factory);

  if (l == NULL)
    return;
  json_builder_set_member_name (b, "pad-templates");
  json_builder_begin_object (b);
  for (; l != NULL; l = l->next)
    {
      GstStaticPadTemplate *st = l->data;
      GstPadTemplate *tmpl = gst_element_class_get_pad_template (
          GST_ELEMENT_GET_CLASS (element), st->name_template);
      GstCaps *caps = gst_pad_template_get_documentation_caps (tmpl);
      gchar *text = caps_text (caps);
      GType pad_type = GST_PAD_TEMPLATE_GTYPE (tmpl);

      json_builder_set_member_name (b, st->name_template);
      json_builder_begin_object (b);
      member_string (b, "caps", text);
      member_string (b, "direction",
          st->direction == GST_PAD_SRC    ? "src"
          : st->direction == GST_PAD_SINK ? "sink"
                                          : "unknown");
      member_string (b, "presence", presence_name (st->presence));
      if (pad_type != G_TYPE_NONE && pad_type != GST_TYPE_PAD)
        {
          member_string (b, "type", g_type_name (pad_type));
          note_type (scan, pad_type, pad_type);
        }
      json_builder_end_object (b);
      g_free (text);
      gst_caps_unref (caps);
    }
  json_builder_end_object (b);
}

/* --------------------------------------------------------------- elements */

/* The rank's name, or the nearest one and the difference ("primary + 1"). */
static gchar *
rank_name (gint rank)
{
  static const gint ranks[] = { GST_RANK_NONE, GST_RANK_MARGINAL,
    GST_RANK_SECONDARY, GST_RANK_PRIMARY };
  static const gchar *names[] = { "none", "marginal", "secondary", "primary" };
  guint best = 0;

  for (guint i = 0; i < G_N_ELEMENTS (ranks); i++)
    {
      if (rank == ranks[i])
        return g_strdup (names[i]);
      if (ABS (rank - ranks[i]) < ABS (rank - ranks[best]))
        best = i;
    }
  return g_strdup_printf ("%s %c %d", names[best],
      rank > ranks[best] ? '+' : '-', ABS (rank - ranks[best]));
}

static void
add_element (Scan *scan, JsonBuilder *b, GstElementFactory *factory)
{
  GstElement *element = gst_element_factory_create (factory, NULL);
  gchar **keys = gst_element_factory_get_metadata_keys (factory);
  gchar *rank;

  if (element == NULL)
    {
      g_printerr (
          "could not create the element %s\n", GST_OBJECT_NAME (factory));
      exit (1);
    }
  json_builder_set_member_name (b, GST_OBJECT_NAME (factory));
  json_builder_begin_object (b);
  rank = rank_name (
      gst_plugin_feature_get_rank (GST_PLUGIN_FEATURE_CAST (factory)));
  member_string (b, "rank", rank);
  g_free (rank);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    member_string (
        b, keys[i], gst_element_factory_get_metadata (factory, keys[i]));
  g_strfreev (keys);
  add_object_details (scan, b, G_OBJECT (element), G_OBJECT_TYPE (element));
  add_pad_templates (scan, b, element, factory);
  json_builder_end_object (b);
  gst_object_unref (element);
}

static void
add_plugin (JsonBuilder *b, GstPlugin *plugin, const gchar *file)
{
  Scan scan
      = { json_builder_new (), g_hash_table_new (g_str_hash, g_str_equal) };
  GList *features = gst_registry_get_feature_list_by_plugin (
      gst_registry_get (), gst_plugin_get_name (plugin));
  gchar *base = g_path_get_basename (file);
  gchar *dot = strchr (base, '.');
  JsonNode *other;

  if (dot != NULL)
    *dot = '\0';
  json_builder_set_member_name (b, gst_plugin_get_name (plugin));
  json_builder_begin_object (b);
  member_string (b, "description", gst_plugin_get_description (plugin));
  member_string (
      b, "filename", g_str_has_prefix (base, "lib") ? base + 3 : base);
  member_string (b, "license", gst_plugin_get_license (plugin));
  member_string (b, "package", gst_plugin_get_package (plugin));
  member_string (b, "source", gst_plugin_get_source (plugin));
  member_string (b, "url", gst_plugin_get_origin (plugin));

  json_builder_begin_object (scan.other_types);
  json_builder_set_member_name (b, "elements");
  json_builder_begin_object (b);
  for (GList *l = features; l != NULL; l = l->next)
    if (GST_IS_ELEMENT_FACTORY (l->data)
        && !gst_element_factory_get_skip_documentation (l->data))
      add_element (&scan, b, l->data);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "tracers");
  json_builder_begin_object (b);
  for (GList *l = features; l != NULL; l = l->next)
    if (GST_IS_TRACER_FACTORY (l->data))
      {
        json_builder_set_member_name (b, GST_OBJECT_NAME (l->data));
        json_builder_begin_object (b);
        json_builder_end_object (b);
      }
  json_builder_end_object (b);

  json_builder_end_object (scan.other_types);
  other = json_builder_get_root (scan.other_types);
  json_builder_set_member_name (b, "other-types");
  json_builder_add_value (b, other);
  json_builder_end_object (b);

  gst_plugin_feature_list_free (features);
  g_hash_table_unref (scan.seen);
  g_object_unref (scan.other_types);
  g_free (base);
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  JsonBuilder *b;
  JsonGenerator *gen;
  GstPlugin *plugin;
  JsonNode *root;
  gchar *json;

  setlocale (LC_ALL, "");
  setlocale (LC_NUMERIC, "C");
  if (argc != 2)
    {
      g_printerr ("usage: %s PLUGIN.so\n", argv[0]);
      return 2;
    }
  gst_init (NULL, NULL);
  plugin = gst_plugin_load_file (argv[1], &error);
  if (plugin == NULL)
    {
      g_printerr ("%s could not be loaded as a GstPlugin: %s\n", argv[1],
          error->message);
      return 1;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  add_plugin (b, plugin, argv[1]);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);
  json_node_unref (root);
  json = json_generator_to_data (gen, NULL);
  g_print ("%s\n", json);
  g_free (json);
  g_object_unref (gen);
  g_object_unref (b);
  gst_object_unref (plugin);
  return 0;
}
