/* gstupmroutingoverlay.c: draws mixture-of-experts routing onto video.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-upmroutingoverlay
 * @title: upmroutingoverlay
 *
 * Draws the expert routing of the uniperceiver elements onto the video it
 * describes, the way textoverlay draws text. The `video_sink` pad takes
 * packed RGB video (put videoconvert before it); the `routing_sink` pad takes
 * the buffers of upmbin / upmhead (any caps: text or JSON), of which only
 * those with a GstUpmRoutingMeta are used. The frames leave on `src`
 * unchanged in format, drawn in place.
 *
 * Timing: a frame at running time t is drawn with the routing buffer whose
 * [pts, pts + duration) (running time of the routing pad) contains t;
 * routing buffers that end at or before t are dropped. When no routing
 * buffer has arrived yet, the frame waits for one (the routing of a clip
 * comes one clip after its frames: the video branch needs a queue that holds
 * a clip's frames, `queue max-size-time=0 max-size-buffers=0
 * max-size-bytes=0` for long clips). Frames that no routing buffer covers
 * (before the first clip, in gaps, after the routing pad's EOS, and, in live
 * pipelines, when the routing is later than the latency: upstream's, which
 * includes upmbin's clip span, plus the `latency` property) pass undrawn:
 * the element never draws the routing of another clip. With overlapping
 * clips (clip-hop), the earliest covering clip is drawn. A flush drops the
 * pending routing; gaps in the video are dropped. The routing pad must be
 * linked (or get EOS).
 *
 * Drawing (`mode`):
 *
 * * panel (static routing: one decision per segment): a grid in a corner
 *   (`position`), a row per MoE layer and gate of the segment (`segment`;
 *   by default the first route segment whose name ends in "_input" or
 *   "_prefix", i.e. the one of the video tokens), a column per expert. The
 *   two chosen experts' cells are filled with the expert's colour scaled
 *   by its gate weight (brighter = larger weight), blended at `opacity`;
 *   the other cells are left as they are, or darkened by half the opacity
 *   with `shaded-background`. Cells of `cell-size` pixels and larger than 3
 *   keep their last row and column undrawn as a grid line.
 * * tokens (per-token routing of the dynamic routing levels): each patch of
 *   the frame is tinted with the colour of its top-1 expert at `layer` and
 *   `gate`, for the tokens of clip frame `frame-index` (by default the
 *   frame's position in its clip). The patch grid (`grid-width` x
 *   `grid-height`, by default the meta's) covers the centred square of the
 *   frame's shorter side, as the tokenizer's centre crop does.
 * * auto: the panel when the meta has static routes of the segment, the
 *   tokens when it has per-token routes.
 *
 * Expert colours: 16, repeating (gst_upm_routing_overlay_expert_colour ()).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! tee name=t \
 *   t. ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! \
 *     videoconvert ! o.video_sink \
 *   t. ! queue ! videoconvert ! upmbin ! o.routing_sink \
 *   upmroutingoverlay name=o ! videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmroutingoverlay.h"

#include "gstupmenum.h"
#include "gstupmroutingdraw.h"
#include "upmmeta.h"

GST_DEBUG_CATEGORY_STATIC (gst_upm_routing_overlay_debug);
#define GST_CAT_DEFAULT gst_upm_routing_overlay_debug

#define DEFAULT_POSITION GST_UPM_OVERLAY_TOP_RIGHT
#define DEFAULT_CELL_SIZE 0
#define DEFAULT_OPACITY 0.8
#define DEFAULT_SHADED FALSE
#define DEFAULT_SEGMENT NULL
#define DEFAULT_MODE GST_UPM_OVERLAY_MODE_AUTO
#define DEFAULT_LAYER -1
#define DEFAULT_GATE GST_UPM_GATE_ATTN
#define DEFAULT_FRAME_INDEX -1
#define DEFAULT_GRID 0
#define MAX_CELL_SIZE 256
#define MAX_GRID 1024

enum
{
  PROP_0,
  PROP_POSITION,
  PROP_CELL_SIZE,
  PROP_OPACITY,
  PROP_SHADED,
  PROP_SEGMENT,
  PROP_MODE,
  PROP_LAYER,
  PROP_GATE,
  PROP_FRAME_INDEX,
  PROP_GRID_WIDTH,
  PROP_GRID_HEIGHT,
};

struct _GstUpmRoutingOverlay
{
  GstAggregator parent;

  GstAggregatorPad *video_pad, *routing_pad;

  GstUpmRoutingDrawSettings settings; /* object lock */

  /* aggregation thread */
  GstCaps *video_caps;
  GstVideoInfo vinfo;
  gboolean have_info;
  guint64 n_drawn, n_undrawn;
};

#define VIDEO_FORMATS                                                          \
  "{ RGBA, BGRA, ARGB, ABGR, RGBx, BGRx, xRGB, xBGR, RGB, BGR }"

static GstStaticPadTemplate video_sink_template
    = GST_STATIC_PAD_TEMPLATE ("video_sink", GST_PAD_SINK, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

static GstStaticPadTemplate routing_sink_template = GST_STATIC_PAD_TEMPLATE (
    "routing_sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static GstStaticPadTemplate src_template
    = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
        GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

#define gst_upm_routing_overlay_parent_class parent_class
G_DEFINE_TYPE (
    GstUpmRoutingOverlay, gst_upm_routing_overlay, GST_TYPE_AGGREGATOR);
GST_ELEMENT_REGISTER_DEFINE (upmroutingoverlay, "upmroutingoverlay",
    GST_RANK_NONE, GST_TYPE_UPM_ROUTING_OVERLAY);

GType
gst_upm_overlay_position_get_type (void)
{
  GST_UPM_ENUM_TYPE_ONCE ("GstUpmOverlayPosition",
      { GST_UPM_OVERLAY_TOP_LEFT, "Top left corner", "top-left" },
      { GST_UPM_OVERLAY_TOP_RIGHT, "Top right corner", "top-right" },
      { GST_UPM_OVERLAY_BOTTOM_LEFT, "Bottom left corner", "bottom-left" },
      { GST_UPM_OVERLAY_BOTTOM_RIGHT, "Bottom right corner", "bottom-right" });
}

GType
gst_upm_overlay_mode_get_type (void)
{
  GST_UPM_ENUM_TYPE_ONCE ("GstUpmOverlayMode",
      { GST_UPM_OVERLAY_MODE_AUTO,
          "The panel for static routes, the patches for per-token routes",
          "auto" },
      { GST_UPM_OVERLAY_MODE_PANEL, "Only the expert panel", "panel" },
      { GST_UPM_OVERLAY_MODE_TOKENS, "Only the tinted patches", "tokens" });
}

#define GST_TYPE_UPM_OVERLAY_GATE (gst_upm_overlay_gate_get_type ())
static GType
gst_upm_overlay_gate_get_type (void)
{
  GST_UPM_ENUM_TYPE_ONCE ("GstUpmOverlayGate",
      { GST_UPM_GATE_ATTN, "The attention gate", "attn" },
      { GST_UPM_GATE_FFN, "The feed-forward gate", "ffn" });
}

/* ---------------------------------------------------------------- drawing */

static void
settings_copy (
    GstUpmRoutingDrawSettings *dst, const GstUpmRoutingDrawSettings *src)
{
  *dst = *src;
  dst->segment = g_strdup (src->segment);
}

/* Draws @meta onto @buf (writable). @t: the frame's running time in the
 * routing buffer's [start, end). */
static GstBuffer *
gst_upm_routing_overlay_draw (GstUpmRoutingOverlay *self, GstBuffer *buf,
    const GstUpmRoutingMeta *meta, GstClockTime t, GstClockTime start,
    GstClockTime end)
{
  GstVideoFrame frame;
  GstUpmRoutingDrawSettings s;
  guint frame_index;
  gboolean panel, tokens;

  GST_OBJECT_LOCK (self);
  settings_copy (&s, &self->settings);
  GST_OBJECT_UNLOCK (self);

  panel = s.mode != GST_UPM_OVERLAY_MODE_TOKENS && meta->n_routes > 0;
  tokens = s.mode != GST_UPM_OVERLAY_MODE_PANEL && meta->n_token_routes > 0;
  if (!panel && !tokens)
    goto done;

  if (s.frame_index >= 0)
    frame_index = (guint)s.frame_index;
  else if (end > start && meta->n_frames > 0)
    frame_index = (guint)MIN (
        gst_util_uint64_scale (t - start, meta->n_frames, end - start),
        meta->n_frames - 1);
  else
    frame_index = 0;

  buf = gst_buffer_make_writable (buf);
  if (!gst_video_frame_map (&frame, &self->vinfo, buf, GST_MAP_READWRITE))
    {
      GST_WARNING_OBJECT (self, "could not map the frame");
      goto done;
    }
  gst_upm_routing_draw_frame (&frame, meta, &s, frame_index, panel, tokens);
  gst_video_frame_unmap (&frame);

done:
  g_free (s.segment);
  return buf;
}

/* ------------------------------------------------------------ aggregation */

static GstClockTime
running_time (GstAggregatorPad *pad, GstClockTime t)
{
  GstClockTime rt;

  if (!GST_CLOCK_TIME_IS_VALID (t))
    return GST_CLOCK_TIME_NONE;
  GST_OBJECT_LOCK (pad);
  rt = gst_segment_to_running_time (&pad->segment, GST_FORMAT_TIME, t);
  GST_OBJECT_UNLOCK (pad);
  return rt;
}

static GstFlowReturn
gst_upm_routing_overlay_aggregate (GstAggregator *agg, gboolean timeout)
{
  GstUpmRoutingOverlay *self = GST_UPM_ROUTING_OVERLAY (agg);
  GstBuffer *vbuf, *rbuf = NULL;
  GstClockTime vt, rstart = GST_CLOCK_TIME_NONE, rend = GST_CLOCK_TIME_NONE;
  GstUpmRoutingMeta *meta = NULL;

  vbuf = gst_aggregator_pad_peek_buffer (self->video_pad);
  if (vbuf == NULL)
    {
      if (gst_aggregator_pad_is_eos (self->video_pad))
        {
          GST_DEBUG_OBJECT (self,
              "video EOS (%" G_GUINT64_FORMAT " frames "
              "drawn, %" G_GUINT64_FORMAT " not)",
              self->n_drawn, self->n_undrawn);
          return GST_FLOW_EOS;
        }
      return GST_FLOW_OK;
    }
  if (GST_BUFFER_FLAG_IS_SET (vbuf, GST_BUFFER_FLAG_GAP)
      && gst_buffer_get_size (vbuf) == 0)
    {
      /* a gap event on the video pad: no frame to draw or pass */
      gst_buffer_unref (vbuf);
      gst_aggregator_pad_drop_buffer (self->video_pad);
      return GST_FLOW_OK;
    }
  if (!self->have_info)
    {
      gst_buffer_unref (vbuf);
      GST_ELEMENT_ERROR (
          self, CORE, NEGOTIATION, (NULL), ("video buffer before caps"));
      return GST_FLOW_NOT_NEGOTIATED;
    }

  vt = running_time (self->video_pad, GST_BUFFER_PTS (vbuf));
  if (GST_CLOCK_TIME_IS_VALID (vt))
    {
      while ((rbuf = gst_aggregator_pad_peek_buffer (self->routing_pad)))
        {
          GstClockTime pts = GST_BUFFER_PTS (rbuf);
          GstClockTime dur = GST_BUFFER_DURATION (rbuf);

          meta = gst_buffer_get_upm_routing_meta (rbuf);
          if (meta != NULL && !GST_CLOCK_TIME_IS_VALID (dur))
            dur = meta->duration;
          rstart = running_time (self->routing_pad, pts);
          rend = GST_CLOCK_TIME_IS_VALID (dur)
                     ? running_time (self->routing_pad, pts + dur)
                     : rstart;
          if (meta != NULL && GST_CLOCK_TIME_IS_VALID (rstart)
              && GST_CLOCK_TIME_IS_VALID (rend) && rend > vt)
            break;
          GST_LOG_OBJECT (self,
              "dropping routing buffer %" GST_PTR_FORMAT " (%s)", rbuf,
              meta ? "ended" : "no routing meta");
          gst_aggregator_pad_drop_buffer (self->routing_pad);
          gst_buffer_unref (rbuf);
        }
      if (rbuf == NULL && !timeout
          && !gst_aggregator_pad_is_eos (self->routing_pad))
        {
          /* the routing of the frame's clip comes later */
          gst_buffer_unref (vbuf);
          return GST_FLOW_OK;
        }
    }

  /* the frame is ours now */
  gst_buffer_unref (vbuf);
  vbuf = gst_aggregator_pad_pop_buffer (self->video_pad);
  if (rbuf != NULL && rstart <= vt)
    {
      GST_LOG_OBJECT (self,
          "frame at %" GST_TIME_FORMAT " with the routing "
          "of [%" GST_TIME_FORMAT ", %" GST_TIME_FORMAT ")",
          GST_TIME_ARGS (vt), GST_TIME_ARGS (rstart), GST_TIME_ARGS (rend));
      vbuf = gst_upm_routing_overlay_draw (self, vbuf, meta, vt, rstart, rend);
      self->n_drawn++;
    }
  else
    self->n_undrawn++;
  if (rbuf != NULL)
    gst_buffer_unref (rbuf);

  /* the next output time, for the live timeout */
  if (GST_BUFFER_PTS_IS_VALID (vbuf))
    {
      GstClockTime next = GST_BUFFER_PTS (vbuf);

      if (GST_BUFFER_DURATION_IS_VALID (vbuf))
        next += GST_BUFFER_DURATION (vbuf);
      GST_OBJECT_LOCK (agg);
      GST_AGGREGATOR_PAD (agg->srcpad)->segment.position = next;
      GST_OBJECT_UNLOCK (agg);
    }
  return gst_aggregator_finish_buffer (agg, vbuf);
}

/* The video's caps: the layout of the frames to draw on, and the caps of
 * src. */
static gboolean
gst_upm_routing_overlay_set_video_caps (
    GstUpmRoutingOverlay *self, GstCaps *caps)
{
  GstVideoInfo info;

  if (!gst_video_info_from_caps (&info, caps))
    {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
          ("invalid video caps %" GST_PTR_FORMAT, caps));
      return FALSE;
    }
  self->vinfo = info;
  self->have_info = TRUE;
  gst_caps_replace (&self->video_caps, caps);
  gst_pad_mark_reconfigure (GST_AGGREGATOR_SRC_PAD (self));
  return TRUE;
}

/* An event of the video pad; FALSE (@event consumed) when it is refused. */
static gboolean
gst_upm_routing_overlay_video_event (
    GstUpmRoutingOverlay *self, GstEvent *event)
{
  switch (GST_EVENT_TYPE (event))
    {
    case GST_EVENT_CAPS:
      {
        GstCaps *caps;

        gst_event_parse_caps (event, &caps);
        if (gst_upm_routing_overlay_set_video_caps (self, caps))
          return TRUE;
        gst_event_unref (event);
        return FALSE;
      }
    case GST_EVENT_SEGMENT:
      {
        GstSegment segment;

        gst_event_copy_segment (event, &segment);
        gst_aggregator_update_segment (GST_AGGREGATOR (self), &segment);
        return TRUE;
      }
    default:
      return TRUE;
    }
}

static gboolean
gst_upm_routing_overlay_sink_event (
    GstAggregator *agg, GstAggregatorPad *pad, GstEvent *event)
{
  GstUpmRoutingOverlay *self = GST_UPM_ROUTING_OVERLAY (agg);

  if (pad == self->video_pad
      && !gst_upm_routing_overlay_video_event (self, event))
    return FALSE;
  return GST_AGGREGATOR_CLASS (parent_class)->sink_event (agg, pad, event);
}

static GstFlowReturn
gst_upm_routing_overlay_update_src_caps (
    GstAggregator *agg, GstCaps *downstream, GstCaps **ret)
{
  GstUpmRoutingOverlay *self = GST_UPM_ROUTING_OVERLAY (agg);

  if (self->video_caps == NULL)
    {
      *ret = NULL;
      return GST_AGGREGATOR_FLOW_NEED_DATA;
    }
  if (downstream != NULL
      && !gst_caps_can_intersect (downstream, self->video_caps))
    {
      GST_WARNING_OBJECT (
          self, "downstream refuses %" GST_PTR_FORMAT, self->video_caps);
      return GST_FLOW_NOT_NEGOTIATED;
    }
  *ret = gst_caps_ref (self->video_caps);
  return GST_FLOW_OK;
}

/* The caps of @peer's side, limited to our packed RGB formats. */
static gboolean
query_caps_through (GstPad *template_pad, GstPad *other, GstQuery *query)
{
  GstCaps *filter, *tmpl, *caps, *result;

  gst_query_parse_caps (query, &filter);
  tmpl = gst_pad_get_pad_template_caps (template_pad);
  caps = gst_pad_peer_query_caps (other, filter);
  result = gst_caps_intersect_full (caps, tmpl, GST_CAPS_INTERSECT_FIRST);
  gst_query_set_caps_result (query, result);
  gst_caps_unref (result);
  gst_caps_unref (caps);
  gst_caps_unref (tmpl);
  return TRUE;
}

/* Caps our template takes and @other's peer accepts. */
static gboolean
query_accept_caps_through (GstPad *template_pad, GstPad *other, GstQuery *query)
{
  GstCaps *caps, *tmpl;
  gboolean ok;

  gst_query_parse_accept_caps (query, &caps);
  tmpl = gst_pad_get_pad_template_caps (template_pad);
  ok = gst_caps_is_subset (caps, tmpl)
       && gst_pad_peer_query_accept_caps (other, caps);
  gst_caps_unref (tmpl);
  gst_query_set_accept_caps_result (query, ok);
  return TRUE;
}

static gboolean
gst_upm_routing_overlay_sink_query (
    GstAggregator *agg, GstAggregatorPad *pad, GstQuery *query)
{
  GstUpmRoutingOverlay *self = GST_UPM_ROUTING_OVERLAY (agg);

  if (pad == self->video_pad && GST_QUERY_TYPE (query) == GST_QUERY_CAPS)
    return query_caps_through (GST_PAD (pad), agg->srcpad, query);
  if (pad == self->video_pad && GST_QUERY_TYPE (query) == GST_QUERY_ACCEPT_CAPS)
    return query_accept_caps_through (GST_PAD (pad), agg->srcpad, query);
  return GST_AGGREGATOR_CLASS (parent_class)->sink_query (agg, pad, query);
}

static gboolean
gst_upm_routing_overlay_src_query (GstAggregator *agg, GstQuery *query)
{
  GstUpmRoutingOverlay *self = GST_UPM_ROUTING_OVERLAY (agg);

  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS)
    return query_caps_through (agg->srcpad, GST_PAD (self->video_pad), query);
  return GST_AGGREGATOR_CLASS (parent_class)->src_query (agg, query);
}

static gboolean
gst_upm_routing_overlay_stop (GstAggregator *agg)
{
  GstUpmRoutingOverlay *self = GST_UPM_ROUTING_OVERLAY (agg);

  gst_caps_replace (&self->video_caps, NULL);
  self->have_info = FALSE;
  GST_DEBUG_OBJECT (self,
      "stopped: %" G_GUINT64_FORMAT " frames drawn, %" G_GUINT64_FORMAT " not",
      self->n_drawn, self->n_undrawn);
  self->n_drawn = 0;
  self->n_undrawn = 0;
  return TRUE;
}

/* -------------------------------------------------------------- GObject */

static void
gst_upm_routing_overlay_set_property (
    GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstUpmRoutingOverlay *self = GST_UPM_ROUTING_OVERLAY (object);
  GstUpmRoutingDrawSettings *s = &self->settings;

  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_POSITION:
      s->position = g_value_get_enum (value);
      break;
    case PROP_CELL_SIZE:
      s->cell_size = g_value_get_uint (value);
      break;
    case PROP_OPACITY:
      s->opacity = g_value_get_double (value);
      break;
    case PROP_SHADED:
      s->shaded = g_value_get_boolean (value);
      break;
    case PROP_SEGMENT:
      g_free (s->segment);
      s->segment = g_value_dup_string (value);
      if (s->segment != NULL && s->segment[0] == '\0')
        g_clear_pointer (&s->segment, g_free);
      break;
    case PROP_MODE:
      s->mode = g_value_get_enum (value);
      break;
    case PROP_LAYER:
      s->layer = g_value_get_int (value);
      break;
    case PROP_GATE:
      s->gate = g_value_get_enum (value);
      break;
    case PROP_FRAME_INDEX:
      s->frame_index = g_value_get_int (value);
      break;
    case PROP_GRID_WIDTH:
      s->grid_width = g_value_get_uint (value);
      break;
    case PROP_GRID_HEIGHT:
      s->grid_height = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_upm_routing_overlay_get_property (
    GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstUpmRoutingOverlay *self = GST_UPM_ROUTING_OVERLAY (object);
  GstUpmRoutingDrawSettings *s = &self->settings;

  GST_OBJECT_LOCK (self);
  switch (prop_id)
    {
    case PROP_POSITION:
      g_value_set_enum (value, s->position);
      break;
    case PROP_CELL_SIZE:
      g_value_set_uint (value, s->cell_size);
      break;
    case PROP_OPACITY:
      g_value_set_double (value, s->opacity);
      break;
    case PROP_SHADED:
      g_value_set_boolean (value, s->shaded);
      break;
    case PROP_SEGMENT:
      g_value_set_string (value, s->segment);
      break;
    case PROP_MODE:
      g_value_set_enum (value, s->mode);
      break;
    case PROP_LAYER:
      g_value_set_int (value, s->layer);
      break;
    case PROP_GATE:
      g_value_set_enum (value, s->gate);
      break;
    case PROP_FRAME_INDEX:
      g_value_set_int (value, s->frame_index);
      break;
    case PROP_GRID_WIDTH:
      g_value_set_uint (value, s->grid_width);
      break;
    case PROP_GRID_HEIGHT:
      g_value_set_uint (value, s->grid_height);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
    }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_upm_routing_overlay_finalize (GObject *object)
{
  GstUpmRoutingOverlay *self = GST_UPM_ROUTING_OVERLAY (object);

  g_free (self->settings.segment);
  gst_caps_replace (&self->video_caps, NULL);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_upm_routing_overlay_class_init (GstUpmRoutingOverlayClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstAggregatorClass *agg_class = GST_AGGREGATOR_CLASS (klass);
  const GParamFlags rw
      = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;

  GST_DEBUG_CATEGORY_INIT (gst_upm_routing_overlay_debug, "upmroutingoverlay",
      0, "Draws mixture-of-experts routing onto video");

  gobject_class->set_property = gst_upm_routing_overlay_set_property;
  gobject_class->get_property = gst_upm_routing_overlay_get_property;
  gobject_class->finalize = gst_upm_routing_overlay_finalize;

  g_object_class_install_property (gobject_class, PROP_POSITION,
      g_param_spec_enum ("position", "Position", "Corner of the expert panel",
          GST_TYPE_UPM_OVERLAY_POSITION, DEFAULT_POSITION, rw));
  g_object_class_install_property (gobject_class, PROP_CELL_SIZE,
      g_param_spec_uint ("cell-size", "Cell size",
          "Side of a panel cell in pixels (0: the frame's shorter side / 32, "
          "2 to 16)",
          0, MAX_CELL_SIZE, DEFAULT_CELL_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_OPACITY,
      g_param_spec_double ("opacity", "Opacity",
          "Opacity of the expert colours (0: invisible, 1: opaque)", 0.0, 1.0,
          DEFAULT_OPACITY, rw));
  g_object_class_install_property (gobject_class, PROP_SHADED,
      g_param_spec_boolean ("shaded-background", "Shaded background",
          "Darken the panel behind the cells (by half the opacity)",
          DEFAULT_SHADED, rw));
  g_object_class_install_property (gobject_class, PROP_SEGMENT,
      g_param_spec_string ("segment", "Segment",
          "Segment whose static routing the panel shows, e.g. cls_input, "
          "caption_prefix, caption_text (NULL: the first ending in _input or "
          "_prefix: the video tokens)",
          DEFAULT_SEGMENT, rw));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "What to draw: the expert panel (static routing), the tinted "
          "patches (per-token routing), or whichever the meta has",
          GST_TYPE_UPM_OVERLAY_MODE, DEFAULT_MODE, rw));
  g_object_class_install_property (gobject_class, PROP_LAYER,
      g_param_spec_int ("layer", "Layer",
          "MoE layer whose per-token routing tints the patches (-1: the "
          "first with per-token routes)",
          -1, 1023, DEFAULT_LAYER, rw));
  g_object_class_install_property (gobject_class, PROP_GATE,
      g_param_spec_enum ("gate", "Gate",
          "Gate whose per-token routing tints the patches",
          GST_TYPE_UPM_OVERLAY_GATE, DEFAULT_GATE, rw));
  g_object_class_install_property (gobject_class, PROP_FRAME_INDEX,
      g_param_spec_int ("frame-index", "Frame index",
          "Clip frame whose tokens tint the patches (-1: the frame's own "
          "position in its clip)",
          -1, 1023, DEFAULT_FRAME_INDEX, rw));
  g_object_class_install_property (gobject_class, PROP_GRID_WIDTH,
      g_param_spec_uint ("grid-width", "Grid width",
          "Patches per row of a clip frame (0: from the routing meta)", 0,
          MAX_GRID, DEFAULT_GRID, rw));
  g_object_class_install_property (gobject_class, PROP_GRID_HEIGHT,
      g_param_spec_uint ("grid-height", "Grid height",
          "Patch rows of a clip frame (0: from the routing meta)", 0, MAX_GRID,
          DEFAULT_GRID, rw));

  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &video_sink_template, GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &routing_sink_template, GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_add_static_pad_template_with_gtype (
      element_class, &src_template, GST_TYPE_AGGREGATOR_PAD);
  gst_element_class_set_static_metadata (element_class,
      "Uni-Perceiver-MoE routing overlay", "Filter/Editor/Video",
      "Draws the mixture-of-experts routing of upmbin onto the video: an "
      "expert panel for static routing, tinted patches for per-token routing",
      "gst-uniperceiver authors");

  agg_class->aggregate = gst_upm_routing_overlay_aggregate;
  agg_class->sink_event = gst_upm_routing_overlay_sink_event;
  agg_class->sink_query = gst_upm_routing_overlay_sink_query;
  agg_class->src_query = gst_upm_routing_overlay_src_query;
  agg_class->update_src_caps = gst_upm_routing_overlay_update_src_caps;
  agg_class->stop = gst_upm_routing_overlay_stop;
  /* live: a frame waits for its routing until its running time plus the
   * latency (upstream's, which includes upmbin's clip span, plus the
   * latency property), then passes undrawn */
  agg_class->get_next_time = gst_aggregator_simple_get_next_time;

  gst_type_mark_as_plugin_api (GST_TYPE_UPM_OVERLAY_POSITION, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_UPM_OVERLAY_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_UPM_OVERLAY_GATE, 0);
}

static GstAggregatorPad *
new_sink_pad (GstUpmRoutingOverlay *self, GstStaticPadTemplate *st)
{
  GstPadTemplate *templ = gst_static_pad_template_get (st);
  GstAggregatorPad *pad = g_object_new (GST_TYPE_AGGREGATOR_PAD, "name",
      st->name_template, "direction", GST_PAD_SINK, "template", templ, NULL);

  gst_object_unref (templ);
  gst_element_add_pad (GST_ELEMENT (self), GST_PAD (pad));
  return pad;
}

static void
gst_upm_routing_overlay_init (GstUpmRoutingOverlay *self)
{
  GstUpmRoutingDrawSettings *s = &self->settings;

  self->video_pad = new_sink_pad (self, &video_sink_template);
  self->routing_pad = new_sink_pad (self, &routing_sink_template);

  s->position = DEFAULT_POSITION;
  s->cell_size = DEFAULT_CELL_SIZE;
  s->opacity = DEFAULT_OPACITY;
  s->shaded = DEFAULT_SHADED;
  s->segment = g_strdup (DEFAULT_SEGMENT);
  s->mode = DEFAULT_MODE;
  s->layer = DEFAULT_LAYER;
  s->gate = DEFAULT_GATE;
  s->frame_index = DEFAULT_FRAME_INDEX;
  s->grid_width = DEFAULT_GRID;
  s->grid_height = DEFAULT_GRID;
}
