/*
 * Ready-made gradient-check problem for the double naive convolution kernels
 * (gradcheck.h): a context holding the layer's parameters and its tensors, a
 * forward and a backward that call the kernels; problem_util.h's
 * gc_weighted_run() allocates and fills x, w and b and checks x, w and (with
 * use_bias) b, as for Dense.
 *
 * Convolution is linear in each of x, w and b, so the central difference has
 * no truncation error: what remains is the rounding of L over the step, and
 * no entry is a kink.
 */
#include "config.h"
#include "gradcheck/problem_util.h"

/* Keys of the random tensors x, w, b: CONV_GC_KEY + 1, 2, 3, apart from the harness' g. */
#define CONV_GC_KEY 0x63760000u

typedef struct conv_problem {
    nnr_conv_params params;
    nnr_shape shape;
    gc_weighted t;
} conv_problem;

static nnr_status conv_forward(void *ctx)
{
    conv_problem *c = ctx;
    return nnr_conv_fwd_naive_f64(&c->params, &c->shape, c->t.x, c->t.w, c->t.b, c->t.y, NULL, 0);
}

static nnr_status conv_backward(void *ctx, const double *dy)
{
    conv_problem *c = ctx;
    return nnr_conv_bwd_naive_f64(&c->params, &c->shape, c->t.x, c->t.w, dy, c->t.dx, c->t.dw,
                                  c->params.use_bias ? c->t.db : NULL, NULL, 0);
}

nnr_status nnr_gradcheck_conv(const nnr_conv_params *p, const nnr_shape *shape, uint64_t seed,
                              const nnr_gc_options *options, nnr_gc_report *report)
{
    NNR_TRY(gc_need_args(p, shape, report));
    conv_problem c = {0};
    c.params = *p;
    c.shape = *shape;
    nnr_shape out_shape, w_shape;
    NNR_TRY(nnr_conv_output_shape(p, shape, &out_shape));
    NNR_TRY(nnr_conv_weight_shape(p, &w_shape));
    NNR_TRY(gc_weighted_counts(&c.t, shape, &out_shape, &w_shape, (size_t)p->filters));
    return gc_weighted_run(&c.t, "convolution", CONV_GC_KEY, p->use_bias, &c, conv_forward, conv_backward, seed,
                           options, report);
}
