/*
 * LayerNorm and RMSNorm gradient checks: every tensor (x, gamma, beta; x,
 * scale) of the double naive kernels against central differences
 * (src/gradcheck/), over trailing axes, a middle axis, a middle block,
 * non-contiguous axis sets, the batch axis, center/scale switched off and
 * both presets of each layer.
 *
 * Set NNREF_GC_VERBOSE=1 to print the table of measured errors.
 */
#include "config.h"
#include <stdio.h>
#include "test_util.h"
#include "test_norm.h"

/*
 * Bound on the worst relative error (nnr_gc_rel_err with the default floor
 * 0.1) of every tensor, as for BatchNorm: the finite-difference noise is
 * about 1e-9 absolute on these unit-scale gradients, so the measured worst
 * stays near 1e-8; a backward wrong by 1e-6 relative or more would exceed it.
 */
#define LN_GC_MAX_REL_ERR 1e-7

typedef struct ln_gc_case {
    const char *name;
    int rms;                       /* 0: LayerNorm, 1: RMSNorm */
    int torch;                     /* 1: the PyTorch preset (eps 1e-5 / FLT_EPSILON), 0: Keras */
    nnr_shape shape;
    int axes[NNR_MAX_RANK];
    size_t n_axes;
    int center, scale;
    size_t max_per_tensor;
} ln_gc_case;

static const ln_gc_case cases[] = {
    {"ln-keras-last",      0, 0, {2, {4, 5}},          {-1},        1, 1, 1, 0},
    {"ln-torch-last2",     0, 1, {3, {3, 4, 5}},       {-2, -1},    2, 1, 1, 0},
    {"ln-middle-axis",     0, 0, {3, {2, 3, 4}},       {1},         1, 1, 1, 0},
    {"ln-middle-block",    0, 1, {4, {2, 3, 2, 3}},    {1, 2},      2, 1, 1, 0},
    {"ln-noncontiguous",   0, 0, {3, {3, 2, 4}},       {0, 2},      2, 1, 1, 0},
    {"ln-noncontig-r4",    0, 1, {4, {2, 3, 2, 3}},    {-1, 1},     2, 1, 1, 0},
    {"ln-batch-axis",      0, 0, {2, {4, 3}},          {0},         1, 1, 1, 0},
    {"ln-rank1",           0, 1, {1, {6}},             {0},         1, 1, 1, 0},
    {"ln-no-center",       0, 0, {2, {3, 6}},          {-1},        1, 0, 1, 0},
    {"ln-no-scale",        0, 1, {2, {3, 6}},          {-1},        1, 1, 0, 0},
    {"ln-no-affine",       0, 1, {3, {2, 3, 4}},       {1},         1, 0, 0, 0},
    {"ln-16x96",           0, 1, {2, {16, 96}},        {-1},        1, 1, 1, 300},
    {"rms-keras-last",     1, 0, {2, {4, 5}},          {-1},        1, 0, 1, 0},
    {"rms-torch-last2",    1, 1, {3, {3, 4, 5}},       {-2, -1},    2, 0, 1, 0},
    {"rms-middle-axis",    1, 0, {3, {2, 3, 4}},       {1},         1, 0, 1, 0},
    {"rms-noncontiguous",  1, 1, {3, {3, 2, 4}},       {0, 2},      2, 0, 1, 0},
    {"rms-no-scale",       1, 1, {2, {3, 6}},          {-1},        1, 0, 0, 0},
};

#define N_CASES (sizeof cases / sizeof cases[0])

START_TEST(gradcheck_layernorm_rmsnorm)
{
    const ln_gc_case *c = &cases[_i];
    nnr_gc_options o = nnr_gc_defaults();
    o.max_per_tensor = c->max_per_tensor;
    nnr_gc_report report;
    nnr_status st;
    if (c->rms) {
        nnr_rmsnorm_params p = c->torch ? nnr_rmsnorm_torch(c->n_axes) : nnr_rmsnorm_keras();
        memcpy(p.axes, c->axes, sizeof p.axes);
        p.n_axes = c->n_axes;
        p.scale = c->scale;
        st = nnr_gradcheck_rmsnorm(&p, &c->shape, 1000 + (uint64_t)_i, &o, &report);
    } else {
        nnr_layernorm_params p = c->torch ? nnr_layernorm_torch(c->n_axes) : nnr_layernorm_keras();
        memcpy(p.axes, c->axes, sizeof p.axes);
        p.n_axes = c->n_axes;
        p.center = c->center;
        p.scale = c->scale;
        st = nnr_gradcheck_layernorm(&p, &c->shape, 1000 + (uint64_t)_i, &o, &report);
    }
    ck_assert_msg(st.code == NNR_OK, "%s: %s", c->name, nnr_strerror(&st));
    if (getenv("NNREF_GC_VERBOSE") != NULL)
        nnr_gc_print(stdout, c->name, "train", &report);
    ck_assert_uint_eq(report.n_tensors, 1 + (size_t)c->scale + (size_t)(c->center && !c->rms));
    ck_assert_msg(report.deterministic, "%s: backward not deterministic", c->name);
    for (size_t t = 0; t < report.n_tensors; t++) {
        const nnr_gc_tensor_report *r = &report.tensors[t];
        ck_assert_msg(r->checked > 0 && r->kinks == 0, "%s %s: %zu checked, %zu kinks", c->name, r->name,
                      r->checked, r->kinks);
        ck_assert_msg(r->failed == 0 && r->max_rel_err <= LN_GC_MAX_REL_ERR,
                      "%s %s: %zu failed, worst rel err %.3g at %zu (analytic %.12g, numeric %.12g)", c->name,
                      r->name, r->failed, r->max_rel_err, r->worst_index, r->worst_analytic, r->worst_numeric);
    }
    ck_assert(report.passed);
}
END_TEST

/* y does not change when a whole row is shifted by a constant, so the
 * directional derivative along (1, ..., 1) vanishes: per row sum(dx) = 0,
 * exactly in real arithmetic (term 2 removes mean(g), term 3 has
 * sum(x_hat) = 0), and to rounding here. */
START_TEST(gradcheck_dx_rows_sum_to_zero)
{
    const nnr_shape shape = {3, {3, 4, 5}};
    double x[60], dy[60], dx[60], y[60], g[20], b[20], dg[20], db[20], mean[3], istd[3];
    tu_randn_d(x, 60, 3, 1.0, 2.0);
    tu_randn_d(dy, 60, 4, 0.0, 1.0);
    tu_randn_d(g, 20, 5, 1.0, 0.5);
    tu_randn_d(b, 20, 6, 0.0, 0.5);
    nnr_layernorm_params p = nnr_layernorm_torch(2);
    nnr_layernorm_cache_f64 cache = {mean, istd};
    nnr_status st = nnr_layernorm_fwd_naive_f64(&p, &shape, x, g, b, y, &cache);
    ck_assert_int_eq(st.code, NNR_OK);
    st = nnr_layernorm_bwd_naive_f64(&p, &shape, x, g, &cache, dy, dx, dg, db);
    ck_assert_int_eq(st.code, NNR_OK);
    for (int r = 0; r < 3; r++) {
        double s = 0, s_abs = 0;
        for (int k = 0; k < 20; k++) {
            s += dx[r * 20 + k];
            s_abs += fabs(dx[r * 20 + k]);
        }
        ck_assert_msg(s_abs > 0.1 && fabs(s) <= 1e-14 * s_abs * 20, "row %d: sum(dx) = %g", r, s);
    }
}
END_TEST

void layernorm_add_gradcheck(TCase *tc)
{
    tcase_add_loop_test(tc, gradcheck_layernorm_rmsnorm, 0, (int)N_CASES);
    tcase_add_test(tc, gradcheck_dx_rows_sum_to_zero);
}
