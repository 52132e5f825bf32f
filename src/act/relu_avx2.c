/*
 * ReLU, AVX2 + FMA kernels (float). Same contract, same checks and the same
 * results, bit for bit, as src/act/relu_naive.c (the reference: read it
 * first). 8 floats per register, a scalar tail.
 *  - forward: _mm256_max_ps(0, x) returns its second operand unless 0 > x,
 *    which is the naive (x < 0) ? 0 : x exactly, NaN and -0 included;
 *  - backward: dx = dy where y > 0 (an ordered compare: false for NaN), 0
 *    elsewhere, by masking dy with the compare.
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "relu_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include "act_internal.h"

#define F32_PER_YMM 8

nnr_status nnr_relu_fwd_avx2(const nnr_shape *shape, const float *x, float *y)
{
    act_view v;
    const void *ptrs[] = {x, y};
    const char *const names[] = {"x", "y"};
    nnr_status st = nnr_act_check(shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t n_vec = v.count / F32_PER_YMM;
    const __m256 zero = _mm256_setzero_ps();
    /* y = (x < 0) ? 0 : x, 8 at a time */
    for (size_t k = 0; k < n_vec; k++) {
        const size_t i = k * F32_PER_YMM;
        _mm256_storeu_ps(y + i, _mm256_max_ps(zero, _mm256_loadu_ps(x + i)));
    }
    /* tail */
    for (size_t i = n_vec * F32_PER_YMM; i < v.count; i++)
        y[i] = x[i] < 0 ? 0.0f : x[i];
    return nnr_ok();
}

nnr_status nnr_relu_bwd_avx2(const nnr_shape *shape, const float *y, const float *dy, float *dx)
{
    act_view v;
    const void *ptrs[] = {y, dy, dx};
    const char *const names[] = {"y", "dy", "dx"};
    nnr_status st = nnr_act_check(shape, ptrs, names, 3, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t n_vec = v.count / F32_PER_YMM;
    const __m256 zero = _mm256_setzero_ps();
    /* dx = (y > 0) ? dy : 0, 8 at a time */
    for (size_t k = 0; k < n_vec; k++) {
        const size_t i = k * F32_PER_YMM;
        const __m256 positive = _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ);
        _mm256_storeu_ps(dx + i, _mm256_and_ps(positive, _mm256_loadu_ps(dy + i)));
    }
    /* tail */
    for (size_t i = n_vec * F32_PER_YMM; i < v.count; i++)
        dx[i] = y[i] > 0 ? dy[i] : 0.0f;
    return nnr_ok();
}
