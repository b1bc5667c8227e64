/* test-labels.c: parsing of label lists typed by users.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm.h"
#include "upm-test-util.h"

#include <glib/gstdio.h>
#include <string.h>

static void
test_csv (void)
{
  guint n = 0;
  GError *error = NULL;
  char **l = upm_labels_parse (" a cat,a dog , a car ", -1, &n, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpstr (l[0], ==, "a cat");
  g_assert_cmpstr (l[1], ==, "a dog");
  g_assert_cmpstr (l[2], ==, "a car");
  g_assert_null (l[3]);
  g_strfreev (l);

  l = upm_labels_parse ("écureuil,猫", -1, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 2);
  g_strfreev (l);
}

static void
test_csv_errors (void)
{
  const char *bad[] = { "", "  ", "a,,b", "a,", ",a", "a, ,b", "\xff\xfe" };
  GError *error = NULL;
  char *longlabel = g_strnfill (2000, 'x');

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_null (upm_labels_parse (bad[i], -1, NULL, &error));
      g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
  g_assert_null (upm_labels_parse (longlabel, -1, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* An embedded NUL within the given length is not valid text. */
  g_assert_null (upm_labels_parse ("a\0b", 3, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_free (longlabel);
}

static void
test_lines (void)
{
  const char data[] = "# motion\nmoving left\r\n\n  moving right  \n#x\nstill";
  guint n = 0;
  GError *error = NULL;
  char **l = upm_labels_parse_lines (data, sizeof data - 1, &n, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpstr (l[0], ==, "moving left");
  g_assert_cmpstr (l[1], ==, "moving right");
  g_assert_cmpstr (l[2], ==, "still");
  g_strfreev (l);

  g_assert_null (
      upm_labels_parse_lines ("# only comments\n\n", 18, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (
      upm_labels_parse_lines ("ok\nbad \xc3\x28\n", 10, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "line 2"));
  g_clear_error (&error);
}

static void
test_file (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("upm-labels-XXXXXX", &error);
  char *path = g_build_filename (dir, "labels.txt", NULL);
  guint n = 0;
  char **l;

  g_assert_null (upm_labels_load_file (path, NULL, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (path, "a\nb\n", -1, &error));
  l = upm_labels_load_file (path, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 2);
  g_strfreev (l);
  g_assert_true (g_file_set_contents (path, "a\n\xff\n", -1, &error));
  g_assert_null (upm_labels_load_file (path, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

static const UpmTestCase tests[] = {
  { "/labels/csv", test_csv },
  { "/labels/csv-errors", test_csv_errors },
  { "/labels/lines", test_lines },
  { "/labels/file", test_file },
};

UPM_TEST_MAIN (tests);
