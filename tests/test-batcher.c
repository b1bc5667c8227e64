/* test-batcher.c: batching across streams (upm-batcher.c and the batched
 * clips of upm-encoder.c): streams that share the bundled model encode
 * their clips batched and unbatched, with identical labels and routing
 * and features within 1e-6 in fp32; a lone stream never waits; a stream
 * leaving wakes the ones waiting for it.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "upm-context.h"
#include "upm.h"

#define N_STREAMS 6
#define N_CLIPS 3

static UpmModel *
load_bundled (void)
{
  GError *error = NULL;
  UpmModel *m = upm_model_load (upm_default_model_path (), &error);

  g_assert_no_error (error);
  return m;
}

/* Deterministic patches of clip @seed (values in [-1, 1]). */
static float *
make_patches (const UpmHParams *hp, uint32_t n_frames, guint seed)
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

/* What one clip of a stream gave. */
typedef struct
{
  float *feature;
  UpmRouting routing;
  UpmCaption caption;
  float *hidden; /* upm_transformer_forward's SPE row (upmtransformer) */
  UpmRouting fwd_routing;
} ClipResult;

typedef struct
{
  UpmModel *m;
  guint stream;
  gint64 wait_us;
  UpmPrecision precision;
  uint32_t n_frames;
  ClipResult res[N_CLIPS];
  GError *error;
  size_t enc_scratch; /* floats of the context's encoder scratch at the end */
} Stream;

/* Streams alternate attribute rows, so that a batch mixes merged experts
 * of both (routed per segment). */
static UpmAttr
stream_attr (guint stream)
{
  return stream % 2 ? UPM_ATTR_RETRIEVAL_INPUT : UPM_ATTR_CLS_INPUT;
}

/* As upmtransformer: embedded rows through upm_transformer_forward. */
static void
forward_spe (UpmContext *ctx, const float *p, uint32_t n_frames, UpmAttr attr,
    ClipResult *r, GError **error)
{
  const UpmHParams *hp = upm_model_hparams (upm_context_model (ctx));
  const uint32_t n = 1 + n_frames * UPM_HP_TOKENS_PER_FRAME (hp);
  float *x = g_new (float, (size_t)n * hp->n_embd);
  UpmSegment seg = { attr, n };

  upm_routing_init (&r->fwd_routing);
  if (upm_embed_patches (ctx, p, n_frames, x, error)
      && upm_transformer_forward (
          ctx, x, n, &seg, 1, UPM_FORWARD_SPE_ONLY, &r->fwd_routing, error))
    r->hidden = g_memdup2 (x, hp->n_embd * sizeof (float));
  g_free (x);
}

static gpointer
stream_run (gpointer data)
{
  Stream *s = data;
  const UpmHParams *hp = upm_model_hparams (s->m);
  UpmContext *ctx = upm_context_new (s->m);

  upm_context_set_precision (ctx, s->precision);
  upm_context_set_batch_wait (ctx, s->wait_us);
  for (guint c = 0; c < N_CLIPS && !s->error; c++)
    {
      float *p = make_patches (hp, s->n_frames, 1000 * s->stream + c);
      ClipResult *r = &s->res[c];
      r->feature = g_new0 (float, hp->n_embd);
      upm_routing_init (&r->routing);
      if (upm_encode_visual (ctx, p, s->n_frames, stream_attr (s->stream),
              r->feature, &r->routing, &s->error))
        upm_caption (ctx, p, s->n_frames, NULL, &r->caption, NULL, &s->error);
      if (!s->error)
        forward_spe (
            ctx, p, s->n_frames, stream_attr (s->stream), r, &s->error);
      g_free (p);
    }
  /* the rows the context's encoder buffers hold (a lone clip through the
   * batch path adds full-size q/k/v the chunked plain path does without) */
  s->enc_scratch
      = ctx->scratch.caps[UPM_BUF_ENC_X] + ctx->scratch.caps[UPM_BUF_ENC_KV];
  upm_context_free (ctx);
  return NULL;
}

static void
run_streams (
    UpmModel *m, UpmPrecision precision, gint64 wait_us, Stream *streams)
{
  GThread *threads[N_STREAMS];
  const UpmHParams *hp = upm_model_hparams (m);

  for (guint i = 0; i < N_STREAMS; i++)
    {
      streams[i] = (Stream){
        .m = m, .stream = i, .wait_us = wait_us, .precision = precision
      };
      /* Clips of different lengths in one batch. */
      streams[i].n_frames = 1 + i % hp->n_temporal;
      threads[i] = g_thread_new ("stream", stream_run, &streams[i]);
    }
  for (guint i = 0; i < N_STREAMS; i++)
    g_thread_join (threads[i]);
  for (guint i = 0; i < N_STREAMS; i++)
    g_assert_no_error (streams[i].error);
}

static void
streams_clear (Stream *streams)
{
  for (guint i = 0; i < N_STREAMS; i++)
    for (guint c = 0; c < N_CLIPS; c++)
      {
        g_free (streams[i].res[c].feature);
        upm_routing_clear (&streams[i].res[c].routing);
        upm_caption_clear (&streams[i].res[c].caption);
        g_free (streams[i].res[c].hidden);
        upm_routing_clear (&streams[i].res[c].fwd_routing);
      }
}

static guint
argmax_label (const float *feature, const float *labels, guint n, guint d)
{
  guint best = 0;
  float best_dot = -INFINITY;

  for (guint l = 0; l < n; l++)
    {
      float dot = 0;
      for (guint j = 0; j < d; j++)
        dot += feature[j] * labels[(size_t)l * d + j];
      if (dot > best_dot)
        best_dot = dot, best = l;
    }
  return best;
}

static void
assert_same_routing (const UpmRouting *a, const UpmRouting *b)
{
  g_assert_cmpuint (a->routes->len, ==, b->routes->len);
  g_assert_cmpuint (a->routes->len, >, 0);
  for (guint i = 0; i < a->routes->len; i++)
    {
      const UpmRoute *x = &g_array_index (a->routes, UpmRoute, i);
      const UpmRoute *y = &g_array_index (b->routes, UpmRoute, i);
      g_assert_true (memcmp (x, y, sizeof *x) == 0);
    }
}

/* N streams, batched (a long wait: the batches fill up) and unbatched:
 * the same labels (the first label set's, top-1), routing and features
 * within 1e-6; the batcher did batch. */
static void
test_batched_equals_unbatched (gconstpointer data)
{
  const UpmPrecision precision = GPOINTER_TO_INT (data);
  UpmModel *m = load_bundled ();
  const UpmHParams *hp = upm_model_hparams (m);
  const guint d = hp->n_embd;
  guint n_labels = 0;
  const char *const *labels = upm_model_labelset_labels (
      m, upm_model_labelset_name (m, 0), &n_labels);
  float *lf = g_new (float, (size_t)MAX (n_labels, 1) * d);
  Stream plain[N_STREAMS], batched[N_STREAMS];
  guint64 batches = 0, jobs = 0, batches0 = 0, jobs0 = 0;
  GError *error = NULL;
  double max_diff = 0, max_score_diff = 0, max_hidden_rel = 0;

  g_assert_cmpuint (n_labels, >, 1);
  g_assert_true (upm_model_text_features (
      m, labels, n_labels, UPM_ATTR_CLS_TARGET, lf, &error));
  g_assert_no_error (error);
  upm_model_batch_stats (m, &batches0, &jobs0);
  run_streams (m, precision, 0, plain);
  upm_model_batch_stats (m, &batches, &jobs);
  g_assert_cmpuint (jobs, ==, jobs0);
  run_streams (m, precision, 200 * G_TIME_SPAN_MILLISECOND, batched);
  upm_model_batch_stats (m, &batches, &jobs);
  batches -= batches0;
  jobs -= jobs0;
  /* Every clip and every decode step went through the batcher. */
  g_assert_cmpuint (jobs, >, N_STREAMS * N_CLIPS);
  /* Batches of more than one clip happened. */
  g_assert_cmpuint (batches, <, jobs);
  g_test_message ("%" G_GUINT64_FORMAT " clips in %" G_GUINT64_FORMAT
                  " batches",
      jobs, batches);
  for (guint i = 0; i < N_STREAMS; i++)
    for (guint c = 0; c < N_CLIPS; c++)
      {
        const ClipResult *a = &plain[i].res[c], *b = &batched[i].res[c];
        for (guint j = 0; j < d; j++)
          max_diff = MAX (max_diff, MAX (fabs (a->feature[j] - b->feature[j]),
                                        fabs (a->hidden[j] - b->hidden[j])));
        assert_same_routing (&a->fwd_routing, &b->fwd_routing);
        g_assert_cmpuint (argmax_label (a->feature, lf, n_labels, d), ==,
            argmax_label (b->feature, lf, n_labels, d));
        assert_same_routing (&a->routing, &b->routing);
        g_assert_cmpuint (a->caption.n_ids, >, 0);
        g_assert_cmpuint (a->caption.n_ids, ==, b->caption.n_ids);
        g_assert_true (memcmp (a->caption.ids, b->caption.ids,
                           a->caption.n_ids * sizeof *a->caption.ids)
                       == 0);
        g_assert_cmpstr (a->caption.text, ==, b->caption.text);
        max_score_diff
            = MAX (max_score_diff, fabs (a->caption.score - b->caption.score));
      }
  /* A batch runs on the model's pooled scratch: no context keeps buffers
   * sized for the batches it led (more than its own clips need). */
  for (guint i = 0; i < N_STREAMS; i++)
    g_assert_cmpuint (batched[i].enc_scratch, <=, plain[i].enc_scratch);
  g_test_message ("max |feature difference| %.3g, |caption score "
                  "difference| %.3g, relative hidden difference %.3g",
      max_diff, max_score_diff, max_hidden_rel);
  g_assert_cmpfloat (max_hidden_rel, <=, 1e-6);
  g_assert_cmpfloat (max_diff, <=, 1e-6);
  g_assert_cmpfloat (max_score_diff, <=, 1e-5);
  streams_clear (plain);
  streams_clear (batched);
  g_free (lf);
  upm_model_unref (m);
}

/* A lone batching stream runs at once: a wait of 10 s would show. Its
 * clips and caption steps are kinds of their own: the one context's
 * caption steps never wait for clips (as upmtransformer and upmhead of one
 * pipeline, two contexts, never wait for each other). */
static void
test_lone_stream_never_waits (void)
{
  UpmModel *m = load_bundled ();
  const UpmHParams *hp = upm_model_hparams (m);
  UpmContext *ctx = upm_context_new (m);
  float *p = make_patches (hp, hp->n_temporal, 7);
  float *f = g_new (float, hp->n_embd);
  GError *error = NULL;
  gint64 t0;

  upm_context_set_batch_wait (ctx, 10 * G_TIME_SPAN_SECOND);
  g_assert_cmpint (
      upm_context_get_batch_wait (ctx), ==, 10 * G_TIME_SPAN_SECOND);
  t0 = g_get_monotonic_time ();
  g_assert_true (upm_encode_visual (
      ctx, p, hp->n_temporal, UPM_ATTR_CLS_INPUT, f, NULL, &error));
  g_assert_no_error (error);
  {
    UpmContext *head = upm_context_new (m);
    UpmCaption cap;
    upm_context_set_batch_wait (head, 10 * G_TIME_SPAN_SECOND);
    g_assert_true (
        upm_caption (head, p, hp->n_temporal, NULL, &cap, NULL, &error));
    g_assert_no_error (error);
    upm_caption_clear (&cap);
    g_assert_true (upm_encode_visual (
        ctx, p, hp->n_temporal, UPM_ATTR_CLS_INPUT, f, NULL, &error));
    upm_context_free (head);
  }
  g_assert_cmpint (g_get_monotonic_time () - t0, <, G_TIME_SPAN_SECOND);
  upm_context_free (ctx);
  g_free (p);
  g_free (f);
  upm_model_unref (m);
}

typedef struct
{
  UpmContext *ctx;
  const float *patches;
  uint32_t n_frames;
  float *feature;
  gboolean ok;
  gint64 took_us;
} WaitJob;

static gpointer
waiting_encode (gpointer data)
{
  WaitJob *w = data;
  const gint64 t0 = g_get_monotonic_time ();

  w->ok = upm_encode_visual (w->ctx, w->patches, w->n_frames,
      UPM_ATTR_CLS_INPUT, w->feature, NULL, NULL);
  w->took_us = g_get_monotonic_time () - t0;
  return NULL;
}

/* Two members, one submits with a 20 s wait while the other submits no
 * more: when the other leaves (an element stopping: context freed, or its
 * batch wait set to 0), the waiting stream runs at once. */
static void
test_leaving_member_wakes_waiter (gconstpointer free_it)
{
  UpmModel *m = load_bundled ();
  const UpmHParams *hp = upm_model_hparams (m);
  UpmContext *idle = upm_context_new (m);
  float *p = make_patches (hp, hp->n_temporal, 9);
  WaitJob w = { upm_context_new (m), p, hp->n_temporal,
    g_new (float, hp->n_embd), FALSE, 0 };
  GThread *t;

  upm_context_set_batch_wait (idle, 20 * G_TIME_SPAN_SECOND);
  upm_context_set_batch_wait (w.ctx, 20 * G_TIME_SPAN_SECOND);
  /* The idle stream's first clip makes it a member of the clips' batches
   * (alone then: it runs at once). */
  g_assert_true (upm_encode_visual (
      idle, p, hp->n_temporal, UPM_ATTR_CLS_INPUT, w.feature, NULL, NULL));
  t = g_thread_new ("waiter", waiting_encode, &w);
  g_usleep (100 * G_TIME_SPAN_MILLISECOND);
  if (GPOINTER_TO_INT (free_it))
    upm_context_free (idle);
  else
    upm_context_set_batch_wait (idle, 0);
  g_thread_join (t);
  g_assert_true (w.ok);
  g_assert_cmpint (w.took_us, >=, 50 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (w.took_us, <, 5 * G_TIME_SPAN_SECOND);
  if (!GPOINTER_TO_INT (free_it))
    upm_context_free (idle);
  upm_context_free (w.ctx);
  g_free (w.feature);
  g_free (p);
  upm_model_unref (m);
}

/* With a member that submits no more, a stream waits the batch wait, not
 * more (bounded), then runs alone. */
static void
test_wait_is_bounded (void)
{
  UpmModel *m = load_bundled ();
  const UpmHParams *hp = upm_model_hparams (m);
  UpmContext *idle = upm_context_new (m), *ctx = upm_context_new (m);
  float *p = make_patches (hp, 1, 3);
  float *f = g_new (float, hp->n_embd);
  gint64 t0, took;

  upm_context_set_batch_wait (idle, 1);
  upm_context_set_batch_wait (ctx, 300 * G_TIME_SPAN_MILLISECOND);
  /* A member (its first clip) that submits nothing more. */
  g_assert_true (
      upm_encode_visual (idle, p, 1, UPM_ATTR_CLS_INPUT, f, NULL, NULL));
  t0 = g_get_monotonic_time ();
  g_assert_true (
      upm_encode_visual (ctx, p, 1, UPM_ATTR_CLS_INPUT, f, NULL, NULL));
  took = g_get_monotonic_time () - t0;
  g_assert_cmpint (took, >=, 300 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (took, <, 3 * G_TIME_SPAN_SECOND);
  upm_context_free (idle);
  upm_context_free (ctx);
  g_free (f);
  g_free (p);
  upm_model_unref (m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  upm_set_num_threads (2);
  /* The bundled model's steps are not worth batching (small weights):
   * batch them anyway, to compare them with unbatched ones. */
  g_setenv ("UPM_BATCH_STEPS", "1", TRUE);
  g_test_add_data_func ("/batcher/batched-equals-unbatched/fp32",
      GINT_TO_POINTER (UPM_PRECISION_FP32), test_batched_equals_unbatched);
  /* bf16 (where the CPU lacks the instructions, its emulation): the same
   * kernels batched and unbatched, so the same bounds. */
  g_test_add_data_func ("/batcher/batched-equals-unbatched/bf16",
      GINT_TO_POINTER (UPM_PRECISION_BF16), test_batched_equals_unbatched);
  g_test_add_func ("/batcher/lone-stream", test_lone_stream_never_waits);
  g_test_add_data_func ("/batcher/leave-wakes/free", GINT_TO_POINTER (1),
      test_leaving_member_wakes_waiter);
  g_test_add_data_func ("/batcher/leave-wakes/unset", GINT_TO_POINTER (0),
      test_leaving_member_wakes_waiter);
  g_test_add_func ("/batcher/bounded-wait", test_wait_is_bounded);
  return g_test_run ();
}
