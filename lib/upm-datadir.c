/* upm-datadir.c: the installed data directories.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-datadir.h"

#include <dlfcn.h>
#include <string.h>

/* Compile-time (lib/meson.build): UPM_DATADIR, the configured data directory;
 * UPM_DATADIR_RELATIVE, ':'-separated paths from the library, plugin and
 * tool directories to it; UPM_BUILD_ROOT, the build tree (an uninstalled
 * object there must not pick up an install found next to the tree). */

/* The directory of the file (shared library or executable) this code was
 * linked into, or NULL. */
static char *
object_dir (void)
{
  Dl_info info;

  if (dladdr ((void *)upm_datadir_list, &info) == 0 || info.dli_fname == NULL
      || !g_path_is_absolute (info.dli_fname))
    return NULL;
  return g_path_get_dirname (info.dli_fname);
}

static gboolean
in_build_tree (const char *dir)
{
  const char *root = UPM_BUILD_ROOT;
  size_t n = strlen (root);

  return strncmp (dir, root, n) == 0 && (dir[n] == '\0' || dir[n] == '/');
}

static void
add_dir (GPtrArray *dirs, char *dir)
{
  char *canonical = g_canonicalize_filename (dir, NULL);

  g_free (dir);
  for (guint i = 0; i < dirs->len; i++)
    if (strcmp (g_ptr_array_index (dirs, i), canonical) == 0)
      {
        g_free (canonical);
        return;
      }
  if (g_file_test (canonical, G_FILE_TEST_IS_DIR))
    g_ptr_array_add (dirs, canonical);
  else
    g_free (canonical);
}

char **
upm_datadir_list (void)
{
  GPtrArray *dirs = g_ptr_array_new ();
  char *here = object_dir ();

  if (here != NULL && !in_build_tree (here))
    {
      char **relative = g_strsplit (UPM_DATADIR_RELATIVE, ":", -1);
      for (guint i = 0; relative[i] != NULL; i++)
        if (relative[i][0] != '\0')
          add_dir (dirs, g_build_filename (here, relative[i], NULL));
      g_strfreev (relative);
    }
  g_free (here);
  add_dir (dirs, g_strdup (UPM_DATADIR));
  g_ptr_array_add (dirs, NULL);
  return (char **)g_ptr_array_free (dirs, FALSE);
}
