/* upm-eval: run an evaluation manifest (clips, label sets, retrieval
 * captions, captioning) through the C engine with one loaded model and one
 * context, and print the raw per-clip results as JSON lines.
 *
 * The metrics themselves are computed by tools/evaluate.py, which writes
 * the manifest; this program only knows the inputs, never the answers.
 * A label set that is a prompt-tuned classifier's own classes, in order, is
 * scored by its head ("prompt_head":true in the set's result;
 * docs/prompt-tuning.md).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "upm-cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#define MAX_SIDE 16384

/* ------------------------------------------------------------- types */

typedef struct
{
  UpmCliOptions cli; /* model, output, progress, threads, top-k, beam, length */
  char *manifest;
  gboolean no_caption, no_retrieval, no_labels;
} Options;

typedef struct
{
  char *id;
  guint width, height, frames;
  guint64 offset;
} ClipInfo;

typedef struct
{
  char *name;
  char **labels; /* NULL-terminated */
  guint n_labels;
  float *feats; /* n_labels x D, cls_target */
} LabelSet;

/* Milliseconds spent per stage, summed over the clips. */
typedef struct
{
  double preprocess, classify, retrieve, caption, total;
} Timing;

typedef struct
{
  Options opt;
  UpmModel *model;
  UpmContext *ctx;
  const UpmHParams *hp;
  UpmCliOutput io; /* output file, progress */

  /* manifest */
  char *frames_path;
  GMappedFile *map;
  const uint8_t *data;
  gsize data_len;
  ClipInfo *clips;
  guint n_clips;
  LabelSet *sets;
  guint n_sets;
  char **captions; /* retrieval texts, one per clip, or NULL */
  guint group_size;
  gboolean do_caption;
  UpmCaptionParams cap_params;

  /* state */
  gsize frame_floats;
  float *patches;         /* n_temporal frames */
  float *cap_feats;       /* n_clips x D, retrieval_target */
  float *vid_feats;       /* n_clips x D, retrieval_input */
  gboolean visual_shared; /* cls_input feature reused for retrieval */
  Timing t;
  double setup_ms[4]; /* labels, captions, vocab, load */
} Eval;

/* ------------------------------------------------------------ options */

static gboolean
parse_options (Options *o, int *argc, char ***argv, GError **error)
{
  UpmCliOptions *c = &o->cli;
  GOptionEntry entries[] = { UPM_CLI_OPTION_MODEL (c),
    { "manifest", 'i', 0, G_OPTION_ARG_FILENAME, &o->manifest,
        "Evaluation manifest (JSON, see --help)", "FILE" },
    UPM_CLI_OPTION_OUTPUT (c, "Write the JSON lines here (default: stdout)"),
    UPM_CLI_OPTION_INT (
        "top-k", 'k', c->top_k, "Best labels listed per label set (default 5)"),
    UPM_CLI_OPTION_INT ("beam-size", 0, c->beam_size,
        "Caption beam size (default: manifest, then the model's)"),
    UPM_CLI_OPTION_INT ("max-length", 0, c->max_length,
        "Caption length in tokens (default: manifest, then the model's)"),
    { "no-caption", 0, 0, G_OPTION_ARG_NONE, &o->no_caption,
        "Skip captioning even if the manifest asks for it", NULL },
    { "no-retrieval", 0, 0, G_OPTION_ARG_NONE, &o->no_retrieval,
        "Skip retrieval even if the manifest asks for it", NULL },
    { "no-labels", 0, 0, G_OPTION_ARG_NONE, &o->no_labels,
        "Skip the label sets of the manifest", NULL },
    UPM_CLI_OPTION_PRECISION (c), UPM_CLI_OPTION_PROGRESS (c),
    UPM_CLI_OPTION_THREADS (c), { NULL } };

  return upm_cli_parse (entries,
      "Run an evaluation manifest through a Uni-Perceiver(-MoE) model and "
      "print\nthe raw results as JSON lines (tools/evaluate.py computes the "
      "metrics).",
      "Manifest (JSON):\n"
      "  {\"frames_file\": \"clips.rgb\",   raw RGB24, relative to the "
      "manifest\n"
      "   \"clips\": [{\"id\": \"10000000\", \"width\": 48, \"height\": 48,\n"
      "              \"frames\": 4, \"offset\": 0}, ...],  offset optional:\n"
      "                                  clips follow each other by default\n"
      "   \"labelsets\": [{\"name\": \"motion\", \"labels\": [\"moving left\", "
      "...]}],\n"
      "   \"retrieval\": {\"group_size\": 100, \"captions\": [one per clip]},\n"
      "   \"caption\": true | {\"beam_size\": 0, \"max_length\": 0}}\n"
      "Every part but frames_file and clips is optional.\n\n"
      "Output lines (\"type\"): model (hyper-parameters, logit scales, the "
      "MoE\nrouting of every attribute row), setup (text features and "
      "timings), clip\n(per-label-set probabilities and top-k, caption "
      "text/ids/score, ms per\nstage), retrieval (per group: similarity "
      "matrix rows = captions,\ncolumns = videos, and the rank of each "
      "clip's own video/caption),\nsummary (totals and mean ms per clip).\n\n"
      "Exit status: 0 success, 1 runtime error, 2 usage error.\n",
      argc, argv, error);
}

static gboolean
check_options (Eval *e, GError **error)
{
  Options *o = &e->opt;
  UpmCliOptions *c = &o->cli;

  if (c->model == NULL)
    c->model = g_strdup (upm_default_model_path ());
  if (o->manifest == NULL)
    return upm_cli_usage (error, "--manifest is required");
  if (c->top_k < 0 || c->beam_size < 0 || c->max_length < 0 || c->threads < 0)
    return upm_cli_usage (error, "numeric options must not be negative");
  if (!upm_cli_parse_precision (c, error))
    return FALSE;
  return upm_cli_parse_progress (c->progress, &e->io.show_progress, error);
}

/* ----------------------------------------------------------- manifest */

static gboolean bad_manifest (Eval *e, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
bad_manifest (Eval *e, GError **error, const char *fmt, ...)
{
  va_list ap;
  char *msg;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, UPM_ERROR, UPM_ERROR_INVALID_ARGUMENT, "%s: %s",
      e->opt.manifest, msg);
  g_free (msg);
  return FALSE;
}

static JsonNode *
member (JsonObject *obj, const char *name)
{
  return obj && json_object_has_member (obj, name)
             ? json_object_get_member (obj, name)
             : NULL;
}

static gboolean
node_is_int (JsonNode *n)
{
  return n && JSON_NODE_HOLDS_VALUE (n)
         && json_node_get_value_type (n) == G_TYPE_INT64;
}

static gboolean
node_is_string (JsonNode *n)
{
  return n && JSON_NODE_HOLDS_VALUE (n)
         && json_node_get_value_type (n) == G_TYPE_STRING;
}

/* An integer member in [lo, hi]; @def when absent and not @required. */
static gboolean
get_uint (Eval *e, JsonObject *obj, const char *what, const char *name,
    gboolean required, guint64 def, guint64 lo, guint64 hi, guint64 *out,
    GError **error)
{
  JsonNode *n = member (obj, name);
  gint64 v;

  if (n == NULL && !required)
    {
      *out = def;
      return TRUE;
    }
  if (!node_is_int (n))
    return bad_manifest (e, error, "%s: \"%s\" must be an integer", what, name);
  v = json_node_get_int (n);
  if (v < 0 || (guint64)v < lo || (guint64)v > hi)
    return bad_manifest (e, error,
        "%s: \"%s\" = %" G_GINT64_FORMAT " is out of range [%" G_GUINT64_FORMAT
        ", %" G_GUINT64_FORMAT "]",
        what, name, v, lo, hi);
  *out = (guint64)v;
  return TRUE;
}

/* A JSON array of strings -> NULL-terminated strv. */
static char **
get_strings (
    Eval *e, JsonNode *n, const char *what, guint *n_out, GError **error)
{
  JsonArray *arr;
  GPtrArray *out;
  guint i, len;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    {
      bad_manifest (e, error, "%s must be an array of strings", what);
      return NULL;
    }
  arr = json_node_get_array (n);
  len = json_array_get_length (arr);
  out = g_ptr_array_new_full (len + 1, g_free);
  for (i = 0; i < len; i++)
    {
      JsonNode *s = json_array_get_element (arr, i);

      if (!node_is_string (s) || *json_node_get_string (s) == '\0')
        {
          g_ptr_array_free (out, TRUE);
          bad_manifest (e, error, "%s[%u] must be a non-empty string", what, i);
          return NULL;
        }
      g_ptr_array_add (out, g_strdup (json_node_get_string (s)));
    }
  g_ptr_array_add (out, NULL);
  *n_out = len;
  g_ptr_array_set_free_func (out, NULL);
  return (char **)g_ptr_array_free (out, FALSE);
}

static gboolean
parse_clips (Eval *e, JsonNode *n, GError **error)
{
  const UpmHParams *hp = e->hp;
  JsonArray *arr;
  guint64 next = 0;
  guint i;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return bad_manifest (e, error, "\"clips\" must be an array");
  arr = json_node_get_array (n);
  e->n_clips = json_array_get_length (arr);
  if (e->n_clips == 0)
    return bad_manifest (e, error, "\"clips\" is empty");
  e->clips = g_new0 (ClipInfo, e->n_clips);
  for (i = 0; i < e->n_clips; i++)
    {
      JsonNode *cn = json_array_get_element (arr, i), *idn;
      JsonObject *co;
      ClipInfo *c = &e->clips[i];
      char what[32];
      guint64 w, h, f, off, bytes;

      g_snprintf (what, sizeof what, "clips[%u]", i);
      if (!JSON_NODE_HOLDS_OBJECT (cn))
        return bad_manifest (e, error, "%s must be an object", what);
      co = json_node_get_object (cn);
      idn = member (co, "id");
      if (node_is_string (idn))
        c->id = g_strdup (json_node_get_string (idn));
      else if (node_is_int (idn))
        c->id = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (idn));
      else
        c->id = g_strdup_printf ("%u", i);
      if (!get_uint (e, co, what, "width", TRUE, 0, 1, MAX_SIDE, &w, error)
          || !get_uint (e, co, what, "height", TRUE, 0, 1, MAX_SIDE, &h, error)
          || !get_uint (
              e, co, what, "frames", TRUE, 0, 1, hp->n_temporal, &f, error)
          || !get_uint (
              e, co, what, "offset", FALSE, next, 0, G_MAXINT64, &off, error))
        return FALSE;
      bytes = w * h * 3 * f;
      if (off > e->data_len || bytes > e->data_len - off)
        return bad_manifest (e, error,
            "%s (%" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT
            ", %" G_GUINT64_FORMAT " frames at offset %" G_GUINT64_FORMAT
            ") lies beyond the end of %s (%" G_GSIZE_FORMAT " bytes)",
            what, w, h, f, off, e->frames_path, e->data_len);
      c->width = (guint)w;
      c->height = (guint)h;
      c->frames = (guint)f;
      c->offset = off;
      next = off + bytes;
    }
  return TRUE;
}

static gboolean
parse_labelsets (Eval *e, JsonNode *n, GError **error)
{
  JsonArray *arr;
  guint i, j;

  if (!JSON_NODE_HOLDS_ARRAY (n))
    return bad_manifest (e, error, "\"labelsets\" must be an array");
  arr = json_node_get_array (n);
  e->n_sets = json_array_get_length (arr);
  e->sets = g_new0 (LabelSet, e->n_sets);
  for (i = 0; i < e->n_sets; i++)
    {
      JsonNode *sn = json_array_get_element (arr, i), *name;
      LabelSet *s = &e->sets[i];
      char what[48];

      g_snprintf (what, sizeof what, "labelsets[%u]", i);
      if (!JSON_NODE_HOLDS_OBJECT (sn))
        return bad_manifest (e, error, "%s must be an object", what);
      name = member (json_node_get_object (sn), "name");
      if (!node_is_string (name) || *json_node_get_string (name) == '\0')
        return bad_manifest (
            e, error, "%s.name must be a non-empty string", what);
      s->name = g_strdup (json_node_get_string (name));
      for (j = 0; j < i; j++)
        if (g_str_equal (e->sets[j].name, s->name))
          return bad_manifest (
              e, error, "label set \"%s\" appears twice", s->name);
      g_strlcat (what, ".labels", sizeof what);
      s->labels = get_strings (e, member (json_node_get_object (sn), "labels"),
          what, &s->n_labels, error);
      if (s->labels == NULL)
        return FALSE;
      if (s->n_labels == 0)
        return bad_manifest (e, error, "label set \"%s\" is empty", s->name);
    }
  return TRUE;
}

static gboolean
parse_retrieval (Eval *e, JsonNode *n, GError **error)
{
  JsonObject *ro;
  guint64 g;
  guint n_caps = 0;

  if (!JSON_NODE_HOLDS_OBJECT (n))
    return bad_manifest (e, error, "\"retrieval\" must be an object");
  ro = json_node_get_object (n);
  if (!get_uint (e, ro, "retrieval", "group_size", FALSE, 100, 1, G_MAXUINT, &g,
          error))
    return FALSE;
  e->group_size = (guint)g;
  e->captions = get_strings (
      e, member (ro, "captions"), "retrieval.captions", &n_caps, error);
  if (e->captions == NULL)
    return FALSE;
  if (n_caps != e->n_clips)
    return bad_manifest (e, error,
        "retrieval.captions has %u entries for %u "
        "clips",
        n_caps, e->n_clips);
  return TRUE;
}

static gboolean
parse_caption (Eval *e, JsonNode *n, GError **error)
{
  JsonObject *co;
  guint64 beam, len;
  JsonNode *lp;

  e->cap_params.length_penalty = -1.0f;
  if (JSON_NODE_HOLDS_VALUE (n)
      && json_node_get_value_type (n) == G_TYPE_BOOLEAN)
    {
      e->do_caption = json_node_get_boolean (n);
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_OBJECT (n))
    return bad_manifest (e, error,
        "\"caption\" must be a boolean or an "
        "object");
  co = json_node_get_object (n);
  if (!get_uint (e, co, "caption", "beam_size", FALSE, 0, 0, 64, &beam, error)
      || !get_uint (
          e, co, "caption", "max_length", FALSE, 0, 0, 1024, &len, error))
    return FALSE;
  lp = member (co, "length_penalty");
  if (lp)
    {
      if (!JSON_NODE_HOLDS_VALUE (lp)
          || (json_node_get_value_type (lp) != G_TYPE_DOUBLE
              && json_node_get_value_type (lp) != G_TYPE_INT64))
        return bad_manifest (e, error,
            "caption.length_penalty must be a "
            "number");
      e->cap_params.length_penalty = (float)json_node_get_double (lp);
    }
  e->cap_params.beam_size = (uint32_t)beam;
  e->cap_params.max_length = (uint32_t)len;
  e->do_caption = TRUE;
  return TRUE;
}

static gboolean
load_manifest (Eval *e, GError **error)
{
  JsonParser *parser = json_parser_new ();
  JsonNode *root, *n;
  JsonObject *obj;
  char *dir = NULL;
  gboolean ok = FALSE;
  GError *err = NULL;
  int fd;

  if (!json_parser_load_from_file (parser, e->opt.manifest, &err))
    {
      g_propagate_error (error, err);
      goto out;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      bad_manifest (e, error, "the top level must be an object");
      goto out;
    }
  obj = json_node_get_object (root);
  n = member (obj, "frames_file");
  if (!node_is_string (n))
    {
      bad_manifest (e, error, "\"frames_file\" must be a string");
      goto out;
    }
  dir = g_path_get_dirname (e->opt.manifest);
  e->frames_path = g_path_is_absolute (json_node_get_string (n))
                       ? g_strdup (json_node_get_string (n))
                       : g_build_filename (dir, json_node_get_string (n), NULL);
  fd = g_open (e->frames_path, O_RDONLY, 0);
  if (fd < 0)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_IO, "%s: %s", e->frames_path,
          g_strerror (errno));
      goto out;
    }
  e->map = g_mapped_file_new_from_fd (fd, FALSE, &err);
  close (fd);
  if (e->map == NULL)
    {
      g_set_error (error, UPM_ERROR, UPM_ERROR_IO, "%s: cannot map: %s",
          e->frames_path, err->message);
      g_clear_error (&err);
      goto out;
    }
  e->data = (const uint8_t *)g_mapped_file_get_contents (e->map);
  e->data_len = g_mapped_file_get_length (e->map);
  if (!parse_clips (e, member (obj, "clips"), error))
    goto out;
  if ((n = member (obj, "labelsets")) && !e->opt.no_labels
      && !parse_labelsets (e, n, error))
    goto out;
  if ((n = member (obj, "retrieval")) && !e->opt.no_retrieval
      && !parse_retrieval (e, n, error))
    goto out;
  if ((n = member (obj, "caption")) && !parse_caption (e, n, error))
    goto out;
  if (e->opt.no_caption)
    e->do_caption = FALSE;
  if (e->opt.cli.beam_size > 0)
    e->cap_params.beam_size = (uint32_t)e->opt.cli.beam_size;
  if (e->opt.cli.max_length > 0)
    e->cap_params.max_length = (uint32_t)e->opt.cli.max_length;
  ok = TRUE;
out:
  g_free (dir);
  g_object_unref (parser);
  return ok;
}

/* ------------------------------------------------------------- output */

static gboolean
emit (Eval *e, GString *s, GError **error)
{
  gboolean ok;

  g_string_append_c (s, '\n');
  ok = upm_cli_write (&e->io, s, error);
  g_string_free (s, TRUE);
  return ok;
}

static double
ms_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1000.0;
}

static gboolean
emit_model (Eval *e, GError **error)
{
  const UpmHParams *hp = e->hp;
  GString *s = g_string_new ("{\"type\":\"model\",\"path\":");
  gboolean first = TRUE;
  guint l, g, a;

  upm_json_string (s, upm_model_path (e->model));
  g_string_append (s, ",\"name\":");
  upm_json_string (
      s, upm_model_name (e->model) ? upm_model_name (e->model) : "");
  g_string_append (s, ",\"precision\":");
  upm_json_string (s, upm_cli_precision_used (e->ctx));
  g_string_append_printf (s,
      ",\"hparams\":{\"n_embd\":%u,\"n_layer\":%u,"
      "\"n_head\":%u,\"n_ff\":%u,\"n_vocab\":%u,\"patch_size\":%u,"
      "\"image_size\":%u,\"grid\":%u,\"n_temporal\":%u,\"clip_frames\":%u,"
      "\"n_expert\":%u,\"n_expert_used\":%u,\"caption_max_length\":%u,"
      "\"caption_beam_size\":%u,\"caption_length_penalty\":%g}",
      hp->n_embd, hp->n_layer, hp->n_head, hp->n_ff, hp->n_vocab,
      hp->patch_size, hp->image_size, hp->grid, hp->n_temporal, hp->clip_frames,
      hp->n_expert, hp->n_expert_used, hp->caption_max_length,
      hp->caption_beam_size, hp->caption_length_penalty);
  g_string_append (s, ",\"logit_scales\":{");
  for (a = 0; a < UPM_N_SCALES; a++)
    {
      g_string_append_printf (
          s, "%s\"%s\":", a ? "," : "", upm_scale_name ((UpmScale)a));
      upm_json_number (s, upm_model_logit_scale (e->model, (UpmScale)a));
    }
  g_string_append (s, "},\"moe_layers\":[");
  for (l = 0; l < hp->n_layer; l++)
    if (upm_model_layer_is_moe (e->model, l))
      {
        g_string_append_printf (s, "%s%u", first ? "" : ",", l);
        first = FALSE;
      }
  g_string_append (s, "],\"routing\":[");
  first = TRUE;
  for (l = 0; l < hp->n_layer; l++)
    {
      if (!upm_model_layer_is_moe (e->model, l))
        continue;
      for (g = 0; g < UPM_N_GATES; g++)
        for (a = 0; a < UPM_N_ATTRS; a++)
          {
            uint32_t ex[2];
            float w[2];

            if (!upm_model_route (
                    e->model, l, (UpmGateKind)g, (UpmAttr)a, ex, w))
              continue;
            g_string_append_printf (s,
                "%s{\"layer\":%u,\"gate\":\"%s\","
                "\"attr\":\"%s\",\"experts\":[%u,%u],\"weights\":",
                first ? "" : ",", l, upm_cli_gate_name ((UpmGateKind)g),
                upm_attr_name ((UpmAttr)a), ex[0], ex[1]);
            upm_json_floats (s, w, 2);
            g_string_append_c (s, '}');
            first = FALSE;
          }
    }
  g_string_append (s, "]}");
  return emit (e, s, error);
}

static gboolean
emit_setup (Eval *e, GError **error)
{
  GString *s = g_string_new ("{\"type\":\"setup\"");
  guint i;

  g_string_append_printf (s, ",\"clips\":%u,\"frames_file\":", e->n_clips);
  upm_json_string (s, e->frames_path);
  g_string_append (s, ",\"labelsets\":[");
  for (i = 0; i < e->n_sets; i++)
    {
      g_string_append (s, i ? ",{\"name\":" : "{\"name\":");
      upm_json_string (s, e->sets[i].name);
      g_string_append_printf (s, ",\"n_labels\":%u}", e->sets[i].n_labels);
    }
  g_string_append_printf (
      s, "],\"retrieval\":%s", e->captions ? "true" : "false");
  if (e->captions)
    g_string_append_printf (s, ",\"group_size\":%u", e->group_size);
  g_string_append_printf (
      s, ",\"caption\":%s", e->do_caption ? "true" : "false");
  if (e->do_caption)
    g_string_append_printf (s, ",\"beam_size\":%u,\"max_length\":%u",
        e->cap_params.beam_size ? e->cap_params.beam_size
                                : e->hp->caption_beam_size,
        e->cap_params.max_length ? e->cap_params.max_length
                                 : e->hp->caption_max_length);
  g_string_append_printf (s,
      ",\"ms\":{\"load_model\":%.3f,"
      "\"label_features\":%.3f,\"caption_features\":%.3f,"
      "\"vocab_features\":%.3f}}",
      e->setup_ms[3], e->setup_ms[0], e->setup_ms[1], e->setup_ms[2]);
  return emit (e, s, error);
}

/* -------------------------------------------------------------- setup */

static gboolean
load_model (Eval *e, GError **error)
{
  gint64 t0 = g_get_monotonic_time ();

  if (!upm_cli_load_model (e->opt.cli.model, e->opt.cli.precision_value,
          &e->model, &e->ctx, error))
    return FALSE;
  e->hp = upm_model_hparams (e->model);
  e->frame_floats = upm_cli_frame_floats (e->hp);
  e->patches = g_new (float, e->frame_floats * e->hp->n_temporal);
  e->setup_ms[3] = ms_since (t0);
  return TRUE;
}

static gboolean
setup_features (Eval *e, GError **error)
{
  const guint d = e->hp->n_embd;
  gint64 t0 = g_get_monotonic_time ();
  guint i;

  for (i = 0; i < e->n_sets; i++)
    {
      LabelSet *s = &e->sets[i];

      s->feats = g_new (float, (gsize)s->n_labels *d);
      if (!upm_model_text_features (e->model, (const char *const *)s->labels,
              s->n_labels, UPM_ATTR_CLS_TARGET, s->feats, error))
        {
          g_prefix_error (error, "label set \"%s\": ", s->name);
          return FALSE;
        }
    }
  e->setup_ms[0] = ms_since (t0);
  t0 = g_get_monotonic_time ();
  if (e->captions)
    {
      e->cap_feats = g_new (float, (gsize)e->n_clips *d);
      e->vid_feats = g_new (float, (gsize)e->n_clips *d);
      if (!upm_model_text_features (e->model, (const char *const *)e->captions,
              e->n_clips, UPM_ATTR_RETRIEVAL_TARGET, e->cap_feats, error))
        {
          g_prefix_error (error, "retrieval captions: ");
          return FALSE;
        }
    }
  e->setup_ms[1] = ms_since (t0);
  t0 = g_get_monotonic_time ();
  if (e->do_caption && !upm_cli_vocab_features (e->model, &e->io, error))
    return FALSE;
  e->setup_ms[2] = ms_since (t0);
  return TRUE;
}

/* ------------------------------------------------------------- clips */

static gboolean
same_attr_bits (Eval *e, UpmAttr a, UpmAttr b)
{
  const uint8_t *x = upm_model_attr_bits (e->model, a);
  const uint8_t *y = upm_model_attr_bits (e->model, b);

  return x && y && memcmp (x, y, 8) == 0;
}

/* Whether @ls is a prompt-tuned classifier's own classes, in its head's
 * order: then the head scores them (docs/prompt-tuning.md). */
static gboolean
is_prompt_head_set (Eval *e, const LabelSet *ls)
{
  guint n = 0;
  const char *const *own = upm_model_prompt_labels (e->model, &n);

  if (!own || n != ls->n_labels)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (strcmp (own[i], ls->labels[i]) != 0)
      return FALSE;
  return TRUE;
}

static gboolean
run_labelsets (
    Eval *e, guint frames, GString *s, float *feature, GError **error)
{
  float scale = upm_model_logit_scale (
      e->model, frames == 1 ? UPM_SCALE_IMG_CLS : UPM_SCALE_VIDEO_CLS);
  g_autofree float *hidden = g_new (float, e->hp->n_embd);
  guint i, j;

  if (!upm_encode_visual_hidden (
          e->ctx, e->patches, frames, UPM_ATTR_CLS_INPUT, hidden, NULL, error))
    return FALSE;
  upm_feature_from_hidden (e->ctx, hidden, feature);
  g_string_append (s, ",\"labelsets\":{");
  for (i = 0; i < e->n_sets; i++)
    {
      LabelSet *ls = &e->sets[i];
      guint n = ls->n_labels;
      guint k = upm_cli_top_k (&e->opt.cli, n);
      float *logits = g_new (float, n), *probs = g_new (float, n);
      UpmScore *top = g_new (UpmScore, k);

      const gboolean head = is_prompt_head_set (e, ls);

      if (!head)
        upm_classify (e->hp, feature, ls->feats, n, scale, logits, probs);
      else if (!upm_classify_prompt (
                   e->model, hidden, ls->feats, n, scale, logits, probs, error))
        {
          g_free (top);
          g_free (probs);
          g_free (logits);
          return FALSE;
        }
      upm_top_k (logits, probs, n, k, top);
      if (i)
        g_string_append_c (s, ',');
      upm_json_string (s, ls->name);
      g_string_append (
          s, head ? ":{\"prompt_head\":true,\"top\":[" : ":{\"top\":[");
      for (j = 0; j < k; j++)
        g_string_append_printf (s, "%s%u", j ? "," : "", top[j].index);
      g_string_append (s, "],\"label\":");
      upm_json_string (s, ls->labels[top[0].index]);
      g_string_append (s, ",\"probs\":");
      upm_json_floats (s, probs, n);
      g_string_append (s, ",\"logits\":");
      upm_json_floats (s, logits, n);
      g_string_append_c (s, '}');
      g_free (top);
      g_free (probs);
      g_free (logits);
    }
  g_string_append_c (s, '}');
  return TRUE;
}

static gboolean
run_retrieval_input (
    Eval *e, guint idx, guint frames, const float *cls_feat, GError **error)
{
  const guint d = e->hp->n_embd;
  float *dst = e->vid_feats + (gsize)idx * d;

  if (e->visual_shared)
    {
      memcpy (dst, cls_feat, d * sizeof (float));
      return TRUE;
    }
  if (!upm_encode_visual (e->ctx, e->patches, frames, UPM_ATTR_RETRIEVAL_INPUT,
          dst, NULL, error))
    return FALSE;
  /* The first clip decides whether the cls_input feature can be reused:
   * only when both rows have the same bits and give the same feature. */
  if (idx == 0 && cls_feat
      && same_attr_bits (e, UPM_ATTR_CLS_INPUT, UPM_ATTR_RETRIEVAL_INPUT))
    {
      guint i;
      float diff = 0.0f;

      for (i = 0; i < d; i++)
        diff = MAX (diff, fabsf (dst[i] - cls_feat[i]));
      e->visual_shared = diff <= 1e-6f;
    }
  return TRUE;
}

static gboolean
run_caption (Eval *e, guint frames, GString *s, GError **error)
{
  UpmCaption cap = { 0 };
  char *text;

  if (!upm_caption (
          e->ctx, e->patches, frames, &e->cap_params, &cap, NULL, error))
    return FALSE;
  text = g_utf8_make_valid (cap.text ? cap.text : "", -1);
  g_string_append (s, ",\"caption\":{\"text\":");
  upm_json_string (s, text);
  g_string_append (s, ",\"ids\":");
  upm_json_ints (s, cap.ids, cap.n_ids);
  g_string_append (s, ",\"score\":");
  upm_json_number (s, cap.score);
  g_string_append_c (s, '}');
  g_free (text);
  upm_caption_clear (&cap);
  return TRUE;
}

static gboolean
preprocess (Eval *e, const ClipInfo *c, GError **error)
{
  gsize frame_bytes = (gsize)c->width * c->height * 3;
  guint f;

  for (f = 0; f < c->frames; f++)
    if (!upm_vision_frame_to_patches (e->hp, UPM_NORM_VIDEO,
            e->data + c->offset + f * frame_bytes, (int)c->width,
            (int)c->height, (int)c->width * 3, e->patches + f * e->frame_floats,
            error))
      {
        g_prefix_error (error, "clip %s frame %u: ", c->id, f);
        return FALSE;
      }
  return TRUE;
}

static gboolean
run_clip (Eval *e, guint idx, GError **error)
{
  const ClipInfo *c = &e->clips[idx];
  GString *s = g_string_new ("{\"type\":\"clip\"");
  float *feature = g_new (float, e->hp->n_embd);
  gboolean have_cls = FALSE, ok;
  gint64 t_clip = g_get_monotonic_time (), t0 = t_clip;
  double ms[4] = { 0.0, 0.0, 0.0, 0.0 };

  g_string_append_printf (s, ",\"index\":%u,\"id\":", idx);
  upm_json_string (s, c->id);
  g_string_append_printf (s, ",\"frames\":%u", c->frames);
  ok = preprocess (e, c, error);
  ms[0] = ms_since (t0);
  if (ok && e->n_sets > 0)
    {
      t0 = g_get_monotonic_time ();
      ok = have_cls = run_labelsets (e, c->frames, s, feature, error);
      ms[1] = ms_since (t0);
    }
  if (ok && e->captions)
    {
      t0 = g_get_monotonic_time ();
      ok = run_retrieval_input (
          e, idx, c->frames, have_cls ? feature : NULL, error);
      ms[2] = ms_since (t0);
    }
  if (ok && e->do_caption)
    {
      t0 = g_get_monotonic_time ();
      ok = run_caption (e, c->frames, s, error);
      ms[3] = ms_since (t0);
    }
  if (ok)
    {
      double total = ms_since (t_clip);

      g_string_append_printf (s,
          ",\"ms\":{\"preprocess\":%.3f,"
          "\"classify\":%.3f,\"retrieve\":%.3f,\"caption\":%.3f,"
          "\"total\":%.3f}}",
          ms[0], ms[1], ms[2], ms[3], total);
      e->t.preprocess += ms[0];
      e->t.classify += ms[1];
      e->t.retrieve += ms[2];
      e->t.caption += ms[3];
      e->t.total += total;
      ok = emit (e, s, error);
    }
  else
    {
      g_prefix_error (error, "clip %s: ", c->id);
      g_string_free (s, TRUE);
    }
  g_free (feature);
  return ok;
}

/* The rank (0 = best) of the diagonal entry of row @i among the n x n
 * similarities at @sim, read by rows (text to video) or, @by_column, by
 * columns (video to text); ties count against it. */
static guint
diagonal_rank (const float *sim, guint n, guint i, gboolean by_column)
{
  gsize row = by_column ? 1 : n, col = by_column ? n : 1;
  float own = sim[i * row + i * col];
  guint j, r = 0;

  for (j = 0; j < n; j++)
    r += j != i && sim[i * row + j * col] >= own;
  return r;
}

/* "<key>":[rank of every clip's own video / caption] */
static void
append_ranks (
    GString *s, const char *key, const float *sim, guint n, gboolean by_column)
{
  gint32 *ranks = g_new (gint32, n);
  guint i;

  for (i = 0; i < n; i++)
    ranks[i] = diagonal_rank (sim, n, i, by_column);
  g_string_append_printf (s, ",\"%s\":", key);
  upm_json_ints (s, ranks, n);
  g_free (ranks);
}

/* Similarities of the captions (rows) against the videos (columns) of
 * clips [begin, begin + n), and the rank (0 = best) of every clip's own
 * video / caption; ties count against the clip. */
static gboolean
emit_group (Eval *e, guint group, guint begin, guint n, GError **error)
{
  const guint d = e->hp->n_embd;
  float *sim = g_new (float, (gsize)n *n);
  GString *s = g_string_new ("{\"type\":\"retrieval\"");
  guint i, j, k;

  for (i = 0; i < n; i++)
    for (j = 0; j < n; j++)
      {
        const float *t = e->cap_feats + (gsize)(begin + i) * d;
        const float *v = e->vid_feats + (gsize)(begin + j) * d;
        double dot = 0.0;

        for (k = 0; k < d; k++)
          dot += (double)t[k] * v[k];
        sim[(gsize)i * n + j] = (float)dot;
      }
  g_string_append_printf (
      s, ",\"group\":%u,\"begin\":%u,\"size\":%u", group, begin, n);
  append_ranks (s, "t2v_rank", sim, n, FALSE);
  append_ranks (s, "v2t_rank", sim, n, TRUE);
  g_string_append (s, ",\"sims\":[");
  for (i = 0; i < n; i++)
    {
      if (i)
        g_string_append_c (s, ',');
      upm_json_floats (s, sim + (gsize)i * n, n);
    }
  g_string_append (s, "]}");
  g_free (sim);
  return emit (e, s, error);
}

static gboolean
emit_summary (Eval *e, GError **error)
{
  double wall = ms_since (e->io.t_start), n = e->n_clips;
  GString *s = g_string_new ("{\"type\":\"summary\"");

  g_string_append_printf (s,
      ",\"clips\":%u,\"wall_ms\":%.3f,"
      "\"clips_per_s\":%.3f,\"visual_feature_shared\":%s",
      e->n_clips, wall, wall > 0.0 ? 1000.0 * n / wall : 0.0,
      e->visual_shared ? "true" : "false");
  g_string_append_printf (s,
      ",\"ms_per_clip\":{\"preprocess\":%.3f,"
      "\"classify\":%.3f,\"retrieve\":%.3f,\"caption\":%.3f,\"total\":%.3f}}",
      e->t.preprocess / n, e->t.classify / n, e->t.retrieve / n,
      e->t.caption / n, e->t.total / n);
  return emit (e, s, error);
}

static gboolean
process (Eval *e, GError **error)
{
  guint i, group = 0, begin = 0;

  e->io.t_start = g_get_monotonic_time ();
  for (i = 0; i < e->n_clips; i++)
    {
      if (!run_clip (e, i, error))
        return FALSE;
      if (e->captions
          && (i + 1 - begin == e->group_size || i + 1 == e->n_clips))
        {
          if (!emit_group (e, group++, begin, i + 1 - begin, error))
            return FALSE;
          begin = i + 1;
        }
      upm_cli_progress_clips (&e->io, i + 1, e->n_clips);
    }
  upm_cli_progress_clips (&e->io, e->n_clips, e->n_clips);
  upm_cli_progress_end (&e->io);
  return emit_summary (e, error);
}

/* -------------------------------------------------------------- main */

static void
eval_clear (Eval *e)
{
  Options *o = &e->opt;
  guint i;

  upm_cli_close_output (&e->io);
  for (i = 0; i < e->n_clips && e->clips; i++)
    g_free (e->clips[i].id);
  g_free (e->clips);
  for (i = 0; i < e->n_sets && e->sets; i++)
    {
      g_free (e->sets[i].name);
      g_strfreev (e->sets[i].labels);
      g_free (e->sets[i].feats);
    }
  g_free (e->sets);
  g_strfreev (e->captions);
  g_free (e->cap_feats);
  g_free (e->vid_feats);
  g_free (e->patches);
  if (e->map)
    g_mapped_file_unref (e->map);
  g_free (e->frames_path);
  if (e->ctx)
    upm_context_free (e->ctx);
  if (e->model)
    upm_model_unref (e->model);
  upm_cli_options_clear (&o->cli);
  g_free (o->manifest);
}

int
main (int argc, char **argv)
{
  Eval e = { 0 };
  GError *error = NULL;
  int status = EXIT_SUCCESS;

  if (!parse_options (&e.opt, &argc, &argv, &error)
      || !check_options (&e, &error))
    {
      eval_clear (&e);
      return upm_cli_report_usage ("upm-eval", &error);
    }
  if (argc > 1)
    {
      g_printerr ("upm-eval: unexpected argument '%s'\n", argv[1]);
      eval_clear (&e);
      return UPM_CLI_EXIT_USAGE;
    }
  if (e.opt.cli.threads > 0)
    upm_set_num_threads (e.opt.cli.threads);
  if (!load_model (&e, &error))
    status = UPM_CLI_EXIT_RUNTIME;
  else if (!load_manifest (&e, &error))
    status = UPM_CLI_EXIT_USAGE;
  else if (!upm_cli_open_output (&e.io, e.opt.cli.output, &error)
           || !emit_model (&e, &error) || !setup_features (&e, &error)
           || !emit_setup (&e, &error) || !process (&e, &error))
    status = UPM_CLI_EXIT_RUNTIME;
  upm_cli_report_error ("upm-eval", e.io.show_progress, &error);
  eval_clear (&e);
  return status;
}
