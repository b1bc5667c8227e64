# SPDX-License-Identifier: LGPL-2.1-or-later
"""Full-size proof (opt-in: meson test -C build --suite full-size): a RANDOM checkpoint in the
layout of one official release at the real shapes (tools/make_official_checkpoint.py MODEL),
converted with the README's command line (tools/convert.py CKPT --bpe ... -o OUT), its layout
printout and keys checked, tensors spot-checked bit-exact, and the C engine compared with the
PyTorch reference (tools/reference.py) through the expectation files of tests/test_convert.py
(make_fixtures.write_expectations + build/tests/upm-fixture-check): an image, a 2-frame clip,
label texts, retrieval, routing and a caption of CAPTION_STEPS steps.

    test_full_size.py MODEL   (base-dense-torch, base-dense-ds, base-moe-ds, large-dense-ds,
                               large-moe-ds)

The vocabulary has UPM_FULL_SIZE_MERGES merges (default 250: 767 rows; 'all' for CLIP's
48894, 49411 rows), because the reference computes the caption's vocabulary features by
brute force.  The reference runs in float64 for Base and in float32 for Large (twice as
fast; large-moe-ds has 1.4 G parameters with all experts, 11 GB in float64) unless
UPM_FULL_SIZE_F64=1.  Files go to $TMPDIR (up to 3 GB checkpoint + 6 GB model for
large-moe-ds).  Exit status: 0 pass, 1 fail, 77 skip."""

import os
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import torch
except ImportError as e:
    print("1..0 # SKIP torch/numpy not available (%s)" % e)
    sys.exit(77)

SRC = os.environ.get("UPM_SOURCE_ROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
BUILD = os.environ.get("UPM_BUILD_ROOT", "")
BPE = os.environ.get("UPM_CLIP_VOCAB", os.path.join(SRC, "data", "clip-bpe", "bpe_simple_vocab_16e6.txt.gz"))
TOOLS = os.path.join(SRC, "tools")
sys.path.insert(0, TOOLS)
import make_fixtures  # noqa: E402
import make_official_checkpoint as moc  # noqa: E402
import reference  # noqa: E402
import upmgguf  # noqa: E402

CAPTION_STEPS = 4
SEED = 7
results = []


def check(cond, desc, detail=""):
    results.append(bool(cond))
    print("%s %d - %s%s" % ("ok" if cond else "not ok", len(results), desc,
                            "" if cond or not detail else "  # " + detail), flush=True)
    return bool(cond)


def f32(t):
    return np.asarray(t.float().numpy(), np.float32)


def check_layout(name, cfg, so):
    size = {"base": "Base (D 768, 12 layers, 12 heads, FFN 3072)",
            "large": "Large (D 1024, 24 layers, 16 heads, FFN 4096)"}[cfg["size"]]
    L = cfg["moe_layers"]
    want = ["layout: %s" % ("torch" if cfg["layout"] == "torch" else "DeepSpeed"),
            "'model' state dict" if cfg["layout"] == "torch" else "'module' state dict",
            "fp32)" if cfg["dtype"] == torch.float32 else "fp16)", "model: " + size,
            ("MoE: 8 experts, top-2, in %d of %d layers (%s)" % (len(L), cfg["layers"], ", ".join(map(str, L))))
            if L else "dense (no MoE layer)",
            "video type embedding: " + ("merged into the patch bias" if merge_of(cfg) else "not merged")]
    check(all(w in so for w in want), "%s: layout printout" % name,
          "missing %s in %r" % ([w for w in want if w not in so], so[:600]))


def merge_of(cfg):
    """The official conversions: dense DeepSpeed -> merge; the torch release is merged
    already; the MoE DeepSpeed files are not merged (we pass --merge-video-type yes)."""
    return cfg["layout"] == "ds"


def check_model_file(name, cfg, path, sd):
    kv, t = upmgguf.read_gguf(path, mmap=True)
    D = cfg["D"]
    want = {"uniperceiver.embedding_length": D, "uniperceiver.block_count": cfg["layers"],
            "uniperceiver.attention.head_count": cfg["heads"], "uniperceiver.feed_forward_length": cfg["ffn"],
            "uniperceiver.vocab_size": cfg["vocab"], "uniperceiver.vision.image_size": 224,
            "uniperceiver.vision.patch_size": 16, "uniperceiver.vision.temporal_positions": 8,
            "uniperceiver.text.context_length": 512, "uniperceiver.caption.max_length": CAPTION_STEPS,
            "uniperceiver.moe.expert_count": 8 if cfg["moe_layers"] else 0}
    bad = ["%s=%r" % (k, kv.get(k)) for k, v in want.items() if kv.get(k) != v]
    check(not bad, "%s: hyper-parameter keys" % name, ", ".join(bad))
    check(list(kv["uniperceiver.moe.layers"]) == cfg["moe_layers"], "%s: moe.layers" % name)
    check(kv.get("uniperceiver.presets") == moc.convert.PRESET_NAMES,
          "%s: presets: all eight official ones (8 temporal slots, 224)" % name, str(kv.get("uniperceiver.presets")))
    # spot checks, bit-exact: embeddings, the merged patch bias, first / last layer
    last = cfg["layers"] - 1
    pb = sd["video_embed.embeddings.bias"].float()
    if merge_of(cfg):
        pb = pb + sd["video_embed.embeddings_type.weight"].float()[0]
    pairs = [("token_embd.weight", f32(sd["token_embed.embeddings.weight"])),
             ("patch_embd.weight", f32(sd["video_embed.embeddings.weight"]).reshape(D, -1)),
             ("patch_embd.bias", pb.numpy()),
             ("blk.%d.attn_scale" % last, f32(sd["fused_encoder.layers.%d.gamma_1" % last])),
             ("blk.%d.ffn_down.weight" % last if last not in cfg["moe_layers"] else "blk.%d.ffn_norm.bias" % last,
              f32(sd["fused_encoder.layers.%d.linear2.weight" % last]) if last not in cfg["moe_layers"]
              else f32(sd["fused_encoder.layers.%d.norm2.bias" % last]))]
    if cfg["moe_layers"]:
        p = "fused_encoder.layers.0.linear1.experts.deepspeed_experts.%d.weight"
        pairs.append(("blk.0.ffn_up_exps.weight", np.stack([f32(sd[p % e]) for e in range(8)])))
        pairs.append(("blk.0.attn_gate.wg.weight", f32(sd["fused_encoder.layers.0.self_attn.qkv_proj.gate.wg.weight"])))
    bad = [n for n, a in pairs if n not in t or t[n].shape != a.shape or not np.array_equal(t[n], a)]
    check(not bad, "%s: spot-checked tensors bit-exact (%s)" % (name, ", ".join(n for n, _ in pairs)), str(bad))


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "base-dense-torch"
    merges = os.environ.get("UPM_FULL_SIZE_MERGES", "250")
    merges = moc.CLIP_N_MERGES if merges == "all" else int(merges)
    cfg = moc.config(name, merges)
    upm_check = os.path.join(BUILD, "tests", "upm-fixture-check") if BUILD else ""
    have_c = bool(upm_check) and os.access(upm_check, os.X_OK)
    torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "2")))
    times = {}
    t_all = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="upm-full-size-") as tmp:
        ckpt = os.path.join(tmp, name + (".pth" if cfg["layout"] == "torch" else "-mp_rank_00_model_states.pt"))
        out = os.path.join(tmp, name + ".upm")
        t0 = time.monotonic()
        sd = moc.generate(cfg, SEED)
        torch.save(moc.checkpoint_object(cfg, sd), ckpt)
        del sd
        times["generate"] = time.monotonic() - t0
        print("# %s: checkpoint %.0f MB (vocabulary %d rows), written in %.1f s"
              % (name, os.path.getsize(ckpt) / 1e6, cfg["vocab"], times["generate"]), flush=True)

        # the README's command, plus the choices this random model needs
        cmd = [sys.executable, os.path.join(TOOLS, "convert.py"), ckpt, "--bpe", BPE, "-o", out,
               "--bpe-merges", str(merges), "--caption-max-length", str(CAPTION_STEPS)]
        if cfg["moe_layers"]:
            cmd += ["--merge-video-type", "yes"]
        t0 = time.monotonic()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        times["convert"] = time.monotonic() - t0
        if not check(p.returncode == 0, "%s: convert.py (%.1f s, %.0f MB written)"
                     % (name, times["convert"], os.path.getsize(out) / 1e6 if os.path.exists(out) else 0),
                     (p.stdout + p.stderr).strip().replace("\n", " | ")[-500:]):
            return 1
        print("# " + p.stdout.strip().replace("\n", "\n# "))
        check_layout(name, cfg, p.stdout)
        os.unlink(ckpt)

        # the same values again (deterministic), for the file checks and the reference
        sd = moc.generate(cfg, SEED)
        check_model_file(name, cfg, out, sd)
        ref_sd = {k: v.float() for k, v in sd.items()}
        del sd
        if merge_of(cfg):  # what the converter computes, in float32
            ref_sd["video_embed.embeddings.bias"] = ref_sd["video_embed.embeddings.bias"] \
                + ref_sd["video_embed.embeddings_type.weight"][0]
        f64 = cfg["size"] == "base" or os.environ.get("UPM_FULL_SIZE_F64") == "1"
        ref = reference.Reference(ref_sd, heads=cfg["heads"], dtype=torch.float64 if f64 else torch.float32)
        del ref_sd
        times["reference"] = times["engine"] = 0.0
        for inp, n_frames in (("image", 1), ("video", 2)):
            t0 = time.monotonic()
            patches, labels, e, s = make_fixtures.pick_inputs(ref, n_frames, SEED * 100 + 10 * n_frames, tries=4,
                                                              caption_max_len=CAPTION_STEPS)
            ep = os.path.join(tmp, "%s-%s.expect.gguf" % (name, inp))
            make_fixtures.write_expectations(ep, ref, patches, n_frames, labels, e)
            dt = time.monotonic() - t0
            times["reference"] += dt
            check(True, "%s/%s: reference (%s, %.0f s): caption %s, smallest beam margin %.2g"
                  % (name, inp, "float64" if f64 else "float32", dt, list(e["caption_ids"]), e["caption_margin"]))
            if not have_c:
                print("# %s/%s: upm-fixture-check not built, C comparison skipped" % (name, inp))
                continue
            t0 = time.monotonic()
            p = subprocess.run([upm_check, out, ep], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True)
            dt = time.monotonic() - t0
            times["engine"] += dt
            print("# " + p.stdout.strip().replace("\n", "\n# "))
            check(p.returncode == 0, "%s/%s: C engine matches the reference (upm-fixture-check, %.0f s)"
                  % (name, inp, dt), p.stdout.strip().replace("\n", " | ")[-600:])
    times["total"] = time.monotonic() - t_all
    print("# %s timing: %s" % (name, ", ".join("%s %.1f s" % kv for kv in times.items())))
    if not have_c:
        print("# note: %s missing; C engine comparisons skipped" % (upm_check or "upm-fixture-check"))
    print("1..%d" % len(results))
    failed = results.count(False)
    print("# %d checks, %d failed" % (len(results), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
