/* upm-text-clean-check.c: upm_text_clean as a filter, for
 * tests/test_text_clean_ref.py: each input line is a text in hex (its
 * UTF-8 bytes), each output line the cleaned text in hex, or "!" when the
 * text is refused.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-text-clean.h"

#include <stdio.h>

static GString *
unhex (const char *line)
{
  GString *s = g_string_new (NULL);

  for (; g_ascii_isxdigit (line[0]) && g_ascii_isxdigit (line[1]); line += 2)
    g_string_append_c (s, (char)(g_ascii_xdigit_value (line[0]) * 16
                                 + g_ascii_xdigit_value (line[1])));
  return s;
}

int
main (void)
{
  char line[65536];

  while (fgets (line, sizeof line, stdin) != NULL)
    {
      GString *text = unhex (line);
      char *clean = upm_text_clean (text->str, (gssize)text->len, NULL);

      if (clean == NULL)
        fputs ("!", stdout);
      for (const char *p = clean; p && *p; p++)
        printf ("%02x", (guint8)*p);
      putchar ('\n');
      g_free (clean);
      g_string_free (text, TRUE);
    }
  return 0;
}
