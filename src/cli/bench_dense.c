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

static const struct {
    const char *kernel;
    double flops_factor;   /* counted flops, in units of the forward's 2·B·in·units */
} dense_passes[DENSE_PASS_COUNT] = {
    [DENSE_FWD] = {"dense_fwd", 1},
    [DENSE_BWD] = {"dense_bwd", 2},
    [DENSE_FWD_BWD] = {"dense_fwd_bwd", 3},
};

typedef struct dense_call_args {
    nnr_dense_fwd_fn fwd;
    nnr_dense_bwd_fn bwd;
    dense_pass pass;
    nnr_dense_params p;
    nnr_shape shape;
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *db, *ws;
    size_t ws_floats;
} dense_call_args;

static nnr_status dense_call(const void *arg, const bench_buffers *unused)
{
    const dense_call_args *a = arg;
    (void)unused;
    nnr_status st;
    switch (a->pass) {
    case DENSE_FWD:
        return a->fwd(&a->p, &a->shape, a->x, a->w, a->b, a->y, a->ws, a->ws_floats);
    case DENSE_BWD:
        return a->bwd(&a->p, &a->shape, a->x, a->w, a->dy, a->dx, a->dw, a->db, a->ws, a->ws_floats);
    case DENSE_FWD_BWD:
        st = a->fwd(&a->p, &a->shape, a->x, a->w, a->b, a->y, a->ws, a->ws_floats);
        if (st.code != NNR_OK)
            return st;
        return a->bwd(&a->p, &a->shape, a->x, a->w, a->dy, a->dx, a->dw, a->db, a->ws, a->ws_floats);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a Dense benchmark pass", (int)a->pass);
    }
}

/* One (B, in, units) problem in both weight layouts (nchw rows: PyTorch, nhwc rows: Keras). */
static int bench_dense_shape(bench_ctx *ctx, const size_t dims[4], int large)
{
    const size_t rows = dims[0], in = dims[1], units = dims[2];
    const size_t nx = rows * in, ny = rows * units, nw = in * units;
    const double flops = 2.0 * (double)rows * (double)in * (double)units;
    struct {
        const char *name;
        nnr_dense_workspace_fn workspace;
        nnr_dense_fwd_fn fwd;
        nnr_dense_bwd_fn bwd;
        unsigned long reps;
    } impls[2] = {{"naive", nnr_dense_workspace_size_naive, nnr_dense_fwd_naive, nnr_dense_bwd_naive, 3}};
    size_t first = large ? 1 : 0, n_impls = 1;
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable()) {
        impls[1].name = "avx2", impls[1].workspace = nnr_dense_workspace_size_avx2;
        impls[1].fwd = nnr_dense_fwd_avx2, impls[1].bwd = nnr_dense_bwd_avx2;
        impls[1].reps = large ? 5 : 9;
        n_impls = 2;
    }
#endif
    float *x = bench_alloc_floats(nx), *y = bench_alloc_floats(ny), *dy = bench_alloc_floats(ny);
    float *dx = bench_alloc_floats(nx), *w = bench_alloc_floats(nw), *dw = bench_alloc_floats(nw);
    float *b = bench_alloc_floats(units), *db = bench_alloc_floats(units);
    int status = NNR_EXIT_OK;
    if (!x || !y || !dy || !dx || !w || !dw || !b || !db) {
        fprintf(stderr, "nnref bench: cannot allocate the Dense buffers (%zu + %zu + %zu floats).\n", nx, ny, nw);
        status = NNR_EXIT_FAIL;
        goto done;
    }
    bench_fill(x, nx, 1);
    bench_fill(dy, ny, 2);
    bench_fill(w, nw, 3);
    bench_fill(b, units, 4);
    bench_fill(y, ny, 5);
    bench_fill(dx, nx, 6);
    bench_fill(dw, nw, 7);
    bench_fill(db, units, 8);

    bench_section(ctx,
                  "Dense %zu -> %zu on a batch of %zu%s: %.2f GFLOP forward (2 flops per weight and row), bwd "
                  "(dx, dW, db) 2x, fwd_bwd 3x; nchw rows: PyTorch weight (out, in), nhwc rows: Keras kernel "
                  "(in, units).%s %%peak is of the same-run 1-thread FMA peak.\n",
                  in, units, rows, large ? "" : " (cache resident)", flops * 1e-9,
                  large ? " The naive kernel runs on the small batch only (seconds per call here)." : "");

    static const int layouts[] = {BENCH_NCHW, BENCH_NHWC};
    for (size_t l = 0; l < 2 && status == NNR_EXIT_OK; l++) {
        if (!(ctx->opt->layouts & layouts[l]))
            continue;
        const int keras = layouts[l] == BENCH_NHWC;
        dense_call_args a = {0};
        a.p = keras ? nnr_dense_keras(in, units) : nnr_dense_torch(in, units);
        a.shape = (nnr_shape){2, {rows, in}};
        a.x = x, a.w = w, a.b = b, a.dy = dy, a.y = y, a.dx = dx, a.dw = dw, a.db = db;
        for (size_t i = first; i < n_impls && status == NNR_EXIT_OK; i++) {
            nnr_status st = impls[i].workspace(&a.p, &a.shape, &a.ws_floats);
            if (st.code != NNR_OK) {
                fprintf(stderr, "nnref bench: %s\n", nnr_strerror(&st));
                status = NNR_EXIT_FAIL;
                break;
            }
            a.ws = a.ws_floats ? bench_alloc_floats(a.ws_floats) : NULL;
            if (a.ws_floats && a.ws == NULL) {
                fprintf(stderr, "nnref bench: cannot allocate %zu floats of Dense workspace.\n", a.ws_floats);
                status = NNR_EXIT_FAIL;
                break;
            }
            if (a.ws)
                bench_fill(a.ws, a.ws_floats, 9);
            a.fwd = impls[i].fwd, a.bwd = impls[i].bwd;
            for (int k = 0; k < DENSE_PASS_COUNT && status == NNR_EXIT_OK; k++) {
                a.pass = (dense_pass)k;
                const bench_kernel bk = {dense_passes[k].kernel, impls[i].name, keras ? "nhwc" : "nchw", &a.shape, 0,
                                         dense_passes[k].flops_factor * flops, impls[i].reps, dense_call, &a};
                status = bench_time(ctx, &bk, NULL, 1);
            }
            free(a.ws);
        }
    }
done:
    free(x), free(y), free(dy), free(dx), free(w), free(dw), free(b), free(db);
    return status;
}

#ifdef NNR_HAVE_AVX2_BUILD
typedef struct gemm_call_args {
    size_t m, n, k;
    const float *a, *b;
    float *c, *ws;
} gemm_call_args;

static nnr_status gemm_call(const void *arg, const bench_buffers *unused)
{
    const gemm_call_args *g = arg;
    (void)unused;
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
                                 gemm_call, &g};
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
