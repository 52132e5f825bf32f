/*
 * Helpers shared by the LayerNorm and RMSNorm AVX2 kernels
 * (src/norm/layernorm_avx2.c, src/norm/rmsnorm_avx2.c): masked tails,
 * horizontal sums into double, and the double accumulation of per-element
 * parameter gradients. Only for files compiled with $(AVX2_CFLAGS).
 */
#ifndef NNR_LAYERNORM_AVX2_H
#define NNR_LAYERNORM_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#define NNR_F32_PER_YMM 8
/* Floats of one row reduced in float lanes before the partial sums go to double. */
#define NNR_FLUSH_FLOATS 1024
/* Outputs at least this large are written with non-temporal stores: they do
 * not fit in L2 and are not read back by the kernel. */
#define NNR_STREAM_MIN_BYTES ((size_t)4 << 20)
/* Columns of dgamma/dbeta (dscale) accumulated in double on the stack at a time. */
#define NNR_PANEL_COLS 1024

/* 8 lanes of -1 then 8 of 0: a window of it at 8 - n enables the first n lanes. */
static const int32_t nnr_ln_mask_table[2 * NNR_F32_PER_YMM] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                                0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i ln_tail_mask(size_t n)
{
    return _mm256_loadu_si256((const __m256i *)(nnr_ln_mask_table + NNR_F32_PER_YMM - n));
}

/* Sum of the 8 float lanes, each widened to double first. */
static inline double ln_hsum_pd(__m256 v)
{
    __m256d s = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                              _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

/* acc[0..8) += v, widened to double. */
static inline void ln_acc_pd(double *acc, __m256 v)
{
    _mm256_storeu_pd(acc, _mm256_add_pd(_mm256_loadu_pd(acc), _mm256_cvtps_pd(_mm256_castps256_ps128(v))));
    _mm256_storeu_pd(acc + 4, _mm256_add_pd(_mm256_loadu_pd(acc + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
}

#endif /* NNR_LAYERNORM_AVX2_H */
