/*
 * GroupNorm, AVX2 + FMA kernels (float). Same contract, same argument checks
 * and the same arithmetic meaning as src/norm/groupnorm_naive.c, which is the
 * reference: read that file first.
 *
 * Shapes (as in the naive kernels): x, y, dy, dx are (N, pre, C, post);
 * gamma, beta, dgamma, dbeta (C); the cache (N, G). Group g of sample i is
 * `pre` segments of cg*post contiguous floats (cg = C/G).
 *
 * Work is done one sample at a time, so the sample's slab (a 64x56x56
 * activation is 802 KB) stays in L2 between the reductions and the
 * elementwise pass: DRAM sees about one read of x and one write of y.
 * Two loop orders:
 *  - segment path (post > 1, or groups wider than NNR_CHANNEL_BLOCK
 *    channels): one group at a time; reduce its segments, then normalize them
 *    while they are still in L1/L2. channels_first: one segment of cg*HW
 *    contiguous floats per group.
 *  - row path (post == 1, channels_last, groups of at most
 *    NNR_CHANNEL_BLOCK channels): each of the pre rows holds C contiguous
 *    channels, and a group is only cg of them (2 for GroupNorm(32) on 64
 *    channels). Per-channel statistics first, in one read of the rows
 *    (rows_channel_moments: tiles of 32 channels walk the rows, shifted
 *    sums merged by Chan's update), then merged into groups. With
 *    C <= NNR_CHANNEL_BLOCK the sample is one contiguous slab, and the
 *    elementwise passes walk it linearly (affine_slab, slab_dy_sums,
 *    streaming stores over the whole slab); the forward's slab pass also
 *    prefetches the next sample into L2, so that its statistics read
 *    overlaps these writes. Wider rows are done in blocks of whole groups.
 *
 * Precision, as in batchnorm_avx2.c: float lanes accumulate over at most
 * NNR_FLUSH_FLOATS values (segment path) or NNR_MAX_ROWS_PER_FLUSH rows (row
 * path) and are then flushed into double. The variance is the shifted form
 * around hi = (float)mean of the group (or, in rows_channel_moments, the
 * channel's mean so far): S1 = sum(x - hi), S2 = sum((x - hi)^2), var = S2/m - (S1/m)^2;
 * x - hi is exact for values within a factor 2 of the mean (Sterbenz), a
 * constant group gives S1 = S2 = 0 exactly, and the shift is never a single
 * possibly far-off value, so the cancellation stays small. The mean
 * is kept as hi + lo (lo = mean - hi in float), and x is centred as
 * (x - hi) - lo, as accurate as the naive kernel's double subtraction; a
 * constant group has lo = 0 and gives y == beta exactly.
 *
 * dgamma and dbeta are sums over the samples too: each sample's per-channel
 * sums are formed in double and added into the float outputs, so they round
 * N times (not once as in the naive kernel); norm_groupnorm_crosscheck.c
 * bounds that.
 *
 * Outputs of at least NNR_STREAM_MIN_BYTES are written with non-temporal
 * stores after peeling the destination to 32-byte alignment: the kernel does
 * not read them back, and streaming saves the read-for-ownership of every line.
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "groupnorm_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include "groupnorm_internal.h"
#include "avx2_util.h"

/* Row path: rows reduced in float lanes before flushing to double. */
#define NNR_MAX_ROWS_PER_FLUSH 256
/* Row path: rows averaged for the first shift of the per-channel sums. */
#define NNR_PILOT_ROWS 16
/* Row path: rows whose shifted sums are merged into the running moments at once. */
#define NNR_MERGE_ROWS 1024
/* Row path: channels per block of whole groups (stack scratch arrays). */
#define NNR_CHANNEL_BLOCK 256
/* Row path: channels per register tile of the reductions (4 ymm). */
#define NNR_TILE_CHANNELS 32
/* Row path: bytes of rows ahead that the first tile's walk prefetches. */
#define NNR_PREFETCH_BYTES (16 * 1024)
/* Scratch arrays are padded by one vector so a masked tail may read past the block. */
#define NNR_SCRATCH (NNR_CHANNEL_BLOCK + NNR_F32_PER_YMM)
/* Outputs at least this large are written with non-temporal stores (4x L2). */
#define NNR_STREAM_MIN_BYTES ((size_t)8 << 20)









static size_t segment_offset(const gn_view *v, size_t i, size_t p, size_t g)
{
    return ((i * v->pre + p) * v->c + g * v->cg) * v->post;
}

/* ========================================================================= */
/* Elementwise passes over one contiguous run of len floats                   */
/* ========================================================================= */

/* Step 4 of the naive forward: y = A * ((x - hi) - lo) + B, with A = gamma*istd
 * and B = beta per channel (step 1) or broadcast (step 0). */
NNR_INLINE void affine_run(const float *x, float *y, size_t len, __m256 hi, __m256 lo, const float *a,
                           const float *b, int step, int stream)
{
    const size_t peel = stream_peel(y, len, stream);
    const size_t n_vec = (len - peel) / NNR_F32_PER_YMM;
    const size_t n_tail = (len - peel) % NNR_F32_PER_YMM;
    size_t k = 0;

    if (peel) {
        const __m256i mask = mask_first(peel);
        __m256 c = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x, mask), hi), lo);
        _mm256_maskstore_ps(y, mask, _mm256_fmadd_ps(c, load_coef(a, 0, step), load_coef(b, 0, step)));
        k = peel;
    }
    for (size_t v = 0; v < n_vec; v++, k += NNR_F32_PER_YMM) {
        __m256 c = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + k), hi), lo);
        store_out(y + k, _mm256_fmadd_ps(c, load_coef(a, k, step), load_coef(b, k, step)), stream);
    }
    if (n_tail) {
        const __m256i mask = mask_first(n_tail);
        __m256 c = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + k, mask), hi), lo);
        _mm256_maskstore_ps(y + k, mask, _mm256_fmadd_ps(c, load_coef(a, k, step), load_coef(b, k, step)));
    }
}

/* Backward: dx = istd*(gamma*dy - mean(dx_hat) - x_hat*mean(dx_hat*x_hat)) as
 * dx = A*dy + (Bc*((x - hi) - lo) + Cc), A = istd*gamma (term 1),
 * Cc = -istd*mean(dx_hat) (term 2), Bc = -istd^2*mean(dx_hat*x_hat) (term 3). */
NNR_INLINE void dx_run(const float *x, const float *dy, float *dx, size_t len, __m256 hi, __m256 lo,
                       const float *a, __m256 bc, __m256 cc, int step, int stream)
{
    const size_t peel = stream_peel(dx, len, stream);
    const size_t n_vec = (len - peel) / NNR_F32_PER_YMM;
    const size_t n_tail = (len - peel) % NNR_F32_PER_YMM;
    size_t k = 0;

    if (peel) {
        const __m256i mask = mask_first(peel);
        __m256 c = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x, mask), hi), lo);
        __m256 t23 = _mm256_fmadd_ps(c, bc, cc);
        _mm256_maskstore_ps(dx, mask, _mm256_fmadd_ps(_mm256_maskload_ps(dy, mask), load_coef(a, 0, step), t23));
        k = peel;
    }
    for (size_t v = 0; v < n_vec; v++, k += NNR_F32_PER_YMM) {
        __m256 c = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + k), hi), lo);
        __m256 t23 = _mm256_fmadd_ps(c, bc, cc);
        store_out(dx + k, _mm256_fmadd_ps(_mm256_loadu_ps(dy + k), load_coef(a, k, step), t23), stream);
    }
    if (n_tail) {
        const __m256i mask = mask_first(n_tail);
        __m256 c = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + k, mask), hi), lo);
        __m256 t23 = _mm256_fmadd_ps(c, bc, cc);
        _mm256_maskstore_ps(dx + k, mask,
                            _mm256_fmadd_ps(_mm256_maskload_ps(dy + k, mask), load_coef(a, k, step), t23));
    }
}

/* ========================================================================= */
/* Reductions over one contiguous run                                         */
/* ========================================================================= */

/* Group statistics from the shifted sums: mean = hi + S1/m, var = S2/m - (S1/m)^2 (>= 0). */
static void finish_stats(double hi, double s1, double s2, double m, double eps, double *mean, double *var,
                         double *istd)
{
    const double d = s1 / m;
    double v = s2 / m - d * d;
    if (v < 0.0)
        v = 0.0;               /* rounding only: S2/m >= (S1/m)^2 mathematically */
    *mean = hi + d;
    *var = v;
    *istd = 1.0 / sqrt(v + eps);
}

static void store_cache(const nnr_groupnorm_cache *cache, size_t at, double mean, double var, double istd)
{
    cache->mean[at] = (float)mean;
    cache->istd[at] = (float)istd;
    if (cache->var != NULL)
        cache->var[at] = (float)var;
}

/* ========================================================================= */
/* Segment path: one group at a time                                          */
/* ========================================================================= */

static void fwd_segments(const nnr_groupnorm_params *p, const gn_view *v, size_t i, size_t g, const float *x,
                         const float *gamma, const float *beta, float *y, const nnr_groupnorm_cache *cache,
                         int stream)
{
    const size_t seg_len = v->cg * v->post;
    const double m = (double)v->m;

    /* step 1: a first mean (plain sum), the shift of step 2 */
    double s0 = 0.0, unused = 0.0;
    for (size_t pi = 0; pi < v->pre; pi++)
        run_shifted_sums(x + segment_offset(v, i, pi, g), seg_len, 0.0f, &s0, &unused);
    const float shift = (float)(s0 / m);

    /* step 2: shifted sums around it; mean, var, istd */
    double s1 = 0.0, s2 = 0.0;
    for (size_t pi = 0; pi < v->pre; pi++)
        run_shifted_sums(x + segment_offset(v, i, pi, g), seg_len, shift, &s1, &s2);
    double mean, var, istd;
    finish_stats(shift, s1, s2, m, p->epsilon, &mean, &var, &istd);
    store_cache(cache, i * v->groups + g, mean, var, istd);

    /* step 4: y = gamma_c * ((x - hi) - lo) * istd + beta_c, per channel run */
    const float hi_f = (float)mean;
    const __m256 hi = _mm256_set1_ps(hi_f), lo = _mm256_set1_ps((float)(mean - hi_f));
    for (size_t pi = 0; pi < v->pre; pi++) {
        const size_t off = segment_offset(v, i, pi, g);
        if (v->post == 1) {
            /* a wide group in channels_last: per-element coefficients (padded:
             * the masked tail still loads a whole coefficient vector) */
            float a[NNR_SCRATCH] = {0}, b[NNR_SCRATCH] = {0};
            for (size_t c0 = 0; c0 < v->cg; c0 += NNR_CHANNEL_BLOCK) {
                const size_t w = v->cg - c0 < NNR_CHANNEL_BLOCK ? v->cg - c0 : NNR_CHANNEL_BLOCK;
                for (size_t k = 0; k < w; k++) {
                    const size_t c = g * v->cg + c0 + k;
                    a[k] = (float)((p->scale ? gamma[c] : 1.0) * istd);
                    b[k] = p->center ? beta[c] : 0.0f;
                }
                affine_run(x + off + c0, y + off + c0, w, hi, lo, a, b, 1, stream);
            }
        } else {
            for (size_t cc = 0; cc < v->cg; cc++) {
                const size_t c = g * v->cg + cc;
                const float a = (float)((p->scale ? gamma[c] : 1.0) * istd);
                const float b = p->center ? beta[c] : 0.0f;
                affine_run(x + off + cc * v->post, y + off + cc * v->post, v->post, hi, lo, &a, &b, 0, stream);
            }
        }
    }
}

static void bwd_segments(const nnr_groupnorm_params *p, const gn_view *v, size_t i, size_t g, const float *x,
                         const float *gamma, const nnr_groupnorm_cache *cache, const float *dy, float *dx,
                         float *dgamma, float *dbeta, int stream)
{
    const double mean = cache->mean[i * v->groups + g];
    const double istd = cache->istd[i * v->groups + g];
    const float hi_f = (float)mean;
    const double lo_d = mean - hi_f;
    const double m = (double)v->m;

    /* per channel: sum(dy), sum(dy * x_hat); over the group sum(dx_hat), sum(dx_hat * x_hat) */
    double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
    for (size_t cc = 0; cc < v->cg; cc++) {
        const size_t c = g * v->cg + cc;
        double sdy = 0.0, sdyx = 0.0;
        for (size_t pi = 0; pi < v->pre; pi++) {
            const size_t off = segment_offset(v, i, pi, g) + cc * v->post;
            run_dy_sums(x + off, dy + off, v->post, hi_f, &sdy, &sdyx);
        }
        const double sdy_xhat = (sdyx - lo_d * sdy) * istd;   /* sum dy*((x - hi) - lo)*istd */
        const double gc = p->scale ? gamma[c] : 1.0;
        sum_dxhat += gc * sdy;
        sum_dxhat_xhat += gc * sdy_xhat;
        if (p->scale)
            dgamma[c] = (float)(dgamma[c] + sdy_xhat);
        if (p->center)
            dbeta[c] = (float)(dbeta[c] + sdy);
    }

    const __m256 hi = _mm256_set1_ps(hi_f), lo = _mm256_set1_ps((float)lo_d);
    const __m256 cc_v = _mm256_set1_ps((float)(-istd * sum_dxhat / m));
    const __m256 bc_v = _mm256_set1_ps((float)(-istd * istd * sum_dxhat_xhat / m));
    for (size_t pi = 0; pi < v->pre; pi++) {
        const size_t off = segment_offset(v, i, pi, g);
        if (v->post == 1) {
            float a[NNR_SCRATCH] = {0};
            for (size_t c0 = 0; c0 < v->cg; c0 += NNR_CHANNEL_BLOCK) {
                const size_t w = v->cg - c0 < NNR_CHANNEL_BLOCK ? v->cg - c0 : NNR_CHANNEL_BLOCK;
                for (size_t k = 0; k < w; k++)
                    a[k] = (float)((p->scale ? gamma[g * v->cg + c0 + k] : 1.0) * istd);
                dx_run(x + off + c0, dy + off + c0, dx + off + c0, w, hi, lo, a, bc_v, cc_v, 1, stream);
            }
        } else {
            for (size_t cc = 0; cc < v->cg; cc++) {
                const size_t c = g * v->cg + cc, r = off + cc * v->post;
                const float a = (float)((p->scale ? gamma[c] : 1.0) * istd);
                dx_run(x + r, dy + r, dx + r, v->post, hi, lo, &a, bc_v, cc_v, 0, stream);
            }
        }
    }
}

/* ========================================================================= */
/* Row path (post == 1): blocks of whole groups, channels in register tiles    */
/* ========================================================================= */

/*
 * The tiles of a block walk the same rows one after another, each reading
 * only 128 bytes of a row; the hardware prefetchers do not follow that
 * pattern from DRAM. The first tile therefore prefetches the block's whole
 * row NNR_PREFETCH_BYTES ahead, and the later tiles find it in cache.
 */
NNR_INLINE void prefetch_block_row(const float *row, size_t w)
{
    for (size_t k = 0; k < w; k += 64 / sizeof(float))
        _mm_prefetch((const char *)(row + k), _MM_HINT_T0);
}

NNR_INLINE size_t prefetch_rows_ahead(size_t C)
{
    const size_t rows = NNR_PREFETCH_BYTES / (C * sizeof(float));
    return rows ? rows : 1;
}

/*
 * One flush of a tile of four vectors (32 channels) over `rows` rows of
 * stride C starting at x: a[q] = sum(x - k[q]), s[q] = sum((x - k[q])^2) in
 * float lanes. `full` is a constant at each call: a full tile uses plain
 * loads, a partial one masked loads with the and clearing 0 - shift in the
 * channels that do not exist. The first tile prefetches whole rows `ahead`
 * rows on, for as long as such rows exist (prefetch_rows of them).
 */
NNR_INLINE void tile_shifted_flush(const float *x, size_t rows, size_t C, const __m256 k[4], const __m256i mk[4],
                                   int full, int want_sq, size_t ahead, size_t prefetch_rows, size_t w,
                                   __m256 a[4], __m256 s[4])
{
    const __m256 f0 = _mm256_castsi256_ps(mk[0]), f1 = _mm256_castsi256_ps(mk[1]);
    const __m256 f2 = _mm256_castsi256_ps(mk[2]), f3 = _mm256_castsi256_ps(mk[3]);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, q0 = a0, q1 = a0, q2 = a0, q3 = a0;
    const float *row = x;
    for (size_t r = 0; r < rows; r++, row += C) {
        if (r < prefetch_rows)
            prefetch_block_row(row + ahead * C, w);
        __m256 d0, d1, d2, d3;
        if (full) {
            d0 = _mm256_sub_ps(_mm256_loadu_ps(row), k[0]);
            d1 = _mm256_sub_ps(_mm256_loadu_ps(row + 8), k[1]);
            d2 = _mm256_sub_ps(_mm256_loadu_ps(row + 16), k[2]);
            d3 = _mm256_sub_ps(_mm256_loadu_ps(row + 24), k[3]);
        } else {
            d0 = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(row, mk[0]), k[0]), f0);
            d1 = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(row + 8, mk[1]), k[1]), f1);
            d2 = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(row + 16, mk[2]), k[2]), f2);
            d3 = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(row + 24, mk[3]), k[3]), f3);
        }
        a0 = _mm256_add_ps(a0, d0); a1 = _mm256_add_ps(a1, d1);
        a2 = _mm256_add_ps(a2, d2); a3 = _mm256_add_ps(a3, d3);
        if (want_sq) {
            q0 = _mm256_fmadd_ps(d0, d0, q0); q1 = _mm256_fmadd_ps(d1, d1, q1);
            q2 = _mm256_fmadd_ps(d2, d2, q2); q3 = _mm256_fmadd_ps(d3, d3, q3);
        }
    }
    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
    s[0] = q0, s[1] = q1, s[2] = q2, s[3] = q3;
}

/*
 * Per-channel sums over `rows` rows of stride C, channels [0, w) of the rows
 * starting at x (w <= NNR_CHANNEL_BLOCK): s1[k] += sum(x - shift[k]),
 * s2[k] += sum((x - shift[k])^2) (s2 may be NULL: then only s1). shift has
 * w + 8 readable entries. rows_after: rows that exist past the last one,
 * which the first tile may prefetch.
 */
static void rows_shifted_sums(const float *x, size_t rows, size_t rows_after, size_t C, size_t w,
                              const float *shift, double *s1, double *s2)
{
    const size_t ahead = prefetch_rows_ahead(C);
    for (size_t t0 = 0; t0 < w; t0 += NNR_TILE_CHANNELS) {
        const size_t tw = w - t0 < NNR_TILE_CHANNELS ? w - t0 : NNR_TILE_CHANNELS;
        /* the tile's four vectors: full, or masked to the channels that exist */
        __m256i mk[4];
        __m256 k[4], a[4], q[4];
        for (size_t v = 0; v < 4; v++) {
            const size_t lanes = tw > v * 8 ? (tw - v * 8 < 8 ? tw - v * 8 : 8) : 0;
            mk[v] = mask_first(lanes);
            k[v] = _mm256_loadu_ps(shift + t0 + v * 8);
        }
        for (size_t r0 = 0; r0 < rows; r0 += NNR_MAX_ROWS_PER_FLUSH) {
            const size_t n = rows - r0 < NNR_MAX_ROWS_PER_FLUSH ? rows - r0 : NNR_MAX_ROWS_PER_FLUSH;
            /* the first tile prefetches row r + ahead while it exists: for the
             * first pf rows of the flush */
            const size_t left = rows + rows_after - r0;
            size_t pf = t0 == 0 && left > ahead ? left - ahead : 0;
            if (pf > n)
                pf = n;
            const float *xr = x + r0 * C + t0;
            if (tw == NNR_TILE_CHANNELS && s2 != NULL)
                tile_shifted_flush(xr, n, C, k, mk, 1, 1, ahead, pf, w, a, q);
            else if (tw == NNR_TILE_CHANNELS)
                tile_shifted_flush(xr, n, C, k, mk, 1, 0, ahead, pf, w, a, q);
            else
                tile_shifted_flush(xr, n, C, k, mk, 0, s2 != NULL, ahead, pf, w, a, q);
            for (size_t v = 0; v < 4 && v * 8 < tw; v++) {
                flush_lanes(s1 + t0 + v * 8, a[v]);
                if (s2 != NULL)
                    flush_lanes(s2 + t0 + v * 8, q[v]);
            }
        }
    }
}

/* Backward per-channel sums: sdy[k] += sum(dy), sdyx[k] += sum(dy * (x - hi[k])). */
static void rows_dy_sums(const gn_view *v, const float *x_sample, const float *dy_sample, size_t c0, size_t w,
                         const float *hi, double *sdy, double *sdyx)
{
    const size_t C = v->c, rows = v->pre, ahead = prefetch_rows_ahead(C);
    for (size_t t0 = 0; t0 < w; t0 += NNR_TILE_CHANNELS) {
        const size_t tw = w - t0 < NNR_TILE_CHANNELS ? w - t0 : NNR_TILE_CHANNELS;
        __m256i mk[4];
        for (size_t q = 0; q < 4; q++) {
            const size_t lanes = tw > q * 8 ? (tw - q * 8 < 8 ? tw - q * 8 : 8) : 0;
            mk[q] = mask_first(lanes);
        }
        const __m256 h0 = _mm256_loadu_ps(hi + t0), h1 = _mm256_loadu_ps(hi + t0 + 8);
        const __m256 h2 = _mm256_loadu_ps(hi + t0 + 16), h3 = _mm256_loadu_ps(hi + t0 + 24);
        for (size_t r0 = 0; r0 < rows; r0 += NNR_MAX_ROWS_PER_FLUSH) {
            const size_t r1 = rows - r0 < NNR_MAX_ROWS_PER_FLUSH ? rows : r0 + NNR_MAX_ROWS_PER_FLUSH;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, q0 = a0, q1 = a0, q2 = a0, q3 = a0;
            const size_t base = r0 * C + c0 + t0;
            const float *xr = x_sample + base, *dr = dy_sample + base;
            /* masked-off lanes of dy load 0, which clears both products */
            for (size_t r = r0; r < r1; r++, xr += C, dr += C) {
                if (t0 == 0 && r + ahead < rows) {
                    prefetch_block_row(xr + ahead * C, w);
                    prefetch_block_row(dr + ahead * C, w);
                }
                __m256 g0 = _mm256_maskload_ps(dr, mk[0]), g1 = _mm256_maskload_ps(dr + 8, mk[1]);
                __m256 g2 = _mm256_maskload_ps(dr + 16, mk[2]), g3 = _mm256_maskload_ps(dr + 24, mk[3]);
                a0 = _mm256_add_ps(a0, g0); a1 = _mm256_add_ps(a1, g1);
                a2 = _mm256_add_ps(a2, g2); a3 = _mm256_add_ps(a3, g3);
                q0 = _mm256_fmadd_ps(g0, _mm256_sub_ps(_mm256_maskload_ps(xr, mk[0]), h0), q0);
                q1 = _mm256_fmadd_ps(g1, _mm256_sub_ps(_mm256_maskload_ps(xr + 8, mk[1]), h1), q1);
                q2 = _mm256_fmadd_ps(g2, _mm256_sub_ps(_mm256_maskload_ps(xr + 16, mk[2]), h2), q2);
                q3 = _mm256_fmadd_ps(g3, _mm256_sub_ps(_mm256_maskload_ps(xr + 24, mk[3]), h3), q3);
            }
            flush_lanes(sdy + t0, a0); flush_lanes(sdy + t0 + 8, a1);
            flush_lanes(sdy + t0 + 16, a2); flush_lanes(sdy + t0 + 24, a3);
            flush_lanes(sdyx + t0, q0); flush_lanes(sdyx + t0 + 8, q1);
            flush_lanes(sdyx + t0 + 16, q2); flush_lanes(sdyx + t0 + 24, q3);
        }
    }
}

/* Groups per row-path block: whole groups of at most NNR_CHANNEL_BLOCK channels. */
static size_t block_groups(const gn_view *v)
{
    return NNR_CHANNEL_BLOCK / v->cg;
}

/* Per-channel scratch of one block (padded so tile loads may read past w). */
typedef struct rows_block {
    double s1[NNR_SCRATCH], s2[NNR_SCRATCH];
    float hi[NNR_SCRATCH], lo[NNR_SCRATCH], a[NNR_SCRATCH], b[NNR_SCRATCH];
} rows_block;

/*
 * When a block is the whole row (w == C), the sample's pre rows are one
 * contiguous slab of pre*C floats whose coefficients repeat with period C.
 * Walking it linearly lets the streaming stores write whole cache lines (a
 * row of 64 channels is 256 bytes; peeling each row separately would mix
 * streaming and ordinary stores in the same lines). The coefficient arrays
 * get copies of their first 8 periodic entries at [C, C + 8), so a vector
 * starting at any channel j < C reads lanes j..j+8 without wrapping.
 */
static void extend_periodic(float *coef, size_t C)
{
    for (size_t k = 0; k < NNR_F32_PER_YMM; k++)
        coef[C + k] = coef[k % C];
}

NNR_INLINE size_t next_channel(size_t j, size_t C)
{
    j += NNR_F32_PER_YMM;
    while (j >= C)
        j -= C;
    return j;
}

/*
 * y = a_j * ((x - hi_j) - lo_j) + b_j over a slab of len floats, j = channel
 * of each value. While it streams y out, it asks for the next sample's slab
 * (`next`, len floats, or NULL) into L2, one line per line written: the
 * DRAM reads of the next statistics pass then overlap these writes instead
 * of following them.
 */
static void affine_slab(const float *x, float *y, size_t len, size_t C, const rows_block *sb, int stream,
                        const float *next)
{
    const size_t peel = stream_peel(y, len, stream);
    const size_t n_vec = (len - peel) / NNR_F32_PER_YMM, n_tail = (len - peel) % NNR_F32_PER_YMM;
    size_t k = 0, j = 0;
#define GN_AFFINE_VEC(xv, j_)                                                                   \
    _mm256_fmadd_ps(_mm256_sub_ps(_mm256_sub_ps(xv, _mm256_loadu_ps(sb->hi + (j_))),             \
                                  _mm256_loadu_ps(sb->lo + (j_))),                               \
                    _mm256_loadu_ps(sb->a + (j_)), _mm256_loadu_ps(sb->b + (j_)))
    if (peel) {
        const __m256i mask = mask_first(peel);
        _mm256_maskstore_ps(y, mask, GN_AFFINE_VEC(_mm256_maskload_ps(x, mask), 0));
        k = peel;
        j = peel % C;
    }
    for (size_t q = 0; q < n_vec; q++, k += NNR_F32_PER_YMM) {
        if (next != NULL && (q & 1) == 0)
            _mm_prefetch((const char *)(next + k), _MM_HINT_T1);
        store_out(y + k, GN_AFFINE_VEC(_mm256_loadu_ps(x + k), j), stream);
        j = next_channel(j, C);
    }
    if (n_tail) {
        const __m256i mask = mask_first(n_tail);
        _mm256_maskstore_ps(y + k, mask, GN_AFFINE_VEC(_mm256_maskload_ps(x + k, mask), j));
    }
#undef GN_AFFINE_VEC
}

/* Chan et al.'s merge of (n_b, mean_b, m2_b) into (n_a, mean_a, m2_a). */
static void chan_merge(double *n_a, double *mean_a, double *m2_a, double n_b, double mean_b, double m2_b)
{
    const double n = *n_a + n_b, delta = mean_b - *mean_a;
    *mean_a += delta * n_b / n;
    *m2_a += m2_b + delta * delta * (*n_a) * n_b / n;
    *n_a = n;
}

/*
 * Steps 1-2 per channel over `rows` rows of stride C (channels [0, w) of the
 * rows starting at x) in one read: a pilot mean of the first rows is the
 * first shift; then NNR_MERGE_ROWS rows at a time, shifted sums in float
 * lanes become a chunk's (n, mean, m2), merged in double by Chan's update,
 * and the next chunk is shifted by the mean so far. As batchnorm_avx2.c's
 * channels_last reduction: no single far-off value conditions the sums, and
 * a constant channel gives m2 = 0 exactly. The tiles read each row a few
 * vectors at a time; the flushes are short enough (NNR_MAX_ROWS_PER_FLUSH
 * rows) that the later tiles find the rows the first one brought in cache.
 * shift, s1, s2: scratch of w + 8 entries.
 */
static void rows_channel_moments(const float *x, size_t rows, size_t C, size_t w, double *mean, double *m2,
                                 float *shift, double *s1, double *s2)
{
    const size_t pilot = rows < NNR_PILOT_ROWS ? rows : NNR_PILOT_ROWS;
    for (size_t k = 0; k < w + NNR_F32_PER_YMM; k++)
        shift[k] = 0.0f, s1[k] = 0.0;
    rows_shifted_sums(x, pilot, rows - pilot, C, w, shift, s1, NULL);
    for (size_t k = 0; k < w; k++) {
        shift[k] = (float)(s1[k] / (double)pilot);
        mean[k] = m2[k] = 0.0;
    }
    double n_acc = 0.0;
    for (size_t r0 = 0; r0 < rows; r0 += NNR_MERGE_ROWS) {
        const size_t n = rows - r0 < NNR_MERGE_ROWS ? rows - r0 : NNR_MERGE_ROWS;
        for (size_t k = 0; k < w; k++)
            s1[k] = s2[k] = 0.0;
        rows_shifted_sums(x + r0 * C, n, rows - r0 - n, C, w, shift, s1, s2);
        const double n_b = (double)n;
        for (size_t k = 0; k < w; k++) {
            const double d = s1[k] / n_b;
            double m2_b = s2[k] - d * s1[k];
            if (m2_b < 0.0)
                m2_b = 0.0;   /* rounding of a constant chunk; NaN passes */
            double n_a = n_acc;
            chan_merge(&n_a, &mean[k], &m2[k], n_b, shift[k] + d, m2_b);
            shift[k] = (float)mean[k];
        }
        n_acc += (double)n;
    }
}

/* Backward sums over the slab: sdy[c] += sum(dy), sdyx[c] += sum(dy * (x - hi[c])). */
static void slab_dy_sums(const float *x, const float *dy, size_t len, size_t C, const float *hi, double *sdy,
                         double *sdyx)
{
    float a1[NNR_SCRATCH], a2[NNR_SCRATCH];
    const size_t chunk = NNR_MAX_ROWS_PER_FLUSH * C;
    size_t k = 0, j = 0;
    while (k < len) {
        const size_t end = len - k < chunk ? len : k + chunk;
        for (size_t i = 0; i < C + NNR_F32_PER_YMM; i++)
            a1[i] = a2[i] = 0.0f;
        for (; k + NNR_F32_PER_YMM <= end; k += NNR_F32_PER_YMM) {
            __m256 g = _mm256_loadu_ps(dy + k);
            __m256 c = _mm256_sub_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(hi + j));
            _mm256_storeu_ps(a1 + j, _mm256_add_ps(_mm256_loadu_ps(a1 + j), g));
            _mm256_storeu_ps(a2 + j, _mm256_fmadd_ps(g, c, _mm256_loadu_ps(a2 + j)));
            j = next_channel(j, C);
        }
        if (k < end) {
            /* dy loads 0 in masked-off lanes, which clears both products */
            const __m256i mask = mask_first(end - k);
            __m256 g = _mm256_maskload_ps(dy + k, mask);
            __m256 c = _mm256_sub_ps(_mm256_maskload_ps(x + k, mask), _mm256_loadu_ps(hi + j));
            _mm256_storeu_ps(a1 + j, _mm256_add_ps(_mm256_loadu_ps(a1 + j), g));
            _mm256_storeu_ps(a2 + j, _mm256_fmadd_ps(g, c, _mm256_loadu_ps(a2 + j)));
            k = end;
        }
        for (size_t i = C; i < C + NNR_F32_PER_YMM; i++) {
            a1[i % C] += a1[i];
            a2[i % C] += a2[i];
        }
        for (size_t c = 0; c < C; c++) {
            sdy[c] += a1[c];
            sdyx[c] += a2[c];
        }
    }
}

static void fwd_rows(const nnr_groupnorm_params *p, const gn_view *v, size_t i, const float *x,
                     const float *gamma, const float *beta, float *y, const nnr_groupnorm_cache *cache,
                     int stream, rows_block *sb)
{
    const size_t C = v->c, cg = v->cg, bg = block_groups(v);
    const float *xs = x + i * v->pre * C;
    float *ys = y + i * v->pre * C;
    const double m = (double)v->m;

    for (size_t g0 = 0; g0 < v->groups; g0 += bg) {
        const size_t ng = v->groups - g0 < bg ? v->groups - g0 : bg;
        const size_t c0 = g0 * cg, w = ng * cg;
        for (size_t k = 0; k < NNR_SCRATCH; k++)
            sb->hi[k] = sb->lo[k] = sb->a[k] = sb->b[k] = 0.0f;

        /* steps 1-2: per-channel mean and m2 in one read of the rows, merged
         * into each group's mean and biased variance */
        double ch_mean[NNR_SCRATCH], ch_m2[NNR_SCRATCH];
        rows_channel_moments(xs + c0, v->pre, C, w, ch_mean, ch_m2, sb->hi, sb->s1, sb->s2);
        const double n_ch = (double)v->pre;
        for (size_t gg = 0; gg < ng; gg++) {
            double n = 0.0, mu = 0.0, m2 = 0.0, mean, var, istd;
            for (size_t k = gg * cg; k < (gg + 1) * cg; k++)
                chan_merge(&n, &mu, &m2, n_ch, ch_mean[k], ch_m2[k]);
            /* step 3: as finish_stats, from (mean, m2) */
            finish_stats(mu, 0.0, m2, m, p->epsilon, &mean, &var, &istd);
            store_cache(cache, i * v->groups + g0 + gg, mean, var, istd);
            const float hi = (float)mean, lo = (float)(mean - hi);
            for (size_t k = gg * cg; k < (gg + 1) * cg; k++) {
                sb->hi[k] = hi;
                sb->lo[k] = lo;
                sb->a[k] = (float)((p->scale ? gamma[c0 + k] : 1.0) * istd);
                sb->b[k] = p->center ? beta[c0 + k] : 0.0f;
            }
        }

        /* step 4: y = a_c * ((x - hi_c) - lo_c) + b_c: the whole slab at once
         * when the block is the whole row (affine_slab), else row by row
         * without streaming (the block is part of each row's lines) */
        if (w == C) {
            extend_periodic(sb->hi, C), extend_periodic(sb->lo, C);
            extend_periodic(sb->a, C), extend_periodic(sb->b, C);
            affine_slab(xs, ys, v->pre * C, C, sb, stream, i + 1 < v->n ? xs + v->pre * C : NULL);
            continue;
        }
        for (size_t r = 0; r < v->pre; r++) {
            const float *xr = xs + r * C + c0;
            float *yr = ys + r * C + c0;
            const size_t n_vec = w / NNR_F32_PER_YMM, n_tail = w % NNR_F32_PER_YMM;
            size_t k = 0;
            for (size_t q = 0; q < n_vec; q++, k += NNR_F32_PER_YMM) {
                __m256 c = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + k), _mm256_loadu_ps(sb->hi + k)),
                                         _mm256_loadu_ps(sb->lo + k));
                _mm256_storeu_ps(yr + k, _mm256_fmadd_ps(c, _mm256_loadu_ps(sb->a + k), _mm256_loadu_ps(sb->b + k)));
            }
            if (n_tail) {
                const __m256i mask = mask_first(n_tail);
                __m256 c = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + k, mask),
                                                       _mm256_loadu_ps(sb->hi + k)),
                                         _mm256_loadu_ps(sb->lo + k));
                _mm256_maskstore_ps(yr + k, mask,
                                    _mm256_fmadd_ps(c, _mm256_loadu_ps(sb->a + k), _mm256_loadu_ps(sb->b + k)));
            }
        }
    }
}

static void bwd_rows(const nnr_groupnorm_params *p, const gn_view *v, size_t i, const float *x,
                     const float *gamma, const nnr_groupnorm_cache *cache, const float *dy, float *dx,
                     float *dgamma, float *dbeta, int stream, rows_block *sb)
{
    const size_t C = v->c, cg = v->cg, bg = block_groups(v);
    const size_t base = i * v->pre * C;
    const double m = (double)v->m;

    for (size_t g0 = 0; g0 < v->groups; g0 += bg) {
        const size_t ng = v->groups - g0 < bg ? v->groups - g0 : bg;
        const size_t c0 = g0 * cg, w = ng * cg;
        /* b holds Bc, lo the group's lo, s2 reused for Cc (as float in a below) */
        float bc[NNR_SCRATCH], cc[NNR_SCRATCH];
        for (size_t k = 0; k < NNR_SCRATCH; k++) {
            sb->s1[k] = sb->s2[k] = 0.0;
            sb->hi[k] = sb->lo[k] = sb->a[k] = bc[k] = cc[k] = 0.0f;
        }
        for (size_t gg = 0; gg < ng; gg++) {
            const double mean = cache->mean[i * v->groups + g0 + gg];
            const float hi = (float)mean;
            for (size_t k = gg * cg; k < (gg + 1) * cg; k++) {
                sb->hi[k] = hi;
                sb->lo[k] = (float)(mean - hi);
            }
        }
        /* per channel sum(dy), sum(dy * (x - hi)) */
        if (w == C) {
            extend_periodic(sb->hi, C);
            slab_dy_sums(x + base, dy + base, v->pre * C, C, sb->hi, sb->s1, sb->s2);
        } else {
            rows_dy_sums(v, x + base, dy + base, c0, w, sb->hi, sb->s1, sb->s2);
        }
        for (size_t gg = 0; gg < ng; gg++) {
            const double mean = cache->mean[i * v->groups + g0 + gg];
            const double istd = cache->istd[i * v->groups + g0 + gg];
            const double lo_d = mean - (double)(float)mean;
            double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
            for (size_t k = gg * cg; k < (gg + 1) * cg; k++) {
                const double sdy_xhat = (sb->s2[k] - lo_d * sb->s1[k]) * istd;
                const double gc = p->scale ? gamma[c0 + k] : 1.0;
                sum_dxhat += gc * sb->s1[k];
                sum_dxhat_xhat += gc * sdy_xhat;
                if (p->scale)
                    dgamma[c0 + k] = (float)(dgamma[c0 + k] + sdy_xhat);
                if (p->center)
                    dbeta[c0 + k] = (float)(dbeta[c0 + k] + sb->s1[k]);
                sb->a[k] = (float)(gc * istd);
            }
            const float cterm = (float)(-istd * sum_dxhat / m);
            const float bterm = (float)(-istd * istd * sum_dxhat_xhat / m);
            for (size_t k = gg * cg; k < (gg + 1) * cg; k++) {
                bc[k] = bterm;
                cc[k] = cterm;
            }
        }
        /* dx = a_c * dy + (Bc * ((x - hi) - lo) + Cc): the whole slab at once
         * when the block is the whole row (see affine_slab), else row by row
         * without streaming */
        const int whole = w == C;
        if (whole) {
            extend_periodic(sb->hi, C), extend_periodic(sb->lo, C), extend_periodic(sb->a, C);
            extend_periodic(bc, C), extend_periodic(cc, C);
        }
        const size_t n_runs = whole ? 1 : v->pre, run_len = whole ? v->pre * C : w;
        for (size_t r = 0; r < n_runs; r++) {
            const size_t off = base + r * C + c0;
            const float *xr = x + off, *dr = dy + off;
            float *dxr = dx + off;
            const int st_run = whole && stream;
            const size_t peel = stream_peel(dxr, run_len, st_run);
            const size_t n_vec = (run_len - peel) / NNR_F32_PER_YMM, n_tail = (run_len - peel) % NNR_F32_PER_YMM;
            size_t k = 0, j = 0;
#define GN_DX_VEC(xv, dyv, k_)                                                                              \
            _mm256_fmadd_ps(dyv, _mm256_loadu_ps(sb->a + (k_)),                                             \
                            _mm256_fmadd_ps(_mm256_sub_ps(_mm256_sub_ps(xv, _mm256_loadu_ps(sb->hi + (k_))), \
                                                          _mm256_loadu_ps(sb->lo + (k_))),                  \
                                            _mm256_loadu_ps(bc + (k_)), _mm256_loadu_ps(cc + (k_))))
            if (peel) {
                const __m256i mask = mask_first(peel);
                _mm256_maskstore_ps(dxr, mask,
                                    GN_DX_VEC(_mm256_maskload_ps(xr, mask), _mm256_maskload_ps(dr, mask), 0));
                k = peel;
                j = peel % C;
            }
            for (size_t q = 0; q < n_vec; q++, k += NNR_F32_PER_YMM) {
                store_out(dxr + k, GN_DX_VEC(_mm256_loadu_ps(xr + k), _mm256_loadu_ps(dr + k), j), st_run);
                j = whole ? next_channel(j, C) : j + NNR_F32_PER_YMM;
            }
            if (n_tail) {
                const __m256i mask = mask_first(n_tail);
                _mm256_maskstore_ps(dxr + k, mask,
                                    GN_DX_VEC(_mm256_maskload_ps(xr + k, mask), _mm256_maskload_ps(dr + k, mask), j));
            }
#undef GN_DX_VEC
        }
    }
}

/* ========================================================================= */
/* Entry points                                                               */
/* ========================================================================= */

static int use_rows(const gn_view *v)
{
    return v->post == 1 && v->cg <= NNR_CHANNEL_BLOCK;
}

static int use_streaming(const gn_view *v)
{
    return v->count * sizeof(float) >= NNR_STREAM_MIN_BYTES;
}

nnr_status nnr_groupnorm_fwd_avx2(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                  const float *x, const float *gamma, const float *beta,
                                  float *y, const nnr_groupnorm_cache *cache)
{
    gn_view view;
    nnr_status st = nnr_gn_check_fwd(p, shape, x, gamma, beta, y, cache, &view);
    if (st.code != NNR_OK)
        return st;
    const int stream = use_streaming(&view);
    rows_block scratch;

    for (size_t i = 0; i < view.n; i++) {
        if (use_rows(&view))
            fwd_rows(p, &view, i, x, gamma, beta, y, cache, stream, &scratch);
        else
            for (size_t g = 0; g < view.groups; g++)
                fwd_segments(p, &view, i, g, x, gamma, beta, y, cache, stream);
    }
    if (stream)
        _mm_sfence();   /* order the non-temporal stores before the caller reads y */
    return nnr_ok();
}

nnr_status nnr_groupnorm_bwd_avx2(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                  const float *x, const float *gamma,
                                  const nnr_groupnorm_cache *cache, const float *dy,
                                  float *dx, float *dgamma, float *dbeta)
{
    gn_view view;
    nnr_status st = nnr_gn_check_bwd(p, shape, x, gamma, cache, dy, dx, dgamma, dbeta, &view);
    if (st.code != NNR_OK)
        return st;
    const int stream = use_streaming(&view);
    rows_block scratch;

    /* dgamma and dbeta accumulate over samples (written now that the checks passed) */
    for (size_t c = 0; c < view.c; c++) {
        if (p->scale)
            dgamma[c] = 0.0f;
        if (p->center)
            dbeta[c] = 0.0f;
    }
    for (size_t i = 0; i < view.n; i++) {
        if (use_rows(&view))
            bwd_rows(p, &view, i, x, gamma, cache, dy, dx, dgamma, dbeta, stream, &scratch);
        else
            for (size_t g = 0; g < view.groups; g++)
                bwd_segments(p, &view, i, g, x, gamma, cache, dy, dx, dgamma, dbeta, stream);
    }
    if (stream)
        _mm_sfence();
    return nnr_ok();
}
