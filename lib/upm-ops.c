/* upm-ops.c: dense kernels of the engine.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-ops.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

#define UPM_INLINE static inline __attribute__ ((always_inline))
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

/* Per-thread scratch buffers, grown on demand, freed at thread exit. */
enum
{
  TLS_PACK,
  TLS_SCORES,
  TLS_MISC,
  TLS_N
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

typedef struct
{
  float *buf[TLS_N];
  size_t cap[TLS_N];
} TlsScratch;

static void
tls_free (void *data)
{
  TlsScratch *t = data;
  for (int i = 0; i < TLS_N; i++)
    free (t->buf[i]);
  free (t);
}

static void
tls_init (void)
{
  pthread_key_create (&tls_key, tls_free);
}

/* NULL when the allocation fails. */
static float *
tls_scratch (int slot, size_t n_floats)
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

#ifdef __AVX2__
static inline float
hsum8 (__m256 v)
{
  __m128 lo
      = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  lo = _mm_add_ps (lo, _mm_movehl_ps (lo, lo));
  lo = _mm_add_ss (lo, _mm_movehdup_ps (lo));
  return _mm_cvtss_f32 (lo);
}

static inline float
hmax8 (__m256 v)
{
  __m128 lo
      = _mm_max_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  lo = _mm_max_ps (lo, _mm_movehl_ps (lo, lo));
  lo = _mm_max_ss (lo, _mm_movehdup_ps (lo));
  return _mm_cvtss_f32 (lo);
}
#endif

void
upm_gelu_ref (float *x, size_t n)
{
  const float inv_sqrt2 = 0.70710678118654752440f;

  for (size_t i = 0; i < n; i++)
    x[i] = 0.5f * x[i] * (1.0f + erff (x[i] * inv_sqrt2));
}

void
upm_exp_ref (float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    x[i] = expf (x[i]);
}

#ifdef __AVX2__
/* exp(x) for 8 lanes: x = k ln2 + r, |r| <= ln2/2, exp(r) by a degree-6
 * polynomial, 2^k through the exponent bits (relative error ~2e-7).
 * Inputs below -87.3 give 0, as expf underflows there in practice. */
static inline __m256
exp8 (__m256 x)
{
  const __m256 hi = _mm256_set1_ps (88.3762626647949f);
  const __m256 lo = _mm256_set1_ps (-87.3365447505531f);
  const __m256 log2e = _mm256_set1_ps (1.44269504088896341f);
  const __m256 ln2_hi = _mm256_set1_ps (0.693359375f);
  const __m256 ln2_lo = _mm256_set1_ps (-2.12194440e-4f);
  __m256 under = _mm256_cmp_ps (x, lo, _CMP_LT_OQ);

  x = _mm256_min_ps (_mm256_max_ps (x, lo), hi);
  __m256 k = _mm256_round_ps (
      _mm256_mul_ps (x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps (k, ln2_hi, x);
  r = _mm256_fnmadd_ps (k, ln2_lo, r);
  __m256 p = _mm256_set1_ps (1.3981999507e-3f);
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (8.3334519073e-3f));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (4.1665795894e-2f));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (1.6666665459e-1f));
  p = _mm256_fmadd_ps (p, r, _mm256_set1_ps (5.0000001201e-1f));
  p = _mm256_fmadd_ps (p, _mm256_mul_ps (r, r), r);
  p = _mm256_add_ps (p, _mm256_set1_ps (1.0f));
  __m256i e = _mm256_slli_epi32 (
      _mm256_add_epi32 (_mm256_cvtps_epi32 (k), _mm256_set1_epi32 (127)), 23);
  __m256 y = _mm256_mul_ps (p, _mm256_castsi256_ps (e));
  return _mm256_andnot_ps (under, y);
}

/* erf(z) = 1 - t exp(-z^2 + P(t)), t = 1 / (1 + |z|/2) (Numerical Recipes'
 * erfc, fractional error < 1.2e-7), sign restored. */
static inline __m256
erf8 (__m256 z)
{
  const __m256 sign = _mm256_set1_ps (-0.0f);
  const __m256 one = _mm256_set1_ps (1.0f);
  __m256 a = _mm256_andnot_ps (sign, z);
  __m256 t
      = _mm256_div_ps (one, _mm256_fmadd_ps (_mm256_set1_ps (0.5f), a, one));
  __m256 p = _mm256_set1_ps (0.17087277f);
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (-0.82215223f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (1.48851587f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (-1.13520398f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (0.27886807f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (-0.18628806f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (0.09678418f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (0.37409196f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (1.00002368f));
  p = _mm256_fmadd_ps (p, t, _mm256_set1_ps (-1.26551223f));
  p = _mm256_fnmadd_ps (a, a, p);
  __m256 erfc = _mm256_mul_ps (t, exp8 (p));
  __m256 r = _mm256_sub_ps (one, erfc);
  return _mm256_or_ps (r, _mm256_and_ps (z, sign));
}
#endif

void
upm_gelu (float *x, size_t n)
{
  size_t i = 0;
#ifdef __AVX2__
  const __m256 half = _mm256_set1_ps (0.5f), one = _mm256_set1_ps (1.0f);
  const __m256 inv_sqrt2 = _mm256_set1_ps (0.70710678118654752440f);
  for (; i + 8 <= n; i += 8)
    {
      __m256 v = _mm256_loadu_ps (x + i);
      __m256 e = erf8 (_mm256_mul_ps (v, inv_sqrt2));
      _mm256_storeu_ps (x + i,
          _mm256_mul_ps (_mm256_mul_ps (half, v), _mm256_add_ps (one, e)));
    }
#endif
  upm_gelu_ref (x + i, n - i);
}

void
upm_exp (float *x, size_t n)
{
  size_t i = 0;
#ifdef __AVX2__
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps (x + i, exp8 (_mm256_loadu_ps (x + i)));
#endif
  upm_exp_ref (x + i, n - i);
}

/* exp(x - max) in place, returning the sum. */
static double
exp_shifted_sum (float *x, uint32_t n, float max)
{
  uint32_t i = 0;
  double sum = 0.0;
#ifdef __AVX2__
  const __m256 m = _mm256_set1_ps (max);
  __m256 acc = _mm256_setzero_ps ();
  for (; i + 8 <= n; i += 8)
    {
      __m256 e = exp8 (_mm256_sub_ps (_mm256_loadu_ps (x + i), m));
      _mm256_storeu_ps (x + i, e);
      acc = _mm256_add_ps (acc, e);
    }
  float lanes[8];
  _mm256_storeu_ps (lanes, acc);
  for (int k = 0; k < 8; k++)
    sum += lanes[k];
#endif
  for (; i < n; i++)
    {
      x[i] = expf (x[i] - max);
      sum += x[i];
    }
  return sum;
}

static float
max_of (const float *x, uint32_t n)
{
  float max = -INFINITY;
  uint32_t i = 0;
#ifdef __AVX2__
  if (n >= 8)
    {
      __m256 m = _mm256_loadu_ps (x);
      for (i = 8; i + 8 <= n; i += 8)
        m = _mm256_max_ps (m, _mm256_loadu_ps (x + i));
      max = hmax8 (m);
    }
#endif
  for (; i < n; i++)
    max = x[i] > max ? x[i] : max;
  return max;
}

void
upm_scaled_residual (
    float *x, const float *y, const float *scale, uint32_t n, uint32_t d)
{
  for (uint32_t i = 0; i < n; i++)
    {
      float *xr = x + (size_t)i * d;
      const float *yr = y + (size_t)i * d;
      for (uint32_t j = 0; j < d; j++)
        xr[j] += scale[j] * yr[j];
    }
}

void
upm_softmax (float *x, uint32_t n)
{
  if (n == 0)
    return;
  const float max = max_of (x, n);
  const double sum = exp_shifted_sum (x, n, max);
  const float inv = (float)(1.0 / sum);
  for (uint32_t i = 0; i < n; i++)
    x[i] *= inv;
}

void
upm_log_softmax (float *x, uint32_t n)
{
  double sum = 0.0;
  uint32_t i = 0;

  if (n == 0)
    return;
  const float max = max_of (x, n);
#ifdef __AVX2__
  const __m256 m = _mm256_set1_ps (max);
  __m256d acc0 = _mm256_setzero_pd (), acc1 = _mm256_setzero_pd ();
  for (; i + 8 <= n; i += 8)
    {
      __m256 e = exp8 (_mm256_sub_ps (_mm256_loadu_ps (x + i), m));
      acc0 = _mm256_add_pd (acc0, _mm256_cvtps_pd (_mm256_castps256_ps128 (e)));
      acc1 = _mm256_add_pd (
          acc1, _mm256_cvtps_pd (_mm256_extractf128_ps (e, 1)));
    }
  double lanes[4];
  _mm256_storeu_pd (lanes, _mm256_add_pd (acc0, acc1));
  sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
#endif
  for (; i < n; i++)
    sum += exp ((double)x[i] - max);
  const float lse = max + (float)log (sum);
  for (i = 0; i < n; i++)
    x[i] -= lse;
}

void
upm_l2_normalize (float *x, uint32_t d)
{
  double sq = 0.0;

  for (uint32_t i = 0; i < d; i++)
    sq += (double)x[i] * x[i];
  double norm = sqrt (sq);
  if (norm < 1e-12)
    norm = 1e-12;
  const float inv = (float)(1.0 / norm);
  for (uint32_t i = 0; i < d; i++)
    x[i] *= inv;
}

/* One row: two passes (mean, centred variance), as PyTorch. */
static void
layer_norm_row (const float *x, uint32_t d, const float *g, const float *b,
    float eps, float *y)
{
  uint32_t j = 0;
  float sum = 0.0f, sq = 0.0f;
#ifdef __AVX2__
  __m256 s0 = _mm256_setzero_ps (), s1 = _mm256_setzero_ps ();
  for (; j + 16 <= d; j += 16)
    {
      s0 = _mm256_add_ps (s0, _mm256_loadu_ps (x + j));
      s1 = _mm256_add_ps (s1, _mm256_loadu_ps (x + j + 8));
    }
  sum = hsum8 (_mm256_add_ps (s0, s1));
#endif
  for (; j < d; j++)
    sum += x[j];
  const float mean = sum / (float)d;
  j = 0;
#ifdef __AVX2__
  const __m256 mv = _mm256_set1_ps (mean);
  s0 = _mm256_setzero_ps ();
  s1 = _mm256_setzero_ps ();
  for (; j + 16 <= d; j += 16)
    {
      __m256 c0 = _mm256_sub_ps (_mm256_loadu_ps (x + j), mv);
      __m256 c1 = _mm256_sub_ps (_mm256_loadu_ps (x + j + 8), mv);
      s0 = _mm256_fmadd_ps (c0, c0, s0);
      s1 = _mm256_fmadd_ps (c1, c1, s1);
    }
  sq = hsum8 (_mm256_add_ps (s0, s1));
#endif
  for (; j < d; j++)
    {
      const float c = x[j] - mean;
      sq += c * c;
    }
  const float inv = (float)(1.0 / sqrt ((double)sq / d + eps));
  j = 0;
#ifdef __AVX2__
  const __m256 iv = _mm256_set1_ps (inv);
  for (; j + 8 <= d; j += 8)
    {
      __m256 c
          = _mm256_mul_ps (_mm256_sub_ps (_mm256_loadu_ps (x + j), mv), iv);
      _mm256_storeu_ps (y + j, _mm256_fmadd_ps (c, _mm256_loadu_ps (g + j),
                                   _mm256_loadu_ps (b + j)));
    }
#endif
  for (; j < d; j++)
    y[j] = (x[j] - mean) * inv * g[j] + b[j];
}

typedef struct
{
  const float *x;
  float *y;
  const float *g, *b;
  float eps;
  uint32_t n, d, rows_per_task;
} LnJob;

static void
ln_task (void *arg, uint32_t task)
{
  const LnJob *j = arg;
  const uint32_t r0 = task * j->rows_per_task;
  const uint32_t r1 = MIN_U (j->n, r0 + j->rows_per_task);
  for (uint32_t r = r0; r < r1; r++)
    layer_norm_row (j->x + (size_t)r * j->d, j->d, j->g, j->b, j->eps,
        j->y + (size_t)r * j->d);
}

/* Rows per task so that a task handles at least ~32k floats. */
static uint32_t
rows_per_task (uint32_t n, uint32_t d)
{
  uint32_t r = MAX_U (1u, 32768u / MAX_U (d, 1u));
  const uint32_t t = upm_threads_get ();
  /* Still give every thread a few tasks when there is enough work. */
  if (n / r < 4 * t && n >= 4 * t)
    r = MAX_U (1u, n / (4 * t));
  return r;
}

void
upm_layer_norm (const float *x, uint32_t n, uint32_t d, const float *g,
    const float *b, float eps, float *y)
{
  LnJob j = { x, y, g, b, eps, n, d, 0 };

  if ((size_t)n * d < 65536)
    {
      for (uint32_t r = 0; r < n; r++)
        layer_norm_row (x + (size_t)r * d, d, g, b, eps, y + (size_t)r * d);
      return;
    }
  j.rows_per_task = rows_per_task (n, d);
  upm_parallel_for ((n + j.rows_per_task - 1) / j.rows_per_task, ln_task, &j);
}

void
upm_f32_to_f16_row (const float *x, uint16_t *y, size_t n)
{
  size_t i = 0;
#ifdef __F16C__
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128 ((__m128i *)(y + i),
        _mm256_cvtps_ph (_mm256_loadu_ps (x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++)
    y[i] = (uint16_t)_cvtss_sh (x[i], _MM_FROUND_TO_NEAREST_INT);
#else
  for (; i < n; i++)
    {
      /* Round to nearest even through the float bits (normal range). */
      union
      {
        float f;
        uint32_t u;
      } v = { x[i] };
      uint32_t sign = (v.u >> 16) & 0x8000, e = (v.u >> 23) & 0xff;
      uint32_t m = v.u & 0x7fffff;
      int32_t he = (int32_t)e - 127 + 15;
      if (e == 0xff)
        y[i] = (uint16_t)(sign | 0x7c00 | (m ? 0x200 : 0));
      else if (he >= 31)
        y[i] = (uint16_t)(sign | 0x7c00);
      else if (he <= 0)
        {
          if (he < -10)
            y[i] = (uint16_t)sign;
          else
            {
              m |= 0x800000;
              uint32_t shift = (uint32_t)(14 - he);
              uint32_t hm = m >> shift, rem = m & ((1u << shift) - 1);
              uint32_t half = 1u << (shift - 1);
              if (rem > half || (rem == half && (hm & 1)))
                hm++;
              y[i] = (uint16_t)(sign | hm);
            }
        }
      else
        {
          uint32_t hm = m >> 13, rem = m & 0x1fff;
          uint32_t h = sign | ((uint32_t)he << 10) | hm;
          if (rem > 0x1000 || (rem == 0x1000 && (hm & 1)))
            h++;
          y[i] = (uint16_t)h;
        }
    }
#endif
}

static inline float
f16_to_f32 (uint16_t h)
{
#ifdef __F16C__
  return _cvtsh_ss (h);
#else
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
  if (e == 0)
    {
      if (m == 0)
        u = sign;
      else
        {
          e = 127 - 15 + 1;
          while (!(m & 0x400))
            {
              m <<= 1;
              e--;
            }
          u = sign | (e << 23) | ((m & 0x3ff) << 13);
        }
    }
  else if (e == 31)
    u = sign | 0x7f800000 | (m << 13);
  else
    u = sign | ((e + 127 - 15) << 23) | (m << 13);
  union
  {
    uint32_t u;
    float f;
  } v = { u };
  return v.f;
#endif
}

/* ----------------------------------------------------------------- linear */

/* Up to this many rows, our kernel streams the weights once for all rows
 * (decoding); above it OpenBLAS sgemm. */
#define SMALL_ROWS 8

#ifdef __AVX2__
UPM_INLINE __m256
load_w8 (const int f16, const void *w, size_t off)
{
  if (f16)
    return _mm256_cvtph_ps (
        _mm_loadu_si128 ((const __m128i *)((const uint16_t *)w + off)));
  return _mm256_loadu_ps ((const float *)w + off);
}
#endif

UPM_INLINE float
load_w1 (const int f16, const void *w, size_t off)
{
  if (f16)
    return f16_to_f32 (((const uint16_t *)w)[off]);
  return ((const float *)w)[off];
}

UPM_INLINE void
store_out (
    float *y, float s, float alpha, const float *b, uint32_t j, float beta)
{
  const float v = alpha * (b ? s + b[j] : s);
  *y = beta != 0.0f ? *y + v : v;
}

/* y[r][j] = beta y[r][j] + alpha (x_r . w_j + b_j) for r < R, j in
 * [j0, j1), weight rows ldw apart. One weight row at a time, read as one
 * sequential stream (U vectors per step) for the R rows of x: interleaving
 * several weight rows defeats the hardware prefetcher and halves the
 * bandwidth. */
UPM_INLINE void
rows_kernel (const int R, const int U, const int f16, const float *x,
    size_t ldx, uint32_t k, const void *w, size_t ldw, uint32_t j0, uint32_t j1,
    float alpha, const float *b, float beta, float *y, size_t ldy)
{
  for (uint32_t j = j0; j < j1; j++)
    {
      const size_t wo = (size_t)j * ldw;
      uint32_t c = 0;
#ifdef __AVX2__
      __m256 acc[4][4];
#pragma GCC unroll 4
      for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int u = 0; u < U; u++)
          acc[r][u] = _mm256_setzero_ps ();
      for (; c + 8 * U <= k; c += 8 * U)
        {
          __m256 wv[4];
          /* ~1 KiB ahead: more misses in flight than the prefetcher keeps */
          const char *pf = f16 ? (const char *)((const uint16_t *)w + wo + c)
                               : (const char *)((const float *)w + wo + c);
          _mm_prefetch (pf + 1024, _MM_HINT_T0);
          if (U * 8 * (f16 ? 2 : 4) > 64)
            _mm_prefetch (pf + 1088, _MM_HINT_T0);
#pragma GCC unroll 4
          for (int u = 0; u < U; u++)
            wv[u] = load_w8 (f16, w, wo + c + 8 * u);
#pragma GCC unroll 4
          for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int u = 0; u < U; u++)
              acc[r][u] = _mm256_fmadd_ps (wv[u],
                  _mm256_loadu_ps (x + (size_t)r * ldx + c + 8 * u), acc[r][u]);
        }
      for (; c + 8 <= k; c += 8)
        {
          const __m256 wv = load_w8 (f16, w, wo + c);
#pragma GCC unroll 4
          for (int r = 0; r < R; r++)
            acc[r][0] = _mm256_fmadd_ps (
                wv, _mm256_loadu_ps (x + (size_t)r * ldx + c), acc[r][0]);
        }
#endif
#pragma GCC unroll 4
      for (int r = 0; r < R; r++)
        {
          float s = 0.0f;
#ifdef __AVX2__
          __m256 v = acc[r][0];
#pragma GCC unroll 4
          for (int u = 1; u < U; u++)
            v = _mm256_add_ps (v, acc[r][u]);
          s = hsum8 (v);
#endif
          for (uint32_t cc = c; cc < k; cc++)
            s += load_w1 (f16, w, wo + cc) * x[(size_t)r * ldx + cc];
          store_out (y + (size_t)r * ldy + j, s, alpha, b, j, beta);
        }
    }
}

#define ROWS_CASE(F16, W)                                                      \
  switch (rr)                                                                  \
    {                                                                          \
    case 1:                                                                    \
      rows_kernel (                                                            \
          1, 4, F16, xr, ldx, k, W, ldw, ja, jb, alpha, b, beta, yr, ldy);     \
      break;                                                                   \
    case 2:                                                                    \
      rows_kernel (                                                            \
          2, 4, F16, xr, ldx, k, W, ldw, ja, jb, alpha, b, beta, yr, ldy);     \
      break;                                                                   \
    case 3:                                                                    \
      rows_kernel (                                                            \
          3, 2, F16, xr, ldx, k, W, ldw, ja, jb, alpha, b, beta, yr, ldy);     \
      break;                                                                   \
    default:                                                                   \
      rows_kernel (                                                            \
          4, 2, F16, xr, ldx, k, W, ldw, ja, jb, alpha, b, beta, yr, ldy);     \
      break;                                                                   \
    }

/* Any number of rows: groups of g rows whose x block stays in L1 (16 KiB),
 * over sub-blocks of weight rows that stay in L2 (~192 KiB), so that the
 * weights come from DRAM once and the later groups re-read them from L2. */
static void
rows_block (const float *x, size_t ldx, uint32_t n, uint32_t k, const float *w,
    const uint16_t *w16, size_t ldw, uint32_t j0, uint32_t j1, float alpha,
    const float *b, float beta, float *y, size_t ldy)
{
  const size_t row_bytes = (size_t)MAX_U (k, 1u) * (w16 ? 2 : 4);
  const uint32_t g = MAX_U (1u, MIN_U (4u, 16384u / (MAX_U (k, 1u) * 4u)));
  const uint32_t jc
      = n <= g ? j1 - j0
               : (uint32_t)MAX_U ((size_t)4, (size_t)196608 / row_bytes);

  for (uint32_t jj = j0; jj < j1; jj += jc)
    {
      const uint32_t je = MIN_U (j1, jj + jc);
      for (uint32_t r0 = 0; r0 < n; r0 += g)
        {
          const uint32_t rr = MIN_U (g, n - r0);
          const float *xr = x + (size_t)r0 * ldx;
          float *yr = y + (size_t)r0 * ldy;
          const uint32_t ja = jj, jb = je;
          if (w16)
            ROWS_CASE (1, w16)
          else
            ROWS_CASE (0, w)
        }
    }
}

typedef struct
{
  const float *x;
  uint32_t n, n_in;
  const float *w;
  const uint16_t *w16;
  size_t ldw; /* floats between weight rows */
  const float *b;
  uint32_t n_out;
  float *y;
  float alpha, beta;
  const UpmEpilogue *epi;
  int small, by_rows;
  uint32_t chunk, n_tasks;
} LinJob;

/* y += alpha b; res += s (y + b) (b may be NULL): vectorised rows. */
static void
add_bias (float *y, const float *b, float alpha, uint32_t w)
{
  uint32_t c = 0;
#ifdef __AVX2__
  const __m256 a = _mm256_set1_ps (alpha);
  for (; c + 8 <= w; c += 8)
    _mm256_storeu_ps (y + c,
        _mm256_fmadd_ps (a, _mm256_loadu_ps (b + c), _mm256_loadu_ps (y + c)));
#endif
  for (; c < w; c++)
    y[c] += alpha * b[c];
}

static void
add_residual (
    float *res, const float *scale, const float *y, const float *b, uint32_t w)
{
  uint32_t c = 0;
#ifdef __AVX2__
  for (; c + 8 <= w; c += 8)
    {
      __m256 v = _mm256_loadu_ps (y + c);
      if (b)
        v = _mm256_add_ps (v, _mm256_loadu_ps (b + c));
      _mm256_storeu_ps (res + c, _mm256_fmadd_ps (_mm256_loadu_ps (scale + c),
                                     v, _mm256_loadu_ps (res + c)));
    }
#endif
  for (; c < w; c++)
    res[c] += scale[c] * (b ? y[c] + b[c] : y[c]);
}

static void
epilogue_block (const LinJob *j, uint32_t r0, uint32_t r1, uint32_t c0,
    uint32_t c1, const float *pending_bias)
{
  const UpmEpilogue *e = j->epi;
  const UpmEpiKind kind = e ? e->kind : UPM_EPI_NONE;
  const uint32_t w = c1 - c0;

  for (uint32_t r = r0; r < r1; r++)
    {
      float *yr = j->y + (size_t)r * j->n_out + c0;
      const float *b = pending_bias ? pending_bias + c0 : NULL;
      switch (kind)
        {
        case UPM_EPI_NONE:
          if (b)
            add_bias (yr, b, j->alpha, w);
          break;
        case UPM_EPI_GELU:
          if (b)
            add_bias (yr, b, 1.0f, w);
          upm_gelu (yr, w);
          break;
        case UPM_EPI_RESIDUAL:
          add_residual (
              e->res + (size_t)r * j->n_out + c0, e->scale + c0, yr, b, w);
          break;
        }
    }
  if (kind == UPM_EPI_RESIDUAL && e->ln_w && c0 == 0 && c1 == j->n_out)
    for (uint32_t r = r0; r < r1; r++)
      layer_norm_row (e->res + (size_t)r * j->n_out, j->n_out, e->ln_w, e->ln_b,
          e->eps, e->ln_out + (size_t)r * j->n_out);
}

static void
lin_task (void *arg, uint32_t task)
{
  const LinJob *j = arg;
  uint32_t r0 = 0, r1 = j->n, c0 = 0, c1 = j->n_out;
  const float *pending = NULL;

  if (j->n_tasks > 1)
    {
      if (j->by_rows)
        {
          r0 = task * j->chunk;
          r1 = MIN_U (j->n, r0 + j->chunk);
        }
      else
        {
          c0 = task * j->chunk;
          c1 = MIN_U (j->n_out, c0 + j->chunk);
        }
    }
  if (r0 >= r1 || c0 >= c1)
    return;
  const float *x = j->x + (size_t)r0 * j->n_in;
  float *y = j->y + (size_t)r0 * j->n_out;
  if (j->small)
    {
      rows_block (x, j->n_in, r1 - r0, j->n_in, j->w, j->w16, j->ldw, c0, c1,
          j->alpha, j->b, j->beta, y, j->n_out);
    }
  else
    {
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, c1 - c0,
          j->n_in, j->alpha, x, j->n_in, j->w + (size_t)c0 * j->ldw, j->ldw,
          j->beta, y + c0, j->n_out);
      pending = j->b;
    }
  if (j->epi || pending)
    epilogue_block (j, r0, r1, c0, c1, pending);
}

static uint32_t
round_up (uint32_t v, uint32_t m)
{
  return (v + m - 1) / m * m;
}

static void
linear_run (LinJob *j)
{
  const uint32_t t = upm_threads_get ();
  const double work = (double)j->n * j->n_in * j->n_out;

  j->small = j->n <= SMALL_ROWS;
  j->by_rows = 0;
  j->chunk = j->n_out;
  if (j->small)
    {
      /* ~1 MiB of weights per task, at least four tasks per thread. */
      uint32_t c = MAX_U (8u, (262144u / MAX_U (j->n_in, 1u)) & ~7u);
      const uint32_t per = round_up ((j->n_out + 4 * t - 1) / (4 * t), 8);
      j->chunk = MAX_U (8u, MIN_U (c, per));
    }
  else if (t > 1 && work >= 1e5)
    {
      /* Each task packs its share of one operand and all of the other.
       * Measured on the Base shapes (2 threads): splitting the rows is as
       * fast or faster as soon as each thread gets a few hundred rows;
       * fewer rows split the columns. */
      if (j->n >= 256 * t || j->n_out < j->n)
        {
          j->by_rows = 1;
          j->chunk = (j->n + t - 1) / t;
        }
      else
        {
          j->chunk = round_up ((j->n_out + t - 1) / t, 16);
        }
    }
  j->n_tasks = j->by_rows ? (j->n + j->chunk - 1) / j->chunk
                          : (j->n_out + j->chunk - 1) / j->chunk;
  upm_parallel_for (j->n_tasks, lin_task, j);
  /* LayerNorm needs whole rows: a second pass when columns were split. */
  if (j->epi && j->epi->kind == UPM_EPI_RESIDUAL && j->epi->ln_w && !j->by_rows
      && j->n_tasks > 1)
    upm_layer_norm (j->epi->res, j->n, j->n_out, j->epi->ln_w, j->epi->ln_b,
        j->epi->eps, j->epi->ln_out);
}

void
upm_linear_ex (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float *y, const UpmEpilogue *epi)
{
  upm_linear_part (x, n, n_in, w, n_in, b, n_out, 0.0f, y, epi);
}

void
upm_linear_part (const float *x, uint32_t n, uint32_t n_in, const float *w,
    size_t ldw, const float *b, uint32_t n_out, float beta, float *y,
    const UpmEpilogue *epi)
{
  LinJob j = { .x = x,
    .n = n,
    .n_in = n_in,
    .w = w,
    .ldw = ldw,
    .b = b,
    .n_out = n_out,
    .y = y,
    .alpha = 1.0f,
    .beta = beta,
    .epi = epi };

  if (n == 0)
    return;
  linear_run (&j);
}

void
upm_linear (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float *y)
{
  upm_linear_ex (x, n, n_in, w, b, n_out, y, NULL);
}

void
upm_linear_acc (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const float *b, uint32_t n_out, float alpha, float *y)
{
  LinJob j = { .x = x,
    .n = n,
    .n_in = n_in,
    .w = w,
    .ldw = n_in,
    .b = b,
    .n_out = n_out,
    .y = y,
    .alpha = alpha,
    .beta = 1.0f };

  if (n == 0)
    return;
  linear_run (&j);
}

void
upm_matmul_rows (const float *x, uint32_t n, uint32_t n_in, const float *w,
    const uint16_t *w16, uint32_t n_out, float alpha, float *y)
{
  LinJob j = { .x = x,
    .n = n,
    .n_in = n_in,
    .w = w16 ? NULL : w,
    .w16 = w16,
    .ldw = n_in,
    .n_out = n_out,
    .y = y,
    .alpha = alpha,
    .beta = 0.0f };
  const uint32_t t = upm_threads_get ();

  if (n == 0 || n_out == 0)
    return;
  j.small = 1;
  j.chunk = MAX_U (8u, MIN_U ((262144u / MAX_U (n_in, 1u)) & ~7u,
                           round_up ((n_out + 4 * t - 1) / (4 * t), 8)));
  j.n_tasks = (n_out + j.chunk - 1) / j.chunk;
  upm_parallel_for (j.n_tasks, lin_task, &j);
}

/* -------------------------------------------------------------- attention */

#define ATT_MR 6      /* query rows per micro-tile */
#define ATT_QBLOCK 48 /* query rows per task */

static uint32_t
visible_keys (
    uint32_t i, uint32_t n_keys, uint32_t causal_from, uint32_t key_offset)
{
  uint64_t vis;

  if (causal_from == UINT32_MAX)
    return n_keys;
  vis = (uint64_t)key_offset + i + 1;
  if (vis < causal_from)
    vis = causal_from;
  return vis < n_keys ? (uint32_t)vis : n_keys;
}

size_t
upm_attention_scratch (uint32_t n_q, uint32_t n_keys)
{
  (void)n_q;
  (void)n_keys;
  return 1;
}

static uint32_t
head_dim_padded (uint32_t hd)
{
  return round_up (hd, 8);
}

size_t
upm_kv_packed_size (uint32_t n_keys, uint32_t n_head, uint32_t hd)
{
  const size_t ld = round_up (MAX_U (n_keys, 1u), 16);
  return (size_t)n_head * ld * (hd + head_dim_padded (hd));
}

typedef struct
{
  const UpmKvSpan *spans;
  uint32_t n_spans, n_head, hd, hdp;
  float *kt, *v;
  uint32_t n, ld, key0;
} PackJob;

static void
pack_task (void *arg, uint32_t h)
{
  const PackJob *p = arg;
  const uint32_t hd = p->hd, hdp = p->hdp, ld = p->ld;
  float *kt = p->kt + (size_t)h * ld * hd;
  float *v = p->v + (size_t)h * ld * hdp;
  uint32_t key = p->key0;

  for (uint32_t s = 0; s < p->n_spans; s++)
    {
      const UpmKvSpan *sp = &p->spans[s];
      for (uint32_t i = 0; i < sp->n; i++, key++)
        {
          const float *kr = sp->k + (size_t)i * sp->ld + (size_t)h * hd;
          const float *vr = sp->v + (size_t)i * sp->ld + (size_t)h * hd;
          float *kd = kt + (size_t)(key / 16) * hd * 16 + key % 16;
          for (uint32_t c = 0; c < hd; c++)
            kd[(size_t)c * 16] = kr[c];
          for (uint32_t cb = 0; cb * 16 < hdp; cb++)
            {
              const uint32_t w = MIN_U (16u, hdp - cb * 16);
              float *vd = v + (size_t)cb * 16 * ld + (size_t)key * w;
              for (uint32_t c = 0; c < w; c++)
                {
                  const uint32_t col = cb * 16 + c;
                  vd[c] = col < hd ? vr[col] : 0.0f;
                }
            }
        }
    }
  /* Padding keys score 0 and are masked; zero them all the same (once the
   * last key is packed). */
  if (key < p->n)
    return;
  for (; key < ld; key++)
    {
      float *kd = kt + (size_t)(key / 16) * hd * 16 + key % 16;
      for (uint32_t c = 0; c < hd; c++)
        kd[(size_t)c * 16] = 0.0f;
      for (uint32_t cb = 0; cb * 16 < hdp; cb++)
        {
          const uint32_t w = MIN_U (16u, hdp - cb * 16);
          memset (v + (size_t)cb * 16 * ld + (size_t)key * w, 0,
              w * sizeof (float));
        }
    }
}

void
upm_kv_packed_init (
    uint32_t n_keys, uint32_t n_head, uint32_t hd, float *buf, UpmKvPacked *out)
{
  out->ld = round_up (MAX_U (n_keys, 1u), 16);
  out->n = n_keys;
  out->kt = buf;
  out->v = buf + (size_t)n_head * out->ld * hd;
}

void
upm_kv_pack_at (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t hd, uint32_t n_keys, uint32_t key0, float *buf, UpmKvPacked *out)
{
  PackJob p = { spans, n_spans, n_head, hd, head_dim_padded (hd), buf, NULL,
    n_keys, 0, key0 };
  uint32_t n = key0;

  for (uint32_t s = 0; s < n_spans; s++)
    n += spans[s].n;
  if (n > n_keys)
    abort ();
  upm_kv_packed_init (n_keys, n_head, hd, buf, out);
  p.v = (float *)out->v;
  p.ld = out->ld;
  upm_parallel_for (n_head, pack_task, &p);
}

void
upm_kv_pack (const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t hd, float *buf, UpmKvPacked *out)
{
  uint32_t n = 0;

  for (uint32_t s = 0; s < n_spans; s++)
    n += spans[s].n;
  upm_kv_pack_at (spans, n_spans, n_head, hd, n, 0, buf, out);
}

/* s[i][16 t ..] = qp_i . k for the first n_tiles 16-key tiles. */
UPM_INLINE void
qk_tile (const int MR, const float *qp, uint32_t hd, const float *kt,
    uint32_t n_tiles, float *s, size_t lds)
{
#ifdef __AVX2__
  for (uint32_t t = 0; t < n_tiles; t++)
    {
      const float *kc = kt + (size_t)t * hd * 16;
      __m256 acc[ATT_MR][2];
#pragma GCC unroll 6
      for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps ();
      for (uint32_t c = 0; c < hd; c++)
        {
          const __m256 k0 = _mm256_loadu_ps (kc + (size_t)c * 16);
          const __m256 k1 = _mm256_loadu_ps (kc + (size_t)c * 16 + 8);
#pragma GCC unroll 6
          for (int i = 0; i < MR; i++)
            {
              const __m256 q = _mm256_broadcast_ss (qp + (size_t)i * hd + c);
              acc[i][0] = _mm256_fmadd_ps (q, k0, acc[i][0]);
              acc[i][1] = _mm256_fmadd_ps (q, k1, acc[i][1]);
            }
        }
#pragma GCC unroll 6
      for (int i = 0; i < MR; i++)
        {
          _mm256_storeu_ps (s + (size_t)i * lds + t * 16, acc[i][0]);
          _mm256_storeu_ps (s + (size_t)i * lds + t * 16 + 8, acc[i][1]);
        }
    }
#else
  for (uint32_t t = 0; t < n_tiles; t++)
    for (int i = 0; i < MR; i++)
      for (int l = 0; l < 16; l++)
        {
          float a = 0.0f;
          for (uint32_t c = 0; c < hd; c++)
            a += qp[(size_t)i * hd + c] * kt[(size_t)t * hd * 16 + c * 16 + l];
          s[(size_t)i * lds + t * 16 + l] = a;
        }
#endif
}

/* Keys per block of the fused softmax/PV loop: a block of probabilities
 * (ATT_MR rows) stays in L1 while the value column blocks stream by. */
#define PV_JBLK 256

/* For rows i < MR: p[i][j] = exp(s[i][j] - mx[i]) for j < vis[i] (0 for
 * vis[i] <= j < nk), computed in place block by block and summed into
 * sum[i]; ot[i][0..hdp) = sum_j p[i][j] v[j] over keys [0, nk), not
 * normalised. */
UPM_INLINE void
pv_tile (const int MR, float *s, size_t lds, const float *mx,
    const uint32_t *vis, uint32_t nk, const float *vh, uint32_t ld, uint32_t hd,
    double *sum, float *ot)
{
  const uint32_t hdp = head_dim_padded (hd);

  memset (ot, 0, (size_t)MR * hdp * sizeof (float));
  for (uint32_t j0 = 0; j0 < nk; j0 += PV_JBLK)
    {
      const uint32_t j1 = MIN_U (nk, j0 + PV_JBLK);
      for (int i = 0; i < MR; i++)
        {
          float *row = s + (size_t)i * lds;
          const uint32_t e = MAX_U (j0, MIN_U (vis[i], j1));
          if (e > j0)
            sum[i] += exp_shifted_sum (row + j0, e - j0, mx[i]);
          if (e < j1)
            memset (row + e, 0, (j1 - e) * sizeof (float));
        }
      for (uint32_t cb = 0; cb * 16 < hdp; cb++)
        {
          const uint32_t w = MIN_U (16u, hdp - cb * 16);
          const float *vb = vh + (size_t)cb * 16 * ld;
#ifdef __AVX2__
          __m256 acc[ATT_MR][2];
#pragma GCC unroll 6
          for (int i = 0; i < MR; i++)
            {
              acc[i][0] = _mm256_loadu_ps (ot + (size_t)i * hdp + cb * 16);
              acc[i][1] = w == 16 ? _mm256_loadu_ps (
                              ot + (size_t)i * hdp + cb * 16 + 8)
                                  : _mm256_setzero_ps ();
            }
          if (w == 16)
            {
              for (uint32_t j = j0; j < j1; j++)
                {
                  const __m256 v0 = _mm256_loadu_ps (vb + (size_t)j * 16);
                  const __m256 v1 = _mm256_loadu_ps (vb + (size_t)j * 16 + 8);
#pragma GCC unroll 6
                  for (int i = 0; i < MR; i++)
                    {
                      const __m256 pj
                          = _mm256_broadcast_ss (s + (size_t)i * lds + j);
                      acc[i][0] = _mm256_fmadd_ps (pj, v0, acc[i][0]);
                      acc[i][1] = _mm256_fmadd_ps (pj, v1, acc[i][1]);
                    }
                }
            }
          else
            {
              for (uint32_t j = j0; j < j1; j++)
                {
                  const __m256 v0 = _mm256_loadu_ps (vb + (size_t)j * 8);
#pragma GCC unroll 6
                  for (int i = 0; i < MR; i++)
                    {
                      const __m256 pj
                          = _mm256_broadcast_ss (s + (size_t)i * lds + j);
                      acc[i][0] = _mm256_fmadd_ps (pj, v0, acc[i][0]);
                    }
                }
            }
#pragma GCC unroll 6
          for (int i = 0; i < MR; i++)
            {
              _mm256_storeu_ps (ot + (size_t)i * hdp + cb * 16, acc[i][0]);
              if (w == 16)
                _mm256_storeu_ps (
                    ot + (size_t)i * hdp + cb * 16 + 8, acc[i][1]);
            }
#else
          for (int i = 0; i < MR; i++)
            for (uint32_t c = 0; c < w; c++)
              {
                float a = ot[(size_t)i * hdp + cb * 16 + c];
                for (uint32_t j = j0; j < j1; j++)
                  a += s[(size_t)i * lds + j] * vb[(size_t)j * w + c];
                ot[(size_t)i * hdp + cb * 16 + c] = a;
              }
#endif
        }
    }
}

#define MR_DISPATCH(MR, CALL)                                                  \
  switch (MR)                                                                  \
    {                                                                          \
    case 1:                                                                    \
      {                                                                        \
        const int M_ = 1;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    case 2:                                                                    \
      {                                                                        \
        const int M_ = 2;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    case 3:                                                                    \
      {                                                                        \
        const int M_ = 3;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    case 4:                                                                    \
      {                                                                        \
        const int M_ = 4;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    case 5:                                                                    \
      {                                                                        \
        const int M_ = 5;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    default:                                                                   \
      {                                                                        \
        const int M_ = 6;                                                      \
        CALL;                                                                  \
      }                                                                        \
      break;                                                                   \
    }

static void
qk_any (uint32_t mr, const float *qp, uint32_t hd, const float *kt,
    uint32_t n_tiles, float *s, size_t lds)
{
  MR_DISPATCH (mr, qk_tile (M_, qp, hd, kt, n_tiles, s, lds));
}

static void
pv_any (uint32_t mr, float *s, size_t lds, const float *mx, const uint32_t *vis,
    uint32_t nk, const float *vh, uint32_t ld, uint32_t hd, double *sum,
    float *ot)
{
  MR_DISPATCH (mr, pv_tile (M_, s, lds, mx, vis, nk, vh, ld, hd, sum, ot));
}

/* o[i][0..hd) = ot[i][0..hd) / sum[i] (0 when nothing was visible). */
static void
store_rows (uint32_t mr, const float *ot, uint32_t hd, const double *sum,
    float *o, size_t ldo)
{
  const uint32_t hdp = head_dim_padded (hd);
  for (uint32_t i = 0; i < mr; i++)
    {
      const float inv = sum[i] > 0.0 ? (float)(1.0 / sum[i]) : 0.0f;
      for (uint32_t c = 0; c < hd; c++)
        o[(size_t)i * ldo + c] = ot[(size_t)i * hdp + c] * inv;
    }
}

typedef struct
{
  const float *q;
  uint32_t ldq, n_q;
  const UpmKvPacked *kv;
  uint32_t n_head, hd;
  uint32_t causal_from, key_offset;
  float *out;
  uint32_t ldo;
  uint32_t n_qblocks;
  float scale;
} AttJob;

static void
att_task (void *arg, uint32_t task)
{
  const AttJob *a = arg;
  const uint32_t h = task / a->n_qblocks, qb = task % a->n_qblocks;
  const uint32_t hd = a->hd, ld = a->kv->ld, n_keys = a->kv->n;
  const uint32_t hdp = head_dim_padded (hd);
  const float *kt = a->kv->kt + (size_t)h * ld * hd;
  const float *vh = a->kv->v + (size_t)h * ld * hdp;
  const uint32_t q0 = qb * ATT_QBLOCK;
  const uint32_t q1 = MIN_U (a->n_q, q0 + ATT_QBLOCK);
  float *s = tls_scratch (TLS_SCORES, (size_t)ATT_MR * (ld + hd + hdp));
  float *qp = s + (size_t)ATT_MR * ld;
  float *ot = qp + (size_t)ATT_MR * hd;
  float mx[ATT_MR];
  uint32_t vis[ATT_MR];
  double sum[ATT_MR];

  if (!s)
    abort ();
  for (uint32_t r0 = q0; r0 < q1; r0 += ATT_MR)
    {
      const uint32_t mr = MIN_U ((uint32_t)ATT_MR, q1 - r0);
      uint32_t vmax = 0;
      for (uint32_t i = 0; i < mr; i++)
        {
          const float *qr = a->q + (size_t)(r0 + i) * a->ldq + (size_t)h * hd;
          for (uint32_t c = 0; c < hd; c++)
            qp[(size_t)i * hd + c] = qr[c] * a->scale;
          vis[i] = visible_keys (r0 + i, n_keys, a->causal_from, a->key_offset);
          vmax = MAX_U (vmax, vis[i]);
          sum[i] = 0.0;
        }
      if (vmax > 0)
        {
          qk_any (mr, qp, hd, kt, (vmax + 15) / 16, s, ld);
          for (uint32_t i = 0; i < mr; i++)
            mx[i] = vis[i] ? max_of (s + (size_t)i * ld, vis[i]) : 0.0f;
          pv_any (mr, s, ld, mx, vis, vmax, vh, ld, hd, sum, ot);
        }
      else
        {
          memset (ot, 0, (size_t)mr * hdp * sizeof (float));
        }
      store_rows (mr, ot, hd, sum,
          a->out + (size_t)r0 * a->ldo + (size_t)h * hd, a->ldo);
    }
}

void
upm_attention_packed (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvPacked *kv, uint32_t n_head, uint32_t hd, uint32_t causal_from,
    uint32_t key_offset, float *out, uint32_t ldo)
{
  AttJob a = { q, ldq, n_q, kv, n_head, hd, causal_from, key_offset, out, ldo,
    (n_q + ATT_QBLOCK - 1) / ATT_QBLOCK, 1.0f / sqrtf ((float)hd) };

  if (n_q == 0)
    return;
  upm_parallel_for (n_head * a.n_qblocks, att_task, &a);
}

void
upm_attention (const float *q, uint32_t ldq, uint32_t n_q,
    const UpmKvSpan *spans, uint32_t n_spans, uint32_t n_head,
    uint32_t head_dim, uint32_t causal_from, uint32_t key_offset, float *out,
    uint32_t ldo, float *scratch)
{
  uint32_t n_keys = 0;
  UpmKvPacked kv;
  float *buf;

  (void)scratch;
  if (n_q == 0)
    return;
  for (uint32_t s = 0; s < n_spans; s++)
    n_keys += spans[s].n;
  buf = tls_scratch (TLS_PACK, upm_kv_packed_size (n_keys, n_head, head_dim));
  if (!buf)
    abort ();
  upm_kv_pack (spans, n_spans, n_head, head_dim, buf, &kv);
  upm_attention_packed (
      q, ldq, n_q, &kv, n_head, head_dim, causal_from, key_offset, out, ldo);
}

/* ------------------------------------------------------ grouped decoding */

typedef struct
{
  const float *q;
  uint32_t ldq;
  const UpmKvPacked *sh;
  const UpmAttnGroup *groups;
  const uint32_t *row_group, *row_local;
  uint32_t n_rows, max_extra, n_head, hd;
  uint32_t causal_from, key_offset;
  float *out;
  uint32_t ldo;
  float scale;
} GroupJob;

static float
dot (const float *a, const float *b, uint32_t n)
{
  uint32_t i = 0;
  float s = 0.0f;
#ifdef __AVX2__
  __m256 acc = _mm256_setzero_ps ();
  for (; i + 8 <= n; i += 8)
    acc = _mm256_fmadd_ps (
        _mm256_loadu_ps (a + i), _mm256_loadu_ps (b + i), acc);
  s = hsum8 (acc);
#endif
  for (; i < n; i++)
    s += a[i] * b[i];
  return s;
}

static void
group_task (void *arg, uint32_t h)
{
  const GroupJob *g = arg;
  const uint32_t hd = g->hd, ld = g->sh->ld, n_sh = g->sh->n;
  const uint32_t hdp = head_dim_padded (hd);
  const size_t lds = ld + round_up (g->max_extra, 8);
  const float *kt = g->sh->kt + (size_t)h * ld * hd;
  const float *vh = g->sh->v + (size_t)h * ld * hdp;
  float *s = tls_scratch (TLS_SCORES, ATT_MR * (lds + hd + hdp));
  float *qp = s + ATT_MR * lds;
  float *ot = qp + (size_t)ATT_MR * hd;
  float mx[ATT_MR];
  uint32_t vis[ATT_MR], vis_sh[ATT_MR];
  double sum[ATT_MR];

  if (!s)
    abort ();
  for (uint32_t r0 = 0; r0 < g->n_rows; r0 += ATT_MR)
    {
      const uint32_t mr = MIN_U ((uint32_t)ATT_MR, g->n_rows - r0);
      for (uint32_t i = 0; i < mr; i++)
        {
          const float *qr = g->q + (size_t)(r0 + i) * g->ldq + (size_t)h * hd;
          for (uint32_t c = 0; c < hd; c++)
            qp[(size_t)i * hd + c] = qr[c] * g->scale;
        }
      if (n_sh > 0)
        qk_any (mr, qp, hd, kt, ld / 16, s, lds);
      for (uint32_t i = 0; i < mr; i++)
        {
          const UpmAttnGroup *grp = &g->groups[g->row_group[r0 + i]];
          float *row = s + (size_t)i * lds;
          uint32_t e = n_sh;
          for (uint32_t sp = 0; sp < grp->n_spans; sp++)
            for (uint32_t k = 0; k < grp->spans[sp].n; k++, e++)
              row[e] = dot (qp + (size_t)i * hd,
                  grp->spans[sp].k + (size_t)k * grp->spans[sp].ld
                      + (size_t)h * hd,
                  hd);
          vis[i] = visible_keys (
              g->row_local[r0 + i], e, g->causal_from, g->key_offset);
          vis_sh[i] = MIN_U (vis[i], n_sh);
          mx[i] = vis[i] ? max_of (row, vis[i]) : 0.0f;
          sum[i] = 0.0;
        }
      if (n_sh > 0)
        pv_any (mr, s, lds, mx, vis_sh, n_sh, vh, ld, hd, sum, ot);
      else
        memset (ot, 0, (size_t)mr * hdp * sizeof (float));
      /* The group's own keys after the shared ones. */
      for (uint32_t i = 0; i < mr; i++)
        {
          const UpmAttnGroup *grp = &g->groups[g->row_group[r0 + i]];
          const float *row = s + (size_t)i * lds;
          float *oi = ot + (size_t)i * hdp;
          uint32_t e = n_sh;
          for (uint32_t sp = 0; sp < grp->n_spans; sp++)
            for (uint32_t k = 0; k < grp->spans[sp].n && e < vis[i]; k++, e++)
              {
                const float p = expf (row[e] - mx[i]);
                const float *v = grp->spans[sp].v
                                 + (size_t)k * grp->spans[sp].ld
                                 + (size_t)h * hd;
                sum[i] += p;
                for (uint32_t c = 0; c < hd; c++)
                  oi[c] += p * v[c];
              }
        }
      store_rows (mr, ot, hd, sum,
          g->out + (size_t)r0 * g->ldo + (size_t)h * hd, g->ldo);
    }
}

void
upm_attention_groups (const float *q, uint32_t ldq, const UpmKvPacked *shared,
    const UpmAttnGroup *groups, uint32_t n_groups, uint32_t n_head, uint32_t hd,
    uint32_t causal_from, uint32_t key_offset, float *out, uint32_t ldo)
{
  uint32_t n_rows = 0, max_extra = 0;

  for (uint32_t g = 0; g < n_groups; g++)
    {
      uint32_t extra = 0;
      for (uint32_t s = 0; s < groups[g].n_spans; s++)
        extra += groups[g].spans[s].n;
      max_extra = MAX_U (max_extra, extra);
      n_rows += groups[g].n_rows;
    }
  if (n_rows == 0)
    return;
  uint32_t *map = malloc (2 * (size_t)n_rows * sizeof (uint32_t));
  if (!map)
    abort ();
  for (uint32_t g = 0, r = 0; g < n_groups; g++)
    for (uint32_t i = 0; i < groups[g].n_rows; i++, r++)
      {
        map[r] = g;
        map[n_rows + r] = i;
      }
  GroupJob j = { q, ldq, shared, groups, map, map + n_rows, n_rows, max_extra,
    n_head, hd, causal_from, key_offset, out, ldo, 1.0f / sqrtf ((float)hd) };
  upm_parallel_for (n_head, group_task, &j);
  free (map);
}
