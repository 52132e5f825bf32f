/*
 * The loop that measures this core's AVX2 FMA peak for `nnref bench`.
 *
 * An FMA has a latency of 4 to 5 cycles and two can start per cycle
 * (Intel Haswell to Ice Lake, AMD Zen 2 and later), so a core needs
 * latency x throughput = 8 to 10 independent chains in flight to keep both
 * FMA units busy; 12 accumulators cover both with a margin, and fit with the
 * two operands in 16 ymm registers. Each accumulator follows acc = acc * a + b, which for a just
 * below 1 converges to b / (1 - a): ordinary floats throughout, never
 * denormal or infinite.
 */
#include "config.h"
#ifndef __AVX2__
#error "bench_fma_avx2.c needs AVX2 (-mavx2)"
#endif
#ifndef __FMA__
#error "bench_fma_avx2.c needs FMA (-mfma)"
#endif
#include <immintrin.h>
#include "cli/bench.h"

float bench_fma_chains_avx2(uint64_t iters, float a, float b)
{
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);

    /* BENCH_FMA_CHAINS = 12 independent accumulators, one chain each. */
    __m256 acc0 = _mm256_set1_ps(0.0f), acc1 = _mm256_set1_ps(0.1f), acc2 = _mm256_set1_ps(0.2f);
    __m256 acc3 = _mm256_set1_ps(0.3f), acc4 = _mm256_set1_ps(0.4f), acc5 = _mm256_set1_ps(0.5f);
    __m256 acc6 = _mm256_set1_ps(0.6f), acc7 = _mm256_set1_ps(0.7f), acc8 = _mm256_set1_ps(0.8f);
    __m256 acc9 = _mm256_set1_ps(0.9f), acc10 = _mm256_set1_ps(1.0f), acc11 = _mm256_set1_ps(1.1f);

    /* One round: every chain advances by one FMA (12 x 8 lanes x 2 flops). */
    for (uint64_t i = 0; i < iters; i++) {
        acc0 = _mm256_fmadd_ps(acc0, va, vb);
        acc1 = _mm256_fmadd_ps(acc1, va, vb);
        acc2 = _mm256_fmadd_ps(acc2, va, vb);
        acc3 = _mm256_fmadd_ps(acc3, va, vb);
        acc4 = _mm256_fmadd_ps(acc4, va, vb);
        acc5 = _mm256_fmadd_ps(acc5, va, vb);
        acc6 = _mm256_fmadd_ps(acc6, va, vb);
        acc7 = _mm256_fmadd_ps(acc7, va, vb);
        acc8 = _mm256_fmadd_ps(acc8, va, vb);
        acc9 = _mm256_fmadd_ps(acc9, va, vb);
        acc10 = _mm256_fmadd_ps(acc10, va, vb);
        acc11 = _mm256_fmadd_ps(acc11, va, vb);
    }

    /* Fold the chains and the lanes into one float the caller keeps. */
    __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)),
                               _mm256_add_ps(_mm256_add_ps(acc4, acc5), _mm256_add_ps(acc6, acc7)));
    sum = _mm256_add_ps(sum, _mm256_add_ps(_mm256_add_ps(acc8, acc9), _mm256_add_ps(acc10, acc11)));
    __m128 half = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
    half = _mm_add_ps(half, _mm_movehl_ps(half, half));
    half = _mm_add_ss(half, _mm_movehdup_ps(half));
    return _mm_cvtss_f32(half);
}
