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

static const struct {
    const char *kernel, *layer;
    double tensors_counted;   /* compulsory traffic, x-sized tensors */
} pool_passes[POOL_PASS_COUNT] = {
    [MAXPOOL_FWD] = {"maxpool_fwd", "maxpool", 1.5},
    [MAXPOOL_FWD_BWD] = {"maxpool_fwd_bwd", "maxpool", 3.0},
    [AVGPOOL_FWD] = {"avgpool_fwd", "avgpool", 1.25},
    [AVGPOOL_FWD_BWD] = {"avgpool_fwd_bwd", "avgpool", 2.5},
};

typedef struct pool_call_args {
    nnr_maxpool_fwd_fn max_fwd;
    nnr_maxpool_bwd_fn max_bwd;
    nnr_avgpool_fwd_fn avg_fwd;
    nnr_avgpool_bwd_fn avg_bwd;
    pool_pass pass;
    nnr_pool_params p;
    nnr_shape shape;
    size_t out_count;
} pool_call_args;

static nnr_status pool_call(const void *arg, const bench_buffers *b)
{
    const pool_call_args *a = arg;
    int32_t *argmax = (int32_t *)(b->y + a->out_count);
    nnr_status st;
    switch (a->pass) {
    case MAXPOOL_FWD:
        return a->max_fwd(&a->p, &a->shape, b->x, b->y, argmax);
    case MAXPOOL_FWD_BWD:
        st = a->max_fwd(&a->p, &a->shape, b->x, b->y, argmax);
        if (st.code != NNR_OK)
            return st;
        return a->max_bwd(&a->p, &a->shape, b->dy, argmax, b->dx);
    case AVGPOOL_FWD:
        return a->avg_fwd(&a->p, &a->shape, b->x, b->y);
    case AVGPOOL_FWD_BWD:
        st = a->avg_fwd(&a->p, &a->shape, b->x, b->y);
        if (st.code != NNR_OK)
            return st;
        return a->avg_bwd(&a->p, &a->shape, b->dy, b->dx);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a pooling benchmark pass", (int)a->pass);
    }
}

/* One (n, c, h, w) problem in each requested layout; `large` selects the rotating pool. */
static int bench_pool_shape(bench_ctx *ctx, const size_t nchw[4], int large)
{
    const size_t numel = nchw[0] * nchw[1] * nchw[2] * nchw[3], tensor_bytes = numel * sizeof(float);
    struct {
        const char *name;
        nnr_maxpool_fwd_fn max_fwd;
        nnr_maxpool_bwd_fn max_bwd;
        nnr_avgpool_fwd_fn avg_fwd;
        nnr_avgpool_bwd_fn avg_bwd;
        unsigned long reps_large, reps_small;
    } impls[2] = {{"naive", nnr_maxpool_fwd_naive, nnr_maxpool_bwd_naive, nnr_avgpool_fwd_naive,
                   nnr_avgpool_bwd_naive, 5, 7}};
    size_t n_impls = 1;
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable()) {
        impls[1].name = "avx2", impls[1].max_fwd = nnr_maxpool_fwd_avx2, impls[1].max_bwd = nnr_maxpool_bwd_avx2;
        impls[1].avg_fwd = nnr_avgpool_fwd_avx2, impls[1].avg_bwd = nnr_avgpool_bwd_avx2;
        impls[1].reps_large = 15, impls[1].reps_small = 15;
        n_impls = 2;
    }
#endif
    /* Sets per pass: enough that the bytes one pass touches (its counted
     * traffic, argmax read twice aside) exceed 2 x L3. */
    size_t sets_for_pass[POOL_PASS_COUNT], max_sets = 1;
    for (int k = 0; k < POOL_PASS_COUNT; k++) {
        sets_for_pass[k] = bench_sets_needed(ctx, pool_passes[k].tensors_counted * (double)tensor_bytes, large);
        if (sets_for_pass[k] > max_sets)
            max_sets = sets_for_pass[k];
    }
    const size_t count[4] = {numel, numel, numel, numel};
    bench_pool pool;
    if (!bench_pool_alloc(&pool, max_sets, count)) {
        fprintf(stderr, "nnref bench: cannot allocate %zu buffer sets of 4 x %zu floats.\n", max_sets, numel);
        return NNR_EXIT_FAIL;
    }
    if (large)
        bench_section(ctx,
                      "MaxPool/AvgPool 2x2 stride 2 on %zux%zux%zux%zu: %.1f MB input; each timed call takes the "
                      "next of %zu to %zu buffer sets, > 2 x L3 = %.0f MB, so every call streams from DRAM. "
                      "Counted: max fwd 1.5 x-sized tensors (x, y, argmax), fwd+bwd 3; avg fwd 1.25, fwd+bwd 2.5.\n",
                      nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6, sets_for_pass[MAXPOOL_FWD_BWD],
                      sets_for_pass[AVGPOOL_FWD], 2.0 * ctx->l3_bytes / 1e6);
    else
        bench_section(ctx,
                      "MaxPool/AvgPool 2x2 stride 2 on %zux%zux%zux%zu: %.2f MB input, one buffer set reused: "
                      "CACHE RESIDENT by design, so %%triad can exceed 100.\n",
                      nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6);
    pool_call_args a = {0};
    int status = NNR_EXIT_OK;
    static const int layouts[] = {BENCH_NCHW, BENCH_NHWC};
    for (size_t l = 0; l < 2 && status == NNR_EXIT_OK; l++) {
        if (!(ctx->opt->layouts & layouts[l]))
            continue;
        const int nhwc = layouts[l] == BENCH_NHWC;
        a.shape = nhwc ? (nnr_shape){4, {nchw[0], nchw[2], nchw[3], nchw[1]}}
                       : (nnr_shape){4, {nchw[0], nchw[1], nchw[2], nchw[3]}};
        a.p = nhwc ? nnr_pool_keras(2, 2) : nnr_pool_torch(2, 2);
        nnr_shape out;
        nnr_status st = nnr_pool_output_shape(&a.p, &a.shape, &out);
        if (st.code != NNR_OK || nnr_shape_numel(&out, "out", &a.out_count).code != NNR_OK) {
            fprintf(stderr, "nnref bench: %s\n", nnr_strerror(&st));
            status = NNR_EXIT_FAIL;
            break;
        }
        for (size_t i = 0; i < n_impls && status == NNR_EXIT_OK; i++)
            for (int k = 0; k < POOL_PASS_COUNT && status == NNR_EXIT_OK; k++) {
                if (!bench_wants(ctx->opt, pool_passes[k].layer))
                    continue;
                a.max_fwd = impls[i].max_fwd, a.max_bwd = impls[i].max_bwd;
                a.avg_fwd = impls[i].avg_fwd, a.avg_bwd = impls[i].avg_bwd;
                a.pass = (pool_pass)k;
                const bench_kernel bk = {pool_passes[k].kernel, impls[i].name, nhwc ? "nhwc" : "nchw", &a.shape,
                                         pool_passes[k].tensors_counted * (double)tensor_bytes, 0,
                                         large ? impls[i].reps_large : impls[i].reps_small, pool_call, &a};
                status = bench_time(ctx, &bk, &pool, sets_for_pass[k]);
            }
    }
    bench_pool_free(&pool);
    return status;
}

int bench_pooling(bench_ctx *ctx)
{
    static const size_t large_shape[4] = {32, 64, 56, 56}, small_shape[4] = {8, 64, 14, 14};
    return bench_large_then_small(ctx, bench_pool_shape, large_shape, small_shape);
}
