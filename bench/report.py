#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Print the benchmark table from one bench/run.sh result directory.

    bench/report.py bench/results/<run>    (reads *.json, writes table.md too)

Every number comes from that one run: the machine's peaks, the C engine and
PyTorch, measured one after the other by bench/run.sh.
"""

import json
import os
import sys


def load(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.loads(f.read().strip().splitlines()[-1])


def load_lines(d, name):
    """Every JSON object of a JSON-lines file ([] when absent)."""
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return []
    rows = []
    with open(p) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def ms(s):
    return "%.1f ms" % (s * 1e3) if s < 1 else "%.2f s" % s


# The issue's targets (issue 20), each a row of the PASS / MISS table.
BF16_VS_TORCH26 = 1.25
INT8_DECODE_VS_FP32 = 2.5
BATCHED_16_VS_UNBATCHED = 3.0
PORTABLE_VS_NATIVE = 0.97


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] + xs[(n - 1) // 2]) / 2.0 if n else None


def portable_section(d, out):
    """bench/portable.sh's runs: this build at UPM_CPU=avx2 against the last
    native build (-mavx2 -mfma -mf16c everywhere), alternately; the medians
    and the fastest runs of each row. Returns the target (name, shown, ok)."""
    runs = load_lines(d, "portable.jsonl")
    name = "portable build at UPM_CPU=avx2 ≥ %.2f× the native build (Base MoE clip encode, fp32)" % PORTABLE_VS_NATIVE
    out("")
    out("## Portable build (UPM_CPU=avx2) vs the last native build")
    out("")
    if not runs:
        out("(bench/portable.sh not run)")
        return (name, "not measured", None)
    ref = runs[0].get("ref", "?")
    out("Native: commit %s built with -Dnative=true; portable: this build, kernels forced to avx2. "
        "Runs alternate; median (fastest) of %d runs each." % (ref, len(runs) // 2))
    out("")
    out("| row | native | portable (avx2) | native time / portable time, median (best) |")
    out("|---|---|---|---|")
    ratio = None
    for key, label in (("encode_clip_s", "encode 8-frame clip"), ("encode_image_s", "encode image"),
                       ("decode_image_s", "caption an image: 21 decode steps")):
        t = {b: [r[key] for r in runs if r.get("build") == b and key in r] for b in ("native", "portable")}
        if not t["native"] or not t["portable"]:
            continue
        mn, mp = median(t["native"]), median(t["portable"])
        bn, bp = min(t["native"]), min(t["portable"])
        out("| %s | %s (%s) | %s (%s) | %.3f× (%.3f×) |" % (label, ms(mn), ms(bn), ms(mp), ms(bp), mn / mp, bn / bp))
        if key == "encode_clip_s":
            ratio = mn / mp
    if ratio is None:
        return (name, "not measured", None)
    return (name, "%.3f×" % ratio, ratio >= PORTABLE_VS_NATIVE)


def baseline_rows(d):
    """The encoder baselines: {(label, row): best row} over the files of the
    run (the host's two thread set-ups, the trixie root); rows with an error
    are kept when no timed one exists, so that the table says why."""
    best = {}
    for name in ("encoder-host-blas.jsonl", "encoder-host-omp.jsonl", "trixie.jsonl"):
        for r in load_lines(d, name):
            if r.get("row") == "env" or "label" not in r:
                continue
            key = (r["label"], r["row"])
            old = best.get(key)
            if old is None or ("seconds" in r and ("seconds" not in old or r["seconds"] < old["seconds"])):
                best[key] = r
    return best


def blas_name(libs):
    """What encoder_baselines.py found mapped, in short: OpenBLAS and its
    version, or the reference BLAS (Debian's libblas3: about 1 GFLOP/s)."""
    for lib in libs.split(", "):
        name = os.path.basename(lib)
        if name.startswith("libopenblas"):
            return "OpenBLAS " + name.split("-r", 1)[-1].replace(".so", "")
    if "blas/libblas.so" in libs:
        return "reference BLAS (slow)"
    return libs


def peak_for(mach, precision):
    """The machine peak a precision's GEMMs run against, and its name."""
    fma = max(mach.get("fma_gflops_nt", 0.0), mach.get("fma512_gflops_nt", 0.0))
    if precision == "bf16" and mach.get("bf16_dot_gflops_nt"):
        return mach["bf16_dot_gflops_nt"], "BF16 dot"
    if precision == "int8":
        if mach.get("vnni512_gops_nt"):
            return max(mach["vnni512_gops_nt"], mach.get("vnni256_gops_nt", 0.0)), "int8 VNNI"
        if mach.get("int8_avx2_gops_nt"):
            return mach["int8_avx2_gops_nt"], "int8 AVX2"
    return fma, "FP32 FMA"


def precision_section(d, mach, out):
    """The rows of the precision work, side by side: the C engine per
    precision, the baselines on the same encoder shapes, the decode step,
    batched streams. Returns the issue's targets as (name, shown, ok) with
    ok None where the rows were not measured."""
    prec = load(d, "precision.json")
    dec = load(d, "decode.json")
    streams = load_lines(d, "streams.jsonl")
    base = baseline_rows(d)
    env = [r for r in load_lines(d, "trixie.jsonl") if r.get("row") == "env"]
    targets = []
    out("")
    out("## Precision: the encoder against PyTorch and ONNX Runtime (same shapes, same threads)")
    out("")
    if base:
        any_row = next(iter(base.values()))
        out("Baseline encoder: %d pre-LN layers, D %d, %d heads, FFN %d, %d tokens, exact GELU, layer scale "
            "(bench/encoder_baselines.py); the C rows encode a clip of the bench's MoE model (%s tokens with <SPE>, "
            "plus the patch embedding and the final norm). Trixie root: %s."
            % (any_row["layers"], any_row["d"], any_row["heads"], any_row["ffn"], any_row["tokens"],
               prec["tokens"] if prec else "?", env[0]["os"] if env else "not run"))
        out("")
    out("| engine | precision | encode | GFLOP/s | % of the matching peak | C bf16 speed-up over it | note |")
    out("|---|---|---|---|---|---|---|")
    c_bf16 = prec["encode_clip_bf16_s"] if prec else None

    def row(engine, precision, seconds, gflops, note=""):
        pk, pname = peak_for(mach, precision)
        out("| %s | %s | %s | %s | %s | %s | %s |"
            % (engine, precision, ms(seconds) if seconds else "-", "%.1f" % gflops if gflops else "-",
               "%.0f%% (%s %.0f)" % (100 * gflops / pk, pname, pk) if gflops and pk else "-",
               "%.2f×" % (seconds / c_bf16) if seconds and c_bf16 else "-", note))

    if prec:
        row("C engine", "fp32", prec["encode_clip_fp32_s"], prec["fp32_gflops"], "upm-bench precision")
        note = "upm-bench precision"
        if "feature_clip_max_abs" in prec:
            note += "; vs fp32: features max / mean abs %.2g / %.2g, logits %.2g / %.2g, top-1 agreement %.3f" % (
                prec["feature_clip_max_abs"], prec["feature_clip_mean_abs"], prec["logits_max_abs"],
                prec["logits_mean_abs"], prec["top1_agreement"])
        row("C engine", "bf16", prec["encode_clip_bf16_s"], prec["bf16_gflops"], note)
    if dec and dec.get("encode_clip_int8_s"):
        g = prec["encode_clip_gflop"] / dec["encode_clip_int8_s"] if prec else None
        row("C engine", "int8 (encoder in fp32: int8 is the decode step's)", dec["encode_clip_int8_s"], g,
            "upm-bench decode")
    names = {"torch_fp32": ("fp32", ""), "torch_bf16_autocast": ("bf16", "torch.autocast"),
             "torch_int8_dynamic": ("int8", "torch quantize_dynamic (Linear)"),
             "ort_fp32": ("fp32", "exported with torch.onnx.export"),
             "ort_int8_dynamic": ("int8", "onnxruntime.quantization.quantize_dynamic, per channel")}
    for label in ("host", "trixie"):
        for key in ("torch_fp32", "torch_bf16_autocast", "torch_int8_dynamic", "ort_fp32", "ort_int8_dynamic"):
            r = base.get((label, key))
            if r is None:
                continue
            engine = ("ONNX Runtime %s" % r.get("onnxruntime", "?")) if key.startswith("ort") \
                else "PyTorch %s (%s)" % (r.get("torch", "?"), "Debian 13" if label == "trixie" else "this host")
            precision, note = names[key]
            if "error" in r:
                row(engine, precision, None, None, "not measured: %s" % r["error"][:160])
                continue
            extra = "threads: torch %s, OpenBLAS %s; BLAS: %s" % (
                r.get("torch_threads"), r.get("openblas_threads") or "-", blas_name(r.get("blas", "?"))) \
                if key.startswith("torch") else "intra-op threads %s" % r.get("threads")
            if r.get("attention_seconds"):
                extra += "; attention: %s (%s)" % (r["attention"], ", ".join(
                    "%s %s" % (k, ms(v)) for k, v in sorted(r["attention_seconds"].items())))
            if "max_abs_vs_fp32" in r:
                extra += "; vs its fp32: max abs %.2g" % r["max_abs_vs_fp32"]
            row(engine, precision, r["seconds"], r["gflops"], "; ".join(x for x in (note, extra) if x))
        g = base.get((label, "torch_bf16_gemm"))
        if g and "gflops" in g:
            pk, pname = peak_for(mach, "bf16")
            out("| PyTorch %s bf16 GEMM alone (%s) | bf16 | %s | %.1f | %s | | |"
                % (g.get("torch"), g["shape"], ms(g["seconds"]), g["gflops"],
                   "%.0f%% (%s %.0f)" % (100 * g["gflops"] / pk, pname, pk) if pk else "-"))

    t26 = base.get(("trixie", "torch_bf16_autocast"))
    if c_bf16 and t26 and "seconds" in t26:
        r = t26["seconds"] / c_bf16
        targets.append(("Base clip encode in bf16 ≥ %.2f× PyTorch %s bf16 autocast (same shapes, threads)"
                        % (BF16_VS_TORCH26, t26["torch"]), "%.2f× (C %s, PyTorch %s)"
                        % (r, ms(c_bf16), ms(t26["seconds"])), r >= BF16_VS_TORCH26))
    else:
        targets.append(("Base clip encode in bf16 ≥ %.2f× PyTorch 2.6 bf16 autocast" % BF16_VS_TORCH26,
                        "not measured (%s)" % ("no trixie row" if c_bf16 else "no upm-bench precision row"), None))

    # The caption decode step per precision (upm-bench decode).
    out("")
    out("## Precision: the caption decode step (%s, beam %s, full vocabulary)"
        % (dec.get("model", "?"), dec.get("beam", "?")) if dec else "## Precision: the caption decode step")
    out("")
    if dec:
        out("| precision | step | weights streamed | their DRAM time at %.1f GB/s | DRAM time / step (1: bandwidth-bound) | "
            "speed-up over fp32 |" % dec.get("read_gbs", 0.0))
        out("|---|---|---|---|---|---|")
        for p in ("fp32", "bf16", "int8"):
            if "step_%s_s" % p not in dec:
                continue
            out("| %s | %s | %.0f MB | %s | %.2f× | %.2f× |"
                % (p, ms(dec["step_%s_s" % p]), dec["step_%s_bytes" % p] / 1e6, ms(dec["step_%s_dram_s" % p]),
                   dec["step_%s_of_dram" % p], dec.get("step_%s_speedup" % p, 1.0)))
        for p in ("bf16", "int8"):
            if "captions_%s_same" % p in dec:
                out("| %s captions with fp32's words | %d of %d (score max abs diff %.3g) | | | | |"
                    % (p, dec["captions_%s_same" % p], dec["captions_%s_of" % p],
                       dec.get("caption_score_%s_max_abs" % p, float("nan"))))
    else:
        out("(upm-bench decode not run or not in this build)")
    if dec and "step_int8_speedup" in dec:
        r = dec["step_int8_speedup"]
        targets.append(("caption decode step in int8 ≥ %.1f× fp32" % INT8_DECODE_VS_FP32, "%.2f×" % r,
                        r >= INT8_DECODE_VS_FP32))
    else:
        targets.append(("caption decode step in int8 ≥ %.1f× fp32" % INT8_DECODE_VS_FP32, "not measured", None))

    # Streams on one model, batched vs unbatched (upm-bench streams).
    out("")
    out("## Streams sharing one model: batched vs unbatched")
    out("")
    if streams:
        out("| model | streams | work | unbatched clips/s | batched clips/s | speed-up | latency p50 / p95 "
            "unbatched | batched | clips per batch |")
        out("|---|---|---|---|---|---|---|---|---|")
        for r in streams:
            out("| %s | %d | %s | %.1f | %.1f | %.2f× | %.1f / %.1f ms | %.1f / %.1f ms | %.2f |"
                % (r.get("model", "?"), r["streams"], r.get("work", "?"), r["unbatched_clips_s"], r["batched_clips_s"], r["speedup"],
                   r["unbatched_p50_ms"], r["unbatched_p95_ms"], r["batched_p50_ms"], r["batched_p95_ms"],
                   r.get("clips_per_batch", float("nan"))))
    else:
        out("(upm-bench streams not run or not in this build)")
    # the target: the bundled model's clips (upmtransformer's work)
    bundled = [r for r in streams if "synth" in r.get("model", "synth") and r.get("work", "encode") == "encode"]
    one = [r for r in bundled if r["streams"] == 1]
    sixteen = [r for r in bundled if r["streams"] == 16]
    if sixteen:
        r = sixteen[0]
        # "p95 latency within one clip": the batched p95 exceeds the
        # unbatched one by at most one clip's encode time (a lone stream's
        # unbatched p50)
        clip_ms = one[0]["unbatched_p50_ms"] if one else r["unbatched_p50_ms"] / 16
        ok = r["speedup"] >= BATCHED_16_VS_UNBATCHED and r["batched_p95_ms"] <= r["unbatched_p95_ms"] + clip_ms
        targets.append(("16 streams batched ≥ %.0f× the unbatched clips/s, p95 latency within one clip (%.1f ms)"
                        % (BATCHED_16_VS_UNBATCHED, clip_ms), "%.2f×, p95 %.1f ms (unbatched %.1f ms)"
                        % (r["speedup"], r["batched_p95_ms"], r["unbatched_p95_ms"]), ok))
    else:
        targets.append(("16 streams batched ≥ %.0f× the unbatched clips/s" % BATCHED_16_VS_UNBATCHED,
                        "not measured", None))
    return targets


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = argv[1]
    mach = load(d, "machine.json")
    C = {k: load(d, "c-%s.json" % k) for k in ("dense", "moe")}
    C16 = {k: load(d, "c-%s-f16.json" % k) for k in ("dense", "moe")}
    T = {k: load(d, "torch-%s.json" % k) for k in ("dense", "moe")}
    V = {k: load(d, "vocab-%s.json" % k) for k in ("dense", "moe")}
    gst = load(d, "gst.json")
    disp = load(d, "dispatch.json")
    prec = load(d, "precision.json")
    lines = []
    out = lines.append
    # the peak: the best FMA loop measured (AVX2, or AVX-512 where the CPU
    # has it; on Zen 4 both give 32 FLOP/cycle)
    peak = max(mach["fma_gflops_nt"], mach.get("fma512_gflops_nt", 0.0))
    bw = mach["read_gbs_nt"]
    size = (C["dense"] or C["moe"])
    out("# Uni-Perceiver-MoE benchmark (%s)" % os.path.basename(os.path.normpath(d)))
    out("")
    if size is None:
        out("Precision rows only (bench/run.sh --precision-only). Threads: %d." % mach["threads"])
    else:
        header(out, size, T)
    machine_section(out, mach, peak, bw)
    targets = []
    if size is not None:
        targets = engine_section(out, C, C16, T, V, gst, disp, prec, peak, bw)
    issue = precision_section(d, mach, out)
    issue.append(portable_section(d, out))
    if targets:
        out("")
        out("## Targets")
        out("")
        out("| target | measured | met |")
        out("|---|---|---|")
        for name, _, ok, shown in targets:
            out("| %s | %s | %s |" % (name, shown, "yes" if ok else "**no**"))
    out("")
    out("## Targets of the precision work (issue 20), this run")
    out("")
    out("| target | measured | |")
    out("|---|---|---|")
    for name, shown, ok in issue:
        out("| %s | %s | %s |" % (name, shown, "n/a" if ok is None else "PASS" if ok else "**MISS**"))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(d, "table.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


def header(out, size, T):
    out("Model shapes: D %d, %d layers, %d heads, FFN %d, vocabulary %d; clip %d frames (%d tokens), "
        "image %d tokens. Threads: C %d (one pool, OpenBLAS single-threaded inside it); PyTorch %s with "
        "OPENBLAS_NUM_THREADS=%s. Timings are medians of %d runs after one warm-up run."
        % (size["d"], size["layers"], size["heads"], size["ffn"], size["vocab"], size["frames"],
           size["clip_tokens"], size["image_tokens"], size["threads"],
           "set_num_threads(%s)" % (T["dense"] or {}).get("torch_threads", "?"),
           (T["dense"] or {}).get("openblas_threads", "?"), size["runs"]))


def machine_section(out, mach, peak, bw):
    out("")
    out("## Machine (measured in this run)")
    out("")
    out("| quantity | value |")
    out("|---|---|")
    if "kernels" in mach:
        out("| engine kernels (ISA level in use) | %s: %s |" % (mach["kernels"], mach["kernels_reason"]))
    out("| AVX2 FMA peak, 1 thread (best of %d) | %.1f GFLOP/s |" % (mach["runs"], mach["fma_gflops_1t"]))
    out("| AVX2 FMA peak, %d threads | %.1f GFLOP/s |" % (mach["threads"], mach["fma_gflops_nt"]))
    if mach.get("fma512_gflops_nt"):
        out("| AVX-512 FMA peak, 1 / %d threads | %.1f / %.1f GFLOP/s |"
            % (mach["threads"], mach["fma512_gflops_1t"], mach["fma512_gflops_nt"]))
    if mach.get("bf16_dot_gflops_nt"):
        out("| BF16 dot product (vdpbf16ps) peak, 1 / %d threads | %.1f / %.1f GFLOP/s |"
            % (mach["threads"], mach["bf16_dot_gflops_1t"], mach["bf16_dot_gflops_nt"]))
    if mach.get("vnni512_gops_nt"):
        out("| int8 VNNI (vpdpbusd) peak, 512-bit 1 / %d threads; 256-bit %d threads | %.1f / %.1f; %.1f GOP/s |"
            % (mach["threads"], mach["threads"], mach["vnni512_gops_1t"], mach["vnni512_gops_nt"],
               mach.get("vnni256_gops_nt", 0.0)))
    if mach.get("int8_avx2_gops_nt"):
        out("| int8 without VNNI (vpmaddubsw + vpmaddwd + vpaddd), %d threads | %.1f GOP/s |"
            % (mach["threads"], mach["int8_avx2_gops_nt"]))
    out("| **peak used for %% of peak** (best FMA loop, %d threads) | %.1f GFLOP/s |" % (mach["threads"], peak))
    out("| sgemm 2048³ (engine GEMM path) | %.1f GFLOP/s (%.0f%% of peak) |"
        % (mach["sgemm_2048_gflops"], 100 * mach["sgemm_2048_gflops"] / peak))
    out("| sgemm 1569×3072×768 (engine GEMM path) | %.1f GFLOP/s (%.0f%% of peak) |"
        % (mach["sgemm_1569x3072x768_gflops"], 100 * mach["sgemm_1569x3072x768_gflops"] / peak))
    if "sgemm_2048_openblas_threads_gflops" in mach:
        out("| sgemm 2048³, OpenBLAS's own %d threads (reference) | %.1f GFLOP/s |"
            % (mach["threads"], mach["sgemm_2048_openblas_threads_gflops"]))
    out("| DRAM read bandwidth, 1 / %d threads (%d MiB, best run) | %.1f / %.1f GB/s |"
        % (mach["threads"], mach["bw_buffer_mib"], mach["read_gbs_1t"], bw))


def engine_section(out, C, C16, T, V, gst, disp, prec, peak, bw):
    out("")
    out("## C engine vs PyTorch (float32, same weights and inputs)")
    out("")
    out("| row | C | PyTorch | speed-up | C GFLOP/s | % of FMA peak |")
    out("|---|---|---|---|---|---|")
    targets = []
    for kind in ("dense", "moe"):
        c, t = C[kind], T[kind]
        if not c:
            continue
        tag = "%s-%s" % ("MoE" if kind == "moe" else "Dense", "B" if c["d"] == 768 else "d%d" % c["d"])
        for what, key, gk in (("clip 8 frames", "encode_clip_s", "encode_clip_gflop"),
                              ("image", "encode_image_s", "encode_image_gflop")):
            g = c[gk] / c[key]
            tt = t.get(key) if t else None
            su = tt / c[key] if tt else None
            out("| %s encode %s (%d tok) | %s | %s | %s | %.1f | %.0f%% |"
                % (tag, what, c["clip_tokens"] if "clip" in what else c["image_tokens"], ms(c[key]),
                   ms(tt) if tt else "-", "%.2f×" % su if su else "-", g, 100 * g / peak))
            if what.startswith("clip"):
                targets.append(("%s clip ≥ 1.7× faster than PyTorch" % tag, su, su is not None and su >= 1.7,
                                "%.2f×" % su if su else "n/a"))
                targets.append(("%s clip ≥ 70%% of FMA peak (whole forward)" % tag, g / peak, g / peak >= 0.70,
                                "%.0f%%" % (100 * g / peak)))
        cap_c = c["prefix_image_s"] + c["decode_image_s"]
        step_c = c["decode_image_s"] / c["steps"]
        tt = t.get("caption_image_s") if t else None
        out("| %s caption image: per caption (prefix + %d steps, beam %d) | %s | %s | %s | | |"
            % (tag, c["steps"], c["beam"], ms(cap_c), ms(tt) if tt else "-",
               "%.1f×" % (tt / cap_c) if tt else "-"))
        out("| %s caption image: per step | %s | %s | %s | | |"
            % (tag, ms(step_c), ms(tt / c["steps"]) if tt else "-",
               "%.1f×" % (tt / c["steps"] / step_c) if tt else "-"))
        if tt:
            targets.append(("%s caption ≥ 3× faster than PyTorch without KV cache (image)" % tag,
                            tt / cap_c, tt / cap_c >= 3, "%.1f×" % (tt / cap_c)))
        if c["decode_clip_s"] > 0:
            cap_cc = c["prefix_clip_s"] + c["decode_clip_s"]
            te = t.get("caption_clip_est_s") if t else None
            out("| %s caption clip: per caption | %s | %s | %s | | |"
                % (tag, ms(cap_cc), ("%s (est.: step 0 + %d × a measured middle step)" %
                                     (ms(te), c["steps"] - 1)) if te else "-",
                   "%.1f×" % (te / cap_cc) if te else "-"))
            out("| %s caption clip: per step | %s | %s | %s | | |"
                % (tag, ms(c["decode_clip_s"] / c["steps"]),
                   ms(t["clip_step_mid_s"]) + " (middle step)" if t and "clip_step_mid_s" in t else "-",
                   "%.0f×" % (t["clip_step_mid_s"] / (c["decode_clip_s"] / c["steps"]))
                   if t and "clip_step_mid_s" in t else "-"))
        stream = (c["step_weight_bytes"] + c["vocab_bytes"]) / (bw * 1e9)
        out("| %s decode step vs DRAM: weights %.0f MB + vocabulary features %.0f MB at %.1f GB/s = %s | "
            "image %.2f×, clip %s | | | | |"
            % (tag, c["step_weight_bytes"] / 1e6, c["vocab_bytes"] / 1e6, bw, ms(stream), step_c / stream,
               "%.2f× (+%.0f MB prefix K/V)" % (c["decode_clip_s"] / c["steps"] / stream, c["kv_clip_bytes"] / 1e6)
               if c["decode_clip_s"] > 0 else "-"))
        targets.append(("%s decode step ≤ 1.5× DRAM streaming time (image)" % tag, step_c / stream,
                        step_c / stream <= 1.5, "%.2f×" % (step_c / stream)))
        h = C16[kind]
        if h:
            stream16 = (h["step_weight_bytes"] + h["vocab_bytes"] / 2) / (bw * 1e9)
            s16 = h["decode_image_s"] / h["steps"]
            out("| %s decode step, half-precision vocabulary features (opt-in, UPM_VOCAB_F16=1; "
                "not within the 1e-4 fidelity tolerance): image / clip | %s / %s | | | | |"
                % (tag, ms(s16), ms(h["decode_clip_s"] / h["steps"]) if h["decode_clip_s"] > 0 else "-"))
            out("| %s decode step (half vocabulary) vs DRAM: %.0f MB at %.1f GB/s = %s | image %.2f× | | | | |"
                % (tag, (h["step_weight_bytes"] + h["vocab_bytes"] / 2) / 1e6, bw, ms(stream16), s16 / stream16))
        tc = t.get("classify_s") if t else None
        out("| %s classify against %d cached label features (similarity, softmax, top 5) | %s | %s | %s | | |"
            % (tag, c["labels"], "%.1f µs" % (c["classify_s"] * 1e6), "%.1f µs" % (tc * 1e6) if tc else "-",
               "%.1f×" % (tc / c["classify_s"]) if tc else "-"))
        out("| %s label features: first computation / later lookups in the library cache | %s / %.0f µs "
            "| | | | |" % (tag, ms(c["label_features_first_s"]), c["label_lookup_s"] * 1e6))
        out("| %s peak RSS | %.0f MB | %s | | | |"
            % (tag, c["peak_rss_kib"] / 1024, "%.0f MB" % (t["peak_rss_kib"] / 1024) if t else "-"))
        if kind == "moe":
            denom = c["weights_needed_bytes"] + c["vocab_bytes"] + c["label_bytes"]
            r = c["peak_rss_kib"] * 1024 / denom
            out("| %s peak RSS / (weights needed %.0f MB [file %.0f − experts %.0f + merged %.0f] + "
                "target features %.0f MB) | %.2f | | | | |"
                % (tag, c["weights_needed_bytes"] / 1e6, c["file_bytes"] / 1e6, c["expert_bytes"] / 1e6,
                   c["merged_bytes"] / 1e6, (c["vocab_bytes"] + c["label_bytes"]) / 1e6, r))
            targets.append(("%s peak RSS ≤ 1.25 × (merged weights + target features)" % tag, r, r <= 1.25,
                            "%.2f" % r))
        if t and "feature_image" in t:
            diff = max(abs(a - b) for a, b in zip(c["feature_image"] + c["feature_clip"],
                                                  t["feature_image"] + t["feature_clip"]))
            same = c.get("caption_image") == t.get("caption_image")
            out("| %s check: C vs PyTorch feature max abs diff (16 dims) / image caption ids equal | %.2g / %s"
                " | | | | |" % (tag, diff, "yes" if same else "no"))
    if C["dense"] and C["moe"]:
        r = C["moe"]["encode_clip_s"] / C["dense"]["encode_clip_s"]
        out("| MoE / dense encode time, clip (C) | %.3f | | | | |" % r)
        targets.append(("MoE-B time / dense-B time ≤ 1.05 (clip)", r, r <= 1.05, "%.3f" % r))
    if disp:
        out("| token-routed MoE-B encode clip (dynamic top-2 dispatch, 2 experts per token in %s MoE layers) "
            "| %s | dense-B same run %s | | %.1f GFLOP executed | |"
            % ("the", ms(disp["routed_s"]), ms(disp["dense_s"]), disp["routed_gflop"]))
        out("| dispatch overhead: (token time / dense time) / (token FLOPs / dense FLOPs) | %.3f | | | | |"
            % disp["overhead"])
        targets.append(("token routing ≤ 1.15× the FLOP-proportional cost of the experts used",
                        disp["overhead"], disp["overhead"] <= 1.15, "%.3f" % disp["overhead"]))
    if prec:
        out("| encode Base clip fp32 vs bf16 (MoE, one run, interleaved) | fp32 %s / bf16 %s "
            "| | %.2f× | %.1f / %.1f | bf16: %.0f%% of the BF16 dot peak (%.0f GFLOP/s) |"
            % (ms(prec["encode_clip_fp32_s"]), ms(prec["encode_clip_bf16_s"]), prec["bf16_speedup"],
               prec["fp32_gflops"], prec["bf16_gflops"], 100 * prec["bf16_of_dot_peak"],
               prec["bf16_dot_peak_gflops"]))
        if "feature_clip_max_abs" in prec:
            out("| bf16 vs fp32: feature max / mean abs diff (clips), logits max / mean abs diff, top-1 agreement "
                "| %.2g / %.2g, %.2g / %.2g, %.3f | | | | |"
                % (prec["feature_clip_max_abs"], prec["feature_clip_mean_abs"], prec["logits_max_abs"],
                   prec["logits_mean_abs"], prec["top1_agreement"]))
        targets.append(("bf16 encode ≥ 1.8× fp32 (clip, same run)", prec["bf16_speedup"],
                        prec["bf16_speedup"] >= 1.8, "%.2f×" % prec["bf16_speedup"]))
    for kind in ("dense", "moe"):
        if V[kind]:
            out("| vocabulary features (%s): %s | %s | | | | |"
                % (kind, "loaded from the on-disk cache" if V[kind]["cached"] else "computed and cached",
                   ms(V[kind]["seconds"])))
    if gst:
        for row in gst.get("rows", []):
            out("| %s | %s | %s | | | |" % (row.get("name"), row.get("c", "-"), row.get("note", "")))
        for t in gst.get("targets", []):
            targets.append((t["target"], None, bool(t["ok"]), t["shown"]))
    else:
        out("| GStreamer pipelines on the bundled model | (bench/gst_bench.py failed or was not run) | | | | |")
    return targets


if __name__ == "__main__":
    sys.exit(main(sys.argv))
