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
#include <stdlib.h>
#include "nnref/gradcheck.h"

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
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    if (shape == NULL)
        return nnr_error(NNR_ERR_NULL, "shape is NULL");
    if (report == NULL)
        return nnr_error(NNR_ERR_NULL, "report is NULL");
    size_t count, noise;
    nnr_status st = nnr_shape_numel(shape, "shape", &count);
    if (st.code == NNR_OK)
        st = nnr_dropout_mask_count(p, shape, &noise);
    if (st.code != NNR_OK)
        return st;

    dropout_problem b = {*p, *shape, NULL, NULL, NULL, NULL};
    b.x = calloc(count, sizeof(double));
    b.y = calloc(count, sizeof(double));
    b.dx = calloc(count, sizeof(double));
    b.mask = calloc(noise, 1);
    if (b.x == NULL || b.y == NULL || b.dx == NULL || b.mask == NULL) {
        st = nnr_error(NNR_ERR_NOMEM, "cannot allocate the dropout gradient-check buffers (%zu values)", count);
    } else {
        for (size_t i = 0; i < count; i++)
            b.x[i] = nnr_rng_normal(seed, i);
        nnr_gc_problem problem = {0};
        problem.ctx = &b;
        problem.forward = dropout_forward;
        problem.backward = dropout_backward;
        problem.out = b.y;
        problem.out_count = count;
        problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"x", b.x, b.dx, count};
        st = nnr_gradcheck(&problem, options, report);
    }
    free(b.x);
    free(b.y);
    free(b.dx);
    free(b.mask);
    return st;
}
