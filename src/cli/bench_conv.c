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
 * kernel runs every pass on both. Each gets the workspace its query asks for.
 * The small shape, 1x64x28x28, fits in the L2 with its weights.
 */
#include "config.h"
#include "nnref.h"
#include "cli.h"
#include "cli/bench.h"

typedef enum conv_pass { CONV_FWD, CONV_BWD_DATA, CONV_BWD_WEIGHTS, CONV_FWD_BWD, CONV_PASS_COUNT } conv_pass;

/* Counted flops in units of one pass's 2·N·C_out·P·C_in·taps; the naive kernel runs the forward alone on the
 * large shape (seconds per pass there). */
static const bench_pass conv_passes[CONV_PASS_COUNT] = {
    [CONV_FWD] = {"conv2d_fwd", "conv2d", 1, 0, 0},
    [CONV_BWD_DATA] = {"conv2d_bwd_data", "conv2d", 1, 0, 1},
    [CONV_BWD_WEIGHTS] = {"conv2d_bwd_weights", "conv2d", 1, 0, 1},
    [CONV_FWD_BWD] = {"conv2d_fwd_bwd", "conv2d", 3, 0, 1},
};

typedef struct conv_kernels {
    nnr_conv_workspace_fn workspace;
    nnr_conv_fwd_fn fwd;
    nnr_conv_bwd_fn bwd;
} conv_kernels;

/* Naive, then AVX2 in AVX2 builds: default samples on the large and the small shape, the kernels. */
static const bench_impl conv_impls[] = {
    {"naive", 1, 1,
     &(const conv_kernels){nnr_conv_workspace_size_naive, nnr_conv_fwd_naive, nnr_conv_bwd_naive}},
#ifdef NNR_HAVE_AVX2_BUILD
    {"avx2", 5, 9,
     &(const conv_kernels){nnr_conv_workspace_size_avx2, nnr_conv_fwd_avx2, nnr_conv_bwd_avx2}},
#endif
};

typedef struct conv_call_args {
    nnr_conv_params p;
    nnr_shape shape;
    bench_weighted t;
} conv_call_args;

static nnr_status conv_workspace(const void *arg, const void *kernels, size_t *floats)
{
    const conv_call_args *a = arg;
    return ((const conv_kernels *)kernels)->workspace(&a->p, &a->shape, floats);
}

static nnr_status conv_call(const void *arg, const void *kernels, int pass, const bench_buffers *ws)
{
    const conv_call_args *a = arg;
    const conv_kernels *k = kernels;
    const bench_weighted *t = &a->t;
    nnr_status st;
    switch (pass) {
    case CONV_FWD:
        return k->fwd(&a->p, &a->shape, t->x, t->w, t->b, t->y, ws->ws, ws->ws_floats);
    case CONV_BWD_DATA:
        return k->bwd(&a->p, &a->shape, NULL, t->w, t->dy, t->dx, NULL, NULL, ws->ws, ws->ws_floats);
    case CONV_BWD_WEIGHTS:
        return k->bwd(&a->p, &a->shape, t->x, NULL, t->dy, NULL, t->dw, t->db, ws->ws, ws->ws_floats);
    case CONV_FWD_BWD:
        st = k->fwd(&a->p, &a->shape, t->x, t->w, t->b, t->y, ws->ws, ws->ws_floats);
        if (st.code != NNR_OK)
            return st;
        return k->bwd(&a->p, &a->shape, t->x, t->w, t->dy, t->dx, t->dw, t->db, ws->ws, ws->ws_floats);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a convolution benchmark pass", pass);
    }
}

/* One (N, C, H, W) problem, C -> C channels, 3x3 pad 1, in each requested layout. */
static int bench_conv_shape(bench_ctx *ctx, const size_t nchw[4], int large)
{
    const size_t n = nchw[0], c = nchw[1], h = nchw[2], wd = nchw[3];
    const size_t numel = n * c * h * wd, w_count = c * c * 9;
    const double flops = 2.0 * (double)n * (double)c * (double)(h * wd) * (double)c * 9.0;
    bench_rows rows = {.passes = conv_passes, .n_passes = CONV_PASS_COUNT, .impls = conv_impls,
                       .n_impls = BENCH_COUNT(conv_impls), .call = conv_call, .large = large, .flops = flops,
                       .workspace = conv_workspace, .what = "convolution"};
    conv_call_args a = {0};
    if (!bench_weighted_alloc(&a.t, numel, numel, w_count, c, "convolution"))
        return NNR_EXIT_FAIL;

    bench_section(ctx,
                  "Conv2D 3x3 pad 1, %zu -> %zu channels, on %zux%zux%zux%zu%s: %.2f GFLOP per pass "
                  "(2 flops per tap), fwd_bwd 3 passes; nchw with PyTorch weights (C_out, C_in, 3, 3), nhwc with "
                  "Keras' (3, 3, C_in, C_out). %%peak is of the 1-thread FMA peak stated above.\n",
                  c, c, n, c, h, wd, large ? " (the issue's shape)" : " (cache resident)", flops * 1e-9);

    int status = NNR_EXIT_OK;
    for (int nhwc = 0; nhwc < 2 && status == NNR_EXIT_OK; nhwc++) {
        if (!bench_layout_wanted(ctx, nhwc))
            continue;
        a.p = nhwc ? nnr_conv_keras(2, (int)c, (int)c, 3) : nnr_conv_torch(2, (int)c, (int)c, 3);
        if (nhwc) {
            a.p.padding = NNR_CONV_SAME;
        } else {
            a.p.pad_before[0] = a.p.pad_before[1] = a.p.pad_after[0] = a.p.pad_after[1] = 1;
        }
        a.shape = bench_layout_shape(nchw, nhwc);
        status = bench_rows_time(ctx, &rows, bench_layout_name(nhwc), &a.shape, &a);
    }
    bench_weighted_free(&a.t);
    return status;
}

int bench_conv(bench_ctx *ctx)
{
    static const size_t large_shape[4] = {8, 64, 56, 56}, small_shape[4] = {1, 64, 28, 28};
    return bench_large_then_small(ctx, bench_conv_shape, large_shape, small_shape);
}
