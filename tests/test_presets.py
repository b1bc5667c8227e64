#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""upm-run --preset against the official sampler and crops (tools/reference.py).

Synthetic videos are written losslessly (rawvideo RGB24 in .nut) at 25, 30 and
60 fps, landscape and portrait, odd sizes, one shorter than the k400 window;
images as PNG. For presets k400 (a random model with 8 temporal positions,
made here), msvd-caption and imagenet, `upm-run --preset P -f json
--dump-views DIR` must give the reference's frame indices and crop boxes, its
patches within 1e-5 (bilinear) or its uint8 pixels exactly (bicubic), and for
classification the mean over views of the per-view softmax of the reference
forward pass (float64) within 1e-4. For msvd-retrieval (a model of 80 text
positions), the plain cosines of captions truncated to 77 tokens, not to the
model's 30.

Exit status: 0 pass, 1 fail, 77 skip (no ffmpeg, no upm-run, no Pillow for
the image case is reported and skipped alone). Environment: UPM_SOURCE_ROOT,
UPM_BUILD_ROOT (set by meson).
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch

SOURCE_ROOT = os.environ.get("UPM_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
BUILD_ROOT = os.environ.get("UPM_BUILD_ROOT", os.path.join(SOURCE_ROOT, "build"))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "tools"))

import convert  # noqa: E402
import reference  # noqa: E402
import train  # noqa: E402

LABELS = ["a", "b", "c", "d", "e"]
# models: 8 temporal positions (k400's 8 frames per view), 32 and 56 px crops
# (at 56, floor(61 / 56 * 56) is 60 and floor(122 / 112 * 56) is 60 where
# int(56 * 122 / 112) is 61: the official short-side scale's corner cases)
MODEL = dict(D=32, layers=2, heads=2, ffn=64, patch=8, grid=4, temporal=8, ctx=64)
MODEL56 = dict(MODEL, grid=7)
# 80 text positions: room for msvd-retrieval's 77-token texts
MODEL80 = dict(MODEL, ctx=80)
MERGES = 40
VOCAB = 512 + MERGES + 5

# (preset, fps, width, height, frames, container, crop size)
CASES = [
    ("k400", 30, 64, 48, 300, "nut", 32),     # a full window (8.53 s) and a tail
    ("k400", 25, 45, 61, 90, "nut", 32),      # portrait, shorter than a window: wraps
    ("k400", 60, 40, 32, 540, "nut", 32),     # shorter side = crop size: not resized
    ("k400", 30, 61, 56, 260, "nut", 56),     # ... where floor(61 / 56 * 56) = 60
    ("msvd-caption", 30, 57, 43, 160, "nut", 32),
    ("msvd-caption", 60, 35, 50, 100, "nut", 32),  # portrait, short
    ("msvd-caption", 25, 122, 112, 120, "nut", 56),  # floor, not int(): 60 wide
    ("imagenet", 0, 37, 29, 1, "png", 32),
    ("imagenet", 0, 29, 41, 1, "png", 32),
    ("imagenet", 0, 57, 45, 1, "png", 56),
]

failures = []


def check(cond, what):
    print("%s - %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        failures.append(what)


def make_model(tmp, shape, name):
    sd = reference.random_state_dict(vocab=VOCAB, seed=11, **shape)
    ckpt = os.path.join(tmp, name + ".pth")
    torch.save({"model": sd}, ckpt)
    loaded, _ = convert.load_checkpoint(ckpt)
    path = os.path.join(tmp, name + ".upm")
    convert.convert_state_dict(loaded, path, heads=MODEL["heads"], bpe=convert.DEFAULT_BPE,
                               bpe_merges=MERGES, merge_video_type=False, clip_frames=8,
                               name=name, log=lambda *a, **k: None)
    return path


def synth_frames(n, w, h, seed):
    """Noise: every frame differs, so a wrong index or crop shows."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for _ in range(n)]


def write_video(path, frames, fps):
    h, w = frames[0].shape[:2]
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", "%dx%d" % (w, h), "-r", str(fps), "-i", "-",
           "-c:v", "rawvideo", "-pix_fmt", "rgb24", path]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)


def write_png(path, frame):
    from PIL import Image
    Image.fromarray(frame, "RGB").save(path)


def run_preset(model, preset, path, dump, captions=None):
    cmd = [os.path.join(BUILD_ROOT, "tools", "upm-run"), "--model", model, "--preset", preset,
           "-f", "json", "--progress", "never", "--dump-views", dump, "--top-k", "5",
           "--labels", ",".join(LABELS), path]
    if captions:
        cmd[cmd.index("--labels"):cmd.index("--labels") + 2] = ["--captions-file", captions]
    if preset.endswith("caption"):
        cmd[cmd.index("--labels"):cmd.index("--labels") + 2] = []
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
    return [json.loads(line) for line in p.stdout.splitlines()], p.stderr


class RefModel:
    def __init__(self, path):
        sd, kv = train.upm_to_official(path)
        self.ref = reference.Reference(sd, heads=int(kv["uniperceiver.attention.head_count"]))
        tokens = kv["tokenizer.ggml.tokens"]
        self.index = {t: i for i, t in enumerate(tokens)}
        self.eot = int(kv["tokenizer.upm.eot_id"])
        self.labels = self.ref.text_features([self.ids([w]) for w in LABELS], "cls_target")

    def ids(self, words, max_len=0):
        """The target ids of the text of one-token @words, truncated as the
        official tokenizer does: the first max_len - 1 tokens and the end."""
        ids = [self.index[w + "</w>"] for w in words] + [self.eot]
        if max_len and len(ids) > max_len:
            ids = ids[:max_len - 1] + [self.eot]
        return ids

    def mean_probs(self, views, n_frames, scale_name):
        scale = self.ref.logit_scale(scale_name)
        probs = []
        for v in views:
            f, _ = self.ref.visual_feature(v["patches"].double(), n_frames, "cls_input")
            probs.append(torch.softmax(scale * (self.labels @ f), -1))
        return torch.stack(probs).mean(0)


def compare(case, models, tmp):
    preset, fps, w, h, n, container, size = case
    model, ref_model = models[size]
    name = "%s-%dfps-%dx%d-crop%d" % (preset, fps, w, h, size)
    frames = synth_frames(n, w, h, seed=zlib.crc32(name.encode()))
    path = os.path.join(tmp, name + "." + container)
    if container == "png":
        try:
            write_png(path, frames[0])
        except ImportError:
            print("skip - %s: no Pillow" % name)
            return
    else:
        write_video(path, frames, fps)
    dump = os.path.join(tmp, name + "-views")
    records, stderr = run_preset(model, preset, path, dump)
    rec = records[0]
    p = reference.OFFICIAL_PRESETS[preset]
    expect = reference.official_views(frames, fps, preset, size, MODEL["patch"])
    # classification and captions have no score kind (retrievals do)
    check("score_kind" not in rec, "%s: no score_kind" % name)
    check(rec.get("preset") == preset and len(rec["views"]) == len(expect),
          "%s: %d views recorded" % (name, len(expect)))
    last = p["stride"] and (p["frames"] * p["views"] - 1) * p["stride"] / 30.0
    if p["stride"]:
        # the official index of the last sample before the modulo
        wraps = int((p["frames"] * p["views"] - 1) * p["stride"] * fps / 30) >= n
        check(wraps == ("wrap around" in stderr), "%s: warned of wrapping: %s" % (name, wraps))
        if wraps:
            check("lasts %.3f s" % (n / fps) in stderr and "up to %.3f s" % last in stderr,
                  "%s: the warning names both durations (%s)" % (name, stderr.strip()[-90:]))
    for v, (got, exp) in enumerate(zip(rec["views"], expect)):
        check(got["frames"] == exp["indices"],
              "%s view %d: frames %s == %s" % (name, v, got["frames"], exp["indices"]))
        rs = got["resized"]
        box, resized = (rs["x"], rs["y"], rs["size"]), (rs["width"], rs["height"])
        check(resized == exp["resized"] and box == exp["box"],
              "%s view %d: crop %s in %s == %s in %s" % (name, v, box, resized,
                                                         exp["box"], exp["resized"]))
        sx, sy = w / resized[0], h / resized[1]
        check(all(abs(a - b) <= 1e-3 for a, b in zip(
            (got["box"]["x"], got["box"]["y"], got["box"]["width"], got["box"]["height"]),
            (box[0] * sx, box[1] * sy, box[2] * sx, box[2] * sy))),
            "%s view %d: the crop in source pixels %s" % (name, v, got["box"]))
        if fps:
            check(all(abs(a - i / fps) <= 1e-9 for a, i in zip(got["pts_seconds"], exp["indices"]))
                  and got["pts"] == [round(i / fps * 1e9) for i in exp["indices"]],
                  "%s view %d: pts of the frames" % (name, v))
        raw = np.fromfile(os.path.join(dump, "clip0000-view%02d.f32" % v), dtype=np.float32)
        patches = torch.from_numpy(raw.reshape(exp["patches"].shape))
        if exp["uint8"] is None:
            diff = (patches - exp["patches"]).abs().max().item()
            check(diff <= 1e-5, "%s view %d: patches within 1e-5 (max %.2g)" % (name, v, diff))
        else:
            mean = torch.tensor(reference.IMAGENET_MEAN).repeat_interleave(
                MODEL["patch"] ** 2)
            std = torch.tensor(reference.IMAGENET_STD).repeat_interleave(MODEL["patch"] ** 2)
            u8 = torch.round((patches * std + mean) * 255.0).to(torch.uint8)
            exp_u8 = torch.round((exp["patches"] * std + mean) * 255.0).to(torch.uint8)
            check(torch.equal(u8, exp_u8), "%s: uint8 pixels equal Pillow's" % name)
            diff = (patches - exp["patches"]).abs().max().item()
            check(diff <= 1e-5, "%s: patches within 1e-5 (max %.2g)" % (name, diff))
    if preset.endswith("caption"):
        check("caption" in rec, "%s: a caption" % name)
        return
    # the C's patches and the reference's agree (above); score the reference's
    scale = "img_cls" if p["stride"] is None else "video_cls"
    probs = ref_model.mean_probs(expect, p["frames"], scale)
    got = {e["index"]: e["prob"] for e in rec["labels"]}
    diff = max(abs(got[i] - probs[i].item()) for i in range(len(LABELS)))
    check(diff <= 1e-4, "%s: mean of %d views' softmax within 1e-4 (max %.2g)"
          % (name, len(expect), diff))
    best = int(torch.argmax(probs))
    check(rec["labels"][0]["index"] == best, "%s: top-1 is the reference's" % name)


def check_retrieval(model, ref_model, tmp):
    """msvd-retrieval reads texts of up to 77 tokens (the model's own
    truncation is 30): the plain cosine of the view's feature and of each
    caption truncated to 77 tokens, as the reference computes them."""
    name = "msvd-retrieval-30fps-57x43"
    frames = synth_frames(160, 57, 43, seed=zlib.crc32(name.encode()))
    path = os.path.join(tmp, name + ".nut")
    write_video(path, frames, 30)
    words = [LABELS[i % len(LABELS)] for i in range(120)]
    texts = [words[:60], words[:100], words[:2]]   # 61, 101 and 3 tokens
    captions = os.path.join(tmp, name + ".txt")
    with open(captions, "w") as f:
        f.write("".join(" ".join(t) + "\n" for t in texts))
    records, _ = run_preset(model, "msvd-retrieval", path, os.path.join(tmp, name + "-views"),
                            captions)
    rec = records[0]
    check(rec.get("preset") == "msvd-retrieval" and rec.get("score_kind") == "cosine",
          "%s: preset and score_kind cosine" % name)
    expect = reference.official_views(frames, 30, "msvd-retrieval", 32, MODEL["patch"])
    f, _ = ref_model.ref.visual_feature(expect[0]["patches"].double(), 4, "retrieval_input")
    got = {e["index"]: e["score"] for e in rec["results"]}
    for max_len in (77, 30):
        feats = ref_model.ref.text_features([ref_model.ids(t, max_len) for t in texts],
                                            "retrieval_target")
        cos = (feats @ f).tolist()
        diff = max(abs(got[i] - cos[i]) for i in range(len(texts)))
        if max_len == 77:
            check(diff <= 1e-4, "%s: cosines of the 77-token texts within 1e-4 (max %.2g)"
                  % (name, diff))
        else:
            # the test tells the two apart
            check(diff > 1e-3, "%s: not those of 30-token texts (%.2g apart)" % (name, diff))


def main():
    run = os.path.join(BUILD_ROOT, "tools", "upm-run")
    if shutil.which("ffmpeg") is None or not os.access(run, os.X_OK):
        print("skip: no ffmpeg or no upm-run")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for shape, name in ((MODEL, "presets32"), (MODEL56, "presets56")):
            path = make_model(tmp, shape, name)
            models[shape["grid"] * shape["patch"]] = (path, RefModel(path))
        model = models[32][0]
        inspect = subprocess.run([os.path.join(BUILD_ROOT, "tools", "upm-inspect"), model],
                                 capture_output=True, text=True).stdout
        check(any(line.split()[:2] == ["k400", "yes"] for line in inspect.splitlines()),
              "upm-inspect: the 8-position model suits k400")
        for case in CASES:
            compare(case, models, tmp)
        path80 = make_model(tmp, MODEL80, "presets80")
        check_retrieval(path80, RefModel(path80), tmp)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
