/*
 * Ready-made gradient-check problem for the double naive Dense kernels
 * (gradcheck.h), built like conv_problem.c: a context holding every buffer,
 * a forward and a backward that call the kernels, and the tensor list x, w
 * and (with use_bias) b.
 *
 * Dense is linear in each of x, W and b, so the central difference has no
 * truncation error: what remains is the rounding of L over the step, and no
 * entry is a kink.
 */
#include "config.h"
#include <stdlib.h>
#include "nnref/gradcheck.h"

/* Keys of the random tensors, apart from each other and from the harness' g. */
#define DENSE_GC_KEY_X 0x64650001u
#define DENSE_GC_KEY_W 0x64650002u
#define DENSE_GC_KEY_B 0x64650003u

typedef struct dense_problem {
    nnr_dense_params params;
    nnr_shape shape;
    size_t in_count, out_count, w_count;
    double *x, *w, *b, *y, *dx, *dw, *db;
} dense_problem;

static nnr_status dense_forward(void *ctx)
{
    dense_problem *d = ctx;
    return nnr_dense_fwd_naive_f64(&d->params, &d->shape, d->x, d->w, d->b, d->y, NULL, 0);
}

static nnr_status dense_backward(void *ctx, const double *dy)
{
    dense_problem *d = ctx;
    return nnr_dense_bwd_naive_f64(&d->params, &d->shape, d->x, d->w, dy, d->dx, d->dw,
                                   d->params.use_bias ? d->db : NULL, NULL, 0);
}

nnr_status nnr_gradcheck_dense(const nnr_dense_params *p, const nnr_shape *shape, uint64_t seed,
                               const nnr_gc_options *options, nnr_gc_report *report)
{
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    if (shape == NULL)
        return nnr_error(NNR_ERR_NULL, "shape is NULL");
    if (report == NULL)
        return nnr_error(NNR_ERR_NULL, "report is NULL");

    dense_problem d = {0};
    d.params = *p;
    d.shape = *shape;
    nnr_shape out_shape, w_shape;
    nnr_status st = nnr_dense_output_shape(p, shape, &out_shape);
    if (st.code == NNR_OK)
        st = nnr_dense_weight_shape(p, &w_shape);
    if (st.code == NNR_OK)
        st = nnr_shape_numel(shape, "shape", &d.in_count);
    if (st.code == NNR_OK)
        st = nnr_shape_numel(&out_shape, "the output shape", &d.out_count);
    if (st.code == NNR_OK)
        st = nnr_shape_numel(&w_shape, "the weight shape", &d.w_count);
    if (st.code != NNR_OK)
        return st;

    const size_t n_bias = p->units;
    d.x = calloc(d.in_count, sizeof(double));
    d.dx = calloc(d.in_count, sizeof(double));
    d.w = calloc(d.w_count, sizeof(double));
    d.dw = calloc(d.w_count, sizeof(double));
    d.b = calloc(n_bias, sizeof(double));
    d.db = calloc(n_bias, sizeof(double));
    d.y = calloc(d.out_count, sizeof(double));
    if (d.x == NULL || d.dx == NULL || d.w == NULL || d.dw == NULL || d.b == NULL || d.db == NULL || d.y == NULL) {
        st = nnr_error(NNR_ERR_NOMEM, "cannot allocate the Dense gradient-check buffers (%zu + %zu + %zu values)",
                       d.in_count, d.w_count, d.out_count);
    } else {
        /* x ~ N(0, 1), W ~ N(0, 0.5), b ~ N(0, 1): unit-scale outputs for the small in_features here. */
        for (size_t i = 0; i < d.in_count; i++)
            d.x[i] = nnr_rng_normal(seed ^ DENSE_GC_KEY_X, i);
        for (size_t i = 0; i < d.w_count; i++)
            d.w[i] = 0.5 * nnr_rng_normal(seed ^ DENSE_GC_KEY_W, i);
        for (size_t i = 0; i < n_bias; i++)
            d.b[i] = nnr_rng_normal(seed ^ DENSE_GC_KEY_B, i);

        nnr_gc_problem problem = {0};
        problem.ctx = &d;
        problem.forward = dense_forward;
        problem.backward = dense_backward;
        problem.out = d.y;
        problem.out_count = d.out_count;
        problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"x", d.x, d.dx, d.in_count};
        problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"w", d.w, d.dw, d.w_count};
        if (p->use_bias)
            problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){"b", d.b, d.db, n_bias};
        st = nnr_gradcheck(&problem, options, report);
    }
    free(d.x);
    free(d.dx);
    free(d.w);
    free(d.dw);
    free(d.b);
    free(d.db);
    free(d.y);
    return st;
}
