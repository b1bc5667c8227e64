#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Convert a Uni-Perceiver(-MoE) checkpoint to our GGUF-based model file (.upm).

    /usr/bin/python3 tools/convert.py CHECKPOINT.pth --bpe data/clip-bpe/bpe_simple_vocab_16e6.txt.gz -o model.upm

Accepted inputs (auto-detected, and printed: layout, tensor types, size, dense or MoE):
  * official torch format: torch.save({'model': state_dict}) with the key names of
    model-spec §4.2 (a leading 'module.' is stripped);
  * DeepSpeed format: {'module': state_dict} with DeepSpeed key names (model-spec §4.3),
    usually fp16;
  * a bare state dict (treated like the torch format).

The video type embedding (video_embed.embeddings_type.weight[0]) is added into the patch
bias as the official conversions do: dense DeepSpeed files are merged, dense torch files
(the output of the official dense conversion) are merged already.  The official MoE export
does not merge it, and a MoE file cannot show whether it was, so a MoE checkpoint that has
the embedding needs --merge-video-type yes|no.

The layout of the output is described in docs/model-format.md.  Other tools can use
convert_state_dict() directly (the trainer exports through it).
"""

import argparse
import gzip
import hashlib
import math
import os
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import upmgguf  # noqa: E402
from upmspec import (ATTRIBUTE_NAMES, CLIP_N_MERGES, DEFAULT_BPE, LOGIT_SCALE_NAMES,  # noqa: E402
                     ROUTING_LEVELS, SPECIAL_TOKENS, vocab_tokens)
from upmspec import ATTRIBUTES as OFFICIAL_ATTRIBUTES  # noqa: E402
# MoE routing levels: modality and task gates have a learned embedding with one row per
# modality (visual, text) or task (classification, retrieval, captioning, text), stored as
# <gate>.embd; token and context gates have only wg.
from upmspec import EMBED_ROWS as GATE_EMBED_ROWS  # noqa: E402

FORMAT_VERSION = 1
REQUIRED_LOGIT_SCALES = ["img_cls", "video_cls", "caption", "retrieve"]

# The task presets of the official releases and the frames per clip each needs
# (uniperceiver.presets; docs/model-format.md).
PRESET_FRAMES = [("k400", 8), ("msvd-caption", 4), ("msvd-retrieval", 4), ("imagenet", 1),
                 ("coco-caption", 1), ("coco-retrieval", 1), ("flickr30k-caption", 1),
                 ("flickr30k-retrieval", 1)]
PRESET_NAMES = [n for n, _ in PRESET_FRAMES]


def default_presets(temporal_slots):
    """The presets whose clips fit the model's temporal position slots: all of them with
    8 slots (the official releases), fewer for smaller models."""
    return [n for n, frames in PRESET_FRAMES if frames <= temporal_slots]


def parse_presets(spec):
    names = [n.strip() for n in spec.split(",") if n.strip()]
    bad = [n for n in names if n not in PRESET_NAMES]
    if bad:
        raise ConvertError("unknown preset %r (known: %s)" % (bad[0], ", ".join(PRESET_NAMES)))
    return names

IMAGE_MEAN = [0.485, 0.456, 0.406]
IMAGE_STD = [0.229, 0.224, 0.225]
VIDEO_MEAN = [0.5, 0.5, 0.5]
VIDEO_STD = [0.5, 0.5, 0.5]

MOE_LINEARS = [  # (official prefix inside a layer, our tensor stem)
    ("self_attn.qkv_proj", "attn_qkv"),
    ("self_attn.dense", "attn_out"),
    ("linear1", "ffn_up"),
    ("linear2", "ffn_down"),
]


class ConvertError(Exception):
    pass


# ------------------------------------------------------------------ tokenizer
def clip_vocab(bpe_path, n_merges=None):
    """Tokens and merge lines of CLIP's BPE file, keeping the first n_merges merges."""
    if n_merges is None:
        n_merges = CLIP_N_MERGES
    if not 0 <= n_merges <= CLIP_N_MERGES:
        raise ConvertError("--bpe-merges must be in 0..%d" % CLIP_N_MERGES)
    try:
        with gzip.open(bpe_path, "rt", encoding="utf-8") as f:
            lines = f.read().split("\n")
    except OSError as e:
        raise ConvertError("cannot read BPE merges file %s: %s" % (bpe_path, e))
    merges = lines[1:n_merges + 1]
    if len(merges) != n_merges:
        raise ConvertError("%s has only %d merge lines" % (bpe_path, len(merges)))
    merged = []
    for m in merges:
        parts = m.split()
        if len(parts) != 2:
            raise ConvertError("%s: malformed merge line %r" % (bpe_path, m))
        merged.append(parts[0] + parts[1])
    return vocab_tokens(merged), merges


# ------------------------------------------------------------ state dicts
def to_numpy(t):
    """torch tensor / numpy array / python number -> float32 or int numpy array."""
    if hasattr(t, "detach"):
        t = t.detach().cpu()
        if t.is_floating_point():
            t = t.float()
        t = t.numpy()
    a = np.asarray(t)
    if a.dtype.kind == "f":
        a = a.astype(np.float32, copy=False)
    return a


# (DeepSpeed pattern, official name), applied in this order
_DS_RULES = [(re.compile(pattern), official) for pattern, official in [
    (r"(?<![A-Za-z0-9_])encoder\.", "fused_encoder."),
    (r"attention\.self\.qkv_proj", "self_attn.qkv_proj"),
    (r"attention\.output\.dense", "self_attn.dense"),
    (r"deepspeed_moe\.gate", "gate"),
    (r"deepspeed_moe\.experts", "experts"),
    (r"ffn\.dense\.", "linear1."),
    (r"ffn\.dense2\.", "linear2."),
    (r"LayerNormModules\.0\.", "norm1."),
    (r"LayerNormModules\.1\.", "norm2."),
    (r"attention_output\.residual_scale", "gamma_1"),
    (r"ffn_output\.residual_scale", "gamma_2"),
    (r"(?<![A-Za-z0-9_])predictor\.", "loss_prepare."),
]]


def ds_to_official(sd, consume=False):
    """Rename a DeepSpeed state dict to official (MoE-codebase) key names (model-spec §4.3).
    consume=True empties sd as it goes, so that each fp16 original is freed once converted."""
    out = {}
    for k in list(sd):
        v = sd.pop(k) if consume else sd[k]
        if k.startswith("module."):
            k = k[len("module."):]
        if k.startswith("visual_embed.") or ".visual_embed." in k:
            continue
        for rx, rep in _DS_RULES:
            k = rx.sub(rep, k)
        a = to_numpy(v)
        if k.endswith(".gamma_1") or k.endswith(".gamma_2"):
            a = a.reshape(-1)
        out[k] = a
    return out


def official_to_ds(sd):
    """Inverse of ds_to_official (used by tests to fabricate DeepSpeed checkpoints).
    Returns a dict with the same values (shapes untouched)."""
    rules = [
        (r"self_attn\.in_proj_weight", "attention.self.qkv_proj.weight"),
        (r"self_attn\.in_proj_bias", "attention.self.qkv_proj.bias"),
        (r"self_attn\.out_proj\.", "attention.output.dense."),
        (r"self_attn\.qkv_proj", "attention.self.qkv_proj"),
        (r"self_attn\.dense", "attention.output.dense"),
        (r"\.gate\.", ".deepspeed_moe.gate."),
        (r"\.experts\.", ".deepspeed_moe.experts."),
        (r"linear1\.", "ffn.dense."),
        (r"linear2\.", "ffn.dense2."),
        (r"norm1\.", "LayerNormModules.0."),
        (r"norm2\.", "LayerNormModules.1."),
        (r"gamma_1$", "attention_output.residual_scale"),
        (r"gamma_2$", "ffn_output.residual_scale"),
        (r"^fused_encoder\.", "encoder."),
        (r"^loss_prepare\.", "predictor."),
    ]
    out = {}
    for k, v in sd.items():
        nk = k
        if not (nk.startswith("video_embed.embeddings_norm") or nk.startswith("token_embed")):
            for rx, rep in rules:
                nk = re.sub(rx, rep, nk)
        out[nk] = v
    return out


def normalize_official(sd, consume=False):
    """Strip 'module.' and convert values to numpy (consume: as ds_to_official)."""
    out = {}
    for k in list(sd):
        v = sd.pop(k) if consume else sd[k]
        if k.startswith("module."):
            k = k[len("module."):]
        out[k] = to_numpy(v)
    return out


def _one_line(e):
    msg = str(e).strip().split("\n")[0] or type(e).__name__
    return msg if len(msg) <= 160 else msg[:157] + "..."


def _torch_load(path):
    """torch.load with one-line errors for the files users pass by mistake."""
    if not os.path.exists(path):
        raise ConvertError("%s: no such file" % path)
    if os.path.isdir(path):
        raise ConvertError("%s: is a directory, not a checkpoint file" % path)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ConvertError("cannot read %s: %s" % (path, e.strerror or e))
    if magic == b"GGUF":
        raise ConvertError("%s is a GGUF model file (.upm), already converted; give the .pth "
                           "checkpoint it was made from" % path)
    try:
        import torch
    except ImportError:
        raise ConvertError("PyTorch is needed to read checkpoints (use /usr/bin/python3)")
    try:
        return torch.load(path, map_location="cpu")
    except MemoryError:
        raise ConvertError("%s: out of memory while reading the checkpoint" % path)
    except Exception as e:  # noqa: BLE001 (pickle, zip and torch errors all mean the same)
        raise ConvertError("%s is not a PyTorch checkpoint (torch.load: %s)" % (path, _one_line(e)))


def _dtype_counts(sd):
    """{'fp16': n, 'fp32': n, ...} over the floating-point tensors of a raw state dict."""
    names = {"torch.float16": "fp16", "torch.float32": "fp32", "torch.bfloat16": "bf16",
             "torch.float64": "fp64", "float16": "fp16", "float32": "fp32", "float64": "fp64"}
    counts = {}
    for v in sd.values():
        dt = str(getattr(v, "dtype", ""))
        if dt in names:
            counts[names[dt]] = counts.get(names[dt], 0) + 1
    return counts


def read_checkpoint(path, fmt="auto"):
    """Load a checkpoint file.  Returns (official-name numpy state dict, info); info has
    'format' ('torch' or 'ds'), 'container' (where the state dict was found),
    'n_tensors' and 'dtypes' (floating tensor counts by type, as stored)."""
    obj = _torch_load(path)
    if not isinstance(obj, dict):
        raise ConvertError("%s is a PyTorch file but not a checkpoint (it holds a %s, not a dict "
                           "with a state dict)" % (path, type(obj).__name__))
    inner, container = None, None
    if fmt in ("auto", "torch") and isinstance(obj.get("model"), dict):
        inner, container, fmt = obj["model"], "'model' state dict", "torch"
    elif fmt in ("auto", "ds") and isinstance(obj.get("module"), dict):
        inner, container, fmt = obj["module"], "'module' state dict", "ds"
    elif any(isinstance(k, str) and k.endswith(".weight") for k in obj):
        inner, container = obj, "bare state dict"
        if fmt == "auto":
            fmt = "ds" if any(k.startswith("encoder.") or k.startswith("module.encoder.")
                              for k in obj) else "torch"
    if inner is None:
        keys = ", ".join(str(k) for k in list(obj)[:8])
        raise ConvertError("%s: no %s state dict found (top-level keys: %s)"
                           % (path, {"auto": "'model' or 'module'", "torch": "'model'",
                                     "ds": "'module'"}[fmt], keys or "none"))
    if not any(hasattr(v, "shape") for v in inner.values()):
        raise ConvertError("%s: the %s holds no tensors" % (path, container))
    info = dict(format=fmt, container=container, n_tensors=len(inner), dtypes=_dtype_counts(inner),
                dropped=sum(1 for k in inner if isinstance(k, str) and "visual_embed." in k))
    del obj
    sd = ds_to_official(inner, consume=True) if fmt == "ds" else normalize_official(inner, consume=True)
    return sd, info


def load_checkpoint(path):
    """Load a checkpoint file; returns (official-name numpy state dict, format)."""
    sd, info = read_checkpoint(path)
    return sd, info["format"]


# ------------------------------------------------------------ conversion
def _get(sd, key, shape=None):
    if key not in sd:
        raise ConvertError("checkpoint lacks tensor %r" % key)
    a = np.asarray(sd[key], dtype=np.float32)
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise ConvertError("tensor %r has shape %s, expected %s" % (key, list(a.shape), list(shape)))
    return a


def _first(sd, keys):
    for k in keys:
        if k in sd:
            return k
    return None


# ------------------------------------------------------------ prompt tuning
# Official key names of the prompt-tuning parameters (fundamentalvision/Uni-Perceiver:
# uniperceiver/modeling/layers/pe_encoder.py DeepPrompt, meta_arch/unified_transformer.py
# prepare_prompt_embed); docs/model-format.md "Prompt-tuned models".
PROMPT_KEY = "fused_encoder.layers.%d.deep_prompt_embedding.embedding.weight"
PROMPT_TARGET_KEY = "fused_encoder.layers.%d.deep_prompt_embedding.target_embedding.weight"
SPE_BIAS_KEYS = ("s_token_bias", "token_embed.s_token_bias")
PROMPT_TASKS = ("classify", "caption", "retrieval")
# the trained LayerNorms of a prompt-tuned model: official name -> .upm name
TUNED_NORMS = {"token_embed.embeddings_norm": "embd_norm", "loss_prepare.ln_post": "post_norm"}
PROMPT_KV = ("uniperceiver.prompt.length", "uniperceiver.prompt.shared_target",
             "uniperceiver.prompt.task", "uniperceiver.prompt.labels")


def prompt_tensors(sd, D, n_layers):
    """The prompt-tuning tensors of an official-key state dict, as .upm names -> float32
    arrays, and their facts (length, shared_target, classes); (None, None) when the state
    dict has no deep prompt.  Raises ConvertError on a partial or misshapen set."""
    have = [l for l in range(n_layers) if PROMPT_KEY % l in sd]
    if not have:
        stray = [k for k in sd if "deep_prompt_embedding" in k or k.startswith("fc_prompt.")
                 or k in SPE_BIAS_KEYS or k == "similarity_weight"]
        if stray:
            raise ConvertError("checkpoint has %s but no deep prompts (%s)"
                               % (stray[0], PROMPT_KEY % 0))
        return None, None
    if len(have) != n_layers:
        raise ConvertError("deep prompts for layers %s only; every layer needs %s"
                           % (have, PROMPT_KEY % 0))
    first = np.asarray(sd[PROMPT_KEY % 0])
    if first.ndim != 2 or first.shape[1] != D or first.shape[0] < 1:
        raise ConvertError("tensor %r has shape %s, expected [P, %d]"
                           % (PROMPT_KEY % 0, list(first.shape), D))
    P = first.shape[0]
    shared = PROMPT_TARGET_KEY % 0 not in sd
    out = {}
    for l in range(n_layers):
        out["blk.%d.prompt" % l] = _get(sd, PROMPT_KEY % l, (P, D))
        if not shared:
            out["blk.%d.prompt_target" % l] = _get(sd, PROMPT_TARGET_KEY % l, (P, D))
    bias_key = _first(sd, SPE_BIAS_KEYS)
    out["spe_bias"] = (_get(sd, bias_key).reshape(-1) if bias_key
                       else np.zeros(D, np.float32))  # s_token_bias not in PROMPT_PARAM
    if out["spe_bias"].shape != (D,):
        raise ConvertError("tensor %r has %d elements, expected %d"
                           % (bias_key, out["spe_bias"].size, D))
    C = 0
    if "fc_prompt.weight" in sd:
        w = _get(sd, "fc_prompt.weight")
        if w.ndim != 2 or w.shape[1] != D or w.shape[0] < 1:
            raise ConvertError("tensor 'fc_prompt.weight' has shape %s, expected [C, %d]"
                               % (list(w.shape), D))
        C = w.shape[0]
        out["cls_prompt.weight"] = w
        out["cls_prompt.bias"] = _get(sd, "fc_prompt.bias", (C,))
        # FC_PROMPT_WEIGHTS 'zero' has no parameter: similarity_weight = 0
        sw = _get(sd, "similarity_weight").reshape(-1) if "similarity_weight" in sd else np.zeros(1)
        if sw.size != 1:
            raise ConvertError("tensor 'similarity_weight' has %d elements, expected 1" % sw.size)
        out["cls_prompt.similarity_weight"] = sw.astype(np.float32)
    return out, dict(length=P, shared_target=shared, classes=C)


def add_prompt(w, tensors, facts, task=None, labels=None):
    """Write the prompt tensors and keys (docs/model-format.md) into a GGUFWriter.
    task: classify / caption / retrieval (default: classify with fc_prompt, else caption);
    labels: the class names in fc_prompt row order (required with fc_prompt)."""
    C = facts["classes"]
    task = task or ("classify" if C else "caption")
    if task not in PROMPT_TASKS:
        raise ConvertError("prompt task %r is not one of %s" % (task, ", ".join(PROMPT_TASKS)))
    if C and task != "classify":
        raise ConvertError("the checkpoint has fc_prompt (a classification head) but the task is %s" % task)
    if C and (labels is None or len(labels) != C):
        raise ConvertError("fc_prompt has %d classes: give %d labels in its row order (got %s)"
                           % (C, C, "none" if labels is None else len(labels)))
    if labels is not None and not C:
        raise ConvertError("labels given but the checkpoint has no fc_prompt")
    w.add_u32("uniperceiver.prompt.length", facts["length"])
    w.add_bool("uniperceiver.prompt.shared_target", facts["shared_target"])
    w.add_string("uniperceiver.prompt.task", task)
    if C:
        w.add_array("uniperceiver.prompt.labels", list(labels), upmgguf.GGUF_STRING)
    for name, a in tensors.items():
        w.add_tensor(name, np.asarray(a, np.float32))


def tuned_norms(sd, n_layers):
    """The LayerNorms a prompt-tuned state dict overrides: .upm name -> float32 array, for
    the official names present in sd (norm1/norm2 of every layer, the embedding LN, ln_post)."""
    names = dict(TUNED_NORMS)
    for l in range(n_layers):
        names["fused_encoder.layers.%d.norm1" % l] = "blk.%d.attn_norm" % l
        names["fused_encoder.layers.%d.norm2" % l] = "blk.%d.ffn_norm" % l
    out = {}
    for off, upm in names.items():
        for part in ("weight", "bias"):
            if off + "." + part in sd:
                out[upm + "." + part] = np.asarray(_to_np(sd[off + "." + part]), np.float32)
    return out


def _to_np(v):
    return to_numpy(v) if not isinstance(v, np.ndarray) else v


def write_prompt_tuned(base_path, out_path, tuned, task=None, labels=None, name=None,
                       log=print):
    """Write a prompt-tuned model: the base .upm's keys and tensors (types kept), its
    LayerNorms replaced by the tuned ones and the prompt tensors and keys added.

    tuned: official-key tensors (numpy or torch): the deep prompts (required), and any of
    s_token_bias, fc_prompt.{weight,bias}, similarity_weight, norm1/norm2 of the layers,
    token_embed.embeddings_norm, loss_prepare.ln_post.  A base that is prompt-tuned itself
    loses its prompt tensors and keys first; cached vocab / label-set features are dropped
    (the prompts change the encoder).  Returns the bytes written."""
    kv, tensors, types = upmgguf.read_gguf(base_path, with_types=True)
    D = int(kv["uniperceiver.embedding_length"])
    n_layers = int(kv["uniperceiver.block_count"])
    tuned = {(k[7:] if k.startswith("module.") else k): _to_np(v) for k, v in tuned.items()}
    ptensors, facts = prompt_tensors(tuned, D, n_layers)
    if ptensors is None:
        raise ConvertError("the tuned tensors have no deep prompt (%s)" % (PROMPT_KEY % 0))
    norms = tuned_norms(tuned, n_layers)
    w = upmgguf.GGUFWriter(alignment=int(kv.get("general.alignment", 64)))
    for k, v in kv.items():
        if k in ("general.alignment", "uniperceiver.weights_sha256") or k in PROMPT_KV:
            continue
        if k == "general.name" and name is not None:
            v = name
        vtype, etype = types[k]
        w._add(k, vtype, v, etype)
    for n in sorted(tensors, key=lambda n: types[n][2]):
        if n.endswith(".prompt") or n.endswith(".prompt_target") or n == "spe_bias" \
                or n.startswith("cls_prompt."):
            continue
        if n == "vocab.features" or (n.startswith("labelset.") and n.endswith(".features")):
            continue  # cached target features of the base encoder: stale with prompts
        a = tensors[n]
        if n in norms:
            if norms[n].shape != a.shape:
                raise ConvertError("tuned %s has shape %s, the base %s"
                                   % (n, list(norms[n].shape), list(a.shape)))
            a = norms[n]
        w.add_tensor(n, a, types[n][1])
    add_prompt(w, ptensors, facts, task, labels)
    w.add_string("uniperceiver.weights_sha256", w.tensor_data_sha256())
    size = w.write(out_path)
    log("wrote %s (%.1f MB): prompt length %d, %s target prompts, %s"
        % (out_path, size / 1e6, facts["length"], "shared" if facts["shared_target"] else "separate",
           "%d classes" % facts["classes"] if facts["classes"] else "no classification head"))
    return size


# --dtype: the storage type of the large matrices (the encoder's linears,
# dense and experts). Everything else stays F32 (docs/model-format.md).
DTYPES = ("f32", "f16", "bf16", "q8")
LINEAR_WEIGHTS = re.compile(r"^blk\.\d+\.(attn_qkv|attn_out|ffn_up|ffn_down)(_exps)?\.weight$")
F16_MAX = 65504.0


def _per_part(a, fn):
    """fn over a float32 array, or over each part of a stacked tensor (an object with .arrays:
    the experts, converted one at a time and stacked in their smaller type)."""
    parts = getattr(a, "arrays", None)
    if parts is None:
        return fn(np.asarray(a, dtype=np.float32))
    outs = [fn(np.asarray(p, dtype=np.float32)) for p in parts]
    if isinstance(outs[0], tuple):
        return tuple(upmgguf.StackedTensor(list(x)) for x in zip(*outs))
    return upmgguf.StackedTensor(outs)


def _abs_max(a):
    return max(float(np.abs(np.asarray(p, dtype=np.float32)).max(initial=0.0))
               for p in getattr(a, "arrays", [a]))


def add_typed_tensor(w, name, a, dtype):
    """Add tensor NAME in the storage type --dtype asks for: the linears'
    weights as F16, BF16, or I8 + NAME.scale (per output row); the token
    embedding as F16 for every dtype but f32 (a lookup table, widened a row
    at a time, kept at f16's precision; F32 if its values do not fit f16);
    all else as given (F32)."""
    if dtype not in DTYPES:
        raise ConvertError("unknown --dtype %r (%s)" % (dtype, ", ".join(DTYPES)))
    linear = LINEAR_WEIGHTS.match(name) is not None
    if dtype == "f32" or not (linear or name == "token_embd.weight"):
        w.add_tensor(name, a)
    elif dtype == "f16" or not linear:
        if _abs_max(a) >= F16_MAX:
            if not linear:
                w.add_tensor(name, a)
                return
            raise ConvertError("%s: values beyond the f16 range; use --dtype bf16" % name)
        w.add_tensor(name, _per_part(a, lambda x: x.astype(np.float16)), upmgguf.TYPE_F16)
    elif dtype == "bf16":
        w.add_tensor(name, _per_part(a, upmgguf.to_bf16_bits), upmgguf.TYPE_BF16)
    else:
        q, scale = _per_part(a, upmgguf.quantize_q8_rows)
        w.add_tensor(name, q, upmgguf.TYPE_I8)
        w.add_tensor(name + ".scale", scale, upmgguf.TYPE_F32)


def convert_state_dict(sd, out_path, heads=None, bpe=DEFAULT_BPE, bpe_merges=None,
                       merge_video_type=False, clip_frames=None, labelsets=None, name="",
                       text_max_length=30, attributes=None, log=print, routing="attribute",
                       presets=None, caption_max_length=21, progress=None,
                       dtype="f32", prompt_task=None, prompt_labels=None):
    """Write an official-key state dict (values numpy or torch) to a .upm file.

    routing: the MoE routing level (attribute, token, context, modality, task; see
    docs/model-format.md); the official checkpoints are attribute-routed.
    presets: the task preset names for uniperceiver.presets (None: those whose frames fit
    the temporal slots, default_presets()).  progress: see upmgguf.GGUFWriter.write.
    A prompt-tuned state dict (official deep prompts, s_token_bias, fc_prompt,
    similarity_weight) gets the prompt tensors and keys; prompt_task and prompt_labels:
    see add_prompt().

    Returns a summary dict.  Raises ConvertError on any inconsistency."""
    sd = normalize_official(sd)
    if routing not in ROUTING_LEVELS:
        raise ConvertError("unknown routing level %r (%s)" % (routing, ", ".join(ROUTING_LEVELS)))
    attributes = attributes or OFFICIAL_ATTRIBUTES
    labelsets = labelsets or []

    # ---- shapes
    E_tok = _get(sd, "token_embed.embeddings.weight")
    if E_tok.ndim != 2:
        raise ConvertError("token_embed.embeddings.weight must be 2-D")
    V, D = E_tok.shape
    if heads is None:
        if D % 64:
            raise ConvertError("D=%d is not a multiple of 64: give --heads" % D)
        heads = D // 64
    if heads <= 0 or D % heads:
        raise ConvertError("D=%d is not divisible by %d heads" % (D, heads))
    pos = _get(sd, "token_embed.embeddings_pos.position_embeddings.weight")
    ctx = pos.shape[0]
    ttype = _get(sd, "token_embed.embeddings_token_type.weight")
    norm_w_key = _first(sd, ["token_embed.embeddings_norm.weight", "video_embed.embeddings_norm.weight"])
    if norm_w_key is None:
        raise ConvertError("checkpoint lacks token_embed.embeddings_norm.weight")
    norm_pref = norm_w_key[:-len(".weight")]
    embd_norm_w = _get(sd, norm_pref + ".weight", (D,))
    embd_norm_b = _get(sd, norm_pref + ".bias", (D,))
    if "video_embed.embeddings_norm.weight" in sd and norm_pref.startswith("token_embed"):
        vw = np.asarray(sd["video_embed.embeddings_norm.weight"], np.float32)
        if vw.shape == embd_norm_w.shape and not np.array_equal(vw, embd_norm_w):
            log("warning: video_embed.embeddings_norm differs from token_embed.embeddings_norm; "
                "using the token LN for both (shared LayerNorm)")

    pw = _get(sd, "video_embed.embeddings.weight")
    if pw.ndim == 4:
        if pw.shape[0] != D or pw.shape[1] != 3 or pw.shape[2] != pw.shape[3]:
            raise ConvertError("video_embed.embeddings.weight has shape %s" % list(pw.shape))
        P = pw.shape[2]
    elif pw.ndim == 2:
        P = int(round(math.sqrt(pw.shape[1] / 3)))
        if pw.shape[0] != D or 3 * P * P != pw.shape[1]:
            raise ConvertError("2-D video_embed.embeddings.weight has shape %s" % list(pw.shape))
    else:
        raise ConvertError("video_embed.embeddings.weight has shape %s" % list(pw.shape))
    pw = pw.reshape(D, 3 * P * P)
    pb = _get(sd, "video_embed.embeddings.bias", (D,)).copy()
    if merge_video_type:
        if "video_embed.embeddings_type.weight" not in sd:
            raise ConvertError("merging the video type embedding was requested but the checkpoint "
                               "lacks video_embed.embeddings_type.weight")
        pb = pb + _get(sd, "video_embed.embeddings_type.weight")[0]
    spatial = _get(sd, "video_embed.embeddings_st_pos.spatial_pos_embed.weight")
    grid = int(round(math.sqrt(spatial.shape[0])))
    if grid * grid != spatial.shape[0] or spatial.shape[1] != D:
        raise ConvertError("spatial_pos_embed has shape %s (not a square grid x D)" % list(spatial.shape))
    temporal = _get(sd, "video_embed.embeddings_st_pos.temporal_pos_embed.weight")
    if temporal.ndim != 2 or temporal.shape[1] != D:
        raise ConvertError("temporal_pos_embed has shape %s" % list(temporal.shape))
    T = temporal.shape[0]
    if clip_frames is None:
        clip_frames = min(8, T)
    if not 1 <= clip_frames <= T:
        raise ConvertError("--clip-frames %d outside 1..%d (temporal slots)" % (clip_frames, T))
    if presets is None:
        presets = default_presets(T)
    if not 1 <= caption_max_length <= ctx:
        raise ConvertError("--caption-max-length %d outside 1..%d (text positions)" % (caption_max_length, ctx))

    # ---- layers
    layer_ids = sorted({int(m.group(1)) for k in sd
                        for m in [re.match(r"fused_encoder\.layers\.(\d+)\.", k)] if m})
    if not layer_ids:
        raise ConvertError("checkpoint has no fused_encoder.layers.* tensors")
    n_layers = layer_ids[-1] + 1
    if layer_ids != list(range(n_layers)):
        raise ConvertError("layer indices are not contiguous: %s" % layer_ids)

    layers = []
    moe_layers = []
    n_experts = 0
    ffn = None
    for l in range(n_layers):
        p = "fused_encoder.layers.%d." % l
        t = {}
        t["attn_norm.weight"] = _get(sd, p + "norm1.weight", (D,))
        t["attn_norm.bias"] = _get(sd, p + "norm1.bias", (D,))
        t["ffn_norm.weight"] = _get(sd, p + "norm2.weight", (D,))
        t["ffn_norm.bias"] = _get(sd, p + "norm2.bias", (D,))
        t["attn_scale"] = _get(sd, p + "gamma_1").reshape(-1)
        t["ffn_scale"] = _get(sd, p + "gamma_2").reshape(-1)
        if t["attn_scale"].shape != (D,) or t["ffn_scale"].shape != (D,):
            raise ConvertError("layer %d: gamma_1/gamma_2 must have D=%d elements" % (l, D))
        is_moe = any(k.startswith(p) and ".experts.deepspeed_experts." in k for k in sd)
        if is_moe:
            for off, stem in MOE_LINEARS:
                ek = sorted({int(m.group(1)) for k in sd
                             for m in [re.match(re.escape(p + off) + r"\.experts\.deepspeed_experts\.(\d+)\.weight$", k)] if m})
                if not ek:
                    raise ConvertError("layer %d is a MoE layer but %s has no experts" % (l, p + off))
                if ek != list(range(len(ek))):
                    raise ConvertError("layer %d %s: expert indices not contiguous" % (l, off))
                if n_experts and len(ek) != n_experts:
                    raise ConvertError("layer %d %s: %d experts, elsewhere %d" % (l, off, len(ek), n_experts))
                n_experts = len(ek)
                ws = [_get(sd, p + off + ".experts.deepspeed_experts.%d.weight" % e) for e in ek]
                bs = [_get(sd, p + off + ".experts.deepspeed_experts.%d.bias" % e) for e in ek]
                t[stem + "_exps.weight"] = upmgguf.StackedTensor(ws)
                t[stem + "_exps.bias"] = upmgguf.StackedTensor(bs)
            for off, gname in (("self_attn.qkv_proj", "attn_gate"), ("linear1", "ffn_gate")):
                g = p + off + ".gate."
                if routing != "attribute":
                    if routing in GATE_EMBED_ROWS:
                        t[gname + ".embd"] = _get(sd, g + "embed.weight",
                                                  (GATE_EMBED_ROWS[routing], D))
                    t[gname + ".wg.weight"] = _get(sd, g + "wg.weight", (n_experts, D))
                    continue
                tw = _get(sd, g + "tag_transform.0.weight")
                if tw.ndim != 2 or tw.shape[0] != D or tw.shape[1] != 8:
                    raise ConvertError("%stag_transform.0.weight has shape %s, expected [%d, 8]"
                                       % (g, list(tw.shape), D))
                t[gname + ".tag.weight"] = tw
                t[gname + ".tag.bias"] = _get(sd, g + "tag_transform.0.bias", (D,))
                t[gname + ".norm.weight"] = _get(sd, g + "tag_transform.1.weight", (D,))
                t[gname + ".norm.bias"] = _get(sd, g + "tag_transform.1.bias", (D,))
                t[gname + ".wg.weight"] = _get(sd, g + "wg.weight", (n_experts, D))
            qkv_w, qkv_b = t["attn_qkv_exps.weight"][0], t["attn_qkv_exps.bias"][0]
            out_w = t["attn_out_exps.weight"][0]
            up_w, down_w = t["ffn_up_exps.weight"][0], t["ffn_down_exps.weight"][0]
            moe_layers.append(l)
        else:
            qk = _first(sd, [p + "self_attn.in_proj_weight", p + "self_attn.qkv_proj.weight"])
            if qk is None:
                raise ConvertError("layer %d lacks self_attn.in_proj_weight / self_attn.qkv_proj.weight" % l)
            qb = p + "self_attn.in_proj_bias" if qk.endswith("in_proj_weight") else p + "self_attn.qkv_proj.bias"
            ok = _first(sd, [p + "self_attn.out_proj.weight", p + "self_attn.dense.weight"])
            if ok is None:
                raise ConvertError("layer %d lacks self_attn.out_proj.weight / self_attn.dense.weight" % l)
            ob = ok[:-len("weight")] + "bias"
            t["attn_qkv.weight"] = qkv_w = _get(sd, qk)
            t["attn_qkv.bias"] = qkv_b = _get(sd, qb)
            t["attn_out.weight"] = out_w = _get(sd, ok)
            t["attn_out.bias"] = _get(sd, ob)
            t["ffn_up.weight"] = up_w = _get(sd, p + "linear1.weight")
            t["ffn_up.bias"] = _get(sd, p + "linear1.bias")
            t["ffn_down.weight"] = down_w = _get(sd, p + "linear2.weight")
            t["ffn_down.bias"] = _get(sd, p + "linear2.bias")
        # shape checks common to both
        if qkv_w.shape != (3 * D, D) or qkv_b.shape[-1] != 3 * D:
            raise ConvertError("layer %d: qkv weight %s, expected [%d, %d]" % (l, list(qkv_w.shape), 3 * D, D))
        if out_w.shape != (D, D):
            raise ConvertError("layer %d: attention output weight %s" % (l, list(out_w.shape)))
        if ffn is None:
            ffn = up_w.shape[0]
        if up_w.shape != (ffn, D) or down_w.shape != (D, ffn):
            raise ConvertError("layer %d: FFN weights %s / %s, expected [%d, %d] / [%d, %d]"
                               % (l, list(up_w.shape), list(down_w.shape), ffn, D, D, ffn))
        layers.append(t)

    ptensors, pfacts = prompt_tensors(sd, D, n_layers)
    if ptensors is None and (prompt_task is not None or prompt_labels is not None):
        raise ConvertError("prompt task / labels given but the checkpoint has no deep prompts")

    ln_post_w = _get(sd, "loss_prepare.ln_post.weight", (D,))
    ln_post_b = _get(sd, "loss_prepare.ln_post.bias", (D,))
    proj_w = _get(sd, "loss_prepare.proj.weight", (D, D))
    proj_b = _get(sd, "loss_prepare.proj.bias", (D,))
    scales = {}
    for n in LOGIT_SCALE_NAMES:
        k = "loss_prepare.logit_scale_" + n
        if k in sd:
            scales[n] = float(np.asarray(sd[k], np.float64).reshape(-1)[0])
    missing = [n for n in REQUIRED_LOGIT_SCALES if n not in scales]
    if missing:
        raise ConvertError("checkpoint lacks %s" % ", ".join("loss_prepare.logit_scale_" + n for n in missing))

    # ---- tokenizer
    if bpe_merges is None:
        bpe_merges = V - 512 - len(SPECIAL_TOKENS)
        if bpe_merges != CLIP_N_MERGES:
            raise ConvertError("token_embed has %d rows but the CLIP vocabulary has %d; "
                               "for a reduced vocabulary pass --bpe-merges %d"
                               % (V, 512 + CLIP_N_MERGES + 5, bpe_merges))
    tokens, merges = clip_vocab(bpe, bpe_merges)
    if len(tokens) != V:
        raise ConvertError("vocabulary has %d tokens (512 + %d merges + 5) but token_embed has %d rows"
                           % (len(tokens), bpe_merges, V))

    # ---- write
    w = upmgguf.GGUFWriter(alignment=64)
    w.add_string("general.architecture", "uniperceiver")
    w.add_string("general.name", name)
    w.add_u32("uniperceiver.format_version", FORMAT_VERSION)
    # weights_sha256 is added after the tensors are known (kv order does not matter)
    w.add_u32("uniperceiver.embedding_length", D)
    w.add_u32("uniperceiver.block_count", n_layers)
    w.add_u32("uniperceiver.attention.head_count", heads)
    w.add_u32("uniperceiver.feed_forward_length", ffn)
    w.add_f32("uniperceiver.layer_norm_epsilon", 1e-5)
    w.add_u32("uniperceiver.vocab_size", V)
    w.add_u32("uniperceiver.text.context_length", ctx)
    w.add_u32("uniperceiver.text.max_length", text_max_length)
    w.add_u32("uniperceiver.vision.patch_size", P)
    w.add_u32("uniperceiver.vision.image_size", grid * P)
    w.add_u32("uniperceiver.vision.temporal_positions", T)
    w.add_u32("uniperceiver.vision.clip_frames", clip_frames)
    w.add_array("uniperceiver.vision.image_mean", IMAGE_MEAN, upmgguf.GGUF_F32)
    w.add_array("uniperceiver.vision.image_std", IMAGE_STD, upmgguf.GGUF_F32)
    w.add_array("uniperceiver.vision.video_mean", VIDEO_MEAN, upmgguf.GGUF_F32)
    w.add_array("uniperceiver.vision.video_std", VIDEO_STD, upmgguf.GGUF_F32)
    w.add_u32("uniperceiver.moe.expert_count", n_experts)
    w.add_u32("uniperceiver.moe.expert_used_count", 2)
    w.add_string("uniperceiver.moe.routing", routing)
    w.add_array("uniperceiver.moe.layers", moe_layers, upmgguf.GGUF_U32)
    w.add_array("uniperceiver.attribute.names", ATTRIBUTE_NAMES, upmgguf.GGUF_STRING)
    w.add_array("uniperceiver.attribute.values",
                [b for n in ATTRIBUTE_NAMES for b in attributes[n]], upmgguf.GGUF_U8)
    for n in LOGIT_SCALE_NAMES:
        if n in scales:
            w.add_f32("uniperceiver.logit_scale." + n, scales[n])
    w.add_u32("uniperceiver.caption.max_length", caption_max_length)
    w.add_u32("uniperceiver.caption.beam_size", 2)
    w.add_f32("uniperceiver.caption.length_penalty", 2.0)
    w.add_string("tokenizer.ggml.model", "clip-bpe")
    w.add_array("tokenizer.ggml.tokens", tokens, upmgguf.GGUF_STRING)
    w.add_array("tokenizer.ggml.merges", merges, upmgguf.GGUF_STRING)
    base = V - len(SPECIAL_TOKENS)
    for i, n in enumerate(["sot", "eot", "mask", "gen", "spe"]):
        w.add_u32("tokenizer.upm.%s_id" % n, base + i)
    w.add_array("uniperceiver.presets", list(presets), upmgguf.GGUF_STRING)
    if labelsets:
        w.add_array("uniperceiver.labelsets", [n for n, _ in labelsets], upmgguf.GGUF_STRING)
        for n, labels in labelsets:
            w.add_array("uniperceiver.labelset.%s.labels" % n, labels, upmgguf.GGUF_STRING)

    add_typed_tensor(w, "token_embd.weight", E_tok, dtype)
    w.add_tensor("token_pos_embd.weight", pos)
    w.add_tensor("token_type_embd.weight", ttype)
    w.add_tensor("embd_norm.weight", embd_norm_w)
    w.add_tensor("embd_norm.bias", embd_norm_b)
    w.add_tensor("patch_embd.weight", pw)
    w.add_tensor("patch_embd.bias", pb)
    w.add_tensor("spatial_pos_embd.weight", spatial)
    w.add_tensor("temporal_pos_embd.weight", temporal)
    w.add_tensor("post_norm.weight", ln_post_w)
    w.add_tensor("post_norm.bias", ln_post_b)
    w.add_tensor("proj.weight", proj_w)
    w.add_tensor("proj.bias", proj_b)
    for l, t in enumerate(layers):
        for k, a in t.items():
            add_typed_tensor(w, "blk.%d.%s" % (l, k), a, dtype)
    if ptensors is not None:
        add_prompt(w, ptensors, pfacts, prompt_task, prompt_labels)
    sha = w.tensor_data_sha256()
    w.add_string("uniperceiver.weights_sha256", sha)
    size = w.write(out_path, progress=progress)

    n_params = sum(a.size for _, a, _ in w.tensors)
    summary = dict(path=out_path, bytes=size, D=D, layers=n_layers, heads=heads, ffn=ffn, vocab=V,
                   ctx=ctx, patch=P, grid=grid, image_size=grid * P, temporal=T,
                   moe_layers=moe_layers, experts=n_experts, params=n_params, sha256=sha,
                   merged_video_type=bool(merge_video_type), labelsets=[n for n, _ in labelsets],
                   presets=list(presets))
    log("wrote %s (%.1f MB): D=%d layers=%d heads=%d FFN=%d vocab=%d ctx=%d patch=%d image=%d "
        "(grid %d) temporal=%d" % (out_path, size / 1e6, D, n_layers, heads, ffn, V, ctx, P,
                                   grid * P, grid, T))
    log("  MoE layers: %s (%d experts)%s; %d parameters stored; video type embedding %s"
        % (moe_layers or "none", n_experts, "", n_params,
           "merged into patch bias" if merge_video_type else "not added"))
    log("  logit scales: " + ", ".join("%s=%.4f" % (n, v) for n, v in scales.items()))
    log("  presets: " + (", ".join(presets) or "none"))
    log("  weights sha256: " + sha + "; linears stored as " + dtype)
    if ptensors is not None:
        log("  prompt-tuned: %d prompt tokens per layer, %s target prompts, %s"
            % (pfacts["length"], "shared" if pfacts["shared_target"] else "separate",
               "fc_prompt with %d classes" % pfacts["classes"] if pfacts["classes"] else "no fc_prompt"))
    summary["prompt"] = pfacts
    return summary


def _parse_labelset(spec):
    if "=" not in spec:
        raise ConvertError("--labelset expects NAME=FILE, got %r" % spec)
    name, path = spec.split("=", 1)
    if not re.match(r"^[A-Za-z0-9_\-]+$", name):
        raise ConvertError("label set name %r: use letters, digits, '_' and '-' only" % name)
    try:
        with open(path, encoding="utf-8") as f:
            labels = [ln.strip() for ln in f.read().split("\n") if ln.strip()]
    except OSError as e:
        raise ConvertError("cannot read label set %s: %s" % (path, e))
    if not labels:
        raise ConvertError("label set %s is empty" % path)
    return name, labels


def describe_model(sd, heads=None):
    """What the state dict holds, from its key names and shapes alone: a dict with D,
    layers, heads, ffn, moe_layers, experts, size (a name) and has_video_type."""
    d = dict(D=None, layers=0, heads=heads, ffn=None, moe_layers=[], experts=0, size="unknown size",
             has_video_type="video_embed.embeddings_type.weight" in sd)
    E = sd.get("token_embed.embeddings.weight")
    if E is not None and getattr(E, "ndim", 0) == 2:
        d["D"] = int(E.shape[1])
        d["heads"] = heads or (d["D"] // 64 if d["D"] % 64 == 0 else None)
    layer_re = re.compile(r"fused_encoder\.layers\.(\d+)\.")
    expert_re = re.compile(r"fused_encoder\.layers\.(\d+)\.linear1\.experts\.deepspeed_experts\.(\d+)\.weight$")
    layers, moe, experts = set(), set(), set()
    for k, v in sd.items():
        m = layer_re.match(k)
        if m:
            layers.add(int(m.group(1)))
        m = expert_re.match(k)
        if m:
            moe.add(int(m.group(1)))
            experts.add(int(m.group(2)))
        if d["ffn"] is None and re.match(r"fused_encoder\.layers\.\d+\.linear1\.(experts\.deepspeed_experts\.\d+\.)?weight$", k):
            d["ffn"] = int(v.shape[0])
    d["layers"] = max(layers) + 1 if layers else 0
    d["moe_layers"] = sorted(moe)
    d["experts"] = len(experts)
    shape = (d["D"], d["layers"], d["heads"], d["ffn"])
    named = {(768, 12, 12, 3072): "Base", (1024, 24, 16, 4096): "Large"}
    if shape in named:
        d["size"] = "%s (D %d, %d layers, %d heads, FFN %d)" % ((named[shape],) + shape)
    else:
        d["size"] = "D %s, %s layers, %s heads, FFN %s" % shape
    return d


def layout_lines(path, info, desc):
    """The human-readable description of a checkpoint's layout (printed by main)."""
    fmt = {"torch": "torch (this codebase's key names)", "ds": "DeepSpeed (DeepSpeed key names)"}[info["format"]]
    dtypes = ", ".join("%d %s" % (n, t) for t, n in sorted(info["dtypes"].items(), key=lambda x: -x[1]))
    out = ["input: %s" % path,
           "  layout: %s, %s, %d tensors (%s)" % (fmt, info["container"], info["n_tensors"], dtypes or "no floating tensors")]
    if desc["moe_layers"]:
        kind = "MoE: %d experts, top-2, in %d of %d layers (%s)" % (
            desc["experts"], len(desc["moe_layers"]), desc["layers"], ", ".join(map(str, desc["moe_layers"])))
    else:
        kind = "dense (no MoE layer)"
    out.append("  model: %s; %s" % (desc["size"], kind))
    return out


MERGE_AMBIGUOUS = (
    "%s is a MoE checkpoint that still has video_embed.embeddings_type.weight, and the file "
    "cannot tell whether that embedding is already merged into video_embed.embeddings.bias. "
    "Choose: --merge-video-type yes (not merged: a raw DeepSpeed MoE checkpoint, or the official "
    "MoE export '...-withvtype.pth' that runs with ADD_TYPE_EMBED) or --merge-video-type no "
    "(already merged, as the official dense conversion does)")


def decide_video_type_merge(choice, info, desc, path):
    """(merge?, reason).  Dense: the official dense conversion merges, so a DeepSpeed file is
    merged here and a torch file (its output) is not.  MoE: the official MoE export does not
    merge and the file cannot show it, so the user must say."""
    if choice in ("yes", "no"):
        if choice == "yes" and not desc["has_video_type"]:
            raise ConvertError("--merge-video-type yes: the checkpoint lacks video_embed.embeddings_type.weight")
        return choice == "yes", "--merge-video-type %s" % choice
    if not desc["has_video_type"]:
        return False, "the checkpoint has no video_embed.embeddings_type.weight (nothing to merge)"
    if desc["moe_layers"]:
        raise ConvertError(MERGE_AMBIGUOUS % path)
    if info["format"] == "ds":
        return True, "a dense DeepSpeed checkpoint, as the official dense conversion does"
    return False, "a dense torch checkpoint: the official conversion already merged it"


class Progress:
    """'tensor k of n, MB written' on one stderr line, rewritten in place."""

    def __init__(self, stream=sys.stderr, every_s=0.25):
        self.stream = stream
        self.every_s = every_s
        self.last = 0.0

    def __call__(self, done, n, written, total):
        now = time.monotonic()
        if done < n and now - self.last < self.every_s:
            return
        self.last = now
        self.stream.write("\rwriting: tensor %d of %d, %.0f of %.0f MB" % (done, n, written / 1e6, total / 1e6))
        if done == n:
            self.stream.write("\n")
        self.stream.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Convert an official (torch) or DeepSpeed Uni-Perceiver(-MoE) checkpoint "
                    "into a .upm model file (GGUF v3, see docs/model-format.md).")
    ap.add_argument("checkpoint", help="input .pth / mp_rank_00_model_states.pt")
    ap.add_argument("output", nargs="?", default=None, help="output .upm file (or -o)")
    ap.add_argument("-o", "--output", dest="output_opt", metavar="OUTPUT", default=None,
                    help="output .upm file")
    ap.add_argument("--format", choices=["auto", "torch", "ds"], default="auto",
                    help="input layout (default: auto-detect from 'model'/'module')")
    ap.add_argument("--heads", type=int, default=None, help="attention heads (default D/64)")
    ap.add_argument("--bpe", default=DEFAULT_BPE, help="CLIP merges file bpe_simple_vocab_16e6.txt.gz "
                    "(default: the vendored data/clip-bpe copy)")
    ap.add_argument("--bpe-merges", type=int, default=None,
                    help="keep only the first N merges (vocabulary = 512 + N + 5); default all 48894")
    ap.add_argument("--merge-video-type", choices=["auto", "yes", "no"], default="auto",
                    help="add video_embed.embeddings_type.weight[0] into the patch bias (auto: yes "
                         "for a dense DeepSpeed checkpoint, no for a dense torch one; a MoE "
                         "checkpoint that has the embedding must say)")
    ap.add_argument("--clip-frames", type=int, default=None,
                    help="default frames per video clip (8, or the temporal slots if fewer)")
    ap.add_argument("--text-max-length", type=int, default=30, help="default target text truncation (30)")
    ap.add_argument("--caption-max-length", type=int, default=21,
                    help="default caption length in tokens (21, the official setting)")
    ap.add_argument("--presets", default=None, metavar="A,B,...",
                    help="task presets the model suits (uniperceiver.presets; default: those whose "
                         "frames fit the temporal slots; known: %s)" % ", ".join(PRESET_NAMES))
    ap.add_argument("--labelset", action="append", default=[], metavar="NAME=FILE",
                    help="bundle a label set (one label per line); may be repeated")
    ap.add_argument("--name", default=None, help="general.name (default: input file name)")
    ap.add_argument("--routing", choices=ROUTING_LEVELS, default="attribute",
                    help="MoE routing level of the checkpoint (default attribute, the official one)")
    ap.add_argument("--progress", action="store_true",
                    help="show writing progress on stderr even when it is not a terminal")
    ap.add_argument("--dtype", choices=DTYPES, default="f32",
                    help="storage type of the large matrices: f32 (default), f16, bf16, or q8 "
                         "(int8 per output row + scales); the token embedding is f16 for all "
                         "but f32, everything else stays f32")
    ap.add_argument("--prompt-task", choices=PROMPT_TASKS, default=None,
                    help="a prompt-tuned checkpoint: what it was tuned for (default classify with "
                         "fc_prompt, else caption)")
    ap.add_argument("--prompt-labels", default=None, metavar="FILE",
                    help="a prompt-tuned checkpoint with fc_prompt: its class names, one per line, "
                         "in fc_prompt row order")
    args = ap.parse_intermixed_args(argv)
    if (args.output is None) == (args.output_opt is None):
        ap.error("give the output file once: as -o OUTPUT or as the second argument"
                 if args.output is None else "the output file is given twice (-o and a second argument)")
    output = args.output or args.output_opt
    try:
        labelsets = [_parse_labelset(s) for s in args.labelset]
        presets = parse_presets(args.presets) if args.presets is not None else None
        if os.path.isdir(output):
            raise ConvertError("output %s is a directory" % output)
        show_progress = args.progress or sys.stderr.isatty()
        if show_progress and os.path.isfile(args.checkpoint):
            print("reading %s (%.0f MB) ..." % (args.checkpoint, os.path.getsize(args.checkpoint) / 1e6),
                  file=sys.stderr, flush=True)
        sd, info = read_checkpoint(args.checkpoint, args.format)
        desc = describe_model(sd, args.heads)
        for line in layout_lines(args.checkpoint, info, desc):
            print(line)
        merge, why = decide_video_type_merge(args.merge_video_type, info, desc, args.checkpoint)
        print("  video type embedding: %s (%s)" % ("merged into the patch bias" if merge else "not merged", why))
        if info["format"] == "ds":
            print("  DeepSpeed names mapped to the official ones, [1,1,D] residual scales squeezed%s"
                  % (", %d visual_embed.* tensors dropped" % info["dropped"] if info["dropped"] else ""))
        if "fp16" in info["dtypes"] or "bf16" in info["dtypes"]:
            print("  half-precision tensors widened to float32")
        sys.stdout.flush()
        progress = Progress() if show_progress else None
        prompt_labels = None
        if args.prompt_labels is not None:
            with open(args.prompt_labels, encoding="utf-8") as f:
                prompt_labels = [line.strip() for line in f if line.strip()]
        convert_state_dict(sd, output, heads=args.heads, bpe=args.bpe,
                           bpe_merges=args.bpe_merges, merge_video_type=merge,
                           clip_frames=args.clip_frames, labelsets=labelsets,
                           name=args.name if args.name is not None else os.path.basename(args.checkpoint),
                           text_max_length=args.text_max_length, routing=args.routing,
                           presets=presets, caption_max_length=args.caption_max_length,
                           progress=progress, dtype=args.dtype, prompt_task=args.prompt_task,
                           prompt_labels=prompt_labels)
    except ConvertError as e:
        print("convert.py: error: %s" % e, file=sys.stderr)
        return 1
    except MemoryError:
        print("convert.py: error: out of memory", file=sys.stderr)
        return 1
    except OSError as e:
        print("convert.py: error: %s" % _one_line(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
