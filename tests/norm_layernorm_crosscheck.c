/*
 * LayerNorm and RMSNorm cross-validation: the AVX2 kernels against the naive
 * float kernels (same inputs, same float caches for backward) and against
 * the naive double kernels fed the same inputs widened to double, forward and
 * backward, over D = 1..17, 31, 32, 33, 64, 768 (around the vector width, and
 * the bench row), 1500 and 2100 (more than one reduction chunk and one
 * dgamma panel), rows 1..9, unaligned buffers, non-trailing axis sets (the
 * strided path) and one output large enough for streaming stores.
 *
 * Tolerances (eps = FLT_EPSILON).
 *  Elementwise outputs (y, dx, mean, istd, rstd):
 *      |avx2 - ref| <= K_ELEM * eps * (|ref| + 1).
 *  The naive float kernel computes each output in double and rounds once; the
 *  AVX2 kernel rounds its per-row coefficients (mean hi/lo, istd, mean(g),
 *  mean(g x_hat)) once each and does 3 to 6 float operations per element
 *  (two subtractions and a product for x_hat, an FMA; for dx a product, a
 *  subtraction, an FMA and a product). Each contributes at most eps/2 of an
 *  intermediate below about 8 for these data (|x_hat| <= 5, |gamma| <= 2,
 *  |dy| <= 4), so about 8 roundings * eps/2 * 8 = 32 eps: K_ELEM = 32, as for
 *  BatchNorm. Against double the reference is not rounded, adding eps/2.
 *  Reductions (dgamma, dbeta, dscale; one term per row):
 *      |avx2 - ref| <= K_RED * eps * sum_rows |term| + eps * |ref|.
 *  The AVX2 kernel forms each term in float (x_hat from a subtraction and a
 *  product, then the product with dy: 3 roundings of eps/2, at most 1.5 eps
 *  relative plus cancellation in x - mean of about one more eps) and adds it
 *  in double, so every term errs by at most about 3 eps relative and the sum
 *  by 3 eps * sum |term|; the final rounding adds eps/2 * |ref|. K_RED = 4.
 *  Each shape's helper judges every value against its bound and returns the
 *  count, the failures and the worst errors in those units; the test asserts
 *  them. The measured worst errors are printed with NNREF_XC_VERBOSE=1.
 */
#include "config.h"
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include "test_util.h"
#include "test_norm.h"

#ifdef NNR_HAVE_AVX2_BUILD

#define K_ELEM 32.0
#define K_RED 4.0

typedef struct xc_shape {
    nnr_shape shape;
    int axes[NNR_MAX_RANK];
    size_t n_axes;
} xc_shape;

/* What one or more shapes measured: every value judged (t), and the worst
 * errors in units of the tolerances' eps terms (bounds K_ELEM and K_RED). */
typedef struct xc_result {
    tu_tally t;
    double worst_elem, worst_red;
} xc_result;

static void xc_result_add(xc_result *a, const xc_result *b)
{
    tu_tally_add(&a->t, &b->t);
    a->worst_elem = fmax(a->worst_elem, b->worst_elem);
    a->worst_red = fmax(a->worst_red, b->worst_red);
}

/* Elementwise: |avx2 - ref| <= K_ELEM eps (|ref| + 1), judged per value. */
static void check_elem(xc_result *r, const char *what, const char *tag, const float *a, const double *ref, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double err = fabs(a[i] - ref[i]) / (FLT_EPSILON * (fabs(ref[i]) + 1));
        if (err > r->worst_elem || isnan(err))
            r->worst_elem = isnan(err) ? INFINITY : err;
        if (!tu_judge(&r->t, err <= K_ELEM, err, K_ELEM))
            tu_note(&r->t, "%s %s[%zu]: avx2 %.9g, ref %.9g (%.1f eps)", tag, what, i, a[i], ref[i], err);
    }
}

/* Reductions: |avx2 - ref| - eps |ref| <= K_RED eps sum|terms|, judged per value. */
static void check_red(xc_result *r, const char *what, const char *tag, const float *a, const double *ref,
                      const double *abs_sum, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double err = fabs(a[i] - ref[i]) - FLT_EPSILON * fabs(ref[i]);
        const double units = err / (FLT_EPSILON * (abs_sum[i] + DBL_MIN));
        if (units > r->worst_red || isnan(units))
            r->worst_red = isnan(units) ? INFINITY : units;
        if (!tu_judge(&r->t, err <= K_RED * FLT_EPSILON * abs_sum[i], units, K_RED))
            tu_note(&r->t, "%s %s[%zu]: avx2 %.9g, ref %.9g, sum|terms| %.3g", tag, what, i, a[i], ref[i],
                    abs_sum[i]);
    }
}

static void widen(double *d, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
}

/* One shape, LayerNorm and RMSNorm, forward and backward, against naive float
 * and double: returns every value judged (cases = 1) and the worst errors. */
static xc_result crosscheck_shape(const xc_shape *c, int unaligned, uint64_t seed, int aligned32)
{
    xc_result r = {.t = {.cases = 1}};
    size_t count, D, rows;
    nnr_layernorm_params p = nnr_layernorm_torch(1);
    memcpy(p.axes, c->axes, sizeof p.axes);
    p.n_axes = c->n_axes;
    ck_assert_int_eq(nnr_layernorm_sizes(&p, &c->shape, &D, &rows).code, NNR_OK);
    ck_assert_int_eq(nnr_shape_numel(&c->shape, "shape", &count).code, NNR_OK);
    const size_t off = unaligned ? 1 : 0;
    /* float buffers: x, dy, gamma, beta, y (avx2, naive), dx, dgamma, dbeta (avx2, naive), caches */
    float *fx = tu_alloc_f(count + 1), *fdy = tu_alloc_f(count + 1), *fg = tu_alloc_f(D + 1), *fb = tu_alloc_f(D + 1);
    float *ya = aligned32 ? aligned_alloc(32, count * sizeof(float)) : tu_alloc_f(count + 1);
    float *yn = tu_alloc_f(count), *dxa = tu_alloc_f(count + 1), *dxn = tu_alloc_f(count);
    float *dga = tu_alloc_f(D + 1), *dba = tu_alloc_f(D + 1), *dgn = tu_alloc_f(D), *dbn = tu_alloc_f(D);
    float *ma = tu_alloc_f(rows), *ia = tu_alloc_f(rows), *mn = tu_alloc_f(rows), *in = tu_alloc_f(rows);
    double *dx_ = tu_alloc_d(count), *ddy = tu_alloc_d(count), *dg = tu_alloc_d(D), *db = tu_alloc_d(D);
    double *dy_ = tu_alloc_d(count), *ddx = tu_alloc_d(count), *ddg = tu_alloc_d(D), *ddb = tu_alloc_d(D);
    double *dm = tu_alloc_d(rows), *di = tu_alloc_d(rows), *ref = tu_alloc_d(count > D ? count : D);
    double *abs_g = tu_alloc_d(D), *abs_b = tu_alloc_d(D);
    ck_assert_ptr_nonnull(ya);
    float *x = fx + off, *dy = fdy + off, *gamma = fg + off, *beta = fb + off, *y = ya + (aligned32 ? 0 : off);
    float *dxv = dxa + off, *dgv = dga + off, *dbv = dba + off;
    char tag[128];
    snprintf(tag, sizeof tag, "rank %zu dims %zux%zu.. axes %d.. D %zu rows %zu%s", c->shape.rank, c->shape.dims[0],
             c->shape.rank > 1 ? c->shape.dims[1] : 1, c->axes[0], D, rows, unaligned ? " unaligned" : "");

    tu_randn_f(x, count, seed, 0.3, 1.5);
    tu_randn_f(dy, count, seed + 1, 0.0, 1.0);
    tu_randn_f(gamma, D, seed + 2, 1.0, 0.3);
    tu_randn_f(beta, D, seed + 3, 0.0, 0.3);
    widen(dx_, x, count);
    widen(ddy, dy, count);
    widen(dg, gamma, D);
    widen(db, beta, D);

    /* ---- LayerNorm forward ---- */
    ck_assert_int_eq(nnr_layernorm_fwd_avx2(&p, &c->shape, x, gamma, beta, y, &(nnr_layernorm_cache){ma, ia}).code, NNR_OK);
    ck_assert_int_eq(nnr_layernorm_fwd_naive(&p, &c->shape, x, gamma, beta, yn, &(nnr_layernorm_cache){mn, in}).code, NNR_OK);
    ck_assert_int_eq(nnr_layernorm_fwd_naive_f64(&p, &c->shape, dx_, dg, db, dy_, &(nnr_layernorm_cache_f64){dm, di}).code, NNR_OK);
    widen(ref, yn, count);
    check_elem(&r, "ln y vs naive", tag, y, ref, count);
    check_elem(&r, "ln y vs double", tag, y, dy_, count);
    check_elem(&r, "ln mean vs double", tag, ma, dm, rows);
    check_elem(&r, "ln istd vs double", tag, ia, di, rows);

    /* ---- LayerNorm backward, all from the naive float cache ---- */
    const nnr_layernorm_cache cache = {mn, in};
    ck_assert_int_eq(nnr_layernorm_bwd_avx2(&p, &c->shape, x, gamma, &cache, dy, dxv, dgv, dbv).code, NNR_OK);
    ck_assert_int_eq(nnr_layernorm_bwd_naive(&p, &c->shape, x, gamma, &cache, dy, dxn, dgn, dbn).code, NNR_OK);
    widen(dm, mn, rows);
    widen(di, in, rows);
    ck_assert_int_eq(nnr_layernorm_bwd_naive_f64(&p, &c->shape, dx_, dg, &(nnr_layernorm_cache_f64){dm, di}, ddy, ddx,
                                                 ddg, ddb).code, NNR_OK);
    /* sum over rows of |dy * x_hat| and |dy|: the scale of each reduction */
    {
        nnr_layernorm_params plain = p;
        plain.center = plain.scale = 0;
        double *xhat = tu_alloc_d(count);
        ck_assert_int_eq(nnr_layernorm_fwd_naive_f64(&plain, &c->shape, dx_, NULL, NULL, xhat,
                                                     &(nnr_layernorm_cache_f64){dm, di}).code, NNR_OK);
        /* the double backward sums over rows for us: dgamma of |dy| * sign(x_hat) is
         * sum |dy x_hat|, dbeta of |dy| is sum |dy| */
        double *ady = tu_alloc_d(count), *tmp = tu_alloc_d(count);
        for (size_t i = 0; i < count; i++)
            ady[i] = fabs(ddy[i]) * (xhat[i] < 0 ? -1.0 : 1.0);
        ck_assert_int_eq(nnr_layernorm_bwd_naive_f64(&p, &c->shape, dx_, dg, &(nnr_layernorm_cache_f64){dm, di}, ady,
                                                     tmp, abs_g, abs_b).code, NNR_OK);
        for (size_t i = 0; i < count; i++)
            ady[i] = fabs(ddy[i]);
        double *unused = tu_alloc_d(D);
        ck_assert_int_eq(nnr_layernorm_bwd_naive_f64(&p, &c->shape, dx_, dg, &(nnr_layernorm_cache_f64){dm, di}, ady,
                                                     tmp, unused, abs_b).code, NNR_OK);
        free(unused); free(ady); free(tmp); free(xhat);
    }
    widen(ref, dxn, count);
    check_elem(&r, "ln dx vs naive", tag, dxv, ref, count);
    check_elem(&r, "ln dx vs double", tag, dxv, ddx, count);
    widen(ref, dgn, D);
    check_red(&r, "ln dgamma vs naive", tag, dgv, ref, abs_g, D);
    check_red(&r, "ln dgamma vs double", tag, dgv, ddg, abs_g, D);
    widen(ref, dbn, D);
    check_red(&r, "ln dbeta vs naive", tag, dbv, ref, abs_b, D);
    check_red(&r, "ln dbeta vs double", tag, dbv, ddb, abs_b, D);

    /* ---- RMSNorm forward and backward ---- */
    nnr_rmsnorm_params rp = nnr_rmsnorm_torch(1);
    memcpy(rp.axes, c->axes, sizeof rp.axes);
    rp.n_axes = c->n_axes;
    ck_assert_int_eq(nnr_rmsnorm_fwd_avx2(&rp, &c->shape, x, gamma, y, &(nnr_rmsnorm_cache){ia}).code, NNR_OK);
    ck_assert_int_eq(nnr_rmsnorm_fwd_naive(&rp, &c->shape, x, gamma, yn, &(nnr_rmsnorm_cache){in}).code, NNR_OK);
    ck_assert_int_eq(nnr_rmsnorm_fwd_naive_f64(&rp, &c->shape, dx_, dg, dy_, &(nnr_rmsnorm_cache_f64){di}).code, NNR_OK);
    widen(ref, yn, count);
    check_elem(&r, "rms y vs naive", tag, y, ref, count);
    check_elem(&r, "rms y vs double", tag, y, dy_, count);
    check_elem(&r, "rms rstd vs double", tag, ia, di, rows);
    ck_assert_int_eq(nnr_rmsnorm_bwd_avx2(&rp, &c->shape, x, gamma, &(nnr_rmsnorm_cache){in}, dy, dxv, dgv).code, NNR_OK);
    ck_assert_int_eq(nnr_rmsnorm_bwd_naive(&rp, &c->shape, x, gamma, &(nnr_rmsnorm_cache){in}, dy, dxn, dgn).code, NNR_OK);
    widen(di, in, rows);
    ck_assert_int_eq(nnr_rmsnorm_bwd_naive_f64(&rp, &c->shape, dx_, dg, &(nnr_rmsnorm_cache_f64){di}, ddy, ddx, ddg).code,
                     NNR_OK);
    {
        /* sum over rows of |dy * x * r|: dscale of |dy| * sign(x) */
        double *ady = tu_alloc_d(count), *tmp = tu_alloc_d(count);
        for (size_t i = 0; i < count; i++)
            ady[i] = fabs(ddy[i]) * (dx_[i] < 0 ? -1.0 : 1.0);
        ck_assert_int_eq(nnr_rmsnorm_bwd_naive_f64(&rp, &c->shape, dx_, dg, &(nnr_rmsnorm_cache_f64){di}, ady, tmp,
                                                   abs_g).code, NNR_OK);
        free(ady); free(tmp);
    }
    widen(ref, dxn, count);
    check_elem(&r, "rms dx vs naive", tag, dxv, ref, count);
    check_elem(&r, "rms dx vs double", tag, dxv, ddx, count);
    widen(ref, dgn, D);
    check_red(&r, "rms dscale vs naive", tag, dgv, ref, abs_g, D);
    check_red(&r, "rms dscale vs double", tag, dgv, ddg, abs_g, D);

    free(fx); free(fdy); free(fg); free(fb); free(ya); free(yn); free(dxa); free(dxn);
    free(dga); free(dba); free(dgn); free(dbn); free(ma); free(ia); free(mn); free(in);
    free(dx_); free(ddy); free(dg); free(db); free(dy_); free(ddx); free(ddg); free(ddb);
    free(dm); free(di); free(ref); free(abs_g); free(abs_b);
    return r;
}

static const size_t row_lengths[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 32, 33, 64, 768,
                                     1500, 2100};
#define N_ROW_LENGTHS (sizeof row_lengths / sizeof row_lengths[0])

/* Trailing axis: every row length with rows 1..9, aligned and not. */
START_TEST(crosscheck_trailing)
{
    const size_t D = row_lengths[_i];
    xc_result all = {0};
    for (size_t rows = 1; rows <= 9; rows++)
        for (int unaligned = 0; unaligned < 2; unaligned++) {
            if (D >= 1500 && rows > 3 && rows != 9)
                continue;   /* the long rows: 1, 2, 3 and 9 rows are enough */
            const xc_shape c = {{2, {rows, D}}, {-1}, 1};
            const xc_result r = crosscheck_shape(&c, unaligned, 100 + D * 16 + rows, 0);
            xc_result_add(&all, &r);
        }
    ck_assert_uint_eq(all.t.cases, D >= 1500 ? 8 : 18);
    ck_assert_msg(all.t.bad == 0, "D = %zu: %zu of %zu AVX2 values outside their bound (worst elementwise %.2f eps, "
                  "bound %g; reductions %.3f, bound %g); first: %s", D, all.t.bad, all.t.checked, all.worst_elem,
                  K_ELEM, all.worst_red, K_RED, all.t.first);
}
END_TEST

/* Axis sets the strided path takes, and trailing blocks of several axes. */
static const xc_shape other_axes[] = {
    {{3, {3, 5, 4}}, {1}, 1},
    {{4, {2, 3, 4, 5}}, {1, 2}, 2},
    {{4, {2, 3, 4, 5}}, {0, 3}, 2},
    {{4, {2, 3, 2, 3}}, {3, 1}, 2},
    {{3, {9, 2, 3}}, {0}, 1},
    {{3, {3, 4, 12}}, {-2, -1}, 2},
    {{4, {2, 3, 3, 11}}, {1, 2, 3}, 3},
    {{2, {17, 5}}, {0, 1}, 2},
};

START_TEST(crosscheck_other_axes)
{
    xc_result all = {0};
    for (int unaligned = 0; unaligned < 2; unaligned++) {
        const xc_result r = crosscheck_shape(&other_axes[_i], unaligned, 300 + (uint64_t)_i, 0);
        xc_result_add(&all, &r);
    }
    ck_assert_uint_eq(all.t.cases, 2);
    ck_assert_msg(all.t.bad == 0, "axis set %d: %zu of %zu AVX2 values outside their bound (worst elementwise "
                  "%.2f eps, bound %g; reductions %.3f, bound %g); first: %s", _i, all.t.bad, all.t.checked,
                  all.worst_elem, K_ELEM, all.worst_red, K_RED, all.t.first);
}
END_TEST

/* 1400 rows of 768 (4.3 MB): y is written with streaming stores. */
START_TEST(crosscheck_streaming)
{
    const xc_shape c = {{2, {1400, 768}}, {-1}, 1};
    const xc_result r = crosscheck_shape(&c, 0, 400, 1);
    if (getenv("NNREF_XC_VERBOSE") != NULL)
        printf("layernorm/rmsnorm crosscheck worst: elementwise %.2f eps*(|ref|+1) (bound %g), reductions %.3f "
               "eps*sum|terms| (bound %g)\n", r.worst_elem, K_ELEM, r.worst_red, K_RED);
    /* every value judged: y and dx of both norms against naive and double (8 x 1400 x 768), the three row
     * statistics (mean, istd, rstd: 3 x 1400) and the six reductions (dgamma, dbeta, dscale twice: 6 x 768) */
    ck_assert_uint_eq(r.t.checked, 8 * 1400 * 768 + 3 * 1400 + 6 * 768);
    ck_assert_msg(r.t.bad == 0, "1400 x 768 (streaming stores): %zu of %zu AVX2 values outside their bound (worst "
                  "elementwise %.2f eps, bound %g; reductions %.3f, bound %g); first: %s", r.t.bad, r.t.checked,
                  r.worst_elem, K_ELEM, r.worst_red, K_RED, r.t.first);
}
END_TEST

void layernorm_add_crosscheck(TCase *tc)
{
    if (!nnr_avx2_usable())
        return;
    tcase_add_loop_test(tc, crosscheck_trailing, 0, (int)N_ROW_LENGTHS);
    tcase_add_loop_test(tc, crosscheck_other_axes, 0, (int)(sizeof other_axes / sizeof other_axes[0]));
    tcase_add_test(tc, crosscheck_streaming);
}

#else

void layernorm_add_crosscheck(TCase *tc)
{
    (void)tc;
}

#endif
