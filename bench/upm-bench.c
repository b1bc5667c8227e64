/* upm-bench.c: the benchmark core (bench/run.sh drives it).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   upm-bench machine [--runs N]
 *       FMA peak on 1 and 2 threads (12 independent AVX2 FMA chains), a
 *       large sgemm through the engine's GEMM path, and DRAM read bandwidth
 *       (a streaming sum over 1 GiB) on 1 and 2 threads.
 *       machine and model also print the kernels' ISA level in use and why
 *       ("kernels", "kernels_reason": detected, or capped by UPM_CPU).
 *   upm-bench precision MODEL.upm [--runs N] [--frames 8] [--accuracy-clips 4]
 *       The clip encoder in fp32 and in bf16 (upm_context_set_precision),
 *       runs interleaved: both times, GFLOP/s, the fractions of the FMA
 *       and BF16-dot peaks; then bf16 against fp32 on N clips and N
 *       images: features and classification logits (max and mean absolute
 *       difference, cosine) and top-1 agreement.
 *   upm-bench decode MODEL.upm [--runs N] [--beam 2] [--steps 21]
 *       [--accuracy-clips 4] [--decode-only]
 *       The caption decode step in fp32, bf16 and int8 side by side (runs
 *       interleaved): time per step, the bytes of the weights it streams
 *       at each precision and their DRAM time at the measured read
 *       bandwidth, the speedup over fp32; the clip encode (the prefix) in
 *       each (not with --decode-only: one prefix, encoded once, serves
 *       every run); then captions of N clips against fp32's (same words,
 *       score). UPM_INT8_DECODE_X8=0 and UPM_INT8_PREFIX_BF16=0 give the
 *       int8 step as it was (float rows, float prefix keys).
 *   upm-bench vocab MODEL.upm
 *       Computes the vocabulary features once (or loads them from the
 *       library's on-disk cache) and reports the time.
 *   upm-bench model MODEL.upm [--runs N] [--frames 8] [--labels 400]
 *       Encoder (clip and image), caption decoding (beam 2, 21 steps, full
 *       vocabulary) on the image and on the clip, classification against
 *       cached label features, peak RSS.
 *
 * Every result is one JSON object on stdout; timings are medians of
 * --runs runs after one warm-up run. Inputs are deterministic (an integer
 * hash mapped to [-1, 1)), so bench/torch_bench.py can rebuild them.
 */
#include "upm-engine.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "kernels/upm-cpu.h"
#ifdef UPM_BENCH_SIMD
#include "bench-simd.h"
#endif

static int opt_runs = 5;
static int opt_frames = 8;
static int opt_labels = 400;
static int opt_beam = 2;
static int opt_steps = 21;
static int opt_threads = 0;
static size_t opt_bw_mib = 1024;
static gboolean opt_skip_clip_caption = FALSE;
static gboolean opt_decode_only = FALSE;
static gboolean opt_only_caption = FALSE;
static int opt_accuracy_clips = 4;
static int opt_stream_clips = 48;
static int opt_batch_wait_us = 2000;
static char *opt_stream_work = NULL; /* encode (NULL), caption, decode */

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmp_double (const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, int n)
{
  qsort (v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Runs fn once to warm up, then opt_runs times; median seconds. */
typedef gboolean (*BenchFunc) (gpointer data);

static double
bench_median (BenchFunc fn, gpointer data, double *min_out)
{
  double *t = g_new (double, opt_runs);
  double med;

  if (!fn (data))
    exit (1);
  for (int i = 0; i < opt_runs; i++)
    {
      const double t0 = now_s ();
      if (!fn (data))
        exit (1);
      t[i] = now_s () - t0;
    }
  med = median (t, opt_runs);
  if (min_out)
    *min_out = t[0];
  g_free (t);
  return med;
}

/* A "Key:  N kB" line of /proc/self/status, -1 where there is none. */
static long
status_kib (const char *key)
{
  FILE *f = fopen ("/proc/self/status", "r");
  const size_t len = strlen (key);
  char line[256];
  long kib = -1;

  while (f && fgets (line, sizeof line, f))
    if (strncmp (line, key, len) == 0)
      kib = atol (line + len);
  if (f)
    fclose (f);
  return kib;
}

static long
peak_rss_kib (void)
{
  long kib = status_kib ("VmHWM:");

  if (kib < 0)
    {
      struct rusage ru;
      getrusage (RUSAGE_SELF, &ru);
      kib = ru.ru_maxrss;
    }
  return kib;
}

static long
current_rss_kib (void)
{
  return status_kib ("VmRSS:");
}

/* The deterministic input value i of stream seed: [-1, 1). */
static float
input_value (uint32_t seed, uint64_t i)
{
  uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed << 32);
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return (float)((double)(h >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

/* ---------------------------------------------------------------- machine */

/* One FMA loop: n_chains (0: 12) chains of iters steps, each step lanes
 * multiply-adds. */
typedef struct
{
  float (*chains) (long iters);
  long iters;
  int lanes;
  int n_chains;
} FmaLoop;

typedef struct
{
  const FmaLoop *loop;
  double seconds;
  double flops;
} FmaResult;

static void *
fma_thread (void *data)
{
  FmaResult *r = data;
  const double t0 = now_s ();
  const float sink = r->loop->chains (r->loop->iters);

  r->seconds = now_s () - t0;
  r->flops = (double)r->loop->iters
             * (r->loop->n_chains ? r->loop->n_chains : 12) * r->loop->lanes
             * 2;
  if (sink == 12345.0f)
    fprintf (stderr, "%g\n", sink);
  return NULL;
}

#ifdef UPM_BENCH_SIMD
static const FmaLoop fma256 = { upm_bench_fma_chains_256, 20000000, 8, 0 };
static const FmaLoop fma512 = { upm_bench_fma_chains_512, 10000000, 16, 0 };
/* 16 lanes of two products: 32 multiply-adds a step. */
static const FmaLoop bf16_dot
    = { upm_bench_bf16_dot_chains_512, 10000000, 32, 0 };
/* int8: 64 (32) u8 x s8 multiply-adds a step; "GFLOP/s" are giga
 * integer operations a second, counted as the float ones (2 a product). */
static const FmaLoop vnni512 = { upm_bench_vnni_chains_512, 10000000, 64, 0 };
static const FmaLoop vnni256 = { upm_bench_vnni_chains_256, 10000000, 32, 0 };
static const FmaLoop int8_avx2
    = { upm_bench_int8_avx2_chains_256, 40000000, 32, 4 };
#endif

/* Runs fn on n threads, thread i on the part at parts + i * part_size,
 * and waits for them. */
static void
run_threads (int n, void *(*fn) (void *), void *parts, size_t part_size)
{
  pthread_t t[64];

  for (int i = 0; i < n; i++)
    pthread_create (&t[i], NULL, fn, (char *)parts + i * part_size);
  for (int i = 0; i < n; i++)
    pthread_join (t[i], NULL);
}

/* A peak: the best of opt_runs runs, after warm_up runs not counted (the
 * machine is shared; a busy neighbour only ever lowers it). */
static double
best_run (double (*run_once) (gpointer data), gpointer data, int warm_up)
{
  double best = 0.0;

  for (int run = -warm_up; run < opt_runs; run++)
    {
      const double v = run_once (data);
      if (run >= 0)
        best = MAX (best, v);
    }
  return best;
}

typedef struct
{
  const FmaLoop *loop;
  int n;
} FmaRun;

/* GFLOP/s of n concurrent FMA loops (total). */
static double
fma_run_once (gpointer data)
{
  const FmaRun *f = data;
  FmaResult r[64];
  double total = 0.0;

  for (int i = 0; i < f->n; i++)
    r[i].loop = f->loop;
  run_threads (f->n, fma_thread, r, sizeof r[0]);
  for (int i = 0; i < f->n; i++)
    total += r[i].flops / r[i].seconds;
  return total * 1e-9;
}

/* The best run of n concurrent FMA loops; 0 where the CPU lacks the
 * loop's instructions. */
static double
fma_peak (int n, const FmaLoop *loop, gboolean supported)
{
  FmaRun f = { loop, n };

  return supported ? best_run (fma_run_once, &f, 0) : 0.0;
}

/* The vector loops run where the CPU has them, whatever UPM_CPU says: the
 * machine's peaks are the hardware's. */
static double
fma256_peak (int n)
{
#ifdef UPM_BENCH_SIMD
  return fma_peak (n, &fma256, upm_cpu_info ()->host >= UPM_CPU_AVX2);
#else
  return fma_peak (n, NULL, FALSE);
#endif
}

static double
fma512_peak (int n)
{
#ifdef UPM_BENCH_SIMD
  return fma_peak (n, &fma512, upm_cpu_info ()->host >= UPM_CPU_AVX512);
#else
  return fma_peak (n, NULL, FALSE);
#endif
}

typedef struct
{
  const float *a;
  size_t n;
  double sum;
} BwPart;

static void *
bw_thread (void *data)
{
  BwPart *p = data;
  size_t i = 0;
#ifdef UPM_BENCH_SIMD
  if (upm_cpu_info ()->host >= UPM_CPU_AVX2)
    p->sum += upm_bench_sum_256 (p->a, p->n, &i);
#endif
  for (; i < p->n; i++)
    p->sum += p->a[i];
  return NULL;
}

typedef struct
{
  const float *a;
  size_t n_floats;
  int n;
  double sink;
} BwRun;

/* Read bandwidth (GB/s) of n threads summing disjoint parts of a. */
static double
bw_run_once (gpointer data)
{
  BwRun *b = data;
  BwPart p[64];
  const size_t per = b->n_floats / b->n / 32 * 32;
  const double t0 = now_s ();

  for (int i = 0; i < b->n; i++)
    p[i] = (BwPart){ b->a + per * i, per, 0.0 };
  run_threads (b->n, bw_thread, p, sizeof p[0]);
  for (int i = 0; i < b->n; i++)
    b->sink += p[i].sum;
  return (double)per * b->n * 4 / (now_s () - t0) * 1e-9;
}

/* The best run after one warm-up run. */
static double
read_bandwidth (const float *a, size_t n_floats, int n)
{
  BwRun b = { a, n_floats, n, 0.0 };
  const double best = best_run (bw_run_once, &b, 1);

  if (b.sink == 1.2345)
    fprintf (stderr, "%g\n", b.sink);
  return best;
}

/* A JSON string: the text between its quotes. */
static void
print_json_text (const char *s)
{
  for (; *s; s++)
    if (*s == '"' || *s == '\\')
      printf ("\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      printf ("\\u%04x", *s);
    else
      putchar (*s);
}

/* The kernels' ISA level in use and why (detected, UPM_CPU). */
static void
print_kernels (void)
{
  printf (", \"kernels\": \"%s\", \"kernels_reason\": \"",
      upm_cpu_level_name (upm_cpu_info ()->level));
  print_json_text (upm_cpu_info ()->reason);
  printf ("\"");
}

typedef struct
{
  float *x, *w, *y;
  uint32_t m, n, k;
} GemmData;

static gboolean native_blas = FALSE;

static gboolean
gemm_run (gpointer data)
{
  GemmData *g = data;
  if (native_blas)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, g->m, g->n, g->k,
        1.0f, g->x, g->k, g->w, g->k, 0.0f, g->y, g->n);
  else
    upm_linear (g->x, g->m, g->k, g->w, NULL, g->n, g->y);
  return TRUE;
}

static double
gemm_gflops (uint32_t m, uint32_t n, uint32_t k)
{
  GemmData g = { g_new (float, (size_t)m *k), g_new (float, (size_t)n *k),
    g_new (float, (size_t)m *n), m, n, k };
  for (size_t i = 0; i < (size_t)m * k; i++)
    g.x[i] = input_value (1, i);
  for (size_t i = 0; i < (size_t)n * k; i++)
    g.w[i] = input_value (2, i);
  const double t = bench_median (gemm_run, &g, NULL);
  g_free (g.x);
  g_free (g.w);
  g_free (g.y);
  return 2.0 * m * n * k / t * 1e-9;
}

/* The BF16 dot product's peak (vdpbf16ps), 0 without AVX512_BF16. */
static double
bf16_dot_peak (int n)
{
#ifdef UPM_BENCH_SIMD
  return fma_peak (n, &bf16_dot, upm_cpu_info ()->host >= UPM_CPU_AVX512BF16);
#else
  return fma_peak (n, NULL, FALSE);
#endif
}

/* Whether the CPU has AVX512_VNNI (with the ZMM state the avx512 level
 * needs), as the library detected it. */
static gboolean
host_has_vnni (void)
{
  const UpmCpuInfo *cpu = upm_cpu_info ();

  return cpu->host >= UPM_CPU_AVX512 && cpu->flags != NULL
         && strstr (cpu->flags, "avx512_vnni") != NULL;
}

/* The int8 peaks, 0 where the CPU lacks the instructions: vpdpbusd on 512
 * and 256 bits, and the AVX2 sequence without VNNI. */
static double
int8_peak (int n, int which)
{
#ifdef UPM_BENCH_SIMD
  if (which == 512)
    return fma_peak (n, &vnni512, host_has_vnni ());
  if (which == 256)
    return fma_peak (n, &vnni256, host_has_vnni ());
  return fma_peak (n, &int8_avx2, upm_cpu_info ()->host >= UPM_CPU_AVX2);
#else
  return fma_peak (n, NULL, FALSE);
#endif
}

static int
cmd_machine (void)
{
  const size_t n_floats = opt_bw_mib * 1024 * 1024 / 4;
  float *a = NULL;
  const int threads = (int)upm_threads_get ();

  if (posix_memalign ((void **)&a, 64, n_floats * 4) != 0)
    {
      fprintf (stderr, "upm-bench: out of memory\n");
      return 1;
    }
  for (size_t i = 0; i < n_floats; i++)
    a[i] = (float)(i & 7);
  const double f1 = fma256_peak (1), f2 = fma256_peak (threads);
  const double z1 = fma512_peak (1), z2 = fma512_peak (threads);
  const double d1 = bf16_dot_peak (1), d2 = bf16_dot_peak (threads);
  const double v1 = int8_peak (1, 512), v2 = int8_peak (threads, 512);
  const double w2 = int8_peak (threads, 256), i2 = int8_peak (threads, 0);
  const double bw1 = read_bandwidth (a, n_floats, 1);
  const double bw2 = read_bandwidth (a, n_floats, threads);
  free (a);
  const double g2048 = gemm_gflops (2048, 2048, 2048);
  const double gffn = gemm_gflops (1569, 3072, 768);
  /* For comparison: OpenBLAS threading itself (outside the engine). */
  native_blas = TRUE;
  openblas_set_num_threads (threads);
  const double n2048 = gemm_gflops (2048, 2048, 2048);
  openblas_set_num_threads (1);
  native_blas = FALSE;
  printf (
      "{\"kind\": \"machine\", \"threads\": %d, \"runs\": %d, "
      "\"fma_gflops_1t\": %.2f, \"fma_gflops_nt\": %.2f, "
      "\"fma512_gflops_1t\": %.2f, \"fma512_gflops_nt\": %.2f, "
      "\"bf16_dot_gflops_1t\": %.2f, \"bf16_dot_gflops_nt\": %.2f, "
      "\"vnni512_gops_1t\": %.2f, \"vnni512_gops_nt\": %.2f, "
      "\"vnni256_gops_nt\": %.2f, \"int8_avx2_gops_nt\": %.2f, "
      "\"read_gbs_1t\": %.2f, \"read_gbs_nt\": %.2f, \"bw_buffer_mib\": %zu, "
      "\"sgemm_2048_gflops\": %.2f, \"sgemm_1569x3072x768_gflops\": %.2f, "
      "\"sgemm_2048_openblas_threads_gflops\": %.2f",
      threads, opt_runs, f1, f2, z1, z2, d1, d2, v1, v2, w2, i2, bw1, bw2,
      opt_bw_mib, g2048, gffn, n2048);
  print_kernels ();
  printf ("}\n");
  return 0;
}

/* ------------------------------------------------------------------ model */

/* ok, after saying why not on stderr. */
static gboolean
reported (gboolean ok, GError *error)
{
  if (!ok)
    fprintf (stderr, "upm-bench: %s\n", error->message);
  return ok;
}

typedef struct
{
  UpmContext *ctx;
  const float *patches;
  uint32_t frames;
  float *feature;
} EncodeData;

static gboolean
encode_run (gpointer data)
{
  EncodeData *e = data;
  GError *error = NULL;
  const gboolean ok = upm_encode_visual (e->ctx, e->patches, e->frames,
      UPM_ATTR_CLS_INPUT, e->feature, NULL, &error);

  return reported (ok, error);
}

typedef struct
{
  UpmContext *ctx;
  const float *patches;
  uint32_t frames;
  UpmPrefix *prefix;
  UpmCaption caption;
} CaptionData;

static gboolean
prefix_run (gpointer data)
{
  CaptionData *c = data;
  const UpmHParams *hp = upm_model_hparams (upm_context_model (c->ctx));
  const uint32_t n = 1 + c->frames * UPM_HP_TOKENS_PER_FRAME (hp);
  float *x = g_new (float, (size_t)n * hp->n_embd);
  GError *error = NULL;

  upm_prefix_unref (c->prefix);
  c->prefix = NULL;
  if (upm_embed_patches (c->ctx, c->patches, c->frames, x, &error))
    c->prefix = upm_prefix_new (c->ctx, x, n, NULL, &error);
  g_free (x);
  return reported (c->prefix != NULL, error);
}

static gboolean
decode_run (gpointer data)
{
  CaptionData *c = data;
  UpmCaptionParams params
      = { (uint32_t)opt_beam, (uint32_t)opt_steps, -1.0f, NULL };
  GError *error = NULL;

  upm_caption_clear (&c->caption);
  const gboolean ok = upm_caption_decode (
      c->ctx, c->prefix, &params, &c->caption, NULL, &error);
  return reported (ok, error);
}

typedef struct
{
  UpmModel *model;
  const char *const *labels;
  const float *feature;
  float *label_feat, *logits, *probs;
  UpmScore top[5];
} ClassifyData;

/* Label features from the model's cache (a lookup per label). */
static gboolean
labels_run (gpointer data)
{
  ClassifyData *c = data;
  GError *error = NULL;
  const gboolean ok = upm_model_text_features (c->model, c->labels, opt_labels,
      UPM_ATTR_CLS_TARGET, c->label_feat, &error);

  return reported (ok, error);
}

/* The head with the label features in hand: similarities, softmax, top 5. */
static gboolean
classify_run (gpointer data)
{
  ClassifyData *c = data;
  const UpmHParams *hp = upm_model_hparams (c->model);

  upm_classify (hp, c->feature, c->label_feat, opt_labels,
      upm_model_logit_scale (c->model, UPM_SCALE_VIDEO_CLS), c->logits,
      c->probs);
  upm_top_k (c->logits, c->probs, opt_labels, 5, c->top);
  return TRUE;
}

/* The vocabulary features computed (or loaded from the library's on-disk
 * cache), timed: cache names the cache file, cached whether it was there
 * before. */
typedef struct
{
  char *cache;
  gboolean cached;
  double seconds;
} VocabTiming;

static gboolean
vocab_timed (UpmModel *model, VocabTiming *vt)
{
  GError *error = NULL;

  vt->cache = upm_engine_vocab_cache_path (model);
  vt->cached = vt->cache && g_file_test (vt->cache, G_FILE_TEST_EXISTS);
  const double t0 = now_s ();
  const float *v = upm_model_vocab_features (model, NULL, NULL, &error);
  vt->seconds = now_s () - t0;
  return reported (v != NULL, error);
}

/* FLOPs of one encoder layer over n rows. */
static double
layer_flops (const UpmHParams *hp, uint32_t n)
{
  const double d = hp->n_embd, f = hp->n_ff;
  return 2.0 * n * d * 3 * d + 4.0 * n * n * d + 2.0 * n * d * d
         + 4.0 * n * d * f;
}

/* FLOPs of the forward pass over n tokens without the SPE-only shortcut
 * (what a plain implementation executes). */
static double
encoder_flops_full (const UpmHParams *hp, uint32_t n, uint32_t frames)
{
  const double d = hp->n_embd;
  const double patch
      = 2.0 * frames * UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp) * d;
  return hp->n_layer * layer_flops (hp, n) + patch + 2.0 * d * d;
}

/* FLOPs the encoder executes for n tokens (the last layer only finishes
 * the <SPE> row; its keys and values are computed for every row). */
static double
encoder_flops (const UpmHParams *hp, uint32_t n, uint32_t frames)
{
  const double d = hp->n_embd, f = hp->n_ff;
  const double last
      = 2.0 * n * d * 3 * d + 4.0 * n * d + 2.0 * d * d + 4.0 * d * f;
  return encoder_flops_full (hp, n, frames) - layer_flops (hp, n) + last;
}

static float *
make_patches (const UpmHParams *hp, uint32_t frames, uint32_t seed)
{
  const size_t n
      = (size_t)frames * UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
  float *p = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    p[i] = input_value (seed, i);
  return p;
}

static void
print_floats (const char *key, const float *v, uint32_t n)
{
  printf (", \"%s\": [", key);
  for (uint32_t i = 0; i < n; i++)
    printf ("%s%.7g", i ? ", " : "", v[i]);
  printf ("]");
}

static void
print_ids (const char *key, const UpmCaption *c)
{
  printf (", \"%s\": [", key);
  for (uint32_t i = 0; i < c->n_ids; i++)
    printf ("%s%d", i ? ", " : "", c->ids[i]);
  printf ("], \"%s_score\": %.6g", key, c->score);
}

/* Decode-step traffic: the caption_text weights of every layer (merged
 * for MoE layers) and the vocabulary features. */
static double
step_weight_bytes (const UpmHParams *hp)
{
  const double d = hp->n_embd, f = hp->n_ff;
  return hp->n_layer * (4.0 * d * d + 2.0 * d * f + 6.0 * d + f) * 4.0
         + (d * d + d) * 4.0;
}

/* The bytes a decode step streams in @prec: the caption_text linears of
 * every layer (merged for MoE layers) at that precision, their biases,
 * LayerNorms and layer scales in float, the int8 scales (one per output),
 * the head's projection in float and the vocabulary features (float, or
 * int8 + a scale per word for INT8). */
static double
step_bytes_at (const UpmHParams *hp, UpmPrecision prec)
{
  const double d = hp->n_embd, f = hp->n_ff, v = hp->n_vocab;
  const double w = hp->n_layer * (4.0 * d * d + 2.0 * d * f);
  const double small = hp->n_layer * (6.0 * d + f) * 4.0 + (d * d + d) * 4.0;

  switch (prec)
    {
    case UPM_PRECISION_BF16:
      return w * 2.0 + small + v * d * 4.0;
    case UPM_PRECISION_INT8:
      return w + hp->n_layer * (5.0 * d + f) * 4.0 + small + v * d + v * 4.0;
    default:
      return w * 4.0 + small + v * d * 4.0;
    }
}

#define N_DEC_PREC 3

static gboolean precision_accuracy (
    UpmModel *model, UpmContext *const ctx[2], int n_clips);

/* The caption decode step of one clip's prefix (--beam, --steps over the
 * full vocabulary) in fp32, bf16 and int8, runs interleaved so that all
 * see the same machine: the step's median time, the bytes its weights
 * stream at that precision and their DRAM time at the measured read
 * bandwidth (--bw-mib, all threads), the speedup over fp32; the clip
 * encode (the prefix) in each precision; and, over --accuracy-clips clips,
 * how many captions keep fp32's words and the largest score difference. */
static int
cmd_decode (const char *path)
{
  GError *error = NULL;
  UpmModel *model = upm_model_load (path, &error);

  if (!model)
    {
      fprintf (stderr, "upm-bench: %s\n", error->message);
      return 1;
    }
  const UpmHParams *hp = upm_model_hparams (model);
  const uint32_t frames = MIN ((uint32_t)opt_frames, hp->n_temporal);
  const UpmPrecision prec[N_DEC_PREC]
      = { UPM_PRECISION_FP32, UPM_PRECISION_BF16, UPM_PRECISION_INT8 };
  float *clip = make_patches (hp, frames, 11);
  CaptionData c[N_DEC_PREC];
  double *td[N_DEC_PREC], *te[N_DEC_PREC];
  double med_d[N_DEC_PREC], med_e[N_DEC_PREC], min_d[N_DEC_PREC];
  gboolean ok = TRUE;

  for (int p = 0; p < N_DEC_PREC; p++)
    {
      UpmContext *ctx = upm_context_new (model);
      upm_context_set_precision (ctx, prec[p]);
      c[p] = (CaptionData){ ctx, clip, frames, NULL, { 0 } };
      td[p] = g_new (double, opt_runs);
      te[p] = g_new (double, opt_runs);
      /* Warm-up: merged experts, bf16 packs, int8 copies, scratch. */
      ok = ok && prefix_run (&c[p]) && decode_run (&c[p]);
    }
  for (int i = 0; ok && i < opt_runs; i++)
    for (int p = 0; ok && p < N_DEC_PREC; p++)
      {
        double t0 = now_s ();
        /* --decode-only: the warm-up's prefix serves every run. */
        ok = opt_decode_only || prefix_run (&c[p]);
        te[p][i] = opt_decode_only ? 0.0 : now_s () - t0;
        t0 = now_s ();
        ok = ok && decode_run (&c[p]);
        td[p][i] = (now_s () - t0) / opt_steps;
      }
  if (!ok)
    return 1;

  const size_t n_floats = opt_bw_mib * 1024 * 1024 / 4;
  float *a = NULL;
  if (posix_memalign ((void **)&a, 64, n_floats * 4) != 0)
    return 1;
  for (size_t i = 0; i < n_floats; i++)
    a[i] = (float)(i & 7);
  const double bw = read_bandwidth (a, n_floats, (int)upm_threads_get ());
  free (a);

  printf ("{\"kind\": \"decode\", \"model\": \"%s\", \"threads\": %u, "
          "\"runs\": %d, \"beam\": %d, \"steps\": %d, \"frames\": %u, "
          "\"read_gbs\": %.2f",
      upm_model_name (model), upm_threads_get (), opt_runs, opt_beam, opt_steps,
      frames, bw);
  for (int p = 0; p < N_DEC_PREC; p++)
    {
      const char *name = upm_precision_name (prec[p]);
      const double bytes = step_bytes_at (hp, prec[p]);
      med_d[p] = median (td[p], opt_runs);
      med_e[p] = median (te[p], opt_runs);
      /* The fastest run too: on a shared machine the least disturbed. */
      min_d[p] = td[p][0];
      for (int i = 1; i < opt_runs; i++)
        min_d[p] = MIN (min_d[p], td[p][i]);
      printf (", \"step_%s_s\": %.6f, \"step_%s_min_s\": %.6f, "
              "\"step_%s_bytes\": %.0f, "
              "\"step_%s_dram_s\": %.6f, \"step_%s_of_dram\": %.3f, "
              "\"step_%s_speedup\": %.3f, \"step_%s_min_speedup\": %.3f, "
              "\"encode_clip_%s_s\": %.5f",
          name, med_d[p], name, min_d[p], name, bytes, name, bytes / (bw * 1e9),
          name, bytes / (bw * 1e9) / med_d[p], name, med_d[0] / med_d[p], name,
          min_d[0] / min_d[p], name, med_e[p]);
    }

  /* Captions of --accuracy-clips clips against fp32's. */
  for (int p = 1; p < N_DEC_PREC; p++)
    {
      int same = 0, n = 0;
      double worst = 0.0;
      for (int k = 0; ok && k < opt_accuracy_clips; k++)
        {
          float *pk = make_patches (hp, frames, 31 + k);
          CaptionData r = { c[0].ctx, pk, frames, NULL, { 0 } };
          CaptionData q = { c[p].ctx, pk, frames, NULL, { 0 } };
          ok = prefix_run (&r) && decode_run (&r) && prefix_run (&q)
               && decode_run (&q);
          if (ok)
            {
              n++;
              same += r.caption.n_ids == q.caption.n_ids
                      && memcmp (r.caption.ids, q.caption.ids,
                             r.caption.n_ids * sizeof (int32_t))
                             == 0;
              worst = MAX (worst, fabs (r.caption.score - q.caption.score));
            }
          upm_caption_clear (&r.caption);
          upm_caption_clear (&q.caption);
          upm_prefix_unref (r.prefix);
          upm_prefix_unref (q.prefix);
          g_free (pk);
        }
      printf (", \"captions_%s_same\": %d, \"captions_%s_of\": %d, "
              "\"caption_score_%s_max_abs\": %.5f",
          upm_precision_name (prec[p]), same, upm_precision_name (prec[p]), n,
          upm_precision_name (prec[p]), worst);
    }
  {
    const char *x8 = g_getenv ("UPM_INT8_DECODE_X8");
    const char *kv = g_getenv ("UPM_INT8_PREFIX_BF16");
    printf (", \"int8_decode_x8\": %s, \"int8_prefix_bf16\": %s",
        x8 && strcmp (x8, "0") == 0 ? "false" : "true",
        kv && strcmp (kv, "0") == 0 ? "false" : "true");
  }
  /* The encoder in int8 against fp32 (features, classification logits):
   * int8 x int8 unless UPM_INT8_ENCODER=0 keeps it in fp32. */
  if (ok && opt_accuracy_clips > 0)
    {
      UpmContext *const pair[2] = { c[0].ctx, c[2].ctx };
      const char *enc = g_getenv ("UPM_INT8_ENCODER");
      printf (", \"int8_encoder\": %s",
          enc && strcmp (enc, "0") == 0 ? "false" : "true");
      ok = precision_accuracy (model, pair, opt_accuracy_clips);
    }
  print_kernels ();
  printf ("}\n");
  for (int p = 0; p < N_DEC_PREC; p++)
    {
      upm_caption_clear (&c[p].caption);
      upm_prefix_unref (c[p].prefix);
      upm_context_free (c[p].ctx);
      g_free (td[p]);
      g_free (te[p]);
    }
  g_free (clip);
  upm_model_unref (model);
  return ok ? 0 : 1;
}

static int
cmd_model (const char *path)
{
  GError *error = NULL;
  const double t_load0 = now_s ();
  UpmModel *model = upm_model_load (path, &error);
  struct stat stt;

  if (!model)
    {
      fprintf (stderr, "upm-bench: %s\n", error->message);
      return 1;
    }
  const double t_load = now_s () - t_load0;
  const UpmHParams *hp = upm_model_hparams (model);
  const uint32_t d = hp->n_embd, tpf = UPM_HP_TOKENS_PER_FRAME (hp);
  const uint32_t frames = MIN ((uint32_t)opt_frames, hp->n_temporal);
  UpmContext *ctx = upm_context_new (model);
  float *clip = make_patches (hp, frames, 11);
  float *image = make_patches (hp, 1, 12);
  float *f_clip = g_new (float, d), *f_image = g_new (float, d);
  double expert_bytes = 0.0;

  stat (path, &stt);
  for (uint32_t l = 0; l < hp->n_layer; l++)
    if (upm_model_layer_is_moe (model, l))
      expert_bytes += (double)hp->n_expert
                      * (4.0 * d * d + 2.0 * d * hp->n_ff + 4.0 * d + hp->n_ff)
                      * 4.0;

  /* Encoder. */
  EncodeData ec = { ctx, clip, frames, f_clip };
  EncodeData ei = { ctx, image, 1, f_image };
  double t_clip = 0.0, t_image = 0.0;
  if (!opt_only_caption)
    {
      t_clip = bench_median (encode_run, &ec, NULL);
      t_image = bench_median (encode_run, &ei, NULL);
    }
  const uint32_t n_clip = 1 + frames * tpf, n_image = 1 + tpf;

  /* Vocabulary features (computed once, then from the on-disk cache). */
  VocabTiming vt;
  if (!vocab_timed (model, &vt))
    return 1;

  /* Caption decoding on the image and on the clip. */
  CaptionData ci = { ctx, image, 1, NULL, { 0 } };
  CaptionData cc = { ctx, clip, frames, NULL, { 0 } };
  const double t_prefix_image = bench_median (prefix_run, &ci, NULL);
  const double t_dec_image = bench_median (decode_run, &ci, NULL);
  double t_prefix_clip = 0.0, t_dec_clip = 0.0;
  if (!opt_skip_clip_caption)
    {
      t_prefix_clip = bench_median (prefix_run, &cc, NULL);
      t_dec_clip = bench_median (decode_run, &cc, NULL);
    }

  /* Classification against cached label features. */
  GPtrArray *labels = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < opt_labels; i++)
    g_ptr_array_add (labels, g_strdup_printf ("a video of activity number "
                                              "%d %s",
                                 i, (i % 3) ? "outdoors" : "with people"));
  g_ptr_array_add (labels, NULL);
  ClassifyData cl = { model, (const char *const *)labels->pdata, f_clip,
    g_new (float, (size_t)opt_labels *d), g_new (float, opt_labels),
    g_new (float, opt_labels), { { 0 } } };
  double t_labels_first = 0.0, t_lookup = 0.0, t_classify = 0.0;
  if (!opt_only_caption)
    {
      const double t_l0 = now_s ();
      labels_run (&cl);
      t_labels_first = now_s () - t_l0;
      t_lookup = bench_median (labels_run, &cl, NULL);
      t_classify = bench_median (classify_run, &cl, NULL);
    }

  const size_t merged = upm_engine_merged_bytes (model);
  const double weights_needed = (double)stt.st_size - expert_bytes + merged;
  const double vocab_bytes = (double)hp->n_vocab * d * 4.0;
  const double label_bytes = (double)opt_labels * d * 4.0;
  const double kv_image = 2.0 * hp->n_layer * n_image * d * 4.0;
  const double kv_clip = 2.0 * hp->n_layer * n_clip * d * 4.0;

  printf (
      "{\"kind\": \"model\", \"model\": \"%s\", \"threads\": %u, "
      "\"runs\": %d, \"moe\": %s, \"load_s\": %.4f, "
      "\"d\": %u, \"layers\": %u, \"heads\": %u, \"ffn\": %u, \"vocab\": %u, "
      "\"frames\": %u, \"clip_tokens\": %u, \"image_tokens\": %u, "
      "\"encode_clip_s\": %.5f, \"encode_image_s\": %.5f, "
      "\"encode_clip_gflop\": %.3f, \"encode_image_gflop\": %.3f, "
      "\"encode_clip_gflop_full\": %.3f, \"encode_image_gflop_full\": %.3f, "
      "\"vocab_cached\": %s, \"vocab_s\": %.3f, \"vocab_cache\": \"%s\", "
      "\"beam\": %d, \"steps\": %d, "
      "\"prefix_image_s\": %.5f, \"decode_image_s\": %.5f, "
      "\"prefix_clip_s\": %.5f, \"decode_clip_s\": %.5f, "
      "\"step_weight_bytes\": %.0f, \"vocab_bytes\": %.0f, "
      "\"kv_image_bytes\": %.0f, \"kv_clip_bytes\": %.0f, "
      "\"labels\": %d, \"label_features_first_s\": %.4f, "
      "\"classify_s\": %.6f, \"label_lookup_s\": %.6f, "
      "\"file_bytes\": %.0f, \"expert_bytes\": %.0f, \"merged_bytes\": %zu, "
      "\"weights_needed_bytes\": %.0f, \"label_bytes\": %.0f, "
      "\"peak_rss_kib\": %ld, \"rss_kib\": %ld, "
      "\"caption_image_ids\": %u, \"caption_clip_ids\": %u, "
      "\"vocab_f16\": %s",
      upm_model_name (model), upm_threads_get (), opt_runs,
      upm_model_is_moe (model) ? "true" : "false", t_load, d, hp->n_layer,
      hp->n_head, hp->n_ff, hp->n_vocab, frames, n_clip, n_image, t_clip,
      t_image, encoder_flops (hp, n_clip, frames) * 1e-9,
      encoder_flops (hp, n_image, 1) * 1e-9,
      encoder_flops_full (hp, n_clip, frames) * 1e-9,
      encoder_flops_full (hp, n_image, 1) * 1e-9, vt.cached ? "true" : "false",
      vt.seconds, vt.cache ? vt.cache : "", opt_beam, opt_steps, t_prefix_image,
      t_dec_image, t_prefix_clip, t_dec_clip, step_weight_bytes (hp),
      vocab_bytes, kv_image, kv_clip, opt_labels, t_labels_first, t_classify,
      t_lookup, (double)stt.st_size, expert_bytes, merged, weights_needed,
      label_bytes, peak_rss_kib (), current_rss_kib (), ci.caption.n_ids,
      cc.caption.n_ids, upm_engine_vocab_f16_enabled () ? "true" : "false");
  print_ids ("caption_image", &ci.caption);
  print_ids ("caption_clip", &cc.caption);
  print_floats ("feature_image", f_image, MIN (d, 16u));
  print_floats ("feature_clip", f_clip, MIN (d, 16u));
  print_kernels ();
  printf ("}\n");

  upm_caption_clear (&ci.caption);
  upm_caption_clear (&cc.caption);
  upm_prefix_unref (ci.prefix);
  upm_prefix_unref (cc.prefix);
  g_free (cl.label_feat);
  g_free (cl.logits);
  g_free (cl.probs);
  g_ptr_array_free (labels, TRUE);
  g_free (vt.cache);
  g_free (clip);
  g_free (image);
  g_free (f_clip);
  g_free (f_image);
  upm_context_free (ctx);
  upm_model_unref (model);
  return 0;
}

/* Computes (or loads) the vocabulary features: warms the on-disk cache in
 * a process of its own, so that the measured run's peak RSS is the
 * steady state's. */
static int
cmd_vocab (const char *path)
{
  GError *error = NULL;
  UpmModel *model = upm_model_load (path, &error);
  if (!model)
    {
      fprintf (stderr, "upm-bench: %s\n", error->message);
      return 1;
    }
  VocabTiming vt;
  const gboolean ok = vocab_timed (model, &vt);
  if (ok)
    printf ("{\"kind\": \"vocab\", \"model\": \"%s\", \"cached\": %s, "
            "\"seconds\": %.3f, \"cache\": \"%s\", \"threads\": %u}\n",
        upm_model_name (model), vt.cached ? "true" : "false", vt.seconds,
        vt.cache ? vt.cache : "", upm_threads_get ());
  g_free (vt.cache);
  upm_model_unref (model);
  return ok ? 0 : 1;
}

/* FLOPs that a token- or context-routed model executes on top of the dense
 * model of the same shape for n tokens: in every MoE layer each token runs
 * through two experts (the second expert's linears again) plus the gate's
 * logits; the last layer finishes only the <SPE> row after its QKV. */
static double
dispatch_extra_flops (UpmModel *model, uint32_t n)
{
  const UpmHParams *hp = upm_model_hparams (model);
  const double d = hp->n_embd, f = hp->n_ff, e = hp->n_expert;
  double extra = 0.0;

  for (uint32_t l = 0; l < hp->n_layer; l++)
    {
      if (!upm_model_layer_is_moe (model, l))
        continue;
      if (l + 1 < hp->n_layer)
        extra += 2.0 * n * (4.0 * d * d + 2.0 * d * f) + 2.0 * 2.0 * n * d * e;
      else
        extra += 2.0 * n * 3.0 * d * d + 2.0 * (d * d + 2.0 * d * f)
                 + 2.0 * (n + 1.0) * d * e;
    }
  return extra;
}

/* Differences of b from a over n values: the largest and the mean
 * absolute, and the cosine. */
typedef struct
{
  double max_abs, sum_abs, dot, na, nb;
  size_t n;
} Diff;

static void
diff_add (Diff *df, const float *a, const float *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      const double e = fabs ((double)a[i] - b[i]);
      df->max_abs = MAX (df->max_abs, e);
      df->sum_abs += e;
      df->dot += (double)a[i] * b[i];
      df->na += (double)a[i] * a[i];
      df->nb += (double)b[i] * b[i];
    }
  df->n += n;
}

static void
diff_print (const char *key, const Diff *df)
{
  printf (", \"%s_max_abs\": %.3g, \"%s_mean_abs\": %.3g, \"%s_cosine\": %.8f",
      key, df->max_abs, key, df->n ? df->sum_abs / df->n : 0.0, key,
      df->dot / sqrt (df->na * df->nb));
}

/* The accuracy of bf16 against fp32 over clips of seeds 21.. (and images):
 * the features, and the classification logits against opt_labels label
 * features (computed once, in the model's default precision). */
static gboolean
precision_accuracy (UpmModel *model, UpmContext *const ctx[2], int n_clips)
{
  const UpmHParams *hp = upm_model_hparams (model);
  const uint32_t d = hp->n_embd,
                 frames = MIN ((uint32_t)opt_frames, hp->n_temporal);
  const float scale = upm_model_logit_scale (model, UPM_SCALE_VIDEO_CLS);
  GPtrArray *labels = g_ptr_array_new_with_free_func (g_free);
  float *label_feat = g_new (float, (size_t)opt_labels *d);
  float *feat[2] = { g_new (float, d), g_new (float, d) };
  float *logits[2] = { g_new (float, opt_labels), g_new (float, opt_labels) };
  float *probs = g_new (float, opt_labels);
  Diff clip = { 0 }, image = { 0 }, lg = { 0 };
  int top1_same = 0;
  GError *error = NULL;
  gboolean ok;

  for (int i = 0; i < opt_labels; i++)
    g_ptr_array_add (labels, g_strdup_printf ("a video of activity number "
                                              "%d %s",
                                 i, (i % 3) ? "outdoors" : "with people"));
  g_ptr_array_add (labels, NULL);
  ok = reported (
      upm_model_text_features (model, (const char *const *)labels->pdata,
          opt_labels, UPM_ATTR_CLS_TARGET, label_feat, &error),
      error);
  for (int c = 0; ok && c < 2 * n_clips; c++)
    {
      const uint32_t f = c < n_clips ? frames : 1;
      float *patches = make_patches (hp, f, 21 + c);
      uint32_t top[2] = { 0, 0 };
      for (int p = 0; ok && p < 2; p++)
        {
          EncodeData e = { ctx[p], patches, f, feat[p] };
          ok = encode_run (&e);
          upm_classify (
              hp, feat[p], label_feat, opt_labels, scale, logits[p], probs);
          for (int l = 1; l < opt_labels; l++)
            if (logits[p][l] > logits[p][top[p]])
              top[p] = l;
        }
      diff_add (c < n_clips ? &clip : &image, feat[0], feat[1], d);
      diff_add (&lg, logits[0], logits[1], opt_labels);
      top1_same += top[0] == top[1];
      g_free (patches);
    }
  if (ok)
    {
      printf (", \"accuracy_clips\": %d, \"accuracy_images\": %d, "
              "\"labels\": %d, \"logit_scale\": %.4g",
          n_clips, n_clips, opt_labels, scale);
      diff_print ("feature_clip", &clip);
      diff_print ("feature_image", &image);
      diff_print ("logits", &lg);
      printf (", \"top1_agreement\": %.4f", top1_same / (2.0 * n_clips));
    }
  g_ptr_array_free (labels, TRUE);
  g_free (label_feat);
  g_free (probs);
  for (int p = 0; p < 2; p++)
    {
      g_free (feat[p]);
      g_free (logits[p]);
    }
  return ok;
}

/* One clip encoded in each precision, runs interleaved (fp32, bf16, fp32,
 * ...) so that both see the same machine; the times' medians, GFLOP/s,
 * their fractions of the FMA and BF16-dot peaks; then the accuracy of
 * bf16 against fp32 (precision_accuracy). */
static int
cmd_precision (const char *path)
{
  GError *error = NULL;
  UpmModel *model = upm_model_load (path, &error);

  if (!model)
    {
      fprintf (stderr, "upm-bench: %s\n", error->message);
      return 1;
    }
  const UpmHParams *hp = upm_model_hparams (model);
  const uint32_t d = hp->n_embd,
                 frames = MIN ((uint32_t)opt_frames, hp->n_temporal);
  const uint32_t n = 1 + frames * UPM_HP_TOKENS_PER_FRAME (hp);
  const UpmPrecision prec[2] = { UPM_PRECISION_FP32, UPM_PRECISION_BF16 };
  float *clip = make_patches (hp, frames, 11);
  float *feat[2] = { g_new (float, d), g_new (float, d) };
  double *t[2] = { g_new (double, opt_runs), g_new (double, opt_runs) };
  UpmContext *ctx[2];
  EncodeData e[2];
  double med[2];
  gboolean ok = TRUE;

  for (int p = 0; p < 2; p++)
    {
      ctx[p] = upm_context_new (model);
      upm_context_set_precision (ctx[p], prec[p]);
      e[p] = (EncodeData){ ctx[p], clip, frames, feat[p] };
      /* Warm-up: merged experts, bf16 packing, scratch. */
      ok = ok && encode_run (&e[p]);
    }
  for (int i = 0; ok && i < opt_runs; i++)
    for (int p = 0; ok && p < 2; p++)
      {
        const double t0 = now_s ();
        ok = encode_run (&e[p]);
        t[p][i] = now_s () - t0;
      }
  if (!ok)
    return 1;
  for (int p = 0; p < 2; p++)
    med[p] = median (t[p], opt_runs);
  const int threads = (int)upm_threads_get ();
  const double fl = encoder_flops (hp, n, frames);
  const double fma = MAX (fma256_peak (threads), fma512_peak (threads));
  const double dotp = bf16_dot_peak (threads);
  const double g32 = fl / med[0] * 1e-9, g16 = fl / med[1] * 1e-9;

  printf ("{\"kind\": \"precision\", \"model\": \"%s\", \"threads\": %d, "
          "\"runs\": %d, \"tokens\": %u, \"encode_clip_gflop\": %.3f, "
          "\"encode_clip_fp32_s\": %.5f, \"encode_clip_bf16_s\": %.5f, "
          "\"bf16_speedup\": %.3f, \"fp32_gflops\": %.2f, "
          "\"bf16_gflops\": %.2f, \"fma_peak_gflops\": %.2f, "
          "\"bf16_dot_peak_gflops\": %.2f, \"fp32_of_fma_peak\": %.3f, "
          "\"bf16_of_dot_peak\": %.4f",
      upm_model_name (model), threads, opt_runs, n, fl * 1e-9, med[0], med[1],
      med[0] / med[1], g32, g16, fma, dotp, fma > 0 ? g32 / fma : 0.0,
      dotp > 0 ? g16 / dotp : 0.0);
  ok = opt_accuracy_clips <= 0
       || precision_accuracy (model, ctx, opt_accuracy_clips);
  print_kernels ();
  printf ("}\n");
  for (int p = 0; p < 2; p++)
    {
      upm_context_free (ctx[p]);
      g_free (feat[p]);
      g_free (t[p]);
    }
  g_free (clip);
  upm_model_unref (model);
  return ok ? 0 : 1;
}

/* Dynamic dispatch overhead: a clip through the dense model and through the
 * token-routed model of the same shape, back to back; the time ratio over
 * the FLOP ratio is what the gather / per-expert GEMM / scatter-add costs
 * beyond the experts' arithmetic (1.0 = none). */
static int
cmd_dispatch (const char *dense_path, const char *routed_path)
{
  GError *error = NULL;
  UpmModel *dense = upm_model_load (dense_path, &error);
  UpmModel *routed = dense ? upm_model_load (routed_path, &error) : NULL;

  if (!routed)
    {
      fprintf (stderr, "upm-bench: %s\n", error->message);
      if (dense)
        upm_model_unref (dense);
      return 1;
    }
  const UpmHParams *hp = upm_model_hparams (dense);
  const UpmHParams *hr = upm_model_hparams (routed);
  if (hp->n_embd != hr->n_embd || hp->n_layer != hr->n_layer
      || hp->n_ff != hr->n_ff || hp->grid != hr->grid
      || !upm_routing_level_is_dynamic (upm_model_routing_level (routed)))
    {
      fprintf (stderr, "upm-bench: dispatch wants a dense model and a token- "
                       "or context-routed model of the same shape\n");
      upm_model_unref (dense);
      upm_model_unref (routed);
      return 2;
    }
  const uint32_t frames = MIN ((uint32_t)opt_frames, hp->n_temporal);
  const uint32_t n = 1 + frames * UPM_HP_TOKENS_PER_FRAME (hp);
  float *clip = make_patches (hp, frames, 11);
  float *f_dense = g_new (float, hp->n_embd),
        *f_routed = g_new (float, hp->n_embd);
  UpmContext *cd = upm_context_new (dense), *cr = upm_context_new (routed);
  EncodeData ed = { cd, clip, frames, f_dense };
  EncodeData er = { cr, clip, frames, f_routed };
  const double t_dense = bench_median (encode_run, &ed, NULL);
  const double t_routed = bench_median (encode_run, &er, NULL);
  const double fl_dense = encoder_flops (hp, n, frames);
  const double fl_routed = fl_dense + dispatch_extra_flops (routed, n);

  printf ("{\"kind\": \"dispatch\", \"dense\": \"%s\", \"routed\": \"%s\", "
          "\"routing\": \"%s\", \"threads\": %u, \"runs\": %d, \"tokens\": %u, "
          "\"dense_s\": %.5f, \"routed_s\": %.5f, \"dense_gflop\": %.3f, "
          "\"routed_gflop\": %.3f, \"overhead\": %.4f}\n",
      upm_model_name (dense), upm_model_name (routed),
      upm_routing_level_name (upm_model_routing_level (routed)),
      upm_threads_get (), opt_runs, n, t_dense, t_routed, fl_dense * 1e-9,
      fl_routed * 1e-9, (t_routed / t_dense) / (fl_routed / fl_dense));
  upm_context_free (cd);
  upm_context_free (cr);
  g_free (clip);
  g_free (f_dense);
  g_free (f_routed);
  upm_model_unref (dense);
  upm_model_unref (routed);
  return 0;
}

/* Writes the deterministic patches of a clip as raw float32 (for checks). */
static int
cmd_patches (const char *path, const char *out)
{
  GError *error = NULL;
  UpmModel *model = upm_model_load (path, &error);
  if (!model)
    {
      fprintf (stderr, "upm-bench: %s\n", error->message);
      return 1;
    }
  const UpmHParams *hp = upm_model_hparams (model);
  const uint32_t frames = MIN ((uint32_t)opt_frames, hp->n_temporal);
  float *p = make_patches (hp, frames, frames == 1 ? 12 : 11);
  const size_t n
      = (size_t)frames * UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
  gboolean ok = g_file_set_contents (out, (const char *)p, n * 4, &error);
  if (!ok)
    fprintf (stderr, "upm-bench: %s\n", error->message);
  g_free (p);
  upm_model_unref (model);
  return ok ? 0 : 1;
}

/* ------------------------------------------------------------- streams */

/* One stream of the streams rows: its context encodes its clips back to
 * back (a saturated source); the latency of a clip is its call's time
 * (any batch wait included). */
typedef struct
{
  UpmModel *model;
  gint64 wait_us;
  uint32_t frames;
  const float *patches;
  double *latency; /* opt_stream_clips */
  GMutex *start_lock;
  GCond *start_cond;
  gboolean *started;
  int *ready; /* streams warmed up */
  gboolean ok;
} StreamData;

static const char *
stream_work (void)
{
  return opt_stream_work ? opt_stream_work : "encode";
}

/* A stream's work on one clip (--stream-work): encode it
 * (upmtransformer); caption: encode and caption it (upmhead's caption
 * task); decode: only the beam search, over the stream's prefix. */
static gboolean
stream_clip (UpmContext *ctx, StreamData *s, UpmPrefix *prefix, float *feat,
    GError **error)
{
  const char *work = stream_work ();
  UpmCaption cap;

  if (strcmp (work, "decode") == 0)
    {
      if (!upm_caption_decode (ctx, prefix, NULL, &cap, NULL, error))
        return FALSE;
      upm_caption_clear (&cap);
      return TRUE;
    }
  if (!upm_encode_visual (
          ctx, s->patches, s->frames, UPM_ATTR_CLS_INPUT, feat, NULL, error))
    return FALSE;
  if (strcmp (work, "caption") != 0)
    return TRUE;
  if (!upm_caption (ctx, s->patches, s->frames, NULL, &cap, NULL, error))
    return FALSE;
  upm_caption_clear (&cap);
  return TRUE;
}

/* The stream's caption prefix (decode work), NULL on failure. */
static UpmPrefix *
stream_prefix (UpmContext *ctx, StreamData *s, GError **error)
{
  const UpmHParams *hp = upm_model_hparams (s->model);
  const uint32_t n = 1 + s->frames * UPM_HP_TOKENS_PER_FRAME (hp);
  float *emb = g_new (float, (size_t)n * hp->n_embd);
  UpmPrefix *prefix = NULL;

  if (upm_embed_patches (ctx, s->patches, s->frames, emb, error))
    prefix = upm_prefix_new (ctx, emb, n, NULL, error);
  g_free (emb);
  return prefix;
}

static gpointer
stream_thread (gpointer data)
{
  StreamData *s = data;
  UpmContext *ctx = upm_context_new (s->model);
  float *feat = g_new (float, upm_model_hparams (s->model)->n_embd);
  GError *error = NULL;

  UpmPrefix *prefix = NULL;

  upm_context_set_batch_wait (ctx, s->wait_us);
  if (strcmp (stream_work (), "decode") == 0)
    prefix = stream_prefix (ctx, s, &error);
  /* Warm-up (scratch), then wait for the start of all streams. */
  s->ok = !error && stream_clip (ctx, s, prefix, feat, &error);
  g_mutex_lock (s->start_lock);
  (*s->ready)++;
  g_cond_broadcast (s->start_cond);
  while (!*s->started)
    g_cond_wait (s->start_cond, s->start_lock);
  g_mutex_unlock (s->start_lock);
  for (int i = 0; s->ok && i < opt_stream_clips; i++)
    {
      const double t0 = now_s ();
      s->ok = stream_clip (ctx, s, prefix, feat, &error);
      s->latency[i] = now_s () - t0;
    }
  if (error)
    fprintf (stderr, "upm-bench: %s\n", error->message);
  g_clear_error (&error);
  if (prefix)
    upm_prefix_unref (prefix);
  upm_context_free (ctx);
  g_free (feat);
  return NULL;
}

/* n streams of one model: clips/s of all, latency p50 and p95. */
/* CPU seconds of the process so far (all threads). */
static double
cpu_s (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
         + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static gboolean
streams_run (UpmModel *model, const float *patches, uint32_t frames,
    int n_streams, gint64 wait_us, double *clips_s, double *p50, double *p95,
    double *clips_per_batch, double *cpu_per_clip)
{
  StreamData *s = g_new0 (StreamData, n_streams);
  GThread **t = g_new (GThread *, n_streams);
  double *all = g_new (double, (size_t)n_streams *opt_stream_clips);
  GMutex lock;
  GCond cond;
  gboolean started = FALSE, ok = TRUE;
  int ready = 0;
  guint64 b0, j0, b1, j1;
  double t0, c0;

  g_mutex_init (&lock);
  g_cond_init (&cond);
  for (int i = 0; i < n_streams; i++)
    {
      s[i] = (StreamData){ model, wait_us, frames, patches,
        all + (size_t)i * opt_stream_clips, &lock, &cond, &started, &ready,
        FALSE };
      t[i] = g_thread_new ("stream", stream_thread, &s[i]);
    }
  /* Wait for the warm-ups (not timed). */
  g_mutex_lock (&lock);
  while (ready < n_streams)
    g_cond_wait (&cond, &lock);
  upm_model_batch_stats (model, &b0, &j0);
  started = TRUE;
  t0 = now_s ();
  c0 = cpu_s ();
  g_cond_broadcast (&cond);
  g_mutex_unlock (&lock);
  for (int i = 0; i < n_streams; i++)
    {
      g_thread_join (t[i]);
      ok = ok && s[i].ok;
    }
  const double wall = now_s () - t0;
  const int n = n_streams * opt_stream_clips;
  *cpu_per_clip = (cpu_s () - c0) / n;
  upm_model_batch_stats (model, &b1, &j1);
  *clips_s = n / wall;
  qsort (all, n, sizeof *all, cmp_double);
  *p50 = all[n / 2];
  *p95 = all[MIN (n - 1, (int)(0.95 * n))];
  *clips_per_batch = b1 > b0 ? (double)(j1 - j0) / (b1 - b0) : 0.0;
  g_mutex_clear (&lock);
  g_cond_clear (&cond);
  g_free (all);
  g_free (t);
  g_free (s);
  return ok;
}

/* 1, 4 and 16 streams of one model, unbatched (batch wait 0) and batched
 * (--batch-wait-us), --stream-clips clips each: clips/s and latency. */
static int
cmd_streams (const char *path)
{
  static const int counts[] = { 1, 4, 16 };
  GError *error = NULL;
  UpmModel *model = upm_model_load (path, &error);

  if (!model)
    {
      fprintf (stderr, "upm-bench: %s\n", error->message);
      return 1;
    }
  const UpmHParams *hp = upm_model_hparams (model);
  const uint32_t frames = MIN ((uint32_t)opt_frames, hp->n_temporal);
  float *clip = make_patches (hp, frames, 11);
  gboolean ok = TRUE;

  if (strcmp (stream_work (), "encode") != 0
      && strcmp (stream_work (), "caption") != 0
      && strcmp (stream_work (), "decode") != 0)
    {
      fprintf (stderr, "upm-bench: --stream-work is encode, caption or "
                       "decode\n");
      return 2;
    }
  for (guint c = 0; ok && c < G_N_ELEMENTS (counts); c++)
    {
      double cs[2], p50[2], p95[2], cpb[2], cpu[2];
      for (int b = 0; ok && b < 2; b++)
        ok = streams_run (model, clip, frames, counts[c],
            b ? opt_batch_wait_us : 0, &cs[b], &p50[b], &p95[b], &cpb[b],
            &cpu[b]);
      if (!ok)
        break;
      printf ("{\"kind\": \"streams\", \"model\": \"%s\", \"threads\": %u, "
              "\"work\": \"%s\", \"streams\": %d, \"clips_per_stream\": %d, "
              "\"frames\": %u, "
              "\"batch_wait_us\": %d, \"unbatched_clips_s\": %.1f, "
              "\"batched_clips_s\": %.1f, \"speedup\": %.2f, "
              "\"unbatched_p50_ms\": %.3f, \"unbatched_p95_ms\": %.3f, "
              "\"batched_p50_ms\": %.3f, \"batched_p95_ms\": %.3f, "
              "\"clips_per_batch\": %.2f, \"unbatched_cpu_ms_per_clip\": "
              "%.3f, \"batched_cpu_ms_per_clip\": %.3f}\n",
          upm_model_name (model), upm_threads_get (), stream_work (), counts[c],
          opt_stream_clips, frames, opt_batch_wait_us, cs[0], cs[1],
          cs[1] / cs[0], p50[0] * 1e3, p95[0] * 1e3, p50[1] * 1e3, p95[1] * 1e3,
          cpb[1], cpu[0] * 1e3, cpu[1] * 1e3);
      fflush (stdout);
    }
  g_free (clip);
  upm_model_unref (model);
  return ok ? 0 : 1;
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = { { "runs", 'n', 0, G_OPTION_ARG_INT, &opt_runs,
                                 "timed runs (median)", "N" },
    { "frames", 'f', 0, G_OPTION_ARG_INT, &opt_frames, "clip frames", "N" },
    { "labels", 'l', 0, G_OPTION_ARG_INT, &opt_labels, "labels", "N" },
    { "beam", 'b', 0, G_OPTION_ARG_INT, &opt_beam, "caption beam", "N" },
    { "steps", 's', 0, G_OPTION_ARG_INT, &opt_steps, "caption steps", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &opt_threads,
        "threads (0: all cores)", "N" },
    { "bw-mib", 0, 0, G_OPTION_ARG_INT64, &opt_bw_mib, "bandwidth buffer (MiB)",
        "N" },
    { "skip-clip-caption", 0, 0, G_OPTION_ARG_NONE, &opt_skip_clip_caption,
        "only caption the image", NULL },
    { "only-caption", 0, 0, G_OPTION_ARG_NONE, &opt_only_caption,
        "only the caption rows (model)", NULL },
    { "decode-only", 0, 0, G_OPTION_ARG_NONE, &opt_decode_only,
        "decode: time the steps only (the prefix encoded once)", NULL },
    { "accuracy-clips", 0, 0, G_OPTION_ARG_INT, &opt_accuracy_clips,
        "clips (and images) of the bf16 accuracy (precision)", "N" },
    { "stream-clips", 0, 0, G_OPTION_ARG_INT, &opt_stream_clips,
        "clips per stream (streams)", "N" },
    { "batch-wait-us", 0, 0, G_OPTION_ARG_INT, &opt_batch_wait_us,
        "batch wait of the batched streams (streams)", "US" },
    { "stream-work", 0, 0, G_OPTION_ARG_STRING, &opt_stream_work,
        "a stream's work per clip (streams): encode (default), caption "
        "(encode, then caption), decode (the caption's beam search over a "
        "prefix made once)",
        "WORK" },
    { NULL } };
  GOptionContext *oc = g_option_context_new (
      "machine | model MODEL.upm | "
      "vocab MODEL.upm | patches MODEL.upm OUT.f32 | "
      "dispatch DENSE.upm ROUTED.upm | precision MODEL.upm | "
      "streams MODEL.upm | decode MODEL.upm");
  GError *error = NULL;
  int rc = 2;

  g_option_context_add_main_entries (oc, entries, NULL);
  if (!g_option_context_parse (oc, &argc, &argv, &error))
    {
      fprintf (stderr, "upm-bench: %s\n", error->message);
      return 2;
    }
  g_option_context_free (oc);
  if (opt_runs < 1 || opt_labels < 1 || opt_frames < 1 || opt_beam < 1
      || opt_steps < 1 || opt_bw_mib < 1 || opt_stream_clips < 1
      || opt_batch_wait_us < 0)
    {
      fprintf (stderr, "upm-bench: counts must be positive\n");
      return 2;
    }
  upm_set_num_threads (opt_threads);
  if (argc >= 2 && strcmp (argv[1], "machine") == 0)
    rc = cmd_machine ();
  else if (argc >= 3 && strcmp (argv[1], "model") == 0)
    rc = cmd_model (argv[2]);
  else if (argc >= 3 && strcmp (argv[1], "vocab") == 0)
    rc = cmd_vocab (argv[2]);
  else if (argc >= 4 && strcmp (argv[1], "patches") == 0)
    rc = cmd_patches (argv[2], argv[3]);
  else if (argc >= 4 && strcmp (argv[1], "dispatch") == 0)
    rc = cmd_dispatch (argv[2], argv[3]);
  else if (argc >= 3 && strcmp (argv[1], "precision") == 0)
    rc = cmd_precision (argv[2]);
  else if (argc >= 3 && strcmp (argv[1], "streams") == 0)
    rc = cmd_streams (argv[2]);
  else if (argc >= 3 && strcmp (argv[1], "decode") == 0)
    rc = cmd_decode (argv[2]);
  else
    fprintf (stderr, "usage: upm-bench [OPTION...] machine | model MODEL.upm"
                     " | vocab MODEL.upm | patches MODEL.upm OUT.f32"
                     " | dispatch DENSE.upm ROUTED.upm"
                     " | precision MODEL.upm | streams MODEL.upm"
                     " | decode MODEL.upm\n");
  return rc;
}
