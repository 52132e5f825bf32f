/*
 * Softmax over the last axis and softmax fused with sparse categorical
 * cross-entropy, AVX2 + FMA kernels (float). Same contract and the same
 * argument checks as src/act/softmax_xent_naive.c, which is the reference:
 * read it first. Each row is walked 8 classes per register, the last
 * K mod 8 classes by masked loads and stores (no read or write past the row).
 *
 * The results are not bitwise the naive kernel's: e^x comes from the
 * polynomial of exp_avx2.h (relative error below 1e-7, against the naive
 * kernel's exp() rounded to float), and the sums of a row are taken in 8
 * lanes and then across them. tests/test_act.c derives the crosscheck bounds
 * from these two differences. The maximum, x - m and the loss's m - x_t are
 * the naive kernel's exact operations.
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "softmax_xent_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <math.h>
#include "norm/avx2_util.h"
#include "exp_avx2.h"
#include "act_internal.h"

/* The largest lane of v. */
static inline float hmax(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* m = max_c x_c over a row of k (the naive row_max; a NaN makes the row NaN
 * later whatever the maximum is). Lanes past the row hold -inf. */
static float row_max(const float *x, size_t k)
{
    const size_t n_vec = k / NNR_F32_PER_YMM, n_tail = k % NNR_F32_PER_YMM;
    __m256 mv = _mm256_set1_ps(-INFINITY);
    for (size_t j = 0; j < n_vec; j++)
        mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + j * NNR_F32_PER_YMM));
    if (n_tail != 0) {
        const __m256i lanes = mask_first(n_tail);
        const __m256 t = _mm256_maskload_ps(x + n_vec * NNR_F32_PER_YMM, lanes);
        mv = _mm256_max_ps(mv, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), t, _mm256_castsi256_ps(lanes)));
    }
    return hmax(mv);
}

/* e_c = exp(x_c - m) (stored into e if not NULL) and s = sum_c e_c: 8 lane
 * sums, then added across the lanes in double and rounded once. */
static float row_exp_sum(const float *x, float m, size_t k, float *e)
{
    const size_t n_vec = k / NNR_F32_PER_YMM, n_tail = k % NNR_F32_PER_YMM;
    const __m256 mv = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    for (size_t j = 0; j < n_vec; j++) {
        const size_t c = j * NNR_F32_PER_YMM;
        const __m256 ev = exp_neg_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), mv));
        if (e != NULL)
            _mm256_storeu_ps(e + c, ev);
        acc = _mm256_add_ps(acc, ev);
    }
    if (n_tail != 0) {
        /* lanes past the row are masked out of the sum and the store */
        const size_t c = n_vec * NNR_F32_PER_YMM;
        const __m256i lanes = mask_first(n_tail);
        const __m256 ev = _mm256_and_ps(_mm256_castsi256_ps(lanes),
                                        exp_neg_ps(_mm256_sub_ps(_mm256_maskload_ps(x + c, lanes), mv)));
        if (e != NULL)
            _mm256_maskstore_ps(e + c, lanes, ev);
        acc = _mm256_add_ps(acc, ev);
    }
    return (float)hsum_to_double(acc);
}

nnr_status nnr_softmax_fwd_avx2(const nnr_shape *shape, const float *x, float *y)
{
    act_view v;
    const void *ptrs[] = {x, y};
    const char *const names[] = {"x", "y"};
    nnr_status st = nnr_act_check(shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t k = v.classes;
    const size_t n_vec = k / NNR_F32_PER_YMM, n_tail = k % NNR_F32_PER_YMM;
    for (size_t r = 0; r < v.rows; r++) {
        const float *xr = x + r * k;
        float *yr = y + r * k;
        /* steps 1-2: m, y_c = e_c = exp(x_c - m), s */
        const float m = row_max(xr, k);
        const __m256 s = _mm256_set1_ps(row_exp_sum(xr, m, k, yr));
        /* step 3: y_c = e_c / s */
        for (size_t j = 0; j < n_vec; j++) {
            float *yc = yr + j * NNR_F32_PER_YMM;
            _mm256_storeu_ps(yc, _mm256_div_ps(_mm256_loadu_ps(yc), s));
        }
        if (n_tail != 0) {
            const __m256i lanes = mask_first(n_tail);
            float *yc = yr + n_vec * NNR_F32_PER_YMM;
            _mm256_maskstore_ps(yc, lanes, _mm256_div_ps(_mm256_maskload_ps(yc, lanes), s));
        }
    }
    return nnr_ok();
}

nnr_status nnr_softmax_bwd_avx2(const nnr_shape *shape, const float *y, const float *dy, float *dx)
{
    act_view v;
    const void *ptrs[] = {y, dy, dx};
    const char *const names[] = {"y", "dy", "dx"};
    nnr_status st = nnr_act_check(shape, ptrs, names, 3, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t k = v.classes;
    const size_t n_vec = k / NNR_F32_PER_YMM, n_tail = k % NNR_F32_PER_YMM;
    const __m256i tail_lanes = mask_first(n_tail);
    for (size_t r = 0; r < v.rows; r++) {
        const float *yr = y + r * k, *dyr = dy + r * k;
        float *dxr = dx + r * k;
        /* step 1: dot = sum_c dy_c y_c (8 FMA lanes, masked tail, then across) */
        __m256 acc = _mm256_setzero_ps();
        for (size_t j = 0; j < n_vec; j++) {
            const size_t c = j * NNR_F32_PER_YMM;
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(dyr + c), _mm256_loadu_ps(yr + c), acc);
        }
        if (n_tail != 0) {
            const size_t c = n_vec * NNR_F32_PER_YMM;
            acc = _mm256_fmadd_ps(_mm256_maskload_ps(dyr + c, tail_lanes), _mm256_maskload_ps(yr + c, tail_lanes),
                                  acc);
        }
        const __m256 dot = _mm256_set1_ps((float)hsum_to_double(acc));
        /* step 2: dx_c = y_c (dy_c - dot) */
        for (size_t j = 0; j < n_vec; j++) {
            const size_t c = j * NNR_F32_PER_YMM;
            const __m256 g = _mm256_sub_ps(_mm256_loadu_ps(dyr + c), dot);
            _mm256_storeu_ps(dxr + c, _mm256_mul_ps(_mm256_loadu_ps(yr + c), g));
        }
        if (n_tail != 0) {
            const size_t c = n_vec * NNR_F32_PER_YMM;
            const __m256 g = _mm256_sub_ps(_mm256_maskload_ps(dyr + c, tail_lanes), dot);
            _mm256_maskstore_ps(dxr + c, tail_lanes, _mm256_mul_ps(_mm256_maskload_ps(yr + c, tail_lanes), g));
        }
    }
    return nnr_ok();
}

/* [c + l = t] as 1.0f or 0.0f in lane l: the one-hot row at classes c..c+7. */
static inline __m256 onehot_at(size_t c, int32_t t)
{
    const __m256i classes = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)c));
    const __m256 hit = _mm256_castsi256_ps(_mm256_cmpeq_epi32(classes, _mm256_set1_epi32(t)));
    return _mm256_and_ps(hit, _mm256_set1_ps(1.0f));
}

nnr_status nnr_softmax_xent_avx2(const nnr_shape *shape, const float *logits, const int32_t *labels, float *loss,
                                 float *dlogits)
{
    act_view v;
    nnr_status st = nnr_softmax_xent_check(shape, logits, labels, loss, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t n_batch = v.rows, k = v.classes;
    const size_t n_vec = k / NNR_F32_PER_YMM, n_tail = k % NNR_F32_PER_YMM;
    const __m256i tail_lanes = mask_first(n_tail);
    const __m256 batch = _mm256_set1_ps((float)n_batch);
    double total = 0;
    for (size_t n = 0; n < n_batch; n++) {
        const float *x = logits + n * k;
        float *d = dlogits != NULL ? dlogits + n * k : NULL;
        const int32_t t = labels[n];
        const float x_t = x[t];   /* before d (possibly x) is written */

        /* steps 1-2: m, e_c (into d), s */
        const float m = row_max(x, k);
        const float s = row_exp_sum(x, m, k, d);
        /* step 3: loss_n = (m - x_t) + log(s) */
        const float loss_n = (m - x_t) + (float)log(s);
        total += loss_n;
        if (d == NULL)
            continue;
        /* step 4: d_c = (e_c / s - [c = t]) / N */
        const __m256 sv = _mm256_set1_ps(s);
        for (size_t j = 0; j < n_vec; j++) {
            const size_t c = j * NNR_F32_PER_YMM;
            const __m256 p = _mm256_div_ps(_mm256_loadu_ps(d + c), sv);
            _mm256_storeu_ps(d + c, _mm256_div_ps(_mm256_sub_ps(p, onehot_at(c, t)), batch));
        }
        if (n_tail != 0) {
            const size_t c = n_vec * NNR_F32_PER_YMM;
            const __m256 p = _mm256_div_ps(_mm256_maskload_ps(d + c, tail_lanes), sv);
            _mm256_maskstore_ps(d + c, tail_lanes, _mm256_div_ps(_mm256_sub_ps(p, onehot_at(c, t)), batch));
        }
    }
    /* L = mean over the batch */
    *loss = (float)(total / (double)n_batch);
    return nnr_ok();
}

void nnr_expf_avx2(size_t n, const float *x, float *y)
{
    const size_t n_vec = n / NNR_F32_PER_YMM, n_tail = n % NNR_F32_PER_YMM;
    for (size_t j = 0; j < n_vec; j++) {
        const size_t i = j * NNR_F32_PER_YMM;
        _mm256_storeu_ps(y + i, exp_neg_ps(_mm256_loadu_ps(x + i)));
    }
    if (n_tail != 0) {
        const __m256i lanes = mask_first(n_tail);
        const size_t i = n_vec * NNR_F32_PER_YMM;
        _mm256_maskstore_ps(y + i, lanes, exp_neg_ps(_mm256_maskload_ps(x + i, lanes)));
    }
}
