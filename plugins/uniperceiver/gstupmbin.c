/* gstupmbin.c: upmtokenizer ! upmencoder ! upmtransformer ! upmhead in one
 * bin.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-upmbin
 * @title: upmbin
 *
 * The whole Uni-Perceiver chain in one element: video (or text) in, timed
 * text (classification labels or captions) out, with the result, caption
 * and routing metas of upmhead. It holds
 * `upmtokenizer ! upmencoder ! upmtransformer ! upmhead`, named tokenizer,
 * encoder, transformer and head, which share one loaded model through a
 * GstContext, and proxies their main properties under the same names,
 * types and defaults. Other properties of the children are reachable
 * through #GstChildProxy, e.g. `head::max-pending`. `preset` is set on both
 * the tokenizer (how clips are sampled) and the head (task, scale, caption
 * settings; the views of a clip averaged into one result).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=64 ! upmbin task=caption !
 *     fakesink dump=true
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmbin.h"
#include "gstupmcommon.h"
#include "gstupmelements.h"
#include "gstupmencoder.h"
#include "gstupmhead.h"
#include "gstupmtokenizer.h"
#include "gstupmtransformer.h"

GST_DEBUG_CATEGORY_STATIC (gst_upm_bin_debug);
#define GST_CAT_DEFAULT gst_upm_bin_debug

enum
{
  CHILD_TOKENIZER,
  CHILD_ENCODER,
  CHILD_TRANSFORMER,
  CHILD_HEAD,
  N_CHILDREN
};

#define ALL_CHILDREN ((1 << N_CHILDREN) - 1)
#define ONLY(c) (1 << (c))

static const struct
{
  const gchar *factory, *name;
} children[N_CHILDREN] = {
  { "upmtokenizer", "tokenizer" },
  { "upmencoder", "encoder" },
  { "upmtransformer", "transformer" },
  { "upmhead", "head" },
};

/* Proxied properties: the children they are set on, the one read back
 * (whose GParamSpec is copied). Property id = index + 1. */
static const struct
{
  const gchar *name;
  guint set_on;
  guint source;
} proxied[] = {
  { "model", ALL_CHILDREN, CHILD_HEAD },
  { "task", ONLY (CHILD_HEAD), CHILD_HEAD },
  { "labels", ONLY (CHILD_HEAD), CHILD_HEAD },
  { "labels-file", ONLY (CHILD_HEAD), CHILD_HEAD },
  { "top-k", ONLY (CHILD_HEAD), CHILD_HEAD },
  { "clip-frames", ONLY (CHILD_TOKENIZER), CHILD_TOKENIZER },
  { "frame-stride", ONLY (CHILD_TOKENIZER), CHILD_TOKENIZER },
  { "clip-hop", ONLY (CHILD_TOKENIZER), CHILD_TOKENIZER },
  { "beam-size", ONLY (CHILD_HEAD), CHILD_HEAD },
  { "max-length", ONLY (CHILD_HEAD), CHILD_HEAD },
  { "max-pending", ONLY (CHILD_HEAD), CHILD_HEAD },
  { "processing-latency", ONLY (CHILD_HEAD), CHILD_HEAD },
  { "text-format", ONLY (CHILD_HEAD), CHILD_HEAD },
  { "dropped", 0, CHILD_HEAD },
  { "preset", ONLY (CHILD_TOKENIZER) | ONLY (CHILD_HEAD), CHILD_HEAD },
  { "length-penalty", ONLY (CHILD_HEAD), CHILD_HEAD },
  { "precision",
      ONLY (CHILD_ENCODER) | ONLY (CHILD_TRANSFORMER) | ONLY (CHILD_HEAD),
      CHILD_TRANSFORMER },
};

struct _GstUpmBin
{
  GstBin parent;

  GstElement *child[N_CHILDREN]; /* owned by the bin */
  GstPad *sinkpad, *srcpad;
};

#define gst_upm_bin_parent_class parent_class
G_DEFINE_TYPE (GstUpmBin, gst_upm_bin, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (upmbin, "upmbin", GST_RANK_NONE, GST_TYPE_UPM_BIN);

static GstStaticPadTemplate src_template
    = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS ("text/x-raw, format = (string) utf8"));

static GType
child_type (guint c)
{
  switch (c)
    {
    case CHILD_TOKENIZER:
      return GST_TYPE_UPM_TOKENIZER;
    case CHILD_ENCODER:
      return GST_TYPE_UPM_ENCODER;
    case CHILD_TRANSFORMER:
      return GST_TYPE_UPM_TRANSFORMER;
    default:
      return GST_TYPE_UPM_HEAD;
    }
}

/* A property like @src (name, type, range, default, flags) for the bin. */
static GParamSpec *
copy_pspec (GParamSpec *src)
{
  const gchar *name = g_param_spec_get_name (src);
  const gchar *nick = g_param_spec_get_nick (src);
  const gchar *blurb = g_param_spec_get_blurb (src);
  GParamFlags flags = src->flags & ~G_PARAM_STATIC_STRINGS;
  GType type = G_PARAM_SPEC_TYPE (src);

  if (type == G_TYPE_PARAM_STRING)
    return g_param_spec_string (
        name, nick, blurb, G_PARAM_SPEC_STRING (src)->default_value, flags);
  if (type == G_TYPE_PARAM_UINT)
    {
      GParamSpecUInt *p = G_PARAM_SPEC_UINT (src);
      return g_param_spec_uint (
          name, nick, blurb, p->minimum, p->maximum, p->default_value, flags);
    }
  if (type == G_TYPE_PARAM_INT)
    {
      GParamSpecInt *p = G_PARAM_SPEC_INT (src);
      return g_param_spec_int (
          name, nick, blurb, p->minimum, p->maximum, p->default_value, flags);
    }
  if (type == G_TYPE_PARAM_UINT64)
    {
      GParamSpecUInt64 *p = G_PARAM_SPEC_UINT64 (src);
      return g_param_spec_uint64 (
          name, nick, blurb, p->minimum, p->maximum, p->default_value, flags);
    }
  if (type == G_TYPE_PARAM_INT64)
    {
      GParamSpecInt64 *p = G_PARAM_SPEC_INT64 (src);
      return g_param_spec_int64 (
          name, nick, blurb, p->minimum, p->maximum, p->default_value, flags);
    }
  if (type == G_TYPE_PARAM_BOOLEAN)
    return g_param_spec_boolean (
        name, nick, blurb, G_PARAM_SPEC_BOOLEAN (src)->default_value, flags);
  if (type == G_TYPE_PARAM_ENUM)
    return g_param_spec_enum (name, nick, blurb, G_PARAM_SPEC_VALUE_TYPE (src),
        G_PARAM_SPEC_ENUM (src)->default_value, flags);
  if (type == G_TYPE_PARAM_FLOAT)
    {
      GParamSpecFloat *p = G_PARAM_SPEC_FLOAT (src);
      return g_param_spec_float (
          name, nick, blurb, p->minimum, p->maximum, p->default_value, flags);
    }
  if (type == G_TYPE_PARAM_DOUBLE)
    {
      GParamSpecDouble *p = G_PARAM_SPEC_DOUBLE (src);
      return g_param_spec_double (
          name, nick, blurb, p->minimum, p->maximum, p->default_value, flags);
    }
  return NULL;
}

static void
gst_upm_bin_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstUpmBin *self = GST_UPM_BIN (object);
  guint i = prop_id - 1, c;

  if (prop_id == 0 || prop_id > G_N_ELEMENTS (proxied))
    {
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
    }
  for (c = 0; c < N_CHILDREN; c++)
    if ((proxied[i].set_on & ONLY (c)) && self->child[c] != NULL)
      g_object_set_property (G_OBJECT (self->child[c]), proxied[i].name, value);
}

static void
gst_upm_bin_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstUpmBin *self = GST_UPM_BIN (object);
  guint i = prop_id - 1;
  GstElement *source;

  if (prop_id == 0 || prop_id > G_N_ELEMENTS (proxied))
    {
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
    }
  source = self->child[proxied[i].source];
  if (source != NULL)
    g_object_get_property (G_OBJECT (source), proxied[i].name, value);
  else
    g_param_value_set_default (pspec, value);
}

static GstStateChangeReturn
gst_upm_bin_change_state (GstElement *element, GstStateChange transition)
{
  GstUpmBin *self = GST_UPM_BIN (element);
  guint c;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY)
    for (c = 0; c < N_CHILDREN; c++)
      if (self->child[c] == NULL)
        {
          GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
              ("The element \"%s\" is missing.", children[c].factory),
              ("check the installation of the uniperceiver plugin"));
          return GST_STATE_CHANGE_FAILURE;
        }
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

static void
gst_upm_bin_class_init (GstUpmBinClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstElementClass *tokenizer_class;
  GstPadTemplate *templ;
  guint i;

  GST_DEBUG_CATEGORY_INIT (gst_upm_bin_debug, "upmbin", 0, "Uni-Perceiver bin");

  gobject_class->set_property = gst_upm_bin_set_property;
  gobject_class->get_property = gst_upm_bin_get_property;

  for (i = 0; i < G_N_ELEMENTS (proxied); i++)
    {
      /* The child classes stay referenced: the type system keeps them. */
      GObjectClass *source = g_type_class_ref (child_type (proxied[i].source));
      GParamSpec *pspec
          = g_object_class_find_property (source, proxied[i].name);
      GParamSpec *copy = pspec ? copy_pspec (pspec) : NULL;

      if (copy == NULL)
        {
          g_critical ("upmbin: cannot proxy the property %s of %s",
              proxied[i].name, children[proxied[i].source].factory);
          continue;
        }
      g_object_class_install_property (gobject_class, i + 1, copy);
    }

  /* The sink pad takes what upmtokenizer takes. */
  tokenizer_class = g_type_class_ref (GST_TYPE_UPM_TOKENIZER);
  templ = gst_element_class_get_pad_template (tokenizer_class, "sink");
  if (templ != NULL)
    {
      GstCaps *caps = gst_pad_template_get_caps (templ);

      gst_element_class_add_pad_template (element_class,
          gst_pad_template_new ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
      gst_caps_unref (caps);
    }
  else
    gst_element_class_add_pad_template (
        element_class, gst_pad_template_new (
                           "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_CAPS_ANY));
  gst_element_class_add_static_pad_template (element_class, &src_template);

  gst_element_class_set_static_metadata (element_class, "Uni-Perceiver bin",
      "Filter/Analyzer/Video",
      "Classifies or captions video (or text) with Uni-Perceiver-MoE: "
      "upmtokenizer ! upmencoder ! upmtransformer ! upmhead",
      "gst-uniperceiver authors");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_upm_bin_change_state);
}

static void
gst_upm_bin_init (GstUpmBin *self)
{
  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);
  GstPad *target;
  guint c;

  for (c = 0; c < N_CHILDREN; c++)
    {
      self->child[c]
          = gst_element_factory_make (children[c].factory, children[c].name);
      if (self->child[c] == NULL)
        {
          GST_ERROR_OBJECT (self, "no %s element", children[c].factory);
          continue;
        }
      gst_bin_add (GST_BIN (self), self->child[c]);
      if (c > 0 && self->child[c - 1] != NULL
          && !gst_element_link (self->child[c - 1], self->child[c]))
        GST_ERROR_OBJECT (self, "could not link %s to %s",
            children[c - 1].factory, children[c].factory);
    }

  if (self->child[CHILD_TOKENIZER] != NULL)
    {
      target
          = gst_element_get_static_pad (self->child[CHILD_TOKENIZER], "sink");
      self->sinkpad = gst_ghost_pad_new_from_template (
          "sink", target, gst_element_class_get_pad_template (klass, "sink"));
      gst_object_unref (target);
    }
  else
    self->sinkpad = gst_ghost_pad_new_no_target_from_template (
        "sink", gst_element_class_get_pad_template (klass, "sink"));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  if (self->child[CHILD_HEAD] != NULL)
    {
      target = gst_element_get_static_pad (self->child[CHILD_HEAD], "src");
      self->srcpad = gst_ghost_pad_new_from_template (
          "src", target, gst_element_class_get_pad_template (klass, "src"));
      gst_object_unref (target);
    }
  else
    self->srcpad = gst_ghost_pad_new_no_target_from_template (
        "src", gst_element_class_get_pad_template (klass, "src"));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}
