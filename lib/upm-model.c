/* upm-model.c: loading and validating a Uni-Perceiver(-MoE) model file.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * upm_model_load() reads every key of docs/model-format.md, checks the
 * hyper-parameters against each other and against sane bounds (before any
 * size derived from them is used), then requires every tensor with its
 * exact dtype and shape. Weights stay in the read-only mapping.
 *
 * Keys that may be absent: general.name (the file's basename is used),
 * uniperceiver.weights_sha256, the MoE keys other than expert_count on a
 * dense model, the label sets, and the logit scales other than img_cls,
 * video_cls, caption and retrieve. An absent scale reads as 1/0.07, the
 * initial value of every scale in the official code (CLIP's temperature).
 * Uses the GGUF reader, the tokenizer and the model's cache slots only.
 */
#include "upm-model.h"

#include <math.h>
#include <string.h>

#define MAX_EMBD 16384u
#define MAX_LAYERS 256u
#define MAX_FF 131072u
#define MAX_VOCAB (1u << 22)
#define MAX_TEXT_CTX 65536u
#define MAX_PATCH 1024u
#define MAX_IMAGE 8192u
#define MAX_TEMPORAL 1024u
#define MAX_EXPERTS UPM_MAX_EXPERTS
#define MAX_BEAM 64u
#define DEFAULT_LOGIT_SCALE (1.0f / 0.07f)
#define MAX_LOGIT_SCALE 100.0f

static gboolean
scale_is_required (UpmScale scale)
{
  return scale == UPM_SCALE_IMG_CLS || scale == UPM_SCALE_VIDEO_CLS
         || scale == UPM_SCALE_CAPTION || scale == UPM_SCALE_RETRIEVE;
}

/* ------------------------------------------------------------------- free */

static void
model_free (UpmModel *m)
{
  guint i;

  upm_model_caches_free (m);
  g_mutex_clear (&m->lock);
  for (i = 0; i < m->n_labelsets; i++)
    {
      g_free (m->labelsets[i].name);
      g_strfreev (m->labelsets[i].labels);
    }
  g_free (m->labelsets);
  upm_model_prompt_clear (m);
  if (m->bpe)
    upm_bpe_free (m->bpe);
  /* The float copies widened from typed weights (upm_linear_f32). */
  for (i = 0; m->layers && i < m->hp.n_layer; i++)
    for (int k = 0; k < UPM_N_LIN; k++)
      if (m->layers[i].lin[k].dtype != UPM_DTYPE_F32)
        g_free ((gpointer)m->layers[i].lin[k].w);
  g_free (m->layers);
  upm_gguf_close (m->gguf);
  g_free (m->weights_sha256);
  g_free (m->name);
  g_free (m->path);
  g_free (m);
}

UpmModel *
upm_model_ref (UpmModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_atomic_int_inc (&model->ref_count);
  return model;
}

void
upm_model_unref (UpmModel *model)
{
  if (model && g_atomic_int_dec_and_test (&model->ref_count))
    model_free (model);
}

/* ------------------------------------------------------- identity / hparams */

static gboolean model_fail (UpmModel *m, GError **error, gint code,
    const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static gboolean
model_fail (UpmModel *m, GError **error, gint code, const char *fmt, ...)
{
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, UPM_ERROR, code, "%s: %s", m->path, msg);
  return FALSE;
}

static gboolean
load_identity (UpmModel *m, GError **error)
{
  g_autofree char *arch = NULL;
  uint32_t version;

  arch = upm_gguf_get_string (m->gguf, "general.architecture", error);
  if (!arch)
    return FALSE;
  if (strcmp (arch, "uniperceiver") != 0)
    return model_fail (m, error, UPM_ERROR_VERSION,
        "architecture '%s' is not supported (expected 'uniperceiver')", arch);
  if (!upm_gguf_get_u32 (
          m->gguf, "uniperceiver.format_version", &version, error))
    return FALSE;
  if (version > 1)
    return model_fail (m, error, UPM_ERROR_VERSION,
        "format version %u is newer than this build supports (1)", version);
  if (upm_gguf_find_kv (m->gguf, "general.name"))
    m->name = upm_gguf_get_string (m->gguf, "general.name", error);
  else
    m->name = g_path_get_basename (m->path);
  if (!m->name)
    return FALSE;
  if (upm_gguf_find_kv (m->gguf, "uniperceiver.weights_sha256"))
    {
      m->weights_sha256
          = upm_gguf_get_string (m->gguf, "uniperceiver.weights_sha256", error);
      if (!m->weights_sha256)
        return FALSE;
    }
  return TRUE;
}

typedef struct
{
  const char *key;
  gsize offset;
} FieldKey;

static gboolean
load_u32_fields (UpmModel *m, GError **error)
{
  static const FieldKey keys[] = {
    { "uniperceiver.embedding_length", G_STRUCT_OFFSET (UpmHParams, n_embd) },
    { "uniperceiver.block_count", G_STRUCT_OFFSET (UpmHParams, n_layer) },
    { "uniperceiver.attention.head_count",
        G_STRUCT_OFFSET (UpmHParams, n_head) },
    { "uniperceiver.feed_forward_length", G_STRUCT_OFFSET (UpmHParams, n_ff) },
    { "uniperceiver.vocab_size", G_STRUCT_OFFSET (UpmHParams, n_vocab) },
    { "uniperceiver.text.context_length",
        G_STRUCT_OFFSET (UpmHParams, n_text_ctx) },
    { "uniperceiver.text.max_length",
        G_STRUCT_OFFSET (UpmHParams, text_max_length) },
    { "uniperceiver.vision.patch_size",
        G_STRUCT_OFFSET (UpmHParams, patch_size) },
    { "uniperceiver.vision.image_size",
        G_STRUCT_OFFSET (UpmHParams, image_size) },
    { "uniperceiver.vision.temporal_positions",
        G_STRUCT_OFFSET (UpmHParams, n_temporal) },
    { "uniperceiver.vision.clip_frames",
        G_STRUCT_OFFSET (UpmHParams, clip_frames) },
    { "uniperceiver.moe.expert_count", G_STRUCT_OFFSET (UpmHParams, n_expert) },
    { "uniperceiver.caption.max_length",
        G_STRUCT_OFFSET (UpmHParams, caption_max_length) },
    { "uniperceiver.caption.beam_size",
        G_STRUCT_OFFSET (UpmHParams, caption_beam_size) },
    { "tokenizer.upm.sot_id", G_STRUCT_OFFSET (UpmHParams, sot_id) },
    { "tokenizer.upm.eot_id", G_STRUCT_OFFSET (UpmHParams, eot_id) },
    { "tokenizer.upm.mask_id", G_STRUCT_OFFSET (UpmHParams, mask_id) },
    { "tokenizer.upm.gen_id", G_STRUCT_OFFSET (UpmHParams, gen_id) },
    { "tokenizer.upm.spe_id", G_STRUCT_OFFSET (UpmHParams, spe_id) },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (keys); i++)
    if (!upm_gguf_get_u32 (m->gguf, keys[i].key,
            G_STRUCT_MEMBER_P (&m->hp, keys[i].offset), error))
      return FALSE;
  return TRUE;
}

static gboolean
load_f32_vec3 (
    UpmModel *m, const char *key, gboolean positive, float *out, GError **error)
{
  g_autofree float *v = NULL;
  guint n, i;

  v = upm_gguf_get_f32_array (m->gguf, key, &n, error);
  if (!v)
    return FALSE;
  if (n != 3)
    return model_fail (m, error, UPM_ERROR_MODEL,
        "key '%s': expected 3 values, found %u", key, n);
  for (i = 0; i < 3; i++)
    {
      if (!isfinite (v[i]) || (positive && !(v[i] > 0.0f)))
        return model_fail (m, error, UPM_ERROR_MODEL,
            "key '%s': value %u (%g) is out of range", key, i, v[i]);
      out[i] = v[i];
    }
  return TRUE;
}

static gboolean
load_f32_fields (UpmModel *m, GError **error)
{
  UpmHParams *hp = &m->hp;

  return upm_gguf_get_f32 (
             m->gguf, "uniperceiver.layer_norm_epsilon", &hp->norm_eps, error)
         && upm_gguf_get_f32 (m->gguf, "uniperceiver.caption.length_penalty",
             &hp->caption_length_penalty, error)
         && load_f32_vec3 (
             m, "uniperceiver.vision.image_mean", FALSE, hp->image_mean, error)
         && load_f32_vec3 (
             m, "uniperceiver.vision.image_std", TRUE, hp->image_std, error)
         && load_f32_vec3 (
             m, "uniperceiver.vision.video_mean", FALSE, hp->video_mean, error)
         && load_f32_vec3 (
             m, "uniperceiver.vision.video_std", TRUE, hp->video_std, error);
}

static gboolean
check_range (UpmModel *m, const char *what, uint32_t v, uint32_t lo,
    uint32_t hi, GError **error)
{
  if (v >= lo && v <= hi)
    return TRUE;
  return model_fail (m, error, UPM_ERROR_MODEL,
      "%s %u is out of range (%u..%u)", what, v, lo, hi);
}

static gboolean
check_sizes (UpmModel *m, GError **error)
{
  const UpmHParams *hp = &m->hp;

  return check_range (m, "embedding_length", hp->n_embd, 1, MAX_EMBD, error)
         && check_range (m, "block_count", hp->n_layer, 1, MAX_LAYERS, error)
         && check_range (m, "head_count", hp->n_head, 1, hp->n_embd, error)
         && check_range (m, "feed_forward_length", hp->n_ff, 1, MAX_FF, error)
         && check_range (m, "vocab_size", hp->n_vocab, 1, MAX_VOCAB, error)
         && check_range (
             m, "text.context_length", hp->n_text_ctx, 1, MAX_TEXT_CTX, error)
         && check_range (m, "text.max_length", hp->text_max_length, 1,
             hp->n_text_ctx, error)
         && check_range (m, "patch_size", hp->patch_size, 1, MAX_PATCH, error)
         && check_range (
             m, "image_size", hp->image_size, hp->patch_size, MAX_IMAGE, error)
         && check_range (
             m, "temporal_positions", hp->n_temporal, 1, MAX_TEMPORAL, error)
         && check_range (
             m, "clip_frames", hp->clip_frames, 1, hp->n_temporal, error)
         && check_range (m, "caption.max_length", hp->caption_max_length, 1,
             hp->n_text_ctx, error)
         && check_range (
             m, "caption.beam_size", hp->caption_beam_size, 1, MAX_BEAM, error);
}

static gboolean
check_hparams (UpmModel *m, GError **error)
{
  UpmHParams *hp = &m->hp;
  const uint32_t ids[]
      = { hp->sot_id, hp->eot_id, hp->mask_id, hp->gen_id, hp->spe_id };
  guint i;

  if (!check_sizes (m, error))
    return FALSE;
  if (hp->n_embd % hp->n_head != 0)
    return model_fail (m, error, UPM_ERROR_MODEL,
        "embedding_length %u is not divisible by head_count %u", hp->n_embd,
        hp->n_head);
  if (hp->image_size % hp->patch_size != 0)
    return model_fail (m, error, UPM_ERROR_MODEL,
        "image_size %u is not a multiple of patch_size %u", hp->image_size,
        hp->patch_size);
  hp->grid = hp->image_size / hp->patch_size;
  for (i = 0; i < G_N_ELEMENTS (ids); i++)
    if (ids[i] >= hp->n_vocab)
      return model_fail (m, error, UPM_ERROR_MODEL,
          "special token id %u is outside the vocabulary (%u)", ids[i],
          hp->n_vocab);
  if (!(hp->norm_eps > 0.0f && hp->norm_eps < 1.0f))
    return model_fail (m, error, UPM_ERROR_MODEL,
        "layer_norm_epsilon %g is out of range", hp->norm_eps);
  if (!isfinite (hp->caption_length_penalty))
    return model_fail (
        m, error, UPM_ERROR_MODEL, "caption.length_penalty is not finite");
  return TRUE;
}

/* -------------------------------------------------------------------- MoE */

static gboolean
load_moe_routing (UpmModel *m, GError **error)
{
  g_autofree char *routing = NULL;

  if (m->hp.n_expert < 2 || m->hp.n_expert > MAX_EXPERTS)
    return model_fail (m, error, UPM_ERROR_MODEL,
        "moe.expert_count %u is out of range (0 or 2..%u)", m->hp.n_expert,
        MAX_EXPERTS);
  if (!upm_gguf_get_u32 (m->gguf, "uniperceiver.moe.expert_used_count",
          &m->hp.n_expert_used, error))
    return FALSE;
  if (m->hp.n_expert_used != 2)
    return model_fail (m, error, UPM_ERROR_MODEL,
        "moe.expert_used_count %u is not supported (only 2)",
        m->hp.n_expert_used);
  /* Absent: attribute routing (files written before the key existed). */
  m->routing = UPM_ROUTING_ATTRIBUTE;
  if (!upm_gguf_find_kv (m->gguf, "uniperceiver.moe.routing"))
    return TRUE;
  routing = upm_gguf_get_string (m->gguf, "uniperceiver.moe.routing", error);
  if (!routing)
    return FALSE;
  for (guint i = 0; i < UPM_N_ROUTING_LEVELS; i++)
    if (strcmp (routing, upm_routing_level_name (i)) == 0)
      {
        m->routing = (UpmRoutingLevel)i;
        return TRUE;
      }
  return model_fail (m, error, UPM_ERROR_VERSION,
      "moe.routing '%s' is not supported by this build (attribute, token, "
      "context, modality or task)",
      routing);
}

static gboolean
load_moe (UpmModel *m, GError **error)
{
  g_autofree uint32_t *layers = NULL;
  guint n = 0, i;

  m->layers = g_new0 (UpmLayer, m->hp.n_layer);
  if (m->hp.n_expert > 0 && !load_moe_routing (m, error))
    return FALSE;
  if (m->hp.n_expert == 0
      && !upm_gguf_find_kv (m->gguf, "uniperceiver.moe.layers"))
    return TRUE;
  layers
      = upm_gguf_get_u32_array (m->gguf, "uniperceiver.moe.layers", &n, error);
  if (!layers)
    return FALSE;
  if (m->hp.n_expert == 0 && n > 0)
    return model_fail (m, error, UPM_ERROR_MODEL,
        "moe.layers lists %u layers but moe.expert_count is 0", n);
  for (i = 0; i < n; i++)
    {
      if (layers[i] >= m->hp.n_layer)
        return model_fail (m, error, UPM_ERROR_MODEL,
            "moe.layers: layer %u does not exist (block_count %u)", layers[i],
            m->hp.n_layer);
      if (m->layers[layers[i]].is_moe)
        return model_fail (m, error, UPM_ERROR_MODEL,
            "moe.layers: layer %u is listed twice", layers[i]);
      m->layers[layers[i]].is_moe = TRUE;
    }
  return TRUE;
}

/* ------------------------------------------------ attributes and scales */

static gboolean
copy_attr_row (UpmModel *m, UpmAttr a, const uint8_t *row, GError **error)
{
  guint b;

  for (b = 0; b < 8; b++)
    {
      if (row[b] > 1)
        return model_fail (m, error, UPM_ERROR_MODEL,
            "attribute '%s': bit %u has value %u (not 0 or 1)",
            upm_attr_name (a), b, row[b]);
      m->attr_bits[a][b] = row[b];
    }
  return TRUE;
}

static gboolean
load_attributes (UpmModel *m, GError **error)
{
  g_auto (GStrv) names = NULL;
  g_autofree uint8_t *values = NULL;
  guint n_names, n_values, a, i;

  names = upm_gguf_get_strv (
      m->gguf, "uniperceiver.attribute.names", &n_names, error);
  if (!names)
    return FALSE;
  values = upm_gguf_get_u8_array (
      m->gguf, "uniperceiver.attribute.values", &n_values, error);
  if (!values)
    return FALSE;
  if ((guint64)n_names * 8 != n_values)
    return model_fail (m, error, UPM_ERROR_MODEL,
        "attribute.values has %u values, expected %u names x 8", n_values,
        n_names);
  for (a = 0; a < UPM_N_ATTRS; a++)
    {
      for (i = 0; i < n_names && strcmp (names[i], upm_attr_name (a)) != 0; i++)
        ;
      if (i == n_names)
        return model_fail (m, error, UPM_ERROR_MODEL,
            "attribute.names lacks '%s'", upm_attr_name (a));
      if (!copy_attr_row (m, a, values + i * 8, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
load_scales (UpmModel *m, GError **error)
{
  guint s;

  for (s = 0; s < UPM_N_SCALES; s++)
    {
      g_autofree char *key
          = g_strconcat ("uniperceiver.logit_scale.", upm_scale_name (s), NULL);

      if (!scale_is_required (s) && !upm_gguf_find_kv (m->gguf, key))
        continue;
      if (!upm_gguf_get_f32 (m->gguf, key, &m->logit_scale_raw[s], error))
        return FALSE;
      if (!isfinite (m->logit_scale_raw[s]))
        return model_fail (
            m, error, UPM_ERROR_MODEL, "key '%s' is not finite", key);
      m->has_logit_scale[s] = TRUE;
    }
  return TRUE;
}

/* ---------------------------------------------------------------- tensors */

/* An F32 tensor of PyTorch shape [d0] / [d0, d1] / [d0, d1, d2]
 * (trailing zero dims are absent). */
static const float *
req (UpmModel *m, const char *name, uint64_t d0, uint64_t d1, uint64_t d2,
    GError **error)
{
  const uint64_t dims[3] = { d0, d1, d2 };
  guint n = d2 ? 3 : d1 ? 2 : 1;
  const UpmTensor *t;

  t = upm_gguf_require_tensor (m->gguf, name, UPM_DTYPE_F32, n, dims, error);
  return t ? t->data : NULL;
}

/* The token embedding, F32 or F16 (the lookup widens a row at a time). */
static gboolean
load_token_embd (UpmModel *m, GError **error)
{
  const char *name = "token_embd.weight";
  const UpmTensor *t = upm_gguf_find_tensor (m->gguf, name);
  const uint64_t dims[2] = { m->hp.n_vocab, m->hp.n_embd };

  if (t && t->type == UPM_DTYPE_F16)
    {
      t = upm_gguf_require_tensor (
          m->gguf, name, UPM_DTYPE_F16, 2, dims, error);
      m->token_embd_f16 = t ? t->data : NULL;
      return t != NULL;
    }
  m->token_embd = req (m, name, dims[0], dims[1], 0, error);
  return m->token_embd != NULL;
}

static gboolean
load_globals (UpmModel *m, GError **error)
{
  const UpmHParams *hp = &m->hp;
  uint64_t D = hp->n_embd;

  return load_token_embd (m, error)
         && (m->token_pos_embd
             = req (m, "token_pos_embd.weight", hp->n_text_ctx, D, 0, error))
         && (m->token_type_embd
             = req (m, "token_type_embd.weight", 2, D, 0, error))
         && (m->embd_norm_w = req (m, "embd_norm.weight", D, 0, 0, error))
         && (m->embd_norm_b = req (m, "embd_norm.bias", D, 0, 0, error))
         && (m->patch_w
             = req (m, "patch_embd.weight", D, UPM_HP_PATCH_DIM (hp), 0, error))
         && (m->patch_b = req (m, "patch_embd.bias", D, 0, 0, error))
         && (m->spatial_pos = req (m, "spatial_pos_embd.weight",
                 (uint64_t)hp->grid * hp->grid, D, 0, error))
         && (m->temporal_pos
             = req (m, "temporal_pos_embd.weight", hp->n_temporal, D, 0, error))
         && (m->post_norm_w = req (m, "post_norm.weight", D, 0, 0, error))
         && (m->post_norm_b = req (m, "post_norm.bias", D, 0, 0, error))
         && (m->proj_w = req (m, "proj.weight", D, D, 0, error))
         && (m->proj_b = req (m, "proj.bias", D, 0, 0, error));
}

static const float *
req_blk (UpmModel *m, guint l, const char *suffix, uint64_t d0, uint64_t d1,
    uint64_t d2, GError **error)
{
  char name[96];

  g_snprintf (name, sizeof name, "blk.%u.%s", l, suffix);
  return req (m, name, d0, d1, d2, error);
}

static gboolean
is_linear_dtype (UpmDType type)
{
  return type == UPM_DTYPE_F32 || type == UPM_DTYPE_F16
         || type == UPM_DTYPE_BF16 || type == UPM_DTYPE_I8;
}

/* The per-row scales of an I8 weight tensor: NAME.scale, F32, one per
 * output row of every expert, finite and not negative. */
static gboolean
load_scales_of (UpmModel *m, const char *wname, uint64_t n_rows, uint32_t E,
    UpmLinear *lin, GError **error)
{
  g_autofree char *name = g_strconcat (wname, ".scale", NULL);
  const uint64_t dims[2] = { E ? E : n_rows, n_rows };
  const UpmTensor *t;

  t = upm_gguf_require_tensor (
      m->gguf, name, UPM_DTYPE_F32, E ? 2 : 1, E ? dims : dims + 1, error);
  if (!t)
    return FALSE;
  lin->scale = t->data;
  for (uint64_t i = 0; i < (E ? E : 1) * n_rows; i++)
    if (!(isfinite (lin->scale[i]) && lin->scale[i] >= 0.0f))
      return model_fail (m, error, UPM_ERROR_MODEL,
          "tensor '%s': row %" G_GUINT64_FORMAT " has scale %g "
          "(must be finite and not negative)",
          name, i, lin->scale[i]);
  return TRUE;
}

/* The weights of a linear in any of the linear types (F32, F16, BF16, I8
 * + scales), the exact shape required of each. */
static gboolean
load_linear_weights (UpmModel *m, guint l, const char *suffix, uint32_t E,
    UpmLinear *lin, GError **error)
{
  const uint64_t dims[3] = { E, lin->n_out, lin->n_in };
  const UpmTensor *t;
  char name[96];

  g_snprintf (name, sizeof name, "blk.%u.%s", l, suffix);
  t = upm_gguf_find_tensor (m->gguf, name);
  lin->dtype = t && is_linear_dtype (t->type) ? t->type : UPM_DTYPE_F32;
  t = upm_gguf_require_tensor (
      m->gguf, name, lin->dtype, E ? 3 : 2, E ? dims : dims + 1, error);
  if (!t)
    return FALSE;
  lin->data = t->data;
  lin->w = lin->dtype == UPM_DTYPE_F32 ? t->data : NULL;
  return lin->dtype != UPM_DTYPE_I8
         || load_scales_of (m, name, lin->n_out, E, lin, error);
}

static gboolean
load_linear (UpmModel *m, guint l, const char *base, uint32_t n_out,
    uint32_t n_in, UpmLinear *lin, GError **error)
{
  uint32_t E = m->layers[l].is_moe ? m->hp.n_expert : 0;
  char w[64], b[64];

  lin->n_out = n_out;
  lin->n_in = n_in;
  lin->n_expert = E;
  g_snprintf (w, sizeof w, "%s%s.weight", base, E ? "_exps" : "");
  g_snprintf (b, sizeof b, "%s%s.bias", base, E ? "_exps" : "");
  if (!load_linear_weights (m, l, w, E, lin, error))
    return FALSE;
  if (E)
    return (lin->b = req_blk (m, l, b, E, n_out, 0, error)) != NULL;
  return (lin->b = req_blk (m, l, b, n_out, 0, 0, error)) != NULL;
}

static gboolean
load_gate (UpmModel *m, guint l, const char *base, UpmGate *g, GError **error)
{
  uint64_t D = m->hp.n_embd;
  char n[5][64];

  if (m->routing != UPM_ROUTING_ATTRIBUTE)
    {
      g_snprintf (n[4], sizeof n[4], "%s.wg.weight", base);
      g_snprintf (n[0], sizeof n[0], "%s.embd", base);
      g->n_embd_rows = m->routing == UPM_ROUTING_MODALITY ? UPM_N_MODALITIES
                       : m->routing == UPM_ROUTING_TASK   ? UPM_N_TASKS
                                                          : 0;
      if (g->n_embd_rows
          && !(g->embd = req_blk (m, l, n[0], g->n_embd_rows, D, 0, error)))
        return FALSE;
      return (g->wg = req_blk (m, l, n[4], m->hp.n_expert, D, 0, error))
             != NULL;
    }
  g_snprintf (n[0], sizeof n[0], "%s.tag.weight", base);
  g_snprintf (n[1], sizeof n[1], "%s.tag.bias", base);
  g_snprintf (n[2], sizeof n[2], "%s.norm.weight", base);
  g_snprintf (n[3], sizeof n[3], "%s.norm.bias", base);
  g_snprintf (n[4], sizeof n[4], "%s.wg.weight", base);
  return (g->tag_w = req_blk (m, l, n[0], D, 8, 0, error))
         && (g->tag_b = req_blk (m, l, n[1], D, 0, 0, error))
         && (g->norm_w = req_blk (m, l, n[2], D, 0, 0, error))
         && (g->norm_b = req_blk (m, l, n[3], D, 0, 0, error))
         && (g->wg = req_blk (m, l, n[4], m->hp.n_expert, D, 0, error));
}

static gboolean
load_layer (UpmModel *m, guint l, GError **error)
{
  UpmLayer *L = &m->layers[l];
  uint32_t D = m->hp.n_embd, F = m->hp.n_ff;

  if (!((L->attn_norm_w = req_blk (m, l, "attn_norm.weight", D, 0, 0, error))
          && (L->attn_norm_b = req_blk (m, l, "attn_norm.bias", D, 0, 0, error))
          && (L->ffn_norm_w = req_blk (m, l, "ffn_norm.weight", D, 0, 0, error))
          && (L->ffn_norm_b = req_blk (m, l, "ffn_norm.bias", D, 0, 0, error))
          && (L->attn_scale = req_blk (m, l, "attn_scale", D, 0, 0, error))
          && (L->ffn_scale = req_blk (m, l, "ffn_scale", D, 0, 0, error))
          && load_linear (
              m, l, "attn_qkv", 3 * D, D, &L->lin[UPM_LIN_QKV], error)
          && load_linear (m, l, "attn_out", D, D, &L->lin[UPM_LIN_OUT], error)
          && load_linear (m, l, "ffn_up", F, D, &L->lin[UPM_LIN_UP], error)
          && load_linear (
              m, l, "ffn_down", D, F, &L->lin[UPM_LIN_DOWN], error)))
    return FALSE;
  if (!L->is_moe)
    return TRUE;
  return load_gate (m, l, "attn_gate", &L->gate[UPM_GATE_ATTN], error)
         && load_gate (m, l, "ffn_gate", &L->gate[UPM_GATE_FFN], error);
}

/* The type every linear is stored in, F32 when they differ. */
static UpmDType
weights_dtype (const UpmModel *m)
{
  UpmDType type = m->layers[0].lin[0].dtype;

  for (guint l = 0; l < m->hp.n_layer; l++)
    for (int k = 0; k < UPM_N_LIN; k++)
      if (m->layers[l].lin[k].dtype != type)
        return UPM_DTYPE_F32;
  return type;
}

static gboolean
load_tensors (UpmModel *m, GError **error)
{
  guint l;

  if (!load_globals (m, error))
    return FALSE;
  for (l = 0; l < m->hp.n_layer; l++)
    if (!load_layer (m, l, error))
      return FALSE;
  m->weights_dtype = weights_dtype (m);
  return TRUE;
}

/* Optional [rows, D] features, F32 or F16. */
static gboolean
load_features (UpmModel *m, const char *name, uint64_t rows,
    const UpmTensor **out, GError **error)
{
  const UpmTensor *t = upm_gguf_find_tensor (m->gguf, name);
  const uint64_t dims[2] = { rows, m->hp.n_embd };

  *out = NULL;
  if (!t)
    return TRUE;
  *out = upm_gguf_require_tensor (m->gguf, name,
      t->type == UPM_DTYPE_F16 ? UPM_DTYPE_F16 : UPM_DTYPE_F32, 2, dims, error);
  return *out != NULL;
}

/* -------------------------------------------------------------- tokenizer */

static gboolean
check_specials (UpmModel *m, char **tokens, GError **error)
{
  const UpmHParams *hp = &m->hp;
  const struct
  {
    uint32_t id;
    const char *symbol;
  } specials[] = {
    { hp->sot_id, "<|startoftext|>" },
    { hp->eot_id, "<|endoftext|>" },
    { hp->mask_id, "<|mask|>" },
    { hp->gen_id, "<|gen|>" },
    { hp->spe_id, "<|spe|>" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (specials); i++)
    if (strcmp (tokens[specials[i].id], specials[i].symbol) != 0)
      return model_fail (m, error, UPM_ERROR_MODEL,
          "token %u is '%s', expected '%s'", specials[i].id,
          tokens[specials[i].id], specials[i].symbol);
  return TRUE;
}

static gboolean
load_tokenizer (UpmModel *m, GError **error)
{
  g_autofree char *kind = NULL;
  g_auto (GStrv) tokens = NULL;
  g_auto (GStrv) merges = NULL;
  guint n_tokens, n_merges;

  kind = upm_gguf_get_string (m->gguf, "tokenizer.ggml.model", error);
  if (!kind)
    return FALSE;
  if (strcmp (kind, "clip-bpe") != 0)
    return model_fail (m, error, UPM_ERROR_MODEL,
        "tokenizer '%s' is not supported (expected 'clip-bpe')", kind);
  tokens
      = upm_gguf_get_strv (m->gguf, "tokenizer.ggml.tokens", &n_tokens, error);
  if (!tokens)
    return FALSE;
  if (n_tokens != m->hp.n_vocab)
    return model_fail (m, error, UPM_ERROR_MODEL,
        "tokenizer.ggml.tokens has %u entries but vocab_size is %u", n_tokens,
        m->hp.n_vocab);
  if (!check_specials (m, tokens, error))
    return FALSE;
  merges
      = upm_gguf_get_strv (m->gguf, "tokenizer.ggml.merges", &n_merges, error);
  if (!merges)
    return FALSE;
  m->bpe = upm_bpe_new ((const char *const *)tokens, n_tokens,
      (const char *const *)merges, n_merges, error);
  if (!m->bpe)
    g_prefix_error (error, "%s: tokenizer: ", m->path);
  return m->bpe != NULL;
}

/* ------------------------------------------------------------- label sets */

static gboolean
load_labelset (UpmModel *m, UpmLabelSet *set, GError **error)
{
  g_autofree char *key = NULL;
  g_autofree char *tname = NULL;
  guint i;

  for (i = 0; m->labelsets + i < set; i++)
    if (strcmp (m->labelsets[i].name, set->name) == 0)
      return model_fail (m, error, UPM_ERROR_MODEL,
          "label set '%s' is listed twice", set->name);
  key = g_strdup_printf ("uniperceiver.labelset.%s.labels", set->name);
  set->labels = upm_gguf_get_strv (m->gguf, key, &set->n_labels, error);
  if (!set->labels)
    return FALSE;
  if (set->n_labels == 0)
    return model_fail (
        m, error, UPM_ERROR_MODEL, "label set '%s' is empty", set->name);
  tname = g_strdup_printf ("labelset.%s.features", set->name);
  return load_features (m, tname, set->n_labels, &set->features, error);
}

static gboolean
load_labelsets (UpmModel *m, GError **error)
{
  g_auto (GStrv) names = NULL;
  guint n, i;

  if (!upm_gguf_find_kv (m->gguf, "uniperceiver.labelsets"))
    return TRUE;
  names = upm_gguf_get_strv (m->gguf, "uniperceiver.labelsets", &n, error);
  if (!names)
    return FALSE;
  m->labelsets = g_new0 (UpmLabelSet, MAX (n, 1));
  for (i = 0; i < n; i++)
    {
      m->labelsets[i].name = g_strdup (names[i]);
      m->n_labelsets = i + 1;
      if (!load_labelset (m, &m->labelsets[i], error))
        return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------- load */

static gboolean
model_load_all (UpmModel *m, GError **error)
{
  return load_identity (m, error) && load_u32_fields (m, error)
         && load_f32_fields (m, error) && check_hparams (m, error)
         && load_moe (m, error) && load_attributes (m, error)
         && load_scales (m, error) && load_tensors (m, error)
         && upm_model_load_prompt (m, error)
         && load_features (
             m, "vocab.features", m->hp.n_vocab, &m->vocab_features, error)
         && load_labelsets (m, error) && load_tokenizer (m, error);
}

UpmModel *
upm_model_load (const char *path, GError **error)
{
  UpmModel *m;

  g_return_val_if_fail (path != NULL, NULL);
  m = g_new0 (UpmModel, 1);
  m->ref_count = 1;
  m->path = g_strdup (path);
  g_mutex_init (&m->lock);
  m->gguf = upm_gguf_open (path, error);
  if (!m->gguf || !model_load_all (m, error))
    {
      model_free (m);
      return NULL;
    }
  return m;
}

/* -------------------------------------------------------------- accessors */

const UpmHParams *
upm_model_hparams (const UpmModel *model)
{
  return &model->hp;
}

const char *
upm_default_model_path (void)
{
  const char *env = g_getenv ("UPM_DEFAULT_MODEL");

  if (env && *env)
    return g_intern_string (env);
  if (g_file_test (UPM_INSTALLED_MODEL, G_FILE_TEST_EXISTS))
    return UPM_INSTALLED_MODEL;
  return UPM_SOURCE_MODEL;
}

const char *
upm_model_path (const UpmModel *model)
{
  return model->path;
}

const char *
upm_model_name (const UpmModel *model)
{
  return model->name;
}

gboolean
upm_model_is_moe (const UpmModel *model)
{
  return model->hp.n_expert > 0;
}

UpmRoutingLevel
upm_model_routing_level (const UpmModel *model)
{
  return model->routing;
}

gboolean
upm_model_layer_is_moe (const UpmModel *model, uint32_t layer)
{
  return layer < model->hp.n_layer && model->layers[layer].is_moe;
}

const uint8_t *
upm_model_attr_bits (const UpmModel *model, UpmAttr attr)
{
  return (guint)attr < UPM_N_ATTRS ? model->attr_bits[attr] : NULL;
}

float
upm_model_logit_scale (const UpmModel *model, UpmScale scale)
{
  if ((guint)scale >= UPM_N_SCALES || !model->has_logit_scale[scale])
    return DEFAULT_LOGIT_SCALE;
  return MIN (expf (model->logit_scale_raw[scale]), MAX_LOGIT_SCALE);
}

const UpmBpe *
upm_model_bpe (const UpmModel *model)
{
  return model->bpe;
}

guint
upm_model_n_labelsets (const UpmModel *model)
{
  return model->n_labelsets;
}

const char *
upm_model_labelset_name (const UpmModel *model, guint i)
{
  return i < model->n_labelsets ? model->labelsets[i].name : NULL;
}

const char *const *
upm_model_labelset_labels (
    const UpmModel *model, const char *name, guint *n_labels)
{
  guint i;

  for (i = 0; i < model->n_labelsets; i++)
    {
      if (strcmp (model->labelsets[i].name, name) == 0)
        {
          if (n_labels)
            *n_labels = model->labelsets[i].n_labels;
          return (const char *const *)model->labelsets[i].labels;
        }
    }
  if (n_labels)
    *n_labels = 0;
  return NULL;
}
