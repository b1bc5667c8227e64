/* upm-cpu.h: which ISA level of the kernels runs, and why (internal).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The kernels are built once per level (lib/kernels/meson.build); the
 * first kernel call detects the CPU (cpuid, and xgetbv for the registers
 * the OS saves) and picks the highest level that both the CPU and this
 * build have kernels for. The environment variable UPM_CPU=<level> caps
 * it; a level the CPU lacks gives the best one below it, with a message on
 * stderr.
 */
#ifndef UPM_CPU_H
#define UPM_CPU_H

#include <stdbool.h>

typedef enum
{
  UPM_CPU_GENERIC,    /* plain C, any x86-64 or aarch64 */
  UPM_CPU_AVX2,       /* AVX2 + FMA + F16C */
  UPM_CPU_AVX512,     /* + AVX-512 F, DQ, BW, VL */
  UPM_CPU_AVX512BF16, /* + AVX512_BF16 (and AVX512_VNNI) */
  UPM_CPU_N_LEVELS
} UpmCpuLevel;

/* "generic", "avx2", "avx512", "avx512bf16". */
const char *upm_cpu_level_name (UpmCpuLevel level);
/* The level of a name (as UPM_CPU takes it, case-insensitive); false when
 * the name is none. */
bool upm_cpu_level_parse (const char *name, UpmCpuLevel *level);
/* Whether this build has kernels of that level's own. */
bool upm_cpu_level_has_kernels (UpmCpuLevel level);

typedef struct
{
  UpmCpuLevel level;  /* whose kernels run */
  const char *reason; /* why: detected, capped by UPM_CPU, no kernels of a
                       * higher level in this build */
  UpmCpuLevel host;   /* the highest level the CPU and OS support */
  const char *flags;  /* the features detected ("avx2 fma f16c ...") */
} UpmCpuInfo;

/* The kernels' level and the CPU's (detected on the first call). */
const UpmCpuInfo *upm_cpu_info (void);

/* Tests: switches the kernels to the highest level not above level that
 * the CPU supports and that has kernels; returns that level. Not for use
 * while other threads run kernels. */
UpmCpuLevel upm_cpu_force_level (UpmCpuLevel level);

#endif /* UPM_CPU_H */
