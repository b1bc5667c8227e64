# SPDX-License-Identifier: LGPL-2.1-or-later
"""Independent PyTorch reference forward pass of Uni-Perceiver(-MoE), written from
model-spec.md (not from the C code).

Works on a state dict with the OFFICIAL key names (model-spec §4.2), either the dense
naming (self_attn.in_proj_weight / out_proj) or the MoE-codebase naming (qkv_proj / dense).
Everything is computed in the dtype given (float64 by default), without KV caching.

    ref = Reference(state_dict)
    f = ref.visual_feature(patches, n_frames, "cls_input")
    ids, score, info = ref.caption(patches, n_frames)

Routing levels (docs/model-format.md, Reference(..., routing=LEVEL)): 'attribute' (the
official gates, the default), 'modality' / 'task' (gate input = a learned embedding row,
`<gate>.embed.weight` [2 or 4, D], chosen from the segment's attribute row), 'token' (gate
input = the token's LN1 / LN2 output) and 'context' (the mean LN1 / LN2 output over the
tokens the token can attend to). Every level: logits = wg g, top-2, renormalised softmax.

Prompt-tuned models (docs/prompt-tuning.md): when the state dict holds the official deep
prompts (fused_encoder.layers.N.deep_prompt_embedding.embedding.weight [P, D], and
.target_embedding.weight when targets have their own), every layer prepends norm1(P_l)'s keys
and values to the tokens' (never masked); s_token_bias [1, D] is added to every <|spe|>
token embedding before the LayerNorm; fc_prompt.{weight,bias} and similarity_weight give
class_logits().  Reference(..., differentiable=True) keeps the given tensors in the autograd
graph (no detach, no copy when the dtype matches) so that prompt tuning can back-propagate
through this forward.
"""

import math

import numpy as np
import torch

# The tables of model-spec.md (tools/upmspec.py, found on sys.path as this file is).
# ATTRIBUTES: the official attribute rows (§3.3); MODALITY_OF and TASK_OF: the rows of the
# modality and task gate embeddings, by attribute row.
from upmspec import (ATTRIBUTE_NAMES, ATTRIBUTES, EMBED_ROWS, LOGIT_SCALE_NAMES,  # noqa: F401
                     MODALITY_OF, N_MODALITIES, N_TASKS, ROUTING_LEVELS, TASK_OF)

EPS = 1e-5
MOE_PARTS = ["self_attn.qkv_proj", "self_attn.dense", "linear1", "linear2"]
STATIC_LEVELS = ("attribute", "modality", "task")
# official key names of the prompt-tuning parameters (uniperceiver/modeling/layers/pe_encoder.py,
# meta_arch/unified_transformer.py prepare_prompt_embed)
PROMPT_KEY = "fused_encoder.layers.%d.deep_prompt_embedding.embedding.weight"
PROMPT_TARGET_KEY = "fused_encoder.layers.%d.deep_prompt_embedding.target_embedding.weight"
SPE_BIAS_KEYS = ("s_token_bias", "token_embed.s_token_bias")


def _t(x, dtype, differentiable=False):
    if isinstance(x, torch.Tensor):
        if differentiable:  # same object when the dtype matches: optimiser updates are seen
            return x.to(torch.float64 if dtype is None else dtype)
        return x.detach().to(torch.float64 if dtype is None else dtype)
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS) * w + b


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


class Reference:
    def __init__(self, sd, heads=None, dtype=torch.float64, attributes=None, routing="attribute",
                 differentiable=False):
        if routing not in ROUTING_LEVELS:
            raise ValueError("unknown routing level %r" % routing)
        self.routing = routing
        self.trace = None  # a list: dynamic routing appends (layer, gate, experts, logits)
        self.dtype = dtype
        sd = {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}
        self.differentiable = differentiable
        self.sd = {k: _t(v, dtype, differentiable) for k, v in sd.items()}
        self.attributes = attributes or ATTRIBUTES
        g = self.sd
        self.E = g["token_embed.embeddings.weight"]
        self.V, self.D = self.E.shape
        self.heads = heads or self.D // 64
        assert self.D % self.heads == 0
        self.spe_id = self.V - 1
        self.eot_id = self.V - 4
        self.P = g["video_embed.embeddings.weight"].reshape(self.D, 3, -1).shape[-1]
        self.P = int(round(math.sqrt(self.P)))
        self.grid = int(round(math.sqrt(g["video_embed.embeddings_st_pos.spatial_pos_embed.weight"].shape[0])))
        self.n_layers = 1 + max(int(k.split(".")[2]) for k in g if k.startswith("fused_encoder.layers."))
        self.moe_layers = [l for l in range(self.n_layers)
                           if any(k.startswith("fused_encoder.layers.%d." % l) and ".experts.deepspeed_experts." in k
                                  for k in g)]
        self.n_experts = 0
        if self.moe_layers:
            p = "fused_encoder.layers.%d.linear1.experts.deepspeed_experts." % self.moe_layers[0]
            self.n_experts = len({k[len(p):].split(".")[0] for k in g if k.startswith(p)})
        nk = "token_embed.embeddings_norm" if "token_embed.embeddings_norm.weight" in g else "video_embed.embeddings_norm"
        self.ln_emb = (g[nk + ".weight"], g[nk + ".bias"])
        self._vocab_cache = None
        self.spe_bias = next((g[k].reshape(-1) for k in SPE_BIAS_KEYS if k in g), None)
        self.prompt_length = g[PROMPT_KEY % 0].shape[0] if PROMPT_KEY % 0 in g else 0
        self.shared_target = PROMPT_TARGET_KEY % 0 not in g

    def prompt(self, layer, target=False):
        """The deep prompt of a layer [P, D] (None for a model without prompts); target:
        the target sequences' set (pe_encoder.py DeepPrompt.forward, data_type 'target')."""
        if not self.prompt_length:
            return None
        if target and not self.shared_target:
            return self.sd[PROMPT_TARGET_KEY % layer]
        return self.sd[PROMPT_KEY % layer]

    # ------------------------------------------------------------ scales
    def logit_scale(self, name):
        raw = self.sd["loss_prepare.logit_scale_" + name].reshape(-1)[0]
        return torch.clamp(torch.exp(raw), max=100.0)

    # -------------------------------------------------------- embeddings
    def spe(self):
        e = self.E[self.spe_id]
        if self.spe_bias is not None:
            e = e + self.spe_bias
        return layer_norm(e, *self.ln_emb)

    def embed_words(self, ids, positions):
        g = self.sd
        ids = torch.as_tensor(ids, dtype=torch.long)
        e = self.E[ids]
        if self.spe_bias is not None:  # token_embed.py: every <|spe|> id gets s_token_bias
            e = e + (ids == self.spe_id).to(e.dtype)[:, None] * self.spe_bias
        x = e \
            + g["token_embed.embeddings_pos.position_embeddings.weight"][torch.as_tensor(positions, dtype=torch.long)] \
            + g["token_embed.embeddings_token_type.weight"][0]
        return layer_norm(x, *self.ln_emb)

    def embed_text(self, ids):
        """[SPE, ids at positions 0..n-1] -> (1+n) x D."""
        return torch.cat([self.spe()[None], self.embed_words(ids, list(range(len(ids))))], 0)

    def embed_patches(self, patches, n_frames, add_type=False):
        """patches: (n_frames*grid^2) x 3P^2 rows (channel,row,col) -> [SPE, tokens]."""
        g = self.sd
        x = _t(patches, self.dtype)
        W = g["video_embed.embeddings.weight"].reshape(self.D, -1)
        b = g["video_embed.embeddings.bias"]
        if add_type:
            b = b + g["video_embed.embeddings_type.weight"][0]
        y = x @ W.T + b
        G2 = self.grid * self.grid
        assert y.shape[0] == n_frames * G2
        sp = g["video_embed.embeddings_st_pos.spatial_pos_embed.weight"]
        tp = g["video_embed.embeddings_st_pos.temporal_pos_embed.weight"]
        y = y.reshape(n_frames, G2, self.D) + sp[None] + tp[:n_frames, None]
        y = layer_norm(y.reshape(n_frames * G2, self.D), *self.ln_emb)
        return torch.cat([self.spe()[None], y], 0)

    # -------------------------------------------------------------- MoE
    def route(self, layer, gate, attr):
        """gate 'attn' (qkv_proj gate) or 'ffn' (linear1 gate); attr: name or bits (bits:
        attribute routing only).  Static levels only.
        Returns ([i1, i2], [w1, w2], logits) with i1 the larger logit."""
        part = "self_attn.qkv_proj" if gate == "attn" else "linear1"
        p = "fused_encoder.layers.%d.%s.gate." % (layer, part)
        g = self.sd
        if self.routing == "attribute":
            bits = self.attributes[attr] if isinstance(attr, str) else attr
            a = torch.as_tensor(bits, dtype=self.dtype)
            h = g[p + "tag_transform.0.weight"] @ a + g[p + "tag_transform.0.bias"]
            h = layer_norm(h, g[p + "tag_transform.1.weight"], g[p + "tag_transform.1.bias"])
        elif self.routing in ("modality", "task"):
            row = (MODALITY_OF if self.routing == "modality" else TASK_OF)[attr]
            h = g[p + "embed.weight"][row]
        else:
            raise ValueError("route(): %s routing decides per token" % self.routing)
        logits = g[p + "wg.weight"] @ h
        order = torch.argsort(logits, descending=True)
        i1, i2 = int(order[0]), int(order[1])
        prob = torch.softmax(logits, 0)
        den = torch.clamp(prob[i1] + prob[i2], min=torch.finfo(torch.float32).eps)
        return [i1, i2], [float(prob[i1] / den), float(prob[i2] / den)], logits

    def route_rows(self, layer, gate, h, mask=None):
        """Dynamic levels: per-row top-2 of h [B, n, D] (the LN1 / LN2 output).
        context: the gate input of row r is the mean of the rows r may attend to
        (mask [n, n], True = blocked).  Returns (experts [B, n, 2] long, weights [B, n, 2],
        logits [B, n, E])."""
        part = "self_attn.qkv_proj" if gate == "attn" else "linear1"
        wg = self.sd["fused_encoder.layers.%d.%s.gate.wg.weight" % (layer, part)]
        z = h
        if self.routing == "context":
            n = h.shape[1]
            vis = torch.ones(n, n, dtype=h.dtype) if mask is None else (~mask).to(h.dtype)
            z = (vis @ h) / vis.sum(-1, keepdim=True)
        logits = z @ wg.T
        order = torch.argsort(logits, dim=-1, descending=True)[..., :2]
        prob = torch.softmax(logits, -1)
        p2 = torch.gather(prob, -1, order)
        den = torch.clamp(p2.sum(-1, keepdim=True), min=torch.finfo(torch.float32).eps)
        return order, p2 / den, logits

    def _moe_rows(self, layer, part, x, experts, weights):
        """Per-row mixture of two experts: sum_k w_k (x W_k^T + b_k)."""
        g = self.sd
        q = "fused_encoder.layers.%d.%s.experts.deepspeed_experts.%%d." % (layer, part)
        y = 0
        for e in range(self.n_experts):
            w = (weights * (experts == e).to(weights.dtype)).sum(-1, keepdim=True)
            if bool((w != 0).any()):
                y = y + w * (x @ g[q % e + "weight"].T + g[q % e + "bias"])
        return y

    def _linear(self, layer, part, attr):
        """Weight and bias of a linear of a layer for an attribute row (merged if MoE)."""
        g = self.sd
        p = "fused_encoder.layers.%d." % layer
        if layer in self.moe_layers:
            gate = "attn" if part in ("self_attn.qkv_proj", "self_attn.dense") else "ffn"
            ex, wt, _ = self.route(layer, gate, attr)
            q = p + part + ".experts.deepspeed_experts.%d."
            W = wt[0] * g[q % ex[0] + "weight"] + wt[1] * g[q % ex[1] + "weight"]
            b = wt[0] * g[q % ex[0] + "bias"] + wt[1] * g[q % ex[1] + "bias"]
            return W, b
        alt = {"self_attn.qkv_proj": ("self_attn.in_proj_weight", "self_attn.in_proj_bias"),
               "self_attn.dense": ("self_attn.out_proj.weight", "self_attn.out_proj.bias")}
        if p + part + ".weight" in g:
            return g[p + part + ".weight"], g[p + part + ".bias"]
        wk, bk = alt[part]
        return g[p + wk], g[p + bk]

    # ----------------------------------------------------------- encoder
    def prompt_kv(self, layer, attr, target):
        """Keys and values of a layer's deep prompt [P, 2D] (None without prompts): norm1 of
        the prompt (transformer_encoder_moe_layer.py _sa_block), projected by the K/V rows
        of the qkv linear; in MoE layers, static levels merge the experts of the first
        segment's attribute row (task_moe/experts.py top2_expert_forward: the prompt joins
        the first segment), dynamic levels route each prompt row by its own norm1 row
        (token) or by the mean of the prompt's rows, one group of their own (context)."""
        P = self.prompt(layer, target)
        if P is None:
            return None
        g = self.sd
        p = "fused_encoder.layers.%d." % layer
        D = self.D
        hp = layer_norm(P, g[p + "norm1.weight"], g[p + "norm1.bias"])
        if layer in self.moe_layers and self.routing not in STATIC_LEVELS:
            ex, wt, _ = self.route_rows(layer, "attn", hp[None], None)
            return self._moe_rows(layer, "self_attn.qkv_proj", hp[None], ex, wt)[0][:, D:]
        W, b = self._linear(layer, "self_attn.qkv_proj", attr)
        return hp @ W[D:].T + b[D:]

    def encode(self, x, segments, mask=None, target=None):
        """x: [B, n, D] or [n, D]; segments: list of (attr, n_tokens) covering n;
        mask: [n, n] bool, True = blocked; target: whether the sequence is a target (its
        deep prompt, when not shared; None: the first segment's name ends in '_target').
        Returns the last layer's hidden states."""
        squeeze = x.dim() == 2
        if squeeze:
            x = x[None]
        B, n, D = x.shape
        assert sum(c for _, c in segments) == n
        H = self.heads
        hd = D // H
        g = self.sd
        bounds = []
        s = 0
        for attr, c in segments:
            bounds.append((attr, s, s + c))
            s += c
        if target is None:
            target = segments[0][0].endswith("_target")
        for l in range(self.n_layers):
            p = "fused_encoder.layers.%d." % l
            dyn = l in self.moe_layers and self.routing not in STATIC_LEVELS
            h = layer_norm(x, g[p + "norm1.weight"], g[p + "norm1.bias"])
            qkv = torch.empty(B, n, 3 * D, dtype=x.dtype)
            if dyn:
                ex_a, wt_a, lg = self.route_rows(l, "attn", h, mask)
                if self.trace is not None:
                    self.trace.append((l, "attn", ex_a, lg))
                qkv = self._moe_rows(l, "self_attn.qkv_proj", h, ex_a, wt_a)
            for attr, a, b in ([] if dyn else bounds):
                W, bias = self._linear(l, "self_attn.qkv_proj", attr)
                qkv[:, a:b] = h[:, a:b] @ W.T + bias
            q, k, v = qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:]
            kv_p = self.prompt_kv(l, segments[0][0], target)
            m = mask
            if kv_p is not None:  # the prompt's keys and values first, never masked
                n_p = kv_p.shape[0]
                k = torch.cat([kv_p[:, :D].expand(B, n_p, D), k], 1)
                v = torch.cat([kv_p[:, D:].expand(B, n_p, D), v], 1)
                if mask is not None:
                    m = torch.cat([torch.zeros(n, n_p, dtype=torch.bool), mask], 1)
            nk = k.shape[1]
            q = q.reshape(B, n, H, hd).transpose(1, 2)
            k = k.reshape(B, nk, H, hd).transpose(1, 2)
            v = v.reshape(B, nk, H, hd).transpose(1, 2)
            sc = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            if m is not None:
                sc = sc.masked_fill(m[None, None], float("-inf"))
            att = torch.softmax(sc, -1) @ v
            att = att.transpose(1, 2).reshape(B, n, D)
            o = torch.empty_like(att)
            if dyn:
                o = self._moe_rows(l, "self_attn.dense", att, ex_a, wt_a)
            for attr, a, b in ([] if dyn else bounds):
                W, bias = self._linear(l, "self_attn.dense", attr)
                o[:, a:b] = att[:, a:b] @ W.T + bias
            x = x + g[p + "gamma_1"].reshape(-1) * o
            h = layer_norm(x, g[p + "norm2.weight"], g[p + "norm2.bias"])
            f = torch.empty_like(h)
            if dyn:
                ex_f, wt_f, lg = self.route_rows(l, "ffn", h, mask)
                if self.trace is not None:
                    self.trace.append((l, "ffn", ex_f, lg))
                f = self._moe_rows(l, "linear2", gelu(self._moe_rows(l, "linear1", h, ex_f, wt_f)),
                                   ex_f, wt_f)
            for attr, a, b in ([] if dyn else bounds):
                W1, b1 = self._linear(l, "linear1", attr)
                W2, b2 = self._linear(l, "linear2", attr)
                f[:, a:b] = gelu(h[:, a:b] @ W1.T + b1) @ W2.T + b2
            x = x + g[p + "gamma_2"].reshape(-1) * f
        return x[0] if squeeze else x

    def projected(self, h):
        """ln_post and proj of a hidden state, not normalised (the predictor's 'feats')."""
        g = self.sd
        y = layer_norm(h, g["loss_prepare.ln_post.weight"], g["loss_prepare.ln_post.bias"])
        return y @ g["loss_prepare.proj.weight"].T + g["loss_prepare.proj.bias"]

    def feature(self, h):
        y = self.projected(h)
        return y / torch.linalg.norm(y, dim=-1, keepdim=True)

    def has_cls_prompt(self):
        return "fc_prompt.weight" in self.sd

    def class_logits(self, h, label_features, scale_name="video_cls"):
        """Classification logits of an input's final <SPE> hidden state h [D] (or [B, D])
        against L2-normalised label features [C, D]: capped scale x cosine, and with
        fc_prompt: similarity_weight x that + fc_prompt(projected h)
        (unified_transformer.py fc_prompt_process; embed_cls_predictor.py 'feats')."""
        y = self.projected(h)
        f = y / torch.linalg.norm(y, dim=-1, keepdim=True)
        logits = self.logit_scale(scale_name) * (f @ label_features.T)
        if not self.has_cls_prompt():
            return logits
        g = self.sd
        sw = g["similarity_weight"].reshape(-1)[0] if "similarity_weight" in g else 0.0
        return sw * logits + y @ g["fc_prompt.weight"].T + g["fc_prompt.bias"]

    # ------------------------------------------------------------ tasks
    def visual_hidden(self, patches, n_frames, attr, add_type=False):
        x = self.embed_patches(patches, n_frames, add_type)
        return self.encode(x, [(attr, x.shape[0])])

    def visual_feature(self, patches, n_frames, attr, add_type=False):
        h = self.visual_hidden(patches, n_frames, attr, add_type)
        return self.feature(h[0]), h[0]

    def text_features(self, id_lists, attr):
        out = []
        for ids in id_lists:
            x = self.embed_text(ids)
            out.append(self.feature(self.encode(x, [(attr, x.shape[0])])[0]))
        return torch.stack(out)

    def vocab_features(self):
        if self._vocab_cache is None or self.differentiable:
            V = self.V
            ids = torch.arange(V)
            words = self.embed_words(ids, [0] * V)
            eot = self.embed_words([self.eot_id], [1])[0]
            x = torch.stack([self.spe().expand(V, self.D), words, eot.expand(V, self.D)], 1)
            h = self.encode(x, [("vocab_target", 3)])
            self._vocab_cache = self.feature(h[:, 0])
        return self._vocab_cache

    def caption_step_hidden(self, prefix, words, t):
        """Full recompute of the caption layout [SPE, visual, w_0..w_{t-1}, s_t];
        returns the final hidden state at s_t."""
        Lp = prefix.shape[0]
        parts = [prefix]
        if t:
            parts.append(self.embed_words(words, list(range(t))))
        parts.append(self.embed_words([self.spe_id], [t]))
        x = torch.cat(parts, 0)
        n = x.shape[0]
        mask = torch.ones(n, n, dtype=torch.bool)
        mask[:, :Lp] = False                       # everyone sees SPE + visual
        for i in range(t):                         # word i sees words j <= i
            mask[Lp + i, Lp:Lp + i + 1] = False
        mask[n - 1, Lp:n] = False                  # s_t sees all previous words and itself
        h = self.encode(x, [("caption_prefix", Lp), ("caption_text", n - Lp)], mask)
        return h[-1]

    def caption(self, patches, n_frames, beam=2, max_len=21, length_penalty=2.0, add_type=False):
        """Beam search of model-spec §1.6b without KV cache.

        Returns (ids, score, info); info holds 'step0_logprobs' and 'margins' (the gaps
        between consecutive sorted candidates around every beam decision)."""
        prefix = self.embed_patches(patches, n_frames, add_type)
        vf = self.vocab_features()
        scale = self.logit_scale("caption")
        eos = self.eot_id
        beams = [[]]
        scores = torch.zeros(1, dtype=self.dtype)
        margins = []
        info = {}
        for t in range(max_len):
            cand = []
            for bi, words in enumerate(beams):
                if words and words[-1] == eos:
                    row = torch.full((self.V,), -999.0, dtype=self.dtype)
                    row[eos] = scores[bi]
                else:
                    h = self.caption_step_hidden(prefix, words, t)
                    lp = torch.log_softmax(scale * (vf @ self.feature(h)), 0)
                    if t == 0:
                        info["step0_logprobs"] = lp.clone()
                    row = scores[bi] + lp
                cand.append(row)
            cand = torch.cat(cand)
            vals, idx = torch.sort(cand, descending=True)
            k = min(beam, cand.numel())
            if k < cand.numel() and vals[k - 1] > -900:
                # the decision: the last kept candidate against the first dropped one
                margins.append(float(vals[k - 1] - vals[k]))
            new_beams, new_scores = [], []
            for j in range(k):
                bi, w = divmod(int(idx[j]), self.V)
                new_beams.append(beams[bi] + [w])
                new_scores.append(vals[j])
            beams = new_beams
            scores = torch.stack(new_scores)
        finals = []
        for words, s in zip(beams, scores):
            n_real = sum(1 for w in words if w != eos)
            finals.append(float(s) / (n_real + 1) ** length_penalty)
        order = sorted(range(len(finals)), key=lambda i: -finals[i])
        if len(order) > 1:
            margins.append(finals[order[0]] - finals[order[1]])
        best = beams[order[0]]
        ids = best[:best.index(eos)] if eos in best else best
        info["margins"] = margins  # per step: kept vs dropped; last: best vs second final beam
        info["beams"] = beams
        info["final_scores"] = finals
        return ids, finals[order[0]], info


# ----------------------------------------------------------------- random model
def random_state_dict(D=64, layers=4, heads=2, ffn=128, vocab=557, patch=8, grid=4, temporal=4,
                      moe_layers=(), seed=0, ctx=64, n_experts=8, dense_naming=None,
                      caption_scale_raw=4.7, routing="attribute"):
    """A small random model in official key names (torch float32 tensors).

    moe_layers: 0-based indices of MoE layers (8 experts, 4 gates each).  Non-MoE layers use
    the dense naming (in_proj_weight/out_proj) when the model has no MoE layer (or
    dense_naming=True), else the MoE-codebase naming (qkv_proj/dense)."""
    gen = torch.Generator().manual_seed(seed)

    def rn(*shape, std=1.0):
        return torch.randn(*shape, generator=gen) * std

    def ru(*shape, lo=0.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(*shape, generator=gen)

    if dense_naming is None:
        dense_naming = not moe_layers
    sd = {}
    sd["token_embed.embeddings.weight"] = rn(vocab, D)
    sd["token_embed.embeddings_norm.weight"] = 1 + rn(D, std=0.1)
    sd["token_embed.embeddings_norm.bias"] = rn(D, std=0.1)
    sd["token_embed.embeddings_pos.position_embeddings.weight"] = rn(ctx, D, std=0.5)
    sd["token_embed.embeddings_token_type.weight"] = rn(2, D, std=0.5)
    sd["video_embed.embeddings.weight"] = rn(D, 3, patch, patch, std=1.0 / math.sqrt(3 * patch * patch))
    sd["video_embed.embeddings.bias"] = rn(D, std=0.1)
    sd["video_embed.embeddings_type.weight"] = rn(1, D, std=0.5)
    sd["video_embed.embeddings_st_pos.spatial_pos_embed.weight"] = rn(grid * grid, D, std=0.5)
    sd["video_embed.embeddings_st_pos.temporal_pos_embed.weight"] = rn(temporal, D, std=0.5)
    sd["video_embed.embeddings_norm.weight"] = sd["token_embed.embeddings_norm.weight"].clone()
    sd["video_embed.embeddings_norm.bias"] = sd["token_embed.embeddings_norm.bias"].clone()

    def lin(out_f, in_f):
        return rn(out_f, in_f, std=1.0 / math.sqrt(in_f)), rn(out_f, std=0.1)

    for l in range(layers):
        p = "fused_encoder.layers.%d." % l
        sd[p + "gamma_1"] = ru(D, lo=0.1, hi=1.0)
        sd[p + "gamma_2"] = ru(D, lo=0.1, hi=1.0)
        for n in ("norm1", "norm2"):
            sd[p + n + ".weight"] = 1 + rn(D, std=0.1)
            sd[p + n + ".bias"] = rn(D, std=0.1)
        shapes = {"self_attn.qkv_proj": (3 * D, D), "self_attn.dense": (D, D),
                  "linear1": (ffn, D), "linear2": (D, ffn)}
        if l in moe_layers:
            for part in MOE_PARTS:
                for e in range(n_experts):
                    w, b = lin(*shapes[part])
                    sd[p + part + ".experts.deepspeed_experts.%d.weight" % e] = w
                    sd[p + part + ".experts.deepspeed_experts.%d.bias" % e] = b
                gp = p + part + ".gate."
                sd[gp + "wg.weight"] = rn(n_experts, D, std=1.0 / math.sqrt(D))
                if routing == "attribute":
                    sd[gp + "tag_transform.0.weight"] = rn(D, 8, std=1.0 / math.sqrt(8))
                    sd[gp + "tag_transform.0.bias"] = rn(D, std=0.1)
                    sd[gp + "tag_transform.1.weight"] = 1 + rn(D, std=0.3)
                    sd[gp + "tag_transform.1.bias"] = rn(D, std=0.1)
                elif routing in EMBED_ROWS:
                    sd[gp + "embed.weight"] = rn(EMBED_ROWS[routing], D)
        else:
            wq, bq = lin(3 * D, D)
            wo, bo = lin(D, D)
            if dense_naming:
                sd[p + "self_attn.in_proj_weight"], sd[p + "self_attn.in_proj_bias"] = wq, bq
                sd[p + "self_attn.out_proj.weight"], sd[p + "self_attn.out_proj.bias"] = wo, bo
            else:
                sd[p + "self_attn.qkv_proj.weight"], sd[p + "self_attn.qkv_proj.bias"] = wq, bq
                sd[p + "self_attn.dense.weight"], sd[p + "self_attn.dense.bias"] = wo, bo
            sd[p + "linear1.weight"], sd[p + "linear1.bias"] = lin(ffn, D)
            sd[p + "linear2.weight"], sd[p + "linear2.bias"] = lin(D, ffn)
    sd["loss_prepare.ln_post.weight"] = 1 + rn(D, std=0.1)
    sd["loss_prepare.ln_post.bias"] = rn(D, std=0.1)
    sd["loss_prepare.proj.weight"], sd["loss_prepare.proj.bias"] = lin(D, D)
    for n in LOGIT_SCALE_NAMES:
        sd["loss_prepare.logit_scale_" + n] = torch.tensor(math.log(1 / 0.07)) + rn(1, std=0.2).reshape(())
    # random vocabulary features are close to each other (cos ~0.94): a large caption scale
    # keeps beam decisions well separated; exp(4.7) > 100 also exercises the cap at 100
    sd["loss_prepare.logit_scale_caption"] = torch.tensor(caption_scale_raw)
    return sd


def add_random_prompts(sd, length=10, shared_target=True, n_classes=0, seed=1,
                       similarity_weight=0.75):
    """Add random prompt-tuning tensors, in official key names, to a state dict (in place;
    returns it): a deep prompt per layer (and a target set unless shared_target),
    s_token_bias, and with n_classes > 0 fc_prompt and similarity_weight."""
    gen = torch.Generator().manual_seed(seed)
    D = sd["token_embed.embeddings.weight"].shape[1]
    layers = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("fused_encoder.layers."))
    for l in range(layers):
        sd[PROMPT_KEY % l] = torch.randn(length, D, generator=gen)
        if not shared_target:
            sd[PROMPT_TARGET_KEY % l] = torch.randn(length, D, generator=gen)
    sd["s_token_bias"] = 0.5 * torch.randn(1, D, generator=gen)
    if n_classes:
        sd["fc_prompt.weight"] = torch.randn(n_classes, D, generator=gen) / math.sqrt(D)
        sd["fc_prompt.bias"] = 0.5 * torch.randn(n_classes, generator=gen)
        sd["similarity_weight"] = torch.tensor(float(similarity_weight))
    return sd


# ------------------------------------------------- official sampling and crops
# The official evaluation's clip sampling and preprocessing (fundamentalvision/Uni-Perceiver:
# datasets/task_dataset/video_raw.py and msvd.py _get_val_indices and transforms,
# video_transform.py random_short_side_scale_jitter and uniform_crop, imagenet.py's
# torchvision Resize + CenterCrop), written from that code, not from lib/upm-vision.c.
# Each preset: frames per view, temporal views, stride in 30-fps frames (None: a still
# image), crops ("three" or "centre") and the image resize ratio.
OFFICIAL_PRESETS = {
    "k400": dict(frames=8, views=4, stride=8, crops="three"),
    "msvd-caption": dict(frames=4, views=1, stride=32, crops="centre"),
    "msvd-retrieval": dict(frames=4, views=1, stride=32, crops="centre"),
    "imagenet": dict(frames=1, views=1, stride=None, crops="centre", resize_ratio=256 / 224),
    "coco-caption": dict(frames=1, views=1, stride=None, crops="centre", resize_ratio=1.0),
    "coco-retrieval": dict(frames=1, views=1, stride=None, crops="centre", resize_ratio=1.0),
    "flickr30k-caption": dict(frames=1, views=1, stride=None, crops="centre", resize_ratio=1.0),
    "flickr30k-retrieval": dict(frames=1, views=1, stride=None, crops="centre", resize_ratio=1.0),
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def official_frame_indices(total_frames, fps, frames_per_clip, interval, target_fps=30):
    """_get_val_indices with one clip (start 0): wraps modulo the frame count."""
    return [int(i * interval * fps / target_fps + 0) % total_frames for i in range(frames_per_clip)]


def short_side_scale(images, size):
    """random_short_side_scale_jitter(images, size, size) on T x 3 x H x W floats in [0, 1]."""
    import torch.nn.functional as F
    height, width = images.shape[2], images.shape[3]
    if (width <= height and width == size) or (height <= width and height == size):
        return images
    new_w = new_h = size
    if width < height:
        new_h = int(math.floor((float(height) / width) * size))
    else:
        new_w = int(math.floor((float(width) / height) * size))
    return F.interpolate(images, size=(new_h, new_w), mode="bilinear", align_corners=False)


def uniform_crop_offsets(height, width, size, spatial_idx):
    """uniform_crop's (x, y): left/centre/right, top/centre/bottom when portrait."""
    y = int(math.ceil((height - size) / 2))
    x = int(math.ceil((width - size) / 2))
    if height > width:
        y = {0: 0, 1: y, 2: height - size}[spatial_idx]
    else:
        x = {0: 0, 1: x, 2: width - size}[spatial_idx]
    return x, y


def center_crop_offsets(height, width, size):
    """torchvision CenterCrop: int(round((len - size) / 2.0)) (Python rounds half to even)."""
    return int(round((width - size) / 2.0)), int(round((height - size) / 2.0))


def patchify_chw(x, patch):
    """T x 3 x S x S -> (T * g * g) x (3 * P * P), patches row-major, (channel, row, col)."""
    t, c, s = x.shape[0], x.shape[1], x.shape[2]
    g = s // patch
    x = x.reshape(t, c, g, patch, g, patch).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(t * g * g, c * patch * patch)


def _video_views(frames, fps, p, size, patch):
    n_total = len(frames)
    ids = official_frame_indices(n_total, fps, p["frames"] * p["views"], p["stride"])
    views = []
    for v in range(p["views"]):
        idx = ids[v::p["views"]]  # MULTI_VEIW v2: view v takes frames v, v + views, ...
        x = torch.stack([torch.from_numpy(np.ascontiguousarray(frames[i])).permute(2, 0, 1)
                         .to(torch.float32).div(255.0) for i in idx])  # ToTensor
        x = short_side_scale(x, size)
        h, w = x.shape[2], x.shape[3]
        crops = range(3) if p["crops"] == "three" else [None]
        for ci in crops:
            if ci is None:
                cx, cy = center_crop_offsets(h, w, size)
            else:
                cx, cy = uniform_crop_offsets(h, w, size, ci)
            c = x[:, :, cy:cy + size, cx:cx + size]
            c = (c - 0.5) / 0.5  # Normalize((0.5,) * 3, (0.5,) * 3)
            views.append(dict(indices=list(idx), resized=(w, h), box=(cx, cy, size),
                              patches=patchify_chw(c, patch), uint8=None))
    return views


def _image_view(frame, p, size, patch):
    from PIL import Image
    img = Image.fromarray(np.ascontiguousarray(frame), "RGB")
    resize = int(p["resize_ratio"] * size)
    w, h = img.size
    # torchvision Resize(int) on a PIL image: the shorter side becomes resize
    if w <= h:
        ow, oh = resize, int(resize * h / w)
    else:
        oh, ow = resize, int(resize * w / h)
    img = img.resize((ow, oh), Image.BICUBIC)
    cx, cy = center_crop_offsets(oh, ow, size)
    u8 = np.asarray(img.crop((cx, cy, cx + size, cy + size)), dtype=np.uint8)
    x = torch.from_numpy(u8.copy()).permute(2, 0, 1).to(torch.float32).div(255.0)[None]
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return dict(indices=[0], resized=(ow, oh), box=(cx, cy, size),
                patches=patchify_chw((x - mean) / std, patch), uint8=u8)


def official_views(frames, fps, preset, size, patch):
    """The views the official evaluation makes of a video (or an image: frames[0]).

    frames: the decoded frames, uint8 H x W x 3 arrays; fps: the stream's rate; preset: a
    name of OFFICIAL_PRESETS; size: the model's image size; patch: its patch size.
    Returns a list of dicts, one per view (temporal view major, then crop): indices (the
    frame of each position), resized (w, h), box (x, y, size) in the resized frame,
    patches ((frames * grid^2) x 3P^2 float32, normalised) and, for images, uint8 (the
    cropped pixels before normalisation)."""
    p = OFFICIAL_PRESETS[preset]
    if p["stride"] is None:
        return [_image_view(frames[0], p, size, patch)]
    return _video_views(frames, fps, p, size, patch)
