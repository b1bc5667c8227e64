/* gstupmmodelslot.c: the shared model of the uniperceiver elements: the
 * 'model' property, its GstContext "upm.model", the process-wide cache, and
 * loading it in change_state.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmmodelslot.h"

#include <stdlib.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_upm_model_debug);
#define GST_CAT_DEFAULT gst_upm_model_debug

static void
gst_upm_model_init_debug (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      GST_DEBUG_CATEGORY_INIT (
          gst_upm_model_debug, "upmmodel", 0, "uniperceiver model sharing");
      g_once_init_leave (&done, 1);
    }
}

/* ----------------------------------------------------------- shared model */

const gchar *
gst_upm_default_model_path (void)
{
  return upm_default_model_path ();
}

/* Registers the boxed type @name the first time, in *@type. */
static GType
boxed_type_once (gsize *type, const gchar *name, GBoxedCopyFunc copy,
    GBoxedFreeFunc free_func)
{
  if (g_once_init_enter (type))
    {
      GType t = g_boxed_type_register_static (name, copy, free_func);
      g_once_init_leave (type, t);
    }
  return (GType)*type;
}

GType
gst_upm_model_get_type (void)
{
  static gsize type = 0;

  return boxed_type_once (&type, "GstUpmModel", (GBoxedCopyFunc)upm_model_ref,
      (GBoxedFreeFunc)upm_model_unref);
}

/* The process-wide cache holds weak entries: an entry is a use count of the
 * contexts that announce its model (the boxed "cache-entry" field of the
 * context structure). The model is unloaded and the entry removed when the
 * last such context goes, i.e. when no element holds it any more (elements
 * drop non-persistent contexts at READY->NULL). */
typedef struct
{
  gint users;      /* under cache_lock */
  gchar *path;     /* canonical, the key */
  UpmModel *model; /* owned */
} GstUpmModelCacheEntry;

static GMutex cache_lock;
static GHashTable *cache; /* path -> GstUpmModelCacheEntry */

static GstUpmModelCacheEntry *
cache_entry_use (GstUpmModelCacheEntry *entry)
{
  g_mutex_lock (&cache_lock);
  entry->users++;
  g_mutex_unlock (&cache_lock);
  return entry;
}

static void
cache_entry_release (GstUpmModelCacheEntry *entry)
{
  gboolean last;

  g_mutex_lock (&cache_lock);
  last = --entry->users == 0;
  if (last)
    g_hash_table_remove (cache, entry->path);
  g_mutex_unlock (&cache_lock);
  if (!last)
    return;
  GST_DEBUG ("model %s no longer used, unloading", entry->path);
  upm_model_unref (entry->model);
  g_free (entry->path);
  g_free (entry);
}

static GType
gst_upm_model_cache_entry_get_type (void)
{
  static gsize type = 0;

  return boxed_type_once (&type, "GstUpmModelCacheEntry",
      (GBoxedCopyFunc)cache_entry_use, (GBoxedFreeFunc)cache_entry_release);
}

/* Absolute path with symbolic links resolved, or just absolute when the file
 * does not exist. */
static gchar *
canonical_path (const gchar *path)
{
  char *real = realpath (path, NULL);
  gchar *ret;

  if (!real)
    return g_canonicalize_filename (path, NULL);
  ret = g_strdup (real);
  free (real);
  return ret;
}

static GstContext *
model_context_new (
    const gchar *canonical, UpmModel *model, GstUpmModelCacheEntry *entry)
{
  GstContext *context = gst_context_new (GST_UPM_MODEL_CONTEXT_TYPE, FALSE);
  GstStructure *s = gst_context_writable_structure (context);

  gst_structure_set_name (s, "upm-model");
  gst_structure_set (s, "path", G_TYPE_STRING, canonical, "model",
      GST_TYPE_UPM_MODEL, model, NULL);
  if (entry)
    gst_structure_set (
        s, "cache-entry", gst_upm_model_cache_entry_get_type (), entry, NULL);
  return context;
}

/* The model of @context when it is for the file @canonical. */
static UpmModel *
context_model_for (GstContext *context, const gchar *canonical)
{
  const GstStructure *s;
  const GValue *v;
  const gchar *path;
  UpmModel *model;
  gchar *have;
  gboolean match;

  if (!context
      || g_strcmp0 (
             gst_context_get_context_type (context), GST_UPM_MODEL_CONTEXT_TYPE)
             != 0)
    return NULL;
  s = gst_context_get_structure (context);
  v = gst_structure_get_value (s, "model");
  if (!v || !G_VALUE_HOLDS (v, GST_TYPE_UPM_MODEL))
    return NULL;
  model = g_value_get_boxed (v);
  if (!model)
    return NULL;
  path = gst_structure_get_string (s, "path");
  have = canonical_path (path ? path : upm_model_path (model));
  match = g_strcmp0 (have, canonical) == 0;
  g_free (have);
  return match ? upm_model_ref (model) : NULL;
}

UpmModel *
gst_upm_context_get_model (GstContext *context, const gchar *path)
{
  gchar *canonical;
  UpmModel *model;

  g_return_val_if_fail (GST_IS_CONTEXT (context), NULL);

  canonical = canonical_path (path ? path : gst_upm_default_model_path ());
  model = context_model_for (context, canonical);
  g_free (canonical);
  return model;
}

/* Asks the peers of @element's pads in @direction for the context; on a
 * match sets the context on @element. */
static UpmModel *
query_peers (
    GstElement *element, GstPadDirection direction, const gchar *canonical)
{
  GstIterator *it = direction == GST_PAD_SRC
                        ? gst_element_iterate_src_pads (element)
                        : gst_element_iterate_sink_pads (element);
  GValue item = G_VALUE_INIT;
  UpmModel *model = NULL;
  gboolean done = FALSE;

  while (!done && !model)
    {
      switch (gst_iterator_next (it, &item))
        {
        case GST_ITERATOR_OK:
          {
            GstPad *pad = g_value_get_object (&item);
            GstQuery *query
                = gst_query_new_context (GST_UPM_MODEL_CONTEXT_TYPE);
            GstContext *context = NULL;

            if (gst_pad_peer_query (pad, query))
              {
                gst_query_parse_context (query, &context);
                model = context_model_for (context, canonical);
                if (model)
                  {
                    GST_DEBUG_OBJECT (element,
                        "model %s from the peer of %s:%s", canonical,
                        GST_DEBUG_PAD_NAME (pad));
                    gst_element_set_context (element, context);
                  }
              }
            gst_query_unref (query);
            g_value_reset (&item);
            break;
          }
        case GST_ITERATOR_RESYNC:
          gst_iterator_resync (it);
          break;
        case GST_ITERATOR_ERROR:
        case GST_ITERATOR_DONE:
          done = TRUE;
          break;
        }
    }
  g_value_unset (&item);
  gst_iterator_free (it);
  return model;
}

static UpmModel *
own_context_model (GstElement *element, const gchar *canonical)
{
  GstContext *context
      = gst_element_get_context (element, GST_UPM_MODEL_CONTEXT_TYPE);
  UpmModel *model = context_model_for (context, canonical);

  if (context)
    gst_context_unref (context);
  return model;
}

/* Loads @path (named as the user gave it) through the cache. Returns a new
 * reference and a new context announcing it. */
static UpmModel *
cache_get (const gchar *path, const gchar *canonical, GstContext **context,
    GError **error)
{
  GstUpmModelCacheEntry *entry;
  UpmModel *model;

  g_mutex_lock (&cache_lock);
  if (!cache)
    cache = g_hash_table_new (g_str_hash, g_str_equal);
  entry = g_hash_table_lookup (cache, canonical);
  if (entry)
    {
      entry->users++;
      GST_DEBUG ("model %s from the cache (%d users)", canonical, entry->users);
    }
  else
    {
      /* Loading under the lock: two elements asking for the same file at the
       * same time load it once. */
      model = upm_model_load (path, error);
      if (!model)
        {
          g_mutex_unlock (&cache_lock);
          return NULL;
        }
      GST_INFO ("loaded model %s (%s)", canonical, upm_model_name (model));
      entry = g_new0 (GstUpmModelCacheEntry, 1);
      entry->users = 1;
      entry->path = g_strdup (canonical);
      entry->model = model;
      g_hash_table_insert (cache, entry->path, entry);
    }
  g_mutex_unlock (&cache_lock);

  /* The context takes its own use of the entry; then drop ours. */
  *context = model_context_new (canonical, entry->model, entry);
  model = upm_model_ref (entry->model);
  cache_entry_release (entry);
  return model;
}

UpmModel *
gst_upm_element_get_model (
    GstElement *element, const gchar *path, GError **error)
{
  GstContext *context = NULL;
  UpmModel *model;
  gchar *canonical;

  g_return_val_if_fail (GST_IS_ELEMENT (element), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gst_upm_model_init_debug ();
  if (!path)
    path = gst_upm_default_model_path ();
  canonical = canonical_path (path);

  /* 1. a context already set on the element */
  model = own_context_model (element, canonical);
  if (model)
    {
      GST_DEBUG_OBJECT (
          element, "model %s from the element's context", canonical);
      goto done;
    }

  /* 2. downstream, then upstream */
  model = query_peers (element, GST_PAD_SRC, canonical);
  if (!model)
    model = query_peers (element, GST_PAD_SINK, canonical);
  if (model)
    goto done;

  /* 3. ask the bins and the application; they answer synchronously by
   * setting the context on the element */
  gst_element_post_message (
      element, gst_message_new_need_context (
                   GST_OBJECT_CAST (element), GST_UPM_MODEL_CONTEXT_TYPE));
  model = own_context_model (element, canonical);
  if (model)
    {
      GST_DEBUG_OBJECT (
          element, "model %s from a NEED_CONTEXT answer", canonical);
      goto done;
    }

  /* 4. the process-wide cache, then announce it */
  model = cache_get (path, canonical, &context, error);
  if (!model)
    goto done;
  GST_DEBUG_OBJECT (
      element, "model %s from the cache, posting HAVE_CONTEXT", canonical);
  gst_element_set_context (element, context);
  gst_element_post_message (element,
      gst_message_new_have_context (GST_OBJECT_CAST (element), context));

done:
  g_free (canonical);
  return model;
}

UpmModel *
gst_upm_element_open_model (GstElement *element, const gchar *path)
{
  const gchar *file = path ? path : gst_upm_default_model_path ();
  GError *err = NULL;
  UpmModel *model = gst_upm_element_get_model (element, path, &err);

  if (model != NULL)
    return model;
  if (err != NULL && err->domain == UPM_ERROR && err->code == UPM_ERROR_IO
      && !g_file_test (file, G_FILE_TEST_EXISTS))
    {
      GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
          ("Model file \"%s\" not found: %s", file, err->message),
          ("Set the 'model' property (or the UPM_DEFAULT_MODEL environment "
           "variable) to a .upm model file."));
    }
  else
    {
      GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ,
          ("Could not load the Uni-Perceiver model \"%s\": %s", file,
              err ? err->message : "unknown error"),
          ("Check the file with upm-inspect; make .upm files with "
           "tools/convert.py."));
    }
  g_clear_error (&err);
  return NULL;
}

gboolean
gst_upm_handle_context_query (
    GstElement *element, GstQuery *query, UpmModel *model)
{
  const gchar *type;
  GstContext *context;
  gchar *canonical;
  UpmModel *have;

  g_return_val_if_fail (GST_IS_ELEMENT (element), FALSE);
  g_return_val_if_fail (GST_IS_QUERY (query), FALSE);

  if (GST_QUERY_TYPE (query) != GST_QUERY_CONTEXT || !model)
    return FALSE;
  if (!gst_query_parse_context_type (query, &type)
      || g_strcmp0 (type, GST_UPM_MODEL_CONTEXT_TYPE) != 0)
    return FALSE;

  /* Prefer the element's own context: it keeps the cache entry alive. */
  canonical = canonical_path (upm_model_path (model));
  context = gst_element_get_context (element, GST_UPM_MODEL_CONTEXT_TYPE);
  have = context_model_for (context, canonical);
  if (have != model)
    {
      if (context)
        gst_context_unref (context);
      context = model_context_new (canonical, model, NULL);
    }
  if (have)
    upm_model_unref (have);
  g_free (canonical);

  GST_LOG_OBJECT (element, "answering the model context query");
  gst_query_set_context (query, context);
  gst_context_unref (context);
  return TRUE;
}

/* ------------------------------------------------------------- the slot */

void
gst_upm_model_slot_init (GstUpmModelSlot *slot, guint prop_id,
    GstUpmModelOpened opened, GstUpmModelClosing closing)
{
  memset (slot, 0, sizeof *slot);
  slot->prop_id = prop_id;
  slot->opened = opened;
  slot->closing = closing;
}

void
gst_upm_model_slot_clear (GstUpmModelSlot *slot, GstElement *element)
{
  gst_upm_model_slot_close (slot, element);
  g_clear_pointer (&slot->path, g_free);
}

GParamSpec *
gst_upm_model_param_spec (const gchar *blurb)
{
  return g_param_spec_string ("model", "Model",
      blurb ? blurb
            : "Path of the Uni-Perceiver model file (.upm); NULL for the "
              "bundled default model",
      NULL,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY
          | GST_PARAM_DOC_SHOW_DEFAULT);
}

gboolean
gst_upm_model_slot_set_property (
    GstUpmModelSlot *slot, GObject *object, guint prop_id, const GValue *value)
{
  if (prop_id != slot->prop_id)
    return FALSE;
  GST_OBJECT_LOCK (object);
  if (GST_STATE (object) > GST_STATE_READY)
    {
      GST_OBJECT_UNLOCK (object);
      GST_WARNING_OBJECT (object,
          "property 'model' can only be changed in the NULL or READY state; "
          "ignored");
      return TRUE;
    }
  g_free (slot->path);
  slot->path = g_value_dup_string (value);
  slot->changed = TRUE;
  GST_OBJECT_UNLOCK (object);
  return TRUE;
}

gboolean
gst_upm_model_slot_get_property (
    GstUpmModelSlot *slot, GObject *object, guint prop_id, GValue *value)
{
  if (prop_id != slot->prop_id)
    return FALSE;
  GST_OBJECT_LOCK (object);
  g_value_set_string (value, slot->path);
  GST_OBJECT_UNLOCK (object);
  return TRUE;
}

gboolean
gst_upm_model_slot_open (GstUpmModelSlot *slot, GstElement *element)
{
  UpmModel *model;
  gchar *path;

  GST_OBJECT_LOCK (element);
  path = g_strdup (slot->path);
  slot->changed = FALSE;
  GST_OBJECT_UNLOCK (element);

  model = gst_upm_element_open_model (element, path);
  g_free (path);
  if (model == NULL)
    return FALSE;
  GST_INFO_OBJECT (
      element, "model %s (%s)", upm_model_path (model), upm_model_name (model));

  GST_OBJECT_LOCK (element);
  slot->model = model;
  GST_OBJECT_UNLOCK (element);

  if (slot->opened != NULL && !slot->opened (element, model))
    {
      gst_upm_model_slot_close (slot, element);
      return FALSE;
    }
  return TRUE;
}

void
gst_upm_model_slot_close (GstUpmModelSlot *slot, GstElement *element)
{
  UpmModel *model;

  if (slot->model == NULL)
    return;
  if (slot->closing != NULL)
    slot->closing (element);
  GST_OBJECT_LOCK (element);
  model = g_steal_pointer (&slot->model);
  GST_OBJECT_UNLOCK (element);
  upm_model_unref (model);
}

gboolean
gst_upm_model_slot_reopen_if_changed (
    GstUpmModelSlot *slot, GstElement *element)
{
  gboolean changed;

  GST_OBJECT_LOCK (element);
  changed = slot->changed || slot->model == NULL;
  GST_OBJECT_UNLOCK (element);
  if (!changed)
    return TRUE;
  gst_upm_model_slot_close (slot, element);
  return gst_upm_model_slot_open (slot, element);
}

UpmModel *
gst_upm_model_slot_ref (GstUpmModelSlot *slot, GstElement *element)
{
  UpmModel *model;

  GST_OBJECT_LOCK (element);
  model = slot->model != NULL ? upm_model_ref (slot->model) : NULL;
  GST_OBJECT_UNLOCK (element);
  return model;
}

gboolean
gst_upm_model_slot_context_query (
    GstUpmModelSlot *slot, GstElement *element, GstQuery *query)
{
  UpmModel *model;
  gboolean handled;

  if (GST_QUERY_TYPE (query) != GST_QUERY_CONTEXT)
    return FALSE;
  model = gst_upm_model_slot_ref (slot, element);
  handled = gst_upm_handle_context_query (element, query, model);
  if (model != NULL)
    upm_model_unref (model);
  return handled;
}

gboolean
gst_upm_model_slot_pad_query (
    GstUpmModelSlot *slot, GstPad *pad, GstObject *parent, GstQuery *query)
{
  return gst_upm_model_slot_context_query (slot, GST_ELEMENT (parent), query)
         || gst_pad_query_default (pad, parent, query);
}

GstStateChangeReturn
gst_upm_model_slot_change_state (GstUpmModelSlot *slot, GstElement *element,
    GstStateChange transition, GstElementClass *parent_class)
{
  GstStateChangeReturn ret;

  switch (transition)
    {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_upm_model_slot_open (slot, element))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      /* the model property was changed in READY */
      if (!gst_upm_model_slot_reopen_if_changed (slot, element))
        return GST_STATE_CHANGE_FAILURE;
      break;
    default:
      break;
    }

  ret = parent_class->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_READY_TO_NULL
      || (transition == GST_STATE_CHANGE_NULL_TO_READY
          && ret == GST_STATE_CHANGE_FAILURE))
    gst_upm_model_slot_close (slot, element);
  return ret;
}
