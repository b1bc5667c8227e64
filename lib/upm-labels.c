/* upm-labels.c: label lists typed by users (command lines, files).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm.h"

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
