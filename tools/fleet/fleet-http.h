/* fleet-http.h: upm-fleet's HTTP port: /metrics (Prometheus text format),
 * /healthz, /status.json and a status page (/).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "fleet-config.h"

G_BEGIN_DECLS

/* What the pages show; owned by upm-fleet.c, read on the main loop. */
typedef struct
{
  FleetConfig *config;
  GPtrArray *streams; /* FleetStream *, in file order */
  guint shard_index, shard_count;
  gboolean stopping;
} FleetState;

typedef struct _FleetHttp FleetHttp;

/* Listens on @listen ("HOST:PORT"; port 0: any free one). */
FleetHttp *fleet_http_new (
    FleetState *state, const gchar *listen, GError **error);
/* "HOST:PORT" ("[v6]:PORT") as an address; NULL and @error if malformed. */
GSocketAddress *fleet_http_parse_listen (const gchar *listen, GError **error);
/* "http://HOST:PORT/" actually bound. */
gchar *fleet_http_url (FleetHttp *http);
void fleet_http_free (FleetHttp *http);

/* The bodies, for the server and the tests. */
gchar *fleet_metrics_text (FleetState *state);
gchar *fleet_status_json (FleetState *state);

G_END_DECLS
