/*
 * Dense layer tests: reference (a hand-computed example, Keras <-> PyTorch
 * weight layouts, leading axes as batch), gradcheck (the double naive
 * kernels against central differences), shapes (output, weight and
 * workspace shapes; float against double), errors (every rejected call
 * names its argument and leaves canary-filled outputs untouched, for every
 * implementation) and numerics (NaN/inf stay in their row, long sums).
 *
 * Every implementation present is run through one signature: the naive
 * float kernel, the dispatching entry point, the AVX2 kernel when the CPU
 * has it, and the double naive kernel through float <-> double copies.
 */
#include "config.h"
#include <float.h>
#include <stdio.h>
#include "test_util.h"
#include "test_dense.h"

/* ---- The implementations, one signature ---------------------------------- */

typedef struct dense_impl {
    const char *name;
    nnr_dense_fwd_fn fwd;
    nnr_dense_bwd_fn bwd;
    nnr_dense_workspace_fn ws;
} dense_impl;

/* Double naive kernels behind the float signature: inputs widened, outputs
 * narrowed, and outputs written only if the double kernel accepted. */
static double *widen(const float *p, size_t n)
{
    if (p == NULL)
        return NULL;
    double *d = tu_alloc_d(n);
    for (size_t i = 0; i < n; i++)
        d[i] = p[i];
    return d;
}

static void narrow(float *dst, const double *src, size_t n)
{
    if (dst != NULL)
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)src[i];
}

/* Element counts of x, y and W, or 0 when the call will be rejected anyway. */
static void counts(const nnr_dense_params *p, const nnr_shape *s, size_t *nx, size_t *ny, size_t *nw)
{
    nnr_shape out, ws;
    *nx = *ny = *nw = 0;
    if (nnr_dense_output_shape(p, s, &out).code == NNR_OK && nnr_dense_weight_shape(p, &ws).code == NNR_OK) {
        nnr_shape_numel(s, "x", nx);
        nnr_shape_numel(&out, "y", ny);
        nnr_shape_numel(&ws, "w", nw);
    }
}

static nnr_status f64_fwd(const nnr_dense_params *p, const nnr_shape *s, const float *x, const float *w,
                          const float *b, float *y, float *workspace, size_t workspace_floats)
{
    size_t nx, ny, nw;
    counts(p, s, &nx, &ny, &nw);
    const size_t nb = p != NULL ? p->units : 0;
    double *xd = widen(x, nx), *wd = widen(w, nw), *bd = widen(b, nb);
    double *yd = y != NULL ? tu_alloc_d(ny) : NULL;
    (void)workspace;
    nnr_status st = nnr_dense_fwd_naive_f64(p, s, xd, wd, bd, yd, NULL, workspace_floats);
    if (st.code == NNR_OK)
        narrow(y, yd, ny);
    free(xd), free(wd), free(bd), free(yd);
    return st;
}

static nnr_status f64_bwd(const nnr_dense_params *p, const nnr_shape *s, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db, float *workspace,
                          size_t workspace_floats)
{
    size_t nx, ny, nw;
    counts(p, s, &nx, &ny, &nw);
    const size_t nb = p != NULL ? p->units : 0;
    double *xd = widen(x, nx), *wd = widen(w, nw), *dyd = widen(dy, ny);
    double *dxd = dx != NULL ? tu_alloc_d(nx) : NULL, *dwd = dw != NULL ? tu_alloc_d(nw) : NULL;
    double *dbd = db != NULL ? tu_alloc_d(nb) : NULL;
    (void)workspace;
    nnr_status st = nnr_dense_bwd_naive_f64(p, s, xd, wd, dyd, dxd, dwd, dbd, NULL, workspace_floats);
    if (st.code == NNR_OK) {
        narrow(dx, dxd, nx);
        narrow(dw, dwd, nw);
        narrow(db, dbd, nb);
    }
    free(xd), free(wd), free(dyd), free(dxd), free(dwd), free(dbd);
    return st;
}

/* The implementations present here; returns how many. */
static size_t impls(dense_impl out[4])
{
    size_t n = 0;
    out[n++] = (dense_impl){"naive", nnr_dense_fwd_naive, nnr_dense_bwd_naive, nnr_dense_workspace_size_naive};
    out[n++] = (dense_impl){"naive_f64", f64_fwd, f64_bwd, nnr_dense_workspace_size_naive};
    out[n++] = (dense_impl){"dispatch", nnr_dense_fwd, nnr_dense_bwd, nnr_dense_workspace_size};
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable())
        out[n++] = (dense_impl){"avx2", nnr_dense_fwd_avx2, nnr_dense_bwd_avx2, nnr_dense_workspace_size_avx2};
#endif
    return n;
}

/* Workspace of an implementation for (p, s), allocated (at least one float). */
static float *workspace_for(const dense_impl *im, const nnr_dense_params *p, const nnr_shape *s, size_t *floats)
{
    nnr_status st = im->ws(p, s, floats);
    ck_assert_msg(st.code == NNR_OK, "%s workspace query: %s", im->name, nnr_strerror(&st));
    return tu_alloc_f(*floats);
}

static nnr_shape shape2(size_t a, size_t b)
{
    nnr_shape s = {2, {a, b}};
    return s;
}

/* ---- Reference ------------------------------------------------------------ */

START_TEST(dense_hand_example)
{
    /*
     * x (2 x 3), Keras W (3 x 2), b, dy, all small dyadic numbers, so every
     * product and sum below is exact in float whatever the order:
     *   x = [1 2 3; 4 5 6], W = [1 0.5; -1 2; 0.25 -2], b = [0.5 -1]
     *   y = x·W + b:  row 0: [1 - 2 + 0.75, 0.5 + 4 - 6] + b = [0.25 -2.5]
     *                 row 1: [4 - 5 + 1.5, 2 + 10 - 12] + b = [1 -1]
     *   dy = [1 2; -1 0.5]
     *   dx = dy·Wᵀ:   row 0: [1 + 1, -1 + 4, 0.25 - 4]      = [2 3 -3.75]
     *                 row 1: [-1 + 0.25, 1 + 1, -0.25 - 1]  = [-0.75 2 -1.25]
     *   dW = xᵀ·dy:   [1 - 4, 2 + 2; 2 - 5, 4 + 2.5; 3 - 6, 6 + 3] = [-3 4; -3 6.5; -3 9]
     *   db = [1 - 1, 2 + 0.5] = [0 2.5]
     */
    const float x[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0.5f, -1, 2, 0.25f, -2}, b[2] = {0.5f, -1};
    const float dy[4] = {1, 2, -1, 0.5f};
    const float y_ref[4] = {0.25f, -2.5f, 1, -1}, dx_ref[6] = {2, 3, -3.75f, -0.75f, 2, -1.25f};
    const float dw_ref[6] = {-3, 4, -3, 6.5f, -3, 9}, db_ref[2] = {0, 2.5f};
    const nnr_dense_params p = nnr_dense_keras(3, 2);
    const nnr_shape s = shape2(2, 3);
    dense_impl im[4];
    const size_t n_impl = impls(im);
    for (size_t k = 0; k < n_impl; k++) {
        size_t wsf;
        float *ws = workspace_for(&im[k], &p, &s, &wsf);
        float y[4], dx[6], dw[6], db[2];
        nnr_status st = im[k].fwd(&p, &s, x, w, b, y, ws, wsf);
        ck_assert_msg(st.code == NNR_OK, "%s: %s", im[k].name, nnr_strerror(&st));
        st = im[k].bwd(&p, &s, x, w, dy, dx, dw, db, ws, wsf);
        ck_assert_msg(st.code == NNR_OK, "%s: %s", im[k].name, nnr_strerror(&st));
        for (int i = 0; i < 4; i++)
            ck_assert_msg(y[i] == y_ref[i], "%s y[%d] = %g, want %g", im[k].name, i, y[i], y_ref[i]);
        for (int i = 0; i < 6; i++) {
            ck_assert_msg(dx[i] == dx_ref[i], "%s dx[%d] = %g, want %g", im[k].name, i, dx[i], dx_ref[i]);
            ck_assert_msg(dw[i] == dw_ref[i], "%s dw[%d] = %g, want %g", im[k].name, i, dw[i], dw_ref[i]);
        }
        for (int i = 0; i < 2; i++)
            ck_assert_msg(db[i] == db_ref[i], "%s db[%d] = %g, want %g", im[k].name, i, db[i], db_ref[i]);
        free(ws);
    }
}
END_TEST

START_TEST(dense_keras_torch_layouts)
{
    /* The same layer stored both ways, W_keras = W_torchᵀ (SEMANTICS.md §6):
     * PyTorch's y = x·Wᵀ + b equals Keras' y = x·W + b, and dW comes back
     * in each layout, transposed. Each implementation reads the same values
     * in the same order in both layouts, so equal means bitwise equal. */
    const size_t rows = 9, in = 13, units = 11;
    const nnr_shape s = shape2(rows, in);
    float *x = tu_alloc_f(rows * in), *wk = tu_alloc_f(in * units), *wt = tu_alloc_f(in * units);
    float *b = tu_alloc_f(units), *dy = tu_alloc_f(rows * units);
    tu_randn_f(x, rows * in, 1, 0.0, 1.0);
    tu_randn_f(wk, in * units, 2, 0.0, 1.0);
    tu_randn_f(b, units, 3, 0.0, 1.0);
    tu_randn_f(dy, rows * units, 4, 0.0, 1.0);
    for (size_t i = 0; i < in; i++)
        for (size_t o = 0; o < units; o++)
            wt[o * in + i] = wk[i * units + o];
    const nnr_dense_params pk = nnr_dense_keras(in, units), pt = nnr_dense_torch(in, units);
    dense_impl im[4];
    const size_t n_impl = impls(im);
    for (size_t k = 0; k < n_impl; k++) {
        size_t wsf;
        float *ws = workspace_for(&im[k], &pk, &s, &wsf);
        float *yk = tu_alloc_f(rows * units), *yt = tu_alloc_f(rows * units);
        float *dxk = tu_alloc_f(rows * in), *dxt = tu_alloc_f(rows * in);
        float *dwk = tu_alloc_f(in * units), *dwt = tu_alloc_f(in * units), dbk[11], dbt[11];
        size_t wst;
        float *ws_t = workspace_for(&im[k], &pt, &s, &wst);
        ck_assert(im[k].fwd(&pk, &s, x, wk, b, yk, ws, wsf).code == NNR_OK);
        ck_assert(im[k].fwd(&pt, &s, x, wt, b, yt, ws_t, wst).code == NNR_OK);
        ck_assert(im[k].bwd(&pk, &s, x, wk, dy, dxk, dwk, dbk, ws, wsf).code == NNR_OK);
        ck_assert(im[k].bwd(&pt, &s, x, wt, dy, dxt, dwt, dbt, ws_t, wst).code == NNR_OK);
        ck_assert_msg(memcmp(yk, yt, rows * units * sizeof *yk) == 0, "%s: y differs between layouts", im[k].name);
        ck_assert_msg(memcmp(dxk, dxt, rows * in * sizeof *dxk) == 0, "%s: dx differs between layouts", im[k].name);
        ck_assert_msg(memcmp(dbk, dbt, units * sizeof *dbk) == 0, "%s: db differs between layouts", im[k].name);
        for (size_t i = 0; i < in; i++)
            for (size_t o = 0; o < units; o++)
                ck_assert_msg(memcmp(&dwk[i * units + o], &dwt[o * in + i], sizeof(float)) == 0,
                              "%s: dW_keras[%zu][%zu] != dW_torch[%zu][%zu]", im[k].name, i, o, o, i);
        free(ws), free(ws_t), free(yk), free(yt), free(dxk), free(dxt), free(dwk), free(dwt);
    }
    free(x), free(wk), free(wt), free(b), free(dy);
}
END_TEST

START_TEST(dense_leading_axes)
{
    /* Keras applies Dense on the last axis and PyTorch Linear takes
     * (*, in_features): x (2, 3, 5) is the 6 rows of x (6, 5), bitwise, and
     * rank 1 (5,) is one row. */
    const size_t in = 5, units = 4;
    const nnr_dense_params p = nnr_dense_keras(in, units);
    float x[30], w[20], b[4];
    tu_randn_f(x, 30, 5, 0.0, 1.0);
    tu_randn_f(w, 20, 6, 0.0, 1.0);
    tu_randn_f(b, 4, 7, 0.0, 1.0);
    const nnr_shape s3 = {3, {2, 3, 5}}, s2 = shape2(6, 5), s1 = {1, {5}};
    dense_impl im[4];
    const size_t n_impl = impls(im);
    for (size_t k = 0; k < n_impl; k++) {
        size_t wsf;
        float *ws = workspace_for(&im[k], &p, &s3, &wsf);
        float y3[24], y2[24], y1[4], dx3[30], dx2[30], dw3[20], dw2[20];
        ck_assert(im[k].fwd(&p, &s3, x, w, b, y3, ws, wsf).code == NNR_OK);
        ck_assert(im[k].fwd(&p, &s2, x, w, b, y2, ws, wsf).code == NNR_OK);
        ck_assert_msg(memcmp(y3, y2, sizeof y2) == 0, "%s: rank 3 differs from rank 2", im[k].name);
        ck_assert(im[k].bwd(&p, &s3, x, w, y2, dx3, dw3, NULL, ws, wsf).code == NNR_OK);
        ck_assert(im[k].bwd(&p, &s2, x, w, y2, dx2, dw2, NULL, ws, wsf).code == NNR_OK);
        ck_assert(memcmp(dx3, dx2, sizeof dx2) == 0 && memcmp(dw3, dw2, sizeof dw2) == 0);
        /* rank 1: the first row alone */
        size_t ws1f;
        float *ws1 = workspace_for(&im[k], &p, &s1, &ws1f);
        ck_assert(im[k].fwd(&p, &s1, x, w, b, y1, ws1, ws1f).code == NNR_OK);
        ck_assert_msg(memcmp(y1, y2, sizeof y1) == 0, "%s: rank 1 differs from row 0", im[k].name);
        free(ws), free(ws1);
    }
}
END_TEST

/* ---- Gradient checks ------------------------------------------------------ */

/*
 * Bound on the worst relative error (nnr_gc_rel_err). Dense is linear in x,
 * W and b, so the central difference has no truncation error; what remains
 * is the rounding of L over the step. 1e-7 is the bound the other families
 * use: a backward wrong by 1e-6 relative or more exceeds it.
 */
#define DENSE_GC_MAX_REL_ERR 1e-7

START_TEST(dense_gradcheck)
{
    typedef struct gc_case { const char *name; int torch, bias; nnr_shape shape; size_t units; } gc_case;
    const gc_case cases[] = {
        {"keras 4x5->3", 0, 1, {2, {4, 5}}, 3},
        {"torch 4x5->3", 1, 1, {2, {4, 5}}, 3},
        {"keras no bias 3x7->9", 0, 0, {2, {3, 7}}, 9},
        {"torch no bias 3x7->9", 1, 0, {2, {3, 7}}, 9},
        {"keras rank 3 (2,3,4)->5", 0, 1, {3, {2, 3, 4}}, 5},
        {"torch rank 1 (6)->2", 1, 1, {1, {6}}, 2},
        {"keras 1x1->1", 0, 1, {2, {1, 1}}, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const gc_case *g = &cases[c];
        const size_t in = g->shape.dims[g->shape.rank - 1];
        nnr_dense_params p = g->torch ? nnr_dense_torch(in, g->units) : nnr_dense_keras(in, g->units);
        p.use_bias = g->bias;
        nnr_gc_report r;
        nnr_status st = nnr_gradcheck_dense(&p, &g->shape, 0xde5e + c, NULL, &r);
        ck_assert_msg(st.code == NNR_OK, "%s: %s", g->name, nnr_strerror(&st));
        ck_assert_msg(r.passed && r.deterministic, "%s: failed", g->name);
        ck_assert_uint_eq(r.n_tensors, g->bias ? 3 : 2);
        for (size_t t = 0; t < r.n_tensors; t++) {
            const nnr_gc_tensor_report *tr = &r.tensors[t];
            ck_assert_msg(tr->failed == 0 && tr->kinks == 0 && tr->max_rel_err <= DENSE_GC_MAX_REL_ERR,
                          "%s %s: %zu failed, %zu kinks, worst rel err %.3g at %zu", g->name, tr->name, tr->failed,
                          tr->kinks, tr->max_rel_err, tr->worst_index);
        }
    }
}
END_TEST

/* ---- Shapes --------------------------------------------------------------- */

START_TEST(dense_output_and_weight_shapes)
{
    nnr_shape out, w;
    const nnr_shape s4 = {4, {2, 3, 4, 7}};
    nnr_dense_params p = nnr_dense_keras(7, 5);
    ck_assert(nnr_dense_output_shape(&p, &s4, &out).code == NNR_OK);
    ck_assert_uint_eq(out.rank, 4);
    ck_assert(out.dims[0] == 2 && out.dims[1] == 3 && out.dims[2] == 4 && out.dims[3] == 5);
    ck_assert(nnr_dense_weight_shape(&p, &w).code == NNR_OK);
    ck_assert(w.rank == 2 && w.dims[0] == 7 && w.dims[1] == 5);   /* Keras kernel (in, units) */
    p = nnr_dense_torch(7, 5);
    ck_assert(nnr_dense_weight_shape(&p, &w).code == NNR_OK);
    ck_assert(w.rank == 2 && w.dims[0] == 5 && w.dims[1] == 7);   /* PyTorch weight (out, in) */
    ck_assert_int_eq(p.use_bias, 1);
    /* The naive kernels need no workspace; the AVX2 kernels need the GEMM's. */
    size_t floats = 99;
    ck_assert(nnr_dense_workspace_size_naive(&p, &s4, &floats).code == NNR_OK);
    ck_assert_uint_eq(floats, 0);
#ifdef NNR_HAVE_AVX2_BUILD
    ck_assert(nnr_dense_workspace_size_avx2(&p, &s4, &floats).code == NNR_OK);
    ck_assert_uint_gt(floats, 0);
#endif
}
END_TEST

START_TEST(dense_float_vs_double_naive)
{
    /* The float and double builds of one naive source agree to float
     * rounding: each is within gamma_{k+1} S of the exact sum (k terms plus
     * the bias; Higham §3.1), the double one far within, so
     * |y_f - y_d| <= gamma_{k+1} S (+ the double's k 2^-52 S), S the same
     * sum over absolute values, for y (k = in), dx (k = units), dW and db
     * (k = rows). */
    const size_t rows = 17, in = 33, units = 9;
    const nnr_shape s = shape2(rows, in);
    nnr_dense_params p = nnr_dense_torch(in, units);
    double *x = tu_alloc_d(rows * in), *w = tu_alloc_d(in * units), *b = tu_alloc_d(units);
    double *dy = tu_alloc_d(rows * units);
    tu_randn_d(x, rows * in, 11, 0.0, 1.0);
    tu_randn_d(w, in * units, 12, 0.0, 1.0);
    tu_randn_d(b, units, 13, 0.0, 1.0);
    tu_randn_d(dy, rows * units, 14, 0.0, 1.0);
    float *xf = tu_alloc_f(rows * in), *wf = tu_alloc_f(in * units), *bf = tu_alloc_f(units);
    float *dyf = tu_alloc_f(rows * units);
    /* Round the inputs to float first, so both builds see the same values. */
    for (size_t i = 0; i < rows * in; i++)
        x[i] = xf[i] = (float)x[i];
    for (size_t i = 0; i < in * units; i++)
        w[i] = wf[i] = (float)w[i];
    for (size_t i = 0; i < units; i++)
        b[i] = bf[i] = (float)b[i];
    for (size_t i = 0; i < rows * units; i++)
        dy[i] = dyf[i] = (float)dy[i];
    double *y = tu_alloc_d(rows * units), *dx = tu_alloc_d(rows * in), *dw = tu_alloc_d(in * units);
    double db[9], ys[9 * 17], dxs[17 * 33], dws[33 * 9], dbs[9];
    float *yf = tu_alloc_f(rows * units), *dxf = tu_alloc_f(rows * in), *dwf = tu_alloc_f(in * units), dbf[9];
    ck_assert(nnr_dense_fwd_naive_f64(&p, &s, x, w, b, y, NULL, 0).code == NNR_OK);
    ck_assert(nnr_dense_bwd_naive_f64(&p, &s, x, w, dy, dx, dw, db, NULL, 0).code == NNR_OK);
    ck_assert(nnr_dense_fwd_naive(&p, &s, xf, wf, bf, yf, NULL, 0).code == NNR_OK);
    ck_assert(nnr_dense_bwd_naive(&p, &s, xf, wf, dyf, dxf, dwf, dbf, NULL, 0).code == NNR_OK);
    /* S: the same kernels on absolute values. */
    for (size_t i = 0; i < rows * in; i++)
        x[i] = fabs(x[i]);
    for (size_t i = 0; i < in * units; i++)
        w[i] = fabs(w[i]);
    for (size_t i = 0; i < units; i++)
        b[i] = fabs(b[i]);
    for (size_t i = 0; i < rows * units; i++)
        dy[i] = fabs(dy[i]);
    ck_assert(nnr_dense_fwd_naive_f64(&p, &s, x, w, b, ys, NULL, 0).code == NNR_OK);
    ck_assert(nnr_dense_bwd_naive_f64(&p, &s, x, w, dy, dxs, dws, dbs, NULL, 0).code == NNR_OK);
    const double u = ldexp(1.0, -24);
#define GAMMA(k) ((double)(k) * u / (1.0 - (double)(k) * u) + (double)(k) * ldexp(1.0, -52))
    for (size_t i = 0; i < rows * units; i++)
        ck_assert_msg(fabs(yf[i] - y[i]) <= GAMMA(in + 1) * ys[i], "y[%zu]", i);
    for (size_t i = 0; i < rows * in; i++)
        ck_assert_msg(fabs(dxf[i] - dx[i]) <= GAMMA(units) * dxs[i], "dx[%zu]", i);
    for (size_t i = 0; i < in * units; i++)
        ck_assert_msg(fabs(dwf[i] - dw[i]) <= GAMMA(rows) * dws[i], "dw[%zu]", i);
    for (size_t i = 0; i < units; i++)
        ck_assert_msg(fabs(dbf[i] - db[i]) <= GAMMA(rows) * dbs[i], "db[%zu]", i);
#undef GAMMA
    free(x), free(w), free(b), free(dy), free(xf), free(wf), free(bf), free(dyf);
    free(y), free(dx), free(dw), free(yf), free(dxf), free(dwf);
}
END_TEST

/* ---- Errors: a status naming the argument, outputs untouched -------------- */

/* Buffers of a 3x4 -> 2 layer, outputs canary-filled. */
typedef struct err_bufs {
    float x[12], w[8], b[2], dy[6];
    float y[6], dx[12], dw[8], db[2];
    float ws[4096];
} err_bufs;

static void err_reset(err_bufs *e)
{
    tu_randn_f(e->x, 12, 21, 0.0, 1.0);
    tu_randn_f(e->w, 8, 22, 0.0, 1.0);
    tu_randn_f(e->b, 2, 23, 0.0, 1.0);
    tu_randn_f(e->dy, 6, 24, 0.0, 1.0);
    tu_fill_canary(e->y, 6);
    tu_fill_canary(e->dx, 12);
    tu_fill_canary(e->dw, 8);
    tu_fill_canary(e->db, 2);
}

static void err_expect(const dense_impl *im, const err_bufs *e, nnr_status st, nnr_code code, const char *word,
                       const char *what)
{
    ck_assert_msg(st.code == code, "%s, %s: code %d (%s), want %d", im->name, what, (int)st.code, nnr_strerror(&st),
                  (int)code);
    ck_assert_msg(strstr(st.message, word) != NULL, "%s, %s: message \"%s\" does not name %s", im->name, what,
                  st.message, word);
    ck_assert_msg(tu_all_canary(e->y, 6) && tu_all_canary(e->dx, 12) && tu_all_canary(e->dw, 8) &&
                      tu_all_canary(e->db, 2),
                  "%s, %s: an output was written on a rejected call", im->name, what);
}

START_TEST(dense_errors)
{
    static err_bufs e;
    dense_impl im[4];
    const size_t n_impl = impls(im);
    const nnr_shape s = shape2(3, 4);
    const nnr_dense_params good = nnr_dense_keras(4, 2);
    for (size_t k = 0; k < n_impl; k++) {
        const dense_impl *m = &im[k];
        const size_t wsf = sizeof e.ws / sizeof e.ws[0];
        size_t need;
        ck_assert(m->ws(&good, &s, &need).code == NNR_OK && need <= wsf);
        nnr_dense_params p;
        nnr_shape t;
        err_reset(&e);

        /* Parameters */
        err_expect(m, &e, m->fwd(NULL, &s, e.x, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_NULL, "p", "p NULL");
        p = good, p.in_features = 0;
        err_expect(m, &e, m->fwd(&p, &s, e.x, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_PARAM, "in_features", "in 0");
        p = good, p.units = 0;
        err_expect(m, &e, m->fwd(&p, &s, e.x, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_PARAM, "units", "units 0");
        p = good, p.weight_layout = (nnr_dense_weight_layout)7;
        err_expect(m, &e, m->bwd(&p, &s, e.x, e.w, e.dy, e.dx, e.dw, e.db, e.ws, wsf), NNR_ERR_PARAM,
                   "weight_layout", "layout 7");
        p = good, p.use_bias = 2;
        err_expect(m, &e, m->fwd(&p, &s, e.x, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_PARAM, "use_bias", "use_bias 2");
        p = good, p.in_features = SIZE_MAX / 2, p.units = 3;
        t = shape2(1, SIZE_MAX / 2);
        err_expect(m, &e, m->fwd(&p, &t, e.x, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_OVERFLOW, "w", "W overflow");

        /* Shapes */
        err_expect(m, &e, m->fwd(&good, NULL, e.x, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_NULL, "in_shape", "shape NULL");
        t = s, t.rank = 0;
        err_expect(m, &e, m->fwd(&good, &t, e.x, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_SHAPE, "rank", "rank 0");
        t = s, t.rank = NNR_MAX_RANK + 1;
        err_expect(m, &e, m->fwd(&good, &t, e.x, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_SHAPE, "rank", "rank 9");
        t = shape2(0, 4);
        err_expect(m, &e, m->bwd(&good, &t, e.x, e.w, e.dy, e.dx, e.dw, e.db, e.ws, wsf), NNR_ERR_SHAPE, "zero",
                   "zero batch");
        t = shape2(3, 5);
        err_expect(m, &e, m->fwd(&good, &t, e.x, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_SHAPE, "in_features",
                   "last extent 5 for in_features 4");
        t = shape2(3, 4);
        t.dims[0] = SIZE_MAX / 4;   /* x countable, y = rows x units is not */
        p = good, p.units = 8;
        err_expect(m, &e, m->fwd(&p, &t, e.x, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_OVERFLOW, "y", "y overflow");
        t = (nnr_shape){3, {SIZE_MAX / 2, 4, 4}};
        err_expect(m, &e, m->fwd(&good, &t, e.x, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_OVERFLOW, "in_shape",
                   "x overflow");

        /* Pointers, forward */
        err_expect(m, &e, m->fwd(&good, &s, NULL, e.w, e.b, e.y, e.ws, wsf), NNR_ERR_NULL, "x", "x NULL");
        err_expect(m, &e, m->fwd(&good, &s, e.x, NULL, e.b, e.y, e.ws, wsf), NNR_ERR_NULL, "w", "w NULL");
        err_expect(m, &e, m->fwd(&good, &s, e.x, e.w, NULL, e.y, e.ws, wsf), NNR_ERR_NULL, "b", "b NULL with bias");
        err_expect(m, &e, m->fwd(&good, &s, e.x, e.w, e.b, NULL, e.ws, wsf), NNR_ERR_NULL, "y", "y NULL");

        /* Pointers, backward */
        err_expect(m, &e, m->bwd(&good, &s, e.x, e.w, e.dy, NULL, NULL, NULL, e.ws, wsf), NNR_ERR_NULL, "nothing",
                   "no gradient asked");
        p = good, p.use_bias = 0;
        err_expect(m, &e, m->bwd(&p, &s, e.x, e.w, e.dy, e.dx, e.dw, e.db, e.ws, wsf), NNR_ERR_PARAM, "db",
                   "db without bias");
        err_expect(m, &e, m->bwd(&good, &s, e.x, e.w, NULL, e.dx, e.dw, e.db, e.ws, wsf), NNR_ERR_NULL, "dy",
                   "dy NULL");
        err_expect(m, &e, m->bwd(&good, &s, NULL, e.w, e.dy, e.dx, e.dw, e.db, e.ws, wsf), NNR_ERR_NULL, "x",
                   "x NULL for dw");
        err_expect(m, &e, m->bwd(&good, &s, e.x, NULL, e.dy, e.dx, e.dw, e.db, e.ws, wsf), NNR_ERR_NULL, "w",
                   "w NULL for dx");

        /* Workspace (only kernels that need one) */
        if (need > 0) {
            err_expect(m, &e, m->fwd(&good, &s, e.x, e.w, e.b, e.y, e.ws, need - 1), NNR_ERR_PARAM,
                       "workspace_floats", "workspace one float short");
            err_expect(m, &e, m->bwd(&good, &s, e.x, e.w, e.dy, e.dx, e.dw, e.db, NULL, need), NNR_ERR_NULL,
                       "workspace", "workspace NULL");
        }

        /* The converse: the calls that are allowed. No bias: b may be NULL;
         * only dx: x may be NULL; only dw: w may be NULL. */
        p = good, p.use_bias = 0;
        ck_assert(m->fwd(&p, &s, e.x, e.w, NULL, e.y, e.ws, wsf).code == NNR_OK);
        ck_assert(m->bwd(&good, &s, NULL, e.w, e.dy, e.dx, NULL, NULL, e.ws, wsf).code == NNR_OK);
        ck_assert(m->bwd(&good, &s, e.x, NULL, e.dy, NULL, e.dw, NULL, e.ws, wsf).code == NNR_OK);
    }
}
END_TEST

/* ---- Numerics ------------------------------------------------------------- */

START_TEST(dense_nonfinite_stay_in_their_row)
{
    /* A NaN in row 1 of x and an inf in row 2 make those rows of y NaN / inf
     * (inf·w of mixed signs adds to NaN, as in IEEE and both frameworks) and
     * leave the other rows finite and equal to the clean run: the AVX2
     * product never mixes rows, even inside one 6-row tile. */
    const size_t rows = 7, in = 19, units = 21;
    const nnr_dense_params p = nnr_dense_keras(in, units);
    const nnr_shape s = shape2(rows, in);
    float *x = tu_alloc_f(rows * in), *w = tu_alloc_f(in * units), *b = tu_alloc_f(units);
    tu_randn_f(x, rows * in, 31, 0.0, 1.0);
    tu_randn_f(w, in * units, 32, 0.0, 1.0);
    tu_randn_f(b, units, 33, 0.0, 1.0);
    dense_impl im[4];
    const size_t n_impl = impls(im);
    for (size_t k = 0; k < n_impl; k++) {
        size_t wsf;
        float *ws = workspace_for(&im[k], &p, &s, &wsf);
        float *clean = tu_alloc_f(rows * units), *y = tu_alloc_f(rows * units);
        ck_assert(im[k].fwd(&p, &s, x, w, b, clean, ws, wsf).code == NNR_OK);
        const float x1 = x[1 * in + 3], x2 = x[2 * in + 5];
        x[1 * in + 3] = NAN;
        x[2 * in + 5] = INFINITY;
        ck_assert(im[k].fwd(&p, &s, x, w, b, y, ws, wsf).code == NNR_OK);
        x[1 * in + 3] = x1;
        x[2 * in + 5] = x2;
        for (size_t r = 0; r < rows; r++)
            for (size_t o = 0; o < units; o++) {
                const float v = y[r * units + o];
                if (r == 1)
                    ck_assert_msg(isnan(v), "%s: y[1][%zu] = %g, want NaN", im[k].name, o, v);
                else if (r == 2)
                    ck_assert_msg(isinf(v) && (v > 0) == (w[5 * units + o] > 0), "%s: y[2][%zu] = %g", im[k].name, o,
                                  v);
                else
                    ck_assert_msg(memcmp(&v, &clean[r * units + o], sizeof v) == 0, "%s: row %zu changed",
                                  im[k].name, r);
            }
        free(ws), free(clean), free(y);
    }
    free(x), free(w), free(b);
}
END_TEST

START_TEST(dense_long_sums)
{
    /* Long reductions, where a blocked sum could lose a block: in = 2100
     * features (7 blocks of the AVX2 product's k) and 1300 rows (5 blocks)
     * for dW and db. Every result against the double naive kernel within
     * gamma_{k+1} S (S from the double kernel on absolute values), k the
     * length of the sum; on these N(1, 1) inputs (mean 1, so S ~ |exact|) a
     * lost or doubled block errs by about 1/7 of the value, far above it. */
    const size_t rows = 1300, in = 2100, units = 3;
    const nnr_dense_params p = nnr_dense_torch(in, units);
    const nnr_shape s = shape2(rows, in);
    float *x = tu_alloc_f(rows * in), *w = tu_alloc_f(in * units), *b = tu_alloc_f(units);
    float *dy = tu_alloc_f(rows * units);
    tu_randn_f(x, rows * in, 41, 1.0, 1.0);
    tu_randn_f(w, in * units, 42, 1.0, 1.0);
    tu_randn_f(b, units, 43, 1.0, 1.0);
    tu_randn_f(dy, rows * units, 44, 1.0, 1.0);
    float *y_ref = tu_alloc_f(rows * units), *y_abs = tu_alloc_f(rows * units);
    float *dw_ref = tu_alloc_f(in * units), *dw_abs = tu_alloc_f(in * units), db_ref[3], db_abs[3];
    /* Reference and S in double (through the float signature: the rounding of
     * the reference to float, 2^-24 |ref|, is inside the bound's slack below). */
    ck_assert(f64_fwd(&p, &s, x, w, b, y_ref, NULL, 0).code == NNR_OK);
    ck_assert(f64_bwd(&p, &s, x, w, dy, NULL, dw_ref, db_ref, NULL, 0).code == NNR_OK);
    float *xa = tu_alloc_f(rows * in), *wa = tu_alloc_f(in * units), ba[3], dya[3900];
    for (size_t i = 0; i < rows * in; i++)
        xa[i] = fabsf(x[i]);
    for (size_t i = 0; i < in * units; i++)
        wa[i] = fabsf(w[i]);
    for (size_t i = 0; i < units; i++)
        ba[i] = fabsf(b[i]);
    for (size_t i = 0; i < rows * units; i++)
        dya[i] = fabsf(dy[i]);
    ck_assert(f64_fwd(&p, &s, xa, wa, ba, y_abs, NULL, 0).code == NNR_OK);
    ck_assert(f64_bwd(&p, &s, xa, wa, dya, NULL, dw_abs, db_abs, NULL, 0).code == NNR_OK);
    const double u = ldexp(1.0, -24);
    dense_impl im[4];
    const size_t n_impl = impls(im);
    for (size_t k = 0; k < n_impl; k++) {
        if (strcmp(im[k].name, "naive_f64") == 0)
            continue;
        size_t wsf;
        float *ws = workspace_for(&im[k], &p, &s, &wsf);
        float *y = tu_alloc_f(rows * units), *dw = tu_alloc_f(in * units), db[3];
        ck_assert(im[k].fwd(&p, &s, x, w, b, y, ws, wsf).code == NNR_OK);
        ck_assert(im[k].bwd(&p, &s, x, w, dy, NULL, dw, db, ws, wsf).code == NNR_OK);
        /* + 2 u: the float rounding of the reference and of S. */
        const double g_in = (double)(in + 1) * u / (1.0 - (double)(in + 1) * u) + 2 * u;
        const double g_rows = (double)(rows + 1) * u / (1.0 - (double)(rows + 1) * u) + 2 * u;
        for (size_t i = 0; i < rows * units; i++)
            ck_assert_msg(fabs((double)y[i] - y_ref[i]) <= g_in * y_abs[i], "%s y[%zu] = %.9g, ref %.9g", im[k].name,
                          i, y[i], y_ref[i]);
        for (size_t i = 0; i < in * units; i++)
            ck_assert_msg(fabs((double)dw[i] - dw_ref[i]) <= g_rows * dw_abs[i], "%s dw[%zu]", im[k].name, i);
        for (size_t i = 0; i < units; i++)
            ck_assert_msg(fabs((double)db[i] - db_ref[i]) <= g_rows * db_abs[i], "%s db[%zu]", im[k].name, i);
        free(ws), free(y), free(dw);
    }
    free(x), free(w), free(b), free(dy), free(y_ref), free(y_abs), free(dw_ref), free(dw_abs), free(xa), free(wa);
}
END_TEST

void dense_layer_add_reference(TCase *tc)
{
    tcase_add_test(tc, dense_hand_example);
    tcase_add_test(tc, dense_keras_torch_layouts);
    tcase_add_test(tc, dense_leading_axes);
}

void dense_layer_add_gradcheck(TCase *tc)
{
    tcase_add_test(tc, dense_gradcheck);
}

void dense_layer_add_shapes(TCase *tc)
{
    tcase_add_test(tc, dense_output_and_weight_shapes);
    tcase_add_test(tc, dense_float_vs_double_naive);
}

void dense_layer_add_errors(TCase *tc)
{
    tcase_add_test(tc, dense_errors);
}

void dense_layer_add_numerics(TCase *tc)
{
    tcase_add_test(tc, dense_nonfinite_stay_in_their_row);
    tcase_add_test(tc, dense_long_sums);
}
