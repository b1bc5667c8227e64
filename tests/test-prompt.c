/* test-prompt.c: prompt-tuned models (issue 23, docs/prompt-tuning.md).
 *
 * The prompt-* fixtures (tools/make_fixtures.py: random prompts on small
 * models of every routing level and a dense one) against the PyTorch
 * reference on the fast and the plain path; clips batched across streams
 * against unbatched ones; the accessors and the prompt head's errors.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "fixture-check.h"
#include "upm-test-util.h"

static UpmModel *
load_fixture (const char *name)
{
  g_autofree char *path = upm_test_fixture_path (name);
  GError *error = NULL;
  UpmModel *m = upm_model_load (path, &error);

  g_assert_no_error (error);
  return m;
}

static void
run_fixture (gconstpointer data)
{
  const char *name = data;
  g_autofree char *model = g_strdup_printf ("%s.upm", name);
  g_autofree char *model_path = upm_test_fixture_path (model);

  for (int kind = 0; kind < 2; kind++)
    {
      g_autofree char *ex = g_strdup_printf (
          "%s-%s.expect.gguf", name, kind ? "video" : "image");
      g_autofree char *ex_path = upm_test_fixture_path (ex);
      for (int p = 0; p < 2; p++)
        {
          GString *report = g_string_new (NULL);
          GError *error = NULL;
          int failed = upm_fixture_check (model_path, ex_path,
              p ? UPM_PATH_PLAIN : UPM_PATH_FAST, report, &error);
          g_assert_no_error (error);
          g_test_message ("%s", report->str);
          if (failed)
            g_printerr ("%s", report->str);
          g_assert_cmpint (failed, ==, 0);
          /* The prompt head's logits were among the checks. */
          g_assert_nonnull (strstr (report->str, "prompt-head"));
          g_string_free (report, TRUE);
        }
    }
}

static void
test_accessors (void)
{
  UpmModel *m = load_fixture ("prompt-attribute.upm");
  UpmModel *plain = load_fixture ("tiny-moe.upm");
  guint n = 0;
  const char *const *labels = upm_model_prompt_labels (m, &n);

  g_assert_cmpuint (upm_model_prompt_length (m), ==, 10);
  g_assert_cmpstr (upm_model_prompt_task (m), ==, "classify");
  g_assert_false (upm_model_prompt_shared_target (m));
  g_assert_cmpuint (n, ==, 5);
  g_assert_cmpstr (labels[0], ==, "class 0");
  g_assert_cmpstr (labels[4], ==, "class 4");
  g_assert_null (labels[5]);
  g_assert_cmpfloat_with_epsilon (
      upm_model_prompt_similarity_weight (m), 0.75f, 1e-6);

  g_assert_cmpuint (upm_model_prompt_length (plain), ==, 0);
  g_assert_null (upm_model_prompt_task (plain));
  g_assert_null (upm_model_prompt_labels (plain, &n));
  g_assert_cmpuint (n, ==, 0);
  upm_model_unref (plain);
  upm_model_unref (m);

  m = load_fixture ("prompt-task.upm");
  g_assert_true (upm_model_prompt_shared_target (m));
  upm_model_unref (m);
}

/* The head takes the model's own labels only, and needs a head. */
static void
test_prompt_head_errors (void)
{
  UpmModel *m = load_fixture ("prompt-dense.upm");
  UpmModel *plain = load_fixture ("tiny-dense.upm");
  const uint32_t d = upm_model_hparams (m)->n_embd;
  float *h = g_new0 (float, d), *lf = g_new0 (float, 6 * (size_t)d);
  float logits[6];
  GError *error = NULL;

  h[0] = 1.0f;
  g_assert_false (
      upm_classify_prompt (m, h, lf, 6, 10.0f, logits, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "5 classes"));
  g_clear_error (&error);
  g_assert_false (
      upm_classify_prompt (plain, h, lf, 5, 10.0f, logits, NULL, &error));
  g_assert_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (
      upm_classify_prompt (m, h, lf, 5, 10.0f, logits, NULL, &error));
  g_assert_no_error (error);
  g_free (h);
  g_free (lf);
  upm_model_unref (plain);
  upm_model_unref (m);
}

/* ------------------------------------------------ batched across streams */

#define N_STREAMS 3
#define N_CLIPS 2

typedef struct
{
  UpmModel *m;
  UpmContext *ctx;
  guint stream;
  float *feature[N_CLIPS];
  float *hidden[N_CLIPS];
  GError *error;
} Stream;

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

/* Streams alternate attribute rows: a batch holds the prompts of both. */
static gpointer
stream_run (gpointer data)
{
  Stream *s = data;
  const UpmHParams *hp = upm_model_hparams (s->m);
  const UpmAttr attr
      = s->stream % 2 ? UPM_ATTR_RETRIEVAL_INPUT : UPM_ATTR_CLS_INPUT;
  const uint32_t n_frames = 1 + s->stream % hp->n_temporal;
  UpmContext *ctx = s->ctx;

  for (guint c = 0; c < N_CLIPS && !s->error; c++)
    {
      float *p = make_patches (hp, n_frames, 100 * s->stream + c);
      s->feature[c] = g_new0 (float, hp->n_embd);
      s->hidden[c] = g_new0 (float, hp->n_embd);
      if (upm_encode_visual (
              ctx, p, n_frames, attr, s->feature[c], NULL, &s->error))
        upm_encode_visual_hidden (
            ctx, p, n_frames, attr, s->hidden[c], NULL, &s->error);
      g_free (p);
    }
  return NULL;
}

static void
run_streams (UpmModel *m, gint64 wait_us, Stream *streams)
{
  GThread *threads[N_STREAMS];

  /* Every stream a member of the batcher before any submits. */
  for (guint i = 0; i < N_STREAMS; i++)
    {
      streams[i] = (Stream){ .m = m, .stream = i };
      streams[i].ctx = upm_context_new (m);
      upm_context_set_batch_wait (streams[i].ctx, wait_us);
    }
  for (guint i = 0; i < N_STREAMS; i++)
    threads[i] = g_thread_new ("stream", stream_run, &streams[i]);
  for (guint i = 0; i < N_STREAMS; i++)
    g_thread_join (threads[i]);
  for (guint i = 0; i < N_STREAMS; i++)
    {
      g_assert_no_error (streams[i].error);
      upm_context_free (streams[i].ctx);
    }
}

static void
test_batched (void)
{
  UpmModel *m = load_fixture ("prompt-attribute.upm");
  const uint32_t d = upm_model_hparams (m)->n_embd;
  Stream plain[N_STREAMS], batched[N_STREAMS];
  guint64 batches0 = 0, jobs0 = 0, batches = 0, jobs = 0;
  double max_diff = 0.0;

  run_streams (m, 0, plain);
  upm_model_batch_stats (m, &batches0, &jobs0);
  run_streams (m, 300 * G_TIME_SPAN_MILLISECOND, batched);
  upm_model_batch_stats (m, &batches, &jobs);
  g_test_message ("%" G_GUINT64_FORMAT " clips in %" G_GUINT64_FORMAT
                  " batches",
      jobs - jobs0, batches - batches0);
  g_assert_cmpuint (jobs - jobs0, ==, 2 * N_STREAMS * N_CLIPS);
  g_assert_cmpuint (batches - batches0, <, jobs - jobs0);
  for (guint i = 0; i < N_STREAMS; i++)
    for (guint c = 0; c < N_CLIPS; c++)
      {
        for (uint32_t j = 0; j < d; j++)
          max_diff = MAX (max_diff,
              MAX (fabs (plain[i].feature[c][j] - batched[i].feature[c][j]),
                  fabs (plain[i].hidden[c][j] - batched[i].hidden[c][j])));
        g_free (plain[i].feature[c]);
        g_free (plain[i].hidden[c]);
        g_free (batched[i].feature[c]);
        g_free (batched[i].hidden[c]);
      }
  g_test_message ("max |batched - unbatched| %.3g", max_diff);
  g_assert_cmpfloat (max_diff, <=, 1e-6);
  upm_model_unref (m);
}

int
main (int argc, char **argv)
{
  static const char *fixtures[] = { "prompt-dense", "prompt-attribute",
    "prompt-modality", "prompt-task", "prompt-token", "prompt-context" };

  g_test_init (&argc, &argv, NULL);
  upm_set_num_threads (2);
  for (guint i = 0; i < G_N_ELEMENTS (fixtures); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/prompt/reference/%s", fixtures[i]);
      g_test_add_data_func (path, fixtures[i], run_fixture);
    }
  g_test_add_func ("/prompt/accessors", test_accessors);
  g_test_add_func ("/prompt/head-errors", test_prompt_head_errors);
  g_test_add_func ("/prompt/batched-clips", test_batched);
  return g_test_run ();
}
