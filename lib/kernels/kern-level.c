/* kern-level.c: the kernels of one ISA level and their table.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Compiled once per level (lib/kernels/meson.build) with that level's -m
 * flags and UPM_KLEVEL=<level>. The kernel sources are included, not
 * compiled on their own: one translation unit per level, as upm-ops.c was,
 * so that the kernels inline into each other as before and only the table
 * (upm_kernels_<level>) leaves the object.
 */
#include "kern-math.c"
#include "kern-bf16.c"
#include "kern-q8.c"
#include "kern-q8q8.c"
#include "kern-linear.c"
#include "kern-attention.c"
#include "kern-bf16-attention.c"

#define UPM_LEVEL_CAT2(name, level) name##_##level
#define UPM_LEVEL_CAT(name, level) UPM_LEVEL_CAT2 (name, level)
#define UPM_KERNEL_ENTRY(name, params, args) .name = kern_##name,

const UpmKernels UPM_LEVEL_CAT (upm_kernels, UPM_KLEVEL)
    = { UPM_KERNELS (UPM_KERNEL_ENTRY) };
