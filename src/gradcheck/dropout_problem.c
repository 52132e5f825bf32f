/*
 * Ready-made gradient-check problem for the double naive dropout kernels
 * (gradcheck.h), built like pool_problem.c: a context holding every buffer,
 * a forward and a backward that call the kernels, and the tensor list (x
 * only: dropout has no parameters).
 *
 * The mask is fixed, as cs231n advises ("fix the dropout seed"): every
 * forward redraws it from the same seed and offset, so the perturbed forwards
 * see the mask the backward uses. For a fixed mask dropout is linear in x,
 * so the central difference is exact up to rounding and there are no kinks.
 */
#include "config.h"
#include "gradcheck/problem_util.h"

typedef struct dropout_problem {
    nnr_dropout_params params;
    nnr_shape shape;
    double *x, *y, *dx;
    uint8_t *mask;
} dropout_problem;

static nnr_status dropout_forward(void *ctx)
{
    dropout_problem *b = ctx;
    return nnr_dropout_fwd_train_naive_f64(&b->params, &b->shape, b->x, b->y, b->mask);
}

static nnr_status dropout_backward(void *ctx, const double *dy)
{
    dropout_problem *b = ctx;
    return nnr_dropout_bwd_naive_f64(&b->params, &b->shape, dy, b->mask, b->dx);
}

nnr_status nnr_gradcheck_dropout(const nnr_dropout_params *p, const nnr_shape *shape, uint64_t seed,
                                 const nnr_gc_options *options, nnr_gc_report *report)
{
    NNR_TRY(gc_need_args(p, shape, report));
    size_t count, noise;
    NNR_TRY(nnr_shape_numel(shape, "shape", &count));
    NNR_TRY(nnr_dropout_mask_count(p, shape, &noise));

    dropout_problem b = {*p, *shape, NULL, NULL, NULL, NULL};
    gc_buffers mem = {0};
    b.x = gc_doubles(&mem, count);
    b.y = gc_doubles(&mem, count);
    b.dx = gc_doubles(&mem, count);
    b.mask = gc_alloc(&mem, noise, 1);
    nnr_status st;
    if (mem.failed) {
        st = nnr_error(NNR_ERR_NOMEM, "cannot allocate the dropout gradient-check buffers (%zu values)", count);
    } else {
        gc_fill_normal(b.x, count, seed, 0.0, 1.0);
        nnr_gc_problem problem = gc_problem(&b, dropout_forward, dropout_backward, b.y, count);
        gc_add_tensor(&problem, "x", b.x, b.dx, count);
        st = nnr_gradcheck(&problem, options, report);
    }
    gc_buffers_free(&mem);
    return st;
}
