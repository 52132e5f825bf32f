/*
 * Ready-made gradient-check problem for the double naive convolution kernels
 * (gradcheck.h), built like groupnorm_problem.c: a context holding every
 * buffer, a forward and a backward that call the kernels, and the tensor
 * list x, w and (with use_bias) b.
 *
 * Convolution is linear in each of x, w and b, so the central difference has
 * no truncation error: what remains is the rounding of L over the step, and
 * no entry is a kink.
 */
#include "config.h"
#include <stdlib.h>
#include "nnref/gradcheck.h"

/* Keys of the random tensors, apart from each other and from the harness' g. */
#define CONV_GC_KEY_X 0x63760001u
#define CONV_GC_KEY_W 0x63760002u
#define CONV_GC_KEY_B 0x63760003u

typedef struct conv_problem {
    nnr_conv_params params;
    nnr_shape shape;
    size_t in_count, out_count, w_count;
    double *x, *w, *b, *y, *dx, *dw, *db;
} conv_problem;

static nnr_status conv_forward(void *ctx)
{
    conv_problem *c = ctx;
    return nnr_conv_fwd_naive_f64(&c->params, &c->shape, c->x, c->w, c->b, c->y, NULL, 0);
}

static nnr_status conv_backward(void *ctx, const double *dy)
{
    conv_problem *c = ctx;
    return nnr_conv_bwd_naive_f64(&c->params, &c->shape, c->x, c->w, dy, c->dx, c->dw,
                                  c->params.use_bias ? c->db : NULL, NULL, 0);
}

nnr_status nnr_gradcheck_conv(const nnr_conv_params *p, const nnr_shape *shape, uint64_t seed,
                              const nnr_gc_options *options, nnr_gc_report *report)
{
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    if (shape == NULL)
        return nnr_error(NNR_ERR_NULL, "shape is NULL");
    if (report == NULL)
        return nnr_error(NNR_ERR_NULL, "report is NULL");

    conv_problem c = {0};
    c.params = *p;
    c.shape = *shape;
    nnr_shape out_shape, w_shape;
    nnr_status st = nnr_conv_output_shape(p, shape, &out_shape);
    if (st.code == NNR_OK)
        st = nnr_conv_weight_shape(p, &w_shape);
    if (st.code == NNR_OK)
        st = nnr_shape_numel(shape, "shape", &c.in_count);
    if (st.code == NNR_OK)
        st = nnr_shape_numel(&out_shape, "the output shape", &c.out_count);
    if (st.code == NNR_OK)
        st = nnr_shape_numel(&w_shape, "the weight shape", &c.w_count);
    if (st.code != NNR_OK)
        return st;

    const size_t n_bias = (size_t)p->filters;
    c.x = calloc(c.in_count, sizeof(double));
    c.dx = calloc(c.in_count, sizeof(double));
    c.w = calloc(c.w_count, sizeof(double));
    c.dw = calloc(c.w_count, sizeof(double));
    c.b = calloc(n_bias, sizeof(double));
    c.db = calloc(n_bias, sizeof(double));
    c.y = calloc(c.out_count, sizeof(double));
    if (c.x == NULL || c.dx == NULL || c.w == NULL || c.dw == NULL || c.b == NULL || c.db == NULL || c.y == NULL) {
        st = nnr_error(NNR_ERR_NOMEM, "cannot allocate the convolution gradient-check buffers (%zu + %zu + %zu values)",
                       c.in_count, c.w_count, c.out_count);
    } else {
        /* x ~ N(0, 1), w ~ N(0, 0.5), b ~ N(0, 1): unit-scale outputs for the small C_in·taps here. */
        for (size_t i = 0; i < c.in_count; i++)
            c.x[i] = nnr_rng_normal(seed ^ CONV_GC_KEY_X, i);
        for (size_t i = 0; i < c.w_count; i++)
            c.w[i] = 0.5 * nnr_rng_normal(seed ^ CONV_GC_KEY_W, i);
        for (size_t i = 0; i < n_bias; i++)
            c.b[i] = nnr_rng_normal(seed ^ CONV_GC_KEY_B, i);

        nnr_gc_problem problem = {0};
        problem.ctx = &c;
        problem.forward = conv_forward;
        problem.backward = conv_backward;
        problem.out = c.y;
        problem.out_count = c.out_count;
        problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"x", c.x, c.dx, c.in_count};
        problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"w", c.w, c.dw, c.w_count};
        if (p->use_bias)
            problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"b", c.b, c.db, n_bias};
        st = nnr_gradcheck(&problem, options, report);
    }
    free(c.x);
    free(c.dx);
    free(c.w);
    free(c.dw);
    free(c.b);
    free(c.db);
    free(c.y);
    return st;
}
