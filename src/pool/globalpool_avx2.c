/*
 * Global max and average pooling, AVX2 + FMA kernels (float). Same contract,
 * same argument checks and the same results as src/pool/globalpool_naive.c,
 * which is the reference: read that file first.
 *
 * channels_last: lanes are 8 channels and the cells are walked in order, so
 * every lane sees exactly the naive kernel's sequence of values: results are
 * equal bit for bit (max, and the average's double sum). Wide rows are done
 * in chunks of NNR_GLOBAL_CHUNK channels whose running values stay in a
 * stack array.
 *
 * channels_first: a plane is contiguous and reduced 8 cells per vector:
 *  - max: lanes keep the naive rule (compare + blend), giving the right
 *    value; which of several equal cells the naive kernel returns matters
 *    only when equal values differ in their bits, so a NaN max is looked up
 *    again as the last NaN of the plane and a zero max as the first zero
 *    (+0 or -0), both by a short scan.
 *  - average: four double accumulators, so the sum's order differs from the
 *    naive sequential sum; pool_crosscheck.c bounds the difference.
 * Backward max finds each plane's chosen cell (FIRST) or tie count (SPLIT,
 * NaN on the plane when no cell equals the max) with vector compares, then
 * writes dx once.
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "globalpool_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <math.h>
#include "pool_internal.h"
#include "pool_avx2_util.h"

/* channels_last: channels whose running max/sum/share sit in a stack array. */
#define NNR_GLOBAL_CHUNK 256

/* ---- Global max forward --------------------------------------------------- */

/* Max of the contiguous plane xp[0 .. plane), the naive result's bits. */
static float gmax_plane_cf(const float *xp, size_t plane)
{
    const size_t n_vec = plane / NNR_F32_PER_YMM, n_tail = plane % NNR_F32_PER_YMM;
    float best = xp[0];
    if (n_vec == 0) {
        /* under one vector: the naive loop */
        for (size_t s = 1; s < plane; s++)
            if (xp[s] > best || isnan(xp[s]))
                best = xp[s];
        return best;
    }
    /* lane j: the naive rule over cells j, j+8, ... (the tail as a last,
     * overlapping vector: repeating a cell does not change a max) */
    __m256 m = _mm256_loadu_ps(xp);
    for (size_t i = 1; i < n_vec; i++) {
        const __m256 val = _mm256_loadu_ps(xp + i * NNR_F32_PER_YMM);
        m = _mm256_blendv_ps(m, val, max_take(m, val));
    }
    if (n_tail) {
        const __m256 val = _mm256_loadu_ps(xp + plane - NNR_F32_PER_YMM);
        m = _mm256_blendv_ps(m, val, max_take(m, val));
    }
    float lanes[NNR_F32_PER_YMM];
    _mm256_storeu_ps(lanes, m);
    best = lanes[0];
    int any_nan = isnan(best);
    for (int j = 1; j < NNR_F32_PER_YMM; j++) {
        any_nan |= isnan(lanes[j]);
        if (lanes[j] > best)
            best = lanes[j];
    }
    if (any_nan) {
        /* the naive kernel keeps the last NaN scanned */
        for (size_t s = plane; s-- > 0;)
            if (isnan(xp[s]))
                return xp[s];
    }
    if (best == 0.0f) {
        /* +0 and -0 compare equal: the naive kernel keeps the first */
        for (size_t s = 0; s < plane; s++)
            if (xp[s] == 0.0f)
                return xp[s];
    }
    return best;
}

/* channels_last sample xs (plane cells of C channels) to y[0 .. C). */
static void gmax_sample_cl(const float *xs, size_t plane, size_t C, float *y)
{
    float m[NNR_GLOBAL_CHUNK];
    for (size_t c0 = 0; c0 < C; c0 += NNR_GLOBAL_CHUNK) {
        const size_t width = C - c0 < NNR_GLOBAL_CHUNK ? C - c0 : NNR_GLOBAL_CHUNK;
        const size_t n_vec = width / NNR_F32_PER_YMM, n_tail = width % NNR_F32_PER_YMM;
        const __m256i mask_tail = mask_first(n_tail);
        /* the first cell starts every lane (the naive best = x_plane[0]) */
        for (size_t k = 0; k < width; k++)
            m[k] = xs[c0 + k];
        /* then each cell in order, the naive rule per channel */
        for (size_t s = 1; s < plane; s++) {
            const float *row = xs + s * C + c0;
            for (size_t b = 0; b < n_vec; b++) {
                const __m256 cur = _mm256_loadu_ps(m + b * NNR_F32_PER_YMM), val = _mm256_loadu_ps(row + b * NNR_F32_PER_YMM);
                _mm256_storeu_ps(m + b * NNR_F32_PER_YMM, _mm256_blendv_ps(cur, val, max_take(cur, val)));
            }
            if (n_tail) {
                float *mt = m + n_vec * NNR_F32_PER_YMM;
                const __m256 cur = _mm256_maskload_ps(mt, mask_tail);
                const __m256 val = _mm256_maskload_ps(row + n_vec * NNR_F32_PER_YMM, mask_tail);
                _mm256_maskstore_ps(mt, mask_tail, _mm256_blendv_ps(cur, val, max_take(cur, val)));
            }
        }
        for (size_t k = 0; k < width; k++)
            y[c0 + k] = m[k];
    }
}

nnr_status nnr_global_maxpool_fwd_avx2(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x,
                                       float *y)
{
    const void *const ptrs[] = {x, y};
    const char *const names[] = {"x", "y"};
    global_pool_view v;
    nnr_status st = nnr_global_pool_check(p, in_shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;
    for (size_t n = 0; n < v.n; n++) {
        if (v.layout == NNR_CHANNELS_LAST) {
            gmax_sample_cl(x + n * v.plane * v.c, v.plane, v.c, y + n * v.c);
            continue;
        }
        for (size_t c = 0; c < v.c; c++)
            y[n * v.c + c] = gmax_plane_cf(x + (n * v.c + c) * v.plane, v.plane);
    }
    return st;
}

/* ---- Global max backward --------------------------------------------------- */

/* Lanes of x that are where max y came from: equal, or NaN when y is NaN. */
NNR_INLINE __m256 is_max_lane(__m256 x, __m256 y, int y_nan)
{
    return y_nan ? _mm256_cmp_ps(x, x, _CMP_UNORD_Q) : _mm256_cmp_ps(x, y, _CMP_EQ_OQ);
}

/* One channels_first plane: dx written once (zeros, then the max cells). */
static void gmax_bwd_plane_cf(const float *xp, size_t plane, float y, float dy, nnr_pool_ties ties, float *dxp)
{
    const size_t n_vec = plane / NNR_F32_PER_YMM, n_tail = plane % NNR_F32_PER_YMM;
    const __m256i mask_tail = mask_first(n_tail);
    const int y_nan = isnan(y);
    const __m256 yv = _mm256_set1_ps(y);
    if (ties == NNR_POOL_TIES_FIRST) {
        /* the cell the windowed forward would name: first equal cell, or the last NaN */
        size_t taken = plane;
        if (!y_nan) {
            for (size_t i = 0; i < n_vec && taken == plane; i++) {
                const int bits = _mm256_movemask_ps(is_max_lane(_mm256_loadu_ps(xp + i * NNR_F32_PER_YMM), yv, 0));
                if (bits)
                    taken = i * NNR_F32_PER_YMM + (size_t)__builtin_ctz((unsigned)bits);
            }
            for (size_t s = n_vec * NNR_F32_PER_YMM; s < plane && taken == plane; s++)
                if (xp[s] == y)
                    taken = s;
        } else {
            for (size_t s = plane; s-- > 0;)
                if (isnan(xp[s])) {
                    taken = s;
                    break;
                }
        }
        pool_zero(dxp, plane);
        if (taken < plane)
            dxp[taken] = dy;
        return;
    }
    /* split: count the t cells equal to the max (none when it is NaN), then
     * dy / t to each of them; t = 0 gives NaN on the whole plane (0/0, as the
     * naive kernel and the frameworks) */
    size_t count = 0;
    for (size_t i = 0; i < n_vec; i++)
        count += (size_t)__builtin_popcount(
            (unsigned)_mm256_movemask_ps(is_max_lane(_mm256_loadu_ps(xp + i * NNR_F32_PER_YMM), yv, 0)));
    if (n_tail)
        count += (size_t)__builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_and_ps(
            _mm256_castsi256_ps(mask_tail),
            is_max_lane(_mm256_maskload_ps(xp + n_vec * NNR_F32_PER_YMM, mask_tail), yv, 0))));
    if (count == 0) {
        for (size_t s = 0; s < plane; s++)
            dxp[s] = NAN;
        return;
    }
    const __m256 share = _mm256_set1_ps((float)((double)dy / (double)count));
    for (size_t i = 0; i < n_vec; i++) {
        const __m256 hit = is_max_lane(_mm256_loadu_ps(xp + i * NNR_F32_PER_YMM), yv, 0);
        _mm256_storeu_ps(dxp + i * NNR_F32_PER_YMM, _mm256_and_ps(hit, share));
    }
    if (n_tail) {
        const __m256 hit = is_max_lane(_mm256_maskload_ps(xp + n_vec * NNR_F32_PER_YMM, mask_tail), yv, 0);
        _mm256_maskstore_ps(dxp + n_vec * NNR_F32_PER_YMM, mask_tail, _mm256_and_ps(hit, share));
    }
}

/* One channels_last plane (cells C apart), the naive loops; for planes whose
 * cell indices do not fit the int32 lanes of gmax_bwd_block_cl. */
static void gmax_bwd_plane_strided(const float *xp, size_t plane, size_t C, float y, float dy, nnr_pool_ties ties,
                                   float *dxp)
{
    const int y_nan = isnan(y);
    size_t taken = plane, count = 0;
    for (size_t s = 0; s < plane; s++) {
        const int hit = xp[s * C] == y || (y_nan && isnan(xp[s * C]));
        count += (size_t)(xp[s * C] == y);   /* SPLIT's ties: NaN equals nothing */
        if (hit && (taken == plane || y_nan))
            taken = s;
    }
    for (size_t s = 0; s < plane; s++) {
        if (ties == NNR_POOL_TIES_FIRST)
            dxp[s * C] = s == taken ? dy : 0.0f;
        else if (count == 0)
            dxp[s * C] = NAN;
        else
            dxp[s * C] = xp[s * C] == y ? (float)((double)dy / (double)count) : 0.0f;
    }
}

/* channels_last, channels c0 .. c0+n-1 (n <= 8) of one sample: pass 1 finds
 * each lane's chosen cell (FIRST) or tie count (SPLIT), pass 2 writes dx. */
static void gmax_bwd_block_cl(const float *xs, size_t plane, size_t C, const float *y, const float *dy,
                              nnr_pool_ties ties, size_t n, float *dxs)
{
    const __m256i mask_n = mask_first(n);
    const __m256 yv = _mm256_maskload_ps(y, mask_n), dyv = _mm256_maskload_ps(dy, mask_n);
    const __m256 y_nan = _mm256_cmp_ps(yv, yv, _CMP_UNORD_Q);
    const __m256i none = _mm256_set1_epi32(-1);
    __m256i taken = none, count = _mm256_setzero_si256();
    for (size_t s = 0; s < plane; s++) {
        const __m256 val = _mm256_maskload_ps(xs + s * C, mask_n);
        const __m256 hit = _mm256_or_ps(_mm256_cmp_ps(val, yv, _CMP_EQ_OQ),
                                        _mm256_and_ps(y_nan, _mm256_cmp_ps(val, val, _CMP_UNORD_Q)));
        /* FIRST: the first hit, or every NaN hit so that the last stays */
        const __m256 take = _mm256_and_ps(hit, _mm256_or_ps(y_nan, _mm256_castsi256_ps(_mm256_cmpeq_epi32(taken, none))));
        taken = _mm256_castps_si256(
            _mm256_blendv_ps(_mm256_castsi256_ps(taken), _mm256_castsi256_ps(_mm256_set1_epi32((int32_t)s)), take));
        /* SPLIT's ties: cells equal to the max (a NaN max equals none) */
        count = _mm256_sub_epi32(count, _mm256_castps_si256(_mm256_cmp_ps(val, yv, _CMP_EQ_OQ)));
    }
    /* SPLIT lanes with no equal cell get NaN on the whole plane (0/0) */
    const __m256 no_tie = _mm256_castsi256_ps(_mm256_cmpeq_epi32(count, _mm256_setzero_si256()));
    /* SPLIT's share (float)((double)dy / t) per lane */
    const __m256d cnt_lo = _mm256_cvtepi32_pd(_mm256_castsi256_si128(count));
    const __m256d cnt_hi = _mm256_cvtepi32_pd(_mm256_extracti128_si256(count, 1));
    const __m256 share = _mm256_insertf128_ps(
        _mm256_castps128_ps256(_mm256_cvtpd_ps(_mm256_div_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(dyv)), cnt_lo))),
        _mm256_cvtpd_ps(_mm256_div_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(dyv, 1)), cnt_hi)), 1);
    for (size_t s = 0; s < plane; s++) {
        __m256 out;
        if (ties == NNR_POOL_TIES_FIRST) {
            out = _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(taken, _mm256_set1_epi32((int32_t)s))), dyv);
        } else {
            const __m256 val = _mm256_maskload_ps(xs + s * C, mask_n);
            const __m256 hit = _mm256_cmp_ps(val, yv, _CMP_EQ_OQ);
            out = _mm256_blendv_ps(_mm256_and_ps(hit, share), _mm256_set1_ps(NAN), no_tie);
        }
        _mm256_maskstore_ps(dxs + s * C, mask_n, out);
    }
}

nnr_status nnr_global_maxpool_bwd_avx2(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x,
                                       const float *y, const float *dy, float *dx)
{
    const void *const ptrs[] = {x, y, dy, dx};
    const char *const names[] = {"x", "y", "dy", "dx"};
    global_pool_view v;
    nnr_status st = nnr_global_pool_check(p, in_shape, ptrs, names, 4, &v);
    if (st.code != NNR_OK)
        return st;
    for (size_t n = 0; n < v.n; n++) {
        const float *yn = y + n * v.c, *dyn = dy + n * v.c;
        if (v.layout == NNR_CHANNELS_FIRST) {
            for (size_t c = 0; c < v.c; c++)
                gmax_bwd_plane_cf(x + (n * v.c + c) * v.plane, v.plane, yn[c], dyn[c], p->ties,
                                  dx + (n * v.c + c) * v.plane);
            continue;
        }
        const float *xs = x + n * v.plane * v.c;
        float *dxs = dx + n * v.plane * v.c;
        for (size_t c0 = 0; c0 < v.c; c0 += NNR_F32_PER_YMM) {
            const size_t w = v.c - c0 < NNR_F32_PER_YMM ? v.c - c0 : NNR_F32_PER_YMM;
            if (v.plane <= (size_t)INT32_MAX) {
                gmax_bwd_block_cl(xs + c0, v.plane, v.c, yn + c0, dyn + c0, p->ties, w, dxs + c0);
                continue;
            }
            for (size_t c = c0; c < c0 + w; c++)
                gmax_bwd_plane_strided(xs + c, v.plane, v.c, yn[c], dyn[c], p->ties, dxs + c);
        }
    }
    return st;
}

/* ---- Global average -------------------------------------------------------- */

/* Sum of the contiguous plane in double: four accumulators over 16 cells. */
static double gsum_plane_cf(const float *xp, size_t plane)
{
    const size_t step = 2 * NNR_F32_PER_YMM, n_vec = plane / step;
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
    for (size_t i = 0; i < n_vec; i++) {
        const __m256 u = _mm256_loadu_ps(xp + i * step), w = _mm256_loadu_ps(xp + i * step + NNR_F32_PER_YMM);
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(u)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(u, 1)));
        a2 = _mm256_add_pd(a2, _mm256_cvtps_pd(_mm256_castps256_ps128(w)));
        a3 = _mm256_add_pd(a3, _mm256_cvtps_pd(_mm256_extractf128_ps(w, 1)));
    }
    const __m256d s = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
    double lanes[4];
    _mm256_storeu_pd(lanes, s);
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (size_t i = n_vec * step; i < plane; i++)
        sum += xp[i];
    return sum;
}

/* channels_last sample: per-channel double sums, cells in order (the naive order). */
static void gavg_sample_cl(const float *xs, size_t plane, size_t C, float *y)
{
    double acc[NNR_GLOBAL_CHUNK];
    for (size_t c0 = 0; c0 < C; c0 += NNR_GLOBAL_CHUNK) {
        const size_t width = C - c0 < NNR_GLOBAL_CHUNK ? C - c0 : NNR_GLOBAL_CHUNK;
        const size_t n_vec = width / NNR_F32_PER_YMM;
        for (size_t k = 0; k < width; k++)
            acc[k] = 0.0;
        for (size_t s = 0; s < plane; s++) {
            const float *row = xs + s * C + c0;
            for (size_t b = 0; b < n_vec; b++)
                flush_lanes(acc + b * NNR_F32_PER_YMM, _mm256_loadu_ps(row + b * NNR_F32_PER_YMM));
            for (size_t k = n_vec * NNR_F32_PER_YMM; k < width; k++)
                acc[k] += row[k];
        }
        /* y = sum / plane */
        for (size_t k = 0; k < width; k++)
            y[c0 + k] = (float)(acc[k] / (double)plane);
    }
}

nnr_status nnr_global_avgpool_fwd_avx2(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x,
                                       float *y)
{
    const void *const ptrs[] = {x, y};
    const char *const names[] = {"x", "y"};
    global_pool_view v;
    nnr_status st = nnr_global_pool_check(p, in_shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;
    for (size_t n = 0; n < v.n; n++) {
        if (v.layout == NNR_CHANNELS_LAST) {
            gavg_sample_cl(x + n * v.plane * v.c, v.plane, v.c, y + n * v.c);
            continue;
        }
        for (size_t c = 0; c < v.c; c++)
            y[n * v.c + c] = (float)(gsum_plane_cf(x + (n * v.c + c) * v.plane, v.plane) / (double)v.plane);
    }
    return st;
}

nnr_status nnr_global_avgpool_bwd_avx2(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *dy,
                                       float *dx)
{
    const void *const ptrs[] = {dy, dx};
    const char *const names[] = {"dy", "dx"};
    global_pool_view v;
    nnr_status st = nnr_global_pool_check(p, in_shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;
    const size_t n_vec = v.plane / NNR_F32_PER_YMM, n_tail = v.plane % NNR_F32_PER_YMM;
    float share[NNR_GLOBAL_CHUNK];
    for (size_t n = 0; n < v.n; n++) {
        if (v.layout == NNR_CHANNELS_FIRST) {
            /* dx = dy / plane over each contiguous plane */
            for (size_t c = 0; c < v.c; c++) {
                const __m256 s = _mm256_set1_ps((float)((double)dy[n * v.c + c] / (double)v.plane));
                float *dxp = dx + (n * v.c + c) * v.plane;
                for (size_t i = 0; i < n_vec; i++)
                    _mm256_storeu_ps(dxp + i * NNR_F32_PER_YMM, s);
                if (n_tail)
                    _mm256_maskstore_ps(dxp + n_vec * NNR_F32_PER_YMM, mask_first(n_tail), s);
            }
            continue;
        }
        /* channels_last: each cell's row of C channels is the row of shares */
        for (size_t c0 = 0; c0 < v.c; c0 += NNR_GLOBAL_CHUNK) {
            const size_t width = v.c - c0 < NNR_GLOBAL_CHUNK ? v.c - c0 : NNR_GLOBAL_CHUNK;
            const size_t w_vec = width / NNR_F32_PER_YMM, w_tail = width % NNR_F32_PER_YMM;
            for (size_t k = 0; k < width; k++)
                share[k] = (float)((double)dy[n * v.c + c0 + k] / (double)v.plane);
            for (size_t s = 0; s < v.plane; s++) {
                float *row = dx + (n * v.plane + s) * v.c + c0;
                for (size_t b = 0; b < w_vec; b++)
                    _mm256_storeu_ps(row + b * NNR_F32_PER_YMM, _mm256_loadu_ps(share + b * NNR_F32_PER_YMM));
                if (w_tail)
                    _mm256_maskstore_ps(row + w_vec * NNR_F32_PER_YMM, mask_first(w_tail),
                                        _mm256_maskload_ps(share + w_vec * NNR_F32_PER_YMM, mask_first(w_tail)));
            }
        }
    }
    return st;
}
