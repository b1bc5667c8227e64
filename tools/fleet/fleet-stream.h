/* fleet-stream.h: one camera of upm-fleet: its own pipeline, restarted with
 * backoff when the camera drops, its counters and last result.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "fleet-config.h"

G_BEGIN_DECLS

typedef enum
{
  FLEET_STREAM_RUNNING,  /* pipeline up */
  FLEET_STREAM_BACKOFF,  /* camera lost or error: waiting to reconnect */
  FLEET_STREAM_DRAINING, /* EOS sent, waiting for it (and the outbox) */
  FLEET_STREAM_FINISHED, /* a file ended (on-eos=stop) */
  FLEET_STREAM_STOPPED,
} FleetStreamState;

/* Result latency buckets (seconds), Prometheus "le" bounds. */
#define FLEET_LATENCY_BUCKETS 12
extern const gdouble fleet_latency_bounds[FLEET_LATENCY_BUCKETS];

typedef struct
{
  guint64 results;      /* results of every pipeline this stream ran */
  guint64 head_dropped; /* clips the head dropped (live, queue full) */
  guint64 publish_ok;   /* upmpublish: published */
  guint64 publish_dropped;
  guint64 publish_reconnects;
  guint64 outbox_depth; /* now */
  guint64 reconnects;   /* camera lost / error, pipeline restarted */
  guint64 errors;       /* ERROR messages */
  guint64 latency_counts[FLEET_LATENCY_BUCKETS + 1]; /* last: +Inf */
  gdouble latency_sum;
  gint64 last_result_wall_us;
  gchar *last_text; /* last caption, or the labels with their probs */
  gchar *last_task;
  gchar *last_error;
  gint64 started_us; /* monotonic time of the current pipeline's start */
} FleetStreamStats;

typedef struct _FleetStream FleetStream;
typedef void (*FleetStreamDone) (FleetStream *stream, gpointer user_data);

FleetStream *fleet_stream_new (FleetConfig *config, FleetStreamConfig *sc);
void fleet_stream_start (FleetStream *stream);
/* EOS to the pipeline, then NULL once it arrived or after @timeout_s;
 * @done runs then (at once when nothing runs). */
void fleet_stream_drain (FleetStream *stream, gdouble timeout_s,
    FleetStreamDone done, gpointer user_data);
/* Once a second: a live stream without frames for stall-timeout is a lost
 * camera; the element counters are read. */
void fleet_stream_tick (FleetStream *stream);
void fleet_stream_free (FleetStream *stream);

const gchar *fleet_stream_name (const FleetStream *stream);
const FleetStreamConfig *fleet_stream_config (const FleetStream *stream);
FleetStreamState fleet_stream_state (const FleetStream *stream);
const gchar *fleet_stream_state_name (FleetStreamState state);
const FleetStreamStats *fleet_stream_stats (const FleetStream *stream);
gdouble fleet_stream_results_per_second (const FleetStream *stream);
/* The URI without user name and password, for pages and logs. */
gchar *fleet_stream_public_uri (const FleetStream *stream);

/* NULL when every upmbin / upmpublish key of @sc is a property of the
 * element; otherwise a message naming the key. */
gboolean fleet_stream_check_config (
    const FleetConfig *config, const FleetStreamConfig *sc, GError **error);

G_END_DECLS
