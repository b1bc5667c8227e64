/* upm-labels.c: label lists typed by users (command lines, files).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm.h"
#include "upm-datadir.h"

#include <string.h>

/* Labels longer than this are certainly a mistake (a file given where a
 * list was expected, say); the model truncates text at ~30 tokens anyway. */
#define UPM_LABEL_MAX_BYTES 1024
#define UPM_LABELS_MAX 100000

static gboolean
add_label (GPtrArray *out, const char *start, gsize len, const char *what,
    guint index, GError **error)
{
  char *label = g_strstrip (g_strndup (start, len));

  if (label[0] == '\0')
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "%s %u is empty", what, index);
    }
  else if (strlen (label) > UPM_LABEL_MAX_BYTES)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "%s %u is longer than %d bytes", what, index, UPM_LABEL_MAX_BYTES);
    }
  else if (out->len >= UPM_LABELS_MAX)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "more than %d labels", UPM_LABELS_MAX);
    }
  else
    {
      g_ptr_array_add (out, label);
      return TRUE;
    }
  g_free (label);
  return FALSE;
}

static char **
finish (GPtrArray *out, gboolean ok, guint *n_labels, GError **error)
{
  if (ok && out->len == 0)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "the label list is empty");
      ok = FALSE;
    }
  if (!ok)
    {
      g_ptr_array_free (out, TRUE);
      return NULL;
    }
  if (n_labels)
    *n_labels = out->len;
  g_ptr_array_add (out, NULL);
  return (char **)g_ptr_array_free (out, FALSE);
}

static gboolean
check_utf8 (const char *text, gsize len, GError **error)
{
  const char *end;

  if (g_utf8_validate_len (text, len, &end))
    return TRUE;
  g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
      "labels are not valid UTF-8 (byte %" G_GSIZE_FORMAT ")",
      (gsize)(end - text));
  return FALSE;
}

char **
upm_labels_parse (const char *text, gssize len, guint *n_labels, GError **error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  gsize n = len < 0 ? strlen (text) : (gsize)len;
  gboolean ok = check_utf8 (text, n, error);
  gsize start = 0;

  for (gsize i = 0; ok && i <= n; i++)
    {
      if (i == n || text[i] == ',')
        {
          ok = add_label (
              out, text + start, i - start, "label", out->len + 1, error);
          start = i + 1;
        }
    }
  return finish (out, ok, n_labels, error);
}

char **
upm_labels_parse_lines (
    const char *data, gsize len, guint *n_labels, GError **error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = TRUE;
  gsize start = 0;
  guint line = 0;
  const char *bad;

  if (!g_utf8_validate_len (data, len, &bad))
    {
      guint at = 1;
      for (const char *p = data; p < bad; p++)
        at += *p == '\n';
      g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
          "line %u is not valid UTF-8", at);
      ok = FALSE;
    }

  for (gsize i = 0; ok && i <= len; i++)
    {
      if (i == len || data[i] == '\n')
        {
          gsize end = i;
          line++;
          if (end > start && data[end - 1] == '\r')
            end--;
          /* Blank lines and lines starting with '#' are skipped. */
          gsize s = start;
          while (s < end && g_ascii_isspace (data[s]))
            s++;
          if (s < end && data[s] != '#')
            ok = add_label (out, data + s, end - s, "line", line, error);
          start = i + 1;
        }
    }
  return finish (out, ok, n_labels, error);
}

char **
upm_labels_load_file (const char *path, guint *n_labels, GError **error)
{
  char *data = NULL;
  gsize len = 0;
  char **labels;

  if (!g_file_get_contents (path, &data, &len, error))
    return NULL;
  labels = upm_labels_parse_lines (data, len, n_labels, error);
  if (!labels)
    g_prefix_error (error, "%s: ", path);
  g_free (data);
  return labels;
}

/* ------------------------------------------------------------ named sets */

/* Where upm_labels_load_named looks, in order (NULL-terminated). */
static char **
named_dirs (void)
{
  GPtrArray *dirs = g_ptr_array_new ();
  const char *env = g_getenv ("UPM_LABELS_DIR");

  if (env != NULL && *env != '\0')
    {
      char **parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (guint i = 0; parts[i] != NULL; i++)
        if (parts[i][0] != '\0')
          g_ptr_array_add (dirs, g_strdup (parts[i]));
      g_strfreev (parts);
    }
  char **installed = upm_datadir_list ();
  for (guint i = 0; installed[i] != NULL; i++)
    g_ptr_array_add (dirs, g_build_filename (installed[i], "labels", NULL));
  g_strfreev (installed);
#ifdef UPM_LABELS_SRCDIR
  g_ptr_array_add (dirs, g_strdup (UPM_LABELS_SRCDIR));
#endif
  g_ptr_array_add (dirs, NULL);
  return (char **)g_ptr_array_free (dirs, FALSE);
}

/* Letters, digits, '_', '-', '.', not starting with '.': no paths. */
static gboolean
valid_set_name (const char *name)
{
  if (name[0] == '\0' || name[0] == '.' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-' && *p != '.')
      return FALSE;
  return TRUE;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

char **
upm_labels_list_named (void)
{
  char **dirs = named_dirs ();
  GHashTable *seen
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *names = g_ptr_array_new ();

  for (guint i = 0; dirs[i] != NULL; i++)
    {
      GDir *dir = g_dir_open (dirs[i], 0, NULL);
      const char *entry;

      while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
        {
          char *name;
          if (!g_str_has_suffix (entry, ".txt"))
            continue;
          name = g_strndup (entry, strlen (entry) - 4);
          if (valid_set_name (name) && !g_hash_table_contains (seen, name))
            {
              g_hash_table_add (seen, name);
              g_ptr_array_add (names, g_strdup (name));
            }
          else
            g_free (name);
        }
      if (dir != NULL)
        g_dir_close (dir);
    }
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  g_hash_table_destroy (seen);
  g_strfreev (dirs);
  return (char **)g_ptr_array_free (names, FALSE);
}

static void
set_unknown_name_error (const char *name, GError **error)
{
  char **names = upm_labels_list_named ();
  char *list = g_strjoinv (", @", names);

  g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT,
      "no label set named '%s'; available: %s%s", name,
      names[0] != NULL ? "@" : "",
      names[0] != NULL ? list : "none (set UPM_LABELS_DIR)");
  g_free (list);
  g_strfreev (names);
}

char **
upm_labels_load_named (const char *name, guint *n_labels, GError **error)
{
  char **dirs;
  char **labels = NULL;
  gboolean found = FALSE;

  if (!valid_set_name (name))
    {
      set_unknown_name_error (name, error);
      return NULL;
    }
  dirs = named_dirs ();
  for (guint i = 0; dirs[i] != NULL && !found; i++)
    {
      char *file = g_strconcat (name, ".txt", NULL);
      char *path = g_build_filename (dirs[i], file, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          found = TRUE;
          labels = upm_labels_load_file (path, n_labels, error);
        }
      g_free (path);
      g_free (file);
    }
  g_strfreev (dirs);
  if (!found)
    set_unknown_name_error (name, error);
  return labels;
}

char **
upm_labels_resolve (
    const UpmModel *model, const char *spec, guint *n_labels, GError **error)
{
  const char *const *bundled;
  char *name;
  char **labels;
  guint n = 0;

  if (spec[0] != '@')
    return upm_labels_parse (spec, -1, n_labels, error);
  name = g_strstrip (g_strdup (spec + 1));
  bundled = model ? upm_model_labelset_labels (model, name, &n) : NULL;
  if (bundled != NULL && n > 0)
    {
      labels = g_strdupv ((char **)bundled);
      if (n_labels)
        *n_labels = n;
    }
  else
    labels = upm_labels_load_named (name, n_labels, error);
  g_free (name);
  return labels;
}
