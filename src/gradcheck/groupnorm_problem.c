/*
 * Ready-made gradient-check problems for the double naive GroupNorm kernels
 * and for InstanceNorm's training entry points (gradcheck.h), built like
 * batchnorm_problem.c: a context holding every buffer, a forward and a
 * backward that call the kernels, and the tensor list.
 */
#include "config.h"
#include "gradcheck/problem_util.h"

/* Keys of the random tensors x, gamma, beta: GN_GC_KEY + 1, 2, 3, apart from the harness' g. */
#define GN_GC_KEY 0x676e0000u

typedef struct gn_problem {
    nnr_groupnorm_params params;
    nnr_instancenorm_params in_params;
    int instance;                     /* 1: go through the InstanceNorm entry points */
    nnr_shape shape;
    gc_norm t;                        /* x, gamma, beta (C channels) */
    nnr_groupnorm_cache_f64 cache;
} gn_problem;

static nnr_status gn_forward(void *ctx)
{
    gn_problem *b = ctx;
    if (b->instance)
        return nnr_instancenorm_fwd_train_naive_f64(&b->in_params, &b->shape, b->t.x, b->t.gamma, b->t.beta, b->t.y,
                                                    &b->cache, NULL);
    return nnr_groupnorm_fwd_naive_f64(&b->params, &b->shape, b->t.x, b->t.gamma, b->t.beta, b->t.y, &b->cache);
}

static nnr_status gn_backward(void *ctx, const double *dy)
{
    gn_problem *b = ctx;
    if (b->instance)
        return nnr_instancenorm_bwd_train_naive_f64(&b->in_params, &b->shape, b->t.x, b->t.gamma, &b->cache, dy,
                                                    b->t.dx, b->t.dgamma, b->t.dbeta);
    return nnr_groupnorm_bwd_naive_f64(&b->params, &b->shape, b->t.x, b->t.gamma, &b->cache, dy, b->t.dx,
                                       b->t.dgamma, b->t.dbeta);
}

static nnr_status gn_run(gn_problem *b, uint64_t seed, const nnr_gc_options *options, nnr_gc_report *report)
{
    size_t count, channels, cache_len;
    NNR_TRY(nnr_groupnorm_sizes(&b->params, &b->shape, &channels, NULL, &cache_len));
    NNR_TRY(nnr_shape_numel(&b->shape, "shape", &count));

    gc_buffers mem = {0};
    gc_norm_alloc(&b->t, &mem, count, channels);
    b->cache.mean = gc_doubles(&mem, cache_len);
    b->cache.istd = gc_doubles(&mem, cache_len);
    b->cache.var = gc_doubles(&mem, cache_len);
    nnr_status st;
    if (mem.failed) {
        st = nnr_error(NNR_ERR_NOMEM, "cannot allocate the GroupNorm gradient-check buffers (%zu values)", count);
    } else {
        gc_norm_fill(&b->t, seed, GN_GC_KEY);
        nnr_gc_problem problem = gc_problem(b, gn_forward, gn_backward, b->t.y, count);
        gc_norm_tensors(&problem, &b->t, "gamma", b->params.scale, b->params.center);
        st = nnr_gradcheck(&problem, options, report);
    }
    gc_buffers_free(&mem);
    return st;
}

nnr_status nnr_gradcheck_groupnorm(const nnr_groupnorm_params *p, const nnr_shape *shape, uint64_t seed,
                                   const nnr_gc_options *options, nnr_gc_report *report)
{
    NNR_TRY(gc_need_args(p, shape, report));
    gn_problem b = {0};
    b.params = *p;
    b.shape = *shape;
    return gn_run(&b, seed, options, report);
}

nnr_status nnr_gradcheck_instancenorm(const nnr_instancenorm_params *p, const nnr_shape *shape, uint64_t seed,
                                      const nnr_gc_options *options, nnr_gc_report *report)
{
    NNR_TRY(gc_need_args(p, shape, report));
    gn_problem b = {0};
    b.in_params = *p;
    b.params = nnr_instancenorm_as_groupnorm(p);
    b.instance = 1;
    b.shape = *shape;
    return gn_run(&b, seed, options, report);
}
