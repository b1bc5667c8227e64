/* fuzz-gguf.c: the model-file reader and loader on arbitrary bytes.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-private.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The loader maps a path, so the input goes through a memory file. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  int fd = memfd_create ("upm-fuzz", 0);
  char path[64];
  GError *error = NULL;

  if (fd < 0)
    return 0;
  if (write (fd, data, size) == (ssize_t)size)
    {
      snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
      UpmGguf *g = upm_gguf_open (path, &error);
      if (g)
        {
          /* Walk everything the reader exposes. */
          for (guint i = 0; i < upm_gguf_n_tensors (g); i++)
            {
              const UpmTensor *t = upm_gguf_tensor (g, i);
              volatile uint8_t sink
                  = t->n_bytes ? ((const uint8_t *)t->data)[0] : 0;
              (void)sink;
            }
          upm_gguf_close (g);
        }
      g_clear_error (&error);
      UpmModel *m = upm_model_load (path, &error);
      if (m)
        upm_model_unref (m);
      g_clear_error (&error);
    }
  close (fd);
  return 0;
}
