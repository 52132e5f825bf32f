/*
 * BatchNorm, AVX2 + FMA kernels (float). Same contract, same argument checks
 * and the same arithmetic meaning as src/norm/batchnorm_naive.c, which is the
 * reference: read that file first, every block below names the naive step it
 * computes.
 *
 * Shapes (as in the naive kernels): x, y, dy, dx are (N, pre, C, post);
 * gamma, beta, dgamma, dbeta and the running statistics (C); the cache's mean
 * and istd (G, C) for G ghost batches.
 *
 * Two layouts, two loop orders:
 *  - post > 1 (channels_first, or a middle channel axis): the values of one
 *    channel form N*pre contiguous rows of `post` floats. One channel at a
 *    time: reduce its rows, then normalize them while they are still in L2
 *    (a 32x64x56x56 channel is 32 rows of 3136 floats = 401 KB), so DRAM
 *    sees about one read of x and one write of y.
 *  - post == 1 (channels_last): each row holds C contiguous channels. The
 *    reductions keep 8 channels per ymm lane-vector and walk the rows; the
 *    normalization reads per-channel coefficients from small stack arrays.
 *
 * Precision. Sums run in float lanes over short blocks (at most
 * NNR_FLUSH_FLOATS values per row chunk or NNR_MAX_ROWS_PER_FLUSH rows) and are
 * then flushed into double, so a long reduction never accumulates in float.
 * The variance is one pass over memory, in chunks (a row, or NNR_MERGE_ROWS
 * rows in channels_last): per chunk S1 = sum(x - K), S2 = sum((x - K)^2)
 * about a shift K near the chunk's values (a pilot mean of the first rows for
 * the first chunk, the mean so far for the others), merged into a running
 * (count, mean, M2) in double by Chan's pairwise update (moments_merge).
 * The cancellation in S2 - S1^2/n is bounded by how far K lies from the
 * chunk's mean in standard deviations, so neither the size of the mean (as
 * with E[x^2] - E[x]^2) nor one outlier value (as with a single fixed shift)
 * costs accuracy; a constant channel gives M2 = 0 exactly (y == beta).
 * Channels whose float sums are not finite (squares beyond float's range,
 * or NaN/Inf inputs) are recomputed in double by exact_moments, so they give
 * the naive kernel's values.
 * The batch mean is kept as float hi + lo parts so that x - mean is as
 * accurate as the naive kernel's double subtraction: (x - hi) - lo.
 * Normalization is (x - mean) * (gamma*istd) + beta, never
 * x*inv + (beta - mean*inv), so constant channels give exactly beta.
 *
 * Large tensors are written with non-temporal stores (after peeling the
 * destination to 32-byte alignment): the output is not read back by the
 * kernel, and streaming it saves the read-for-ownership of every line.
 *
 * Optional OpenMP (NNR_USE_OPENMP): loops over channels, or over samples in
 * elementwise passes, are split among threads; no sum is ever split, so the
 * results are bitwise identical for any thread count (the crosscheck test
 * crosscheck_thread_count compares 1, 2 and 3 threads byte for byte). Loops
 * moving less than NNR_OMP_MIN_BYTES stay on the calling thread.
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "batchnorm_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include "batchnorm_internal.h"
#include "avx2_util.h"

/* channels_last: rows reduced in float lanes before flushing to double. */
#define NNR_MAX_ROWS_PER_FLUSH 256
/* channels_last: bytes of x per row block, sized so the block stays in L1d. */
#define NNR_ROW_BLOCK_BYTES (32 * 1024)
/* channels_last: rows whose shifted sums are merged into the running moments at once. */
#define NNR_MERGE_ROWS 1024
/* channels_last: rows averaged for the first shift of a reduction. */
#define NNR_PILOT_ROWS 16
/* channels_last: how many row blocks ahead the reductions prefetch. */
#define NNR_PREFETCH_BLOCKS 2
/* channels_last: channels per block of the stack scratch arrays. */
#define NNR_CHANNEL_BLOCK 256
/* channels_last: channels per register tile of the reductions (4 ymm). */
#define NNR_TILE_CHANNELS 32
/* channels_last forward: channels per wide tile (8 ymm). A row of 64
 * channels is then read by one tile instead of two: less work per row
 * (0.098 -> 0.086 ms on an L2-resident 56x56x64 sample) and a few percent
 * from DRAM. The 16 accumulators fill the register file; the shifts are
 * reloaded from L1. */
#define NNR_WIDE_TILE_CHANNELS 64
/* Outputs at least this large are written with non-temporal stores (4x L2). */
#define NNR_STREAM_MIN_BYTES ((size_t)8 << 20)
/* Scratch arrays are padded by one vector so a masked tail may read past C. */
#define NNR_SCRATCH (NNR_CHANNEL_BLOCK + NNR_F32_PER_YMM)
/* OpenMP: a parallel region is opened only for at least this many bytes of
 * tensor traffic. Starting a team costs microseconds, and on a loaded machine
 * a thread waiting for a descheduled peer costs milliseconds (8x16x14x14 took
 * 12-32 ms instead of 20 us with 2 threads on 2 busy cores). 1 MiB is some
 * 40 us of cache-resident work, enough to pay for the team; at 256 KiB the
 * backward pass of 8x16x14x14 (x, dy, dx: 294 KiB) still went parallel and
 * took 8 ms (median) with one core busy. Smaller loops run on the calling
 * thread; since no loop splits a sum, the results are the same. */
#define NNR_OMP_MIN_BYTES ((size_t)1 << 20)









/* Offset of the first value of (sample i, pre-index p, channel c), as row_offset of the naive kernels. */
static size_t row_offset(const bn_view *v, size_t i, size_t p, size_t c)
{
    return ((i * v->pre + p) * v->c + c) * v->post;
}

/* The r-th row of ghost batch j walks samples i = vi*G + j and pre-indices p. */
typedef struct row_cursor {
    size_t vi, p;
} row_cursor;

NNR_INLINE row_cursor cursor_at(const bn_view *v, size_t r)
{
    row_cursor cur = {r / v->pre, r % v->pre};
    return cur;
}

NNR_INLINE size_t cursor_offset(const bn_view *v, row_cursor cur, size_t j, size_t c)
{
    return row_offset(v, cur.vi * v->groups + j, cur.p, c);
}

NNR_INLINE void cursor_next(const bn_view *v, row_cursor *cur)
{
    if (++cur->p == v->pre) {
        cur->p = 0;
        cur->vi++;
    }
}

/*
 * The same walk as a moving pointer, for the channels_last reductions
 * (post == 1), whose rows hold only a few vectors of work each: within a
 * sample the pre rows lie C floats apart, and the next member of the ghost
 * batch starts G samples later. Saves the multiplications of cursor_offset
 * on every row.
 */
typedef struct row_walk {
    const float *row;    /* current row, at channel c0 */
    size_t p;            /* its pre-index */
} row_walk;

NNR_INLINE row_walk walk_at(const bn_view *v, const float *base, row_cursor cur, size_t j, size_t c0)
{
    row_walk w = {base + cursor_offset(v, cur, j, c0), cur.p};
    return w;
}

NNR_INLINE void walk_next(const bn_view *v, row_walk *w)
{
    w->row += v->c;
    if (++w->p == v->pre) {
        w->p = 0;
        w->row += (v->groups - 1) * v->pre * v->c;
    }
}

/* Asks for the `width` floats at row into L2 (one prefetch per 64-byte line).
 * L2, not L1: the lines are wanted NNR_PREFETCH_BLOCKS blocks of 32 KB later,
 * farther than L1 holds, and a T0 prefetch keeps a fill buffer busy until the
 * line reaches L1 (T1 ran 5-15% faster than T0 in interleaved runs). */
NNR_INLINE void prefetch_row(const float *row, size_t width)
{
    for (size_t k = 0; k < width; k += 64 / sizeof(float))
        _mm_prefetch((const char *)(row + k), _MM_HINT_T1);
}

/* ========================================================================= */
/* Elementwise passes over one contiguous segment of len floats              */
/* (coefficients per channel with step 1, or broadcast with step 0)          */
/* ========================================================================= */

/* Step 5 of the naive forward: y = A * ((x - mean_hi) - mean_lo) + B,
 * with A = gamma*r*istd and B = gamma*d + beta (d = 0, r = 1 without renorm). */
NNR_INLINE void affine_segment(const float *x, float *y, size_t len, const float *mean_hi,
                               const float *mean_lo, const float *a, const float *b, int step, int stream)
{
    const size_t peel = stream_peel(y, len, stream);
    const size_t n_vec = (len - peel) / NNR_F32_PER_YMM;
    const size_t n_tail = (len - peel) % NNR_F32_PER_YMM;
    size_t k = 0;

    /* Peel (masked) until y is 32-byte aligned for the streaming stores. */
    if (peel) {
        const __m256i mask = mask_first(peel);
        __m256 xv = _mm256_maskload_ps(x, mask);
        __m256 c = _mm256_sub_ps(_mm256_sub_ps(xv, load_coef(mean_hi, 0, step)), load_coef(mean_lo, 0, step));
        _mm256_maskstore_ps(y, mask, _mm256_fmadd_ps(c, load_coef(a, 0, step), load_coef(b, 0, step)));
        k = peel;
    }
    /* Main loop: centre, scale, shift; 8 values per iteration. */
    for (size_t v = 0; v < n_vec; v++, k += NNR_F32_PER_YMM) {
        __m256 xv = _mm256_loadu_ps(x + k);
        __m256 c = _mm256_sub_ps(_mm256_sub_ps(xv, load_coef(mean_hi, k, step)), load_coef(mean_lo, k, step));
        store_out(y + k, _mm256_fmadd_ps(c, load_coef(a, k, step), load_coef(b, k, step)), stream);
    }
    /* Tail of fewer than 8 values: masked load and store. */
    if (n_tail) {
        const __m256i mask = mask_first(n_tail);
        __m256 xv = _mm256_maskload_ps(x + k, mask);
        __m256 c = _mm256_sub_ps(_mm256_sub_ps(xv, load_coef(mean_hi, k, step)), load_coef(mean_lo, k, step));
        _mm256_maskstore_ps(y + k, mask, _mm256_fmadd_ps(c, load_coef(a, k, step), load_coef(b, k, step)));
    }
}

/* Training backward, dx = scale*(dy - mean(dy) - x_hat*mean(dy*x_hat)) rewritten as
 * dx = A*dy + (Bc*(x - mean) + Cc) with A = scale (term 1),
 * Cc = -scale*mean(dy) (term 2) and Bc = -scale*istd*mean(dy*x_hat) (term 3). */
NNR_INLINE void dx_segment(const float *x, const float *dy, float *dx, size_t len, const float *mean,
                           const float *a, const float *bc, const float *cc, int step, int stream)
{
    const size_t peel = stream_peel(dx, len, stream);
    const size_t n_vec = (len - peel) / NNR_F32_PER_YMM;
    const size_t n_tail = (len - peel) % NNR_F32_PER_YMM;
    size_t k = 0;

    /* Peel (masked) until dx is 32-byte aligned. */
    if (peel) {
        const __m256i mask = mask_first(peel);
        __m256 centred = _mm256_sub_ps(_mm256_maskload_ps(x, mask), load_coef(mean, 0, step));
        __m256 t23 = _mm256_fmadd_ps(centred, load_coef(bc, 0, step), load_coef(cc, 0, step));
        _mm256_maskstore_ps(dx, mask, _mm256_fmadd_ps(_mm256_maskload_ps(dy, mask), load_coef(a, 0, step), t23));
        k = peel;
    }
    /* Main loop: terms 2 and 3 from the centred x, then term 1 from dy. */
    for (size_t v = 0; v < n_vec; v++, k += NNR_F32_PER_YMM) {
        __m256 centred = _mm256_sub_ps(_mm256_loadu_ps(x + k), load_coef(mean, k, step));
        __m256 t23 = _mm256_fmadd_ps(centred, load_coef(bc, k, step), load_coef(cc, k, step));
        store_out(dx + k, _mm256_fmadd_ps(_mm256_loadu_ps(dy + k), load_coef(a, k, step), t23), stream);
    }
    /* Masked tail. */
    if (n_tail) {
        const __m256i mask = mask_first(n_tail);
        __m256 centred = _mm256_sub_ps(_mm256_maskload_ps(x + k, mask), load_coef(mean, k, step));
        __m256 t23 = _mm256_fmadd_ps(centred, load_coef(bc, k, step), load_coef(cc, k, step));
        _mm256_maskstore_ps(dx + k, mask,
                            _mm256_fmadd_ps(_mm256_maskload_ps(dy + k, mask), load_coef(a, k, step), t23));
    }
}

/* Inference backward: dx = dy * (gamma * istd). */
NNR_INLINE void scale_segment(const float *dy, float *dx, size_t len, const float *a, int step, int stream)
{
    const size_t peel = stream_peel(dx, len, stream);
    const size_t n_vec = (len - peel) / NNR_F32_PER_YMM;
    const size_t n_tail = (len - peel) % NNR_F32_PER_YMM;
    size_t k = 0;

    if (peel) {
        const __m256i mask = mask_first(peel);
        _mm256_maskstore_ps(dx, mask, _mm256_mul_ps(_mm256_maskload_ps(dy, mask), load_coef(a, 0, step)));
        k = peel;
    }
    for (size_t v = 0; v < n_vec; v++, k += NNR_F32_PER_YMM)
        store_out(dx + k, _mm256_mul_ps(_mm256_loadu_ps(dy + k), load_coef(a, k, step)), stream);
    if (n_tail) {
        const __m256i mask = mask_first(n_tail);
        _mm256_maskstore_ps(dx + k, mask, _mm256_mul_ps(_mm256_maskload_ps(dy + k, mask), load_coef(a, k, step)));
    }
}

/* ========================================================================= */
/* Reductions over one contiguous row (post > 1 layout)                      */
/* ========================================================================= */

/* ========================================================================= */
/* Reductions over rows of channels (post == 1 layout)                       */
/* ========================================================================= */

/*
 * Software prefetch of the next row block while the first tile walks the
 * current one: the tiles read each row in pieces of 128 or 256 bytes, a
 * pattern the hardware prefetchers follow poorly, so the whole next block
 * (rows of `width` floats) is requested ahead. rows = 0: no prefetch.
 */
typedef struct prefetch_plan {
    row_cursor cursor;   /* first row of the next block */
    size_t rows;         /* rows of the next block */
    size_t width;        /* floats per row to fetch */
} prefetch_plan;

/*
 * The tile loops over t below are unrolled by pragma: at -O2 GCC does not
 * unroll them on its own even where nv is a constant 4, and then keeps the
 * accumulators a[], q[] in stack memory, every row a load, add and store
 * through store forwarding (about 25% slower on an L2-resident tensor).
 * Unrolled, they live in registers.
 *
 * Shifted sums for channels [c0, c0 + 8*nv) (the last vector holds `last`
 * channels, 1..8) over `rows` rows of ghost j starting at cursor `cur`:
 * s1[k] += sum(x - K[k]), s2[k] += sum((x - K[k])^2). shift, s1 and s2 are
 * indexed from c0. Called with nv = 8 (a wide tile, forward only), 4 (a
 * full tile) or 1.
 */
NNR_INLINE void tile_shifted_sums(const bn_view *v, const float *x, size_t j, row_cursor cur, size_t rows,
                                  size_t c0, int nv, size_t last, const float *shift, double *s1, double *s2,
                                  const prefetch_plan *pf)
{
    row_cursor ahead = pf->cursor;
    __m256 k[8], a[8], q[8];
    const __m256i tail_mask = mask_first(last);
#pragma GCC unroll 8
    for (int t = 0; t < nv; t++) {
        k[t] = _mm256_loadu_ps(shift + t * NNR_F32_PER_YMM);
        a[t] = _mm256_setzero_ps();
        q[t] = _mm256_setzero_ps();
    }
    row_walk w = walk_at(v, x, cur, j, c0), w_ahead = walk_at(v, x, ahead, j, c0);
    for (size_t r = 0; r < rows; r++, walk_next(v, &w)) {
        const float *row = w.row;
        if (r < pf->rows) {
            prefetch_row(w_ahead.row, pf->width);
            walk_next(v, &w_ahead);
        }
#pragma GCC unroll 8
        for (int t = 0; t < nv; t++) {
            /* Padding lanes of shift are 0 and masked x lanes load 0: x - K = 0 there. */
            __m256 xv = (t == nv - 1 && last < NNR_F32_PER_YMM)
                            ? _mm256_maskload_ps(row + t * NNR_F32_PER_YMM, tail_mask)
                            : _mm256_loadu_ps(row + t * NNR_F32_PER_YMM);
            __m256 d = _mm256_sub_ps(xv, k[t]);
            a[t] = _mm256_add_ps(a[t], d);
            q[t] = _mm256_fmadd_ps(d, d, q[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nv; t++) {
        flush_lanes(s1 + t * NNR_F32_PER_YMM, a[t]);
        flush_lanes(s2 + t * NNR_F32_PER_YMM, q[t]);
    }
}

/* As tile_shifted_sums, for the backward: sdy[k] += sum(dy), sdyc[k] += sum(dy*(x - mean[k])). */
NNR_INLINE void tile_dot_sums(const bn_view *v, const float *x, const float *dy, size_t j, row_cursor cur,
                              size_t rows, size_t c0, int nv, size_t last, const float *mean, double *sdy,
                              double *sdyc, const prefetch_plan *pf)
{
    row_cursor ahead = pf->cursor;
    __m256 mu[4], g[4], pr[4];
    const __m256i tail_mask = mask_first(last);
#pragma GCC unroll 4
    for (int t = 0; t < nv; t++) {
        mu[t] = _mm256_loadu_ps(mean + t * NNR_F32_PER_YMM);
        g[t] = _mm256_setzero_ps();
        pr[t] = _mm256_setzero_ps();
    }
    row_walk w = walk_at(v, x, cur, j, c0), w_ahead = walk_at(v, x, ahead, j, c0);
    for (size_t r = 0; r < rows; r++, walk_next(v, &w)) {
        const size_t off = (size_t)(w.row - x);
        if (r < pf->rows) {
            const size_t ahead_off = (size_t)(w_ahead.row - x);
            prefetch_row(x + ahead_off, pf->width);
            prefetch_row(dy + ahead_off, pf->width);
            walk_next(v, &w_ahead);
        }
#pragma GCC unroll 4
        for (int t = 0; t < nv; t++) {
            const size_t o = off + (size_t)t * NNR_F32_PER_YMM;
            const int partial = t == nv - 1 && last < NNR_F32_PER_YMM;
            /* Masked dy lanes are 0; padding lanes of mean are 0, so the product is 0. */
            __m256 d = partial ? _mm256_maskload_ps(dy + o, tail_mask) : _mm256_loadu_ps(dy + o);
            __m256 xv = partial ? _mm256_maskload_ps(x + o, tail_mask) : _mm256_loadu_ps(x + o);
            g[t] = _mm256_add_ps(g[t], d);
            pr[t] = _mm256_fmadd_ps(d, _mm256_sub_ps(xv, mu[t]), pr[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < nv; t++) {
        flush_lanes(sdy + t * NNR_F32_PER_YMM, g[t]);
        flush_lanes(sdyc + t * NNR_F32_PER_YMM, pr[t]);
    }
}

/* Rows per flush for a block of `width` channels: the row block fits in L1d. */
static size_t rows_per_block(size_t width)
{
    size_t rows = NNR_ROW_BLOCK_BYTES / (width * sizeof(float));
    if (rows < 1)
        rows = 1;
    return rows < NNR_MAX_ROWS_PER_FLUSH ? rows : NNR_MAX_ROWS_PER_FLUSH;
}

/*
 * Over the ghost_size*pre rows of ghost j, for channels [c0, c0 + width):
 * shifted sums (backward = 0, with `coef` the shifts K) or dy sums
 * (backward = 1, with `coef` the means). Row blocks outermost so that each
 * block is read from memory once and then from L1d by the other tiles.
 */
static void channels_last_sums(const bn_view *v, const float *x, const float *dy, size_t j, size_t c0,
                               size_t width, const float *coef, double *out1, double *out2, int backward,
                               size_t row_begin, size_t row_end)
{
    const size_t total_rows = v->ghost_size * v->pre;
    const size_t block = rows_per_block(width);
    const size_t n_wide = backward ? 0 : width / NNR_WIDE_TILE_CHANNELS;
    const size_t wide = n_wide * NNR_WIDE_TILE_CHANNELS;
    const size_t n_tiles = (width - wide) / NNR_TILE_CHANNELS;
    const size_t rest = (width - wide) % NNR_TILE_CHANNELS;
    const size_t rest_vecs = (rest + NNR_F32_PER_YMM - 1) / NNR_F32_PER_YMM;

    for (size_t r0 = row_begin; r0 < row_end; r0 += block) {
        const size_t rows = row_end - r0 < block ? row_end - r0 : block;
        const row_cursor cur = cursor_at(v, r0);
        const size_t next0 = r0 + NNR_PREFETCH_BLOCKS * block;
        const prefetch_plan plan = {cursor_at(v, next0 < total_rows ? next0 : 0),
                                    next0 < total_rows ? (total_rows - next0 < block ? total_rows - next0 : block) : 0,
                                    width};
        const prefetch_plan none = {cur, 0, 0};
        int first = 1;   /* the first tile of the block issues the prefetches */
        /* Wide tiles of 64 channels (forward): 8 ymm of each accumulator. */
        for (size_t t = 0; t < n_wide; t++) {
            const size_t k = t * NNR_WIDE_TILE_CHANNELS;
            const prefetch_plan *pf = first ? &plan : &none;
            first = 0;
            tile_shifted_sums(v, x, j, cur, rows, c0 + k, 8, NNR_F32_PER_YMM, coef + k, out1 + k, out2 + k, pf);
        }
        /* Full tiles of 32 channels: 4 ymm of each accumulator in registers. */
        for (size_t t = 0; t < n_tiles; t++) {
            const size_t k = wide + t * NNR_TILE_CHANNELS;
            const prefetch_plan *pf = first ? &plan : &none;
            first = 0;
            if (backward)
                tile_dot_sums(v, x, dy, j, cur, rows, c0 + k, 4, NNR_F32_PER_YMM, coef + k, out1 + k, out2 + k, pf);
            else
                tile_shifted_sums(v, x, j, cur, rows, c0 + k, 4, NNR_F32_PER_YMM, coef + k, out1 + k, out2 + k,
                                  pf);
        }
        /* Remaining channels one vector at a time, the last one masked. */
        for (size_t rv = 0; rv < rest_vecs; rv++) {
            const size_t k = wide + n_tiles * NNR_TILE_CHANNELS + rv * NNR_F32_PER_YMM;
            const size_t lanes = width - k < NNR_F32_PER_YMM ? width - k : NNR_F32_PER_YMM;
            const prefetch_plan *pf = first ? &plan : &none;
            first = 0;
            if (backward)
                tile_dot_sums(v, x, dy, j, cur, rows, c0 + k, 1, lanes, coef + k, out1 + k, out2 + k, pf);
            else
                tile_shifted_sums(v, x, j, cur, rows, c0 + k, 1, lanes, coef + k, out1 + k, out2 + k, pf);
        }
    }
}

/* ========================================================================= */
/* Per-channel scalar steps shared by both layouts (double, as the naive)    */
/* ========================================================================= */

/*
 * Steps 1-2 as a running (count, mean, M2) per channel, merged chunk by chunk
 * in double with the pairwise update of Chan, Golub & LeVeque (1979). Each
 * chunk's float-lane sums s1 = sum(x - K), s2 = sum((x - K)^2) are taken about
 * a shift K near its values (a pilot mean for the first chunk, the mean so far
 * for the others), so the cancellation in s2 - s1^2/n stays small whatever the
 * data: no single value, such as an outlier first sample, conditions the
 * whole reduction, and a constant channel still gives M2 = 0 exactly.
 */
typedef struct moments {
    double n, mean, m2;
} moments;

static void moments_merge(moments *acc, double n_b, double shift, double s1, double s2)
{
    const double d = s1 / n_b;
    const double mean_b = shift + d;
    double m2_b = s2 - s1 * d;
    if (m2_b < 0.0)
        m2_b = 0.0;   /* rounding may leave -tiny when the chunk is constant; NaN passes */
    if (acc->n == 0.0) {
        acc->n = n_b;
        acc->mean = mean_b;
        acc->m2 = m2_b;
        return;
    }
    const double n = acc->n + n_b, delta = mean_b - acc->mean;
    acc->mean += delta * (n_b / n);
    acc->m2 += m2_b + delta * delta * (acc->n * n_b / n);
    acc->n = n;
}

/*
 * Steps 1-2 of the naive kernel, scalar and in double, for a channel whose
 * float-lane sums were not finite: values whose squares overflow float
 * (|x - K| above ~1.8e19), or NaN and Inf inputs, which then give the same
 * NaN or Inf statistics as the naive kernel. Rare, so plain loops.
 */
static void exact_moments(const bn_view *v, const float *x, size_t j, size_t c, double *mean, double *var)
{
    const size_t rows = v->ghost_size * v->pre;
    double sum = 0.0, sum_sq = 0.0;
    row_cursor cur = cursor_at(v, 0);
    for (size_t r = 0; r < rows; r++, cursor_next(v, &cur))
        for (size_t q = 0; q < v->post; q++)
            sum += x[cursor_offset(v, cur, j, c) + q];
    const double mu = sum / (double)v->m;
    cur = cursor_at(v, 0);
    for (size_t r = 0; r < rows; r++, cursor_next(v, &cur))
        for (size_t q = 0; q < v->post; q++) {
            const double centred = x[cursor_offset(v, cur, j, c) + q] - mu;
            sum_sq += centred * centred;
        }
    *mean = mu;
    *var = sum_sq / (double)v->m;
}

/* Mean and biased variance of channel c, ghost j, from its merged moments. */
static void final_moments(const bn_view *v, const float *x, size_t j, size_t c, const moments *acc,
                          double *mean, double *var)
{
    if (isfinite(acc->mean) && isfinite(acc->m2)) {
        *mean = acc->mean;
        *var = acc->m2 / acc->n;
    } else {
        exact_moments(v, x, j, c, mean, var);
    }
}

/* Float coefficients of step 5 for one channel and ghost batch. */
typedef struct fwd_coef {
    float mean_hi, mean_lo, a, b;
} fwd_coef;

/* Steps 3-4 of the naive forward: istd, cache, renorm r and d; returns the coefficients of step 5. */
static fwd_coef forward_channel(const nnr_batchnorm_params *p, const nnr_batchnorm_cache *cache,
                                const nnr_batchnorm_state *state, const float *gamma, const float *beta,
                                size_t j, size_t C, size_t c, double mu, double var)
{
    const double g = p->scale ? (double)gamma[c] : 1.0;
    const double b = p->center ? (double)beta[c] : 0.0;
    const double istd = nnr_bn_batch_istd(var, p->epsilon);
    cache->mean[j * C + c] = (float)mu;
    cache->istd[j * C + c] = (float)istd;
    double r = 1.0, d = 0.0;
    if (p->renorm) {
        nnr_bn_renorm_correction(p, state, c, mu, var, &r, &d);
        cache->r[c] = (float)r;
        cache->d[c] = (float)d;
    }
    fwd_coef k;
    k.mean_hi = (float)mu;
    k.mean_lo = (float)(mu - (double)k.mean_hi);
    k.a = (float)(g * r * istd);
    k.b = (float)(g * d + b);
    return k;
}

/* Backward coefficients of one channel and ghost batch from the two sums. */
typedef struct bwd_coef {
    float a, bc, cc;
} bwd_coef;

static bwd_coef backward_channel(double g, double r, double istd, double m, double sum_dy, double sum_dy_xhat)
{
    const double scale = g * r * istd;
    bwd_coef k;
    k.a = (float)scale;                                      /* term 1 */
    k.cc = (float)(-scale * (sum_dy / m));                   /* term 2 */
    k.bc = (float)(-scale * istd * (sum_dy_xhat / m));       /* term 3, per unit of (x - mean) */
    return k;
}

static int use_streaming(const bn_view *v)
{
    return v->count * sizeof(float) >= NNR_STREAM_MIN_BYTES;
}

#ifdef NNR_USE_OPENMP
/* Is a loop over `floats` elements of each of `tensors` tensors worth a thread team? */
static int worth_threads(size_t floats, size_t tensors)
{
    return floats * tensors * sizeof(float) >= NNR_OMP_MIN_BYTES;
}
#endif

/* ========================================================================= */
/* Training forward                                                          */
/* ========================================================================= */

/* post > 1: one channel at a time, its rows reduced then normalized while in L2. */
static void fwd_train_rows(const nnr_batchnorm_params *p, const bn_view *v, const float *x, const float *gamma,
                           const float *beta, float *y, const nnr_batchnorm_cache *cache,
                           nnr_batchnorm_state *state, double factor, int stream)
{
    const size_t C = v->c, G = v->groups, rows = v->ghost_size * v->pre;
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static) if(worth_threads(v->count, 2))
#endif
    for (size_t c = 0; c < C; c++) {
        double mean_over_ghosts = 0.0, var_over_ghosts = 0.0;
        for (size_t j = 0; j < G; j++) {
            /* steps 1-2: shifted sums row by row, merged into the moments; the
             * first row is shifted by its own pilot mean, each later row by the
             * mean so far */
            moments acc = {0.0, 0.0, 0.0};
            row_cursor cur = cursor_at(v, 0);
            for (size_t r = 0; r < rows; r++, cursor_next(v, &cur)) {
                const float *row = x + cursor_offset(v, cur, j, c);
                float shift = (float)acc.mean;
                if (r == 0) {
                    double pilot = 0.0, unused = 0.0;
                    run_shifted_sums(row, v->post, 0.0f, &pilot, &unused);
                    shift = (float)(pilot / (double)v->post);
                }
                double s1 = 0.0, s2 = 0.0;
                run_shifted_sums(row, v->post, shift, &s1, &s2);
                moments_merge(&acc, (double)v->post, shift, s1, s2);
            }
            double mu, var;
            final_moments(v, x, j, c, &acc, &mu, &var);
            mean_over_ghosts += mu / (double)G;
            var_over_ghosts += var / (double)G;

            /* steps 3-4, then step 5 over the same rows (now in L2) */
            const fwd_coef k = forward_channel(p, cache, state, gamma, beta, j, C, c, mu, var);
            cur = cursor_at(v, 0);
            for (size_t r = 0; r < rows; r++, cursor_next(v, &cur)) {
                const size_t off = cursor_offset(v, cur, j, c);
                affine_segment(x + off, y + off, v->post, &k.mean_hi, &k.mean_lo, &k.a, &k.b, 0, stream);
            }
        }
        /* step 6 */
        if (state != NULL)
            nnr_bn_update_running(p, state, c, factor, v->m, mean_over_ghosts, var_over_ghosts);
    }
}

/* post == 1: blocks of channels; per ghost batch, shifted sums over all rows, then normalize. */
static void fwd_train_channels_last(const nnr_batchnorm_params *p, const bn_view *v, const float *x,
                                    const float *gamma, const float *beta, float *y,
                                    const nnr_batchnorm_cache *cache, nnr_batchnorm_state *state, double factor,
                                    int stream)
{
    const size_t C = v->c, G = v->groups, rows = v->ghost_size * v->pre;
    float shift[NNR_SCRATCH], mean_hi[NNR_SCRATCH], mean_lo[NNR_SCRATCH], a[NNR_SCRATCH], b[NNR_SCRATCH];
    double s1[NNR_SCRATCH], s2[NNR_SCRATCH], mean_og[NNR_CHANNEL_BLOCK], var_og[NNR_CHANNEL_BLOCK];
    moments acc[NNR_CHANNEL_BLOCK];

    for (size_t c0 = 0; c0 < C; c0 += NNR_CHANNEL_BLOCK) {
        const size_t width = C - c0 < NNR_CHANNEL_BLOCK ? C - c0 : NNR_CHANNEL_BLOCK;
        for (size_t k = 0; k < width; k++)
            mean_og[k] = var_og[k] = 0.0;
        for (size_t j = 0; j < G; j++) {
            /* steps 1-2: first shifts K = pilot means of the first rows (padding
             * lanes stay 0), then shifted sums NNR_MERGE_ROWS rows at a time,
             * merged into the moments, each chunk shifted by the mean so far */
            const size_t pilot_rows = rows < NNR_PILOT_ROWS ? rows : NNR_PILOT_ROWS;
            for (size_t k = 0; k < NNR_SCRATCH; k++)
                shift[k] = 0.0f, s1[k] = s2[k] = 0.0;
            channels_last_sums(v, x, NULL, j, c0, width, shift, s1, s2, 0, 0, pilot_rows);
            for (size_t k = 0; k < width; k++) {
                shift[k] = (float)(s1[k] / (double)pilot_rows);
                acc[k] = (moments){0.0, 0.0, 0.0};
            }
            for (size_t r0 = 0; r0 < rows; r0 += NNR_MERGE_ROWS) {
                const size_t r1 = rows - r0 < NNR_MERGE_ROWS ? rows : r0 + NNR_MERGE_ROWS;
                for (size_t k = 0; k < NNR_SCRATCH; k++)
                    s1[k] = s2[k] = 0.0;
                channels_last_sums(v, x, NULL, j, c0, width, shift, s1, s2, 0, r0, r1);
                for (size_t k = 0; k < width; k++) {
                    moments_merge(&acc[k], (double)(r1 - r0), shift[k], s1[k], s2[k]);
                    shift[k] = (float)acc[k].mean;
                }
            }

            /* steps 3-4 per channel */
            for (size_t k = 0; k < width; k++) {
                double mu, var;
                final_moments(v, x, j, c0 + k, &acc[k], &mu, &var);
                mean_og[k] += mu / (double)G;
                var_og[k] += var / (double)G;
                const fwd_coef kc = forward_channel(p, cache, state, gamma, beta, j, C, c0 + k, mu, var);
                mean_hi[k] = kc.mean_hi;
                mean_lo[k] = kc.mean_lo;
                a[k] = kc.a;
                b[k] = kc.b;
            }

            /* step 5 over every row of the ghost batch; samples are independent */
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static) if(worth_threads(v->ghost_size * v->pre * width, 2))
#endif
            for (size_t vi = 0; vi < v->ghost_size; vi++) {
                row_cursor cur = {vi, 0};
                for (size_t pi = 0; pi < v->pre; pi++, cur.p++) {
                    const size_t off = cursor_offset(v, cur, j, c0);
                    affine_segment(x + off, y + off, width, mean_hi, mean_lo, a, b, 1, stream);
                }
            }
        }
        /* step 6 */
        if (state != NULL)
            for (size_t k = 0; k < width; k++)
                nnr_bn_update_running(p, state, c0 + k, factor, v->m, mean_og[k], var_og[k]);
    }
}

nnr_status nnr_batchnorm_fwd_train_avx2(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                        const float *x, const float *gamma, const float *beta,
                                        float *y, const nnr_batchnorm_cache *cache,
                                        nnr_batchnorm_state *state)
{
    bn_view view;
    nnr_status st = nnr_bn_check_fwd_train(p, shape, x, gamma, beta, y, cache, state, &view);
    if (st.code != NNR_OK)
        return st;

    double factor = 0.0;   /* weight of the new batch in the running statistics */
    if (state != NULL) {
        state->num_batches_tracked += 1;
        factor = nnr_bn_update_factor(p, state->num_batches_tracked);
    }
    const int stream = use_streaming(&view);
    if (view.post > 1)
        fwd_train_rows(p, &view, x, gamma, beta, y, cache, state, factor, stream);
    else
        fwd_train_channels_last(p, &view, x, gamma, beta, y, cache, state, factor, stream);
    if (stream)
        _mm_sfence();   /* make the non-temporal stores visible before returning */
    return nnr_ok();
}

/* ========================================================================= */
/* Inference forward                                                         */
/* ========================================================================= */

nnr_status nnr_batchnorm_fwd_infer_avx2(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                        const float *x, const float *gamma, const float *beta,
                                        float *y, const nnr_batchnorm_state *state)
{
    bn_view view;
    nnr_status st = nnr_bn_check_fwd_infer(p, shape, x, gamma, beta, y, state, &view);
    if (st.code != NNR_OK)
        return st;
    const bn_view *v = &view;
    const int stream = use_streaming(v);
    const size_t C = v->c, rows = v->n * v->pre;
    const float zero = 0.0f;
    /* No ghost batches in inference: every row belongs to "ghost" 0 of a single group. */
    view.groups = 1;
    view.ghost_size = view.n;

    if (v->post > 1) {
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static) if(worth_threads(v->count, 2))
#endif
        for (size_t c = 0; c < C; c++) {
            /* y = A * (x - running_mean) + beta with A = gamma * (running_var + eps)^(-1/2) */
            const double g = p->scale ? (double)gamma[c] : 1.0;
            const float a = (float)(g / sqrt((double)state->running_var[c] + p->epsilon));
            const float b = p->center ? beta[c] : 0.0f;
            row_cursor cur = cursor_at(v, 0);
            for (size_t r = 0; r < rows; r++, cursor_next(v, &cur)) {
                const size_t off = cursor_offset(v, cur, 0, c);
                affine_segment(x + off, y + off, v->post, &state->running_mean[c], &zero, &a, &b, 0, stream);
            }
        }
    } else {
        float mean[NNR_SCRATCH], a[NNR_SCRATCH], b[NNR_SCRATCH], zeros[NNR_SCRATCH];
        for (size_t c0 = 0; c0 < C; c0 += NNR_CHANNEL_BLOCK) {
            const size_t width = C - c0 < NNR_CHANNEL_BLOCK ? C - c0 : NNR_CHANNEL_BLOCK;
            /* Per-channel A and B as above, for this block of channels; padded
             * copies so that a masked tail never reads past the caller's arrays. */
            for (size_t k = 0; k < NNR_SCRATCH; k++)
                mean[k] = a[k] = b[k] = zeros[k] = 0.0f;
            for (size_t k = 0; k < width; k++) {
                const double g = p->scale ? (double)gamma[c0 + k] : 1.0;
                mean[k] = state->running_mean[c0 + k];
                a[k] = (float)(g / sqrt((double)state->running_var[c0 + k] + p->epsilon));
                b[k] = p->center ? beta[c0 + k] : 0.0f;
            }
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static) if(worth_threads(rows * width, 2))
#endif
            for (size_t r = 0; r < rows; r++) {
                const size_t off = r * C + c0;   /* post == 1, no ghosts: rows are contiguous */
                affine_segment(x + off, y + off, width, mean, zeros, a, b, 1, stream);
            }
        }
    }
    if (stream)
        _mm_sfence();
    return nnr_ok();
}

/* ========================================================================= */
/* Training backward (closed form)                                           */
/* ========================================================================= */

nnr_status nnr_batchnorm_bwd_train_avx2(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                        const float *x, const float *gamma,
                                        const nnr_batchnorm_cache *cache, const float *dy,
                                        float *dx, float *dgamma, float *dbeta)
{
    bn_view view;
    nnr_status st = nnr_bn_check_bwd_train(p, shape, x, gamma, cache, dy, dx, dgamma, dbeta, &view);
    if (st.code != NNR_OK)
        return st;
    const bn_view *v = &view;
    const int stream = use_streaming(v);
    const size_t C = v->c, G = v->groups, rows = v->ghost_size * v->pre;
    const double m = (double)v->m;

    if (v->post > 1) {
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static) if(worth_threads(v->count, 3))
#endif
        for (size_t c = 0; c < C; c++) {
            const double g = p->scale ? (double)gamma[c] : 1.0;
            const double r = p->renorm ? (double)cache->r[c] : 1.0;
            const double d = p->renorm ? (double)cache->d[c] : 0.0;
            double dgamma_c = 0.0, dbeta_c = 0.0;
            for (size_t j = 0; j < G; j++) {
                const float mu = cache->mean[j * C + c];
                const double istd = cache->istd[j * C + c];

                /* first: sum(dy) and sum(dy * (x - mu)) = sum(dy * x_hat) / istd */
                double sum_dy = 0.0, sum_dyc = 0.0;
                row_cursor cur = cursor_at(v, 0);
                for (size_t i = 0; i < rows; i++, cursor_next(v, &cur)) {
                    const size_t off = cursor_offset(v, cur, j, c);
                    run_dy_sums(x + off, dy + off, v->post, mu, &sum_dy, &sum_dyc);
                }
                const double sum_dy_xhat = sum_dyc * istd;

                /* dbeta = sum(dy);  dgamma = sum(dy * (r * x_hat + d)) */
                dbeta_c += sum_dy;
                dgamma_c += r * sum_dy_xhat + d * sum_dy;

                /* dx over the same rows, still in L2 */
                const bwd_coef k = backward_channel(g, r, istd, m, sum_dy, sum_dy_xhat);
                cur = cursor_at(v, 0);
                for (size_t i = 0; i < rows; i++, cursor_next(v, &cur)) {
                    const size_t off = cursor_offset(v, cur, j, c);
                    dx_segment(x + off, dy + off, dx + off, v->post, &mu, &k.a, &k.bc, &k.cc, 0, stream);
                }
            }
            if (p->scale)
                dgamma[c] = (float)dgamma_c;
            if (p->center)
                dbeta[c] = (float)dbeta_c;
        }
    } else {
        float mean[NNR_SCRATCH], a[NNR_SCRATCH], bc[NNR_SCRATCH], cc[NNR_SCRATCH];
        double sdy[NNR_SCRATCH], sdyc[NNR_SCRATCH], dgamma_c[NNR_CHANNEL_BLOCK], dbeta_c[NNR_CHANNEL_BLOCK];
        for (size_t c0 = 0; c0 < C; c0 += NNR_CHANNEL_BLOCK) {
            const size_t width = C - c0 < NNR_CHANNEL_BLOCK ? C - c0 : NNR_CHANNEL_BLOCK;
            for (size_t k = 0; k < width; k++)
                dgamma_c[k] = dbeta_c[k] = 0.0;
            for (size_t j = 0; j < G; j++) {
                /* first: sum(dy) and sum(dy * (x - mu)) per channel; padding lanes 0 */
                for (size_t k = 0; k < NNR_SCRATCH; k++) {
                    mean[k] = k < width ? cache->mean[j * C + c0 + k] : 0.0f;
                    sdy[k] = sdyc[k] = 0.0;
                }
                channels_last_sums(v, x, dy, j, c0, width, mean, sdy, sdyc, 1, 0, v->ghost_size * v->pre);

                /* dbeta, dgamma and the dx coefficients per channel */
                for (size_t k = 0; k < width; k++) {
                    const size_t c = c0 + k;
                    const double g = p->scale ? (double)gamma[c] : 1.0;
                    const double r = p->renorm ? (double)cache->r[c] : 1.0;
                    const double d = p->renorm ? (double)cache->d[c] : 0.0;
                    const double istd = cache->istd[j * C + c];
                    const double sum_dy_xhat = sdyc[k] * istd;
                    dbeta_c[k] += sdy[k];
                    dgamma_c[k] += r * sum_dy_xhat + d * sdy[k];
                    const bwd_coef kc = backward_channel(g, r, istd, m, sdy[k], sum_dy_xhat);
                    a[k] = kc.a;
                    bc[k] = kc.bc;
                    cc[k] = kc.cc;
                }

                /* dx over every row of the ghost batch */
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static) if(worth_threads(v->ghost_size * v->pre * width, 3))
#endif
                for (size_t vi = 0; vi < v->ghost_size; vi++) {
                    row_cursor cur = {vi, 0};
                    for (size_t pi = 0; pi < v->pre; pi++, cur.p++) {
                        const size_t off = cursor_offset(v, cur, j, c0);
                        dx_segment(x + off, dy + off, dx + off, width, mean, a, bc, cc, 1, stream);
                    }
                }
            }
            for (size_t k = 0; k < width; k++) {
                if (p->scale)
                    dgamma[c0 + k] = (float)dgamma_c[k];
                if (p->center)
                    dbeta[c0 + k] = (float)dbeta_c[k];
            }
        }
    }
    if (stream)
        _mm_sfence();
    return nnr_ok();
}

/* ========================================================================= */
/* Inference backward: running statistics are constants                      */
/* ========================================================================= */

nnr_status nnr_batchnorm_bwd_infer_avx2(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                        const float *x, const float *gamma,
                                        const nnr_batchnorm_state *state, const float *dy,
                                        float *dx, float *dgamma, float *dbeta)
{
    bn_view view;
    nnr_status st = nnr_bn_check_bwd_infer(p, shape, x, gamma, state, dy, dx, dgamma, dbeta, &view);
    if (st.code != NNR_OK)
        return st;
    /* No ghost batches in inference. */
    view.groups = 1;
    view.ghost_size = view.n;
    const bn_view *v = &view;
    const int stream = use_streaming(v);
    const size_t C = v->c, rows = v->n * v->pre;

    if (v->post > 1) {
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static) if(worth_threads(v->count, 3))
#endif
        for (size_t c = 0; c < C; c++) {
            const double g = p->scale ? (double)gamma[c] : 1.0;
            const double istd = 1.0 / sqrt((double)state->running_var[c] + p->epsilon);
            const float a = (float)(g * istd);
            /* dgamma = sum(dy * (x - mu)) * istd;  dbeta = sum(dy) */
            double sum_dy = 0.0, sum_dyc = 0.0;
            row_cursor cur = cursor_at(v, 0);
            for (size_t i = 0; i < rows; i++, cursor_next(v, &cur)) {
                const size_t off = cursor_offset(v, cur, 0, c);
                run_dy_sums(x + off, dy + off, v->post, state->running_mean[c], &sum_dy, &sum_dyc);
            }
            /* dx = dy * gamma * istd */
            cur = cursor_at(v, 0);
            for (size_t i = 0; i < rows; i++, cursor_next(v, &cur)) {
                const size_t off = cursor_offset(v, cur, 0, c);
                scale_segment(dy + off, dx + off, v->post, &a, 0, stream);
            }
            if (p->scale)
                dgamma[c] = (float)(sum_dyc * istd);
            if (p->center)
                dbeta[c] = (float)sum_dy;
        }
    } else {
        float mean[NNR_SCRATCH], a[NNR_SCRATCH];
        double sdy[NNR_SCRATCH], sdyc[NNR_SCRATCH];
        for (size_t c0 = 0; c0 < C; c0 += NNR_CHANNEL_BLOCK) {
            const size_t width = C - c0 < NNR_CHANNEL_BLOCK ? C - c0 : NNR_CHANNEL_BLOCK;
            for (size_t k = 0; k < NNR_SCRATCH; k++) {
                mean[k] = k < width ? state->running_mean[c0 + k] : 0.0f;
                a[k] = 0.0f;
                sdy[k] = sdyc[k] = 0.0;
            }
            for (size_t k = 0; k < width; k++) {
                const double g = p->scale ? (double)gamma[c0 + k] : 1.0;
                a[k] = (float)(g / sqrt((double)state->running_var[c0 + k] + p->epsilon));
            }
            /* dgamma = sum(dy * (x - mu)) * istd;  dbeta = sum(dy) */
            channels_last_sums(v, x, dy, 0, c0, width, mean, sdy, sdyc, 1, 0, v->ghost_size * v->pre);
            /* dx = dy * gamma * istd */
#ifdef NNR_USE_OPENMP
#pragma omp parallel for schedule(static) if(worth_threads(rows * width, 2))
#endif
            for (size_t r = 0; r < rows; r++)
                scale_segment(dy + r * C + c0, dx + r * C + c0, width, a, 1, stream);
            for (size_t k = 0; k < width; k++) {
                const double istd = 1.0 / sqrt((double)state->running_var[c0 + k] + p->epsilon);
                if (p->scale)
                    dgamma[c0 + k] = (float)(sdyc[k] * istd);
                if (p->center)
                    dbeta[c0 + k] = (float)sdy[k];
            }
        }
    }
    if (stream)
        _mm_sfence();
    return nnr_ok();
}
