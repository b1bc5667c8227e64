/* fuzz-labels.c: label lists and label files on arbitrary bytes.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check (char **labels, guint n)
{
  if (!labels)
    return;
  if (n == 0 || g_strv_length (labels) != n)
    abort ();
  for (guint i = 0; i < n; i++)
    if (labels[i][0] == '\0' || !g_utf8_validate (labels[i], -1, NULL))
      abort ();
  g_strfreev (labels);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  guint n = 0;
  char **labels;

  labels = upm_labels_parse ((const char *)data, (gssize)size, &n, &error);
  check (labels, n);
  g_clear_error (&error);
  n = 0;
  labels = upm_labels_parse_lines ((const char *)data, size, &n, &error);
  check (labels, n);
  g_clear_error (&error);
  return 0;
}
