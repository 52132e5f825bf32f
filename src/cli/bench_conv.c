/*
 * nnref bench, convolution family: Conv2D (the framework is bench.h).
 *
 * The layer: 3x3, padding 1 (PyTorch padding=1, Keras 'same'),
 * 64 -> 64 channels, on 8x64x56x56; nchw with PyTorch's weight layout, nhwc
 * with Keras'. Compute bound, so rows report GFLOP/s and the fraction of the
 * same-run single-thread AVX2 FMA peak. Counted flops per pass, a multiply
 * and an add per tap (bias and padding taps aside):
 *   fwd         2·N·C_out·P·C_in·9          (P = 56·56 output positions)
 *   bwd_data    the same (dx = Wᵀ·dY, col2im)
 *   bwd_weights the same (dW = dY·colᵀ; db's N·C_out·P adds not counted)
 *   fwd_bwd     3 x that (forward, then dx, dw and db in one call)
 * The naive kernel takes seconds per call on the large shape, so it runs the
 * forward there (one timed call) and every pass on the small shape; the AVX2
 * kernel runs every pass on both. Both get the workspace their query asks for.
 * The small shape, 1x64x28x28, fits in the L2 with its weights.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include "nnref.h"
#include "cli.h"
#include "cli/bench.h"

typedef enum conv_pass { CONV_FWD, CONV_BWD_DATA, CONV_BWD_WEIGHTS, CONV_FWD_BWD, CONV_PASS_COUNT } conv_pass;

static const struct {
    const char *kernel;
    double flops_factor;   /* counted flops, in units of one pass's 2·N·C_out·P·C_in·taps */
} conv_passes[CONV_PASS_COUNT] = {
    [CONV_FWD] = {"conv2d_fwd", 1},
    [CONV_BWD_DATA] = {"conv2d_bwd_data", 1},
    [CONV_BWD_WEIGHTS] = {"conv2d_bwd_weights", 1},
    [CONV_FWD_BWD] = {"conv2d_fwd_bwd", 3},
};

typedef struct conv_call_args {
    nnr_conv_fwd_fn fwd;
    nnr_conv_bwd_fn bwd;
    conv_pass pass;
    nnr_conv_params p;
    nnr_shape shape;
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *db, *ws;
    size_t ws_floats;
} conv_call_args;

static nnr_status conv_call(const void *arg, const bench_buffers *unused)
{
    const conv_call_args *a = arg;
    (void)unused;
    nnr_status st;
    switch (a->pass) {
    case CONV_FWD:
        return a->fwd(&a->p, &a->shape, a->x, a->w, a->b, a->y, a->ws, a->ws_floats);
    case CONV_BWD_DATA:
        return a->bwd(&a->p, &a->shape, NULL, a->w, a->dy, a->dx, NULL, NULL, a->ws, a->ws_floats);
    case CONV_BWD_WEIGHTS:
        return a->bwd(&a->p, &a->shape, a->x, NULL, a->dy, NULL, a->dw, a->db, a->ws, a->ws_floats);
    case CONV_FWD_BWD:
        st = a->fwd(&a->p, &a->shape, a->x, a->w, a->b, a->y, a->ws, a->ws_floats);
        if (st.code != NNR_OK)
            return st;
        return a->bwd(&a->p, &a->shape, a->x, a->w, a->dy, a->dx, a->dw, a->db, a->ws, a->ws_floats);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a convolution benchmark pass", (int)a->pass);
    }
}

/* One (N, C, H, W) problem, C -> C channels, 3x3 pad 1, in each requested layout. */
static int bench_conv_shape(bench_ctx *ctx, const size_t nchw[4], int large)
{
    const size_t n = nchw[0], c = nchw[1], h = nchw[2], wd = nchw[3];
    const size_t numel = n * c * h * wd, w_count = c * c * 9;
    const double flops = 2.0 * (double)n * (double)c * (double)(h * wd) * (double)c * 9.0;
    struct {
        const char *name;
        nnr_conv_workspace_fn workspace;
        nnr_conv_fwd_fn fwd;
        nnr_conv_bwd_fn bwd;
        unsigned long reps;
    } impls[2] = {{"naive", nnr_conv_workspace_size_naive, nnr_conv_fwd_naive, nnr_conv_bwd_naive, 1}};
    size_t n_impls = 1;
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable()) {
        impls[1].name = "avx2", impls[1].workspace = nnr_conv_workspace_size_avx2;
        impls[1].fwd = nnr_conv_fwd_avx2, impls[1].bwd = nnr_conv_bwd_avx2;
        impls[1].reps = large ? 5 : 9;
        n_impls = 2;
    }
#endif
    float *x = bench_alloc_floats(numel), *y = bench_alloc_floats(numel), *dy = bench_alloc_floats(numel);
    float *dx = bench_alloc_floats(numel), *w = bench_alloc_floats(w_count), *dw = bench_alloc_floats(w_count);
    float *b = bench_alloc_floats(c), *db = bench_alloc_floats(c);
    int status = NNR_EXIT_OK;
    if (!x || !y || !dy || !dx || !w || !dw || !b || !db) {
        fprintf(stderr, "nnref bench: cannot allocate the convolution buffers (4 x %zu floats).\n", numel);
        status = NNR_EXIT_FAIL;
        goto done;
    }
    bench_fill(x, numel, 1);
    bench_fill(dy, numel, 2);
    bench_fill(w, w_count, 3);
    bench_fill(b, c, 4);
    bench_fill(y, numel, 5);
    bench_fill(dx, numel, 6);
    bench_fill(dw, w_count, 7);
    bench_fill(db, c, 8);

    bench_section(ctx,
                  "Conv2D 3x3 pad 1, %zu -> %zu channels, on %zux%zux%zux%zu%s: %.2f GFLOP per pass "
                  "(2 flops per tap), fwd_bwd 3 passes; nchw with PyTorch weights (C_out, C_in, 3, 3), nhwc with "
                  "Keras' (3, 3, C_in, C_out). %%peak is of the same-run 1-thread FMA peak.\n",
                  c, c, n, c, h, wd, large ? " (the issue's shape)" : " (cache resident)", flops * 1e-9);

    static const int layouts[] = {BENCH_NCHW, BENCH_NHWC};
    for (size_t l = 0; l < 2 && status == NNR_EXIT_OK; l++) {
        if (!(ctx->opt->layouts & layouts[l]))
            continue;
        const int nhwc = layouts[l] == BENCH_NHWC;
        conv_call_args a = {0};
        a.p = nhwc ? nnr_conv_keras(2, (int)c, (int)c, 3) : nnr_conv_torch(2, (int)c, (int)c, 3);
        if (nhwc) {
            a.p.padding = NNR_CONV_SAME;
        } else {
            a.p.pad_before[0] = a.p.pad_before[1] = a.p.pad_after[0] = a.p.pad_after[1] = 1;
        }
        a.shape = nhwc ? (nnr_shape){4, {n, h, wd, c}} : (nnr_shape){4, {n, c, h, wd}};
        a.x = x, a.w = w, a.b = b, a.dy = dy, a.y = y, a.dx = dx, a.dw = dw, a.db = db;
        for (size_t i = 0; i < n_impls && status == NNR_EXIT_OK; i++) {
            nnr_status st = impls[i].workspace(&a.p, &a.shape, &a.ws_floats);
            if (st.code != NNR_OK) {
                fprintf(stderr, "nnref bench: %s\n", nnr_strerror(&st));
                status = NNR_EXIT_FAIL;
                break;
            }
            a.ws = a.ws_floats ? bench_alloc_floats(a.ws_floats) : NULL;
            if (a.ws_floats && a.ws == NULL) {
                fprintf(stderr, "nnref bench: cannot allocate %zu floats of convolution workspace.\n", a.ws_floats);
                status = NNR_EXIT_FAIL;
                break;
            }
            if (a.ws)
                bench_fill(a.ws, a.ws_floats, 9);
            a.fwd = impls[i].fwd, a.bwd = impls[i].bwd;
            for (int k = 0; k < CONV_PASS_COUNT && status == NNR_EXIT_OK; k++) {
                /* The naive kernel takes seconds per pass on the large shape:
                 * it runs the forward there, every pass on the small shape. */
                if (i == 0 && large && k != CONV_FWD)
                    continue;
                a.pass = (conv_pass)k;
                const bench_kernel bk = {conv_passes[k].kernel, impls[i].name, nhwc ? "nhwc" : "nchw", &a.shape, 0,
                                         conv_passes[k].flops_factor * flops, impls[i].reps, conv_call, &a};
                status = bench_time(ctx, &bk, NULL, 1);
            }
            free(a.ws);
        }
    }
done:
    free(x), free(y), free(dy), free(dx), free(w), free(dw), free(b), free(db);
    return status;
}

int bench_conv(bench_ctx *ctx)
{
    static const size_t large_shape[4] = {8, 64, 56, 56}, small_shape[4] = {1, 64, 28, 28};
    return bench_large_then_small(ctx, bench_conv_shape, large_shape, small_shape);
}
