#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write a RANDOM checkpoint in the layout of one of the official Uni-Perceiver releases
(fundamentalvision/Uni-Perceiver data/checkpoints.md), at the real shapes:

  base-dense-torch  Uni-Perceiver Base, torch layout ({'model': state dict}, fp32, dense key
                    names self_attn.in_proj_weight / out_proj)
  base-dense-ds     Uni-Perceiver Base, DeepSpeed layout (mp_rank_00_model_states.pt:
                    {'module': state dict, ...}, DeepSpeed key names, fp16, [1,1,D] scales)
  base-moe-ds       Uni-Perceiver-MoE Base, DeepSpeed, fp16: 8 experts (top-2) in the four
                    linears of layers 0, 2, ..., 10 (model-spec 3.1)
  large-dense-ds    Uni-Perceiver Large (D 1024, FFN 4096, 16 heads, 24 layers), DeepSpeed, fp16
  large-moe-ds      Uni-Perceiver-MoE Large, DeepSpeed, fp16, MoE in layers 0, 2, ..., 22

Base: D 768, FFN 3072, 12 heads, 12 layers.  All: patch 16, 224x224 (14x14 grid), 8 temporal
slots, 512 text positions.  The vocabulary is CLIP's (512 + 48894 merges + 5 = 49411 rows)
unless --merges asks for fewer (the full-size test suite uses fewer so that the PyTorch
reference can compute the caption vocabulary features in minutes).

Values are random at the scales of tools/reference.random_state_dict (linear weights
N(0, 1/fan_in), LayerNorm weights near 1, layer scales in [0.1, 1]), so that LayerNorm
outputs and attention are not degenerate.  generate() is deterministic for a seed, so a
test can rebuild the same state dict instead of keeping GBs in memory.

    /usr/bin/python3 tools/make_official_checkpoint.py base-moe-ds -o base-moe.pt

--prompt-classes C (C >= 0) makes it a prompt-tuned checkpoint as the official prompt-tuning
configs save it (configs/BERT_L12_H768_experiments/moe_prompt_tuning/): a deep prompt of 10
tokens per layer (fused_encoder.layers.N.deep_prompt_embedding.embedding.weight, plus
.target_embedding.weight with --prompt-separate-target), s_token_bias (also registered as
token_embed.s_token_bias, as set_s_token_bias does) and, with C > 0, fc_prompt (C classes)
and similarity_weight.
"""

import argparse
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert  # noqa: E402
from upmspec import CLIP_N_MERGES, LOGIT_SCALE_NAMES, SPECIAL_TOKENS  # noqa: E402

SIZES = {"base": dict(D=768, layers=12, heads=12, ffn=3072),
         "large": dict(D=1024, layers=24, heads=16, ffn=4096)}
COMMON = dict(patch=16, grid=14, temporal=8, ctx=512)
N_EXPERTS = 8
# name: (size, MoE?, layout, stored dtype)
MODELS = {
    "base-dense-torch": ("base", False, "torch", torch.float32),
    "base-dense-ds": ("base", False, "ds", torch.float16),
    "base-moe-ds": ("base", True, "ds", torch.float16),
    "large-dense-ds": ("large", False, "ds", torch.float16),
    "large-moe-ds": ("large", True, "ds", torch.float16),
}
MOE_PARTS = ["self_attn.qkv_proj", "self_attn.dense", "linear1", "linear2"]


def official_moe_layers(n_layers):
    """MOE_EXPERT_LOCATION 'odd' of the released configs: 1-based odd = 0-based even."""
    return list(range(0, n_layers, 2))


def config(name, merges=CLIP_N_MERGES):
    size, moe, layout, dtype = MODELS[name]
    c = dict(SIZES[size], **COMMON)
    c.update(name=name, size=size, layout=layout, dtype=dtype, merges=merges,
             vocab=512 + merges + len(SPECIAL_TOKENS),
             moe_layers=official_moe_layers(c["layers"]) if moe else [])
    return c


def generate(cfg, seed=0):
    """The random state dict in official (this codebase's) key names, each tensor in
    cfg['dtype'] (made in float32 and rounded one at a time, so the peak is the model once)."""
    gen = torch.Generator().manual_seed(seed)
    dt = cfg["dtype"]
    D, ffn, V = cfg["D"], cfg["ffn"], cfg["vocab"]

    def rn(*shape, std=1.0, mean=0.0):
        return (torch.randn(*shape, generator=gen) * std + mean).to(dt)

    def ru(*shape, lo, hi):
        return (lo + (hi - lo) * torch.rand(*shape, generator=gen)).to(dt)

    def lin(out_f, in_f):
        return rn(out_f, in_f, std=1.0 / math.sqrt(in_f)), rn(out_f, std=0.1)

    sd = {}
    sd["token_embed.embeddings.weight"] = rn(V, D)
    sd["token_embed.embeddings_norm.weight"] = rn(D, std=0.1, mean=1.0)
    sd["token_embed.embeddings_norm.bias"] = rn(D, std=0.1)
    sd["token_embed.embeddings_pos.position_embeddings.weight"] = rn(cfg["ctx"], D, std=0.5)
    sd["token_embed.embeddings_token_type.weight"] = rn(2, D, std=0.5)
    P = cfg["patch"]
    sd["video_embed.embeddings.weight"] = rn(D, 3, P, P, std=1.0 / math.sqrt(3 * P * P))
    sd["video_embed.embeddings.bias"] = rn(D, std=0.1)
    sd["video_embed.embeddings_type.weight"] = rn(1, D, std=0.5)
    sd["video_embed.embeddings_st_pos.spatial_pos_embed.weight"] = rn(cfg["grid"] ** 2, D, std=0.5)
    sd["video_embed.embeddings_st_pos.temporal_pos_embed.weight"] = rn(cfg["temporal"], D, std=0.5)
    # the shared LayerNorm is stored under both names (model-spec 4.2)
    sd["video_embed.embeddings_norm.weight"] = sd["token_embed.embeddings_norm.weight"].clone()
    sd["video_embed.embeddings_norm.bias"] = sd["token_embed.embeddings_norm.bias"].clone()
    moe = bool(cfg["moe_layers"])
    shapes = {"self_attn.qkv_proj": (3 * D, D), "self_attn.dense": (D, D),
              "linear1": (ffn, D), "linear2": (D, ffn)}
    for l in range(cfg["layers"]):
        p = "fused_encoder.layers.%d." % l
        sd[p + "gamma_1"] = ru(D, lo=0.1, hi=1.0)
        sd[p + "gamma_2"] = ru(D, lo=0.1, hi=1.0)
        for n in ("norm1", "norm2"):
            sd[p + n + ".weight"] = rn(D, std=0.1, mean=1.0)
            sd[p + n + ".bias"] = rn(D, std=0.1)
        if l in cfg["moe_layers"]:
            for part in MOE_PARTS:
                for e in range(N_EXPERTS):
                    w, b = lin(*shapes[part])
                    sd[p + part + ".experts.deepspeed_experts.%d.weight" % e] = w
                    sd[p + part + ".experts.deepspeed_experts.%d.bias" % e] = b
                g = p + part + ".gate."
                sd[g + "wg.weight"] = rn(N_EXPERTS, D, std=1.0 / math.sqrt(D))
                sd[g + "tag_transform.0.weight"] = rn(D, 8, std=1.0 / math.sqrt(8))
                sd[g + "tag_transform.0.bias"] = rn(D, std=0.1)
                sd[g + "tag_transform.1.weight"] = rn(D, std=0.3, mean=1.0)
                sd[g + "tag_transform.1.bias"] = rn(D, std=0.1)
        else:
            wq, bq = lin(3 * D, D)
            wo, bo = lin(D, D)
            if moe:  # the MoE codebase names its dense layers like its MoE ones
                names = ("self_attn.qkv_proj.weight", "self_attn.qkv_proj.bias",
                         "self_attn.dense.weight", "self_attn.dense.bias")
            else:
                names = ("self_attn.in_proj_weight", "self_attn.in_proj_bias",
                         "self_attn.out_proj.weight", "self_attn.out_proj.bias")
            for n, v in zip(names, (wq, bq, wo, bo)):
                sd[p + n] = v
            sd[p + "linear1.weight"], sd[p + "linear1.bias"] = lin(ffn, D)
            sd[p + "linear2.weight"], sd[p + "linear2.bias"] = lin(D, ffn)
    sd["loss_prepare.ln_post.weight"] = rn(D, std=0.1, mean=1.0)
    sd["loss_prepare.ln_post.bias"] = rn(D, std=0.1)
    sd["loss_prepare.proj.weight"], sd["loss_prepare.proj.bias"] = lin(D, D)
    for n in LOGIT_SCALE_NAMES:
        sd["loss_prepare.logit_scale_" + n] = (math.log(1 / 0.07) + 0.2 * torch.randn((), generator=gen)).to(dt)
    # as reference.random_state_dict: random vocabulary features are close to each other, a
    # large caption scale keeps the beam decisions apart
    sd["loss_prepare.logit_scale_caption"] = torch.tensor(4.7).to(dt)
    return sd


def add_prompts(cfg, sd, classes, shared_target=True, seed=1, length=10):
    """The prompt-tuning tensors (official names, cfg['dtype']) added to sd."""
    gen = torch.Generator().manual_seed(seed)
    dt, D = cfg["dtype"], cfg["D"]
    for l in range(cfg["layers"]):
        p = "fused_encoder.layers.%d.deep_prompt_embedding." % l
        sd[p + "embedding.weight"] = torch.randn(length, D, generator=gen).to(dt)
        if not shared_target:
            sd[p + "target_embedding.weight"] = torch.randn(length, D, generator=gen).to(dt)
    sd["s_token_bias"] = (0.5 * torch.randn(1, D, generator=gen)).to(dt)
    sd["token_embed.s_token_bias"] = sd["s_token_bias"]
    if classes:
        sd["fc_prompt.weight"] = (torch.randn(classes, D, generator=gen) / math.sqrt(D)).to(dt)
        sd["fc_prompt.bias"] = (0.5 * torch.randn(classes, generator=gen)).to(dt)
        sd["similarity_weight"] = torch.tensor(0.75).to(dt)
    return sd


def checkpoint_object(cfg, sd):
    """What torch.save writes for the release layout: {'model': sd} (torch) or the
    DeepSpeed engine's dict (DeepSpeed key names, [1,1,D] residual scales, plus the
    engine's bookkeeping entries)."""
    if cfg["layout"] == "torch":
        return {"model": sd}
    module = {}
    for k, v in convert.official_to_ds(sd).items():
        module[k] = v.reshape(1, 1, -1) if k.endswith("residual_scale") else v
    return {"module": module, "buffer_names": [], "optimizer": None, "lr_scheduler": None,
            "csr_tensor_module_names": set(), "skipped_steps": 0, "global_steps": 90000,
            "global_samples": 90000 * 1024, "dp_world_size": 56, "mp_world_size": 1,
            "ds_version": "0.5.8"}


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write a random checkpoint in an official release layout.")
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--merges", type=int, default=CLIP_N_MERGES,
                    help="BPE merges of the vocabulary (default all %d: 49411 rows)" % CLIP_N_MERGES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prompt-classes", type=int, default=None, metavar="C",
                    help="a prompt-tuned checkpoint; C > 0: with fc_prompt for C classes")
    ap.add_argument("--prompt-separate-target", action="store_true",
                    help="with --prompt-classes: target sequences get their own deep prompts")
    args = ap.parse_args(argv)
    cfg = config(args.model, args.merges)
    t0 = time.monotonic()
    sd = generate(cfg, args.seed)
    if args.prompt_classes is not None:
        add_prompts(cfg, sd, args.prompt_classes, not args.prompt_separate_target)
    n = sum(v.numel() for v in sd.values())
    torch.save(checkpoint_object(cfg, sd), args.output)
    print("wrote %s: %s, %d tensors, %.1fM parameters, %.0f MB, %.1f s"
          % (args.output, args.model, len(sd), n / 1e6, os.path.getsize(args.output) / 1e6,
             time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
