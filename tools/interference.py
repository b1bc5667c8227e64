#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Task interference of a .upm model, layer by layer (Uni-Perceiver-MoE, Table 1).

Written from the official notebook tools/calinterference.ipynb (fundamentalvision/
Uni-Perceiver): per-sample gradients of ONE weight per layer for every task (the notebook:
`encoder.layers.{3,7,11}.ffn.dense2.weight`, 100 samples per task, cells 2-3), then

    delta_{X->Y}(j, i) = <g_X_j, g_Y_i> / |g_X_j|          (cell 8: "deltabi = bw @ in.T / |bw|")

the first-order change of task Y's loss on sample i when a step is taken on task X's
sample j, averaged over j != i (cell 10), divided by the same quantity for Y on itself and
averaged over i (cell 12).  So the diagonal is 1, and an entry of the row of Y and the
column of X says how much a step on X helps Y relative to a step on Y itself; negative:
it raises Y's loss.  (The paper's own equation could not be read here; the notebook is the
definition used.)  Rows: the task affected (Y); columns: the task stepped on (X).

Here the weight is every layer's second FFN linear (linear2; official MoE naming), and in
an MoE layer the whole expert bank [E, D, F]: a task's gradient lands on the experts its
route chose, so tasks routed to disjoint experts cannot interfere there.  Tasks, on
held-out synthworld clips (seeds from HELDOUT_SEED_BASE + 900000), losses as tools/train.py
trains them:
  classification   the motion class names (cls_input / cls_target, video_cls scale)
  retrieval        video -> caption among a group of --group captions (retrieval rows)
  captioning       the caption's tokens against the whole vocabulary (official layout)

    interference.py --model models/uniperceiver-synth-moe.upm [--samples 100] [--json OUT]
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import prompt_tune as pt  # noqa: E402  (reads a .upm into tools/train.py's model)
import synthworld as sw  # noqa: E402

TASKS = ("classification", "retrieval", "captioning")
SEED_BASE = sw.HELDOUT_SEED_BASE + 900_000


def layer_weight(layer):
    """The weight whose gradient is measured: linear2, or the bank of linear2 experts."""
    if layer.moe:
        return [e.weight for e in layer.linear2.experts.deepspeed_experts]
    return [layer.linear2.weight]


def interference_matrix(grads, ratio_of_means=False):
    """grads: {task: [n, d] per-sample gradients} -> (tasks, matrix [Y][X]) as the notebook
    (the mean over i of per-sample ratios).  ratio_of_means: the mean of delta_{X->Y} over
    the mean of delta_{Y->Y} instead, which a few samples with a near-zero self term (a
    well-trained task) cannot swing."""
    tasks = list(grads)
    norms = {t: np.linalg.norm(g, axis=1, keepdims=True) for t, g in grads.items()}
    n = len(next(iter(grads.values())))

    def delta_sum(x, y):     # delta_{x->y}(j, i) summed over j != i, per i
        d = grads[x] @ grads[y].T / np.maximum(norms[x], 1e-30)     # [J, I]
        return (d.sum(0) - np.diag(d)) / (n - 1)

    m = np.zeros((len(tasks), len(tasks)))
    for a, y in enumerate(tasks):
        self_ = delta_sum(y, y)
        for b, x in enumerate(tasks):
            d = delta_sum(x, y)
            m[a, b] = np.mean(d) / np.mean(self_) if ratio_of_means else np.mean(d / self_)
    return tasks, m


class Tasks:
    def __init__(self, model, kv, n, group, seed_base=SEED_BASE):
        self.m, self.kv = model, kv
        cfg = model.cfg
        self.T = cfg["frames"]
        self.clips = [sw.generate_clip(seed_base + i, cfg["size"], cfg["frames"]) for i in range(n)]
        self.tok = pt.tokenizer_of(kv)
        self.eot = int(kv["tokenizer.upm.eot_id"])
        self.class_ids = [self.target(c) for c in sw.class_names()]
        self.group = group

    def target(self, text):
        return self.tok.encode(text + " <|endoftext|>")

    def patches(self, j):
        return self.m.patchify(self.clips[j].frames[None])

    def loss(self, task, j):
        m, c = self.m, self.clips[j]
        if task == "classification":
            fv = m.video_features(self.patches(j), self.T, "cls_input")
            fc = m.text_features(self.class_ids, "cls_target")
            return F.cross_entropy(m.scale("video_cls") * fv @ fc.T, torch.tensor([c.motion_id]))
        if task == "retrieval":
            n = len(self.clips)
            g0 = (j // self.group) * self.group
            group = [k % n for k in range(g0, g0 + self.group)]
            fv = m.video_features(self.patches(j), self.T, "retrieval_input")
            ft = m.text_features([self.target(self.clips[k].caption) for k in group], "retrieval_target")
            return F.cross_entropy(m.scale("retrieve") * fv @ ft.T, torch.tensor([group.index(j)]))
        ids = self.target(c.caption)
        fs, _ = m.caption_hidden(self.patches(j), self.T, [ids])
        logits = m.scale("caption") * fs[0] @ m.vocab_features().T
        return F.cross_entropy(logits, torch.tensor(ids))


def measure(model_path, samples=100, group=16, log=print, progress=True, seed_base=SEED_BASE):
    kv, sd, prompt, _ = pt.read_upm(model_path)
    if prompt:
        raise SystemExit("%s is prompt-tuned: measure its base model" % model_path)
    model, cfg = pt.build_base(kv, sd)
    layers = list(model.fused_encoder.layers)
    weights = [layer_weight(l) for l in layers]
    for ws in weights:
        for w in ws:
            w.requires_grad_(True)
    tasks = Tasks(model, kv, samples, group, seed_base)
    grads = {l: {} for l in range(len(layers))}
    t0 = time.time()
    for ti, task in enumerate(TASKS):
        rows = [[] for _ in layers]
        for j in range(samples):
            loss = tasks.loss(task, j)
            flat = [w for ws in weights for w in ws]
            # an expert no sample of the task was routed to gets no gradient (zeros)
            g = torch.autograd.grad(loss, flat, allow_unused=True)
            g = [torch.zeros_like(w) if x is None else x for w, x in zip(flat, g)]
            k = 0
            for l, ws in enumerate(weights):
                rows[l].append(torch.cat([x.reshape(-1) for x in g[k:k + len(ws)]]).numpy().astype(np.float64))
                k += len(ws)
            if progress and sys.stderr.isatty():
                sys.stderr.write("\r%-14s %3d/%d  %.0f s" % (task, j + 1, samples, time.time() - t0))
                sys.stderr.flush()
        for l in range(len(layers)):
            grads[l][task] = np.stack(rows[l])
    if progress and sys.stderr.isatty():
        sys.stderr.write("\n")
    out = dict(model=model_path, samples=samples, group=group, seconds=time.time() - t0, seed_base=seed_base,
               moe_layers=cfg["moe_layers"], layers=[])
    for l in range(len(layers)):
        names, m = interference_matrix(grads[l])
        _, rm = interference_matrix(grads[l], ratio_of_means=True)
        out["layers"].append(dict(layer=l, moe=l in cfg["moe_layers"], tasks=names,
                                  matrix=m.tolist(), ratio_of_means=rm.tolist()))
    return out


SHORT = {"classification": "cls", "retrieval": "ret", "captioning": "cap"}


def format_table(results, key="matrix"):
    """Markdown: one row per model and layer, the off-diagonal entries Y<-X."""
    pairs = [(y, x) for y in TASKS for x in TASKS if x != y]
    head = "| model | layer | " + " | ".join("%s←%s" % (SHORT[y], SHORT[x]) for y, x in pairs) + " |"
    lines = [head, "|---|---|" + "---|" * len(pairs)]
    for res in results:
        name = os.path.basename(res["model"])
        for L in res["layers"]:
            m = np.array(L[key])
            cells = ["%+.3f" % m[TASKS.index(y), TASKS.index(x)] for y, x in pairs]
            lines.append("| %s | %d (%s) | %s |" % (name, L["layer"], "MoE" if L["moe"] else "dense",
                                                   " | ".join(cells)))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=None,
                    help="a .upm (repeat for several; default: the bundled model)")
    ap.add_argument("--samples", type=int, default=100, help="samples per task (notebook: 100)")
    ap.add_argument("--group", type=int, default=16, help="captions per retrieval group")
    ap.add_argument("--seed-base", type=int, default=SEED_BASE,
                    help="first held-out seed of the samples (default %d); another value draws "
                         "other samples, to see how much the table moves" % SEED_BASE)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.samples < 2:
        ap.error("--samples must be at least 2")
    if args.threads:
        torch.set_num_threads(args.threads)
    models = args.model or [os.path.join(ROOT, "models", "uniperceiver-synth-moe.upm")]
    results = []
    for path in models:
        r = measure(path, args.samples, args.group, seed_base=args.seed_base)
        results.append(r)
        print("%s: %d samples per task, %.0f s" % (path, args.samples, r["seconds"]), file=sys.stderr)
        for L in r["layers"]:
            print("layer %d (%s), rows: task affected, columns: task stepped on" %
                  (L["layer"], "MoE" if L["moe"] else "dense"))
            print("%16s" % "" + "".join("%16s" % t for t in L["tasks"]))
            for t, row in zip(L["tasks"], L["matrix"]):
                print("%16s" % t + "".join("%16.3f" % v for v in row))
    print()
    print("notebook definition (mean over samples of per-sample ratios):")
    print(format_table(results))
    print()
    print("ratio of means (mean delta_{X->Y} / mean delta_{Y->Y}):")
    print(format_table(results, "ratio_of_means"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
