#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The routing comparison of the paper's Table 3, at our scale: a dense model
and the five routing levels (attribute, modality, task, token, context), each
trained with tools/train.py on the synthetic world with the same recipe and
the same wall-clock budget, then evaluated by the C engine
(tools/evaluate.py) on the same held-out clips. Prints a markdown table:
per-task metrics, parameters stored and used per token, inference speed
measured by our engine, and zero-shot transfer to a label vocabulary never
used as class names ("a <colour> <shape>").

  compare_routing.py --out DIR [--budget-minutes 30] [--jobs 2] [--clips 500]
                     [--levels dense,attribute,modality,task,token,context]
                     [--table-only]

Trainings run --jobs at a time with one thread each (give each the same
share of the machine: --jobs = cores). Everything else (model size, steps
per budget, seeds) is train.py's default recipe, the one of the bundled
model; pass more train.py options after `--`.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
LEVELS = ["dense", "attribute", "modality", "task", "token", "context"]
RECIPE = ["--dim", "96", "--heads", "4", "--layers", "4", "--ffn", "384", "--size", "48",
          "--patch", "8", "--frames", "4", "--batch", "32", "--warmup", "100",
          "--eval-every", "0"]


def train_cmd(level, out, budget, extra):
    cmd = [PY, os.path.join(HERE, "train.py"), "--out", os.path.join(out, level),
           "--budget-minutes", str(budget), "--threads", "1",
           "--export", os.path.join(out, level, "model.upm")] + RECIPE + extra
    if level == "dense":
        cmd.append("--dense")
    else:
        cmd += ["--routing", level]
    return cmd


def run_trainings(levels, out, budget, jobs, extra):
    pending = list(levels)
    running = []
    while pending or running:
        while pending and len(running) < jobs:
            level = pending.pop(0)
            os.makedirs(os.path.join(out, level), exist_ok=True)
            log = open(os.path.join(out, level + ".log"), "w")
            print("train %s ..." % level, file=sys.stderr)
            running.append((level, subprocess.Popen(train_cmd(level, out, budget, extra),
                                                    stdout=log, stderr=subprocess.STDOUT)))
        time.sleep(5)
        for item in list(running):
            level, p = item
            if p.poll() is not None:
                running.remove(item)
                if p.returncode != 0:
                    raise RuntimeError("training %s failed (exit %d), see %s"
                                       % (level, p.returncode, os.path.join(out, level + ".log")))


def evaluate(level, out, clips):
    path = os.path.join(out, level, "eval.json")
    subprocess.run([PY, os.path.join(HERE, "evaluate.py"), "--model",
                    os.path.join(out, level, "model.upm"), "--clips", str(clips),
                    "--json", path, "--progress", "never"],
                   check=True, stdout=subprocess.DEVNULL)
    return json.load(open(path))


def params(level, out):
    """(stored, used per token) parameter counts of the encoder linears:
    MoE layers store 8 experts and use 2 of them for each token."""
    summary = json.load(open(os.path.join(out, level, "summary.json")))
    cfg = summary["cfg"]
    D, F, L = cfg["D"], cfg["ffn"], cfg["layers"]
    per_layer = 4 * D * D + 2 * D * F
    moe = 0 if cfg.get("dense") else (L + 1) // 2
    stored = summary["params"]
    used = stored - moe * per_layer * (8 - 2)
    return stored, used


def table(levels, out):
    rows = ["| model | params stored / used per token | motion top-1 | caption BLEU-4 | "
            "exact | t→v R@1 (100) | zero-shot 'a ‹colour› ‹shape›' (40) | shape (5) | "
            "clips/s (C engine) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for level in levels:
        ev = json.load(open(os.path.join(out, level, "eval.json")))
        m = ev["metrics"]
        stored, used = params(level, out)
        rows.append("| %s | %.2f M / %.2f M | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f |"
                    % (level, stored / 1e6, used / 1e6, m["motion_top1"], m["caption_bleu4"],
                       m["caption_exact"], m["retrieval_t2v_r1"], m["open_vocab_top1"],
                       m["open_vocab_shape_top1"], ev["timing"]["clips_per_s"]))
    return "\n".join(rows)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget-minutes", type=float, default=30.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--clips", type=int, default=500)
    ap.add_argument("--levels", default=",".join(LEVELS))
    ap.add_argument("--table-only", action="store_true",
                    help="only print the table of an earlier run in --out")
    a = ap.parse_args(argv)
    levels = [x for x in a.levels.split(",") if x]
    bad = [x for x in levels if x not in LEVELS]
    if bad:
        ap.error("unknown level(s) %s (known: %s)" % (",".join(bad), ",".join(LEVELS)))
    if not a.table_only:
        run_trainings(levels, a.out, a.budget_minutes, max(1, a.jobs), extra)
        for level in levels:
            print("evaluate %s ..." % level, file=sys.stderr)
            evaluate(level, a.out, a.clips)
    text = table(levels, a.out)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
