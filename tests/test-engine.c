/* test-engine.c: the engine against the PyTorch reference's golden fixtures,
 * and its fast paths against its plain paths.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture-check.h"
#include "upm-engine.h"
#include "upm-weights.h"
#include "kernels/upm-cpu.h"

#include <math.h>
#include <string.h>

#include "upm-test-util.h"

static void
run_fixture (gconstpointer data)
{
  const char *const *pair = data;
  char *model = upm_test_fixture_path (pair[0]);
  char *expect = upm_test_fixture_path (pair[1]);

  for (int p = 0; p < 2; p++)
    {
      GString *report = g_string_new (NULL);
      GError *error = NULL;
      int failed = upm_fixture_check (
          model, expect, p ? UPM_PATH_PLAIN : UPM_PATH_FAST, report, &error);
      g_assert_no_error (error);
      g_test_message ("%s", report->str);
      if (failed)
        g_printerr ("%s", report->str);
      g_assert_cmpint (failed, ==, 0);
      g_string_free (report, TRUE);
    }
  g_free (model);
  g_free (expect);
}

static UpmModel *
load_fixture_model (const char *name)
{
  char *path = upm_test_fixture_path (name);
  GError *error = NULL;
  UpmModel *m = upm_model_load (path, &error);
  g_assert_no_error (error);
  g_free (path);
  return m;
}

/* A fixture model, its hyper-parameters and one context. */
typedef struct
{
  UpmModel *m;
  const UpmHParams *hp;
  UpmContext *ctx;
} Engine;

static Engine
engine_open (const char *name)
{
  Engine eng;

  eng.m = load_fixture_model (name);
  eng.hp = upm_model_hparams (eng.m);
  eng.ctx = upm_context_new (eng.m);
  return eng;
}

static void
engine_close (Engine *eng)
{
  upm_context_free (eng->ctx);
  upm_model_unref (eng->m);
}

/* Deterministic pseudo-random patches for one clip. */
static float *
make_patches (const UpmHParams *hp, uint32_t n_frames, guint32 seed)
{
  const size_t n
      = (size_t)n_frames * UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
  float *p = g_new (float, n);
  GRand *r = g_rand_new_with_seed (seed);
  for (size_t i = 0; i < n; i++)
    p[i] = (float)g_rand_double_range (r, -1.0, 1.0);
  g_rand_free (r);
  return p;
}

/* @a has the ids of @b and its score, within @tol where @tol > 0. */
static void
assert_same_caption (const UpmCaption *a, const UpmCaption *b, double tol)
{
  g_assert_cmpuint (a->n_ids, ==, b->n_ids);
  g_assert_cmpmem (a->ids, a->n_ids * 4, b->ids, b->n_ids * 4);
  if (tol > 0)
    g_assert_cmpfloat (fabs (a->score - b->score), <, tol);
  else
    g_assert_cmpfloat (a->score, ==, b->score);
}

static double
max_diff (const float *a, const float *b, size_t n)
{
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m = MAX (m, fabs ((double)a[i] - b[i]));
  return m;
}

/* Merged experts and KV-cached decoding against unmerged experts mixed per
 * the gate and full recompute, on inputs the fixtures do not contain. */
static double
max_rel_diff (const float *a, const float *b, size_t n)
{
  double m = 0.0, scale = 0.0;
  for (size_t i = 0; i < n; i++)
    {
      m = MAX (m, fabs ((double)a[i] - b[i]));
      scale = MAX (scale, fabs ((double)b[i]));
    }
  return scale > 0.0 ? m / scale : m;
}

static void
test_fast_vs_plain (gconstpointer data)
{
  UpmModel *m = load_fixture_model (data);
  const UpmHParams *hp = upm_model_hparams (m);
  const uint32_t d = hp->n_embd;
  UpmContext *fast = upm_context_new (m), *plain = upm_context_new (m);
  UpmContext *chunked = upm_context_new (m);
  GError *error = NULL;

  upm_context_set_path (plain, UPM_PATH_PLAIN);
  /* The fast path's row chunks (static levels) with odd boundaries, and
   * FFN blocks with a shorter last one. */
  chunked->row_chunk = 7;
  chunked->ff_block = 48;
  for (uint32_t frames = 1; frames <= hp->n_temporal; frames++)
    {
      float *patches = make_patches (hp, frames, 100 + frames);
      float f1[1024], f2[1024], f3[1024];
      UpmCaption c1, c2, c3;
      UpmCaptionParams params = { 3, 8, 1.0f, NULL };

      g_assert_cmpuint (d, <=, 1024);
      g_assert_true (upm_encode_visual (
          fast, patches, frames, UPM_ATTR_CAPTION_PREFIX, f1, NULL, &error));
      g_assert_true (upm_encode_visual (
          plain, patches, frames, UPM_ATTR_CAPTION_PREFIX, f2, NULL, &error));
      g_assert_true (upm_encode_visual (
          chunked, patches, frames, UPM_ATTR_CAPTION_PREFIX, f3, NULL, &error));
      g_assert_cmpfloat (max_diff (f1, f2, d), <, 1e-5);
      g_assert_cmpfloat (max_diff (f3, f2, d), <, 1e-5);

      /* Every hidden state of a full forward (grouped per-expert GEMMs
       * against per-token mixing for the dynamic levels). */
      {
        const uint32_t n = 1 + frames * UPM_HP_TOKENS_PER_FRAME (hp);
        float *x1 = g_new (float, (size_t)n *d);
        float *x2 = g_new (float, (size_t)n *d);
        float *x3 = g_new (float, (size_t)n *d);
        /* Two segments, the second starting inside a chunk. */
        UpmSegment seg[2] = { { UPM_ATTR_RETRIEVAL_INPUT, n / 2 + 1 },
          { UPM_ATTR_CAPTION_PREFIX, n - n / 2 - 1 } };
        const uint32_t n_seg = seg[1].n_tokens > 0 ? 2 : 1;
        g_assert_true (upm_embed_patches (fast, patches, frames, x1, &error));
        memcpy (x2, x1, (size_t)n * d * sizeof (float));
        memcpy (x3, x1, (size_t)n * d * sizeof (float));
        g_assert_true (upm_transformer_forward (
            fast, x1, n, seg, n_seg, UPM_FORWARD_NONE, NULL, &error));
        g_assert_true (upm_transformer_forward (
            plain, x2, n, seg, n_seg, UPM_FORWARD_NONE, NULL, &error));
        g_assert_true (upm_transformer_forward (
            chunked, x3, n, seg, n_seg, UPM_FORWARD_NONE, NULL, &error));
        g_assert_cmpfloat (max_rel_diff (x1, x2, (size_t)n * d), <=, 1e-5);
        g_assert_cmpfloat (max_rel_diff (x3, x2, (size_t)n * d), <=, 1e-5);
        g_free (x1);
        g_free (x2);
        g_free (x3);
      }

      g_assert_true (
          upm_caption (fast, patches, frames, &params, &c1, NULL, &error));
      g_assert_true (
          upm_caption (plain, patches, frames, &params, &c2, NULL, &error));
      g_assert_true (
          upm_caption (chunked, patches, frames, &params, &c3, NULL, &error));
      g_assert_no_error (error);
      assert_same_caption (&c1, &c2, 1e-4);
      assert_same_caption (&c3, &c2, 1e-4);
      upm_caption_clear (&c1);
      upm_caption_clear (&c2);
      upm_caption_clear (&c3);
      g_free (patches);
    }
  upm_context_free (fast);
  upm_context_free (plain);
  upm_context_free (chunked);
  upm_model_unref (m);
}

/* bf16 against fp32 on a fixture model: the clip feature and every hidden
 * state of a full forward (fast path, default and odd chunks), relative to
 * the largest value. The bound: bfloat16 keeps 8 bits, so each rounded
 * input is off by 2^-9 relative; over the layers of these tiny models the
 * worst measured is 3.7e-3 of the largest value; 2e-2 stops a wrong block
 * or a lost term, which moves values by O(1). bf16 must differ from fp32
 * (the path is taken: merged experts and chunked layers for the static
 * levels; per-expert GEMMs and whole-sequence attention for the dynamic
 * ones). */
static void
test_bf16_vs_fp32 (gconstpointer data)
{
  Engine e = engine_open (data);
  const uint32_t d = e.hp->n_embd, frames = e.hp->n_temporal;
  const uint32_t n = 1 + frames * UPM_HP_TOKENS_PER_FRAME (e.hp);
  UpmContext *bf = upm_context_new (e.m), *odd = upm_context_new (e.m);
  g_autofree float *patches = make_patches (e.hp, frames, 7);
  g_autofree float *f32 = g_new (float, d), *f16 = g_new (float, d);
  g_autofree float *x32 = g_new (float, (size_t)n *d);
  g_autofree float *x16 = g_new (float, (size_t)n *d);
  const UpmSegment seg = { UPM_ATTR_CLS_INPUT, n };
  GError *error = NULL;
  double worst_f = 0.0, worst_x = 0.0;

  upm_context_set_precision (e.ctx, UPM_PRECISION_FP32);
  upm_context_set_precision (bf, UPM_PRECISION_BF16);
  upm_context_set_precision (odd, UPM_PRECISION_BF16);
  g_assert_cmpint (upm_context_precision (e.ctx), ==, UPM_PRECISION_FP32);
  g_assert_cmpint (upm_context_precision (bf), ==, UPM_PRECISION_BF16);
  /* Odd chunks and FFN blocks: unaligned blocks of outputs and inputs. */
  odd->row_chunk = 7;
  odd->ff_block = 37;
  g_assert_true (upm_encode_visual (
      e.ctx, patches, frames, UPM_ATTR_CLS_INPUT, f32, NULL, &error));
  g_assert_true (upm_embed_patches (e.ctx, patches, frames, x32, &error));
  g_assert_true (upm_transformer_forward (
      e.ctx, x32, n, &seg, 1, UPM_FORWARD_NONE, NULL, &error));
  for (int c = 0; c < 2; c++)
    {
      UpmContext *ctx = c ? odd : bf;
      double df, dx;
      g_assert_true (upm_encode_visual (
          ctx, patches, frames, UPM_ATTR_CLS_INPUT, f16, NULL, &error));
      g_assert_true (upm_embed_patches (ctx, patches, frames, x16, &error));
      g_assert_true (upm_transformer_forward (
          ctx, x16, n, &seg, 1, UPM_FORWARD_NONE, NULL, &error));
      g_assert_no_error (error);
      df = max_rel_diff (f16, f32, d);
      dx = max_rel_diff (x16, x32, (size_t)n * d);
      g_test_message ("%s: feature %.3g, hidden states %.3g of the largest",
          c ? "odd chunks" : "default", df, dx);
      g_assert_cmpfloat (df, >, 0.0);
      g_assert_cmpfloat (df, <, 2e-2);
      g_assert_cmpfloat (dx, <, 2e-2);
      worst_f = MAX (worst_f, df);
      worst_x = MAX (worst_x, dx);
    }
  g_test_message ("worst: feature %.3g, hidden %.3g", worst_f, worst_x);
  upm_context_free (bf);
  upm_context_free (odd);
  engine_close (&e);
}

#define CAP_TOL 0.01

/* A fixture model and how many of its 4 test captions int8 must keep word
 * for word (the random fixture models have near-ties between beams). */
typedef struct
{
  const char *model;
  int min_same;
} Int8Case;

/* Captions in int8 against fp32 on a fixture model (the prefix encoded in
 * int8 x int8, the decode steps in int8 x int8 on the prefix's bfloat16
 * keys/values): over 4
 * clips the captions' scores must move (the path is taken) but stay
 * within CAP_TOL of fp32 (scores of -0.02 to -0.1; the worst measured is
 * in the log; a wrong block or scale moves them by O(1)), and as many
 * captions as the case says must keep their words. */
static void
test_int8_vs_fp32 (gconstpointer data)
{
  const Int8Case *k = data;
  Engine e = engine_open (k->model);
  const uint32_t frames = e.hp->n_temporal;
  UpmContext *q8 = upm_context_new (e.m);
  GError *error = NULL;
  double worst = 0.0, moved = 0.0;
  int same = 0;

  upm_context_set_precision (e.ctx, UPM_PRECISION_FP32);
  upm_context_set_precision (q8, UPM_PRECISION_INT8);
  g_assert_cmpint (upm_context_precision (q8), ==, UPM_PRECISION_INT8);
  for (uint32_t seed = 11; seed < 15; seed++)
    {
      g_autofree float *patches = make_patches (e.hp, frames, seed);
      UpmCaption a, b;
      g_assert_true (
          upm_caption (e.ctx, patches, frames, NULL, &a, NULL, &error));
      g_assert_true (upm_caption (q8, patches, frames, NULL, &b, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (b.n_ids, >, 0);
      same += a.n_ids == b.n_ids
              && memcmp (a.ids, b.ids, a.n_ids * sizeof *a.ids) == 0;
      g_test_message (
          "seed %u: scores %.5f (fp32) %.5f (int8)", seed, a.score, b.score);
      worst = MAX (worst, fabs (a.score - b.score));
      moved = MAX (moved, fabs (a.score - b.score));
      upm_caption_clear (&a);
      upm_caption_clear (&b);
    }
  g_test_message (
      "%d of 4 captions the same; worst score difference %.3g", same, worst);
  g_assert_cmpint (same, >=, k->min_same);
  g_assert_cmpfloat (moved, >, 0.0);
  g_assert_cmpfloat (worst, <, CAP_TOL);
  upm_context_free (q8);
  engine_close (&e);
}

/* The int8 encoder: an INT8 context's clip feature and hidden states
 * against fp32, relative to the largest value, with unaligned chunks of
 * rows and FFN blocks. Activations and weights both in 8 bits (2^-8
 * steps); measured on tiny-moe: feature 1.3e-2, hidden states 9.6e-3 of
 * the largest, the same at every level (exact integer sums); 5e-2 stops a
 * wrong block, offset or scale, which move values by O(1). In the child
 * of test_int8_encoder_off (UPM_INT8_ENCODER=0) the encoder is fp32's
 * (measured 3e-7: only the chunks' order of sums differs). */
static void
test_int8_encoder (gconstpointer data)
{
  Engine e = engine_open (data);
  const uint32_t d = e.hp->n_embd, frames = e.hp->n_temporal;
  const uint32_t n = 1 + frames * UPM_HP_TOKENS_PER_FRAME (e.hp);
  UpmContext *q8 = upm_context_new (e.m);
  g_autofree float *patches = make_patches (e.hp, frames, 9);
  g_autofree float *f32 = g_new (float, d), *f8 = g_new (float, d);
  g_autofree float *x32 = g_new (float, (size_t)n *d);
  g_autofree float *x8 = g_new (float, (size_t)n *d);
  const UpmSegment seg = { UPM_ATTR_CLS_INPUT, n };
  GError *error = NULL;

  upm_context_set_precision (e.ctx, UPM_PRECISION_FP32);
  upm_context_set_precision (q8, UPM_PRECISION_INT8);
  q8->row_chunk = 7;
  q8->ff_block = 37;
  g_assert_true (upm_encode_visual (
      e.ctx, patches, frames, UPM_ATTR_CLS_INPUT, f32, NULL, &error));
  g_assert_true (upm_encode_visual (
      q8, patches, frames, UPM_ATTR_CLS_INPUT, f8, NULL, &error));
  g_assert_true (upm_embed_patches (e.ctx, patches, frames, x32, &error));
  memcpy (x8, x32, (size_t)n * d * sizeof (float));
  g_assert_true (upm_transformer_forward (
      e.ctx, x32, n, &seg, 1, UPM_FORWARD_NONE, NULL, &error));
  g_assert_true (upm_transformer_forward (
      q8, x8, n, &seg, 1, UPM_FORWARD_NONE, NULL, &error));
  g_assert_no_error (error);
  const double df = max_rel_diff (f8, f32, d);
  const double dx = max_rel_diff (x8, x32, (size_t)n * d);
  g_test_message ("feature %.3g, hidden states %.3g of the largest", df, dx);
  if (g_test_subprocess ())
    {
      /* fp32, chunked otherwise: the order of the sums only */
      g_assert_cmpfloat (df, <, 1e-5);
      g_assert_cmpfloat (dx, <, 1e-5);
    }
  else
    {
      g_assert_cmpfloat (df, >, 0.0);
      g_assert_cmpfloat (df, <, 5e-2);
      g_assert_cmpfloat (dx, <, 5e-2);
    }
  upm_context_free (q8);
  engine_close (&e);
}

/* UPM_INT8_ENCODER=0 (read once by the library: in a child) keeps the
 * encoder of an INT8 context in fp32. */
static void
test_int8_encoder_off (void)
{
  g_setenv ("UPM_INT8_ENCODER", "0", TRUE);
  g_test_trap_subprocess (
      "/engine/precision/int8-encoder", 0, G_TEST_SUBPROCESS_DEFAULT);
  g_unsetenv ("UPM_INT8_ENCODER");
  g_test_trap_assert_passed ();
}

/* A context's encoder and caption of one clip (the vocabulary's
 * features computed or loaded on the way). */
static void
run_clip (
    UpmContext *ctx, const UpmHParams *hp, float *feature, UpmCaption *caption)
{
  g_autofree float *patches = make_patches (hp, hp->n_temporal, 21);
  GError *error = NULL;

  g_assert_true (upm_encode_visual (
      ctx, patches, hp->n_temporal, UPM_ATTR_CLS_INPUT, feature, NULL, &error));
  g_assert_true (
      upm_caption (ctx, patches, hp->n_temporal, NULL, caption, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (caption->n_ids, >, 0);
}

/* What an INT8 context leaves with the model after a clip's encoding and
 * caption: packed int8 weights, no float copy of a matrix it reads in
 * int8 (no float merge, no widened copy of a typed file's linears), no
 * unpacked int8 copy either unless the decode step reads it
 * (UPM_INT8_DECODE_X8=0, test_int8_memory_unpacked); then an fp32 context
 * builds the float merges (the accounting sees them). */
static void
test_int8_memory (gconstpointer data)
{
  const char *name = data;
  const gboolean unpacked = !upm_int8_decode_x8 ();
  const gboolean typed = strstr (name, "-q8") != NULL;
  Engine e;
  g_autofree float *feature = NULL;
  UpmWeightMemory mem;
  UpmCaption caption;
  size_t vocab_q8, vocab_packed;

  /* The vocabulary's features are computed once in fp32 (the disk cache
   * every precision reads): that model keeps the float weights it used.
   * The model under test loads them from the cache, as every later run. */
  e = engine_open (name);
  g_assert_nonnull (upm_model_vocab_features (e.m, NULL, NULL, NULL));
  engine_close (&e);
  e = engine_open (name);
  feature = g_new (float, e.hp->n_embd);
  upm_context_set_precision (e.ctx, UPM_PRECISION_INT8);
  run_clip (e.ctx, e.hp, feature, &caption);
  upm_caption_clear (&caption);
  upm_engine_weight_memory (e.m, &mem);
  upm_engine_vocab_memory (e.m, &vocab_q8, &vocab_packed);
  g_test_message ("%s: merged q8 %zu packed %zu, dense q8 %zu packed %zu, "
                  "vocab q8 %zu packed %zu",
      name, mem.merged_q8, mem.merged_q8_packed, mem.dense_q8,
      mem.dense_q8_packed, vocab_q8, vocab_packed);
  g_assert_cmpuint (mem.f32_copies, ==, 0);
  g_assert_cmpuint (mem.merged_f32, ==, 0);
  g_assert_cmpuint (mem.merged_bf16 + mem.dense_bf16 + mem.expert_bf16, ==, 0);
  g_assert_cmpuint (mem.merged_q8_packed, >, 0);
  g_assert_cmpuint (mem.dense_q8_packed, >, 0);
  if (unpacked)
    {
      /* The decode step reads the unpacked copies; an I8 file's dense
       * linears in place (no copy). */
      g_assert_cmpuint (mem.merged_q8, >, 0);
      g_assert_true ((mem.dense_q8 > 0) == !typed);
      g_assert_cmpuint (vocab_q8, >, 0);
      g_assert_cmpuint (vocab_packed, ==, 0);
    }
  else
    {
      g_assert_cmpuint (mem.merged_q8 + mem.dense_q8 + vocab_q8, ==, 0);
      g_assert_cmpuint (vocab_packed, >, 0);
    }

  upm_context_set_precision (e.ctx, UPM_PRECISION_FP32);
  run_clip (e.ctx, e.hp, feature, &caption);
  upm_caption_clear (&caption);
  upm_engine_weight_memory (e.m, &mem);
  g_assert_cmpuint (mem.merged_f32, >, 0);
  g_assert_true ((mem.f32_copies > 0) == typed);
  engine_close (&e);
}

/* UPM_INT8_DECODE_X8=0 (read once by the library: in a child): the
 * decode step on int8 weights and float rows keeps the unpacked copies it
 * reads, and still no float copy. */
static void
test_int8_memory_unpacked (gconstpointer data)
{
  g_autofree char *path = g_strdup_printf (
      "/engine/precision/int8-memory/%s", (const char *)data);

  g_setenv ("UPM_INT8_DECODE_X8", "0", TRUE);
  g_test_trap_subprocess (path, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_unsetenv ("UPM_INT8_DECODE_X8");
  g_test_trap_assert_passed ();
}

/* INT8 results do not depend on where the int8 weights came from: alone
 * in a model (quantised from temporary float merges and widenings, packed
 * without keeping the unpacked copies) and after an fp32 context built the
 * float merges and copies (quantised from those), bit for bit. */
static void
test_int8_same_after_fp32 (gconstpointer data)
{
  Engine a = engine_open (data), b = engine_open (data);
  g_autofree float *fa = g_new (float, a.hp->n_embd);
  g_autofree float *fb = g_new (float, a.hp->n_embd);
  UpmCaption ca, cb;

  g_assert_true (a.m != b.m);
  upm_context_set_precision (a.ctx, UPM_PRECISION_INT8);
  run_clip (a.ctx, a.hp, fa, &ca);
  upm_context_set_precision (b.ctx, UPM_PRECISION_FP32);
  run_clip (b.ctx, b.hp, fb, &cb);
  upm_caption_clear (&cb);
  upm_context_set_precision (b.ctx, UPM_PRECISION_INT8);
  run_clip (b.ctx, b.hp, fb, &cb);
  g_assert_cmpmem (
      fa, a.hp->n_embd * sizeof (float), fb, a.hp->n_embd * sizeof (float));
  assert_same_caption (&ca, &cb, 0);
  g_assert_true (ca.score == cb.score);
  upm_caption_clear (&ca);
  upm_caption_clear (&cb);
  engine_close (&a);
  engine_close (&b);
}

/* upm_q8_pack_float (blocks of rows, the last one partial) makes the
 * bytes and scales of packing upm_q8_quantize's whole matrix. */
static void
test_q8_pack_float (void)
{
  const uint32_t n_out = 2100, n_in = 38;
  g_autofree float *w = g_new (float, (size_t)n_out *n_in);
  GRand *r = g_rand_new_with_seed (5);
  UpmQ8Matrix *q;
  UpmQ8Packed whole, blocks;

  for (size_t i = 0; i < (size_t)n_out * n_in; i++)
    w[i] = (float)g_rand_double_range (r, -2.0, 2.0) * (1 + i % 7);
  g_rand_free (r);
  q = upm_q8_quantize (w, n_out, n_in);
  g_assert_true (upm_q8_pack_owned (q, &whole));
  g_assert_true (upm_q8_pack_float (w, n_out, n_in, FALSE, &blocks));
  g_assert_cmpuint (blocks.n_out, ==, whole.n_out);
  g_assert_cmpuint (blocks.n_in, ==, whole.n_in);
  g_assert_cmpuint (blocks.n_quads, ==, whole.n_quads);
  g_assert_cmpmem (blocks.w, upm_q8_packed_size (n_out, n_in), whole.w,
      upm_q8_packed_size (n_out, n_in));
  g_assert_cmpmem (
      blocks.scale, n_out * sizeof (float), q->scale, n_out * sizeof (float));
  g_assert_cmpmem (
      whole.scale, n_out * sizeof (float), q->scale, n_out * sizeof (float));
  upm_q8_free (q);
  g_free ((gpointer)whole.w);
  g_free ((gpointer)blocks.w);
}

/* AUTO without UPM_PRECISION (read once by the library: in a child, as
 * is UPM_CPU): bf16 where the kernels have the BF16 dot product, fp32 below
 * on an f32 file. */
static void
test_precision_auto_for_cpu (void)
{
  if (g_test_subprocess ())
    {
      UpmModel *m = load_fixture_model ("tiny-moe.upm");
      UpmContext *ctx = upm_context_new (m);
      const UpmPrecision want = upm_cpu_info ()->level >= UPM_CPU_AVX512BF16
                                    ? UPM_PRECISION_BF16
                                    : UPM_PRECISION_FP32;

      g_assert_cmpint (upm_context_precision (ctx), ==, want);
      upm_context_free (ctx);
      upm_model_unref (m);
      return;
    }
  g_autofree char *keep = g_strdup (g_getenv ("UPM_PRECISION"));

  g_unsetenv ("UPM_PRECISION");
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  /* and forced below the BF16 level: fp32 */
  g_autofree char *keep_cpu = g_strdup (g_getenv ("UPM_CPU"));
  g_setenv ("UPM_CPU", "avx2", TRUE);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  if (keep_cpu)
    g_setenv ("UPM_CPU", keep_cpu, TRUE);
  else
    g_unsetenv ("UPM_CPU");
  if (keep)
    g_setenv ("UPM_PRECISION", keep, TRUE);
}

/* The names and parsing of the precisions; AUTO resolves to a concrete
 * one. */
static void
test_precision_names (void)
{
  UpmModel *m = load_fixture_model ("tiny-moe.upm");
  UpmContext *ctx;
  UpmPrecision p;

  for (int i = UPM_PRECISION_AUTO; i <= UPM_PRECISION_INT8; i++)
    {
      g_assert_true (upm_precision_parse (upm_precision_name (i), &p));
      g_assert_cmpint (p, ==, i);
    }
  g_assert_true (upm_precision_parse ("BF16", &p));
  g_assert_cmpint (p, ==, UPM_PRECISION_BF16);
  g_assert_true (upm_precision_parse ("INT8", &p));
  g_assert_cmpint (p, ==, UPM_PRECISION_INT8);
  g_assert_cmpstr (upm_precision_name (UPM_PRECISION_INT8), ==, "int8");
  g_assert_false (upm_precision_parse ("fp8", &p));
  g_assert_false (upm_precision_parse (NULL, &p));
  /* The model's default applies to contexts created afterwards. */
  upm_model_set_precision (m, UPM_PRECISION_BF16);
  ctx = upm_context_new (m);
  g_assert_cmpint (upm_context_precision (ctx), ==, UPM_PRECISION_BF16);
  upm_context_set_precision (ctx, UPM_PRECISION_FP32);
  g_assert_cmpint (upm_context_precision (ctx), ==, UPM_PRECISION_FP32);
  upm_model_set_precision (m, UPM_PRECISION_AUTO);
  upm_context_set_precision (ctx, UPM_PRECISION_AUTO);
  g_assert_cmpint (upm_context_precision (ctx), !=, UPM_PRECISION_AUTO);
  upm_context_free (ctx);
  upm_model_unref (m);
}

/* A context is reusable: the same clip twice gives the same caption, also
 * after a longer and a shorter clip in between. */
static void
test_context_reuse (void)
{
  Engine eng = engine_open ("tiny-moe.upm");
  float *p1 = make_patches (eng.hp, 1, 7), *p4 = make_patches (eng.hp, 4, 8);
  UpmCaption a, b, c;
  GError *error = NULL;

  g_assert_true (upm_caption (eng.ctx, p1, 1, NULL, &a, NULL, &error));
  g_assert_true (upm_caption (eng.ctx, p4, 4, NULL, &b, NULL, &error));
  g_assert_true (upm_caption (eng.ctx, p1, 1, NULL, &c, NULL, &error));
  g_assert_no_error (error);
  assert_same_caption (&a, &c, 0);
  g_assert_cmpstr (a.text, ==, c.text);
  upm_caption_clear (&a);
  upm_caption_clear (&b);
  upm_caption_clear (&c);
  g_free (p1);
  g_free (p4);
  engine_close (&eng);
}

/* A prefix is shared read-only: decoding it from two contexts in two
 * threads gives the caption of the one-call path. */
typedef struct
{
  UpmModel *model;
  UpmPrefix *prefix;
  UpmCaption caption;
} DecodeJob;

static gpointer
decode_thread (gpointer data)
{
  DecodeJob *job = data;
  UpmContext *ctx = upm_context_new (job->model);
  GError *error = NULL;
  g_assert_true (
      upm_caption_decode (ctx, job->prefix, NULL, &job->caption, NULL, &error));
  g_assert_no_error (error);
  upm_context_free (ctx);
  return NULL;
}

static void
test_prefix_shared (void)
{
  Engine eng = engine_open ("tiny-moe.upm");
  const uint32_t n = 1 + 3 * UPM_HP_TOKENS_PER_FRAME (eng.hp);
  float *p = make_patches (eng.hp, 3, 11);
  float *x = g_new (float, (size_t)n *eng.hp->n_embd);
  DecodeJob jobs[2] = { { eng.m, NULL, { 0 } }, { eng.m, NULL, { 0 } } };
  GThread *threads[2];
  UpmCaption ref;
  GError *error = NULL;

  g_assert_true (upm_caption (eng.ctx, p, 3, NULL, &ref, NULL, &error));
  g_assert_true (upm_embed_patches (eng.ctx, p, 3, x, &error));
  UpmPrefix *pf = upm_prefix_new (eng.ctx, x, n, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (upm_prefix_n_tokens (pf), ==, n);
  g_assert_null (upm_prefix_new (eng.ctx, x, n - 1, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  for (int i = 0; i < 2; i++)
    {
      jobs[i].prefix = upm_prefix_ref (pf);
      threads[i] = g_thread_new ("decode", decode_thread, &jobs[i]);
    }
  upm_prefix_unref (pf);
  for (int i = 0; i < 2; i++)
    {
      g_thread_join (threads[i]);
      assert_same_caption (&jobs[i].caption, &ref, 0);
      upm_caption_clear (&jobs[i].caption);
      upm_prefix_unref (jobs[i].prefix);
    }
  upm_caption_clear (&ref);
  g_free (x);
  g_free (p);
  engine_close (&eng);
}

static void
test_routing_meta (void)
{
  Engine eng = engine_open ("tiny-moe.upm");
  float *p = make_patches (eng.hp, 2, 9);
  float f[1024];
  UpmRouting r;
  UpmCaption cap;
  GError *error = NULL;
  guint n_moe = 0;

  for (uint32_t l = 0; l < eng.hp->n_layer; l++)
    n_moe += upm_model_layer_is_moe (eng.m, l);
  upm_routing_init (&r);
  g_assert_true (
      upm_encode_visual (eng.ctx, p, 2, UPM_ATTR_CLS_INPUT, f, &r, &error));
  g_assert_cmpuint (r.routes->len, ==, n_moe * UPM_N_GATES);
  for (guint i = 0; i < r.routes->len; i++)
    {
      const UpmRoute *e = &g_array_index (r.routes, UpmRoute, i);
      uint32_t ex[2];
      float w[2];
      g_assert_true (
          upm_model_route (eng.m, e->layer, e->gate, e->attr, ex, w));
      g_assert_cmpuint (e->expert[0], ==, ex[0]);
      g_assert_cmpuint (e->expert[1], ==, ex[1]);
      g_assert_cmpfloat (fabsf (e->weight[0] + e->weight[1] - 1.0f), <, 1e-5);
      g_assert_cmpuint (e->token_begin, ==, 0);
      g_assert_cmpuint (
          e->token_end, ==, 1 + 2 * UPM_HP_TOKENS_PER_FRAME (eng.hp));
    }
  upm_routing_clear (&r);

  /* Captioning: two segments per gate, split at 1 + visual tokens. */
  upm_routing_init (&r);
  g_assert_true (upm_caption (eng.ctx, p, 2, NULL, &cap, &r, &error));
  g_assert_cmpuint (r.routes->len, ==, n_moe * UPM_N_GATES * 2);
  /* The prefix's routes come first, then the text's. */
  const UpmRoute *r0 = &g_array_index (r.routes, UpmRoute, 0);
  const UpmRoute *r1 = &g_array_index (r.routes, UpmRoute, n_moe * UPM_N_GATES);
  g_assert_cmpint (r0->attr, ==, UPM_ATTR_CAPTION_PREFIX);
  g_assert_cmpint (r1->attr, ==, UPM_ATTR_CAPTION_TEXT);
  g_assert_cmpuint (r1->token_begin, ==, r0->token_end);
  upm_caption_clear (&cap);
  upm_routing_clear (&r);
  g_free (p);
  engine_close (&eng);
}

/* Per-expert token counts: static levels count each segment's tokens for
 * its two experts; dynamic levels count every token for its own two, equal
 * the per-token ids, and caption decoding counts the same rows on both
 * paths. */
static void
test_routing_counts (gconstpointer data)
{
  Engine eng = engine_open (data);
  const gboolean dynamic
      = upm_routing_level_is_dynamic (upm_model_routing_level (eng.m));
  const uint32_t n = 1 + 2 * UPM_HP_TOKENS_PER_FRAME (eng.hp);
  UpmContext *plain = upm_context_new (eng.m);
  float *p = make_patches (eng.hp, 2, 21), f[1024];
  UpmRouting r, r2;
  UpmCaption c1, c2;
  UpmCaptionParams params = { 2, 5, 1.0f, NULL };
  GError *error = NULL;
  guint n_moe = 0;

  upm_context_set_path (plain, UPM_PATH_PLAIN);
  upm_routing_init (&r);
  upm_routing_set_token_experts (&r, TRUE);
  g_assert_true (
      upm_encode_visual (eng.ctx, p, 2, UPM_ATTR_CLS_INPUT, f, &r, &error));
  g_assert_no_error (error);
  for (uint32_t l = 0; l < eng.hp->n_layer; l++)
    {
      for (int g = 0; g < UPM_N_GATES; g++)
        {
          uint32_t counts[64] = { 0 }, sum = 0, from_runs[64] = { 0 };
          const gboolean has = upm_routing_expert_counts (&r, l, g, counts, 64);
          g_assert_cmpint (has, ==, upm_model_layer_is_moe (eng.m, l));
          if (!has)
            continue;
          n_moe += g == 0;
          for (uint32_t e = 0; e < eng.hp->n_expert; e++)
            {
              sum += counts[e];
              g_assert_cmpuint (counts[e], <=, n);
            }
          g_assert_cmpuint (sum, ==, 2 * n);
          for (guint i = 0; i < upm_routing_n_token_runs (&r); i++)
            {
              UpmTokenExperts run;
              g_assert_true (upm_routing_token_run (&r, i, &run));
              if (run.layer != l || run.gate != (UpmGateKind)g)
                continue;
              g_assert_cmpuint (run.n_tokens, ==, n);
              for (uint32_t t = 0; t < run.n_tokens; t++)
                {
                  g_assert_cmpuint (
                      run.experts[2 * t], !=, run.experts[2 * t + 1]);
                  from_runs[run.experts[2 * t]]++;
                  from_runs[run.experts[2 * t + 1]]++;
                }
            }
          if (dynamic)
            g_assert_cmpmem (
                counts, 4 * eng.hp->n_expert, from_runs, 4 * eng.hp->n_expert);
        }
    }
  g_assert_cmpuint (
      upm_routing_n_token_runs (&r), ==, dynamic ? n_moe * UPM_N_GATES : 0);
  g_assert_false (upm_routing_token_run (&r, 1000, NULL));
  upm_routing_clear (&r);

  upm_routing_init (&r);
  upm_routing_init (&r2);
  g_assert_true (upm_caption (eng.ctx, p, 2, &params, &c1, &r, &error));
  g_assert_true (upm_caption (plain, p, 2, &params, &c2, &r2, &error));
  g_assert_no_error (error);
  for (uint32_t l = 0; l < eng.hp->n_layer; l++)
    for (int g = 0; g < UPM_N_GATES; g++)
      {
        uint32_t a[64] = { 0 }, b[64] = { 0 };
        g_assert_cmpint (upm_routing_expert_counts (&r, l, g, a, 64), ==,
            upm_routing_expert_counts (&r2, l, g, b, 64));
        g_assert_cmpmem (a, sizeof a, b, sizeof b);
      }
  upm_caption_clear (&c1);
  upm_caption_clear (&c2);
  upm_routing_clear (&r);
  upm_routing_clear (&r2);
  g_free (p);
  upm_context_free (plain);
  engine_close (&eng);
}

/* The caption cancel flag: raised before decoding, and from another thread
 * while captions are decoded back to back, decoding stops promptly with
 * UPM_ERROR_CANCELLED. */
static gpointer
raise_flag (gpointer data)
{
  g_usleep (20 * 1000);
  g_atomic_int_set ((volatile gint *)data, 1);
  return NULL;
}

static void
test_caption_cancel (void)
{
  Engine eng = engine_open ("tiny-moe.upm");
  const uint32_t n = 1 + UPM_HP_TOKENS_PER_FRAME (eng.hp);
  float *p = make_patches (eng.hp, 1, 5);
  float *x = g_new (float, (size_t)n *eng.hp->n_embd);
  volatile int flag = 0;
  UpmCaptionParams params = { 0, 0, -1.0f, &flag };
  UpmCaption cap;
  GError *error = NULL;
  UpmPrefix *pf;
  GThread *thread;
  gint64 raised, stopped = 0;
  guint runs = 0;

  g_assert_true (upm_embed_patches (eng.ctx, p, 1, x, &error));
  pf = upm_prefix_new (eng.ctx, x, n, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (upm_caption_decode (eng.ctx, pf, &params, &cap, NULL, &error));
  g_assert_no_error (error);
  upm_caption_clear (&cap);

  flag = 1;
  g_assert_false (
      upm_caption_decode (eng.ctx, pf, &params, &cap, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_CANCELLED);
  g_assert_null (cap.ids);
  g_clear_error (&error);

  flag = 0;
  raised = g_get_monotonic_time ();
  thread = g_thread_new ("cancel", raise_flag, (gpointer)&flag);
  while (upm_caption_decode (eng.ctx, pf, &params, &cap, NULL, &error))
    {
      upm_caption_clear (&cap);
      runs++;
      g_assert_cmpuint (runs, <, 100000);
    }
  stopped = g_get_monotonic_time ();
  g_thread_join (thread);
  g_assert_error (error, UPM_ERROR, UPM_ERROR_CANCELLED);
  g_clear_error (&error);
  /* One beam step of this model takes well under a second. */
  g_assert_cmpint (stopped - raised, <, 2 * G_USEC_PER_SEC);
  upm_prefix_unref (pf);
  g_free (x);
  g_free (p);
  engine_close (&eng);
}

/* Batched, padded text encoding equals one-by-one encoding (padding is
 * no part of a context either). */
static void
test_text_batch_padding (gconstpointer data)
{
  Engine eng = engine_open (data);
  const uint32_t d = eng.hp->n_embd;
  const int32_t eot = (int32_t)eng.hp->eot_id;
  const int32_t a[] = { 320, eot }, b[] = { 100, 200, 300, 400, eot };
  const int32_t *ids[] = { a, b };
  const uint32_t lens[] = { 2, 5 };
  float batch[2 * 1024], one[1024];
  GError *error = NULL;

  g_assert_true (upm_encode_texts (
      eng.ctx, ids, lens, 2, UPM_ATTR_CLS_TARGET, batch, &error));
  for (int i = 0; i < 2; i++)
    {
      g_assert_true (upm_encode_texts (
          eng.ctx, &ids[i], &lens[i], 1, UPM_ATTR_CLS_TARGET, one, &error));
      g_assert_cmpfloat (max_diff (one, batch + i * d, d), <, 1e-5);
    }
  g_assert_no_error (error);
  engine_close (&eng);
}

static void
test_bad_arguments (void)
{
  Engine eng = engine_open ("tiny-dense.upm");
  float *p = make_patches (eng.hp, 1, 1);
  float f[1024];
  const int32_t bad[] = { 5, -1 }, big[] = { (int32_t)eng.hp->n_vocab };
  const int32_t *ids[] = { bad }, *ids2[] = { big };
  const uint32_t lens[] = { 2 }, lens2[] = { 1 };
  UpmCaption cap;
  UpmCaptionParams params = { 0, 0, -1.0f, NULL };
  GError *error = NULL;

  g_assert_false (
      upm_encode_visual (eng.ctx, p, 0, UPM_ATTR_CLS_INPUT, f, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (upm_encode_visual (
      eng.ctx, p, eng.hp->n_temporal + 1, UPM_ATTR_CLS_INPUT, f, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (
      upm_encode_texts (eng.ctx, ids, lens, 1, UPM_ATTR_CLS_TARGET, f, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (upm_encode_texts (
      eng.ctx, ids2, lens2, 1, UPM_ATTR_CLS_TARGET, f, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  params.beam_size = 1000;
  g_assert_false (upm_caption (eng.ctx, p, 1, &params, &cap, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_free (p);
  engine_close (&eng);
}

/* Label features come from a per-model cache keyed by attribute and text;
 * classification probabilities sum to one and top-k is ordered. */
static void
test_labels_and_classify (void)
{
  Engine eng = engine_open ("tiny-dense.upm");
  const uint32_t d = eng.hp->n_embd;
  const char *labels[] = { "red circle", "blue square", "a", "red circle" };
  float *lf = g_new (float, 4 * d), *lf2 = g_new (float, 4 * d);
  float logits[4], probs[4], f[1024];
  UpmScore top[3];
  float *p = make_patches (eng.hp, 1, 3);
  GError *error = NULL;

  g_assert_true (upm_model_text_features (
      eng.m, labels, 4, UPM_ATTR_CLS_TARGET, lf, &error));
  g_assert_cmpmem (lf, d * 4, lf + 3 * d, d * 4);
  g_assert_true (upm_model_text_features (
      eng.m, labels, 4, UPM_ATTR_CLS_TARGET, lf2, &error));
  g_assert_cmpmem (lf, 4 * d * 4, lf2, 4 * d * 4);
  g_assert_true (upm_model_text_features (
      eng.m, labels, 1, UPM_ATTR_RETRIEVAL_TARGET, lf2, &error));
  g_assert_cmpfloat (max_diff (lf, lf2, d), >, 0.0); /* other row */
  g_assert_true (
      upm_encode_visual (eng.ctx, p, 1, UPM_ATTR_CLS_INPUT, f, NULL, &error));
  g_assert_no_error (error);
  upm_classify (eng.hp, f, lf, 4,
      upm_model_logit_scale (eng.m, UPM_SCALE_IMG_CLS), logits, probs);
  g_assert_cmpfloat (
      fabs (probs[0] + probs[1] + probs[2] + probs[3] - 1.0), <, 1e-5);
  upm_top_k (logits, probs, 4, 3, top);
  g_assert_cmpfloat (top[0].logit, >=, top[1].logit);
  g_assert_cmpfloat (top[1].logit, >=, top[2].logit);
  g_assert_cmpuint (top[0].index, !=, top[1].index);
  g_free (p);
  g_free (lf);
  g_free (lf2);
  engine_close (&eng);
}

/* Target texts at a preset's truncation (upm_model_text_features_len):
 * a text longer than 30 tokens differs at 30 and at 64, each equal to a
 * direct encoding of its truncated ids, whatever was cached before; 0 is
 * the model's 30; more than the model's text positions is an error, and
 * so is a preset that asks for it. */
static void
test_text_length (void)
{
  Engine eng = engine_open ("tiny-dense.upm");
  const uint32_t d = eng.hp->n_embd, ctx_len = eng.hp->n_text_ctx;
  const char *text[] = { "a man is slicing a red tomato on a wooden board "
                         "while a small dog watches him from the kitchen "
                         "floor and a woman in a blue dress laughs at the "
                         "window" };
  const char *short_text[] = { "a red circle" };
  float *f64 = g_new (float, d), *f30 = g_new (float, d);
  float *f0 = g_new (float, d), *ref = g_new (float, d);
  float *s30 = g_new (float, d), *s64 = g_new (float, d);
  GError *error = NULL;
  GArray *full = upm_tokenize_target (eng.m, text[0], 0, &error);

  g_assert_cmpuint (eng.hp->text_max_length, ==, 30);
  g_assert_cmpuint (ctx_len, ==, 64);
  g_assert_cmpuint (full->len, >, 30);
  g_array_unref (full);
  /* the longer one first: a cache not keyed on the length would answer
   * the shorter one with it */
  g_assert_true (upm_model_text_features_len (
      eng.m, text, 1, UPM_ATTR_RETRIEVAL_TARGET, ctx_len, f64, &error));
  g_assert_true (upm_model_text_features_len (
      eng.m, text, 1, UPM_ATTR_RETRIEVAL_TARGET, 30, f30, &error));
  g_assert_true (upm_model_text_features (
      eng.m, text, 1, UPM_ATTR_RETRIEVAL_TARGET, f0, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (max_diff (f30, f64, d), >, 1e-3);
  g_assert_cmpmem (f0, d * 4, f30, d * 4);
  for (uint32_t len = 30; len <= ctx_len; len += ctx_len - 30)
    {
      GArray *ids = upm_tokenize_target (eng.m, text[0], len, &error);
      const int32_t *p = (const int32_t *)ids->data;
      uint32_t n = ids->len;

      g_assert_cmpuint (n, <=, len);
      g_assert_true (upm_encode_texts (
          eng.ctx, &p, &n, 1, UPM_ATTR_RETRIEVAL_TARGET, ref, &error));
      g_assert_cmpfloat (max_diff (len == 30 ? f30 : f64, ref, d), <=, 1e-6);
      g_array_unref (ids);
    }
  /* a short text is the same at any length */
  g_assert_true (upm_model_text_features_len (
      eng.m, short_text, 1, UPM_ATTR_RETRIEVAL_TARGET, 30, s30, &error));
  g_assert_true (upm_model_text_features_len (
      eng.m, short_text, 1, UPM_ATTR_RETRIEVAL_TARGET, ctx_len, s64, &error));
  g_assert_cmpmem (s30, d * 4, s64, d * 4);

  g_assert_false (upm_model_text_features_len (
      eng.m, text, 1, UPM_ATTR_RETRIEVAL_TARGET, ctx_len + 1, f64, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "64 text positions"));
  g_clear_error (&error);
  /* MSVD retrieval reads 77-token texts: not this model's */
  g_assert_false (upm_model_suits_preset (
      eng.m, upm_preset_lookup ("msvd-retrieval", NULL), &error));
  g_assert_nonnull (strstr (error->message, "77 tokens"));
  g_assert_nonnull (strstr (error->message, "64 text positions"));
  g_clear_error (&error);
  g_free (f64);
  g_free (f30);
  g_free (f0);
  g_free (ref);
  g_free (s30);
  g_free (s64);
  engine_close (&eng);
}

/* The vocabulary features are computed once and cached on disk by the
 * weights' hash: a second load reads the cache and gets the same values. */
static void
test_vocab_cache (void)
{
  UpmModel *m = load_fixture_model ("tiny-moe.upm");
  const UpmHParams *hp = upm_model_hparams (m);
  const size_t n = (size_t)hp->n_vocab * hp->n_embd, d = hp->n_embd;
  GError *error = NULL;
  const float *v1 = upm_model_vocab_features (m, NULL, NULL, &error);
  float *copy;

  g_assert_no_error (error);
  g_assert_nonnull (v1);
  copy = g_memdup2 (v1, n * sizeof (float));
  upm_model_unref (m);
  m = load_fixture_model ("tiny-moe.upm");
  const float *v2 = upm_model_vocab_features (m, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (copy, n * 4, v2, n * 4);
  for (size_t i = 0; i < d; i++)
    g_assert_true (isfinite (v2[i]));
  g_free (copy);
  upm_model_unref (m);
}

int
main (int argc, char **argv)
{
  static const char *pairs[][2] = {
    { "tiny-dense.upm", "tiny-dense-image.expect.gguf" },
    { "tiny-dense.upm", "tiny-dense-video.expect.gguf" },
    { "tiny-moe.upm", "tiny-moe-image.expect.gguf" },
    { "tiny-moe.upm", "tiny-moe-video.expect.gguf" },
    /* A briefly trained model (tools/train.py --smoke): its captions end,
     * so beam search's finished-beam and length-penalty rules are checked
     * (tools/make_model_fixture.py). */
    { "smoke-moe.upm", "smoke-moe-clip.expect.gguf" },
    /* One small model per routing level besides attribute (tiny-moe):
     * tools/make_fixtures.py. */
    { "route-modality.upm", "route-modality-image.expect.gguf" },
    { "route-modality.upm", "route-modality-video.expect.gguf" },
    { "route-task.upm", "route-task-image.expect.gguf" },
    { "route-task.upm", "route-task-video.expect.gguf" },
    { "route-token.upm", "route-token-image.expect.gguf" },
    { "route-token.upm", "route-token-video.expect.gguf" },
    { "route-context.upm", "route-context-image.expect.gguf" },
    { "route-context.upm", "route-context-video.expect.gguf" },
  };

  g_test_init (&argc, &argv, NULL);
  upm_set_num_threads (2);
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      char *name = g_strdup_printf ("/engine/reference/%s", pairs[i][1]);
      g_test_add_data_func (name, pairs[i], run_fixture);
      g_free (name);
    }
  g_test_add_data_func (
      "/engine/fast-vs-plain/tiny-moe", "tiny-moe.upm", test_fast_vs_plain);
  g_test_add_data_func (
      "/engine/fast-vs-plain/dense", "tiny-dense.upm", test_fast_vs_plain);
  g_test_add_data_func (
      "/engine/fast-vs-plain/task", "route-task.upm", test_fast_vs_plain);
  g_test_add_data_func (
      "/engine/fast-vs-plain/token", "route-token.upm", test_fast_vs_plain);
  g_test_add_data_func (
      "/engine/fast-vs-plain/context", "route-context.upm", test_fast_vs_plain);
  g_test_add_func ("/engine/context-reuse", test_context_reuse);
  g_test_add_func ("/engine/routing", test_routing_meta);
  g_test_add_func ("/engine/prefix-shared", test_prefix_shared);
  g_test_add_func ("/engine/caption-cancel", test_caption_cancel);
  g_test_add_data_func (
      "/engine/routing-counts/attribute", "tiny-moe.upm", test_routing_counts);
  g_test_add_data_func (
      "/engine/routing-counts/task", "route-task.upm", test_routing_counts);
  g_test_add_data_func (
      "/engine/routing-counts/token", "route-token.upm", test_routing_counts);
  g_test_add_data_func ("/engine/routing-counts/context", "route-context.upm",
      test_routing_counts);
  g_test_add_data_func ("/engine/text-batch-padding/dense", "tiny-dense.upm",
      test_text_batch_padding);
  g_test_add_data_func ("/engine/text-batch-padding/token", "route-token.upm",
      test_text_batch_padding);
  g_test_add_data_func ("/engine/text-batch-padding/context",
      "route-context.upm", test_text_batch_padding);
  g_test_add_func ("/engine/bad-arguments", test_bad_arguments);
  g_test_add_func ("/engine/labels-classify", test_labels_and_classify);
  g_test_add_func ("/engine/text-length", test_text_length);
  g_test_add_func ("/engine/vocab-cache", test_vocab_cache);
  g_test_add_func ("/engine/precision/names", test_precision_names);
  g_test_add_func (
      "/engine/precision/auto-for-cpu", test_precision_auto_for_cpu);
  g_test_add_data_func (
      "/engine/precision/int8-encoder", "tiny-moe.upm", test_int8_encoder);
  g_test_add_func ("/engine/precision/int8-encoder-off", test_int8_encoder_off);
  static const char *const int8_memory_models[] = {
    "tiny-moe-q8.upm",
    "tiny-moe.upm",
  };
  for (size_t i = 0; i < G_N_ELEMENTS (int8_memory_models); i++)
    {
      const char *name = int8_memory_models[i];
      g_autofree char *mem
          = g_strdup_printf ("/engine/precision/int8-memory/%s", name);
      g_autofree char *unpacked
          = g_strdup_printf ("/engine/precision/int8-memory-unpacked/%s", name);
      g_autofree char *same
          = g_strdup_printf ("/engine/precision/int8-same-after-fp32/%s", name);
      g_test_add_data_func (mem, name, test_int8_memory);
      g_test_add_data_func (unpacked, name, test_int8_memory_unpacked);
      g_test_add_data_func (same, name, test_int8_same_after_fp32);
    }
  g_test_add_func ("/engine/precision/q8-pack-float", test_q8_pack_float);
  static const Int8Case int8_cases[] = {
    /* 4 of 4 at avx2/avx512bf16, 3 of 4 at generic since the decode step
     * runs int8 x int8 with the prefix keys in bf16 (scores within 0.002
     * of fp32's; on the bundled model's held-out clips test_eval.py sees
     * the same captions as fp32) */
    { "tiny-moe.upm", 3 },
    { "tiny-dense.upm", 1 },
    { "route-token.upm", 1 },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (int8_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/engine/precision/int8-vs-fp32/%s", int8_cases[i].model);
      g_test_add_data_func (path, &int8_cases[i], test_int8_vs_fp32);
    }
  g_test_add_data_func ("/engine/precision/bf16-vs-fp32/tiny-moe",
      "tiny-moe.upm", test_bf16_vs_fp32);
  g_test_add_data_func ("/engine/precision/bf16-vs-fp32/dense",
      "tiny-dense.upm", test_bf16_vs_fp32);
  g_test_add_data_func ("/engine/precision/bf16-vs-fp32/task", "route-task.upm",
      test_bf16_vs_fp32);
  g_test_add_data_func ("/engine/precision/bf16-vs-fp32/smoke", "smoke-moe.upm",
      test_bf16_vs_fp32);
  g_test_add_data_func ("/engine/precision/bf16-vs-fp32/token",
      "route-token.upm", test_bf16_vs_fp32);
  g_test_add_data_func ("/engine/precision/bf16-vs-fp32/context",
      "route-context.upm", test_bf16_vs_fp32);
  return g_test_run ();
}
