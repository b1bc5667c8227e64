# SPDX-License-Identifier: LGPL-2.1-or-later
"""Converter test: random dense and MoE models saved in the official torch layout and in a
DeepSpeed layout (fp16, [1,1,D] residual scales, 2-D patch weight, separate video type
embedding), converted with tools/convert.py, checked with the upmgguf reader, and (when
$UPM_BUILD_ROOT/tests/upm-fixture-check exists) compared with the C engine through
expectation files written by the PyTorch reference.

Exit status: 0 pass, 1 fail, 77 skip (no torch)."""

import contextlib
import io
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
TOOLS = os.path.join(SRC, "tools")
sys.path.insert(0, TOOLS)
import convert  # noqa: E402
import make_fixtures  # noqa: E402
import reference  # noqa: E402
import upmgguf  # noqa: E402

N_MERGES = 40
VOCAB = 512 + N_MERGES + 5
CFG = dict(D=64, layers=4, heads=2, ffn=96, patch=8, grid=4, temporal=4, ctx=32)

results = []


def check(cond, desc, detail=""):
    results.append(bool(cond))
    print("%s %d - %s%s" % ("ok" if cond else "not ok", len(results), desc,
                            "" if cond or not detail else "  # " + detail))
    return bool(cond)


def run_convert(args):
    p = subprocess.run([sys.executable, os.path.join(TOOLS, "convert.py")] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def run_convert_here(args):
    """convert.main in this process (no interpreter start): (rc, stdout, stderr, exception)."""
    out, err = io.StringIO(), io.StringIO()
    exc = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = convert.main(args)
        except SystemExit as e:
            rc = e.code
        except Exception as e:  # noqa: BLE001 (the check reports it)
            rc, exc = None, e
    return rc, out.getvalue(), err.getvalue(), exc


def one_line_error(rc, se, exc, want):
    """exit 1, exactly one stderr line starting with 'convert.py: error:' that contains want."""
    lines = se.strip().split("\n")
    return exc is None and rc == 1 and len(lines) == 1 and lines[0].startswith("convert.py: error:") \
        and want in lines[0]


def expected_tensors(sd, merge_type):
    """Our tensor names -> expected float32 arrays, from an official state dict."""
    g = {k: np.asarray(v.float().numpy() if hasattr(v, "numpy") else v, np.float32) for k, v in sd.items()}
    D = g["token_embed.embeddings.weight"].shape[1]
    t = {
        "token_embd.weight": g["token_embed.embeddings.weight"],
        "token_pos_embd.weight": g["token_embed.embeddings_pos.position_embeddings.weight"],
        "token_type_embd.weight": g["token_embed.embeddings_token_type.weight"],
        "embd_norm.weight": g["token_embed.embeddings_norm.weight"],
        "embd_norm.bias": g["token_embed.embeddings_norm.bias"],
        "patch_embd.weight": g["video_embed.embeddings.weight"].reshape(D, -1),
        "patch_embd.bias": g["video_embed.embeddings.bias"]
        + (g["video_embed.embeddings_type.weight"][0] if merge_type else 0),
        "spatial_pos_embd.weight": g["video_embed.embeddings_st_pos.spatial_pos_embed.weight"],
        "temporal_pos_embd.weight": g["video_embed.embeddings_st_pos.temporal_pos_embed.weight"],
        "post_norm.weight": g["loss_prepare.ln_post.weight"],
        "post_norm.bias": g["loss_prepare.ln_post.bias"],
        "proj.weight": g["loss_prepare.proj.weight"],
        "proj.bias": g["loss_prepare.proj.bias"],
    }
    L = CFG["layers"]
    for l in range(L):
        p = "fused_encoder.layers.%d." % l
        b = "blk.%d." % l
        t[b + "attn_norm.weight"] = g[p + "norm1.weight"]
        t[b + "attn_norm.bias"] = g[p + "norm1.bias"]
        t[b + "ffn_norm.weight"] = g[p + "norm2.weight"]
        t[b + "ffn_norm.bias"] = g[p + "norm2.bias"]
        t[b + "attn_scale"] = g[p + "gamma_1"].reshape(-1)
        t[b + "ffn_scale"] = g[p + "gamma_2"].reshape(-1)
        if p + "linear1.experts.deepspeed_experts.0.weight" in g:
            for off, stem in convert.MOE_LINEARS:
                for wb in ("weight", "bias"):
                    t[b + stem + "_exps." + wb] = np.stack(
                        [g[p + off + ".experts.deepspeed_experts.%d.%s" % (e, wb)] for e in range(8)])
            for off, gn in (("self_attn.qkv_proj", "attn_gate"), ("linear1", "ffn_gate")):
                q = p + off + ".gate."
                t[b + gn + ".tag.weight"] = g[q + "tag_transform.0.weight"]
                t[b + gn + ".tag.bias"] = g[q + "tag_transform.0.bias"]
                t[b + gn + ".norm.weight"] = g[q + "tag_transform.1.weight"]
                t[b + gn + ".norm.bias"] = g[q + "tag_transform.1.bias"]
                t[b + gn + ".wg.weight"] = g[q + "wg.weight"]
        else:
            qk = p + "self_attn.in_proj_weight"
            if qk in g:
                t[b + "attn_qkv.weight"], t[b + "attn_qkv.bias"] = g[qk], g[p + "self_attn.in_proj_bias"]
                t[b + "attn_out.weight"], t[b + "attn_out.bias"] = g[p + "self_attn.out_proj.weight"], g[p + "self_attn.out_proj.bias"]
            else:
                t[b + "attn_qkv.weight"], t[b + "attn_qkv.bias"] = g[p + "self_attn.qkv_proj.weight"], g[p + "self_attn.qkv_proj.bias"]
                t[b + "attn_out.weight"], t[b + "attn_out.bias"] = g[p + "self_attn.dense.weight"], g[p + "self_attn.dense.bias"]
            t[b + "ffn_up.weight"], t[b + "ffn_up.bias"] = g[p + "linear1.weight"], g[p + "linear1.bias"]
            t[b + "ffn_down.weight"], t[b + "ffn_down.bias"] = g[p + "linear2.weight"], g[p + "linear2.bias"]
    return t


def check_file(path, label, exp_sd, merge_type, moe_layers):
    kv, tensors, types = upmgguf.read_gguf(path, with_types=True)
    exp = expected_tensors(exp_sd, merge_type)
    check(set(tensors) == set(exp), "%s: tensor set" % label,
          "missing %s extra %s" % (sorted(set(exp) - set(tensors))[:5], sorted(set(tensors) - set(exp))[:5]))
    bad = [n for n in exp if n in tensors and (tensors[n].shape != exp[n].shape
                                                 or not np.array_equal(tensors[n], exp[n]))]
    check(not bad, "%s: every tensor bit-exact with the expected values" % label, "differ: %s" % bad[:5])
    check(all(types[n][2] % 64 == 0 for n in tensors), "%s: tensor offsets aligned to 64" % label)
    check(kv.get("uniperceiver.weights_sha256") == upmgguf.tensor_data_sha256(path),
          "%s: weights_sha256 matches the tensor data" % label)
    D = CFG["D"]
    want = {"general.architecture": "uniperceiver", "general.alignment": 64,
            "uniperceiver.format_version": 1, "uniperceiver.embedding_length": D,
            "uniperceiver.block_count": CFG["layers"], "uniperceiver.attention.head_count": CFG["heads"],
            "uniperceiver.feed_forward_length": CFG["ffn"], "uniperceiver.vocab_size": VOCAB,
            "uniperceiver.text.context_length": CFG["ctx"], "uniperceiver.vision.patch_size": CFG["patch"],
            "uniperceiver.vision.image_size": CFG["patch"] * CFG["grid"],
            "uniperceiver.vision.temporal_positions": CFG["temporal"],
            "uniperceiver.moe.expert_count": 8 if moe_layers else 0,
            "uniperceiver.moe.expert_used_count": 2, "uniperceiver.moe.routing": "attribute",
            "uniperceiver.caption.max_length": 21, "uniperceiver.caption.beam_size": 2,
            "uniperceiver.caption.length_penalty": 2.0, "tokenizer.ggml.model": "clip-bpe",
            "tokenizer.upm.sot_id": VOCAB - 5, "tokenizer.upm.eot_id": VOCAB - 4,
            "tokenizer.upm.mask_id": VOCAB - 3, "tokenizer.upm.gen_id": VOCAB - 2,
            "tokenizer.upm.spe_id": VOCAB - 1}
    bad = [k for k, v in want.items() if kv.get(k) != v]
    check(not bad, "%s: hyper-parameter keys" % label, ", ".join("%s=%r" % (k, kv.get(k)) for k in bad))
    check(list(kv["uniperceiver.moe.layers"]) == list(moe_layers), "%s: moe.layers = %s" % (label, list(moe_layers)))
    names = kv["uniperceiver.attribute.names"]
    vals = np.asarray(kv["uniperceiver.attribute.values"]).reshape(-1, 8)
    check(names == reference.ATTRIBUTE_NAMES and all(list(vals[i]) == reference.ATTRIBUTES[n] for i, n in enumerate(names)),
          "%s: attribute table" % label)
    g = {k: float(np.asarray(v, np.float32).reshape(-1)[0]) for k, v in exp_sd.items() if "logit_scale_" in k}
    bad = [n for n in reference.LOGIT_SCALE_NAMES
           if np.float32(kv.get("uniperceiver.logit_scale." + n, np.nan)) != np.float32(g["loss_prepare.logit_scale_" + n])]
    check(not bad, "%s: logit scales (raw)" % label, str(bad))
    toks, merges = kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.merges"]
    check(len(toks) == VOCAB and len(merges) == N_MERGES and toks[256] == "!</w>" and toks[0] == "!"
          and toks[512] == "".join(merges[0].split()) and toks[-1] == "<|spe|>" and toks[-4] == "<|endoftext|>",
          "%s: tokenizer tokens/merges" % label)
    return kv


def to_fp16_ds(sd, two_d_patch):
    """Official sd -> DeepSpeed-style sd (fp16, [1,1,D] residual scales, extra visual_embed)."""
    out = {}
    for k, v in convert.official_to_ds(sd).items():
        v = v.clone().half()
        if k.endswith("residual_scale"):
            v = v.reshape(1, 1, -1)
        if two_d_patch and k == "video_embed.embeddings.weight":
            v = v.reshape(v.shape[0], -1)
        out[k] = v
    out["visual_embed.embeddings.weight"] = torch.zeros(4, 4).half()
    return out


# Max abs error of the C engine's features (unit vectors, D=64) on a --dtype file against the
# f32 file's in fp32; measured on this model: f16 1.7e-4, bf16 7e-4 (1.1e-3 in bf16 precision),
# q8 2.3e-3 (2.7e-3): the bounds leave ~4x of margin; in bf16 precision the bf16 bound is added.
DTYPE_BOUNDS = {"f16": 1e-3, "bf16": 4e-3, "q8": 1e-2}
DTYPE_TYPES = {"f16": upmgguf.TYPE_F16, "bf16": upmgguf.TYPE_BF16, "q8": upmgguf.TYPE_I8}


def check_dtypes(tmp, src, f32_path, dtype_check):
    """--dtype f16|bf16|q8 on a checkpoint: the linears' types and stored values, the token
    embedding in F16, every other tensor as in the f32 file, smaller files, and (with the C
    engine) its features within DTYPE_BOUNDS of the f32 file's on both paths and in bf16."""
    _, ref, ref_types = upmgguf.read_gguf(f32_path, with_types=True)
    sizes = {"f32": os.path.getsize(f32_path)}
    for dtype, bound in DTYPE_BOUNDS.items():
        out = os.path.join(tmp, "moe-%s.upm" % dtype)
        rc, so, se = run_convert([src, out, "--bpe", BPE, "--bpe-merges", str(N_MERGES), "--heads",
                                  str(CFG["heads"]), "--clip-frames", "4", "--dtype", dtype,
                                  "--merge-video-type", "no"])  # as moe-torch.upm
        if not check(rc == 0, "--dtype %s: convert.py runs" % dtype, se.strip()[-300:]):
            continue
        sizes[dtype] = os.path.getsize(out)
        kv, t, types = upmgguf.read_gguf(out, with_types=True)
        lin = sorted(n for n in ref if convert.LINEAR_WEIGHTS.match(n))
        check(len(lin) == 4 * CFG["layers"] and all(types[n][1] == DTYPE_TYPES[dtype] for n in lin),
              "--dtype %s: the %d linears' weights are type %d" % (dtype, len(lin), DTYPE_TYPES[dtype]))
        check(types["token_embd.weight"][1] == upmgguf.TYPE_F16
              and np.array_equal(t["token_embd.weight"], ref["token_embd.weight"].astype(np.float16)),
              "--dtype %s: token embedding stored as F16" % dtype)
        scales = {n + ".scale" for n in lin} if dtype == "q8" else set()
        others = [n for n in ref if n not in lin and n != "token_embd.weight"]
        check(set(t) == set(ref) | scales
              and all(types[n][1] == ref_types[n][1] and np.array_equal(t[n], ref[n]) for n in others),
              "--dtype %s: every other tensor F32 and unchanged" % dtype)
        check(kv.get("uniperceiver.weights_sha256") == upmgguf.tensor_data_sha256(out),
              "--dtype %s: weights_sha256 of the typed data" % dtype)
        bad = []
        for n in lin:
            w = ref[n]
            if dtype == "f16":
                ok = np.array_equal(t[n], w.astype(np.float16))
            elif dtype == "bf16":
                back = upmgguf.from_bf16_bits(t[n])
                ok = (np.array_equal(t[n], upmgguf.to_bf16_bits(w))
                      and np.all(np.abs(back - w) <= np.abs(w) * 2.0 ** -8))
            else:
                q, sc = t[n].astype(np.float32), t[n + ".scale"]
                ok = (sc.shape == w.shape[:-1]
                      and np.allclose(sc, np.abs(w).max(axis=-1) / 127, rtol=1e-6, atol=0)
                      and np.abs(q).max() <= 127 and np.all(np.abs(q).max(axis=-1) == 127)
                      and np.all(np.abs(q * sc[..., None] - w) <= sc[..., None] * 0.5001))
            if not ok:
                bad.append(n)
        check(not bad, "--dtype %s: stored values are the rounded / quantised weights" % dtype, str(bad[:4]))
        if not dtype_check:
            continue
        for precision, path in (("fp32", "fast"), ("fp32", "plain"), ("bf16", "fast")):
            # bf16 precision adds its own rounding (1.1e-3 on the f32 file)
            bound = DTYPE_BOUNDS[dtype] + (DTYPE_BOUNDS["bf16"] if precision == "bf16" else 0)
            p = subprocess.run([dtype_check, f32_path, out, precision, path, str(bound), "3", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
            check(p.returncode == 0, "--dtype %s: C engine features (%s, %s path) within %g of f32"
                  % (dtype, precision, path, bound), p.stdout.strip()[-300:])
            print("# " + p.stdout.strip())
    check(sizes.get("f16", 1e99) < sizes["f32"] and sizes.get("bf16", 1e99) < sizes["f32"]
          and sizes.get("q8", 1e99) < sizes.get("bf16", 0), "--dtype: smaller files %s" % sizes)
    rc, so, se = run_convert([src, os.path.join(tmp, "x.upm"), "--dtype", "q4"])
    check(rc != 0 and "--dtype" in se, "--dtype q4 is refused", se.strip()[-200:])


def main():
    upm_check = os.path.join(BUILD, "tests", "upm-fixture-check") if BUILD else ""
    have_c = bool(upm_check) and os.access(upm_check, os.X_OK)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        for kind, moe_layers, seed in (("dense", (), 11), ("moe", (0, 2), 12)):
            sd = reference.random_state_dict(vocab=VOCAB, moe_layers=moe_layers, seed=seed, **CFG)
            # (a) official torch layout, with a 'module.' prefix on the keys
            pa = os.path.join(tmp, kind + "-torch.pth")
            torch.save({"model": {"module." + k: v for k, v in sd.items()}}, pa)
            # (b) DeepSpeed layout, fp16
            pb = os.path.join(tmp, kind + "-ds.pt")
            torch.save({"module": to_fp16_ds(sd, two_d_patch=(kind == "moe"))}, pb)
            sd_ds = {k: v.half().float() for k, v in sd.items()}  # what the DS file holds, in fp32

            for fmt, src, exp_sd, merge in (("torch", pa, sd, False), ("ds", pb, sd_ds, True)):
                label = "%s/%s" % (kind, fmt)
                out = os.path.join(tmp, "%s-%s.upm" % (kind, fmt))
                # the DeepSpeed runs name the output with -o, the torch runs as the second argument
                outarg = ["-o", out] if fmt == "ds" else [out]
                # MoE files cannot show whether the type embedding is merged: say so
                extra = ["--merge-video-type", "yes" if merge else "no"] if moe_layers else []
                rc, so, se = run_convert([src] + outarg + extra + ["--bpe", BPE, "--bpe-merges", str(N_MERGES),
                                                                   "--heads", str(CFG["heads"]), "--clip-frames", "4"])
                if not check(rc == 0, "%s: convert.py runs (%s)" % (label, " ".join(outarg[:-1]) or "positional output"),
                             (so + se).strip().replace("\n", " | ")[-400:]):
                    continue
                want = ["layout: %s" % {"torch": "torch", "ds": "DeepSpeed"}[fmt],
                        "'model' state dict" if fmt == "torch" else "'module' state dict",
                        "fp16)" if fmt == "ds" else "fp32)",
                        "MoE: 8 experts, top-2, in 2 of 4 layers (0, 2)" if moe_layers else "dense (no MoE layer)",
                        "D 64, 4 layers, 2 heads, FFN 96",
                        "video type embedding: merged into the patch bias" if merge
                        else "video type embedding: not merged"]
                check(all(w in so for w in want), "%s: layout and actions printed" % label,
                      "missing %s in %r" % ([w for w in want if w not in so], so[:400]))
                kv = check_file(out, label, exp_sd, merge, moe_layers)
                check(kv["uniperceiver.vision.clip_frames"] == 4, "%s: clip_frames" % label)
                # 4 temporal slots: every preset but k400 (8 frames)
                check(kv.get("uniperceiver.presets") == convert.PRESET_NAMES[1:],
                      "%s: uniperceiver.presets = the presets whose frames fit" % label, str(kv.get("uniperceiver.presets")))

                # expectations from the reference on what the file must hold
                ref_sd = dict(exp_sd)
                if merge:
                    ref_sd["video_embed.embeddings.bias"] = exp_sd["video_embed.embeddings.bias"] \
                        + exp_sd["video_embed.embeddings_type.weight"][0]
                ref = reference.Reference(ref_sd, heads=CFG["heads"])
                for inp, n_frames in (("image", 1), ("video", 3)):
                    patches, labels, e, _ = make_fixtures.pick_inputs(ref, n_frames, seed * 100 + 10 * n_frames)
                    ep = os.path.join(tmp, "%s-%s-%s.expect.gguf" % (kind, fmt, inp))
                    make_fixtures.write_expectations(ep, ref, patches, n_frames, labels, e)
                    ekv, et = upmgguf.read_gguf(ep)
                    check(et["input.patches"].shape == (n_frames * 16, 192)
                          and et["expect.label.features"].shape == (5, CFG["D"])
                          and et["expect.caption.step0_logprobs"].shape == (VOCAB,)
                          and ("expect.routing.cls_input.experts" in ekv) == bool(moe_layers),
                          "%s/%s: expectation file written (caption %s, margin %.2g)"
                          % (label, inp, list(ekv["expect.caption.ids"])[:6], e["caption_margin"]))
                    if have_c:
                        p = subprocess.run([upm_check, out, ep], stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, universal_newlines=True)
                        check(p.returncode == 0, "%s/%s: C engine matches the reference (upm-fixture-check)"
                              % (label, inp), p.stdout.strip().replace("\n", " | ")[-600:])
                    else:
                        print("# %s/%s: upm-fixture-check not built, C comparison skipped" % (label, inp))

            if kind == "moe":
                dtype_check = os.path.join(BUILD, "tests", "upm-dtype-check") if BUILD else ""
                check_dtypes(tmp, pa, os.path.join(tmp, "moe-torch.upm"),
                             dtype_check if dtype_check and os.access(dtype_check, os.X_OK) else "")

            # options and error paths
            if moe_layers:
                rc, so, se, exc = run_convert_here([pb, os.path.join(tmp, "refused.upm"), "--bpe", BPE,
                                                    "--bpe-merges", str(N_MERGES)])
                check(one_line_error(rc, se, exc, "cannot tell") and "--merge-video-type yes" in se
                      and "--merge-video-type no" in se and not os.path.exists(os.path.join(tmp, "refused.upm")),
                      "moe/ds: ambiguous video type merge refused, naming both choices and the flag",
                      "rc %r exc %r: %s" % (rc, exc, se.strip()[-300:]))
            out = os.path.join(tmp, kind + "-nomerge.upm")
            rc, so, se = run_convert([pb, out, "--bpe", BPE, "--bpe-merges", str(N_MERGES),
                                      "--heads", "2", "--merge-video-type", "no"])
            if check(rc == 0, "%s/ds: --merge-video-type no" % kind, se.strip()[-300:]):
                _, t = upmgguf.read_gguf(out)
                check(np.array_equal(t["patch_embd.bias"], sd_ds["video_embed.embeddings.bias"].numpy()),
                      "%s/ds: patch bias left alone with --merge-video-type no" % kind)
            flag = ["--merge-video-type", "no"]
            rc, so, se, exc = run_convert_here([pa, out, "--bpe", BPE, "--heads", "2"] + flag)
            check(one_line_error(rc, se, exc, "--bpe-merges %d" % N_MERGES), "%s: vocabulary mismatch is a clear error" % kind,
                  se.strip()[-300:])
            broken = {k: v for k, v in sd.items() if k != "loss_prepare.proj.weight"}
            pc = os.path.join(tmp, kind + "-broken.pth")
            torch.save({"model": broken}, pc)
            rc, so, se, exc = run_convert_here([pc, out, "--bpe", BPE, "--bpe-merges", str(N_MERGES), "--heads", "2"]
                                               + flag)
            check(one_line_error(rc, se, exc, "loss_prepare.proj.weight"), "%s: missing tensor is named in the error" % kind,
                  se.strip()[-300:])

        # the output given twice or not at all
        dense = os.path.join(tmp, "dense-torch.pth")
        for args, what in (([dense], "missing"), ([dense, out, "-o", out], "given twice")):
            rc, so, se, exc = run_convert_here(args)
            check(rc == 2 and "output file" in se and exc is None, "usage error: output %s" % what,
                  se.strip()[-200:])

        # files that are not checkpoints: one line on stderr, exit 1, no traceback
        junk = os.path.join(tmp, "random.pth")
        with open(junk, "wb") as f:
            f.write(np.random.RandomState(5).bytes(4096))
        text = os.path.join(tmp, "notes.txt")
        with open(text, "w") as f:
            f.write("this is not a checkpoint\n")
        notdict = os.path.join(tmp, "list.pth")
        torch.save([1, 2, 3], notdict)
        for path, want in ((os.path.join(tmp, "missing.pth"), "no such file"),
                           (text, "is not a PyTorch checkpoint"),
                           (os.path.join(tmp, "dense-ds.upm"), "is a GGUF model file"),
                           (notdict, "not a checkpoint"),
                           (tmp, "is a directory")):
            rc, so, se, exc = run_convert_here([path, "-o", os.path.join(tmp, "x.upm"), "--bpe", BPE])
            check(one_line_error(rc, se, exc, want), "not a checkpoint (%s): %s" % (os.path.basename(path), want),
                  "rc %r exc %r: %s" % (rc, exc, se.strip()[-300:]))
        rc, so, se = run_convert([junk, "-o", os.path.join(tmp, "x.upm")])
        check(rc == 1 and "is not a PyTorch checkpoint" in se and "Traceback" not in se
              and len(se.strip().split("\n")) == 1, "random bytes: one-line error from the command, exit 1",
              se.strip()[-300:])

        # a shape that does not fit
        sd = reference.random_state_dict(vocab=VOCAB, seed=11, **CFG)
        sd["loss_prepare.proj.weight"] = sd["loss_prepare.proj.weight"][:, :10]
        pc = os.path.join(tmp, "badshape.pth")
        torch.save({"model": sd}, pc)
        rc, so, se, exc = run_convert_here([pc, "-o", os.path.join(tmp, "x.upm"), "--bpe", BPE,
                                            "--bpe-merges", str(N_MERGES), "--heads", "2"])
        check(one_line_error(rc, se, exc, "loss_prepare.proj.weight") and "[64, 10]" in se,
              "a shape that does not fit is named with both shapes", se.strip()[-300:])

        # --presets overrides, and rejects unknown names
        out = os.path.join(tmp, "presets.upm")
        rc, so, se, exc = run_convert_here([os.path.join(tmp, "dense-torch.pth"), "-o", out, "--bpe", BPE,
                                            "--bpe-merges", str(N_MERGES), "--heads", "2",
                                            "--presets", "imagenet,coco-caption"])
        if check(rc == 0 and exc is None, "--presets imagenet,coco-caption", "%r %s" % (exc, se.strip()[-300:])):
            kv, _ = upmgguf.read_gguf(out)
            check(kv["uniperceiver.presets"] == ["imagenet", "coco-caption"], "--presets stored as given",
                  str(kv["uniperceiver.presets"]))
        rc, so, se, exc = run_convert_here([os.path.join(tmp, "dense-torch.pth"), "-o", out, "--presets", "k401"])
        check(one_line_error(rc, se, exc, "unknown preset 'k401'"), "--presets: an unknown name is refused",
              se.strip()[-300:])
        check(convert.default_presets(8) == convert.PRESET_NAMES and convert.default_presets(1)
              == ["imagenet", "coco-caption", "coco-retrieval", "flickr30k-caption", "flickr30k-retrieval"],
              "default presets: all with 8 temporal slots, the image ones with 1")

        # labelset option and default heads (D/64 = 1)
        lf = os.path.join(tmp, "labels.txt")
        with open(lf, "w") as f:
            f.write("cat\ndog\n\nbig bird\n")
        out = os.path.join(tmp, "labels.upm")
        rc, so, se = run_convert([os.path.join(tmp, "dense-torch.pth"), out, "--bpe", BPE,
                                  "--bpe-merges", str(N_MERGES), "--labelset", "pets=" + lf])
        if check(rc == 0, "--labelset and default --heads", se.strip()[-300:]):
            kv, _ = upmgguf.read_gguf(out)
            check(kv["uniperceiver.labelsets"] == ["pets"]
                  and kv["uniperceiver.labelset.pets.labels"] == ["cat", "dog", "big bird"]
                  and kv["uniperceiver.attention.head_count"] == 1, "label set stored, heads default D/64")

    if not have_c:
        print("# note: %s missing; C engine comparisons skipped" % (upm_check or "$UPM_BUILD_ROOT/tests/upm-fixture-check"))
    print("1..%d" % len(results))
    failed = results.count(False)
    print("# %d checks, %d failed" % (len(results), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
