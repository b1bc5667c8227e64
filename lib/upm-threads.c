/* upm-threads.c: the thread pool and per-thread scratch.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-threads.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MIN_U(a, b) ((a) < (b) ? (a) : (b))
#define MAX_U(a, b) ((a) > (b) ? (a) : (b))

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#endif
}

/* ------------------------------------------------------------ thread pool
 *
 * One job at a time: the caller publishes (fn, arg) and a 64-bit word
 * holding the job generation (24 bits), the task count (20 bits) and the
 * next unclaimed task (20 bits). Workers claim tasks with a CAS on the
 * word, so a worker that wakes late can never claim a task of a newer
 * job. Idle workers spin for a short while (the next region usually starts
 * within microseconds), then sleep on a condition variable. */

#define POOL_MAX_THREADS 64
#define POOL_MAX_TASKS ((1u << 20) - 1)

typedef struct
{
  pthread_mutex_t lock;
  pthread_cond_t wake;
  atomic_uint gen;
  _Atomic uint64_t word;
  atomic_uint done;
  atomic_int busy;
  atomic_int sleepers;
  atomic_int active; /* threads that take tasks, caller included */
  int started;       /* workers created */
  long spin_ns;
  UpmTaskFunc fn;
  void *arg;
} Pool;

static Pool pool = {
  .lock = PTHREAD_MUTEX_INITIALIZER,
  .wake = PTHREAD_COND_INITIALIZER,
};
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static long
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void
run_tasks (uint32_t gen)
{
  for (;;)
    {
      uint64_t w = atomic_load (&pool.word);
      const uint32_t n = (uint32_t)(w >> 20) & POOL_MAX_TASKS;
      const uint32_t k = (uint32_t)w & POOL_MAX_TASKS;
      if ((uint32_t)(w >> 40) != gen || k >= n)
        return;
      if (!atomic_compare_exchange_weak (&pool.word, &w, w + 1))
        continue;
      pool.fn (pool.arg, k);
      atomic_fetch_add_explicit (&pool.done, 1, memory_order_release);
    }
}

static void *
worker_main (void *data)
{
  const int index = (int)(intptr_t)data; /* 1 .. started */
  uint32_t seen = atomic_load (&pool.gen);

  for (;;)
    {
      uint32_t g = atomic_load (&pool.gen);
      if (g == seen && index < atomic_load (&pool.active))
        {
          const long until = now_ns () + pool.spin_ns;
          for (uint32_t i = 1; (g = atomic_load (&pool.gen)) == seen; i++)
            {
              cpu_relax ();
              if ((i & 255) == 0 && now_ns () > until)
                break;
            }
        }
      if (g == seen)
        {
          pthread_mutex_lock (&pool.lock);
          atomic_fetch_add (&pool.sleepers, 1);
          while ((g = atomic_load (&pool.gen)) == seen)
            pthread_cond_wait (&pool.wake, &pool.lock);
          atomic_fetch_sub (&pool.sleepers, 1);
          pthread_mutex_unlock (&pool.lock);
        }
      seen = g;
      if (index < atomic_load (&pool.active))
        run_tasks (g);
    }
  return NULL;
}

/* Call with pool.lock held. */
static void
pool_grow_locked (int n)
{
  while (pool.started + 1 < n && pool.started + 1 < POOL_MAX_THREADS)
    {
      pthread_t t;
      pthread_attr_t attr;
      pthread_attr_init (&attr);
      pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
      if (pthread_create (
              &t, &attr, worker_main, (void *)(intptr_t)(pool.started + 1))
          != 0)
        {
          pthread_attr_destroy (&attr);
          break;
        }
      pthread_attr_destroy (&attr);
      pool.started++;
    }
  atomic_store (&pool.active, MIN_U (n, pool.started + 1));
}

static int
online_cores (void)
{
  cpu_set_t set;
  if (sched_getaffinity (0, sizeof set, &set) == 0 && CPU_COUNT (&set) > 0)
    return CPU_COUNT (&set);
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void
pool_atfork_child (void)
{
  /* Only the forking thread exists in the child: run everything inline. */
  pthread_mutex_init (&pool.lock, NULL);
  pthread_cond_init (&pool.wake, NULL);
  pool.started = 0;
  atomic_store (&pool.active, 1);
  atomic_store (&pool.busy, 0);
  atomic_store (&pool.sleepers, 0);
}

static void
pool_init (void)
{
  const char *env = getenv ("UPM_NUM_THREADS");
  const char *spin = getenv ("UPM_SPIN_US");
  int n = env ? atoi (env) : 0;

  pool.spin_ns = (spin ? atol (spin) : 200) * 1000L;
  atomic_store (&pool.active, 1);
  /* Our tasks call OpenBLAS; its own threads would compete with ours. */
  openblas_set_num_threads (1);
  pthread_atfork (NULL, NULL, pool_atfork_child);
  pthread_mutex_lock (&pool.lock);
  pool_grow_locked (n > 0 ? MIN_U (n, POOL_MAX_THREADS) : online_cores ());
  pthread_mutex_unlock (&pool.lock);
}

void
upm_threads_set (int n)
{
  pthread_once (&pool_once, pool_init);
  if (n <= 0)
    n = online_cores ();
  pthread_mutex_lock (&pool.lock);
  pool_grow_locked (MIN_U (n, POOL_MAX_THREADS));
  pthread_mutex_unlock (&pool.lock);
}

uint32_t
upm_threads_get (void)
{
  pthread_once (&pool_once, pool_init);
  return (uint32_t)atomic_load (&pool.active);
}

void
upm_parallel_for (uint32_t n_tasks, UpmTaskFunc fn, void *arg)
{
  int idle = 0;

  pthread_once (&pool_once, pool_init);
  if (n_tasks == 0)
    return;
  if (n_tasks == 1 || n_tasks > POOL_MAX_TASKS
      || atomic_load (&pool.active) <= 1
      || !atomic_compare_exchange_strong (&pool.busy, &idle, 1))
    {
      for (uint32_t k = 0; k < n_tasks; k++)
        fn (arg, k);
      return;
    }
  pool.fn = fn;
  pool.arg = arg;
  atomic_store (&pool.done, 0);
  const uint32_t g = (atomic_load (&pool.gen) + 1) & 0xffffff;
  atomic_store (&pool.word, ((uint64_t)g << 40) | ((uint64_t)n_tasks << 20));
  atomic_store (&pool.gen, g);
  if (atomic_load (&pool.sleepers) > 0)
    {
      pthread_mutex_lock (&pool.lock);
      pthread_cond_broadcast (&pool.wake);
      pthread_mutex_unlock (&pool.lock);
    }
  run_tasks (g);
  for (uint32_t i = 1;
       atomic_load_explicit (&pool.done, memory_order_acquire) < n_tasks; i++)
    {
      cpu_relax ();
      if ((i & 4095) == 0)
        sched_yield ();
    }
  atomic_store (&pool.busy, 0);
}

/* ------------------------------------------------------ per-thread scratch */

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

typedef struct
{
  float *buf[UPM_SCRATCH_N_SLOTS];
  size_t cap[UPM_SCRATCH_N_SLOTS];
} TlsScratch;

static void
tls_free (void *data)
{
  TlsScratch *t = data;
  for (int i = 0; i < UPM_SCRATCH_N_SLOTS; i++)
    free (t->buf[i]);
  free (t);
}

static void
tls_init (void)
{
  pthread_key_create (&tls_key, tls_free);
}

float *
upm_thread_scratch (UpmScratchSlot slot, size_t n_floats)
{
  TlsScratch *t;

  pthread_once (&tls_once, tls_init);
  t = pthread_getspecific (tls_key);
  if (!t)
    {
      t = calloc (1, sizeof *t);
      if (!t)
        return NULL;
      pthread_setspecific (tls_key, t);
    }
  if (n_floats > t->cap[slot])
    {
      void *p = NULL;
      size_t cap = MAX_U (n_floats, t->cap[slot] + t->cap[slot] / 2);
      free (t->buf[slot]);
      t->buf[slot] = NULL;
      t->cap[slot] = 0;
      if (posix_memalign (&p, 64, cap * sizeof (float)) != 0)
        return NULL;
      t->buf[slot] = p;
      t->cap[slot] = cap;
    }
  return t->buf[slot];
}
