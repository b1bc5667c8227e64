/* upm-ops.c: the kernel API, forwarded to the kernels of the ISA level
 * that lib/kernels/upm-cpu.c picked for this CPU.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The kernels themselves are in lib/kernels/ (compiled once per level);
 * the libm references and the packed key/value layout, which no level
 * changes, in lib/kernels/kern-common.c.
 */
#include "upm-ops.h"

#include "kernels/upm-kernels.h"

/* upm_<name> (params) calls the table's name (args), for every kernel of
 * UPM_KERNELS. */
#define UPM_FORWARD(name, params, args)                                        \
  void upm_##name params                                                       \
  {                                                                            \
    upm_cpu_kernels ()->name args;                                             \
  }

UPM_KERNELS (UPM_FORWARD)

void
upm_linear (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float *y)
{
  upm_cpu_kernels ()->linear_part (
      x, n, n_in, w, n_in, b, n_out, 0.0f, y, NULL);
}

void
upm_linear_ex (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float *y, const UpmEpilogue *epi)
{
  upm_cpu_kernels ()->linear_part (x, n, n_in, w, n_in, b, n_out, 0.0f, y, epi);
}
