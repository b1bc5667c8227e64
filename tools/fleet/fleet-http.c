/* fleet-http.c: upm-fleet's HTTP port (libsoup 3, on the main loop).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fleet-http.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fleet-stream.h"

struct _FleetHttp
{
  SoupServer *server;
  FleetState *state;
};

/* ------------------------------------------------------------- /metrics */

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void
append_label_value (GString *out, const gchar *value)
{
  const gchar *p;

  for (p = value ? value : ""; *p != '\0'; p++)
    {
      if (*p == '\\' || *p == '"')
        g_string_append_c (out, '\\');
      if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

static void
header (GString *out, const gchar *name, const gchar *type, const gchar *help)
{
  g_string_append_printf (
      out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

typedef guint64 (*StatGetter) (const FleetStream *stream);

static void
per_stream (GString *out, FleetState *state, const gchar *name,
    const gchar *type, const gchar *help, StatGetter get)
{
  guint i;

  header (out, name, type, help);
  for (i = 0; i < state->streams->len; i++)
    {
      FleetStream *s = g_ptr_array_index (state->streams, i);

      g_string_append_printf (out, "%s{stream=\"", name);
      append_label_value (out, fleet_stream_name (s));
      g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n", get (s));
    }
}

#define GETTER(fn, field)                                                      \
  static guint64 fn (const FleetStream *s)                                     \
  {                                                                            \
    return fleet_stream_stats (s)->field;                                      \
  }
GETTER (get_results, results)
GETTER (get_head_dropped, head_dropped)
GETTER (get_published, publish_ok)
GETTER (get_publish_dropped, publish_dropped)
GETTER (get_publish_reconnects, publish_reconnects)
GETTER (get_outbox, outbox_depth)
GETTER (get_reconnects, reconnects)
GETTER (get_errors, errors)
#undef GETTER

static guint64
get_up (const FleetStream *s)
{
  return fleet_stream_state (s) == FLEET_STREAM_RUNNING;
}

static void
stream_label (GString *out, const FleetStream *s)
{
  g_string_append (out, "stream=\"");
  append_label_value (out, fleet_stream_name (s));
  g_string_append_c (out, '"');
}

static void
rates (GString *out, FleetState *state)
{
  guint i;

  header (out, "upm_fleet_results_per_second", "gauge",
      "Results per second over the last 10 s");
  for (i = 0; i < state->streams->len; i++)
    {
      FleetStream *s = g_ptr_array_index (state->streams, i);

      g_string_append (out, "upm_fleet_results_per_second{");
      stream_label (out, s);
      g_string_append_printf (
          out, "} %.3f\n", fleet_stream_results_per_second (s));
    }
}

static void
latency_histograms (GString *out, FleetState *state)
{
  const gchar *name = "upm_fleet_result_latency_seconds";
  guint i, b;

  header (out, name, "histogram",
      "From the arrival of a clip's last frame to its result");
  for (i = 0; i < state->streams->len; i++)
    {
      FleetStream *s = g_ptr_array_index (state->streams, i);
      const FleetStreamStats *st = fleet_stream_stats (s);
      guint64 cumulative = 0;

      for (b = 0; b <= FLEET_LATENCY_BUCKETS; b++)
        {
          cumulative += st->latency_counts[b];
          g_string_append_printf (out, "%s_bucket{", name);
          stream_label (out, s);
          if (b < FLEET_LATENCY_BUCKETS)
            g_string_append_printf (out, ",le=\"%g\"} %" G_GUINT64_FORMAT "\n",
                fleet_latency_bounds[b], cumulative);
          else
            g_string_append_printf (
                out, ",le=\"+Inf\"} %" G_GUINT64_FORMAT "\n", cumulative);
        }
      g_string_append_printf (out, "%s_sum{", name);
      stream_label (out, s);
      g_string_append_printf (out, "} %.6f\n%s_count{", st->latency_sum, name);
      stream_label (out, s);
      g_string_append_printf (out, "} %" G_GUINT64_FORMAT "\n", cumulative);
    }
}

static guint64
resident_bytes (void)
{
  gchar *text = NULL;
  guint64 pages = 0;

  if (g_file_get_contents ("/proc/self/statm", &text, NULL, NULL))
    {
      gchar **f = g_strsplit (text, " ", 3);

      if (f[0] != NULL && f[1] != NULL)
        pages = g_ascii_strtoull (f[1], NULL, 10);
      g_strfreev (f);
    }
  g_free (text);
  return pages * (guint64)sysconf (_SC_PAGESIZE);
}

/* glibc's heap: what the program holds, and what malloc keeps free in its
 * arenas without giving it back. RSS that grows while the first stays flat
 * is fragmentation, not a leak. */
static void
heap_metrics (GString *out)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  struct mallinfo2 mi = mallinfo2 ();

  if (mi.arena == 0 && mi.hblkhd == 0)
    return; /* malloc is not glibc's (a sanitizer's, jemalloc): no figures */
  header (out, "upm_fleet_heap_allocated_bytes", "gauge",
      "Bytes the process holds from malloc (glibc mallinfo2: uordblks + "
      "hblkhd)");
  g_string_append_printf (
      out, "upm_fleet_heap_allocated_bytes %zu\n", mi.uordblks + mi.hblkhd);
  header (out, "upm_fleet_heap_free_bytes", "gauge",
      "Free bytes malloc keeps in its arenas (glibc mallinfo2: fordblks)");
  g_string_append_printf (out, "upm_fleet_heap_free_bytes %zu\n", mi.fordblks);
#else
  (void)out;
#endif
}

static void
process_metrics (GString *out, FleetState *state)
{
  struct rusage ru;
  gdouble cpu = 0;

  if (getrusage (RUSAGE_SELF, &ru) == 0)
    cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
          + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  header (out, "process_cpu_seconds_total", "counter",
      "User and system CPU time of the process");
  g_string_append_printf (out, "process_cpu_seconds_total %.3f\n", cpu);
  header (out, "process_resident_memory_bytes", "gauge",
      "Resident memory of the process");
  g_string_append_printf (out,
      "process_resident_memory_bytes %" G_GUINT64_FORMAT "\n",
      resident_bytes ());
  heap_metrics (out);
  header (out, "upm_fleet_model_info", "gauge",
      "The model all streams of this process share");
  g_string_append (out, "upm_fleet_model_info{path=\"");
  append_label_value (out, state->config->model_path);
  g_string_append (out, "\",precision=\"");
  append_label_value (
      out, state->config->precision ? state->config->precision : "auto");
  g_string_append (out, "\"} 1\n");
  header (out, "upm_fleet_shard_info", "gauge",
      "This process's share of the stream list (--shard I/N)");
  g_string_append_printf (out,
      "upm_fleet_shard_info{index=\"%u\",count=\"%u\"} 1\n", state->shard_index,
      state->shard_count);
  header (out, "upm_fleet_streams", "gauge", "Streams this process runs");
  g_string_append_printf (out, "upm_fleet_streams %u\n", state->streams->len);
}

gchar *
fleet_metrics_text (FleetState *state)
{
  GString *out = g_string_new (NULL);

  per_stream (out, state, "upm_fleet_clips_total", "counter",
      "Clips with a result (classified, retrieved or captioned)", get_results);
  rates (out, state);
  latency_histograms (out, state);
  per_stream (out, state, "upm_fleet_clips_dropped_total", "counter",
      "Clips the head dropped on a live stream (queue full, max-pending)",
      get_head_dropped);
  per_stream (out, state, "upm_fleet_published_total", "counter",
      "Results upmpublish delivered", get_published);
  per_stream (out, state, "upm_fleet_publish_dropped_total", "counter",
      "Results upmpublish dropped (outbox full)", get_publish_dropped);
  per_stream (out, state, "upm_fleet_publish_reconnects_total", "counter",
      "upmpublish's reconnections to the broker", get_publish_reconnects);
  per_stream (out, state, "upm_fleet_outbox_depth", "gauge",
      "Results waiting in upmpublish's outbox", get_outbox);
  per_stream (out, state, "upm_fleet_reconnects_total", "counter",
      "Times the stream's pipeline was restarted (camera lost, error)",
      get_reconnects);
  per_stream (out, state, "upm_fleet_errors_total", "counter",
      "Errors the stream's pipeline posted", get_errors);
  per_stream (out, state, "upm_fleet_stream_up", "gauge",
      "1 while the stream's pipeline runs", get_up);
  process_metrics (out, state);
  return g_string_free (out, FALSE);
}

/* --------------------------------------------------------- /status.json */

static void
stream_json (JsonBuilder *b, FleetStream *s)
{
  const FleetStreamStats *st = fleet_stream_stats (s);
  gchar *uri = fleet_stream_public_uri (s);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, fleet_stream_name (s));
  json_builder_set_member_name (b, "uri");
  json_builder_add_string_value (b, uri);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (
      b, fleet_stream_state_name (fleet_stream_state (s)));
  json_builder_set_member_name (b, "task");
  json_builder_add_string_value (b, st->last_task ? st->last_task : "");
  json_builder_set_member_name (b, "last");
  json_builder_add_string_value (b, st->last_text ? st->last_text : "");
  json_builder_set_member_name (b, "last_result_unix");
  json_builder_add_double_value (b, st->last_result_wall_us / 1e6);
  json_builder_set_member_name (b, "clips");
  json_builder_add_int_value (b, (gint64)st->results);
  json_builder_set_member_name (b, "results_per_second");
  json_builder_add_double_value (b, fleet_stream_results_per_second (s));
  json_builder_set_member_name (b, "dropped");
  json_builder_add_int_value (b, (gint64)st->head_dropped);
  json_builder_set_member_name (b, "published");
  json_builder_add_int_value (b, (gint64)st->publish_ok);
  json_builder_set_member_name (b, "outbox_depth");
  json_builder_add_int_value (b, (gint64)st->outbox_depth);
  json_builder_set_member_name (b, "reconnects");
  json_builder_add_int_value (b, (gint64)st->reconnects);
  json_builder_set_member_name (b, "last_error");
  json_builder_add_string_value (b, st->last_error ? st->last_error : "");
  json_builder_end_object (b);
  g_free (uri);
}

gchar *
fleet_status_json (FleetState *state)
{
  JsonBuilder *b = json_builder_new ();
  JsonNode *root;
  gchar *text, *shard;
  guint i;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "shard");
  shard = g_strdup_printf ("%u/%u", state->shard_index, state->shard_count);
  json_builder_add_string_value (b, shard);
  g_free (shard);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, state->config->model_path);
  json_builder_set_member_name (b, "precision");
  json_builder_add_string_value (
      b, state->config->precision ? state->config->precision : "auto");
  json_builder_set_member_name (b, "stopping");
  json_builder_add_boolean_value (b, state->stopping);
  json_builder_set_member_name (b, "streams");
  json_builder_begin_array (b);
  for (i = 0; i < state->streams->len; i++)
    stream_json (b, g_ptr_array_index (state->streams, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  json_node_unref (root);
  g_object_unref (b);
  return text;
}

/* ------------------------------------------------------------ the page */

/* Plain HTML; a little JS polls /status.json once a second. */
static const gchar status_page[]
    = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
      "<title>upm-fleet</title>\n<style>\n"
      "body{font-family:sans-serif;margin:1em}"
      "table{border-collapse:collapse}td,th{border:1px solid #999;"
      "padding:4px 8px;text-align:left}th{background:#eee}"
      "td:first-child{white-space:nowrap}"
      ".running{color:#070}.reconnecting{color:#b50}"
      ".last{font-size:1.2em}\n</style></head><body>\n"
      "<h1>upm-fleet</h1><p id=\"info\">loading...</p>\n"
      "<table><thead><tr><th>stream</th><th>state</th><th>task</th>"
      "<th>last caption / labels</th><th>clips</th><th>results/s</th>"
      "<th>dropped</th><th>outbox</th><th>reconnects</th></tr></thead>"
      "<tbody id=\"streams\"></tbody></table>\n<script>\n"
      "function cell(tr,text,cls){var td=document.createElement('td');"
      "td.textContent=text;if(cls)td.className=cls;tr.appendChild(td);}\n"
      "function show(s){\n"
      " document.getElementById('info').textContent='model '+s.model+' ('+"
      "s.precision+'), shard '+s.shard+', '+s.streams.length+' streams'+"
      "(s.stopping?', stopping':'');\n"
      " var body=document.getElementById('streams');body.textContent='';\n"
      " s.streams.forEach(function(t){var tr=document.createElement('tr');"
      "tr.id='stream-'+t.name;cell(tr,t.name);cell(tr,t.state,t.state);"
      "cell(tr,t.task);cell(tr,t.last,'last');cell(tr,t.clips);"
      "cell(tr,t.results_per_second.toFixed(2));cell(tr,t.dropped);"
      "cell(tr,t.outbox_depth);cell(tr,t.reconnects);body.appendChild(tr);});\n"
      "}\n"
      "function poll(){fetch('/status.json').then(function(r){return "
      "r.json();})"
      ".then(show).catch(function(e){document.getElementById('info')"
      ".textContent='no answer: '+e;});}\n"
      "poll();setInterval(poll,1000);\n"
      "</script></body></html>\n";

static void
respond (SoupServerMessage *msg, guint status, const gchar *type, gchar *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (
      msg, type, SOUP_MEMORY_TAKE, body, strlen (body));
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer data)
{
  FleetHttp *http = data;
  const gchar *method = soup_server_message_get_method (msg);

  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    respond (msg, 405, "text/plain", g_strdup ("GET only\n"));
  else if (strcmp (path, "/metrics") == 0)
    respond (msg, 200, "text/plain; version=0.0.4; charset=utf-8",
        fleet_metrics_text (http->state));
  else if (strcmp (path, "/healthz") == 0)
    respond (msg, http->state->stopping ? 503 : 200, "text/plain",
        g_strdup (http->state->stopping ? "stopping\n" : "ok\n"));
  else if (strcmp (path, "/status.json") == 0)
    respond (msg, 200, "application/json", fleet_status_json (http->state));
  else if (strcmp (path, "/") == 0)
    respond (msg, 200, "text/html; charset=utf-8", g_strdup (status_page));
  else
    respond (msg, 404, "text/plain", g_strdup ("not found\n"));
}

GSocketAddress *
fleet_http_parse_listen (const gchar *listen, GError **error)
{
  const gchar *colon = strrchr (listen, ':');
  gchar *host, *end = NULL;
  guint64 port;
  GInetAddress *addr;
  GSocketAddress *out;

  if (colon == NULL)
    goto bad;
  port = g_ascii_strtoull (colon + 1, &end, 10);
  if (end == colon + 1 || *end != '\0' || port > 65535)
    goto bad;
  host = g_strndup (listen, colon - listen);
  if (host[0] == '[' && host[strlen (host) - 1] == ']')
    {
      memmove (host, host + 1, strlen (host));
      host[strlen (host) - 1] = '\0';
    }
  addr = g_inet_address_new_from_string (host);
  g_free (host);
  if (addr == NULL)
    goto bad;
  out = g_inet_socket_address_new (addr, (guint16)port);
  g_object_unref (addr);
  return out;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
      "http listen address '%s': want IP:PORT (e.g. 127.0.0.1:9464, "
      "[::1]:9464, 0.0.0.0:9464)",
      listen);
  return NULL;
}

FleetHttp *
fleet_http_new (FleetState *state, const gchar *listen, GError **error)
{
  FleetHttp *http;
  GSocketAddress *addr = fleet_http_parse_listen (listen, error);

  if (addr == NULL)
    return NULL;
  http = g_new0 (FleetHttp, 1);
  http->state = state;
  http->server = soup_server_new ("server-header", "upm-fleet", NULL);
  soup_server_add_handler (http->server, NULL, handle, http, NULL);
  if (!soup_server_listen (http->server, addr, 0, error))
    {
      g_prefix_error (error, "http %s: ", listen);
      g_object_unref (addr);
      fleet_http_free (http);
      return NULL;
    }
  g_object_unref (addr);
  return http;
}

gchar *
fleet_http_url (FleetHttp *http)
{
  GSList *uris = soup_server_get_uris (http->server);
  gchar *out = uris ? g_uri_to_string (uris->data) : g_strdup ("");

  g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
  return out;
}

void
fleet_http_free (FleetHttp *http)
{
  if (http == NULL)
    return;
  if (http->server != NULL)
    {
      soup_server_disconnect (http->server);
      g_object_unref (http->server);
    }
  g_free (http);
}
