/* gstupmheadlabels.c: upmhead's labels of classification and texts of
 * retrieval: the labels property, a labels file, or the model's label set.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmheadlabels.h"

GST_DEBUG_CATEGORY_EXTERN (gst_upm_head_debug);
#define GST_CAT_DEFAULT gst_upm_head_debug

/* Splits @text at @sep, trims each item; @what names the source in errors.
 * Empty items are an error when @allow_empty is FALSE, else skipped. */
static gchar **
split_labels (const gchar *text, const gchar *sep, gboolean allow_empty,
    guint *n_labels, gchar **problem)
{
  gchar **parts = g_strsplit (text, sep, -1);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  guint i;

  for (i = 0; parts[i] != NULL; i++)
    {
      gchar *s = g_strstrip (parts[i]);

      if (*s == '\0')
        {
          if (allow_empty)
            continue;
          *problem
              = g_strdup_printf ("item %u of \"%s\" is empty", i + 1, text);
          g_strfreev (parts);
          g_ptr_array_free (out, TRUE);
          return NULL;
        }
      g_ptr_array_add (out, g_strdup (s));
    }
  g_strfreev (parts);
  *n_labels = out->len;
  g_ptr_array_set_free_func (out, NULL);
  g_ptr_array_add (out, NULL);
  return (gchar **)g_ptr_array_free (out, FALSE);
}

static gchar **
read_labels_file (GstElement *element, const gchar *path, guint *n_labels)
{
  GError *err = NULL;
  gchar *contents = NULL, *problem = NULL;
  const gchar *end;
  gsize len = 0;
  gchar **labels;

  if (!g_file_get_contents (path, &contents, &len, &err))
    {
      if (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
            ("The labels file \"%s\" does not exist.", path),
            ("%s", err->message));
      else
        GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ,
            ("Could not read the labels file \"%s\".", path),
            ("%s", err->message));
      g_clear_error (&err);
      return NULL;
    }
  if (!g_utf8_validate (contents, len, &end))
    {
      guint line = 1;
      const gchar *p;

      for (p = contents; p < end; p++)
        line += *p == '\n';
      GST_ELEMENT_ERROR (element, RESOURCE, READ,
          ("The labels file \"%s\" is not valid UTF-8 (line %u).", path, line),
          ("invalid byte at offset %" G_GSIZE_FORMAT, (gsize)(end - contents)));
      g_free (contents);
      return NULL;
    }
  labels = split_labels (contents, "\n", TRUE, n_labels, &problem);
  g_free (contents);
  if (labels != NULL && *n_labels == 0)
    {
      GST_ELEMENT_ERROR (element, RESOURCE, READ,
          ("The labels file \"%s\" has no labels.", path),
          ("one label per line, UTF-8"));
      g_strfreev (labels);
      return NULL;
    }
  return labels;
}

/* labels="@NAME": the model's bundled set NAME, else data/labels/NAME.txt
 * (upm_labels_resolve). */
static gchar **
named_labels (
    GstElement *element, UpmModel *model, const gchar *spec, guint *n_labels)
{
  GError *err = NULL;
  gchar **list = upm_labels_resolve (model, spec, n_labels, &err);

  if (list == NULL)
    {
      GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
          ("Unknown label set \"%s\".", spec), ("%s", err->message));
      g_clear_error (&err);
      return NULL;
    }
  GST_INFO_OBJECT (element, "label set \"%s\": %u labels", spec, *n_labels);
  return list;
}

/* The labels of classification / the texts of retrieval: labels-file,
 * labels ("@NAME" for a named set), else a prompt-tuned classifier's own
 * classes (*prompt_head set: its head scores them), else the model's first
 * bundled label set. */
gchar **
gst_upm_head_resolve_labels (GstElement *element, UpmModel *model,
    GstUpmTask task, const gchar *labels, const gchar *labels_file,
    guint *n_labels, gboolean *prompt_head)
{
  gchar *problem = NULL;
  gchar **list;

  *prompt_head = FALSE;
  if (labels != NULL && labels_file != NULL)
    {
      GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
          ("The labels and labels-file properties are exclusive."),
          ("labels=\"%s\", labels-file=\"%s\"", labels, labels_file));
      return NULL;
    }
  if (labels_file != NULL)
    return read_labels_file (element, labels_file, n_labels);
  if (labels != NULL && labels[0] == '@')
    return named_labels (element, model, labels, n_labels);
  if (labels != NULL)
    {
      list = split_labels (labels, ",", FALSE, n_labels, &problem);
      if (list == NULL || *n_labels == 0)
        {
          GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
              ("Invalid labels: %s.", problem ? problem : "no labels"),
              ("labels is a comma-separated list such as \"walking, "
               "running, jumping\""));
          g_free (problem);
          g_strfreev (list);
          return NULL;
        }
      return list;
    }
  if (task == GST_UPM_TASK_CLASSIFY && upm_model_prompt_labels (model, NULL))
    {
      const gchar *const *own = upm_model_prompt_labels (model, n_labels);

      GST_INFO_OBJECT (element,
          "using the prompt-tuned model's %u classes and its head", *n_labels);
      *prompt_head = TRUE;
      return g_strdupv ((gchar **)own);
    }
  if (upm_model_n_labelsets (model) > 0)
    {
      const gchar *name = upm_model_labelset_name (model, 0);
      const gchar *const *bundled
          = upm_model_labelset_labels (model, name, n_labels);

      if (bundled != NULL && *n_labels > 0)
        {
          GST_INFO_OBJECT (element, "using the model's label set \"%s\"", name);
          return g_strdupv ((gchar **)bundled);
        }
    }
  GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
      ("No labels to %s with.",
          task == GST_UPM_TASK_RETRIEVE ? "retrieve" : "classify"),
      ("set labels=\"a, b, c\" or labels-file=FILE (one label per line); the "
       "model \"%s\" bundles no label set",
          upm_model_path (model)));
  return NULL;
}
