/*
 * Conv1D/Conv2D, AVX2 + FMA kernels: im2col blocks and the shared packed
 * GEMM (src/gemm/gemm.h), forward and backward (dx, dW, db).
 *
 * The naive kernel (conv_naive.c) sums, for every output, C_in * taps
 * products. Written as a matrix product per sample n, with K = C_in * taps
 * and P = out_h * out_w output positions:
 *
 *   col[k][p]  = x[n, c, q*s - p_pad + j*d]    (0 in the padding)   K x P
 *   W[o][k]    = w[o, c, j]                                          C_out x K
 *   y[o][p]    = b[o] + sum_k W[o][k] col[k][p]                      C_out x P
 *
 * with k = (c, j) in the order the weight layout stores them (PyTorch:
 * k = c*taps + j; Keras: k = j*C_in + c), so W is the weight buffer itself,
 * read through two strides. Backward (docs/conv-backward.md):
 *
 *   term 1  db[o]      = sum_{n,p} dy[o][p]
 *   term 2  dW[o][k]   = sum_n sum_p dy[o][p] col[k][p]       (dY · colᵀ)
 *   term 3  dcol[k][p] = sum_o W[o][k] dy[o][p]               (Wᵀ · dY)
 *           dx[n, c, i] = sum of dcol[k][p] over the (k, p) whose tap reads i (col2im)
 *
 * Which operand is "A" and which "B" follows the data layout: GEMM writes C
 * with unit column stride, so channels_first (y a C_out x P matrix) computes
 * W·col, channels_last (y a P x C_out matrix) computes colᵀ·Wᵀ; the
 * transposes are only swapped strides (gemm.h), never copies.
 *
 * Memory: col is built for a block of whole output rows of one sample at a
 * time, sized to about CONV_COL_BLOCK_FLOATS (an L2-sized block, not the
 * whole K x N*P matrix); the backward reuses the same block for dcol after
 * dW has used col. A 1x1 kernel with stride 1 and no padding needs no col:
 * x (and dx) are already K x P (channels_first) or P x K (channels_last).
 * Workspace = the col block + the GEMM's packing space
 * (nnr_conv_workspace_size_avx2()), and for channels_first with PyTorch
 * weights a K x C_out accumulator for dWᵀ (see the backward).
 *
 * Summation order differs from the naive kernel's (the GEMM sums k in
 * blocks; dx adds its taps in col2im order; db and dW add per block), so
 * results agree to rounding, not bitwise: tests/conv_crosscheck.c states
 * the bounds.
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "conv_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include "conv_internal.h"
#include "gemm/gemm.h"
#include "norm/avx2_util.h"

#define NNR_F32_PER_YMM 8

/* Target size of one im2col block in floats (512 KiB, half this machine's
 * 1 MiB L2, leaving room for the GEMM's packed panels): at least one output
 * row, then as many whole rows as fit. For the 3x3, 64-channel layer
 * on 56x56 that is 4 rows, 224 positions: GEMMs of 64 x 224 x 576, large
 * enough that packing W once per block costs ~2 %. Measured on that layer
 * (CPU time, best of 5, a loaded 2-core VM), blocks of 2^16 .. 2^19 floats
 * gave the same forward within noise (70-77 GFLOP/s); 2^16 and 2^17 gave the
 * channels_first weight gradient 62-67 against 57-58 for 2^18 and 2^19. */
#ifndef CONV_COL_BLOCK_FLOATS
#define CONV_COL_BLOCK_FLOATS ((size_t)1 << 17)
#endif

/* The plan of a call: how col is made and addressed. col[k][p] of a block
 * sits at col + k*col_k + p*col_p (p counted from the block's first position). */
typedef struct conv_plan {
    size_t k;               /* K = C_in * taps */
    size_t rows_per_block;  /* output rows per block (the last block may have fewer) */
    int direct;             /* 1x1, stride 1, no padding: col is x itself, dcol is dx itself */
    size_t col_floats;      /* floats of the col block in the workspace (0 when direct) */
    int dw_transposed;      /* channels_first with PyTorch weights: dW is summed as dWᵀ (K x C_out) */
    size_t dwt_floats;      /* that dWᵀ's floats in the workspace (K * C_out), else 0 */
    size_t gemm_floats;     /* the GEMM's packing space, the largest of the three products */
} conv_plan;

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

static nnr_status make_plan(const conv_view *v, conv_plan *pl)
{
    const conv_axis *ah = &v->axis[0], *aw = &v->axis[1];
    pl->k = v->cin * v->taps;           /* divides w_count: fits */
    pl->direct = v->taps == 1 && ah->stride == 1 && aw->stride == 1 && ah->pad_before == 0 &&
                 aw->pad_before == 0 && ah->out == ah->in && aw->out == aw->in;
    size_t row_floats;
    if (!nnr_size_mul(pl->k, aw->out, &row_floats))
        return nnr_error(NNR_ERR_OVERFLOW, "one output row's im2col block (C_in x taps x out_w = %zu x %zu) has more "
                                           "floats than size_t holds", pl->k, aw->out);
    size_t rows = row_floats >= CONV_COL_BLOCK_FLOATS ? 1 : CONV_COL_BLOCK_FLOATS / row_floats;
    if (rows > ah->out)
        rows = ah->out;
    pl->rows_per_block = rows;
    pl->col_floats = pl->direct ? 0 : row_floats * rows;
    pl->dw_transposed = v->layout == NNR_CHANNELS_FIRST && v->weight_layout == NNR_CONV_WEIGHT_TORCH;
    pl->dwt_floats = pl->dw_transposed ? pl->k * v->cout : 0;      /* = w_count: fits */
    /* The three products of a block of P_b positions (either orientation
     * has the same m, n, k up to a swap of m and n, and the GEMM's space
     * depends on both): forward C_out x P_b x K, dW C_out x K x P_b, dcol
     * K x P_b x C_out. */
    const size_t pb = rows * aw->out;
    const size_t fwd = max_size(nnr_sgemm_avx2_workspace_floats(v->cout, pb, pl->k),
                                nnr_sgemm_avx2_workspace_floats(pb, v->cout, pl->k));
    const size_t dw = max_size(nnr_sgemm_avx2_workspace_floats(v->cout, pl->k, pb),
                               nnr_sgemm_avx2_workspace_floats(pl->k, v->cout, pb));
    const size_t dx = max_size(nnr_sgemm_avx2_workspace_floats(pl->k, pb, v->cout),
                               nnr_sgemm_avx2_workspace_floats(pb, pl->k, v->cout));
    pl->gemm_floats = max_size(fwd, max_size(dw, dx));
    if (pl->gemm_floats > SIZE_MAX / sizeof(float) - pl->col_floats - pl->dwt_floats)
        return nnr_error(NNR_ERR_OVERFLOW, "the AVX2 convolution's workspace has more bytes than size_t holds");
    return nnr_ok();
}

nnr_status nnr_conv_workspace_size_avx2(const nnr_conv_params *p, const nnr_shape *in_shape, size_t *floats)
{
    conv_view v;
    nnr_status st = nnr_conv_view_make(p, in_shape, &v);
    if (st.code != NNR_OK)
        return st;
    if (floats == NULL)
        return nnr_error(NNR_ERR_NULL, "floats is NULL");
    conv_plan pl;
    st = make_plan(&v, &pl);
    if (st.code != NNR_OK)
        return st;
    *floats = pl.col_floats + pl.dwt_floats + pl.gemm_floats;
    return nnr_ok();
}

/* Strides of the operands in elements: the weight matrix W[o][k], and for
 * the sample's y/dy and the block's col, the (channel-or-k, position) pair. */
typedef struct conv_strides {
    ptrdiff_t w_o, w_k;       /* W[o][k] = w[o*w_o + k*w_k] */
    ptrdiff_t y_o, y_p;       /* y[o][p] of one sample */
    ptrdiff_t col_k, col_p;   /* col[k][p] of one block */
} conv_strides;

static void make_strides(const conv_view *v, const conv_plan *pl, size_t block_positions, conv_strides *st)
{
    if (v->weight_layout == NNR_CONV_WEIGHT_TORCH) {   /* (C_out, C_in, taps): k = c*taps + j */
        st->w_o = (ptrdiff_t)pl->k;
        st->w_k = 1;
    } else {                                            /* (taps, C_in, C_out): k = j*C_in + c */
        st->w_o = 1;
        st->w_k = (ptrdiff_t)v->cout;
    }
    if (v->layout == NNR_CHANNELS_FIRST) {
        st->y_o = (ptrdiff_t)v->out_plane;
        st->y_p = 1;
        /* col block K x P_b, rows of positions; direct: x's (C_in x P) planes */
        st->col_k = pl->direct ? (ptrdiff_t)v->in_plane : (ptrdiff_t)block_positions;
        st->col_p = 1;
    } else {
        st->y_o = 1;
        st->y_p = (ptrdiff_t)v->cout;
        /* col block P_b x K, one row of K per position; direct: x's (P x C_in) rows */
        st->col_k = 1;
        st->col_p = (ptrdiff_t)pl->k;
    }
}

/* Outputs q of an axis whose tap j reads inside [0, in): q in [*lo, *hi). */
static void tap_range(const conv_axis *a, size_t j, size_t *lo, size_t *hi)
{
    const ptrdiff_t off = (ptrdiff_t)(j * a->dilation) - (ptrdiff_t)a->pad_before;   /* position of q = 0 */
    const ptrdiff_t s = (ptrdiff_t)a->stride, n = (ptrdiff_t)a->in;
    ptrdiff_t l = off >= 0 ? 0 : (-off + s - 1) / s;                    /* first q with q*s + off >= 0 */
    ptrdiff_t h = off >= n ? 0 : (n - 1 - off) / s + 1;                 /* first q with q*s + off >= n */
    if (h > (ptrdiff_t)a->out)
        h = (ptrdiff_t)a->out;
    if (l > h)
        l = h;
    *lo = (size_t)l;
    *hi = (size_t)h;
}

/* Index k of (channel c, tap j) in the weight layout's order. */
static size_t k_index(const conv_view *v, size_t c, size_t tap)
{
    return v->weight_layout == NNR_CONV_WEIGHT_TORCH ? c * v->taps + tap : tap * v->cin + c;
}

/* dst[i] = src[i], i < len: 8 lanes at a time, the tail masked. im2col's
 * runs are one output row or C_in channels long, so a libc memcpy/memset
 * call per run cost more than the copy (10 % of the forward in a profile). */
static inline void copy_run(float *dst, const float *src, size_t len)
{
    const size_t n_vec = len / NNR_F32_PER_YMM, n_tail = len % NNR_F32_PER_YMM;
    for (size_t i = 0; i < n_vec; i++)
        _mm256_storeu_ps(dst + i * NNR_F32_PER_YMM, _mm256_loadu_ps(src + i * NNR_F32_PER_YMM));
    if (n_tail) {
        const __m256i mask = mask_first(n_tail);
        _mm256_maskstore_ps(dst + n_vec * NNR_F32_PER_YMM, mask,
                            _mm256_maskload_ps(src + n_vec * NNR_F32_PER_YMM, mask));
    }
}

/* dst[i] = 0, i < len (the padding cells of a run). */
static inline void zero_run(float *dst, size_t len)
{
    const size_t n_vec = len / NNR_F32_PER_YMM;
    for (size_t i = 0; i < n_vec; i++)
        _mm256_storeu_ps(dst + i * NNR_F32_PER_YMM, _mm256_setzero_ps());
    for (size_t i = n_vec * NNR_F32_PER_YMM; i < len; i++)   /* tail */
        dst[i] = 0.0f;
}

/*
 * im2col of output rows [qh0, qh0 + rows) of sample n (x_n: the sample's
 * first element): col[k][p] = x[n, c, q*s - pad + j*d], 0 in the padding,
 * laid out by st->col_k / st->col_p.
 */
static void im2col(const conv_view *v, const conv_strides *st, const float *x_n, size_t qh0, size_t rows, float *col)
{
    const conv_axis *ah = &v->axis[0], *aw = &v->axis[1];
    const size_t ow = aw->out;
    for (size_t jh = 0; jh < ah->kernel; jh++)
        for (size_t jw = 0; jw < aw->kernel; jw++) {
            const size_t tap = jh * aw->kernel + jw;
            size_t w_lo, w_hi;
            tap_range(aw, jw, &w_lo, &w_hi);
            for (size_t r = 0; r < rows; r++) {
                const ptrdiff_t ih = conv_tap_pos(ah, qh0 + r, jh);
                const int row_inside = ih >= 0 && ih < (ptrdiff_t)ah->in;
                const size_t p_row = r * ow;
                if (v->layout == NNR_CHANNELS_FIRST) {
                    /* one run of out_w positions per (c, tap): zeros, the
                     * in-bounds columns (a copy at stride 1), zeros */
                    for (size_t c = 0; c < v->cin; c++) {
                        float *dst = col + (ptrdiff_t)k_index(v, c, tap) * st->col_k + (ptrdiff_t)p_row;
                        if (!row_inside || w_lo >= w_hi) {
                            zero_run(dst, ow);
                            continue;
                        }
                        const float *src = x_n + c * v->in_plane + (size_t)ih * aw->in;
                        zero_run(dst, w_lo);
                        const ptrdiff_t iw0 = conv_tap_pos(aw, w_lo, jw);
                        if (aw->stride == 1)
                            copy_run(dst + w_lo, src + iw0, w_hi - w_lo);
                        else
                            for (size_t qw = w_lo; qw < w_hi; qw++)
                                dst[qw] = src[iw0 + (ptrdiff_t)((qw - w_lo) * aw->stride)];
                        zero_run(dst + w_hi, ow - w_hi);
                    }
                } else {
                    /* per position, the C_in channels of the tap: one copy
                     * (Keras order, k = tap*C_in + c contiguous) or a strided
                     * scatter (PyTorch order, k = c*taps + tap) */
                    for (size_t qw = 0; qw < ow; qw++) {
                        float *dst = col + (ptrdiff_t)(p_row + qw) * st->col_p + (ptrdiff_t)k_index(v, 0, tap);
                        const ptrdiff_t kstep = (ptrdiff_t)k_index(v, 1, tap) - (ptrdiff_t)k_index(v, 0, tap);
                        const int inside = row_inside && qw >= w_lo && qw < w_hi;
                        const float *src = inside ? x_n + ((size_t)ih * aw->in + (size_t)conv_tap_pos(aw, qw, jw)) * v->cin
                                                  : NULL;
                        if (kstep == 1) {
                            if (inside)
                                copy_run(dst, src, v->cin);
                            else
                                zero_run(dst, v->cin);
                        } else {
                            for (size_t c = 0; c < v->cin; c++)
                                dst[(ptrdiff_t)c * kstep] = inside ? src[c] : 0.0f;
                        }
                    }
                }
            }
        }
}

/* dst[i] += src[i], i < len: 8 lanes at a time, the tail masked. */
static void add_run(float *dst, const float *src, size_t len)
{
    const size_t n_vec = len / NNR_F32_PER_YMM, n_tail = len % NNR_F32_PER_YMM;
    for (size_t i = 0; i < n_vec; i++) {
        const __m256 d = _mm256_loadu_ps(dst + i * NNR_F32_PER_YMM);
        _mm256_storeu_ps(dst + i * NNR_F32_PER_YMM, _mm256_add_ps(d, _mm256_loadu_ps(src + i * NNR_F32_PER_YMM)));
    }
    if (n_tail) {
        const __m256i mask = mask_first(n_tail);
        float *d = dst + n_vec * NNR_F32_PER_YMM;
        const float *s = src + n_vec * NNR_F32_PER_YMM;
        _mm256_maskstore_ps(d, mask, _mm256_add_ps(_mm256_maskload_ps(d, mask), _mm256_maskload_ps(s, mask)));
    }
}

/*
 * col2im, the adjoint of im2col: for every (k, p) of the block whose tap
 * reads an input cell, dx[n, c, i] += dcol[k][p] (padding taps are dropped).
 * dx_n must hold the contributions of earlier blocks (zeroed per sample).
 */
static void col2im(const conv_view *v, const conv_strides *st, const float *dcol, size_t qh0, size_t rows, float *dx_n)
{
    const conv_axis *ah = &v->axis[0], *aw = &v->axis[1];
    const size_t ow = aw->out;
    for (size_t jh = 0; jh < ah->kernel; jh++)
        for (size_t jw = 0; jw < aw->kernel; jw++) {
            const size_t tap = jh * aw->kernel + jw;
            size_t w_lo, w_hi;
            tap_range(aw, jw, &w_lo, &w_hi);
            if (w_lo >= w_hi)
                continue;
            for (size_t r = 0; r < rows; r++) {
                const ptrdiff_t ih = conv_tap_pos(ah, qh0 + r, jh);
                if (ih < 0 || ih >= (ptrdiff_t)ah->in)
                    continue;
                const size_t p_row = r * ow;
                if (v->layout == NNR_CHANNELS_FIRST) {
                    for (size_t c = 0; c < v->cin; c++) {
                        const float *src = dcol + (ptrdiff_t)k_index(v, c, tap) * st->col_k + (ptrdiff_t)p_row;
                        float *dst = dx_n + c * v->in_plane + (size_t)ih * aw->in;
                        const ptrdiff_t iw0 = conv_tap_pos(aw, w_lo, jw);
                        if (aw->stride == 1)
                            add_run(dst + iw0, src + w_lo, w_hi - w_lo);
                        else
                            for (size_t qw = w_lo; qw < w_hi; qw++)
                                dst[iw0 + (ptrdiff_t)((qw - w_lo) * aw->stride)] += src[qw];
                    }
                } else {
                    const ptrdiff_t kstep = (ptrdiff_t)k_index(v, 1, tap) - (ptrdiff_t)k_index(v, 0, tap);
                    for (size_t qw = w_lo; qw < w_hi; qw++) {
                        const float *src = dcol + (ptrdiff_t)(p_row + qw) * st->col_p + (ptrdiff_t)k_index(v, 0, tap);
                        float *dst = dx_n + ((size_t)ih * aw->in + (size_t)conv_tap_pos(aw, qw, jw)) * v->cin;
                        if (kstep == 1)
                            add_run(dst, src, v->cin);
                        else
                            for (size_t c = 0; c < v->cin; c++)
                                dst[c] += src[(ptrdiff_t)c * kstep];
                    }
                }
            }
        }
}

/* dst[i] = value, i < len. */
static void fill_run(float *dst, float value, size_t len)
{
    const __m256 vv = _mm256_set1_ps(value);
    const size_t n_vec = len / NNR_F32_PER_YMM;
    for (size_t i = 0; i < n_vec; i++)
        _mm256_storeu_ps(dst + i * NNR_F32_PER_YMM, vv);
    for (size_t i = n_vec * NNR_F32_PER_YMM; i < len; i++)   /* tail */
        dst[i] = value;
}

/* ------------------------------------------------------------------------- */
/* Forward                                                                   */
/* ------------------------------------------------------------------------- */

nnr_status nnr_conv_fwd_avx2(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                             const float *b, float *y, float *workspace, size_t workspace_floats)
{
    conv_view v;
    nnr_status st = nnr_conv_view_make(p, in_shape, &v);
    if (st.code != NNR_OK)
        return st;
    conv_plan pl;
    st = make_plan(&v, &pl);
    if (st.code != NNR_OK)
        return st;
    /* the query's size, the same for both passes (the forward leaves the dWᵀ part unused) */
    st = nnr_conv_check_fwd(p, in_shape, x, w, b, y, workspace, workspace_floats,
                            pl.col_floats + pl.dwt_floats + pl.gemm_floats, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t ow = v.axis[1].out, oh = v.axis[0].out;
    float *col_buf = workspace, *gemm_ws = workspace + pl.col_floats + pl.dwt_floats;

    for (size_t n = 0; n < v.n; n++) {
        const float *x_n = x + n * v.in_plane * v.cin;
        float *y_n = y + n * v.out_plane * v.cout;
        for (size_t qh0 = 0; qh0 < oh; qh0 += pl.rows_per_block) {
            const size_t rows = pl.rows_per_block < oh - qh0 ? pl.rows_per_block : oh - qh0;
            const size_t pb = rows * ow, p0 = qh0 * ow;
            conv_strides s;
            make_strides(&v, &pl, pb, &s);

            /* col for this block of output rows (direct: x's own positions p0..) */
            const float *col;
            if (pl.direct) {
                col = x_n + (ptrdiff_t)p0 * s.col_p;
            } else {
                im2col(&v, &s, x_n, qh0, rows, col_buf);
                col = col_buf;
            }
            float *y_blk = y_n + (ptrdiff_t)p0 * s.y_p;

            /* y = b (broadcast), then y += W·col: the naive "acc = b; acc += w*x" */
            if (v.use_bias) {
                if (v.layout == NNR_CHANNELS_FIRST)
                    for (size_t o = 0; o < v.cout; o++)
                        fill_run(y_blk + (ptrdiff_t)o * s.y_o, b[o], pb);
                else
                    for (size_t q = 0; q < pb; q++)
                        copy_run(y_blk + (ptrdiff_t)q * s.y_p, b, v.cout);
            }
            if (v.layout == NNR_CHANNELS_FIRST)
                /* y[o][p] (C_out x P_b, rows out_plane apart) = W (C_out x K) · col (K x P_b) */
                nnr_sgemm_avx2(v.cout, pb, pl.k, w, s.w_o, s.w_k, col, s.col_k, s.col_p, y_blk, s.y_o, v.use_bias,
                               gemm_ws);
            else
                /* y[p][o] (P_b x C_out) = colᵀ (P_b x K) · Wᵀ (K x C_out) */
                nnr_sgemm_avx2(pb, v.cout, pl.k, col, s.col_p, s.col_k, w, s.w_k, s.w_o, y_blk, s.y_p, v.use_bias,
                               gemm_ws);
        }
    }
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Backward                                                                  */
/* ------------------------------------------------------------------------- */

/* term 1: db[o] = sum_{n,p} dy[n,o,p] (float lanes; tail masked). */
static void bias_grad(const conv_view *v, const float *dy, float *db)
{
    memset(db, 0, v->cout * sizeof *db);
    if (v->layout == NNR_CHANNELS_FIRST) {
        /* each (n, o) plane is a contiguous run of out_plane values */
        const size_t n_vec = v->out_plane / NNR_F32_PER_YMM, n_tail = v->out_plane % NNR_F32_PER_YMM;
        const __m256i mask = mask_first(n_tail);
        for (size_t o = 0; o < v->cout; o++) {
            __m256 acc = _mm256_setzero_ps();
            for (size_t n = 0; n < v->n; n++) {
                const float *run = dy + (n * v->cout + o) * v->out_plane;
                for (size_t i = 0; i < n_vec; i++)
                    acc = _mm256_add_ps(acc, _mm256_loadu_ps(run + i * NNR_F32_PER_YMM));
                if (n_tail)
                    acc = _mm256_add_ps(acc, _mm256_maskload_ps(run + n_vec * NNR_F32_PER_YMM, mask));
            }
            /* fold the 8 lanes */
            __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
            s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            s = _mm_add_ss(s, _mm_movehdup_ps(s));
            db[o] = _mm_cvtss_f32(s);
        }
    } else {
        /* each (n, p) row holds the C_out channels side by side: db += row */
        for (size_t r = 0; r < v->n * v->out_plane; r++)
            add_run(db, dy + r * v->cout, v->cout);
    }
}

nnr_status nnr_conv_bwd_avx2(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db, float *workspace,
                             size_t workspace_floats)
{
    conv_view v;
    nnr_status st = nnr_conv_view_make(p, in_shape, &v);
    if (st.code != NNR_OK)
        return st;
    conv_plan pl;
    st = make_plan(&v, &pl);
    if (st.code != NNR_OK)
        return st;
    st = nnr_conv_check_bwd(p, in_shape, x, w, dy, dx, dw, db, workspace, workspace_floats,
                            pl.col_floats + pl.dwt_floats + pl.gemm_floats, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t ow = v.axis[1].out, oh = v.axis[0].out;
    float *col_buf = workspace, *dwt = workspace + pl.col_floats, *gemm_ws = dwt + pl.dwt_floats;

    if (db != NULL)
        bias_grad(&v, dy, db);
    if (dw == NULL && dx == NULL)
        return nnr_ok();

    int dw_started = 0;   /* the first block overwrites dw, the others add */
    for (size_t n = 0; n < v.n; n++) {
        const float *x_n = x != NULL ? x + n * v.in_plane * v.cin : NULL;
        const float *dy_n = dy + n * v.out_plane * v.cout;
        float *dx_n = dx != NULL ? dx + n * v.in_plane * v.cin : NULL;
        if (dx_n != NULL && !pl.direct)
            memset(dx_n, 0, v.in_plane * v.cin * sizeof *dx_n);   /* col2im adds into it */

        for (size_t qh0 = 0; qh0 < oh; qh0 += pl.rows_per_block) {
            const size_t rows = pl.rows_per_block < oh - qh0 ? pl.rows_per_block : oh - qh0;
            const size_t pb = rows * ow, p0 = qh0 * ow;
            conv_strides s;
            make_strides(&v, &pl, pb, &s);
            const float *dy_blk = dy_n + (ptrdiff_t)p0 * s.y_p;

            /* term 2: dW += dY_block · col_blockᵀ */
            if (dw != NULL) {
                const float *col;
                if (pl.direct) {
                    col = x_n + (ptrdiff_t)p0 * s.col_p;
                } else {
                    im2col(&v, &s, x_n, qh0, rows, col_buf);
                    col = col_buf;
                }
                if (pl.dw_transposed)
                    /* channels_first, PyTorch weights: dWᵀ[k][o] (K x C_out) = col (K x P_b) · dYᵀ (P_b x C_out)
                     * into the workspace, transposed into dw at the end. dW = dY · colᵀ written
                     * directly measured 6 % slower (CPU time, 5 of 5 interleaved runs): its B = colᵀ
                     * packs column by column, 17 % of that pass's profile. */
                    nnr_sgemm_avx2(pl.k, v.cout, pb, col, s.col_k, s.col_p, dy_blk, s.y_p, s.y_o, dwt,
                                   (ptrdiff_t)v.cout, dw_started, gemm_ws);
                else if (v.weight_layout == NNR_CONV_WEIGHT_TORCH)
                    /* dW[o][k] (C_out x K, rows K apart) = dY (C_out x P_b) · colᵀ (P_b x K) */
                    nnr_sgemm_avx2(v.cout, pl.k, pb, dy_blk, s.y_o, s.y_p, col, s.col_p, s.col_k, dw, s.w_o,
                                   dw_started, gemm_ws);
                else
                    /* dW[k][o] (K x C_out, rows C_out apart) = col (K x P_b) · dYᵀ (P_b x C_out) */
                    nnr_sgemm_avx2(pl.k, v.cout, pb, col, s.col_k, s.col_p, dy_blk, s.y_p, s.y_o, dw, s.w_k,
                                   dw_started, gemm_ws);
                dw_started = 1;
            }

            /* term 3: dcol = Wᵀ · dY_block, then col2im into dx (direct: dcol is dx's block) */
            if (dx_n != NULL) {
                float *dcol = pl.direct ? dx_n + (ptrdiff_t)p0 * s.col_p : col_buf;
                if (v.layout == NNR_CHANNELS_FIRST)
                    /* dcol[k][p] (K x P_b) = Wᵀ (K x C_out) · dY (C_out x P_b) */
                    nnr_sgemm_avx2(pl.k, pb, v.cout, w, s.w_k, s.w_o, dy_blk, s.y_o, s.y_p, dcol, s.col_k, 0,
                                   gemm_ws);
                else
                    /* dcol[p][k] (P_b x K) = dYᵀ (P_b x C_out) · W (C_out x K) */
                    nnr_sgemm_avx2(pb, pl.k, v.cout, dy_blk, s.y_p, s.y_o, w, s.w_o, s.w_k, dcol, s.col_p, 0,
                                   gemm_ws);
                if (!pl.direct)
                    col2im(&v, &s, dcol, qh0, rows, dx_n);
            }
        }
    }
    /* dw[o][k] = dWᵀ[k][o] (channels_first, PyTorch weights) */
    if (dw != NULL && pl.dw_transposed)
        for (size_t o = 0; o < v.cout; o++)
            for (size_t k = 0; k < pl.k; k++)
                dw[o * pl.k + k] = dwt[k * v.cout + o];
    return nnr_ok();
}
