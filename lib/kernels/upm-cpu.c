/* upm-cpu.c: detects the CPU once and picks the kernels' ISA level.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-cpu.h"

#include "upm-kernels.h"

#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static const char *const level_names[UPM_CPU_N_LEVELS]
    = { "generic", "avx2", "avx512", "avx512bf16" };

static struct
{
  UpmCpuInfo info;
  char flags[256];
  char reason[512];
} cpu = { .info = { .reason = cpu.reason, .flags = cpu.flags } };
static const UpmKernels *_Atomic current;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

const char *
upm_cpu_level_name (UpmCpuLevel level)
{
  return level < UPM_CPU_N_LEVELS ? level_names[level] : "unknown";
}

bool
upm_cpu_level_parse (const char *name, UpmCpuLevel *level)
{
  for (int l = 0; name && l < UPM_CPU_N_LEVELS; l++)
    if (g_ascii_strcasecmp (name, level_names[l]) == 0)
      {
        *level = (UpmCpuLevel)l;
        return true;
      }
  return false;
}

static const UpmKernels *
kernels_of (UpmCpuLevel level)
{
  switch (level)
    {
    case UPM_CPU_GENERIC:
      return &upm_kernels_generic;
#ifdef UPM_HAVE_KERNELS_AVX2
    case UPM_CPU_AVX2:
      return &upm_kernels_avx2;
#endif
#ifdef UPM_HAVE_KERNELS_AVX512
    case UPM_CPU_AVX512:
      return &upm_kernels_avx512;
#endif
#ifdef UPM_HAVE_KERNELS_AVX512BF16
    case UPM_CPU_AVX512BF16:
      return &upm_kernels_avx512bf16;
#endif
    default:
      return NULL;
    }
}

bool
upm_cpu_level_has_kernels (UpmCpuLevel level)
{
  return kernels_of (level) != NULL;
}

/* The highest level not above cap that has kernels (generic always has). */
static UpmCpuLevel
best_with_kernels (UpmCpuLevel cap)
{
  while (cap > UPM_CPU_GENERIC && !upm_cpu_level_has_kernels (cap))
    cap--;
  return cap;
}

/* ---------------------------------------------------------------- detection */

#if defined(__x86_64__) || defined(__i386__)
/* The register state the OS saves on context switches (XCR0). */
static uint64_t
xgetbv0 (void)
{
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

static void
add_flag (char *flags, size_t size, const char *name, bool on)
{
  if (!on)
    return;
  if (flags[0])
    g_strlcat (flags, " ", size);
  g_strlcat (flags, name, size);
}

/* A level needs the instructions and the OS saving their registers: YMM
 * (XCR0 bits 1-2) for AVX2, opmask and ZMM (bits 5-7) for AVX-512. */
static UpmCpuLevel
detect (char *flags, size_t size)
{
  uint32_t a = 0, b = 0, c = 0, d = 0, b7 = 0, c7 = 0, a71 = 0;

  if (!__get_cpuid (1, &a, &b, &c, &d))
    return UPM_CPU_GENERIC;
  const bool fma = (c >> 12) & 1, osxsave = (c >> 27) & 1;
  const bool avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
  const uint64_t xcr0 = osxsave ? xgetbv0 () : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6, os_zmm = (xcr0 & 0xe6) == 0xe6;
  if (__get_cpuid_max (0, NULL) >= 7)
    {
      __cpuid_count (7, 0, a, b7, c7, d);
      if (a >= 1)
        __cpuid_count (7, 1, a71, b, c, d);
    }
  const bool avx2 = (b7 >> 5) & 1, avx512f = (b7 >> 16) & 1;
  const bool avx512dq = (b7 >> 17) & 1, avx512bw = (b7 >> 30) & 1;
  const bool avx512vl = (b7 >> 31) & 1, bf16 = (a71 >> 5) & 1;
  const bool vnni = (c7 >> 11) & 1;

  add_flag (flags, size, "avx", avx);
  add_flag (flags, size, "avx2", avx2);
  add_flag (flags, size, "fma", fma);
  add_flag (flags, size, "f16c", f16c);
  add_flag (flags, size, "avx512f", avx512f);
  add_flag (flags, size, "avx512dq", avx512dq);
  add_flag (flags, size, "avx512bw", avx512bw);
  add_flag (flags, size, "avx512vl", avx512vl);
  add_flag (flags, size, "avx512_vnni", vnni);
  add_flag (flags, size, "avx512_bf16", bf16);
  add_flag (
      flags, size, "(the OS does not save YMM registers)", avx && !os_ymm);
  add_flag (flags, size, "(the OS does not save ZMM registers)",
      avx512f && os_ymm && !os_zmm);

  if (!(avx && avx2 && fma && f16c && os_ymm))
    return UPM_CPU_GENERIC;
  if (!(avx512f && avx512dq && avx512bw && avx512vl && os_zmm))
    return UPM_CPU_AVX2;
  /* The avx512bf16 level is compiled with -mavx512vnni too. */
  return bf16 && vnni ? UPM_CPU_AVX512BF16 : UPM_CPU_AVX512;
}
#else
static UpmCpuLevel
detect (char *flags, size_t size)
{
  g_strlcpy (flags, "no x86-64 features on this architecture", size);
  return UPM_CPU_GENERIC;
}
#endif

/* ---------------------------------------------------------------- selection */

/* Runs the kernels of the best level not above cap; why says what set
 * cap. */
static void
select_level (UpmCpuLevel cap, const char *why)
{
  const UpmCpuLevel level = best_with_kernels (cap);
  int n = snprintf (cpu.reason, sizeof cpu.reason, "%s; CPU: %s (%s)", why,
      level_names[cpu.info.host], cpu.flags[0] ? cpu.flags : "no flags");

  if (level != cap && n > 0 && (size_t)n < sizeof cpu.reason)
    snprintf (cpu.reason + n, sizeof cpu.reason - n,
        "; %s has no kernels of its own in this build: %s", level_names[cap],
        level_names[level]);
  cpu.info.level = level;
  atomic_store_explicit (&current, kernels_of (level), memory_order_release);
}

static void
cpu_init (void)
{
  const char *env = g_getenv ("UPM_CPU");
  UpmCpuLevel want;
  char why[128];

  cpu.info.host = detect (cpu.flags, sizeof cpu.flags);
  if (!env || !*env)
    {
      select_level (cpu.info.host, "detected");
    }
  else if (!upm_cpu_level_parse (env, &want))
    {
      g_message ("UPM_CPU=%s is not a level (generic, avx2, avx512, "
                 "avx512bf16): ignored",
          env);
      snprintf (why, sizeof why, "detected (UPM_CPU=%s ignored)", env);
      select_level (cpu.info.host, why);
    }
  else if (want > cpu.info.host)
    {
      g_message ("UPM_CPU=%s: this CPU supports up to %s; using %s", env,
          level_names[cpu.info.host],
          level_names[best_with_kernels (cpu.info.host)]);
      snprintf (
          why, sizeof why, "UPM_CPU=%s, above what the CPU supports", env);
      select_level (cpu.info.host, why);
    }
  else
    {
      snprintf (why, sizeof why, "forced by UPM_CPU=%s", env);
      select_level (want, why);
    }
}

const UpmKernels *
upm_cpu_kernels (void)
{
  const UpmKernels *k = atomic_load_explicit (&current, memory_order_acquire);

  if (G_LIKELY (k))
    return k;
  pthread_once (&cpu_once, cpu_init);
  return atomic_load_explicit (&current, memory_order_acquire);
}

const UpmCpuInfo *
upm_cpu_info (void)
{
  pthread_once (&cpu_once, cpu_init);
  return &cpu.info;
}

UpmCpuLevel
upm_cpu_force_level (UpmCpuLevel level)
{
  char why[64];

  pthread_once (&cpu_once, cpu_init);
  snprintf (why, sizeof why, "forced to %s by upm_cpu_force_level",
      upm_cpu_level_name (level));
  select_level (MIN (level, cpu.info.host), why);
  return cpu.info.level;
}
