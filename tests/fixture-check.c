/* fixture-check.c: compare the engine with the PyTorch reference.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture-check.h"
#include "upm-engine.h"

#include <math.h>
#include <string.h>

/* Features and logits of the reference (float32 torch) and ours. */
#define TOL 1e-4

typedef struct
{
  UpmModel *model;
  UpmContext *ctx;
  UpmGguf *expect;
  GString *report;
  const char *tag;
  int failed;
} Check;

static const float *
expect_tensor (Check *c, const char *name, uint64_t n_expected)
{
  const UpmTensor *t = upm_gguf_find_tensor (c->expect, name);
  uint64_t n = 1;

  if (!t || t->type != UPM_DTYPE_F32)
    {
      g_string_append_printf (c->report, "FAIL %s: %s missing\n", c->tag, name);
      c->failed++;
      return NULL;
    }
  for (uint32_t i = 0; i < t->n_dims; i++)
    n *= t->ne[i];
  if (n_expected && n != n_expected)
    {
      g_string_append_printf (c->report,
          "FAIL %s: %s has %" G_GUINT64_FORMAT
          " values, expected %" G_GUINT64_FORMAT "\n",
          c->tag, name, n, n_expected);
      c->failed++;
      return NULL;
    }
  return t->data;
}

/* One line of the report, "ok <tag>: ..." or "FAIL <tag>: ...", and the
 * failure counted. */
static void verdict (Check *c, gboolean ok, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static void
verdict (Check *c, gboolean ok, const char *fmt, ...)
{
  va_list ap;

  g_string_append_printf (c->report, "%s %s: ", ok ? "ok" : "FAIL", c->tag);
  va_start (ap, fmt);
  g_string_append_vprintf (c->report, fmt, ap);
  va_end (ap);
  g_string_append_c (c->report, '\n');
  c->failed += !ok;
}

static void
compare (Check *c, const char *what, const float *ours, const float *ref,
    size_t n, double tol)
{
  double max = 0.0;

  if (!ref)
    return;
  for (size_t i = 0; i < n; i++)
    {
      const double e = fabs ((double)ours[i] - ref[i]);
      if (!(e <= max))
        max = isnan (e) ? INFINITY : e;
    }
  verdict (c, max <= tol, "%s max abs diff %.3g (tol %g)", what, max, tol);
}

static void
fail (Check *c, const char *what, const GError *error)
{
  g_string_append_printf (c->report, "FAIL %s: %s: %s\n", c->tag, what,
      error ? error->message : "failed");
  c->failed++;
}

/* Where @done (@ours was computed), compares the @n values of @ours with
 * the expectation tensor @key as @what; else reports @failed_what with
 * @error. Clears @error. */
static void
compare_if_done (Check *c, gboolean done, GError **error,
    const char *failed_what, const char *what, const float *ours,
    const char *key, size_t n)
{
  if (done)
    compare (c, what, ours, expect_tensor (c, key, n), n, TOL);
  else
    fail (c, failed_what, *error);
  g_clear_error (error);
}

/* Label ids "input.label.<i>.ids" of the expectation file. */
static gboolean
load_labels (Check *c, int32_t ***ids, uint32_t **lens, uint32_t *n)
{
  if (!upm_gguf_get_u32 (c->expect, "input.n_labels", n, NULL))
    return FALSE;
  *ids = g_new0 (int32_t *, *n);
  *lens = g_new0 (uint32_t, *n);
  for (uint32_t i = 0; i < *n; i++)
    {
      char *key = g_strdup_printf ("input.label.%u.ids", i);
      guint len = 0;
      (*ids)[i] = upm_gguf_get_i32_array (c->expect, key, &len, NULL);
      (*lens)[i] = len;
      g_free (key);
      if (!(*ids)[i])
        return FALSE;
    }
  return TRUE;
}

/* Room for the embedded visual sequence of @n_frames frames: <SPE> and
 * each frame's patch tokens, @n rows of n_embd floats. */
static float *
new_visual_rows (Check *c, uint32_t n_frames, uint32_t *n)
{
  const UpmHParams *hp = upm_model_hparams (c->model);

  *n = 1 + n_frames * UPM_HP_TOKENS_PER_FRAME (hp);
  return g_new (float, (size_t)*n * hp->n_embd);
}

static void
check_visual (Check *c, const float *patches, uint32_t n_frames)
{
  const uint32_t d = upm_model_hparams (c->model)->n_embd;
  uint32_t n;
  float *x = new_visual_rows (c, n_frames, &n);
  float *f = g_new (float, d);
  UpmSegment seg = { UPM_ATTR_CLS_INPUT, n };
  GError *error = NULL;

  gboolean done;

  done = upm_embed_patches (c->ctx, patches, n_frames, x, &error)
         && upm_transformer_forward (
             c->ctx, x, n, &seg, 1, UPM_FORWARD_NONE, NULL, &error);
  compare_if_done (c, done, &error, "cls forward",
      "cls SPE hidden (full forward)", x, "expect.cls.spe_hidden", d);
  done = upm_encode_visual (
      c->ctx, patches, n_frames, UPM_ATTR_CLS_INPUT, f, NULL, &error);
  compare_if_done (c, done, &error, "cls feature", "cls feature", f,
      "expect.cls.feature", d);
  done = upm_encode_visual (
      c->ctx, patches, n_frames, UPM_ATTR_RETRIEVAL_INPUT, f, NULL, &error);
  compare_if_done (c, done, &error, "retrieval feature", "retrieval feature", f,
      "expect.retrieval.feature", d);
  g_free (x);
  g_free (f);
}

/* A prompt-tuned model's head: similarity_weight x the logits above +
 * fc_prompt of the projected hidden state. */
static void
check_prompt_logits (Check *c, const float *patches, uint32_t n_frames,
    const float *lf, uint32_t n, float scale)
{
  const uint32_t d = upm_model_hparams (c->model)->n_embd;
  float *h, *logits;
  GError *error = NULL;
  gboolean done;

  if (!upm_model_prompt_labels (c->model, NULL))
    return;
  h = g_new (float, d);
  logits = g_new (float, n);
  done = upm_encode_visual_hidden (
             c->ctx, patches, n_frames, UPM_ATTR_CLS_INPUT, h, NULL, &error)
         && upm_classify_prompt (
             c->model, h, lf, n, scale, logits, NULL, &error);
  compare_if_done (c, done, &error, "prompt head",
      "prompt-head classification logits", logits, "expect.cls.prompt_logits",
      n);
  g_free (h);
  g_free (logits);
}

static void
check_texts (Check *c, const float *patches, uint32_t n_frames)
{
  const UpmHParams *hp = upm_model_hparams (c->model);
  const uint32_t d = hp->n_embd;
  int32_t **ids = NULL;
  uint32_t *lens = NULL, n = 0;
  GError *error = NULL;

  if (!load_labels (c, &ids, &lens, &n))
    {
      fail (c, "label ids", NULL);
    }
  else
    {
      float *lf = g_new (float, (size_t)n *d);
      float *tf = g_new (float, (size_t)n *d);
      float *f = g_new (float, d);
      float *logits = g_new (float, n);
      const float scale = upm_model_logit_scale (
          c->model, n_frames == 1 ? UPM_SCALE_IMG_CLS : UPM_SCALE_VIDEO_CLS);

      if (upm_encode_texts (c->ctx, (const int32_t *const *)ids, lens, n,
              UPM_ATTR_CLS_TARGET, lf, &error)
          && upm_encode_texts (c->ctx, (const int32_t *const *)ids, lens, n,
              UPM_ATTR_RETRIEVAL_TARGET, tf, &error)
          && upm_encode_visual (
              c->ctx, patches, n_frames, UPM_ATTR_CLS_INPUT, f, NULL, &error))
        {
          compare (c, "label features", lf,
              expect_tensor (c, "expect.label.features", (uint64_t)n * d),
              (size_t)n * d, TOL);
          compare (c, "retrieval text features", tf,
              expect_tensor (
                  c, "expect.retrieval.text_features", (uint64_t)n * d),
              (size_t)n * d, TOL);
          upm_classify (hp, f, lf, n, scale, logits, NULL);
          compare (c, "classification logits", logits,
              expect_tensor (c, "expect.cls.logits", n), n, TOL);
          check_prompt_logits (c, patches, n_frames, lf, n, scale);
        }
      else
        {
          fail (c, "text features", error);
        }
      g_clear_error (&error);
      g_free (lf);
      g_free (tf);
      g_free (f);
      g_free (logits);
    }
  for (uint32_t i = 0; i < n; i++)
    g_free (ids[i]);
  g_free (ids);
  g_free (lens);
}

static void
check_routing (Check *c)
{
  const UpmHParams *hp = upm_model_hparams (c->model);

  if (!upm_model_is_moe (c->model)
      || upm_routing_level_is_dynamic (upm_model_routing_level (c->model)))
    return;
  for (int a = 0; a < UPM_N_ATTRS; a++)
    {
      char *ke
          = g_strdup_printf ("expect.routing.%s.experts", upm_attr_name (a));
      char *kw
          = g_strdup_printf ("expect.routing.%s.weights", upm_attr_name (a));
      guint ne = 0, nw = 0, k = 0;
      uint32_t *experts = upm_gguf_get_u32_array (c->expect, ke, &ne, NULL);
      float *weights = upm_gguf_get_f32_array (c->expect, kw, &nw, NULL);
      gboolean same = experts && weights && ne == nw;
      double max = 0.0;

      for (uint32_t l = 0; same && l < hp->n_layer; l++)
        {
          if (!upm_model_layer_is_moe (c->model, l))
            continue;
          for (int g = 0; same && g < UPM_N_GATES; g++)
            {
              uint32_t ex[2];
              float w[2];
              upm_model_route (c->model, l, g, a, ex, w);
              for (int j = 0; j < 2 && same; j++, k++)
                {
                  same = k < ne && ex[j] == experts[k];
                  if (same)
                    max = MAX (max, fabs (w[j] - weights[k]));
                }
            }
        }
      same = same && k == ne && max <= 1e-5;
      verdict (c, same, "routing of %s (%u decisions, max weight diff %.3g)",
          upm_attr_name (a), k / 2, max);
      g_free (experts);
      g_free (weights);
      g_free (ke);
      g_free (kw);
    }
}

/* Per-token expert ids of one full forward (dynamic levels) against
 * "expect.token_routing.<what>.experts". */
static void
check_token_routing_of (
    Check *c, const char *what, float *x, uint32_t n, UpmAttr attr)
{
  char *key = g_strdup_printf ("expect.token_routing.%s.experts", what);
  guint n_ref = 0, k = 0, n_diff = 0;
  uint32_t *ref = upm_gguf_get_u32_array (c->expect, key, &n_ref, NULL);
  UpmSegment seg = { attr, n };
  UpmRouting r;
  GError *error = NULL;

  upm_routing_init (&r);
  upm_routing_set_token_experts (&r, TRUE);
  if (!ref)
    {
      fail (c, key, NULL);
    }
  else if (!upm_transformer_forward (
               c->ctx, x, n, &seg, 1, UPM_FORWARD_NONE, &r, &error))
    {
      fail (c, "token routing forward", error);
    }
  else
    {
      for (guint i = 0; i < upm_routing_n_token_runs (&r); i++)
        {
          UpmTokenExperts run;
          upm_routing_token_run (&r, i, &run);
          for (uint32_t t = 0; t < 2 * run.n_tokens; t++, k++)
            n_diff += k >= n_ref || run.experts[t] != ref[k];
        }
      verdict (c, k == n_ref && n_diff == 0,
          "per-token routing of %s (%u expert ids, %u differ)", what, k,
          n_diff);
    }
  g_clear_error (&error);
  upm_routing_clear (&r);
  g_free (ref);
  g_free (key);
}

static void
check_token_routing (Check *c, const float *patches, uint32_t n_frames)
{
  uint32_t n;
  float *x = new_visual_rows (c, n_frames, &n);
  char *key = g_strdup ("input.label.0.ids");
  guint n_ids = 0;
  int32_t *ids;
  GError *error = NULL;

  if (!upm_routing_level_is_dynamic (upm_model_routing_level (c->model)))
    goto out;
  if (upm_embed_patches (c->ctx, patches, n_frames, x, &error))
    check_token_routing_of (c, "cls", x, n, UPM_ATTR_CLS_INPUT);
  else
    fail (c, "embed patches", error);
  g_clear_error (&error);
  ids = upm_gguf_get_i32_array (c->expect, key, &n_ids, NULL);
  if (ids && n_ids + 1 <= n && upm_embed_text (c->ctx, ids, n_ids, x, &error))
    check_token_routing_of (c, "label0", x, n_ids + 1, UPM_ATTR_CLS_TARGET);
  else
    fail (c, "label 0", error);
  g_clear_error (&error);
  g_free (ids);
out:
  g_free (key);
  g_free (x);
}

static void
check_caption (Check *c, const float *patches, uint32_t n_frames)
{
  const UpmHParams *hp = upm_model_hparams (c->model);
  float *lp = g_new (float, hp->n_vocab);
  UpmCaption cap = { 0 };
  GError *error = NULL;
  guint n_ref = 0;
  int32_t *ref_ids;
  float ref_score = 0.0f;

  compare_if_done (c,
      upm_caption_first_step (c->ctx, patches, n_frames, lp, &error), &error,
      "caption step 0", "caption step-0 log-probs", lp,
      "expect.caption.step0_logprobs", hp->n_vocab);

  ref_ids
      = upm_gguf_get_i32_array (c->expect, "expect.caption.ids", &n_ref, NULL);
  upm_gguf_get_f32 (c->expect, "expect.caption.score", &ref_score, NULL);
  if (upm_caption (c->ctx, patches, n_frames, NULL, &cap, NULL, &error))
    {
      gboolean same
          = cap.n_ids == n_ref
            && (n_ref == 0
                || memcmp (cap.ids, ref_ids, n_ref * sizeof (int32_t)) == 0);
      GString *ours = g_string_new (NULL);
      for (uint32_t i = 0; i < cap.n_ids; i++)
        g_string_append_printf (ours, "%s%d", i ? " " : "", cap.ids[i]);
      verdict (c, same, "caption ids [%s] (%u, reference %u)", ours->str,
          cap.n_ids, n_ref);
      compare (c, "caption score", &cap.score, &ref_score, 1, TOL);
      g_string_free (ours, TRUE);
    }
  else
    {
      fail (c, "caption", error);
    }
  g_clear_error (&error);
  upm_caption_clear (&cap);
  g_free (ref_ids);
  g_free (lp);
}

int
upm_fixture_check (const char *model_path, const char *expect_path,
    UpmPath path, GString *report, GError **error)
{
  Check c = { 0 };
  uint32_t n_frames = 0;
  const float *patches;
  char *tag;

  c.model = upm_model_load (model_path, error);
  if (!c.model)
    return -1;
  c.expect = upm_gguf_open (expect_path, error);
  if (!c.expect)
    {
      upm_model_unref (c.model);
      return -1;
    }
  if (!upm_gguf_get_u32 (c.expect, "input.n_frames", &n_frames, error))
    {
      upm_gguf_close (c.expect);
      upm_model_unref (c.model);
      return -1;
    }
  tag = g_strdup_printf (
      "%s [%s]", expect_path, path == UPM_PATH_FAST ? "fast" : "plain");
  c.tag = strrchr (tag, '/') ? strrchr (tag, '/') + 1 : tag;
  c.report = report;
  c.ctx = upm_context_new (c.model);
  upm_context_set_path (c.ctx, path);
  const UpmHParams *hp = upm_model_hparams (c.model);
  patches = expect_tensor (&c, "input.patches",
      (uint64_t)n_frames * UPM_HP_TOKENS_PER_FRAME (hp)
          * UPM_HP_PATCH_DIM (hp));
  if (patches)
    {
      check_visual (&c, patches, n_frames);
      check_texts (&c, patches, n_frames);
      check_routing (&c);
      check_token_routing (&c, patches, n_frames);
      check_caption (&c, patches, n_frames);
    }
  upm_context_free (c.ctx);
  upm_gguf_close (c.expect);
  upm_model_unref (c.model);
  g_free (tag);
  return c.failed;
}
