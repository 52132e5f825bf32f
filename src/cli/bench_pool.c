/*
 * nnref bench, pooling family: MaxPool and AvgPool (the framework is bench.h).
 *
 * 2x2 windows with stride 2 (PyTorch preset for nchw, Keras' for nhwc), so y,
 * dy and argmax are a quarter of x each. Memory bound; counted traffic in
 * x-sized tensors:
 *   max fwd (training, argmax saved): x 1 + y 1/4 + argmax 1/4       = 1.5
 *   max fwd+bwd: fwd 1.5 + bwd dy 1/4 + argmax 1/4 + dx 1             = 3
 *   avg fwd: x 1 + y 1/4                                              = 1.25
 *   avg fwd+bwd: fwd 1.25 + bwd dy 1/4 + dx 1                         = 2.5
 * y and argmax share the set's y buffer (argmax after the quarter y uses),
 * dy is the first quarter of the dy buffer.
 */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include "nnref.h"
#include "cli.h"
#include "cli/bench.h"

typedef enum pool_pass { MAXPOOL_FWD, MAXPOOL_FWD_BWD, AVGPOOL_FWD, AVGPOOL_FWD_BWD, POOL_PASS_COUNT } pool_pass;

/* Traffic counted in x-sized tensors, as above. */
static const bench_pass pool_passes[POOL_PASS_COUNT] = {
    [MAXPOOL_FWD] = {"maxpool_fwd", "maxpool", 1.5, 0, 0},
    [MAXPOOL_FWD_BWD] = {"maxpool_fwd_bwd", "maxpool", 3.0, 0, 0},
    [AVGPOOL_FWD] = {"avgpool_fwd", "avgpool", 1.25, 0, 0},
    [AVGPOOL_FWD_BWD] = {"avgpool_fwd_bwd", "avgpool", 2.5, 0, 0},
};

typedef struct pool_kernels {
    nnr_maxpool_fwd_fn max_fwd;
    nnr_maxpool_bwd_fn max_bwd;
    nnr_avgpool_fwd_fn avg_fwd;
    nnr_avgpool_bwd_fn avg_bwd;
} pool_kernels;

/* Naive, then AVX2 in AVX2 builds: default samples on the large and the small shape, the kernels. */
static const bench_impl pool_impls[] = {
    {"naive", 5, 7,
     &(const pool_kernels){nnr_maxpool_fwd_naive, nnr_maxpool_bwd_naive, nnr_avgpool_fwd_naive, nnr_avgpool_bwd_naive}},
#ifdef NNR_HAVE_AVX2_BUILD
    {"avx2", 15, 15,
     &(const pool_kernels){nnr_maxpool_fwd_avx2, nnr_maxpool_bwd_avx2, nnr_avgpool_fwd_avx2, nnr_avgpool_bwd_avx2}},
#endif
};

typedef struct pool_call_args {
    nnr_pool_params p;
    nnr_shape shape;
    size_t out_count;
} pool_call_args;

static nnr_status pool_call(const void *arg, const void *kernels, int pass, const bench_buffers *b)
{
    const pool_call_args *a = arg;
    const pool_kernels *k = kernels;
    int32_t *argmax = (int32_t *)(b->y + a->out_count);
    nnr_status st;
    switch (pass) {
    case MAXPOOL_FWD:
        return k->max_fwd(&a->p, &a->shape, b->x, b->y, argmax);
    case MAXPOOL_FWD_BWD:
        st = k->max_fwd(&a->p, &a->shape, b->x, b->y, argmax);
        if (st.code != NNR_OK)
            return st;
        return k->max_bwd(&a->p, &a->shape, b->dy, argmax, b->dx);
    case AVGPOOL_FWD:
        return k->avg_fwd(&a->p, &a->shape, b->x, b->y);
    case AVGPOOL_FWD_BWD:
        st = k->avg_fwd(&a->p, &a->shape, b->x, b->y);
        if (st.code != NNR_OK)
            return st;
        return k->avg_bwd(&a->p, &a->shape, b->dy, b->dx);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a pooling benchmark pass", pass);
    }
}

/* One (n, c, h, w) problem in each requested layout; `large` selects the rotating pool. */
static int bench_pool_shape(bench_ctx *ctx, const size_t nchw[4], int large)
{
    const size_t numel = nchw[0] * nchw[1] * nchw[2] * nchw[3], tensor_bytes = numel * sizeof(float);
    bench_rows rows = {.passes = pool_passes, .n_passes = POOL_PASS_COUNT, .impls = pool_impls,
                       .n_impls = BENCH_COUNT(pool_impls), .call = pool_call, .large = large,
                       .tensor_bytes = (double)tensor_bytes};
    /* Sets per pass: enough that the bytes one pass touches (its counted
     * traffic, argmax read twice aside) exceed 2 x L3. */
    const size_t count[4] = {numel, numel, numel, numel};
    if (!bench_rows_pool(ctx, &rows, count))
        return NNR_EXIT_FAIL;
    if (large)
        bench_section(ctx,
                      "MaxPool/AvgPool 2x2 stride 2 on %zux%zux%zux%zu: %.1f MB input; each timed call takes the "
                      "next of %zu to %zu buffer sets, > 2 x L3 = %.0f MB, so every call streams from DRAM. "
                      "Counted: max fwd 1.5 x-sized tensors (x, y, argmax), fwd+bwd 3; avg fwd 1.25, fwd+bwd 2.5.\n",
                      nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6, rows.sets[MAXPOOL_FWD_BWD],
                      rows.sets[AVGPOOL_FWD], 2.0 * ctx->l3_bytes / 1e6);
    else
        bench_section(ctx,
                      "MaxPool/AvgPool 2x2 stride 2 on %zux%zux%zux%zu: %.2f MB input, one buffer set reused: "
                      "CACHE RESIDENT by design, so %%triad can exceed 100.\n",
                      nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6);
    int status = NNR_EXIT_OK;
    for (int nhwc = 0; nhwc < 2 && status == NNR_EXIT_OK; nhwc++) {
        if (!bench_layout_wanted(ctx, nhwc))
            continue;
        pool_call_args a = {nhwc ? nnr_pool_keras(2, 2) : nnr_pool_torch(2, 2), bench_layout_shape(nchw, nhwc), 0};
        nnr_shape out;
        nnr_status st = nnr_pool_output_shape(&a.p, &a.shape, &out);
        if (st.code != NNR_OK || nnr_shape_numel(&out, "out", &a.out_count).code != NNR_OK) {
            fprintf(stderr, "nnref bench: %s\n", nnr_strerror(&st));
            status = NNR_EXIT_FAIL;
            break;
        }
        status = bench_rows_time(ctx, &rows, bench_layout_name(nhwc), &a.shape, &a);
    }
    bench_pool_free(&rows.pool);
    return status;
}

int bench_pooling(bench_ctx *ctx)
{
    static const size_t large_shape[4] = {32, 64, 56, 56}, small_shape[4] = {8, 64, 14, 14};
    return bench_large_then_small(ctx, bench_pool_shape, large_shape, small_shape);
}
