/*
 * Ready-made gradient-check problems for the double naive pooling kernels
 * (gradcheck.h): max, average, global max and global average, built like
 * groupnorm_problem.c: a context holding every buffer, a forward and a
 * backward that call the kernels, and the tensor list (x only: pooling has
 * no parameters).
 *
 * Max pooling is piecewise linear: its gradient jumps wherever two cells of a
 * window trade places as the maximum. The default input is a random
 * permutation of 0.1 * (0, 1, ..., count-1), centred, so any two cells differ
 * by at least 0.1, far more than the harness' step h·max(1, |x|) (about 1e-4
 * at most here): no perturbation reorders a window and every entry is judged.
 * A caller's own input with ties shows up as kinks in the report.
 */
#include "config.h"
#include <string.h>
#include "gradcheck/problem_util.h"

/* Key of the permutation, apart from the harness' g. */
#define POOL_GC_KEY_X 0x706f0001u

typedef enum pool_gc_kind { POOL_GC_MAX, POOL_GC_AVG, POOL_GC_GLOBAL_MAX, POOL_GC_GLOBAL_AVG } pool_gc_kind;

typedef struct pool_problem {
    pool_gc_kind kind;
    nnr_pool_params params;
    nnr_global_pool_params global;
    nnr_shape shape;
    size_t in_count, out_count;
    double *x, *y, *dx;
    int32_t *argmax;
} pool_problem;

static nnr_status pool_forward(void *ctx)
{
    pool_problem *b = ctx;
    switch (b->kind) {
    case POOL_GC_MAX:
        return nnr_maxpool_fwd_naive_f64(&b->params, &b->shape, b->x, b->y, b->argmax);
    case POOL_GC_AVG:
        return nnr_avgpool_fwd_naive_f64(&b->params, &b->shape, b->x, b->y);
    case POOL_GC_GLOBAL_MAX:
        return nnr_global_maxpool_fwd_naive_f64(&b->global, &b->shape, b->x, b->y);
    default:
        return nnr_global_avgpool_fwd_naive_f64(&b->global, &b->shape, b->x, b->y);
    }
}

static nnr_status pool_backward(void *ctx, const double *dy)
{
    pool_problem *b = ctx;
    switch (b->kind) {
    case POOL_GC_MAX:
        return nnr_maxpool_bwd_naive_f64(&b->params, &b->shape, dy, b->argmax, b->dx);
    case POOL_GC_AVG:
        return nnr_avgpool_bwd_naive_f64(&b->params, &b->shape, dy, b->dx);
    case POOL_GC_GLOBAL_MAX:
        return nnr_global_maxpool_bwd_naive_f64(&b->global, &b->shape, b->x, b->y, dy, b->dx);
    default:
        return nnr_global_avgpool_bwd_naive_f64(&b->global, &b->shape, dy, b->dx);
    }
}

/* x = 0.1 * (perm - count/2) for a seeded random permutation perm of
 * 0..count-1 (Fisher-Yates on the counter-based generator). */
static void well_separated(double *x, size_t count, uint64_t seed)
{
    for (size_t i = 0; i < count; i++)
        x[i] = (double)i;
    for (size_t i = count - 1; i > 0; i--) {
        const size_t j = (size_t)(nnr_rng_uniform(seed ^ POOL_GC_KEY_X, i) * (double)(i + 1));
        const double t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    for (size_t i = 0; i < count; i++)
        x[i] = 0.1 * (x[i] - 0.5 * (double)count);
}

static nnr_status pool_run(pool_problem *b, const double *x, uint64_t seed, const nnr_gc_options *options,
                           nnr_gc_report *report)
{
    nnr_shape out_shape;
    nnr_status st = b->kind == POOL_GC_MAX || b->kind == POOL_GC_AVG
                        ? nnr_pool_output_shape(&b->params, &b->shape, &out_shape)
                        : nnr_global_pool_output_shape(&b->global, &b->shape, &out_shape);
    if (st.code == NNR_OK)
        st = nnr_shape_numel(&b->shape, "shape", &b->in_count);
    if (st.code == NNR_OK)
        st = nnr_shape_numel(&out_shape, "the output shape", &b->out_count);
    if (st.code != NNR_OK)
        return st;

    gc_buffers mem = {0};
    b->x = gc_doubles(&mem, b->in_count);
    b->dx = gc_doubles(&mem, b->in_count);
    b->y = gc_doubles(&mem, b->out_count);
    b->argmax = gc_alloc(&mem, b->out_count, sizeof(int32_t));
    if (mem.failed) {
        st = nnr_error(NNR_ERR_NOMEM, "cannot allocate the pooling gradient-check buffers (%zu + %zu values)",
                       b->in_count, b->out_count);
    } else {
        if (x != NULL)
            memcpy(b->x, x, b->in_count * sizeof(double));
        else
            well_separated(b->x, b->in_count, seed);

        nnr_gc_problem problem = gc_problem(b, pool_forward, pool_backward, b->y, b->out_count);
        gc_add_tensor(&problem, "x", b->x, b->dx, b->in_count);
        st = nnr_gradcheck(&problem, options, report);
    }
    gc_buffers_free(&mem);
    return st;
}

/* Checks the arguments of one ready-made problem and runs it; p is the
 * windowed parameters (max, average), g the global ones. */
static nnr_status start(pool_gc_kind kind, const nnr_pool_params *p, const nnr_global_pool_params *g,
                        const nnr_shape *shape, const double *x, uint64_t seed, const nnr_gc_options *options,
                        nnr_gc_report *report)
{
    const int is_global = kind == POOL_GC_GLOBAL_MAX || kind == POOL_GC_GLOBAL_AVG;
    NNR_TRY(gc_need_args(is_global ? (const void *)g : (const void *)p, shape, report));
    pool_problem b = {0};
    b.kind = kind;
    if (is_global)
        b.global = *g;
    else
        b.params = *p;
    b.shape = *shape;
    return pool_run(&b, x, seed, options, report);
}

nnr_status nnr_gradcheck_maxpool(const nnr_pool_params *p, const nnr_shape *shape, const double *x, uint64_t seed,
                                 const nnr_gc_options *options, nnr_gc_report *report)
{
    return start(POOL_GC_MAX, p, NULL, shape, x, seed, options, report);
}

nnr_status nnr_gradcheck_avgpool(const nnr_pool_params *p, const nnr_shape *shape, const double *x, uint64_t seed,
                                 const nnr_gc_options *options, nnr_gc_report *report)
{
    return start(POOL_GC_AVG, p, NULL, shape, x, seed, options, report);
}

nnr_status nnr_gradcheck_global_maxpool(const nnr_global_pool_params *p, const nnr_shape *shape, const double *x,
                                        uint64_t seed, const nnr_gc_options *options, nnr_gc_report *report)
{
    return start(POOL_GC_GLOBAL_MAX, NULL, p, shape, x, seed, options, report);
}

nnr_status nnr_gradcheck_global_avgpool(const nnr_global_pool_params *p, const nnr_shape *shape, const double *x,
                                        uint64_t seed, const nnr_gc_options *options, nnr_gc_report *report)
{
    return start(POOL_GC_GLOBAL_AVG, NULL, p, shape, x, seed, options, report);
}
