/*
 * Ready-made gradient-check problems for the double naive activation and
 * loss kernels (gradcheck.h): ReLU, softmax, and softmax fused with sparse
 * categorical cross-entropy, built like pool_problem.c (a context holding
 * every buffer, a forward and a backward that call the kernels, the tensor
 * list: x, or the logits).
 *
 * ReLU has a kink at 0: an entry within the harness' step of 0 has one-sided
 * slopes 0 and g_k, and is reported as a kink. The default input plants two
 * (x[0] = 0, x[1] = 1e-9) so the report shows the detection at work; every
 * other entry is standard normal. Softmax and the cross-entropy are smooth.
 *
 * The cross-entropy's output is the scalar mean loss L; the harness' loss is
 * L·g for its random g, so the backward scales dL/dx by dout[0].
 */
#include "config.h"
#include <string.h>
#include "gradcheck/problem_util.h"

/* Key of the default input, apart from the harness' g. */
#define ACT_GC_KEY_X 0x61637401u
#define ACT_GC_KEY_LABELS 0x61637402u

typedef enum act_gc_kind { ACT_GC_RELU, ACT_GC_SOFTMAX, ACT_GC_XENT } act_gc_kind;

typedef struct act_problem {
    act_gc_kind kind;
    nnr_shape shape;
    size_t count;
    double *x, *y, *dx;
    int32_t *labels;
    double loss;
} act_problem;

static nnr_status act_forward(void *ctx)
{
    act_problem *b = ctx;
    switch (b->kind) {
    case ACT_GC_RELU:
        return nnr_relu_fwd_naive_f64(&b->shape, b->x, b->y);
    case ACT_GC_SOFTMAX:
        return nnr_softmax_fwd_naive_f64(&b->shape, b->x, b->y);
    default:
        return nnr_softmax_xent_naive_f64(&b->shape, b->x, b->labels, &b->loss, NULL);
    }
}

static nnr_status act_backward(void *ctx, const double *dout)
{
    act_problem *b = ctx;
    switch (b->kind) {
    case ACT_GC_RELU:
        return nnr_relu_bwd_naive_f64(&b->shape, b->y, dout, b->dx);
    case ACT_GC_SOFTMAX:
        return nnr_softmax_bwd_naive_f64(&b->shape, b->y, dout, b->dx);
    default: {
        double loss;
        nnr_status st = nnr_softmax_xent_naive_f64(&b->shape, b->x, b->labels, &loss, b->dx);
        /* dL/dx times the upstream gradient of the scalar L */
        for (size_t i = 0; st.code == NNR_OK && i < b->count; i++)
            b->dx[i] *= dout[0];
        return st;
    }
    }
}

static nnr_status act_run(act_problem *b, const double *x, const int32_t *labels, uint64_t seed,
                          const nnr_gc_options *options, nnr_gc_report *report)
{
    nnr_status st = nnr_shape_numel(&b->shape, "shape", &b->count);
    if (st.code != NNR_OK)
        return st;
    if (b->kind == ACT_GC_XENT && b->shape.rank != 2)
        return nnr_error(NNR_ERR_SHAPE, "shape has rank %zu; the cross-entropy's logits are (batch, classes)",
                         b->shape.rank);
    const size_t rows = b->count / b->shape.dims[b->shape.rank - 1];
    gc_buffers mem = {0};
    b->x = gc_doubles(&mem, b->count);
    b->y = gc_doubles(&mem, b->count);
    b->dx = gc_doubles(&mem, b->count);
    b->labels = gc_alloc(&mem, rows, sizeof(int32_t));
    if (mem.failed) {
        st = nnr_error(NNR_ERR_NOMEM, "cannot allocate the activation gradient-check buffers (%zu values)",
                       b->count);
    } else {
        if (x != NULL) {
            memcpy(b->x, x, b->count * sizeof(double));
        } else {
            gc_fill_normal(b->x, b->count, seed ^ ACT_GC_KEY_X, 0.0, 1.0);
            if (b->kind == ACT_GC_RELU && b->count >= 2) {
                b->x[0] = 0.0;    /* at the kink */
                b->x[1] = 1e-9;   /* within the step of it */
            }
        }
        const size_t classes = b->shape.dims[b->shape.rank - 1];
        for (size_t n = 0; n < rows; n++)
            b->labels[n] = labels != NULL ? labels[n]
                                          : (int32_t)(nnr_rng_uniform(seed ^ ACT_GC_KEY_LABELS, n) * (double)classes);

        const int xent = b->kind == ACT_GC_XENT;
        nnr_gc_problem problem = gc_problem(b, act_forward, act_backward, xent ? &b->loss : b->y,
                                            xent ? 1 : b->count);
        gc_add_tensor(&problem, xent ? "logits" : "x", b->x, b->dx, b->count);
        st = nnr_gradcheck(&problem, options, report);
    }
    gc_buffers_free(&mem);
    return st;
}

static nnr_status start(act_gc_kind kind, const nnr_shape *shape, const double *x, const int32_t *labels,
                        uint64_t seed, const nnr_gc_options *options, nnr_gc_report *report)
{
    NNR_TRY(nnr_need(shape, "shape"));
    NNR_TRY(nnr_need(report, "report"));
    act_problem b = {0};
    b.kind = kind;
    b.shape = *shape;
    return act_run(&b, x, labels, seed, options, report);
}

nnr_status nnr_gradcheck_relu(const nnr_shape *shape, const double *x, uint64_t seed, const nnr_gc_options *options,
                              nnr_gc_report *report)
{
    return start(ACT_GC_RELU, shape, x, NULL, seed, options, report);
}

nnr_status nnr_gradcheck_softmax(const nnr_shape *shape, const double *x, uint64_t seed,
                                 const nnr_gc_options *options, nnr_gc_report *report)
{
    return start(ACT_GC_SOFTMAX, shape, x, NULL, seed, options, report);
}

nnr_status nnr_gradcheck_softmax_xent(const nnr_shape *shape, const double *logits, const int32_t *labels,
                                      uint64_t seed, const nnr_gc_options *options, nnr_gc_report *report)
{
    return start(ACT_GC_XENT, shape, logits, labels, seed, options, report);
}
