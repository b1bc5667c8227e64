/* gstupmoutbox.h: the bounded, ordered outbox of upmpublish.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The streaming thread pushes messages (never waiting); the delivery thread
 * takes them in order and acknowledges them once the broker (or the file)
 * has them. A full outbox drops its oldest message and counts it. With a
 * spool file every message is appended to it as it comes, the file is
 * emptied whenever everything is delivered and rewritten with what is left
 * on close, and the next outbox on that file starts with those messages:
 * results survive a restart of the element or the process (at least once:
 * a crash may deliver again what was delivered since the last emptying).
 * All functions are thread-safe.
 */
#ifndef __GST_UPM_OUTBOX_H__
#define __GST_UPM_OUTBOX_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GstUpmOutbox GstUpmOutbox;

/* One message; ticket counts the messages of the outbox from 0. */
typedef struct
{
  guint64 ticket;
  gchar *topic;
  gchar *payload;
} GstUpmOutboxItem;

void gst_upm_outbox_item_free (GstUpmOutboxItem *item);

/* An outbox of at most @capacity messages; @spool (may be NULL) is the
 * spool file: its messages are loaded (the oldest dropped beyond
 * @capacity, counted) and it is opened for appending. NULL with @error when
 * the spool cannot be read or written. */
GstUpmOutbox *gst_upm_outbox_new (
    guint capacity, const gchar *spool, GError **error);

/* Writes what is left to the spool (when there is one) and frees. */
void gst_upm_outbox_free (GstUpmOutbox *outbox);

/* Appends a message (copied); TRUE when the oldest was dropped for it. */
gboolean gst_upm_outbox_push (
    GstUpmOutbox *outbox, const gchar *topic, const gchar *payload);

/* A copy of the oldest message whose ticket is >= @from, waiting up to
 * @timeout_us for one; NULL when there is none. Free with
 * gst_upm_outbox_item_free. */
GstUpmOutboxItem *gst_upm_outbox_next (
    GstUpmOutbox *outbox, guint64 from, gint64 timeout_us);

/* The message @ticket was delivered: removes it (nothing when it was
 * dropped meanwhile). */
void gst_upm_outbox_ack (GstUpmOutbox *outbox, guint64 ticket);

/* The ticket of the oldest message (the next ticket when empty). */
guint64 gst_upm_outbox_head (GstUpmOutbox *outbox);

/* Waits up to @timeout_us for the outbox to empty; TRUE when it did. */
gboolean gst_upm_outbox_wait_empty (GstUpmOutbox *outbox, gint64 timeout_us);

/* Wakes the waiters of gst_upm_outbox_next and _wait_empty. */
void gst_upm_outbox_wake (GstUpmOutbox *outbox);

guint gst_upm_outbox_depth (GstUpmOutbox *outbox);
guint64 gst_upm_outbox_dropped (GstUpmOutbox *outbox);
/* The messages that came from the spool when the outbox was made. */
guint gst_upm_outbox_restored (GstUpmOutbox *outbox);

G_END_DECLS
#endif /* __GST_UPM_OUTBOX_H__ */
