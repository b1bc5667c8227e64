/* test-labels.c: parsing of label lists typed by users.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm.h"
#include "upm-target-cache.h"
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

/* ------------------------------------------------------------ named sets */

static guint
count_with (char **l, const char *needle)
{
  guint k = 0;

  for (guint i = 0; l[i] != NULL; i++)
    k += strstr (l[i], needle) != NULL;
  return k;
}

static guint
count_equal (char **l, const char *text)
{
  guint k = 0;

  for (guint i = 0; l[i] != NULL; i++)
    k += strcmp (l[i], text) == 0;
  return k;
}

/* The official sets from data/labels (the source tree or the installed
 * copy): counts and the facts of the notebook they were extracted from. */
static void
test_named_official (void)
{
  static const struct
  {
    const char *name;
    guint n;
  } sets[] = { { "k400", 400 }, { "k700", 700 }, { "imagenet", 1000 },
    { "moments", 339 } };
  GError *error = NULL;
  guint n = 0;
  char **l;

  g_unsetenv ("UPM_LABELS_DIR");
  for (guint i = 0; i < G_N_ELEMENTS (sets); i++)
    {
      l = upm_labels_load_named (sets[i].name, &n, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (n, ==, sets[i].n);
      g_assert_cmpuint (g_strv_length (l), ==, n);
      g_strfreev (l);
    }
  l = upm_labels_load_named ("k400", &n, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (l[0], ==, "abseiling");
  for (guint i = 1; i < n; i++)
    g_assert_cmpint (strcmp (l[i - 1], l[i]), <, 0);
  g_assert_cmpuint (count_with (l, "("), ==, 9);
  g_assert_cmpuint (
      count_equal (l, "passing American football (in game)"), ==, 1);
  g_strfreev (l);
  l = upm_labels_load_named ("imagenet", &n, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (l[0], ==, "tench");
  g_assert_cmpuint (count_equal (l, "missile"), ==, 2);
  g_assert_cmpuint (count_equal (l, "sunglasses"), ==, 2);
  g_strfreev (l);
}

static char *
make_labels_dir (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("upm-labels-XXXXXX", &error);
  char *k400 = g_build_filename (dir, "k400.txt", NULL);
  char *mine = g_build_filename (dir, "motion.txt", NULL);

  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (k400, "mine\nyours\n", -1, NULL));
  g_assert_true (g_file_set_contents (mine, "up\ndown\n", -1, NULL));
  g_free (k400);
  g_free (mine);
  return dir;
}

static void
remove_labels_dir (char *dir)
{
  const char *names[] = { "k400.txt", "motion.txt" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      char *p = g_build_filename (dir, names[i], NULL);
      g_unlink (p);
      g_free (p);
    }
  g_rmdir (dir);
  g_free (dir);
}

/* $UPM_LABELS_DIR comes first; the list has each name once. */
static void
test_named_env (void)
{
  char *dir = make_labels_dir ();
  char *path
      = g_strdup_printf ("/nonexistent%s%s", G_SEARCHPATH_SEPARATOR_S, dir);
  GError *error = NULL;
  guint n = 0;
  char **l, **names;

  g_setenv ("UPM_LABELS_DIR", path, TRUE);
  l = upm_labels_load_named ("k400", &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpstr (l[0], ==, "mine");
  g_strfreev (l);
  names = upm_labels_list_named ();
  g_assert_cmpuint (count_equal (names, "k400"), ==, 1);
  g_assert_cmpuint (count_equal (names, "motion"), ==, 1);
  g_assert_cmpuint (count_equal (names, "imagenet"), ==, 1);
  for (guint i = 1; names[i] != NULL; i++)
    g_assert_cmpint (strcmp (names[i - 1], names[i]), <, 0);
  g_strfreev (names);
  g_unsetenv ("UPM_LABELS_DIR");
  remove_labels_dir (dir);
  g_free (path);
}

/* An unknown name lists the available ones; a path is not a name. */
static void
test_named_unknown (void)
{
  const char *bad[]
      = { "nope", "../data/labels/k400", "/etc/passwd", ".k400", "" };
  GError *error = NULL;

  g_unsetenv ("UPM_LABELS_DIR");
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_null (upm_labels_load_named (bad[i], NULL, &error));
      g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "@k400"));
      g_assert_nonnull (strstr (error->message, "@imagenet"));
      g_clear_error (&error);
    }
}

/* "@NAME": the model's bundled set of that name before the files;
 * otherwise the files; anything else is a comma-separated list. */
static void
test_resolve (void)
{
  char *dir = make_labels_dir ();
  char *fixture = upm_test_fixture_path ("smoke-moe.upm");
  GError *error = NULL;
  UpmModel *m = upm_model_load (fixture, &error);
  guint n = 0, n_bundled = 0;
  const char *const *bundled;
  char **l;

  g_assert_no_error (error);
  bundled = upm_model_labelset_labels (m, "motion", &n_bundled);
  g_assert_nonnull (bundled);
  g_assert_cmpuint (n_bundled, >, 2);
  g_setenv ("UPM_LABELS_DIR", dir, TRUE);

  l = upm_labels_resolve (m, "@motion", &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, n_bundled);
  g_assert_cmpstr (l[0], ==, bundled[0]);
  g_strfreev (l);
  l = upm_labels_resolve (NULL, "@motion", &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpstr (l[0], ==, "up");
  g_strfreev (l);
  l = upm_labels_resolve (m, "@ k400 ", &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 2);
  g_strfreev (l);
  l = upm_labels_resolve (m, "a cat, a dog", &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 2);
  g_strfreev (l);
  g_assert_null (upm_labels_resolve (m, "@nope", &n, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "@motion"));
  g_clear_error (&error);

  g_unsetenv ("UPM_LABELS_DIR");
  upm_model_unref (m);
  remove_labels_dir (dir);
  g_free (fixture);
}

/* ------------------------------------------------ label features on disk */

static float *
label_features (const char *fixture, char **labels, guint n)
{
  char *path = upm_test_fixture_path (fixture);
  GError *error = NULL;
  UpmModel *m = upm_model_load (path, &error);
  float *f;

  g_assert_no_error (error);
  f = g_new (float, (gsize)n *upm_model_hparams (m)->n_embd);
  g_assert_true (upm_model_text_features (
      m, (const char *const *)labels, n, UPM_ATTR_CLS_TARGET, f, &error));
  g_assert_no_error (error);
  upm_model_unref (m);
  g_free (path);
  return f;
}

static char *
cache_path_of (const char *fixture, char **labels, guint n)
{
  char *path = upm_test_fixture_path (fixture);
  UpmModel *m = upm_model_load (path, NULL);
  GPtrArray *ids
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  char *cache;

  g_assert_nonnull (m);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (ids, upm_tokenize_target (m, labels[i],
                              upm_model_hparams (m)->text_max_length, NULL));
  cache = upm_target_cache_path (m, UPM_ATTR_CLS_TARGET, ids);
  g_ptr_array_free (ids, TRUE);
  upm_model_unref (m);
  g_free (path);
  return cache;
}

static void
stat_file (const char *path, GStatBuf *st)
{
  g_assert_cmpint (g_stat (path, st), ==, 0);
}

/* A label set's features are computed once per model and written to the
 * cache; a fresh load of the model reads them back (the file is not
 * rewritten) and gets the same values; a truncated or damaged file is
 * rebuilt, not used; small sets get no file. */
static void
test_feature_cache (void)
{
  const char *fixture = "tiny-moe.upm";
  GError *error = NULL;
  guint n = 0;
  char **k400 = upm_labels_load_named ("k400", &n, &error);
  char *cache = cache_path_of (fixture, k400, n);
  const gsize bytes = (gsize)n * 64 * sizeof (float);
  char *orig = NULL, *data = NULL;
  gsize len = 0, orig_len = 0;
  float *f1, *f2;
  GStatBuf st1, st2;

  g_assert_no_error (error);
  g_assert_nonnull (cache);
  g_unlink (cache);
  f1 = label_features (fixture, k400, n);
  g_assert_true (g_file_get_contents (cache, &orig, &orig_len, NULL));
  g_assert_cmpuint (orig_len, >, bytes);
  stat_file (cache, &st1);

  /* hit: same values, the file untouched */
  f2 = label_features (fixture, k400, n);
  g_assert_cmpmem (f1, bytes, f2, bytes);
  stat_file (cache, &st2);
  g_assert_cmpuint (st1.st_ino, ==, st2.st_ino);
  g_free (f2);

  /* truncated: rebuilt whole */
  g_assert_true (g_file_set_contents (cache, orig, orig_len / 2, NULL));
  f2 = label_features (fixture, k400, n);
  g_assert_cmpmem (f1, bytes, f2, bytes);
  g_assert_true (g_file_get_contents (cache, &data, &len, NULL));
  g_assert_cmpmem (orig, orig_len, data, len);
  g_free (data);
  g_free (f2);

  /* one value damaged (size and header intact): not trusted */
  orig[orig_len - 3] ^= 0x40;
  g_assert_true (g_file_set_contents (cache, orig, orig_len, NULL));
  orig[orig_len - 3] ^= 0x40;
  f2 = label_features (fixture, k400, n);
  g_assert_cmpmem (f1, bytes, f2, bytes);
  g_assert_true (g_file_get_contents (cache, &data, &len, NULL));
  g_assert_cmpmem (orig, orig_len, data, len);
  g_free (data);
  g_free (f2);

  /* the cache key follows the texts: another set, another file */
  g_free (k400[0]);
  k400[0] = g_strdup ("abseiling down a cliff");
  data = cache_path_of (fixture, k400, n);
  g_assert_cmpstr (data, !=, cache);
  g_free (data);

  /* a small set is not cached */
  data = cache_path_of (fixture, k400, 3);
  g_unlink (data);
  g_free (label_features (fixture, k400, 3));
  g_assert_false (g_file_test (data, G_FILE_TEST_EXISTS));
  g_free (data);

  g_free (orig);
  g_free (f1);
  g_free (cache);
  g_strfreev (k400);
}

static const UpmTestCase tests[] = {
  { "/labels/csv", test_csv },
  { "/labels/csv-errors", test_csv_errors },
  { "/labels/lines", test_lines },
  { "/labels/file", test_file },
  { "/labels/named-official", test_named_official },
  { "/labels/named-env", test_named_env },
  { "/labels/named-unknown", test_named_unknown },
  { "/labels/resolve", test_resolve },
  { "/labels/feature-cache", test_feature_cache },
};

UPM_TEST_MAIN (tests);
