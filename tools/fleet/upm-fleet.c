/* upm-fleet: many cameras in one process on one shared model, results
 * published by upmpublish, watched over HTTP.
 *
 *   upm-fleet --config fleet.conf [--shard I/N] [--http HOST:PORT]
 *
 * Each [stream NAME] of the file runs as its own pipeline (fleet-stream.c);
 * a camera that drops reconnects with backoff while the others go on.
 * SIGHUP reloads the file: streams that were added start, removed ones
 * stop, changed ones restart, the others are not touched. SIGTERM and
 * SIGINT send EOS to every stream (upmpublish then delivers its outbox),
 * wait at most [fleet] stop-timeout, and exit 0.
 *
 * --shard I/N runs only the streams whose name hashes to I (the first 8
 * bytes of SHA-256 of the name as a big-endian integer, mod N;
 * fleet_shard_of), so that N machines share one file.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <locale.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "fleet-config.h"
#include "fleet-http.h"
#include "fleet-stream.h"

typedef struct
{
  FleetState state;
  gchar *config_path;
  FleetHttp *http;
  GMainLoop *loop;
  GPtrArray *retiring; /* streams draining after a reload removed them */
  guint pending_stop;
  guint stop_deadline;
} Fleet;

static gboolean
in_shard (const Fleet *fleet, const FleetStreamConfig *sc)
{
  return fleet_shard_of (sc->name, fleet->state.shard_count)
         == fleet->state.shard_index;
}

/* The configuration with every stream's element keys checked. */
static FleetConfig *
load_checked (const gchar *path, GError **error)
{
  FleetConfig *config = fleet_config_load (path, error);
  guint i;

  for (i = 0; config != NULL && i < config->streams->len; i++)
    if (!fleet_stream_check_config (
            config, g_ptr_array_index (config->streams, i), error))
      {
        fleet_config_unref (config);
        config = NULL;
      }
  return config;
}

static FleetStream *
find_stream (GPtrArray *streams, const gchar *name)
{
  guint i;

  for (i = 0; i < streams->len; i++)
    if (strcmp (fleet_stream_name (g_ptr_array_index (streams, i)), name) == 0)
      return g_ptr_array_index (streams, i);
  return NULL;
}

static void stopped_one (FleetStream *stream, gpointer data);

/* -------------------------------------------------------------- reload */

typedef struct
{
  Fleet *fleet;
  FleetStream *next; /* started once the old one drained; may be NULL */
} Retire;

static gboolean
free_stream_idle (gpointer data)
{
  fleet_stream_free (data);
  return G_SOURCE_REMOVE;
}

static void
retired (FleetStream *old, gpointer data)
{
  Retire *r = data;

  g_ptr_array_remove (r->fleet->retiring, old);
  g_idle_add (free_stream_idle, old);
  if (r->next != NULL && !r->fleet->state.stopping)
    fleet_stream_start (r->next);
  if (r->fleet->state.stopping)
    stopped_one (NULL, r->fleet);
  g_free (r);
}

static void
retire (Fleet *fleet, FleetStream *old, FleetStream *next)
{
  Retire *r = g_new0 (Retire, 1);

  r->fleet = fleet;
  r->next = next;
  g_ptr_array_add (fleet->retiring, old);
  fleet_stream_drain (old, fleet->state.config->stop_timeout_s, retired, r);
}

static void
reload (Fleet *fleet)
{
  GError *error = NULL;
  FleetConfig *config = load_checked (fleet->config_path, &error);
  GPtrArray *old = fleet->state.streams, *now;
  guint i, added = 0, removed = 0, changed = 0;

  if (config == NULL)
    {
      g_warning (
          "reload: %s; keeping the running configuration", error->message);
      g_error_free (error);
      return;
    }
  now = g_ptr_array_new ();
  for (i = 0; i < config->streams->len; i++)
    {
      FleetStreamConfig *sc = g_ptr_array_index (config->streams, i);
      FleetStream *s;

      if (!in_shard (fleet, sc))
        continue;
      s = find_stream (old, sc->name);
      if (s != NULL
          && strcmp (fleet_stream_config (s)->canonical, sc->canonical) == 0)
        {
          g_ptr_array_add (now, s); /* unchanged: not touched */
          g_ptr_array_remove (old, s);
          continue;
        }
      g_ptr_array_add (now, fleet_stream_new (config, sc));
      if (s != NULL)
        {
          g_message ("reload: stream %s changed, restarting it", sc->name);
          g_ptr_array_remove (old, s);
          retire (fleet, s, g_ptr_array_index (now, now->len - 1));
          changed++;
        }
      else
        {
          g_message ("reload: stream %s added", sc->name);
          fleet_stream_start (g_ptr_array_index (now, now->len - 1));
          added++;
        }
    }
  for (i = 0; i < old->len; i++)
    {
      g_message ("reload: stream %s removed, stopping it",
          fleet_stream_name (g_ptr_array_index (old, i)));
      removed++;
    }
  while (old->len > 0)
    retire (fleet, g_ptr_array_steal_index (old, 0), NULL);
  g_ptr_array_unref (old);
  fleet->state.streams = now;
  fleet_config_unref (fleet->state.config);
  fleet->state.config = config;
  g_message ("reload: %u added, %u removed, %u changed, %u running", added,
      removed, changed, now->len);
}

static gboolean
on_sighup (gpointer data)
{
  Fleet *fleet = data;

  if (!fleet->state.stopping)
    reload (fleet);
  return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------- stop */

static void
stopped_one (FleetStream *stream, gpointer data)
{
  Fleet *fleet = data;

  if (--fleet->pending_stop == 0)
    g_main_loop_quit (fleet->loop);
}

static gboolean
stop_deadline (gpointer data)
{
  Fleet *fleet = data;

  fleet->stop_deadline = 0;
  g_warning ("stop: %u streams still draining after the deadline; exiting",
      fleet->pending_stop);
  g_main_loop_quit (fleet->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_stop_signal (gpointer data)
{
  Fleet *fleet = data;
  GPtrArray *all;
  guint i;

  if (fleet->state.stopping)
    {
      g_message ("second stop signal: exiting now");
      g_main_loop_quit (fleet->loop);
      return G_SOURCE_CONTINUE;
    }
  fleet->state.stopping = TRUE;
  g_message ("stopping %u streams (EOS, outboxes delivered, at most %.0f s)",
      fleet->state.streams->len, fleet->state.config->stop_timeout_s);
  all = g_ptr_array_copy (fleet->state.streams, NULL, NULL);
  /* the streams a reload retired drain already; wait for them too */
  fleet->pending_stop = all->len + fleet->retiring->len + 1;
  for (i = 0; i < all->len; i++)
    fleet_stream_drain (g_ptr_array_index (all, i),
        fleet->state.config->stop_timeout_s, stopped_one, fleet);
  g_ptr_array_unref (all);
  fleet->stop_deadline = g_timeout_add_seconds (
      (guint)fleet->state.config->stop_timeout_s + 5, stop_deadline, fleet);
  stopped_one (NULL, fleet);
  return G_SOURCE_CONTINUE;
}

static gboolean
tick (gpointer data)
{
  Fleet *fleet = data;
  guint i;

  for (i = 0; i < fleet->state.streams->len; i++)
    fleet_stream_tick (g_ptr_array_index (fleet->state.streams, i));
  return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------- main */

static void
list_streams (Fleet *fleet)
{
  guint i;

  for (i = 0; i < fleet->state.config->streams->len; i++)
    {
      FleetStreamConfig *sc
          = g_ptr_array_index (fleet->state.config->streams, i);

      g_print ("%s\tshard %u/%u\t%s\n", sc->name,
          fleet_shard_of (sc->name, fleet->state.shard_count),
          fleet->state.shard_count, in_shard (fleet, sc) ? "here" : "-");
    }
}

static void
start_streams (Fleet *fleet)
{
  FleetConfig *config = fleet->state.config;
  guint i;

  for (i = 0; i < config->streams->len; i++)
    {
      FleetStreamConfig *sc = g_ptr_array_index (config->streams, i);

      if (in_shard (fleet, sc))
        g_ptr_array_add (fleet->state.streams, fleet_stream_new (config, sc));
    }
  g_message ("shard %u/%u: %u of %u streams, model %s",
      fleet->state.shard_index, fleet->state.shard_count,
      fleet->state.streams->len, config->streams->len, config->model_path);
  for (i = 0; i < fleet->state.streams->len; i++)
    fleet_stream_start (g_ptr_array_index (fleet->state.streams, i));
}

static gboolean
write_url_file (const gchar *path, const gchar *url, GError **error)
{
  gchar *text = g_strconcat (url, "\n", NULL);
  gboolean ok = g_file_set_contents (path, text, -1, error);

  g_free (text);
  return ok;
}

static void
fleet_clear (Fleet *fleet)
{
  guint i;

  fleet_http_free (fleet->http);
  if (fleet->state.streams != NULL)
    {
      for (i = 0; i < fleet->state.streams->len; i++)
        fleet_stream_free (g_ptr_array_index (fleet->state.streams, i));
      g_ptr_array_unref (fleet->state.streams);
    }
  if (fleet->retiring != NULL)
    {
      /* drained with a timer of their own: stop them now */
      for (i = 0; i < fleet->retiring->len; i++)
        fleet_stream_free (g_ptr_array_index (fleet->retiring, i));
      g_ptr_array_unref (fleet->retiring);
    }
  fleet_config_unref (fleet->state.config);
  if (fleet->loop != NULL)
    g_main_loop_unref (fleet->loop);
  g_free (fleet->config_path);
}

/* glibc's malloc keeps freed memory inside its heaps. A fleet frees and
 * reallocates frames, clips and messages on ~85 threads for 16 cameras,
 * so free holes pile up between live blocks: in the soak runs (README
 * "Fleets", Endurance) the resident size crept up by tens of MB an hour
 * while the live heap stayed at ~30 MB (heaptrack). Two things keep it
 * flat: at most two arenas instead of 8 per core (MALLOC_ARENA_MAX in the
 * environment still wins: glibc read it already), and giving the free
 * pages back once a minute (malloc_trim walks the arenas in a few ms). */
#define TRIM_EVERY_S 60

static void
limit_malloc_arenas (void)
{
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
  if (g_getenv ("MALLOC_ARENA_MAX") == NULL)
    mallopt (M_ARENA_MAX, 2);
#endif
}

static gboolean
trim_malloc (gpointer data)
{
  (void)data;
#ifdef __GLIBC__
  malloc_trim (0);
#endif
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  Fleet fleet = { 0 };
  gchar *config_path = NULL, *shard = NULL, *http = NULL, *url_file = NULL;
  gboolean check = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
        "The stream list (GKeyFile)", "FILE" },
    { "shard", 's', 0, G_OPTION_ARG_STRING, &shard,
        "Run only the streams of shard I of N (name hash mod N)", "I/N" },
    { "http", 0, 0, G_OPTION_ARG_STRING, &http,
        "Listen address of /metrics, /healthz and the status page (default: "
        "[fleet] http, else 127.0.0.1:9464; port 0: any free port)",
        "HOST:PORT" },
    { "url-file", 0, 0, G_OPTION_ARG_FILENAME, &url_file,
        "Write the status page's URL there once listening", "FILE" },
    { "check", 0, 0, G_OPTION_ARG_NONE, &check,
        "Check the file, list the streams and their shards, exit", NULL },
    { NULL },
  };
  GOptionContext *ctx
      = g_option_context_new ("- run many cameras on one model");
  GError *error = NULL;
  gchar *url;
  int rc = 0;

  limit_malloc_arenas ();
  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    goto usage;
  fleet.state.shard_count = 1;
  if (config_path == NULL)
    {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--config FILE is required");
      goto usage;
    }
  if (shard != NULL
      && !fleet_parse_shard (
          shard, &fleet.state.shard_index, &fleet.state.shard_count, &error))
    goto usage;
  g_option_context_free (ctx);
  ctx = NULL;

  fleet.config_path = g_strdup (config_path);
  fleet.state.config = load_checked (config_path, &error);
  if (fleet.state.config == NULL)
    goto fail;
  fleet.state.streams = g_ptr_array_new ();
  fleet.retiring = g_ptr_array_new ();
  if (check)
    {
      GSocketAddress *addr = fleet_http_parse_listen (
          http != NULL ? http : fleet.state.config->http, &error);

      if (addr == NULL)
        goto fail;
      g_object_unref (addr);
      list_streams (&fleet);
      goto done;
    }
  fleet.http = fleet_http_new (
      &fleet.state, http != NULL ? http : fleet.state.config->http, &error);
  if (fleet.http == NULL)
    goto fail;
  url = fleet_http_url (fleet.http);
  g_message ("status page %s (metrics %smetrics)", url, url);
  if (url_file != NULL && !write_url_file (url_file, url, &error))
    {
      g_free (url);
      goto fail;
    }
  g_free (url);

  fleet.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGHUP, on_sighup, &fleet);
  g_unix_signal_add (SIGTERM, on_stop_signal, &fleet);
  g_unix_signal_add (SIGINT, on_stop_signal, &fleet);
  g_timeout_add_seconds (1, tick, &fleet);
  g_timeout_add_seconds (TRIM_EVERY_S, trim_malloc, NULL);
  start_streams (&fleet);
  g_main_loop_run (fleet.loop);
  g_message ("stopped");
  goto done;

usage:
  g_printerr ("upm-fleet: %s (--help for the options)\n", error->message);
  rc = 2;
  goto done;
fail:
  g_printerr ("upm-fleet: %s\n", error->message);
  rc = 1;
done:
  g_clear_error (&error);
  if (ctx != NULL)
    g_option_context_free (ctx);
  fleet_clear (&fleet);
  g_free (config_path);
  g_free (shard);
  g_free (http);
  g_free (url_file);
  return rc;
}
