/* upm-fixture-check MODEL EXPECT: compare the engine with a reference
 * fixture on both paths; exit 0 when every check passes.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture-check.h"

#include <stdio.h>

int
main (int argc, char **argv)
{
  int failed = 0;

  if (argc != 3)
    {
      fprintf (stderr, "usage: %s MODEL.upm EXPECT.gguf\n", argv[0]);
      return 2;
    }
  for (int p = 0; p < 2; p++)
    {
      GString *report = g_string_new (NULL);
      GError *error = NULL;
      int f = upm_fixture_check (
          argv[1], argv[2], p ? UPM_PATH_PLAIN : UPM_PATH_FAST, report, &error);
      fputs (report->str, stdout);
      g_string_free (report, TRUE);
      if (f < 0)
        {
          fprintf (stderr, "%s\n", error->message);
          g_error_free (error);
          return 1;
        }
      failed += f;
    }
  printf ("%d failed\n", failed);
  return failed ? 1 : 0;
}
