#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tests for tools/synthworld.py.  Run: python3 tools/test_synthworld.py

Exit status 0 when every check passes, 1 otherwise.  Takes < 60 s."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import synthworld as sw  # noqa: E402

# An object's brightest channel is >= ~190, the background's <= 115 plus
# noise; pixels at least half covered by an object pass this threshold.
OBJ_THRESHOLD = 160


def obj_mask(frames):
    return frames.max(axis=-1) >= OBJ_THRESHOLD


def centroid_area(mask):
    """Per frame (cx, cy) in pixel-centre coordinates and area."""
    T, H, W = mask.shape
    ys = np.arange(H) + 0.5
    xs = np.arange(W) + 0.5
    area = mask.sum(axis=(1, 2)).astype(np.float64)
    a = np.maximum(area, 1)
    cx = (mask.sum(axis=1) * xs).sum(axis=1) / a
    cy = (mask.sum(axis=2) * ys).sum(axis=1) / a
    return cx, cy, area


# ---------------------------------------------------------------------------

def test_constants():
    assert sw.MOTIONS == ["left", "right", "up", "down", "rotate", "grow",
                          "shrink", "bounce", "still"]
    assert len(sw.class_names()) == len(sw.MOTIONS)
    assert len(set(sw.class_names())) == len(sw.MOTIONS)
    assert 4 <= len(sw.SHAPES) <= 5 and "circle" not in sw.ROTATABLE_SHAPES
    assert 6 <= len(sw.COLOURS) <= 8 and sw.SIZES == ["small", "large"]
    assert sw.HELDOUT_SEED_BASE == 10_000_000
    c = sw.generate_clip(sw.HELDOUT_SEED_BASE + 5)
    assert c.metadata()["split"] == "heldout"
    assert sw.generate_clip(5).metadata()["split"] == "train"


def test_with_article():
    assert sw.with_article("orange object") == "an orange object"
    assert sw.with_article("red object") == "a red object"
    assert sw.with_article("Umbrella") == "an Umbrella"
    # the demo's labels: one per colour, "an" exactly before the vowels
    labels = [sw.with_article(c + " object") for c in sw.COLOURS]
    assert "an orange object" in labels and "a orange object" not in labels
    # captions start with a size, so make_caption's "a" stays right
    assert all(sw.with_article(z).startswith("a ") for z in sw.SIZES)


def test_determinism():
    for seed in (0, 1, 17, 123456, sw.HELDOUT_SEED_BASE):
        a = sw.generate_clip(seed, two_object_prob=0.5)
        b = sw.generate_clip(seed, two_object_prob=0.5)
        assert a.frames.dtype == np.uint8 and a.frames.shape == (8, 64, 64, 3)
        assert a.frames.tobytes() == b.frames.tobytes(), seed
        assert json.dumps(a.metadata()) == json.dumps(b.metadata())
    digests = {sw.generate_clip(s).frames.tobytes() for s in range(50)}
    assert len(digests) == 50, "different seeds must give different clips"
    caps = {sw.generate_clip(s).caption for s in range(50)}
    assert len(caps) > 30, "captions should vary with the seed"
    # options are part of the function's arguments
    assert sw.generate_clip(3, size=48).frames.shape == (8, 48, 48, 3)
    assert sw.generate_clip(3, frames=5).frames.shape == (5, 64, 64, 3)


def test_ranges_and_errors():
    for size in (32, 33, 80, 112):
        for frames in (1, 2, 3, 8, 16):
            c = sw.generate_clip(size * 100 + frames, size=size, frames=frames,
                                 two_object_prob=0.5)
            assert c.frames.shape == (frames, size, size, 3)
    for bad in (dict(size=31), dict(size=113), dict(frames=0), dict(frames=17),
                dict(motion="rotate", shape="circle"),
                dict(motion="rotate", shape="star"), dict(motion="fly"),
                dict(colour="pink"), dict(background="sky")):
        try:
            sw.generate_clip(1, **bad)
        except ValueError:
            continue
        raise AssertionError("no ValueError for %r" % bad)
    # forcing a non-rotatable shape never yields "rotate"
    for s in range(60):
        assert sw.generate_clip(s, shape="circle").motion != "rotate"


def test_distribution_and_captions():
    vocab = set(sw.vocabulary())
    assert len(vocab) < 60, len(vocab)
    seen = {k: set() for k in ("motion", "shape", "colour", "size")}
    bgs = set()
    n2 = 0
    for s in range(2500):
        c = sw.generate_clip(s, two_object_prob=0.25)
        assert c.motion == c.objects[0]["motion"]
        assert c.motion_id == sw.MOTIONS.index(c.motion)
        words = c.caption.split()
        assert set(words) <= vocab, c.caption
        parsed = sw.parse_caption(c.caption)
        want = [{k: o[k] for k in ("size", "colour", "shape", "motion")}
                for o in c.objects]
        assert parsed == want, (c.caption, want)
        assert sw.make_caption(parsed) == c.caption
        for o in c.objects:
            for k in seen:
                seen[k].add(o[k])
            if o["motion"] == "rotate":
                assert o["shape"] in sw.ROTATABLE_SHAPES, c.caption
        assert "circle rotates" not in c.caption
        assert "star rotates" not in c.caption
        bgs.add(c.background["kind"])
        if len(c.objects) == 2:
            n2 += 1
            a, b = c.objects
            assert a["motion"] != b["motion"], c.caption
            assert (a["shape"], a["colour"]) != (b["shape"], b["colour"])
            assert " and a " in c.caption
    assert seen["motion"] == set(sw.MOTIONS)
    assert seen["shape"] == set(sw.SHAPES)
    assert seen["colour"] == set(sw.COLOURS)
    assert seen["size"] == set(sw.SIZES)
    assert bgs == set(sw.BACKGROUNDS)
    assert 0.18 < n2 / 2500.0 < 0.32, n2
    assert all(len(sw.generate_clip(s).objects) == 1 for s in range(200))
    for bad in ("a red circle moves", "a small red circle flies",
                "a small red circle grows and", "the small red circle grows"):
        try:
            sw.parse_caption(bad)
        except ValueError:
            continue
        raise AssertionError("parsed bad caption %r" % bad)
    print("  vocabulary (%d words): %s" % (len(vocab), " ".join(sorted(vocab))))


def test_inside_frame_and_separable():
    rng = np.random.default_rng(0)
    for i in range(300):
        size = int(rng.choice([32, 48, 64, 96, 112]))
        frames = int(rng.choice([2, 4, 8, 12, 16]))
        c = sw.generate_clip(1000 + i, size=size, frames=frames,
                             two_object_prob=0.5)
        f = c.frames
        ys, xs = np.mgrid[0:size, 0:size] + 0.5
        far = np.ones(f.shape[:3], bool)
        for o in c.objects:
            ext = sw.SHAPE_EXTENT[o["shape"]]
            for t, ((cx, cy), r) in enumerate(zip(o["centers"], o["radii_px"])):
                e = ext * r
                assert e <= cx <= size - e and e <= cy <= size - e, \
                    (c.seed, o, t)
                d = np.hypot(xs - cx, ys - cy)
                far[t] &= d > e + 1.5
                core = d < 0.3 * r
                if core.any() and len(c.objects) == 1:
                    assert f[t][core].max(axis=-1).min() >= 170, (c.seed, t)
        # background pixels away from every object stay dark
        assert f.max(axis=-1)[far].max() < 150, c.seed
        # a single object never touches the border
        if len(c.objects) == 1:
            m = obj_mask(f)
            assert not (m[:, 0].any() or m[:, -1].any() or m[:, :, 0].any()
                        or m[:, :, -1].any()), c.seed


def test_motion_visible():
    """Every motion class is visible in the pixels (single object, 64 px, 8 f)."""
    stats = {}
    for mi, motion in enumerate(sw.MOTIONS):
        worst = []
        for k in range(40):
            c = sw.generate_clip(50_000 + 100 * mi + k, motion=motion)
            assert c.motion == motion and c.motion_id == mi
            m = obj_mask(c.frames)
            cx, cy, area = centroid_area(m)
            assert area.min() >= 8, (c.caption, c.seed, area)
            dx, dy = np.diff(cx), np.diff(cy)
            jitter = max(np.abs(cx - cx.mean()).max(), np.abs(cy - cy.mean()).max())
            if motion in ("left", "right", "up", "down"):
                along, across = (dx, dy) if motion in ("left", "right") else (dy, dx)
                sign = -1 if motion in ("left", "up") else 1
                # a large object at 64 px has room for ~3.5 px a frame over
                # 8 frames (the speed is capped so it never leaves the frame)
                assert (sign * along).min() >= 3.0, (c.seed, along)
                assert sign * along.sum() >= 24, (c.seed, along)
                assert np.abs(across).max() < 1.0, (c.seed, across)
                worst.append((sign * along).min())
            elif motion == "rotate":
                assert jitter < 1.0, (c.seed, cx, cy)
                inter = (m[1:] & m[:-1]).sum(axis=(1, 2))
                union = (m[1:] | m[:-1]).sum(axis=(1, 2))
                iou = inter / union
                assert iou.max() < 0.93, (c.seed, c.caption, iou)
                worst.append(iou.max())
            elif motion in ("grow", "shrink"):
                ratio = area[-1] / area[0] if motion == "grow" else area[0] / area[-1]
                assert ratio >= 4.0, (c.seed, c.caption, area)
                steps = np.diff(area) if motion == "grow" else -np.diff(area)
                assert steps.min() > 0, (c.seed, area)
                assert jitter < 1.0, (c.seed, cx, cy)
                worst.append(ratio)
            elif motion == "bounce":
                ax = c.objects[0]["motion_params"]["axis"]
                along, across = (dx, dy) if ax == "x" else (dy, dx)
                assert np.abs(across).max() < 1.0, (c.seed, across)
                assert along[0] * along[-1] < 0, (c.seed, along)   # reversed
                assert min(abs(along[0]), abs(along[-1])) >= 3.5, (c.seed, along)
                worst.append(min(abs(along[0]), abs(along[-1])))
            else:  # still
                assert jitter < 0.3, (c.seed, cx, cy)
                assert area.max() - area.min() <= 0.1 * area.mean() + 2, area
                worst.append(jitter)
        stats[motion] = (min(worst), max(worst))
    print("  per-class extremes:", {k: tuple(round(float(x), 2) for x in v)
                                    for k, v in stats.items()})


def generation_speed():
    """Clips per second on one core (printed with --speed; not a test: the
    machine is shared, a timed assertion would only measure its load)."""
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.5:
        sw.generate_clip(n, two_object_prob=0.2)
        n += 1
    rate = n / (time.perf_counter() - t0)
    n1, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        sw.generate_clip(n1)
        n1 += 1
    rate1 = n1 / (time.perf_counter() - t0)
    print("speed: %.0f clips/s (8x64x64, 20%% two-object), %.0f clips/s "
          "(one object), one core" % (rate, rate1))


def _ffprobe(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=codec_name,width,height,pix_fmt,nb_read_frames",
         "-of", "json", path], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["streams"][0]


def test_cli_and_mp4():
    if not shutil.which("ffmpeg") or not shutil.which("ffprobe"):
        print("  SKIP: ffmpeg/ffprobe not installed")
        return
    d = tempfile.mkdtemp(prefix="synthworld-test-")
    try:
        script = os.path.join(HERE, "synthworld.py")
        subprocess.run([sys.executable, script, "--seed", "42", "--count", "2",
                        "--out", d, "--format", "all", "--upscale", "4",
                        "--fps", "8"], check=True, capture_output=True)
        for seed in (42, 43):
            base = os.path.join(d, "clip_%d" % seed)
            meta = json.load(open(base + ".json"))
            clip = sw.generate_clip(seed, two_object_prob=0.2)
            assert meta["caption"] == clip.caption and meta["seed"] == seed
            assert meta["motion"] == clip.motion and meta["fps"] == 8
            assert (meta["size"], meta["frames"]) == (64, 8)
            assert [o["shape"] for o in meta["objects"]] == \
                [o["shape"] for o in clip.objects]
            raw = open(base + ".rgb", "rb").read()
            assert raw == clip.frames.tobytes()
            assert open(base + ".png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
            p = _ffprobe(base + ".mp4")
            assert p["codec_name"] == "h264" and p["pix_fmt"] == "yuv420p", p
            assert (p["width"], p["height"]) == (256, 256), p
            assert int(p["nb_read_frames"]) == 8, p
            dec = subprocess.run(["ffmpeg", "-v", "error", "-i", base + ".mp4",
                                  "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                                 check=True, capture_output=True).stdout
            dec = np.frombuffer(dec, np.uint8).reshape(8, 256, 256, 3)
            ref = sw.upscale(clip.frames, 4)
            err = np.abs(dec.astype(np.int16) - ref).mean()
            assert err < 8.0, err
        # odd frame size -> padded to even dimensions
        subprocess.run([sys.executable, script, "--seed", "7", "--size", "33",
                        "--frames", "5", "--out", d, "--format", "mp4"],
                       check=True, capture_output=True)
        p = _ffprobe(os.path.join(d, "clip_7.mp4"))
        assert (p["width"], p["height"]) == (34, 34) and int(p["nb_read_frames"]) == 5, p
        # concatenated demo video with a segment sidecar
        subprocess.run([sys.executable, script, "--seed", "10000000", "--count",
                        "4", "--out", d, "--concat", "--upscale", "2",
                        "--name", "demo"], check=True, capture_output=True)
        meta = json.load(open(os.path.join(d, "demo.json")))
        segs = meta["segments"]
        assert len(segs) == 4 and meta["frames"] == 32 and meta["duration_s"] == 4.0
        for i, s in enumerate(segs):
            assert (s["start_s"], s["end_s"]) == (i * 1.0, i + 1.0)
            assert s["caption"] == sw.generate_clip(s["seed"], two_object_prob=0.2).caption
            if i:
                assert s["motion"] != segs[i - 1]["motion"]
        p = _ffprobe(os.path.join(d, "demo.mp4"))
        assert (p["width"], p["height"]) == (128, 128) and int(p["nb_read_frames"]) == 32, p
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    if "--speed" in sys.argv[1:]:
        generation_speed()
        return 0
    tests = [(k, v) for k, v in globals().items()
             if k.startswith("test_") and callable(v)]
    failed = 0
    t_all = time.perf_counter()
    for name, fn in tests:
        t0 = time.perf_counter()
        try:
            fn()
            print("ok   %s (%.1f s)" % (name, time.perf_counter() - t0))
        except Exception:
            failed += 1
            print("FAIL %s" % name)
            traceback.print_exc()
    print("%d/%d passed in %.1f s" % (len(tests) - failed, len(tests),
                                      time.perf_counter() - t_all))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
