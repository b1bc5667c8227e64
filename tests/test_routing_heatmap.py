#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tools/upm-routing-heatmap.py on a real upm-run of the fixture model and on
upmbin-style JSON with per-token routes.

Checks the number and size of the PNGs, and that every cell has the colour
of its value: the chosen experts' gate weights, 0 for the others, grey for
rows without a route, and the token shares of per-token routes.

Exit status: 0 pass, 1 fail, 77 skip (no upm-run, numpy or Pillow).
Environment: UPM_SOURCE_ROOT, UPM_BUILD_ROOT, UPM_FIXTURES (meson).
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.environ.get("UPM_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("UPM_BUILD_ROOT") or os.path.join(ROOT, "build")
FIXTURES = os.environ.get("UPM_FIXTURES") or os.path.join(ROOT, "tests",
                                                          "fixtures")
TOOL = os.path.join(ROOT, "tools", "upm-routing-heatmap.py")
UPM_RUN = os.path.join(BUILD, "tools", "upm-run")

try:
    import numpy as np
    from PIL import Image
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(77)

spec = importlib.util.spec_from_file_location("heatmap", TOOL)
hm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hm)

failures = 0


def check(ok, what):
    global failures
    print("%s - %s" % ("ok" if ok else "FAIL", what))
    if not ok:
        failures += 1


def run_tool(args, stdin=None):
    return subprocess.run([sys.executable, TOOL] + args, input=stdin,
                          capture_output=True, text=True)


def cell_rgb(img, lay, panel, row, expert):
    """The colour of a cell, sampled at its top-left pixel (no text)."""
    px, py = lay["origins"][panel]
    c = lay["cell"]
    return img.getpixel((px + expert * c + 1, py + row * c + 1))


def test_upm_run(tmp):
    if not os.access(UPM_RUN, os.X_OK):
        print("SKIP: %s not built" % UPM_RUN)
        sys.exit(77)
    rng = np.random.default_rng(7)
    frames = (rng.random((8, 48, 48, 3)) * 255).astype(np.uint8)
    raw = os.path.join(tmp, "in.rgb")
    frames.tofile(raw)
    out = subprocess.run(
        [UPM_RUN, "-m", os.path.join(FIXTURES, "tiny-moe.upm"),
         "--raw=48x48", "--fps", "8", "--frame-stride", "1",
         "--task", "caption", "--max-length", "6", "--routing",
         "--output-format", "json", "--progress", "never", raw],
        capture_output=True, text=True, env=dict(os.environ,
                                                 OPENBLAS_NUM_THREADS="1"))
    check(out.returncode == 0, "upm-run on the fixture: %s" % out.stderr[-300:])
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    check(len(lines) == 2, "two clips of 4 frames")

    res = run_tool(["-o", os.path.join(tmp, "png"), "--prefix", "clip"],
                   stdin=out.stdout)
    check(res.returncode == 0, "the tool runs: %s" % res.stderr)
    paths = res.stdout.split()
    check(paths == [os.path.join(tmp, "png", "clip-%04d.png" % i)
                    for i in range(2)], "one PNG per clip: %s" % paths)

    for i, (path, clip_json) in enumerate(zip(paths, lines)):
        img = Image.open(path).convert("RGB")
        # 4 rows (MoE layers 0 and 2 x attn, ffn), 2 panels (caption_prefix,
        # caption_text) of 8 experts x 24 px: width = margin 8 + labels
        # ("L0 attn": 7 x 6 + 6 = 48) + 192 + gap 14 + 192 + margin 8;
        # height = 8 + title 14 + panel title 12 + expert numbers 11 +
        # 4 x 24 + legend 22 + 8
        check(img.size == (462, 171), "clip %d: size %s" % (i, img.size))
        clip = hm.parse([clip_json])[0]
        lay = hm.layout(clip, 8, 24)
        check(clip.segments == ["caption_prefix", "caption_text"],
              "segments %s" % clip.segments)
        check(lay["rows"] == [(0, "attn"), (0, "ffn"), (2, "attn"),
                              (2, "ffn")], "rows %s" % lay["rows"])
        bad = []
        seen = set()
        for r in clip_json["routing"]:
            panel = clip.segments.index(r["attr"])
            row = lay["rows"].index((r["layer"], r["gate"]))
            want = [0.0] * 8
            for e, w in zip(r["experts"], r["weights"]):
                want[e] += w
            for e in range(8):
                got = cell_rgb(img, lay, panel, row, e)
                seen.add(got)
                if got != hm.colour(want[e]):
                    bad.append((r["attr"], row, e, got, want[e]))
            # the cells differ where the routing does
            e0, e1 = r["experts"]
            other = next(e for e in range(8) if e not in (e0, e1))
            if cell_rgb(img, lay, panel, row, e0) == cell_rgb(
                    img, lay, panel, row, other):
                bad.append(("chosen == unchosen", row, e0))
        check(not bad, "clip %d: every cell has its value's colour %s"
              % (i, bad[:3]))
        check(len(seen) >= 4, "clip %d: %d distinct cell colours"
              % (i, len(seen)))


def test_upmbin_json(tmp):
    # two buffers of upmbin text-format=json, concatenated as filesink
    # writes them: static routes, per-token routes
    a = {"pts_seconds": 0.0, "duration_seconds": 0.5, "caption": {"text": "x"},
         "routing": {"experts": 8, "routes": [
             {"layer": 0, "gate": "attn", "segment": "caption_prefix",
              "token_begin": 0, "token_end": 65, "experts": [3, 4],
              "weights": [0.75, 0.25]}],
             "token_routes": [
             {"layer": 0, "gate": "attn", "segment": "caption_text",
              "token_begin": 65, "n_tokens": 4,
              "experts": [1, 2, 1, 3, 1, 2, 5, 1]},
             {"layer": 2, "gate": "ffn", "segment": "caption_text",
              "token_begin": 65, "n_tokens": 2, "experts": [7, 6, 7, 6]}]}}
    b = {"pts_seconds": 0.5, "routing": {"experts": 8, "routes": []}}
    text = json.dumps(a) + json.dumps(b) + "\nnot json\n"
    res = run_tool(["-o", tmp, "--prefix", "bin", "--cell", "12"], stdin=text)
    check(res.returncode == 0, "upmbin JSON: %s" % res.stderr)
    paths = res.stdout.split()
    check(paths == [os.path.join(tmp, "bin-0000.png")],
          "a buffer without routes makes no PNG: %s" % paths)
    img = Image.open(paths[0]).convert("RGB")
    clip = hm.parse([a])[0]
    lay = hm.layout(clip, 8, 12)
    check(img.size == (lay["width"], lay["height"]), "size %s" % (img.size,))
    want = {  # (panel, row, expert): value; rows (0, attn), (2, ffn)
        (0, 0, 3): 0.75, (0, 0, 4): 0.25, (0, 0, 0): 0.0,
        (1, 0, 1): 0.5, (1, 0, 2): 0.25, (1, 0, 3): 0.125, (1, 0, 5): 0.125,
        (1, 0, 0): 0.0, (1, 1, 7): 0.5, (1, 1, 6): 0.5, (1, 1, 0): 0.0,
        (0, 1, 7): None,  # caption_prefix has no route at layer 2 ffn
    }
    bad = [(k, cell_rgb(img, lay, *k), v) for k, v in want.items()
           if cell_rgb(img, lay, *k) != hm.colour(v)]
    check(not bad, "token shares and grey rows: %s" % bad)
    check(hm.colour(0.0) == (255, 255, 255) and hm.colour(1.0) == (8, 48, 107)
          and hm.colour(None) != hm.colour(0.0), "the colour map's ends")


def test_errors(tmp):
    res = run_tool(["-o", tmp], stdin="{\"start\": 0}\n")
    check(res.returncode == 1 and "no routing" in res.stderr,
          "input without routing: exit 1")
    res = run_tool(["--cell", "2"], stdin="")
    check(res.returncode == 2, "--cell 2 refused")
    res = run_tool(["-o", tmp], stdin="{\"routing\": [{\"layer\": 0}]}")
    check(res.returncode == 1 and "bad routing JSON" in res.stderr,
          "a route without fields: exit 1")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_upm_run(tmp)
        test_upmbin_json(tmp)
        test_errors(tmp)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
