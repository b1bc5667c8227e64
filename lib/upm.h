/* upm.h: Uni-Perceiver-MoE inference in plain C (GLib, OpenBLAS).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A UpmModel is loaded once (mmap), is read-only and thread-safe, and is
 * shared by reference counting. A UpmContext is the small per-stream state
 * (scratch buffers, KV cache); one thread uses a context at a time.
 *
 * Functions that can fail on user data return FALSE / NULL / -1 and set a
 * GError in the UPM_ERROR domain; they never abort on bad input.
 */
#ifndef UPM_H
#define UPM_H

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

#define UPM_ERROR (upm_error_quark ())
GQuark upm_error_quark (void);

typedef enum
{
  UPM_ERROR_IO,      /* file missing, unreadable, mmap failed */
  UPM_ERROR_FORMAT,  /* not a GGUF file, truncated, corrupt, hostile */
  UPM_ERROR_VERSION, /* newer format version or other architecture */
  UPM_ERROR_MODEL,   /* missing tensor, wrong dtype or shape, bad hparams */
  UPM_ERROR_INVALID_ARGUMENT, /* bad input from the caller (sizes, UTF-8, ...)
                               */
  UPM_ERROR_NOMEM,            /* an allocation of absurd size was refused */
  UPM_ERROR_CANCELLED,        /* the caller's cancel flag was raised */
} UpmError;

/* Attribute rows of the conditional MoE (model-spec §3.3). */
typedef enum
{
  UPM_ATTR_CLS_INPUT,
  UPM_ATTR_RETRIEVAL_INPUT,
  UPM_ATTR_RETRIEVAL_TARGET,
  UPM_ATTR_CAPTION_PREFIX,
  UPM_ATTR_CAPTION_TEXT,
  UPM_ATTR_TEXT_INPUT,
  UPM_ATTR_CLS_TARGET,
  UPM_ATTR_VOCAB_TARGET,
  UPM_N_ATTRS
} UpmAttr;

const char *upm_attr_name (UpmAttr attr);

/* Routing levels of the conditional MoE (Uni-Perceiver-MoE paper): what a
 * gate sees (key uniperceiver.moe.routing, docs/model-format.md).
 * attribute, modality and task decide once per segment (static: the two
 * chosen experts are merged); token and context decide per token
 * (dynamic: real top-2 dispatch). */
typedef enum
{
  UPM_ROUTING_ATTRIBUTE, /* the segment's 8-bit attribute vector */
  UPM_ROUTING_TOKEN,     /* the token's own input to the MoE linear */
  UPM_ROUTING_CONTEXT,   /* the mean input over the visible tokens */
  UPM_ROUTING_MODALITY,  /* a learned embedding of the modality */
  UPM_ROUTING_TASK,      /* a learned embedding of the task */
  UPM_N_ROUTING_LEVELS
} UpmRoutingLevel;

/* "attribute", "token", ... or NULL. */
const char *upm_routing_level_name (UpmRoutingLevel level);
/* TRUE for token and context. */
gboolean upm_routing_level_is_dynamic (UpmRoutingLevel level);

/* Rows of the modality and task embeddings, derived from the attribute row
 * of a segment (images and videos share "visual", as in the table). */
typedef enum
{
  UPM_MODALITY_VISUAL,
  UPM_MODALITY_TEXT,
  UPM_N_MODALITIES
} UpmModality;

typedef enum
{
  UPM_TASK_CLASSIFICATION, /* cls_input, cls_target */
  UPM_TASK_RETRIEVAL,      /* retrieval_input, retrieval_target */
  UPM_TASK_CAPTION,        /* caption_prefix, caption_text, vocab_target */
  UPM_TASK_TEXT,           /* text_input (MLM, GLUE) */
  UPM_N_TASKS
} UpmTask;

UpmModality upm_attr_modality (UpmAttr attr);
UpmTask upm_attr_task (UpmAttr attr);

/* Per-task logit scales (`loss_prepare.logit_scale_*`). */
typedef enum
{
  UPM_SCALE_IMG_CLS,
  UPM_SCALE_VIDEO_CLS,
  UPM_SCALE_TEXT_MLM,
  UPM_SCALE_TEXT_CAPTION,
  UPM_SCALE_CAPTION,
  UPM_SCALE_MLM,
  UPM_SCALE_RETRIEVE,
  UPM_SCALE_TQA_MLM,
  UPM_SCALE_TQA_CAPTION,
  UPM_SCALE_TQA_RETRIEVE,
  UPM_SCALE_DOWNSTREAM,
  UPM_N_SCALES
} UpmScale;

const char *upm_scale_name (UpmScale scale);

typedef struct
{
  uint32_t n_embd; /* D */
  uint32_t n_layer;
  uint32_t n_head;
  uint32_t n_ff;
  uint32_t n_vocab;
  uint32_t n_text_ctx;      /* text position slots */
  uint32_t text_max_length; /* default truncation of target text */
  uint32_t patch_size;
  uint32_t image_size;
  uint32_t grid;        /* image_size / patch_size */
  uint32_t n_temporal;  /* temporal position slots = max frames per clip */
  uint32_t clip_frames; /* default frames per clip */
  uint32_t n_expert;    /* 0 for a dense model */
  uint32_t n_expert_used;
  float norm_eps;
  float image_mean[3], image_std[3];
  float video_mean[3], video_std[3];
  uint32_t caption_max_length;
  uint32_t caption_beam_size;
  float caption_length_penalty;
  uint32_t sot_id, eot_id, mask_id, gen_id, spe_id;
} UpmHParams;

/* Number of patch rows of one frame and the width of one patch row. */
#define UPM_HP_TOKENS_PER_FRAME(hp) ((hp)->grid * (hp)->grid)
#define UPM_HP_PATCH_DIM(hp) (3u * (hp)->patch_size * (hp)->patch_size)

typedef struct _UpmModel UpmModel;
typedef struct _UpmContext UpmContext;
typedef struct _UpmBpe UpmBpe;

/* ------------------------------------------------------------------ model */

/* The bundled model every element and tool loads when given none: the
 * UPM_DEFAULT_MODEL environment variable, else the installed model when it
 * exists, else the one in the source tree. */
const char *upm_default_model_path (void);

UpmModel *upm_model_load (const char *path, GError **error);
UpmModel *upm_model_ref (UpmModel *model);
void upm_model_unref (UpmModel *model);

const UpmHParams *upm_model_hparams (const UpmModel *model);
const char *upm_model_path (const UpmModel *model);
const char *upm_model_name (const UpmModel *model);
gboolean upm_model_is_moe (const UpmModel *model);
gboolean upm_model_layer_is_moe (const UpmModel *model, uint32_t layer);
/* The routing level of a MoE model (attribute for dense models). */
UpmRoutingLevel upm_model_routing_level (const UpmModel *model);
const uint8_t *upm_model_attr_bits (const UpmModel *model, UpmAttr attr);
/* min(exp(raw), 100) of the stored scale. */
float upm_model_logit_scale (const UpmModel *model, UpmScale scale);
const UpmBpe *upm_model_bpe (const UpmModel *model);

/* Label sets bundled in the model file (may be none). */
guint upm_model_n_labelsets (const UpmModel *model);
const char *upm_model_labelset_name (const UpmModel *model, guint i);
/* NULL-terminated, owned by the model. */
const char *const *upm_model_labelset_labels (
    const UpmModel *model, const char *name, guint *n_labels);

/* Prompt-tuned models (docs/prompt-tuning.md): the rows of every layer's
 * deep prompt (0: not prompt-tuned), what the model was tuned for
 * ("classify", "caption" or "retrieval"; NULL when not prompt-tuned),
 * whether target sequences share the input prompt, and the classes of its
 * prompt classification head (fc_prompt) in the head's order:
 * NULL-terminated, owned by the model, NULL without a head. */
uint32_t upm_model_prompt_length (const UpmModel *model);
const char *upm_model_prompt_task (const UpmModel *model);
gboolean upm_model_prompt_shared_target (const UpmModel *model);
const char *const *upm_model_prompt_labels (
    const UpmModel *model, guint *n_labels);
/* The head's similarity_weight (1 without a head). */
float upm_model_prompt_similarity_weight (const UpmModel *model);

/* --------------------------------------------------------------- tokenizer */

/* Build a CLIP-style byte-level BPE from its symbol table and merges. */
UpmBpe *upm_bpe_new (const char *const *tokens, guint n_tokens,
    const char *const *merges, guint n_merges, GError **error);
/* CLIP's bpe_simple_vocab_16e6.txt(.gz): 49,411 ids with the five specials. */
UpmBpe *upm_bpe_new_from_clip_file (const char *path, GError **error);
void upm_bpe_free (UpmBpe *bpe);
guint upm_bpe_n_tokens (const UpmBpe *bpe);
/* Id of a symbol ("a</w>", "<|endoftext|>", ...), or -1. */
int32_t upm_bpe_token_id (const UpmBpe *bpe, const char *symbol);

/* Lower-case, HTML-unescape, collapse whitespace, split with CLIP's regex
 * (with <|startoftext|>, <|endoftext|>, <|gen|>, <|spe|> atomic) and
 * BPE-encode. Appends int32 ids to @ids. Fails on invalid UTF-8. */
gboolean upm_bpe_encode (const UpmBpe *bpe, const char *text, gssize len,
    GArray *ids, GError **error);
/* Inverse of encode for ordinary tokens (specials are printed as their
 * symbol); "</w>" becomes a space, the result is stripped. Never fails. */
char *upm_bpe_decode (const UpmBpe *bpe, const int32_t *ids, gsize n_ids);
/* Keep the first (max_len - 1) ids and the last one when too long. */
void upm_tokens_truncate (GArray *ids, guint max_len);
/* Tokenise "<text> <|endoftext|>" and truncate to @max_len (0 = no limit). */
GArray *upm_tokenize_target (
    const UpmModel *model, const char *text, guint max_len, GError **error);

/* ------------------------------------------------------------------ labels */

/* "a cat, a dog,a car" -> {"a cat", "a dog", "a car", NULL}: items trimmed;
 * an empty item, invalid UTF-8, an over-long label or an empty list is an
 * error (UPM_ERROR_INVALID_ARGUMENT). Free with g_strfreev. */
char **upm_labels_parse (
    const char *text, gssize len, guint *n_labels, GError **error);
/* One label per line; blank lines and lines starting with '#' are skipped,
 * CRLF is accepted. Errors name the line. */
char **upm_labels_parse_lines (
    const char *data, gsize len, guint *n_labels, GError **error);
/* upm_labels_parse_lines on a file's contents; errors name the file. */
char **upm_labels_load_file (const char *path, guint *n_labels, GError **error);
/* The label set NAME.txt (data/labels: "k400", "k700", "imagenet",
 * "moments") from the first of: each directory of $UPM_LABELS_DIR
 * (':'-separated), the installed <datadir>/gst-uniperceiver/labels, the source
 * tree's data/labels.  An unknown or malformed name is
 * UPM_ERROR_INVALID_ARGUMENT with the available names in the message. */
char **upm_labels_load_named (
    const char *name, guint *n_labels, GError **error);
/* The names upm_labels_load_named finds, sorted, without duplicates. */
char **upm_labels_list_named (void);
/* What a user wrote as labels: "@NAME" is the model's bundled label set NAME
 * when it has one (@model may be NULL), else upm_labels_load_named (NAME);
 * anything else is upm_labels_parse (comma-separated). */
char **upm_labels_resolve (
    const UpmModel *model, const char *spec, guint *n_labels, GError **error);

/* ------------------------------------------------------------------ vision */

typedef enum
{
  UPM_NORM_IMAGE, /* ImageNet mean/std, bicubic resize */
  UPM_NORM_VIDEO, /* mean/std 0.5, bilinear resize */
} UpmNormKind;

/* One packed RGB24 frame -> grid*grid patch rows of 3*P*P floats each:
 * resize the shorter side to image_size, centre crop, scale to [0,1],
 * normalise, patchify (channel, row, column inside a patch). */
gboolean upm_vision_frame_to_patches (const UpmHParams *hp, UpmNormKind kind,
    const uint8_t *rgb, int width, int height, int stride, float *patches,
    GError **error);

/* Official clip sampling: index of clip frame i is
 * start + (int)(i * stride * fps / 30) modulo n_total. */
void upm_vision_sample_indices (uint32_t n_total, double fps, uint32_t n_frames,
    uint32_t stride, uint32_t start, uint32_t *indices);

/* Which crops of a frame a clip is made of (docs/official-settings.md). */
typedef enum
{
  UPM_CROPS_CENTRE, /* one centre crop (torchvision CenterCrop) */
  UPM_CROPS_THREE,  /* left, centre, right; top, centre, bottom for portrait
                       frames (the official three-crop test of Kinetics) */
  UPM_CROPS_CENTRE_SHORT_SIDE, /* one centre crop (torchvision CenterCrop)
                                  after the three-crop test's short-side
                                  scale (the official MSVD test) */
  UPM_N_CROPS_MODES
} UpmCrops;

const char *upm_crops_name (UpmCrops crops);
uint32_t upm_crops_count (UpmCrops crops);

/* A crop of a frame: the frame is resized so that its shorter side is
 * @resize, the longer one int(resize * long / short) (torchvision Resize)
 * for a centre crop and floor(long / short * resize) (the official
 * short-side scale, which leaves a frame whose shorter side is already
 * @resize as it is) for the others; then the square
 * [x, x + size) x [y, y + size) of the resized frame is kept. src_* is the
 * same square in the frame's own pixels, for display. */
typedef struct
{
  int width, height; /* the frame */
  int resized_w, resized_h;
  int x, y, size; /* in the resized frame */
  double src_x, src_y, src_w, src_h;
} UpmCropBox;

/* Crop @index (0 .. upm_crops_count - 1) of a @width x @height frame.
 * @resize 0 means @size. Fails on a frame smaller than 1x1 or a crop
 * larger than the resized frame. */
gboolean upm_vision_crop_box (int width, int height, uint32_t resize,
    uint32_t size, UpmCrops crops, uint32_t index, UpmCropBox *box,
    GError **error);

/* upm_vision_frame_to_patches with an explicit crop (from
 * upm_vision_crop_box for this frame size and hp->image_size). */
gboolean upm_vision_frame_to_patches_box (const UpmHParams *hp,
    UpmNormKind kind, const UpmCropBox *box, const uint8_t *rgb, int width,
    int height, int stride, float *patches, GError **error);

/* Sampling by timestamp: for each target time (seconds, ascending), the
 * index of the last frame whose @pts is at or before it (a microsecond of
 * slack absorbs timestamp rounding). On a constant-rate stream this is the
 * official int(i * stride * fps / 30) for targets i * stride / 30; on a
 * variable-rate or frame-dropping one it keeps the intended time span.
 * @pts ascending, from the first frame of the clip's window. A target
 * past @end (the stream's end, the last frame's pts + its duration) wraps
 * around modulo the span, as the official sampler wraps its index modulo
 * the frame count. Returns the number of targets resolved: fewer than
 * @n_targets when @end < 0 (more frames may come) and a target lies after
 * the last frame. */
uint32_t upm_sample_by_time (const double *pts, uint32_t n_frames, double end,
    const double *targets, uint32_t n_targets, uint32_t *indices);

/* ----------------------------------------------------------------- presets */

/* A task preset: how a clip is sampled, cropped and scored, as the official
 * evaluation of one benchmark does it (docs/official-settings.md), or
 * "default" for the model's own clip. Zero fields mean the model's value. */
typedef struct
{
  const char *name;    /* "k400", "msvd-caption", ... */
  const char *summary; /* one line for --help and gst-inspect */
  UpmTask task;        /* UPM_N_TASKS: any task (default) */
  gboolean image;  /* a still-image benchmark (1 frame, ImageNet mean/std) */
  uint32_t frames; /* frames per view; 0 = the model's clip_frames */
  uint32_t stride; /* 30-fps frames between sampled frames (a time:
                      stride / 30 s); 0 = consecutive decoded frames */
  uint32_t views;  /* temporal views, interleaved: view v takes sampled
                      frames v, v + views, ... (Kinetics: 4) */
  UpmCrops crops;
  double resize_ratio;      /* shorter side int(resize_ratio * image_size)
                               before cropping (ImageNet: 256 / 224); 0 = 1 */
  UpmNormKind norm;         /* resize filter and mean/std */
  UpmScale scale;           /* the task's logit scale; retrieval scores are
                               reported as the plain cosine, as officially */
  uint32_t text_max_length; /* target text truncation (MSVD
                               retrieval: 77); 0 = the model's */
  uint32_t beam_size, max_length; /* 0 = the model's */
  float length_penalty;           /* < 0 = the model's */
} UpmPreset;

guint upm_n_presets (void);
const UpmPreset *upm_preset_get (guint index);
/* NULL (with an error listing the names) for an unknown name. */
const UpmPreset *upm_preset_lookup (const char *name, GError **error);
/* "default", "k400", ... as one comma-separated string (for help texts). */
char *upm_preset_names (void);

/* Views of one clip: temporal views x crops. */
uint32_t upm_preset_n_views (const UpmPreset *preset);
/* Frames the clip's window spans, all views: frames * views. */
uint32_t upm_preset_n_samples (const UpmPreset *preset, const UpmHParams *hp);
/* Times (seconds from the window's first frame) of the frames of temporal
 * view @view (0 .. views - 1): t_i = (i * views + view) * stride / 30.
 * Only for stride > 0. */
void upm_preset_view_times (const UpmPreset *preset, const UpmHParams *hp,
    uint32_t view, double *times);

/* TRUE when @model can run @preset: its frames fit the temporal positions
 * and, when the file lists the presets it suits (uniperceiver.presets),
 * the preset is among them, and its text_max_length fits the text
 * positions. Otherwise an error that says why. */
gboolean upm_model_suits_preset (
    const UpmModel *model, const UpmPreset *preset, GError **error);

/* ----------------------------------------------------------------- routing */

typedef enum
{
  UPM_GATE_ATTN, /* decides qkv + attention output */
  UPM_GATE_FFN,  /* decides linear1 + linear2 */
  UPM_N_GATES
} UpmGateKind;

typedef struct
{
  uint32_t layer;
  UpmGateKind gate;
  UpmAttr attr;
  uint32_t token_begin, token_end; /* tokens of the sequence it served */
  uint32_t expert[2];              /* descending gate logit */
  float weight[2];                 /* renormalised softmax, sum 1 */
} UpmRoute;

/* A list of UpmRoute, appended to by the encoder (static levels: one per
 * MoE layer, gate and segment; none for token and context routing), plus
 * per-expert token counts (every level) and, on request, per-token expert
 * ids (token and context routing). Initialise with upm_routing_init; the
 * fields after `routes` are private: use the functions below. */
typedef struct
{
  GArray *routes;
  uint32_t n_layer, n_expert; /* sizes of counts, 0 until recorded */
  uint32_t *counts;           /* [layer][gate][expert] */
  gboolean token_experts;
  GArray *token_runs;
  GByteArray *token_ids;
} UpmRouting;

/* Per-token expert ids of one MoE layer's gate over one encoded sequence. */
typedef struct
{
  uint32_t layer;
  UpmGateKind gate;
  uint32_t token_begin; /* first token of the sequence it covers */
  uint32_t n_tokens;
  const uint8_t *experts; /* n_tokens x 2 ids, larger gate logit first;
                           * owned by the UpmRouting */
} UpmTokenExperts;

void upm_routing_init (UpmRouting *routing);
void upm_routing_clear (UpmRouting *routing);
/* Tokens served by each expert of one MoE layer's gate, summed over all
 * that was encoded with @routing: a token counts for both of its experts;
 * padding is not counted; caption decoding counts each step's rows of every
 * beam (the previous word and the query). Copies min(n_counts, n_expert)
 * counts; FALSE (counts untouched) when nothing was recorded for that
 * layer and gate. */
gboolean upm_routing_expert_counts (const UpmRouting *routing, uint32_t layer,
    UpmGateKind gate, uint32_t *counts, uint32_t n_counts);
/* Ask for per-token expert ids (off by default; token and context routing
 * only: static levels decide per segment, see routes). Recorded by
 * upm_transformer_forward, upm_encode_visual and upm_prefix_new, one run
 * per MoE layer and gate and sequence; not by caption decoding. */
void upm_routing_set_token_experts (UpmRouting *routing, gboolean enable);
guint upm_routing_n_token_runs (const UpmRouting *routing);
/* FALSE when i is out of range. out->experts stays valid until the
 * routing is appended to or cleared. */
gboolean upm_routing_token_run (
    const UpmRouting *routing, guint i, UpmTokenExperts *out);
/* The decision of one MoE layer's gate for an attribute row (no sequence).
 * Static levels only: FALSE for token and context routing. */
gboolean upm_model_route (UpmModel *model, uint32_t layer, UpmGateKind gate,
    UpmAttr attr, uint32_t expert[2], float weight[2]);

/* ----------------------------------------------------------------- context */

typedef enum
{
  UPM_PATH_FAST,  /* merged experts, KV-cached decoding */
  UPM_PATH_PLAIN, /* unmerged experts mixed per gate, full recompute */
} UpmPath;

UpmContext *upm_context_new (UpmModel *model);
void upm_context_free (UpmContext *ctx);
UpmModel *upm_context_model (UpmContext *ctx);
void upm_context_set_path (UpmContext *ctx, UpmPath path);

/* The arithmetic of the encoder on the fast path: its layers' linears and
 * its self-attention (bf16), or its linears and the caption decoder's
 * linears (int8). The plain path, the patch embedding, the heads' label
 * features and the caption decoder's attention stay in float. */
typedef enum
{
  UPM_PRECISION_AUTO, /* the model's default; AUTO there too: the
                       * environment variable UPM_PRECISION (fp32, bf16,
                       * auto: bf16 where the kernels in use have
                       * AVX512_BF16), else fp32 */
  UPM_PRECISION_FP32, /* float weights and inputs (OpenBLAS sgemm) */
  UPM_PRECISION_BF16, /* bfloat16 weights (a copy packed on first use) and
                       * inputs rounded to bfloat16, float sums */
  UPM_PRECISION_INT8, /* int8 weights (one scale per output, quantised on
                       * first use): the caption decode step's linears
                       * with float inputs and sums, the encoder's in
                       * int8 x int8 (each row of inputs quantised with
                       * its own scale, integer sums; UPM_INT8_ENCODER=0
                       * keeps the encoder in fp32) */
} UpmPrecision;

/* "auto", "fp32", "bf16", "int8". */
const char *upm_precision_name (UpmPrecision precision);
/* The precision of a name (case-insensitive); FALSE when it is none. */
gboolean upm_precision_parse (const char *name, UpmPrecision *precision);
/* The default of the model's contexts created from now on (AUTO unless
 * set). */
void upm_model_set_precision (UpmModel *model, UpmPrecision precision);
void upm_context_set_precision (UpmContext *ctx, UpmPrecision precision);
/* The precision the context's linears run in: FP32, BF16 or INT8, never AUTO
 * (for result metadata). */
UpmPrecision upm_context_precision (UpmContext *ctx);

/* Batching across streams: a context with a batch wait > 0 submits its
 * clips (upm_encode_visual) to its model's batcher, which encodes the
 * clips of all such contexts that are ready together (their linear layers
 * as one GEMM over the rows of all clips, attention per clip) once the
 * first has waited @wait_us microseconds at most, or at once when every
 * batching context of the model has submitted (a lone one never waits).
 * Results are those of the unbatched run. 0 (the default): off. Batched:
 * the fast path of static routing levels, clips of UPM_ROW_CHUNK tokens
 * at most (larger ones are large GEMMs already); the rest runs as before.
 * Call from the thread that uses the context, not during a call. */
void upm_context_set_batch_wait (UpmContext *ctx, gint64 wait_us);
gint64 upm_context_get_batch_wait (UpmContext *ctx);
/* Batches run by the model's batcher so far and the jobs they took. */
void upm_model_batch_stats (UpmModel *model, guint64 *batches, guint64 *jobs);

/* A run of consecutive tokens that share one attribute row. */
typedef struct
{
  UpmAttr attr;
  uint32_t n_tokens;
} UpmSegment;

/* Embeddings. Row 0 of the output is the <SPE> token in both cases.
 * patches: n_frames * grid^2 rows of patch_dim floats.
 * out: (1 + n_frames * grid^2) x D, and (1 + n_ids) x D. */
gboolean upm_embed_patches (UpmContext *ctx, const float *patches,
    uint32_t n_frames, float *out, GError **error);
gboolean upm_embed_text (UpmContext *ctx, const int32_t *ids, uint32_t n_ids,
    float *out, GError **error);

typedef enum
{
  UPM_FORWARD_NONE = 0,
  /* Only row 0 (the <SPE>) of the output is needed: the last layer skips
   * the other rows' attention and FFN, whose output rows are left stale. */
  UPM_FORWARD_SPE_ONLY = 1 << 0,
} UpmForwardFlags;

/* The shared encoder over one sequence, bidirectional, in place (n x D).
 * Segments must cover the n tokens. Routing of MoE layers is appended to
 * @routing when non-NULL. */
gboolean upm_transformer_forward (UpmContext *ctx, float *x, uint32_t n,
    const UpmSegment *segs, uint32_t n_segs, UpmForwardFlags flags,
    UpmRouting *routing, GError **error);

/* feature = normalize(proj(ln_post(h))): D floats. */
void upm_feature_from_hidden (UpmContext *ctx, const float *h, float *feature);

/* Convenience: [SPE, patches] -> feature. */
gboolean upm_encode_visual (UpmContext *ctx, const float *patches,
    uint32_t n_frames, UpmAttr attr, float *feature, UpmRouting *routing,
    GError **error);
/* The same up to the final hidden state of the <SPE> (D floats), what
 * upm_classify_prompt takes. */
gboolean upm_encode_visual_hidden (UpmContext *ctx, const float *patches,
    uint32_t n_frames, UpmAttr attr, float *hidden, UpmRouting *routing,
    GError **error);
/* [SPE, ids_i] for each text -> features (n_texts x D), batched with key
 * padding. */
gboolean upm_encode_texts (UpmContext *ctx, const int32_t *const *ids,
    const uint32_t *n_ids, uint32_t n_texts, UpmAttr attr, float *features,
    GError **error);

/* ------------------------------------------------------------------- heads */

typedef void (*UpmProgressFunc) (
    double fraction, const char *what, gpointer user_data);

/* Features of target texts ("<label> <|endoftext|>", truncated to the
 * model's hp.text_max_length), cached per model by (attribute, text):
 * n_labels x D. */
gboolean upm_model_text_features (UpmModel *model, const char *const *labels,
    guint n_labels, UpmAttr attr, float *features, GError **error);

/* The same with the texts truncated to @max_length tokens (the end token
 * kept; 0 = the model's hp.text_max_length), as a task preset's
 * text_max_length asks; cached by (attribute, length, text). An error when
 * @max_length exceeds the model's text positions (hp.n_text_ctx). */
gboolean upm_model_text_features_len (UpmModel *model,
    const char *const *labels, guint n_labels, UpmAttr attr,
    uint32_t max_length, float *features, GError **error);

/* Cosine similarities scaled by @scale, softmax probabilities, top-k. */
typedef struct
{
  uint32_t index;
  float logit;
  float prob;
} UpmScore;

void upm_classify (const UpmHParams *hp, const float *feature,
    const float *label_features, uint32_t n_labels, float scale, float *logits,
    float *probs);
/* A prompt-tuned model's classification head (upm_model_prompt_labels
 * not NULL): from an input's final <SPE> hidden state (D floats),
 * logits[i] = similarity_weight * scale * cos(feature, label_features[i])
 * + fc_prompt(y)[i], y = proj(ln_post(hidden)) before normalisation;
 * label_features are the features of the model's own labels, in order
 * (@n_labels their count, else an error). @probs (may be NULL): their
 * softmax. */
gboolean upm_classify_prompt (const UpmModel *model, const float *hidden,
    const float *label_features, uint32_t n_labels, float scale, float *logits,
    float *probs, GError **error);
/* Indices of the @k best entries of @probs (k <= n), best first. */
void upm_top_k (const float *logits, const float *probs, uint32_t n, uint32_t k,
    UpmScore *out);

/* The vocabulary's target features (V x D, float), computed once per model
 * and cached (in the model file or on disk by weights hash). */
const float *upm_model_vocab_features (UpmModel *model,
    UpmProgressFunc progress, gpointer user_data, GError **error);

typedef struct
{
  uint32_t beam_size;   /* 0 = model default */
  uint32_t max_length;  /* 0 = model default */
  float length_penalty; /* < 0 = model default */
  /* NULL = never. Read with g_atomic_int_get before every beam step: once
   * non-zero, decoding stops and fails with UPM_ERROR_CANCELLED. */
  const volatile int *cancel;
} UpmCaptionParams;

typedef struct
{
  int32_t *ids; /* up to the first EOS, excluded */
  uint32_t n_ids;
  float score; /* length-penalised log-probability */
  char *text;
} UpmCaption;

void upm_caption_clear (UpmCaption *caption);

/* Patches -> caption: embed, encode the prefix, decode. */
gboolean upm_caption (UpmContext *ctx, const float *patches, uint32_t n_frames,
    const UpmCaptionParams *params, UpmCaption *out, UpmRouting *routing,
    GError **error);

/* The encoded visual prefix of captioning: every layer's keys and values of
 * [SPE, visual] under the caption_prefix row. Reference counted and
 * read-only once made, so it can be handed between elements and threads. */
typedef struct _UpmPrefix UpmPrefix;

/* @embeddings: the output of upm_embed_patches (1 + frames * grid^2 rows). */
UpmPrefix *upm_prefix_new (UpmContext *ctx, const float *embeddings,
    uint32_t n_tokens, UpmRouting *routing, GError **error);
UpmPrefix *upm_prefix_ref (UpmPrefix *prefix);
void upm_prefix_unref (UpmPrefix *prefix);
uint32_t upm_prefix_n_tokens (const UpmPrefix *prefix);

/* Beam search over a prefix made with the same model. Routing of the text
 * segment is appended to @routing. Fails with UPM_ERROR_CANCELLED (and no
 * caption) when params->cancel is raised before or during decoding. */
gboolean upm_caption_decode (UpmContext *ctx, UpmPrefix *prefix,
    const UpmCaptionParams *params, UpmCaption *out, UpmRouting *routing,
    GError **error);

/* ------------------------------------------------------------------- misc */

/* Threads used by BLAS and our own loops (0 = all cores). */
void upm_set_num_threads (int n_threads);

G_END_DECLS
#endif /* UPM_H */
