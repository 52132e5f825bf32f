/*
 * nnref bench, dropout and activations (the framework is bench.h).
 *
 * Elementwise and memory bound; the layout does not matter (rows say "-").
 * Counted traffic in x-sized tensors (the mask is one byte per element, a
 * quarter tensor):
 *   dropout fwd (training, mask saved): x 1 + y 1 + mask 1/4            = 2.25
 *   dropout fwd+bwd: fwd 2.25 + bwd dy 1 + mask 1/4 + dx 1               = 4.5
 *   relu fwd: x 1 + y 1                                                  = 2
 *   relu fwd+bwd: fwd 2 + bwd y 1 + dy 1 + dx 1                          = 5
 * The mask lives after y in the set's y buffer (as pooling's argmax). The
 * dropout rate is 0.5 (Keras preset), the hardest case for a branchy kernel.
 */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include "nnref.h"
#include "cli.h"
#include "cli/bench.h"

typedef enum act_pass { DROPOUT_FWD, DROPOUT_FWD_BWD, RELU_FWD, RELU_FWD_BWD, ACT_PASS_COUNT } act_pass;

/* Traffic counted in x-sized tensors, as above. */
static const bench_pass act_passes[ACT_PASS_COUNT] = {
    [DROPOUT_FWD] = {"dropout_fwd", "dropout", 2.25, 0, 0},
    [DROPOUT_FWD_BWD] = {"dropout_fwd_bwd", "dropout", 4.5, 0, 0},
    [RELU_FWD] = {"relu_fwd", "relu", 2.0, 0, 0},
    [RELU_FWD_BWD] = {"relu_fwd_bwd", "relu", 5.0, 0, 0},
};

typedef struct act_kernels {
    nnr_dropout_fwd_train_fn drop_fwd;
    nnr_dropout_bwd_fn drop_bwd;
    nnr_relu_fwd_fn relu_fwd;
    nnr_relu_bwd_fn relu_bwd;
} act_kernels;

/* Naive, then AVX2 in AVX2 builds: default samples on the large and the small shape, the kernels. */
static const bench_impl act_impls[] = {
    {"naive", 5, 7,
     &(const act_kernels){nnr_dropout_fwd_train_naive, nnr_dropout_bwd_naive, nnr_relu_fwd_naive, nnr_relu_bwd_naive}},
#ifdef NNR_HAVE_AVX2_BUILD
    {"avx2", 15, 15,
     &(const act_kernels){nnr_dropout_fwd_train_avx2, nnr_dropout_bwd_avx2, nnr_relu_fwd_avx2, nnr_relu_bwd_avx2}},
#endif
};

typedef struct act_call_args {
    nnr_dropout_params p;
    nnr_shape shape;
    size_t count;
} act_call_args;

static nnr_status act_call(const void *arg, const void *kernels, int pass, const bench_buffers *b)
{
    const act_call_args *a = arg;
    const act_kernels *k = kernels;
    uint8_t *mask = (uint8_t *)(b->y + a->count);
    nnr_status st;
    switch (pass) {
    case DROPOUT_FWD:
        return k->drop_fwd(&a->p, &a->shape, b->x, b->y, mask);
    case DROPOUT_FWD_BWD:
        st = k->drop_fwd(&a->p, &a->shape, b->x, b->y, mask);
        if (st.code != NNR_OK)
            return st;
        return k->drop_bwd(&a->p, &a->shape, b->dy, mask, b->dx);
    case RELU_FWD:
        return k->relu_fwd(&a->shape, b->x, b->y);
    case RELU_FWD_BWD:
        st = k->relu_fwd(&a->shape, b->x, b->y);
        if (st.code != NNR_OK)
            return st;
        return k->relu_bwd(&a->shape, b->y, b->dy, b->dx);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a dropout/activation benchmark pass", pass);
    }
}

/* One (n, c, h, w) tensor; `large` selects the rotating pool. */
static int bench_act_shape(bench_ctx *ctx, const size_t nchw[4], int large)
{
    const size_t numel = nchw[0] * nchw[1] * nchw[2] * nchw[3], tensor_bytes = numel * sizeof(float);
    bench_rows rows = {.passes = act_passes, .n_passes = ACT_PASS_COUNT, .impls = act_impls,
                       .n_impls = BENCH_COUNT(act_impls), .call = act_call, .large = large,
                       .tensor_bytes = (double)tensor_bytes};
    /* y's buffer also holds the mask: numel bytes = numel/4 floats */
    const size_t count[4] = {numel, numel + (numel + 3) / 4, numel, numel};
    if (!bench_rows_pool(ctx, &rows, count))
        return NNR_EXIT_FAIL;
    if (large)
        bench_section(ctx,
                      "Dropout (rate 0.5, training, mask saved) and ReLU on %zux%zux%zux%zu: %.1f MB input; each "
                      "timed call takes the next of %zu to %zu buffer sets, > 2 x L3 = %.0f MB, so every call "
                      "streams from DRAM. Counted: dropout fwd 2.25 x-sized tensors (x, y, 1-byte mask), fwd+bwd "
                      "4.5; relu fwd 2, fwd+bwd 5.\n",
                      nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6, rows.sets[RELU_FWD],
                      rows.sets[RELU_FWD_BWD], 2.0 * ctx->l3_bytes / 1e6);
    else
        bench_section(ctx,
                      "Dropout and ReLU on %zux%zux%zux%zu: %.2f MB input, one buffer set reused: CACHE RESIDENT "
                      "by design, so %%triad can exceed 100.\n",
                      nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6);
    const act_call_args a = {nnr_dropout_keras(0.5), {4, {nchw[0], nchw[1], nchw[2], nchw[3]}}, numel};
    int status = bench_rows_time(ctx, &rows, "-", &a.shape, &a);
    bench_pool_free(&rows.pool);
    return status;
}

int bench_dropout(bench_ctx *ctx)
{
    static const size_t large_shape[4] = {32, 64, 56, 56}, small_shape[4] = {8, 64, 14, 14};
    return bench_large_then_small(ctx, bench_act_shape, large_shape, small_shape);
}
