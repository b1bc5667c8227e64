/* upm-context.c: UpmContext, the per-stream state: the model it runs,
 * the path (fast or plain), its scratch buffers, the dynamic routing state
 * of the layer being run, and the caption decoder's state (freed through
 * the destroy notify the caption module sets). Also the library's thread
 * count.
 *
 * Uses: the scratch (upm-scratch.c), the routing state of the experts
 * (upm-moe.c), the model's batcher (upm-batcher.c: membership only), the
 * model, the thread pool (upm-ops.h). The heads build a
 * context of their own to encode texts, so the context does not use them,
 * nor the caption decoder (no symbol of either).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "upm-context.h"

#include "kernels/upm-cpu.h"
#include "upm-moe.h"
#include "upm-ops.h"

UpmContext *
upm_context_new (UpmModel *model)
{
  UpmContext *ctx = g_new0 (UpmContext, 1);
  ctx->model = upm_model_ref (model);
  ctx->path = UPM_PATH_FAST;
  upm_context_set_precision (ctx, UPM_PRECISION_AUTO);
  ctx->row_chunk = UPM_ROW_CHUNK;
  ctx->ff_block = UPM_FF_BLOCK;
  return ctx;
}

void
upm_context_free (UpmContext *ctx)
{
  if (!ctx)
    return;
  upm_context_set_batch_wait (ctx, 0);
  upm_scratch_clear (&ctx->scratch);
  upm_moe_ctx_clear (ctx);
  if (ctx->caption)
    ctx->caption_free (ctx->caption);
  upm_model_unref (ctx->model);
  g_free (ctx);
}

UpmModel *
upm_context_model (UpmContext *ctx)
{
  return ctx->model;
}

void
upm_context_set_batch_wait (UpmContext *ctx, gint64 wait_us)
{
  wait_us = MAX (wait_us, 0);
  if (wait_us > 0 && !ctx->batcher)
    ctx->batcher = upm_batcher_get (ctx->model);
  else if (wait_us == 0 && ctx->batcher)
    {
      upm_batcher_leave (ctx->batcher, &ctx->batch_member);
      ctx->batcher = NULL;
    }
  ctx->batch_wait_us = wait_us;
}

gint64
upm_context_get_batch_wait (UpmContext *ctx)
{
  return ctx->batch_wait_us;
}

void
upm_model_batch_stats (UpmModel *model, guint64 *batches, guint64 *jobs)
{
  upm_batcher_stats (upm_batcher_get (model), batches, jobs);
}

void
upm_context_set_path (UpmContext *ctx, UpmPath path)
{
  ctx->path = path;
}

static const char *const precision_names[] = { "auto", "fp32", "bf16", "int8" };
static UpmPrecision precision_default (void);

const char *
upm_precision_name (UpmPrecision precision)
{
  return (guint)precision < G_N_ELEMENTS (precision_names)
             ? precision_names[precision]
             : "unknown";
}

gboolean
upm_precision_parse (const char *name, UpmPrecision *precision)
{
  for (guint i = 0; name && i < G_N_ELEMENTS (precision_names); i++)
    if (g_ascii_strcasecmp (name, precision_names[i]) == 0)
      {
        *precision = (UpmPrecision)i;
        return TRUE;
      }
  return FALSE;
}

void
upm_model_set_precision (UpmModel *model, UpmPrecision precision)
{
  g_return_if_fail ((guint)precision < G_N_ELEMENTS (precision_names));
  g_atomic_int_set (&model->precision, precision);
}

static UpmPrecision precision_for_model (const UpmModel *model);

void
upm_context_set_precision (UpmContext *ctx, UpmPrecision precision)
{
  g_return_if_fail ((guint)precision < G_N_ELEMENTS (precision_names));
  ctx->precision_asked = precision;
  if (precision == UPM_PRECISION_AUTO)
    precision = (UpmPrecision)g_atomic_int_get (&ctx->model->precision);
  ctx->precision = precision == UPM_PRECISION_AUTO
                       ? precision_for_model (ctx->model)
                       : precision;
}

/* What AUTO will mean: bf16 where the kernels in use have the BF16 dot
 * product (2x the float FMA rate), fp32 elsewhere (the widened bf16 GEMM
 * of the avx512 and avx2 levels is no faster than sgemm there). */
static UpmPrecision
precision_for_cpu (void)
{
  return upm_cpu_info ()->level >= UPM_CPU_AVX512BF16 ? UPM_PRECISION_BF16
                                                      : UPM_PRECISION_FP32;
}

/* AUTO everywhere: UPM_PRECISION, else precision_for_cpu. bf16 is the
 * default where the CPU has the BF16 dot product because it was measured
 * there: the Base clip encode 1.88x faster than fp32 on a quiet host, and
 * the bundled model's held-out numbers within 0.01 of fp32's (README,
 * "Precision"; tests/test_eval.py guards them). */
static UpmPrecision
precision_default (void)
{
  static gsize once;
  static UpmPrecision env_precision;

  if (g_once_init_enter (&once))
    {
      const char *env = g_getenv ("UPM_PRECISION");
      UpmPrecision p = UPM_PRECISION_AUTO;

      if (env && *env && !upm_precision_parse (env, &p))
        {
          g_message ("UPM_PRECISION=%s is not a precision (auto, fp32, "
                     "bf16, int8): ignored",
              env);
          p = UPM_PRECISION_AUTO;
        }
      env_precision = p == UPM_PRECISION_AUTO ? precision_for_cpu () : p;
      g_once_init_leave (&once, 1);
    }
  return env_precision;
}

/* AUTO for a model: UPM_PRECISION when set; bf16 for a file whose
 * linears are stored in bf16 or int8 (fp32 would widen every matrix to a
 * float copy, the RSS of an f32 file; int8 has no precision of its own
 * yet); else precision_default. */
static UpmPrecision
precision_for_model (const UpmModel *model)
{
  const char *env = g_getenv ("UPM_PRECISION");

  if ((!env || !*env)
      && (model->weights_dtype == UPM_DTYPE_BF16
          || model->weights_dtype == UPM_DTYPE_I8))
    return UPM_PRECISION_BF16;
  return precision_default ();
}

UpmPrecision
upm_context_precision (UpmContext *ctx)
{
  return ctx->precision;
}

void
upm_set_num_threads (int n_threads)
{
  upm_threads_set (n_threads);
}
