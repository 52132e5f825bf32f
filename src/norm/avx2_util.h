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
/* Floats of a contiguous run reduced in float lanes before the partial sums go to double. */
#define NNR_FLUSH_FLOATS 1024

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

/* ------------------------------------------------------------------------- */
/* Reductions over one contiguous run (BatchNorm rows, GroupNorm segments)     */
/* ------------------------------------------------------------------------- */

/* Over a contiguous run of len floats: *s1 += sum(x - K), *s2 += sum((x - K)^2),
 * the shifted form of a mean and variance (K = 0 gives the plain sum in *s1). */
static inline void run_shifted_sums(const float *x, size_t len, float shift, double *s1, double *s2)
{
    const __m256 k = _mm256_set1_ps(shift);
    size_t done = 0;
    while (done < len) {
        const size_t chunk = len - done < NNR_FLUSH_FLOATS ? len - done : NNR_FLUSH_FLOATS;
        const float *row = x + done;
        const size_t n_quad = chunk / (4 * NNR_F32_PER_YMM);
        const size_t n_vec = (chunk % (4 * NNR_F32_PER_YMM)) / NNR_F32_PER_YMM;
        const size_t n_tail = chunk % NNR_F32_PER_YMM;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;   /* sum(x - K) */
        __m256 q0 = a0, q1 = a0, q2 = a0, q3 = a0;                     /* sum((x - K)^2) */
        size_t i = 0;

        /* 32 values per iteration in four independent accumulator pairs. */
        for (size_t v = 0; v < n_quad; v++, i += 4 * NNR_F32_PER_YMM) {
            __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(row + i), k);
            __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(row + i + 8), k);
            __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(row + i + 16), k);
            __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(row + i + 24), k);
            a0 = _mm256_add_ps(a0, d0); q0 = _mm256_fmadd_ps(d0, d0, q0);
            a1 = _mm256_add_ps(a1, d1); q1 = _mm256_fmadd_ps(d1, d1, q1);
            a2 = _mm256_add_ps(a2, d2); q2 = _mm256_fmadd_ps(d2, d2, q2);
            a3 = _mm256_add_ps(a3, d3); q3 = _mm256_fmadd_ps(d3, d3, q3);
        }
        /* Remaining whole vectors. */
        for (size_t v = 0; v < n_vec; v++, i += NNR_F32_PER_YMM) {
            __m256 d = _mm256_sub_ps(_mm256_loadu_ps(row + i), k);
            a0 = _mm256_add_ps(a0, d);
            q0 = _mm256_fmadd_ps(d, d, q0);
        }
        /* Tail: masked-off lanes load 0, so x - K is cleared with the mask. */
        if (n_tail) {
            const __m256i mask = mask_first(n_tail);
            __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(row + i, mask), k),
                                     _mm256_castsi256_ps(mask));
            a1 = _mm256_add_ps(a1, d);
            q1 = _mm256_fmadd_ps(d, d, q1);
        }
        /* Flush the chunk's float lanes into double. */
        *s1 += hsum_to_double(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        *s2 += hsum_to_double(_mm256_add_ps(_mm256_add_ps(q0, q1), _mm256_add_ps(q2, q3)));
        done += chunk;
    }
}


/* Over a contiguous run of len floats, the backward's sums:
 * *sdy += sum(dy), *sdyc += sum(dy * (x - mean)). */
static inline void run_dy_sums(const float *x, const float *dy, size_t len, float mean, double *sdy, double *sdyc)
{
    const __m256 mu = _mm256_set1_ps(mean);
    size_t done = 0;
    while (done < len) {
        const size_t chunk = len - done < NNR_FLUSH_FLOATS ? len - done : NNR_FLUSH_FLOATS;
        const float *xr = x + done, *gr = dy + done;
        const size_t n_pair = chunk / (2 * NNR_F32_PER_YMM);
        const size_t n_vec = (chunk % (2 * NNR_F32_PER_YMM)) / NNR_F32_PER_YMM;
        const size_t n_tail = chunk % NNR_F32_PER_YMM;
        __m256 g0 = _mm256_setzero_ps(), g1 = g0, p0 = g0, p1 = g0;
        size_t i = 0;

        /* 16 values per iteration in two accumulator pairs. */
        for (size_t v = 0; v < n_pair; v++, i += 2 * NNR_F32_PER_YMM) {
            __m256 dy0 = _mm256_loadu_ps(gr + i), dy1 = _mm256_loadu_ps(gr + i + 8);
            __m256 c0 = _mm256_sub_ps(_mm256_loadu_ps(xr + i), mu);
            __m256 c1 = _mm256_sub_ps(_mm256_loadu_ps(xr + i + 8), mu);
            g0 = _mm256_add_ps(g0, dy0); p0 = _mm256_fmadd_ps(dy0, c0, p0);
            g1 = _mm256_add_ps(g1, dy1); p1 = _mm256_fmadd_ps(dy1, c1, p1);
        }
        for (size_t v = 0; v < n_vec; v++, i += NNR_F32_PER_YMM) {
            __m256 d = _mm256_loadu_ps(gr + i);
            g0 = _mm256_add_ps(g0, d);
            p0 = _mm256_fmadd_ps(d, _mm256_sub_ps(_mm256_loadu_ps(xr + i), mu), p0);
        }
        /* Tail: masked-off dy lanes are 0, so they add nothing. */
        if (n_tail) {
            const __m256i mask = mask_first(n_tail);
            __m256 d = _mm256_maskload_ps(gr + i, mask);
            __m256 c = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + i, mask), mu),
                                     _mm256_castsi256_ps(mask));
            g1 = _mm256_add_ps(g1, d);
            p1 = _mm256_fmadd_ps(d, c, p1);
        }
        *sdy += hsum_to_double(_mm256_add_ps(g0, g1));
        *sdyc += hsum_to_double(_mm256_add_ps(p0, p1));
        done += chunk;
    }
}


#endif /* NNR_NORM_AVX2_UTIL_H */
