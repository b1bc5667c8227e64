# SPDX-License-Identifier: LGPL-2.1-or-later
"""Prompt-tuned models (issue 23, docs/prompt-tuning.md), the tools and the loader:

* tools/convert.py reads prompt-tuned checkpoints in the official layouts (torch {'model': sd}
  and DeepSpeed names, tools/make_official_checkpoint.checkpoint_object): the prompt-attribute
  fixture's state dict (tools/train.upm_to_official) saved both ways converts back to the same
  tensors, and the C engine passes the fixture's expectations on the converted file;
* convert.write_prompt_tuned (what tools/prompt_tune.py writes through) rebuilds the fixture
  from the base model and the tuned tensors, no bigger than the base plus the prompt tensors;
* the loader rejects bad prompt tensors and keys with an error naming them (upm-inspect);
* the guard: the same model without its prompts fails the fixture's expectations;
* reference.Reference(differentiable=True) back-propagates into the prompt tensors.

Exit status: 0 pass, 1 fail, 77 skip (no torch)."""

import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:
    print("1..0 # SKIP torch/numpy not available (%s)" % e)
    sys.exit(77)

SRC = os.environ.get("UPM_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
BUILD = os.environ.get("UPM_BUILD_ROOT", "")
BPE = os.environ.get("UPM_CLIP_VOCAB", os.path.join(SRC, "data", "clip-bpe", "bpe_simple_vocab_16e6.txt.gz"))
FIXTURES = os.environ.get("UPM_FIXTURES", os.path.join(SRC, "tests", "fixtures"))
TOOLS = os.path.join(SRC, "tools")
sys.path.insert(0, TOOLS)
import convert  # noqa: E402
import make_official_checkpoint  # noqa: E402
import reference  # noqa: E402
import train  # noqa: E402
import upmgguf  # noqa: E402

FIXTURE = os.path.join(FIXTURES, "prompt-attribute.upm")
EXPECT = os.path.join(FIXTURES, "prompt-attribute-video.expect.gguf")
INSPECT = os.path.join(BUILD, "tools", "upm-inspect")
FIXTURE_CHECK = os.path.join(BUILD, "tests", "upm-fixture-check")
LABELS = ["class %d" % i for i in range(5)]
PROMPT_NAMES = ("spe_bias", "cls_prompt.")

results = []


def check(cond, desc, detail=""):
    results.append(bool(cond))
    print("%s %d - %s%s" % ("ok" if cond else "not ok", len(results), desc,
                            "" if cond or not detail else "  # " + detail))
    return bool(cond)


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    return p.returncode, p.stdout + p.stderr


def is_prompt_tensor(name):
    return name.endswith(".prompt") or name.endswith(".prompt_target") or name.startswith(PROMPT_NAMES)


def same_tensors(a_path, b_path):
    """(equal, detail): every tensor of both files, same names, shapes and values."""
    _, ta = upmgguf.read_gguf(a_path)
    _, tb = upmgguf.read_gguf(b_path)
    if set(ta) != set(tb):
        return False, "names differ: %s" % sorted(set(ta) ^ set(tb))[:5]
    bad = [n for n in ta if ta[n].shape != tb[n].shape or not np.array_equal(ta[n], tb[n])]
    return not bad, "differ: %s" % bad[:5]


def rewrite(src, dst, drop=(), replace=None, drop_keys=(), set_keys=None):
    """A copy of the GGUF file src without the tensors / keys named, with some replaced."""
    kv, tensors, types = upmgguf.read_gguf(src, with_types=True)
    w = upmgguf.GGUFWriter(alignment=int(kv.get("general.alignment", 64)))
    for k, v in kv.items():
        if k == "general.alignment" or k in drop_keys or (set_keys and k in set_keys):
            continue
        w._add(k, types[k][0], v, types[k][1])
    for k, (vtype, v, etype) in (set_keys or {}).items():
        w._add(k, vtype, v, etype)
    for n, a in tensors.items():
        if (drop(n) if callable(drop) else n in drop):
            continue
        if replace and n in replace:
            w.add_tensor(n, replace[n][0], replace[n][1])
        else:
            w.add_tensor(n, a, types[n][1])
    w.write(dst)


def fixture_check(model):
    if not os.access(FIXTURE_CHECK, os.X_OK):
        return None, "no upm-fixture-check"
    return run([FIXTURE_CHECK, model, EXPECT])


def test_converter(tmp):
    sd, kv = train.upm_to_official(FIXTURE)
    check(any("deep_prompt_embedding.target_embedding" in k for k in sd) and "fc_prompt.weight" in sd,
          "upm_to_official reads the prompt tensors back in official names")
    # as set_s_token_bias registers it twice in the official state dict
    sd["token_embed.s_token_bias"] = sd["s_token_bias"]
    labels = os.path.join(tmp, "labels.txt")
    with open(labels, "w") as f:
        f.write("\n".join(LABELS) + "\n")
    for layout in ("torch", "ds"):
        ckpt = os.path.join(tmp, "prompt-%s.pth" % layout)
        obj = make_official_checkpoint.checkpoint_object(dict(layout=layout), dict(sd))
        # the state dict alone: torch.load's weights_only default (PyTorch >= 2.6) refuses the
        # engine's bookkeeping objects, which the converter never reads
        torch.save({"module": obj["module"]} if layout == "ds" else obj, ckpt)
        out = os.path.join(tmp, "prompt-%s.upm" % layout)
        rc, text = run([sys.executable, os.path.join(TOOLS, "convert.py"), ckpt, "-o", out,
                        "--bpe", BPE, "--bpe-merges", "40", "--heads", "2", "--clip-frames", "4",
                        "--merge-video-type", "no", "--prompt-labels", labels,
                        "--name", "prompt-attribute"])
        check(rc == 0 and "prompt-tuned: 10 prompt tokens per layer, separate target prompts, "
              "fc_prompt with 5 classes" in text, "convert.py reads the %s layout's prompts" % layout,
              text[-300:])
        if rc != 0:
            continue
        same, detail = same_tensors(out, FIXTURE)
        check(same, "%s layout: the converted tensors equal the fixture's" % layout, detail)
        okv, _ = upmgguf.read_gguf(out)
        check(okv.get("uniperceiver.prompt.labels") == LABELS
              and okv.get("uniperceiver.prompt.task") == "classify"
              and okv.get("uniperceiver.prompt.shared_target") is False
              and okv.get("uniperceiver.prompt.length") == 10,
              "%s layout: the prompt keys" % layout)
        rc, text = fixture_check(out)
        if rc is None:
            print("ok %d # SKIP %s" % (len(results) + 1, text))
            results.append(True)
        else:
            check(rc == 0, "%s layout: the C engine on the converted file matches the reference" % layout,
                  text[-400:])
    # fc_prompt without labels, labels without a head
    ckpt = os.path.join(tmp, "prompt-torch.pth")
    rc, text = run([sys.executable, os.path.join(TOOLS, "convert.py"), ckpt, "-o",
                    os.path.join(tmp, "x.upm"), "--bpe", BPE, "--bpe-merges", "40", "--heads", "2",
                    "--merge-video-type", "no"])
    check(rc == 1 and "fc_prompt has 5 classes: give 5 labels" in text,
          "convert.py refuses a classification head without its labels", text[-200:])


def test_write_prompt_tuned(tmp):
    base = os.path.join(tmp, "base.upm")
    rewrite(FIXTURE, base, drop=is_prompt_tensor,
            drop_keys=[k for k in convert.PROMPT_KV])
    sd, _ = train.upm_to_official(FIXTURE)
    tuned = {k: v for k, v in sd.items()
             if "deep_prompt" in k or k in ("s_token_bias", "fc_prompt.weight", "fc_prompt.bias",
                                            "similarity_weight")
             or ".norm1." in k or ".norm2." in k or k.startswith("token_embed.embeddings_norm")
             or k.startswith("loss_prepare.ln_post")}
    out = os.path.join(tmp, "tuned.upm")
    convert.write_prompt_tuned(base, out, tuned, labels=LABELS, name="prompt-attribute", log=lambda *a: None)
    same, detail = same_tensors(out, FIXTURE)
    check(same, "write_prompt_tuned: base + tuned tensors = the fixture", detail)
    _, t = upmgguf.read_gguf(out)
    prompt_bytes = sum(a.nbytes for n, a in t.items() if is_prompt_tensor(n))
    grow = os.path.getsize(out) - os.path.getsize(base)
    check(grow <= prompt_bytes + 64 * (1 + sum(is_prompt_tensor(n) for n in t)) + 4096,
          "the tuned file is the base plus the prompt tensors (+%d bytes, tensors %d)" % (grow, prompt_bytes))
    rc, text = fixture_check(out)
    check(rc in (None, 0), "the C engine on the written file matches the reference", (text or "")[-300:])


def test_loader_rejects(tmp):
    if not os.access(INSPECT, os.X_OK):
        print("ok %d # SKIP no upm-inspect" % (len(results) + 1))
        results.append(True)
        return
    _, tensors, types = upmgguf.read_gguf(FIXTURE, with_types=True)
    f32 = upmgguf.TYPE_F32
    p = tensors["blk.1.prompt"]
    cases = [
        ("blk.1.prompt wider than D", dict(replace={"blk.1.prompt": (np.zeros((10, 33), np.float32), f32)}),
         "blk.1.prompt"),
        ("blk.2.prompt_target of 9 rows",
         dict(replace={"blk.2.prompt_target": (np.zeros((9, 32), np.float32), f32)}), "blk.2.prompt_target"),
        ("blk.0.prompt stored as F16", dict(replace={"blk.0.prompt": (p.astype(np.float16), upmgguf.TYPE_F16)}),
         "blk.0.prompt"),
        ("blk.2.prompt missing", dict(drop=("blk.2.prompt",)), "blk.2.prompt"),
        ("spe_bias missing", dict(drop=("spe_bias",)), "spe_bias"),
        ("cls_prompt.bias of 4 classes", dict(replace={"cls_prompt.bias": (np.zeros(4, np.float32), f32)}),
         "cls_prompt.bias"),
        ("similarity_weight missing", dict(drop=("cls_prompt.similarity_weight",)),
         "cls_prompt.similarity_weight"),
        ("4 labels for 5 classes", dict(set_keys={"uniperceiver.prompt.labels": (
            upmgguf.GGUF_ARRAY, LABELS[:4], upmgguf.GGUF_STRING)}), "uniperceiver.prompt.labels"),
        ("prompt tensors without uniperceiver.prompt.length",
         dict(drop_keys=["uniperceiver.prompt.length"]), "uniperceiver.prompt.length"),
        ("prompt length 0", dict(set_keys={"uniperceiver.prompt.length": (upmgguf.GGUF_U32, 0, None)}),
         "uniperceiver.prompt.length"),
        ("an unknown task", dict(set_keys={"uniperceiver.prompt.task": (upmgguf.GGUF_STRING, "count", None)}),
         "uniperceiver.prompt.task"),
        ("a head in a caption-tuned model",
         dict(set_keys={"uniperceiver.prompt.task": (upmgguf.GGUF_STRING, "caption", None)}),
         "cls_prompt.weight"),
        ("shared_target true beside prompt_target tensors",
         dict(set_keys={"uniperceiver.prompt.shared_target": (upmgguf.GGUF_BOOL, True, None)}),
         "prompt_target"),
    ]
    for desc, kw, named in cases:
        path = os.path.join(tmp, "bad.upm")
        rewrite(FIXTURE, path, **kw)
        rc, text = run([INSPECT, path])
        line = [l for l in text.splitlines() if l.startswith("validation:")]
        check(rc == 1 and line and "FAILED" in line[0] and named in line[0],
              "the loader rejects %s, naming %s" % (desc, named), line[0] if line else text[-200:])
    rc, text = run([INSPECT, FIXTURE])
    check(rc == 0 and "validation: OK" in text, "the fixture itself loads")


def test_guard(tmp):
    """Without its prompts the model is another one: the expectations fail."""
    path = os.path.join(tmp, "no-prompt.upm")
    rewrite(FIXTURE, path, drop=is_prompt_tensor, drop_keys=list(convert.PROMPT_KV))
    rc, text = fixture_check(path)
    if rc is None:
        print("ok %d # SKIP %s" % (len(results) + 1, text))
        results.append(True)
        return
    failed = [l for l in text.splitlines() if l.startswith("FAIL")]
    check(rc != 0 and any("cls SPE hidden" in l for l in failed) and any("caption" in l for l in failed),
          "the model without its prompts fails the expectations (%d checks fail)" % len(failed))


def test_differentiable():
    sd, _ = train.upm_to_official(FIXTURE)
    leaves = {k: v.clone().requires_grad_(True) for k, v in sd.items()
              if "deep_prompt" in k or k in ("s_token_bias", "fc_prompt.weight", "similarity_weight")}
    sd.update(leaves)
    ref = reference.Reference(sd, heads=2, dtype=torch.float32, differentiable=True)
    check(ref.sd["s_token_bias"] is leaves["s_token_bias"], "differentiable=True keeps the given tensors")
    g = torch.Generator().manual_seed(0)
    patches = torch.randn(16, 192, generator=g)
    _, h = ref.visual_feature(patches, 1, "cls_input")
    lf = ref.text_features([[1, 2, 554], [3, 554], [4, 5, 6, 554], [7, 554], [8, 554]], "cls_target")
    loss = torch.nn.functional.cross_entropy(ref.class_logits(h, lf, "img_cls")[None], torch.tensor([2]))
    loss.backward()
    got = {k: float(v.grad.abs().sum()) if v.grad is not None else 0.0 for k, v in leaves.items()}
    check(all(x > 0 for x in got.values()),
          "gradients reach every prompt tensor (%d tensors)" % len(got),
          str([k for k, x in got.items() if x == 0][:4]))


def main():
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        test_converter(tmp)
        test_write_prompt_tuned(tmp)
        test_loader_rejects(tmp)
        test_guard(tmp)
    test_differentiable()
    print("1..%d" % len(results))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
