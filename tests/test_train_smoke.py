#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Smoke test of tools/train.py: a tiny MoE run (--smoke) into a temporary directory.

Checks that the training loss went down, that the exported .upm loads with
tools/upmgguf.py with the expected metadata, and that the float64 reference forward
(tools/reference.py) on the exported weights matches the trained model.
Exit 0 = pass, 1 = fail, 77 = skipped (PyTorch or numpy missing)."""

import csv
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, os.pardir, "tools")


def main():
    try:
        import numpy  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        print("SKIP: PyTorch/numpy not available")
        return 77
    sys.path.insert(0, TOOLS)
    import upmgguf
    import synthworld as sw

    failures = []

    def check(cond, what):
        print("%s: %s" % ("ok" if cond else "FAIL", what))
        if not cond:
            failures.append(what)

    # One video encode serves classification and retrieval only where their
    # input rows route alike: task level gives them different task rows.
    import train
    for routing, alike in (("attribute", True), ("modality", True), ("token", True),
                           ("context", True), ("task", False)):
        got = train.rows_route_alike({"routing": routing}, "cls_input", "retrieval_input")
        check(got == alike, "%s routing: cls_input and retrieval_input route %s"
              % (routing, "alike" if alike else "apart"))
    check(not train.rows_route_alike({"routing": "attribute"}, "cls_target", "caption_text"),
          "attribute routing: cls_target and caption_text route apart")

    with tempfile.TemporaryDirectory(prefix="upm-train-smoke-") as d:
        out = os.path.join(d, "run")
        upm = os.path.join(d, "smoke.upm")
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "train.py"), "--smoke",
                            "--out", out, "--export", upm, "--threads", "2"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=420)
        sys.stdout.write(r.stdout[-3000:])
        check(r.returncode == 0, "train.py --smoke exits 0 (got %d)" % r.returncode)
        rows = list(csv.DictReader(open(os.path.join(out, "loss.csv")))) \
            if os.path.exists(os.path.join(out, "loss.csv")) else []
        check(len(rows) >= 4, "loss.csv has >= 4 rows")
        if len(rows) >= 4:
            first, last = float(rows[0]["loss"]), float(rows[-1]["loss"])
            check(last < 0.9 * first, "loss went down (%.3f -> %.3f)" % (first, last))
        check(os.path.exists(upm), "export written")
        if os.path.exists(upm):
            kv, tensors = upmgguf.read_gguf(upm)
            check(kv.get("general.architecture") == "uniperceiver", "architecture key")
            check(int(kv["uniperceiver.moe.expert_count"]) == 8, "8 experts")
            check(list(kv["uniperceiver.moe.layers"]) == [0], "MoE layer 0 (even layers)")
            labels = list(kv.get("uniperceiver.labelset.motion.labels", []))
            check(labels == sw.class_names(), "motion label set = class names")
            toks = list(kv["tokenizer.ggml.tokens"])
            check(len(toks) == tensors["token_embd.weight"].shape[0], "vocab size = token rows")
            check(toks[-5:] == ["<|startoftext|>", "<|endoftext|>", "<|mask|>", "<|gen|>",
                                "<|spe|>"], "special tokens last")
            # re-tokenise the world's words with the stored merges via tools/clip_bpe.py
            from clip_bpe import ClipBpe
            import gzip
            bpe_file = os.path.join(d, "merges.txt.gz")
            with gzip.open(bpe_file, "wt", encoding="utf-8") as f:
                f.write("#version\n" + "\n".join(kv["tokenizer.ggml.merges"]))
            bpe = ClipBpe(bpe_file)
            check(bpe.vocab == toks, "clip_bpe.py rebuilds the stored token list")
            ids = bpe.encode("a green square <|endoftext|>")
            check(len(ids) == 4 and ids[-1] == len(toks) - 4,
                  "'a green square <|endoftext|>' = 4 tokens ending in EOT")
            # reference forward on the exported file vs the trained model
            import train
            summ = json.load(open(os.path.join(out, "summary.json")))
            check(summ["verify_max_diff"] < 1e-4,
                  "reference features from the export match (%.2e)" % summ["verify_max_diff"])
            sd, _ = train.upm_to_official(upm)
            from reference import Reference
            import torch
            ref = Reference(sd, heads=int(kv["uniperceiver.attention.head_count"]))
            ck = torch.load(os.path.join(out, "checkpoint.pt"), map_location="cpu")
            tok = train.Tokenizer(os.path.join(out, "bpe_synth.txt.gz"))
            model = train.UniPerceiver(ck["cfg"], tok.V)
            model.load_state_dict(ck["model"])
            worst = train.verify_export(model, tok, ck["cfg"], upm, log=print,
                                        seed=sw.HELDOUT_SEED_BASE + 123)
            check(worst < 1e-4, "independent re-check on another clip (%.2e)" % worst)
        # token routing (dynamic): noisy top-2 + balance loss, export and reference check
        out_t = os.path.join(d, "run-token")
        upm_t = os.path.join(d, "smoke-token.upm")
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "train.py"), "--smoke",
                            "--routing", "token", "--steps", "10", "--out", out_t,
                            "--export", upm_t, "--threads", "2"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=420)
        sys.stdout.write(r.stdout[-1500:])
        check(r.returncode == 0, "train.py --smoke --routing token exits 0 (got %d)" % r.returncode)
        if os.path.exists(upm_t):
            kv, tensors = upmgguf.read_gguf(upm_t)
            check(kv.get("uniperceiver.moe.routing") == "token", "routing key 'token'")
            check("blk.0.attn_gate.wg.weight" in tensors and "blk.0.attn_gate.tag.weight" not in tensors,
                  "token gates store wg only")
            summ = json.load(open(os.path.join(out_t, "summary.json")))
            check(summ["verify_max_diff"] < 1e-4,
                  "token routing: reference features from the export match (%.2e)"
                  % summ["verify_max_diff"])
        else:
            check(False, "token routing export written")
    if failures:
        print("FAILED: %d check(s)" % len(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
