/*
 * e^x in AVX2 + FMA for x <= 0, 8 floats per register: the exponential of the
 * AVX2 softmax kernels (their arguments are x - max <= 0). Static inline,
 * included only by files compiled with -mavx2 -mfma.
 *
 * Range reduction: x = n ln2 + r with n = round(x log2(e)) and |r| <= ln2/2,
 * r computed in two FMA steps with ln2 split into a part exact in float
 * (ln2_hi, 16 significant bits, so n ln2_hi is exact for |n| <= 2^8) and the
 * rest (ln2_lo) (Cody and Waite). Then e^x = 2^n e^r, with e^r from Cephes'
 * expf polynomial, 1 + r + r^2 P(r), P of degree 5 (S. Moshier, Cephes
 * Mathematical Library, expf.c), and 2^n put into the exponent bits.
 *
 * Domain: x in [ln(FLT_MIN), 0] (n in [-126, 0], so 2^n is a normal float);
 * x < ln(FLT_MIN) (about -87.34), -inf included, gives 0: the exact value is
 * below FLT_MIN there, so the absolute error is below FLT_MIN. NaN gives NaN
 * (the final blend tests x < lo, which is false for NaN).
 *
 * Accuracy, measured against exp() in double over every one of the
 * 1,118,743,640 floats in [ln(FLT_MIN), 0]: max relative error 8.40e-8
 * (0.70 FLT_EPSILON, at x = -5.87788439), i.e. within about 1.4 units in the
 * last place of the rounded result. NNR_EXPF_AVX2_MAX_REL_ERR (activation.h)
 * states 1e-7; tests/test_act.c holds nnr_expf_avx2() to it on a sample and
 * derives the softmax crosscheck bounds from it.
 */
#ifndef NNR_ACT_EXP_AVX2_H
#define NNR_ACT_EXP_AVX2_H

#if !defined(__AVX2__) || !defined(__FMA__)
#error "exp_avx2.h is for files compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>

#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693359375f            /* 355/512: exact, n*ln2_hi exact for |n| <= 2^8 */
#define EXP_LN2_LO (-2.12194440e-4f)       /* ln2 - ln2_hi */
#define EXP_ARG_MIN (-87.3365447505531f)   /* ln(FLT_MIN): below it the result is 0 */
/* Cephes expf: e^r = 1 + r + r^2 (P0 + P1 r + ... + P5 r^5), |r| <= ln2/2 */
#define EXP_P0 5.0000001201e-1f
#define EXP_P1 1.6666665459e-1f
#define EXP_P2 4.1665795894e-2f
#define EXP_P3 8.3334519073e-3f
#define EXP_P4 1.3981999507e-3f
#define EXP_P5 1.9875691500e-4f

static inline __attribute__((always_inline)) __m256 exp_neg_ps(__m256 x)
{
    /* n = round(x log2 e); r = x - n ln2 (two steps, Cody-Waite) */
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), r);

    /* e^r = 1 + r + r^2 P(r), P by Horner */
    __m256 p = _mm256_set1_ps(EXP_P5);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P0));
    const __m256 r2 = _mm256_mul_ps(r, r);
    const __m256 er = _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), _mm256_set1_ps(1.0f));

    /* 2^n as a float: exponent field n + 127 (n in [-126, 0] on the domain) */
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    const __m256 y = _mm256_mul_ps(er, _mm256_castsi256_ps(bits));

    /* below ln(FLT_MIN), -inf included: 0 (false for NaN, which stays NaN) */
    const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(EXP_ARG_MIN), _CMP_LT_OQ);
    return _mm256_andnot_ps(tiny, y);
}

#endif /* NNR_ACT_EXP_AVX2_H */
