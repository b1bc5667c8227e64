#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""synthworld: a deterministic, seeded generator of short captioned RGB clips.

Each clip shows one (optionally two) simple coloured objects on a dark,
lightly textured background, moving in one of nine easy-to-see ways, plus a
compositional caption such as ``"a small red circle moves to the left"``.
See tools/SYNTHWORLD.md for the world definition and the design reasoning.

Library use::

    from synthworld import generate_clip, MOTIONS, class_names
    clip = generate_clip(1234)            # Clip(frames uint8 [8,64,64,3], ...)
    clip.caption, clip.motion, clip.motion_id

Every clip is a pure function of ``generate_clip``'s arguments: the same seed
(and options) gives byte-identical frames.  Training uses seeds 0, 1, 2, ...;
held-out evaluation uses seeds from ``HELDOUT_SEED_BASE`` (10_000_000) upward.

CLI::

    synthworld.py --seed 0 --count 16 --out /tmp/sw --format all --upscale 4
    synthworld.py --seed 10000000 --count 15 --out /tmp/sw --concat --upscale 4
"""

import argparse
import json
import math
import os
import shutil
import statistics
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Clip", "generate_clip", "generate_batch", "class_names", "parse_caption",
    "make_caption", "vocabulary", "with_article", "MOTIONS", "SHAPES", "COLOURS", "SIZES",
    "MOTION_PHRASES", "ROTATABLE_SHAPES", "HELDOUT_SEED_BASE",
    "write_png", "write_mp4",
]

# ---------------------------------------------------------------------------
# World definition
# ---------------------------------------------------------------------------

#: Motion classes; the list index is the class id (``Clip.motion_id``).
MOTIONS = ["left", "right", "up", "down", "rotate", "grow", "shrink",
           "bounce", "still"]
#: Caption verb phrase per motion.
MOTION_PHRASES = {
    "left": "moves to the left",
    "right": "moves to the right",
    "up": "moves up",
    "down": "moves down",
    "rotate": "rotates",
    "grow": "grows",
    "shrink": "shrinks",
    "bounce": "bounces",
    "still": "stays still",
}
#: Classification target text per motion class (same order as MOTIONS).
CLASS_NAMES = ["moving left", "moving right", "moving up", "moving down",
               "rotating", "growing", "shrinking", "bouncing", "staying still"]

SHAPES = ["circle", "square", "triangle", "star", "cross"]
#: Shapes whose rotation is clearly visible.  "circle rotates" is never
#: generated, and neither is "star rotates": a 5-point star repeats every 72
#: degrees, so at the >= 20 deg/frame needed elsewhere it only wobbles
#: (and a small star's mask hardly changes at 8 px patches).
ROTATABLE_SHAPES = ["square", "triangle", "cross"]

#: Saturated / bright object colours (RGB).  Every colour has a channel
#: >= 200, while backgrounds stay <= BG_MAX before noise, so objects are
#: always separable from the background by their brightest channel.
COLOURS = ["red", "green", "blue", "yellow", "white", "purple", "orange",
           "cyan"]
COLOUR_RGB = {
    "red": (230, 40, 40),
    "green": (40, 205, 60),
    "blue": (50, 100, 255),
    "yellow": (240, 230, 50),
    "white": (245, 245, 245),
    "purple": (170, 60, 230),
    "orange": (255, 140, 20),
    "cyan": (40, 220, 230),
}
SIZES = ["small", "large"]
#: Base object radius in pixels at a 64 px frame (scaled with frame size).
#: Large enough for the shape to show at 48 px: radii of 6.5/11 kept the
#: trained model's zero-shot "a colour shape" near chance (0.23 after 2000
#: GPU steps) where 9/14 reached 0.31 with the same recipe.
SIZE_RADIUS = {"small": 9.0, "large": 14.0}

BACKGROUNDS = ["solid", "gradient", "stripes", "texture"]
BG_MIN, BG_MAX = 8.0, 115.0

#: Held-out evaluation seeds start here; training seeds are 0, 1, 2, ...
HELDOUT_SEED_BASE = 10_000_000

MIN_SIZE, MAX_SIZE = 32, 112
MIN_FRAMES, MAX_FRAMES = 1, 16

# Motion magnitudes, in pixels per frame at a 64 px frame (scaled linearly
# with the frame size).  Speeds are clamped so the object stays inside the
# frame for the whole clip (this only bites for long clips, > 8 frames).
LINEAR_SPEED = (4.0, 6.0)
BOUNCE_SPEED = (5.0, 7.0)
#: degrees per frame (random sign), per shape: kept well below half the
#: shape's symmetry period (square/cross 90, triangle 120 degrees) so the
#: rotation cannot alias into a backwards or standing rotation
ROTATE_DEG = {"square": (20.0, 30.0), "cross": (20.0, 30.0),
              "triangle": (22.0, 35.0)}
GROW_FROM = (0.55, 0.65)           # scale at first frame (grow)
GROW_TO = (1.5, 1.7)               # scale at last frame (grow)
SIZE_JITTER = 0.08                 # +-8 % radius jitter
COLOUR_JITTER = 12                 # +-12 per channel

# Per-shape geometry, in units of the object radius r:
#   circle: radius r; square: half side 0.85 r; triangle: circumradius 1.2 r;
#   star: outer radius 1.25 r (inner 0.45 of that); cross: arm 1.1 r,
#   half-width 0.36 of that.
_SQ_H, _TRI_R, _STAR_R, _STAR_IN, _CR_L, _CR_W = 0.85, 1.2, 1.25, 0.45, 1.1, 0.36
#: Circumradius / r: the object never extends further than this from its
#: centre, in any orientation.
SHAPE_EXTENT = {
    "circle": 1.0,
    "square": _SQ_H * math.sqrt(2.0),
    "triangle": _TRI_R,
    "star": _STAR_R,
    "cross": _CR_L * math.hypot(1.0, _CR_W),
}
_EDGE_MARGIN = 1.0   # px between the object's extent and the frame border


def class_names():
    """Text of the motion classes, indexed by motion id."""
    return list(CLASS_NAMES)


def vocabulary():
    """Sorted list of every word that can appear in a caption."""
    words = {"a", "and"} | set(SIZES) | set(COLOURS) | set(SHAPES)
    for p in MOTION_PHRASES.values():
        words.update(p.split())
    return sorted(words)


def with_article(phrase):
    """``phrase`` after its indefinite article: "an orange object", "a red
    object".  Chosen by the first letter (a vowel letter takes "an"), which is
    right for every word of this world (no "hour" or "unicorn").  Texts already
    baked into trained models keep their form: captions always begin with a
    size ("a small", "a large"), and train.py's partial captions
    (text_variants) still read "a orange object" as the bundled model was
    trained; this is for texts made for people (scripts/demo.sh labels)."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def make_caption(objects):
    """Caption for a list of object dicts (shape, colour, size, motion)."""
    parts = ["a %s %s %s %s" % (o["size"], o["colour"], o["shape"],
                                MOTION_PHRASES[o["motion"]]) for o in objects]
    return " and ".join(parts)


_PHRASE_TO_MOTION = {tuple(v.split()): k for k, v in MOTION_PHRASES.items()}


def parse_caption(caption):
    """Inverse of make_caption: list of dicts (size, colour, shape, motion).

    Raises ValueError if the caption is not in the grammar."""
    toks = caption.strip().split()
    out = []
    i = 0
    while True:
        if i + 4 > len(toks) or toks[i] != "a":
            raise ValueError("bad caption: %r" % caption)
        size, colour, shape = toks[i + 1:i + 4]
        if size not in SIZES or colour not in COLOURS or shape not in SHAPES:
            raise ValueError("bad caption: %r" % caption)
        j = i + 4
        while j < len(toks) and toks[j] != "and":
            j += 1
        motion = _PHRASE_TO_MOTION.get(tuple(toks[i + 4:j]))
        if motion is None:
            raise ValueError("bad motion phrase in %r" % caption)
        out.append({"size": size, "colour": colour, "shape": shape,
                    "motion": motion})
        if j == len(toks):
            return out
        i = j + 1


# ---------------------------------------------------------------------------
# Clip
# ---------------------------------------------------------------------------

@dataclass
class Clip:
    frames: np.ndarray          # uint8 [T, H, W, 3]
    motion: str                 # motion of the first (captioned-first) object
    motion_id: int              # MOTIONS.index(motion)
    objects: list               # dicts: shape, colour, size, motion, + geometry
    caption: str
    seed: int
    background: dict = field(default_factory=dict)

    @property
    def size(self):
        return int(self.frames.shape[2])

    @property
    def num_frames(self):
        return int(self.frames.shape[0])

    def metadata(self, fps=None):
        """JSON-serialisable description (everything but the pixels)."""
        t, h, w, _ = self.frames.shape
        m = {
            "seed": int(self.seed),
            "split": "heldout" if self.seed >= HELDOUT_SEED_BASE else "train",
            "caption": self.caption,
            "motion": self.motion,
            "motion_id": int(self.motion_id),
            "class_name": CLASS_NAMES[self.motion_id],
            "objects": self.objects,
            "background": self.background,
            "size": int(w),
            "width": int(w),
            "height": int(h),
            "frames": int(t),
            "pixel_format": "rgb24",
        }
        if fps is not None:
            m["fps"] = fps
            m["duration_s"] = t / float(fps)
        return m


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

def _inv_norm_lut():
    nd = statistics.NormalDist()
    return np.array([nd.inv_cdf((i + 0.5) / 256.0) for i in range(256)],
                    np.float32)


_NOISE_LUT = _inv_norm_lut()          # byte -> N(0,1) quantile
_GRID_CACHE = {}


def _grid(size):
    g = _GRID_CACHE.get(size)
    if g is None:
        c = np.arange(size, dtype=np.float32) + 0.5
        g = (c[None, :], c[:, None])   # X [1,W], Y [H,1]
        _GRID_CACHE[size] = g
    return g


def _reflect(x, lo, hi):
    span = hi - lo
    if span <= 0:
        return np.full_like(x, lo)
    y = np.mod(x - lo, 2.0 * span)
    return np.where(y > span, 2.0 * span - y, y) + lo


def _signed_distance(shape, u, v, r):
    """Approximate signed distance (px, > 0 outside) in object coordinates."""
    if shape == "circle":
        return np.sqrt(u * u + v * v) - r
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) - _SQ_H * r
    if shape == "triangle":
        # apex up (image y grows downwards), centroid at the origin
        R = _TRI_R * r
        # edges: v = R/2 (bottom) and normals (+-0.866, -0.5)
        return np.maximum(v, 0.8660254 * np.abs(u) - 0.5 * v) - 0.5 * R
    if shape == "star":
        R = _STAR_R * r
        phi = np.arctan2(v, u) + (0.5 * math.pi)        # tip points up
        step = 2.0 * math.pi / 5.0
        # angular distance to the nearest tip: 0 at a tip, 36 deg at a notch
        beta = 0.5 * step - np.abs(np.mod(phi, step) - 0.5 * step)
        # star edge from P1 = (R, 0) to P2 = ri (cos36, sin36); direction E
        # in units of R (so it works for per-frame radii)
        ex = _STAR_IN * math.cos(0.5 * step) - 1.0
        ey = _STAR_IN * math.sin(0.5 * step)
        elen = math.hypot(ex, ey)
        cr = np.cos(beta) * ey - np.sin(beta) * ex       # cross(d, E) > 0
        rho_b = R * (ey / cr)                            # edge radius at beta
        rho = np.sqrt(u * u + v * v)
        return (rho - rho_b) * (cr / elen)
    if shape == "cross":
        L = _CR_L * r
        w = _CR_W * L
        au, av = np.abs(u), np.abs(v)
        return np.minimum(np.maximum(au - L, av - w), np.maximum(au - w, av - L))
    raise ValueError("unknown shape %r" % shape)


def _render_alpha(obj, size):
    """Coverage of one object over the clip: (alpha [T,h,w] float32 in [0,1],
    (y0, y1, x0, x1)) -- only the bounding box of the whole trajectory."""
    cx = obj["_cx"]
    cy = obj["_cy"]
    ang = obj["_ang"]
    rad = obj["_rad"]
    ext = rad * SHAPE_EXTENT[obj["shape"]] + 1.0
    x0 = max(int(np.floor((cx - ext).min())), 0)
    x1 = min(int(np.ceil((cx + ext).max())) + 1, size)
    y0 = max(int(np.floor((cy - ext).min())), 0)
    y1 = min(int(np.ceil((cy + ext).max())) + 1, size)
    if x1 <= x0 or y1 <= y0:
        return None, (0, 0, 0, 0)
    X, Y = _grid(size)
    dx = X[None, :, x0:x1] - cx[:, None, None]          # [T,1,w]
    dy = Y[None, y0:y1, :] - cy[:, None, None]          # [T,h,1]
    if obj["shape"] == "circle":
        u, v = dx, dy                        # broadcasts to [T,h,w] below
    else:
        c = np.cos(ang).astype(np.float32)[:, None, None]
        s = np.sin(ang).astype(np.float32)[:, None, None]
        u = dx * c + dy * s
        v = dy * c - dx * s
    d = _signed_distance(obj["shape"], u, v, rad[:, None, None])
    alpha = np.float32(0.5) - d
    np.minimum(alpha, 1.0, out=alpha)
    np.maximum(alpha, 0.0, out=alpha)
    return alpha, (y0, y1, x0, x1)


def _make_background(rng, size, kind=None):
    """Static background [H, W, 3] float32 in [BG_MIN, BG_MAX], and its info."""
    k = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    if kind is None:
        kind = k
    elif kind not in BACKGROUNDS:
        raise ValueError("background must be one of %s" % BACKGROUNDS)
    base_l = float(rng.uniform(18.0, 80.0))
    tint = rng.uniform(-12.0, 12.0, 3).astype(np.float32)
    base = (base_l + tint).astype(np.float32)
    X, Y = _grid(size)
    info = {"kind": kind, "base": [round(float(b), 1) for b in base]}
    if kind == "solid":
        bg = np.broadcast_to(base, (size, size, 3)).astype(np.float32)
    elif kind == "gradient":
        th = float(rng.uniform(0.0, 2.0 * math.pi))
        amp = float(rng.uniform(15.0, 35.0))
        wch = rng.uniform(0.7, 1.3, 3).astype(np.float32)
        ramp = ((X * math.cos(th) + Y * math.sin(th)) / size
                - 0.5 * (math.cos(th) + math.sin(th))) * amp
        bg = base + ramp[:, :, None] * wch
        info.update(angle_deg=round(math.degrees(th), 1), amplitude=round(amp, 1))
    elif kind == "stripes":
        th = float(rng.uniform(0.0, math.pi))
        amp = float(rng.uniform(4.0, 9.0))
        period = float(rng.uniform(5.0, 14.0)) * size / 64.0
        ph = float(rng.uniform(0.0, 2.0 * math.pi))
        wave = np.sin((X * math.cos(th) + Y * math.sin(th)) * (2.0 * math.pi / period)
                      + ph) * amp
        bg = base + wave[:, :, None]
        info.update(angle_deg=round(math.degrees(th), 1), amplitude=round(amp, 1),
                    period_px=round(period, 2))
    else:  # texture: smooth low-frequency value noise
        g = int(rng.integers(3, 9))
        amp = float(rng.uniform(8.0, 18.0))
        coarse = rng.uniform(-amp, amp, (g + 1, g + 1)).astype(np.float32)
        t = (np.arange(size, dtype=np.float32) + 0.5) * (g / float(size))
        i0 = np.minimum(t.astype(np.int32), g - 1)
        f = t - i0
        rows = coarse[i0] * (1 - f)[:, None] + coarse[i0 + 1] * f[:, None]
        field_ = rows[:, i0] * (1 - f)[None, :] + rows[:, i0 + 1] * f[None, :]
        wch = rng.uniform(0.7, 1.3, 3).astype(np.float32)
        bg = base + field_[:, :, None] * wch
        info.update(cells=g, amplitude=round(amp, 1))
    return np.clip(bg, BG_MIN, BG_MAX).astype(np.float32), info


def _bounds(size, ext):
    lo = ext + _EDGE_MARGIN
    hi = size - ext - _EDGE_MARGIN
    if hi < lo:
        lo = hi = size / 2.0
    return lo, hi


def _trajectory(rng, motion, shape, size, T, r):
    """Centres, angles (rad), scales per frame, and extra info, for a motion."""
    s = size / 64.0
    t = np.arange(T, dtype=np.float64)
    n = max(T - 1, 1)
    ang0 = float(rng.uniform(0.0, 2.0 * math.pi)) if shape != "circle" else 0.0
    ang = np.full(T, ang0)
    scale = np.ones(T)
    extra = {}
    ext_unit = SHAPE_EXTENT[shape] * r

    if motion in ("grow", "shrink"):
        a = float(rng.uniform(*GROW_FROM))
        b = float(rng.uniform(*GROW_TO))
        # keep the biggest state within 42 % of the frame (radius-wise)
        bmax = 0.42 * size / ext_unit
        if b > bmax:
            a *= bmax / b
            b = bmax
        scale = a * (b / a) ** (t / n)
        if motion == "shrink":
            scale = scale[::-1].copy()
        extra["scale_from"] = round(float(scale[0]), 3)
        extra["scale_to"] = round(float(scale[-1]), 3)
    lo, hi = _bounds(size, ext_unit * float(scale.max()))
    avail = hi - lo

    if motion in ("left", "right", "up", "down"):
        v = float(rng.uniform(*LINEAR_SPEED)) * s
        v = min(v, avail / n) if T > 1 else 0.0
        start = float(rng.uniform(lo + v * n, hi)) if hi > lo + v * n else hi
        other = float(rng.uniform(lo, hi))
        if motion in ("left", "up"):
            p = start - v * t
        else:
            p = (lo + hi) - start + v * t
        cx, cy = (p, np.full(T, other)) if motion in ("left", "right") \
            else (np.full(T, other), p)
        extra["speed_px"] = round(v, 3)
    elif motion == "bounce":
        axis = "x" if rng.integers(2) == 0 else "y"
        sign = 1.0 if rng.integers(2) == 0 else -1.0
        v = float(rng.uniform(*BOUNCE_SPEED)) * s
        if T >= 3:
            a_, b_ = min(1.5, n / 2.0), max(T - 2.5, n / 2.0)
            th = float(rng.uniform(a_, b_))                  # wall-hit time
            v = min(v, avail / max(th, n - th, 1e-6))
        else:
            th = 0.5
        p0 = hi - v * th if sign > 0 else lo + v * th
        p = _reflect(p0 + sign * v * t, lo, hi)
        other = np.full(T, float(rng.uniform(lo, hi)))
        cx, cy = (p, other) if axis == "x" else (other, p)
        extra.update(axis=axis, speed_px=round(v, 3), hit_frame=round(th, 2),
                     first_direction=("right" if sign > 0 else "left") if axis == "x"
                     else ("down" if sign > 0 else "up"))
    else:  # rotate / grow / shrink / still: fixed centre
        cx = np.full(T, float(rng.uniform(lo, hi)))
        cy = np.full(T, float(rng.uniform(lo, hi)))
        if motion == "rotate":
            w = math.radians(float(rng.uniform(*ROTATE_DEG[shape])))
            w *= 1.0 if rng.integers(2) == 0 else -1.0
            ang = ang0 + w * t
            extra["deg_per_frame"] = round(math.degrees(w), 2)
    return cx, cy, ang, scale, extra


def _pick(rng, options, forced=None):
    if forced is not None:
        if forced not in options:
            raise ValueError("%r not allowed here (choices: %s)" % (forced, options))
        return forced
    return options[int(rng.integers(len(options)))]


def _sample_object(rng, size, T, motion=None, shape=None, colour=None,
                   obj_size=None, exclude_motion=None, exclude_looks=()):
    for _ in range(100):
        ms = [x for x in MOTIONS if x != exclude_motion and not
              (x == "rotate" and shape is not None and shape not in ROTATABLE_SHAPES)]
        m = _pick(rng, ms, motion)
        shapes = ROTATABLE_SHAPES if m == "rotate" else SHAPES
        sh = _pick(rng, shapes, shape)
        col = _pick(rng, COLOURS, colour)
        sz = _pick(rng, SIZES, obj_size)
        if (sh, col) not in exclude_looks:
            break
    r = SIZE_RADIUS[sz] * (size / 64.0) * float(rng.uniform(1 - SIZE_JITTER,
                                                            1 + SIZE_JITTER))
    rgb = np.clip(np.array(COLOUR_RGB[col], np.float32)
                  + rng.integers(-COLOUR_JITTER, COLOUR_JITTER + 1, 3), 0, 255)
    return {"shape": sh, "colour": col, "size": sz, "motion": m,
            "radius_px": round(r, 3), "rgb": [int(c) for c in rgb]}, r


def _place(rng, obj, r, size, T):
    cx, cy, ang, scale, extra = _trajectory(rng, obj["motion"], obj["shape"],
                                            size, T, r)
    obj["_cx"] = cx.astype(np.float32)
    obj["_cy"] = cy.astype(np.float32)
    obj["_ang"] = np.asarray(ang, np.float64)
    obj["_rad"] = (r * scale).astype(np.float32)
    obj["_ext"] = SHAPE_EXTENT[obj["shape"]] * r * scale
    obj["motion_params"] = extra


def _public(obj):
    o = {k: v for k, v in obj.items() if not k.startswith("_")}
    o["centers"] = [[round(float(x), 2), round(float(y), 2)]
                    for x, y in zip(obj["_cx"], obj["_cy"])]
    o["angles_deg"] = [round(math.degrees(float(a)) % 360.0, 2) for a in obj["_ang"]]
    o["radii_px"] = [round(float(x), 3) for x in obj["_rad"]]
    return o


def generate_clip(seed, size=64, frames=8, two_object_prob=0.0, *,
                  motion=None, shape=None, colour=None, obj_size=None,
                  background=None, noise=True, num_objects=None):
    """Generate one clip; a pure function of its arguments.

    seed             int >= 0 (train: 0..; held-out: >= HELDOUT_SEED_BASE)
    size             frame width = height, 32..112
    frames           clip length T, 1..16
    two_object_prob  probability of a second object (default 0: one object)
    motion, shape, colour, obj_size
                     force attributes of the first object (None = random;
                     motion "rotate" with a shape not in ROTATABLE_SHAPES is rejected)
    background       force the background kind (one of BACKGROUNDS)
    noise            add light per-pixel Gaussian noise (sigma 1.5..4)
    num_objects      force 1 or 2 objects (overrides two_object_prob)
    """
    seed = int(seed)
    if seed < 0:
        raise ValueError("seed must be >= 0")
    size = int(size)
    frames = int(frames)
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError("size must be in %d..%d" % (MIN_SIZE, MAX_SIZE))
    if not MIN_FRAMES <= frames <= MAX_FRAMES:
        raise ValueError("frames must be in %d..%d" % (MIN_FRAMES, MAX_FRAMES))
    if motion == "rotate" and shape is not None and shape not in ROTATABLE_SHAPES:
        raise ValueError("%s rotation is not visible; not generated" % shape)
    rng = np.random.Generator(np.random.PCG64(seed))
    T = frames

    # draw order is fixed: background, object count, object 1, object 2, noise
    bg, bg_info = _make_background(rng, size, background)
    u2 = float(rng.random())
    n_obj = num_objects if num_objects is not None else \
        (2 if u2 < two_object_prob else 1)
    if n_obj not in (1, 2):
        raise ValueError("num_objects must be 1 or 2")

    o1, r1 = _sample_object(rng, size, T, motion, shape, colour, obj_size)
    _place(rng, o1, r1, size, T)
    objs = [o1]
    if n_obj == 2:
        o2, r2 = _sample_object(rng, size, T, exclude_motion=o1["motion"],
                                exclude_looks=((o1["shape"], o1["colour"]),))
        best, best_d = None, -1e9
        for _ in range(24):
            _place(rng, o2, r2, size, T)
            dist = np.hypot(o2["_cx"] - o1["_cx"], o2["_cy"] - o1["_cy"])
            margin = float((dist - (o1["_ext"] + o2["_ext"])).min())
            if margin > best_d:
                best_d = margin
                best = {k: o2[k] for k in ("_cx", "_cy", "_ang", "_rad", "_ext",
                                           "motion_params")}
            if margin >= 0.0:
                break
        o2.update(best)
        objs.append(o2)

    # composite (objects only touch their trajectory's bounding box)
    out = np.empty((T, size, size, 3), np.float32)
    out[:] = bg
    for o in objs:
        a, (y0, y1, x0, x1) = _render_alpha(o, size)
        if a is None:
            continue
        col = np.array(o["rgb"], np.float32)
        win = out[:, y0:y1, x0:x1]
        win += a[..., None] * (col - win)
    # light per-pixel Gaussian noise from random bytes through an inverse-CDF
    # table; the +0.5 makes the final truncation round to nearest
    if noise:
        sigma = float(rng.uniform(1.5, 4.0))
        nb = np.frombuffer(rng.bytes(out.size), np.uint8).reshape(out.shape)
        out += np.take(_NOISE_LUT * np.float32(sigma) + np.float32(0.5), nb)
        bg_info["noise_sigma"] = round(sigma, 3)
    else:
        out += np.float32(0.5)
        bg_info["noise_sigma"] = 0.0
    np.minimum(out, 255.0, out=out)
    np.maximum(out, 0.0, out=out)
    frames_u8 = out.astype(np.uint8)

    pub = [_public(o) for o in objs]
    return Clip(frames=frames_u8, motion=o1["motion"],
                motion_id=MOTIONS.index(o1["motion"]), objects=pub,
                caption=make_caption(pub), seed=seed, background=bg_info)


def generate_batch(seeds, size=64, frames=8, two_object_prob=0.0, **kw):
    """Frames uint8 [B,T,H,W,3], motion ids int64 [B], captions list[str]."""
    clips = [generate_clip(s, size, frames, two_object_prob, **kw) for s in seeds]
    return (np.stack([c.frames for c in clips]),
            np.array([c.motion_id for c in clips], np.int64),
            [c.caption for c in clips])


# ---------------------------------------------------------------------------
# Output: PNG, MP4
# ---------------------------------------------------------------------------

def upscale(frames, k):
    """Nearest-neighbour upscale of [..., H, W, C] by an integer factor."""
    k = int(k)
    if k <= 1:
        return frames
    return np.repeat(np.repeat(frames, k, axis=-3), k, axis=-2)


def write_png(path, img):
    """Write an RGB uint8 [H, W, 3] image as PNG (zlib, no dependencies)."""
    img = np.ascontiguousarray(img, np.uint8)
    h, w, _ = img.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), img.reshape(h, w * 3)],
                         axis=1).tobytes()

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(chunk(b"IEND", b""))


def contact_sheet(clips, k=1, gap=2):
    """One image: a row of frames per clip (nearest-neighbour upscaled by k)."""
    rows = []
    for c in clips:
        f = upscale(c.frames, k)
        T, H, W, _ = f.shape
        row = np.full((H, T * (W + gap) - gap, 3), 255, np.uint8)
        for i in range(T):
            row[:, i * (W + gap):i * (W + gap) + W] = f[i]
        rows.append(row)
    width = max(r.shape[1] for r in rows)
    out = []
    for r in rows:
        pad = np.full((r.shape[0], width, 3), 255, np.uint8)
        pad[:, :r.shape[1]] = r
        out += [pad, np.full((gap, width, 3), 255, np.uint8)]
    return np.concatenate(out[:-1], axis=0)


def write_mp4(path, frames, fps=8, crf=16):
    """Encode RGB uint8 [T, H, W, 3] as H.264 MP4 (yuv420p, even dimensions).

    Uses the ffmpeg CLI; falls back to gst-launch-1.0 (x264enc + mp4mux)."""
    frames = np.ascontiguousarray(frames, np.uint8)
    T, H, W, _ = frames.shape
    if W % 2 or H % 2:    # pad to even dimensions by edge replication
        frames = np.pad(frames, ((0, 0), (0, H % 2), (0, W % 2), (0, 0)),
                        mode="edge")
        T, H, W, _ = frames.shape
    if shutil.which("ffmpeg"):
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "%dx%d" % (W, H),
               "-framerate", str(fps), "-i", "-",
               "-c:v", "libx264", "-preset", "medium", "-crf", str(crf),
               "-pix_fmt", "yuv420p", "-movflags", "+faststart", path]
        subprocess.run(cmd, input=frames.tobytes(), check=True)
        return
    if shutil.which("gst-launch-1.0"):
        tmp = path + ".rgb"
        frames.tofile(tmp)
        try:
            num, den = _fps_fraction(fps)
            cmd = ["gst-launch-1.0", "-q", "filesrc", "location=" + tmp, "!",
                   "rawvideoparse", "format=rgb", "width=%d" % W,
                   "height=%d" % H, "framerate=%d/%d" % (num, den), "!",
                   "videoconvert", "!", "video/x-raw,format=I420", "!",
                   "x264enc", "speed-preset=medium", "pass=quant", "quantizer=16",
                   "!", "mp4mux", "!", "filesink", "location=" + path]
            subprocess.run(cmd, check=True)
        finally:
            os.unlink(tmp)
        return
    raise RuntimeError("neither ffmpeg nor gst-launch-1.0 found")


def _fps_fraction(fps):
    from fractions import Fraction
    f = Fraction(str(fps)).limit_denominator(1001)
    return f.numerator, f.denominator


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

def _write_clip_files(clip, out_dir, fmt, fps, k):
    base = os.path.join(out_dir, "clip_%d" % clip.seed)
    meta = clip.metadata(fps)
    meta["upscale"] = k
    written = []
    if fmt in ("raw", "all"):
        clip.frames.tofile(base + ".rgb")
        meta["raw"] = os.path.basename(base + ".rgb")
        written.append(base + ".rgb")
    if fmt in ("png", "all"):
        write_png(base + ".png", contact_sheet([clip], k))
        meta["png"] = os.path.basename(base + ".png")
        written.append(base + ".png")
    if fmt in ("mp4", "all"):
        write_mp4(base + ".mp4", upscale(clip.frames, k), fps)
        meta["mp4"] = os.path.basename(base + ".mp4")
        meta["mp4_width"] = meta["mp4_height"] = clip.size * k + (clip.size * k) % 2
        written.append(base + ".mp4")
    with open(base + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    written.append(base + ".json")
    return written


def _write_concat(clips, out_dir, fmt, fps, k, name):
    base = os.path.join(out_dir, name)
    T = clips[0].num_frames
    segs = []
    for i, c in enumerate(clips):
        segs.append({
            "index": i, "seed": c.seed,
            "start_frame": i * T, "end_frame": (i + 1) * T,
            "start_s": round(i * T / float(fps), 6),
            "end_s": round((i + 1) * T / float(fps), 6),
            "caption": c.caption, "motion": c.motion, "motion_id": c.motion_id,
            "class_name": CLASS_NAMES[c.motion_id],
            "objects": [{k_: o[k_] for k_ in ("shape", "colour", "size", "motion")}
                        for o in c.objects],
        })
    allf = np.concatenate([c.frames for c in clips], axis=0)
    meta = {"seeds": [c.seed for c in clips], "fps": fps,
            "frames_per_clip": T, "frames": int(allf.shape[0]),
            "duration_s": allf.shape[0] / float(fps),
            "size": clips[0].size, "width": clips[0].size,
            "height": clips[0].size, "upscale": k, "segments": segs,
            "class_names": class_names()}
    written = []
    if fmt in ("raw", "all"):
        allf.tofile(base + ".rgb")
        meta["raw"] = os.path.basename(base + ".rgb")
        written.append(base + ".rgb")
    if fmt in ("png", "all"):
        write_png(base + ".png", contact_sheet(clips, k))
        meta["png"] = os.path.basename(base + ".png")
        written.append(base + ".png")
    if fmt in ("mp4", "all"):
        write_mp4(base + ".mp4", upscale(allf, k), fps)
        meta["mp4"] = os.path.basename(base + ".mp4")
        written.append(base + ".mp4")
    with open(base + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    written.append(base + ".json")
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Generate synthetic captioned RGB clips (synthworld).")
    ap.add_argument("--seed", type=int, required=True,
                    help="first seed (train: 0..; held-out: >= %d)" % HELDOUT_SEED_BASE)
    ap.add_argument("--count", type=int, default=1, help="number of clips (seeds S..S+N-1)")
    ap.add_argument("--size", type=int, default=64, help="frame size %d..%d" % (MIN_SIZE, MAX_SIZE))
    ap.add_argument("--frames", type=int, default=8, help="frames per clip %d..%d" % (MIN_FRAMES, MAX_FRAMES))
    ap.add_argument("--two-object-prob", type=float, default=0.2,
                    help="probability of a second object (default 0.2)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--format", default="raw", choices=["raw", "png", "mp4", "all"],
                    help="raw: .rgb; png: frame strip; mp4: H.264; all: everything "
                         "(a .json sidecar is always written)")
    ap.add_argument("--fps", type=float, default=8.0)
    ap.add_argument("--upscale", type=int, default=1,
                    help="nearest-neighbour upscale for png/mp4 (raw stays native)")
    ap.add_argument("--concat", action="store_true",
                    help="write one video of N consecutive clips (seeds from S, "
                         "skipping a seed whose motion repeats the previous "
                         "segment's) + a segment JSON (default format mp4)")
    ap.add_argument("--name", default=None, help="basename for --concat output")
    a = ap.parse_args(argv)
    if a.count < 1 or a.upscale < 1 or a.fps <= 0:
        ap.error("--count, --upscale must be >= 1 and --fps > 0")
    fps = int(a.fps) if float(a.fps).is_integer() else a.fps
    os.makedirs(a.out, exist_ok=True)
    seeds = range(a.seed, a.seed + a.count)
    gen = lambda s: generate_clip(s, a.size, a.frames, a.two_object_prob)
    if a.concat:
        fmt = a.format if "--format" in (argv if argv is not None else sys.argv) else "mp4"
        name = a.name or "concat_%d_n%d" % (a.seed, a.count)
        # consecutive segments must show different motions: a seed whose
        # clip has the previous segment's motion is skipped (the sidecar
        # lists the seeds actually used)
        clips, s = [], a.seed
        while len(clips) < a.count:
            c = gen(s)
            s += 1
            if clips and c.motion == clips[-1].motion:
                continue
            clips.append(c)
        files = _write_concat(clips, a.out, fmt, fps, a.upscale, name)
    else:
        files = []
        for s in seeds:
            files += _write_clip_files(gen(s), a.out, a.format, fps, a.upscale)
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
