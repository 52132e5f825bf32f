/*
 * Dense, AVX2 + FMA kernels (float). Same contract and argument checks as
 * src/dense/dense_naive.c, which is the reference: read that file first.
 *
 * Every matrix product of the layer is one call of the shared AVX2 GEMM
 * (src/gemm/sgemm_avx2.c), which reads W in either layout through its row
 * and column strides, so neither layout is copied or transposed:
 *
 *   forward  y  = b + x·W     C = y (B x units), A = x (B x in), B = W (in x units)
 *   term dx  dx = dy·Wᵀ       C = dx (B x in), A = dy (B x units), B = Wᵀ (units x in)
 *   term dW  Keras (in x units):  dW  = xᵀ·dy   A = xᵀ (in x B), B = dy (B x units)
 *            PyTorch (units x in): dWᵀ = dyᵀ·x  A = dyᵀ (units x B), B = x (B x in)
 *   term db  db = column sums of dy, 8 columns per vector
 *
 * The forward first copies b into every row of y and lets the GEMM add x·W
 * to it, so each y[r][o] starts from b[o] as in the naive kernel. db adds
 * the rows of dy in the naive order (r increasing, in float), so it equals
 * the naive float kernel's db bit for bit.
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "dense_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <string.h>
#include "core/check.h"
#include "gemm/gemm.h"
#include "dense_internal.h"

#define DENSE_F32_PER_YMM 8

/* Strides of W[i][o] (rows i, columns o) in the weight layout. */
static ptrdiff_t w_rs(const dense_view *v)
{
    return v->weight_layout == NNR_DENSE_WEIGHT_KERAS ? (ptrdiff_t)v->units : 1;
}

static ptrdiff_t w_cs(const dense_view *v)
{
    return v->weight_layout == NNR_DENSE_WEIGHT_KERAS ? 1 : (ptrdiff_t)v->in;
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Packing space of the three products (forward, dx, dW): the largest. */
static size_t workspace_floats_of(const dense_view *v)
{
    const size_t fwd = nnr_sgemm_avx2_workspace_floats(v->rows, v->units, v->in);
    const size_t dx = nnr_sgemm_avx2_workspace_floats(v->rows, v->in, v->units);
    const size_t dw = v->weight_layout == NNR_DENSE_WEIGHT_KERAS
                          ? nnr_sgemm_avx2_workspace_floats(v->in, v->units, v->rows)
                          : nnr_sgemm_avx2_workspace_floats(v->units, v->in, v->rows);
    return max_size(fwd, max_size(dx, dw));
}

nnr_status nnr_dense_workspace_size_avx2(const nnr_dense_params *p, const nnr_shape *in_shape, size_t *floats)
{
    dense_view v;
    NNR_TRY(nnr_dense_view_make(p, in_shape, &v));
    NNR_TRY(nnr_need(floats, "floats"));
    *floats = workspace_floats_of(&v);
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Forward                                                                   */
/* ------------------------------------------------------------------------- */

nnr_status nnr_dense_fwd_avx2(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                              const float *b, float *y, float *workspace, size_t workspace_floats)
{
    dense_view v;
    nnr_status st = nnr_dense_check_fwd(p, in_shape, x, w, b, y, workspace, workspace_floats, 0, &v);
    if (st.code != NNR_OK)
        return st;
    NNR_TRY(nnr_need_workspace(workspace, workspace_floats, workspace_floats_of(&v), "nnr_dense_workspace_size"));

    /* y[r][o] = b[o] for every row (the naive kernel's starting value)... */
    if (v.use_bias)
        for (size_t r = 0; r < v.rows; r++)
            memcpy(y + r * v.units, b, v.units * sizeof *y);
    /* ...then y += x·W (or y = x·W without bias). */
    nnr_sgemm_avx2(v.rows, v.units, v.in, x, (ptrdiff_t)v.in, 1, w, w_rs(&v), w_cs(&v), y, (ptrdiff_t)v.units,
                   v.use_bias, workspace);
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Backward                                                                  */
/* ------------------------------------------------------------------------- */

/* db[o] = sum_r dy[r][o]: each row of dy is added into db, 8 columns per
 * vector and a masked tail, so every db[o] sums r = 0, 1, ... in float as
 * the naive kernel does. db (units floats) stays in L1 while dy streams. */
static void column_sums(const dense_view *v, const float *dy, float *db)
{
    const size_t n_vec = v->units / DENSE_F32_PER_YMM;
    const size_t n_tail = v->units % DENSE_F32_PER_YMM;
    static const int32_t tail_table[2 * DENSE_F32_PER_YMM] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    const __m256i tail = _mm256_loadu_si256((const __m256i *)&tail_table[DENSE_F32_PER_YMM - n_tail]);
    float *const db_tail = db + n_vec * DENSE_F32_PER_YMM;

    /* db = 0 (the naive val = 0 start: 0 + dy keeps +0 for a dy of -0). */
    memset(db, 0, v->units * sizeof *db);
    for (size_t r = 0; r < v->rows; r++) {
        const float *dy_row = dy + r * v->units;
        /* db[o..o+8) += dy[r][o..o+8) */
        for (size_t q = 0; q < n_vec; q++) {
            float *d = db + q * DENSE_F32_PER_YMM;
            _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), _mm256_loadu_ps(dy_row + q * DENSE_F32_PER_YMM)));
        }
        /* the last units % 8 columns, masked */
        if (n_tail != 0) {
            const __m256 s = _mm256_add_ps(_mm256_maskload_ps(db_tail, tail),
                                           _mm256_maskload_ps(dy_row + n_vec * DENSE_F32_PER_YMM, tail));
            _mm256_maskstore_ps(db_tail, tail, s);
        }
    }
}

nnr_status nnr_dense_bwd_avx2(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db, float *workspace,
                              size_t workspace_floats)
{
    dense_view v;
    nnr_status st = nnr_dense_check_bwd(p, in_shape, x, w, dy, dx, dw, db, workspace, workspace_floats, 0, &v);
    if (st.code != NNR_OK)
        return st;
    NNR_TRY(nnr_need_workspace(workspace, workspace_floats, workspace_floats_of(&v), "nnr_dense_workspace_size"));
    const ptrdiff_t in = (ptrdiff_t)v.in, units = (ptrdiff_t)v.units;

    /* term dx: dx (B x in) = dy (B x units) · Wᵀ, Wᵀ[o][i] = W[i][o]: W's strides swapped. */
    if (dx != NULL)
        nnr_sgemm_avx2(v.rows, v.in, v.units, dy, units, 1, w, w_cs(&v), w_rs(&v), dx, in, 0, workspace);

    /* term dW: dW[i][o] = sum_r x[r][i] dy[r][o], written in w's layout. */
    if (dw != NULL) {
        if (v.weight_layout == NNR_DENSE_WEIGHT_KERAS)
            /* dw (in x units) = xᵀ · dy: xᵀ[i][r] = x[r*in + i]. */
            nnr_sgemm_avx2(v.in, v.units, v.rows, x, 1, in, dy, units, 1, dw, units, 0, workspace);
        else
            /* dw (units x in) = dyᵀ · x: dyᵀ[o][r] = dy[r*units + o]. */
            nnr_sgemm_avx2(v.units, v.in, v.rows, dy, 1, units, x, in, 1, dw, in, 0, workspace);
    }

    /* term db: column sums of dy. */
    if (db != NULL)
        column_sums(&v, dy, db);
    return nnr_ok();
}
