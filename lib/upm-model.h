/* upm-model.h: the loaded model (upm-model.c): weights, hyper-
 * parameters, label sets, and the slots of lazily built per-model state
 * (upm-model-cache.c) owned by the modules above. Uses only the GGUF
 * reader.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_MODEL_H
#define UPM_MODEL_H

#include "upm-gguf.h"

G_BEGIN_DECLS

/* One linear layer, PyTorch layout: y = x W^T + b with W [n_out, n_in].
 * For MoE linears n_expert > 0 and expert e is at w + e*n_out*n_in,
 * b + e*n_out. The weights are stored as @dtype in the mapping (@data):
 * F32, F16, BF16, or I8 with one F32 scale per output row (@scale,
 * [n_expert or 1][n_out]: w = scale * q). @w is the float matrix: the
 * mapping itself for F32, else NULL until upm_linear_f32() (upm-weights.c)
 * widens a copy on first use. Biases are always F32. */
typedef struct
{
  const float *w;
  const float *b;
  uint32_t n_out, n_in;
  uint32_t n_expert;
  UpmDType dtype;
  const void *data;
  const float *scale;
} UpmLinear;

/* The most experts a MoE layer may have (expert ids fit a uint8). */
#define UPM_MAX_EXPERTS 64u

enum
{
  UPM_LIN_QKV,
  UPM_LIN_OUT,
  UPM_LIN_UP,
  UPM_LIN_DOWN,
  UPM_N_LIN
};

/* A gate. attribute: g = LN(tag_w a + tag_b); modality / task:
 * g = embd[row]; token / context: g = the (mean) input rows. Then
 * logits = wg g, top-2, renormalised softmax. */
typedef struct
{
  const float *tag_w;           /* [D, 8] (attribute) */
  const float *tag_b;           /* [D] */
  const float *norm_w, *norm_b; /* [D] */
  const float *embd;            /* [n_embd_rows, D] (modality, task) */
  uint32_t n_embd_rows;
  const float *wg; /* [E, D] */
} UpmGate;

typedef struct
{
  const float *attn_norm_w, *attn_norm_b;
  const float *ffn_norm_w, *ffn_norm_b;
  const float *attn_scale, *ffn_scale; /* gamma_1, gamma_2 */
  gboolean is_moe;
  UpmLinear lin[UPM_N_LIN];
  UpmGate gate[UPM_N_GATES];
  /* Prompt-tuned models (upm-model-prompt.c): the deep prompt [P, D] of
   * input sequences, and of target ones (the same pointer when shared). */
  const float *prompt, *prompt_target;
} UpmLayer;

/* The tensors and keys of a prompt-tuned model (docs/model-format.md),
 * loaded by upm-model-prompt.c; length 0 in other files. */
typedef struct
{
  uint32_t length; /* P, the prompt rows of every layer */
  gboolean shared_target;
  char *task;            /* classify, caption or retrieval */
  const float *spe_bias; /* [D], added to every <|spe|> token embedding */
  /* fc_prompt: [n_classes, D], [n_classes]; NULL without one. */
  const float *cls_w, *cls_b;
  uint32_t n_classes;
  float similarity_weight;
  char **labels; /* n_classes class names, NULL-terminated; NULL without */
} UpmPromptWeights;

typedef struct
{
  char *name;
  char **labels; /* NULL-terminated */
  guint n_labels;
  const UpmTensor *features; /* optional cached features, F32 or F16 */
} UpmLabelSet;

/* Slots of per-model state built lazily by the modules above the model
 * (one slot per owner), freed with the model by the destroy notify its
 * owner registered. */
typedef enum
{
  UPM_MODEL_CACHE_MOE,     /* upm-moe.c: routing decisions, merged experts */
  UPM_MODEL_CACHE_HEADS,   /* upm-heads.c: label text and vocabulary features */
  UPM_MODEL_CACHE_BATCHER, /* upm-batcher.c: the streams' batcher */
  UPM_MODEL_CACHE_BATCH_SCRATCH, /* upm-encoder.c: scratch of batched clips */
  UPM_N_MODEL_CACHES
} UpmModelCacheSlot;

typedef struct
{
  gpointer data;
  GDestroyNotify destroy;
} UpmModelCache;

struct _UpmModel
{
  gint ref_count;
  char *path;
  char *name;
  char *weights_sha256; /* may be NULL */
  UpmGguf *gguf;
  UpmHParams hp;
  UpmRoutingLevel routing;
  uint8_t attr_bits[UPM_N_ATTRS][8];
  float logit_scale_raw[UPM_N_SCALES];
  gboolean has_logit_scale[UPM_N_SCALES];

  /* [V, D]: F32 (token_embd), or F16 (token_embd_f16, the other NULL) in
   * files whose linears are smaller types; read by upm_model_token_row. */
  const float *token_embd;
  const uint16_t *token_embd_f16;
  const float *token_pos_embd;  /* [ctx, D] */
  const float *token_type_embd; /* [2, D] */
  const float *embd_norm_w, *embd_norm_b;
  const float *patch_w; /* [D, 3PP] */
  const float *patch_b;
  const float *spatial_pos;  /* [grid^2, D] */
  const float *temporal_pos; /* [T, D] */
  const float *post_norm_w, *post_norm_b;
  const float *proj_w, *proj_b; /* [D, D], [D] */
  UpmLayer *layers;             /* n_layer */
  UpmPromptWeights prompt;
  /* The type the layers' linears are stored in (F32 when they differ). */
  UpmDType weights_dtype;
  gint precision; /* UpmPrecision, the contexts' default (g_atomic_int) */

  UpmBpe *bpe;
  UpmLabelSet *labelsets;
  guint n_labelsets;
  const UpmTensor *vocab_features; /* optional, F32 or F16 */

  /* Lazily built state of the modules above (merged experts, feature
   * caches), guarded by lock. */
  GMutex lock;
  UpmModelCache caches[UPM_N_MODEL_CACHES];
};

/* Load and validate the prompt tensors and keys, when the file has them
 * (upm-model-prompt.c; after the layers). */
gboolean upm_model_load_prompt (UpmModel *model, GError **error);
/* Free what upm_model_load_prompt allocated. */
void upm_model_prompt_clear (UpmModel *model);

/* ---------------------------------------------------------- model caches */

typedef gpointer (*UpmModelCacheNew) (UpmModel *model);

/* Call with model->lock held: the state in @slot, built by @create (and
 * freed with the model by @destroy) on first use. */
gpointer upm_model_cache_locked (UpmModel *model, UpmModelCacheSlot slot,
    UpmModelCacheNew create, GDestroyNotify destroy);

/* Free the state of every slot (upm_model_unref, last reference). */
void upm_model_caches_free (UpmModel *model);

/* Call with model->lock held: the state in @slot, NULL when not built. */
static inline gpointer
upm_model_cache_peek_locked (UpmModel *model, UpmModelCacheSlot slot)
{
  return model->caches[slot].data;
}

/* Drop the pages of a read-only mapped range of the model from the
 * resident set (the page cache keeps them), once a cache holds a copy. */
void upm_release_mapped (const void *p, size_t bytes);

G_END_DECLS
#endif /* UPM_MODEL_H */
