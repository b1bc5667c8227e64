/* fleet-config.h: upm-fleet's configuration file (GKeyFile) and shards.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One [stream NAME] group, resolved: the fleet's own keys parsed, the
 * element keys kept as strings for gst_util_set_object_arg. */
typedef struct
{
  gchar *name;
  gchar *uri;
  gboolean live;           /* live source: the head drops, never waits */
  gboolean restart_at_eos; /* on-eos=restart (default for live sources) */
  guint rtsp_latency_ms;
  gdouble stall_timeout_s; /* live: no frame for this long = camera lost */
  gdouble reconnect_min_s, reconnect_max_s;
  GPtrArray *bin_keys, *bin_values;         /* upmbin properties */
  GPtrArray *publish_keys, *publish_values; /* upmpublish properties */
  gchar *canonical; /* everything that defines the stream, for reloads */
} FleetStreamConfig;

typedef struct
{
  gint ref_count;
  gchar *model_path;
  gchar *precision; /* NULL: the elements' default */
  gint batch_wait;  /* -1: the elements' default */
  gchar *http;      /* listen address "HOST:PORT" */
  gdouble stop_timeout_s;
  GPtrArray *streams; /* FleetStreamConfig *, in file order */
} FleetConfig;

FleetConfig *fleet_config_load (const gchar *path, GError **error);
/* The same from the text of a file; relative paths are taken from
 * @base_dir (the fuzz target reads configurations this way). */
FleetConfig *fleet_config_load_data (
    const gchar *data, gsize length, const gchar *base_dir, GError **error);
FleetConfig *fleet_config_ref (FleetConfig *config);
void fleet_config_unref (FleetConfig *config);
FleetStreamConfig *fleet_config_find (
    const FleetConfig *config, const gchar *name);

/* The shard of @name among @n_shards: the first 8 bytes of the SHA-256 of
 * the name's UTF-8 bytes as a big-endian integer, modulo @n_shards. Stable
 * across machines, versions and files. */
guint fleet_shard_of (const gchar *name, guint n_shards);
gboolean fleet_parse_shard (
    const gchar *text, guint *index, guint *count, GError **error);

G_END_DECLS
