#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Evaluate a .upm model on held-out synthworld clips, through the C engine.

One command generates the held-out clips (seeds from synthworld's
HELDOUT_SEED_BASE, never used in training) at the model's own image size
and clip length, runs every task through ``build/tools/upm-eval`` (the C
library: one loaded model, one context), and computes the metrics here:

  motion       top-1 accuracy over the 9 motion class names (cls_target
               labels, cls_input video feature, video_cls logit scale)
  caption      corpus BLEU-4 (Papineni et al. 2002: clipped n-gram
               precisions n = 1..4, uniform weights, geometric mean,
               brevity penalty; one reference per clip; tokens are the
               lower-case whitespace-separated words) and exact match
               (the same token sequence); plus per-field accuracy of the
               parsed caption (size, colour, shape, motion)
  retrieval    text->video R@1 among the clips of each group of
               --group-size (100): each clip's ground-truth caption
               (retrieval_target) ranks the group's videos
               (retrieval_input) by cosine similarity; a hit when the
               clip's own video is strictly first (ties count against it);
               averaged over all clips.  Also R@5, video->text R@1 and
               "R@1 any", where the top video counts when its own caption
               is identical to the query (groups of 100 usually hold a few
               clips with identical captions)
  open vocab   labels typed at run time that were never class names in
               training (the class names are the 9 motion names and the
               5 bare shape words) nor training texts:
               colour_shape: the 40 labels "a <colour> <shape>" (all
               8 colours x 5 shapes of the world), top-1 accuracy against
               the clip's object; only single-object clips count.  This
               is the headline open-vocabulary number.  Secondary sets:
               colour (the 8 colour words), shape (the 5 shape words: a
               trained label set for models trained with shape classes,
               zero-shot for older ones) and size ("small", "large").

Usage:
  evaluate.py --model models/uniperceiver-synth-moe.upm --clips 500 \\
      [--seed-base 10000000] [--json out.json] [--markdown [FILE]]

The exact command line, the engine's command line, the model's weights
hash and the git commit are recorded in the JSON/markdown output.
Library use: ``evaluate(model, clips=...)`` returns the same dict as
``--json`` writes; ``bleu(candidates, references)`` is the BLEU used.
"""

import argparse
import collections
import json
import math
import mmap
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import synthworld as sw  # noqa: E402
import upmgguf  # noqa: E402

DEFAULT_MODEL = os.path.join(ROOT, "models", "uniperceiver-synth-moe.upm")

#: Product targets (the thresholds the bundled model has to beat).
TARGETS = {
    "motion_top1": 0.90,
    "caption_bleu4": 0.50,
    "retrieval_t2v_r1": 0.80,
    "open_vocab_top1": 0.80,
}

#: Attribute rows each task uses (for the routing summary).
TASK_ATTRS = [
    ("classification (motion, open vocab)", ["cls_input", "cls_target"]),
    ("retrieval", ["retrieval_input", "retrieval_target"]),
    ("captioning", ["caption_prefix", "caption_text", "vocab_target"]),
]


# ---------------------------------------------------------------- labels

def label_sets():
    """(name, labels, truth(obj) -> label) of every label set.

    The truth function maps the first object of a clip to its label;
    motion is scored on every clip, the open-vocabulary sets only on
    single-object clips."""
    motion = sw.class_names()
    sets = [
        ("motion", motion, None),
        ("colour_shape",
         ["a %s %s" % (c, s) for c in sw.COLOURS for s in sw.SHAPES],
         lambda o: "a %s %s" % (o["colour"], o["shape"])),
        ("colour", list(sw.COLOURS), lambda o: o["colour"]),
        ("shape", list(sw.SHAPES), lambda o: o["shape"]),
        ("size", list(sw.SIZES), lambda o: o["size"]),
    ]
    for name, labels, _ in sets[1:]:
        # never a motion class name (the shape words are trained class names
        # of models trained with shape classes; the colour words never are)
        assert not set(labels) & set(motion), name
    return sets


OPEN_VOCAB_PRIMARY = "colour_shape"


# ------------------------------------------------------------------ BLEU

def tokenize(text):
    return text.lower().split()


def _ngrams(tokens, n):
    return collections.Counter(tuple(tokens[i:i + n])
                               for i in range(len(tokens) - n + 1))


def bleu(candidates, references, max_n=4):
    """Corpus BLEU (Papineni et al. 2002) with one reference per candidate.

    p_n = sum over the corpus of clipped n-gram matches / sum of candidate
    n-grams; BLEU = BP * exp(mean_n log p_n) with uniform weights, 0 when
    any p_n is 0; BP = 1 if c > r else exp(1 - r / c), c and r the total
    candidate and reference lengths.  Returns a dict: bleu, precisions,
    bp, ratio (c / r), hyp_len, ref_len."""
    if len(candidates) != len(references):
        raise ValueError("%d candidates for %d references"
                         % (len(candidates), len(references)))
    match = [0] * max_n
    total = [0] * max_n
    c = r = 0
    for cand, ref in zip(candidates, references):
        ct, rt = tokenize(cand), tokenize(ref)
        c += len(ct)
        r += len(rt)
        for n in range(1, max_n + 1):
            cn, rn = _ngrams(ct, n), _ngrams(rt, n)
            match[n - 1] += sum(min(k, rn[g]) for g, k in cn.items())
            total[n - 1] += max(len(ct) - n + 1, 0)
    prec = [m / t if t else 0.0 for m, t in zip(match, total)]
    if c == 0:
        bp = 0.0
    else:
        bp = 1.0 if c > r else math.exp(1.0 - r / c)
    if min(prec) <= 0.0:
        score = 0.0
    else:
        score = bp * math.exp(sum(math.log(p) for p in prec) / max_n)
    return {"bleu": score, "precisions": prec, "bp": bp,
            "ratio": c / r if r else 0.0, "hyp_len": c, "ref_len": r}


# ----------------------------------------------------------------- model

def read_model_kv(path):
    """The key/values of a GGUF file (tensors are not read)."""
    with open(path, "rb") as f, \
            mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        mv = memoryview(mm)
        cur = upmgguf._Cursor(mv, path)
        try:
            if cur.unpack("<I") != upmgguf.GGUF_MAGIC:
                raise upmgguf.GGUFError("%s: not a GGUF file" % path)
            if cur.unpack("<I") != upmgguf.GGUF_VERSION:
                raise upmgguf.GGUFError("%s: not GGUF version 3" % path)
            cur.unpack("<Q")
            n_kv = cur.unpack("<Q")
            kv = {}
            for _ in range(n_kv):
                key = cur.string()
                kv[key] = upmgguf._read_value(cur, cur.unpack("<I"))
        finally:
            del cur
            mv.release()
    return kv


def clip_geometry(kv):
    """(frame size, frames per clip, notes) for the model's inputs."""
    notes = []
    size = int(kv.get("uniperceiver.vision.image_size", 64))
    frames = int(kv.get("uniperceiver.vision.clip_frames", 0)
                 or min(4, int(kv.get("uniperceiver.vision.temporal_positions",
                                      4))))
    gen_size = min(max(size, sw.MIN_SIZE), sw.MAX_SIZE)
    if gen_size != size:
        notes.append("clips generated at %d px (synthworld's range is %d-%d);"
                     " the engine resizes them to %d"
                     % (gen_size, sw.MIN_SIZE, sw.MAX_SIZE, size))
    gen_frames = min(max(frames, sw.MIN_FRAMES), sw.MAX_FRAMES)
    if gen_frames != frames:
        notes.append("clips of %d frames (model default %d)"
                     % (gen_frames, frames))
    return gen_size, gen_frames, notes


# ------------------------------------------------------------ generation

def write_heldout(workdir, n, seed_base, size, frames, two_object_prob,
                  group_size, caption=True, log=None):
    """Generate the clips, write clips.rgb and manifest.json, and return
    (manifest path, per-clip ground truth list, label sets)."""
    sets = label_sets()
    truth = []
    rgb_path = os.path.join(workdir, "clips.rgb")
    clips = []
    offset = 0
    with open(rgb_path, "wb") as f:
        for i in range(n):
            seed = seed_base + i
            c = sw.generate_clip(seed, size, frames, two_object_prob)
            data = c.frames.tobytes()
            f.write(data)
            t, h, w, _ = c.frames.shape
            clips.append({"id": str(seed), "width": int(w), "height": int(h),
                          "frames": int(t), "offset": offset})
            offset += len(data)
            objs = [{k: o[k] for k in ("size", "colour", "shape", "motion")}
                    for o in c.objects]
            truth.append({"seed": seed, "caption": c.caption,
                          "motion_id": c.motion_id, "objects": objs})
            if log and (i + 1) % 100 == 0:
                log("generated %d/%d clips" % (i + 1, n))
    manifest = {
        "frames_file": "clips.rgb",
        "clips": clips,
        "labelsets": [{"name": name, "labels": labels}
                      for name, labels, _ in sets],
        "retrieval": {"group_size": group_size,
                      "captions": [t["caption"] for t in truth]},
        "caption": bool(caption),
    }
    path = os.path.join(workdir, "manifest.json")
    with open(path, "w") as f:
        json.dump(manifest, f)
    return path, truth, sets


def default_engine():
    build = os.environ.get("UPM_BUILD_ROOT") or os.path.join(ROOT, "build")
    return os.path.join(build, "tools", "upm-eval")


def run_engine(engine, model, manifest, out_path, threads=0, progress="auto",
               extra=()):
    cmd = [engine, "--model", model, "--manifest", manifest, "--output",
           out_path, "--progress", progress]
    if threads:
        cmd += ["--threads", str(threads)]
    cmd += list(extra)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError("upm-eval failed (exit %d): %s"
                           % (proc.returncode, shlex.join(cmd)))
    lines = collections.defaultdict(list)
    with open(out_path) as f:
        for line in f:
            rec = json.loads(line)
            lines[rec["type"]].append(rec)
    return cmd, wall, lines


# --------------------------------------------------------------- metrics

def _argmax(v):
    return max(range(len(v)), key=lambda i: (v[i] if v[i] is not None
                                             else -math.inf))


def compute_metrics(lines, truth, sets, group_size):
    clips = sorted(lines["clip"], key=lambda r: r["index"])
    if len(clips) != len(truth):
        raise RuntimeError("upm-eval returned %d clips for %d"
                           % (len(clips), len(truth)))
    m = {}
    per_clip = []
    set_labels = {name: labels for name, labels, _ in sets}
    # motion
    names = set_labels["motion"]
    conf = [[0] * len(names) for _ in names]
    for r, t in zip(clips, truth):
        pred = r["labelsets"]["motion"]["top"][0]
        conf[t["motion_id"]][pred] += 1
    hits = sum(conf[i][i] for i in range(len(names)))
    m["motion_top1"] = hits / len(clips)
    m["motion_per_class"] = {
        names[i]: (conf[i][i] / sum(conf[i]) if sum(conf[i]) else None)
        for i in range(len(names))}
    m["motion_confusion"] = conf
    # open vocabulary (single-object clips)
    single = [i for i, t in enumerate(truth) if len(t["objects"]) == 1]
    m["open_vocab_clips"] = len(single)
    for name, labels, fn in sets:
        if fn is None:
            continue
        ok = 0
        for i in single:
            pred = clips[i]["labelsets"][name]["top"][0]
            ok += labels[pred] == fn(truth[i]["objects"][0])
        m["open_vocab_%s_top1" % name] = ok / len(single) if single else None
    m["open_vocab_top1"] = m["open_vocab_%s_top1" % OPEN_VOCAB_PRIMARY]
    # captions
    if all("caption" in r for r in clips):
        cands = [r["caption"]["text"] for r in clips]
        refs = [t["caption"] for t in truth]
        b = bleu(cands, refs)
        m["caption_bleu4"] = b["bleu"]
        m["caption_bleu"] = b
        m["caption_exact"] = sum(tokenize(a) == tokenize(b_)
                                 for a, b_ in zip(cands, refs)) / len(clips)
        fields = collections.Counter()
        parsed = 0
        for a, t in zip(cands, truth):
            try:
                objs = sw.parse_caption(" ".join(tokenize(a)))
            except ValueError:
                continue
            parsed += 1
            for k in ("size", "colour", "shape", "motion"):
                fields[k] += objs[0][k] == t["objects"][0][k]
        m["caption_parsed"] = parsed / len(clips)
        m["caption_field_accuracy"] = {
            k: fields[k] / len(clips) for k in ("size", "colour", "shape",
                                                "motion")}
    # retrieval
    groups = sorted(lines["retrieval"], key=lambda r: r["begin"])
    if groups:
        r1 = r5 = v1 = any1 = n = 0
        dup = 0
        sizes = collections.Counter()
        for g in groups:
            b, k = g["begin"], g["size"]
            sizes[k] += 1
            caps = [truth[b + i]["caption"] for i in range(k)]
            dup += k - len(set(caps))
            for i in range(k):
                r1 += g["t2v_rank"][i] == 0
                r5 += g["t2v_rank"][i] < 5
                v1 += g["v2t_rank"][i] == 0
                any1 += caps[_argmax(g["sims"][i])] == caps[i]
            n += k
        m["retrieval_t2v_r1"] = r1 / n
        m["retrieval_t2v_r5"] = r5 / n
        m["retrieval_v2t_r1"] = v1 / n
        m["retrieval_t2v_r1_any"] = any1 / n
        m["retrieval_groups"] = {str(k): v for k, v in sorted(sizes.items())}
        m["retrieval_duplicate_captions"] = dup
    # per clip
    for i, (r, t) in enumerate(zip(clips, truth)):
        ls = r["labelsets"]
        pc = {"seed": t["seed"], "caption": t["caption"],
              "motion": names[t["motion_id"]],
              "motion_pred": names[ls["motion"]["top"][0]],
              "colour_shape_pred":
                  set_labels["colour_shape"][ls["colour_shape"]["top"][0]]}
        if "caption" in r:
            pc["caption_pred"] = r["caption"]["text"]
            pc["caption_score"] = r["caption"]["score"]
        per_clip.append(pc)
    return m, per_clip


def routing_summary(model_line):
    """{"layer L gate": {attr: "e3+e5 (0.62/0.38)"}} of the MoE layers."""
    out = collections.OrderedDict()
    for rt in model_line.get("routing", []):
        key = "layer %d %s" % (rt["layer"], rt["gate"])
        out.setdefault(key, collections.OrderedDict())[rt["attr"]] = {
            "experts": rt["experts"], "weights": rt["weights"]}
    return out


# ------------------------------------------------------------ evaluation

def _git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def evaluate(model, clips=500, seed_base=sw.HELDOUT_SEED_BASE,
             group_size=100, two_object_prob=0.0, engine=None, threads=0,
             workdir=None, caption=True, beam_size=0, max_length=0,
             progress="auto", allow_train_seeds=False, log=None):
    """Run the whole evaluation; returns the result dict (see --json)."""
    if log is None:
        def log(msg):
            print("evaluate: " + msg, file=sys.stderr, flush=True)
    engine = engine or default_engine()
    if clips < 1:
        raise ValueError("--clips must be positive")
    if seed_base < sw.HELDOUT_SEED_BASE and not allow_train_seeds:
        raise ValueError("seed base %d is below HELDOUT_SEED_BASE (%d): "
                         "those are training seeds" %
                         (seed_base, sw.HELDOUT_SEED_BASE))
    group_size = min(group_size, clips)
    if clips % group_size:
        raise ValueError("--clips (%d) must be a multiple of --group-size "
                         "(%d)" % (clips, group_size))
    if not os.path.exists(engine):
        raise FileNotFoundError("%s not found (build with ninja -C build)"
                                % engine)
    kv = read_model_kv(model)
    size, frames, notes = clip_geometry(kv)
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="upm-eval-") as tmp:
        wd = workdir or tmp
        os.makedirs(wd, exist_ok=True)
        log("generating %d held-out clips (seeds %d..%d, %d px, %d frames)"
            % (clips, seed_base, seed_base + clips - 1, size, frames))
        t0 = time.monotonic()
        manifest, truth, sets = write_heldout(
            wd, clips, seed_base, size, frames, two_object_prob, group_size,
            caption, log)
        gen_s = time.monotonic() - t0
        extra = []
        if beam_size:
            extra += ["--beam-size", str(beam_size)]
        if max_length:
            extra += ["--max-length", str(max_length)]
        log("running %s" % engine)
        cmd, engine_s, lines = run_engine(
            engine, model, manifest, os.path.join(wd, "results.jsonl"),
            threads, progress, extra)
    model_line = lines["model"][0]
    setup = lines["setup"][0]
    summary = lines["summary"][0]
    metrics, per_clip = compute_metrics(lines, truth, sets, group_size)
    checks = {k: (metrics.get(k) is not None and metrics[k] >= v)
              for k, v in TARGETS.items()}
    return {
        "command": shlex.join([sys.executable] + sys.argv)
        if os.path.basename(sys.argv[0]) == "evaluate.py" else None,
        "engine_command": shlex.join(cmd),
        "cwd": os.getcwd(),
        "git_commit": _git_commit(),
        "model": {"path": model, "name": kv.get("general.name"),
                  "weights_sha256": kv.get("uniperceiver.weights_sha256"),
                  "hparams": model_line["hparams"],
                  "precision": model_line.get("precision"),
                  "logit_scales": model_line["logit_scales"],
                  "moe_layers": model_line["moe_layers"]},
        "data": {"clips": clips, "seed_base": seed_base,
                 "seed_last": seed_base + clips - 1, "size": size,
                 "frames": frames, "two_object_prob": two_object_prob,
                 "group_size": group_size, "notes": notes,
                 "label_sets": {name: labels for name, labels, _ in sets}},
        "definitions": {
            "motion_top1": "top-1 over the 9 motion class names",
            "caption_bleu4": "corpus BLEU-4, Papineni, uniform weights, "
                             "brevity penalty, one reference per clip, "
                             "lower-case whitespace tokens",
            "caption_exact": "predicted token sequence == reference",
            "retrieval_t2v_r1": "caption -> its own video ranked first among "
                                "the %d videos of its group (ties count "
                                "against), mean over clips" % group_size,
            "retrieval_t2v_r1_any": "as R@1, but a top video whose caption is "
                                    "identical to the query also counts",
            "open_vocab_top1": "top-1 among the 40 labels 'a <colour> "
                               "<shape>' (8 colours x 5 shapes), "
                               "single-object clips",
            "open_vocab_colour_top1": "top-1 among the 8 colour words",
            "open_vocab_shape_top1": "top-1 among the 5 shape words (class "
                                     "names of models trained with shape "
                                     "classes, so not zero-shot there)",
            "open_vocab_size_top1": "top-1 among 'small', 'large'",
        },
        "metrics": metrics,
        "targets": TARGETS,
        "target_met": checks,
        "timing": {
            "generate_s": gen_s,
            "engine_process_s": engine_s,
            "engine_loop_s": summary["wall_ms"] / 1000.0,
            "clips_per_s": summary["clips_per_s"],
            "ms_per_clip": summary["ms_per_clip"],
            "setup_ms": setup["ms"],
            "visual_feature_shared": summary["visual_feature_shared"],
            "total_s": time.monotonic() - t_start,
        },
        "routing": routing_summary(model_line),
        "per_clip": per_clip,
    }


# ------------------------------------------------------------- reporting

ROWS = [
    ("motion_top1", "motion top-1 (9 classes)"),
    ("caption_bleu4", "caption BLEU-4"),
    ("caption_exact", "caption exact match"),
    ("retrieval_t2v_r1", "text->video R@1 (strict)"),
    ("retrieval_t2v_r1_any", "text->video R@1 (identical caption ok)"),
    ("retrieval_t2v_r5", "text->video R@5"),
    ("retrieval_v2t_r1", "video->text R@1"),
    ("open_vocab_top1", "open vocab 'a <colour> <shape>' (40)"),
    ("open_vocab_colour_top1", "open vocab colour (8)"),
    ("open_vocab_shape_top1", "shape words (5)"),
    ("open_vocab_size_top1", "open vocab size (2)"),
]


def _fmt(v):
    return "-" if v is None else "%.4f" % v


def _rows(res):
    for key, title in ROWS:
        v = res["metrics"].get(key)
        if key not in res["metrics"]:
            continue
        t = TARGETS.get(key)
        status = "" if t is None else ("ok" if res["target_met"][key]
                                       else "BELOW")
        yield title, _fmt(v), "" if t is None else ">= %.2f" % t, status


def _routing_rows(res):
    attrs = [a for _, group in TASK_ATTRS for a in group]
    for key, per in res["routing"].items():
        cells = []
        for a in attrs:
            r = per.get(a)
            cells.append("-" if r is None else "%d+%d (%.2f)"
                         % (r["experts"][0], r["experts"][1],
                            r["weights"][0]))
        yield key, cells


def format_text(res):
    d, t = res["data"], res["timing"]
    out = []
    out.append("model: %s (%s)" % (res["model"]["path"],
                                   res["model"]["name"]))
    out.append("data:  %d held-out clips, seeds %d..%d, %d px x %d frames, "
               "two-object prob %.2f, retrieval groups of %d"
               % (d["clips"], d["seed_base"], d["seed_last"], d["size"],
                  d["frames"], d["two_object_prob"], d["group_size"]))
    out.append("       open-vocabulary metrics on %d single-object clips"
               % res["metrics"]["open_vocab_clips"])
    for n in d["notes"]:
        out.append("note:  " + n)
    out.append("")
    out.append("%-42s %8s %8s %s" % ("metric", "value", "target", ""))
    for title, v, tgt, st in _rows(res):
        out.append("%-42s %8s %8s %s" % (title, v, tgt, st))
    m = res["metrics"]
    if "caption_bleu" in m:
        b = m["caption_bleu"]
        out.append("  BLEU p1..p4 %s  BP %.4f  len ratio %.4f"
                   % (" ".join("%.4f" % p for p in b["precisions"]),
                      b["bp"], b["ratio"]))
        out.append("  caption field accuracy: " + "  ".join(
            "%s %.4f" % kv for kv in m["caption_field_accuracy"].items()))
    out.append("  motion per class: " + "  ".join(
        "%s %s" % (k.replace(" ", "_"), _fmt(v))
        for k, v in m["motion_per_class"].items()))
    out.append("")
    mp = t["ms_per_clip"]
    out.append("timing: %.1f clips/s in the engine loop; ms per clip: "
               "preprocess %.2f, classify (encode + 5 label sets) %.2f, "
               "retrieval encode %.2f, caption %.2f, total %.2f"
               % (t["clips_per_s"], mp["preprocess"], mp["classify"],
                  mp["retrieve"], mp["caption"], mp["total"]))
    out.append("        setup ms: " + ", ".join(
        "%s %.1f" % kv for kv in t["setup_ms"].items())
        + "; generation %.1f s, engine process %.1f s, total %.1f s"
        % (t["generate_s"], t["engine_process_s"], t["total_s"]))
    if res["routing"]:
        out.append("")
        out.append("routing (experts top-1+top-2, weight of top-1):")
        attrs = [a for _, g in TASK_ATTRS for a in g]
        out.append("  %-14s " % "" + " ".join("%-16s" % a for a in attrs))
        for key, cells in _routing_rows(res):
            out.append("  %-14s " % key + " ".join("%-16s" % c
                                                   for c in cells))
    if res["command"]:
        out.append("")
        out.append("command: " + res["command"])
    return "\n".join(out)


def format_markdown(res):
    d, t = res["data"], res["timing"]
    out = ["# Held-out evaluation (C engine)", ""]
    out.append("* model: `%s` (%s, weights sha256 `%s`)"
               % (res["model"]["path"], res["model"]["name"],
                  (res["model"]["weights_sha256"] or "")[:16]))
    out.append("* data: %d held-out synthworld clips, seeds %d..%d, %d px, "
               "%d frames, two-object probability %.2f"
               % (d["clips"], d["seed_base"], d["seed_last"], d["size"],
                  d["frames"], d["two_object_prob"]))
    out.append("* retrieval among groups of %d; open-vocabulary metrics on "
               "%d single-object clips"
               % (d["group_size"], res["metrics"]["open_vocab_clips"]))
    for n in d["notes"]:
        out.append("* note: " + n)
    if res["command"]:
        out.append("* command: `%s`" % res["command"])
    out.append("* engine: `%s`" % res["engine_command"])
    if res["git_commit"]:
        out.append("* commit: `%s`" % res["git_commit"])
    out += ["", "| metric | value | target | |", "|---|---:|---:|---|"]
    for title, v, tgt, st in _rows(res):
        out.append("| %s | %s | %s | %s |" % (title, v, tgt, st))
    out += ["", "Definitions:", ""]
    for k, v in res["definitions"].items():
        out.append("* `%s`: %s" % (k, v))
    mp = t["ms_per_clip"]
    out += ["", "Timing: %.1f clips/s; ms per clip: preprocess %.2f, "
            "classify %.2f, retrieval encode %.2f, caption %.2f, total %.2f."
            % (t["clips_per_s"], mp["preprocess"], mp["classify"],
               mp["retrieve"], mp["caption"], mp["total"])]
    if res["routing"]:
        attrs = [a for _, g in TASK_ATTRS for a in g]
        out += ["", "Routing (top-1+top-2 experts, weight of the top-1):", "",
                "| gate | " + " | ".join(attrs) + " |",
                "|---|" + "---|" * len(attrs)]
        for key, cells in _routing_rows(res):
            out.append("| %s | %s |" % (key, " | ".join(cells)))
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="See the module docstring (pydoc tools/evaluate.py) for the "
               "metric definitions.")
    ap.add_argument("--model", default=DEFAULT_MODEL,
                    help="model file (default: %(default)s)")
    ap.add_argument("--clips", type=int, default=500)
    ap.add_argument("--seed-base", type=int, default=sw.HELDOUT_SEED_BASE)
    ap.add_argument("--group-size", type=int, default=100,
                    help="retrieval candidates per group (default 100, or "
                         "--clips when fewer)")
    ap.add_argument("--two-object-prob", type=float, default=0.0,
                    help="share of two-object clips (default 0; the "
                         "open-vocabulary metrics count single-object "
                         "clips only)")
    ap.add_argument("--engine", default=None,
                    help="upm-eval binary (default: %s)" % default_engine())
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--beam-size", type=int, default=0)
    ap.add_argument("--max-length", type=int, default=0)
    ap.add_argument("--no-caption", action="store_true")
    ap.add_argument("--workdir", default=None,
                    help="keep clips.rgb, manifest.json, results.jsonl here")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--markdown", nargs="?", const="-", default=None,
                    metavar="FILE", help="markdown report (stdout without "
                                         "FILE)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when a product target is missed")
    ap.add_argument("--allow-train-seeds", action="store_true")
    ap.add_argument("--progress", default="auto",
                    choices=["auto", "always", "never"])
    args = ap.parse_args(argv)
    try:
        res = evaluate(args.model, args.clips, args.seed_base,
                       args.group_size, args.two_object_prob, args.engine,
                       args.threads, args.workdir, not args.no_caption,
                       args.beam_size, args.max_length, args.progress,
                       args.allow_train_seeds)
    except (OSError, ValueError, RuntimeError, upmgguf.GGUFError) as e:
        print("evaluate: error: %s" % e, file=sys.stderr)
        return 2
    if args.markdown == "-":
        print(format_markdown(res))
    else:
        print(format_text(res))
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(format_markdown(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
    if args.check and not all(res["target_met"].values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
