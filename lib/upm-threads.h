/* upm-threads.h: the engine's one pool of worker threads.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threading policy: the engine has one pool of worker threads (the calling
 * thread plus n-1 workers, n = upm_threads_set()). OpenBLAS is switched to
 * one thread when the pool starts, and every kernel splits its work into
 * tasks that call single-threaded OpenBLAS or our own loops, so the process
 * never runs more busy threads than cores. A parallel region that starts
 * while the pool is busy (another stream, or a nested call from a task)
 * runs serially in its calling thread.
 */
#ifndef UPM_THREADS_H
#define UPM_THREADS_H

#include <stddef.h>
#include <stdint.h>

/* Threads of the pool, caller included (n <= 0: all online cores; the
 * environment variable UPM_NUM_THREADS sets the initial value). */
void upm_threads_set (int n_threads);
uint32_t upm_threads_get (void);

typedef void (*UpmTaskFunc) (void *arg, uint32_t task);
/* Runs fn(arg, 0..n_tasks-1) on the pool and returns when all are done. */
void upm_parallel_for (uint32_t n_tasks, UpmTaskFunc fn, void *arg);

/* Per-thread scratch buffers (64-byte aligned), grown on demand and freed
 * at thread exit; one buffer per slot, so that a kernel can hold two. */
typedef enum
{
  UPM_SCRATCH_PACK,   /* packed keys/values of upm_attention */
  UPM_SCRATCH_SCORES, /* attention scores of one task */
  UPM_SCRATCH_BF16,   /* a block of x rounded to bfloat16 (kern-bf16.c) */
  UPM_SCRATCH_Q8,     /* rows of x quantised to int8 (kern-q8q8.c) */
  UPM_SCRATCH_N_SLOTS
} UpmScratchSlot;

/* The calling thread's buffer of slot, at least n_floats long (its
 * contents are not kept when it grows); NULL when the allocation fails. */
float *upm_thread_scratch (UpmScratchSlot slot, size_t n_floats);

#endif /* UPM_THREADS_H */
