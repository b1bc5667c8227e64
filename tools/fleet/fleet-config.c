/* fleet-config.c: upm-fleet's configuration file and shards.
 *
 * The file is a GKeyFile:
 *   [fleet]          http = HOST:PORT, stop-timeout = seconds
 *   [model]          path, precision, batch-wait
 *   [publish]        defaults of every stream's publish.* keys
 *   [stream NAME]    uri, live, on-eos, rtsp-latency, stall-timeout,
 *                    reconnect-min, reconnect-max; publish.KEY = upmpublish
 *                    property; any other key = upmbin property
 * In the element keys' values ${stream} is the stream's name.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fleet-config.h"

#include <string.h>

#define STREAM_PREFIX "stream "
#define PUBLISH_PREFIX "publish."
#define DEFAULT_HTTP "127.0.0.1:9464"

static void
stream_config_free (FleetStreamConfig *s)
{
  g_free (s->name);
  g_free (s->uri);
  g_ptr_array_unref (s->bin_keys);
  g_ptr_array_unref (s->bin_values);
  g_ptr_array_unref (s->publish_keys);
  g_ptr_array_unref (s->publish_values);
  g_free (s->canonical);
  g_free (s);
}

FleetConfig *
fleet_config_ref (FleetConfig *config)
{
  g_atomic_int_inc (&config->ref_count);
  return config;
}

void
fleet_config_unref (FleetConfig *config)
{
  if (config == NULL || !g_atomic_int_dec_and_test (&config->ref_count))
    return;
  g_free (config->model_path);
  g_free (config->precision);
  g_free (config->http);
  g_ptr_array_unref (config->streams);
  g_free (config);
}

FleetStreamConfig *
fleet_config_find (const FleetConfig *config, const gchar *name)
{
  guint i;

  for (i = 0; i < config->streams->len; i++)
    {
      FleetStreamConfig *s = g_ptr_array_index (config->streams, i);

      if (strcmp (s->name, name) == 0)
        return s;
    }
  return NULL;
}

guint
fleet_shard_of (const gchar *name, guint n_shards)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize len = sizeof digest;
  guint64 h = 0;
  guint i;

  /* SHA-256, not FNV: FNV's low bits are poor, and mod 2 would follow the
   * parity of the bytes */
  g_checksum_update (sum, (const guchar *)name, -1);
  g_checksum_get_digest (sum, digest, &len);
  g_checksum_free (sum);
  for (i = 0; i < 8; i++)
    h = (h << 8) | digest[i];
  return n_shards > 0 ? (guint)(h % n_shards) : 0;
}

gboolean
fleet_parse_shard (
    const gchar *text, guint *index, guint *count, GError **error)
{
  guint64 i, n;
  gchar *end = NULL;

  i = g_ascii_strtoull (text, &end, 10);
  if (end == text || *end != '/')
    goto bad;
  text = end + 1;
  n = g_ascii_strtoull (text, &end, 10);
  if (end == text || *end != '\0' || n == 0 || n > 65536 || i >= n)
    goto bad;
  *index = (guint)i;
  *count = (guint)n;
  return TRUE;

bad:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
      "--shard wants I/N with 0 <= I < N (e.g. 0/2), not '%s'", text);
  return FALSE;
}

/* A double key, @def when absent; an error names the group and key. */
static gboolean
get_seconds (GKeyFile *kf, const gchar *group, const gchar *key, gdouble def,
    gdouble *out, GError **error)
{
  GError *e = NULL;
  gdouble v;

  if (!g_key_file_has_key (kf, group, key, NULL))
    {
      *out = def;
      return TRUE;
    }
  v = g_key_file_get_double (kf, group, key, &e);
  if (e != NULL || v < 0 || v > 86400)
    {
      g_clear_error (&e);
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
          "[%s] %s: want seconds between 0 and 86400", group, key);
      return FALSE;
    }
  *out = v;
  return TRUE;
}

static gboolean
get_bool (GKeyFile *kf, const gchar *group, const gchar *key, gboolean def,
    gboolean *out, GError **error)
{
  GError *e = NULL;

  if (!g_key_file_has_key (kf, group, key, NULL))
    {
      *out = def;
      return TRUE;
    }
  *out = g_key_file_get_boolean (kf, group, key, &e);
  if (e != NULL)
    {
      g_clear_error (&e);
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
          "[%s] %s: want true or false", group, key);
      return FALSE;
    }
  return TRUE;
}

static gboolean
is_live_uri (const gchar *uri)
{
  return g_str_has_prefix (uri, "rtsp") || g_str_has_prefix (uri, "http")
         || g_str_has_prefix (uri, "udp") || g_str_has_prefix (uri, "srt");
}

static const gchar *const fleet_keys[] = { "uri", "live", "on-eos",
  "rtsp-latency", "stall-timeout", "reconnect-min", "reconnect-max", NULL };

/* Adds @key = @value to the publish (publish.*) or upmbin lists. */
static void
add_element_key (FleetStreamConfig *s, const gchar *key, const gchar *value)
{
  gboolean publish = g_str_has_prefix (key, PUBLISH_PREFIX);
  const gchar *name = publish ? key + strlen (PUBLISH_PREFIX) : key;
  GPtrArray *keys = publish ? s->publish_keys : s->bin_keys;
  GPtrArray *values = publish ? s->publish_values : s->bin_values;
  guint i;

  for (i = 0; i < keys->len; i++)
    if (strcmp (g_ptr_array_index (keys, i), name) == 0)
      {
        g_free (values->pdata[i]);
        values->pdata[i] = g_strdup (value);
        return;
      }
  g_ptr_array_add (keys, g_strdup (name));
  g_ptr_array_add (values, g_strdup (value));
}

static gboolean
parse_fleet_keys (GKeyFile *kf, const gchar *group, const gchar *base_dir,
    FleetStreamConfig *s, GError **error)
{
  gchar *on_eos;
  gdouble rtsp_latency;

  s->uri = g_key_file_get_string (kf, group, "uri", NULL);
  if (s->uri != NULL && g_uri_peek_scheme (s->uri) == NULL)
    {
      /* a plain path: a file, relative to the configuration file */
      gchar *path = g_path_is_absolute (s->uri)
                        ? g_strdup (s->uri)
                        : g_build_filename (base_dir, s->uri, NULL);

      g_free (s->uri);
      s->uri = g_filename_to_uri (path, NULL, NULL);
      g_free (path);
    }
  if (s->uri == NULL || !g_uri_is_valid (s->uri, G_URI_FLAGS_NONE, NULL))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
          "[%s] needs uri = rtsp://..., http(s)://... or file:///...", group);
      return FALSE;
    }
  if (!get_bool (kf, group, "live", is_live_uri (s->uri), &s->live, error))
    return FALSE;
  on_eos = g_key_file_get_string (kf, group, "on-eos", NULL);
  if (on_eos != NULL && strcmp (on_eos, "restart") != 0
      && strcmp (on_eos, "stop") != 0)
    {
      g_free (on_eos);
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
          "[%s] on-eos: want restart or stop", group);
      return FALSE;
    }
  s->restart_at_eos
      = on_eos != NULL ? strcmp (on_eos, "restart") == 0 : s->live;
  g_free (on_eos);
  if (!get_seconds (kf, group, "rtsp-latency", 0.2, &rtsp_latency, error)
      || !get_seconds (
          kf, group, "stall-timeout", 10, &s->stall_timeout_s, error)
      || !get_seconds (
          kf, group, "reconnect-min", 0.5, &s->reconnect_min_s, error)
      || !get_seconds (
          kf, group, "reconnect-max", 30, &s->reconnect_max_s, error))
    return FALSE;
  s->rtsp_latency_ms = (guint)(rtsp_latency * 1000);
  if (s->reconnect_max_s < s->reconnect_min_s)
    s->reconnect_max_s = s->reconnect_min_s;
  return TRUE;
}

/* "k=v;" for every key of both lists, for comparing two configurations. */
static void
append_keys (
    GString *out, const gchar *prefix, GPtrArray *keys, GPtrArray *values)
{
  guint i;

  for (i = 0; i < keys->len; i++)
    g_string_append_printf (out, "%s%s=%s;", prefix,
        (const gchar *)g_ptr_array_index (keys, i),
        (const gchar *)g_ptr_array_index (values, i));
}

static gchar *
canonical_string (const FleetConfig *config, const FleetStreamConfig *s)
{
  GString *out = g_string_new (NULL);

  g_string_append_printf (out,
      "model=%s;precision=%s;batch-wait=%d;uri=%s;live=%d;eos=%d;"
      "rtsp-latency=%u;stall=%g;reconnect=%g-%g;",
      config->model_path, config->precision ? config->precision : "",
      config->batch_wait, s->uri, s->live, s->restart_at_eos,
      s->rtsp_latency_ms, s->stall_timeout_s, s->reconnect_min_s,
      s->reconnect_max_s);
  append_keys (out, "bin.", s->bin_keys, s->bin_values);
  append_keys (out, "publish.", s->publish_keys, s->publish_values);
  return g_string_free (out, FALSE);
}

static FleetStreamConfig *
parse_stream (GKeyFile *kf, const gchar *group, const gchar *base_dir,
    const FleetConfig *config, GError **error)
{
  FleetStreamConfig *s = g_new0 (FleetStreamConfig, 1);
  gchar **keys;
  guint i;

  s->name = g_strstrip (g_strdup (group + strlen (STREAM_PREFIX)));
  s->bin_keys = g_ptr_array_new_with_free_func (g_free);
  s->bin_values = g_ptr_array_new_with_free_func (g_free);
  s->publish_keys = g_ptr_array_new_with_free_func (g_free);
  s->publish_values = g_ptr_array_new_with_free_func (g_free);
  if (s->name[0] == '\0' || strpbrk (s->name, "\"\\/{}\n") != NULL)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
          "[%s]: a stream name is not empty and has no \" \\ / { }", group);
      stream_config_free (s);
      return NULL;
    }
  if (!parse_fleet_keys (kf, group, base_dir, s, error))
    {
      stream_config_free (s);
      return NULL;
    }
  /* [publish] first, so that the stream's own publish.* keys win */
  keys = g_key_file_get_keys (kf, "publish", NULL, NULL);
  for (i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      gchar *v = g_key_file_get_string (kf, "publish", keys[i], NULL);
      gchar *k = g_strconcat (PUBLISH_PREFIX, keys[i], NULL);

      add_element_key (s, k, v ? v : "");
      g_free (k);
      g_free (v);
    }
  g_strfreev (keys);
  keys = g_key_file_get_keys (kf, group, NULL, NULL);
  for (i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      gchar *v;

      if (g_strv_contains (fleet_keys, keys[i]))
        continue;
      v = g_key_file_get_string (kf, group, keys[i], NULL);
      add_element_key (s, keys[i], v ? v : "");
      g_free (v);
    }
  g_strfreev (keys);
  s->canonical = canonical_string (config, s);
  return s;
}

static gboolean
parse_model (
    GKeyFile *kf, const gchar *base_dir, FleetConfig *config, GError **error)
{
  gchar *path = g_key_file_get_string (kf, "model", "path", NULL);

  if (path == NULL)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
          "[model] needs path = the .upm file all streams share");
      return FALSE;
    }
  config->model_path = g_path_is_absolute (path)
                           ? g_strdup (path)
                           : g_build_filename (base_dir, path, NULL);
  g_free (path);
  if (!g_file_test (config->model_path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
          "[model] path: no file %s (a .upm model: the bundled one, or "
          "tools/convert.py's output)",
          config->model_path);
      return FALSE;
    }
  config->precision = g_key_file_get_string (kf, "model", "precision", NULL);
  config->batch_wait = -1;
  if (g_key_file_has_key (kf, "model", "batch-wait", NULL))
    {
      GError *e = NULL;
      gint v = g_key_file_get_integer (kf, "model", "batch-wait", &e);

      if (e != NULL || v < 0)
        {
          g_clear_error (&e);
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
              "[model] batch-wait: want microseconds >= 0 (0: no batching)");
          return FALSE;
        }
      config->batch_wait = v;
    }
  return TRUE;
}

static gboolean
check_groups (GKeyFile *kf, GError **error)
{
  static const gchar *const known[] = { "fleet", "model", "publish", NULL };
  gchar **groups = g_key_file_get_groups (kf, NULL);
  gboolean ok = TRUE;
  guint i;

  for (i = 0; ok && groups[i] != NULL; i++)
    if (!g_utf8_validate (groups[i], -1, NULL))
      {
        /* GKeyFile takes any bytes there; an error message may not */
        gchar *shown = g_utf8_make_valid (groups[i], -1);

        g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE,
            "group [%s] is not valid UTF-8: save the file as UTF-8", shown);
        g_free (shown);
        ok = FALSE;
      }
    else if (!g_strv_contains (known, groups[i])
             && !g_str_has_prefix (groups[i], STREAM_PREFIX))
      {
        g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
            "unknown group [%s]: want [fleet], [model], [publish] or "
            "[stream NAME]",
            groups[i]);
        ok = FALSE;
      }
  g_strfreev (groups);
  return ok;
}

static gboolean
parse_streams (
    GKeyFile *kf, const gchar *base_dir, FleetConfig *config, GError **error)
{
  gchar **groups = g_key_file_get_groups (kf, NULL);
  gboolean ok = TRUE;
  guint i;

  for (i = 0; ok && groups[i] != NULL; i++)
    {
      FleetStreamConfig *s;

      if (!g_str_has_prefix (groups[i], STREAM_PREFIX))
        continue;
      s = parse_stream (kf, groups[i], base_dir, config, error);
      if (s == NULL)
        ok = FALSE;
      else if (fleet_config_find (config, s->name) != NULL)
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
              "stream '%s' is defined twice", s->name);
          stream_config_free (s);
          ok = FALSE;
        }
      else
        g_ptr_array_add (config->streams, s);
    }
  g_strfreev (groups);
  return ok;
}

static FleetConfig *
config_from_key_file (GKeyFile *kf, const gchar *base_dir, GError **error)
{
  FleetConfig *config = g_new0 (FleetConfig, 1);

  config->ref_count = 1;
  config->streams
      = g_ptr_array_new_with_free_func ((GDestroyNotify)stream_config_free);
  config->http = g_key_file_get_string (kf, "fleet", "http", NULL);
  if (config->http == NULL)
    config->http = g_strdup (DEFAULT_HTTP);
  if (!check_groups (kf, error)
      || !get_seconds (
          kf, "fleet", "stop-timeout", 10, &config->stop_timeout_s, error)
      || !parse_model (kf, base_dir, config, error)
      || !parse_streams (kf, base_dir, config, error))
    {
      fleet_config_unref (config);
      return NULL;
    }
  return config;
}

FleetConfig *
fleet_config_load (const gchar *path, GError **error)
{
  GKeyFile *kf = g_key_file_new ();
  FleetConfig *config = NULL;
  gchar *base_dir = NULL;

  if (g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, error))
    {
      gchar *abs = g_canonicalize_filename (path, NULL);

      base_dir = g_path_get_dirname (abs);
      g_free (abs);
      config = config_from_key_file (kf, base_dir, error);
    }
  else
    g_prefix_error (error, "%s: ", path);
  g_free (base_dir);
  g_key_file_unref (kf);
  return config;
}

FleetConfig *
fleet_config_load_data (
    const gchar *data, gsize length, const gchar *base_dir, GError **error)
{
  GKeyFile *kf = g_key_file_new ();
  FleetConfig *config = NULL;

  if (g_key_file_load_from_data (kf, data, length, G_KEY_FILE_NONE, error))
    config = config_from_key_file (kf, base_dir, error);
  g_key_file_unref (kf);
  return config;
}
