/* test-gguf: the GGUF reader, model loading and validation, upm-inspect.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Files are built in C by a small GGUF writer below: arbitrary keys and
 * tensors for the container tests, and complete tiny models (dense and MoE)
 * following docs/model-format.md for the model tests.
 */
#include "upm-private.h"
#include "upm-weights.h"

#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* ---------------------------------------------------------------- builder */

typedef struct
{
  GByteArray *kv;
  uint64_t n_kv;
  GByteArray *ti;
  uint64_t n_tensors;
  GByteArray *data;
  uint32_t version;
  uint32_t alignment;
  gboolean override_counts;
  uint64_t n_kv_override, n_tensors_override;
} Builder;

static Builder *
b_new (uint32_t alignment)
{
  Builder *b = g_new0 (Builder, 1);

  b->kv = g_byte_array_new ();
  b->ti = g_byte_array_new ();
  b->data = g_byte_array_new ();
  b->version = 3;
  b->alignment = alignment;
  return b;
}

static void
b_free (Builder *b)
{
  g_byte_array_unref (b->kv);
  g_byte_array_unref (b->ti);
  g_byte_array_unref (b->data);
  g_free (b);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Builder, b_free);

static void
put (GByteArray *a, const void *p, gsize n)
{
  g_byte_array_append (a, p, (guint)n);
}

static void
put_u32 (GByteArray *a, uint32_t v)
{
  v = GUINT32_TO_LE (v);
  put (a, &v, 4);
}

static void
put_u64 (GByteArray *a, uint64_t v)
{
  v = GUINT64_TO_LE (v);
  put (a, &v, 8);
}

static void
put_str (GByteArray *a, const char *s)
{
  put_u64 (a, strlen (s));
  put (a, s, strlen (s));
}

static void
b_key (Builder *b, const char *key, UpmGgufType type)
{
  put_str (b->kv, key);
  put_u32 (b->kv, type);
  b->n_kv++;
}

static void
b_u32 (Builder *b, const char *key, uint32_t v)
{
  b_key (b, key, UPM_GGUF_U32);
  put_u32 (b->kv, v);
}

static void
b_f32 (Builder *b, const char *key, float v)
{
  uint32_t bits;

  memcpy (&bits, &v, 4);
  b_u32 (b, key, 0);
  b->kv->len -= 4;
  b->kv->data[b->kv->len - 4] = UPM_GGUF_F32;
  put_u32 (b->kv, bits);
}

static void
b_str (Builder *b, const char *key, const char *v)
{
  b_key (b, key, UPM_GGUF_STRING);
  put_str (b->kv, v);
}

/* Array of fixed-size little-endian elements (host order is LE here). */
static void
b_arr (Builder *b, const char *key, UpmGgufType type, const void *v, guint n,
    gsize size)
{
  b_key (b, key, UPM_GGUF_ARRAY);
  put_u32 (b->kv, type);
  put_u64 (b->kv, n);
  put (b->kv, v, n * size);
}

static void
b_strv (Builder *b, const char *key, const char *const *v, guint n)
{
  guint i;

  b_key (b, key, UPM_GGUF_ARRAY);
  put_u32 (b->kv, UPM_GGUF_STRING);
  put_u64 (b->kv, n);
  for (i = 0; i < n; i++)
    put_str (b->kv, v[i]);
}

/* A raw tensor info (ne in GGUF order). */
static void
b_tinfo (Builder *b, const char *name, uint32_t n_dims, const uint64_t *ne,
    uint32_t type, uint64_t offset)
{
  uint32_t i;

  put_str (b->ti, name);
  put_u32 (b->ti, n_dims);
  for (i = 0; i < n_dims; i++)
    put_u64 (b->ti, ne[i]);
  put_u32 (b->ti, type);
  put_u64 (b->ti, offset);
  b->n_tensors++;
}

static void
b_pad_data (Builder *b)
{
  static const uint8_t zero[256];

  while (b->data->len % b->alignment)
    put (b->data, zero,
        MIN (sizeof zero, b->alignment - b->data->len % b->alignment));
}

/* A tensor of PyTorch shape dims[0..n_dims) filled with a known pattern:
 * element i = (i % 97) * 0.01 - 0.5. */
static void
b_tensor (Builder *b, const char *name, UpmDType type, guint n_dims,
    const uint64_t *dims)
{
  uint64_t ne[UPM_GGUF_MAX_DIMS], n = 1, i;
  guint d;

  for (d = 0; d < n_dims; d++)
    {
      ne[d] = dims[n_dims - 1 - d];
      n *= dims[d];
    }
  b_pad_data (b);
  b_tinfo (b, name, n_dims, ne, type, b->data->len);
  for (i = 0; i < n; i++)
    {
      float v = (float)(i % 97) * 0.01f - 0.5f;

      if (type == UPM_DTYPE_F16)
        {
          uint16_t h = upm_f32_to_f16 (v);
          put (b->data, &h, 2);
        }
      else if (type == UPM_DTYPE_BF16)
        {
          /* v's high half: the BF16 value tiny_value_bf16 expects */
          uint32_t u;
          memcpy (&u, &v, 4);
          uint16_t h = (uint16_t)(u >> 16);
          put (b->data, &h, 2);
        }
      else if (type == UPM_DTYPE_I8)
        {
          int8_t q = (int8_t)(i % 97) - 48;
          put (b->data, &q, 1);
        }
      else
        {
          put (b->data, &v, 4);
        }
    }
}

static GByteArray *
b_bytes (Builder *b)
{
  GByteArray *out = g_byte_array_new ();
  static const uint8_t zero[256];

  put_u32 (out, 0x46554747u);
  put_u32 (out, b->version);
  put_u64 (out, b->override_counts ? b->n_tensors_override : b->n_tensors);
  put_u64 (out, b->override_counts ? b->n_kv_override : b->n_kv);
  put (out, b->kv->data, b->kv->len);
  put (out, b->ti->data, b->ti->len);
  while (out->len % b->alignment)
    put (out, zero, 1);
  put (out, b->data->data, b->data->len);
  return out;
}

static char *
write_bytes (const char *dir, const char *name, const void *data, gsize n)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) err = NULL;

  g_file_set_contents (path, data, (gssize)n, &err);
  g_assert_no_error (err);
  return path;
}

static char *
b_write (Builder *b, const char *dir, const char *name)
{
  g_autoptr (GByteArray) bytes = b_bytes (b);

  return write_bytes (dir, name, bytes->data, bytes->len);
}

/* -------------------------------------------------------------- fixtures */

typedef struct
{
  char *dir;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) err = NULL;

  f->dir = g_dir_make_tmp ("test-gguf-XXXXXX", &err);
  g_assert_no_error (err);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  GDir *d = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *p = g_build_filename (f->dir, name, NULL);
      g_unlink (p);
    }
  if (d)
    g_dir_close (d);
  g_rmdir (f->dir);
  g_free (f->dir);
}

static void
assert_error (const GError *err, gint code, const char *needle)
{
  g_assert_nonnull (err);
  if (err->domain != UPM_ERROR || err->code != code
      || (needle && !strstr (err->message, needle)))
    g_error ("unexpected error (domain %s, code %d, wanted %d with '%s'): %s",
        g_quark_to_string (err->domain), err->code, code, needle ? needle : "",
        err->message);
}

/* Opening @path gave @result and @err: NULL, with @code and a message
 * that starts with the path and holds @needle. */
static void
assert_open_error (gconstpointer result, const GError *err, const char *path,
    gint code, const char *needle)
{
  g_assert_null (result);
  assert_error (err, code, needle);
  g_assert_true (g_str_has_prefix (err->message, path));
}

/* Open as a container: must fail with @code and a message with @needle. */
static void
expect_gguf_error (const char *path, gint code, const char *needle)
{
  g_autoptr (GError) err = NULL;
  UpmGguf *g = upm_gguf_open (path, &err);

  assert_open_error (g, err, path, code, needle);
}

static void
expect_model_error (const char *path, gint code, const char *needle)
{
  g_autoptr (GError) err = NULL;
  UpmModel *m = upm_model_load (path, &err);

  assert_open_error (m, err, path, code, needle);
}

/* ------------------------------------------------------------- tiny model */

typedef struct
{
  gboolean moe;
  uint32_t D, H, F, L, E, V;
  const char *arch;
  uint32_t format_version;
  const char *routing;
  gboolean labelset;
  /* mutations */
  const char *skip_key;
  const char *u32_key;
  uint32_t u32_val;
  const char *skip_tensor;
  const char *bad_shape_tensor; /* last dimension + 1 */
  const char *f16_tensor;
  const uint32_t *moe_layers;
  guint n_moe_layers;
  int attr_bad_bit; /* index into attribute.values set to 2 */
  const char *spe_symbol;
  gboolean extra_token;
  /* The type of every linear's weights (0: F32); I8 adds NAME.scale. */
  UpmDType lin_type;
  const char *typed_tensor; /* stored as typed_type */
  UpmDType typed_type;
  float scale_value; /* of every I8 scale (0: 0.5) */
} ModelOpts;

#define MODEL_OPTS_INIT                                                        \
  {                                                                            \
    FALSE, 16, 2, 32, 2, 4, 519, "uniperceiver", 1, "attribute", TRUE, NULL,   \
        NULL, 0, NULL, NULL, NULL, NULL, 0, -1, NULL, FALSE, UPM_DTYPE_F32,    \
        NULL, UPM_DTYPE_F32, 0.0f                                              \
  }

#define TINY_CTX 16
#define TINY_PATCH 4
#define TINY_IMAGE 8
#define TINY_T 2

static const char *const attr_rows[UPM_N_ATTRS] = {
  "cls_input",
  "retrieval_input",
  "retrieval_target",
  "caption_prefix",
  "caption_text",
  "text_input",
  "cls_target",
  "vocab_target",
};

static const uint8_t attr_bits[UPM_N_ATTRS][8] = {
  { 1, 0, 0, 1, 1, 0, 0, 0 },
  { 1, 0, 0, 1, 1, 0, 0, 0 },
  { 1, 0, 0, 1, 0, 1, 1, 0 },
  { 1, 1, 0, 1, 1, 0, 0, 0 },
  { 1, 1, 0, 1, 0, 1, 0, 1 },
  { 0, 1, 0, 1, 0, 1, 0, 0 },
  { 1, 0, 0, 1, 0, 1, 1, 0 },
  { 1, 1, 0, 1, 0, 1, 1, 0 },
};

static void
m_u32 (Builder *b, const ModelOpts *o, const char *key, uint32_t v)
{
  if (o->skip_key && strcmp (o->skip_key, key) == 0)
    return;
  if (o->u32_key && strcmp (o->u32_key, key) == 0)
    v = o->u32_val;
  b_u32 (b, key, v);
}

static void
m_f32 (Builder *b, const ModelOpts *o, const char *key, float v)
{
  if (!(o->skip_key && strcmp (o->skip_key, key) == 0))
    b_f32 (b, key, v);
}

static void
m_f32v (
    Builder *b, const ModelOpts *o, const char *key, float a, float c, float d)
{
  const float v[3] = { a, c, d };

  if (!(o->skip_key && strcmp (o->skip_key, key) == 0))
    b_arr (b, key, UPM_GGUF_F32, v, 3, 4);
}

/* CLIP's bytes_to_unicode order, then the </w> forms, merges, specials. */
static GPtrArray *
tiny_tokens (const ModelOpts *o)
{
  GPtrArray *t = g_ptr_array_new_with_free_func (g_free);
  gunichar cs[256];
  guint n = 0, extra = 0, b, i;

  for (b = 0; b < 256; b++)
    if ((b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || b >= 0xae)
      cs[n++] = b;
  for (b = 0; b < 256; b++)
    if (!((b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || b >= 0xae))
      cs[n++] = 256 + extra++;
  for (i = 0; i < 256; i++)
    g_ptr_array_add (t, g_ucs4_to_utf8 (&cs[i], 1, NULL, NULL, NULL));
  for (i = 0; i < 256; i++)
    g_ptr_array_add (t, g_strconcat (g_ptr_array_index (t, i), "</w>", NULL));
  g_ptr_array_add (t, g_strdup ("th"));
  g_ptr_array_add (t, g_strdup ("the</w>"));
  g_ptr_array_add (t, g_strdup ("<|startoftext|>"));
  g_ptr_array_add (t, g_strdup ("<|endoftext|>"));
  g_ptr_array_add (t, g_strdup ("<|mask|>"));
  g_ptr_array_add (t, g_strdup ("<|gen|>"));
  g_ptr_array_add (t, g_strdup (o->spe_symbol ? o->spe_symbol : "<|spe|>"));
  if (o->extra_token)
    g_ptr_array_add (t, g_strdup ("extra"));
  return t;
}

static void
tiny_tokenizer (Builder *b, const ModelOpts *o)
{
  static const char *const merges[] = { "t h", "th e</w>" };
  g_autoptr (GPtrArray) tokens = tiny_tokens (o);

  b_str (b, "tokenizer.ggml.model", "clip-bpe");
  b_strv (b, "tokenizer.ggml.tokens", (const char *const *)tokens->pdata,
      tokens->len);
  b_strv (b, "tokenizer.ggml.merges", merges, 2);
  m_u32 (b, o, "tokenizer.upm.sot_id", 514);
  m_u32 (b, o, "tokenizer.upm.eot_id", 515);
  m_u32 (b, o, "tokenizer.upm.mask_id", 516);
  m_u32 (b, o, "tokenizer.upm.gen_id", 517);
  m_u32 (b, o, "tokenizer.upm.spe_id", 518);
}

static void
tiny_moe_keys (Builder *b, const ModelOpts *o)
{
  static const uint32_t one_layer[] = { 1 };
  const uint32_t *layers = o->moe_layers ? o->moe_layers : one_layer;
  guint n = o->moe_layers ? o->n_moe_layers : 1;

  m_u32 (b, o, "uniperceiver.moe.expert_count", o->moe ? o->E : 0);
  if (!o->moe)
    {
      b_arr (b, "uniperceiver.moe.layers", UPM_GGUF_U32, NULL, 0, 4);
      return;
    }
  m_u32 (b, o, "uniperceiver.moe.expert_used_count", 2);
  b_str (b, "uniperceiver.moe.routing", o->routing);
  b_arr (b, "uniperceiver.moe.layers", UPM_GGUF_U32, layers, n, 4);
}

static void
tiny_attributes (Builder *b, const ModelOpts *o)
{
  uint8_t values[UPM_N_ATTRS * 8];

  memcpy (values, attr_bits, sizeof values);
  if (o->attr_bad_bit >= 0)
    values[o->attr_bad_bit] = 2;
  b_strv (b, "uniperceiver.attribute.names", attr_rows, UPM_N_ATTRS);
  b_arr (b, "uniperceiver.attribute.values", UPM_GGUF_U8, values, sizeof values,
      1);
}

static void
tiny_keys (Builder *b, const ModelOpts *o)
{
  b_u32 (b, "general.alignment", 64);
  b_str (b, "general.architecture", o->arch);
  b_str (b, "general.name", "tiny test model");
  m_u32 (b, o, "uniperceiver.format_version", o->format_version);
  b_str (b, "uniperceiver.weights_sha256", "00ff");
  m_u32 (b, o, "uniperceiver.embedding_length", o->D);
  m_u32 (b, o, "uniperceiver.block_count", o->L);
  m_u32 (b, o, "uniperceiver.attention.head_count", o->H);
  m_u32 (b, o, "uniperceiver.feed_forward_length", o->F);
  m_f32 (b, o, "uniperceiver.layer_norm_epsilon", 1e-5f);
  m_u32 (b, o, "uniperceiver.vocab_size", o->V);
  m_u32 (b, o, "uniperceiver.text.context_length", TINY_CTX);
  m_u32 (b, o, "uniperceiver.text.max_length", 8);
  m_u32 (b, o, "uniperceiver.vision.patch_size", TINY_PATCH);
  m_u32 (b, o, "uniperceiver.vision.image_size", TINY_IMAGE);
  m_u32 (b, o, "uniperceiver.vision.temporal_positions", TINY_T);
  m_u32 (b, o, "uniperceiver.vision.clip_frames", 2);
  m_f32v (b, o, "uniperceiver.vision.image_mean", 0.485f, 0.456f, 0.406f);
  m_f32v (b, o, "uniperceiver.vision.image_std", 0.229f, 0.224f, 0.225f);
  m_f32v (b, o, "uniperceiver.vision.video_mean", 0.5f, 0.5f, 0.5f);
  m_f32v (b, o, "uniperceiver.vision.video_std", 0.5f, 0.5f, 0.5f);
  tiny_moe_keys (b, o);
  tiny_attributes (b, o);
  m_f32 (b, o, "uniperceiver.logit_scale.img_cls", logf (20.0f));
  m_f32 (b, o, "uniperceiver.logit_scale.video_cls", 5.0f);
  m_f32 (b, o, "uniperceiver.logit_scale.caption", logf (30.0f));
  m_f32 (b, o, "uniperceiver.logit_scale.retrieve", logf (50.0f));
  m_u32 (b, o, "uniperceiver.caption.max_length", 8);
  m_u32 (b, o, "uniperceiver.caption.beam_size", 2);
  m_f32 (b, o, "uniperceiver.caption.length_penalty", 2.0f);
  tiny_tokenizer (b, o);
}

/* Tensor of PyTorch shape [d0(, d1(, d2))] and type @type, applying the
 * mutations. */
static void
m_tensor_typed (Builder *b, const ModelOpts *o, const char *name, UpmDType type,
    uint64_t d0, uint64_t d1, uint64_t d2)
{
  uint64_t dims[3] = { d0, d1, d2 };
  guint n = d2 ? 3 : d1 ? 2 : 1;

  if (o->skip_tensor && strcmp (o->skip_tensor, name) == 0)
    return;
  if (o->bad_shape_tensor && strcmp (o->bad_shape_tensor, name) == 0)
    dims[n - 1]++;
  if (o->f16_tensor && strcmp (o->f16_tensor, name) == 0)
    type = UPM_DTYPE_F16;
  if (o->typed_tensor && strcmp (o->typed_tensor, name) == 0)
    type = o->typed_type;
  b_tensor (b, name, type, n, dims);
}

static void
m_tensor (Builder *b, const ModelOpts *o, const char *name, uint64_t d0,
    uint64_t d1, uint64_t d2)
{
  m_tensor_typed (b, o, name, UPM_DTYPE_F32, d0, d1, d2);
}

/* The per-row F32 scales of an I8 tensor [d0, d1(, d2)]: NAME.scale of
 * shape [d0(, d1)], every value o->scale_value (default 0.5). */
static void
m_scales (Builder *b, const ModelOpts *o, const char *name, uint64_t d0,
    uint64_t d1, uint64_t d2)
{
  g_autofree char *sname = g_strconcat (name, ".scale", NULL);
  const float v = o->scale_value != 0.0f ? o->scale_value : 0.5f;
  const guint before = b->data->len;
  guint n = (guint)(d2 ? d0 * d1 : d0);

  (void)d1;
  m_tensor (b, o, sname, d0, d2 ? d1 : 0, 0);
  if (b->data->len == before)
    return; /* skipped */
  n = (b->data->len - before) / 4 < n ? 0 : n;
  for (guint i = 0; i < n; i++)
    memcpy (b->data->data + b->data->len - 4 * (n - i), &v, 4);
}

static void
m_blk (Builder *b, const ModelOpts *o, guint l, const char *suffix, uint64_t d0,
    uint64_t d1, uint64_t d2)
{
  g_autofree char *name = g_strdup_printf ("blk.%u.%s", l, suffix);

  m_tensor (b, o, name, d0, d1, d2);
}

static void
tiny_gate (Builder *b, const ModelOpts *o, guint l, const char *g)
{
  char n[64];

  g_snprintf (n, sizeof n, "%s.tag.weight", g);
  m_blk (b, o, l, n, o->D, 8, 0);
  g_snprintf (n, sizeof n, "%s.tag.bias", g);
  m_blk (b, o, l, n, o->D, 0, 0);
  g_snprintf (n, sizeof n, "%s.norm.weight", g);
  m_blk (b, o, l, n, o->D, 0, 0);
  g_snprintf (n, sizeof n, "%s.norm.bias", g);
  m_blk (b, o, l, n, o->D, 0, 0);
  g_snprintf (n, sizeof n, "%s.wg.weight", g);
  m_blk (b, o, l, n, o->E, o->D, 0);
}

static void
tiny_linear (Builder *b, const ModelOpts *o, guint l, gboolean moe,
    const char *base, uint64_t n_out, uint64_t n_in)
{
  char w[64], bias[64];

  g_snprintf (w, sizeof w, "blk.%u.%s%s.weight", l, base, moe ? "_exps" : "");
  g_snprintf (bias, sizeof bias, "%s%s.bias", base, moe ? "_exps" : "");
  if (moe)
    {
      m_tensor_typed (b, o, w, o->lin_type, o->E, n_out, n_in);
      if (o->lin_type == UPM_DTYPE_I8)
        m_scales (b, o, w, o->E, n_out, n_in);
      m_blk (b, o, l, bias, o->E, n_out, 0);
    }
  else
    {
      m_tensor_typed (b, o, w, o->lin_type, n_out, n_in, 0);
      if (o->lin_type == UPM_DTYPE_I8)
        m_scales (b, o, w, n_out, n_in, 0);
      m_blk (b, o, l, bias, n_out, 0, 0);
    }
}

static void
tiny_layer (Builder *b, const ModelOpts *o, guint l)
{
  gboolean moe = o->moe && l == 1;
  const char *vecs[] = { "attn_norm.weight", "attn_norm.bias",
    "ffn_norm.weight", "ffn_norm.bias", "attn_scale", "ffn_scale" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (vecs); i++)
    m_blk (b, o, l, vecs[i], o->D, 0, 0);
  tiny_linear (b, o, l, moe, "attn_qkv", 3 * o->D, o->D);
  tiny_linear (b, o, l, moe, "attn_out", o->D, o->D);
  tiny_linear (b, o, l, moe, "ffn_up", o->F, o->D);
  tiny_linear (b, o, l, moe, "ffn_down", o->D, o->F);
  if (moe)
    {
      tiny_gate (b, o, l, "attn_gate");
      tiny_gate (b, o, l, "ffn_gate");
    }
}

static void
tiny_tensors (Builder *b, const ModelOpts *o)
{
  uint64_t D = o->D, grid = TINY_IMAGE / TINY_PATCH;
  guint l;

  m_tensor (b, o, "token_embd.weight", o->V, D, 0);
  m_tensor (b, o, "token_pos_embd.weight", TINY_CTX, D, 0);
  m_tensor (b, o, "token_type_embd.weight", 2, D, 0);
  m_tensor (b, o, "embd_norm.weight", D, 0, 0);
  m_tensor (b, o, "embd_norm.bias", D, 0, 0);
  m_tensor (b, o, "patch_embd.weight", D, 3 * TINY_PATCH * TINY_PATCH, 0);
  m_tensor (b, o, "patch_embd.bias", D, 0, 0);
  m_tensor (b, o, "spatial_pos_embd.weight", grid * grid, D, 0);
  m_tensor (b, o, "temporal_pos_embd.weight", TINY_T, D, 0);
  m_tensor (b, o, "post_norm.weight", D, 0, 0);
  m_tensor (b, o, "post_norm.bias", D, 0, 0);
  m_tensor (b, o, "proj.weight", D, D, 0);
  m_tensor (b, o, "proj.bias", D, 0, 0);
  for (l = 0; l < o->L; l++)
    tiny_layer (b, o, l);
  if (o->labelset)
    m_tensor (b, o, "labelset.animals.features", 3, D, 0);
}

static GByteArray *
tiny_model_bytes (const ModelOpts *o)
{
  g_autoptr (Builder) b = b_new (64);
  static const char *const sets[] = { "animals" };
  static const char *const labels[] = { "cat", "dog", "bird" };

  tiny_keys (b, o);
  if (o->labelset)
    {
      b_strv (b, "uniperceiver.labelsets", sets, 1);
      b_strv (b, "uniperceiver.labelset.animals.labels", labels, 3);
    }
  tiny_tensors (b, o);
  return b_bytes (b);
}

static char *
tiny_model (const char *dir, const char *name, const ModelOpts *o)
{
  g_autoptr (GByteArray) bytes = tiny_model_bytes (o);

  return write_bytes (dir, name, bytes->data, bytes->len);
}

/* ------------------------------------------------------ small container */

/* One key of every type and three tensors of every dtype. */
static Builder *
small_builder (void)
{
  Builder *b = b_new (32);
  const uint32_t u32s[] = { 7, 8, 9 };
  const char *const strs[] = { "alpha", "", "gamma" };
  const uint8_t u8 = 200, i8 = 0xfe, bl = 1;
  const uint16_t u16 = 65000, i16 = 0xfffe;
  const uint64_t u64 = G_GUINT64_CONSTANT (1) << 40;
  const double f64 = 2.5;
  const uint64_t ne_a[] = { 3, 2 }, ne_b[] = { 4 }, ne_c[] = { 5 };

  b_str (b, "general.architecture", "test");
  b_key (b, "t.u8", UPM_GGUF_U8);
  put (b->kv, &u8, 1);
  b_key (b, "t.i8", UPM_GGUF_I8);
  put (b->kv, &i8, 1);
  b_key (b, "t.u16", UPM_GGUF_U16);
  put (b->kv, &u16, 2);
  b_key (b, "t.i16", UPM_GGUF_I16);
  put (b->kv, &i16, 2);
  b_u32 (b, "t.u32", 123456);
  b_key (b, "t.i32", UPM_GGUF_I32);
  put_u32 (b->kv, (uint32_t)-5);
  b_f32 (b, "t.f32", 1.5f);
  b_key (b, "t.bool", UPM_GGUF_BOOL);
  put (b->kv, &bl, 1);
  b_key (b, "t.u64", UPM_GGUF_U64);
  put_u64 (b->kv, u64);
  b_key (b, "t.i64", UPM_GGUF_I64);
  put_u64 (b->kv, (uint64_t)-9);
  b_key (b, "t.f64", UPM_GGUF_F64);
  put (b->kv, &f64, 8);
  b_arr (b, "t.u32s", UPM_GGUF_U32, u32s, 3, 4);
  b_strv (b, "t.strs", strs, 3);
  b_tinfo (b, "a", 2, ne_a, UPM_DTYPE_F32, 0);
  b_tinfo (b, "b", 1, ne_b, UPM_DTYPE_F16, 32);
  b_tinfo (b, "c", 1, ne_c, UPM_DTYPE_I32, 64);
  g_byte_array_set_size (b->data, 64 + 20);
  memset (b->data->data, 0x11, b->data->len);
  return b;
}

static void
test_small_valid (Fixture *f, gconstpointer data)
{
  g_autoptr (Builder) b = small_builder ();
  g_autofree char *path = b_write (b, f->dir, "small.gguf");
  g_autoptr (GError) err = NULL;
  g_auto (GStrv) strs = NULL;
  g_autofree uint32_t *u32s = NULL;
  UpmGguf *g = upm_gguf_open (path, &err);
  const UpmTensor *t;
  uint32_t u;
  float fl;
  gboolean bl;
  guint n;

  g_assert_no_error (err);
  g_assert_cmpuint (upm_gguf_version (g), ==, 3);
  g_assert_cmpuint (upm_gguf_alignment (g), ==, 32);
  g_assert_cmpuint (upm_gguf_n_kv (g), ==, 14);
  g_assert_cmpuint (upm_gguf_n_tensors (g), ==, 3);
  g_assert_true (upm_gguf_get_u32 (g, "t.u32", &u, &err));
  g_assert_cmpuint (u, ==, 123456);
  g_assert_true (upm_gguf_get_f32 (g, "t.f32", &fl, &err));
  g_assert_cmpfloat (fl, ==, 1.5f);
  g_assert_true (upm_gguf_get_bool (g, "t.bool", &bl, &err));
  g_assert_true (bl);
  u32s = upm_gguf_get_u32_array (g, "t.u32s", &n, &err);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpuint (u32s[2], ==, 9);
  strs = upm_gguf_get_strv (g, "t.strs", &n, &err);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpstr (strs[0], ==, "alpha");
  g_assert_cmpstr (strs[1], ==, "");
  g_assert_cmpstr (strs[2], ==, "gamma");
  g_assert_no_error (err);
  /* typed getters name the key and both types */
  g_assert_false (upm_gguf_get_u32 (g, "t.strs", &u, &err));
  assert_error (err, UPM_ERROR_MODEL,
      "key 't.strs': expected u32, found "
      "array of string");
  g_clear_error (&err);
  g_assert_null (upm_gguf_get_f32_array (g, "t.u32s", &n, &err));
  assert_error (err, UPM_ERROR_MODEL,
      "expected array of f32, found array "
      "of u32");
  g_clear_error (&err);
  g_assert_false (upm_gguf_get_u32 (g, "nope", &u, &err));
  assert_error (err, UPM_ERROR_MODEL, "missing key 'nope'");
  g_clear_error (&err);
  t = upm_gguf_find_tensor (g, "a");
  g_assert_nonnull (t);
  g_assert_cmpuint (t->n_bytes, ==, 24);
  g_assert_cmpuint (((guintptr)t->data) % 32, ==, 0);
  t = upm_gguf_find_tensor (g, "c");
  g_assert_cmpuint (t->type, ==, UPM_DTYPE_I32);
  g_assert_cmpuint (t->offset, ==, 64);
  {
    const uint64_t want[] = { 2, 3 }, wrong[] = { 3, 2 };
    g_assert_nonnull (
        upm_gguf_require_tensor (g, "a", UPM_DTYPE_F32, 2, want, &err));
    g_assert_null (
        upm_gguf_require_tensor (g, "a", UPM_DTYPE_F32, 2, wrong, &err));
    assert_error (err, UPM_ERROR_MODEL,
        "tensor 'a': expected [3, 2] F32, found [2, 3] F32");
    g_clear_error (&err);
    g_assert_null (
        upm_gguf_require_tensor (g, "zz", UPM_DTYPE_F32, 2, want, &err));
    assert_error (err, UPM_ERROR_MODEL, "missing tensor 'zz'");
  }
  upm_gguf_close (g);
}

/* Every prefix of the small file fails cleanly. */
static void
test_small_truncated (Fixture *f, gconstpointer data)
{
  g_autoptr (Builder) b = small_builder ();
  g_autoptr (GByteArray) bytes = b_bytes (b);
  guint len;

  for (len = 0; len < bytes->len; len++)
    {
      g_autofree char *path
          = write_bytes (f->dir, "prefix.gguf", bytes->data, len);
      g_autoptr (GError) err = NULL;

      g_assert_null (upm_gguf_open (path, &err));
      g_assert_error (err, UPM_ERROR, UPM_ERROR_FORMAT);
      if (len >= 24 && !strstr (err->message, "truncated"))
        g_error ("prefix %u: %s", len, err->message);
    }
}

/* ------------------------------------------------------- container errors */

static void
test_io_errors (Fixture *f, gconstpointer data)
{
  g_autofree char *missing = g_build_filename (f->dir, "missing.upm", NULL);
  g_autofree char *empty = write_bytes (f->dir, "empty.upm", "", 0);
  g_autofree char *text = write_bytes (f->dir, "text.upm",
      "hello world, "
      "this is not a model file",
      37);
  g_autofree char *tiny = write_bytes (f->dir, "tiny.upm", "GG", 2);

  expect_model_error (missing, UPM_ERROR_IO, "cannot open: ");
  expect_gguf_error (empty, UPM_ERROR_FORMAT, "empty file");
  expect_gguf_error (text, UPM_ERROR_FORMAT, "not a GGUF file");
  expect_gguf_error (tiny, UPM_ERROR_FORMAT, "not a GGUF file");
  expect_gguf_error (f->dir, UPM_ERROR_IO, "not a regular file");
}

static void
test_versions (Fixture *f, gconstpointer data)
{
  uint32_t v[] = { 2, 4, 0, 0xffffffffu };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (v); i++)
    {
      g_autoptr (Builder) b = small_builder ();
      g_autofree char *path = NULL;
      g_autofree char *msg = g_strdup_printf ("GGUF version %u is not "
                                              "supported",
          v[i]);

      b->version = v[i];
      path = b_write (b, f->dir, "version.gguf");
      expect_gguf_error (path, UPM_ERROR_VERSION, msg);
    }
}

static void
test_absurd_counts (Fixture *f, gconstpointer data)
{
  g_autoptr (Builder) b = small_builder ();
  g_autofree char *p1 = NULL, *p2 = NULL;

  b->override_counts = TRUE;
  b->n_tensors_override = b->n_tensors;
  b->n_kv_override = G_GUINT64_CONSTANT (1) << 60;
  p1 = b_write (b, f->dir, "kv.gguf");
  expect_gguf_error (p1, UPM_ERROR_FORMAT, "kv_count 1152921504606846976");
  b->n_kv_override = b->n_kv;
  b->n_tensors_override = G_GUINT64_CONSTANT (1) << 60;
  p2 = b_write (b, f->dir, "tensors.gguf");
  expect_gguf_error (p2, UPM_ERROR_FORMAT, "tensor_count");
}

/* A container whose only key is written raw by @fill. */
static char *
raw_kv_file (Fixture *f, void (*fill) (GByteArray *))
{
  g_autoptr (Builder) b = b_new (32);

  fill (b->kv);
  b->n_kv = 1;
  /* padding so that a size check, not the end of the file, triggers */
  g_byte_array_set_size (b->data, 64);
  memset (b->data->data, 0, 64);
  return b_write (b, f->dir, "raw.gguf");
}

static void
fill_key_len (GByteArray *a)
{
  put_u64 (a, G_MAXUINT64 - 3);
  put (a, "k", 1);
}

static void
fill_str_len (GByteArray *a)
{
  put_str (a, "k");
  put_u32 (a, UPM_GGUF_STRING);
  put_u64 (a, G_MAXUINT64 - 10);
}

static void
fill_arr_len (GByteArray *a)
{
  put_str (a, "k");
  put_u32 (a, UPM_GGUF_ARRAY);
  put_u32 (a, UPM_GGUF_U32);
  put_u64 (a, G_GUINT64_CONSTANT (1) << 62);
}

static void
fill_strarr_len (GByteArray *a)
{
  put_str (a, "k");
  put_u32 (a, UPM_GGUF_ARRAY);
  put_u32 (a, UPM_GGUF_STRING);
  put_u64 (a, G_GUINT64_CONSTANT (1) << 61);
}

static void
fill_unknown_type (GByteArray *a)
{
  put_str (a, "k");
  put_u32 (a, 13);
}

static void
fill_nested (GByteArray *a)
{
  put_str (a, "k");
  put_u32 (a, UPM_GGUF_ARRAY);
  put_u32 (a, UPM_GGUF_ARRAY);
  put_u64 (a, 1);
}

static void
fill_unknown_elem (GByteArray *a)
{
  put_str (a, "k");
  put_u32 (a, UPM_GGUF_ARRAY);
  put_u32 (a, 99);
  put_u64 (a, 1);
}

static void
fill_bad_utf8 (GByteArray *a)
{
  put_str (a, "bad\xff\xfekey");
  put_u32 (a, UPM_GGUF_U8);
  g_byte_array_append (a, (const guint8 *)"", 1);
}

static void
fill_bad_utf8_value (GByteArray *a)
{
  put_str (a, "k");
  put_u32 (a, UPM_GGUF_STRING);
  put_str (a, "caf\xc3");
}

static void
fill_empty_key (GByteArray *a)
{
  put_str (a, "");
  put_u32 (a, UPM_GGUF_U8);
  g_byte_array_append (a, (const guint8 *)"", 1);
}

static void
test_bad_values (Fixture *f, gconstpointer data)
{
  const struct
  {
    void (*fill) (GByteArray *);
    const char *needle;
  } cases[] = {
    { fill_key_len, "key 0 has an impossible size" },
    { fill_str_len, "key 0 ('k')" },
    { fill_arr_len, "array length 4611686018427387904 is absurd" },
    { fill_strarr_len, "array length 2305843009213693952 is absurd" },
    { fill_unknown_type, "unknown value type 13" },
    { fill_nested, "nested arrays" },
    { fill_unknown_elem, "unknown array element type 99" },
    { fill_bad_utf8, "not valid UTF-8" },
    { fill_bad_utf8_value, "not valid UTF-8" },
    { fill_empty_key, "key length 0 is out of range" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = raw_kv_file (f, cases[i].fill);

      expect_gguf_error (path, UPM_ERROR_FORMAT, cases[i].needle);
    }
}

static void
test_duplicate_key (Fixture *f, gconstpointer data)
{
  g_autoptr (Builder) b = small_builder ();
  g_autofree char *path = NULL;

  b_u32 (b, "t.u32", 1);
  path = b_write (b, f->dir, "dup.gguf");
  expect_gguf_error (path, UPM_ERROR_FORMAT, "duplicate key 't.u32'");
}

static void
test_alignment_key (Fixture *f, gconstpointer data)
{
  const uint32_t bad[] = { 0, 4, 48, 100 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (Builder) b = small_builder ();
      g_autofree char *path = NULL;

      b_u32 (b, "general.alignment", bad[i]);
      path = b_write (b, f->dir, "align.gguf");
      expect_gguf_error (path, UPM_ERROR_FORMAT, "not a power of two >= 8");
    }
  {
    g_autoptr (Builder) b = small_builder ();
    g_autofree char *path = NULL;

    b_str (b, "general.alignment", "64");
    path = b_write (b, f->dir, "align.gguf");
    expect_gguf_error (path, UPM_ERROR_FORMAT, "must be u32, found string");
  }
}

/* A container with one raw tensor info and 256 bytes of data. */
static char *
raw_tensor_file (Fixture *f, uint32_t n_dims, const uint64_t *ne, uint32_t type,
    uint64_t offset)
{
  g_autoptr (Builder) b = b_new (32);

  b_tinfo (b, "t", n_dims, ne, type, offset);
  g_byte_array_set_size (b->data, 256);
  memset (b->data->data, 0, 256);
  return b_write (b, f->dir, "tensor.gguf");
}

static void
test_bad_tensor_infos (Fixture *f, gconstpointer data)
{
  const uint64_t big = G_GUINT64_CONSTANT (1) << 32;
  const struct
  {
    uint32_t n_dims;
    uint64_t ne[5];
    uint32_t type;
    uint64_t offset;
    const char *needle;
  } cases[] = {
    { 0, { 4 }, 0, 0, "n_dims 0 is out of range (1..4)" },
    { 5, { 1, 1, 1, 1, 1 }, 0, 0, "n_dims 5 is out of range (1..4)" },
    { 2, { 4, 0 }, 0, 0, "dimension 1 is 0" },
    { 3, { big, big, 2 }, 0, 0,
        "the element count overflows at dimension 1 "
        "(4294967296)" },
    { 1, { G_GUINT64_CONSTANT (1) << 62 }, 0, 0, "size in bytes overflows" },
    { 1, { 4 }, 2, 0, "unknown tensor type 2" },
    { 1, { 4 }, 0, 4, "offset 4 is not a multiple of the alignment 32" },
    { 1, { 4 }, 0, 1 << 20, "ends beyond the end of the file" },
    { 1, { 100 }, 0, 0, "ends beyond the end of the file" },
    { 1, { 4 }, 0, G_MAXUINT64 - 31, "ends beyond the end of the file" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = raw_tensor_file (
          f, cases[i].n_dims, cases[i].ne, cases[i].type, cases[i].offset);

      expect_gguf_error (path, UPM_ERROR_FORMAT, cases[i].needle);
    }
}

/* A file @name with two 1-dim F32 tensors, @a at offset 0 and @b_name at 32,
 * over @size zero bytes of data. */
static char *
two_tensors (Fixture *f, const char *name, const char *a, const uint64_t *ne_a,
    const char *b_name, const uint64_t *ne_b, guint size)
{
  g_autoptr (Builder) b = b_new (32);

  b_tinfo (b, a, 1, ne_a, UPM_DTYPE_F32, 0);
  b_tinfo (b, b_name, 1, ne_b, UPM_DTYPE_F32, 32);
  g_byte_array_set_size (b->data, size);
  memset (b->data->data, 0, size);
  return b_write (b, f->dir, name);
}

static void
test_tensor_overlap_dup (Fixture *f, gconstpointer data)
{
  const uint64_t ne16[] = { 16 }, ne4[] = { 4 };
  g_autofree char *p1 = NULL, *p2 = NULL;

  p1 = two_tensors (f, "overlap.gguf", "first", ne16, "second", ne4, 128);
  expect_gguf_error (p1, UPM_ERROR_FORMAT,
      "tensor 'second' (offset 32) overlaps tensor 'first'");
  p2 = two_tensors (f, "dup.gguf", "same", ne4, "same", ne4, 64);
  expect_gguf_error (p2, UPM_ERROR_FORMAT, "duplicate tensor 'same'");
}

/* ------------------------------------------------------------ valid model */

static void
check_tiny_hparams (const UpmModel *m, const ModelOpts *o)
{
  const UpmHParams *hp = upm_model_hparams (m);

  g_assert_cmpuint (hp->n_embd, ==, o->D);
  g_assert_cmpuint (hp->n_layer, ==, o->L);
  g_assert_cmpuint (hp->n_head, ==, o->H);
  g_assert_cmpuint (hp->n_ff, ==, o->F);
  g_assert_cmpuint (hp->n_vocab, ==, 519);
  g_assert_cmpuint (hp->n_text_ctx, ==, TINY_CTX);
  g_assert_cmpuint (hp->text_max_length, ==, 8);
  g_assert_cmpuint (hp->patch_size, ==, TINY_PATCH);
  g_assert_cmpuint (hp->image_size, ==, TINY_IMAGE);
  g_assert_cmpuint (hp->grid, ==, 2);
  g_assert_cmpuint (hp->n_temporal, ==, TINY_T);
  g_assert_cmpuint (hp->clip_frames, ==, 2);
  g_assert_cmpfloat (hp->norm_eps, ==, 1e-5f);
  g_assert_cmpfloat (hp->image_mean[1], ==, 0.456f);
  g_assert_cmpfloat (hp->image_std[2], ==, 0.225f);
  g_assert_cmpfloat (hp->video_mean[0], ==, 0.5f);
  g_assert_cmpuint (hp->caption_max_length, ==, 8);
  g_assert_cmpuint (hp->caption_beam_size, ==, 2);
  g_assert_cmpfloat (hp->caption_length_penalty, ==, 2.0f);
  g_assert_cmpuint (hp->sot_id, ==, 514);
  g_assert_cmpuint (hp->eot_id, ==, 515);
  g_assert_cmpuint (hp->mask_id, ==, 516);
  g_assert_cmpuint (hp->gen_id, ==, 517);
  g_assert_cmpuint (hp->spe_id, ==, 518);
}

static void
check_tiny_accessors (UpmModel *m, const char *path)
{
  const char *const *labels;
  guint a, n;

  g_assert_cmpstr (upm_model_path (m), ==, path);
  g_assert_cmpstr (upm_model_name (m), ==, "tiny test model");
  g_assert_cmpstr (m->weights_sha256, ==, "00ff");
  for (a = 0; a < UPM_N_ATTRS; a++)
    g_assert_cmpmem (upm_model_attr_bits (m, a), 8, attr_bits[a], 8);
  g_assert_cmpstr (upm_attr_name (UPM_ATTR_CAPTION_TEXT), ==, "caption_text");
  g_assert_cmpstr (upm_scale_name (UPM_SCALE_TQA_RETRIEVE), ==, "tqa_retrieve");
  g_assert_cmpfloat_with_epsilon (
      upm_model_logit_scale (m, UPM_SCALE_IMG_CLS), 20.0f, 1e-4);
  g_assert_cmpfloat_with_epsilon (
      upm_model_logit_scale (m, UPM_SCALE_RETRIEVE), 50.0f, 1e-4);
  /* exp(5) = 148 is capped */
  g_assert_cmpfloat (
      upm_model_logit_scale (m, UPM_SCALE_VIDEO_CLS), ==, 100.0f);
  /* absent optional scale: 1 / 0.07 */
  g_assert_cmpfloat_with_epsilon (
      upm_model_logit_scale (m, UPM_SCALE_MLM), 1.0f / 0.07f, 1e-4);
  g_assert_nonnull (upm_model_bpe (m));
  g_assert_cmpuint (upm_bpe_n_tokens (upm_model_bpe (m)), ==, 519);
  g_assert_cmpint (upm_bpe_token_id (upm_model_bpe (m), "<|spe|>"), ==, 518);
  g_assert_cmpuint (upm_model_n_labelsets (m), ==, 1);
  g_assert_cmpstr (upm_model_labelset_name (m, 0), ==, "animals");
  g_assert_null (upm_model_labelset_name (m, 1));
  labels = upm_model_labelset_labels (m, "animals", &n);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpstr (labels[2], ==, "bird");
  g_assert_null (labels[3]);
  g_assert_null (upm_model_labelset_labels (m, "plants", &n));
  g_assert_nonnull (m->labelsets[0].features);
  g_assert_null (m->vocab_features);
  /* weights point into the mapping with the written pattern */
  g_assert_cmpfloat (m->token_embd[5], ==, 5 * 0.01f - 0.5f);
  g_assert_cmpfloat (m->proj_b[1], ==, 0.01f - 0.5f);
}

static void
test_valid_dense (Fixture *f, gconstpointer data)
{
  ModelOpts o = MODEL_OPTS_INIT;
  g_autofree char *path = tiny_model (f->dir, "dense.upm", &o);
  g_autoptr (GError) err = NULL;
  UpmModel *m = upm_model_load (path, &err);
  guint l, k;

  g_assert_no_error (err);
  check_tiny_hparams (m, &o);
  check_tiny_accessors (m, path);
  g_assert_false (upm_model_is_moe (m));
  g_assert_cmpuint (upm_model_hparams (m)->n_expert, ==, 0);
  for (l = 0; l < o.L; l++)
    {
      g_assert_false (upm_model_layer_is_moe (m, l));
      for (k = 0; k < UPM_N_LIN; k++)
        {
          g_assert_cmpuint (m->layers[l].lin[k].n_expert, ==, 0);
          g_assert_nonnull (m->layers[l].lin[k].w);
        }
    }
  g_assert_false (upm_model_layer_is_moe (m, 99));
  g_assert_cmpuint (m->layers[1].lin[UPM_LIN_UP].n_out, ==, o.F);
  g_assert_cmpuint (m->layers[1].lin[UPM_LIN_DOWN].n_in, ==, o.F);
  g_assert_true (upm_model_ref (m) == m);
  upm_model_unref (m);
  upm_model_unref (m);
}

static void
test_valid_moe (Fixture *f, gconstpointer data)
{
  ModelOpts o = MODEL_OPTS_INIT;
  g_autofree char *path = NULL;
  g_autoptr (GError) err = NULL;
  UpmModel *m;
  const UpmLayer *L;

  o.moe = TRUE;
  o.f16_tensor = "labelset.animals.features";
  path = tiny_model (f->dir, "moe.upm", &o);
  m = upm_model_load (path, &err);
  g_assert_no_error (err);
  check_tiny_hparams (m, &o);
  check_tiny_accessors (m, path);
  g_assert_true (upm_model_is_moe (m));
  g_assert_cmpuint (upm_model_hparams (m)->n_expert, ==, 4);
  g_assert_cmpuint (upm_model_hparams (m)->n_expert_used, ==, 2);
  g_assert_false (upm_model_layer_is_moe (m, 0));
  g_assert_true (upm_model_layer_is_moe (m, 1));
  g_assert_cmpuint (m->labelsets[0].features->type, ==, UPM_DTYPE_F16);
  L = &m->layers[1];
  g_assert_cmpuint (L->lin[UPM_LIN_QKV].n_expert, ==, 4);
  g_assert_cmpuint (L->lin[UPM_LIN_QKV].n_out, ==, 48);
  g_assert_cmpuint (L->lin[UPM_LIN_QKV].n_in, ==, 16);
  g_assert_nonnull (L->gate[UPM_GATE_ATTN].wg);
  g_assert_nonnull (L->gate[UPM_GATE_FFN].tag_w);
  g_assert_null (m->layers[0].gate[UPM_GATE_FFN].wg);
  g_assert_cmpuint (m->layers[0].lin[UPM_LIN_QKV].n_expert, ==, 0);
  upm_model_unref (m);
}

/* The value b_tensor stores at element i, as a @type tensor reads back
 * (scale: an I8 tensor's row scale). */
static float
tiny_value (UpmDType type, size_t i, float scale)
{
  const float v = (float)(i % 97) * 0.01f - 0.5f;
  uint32_t u;

  switch (type)
    {
    case UPM_DTYPE_F16:
      return upm_f16_to_f32 (upm_f32_to_f16 (v));
    case UPM_DTYPE_BF16:
      memcpy (&u, &v, 4);
      return upm_bf16_to_f32 ((uint16_t)(u >> 16));
    case UPM_DTYPE_I8:
      return scale * (float)((int)(i % 97) - 48);
    default:
      return v;
    }
}

/* Every linear of @m as float (widened on first use, and a row at a
 * time) against what the file stores. */
static void
check_linear_values (UpmModel *m, UpmDType type)
{
  for (guint l = 0; l < m->hp.n_layer; l++)
    for (int k = 0; k < UPM_N_LIN; k++)
      {
        const UpmLinear *lin = &m->layers[l].lin[k];
        const size_t n
            = (size_t)MAX (lin->n_expert, 1) * lin->n_out * lin->n_in;
        g_autofree float *row = g_new (float, lin->n_in);
        const float *w;

        g_assert_cmpuint (lin->dtype, ==, type);
        g_assert_true ((lin->w != NULL) == (type == UPM_DTYPE_F32));
        g_assert_true ((lin->scale != NULL) == (type == UPM_DTYPE_I8));
        w = upm_linear_f32 (m, lin);
        g_assert_true (w == lin->w);
        g_assert_true (upm_linear_f32 (m, lin) == w);
        for (size_t i = 0; i < n; i++)
          if (w[i] != tiny_value (type, i, 0.5f))
            g_error ("layer %u linear %d element %zu: %g, expected %g", l, k, i,
                w[i], tiny_value (type, i, 0.5f));
        upm_linear_rows_f32 (lin, MAX (lin->n_expert, 1) - 1, 1, 1, row);
        g_assert_true (
            memcmp (row,
                w
                    + ((size_t)(MAX (lin->n_expert, 1) - 1) * lin->n_out + 1)
                          * lin->n_in,
                lin->n_in * 4)
            == 0);
      }
}

/* Each linear type (F16, BF16, I8 + scales) in a dense and a MoE model,
 * with an F16 token embedding: loads, reads back the stored values, and
 * encodes a clip in fp32 and bf16 with finite features. */
static void
test_valid_typed (Fixture *f, gconstpointer data)
{
  const UpmDType types[]
      = { UPM_DTYPE_F32, UPM_DTYPE_F16, UPM_DTYPE_BF16, UPM_DTYPE_I8 };

  for (guint t = 0; t < G_N_ELEMENTS (types); t++)
    for (int moe = 0; moe < 2; moe++)
      {
        ModelOpts o = MODEL_OPTS_INIT;
        g_autofree char *path = NULL;
        g_autoptr (GError) err = NULL;
        UpmModel *m;
        float row[16];

        o.moe = moe;
        o.lin_type = types[t];
        o.typed_tensor = "token_embd.weight";
        o.typed_type = UPM_DTYPE_F16;
        path = tiny_model (f->dir, "typed.upm", &o);
        m = upm_model_load (path, &err);
        g_assert_no_error (err);
        g_assert_cmpuint (m->weights_dtype, ==, types[t]);
        g_assert_null (m->token_embd);
        upm_model_token_row (m, 3, row);
        for (guint j = 0; j < 16; j++)
          g_assert_cmpfloat (
              row[j], ==, tiny_value (UPM_DTYPE_F16, 3 * 16 + j, 0));
        check_linear_values (m, types[t]);
        /* fp32, bf16 and int8 (an I8 file's own weights, or quantised
         * from the widened ones) all run on every stored type */
        for (int p = 0; p < 3; p++)
          {
            static const UpmPrecision precisions[] = { UPM_PRECISION_FP32,
              UPM_PRECISION_BF16, UPM_PRECISION_INT8 };
            UpmContext *ctx = upm_context_new (m);
            const UpmHParams *hp = upm_model_hparams (m);
            const size_t np
                = UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp);
            g_autofree float *patches = g_new0 (float, np);
            float feature[16];

            for (size_t i = 0; i < np; i++)
              patches[i] = (float)(i % 13) * 0.1f - 0.6f;
            upm_context_set_precision (ctx, precisions[p]);
            g_assert_true (upm_encode_visual (
                ctx, patches, 1, UPM_ATTR_CLS_INPUT, feature, NULL, &err));
            g_assert_no_error (err);
            for (guint j = 0; j < 16; j++)
              g_assert_true (isfinite (feature[j]));
            upm_context_free (ctx);
          }
        upm_model_unref (m);
      }
}

/* The int8 kernels' views on an I8 file's weights: the stored bytes and
 * scales in place; a -128 in a matrix is refused; other types are not
 * views. */
static void
test_q8_view (Fixture *f, gconstpointer data)
{
  ModelOpts o = MODEL_OPTS_INIT;
  g_autofree char *path = NULL;
  g_autoptr (GError) err = NULL;
  UpmModel *m;
  const UpmLinear *lin;
  UpmQ8Matrix v;
  const uint8_t *base = NULL;
  size_t at;
  int fd;
  const int8_t bad = INT8_MIN;

  o.moe = TRUE;
  o.lin_type = UPM_DTYPE_I8;
  path = tiny_model (f->dir, "q8.upm", &o);
  m = upm_model_load (path, &err);
  g_assert_no_error (err);
  lin = &m->layers[1].lin[UPM_LIN_UP];
  g_assert_true (upm_linear_q8_view (m, lin, 2, &v, &err));
  g_assert_no_error (err);
  g_assert_true ((const void *)v.q == upm_linear_stored (lin, 2));
  g_assert_true (v.scale == lin->scale + 2 * lin->n_out);
  g_assert_cmpuint (v.n_out, ==, 32);
  g_assert_cmpuint (v.n_in, ==, 16);
  g_assert_cmpfloat (v.scale[0] * v.q[5], ==,
      tiny_value (UPM_DTYPE_I8, 2 * 32 * 16 + 5, 0.5f));
  g_assert_false (upm_linear_q8_view (m, lin, 4, &v, &err));
  g_assert_error (err, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  /* The file offset of expert 2's row 3: the last tensor ends the file. */
  for (guint i = 0; i < upm_gguf_n_tensors (m->gguf); i++)
    {
      const UpmTensor *t = upm_gguf_tensor (m->gguf, i);
      if (!base || (const uint8_t *)t->data + t->n_bytes > base)
        base = (const uint8_t *)t->data + t->n_bytes;
    }
  base -= upm_gguf_file_size (m->gguf);
  at = (const uint8_t *)upm_linear_stored (lin, 2) + 3 * 16 - base;
  upm_model_unref (m);
  fd = open (path, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, &bad, 1, (off_t)at), ==, 1);
  close (fd);
  m = upm_model_load (path, &err);
  g_assert_no_error (err);
  lin = &m->layers[1].lin[UPM_LIN_UP];
  g_assert_true (upm_linear_q8_view (m, lin, 1, &v, &err));
  g_assert_false (upm_linear_q8_view (m, lin, 2, &v, &err));
  g_assert_error (err, UPM_ERROR, UPM_ERROR_MODEL);
  g_assert_nonnull (strstr (err->message, "holds -128 (row 3;"));
  g_clear_error (&err);
  upm_model_unref (m);
}

/* ---------------------------------------------------------- model errors */

/* What a model-error case changes in MODEL_OPTS_INIT: the fields it sets
 * (a zero or NULL field is left as it is; u32_val goes with u32_key). */
typedef struct
{
  gboolean moe;
  uint32_t H;
  const char *arch;
  uint32_t format_version;
  const char *routing;
  const char *skip_key;
  const char *u32_key;
  uint32_t u32_val;
  const char *skip_tensor;
  const char *bad_shape_tensor;
  const char *f16_tensor;
  UpmDType lin_type;
  const char *typed_tensor;
  UpmDType typed_type;
  float scale_value;
  const uint32_t *moe_layers;
  guint n_moe_layers;
  int attr_bad_bit;
  const char *spe_symbol;
  gboolean extra_token;
} ModelMutation;

typedef struct
{
  const char *what;
  ModelMutation mutation;
  gint code;
  const char *needle;
} ModelCase;

#define MUTATE_IF_SET(o, mu, field)                                            \
  G_STMT_START                                                                 \
  {                                                                            \
    if ((mu)->field)                                                           \
      (o)->field = (mu)->field;                                                \
  }                                                                            \
  G_STMT_END

static void
mutate (ModelOpts *o, const ModelMutation *mu)
{
  MUTATE_IF_SET (o, mu, moe);
  MUTATE_IF_SET (o, mu, H);
  MUTATE_IF_SET (o, mu, lin_type);
  MUTATE_IF_SET (o, mu, typed_tensor);
  MUTATE_IF_SET (o, mu, typed_type);
  MUTATE_IF_SET (o, mu, scale_value);
  MUTATE_IF_SET (o, mu, arch);
  MUTATE_IF_SET (o, mu, format_version);
  MUTATE_IF_SET (o, mu, routing);
  MUTATE_IF_SET (o, mu, skip_key);
  MUTATE_IF_SET (o, mu, skip_tensor);
  MUTATE_IF_SET (o, mu, bad_shape_tensor);
  MUTATE_IF_SET (o, mu, f16_tensor);
  MUTATE_IF_SET (o, mu, moe_layers);
  MUTATE_IF_SET (o, mu, n_moe_layers);
  MUTATE_IF_SET (o, mu, attr_bad_bit);
  MUTATE_IF_SET (o, mu, spe_symbol);
  MUTATE_IF_SET (o, mu, extra_token);
  if (mu->u32_key)
    {
      o->u32_key = mu->u32_key;
      o->u32_val = mu->u32_val;
    }
}

static void
test_model_errors (Fixture *f, gconstpointer data)
{
  const ModelCase cases[] = {
    { "missing tensor", { .skip_tensor = "blk.1.ffn_up.weight" },
        UPM_ERROR_MODEL, "missing tensor 'blk.1.ffn_up.weight'" },
    { "shape", { .bad_shape_tensor = "blk.1.ffn_up.weight" }, UPM_ERROR_MODEL,
        "tensor 'blk.1.ffn_up.weight': "
        "expected [32, 16] F32, found [32, 17] F32" },
    { "dtype", { .f16_tensor = "proj.weight" }, UPM_ERROR_MODEL,
        "tensor 'proj.weight': expected [16, 16] F32, found [16, 16] F16" },
    { "moe gate", { .moe = TRUE, .skip_tensor = "blk.1.ffn_gate.wg.weight" },
        UPM_ERROR_MODEL, "missing tensor 'blk.1.ffn_gate.wg.weight'" },
    { "moe shape",
        { .moe = TRUE, .bad_shape_tensor = "blk.1.attn_qkv_exps.weight" },
        UPM_ERROR_MODEL, "expected [4, 48, 16] F32, found [4, 48, 17] F32" },
    { "arch", { .arch = "llama" }, UPM_ERROR_VERSION, "architecture 'llama'" },
    { "version", { .format_version = 2 }, UPM_ERROR_VERSION,
        "format version 2" },
    { "heads", { .H = 3 }, UPM_ERROR_MODEL,
        "embedding_length 16 is not divisible by head_count 3" },
    { "absurd D",
        { .u32_key = "uniperceiver.embedding_length", .u32_val = 1u << 30 },
        UPM_ERROR_MODEL, "embedding_length 1073741824 is out of range" },
    { "absurd layers",
        { .u32_key = "uniperceiver.block_count", .u32_val = 100000 },
        UPM_ERROR_MODEL, "block_count" },
    { "absurd vocab",
        { .u32_key = "uniperceiver.vocab_size", .u32_val = 1u << 30 },
        UPM_ERROR_MODEL, "vocab_size" },
    { "image size",
        { .u32_key = "uniperceiver.vision.image_size", .u32_val = 10 },
        UPM_ERROR_MODEL, "image_size 10 is not a multiple of patch_size 4" },
    { "temporal",
        { .u32_key = "uniperceiver.vision.temporal_positions", .u32_val = 0 },
        UPM_ERROR_MODEL, "temporal_positions 0" },
    { "special id", { .u32_key = "tokenizer.upm.spe_id", .u32_val = 519 },
        UPM_ERROR_MODEL, "special token id 519" },
    { "routing", { .moe = TRUE, .routing = "bogus" }, UPM_ERROR_VERSION,
        "moe.routing 'bogus' is not supported by this build" },
    /* task routing needs the gates' task embeddings */
    { "routing tensors", { .moe = TRUE, .routing = "task" }, UPM_ERROR_MODEL,
        "missing tensor 'blk.1.attn_gate.embd'" },
    { "experts used",
        { .moe = TRUE,
            .u32_key = "uniperceiver.moe.expert_used_count",
            .u32_val = 1 },
        UPM_ERROR_MODEL, "expert_used_count 1" },
    { "experts",
        { .moe = TRUE,
            .u32_key = "uniperceiver.moe.expert_count",
            .u32_val = 1 },
        UPM_ERROR_MODEL, "expert_count 1" },
    { "moe layer range",
        { .moe = TRUE,
            .moe_layers = (const uint32_t[]){ 1, 2 },
            .n_moe_layers = 2 },
        UPM_ERROR_MODEL, "layer 2 does not exist" },
    { "moe layer dup",
        { .moe = TRUE,
            .moe_layers = (const uint32_t[]){ 1, 1 },
            .n_moe_layers = 2 },
        UPM_ERROR_MODEL, "layer 1 is listed twice" },
    { "attribute bit", { .attr_bad_bit = 5 * 8 + 3 }, UPM_ERROR_MODEL,
        "attribute 'text_input': bit 3 has value 2" },
    { "missing scale", { .skip_key = "uniperceiver.logit_scale.retrieve" },
        UPM_ERROR_MODEL, "missing key 'uniperceiver.logit_scale.retrieve'" },
    { "missing key", { .skip_key = "uniperceiver.vision.image_std" },
        UPM_ERROR_MODEL, "missing key 'uniperceiver.vision.image_std'" },
    { "spe symbol", { .spe_symbol = "<|bogus|>" }, UPM_ERROR_MODEL,
        "token 518 is '<|bogus|>', expected '<|spe|>'" },
    { "token count", { .extra_token = TRUE }, UPM_ERROR_MODEL,
        "tokenizer.ggml.tokens has 520 entries but vocab_size is 519" },
    { "labels shape", { .bad_shape_tensor = "labelset.animals.features" },
        UPM_ERROR_MODEL,
        "tensor 'labelset.animals.features': expected [3, 16] F32" },
    { "i8 without scales",
        { .lin_type = UPM_DTYPE_I8,
            .skip_tensor = "blk.1.ffn_up.weight.scale" },
        UPM_ERROR_MODEL, "missing tensor 'blk.1.ffn_up.weight.scale'" },
    { "i8 scales shape",
        { .lin_type = UPM_DTYPE_I8,
            .bad_shape_tensor = "blk.1.ffn_up.weight.scale" },
        UPM_ERROR_MODEL,
        "tensor 'blk.1.ffn_up.weight.scale': expected [32] F32, found [33] "
        "F32" },
    { "i8 scales type",
        { .lin_type = UPM_DTYPE_I8,
            .typed_tensor = "blk.0.attn_out.weight.scale",
            .typed_type = UPM_DTYPE_F16 },
        UPM_ERROR_MODEL,
        "tensor 'blk.0.attn_out.weight.scale': expected [16] F32, found [16] "
        "F16" },
    { "i8 scale nan", { .lin_type = UPM_DTYPE_I8, .scale_value = NAN },
        UPM_ERROR_MODEL,
        "tensor 'blk.0.attn_qkv.weight.scale': row 0 has scale nan" },
    { "i8 scale negative", { .lin_type = UPM_DTYPE_I8, .scale_value = -1 },
        UPM_ERROR_MODEL, "row 0 has scale -1 (must be finite" },
    { "moe i8 scales shape",
        { .moe = TRUE,
            .lin_type = UPM_DTYPE_I8,
            .bad_shape_tensor = "blk.1.attn_qkv_exps.weight.scale" },
        UPM_ERROR_MODEL, "expected [4, 48] F32, found [4, 49] F32" },
    { "bf16 shape",
        { .lin_type = UPM_DTYPE_BF16,
            .bad_shape_tensor = "blk.1.ffn_up.weight" },
        UPM_ERROR_MODEL,
        "tensor 'blk.1.ffn_up.weight': expected [32, 16] BF16, found [32, 17] "
        "BF16" },
    { "moe f16 shape",
        { .moe = TRUE,
            .lin_type = UPM_DTYPE_F16,
            .bad_shape_tensor = "blk.1.ffn_down_exps.weight" },
        UPM_ERROR_MODEL, "expected [4, 16, 32] F16, found [4, 16, 33] F16" },
    { "i8 embedding",
        { .typed_tensor = "token_embd.weight", .typed_type = UPM_DTYPE_I8 },
        UPM_ERROR_MODEL,
        "tensor 'token_embd.weight': expected [519, 16] F32, found [519, 16] "
        "I8" },
    { "bf16 norm",
        { .typed_tensor = "blk.0.attn_norm.weight",
            .typed_type = UPM_DTYPE_BF16 },
        UPM_ERROR_MODEL, "expected [16] F32, found [16] BF16" },
    { "i32 linear",
        { .typed_tensor = "blk.0.ffn_up.weight", .typed_type = UPM_DTYPE_I32 },
        UPM_ERROR_MODEL, "expected [32, 16] F32, found [32, 16] I32" },
    { "bf16 bias",
        { .lin_type = UPM_DTYPE_BF16,
            .typed_tensor = "blk.0.ffn_up.bias",
            .typed_type = UPM_DTYPE_BF16 },
        UPM_ERROR_MODEL, "expected [32] F32, found [32] BF16" },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      ModelOpts o = MODEL_OPTS_INIT;
      g_autofree char *path = NULL;

      g_test_message ("case: %s", cases[i].what);
      mutate (&o, &cases[i].mutation);
      path = tiny_model (f->dir, "bad.upm", &o);
      expect_model_error (path, cases[i].code, cases[i].needle);
    }
}

/* Prefixes of a whole model: every 7th byte through the metadata (keys,
 * tokenizer, tensor infos), then a sample of the data; each must fail. */
static void
test_model_truncated (Fixture *f, gconstpointer data)
{
  ModelOpts o = MODEL_OPTS_INIT;
  g_autoptr (GByteArray) bytes = NULL;
  guint len;

  o.moe = TRUE;
  o.lin_type = GPOINTER_TO_UINT (data);
  bytes = tiny_model_bytes (&o);
  for (len = 0; len < bytes->len; len += len < 16000 ? 7 : 997)
    {
      g_autofree char *path = write_bytes (f->dir, "cut.upm", bytes->data, len);
      g_autoptr (GError) err = NULL;

      g_assert_null (upm_model_load (path, &err));
      g_assert_error (err, UPM_ERROR, UPM_ERROR_FORMAT);
    }
}

/* Thousands of single-byte corruptions, mostly in the metadata: each load
 * either succeeds or fails with a UPM_ERROR. */
static void
test_byte_flip_fuzz (Fixture *f, gconstpointer data)
{
  ModelOpts o = MODEL_OPTS_INIT;
  g_autoptr (GByteArray) bytes = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (1234);
  guint i, n_ok = 0, n_iter = g_test_slow () ? 20000 : 3000;
  int fd;

  o.moe = TRUE;
  o.D = 8;
  o.F = 8;
  o.labelset = FALSE;
  o.lin_type = GPOINTER_TO_UINT (data);
  bytes = tiny_model_bytes (&o);
  path = write_bytes (f->dir, "fuzz.upm", bytes->data, bytes->len);
  fd = open (path, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  for (i = 0; i < n_iter; i++)
    {
      guint pos = g_rand_int_range (rand, 0, i % 8 ? 16000 : bytes->len);
      uint8_t v = (uint8_t)g_rand_int_range (rand, 0, 256);
      g_autoptr (GError) err = NULL;
      UpmModel *m;

      pos = MIN (pos, bytes->len - 1);
      g_assert_cmpint (pwrite (fd, &v, 1, pos), ==, 1);
      m = upm_model_load (path, &err);
      if (m)
        {
          n_ok++;
          upm_model_unref (m);
        }
      else
        {
          g_assert_true (err && err->domain == UPM_ERROR);
          g_assert_true (g_str_has_prefix (err->message, path));
        }
      g_assert_cmpint (pwrite (fd, bytes->data + pos, 1, pos), ==, 1);
    }
  close (fd);
  g_test_message ("%u of %u corrupted files loaded", n_ok, n_iter);
}

/* ----------------------------------------------------------------- f16 */

static void
test_f16 (void)
{
  guint h;

  for (h = 0; h < 0x10000; h++)
    {
      float v = upm_f16_to_f32 ((uint16_t)h);

      if (isnan (v))
        g_assert_true (isnan (upm_f16_to_f32 (upm_f32_to_f16 (v))));
      else
        g_assert_cmphex (upm_f32_to_f16 (v), ==, h);
    }
  g_assert_cmpfloat (upm_f16_to_f32 (0x3c00), ==, 1.0f);
  g_assert_cmpfloat (upm_f16_to_f32 (0xc000), ==, -2.0f);
  g_assert_cmpfloat (upm_f16_to_f32 (0x7bff), ==, 65504.0f);
  g_assert_cmpfloat (upm_f16_to_f32 (0x0001), ==, ldexpf (1.0f, -24));
  g_assert_cmpfloat (upm_f16_to_f32 (0x03ff), ==, ldexpf (1023.0f, -24));
  g_assert_true (isinf (upm_f16_to_f32 (0xfc00)));
  g_assert_true (isnan (upm_f16_to_f32 (0x7e00)));
  /* round to nearest, ties to even */
  g_assert_cmphex (upm_f32_to_f16 (1.0f + ldexpf (1.0f, -11)), ==, 0x3c00);
  g_assert_cmphex (upm_f32_to_f16 (1.0f + 3 * ldexpf (1.0f, -11)), ==, 0x3c02);
  g_assert_cmphex (
      upm_f32_to_f16 (1.0f + 1.1f * ldexpf (1.0f, -11)), ==, 0x3c01);
  g_assert_cmphex (upm_f32_to_f16 (65519.0f), ==, 0x7bff);
  g_assert_cmphex (upm_f32_to_f16 (65520.0f), ==, 0x7c00);
  g_assert_cmphex (upm_f32_to_f16 (1e10f), ==, 0x7c00);
  g_assert_cmphex (upm_f32_to_f16 (-INFINITY), ==, 0xfc00);
  g_assert_cmphex (upm_f32_to_f16 (ldexpf (1.0f, -25)), ==, 0x0000);
  g_assert_cmphex (upm_f32_to_f16 (ldexpf (1.5f, -25)), ==, 0x0001);
  g_assert_cmphex (upm_f32_to_f16 (ldexpf (3.0f, -25)), ==, 0x0002);
  g_assert_cmphex (upm_f32_to_f16 (ldexpf (1023.5f, -24)), ==, 0x0400);
  g_assert_cmphex (upm_f32_to_f16 (ldexpf (1.0f, -30)), ==, 0x0000);
  g_assert_cmphex (upm_f32_to_f16 (-0.0f), ==, 0x8000);
  g_assert_cmphex (upm_f32_to_f16 (1e-45f), ==, 0x0000);
  g_assert_true (isnan (upm_f16_to_f32 (upm_f32_to_f16 (NAN))));
  g_assert_cmpstr (upm_dtype_name (UPM_DTYPE_F16), ==, "F16");
}

/* ------------------------------------------------------------ upm-inspect */

static char *
inspect_path (void)
{
  const char *root = g_getenv ("UPM_BUILD_ROOT");

  return root ? g_build_filename (root, "tools", "upm-inspect", NULL) : NULL;
}

static int
run_inspect (const char *tool, const char *arg1, const char *arg2, char **out)
{
  const char *argv[] = { tool, arg1, arg2, NULL };
  g_autoptr (GError) err = NULL;
  int status = -1;

  if (!arg2)
    argv[2] = NULL;
  g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
      NULL, out, NULL, &status, &err);
  g_assert_no_error (err);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static void
test_inspect (Fixture *f, gconstpointer data)
{
  g_autofree char *tool = inspect_path ();
  ModelOpts o = MODEL_OPTS_INIT;
  g_autofree char *path = NULL, *bad = NULL, *out1 = NULL, *out2 = NULL;
  g_autofree char *out3 = NULL, *out4 = NULL, *out5 = NULL;

  if (!tool || !g_file_test (tool, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("upm-inspect not built (UPM_BUILD_ROOT unset)");
      return;
    }
  o.moe = TRUE;
  path = tiny_model (f->dir, "inspect.upm", &o);
  g_assert_cmpint (run_inspect (tool, path, NULL, &out1), ==, 0);
  g_assert_nonnull (strstr (out1, "format: GGUF version 3, alignment 64"));
  g_assert_nonnull (strstr (out1, "architecture: uniperceiver"));
  g_assert_nonnull (strstr (out1, "uniperceiver.embedding_length: u32 = 16"));
  g_assert_nonnull (strstr (out1, "uniperceiver.moe.layers: u32[1] = 1\n"));
  g_assert_nonnull (strstr (out1, "tokenizer.ggml.tokens: string[519] = "
                                  "\"!\", \"\\\"\", \"#\""));
  g_assert_nonnull (strstr (out1, "validation: OK"));
  g_assert_nonnull (strstr (out1, "1 MoE"));
  g_assert_null (strstr (out1, "token_embd.weight"));
  g_assert_cmpint (run_inspect (tool, "--tensors", path, &out2), ==, 0);
  g_assert_nonnull (strstr (out2, "blk.1.attn_qkv_exps.weight"));
  g_assert_nonnull (strstr (out2, "F32 [4, 48, 16] offset"));
  g_assert_cmpint (run_inspect (tool, "--json", path, &out3), ==, 0);
  g_assert_nonnull (strstr (out3, "\"valid\": true"));
  g_assert_nonnull (strstr (out3, "\"moe_layers\": [1]"));
  g_assert_nonnull (strstr (out3, "\"shape\": [519, 16]"));
  o.H = 3;
  bad = tiny_model (f->dir, "bad.upm", &o);
  g_assert_cmpint (run_inspect (tool, bad, NULL, &out4), ==, 1);
  g_assert_nonnull (strstr (out4, "validation: FAILED"));
  g_assert_nonnull (strstr (out4, "not divisible by head_count 3"));
  g_assert_cmpint (run_inspect (tool, "--json", f->dir, &out5), ==, 1);
  g_assert_nonnull (strstr (out5, "\"valid\": false"));
  g_clear_pointer (&out5, g_free);
  g_assert_cmpint (run_inspect (tool, "--help", NULL, &out5), ==, 0);
  g_assert_nonnull (strstr (out5, "--tensors"));
}

/* ------------------------------------------------------------------ main */

#define ADD(name, func)                                                        \
  g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gguf/f16", test_f16);
  ADD ("/gguf/model-valid-typed", test_valid_typed);
  ADD ("/gguf/q8-view", test_q8_view);
  ADD ("/gguf/small-valid", test_small_valid);
  ADD ("/gguf/small-truncated", test_small_truncated);
  ADD ("/gguf/io-errors", test_io_errors);
  ADD ("/gguf/versions", test_versions);
  ADD ("/gguf/absurd-counts", test_absurd_counts);
  ADD ("/gguf/bad-values", test_bad_values);
  ADD ("/gguf/duplicate-key", test_duplicate_key);
  ADD ("/gguf/alignment-key", test_alignment_key);
  ADD ("/gguf/bad-tensor-infos", test_bad_tensor_infos);
  ADD ("/gguf/tensor-overlap-dup", test_tensor_overlap_dup);
  ADD ("/model/valid-dense", test_valid_dense);
  ADD ("/model/valid-moe", test_valid_moe);
  ADD ("/model/errors", test_model_errors);
  ADD ("/model/truncated", test_model_truncated);
  ADD ("/model/byte-flip-fuzz", test_byte_flip_fuzz);
  g_test_add ("/model/truncated-i8", Fixture, GUINT_TO_POINTER (UPM_DTYPE_I8),
      fixture_setup, test_model_truncated, fixture_teardown);
  g_test_add ("/model/truncated-bf16", Fixture,
      GUINT_TO_POINTER (UPM_DTYPE_BF16), fixture_setup, test_model_truncated,
      fixture_teardown);
  g_test_add ("/model/byte-flip-fuzz-i8", Fixture,
      GUINT_TO_POINTER (UPM_DTYPE_I8), fixture_setup, test_byte_flip_fuzz,
      fixture_teardown);
  g_test_add ("/model/byte-flip-fuzz-bf16", Fixture,
      GUINT_TO_POINTER (UPM_DTYPE_BF16), fixture_setup, test_byte_flip_fuzz,
      fixture_teardown);
  ADD ("/inspect/output", test_inspect);
  return g_test_run ();
}
