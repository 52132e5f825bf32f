/*
 * Ready-made gradient-check problems for the double naive GroupNorm kernels
 * and for InstanceNorm's training entry points (gradcheck.h), built like
 * batchnorm_problem.c: a context holding every buffer, a forward and a
 * backward that call the kernels, and the tensor list.
 */
#include "config.h"
#include <stdlib.h>
#include "nnref/gradcheck.h"

/* Keys of the random tensors, apart from each other and from the harness' g. */
#define GN_GC_KEY_X      0x676e0001u
#define GN_GC_KEY_GAMMA  0x676e0002u
#define GN_GC_KEY_BETA   0x676e0003u

typedef struct gn_problem {
    nnr_groupnorm_params params;
    nnr_instancenorm_params in_params;
    int instance;                     /* 1: go through the InstanceNorm entry points */
    nnr_shape shape;
    size_t count, channels, cache_len;
    double *x, *gamma, *beta, *y, *dx, *dgamma, *dbeta, *mean, *istd, *var;
    nnr_groupnorm_cache_f64 cache;
} gn_problem;

static nnr_status gn_forward(void *ctx)
{
    gn_problem *b = ctx;
    if (b->instance)
        return nnr_instancenorm_fwd_train_naive_f64(&b->in_params, &b->shape, b->x, b->gamma, b->beta, b->y,
                                                    &b->cache, NULL);
    return nnr_groupnorm_fwd_naive_f64(&b->params, &b->shape, b->x, b->gamma, b->beta, b->y, &b->cache);
}

static nnr_status gn_backward(void *ctx, const double *dy)
{
    gn_problem *b = ctx;
    if (b->instance)
        return nnr_instancenorm_bwd_train_naive_f64(&b->in_params, &b->shape, b->x, b->gamma, &b->cache, dy,
                                                    b->dx, b->dgamma, b->dbeta);
    return nnr_groupnorm_bwd_naive_f64(&b->params, &b->shape, b->x, b->gamma, &b->cache, dy, b->dx, b->dgamma,
                                       b->dbeta);
}

static void gn_problem_free(gn_problem *b)
{
    double **bufs[] = {&b->x, &b->gamma, &b->beta, &b->y, &b->dx, &b->dgamma, &b->dbeta,
                       &b->mean, &b->istd, &b->var};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
}

static double *alloc_doubles(size_t n, int *failed)
{
    double *p = calloc(n, sizeof(double));
    if (p == NULL)
        *failed = 1;
    return p;
}

static nnr_status gn_run(gn_problem *b, uint64_t seed, const nnr_gc_options *options, nnr_gc_report *report)
{
    nnr_status st = nnr_groupnorm_sizes(&b->params, &b->shape, &b->channels, NULL, &b->cache_len);
    if (st.code == NNR_OK)
        st = nnr_shape_numel(&b->shape, "shape", &b->count);
    if (st.code != NNR_OK)
        return st;

    int failed = 0;
    const size_t n = b->count, C = b->channels, L = b->cache_len;
    b->x = alloc_doubles(n, &failed);
    b->y = alloc_doubles(n, &failed);
    b->dx = alloc_doubles(n, &failed);
    b->gamma = alloc_doubles(C, &failed);
    b->beta = alloc_doubles(C, &failed);
    b->dgamma = alloc_doubles(C, &failed);
    b->dbeta = alloc_doubles(C, &failed);
    b->mean = alloc_doubles(L, &failed);
    b->istd = alloc_doubles(L, &failed);
    b->var = alloc_doubles(L, &failed);
    if (failed) {
        gn_problem_free(b);
        return nnr_error(NNR_ERR_NOMEM, "cannot allocate the GroupNorm gradient-check buffers (%zu values)", n);
    }
    b->cache = (nnr_groupnorm_cache_f64){b->mean, b->istd, b->var};

    /* x spread over a few units around an offset, so every group's variance
     * is far from zero even for two values per group. */
    for (size_t i = 0; i < n; i++)
        b->x[i] = 0.5 + 2.0 * nnr_rng_normal(seed ^ GN_GC_KEY_X, i);
    for (size_t c = 0; c < C; c++) {
        b->gamma[c] = 1.0 + 0.5 * nnr_rng_normal(seed ^ GN_GC_KEY_GAMMA, c);
        b->beta[c] = 0.5 * nnr_rng_normal(seed ^ GN_GC_KEY_BETA, c);
    }

    nnr_gc_problem problem = {0};
    problem.ctx = b;
    problem.forward = gn_forward;
    problem.backward = gn_backward;
    problem.out = b->y;
    problem.out_count = n;
    problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"x", b->x, b->dx, n};
    if (b->params.scale)
        problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"gamma", b->gamma, b->dgamma, C};
    if (b->params.center)
        problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"beta", b->beta, b->dbeta, C};
    st = nnr_gradcheck(&problem, options, report);
    gn_problem_free(b);
    return st;
}

nnr_status nnr_gradcheck_groupnorm(const nnr_groupnorm_params *p, const nnr_shape *shape, uint64_t seed,
                                   const nnr_gc_options *options, nnr_gc_report *report)
{
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    if (shape == NULL)
        return nnr_error(NNR_ERR_NULL, "shape is NULL");
    if (report == NULL)
        return nnr_error(NNR_ERR_NULL, "report is NULL");
    gn_problem b = {0};
    b.params = *p;
    b.shape = *shape;
    return gn_run(&b, seed, options, report);
}

nnr_status nnr_gradcheck_instancenorm(const nnr_instancenorm_params *p, const nnr_shape *shape, uint64_t seed,
                                      const nnr_gc_options *options, nnr_gc_report *report)
{
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    if (shape == NULL)
        return nnr_error(NNR_ERR_NULL, "shape is NULL");
    if (report == NULL)
        return nnr_error(NNR_ERR_NULL, "report is NULL");
    gn_problem b = {0};
    b.in_params = *p;
    b.params = nnr_instancenorm_as_groupnorm(p);
    b.instance = 1;
    b.shape = *shape;
    return gn_run(&b, seed, options, report);
}
