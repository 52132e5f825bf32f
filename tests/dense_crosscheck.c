/*
 * Dense cross-validation: the AVX2 kernels against the naive float kernels
 * (same inputs) and the naive double kernels (the same inputs widened),
 * forward y and backward dx, dW, db.
 *
 * Cases: rows 1, 2, 5, 7, 13, 33; in_features 1, 3, 8, 17, 33, 97, 321;
 * units 1, 7, 16, 17, 40 (below, at and above the 8-float vector and the
 * 6 x 16 register tile of the product, and one more than its k block for
 * in = 321); both weight layouts, bias on and off, every buffer one float
 * off a 32-byte boundary on odd cases.
 *
 * The bounds, and why. Each result is a sum of k products plus, for y, the
 * bias (k = in for y, units for dx, rows for dW and db). The naive float
 * kernel (recursive summation) and the AVX2 kernel (the product's blocked
 * FMA sums, tests/dense_gemm.c) are each within gamma_{k+1} S of the exact
 * value, S = |b| + sum |x w| (Higham §3.1), and the naive double kernel
 * within (k + 1) 2^-52 S, so
 *   |avx2 - naive_f64| <= (gamma_{k+1} + (k + 1) 2^-52) S,
 *   |avx2 - naive|     <= 2 gamma_{k+1} S.
 * S comes from the double kernel run on absolute values. db is added row by
 * row in float in both kernels, in the same order: bitwise equal to naive.
 */
#include "config.h"
#include <stdio.h>
#include "test_util.h"
#include "test_dense.h"

#ifdef NNR_HAVE_AVX2_BUILD

/* gamma_j = j u / (1 - j u), u = 2^-24 */
static double gamma_f(size_t j)
{
    const double u = ldexp(1.0, -24);
    return (double)j * u / (1.0 - (double)j * u);
}

/* Counts failures of |got - ref| <= tol * s over n values; prints the first few. */
static int compare(const char *what, const char *tensor, const float *got, const double *ref, const double *s,
                   size_t n, double tol)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const double err = fabs((double)got[i] - ref[i]);
        if (!(err <= tol * s[i])) {
            if (bad < 3)
                fprintf(stderr, "dense %s: %s[%zu] = %.9g, ref %.9g, err %.3g > %.3g\n", what, tensor, i,
                        (double)got[i], ref[i], err, tol * s[i]);
            bad++;
        }
    }
    return bad;
}

/* One case: returns the number of failed values. */
static int cx_run(size_t rows, size_t in, size_t units, int torch, int bias, size_t off)
{
    char what[96];
    snprintf(what, sizeof what, "%zux%zu->%zu %s bias %d off %zu", rows, in, units, torch ? "torch" : "keras", bias,
             off);
    nnr_dense_params p = torch ? nnr_dense_torch(in, units) : nnr_dense_keras(in, units);
    p.use_bias = bias;
    const nnr_shape s = {2, {rows, in}};
    const size_t nx = rows * in, ny = rows * units, nw = in * units;

    /* float inputs (offset by off floats) and their double copies */
    float *buf_x = tu_alloc_f(nx + 1), *buf_w = tu_alloc_f(nw + 1), *buf_b = tu_alloc_f(units + 1);
    float *buf_dy = tu_alloc_f(ny + 1);
    float *x = buf_x + off, *w = buf_w + off, *b = buf_b + off, *dy = buf_dy + off;
    const uint64_t seed = 7919u * rows + 104729u * in + 31u * units + (uint64_t)torch;
    tu_randn_f(x, nx, seed, 0.0, 1.0);
    tu_randn_f(w, nw, seed + 1, 0.0, 1.0);
    tu_randn_f(b, units, seed + 2, 0.0, 1.0);
    tu_randn_f(dy, ny, seed + 3, 0.0, 1.0);
    double *xd = tu_alloc_d(nx), *wd = tu_alloc_d(nw), *bd = tu_alloc_d(units), *dyd = tu_alloc_d(ny);
    double *xa = tu_alloc_d(nx), *wa = tu_alloc_d(nw), *ba = tu_alloc_d(units), *dya = tu_alloc_d(ny);
    for (size_t i = 0; i < nx; i++)
        xa[i] = fabs(xd[i] = x[i]);
    for (size_t i = 0; i < nw; i++)
        wa[i] = fabs(wd[i] = w[i]);
    for (size_t i = 0; i < units; i++)
        ba[i] = fabs(bd[i] = b[i]);
    for (size_t i = 0; i < ny; i++)
        dya[i] = fabs(dyd[i] = dy[i]);

    /* reference (double) and S (double, absolute values) */
    double *y64 = tu_alloc_d(ny), *dx64 = tu_alloc_d(nx), *dw64 = tu_alloc_d(nw), *db64 = tu_alloc_d(units);
    double *ys = tu_alloc_d(ny), *dxs = tu_alloc_d(nx), *dws = tu_alloc_d(nw), *dbs = tu_alloc_d(units);
    ck_assert(nnr_dense_fwd_naive_f64(&p, &s, xd, wd, bd, y64, NULL, 0).code == NNR_OK);
    ck_assert(nnr_dense_bwd_naive_f64(&p, &s, xd, wd, dyd, dx64, dw64, bias ? db64 : NULL, NULL, 0).code == NNR_OK);
    ck_assert(nnr_dense_fwd_naive_f64(&p, &s, xa, wa, ba, ys, NULL, 0).code == NNR_OK);
    ck_assert(nnr_dense_bwd_naive_f64(&p, &s, xa, wa, dya, dxs, dws, bias ? dbs : NULL, NULL, 0).code == NNR_OK);

    /* naive float and AVX2, outputs offset as the inputs */
    float *y = tu_alloc_f(ny + 1) + off, *dx = tu_alloc_f(nx + 1) + off, *dw = tu_alloc_f(nw + 1) + off;
    float *db = tu_alloc_f(units + 1) + off;
    float *yn = tu_alloc_f(ny), *dxn = tu_alloc_f(nx), *dwn = tu_alloc_f(nw), *dbn = tu_alloc_f(units);
    size_t wsf;
    ck_assert(nnr_dense_workspace_size_avx2(&p, &s, &wsf).code == NNR_OK);
    float *ws_buf = tu_alloc_f(wsf + 1), *ws = ws_buf + off;
    ck_assert(nnr_dense_fwd_naive(&p, &s, x, w, b, yn, NULL, 0).code == NNR_OK);
    ck_assert(nnr_dense_bwd_naive(&p, &s, x, w, dy, dxn, dwn, bias ? dbn : NULL, NULL, 0).code == NNR_OK);
    nnr_status st = nnr_dense_fwd_avx2(&p, &s, x, w, b, y, ws, wsf);
    ck_assert_msg(st.code == NNR_OK, "%s: %s", what, nnr_strerror(&st));
    st = nnr_dense_bwd_avx2(&p, &s, x, w, dy, dx, dw, bias ? db : NULL, ws, wsf);
    ck_assert_msg(st.code == NNR_OK, "%s: %s", what, nnr_strerror(&st));

    /* widen the naive float results to compare them with the same function */
    double *ynd = tu_alloc_d(ny), *dxnd = tu_alloc_d(nx), *dwnd = tu_alloc_d(nw);
    for (size_t i = 0; i < ny; i++)
        ynd[i] = yn[i];
    for (size_t i = 0; i < nx; i++)
        dxnd[i] = dxn[i];
    for (size_t i = 0; i < nw; i++)
        dwnd[i] = dwn[i];

    const double t52 = ldexp(1.0, -52);
    int bad = 0;
    bad += compare(what, "y vs f64", y, y64, ys, ny, gamma_f(in + 1) + (double)(in + 1) * t52);
    bad += compare(what, "dx vs f64", dx, dx64, dxs, nx, gamma_f(units + 1) + (double)(units + 1) * t52);
    bad += compare(what, "dw vs f64", dw, dw64, dws, nw, gamma_f(rows + 1) + (double)(rows + 1) * t52);
    bad += compare(what, "y vs naive", y, ynd, ys, ny, 2 * gamma_f(in + 1));
    bad += compare(what, "dx vs naive", dx, dxnd, dxs, nx, 2 * gamma_f(units + 1));
    bad += compare(what, "dw vs naive", dw, dwnd, dws, nw, 2 * gamma_f(rows + 1));
    if (bias) {
        bad += compare(what, "db vs f64", db, db64, dbs, units, gamma_f(rows + 1) + (double)(rows + 1) * t52);
        if (memcmp(db, dbn, units * sizeof *db) != 0) {
            fprintf(stderr, "dense %s: db differs from the naive float kernel's\n", what);
            bad++;
        }
    }

    free(buf_x), free(buf_w), free(buf_b), free(buf_dy);
    free(xd), free(wd), free(bd), free(dyd), free(xa), free(wa), free(ba), free(dya);
    free(y64), free(dx64), free(dw64), free(db64), free(ys), free(dxs), free(dws), free(dbs);
    free(y - off), free(dx - off), free(dw - off), free(db - off), free(yn), free(dxn), free(dwn), free(dbn);
    free(ws_buf), free(ynd), free(dxnd), free(dwnd);
    return bad;
}

START_TEST(dense_crosscheck_sweep)
{
    static const size_t rows[] = {1, 2, 5, 7, 13, 33};
    static const size_t ins[] = {1, 3, 8, 17, 33, 97, 321};
    static const size_t units[] = {1, 7, 16, 17, 40};
    int bad = 0, n = 0;
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++)
            for (size_t u = 0; u < sizeof units / sizeof units[0]; u++, n++)
                bad += cx_run(rows[r], ins[i], units[u], n % 2, (n / 2) % 2 == 0, (size_t)(n % 3 == 1));
    ck_assert_msg(bad == 0, "%d values outside their bound", bad);
}
END_TEST

START_TEST(dense_crosscheck_every_variant)
{
    /* One shape with edges in every direction, in all four layout x bias
     * variants, aligned and not. */
    int bad = 0;
    for (int torch = 0; torch < 2; torch++)
        for (int bias = 0; bias < 2; bias++)
            for (size_t off = 0; off < 2; off++)
                bad += cx_run(19, 45, 23, torch, bias, off);
    ck_assert_msg(bad == 0, "%d values outside their bound", bad);
}
END_TEST

void dense_add_crosscheck(TCase *tc)
{
    if (!nnr_avx2_usable())
        return;
    tcase_add_test(tc, dense_crosscheck_every_variant);
    tcase_add_test(tc, dense_crosscheck_sweep);
}

#else

void dense_add_crosscheck(TCase *tc)
{
    (void)tc;
}

#endif /* NNR_HAVE_AVX2_BUILD */
