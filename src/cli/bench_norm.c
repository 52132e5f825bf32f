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

/* The rotating pool of four numel-float tensors per set; prints why on failure. */
static int norm_rows_pool(const bench_ctx *ctx, bench_rows *rows, size_t numel)
{
    const size_t count[4] = {numel, numel, numel, numel};
    return bench_rows_pool(ctx, rows, count);
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

typedef struct bn_kernels {
    nnr_batchnorm_fwd_train_fn fwd_train;
    nnr_batchnorm_fwd_infer_fn fwd_infer;
    nnr_batchnorm_bwd_train_fn bwd_train;
} bn_kernels;

/* Naive, then AVX2 in AVX2 builds: default samples on the large and the small shape, the kernels. */
static const bench_impl bn_impls[] = {
    {"naive", 3, 7,
     &(const bn_kernels){nnr_batchnorm_fwd_train_naive, nnr_batchnorm_fwd_infer_naive, nnr_batchnorm_bwd_train_naive}},
#ifdef NNR_HAVE_AVX2_BUILD
    {"avx2", 15, 15,
     &(const bn_kernels){nnr_batchnorm_fwd_train_avx2, nnr_batchnorm_fwd_infer_avx2, nnr_batchnorm_bwd_train_avx2}},
#endif
};

typedef enum bn_pass { PASS_FWD_TRAIN, PASS_FWD_INFER, PASS_FWD_BWD_TRAIN, PASS_COUNT } bn_pass;

/* Counted 2 (forward) or 5 (forward + backward) x-sized tensors, streamed 2 or 4. */
static const bench_pass bn_passes[PASS_COUNT] = {
    [PASS_FWD_TRAIN] = {"batchnorm_fwd_train", "batchnorm", 2, 2, 0},
    [PASS_FWD_INFER] = {"batchnorm_fwd_infer", "batchnorm", 2, 2, 0},
    [PASS_FWD_BWD_TRAIN] = {"batchnorm_fwd_bwd_train", "batchnorm", 5, 4, 0},
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
    nnr_batchnorm_params p;
    nnr_shape shape;
    bn_small *s;
} bn_call_args;

static nnr_status bn_call(const void *arg, const void *kernels, int pass, const bench_buffers *b)
{
    const bn_call_args *a = arg;
    const bn_kernels *k = kernels;
    bn_small *s = a->s;
    nnr_status st;
    switch (pass) {
    case PASS_FWD_TRAIN:
        return k->fwd_train(&a->p, &a->shape, b->x, s->a.gamma, s->a.beta, b->y, &s->cache, &s->state);
    case PASS_FWD_INFER:
        return k->fwd_infer(&a->p, &a->shape, b->x, s->a.gamma, s->a.beta, b->y, &s->state);
    case PASS_FWD_BWD_TRAIN:
        st = k->fwd_train(&a->p, &a->shape, b->x, s->a.gamma, s->a.beta, b->y, &s->cache, &s->state);
        if (st.code != NNR_OK)
            return st;
        return k->bwd_train(&a->p, &a->shape, b->x, s->a.gamma, &s->cache, b->dy, b->dx, s->a.dgamma, s->a.dbeta);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a benchmark pass", pass);
    }
}

/*
 * Benchmarks one (n, c, h, w) problem in each requested layout (PyTorch
 * preset; nchw axis 1, nhwc axis -1). `large` selects the rotating pool;
 * otherwise one buffer set is reused.
 */
/* What BatchNorm's rows count and with which parameters, below each of its paragraphs. */
#define BN_SECTION_NOTE                                                                                    \
    "GB/s counts compulsory traffic: fwd_train and fwd_infer 2 tensors (x, y), fwd_bwd_train 5 (x, y, x, " \
    "dy, dx). Parameters: PyTorch preset, axis 1 (nchw) or -1 (nhwc).\n"

static int bench_bn_shape(bench_ctx *ctx, const size_t nchw[4], int large)
{
    const size_t numel = nchw[0] * nchw[1] * nchw[2] * nchw[3], tensor_bytes = numel * sizeof(float);
    bench_rows rows = {.passes = bn_passes, .n_passes = PASS_COUNT, .impls = bn_impls,
                       .n_impls = BENCH_COUNT(bn_impls), .call = bn_call, .large = large,
                       .tensor_bytes = (double)tensor_bytes};
    if (!norm_rows_pool(ctx, &rows, numel))
        return NNR_EXIT_FAIL;
    const size_t sets_fwd = rows.sets[PASS_FWD_TRAIN], sets_fwd_bwd = rows.sets[PASS_FWD_BWD_TRAIN];
    if (large)
        bench_section(ctx,
                      "BatchNorm %zux%zux%zux%zu: %.1f MB per tensor; each timed call takes the next of %zu (fwd) or "
                      "%zu (fwd+bwd) buffer sets, %.0f and %.0f MB touched > 2 x L3 = %.0f MB, so every call "
                      "streams from DRAM.\n" BN_SECTION_NOTE,
                      nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6, sets_fwd, sets_fwd_bwd,
                      sets_fwd * 2.0 * tensor_bytes / 1e6, sets_fwd_bwd * 4.0 * tensor_bytes / 1e6,
                      2.0 * ctx->l3_bytes / 1e6);
    else
        bench_section(ctx,
                      "BatchNorm %zux%zux%zux%zu: %.2f MB per tensor, one buffer set reused: CACHE RESIDENT by "
                      "design, so %%triad can exceed 100.\n" BN_SECTION_NOTE,
                      nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6);

    int status = NNR_EXIT_OK;
    for (int nhwc = 0; nhwc < 2 && status == NNR_EXIT_OK; nhwc++) {
        if (!bench_layout_wanted(ctx, nhwc))
            continue;
        bn_call_args a = {.p = nnr_batchnorm_torch()};
        a.p.axis = nhwc ? -1 : 1;
        a.shape = bench_layout_shape(nchw, nhwc);
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
        status = bench_rows_time(ctx, &rows, bench_layout_name(nhwc), &a.shape, &a);
        small_free(&small);
    }
    bench_pool_free(&rows.pool);
    return status;
}

int bench_batchnorm(bench_ctx *ctx)
{
    static const size_t large_shape[4] = {32, 64, 56, 56}, small_shape[4] = {8, 16, 14, 14};
    return bench_large_then_small(ctx, bench_bn_shape, large_shape, small_shape);
}

/* ---- LayerNorm and RMSNorm ------------------------------------------------ */

/* Both layers' kernels of one implementation. */
typedef struct ln_kernels {
    nnr_layernorm_fwd_fn fwd;
    nnr_layernorm_bwd_fn bwd;
    nnr_rmsnorm_fwd_fn rms_fwd;
    nnr_rmsnorm_bwd_fn rms_bwd;
} ln_kernels;

/* Naive, then AVX2 in AVX2 builds: default samples on the large and the small shape, the kernels. */
static const bench_impl ln_impls[] = {
    {"naive", 5, 7,
     &(const ln_kernels){nnr_layernorm_fwd_naive, nnr_layernorm_bwd_naive, nnr_rmsnorm_fwd_naive,
                         nnr_rmsnorm_bwd_naive}},
#ifdef NNR_HAVE_AVX2_BUILD
    {"avx2", 15, 15,
     &(const ln_kernels){nnr_layernorm_fwd_avx2, nnr_layernorm_bwd_avx2, nnr_rmsnorm_fwd_avx2, nnr_rmsnorm_bwd_avx2}},
#endif
};

typedef enum ln_pass { LN_FWD, LN_FWD_BWD, RMS_FWD, RMS_FWD_BWD, LN_PASS_COUNT } ln_pass;

/* Counted 2 (forward) or 5 (forward + backward) x-sized tensors, streamed 2 or 4. */
static const bench_pass ln_passes[LN_PASS_COUNT] = {
    [LN_FWD] = {"layernorm_fwd", "layernorm", 2, 2, 0},
    [LN_FWD_BWD] = {"layernorm_fwd_bwd", "layernorm", 5, 4, 0},
    [RMS_FWD] = {"rmsnorm_fwd", "rmsnorm", 2, 2, 0},
    [RMS_FWD_BWD] = {"rmsnorm_fwd_bwd", "rmsnorm", 5, 4, 0},
};

/* Per-row and per-element arrays shared by every buffer set (D and rows floats: cached). */
typedef struct ln_small {
    nnr_shape shape;
    nnr_layernorm_params lp;
    nnr_rmsnorm_params rp;
    norm_arrays a;   /* D features, rows statistics */
} ln_small;

static nnr_status ln_call(const void *arg, const void *kernels, int pass, const bench_buffers *b)
{
    const ln_small *s = arg;
    const ln_kernels *k = kernels;
    const norm_arrays *a = &s->a;
    const nnr_layernorm_cache cache = {a->mean, a->istd};
    const nnr_rmsnorm_cache rcache = {a->istd};
    nnr_status st;
    switch (pass) {
    case LN_FWD:
        return k->fwd(&s->lp, &s->shape, b->x, a->gamma, a->beta, b->y, &cache);
    case LN_FWD_BWD:
        st = k->fwd(&s->lp, &s->shape, b->x, a->gamma, a->beta, b->y, &cache);
        if (st.code != NNR_OK)
            return st;
        return k->bwd(&s->lp, &s->shape, b->x, a->gamma, &cache, b->dy, b->dx, a->dgamma, a->dbeta);
    case RMS_FWD:
        return k->rms_fwd(&s->rp, &s->shape, b->x, a->gamma, b->y, &rcache);
    case RMS_FWD_BWD:
        st = k->rms_fwd(&s->rp, &s->shape, b->x, a->gamma, b->y, &rcache);
        if (st.code != NNR_OK)
            return st;
        return k->rms_bwd(&s->rp, &s->shape, b->x, a->gamma, &rcache, b->dy, b->dx, a->dgamma);
    default:
        return nnr_error(NNR_ERR_PARAM, "pass %d is not a LayerNorm benchmark pass", pass);
    }
}

/* rows x D = rows_d[0] x rows_d[1], normalized over the last axis; `large` selects the rotating pool. */
static int bench_ln_shape(bench_ctx *ctx, const size_t rows_d[4], int large)
{
    const size_t n_rows = rows_d[0], D = rows_d[1];
    const size_t numel = n_rows * D, tensor_bytes = numel * sizeof(float);
    bench_rows rows = {.passes = ln_passes, .n_passes = LN_PASS_COUNT, .impls = ln_impls,
                       .n_impls = BENCH_COUNT(ln_impls), .call = ln_call, .large = large,
                       .tensor_bytes = (double)tensor_bytes};
    if (!norm_rows_pool(ctx, &rows, numel))
        return NNR_EXIT_FAIL;
    ln_small s = {0};
    s.shape = (nnr_shape){2, {n_rows, D}};
    s.lp = nnr_layernorm_torch(1);
    s.rp = nnr_rmsnorm_torch(1);
    int status = NNR_EXIT_OK;
    if (!norm_arrays_alloc(&s.a, D, n_rows, 0.001f, "LayerNorm")) {
        status = NNR_EXIT_FAIL;
    } else {
        if (large)
            bench_section(ctx,
                          "%zux%zu (normalized over the last axis): %.1f MB per tensor; each timed call takes the "
                          "next of %zu (fwd) or %zu (fwd+bwd) buffer sets, > 2 x L3 = %.0f MB, so every call streams "
                          "from DRAM.\n",
                          n_rows, D, tensor_bytes / 1e6, rows.sets[LN_FWD], rows.sets[LN_FWD_BWD],
                          2.0 * ctx->l3_bytes / 1e6);
        else
            bench_section(ctx,
                          "%zux%zu (normalized over the last axis): %.2f MB per tensor, one buffer set reused: "
                          "CACHE RESIDENT by design, so %%triad can exceed 100.\n",
                          n_rows, D, tensor_bytes / 1e6);
        status = bench_rows_time(ctx, &rows, "-", &s.shape, &s);
    }
    norm_arrays_free(&s.a);
    bench_pool_free(&rows.pool);
    return status;
}

int bench_layernorm(bench_ctx *ctx)
{
    static const size_t large_rows_d[4] = {8192, 768}, small_rows_d[4] = {64, 768};
    return bench_large_then_small(ctx, bench_ln_shape, large_rows_d, small_rows_d);
}

/* ---- GroupNorm and InstanceNorm -------------------------------------------- */

typedef struct gn_kernels {
    nnr_groupnorm_fwd_fn fwd;
    nnr_groupnorm_bwd_fn bwd;
} gn_kernels;

/* Naive, then AVX2 in AVX2 builds: default samples on the large and the small shape, the kernels. */
static const bench_impl gn_impls[] = {
    {"naive", 3, 7,
     &(const gn_kernels){nnr_groupnorm_fwd_naive, nnr_groupnorm_bwd_naive}},
#ifdef NNR_HAVE_AVX2_BUILD
    {"avx2", 15, 15,
     &(const gn_kernels){nnr_groupnorm_fwd_avx2, nnr_groupnorm_bwd_avx2}},
#endif
};

typedef enum gn_pass { GN_FWD, GN_FWD_BWD, IN_FWD, IN_FWD_BWD, GN_PASS_COUNT } gn_pass;

/* Counted 2 (forward) or 5 (forward + backward) x-sized tensors, streamed 2 or 4. */
static const bench_pass gn_passes[GN_PASS_COUNT] = {
    [GN_FWD] = {"groupnorm_fwd", "groupnorm", 2, 2, 0},
    [GN_FWD_BWD] = {"groupnorm_fwd_bwd", "groupnorm", 5, 4, 0},
    [IN_FWD] = {"instancenorm_fwd", "instancenorm", 2, 2, 0},
    [IN_FWD_BWD] = {"instancenorm_fwd_bwd", "instancenorm", 5, 4, 0},
};

/* Each pass's groups (-1: one group per channel, InstanceNorm) and whether it runs the backward. */
static const struct {
    int groups;
    int with_bwd;
} gn_pass_groups[GN_PASS_COUNT] = {
    [GN_FWD] = {32, 0},
    [GN_FWD_BWD] = {32, 1},
    [IN_FWD] = {-1, 0},
    [IN_FWD_BWD] = {-1, 1},
};

/* One layout's shape, every pass's parameters and the per-channel arrays (C and N*G floats: cached). */
typedef struct gn_call_args {
    nnr_groupnorm_params p[GN_PASS_COUNT];
    nnr_shape shape;
    norm_arrays a;   /* C features, N*G statistics */
} gn_call_args;

static nnr_status gn_call(const void *arg, const void *kernels, int pass, const bench_buffers *b)
{
    const gn_call_args *a = arg;
    const gn_kernels *k = kernels;
    const norm_arrays *n = &a->a;
    const nnr_groupnorm_params *p = &a->p[pass];
    const nnr_groupnorm_cache cache = {n->mean, n->istd, NULL};
    nnr_status st = k->fwd(p, &a->shape, b->x, n->gamma, n->beta, b->y, &cache);
    if (st.code != NNR_OK || !gn_pass_groups[pass].with_bwd)
        return st;
    return k->bwd(p, &a->shape, b->x, n->gamma, &cache, b->dy, b->dx, n->dgamma, n->dbeta);
}

/* One (n, c, h, w) problem in each requested layout; `large` selects the rotating pool. */
static int bench_gn_shape(bench_ctx *ctx, const size_t nchw[4], int large)
{
    const size_t numel = nchw[0] * nchw[1] * nchw[2] * nchw[3], tensor_bytes = numel * sizeof(float);
    const size_t C = nchw[1], cache_len = nchw[0] * nchw[1];   /* N*G <= N*C */
    bench_rows rows = {.passes = gn_passes, .n_passes = GN_PASS_COUNT, .impls = gn_impls,
                       .n_impls = BENCH_COUNT(gn_impls), .call = gn_call, .large = large,
                       .tensor_bytes = (double)tensor_bytes};
    if (!norm_rows_pool(ctx, &rows, numel))
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
                          nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6, rows.sets[GN_FWD],
                          rows.sets[GN_FWD_BWD], 2.0 * ctx->l3_bytes / 1e6);
        else
            bench_section(ctx,
                          "GroupNorm %zux%zux%zux%zu: %.2f MB per tensor, one buffer set reused: CACHE RESIDENT "
                          "by design, so %%triad can exceed 100.\n",
                          nchw[0], nchw[1], nchw[2], nchw[3], tensor_bytes / 1e6);
        for (int nhwc = 0; nhwc < 2 && status == NNR_EXIT_OK; nhwc++) {
            if (!bench_layout_wanted(ctx, nhwc))
                continue;
            a.shape = bench_layout_shape(nchw, nhwc);
            /* PyTorch preset for nchw, Keras' channel axis for nhwc (epsilon does not change the work) */
            for (int k = 0; k < GN_PASS_COUNT; k++)
                a.p[k] = nhwc ? nnr_groupnorm_keras(gn_pass_groups[k].groups)
                              : nnr_groupnorm_torch(gn_pass_groups[k].groups);
            status = bench_rows_time(ctx, &rows, bench_layout_name(nhwc), &a.shape, &a);
        }
    }
    norm_arrays_free(&a.a);
    bench_pool_free(&rows.pool);
    return status;
}

int bench_groupnorm(bench_ctx *ctx)
{
    static const size_t large_shape[4] = {32, 64, 56, 56}, small_shape[4] = {8, 64, 14, 14};
    return bench_large_then_small(ctx, bench_gn_shape, large_shape, small_shape);
}
