#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tools/prompt_tune.py and tools/interference.py, small and bounded.

* prompt tuning beats zero-shot by a clear margin on a task the bundled model was never
  trained on (compass directions: "heading west/east/north/south"), on held-out clips;
* the tuned file: the agreed format (prompt keys and tensors, labels in fc_prompt order),
  every tensor that was not tuned bit-identical to the base file's, the tuned norms
  changed, the weights hash recomputed, no bigger than the base plus the prompt tensors
  (and their header entries);
* raw clips read directly (the fast path) give the patches the engine makes of them
  (upm-run --dump-views, the plain path);
* the official per-class subset: int(n_c * p) + 1 clips of every class;
* interference.py on the tiny fixture model: one 3 x 3 matrix per layer, diagonal 1.
Exit 0 = pass, 1 = fail, 77 = skipped (PyTorch or numpy missing)."""

import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOOLS = os.path.join(ROOT, "tools")
MODEL = os.path.join(ROOT, "models", "uniperceiver-synth-moe.upm")
MARGIN = 0.25


def main():
    try:
        import numpy as np
        import torch
    except ImportError:
        print("SKIP: PyTorch/numpy not available")
        return 77
    sys.path.insert(0, TOOLS)
    import interference
    import prompt_tune as pt
    import synthtasks
    import upmgguf

    failures = []

    def check(cond, what):
        print("%s: %s" % ("ok" if cond else "FAIL", what), flush=True)
        if not cond:
            failures.append(what)

    build = os.environ.get("UPM_BUILD_ROOT") or os.path.join(ROOT, "build")
    upm_run = os.path.join(build, "tools", "upm-run")
    upm_eval = os.path.join(build, "tools", "upm-eval")

    # the official DATA_PERCENTAGE sampling
    y = [0] * 250 + [1] * 120 + [2] * 7
    sub = pt.per_class_subset(y, 1, random.Random(0))
    counts = [sum(1 for i in sub if y[i] == c) for c in range(3)]
    check(counts == [3, 2, 1], "1 %% of 250/120/7 per class: int(n*0.01)+1 = 3/2/1 (got %s)" % counts)
    check(len(pt.per_class_subset(y, 100, random.Random(0))) == len(y), "100 % keeps all")

    with tempfile.TemporaryDirectory(prefix="upm-prompt-tune-test-") as d:
        tr, te = os.path.join(d, "train"), os.path.join(d, "test")
        csv_tr = synthtasks.make_task("compass", 96, 2_000_000, tr)
        csv_te = synthtasks.make_task("compass", 120, 10_600_000, te)

        # fast path (raw frames of the model's size) against the engine's preprocessing
        kv, sd, _, _ = pt.read_upm(MODEL)
        base, cfg = pt.build_base(kv, sd)
        loader = pt.ClipLoader(MODEL, cfg, upm_run)
        try:
            clip = os.path.join(tr, "clip_2000000.rgb")
            kind, frames = loader.load(clip)
            fast = base.patchify(frames[None])[0].numpy()
            plain = loader.engine_patches(clip, loader.raw_frames(clip))
        finally:
            loader.close()
        check(kind == "frames", "a raw clip of the model's size is read directly")
        diff = float(np.abs(fast - plain).max())
        check(diff < 1e-5, "its patches equal the engine's (--dump-views): max diff %.2e" % diff)

        zero = synthtasks.engine_accuracy(MODEL, te, csv_te, upm_eval)["accuracy"]
        print("zero-shot (C engine, typed labels): %.3f" % zero)
        out = os.path.join(d, "tuned.upm")
        js = os.path.join(d, "tuned.json")
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "prompt_tune.py"), "--model", MODEL,
                            "--data", tr, "--labels", csv_tr, "--out", out, "--iters", "30",
                            "--batch", "16", "--eval-every", "10", "--threads", "2",
                            "--progress", "never", "--json", js],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
        sys.stdout.write(r.stdout[-2000:])
        check(r.returncode == 0, "prompt_tune.py exits 0 (got %d)" % r.returncode)
        if r.returncode != 0:
            return 1
        summ = json.load(open(js))
        tuned = synthtasks.torch_accuracy(out, te, csv_te)["accuracy"]
        print("prompt-tuned (PyTorch forward of the file): %.3f" % tuned)
        check(tuned >= zero + MARGIN, "prompt tuning beats zero-shot by >= %.2f on held-out clips "
              "(%.3f vs %.3f)" % (MARGIN, tuned, zero))
        eng = synthtasks.engine_accuracy(out, te, csv_te, upm_eval, labels=summ["labels"])["accuracy"]
        print("prompt-tuned (C engine, the model's labels scored by its head): %.3f" % eng)
        check(eng >= zero + MARGIN, "the C engine's tuned accuracy beats zero-shot by >= %.2f "
              "(%.3f vs %.3f)" % (MARGIN, eng, zero))
        check(abs(eng - tuned) <= 0.02, "C engine and PyTorch agree on the tuned file (%.3f vs %.3f)"
              % (eng, tuned))

        # prompt_tune.py's training forward against the independent reference
        # (tools/reference.py, float64) on the written file
        import train
        from reference import Reference
        rsd, rkv = train.upm_to_official(out)
        ref = Reference(rsd, heads=int(rkv["uniperceiver.attention.head_count"]))
        tkv0, tsd0, tprompt, _ = pt.read_upm(out)
        tbase, _ = pt.build_base(tkv0, tsd0)
        pm = pt.PromptModel(tbase, len(summ["labels"]), tprompt)
        ids = [pt._label_ids(tkv0, lab) for lab in summ["labels"]]
        worst = 0.0
        for name in ("clip_10600000.rgb", "clip_10600001.rgb"):
            frames = np.fromfile(os.path.join(te, name), dtype=np.uint8).reshape(cfg["frames"], cfg["size"], cfg["size"], 3)
            x = tbase.patchify(frames[None])
            with torch.no_grad():
                mine = pm.logits(x, cfg["frames"], ids)[0].double()
            h = ref.visual_hidden(x[0].double(), cfg["frames"], "cls_input")[0]
            theirs = ref.class_logits(h, ref.text_features(ids, "cls_target"))
            worst = max(worst, float((mine - theirs.detach()).abs().max()))
        check(worst < 1e-3, "the tuning forward equals reference.py's on the tuned file: max logit diff %.2e"
              % worst)

        # the file
        bkv, bt, btypes = upmgguf.read_gguf(MODEL, with_types=True)
        tkv, tt, ttypes = upmgguf.read_gguf(out, with_types=True)
        L, D = int(bkv["uniperceiver.block_count"]), int(bkv["uniperceiver.embedding_length"])
        check(int(tkv.get("uniperceiver.prompt.length", 0)) == 10, "prompt length 10")
        check(tkv.get("uniperceiver.prompt.shared_target") is True, "shared target prompts")
        check(tkv.get("uniperceiver.prompt.task") == "classify", "task classify")
        check(list(tkv.get("uniperceiver.prompt.labels", [])) == summ["labels"],
              "labels in fc_prompt order: %s" % summ["labels"])
        C = len(summ["labels"])
        want = {"blk.%d.prompt" % l: (10, D) for l in range(L)}
        want.update({"spe_bias": (D,), "cls_prompt.weight": (C, D), "cls_prompt.bias": (C,),
                     "cls_prompt.similarity_weight": (1,)})
        for name, shape in want.items():
            check(name in tt and tuple(np.shape(tt[name])) == shape, "%s %s" % (name, shape))
        norms = {n for n in bt if n.split(".")[-2] in ("attn_norm", "ffn_norm", "embd_norm", "post_norm")}
        check(len(norms) == 4 * L + 4, "%d norm tensors tuned" % len(norms))
        cached = {n for n in bt if n == "vocab.features" or (n.startswith("labelset.") and n.endswith(".features"))}
        same = all(np.array_equal(np.asarray(bt[n]), np.asarray(tt[n])) for n in bt
                   if n not in norms and n not in cached)
        check(same, "every other tensor is bit-identical to the base file's")
        changed = sum(not np.array_equal(np.asarray(bt[n]), np.asarray(tt[n])) for n in norms)
        check(changed >= L, "the tuned norms changed (%d of %d)" % (changed, len(norms)))
        check((set(bt) - cached) | set(want) == set(tt),
              "no other tensor added or lost (cached target features of the base dropped)")
        check(tkv["uniperceiver.weights_sha256"] == upmgguf.tensor_data_sha256(out)
              and tkv["uniperceiver.weights_sha256"] != bkv["uniperceiver.weights_sha256"],
              "weights hash recomputed (caches keyed by it never mix base and tuned)")
        prompt_bytes = sum(int(np.prod(s)) * 4 for s in want.values())
        # header: the new tensors' entries (name, dims, type, offset) and alignment, the 4 keys
        slack = sum(len(n) + 8 + 4 * 8 + 12 + 64 for n in want) + 512 + sum(len(s) + 8 for s in summ["labels"])
        grow = os.path.getsize(out) - os.path.getsize(MODEL)
        check(grow <= prompt_bytes + slack, "file grew by %d bytes: prompt tensors %d + header %d at most"
              % (grow, prompt_bytes, slack))

    # interference invariants on the tiny fixture model
    fixture = os.path.join(os.environ.get("UPM_FIXTURES", os.path.join(HERE, "fixtures")), "tiny-moe.upm")
    res = interference.measure(fixture, samples=3, group=3, progress=False)
    check(len(res["layers"]) == 4 and res["moe_layers"] == [0, 2], "4 layers, MoE in 0 and 2")
    for lay in res["layers"]:
        for key in ("matrix", "ratio_of_means"):
            m = np.array(lay[key])
            check(m.shape == (3, 3) and np.allclose(np.diag(m), 1.0) and np.isfinite(m).all(),
                  "layer %d %s: 3 x 3, diagonal 1, finite" % (lay["layer"], key))
    g = {"a": np.random.RandomState(0).randn(5, 7), "b": np.random.RandomState(1).randn(5, 7)}
    g["c"] = -g["a"]
    _, m = interference.interference_matrix(g)
    check(abs(m[0, 2] + 1) < 1e-9 and abs(m[2, 0] + 1) < 1e-9,
          "a task with opposite gradients interferes at -1 exactly")

    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
