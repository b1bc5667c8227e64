#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/report.py on a made-up result directory of the precision rows
(bench/run.sh --precision-only): the rows it merges (C engine, the host's
and the trixie root's baselines, the better of two thread set-ups), the
issue's target ratios with PASS / MISS, and n/a for rows not measured."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, os.pardir, "bench", "report.py")

MACHINE = {"kind": "machine", "threads": 2, "runs": 3, "fma_gflops_1t": 110.0, "fma_gflops_nt": 220.0,
           "fma512_gflops_1t": 111.0, "fma512_gflops_nt": 222.0, "bf16_dot_gflops_1t": 220.0,
           "bf16_dot_gflops_nt": 440.0, "vnni512_gops_1t": 440.0, "vnni512_gops_nt": 880.0,
           "vnni256_gops_nt": 870.0, "int8_avx2_gops_nt": 300.0, "read_gbs_1t": 12.0, "read_gbs_nt": 30.0,
           "bw_buffer_mib": 1024, "sgemm_2048_gflops": 200.0, "sgemm_1569x3072x768_gflops": 190.0,
           "sgemm_2048_openblas_threads_gflops": 195.0, "kernels": "avx512bf16", "kernels_reason": "detected"}
PRECISION = {"kind": "precision", "tokens": 1569, "encode_clip_gflop": 360.0, "encode_clip_fp32_s": 2.0,
             "encode_clip_bf16_s": 1.0, "bf16_speedup": 2.0, "fp32_gflops": 180.0, "bf16_gflops": 360.0,
             "bf16_dot_peak_gflops": 440.0, "bf16_of_dot_peak": 0.82}
COMMON = {"layers": 12, "d": 768, "heads": 12, "ffn": 3072, "tokens": 1568, "threads": 2, "gflop": 357.0}


def row(label, name, seconds=None, **kw):
    r = dict(COMMON, row=name, label=label, torch="2.6.0" if label == "trixie" else "1.13.0", **kw)
    if seconds is not None:
        r.update(seconds=seconds, gflops=COMMON["gflop"] / seconds)
    return r


def write(d, name, rows):
    with open(os.path.join(d, name), "w") as f:
        for r in rows if isinstance(rows, list) else [rows]:
            f.write(json.dumps(r) + "\n")


def report(d):
    out = subprocess.run([sys.executable, REPORT, d], check=True, capture_output=True, text=True).stdout
    with open(os.path.join(d, "table.md")) as f:
        assert f.read() == out
    return out


def target_line(out, start):
    lines = [line for line in out.splitlines() if line.startswith("| " + start)]
    assert len(lines) == 1, (start, lines)
    return lines[0]


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        write(self.d, "machine.json", MACHINE)
        write(self.d, "precision.json", PRECISION)

    def tearDown(self):
        self.tmp.cleanup()

    def test_nothing_but_the_c_rows(self):
        out = report(self.d)
        self.assertIn("int8 VNNI (vpdpbusd) peak", out)
        self.assertIn("| C engine | bf16 | 1.00 s | 360.0 | 82% (BF16 dot 440) |", out)
        for start in ("Base clip encode in bf16", "caption decode step in int8", "16 streams batched"):
            self.assertTrue(target_line(out, start).endswith("| n/a |"), start)

    def test_targets_pass_and_miss(self):
        write(self.d, "trixie.jsonl", [{"row": "env", "os": "Debian GNU/Linux 13 (trixie)"},
                                       row("trixie", "torch_fp32", 4.0), row("trixie", "torch_bf16_autocast", 1.3),
                                       row("trixie", "ort_fp32", 2.0, onnxruntime="1.21.0"),
                                       row("trixie", "ort_int8_dynamic", error="NotImplementedError: x",
                                           onnxruntime="1.21.0")])
        # the host's two thread set-ups: the better time of each row is kept
        write(self.d, "encoder-host-blas.jsonl", [row("host", "torch_fp32", 5.0),
                                                  row("host", "torch_bf16_autocast", 9.0)])
        write(self.d, "encoder-host-omp.jsonl", [row("host", "torch_fp32", 6.0),
                                                 row("host", "torch_bf16_autocast", 3.0)])
        write(self.d, "decode.json", {"kind": "decode", "read_gbs": 30.0, "step_fp32_s": 0.1,
                                      "step_fp32_bytes": 5e8, "step_fp32_dram_s": 0.017, "step_fp32_of_dram": 6.0,
                                      "step_fp32_speedup": 1.0, "step_int8_s": 0.05, "step_int8_bytes": 1.3e8,
                                      "step_int8_dram_s": 0.004, "step_int8_of_dram": 12.0,
                                      "step_int8_speedup": 2.0})
        write(self.d, "streams.jsonl", [
            {"streams": s, "work": "encode", "unbatched_clips_s": 1.0, "batched_clips_s": b, "speedup": b,
             "unbatched_p50_ms": 100.0 * s, "unbatched_p95_ms": 110.0 * s, "batched_p50_ms": 90.0 * s,
             "batched_p95_ms": p95, "clips_per_batch": 1.0}
            for s, b, p95 in ((1, 1.0, 105.0), (4, 2.0, 400.0), (16, 3.5, 1800.0))])
        out = report(self.d)
        # 1.3 s / 1.0 s = 1.30 >= 1.25
        self.assertIn("1.30× (C 1.00 s, PyTorch 1.30 s)", target_line(out, "Base clip encode in bf16"))
        self.assertTrue(target_line(out, "Base clip encode in bf16").endswith("| PASS |"))
        # 2.0 < 2.5
        self.assertTrue(target_line(out, "caption decode step in int8").endswith("| **MISS** |"))
        # 3.5x, p95 1800 ms <= 1760 + 100 ms
        self.assertTrue(target_line(out, "16 streams batched").endswith("| PASS |"))
        self.assertIn("| PyTorch 1.13.0 (this host) | bf16 | 3.00 s |", out)
        self.assertIn("| PyTorch 1.13.0 (this host) | fp32 | 5.00 s |", out)
        self.assertIn("| ONNX Runtime 1.21.0 | int8 | - | - | - | - | not measured: NotImplementedError: x |", out)
        self.assertIn("Debian GNU/Linux 13 (trixie)", out)

    def test_streams_latency_misses(self):
        write(self.d, "streams.jsonl", [
            {"streams": s, "work": "encode", "unbatched_clips_s": 1.0, "batched_clips_s": 4.0, "speedup": 4.0,
             "unbatched_p50_ms": 100.0, "unbatched_p95_ms": 110.0, "batched_p50_ms": 300.0,
             "batched_p95_ms": 400.0, "clips_per_batch": 3.0} for s in (1, 16)])
        out = report(self.d)
        # 4x, but p95 400 ms > 110 + 100 ms
        self.assertTrue(target_line(out, "16 streams batched").endswith("| **MISS** |"))

    def test_portable_vs_native(self):
        out = report(self.d)
        self.assertTrue(target_line(out, "portable build at UPM_CPU=avx2").endswith("| n/a |"))
        # medians: native 2.0 s, portable 2.05 s (0.976x: PASS); then 2.2 s (0.909x: MISS)
        for portable, verdict in ((2.05, "| PASS |"), (2.2, "| **MISS** |")):
            write(self.d, "portable.jsonl", [
                {"build": b, "ref": "a6280b16a9b7", "kind": "model", "encode_clip_s": t, "encode_image_s": t / 8,
                 "decode_image_s": t / 4}
                for n, p in ((1.9, portable - 0.1), (2.0, portable), (2.5, portable + 0.3))
                for b, t in (("native", n), ("portable", p))])
            out = report(self.d)
            line = target_line(out, "portable build at UPM_CPU=avx2")
            self.assertIn("%.3f×" % (2.0 / portable), line)
            self.assertTrue(line.endswith(verdict), line)
            self.assertIn("| encode 8-frame clip | 2.00 s (1.90 s) | %.2f s (%.2f s) |" % (portable, portable - 0.1),
                          out)

if __name__ == "__main__":
    unittest.main()
