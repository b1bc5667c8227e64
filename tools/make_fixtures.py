#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generate the small random test models tests/fixtures/tiny-{dense,moe}.upm and
route-{modality,task,token,context}.upm (one per MoE routing level; tiny-moe is the
attribute level) and their expectation files <model>-{image,video}.expect.gguf from the
PyTorch reference
(tools/reference.py).  The models go through tools/convert.py (torch-format checkpoint
written to a temporary directory), so the converter is exercised too.

Expectation file (general.architecture = "upm-fixture"):
  input.patches [n_frames*grid^2, 3P^2] F32, input.n_frames u32, input.n_labels u32,
  input.label.<i>.ids i32[], expect.cls.spe_hidden [D], expect.cls.feature [D],
  expect.label.features [n, D], expect.cls.logits [n], expect.retrieval.feature [D],
  expect.retrieval.text_features [n, D], expect.routing.<attr>.experts u32[] /
  .weights f32[] (MoE models), expect.caption.ids i32[], expect.caption.score f32,
  expect.caption.step0_logprobs [V]; for the token and context levels instead of
  expect.routing.*: expect.token_routing.{cls,label0}.experts u32[] (per MoE layer, gate
  attn then ffn, token: the two expert ids, larger logit first) of the cls_input forward and
  of label 0 encoded as a cls_target.
"""

import argparse
import os
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert  # noqa: E402
import reference  # noqa: E402
import upmgguf  # noqa: E402

TINY = dict(D=64, layers=4, heads=2, ffn=128, patch=8, grid=4, temporal=4, ctx=64)
TINY_MERGES = 40
TINY_VOCAB = 512 + TINY_MERGES + 5
MARGIN = 1e-3
FIXTURE_MARGIN = 2e-3
# the per-level routing fixtures: smaller still (3 layers, 2 of them MoE with 4 experts)
ROUTE_TINY = dict(D=32, layers=3, heads=2, ffn=64, patch=8, grid=4, temporal=4, ctx=64)
ROUTE_MOE = dict(moe_layers=(0, 2), n_experts=4)
ROUTE_LEVELS = ("modality", "task", "token", "context")
# dynamic routing: every top-2 decision of the reference (first vs second and second vs
# third logit) must be this far from a tie, so that float32 picks the same experts
GATE_MARGIN = 1e-4
# their beam decisions: ten times the float32-vs-float64 step log-prob difference (~2e-5)
ROUTE_MARGIN = 3e-4
# prompt-tuned fixtures: the official prompt length, one class per test label
PROMPT_LENGTH = 10
PROMPT_CLASSES = 5


def gate_gap(trace):
    """Smallest gap between the 1st/2nd and 2nd/3rd gate logits over a routing trace."""
    m = float("inf")
    for _, _, _, lg in trace:
        s = torch.sort(lg.reshape(-1, lg.shape[-1]), -1, descending=True).values
        m = min(m, float((s[:, 0] - s[:, 1]).min()), float((s[:, 1] - s[:, 2]).min()))
    return m


def trace_experts(trace):
    """The expert id pairs of a traced single-sequence encode, flattened."""
    return [int(e) for _, _, ex, _ in trace for e in ex[0].reshape(-1)]


def make_inputs(ref, n_frames, seed, n_labels=5):
    """Random normalised patch rows and label id lists (ids < 512, lengths 1..6, + EOT)."""
    rng = np.random.RandomState(seed)
    patches = rng.randn(n_frames * ref.grid * ref.grid, 3 * ref.P * ref.P).astype(np.float32)
    labels = []
    for i in range(n_labels):
        n = 1 + (i + rng.randint(0, 6)) % 6
        labels.append([int(x) for x in rng.randint(0, 512, size=n)] + [ref.eot_id])
    return patches, labels


def pick_inputs(ref, n_frames, seed, tries=40, margin=MARGIN, log=None, min_distinct=1, caption_max_len=21):
    """make_inputs() with the first seed >= seed whose caption beam decisions all have a
    margin > margin (and whose caption has >= min_distinct different ids).
    Returns (patches, labels, expectations, seed)."""
    for s in range(seed, seed + tries):
        patches, labels = make_inputs(ref, n_frames, s)
        exp = compute_expectations(ref, patches, n_frames, labels, caption_max_len=caption_max_len)
        if log:
            log("  input seed %d (%d frames): caption %s score %.5f, min beam margin %.3g"
                % (s, n_frames, exp["caption_ids"], exp["caption_score"], exp["caption_margin"]))
        if ref.routing not in reference.STATIC_LEVELS and log:
            log("    smallest gate logit gap %.3g" % exp["gate_gap"])
        if exp["caption_margin"] > margin and len(set(exp["caption_ids"])) >= min_distinct \
                and exp.get("gate_gap", 1.0) > GATE_MARGIN:
            return patches, labels, exp, s
    raise RuntimeError("no input seed in %d..%d gives beam margins > %g" % (seed, seed + tries - 1, margin))


def compute_expectations(ref, patches, n_frames, labels, with_caption=True, caption_max_len=21):
    """Everything an expectation file holds, as numpy (float64 where computed).
    caption_max_len must equal the model's uniperceiver.caption.max_length."""
    out = {}
    dynamic = ref.routing not in reference.STATIC_LEVELS
    if dynamic:
        ref.trace = []
        ref.visual_feature(patches, n_frames, "cls_input")
        out["token_routing_cls"] = trace_experts(ref.trace)
        all_trace = ref.trace
        ref.trace = []
        ref.text_features(labels[:1], "cls_target")
        out["token_routing_label0"] = trace_experts(ref.trace)
        all_trace += ref.trace
        ref.trace = all_trace
    f_cls, h_spe = ref.visual_feature(patches, n_frames, "cls_input")
    out["spe_hidden"] = h_spe
    out["cls_feature"] = f_cls
    lf = ref.text_features(labels, "cls_target")
    out["label_features"] = lf
    scale = ref.logit_scale("img_cls" if n_frames == 1 else "video_cls")
    out["cls_logits"] = scale * (lf @ f_cls)
    if ref.has_cls_prompt():  # prompt-tuned: similarity_weight x that + fc_prompt
        out["cls_prompt_logits"] = ref.class_logits(
            h_spe, lf, "img_cls" if n_frames == 1 else "video_cls")
    out["ret_feature"], _ = ref.visual_feature(patches, n_frames, "retrieval_input")
    out["ret_text_features"] = ref.text_features(labels, "retrieval_target")
    routing = {}
    for name in (reference.ATTRIBUTE_NAMES if ref.moe_layers and not dynamic else []):
        ex, wt = [], []
        for l in ref.moe_layers:
            for gate in ("attn", "ffn"):
                e, w, _ = ref.route(l, gate, name)
                ex += e
                wt += w
        routing[name] = (ex, wt)
    out["routing"] = routing
    if with_caption:
        ids, score, info = ref.caption(patches, n_frames, max_len=caption_max_len)
        out["caption_ids"] = ids
        out["caption_score"] = score
        out["caption_step0"] = info["step0_logprobs"]
        out["caption_margin"] = min(info["margins"])
        out["caption_beams"] = info["beams"]
    if dynamic:
        out["gate_gap"] = gate_gap(ref.trace)
        ref.trace = None
    out = {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v) for k, v in out.items()}
    return out


def write_expectations(path, ref, patches, n_frames, labels, exp=None):
    """Write one expectation file; returns the expectations dict."""
    if exp is None:
        exp = compute_expectations(ref, patches, n_frames, labels)
    w = upmgguf.GGUFWriter()
    w.add_string("general.architecture", "upm-fixture")
    w.add_u32("input.n_frames", n_frames)
    w.add_u32("input.n_labels", len(labels))
    for i, ids in enumerate(labels):
        w.add_array("input.label.%d.ids" % i, ids, upmgguf.GGUF_I32)
    if ref.moe_layers:
        for name, (ex, wt) in exp["routing"].items():
            w.add_array("expect.routing.%s.experts" % name, ex, upmgguf.GGUF_U32)
            w.add_array("expect.routing.%s.weights" % name, wt, upmgguf.GGUF_F32)
        for what in ("cls", "label0"):
            if "token_routing_" + what in exp:
                w.add_array("expect.token_routing.%s.experts" % what, exp["token_routing_" + what],
                            upmgguf.GGUF_U32)
    w.add_array("expect.caption.ids", exp["caption_ids"], upmgguf.GGUF_I32)
    w.add_f32("expect.caption.score", exp["caption_score"])
    f32 = np.float32
    w.add_tensor("input.patches", np.asarray(patches, f32))
    w.add_tensor("expect.cls.spe_hidden", exp["spe_hidden"].astype(f32))
    w.add_tensor("expect.cls.feature", exp["cls_feature"].astype(f32))
    w.add_tensor("expect.label.features", exp["label_features"].astype(f32))
    w.add_tensor("expect.cls.logits", exp["cls_logits"].astype(f32))
    w.add_tensor("expect.retrieval.feature", exp["ret_feature"].astype(f32))
    w.add_tensor("expect.retrieval.text_features", exp["ret_text_features"].astype(f32))
    w.add_tensor("expect.caption.step0_logprobs", exp["caption_step0"].astype(f32))
    if "cls_prompt_logits" in exp:
        w.add_tensor("expect.cls.prompt_logits", exp["cls_prompt_logits"].astype(f32))
    w.write(path)
    return exp


def max_diff_f32(sd, patches, n_frames, labels, exp64, routing="attribute"):
    """Max abs difference of the float32 reference against the float64 one."""
    ref32 = reference.Reference(sd, heads=TINY["heads"], dtype=torch.float32, routing=routing)
    e32 = compute_expectations(ref32, patches, n_frames, labels, with_caption=False)
    keys = ["spe_hidden", "cls_feature", "label_features", "cls_logits", "ret_feature", "ret_text_features"]
    d = max(float(np.abs(e32[k].astype(np.float64) - exp64[k]).max()) for k in keys)
    f32 = ref32.feature(ref32.caption_step_hidden(ref32.embed_patches(patches, n_frames), [], 0))
    lp = torch.log_softmax(ref32.logit_scale("caption") * (ref32.vocab_features() @ f32), 0).numpy()
    d_lp = float(np.abs(lp.astype(np.float64) - exp64["caption_step0"]).max())
    return d, d_lp


def model_state_dict(moe, seed, routing=None, prompt=None):
    """The random model of a fixture: tiny-dense / tiny-moe (routing None) or route-LEVEL;
    with prompt (shared_target: True / False), a prompt-tuned model on the route-LEVEL
    shapes (dense without moe), its tensors random: prompt-LEVEL / prompt-dense."""
    if prompt is not None:
        sd = reference.random_state_dict(vocab=TINY_VOCAB, seed=seed, routing=routing or "attribute",
                                         **ROUTE_TINY, **(ROUTE_MOE if moe else {}))
        return reference.add_random_prompts(sd, length=PROMPT_LENGTH, shared_target=prompt,
                                            n_classes=PROMPT_CLASSES, seed=seed + 1)
    if routing is None:
        return reference.random_state_dict(vocab=TINY_VOCAB, moe_layers=(0, 2) if moe else (),
                                           seed=seed, **TINY)
    return reference.random_state_dict(vocab=TINY_VOCAB, seed=seed, routing=routing,
                                       **ROUTE_TINY, **ROUTE_MOE)


def build_model(out_dir, name, moe, seed, bpe, log=print, routing=None, prompt=None):
    sd = model_state_dict(moe, seed, routing, prompt)
    path = os.path.join(out_dir, name + ".upm")
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, name + ".pth")
        torch.save({"model": sd}, ckpt)
        sd_loaded, fmt = convert.load_checkpoint(ckpt)
        assert fmt == "torch"
        convert.convert_state_dict(sd_loaded, path, heads=TINY["heads"], bpe=bpe,
                                   bpe_merges=TINY_MERGES, merge_video_type=False,
                                   clip_frames=4, name=name, log=log,
                                   routing=routing or "attribute",
                                   prompt_labels=(["class %d" % i for i in range(PROMPT_CLASSES)]
                                                  if prompt is not None else None))
    return sd, path


def main(argv=None):
    ap = argparse.ArgumentParser(description="Generate tests/fixtures/tiny-*.upm and their "
                                 "*.expect.gguf files with the PyTorch reference.")
    ap.add_argument("--out", default=os.path.join(HERE, os.pardir, "tests", "fixtures"))
    ap.add_argument("--bpe", default=convert.DEFAULT_BPE)
    ap.add_argument("--max-seed-tries", type=int, default=50)
    ap.add_argument("--only", action="append", default=None, metavar="NAME",
                    help="generate only this model's fixtures (tiny-dense, tiny-moe, route-token, "
                    "...); may be repeated")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(4)
    # (name, MoE, first model seed, required beam margin, routing); the seeds were found by
    # this search
    todo = [("tiny-dense", False, 1037, FIXTURE_MARGIN, None, None),
            ("tiny-moe", True, 2000, MARGIN, None, None)]
    todo += [("route-" + lv, True, 3000 + 100 * i, ROUTE_MARGIN, lv, None)
             for i, lv in enumerate(ROUTE_LEVELS)]
    # prompt-tuned (issue 23): every routing level and a dense model; target prompts
    # shared on prompt-dense, -task and -context, separate on the others
    todo += [("prompt-dense", False, 5000, ROUTE_MARGIN, None, True),
             ("prompt-attribute", True, 5100, ROUTE_MARGIN, "attribute", False)]
    todo += [("prompt-" + lv, True, 5200 + 100 * i, ROUTE_MARGIN, lv, lv in ("task", "context"))
             for i, lv in enumerate(ROUTE_LEVELS)]
    for name, moe, seed0, margin, routing, prompt in todo:
        if args.only and name not in args.only:
            continue
        for seed in range(seed0, seed0 + args.max_seed_tries):
            sd = model_state_dict(moe, seed, routing, prompt)
            ref = reference.Reference(sd, heads=TINY["heads"], routing=routing or "attribute")
            exps = {}
            print("%s: model seed %d" % (name, seed))
            try:
                for kind, n_frames in (("image", 1), ("video", 4)):
                    patches, labels, exp, s = pick_inputs(ref, n_frames, seed * 100 + 10 * n_frames,
                                                          tries=10, margin=margin, log=print,
                                                          min_distinct=4)
                    exps[kind] = (patches, labels, n_frames, exp)
            except RuntimeError as e:
                print("  " + str(e))
                continue
            break
        else:
            sys.exit("no seed with beam margins > %g for %s" % (margin, name))
        _, path = build_model(args.out, name, moe, seed, args.bpe, routing=routing, prompt=prompt)
        # the reference must agree with what the converted file holds: reload it
        for kind, (patches, labels, n_frames, exp) in exps.items():
            ep = os.path.join(args.out, "%s-%s.expect.gguf" % (name, kind))
            write_expectations(ep, ref, patches, n_frames, labels, exp)
            d, d_lp = max_diff_f32(sd, patches, n_frames, labels, exp, routing or "attribute")
            print("  %s: wrote %s (%d bytes); float32 vs float64 reference: max |diff| %.3g "
                  "(features/logits), %.3g (step-0 log-probs)" % (kind, ep, os.path.getsize(ep), d, d_lp))
        print("  %s: %d bytes" % (path, os.path.getsize(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
