/*
 * Small AVX2 building blocks shared by the AVX2 kernels of the normalization
 * family (batchnorm, groupnorm, layernorm, rmsnorm): tail masks, horizontal
 * sums into double, flushes of float lanes into double, per-channel
 * coefficient loads and (streaming) stores. Static inline, included only by
 * files compiled with -mavx2 -mfma.
 */
#ifndef NNR_NORM_AVX2_UTIL_H
#define NNR_NORM_AVX2_UTIL_H

#if !defined(__AVX2__) || !defined(__FMA__)
#error "avx2_util.h is for files compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define NNR_F32_PER_YMM 8

#define NNR_INLINE static inline __attribute__((always_inline))

/* mask_first(n): the first n lanes set (n in 0..8). */
static const int32_t mask_table[2 * NNR_F32_PER_YMM] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                        0,  0,  0,  0,  0,  0,  0,  0};

NNR_INLINE __m256i mask_first(size_t n)
{
    return _mm256_loadu_si256((const __m256i *)&mask_table[NNR_F32_PER_YMM - n]);
}

/* Sum of the 8 lanes, added in double. */
NNR_INLINE double hsum_to_double(__m256 v)
{
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    __m256d s = _mm256_add_pd(lo, hi);
    __m128d t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    t = _mm_add_sd(t, _mm_unpackhi_pd(t, t));
    return _mm_cvtsd_f64(t);
}

/* acc[0..8) += the 8 lanes of v, in double (flush of per-channel float lanes). */
NNR_INLINE void flush_lanes(double *acc, __m256 v)
{
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    _mm256_storeu_pd(acc, _mm256_add_pd(_mm256_loadu_pd(acc), lo));
    _mm256_storeu_pd(acc + 4, _mm256_add_pd(_mm256_loadu_pd(acc + 4), hi));
}

/* A coefficient vector: per-channel (step 1, lanes k..k+8 of coef) or one
 * value broadcast to all lanes (step 0). Call sites pass a constant step. */
NNR_INLINE __m256 load_coef(const float *coef, size_t k, int step)
{
    return step ? _mm256_loadu_ps(coef + k) : _mm256_broadcast_ss(coef);
}

/* Lanes to peel so that dst + peel is 32-byte aligned (0 if not streaming). */
NNR_INLINE size_t stream_peel(const float *dst, size_t len, int stream)
{
    if (!stream)
        return 0;
    size_t peel = ((32 - ((uintptr_t)dst & 31)) & 31) / sizeof(float);
    return peel < len ? peel : len;
}

NNR_INLINE void store_out(float *dst, __m256 v, int stream)
{
    if (stream)
        _mm256_stream_ps(dst, v);
    else
        _mm256_storeu_ps(dst, v);
}

#endif /* NNR_NORM_AVX2_UTIL_H */
