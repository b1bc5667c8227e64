/* test-upmpublish.c: upmpublish against a mosquitto broker of its own on
 * 127.0.0.1 (a free port, a generated config) and a JSON-lines file.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The broker ($UPM_MOSQUITTO) is started and stopped by each test; it gets
 * SIGKILL from the kernel when the test process ends in any way
 * (PR_SET_PDEATHSIG), so that no exit path leaves it running. A subscriber
 * (libmosquitto, its own thread) collects what arrives. Every wait is
 * bounded.
 */
#include <arpa/inet.h>
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "upm-test-harness.h"
#include "upmmeta.h"

#define WAIT_S 20 /* the longest any one wait may take (loaded machine) */

static const GstUpmScore scores[] = {
  { (gchar *)"moving left", 2, 8.5f, 0.75f },
  { (gchar *)"moving up", 0, 6.25f, 0.25f },
};

static const GstUpmRoute routes[] = {
  { 0, GST_UPM_GATE_ATTN, "cls_input", 0, 17, { 3, 1 }, { 0.625f, 0.375f } },
  { 1, GST_UPM_GATE_FFN, "cls_input", 0, 17, { 3, 0 }, { 0.5f, 0.5f } },
};

/* --------------------------------------------------------------- broker */

typedef struct
{
  GPid pid;
  guint port;
  gchar *dir, *conf, *log;
} Broker;

static guint
free_port (void)
{
  struct sockaddr_in a = { 0 };
  socklen_t len = sizeof a;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (bind (fd, (struct sockaddr *)&a, sizeof a) == 0);
  fail_unless (getsockname (fd, (struct sockaddr *)&a, &len) == 0);
  close (fd);
  return ntohs (a.sin_port);
}

static gboolean
port_open (guint port)
{
  struct sockaddr_in a = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  gboolean ok;

  a.sin_family = AF_INET;
  a.sin_port = htons (port);
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  ok = connect (fd, (struct sockaddr *)&a, sizeof a) == 0;
  close (fd);
  return ok;
}

static void
die_with_parent (gpointer unused)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* A broker directory and a free port; broker_configure writes the config. */
static void
broker_init (Broker *b)
{
  b->port = free_port ();
  b->dir = g_dir_make_tmp ("upmpublish-broker-XXXXXX", NULL);
  fail_unless (b->dir != NULL);
  b->conf = g_build_filename (b->dir, "mosquitto.conf", NULL);
  b->log = g_build_filename (b->dir, "mosquitto.log", NULL);
}

/* The config: a listener on 127.0.0.1:port only, the persistence file in
 * the directory (saved every second), and @access (NULL: anonymous). */
static void
broker_configure (Broker *b, const gchar *access)
{
  /* "user": as root the broker would switch to the user mosquitto, who
   * cannot write the test's directory */
  gchar *text = g_strdup_printf ("user %s\n"
                                 "listener %u 127.0.0.1\n"
                                 "persistence true\n"
                                 "persistence_location %s/\n"
                                 "autosave_interval 1\n"
                                 "max_queued_messages 10000\n"
                                 "log_dest file %s\n"
                                 "log_type all\n"
                                 "%s\n",
      g_get_user_name (), b->port, b->dir, b->log,
      access ? access : "allow_anonymous true");

  fail_unless (g_file_set_contents (b->conf, text, -1, NULL));
  g_free (text);
}

static void
broker_start (Broker *b)
{
  const gchar *exe = g_getenv ("UPM_MOSQUITTO");
  gchar *argv[]
      = { (gchar *)(exe ? exe : "mosquitto"), (gchar *)"-c", b->conf, NULL };
  GError *err = NULL;
  gint64 end = g_get_monotonic_time () + WAIT_S * G_TIME_SPAN_SECOND;

  fail_unless (g_spawn_async (NULL, argv, NULL,
                   G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                   die_with_parent, NULL, &b->pid, &err),
      "cannot start mosquitto: %s", err ? err->message : "");
  while (!port_open (b->port) && g_get_monotonic_time () < end)
    g_usleep (20 * 1000);
  fail_unless (port_open (b->port), "mosquitto did not listen on %u", b->port);
}

/* Stops the broker with @sig (SIGKILL: a crash) and reaps it. */
static void
broker_stop (Broker *b, int sig)
{
  gint64 end = g_get_monotonic_time () + WAIT_S * G_TIME_SPAN_SECOND;
  int status;

  if (b->pid == 0)
    return;
  kill (b->pid, sig);
  while (waitpid (b->pid, &status, WNOHANG) == 0)
    {
      if (g_get_monotonic_time () > end)
        {
          kill (b->pid, SIGKILL);
          waitpid (b->pid, &status, 0);
          break;
        }
      g_usleep (10 * 1000);
    }
  g_spawn_close_pid (b->pid);
  b->pid = 0;
}

static void
broker_free (Broker *b)
{
  GDir *dir;
  const gchar *name;

  broker_stop (b, SIGTERM);
  /* the test's own temporary directory: its few flat files */
  dir = g_dir_open (b->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      gchar *path = g_build_filename (b->dir, name, NULL);

      g_unlink (path);
      g_free (path);
    }
  if (dir != NULL)
    g_dir_close (dir);
  g_rmdir (b->dir);
  g_free (b->dir);
  g_free (b->conf);
  g_free (b->log);
}

/* Waits (bounded) for the broker's first autosave of its fresh database. */
static void
broker_wait_saved (const Broker *b)
{
  gchar *db = g_build_filename (b->dir, "mosquitto.db", NULL);
  gint64 end = g_get_monotonic_time () + WAIT_S * G_TIME_SPAN_SECOND;

  while (!g_file_test (db, G_FILE_TEST_EXISTS) && g_get_monotonic_time () < end)
    g_usleep (50 * 1000);
  fail_unless (g_file_test (db, G_FILE_TEST_EXISTS),
      "mosquitto did not save its database");
  /* a save in progress writes a temporary file and renames it: done */
  g_free (db);
}

/* On a failure: what the broker said. */
static void
broker_dump_log (const Broker *b)
{
  gchar *text = NULL;

  if (g_file_get_contents (b->log, &text, NULL, NULL))
    g_printerr ("mosquitto's log:\n%s\n", text);
  g_free (text);
}

static gchar *
broker_uri (const Broker *b)
{
  return g_strdup_printf ("mqtt://127.0.0.1:%u", b->port);
}

/* ----------------------------------------------------------- subscriber */

typedef struct
{
  struct mosquitto *mosq;
  GMutex lock;
  GCond cond;
  GPtrArray *payloads; /* gchar *, in arrival order */
  GPtrArray *topics;
  gboolean subscribed;
} Subscriber;

static void
sub_on_connect (struct mosquitto *mosq, void *obj, int rc)
{
  (void)obj;
  if (rc == 0)
    mosquitto_subscribe (mosq, NULL, "upm/#", 2);
}

static void
sub_on_subscribe (
    struct mosquitto *mosq, void *obj, int mid, int n, const int *granted)
{
  Subscriber *s = obj;

  (void)mosq, (void)mid, (void)n, (void)granted;
  g_mutex_lock (&s->lock);
  s->subscribed = TRUE;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

static void
sub_on_message (
    struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
  Subscriber *s = obj;

  (void)mosq;
  g_mutex_lock (&s->lock);
  g_ptr_array_add (s->payloads, g_strndup (msg->payload, msg->payloadlen));
  g_ptr_array_add (s->topics, g_strdup (msg->topic));
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

/* A subscriber to upm/# at QoS 2 with a persistent session (its
 * subscription and the messages for it survive a broker restart). */
static Subscriber *
subscriber_new (const Broker *b)
{
  Subscriber *s = g_new0 (Subscriber, 1);
  gint64 end = g_get_monotonic_time () + WAIT_S * G_TIME_SPAN_SECOND;
  gchar *id = g_strdup_printf ("upm-test-sub-%d", (int)getpid ());

  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  s->payloads = g_ptr_array_new_with_free_func (g_free);
  s->topics = g_ptr_array_new_with_free_func (g_free);
  mosquitto_lib_init ();
  s->mosq = mosquitto_new (id, FALSE, s);
  g_free (id);
  mosquitto_connect_callback_set (s->mosq, sub_on_connect);
  mosquitto_subscribe_callback_set (s->mosq, sub_on_subscribe);
  mosquitto_message_callback_set (s->mosq, sub_on_message);
  mosquitto_reconnect_delay_set (s->mosq, 1, 1, false);
  fail_unless_equals_int (
      mosquitto_connect (s->mosq, "127.0.0.1", b->port, 30), MOSQ_ERR_SUCCESS);
  fail_unless_equals_int (mosquitto_loop_start (s->mosq), MOSQ_ERR_SUCCESS);
  g_mutex_lock (&s->lock);
  while (!s->subscribed)
    if (!g_cond_wait_until (&s->cond, &s->lock, end))
      break;
  g_mutex_unlock (&s->lock);
  fail_unless (s->subscribed, "the subscriber did not subscribe");
  return s;
}

static void
subscriber_free (Subscriber *s)
{
  mosquitto_disconnect (s->mosq);
  mosquitto_loop_stop (s->mosq, TRUE);
  mosquitto_destroy (s->mosq);
  g_ptr_array_unref (s->payloads);
  g_ptr_array_unref (s->topics);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_free (s);
}

/* Waits (bounded) until @n messages have arrived; returns how many did. */
static guint
subscriber_wait (Subscriber *s, guint n)
{
  gint64 end = g_get_monotonic_time () + WAIT_S * G_TIME_SPAN_SECOND;
  guint got;

  g_mutex_lock (&s->lock);
  while (s->payloads->len < n)
    if (!g_cond_wait_until (&s->cond, &s->lock, end))
      break;
  got = s->payloads->len;
  g_mutex_unlock (&s->lock);
  return got;
}

/* -------------------------------------------------------------- element */

static GstBuffer *
result_buffer (guint i, gboolean with_routing)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 8, NULL);
  GstClockTime pts = i * GST_SECOND;
  GstUpmResultMeta *m;

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = GST_SECOND;
  m = gst_buffer_add_upm_result_meta (
      buf, "classify", pts, GST_SECOND, scores, G_N_ELEMENTS (scores));
  gst_upm_result_meta_set_precision (m, "fp32");
  if (with_routing)
    gst_buffer_add_upm_routing_meta (
        buf, "tiny-moe", 2, 4, pts, GST_SECOND, routes, G_N_ELEMENTS (routes));
  return buf;
}

typedef struct
{
  GstHarness *h;
  GstElement *e;
  GstBus *bus;
} Publisher;

/* upmpublish with @first_property..., NULL-terminated, in a harness
 * (PLAYING), its bus ours. */
static Publisher
publisher_new (const gchar *first_property, ...)
{
  Publisher p;
  va_list args;

  p.e = gst_element_factory_make ("upmpublish", NULL);
  fail_unless (p.e != NULL);
  va_start (args, first_property);
  g_object_set_valist (G_OBJECT (p.e), first_property, args);
  va_end (args);
  p.bus = gst_bus_new ();
  gst_element_set_bus (p.e, p.bus);
  p.h = gst_harness_new_with_element (p.e, "sink", "src");
  gst_harness_play (p.h);
  gst_harness_set_src_caps_str (p.h, "text/x-json");
  return p;
}

static void
publisher_free (Publisher *p)
{
  gst_harness_teardown (p->h);
  gst_element_set_bus (p->e, NULL);
  gst_bus_set_flushing (p->bus, TRUE);
  gst_object_unref (p->bus);
  gst_object_unref (p->e);
}

/* Pushes results @from..@to-1 and checks each comes out unchanged. */
static void
push_results (Publisher *p, guint from, guint to)
{
  guint i;

  for (i = from; i < to; i++)
    {
      GstBuffer *in = result_buffer (i, i % 2 == 0), *out;

      gst_buffer_ref (in);
      fail_unless_equals_int (gst_harness_push (p->h, in), GST_FLOW_OK);
      out = gst_harness_pull (p->h);
      fail_unless (out == in, "the buffer did not pass through unchanged");
      gst_buffer_unref (out);
      gst_buffer_unref (in);
    }
}

static guint64
get_u64 (GstElement *e, const gchar *name)
{
  guint64 v;

  g_object_get (e, name, &v, NULL);
  return v;
}

static guint
get_uint (GstElement *e, const gchar *name)
{
  guint v;

  g_object_get (e, name, &v, NULL);
  return v;
}

static gboolean
wait_published (GstElement *e, guint64 n)
{
  gint64 end = g_get_monotonic_time () + WAIT_S * G_TIME_SPAN_SECOND;

  while (get_u64 (e, "published") < n && g_get_monotonic_time () < end)
    g_usleep (10 * 1000);
  return get_u64 (e, "published") >= n;
}

/* The next message of @type on @bus within the wait; NULL when none. */
static GstMessage *
wait_message (GstBus *bus, GstMessageType type)
{
  return gst_bus_timed_pop_filtered (bus, WAIT_S * GST_SECOND, type);
}

static gchar *message_text (GstMessage *msg);

/* Pops WARNINGs (bounded wait each) until one says @text. */
static gboolean
find_warning (GstBus *bus, const gchar *text)
{
  GstMessage *msg;

  while ((msg = wait_message (bus, GST_MESSAGE_WARNING)) != NULL)
    {
      gchar *t = message_text (msg);
      gboolean found = strstr (t, text) != NULL;

      g_free (t);
      gst_message_unref (msg);
      if (found)
        return TRUE;
    }
  return FALSE;
}

static gchar *
message_text (GstMessage *msg)
{
  GError *err = NULL;
  gchar *debug = NULL, *text;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    gst_message_parse_error (msg, &err, &debug);
  else
    gst_message_parse_warning (msg, &err, &debug);
  text = g_strdup_printf ("%s | %s", err->message, debug ? debug : "");
  g_clear_error (&err);
  g_free (debug);
  return text;
}

/* ------------------------------------------------------------- checking */

/* The fields every message has, for result @i of a stream "cam1". */
static void
check_message (JsonObject *o, guint i)
{
  fail_unless_equals_string (
      json_object_get_string_member (o, "schema"), "upm-result");
  fail_unless_equals_int (json_object_get_int_member (o, "schema_version"), 1);
  fail_unless_equals_string (
      json_object_get_string_member (o, "stream"), "cam1");
  fail_unless_equals_int (json_object_get_int_member (o, "seq"), i);
  fail_unless_equals_string (
      json_object_get_string_member (o, "task"), "classify");
  fail_unless_equals_string (
      json_object_get_string_member (o, "text"), "moving left");
  fail_unless_equals_string (
      json_object_get_string_member (o, "precision"), "fp32");
  /* the metas JSON is all there, as gst_upm_buffer_metas_to_json has it */
  fail_unless_equals_uint64 (
      json_object_get_int_member (o, "pts"), i * GST_SECOND);
  fail_unless (json_object_has_member (o, "result"));
  fail_unless (json_object_get_int_member (o, "time_us") > 0);
  if (i % 2 == 0)
    {
      JsonObject *summary
          = json_object_get_object_member (o, "routing_summary");

      fail_unless (summary != NULL);
      fail_unless_equals_int (
          json_object_get_int_member (summary, "top_expert"), 3);
      fail_unless (json_object_has_member (o, "routing"));
    }
  else
    fail_if (json_object_has_member (o, "routing_summary"));
}

typedef struct
{
  guint n_unique, n_duplicates;
  gboolean in_order;
} Arrivals;

/* What arrived, read as seq numbers of @session (NULL: any): the first
 * arrival of each id must come in order; later ones are duplicates with
 * the same id and payload. */
static Arrivals
check_arrivals (Subscriber *s, const guint *expected, guint n_expected)
{
  Arrivals a = { 0, 0, TRUE };
  GHashTable *seen
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  guint i;

  g_mutex_lock (&s->lock);
  for (i = 0; i < s->payloads->len; i++)
    {
      const gchar *text = g_ptr_array_index (s->payloads, i);
      JsonNode *node = json_from_string (text, NULL);
      JsonObject *o;
      const gchar *id, *before;
      gchar *suffix;
      guint seq;

      fail_unless (node != NULL && JSON_NODE_HOLDS_OBJECT (node));
      o = json_node_get_object (node);
      id = json_object_get_string_member (o, "id");
      seq = json_object_get_int_member (o, "seq");
      suffix = g_strdup_printf ("/%u", seq);
      fail_unless (g_str_has_suffix (id, suffix), "%s", id);
      g_free (suffix);
      fail_unless_equals_string (
          g_ptr_array_index (s->topics, i), "upm/cam1/classify");
      if ((before = g_hash_table_lookup (seen, id)) != NULL)
        {
          fail_unless_equals_string (before, text);
          a.n_duplicates++;
        }
      else
        {
          if (a.n_unique >= n_expected || expected[a.n_unique] != seq)
            a.in_order = FALSE;
          check_message (o, seq);
          g_hash_table_insert (seen, g_strdup (id), g_strdup (text));
          a.n_unique++;
        }
      json_node_unref (node);
    }
  g_mutex_unlock (&s->lock);
  g_hash_table_unref (seen);
  return a;
}

static guint *
range (guint from, guint to)
{
  guint *v = g_new (guint, to - from), i;

  for (i = from; i < to; i++)
    v[i - from] = i;
  return v;
}

/* ---------------------------------------------------------------- tests */

GST_START_TEST (test_file_method)
{
  gchar *dir = g_dir_make_tmp ("upmpublish-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "results.jsonl", NULL);
  Publisher p = publisher_new ("method", 1, "location", path, "stream-id",
      "cam1", "model-id", "sha256:0123", NULL);
  gchar *contents = NULL, **lines;
  GstBuffer *plain;
  guint i;

  push_results (&p, 0, 5);
  /* a buffer without results passes and is not published */
  plain = gst_buffer_new_allocate (NULL, 4, NULL);
  fail_unless_equals_int (gst_harness_push (p.h, plain), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (p.h));
  fail_unless (gst_harness_push_event (p.h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (get_u64 (p.e, "published"), 5);
  fail_unless_equals_int (get_uint (p.e, "outbox-depth"), 0);
  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  fail_unless_equals_int (g_strv_length (lines), 6); /* 5 + the last "" */
  for (i = 0; i < 5; i++)
    {
      JsonNode *node = json_from_string (lines[i], NULL);
      JsonObject *o = json_node_get_object (node);

      check_message (o, i);
      fail_unless_equals_string (
          json_object_get_string_member (
              json_object_get_object_member (o, "model"), "id"),
          "sha256:0123");
      json_node_unref (node);
    }
  g_strfreev (lines);
  g_free (contents);
  publisher_free (&p);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}
GST_END_TEST;

/* Every result arrives once, in order, at QoS @qos over MQTT @version. */
static void
check_mqtt_delivery (guint qos, gint version)
{
  Broker b = { 0 };
  Subscriber *s;
  Publisher p;
  gchar *uri;
  guint *expected = range (0, 30);
  Arrivals a;

  broker_init (&b);
  broker_configure (&b, NULL);
  broker_start (&b);
  s = subscriber_new (&b);
  uri = broker_uri (&b);
  p = publisher_new ("uri", uri, "stream-id", "cam1", "qos", qos,
      "mqtt-version", version, NULL);
  push_results (&p, 0, 30);
  fail_unless (gst_harness_push_event (p.h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (get_u64 (p.e, "published"), 30);
  fail_unless_equals_int (subscriber_wait (s, 30), 30);
  a = check_arrivals (s, expected, 30);
  fail_unless_equals_int (a.n_unique, 30);
  fail_unless (a.in_order);
  /* no broker restart: exactly once at every QoS */
  fail_unless_equals_int (a.n_duplicates, 0);
  fail_unless_equals_int (get_uint (p.e, "reconnects"), 0);
  publisher_free (&p);
  subscriber_free (s);
  broker_free (&b);
  g_free (uri);
  g_free (expected);
}

GST_START_TEST (test_mqtt_qos1_v311)
{
  check_mqtt_delivery (1, 3);
}
GST_END_TEST;

GST_START_TEST (test_mqtt_qos2_v5)
{
  check_mqtt_delivery (2, 5);
}
GST_END_TEST;

GST_START_TEST (test_mqtt_qos0_v5)
{
  check_mqtt_delivery (0, 5);
}
GST_END_TEST;

/* The broker is killed (SIGKILL) after 10 results and restarted after 10
 * more: the outbox keeps them and delivers them in order. With an outbox
 * of @outbox_size < 10 the oldest are dropped and counted. */
static void
check_broker_restart (guint qos, guint outbox_size)
{
  Broker b = { 0 };
  Subscriber *s;
  Publisher p;
  GstMessage *msg;
  gchar *uri, *text;
  guint kept = MIN (outbox_size, 10), n_expected = 10 + kept, i;
  guint *expected = g_new (guint, n_expected);
  Arrivals a;

  for (i = 0; i < 10; i++)
    expected[i] = i;
  for (i = 0; i < kept; i++)
    expected[10 + i] = 20 - kept + i;
  broker_init (&b);
  broker_configure (&b, NULL);
  broker_start (&b);
  s = subscriber_new (&b);
  uri = broker_uri (&b);
  p = publisher_new ("uri", uri, "stream-id", "cam1", "qos", qos, "outbox-size",
      outbox_size, "max-backoff", 300, NULL);
  /* one at a time: a small outbox would overflow with the broker up */
  for (i = 0; i < 10; i++)
    {
      push_results (&p, i, i + 1);
      fail_unless (wait_published (p.e, i + 1));
    }
  fail_unless_equals_int (subscriber_wait (s, 10), 10);
  /* the subscriber's session must be in the broker's file (autosaved)
   * before the kill, or the restarted broker would not know it */
  broker_wait_saved (&b);
  broker_stop (&b, SIGKILL);
  msg = wait_message (p.bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no WARNING when the broker went away");
  text = message_text (msg);
  fail_unless (strstr (text, "retrying") != NULL, "%s", text);
  g_free (text);
  gst_message_unref (msg);
  push_results (&p, 10, 20);
  fail_unless_equals_int (get_uint (p.e, "outbox-depth"), kept);
  fail_unless_equals_uint64 (get_u64 (p.e, "dropped"), 10 - kept);
  if (kept < 10)
    fail_unless (find_warning (p.bus, "the outbox is full"));
  broker_start (&b);
  fail_unless (wait_published (p.e, 10 + kept));
  fail_unless (get_uint (p.e, "reconnects") >= 1);
  if (subscriber_wait (s, n_expected) != n_expected)
    broker_dump_log (&b);
  fail_unless_equals_int (subscriber_wait (s, n_expected), n_expected);
  fail_unless (gst_harness_push_event (p.h, gst_event_new_eos ()));
  a = check_arrivals (s, expected, n_expected);
  fail_unless_equals_int (a.n_unique, n_expected);
  fail_unless (a.in_order);
  fail_unless_equals_int (get_uint (p.e, "outbox-depth"), 0);
  publisher_free (&p);
  subscriber_free (s);
  broker_free (&b);
  g_free (uri);
  g_free (expected);
}

GST_START_TEST (test_broker_restart_qos1)
{
  check_broker_restart (1, 100);
}
GST_END_TEST;

GST_START_TEST (test_broker_restart_qos2)
{
  check_broker_restart (2, 100);
}
GST_END_TEST;

GST_START_TEST (test_outbox_overflow)
{
  check_broker_restart (1, 4);
}
GST_END_TEST;

/* ------------------------------------------------------------- failures */

static GMutex log_lock;
static GString *log_text;

static void
capture_log (GstDebugCategory *category, GstDebugLevel level, const gchar *file,
    const gchar *function, gint line, GObject *object, GstDebugMessage *message,
    gpointer user_data)
{
  const gchar *text = gst_debug_message_get (message);

  (void)category, (void)level, (void)file, (void)function, (void)line;
  (void)object, (void)user_data;
  g_mutex_lock (&log_lock);
  g_string_append_printf (log_text, "%s\n", text ? text : "");
  g_mutex_unlock (&log_lock);
}

static gchar *
make_password_file (const gchar *dir, const gchar *user, const gchar *pw)
{
  gchar *path = g_build_filename (dir, "passwd", NULL);
  gchar *argv[] = { (gchar *)"mosquitto_passwd", (gchar *)"-b", (gchar *)"-c",
    path, (gchar *)user, (gchar *)pw, NULL };
  gint status = -1;

  fail_unless (g_spawn_sync (NULL, argv, NULL,
      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL,
      &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL));
  return path;
}

/* Refused credentials are an ERROR that says to check them, and the
 * password is in no message and no log line; the right password from a
 * file gets through. */
GST_START_TEST (test_refused_credentials)
{
  static const gchar *wrong = "Wrong-Secret-4711", *right = "Right-Secret-0815";
  Broker b = { 0 };
  Publisher p;
  GstMessage *msg;
  gchar *uri, *text, *pwfile, *extra, *mine;

  log_text = g_string_new (NULL);
  gst_debug_add_log_function (capture_log, NULL, NULL);
  gst_debug_set_threshold_for_name ("upmpublish", GST_LEVEL_LOG);
  broker_init (&b);
  pwfile = make_password_file (b.dir, "camera", right);
  extra = g_strdup_printf ("allow_anonymous false\npassword_file %s", pwfile);
  broker_configure (&b, extra);
  broker_start (&b);
  uri = broker_uri (&b);
  g_setenv ("UPM_TEST_PASSWORD", wrong, TRUE);
  p = publisher_new ("uri", uri, "stream-id", "cam1", "username", "camera",
      "password-env", "UPM_TEST_PASSWORD", NULL);
  push_results (&p, 0, 1);
  msg = wait_message (p.bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no ERROR for refused credentials");
  text = message_text (msg);
  fail_unless (strstr (text, "credentials") != NULL, "%s", text);
  fail_unless (strstr (text, wrong) == NULL);
  g_free (text);
  gst_message_unref (msg);
  publisher_free (&p);

  /* the right one, from a file */
  mine = g_build_filename (b.dir, "mine", NULL);
  fail_unless (g_file_set_contents (mine, "Right-Secret-0815\n", -1, NULL));
  p = publisher_new ("uri", uri, "stream-id", "cam1", "username", "camera",
      "password-file", mine, NULL);
  push_results (&p, 0, 3);
  fail_unless (wait_published (p.e, 3));
  publisher_free (&p);

  gst_debug_remove_log_function (capture_log);
  fail_unless (strstr (log_text->str, wrong) == NULL);
  fail_unless (strstr (log_text->str, right) == NULL);
  fail_unless (strstr (log_text->str, "queued result") != NULL,
      "the log was not captured");
  g_string_free (log_text, TRUE);
  g_unlink (mine);
  g_unlink (pwfile);
  g_free (mine);
  g_free (pwfile);
  g_free (extra);
  g_free (uri);
  broker_free (&b);
  g_unsetenv ("UPM_TEST_PASSWORD");
}
GST_END_TEST;

/* upmpublish with @property = @value to PAUSED: NULL when that works,
 * else the text of its ERROR. */
static gchar *
start_error (const gchar *property, const gchar *value)
{
  GstElement *e = gst_element_factory_make ("upmpublish", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  gchar *text = NULL;

  GParamSpec *pspec
      = g_object_class_find_property (G_OBJECT_GET_CLASS (e), property);

  /* strings as they are (gst_util_set_object_arg refuses non-UTF-8) */
  if (pspec->value_type == G_TYPE_STRING)
    g_object_set (e, property, value, NULL);
  else
    gst_util_set_object_arg (G_OBJECT (e), property, value);
  gst_element_set_bus (e, bus);
  if (gst_element_set_state (e, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE)
    {
      msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
      fail_unless (msg != NULL, "no ERROR for %s=%s", property, value);
      text = message_text (msg);
      gst_message_unref (msg);
    }
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  return text;
}

GST_START_TEST (test_bad_uri)
{
  static const gchar *bad[]
      = { "http://127.0.0.1:1883", "mqtt://:1883", "mqtt://127.0.0.1:99999",
          "mqtt://127.0.0.1:12ab", "127.0.0.1", "mqtt://user@127.0.0.1",
          "mqtt://[::1:1883", "mqtt://host/path/", "mqtt://[::1]x" };
  /* nothing listens on port 1: these start (and retry in the background) */
  static const gchar *good[]
      = { "mqtt://127.0.0.1:1", "mqtt://[::1]:1", "mqtt://localhost:1/" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gchar *text = start_error ("uri", bad[i]);

      fail_unless (text != NULL, "%s was taken", bad[i]);
      fail_unless (strstr (text, "bad broker URI") != NULL, "%s", text);
      fail_unless (strstr (text, "mqtt://HOST") != NULL, "%s", text);
      g_free (text);
    }
  for (i = 0; i < G_N_ELEMENTS (good); i++)
    {
      gchar *text = start_error ("uri", good[i]);

      fail_unless (text == NULL, "%s: %s", good[i], text);
    }
}
GST_END_TEST;

GST_START_TEST (test_bad_settings)
{
  struct
  {
    const gchar *property, *value, *says;
  } bad[] = {
    { "topic", "upm/+/x", "wildcard" },
    { "topic", "upm/${camera}", "unknown variable" },
    { "topic", "", "empty" },
    { "topic", "upm/\xff", "UTF-8" },
    { "ca-file", "/nonexistent/ca.pem", "ca-file" },
    { "password-file", "/nonexistent/pw", "password-file" },
    { "method", "file", "location" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gchar *text = start_error (bad[i].property, bad[i].value);

      fail_unless (
          text != NULL, "%s=%s was taken", bad[i].property, bad[i].value);
      fail_unless (strstr (text, bad[i].says) != NULL, "%s", text);
      g_free (text);
    }
}
GST_END_TEST;

/* The broker is down at start: a WARNING, the results kept in the spool
 * over a restart of the element, then delivered in order. */
GST_START_TEST (test_spool_survives_restart)
{
  Broker b = { 0 };
  Subscriber *s;
  Publisher p;
  GstMessage *msg;
  gchar *uri, *spool, *contents = NULL, **lines;
  guint *expected = range (0, 8);
  Arrivals a;

  broker_init (&b);
  broker_configure (&b, NULL);
  uri = broker_uri (&b);
  spool = g_build_filename (b.dir, "outbox.spool", NULL);
  p = publisher_new ("uri", uri, "stream-id", "cam1", "spool", spool,
      "max-backoff", 200, "flush-timeout", 300, NULL);
  push_results (&p, 0, 5);
  msg = wait_message (p.bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no WARNING with the broker down");
  gst_message_unref (msg);
  fail_unless_equals_int (get_uint (p.e, "outbox-depth"), 5);
  /* EOS waits flush-timeout (300 ms) and says what it could not deliver */
  fail_unless (gst_harness_push_event (p.h, gst_event_new_eos ()));
  fail_unless (find_warning (p.bus, "5 results not delivered within"));
  publisher_free (&p);
  fail_unless (g_file_get_contents (spool, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  fail_unless_equals_int (g_strv_length (lines), 6); /* 5 + the last "" */
  g_strfreev (lines);
  g_free (contents);

  /* the broker, then the element again (same spool) */
  broker_start (&b);
  s = subscriber_new (&b);
  p = publisher_new ("uri", uri, "stream-id", "cam1", "spool", spool,
      "max-backoff", 200, NULL);
  fail_unless (wait_published (p.e, 5));
  /* a new session counts from 0 again: its ids differ by the session */
  push_results (&p, 0, 3);
  fail_unless (gst_harness_push_event (p.h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (get_u64 (p.e, "published"), 8);
  fail_unless_equals_int (subscriber_wait (s, 8), 8);
  expected[5] = 0, expected[6] = 1, expected[7] = 2;
  a = check_arrivals (s, expected, 8);
  fail_unless_equals_int (a.n_unique, 8);
  fail_unless (a.in_order);
  publisher_free (&p);
  fail_unless (g_file_get_contents (spool, &contents, NULL, NULL));
  fail_unless_equals_string (contents, "");
  g_free (contents);
  g_unlink (spool);
  subscriber_free (s);
  broker_free (&b);
  g_free (spool);
  g_free (uri);
  g_free (expected);
}
GST_END_TEST;

/* Labels are user data: bytes that are not UTF-8 (and quotes, control
 * characters) still give a valid JSON message with the result in it. */
GST_START_TEST (test_not_utf8)
{
  static const GstUpmScore odd[] = {
    { (gchar *)"bad \xff\xfe label \"quoted\"\n\x01", 1, 2.0f, 0.5f },
  };
  gchar *dir = g_dir_make_tmp ("upmpublish-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "results.jsonl", NULL);
  Publisher p = publisher_new (
      "method", 1, "location", path, "stream-id", "cam\xff", NULL);
  GstBuffer *buf = gst_buffer_new ();
  gchar *contents = NULL;
  JsonNode *node;
  JsonObject *o, *result;

  gst_buffer_add_upm_result_meta (buf, "classify", 0, GST_SECOND, odd, 1);
  fail_unless_equals_int (gst_harness_push (p.h, buf), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (p.h));
  fail_unless (gst_harness_push_event (p.h, gst_event_new_eos ()));
  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  fail_unless (g_utf8_validate (contents, -1, NULL));
  node = json_from_string (contents, NULL);
  fail_unless (node != NULL);
  o = json_node_get_object (node);
  fail_unless_equals_string (
      json_object_get_string_member (o, "stream"), "cam\xef\xbf\xbd");
  result = json_object_get_object_member (o, "result");
  fail_unless (result != NULL);
  fail_unless (g_str_has_suffix (
      json_object_get_string_member (
          json_array_get_object_element (
              json_object_get_array_member (result, "scores"), 0),
          "label"),
      "label \"quoted\"\n\x01"));
  json_node_unref (node);
  g_free (contents);
  publisher_free (&p);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}
GST_END_TEST;

/* A message that can never be sent (its topic is longer than MQTT allows)
 * is dropped, counted and said; the connection stays and the next one
 * goes out. */
GST_START_TEST (test_unsendable_dropped)
{
  Broker b = { 0 };
  Subscriber *s;
  Publisher p;
  gchar *uri, *topic = g_strnfill (70000, 'x');

  broker_init (&b);
  broker_configure (&b, NULL);
  broker_start (&b);
  s = subscriber_new (&b);
  uri = broker_uri (&b);
  p = publisher_new ("uri", uri, "stream-id", "cam1", "topic", topic, NULL);
  push_results (&p, 0, 2);
  fail_unless (find_warning (p.bus, "cannot be sent"));
  fail_unless (gst_harness_push_event (p.h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (get_u64 (p.e, "dropped"), 2);
  fail_unless_equals_uint64 (get_u64 (p.e, "published"), 0);
  fail_unless_equals_int (get_uint (p.e, "reconnects"), 0);
  fail_unless_equals_int (get_uint (p.e, "outbox-depth"), 0);
  publisher_free (&p);
  subscriber_free (s);
  broker_free (&b);
  g_free (uri);
  g_free (topic);
}
GST_END_TEST;

/* MQTT 5: the broker refuses messages to a topic its ACL does not allow
 * (PUBACK with a failure reason): dropped, counted, said; not published. */
GST_START_TEST (test_acl_refusal_counted)
{
  Broker b = { 0 };
  Publisher p;
  gchar *uri, *acl, *access;

  broker_init (&b);
  acl = g_build_filename (b.dir, "acl", NULL);
  fail_unless (g_file_set_contents (acl, "topic read upm/#\n", -1, NULL));
  access = g_strdup_printf ("allow_anonymous true\nacl_file %s", acl);
  broker_configure (&b, access);
  broker_start (&b);
  uri = broker_uri (&b);
  p = publisher_new (
      "uri", uri, "stream-id", "cam1", "mqtt-version", 5, "qos", 1, NULL);
  push_results (&p, 0, 3);
  fail_unless (find_warning (p.bus, "refused"));
  fail_unless (gst_harness_push_event (p.h, gst_event_new_eos ()));
  fail_unless_equals_uint64 (get_u64 (p.e, "dropped"), 3);
  fail_unless_equals_uint64 (get_u64 (p.e, "published"), 0);
  fail_unless_equals_int (get_uint (p.e, "outbox-depth"), 0);
  publisher_free (&p);
  broker_free (&b);
  g_unlink (acl);
  g_free (acl);
  g_free (access);
  g_free (uri);
}
GST_END_TEST;

static gboolean
run_openssl (const gchar *dir, const gchar *args)
{
  gchar *cmd = g_strdup_printf ("cd '%s' && openssl %s", dir, args);
  gchar *argv[] = { (gchar *)"sh", (gchar *)"-c", cmd, NULL };
  gint status = -1;
  gboolean ok = g_spawn_sync (NULL, argv, NULL,
      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
          | G_SPAWN_STDERR_TO_DEV_NULL,
      NULL, NULL, NULL, NULL, &status, NULL);

  g_free (cmd);
  return ok && g_spawn_check_wait_status (status, NULL);
}

/* A CA (@name.crt, .key) and, signed by the first, a server certificate
 * for 127.0.0.1 (server.crt, .key). */
static void
make_certificates (const gchar *dir)
{
  static const gchar *steps[] = {
    "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=upm-test-ca "
    "-keyout ca.key -out ca.crt",
    "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca "
    "-keyout other.key -out other.crt",
    "req -new -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key "
    "-out server.csr",
    "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
    "-days 1 -extfile san.cnf -out server.crt",
  };
  gchar *san = g_build_filename (dir, "san.cnf", NULL);
  guint i;

  fail_unless (
      g_file_set_contents (san, "subjectAltName=IP:127.0.0.1\n", -1, NULL));
  for (i = 0; i < G_N_ELEMENTS (steps); i++)
    fail_unless (run_openssl (dir, steps[i]), "openssl %s failed", steps[i]);
  g_free (san);
}

/* TLS with a CA file: the broker's certificate checked against ca-file
 * (delivered); with another CA the handshake fails and the WARNING says
 * to check ca-file (nothing published, retried). */
GST_START_TEST (test_tls_ca_file)
{
  Broker b = { 0 };
  Publisher p;
  gchar *uri, *access, *ca, *other;

  if (g_find_program_in_path ("openssl") == NULL)
    {
      g_print ("test_tls_ca_file: SKIP, no openssl\n");
      return;
    }
  broker_init (&b);
  make_certificates (b.dir);
  access = g_strdup_printf ("allow_anonymous true\n"
                            "cafile %s/ca.crt\ncertfile %s/server.crt\n"
                            "keyfile %s/server.key",
      b.dir, b.dir, b.dir);
  broker_configure (&b, access);
  broker_start (&b);
  uri = g_strdup_printf ("mqtts://127.0.0.1:%u", b.port);
  ca = g_build_filename (b.dir, "ca.crt", NULL);
  other = g_build_filename (b.dir, "other.crt", NULL);

  p = publisher_new ("uri", uri, "stream-id", "cam1", "ca-file", ca, NULL);
  push_results (&p, 0, 3);
  fail_unless (wait_published (p.e, 3));
  publisher_free (&p);

  p = publisher_new ("uri", uri, "stream-id", "cam1", "ca-file", other,
      "flush-timeout", 0, NULL);
  push_results (&p, 0, 1);
  fail_unless (find_warning (p.bus, "ca-file"));
  fail_unless_equals_uint64 (get_u64 (p.e, "published"), 0);
  publisher_free (&p);

  broker_free (&b);
  g_free (uri);
  g_free (access);
  g_free (ca);
  g_free (other);
}
GST_END_TEST;

/* Reusable after NULL: three runs into one file, each its own session
 * counting from 0. */
GST_START_TEST (test_reusable)
{
  gchar *dir = g_dir_make_tmp ("upmpublish-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "results.jsonl", NULL);
  gchar *contents = NULL, **lines;
  GHashTable *sessions
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint run, i;

  for (run = 0; run < 3; run++)
    {
      Publisher p = publisher_new (
          "method", 1, "location", path, "stream-id", "cam1", NULL);

      upm_test_cycle_states (p.e, 2);
      gst_harness_play (p.h);
      push_results (&p, 0, 2);
      fail_unless (gst_harness_push_event (p.h, gst_event_new_eos ()));
      fail_unless_equals_uint64 (get_u64 (p.e, "published"), 2);
      publisher_free (&p);
      g_usleep (2); /* sessions are microsecond times */
    }
  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  fail_unless_equals_int (g_strv_length (lines), 7);
  for (i = 0; i < 6; i++)
    {
      JsonNode *node = json_from_string (lines[i], NULL);
      JsonObject *o = json_node_get_object (node);

      check_message (o, i % 2);
      g_hash_table_add (
          sessions, g_strdup (json_object_get_string_member (o, "session")));
      json_node_unref (node);
    }
  fail_unless_equals_int (g_hash_table_size (sessions), 3);
  g_hash_table_unref (sessions);
  g_strfreev (lines);
  g_free (contents);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}
GST_END_TEST;

/* With the broker away the streaming thread does not wait: 1000 results
 * (with routing) into an outbox of 100 take well under the bound (a
 * network wait would take the connect time each), the oldest 900 dropped
 * and counted; at stop the other 100 too. */
GST_START_TEST (test_never_blocks)
{
  Publisher p = publisher_new ("uri", "mqtt://127.0.0.1:1", "stream-id", "cam1",
      "outbox-size", 100, "flush-timeout", 0, NULL);
  gint64 t0 = g_get_monotonic_time (), took;

  push_results (&p, 0, 1000);
  took = g_get_monotonic_time () - t0;
  g_print ("test_never_blocks: 1000 results in %.1f ms (%.1f us each, "
           "JSON and queueing)\n",
      took / 1000.0, took / 1000.0);
  fail_unless (took < WAIT_S * G_TIME_SPAN_SECOND);
  fail_unless_equals_uint64 (get_u64 (p.e, "dropped"), 900);
  fail_unless_equals_int (get_uint (p.e, "outbox-depth"), 100);
  fail_unless_equals_uint64 (get_u64 (p.e, "published"), 0);
  /* stopped with the broker still away and no spool: the 100 left are
   * lost, counted and warned about (a fleet restarts a stream so) */
  fail_unless (
      gst_element_set_state (p.e, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_uint64 (get_u64 (p.e, "dropped"), 1000);
  fail_unless (find_warning (p.bus, "are lost"));
  publisher_free (&p);
}
GST_END_TEST;

static void
prepare (TCase *tc)
{
  tcase_set_timeout (tc, 300);
}

static const UpmCheckTest upmpublish_tests[] = {
  UPM_CHECK_TEST (test_file_method),
  UPM_CHECK_TEST (test_bad_uri),
  UPM_CHECK_TEST (test_bad_settings),
  UPM_CHECK_TEST (test_mqtt_qos1_v311),
  UPM_CHECK_TEST (test_mqtt_qos2_v5),
  UPM_CHECK_TEST (test_mqtt_qos0_v5),
  UPM_CHECK_TEST (test_broker_restart_qos1),
  UPM_CHECK_TEST (test_broker_restart_qos2),
  UPM_CHECK_TEST (test_outbox_overflow),
  UPM_CHECK_TEST (test_refused_credentials),
  UPM_CHECK_TEST (test_spool_survives_restart),
  UPM_CHECK_TEST (test_never_blocks),
  UPM_CHECK_TEST (test_not_utf8),
  UPM_CHECK_TEST (test_unsendable_dropped),
  UPM_CHECK_TEST (test_acl_refusal_counted),
  UPM_CHECK_TEST (test_reusable),
  UPM_CHECK_TEST (test_tls_ca_file),
};

UPM_CHECK_MAIN (upmpublish, prepare);
