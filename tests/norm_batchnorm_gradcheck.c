/*
 * BatchNorm gradient checks: every tensor (x, gamma, beta) of the double
 * naive kernels against central differences (src/gradcheck/), for the
 * training forward with the closed-form and the staged backward, and for
 * inference, over layouts, ranks 2..5, an inner channel axis, center/scale
 * switches, ghost batches, clipped renorm and every preset.
 *
 * Set NNREF_GC_VERBOSE=1 to print the table of measured errors.
 */
#include "config.h"
#include <stdio.h>
#include "test_util.h"
#include "test_norm.h"

/*
 * Bound on the worst relative error (nnr_gc_rel_err with the default floor
 * 0.1) of every tensor. Measured worst over this table: about 1e-8 (the
 * finite-difference noise of ~1e-9 absolute, src/gradcheck/gradcheck.c);
 * a backward wrong by 1e-6 relative or more would exceed it.
 */
#define BN_GC_MAX_REL_ERR 1e-7

/* Samples of x checked in the large case (gamma and beta, 16 entries, are checked whole). */
#define BN_GC_SAMPLE 200

typedef enum bn_preset { KERAS, TORCH, TF2, PUZZLE } bn_preset;

typedef struct bn_gc_case {
    const char *name;
    bn_preset preset;
    int axis;                  /* 0: the preset's own */
    nnr_shape shape;
    int center, scale;
    size_t virtual_batch_size;
    int renorm;
    size_t max_per_tensor;
} bn_gc_case;

static const bn_gc_case cases[] = {
    /* channels_first (PyTorch), ranks 2..5 */
    {"torch-r2",        TORCH,  0, {2, {5, 3}},             1, 1, 0, 0, 0},
    {"torch-r3",        TORCH,  0, {3, {3, 4, 5}},          1, 1, 0, 0, 0},
    {"torch-r4",        TORCH,  0, {4, {2, 3, 4, 3}},       1, 1, 0, 0, 0},
    {"torch-r5",        TORCH,  0, {5, {2, 3, 2, 3, 2}},    1, 1, 0, 0, 0},
    /* channels_last (Keras), ranks 2..5 */
    {"keras-r2",        KERAS,  0, {2, {6, 4}},             1, 1, 0, 0, 0},
    {"keras-r3",        KERAS,  0, {3, {3, 5, 4}},          1, 1, 0, 0, 0},
    {"keras-r4",        KERAS,  0, {4, {2, 4, 3, 3}},       1, 1, 0, 0, 0},
    {"keras-r5",        KERAS,  0, {5, {2, 2, 3, 2, 3}},    1, 1, 0, 0, 0},
    /* a channel axis with dimensions on both sides: (N, pre, C, post) */
    {"axis2-r4",        TORCH,  2, {4, {2, 3, 4, 5}},       1, 1, 0, 0, 0},
    /* center / scale switched off */
    {"no-center",       KERAS,  0, {3, {4, 3, 3}},          0, 1, 0, 0, 0},
    {"no-scale",        TORCH,  0, {3, {4, 3, 3}},          1, 0, 0, 0, 0},
    {"no-affine",       TORCH,  0, {3, {4, 3, 3}},          0, 0, 0, 0, 0},
    /* ghost batches of 2 samples (tf.keras 2 virtual_batch_size) */
    {"ghost-n4",        TF2,    0, {4, {4, 3, 2, 3}},       1, 1, 2, 0, 0},
    {"ghost-n6",        TORCH,  0, {3, {6, 3, 2}},          1, 1, 2, 0, 0},
    /* batch renormalization with r and d on their clip limits */
    {"renorm-keras",    KERAS,  0, {4, {3, 3, 2, 4}},       1, 1, 0, 1, 0},
    {"renorm-torch",    TORCH,  0, {3, {4, 3, 5}},          1, 1, 0, 1, 0},
    /* the remaining presets (epsilon 1e-3 vs 1e-5) */
    {"tf2-r4",          TF2,    0, {4, {2, 3, 3, 4}},       1, 1, 0, 0, 0},
    {"puzzlelib-r4",    PUZZLE, 0, {4, {2, 4, 3, 3}},       1, 1, 0, 0, 0},
    /* one large shape: a seeded sample of x */
    {"8x16x7x7",        TORCH,  0, {4, {8, 16, 7, 7}},      1, 1, 0, 0, BN_GC_SAMPLE},
};

#define N_CASES (sizeof cases / sizeof cases[0])
#define N_PASSES 3

static const char *pass_name(nnr_bn_gc_pass pass)
{
    switch (pass) {
    case NNR_BN_GC_TRAIN:        return "train";
    case NNR_BN_GC_TRAIN_STAGED: return "train-staged";
    case NNR_BN_GC_INFER:        return "infer";
    }
    return "?";
}

static nnr_batchnorm_params case_params(const bn_gc_case *c)
{
    nnr_batchnorm_params p;
    switch (c->preset) {
    case KERAS:  p = nnr_batchnorm_keras(); break;
    case TF2:    p = nnr_batchnorm_tf2(c->shape.rank); break;
    case PUZZLE: p = nnr_batchnorm_puzzlelib(); break;
    case TORCH:
    default:     p = nnr_batchnorm_torch(); break;
    }
    if (c->axis != 0)
        p.axis = c->axis;
    p.center = c->center;
    p.scale = c->scale;
    p.virtual_batch_size = c->virtual_batch_size;
    if (c->renorm) {
        /* The clipping of the batch renormalization paper (Ioffe 2017): r in
         * [1/3, 3], |d| <= 5. Finite limits are what makes r and d constants. */
        p.renorm = 1;
        p.rmax = 3.0;
        p.rmin = 1.0 / 3.0;
        p.dmax = 5.0;
    }
    return p;
}

/* Loop index i: case i / N_PASSES, pass i % N_PASSES. */
START_TEST(gradcheck_batchnorm_every_tensor)
{
    const bn_gc_case *c = &cases[_i / N_PASSES];
    const nnr_bn_gc_pass pass = (nnr_bn_gc_pass)(_i % N_PASSES);
    const nnr_batchnorm_params p = case_params(c);
    nnr_gc_options o = nnr_gc_defaults();
    o.max_per_tensor = c->max_per_tensor;
    nnr_gc_report r;

    nnr_status st = nnr_gradcheck_batchnorm(&p, &c->shape, pass, 2024 + (uint64_t)_i, &o, &r);
    ck_assert_msg(st.code == NNR_OK, "%s %s: %s", c->name, pass_name(pass), nnr_strerror(&st));
    if (getenv("NNREF_GC_VERBOSE") != NULL)
        nnr_gc_print(stdout, c->name, pass_name(pass), &r);

    size_t count, channels;
    ck_assert_int_eq(nnr_shape_numel(&c->shape, "shape", &count).code, NNR_OK);
    ck_assert_int_eq(nnr_batchnorm_sizes(&p, &c->shape, &channels, NULL).code, NNR_OK);

    /* The tensors are x, then gamma if scale, then beta if center. */
    const char *names[3];
    size_t counts[3], n = 0;
    names[n] = "x";
    counts[n++] = c->max_per_tensor != 0 && count > c->max_per_tensor ? c->max_per_tensor : count;
    if (c->scale) {
        names[n] = "gamma";
        counts[n++] = channels;
    }
    if (c->center) {
        names[n] = "beta";
        counts[n++] = channels;
    }
    ck_assert_uint_eq(r.n_tensors, n);

    ck_assert_msg(r.deterministic, "%s %s: backward not bitwise reproducible", c->name, pass_name(pass));
    for (size_t t = 0; t < n; t++) {
        const nnr_gc_tensor_report *tr = &r.tensors[t];
        ck_assert_str_eq(tr->name, names[t]);
        ck_assert_uint_eq(tr->checked, counts[t]);
        ck_assert_msg(tr->failed == 0 && tr->kinks == 0 && tr->max_rel_err < BN_GC_MAX_REL_ERR,
                      "%s %s %s: %zu failed, %zu kinks, max rel err %.3g at [%zu] (analytic %.17g, numeric %.17g)",
                      c->name, pass_name(pass), tr->name, tr->failed, tr->kinks, tr->max_rel_err,
                      tr->worst_index, tr->worst_analytic, tr->worst_numeric);
    }
    ck_assert_int_eq(r.passed, 1);
}
END_TEST

/*
 * The check has teeth on BatchNorm itself: renorm whose r follows the data
 * (clipping limits never reached) is a different function from the one the
 * stop-gradient backward differentiates, and the harness must see that.
 * nnr_gradcheck_batchnorm refuses such parameters, so build the problem here.
 */
typedef struct bn_unclipped {
    nnr_batchnorm_params p;
    nnr_shape shape;
    double x[12], gamma[3], beta[3], y[12], dx[12], dgamma[3], dbeta[3];
    double mean[3], istd[3], r[3], d[3];
    double rm[3], rv[3], ms[3], rn_mean[3], rn_std[3];
} bn_unclipped;

static nnr_status unclipped_forward(void *ctx)
{
    bn_unclipped *b = ctx;
    nnr_batchnorm_cache_f64 cache = {b->mean, b->istd, b->r, b->d};
    nnr_batchnorm_state_f64 state = {b->rm, b->rv, b->ms, b->rn_mean, b->rn_std, 0};
    ck_assert_int_eq(nnr_batchnorm_state_init_f64(&state, 3).code, NNR_OK);
    for (size_t c = 0; c < 3; c++)
        b->rn_std[c] = 1.5;          /* r = sigma_B / 1.5, inside [0, inf) */
    return nnr_batchnorm_fwd_train_naive_f64(&b->p, &b->shape, b->x, b->gamma, b->beta, b->y, &cache, &state);
}

static nnr_status unclipped_backward(void *ctx, const double *dy)
{
    bn_unclipped *b = ctx;
    nnr_batchnorm_cache_f64 cache = {b->mean, b->istd, b->r, b->d};
    return nnr_batchnorm_bwd_train_naive_f64(&b->p, &b->shape, b->x, b->gamma, &cache, dy, b->dx, b->dgamma,
                                             b->dbeta);
}

START_TEST(gradcheck_batchnorm_unclipped_renorm_fails)
{
    bn_unclipped b;
    memset(&b, 0, sizeof b);
    b.p = nnr_batchnorm_keras();
    b.p.renorm = 1;                  /* Keras defaults: nothing is ever clipped */
    b.shape = (nnr_shape){2, {4, 3}};
    tu_randn_d(b.x, 12, 5, 0.5, 2.0);
    tu_randn_d(b.gamma, 3, 6, 1.0, 0.5);
    tu_randn_d(b.beta, 3, 7, 0.0, 0.5);
    nnr_gc_problem prob;
    memset(&prob, 0, sizeof prob);
    prob.ctx = &b;
    prob.forward = unclipped_forward;
    prob.backward = unclipped_backward;
    prob.out = b.y;
    prob.out_count = 12;
    prob.tensors[0] = (nnr_gc_tensor){"x", b.x, b.dx, 12};
    prob.tensors[1] = (nnr_gc_tensor){"gamma", b.gamma, b.dgamma, 3};
    prob.tensors[2] = (nnr_gc_tensor){"beta", b.beta, b.dbeta, 3};
    prob.n_tensors = 3;
    nnr_gc_report r;
    nnr_status st = nnr_gradcheck(&prob, NULL, &r);
    ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
    ck_assert_int_eq(r.passed, 0);
    ck_assert_uint_gt(r.tensors[0].failed, 0);      /* x: r and d depend on it */
    ck_assert_uint_eq(r.tensors[1].failed, 0);      /* gamma, beta: r and d do not */
    ck_assert_uint_eq(r.tensors[2].failed, 0);
}
END_TEST

void batchnorm_add_gradcheck(TCase *tc)
{
    tcase_add_loop_test(tc, gradcheck_batchnorm_every_tensor, 0, (int)(N_CASES * N_PASSES));
    tcase_add_test(tc, gradcheck_batchnorm_unclipped_renorm_fails);
}
