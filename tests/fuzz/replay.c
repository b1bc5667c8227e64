/* replay.c: run a fuzz target over files without libFuzzer, so the normal
 * test suite replays the seed corpus and every past crasher.
 * usage: fuzz-X-replay FILE|DIR...
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
run_file (const char *path)
{
  char *data = NULL;
  gsize len = 0;
  GError *error = NULL;

  if (!g_file_get_contents (path, &data, &len, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      g_error_free (error);
      return 1;
    }
  LLVMFuzzerTestOneInput ((const uint8_t *)data, len);
  g_free (data);
  return 0;
}

int
main (int argc, char **argv)
{
  int failed = 0, n = 0;

  for (int i = 1; i < argc; i++)
    {
      if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          GDir *dir = g_dir_open (argv[i], 0, NULL);
          const char *name;
          while (dir && (name = g_dir_read_name (dir)))
            {
              char *path = g_build_filename (argv[i], name, NULL);
              failed += run_file (path);
              n++;
              g_free (path);
            }
          if (dir)
            g_dir_close (dir);
        }
      else
        {
          failed += run_file (argv[i]);
          n++;
        }
    }
  printf ("%d inputs replayed, %d unreadable\n", n, failed);
  return failed ? 1 : 0;
}
