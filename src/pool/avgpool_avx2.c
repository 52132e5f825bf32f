/*
 * Average pooling, AVX2 + FMA kernels (float). Same contract, same argument
 * checks and the same arithmetic as src/pool/avgpool_naive.c, which is the
 * reference: read that file first.
 *
 * The naive kernel sums each window in double in scan order (depth, height,
 * width) starting from 0.0 and rounds sum / D(o) to float once; the backward
 * adds (float)(dy / D(o)) to each in-bounds cell, outputs in order. These
 * kernels do the same additions in the same order in double lanes (each
 * float converted exactly), so their results equal the naive float kernel's
 * bit for bit. Division by D: when D is a power of two, 1/D is exact and
 * the product equals the quotient, so a multiply replaces the (slow)
 * vector division; otherwise they divide.
 *
 * Forward, by layout (as maxpool_avx2.c):
 *  - channels_last: 8 channels per vector (two double accumulators), any window;
 *    the 2x2 window at stride 2 one output row at a time.
 *  - channels_first: 8 outputs of one output row per vector, for the outputs
 *    whose width window lies inside the row, width stride 1 or 2 (stride 2:
 *    16 loads deinterleaved into even and odd taps); border outputs and
 *    strides >= 3 one window at a time. Inside the row every window counts
 *    k_w cells along width, so the 8 outputs share one divisor.
 *
 * Backward:
 *  - Disjoint windows (stride >= window on every axis): every dx cell is a
 *    tap of at most one window, so dx is written once, row by row in input
 *    order: 0 + (float)(dy/D) or 0. No separate zero pass.
 *  - Overlapping windows: each plane (channels_first) or sample
 *    (channels_last) is zeroed, then accumulated in output order.
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "avgpool_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <math.h>
#include <string.h>
#include "pool_internal.h"
#include "pool_avx2_util.h"

/* Lanes of one __m256d. */
#define NNR_F64_PER_YMM 4

/* 1 if D is a power of two (then s * (1/D) == s / D exactly): a positive
 * normal double with an all-zero mantissa. Read from the bits, as frexp()
 * per output block cost more than the block's arithmetic. */
static int is_pow2(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    const uint64_t exponent = bits >> 52, mantissa = bits & ((UINT64_C(1) << 52) - 1);
    return exponent > 0 && exponent < 0x7ff && mantissa == 0;   /* sign 0, not subnormal/inf/NaN */
}

/* s / D in double lanes: multiply by the exact reciprocal or divide. */
NNR_INLINE __m256d scale_pd(__m256d s, double d, int pow2)
{
    return pow2 ? _mm256_mul_pd(s, _mm256_set1_pd(1.0 / d)) : _mm256_div_pd(s, _mm256_set1_pd(d));
}

/* 8 floats widened into two double accumulators: lanes 0..3 and 4..7. */
NNR_INLINE void acc_add(__m256 v, __m256d *lo, __m256d *hi)
{
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

/* (float)(lo, hi) as one vector of 8. */
NNR_INLINE __m256 narrow(__m256d lo, __m256d hi)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1);
}

/* (float)(dy / D) for 8 floats, as the naive backward's share. */
NNR_INLINE __m256 share8(__m256 dy, double d, int pow2)
{
    return narrow(scale_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(dy)), d, pow2),
                  scale_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(dy, 1)), d, pow2));
}

/* ---- One window at a time (borders, strides >= 3) ------------------------ */

/* Output (od, oh, ow) of the plane whose cell s sits at xp[s * step]: the
 * naive kernel's sum and division, verbatim. */
static float avg_window(const pool_view *v, const float *xp, size_t step, size_t od, size_t oh, size_t ow)
{
    pool_window w;
    pool_window_of(v, od, oh, ow, &w);
    double sum = 0.0;
    for (size_t jd = w.j0[0]; jd < w.j1[0]; jd++)
        for (size_t jh = w.j0[1]; jh < w.j1[1]; jh++)
            for (size_t jw = w.j0[2]; jw < w.j1[2]; jw++)
                sum += xp[pool_window_cell(v, &w, jd, jh, jw) * step];
    return (float)(sum / pool_divisor(v, od, oh, ow));
}

/* ---- Forward, channels_first --------------------------------------------- */

/* Outputs ow0 .. ow0+n-1 (n <= 8, interior along width) of output row
 * (od, oh): the naive sums of 8 windows side by side in double lanes. */
static void avg_block_cf(const pool_view *v, const float *xp, size_t od, size_t oh, size_t d0, size_t d1,
                         size_t h0, size_t h1, size_t ow0, size_t n, float *yo)
{
    const pool_axis *ad = &v->axis[0], *ah = &v->axis[1], *aw = &v->axis[2];
    const size_t W = aw->in, kw = aw->window;
    const int stride2 = aw->stride == 2;
    const size_t col0 = (size_t)pool_window_start(aw, ow0);
    const __m256i mask_n = mask_first(n);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    for (size_t jd = d0; jd < d1; jd++) {
        const size_t id = (size_t)(pool_window_start(ad, od) + (ptrdiff_t)jd);
        for (size_t jh = h0; jh < h1; jh++) {
            const size_t ih = (size_t)(pool_window_start(ah, oh) + (ptrdiff_t)jh);
            const float *row = xp + (id * ah->in + ih) * W + col0;
            if (!stride2) {
                /* stride 1: tap jw of the 8 outputs is 8 contiguous cells */
                for (size_t jw = 0; jw < kw; jw++)
                    acc_add(n == NNR_F32_PER_YMM ? _mm256_loadu_ps(row + jw) : _mm256_maskload_ps(row + jw, mask_n),
                            &lo, &hi);
                continue;
            }
            /* stride 2: taps jw and jw+1 are the even and odd lanes of 16 cells */
            for (size_t jw = 0; jw < kw; jw += 2) {
                const int both = jw + 1 < kw;
                __m256 even, odd;
                load_pair(row + jw, 2 * n - (both ? 0 : 1), &even, &odd);
                acc_add(even, &lo, &hi);
                if (both)
                    acc_add(odd, &lo, &hi);
            }
        }
    }
    /* y = sum / D(o): one divisor for the row's interior outputs */
    const double d = pool_divisor(v, od, oh, ow0);
    const int pow2 = is_pow2(d);
    __m256 y = narrow(scale_pd(lo, d, pow2), scale_pd(hi, d, pow2));
    if (stride2)
        y = unshuffle_ps(y);
    store_first(yo, y, n);
}

/*
 * The common 2x2 window, stride 2 along width: 8 outputs (n of them stored,
 * 1..8) whose windows start at p0 (row r0) and p1 (row r1), all with
 * divisor d. One pair of loads per row (2n floats read), deinterleaved into
 * the windows' left and right columns and added in double in the naive
 * order (r0 left, r0 right, r1 left, r1 right).
 */
NNR_INLINE void avg_block_2x2(const float *p0, const float *p1, size_t n, double d, int pow2, float *yo)
{
    __m256 e0, o0, e1, o1;
    load_pair(p0, 2 * n, &e0, &o0);
    load_pair(p1, 2 * n, &e1, &o1);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    acc_add(e0, &lo, &hi);
    acc_add(o0, &lo, &hi);
    acc_add(e1, &lo, &hi);
    acc_add(o1, &lo, &hi);
    store_first(yo, unshuffle_ps(narrow(scale_pd(lo, d, pow2), scale_pd(hi, d, pow2))), n);
}

/*
 * One output row of 2x2 windows, stride 2 along width: outputs ow0 ..
 * ow_end-1, interior, all with divisor d, from input rows r0 and r1. Whole
 * blocks of 8; a row of 8 or more outputs then ends with the whole block
 * that ends at ow_end, its first outputs computed and stored a second time
 * (the same values), instead of a masked block (masked loads and stores,
 * and the branches that choose them). A row shorter than 8 is one masked
 * block.
 */
static void avg_row_2x2(const pool_axis *aw, const float *r0, const float *r1, size_t ow0, size_t ow_end, double d,
                        float *yo)
{
    const int pow2 = is_pow2(d);
    const size_t count = ow_end - ow0, c0 = (size_t)pool_window_start(aw, ow0);   /* >= 0: interior */
    const size_t n_blocks = count / NNR_F32_PER_YMM, n_left = count % NNR_F32_PER_YMM;
    yo += ow0;
    if (n_blocks == 0) {
        avg_block_2x2(r0 + c0, r1 + c0, n_left, d, pow2, yo);
        return;
    }
    /* output k of the row reads columns c0 + 2k and c0 + 2k + 1 */
    for (size_t b = 0; b < n_blocks; b++) {
        const size_t k = b * NNR_F32_PER_YMM, c = c0 + 2 * k;
        avg_block_2x2(r0 + c, r1 + c, NNR_F32_PER_YMM, d, pow2, yo + k);
    }
    if (n_left > 0) {
        const size_t k = count - NNR_F32_PER_YMM, c = c0 + 2 * k;   /* overlaps the last whole block */
        avg_block_2x2(r0 + c, r1 + c, NNR_F32_PER_YMM, d, pow2, yo + k);
    }
}

static void avg_fwd_plane(const pool_view *v, const float *xp, const float *x_end, float *yp)
{
    const pool_axis *ad = &v->axis[0], *ah = &v->axis[1], *aw = &v->axis[2];
    const size_t OW = aw->out;
    size_t lo, hi;
    pool_interior(aw, &lo, &hi);
    for (size_t od = 0; od < ad->out; od++)
        for (size_t oh = 0; oh < ah->out; oh++) {
            const size_t orow = (od * ah->out + oh) * OW;
            size_t d0, d1, h0, h1;
            pool_window_taps(ad, od, &d0, &d1);
            pool_window_taps(ah, oh, &h0, &h1);
            const int vec = aw->stride <= 2 && d0 < d1 && h0 < h1;
            const size_t v_lo = vec ? lo : OW, v_hi = vec ? hi : OW;
            /* left border (everything when not vectorized) */
            for (size_t ow = 0; ow < v_lo; ow++)
                yp[orow + ow] = avg_window(v, xp, 1, od, oh, ow);
            if (vec) {
                /* the rows the next output rows will read: one output row's advance, ahead */
                const size_t id = (size_t)(pool_window_start(ad, od) + (ptrdiff_t)d0);
                const size_t ih = (size_t)(pool_window_start(ah, oh) + (ptrdiff_t)h0);
                pool_prefetch_ahead(xp + (id * ah->in + ih) * aw->in, ah->stride * aw->in * sizeof(float), x_end);
            }
            if (vec && v_lo < v_hi && d1 - d0 == 1 && h1 - h0 == 2 && aw->window == 2 && aw->stride == 2) {
                /* 2x2 windows, stride 2 along width: the dedicated row kernel */
                const size_t id = (size_t)(pool_window_start(ad, od) + (ptrdiff_t)d0);
                const size_t ih = (size_t)(pool_window_start(ah, oh) + (ptrdiff_t)h0);
                const float *r0 = xp + (id * ah->in + ih) * aw->in;
                avg_row_2x2(aw, r0, r0 + aw->in, v_lo, v_hi, pool_divisor(v, od, oh, v_lo), yp + orow);
            } else
            /* interior: 8 outputs per vector, the last block masked */
            for (size_t ow0 = v_lo; ow0 < v_hi; ow0 += NNR_F32_PER_YMM) {
                const size_t n = v_hi - ow0 < NNR_F32_PER_YMM ? v_hi - ow0 : NNR_F32_PER_YMM;
                avg_block_cf(v, xp, od, oh, d0, d1, h0, h1, ow0, n, &yp[orow + ow0]);
            }
            /* right border */
            for (size_t ow = v_hi > v_lo ? v_hi : v_lo; ow < OW; ow++)
                yp[orow + ow] = avg_window(v, xp, 1, od, oh, ow);
        }
}

/* ---- Forward, channels_last ---------------------------------------------- */

/* The 2x2 window of four in-bounds taps p0, p1 (row r0) and p2, p3 (row r1),
 * C channels, 8 per vector in double lanes: the sum in the naive scan order,
 * then y = sum / D. */
NNR_INLINE void avg_cell_cl_2x2(const float *p0, const float *p1, const float *p2, const float *p3, size_t C,
                                double d, int pow2, float *yo)
{
    const size_t n_vec = C / NNR_F32_PER_YMM, n_tail = C % NNR_F32_PER_YMM;
    for (size_t c0 = 0; c0 < n_vec * NNR_F32_PER_YMM; c0 += NNR_F32_PER_YMM) {
        __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
        acc_add(_mm256_loadu_ps(p0 + c0), &lo, &hi);
        acc_add(_mm256_loadu_ps(p1 + c0), &lo, &hi);
        acc_add(_mm256_loadu_ps(p2 + c0), &lo, &hi);
        acc_add(_mm256_loadu_ps(p3 + c0), &lo, &hi);
        _mm256_storeu_ps(yo + c0, narrow(scale_pd(lo, d, pow2), scale_pd(hi, d, pow2)));
    }
    if (n_tail > 0) {
        const size_t c0 = n_vec * NNR_F32_PER_YMM;
        const __m256i mask_n = mask_first(n_tail);
        __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
        acc_add(_mm256_maskload_ps(p0 + c0, mask_n), &lo, &hi);
        acc_add(_mm256_maskload_ps(p1 + c0, mask_n), &lo, &hi);
        acc_add(_mm256_maskload_ps(p2 + c0, mask_n), &lo, &hi);
        acc_add(_mm256_maskload_ps(p3 + c0, mask_n), &lo, &hi);
        store_first(yo + c0, narrow(scale_pd(lo, d, pow2), scale_pd(hi, d, pow2)), n_tail);
    }
}

/* Output cell (od, oh, ow) of sample xs: 8 channels per vector, double lanes. */
static void avg_cell_cl(const pool_view *v, const float *xs, size_t od, size_t oh, size_t ow, float *yo)
{
    const size_t C = v->c;
    pool_window w;
    pool_window_of(v, od, oh, ow, &w);
    const double d = pool_divisor(v, od, oh, ow);
    const int pow2 = is_pow2(d);
    if (!pool_window_empty(&w) && pool_window_count(&w, 0) == 1 && pool_window_count(&w, 1) == 2 &&
        pool_window_count(&w, 2) == 2) {
        /* a 2x2 window (all four taps inside): four tap pointers, the sum in scan order */
        const float *p0 = xs + pool_window_cell(v, &w, w.j0[0], w.j0[1], w.j0[2]) * C;
        const float *p2 = p0 + v->axis[2].in * C;
        avg_cell_cl_2x2(p0, p0 + C, p2, p2 + C, C, d, pow2, yo);
        return;
    }
    for (size_t c0 = 0; c0 < C; c0 += NNR_F32_PER_YMM) {
        const size_t n = C - c0 < NNR_F32_PER_YMM ? C - c0 : NNR_F32_PER_YMM;
        const __m256i mask_n = mask_first(n);
        __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
        /* sum over the window's in-bounds cells, scan order */
        for (size_t jd = w.j0[0]; jd < w.j1[0]; jd++)
            for (size_t jh = w.j0[1]; jh < w.j1[1]; jh++)
                for (size_t jw = w.j0[2]; jw < w.j1[2]; jw++) {
                    const float *src = xs + pool_window_cell(v, &w, jd, jh, jw) * C + c0;
                    acc_add(n == NNR_F32_PER_YMM ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, mask_n), &lo, &hi);
                }
        /* y = sum / D(o) */
        store_first(yo + c0, narrow(scale_pd(lo, d, pow2), scale_pd(hi, d, pow2)), n);
    }
}

/*
 * Output row (od, oh) of sample xs, channels_last: OW cells of C channels
 * into yrow. The common 2x2 window at stride 2, its two rows inside, gets a
 * row loop for the outputs inside along width: their taps are two adjacent
 * cells of each row and they share one divisor, so the window and divisor
 * arithmetic is done once per row instead of once per cell (on 32x56x56x64
 * that took the kernel from about 60 % to about 72 % of triad; software
 * prefetch on top measured no better, so there is none). Borders and every
 * other window go cell by cell.
 */
static void avg_fwd_row_cl(const pool_view *v, const float *xs, size_t od, size_t oh, float *yrow)
{
    const pool_axis *ad = &v->axis[0], *ah = &v->axis[1], *aw = &v->axis[2];
    const size_t C = v->c, OW = aw->out;
    size_t d0, d1, h0, h1, lo, hi;
    pool_window_taps(ad, od, &d0, &d1);
    pool_window_taps(ah, oh, &h0, &h1);
    pool_interior(aw, &lo, &hi);
    if (!(d1 - d0 == 1 && h1 - h0 == 2 && aw->window == 2 && aw->stride == 2 && lo < hi))
        lo = hi = OW;   /* no row loop: every cell on its own */
    for (size_t ow = 0; ow < lo; ow++)
        avg_cell_cl(v, xs, od, oh, ow, yrow + ow * C);
    if (lo < hi) {
        const size_t id = (size_t)(pool_window_start(ad, od) + (ptrdiff_t)d0);
        const size_t ih = (size_t)(pool_window_start(ah, oh) + (ptrdiff_t)h0);
        const float *r0 = xs + (id * ah->in + ih) * aw->in * C, *r1 = r0 + aw->in * C;
        const double d = pool_divisor(v, od, oh, lo);
        const int pow2 = is_pow2(d);
        for (size_t ow = lo; ow < hi; ow++) {
            const size_t col = (size_t)pool_window_start(aw, ow);   /* >= 0: interior */
            const float *p0 = r0 + col * C, *p2 = r1 + col * C;
            avg_cell_cl_2x2(p0, p0 + C, p2, p2 + C, C, d, pow2, yrow + ow * C);
        }
    }
    for (size_t ow = hi; ow < OW; ow++)
        avg_cell_cl(v, xs, od, oh, ow, yrow + ow * C);
}

nnr_status nnr_avgpool_fwd_avx2(const nnr_pool_params *p, const nnr_shape *in_shape, const float *x, float *y)
{
    pool_view v;
    nnr_status st = nnr_pool_check_avg(p, in_shape, x, "x", y, "y", &v);
    if (st.code != NNR_OK)
        return st;
    if (v.layout == NNR_CHANNELS_FIRST) {
        for (size_t pl = 0; pl < v.n * v.c; pl++)
            avg_fwd_plane(&v, x + pl * v.in_plane, x + v.in_count, y + pl * v.out_plane);
        return st;
    }
    const size_t row_len = v.axis[2].out * v.c;   /* floats of one output row */
    for (size_t n = 0; n < v.n; n++) {
        float *yrow = y + n * v.out_plane * v.c;
        for (size_t od = 0; od < v.axis[0].out; od++)
            for (size_t oh = 0; oh < v.axis[1].out; oh++, yrow += row_len)
                avg_fwd_row_cl(&v, x + n * v.in_plane * v.c, od, oh, yrow);
    }
    return st;
}

/* ---- Backward, disjoint windows ------------------------------------------ */

/* channels_first dx row (W cells) of output row dyr (od, oh): each column
 * gets 0 + (float)(dy/D) of the window it is a tap of, or 0. */
static void avg_bwd_row_cf(const pool_view *v, size_t od, size_t oh, const float *dyr, float *dxr)
{
    const pool_axis *aw = &v->axis[2];
    const size_t W = aw->in;
    const __m256 zero = _mm256_setzero_ps();
    size_t w = 0;
    size_t lo, hi;
    pool_interior(aw, &lo, &hi);
    if (aw->window == 2 && aw->stride == 2 && aw->pad_before == 0 && hi > 0) {
        /* 2-wide windows from column 0, the interior's (0 .. hi) sharing one
         * divisor: 8 shares give 16 columns, each share twice */
        const double d = pool_divisor(v, od, oh, 0);
        const int pow2 = is_pow2(d);
        for (size_t ow0 = 0; ow0 < hi; ow0 += NNR_F32_PER_YMM) {
            const size_t n = hi - ow0 < NNR_F32_PER_YMM ? hi - ow0 : NNR_F32_PER_YMM;
            const __m256 s = _mm256_add_ps(share8(_mm256_maskload_ps(dyr + ow0, mask_first(n)), d, pow2), zero);
            __m256 a, b;
            interleave(s, s, &a, &b);
            store_pair(dxr + 2 * ow0, a, b, 2 * n);
        }
        w = 2 * hi;
    }
    /* other windows, and the columns after the interior */
    for (; w < W; w++) {
        size_t ow;
        dxr[w] = pool_cover(aw, w, &ow) ? 0.0f + (float)(dyr[ow] / pool_divisor(v, od, oh, ow)) : 0.0f;
    }
}

/* channels_last dx row of W cells x C channels. */
static void avg_bwd_row_cl(const pool_view *v, size_t od, size_t oh, const float *dyr, float *dxr)
{
    const pool_axis *aw = &v->axis[2];
    const size_t C = v->c;
    const __m256 zero = _mm256_setzero_ps();
    pool_cover_walk ww = pool_cover_begin(aw);
    for (size_t w = 0; w < aw->in; w++, pool_cover_next(&ww)) {
        size_t ow;
        float *dst = dxr + w * C;
        if (!pool_cover_now(&ww, &ow)) {
            pool_zero(dst, C);
            continue;
        }
        const double d = pool_divisor(v, od, oh, ow);
        const int pow2 = is_pow2(d);
        const float *g = dyr + ow * C;
        for (size_t c0 = 0; c0 < C; c0 += NNR_F32_PER_YMM) {
            const size_t n = C - c0 < NNR_F32_PER_YMM ? C - c0 : NNR_F32_PER_YMM;
            const __m256 gv = n == NNR_F32_PER_YMM ? _mm256_loadu_ps(g + c0) : _mm256_maskload_ps(g + c0, mask_first(n));
            store_first(dst + c0, _mm256_add_ps(share8(gv, d, pow2), zero), n);
        }
    }
}

/* Disjoint windows: plane (C = 1, channels_first) or sample dx, row by row. */
static void avg_bwd_disjoint(const pool_view *v, size_t C, const float *dy, float *dx)
{
    const pool_axis *ad = &v->axis[0], *ah = &v->axis[1], *aw = &v->axis[2];
    const size_t W = aw->in;
    pool_cover_walk wd = pool_cover_begin(ad);
    for (size_t id = 0; id < ad->in; id++, pool_cover_next(&wd)) {
        size_t od = 0;
        const int cov_d = pool_cover_now(&wd, &od);
        pool_cover_walk wh = pool_cover_begin(ah);
        for (size_t ih = 0; ih < ah->in; ih++, pool_cover_next(&wh)) {
            size_t oh = 0;
            float *dxr = dx + (id * ah->in + ih) * W * C;
            if (!cov_d || !pool_cover_now(&wh, &oh)) {
                pool_zero(dxr, W * C);   /* a row no window reaches */
                continue;
            }
            const size_t orow = (od * ah->out + oh) * aw->out;
            if (v->layout == NNR_CHANNELS_FIRST)
                avg_bwd_row_cf(v, od, oh, dy + orow, dxr);
            else
                avg_bwd_row_cl(v, od, oh, dy + orow * C, dxr);
        }
    }
}

/* ---- Backward, overlapping windows ---------------------------------------- */

/* channels_first plane: dx = 0, then the naive accumulation, in cache. */
static void avg_bwd_overlap_cf(const pool_view *v, const float *dyp, float *dxp)
{
    pool_zero(dxp, v->in_plane);
    size_t o = 0;
    for (size_t od = 0; od < v->axis[0].out; od++)
        for (size_t oh = 0; oh < v->axis[1].out; oh++)
            for (size_t ow = 0; ow < v->axis[2].out; ow++, o++) {
                pool_window w;
                pool_window_of(v, od, oh, ow, &w);
                const float share = (float)(dyp[o] / pool_divisor(v, od, oh, ow));
                for (size_t jd = w.j0[0]; jd < w.j1[0]; jd++)
                    for (size_t jh = w.j0[1]; jh < w.j1[1]; jh++)
                        for (size_t jw = w.j0[2]; jw < w.j1[2]; jw++)
                            dxp[pool_window_cell(v, &w, jd, jh, jw)] += share;
            }
}

/* channels_last sample: dx = 0, then each output cell's 8-channel shares
 * added to its taps, outputs in order. */
static void avg_bwd_overlap_cl(const pool_view *v, const float *dys, float *dxs)
{
    const size_t C = v->c;
    pool_zero(dxs, v->in_plane * C);
    size_t o = 0;
    for (size_t od = 0; od < v->axis[0].out; od++)
        for (size_t oh = 0; oh < v->axis[1].out; oh++)
            for (size_t ow = 0; ow < v->axis[2].out; ow++, o++) {
                pool_window w;
                pool_window_of(v, od, oh, ow, &w);
                const double d = pool_divisor(v, od, oh, ow);
                const int pow2 = is_pow2(d);
                for (size_t c0 = 0; c0 < C; c0 += NNR_F32_PER_YMM) {
                    const size_t n = C - c0 < NNR_F32_PER_YMM ? C - c0 : NNR_F32_PER_YMM;
                    const __m256i mask_n = mask_first(n);
                    const __m256 s = share8(_mm256_maskload_ps(dys + o * C + c0, mask_n), d, pow2);
                    for (size_t jd = w.j0[0]; jd < w.j1[0]; jd++)
                        for (size_t jh = w.j0[1]; jh < w.j1[1]; jh++)
                            for (size_t jw = w.j0[2]; jw < w.j1[2]; jw++) {
                                float *dst = dxs + pool_window_cell(v, &w, jd, jh, jw) * C + c0;
                                store_first(dst, _mm256_add_ps(_mm256_maskload_ps(dst, mask_n), s), n);
                            }
                }
            }
}

nnr_status nnr_avgpool_bwd_avx2(const nnr_pool_params *p, const nnr_shape *in_shape, const float *dy, float *dx)
{
    pool_view v;
    nnr_status st = nnr_pool_check_avg(p, in_shape, dy, "dy", dx, "dx", &v);
    if (st.code != NNR_OK)
        return st;
    const int disjoint = pool_disjoint(&v);
    if (v.layout == NNR_CHANNELS_FIRST) {
        for (size_t pl = 0; pl < v.n * v.c; pl++) {
            if (disjoint)
                avg_bwd_disjoint(&v, 1, dy + pl * v.out_plane, dx + pl * v.in_plane);
            else
                avg_bwd_overlap_cf(&v, dy + pl * v.out_plane, dx + pl * v.in_plane);
        }
        return st;
    }
    for (size_t n = 0; n < v.n; n++) {
        const float *dys = dy + n * v.out_plane * v.c;
        float *dxs = dx + n * v.in_plane * v.c;
        if (disjoint)
            avg_bwd_disjoint(&v, v.c, dys, dxs);
        else
            avg_bwd_overlap_cl(&v, dys, dxs);
    }
    return st;
}
