/*
 * GroupNorm and InstanceNorm: hand-computed golden values in both layouts,
 * shapes (ranks 2..5, odd groups, G = 1 and G = C against an independent
 * reference), bad input with canaries, and the numerics pitfalls of §7.
 * Gradient checks live in norm_groupnorm_gradcheck.c, AVX2-vs-naive in
 * norm_groupnorm_crosscheck.c.
 */
#include "config.h"
#include <stdio.h>
#include "test_util.h"
#include "test_norm.h"

/* The float implementations every test runs through. */
typedef struct gn_impl {
    const char *name;
    nnr_groupnorm_fwd_fn fwd;
    nnr_groupnorm_bwd_fn bwd;
} gn_impl;

static size_t gn_impls(gn_impl out[2])
{
    size_t n = 0;
    out[n++] = (gn_impl){"naive", nnr_groupnorm_fwd_naive, nnr_groupnorm_bwd_naive};
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable())
        out[n++] = (gn_impl){"avx2", nnr_groupnorm_fwd_avx2, nnr_groupnorm_bwd_avx2};
#endif
    return n;
}

/* ---- Reference: C = 4, G = 2, hand-computed ------------------------------- */

/*
 * One sample, 4 channels of 2 spatial values, channels_first (1, 4, 2):
 * group 0 = channels 0, 1 = {1, 3, 5, 7}: mean 4, var 5;
 * group 1 = channels 2, 3 = {16, 10, 12, 14}: mean 13, var 5.
 * epsilon 4 makes istd = 1/3 and x_hat = (x - mean)/3 exact thirds.
 */
static const float golden_x_cf[8] = {1, 3, 5, 7, 16, 10, 12, 14};
static const float golden_gamma[4] = {1, 2, 3, 4};
static const float golden_beta[4] = {0, 1, -1, 0.5f};
/* y = gamma_c * x_hat + beta_c */
static const double golden_y_cf[8] = {-1.0, -1.0 / 3, 2.0 / 3 + 1, 3.0, 2.0, -4.0, -4.0 / 3 + 0.5, 4.0 / 3 + 0.5};
/* Backward with dy = 1 at element 0 only: dbeta = (1,0,0,0), dgamma = (x_hat_0 = -1, 0, 0, 0);
 * in group 0 dx_hat = (1,0,0,0), mean(dx_hat) = 1/4, mean(dx_hat*x_hat) = -1/4,
 * dx = istd*(dx_hat - 1/4 + x_hat/4) = (1/6, -1/9, -1/18, 0); group 1 gets 0. */
static const double golden_dx_cf[8] = {1.0 / 6, -1.0 / 9, -1.0 / 18, 0, 0, 0, 0, 0};

/* Element (channel c, position s) of the 4x2 golden tensor in either layout. */
static size_t golden_index(int channels_last, size_t c, size_t s)
{
    return channels_last ? s * 4 + c : c * 2 + s;
}

/* Judges v against want within tol (strictly, as ck_assert_float_eq_tol does): a golden value of one run. */
static void golden_judge(tu_tally *t, const char *run, const char *what, size_t i, double v, double want, double tol)
{
    const double err = fabs(v - want);
    if (!tu_judge(t, err < tol, err, tol))
        tu_note(t, "%s %s[%zu] = %.9g, want %.9g (|diff| %.3g, bound %.3g)", run, what, i, v, want, err, tol);
}

/* Runs the golden case forward and backward through one implementation in
 * one layout and judges the cache, y, dx, dgamma and dbeta against the
 * hand-computed values (cases = 1; 30 values: mean, var, istd 2 each, y 8,
 * dgamma 4, dbeta 4, dx 8). */
static tu_tally golden_check(int channels_last, const gn_impl *impl)
{
    tu_tally t = {.cases = 1};
    char run[64];
    snprintf(run, sizeof run, "%s %s", impl->name, channels_last ? "nhwc" : "nchw");
    nnr_groupnorm_params p = channels_last ? nnr_groupnorm_keras(2) : nnr_groupnorm_torch(2);
    p.epsilon = 4.0;
    const nnr_shape shape = channels_last ? (nnr_shape){3, {1, 2, 4}} : (nnr_shape){3, {1, 4, 2}};
    float x[8], y[8], dy[8] = {0}, dx[8], mean[2], istd[2], var[2], dgamma[4], dbeta[4];
    for (size_t c = 0; c < 4; c++)
        for (size_t s = 0; s < 2; s++)
            x[golden_index(channels_last, c, s)] = golden_x_cf[c * 2 + s];
    nnr_groupnorm_cache cache = {mean, istd, var};
    nnr_status st = impl->fwd(&p, &shape, x, golden_gamma, golden_beta, y, &cache);
    ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
    golden_judge(&t, run, "mean", 0, mean[0], 4.0, 1e-6f);
    golden_judge(&t, run, "mean", 1, mean[1], 13.0, 1e-6f);
    for (size_t g = 0; g < 2; g++) {
        golden_judge(&t, run, "var", g, var[g], 5.0, 1e-6f);
        golden_judge(&t, run, "istd", g, istd[g], 1.0f / 3, 1e-7f);
    }
    for (size_t c = 0; c < 4; c++)
        for (size_t s = 0; s < 2; s++)
            golden_judge(&t, run, "y (c*2+s)", c * 2 + s, y[golden_index(channels_last, c, s)],
                         golden_y_cf[c * 2 + s], 1e-6);

    dy[golden_index(channels_last, 0, 0)] = 1.0f;
    st = impl->bwd(&p, &shape, x, golden_gamma, &cache, dy, dx, dgamma, dbeta);
    ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
    const double want_dgamma[4] = {-1, 0, 0, 0}, want_dbeta[4] = {1, 0, 0, 0};
    for (size_t c = 0; c < 4; c++) {
        golden_judge(&t, run, "dgamma", c, dgamma[c], want_dgamma[c], 1e-6);
        golden_judge(&t, run, "dbeta", c, dbeta[c], want_dbeta[c], 1e-6);
        for (size_t s = 0; s < 2; s++)
            golden_judge(&t, run, "dx (c*2+s)", c * 2 + s, dx[golden_index(channels_last, c, s)],
                         golden_dx_cf[c * 2 + s], 1e-6);
    }
    return t;
}

START_TEST(reference_golden_c4_g2_both_layouts)
{
    gn_impl impls[2];
    const size_t n = gn_impls(impls);
    tu_tally all = {0};
    for (size_t k = 0; k < n; k++)
        for (int channels_last = 0; channels_last < 2; channels_last++) {
            const tu_tally t = golden_check(channels_last, &impls[k]);
            tu_tally_add(&all, &t);
        }
    /* every implementation in both layouts: 30 golden values each, all within their bounds */
    ck_assert_uint_eq(all.cases, 2 * n);
    ck_assert_uint_eq(all.checked, 30 * all.cases);
    ck_assert_msg(all.bad == 0, "%zu of %zu golden values (C = 4, G = 2) off; first: %s", all.bad, all.checked,
                  all.first);
}
END_TEST

/* The same golden case through the double kernels. */
START_TEST(reference_golden_double)
{
    nnr_groupnorm_params p = nnr_groupnorm_torch(2);
    p.epsilon = 4.0;
    const nnr_shape shape = {3, {1, 4, 2}};
    double x[8], gamma[4], beta[4], y[8], mean[2], istd[2];
    for (size_t i = 0; i < 8; i++)
        x[i] = golden_x_cf[i];
    for (size_t c = 0; c < 4; c++) {
        gamma[c] = golden_gamma[c];
        beta[c] = golden_beta[c];
    }
    nnr_groupnorm_cache_f64 cache = {mean, istd, NULL};
    nnr_status st = nnr_groupnorm_fwd_naive_f64(&p, &shape, x, gamma, beta, y, &cache);
    ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
    for (size_t i = 0; i < 8; i++)
        ck_assert_double_eq_tol(y[i], golden_y_cf[i], 1e-14);
}
END_TEST

/* Presets: Keras groups/axis/epsilon, PyTorch's. */
START_TEST(reference_presets)
{
    nnr_groupnorm_params k = nnr_groupnorm_keras(32), t = nnr_groupnorm_torch(8);
    ck_assert_int_eq(k.groups, 32);
    ck_assert_int_eq(k.axis, -1);
    ck_assert_double_eq(k.epsilon, 1e-3);
    ck_assert_int_eq(t.groups, 8);
    ck_assert_int_eq(t.axis, 1);
    ck_assert_double_eq(t.epsilon, 1e-5);
    nnr_instancenorm_params it = nnr_instancenorm_torch(), ik = nnr_instancenorm_keras();
    ck_assert_int_eq(it.center + it.scale, 0);            /* affine=False */
    ck_assert_double_eq(it.momentum, 0.1);
    ck_assert_double_eq(it.epsilon, 1e-5);
    ck_assert_int_eq(ik.axis, -1);
    ck_assert_double_eq(ik.epsilon, 1e-3);
    ck_assert_int_eq(nnr_instancenorm_as_groupnorm(&ik).groups, -1);
}
END_TEST

/*
 * InstanceNorm running statistics, hand-computed. PyTorch InstanceNorm1d(2,
 * track_running_stats=True) on x (2, 2, 3): instance means and unbiased
 * variances (m = 3, factor 3/2):
 *   n0 c0 {1,2,3}: 2, 1     n0 c1 {0,0,6}: 2, 12
 *   n1 c0 {4,4,4}: 4, 0     n1 c1 {1,3,5}: 3, 4
 * batch means: c0 mean 3 var 0.5; c1 mean 2.5 var 8. With momentum 0.1 from
 * (0, 1): running_mean = (0.3, 0.25), running_var = (0.9 + 0.05, 0.9 + 0.8).
 */
START_TEST(reference_instancenorm_running_stats)
{
    const nnr_instancenorm_params p = nnr_instancenorm_torch();
    const nnr_shape shape = {3, {2, 2, 3}};
    const float x[12] = {1, 2, 3, 0, 0, 6, 4, 4, 4, 1, 3, 5};
    float y[12], mean[4], istd[4], var[4], rm[2] = {0, 0}, rv[2] = {1, 1};
    nnr_groupnorm_cache cache = {mean, istd, var};
    nnr_instancenorm_state state = {rm, rv, 0};
    nnr_status st = nnr_instancenorm_fwd_train(&p, &shape, x, NULL, NULL, y, &cache, &state);
    ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
    ck_assert_float_eq_tol(rm[0], 0.3f, 1e-6f);
    ck_assert_float_eq_tol(rm[1], 0.25f, 1e-6f);
    ck_assert_float_eq_tol(rv[0], 0.95f, 1e-6f);
    ck_assert_float_eq_tol(rv[1], 1.7f, 1e-6f);
    ck_assert_uint_eq(state.num_batches_tracked, 1);
    /* n1 c0 is constant: y is exactly 0 (beta off) */
    for (size_t k = 6; k < 9; k++)
        ck_assert_float_eq(y[k], 0.0f);
    /* n0 c0 {1,2,3}: biased var 2/3, y = (x - 2)/sqrt(2/3 + 1e-5) */
    ck_assert_float_eq_tol(y[0], (float)(-1.0 / sqrt(2.0 / 3 + 1e-5)), 1e-6f);

    /* Inference uses the running statistics: y = (x - rm_c)/sqrt(rv_c + eps). */
    st = nnr_instancenorm_fwd_infer(&p, &shape, x, NULL, NULL, y, &state);
    ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
    ck_assert_float_eq_tol(y[0], (float)((1.0 - 0.3) / sqrt(0.95 + 1e-5)), 1e-6f);
    ck_assert_float_eq_tol(y[11], (float)((5.0 - 0.25) / sqrt(1.7 + 1e-5)), 1e-5f);
}
END_TEST

/* InstanceNorm is GroupNorm(groups = C), bitwise, forward and backward, both presets. */
START_TEST(reference_instancenorm_is_groupnorm_c)
{
    for (int keras = 0; keras < 2; keras++) {
        nnr_instancenorm_params ip = keras ? nnr_instancenorm_keras() : nnr_instancenorm_torch();
        ip.center = ip.scale = 1;
        const nnr_shape shape = keras ? (nnr_shape){4, {3, 5, 4, 6}} : (nnr_shape){4, {3, 6, 5, 4}};
        const size_t count = 360, C = 6;
        nnr_groupnorm_params gp = keras ? nnr_groupnorm_keras(6) : nnr_groupnorm_torch(6);
        float *x = tu_alloc_f(count), *dy = tu_alloc_f(count), *y1 = tu_alloc_f(count), *y2 = tu_alloc_f(count);
        float *dx1 = tu_alloc_f(count), *dx2 = tu_alloc_f(count);
        float gamma[6], beta[6], dg1[6], dg2[6], db1[6], db2[6], m1[18], s1[18], m2[18], s2[18];
        tu_randn_f(x, count, 11, 1.0, 2.0);
        tu_randn_f(dy, count, 12, 0.0, 1.0);
        tu_randn_f(gamma, C, 13, 1.0, 0.3);
        tu_randn_f(beta, C, 14, 0.0, 0.3);
        nnr_groupnorm_cache c1 = {m1, s1, NULL}, c2 = {m2, s2, NULL};
        ck_assert_int_eq(nnr_instancenorm_fwd_train(&ip, &shape, x, gamma, beta, y1, &c1, NULL).code, NNR_OK);
        ck_assert_int_eq(nnr_groupnorm_fwd(&gp, &shape, x, gamma, beta, y2, &c2).code, NNR_OK);
        ck_assert_int_eq(nnr_instancenorm_bwd_train(&ip, &shape, x, gamma, &c1, dy, dx1, dg1, db1).code, NNR_OK);
        ck_assert_int_eq(nnr_groupnorm_bwd(&gp, &shape, x, gamma, &c2, dy, dx2, dg2, db2).code, NNR_OK);
        ck_assert(memcmp(y1, y2, count * sizeof(float)) == 0);
        ck_assert(memcmp(dx1, dx2, count * sizeof(float)) == 0);
        ck_assert(memcmp(m1, m2, sizeof m1) == 0 && memcmp(s1, s2, sizeof s1) == 0);
        ck_assert(memcmp(dg1, dg2, sizeof dg1) == 0 && memcmp(db1, db2, sizeof db1) == 0);
        free(x), free(dy), free(y1), free(y2), free(dx1), free(dx2);
    }
}
END_TEST

/* ---- Shapes: against an independent reference on logical indices --------- */

/*
 * Test-side reference in double, written from the definition on logical
 * (n, c, spatial) indices rather than the kernels' segment walk: element
 * (n, c, s) of a channels_first tensor is at (n*C + c)*S + s, of a
 * channels_last one at (n*S + s)*C + c.
 */
static void reference_gn(int channels_last, size_t N, size_t C, size_t S, size_t G, double eps, const float *x,
                         const float *gamma, const float *beta, double *y)
{
    const size_t cg = C / G;
    for (size_t n = 0; n < N; n++)
        for (size_t g = 0; g < G; g++) {
            double sum = 0, sq = 0;
            for (size_t c = g * cg; c < (g + 1) * cg; c++)
                for (size_t s = 0; s < S; s++)
                    sum += x[channels_last ? (n * S + s) * C + c : (n * C + c) * S + s];
            const double mu = sum / (double)(cg * S);
            for (size_t c = g * cg; c < (g + 1) * cg; c++)
                for (size_t s = 0; s < S; s++) {
                    const double d = x[channels_last ? (n * S + s) * C + c : (n * C + c) * S + s] - mu;
                    sq += d * d;
                }
            const double istd = 1.0 / sqrt(sq / (double)(cg * S) + eps);
            for (size_t c = g * cg; c < (g + 1) * cg; c++)
                for (size_t s = 0; s < S; s++) {
                    const size_t i = channels_last ? (n * S + s) * C + c : (n * C + c) * S + s;
                    y[i] = gamma[c] * (x[i] - mu) * istd + beta[c];
                }
        }
}

typedef struct gn_shape_case {
    nnr_shape shape;
    int channels_last;
    int groups;
} gn_shape_case;

static const gn_shape_case shape_cases[] = {
    {{2, {3, 12}}, 0, 3},             {{2, {3, 12}}, 1, 4},
    {{3, {2, 10, 7}}, 0, 5},          {{3, {2, 7, 10}}, 1, 5},
    {{4, {2, 12, 3, 5}}, 0, 3},       {{4, {2, 3, 5, 12}}, 1, 3},
    {{5, {2, 8, 2, 3, 2}}, 0, 1},     {{5, {2, 2, 3, 2, 8}}, 1, 1},
    {{4, {3, 6, 4, 4}}, 0, -1},       {{4, {3, 4, 4, 6}}, 1, -1},
    {{4, {1, 64, 3, 3}}, 0, 32},      {{4, {1, 3, 3, 64}}, 1, 32},
};

START_TEST(shapes_layouts_ranks_odd_groups)
{
    const gn_shape_case *sc = &shape_cases[_i];
    gn_impl impls[2];
    const size_t n_impl = gn_impls(impls);
    nnr_groupnorm_params p = sc->channels_last ? nnr_groupnorm_keras(sc->groups) : nnr_groupnorm_torch(sc->groups);
    size_t count, C, G, L;
    ck_assert_int_eq(nnr_shape_numel(&sc->shape, "shape", &count).code, NNR_OK);
    ck_assert_int_eq(nnr_groupnorm_sizes(&p, &sc->shape, &C, &G, &L).code, NNR_OK);
    ck_assert_uint_eq(G, sc->groups == -1 ? C : (size_t)sc->groups);
    const size_t N = sc->shape.dims[0], S = count / (N * C);
    ck_assert_uint_eq(L, N * G);

    float *x = tu_alloc_f(count), *y = tu_alloc_f(count), *gamma = tu_alloc_f(C), *beta = tu_alloc_f(C);
    float *mean = tu_alloc_f(L), *istd = tu_alloc_f(L);
    double *want = tu_alloc_d(count);
    tu_randn_f(x, count, 100 + (uint64_t)_i, 3.0, 2.0);
    tu_randn_f(gamma, C, 200 + (uint64_t)_i, 1.0, 0.5);
    tu_randn_f(beta, C, 300 + (uint64_t)_i, 0.0, 0.5);
    reference_gn(sc->channels_last, N, C, S, G, p.epsilon, x, gamma, beta, want);
    for (size_t k = 0; k < n_impl; k++) {
        nnr_groupnorm_cache cache = {mean, istd, NULL};
        nnr_status st = impls[k].fwd(&p, &sc->shape, x, gamma, beta, y, &cache);
        ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
        double worst = 0;
        for (size_t i = 0; i < count; i++)
            worst = fmax(worst, fabs(y[i] - want[i]));
        /* |y| <= ~5 here; float rounding of the output and of istd gives ~1e-6 */
        ck_assert_msg(worst < 4e-6, "case %d %s: max |y - reference| = %.3g", _i, impls[k].name, worst);
    }
    free(x), free(y), free(gamma), free(beta), free(mean), free(istd), free(want);
}
END_TEST

/* GroupNorm(1) on channels_first: each sample's statistics are those of all its values. */
START_TEST(shapes_g1_is_per_sample)
{
    const nnr_shape shape = {4, {3, 5, 4, 3}};
    const size_t count = 180, per = 60;
    nnr_groupnorm_params p = nnr_groupnorm_torch(1);
    float *x = tu_alloc_f(count), *y = tu_alloc_f(count), gamma[5], beta[5], mean[3], istd[3];
    tu_randn_f(x, count, 77, -2.0, 3.0);
    for (size_t c = 0; c < 5; c++)
        gamma[c] = 1, beta[c] = 0;
    nnr_groupnorm_cache cache = {mean, istd, NULL};
    ck_assert_int_eq(nnr_groupnorm_fwd(&p, &shape, x, gamma, beta, y, &cache).code, NNR_OK);
    for (size_t n = 0; n < 3; n++) {
        double s = 0, q = 0;
        for (size_t k = 0; k < per; k++)
            s += x[n * per + k];
        const double mu = s / per;
        for (size_t k = 0; k < per; k++)
            q += (x[n * per + k] - mu) * (x[n * per + k] - mu);
        ck_assert_double_eq_tol(mean[n], mu, 1e-6);
        ck_assert_double_eq_tol(istd[n], 1.0 / sqrt(q / per + 1e-5), 1e-6);
        /* normalized sample: mean 0, variance var/(var + eps) */
        double ys = 0, yq = 0;
        for (size_t k = 0; k < per; k++)
            ys += y[n * per + k], yq += (double)y[n * per + k] * y[n * per + k];
        ck_assert_double_eq_tol(ys / per, 0.0, 1e-6);
        ck_assert_double_eq_tol(yq / per, (q / per) / (q / per + 1e-5), 1e-5);
    }
    free(x), free(y);
}
END_TEST

/* In place (y == x, dx == dy) gives the same bits as separate buffers. */
START_TEST(shapes_in_place)
{
    gn_impl impls[2];
    const size_t n_impl = gn_impls(impls);
    const nnr_shape shape = {4, {2, 5, 3, 12}};
    const size_t count = 360;
    nnr_groupnorm_params p = nnr_groupnorm_keras(4);
    float *x = tu_alloc_f(count), *y = tu_alloc_f(count), *dy = tu_alloc_f(count), *dx = tu_alloc_f(count);
    float *buf = tu_alloc_f(count);
    float gamma[12], beta[12], dg[12], db[12], mean[8], istd[8];
    tu_randn_f(x, count, 5, 1.0, 1.0);
    tu_randn_f(dy, count, 6, 0.0, 1.0);
    tu_randn_f(gamma, 12, 7, 1.0, 0.2);
    tu_randn_f(beta, 12, 8, 0.0, 0.2);
    nnr_groupnorm_cache cache = {mean, istd, NULL};
    for (size_t k = 0; k < n_impl; k++) {
        ck_assert_int_eq(impls[k].fwd(&p, &shape, x, gamma, beta, y, &cache).code, NNR_OK);
        memcpy(buf, x, count * sizeof(float));
        ck_assert_int_eq(impls[k].fwd(&p, &shape, buf, gamma, beta, buf, &cache).code, NNR_OK);
        ck_assert(memcmp(buf, y, count * sizeof(float)) == 0);
        ck_assert_int_eq(impls[k].bwd(&p, &shape, x, gamma, &cache, dy, dx, dg, db).code, NNR_OK);
        memcpy(buf, dy, count * sizeof(float));
        ck_assert_int_eq(impls[k].bwd(&p, &shape, x, gamma, &cache, buf, buf, dg, db).code, NNR_OK);
        ck_assert(memcmp(buf, dx, count * sizeof(float)) == 0);
    }
    free(x), free(y), free(dy), free(dx), free(buf);
}
END_TEST

/* ---- Errors: a status, a sentence, outputs untouched ---------------------- */

typedef struct gn_bad {
    const char *what;
    nnr_code code;
    const char *needle;
} gn_bad;

static void expect(nnr_status st, nnr_code code, const char *needle, const char *what)
{
    ck_assert_msg(st.code == code, "%s: code %d, want %d (%s)", what, (int)st.code, (int)code, nnr_strerror(&st));
    ck_assert_msg(strstr(nnr_strerror(&st), needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what,
                  nnr_strerror(&st), needle);
}

START_TEST(errors_rejected_untouched)
{
    gn_impl impls[2];
    const size_t n_impl = gn_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        const gn_impl *im = &impls[k];
        const nnr_shape shape = {4, {2, 10, 3, 3}};
        float x[180], y[180], dx[180], dy[180], gamma[10], beta[10], dg[10], db[10], mean[20], istd[20];
        tu_randn_f(x, 180, 1, 0, 1);
        tu_randn_f(dy, 180, 2, 0, 1);
        for (size_t c = 0; c < 10; c++)
            gamma[c] = 1, beta[c] = 0;
        nnr_groupnorm_cache cache = {mean, istd, NULL};
        nnr_groupnorm_params p;
        nnr_shape s;
#define GN_REJECT(setup, code, needle)                                                       \
        do {                                                                                  \
            p = nnr_groupnorm_torch(5);                                                       \
            s = shape;                                                                        \
            setup;                                                                            \
            tu_fill_canary(y, 180), tu_fill_canary(mean, 20), tu_fill_canary(istd, 20);       \
            expect(im->fwd(&p, &s, x, gamma, beta, y, &cache), code, needle, #setup);         \
            ck_assert(tu_all_canary(y, 180) && tu_all_canary(mean, 20) && tu_all_canary(istd, 20)); \
            tu_fill_canary(dx, 180), tu_fill_canary(dg, 10), tu_fill_canary(db, 10);          \
            expect(im->bwd(&p, &s, x, gamma, &cache, dy, dx, dg, db), code, needle, #setup);  \
            ck_assert(tu_all_canary(dx, 180) && tu_all_canary(dg, 10) && tu_all_canary(db, 10)); \
        } while (0)
        GN_REJECT(p.groups = 0, NNR_ERR_PARAM, "groups must be a positive number");
        GN_REJECT(p.groups = -2, NNR_ERR_PARAM, "or -1 for one group per channel, got -2");
        GN_REJECT(p.groups = 20, NNR_ERR_PARAM, "groups (G=20) cannot exceed the number of channels (C=10)");
        GN_REJECT(p.groups = 3, NNR_ERR_PARAM, "the number of channels (C=10) must be a multiple of groups (G=3)");
        GN_REJECT(p.axis = 0, NNR_ERR_SHAPE, "axis 0 is the batch axis");
        GN_REJECT(p.axis = 4, NNR_ERR_SHAPE, "axis 4 is out of range for a rank-4 input");
        GN_REJECT(p.axis = -5, NNR_ERR_SHAPE, "axis -5 is out of range");
        GN_REJECT(p.epsilon = -1e-5, NNR_ERR_PARAM, "epsilon must be finite, >= 0");
        GN_REJECT(p.epsilon = NAN, NNR_ERR_PARAM, "epsilon must be finite, >= 0 and not NaN");
        GN_REJECT(s.dims[2] = 0, NNR_ERR_SHAPE, "shape");
        GN_REJECT(s.rank = 1, NNR_ERR_SHAPE, "rank 1");
        GN_REJECT(s.rank = 6, NNR_ERR_SHAPE, "rank 6");
        GN_REJECT((s.dims[2] = SIZE_MAX / 2, s.dims[3] = 4), NNR_ERR_OVERFLOW, "shape");
#undef GN_REJECT
        /* NULL pointers, one per argument */
        p = nnr_groupnorm_torch(5);
        tu_fill_canary(y, 180);
        expect(im->fwd(NULL, &shape, x, gamma, beta, y, &cache), NNR_ERR_NULL, "params is NULL", "p");
        expect(im->fwd(&p, NULL, x, gamma, beta, y, &cache), NNR_ERR_NULL, "shape is NULL", "shape");
        expect(im->fwd(&p, &shape, NULL, gamma, beta, y, &cache), NNR_ERR_NULL, "x is NULL", "x");
        expect(im->fwd(&p, &shape, x, gamma, beta, NULL, &cache), NNR_ERR_NULL, "y is NULL", "y");
        expect(im->fwd(&p, &shape, x, NULL, beta, y, &cache), NNR_ERR_NULL, "gamma (scale is on) is NULL", "g");
        expect(im->fwd(&p, &shape, x, gamma, NULL, y, &cache), NNR_ERR_NULL, "beta (center is on) is NULL", "b");
        expect(im->fwd(&p, &shape, x, gamma, beta, y, NULL), NNR_ERR_NULL, "cache is NULL", "cache");
        nnr_groupnorm_cache half = {mean, NULL, NULL};
        expect(im->fwd(&p, &shape, x, gamma, beta, y, &half), NNR_ERR_NULL, "cache->istd is NULL", "istd");
        ck_assert(tu_all_canary(y, 180));
        tu_fill_canary(dx, 180);
        expect(im->bwd(&p, &shape, x, gamma, &cache, NULL, dx, dg, db), NNR_ERR_NULL, "dy is NULL", "dy");
        expect(im->bwd(&p, &shape, x, gamma, &cache, dy, NULL, dg, db), NNR_ERR_NULL, "dx is NULL", "dx");
        expect(im->bwd(&p, &shape, x, gamma, &cache, dy, dx, NULL, db), NNR_ERR_NULL, "dgamma (scale is on)", "dg");
        expect(im->bwd(&p, &shape, x, gamma, &cache, dy, dx, dg, NULL), NNR_ERR_NULL, "dbeta (center is on)", "db");
        ck_assert(tu_all_canary(dx, 180));
        /* center/scale off: gamma, beta and their gradients may be NULL */
        p.center = p.scale = 0;
        ck_assert_int_eq(im->fwd(&p, &shape, x, NULL, NULL, y, &cache).code, NNR_OK);
        ck_assert_int_eq(im->bwd(&p, &shape, x, NULL, &cache, dy, dx, NULL, NULL).code, NNR_OK);
    }
}
END_TEST

START_TEST(errors_instancenorm)
{
    const nnr_instancenorm_params p = nnr_instancenorm_torch();
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6], mean[6], istd[6], var[6], rm[3] = {0, 0, 0}, rv[3] = {1, 1, 1};
    nnr_groupnorm_cache cache = {mean, istd, var};
    nnr_instancenorm_state state = {rm, rv, 0};
    /* (2, 3, 1): one spatial element per instance */
    const nnr_shape one = {3, {2, 3, 1}};
    tu_fill_canary(y, 6);
    expect(nnr_instancenorm_fwd_train(&p, &one, x, NULL, NULL, y, &cache, &state), NNR_ERR_SHAPE,
           "expected more than 1 spatial element when training", "single spatial");
    ck_assert(tu_all_canary(y, 6));
    ck_assert_float_eq(rm[0], 0.0f);
    ck_assert_uint_eq(state.num_batches_tracked, 0);
    /* rank 2 (N, C): one spatial element too */
    const nnr_shape r2 = {2, {2, 3}};
    expect(nnr_instancenorm_fwd_train(&p, &r2, x, NULL, NULL, y, &cache, NULL), NNR_ERR_SHAPE,
           "more than 1 spatial element", "rank 2");
    /* Keras preset: allowed, y = beta */
    nnr_instancenorm_params k = nnr_instancenorm_keras();
    k.axis = 1;
    float gamma[3] = {2, 2, 2}, beta[3] = {0.5f, -1, 3};
    ck_assert_int_eq(nnr_instancenorm_fwd_train(&k, &one, x, gamma, beta, y, &cache, NULL).code, NNR_OK);
    for (size_t i = 0; i < 6; i++)
        ck_assert_float_eq(y[i], beta[i % 3]);
    /* tracking needs cache->var, running arrays and a momentum in [0, 1] */
    const nnr_shape ok = {3, {1, 3, 2}};
    nnr_groupnorm_cache no_var = {mean, istd, NULL};
    expect(nnr_instancenorm_fwd_train(&p, &ok, x, NULL, NULL, y, &no_var, &state), NNR_ERR_NULL,
           "cache->var is NULL", "var");
    nnr_instancenorm_state no_rm = {NULL, rv, 0};
    expect(nnr_instancenorm_fwd_train(&p, &ok, x, NULL, NULL, y, &cache, &no_rm), NNR_ERR_NULL,
           "state->running_mean is NULL", "rm");
    nnr_instancenorm_params bad = p;
    bad.momentum = 1.5;
    expect(nnr_instancenorm_fwd_train(&bad, &ok, x, NULL, NULL, y, &cache, &state), NNR_ERR_PARAM,
           "momentum must be in [0, 1]", "momentum");
    expect(nnr_instancenorm_fwd_infer(&p, &ok, x, NULL, NULL, y, NULL), NNR_ERR_NULL, "state is NULL", "infer");
    expect(nnr_instancenorm_fwd_train(NULL, &ok, x, NULL, NULL, y, &cache, NULL), NNR_ERR_NULL, "params", "p");
    ck_assert(rm[0] == 0.0f && rv[0] == 1.0f && state.num_batches_tracked == 0);
}
END_TEST

/* ---- Numerics (SEMANTICS.md §7) ------------------------------------------ */

/* Groups with mean 2000 (sd 1) and mean 100 (sd 0.01): mean and istd as in double. */
START_TEST(numerics_large_mean)
{
    gn_impl impls[2];
    const size_t n_impl = gn_impls(impls);
    const double means[2] = {2000.0, 100.0}, sds[2] = {1.0, 0.01};
    for (int layout = 0; layout < 2; layout++)
        for (size_t t = 0; t < 2; t++) {
            const nnr_shape shape = layout ? (nnr_shape){4, {2, 7, 9, 12}} : (nnr_shape){4, {2, 12, 7, 9}};
            const size_t count = 1512, C = 12, S = 63, N = 2, G = 3;
            nnr_groupnorm_params p = layout ? nnr_groupnorm_keras(3) : nnr_groupnorm_torch(3);
            float *x = tu_alloc_f(count), *y = tu_alloc_f(count), gamma[12], beta[12], mean[6], istd[6];
            double *want = tu_alloc_d(count);
            tu_randn_f(x, count, 900 + t, means[t], sds[t]);
            for (size_t c = 0; c < C; c++)
                gamma[c] = 1, beta[c] = 0;
            reference_gn(layout, N, C, S, G, p.epsilon, x, gamma, beta, want);
            for (size_t k = 0; k < n_impl; k++) {
                nnr_groupnorm_cache cache = {mean, istd, NULL};
                ck_assert_int_eq(impls[k].fwd(&p, &shape, x, gamma, beta, y, &cache).code, NNR_OK);
                double worst = 0;
                for (size_t i = 0; i < count; i++)
                    worst = fmax(worst, fabs(y[i] - want[i]));
                /* x - mean is exact in float for values this close (Sterbenz); the
                 * error left is the rounding of x_hat (~4 sd) and of istd. */
                ck_assert_msg(worst < 2e-5, "%s mean %g sd %g layout %d: max |y - ref| = %.3g", impls[k].name,
                              means[t], sds[t], layout, worst);
                for (size_t g = 0; g < N * G; g++)
                    ck_assert_msg(istd[g] > 0 && isfinite(istd[g]), "istd %g", istd[g]);
            }
            free(x), free(y), free(want);
        }
}
END_TEST

/* Constant groups from 1 to 1e10 give exactly beta and variance exactly 0. */
START_TEST(numerics_constant_groups_exact_beta)
{
    gn_impl impls[2];
    const size_t n_impl = gn_impls(impls);
    const float levels[4] = {1.0f, 1e4f, 1e7f, 1e10f};
    for (int layout = 0; layout < 2; layout++)
        for (size_t l = 0; l < 4; l++) {
            const nnr_shape shape = layout ? (nnr_shape){3, {2, 13, 10}} : (nnr_shape){3, {2, 10, 13}};
            nnr_groupnorm_params p = layout ? nnr_groupnorm_keras(5) : nnr_groupnorm_torch(5);
            float x[260], y[260], gamma[10], beta[10], mean[10], istd[10], var[10];
            for (size_t i = 0; i < 260; i++)
                x[i] = levels[l];
            tu_randn_f(gamma, 10, 3, 1.0, 0.5);
            tu_randn_f(beta, 10, 4, 0.0, 1.0);
            for (size_t k = 0; k < n_impl; k++) {
                nnr_groupnorm_cache cache = {mean, istd, var};
                ck_assert_int_eq(impls[k].fwd(&p, &shape, x, gamma, beta, y, &cache).code, NNR_OK);
                for (size_t g = 0; g < 10; g++)
                    ck_assert_msg(var[g] == 0.0f, "%s level %g: var %g", impls[k].name, levels[l], var[g]);
                for (size_t i = 0; i < 260; i++) {
                    const size_t c = layout ? i % 10 : (i / 13) % 10;
                    ck_assert_msg(y[i] == beta[c], "%s level %g: y[%zu] = %.9g, beta %.9g", impls[k].name,
                                  levels[l], i, y[i], beta[c]);
                }
            }
        }
}
END_TEST

/* x = 10000..10003 per group: variance 1.25, never negative, y = ±1.3411, ±0.4470 (eps 1e-3). */
START_TEST(numerics_offset_1e4_golden)
{
    gn_impl impls[2];
    const size_t n_impl = gn_impls(impls);
    const nnr_shape shape = {3, {1, 2, 2}};                  /* channels_first, G = 1 */
    nnr_groupnorm_params p = nnr_groupnorm_torch(1);
    p.epsilon = 1e-3;
    const float x[4] = {10000, 10001, 10002, 10003}, gamma[2] = {1, 1}, beta[2] = {0, 0};
    const double want[4] = {-1.3411, -0.4470, 0.4470, 1.3411};
    float y[4], mean[1], istd[1], var[1];
    for (size_t k = 0; k < n_impl; k++) {
        nnr_groupnorm_cache cache = {mean, istd, var};
        ck_assert_int_eq(impls[k].fwd(&p, &shape, x, gamma, beta, y, &cache).code, NNR_OK);
        ck_assert_float_eq(var[0], 1.25f);
        for (size_t i = 0; i < 4; i++)
            ck_assert_msg(fabs(y[i] - want[i]) < 1e-4, "%s y[%zu] = %.6f", impls[k].name, i, y[i]);
    }
}
END_TEST

void groupnorm_add_reference(TCase *tc)
{
    tcase_add_test(tc, reference_golden_c4_g2_both_layouts);
    tcase_add_test(tc, reference_golden_double);
    tcase_add_test(tc, reference_presets);
    tcase_add_test(tc, reference_instancenorm_running_stats);
    tcase_add_test(tc, reference_instancenorm_is_groupnorm_c);
}

void groupnorm_add_shapes(TCase *tc)
{
    tcase_add_loop_test(tc, shapes_layouts_ranks_odd_groups, 0,
                        (int)(sizeof shape_cases / sizeof shape_cases[0]));
    tcase_add_test(tc, shapes_g1_is_per_sample);
    tcase_add_test(tc, shapes_in_place);
}

void groupnorm_add_errors(TCase *tc)
{
    tcase_add_test(tc, errors_rejected_untouched);
    tcase_add_test(tc, errors_instancenorm);
}

void groupnorm_add_numerics(TCase *tc)
{
    tcase_add_test(tc, numerics_large_mean);
    tcase_add_test(tc, numerics_constant_groups_exact_beta);
    tcase_add_test(tc, numerics_offset_1e4_golden);
}
