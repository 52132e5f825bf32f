/*
 * nnref bench, dense family: Dense and the AVX2 matrix product under it and
 * under convolution (the framework is bench.h).
 *
 * Dense 768 -> 768 (a transformer's hidden size) on a batch of 8192 rows,
 * PyTorch weights (out, in) and Keras weights (in, units); and the
 * cache-resident batch of 64. Compute bound, so rows report GFLOP/s and the
 * fraction of the same-run single-thread AVX2 FMA peak. Counted flops, a
 * multiply and an add per weight and row:
 *   fwd       2·B·in·units              (y = x·W + b; the bias adds not counted)
 *   bwd       2 x that                  (dx = dy·Wᵀ and dW = xᵀ·dy; db's adds not counted)
 *   fwd_bwd   3 x that
 * The naive kernel needs seconds per call on the large batch, so it runs
 * the small one only.
 *
 * GEMM rows: the AVX2 product alone (src/gemm/sgemm_avx2.c) on the shapes
 * convolution gives it: 64 x 3136 x 576 (a 3x3, 64 -> 64 convolution on a
 * 56x56 image as one product: C_out x pixels x C_in·9) and 512 x 3136 x 576,
 * all operands row-major, 2·m·n·k flops.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include "nnref.h"
#include "cli.h"
#include "cli/bench.h"
#ifdef NNR_HAVE_AVX2_BUILD
#include "gemm/gemm.h"
#endif

typedef enum dense_pass { DENSE_FWD, DENSE_BWD, DENSE_FWD_BWD, DENSE_PASS_COUNT } dense_pass;

/* Counted flops in units of the forward's 2·B·in·units; the naive kernel runs the small batch only. */
static const bench_pass dense_passes[DENSE_PASS_COUNT] = {
    [DENSE_FWD] = {"dense_fwd", "dense", 1, 0, 1},
    [DENSE_BWD] = {"dense_bwd", "dense", 2, 0, 1},
    [DENSE_FWD_BWD] = {"dense_fwd_bwd", "dense", 3, 0, 1},
};

typedef struct dense_kernels {
    nnr_dense_workspace_fn workspace;
    nnr_dense_fwd_fn fwd;
    nnr_dense_bwd_fn bwd;
} dense_kernels;

/* Naive, then AVX2 in AVX2 builds: default samples on the large and the small shape, the kernels. */
static const bench_impl dense_impls[] = {
    {"naive", 3, 3,
     &(const dense_kernels){nnr_dense_workspace_size_naive, nnr_dense_fwd_naive, nnr_dense_bwd_naive}},
#ifdef NNR_HAVE_AVX2_BUILD
    {"avx2", 5, 9,
     &(const dense_kernels){nnr_dense_workspace_size_avx2, nnr_dense_fwd_avx2, nnr_dense_bwd_avx2}},
#endif
};

typedef struct dense_call_args {
    nnr_dense_params p;
    nnr_shape shape;
    bench_weighted t;
} dense_call_args;

static nnr_status dense_workspace(const void *arg, const void *kernels, size_t *floats)
{
    const dense_call_args *a = arg;
    return ((const dense_kernels *)kernels)->workspace(&a->p, &a->shape, floats);
}

static nnr_status dense_call(const void *arg, const void *kernels, int pass, const bench_buffers *ws)
{
    const dense_call_args *a = arg;
    const dense_kernels *k = kernels;
    const bench_weighted *t = &a->t;
    nnr_status st;
    switch (pass) {
    case DENSE_FWD:
        return k->fwd(&a->p, &a->shape, t->x, t->w, t->b, t->y, ws->ws, ws->ws_floats);
    case DENSE_BWD:
        return k->bwd(&a->p, &a->shape, t->x, t->w, t->dy, t->dx, t->dw, t->db, ws->ws, ws->ws_floats);
    case DENSE_FWD_BWD:
        st = k->fwd(&a->p, &a->shape, t->x, t->w, t->b, t->y, ws->ws, ws->ws_floats);
        if (st.code != NNR_OK)
            return st;
        return k->bwd(&a->p, &a->shape, t->x, t->w, t->dy, t->dx, t->dw, t->db, ws->ws, ws->ws_floats);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a Dense benchmark pass", pass);
    }
}

/* One (B, in, units) problem in both weight layouts (nchw rows: PyTorch, nhwc rows: Keras). */
static int bench_dense_shape(bench_ctx *ctx, const size_t dims[4], int large)
{
    const size_t batch = dims[0], in = dims[1], units = dims[2];
    const double flops = 2.0 * (double)batch * (double)in * (double)units;
    bench_rows rows = {.passes = dense_passes, .n_passes = DENSE_PASS_COUNT, .impls = dense_impls,
                       .n_impls = BENCH_COUNT(dense_impls), .call = dense_call, .large = large, .flops = flops,
                       .workspace = dense_workspace, .what = "Dense"};
    dense_call_args a = {0};
    if (!bench_weighted_alloc(&a.t, batch * in, batch * units, in * units, units, "Dense"))
        return NNR_EXIT_FAIL;

    bench_section(ctx,
                  "Dense %zu -> %zu on a batch of %zu%s: %.2f GFLOP forward (2 flops per weight and row), bwd "
                  "(dx, dW, db) 2x, fwd_bwd 3x; nchw rows: PyTorch weight (out, in), nhwc rows: Keras kernel "
                  "(in, units).%s %%peak is of the 1-thread FMA peak stated above.\n",
                  in, units, batch, large ? "" : " (cache resident)", flops * 1e-9,
                  large ? " The naive kernel runs on the small batch only (seconds per call here)." : "");

    int status = NNR_EXIT_OK;
    for (int keras = 0; keras < 2 && status == NNR_EXIT_OK; keras++) {
        if (!bench_layout_wanted(ctx, keras))
            continue;
        a.p = keras ? nnr_dense_keras(in, units) : nnr_dense_torch(in, units);
        a.shape = (nnr_shape){2, {batch, in}};
        status = bench_rows_time(ctx, &rows, bench_layout_name(keras), &a.shape, &a);
    }
    bench_weighted_free(&a.t);
    return status;
}

#ifdef NNR_HAVE_AVX2_BUILD
typedef struct gemm_call_args {
    size_t m, n, k;
    const float *a, *b;
    float *c, *ws;
} gemm_call_args;

static nnr_status gemm_call(const void *arg, const void *kernels, int pass, const bench_buffers *unused)
{
    const gemm_call_args *g = arg;
    (void)kernels, (void)pass, (void)unused;
    nnr_sgemm_avx2(g->m, g->n, g->k, g->a, (ptrdiff_t)g->k, 1, g->b, (ptrdiff_t)g->n, 1, g->c, (ptrdiff_t)g->n, 0,
                   g->ws);
    return nnr_ok();
}

/* The AVX2 product alone, C (m x n) = A (m x k) · B (k x n), all row-major. */
static int bench_gemm_shape(bench_ctx *ctx, size_t m, size_t n, size_t k)
{
    const size_t ws_floats = nnr_sgemm_avx2_workspace_floats(m, n, k);
    float *a = bench_alloc_floats(m * k), *b = bench_alloc_floats(k * n), *c = bench_alloc_floats(m * n);
    float *ws = bench_alloc_floats(ws_floats);
    int status = NNR_EXIT_OK;
    if (!a || !b || !c || !ws) {
        fprintf(stderr, "nnref bench: cannot allocate the GEMM buffers (%zu x %zu x %zu).\n", m, n, k);
        status = NNR_EXIT_FAIL;
    } else {
        bench_fill(a, m * k, 11);
        bench_fill(b, k * n, 12);
        bench_fill(c, m * n, 13);
        bench_fill(ws, ws_floats, 14);
        const gemm_call_args g = {m, n, k, a, b, c, ws};
        const nnr_shape shape = {3, {m, n, k}};
        const bench_kernel bk = {"sgemm", "avx2", "-", &shape, 0, 2.0 * (double)m * (double)n * (double)k, 9,
                                 gemm_call, &g, NULL, 0};
        status = bench_time(ctx, &bk, NULL, 1);
    }
    free(a), free(b), free(c), free(ws);
    return status;
}
#endif

int bench_dense(bench_ctx *ctx)
{
    static const size_t large_shape[4] = {8192, 768, 768, 0}, small_shape[4] = {64, 768, 768, 0};
    int status = bench_large_then_small(ctx, bench_dense_shape, large_shape, small_shape);
#ifdef NNR_HAVE_AVX2_BUILD
    if (status == NNR_EXIT_OK && nnr_avx2_usable()) {
        bench_section(ctx, "The AVX2 matrix product alone (src/gemm/), C (m x n) = A (m x k) · B (k x n), "
                           "row-major, shape m x n x k: a 3x3 64 -> 64 convolution of a 56x56 image as one "
                           "product (64 x 3136 x 576), and with 512 output channels. 2·m·n·k flops.\n");
        status = bench_gemm_shape(ctx, 64, 3136, 576);
        if (status == NNR_EXIT_OK)
            status = bench_gemm_shape(ctx, 512, 3136, 576);
    }
#endif
    return status;
}
