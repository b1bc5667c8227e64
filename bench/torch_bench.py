#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyTorch float32 baseline of the benchmark (bench/run.sh drives it).

A plain float32 implementation of Uni-Perceiver(-MoE) written from the model
spec: F.linear / F.layer_norm / exact GELU / softmax attention, MoE layers
computed as the official code does (each token through its two routed
experts, outputs mixed by the gate weights), and a caption decoder WITHOUT a
key/value cache (every step re-encodes [SPE, visual, words, query] for all
beams, batched).  The weights are rebuilt from the generator arguments in
the model's .json sidecar (bench/make_models.py), so they equal the .upm's.

Run with OPENBLAS_NUM_THREADS=2 in the environment (torch's best setting on
this machine, together with torch.set_num_threads(1), which this script
does); prints one JSON object.
"""

import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))

import make_models  # noqa: E402
from reference import ATTRIBUTES  # noqa: E402

EPS = 1e-5


def input_values(seed, n):
    """The C benchmark's deterministic inputs (upm-bench.c input_value)."""
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = (i + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15) ^ (np.uint64(seed) << np.uint64(32))
        h ^= h >> np.uint64(31)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(29)
    v = (h >> np.uint64(40)).astype(np.float64) / float(1 << 24) * 2.0 - 1.0
    return torch.from_numpy(v.astype(np.float32))


class Model:
    def __init__(self, sd, heads):
        g = {k: v.float().contiguous() for k, v in sd.items()}
        self.E = g["token_embed.embeddings.weight"]
        self.V, self.D = self.E.shape
        self.H = heads
        self.hd = self.D // heads
        self.spe_id, self.eot_id = self.V - 1, self.V - 4
        self.ln_emb = (g["token_embed.embeddings_norm.weight"], g["token_embed.embeddings_norm.bias"])
        self.pos = g["token_embed.embeddings_pos.position_embeddings.weight"]
        self.ttype = g["token_embed.embeddings_token_type.weight"][0]
        self.patch_w = g["video_embed.embeddings.weight"].reshape(self.D, -1).contiguous()
        self.patch_b = g["video_embed.embeddings.bias"]
        self.sp = g["video_embed.embeddings_st_pos.spatial_pos_embed.weight"]
        self.tp = g["video_embed.embeddings_st_pos.temporal_pos_embed.weight"]
        self.post = (g["loss_prepare.ln_post.weight"], g["loss_prepare.ln_post.bias"])
        self.proj = (g["loss_prepare.proj.weight"], g["loss_prepare.proj.bias"])
        self.scale_caption = min(math.exp(float(g["loss_prepare.logit_scale_caption"])), 100.0)
        self.scale_cls = min(math.exp(float(g["loss_prepare.logit_scale_video_cls"])), 100.0)
        self.layers = []
        n_layers = 1 + max(int(k.split(".")[2]) for k in g if k.startswith("fused_encoder.layers."))
        self.n_moe = 0
        for l in range(n_layers):
            p = "fused_encoder.layers.%d." % l
            L = {"ln1": (g[p + "norm1.weight"], g[p + "norm1.bias"]),
                 "ln2": (g[p + "norm2.weight"], g[p + "norm2.bias"]),
                 "g1": g[p + "gamma_1"].reshape(-1), "g2": g[p + "gamma_2"].reshape(-1)}
            moe = any(k.startswith(p) and ".experts." in k for k in g)
            L["moe"] = moe
            for part, name in (("self_attn.qkv_proj", "qkv"), ("self_attn.dense", "out"),
                               ("linear1", "fc1"), ("linear2", "fc2")):
                if moe:
                    q = p + part + ".experts.deepspeed_experts.%d."
                    e = 0
                    experts = []
                    while (q % e + "weight") in g:
                        experts.append((g[q % e + "weight"], g[q % e + "bias"]))
                        e += 1
                    L[name] = experts
                else:
                    if p + part + ".weight" in g:
                        L[name] = (g[p + part + ".weight"], g[p + part + ".bias"])
                    else:
                        alt = {"qkv": "self_attn.in_proj_", "out": "self_attn.out_proj."}[name]
                        w = g[p + alt + ("weight" if name == "qkv" else "weight")]
                        b = g[p + alt + ("bias" if name == "qkv" else "bias")]
                        L[name] = (w, b)
            if moe:
                self.n_moe += 1
                L["gates"] = {}
                for gate, part in (("attn", "self_attn.qkv_proj"), ("ffn", "linear1")):
                    gp = p + part + ".gate."
                    L["gates"][gate] = (g[gp + "tag_transform.0.weight"], g[gp + "tag_transform.0.bias"],
                                        g[gp + "tag_transform.1.weight"], g[gp + "tag_transform.1.bias"],
                                        g[gp + "wg.weight"])
            self.layers.append(L)
        self._routes = {}

    # ------------------------------------------------------------ routing
    def route(self, l, gate, attr):
        key = (l, gate, attr)
        if key not in self._routes:
            tw, tb, nw, nb, wg = self.layers[l]["gates"][gate]
            a = torch.tensor(ATTRIBUTES[attr], dtype=torch.float32)
            h = F.layer_norm(tw @ a + tb, (self.D,), nw, nb, EPS)
            logits = wg @ h
            top = torch.topk(logits, 2).indices.tolist()
            p = torch.softmax(logits, 0)
            den = max(float(p[top[0]] + p[top[1]]), float(torch.finfo(torch.float32).eps))
            self._routes[key] = (top, [float(p[top[0]]) / den, float(p[top[1]]) / den])
        return self._routes[key]

    def linear(self, l, name, x, segs):
        L = self.layers[l]
        if not L["moe"]:
            return F.linear(x, *L[name])
        gate = "attn" if name in ("qkv", "out") else "ffn"
        outs = []
        a = 0
        for attr, n in segs:
            xs = x[:, a:a + n]
            (e1, e2), (w1, w2) = self.route(l, gate, attr)
            outs.append(w1 * F.linear(xs, *L[name][e1]) + w2 * F.linear(xs, *L[name][e2]))
            a += n
        return outs[0] if len(outs) == 1 else torch.cat(outs, 1)

    # ------------------------------------------------------------ encoder
    def encode(self, x, segs, mask=None):
        B, n, D = x.shape
        H, hd = self.H, self.hd
        for l, L in enumerate(self.layers):
            h = F.layer_norm(x, (D,), *L["ln1"], EPS)
            qkv = self.linear(l, "qkv", h, segs)
            q, k, v = qkv.view(B, n, 3, H, hd).permute(2, 0, 3, 1, 4)
            s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
            if mask is not None:
                s = s.masked_fill(mask, float("-inf"))
            att = torch.matmul(torch.softmax(s, -1), v).transpose(1, 2).reshape(B, n, D)
            x = x + L["g1"] * self.linear(l, "out", att, segs)
            h = F.layer_norm(x, (D,), *L["ln2"], EPS)
            x = x + L["g2"] * self.linear(l, "fc2", F.gelu(self.linear(l, "fc1", h, segs)), segs)
        return x

    def spe(self):
        return F.layer_norm(self.E[self.spe_id], (self.D,), *self.ln_emb, EPS)

    def embed_patches(self, patches, frames):
        y = F.linear(patches, self.patch_w, self.patch_b)
        g2 = self.sp.shape[0]
        y = (y.view(frames, g2, self.D) + self.sp[None] + self.tp[:frames, None]).reshape(-1, self.D)
        y = F.layer_norm(y, (self.D,), *self.ln_emb, EPS)
        return torch.cat([self.spe()[None], y], 0)

    def embed_words(self, ids, positions):
        x = self.E[ids] + self.pos[positions] + self.ttype
        return F.layer_norm(x, (self.D,), *self.ln_emb, EPS)

    def feature(self, h):
        y = F.linear(F.layer_norm(h, (self.D,), *self.post, EPS), *self.proj)
        return y / torch.linalg.norm(y, dim=-1, keepdim=True)

    def visual_feature(self, patches, frames, attr="cls_input"):
        x = self.embed_patches(patches, frames)[None]
        h = self.encode(x, [(attr, x.shape[1])])
        return self.feature(h[0, 0])

    # ------------------------------------------------ caption (no KV cache)
    def caption_step(self, prefix, words, t):
        """words: [B, t] ids; returns log-probs [B, V] of step t."""
        B = words.shape[0]
        Lp = prefix.shape[0]
        parts = [prefix.expand(B, Lp, self.D)]
        if t:
            parts.append(self.embed_words(words, torch.arange(t)[None].expand(B, t)))
        parts.append(self.embed_words(torch.full((B, 1), self.spe_id), torch.full((B, 1), t)))
        x = torch.cat(parts, 1)
        n = x.shape[1]
        mask = torch.ones(n, n, dtype=torch.bool)
        mask[:, :Lp] = False
        for i in range(t):
            mask[Lp + i, Lp:Lp + i + 1] = False
        mask[n - 1, Lp:n] = False
        h = self.encode(x, [("caption_prefix", Lp), ("caption_text", n - Lp)], mask)
        f = self.feature(h[:, -1])
        return torch.log_softmax(self.scale_caption * (f @ self.vocab.T), -1)

    def caption(self, patches, frames, beam, steps, penalty=2.0):
        prefix = self.embed_patches(patches, frames)
        eos = self.eot_id
        words = torch.zeros(1, 0, dtype=torch.long)
        scores = torch.zeros(1)
        finished = torch.zeros(1, dtype=torch.bool)
        for t in range(steps):
            lp = self.caption_step(prefix, words, t)       # every beam, finished or not
            if finished.any():
                lp[finished] = -999.0
                lp[finished, eos] = 0.0
            cand = (scores[:, None] + lp).reshape(-1)
            vals, idx = torch.topk(cand, min(beam, cand.numel()))
            src = idx // self.V
            words = torch.cat([words[src], (idx % self.V)[:, None]], 1)
            scores = vals
            finished = words[:, -1] == eos
        best, best_s = None, -float("inf")
        for b in range(words.shape[0]):
            w = words[b].tolist()
            s = float(scores[b]) / (sum(1 for i in w if i != eos) + 1) ** penalty
            if s > best_s:
                best, best_s = w, s
        return (best[:best.index(eos)] if eos in best else best), best_s


def median_time(fn, runs):
    fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a bench/make_models.py .upm (its .json sidecar is read)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--beam", type=int, default=2)
    ap.add_argument("--steps", type=int, default=21)
    ap.add_argument("--labels", type=int, default=400)
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--vocab-cache", help="the C library's vocabulary feature cache of this model")
    ap.add_argument("--caption-runs", type=int, default=None,
                    help="runs of the full image caption (default --runs)")
    ap.add_argument("--no-caption", action="store_true")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.torch_threads)
    torch.set_grad_enabled(False)
    with open(args.model + ".json") as f:
        side = json.load(f)
    gen = side["generator"]
    t0 = time.perf_counter()
    m = Model(make_models.state_dict(gen), gen["heads"])
    t_build = time.perf_counter() - t0
    G = gen["grid"]
    pdim = 3 * gen["patch"] ** 2
    frames = min(args.frames, gen["temporal"])
    clip = input_values(11, frames * G * G * pdim).view(frames * G * G, pdim)
    image = input_values(12, G * G * pdim).view(G * G, pdim)
    out = {"kind": "torch", "model": os.path.basename(args.model), "runs": args.runs,
           "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
           "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", ""),
           "build_s": round(t_build, 3), "moe_compute": "two experts per token (official)"}

    with torch.inference_mode():
        fc = m.visual_feature(clip, frames)
        fi = m.visual_feature(image, 1)
        out["feature_clip"] = fc[:16].tolist()
        out["feature_image"] = fi[:16].tolist()
        out["encode_clip_s"] = median_time(lambda: m.visual_feature(clip, frames), args.runs)
        out["encode_image_s"] = median_time(lambda: m.visual_feature(image, 1), args.runs)

        # classification against cached label features
        lf = torch.nn.functional.normalize(torch.randn(args.labels, m.D), dim=-1)

        def classify():
            p = torch.softmax(m.scale_cls * (lf @ fc), 0)
            return torch.topk(p, 5)
        out["classify_s"] = median_time(classify, max(args.runs, 20))

        if not args.no_caption:
            if not args.vocab_cache or not os.path.exists(args.vocab_cache):
                raise SystemExit("torch_bench: --vocab-cache FILE is needed for captions")
            raw = np.fromfile(args.vocab_cache, dtype=np.uint8)
            hdr = 8 + 4 + 4 + 64
            v, d = np.frombuffer(raw[8:16].tobytes(), dtype=np.uint32)
            assert (v, d) == (m.V, m.D), "vocabulary cache shape mismatch"
            m.vocab = torch.from_numpy(raw[hdr:].view(np.float32).reshape(v, d).copy())
            runs = args.caption_runs or args.runs
            ids = None

            def cap():
                nonlocal ids
                ids, score = m.caption(image, 1, args.beam, args.steps)
                out["caption_image_score"] = score
            out["caption_image_s"] = median_time(cap, runs)
            out["caption_image"] = ids
            # the clip: full captions take minutes without a cache; time the
            # steps (first step: 1 beam; a middle step: all beams) instead
            prefix = m.embed_patches(clip, frames)
            w0 = torch.zeros(1, 0, dtype=torch.long)
            tm = args.steps // 2
            wm = torch.full((args.beam, tm), 320, dtype=torch.long)
            out["clip_step0_s"] = median_time(lambda: m.caption_step(prefix, w0, 0), runs)
            out["clip_step_mid_s"] = median_time(lambda: m.caption_step(prefix, wm, tm), runs)
            out["caption_clip_est_s"] = out["clip_step0_s"] + (args.steps - 1) * out["clip_step_mid_s"]
            out["caption_runs"] = runs
    out["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
