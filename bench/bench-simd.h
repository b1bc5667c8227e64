/* bench-simd.h: the benchmark's vector loops, built with AVX2 and FMA in
 * a unit of their own (bench-simd.c); call them only where the CPU has
 * those (upm_cpu_info ()->host >= UPM_CPU_AVX2), and the 512-bit one
 * where it has AVX-512 with the OS saving ZMM (host >= UPM_CPU_AVX512).
 *
 * Copyright (C) 2026 gst-uniperceiver authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef UPM_BENCH_SIMD_H
#define UPM_BENCH_SIMD_H

#include <stddef.h>

/* 12 independent FMA chains of iters steps on 8 (16) lanes; returns a
 * value that depends on all of them, so that none is optimised away. */
float upm_bench_fma_chains_256 (long iters);
float upm_bench_fma_chains_512 (long iters);
/* 12 independent vdpbf16ps chains (32 products a step each); call where
 * the CPU has AVX512_BF16 (host >= UPM_CPU_AVX512BF16). */
float upm_bench_bf16_dot_chains_512 (long iters);
/* 12 independent vpdpbusd chains (64 / 32 u8 x s8 multiply-adds a step);
 * call where the CPU has AVX512_VNNI (and AVX-512 with ZMM state). */
float upm_bench_vnni_chains_512 (long iters);
float upm_bench_vnni_chains_256 (long iters);
/* int8 the AVX2 way (vpmaddubsw, vpmaddwd, vpaddd), 6 chains of 32
 * multiply-adds a step; where the CPU has AVX2. */
float upm_bench_int8_avx2_chains_256 (long iters);

/* The sum of a[0..n) (64-byte aligned) for the read-bandwidth loop, four
 * 256-bit accumulators; the part of n past a multiple of 32 is left to the
 * caller (*done says where it stopped). */
double upm_bench_sum_256 (const float *a, size_t n, size_t *done);

#endif /* UPM_BENCH_SIMD_H */
