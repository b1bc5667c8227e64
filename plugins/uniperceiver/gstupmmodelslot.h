/* gstupmmodelslot.h: the shared model of the uniperceiver elements: the
 * 'model' property, its GstContext "upm.model", the process-wide cache, and
 * loading it in change_state.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every element that holds the model embeds a GstUpmModelSlot and hands its
 * model property, CONTEXT queries and state changes to it:
 *
 *   set/get_property               gst_upm_model_slot_set/get_property
 *   class_init                     gst_upm_model_param_spec
 *   pad query functions            gst_upm_model_slot_pad_query (or
 *                                  _context_query)
 *   change_state                   gst_upm_model_slot_change_state (or
 *                                  _open, _reopen_if_changed and _close)
 *   finalize                       gst_upm_model_slot_clear
 *
 * What an element derives from the model (a library context, widths for its
 * caps) it makes in an @opened hook and drops in a @closing hook, so that a
 * reload in READY->PAUSED redoes it.
 */
#ifndef __GST_UPM_MODEL_SLOT_H__
#define __GST_UPM_MODEL_SLOT_H__

#include <gst/gst.h>
#include "upm.h"

G_BEGIN_DECLS

/* ----------------------------------------------------------- shared model */

/* The path of the bundled model: $UPM_DEFAULT_MODEL if set, else the
 * installed copy, else the source tree's models/ (uninstalled builds). */
const gchar *gst_upm_default_model_path (void);

/* GstContext type under which elements share a loaded model. Its structure
 * "upm-model" holds "path" (string) and "model" (GST_TYPE_UPM_MODEL). */
#define GST_UPM_MODEL_CONTEXT_TYPE "upm.model"

#define GST_TYPE_UPM_MODEL (gst_upm_model_get_type ())
GType gst_upm_model_get_type (void); /* boxed: upm_model_ref/unref */

/* The model at @path (NULL: the default) for @element: from a context set on
 * the element, a CONTEXT query downstream then upstream, a NEED_CONTEXT
 * message, or else loaded through a process-wide cache keyed by canonical
 * path and announced with HAVE_CONTEXT. Returns a new reference or NULL with
 * @error (the caller posts GST_ELEMENT_ERROR naming the file).
 * A context found by query or made from the cache is also set on @element
 * (gst_element_set_context, as GStreamer's GL/VA helpers do), so a
 * set_context vfunc may run from inside this call; chain up there so that
 * gst_element_get_context keeps the context. The cache entry lives as long
 * as some element holds that context (non-persistent: dropped at
 * READY->NULL); the model itself as long as any reference. */
UpmModel *gst_upm_element_get_model (
    GstElement *element, const gchar *path, GError **error);

/* gst_upm_element_get_model for an element's NULL->READY: on failure posts
 * the error users see (file not found, or why it could not be loaded, with
 * what to do about it) and returns NULL. */
UpmModel *gst_upm_element_open_model (GstElement *element, const gchar *path);

/* For set_context vfuncs: the model of @context if it is for @path. */
UpmModel *gst_upm_context_get_model (GstContext *context, const gchar *path);

/* For pad query functions: answers a GST_QUERY_CONTEXT of type
 * GST_UPM_MODEL_CONTEXT_TYPE with @model (the element's own context when it
 * holds @model). Returns FALSE, leaving @query alone, for other queries or
 * when @model is NULL; forward those as usual. */
gboolean gst_upm_handle_context_query (
    GstElement *element, GstQuery *query, UpmModel *model);

/* ------------------------------------------------------------- the slot */

/* Makes what @element derives from @model after loading; FALSE (with an
 * error posted) fails the state change and unloads again. */
typedef gboolean (*GstUpmModelOpened) (GstElement *element, UpmModel *model);
/* Drops it again before the model is released. */
typedef void (*GstUpmModelClosing) (GstElement *element);

typedef struct
{
  /* under the element's GST_OBJECT_LOCK */
  gchar *path;      /* the model property; NULL: the bundled default */
  gboolean changed; /* the property was set since the model was loaded */
  UpmModel *model;  /* READY and above; the pointer changes only in state
                     * changes, so the streaming thread reads it unlocked */

  /* set once by gst_upm_model_slot_init */
  guint prop_id; /* of the element's 'model' property */
  GstUpmModelOpened opened;
  GstUpmModelClosing closing;
} GstUpmModelSlot;

/* @prop_id: the element's id of the 'model' property; @opened and @closing
 * may be NULL. */
void gst_upm_model_slot_init (GstUpmModelSlot *slot, guint prop_id,
    GstUpmModelOpened opened, GstUpmModelClosing closing);

/* For finalize: unloads and frees the property. */
void gst_upm_model_slot_clear (GstUpmModelSlot *slot, GstElement *element);

/* The 'model' property of every element: a string, default NULL (the
 * bundled model), mutable in READY. @blurb NULL: the common description. */
GParamSpec *gst_upm_model_param_spec (const gchar *blurb);

/* For set/get_property: FALSE when @prop_id is not the model property, else
 * sets or gets it under the object lock. In PAUSED and PLAYING a change is
 * refused with a warning (the model is in use); in READY it takes effect at
 * READY->PAUSED. */
gboolean gst_upm_model_slot_set_property (
    GstUpmModelSlot *slot, GObject *object, guint prop_id, const GValue *value);
gboolean gst_upm_model_slot_get_property (
    GstUpmModelSlot *slot, GObject *object, guint prop_id, GValue *value);

/* Loads the model of the property (posting the error users see on failure)
 * and runs the @opened hook. */
gboolean gst_upm_model_slot_open (GstUpmModelSlot *slot, GstElement *element);
/* Runs the @closing hook and releases the model, if loaded. */
void gst_upm_model_slot_close (GstUpmModelSlot *slot, GstElement *element);
/* Closes and opens again when the property changed since the last open. */
gboolean gst_upm_model_slot_reopen_if_changed (
    GstUpmModelSlot *slot, GstElement *element);

/* A new reference to the model, or NULL while none is loaded. */
UpmModel *gst_upm_model_slot_ref (GstUpmModelSlot *slot, GstElement *element);

/* gst_upm_handle_context_query with the slot's model: TRUE when @query was
 * a model CONTEXT query and is answered. */
gboolean gst_upm_model_slot_context_query (
    GstUpmModelSlot *slot, GstElement *element, GstQuery *query);

/* For the default case of pad query functions: answers a model CONTEXT
 * query, else hands @query to gst_pad_query_default. */
gboolean gst_upm_model_slot_pad_query (
    GstUpmModelSlot *slot, GstPad *pad, GstObject *parent, GstQuery *query);

/* The model's part of an element's change_state, around @parent_class's:
 * open at NULL->READY, reopen at READY->PAUSED when the property changed in
 * READY, close at READY->NULL or after a failed NULL->READY. */
GstStateChangeReturn gst_upm_model_slot_change_state (GstUpmModelSlot *slot,
    GstElement *element, GstStateChange transition,
    GstElementClass *parent_class);

G_END_DECLS
#endif /* __GST_UPM_MODEL_SLOT_H__ */
