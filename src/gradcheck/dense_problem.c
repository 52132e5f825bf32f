/*
 * Ready-made gradient-check problem for the double naive Dense kernels
 * (gradcheck.h): a context holding the layer's parameters and its tensors, a
 * forward and a backward that call the kernels; problem_util.h's
 * gc_weighted_run() allocates and fills x, W and b and checks x, w and (with
 * use_bias) b, as for convolution.
 *
 * Dense is linear in each of x, W and b, so the central difference has no
 * truncation error: what remains is the rounding of L over the step, and no
 * entry is a kink.
 */
#include "config.h"
#include "gradcheck/problem_util.h"

/* Keys of the random tensors x, W, b: DENSE_GC_KEY + 1, 2, 3, apart from the harness' g. */
#define DENSE_GC_KEY 0x64650000u

typedef struct dense_problem {
    nnr_dense_params params;
    nnr_shape shape;
    gc_weighted t;
} dense_problem;

static nnr_status dense_forward(void *ctx)
{
    dense_problem *d = ctx;
    return nnr_dense_fwd_naive_f64(&d->params, &d->shape, d->t.x, d->t.w, d->t.b, d->t.y, NULL, 0);
}

static nnr_status dense_backward(void *ctx, const double *dy)
{
    dense_problem *d = ctx;
    return nnr_dense_bwd_naive_f64(&d->params, &d->shape, d->t.x, d->t.w, dy, d->t.dx, d->t.dw,
                                   d->params.use_bias ? d->t.db : NULL, NULL, 0);
}

nnr_status nnr_gradcheck_dense(const nnr_dense_params *p, const nnr_shape *shape, uint64_t seed,
                               const nnr_gc_options *options, nnr_gc_report *report)
{
    NNR_TRY(gc_need_args(p, shape, report));
    dense_problem d = {0};
    d.params = *p;
    d.shape = *shape;
    nnr_shape out_shape, w_shape;
    NNR_TRY(nnr_dense_output_shape(p, shape, &out_shape));
    NNR_TRY(nnr_dense_weight_shape(p, &w_shape));
    NNR_TRY(gc_weighted_counts(&d.t, shape, &out_shape, &w_shape, p->units));
    return gc_weighted_run(&d.t, "Dense", DENSE_GC_KEY, p->use_bias, &d, dense_forward, dense_backward, seed,
                           options, report);
}
