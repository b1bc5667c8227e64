/* fuzz-fleetconf.c: upm-fleet's configuration file (GKeyFile) and --shard
 * on arbitrary bytes: a configuration or an error, never a crash or a leak.
 *
 * The model path of a configuration must name a file: "m.upm" in a
 * directory made once, so that inputs get past [model] to the streams.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fleet-config.h"

#include <glib/gstdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const gchar *
base_dir (void)
{
  static gchar *dir = NULL;

  if (dir == NULL)
    {
      gchar *model;

      dir = g_dir_make_tmp ("fuzz-fleetconf-XXXXXX", NULL);
      if (dir == NULL)
        abort ();
      model = g_build_filename (dir, "m.upm", NULL);
      if (!g_file_set_contents (model, "", 0, NULL))
        abort ();
      g_free (model);
    }
  return dir;
}

/* What a loaded configuration promises upm-fleet. */
static void
check_config (FleetConfig *config)
{
  guint i;

  if (config->model_path == NULL || config->http == NULL
      || config->stop_timeout_s < 0 || config->stop_timeout_s > 86400)
    abort ();
  for (i = 0; i < config->streams->len; i++)
    {
      FleetStreamConfig *s = g_ptr_array_index (config->streams, i);

      if (s->name[0] == '\0' || strpbrk (s->name, "\"\\/{}\n") != NULL
          || s->canonical == NULL || fleet_config_find (config, s->name) != s
          || s->bin_keys->len != s->bin_values->len
          || s->publish_keys->len != s->publish_values->len
          || s->reconnect_min_s < 0 || s->stall_timeout_s < 0)
        abort ();
      if (fleet_shard_of (s->name, 7) >= 7 || fleet_shard_of (s->name, 1) != 0)
        abort ();
    }
  /* a reload holds a second reference */
  fleet_config_unref (fleet_config_ref (config));
}

static void
check_shard (const uint8_t *data, size_t size)
{
  gchar *text = g_strndup ((const gchar *)data, MIN (size, 64));
  GError *error = NULL;
  guint index = 0, count = 0;

  if (fleet_parse_shard (text, &index, &count, &error))
    {
      if (error != NULL || count == 0 || index >= count)
        abort ();
    }
  else if (error == NULL || error->message == NULL)
    abort ();
  g_clear_error (&error);
  g_free (text);
}

static gboolean
glib_parses (const uint8_t *data, size_t size)
{
  GKeyFile *kf = g_key_file_new ();
  gboolean ok = g_key_file_load_from_data (
      kf, (const gchar *)data, size, G_KEY_FILE_NONE, NULL);

  g_key_file_unref (kf);
  return ok;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  FleetConfig *config;

  config
      = fleet_config_load_data ((const gchar *)data, size, base_dir (), &error);
  if ((config == NULL) == (error == NULL))
    abort (); /* exactly one of a configuration and an error */
  if (config != NULL)
    {
      check_config (config);
      fleet_config_unref (config);
    }
  else if (error->message == NULL
           || (glib_parses (data, size)
               && !g_utf8_validate (error->message, -1, NULL)))
    abort (); /* our messages are UTF-8 (GLib's own may quote bad bytes) */
  g_clear_error (&error);
  check_shard (data, size);
  return 0;
}
