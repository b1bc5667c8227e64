/* upm-test-util.h: what the plain-C (GTest) tests share.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

/* @name in $UPM_FIXTURES (tests/fixtures when it is not set). */
static inline char *
upm_test_fixture_path (const char *name)
{
  const char *dir = g_getenv ("UPM_FIXTURES");

  return g_build_filename (dir ? dir : "tests/fixtures", name, NULL);
}

/* One test: its GTest path and function. */
typedef struct
{
  const char *path;
  GTestFunc func;
} UpmTestCase;

/* A test program's main(): g_test_init, the @n tests of @cases, then
 * g_test_run. */
static inline int
upm_test_main (int *argc, char ***argv, const UpmTestCase *cases, guint n)
{
  g_test_init (argc, argv, NULL);
  for (guint i = 0; i < n; i++)
    g_test_add_func (cases[i].path, cases[i].func);
  return g_test_run ();
}

/* The main() of a test program whose tests are the table @cases. */
#define UPM_TEST_MAIN(cases)                                                   \
  int main (int argc, char **argv)                                             \
  {                                                                            \
    return upm_test_main (&argc, &argv, cases, G_N_ELEMENTS (cases));          \
  }
