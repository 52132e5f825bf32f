/*
 * LayerNorm and RMSNorm: golden values (document 000, SEMANTICS.md §3 and §7),
 * axis sets (trailing, middle, not contiguous, any order), bad input with
 * canaries, and the numerics pitfalls of §7, through every float
 * implementation. Gradient checks live in norm_layernorm_gradcheck.c,
 * AVX2-vs-naive in norm_layernorm_crosscheck.c.
 */
#include "config.h"
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include "test_util.h"
#include "test_norm.h"

/* The float implementations every test here runs through. */
typedef struct ln_impl {
    const char *name;
    nnr_layernorm_fwd_fn fwd;
    nnr_layernorm_bwd_fn bwd;
    nnr_rmsnorm_fwd_fn rms_fwd;
    nnr_rmsnorm_bwd_fn rms_bwd;
} ln_impl;

static size_t ln_impls(ln_impl out[3])
{
    size_t n = 0;
    out[n++] = (ln_impl){"naive", nnr_layernorm_fwd_naive, nnr_layernorm_bwd_naive, nnr_rmsnorm_fwd_naive,
                         nnr_rmsnorm_bwd_naive};
    out[n++] = (ln_impl){"dispatch", nnr_layernorm_fwd, nnr_layernorm_bwd, nnr_rmsnorm_fwd, nnr_rmsnorm_bwd};
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable())
        out[n++] = (ln_impl){"avx2", nnr_layernorm_fwd_avx2, nnr_layernorm_bwd_avx2, nnr_rmsnorm_fwd_avx2,
                             nnr_rmsnorm_bwd_avx2};
#endif
    return n;
}

#define ASSERT_OK(call) do { nnr_status st_ = (call); \
    ck_assert_msg(st_.code == NNR_OK, "%s failed: %s", #call, nnr_strerror(&st_)); } while (0)

static nnr_layernorm_params ln_axes(const int *axes, size_t n, double eps)
{
    nnr_layernorm_params p = nnr_layernorm_keras();
    for (size_t i = 0; i < n; i++)
        p.axes[i] = axes[i];
    p.n_axes = n;
    p.epsilon = eps;
    return p;
}

/* ------------------------------------------------------------------------- */
/* reference                                                                 */
/* ------------------------------------------------------------------------- */

/* Document 000: LayerNormalization(axis=1) on arange(10).reshape(5,2)*10.
 * Each row is [a, a+10]: mean a+5, biased variance 25, so y = ±5/sqrt(25+eps):
 * ±0.99998000 with Keras' eps 1e-3 (float: ±0.99997997), ±0.9999998 with
 * PyTorch's 1e-5. */
START_TEST(reference_doc000)
{
    float x[10], y[10], mean[5], istd[5];
    for (int i = 0; i < 10; i++)
        x[i] = 10.0f * (float)i;
    const nnr_shape shape = {2, {5, 2}};
    const double eps[2] = {1e-3, 1e-5};
    const double golden[2] = {0.99998000, 0.9999998};
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (size_t k = 0; k < n_impl; k++)
        for (int e = 0; e < 2; e++) {
            nnr_layernorm_params p = ln_axes((int[]){1}, 1, eps[e]);
            p.center = p.scale = 0;
            ASSERT_OK(impls[k].fwd(&p, &shape, x, NULL, NULL, y, &(nnr_layernorm_cache){mean, istd}));
            const double exact = 5.0 / sqrt(25.0 + eps[e]);
            ck_assert_double_eq_tol(exact, golden[e], 5e-9);   /* the document's digits */
            /* The naive kernel rounds once (exactly (float)exact); the AVX2 kernel
             * multiplies by istd already rounded to float, a second rounding: at
             * most 1 ulp (FLT_EPSILON near 1) apart. */
            for (int r = 0; r < 5; r++) {
                ck_assert_msg(fabsf(y[2 * r] + (float)exact) <= FLT_EPSILON && fabsf(y[2 * r + 1] - (float)exact) <= FLT_EPSILON,
                              "%s eps %g row %d: got %.9g %.9g, want -+%.9g", impls[k].name, eps[e], r,
                              y[2 * r], y[2 * r + 1], (float)exact);
                ck_assert_float_eq(mean[r], 20.0f * (float)r + 5.0f);
            }
            if (e == 0 && strcmp(impls[k].name, "naive") == 0)
                ck_assert_float_eq(y[1], 0.99997997f);   /* the document's float digits */
        }
}
END_TEST

/* gamma and beta act per element of the normalized block, not per row. */
START_TEST(reference_affine_per_element)
{
    const float x[6] = {1, 2, 3, 10, 20, 30};   /* (2, 3), axis -1 */
    const float gamma[3] = {2.0f, -1.0f, 0.5f}, beta[3] = {1.0f, 0.0f, -1.0f};
    float y[6], mean[2], istd[2];
    const nnr_shape shape = {2, {2, 3}};
    nnr_layernorm_params p = nnr_layernorm_torch(1);
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        ASSERT_OK(impls[k].fwd(&p, &shape, x, gamma, beta, y, &(nnr_layernorm_cache){mean, istd}));
        /* row 0: mean 2, var 2/3; row 1: mean 20, var 200/3 */
        const double s0 = 1.0 / sqrt(2.0 / 3.0 + 1e-5), s1 = 1.0 / sqrt(200.0 / 3.0 + 1e-5);
        const double want[6] = {2 * -1 * s0 + 1, 0.0, 0.5 * 1 * s0 - 1,
                                2 * -10 * s1 + 1, 0.0, 0.5 * 10 * s1 - 1};
        for (int i = 0; i < 6; i++)
            ck_assert_msg(fabs(y[i] - want[i]) <= 4 * FLT_EPSILON * (fabs(want[i]) + 1), "%s y[%d] = %.9g, want %.9g",
                          impls[k].name, i, y[i], want[i]);
        ck_assert_float_eq_tol(istd[1], (float)s1, 1e-7f);
    }
}
END_TEST

/* Axes {0, 2} of a (2, 3, 2) tensor: rows are indexed by axis 1, each holds
 * x[i][r][j] for i, j; gamma has shape (2, 2) = dims[0] x dims[2]. The
 * expected values are gathered here by index, independently of the kernels'
 * offset arithmetic. Any order and sign of the axes gives the same layer. */
START_TEST(reference_noncontiguous_axes)
{
    float x[12], y[12], gamma[4], beta[4], mean[3], istd[3];
    for (int i = 0; i < 12; i++)
        x[i] = (float)((i * 7) % 5) + 0.25f * (float)i;
    for (int i = 0; i < 4; i++) {
        gamma[i] = 1.0f + 0.5f * (float)i;
        beta[i] = -0.25f * (float)i;
    }
    const nnr_shape shape = {3, {2, 3, 2}};
    const int orders[3][2] = {{0, 2}, {2, 0}, {-1, -3}};
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (size_t k = 0; k < n_impl; k++)
        for (int o = 0; o < 3; o++) {
            nnr_layernorm_params p = ln_axes(orders[o], 2, 1e-3);
            ASSERT_OK(impls[k].fwd(&p, &shape, x, gamma, beta, y, &(nnr_layernorm_cache){mean, istd}));
            for (int r = 0; r < 3; r++) {
                double v[4], mu = 0, var = 0;
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++)
                        mu += v[i * 2 + j] = x[i * 6 + r * 2 + j];
                mu /= 4;
                for (int e = 0; e < 4; e++)
                    var += (v[e] - mu) * (v[e] - mu);
                var /= 4;
                for (int i = 0; i < 2; i++)
                    for (int j = 0; j < 2; j++) {
                        const double want = gamma[i * 2 + j] * (v[i * 2 + j] - mu) / sqrt(var + 1e-3) +
                                            beta[i * 2 + j];
                        const float got = y[i * 6 + r * 2 + j];
                        ck_assert_msg(fabs(got - want) <= 4 * FLT_EPSILON * (fabs(want) + 1),
                                      "%s order %d row %d (%d,%d): %.9g, want %.9g", impls[k].name, o, r, i, j,
                                      got, want);
                    }
                ck_assert_float_eq_tol(mean[r], (float)mu, 1e-6f);
            }
        }
}
END_TEST

/* RMSNorm on [1, 2, 3, 4]: mean square 7.5, y = x / sqrt(7.5 + eps) * scale. */
START_TEST(reference_rmsnorm)
{
    const float x[8] = {1, 2, 3, 4, -2, 0, 0, 2};   /* (2, 4) */
    const float scale[4] = {1.0f, 2.0f, 0.5f, -1.0f};
    float y[8], rstd[2];
    const nnr_shape shape = {2, {2, 4}};
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        nnr_rmsnorm_params p = nnr_rmsnorm_keras();
        ASSERT_OK(impls[k].rms_fwd(&p, &shape, x, scale, y, &(nnr_rmsnorm_cache){rstd}));
        const double r0 = 1.0 / sqrt(7.5 + 1e-6), r1 = 1.0 / sqrt(2.0 + 1e-6);
        for (int i = 0; i < 8; i++) {
            const double want = x[i] * (i < 4 ? r0 : r1) * scale[i % 4];
            ck_assert_msg(fabs(y[i] - want) <= 2 * FLT_EPSILON * (fabs(want) + 1), "%s y[%d] = %.9g, want %.9g",
                          impls[k].name, i, y[i], want);
        }
        ck_assert_float_eq_tol(rstd[0], (float)r0, 1e-7f);
        /* scale off: y = x * r */
        p.scale = 0;
        ASSERT_OK(impls[k].rms_fwd(&p, &shape, x, NULL, y, &(nnr_rmsnorm_cache){rstd}));
        ck_assert_float_eq_tol(y[3], (float)(4.0 * r0), 2e-7f);
    }
}
END_TEST

START_TEST(reference_presets)
{
    nnr_layernorm_params k = nnr_layernorm_keras();
    ck_assert_uint_eq(k.n_axes, 1);
    ck_assert_int_eq(k.axes[0], -1);
    ck_assert(k.epsilon == 1e-3 && k.center == 1 && k.scale == 1);
    nnr_layernorm_params t = nnr_layernorm_torch(2);
    ck_assert_uint_eq(t.n_axes, 2);
    ck_assert(t.axes[0] == -2 && t.axes[1] == -1 && t.epsilon == 1e-5 && t.center && t.scale);
    nnr_rmsnorm_params rk = nnr_rmsnorm_keras();
    ck_assert(rk.n_axes == 1 && rk.axes[0] == -1 && rk.epsilon == 1e-6 && rk.scale);
    nnr_rmsnorm_params rt = nnr_rmsnorm_torch(3);
    ck_assert(rt.n_axes == 3 && rt.axes[0] == -3 && rt.axes[2] == -1 && rt.scale);
    ck_assert_float_eq((float)rt.epsilon, 1.1920929e-07f);   /* torch.finfo(torch.float32).eps */

    /* PyTorch normalized_shape (4, 5) on (3, 4, 5): D = 20, 3 rows */
    size_t d = 0, rows = 0;
    ASSERT_OK(nnr_layernorm_sizes(&t, &(nnr_shape){3, {3, 4, 5}}, &d, &rows));
    ck_assert(d == 20 && rows == 3);
    ASSERT_OK(nnr_rmsnorm_sizes(&rt, &(nnr_shape){4, {2, 3, 4, 5}}, &d, &rows));
    ck_assert(d == 60 && rows == 2);
    nnr_layernorm_params mid = ln_axes((int[]){1}, 1, 1e-3);
    ASSERT_OK(nnr_layernorm_sizes(&mid, &(nnr_shape){3, {3, 4, 5}}, &d, &rows));
    ck_assert(d == 4 && rows == 15);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* shapes: every implementation against the double naive kernel              */
/* ------------------------------------------------------------------------- */

typedef struct ln_shape_case {
    nnr_shape shape;
    int axes[NNR_MAX_RANK];
    size_t n_axes;
} ln_shape_case;

static const ln_shape_case shape_cases[] = {
    {{1, {7}}, {0}, 1},
    {{2, {3, 17}}, {-1}, 1},
    {{2, {4, 33}}, {1}, 1},
    {{3, {2, 3, 8}}, {-2, -1}, 2},
    {{3, {3, 5, 4}}, {1}, 1},              /* middle axis */
    {{4, {2, 3, 4, 5}}, {1, 2}, 2},        /* middle block */
    {{4, {2, 3, 4, 5}}, {0, 3}, 2},        /* not contiguous */
    {{4, {2, 3, 2, 3}}, {3, 1}, 2},        /* not contiguous, unsorted */
    {{3, {5, 2, 3}}, {0}, 1},              /* the batch axis (Keras allows it) */
    {{5, {2, 2, 3, 2, 3}}, {0, 1, 2, 3, 4}, 5},
};

/* float y within 8 eps (|ref| + 1) of the double kernel, for the same inputs:
 * the float kernels compute in double and round once (naive) or round a few
 * float operations of magnitude <= 4 (AVX2). */
START_TEST(shapes_against_double)
{
    const ln_shape_case *c = &shape_cases[_i];
    size_t count, d, rows;
    nnr_layernorm_params p = ln_axes(c->axes, c->n_axes, 1e-5);
    ASSERT_OK(nnr_shape_numel(&c->shape, "shape", &count));
    ASSERT_OK(nnr_layernorm_sizes(&p, &c->shape, &d, &rows));
    float *x = tu_alloc_f(count), *y = tu_alloc_f(count), *g = tu_alloc_f(d), *b = tu_alloc_f(d);
    float *mean = tu_alloc_f(rows), *istd = tu_alloc_f(rows);
    double *xd = tu_alloc_d(count), *yd = tu_alloc_d(count), *gd = tu_alloc_d(d), *bd = tu_alloc_d(d);
    double *meand = tu_alloc_d(rows), *istdd = tu_alloc_d(rows);
    tu_randn_f(x, count, 11 + _i, 0.3, 1.5);
    tu_randn_f(g, d, 12, 1.0, 0.3);
    tu_randn_f(b, d, 13, 0.0, 0.3);
    for (size_t i = 0; i < count; i++) xd[i] = x[i];
    for (size_t i = 0; i < d; i++) { gd[i] = g[i]; bd[i] = b[i]; }
    ASSERT_OK(nnr_layernorm_fwd_naive_f64(&p, &c->shape, xd, gd, bd, yd, &(nnr_layernorm_cache_f64){meand, istdd}));
    nnr_rmsnorm_params rp = nnr_rmsnorm_keras();
    for (size_t i = 0; i < c->n_axes; i++)
        rp.axes[i] = c->axes[i];
    rp.n_axes = c->n_axes;
    double *rstdd = tu_alloc_d(rows), *ryd = tu_alloc_d(count);
    ASSERT_OK(nnr_rmsnorm_fwd_naive_f64(&rp, &c->shape, xd, gd, ryd, &(nnr_rmsnorm_cache_f64){rstdd}));

    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        ASSERT_OK(impls[k].fwd(&p, &c->shape, x, g, b, y, &(nnr_layernorm_cache){mean, istd}));
        for (size_t i = 0; i < count; i++)
            ck_assert_msg(fabs(y[i] - yd[i]) <= 8 * FLT_EPSILON * (fabs(yd[i]) + 1),
                          "case %d %s: y[%zu] = %.9g, double %.9g", _i, impls[k].name, i, y[i], yd[i]);
        for (size_t r = 0; r < rows; r++) {
            ck_assert(fabs(mean[r] - meand[r]) <= 4 * FLT_EPSILON * (fabs(meand[r]) + 1));
            ck_assert(fabs(istd[r] - istdd[r]) <= 4 * FLT_EPSILON * istdd[r]);
        }
        ASSERT_OK(impls[k].rms_fwd(&rp, &c->shape, x, g, y, &(nnr_rmsnorm_cache){istd}));
        for (size_t i = 0; i < count; i++)
            ck_assert_msg(fabs(y[i] - ryd[i]) <= 8 * FLT_EPSILON * (fabs(ryd[i]) + 1),
                          "case %d %s rms: y[%zu] = %.9g, double %.9g", _i, impls[k].name, i, y[i], ryd[i]);
        /* in place: y == x gives the same values */
        float *xy = tu_alloc_f(count);
        memcpy(xy, x, count * sizeof *xy);
        ASSERT_OK(impls[k].fwd(&p, &c->shape, xy, g, b, xy, &(nnr_layernorm_cache){mean, istd}));
        for (size_t i = 0; i < count; i++)
            ck_assert(fabs(xy[i] - yd[i]) <= 8 * FLT_EPSILON * (fabs(yd[i]) + 1));
        free(xy);
    }
    free(x); free(y); free(g); free(b); free(mean); free(istd);
    free(xd); free(yd); free(gd); free(bd); free(meand); free(istdd); free(rstdd); free(ryd);
}
END_TEST

/* Backward in place (dx == dy) gives the same gradients as out of place, also
 * when D spans more than one of the AVX2 kernel's dgamma panels (1024 columns)
 * and for a non-trailing axis set. */
START_TEST(shapes_backward_in_place)
{
    const ln_shape_case cases[2] = {{{2, {3, 1100}}, {-1}, 1}, {{3, {4, 5, 6}}, {0, 2}, 2}};
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (int c = 0; c < 2; c++) {
        size_t count, d, rows;
        nnr_layernorm_params p = ln_axes(cases[c].axes, cases[c].n_axes, 1e-5);
        ASSERT_OK(nnr_shape_numel(&cases[c].shape, "shape", &count));
        ASSERT_OK(nnr_layernorm_sizes(&p, &cases[c].shape, &d, &rows));
        float *x = tu_alloc_f(count), *y = tu_alloc_f(count), *dy = tu_alloc_f(count), *dx = tu_alloc_f(count);
        float *g = tu_alloc_f(d), *b = tu_alloc_f(d), *dg = tu_alloc_f(d), *db = tu_alloc_f(d);
        float *dg2 = tu_alloc_f(d), *db2 = tu_alloc_f(d), *mean = tu_alloc_f(rows), *istd = tu_alloc_f(rows);
        tu_randn_f(x, count, 31, 0.5, 1.0);
        tu_randn_f(g, d, 32, 1.0, 0.2);
        tu_randn_f(b, d, 33, 0.0, 0.2);
        nnr_rmsnorm_params rp = nnr_rmsnorm_keras();
        memcpy(rp.axes, p.axes, sizeof rp.axes);
        rp.n_axes = p.n_axes;
        for (size_t k = 0; k < n_impl; k++) {
            const nnr_layernorm_cache cache = {mean, istd};
            ASSERT_OK(impls[k].fwd(&p, &cases[c].shape, x, g, b, y, &cache));
            tu_randn_f(dy, count, 34, 0.0, 1.0);
            ASSERT_OK(impls[k].bwd(&p, &cases[c].shape, x, g, &cache, dy, dx, dg, db));
            ASSERT_OK(impls[k].bwd(&p, &cases[c].shape, x, g, &cache, dy, dy, dg2, db2));   /* dy becomes dx */
            ck_assert_msg(memcmp(dx, dy, count * sizeof *dx) == 0 && memcmp(dg, dg2, d * sizeof *dg) == 0 &&
                          memcmp(db, db2, d * sizeof *db) == 0, "case %d %s: in-place backward differs", c,
                          impls[k].name);
            ASSERT_OK(impls[k].rms_fwd(&rp, &cases[c].shape, x, g, y, &(nnr_rmsnorm_cache){istd}));
            tu_randn_f(dy, count, 35, 0.0, 1.0);
            ASSERT_OK(impls[k].rms_bwd(&rp, &cases[c].shape, x, g, &(nnr_rmsnorm_cache){istd}, dy, dx, dg));
            ASSERT_OK(impls[k].rms_bwd(&rp, &cases[c].shape, x, g, &(nnr_rmsnorm_cache){istd}, dy, dy, dg2));
            ck_assert_msg(memcmp(dx, dy, count * sizeof *dx) == 0 && memcmp(dg, dg2, d * sizeof *dg) == 0,
                          "case %d %s: in-place RMSNorm backward differs", c, impls[k].name);
        }
        free(x); free(y); free(dy); free(dx); free(g); free(b); free(dg); free(db); free(dg2); free(db2);
        free(mean); free(istd);
    }
}
END_TEST

/* ------------------------------------------------------------------------- */
/* errors: a status naming the argument, and no output written              */
/* ------------------------------------------------------------------------- */

#define E_ROWS 3
#define E_D 4
#define E_COUNT (E_ROWS * E_D)

typedef struct ln_call {
    nnr_layernorm_params p;
    nnr_shape shape;
    float x[E_COUNT], gamma[E_D], beta[E_D], y[E_COUNT], mean[E_ROWS], istd[E_ROWS];
    float dy[E_COUNT], dx[E_COUNT], dgamma[E_D], dbeta[E_D];
    nnr_layernorm_cache cache;
} ln_call;

static void ln_call_init(ln_call *c)
{
    c->p = nnr_layernorm_keras();
    c->shape = (nnr_shape){2, {E_ROWS, E_D}};
    tu_randn_f(c->x, E_COUNT, 5, 0, 1);
    tu_randn_f(c->dy, E_COUNT, 6, 0, 1);
    for (int i = 0; i < E_D; i++) { c->gamma[i] = 1; c->beta[i] = 0; }
    tu_fill_canary(c->y, E_COUNT);
    tu_fill_canary(c->mean, E_ROWS);
    tu_fill_canary(c->istd, E_ROWS);
    tu_fill_canary(c->dx, E_COUNT);
    tu_fill_canary(c->dgamma, E_D);
    tu_fill_canary(c->dbeta, E_D);
    c->cache = (nnr_layernorm_cache){c->mean, c->istd};
}

static int ln_call_untouched(const ln_call *c)
{
    return tu_all_canary(c->y, E_COUNT) && tu_all_canary(c->mean, E_ROWS) && tu_all_canary(c->istd, E_ROWS) &&
           tu_all_canary(c->dx, E_COUNT) && tu_all_canary(c->dgamma, E_D) && tu_all_canary(c->dbeta, E_D);
}

typedef struct bad_ln {
    const char *what;
    nnr_code code;
    const char *needle;   /* words the sentence must contain */
    void (*mutate)(ln_call *c);
    int null_x, null_gamma, null_beta, null_cache_istd;
} bad_ln;

static void m_none(ln_call *c) { (void)c; }
static void m_empty_axes(ln_call *c) { c->p.n_axes = 0; }
static void m_dup_axes(ln_call *c) { c->p.n_axes = 2; c->p.axes[0] = 1; c->p.axes[1] = -1; }
static void m_axis_range(ln_call *c) { c->p.axes[0] = 2; }
static void m_axis_neg_range(ln_call *c) { c->p.axes[0] = -3; }
static void m_too_many_axes(ln_call *c) { c->p.n_axes = 3; c->p.axes[0] = 0; c->p.axes[1] = 1; c->p.axes[2] = -1; }
static void m_zero_dim(ln_call *c) { c->shape.dims[0] = 0; }
static void m_overflow(ln_call *c) { c->shape = (nnr_shape){3, {SIZE_MAX / 2, 4, 2}}; }
static void m_rank0(ln_call *c) { c->shape.rank = 0; }
static void m_eps_neg(ln_call *c) { c->p.epsilon = -1e-3; }
static void m_eps_nan(ln_call *c) { c->p.epsilon = NAN; }
static void m_eps_inf(ln_call *c) { c->p.epsilon = INFINITY; }

static const bad_ln bad_lns[] = {
    {"x NULL", NNR_ERR_NULL, "x is NULL", m_none, 1, 0, 0, 0},
    {"gamma NULL", NNR_ERR_NULL, "gamma", m_none, 0, 1, 0, 0},
    {"beta NULL", NNR_ERR_NULL, "beta", m_none, 0, 0, 1, 0},
    {"cache istd NULL", NNR_ERR_NULL, "cache->istd", m_none, 0, 0, 0, 1},
    {"empty axes", NNR_ERR_PARAM, "axes is empty", m_empty_axes, 0, 0, 0, 0},
    {"duplicate axes", NNR_ERR_PARAM, "repeats axis 1", m_dup_axes, 0, 0, 0, 0},
    {"axis out of range", NNR_ERR_SHAPE, "axes[0] = 2", m_axis_range, 0, 0, 0, 0},
    {"negative axis out of range", NNR_ERR_SHAPE, "axes[0] = -3", m_axis_neg_range, 0, 0, 0, 0},
    {"more axes than rank", NNR_ERR_PARAM, "rank 2", m_too_many_axes, 0, 0, 0, 0},
    {"zero dimension", NNR_ERR_SHAPE, "shape", m_zero_dim, 0, 0, 0, 0},
    {"size overflow", NNR_ERR_OVERFLOW, "shape", m_overflow, 0, 0, 0, 0},
    {"rank 0", NNR_ERR_SHAPE, "shape", m_rank0, 0, 0, 0, 0},
    {"epsilon < 0", NNR_ERR_PARAM, "epsilon", m_eps_neg, 0, 0, 0, 0},
    {"epsilon NaN", NNR_ERR_PARAM, "epsilon", m_eps_nan, 0, 0, 0, 0},
    {"epsilon inf", NNR_ERR_PARAM, "epsilon", m_eps_inf, 0, 0, 0, 0},
};

static void expect_rejected(nnr_status st, const char *what, nnr_code code, const char *needle, const char *impl)
{
    ck_assert_msg(st.code == code, "%s (%s): expected code %d, got %d (%s)", what, impl, (int)code, (int)st.code,
                  nnr_strerror(&st));
    ck_assert_msg(strstr(nnr_strerror(&st), needle) != NULL, "%s (%s): sentence \"%s\" does not name \"%s\"",
                  what, impl, nnr_strerror(&st), needle);
}

START_TEST(errors_rejected_untouched)
{
    const bad_ln *bc = &bad_lns[_i];
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        ln_call c;
        ln_call_init(&c);
        bc->mutate(&c);
        if (bc->null_cache_istd)
            c.cache.istd = NULL;
        nnr_status st = impls[k].fwd(&c.p, &c.shape, bc->null_x ? NULL : c.x, bc->null_gamma ? NULL : c.gamma,
                                     bc->null_beta ? NULL : c.beta, c.y, &c.cache);
        expect_rejected(st, bc->what, bc->code, bc->needle, impls[k].name);
        /* the backward checks the same parameters (beta is not one of its inputs) */
        if (!bc->null_beta) {
            st = impls[k].bwd(&c.p, &c.shape, bc->null_x ? NULL : c.x, bc->null_gamma ? NULL : c.gamma, &c.cache,
                              c.dy, c.dx, c.dgamma, c.dbeta);
            expect_rejected(st, bc->what, bc->code, bc->needle, impls[k].name);
        }
        /* RMSNorm shares the axes machinery and its sentences */
        nnr_rmsnorm_params rp = {{0}, 0, c.p.epsilon, 1};
        memcpy(rp.axes, c.p.axes, sizeof rp.axes);
        rp.n_axes = c.p.n_axes;
        nnr_rmsnorm_cache rc = {bc->null_cache_istd ? NULL : c.istd};
        if (!bc->null_beta && !bc->null_cache_istd) {
            st = impls[k].rms_fwd(&rp, &c.shape, bc->null_x ? NULL : c.x, bc->null_gamma ? NULL : c.gamma, c.y,
                                  &rc);
            expect_rejected(st, bc->what, bc->code, bc->null_gamma ? "scale" : bc->needle, impls[k].name);
        }
        ck_assert_msg(ln_call_untouched(&c), "%s (%s): an output was written", bc->what, impls[k].name);
    }
}
END_TEST

START_TEST(errors_other_arguments)
{
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        ln_call c;
        ln_call_init(&c);
        const char *name = impls[k].name;
        expect_rejected(impls[k].fwd(NULL, &c.shape, c.x, c.gamma, c.beta, c.y, &c.cache), "params", NNR_ERR_NULL,
                        "params is NULL", name);
        expect_rejected(impls[k].fwd(&c.p, NULL, c.x, c.gamma, c.beta, c.y, &c.cache), "shape", NNR_ERR_NULL,
                        "shape is NULL", name);
        expect_rejected(impls[k].fwd(&c.p, &c.shape, c.x, c.gamma, c.beta, NULL, &c.cache), "y", NNR_ERR_NULL,
                        "y is NULL", name);
        expect_rejected(impls[k].fwd(&c.p, &c.shape, c.x, c.gamma, c.beta, c.y, NULL), "cache", NNR_ERR_NULL,
                        "cache is NULL", name);
        expect_rejected(impls[k].fwd(&c.p, &c.shape, c.x, c.gamma, c.beta, c.y, &(nnr_layernorm_cache){NULL, c.istd}),
                        "cache mean", NNR_ERR_NULL, "cache->mean", name);
        expect_rejected(impls[k].bwd(&c.p, &c.shape, c.x, c.gamma, &c.cache, NULL, c.dx, c.dgamma, c.dbeta),
                        "dy", NNR_ERR_NULL, "dy is NULL", name);
        expect_rejected(impls[k].bwd(&c.p, &c.shape, c.x, c.gamma, &c.cache, c.dy, NULL, c.dgamma, c.dbeta),
                        "dx", NNR_ERR_NULL, "dx is NULL", name);
        expect_rejected(impls[k].bwd(&c.p, &c.shape, c.x, c.gamma, &c.cache, c.dy, c.dx, NULL, c.dbeta),
                        "dgamma", NNR_ERR_NULL, "dgamma (scale is on)", name);
        expect_rejected(impls[k].bwd(&c.p, &c.shape, c.x, c.gamma, &c.cache, c.dy, c.dx, c.dgamma, NULL),
                        "dbeta", NNR_ERR_NULL, "dbeta (center is on)", name);
        nnr_rmsnorm_params rp = nnr_rmsnorm_keras();
        nnr_rmsnorm_cache rc = {c.istd};
        expect_rejected(impls[k].rms_fwd(&rp, &c.shape, c.x, c.gamma, c.y, &(nnr_rmsnorm_cache){NULL}),
                        "rms cache", NNR_ERR_NULL, "cache->rstd", name);
        expect_rejected(impls[k].rms_bwd(&rp, &c.shape, c.x, c.gamma, &rc, c.dy, c.dx, NULL), "dscale",
                        NNR_ERR_NULL, "dscale (scale is on)", name);
        expect_rejected(impls[k].rms_bwd(&rp, &c.shape, c.x, NULL, &rc, c.dy, c.dx, c.dgamma), "rms scale",
                        NNR_ERR_NULL, "scale (scale is on)", name);
        ck_assert_msg(ln_call_untouched(&c), "%s: an output was written", name);
        /* switched off, gamma/beta and their gradients may be NULL */
        c.p.center = c.p.scale = 0;
        ASSERT_OK(impls[k].fwd(&c.p, &c.shape, c.x, NULL, NULL, c.y, &c.cache));
        ASSERT_OK(impls[k].bwd(&c.p, &c.shape, c.x, NULL, &c.cache, c.dy, c.dx, NULL, NULL));
        ck_assert(tu_all_canary(c.dgamma, E_D) && tu_all_canary(c.dbeta, E_D));
    }
    size_t d = 7;
    expect_rejected(nnr_layernorm_sizes(NULL, &(nnr_shape){1, {3}}, &d, NULL), "sizes", NNR_ERR_NULL,
                    "params is NULL", "sizes");
    nnr_layernorm_params bad = nnr_layernorm_torch(3);
    expect_rejected(nnr_layernorm_sizes(&bad, &(nnr_shape){2, {3, 4}}, &d, NULL), "torch(3) on rank 2",
                    NNR_ERR_PARAM, "rank 2", "sizes");
    ck_assert_uint_eq(d, 7);
}
END_TEST

/* ------------------------------------------------------------------------- */
/* numerics (SEMANTICS.md §7)                                                */
/* ------------------------------------------------------------------------- */

/* Rows far from zero: mean 2000 with unit spread, and mean 100 with spread
 * 0.01 (variance 1e-4, where E[x^2] - E[x]^2 in float would be pure rounding
 * noise). Every float implementation must match the double kernel fed the
 * same float inputs: y within 64 eps (the centred value x - mu loses no digits
 * in either implementation, only the final few roundings remain), istd within
 * 16 eps relative. */
START_TEST(numerics_large_mean)
{
    const size_t rows = 5, D = 771;   /* D not a multiple of 8: the masked tail sees large values too */
    const double means[2] = {2000.0, 100.0}, sds[2] = {1.0, 0.01};
    float *x = tu_alloc_f(rows * D), *y = tu_alloc_f(rows * D), mean[5], istd[5];
    double *xd = tu_alloc_d(rows * D), *yd = tu_alloc_d(rows * D), meand[5], istdd[5];
    nnr_layernorm_params p = nnr_layernorm_torch(1);
    p.center = p.scale = 0;
    const nnr_shape shape = {2, {rows, D}};
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (int m = 0; m < 2; m++) {
        tu_randn_f(x, rows * D, 77 + m, means[m], sds[m]);
        for (size_t i = 0; i < rows * D; i++)
            xd[i] = x[i];
        ASSERT_OK(nnr_layernorm_fwd_naive_f64(&p, &shape, xd, NULL, NULL, yd, &(nnr_layernorm_cache_f64){meand, istdd}));
        /* the data really have the variance they were drawn with */
        ck_assert_double_eq_tol(1.0 / (istdd[0] * istdd[0]) - p.epsilon, sds[m] * sds[m], 0.15 * sds[m] * sds[m]);
        for (size_t k = 0; k < n_impl; k++) {
            ASSERT_OK(impls[k].fwd(&p, &shape, x, NULL, NULL, y, &(nnr_layernorm_cache){mean, istd}));
            double worst = 0.0;
            for (size_t i = 0; i < rows * D; i++)
                worst = fmax(worst, fabs(y[i] - yd[i]) / (fabs(yd[i]) + 1));
            ck_assert_msg(worst <= 64 * FLT_EPSILON, "mean %g %s: worst y error %.3g eps", means[m], impls[k].name,
                          worst / FLT_EPSILON);
            for (size_t r = 0; r < rows; r++)
                ck_assert_msg(fabs(istd[r] - istdd[r]) <= 16 * FLT_EPSILON * istdd[r], "mean %g %s: istd %.9g vs %.9g",
                              means[m], impls[k].name, istd[r], istdd[r]);
        }
    }
    free(x); free(y); free(xd); free(yd);
}
END_TEST

/* Constant rows give exactly beta (x - mu is exactly 0), and istd exactly
 * (eps)^(-1/2) rounded: the variance is 0, never negative. */
START_TEST(numerics_constant_rows)
{
    const float values[] = {0.0f, 1.0f, -3.5f, 2000.1f, 1e4f, 16777216.0f, 3.0e7f, 1e-30f};
    const size_t D = 37;
    float x[37], y[37], g[37], b[37], mean[1], istd[1];
    for (size_t i = 0; i < D; i++) {
        g[i] = 1.0f + 0.125f * (float)i;
        b[i] = -0.5f + 0.25f * (float)i;
    }
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    nnr_layernorm_params p = nnr_layernorm_keras();
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++)
        for (size_t k = 0; k < n_impl; k++) {
            for (size_t i = 0; i < D; i++)
                x[i] = values[v];
            ASSERT_OK(impls[k].fwd(&p, &(nnr_shape){2, {1, D}}, x, g, b, y, &(nnr_layernorm_cache){mean, istd}));
            for (size_t i = 0; i < D; i++)
                ck_assert_msg(y[i] == b[i], "%s value %g: y[%zu] = %.9g, beta %.9g", impls[k].name, values[v], i,
                              y[i], b[i]);
            ck_assert_float_eq(mean[0], values[v]);
            ck_assert_float_eq(istd[0], (float)(1.0 / sqrt(1e-3)));
        }
}
END_TEST

/* Rows whose spread is at the last bit of large values: the computed variance
 * is never negative (istd is finite and at most eps^(-1/2)), for any impl. */
START_TEST(numerics_never_negative_variance)
{
    const size_t D = 19;
    float x[19], y[19], mean[1], istd[1];
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    nnr_layernorm_params p = nnr_layernorm_torch(1);
    p.center = p.scale = 0;
    const float bases[] = {16777216.0f, 1e7f, 3.3e5f, 2000.0f};
    for (size_t bi = 0; bi < sizeof bases / sizeof bases[0]; bi++)
        for (size_t k = 0; k < n_impl; k++) {
            for (size_t i = 0; i < D; i++)
                x[i] = i % 3 == 0 ? nextafterf(bases[bi], INFINITY) : bases[bi];
            ASSERT_OK(impls[k].fwd(&p, &(nnr_shape){2, {1, D}}, x, NULL, NULL, y, &(nnr_layernorm_cache){mean, istd}));
            ck_assert_msg(isfinite(istd[0]) && istd[0] <= (float)(1.0 / sqrt(1e-5)) * (1 + FLT_EPSILON),
                          "%s base %g: istd %.9g", impls[k].name, bases[bi], istd[0]);
            for (size_t i = 0; i < D; i++)
                ck_assert(isfinite(y[i]));
        }
}
END_TEST

/* SEMANTICS §7: x = [10000, 10001, 10002, 10003], eps 1e-3: mean 10001.5,
 * variance 1.25, y = ±1.5/sqrt(1.251) = ±1.3411, ±0.5/sqrt(1.251) = ±0.4470. */
START_TEST(numerics_semantics_10000)
{
    const float x[4] = {10000, 10001, 10002, 10003};
    float y[4], mean[1], istd[1];
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    nnr_layernorm_params p = nnr_layernorm_keras();
    p.center = p.scale = 0;
    for (size_t k = 0; k < n_impl; k++) {
        ASSERT_OK(impls[k].fwd(&p, &(nnr_shape){2, {1, 4}}, x, NULL, NULL, y, &(nnr_layernorm_cache){mean, istd}));
        ck_assert_float_eq_tol(y[0], -1.3411f, 5e-5f);
        ck_assert_float_eq_tol(y[1], -0.4470f, 5e-5f);
        ck_assert_float_eq_tol(y[2], 0.4470f, 5e-5f);
        ck_assert_float_eq_tol(y[3], 1.3411f, 5e-5f);
        ck_assert_float_eq_tol(y[3], (float)(1.5 / sqrt(1.251)), 2e-7f);
        ck_assert_float_eq(mean[0], 10001.5f);
    }
}
END_TEST

/* RMSNorm of large and of tiny rows: r from double sums, y = x*r has unit RMS. */
START_TEST(numerics_rmsnorm_scale_range)
{
    const size_t D = 45;
    const double mags[] = {1e-3, 1.0, 3e4};
    float x[45], y[45], rstd[1];
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    nnr_rmsnorm_params p = nnr_rmsnorm_torch(1);
    p.scale = 0;
    for (size_t m = 0; m < 3; m++)
        for (size_t k = 0; k < n_impl; k++) {
            tu_randn_f(x, D, 90 + m, 0.0, mags[m]);
            ASSERT_OK(impls[k].rms_fwd(&p, &(nnr_shape){1, {D}}, x, NULL, y, &(nnr_rmsnorm_cache){rstd}));
            double ms = 0, msy = 0;
            for (size_t i = 0; i < D; i++) {
                ms += (double)x[i] * x[i];
                msy += (double)y[i] * y[i];
            }
            ms /= D;
            msy /= D;
            const double want_r = 1.0 / sqrt(ms + p.epsilon);
            ck_assert_msg(fabs(rstd[0] - want_r) <= 4 * FLT_EPSILON * want_r, "%s mag %g: r %.9g vs %.9g",
                          impls[k].name, mags[m], rstd[0], want_r);
            ck_assert_double_eq_tol(msy, ms / (ms + p.epsilon), 1e-5);
        }
}
END_TEST

/* epsilon = 0 on a constant row: istd is 0 (PyTorch's InvStd rule, as for
 * BatchNorm), so x_hat = 0 and y == beta rather than 0 * inf = NaN; RMSNorm
 * of an all-zero row with epsilon 0 gives r = 0 and y = 0. */
START_TEST(numerics_zero_epsilon)
{
    const size_t D = 21;
    float x[21], y[21], b[21], mean[1], istd[1];
    for (size_t i = 0; i < D; i++) {
        x[i] = 3.0f;
        b[i] = 0.5f * (float)i;
    }
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        nnr_layernorm_params p = nnr_layernorm_keras();
        p.epsilon = 0.0;
        p.scale = 0;
        ASSERT_OK(impls[k].fwd(&p, &(nnr_shape){2, {1, D}}, x, NULL, b, y, &(nnr_layernorm_cache){mean, istd}));
        for (size_t i = 0; i < D; i++)
            ck_assert_msg(y[i] == b[i], "%s: y %g, beta %g", impls[k].name, y[i], b[i]);
        ck_assert_float_eq(istd[0], 0.0f);
        nnr_rmsnorm_params rp = nnr_rmsnorm_keras();
        rp.epsilon = 0.0;
        rp.scale = 0;
        float zero[21] = {0};
        ASSERT_OK(impls[k].rms_fwd(&rp, &(nnr_shape){2, {1, D}}, zero, NULL, y, &(nnr_rmsnorm_cache){istd}));
        for (size_t i = 0; i < D; i++)
            ck_assert_msg(y[i] == 0.0f, "%s: rms y %g", impls[k].name, y[i]);
    }
}
END_TEST

/* Huge finite values (|x| = 2e19 and 1e30: their squares overflow float)
 * still normalize to -1, +1, and RMSNorm to +-1, as the double arithmetic of
 * the definition does. */
START_TEST(numerics_huge_values)
{
    const float level[2] = {2e19f, 1e30f};
    const size_t D = 26;
    float x[26], y[26], mean[1], istd[1];
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (int l = 0; l < 2; l++)
        for (size_t k = 0; k < n_impl; k++) {
            for (size_t i = 0; i < D; i++)
                x[i] = i % 2 ? level[l] : -level[l];
            nnr_layernorm_params p = nnr_layernorm_keras();
            p.center = p.scale = 0;
            ASSERT_OK(impls[k].fwd(&p, &(nnr_shape){2, {1, D}}, x, NULL, NULL, y, &(nnr_layernorm_cache){mean, istd}));
            for (size_t i = 0; i < D; i++)
                ck_assert_msg(fabsf(fabsf(y[i]) - 1.0f) < 1e-6f, "%s: |x| = %g gives y %g", impls[k].name,
                              (double)level[l], y[i]);
            nnr_rmsnorm_params rp = nnr_rmsnorm_keras();
            rp.scale = 0;
            ASSERT_OK(impls[k].rms_fwd(&rp, &(nnr_shape){2, {1, D}}, x, NULL, y, &(nnr_rmsnorm_cache){istd}));
            for (size_t i = 0; i < D; i++)
                ck_assert_msg(fabsf(fabsf(y[i]) - 1.0f) < 1e-6f, "%s: rms |x| = %g gives y %g", impls[k].name,
                              (double)level[l], y[i]);
        }
}
END_TEST

/* An outlier as the first value of a row (the shift of a one-pass variance)
 * does not cost digits: the variance is two-pass in every implementation. */
START_TEST(numerics_outlier_first_value)
{
    const size_t D = 40;
    float x[40], y[40], mean[1], istd[1];
    double xd[40], yd[40], meand[1], istdd[1];
    tu_randn_f(x, D, 55, 1000.0, 0.05);
    x[0] = 1e6f;
    for (size_t i = 0; i < D; i++)
        xd[i] = x[i];
    nnr_layernorm_params p = nnr_layernorm_keras();
    p.center = p.scale = 0;
    ASSERT_OK(nnr_layernorm_fwd_naive_f64(&p, &(nnr_shape){1, {D}}, xd, NULL, NULL, yd,
                                          &(nnr_layernorm_cache_f64){meand, istdd}));
    ln_impl impls[3];
    size_t n_impl = ln_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        ASSERT_OK(impls[k].fwd(&p, &(nnr_shape){1, {D}}, x, NULL, NULL, y, &(nnr_layernorm_cache){mean, istd}));
        ck_assert_msg(fabs(istd[0] - istdd[0]) <= 4 * FLT_EPSILON * istdd[0], "%s: istd %.9g, double %.9g",
                      impls[k].name, istd[0], istdd[0]);
        for (size_t i = 0; i < D; i++)
            ck_assert(fabs(y[i] - yd[i]) <= 16 * FLT_EPSILON * (fabs(yd[i]) + 1));
    }
}
END_TEST

void layernorm_add_reference(TCase *tc)
{
    tcase_add_test(tc, reference_doc000);
    tcase_add_test(tc, reference_affine_per_element);
    tcase_add_test(tc, reference_noncontiguous_axes);
    tcase_add_test(tc, reference_rmsnorm);
    tcase_add_test(tc, reference_presets);
}

void layernorm_add_shapes(TCase *tc)
{
    tcase_add_loop_test(tc, shapes_against_double, 0, (int)(sizeof shape_cases / sizeof shape_cases[0]));
    tcase_add_test(tc, shapes_backward_in_place);
}

void layernorm_add_errors(TCase *tc)
{
    tcase_add_loop_test(tc, errors_rejected_untouched, 0, (int)(sizeof bad_lns / sizeof bad_lns[0]));
    tcase_add_test(tc, errors_other_arguments);
}

void layernorm_add_numerics(TCase *tc)
{
    tcase_add_test(tc, numerics_large_mean);
    tcase_add_test(tc, numerics_constant_rows);
    tcase_add_test(tc, numerics_never_negative_variance);
    tcase_add_test(tc, numerics_semantics_10000);
    tcase_add_test(tc, numerics_rmsnorm_scale_range);
    tcase_add_test(tc, numerics_zero_epsilon);
    tcase_add_test(tc, numerics_huge_values);
    tcase_add_test(tc, numerics_outlier_first_value);
}
