/* test-vocab-cache: the on-disk cache of the vocabulary features
 * (lib/upm-heads.c). It is built once with progress, read back without
 * recomputing, and never trusted when damaged: a flipped byte, a truncated
 * file or a wrong header makes the next load rebuild it. An interrupted
 * build leaves no file under the cache's name, and the temporary file of a
 * process that died while writing is cleared.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-engine.h"
#include "upm-heads.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "upm-test-util.h"

#define MODEL "tiny-moe.upm"

typedef struct
{
  guint calls;
  double last;
} Progress;

static void
count_progress (double fraction, const char *what, gpointer user_data)
{
  Progress *p = user_data;

  (void)what;
  p->calls++;
  p->last = fraction;
}

/* Loads the fixture model afresh (the features live in the model), reads
 * its vocabulary features, and returns a copy and the progress calls. */
static float *
load_features (guint *progress_calls, size_t *n_floats)
{
  char *path = upm_test_fixture_path (MODEL);
  GError *error = NULL;
  UpmModel *m = upm_model_load (path, &error);
  Progress p = { 0 };
  const float *v;
  float *copy;

  g_assert_no_error (error);
  v = upm_model_vocab_features (m, count_progress, &p, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  *n_floats
      = (size_t)upm_model_hparams (m)->n_vocab * upm_model_hparams (m)->n_embd;
  copy = g_memdup2 (v, *n_floats * sizeof (float));
  *progress_calls = p.calls;
  if (p.calls)
    g_assert_cmpfloat (p.last, ==, 1.0);
  upm_model_unref (m);
  g_free (path);
  return copy;
}

static char *
cache_path (void)
{
  char *path = upm_test_fixture_path (MODEL);
  GError *error = NULL;
  UpmModel *m = upm_model_load (path, &error);
  char *cache;

  g_assert_no_error (error);
  cache = upm_engine_vocab_cache_path (m);
  g_assert_nonnull (cache);
  upm_model_unref (m);
  g_free (path);
  return cache;
}

static void
assert_no_temp_files (const char *cache)
{
  char *dir = g_path_get_dirname (cache);
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)))
    g_assert_false (g_str_has_suffix (name, ".tmp"));
  g_dir_close (d);
  g_free (dir);
}

/* Builds the cache from scratch: returns the features. */
static float *
build_cache (const char *cache, size_t *n)
{
  guint calls;
  float *v;

  g_unlink (cache);
  v = load_features (&calls, n);
  g_assert_cmpuint (calls, >, 0);
  g_assert_true (g_file_test (cache, G_FILE_TEST_IS_REGULAR));
  return v;
}

static float *
fresh_cache (const char *cache, size_t *n)
{
  float *v = build_cache (cache, n);

  assert_no_temp_files (cache);
  return v;
}

static void
test_build_and_reuse (void)
{
  char *cache = cache_path ();
  size_t n, n2;
  guint calls;
  float *v1 = fresh_cache (cache, &n);
  float *v2 = load_features (&calls, &n2);

  g_assert_cmpuint (calls, ==, 0); /* read from the cache */
  g_assert_cmpmem (v1, n * 4, v2, n2 * 4);
  g_free (v1);
  g_free (v2);
  g_free (cache);
}

/* Damages the cache with @damage, then checks that the next load rebuilds
 * it (progress calls) with the right values, and the load after that
 * trusts the repaired file again. */
static void
check_rebuilt (void (*damage) (const char *cache, size_t file_size))
{
  char *cache = cache_path ();
  size_t n, n2;
  guint calls;
  float *good = fresh_cache (cache, &n);
  GStatBuf st;
  float *v;

  g_assert_cmpint (g_stat (cache, &st), ==, 0);
  damage (cache, (size_t)st.st_size);
  v = load_features (&calls, &n2);
  g_assert_cmpuint (calls, >, 0);
  g_assert_cmpmem (good, n * 4, v, n2 * 4);
  g_free (v);
  v = load_features (&calls, &n2);
  g_assert_cmpuint (calls, ==, 0);
  g_assert_cmpmem (good, n * 4, v, n2 * 4);
  g_free (v);
  g_free (good);
  g_free (cache);
}

static void
patch_byte (const char *cache, size_t offset)
{
  FILE *f = fopen (cache, "r+b");
  int c;

  g_assert_nonnull (f);
  g_assert_cmpint (fseek (f, (long)offset, SEEK_SET), ==, 0);
  c = fgetc (f);
  g_assert_cmpint (fseek (f, (long)offset, SEEK_SET), ==, 0);
  fputc (c ^ 0x10, f);
  g_assert_cmpint (fclose (f), ==, 0);
}

/* one bit of one feature, in the middle of the data: same size, same
 * header, only the checksum can tell */
static void
flip_data_bit (const char *cache, size_t size)
{
  patch_byte (cache, size / 2 + 1);
}

static void
truncate_file (const char *cache, size_t size)
{
  g_assert_cmpint (truncate (cache, (off_t)(size - 100)), ==, 0);
}

static void
break_magic (const char *cache, size_t size)
{
  (void)size;
  patch_byte (cache, 3);
}

static void
test_corrupt (void)
{
  check_rebuilt (flip_data_bit);
}

static void
test_truncated (void)
{
  check_rebuilt (truncate_file);
}

static void
test_bad_header (void)
{
  check_rebuilt (break_magic);
}

/* The child of test_interrupted: dies half-way through the build. */
static void
die_half_way (double fraction, const char *what, gpointer user_data)
{
  (void)what;
  (void)user_data;
  if (fraction >= 0.5)
    raise (SIGKILL);
}

static void
test_interrupted (void)
{
  char *cache = cache_path ();

  if (g_test_subprocess ())
    {
      char *path = upm_test_fixture_path (MODEL);
      UpmModel *m = upm_model_load (path, NULL);
      upm_model_vocab_features (m, die_half_way, NULL, NULL);
      return; /* not reached */
    }
  g_unlink (cache);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_assert_false (g_file_test (cache, G_FILE_TEST_EXISTS));
  assert_no_temp_files (cache);
  g_free (cache);
}

/* A temporary file of a process that no longer exists is removed on the
 * next write; one of a live process (our parent) is left alone. */
static void
test_stale_temp_removed (void)
{
  char *cache = cache_path ();
  char *dead = g_strdup_printf ("%s.%d.tmp", cache, 2147483000);
  char *live = g_strdup_printf ("%s.%d.tmp", cache, (int)getppid ());
  size_t n;
  float *v;

  g_assert_true (g_file_set_contents (dead, "partial", -1, NULL));
  g_assert_true (g_file_set_contents (live, "writing", -1, NULL));
  v = build_cache (cache, &n);
  g_assert_false (g_file_test (dead, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (live, G_FILE_TEST_EXISTS));
  g_unlink (live);
  g_free (v);
  g_free (dead);
  g_free (live);
  g_free (cache);
}

int
main (int argc, char **argv)
{
  /* a cache directory of our own, set before GLib first reads it; the
   * subprocess of test_interrupted inherits it */
  char *dir = g_strdup (g_getenv ("UPM_TEST_VOCAB_CACHE"));
  int rc;

  if (!dir)
    {
      dir = g_dir_make_tmp ("upm-vocab-cache-XXXXXX", NULL);
      g_assert_nonnull (dir);
      g_setenv ("UPM_TEST_VOCAB_CACHE", dir, TRUE);
    }
  g_setenv ("XDG_CACHE_HOME", dir, TRUE);
  g_test_init (&argc, &argv, NULL);
  upm_set_num_threads (1);
  g_test_add_func ("/vocab-cache/build-and-reuse", test_build_and_reuse);
  g_test_add_func ("/vocab-cache/corrupt-data", test_corrupt);
  g_test_add_func ("/vocab-cache/truncated", test_truncated);
  g_test_add_func ("/vocab-cache/bad-header", test_bad_header);
  g_test_add_func ("/vocab-cache/interrupted", test_interrupted);
  g_test_add_func ("/vocab-cache/stale-temp", test_stale_temp_removed);
  rc = g_test_run ();
  if (!g_test_subprocess ())
    {
      char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
      (void)!system (cmd);
      g_free (cmd);
    }
  g_free (dir);
  return rc;
}
