/* gstupmtokenizer.c: video frames -> clips of patch rows, text -> BPE ids.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-upmtokenizer
 * @title: upmtokenizer
 *
 * The first step of the uniperceiver elements. Video: every frame-stride-th
 * frame is converted to RGB at its own size, resized (shorter side to the
 * model's image size), centre-cropped, normalised and cut into patch rows;
 * clip-frames such frames make one clip buffer
 * (application/x-upm-patches), a new clip starting every clip-hop kept
 * frames. A still image (framerate 0/1) is a clip of one frame. Text: each
 * buffer is tokenised with the model's BPE as "<text> <|endoftext|>"
 * (application/x-upm-tokens).
 *
 * #GstUpmTokenizer:preset samples clips as the official evaluation of a
 * benchmark does (k400, msvd-caption, imagenet, ...; "default" is the
 * behaviour above). A video preset samples by time: a window starts at the
 * first frame and takes frames x views samples stride / 30 s apart, each
 * the last frame at or before its time (buffer PTS), so that variable-rate
 * and frame-dropping sources give clips of the intended span; sample j
 * belongs to temporal view j mod views, and every frame is cut into the
 * preset's crops. The views x crops views of a clip leave as consecutive
 * clip buffers, each with a #GstUpmViewMeta (clip id, view, the source
 * frame indices and PTS, the crop box); upmhead averages them into one
 * result. clip-hop then counts 30-fps frames between window starts (0: the
 * window's span). A stream shorter than the window wraps around (its frames
 * repeated, as the official sampler does) with a warning. The properties
 * clip-frames, frame-stride, clip-hop and norm override the preset where
 * set (0 / auto: from the preset).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! upmtokenizer \
 *     clip-frames=4 frame-stride=8 ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmtokenizer.h"
#include "gstupmelements.h"
#include "gstupmenum.h"
#include "gstupmrgbconverter.h"
#include "gstupmtexttokens.h"
#include "gstupmtimesampler.h"

#include <math.h>
#include <string.h>

/* shared with the clipper, the RGB converter and the text path */
GST_DEBUG_CATEGORY (gst_upm_tokenizer_debug);
#define GST_CAT_DEFAULT gst_upm_tokenizer_debug

#define DEFAULT_CLIP_FRAMES 0
#define DEFAULT_FRAME_STRIDE 0
#define DEFAULT_PRESET GST_UPM_PRESET_DEFAULT
#define DEFAULT_CLIP_HOP 0
#define DEFAULT_NORM GST_UPM_TOKENIZER_NORM_AUTO
#define DEFAULT_PARTIAL_CLIP GST_UPM_PARTIAL_CLIP_PAD
#define MAX_CLIP_FRAMES 64

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_CLIP_FRAMES,
  PROP_FRAME_STRIDE,
  PROP_CLIP_HOP,
  PROP_NORM,
  PROP_PARTIAL_CLIP,
  PROP_PRESET,
};

typedef enum
{
  MODE_NONE,
  MODE_VIDEO,
  MODE_TEXT,
} Mode;

struct _GstUpmTokenizer
{
  GstElement parent;

  GstPad *sinkpad, *srcpad;

  /* the model property and the model (READY and above) */
  GstUpmModelSlot model_slot;

  /* properties, under the object lock */
  guint clip_frames, frame_stride, clip_hop;
  GstUpmTokenizerNorm norm;
  GstUpmPartialClip partial_clip;
  gint preset; /* GST_TYPE_UPM_PRESET */

  GstClockTime latency; /* object lock */

  /* streaming state, under the stream lock */
  Mode mode;
  GstVideoInfo vinfo;
  UpmNormKind norm_kind;
  GstUpmClipper clipper;
  GstUpmTimeSampler *sampler; /* a preset sampling by time, else NULL */
  GstUpmRgbConverter converter;
  guint resize;            /* shorter side before the centre crop (clipper) */
  GstCaps *video_out_caps; /* the caps of the clips of the layout */
  gboolean restore_caps;   /* a still image's caps were sent since */
  GstSegment segment;      /* the last one received */
};

#define VIDEO_FORMATS                                                          \
  "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, xRGB, ARGB, "                           \
  "I420, YV12, NV12, NV21, Y42B, Y444, GRAY8, YUY2, UYVY }"

#define SINK_CAPS                                                              \
  GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS) "; text/x-raw, format = (string) utf8"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (SINK_CAPS));

static GstStaticPadTemplate src_template
    = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_UPM_PATCHES_CAPS "; " GST_UPM_TOKENS_CAPS));

static GstStaticCaps patches_caps = GST_STATIC_CAPS (GST_UPM_PATCHES_CAPS);
static GstStaticCaps tokens_caps = GST_STATIC_CAPS (GST_UPM_TOKENS_CAPS);

#define gst_upm_tokenizer_parent_class parent_class
G_DEFINE_TYPE (GstUpmTokenizer, gst_upm_tokenizer, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (
    upmtokenizer, "upmtokenizer", GST_RANK_NONE, GST_TYPE_UPM_TOKENIZER);

static void gst_upm_tokenizer_finalize (GObject *object);
static void gst_upm_tokenizer_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec);
static void gst_upm_tokenizer_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec);
static GstStateChangeReturn gst_upm_tokenizer_change_state (
    GstElement *element, GstStateChange transition);
static GstFlowReturn gst_upm_tokenizer_chain (
    GstPad *pad, GstObject *parent, GstBuffer *buffer);
static gboolean gst_upm_tokenizer_sink_event (
    GstPad *pad, GstObject *parent, GstEvent *event);
static gboolean gst_upm_tokenizer_sink_query (
    GstPad *pad, GstObject *parent, GstQuery *query);
static gboolean gst_upm_tokenizer_src_query (
    GstPad *pad, GstObject *parent, GstQuery *query);

/* ----------------------------------------------------------------- enums */

GType
gst_upm_tokenizer_norm_get_type (void)
{
  GST_UPM_ENUM_TYPE_ONCE ("GstUpmTokenizerNorm",
      { GST_UPM_TOKENIZER_NORM_AUTO,
          "Image normalisation for 1-frame clips, video for longer clips",
          "auto" },
      { GST_UPM_TOKENIZER_NORM_VIDEO, "Video: bilinear resize, mean/std 0.5",
          "video" },
      { GST_UPM_TOKENIZER_NORM_IMAGE,
          "Image: bicubic resize, the model's (ImageNet) mean/std", "image" });
}

/* ----------------------------------------------------------------- class */

static void
gst_upm_tokenizer_class_init (GstUpmTokenizerClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags flags
      = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_DOC_SHOW_DEFAULT;

  gobject_class->finalize = gst_upm_tokenizer_finalize;
  gobject_class->set_property = gst_upm_tokenizer_set_property;
  gobject_class->get_property = gst_upm_tokenizer_get_property;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      gst_upm_model_param_spec (
          "Model file (.upm) giving the image size, patch size, mean/std, "
          "clip length and tokenizer; NULL: the bundled model "
          "($UPM_DEFAULT_MODEL if set)"));

  g_object_class_install_property (gobject_class, PROP_CLIP_FRAMES,
      g_param_spec_uint ("clip-frames", "Clip frames",
          "Kept frames per clip (per view) (0: from the preset, else the "
          "model's default; at most the model's number of temporal "
          "positions). Still images are 1-frame clips",
          0, MAX_CLIP_FRAMES, DEFAULT_CLIP_FRAMES,
          flags | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_FRAME_STRIDE,
      g_param_spec_uint ("frame-stride", "Frame stride",
          "Keep every Nth input frame (1: all); with a preset that samples "
          "by time, the time between samples in 30-fps frames (N / 30 s). "
          "0: from the preset (default: 1)",
          0, G_MAXINT, DEFAULT_FRAME_STRIDE, flags | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_CLIP_HOP,
      g_param_spec_uint ("clip-hop", "Clip hop",
          "Kept frames between the starts of two clips (0: clip-frames, "
          "non-overlapping clips; less than clip-frames: sliding windows, "
          "each frame converted once; more: kept frames between clips are "
          "skipped). With a preset that samples by time: 30-fps frames "
          "between window starts (N / 30 s; 0: the window's span)",
          0, G_MAXINT, DEFAULT_CLIP_HOP, flags | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_NORM,
      g_param_spec_enum ("norm", "Normalisation",
          "Resize filter and mean/std of the frames (auto: from the preset; "
          "with the default preset image for 1-frame clips, video otherwise)",
          GST_TYPE_UPM_TOKENIZER_NORM, DEFAULT_NORM,
          flags | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_PARTIAL_CLIP,
      g_param_spec_enum ("partial-clip", "Partial clip",
          "What to do at EOS (or a new segment or clip layout) with a clip "
          "that is not complete: pad it by repeating its last frame when at "
          "least half of its frames are present and drop it otherwise, or "
          "always drop it",
          GST_TYPE_UPM_PARTIAL_CLIP, DEFAULT_PARTIAL_CLIP,
          flags | GST_PARAM_MUTABLE_PLAYING));

  g_object_class_install_property (gobject_class, PROP_PRESET,
      g_param_spec_enum ("preset", "Preset",
          "How clips are sampled and cropped: the official evaluation "
          "settings of a benchmark (frames, stride in time, temporal views x "
          "crops, resize, normalisation), or default (clip-frames "
          "consecutive frames, one centre crop). clip-frames, frame-stride, "
          "clip-hop and norm override it where set",
          GST_TYPE_UPM_PRESET, DEFAULT_PRESET,
          flags | GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Uni-Perceiver tokenizer", "Filter/Converter/Video/Text",
      "Groups video frames into clips of normalised patch rows and tokenises "
      "text with the model's BPE",
      "gst-uniperceiver authors");

  element_class->change_state
      = GST_DEBUG_FUNCPTR (gst_upm_tokenizer_change_state);

  /* the boxed type of the "upm.model" context, for applications that make
   * one themselves */
  g_type_ensure (GST_TYPE_UPM_MODEL);
  gst_type_mark_as_plugin_api (GST_TYPE_UPM_TOKENIZER_NORM, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_UPM_PARTIAL_CLIP, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_UPM_PRESET, 0);

  GST_DEBUG_CATEGORY_INIT (
      gst_upm_tokenizer_debug, "upmtokenizer", 0, "uniperceiver tokenizer");
}

static void
gst_upm_tokenizer_init (GstUpmTokenizer *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (
      self->sinkpad, GST_DEBUG_FUNCPTR (gst_upm_tokenizer_chain));
  gst_pad_set_event_function (
      self->sinkpad, GST_DEBUG_FUNCPTR (gst_upm_tokenizer_sink_event));
  gst_pad_set_query_function (
      self->sinkpad, GST_DEBUG_FUNCPTR (gst_upm_tokenizer_sink_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (
      self->srcpad, GST_DEBUG_FUNCPTR (gst_upm_tokenizer_src_query));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  gst_upm_model_slot_init (&self->model_slot, PROP_MODEL, NULL, NULL);
  self->clip_frames = DEFAULT_CLIP_FRAMES;
  self->frame_stride = DEFAULT_FRAME_STRIDE;
  self->clip_hop = DEFAULT_CLIP_HOP;
  self->norm = DEFAULT_NORM;
  self->partial_clip = DEFAULT_PARTIAL_CLIP;
  self->preset = DEFAULT_PRESET;
  self->latency = 0;
  self->mode = MODE_NONE;
  gst_upm_clipper_init (&self->clipper, GST_ELEMENT (self));
  gst_upm_rgb_converter_init (&self->converter, GST_ELEMENT (self));
  gst_video_info_init (&self->vinfo);
  gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
}

/* ------------------------------------------------------- stream state */

static void
gst_upm_tokenizer_free_stream (GstUpmTokenizer *self)
{
  gst_upm_clipper_clear (&self->clipper);
  g_clear_pointer (&self->sampler, gst_upm_time_sampler_free);
  gst_clear_caps (&self->video_out_caps);
  self->restore_caps = FALSE;
  self->mode = MODE_NONE;
  gst_video_info_init (&self->vinfo);
  gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
  gst_upm_rgb_converter_clear (&self->converter);
  GST_OBJECT_LOCK (self);
  self->latency = 0;
  GST_OBJECT_UNLOCK (self);
}

static void
gst_upm_tokenizer_finalize (GObject *object)
{
  GstUpmTokenizer *self = GST_UPM_TOKENIZER (object);

  gst_upm_tokenizer_free_stream (self);
  gst_upm_model_slot_clear (&self->model_slot, GST_ELEMENT (self));
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* The model's hyper-parameters; only called while the model is loaded
 * (READY and up), where the pointer does not change. */
static const UpmHParams *
gst_upm_tokenizer_hparams (GstUpmTokenizer *self)
{
  return upm_model_hparams (self->model_slot.model);
}

/* -------------------------------------------------------------- model */

static guint
gst_upm_tokenizer_default_clip_frames (const UpmHParams *hp)
{
  return hp->clip_frames ? hp->clip_frames : MIN (4u, hp->n_temporal);
}

/* The preset, with clip-frames when set. */
static UpmPreset
gst_upm_tokenizer_preset (GstUpmTokenizer *self)
{
  UpmPreset preset;

  GST_OBJECT_LOCK (self);
  preset = *gst_upm_preset_from_value (self->preset);
  if (self->clip_frames)
    preset.frames = self->clip_frames;
  GST_OBJECT_UNLOCK (self);
  return preset;
}

static gboolean
gst_upm_tokenizer_check_clip_frames (GstUpmTokenizer *self)
{
  const UpmHParams *hp = gst_upm_tokenizer_hparams (self);
  UpmPreset preset = gst_upm_tokenizer_preset (self);
  guint clip_frames;

  GST_OBJECT_LOCK (self);
  clip_frames = self->clip_frames;
  GST_OBJECT_UNLOCK (self);
  if (clip_frames <= hp->n_temporal)
    return gst_upm_check_preset (
        GST_ELEMENT (self), self->model_slot.model, &preset);
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
      ("clip-frames is %u but the model \"%s\" has %u temporal positions.",
          clip_frames, upm_model_name (self->model_slot.model), hp->n_temporal),
      ("Set clip-frames to 1..%u, or to 0 for the model's default (%u).",
          hp->n_temporal, gst_upm_tokenizer_default_clip_frames (hp)));
  return FALSE;
}

/* ----------------------------------------------------------- properties */

static gboolean
gst_upm_tokenizer_check_mutable (GstUpmTokenizer *self, GParamSpec *pspec)
{
  GstState state;

  if (pspec->flags & GST_PARAM_MUTABLE_PLAYING)
    return TRUE;
  GST_OBJECT_LOCK (self);
  state = GST_STATE (self);
  GST_OBJECT_UNLOCK (self);
  if (state <= GST_STATE_READY)
    return TRUE;
  GST_WARNING_OBJECT (self,
      "property '%s' can only be changed in the NULL "
      "or READY state; ignored",
      pspec->name);
  return FALSE;
}

static void
gst_upm_tokenizer_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstUpmTokenizer *self = GST_UPM_TOKENIZER (object);

  if (!gst_upm_tokenizer_check_mutable (self, pspec)
      || gst_upm_model_slot_set_property (
          &self->model_slot, object, prop_id, value))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_CLIP_FRAMES:
      self->clip_frames = g_value_get_uint (value);
      break;
    case PROP_FRAME_STRIDE:
      self->frame_stride = g_value_get_uint (value);
      break;
    case PROP_CLIP_HOP:
      self->clip_hop = g_value_get_uint (value);
      break;
    case PROP_NORM:
      self->norm = g_value_get_enum (value);
      break;
    case PROP_PARTIAL_CLIP:
      self->partial_clip = g_value_get_enum (value);
      break;
    case PROP_PRESET:
      self->preset = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_upm_tokenizer_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstUpmTokenizer *self = GST_UPM_TOKENIZER (object);

  if (gst_upm_model_slot_get_property (
          &self->model_slot, object, prop_id, value))
    return;
  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_CLIP_FRAMES:
      g_value_set_uint (value, self->clip_frames);
      break;
    case PROP_FRAME_STRIDE:
      g_value_set_uint (value, self->frame_stride);
      break;
    case PROP_CLIP_HOP:
      g_value_set_uint (value, self->clip_hop);
      break;
    case PROP_NORM:
      g_value_set_enum (value, self->norm);
      break;
    case PROP_PARTIAL_CLIP:
      g_value_set_enum (value, self->partial_clip);
      break;
    case PROP_PRESET:
      g_value_set_enum (value, self->preset);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
  GST_OBJECT_UNLOCK (self);
}

/* ------------------------------------------------------------ clips */

/* Pushes @clip (or the tokens of a text), if any; else returns @ret. */
static GstFlowReturn
gst_upm_tokenizer_push_clip (
    GstUpmTokenizer *self, GstFlowReturn ret, GstBuffer *clip)
{
  return clip ? gst_pad_push (self->srcpad, clip) : ret;
}

/* Pushes the view buffers of @views in order (and frees the array); stops
 * at the first flow that is not OK. Returns @ret when there are none. */
static GstFlowReturn
gst_upm_tokenizer_push_views (
    GstUpmTokenizer *self, GstFlowReturn ret, GPtrArray *views)
{
  guint i;

  for (i = 0; i < views->len && ret == GST_FLOW_OK; i++)
    ret = gst_pad_push (self->srcpad, g_ptr_array_index (views, i));
  for (; i < views->len; i++)
    gst_buffer_unref (g_ptr_array_index (views, i));
  g_ptr_array_free (views, TRUE);
  return ret;
}

static gboolean gst_upm_tokenizer_frame_to_patches (
    GstUpmTokenizer *self, GstBuffer *buf, gfloat *patches, GError **error);

/* A stream of one frame under a preset sampling by time is a still image:
 * one 1-frame image clip (the image path: bicubic, the model's mean/std),
 * not a clip of the frame repeated. */
static GstFlowReturn
gst_upm_tokenizer_push_still (
    GstUpmTokenizer *self, GstBuffer *frame, guint64 index)
{
  const UpmHParams *hp = gst_upm_tokenizer_hparams (self);
  gsize bytes = (gsize)UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp)
                * sizeof (gfloat);
  gfloat *patches = g_malloc (bytes);
  GstClockTime pts = GST_BUFFER_PTS (frame);
  UpmNormKind norm_kind = self->norm_kind;
  GstUpmTokenizerNorm norm;
  GstUpmViewBox vbox = { 0 };
  GError *err = NULL;
  UpmCropBox box;
  GstBuffer *clip;
  GstCaps *caps;
  gboolean ok;

  GST_OBJECT_LOCK (self);
  norm = self->norm;
  GST_OBJECT_UNLOCK (self);
  if (norm == GST_UPM_TOKENIZER_NORM_AUTO)
    self->norm_kind = UPM_NORM_IMAGE;
  ok = gst_upm_tokenizer_frame_to_patches (self, frame, patches, &err);
  self->norm_kind = norm_kind;
  if (!ok)
    {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("Could not convert a video frame to patches: %s", err->message),
          (NULL));
      g_clear_error (&err);
      g_free (patches);
      return GST_FLOW_ERROR;
    }
  caps = gst_caps_copy (self->video_out_caps);
  gst_caps_set_simple (
      caps, "modality", G_TYPE_STRING, "image", "frames", G_TYPE_INT, 1, NULL);
  gst_pad_set_caps (self->srcpad, caps);
  gst_caps_unref (caps);
  self->restore_caps = TRUE;

  clip = gst_buffer_new_wrapped (patches, bytes);
  GST_BUFFER_PTS (clip) = pts;
  GST_BUFFER_DURATION (clip) = GST_BUFFER_DURATION (frame);
  if (upm_vision_crop_box (GST_VIDEO_INFO_WIDTH (&self->vinfo),
          GST_VIDEO_INFO_HEIGHT (&self->vinfo), self->resize, hp->image_size,
          UPM_CROPS_CENTRE, 0, &box, NULL))
    vbox = gst_upm_view_box (&box);
  gst_buffer_add_upm_view_meta (clip, 0, 0, 1, 0, 0, &index, &pts, 1, &vbox,
      pts, GST_BUFFER_DURATION (frame));
  GST_DEBUG_OBJECT (self, "a stream of one frame: a still image clip");
  return gst_pad_push (self->srcpad, clip);
}

/* The end of a run of clips (EOS, new segment or clip layout): the partial
 * clip follows the partial-clip property (a window sampled by time wraps
 * around); the state restarts. */
static GstFlowReturn
gst_upm_tokenizer_drain (GstUpmTokenizer *self)
{
  GstUpmPartialClip policy;
  GstBuffer *clip;
  GstFlowReturn ret;

  if (self->mode != MODE_VIDEO)
    return GST_FLOW_OK;
  GST_OBJECT_LOCK (self);
  policy = self->partial_clip;
  GST_OBJECT_UNLOCK (self);

  if (self->sampler != NULL)
    {
      GPtrArray *views = g_ptr_array_new ();
      guint64 index;
      GstBuffer *still
          = gst_upm_time_sampler_single_frame (self->sampler, &index);
      gboolean ok;

      if (still != NULL)
        {
          ret = gst_upm_tokenizer_push_still (self, still, index);
          gst_upm_time_sampler_reset (self->sampler);
          g_ptr_array_free (views, TRUE);
          return ret;
        }
      ok = gst_upm_time_sampler_drain (
          self->sampler, policy == GST_UPM_PARTIAL_CLIP_PAD, views);

      return gst_upm_tokenizer_push_views (
          self, ok ? GST_FLOW_OK : GST_FLOW_ERROR, views);
    }
  ret = gst_upm_clipper_drain (&self->clipper, policy, &clip);
  return gst_upm_tokenizer_push_clip (self, ret, clip);
}

/* -------------------------------------------------------- conversion */

/* One video frame -> its patch rows. */
static gboolean
gst_upm_tokenizer_frame_to_patches (
    GstUpmTokenizer *self, GstBuffer *buf, gfloat *patches, GError **error)
{
  const UpmHParams *hp = gst_upm_tokenizer_hparams (self);
  GstVideoFrame frame;
  const guint8 *rgb;
  gint width, height, stride;
  UpmCropBox box;
  gboolean ok;

  if (!gst_video_frame_map (&frame, &self->vinfo, buf, GST_MAP_READ))
    {
      g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
          "a buffer of %" G_GSIZE_FORMAT " bytes is not a %dx%d %s frame",
          gst_buffer_get_size (buf), GST_VIDEO_INFO_WIDTH (&self->vinfo),
          GST_VIDEO_INFO_HEIGHT (&self->vinfo),
          GST_VIDEO_INFO_NAME (&self->vinfo));
      return FALSE;
    }
  width = GST_VIDEO_FRAME_WIDTH (&frame);
  height = GST_VIDEO_FRAME_HEIGHT (&frame);

  if (!gst_upm_rgb_converter_convert (
          &self->converter, &frame, &rgb, &stride, error))
    {
      gst_video_frame_unmap (&frame);
      return FALSE;
    }
  ok = upm_vision_crop_box (width, height, self->resize, hp->image_size,
           UPM_CROPS_CENTRE, 0, &box, error)
       && upm_vision_frame_to_patches_box (hp, self->norm_kind, &box, rgb,
           width, height, stride, patches, error);
  gst_video_frame_unmap (&frame);
  return ok;
}

/* ------------------------------------------------------------ chain */

/* At the first frame sampled by time: a stream known to outlast the first
 * window (its duration, or a live source) lets the sampler hold only the
 * frames it samples from the start. */
static void
gst_upm_tokenizer_ask_stream_length (GstUpmTokenizer *self, GstBuffer *first)
{
  GstClockTime span = gst_upm_time_sampler_span (self->sampler);
  GstClockTime pts = GST_BUFFER_PTS (first);
  GstQuery *query = gst_query_new_latency ();
  gint64 duration = -1;
  gboolean live = FALSE;

  if (gst_pad_peer_query (self->sinkpad, query))
    gst_query_parse_latency (query, &live, NULL, NULL);
  gst_query_unref (query);
  if (!live)
    gst_pad_peer_query_duration (self->sinkpad, GST_FORMAT_TIME, &duration);
  if (!live
      && (duration < 0 || !GST_CLOCK_TIME_IS_VALID (pts)
          || (GstClockTime)duration < pts + span))
    return;
  GST_DEBUG_OBJECT (self,
      "the stream outlasts its first window (%s, duration %" GST_TIME_FORMAT
      "): holding only the sampled frames",
      live ? "live" : "not live", GST_TIME_ARGS (duration));
  gst_upm_time_sampler_set_no_wrap (self->sampler);
}

/* The chain functions of the modes read @buf (the caller unrefs it) and
 * set *@out to what to push, if anything; they return the flow otherwise. */

static GstFlowReturn
gst_upm_tokenizer_chain_video (
    GstUpmTokenizer *self, GstBuffer *buf, GstBuffer **out)
{
  GError *err = NULL;
  gfloat *patches;
  guint64 n;

  if (self->restore_caps)
    {
      /* the clips of the layout again after a still image */
      self->restore_caps = FALSE;
      gst_pad_set_caps (self->srcpad, self->video_out_caps);
    }
  if (self->sampler != NULL && gst_upm_time_sampler_is_fresh (self->sampler))
    gst_upm_tokenizer_ask_stream_length (self, buf);
  if (self->sampler != NULL)
    {
      GPtrArray *views = g_ptr_array_new ();
      gboolean ok = gst_upm_time_sampler_add_frame (
          self->sampler, buf, &self->vinfo, views);

      return gst_upm_tokenizer_push_views (
          self, ok ? GST_FLOW_OK : GST_FLOW_ERROR, views);
    }
  if (!gst_upm_clipper_keep (&self->clipper, &n))
    return GST_FLOW_OK;
  patches = gst_upm_clipper_frame_patches (&self->clipper);
  if (patches == NULL)
    return GST_FLOW_ERROR;
  if (!gst_upm_tokenizer_frame_to_patches (self, buf, patches, &err))
    {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT,
          ("Could not convert a video frame to patches: %s", err->message),
          ("frame %" G_GUINT64_FORMAT ", pts %" GST_TIME_FORMAT, n,
              GST_TIME_ARGS (GST_BUFFER_PTS (buf))));
      g_clear_error (&err);
      return GST_FLOW_ERROR;
    }
  return gst_upm_clipper_add_frame (
      &self->clipper, GST_BUFFER_PTS (buf), GST_BUFFER_DURATION (buf), out);
}

static GstFlowReturn
gst_upm_tokenizer_chain_text (
    GstUpmTokenizer *self, GstBuffer *buf, GstBuffer **out)
{
  GError *err = NULL;
  GstFlowReturn ret;
  gchar *copy;
  GArray *ids;

  ret = gst_upm_text_buffer_dup (GST_ELEMENT (self), buf, &copy);
  if (copy == NULL)
    return ret;

  ids = upm_tokenize_target (self->model_slot.model, copy,
      gst_upm_tokenizer_hparams (self)->text_max_length, &err);
  g_free (copy);
  if (!ids)
    {
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("Could not tokenise a text buffer: %s", err->message), (NULL));
      g_clear_error (&err);
      return GST_FLOW_ERROR;
    }

  *out = gst_upm_tokens_buffer_new (ids, buf);
  GST_LOG_OBJECT (self, "%u tokens, pts %" GST_TIME_FORMAT, ids->len,
      GST_TIME_ARGS (GST_BUFFER_PTS (*out)));
  g_array_unref (ids);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_upm_tokenizer_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstUpmTokenizer *self = GST_UPM_TOKENIZER (parent);
  GstFlowReturn ret = GST_FLOW_NOT_NEGOTIATED;
  GstBuffer *out = NULL;

  switch (self->mode)
    {
    case MODE_VIDEO:
      ret = gst_upm_tokenizer_chain_video (self, buf, &out);
      break;
    case MODE_TEXT:
      ret = gst_upm_tokenizer_chain_text (self, buf, &out);
      break;
    case MODE_NONE:
      GST_WARNING_OBJECT (self, "a buffer arrived before the caps");
      break;
    }
  gst_buffer_unref (buf);
  return gst_upm_tokenizer_push_clip (self, ret, out);
}

/* ------------------------------------------------------------- caps */

static void
gst_upm_tokenizer_update_latency (GstUpmTokenizer *self)
{
  GstClockTime latency = 0;
  gboolean changed;

  if (self->mode == MODE_VIDEO && self->sampler != NULL)
    latency = gst_upm_time_sampler_span (self->sampler);
  else if (self->mode == MODE_VIDEO)
    latency = gst_upm_clipper_latency (&self->clipper);

  GST_OBJECT_LOCK (self);
  changed = self->latency != latency;
  self->latency = latency;
  GST_OBJECT_UNLOCK (self);
  if (changed)
    {
      GST_DEBUG_OBJECT (
          self, "latency %" GST_TIME_FORMAT, GST_TIME_ARGS (latency));
      gst_element_post_message (
          GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
    }
}

/* The input video, whose rate also times the frames without a duration. */
static void
gst_upm_tokenizer_set_vinfo (GstUpmTokenizer *self, const GstVideoInfo *info)
{
  self->vinfo = *info;
  gst_upm_clipper_set_rate (
      &self->clipper, GST_VIDEO_INFO_FPS_N (info), GST_VIDEO_INFO_FPS_D (info));
  if (self->sampler != NULL)
    gst_upm_time_sampler_set_rate (self->sampler, GST_VIDEO_INFO_FPS_N (info),
        GST_VIDEO_INFO_FPS_D (info));
}

/* What the clips of a video are. */
typedef struct
{
  guint span, stride, hop; /* count mode (the clipper) */
  UpmNormKind norm;
  guint resize;
  gboolean by_time; /* a preset sampling by time: the time sampler */
  GstUpmTimeLayout time;
} ClipLayout;

/* The norm of the norm property, auto resolved: the image path for still
 * images and 1-frame clips of the default preset, else the preset's. */
static UpmNormKind
gst_upm_tokenizer_norm_kind (GstUpmTokenizerNorm norm, const UpmPreset *p,
    gboolean is_default, gboolean still, guint span)
{
  if (norm == GST_UPM_TOKENIZER_NORM_IMAGE)
    return UPM_NORM_IMAGE;
  if (norm == GST_UPM_TOKENIZER_NORM_VIDEO)
    return UPM_NORM_VIDEO;
  if (still || (is_default && span == 1))
    return UPM_NORM_IMAGE;
  return is_default ? UPM_NORM_VIDEO : p->norm;
}

/* The clips the preset and the properties give for @info (a still image is
 * a clip of one frame); FALSE when clip-frames exceeds the model's
 * temporal positions. */
static gboolean
gst_upm_tokenizer_clip_layout (GstUpmTokenizer *self, const UpmHParams *hp,
    const GstVideoInfo *info, ClipLayout *l)
{
  gboolean still = GST_VIDEO_INFO_FPS_N (info) == 0, is_default;
  GstUpmTokenizerNorm norm;
  guint clip_frames, frame_stride, clip_hop, frames;
  const UpmPreset *p;

  GST_OBJECT_LOCK (self);
  clip_frames = self->clip_frames;
  frame_stride = self->frame_stride;
  clip_hop = self->clip_hop;
  norm = self->norm;
  is_default = self->preset == GST_UPM_PRESET_DEFAULT;
  p = gst_upm_preset_from_value (self->preset);
  GST_OBJECT_UNLOCK (self);

  if (clip_frames > hp->n_temporal)
    {
      gst_upm_tokenizer_check_clip_frames (self);
      return FALSE;
    }
  memset (l, 0, sizeof *l);
  frames = clip_frames ? clip_frames
           : p->frames ? p->frames
                       : gst_upm_tokenizer_default_clip_frames (hp);
  /* int(resize_ratio * image_size), as the official transforms */
  l->resize = p->resize_ratio > 0.0
                  ? (guint)floor (p->resize_ratio * hp->image_size + 1e-6)
                  : hp->image_size;
  l->by_time = p->stride > 0 && !still;
  l->span = still ? 1 : frames;
  l->norm = gst_upm_tokenizer_norm_kind (norm, p, is_default, still, l->span);
  if (l->by_time)
    {
      l->time.preset_name = p->name;
      l->time.frames = frames;
      l->time.views = MAX (p->views, 1u);
      l->time.crops = p->crops;
      l->time.stride = frame_stride ? frame_stride : p->stride;
      l->time.hop = clip_hop;
      l->time.resize = l->resize;
      l->time.norm = l->norm;
      return TRUE;
    }
  l->stride = frame_stride ? frame_stride : 1;
  l->hop = still ? 1 : (clip_hop ? clip_hop : l->span);
  return TRUE;
}

/* Whether the clips of @l are the ones being made. */
static gboolean
gst_upm_tokenizer_has_layout (GstUpmTokenizer *self, const ClipLayout *l)
{
  if (self->mode != MODE_VIDEO || self->norm_kind != l->norm
      || self->resize != l->resize || (self->sampler != NULL) != l->by_time)
    return FALSE;
  if (l->by_time)
    return gst_upm_time_sampler_has_layout (self->sampler, &l->time);
  return gst_upm_clipper_has_layout (
      &self->clipper, l->span, l->stride, l->hop);
}

static gboolean
gst_upm_tokenizer_set_video_caps (GstUpmTokenizer *self, GstCaps *caps)
{
  const UpmHParams *hp = gst_upm_tokenizer_hparams (self);
  GstVideoInfo info;
  ClipLayout l;
  gboolean ret;
  GstCaps *out;

  if (!gst_video_info_from_caps (&info, caps))
    {
      GST_WARNING_OBJECT (self, "invalid video caps %" GST_PTR_FORMAT, caps);
      return FALSE;
    }
  if (!gst_upm_tokenizer_clip_layout (self, hp, &info, &l))
    return FALSE;

  if (gst_upm_tokenizer_has_layout (self, &l))
    {
      /* Only the frame size, format or rate changed: patches do not depend on
       * them, so the clips go on. */
      GST_DEBUG_OBJECT (
          self, "new input caps, same clips: %" GST_PTR_FORMAT, caps);
      gst_upm_tokenizer_set_vinfo (self, &info);
      gst_upm_tokenizer_update_latency (self);
      return TRUE;
    }

  /* A new clip layout: finish the clip in progress with the old one. */
  gst_upm_tokenizer_drain (self);
  self->norm_kind = l.norm;
  self->resize = l.resize;
  g_clear_pointer (&self->sampler, gst_upm_time_sampler_free);
  if (l.by_time)
    self->sampler = gst_upm_time_sampler_new (
        GST_ELEMENT (self), hp, &l.time, &self->converter);
  else
    gst_upm_clipper_set_layout (&self->clipper, l.span, l.stride, l.hop,
        (gsize)UPM_HP_TOKENS_PER_FRAME (hp) * UPM_HP_PATCH_DIM (hp));
  gst_upm_tokenizer_set_vinfo (self, &info);
  self->mode = MODE_VIDEO;

  out = gst_caps_new_simple ("application/x-upm-patches", "modality",
      G_TYPE_STRING, l.span == 1 ? "image" : "video", "frames", G_TYPE_INT,
      (gint)l.span, "tokens-per-frame", G_TYPE_INT,
      (gint)UPM_HP_TOKENS_PER_FRAME (hp), "patch-dim", G_TYPE_INT,
      (gint)UPM_HP_PATCH_DIM (hp), NULL);
  if (l.by_time)
    GST_DEBUG_OBJECT (self,
        "preset %s by time: %u frames x %u views x %u crops, stride %u/30 s, "
        "hop %u/30 s, %s norm: %" GST_PTR_FORMAT,
        l.time.preset_name, l.time.frames, l.time.views,
        upm_crops_count (l.time.crops), l.time.stride, l.time.hop,
        l.norm == UPM_NORM_IMAGE ? "image" : "video", out);
  else
    GST_DEBUG_OBJECT (self,
        "%u-frame clips, stride %u, hop %u, %s norm: %" GST_PTR_FORMAT, l.span,
        l.stride, l.hop, l.norm == UPM_NORM_IMAGE ? "image" : "video", out);
  ret = gst_pad_set_caps (self->srcpad, out);
  gst_caps_replace (&self->video_out_caps, out);
  self->restore_caps = FALSE;
  gst_caps_unref (out);
  gst_upm_tokenizer_update_latency (self);
  return ret;
}

static gboolean
gst_upm_tokenizer_set_text_caps (GstUpmTokenizer *self)
{
  GstCaps *out;
  gboolean ret;

  if (self->mode == MODE_TEXT)
    return TRUE;
  gst_upm_tokenizer_drain (self);
  self->mode = MODE_TEXT;
  gst_upm_tokenizer_update_latency (self);
  out = gst_static_caps_get (&tokens_caps);
  ret = gst_pad_set_caps (self->srcpad, out);
  gst_caps_unref (out);
  return ret;
}

/* Sink caps: the template, limited to the kinds downstream can take. */
static GstCaps *
gst_upm_tokenizer_sink_getcaps (GstElement *element)
{
  GstUpmTokenizer *self = GST_UPM_TOKENIZER (element);
  GstCaps *tmpl = gst_pad_get_pad_template_caps (self->sinkpad);
  GstCaps *peer = gst_pad_peer_query_caps (self->srcpad, NULL);
  GstCaps *patches = gst_static_caps_get (&patches_caps);
  GstCaps *tokens = gst_static_caps_get (&tokens_caps);
  gboolean video_ok = gst_caps_can_intersect (peer, patches);
  gboolean text_ok = gst_caps_can_intersect (peer, tokens);
  GstCaps *result = gst_caps_new_empty ();
  guint i;

  for (i = 0; i < gst_caps_get_size (tmpl); i++)
    {
      const GstStructure *s = gst_caps_get_structure (tmpl, i);
      gboolean text = gst_structure_has_name (s, "text/x-raw");

      if (text ? text_ok : video_ok)
        gst_caps_append_structure (result, gst_structure_copy (s));
    }
  gst_caps_unref (tmpl);
  gst_caps_unref (peer);
  gst_caps_unref (patches);
  gst_caps_unref (tokens);
  return result;
}

/* ----------------------------------------------------------- events */

static gboolean
gst_upm_tokenizer_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstUpmTokenizer *self = GST_UPM_TOKENIZER (parent);

  GST_LOG_OBJECT (self, "event %" GST_PTR_FORMAT, event);
  switch (GST_EVENT_TYPE (event))
    {
    case GST_EVENT_CAPS:
      {
        GstCaps *caps;
        gboolean ret;

        gst_event_parse_caps (event, &caps);
        if (gst_structure_has_name (
                gst_caps_get_structure (caps, 0), "text/x-raw"))
          ret = gst_upm_tokenizer_set_text_caps (self);
        else
          ret = gst_upm_tokenizer_set_video_caps (self, caps);
        gst_event_unref (event);
        return ret;
      }
    case GST_EVENT_SEGMENT:
      {
        const GstSegment *segment;

        /* clips do not span segments; the same segment again (as some
         * elements send with new caps) is no new timeline */
        gst_event_parse_segment (event, &segment);
        if (!gst_segment_is_equal (&self->segment, segment))
          gst_upm_tokenizer_drain (self);
        gst_segment_copy_into (segment, &self->segment);
        break;
      }
    case GST_EVENT_EOS:
      gst_upm_tokenizer_drain (self);
      break;
    case GST_EVENT_FLUSH_STOP:
      gst_upm_clipper_reset (&self->clipper);
      if (self->sampler != NULL)
        gst_upm_time_sampler_reset (self->sampler);
      break;
    default:
      break;
    }
  return gst_pad_event_default (pad, parent, event);
}

/* ---------------------------------------------------------- queries */

static gboolean
gst_upm_tokenizer_sink_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstUpmTokenizer *self = GST_UPM_TOKENIZER (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS)
    return gst_upm_answer_caps_query (
        query, GST_ELEMENT (self), gst_upm_tokenizer_sink_getcaps);
  return gst_upm_model_slot_pad_query (&self->model_slot, pad, parent, query);
}

static gboolean
gst_upm_tokenizer_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstUpmTokenizer *self = GST_UPM_TOKENIZER (parent);
  GstClockTime ours;

  if (GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return gst_upm_model_slot_pad_query (&self->model_slot, pad, parent, query);

  GST_OBJECT_LOCK (self);
  ours = self->latency;
  GST_OBJECT_UNLOCK (self);
  /* a clip leaves when its last frame has arrived */
  return gst_upm_answer_latency_query (
      query, GST_ELEMENT (self), self->sinkpad, ours, ours, NULL);
}

/* ------------------------------------------------------------ states */

static GstStateChangeReturn
gst_upm_tokenizer_change_state (GstElement *element, GstStateChange transition)
{
  GstUpmTokenizer *self = GST_UPM_TOKENIZER (element);
  GstStateChangeReturn ret;

  switch (transition)
    {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_upm_model_slot_open (&self->model_slot, element))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      /* the model property may have changed in READY */
      if (!gst_upm_model_slot_reopen_if_changed (&self->model_slot, element)
          || !gst_upm_tokenizer_check_clip_frames (self))
        return GST_STATE_CHANGE_FAILURE;
      gst_upm_tokenizer_free_stream (self);
      break;
    default:
      break;
    }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition)
    {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_upm_tokenizer_free_stream (self);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      gst_upm_model_slot_close (&self->model_slot, element);
      break;
    default:
      break;
    }
  return ret;
}
