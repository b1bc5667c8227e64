#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""New classification tasks on the synthetic world, for prompt tuning (tools/prompt_tune.py),
and their accuracy measured by the C engine.

The bundled model was trained on motion (the 9 class names), shape (the 5 shape names),
captions and retrieval of single-object clips (tools/train.py, models/README.md).  These
tasks ask for what it never learned to name:

  compass     the direction of a moving object in other words: "heading west / east /
              north / south" (left / right / up / down clips)
  count       "one object" / "two objects" (the model never saw two objects)
  background  "plain background" / "gradient background" / "striped background" /
              "textured background" (never in a caption)

    synthtasks.py make --task compass --count 2000 --seed-base 2000000 --out DIR
        # DIR/clip_<seed>.rgb + .json and DIR/labels.csv (file,label), classes balanced
    synthtasks.py eval --model M.upm --data DIR --labels DIR/labels.csv [--json OUT]
        # top-1 accuracy through build/tools/upm-eval (the C engine), the labels as typed
        # label set (the sorted distinct labels of the CSV: prompt_tune.py's class order)

Captions in words the model was never trained to use (for prompt_tune.py --task caption or
retrieval; the training captions read "a small red circle moves to the left"):

  compass-text  "red circle heading west": colour, shape and the direction as a compass
                point (left / right / up / down clips), new words in a new template
  moving-text   "red circle moving left": the classification verb in a caption, no size
                nor article

    synthtasks.py make-text --task compass-text --count 200 --seed-base 3000000 --out DIR
        # DIR/clip_<seed>.rgb + .json and DIR/captions.csv (file,caption)
    synthtasks.py eval-text --model M.upm --data DIR --captions DIR/captions.csv
        # through upm-eval (the C engine): text-to-video R@1 in groups of --group clips,
        # caption exact match and BLEU-4 (tools/evaluate.py's) against the CSV's captions

Training seeds: pick a --seed-base below synthworld.HELDOUT_SEED_BASE; held-out sets above it.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import synthworld as sw  # noqa: E402

TASKS = {
    "compass": [("heading west", dict(motion="left")), ("heading east", dict(motion="right")),
                ("heading north", dict(motion="up")), ("heading south", dict(motion="down"))],
    "count": [("one object", dict(num_objects=1)), ("two objects", dict(num_objects=2))],
    "background": [("plain background", dict(background="solid")),
                   ("gradient background", dict(background="gradient")),
                   ("striped background", dict(background="stripes")),
                   ("textured background", dict(background="texture"))],
}


COMPASS = {"left": "west", "right": "east", "up": "north", "down": "south"}
TEXT_TASKS = {
    "compass-text": lambda o: "%s %s heading %s" % (o["colour"], o["shape"], COMPASS[o["motion"]]),
    "moving-text": lambda o: "%s %s moving %s" % (o["colour"], o["shape"], o["motion"]),
}


def make_text_task(task, count, seed_base, out, size=48, frames=4):
    """`count` single-object raw clips moving left / right / up / down in turn, and
    captions.csv (file,caption) with the task's caption of each; returns the CSV path."""
    caption = TEXT_TASKS[task]
    motions = list(COMPASS)
    os.makedirs(out, exist_ok=True)
    rows = []
    for i in range(count):
        seed = seed_base + i
        c = sw.generate_clip(seed, size, frames, 0.0, motion=motions[i % len(motions)])
        name = "clip_%d" % seed
        text = caption(c.objects[0])
        c.frames.tofile(os.path.join(out, name + ".rgb"))
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(dict(seed=seed, width=size, height=size, frames=frames, caption=text,
                           training_caption=c.caption), f)
        rows.append((name + ".rgb", text))
    path = os.path.join(out, "captions.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "caption"])
        w.writerows(rows)
    return path


def run_upm_eval(model, data, names, manifest, args=(), threads=0, engine=None):
    """upm-eval (the C engine) on the raw clips `names` of folder `data` (NAME.rgb with
    NAME.json beside it): `manifest` gets the frames file and the clips added; `args` are
    more upm-eval options.  Returns (its JSON records, wall seconds, the command)."""
    build = os.environ.get("UPM_BUILD_ROOT") or os.path.join(ROOT, "build")
    engine = engine or os.path.join(build, "tools", "upm-eval")
    with tempfile.TemporaryDirectory(prefix="upm-eval-") as tmp:
        clips, offset = [], 0
        with open(os.path.join(tmp, "clips.rgb"), "wb") as f:
            for name in names:
                path = os.path.join(data, name)
                with open(os.path.splitext(path)[0] + ".json") as m:
                    meta = json.load(m)
                a = np.fromfile(path, dtype=np.uint8)
                f.write(a.tobytes())
                clips.append(dict(id=name, width=int(meta["width"]), height=int(meta["height"]),
                                  frames=int(meta["frames"]), offset=offset))
                offset += a.size
        manifest = dict(manifest, frames_file="clips.rgb", clips=clips)
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            json.dump(manifest, f)
        out = os.path.join(tmp, "results.jsonl")
        cmd = [engine, "--model", model, "--manifest", os.path.join(tmp, "manifest.json"),
               "--output", out, "--progress", "never", *args]
        if threads:
            cmd += ["--threads", str(threads)]
        t0 = time.monotonic()
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        wall = time.monotonic() - t0
        if p.returncode != 0:
            raise RuntimeError("upm-eval failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr))
        with open(out) as f:
            return [json.loads(line) for line in f], wall, cmd


def engine_text_metrics(model, data, csv_path, group=16, caption=True, retrieval=True, threads=0,
                        engine=None):
    """Through upm-eval (the C engine) on the raw clips of a `file,caption` CSV (its first
    caption per clip): text-to-video R@1 among the clips of each group of `group`
    (upm-eval's t2v_rank), caption exact match and corpus BLEU-4 (tools/evaluate.py's
    tokenize and bleu).  Returns a dict."""
    import evaluate
    from prompt_tune import read_labels
    first = {}
    for name, text in read_labels(csv_path, "caption"):
        first.setdefault(name, text)
    names = list(first)
    manifest = dict(caption=bool(caption))
    if retrieval:
        manifest["retrieval"] = dict(group_size=group, captions=[first[n] for n in names])
    recs, wall, _ = run_upm_eval(model, data, names, manifest, threads=threads, engine=engine)
    res = dict(model=model, clips=len(names), wall_s=wall)
    if retrieval:
        groups = [r for r in recs if r.get("type") == "retrieval"]
        ranks = [k for g in groups for k in g["t2v_rank"]]
        if len(ranks) != len(names):
            raise RuntimeError("upm-eval ranked %d captions for %d clips" % (len(ranks), len(names)))
        res["t2v_r1"] = sum(1 for k in ranks if k == 0) / len(ranks)
        res["group"] = group
    if caption:
        cl = sorted((r for r in recs if r.get("type") == "clip"), key=lambda r: r["index"])
        cands = [r["caption"]["text"] for r in cl]
        refs = [first[n] for n in names]
        res["caption_exact"] = sum(evaluate.tokenize(a) == evaluate.tokenize(b)
                                   for a, b in zip(cands, refs)) / len(names)
        res["caption_bleu4"] = evaluate.bleu(cands, refs)["bleu"]
        res["captions"] = cands
        res["caption_ids"] = [r["caption"]["ids"] for r in cl]
    return res


def make_task(task, count, seed_base, out, size=48, frames=4, log=None, fmt="raw", upscale=4):
    """Write `count` clips (classes in turn) and labels.csv; returns the CSV path.
    fmt raw: NAME.rgb + NAME.json; mp4: NAME.mp4 (H.264, upscaled x `upscale`, 8 fps), as
    a user's camera clips would come."""
    classes = TASKS[task]
    os.makedirs(out, exist_ok=True)
    rows = []
    for i in range(count):
        label, force = classes[i % len(classes)]
        seed = seed_base + i
        c = sw.generate_clip(seed, size, frames, 0.0, **force)
        name = "clip_%d" % seed
        if fmt == "mp4":
            sw.write_mp4(os.path.join(out, name + ".mp4"), sw.upscale(c.frames, upscale))
            rows.append((name + ".mp4", label))
            continue
        c.frames.tofile(os.path.join(out, name + ".rgb"))
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump(dict(seed=seed, width=size, height=size, frames=frames, label=label,
                           caption=c.caption), f)
        rows.append((name + ".rgb", label))
        if log and (i + 1) % 500 == 0:
            log("%d/%d clips" % (i + 1, count))
    path = os.path.join(out, "labels.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label"])
        w.writerows(rows)
    return path


def read_rows(csv_path):
    sys.path.insert(0, HERE)
    from prompt_tune import read_labels
    return read_labels(csv_path)


def run_accuracy(model, data, csv_path, typed=True, engine=None):
    """Top-1 accuracy of `model` on clips of any format the engine reads (mp4, ...), one
    `upm-run -f json` per file: typed=True types the CSV's labels (zero-shot with a base
    model), False lets a prompt-tuned model use its own classes and head."""
    rows = read_rows(csv_path)
    labels = sorted({lab for _, lab in rows})
    build = os.environ.get("UPM_BUILD_ROOT") or os.path.join(ROOT, "build")
    engine = engine or os.path.join(build, "tools", "upm-run")
    hits = 0
    for name, lab in rows:
        cmd = [engine, "--model", model, "--task", "classify", "-f", "json", "--progress", "never",
               "--top-k", "1"]
        if typed:
            cmd += ["--labels", ",".join(labels)]
        p = subprocess.run(cmd + [os.path.join(data, name)], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("%s failed: %s" % (" ".join(cmd), p.stderr[-300:]))
        first = json.loads(p.stdout.splitlines()[0])
        hits += int(first["labels"][0]["label"] == lab)
    return dict(model=model, clips=len(rows), accuracy=hits / len(rows), labels=labels)


def engine_accuracy(model, data, csv_path, engine=None, labels=None, threads=0):
    """Top-1 accuracy of `model` on the raw clips of a CSV through upm-eval (the C engine):
    one label set, the sorted distinct labels (or `labels`).  Returns a dict."""
    rows = read_rows(csv_path)
    labels = labels or sorted({lab for _, lab in rows})
    manifest = dict(caption=False, labelsets=[dict(name="task", labels=labels)])
    recs, wall, cmd = run_upm_eval(model, data, [name for name, _ in rows], manifest,
                                   ("--no-caption", "--no-retrieval"), threads, engine)
    res = sorted((r for r in recs if r.get("type") == "clip"), key=lambda r: r["index"])
    if len(res) != len(rows):
        raise RuntimeError("upm-eval returned %d clips for %d" % (len(res), len(rows)))
    truth = [labels.index(lab) for _, lab in rows]
    pred = [r["labelsets"]["task"]["top"][0] for r in res]
    hits = sum(int(a == b) for a, b in zip(pred, truth))
    per = {lab: (sum(1 for a, b in zip(pred, truth) if b == i and a == b)
                 / max(1, sum(1 for b in truth if b == i))) for i, lab in enumerate(labels)}
    return dict(model=model, clips=len(rows), accuracy=hits / len(rows), per_class=per,
                labels=labels, engine=" ".join(cmd[:1]), wall_s=wall)


def torch_accuracy(model, data, csv_path, labels=None):
    """The same accuracy from PyTorch (tools/prompt_tune.py's forward of the file, with its
    prompt tensors and fc_prompt head when it has them).  Returns a dict."""
    import torch
    import prompt_tune as pt
    rows = read_rows(csv_path)
    kv, sd, prompt, _ = pt.read_upm(model)
    base, cfg = pt.build_base(kv, sd)
    file_labels = list(kv.get("uniperceiver.prompt.labels", []))
    labels = labels or file_labels or sorted({lab for _, lab in rows})
    pm = pt.PromptModel(base, len(labels), prompt or None)
    if not prompt:   # the base model: no prompt (zero keys), similarity only
        pm.prompts = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(0, cfg["D"]))
                                             for _ in pm.prompts])
    loader = pt.ClipLoader(model, cfg)
    try:
        items = [loader.load(os.path.join(data, name)) for name, _ in rows]
    finally:
        loader.close()
    ids = [pt._label_ids(kv, lab) for lab in labels]
    acc, _ = pt.accuracy(pm, items, [labels.index(lab) for _, lab in rows], ids, cfg["frames"],
                         with_fc=bool(prompt))
    return dict(model=model, clips=len(rows), accuracy=acc, labels=labels)


def proof(tasks, percents, n_train, n_test, workdir, iters, log):
    """Zero-shot vs prompt-tuned accuracy on held-out clips for each task and data share."""
    out = []
    tune = os.path.join(HERE, "prompt_tune.py")
    for task in tasks:
        tr = os.path.join(workdir, task + "-train")
        te = os.path.join(workdir, task + "-test")
        csv_tr = make_task(task, n_train, 2_000_000, tr)
        csv_te = make_task(task, n_test, sw.HELDOUT_SEED_BASE + 500_000, te)
        base = os.path.join(ROOT, "models", "uniperceiver-synth-moe.upm")
        zs = engine_accuracy(base, te, csv_te)
        row = dict(task=task, labels=zs["labels"], zero_shot=zs["accuracy"],
                   zero_shot_torch=torch_accuracy(base, te, csv_te)["accuracy"], runs=[])
        log("%s: zero-shot %.3f (engine) %.3f (PyTorch)" % (task, row["zero_shot"], row["zero_shot_torch"]))
        for p in percents:
            model = os.path.join(workdir, "%s-%g.upm" % (task, p))
            js = model + ".json"
            cmd = [sys.executable, tune, "--data", tr, "--labels", csv_tr, "--out", model,
                   "--percent", str(p), "--iters", str(iters), "--threads", "1",
                   "--progress", "never", "--json", js]
            t0 = time.monotonic()
            subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
            wall = time.monotonic() - t0
            with open(js) as f:
                summ = json.load(f)
            r = dict(percent=p, clips=summ["used"], minutes=wall / 60,
                     tune_minutes=summ["tune_s"] / 60, cpu_minutes=summ.get("cpu_s", 0.0) / 60,
                     iterations=summ["iterations"],
                     torch=torch_accuracy(model, te, csv_te)["accuracy"],
                     command=" ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c
                                      for c in cmd[1:]))
            try:
                r["engine"] = engine_accuracy(model, te, csv_te, labels=summ["labels"])["accuracy"]
            except RuntimeError as e:
                r["engine"] = None
                r["engine_error"] = str(e)[-300:]
            row["runs"].append(r)
            log("%s %g%% (%d clips): engine %s, PyTorch %.3f, %.1f min"
                % (task, p, r["clips"], "%.3f" % r["engine"] if r["engine"] is not None else "n/a",
                   r["torch"], r["minutes"]))
        out.append(row)
    return out


def proof_text(runs, percents, n_train, n_test, workdir, group, log):
    """Zero-shot vs prompt-tuned on held-out clips, through upm-eval: runs are (task kind,
    caption task) pairs, e.g. ("retrieval", "compass-text"); each data share tuned with
    prompt_tune.py's defaults for the kind (--threads 1)."""
    out = []
    tune = os.path.join(HERE, "prompt_tune.py")
    base = os.path.join(ROOT, "models", "uniperceiver-synth-moe.upm")
    for kind, task in runs:
        tr = os.path.join(workdir, task + "-train")
        te = os.path.join(workdir, task + "-test")
        csv_tr = make_text_task(task, n_train, 3_000_000, tr)
        csv_te = make_text_task(task, n_test, sw.HELDOUT_SEED_BASE + 800_000, te)
        metric = "t2v_r1" if kind == "retrieval" else "caption_exact"

        def measure(model):
            r = engine_text_metrics(model, te, csv_te, group, caption=kind == "caption",
                                    retrieval=kind == "retrieval")
            return {k: r[k] for k in ("t2v_r1", "caption_exact", "caption_bleu4") if k in r}

        row = dict(kind=kind, task=task, metric=metric, zero_shot=measure(base), runs=[])
        log("%s %s: zero-shot %s" % (kind, task, row["zero_shot"]))
        for p in percents:
            model = os.path.join(workdir, "%s-%s-%g.upm" % (kind, task, p))
            cmd = [sys.executable, tune, "--task", kind, "--data", tr, "--labels", csv_tr, "--out", model,
                   "--percent", str(p), "--threads", "1", "--progress", "never", "--json", model + ".json"]
            t0 = time.monotonic()
            subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
            wall = time.monotonic() - t0
            with open(model + ".json") as f:
                summ = json.load(f)
            r = dict(percent=p, captions=summ["used"], minutes=wall / 60, iterations=summ["iterations"],
                     tuned=measure(model),
                     command=" ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd[1:]))
            row["runs"].append(r)
            log("%s %s %g%% (%d captions): %s, %.1f min" % (kind, task, p, r["captions"], r["tuned"], r["minutes"]))
        out.append(row)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="write a task's clips and labels.csv")
    m.add_argument("--task", choices=sorted(TASKS), required=True)
    m.add_argument("--count", type=int, required=True)
    m.add_argument("--seed-base", type=int, required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--size", type=int, default=48)
    m.add_argument("--frames", type=int, default=4)
    m.add_argument("--format", choices=("raw", "mp4"), default="raw")
    e = sub.add_parser("eval", help="top-1 accuracy through the C engine (upm-eval)")
    e.add_argument("--model", required=True)
    e.add_argument("--data", required=True)
    e.add_argument("--labels", required=True)
    e.add_argument("--engine", default=None)
    e.add_argument("--threads", type=int, default=0)
    e.add_argument("--json", default=None)
    e.add_argument("--files", choices=("raw", "any"), default="raw",
                   help="raw: .rgb clips through upm-eval; any: one upm-run per file (mp4, ...)")
    e.add_argument("--own-labels", action="store_true",
                   help="with --files any: a prompt-tuned model's own classes, not typed labels")
    mt = sub.add_parser("make-text", help="write a caption task's clips and captions.csv")
    mt.add_argument("--task", choices=sorted(TEXT_TASKS), required=True)
    mt.add_argument("--count", type=int, required=True)
    mt.add_argument("--seed-base", type=int, required=True)
    mt.add_argument("--out", required=True)
    et = sub.add_parser("eval-text", help="R@1, caption exact match and BLEU-4 through upm-eval")
    et.add_argument("--model", required=True)
    et.add_argument("--data", required=True)
    et.add_argument("--captions", required=True)
    et.add_argument("--group", type=int, default=16, help="clips per retrieval group (default 16)")
    et.add_argument("--no-caption", action="store_true")
    et.add_argument("--no-retrieval", action="store_true")
    et.add_argument("--threads", type=int, default=0)
    et.add_argument("--json", default=None)
    pr = sub.add_parser("proof", help="zero-shot vs prompt-tuned, per task and data share")
    pr.add_argument("--tasks", default="compass,count,background")
    pr.add_argument("--percents", default="1,5,100")
    pr.add_argument("--train", type=int, default=2000, help="training set size (100%%)")
    pr.add_argument("--test", type=int, default=400, help="held-out clips per task")
    pr.add_argument("--iters", type=int, default=100)
    pr.add_argument("--workdir", required=True)
    pr.add_argument("--json", default=None)
    pt_ = sub.add_parser("proof-text", help="zero-shot vs prompt-tuned retrieval / captioning")
    pt_.add_argument("--runs", default="retrieval:compass-text,caption:moving-text,caption:compass-text")
    pt_.add_argument("--percents", default="1,5,100")
    pt_.add_argument("--train", type=int, default=2000, help="training set size (100%%)")
    pt_.add_argument("--test", type=int, default=160, help="held-out clips")
    pt_.add_argument("--group", type=int, default=16, help="clips per retrieval group")
    pt_.add_argument("--workdir", required=True)
    pt_.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.cmd == "proof-text":
        pcts = [float(p) for p in args.percents.split(",")]
        res = proof_text([tuple(r.split(":")) for r in args.runs.split(",")], pcts, args.train, args.test,
                         args.workdir, args.group, lambda s: print(s, file=sys.stderr, flush=True))
        print("| tuned for | captions | metric | zero-shot | " + " | ".join("tuned, %g %%" % p for p in pcts) + " |")
        print("|---|---|---|---|" + "---|" * len(pcts))
        for row in res:
            m = row["metric"]
            cells = ["%.3f (%d captions, %.1f min)" % (r["tuned"][m], r["captions"], r["minutes"])
                     for r in row["runs"]]
            print("| %s | %s | %s | %.3f | %s |" % (row["kind"], row["task"], m, row["zero_shot"][m],
                                                    " | ".join(cells)))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=1)
        return 0
    if args.cmd == "proof":
        res = proof(args.tasks.split(","), [float(p) for p in args.percents.split(",")], args.train,
                    args.test, args.workdir, args.iters, lambda s: print(s, file=sys.stderr, flush=True))
        print("| task | zero-shot | " + " | ".join("tuned, %g %%" % float(p) for p in args.percents.split(","))
              + " |")
        print("|---|---|" + "---|" * len(args.percents.split(",")))
        for row in res:
            cells = []
            for r in row["runs"]:
                acc = r["engine"] if r["engine"] is not None else r["torch"]
                cells.append("%.3f (%d clips, %.1f min)" % (acc, r["clips"], r["minutes"]))
            print("| %s | %.3f | %s |" % (row["task"], row["zero_shot"], " | ".join(cells)))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=1)
        return 0
    if args.cmd == "make-text":
        print(make_text_task(args.task, args.count, args.seed_base, args.out))
        return 0
    if args.cmd == "eval-text":
        r = engine_text_metrics(args.model, args.data, args.captions, args.group, not args.no_caption,
                                not args.no_retrieval, args.threads)
        parts = []
        if "t2v_r1" in r:
            parts.append("text-to-video R@1 %.3f (groups of %d)" % (r["t2v_r1"], r["group"]))
        if "caption_exact" in r:
            parts.append("caption exact match %.3f, BLEU-4 %.3f (e.g. \"%s\")"
                         % (r["caption_exact"], r["caption_bleu4"], r["captions"][0]))
        print("%s on %d clips: %s" % (os.path.basename(args.model), r["clips"], "; ".join(parts)))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(r, f, indent=1)
        return 0
    if args.cmd == "make":
        path = make_task(args.task, args.count, args.seed_base, args.out, args.size, args.frames,
                         log=lambda s: print(s, file=sys.stderr), fmt=args.format)
        print(path)
        return 0
    if args.files == "any":
        r = run_accuracy(args.model, args.data, args.labels, not args.own_labels, args.engine)
        print("%s: top-1 %.3f on %d clips (upm-run, %s)" % (os.path.basename(args.model), r["accuracy"],
              r["clips"], "the model's own classes" if args.own_labels else "typed labels"))
    else:
        r = engine_accuracy(args.model, args.data, args.labels, args.engine, threads=args.threads)
        print("%s: top-1 %.3f on %d clips (%s)" % (os.path.basename(args.model), r["accuracy"], r["clips"],
              ", ".join("%s %.2f" % kv for kv in r["per_class"].items())))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
