#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Prompt-tune a .upm model for your own classes or captions, on the CPU, and write a new .upm.

From a folder of clips (or images) and a CSV of labels (or captions: --task caption |
retrieval, below), this tunes exactly the parameters
Uni-Perceiver's prompt tuning trains, with everything else frozen, and writes a model file
that every element and CLI of this project loads like any other (format:
docs/model-format.md and docs/prompt-tuning.md; the walk-through: README.md, "Adapt the model to
your task"):

  * a deep prompt per layer, P = 10 tokens x D, shared by the input and target sequences
    (official PROMPT_EMBED: DEEP_PROMPT, TARGET_DEEP_PROMPT, SHARE_DEEP_PROMPT True,
    INPUT_DEEP_PROMPT_LENGTH 10: configs/BERT_L12_H768_experiments/moe_prompt_tuning/
    k400_prompt_tuning_0.01data.yaml lines 94-109).  In every layer the prompt goes through
    the layer's norm1 and is prepended to the keys and values only
    (uniperceiver/modeling/layers/transformer_encoder_moe_layer.py lines 212-230,
    transformer_encoder_layer.py lines 182-197); in MoE layers its keys and values use the
    merged experts of the sequence's first segment;
  * every layer's norm1 / norm2, the token-embedding LayerNorm, ln_post (PROMPT_PARAM
    ["s_token_bias", "norm", "prompt_embed", "deep_prompt_embedding", "fc_prompt",
    "similarity_weight", "ln_post"], same config line 89; a parameter trains when its name
    contains one of these, unified_transformer.py lines 116-140: the MoE gates' LayerNorm is
    `tag_transform.1`, so it stays frozen);
  * s_token_bias (D, zero-initialised, added to the <|spe|> token embedding before the
    LayerNorm: unified_transformer.py line 126, modeling/embedding/token_embed.py line 167);
  * fc_prompt (Linear D -> classes, zero-initialised: unified_transformer.py lines 104-107)
    and similarity_weight (scalar, starts at 1, line 132): logits = similarity_weight *
    (capped scale * cosine) + fc_prompt(h), h the projected, un-normalised <SPE> feature
    (unified_transformer.py lines 303-309; predictor/embed_cls_predictor.py lines 255-268).

Recipe (same config, SOLVER and LR_SCHEDULER, lines 123-157): AdamW with betas 0.9 / 0.95,
eps 1e-6, no weight decay, gradient-norm clip 0.1, warm-up then cosine down to 1e-6,
label-smoothing cross entropy 0.1 (LOSSES, line 44).  The official runs: K400 2000
iterations at lr 5e-4 (200 warm-up), ImageNet 2500 at 1e-4 (500 warm-up,
in1k_prompt_tuning_0.01data_lr1e-4.yaml), both on 1 % of the training set.  Our model is
~1/40 the width and our sets are ~1/1000 the size, so the defaults are 300 iterations at
lr 1e-3 (10 % warm-up, as 200 / 2000), batch 32, with early stopping on a held-out split
(every flag can change them).  Subsets: --percent P draws int(n_c * P / 100) + 1 clips of
every class c (DATA_PERCENTAGE, the official per-class sampling: datasets/task_dataset/
video_raw.py line 286, imagenet.py line 139); the default uses all.

Input: --data DIR and --labels FILE.csv with rows `file,label` (a header row `file,label`
is optional; files relative to DIR).  A file is
  * a synthworld-style raw clip, NAME.rgb with NAME.json beside it (width, height,
    frames): read directly when its size is the model's image size (the engine's
    preprocessing is then the identity; checked against the engine by the test);
  * anything else the engine reads (mp4, webm, png, jpg, ...): preprocessed by the C engine
    itself (`upm-run --dump-views`), so training sees exactly the patches inference sees
    (the first clip of the file).

    prompt_tune.py --model models/uniperceiver-synth-moe.upm --data clips/ \\
        --labels labels.csv --out tuned.upm

Captioning and retrieval (--task caption | retrieval; the CSV's rows are `file,caption`,
several rows per file = several captions).  The same parameters are tuned but for fc_prompt
and similarity_weight (FC_PROMPT False: R line 77, C line 91, cited below), and the
written file has `uniperceiver.prompt.task` caption or retrieval and no cls_prompt tensors.
Cited: configs/BERT_L12_H768_experiments/moe_prompt_tuning/msvd_retrieval_prompt_tuning_
0.01data_lr1e-4.yaml (R) and msvd_caption_prompt_tuning_0.01data_lr1e-3.yaml (C):
  * losses: the predictor's logits go to the task's LOSSES (unified_transformer.py lines
    284-292), LabelSmoothingCrossEntropy with LABELSMOOTHING 0.1 in both (R lines 32-33,
    C lines 37-39; losses/label_smoothing.py lines 37-47);
  * retrieval: logits = capped logit_scale_retrieve (TEMP_NAME, R line 30) x the cosine of
    every clip's and every text's projected <SPE> feature in the batch, the i-th text
    belonging to the i-th clip, and the loss both ways, i2t + t2i
    (predictor/embed_cls_predictor.py lines 304-324; _forward lines 329-353, the scale
    capped at 100 at line 334).  The clip is encoded as retrieval_input, the text as
    retrieval_target, with train.py's video_features / text_features.  A batch holds one
    caption per clip;
  * caption: teacher-forced next-word prediction at every caption position over the
    vocabulary features (embed_cls_predictor.py lines 224-233), scaled by
    logit_scale_caption (C line 35): train.caption_logits, the loss that trained the
    bundled model (train.py's train_step uses the same function);
  * target prompts: separate for retrieval (SHARE_DEEP_PROMPT False, R line 92), shared
    for captions (C line 106); --target-prompts overrides;
  * recipe: AdamW betas 0.9 / 0.95, gradient clip 0.1, lr 1e-3 warm-up cosine (R lines
    117-152: 100 iterations, 10 warm-up, batch 16; C lines 131-166: 200 iterations, 25
    warm-up); the defaults are those iteration counts, batch 16 and warm-up iters / 10;
  * subset: --percent P draws P % of the (clip, caption) pairs uniformly
    (datasets/task_dataset/msvd.py lines 235-236: random.sample(pairs, int(p * n)));
  * early stopping on the held-out clips (--heldout, whole clips): text-to-video R@1
    among them (retrieval), teacher-forced caption token accuracy (caption); the summary
    also has the held-out greedy caption exact match before and after.

The tuned file is the base file with the tuned norms overwriting the base ones and the
prompt tensors added (blk.N.prompt, spe_bias, cls_prompt.*); its weights hash is
recomputed, so nothing cached for the base file is reused for it.
"""

import argparse
import csv
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import train  # noqa: E402  (the PyTorch model in official key names, and the .upm reader maps)
import upmgguf  # noqa: E402

PROMPT_LENGTH = 10
LABEL_SMOOTHING = 0.1


# ===================================================================  model file
def read_upm(path):
    """(kv, official-key state dict, prompt tensors by .upm name, tensor types)."""
    kv, tensors, types = upmgguf.read_gguf(path, with_types=True)
    sd, prompt = {}, {}
    for name, a in tensors.items():
        if name.startswith(("cls_prompt.", "spe_bias")) or name.endswith((".prompt", ".prompt_target")):
            prompt[name] = torch.from_numpy(np.array(a, dtype=np.float32))
            continue
        kind = types[name][1]
        if kind == upmgguf.TYPE_BF16:
            a = upmgguf.from_bf16_bits(np.asarray(a))
        elif kind not in (upmgguf.TYPE_F32, upmgguf.TYPE_F16):
            raise ValueError("%s: %s is stored as GGUF type %d; tune an f32, f16 or bf16 file "
                             "(tools/convert.py --dtype) and convert the tuned file afterwards"
                             % (path, name, kind))
        t = torch.from_numpy(np.array(a, dtype=np.float32))
        if name in train.UPM_TO_OFFICIAL:
            sd[train.UPM_TO_OFFICIAL[name]] = t
            continue
        _, l, rest = name.split(".", 2)
        p = "fused_encoder.layers.%s." % l
        if rest in train.BLK_TO_OFFICIAL:
            sd[p + train.BLK_TO_OFFICIAL[rest]] = t
            continue
        stem, part = rest.split(".", 1)
        if stem in train.EXPS:
            for e in range(t.shape[0]):
                sd[p + train.EXPS[stem] + ".experts.deepspeed_experts.%d.%s" % (e, part)] = t[e]
        elif stem in train.GATES:
            sd[p + train.GATES[stem] + train.GATE_PARTS[part]] = t
        else:
            raise ValueError("%s: unexpected tensor %s" % (path, name))
    for n in train.LOGIT_SCALE_NAMES:
        k = "uniperceiver.logit_scale." + n
        if k in kv:
            sd["loss_prepare.logit_scale_" + n] = torch.tensor(float(kv[k]))
    return kv, sd, prompt, types


def config_from_kv(kv):
    L = int(kv["uniperceiver.block_count"])
    moe = [int(x) for x in kv.get("uniperceiver.moe.layers", [])]
    return dict(D=int(kv["uniperceiver.embedding_length"]), heads=int(kv["uniperceiver.attention.head_count"]),
                layers=L, ffn=int(kv["uniperceiver.feed_forward_length"]),
                size=int(kv["uniperceiver.vision.image_size"]), patch=int(kv["uniperceiver.vision.patch_size"]),
                frames=int(kv.get("uniperceiver.vision.clip_frames", 0)
                           or kv["uniperceiver.vision.temporal_positions"]),
                temporal=int(kv["uniperceiver.vision.temporal_positions"]),
                ctx=int(kv["uniperceiver.text.context_length"]), dense=not moe, moe_layers=moe,
                routing=str(kv.get("uniperceiver.moe.routing", "attribute")), ls_init=1.0,
                gate_noise=0.0)


def build_base(kv, sd):
    """train.UniPerceiver with the file's weights (strict), eval mode, all frozen."""
    cfg = config_from_kv(kv)
    if cfg["routing"] != "attribute":
        raise ValueError("prompt tuning supports attribute-routed and dense models (this one: %s)"
                         % cfg["routing"])
    model = train.UniPerceiver(cfg, int(kv["uniperceiver.vocab_size"]))
    if model.moe_layers != cfg["moe_layers"]:
        # train.py puts experts in the even layers; a file with other MoE layers needs a rebuild
        model.moe_layers = cfg["moe_layers"]
        model.fused_encoder = train.Encoder(cfg["D"], cfg["heads"], cfg["ffn"], cfg["layers"],
                                            cfg["moe_layers"], 1.0)
    full = dict(model.state_dict())
    missing = [k for k in full if k not in sd and not k.startswith("video_embed.embeddings_norm")
               and k != "video_embed.embeddings_type.weight"
               and ".dense.gate." not in k and ".linear2.gate." not in k]   # gates never used (§3.1)
    if missing:
        raise ValueError("model file lacks %s" % ", ".join(missing[:5]))
    full.update({k: v.reshape(full[k].shape) for k, v in sd.items() if k in full})
    model.load_state_dict(full)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, cfg


# the attribute rows that take the target prompts when those are separate (docs/prompt-tuning.md)
TARGET_ATTRS = ("cls_target", "retrieval_target", "vocab_target")


class PromptModel(nn.Module):
    """The frozen base model plus the prompt-tuning parameters (official names in comments).

    The base model's own forward (train.UniPerceiver's video_features, text_features,
    caption_hidden, vocab_features: the functions that trained it) runs with the prompts:
    its encoder, <|spe|> embedding and word embedding are routed through this module's
    (install_hooks), so the retrieval and captioning losses reuse train.py as it is."""

    def __init__(self, base, n_classes, prompt=None, P=PROMPT_LENGTH, separate_target=False):
        super().__init__()
        self.base = base
        D, L = base.D, len(base.fused_encoder.layers)
        self.P = P
        # deep_prompt_embedding of every layer; the official init is N(0, 0.02) (DeepPrompt)
        self.prompts = nn.ParameterList([nn.Parameter(torch.randn(P, D) * 0.02) for _ in range(L)])
        separate_target = separate_target or bool(prompt and "blk.0.prompt_target" in prompt)
        # target_embedding when SHARE_DEEP_PROMPT is False (pe_encoder.py lines 12-13)
        self.target_prompts = nn.ParameterList(
            [nn.Parameter(torch.randn(P, D) * 0.02) for _ in range(L)]) if separate_target else None
        self.s_token_bias = nn.Parameter(torch.zeros(D))
        self.fc_prompt = nn.Linear(D, n_classes)
        nn.init.zeros_(self.fc_prompt.weight)
        nn.init.zeros_(self.fc_prompt.bias)
        self.similarity_weight = nn.Parameter(torch.ones(()))
        if prompt:
            self.load_prompt_tensors(prompt)
        for layer in base.fused_encoder.layers:      # norm1 / norm2
            for m in (layer.norm1, layer.norm2):
                for p in m.parameters():
                    p.requires_grad_(True)
        for m in (base.token_embed.embeddings_norm, base.loss_prepare.ln_post):
            for p in m.parameters():
                p.requires_grad_(True)
        self.install_hooks()

    def install_hooks(self):
        """Make the base model's own methods prompt-aware (instance attributes shadow the
        class's methods; the base's parameters and state dict are untouched)."""
        b = self.base
        b.spe = self.spe
        b.embed_words = self.embed_words
        b.fused_encoder.forward = self.encode_segments

    def load_prompt_tensors(self, t):
        with torch.no_grad():
            for l, p in enumerate(self.prompts):
                p.copy_(t["blk.%d.prompt" % l])
            if self.target_prompts is not None:
                for l, p in enumerate(self.target_prompts):
                    p.copy_(t["blk.%d.prompt_target" % l])
            self.s_token_bias.copy_(t["spe_bias"].reshape(-1))
            if "cls_prompt.weight" in t:
                self.fc_prompt.weight.copy_(t["cls_prompt.weight"])
                self.fc_prompt.bias.copy_(t["cls_prompt.bias"])
                self.similarity_weight.copy_(t["cls_prompt.similarity_weight"].reshape(()))

    def trained_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    # ------------------------------------------------------------- forward
    def spe(self):
        b = self.base
        return b.ln_emb(b.token_embed.embeddings.weight[b.spe_id] + self.s_token_bias)

    def embed_words(self, ids, pos):
        """train.UniPerceiver.embed_words with s_token_bias added to every <|spe|> id (the
        caption steps' query tokens) before the LayerNorm (token_embed.py lines 165-167)."""
        t = self.base.token_embed
        x = t.embeddings(ids) + t.embeddings_pos.position_embeddings(pos) + t.embeddings_token_type.weight[0]
        x = x + ids.eq(self.base.spe_id).unsqueeze(-1).to(x.dtype) * self.s_token_bias
        return self.base.ln_emb(x)

    def layer_forward(self, layer, x, segments, mask, prompt):
        """train.Layer.forward with the deep prompt prepended to the keys and values."""
        B, n, D = x.shape
        H, P = layer.H, prompt.shape[0]
        hd = D // H
        sa, sf = layer.routes(segments, 0.0)
        h = layer.norm1(x)
        hp = layer.norm1(prompt)
        qkv = layer.self_attn.qkv_proj(h, sa)
        if layer.moe:   # the prompt's keys / values: the first segment's merged experts
            pqkv = F.linear(hp, *layer.self_attn.qkv_proj.merged(sa[0][2]))
        else:
            pqkv = layer.self_attn.qkv_proj(hp)
        q, k, v = qkv.view(B, n, 3, H, hd).permute(2, 0, 3, 1, 4)
        _, pk, pv = pqkv.view(P, 3, H, hd).permute(1, 2, 0, 3)          # [H, P, hd]
        k = torch.cat([pk.expand(B, H, P, hd), k], 2)
        v = torch.cat([pv.expand(B, H, P, hd), v], 2)
        sc = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd)
        if mask is not None:   # the prompt keys are never masked
            m = mask.expand(mask.shape[0], 1, n, n) if mask.shape[-2] == 1 else mask
            m = torch.cat([torch.zeros(*m.shape[:-1], P, dtype=torch.bool), m], -1)
            sc = sc.masked_fill(m, float("-inf"))
        att = torch.matmul(torch.softmax(sc, -1), v).transpose(1, 2).reshape(B, n, D)
        x = x + layer.gamma_1 * layer.self_attn.dense(att, sa)
        h = layer.norm2(x)
        f = layer.linear2(F.gelu(layer.linear1(h, sf)), sf)
        return x + layer.gamma_2 * f

    def encode(self, x, attr, mask=None):
        return self.encode_segments(x, [(attr, x.shape[1])], mask)

    def encode_segments(self, x, segments, mask=None, noise_std=0.0):
        """train.Encoder.forward's signature (the hook), with the deep prompts: the target
        set for target rows when it is separate (pe_encoder.py lines 19-22)."""
        prompts = self.prompts
        if self.target_prompts is not None and segments[0][0] in TARGET_ATTRS:
            prompts = self.target_prompts
        for layer, prompt in zip(self.base.fused_encoder.layers, prompts):
            x = self.layer_forward(layer, x, segments, mask, prompt)
        return x

    def project(self, h0):
        """ln_post + proj: the un-normalised feature of the <SPE> state."""
        lp = self.base.loss_prepare
        return lp.proj(lp.ln_post(h0))

    def video_hidden(self, patches, T):
        b = self.base
        v = b.video_embed
        B = patches.shape[0]
        y = F.linear(patches, v.embeddings.weight.view(b.D, -1), v.embeddings.bias)
        G2 = b.grid * b.grid
        y = y.view(B, T, G2, b.D) + v.embeddings_st_pos.spatial_pos_embed.weight[None, None] \
            + v.embeddings_st_pos.temporal_pos_embed.weight[:T][None, :, None]
        y = b.ln_emb(y.view(B, T * G2, b.D))
        x = torch.cat([self.spe().expand(B, 1, b.D), y], 1)
        return self.project(self.encode(x, "cls_input")[:, 0])

    def text_features(self, id_lists):
        b = self.base
        N, L = len(id_lists), max(len(s) for s in id_lists)
        ids = torch.zeros(N, L, dtype=torch.long)
        pad = torch.ones(N, 1 + L, dtype=torch.bool)
        pad[:, 0] = False
        for i, s in enumerate(id_lists):
            ids[i, :len(s)] = torch.tensor(s)
            pad[i, 1:1 + len(s)] = False
        x = torch.cat([self.spe().expand(N, 1, b.D), b.embed_words(ids, torch.arange(L).expand(N, L))], 1)
        mask = pad[:, None, None, :] if bool(pad.any()) else None
        return F.normalize(self.project(self.encode(x, "cls_target", mask)[:, 0]), dim=-1)

    def logits(self, patches, T, label_ids, with_fc=True):
        h = self.video_hidden(patches, T)
        ft = self.text_features(label_ids)
        sim = self.base.scale("video_cls") * F.normalize(h, dim=-1) @ ft.T
        if not with_fc:
            return sim
        return self.similarity_weight * sim + self.fc_prompt(h)


def tuned_state_dict(pm, task="classify"):
    """The tuned tensors under their official names (tools/convert.py writes them); the
    classification head only for classify (caption and retrieval files carry none)."""
    b = pm.base
    sd = {"token_embed.embeddings_norm.weight": b.token_embed.embeddings_norm.weight,
          "token_embed.embeddings_norm.bias": b.token_embed.embeddings_norm.bias,
          "loss_prepare.ln_post.weight": b.loss_prepare.ln_post.weight,
          "loss_prepare.ln_post.bias": b.loss_prepare.ln_post.bias,
          "s_token_bias": pm.s_token_bias.reshape(1, -1)}
    if task == "classify":
        sd.update({"fc_prompt.weight": pm.fc_prompt.weight, "fc_prompt.bias": pm.fc_prompt.bias,
                   "similarity_weight": pm.similarity_weight})
    for l, (layer, prompt) in enumerate(zip(b.fused_encoder.layers, pm.prompts)):
        p = "fused_encoder.layers.%d." % l
        for n in ("norm1", "norm2"):
            sd[p + n + ".weight"] = getattr(layer, n).weight
            sd[p + n + ".bias"] = getattr(layer, n).bias
        sd[p + "deep_prompt_embedding.embedding.weight"] = prompt
        if pm.target_prompts is not None:
            sd[p + "deep_prompt_embedding.target_embedding.weight"] = pm.target_prompts[l]
    return {k: v.detach().cpu().float().numpy().copy() for k, v in sd.items()}


def write_tuned(base_path, out_path, pm, labels, log=print, task="classify"):
    """The base file's keys and tensors (types kept), the tuned norms in place of the base
    ones, the prompt tensors and keys added, cached target features dropped and the weights
    hash recomputed (convert.write_prompt_tuned).  Returns the size in bytes."""
    import convert
    name = "%s-prompt-tuned" % upmgguf.read_gguf(base_path, mmap=True)[0].get("general.name", "uniperceiver")
    return convert.write_prompt_tuned(base_path, out_path, tuned_state_dict(pm, task), task=task,
                                      labels=list(labels) if labels else None, name=name, log=log)


# ===================================================================  data
def read_labels(csv_path, column="label"):
    """[(file, label)] of a `file,label` CSV (`file,caption` with column="caption")."""
    rows = []
    with open(csv_path, newline="") as f:
        for i, row in enumerate(csv.reader(f)):
            if not row or row[0].startswith("#"):
                continue
            if i == 0 and [c.strip().lower() for c in row[:2]] == ["file", column]:
                continue
            if len(row) < 2 or not row[1].strip():
                raise ValueError("%s line %d: expected `file,%s`" % (csv_path, i + 1, column))
            rows.append((row[0].strip(), row[1].strip()))
    if not rows:
        raise ValueError("%s: no rows" % csv_path)
    return rows


def default_engine(name="upm-run"):
    build = os.environ.get("UPM_BUILD_ROOT") or os.path.join(ROOT, "build")
    return os.path.join(build, "tools", name)


class ClipLoader:
    """A clip as the model sees it: uint8 frames [T, S, S, 3] when the engine's preprocessing
    is the identity (raw clips of the model's size), else the engine's own patches."""

    def __init__(self, model_path, cfg, engine=None):
        self.model_path, self.cfg = model_path, cfg
        self.engine = engine or default_engine()
        self.tmp = tempfile.mkdtemp(prefix="upm-prompt-tune-")

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def raw_frames(self, path):
        meta = os.path.splitext(path)[0] + ".json"
        if not path.endswith(".rgb") or not os.path.exists(meta):
            return None
        with open(meta) as f:
            m = json.load(f)
        w, h, t = int(m.get("width", m.get("size"))), int(m.get("height", m.get("size"))), int(m["frames"])
        a = np.fromfile(path, dtype=np.uint8)
        if a.size != w * h * t * 3:
            raise ValueError("%s: %d bytes, %s says %dx%dx%d RGB" % (path, a.size, meta, w, h, t))
        return a.reshape(t, h, w, 3), (w, h)

    def load(self, path):
        """('frames', uint8 [T, S, S, 3]) or ('patches', float32 [T*g*g, 3*P*P])."""
        raw = self.raw_frames(path)
        S, T = self.cfg["size"], self.cfg["frames"]
        if raw is not None and raw[1] == (S, S) and raw[0].shape[0] >= T:
            return "frames", raw[0][:T]
        return "patches", self.engine_patches(path, raw)

    def engine_patches(self, path, raw):
        d = os.path.join(self.tmp, "views")
        shutil.rmtree(d, ignore_errors=True)
        cmd = [self.engine, "--model", self.model_path, "--task", "classify", "--labels", "x",
               "--progress", "never", "--dump-views", d, "-o", os.devnull]
        if raw is not None:
            cmd += ["--raw", "%dx%d" % raw[1]]
        cmd.append(path)
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        view = os.path.join(d, "clip0000-view00.f32")
        if p.returncode != 0 or not os.path.exists(view):
            raise RuntimeError("%s: the engine could not read it (%s): %s"
                               % (path, " ".join(cmd), (p.stderr or "").strip()[-400:]))
        a = np.fromfile(view, dtype=np.float32)
        g, P = self.cfg["size"] // self.cfg["patch"], self.cfg["patch"]
        n = a.size // (3 * P * P)
        T = self.cfg["frames"]
        if n not in (T * g * g, g * g):   # a clip, or an image (one frame)
            raise RuntimeError("%s: the engine made a clip of %d tokens, the model wants %d (%d frames)"
                               % (path, n, T * g * g, T))
        return a.reshape(n, 3 * P * P)


def to_patches(base, items, T):
    """Stack a batch of loaded items into model patches [B, T*g*g, 3*P*P]."""
    out = []
    for kind, a in items:
        if kind == "frames":
            out.append(base.patchify(a[None])[0])
        else:
            out.append(torch.from_numpy(a))
    return torch.stack(out)


def per_class_subset(y, percent, rng):
    """The official DATA_PERCENTAGE sampling: int(n_c * p) + 1 items of every class
    (video_raw.py line 286: random.sample(v, k=int(len(v) * data_percentage) + 1))."""
    if percent >= 100:
        return list(range(len(y)))
    keep = []
    for c in sorted(set(y)):
        idx = [i for i, v in enumerate(y) if v == c]
        rng.shuffle(idx)
        keep += idx[:min(len(idx), int(len(idx) * percent / 100.0) + 1)]
    return sorted(keep)


def split_heldout(y, frac, rng):
    """Per class: a `frac` share (at least one, never all but one) for early stopping."""
    train_i, held_i = [], []
    for c in sorted(set(y)):
        idx = [i for i, v in enumerate(y) if v == c]
        rng.shuffle(idx)
        k = int(round(len(idx) * frac)) if frac > 0 else 0
        if frac > 0 and len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:
            k = 0
        held_i += idx[:k]
        train_i += idx[k:]
    return sorted(train_i), sorted(held_i)


# ===================================================================  training
def lr_at(step, iters, warmup, lr, min_lr=1e-6):
    """WarmupCosine (official LR_SCHEDULER NAME WarmupCosine, MIN_LR 1e-6)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, iters - warmup)
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


class Progress:
    def __init__(self, total, stream=sys.stderr, enabled=None):
        self.total, self.stream = total, stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.t0 = time.time()
        self.last = 0.0

    def __call__(self, i, text, force=False):
        now = time.time()
        if not self.enabled or (not force and now - self.last < 0.2 and i < self.total):
            return
        self.last = now
        frac = i / max(1, self.total)
        bar = "#" * int(frac * 24)
        eta = (now - self.t0) / frac * (1 - frac) if frac > 0 else 0
        self.stream.write("\r[%-24s] %4d/%d  %s  eta %3.0fs " % (bar, i, self.total, text, eta))
        if i >= self.total:
            self.stream.write("\n")
        self.stream.flush()


@torch.no_grad()
def accuracy(pm, data, y, label_ids, T, batch=64, with_fc=True):
    if not data:
        return float("nan"), float("nan")
    correct, loss = 0, 0.0
    for i in range(0, len(data), batch):
        x = to_patches(pm.base, data[i:i + batch], T)
        t = torch.tensor(y[i:i + batch])
        lg = pm.logits(x, T, label_ids, with_fc)
        correct += int(lg.argmax(1).eq(t).sum())
        loss += float(F.cross_entropy(lg, t, reduction="sum"))
    return correct / len(data), loss / len(data)


def tune(pm, train_data, train_y, held_data, held_y, label_ids, T, args, log=print):
    """Classification: label-smoothing cross entropy over the similarity + fc_prompt logits,
    early stopping on held-out top-1 accuracy."""
    def batch_loss(idx):
        x = to_patches(pm.base, [train_data[i] for i in idx], T)
        t = torch.tensor([train_y[i] for i in idx])
        return F.cross_entropy(pm.logits(x, T, label_ids), t, label_smoothing=LABEL_SMOOTHING)

    held = (lambda: accuracy(pm, held_data, held_y, label_ids, T)) if held_data else None
    return tune_loop(pm, len(train_data), batch_loss, held, "acc", "accuracy", args, log)


def tune_loop(pm, n_train, batch_loss, held_metric, metric, metric_words, args, log=print):
    """The official recipe around any loss: AdamW, warm-up cosine, gradient clipping; every
    `eval_every` iterations held_metric() -> (score, loss) on the held-out split, the best
    state kept (score, then loss), stopping after `patience` checks without a better score.
    batch_loss(list of training indices) -> loss.  Returns the run's summary."""
    params = pm.trained_parameters()
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.95), eps=1e-6, weight_decay=0.0)
    rng = random.Random(args.seed)
    order, pos = [], 0
    best = None
    evals_since_best = 0
    bar = Progress(args.iters, enabled={"auto": None, "always": True, "never": False}[args.progress])
    history = []
    val = float("nan")
    step = 0
    for step in range(args.iters):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.iters, args.warmup, args.lr)
        idx = []
        while len(idx) < min(args.batch, n_train):
            if pos >= len(order):
                order = list(range(n_train))
                rng.shuffle(order)
                pos = 0
            idx.append(order[pos])
            pos += 1
        loss = batch_loss(idx)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, args.clip_grad)
        opt.step()
        done = step + 1
        if held_metric and (done % args.eval_every == 0 or done == args.iters):
            val, val_loss = held_metric()
            history.append({"step": done, "loss": float(loss), "val_" + metric: val, "val_loss": val_loss})
            # keep the best state (score, then loss); stop when the score itself has not
            # improved for `patience` checks (on a small held-out share it saturates early
            # while the loss keeps creeping down)
            key = (val, -val_loss)
            if best is None or val > best[0][0]:
                evals_since_best = 0
            else:
                evals_since_best += 1
            if best is None or key > best[0]:
                best = (key, done, {k: v.detach().clone() for k, v in pm.state_dict().items()})
            bar(done, "loss %.3f  held-out %s %.3f (best %.3f @%d)"
                % (float(loss), metric, val, best[0][0], best[1]), force=True)
            if args.patience and evals_since_best >= args.patience:
                log("early stop at iteration %d: no better held-out %s for %d evaluations"
                    % (done, metric_words, args.patience))
                break
        else:
            bar(done, "loss %.3f  held-out %s %.3f" % (float(loss), metric, val))
    if best is not None:
        pm.load_state_dict(best[2])
        log("kept iteration %d: held-out %s %.3f" % (best[1], metric_words, best[0][0]))
    return {"iterations": step + 1, "best_iteration": best[1] if best else step + 1,
            "heldout_" + metric: best[0][0] if best else None, "history": history}


# ===================================================================  captions and retrieval
def uniform_subset(n, percent, rng):
    """The official sampling of caption and retrieval data: uniformly over the (clip,
    caption) pairs, random.sample(pairs, int(p * len(pairs))) (datasets/task_dataset/msvd.py
    lines 235-236, image_text_pair.py lines 345-346); at least two pairs here."""
    if percent >= 100:
        return list(range(n))
    return sorted(rng.sample(range(n), min(n, max(2, int(n * percent / 100.0)))))


def split_heldout_files(files, frac, rng):
    """A `frac` share of the files (at least one, leaving at least two to train on) held
    out for early stopping, with every caption of them."""
    files = sorted(files)
    rng.shuffle(files)
    k = int(round(len(files) * frac)) if frac > 0 else 0
    k = min(max(k, 1 if frac > 0 else 0), max(0, len(files) - 2))
    return sorted(files[k:]), sorted(files[:k])


def smoothed_ce(logits, target):
    """LabelSmoothingCrossEntropy with LABELSMOOTHING 0.1 (losses/label_smoothing.py lines
    37-48; the caption and retrieval prompt-tuning configs, LOSSES)."""
    return F.cross_entropy(logits, target, label_smoothing=LABEL_SMOOTHING)


def retrieval_logits(pm, patches, T, id_lists):
    """capped logit_scale_retrieve x cosine [videos, texts], through train.py's own
    video_features (retrieval_input) and text_features (retrieval_target)."""
    b = pm.base
    fv = b.video_features(patches, T, "retrieval_input")
    ft = b.text_features(id_lists, "retrieval_target")
    return b.scale("retrieve") * fv @ ft.T


def retrieval_loss(logits):
    """Both ways over the batch, the i-th text matching the i-th clip: i2t + t2i
    (predictor/embed_cls_predictor.py lines 308-324 and _forward lines 329-353)."""
    target = torch.arange(logits.shape[0])
    return smoothed_ce(logits, target) + smoothed_ce(logits.T, target)


def caption_loss(pm, patches, T, id_lists):
    """Teacher-forced next-word prediction over the vocabulary features: train.py's
    caption_logits (the loss that trained the bundled model), smoothed as the official
    caption prompt tuning does.  Returns (loss, logits, target ids)."""
    logits, tgt = train.caption_logits(pm.base, patches, T, id_lists)
    return smoothed_ce(logits, tgt), logits, tgt


@torch.no_grad()
def retrieval_r1(pm, items, id_lists, T, batch=64):
    """Text -> video R@1 of each text's own clip among all the given clips, and the loss."""
    if not items:
        return float("nan"), float("nan")
    b = pm.base
    fv = torch.cat([b.video_features(to_patches(b, items[i:i + batch], T), T, "retrieval_input")
                    for i in range(0, len(items), batch)])
    ft = torch.cat([b.text_features(id_lists[i:i + batch], "retrieval_target")
                    for i in range(0, len(items), batch)])
    r1 = float((ft @ fv.T).argmax(1).eq(torch.arange(len(items))).float().mean())
    return r1, float(retrieval_loss(b.scale("retrieve") * fv @ ft.T))


@torch.no_grad()
def caption_token_accuracy(pm, items, id_lists, T, batch=32):
    """Teacher-forced next-word accuracy over every caption token (and the loss)."""
    if not items:
        return float("nan"), float("nan")
    hits = n = 0
    loss = 0.0
    for i in range(0, len(items), batch):
        ls, lg, tgt = caption_loss(pm, to_patches(pm.base, items[i:i + batch], T), T, id_lists[i:i + batch])
        hits += int(lg.argmax(1).eq(tgt).sum())
        n += len(tgt)
        loss += float(ls) * len(tgt)
    return hits / n, loss / n


def greedy_exact(pm, items, captions, T, kv, batch=32):
    """Greedy captions (train.greedy_captions through the prompts) and their exact-match
    rate against the given captions."""
    bpe = tokenizer_of(kv)
    tok = type("Tok", (), {"bpe": bpe, "eot": bpe.encoder["<|endoftext|>"]})
    out = []
    for i in range(0, len(items), batch):
        out += train.greedy_captions(pm.base, tok, to_patches(pm.base, items[i:i + batch], T), T)
    exact = sum(a.split() == c.lower().split() for a, c in zip(out, captions))
    return exact / max(1, len(items)), out


def no_prompt_model(base, P=0):
    """The base model as the engine runs it without prompts (zero-length prompts)."""
    zs = PromptModel(base, 1)
    zs.prompts = nn.ParameterList([nn.Parameter(torch.zeros(P, base.D)) for _ in zs.prompts])
    return zs


def tune_text(args, kv, base, cfg, log):
    """--task caption | retrieval: returns the summary (the file is written)."""
    try:
        rows = read_labels(args.labels, "caption")
    except (OSError, ValueError) as e:
        raise SystemExit(str(e))
    rng = random.Random(args.seed)
    subset = uniform_subset(len(rows), args.percent, rng)
    files = sorted({rows[i][0] for i in subset})
    train_files, held_files = split_heldout_files(files, args.heldout, rng)
    if len(train_files) < 2:
        raise SystemExit("%s: need captions of at least two clips to train on" % args.labels)
    held = set(held_files)
    pairs = [(rows[i][0], _label_ids(kv, rows[i][1])) for i in subset if rows[i][0] not in held]
    first = {}
    for i in subset:
        first.setdefault(rows[i][0], rows[i][1])
    log("%d captions of %d clips; using %d (%s%%, uniformly): %d of %d clips to train, %d held out"
        % (len(rows), len({f for f, _ in rows}), len(subset), "%g" % args.percent, len(pairs),
           len(train_files), len(held_files)))
    cache = load_clips(args, cfg, train_files + held_files)
    T = clip_length(cfg, cache)
    held_items = [cache[f] for f in held_files]
    held_texts = [first[f] for f in held_files]
    held_ids = [_label_ids(kv, t) for t in held_texts]
    if args.task == "retrieval":
        metric, words = "r1", "text-to-video R@1"

        def measure(m):
            return retrieval_r1(m, held_items, held_ids, T)
    else:
        metric, words = "token_acc", "caption token accuracy"

        def measure(m):
            return caption_token_accuracy(m, held_items, held_ids, T)
    zs = measure(no_prompt_model(base))[0]
    summary = {"zero_shot_heldout_" + metric: zs}
    if args.task == "caption" and held_items:
        summary["zero_shot_heldout_exact"], _ = greedy_exact(no_prompt_model(base), held_items, held_texts, T, kv)
    log("zero-shot held-out %s (base model, no prompts): %.3f" % (words, zs))
    separate = args.target_prompts == "separate" or (args.target_prompts == "auto"
                                                     and args.task == "retrieval")
    pm = PromptModel(base, 1, separate_target=separate)

    def batch_loss(idx):
        seen, items, ids = set(), [], []
        for i in idx:   # one caption per clip in a batch: the i-th text matches the i-th clip
            f, t = pairs[i]
            if args.task == "retrieval" and f in seen:
                continue
            seen.add(f)
            items.append(cache[f])
            ids.append(t)
        x = to_patches(base, items, T)
        if args.task == "retrieval":
            return retrieval_loss(retrieval_logits(pm, x, T, ids))
        return caption_loss(pm, x, T, ids)[0]

    t_tune = time.time()
    res = tune_loop(pm, len(pairs), batch_loss, (lambda: measure(pm)) if held_items else None,
                    metric, words, args, log)
    summary["tune_s"] = time.time() - t_tune
    if args.task == "caption" and held_items:
        summary["heldout_exact"], caps = greedy_exact(pm, held_items, held_texts, T, kv)
        log("held-out greedy exact match: %.3f zero-shot, %.3f tuned (e.g. \"%s\" for \"%s\")"
            % (summary["zero_shot_heldout_exact"], summary["heldout_exact"], caps[0], held_texts[0]))
    summary.update(task=args.task, captions=len(rows), clips=len({f for f, _ in rows}), used=len(subset),
                   train=len(train_files), train_pairs=len(pairs), heldout=len(held_files),
                   percent=args.percent, target_prompts="separate" if separate else "shared",
                   tuned_parameters=sum(p.numel() for p in pm.trained_parameters()), **res)
    summary["bytes"] = write_tuned(args.model, args.out, pm, None, log, task=args.task)
    return summary


def load_clips(args, cfg, files):
    """{file: loaded clip} through ClipLoader, with a progress bar."""
    loader = ClipLoader(args.model, cfg, args.engine)
    t_load = time.time()
    cache = {}
    try:
        bar = Progress(len(files), enabled={"auto": None, "always": True, "never": False}[args.progress])
        for n, f in enumerate(files):
            cache[f] = loader.load(os.path.join(args.data, f))
            bar(n + 1, "reading clips")
    finally:
        loader.close()
    print("read %d clips in %.1f s (%d through the engine's preprocessing)"
          % (len(cache), time.time() - t_load, sum(1 for v in cache.values() if v[0] == "patches")),
          file=sys.stderr, flush=True)
    return cache


def clip_length(cfg, cache):
    """Frames per item: an image is one frame (the engine's image view), a clip the model's."""
    g2 = (cfg["size"] // cfg["patch"]) ** 2
    lengths = {cfg["frames"] if kind == "frames" else a.shape[0] // g2 for kind, a in cache.values()}
    if len(lengths) > 1:
        raise SystemExit("the data mixes images (1 frame) and clips (%d frames): tune on one kind"
                         % cfg["frames"])
    return lengths.pop()


# ===================================================================  main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "uniperceiver-synth-moe.upm"),
                    help="base .upm (default: the bundled model)")
    ap.add_argument("--data", required=True, help="folder of clips or images")
    ap.add_argument("--task", choices=("classify", "caption", "retrieval"), default="classify",
                    help="what to tune for (default classify); caption and retrieval read "
                         "`file,caption` rows, several per file allowed")
    ap.add_argument("--labels", required=True,
                    help="CSV: file,label (file,caption for caption/retrieval; files relative to --data)")
    ap.add_argument("--out", required=True, help="the tuned .upm to write")
    ap.add_argument("--percent", type=float, default=100.0,
                    help="classify: int(n_c * P / 100) + 1 clips of every class c (official per-class "
                         "sampling); caption/retrieval: P %% of the (clip, caption) rows, drawn "
                         "uniformly; default 100: all")
    ap.add_argument("--heldout", type=float, default=0.2,
                    help="share of every class (of the clips, for caption/retrieval) held out for "
                         "early stopping (default 0.2; 0: none)")
    ap.add_argument("--iters", type=int, default=None,
                    help="iterations (default 300 classify, 200 caption, 100 retrieval: the official "
                         "MSVD caption / retrieval prompt tuning)")
    ap.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up iterations (default iters/10)")
    ap.add_argument("--batch", type=int, default=None,
                    help="clips per iteration (default 32 classify, 16 caption/retrieval)")
    ap.add_argument("--target-prompts", choices=("auto", "shared", "separate"), default="auto",
                    help="caption/retrieval: one prompt set for inputs and targets, or a separate "
                         "target set (auto: separate for retrieval, shared for caption, as the "
                         "official configs' SHARE_DEEP_PROMPT)")
    ap.add_argument("--clip-grad", type=float, default=0.1, help="gradient-norm clip (official 0.1)")
    ap.add_argument("--eval-every", type=int, default=20, help="held-out check every N iterations")
    ap.add_argument("--patience", type=int, default=4,
                    help="stop after N held-out checks without a better accuracy (0: never)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    ap.add_argument("--engine", default=None, help="upm-run for non-raw inputs (default build/tools/upm-run)")
    ap.add_argument("--progress", choices=("auto", "always", "never"), default="auto")
    ap.add_argument("--json", default=None, help="write a summary here")
    args = ap.parse_args(argv)
    if args.iters is None:
        args.iters = {"classify": 300, "caption": 200, "retrieval": 100}[args.task]
    if args.batch is None:
        args.batch = 32 if args.task == "classify" else 16
    if args.warmup is None:
        args.warmup = max(1, args.iters // 10)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.time()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    kv, sd, prompt, _ = read_upm(args.model)
    if prompt:
        raise SystemExit("%s is already prompt-tuned: tune its base model instead" % args.model)
    base, cfg = build_base(kv, sd)
    if args.task != "classify":
        summary = tune_text(args, kv, base, cfg, log)
        cpu_s = time.process_time()
        log("wrote %s (%.2f MB; base %.2f MB) in %.1f min in all (tuning %.1f min; %.1f min of CPU)"
            % (args.out, summary["bytes"] / 1e6, os.path.getsize(args.model) / 1e6, (time.time() - t0) / 60,
               summary["tune_s"] / 60, cpu_s / 60))
        summary.update(model=args.model, out=args.out, cpu_s=cpu_s, total_s=time.time() - t0)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(summary, f, indent=1)
        return 0
    rows = read_labels(args.labels)
    labels = sorted({lab for _, lab in rows})
    if len(labels) < 2:
        raise SystemExit("%s: need at least two different labels" % args.labels)
    y_all = [labels.index(lab) for _, lab in rows]
    rng = random.Random(args.seed)
    subset = per_class_subset(y_all, args.percent, rng)
    sub_y = [y_all[i] for i in subset]
    tr, he = split_heldout(sub_y, args.heldout, rng)
    train_idx, held_idx = [subset[i] for i in tr], [subset[i] for i in he]
    log("%d clips, %d classes: %s; using %d (%s%%), %d to train, %d held out for early stopping"
        % (len(rows), len(labels), ", ".join(labels), len(subset), "%g" % args.percent,
           len(train_idx), len(held_idx)))
    loader = ClipLoader(args.model, cfg, args.engine)
    t_load = time.time()
    try:
        cache = {}
        bar = Progress(len(train_idx) + len(held_idx),
                       enabled={"auto": None, "always": True, "never": False}[args.progress])
        for n, i in enumerate(train_idx + held_idx):
            cache[i] = loader.load(os.path.join(args.data, rows[i][0]))
            bar(n + 1, "reading clips")
    finally:
        loader.close()
    n_engine = sum(1 for v in cache.values() if v[0] == "patches")
    log("read %d clips in %.1f s (%d through the engine's preprocessing)"
        % (len(cache), time.time() - t_load, n_engine))
    tok_ids = [_label_ids(kv, lab) for lab in labels]
    pm = PromptModel(base, len(labels))
    n_tuned = sum(p.numel() for p in pm.trained_parameters())
    log("tuning %d parameters (%d layers x %d prompt tokens x %d, norms, s_token_bias, fc_prompt, "
        "similarity_weight); the other %d stay frozen"
        % (n_tuned, cfg["layers"], pm.P, cfg["D"], sum(p.numel() for p in base.parameters()) -
           sum(p.numel() for p in base.parameters() if p.requires_grad)))
    # an image is one frame (the engine's image view), a clip the model's clip length
    P = cfg["patch"]
    g2 = (cfg["size"] // P) ** 2
    lengths = {cfg["frames"] if kind == "frames" else a.shape[0] // g2 for kind, a in cache.values()}
    if len(lengths) > 1:
        raise SystemExit("the data mixes images (1 frame) and clips (%d frames): tune on one kind"
                         % cfg["frames"])
    T = lengths.pop()
    train_data, train_y = [cache[i] for i in train_idx], [y_all[i] for i in train_idx]
    held_data, held_y = [cache[i] for i in held_idx], [y_all[i] for i in held_idx]
    zs = accuracy(pm, held_data, held_y, tok_ids, T, with_fc=False)[0]
    log("zero-shot held-out accuracy (labels typed, base model): %.3f" % zs)
    t_tune = time.time()
    res = tune(pm, train_data, train_y, held_data, held_y, tok_ids, T, args, log)
    tune_s = time.time() - t_tune
    size = write_tuned(args.model, args.out, pm, labels, log)
    cpu_s = time.process_time()
    log("wrote %s (%.2f MB; base %.2f MB) in %.1f min in all (tuning %.1f min; %.1f min of CPU)"
        % (args.out, size / 1e6, os.path.getsize(args.model) / 1e6, (time.time() - t0) / 60, tune_s / 60,
           cpu_s / 60))
    summary = dict(model=args.model, out=args.out, labels=labels, clips=len(rows), used=len(subset),
                   train=len(train_idx), heldout=len(held_idx), percent=args.percent,
                   zero_shot_heldout_acc=zs, tuned_parameters=n_tuned, tune_s=tune_s, cpu_s=cpu_s,
                   total_s=time.time() - t0, bytes=size, **res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


def _label_ids(kv, text):
    """'<label> <|endoftext|>' ids with the model's own tokenizer (tools/clip_bpe.py)."""
    return tokenizer_of(kv).encode(text + " <|endoftext|>")


_TOKENIZERS = {}


def tokenizer_of(kv):
    """The model's own CLIP BPE, built from the merges it carries."""
    key = id(kv)
    if key not in _TOKENIZERS:
        from clip_bpe import ClipBpe
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "merges.txt.gz")
            train.write_bpe_file(list(kv["tokenizer.ggml.merges"]), path)
            bpe = ClipBpe(path)
        if bpe.vocab != list(kv["tokenizer.ggml.tokens"]):
            raise ValueError("the model's tokenizer is not a CLIP BPE of its merges")
        _TOKENIZERS[key] = bpe
    return _TOKENIZERS[key]


if __name__ == "__main__":
    sys.exit(main())
