/*
 * GroupNorm and InstanceNorm gradient checks: every tensor (x, gamma, beta)
 * of the double naive kernels against central differences, over both
 * layouts, ranks 2..5, a middle channel axis, G = 1, G = C, odd group sizes
 * and center/scale switched off.
 *
 * Set NNREF_GC_VERBOSE=1 to print the table of measured errors.
 */
#include "config.h"
#include <stdio.h>
#include "test_util.h"
#include "test_norm.h"

/*
 * Bound on the worst relative error (nnr_gc_rel_err, default floor 0.1) of
 * every tensor; the same bound as BatchNorm's, for the same reason: the
 * finite-difference noise is ~1e-9 absolute (src/gradcheck/gradcheck.c) and a
 * backward wrong by 1e-6 relative or more would exceed it.
 */
#define GN_GC_MAX_REL_ERR 1e-7

typedef struct gn_gc_case {
    const char *name;
    int torch;          /* 1: nnr_groupnorm_torch (channels_first), 0: keras (channels_last) */
    int groups;
    int axis;           /* 0: the preset's */
    nnr_shape shape;
    int center, scale;
} gn_gc_case;

static const gn_gc_case cases[] = {
    {"torch-r2-g2",     1, 2,  0, {2, {4, 6}},             1, 1},
    {"torch-r3-g3",     1, 3,  0, {3, {3, 6, 4}},          1, 1},
    {"torch-r4-g2",     1, 2,  0, {4, {2, 4, 3, 3}},       1, 1},
    {"torch-r5-g2",     1, 2,  0, {5, {2, 4, 2, 2, 3}},    1, 1},
    {"keras-r2-g3",     0, 3,  0, {2, {4, 6}},             1, 1},
    {"keras-r3-g2",     0, 2,  0, {3, {3, 5, 4}},          1, 1},
    {"keras-r4-g2",     0, 2,  0, {4, {2, 3, 3, 4}},       1, 1},
    {"keras-r5-g2",     0, 2,  0, {5, {2, 2, 3, 2, 4}},    1, 1},
    {"g1",              1, 1,  0, {4, {2, 3, 3, 2}},       1, 1},
    {"g-eq-c",          0, -1, 0, {4, {2, 3, 2, 4}},       1, 1},
    {"c12-g3",          1, 3,  0, {3, {2, 12, 3}},         1, 1},
    {"c10-g5",          0, 5,  0, {3, {2, 3, 10}},         1, 1},
    {"axis2-r4",        1, 2,  2, {4, {2, 3, 4, 2}},       1, 1},
    {"no-center",       0, 2,  0, {3, {2, 3, 4}},          0, 1},
    {"no-scale",        1, 2,  0, {3, {2, 4, 3}},          1, 0},
    {"no-affine",       1, 2,  0, {3, {2, 4, 3}},          0, 0},
};

#define N_CASES (sizeof cases / sizeof cases[0])

static void check_report(const char *name, const nnr_gc_report *r, size_t count, size_t channels, int scale,
                         int center)
{
    const char *names[3];
    size_t counts[3], n = 0;
    names[n] = "x";
    counts[n++] = count;
    if (scale) {
        names[n] = "gamma";
        counts[n++] = channels;
    }
    if (center) {
        names[n] = "beta";
        counts[n++] = channels;
    }
    ck_assert_uint_eq(r->n_tensors, n);
    ck_assert_msg(r->deterministic, "%s: backward not bitwise reproducible", name);
    for (size_t t = 0; t < n; t++) {
        const nnr_gc_tensor_report *tr = &r->tensors[t];
        ck_assert_str_eq(tr->name, names[t]);
        ck_assert_uint_eq(tr->checked, counts[t]);
        ck_assert_msg(tr->failed == 0 && tr->kinks == 0 && tr->max_rel_err < GN_GC_MAX_REL_ERR,
                      "%s %s: %zu failed, %zu kinks, max rel err %.3g at [%zu] (analytic %.17g, numeric %.17g)",
                      name, tr->name, tr->failed, tr->kinks, tr->max_rel_err, tr->worst_index,
                      tr->worst_analytic, tr->worst_numeric);
    }
    ck_assert_int_eq(r->passed, 1);
}

START_TEST(gradcheck_groupnorm_every_tensor)
{
    const gn_gc_case *c = &cases[_i];
    nnr_groupnorm_params p = c->torch ? nnr_groupnorm_torch(c->groups) : nnr_groupnorm_keras(c->groups);
    if (c->axis != 0)
        p.axis = c->axis;
    p.center = c->center;
    p.scale = c->scale;
    nnr_gc_report r;
    nnr_status st = nnr_gradcheck_groupnorm(&p, &c->shape, 3030 + (uint64_t)_i, NULL, &r);
    ck_assert_msg(st.code == NNR_OK, "%s: %s", c->name, nnr_strerror(&st));
    if (getenv("NNREF_GC_VERBOSE") != NULL)
        nnr_gc_print(stdout, c->name, "train", &r);
    size_t count, channels;
    ck_assert_int_eq(nnr_shape_numel(&c->shape, "shape", &count).code, NNR_OK);
    ck_assert_int_eq(nnr_groupnorm_sizes(&p, &c->shape, &channels, NULL, NULL).code, NNR_OK);
    check_report(c->name, &r, count, channels, c->scale, c->center);
}
END_TEST

START_TEST(gradcheck_instancenorm_presets)
{
    const int keras = _i;
    nnr_instancenorm_params p = keras ? nnr_instancenorm_keras() : nnr_instancenorm_torch();
    if (!keras)
        p.center = p.scale = 1;     /* affine=True, so gamma and beta are checked too */
    const nnr_shape shape = keras ? (nnr_shape){4, {2, 3, 2, 3}} : (nnr_shape){3, {3, 4, 5}};
    nnr_gc_report r;
    nnr_status st = nnr_gradcheck_instancenorm(&p, &shape, 4040 + (uint64_t)_i, NULL, &r);
    ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
    if (getenv("NNREF_GC_VERBOSE") != NULL)
        nnr_gc_print(stdout, keras ? "instancenorm-keras" : "instancenorm-torch", "train", &r);
    size_t count;
    ck_assert_int_eq(nnr_shape_numel(&shape, "shape", &count).code, NNR_OK);
    check_report(keras ? "instancenorm-keras" : "instancenorm-torch", &r, count, keras ? 3 : 4, 1, 1);
}
END_TEST

/* Teeth: a backward that drops term 3 (through the variance) must fail. */
typedef struct gn_broken {
    nnr_groupnorm_params p;
    nnr_shape shape;
    double x[24], gamma[4], beta[4], y[24], dx[24], dgamma[4], dbeta[4], mean[4], istd[4];
} gn_broken;

static nnr_status broken_forward(void *ctx)
{
    gn_broken *b = ctx;
    nnr_groupnorm_cache_f64 cache = {b->mean, b->istd, NULL};
    return nnr_groupnorm_fwd_naive_f64(&b->p, &b->shape, b->x, b->gamma, b->beta, b->y, &cache);
}

/* The correct backward, then dx += istd * x_hat * mean(dx_hat * x_hat): term 3 undone. */
static nnr_status broken_backward(void *ctx, const double *dy)
{
    gn_broken *b = ctx;
    nnr_groupnorm_cache_f64 cache = {b->mean, b->istd, NULL};
    nnr_status st = nnr_groupnorm_bwd_naive_f64(&b->p, &b->shape, b->x, b->gamma, &cache, dy, b->dx, b->dgamma,
                                                b->dbeta);
    /* shape (2, 4, 3), G = 2: group (n, g) is 6 contiguous values */
    for (size_t ng = 0; ng < 4; ng++) {
        double s = 0;
        for (size_t k = 0; k < 6; k++) {
            const size_t i = ng * 6 + k;
            const double x_hat = (b->x[i] - b->mean[ng]) * b->istd[ng];
            s += dy[i] * b->gamma[(ng % 2) * 2 + k / 3] * x_hat;
        }
        for (size_t k = 0; k < 6; k++) {
            const size_t i = ng * 6 + k;
            b->dx[i] += b->istd[ng] * (b->x[i] - b->mean[ng]) * b->istd[ng] * s / 6.0;
        }
    }
    return st;
}

START_TEST(gradcheck_groupnorm_broken_backward_fails)
{
    gn_broken b;
    memset(&b, 0, sizeof b);
    b.p = nnr_groupnorm_torch(2);
    b.shape = (nnr_shape){3, {2, 4, 3}};
    tu_randn_d(b.x, 24, 5, 0.5, 2.0);
    tu_randn_d(b.gamma, 4, 6, 1.0, 0.5);
    tu_randn_d(b.beta, 4, 7, 0.0, 0.5);
    nnr_gc_problem prob;
    memset(&prob, 0, sizeof prob);
    prob.ctx = &b;
    prob.forward = broken_forward;
    prob.backward = broken_backward;
    prob.out = b.y;
    prob.out_count = 24;
    prob.tensors[0] = (nnr_gc_tensor){"x", b.x, b.dx, 24};
    prob.tensors[1] = (nnr_gc_tensor){"gamma", b.gamma, b.dgamma, 4};
    prob.n_tensors = 2;
    nnr_gc_report r;
    nnr_status st = nnr_gradcheck(&prob, NULL, &r);
    ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
    ck_assert_int_eq(r.passed, 0);
    ck_assert_uint_gt(r.tensors[0].failed, 0);
    ck_assert_uint_eq(r.tensors[1].failed, 0);      /* dgamma is untouched by the break */
}
END_TEST

void groupnorm_add_gradcheck(TCase *tc)
{
    tcase_add_loop_test(tc, gradcheck_groupnorm_every_tensor, 0, (int)N_CASES);
    tcase_add_loop_test(tc, gradcheck_instancenorm_presets, 0, 2);
    tcase_add_test(tc, gradcheck_groupnorm_broken_backward_fails);
}
