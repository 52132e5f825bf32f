/*
 * Convolution gradient checks: the double naive kernels against central
 * differences (gradcheck.h) for x, w and b, over both data layouts, both
 * weight layouts, Conv1D and Conv2D, stride 2, dilation 2, Keras 'same'
 * (the odd cell at the end), explicit asymmetric padding, a 1x1 kernel and
 * no bias. Every entry of every tensor is checked (small shapes).
 *
 * Set NNREF_GC_VERBOSE=1 to print the table of measured errors.
 */
#include "config.h"
#include <stdio.h>
#include "test_util.h"
#include "test_conv.h"

/*
 * Bound on the worst relative error (nnr_gc_rel_err, default floor 0.1).
 * Convolution is linear in each of x, w and b, so the central difference
 * has no truncation error; what remains is the rounding of L over the step
 * (measured worst over these cases: 3.5e-9, see NNREF_GC_VERBOSE=1).
 * 1e-7 is the bound the normalization and pooling checks use: a backward
 * wrong by 1e-6 relative or more exceeds it.
 */
#define CONV_GC_MAX_REL_ERR 1e-7

typedef struct gc_case {
    const char *name;
    int keras;                  /* preset: 1 Keras (channels_last, Keras weights), 0 PyTorch */
    int swap_weights;           /* 1: the other weight layout than the preset's */
    int dims;
    size_t n, cin, cout;
    size_t spatial[2];
    int kernel[2], stride[2], dilation[2];
    nnr_conv_padding padding;
    int pad_before[2], pad_after[2];
    int use_bias;
} gc_case;

static const gc_case gc_cases[] = {
    {"1d-torch-s2-pad",      0, 0, 1, 2, 3, 2, {9},    {3},    {2},    {1},    NNR_CONV_EXPLICIT, {1},    {1},    1},
    {"1d-keras-same-s2",     1, 0, 1, 2, 2, 3, {8},    {4},    {2},    {1},    NNR_CONV_SAME,     {0},    {0},    1},
    {"1d-keras-dil2-same",   1, 0, 1, 2, 3, 2, {7},    {3},    {1},    {2},    NNR_CONV_SAME,     {0},    {0},    1},
    {"2d-torch-s2-d2",       0, 0, 2, 2, 2, 3, {7, 6}, {3, 2}, {2, 1}, {1, 2}, NNR_CONV_EXPLICIT, {1, 0}, {2, 1}, 1},
    {"2d-keras-same-s2",     1, 0, 2, 2, 3, 2, {5, 6}, {3, 3}, {2, 2}, {1, 1}, NNR_CONV_SAME,     {0, 0}, {0, 0}, 1},
    {"2d-keras-valid-d2",    1, 0, 2, 1, 2, 3, {7, 7}, {2, 3}, {1, 1}, {2, 2}, NNR_CONV_VALID,    {0, 0}, {0, 0}, 1},
    {"2d-nchw-kerasw-same",  0, 1, 2, 2, 2, 2, {5, 4}, {3, 3}, {1, 1}, {1, 1}, NNR_CONV_SAME,     {0, 0}, {0, 0}, 1},
    {"2d-nhwc-torchw-s2",    1, 1, 2, 2, 3, 2, {6, 5}, {3, 3}, {2, 2}, {1, 1}, NNR_CONV_EXPLICIT, {1, 1}, {0, 1}, 1},
    {"2d-1x1-nobias",        0, 0, 2, 2, 3, 4, {3, 4}, {1, 1}, {1, 1}, {1, 1}, NNR_CONV_VALID,    {0, 0}, {0, 0}, 0},
    {"2d-keras-k5-nobias",   1, 0, 2, 1, 2, 2, {6, 7}, {5, 5}, {1, 1}, {1, 1}, NNR_CONV_SAME,     {0, 0}, {0, 0}, 0},
};

static int verbose(void)
{
    const char *v = getenv("NNREF_GC_VERBOSE");
    return v != NULL && v[0] == '1';
}

START_TEST(gradcheck_conv_cases)
{
    const gc_case *gc = &gc_cases[_i];
    nnr_conv_params p = gc->keras ? nnr_conv_keras(gc->dims, (int)gc->cin, (int)gc->cout, 1)
                                  : nnr_conv_torch(gc->dims, (int)gc->cin, (int)gc->cout, 1);
    if (gc->swap_weights)
        p.weight_layout = gc->keras ? NNR_CONV_WEIGHT_TORCH : NNR_CONV_WEIGHT_KERAS;
    p.padding = gc->padding;
    p.use_bias = gc->use_bias;
    for (int i = 0; i < gc->dims; i++) {
        p.kernel[i] = gc->kernel[i];
        p.stride[i] = gc->stride[i];
        p.dilation[i] = gc->dilation[i];
        p.pad_before[i] = gc->pad_before[i];
        p.pad_after[i] = gc->pad_after[i];
    }
    const nnr_shape in = conv_in_shape(&p, gc->n, gc->cin, gc->spatial);
    nnr_gc_report r;
    nnr_status st = nnr_gradcheck_conv(&p, &in, 0xc0de + (uint64_t)_i, NULL, &r);
    ck_assert_msg(st.code == NNR_OK, "%s: %s", gc->name, nnr_strerror(&st));
    if (verbose())
        nnr_gc_print(stdout, "conv", gc->name, &r);
    size_t n_x, n_y, n_w;
    conv_counts(&p, &in, &n_x, &n_y, &n_w);
    const size_t want_counts[3] = {n_x, n_w, gc->cout};
    ck_assert_uint_eq(r.n_tensors, gc->use_bias ? 3 : 2);
    ck_assert_msg(r.passed && r.deterministic, "%s failed", gc->name);
    for (size_t t = 0; t < r.n_tensors; t++) {
        const nnr_gc_tensor_report *tr = &r.tensors[t];
        ck_assert_msg(tr->checked == want_counts[t] && tr->kinks == 0 && tr->failed == 0,
                      "%s %s: %zu of %zu checked, %zu kinks, %zu failed", gc->name, tr->name, tr->checked,
                      want_counts[t], tr->kinks, tr->failed);
        ck_assert_msg(tr->max_rel_err <= CONV_GC_MAX_REL_ERR, "%s %s: worst rel err %.3g at %zu", gc->name, tr->name,
                      tr->max_rel_err, tr->worst_index);
    }
}
END_TEST

/* The converse: a backward that is wrong is caught: dw with its first and
 * last taps swapped (the classic flipped-kernel mistake of deriving the
 * backward as a convolution with the unflipped kernel) fails the check,
 * while dx stays right. */
typedef struct wrong_ctx {
    nnr_conv_params fwd_p;
    nnr_shape in;
    double *x, *w, *y, *dx, *dw;
} wrong_ctx;

static nnr_status wrong_forward(void *ctx)
{
    wrong_ctx *c = ctx;
    return nnr_conv_fwd_naive_f64(&c->fwd_p, &c->in, c->x, c->w, NULL, c->y, NULL, 0);
}

static nnr_status wrong_backward(void *ctx, const double *dy)
{
    /* the right dx and dw, then dw[0] and dw[2] swapped */
    wrong_ctx *c = ctx;
    nnr_status st = nnr_conv_bwd_naive_f64(&c->fwd_p, &c->in, c->x, c->w, dy, c->dx, c->dw, NULL, NULL, 0);
    const double t = c->dw[0];
    c->dw[0] = c->dw[2];
    c->dw[2] = t;
    return st;
}

START_TEST(gradcheck_catches_wrong_backward)
{
    wrong_ctx c;
    c.fwd_p = nnr_conv_torch(1, 1, 1, 3);
    c.fwd_p.use_bias = 0;
    c.in = (nnr_shape){3, {1, 1, 8}};
    double x[8], w[3], y[6], dx[8], dw[3];
    for (int i = 0; i < 8; i++)
        x[i] = (double)(i * i % 5) - 1.5;
    w[0] = 0.3, w[1] = -0.7, w[2] = 1.1;
    c.x = x, c.w = w, c.y = y, c.dx = dx, c.dw = dw;
    nnr_gc_problem prob = {0};
    prob.ctx = &c;
    prob.forward = wrong_forward;
    prob.backward = wrong_backward;
    prob.out = y;
    prob.out_count = 6;
    prob.tensors[0] = (nnr_gc_tensor){"x", x, dx, 8};
    prob.tensors[1] = (nnr_gc_tensor){"w", w, dw, 3};
    prob.n_tensors = 2;
    nnr_gc_report r;
    ck_assert(nnr_gradcheck(&prob, NULL, &r).code == NNR_OK);
    ck_assert(!r.passed);
    ck_assert_uint_eq(r.tensors[0].failed, 0);     /* dx is right */
    ck_assert_uint_ge(r.tensors[1].failed, 2);     /* the swapped taps are caught */
}
END_TEST

void conv_add_gradcheck(TCase *tc)
{
    tcase_add_loop_test(tc, gradcheck_conv_cases, 0, (int)(sizeof gc_cases / sizeof gc_cases[0]));
    tcase_add_test(tc, gradcheck_catches_wrong_backward);
}
