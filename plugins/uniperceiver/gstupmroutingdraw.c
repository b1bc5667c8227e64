/* gstupmroutingdraw.c: draws mixture-of-experts routing into RGB frames: the
 * expert panel of static routing and the per-patch tints of per-token
 * routing.
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstupmroutingdraw.h"

#define MAX_EXPERTS 256

/* Saturated hues, each with a channel at 255, in an order where neighbours
 * differ. */
static const guint32 expert_colours[16] = {
  0xff0000,
  0x00ff00,
  0x0080ff,
  0xffff00,
  0xff00ff,
  0x00ffff,
  0xff8000,
  0x8000ff,
  0x80ff00,
  0xff0080,
  0x00ff80,
  0x0000ff,
  0xffc000,
  0xc000ff,
  0x00c0ff,
  0xff4040,
};

guint32
gst_upm_routing_overlay_expert_colour (guint expert)
{
  return expert_colours[expert % G_N_ELEMENTS (expert_colours)];
}

/* The RGB components of a mapped frame. */
typedef struct
{
  guint8 *data[3]; /* R, G, B of pixel (0, 0) */
  gint stride, pstride;
  gint width, height;
} Canvas;

static void
canvas_init (Canvas *c, GstVideoFrame *frame)
{
  guint i;

  for (i = 0; i < 3; i++)
    c->data[i] = GST_VIDEO_FRAME_COMP_DATA (frame, i);
  c->stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, 0);
  c->pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0);
  c->width = GST_VIDEO_FRAME_WIDTH (frame);
  c->height = GST_VIDEO_FRAME_HEIGHT (frame);
}

/* Blends @rgb over [x0, x1) x [y0, y1) at alpha @a / 256 (clipped). */
static void
canvas_blend (
    Canvas *c, gint x0, gint y0, gint x1, gint y1, guint32 rgb, guint a)
{
  guint col[3] = { (rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff };
  gint x, y;
  guint i;

  x0 = MAX (x0, 0);
  y0 = MAX (y0, 0);
  x1 = MIN (x1, c->width);
  y1 = MIN (y1, c->height);
  a = MIN (a, 256);
  for (y = y0; y < y1; y++)
    for (i = 0; i < 3; i++)
      {
        guint8 *p = c->data[i] + (gsize)y * c->stride + (gsize)x0 * c->pstride;

        for (x = x0; x < x1; x++, p += c->pstride)
          *p = (guint8)((*p * (256 - a) + col[i] * a + 128) >> 8);
      }
}

/* The expert colour scaled by @weight. */
static guint32
weighted_colour (guint expert, gfloat weight)
{
  guint32 rgb = gst_upm_routing_overlay_expert_colour (expert), out = 0;
  gfloat w = CLAMP (weight, 0.0f, 1.0f);
  guint i;

  for (i = 0; i < 3; i++)
    {
      guint ch = (rgb >> (16 - 8 * i)) & 0xff;

      out |= ((guint)(ch * w + 0.5f)) << (16 - 8 * i);
    }
  return out;
}

static const gchar *
auto_segment (const GstUpmRoutingMeta *meta)
{
  guint i;

  for (i = 0; i < meta->n_routes; i++)
    {
      const gchar *s = meta->routes[i].segment;

      if (s
          && (g_str_has_suffix (s, "_input")
              || g_str_has_suffix (s, "_prefix")))
        return s;
    }
  return NULL;
}

static gint
compare_row (gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *)a, y = *(const guint *)b;

  return x < y ? -1 : x > y;
}

/* Row key of a route: layer and gate. */
#define ROW_KEY(r) ((r)->layer * 2u + ((r)->gate == GST_UPM_GATE_FFN))

/* The panel of static routes of the segment. TRUE when something was drawn. */
static gboolean
draw_panel (Canvas *c, const GstUpmRoutingMeta *meta,
    const GstUpmRoutingDrawSettings *s)
{
  const gchar *segment;
  GArray *rows;
  guint n_experts = meta->n_experts, cell, inner, a, i, j, n_rows;
  gint x0, y0, w, h;

  segment = s->segment ? g_intern_string (s->segment) : auto_segment (meta);
  if (segment == NULL)
    return FALSE;

  rows = g_array_new (FALSE, FALSE, sizeof (guint));
  for (i = 0; i < meta->n_routes; i++)
    {
      const GstUpmRoute *r = &meta->routes[i];
      guint key = ROW_KEY (r);

      if (r->segment != segment)
        continue;
      for (j = 0; j < rows->len; j++)
        if (g_array_index (rows, guint, j) == key)
          break;
      if (j == rows->len)
        g_array_append_val (rows, key);
      if (meta->n_experts == 0)
        n_experts = MAX (n_experts, MAX (r->expert[0], r->expert[1]) + 1);
    }
  n_rows = rows->len;
  n_experts = MIN (n_experts, MAX_EXPERTS);
  if (n_rows == 0 || n_experts == 0)
    {
      g_array_unref (rows);
      return FALSE;
    }
  g_array_sort (rows, compare_row);

  cell = s->cell_size;
  if (cell == 0)
    cell = CLAMP (MIN (c->width, c->height) / 32, 2, 16);
  inner = cell >= 4 ? cell - 1 : cell;
  a = (guint)(s->opacity * 256.0 + 0.5);
  w = (gint)(n_experts * cell);
  h = (gint)(n_rows * cell);
  if (s->position == GST_UPM_OVERLAY_TOP_LEFT
      || s->position == GST_UPM_OVERLAY_BOTTOM_LEFT)
    x0 = (gint)cell;
  else
    x0 = c->width - (gint)cell - w;
  if (s->position == GST_UPM_OVERLAY_TOP_LEFT
      || s->position == GST_UPM_OVERLAY_TOP_RIGHT)
    y0 = (gint)cell;
  else
    y0 = c->height - (gint)cell - h;

  if (s->shaded)
    canvas_blend (c, x0, y0, x0 + w, y0 + h, 0x000000, a / 2);

  for (i = 0; i < meta->n_routes; i++)
    {
      const GstUpmRoute *r = &meta->routes[i];
      guint key = ROW_KEY (r), row;

      if (r->segment != segment)
        continue;
      for (row = 0; row < n_rows; row++)
        if (g_array_index (rows, guint, row) == key)
          break;
      for (j = 0; j < 2; j++)
        {
          gint cx = x0 + (gint)(r->expert[j] * cell),
               cy = y0 + (gint)(row * cell);

          if (r->expert[j] >= n_experts)
            continue;
          canvas_blend (c, cx, cy, cx + (gint)inner, cy + (gint)inner,
              weighted_colour (r->expert[j], r->weight[j]), a);
        }
    }
  g_array_unref (rows);
  return TRUE;
}

/* The patches of clip frame @frame_index tinted by their top-1 expert.
 * TRUE when something was drawn. */
static gboolean
draw_tokens (Canvas *c, const GstUpmRoutingMeta *meta,
    const GstUpmRoutingDrawSettings *s, guint frame_index)
{
  guint gw = s->grid_width ? s->grid_width : meta->grid_width;
  guint gh = s->grid_height ? s->grid_height : meta->grid_height;
  guint n_frames = MAX (meta->n_frames, 1), layer, x, y, a, i;
  gint side = MIN (c->width, c->height);
  gint ox = (c->width - side) / 2, oy = (c->height - side) / 2;
  gboolean drawn = FALSE;

  if (gw == 0 || gh == 0 || frame_index >= n_frames)
    return FALSE;
  if (s->layer >= 0)
    layer = (guint)s->layer;
  else
    {
      for (i = 0; i < meta->n_token_routes; i++)
        if (meta->token_routes[i].gate == s->gate)
          break;
      if (i == meta->n_token_routes)
        return FALSE;
      layer = meta->token_routes[i].layer;
    }

  a = (guint)(s->opacity * 256.0 + 0.5);
  for (y = 0; y < gh; y++)
    for (x = 0; x < gw; x++)
      {
        guint64 token
            = meta->visual_begin + ((guint64)frame_index * gh + y) * gw + x;
        const GstUpmTokenRoute *r;
        guint expert;

        if (token > G_MAXUINT)
          return drawn;
        r = gst_upm_routing_meta_find_token_route (
            meta, layer, s->gate, (guint)token);
        if (r == NULL)
          continue;
        expert = r->experts[2 * ((guint)token - r->token_begin)];
        canvas_blend (c, ox + (gint)((gint64)x * side / gw),
            oy + (gint)((gint64)y * side / gh),
            ox + (gint)((gint64)(x + 1) * side / gw),
            oy + (gint)((gint64)(y + 1) * side / gh),
            gst_upm_routing_overlay_expert_colour (expert), a);
        drawn = TRUE;
      }
  return drawn;
}

void
gst_upm_routing_draw_frame (GstVideoFrame *frame, const GstUpmRoutingMeta *meta,
    const GstUpmRoutingDrawSettings *s, guint frame_index, gboolean panel,
    gboolean tokens)
{
  Canvas c;

  canvas_init (&c, frame);
  if (tokens)
    draw_tokens (&c, meta, s, frame_index);
  if (panel)
    draw_panel (&c, meta, s);
}
