/* upm-inspect: print the metadata and tensors of a .upm model file and
 * validate it as a model.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   upm-inspect [--tensors] [--json] FILE
 *   upm-inspect --cpu
 *
 * Exit status 0 when the file loads as a model, 1 otherwise. The JSON
 * output always has the tensor list; the text output has it with
 * --tensors. --cpu prints the ISA level of the engine's kernels on this
 * machine, what the CPU supports and why that level, how bf16 runs there
 * and UPM_PRECISION (no FILE).
 */
#include "upm-private.h"

#include "kernels/upm-cpu.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_STRINGS_SHOWN 8
#define MAX_NUMBERS_SHOWN 64
#define MAX_STRING_CHARS 200

typedef struct
{
  gboolean tensors;
  gboolean json;
  gboolean cpu;
} Options;

/* ------------------------------------------------------------- formatting */

static void
append_float (GString *s, double v, gboolean single, gboolean json)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  int prec;

  if (!isfinite (v))
    {
      g_string_append_printf (s, json ? "\"%s\"" : "%s",
          isnan (v) ? "nan"
          : v > 0   ? "inf"
                    : "-inf");
      return;
    }
  if (!single)
    {
      g_string_append (s, g_ascii_dtostr (buf, sizeof buf, v));
      return;
    }
  /* shortest decimal that reads back as the same float */
  for (prec = 6; prec < 9; prec++)
    {
      g_ascii_formatd (buf, sizeof buf,
          prec == 6   ? "%.6g"
          : prec == 7 ? "%.7g"
                      : "%.8g",
          v);
      if ((float)g_ascii_strtod (buf, NULL) == (float)v)
        break;
    }
  if (prec == 9)
    g_ascii_formatd (buf, sizeof buf, "%.9g", v);
  g_string_append (s, buf);
}

static void
append_string (GString *s, const char *str, gsize len, gboolean json)
{
  gsize i, n = MIN (len, MAX_STRING_CHARS);

  /* do not cut a UTF-8 sequence */
  while (n < len && n > 0 && ((guchar)str[n] & 0xc0) == 0x80)
    n--;
  g_string_append_c (s, '"');
  for (i = 0; i < n; i++)
    {
      guchar c = (guchar)str[i];

      if (c == '"' || c == '\\')
        g_string_append_printf (s, "\\%c", c);
      else if (c < 0x20)
        g_string_append_printf (s, "\\u%04x", c);
      else
        g_string_append_c (s, (char)c);
    }
  g_string_append_c (s, '"');
  if (n < len && !json)
    g_string_append (s, "...");
}

static const char *
type_name (UpmGgufType t)
{
  static const char *const names[] = { "u8", "i8", "u16", "i16", "u32", "i32",
    "f32", "bool", "string", "array", "u64", "i64", "f64" };

  return (guint)t < G_N_ELEMENTS (names) ? names[t] : "unknown";
}

/* One value of type @t at @p; returns the bytes it took. */
static gsize
append_value (GString *s, UpmGgufType t, const uint8_t *p, gboolean json)
{
  uint64_t u64 = 0;
  uint32_t u32 = 0;
  uint16_t u16 = 0;
  float f;
  double d;

  switch (t)
    {
    case UPM_GGUF_U8:
      g_string_append_printf (s, "%u", p[0]);
      return 1;
    case UPM_GGUF_I8:
      g_string_append_printf (s, "%d", (int8_t)p[0]);
      return 1;
    case UPM_GGUF_BOOL:
      g_string_append (s, p[0] ? "true" : "false");
      return 1;
    case UPM_GGUF_U16:
    case UPM_GGUF_I16:
      memcpy (&u16, p, 2);
      u16 = GUINT16_FROM_LE (u16);
      if (t == UPM_GGUF_U16)
        g_string_append_printf (s, "%u", u16);
      else
        g_string_append_printf (s, "%d", (int16_t)u16);
      return 2;
    case UPM_GGUF_U32:
    case UPM_GGUF_I32:
    case UPM_GGUF_F32:
      memcpy (&u32, p, 4);
      u32 = GUINT32_FROM_LE (u32);
      memcpy (&f, &u32, 4);
      if (t == UPM_GGUF_U32)
        g_string_append_printf (s, "%u", u32);
      else if (t == UPM_GGUF_I32)
        g_string_append_printf (s, "%d", (int32_t)u32);
      else
        append_float (s, f, TRUE, json);
      return 4;
    case UPM_GGUF_STRING:
      memcpy (&u64, p, 8);
      u64 = GUINT64_FROM_LE (u64);
      append_string (s, (const char *)p + 8, (gsize)u64, json);
      return 8 + (gsize)u64;
    default: /* u64, i64, f64: validated by the reader */
      memcpy (&u64, p, 8);
      u64 = GUINT64_FROM_LE (u64);
      memcpy (&d, &u64, 8);
      if (t == UPM_GGUF_U64)
        g_string_append_printf (s, "%" G_GUINT64_FORMAT, u64);
      else if (t == UPM_GGUF_I64)
        g_string_append_printf (s, "%" G_GINT64_FORMAT, (gint64)u64);
      else
        append_float (s, d, FALSE, json);
      return 8;
    }
}

static void
append_array (GString *s, const UpmGgufKv *kv, gboolean json)
{
  uint64_t shown = kv->array_type == UPM_GGUF_STRING ? MAX_STRINGS_SHOWN
                                                     : MAX_NUMBERS_SHOWN;
  const uint8_t *p = kv->raw;
  uint64_t i;

  shown = MIN (shown, kv->n);
  g_string_append (s, json ? "[" : "");
  for (i = 0; i < shown; i++)
    {
      g_string_append (s, i ? ", " : "");
      p += append_value (s, kv->array_type, p, json);
    }
  if (!json && shown < kv->n)
    g_string_append (s, ", ...");
  g_string_append (s, json ? "]" : "");
}

static void
append_shape (GString *s, const UpmTensor *t)
{
  guint i;

  g_string_append_c (s, '[');
  for (i = 0; i < t->n_dims; i++)
    g_string_append_printf (
        s, "%s%" G_GUINT64_FORMAT, i ? ", " : "", t->ne[t->n_dims - 1 - i]);
  g_string_append_c (s, ']');
}

static uint64_t
n_elements (const UpmTensor *t)
{
  switch (t->type)
    {
    case UPM_DTYPE_I8:
      return t->n_bytes;
    case UPM_DTYPE_F16:
    case UPM_DTYPE_BF16:
      return t->n_bytes / 2;
    default:
      return t->n_bytes / 4;
    }
}

/* "F32 171 (161.5 MB), BF16 48 (764.4 MB)": tensors and bytes per type. */
static void
append_type_summary (GString *s, const UpmGguf *g)
{
  static const UpmDType types[] = { UPM_DTYPE_F32, UPM_DTYPE_F16,
    UPM_DTYPE_BF16, UPM_DTYPE_I8, UPM_DTYPE_I32 };
  const char *sep = "";

  for (guint k = 0; k < G_N_ELEMENTS (types); k++)
    {
      guint n = 0;
      uint64_t bytes = 0;

      for (guint i = 0; i < upm_gguf_n_tensors (g); i++)
        if (upm_gguf_tensor (g, i)->type == types[k])
          {
            n++;
            bytes += upm_gguf_tensor (g, i)->n_bytes;
          }
      if (n)
        g_string_append_printf (s, "%s%s %u (%.1f MB)", sep,
            upm_dtype_name (types[k]), n, (double)bytes / 1e6);
      if (n)
        sep = ", ";
    }
}

/* Model weights only: cached target features are not parameters. */
static uint64_t
count_parameters (const UpmGguf *g)
{
  uint64_t total = 0;
  guint i;

  for (i = 0; i < upm_gguf_n_tensors (g); i++)
    {
      const UpmTensor *t = upm_gguf_tensor (g, i);

      /* nor are the scales of int8 weights */
      if (!g_str_has_suffix (t->name, ".features")
          && !g_str_has_suffix (t->name, ".scale"))
        total += n_elements (t);
    }
  return total;
}

static char *
kv_string (const UpmGguf *g, const char *key)
{
  const UpmGgufKv *kv = upm_gguf_find_kv (g, key);

  if (!kv || kv->type != UPM_GGUF_STRING)
    return NULL;
  return upm_gguf_get_string (g, key, NULL);
}

/* ------------------------------------------------------------------- text */

static void
print_text (const UpmGguf *g, const Options *opt)
{
  g_autoptr (GString) s = g_string_new (NULL);
  g_autofree char *arch = kv_string (g, "general.architecture");
  g_autofree char *name = kv_string (g, "general.name");
  guint i;

  g_string_append_printf (s,
      "file: %s\nsize: %" G_GUINT64_FORMAT
      " bytes\nformat: GGUF version %u, alignment %u\n"
      "architecture: %s\nname: %s\n",
      upm_gguf_path (g), upm_gguf_file_size (g), upm_gguf_version (g),
      upm_gguf_alignment (g), arch ? arch : "(none)", name ? name : "(none)");
  g_string_append_printf (s, "keys: %u\n", upm_gguf_n_kv (g));
  for (i = 0; i < upm_gguf_n_kv (g); i++)
    {
      const UpmGgufKv *kv = upm_gguf_kv (g, i);

      g_string_append_printf (s, "  %s: ", kv->key);
      if (kv->type == UPM_GGUF_ARRAY)
        {
          g_string_append_printf (s,
              "%s[%" G_GUINT64_FORMAT "] = ", type_name (kv->array_type),
              kv->n);
          append_array (s, kv, FALSE);
        }
      else
        {
          g_string_append_printf (s, "%s = ", type_name (kv->type));
          append_value (s, kv->type, kv->raw, FALSE);
        }
      g_string_append_c (s, '\n');
    }
  g_string_append_printf (s, "tensors: %u: ", upm_gguf_n_tensors (g));
  append_type_summary (s, g);
  g_string_append_c (s, '\n');
  for (i = 0; opt->tensors && i < upm_gguf_n_tensors (g); i++)
    {
      const UpmTensor *t = upm_gguf_tensor (g, i);

      g_string_append_printf (
          s, "  %-36s %s ", t->name, upm_dtype_name (t->type));
      append_shape (s, t);
      g_string_append_printf (s,
          " offset %" G_GUINT64_FORMAT " bytes %" G_GUINT64_FORMAT "\n",
          t->offset, t->n_bytes);
    }
  fputs (s->str, stdout);
}

/* The presets (upm-run --preset, the elements' preset property), "yes" or
 * why the model does not suit one. */
static void
print_text_presets (const UpmModel *m)
{
  printf ("presets:\n");
  for (guint i = 0; i < upm_n_presets (); i++)
    {
      const UpmPreset *p = upm_preset_get (i);
      g_autoptr (GError) err = NULL;

      if (upm_model_suits_preset (m, p, &err))
        printf ("  %-20s yes  %s\n", p->name, p->summary);
      else
        printf ("  %-20s no   %s\n", p->name, err->message);
    }
}

/* A prompt-tuned model's prompt and head (docs/prompt-tuning.md). */
static void
print_text_prompt (const UpmModel *m)
{
  guint n = 0;
  const char *const *labels = upm_model_prompt_labels (m, &n);

  if (upm_model_prompt_length (m) == 0)
    {
      printf ("prompt: none (not prompt-tuned)\n");
      return;
    }
  printf ("prompt: tuned for %s, %u prompt rows per layer, target prompts "
          "%s, spe_bias\n",
      upm_model_prompt_task (m), upm_model_prompt_length (m),
      upm_model_prompt_shared_target (m) ? "shared" : "separate");
  if (!labels)
    return;
  printf ("prompt head: fc_prompt, %u classes, similarity_weight %g "
          "(labels from the model when none are given):",
      n, upm_model_prompt_similarity_weight (m));
  for (guint i = 0; i < n; i++)
    printf ("%s %s", i ? "," : "", labels[i]);
  printf ("\n");
}

static void
print_text_result (const UpmGguf *g, const UpmModel *m, const GError *err)
{
  const UpmHParams *hp;
  guint l, n_moe = 0;

  if (!m)
    {
      printf ("validation: FAILED: %s\n", err->message);
      return;
    }
  hp = upm_model_hparams (m);
  for (l = 0; l < hp->n_layer; l++)
    n_moe += upm_model_layer_is_moe (m, l);
  printf ("validation: OK\n");
  printf ("summary: %" G_GUINT64_FORMAT " parameters, D %u, %u layers "
          "(%u MoE), %u heads, FFN %u, %u experts (top-%u), vocab %u, "
          "%u label sets\n",
      count_parameters (g), hp->n_embd, hp->n_layer, n_moe, hp->n_head,
      hp->n_ff, hp->n_expert, hp->n_expert_used, hp->n_vocab,
      upm_model_n_labelsets (m));
  print_text_prompt (m);
  printf ("linear weights: %s%s\n", upm_dtype_name (m->weights_dtype),
      m->weights_dtype == UPM_DTYPE_BF16 || m->weights_dtype == UPM_DTYPE_I8
          ? " (precision auto: bf16 unless UPM_PRECISION is set)"
          : "");
  print_text_presets (m);
}

/* ------------------------------------------------------------------- json */

/* "  \"<name>\": [" and @n objects, one a line, written by @item. */
static void
json_list (GString *s, const char *name, const UpmGguf *g, guint n,
    void (*item) (GString *s, const UpmGguf *g, guint i))
{
  guint i;

  g_string_append_printf (s, "  \"%s\": [", name);
  for (i = 0; i < n; i++)
    {
      g_string_append (s, i ? ",\n    " : "\n    ");
      item (s, g, i);
    }
  g_string_append (s, "\n  ],\n");
}

/* {"<member>": "<value>" -- an object up to its first member */
static void
json_object_open (GString *s, const char *member, const char *value)
{
  g_string_append_printf (s, "{\"%s\": ", member);
  append_string (s, value, strlen (value), TRUE);
}

static void
json_key (GString *s, const UpmGguf *g, guint i)
{
  const UpmGgufKv *kv = upm_gguf_kv (g, i);

  json_object_open (s, "key", kv->key);
  g_string_append_printf (s, ", \"type\": \"%s\"", type_name (kv->type));
  if (kv->type == UPM_GGUF_ARRAY)
    {
      g_string_append_printf (s,
          ", \"element_type\": \"%s\", \"length\": %" G_GUINT64_FORMAT
          ", \"values\": ",
          type_name (kv->array_type), kv->n);
      append_array (s, kv, TRUE);
    }
  else
    {
      g_string_append (s, ", \"value\": ");
      append_value (s, kv->type, kv->raw, TRUE);
    }
  g_string_append_c (s, '}');
}

static void
json_tensor (GString *s, const UpmGguf *g, guint i)
{
  const UpmTensor *t = upm_gguf_tensor (g, i);

  json_object_open (s, "name", t->name);
  g_string_append_printf (
      s, ", \"dtype\": \"%s\", \"shape\": ", upm_dtype_name (t->type));
  append_shape (s, t);
  g_string_append_printf (s,
      ", \"offset\": %" G_GUINT64_FORMAT ", \"bytes\": %" G_GUINT64_FORMAT "}",
      t->offset, t->n_bytes);
}

/* "prompt": null, or the prompt's facts and the head's labels. */
static void
json_prompt (GString *s, const UpmModel *m)
{
  guint n = 0;
  const char *const *labels = upm_model_prompt_labels (m, &n);
  const char *task = upm_model_prompt_task (m);

  if (upm_model_prompt_length (m) == 0)
    {
      g_string_append (s, "  \"prompt\": null,\n");
      return;
    }
  g_string_append (s, "  \"prompt\": {\"task\": ");
  append_string (s, task, strlen (task), TRUE);
  g_string_append_printf (s,
      ", \"length\": %u, \"shared_target\": %s, \"labels\": ",
      upm_model_prompt_length (m),
      upm_model_prompt_shared_target (m) ? "true" : "false");
  if (!labels)
    {
      g_string_append (s, "null},\n");
      return;
    }
  g_string_append_c (s, '[');
  for (guint i = 0; i < n; i++)
    {
      if (i)
        g_string_append (s, ", ");
      append_string (s, labels[i], strlen (labels[i]), TRUE);
    }
  g_string_append_printf (s, "], \"similarity_weight\": %.9g},\n",
      (double)upm_model_prompt_similarity_weight (m));
}

static void
json_result (GString *s, const UpmGguf *g, const UpmModel *m, const GError *err)
{
  const UpmHParams *hp;
  guint l;
  gboolean first = TRUE;

  if (!m)
    {
      g_string_append (s, "  \"valid\": false,\n  \"error\": ");
      append_string (s, err->message, strlen (err->message), TRUE);
      g_string_append (s, "\n}\n");
      return;
    }
  hp = upm_model_hparams (m);
  g_string_append_printf (s,
      "  \"valid\": true,\n  \"error\": null,\n"
      "  \"summary\": {\"parameters\": %" G_GUINT64_FORMAT ", "
      "\"embedding_length\": %u, \"layers\": %u, \"heads\": %u, "
      "\"feed_forward_length\": %u, \"experts\": %u, \"experts_used\": %u, "
      "\"vocab\": %u, \"labelsets\": %u, \"moe_layers\": [",
      count_parameters (g), hp->n_embd, hp->n_layer, hp->n_head, hp->n_ff,
      hp->n_expert, hp->n_expert_used, hp->n_vocab, upm_model_n_labelsets (m));
  for (l = 0; l < hp->n_layer; l++)
    {
      if (upm_model_layer_is_moe (m, l))
        {
          g_string_append_printf (s, "%s%u", first ? "" : ", ", l);
          first = FALSE;
        }
    }
  g_string_append (s, "]},\n");
  json_prompt (s, m);
  g_string_append (s, "  \"presets\": [");
  for (guint i = 0; i < upm_n_presets (); i++)
    {
      const UpmPreset *p = upm_preset_get (i);
      g_autoptr (GError) why = NULL;
      gboolean suits = upm_model_suits_preset (m, p, &why);

      g_string_append_printf (s,
          "%s\n    {\"name\": \"%s\", \"suits\": %s, "
          "\"reason\": ",
          i ? "," : "", p->name, suits ? "true" : "false");
      if (suits)
        g_string_append (s, "null}");
      else
        append_string (s, why->message, strlen (why->message), TRUE);
      if (!suits)
        g_string_append_c (s, '}');
    }
  g_string_append (s, "\n  ]\n}\n");
}

static void
print_json (const UpmGguf *g, const UpmModel *m, const GError *err)
{
  g_autoptr (GString) s = g_string_new ("{\n  \"file\": ");
  g_autofree char *arch = kv_string (g, "general.architecture");
  g_autofree char *name = kv_string (g, "general.name");

  append_string (s, upm_gguf_path (g), strlen (upm_gguf_path (g)), TRUE);
  g_string_append_printf (s,
      ",\n  \"size\": %" G_GUINT64_FORMAT
      ",\n  \"version\": %u,\n  \"alignment\": %u,\n  \"architecture\": ",
      upm_gguf_file_size (g), upm_gguf_version (g), upm_gguf_alignment (g));
  if (arch)
    append_string (s, arch, strlen (arch), TRUE);
  else
    g_string_append (s, "null");
  g_string_append (s, ",\n  \"name\": ");
  if (name)
    append_string (s, name, strlen (name), TRUE);
  else
    g_string_append (s, "null");
  g_string_append (s, ",\n");
  json_list (s, "keys", g, upm_gguf_n_kv (g), json_key);
  json_list (s, "tensors", g, upm_gguf_n_tensors (g), json_tensor);
  json_result (s, g, m, err);
  fputs (s->str, stdout);
}

static void
print_open_error (const char *path, const GError *err, gboolean json)
{
  g_autoptr (GString) s = g_string_new (NULL);

  if (!json)
    {
      printf ("validation: FAILED: %s\n", err->message);
      return;
    }
  g_string_append (s, "{\n  \"file\": ");
  append_string (s, path, strlen (path), TRUE);
  g_string_append (s, ",\n  \"valid\": false,\n  \"error\": ");
  append_string (s, err->message, strlen (err->message), TRUE);
  g_string_append (s, "\n}\n");
  fputs (s->str, stdout);
}

/* -------------------------------------------------------------------- cpu */

static void
print_cpu (void)
{
  const UpmCpuInfo *info = upm_cpu_info ();

  printf ("kernels: %s\n", upm_cpu_level_name (info->level));
  printf ("why: %s\n", info->reason);
  printf (
      "CPU supports: %s (%s)\n", upm_cpu_level_name (info->host), info->flags);
  printf ("levels with kernels in this build:");
  for (int l = 0; l < UPM_CPU_N_LEVELS; l++)
    if (upm_cpu_level_has_kernels (l))
      printf (" %s", upm_cpu_level_name (l));
  printf ("\n");
  printf ("bf16 GEMM and attention: %s\n",
      info->level >= UPM_CPU_AVX512BF16
          ? "vdpbf16ps (BF16 dot product, 2x the float FMA rate)"
      : info->level >= UPM_CPU_AVX2
          ? "bfloat16 weights widened to float FMAs (half the weight traffic, "
            "no faster arithmetic)"
          : "plain emulation (inputs rounded to bfloat16, float sums)");
  printf ("precision (UPM_PRECISION): %s\n",
      g_getenv ("UPM_PRECISION") ? g_getenv ("UPM_PRECISION")
                                 : "unset: fp32 unless the caller asks");
}

/* ------------------------------------------------------------------- main */

static gboolean
parse_args (int *argc, char ***argv, Options *opt, char **path)
{
  GOptionEntry entries[]
      = { { "tensors", 't', 0, G_OPTION_ARG_NONE, &opt->tensors,
              "List the tensors (name, dtype, shape, offset, bytes)", NULL },
          { "json", 'j', 0, G_OPTION_ARG_NONE, &opt->json,
              "Print JSON (always with the tensor list)", NULL },
          { "cpu", 0, 0, G_OPTION_ARG_NONE, &opt->cpu,
              "Print the kernels' ISA level on this machine, what the CPU "
              "supports and why (no FILE)",
              NULL },
          { NULL } };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("FILE");
  g_autoptr (GError) err = NULL;

  g_option_context_set_summary (ctx,
      "Print the metadata and tensors of a "
      ".upm (GGUF v3) model file and validate it.\nExit status 0 when the "
      "file is a valid model, 1 otherwise.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, argc, argv, &err)
      || *argc != (opt->cpu ? 1 : 2))
    {
      g_printerr ("upm-inspect: %s\n",
          err ? err->message : "expected exactly one FILE (see --help)");
      return FALSE;
    }
  *path = opt->cpu ? NULL : (*argv)[1];
  return TRUE;
}

int
main (int argc, char **argv)
{
  Options opt = { FALSE, FALSE, FALSE };
  g_autoptr (GError) err = NULL;
  UpmGguf *g;
  UpmModel *m;
  char *path;

  if (!parse_args (&argc, &argv, &opt, &path))
    return 1;
  if (opt.cpu)
    {
      print_cpu ();
      return 0;
    }
  g = upm_gguf_open (path, &err);
  if (!g)
    {
      print_open_error (path, err, opt.json);
      return 1;
    }
  m = upm_model_load (path, &err);
  if (opt.json)
    {
      print_json (g, m, err);
    }
  else
    {
      print_text (g, &opt);
      print_text_result (g, m, err);
    }
  upm_gguf_close (g);
  if (!m)
    return 1;
  upm_model_unref (m);
  return 0;
}
