/* test-upmtransformer.c: upmtransformer, embeddings -> hidden state of <SPE>.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "upm.h"
#include "upm-test-harness.h"
#include "upmmeta.h"
#include "gstupmcommon.h" /* GstUpmPrefixMemory layout (no calls) */

/* tiny-moe: 16 patches of 192 floats per frame, 4 frames, D 64 */
#define TPF 16
#define PDIM 192
#define DIM 64

#define EMB_CAPS(modality)                                                     \
  "application/x-upm-embeddings, modality=(string)" modality ", dim=(int)64"

static gchar *model_path;

static void
prepare (TCase *tc G_GNUC_UNUSED)
{
  model_path = upm_test_use_fixture_model ();
}

/* Library embeddings of a random clip (or of fixed token ids). */
static gfloat *
clip_embeddings (UpmModel *m, guint frames, guint32 seed, guint *rows)
{
  UpmContext *ctx = upm_context_new (m);
  gsize n = (gsize)frames * TPF * PDIM;
  gfloat *patches = g_new (gfloat, n);
  gfloat *emb;

  *rows = 1 + frames * TPF;
  emb = g_new (gfloat, (gsize)*rows * DIM);
  upm_test_fill_random (patches, n, seed);
  fail_unless (upm_embed_patches (ctx, patches, frames, emb, NULL));
  g_free (patches);
  upm_context_free (ctx);
  return emb;
}

static const gint32 text_ids[] = { 15, 99, 301, 553 };

static gfloat *
text_embeddings (UpmModel *m, guint *rows)
{
  UpmContext *ctx = upm_context_new (m);
  gfloat *emb;

  *rows = 1 + G_N_ELEMENTS (text_ids);
  emb = g_new (gfloat, (gsize)*rows * DIM);
  fail_unless (
      upm_embed_text (ctx, text_ids, G_N_ELEMENTS (text_ids), emb, NULL));
  upm_context_free (ctx);
  return emb;
}

static GstBuffer *
emb_buffer (
    const gfloat *emb, guint rows, GstClockTime pts, GstClockTime duration)
{
  GstBuffer *buf
      = gst_buffer_new_memdup (emb, (gsize)rows * DIM * sizeof (gfloat));

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  return buf;
}

/* What upmtransformer computes, with the library: hidden row of <SPE>. */
static void
expected_hidden (UpmModel *m, const gfloat *emb, guint rows, UpmAttr attr,
    gfloat *hidden, UpmRouting *routing)
{
  UpmContext *ctx = upm_context_new (m);
  gfloat *x = g_memdup2 (emb, (gsize)rows * DIM * sizeof (gfloat));
  UpmSegment seg = { attr, rows };

  fail_unless (upm_transformer_forward (
      ctx, x, rows, &seg, 1, UPM_FORWARD_SPE_ONLY, routing, NULL));
  memcpy (hidden, x, DIM * sizeof (gfloat));
  g_free (x);
  upm_context_free (ctx);
}

/* The harness's own pads. Static storage: gst_static_caps_get caches the
 * caps in the template, so a template on the stack would leak them. */
static GstStaticPadTemplate harness_src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate harness_sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static GstHarness *
new_harness (const gchar *props, GstBus **bus)
{
  gchar *desc = g_strdup_printf (
      "upmtransformer name=t model=%s %s", model_path, props ? props : "");
  GstHarness *h = gst_harness_new_empty ();
  GstElement *bin;

  bin = gst_parse_launch (desc, NULL);
  fail_unless (bin != NULL);
  if (bus)
    *bus = upm_test_bus_for (bin);
  gst_harness_add_element_full (
      h, bin, &harness_src_template, "sink", &harness_sink_template, "src");
  gst_object_unref (bin);
  g_free (desc);
  return h;
}

/* Whether the output caps say the payload is a caption prefix memory. */
static gboolean
output_is_prefix_memory (GstHarness *h)
{
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  gboolean prefix;

  fail_unless (caps != NULL);
  prefix = gst_caps_features_contains (
      gst_caps_get_features (caps, 0), GST_CAPS_FEATURE_MEMORY_UPM_PREFIX);
  gst_caps_unref (caps);
  return prefix;
}

static void
assert_hidden (GstBuffer *buf, const gfloat *expect)
{
  GstMapInfo map;
  guint i;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  fail_unless_equals_uint64 (map.size, DIM * sizeof (gfloat));
  for (i = 0; i < DIM; i++)
    fail_unless (((const gfloat *)map.data)[i] == expect[i],
        "row element %u: %g != %g", i, ((const gfloat *)map.data)[i],
        expect[i]);
  gst_buffer_unmap (buf, &map);
}

/* @out holds the <SPE> row the library computes from @emb under @attr;
 * @routing (where not NULL) gets the library's routing. */
static void
assert_library_hidden (GstBuffer *out, UpmModel *m, const gfloat *emb,
    guint rows, UpmAttr attr, UpmRouting *routing)
{
  gfloat hidden[DIM];

  expected_hidden (m, emb, rows, attr, hidden, routing);
  assert_hidden (out, hidden);
}

static void
assert_routing (GstBuffer *buf, const UpmRouting *routing, GstClockTime pts,
    GstClockTime duration)
{
  GstUpmRoutingMeta *meta = gst_buffer_get_upm_routing_meta (buf);
  guint i;

  fail_unless (meta != NULL);
  fail_unless_equals_string (meta->model, "tiny-moe");
  fail_unless_equals_int (meta->n_layers, 4);
  fail_unless_equals_int (meta->n_experts, 8);
  fail_unless_equals_uint64 (meta->pts, pts);
  fail_unless_equals_uint64 (meta->duration, duration);
  fail_unless (routing->routes->len > 0);
  fail_unless_equals_int (meta->n_routes, routing->routes->len);
  for (i = 0; i < meta->n_routes; i++)
    {
      const UpmRoute *a = &g_array_index (routing->routes, UpmRoute, i);
      const GstUpmRoute *b = &meta->routes[i];

      fail_unless_equals_int (b->layer, a->layer);
      fail_unless_equals_int ((gint)b->gate, (gint)a->gate);
      fail_unless_equals_string (b->segment, upm_attr_name (a->attr));
      fail_unless_equals_int (b->token_begin, a->token_begin);
      fail_unless_equals_int (b->token_end, a->token_end);
      fail_unless_equals_int (b->expert[0], a->expert[0]);
      fail_unless_equals_int (b->expert[1], a->expert[1]);
      fail_unless (b->weight[0] == a->weight[0]);
      fail_unless (b->weight[1] == a->weight[1]);
    }
}

static guint
clip_meta_uint (GstBuffer *buf, const gchar *field)
{
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buf, "GstUpmClipMeta");
  guint v = G_MAXUINT;

  fail_unless (meta != NULL);
  fail_unless (
      gst_structure_get_uint (gst_custom_meta_get_structure (meta), field, &v));
  return v;
}

/* --------------------------------------------------------------- tests */

GST_START_TEST (test_properties)
{
  GstElement *e = gst_element_factory_make ("upmtransformer", NULL);
  GObjectClass *klass = G_OBJECT_GET_CLASS (e);
  GParamSpec *task = g_object_class_find_property (klass, "task");
  GParamSpec *routing = g_object_class_find_property (klass, "routing");
  GEnumClass *eclass;
  gchar *model = (gchar *)"x";
  gint t;
  gboolean r;

  fail_unless (task != NULL && routing != NULL);
  eclass = G_PARAM_SPEC_ENUM (task)->enum_class;
  fail_unless (g_enum_get_value_by_nick (eclass, "auto") != NULL);
  fail_unless (g_enum_get_value_by_nick (eclass, "classify") != NULL);
  fail_unless (g_enum_get_value_by_nick (eclass, "retrieve") != NULL);
  fail_unless (g_enum_get_value_by_nick (eclass, "caption") != NULL);
  fail_unless_equals_string (
      g_enum_get_value (eclass, G_PARAM_SPEC_ENUM (task)->default_value)
          ->value_nick,
      "auto");

  g_object_get (e, "task", &t, "routing", &r, "model", &model, NULL);
  fail_unless_equals_string (g_enum_get_value (eclass, t)->value_nick, "auto");
  fail_unless (r);
  fail_unless (model == NULL);

  /* Batching across streams: on by default (2 ms), 0 turns it off. */
  {
    guint wait = 0;
    g_object_get (e, "batch-wait", &wait, NULL);
    fail_unless_equals_int (wait, 2000);
    g_object_set (e, "batch-wait", 0, NULL);
    g_object_get (e, "batch-wait", &wait, NULL);
    fail_unless_equals_int (wait, 0);
  }

  gst_util_set_object_arg (G_OBJECT (e), "task", "caption");
  g_object_get (e, "task", &t, NULL);
  fail_unless_equals_string (
      g_enum_get_value (eclass, t)->value_nick, "caption");
  /* An unknown task is refused; the value stays. */
  gst_util_set_object_arg (G_OBJECT (e), "task", "summarise");
  g_object_get (e, "task", &t, NULL);
  fail_unless_equals_string (
      g_enum_get_value (eclass, t)->value_nick, "caption");
  gst_object_unref (e);
}

GST_END_TEST;

/* A test's harness, the model and the embeddings of one input. */
typedef struct
{
  GstHarness *h;
  UpmModel *m;
  gfloat *emb;
  guint rows;
} Run;

/* A harness with @props; the embeddings of a random clip of @frames
 * frames (@seed), or of text_ids where @frames is 0. */
static void
run_init (Run *r, const gchar *props, guint frames, guint32 seed)
{
  r->h = new_harness (props, NULL);
  r->m = upm_test_load_model (model_path);
  r->emb = frames > 0 ? clip_embeddings (r->m, frames, seed, &r->rows)
                      : text_embeddings (r->m, &r->rows);
}

/* Pushes the embeddings under embedding caps of @modality and pulls the
 * output. */
static GstBuffer *
run_push (
    Run *r, const gchar *modality, GstClockTime pts, GstClockTime duration)
{
  gchar *caps = g_strdup_printf (EMB_CAPS ("%s"), modality);
  GstBuffer *out;

  upm_test_push_caps (r->h, caps);
  out = gst_harness_push_and_pull (
      r->h, emb_buffer (r->emb, r->rows, pts, duration));
  fail_unless (out != NULL);
  g_free (caps);
  return out;
}

static void
run_clear (Run *r)
{
  g_free (r->emb);
  upm_model_unref (r->m);
  gst_harness_teardown (r->h);
}

GST_START_TEST (test_classify_matches_library)
{
  UpmRouting routing;
  GstBuffer *out;
  Run r;

  /* downstream accepts any task: auto falls back to classify */
  run_init (&r, NULL, 4, 11);
  out = run_push (&r, "video", GST_SECOND, GST_SECOND / 2);
  fail_unless_equals_string (
      upm_test_output_caps_field (r.h, "task"), "classify");
  fail_unless_equals_uint64 (GST_BUFFER_PTS (out), GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (out), GST_SECOND / 2);

  upm_routing_init (&routing);
  assert_library_hidden (out, r.m, r.emb, r.rows, UPM_ATTR_CLS_INPUT, &routing);
  assert_routing (out, &routing, GST_SECOND, GST_SECOND / 2);
  fail_unless_equals_int (clip_meta_uint (out, "frames"), 4);
  fail_unless_equals_int (clip_meta_uint (out, "tokens"), r.rows);
  /* the payload is the hidden state in system memory, as the caps say */
  fail_if (output_is_prefix_memory (r.h));
  fail_if (gst_memory_is_type (
      gst_buffer_peek_memory (out, 0), GST_UPM_PREFIX_MEMORY_TYPE));

  upm_routing_clear (&routing);
  gst_buffer_unref (out);
  run_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_auto_follows_caption)
{
  GstUpmPrefixMemory *pm;
  UpmRouting routing;
  UpmContext *ctx;
  UpmPrefix *prefix;
  GstBuffer *out;
  Run r;

  run_init (&r, NULL, 2, 5);
  gst_harness_set_sink_caps_str (
      r.h, "application/x-upm-hidden(memory:UpmPrefix), task=(string)caption");
  out = run_push (&r, "video", 0, GST_SECOND);
  fail_unless_equals_string (
      upm_test_output_caps_field (r.h, "task"), "caption");

  /* The payload is what the caps announce: the clip's prefix by reference
   * in the buffer's one memory. */
  fail_unless (output_is_prefix_memory (r.h));
  fail_unless_equals_int (gst_buffer_n_memory (out), 1);
  fail_unless (gst_memory_is_type (
      gst_buffer_peek_memory (out, 0), GST_UPM_PREFIX_MEMORY_TYPE));
  pm = (GstUpmPrefixMemory *)gst_buffer_peek_memory (out, 0);
  fail_unless (pm->prefix != NULL && pm->model != NULL);
  fail_unless_equals_int (upm_prefix_n_tokens (pm->prefix), r.rows);
  fail_unless_equals_int (clip_meta_uint (out, "frames"), 2);

  ctx = upm_context_new (r.m);
  upm_routing_init (&routing);
  prefix = upm_prefix_new (ctx, r.emb, r.rows, &routing, NULL);
  fail_unless (prefix != NULL);
  assert_routing (out, &routing, 0, GST_SECOND);
  upm_prefix_unref (prefix);

  upm_routing_clear (&routing);
  gst_buffer_unref (out);
  upm_context_free (ctx);
  run_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_task_retrieve)
{
  GstBuffer *out;
  Run r;

  run_init (&r, "task=retrieve", 1, 3);
  out = run_push (&r, "image", 0, 1);
  fail_unless_equals_string (
      upm_test_output_caps_field (r.h, "task"), "retrieve");
  fail_unless_equals_string (
      upm_test_output_caps_field (r.h, "modality"), "image");
  assert_library_hidden (
      out, r.m, r.emb, r.rows, UPM_ATTR_RETRIEVAL_INPUT, NULL);
  fail_unless_equals_int (clip_meta_uint (out, "frames"), 1);
  gst_buffer_unref (out);
  run_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_text_input)
{
  UpmRouting routing;
  GstBuffer *out;
  Run r;

  run_init (&r, NULL, 0, 0);
  out = run_push (&r, "text", 0, 1);
  fail_unless_equals_string (
      upm_test_output_caps_field (r.h, "task"), "classify");
  fail_unless_equals_string (
      upm_test_output_caps_field (r.h, "modality"), "text");
  upm_routing_init (&routing);
  assert_library_hidden (
      out, r.m, r.emb, r.rows, UPM_ATTR_TEXT_INPUT, &routing);
  assert_routing (out, &routing, 0, 1);
  fail_unless_equals_int (clip_meta_uint (out, "frames"), 0);
  fail_unless_equals_int (clip_meta_uint (out, "tokens"), r.rows);
  upm_routing_clear (&routing);
  gst_buffer_unref (out);
  run_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_not_negotiated)
{
  UpmModel *m = upm_test_load_model (model_path);
  guint rows;
  gfloat *emb = text_embeddings (m, &rows);
  GstHarness *h;

  /* A text cannot be captioned. */
  h = new_harness (NULL, NULL);
  gst_harness_set_sink_caps_str (
      h, "application/x-upm-hidden(memory:UpmPrefix), task=(string)caption");
  upm_test_push_caps (h, EMB_CAPS ("text"));
  fail_unless_equals_int (gst_harness_push (h, emb_buffer (emb, rows, 0, 1)),
      GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);

  /* A fixed task that downstream does not take. */
  h = new_harness ("task=classify", NULL);
  gst_harness_set_sink_caps_str (
      h, "application/x-upm-hidden(memory:UpmPrefix), task=(string)caption");
  upm_test_push_caps (h, EMB_CAPS ("video"));
  fail_unless_equals_int (gst_harness_push (h, emb_buffer (emb, rows, 0, 1)),
      GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);

  g_free (emb);
  upm_model_unref (m);
}

GST_END_TEST;

GST_START_TEST (test_wrong_dim)
{
  GstBus *bus;
  GstHarness *h = new_harness (NULL, &bus);
  gfloat row[32] = { 0 };

  upm_test_push_caps (h,
      "application/x-upm-embeddings, modality=(string)video, "
      "dim=(int)32");
  upm_test_assert_push_error (h, bus, gst_buffer_new_memdup (row, sizeof row),
      GST_FLOW_NOT_NEGOTIATED, "D = 64");
  gst_harness_teardown (h);
  upm_test_drop_bus (bus);
}

GST_END_TEST;

GST_START_TEST (test_invalid_rows)
{
  GstBus *bus;
  GstHarness *h = new_harness (NULL, &bus);
  gfloat *rows = g_new0 (gfloat, 10 * DIM);

  upm_test_push_caps (h, EMB_CAPS ("video"));
  /* 10 rows is not 1 + frames x 16 */
  upm_test_assert_push_error (h, bus,
      gst_buffer_new_wrapped (rows, 10 * DIM * sizeof (gfloat)), GST_FLOW_ERROR,
      "10 embedded tokens");
  gst_harness_teardown (h);
  upm_test_drop_bus (bus);
}

GST_END_TEST;

GST_START_TEST (test_routing_off)
{
  GstBuffer *out;
  Run r;

  run_init (&r, "routing=false", 4, 11);
  out = run_push (&r, "video", 0, 1);
  fail_unless (gst_buffer_get_upm_routing_meta (out) == NULL);
  assert_library_hidden (out, r.m, r.emb, r.rows, UPM_ATTR_CLS_INPUT, NULL);
  gst_buffer_unref (out);
  run_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_eos_and_state_cycles)
{
  GstElement *e = gst_element_factory_make ("upmtransformer", NULL);
  UpmModel *m = upm_test_load_model (model_path);
  guint rows;
  gfloat *emb = clip_embeddings (m, 4, 2, &rows);
  GstHarness *h;
  GstBuffer *out;

  g_object_set (e, "model", model_path, NULL);
  upm_test_cycle_states (e, 10);
  h = gst_harness_new_with_element (e, "sink", "src");
  upm_test_push_caps (h, EMB_CAPS ("video"));
  out = gst_harness_push_and_pull (h, emb_buffer (emb, rows, 0, 1));
  fail_unless (out != NULL);
  gst_buffer_unref (out);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless (upm_test_drain_events (h, GST_EVENT_EOS) > 0);
  gst_harness_teardown (h);
  gst_object_unref (e);
  g_free (emb);
  upm_model_unref (m);
}

GST_END_TEST;

static const UpmCheckTest upmtransformer_tests[] = {
  UPM_CHECK_TEST (test_properties),
  UPM_CHECK_TEST (test_classify_matches_library),
  UPM_CHECK_TEST (test_auto_follows_caption),
  UPM_CHECK_TEST (test_task_retrieve),
  UPM_CHECK_TEST (test_text_input),
  UPM_CHECK_TEST (test_not_negotiated),
  UPM_CHECK_TEST (test_wrong_dim),
  UPM_CHECK_TEST (test_invalid_rows),
  UPM_CHECK_TEST (test_routing_off),
  UPM_CHECK_TEST (test_eos_and_state_cycles),
};

UPM_CHECK_MAIN (upmtransformer, prepare);
