/* gstupmtransformer.c: embeddings -> final hidden state of <SPE>.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-upmtransformer
 * @title: upmtransformer
 *
 * Runs the shared Uni-Perceiver transformer over an embedded sequence
 * (application/x-upm-embeddings) under the attribute rows of the task and
 * outputs the final hidden state of the <SPE> token
 * (application/x-upm-hidden, one row of D floats).
 *
 * For captioning the output is the encoded clip the decoder reads: every
 * layer's keys and values of [SPE, visual] (the caption prefix), made here
 * and carried by reference in the buffer's one memory, announced by the caps
 * feature memory:UpmPrefix (see GST_UPM_HIDDEN_CAPS). Every buffer carries
 * a #GstUpmRoutingMeta with the experts the MoE layers chose (unless
 * #GstUpmTransformer:routing is %FALSE), with the precision the sequence
 * ran in (#GstUpmModelFilter:precision; "precision" of the clip's custom
 * meta too).
 *
 * With task=auto (the default) the task is the one downstream asks for in
 * its caps (upmhead's task), classify when downstream accepts any.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstupmtransformer.h"
#include "gstupmcommon.h"
#include "gstupmelements.h"
#include "gstupmtensor.h"

GST_DEBUG_CATEGORY_STATIC (gst_upm_transformer_debug);
#define GST_CAT_DEFAULT gst_upm_transformer_debug

#define EMBEDDINGS_NAME "application/x-upm-embeddings"
#define HIDDEN_NAME "application/x-upm-hidden"

#define DEFAULT_TASK GST_UPM_TRANSFORMER_TASK_AUTO
#define DEFAULT_ROUTING TRUE

static const gchar *const modalities[] = { "video", "image", "text" };

struct _GstUpmTransformer
{
  GstUpmModelFilter parent;

  /* properties, GST_OBJECT_LOCK */
  GstUpmTransformerTask task_prop;
  gboolean routing;
  guint batch_wait; /* µs */

  /* model width for caps, GST_OBJECT_LOCK; 0 while no model is loaded */
  guint dim;

  /* READY and above: the model the base class holds, a context */
  UpmModel *model;
  UpmContext *ctx;

  /* negotiated, streaming thread */
  GstUpmTask task;
  gboolean is_text;
  UpmAttr attr;
  gfloat *scratch;
  gsize scratch_len;
};

enum
{
  PROP_0,
  PROP_TASK,
  PROP_ROUTING,
  PROP_BATCH_WAIT,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_UPM_EMBEDDINGS_CAPS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_UPM_HIDDEN_CAPS));

#define gst_upm_transformer_parent_class parent_class
G_DEFINE_TYPE (
    GstUpmTransformer, gst_upm_transformer, GST_TYPE_UPM_MODEL_FILTER);
GST_ELEMENT_REGISTER_DEFINE (
    upmtransformer, "upmtransformer", GST_RANK_NONE, GST_TYPE_UPM_TRANSFORMER);

GType
gst_upm_transformer_task_get_type (void)
{
  GST_UPM_ENUM_TYPE_ONCE ("GstUpmTransformerTask",
      { GST_UPM_TRANSFORMER_TASK_AUTO,
          "Follow the task downstream asks for (classify if it accepts any)",
          "auto" },
      { GST_UPM_TRANSFORMER_TASK_CLASSIFY, "Classification", "classify" },
      { GST_UPM_TRANSFORMER_TASK_RETRIEVE, "Retrieval", "retrieve" },
      { GST_UPM_TRANSFORMER_TASK_CAPTION, "Captioning", "caption" });
}

/* ----------------------------------------------------------------- model */

/* What the transformer derives from the model: a library context and the
 * width of its caps. */
static gboolean
gst_upm_transformer_opened (GstUpmModelFilter *filter, UpmModel *model)
{
  GstUpmTransformer *self = GST_UPM_TRANSFORMER (filter);

  self->model = model;
  self->ctx = upm_context_new (model);
  GST_OBJECT_LOCK (self);
  self->dim = upm_model_hparams (model)->n_embd;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static void
gst_upm_transformer_closing (GstUpmModelFilter *filter)
{
  GstUpmTransformer *self = GST_UPM_TRANSFORMER (filter);

  GST_OBJECT_LOCK (self);
  self->dim = 0;
  GST_OBJECT_UNLOCK (self);
  g_clear_pointer (&self->ctx, upm_context_free);
  g_clear_pointer (&self->scratch, g_free);
  self->scratch_len = 0;
  self->model = NULL;
}

/* ------------------------------------------------------------------ caps */

/* Whether the field @name of @s (absent: anything) allows @value. */
static gboolean
field_allows (const GstStructure *s, const gchar *name, const gchar *value)
{
  const GValue *field = gst_structure_get_value (s, name);
  GValue v = G_VALUE_INIT;
  gboolean ok;

  if (field == NULL)
    return TRUE;
  g_value_init (&v, G_TYPE_STRING);
  g_value_set_static_string (&v, value);
  /* (gst_value_can_intersect only compares the types) */
  ok = gst_value_intersect (NULL, field, &v);
  g_value_unset (&v);
  return ok;
}

/* The tasks this element may run on @modality, in fixation order. */
static guint
allowed_tasks (
    GstUpmTransformerTask prop, const gchar *modality, GstUpmTask tasks[3])
{
  gboolean text = g_str_equal (modality, "text");
  guint n = 0;

  if (prop != GST_UPM_TRANSFORMER_TASK_AUTO)
    {
      GstUpmTask t = (GstUpmTask)(prop - 1);

      if (!(text && t == GST_UPM_TASK_CAPTION))
        tasks[n++] = t;
      return n;
    }
  tasks[n++] = GST_UPM_TASK_CLASSIFY;
  tasks[n++] = GST_UPM_TASK_RETRIEVE;
  if (!text)
    tasks[n++] = GST_UPM_TASK_CAPTION;
  return n;
}

static void
set_dim (GstStructure *o, const GstStructure *from, guint dim)
{
  const GValue *v;

  if (dim > 0)
    gst_structure_set (o, "dim", G_TYPE_INT, (gint)dim, NULL);
  else if ((v = gst_structure_get_value (from, "dim")) != NULL)
    gst_structure_set_value (o, "dim", v);
}

/* Whether hidden caps of memory @features may carry a caption (prefix
 * memory) or the others (system memory). */
static gboolean
features_allow (GstCapsFeatures *features, gboolean caption)
{
  if (features == NULL)
    return !caption; /* system memory */
  if (gst_caps_features_is_any (features))
    return TRUE;
  return gst_caps_features_contains (
             features, GST_CAPS_FEATURE_MEMORY_UPM_PREFIX)
         == caption;
}

/* Merges into @out the hidden caps of @modality for @tasks: one structure
 * in system memory for classify and retrieve, one in prefix memory for
 * caption (GST_UPM_HIDDEN_CAPS). */
static GstCaps *
merge_hidden (GstCaps *out, const gchar *modality, const GstUpmTask *tasks,
    guint n_tasks, const GstStructure *from, guint dim)
{
  GValue list = G_VALUE_INIT;
  gboolean caption = FALSE;
  GstStructure *o;
  guint t;

  gst_value_list_init (&list, n_tasks);
  for (t = 0; t < n_tasks; t++)
    {
      GValue v = G_VALUE_INIT;

      if (tasks[t] == GST_UPM_TASK_CAPTION)
        {
          caption = TRUE;
          continue;
        }
      g_value_init (&v, G_TYPE_STRING);
      g_value_set_static_string (&v, gst_upm_task_nick (tasks[t]));
      gst_value_list_append_and_take_value (&list, &v);
    }
  if (gst_value_list_get_size (&list) > 0)
    {
      o = gst_structure_new (
          HIDDEN_NAME, "modality", G_TYPE_STRING, modality, NULL);
      if (gst_value_list_get_size (&list) == 1)
        gst_structure_set_value (
            o, "task", gst_value_list_get_value (&list, 0));
      else
        gst_structure_set_value (o, "task", &list);
      set_dim (o, from, dim);
      out = gst_caps_merge_structure (out, o);
    }
  g_value_unset (&list);
  if (caption)
    {
      o = gst_structure_new (HIDDEN_NAME, "modality", G_TYPE_STRING, modality,
          "task", G_TYPE_STRING, "caption", NULL);
      set_dim (o, from, dim);
      out = gst_caps_merge_structure_full (out, o,
          gst_caps_features_new (GST_CAPS_FEATURE_MEMORY_UPM_PREFIX, NULL));
    }
  return out;
}

/* Whether hidden caps @s in memory @features take one of @tasks. */
static gboolean
hidden_takes (const GstStructure *s, GstCapsFeatures *features,
    const GstUpmTask *tasks, guint n_tasks)
{
  guint t;

  for (t = 0; t < n_tasks; t++)
    if (field_allows (s, "task", gst_upm_task_nick (tasks[t]))
        && features_allow (features, tasks[t] == GST_UPM_TASK_CAPTION))
      return TRUE;
  return FALSE;
}

static GstCaps *
gst_upm_transformer_transform_caps (GstBaseTransform *trans,
    GstPadDirection direction, GstCaps *caps, GstCaps *filter)
{
  GstUpmTransformer *self = GST_UPM_TRANSFORMER (trans);
  GstCaps *out = gst_caps_new_empty ();
  GstUpmTransformerTask prop;
  guint dim, i, m;

  GST_OBJECT_LOCK (self);
  prop = self->task_prop;
  dim = self->dim;
  GST_OBJECT_UNLOCK (self);

  for (i = 0; i < gst_caps_get_size (caps); i++)
    {
      const GstStructure *s = gst_caps_get_structure (caps, i);
      GstCapsFeatures *features = gst_caps_get_features (caps, i);
      gboolean sink = direction == GST_PAD_SINK;

      if (!gst_structure_has_name (s, sink ? EMBEDDINGS_NAME : HIDDEN_NAME))
        continue;

      for (m = 0; m < G_N_ELEMENTS (modalities); m++)
        {
          GstUpmTask tasks[3];
          guint n_tasks;
          GstStructure *o;

          if (!field_allows (s, "modality", modalities[m]))
            continue;
          n_tasks = allowed_tasks (prop, modalities[m], tasks);
          if (sink)
            {
              out = merge_hidden (out, modalities[m], tasks, n_tasks, s, dim);
              continue;
            }
          if (!hidden_takes (s, features, tasks, n_tasks))
            continue;
          o = gst_structure_new (
              EMBEDDINGS_NAME, "modality", G_TYPE_STRING, modalities[m], NULL);
          set_dim (o, s, dim);
          out = gst_caps_merge_structure (out, o);
        }
    }

  return gst_upm_model_filter_finish_caps (
      GST_UPM_MODEL_FILTER (self), direction, caps, out, filter);
}

static gboolean
gst_upm_transformer_set_caps (
    GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstUpmTransformer *self = GST_UPM_TRANSFORMER (trans);
  const GstStructure *in = gst_caps_get_structure (incaps, 0);
  const GstStructure *out = gst_caps_get_structure (outcaps, 0);
  const gchar *modality = gst_structure_get_string (in, "modality");
  const gchar *task = gst_structure_get_string (out, "task");
  const UpmHParams *hp;
  gint dim = 0;

  if (self->model == NULL)
    return FALSE;
  hp = upm_model_hparams (self->model);

  if (modality == NULL || task == NULL
      || !gst_upm_task_from_nick (task, &self->task))
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("Incomplete caps: the modality and the task must be fixed."),
          ("in %" GST_PTR_FORMAT ", out %" GST_PTR_FORMAT, incaps, outcaps));
      return FALSE;
    }
  if (!gst_structure_get_int (in, "dim", &dim) || (guint)dim != hp->n_embd)
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("Embeddings of width %d do not fit the model \"%s\" (D = %u).", dim,
              upm_model_path (self->model), hp->n_embd),
          ("give upmencoder the same model as upmtransformer"));
      return FALSE;
    }
  self->is_text = g_str_equal (modality, "text");
  if (self->is_text && self->task == GST_UPM_TASK_CAPTION)
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
          ("A text cannot be captioned."),
          ("task caption needs video or image input"));
      return FALSE;
    }
  self->attr = gst_upm_task_input_attr (self->task, modality);
  GST_INFO_OBJECT (self, "task %s on %s input, attribute row %s", task,
      modality, upm_attr_name (self->attr));
  return TRUE;
}

/* ------------------------------------------------------------ processing */

static GstFlowReturn
gst_upm_transformer_prepare_output_buffer (
    GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer **outbuf)
{
  GstUpmTransformer *self = GST_UPM_TRANSFORMER (trans);

  if (self->model == NULL)
    return GST_FLOW_NOT_NEGOTIATED;
  /* a caption's prefix memory is added once it is made */
  if (self->task == GST_UPM_TASK_CAPTION)
    *outbuf = gst_buffer_new ();
  else
    *outbuf = gst_buffer_new_allocate (NULL,
        (gsize)upm_model_hparams (self->model)->n_embd * sizeof (gfloat), NULL);
  if (*outbuf == NULL)
    return GST_FLOW_ERROR;
  if (!GST_BASE_TRANSFORM_CLASS (parent_class)
           ->copy_metadata (trans, inbuf, *outbuf))
    GST_WARNING_OBJECT (self, "could not copy metadata");
  return GST_FLOW_OK;
}

/* Checks the sequence length; returns the frames of a clip (0 for a text)
 * or -1 with an error posted. */
static gint
gst_upm_transformer_check_rows (
    GstUpmTransformer *self, gsize size, guint *n_rows)
{
  const UpmHParams *hp = upm_model_hparams (self->model);
  gsize row = (gsize)hp->n_embd * sizeof (gfloat);
  guint tpf = UPM_HP_TOKENS_PER_FRAME (hp);
  guint n;

  if (size == 0 || size % row != 0 || size / row > G_MAXUINT32)
    {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("Invalid embeddings buffer of %" G_GSIZE_FORMAT " bytes.", size),
          ("rows of %u floats expected", hp->n_embd));
      return -1;
    }
  n = size / row;
  *n_rows = n;
  if (self->is_text)
    return 0;
  if ((n - 1) % tpf != 0 || n < 1 + tpf || (n - 1) / tpf > hp->n_temporal)
    {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("Invalid clip of %u embedded tokens.", n),
          ("a clip has 1 + frames x %u tokens, 1 to %u frames", tpf,
              hp->n_temporal));
      return -1;
    }
  return (gint)((n - 1) / tpf);
}

static gfloat *
gst_upm_transformer_scratch (GstUpmTransformer *self, gsize n_floats)
{
  if (self->scratch_len < n_floats)
    {
      g_free (self->scratch);
      self->scratch = g_try_new (gfloat, n_floats);
      self->scratch_len = self->scratch ? n_floats : 0;
    }
  return self->scratch;
}

/* The routing meta of one sequence: per-segment decisions (static levels)
 * and, for token and context routing, every token's experts; @frames > 0
 * places the patch tokens on the frame grid for upmroutingoverlay. */
static void
gst_upm_transformer_add_routing (GstUpmTransformer *self, GstBuffer *outbuf,
    const UpmRouting *routing, gint frames, const gchar *precision)
{
  const UpmHParams *hp = upm_model_hparams (self->model);
  const gchar *segment = upm_attr_name (self->attr);
  GstUpmRoutingMeta *meta;
  GstUpmRoute *routes;
  guint n_routes = 0;

  routes = gst_upm_routes_from_library (routing, &n_routes);
  meta = gst_buffer_add_upm_routing_meta (outbuf, upm_model_name (self->model),
      hp->n_layer, hp->n_expert, GST_BUFFER_PTS (outbuf),
      GST_BUFFER_DURATION (outbuf), routes, n_routes);
  g_free (routes);
  if (meta == NULL)
    return;
  gst_upm_routing_meta_set_precision (meta, precision);
  for (guint i = 0; i < upm_routing_n_token_runs (routing); i++)
    {
      UpmTokenExperts te;

      if (upm_routing_token_run (routing, i, &te))
        gst_upm_routing_meta_add_token_routes (meta, te.layer,
            te.gate == UPM_GATE_ATTN ? GST_UPM_GATE_ATTN : GST_UPM_GATE_FFN,
            segment, te.token_begin, te.n_tokens, te.experts);
    }
  /* patch tokens follow <SPE>, frame-major, row-major within a frame */
  if (frames > 0)
    gst_upm_routing_meta_set_visual_grid (
        meta, 1, hp->grid, hp->grid, (guint)frames);
}

/* Caption: encodes the clip's prefix into @outbuf's one memory. */
static gboolean
gst_upm_transformer_encode_prefix (GstUpmTransformer *self,
    const gfloat *embeddings, guint n_rows, GstBuffer *outbuf,
    UpmRouting *routing, GError **err)
{
  UpmPrefix *prefix
      = upm_prefix_new (self->ctx, embeddings, n_rows, routing, err);

  if (prefix == NULL)
    return FALSE;
  gst_buffer_append_memory (
      outbuf, gst_upm_prefix_memory_new (self->model, prefix));
  upm_prefix_unref (prefix);
  return TRUE;
}

/* Classify, retrieve: the final hidden state of <SPE> into @outbuf. The
 * sequence is run in place in @x when @in_place, else on a copy. */
static gboolean
gst_upm_transformer_forward_spe (GstUpmTransformer *self, gfloat *x,
    gboolean in_place, guint n_rows, GstBuffer *outbuf, UpmRouting *routing,
    GError **err)
{
  gsize d = upm_model_hparams (self->model)->n_embd;
  UpmSegment seg = { self->attr, n_rows };
  gfloat *seq
      = in_place ? x : gst_upm_transformer_scratch (self, (gsize)n_rows * d);

  if (seq == NULL)
    {
      g_set_error (
          err, UPM_ERROR, UPM_ERROR_NOMEM, "out of memory for %u rows", n_rows);
      return FALSE;
    }
  if (!in_place)
    memcpy (seq, x, (gsize)n_rows * d * sizeof (gfloat));
  if (!upm_transformer_forward (
          self->ctx, seq, n_rows, &seg, 1, UPM_FORWARD_SPE_ONLY, routing, err))
    return FALSE;
  gst_buffer_fill (outbuf, 0, seq, d * sizeof (gfloat));
  return TRUE;
}

static GstFlowReturn
gst_upm_transformer_transform (
    GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer *outbuf)
{
  GstUpmTransformer *self = GST_UPM_TRANSFORMER (trans);
  GstMapInfo in;
  UpmRouting routing;
  GstCustomMeta *clip;
  GError *err = NULL;
  gboolean with_routing, in_place, ok;
  const gchar *precision;
  guint n_rows = 0, batch_wait;
  gint frames;

  frames = gst_upm_transformer_check_rows (
      self, gst_buffer_get_size (inbuf), &n_rows);
  if (frames < 0)
    return GST_FLOW_ERROR;

  GST_OBJECT_LOCK (self);
  with_routing = self->routing;
  batch_wait = self->batch_wait;
  GST_OBJECT_UNLOCK (self);
  /* The context is this thread's: its batch wait changes here. */
  if (upm_context_get_batch_wait (self->ctx) != (gint64)batch_wait)
    upm_context_set_batch_wait (self->ctx, batch_wait);
  upm_context_set_precision (self->ctx,
      gst_upm_model_filter_get_precision (GST_UPM_MODEL_FILTER (self)));
  precision = upm_precision_name (upm_context_precision (self->ctx));

  /* The embeddings are consumed: a writable input holds the hidden states
   * itself, so that a stream keeps no second copy of the clip's rows. */
  in_place
      = self->task != GST_UPM_TASK_CAPTION && gst_buffer_is_writable (inbuf);
  /* upmencoder's tensor meta shares these rows: dropped with them */
  if (in_place)
    gst_upm_tensor_release (inbuf);
  if (!gst_buffer_map (inbuf, &in, in_place ? GST_MAP_READWRITE : GST_MAP_READ))
    {
      GST_ELEMENT_ERROR (
          self, RESOURCE, FAILED, ("Could not map a buffer."), (NULL));
      return GST_FLOW_ERROR;
    }
  GST_LOG_OBJECT (
      self, "%u rows, %s", n_rows, in_place ? "in place" : "on a copy");

  upm_routing_init (&routing);
  /* per-token ids exist for token and context routing only; recording them
   * costs two bytes per token and MoE gate */
  if (with_routing)
    upm_routing_set_token_experts (&routing, TRUE);
  if (self->task == GST_UPM_TASK_CAPTION)
    ok = gst_upm_transformer_encode_prefix (self, (const gfloat *)in.data,
        n_rows, outbuf, with_routing ? &routing : NULL, &err);
  else
    ok = gst_upm_transformer_forward_spe (self, (gfloat *)in.data, in_place,
        n_rows, outbuf, with_routing ? &routing : NULL, &err);
  gst_buffer_unmap (inbuf, &in);

  if (!ok)
    {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("The transformer failed on a sequence of %u tokens.", n_rows),
          ("%s", err ? err->message : "unknown error"));
      g_clear_error (&err);
      upm_routing_clear (&routing);
      return GST_FLOW_ERROR;
    }

  clip = gst_buffer_add_custom_meta (outbuf, GST_UPM_CLIP_META_NAME);
  if (clip != NULL)
    gst_structure_set (gst_custom_meta_get_structure (clip), "frames",
        G_TYPE_UINT, (guint)frames, "tokens", G_TYPE_UINT, n_rows, "precision",
        G_TYPE_STRING, precision, NULL);
  if (with_routing)
    gst_upm_transformer_add_routing (self, outbuf, &routing, frames, precision);
  upm_routing_clear (&routing);
  /* a caption's prefix is an opaque K/V memory: no tensor to describe */
  if (self->task != GST_UPM_TASK_CAPTION)
    gst_upm_tensor_describe (outbuf, GST_UPM_TENSOR_SPE_HIDDEN, 1,
        upm_model_hparams (self->model)->n_embd);
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------ properties */

static void
gst_upm_transformer_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstUpmTransformer *self = GST_UPM_TRANSFORMER (object);
  gboolean reconfigure = FALSE;

  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_TASK:
      reconfigure
          = self->task_prop != (GstUpmTransformerTask)g_value_get_enum (value);
      self->task_prop = g_value_get_enum (value);
      break;
    case PROP_ROUTING:
      self->routing = g_value_get_boolean (value);
      break;
    case PROP_BATCH_WAIT:
      self->batch_wait = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
  GST_OBJECT_UNLOCK (self);

  if (reconfigure)
    gst_base_transform_reconfigure_src (GST_BASE_TRANSFORM (self));
}

static void
gst_upm_transformer_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstUpmTransformer *self = GST_UPM_TRANSFORMER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_TASK:
      g_value_set_enum (value, self->task_prop);
      break;
    case PROP_ROUTING:
      g_value_set_boolean (value, self->routing);
      break;
    case PROP_BATCH_WAIT:
      g_value_set_uint (value, self->batch_wait);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_upm_transformer_class_init (GstUpmTransformerClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstUpmModelFilterClass *filter_class = GST_UPM_MODEL_FILTER_CLASS (klass);
  static const gchar *clip_meta_tags[] = { NULL };

  GST_DEBUG_CATEGORY_INIT (gst_upm_transformer_debug, "upmtransformer", 0,
      "Uni-Perceiver transformer");

  if (gst_meta_get_info (GST_UPM_CLIP_META_NAME) == NULL)
    gst_meta_register_custom (
        GST_UPM_CLIP_META_NAME, clip_meta_tags, NULL, NULL, NULL);

  gobject_class->set_property = gst_upm_transformer_set_property;
  gobject_class->get_property = gst_upm_transformer_get_property;
  filter_class->opened = gst_upm_transformer_opened;
  filter_class->closing = gst_upm_transformer_closing;

  /**
   * GstUpmTransformer:task:
   *
   * The task whose attribute rows route the experts. auto takes the task
   * of the downstream caps (upmhead's task), classify if downstream
   * accepts any.
   */
  g_object_class_install_property (gobject_class, PROP_TASK,
      g_param_spec_enum ("task", "Task",
          "Task of the sequence (auto: the task downstream asks for)",
          GST_TYPE_UPM_TRANSFORMER_TASK, DEFAULT_TASK,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY
              | GST_PARAM_DOC_SHOW_DEFAULT));

  /**
   * GstUpmTransformer:routing:
   *
   * Whether to record the experts each MoE layer chose and attach them to
   * the output as a #GstUpmRoutingMeta.
   */
  g_object_class_install_property (gobject_class, PROP_ROUTING,
      g_param_spec_boolean ("routing", "Routing",
          "Attach the expert routing of the MoE layers as a meta",
          DEFAULT_ROUTING,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING
              | GST_PARAM_DOC_SHOW_DEFAULT));

  /**
   * GstUpmTransformer:batch-wait:
   *
   * Streams of one model in one process (several upmbin or
   * upmtransformer instances) batch their clips: a clip waits at most this
   * long (µs) for the clips of the other streams, then all that are ready
   * run as one batch, their linear layers as one GEMM (results unchanged).
   * A lone stream runs at once. 0: no batching.
   */
  g_object_class_install_property (
      gobject_class, PROP_BATCH_WAIT, gst_upm_batch_wait_param_spec ());

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Uni-Perceiver transformer", "Filter/Analyzer/Video",
      "Runs the shared mixture-of-experts Uni-Perceiver transformer over an "
      "embedded clip or text",
      "gst-uniperceiver authors");

  trans_class->transform_caps
      = GST_DEBUG_FUNCPTR (gst_upm_transformer_transform_caps);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_upm_transformer_set_caps);
  trans_class->prepare_output_buffer
      = GST_DEBUG_FUNCPTR (gst_upm_transformer_prepare_output_buffer);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_upm_transformer_transform);

  gst_type_mark_as_plugin_api (GST_TYPE_UPM_TRANSFORMER_TASK, 0);
}

static void
gst_upm_transformer_init (GstUpmTransformer *self)
{
  self->task_prop = DEFAULT_TASK;
  self->routing = DEFAULT_ROUTING;
  self->batch_wait = GST_UPM_DEFAULT_BATCH_WAIT;
}
