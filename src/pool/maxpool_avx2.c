/*
 * Max pooling, AVX2 + FMA kernels (float). Same contract, same argument
 * checks and the same results, bit for bit, as src/pool/maxpool_naive.c,
 * which is the reference: read that file first.
 *
 * The naive rule, kept lane by lane: each window starts from its first
 * in-bounds tap and takes a later tap v when v > max or v is NaN (compare +
 * blend, max_take() in pool_avx2_util.h; _mm256_max_ps is a different rule),
 * so ties go to the first maximum in scan order (depth, height, width) and a
 * NaN anywhere makes the output the last NaN scanned. argmax is the flat
 * spatial index of the cell taken.
 *
 * Forward, by layout:
 *  - channels_last: 8 channels per vector, any window: each output cell
 *    reads its taps' rows of C contiguous channels (tail masked); the 2x2
 *    window at stride 2 one output row at a time.
 *  - channels_first: 8 consecutive outputs of one output row per vector,
 *    for the outputs whose width window lies inside the row (interior) and
 *    width stride 1 (8 contiguous loads per tap) or 2 (16 loads
 *    deinterleaved into even and odd taps, so a 2-wide window costs one
 *    pair of loads per row). Border outputs and strides >= 3 are done one
 *    window at a time (max_window).
 *
 * Backward: dx = 0, then dx[argmax[o]] += dy[o] in output order, for every
 * argmax in [-1, in_plane), whether or not it names a cell of o's own
 * window (the forward saves only those; PyTorch scatters to any index).
 *  - The fast paths find each argmax among its own window's cells, so they
 *    run only when every argmax is one (or -1 for a window without cells):
 *    one vectorized read of argmax tests that first (the 2x2 window: the
 *    offset from the window's first cell is 0, 1, W or W+1). An argmax that
 *    passes is inside the plane, so the test replaces the shared bounds
 *    check, which runs only when the test fails.
 *  - Disjoint windows (stride >= effective window on every axis): each dx
 *    cell receives at most one dy, so dx is written once, row by row in
 *    input order: 0 + dy where argmax names the cell, 0 elsewhere (adding 0
 *    keeps the naive kernel's +0 for a dy of -0). No separate zero pass.
 *  - Overlapping windows, channels_last: each sample is zeroed, then every
 *    output's taps add dy in output order, 8 channels per vector.
 *  - Otherwise (overlapping channels_first windows, which skip the test, or
 *    an argmax outside its window): the bounds check, then each (n, c)
 *    plane or sample zeroed and scattered as the naive kernel does, so
 *    every dx cell sums the same values in the same order.
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "maxpool_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <math.h>
#include "pool_internal.h"
#include "pool_avx2_util.h"

/* ---- One window at a time (borders, strides >= 3) ------------------------ */

/* Output (od, oh, ow) of the plane whose cell s sits at xp[s * step]: the
 * naive kernel's loop over the window, verbatim. */
static void max_window(const pool_view *v, const float *xp, size_t step, size_t od, size_t oh, size_t ow,
                       float *y_out, int32_t *arg_out)
{
    pool_window w;
    pool_window_of(v, od, oh, ow, &w);
    float m = -INFINITY;
    int32_t at = -1;
    for (size_t jd = w.j0[0]; jd < w.j1[0]; jd++)
        for (size_t jh = w.j0[1]; jh < w.j1[1]; jh++)
            for (size_t jw = w.j0[2]; jw < w.j1[2]; jw++) {
                const size_t cell = pool_window_cell(v, &w, jd, jh, jw);
                const float val = xp[cell * step];
                if (at < 0 || val > m || isnan(val)) {
                    m = val;
                    at = (int32_t)cell;
                }
            }
    *y_out = m;
    *arg_out = at;
}

/* ---- Forward, channels_first --------------------------------------------- */

/* Folds one tap (values val, cell indices idx) into the running max m and
 * its indices a; the first tap initializes them. */
NNR_INLINE void fold_tap(__m256 val, __m256i idx, __m256 *m, __m256i *a, int *first)
{
    if (*first) {
        *m = val;
        *a = idx;
        *first = 0;
        return;
    }
    const __m256 take = max_take(*m, val);
    *m = _mm256_blendv_ps(*m, val, take);
    *a = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(*a), _mm256_castsi256_ps(idx), take));
}

/*
 * Outputs ow0 .. ow0+n-1 (n <= 8, all interior along width) of output row
 * (od, oh) in plane xp: the naive window loop with the 8 windows side by
 * side. Rows are the in-bounds (depth, height) taps [d0,d1) x [h0,h1).
 */
static void max_block_cf(const pool_view *v, const float *xp, size_t od, size_t oh, size_t d0, size_t d1,
                         size_t h0, size_t h1, size_t ow0, size_t n, float *yo, int32_t *ao)
{
    const pool_axis *ad = &v->axis[0], *ah = &v->axis[1], *aw = &v->axis[2];
    const size_t W = aw->in, kw = aw->window, dw = aw->dilation;
    const int stride2 = aw->stride == 2;
    const size_t col0 = (size_t)pool_window_start(aw, ow0);   /* >= 0: interior */
    const __m256i lanes = stride2 ? pair_offsets() : _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask_n = mask_first(n);
    __m256 m = _mm256_setzero_ps();
    __m256i a = _mm256_setzero_si256();
    int first = 1;
    for (size_t jd = d0; jd < d1; jd++) {
        const size_t id = (size_t)(pool_window_start(ad, od) + (ptrdiff_t)(jd * ad->dilation));
        for (size_t jh = h0; jh < h1; jh++) {
            const size_t ih = (size_t)(pool_window_start(ah, oh) + (ptrdiff_t)(jh * ah->dilation));
            const size_t row = (id * ah->in + ih) * W;
            if (!stride2) {
                /* stride 1: tap jw of the 8 outputs is 8 contiguous cells */
                for (size_t jw = 0; jw < kw; jw++) {
                    const size_t col = col0 + jw * dw;
                    const __m256 val = n == NNR_F32_PER_YMM ? _mm256_loadu_ps(xp + row + col)
                                                            : _mm256_maskload_ps(xp + row + col, mask_n);
                    const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(row + col)), lanes);
                    fold_tap(val, idx, &m, &a, &first);
                }
                continue;
            }
            /* stride 2: tap jw of the 8 outputs is the even lanes of 16
             * cells from col; with dilation 1 the odd lanes are tap jw+1 */
            for (size_t jw = 0; jw < kw;) {
                const size_t col = col0 + jw * dw;
                const int both = dw == 1 && jw + 1 < kw;
                __m256 even, odd;
                load_pair(xp + row + col, 2 * n - (both ? 0 : 1), &even, &odd);
                const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(row + col)), lanes);
                fold_tap(even, idx, &m, &a, &first);
                if (both)
                    fold_tap(odd, _mm256_add_epi32(idx, _mm256_set1_epi32(1)), &m, &a, &first);
                jw += both ? 2 : 1;
            }
        }
    }
    if (stride2) {
        m = unshuffle_ps(m);
        a = unshuffle_epi32(a);
    }
    store_first(yo, m, n);
    if (ao != NULL)
        store_first_epi32(ao, a, n);
}

/* Flat index offsets of a 2x2 window's taps from its first: left and right
 * column of row r0, then of row r1 (i1 - i0 cells further). */
typedef struct max_taps_2x2 {
    __m256i right, below, below_right;
} max_taps_2x2;

/*
 * The common 2x2 window, stride 2 along width: 8 outputs (n of them stored,
 * 1..8) whose windows start at p0 (row r0, flat cell index first) and p1
 * (row r1). One pair of loads per row (2n floats read), deinterleaved into
 * the even (left) and odd (right) column of each window, folded in the
 * naive scan order r0 left, r0 right, r1 left, r1 right. The argmax is
 * first the offset of the tap taken (0 or one of `taps`), then the window's
 * first cell, first + 2k for output k, is added once.
 */
NNR_INLINE void max_block_2x2(const float *p0, const float *p1, int32_t first, const max_taps_2x2 *taps, size_t n,
                              float *yo, int32_t *ao)
{
    __m256 e0, o0, e1, o1;
    load_pair(p0, 2 * n, &e0, &o0);
    load_pair(p1, 2 * n, &e1, &o1);
    /* start from r0's left column (offset 0), then the naive rule for the other three */
    __m256 m = e0;
    __m256 take = max_take(m, o0);
    m = _mm256_blendv_ps(m, o0, take);
    __m256 off = _mm256_and_ps(take, _mm256_castsi256_ps(taps->right));
    take = max_take(m, e1);
    m = _mm256_blendv_ps(m, e1, take);
    off = _mm256_blendv_ps(off, _mm256_castsi256_ps(taps->below), take);
    take = max_take(m, o1);
    m = _mm256_blendv_ps(m, o1, take);
    off = _mm256_blendv_ps(off, _mm256_castsi256_ps(taps->below_right), take);
    store_first(yo, unshuffle_ps(m), n);
    if (ao != NULL) {
        const __m256i cells = _mm256_add_epi32(_mm256_set1_epi32(first), pair_offsets());
        store_first_epi32(ao, unshuffle_epi32(_mm256_add_epi32(_mm256_castps_si256(off), cells)), n);
    }
}

/*
 * One output row of 2x2 windows, stride 2 along width: outputs ow0 ..
 * ow_end-1, all interior, from input rows r0 (flat cell index i0) and r1
 * (index i1). Whole blocks of 8; a row of 8 or more outputs then ends with
 * the whole block that ends at ow_end, its first outputs computed and
 * stored a second time (the same values), instead of a masked block (masked
 * loads and stores, and the branches that choose them). A row shorter than
 * 8 is one masked block.
 */
static void max_row_2x2(const pool_axis *aw, const float *r0, const float *r1, int32_t i0, int32_t i1, size_t ow0,
                        size_t ow_end, float *yo, int32_t *ao)
{
    const max_taps_2x2 taps = {_mm256_set1_epi32(1), _mm256_set1_epi32(i1 - i0), _mm256_set1_epi32(i1 - i0 + 1)};
    const size_t count = ow_end - ow0, c0 = (size_t)pool_window_start(aw, ow0);   /* >= 0: interior */
    const size_t n_blocks = count / NNR_F32_PER_YMM, n_left = count % NNR_F32_PER_YMM;
    yo += ow0;
    if (ao != NULL)
        ao += ow0;
    if (n_blocks == 0) {
        max_block_2x2(r0 + c0, r1 + c0, i0 + (int32_t)c0, &taps, n_left, yo, ao);
        return;
    }
    /* output k of the row reads columns c0 + 2k and c0 + 2k + 1 */
    for (size_t b = 0; b < n_blocks; b++) {
        const size_t k = b * NNR_F32_PER_YMM, c = c0 + 2 * k;
        max_block_2x2(r0 + c, r1 + c, i0 + (int32_t)c, &taps, NNR_F32_PER_YMM, yo + k, ao != NULL ? ao + k : NULL);
    }
    if (n_left > 0) {
        const size_t k = count - NNR_F32_PER_YMM, c = c0 + 2 * k;   /* overlaps the last whole block */
        max_block_2x2(r0 + c, r1 + c, i0 + (int32_t)c, &taps, NNR_F32_PER_YMM, yo + k, ao != NULL ? ao + k : NULL);
    }
}

/* One (n, c) plane: x plane xp (in_plane floats) to y plane yp, argmax ap;
 * x_end ends the whole input (the prefetch's limit). */
static void max_fwd_plane(const pool_view *v, const float *xp, const float *x_end, float *yp, int32_t *ap)
{
    const pool_axis *ad = &v->axis[0], *ah = &v->axis[1], *aw = &v->axis[2];
    const size_t OW = aw->out;
    size_t lo, hi;
    pool_interior(aw, &lo, &hi);
    int32_t scratch;
    for (size_t od = 0; od < ad->out; od++)
        for (size_t oh = 0; oh < ah->out; oh++) {
            const size_t orow = (od * ah->out + oh) * OW;
            size_t d0, d1, h0, h1;
            pool_window_taps(ad, od, &d0, &d1);
            pool_window_taps(ah, oh, &h0, &h1);
            const int vec = aw->stride <= 2 && d0 < d1 && h0 < h1;
            const size_t v_lo = vec ? lo : OW, v_hi = vec ? hi : OW;
            if (vec) {
                /* the rows the next output rows will read: one output row's advance, ahead */
                const size_t id = (size_t)(pool_window_start(ad, od) + (ptrdiff_t)(d0 * ad->dilation));
                const size_t ih = (size_t)(pool_window_start(ah, oh) + (ptrdiff_t)(h0 * ah->dilation));
                pool_prefetch_ahead(xp + (id * ah->in + ih) * aw->in, ah->stride * aw->in * sizeof(float), x_end);
            }
            /* left border (and everything when not vectorized): one window at a time */
            for (size_t ow = 0; ow < v_lo; ow++)
                max_window(v, xp, 1, od, oh, ow, &yp[orow + ow], ap ? &ap[orow + ow] : &scratch);
            if (vec && d1 - d0 == 1 && h1 - h0 == 2 && aw->window == 2 && aw->stride == 2 && aw->dilation == 1) {
                /* 2x2 windows, stride 2 along width: the dedicated row kernel */
                const size_t id = (size_t)(pool_window_start(ad, od) + (ptrdiff_t)(d0 * ad->dilation));
                const size_t ih = (size_t)(pool_window_start(ah, oh) + (ptrdiff_t)(h0 * ah->dilation));
                const size_t i0 = (id * ah->in + ih) * aw->in, i1 = i0 + ah->dilation * aw->in;
                max_row_2x2(aw, xp + i0, xp + i1, (int32_t)i0, (int32_t)i1, v_lo, v_hi, yp + orow, ap ? ap + orow : NULL);
            } else
            /* interior: 8 outputs per vector, the last block masked */
            for (size_t ow0 = v_lo; ow0 < v_hi; ow0 += NNR_F32_PER_YMM) {
                const size_t n = v_hi - ow0 < NNR_F32_PER_YMM ? v_hi - ow0 : NNR_F32_PER_YMM;
                max_block_cf(v, xp, od, oh, d0, d1, h0, h1, ow0, n, &yp[orow + ow0], ap ? &ap[orow + ow0] : NULL);
            }
            /* right border */
            for (size_t ow = v_hi > v_lo ? v_hi : v_lo; ow < OW; ow++)
                max_window(v, xp, 1, od, oh, ow, &yp[orow + ow], ap ? &ap[orow + ow] : &scratch);
        }
}

/* ---- Forward, channels_last ---------------------------------------------- */

/* A window of four in-bounds taps (cells[0..4) in scan order) of sample xs:
 * 8 channels per vector, the first tap then the naive rule for the others. */
static void max_cell_cl_2x2(const float *xs, size_t C, const size_t cells[4], float *yo, int32_t *ao)
{
    const float *p0 = xs + cells[0] * C, *p1 = xs + cells[1] * C, *p2 = xs + cells[2] * C, *p3 = xs + cells[3] * C;
    const __m256i i0 = _mm256_set1_epi32((int32_t)cells[0]), i1 = _mm256_set1_epi32((int32_t)cells[1]);
    const __m256i i2 = _mm256_set1_epi32((int32_t)cells[2]), i3 = _mm256_set1_epi32((int32_t)cells[3]);
    for (size_t c0 = 0; c0 < C; c0 += NNR_F32_PER_YMM) {
        const size_t n = C - c0 < NNR_F32_PER_YMM ? C - c0 : NNR_F32_PER_YMM;
        __m256 v0, v1, v2, v3;
        if (n == NNR_F32_PER_YMM) {
            v0 = _mm256_loadu_ps(p0 + c0), v1 = _mm256_loadu_ps(p1 + c0);
            v2 = _mm256_loadu_ps(p2 + c0), v3 = _mm256_loadu_ps(p3 + c0);
        } else {
            const __m256i mask_n = mask_first(n);
            v0 = _mm256_maskload_ps(p0 + c0, mask_n), v1 = _mm256_maskload_ps(p1 + c0, mask_n);
            v2 = _mm256_maskload_ps(p2 + c0, mask_n), v3 = _mm256_maskload_ps(p3 + c0, mask_n);
        }
        __m256 m = v0;
        __m256i a = i0;
        __m256 take = max_take(m, v1);
        m = _mm256_blendv_ps(m, v1, take);
        a = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(i1), take));
        take = max_take(m, v2);
        m = _mm256_blendv_ps(m, v2, take);
        a = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(i2), take));
        take = max_take(m, v3);
        m = _mm256_blendv_ps(m, v3, take);
        a = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(i3), take));
        store_first(yo + c0, m, n);
        if (ao != NULL)
            store_first_epi32(ao + c0, a, n);
    }
}

/* Output cell (od, oh, ow) of sample xs (in_plane cells of C channels): 8
 * channels per vector, the window's taps in scan order. */
static void max_cell_cl(const pool_view *v, const float *xs, size_t od, size_t oh, size_t ow, float *yo,
                        int32_t *ao)
{
    const size_t C = v->c;
    pool_window w;
    pool_window_of(v, od, oh, ow, &w);
    if (pool_window_empty(&w)) {
        /* no input cell in the window: the naive kernel's -inf and -1 */
        for (size_t c = 0; c < C; c++) {
            yo[c] = -INFINITY;
            if (ao != NULL)
                ao[c] = -1;
        }
        return;
    }
    if (pool_window_count(&w, 0) == 1 && pool_window_count(&w, 1) == 2 && pool_window_count(&w, 2) == 2) {
        /* a 2x2 window (all four taps inside): the taps' cells up front, straight-line folds */
        const size_t d = w.j0[0], h = w.j0[1], x = w.j0[2];
        const size_t cells[4] = {pool_window_cell(v, &w, d, h, x), pool_window_cell(v, &w, d, h, x + 1),
                                 pool_window_cell(v, &w, d, h + 1, x), pool_window_cell(v, &w, d, h + 1, x + 1)};
        max_cell_cl_2x2(xs, C, cells, yo, ao);
        return;
    }
    for (size_t c0 = 0; c0 < C; c0 += NNR_F32_PER_YMM) {
        const size_t n = C - c0 < NNR_F32_PER_YMM ? C - c0 : NNR_F32_PER_YMM;
        const __m256i mask_n = mask_first(n);
        __m256 m = _mm256_setzero_ps();
        __m256i a = _mm256_setzero_si256();
        int first = 1;
        for (size_t jd = w.j0[0]; jd < w.j1[0]; jd++)
            for (size_t jh = w.j0[1]; jh < w.j1[1]; jh++)
                for (size_t jw = w.j0[2]; jw < w.j1[2]; jw++) {
                    const size_t cell = pool_window_cell(v, &w, jd, jh, jw);
                    const float *src = xs + cell * C + c0;
                    const __m256 val = n == NNR_F32_PER_YMM ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, mask_n);
                    fold_tap(val, _mm256_set1_epi32((int32_t)cell), &m, &a, &first);
                }
        store_first(yo + c0, m, n);
        if (ao != NULL)
            store_first_epi32(ao + c0, a, n);
    }
}

/*
 * Output row (od, oh) of sample xs, channels_last: OW cells of C channels
 * into yrow (and arow). The common 2x2 window at stride 2 (dilation 1), its
 * two rows inside, gets a row loop for the outputs inside along width: the
 * taps are two adjacent cells of each row, so the four cells follow from the
 * column without the per-cell window arithmetic of max_cell_cl() (about 65 %
 * -> 75 % of triad on 32x56x56x64). Borders and other windows: cell by cell.
 */
static void max_fwd_row_cl(const pool_view *v, const float *xs, size_t od, size_t oh, float *yrow, int32_t *arow)
{
    const pool_axis *ad = &v->axis[0], *ah = &v->axis[1], *aw = &v->axis[2];
    const size_t C = v->c, OW = aw->out;
    size_t d0, d1, h0, h1, lo, hi;
    pool_window_taps(ad, od, &d0, &d1);
    pool_window_taps(ah, oh, &h0, &h1);
    pool_interior(aw, &lo, &hi);
    if (!(d1 - d0 == 1 && h1 - h0 == 2 && aw->window == 2 && aw->stride == 2 && aw->dilation == 1 && lo < hi))
        lo = hi = OW;   /* no row loop: every cell on its own */
    for (size_t ow = 0; ow < lo; ow++)
        max_cell_cl(v, xs, od, oh, ow, yrow + ow * C, arow ? arow + ow * C : NULL);
    if (lo < hi) {
        const size_t id = (size_t)(pool_window_start(ad, od) + (ptrdiff_t)(d0 * ad->dilation));
        const size_t ih = (size_t)(pool_window_start(ah, oh) + (ptrdiff_t)(h0 * ah->dilation));
        const size_t row0 = (id * ah->in + ih) * aw->in, row1 = row0 + ah->dilation * aw->in;   /* cells */
        for (size_t ow = lo; ow < hi; ow++) {
            const size_t col = (size_t)pool_window_start(aw, ow);   /* >= 0: interior */
            const size_t cells[4] = {row0 + col, row0 + col + 1, row1 + col, row1 + col + 1};
            max_cell_cl_2x2(xs, C, cells, yrow + ow * C, arow ? arow + ow * C : NULL);
        }
    }
    for (size_t ow = hi; ow < OW; ow++)
        max_cell_cl(v, xs, od, oh, ow, yrow + ow * C, arow ? arow + ow * C : NULL);
}

nnr_status nnr_maxpool_fwd_avx2(const nnr_pool_params *p, const nnr_shape *in_shape, const float *x, float *y,
                                int32_t *argmax)
{
    pool_view v;
    nnr_status st = nnr_pool_check_max_fwd(p, in_shape, x, y, &v);
    if (st.code != NNR_OK)
        return st;
    if (v.layout == NNR_CHANNELS_FIRST) {
        for (size_t pl = 0; pl < v.n * v.c; pl++)
            max_fwd_plane(&v, x + pl * v.in_plane, x + v.in_count, y + pl * v.out_plane,
                          argmax ? argmax + pl * v.out_plane : NULL);
        return st;
    }
    const size_t row_len = v.axis[2].out * v.c;   /* values of one output row */
    for (size_t n = 0; n < v.n; n++) {
        const float *xs = x + n * v.in_plane * v.c;
        size_t at = n * v.out_plane * v.c;
        for (size_t od = 0; od < v.axis[0].out; od++)
            for (size_t oh = 0; oh < v.axis[1].out; oh++, at += row_len)
                max_fwd_row_cl(&v, xs, od, oh, y + at, argmax ? argmax + at : NULL);
    }
    return st;
}

/* ---- Backward: is every argmax a cell of its own window? ----------------- */

/*
 * The disjoint path and the channels_last overlapping path below look for
 * each argmax among the cells of its own output's window, which is where
 * the forward saves it. An index that names any other cell of the plane is
 * accepted too (the naive kernel, like PyTorch, scatters to it), so every
 * argmax is tested first: one of its window's cells, or -1 for a window
 * without any (what the forward saves there). An index that passes lies in
 * the plane, so the test stands in for the shared bounds check; only when
 * it fails does that check run, before the naive kernel's scatter.
 */

/* The in-bounds rows of the windows of output row (od, oh): n_d x n_h rows,
 * the first at flat cell index `first` (its column 0), the next ones step_h
 * (height) and step_d (depth) cells further. n_d or n_h 0: no cell at all. */
typedef struct max_rows {
    size_t first, n_d, n_h, step_d, step_h;
} max_rows;

NNR_INLINE max_rows max_rows_of(const pool_view *v, size_t od, size_t oh)
{
    const pool_axis *ad = &v->axis[0], *ah = &v->axis[1];
    const size_t W = v->axis[2].in;
    size_t d0, d1, h0, h1;
    pool_window_taps(ad, od, &d0, &d1);
    pool_window_taps(ah, oh, &h0, &h1);
    max_rows r = {0, d1 - d0, h1 - h0, ad->dilation * ah->in * W, ah->dilation * W};
    if (r.n_d > 0 && r.n_h > 0) {
        const size_t id = (size_t)(pool_window_start(ad, od) + (ptrdiff_t)(d0 * ad->dilation));
        const size_t ih = (size_t)(pool_window_start(ah, oh) + (ptrdiff_t)(h0 * ah->dilation));
        r.first = (id * ah->in + ih) * W;
    }
    return r;
}

/*
 * Lanes of a (8 argmax entries) that name a cell of their window: in each
 * row of r the columns col + t*dw, t < nt, where col (per lane) is the
 * window's first in-bounds column; -1 when the window has no cell. Per row,
 * d = a - (row + col) is the entry's offset from the row's first tap, in
 * int32 arithmetic that wraps as the entry does: a cell of the window iff
 * d = t*dw for some t < nt (with dw = 1: d <= nt - 1 unsigned). Every cell
 * tested against is inside the plane, so a passing entry is too.
 */
NNR_INLINE __m256i max_in_window(const max_rows *r, __m256i a, __m256i col, size_t nt, size_t dw)
{
    if (r->n_d == 0 || r->n_h == 0 || nt == 0)
        return _mm256_cmpeq_epi32(a, _mm256_set1_epi32(-1));
    const __m256i last = _mm256_set1_epi32((int32_t)(nt - 1));
    __m256i in = _mm256_setzero_si256();
    for (size_t jd = 0; jd < r->n_d; jd++)
        for (size_t jh = 0; jh < r->n_h; jh++) {
            const size_t row = r->first + jd * r->step_d + jh * r->step_h;
            const __m256i d = _mm256_sub_epi32(a, _mm256_add_epi32(_mm256_set1_epi32((int32_t)row), col));
            if (dw == 1) {
                in = _mm256_or_si256(in, _mm256_cmpeq_epi32(_mm256_min_epu32(d, last), d));
                continue;
            }
            for (size_t t = 0; t < nt; t++)
                in = _mm256_or_si256(in, _mm256_cmpeq_epi32(d, _mm256_set1_epi32((int32_t)(t * dw))));
        }
    return in;
}

/* The common case, straight-line: a 2x2 window (one depth row, two height
 * rows `below` cells apart, two adjacent columns) whose first cell is
 * `first`: d = a - first is 0 or 1 (top row) or below, below + 1. */
NNR_INLINE __m256i max_in_window_2x2(__m256i a, __m256i first, __m256i below)
{
    const __m256i d = _mm256_sub_epi32(a, first), one = _mm256_set1_epi32(1);
    const __m256i top = _mm256_or_si256(_mm256_cmpeq_epi32(d, _mm256_setzero_si256()), _mm256_cmpeq_epi32(d, one));
    const __m256i bottom = _mm256_or_si256(_mm256_cmpeq_epi32(d, below),
                                           _mm256_cmpeq_epi32(d, _mm256_add_epi32(below, one)));
    return _mm256_or_si256(top, bottom);
}

/* 1 if every lane of `ok` is set. */
NNR_INLINE int max_all_lanes(__m256i ok)
{
    return _mm256_movemask_ps(_mm256_castsi256_ps(ok)) == 0xFF;
}

/* Output ow of a row whose rows are r, alone (a window clipped along width):
 * is its entry a cell of its window? */
static int max_one_in_window(const pool_axis *aw, const max_rows *r, size_t ow, int32_t a)
{
    size_t j0, j1;
    pool_window_taps(aw, ow, &j0, &j1);
    const ptrdiff_t col = pool_window_start(aw, ow) + (ptrdiff_t)(j0 * aw->dilation);
    return max_all_lanes(max_in_window(r, _mm256_set1_epi32(a), _mm256_set1_epi32((int32_t)col), j1 - j0,
                                       aw->dilation));
}

/* 8 entries a, lane k's window with rows r and, along width, kw taps dw
 * apart from column col[k]: which are cells of their window? The 2x2
 * window (two_by_two: one depth row, two height rows `below` cells apart,
 * two adjacent columns) takes the straight-line test. */
NNR_INLINE __m256i max_block_in_window(const max_rows *r, int two_by_two, __m256i below, __m256i a, __m256i col,
                                       size_t kw, size_t dw)
{
    if (two_by_two)
        return max_in_window_2x2(a, _mm256_add_epi32(_mm256_set1_epi32((int32_t)r->first), col), below);
    return max_in_window(r, a, col, kw, dw);
}

/*
 * channels_first plane ap: is every entry a cell of its window? Per output
 * row, the outputs clipped along width one at a time, the interior ones 8
 * per vector (lane k: column start + k*stride), their verdicts ANDed over
 * the row. A row of 8 or more interior outputs ends with the whole block
 * that ends at the last (some tested twice) instead of a masked block.
 */
static int max_plane_in_windows(const pool_view *v, const int32_t *ap)
{
    const pool_axis *ah = &v->axis[1], *aw = &v->axis[2];
    const size_t OW = aw->out, kw = aw->window, dw = aw->dilation;
    size_t lo, hi;
    pool_interior(aw, &lo, &hi);
    const size_t count = hi - lo;
    const int masked = count < NNR_F32_PER_YMM;
    const __m256i all = _mm256_set1_epi32(-1), mask_n = mask_first(masked ? count : NNR_F32_PER_YMM);
    const __m256i past_n = _mm256_andnot_si256(mask_n, all);
    const __m256i lane_cols = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                                 _mm256_set1_epi32((int32_t)aw->stride));
    const __m256i block_cols = _mm256_set1_epi32((int32_t)(NNR_F32_PER_YMM * aw->stride));
    /* columns of the first interior block's windows, and of the last whole block's */
    const size_t ow_end = masked ? lo : hi - NNR_F32_PER_YMM;
    const __m256i cols_lo = _mm256_add_epi32(_mm256_set1_epi32((int32_t)pool_window_start(aw, lo)), lane_cols);
    const __m256i cols_end = _mm256_add_epi32(_mm256_set1_epi32((int32_t)pool_window_start(aw, ow_end)), lane_cols);
    for (size_t od = 0; od < v->axis[0].out; od++)
        for (size_t oh = 0; oh < ah->out; oh++) {
            const max_rows r = max_rows_of(v, od, oh);
            const int32_t *ar = ap + (od * ah->out + oh) * OW;
            /* left and right border */
            for (size_t ow = 0; ow < lo; ow++)
                if (!max_one_in_window(aw, &r, ow, ar[ow]))
                    return 0;
            for (size_t ow = hi; ow < OW; ow++)
                if (!max_one_in_window(aw, &r, ow, ar[ow]))
                    return 0;
            if (count == 0)
                continue;
            /* interior: 8 outputs per vector */
            const int two_by_two = r.n_d == 1 && r.n_h == 2 && kw == 2 && dw == 1;
            const __m256i below = _mm256_set1_epi32(two_by_two ? (int32_t)r.step_h : 0);
            __m256i ok;
            if (masked) {
                const __m256i a = _mm256_maskload_epi32((const int *)(ar + lo), mask_n);
                ok = _mm256_or_si256(max_block_in_window(&r, two_by_two, below, a, cols_lo, kw, dw), past_n);
            } else {
                ok = all;
                __m256i cols = cols_lo;
                size_t k = 0;
                for (; k + NNR_F32_PER_YMM <= count; k += NNR_F32_PER_YMM, cols = _mm256_add_epi32(cols, block_cols)) {
                    const __m256i a = _mm256_loadu_si256((const __m256i *)(ar + lo + k));
                    ok = _mm256_and_si256(ok, max_block_in_window(&r, two_by_two, below, a, cols, kw, dw));
                }
                if (k < count) {
                    const __m256i a = _mm256_loadu_si256((const __m256i *)(ar + ow_end));
                    ok = _mm256_and_si256(ok, max_block_in_window(&r, two_by_two, below, a, cols_end, kw, dw));
                }
            }
            if (!max_all_lanes(ok))
                return 0;
        }
    return 1;
}

/* channels_last sample as: is every entry a cell of its window? Cell by
 * cell, 8 channels per vector (one window for all C), the tail masked. */
static int max_sample_in_windows(const pool_view *v, const int32_t *as)
{
    const pool_axis *ah = &v->axis[1], *aw = &v->axis[2];
    const size_t C = v->c, dw = aw->dilation;
    const size_t n_vec = C / NNR_F32_PER_YMM, n_tail = C % NNR_F32_PER_YMM;
    const __m256i tail_mask = mask_first(n_tail), past_tail = _mm256_andnot_si256(tail_mask, _mm256_set1_epi32(-1));
    for (size_t od = 0; od < v->axis[0].out; od++)
        for (size_t oh = 0; oh < ah->out; oh++) {
            const max_rows r = max_rows_of(v, od, oh);
            const int two_rows = r.n_d == 1 && r.n_h == 2;
            const __m256i below = _mm256_set1_epi32(two_rows ? (int32_t)r.step_h : 0);
            const int32_t *arow = as + (od * ah->out + oh) * aw->out * C;
            __m256i ok = _mm256_set1_epi32(-1);
            for (size_t ow = 0; ow < aw->out; ow++) {
                /* the cell's window along width: nt taps from column col */
                size_t j0, j1;
                pool_window_taps(aw, ow, &j0, &j1);
                const size_t nt = j1 - j0;
                const __m256i col = _mm256_set1_epi32((int32_t)(pool_window_start(aw, ow) + (ptrdiff_t)(j0 * dw)));
                const int two_by_two = two_rows && nt == 2 && dw == 1;
                const int32_t *a = arow + ow * C;
                for (size_t i = 0; i < n_vec; i++) {
                    const __m256i av = _mm256_loadu_si256((const __m256i *)(a + i * NNR_F32_PER_YMM));
                    ok = _mm256_and_si256(ok, max_block_in_window(&r, two_by_two, below, av, col, nt, dw));
                }
                if (n_tail > 0) {
                    const __m256i av = _mm256_maskload_epi32((const int *)(a + n_vec * NNR_F32_PER_YMM), tail_mask);
                    const __m256i in = max_block_in_window(&r, two_by_two, below, av, col, nt, dw);
                    ok = _mm256_and_si256(ok, _mm256_or_si256(in, past_tail));   /* channels past C pass */
                }
            }
            if (!max_all_lanes(ok))
                return 0;
        }
    return 1;
}

/* Every argmax of the tensor a cell of its window (or -1 for a window
 * without cells)? Plane by plane, or sample by sample. */
static int max_argmax_in_windows(const pool_view *v, const int32_t *argmax)
{
    if (v->layout == NNR_CHANNELS_FIRST) {
        for (size_t pl = 0; pl < v->n * v->c; pl++)
            if (!max_plane_in_windows(v, argmax + pl * v->out_plane))
                return 0;
        return 1;
    }
    for (size_t n = 0; n < v->n; n++)
        if (!max_sample_in_windows(v, argmax + n * v->out_plane * v->c))
            return 0;
    return 1;
}

/* ---- Backward: the write paths ------------------------------------------- */

/*
 * Disjoint windows, channels_first: one dx row (W cells, flat index of its
 * first cell `row`) covered by output row dyr/ar. Column w is a tap of at
 * most one output ow; it gets 0 + dy[ow] if argmax[ow] names it, else 0.
 */
static void max_bwd_row_cf(const pool_axis *aw, size_t row, const float *dyr, const int32_t *ar, float *dxr)
{
    const size_t W = aw->in;
    size_t w = 0;
    if (aw->window == 2 && aw->stride == 2 && aw->dilation == 1 && aw->pad_before == 0) {
        /* 2-wide windows from column 0: outputs ow cover columns 2ow, 2ow+1;
         * 8 outputs give 16 columns, even and odd interleaved */
        const size_t full = W / 2 < aw->out ? W / 2 : aw->out;   /* windows with both columns inside */
        const __m256 zero = _mm256_setzero_ps();
        const __m256i even_cols = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14), one = _mm256_set1_epi32(1);
        for (size_t ow0 = 0; ow0 < full; ow0 += NNR_F32_PER_YMM) {
            const size_t n = full - ow0 < NNR_F32_PER_YMM ? full - ow0 : NNR_F32_PER_YMM;
            const __m256i mask_n = mask_first(n);
            const __m256i a = _mm256_maskload_epi32((const int *)(ar + ow0), mask_n);
            const __m256 g = _mm256_maskload_ps(dyr + ow0, mask_n);
            const __m256i ce = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(row + 2 * ow0)), even_cols);
            const __m256 ge = _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(a, ce)), g);
            const __m256 go = _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(a, _mm256_add_epi32(ce, one))), g);
            __m256 lo, hi;
            interleave(_mm256_add_ps(ge, zero), _mm256_add_ps(go, zero), &lo, &hi);
            store_pair(dxr + 2 * ow0, lo, hi, 2 * n);
        }
        w = 2 * full;
    }
    /* other windows, and the columns after the last full window */
    for (; w < W; w++) {
        size_t ow;
        dxr[w] = pool_cover(aw, w, &ow) && ar[ow] == (int32_t)(row + w) ? 0.0f + dyr[ow] : 0.0f;
    }
}

/* Disjoint windows, channels_last: one dx row of W cells x C channels. */
static void max_bwd_row_cl(const pool_axis *aw, size_t C, size_t row, const float *dyr, const int32_t *ar,
                           float *dxr)
{
    const __m256 zero = _mm256_setzero_ps();
    pool_cover_walk ww = pool_cover_begin(aw);
    for (size_t w = 0; w < aw->in; w++, pool_cover_next(&ww)) {
        size_t ow;
        float *dst = dxr + w * C;
        if (!pool_cover_now(&ww, &ow)) {
            pool_zero(dst, C);
            continue;
        }
        /* 0 + dy[o, c] for the channels whose argmax is this cell, 0 for the others */
        const __m256i cell = _mm256_set1_epi32((int32_t)(row + w));
        const float *g = dyr + ow * C;
        const int32_t *a = ar + ow * C;
        for (size_t c0 = 0; c0 < C; c0 += NNR_F32_PER_YMM) {
            const size_t n = C - c0 < NNR_F32_PER_YMM ? C - c0 : NNR_F32_PER_YMM;
            const __m256i mask_n = mask_first(n);
            const __m256i av = _mm256_maskload_epi32((const int *)(a + c0), mask_n);
            const __m256 gv = _mm256_maskload_ps(g + c0, mask_n);
            const __m256 hit = _mm256_castsi256_ps(_mm256_cmpeq_epi32(av, cell));
            store_first(dst + c0, _mm256_add_ps(_mm256_and_ps(hit, gv), zero), n);
        }
    }
}

/* Disjoint windows: sample/plane dx walked row by row in input order. `C`
 * is 1 for a channels_first plane, else the channel count. */
static void max_bwd_disjoint(const pool_view *v, size_t C, const float *dy, const int32_t *am, float *dx)
{
    const pool_axis *ad = &v->axis[0], *ah = &v->axis[1], *aw = &v->axis[2];
    const size_t W = aw->in;
    pool_cover_walk wd = pool_cover_begin(ad);
    for (size_t id = 0; id < ad->in; id++, pool_cover_next(&wd)) {
        size_t od = 0;
        const int cov_d = pool_cover_now(&wd, &od);
        pool_cover_walk wh = pool_cover_begin(ah);
        for (size_t ih = 0; ih < ah->in; ih++, pool_cover_next(&wh)) {
            const size_t row = (id * ah->in + ih) * W;
            size_t oh = 0;
            float *dxr = dx + row * C;
            if (!cov_d || !pool_cover_now(&wh, &oh)) {
                pool_zero(dxr, W * C);   /* a row no window reaches */
                continue;
            }
            const size_t orow = (od * ah->out + oh) * aw->out;
            if (C == 1 && v->layout == NNR_CHANNELS_FIRST)
                max_bwd_row_cf(aw, row, dy + orow, am + orow, dxr);
            else
                max_bwd_row_cl(aw, C, row, dy + orow * C, am + orow * C, dxr);
        }
    }
}

/* Overlapping windows, channels_last sample, every argmax in its window:
 * dx = 0, then for each output cell in order and each tap, dx[tap, c] +=
 * dy[o, c] where argmax[o, c] is the tap (the other lanes add +0, which
 * changes nothing). */
static void max_bwd_overlap_cl(const pool_view *v, const float *dys, const int32_t *as, float *dxs)
{
    const size_t C = v->c;
    pool_zero(dxs, v->in_plane * C);
    size_t o = 0;
    for (size_t od = 0; od < v->axis[0].out; od++)
        for (size_t oh = 0; oh < v->axis[1].out; oh++)
            for (size_t ow = 0; ow < v->axis[2].out; ow++, o++) {
                pool_window w;
                pool_window_of(v, od, oh, ow, &w);
                for (size_t jd = w.j0[0]; jd < w.j1[0]; jd++)
                    for (size_t jh = w.j0[1]; jh < w.j1[1]; jh++)
                        for (size_t jw = w.j0[2]; jw < w.j1[2]; jw++) {
                            const size_t cell = pool_window_cell(v, &w, jd, jh, jw);
                            const __m256i cv = _mm256_set1_epi32((int32_t)cell);
                            for (size_t c0 = 0; c0 < C; c0 += NNR_F32_PER_YMM) {
                                const size_t n = C - c0 < NNR_F32_PER_YMM ? C - c0 : NNR_F32_PER_YMM;
                                const __m256i mask_n = mask_first(n);
                                const __m256i av = _mm256_maskload_epi32((const int *)(as + o * C + c0), mask_n);
                                const __m256 gv = _mm256_maskload_ps(dys + o * C + c0, mask_n);
                                const __m256 hit = _mm256_castsi256_ps(_mm256_cmpeq_epi32(av, cv));
                                float *dst = dxs + cell * C + c0;
                                const __m256 acc = _mm256_maskload_ps(dst, mask_n);
                                store_first(dst, _mm256_add_ps(acc, _mm256_and_ps(hit, gv)), n);
                            }
                        }
            }
}

/*
 * The naive kernel's backward on one channels_first plane (C = 1) or
 * channels_last sample (C channels): dx = 0, then dx[argmax[o], c] +=
 * dy[o, c] in output order, which is also the order in which the naive
 * kernel adds into each dx cell. For overlapping channels_first windows,
 * and for any argmax outside its own window. Every argmax is in [-1,
 * in_plane) (checked); -1 routes nothing.
 */
NNR_INLINE void max_bwd_scatter(size_t in_plane, size_t out_plane, size_t C, const float *dy, const int32_t *am,
                                float *dx)
{
    pool_zero(dx, in_plane * C);
    for (size_t o = 0; o < out_plane; o++)
        for (size_t c = 0; c < C; c++) {
            const int32_t cell = am[o * C + c];
            if (cell >= 0)
                dx[(size_t)cell * C + c] += dy[o * C + c];
        }
}

nnr_status nnr_maxpool_bwd_avx2(const nnr_pool_params *p, const nnr_shape *in_shape, const float *dy,
                                const int32_t *argmax, float *dx)
{
    pool_view v;
    nnr_status st = nnr_pool_check_max_bwd_args(p, in_shape, dy, argmax, dx, &v);
    if (st.code != NNR_OK)
        return st;
    /* blocks of dx: (n, c) planes of one channel (channels_first) or samples of C channels */
    const int first = v.layout == NNR_CHANNELS_FIRST;
    const size_t C = first ? 1 : v.c, blocks = first ? v.n * v.c : v.n;
    const size_t in_block = v.in_plane * C, out_block = v.out_plane * C;
    const int disjoint = pool_disjoint(&v);

    /* disjoint windows (write once) and channels_last overlapping ones (tap
     * walk), when every argmax is a cell of its window: the test stands for
     * the bounds check */
    if ((disjoint || !first) && max_argmax_in_windows(&v, argmax)) {
        for (size_t b = 0; b < blocks; b++) {
            if (disjoint)
                max_bwd_disjoint(&v, C, dy + b * out_block, argmax + b * out_block, dx + b * in_block);
            else
                max_bwd_overlap_cl(&v, dy + b * out_block, argmax + b * out_block, dx + b * in_block);
        }
        return st;
    }

    /* otherwise as the naive kernel: every argmax inside the plane (or the
     * call is rejected, dx untouched), then dx = 0 and the scatter, one
     * block at a time (it stays in cache) */
    st = nnr_pool_check_argmax(&v, argmax);
    if (st.code != NNR_OK)
        return st;
    for (size_t b = 0; b < blocks; b++) {
        if (first)
            max_bwd_scatter(v.in_plane, v.out_plane, 1, dy + b * out_block, argmax + b * out_block, dx + b * in_block);
        else
            max_bwd_scatter(v.in_plane, v.out_plane, v.c, dy + b * out_block, argmax + b * out_block,
                            dx + b * in_block);
    }
    return st;
}
