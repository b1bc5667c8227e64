/* gstupmoutbox.c: the bounded, ordered outbox of upmpublish.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A spool line is {"topic":"...","payload":"..."} (the payload as a JSON
 * string), one message a line, oldest first.
 */
#include "gstupmoutbox.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct _GstUpmOutbox
{
  GMutex lock;
  GCond cond;
  GQueue items; /* GstUpmOutboxItem, oldest first */
  guint capacity;
  guint64 next_ticket;
  guint64 dropped;
  guint restored;
  gchar *spool_path;
  FILE *spool; /* appending; NULL without a spool */
};

void
gst_upm_outbox_item_free (GstUpmOutboxItem *item)
{
  if (item == NULL)
    return;
  g_free (item->topic);
  g_free (item->payload);
  g_free (item);
}

static GstUpmOutboxItem *
item_new (guint64 ticket, const gchar *topic, const gchar *payload)
{
  GstUpmOutboxItem *item = g_new0 (GstUpmOutboxItem, 1);

  item->ticket = ticket;
  item->topic = g_strdup (topic);
  item->payload = g_strdup (payload);
  return item;
}

static gchar *
spool_line (const GstUpmOutboxItem *item)
{
  JsonObject *o = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  gchar *text, *line;

  json_object_set_string_member (o, "topic", item->topic);
  json_object_set_string_member (o, "payload", item->payload);
  json_node_take_object (node, o);
  text = json_to_string (node, FALSE);
  json_node_unref (node);
  line = g_strconcat (text, "\n", NULL);
  g_free (text);
  return line;
}

/* Appends to the queue, dropping the oldest when full. Lock held. */
static gboolean
enqueue (GstUpmOutbox *ob, const gchar *topic, const gchar *payload)
{
  gboolean dropped = FALSE;

  if (ob->capacity > 0 && ob->items.length >= ob->capacity)
    {
      gst_upm_outbox_item_free (g_queue_pop_head (&ob->items));
      ob->dropped++;
      dropped = TRUE;
    }
  g_queue_push_tail (&ob->items, item_new (ob->next_ticket++, topic, payload));
  return dropped;
}

static gboolean
load_line (GstUpmOutbox *ob, const gchar *line)
{
  JsonNode *root = json_from_string (line, NULL);
  JsonObject *o;
  const gchar *topic, *payload;
  gboolean ok = FALSE;

  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      o = json_node_get_object (root);
      topic = json_object_get_string_member_with_default (o, "topic", NULL);
      payload = json_object_get_string_member_with_default (o, "payload", NULL);
      if (topic != NULL && payload != NULL)
        {
          enqueue (ob, topic, payload);
          ob->restored++;
          ok = TRUE;
        }
    }
  if (root != NULL)
    json_node_unref (root);
  return ok;
}

/* Loads the spool's messages; a torn last line (a crash while writing) is
 * skipped, as is any line that does not parse. */
static gboolean
load_spool (GstUpmOutbox *ob, GError **error)
{
  gchar *contents = NULL, **lines, **l;
  GError *err = NULL;

  if (!g_file_get_contents (ob->spool_path, &contents, NULL, &err))
    {
      if (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_clear_error (&err);
          return TRUE;
        }
      g_propagate_prefixed_error (
          error, err, "cannot read the spool file \"%s\": ", ob->spool_path);
      return FALSE;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (l = lines; *l != NULL; l++)
    if (**l != '\0')
      load_line (ob, *l);
  g_strfreev (lines);
  g_free (contents);
  ob->restored = MIN (ob->restored, ob->items.length);
  return TRUE;
}

/* Rewrites the spool with the queued messages (atomically: a crash leaves
 * the old or the new file). Lock held. */
static gboolean
rewrite_spool (GstUpmOutbox *ob, GError **error)
{
  GString *s = g_string_new (NULL);
  GList *l;
  gboolean ok;

  for (l = ob->items.head; l != NULL; l = l->next)
    {
      gchar *line = spool_line (l->data);

      g_string_append (s, line);
      g_free (line);
    }
  ok = g_file_set_contents (ob->spool_path, s->str, s->len, error);
  g_string_free (s, TRUE);
  return ok;
}

static gboolean
open_spool (GstUpmOutbox *ob, GError **error)
{
  if (!load_spool (ob, error) || !rewrite_spool (ob, error))
    return FALSE;
  ob->spool = g_fopen (ob->spool_path, "a");
  if (ob->spool == NULL)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
          "cannot open the spool file \"%s\": %s", ob->spool_path,
          g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

GstUpmOutbox *
gst_upm_outbox_new (guint capacity, const gchar *spool, GError **error)
{
  GstUpmOutbox *ob = g_new0 (GstUpmOutbox, 1);

  g_mutex_init (&ob->lock);
  g_cond_init (&ob->cond);
  g_queue_init (&ob->items);
  ob->capacity = capacity;
  if (spool != NULL && *spool != '\0')
    {
      ob->spool_path = g_strdup (spool);
      if (!open_spool (ob, error))
        {
          gst_upm_outbox_free (ob);
          return NULL;
        }
    }
  return ob;
}

void
gst_upm_outbox_free (GstUpmOutbox *ob)
{
  if (ob == NULL)
    return;
  if (ob->spool != NULL)
    {
      GError *err = NULL;

      fclose (ob->spool);
      if (!rewrite_spool (ob, &err))
        {
          g_warning ("%s", err->message);
          g_clear_error (&err);
        }
    }
  g_queue_clear_full (&ob->items, (GDestroyNotify)gst_upm_outbox_item_free);
  g_free (ob->spool_path);
  g_cond_clear (&ob->cond);
  g_mutex_clear (&ob->lock);
  g_free (ob);
}

/* The spool keeps what a crash would lose; a full disk loses the spool's
 * copy only (the message stays queued). Lock held. */
static void
spool_append (GstUpmOutbox *ob, const GstUpmOutboxItem *item)
{
  gchar *line;

  if (ob->spool == NULL)
    return;
  line = spool_line (item);
  if (fputs (line, ob->spool) < 0 || fflush (ob->spool) != 0)
    g_warning ("cannot append to the spool file \"%s\": %s", ob->spool_path,
        g_strerror (errno));
  g_free (line);
}

gboolean
gst_upm_outbox_push (GstUpmOutbox *ob, const gchar *topic, const gchar *payload)
{
  gboolean dropped;

  g_mutex_lock (&ob->lock);
  dropped = enqueue (ob, topic, payload);
  spool_append (ob, g_queue_peek_tail (&ob->items));
  g_cond_broadcast (&ob->cond);
  g_mutex_unlock (&ob->lock);
  return dropped;
}

/* Lock held. */
static GstUpmOutboxItem *
find_from (GstUpmOutbox *ob, guint64 from)
{
  GList *l;

  for (l = ob->items.head; l != NULL; l = l->next)
    {
      GstUpmOutboxItem *item = l->data;

      if (item->ticket >= from)
        return item_new (item->ticket, item->topic, item->payload);
    }
  return NULL;
}

GstUpmOutboxItem *
gst_upm_outbox_next (GstUpmOutbox *ob, guint64 from, gint64 timeout_us)
{
  gint64 end = g_get_monotonic_time () + timeout_us;
  GstUpmOutboxItem *item;

  g_mutex_lock (&ob->lock);
  while ((item = find_from (ob, from)) == NULL)
    if (!g_cond_wait_until (&ob->cond, &ob->lock, end))
      break;
  g_mutex_unlock (&ob->lock);
  return item;
}

/* Empties the spool once everything in it is delivered. Lock held. */
static void
spool_truncate (GstUpmOutbox *ob)
{
  if (ob->spool == NULL)
    return;
  fflush (ob->spool);
  if (ftruncate (fileno (ob->spool), 0) != 0)
    g_warning ("cannot empty the spool file \"%s\": %s", ob->spool_path,
        g_strerror (errno));
}

void
gst_upm_outbox_ack (GstUpmOutbox *ob, guint64 ticket)
{
  GList *l;

  g_mutex_lock (&ob->lock);
  for (l = ob->items.head; l != NULL; l = l->next)
    {
      GstUpmOutboxItem *item = l->data;

      if (item->ticket == ticket)
        {
          gst_upm_outbox_item_free (item);
          g_queue_delete_link (&ob->items, l);
          break;
        }
      if (item->ticket > ticket)
        break;
    }
  if (ob->items.length == 0)
    spool_truncate (ob);
  g_cond_broadcast (&ob->cond);
  g_mutex_unlock (&ob->lock);
}

guint64
gst_upm_outbox_head (GstUpmOutbox *ob)
{
  GstUpmOutboxItem *head;
  guint64 ticket;

  g_mutex_lock (&ob->lock);
  head = g_queue_peek_head (&ob->items);
  ticket = head != NULL ? head->ticket : ob->next_ticket;
  g_mutex_unlock (&ob->lock);
  return ticket;
}

gboolean
gst_upm_outbox_wait_empty (GstUpmOutbox *ob, gint64 timeout_us)
{
  gint64 end = g_get_monotonic_time () + timeout_us;
  gboolean empty;

  g_mutex_lock (&ob->lock);
  while (ob->items.length > 0)
    if (!g_cond_wait_until (&ob->cond, &ob->lock, end))
      break;
  empty = ob->items.length == 0;
  g_mutex_unlock (&ob->lock);
  return empty;
}

void
gst_upm_outbox_wake (GstUpmOutbox *ob)
{
  g_mutex_lock (&ob->lock);
  g_cond_broadcast (&ob->cond);
  g_mutex_unlock (&ob->lock);
}

guint
gst_upm_outbox_depth (GstUpmOutbox *ob)
{
  guint n;

  g_mutex_lock (&ob->lock);
  n = ob->items.length;
  g_mutex_unlock (&ob->lock);
  return n;
}

guint64
gst_upm_outbox_dropped (GstUpmOutbox *ob)
{
  guint64 n;

  g_mutex_lock (&ob->lock);
  n = ob->dropped;
  g_mutex_unlock (&ob->lock);
  return n;
}

guint
gst_upm_outbox_restored (GstUpmOutbox *ob)
{
  return ob->restored;
}
