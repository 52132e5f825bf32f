/*
 * nnref bench, normalization family: BatchNorm, LayerNorm and RMSNorm,
 * GroupNorm and InstanceNorm (the framework is bench.h).
 *
 * All are memory bound: a forward pass reads x and writes y and does a
 * handful of flops per element, so rows count compulsory traffic in
 * x-sized tensors and are judged against triad:
 *   forward (fwd_train, fwd_infer): read x, write y             2 tensors
 *   forward + backward (train):     fwd (x, y) + bwd (x, dy, dx) 5 tensors
 * The pool sizes its sets by the distinct buffers a call streams: 2 (x, y)
 * for a forward, 4 (x, y, dy, dx) for forward + backward.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include "nnref.h"
#include "cli.h"
#include "cli/bench.h"

/* One pass of a normalization layer: row label, traffic counted and buffers touched. */
typedef struct norm_pass {
    const char *kernel, *layer;
    int tensors_counted;  /* compulsory tensor passes for GB/s */
    int buffers_touched;  /* distinct big buffers the call streams: sizes the pool */
} norm_pass;

/* Buffer sets of the forward (2 buffers streamed) and forward + backward (4) passes. */
static void norm_sets(const bench_ctx *ctx, size_t tensor_bytes, int large, size_t *fwd, size_t *fwd_bwd)
{
    *fwd = bench_sets_needed(ctx, 2.0 * (double)tensor_bytes, large);
    *fwd_bwd = bench_sets_needed(ctx, 4.0 * (double)tensor_bytes, large);
}

/* A pool of max(fwd, fwd_bwd) sets of four numel-float tensors; prints why on failure. */
static int norm_pool_alloc(bench_pool *pool, size_t n_sets, size_t numel)
{
    const size_t count[4] = {numel, numel, numel, numel};
    if (bench_pool_alloc(pool, n_sets, count))
        return 1;
    fprintf(stderr, "nnref bench: cannot allocate %zu buffer sets of 4 x %zu floats.\n", n_sets, numel);
    return 0;
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* A layer's parameters and saved statistics, shared by every buffer set (small: always cached). */
typedef struct norm_arrays {
    float *gamma, *beta, *dgamma, *dbeta;   /* `features` floats */
    float *mean, *istd;                     /* `stats` floats */
} norm_arrays;

static void norm_arrays_free(norm_arrays *a)
{
    free(a->gamma);
    free(a->beta);
    free(a->dgamma);
    free(a->dbeta);
    free(a->mean);
    free(a->istd);
    *a = (norm_arrays){0};
}

/* gamma[k] = 1 + gamma_step k, beta[k] = 0.1; 0 (and a message naming `layer`) when out of memory. */
static int norm_arrays_alloc(norm_arrays *a, size_t features, size_t stats, float gamma_step, const char *layer)
{
    a->gamma = bench_alloc_floats(features);
    a->beta = bench_alloc_floats(features);
    a->dgamma = bench_alloc_floats(features);
    a->dbeta = bench_alloc_floats(features);
    a->mean = bench_alloc_floats(stats);
    a->istd = bench_alloc_floats(stats);
    if (!a->gamma || !a->beta || !a->dgamma || !a->dbeta || !a->mean || !a->istd) {
        fprintf(stderr, "nnref bench: cannot allocate the %s parameter arrays.\n", layer);
        norm_arrays_free(a);
        return 0;
    }
    for (size_t k = 0; k < features; k++) {
        a->gamma[k] = 1.0f + gamma_step * (float)k;
        a->beta[k] = 0.1f;
    }
    return 1;
}

/* ---- BatchNorm ------------------------------------------------------------ */

/* One implementation's kernels, called by their explicit names. */
typedef struct bn_impl {
    const char *name;
    nnr_batchnorm_fwd_train_fn fwd_train;
    nnr_batchnorm_fwd_infer_fn fwd_infer;
    nnr_batchnorm_bwd_train_fn bwd_train;
    unsigned long reps_large;   /* default timed calls on the DRAM-sized shape */
    unsigned long reps_small;   /* default timed samples on the cache-resident shape */
} bn_impl;

typedef enum bn_pass { PASS_FWD_TRAIN, PASS_FWD_INFER, PASS_FWD_BWD_TRAIN, PASS_COUNT } bn_pass;

static const norm_pass bn_passes[PASS_COUNT] = {
    [PASS_FWD_TRAIN] = {"batchnorm_fwd_train", "batchnorm", 2, 2},
    [PASS_FWD_INFER] = {"batchnorm_fwd_infer", "batchnorm", 2, 2},
    [PASS_FWD_BWD_TRAIN] = {"batchnorm_fwd_bwd_train", "batchnorm", 5, 4},
};

/* Per-channel arrays shared by every buffer set: they are C floats, always cached. */
typedef struct bn_small {
    norm_arrays a;
    float *running_mean, *running_var;
    nnr_batchnorm_cache cache;
    nnr_batchnorm_state state;
} bn_small;

static void small_free(bn_small *s)
{
    norm_arrays_free(&s->a);
    free(s->running_mean);
    free(s->running_var);
    *s = (bn_small){0};
}

static int small_alloc(bn_small *s, size_t channels, size_t cache_len)
{
    *s = (bn_small){0};
    if (!norm_arrays_alloc(&s->a, channels, cache_len, 0.01f, "BatchNorm"))
        return 0;
    s->running_mean = bench_alloc_floats(channels);
    s->running_var = bench_alloc_floats(channels);
    s->cache = (nnr_batchnorm_cache){.mean = s->a.mean, .istd = s->a.istd};
    s->state = (nnr_batchnorm_state){.running_mean = s->running_mean, .running_var = s->running_var};
    if (s->running_mean == NULL || s->running_var == NULL
        || nnr_batchnorm_state_init(&s->state, channels).code != NNR_OK) {
        fprintf(stderr, "nnref bench: cannot set up the BatchNorm running statistics.\n");
        small_free(s);
        return 0;
    }
    return 1;
}

/* A BatchNorm pass as a bench_call_fn. */
typedef struct bn_call_args {
    const bn_impl *impl;
    bn_pass pass;
    nnr_batchnorm_params p;
    nnr_shape shape;
    bn_small *s;
} bn_call_args;

static nnr_status bn_call(const void *arg, const bench_buffers *b)
{
    const bn_call_args *a = arg;
    bn_small *s = a->s;
    nnr_status st;
    switch (a->pass) {
    case PASS_FWD_TRAIN:
        return a->impl->fwd_train(&a->p, &a->shape, b->x, s->a.gamma, s->a.beta, b->y, &s->cache, &s->state);
    case PASS_FWD_INFER:
        return a->impl->fwd_infer(&a->p, &a->shape, b->x, s->a.gamma, s->a.beta, b->y, &s->state);
    case PASS_FWD_BWD_TRAIN:
        st = a->impl->fwd_train(&a->p, &a->shape, b->x, s->a.gamma, s->a.beta, b->y, &s->cache, &s->state);
        if (st.code != NNR_OK)
            return st;
        return a->impl->bwd_train(&a->p, &a->shape, b->x, s->a.gamma, &s->cache, b->dy, b->dx, s->a.dgamma, s->a.dbeta);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a benchmark pass", (int)a->pass);
    }
}

/*
 * Benchmarks one (n, c, h, w) problem in each requested layout (PyTorch
 * preset; nchw axis 1, nhwc axis -1). `large` selects the rotating pool;
 * otherwise one buffer set is reused.
 */
static int bench_bn_shape(bench_ctx *ctx, const size_t nchw[4], int large)
{
    const size_t numel = nchw[0] * nchw[1] * nchw[2] * nchw[3], tensor_bytes = numel * sizeof(float);
    bn_impl impls[2];
    size_t n_impls = 0;
    impls[n_impls++] = (bn_impl){"naive", nnr_batchnorm_fwd_train_naive, nnr_batchnorm_fwd_infer_naive,
                                 nnr_batchnorm_bwd_train_naive, 3, 7};
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable())
        impls[n_impls++] = (bn_impl){"avx2", nnr_batchnorm_fwd_train_avx2, nnr_batchnorm_fwd_infer_avx2,
                                     nnr_batchnorm_bwd_train_avx2, 15, 15};
#endif
    size_t sets_fwd, sets_fwd_bwd;
    norm_sets(ctx, tensor_bytes, large, &sets_fwd, &sets_fwd_bwd);
    bench_pool pool;
    if (!norm_pool_alloc(&pool, max_size(sets_fwd, sets_fwd_bwd), numel))
        return NNR_EXIT_FAIL;
    if (large)
        bench_section(ctx,
                      "%zux%zux%zux%zu: %.1f MB per tensor; each timed call takes the next of %zu (fwd) or %zu "
                      "(fwd+bwd) buffer sets, %.0f and %.0f MB touched > 2 x L3 = %.0f MB, so every call "
                      "streams from DRAM.\n",
                      nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6, sets_fwd, sets_fwd_bwd,
                      sets_fwd * 2.0 * tensor_bytes / 1e6, sets_fwd_bwd * 4.0 * tensor_bytes / 1e6,
                      2.0 * ctx->l3_bytes / 1e6);
    else
        bench_section(ctx,
                      "%zux%zux%zux%zu: %.2f MB per tensor, one buffer set reused: CACHE RESIDENT by design, "
                      "so %%triad can exceed 100.\n",
                      nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6);

    int status = NNR_EXIT_OK;
    static const int layouts[] = {BENCH_NCHW, BENCH_NHWC};
    for (size_t l = 0; l < 2 && status == NNR_EXIT_OK; l++) {
        if (!(ctx->opt->layouts & layouts[l]))
            continue;
        const int nhwc = layouts[l] == BENCH_NHWC;
        bn_call_args a = {.p = nnr_batchnorm_torch()};
        a.p.axis = nhwc ? -1 : 1;
        a.shape = nhwc ? (nnr_shape){4, {nchw[0], nchw[2], nchw[3], nchw[1]}}
                       : (nnr_shape){4, {nchw[0], nchw[1], nchw[2], nchw[3]}};
        size_t channels = 0, cache_len = 0;
        nnr_status st = nnr_batchnorm_sizes(&a.p, &a.shape, &channels, &cache_len);
        if (st.code != NNR_OK) {
            fprintf(stderr, "nnref bench: %s\n", nnr_strerror(&st));
            status = NNR_EXIT_FAIL;
            break;
        }
        bn_small small;
        if (!small_alloc(&small, channels, cache_len)) {
            status = NNR_EXIT_FAIL;
            break;
        }
        a.s = &small;
        for (size_t i = 0; i < n_impls && status == NNR_EXIT_OK; i++)
            for (int k = 0; k < PASS_COUNT && status == NNR_EXIT_OK; k++) {
                a.impl = &impls[i];
                a.pass = (bn_pass)k;
                const bench_kernel bk = {bn_passes[k].kernel, impls[i].name, nhwc ? "nhwc" : "nchw", &a.shape,
                                         bn_passes[k].tensors_counted * (double)tensor_bytes, 0,
                                         large ? impls[i].reps_large : impls[i].reps_small, bn_call, &a};
                status = bench_time(ctx, &bk, &pool, bn_passes[k].buffers_touched == 2 ? sets_fwd : sets_fwd_bwd);
            }
        small_free(&small);
    }
    bench_pool_free(&pool);
    return status;
}

int bench_batchnorm(bench_ctx *ctx)
{
    static const size_t large_shape[4] = {32, 64, 56, 56}, small_shape[4] = {8, 16, 14, 14};
    return bench_large_then_small(ctx, bench_bn_shape, large_shape, small_shape);
}

/* ---- LayerNorm and RMSNorm ------------------------------------------------ */

/* Both layers' kernels of one implementation, called by their explicit names. */
typedef struct ln_impl {
    const char *name;
    nnr_layernorm_fwd_fn fwd;
    nnr_layernorm_bwd_fn bwd;
    nnr_rmsnorm_fwd_fn rms_fwd;
    nnr_rmsnorm_bwd_fn rms_bwd;
    unsigned long reps_large, reps_small;
} ln_impl;

typedef enum ln_pass { LN_FWD, LN_FWD_BWD, RMS_FWD, RMS_FWD_BWD, LN_PASS_COUNT } ln_pass;

static const norm_pass ln_passes[LN_PASS_COUNT] = {
    [LN_FWD] = {"layernorm_fwd", "layernorm", 2, 2},
    [LN_FWD_BWD] = {"layernorm_fwd_bwd", "layernorm", 5, 4},
    [RMS_FWD] = {"rmsnorm_fwd", "rmsnorm", 2, 2},
    [RMS_FWD_BWD] = {"rmsnorm_fwd_bwd", "rmsnorm", 5, 4},
};

/* Per-row and per-element arrays shared by every buffer set (D and rows floats: cached). */
typedef struct ln_small {
    const ln_impl *impl;
    ln_pass pass;
    nnr_shape shape;
    nnr_layernorm_params lp;
    nnr_rmsnorm_params rp;
    norm_arrays a;   /* D features, rows statistics */
} ln_small;

static nnr_status ln_call(const void *arg, const bench_buffers *b)
{
    const ln_small *s = arg;
    const norm_arrays *a = &s->a;
    const nnr_layernorm_cache cache = {a->mean, a->istd};
    const nnr_rmsnorm_cache rcache = {a->istd};
    nnr_status st;
    switch (s->pass) {
    case LN_FWD:
        return s->impl->fwd(&s->lp, &s->shape, b->x, a->gamma, a->beta, b->y, &cache);
    case LN_FWD_BWD:
        st = s->impl->fwd(&s->lp, &s->shape, b->x, a->gamma, a->beta, b->y, &cache);
        if (st.code != NNR_OK)
            return st;
        return s->impl->bwd(&s->lp, &s->shape, b->x, a->gamma, &cache, b->dy, b->dx, a->dgamma, a->dbeta);
    case RMS_FWD:
        return s->impl->rms_fwd(&s->rp, &s->shape, b->x, a->gamma, b->y, &rcache);
    case RMS_FWD_BWD:
        st = s->impl->rms_fwd(&s->rp, &s->shape, b->x, a->gamma, b->y, &rcache);
        if (st.code != NNR_OK)
            return st;
        return s->impl->rms_bwd(&s->rp, &s->shape, b->x, a->gamma, &rcache, b->dy, b->dx, a->dgamma);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a LayerNorm benchmark pass", (int)s->pass);
    }
}

/* rows x D = rows_d[0] x rows_d[1], normalized over the last axis; `large` selects the rotating pool. */
static int bench_ln_shape(bench_ctx *ctx, const size_t rows_d[4], int large)
{
    const size_t rows = rows_d[0], D = rows_d[1];
    const size_t numel = rows * D, tensor_bytes = numel * sizeof(float);
    ln_impl impls[2];
    size_t n_impls = 0;
    impls[n_impls++] = (ln_impl){"naive", nnr_layernorm_fwd_naive, nnr_layernorm_bwd_naive, nnr_rmsnorm_fwd_naive,
                                 nnr_rmsnorm_bwd_naive, 5, 7};
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable())
        impls[n_impls++] = (ln_impl){"avx2", nnr_layernorm_fwd_avx2, nnr_layernorm_bwd_avx2, nnr_rmsnorm_fwd_avx2,
                                     nnr_rmsnorm_bwd_avx2, 15, 15};
#endif
    size_t sets_fwd, sets_fwd_bwd;
    norm_sets(ctx, tensor_bytes, large, &sets_fwd, &sets_fwd_bwd);
    bench_pool pool;
    if (!norm_pool_alloc(&pool, max_size(sets_fwd, sets_fwd_bwd), numel))
        return NNR_EXIT_FAIL;
    ln_small s = {0};
    s.shape = (nnr_shape){2, {rows, D}};
    s.lp = nnr_layernorm_torch(1);
    s.rp = nnr_rmsnorm_torch(1);
    int status = NNR_EXIT_OK;
    if (!norm_arrays_alloc(&s.a, D, rows, 0.001f, "LayerNorm")) {
        status = NNR_EXIT_FAIL;
    } else {
        if (large)
            bench_section(ctx,
                          "%zux%zu (normalized over the last axis): %.1f MB per tensor; each timed call takes the "
                          "next of %zu (fwd) or %zu (fwd+bwd) buffer sets, > 2 x L3 = %.0f MB, so every call streams "
                          "from DRAM.\n",
                          rows, D, tensor_bytes / 1e6, sets_fwd, sets_fwd_bwd, 2.0 * ctx->l3_bytes / 1e6);
        else
            bench_section(ctx,
                          "%zux%zu (normalized over the last axis): %.2f MB per tensor, one buffer set reused: "
                          "CACHE RESIDENT by design, so %%triad can exceed 100.\n",
                          rows, D, tensor_bytes / 1e6);
        for (size_t i = 0; i < n_impls && status == NNR_EXIT_OK; i++)
            for (int k = 0; k < LN_PASS_COUNT && status == NNR_EXIT_OK; k++) {
                if (!bench_wants(ctx->opt, ln_passes[k].layer))
                    continue;
                s.impl = &impls[i];
                s.pass = (ln_pass)k;
                const bench_kernel bk = {ln_passes[k].kernel, impls[i].name, "-", &s.shape,
                                         ln_passes[k].tensors_counted * (double)tensor_bytes, 0,
                                         large ? impls[i].reps_large : impls[i].reps_small, ln_call, &s};
                status = bench_time(ctx, &bk, &pool, ln_passes[k].buffers_touched == 2 ? sets_fwd : sets_fwd_bwd);
            }
    }
    norm_arrays_free(&s.a);
    bench_pool_free(&pool);
    return status;
}

int bench_layernorm(bench_ctx *ctx)
{
    static const size_t large_rows_d[4] = {8192, 768}, small_rows_d[4] = {64, 768};
    return bench_large_then_small(ctx, bench_ln_shape, large_rows_d, small_rows_d);
}

/* ---- GroupNorm and InstanceNorm -------------------------------------------- */

typedef enum gn_pass { GN_FWD, GN_FWD_BWD, IN_FWD, IN_FWD_BWD, GN_PASS_COUNT } gn_pass;

static const struct {
    norm_pass pass;
    int groups;           /* -1: one group per channel (InstanceNorm) */
    int with_bwd;
} gn_passes[GN_PASS_COUNT] = {
    [GN_FWD] = {{"groupnorm_fwd", "groupnorm", 2, 2}, 32, 0},
    [GN_FWD_BWD] = {{"groupnorm_fwd_bwd", "groupnorm", 5, 4}, 32, 1},
    [IN_FWD] = {{"instancenorm_fwd", "instancenorm", 2, 2}, -1, 0},
    [IN_FWD_BWD] = {{"instancenorm_fwd_bwd", "instancenorm", 5, 4}, -1, 1},
};

/* One GroupNorm call's kernels, parameters and per-channel arrays (C and N*G floats: cached). */
typedef struct gn_call_args {
    nnr_groupnorm_fwd_fn fwd;
    nnr_groupnorm_bwd_fn bwd;
    int with_bwd;
    nnr_groupnorm_params p;
    nnr_shape shape;
    norm_arrays a;   /* C features, N*G statistics */
} gn_call_args;

static nnr_status gn_call(const void *arg, const bench_buffers *b)
{
    const gn_call_args *a = arg;
    const norm_arrays *n = &a->a;
    const nnr_groupnorm_cache cache = {n->mean, n->istd, NULL};
    nnr_status st = a->fwd(&a->p, &a->shape, b->x, n->gamma, n->beta, b->y, &cache);
    if (st.code != NNR_OK || !a->with_bwd)
        return st;
    return a->bwd(&a->p, &a->shape, b->x, n->gamma, &cache, b->dy, b->dx, n->dgamma, n->dbeta);
}

/* One (n, c, h, w) problem in each requested layout; `large` selects the rotating pool. */
static int bench_gn_shape(bench_ctx *ctx, const size_t nchw[4], int large)
{
    const size_t numel = nchw[0] * nchw[1] * nchw[2] * nchw[3], tensor_bytes = numel * sizeof(float);
    const size_t C = nchw[1], cache_len = nchw[0] * nchw[1];   /* N*G <= N*C */
    struct {
        const char *name;
        nnr_groupnorm_fwd_fn fwd;
        nnr_groupnorm_bwd_fn bwd;
        unsigned long reps_large, reps_small;
    } impls[2] = {{"naive", nnr_groupnorm_fwd_naive, nnr_groupnorm_bwd_naive, 3, 7}};
    size_t n_impls = 1;
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable()) {
        impls[1].name = "avx2", impls[1].fwd = nnr_groupnorm_fwd_avx2, impls[1].bwd = nnr_groupnorm_bwd_avx2;
        impls[1].reps_large = 15, impls[1].reps_small = 15;
        n_impls = 2;
    }
#endif
    size_t sets_fwd, sets_fwd_bwd;
    norm_sets(ctx, tensor_bytes, large, &sets_fwd, &sets_fwd_bwd);
    bench_pool pool;
    if (!norm_pool_alloc(&pool, max_size(sets_fwd, sets_fwd_bwd), numel))
        return NNR_EXIT_FAIL;
    gn_call_args a = {0};
    int status = NNR_EXIT_OK;
    if (!norm_arrays_alloc(&a.a, C, cache_len, 0.01f, "GroupNorm")) {
        status = NNR_EXIT_FAIL;
    } else {
        if (large)
            bench_section(ctx,
                          "GroupNorm %zux%zux%zux%zu: %.1f MB per tensor; each timed call takes the next of %zu "
                          "(fwd) or %zu (fwd+bwd) buffer sets, > 2 x L3 = %.0f MB, so every call streams from "
                          "DRAM.\n",
                          nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6, sets_fwd, sets_fwd_bwd,
                          2.0 * ctx->l3_bytes / 1e6);
        else
            bench_section(ctx,
                          "GroupNorm %zux%zux%zux%zu: %.2f MB per tensor, one buffer set reused: CACHE RESIDENT "
                          "by design, so %%triad can exceed 100.\n",
                          nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6);
        static const int layouts[] = {BENCH_NCHW, BENCH_NHWC};
        for (size_t l = 0; l < 2 && status == NNR_EXIT_OK; l++) {
            if (!(ctx->opt->layouts & layouts[l]))
                continue;
            const int nhwc = layouts[l] == BENCH_NHWC;
            a.shape = nhwc ? (nnr_shape){4, {nchw[0], nchw[2], nchw[3], nchw[1]}}
                           : (nnr_shape){4, {nchw[0], nchw[1], nchw[2], nchw[3]}};
            for (size_t i = 0; i < n_impls && status == NNR_EXIT_OK; i++)
                for (int k = 0; k < GN_PASS_COUNT && status == NNR_EXIT_OK; k++) {
                    const norm_pass *pass = &gn_passes[k].pass;
                    if (!bench_wants(ctx->opt, pass->layer))
                        continue;
                    /* PyTorch preset for nchw, Keras' channel axis for nhwc (epsilon does not change the work) */
                    const int groups = gn_passes[k].groups;
                    a.p = nhwc ? nnr_groupnorm_keras(groups) : nnr_groupnorm_torch(groups);
                    a.fwd = impls[i].fwd;
                    a.bwd = impls[i].bwd;
                    a.with_bwd = gn_passes[k].with_bwd;
                    const bench_kernel bk = {pass->kernel, impls[i].name, nhwc ? "nhwc" : "nchw", &a.shape,
                                             pass->tensors_counted * (double)tensor_bytes, 0,
                                             large ? impls[i].reps_large : impls[i].reps_small, gn_call, &a};
                    status = bench_time(ctx, &bk, &pool, pass->buffers_touched == 2 ? sets_fwd : sets_fwd_bwd);
                }
        }
    }
    norm_arrays_free(&a.a);
    bench_pool_free(&pool);
    return status;
}

int bench_groupnorm(bench_ctx *ctx)
{
    static const size_t large_shape[4] = {32, 64, 56, 56}, small_shape[4] = {8, 64, 14, 14};
    return bench_large_then_small(ctx, bench_gn_shape, large_shape, small_shape);
}
