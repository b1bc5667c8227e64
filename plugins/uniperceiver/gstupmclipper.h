/* gstupmclipper.h: kept video frames -> clips of patch rows.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_UPM_CLIPPER_H__
#define __GST_UPM_CLIPPER_H__

#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum
{
  GST_UPM_PARTIAL_CLIP_PAD,
  GST_UPM_PARTIAL_CLIP_DROP,
} GstUpmPartialClip;

#define GST_TYPE_UPM_PARTIAL_CLIP (gst_upm_partial_clip_get_type ())
GType gst_upm_partial_clip_get_type (void);

/* A kept frame waiting for its clip(s); its patches are in the ring. */
typedef struct
{
  guint64 k; /* index among kept frames */
  GstClockTime pts, duration;
} GstUpmKeptFrame;

/* Groups every stride-th input frame into clips of span kept frames, a new
 * clip starting every hop kept frames, each frame's patches stored once in a
 * ring of span frames. Embedded in its element, which serialises the calls
 * (stream lock); the fields are private to gstupmclipper.c. */
typedef struct
{
  GstElement *element; /* the owner, for errors and logs */
  guint span, stride, hop;
  gsize frame_floats;
  gint fps_n, fps_d;
  GstUpmKeptFrame *ring; /* span entries */
  gfloat *ring_patches;  /* span x frame_floats; NULL after a clip took it */
  guint ring_head, ring_len;
  guint64 n_in, n_kept, next_start;
  gboolean discont;
} GstUpmClipper;

void gst_upm_clipper_init (GstUpmClipper *c, GstElement *element);

/* Frees the ring and forgets the layout and rate. */
void gst_upm_clipper_clear (GstUpmClipper *c);

gboolean gst_upm_clipper_has_layout (
    const GstUpmClipper *c, guint span, guint stride, guint hop);

/* A new layout, with an empty ring of frames of @frame_floats floats. */
void gst_upm_clipper_set_layout (
    GstUpmClipper *c, guint span, guint stride, guint hop, gsize frame_floats);

/* The frame rate (0/1: unknown) giving the duration of frames without one. */
void gst_upm_clipper_set_rate (GstUpmClipper *c, gint fps_n, gint fps_d);

/* Empties the ring and restarts the counts; the next clip is a discont. */
void gst_upm_clipper_reset (GstUpmClipper *c);

/* A clip leaves when its last frame has arrived: (span - 1) x stride frames
 * after its first (0 at an unknown rate). */
GstClockTime gst_upm_clipper_latency (const GstUpmClipper *c);

/* Counts an input frame: TRUE when it is kept for a clip. @n: its index among
 * the input frames. */
gboolean gst_upm_clipper_keep (GstUpmClipper *c, guint64 *n);

/* Where the patches of the kept frame go; NULL (with an element error) when
 * they cannot be allocated. */
gfloat *gst_upm_clipper_frame_patches (GstUpmClipper *c);

/* Adds the kept frame whose patches were written; when it completes a clip,
 * *@clip is that clip and the next one starts hop kept frames later. */
GstFlowReturn gst_upm_clipper_add_frame (GstUpmClipper *c, GstClockTime pts,
    GstClockTime duration, GstBuffer **clip);

/* The end of a run of clips (EOS, new segment or clip layout): *@clip is the
 * partial clip when @policy keeps it; the state restarts. */
GstFlowReturn gst_upm_clipper_drain (
    GstUpmClipper *c, GstUpmPartialClip policy, GstBuffer **clip);

G_END_DECLS
#endif /* __GST_UPM_CLIPPER_H__ */
