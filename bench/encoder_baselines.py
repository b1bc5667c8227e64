#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The encoder baselines of the benchmark: PyTorch fp32, PyTorch bf16
autocast, ONNX Runtime fp32 and ONNX Runtime dynamic int8, on the shapes of
the C engine's Base clip encode (12 pre-LN layers, D 768, 12 heads, FFN
3072, 1568 tokens, GELU, layer scale), same threads.

    encoder_baselines.py [--runs N] [--threads N] [--torch-threads N] [--tokens N]
                         [--layers N] [--label NAME] [--onnx] [--no-int8]

Runs with whatever PyTorch it finds: Debian 12's 1.13 on the host (bench/run.sh)
and Debian 13's 2.6 with ONNX Runtime 1.21 in the trixie root
(bench/trixie-baselines.sh). Prints one JSON object a line, {"row": ...};
a row that cannot run prints {"row": ..., "error": ...} instead, so that the
report says why it is missing. Times are the median of --runs after one
warm-up; GFLOP/s count the GEMMs and the attention products (2 FLOP per
multiply-add), the same count as upm-bench's.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F


def emit(row, **kw):
    kw = dict(row=row, **kw)
    print(json.dumps(kw), flush=True)


def encoder_gflop(layers, n, d, ffn):
    per_layer = 2.0 * n * d * (4 * d + 2 * ffn) + 4.0 * n * n * d
    return layers * per_layer / 1e9


class Layer(torch.nn.Module):
    """One pre-LN layer as Uni-Perceiver has it: x + g1 * attn(ln1(x)),
    then x + g2 * ffn(ln2(x)), exact GELU."""

    def __init__(self, d, heads, ffn, sdpa):
        super().__init__()
        self.h, self.sdpa = heads, sdpa
        self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.out = torch.nn.Linear(d, d)
        self.fc1 = torch.nn.Linear(d, ffn)
        self.fc2 = torch.nn.Linear(ffn, d)
        self.g1 = torch.nn.Parameter(torch.full((d,), 0.1))
        self.g2 = torch.nn.Parameter(torch.full((d,), 0.1))

    def attention(self, x):
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if self.sdpa:
            o = F.scaled_dot_product_attention(q, k, v)
        else:
            s = torch.matmul(q, k.transpose(-2, -1)) * (d // self.h) ** -0.5
            o = torch.matmul(s.softmax(-1), v)
        return self.out(o.transpose(1, 2).reshape(b, n, d))

    def forward(self, x):
        x = x + self.g1 * self.attention(self.ln1(x))
        return x + self.g2 * self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Encoder(torch.nn.Module):
    def __init__(self, layers, d, heads, ffn, sdpa):
        super().__init__()
        self.layers = torch.nn.ModuleList(Layer(d, heads, ffn, sdpa) for _ in range(layers))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def blas_in_use():
    """The BLAS libraries mapped after an fp32 matmul (Debian's PyTorch
    takes whatever libblas.so.3 the alternatives point at: OpenBLAS, or the
    slow reference BLAS)."""
    torch.matmul(torch.randn(64, 64), torch.randn(64, 64))
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if "blas" in os.path.basename(path):
                    libs.add(os.path.relpath(os.path.realpath(path), "/usr/lib"))
    except OSError:
        return "?"
    return ", ".join(sorted(libs)) or "none"


def timed(fn, runs):
    fn()  # warm-up: oneDNN primitive creation, ORT arena
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def diff(a, b):
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    d = np.abs(a - b)
    return {"max_abs_vs_fp32": float(d.max()), "mean_abs_vs_fp32": float(d.mean())}


def set_attention(model, sdpa):
    for layer in model.layers:
        layer.sdpa = sdpa


def attention_variants():
    """The attention implementations a PyTorch user could have: the fused
    scaled_dot_product_attention (2.x) and the plain matmul-softmax-matmul.
    Each row is timed with both and keeps the faster: Debian 13's PyTorch 2.6
    runs the fused CPU kernel in bf16 about 15x slower than the plain one
    (4.9 of 5.3 s for two layers under autocast, torch.profiler), so a row
    with only the default would understate the baseline."""
    return (True, False) if hasattr(F, "scaled_dot_product_attention") else (False,)


def timed_best_attention(model, fn, runs):
    """(seconds, all seconds, attention name, {name: seconds}) of the faster
    attention implementation for fn; the model is left on the plain one."""
    best, per = None, {}
    for sdpa in attention_variants():
        set_attention(model, sdpa)
        name = "sdpa" if sdpa else "matmul-softmax"
        s, all_s = timed(fn, runs)
        per[name] = s
        if best is None or s < best[0]:
            best = (s, all_s, name)
    set_attention(model, False)
    return best + (per,)


def emit_timed(row, model, fn, runs, common, **extra):
    s, all_s, name, per = timed_best_attention(model, fn, runs)
    emit(row, seconds=s, all_seconds=all_s, gflops=common["gflop"] / s,
         **dict(common, attention=name, attention_seconds=per), **extra)


def torch_rows(args, model, x, common):
    with torch.inference_mode():
        ref = model(x)
        emit_timed("torch_fp32", model, lambda: model(x), args.runs, common)
        try:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y = model(x)
                emit_timed("torch_bf16_autocast", model, lambda: model(x), args.runs, common,
                           **diff(y.float(), ref))
        except Exception as e:  # noqa: BLE001 (report any failure as a row)
            emit("torch_bf16_autocast", error="%s: %s" % (type(e).__name__, e), **common)
        # The bf16 GEMM alone (the FFN's first product), for the fraction of
        # the BF16 peak PyTorch reaches outside attention and the norms.
        try:
            a = torch.randn(args.tokens, args.d).bfloat16()
            w = torch.randn(args.ffn, args.d).bfloat16()
            s, _ = timed(lambda: torch.matmul(a, w.t()), max(args.runs, 5))
            emit("torch_bf16_gemm", seconds=s, gflops=2.0 * args.tokens * args.d * args.ffn / 1e9 / s,
                 shape="%dx%dx%d" % (args.tokens, args.ffn, args.d), **common)
        except Exception as e:  # noqa: BLE001
            emit("torch_bf16_gemm", error="%s: %s" % (type(e).__name__, e), **common)
        if args.no_int8:
            return ref
        try:
            q = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
            y = q(x)
            emit_timed("torch_int8_dynamic", q, lambda: q(x), args.runs, common, **diff(y, ref))
        except Exception as e:  # noqa: BLE001
            emit("torch_int8_dynamic", error="%s: %s" % (type(e).__name__, e), **common)
    return ref


def ort_rows(args, model, x, ref, common):
    # Debian's onnxruntime and python3-onnx share one libonnx: once
    # onnxruntime has registered its internal schemas there (an LRN of
    # com.ms.internal.nhwc), onnx.reference, which the quantisation tools
    # import, refuses the duplicate operator name. Built first, its schema
    # table holds only onnx's own.
    try:
        import onnx.reference.op_run  # noqa: F401
    except Exception:  # noqa: BLE001 (the int8 row reports what fails)
        pass
    try:
        import onnxruntime as ort
    except Exception as e:  # noqa: BLE001
        emit("ort_fp32", error="onnxruntime: %s" % e, **common)
        return
    common = dict(common, onnxruntime=ort.__version__)
    tmp = tempfile.mkdtemp(prefix="upm-ort-")
    f32 = os.path.join(tmp, "encoder.onnx")
    i8 = os.path.join(tmp, "encoder-int8.onnx")
    try:
        with torch.inference_mode():
            torch.onnx.export(model, (x,), f32, input_names=["x"], output_names=["y"], opset_version=17)
    except Exception as e:  # noqa: BLE001
        emit("ort_fp32", error="torch.onnx.export: %s: %s" % (type(e).__name__, e), **common)
        return

    def session(path):
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    xn = x.numpy()
    for row, path in (("ort_fp32", f32), ("ort_int8_dynamic", i8)):
        try:
            if path == i8:
                from onnxruntime.quantization import QuantType, quantize_dynamic
                quantize_dynamic(f32, i8, weight_type=QuantType.QInt8, per_channel=True)
            sess = session(path)
            y = sess.run(None, {"x": xn})[0]
            s, all_s = timed(lambda: sess.run(None, {"x": xn}), args.runs)
            emit(row, seconds=s, all_seconds=all_s, gflops=common["gflop"] / s, **diff(y, ref), **common)
        except Exception as e:  # noqa: BLE001
            emit(row, error="%s: %s" % (type(e).__name__, e), **common)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="threads of each engine (ONNX Runtime's intra-op)")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="torch.set_num_threads (default: --threads); Debian 12's torch 1.13 runs its fp32 GEMMs "
                         "in OpenBLAS, whose threads OPENBLAS_NUM_THREADS sets")
    ap.add_argument("--no-int8", action="store_true", help="skip torch's dynamic int8 quantisation")
    ap.add_argument("--tokens", type=int, default=1568)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--ffn", type=int, default=3072)
    ap.add_argument("--label", default="host", help="where it ran (host, trixie): names the rows' source")
    ap.add_argument("--onnx", action="store_true", help="also the ONNX Runtime rows")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.torch_threads or args.threads)
    common = {"label": args.label, "torch": torch.__version__.split("+")[0], "threads": args.threads,
              "torch_threads": torch.get_num_threads(), "blas": blas_in_use(),
              "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
              "tokens": args.tokens, "layers": args.layers, "d": args.d, "heads": args.heads, "ffn": args.ffn,
              "python": platform.python_version(),
              "gflop": encoder_gflop(args.layers, args.tokens, args.d, args.ffn), "runs": args.runs}
    model = Encoder(args.layers, args.d, args.heads, args.ffn, False).eval()
    for p in model.parameters():
        if p.dim() == 2:
            torch.nn.init.normal_(p, std=0.02)
    x = torch.randn(1, args.tokens, args.d)
    ref = torch_rows(args, model, x, common)
    if args.onnx:
        ort_rows(args, model, x, ref, common)
    return 0


if __name__ == "__main__":
    sys.exit(main())
