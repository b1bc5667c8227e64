#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Mixture-of-experts routing heatmaps, one PNG per clip.

usage: upm-routing-heatmap.py [-o DIR] [--prefix NAME] [--experts N]
                              [--cell PX] [--clips A,B,...] [FILE ...]

Reads the JSON of
  * upm-run --output-format json --routing (one object per clip and line:
    "routing": [{"layer", "gate", "attr", "tokens": [b, e], "experts",
    "weights"}, ...]), or
  * upmbin / upmhead text-format=json (one object per buffer, with or
    without newlines between them: "routing": {"experts": N, "routes":
    [{"layer", "gate", "segment", "token_begin", "token_end", "experts",
    "weights"}], "token_routes": [{"layer", "gate", "segment",
    "token_begin", "n_tokens", "experts": [2 per token, best first]}]})
from the files or standard input, and writes DIR/NAME-0000.png, ... (one per
clip with routing, numbered in input order).

Each image has one panel per segment (token type: the video input, the
caption prefix, the caption text, ...), rows = MoE layer x gate, columns =
experts. A cell is the expert's gate weight for the segment (static routing,
one decision per segment: the two chosen experts' weights sum to 1), or, for
per-token routes, its share of the segment's token slots (each token counts
1/2 for each of its two experts, so a row also sums to 1). Light = 0,
dark = 1, with the value written in cells of 20 px and more.

Python 3 with numpy and Pillow (Debian: python3-numpy python3-pil).
"""

import argparse
import json
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: The colour map: value 0 -> white, 1 -> dark blue (like the paper's
#: routing figures), piecewise linear through these stops.
STOPS = np.array([
    [255, 255, 255],
    [198, 219, 239],
    [107, 174, 214],
    [33, 113, 181],
    [8, 48, 107],
], dtype=np.float64)

MARGIN = 8
GAP = 14          # between panels
TITLE_H = 14      # the clip's title line
PANEL_TITLE_H = 12
COL_LABEL_H = 11
LEGEND_H = 22
CHAR_W = 6        # PIL's default bitmap font
GRID_COLOUR = (200, 200, 200)


def colour(v):
    """RGB tuple of value v in [0, 1] (None: no route: grey)."""
    if v is None:
        return (224, 224, 224)
    v = min(max(float(v), 0.0), 1.0) * (len(STOPS) - 1)
    i = min(int(v), len(STOPS) - 2)
    c = STOPS[i] + (STOPS[i + 1] - STOPS[i]) * (v - i)
    return tuple(int(round(x)) for x in c)


def iter_json(text):
    """The JSON objects of text: one per line or concatenated."""
    dec = json.JSONDecoder()
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n\x00":
            i += 1
        if i >= n:
            break
        if text[i] != "{":
            # a non-JSON line (a log line): skip it
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        obj, i = dec.raw_decode(text, i)
        yield obj


class Clip:
    """The routing of one clip: values[(segment, layer, gate)] = [E]."""

    def __init__(self, title):
        self.title = title
        self.segments = []      # in order of appearance
        self.values = {}
        self.n_experts = 0

    def _seg(self, seg):
        if seg not in self.segments:
            self.segments.append(seg)

    def add_static(self, seg, layer, gate, experts, weights):
        self._seg(seg)
        row = self.values.setdefault((seg, layer, gate), {})
        for e, w in zip(experts, weights):
            row[int(e)] = row.get(int(e), 0.0) + (0.0 if w is None else w)
        self.n_experts = max(self.n_experts, max(experts) + 1)

    def add_tokens(self, seg, layer, gate, experts):
        n = len(experts) // 2
        if n == 0:
            return
        self._seg(seg)
        row = {}
        for e in experts[:2 * n]:
            row[int(e)] = row.get(int(e), 0.0) + 0.5 / n
        # per-token routes replace a static decision of the same row
        self.values[(seg, layer, gate)] = row
        self.n_experts = max(self.n_experts, max(experts[:2 * n]) + 1)

    def rows(self):
        keys = sorted({(l, g) for (_, l, g) in self.values},
                      key=lambda k: (k[0], k[1] != "attn", k[1]))
        return keys

    def matrix(self, seg, n_experts):
        """[rows, experts] array, NaN where the segment has no route."""
        rows = self.rows()
        m = np.full((len(rows), n_experts), np.nan)
        for r, (layer, gate) in enumerate(rows):
            row = self.values.get((seg, layer, gate))
            if row is None:
                continue
            m[r, :] = 0.0
            for e, v in row.items():
                if e < n_experts:
                    m[r, e] = v
        return m


def fmt_time(t):
    return "?" if t is None else "%.3f s" % t


def parse(objs):
    """Clips (in order) of upm-run lines and upmbin buffers."""
    clips = []
    for obj in objs:
        routing = obj.get("routing")
        if isinstance(routing, list):                 # upm-run
            clip = Clip("clip %d  [%s, %s)  %s" % (
                len(clips), fmt_time(obj.get("start")),
                fmt_time(obj.get("end")), obj.get("task", "")))
            for r in routing:
                clip.add_static(r.get("attr") or r.get("segment"),
                                r["layer"], r["gate"], r["experts"],
                                r["weights"])
            for r in obj.get("token_routes", []):
                clip.add_tokens(r.get("attr") or r.get("segment"),
                                r["layer"], r["gate"], r["experts"])
        elif isinstance(routing, dict):               # upmbin / upmhead
            start = routing.get("pts_seconds", obj.get("pts_seconds"))
            dur = routing.get("duration_seconds",
                              obj.get("duration_seconds"))
            end = start + dur if start is not None and dur is not None else None
            what = "caption" if "caption" in obj else (
                obj.get("result", {}).get("task", ""))
            clip = Clip("clip %d  [%s, %s)  %s" % (
                len(clips), fmt_time(start), fmt_time(end), what))
            for r in routing.get("routes", []):
                clip.add_static(r["segment"], r["layer"], r["gate"],
                                r["experts"], r["weights"])
            for r in routing.get("token_routes", []):
                clip.add_tokens(r["segment"], r["layer"], r["gate"],
                                r["experts"])
            clip.n_experts = max(clip.n_experts, routing.get("experts") or 0)
        else:
            continue
        if clip.values:
            clips.append(clip)
    return clips


def row_label(layer, gate):
    return "L%d %s" % (layer, gate)


def layout(clip, n_experts, cell):
    """Geometry of the image: a dict with the size, the origin of each
    panel's cells and the row labels' width."""
    rows = clip.rows()
    label_w = max(len(row_label(l, g)) for l, g in rows) * CHAR_W + 6
    panel_w = n_experts * cell
    titles_w = [len(s) * CHAR_W for s in clip.segments]
    widths = [max(panel_w, t) for t in titles_w]
    top = MARGIN + TITLE_H + PANEL_TITLE_H + COL_LABEL_H
    x, origins = MARGIN + label_w, []
    for w in widths:
        origins.append((x, top))
        x += w + GAP
    width = max(x - GAP + MARGIN, MARGIN + len(clip.title) * CHAR_W + MARGIN)
    height = top + len(rows) * cell + LEGEND_H + MARGIN
    return {"width": width, "height": height, "origins": origins,
            "label_w": label_w, "rows": rows, "cell": cell,
            "n_experts": n_experts}


def render(clip, n_experts=None, cell=24):
    """The heatmap of one clip as a PIL image."""
    n_experts = max(n_experts or 0, clip.n_experts)
    lay = layout(clip, n_experts, cell)
    img = Image.new("RGB", (lay["width"], lay["height"]), (255, 255, 255))
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    d.text((MARGIN, MARGIN), clip.title, fill=(0, 0, 0), font=font)
    rows = lay["rows"]
    x0 = lay["origins"][0][0]
    y0 = lay["origins"][0][1]
    for r, (layer, gate) in enumerate(rows):
        d.text((MARGIN, y0 + r * cell + (cell - 10) // 2),
               row_label(layer, gate), fill=(0, 0, 0), font=font)
    for seg, (px, py) in zip(clip.segments, lay["origins"]):
        d.text((px, py - PANEL_TITLE_H - COL_LABEL_H), seg, fill=(0, 0, 0),
               font=font)
        m = clip.matrix(seg, n_experts)
        # grid lines: the 1 px between cells
        d.rectangle([px - 1, py - 1, px + n_experts * cell - 1,
                     py + len(rows) * cell - 1], fill=GRID_COLOUR)
        for e in range(n_experts):
            label = str(e)
            if len(label) * CHAR_W <= cell or e % 2 == 0:
                d.text((px + e * cell + (cell - len(label) * CHAR_W) // 2,
                        py - COL_LABEL_H), label, fill=(80, 80, 80),
                       font=font)
        for r in range(len(rows)):
            for e in range(n_experts):
                v = m[r, e]
                c = colour(None if np.isnan(v) else v)
                x, y = px + e * cell, py + r * cell
                d.rectangle([x, y, x + cell - 2, y + cell - 2], fill=c)
                if cell >= 20 and not np.isnan(v) and v > 0:
                    text = ("%.2f" % v).lstrip("0") if v < 1 else "1"
                    d.text((x + (cell - 1 - len(text) * CHAR_W) // 2,
                            y + (cell - 11) // 2), text,
                           fill=(0, 0, 0) if v < 0.5 else (255, 255, 255),
                           font=font)
    # legend: 0 .. 1
    ly = lay["height"] - MARGIN - LEGEND_H + 8
    lw = 100
    for i in range(lw):
        d.line([x0 + i, ly, x0 + i, ly + 6], fill=colour(i / (lw - 1)))
    d.text((x0 - 8, ly - 2), "0", fill=(0, 0, 0), font=font)
    d.text((x0 + lw + 3, ly - 2), "1", fill=(0, 0, 0), font=font)
    d.text((x0 + lw + 14, ly - 2),
           "gate weight / share of token slots", fill=(80, 80, 80), font=font)
    return img


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="MoE routing heatmaps (one PNG per clip) from the JSON "
        "of upm-run --output-format json --routing or upmbin "
        "text-format=json.")
    ap.add_argument("files", nargs="*", help="JSON input (default: stdin)")
    ap.add_argument("-o", "--output-dir", default=".",
                    help="directory of the PNGs (created)")
    ap.add_argument("--prefix", default="routing",
                    help="file name prefix: PREFIX-0000.png, ...")
    ap.add_argument("--experts", type=int, default=0,
                    help="columns (default: the input's expert count)")
    ap.add_argument("--cell", type=int, default=24,
                    help="cell size in pixels (default 24)")
    ap.add_argument("--clips", default="",
                    help="comma-separated clip numbers to draw (default all)")
    a = ap.parse_args(argv)
    if a.cell < 4 or a.cell > 256:
        ap.error("--cell must be 4 to 256")
    if a.experts < 0 or a.experts > 1024:
        ap.error("--experts must be 0 to 1024")
    try:
        wanted = {int(x) for x in a.clips.split(",") if x.strip()}
    except ValueError:
        ap.error("--clips takes numbers: 0,3,4")

    text = ""
    if not a.files:
        text = sys.stdin.read()
    for f in a.files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            text += fh.read() + "\n"
    try:
        clips = parse(iter_json(text))
    except (ValueError, KeyError, TypeError) as e:
        print("error: bad routing JSON: %s" % e, file=sys.stderr)
        return 1
    if not clips:
        print("error: no routing in the input (upm-run needs --routing)",
              file=sys.stderr)
        return 1
    os.makedirs(a.output_dir, exist_ok=True)
    for i, clip in enumerate(clips):
        if wanted and i not in wanted:
            continue
        path = os.path.join(a.output_dir, "%s-%04d.png" % (a.prefix, i))
        render(clip, a.experts, a.cell).save(path)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
