/*
 * Global max and average pooling: document 000's (4, 28, 28, 3) -> (4, 3)
 * and its 1D/3D and keepdims analogues, golden means and maxima, both tie
 * rules of the global max backward, layouts agreeing, bad input with
 * canaries, and the NaN / -inf / huge-value pitfalls of SEMANTICS.md §7.
 * Every float test runs through the naive kernels and, when it is another
 * implementation, the dispatching entry points (the AVX2 kernels).
 */
#include "config.h"
#include <float.h>
#include <stdio.h>
#include "test_util.h"
#include "test_pool.h"

typedef struct global_impl {
    const char *name;
    nnr_global_maxpool_fwd_fn max_fwd;
    nnr_global_maxpool_bwd_fn max_bwd;
    nnr_global_avgpool_fwd_fn avg_fwd;
    nnr_global_avgpool_bwd_fn avg_bwd;
} global_impl;

static size_t global_impls(global_impl out[2])
{
    size_t n = 0;
    out[n++] = (global_impl){"naive", nnr_global_maxpool_fwd_naive, nnr_global_maxpool_bwd_naive,
                             nnr_global_avgpool_fwd_naive, nnr_global_avgpool_bwd_naive};
    if (nnr_impl_current() != NNR_IMPL_NAIVE)
        out[n++] = (global_impl){nnr_impl_name(), nnr_global_maxpool_fwd, nnr_global_maxpool_bwd,
                                 nnr_global_avgpool_fwd, nnr_global_avgpool_bwd};
    return n;
}

static void assert_ok(nnr_status st, const char *what)
{
    ck_assert_msg(st.code == NNR_OK, "%s: %s", what, nnr_strerror(&st));
}

/* ---- Reference ----------------------------------------------------------------- */

/* Document 000: GlobalMaxPooling2D / GlobalAveragePooling2D on (4, 28, 28, 3)
 * give (4, 3); keepdims (4, 1, 1, 3); PyTorch's (N, C, 1, 1); 1D and 3D alike. */
START_TEST(reference_doc000_global_shapes)
{
    for (int dims = 1; dims <= 3; dims++) {
        nnr_shape in = {(size_t)dims + 2, {4}};
        for (int i = 1; i <= dims; i++)
            in.dims[i] = 28;
        in.dims[dims + 1] = 3;
        nnr_global_pool_params p = nnr_global_pool_keras(dims);
        nnr_shape out;
        assert_ok(nnr_global_pool_output_shape(&p, &in, &out), "output shape");
        ck_assert_uint_eq(out.rank, 2);
        ck_assert_uint_eq(out.dims[0], 4);
        ck_assert_uint_eq(out.dims[1], 3);
        p.keepdims = 1;
        assert_ok(nnr_global_pool_output_shape(&p, &in, &out), "output shape");
        ck_assert_uint_eq(out.rank, (size_t)dims + 2);
        ck_assert_uint_eq(out.dims[0], 4);
        for (int i = 1; i <= dims; i++)
            ck_assert_uint_eq(out.dims[i], 1);
        ck_assert_uint_eq(out.dims[dims + 1], 3);

        nnr_global_pool_params t = nnr_global_pool_torch(dims);
        nnr_shape in_cf = {(size_t)dims + 2, {4, 3}};
        for (int i = 0; i < dims; i++)
            in_cf.dims[2 + i] = 28;
        assert_ok(nnr_global_pool_output_shape(&t, &in_cf, &out), "output shape");
        ck_assert_uint_eq(out.rank, (size_t)dims + 2);
        ck_assert_uint_eq(out.dims[1], 3);
        for (int i = 0; i < dims; i++)
            ck_assert_uint_eq(out.dims[2 + i], 1);
    }
}
END_TEST

/* (N=2, 2x2, C=2) channels_last by hand: y in (N, C) order. */
START_TEST(reference_global_values)
{
    global_impl impls[2];
    const size_t n_impls = global_impls(impls);
    /* sample 0: channel 0 = {1, 4, 2, 3}, channel 1 = {-1, -5, -2, -3};
     * sample 1: channel 0 = {0, 0, 8, 0}, channel 1 = {10, 20, 30, 40}. */
    const float x[16] = {1, -1, 4, -5, 2, -2, 3, -3, 0, 10, 0, 20, 8, 30, 0, 40};
    const float want_max[4] = {4, -1, 8, 40}, want_avg[4] = {2.5f, -2.75f, 2, 25};
    nnr_global_pool_params p = nnr_global_pool_keras(2);
    const nnr_shape in = {4, {2, 2, 2, 2}};
    for (size_t k = 0; k < n_impls; k++) {
        float y[4], dx[16];
        assert_ok(impls[k].max_fwd(&p, &in, x, y), impls[k].name);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(y[i] == want_max[i], "%s max y[%d] = %g, want %g", impls[k].name, i, y[i], want_max[i]);
        assert_ok(impls[k].avg_fwd(&p, &in, x, y), impls[k].name);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(y[i] == want_avg[i], "%s avg y[%d] = %g, want %g", impls[k].name, i, y[i], want_avg[i]);
        /* Average backward: dy / 4 on every cell of the plane. */
        const float dy[4] = {4, 8, -4, 2};
        assert_ok(impls[k].avg_bwd(&p, &in, dy, dx), impls[k].name);
        for (int s = 0; s < 4; s++)
            for (int c = 0; c < 2; c++)
                for (int n = 0; n < 2; n++)
                    ck_assert_float_eq(dx[(n * 4 + s) * 2 + c], dy[n * 2 + c] / 4);
        /* Max backward: the maximum's cell only (no ties here). */
        float ymax[4];
        assert_ok(impls[k].max_fwd(&p, &in, x, ymax), impls[k].name);
        assert_ok(impls[k].max_bwd(&p, &in, x, ymax, dy, dx), impls[k].name);
        const float want_dx[16] = {0, 8, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, -4, 0, 0, 2};
        for (int i = 0; i < 16; i++)
            ck_assert_msg(dx[i] == want_dx[i], "%s max dx[%d] = %g, want %g", impls[k].name, i, dx[i], want_dx[i]);
    }
}
END_TEST

/* Ties: reduce-max's rule splits dy among the tied maxima ([5, 5] -> [0.5,
 * 0.5] of dy = 1, Keras/TF/PyTorch amax), the windowed rule gives all to the
 * first ([1, 0]). With NaNs the max is NaN: the windowed rule gives dy to the
 * last NaN; reduce-max's rule finds no cell equal to the max and, like
 * TensorFlow's _MinOrMaxGrad ((x == y) / 0 * dy) and PyTorch's amax
 * backward, gives NaN on the whole plane. */
START_TEST(reference_global_ties)
{
    global_impl impls[2];
    const size_t n_impls = global_impls(impls);
    const float q = NAN;
    /* Three 1D planes of 4 (channels_first): {5, 1, 5, 2}, {q, 1, q, 2}, {3, 3, 3, 3}. */
    const float x[12] = {5, 1, 5, 2, q, 1, q, 2, 3, 3, 3, 3};
    const float dy[3] = {1, 1, 6};
    const nnr_shape in = {3, {1, 3, 4}};
    const float want_split[12] = {0.5f, 0, 0.5f, 0, q, q, q, q, 1.5f, 1.5f, 1.5f, 1.5f};
    const float want_first[12] = {1, 0, 0, 0, 0, 0, 1, 0, 6, 0, 0, 0};
    for (size_t k = 0; k < n_impls; k++)
        for (int rule = 0; rule < 2; rule++) {
            nnr_global_pool_params p = nnr_global_pool_torch(1);
            p.ties = rule == 0 ? NNR_POOL_TIES_SPLIT : NNR_POOL_TIES_FIRST;
            float y[3], dx[12];
            assert_ok(impls[k].max_fwd(&p, &in, x, y), impls[k].name);
            ck_assert(y[0] == 5 && isnan(y[1]) && y[2] == 3);
            assert_ok(impls[k].max_bwd(&p, &in, x, y, dy, dx), impls[k].name);
            const float *want = rule == 0 ? want_split : want_first;
            for (int i = 0; i < 12; i++)
                ck_assert_msg(dx[i] == want[i] || (isnan(dx[i]) && isnan(want[i])), "%s %s dx[%d] = %g, want %g",
                              impls[k].name, rule == 0 ? "split" : "first", i, dx[i], want[i]);
        }
    /* The presets: both frameworks' global max gradient is reduce-max's. */
    ck_assert_int_eq(nnr_global_pool_keras(2).ties, NNR_POOL_TIES_SPLIT);
    ck_assert_int_eq(nnr_global_pool_torch(2).ties, NNR_POOL_TIES_SPLIT);
}
END_TEST

void pool_global_add_reference(TCase *tc)
{
    tcase_add_test(tc, reference_doc000_global_shapes);
    tcase_add_test(tc, reference_global_values);
    tcase_add_test(tc, reference_global_ties);
}

/* ---- Shapes: layouts and ranks agree ----------------------------------------------- */

START_TEST(shapes_global_layouts_agree)
{
    global_impl impls[2];
    const size_t n_impls = global_impls(impls);
    enum { N = 3, C = 5, PLANE = 4 * 3 * 2 };
    float x_cf[N * C * PLANE], x_cl[N * C * PLANE], dx_cf[N * C * PLANE], dx_cl[N * C * PLANE];
    float y_cf[N * C], y_cl[N * C], dy[N * C];
    tu_randn_f(x_cf, N * C * PLANE, 41, 0.0, 1.0);
    tu_randn_f(dy, N * C, 42, 0.0, 1.0);
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++)
            for (size_t s = 0; s < PLANE; s++)
                x_cl[(n * PLANE + s) * C + c] = x_cf[(n * C + c) * PLANE + s];
    for (size_t k = 0; k < n_impls; k++)
        for (int dims = 1; dims <= 3; dims++)
            for (int avg = 0; avg < 2; avg++) {
                /* The plane of 24 cells as (24), (4, 6) or (4, 3, 2). */
                static const size_t ext[3][3] = {{24}, {4, 6}, {4, 3, 2}};
                nnr_shape cf = {(size_t)dims + 2, {N, C}}, cl = {(size_t)dims + 2, {N}};
                for (int i = 0; i < dims; i++) {
                    cf.dims[2 + i] = ext[dims - 1][i];
                    cl.dims[1 + i] = ext[dims - 1][i];
                }
                cl.dims[dims + 1] = C;
                nnr_global_pool_params pf = nnr_global_pool_torch(dims), pl = nnr_global_pool_keras(dims);
                if (avg) {
                    assert_ok(impls[k].avg_fwd(&pf, &cf, x_cf, y_cf), impls[k].name);
                    assert_ok(impls[k].avg_fwd(&pl, &cl, x_cl, y_cl), impls[k].name);
                    assert_ok(impls[k].avg_bwd(&pf, &cf, dy, dx_cf), impls[k].name);
                    assert_ok(impls[k].avg_bwd(&pl, &cl, dy, dx_cl), impls[k].name);
                } else {
                    assert_ok(impls[k].max_fwd(&pf, &cf, x_cf, y_cf), impls[k].name);
                    assert_ok(impls[k].max_fwd(&pl, &cl, x_cl, y_cl), impls[k].name);
                    assert_ok(impls[k].max_bwd(&pf, &cf, x_cf, y_cf, dy, dx_cf), impls[k].name);
                    assert_ok(impls[k].max_bwd(&pl, &cl, x_cl, y_cl, dy, dx_cl), impls[k].name);
                }
                ck_assert_msg(memcmp(y_cf, y_cl, sizeof y_cf) == 0, "%s %dD %s: y differs between layouts",
                              impls[k].name, dims, avg ? "avg" : "max");
                for (size_t n = 0; n < N; n++)
                    for (size_t c = 0; c < C; c++)
                        for (size_t s = 0; s < PLANE; s++)
                            ck_assert(dx_cl[(n * PLANE + s) * C + c] == dx_cf[(n * C + c) * PLANE + s]);
                /* Against the plane's own max and mean in double. */
                for (size_t i = 0; i < N * C; i++) {
                    double sum = 0.0, best = -INFINITY;
                    for (size_t s = 0; s < PLANE; s++) {
                        sum += x_cf[i * PLANE + s];
                        best = fmax(best, x_cf[i * PLANE + s]);
                    }
                    const double want = avg ? sum / PLANE : best;
                    ck_assert_msg(fabs(y_cf[i] - want) <= 1e-7 * (1 + fabs(want)), "%s y[%zu] = %.9g, want %.9g",
                                  impls[k].name, i, y_cf[i], want);
                }
            }
}
END_TEST

/* The double build computes what the float build does: the same maxima,
 * the same means (both sum in double), backwards equal to float rounding. */
START_TEST(shapes_global_float_double_agree)
{
    enum { COUNT = 2 * 4 * 3 * 5 };
    float x[COUNT], y[8], dy[8], dx[COUNT];
    double xd[COUNT], yd[8], dyd[8], dxd[COUNT];
    tu_randn_f(x, COUNT, 61, 0.0, 1.0);
    tu_randn_f(dy, 8, 62, 0.0, 1.0);
    for (size_t i = 0; i < COUNT; i++)
        xd[i] = x[i];
    for (size_t i = 0; i < 8; i++)
        dyd[i] = dy[i];
    const nnr_shape in = {4, {2, 3, 5, 4}};       /* channels_last: (N, H, W, C) = (2, 3, 5, 4) */
    for (int first = 0; first < 2; first++) {
        nnr_global_pool_params p = nnr_global_pool_keras(2);
        p.ties = first ? NNR_POOL_TIES_FIRST : NNR_POOL_TIES_SPLIT;
        assert_ok(nnr_global_maxpool_fwd_naive(&p, &in, x, y), "max float");
        assert_ok(nnr_global_maxpool_fwd_naive_f64(&p, &in, xd, yd), "max double");
        assert_ok(nnr_global_maxpool_bwd_naive(&p, &in, x, y, dy, dx), "max bwd float");
        assert_ok(nnr_global_maxpool_bwd_naive_f64(&p, &in, xd, yd, dyd, dxd), "max bwd double");
        for (size_t i = 0; i < 8; i++)
            ck_assert(y[i] == (float)yd[i]);
        for (size_t i = 0; i < COUNT; i++)
            ck_assert(dx[i] == (float)dxd[i]);
    }
    nnr_global_pool_params p = nnr_global_pool_keras(2);
    assert_ok(nnr_global_avgpool_fwd_naive(&p, &in, x, y), "avg float");
    assert_ok(nnr_global_avgpool_fwd_naive_f64(&p, &in, xd, yd), "avg double");
    assert_ok(nnr_global_avgpool_bwd_naive(&p, &in, dy, dx), "avg bwd float");
    assert_ok(nnr_global_avgpool_bwd_naive_f64(&p, &in, dyd, dxd), "avg bwd double");
    for (size_t i = 0; i < 8; i++)
        ck_assert(y[i] == (float)yd[i]);
    for (size_t i = 0; i < COUNT; i++)
        ck_assert(dx[i] == (float)dxd[i]);
}
END_TEST

void pool_global_add_shapes(TCase *tc)
{
    tcase_add_test(tc, shapes_global_float_double_agree);
    tcase_add_test(tc, shapes_global_layouts_agree);
}

/* ---- Errors ------------------------------------------------------------------------ */

/* Every pass fails with `code` naming `word`, outputs untouched. */
static void expect_global_rejected(const nnr_global_pool_params *p, const nnr_shape *in, nnr_code code,
                                   const char *word)
{
    global_impl impls[2];
    const size_t n_impls = global_impls(impls);
    enum { CAP = 64 };
    float x[CAP] = {0}, y[CAP], dy[CAP] = {0}, dx[CAP];
    for (size_t k = 0; k < n_impls; k++)
        for (int pass = 0; pass < 4; pass++) {
            tu_fill_canary(y, CAP);
            tu_fill_canary(dx, CAP);
            nnr_status st;
            switch (pass) {
            case 0: st = impls[k].max_fwd(p, in, x, y); break;
            case 1: st = impls[k].max_bwd(p, in, x, x, dy, dx); break;
            case 2: st = impls[k].avg_fwd(p, in, x, y); break;
            default: st = impls[k].avg_bwd(p, in, dy, dx); break;
            }
            ck_assert_msg(st.code == code && strstr(st.message, word) != NULL, "%s pass %d: %s (want '%s')",
                          impls[k].name, pass, nnr_strerror(&st), word);
            ck_assert_msg(tu_all_canary(y, CAP) && tu_all_canary(dx, CAP), "%s pass %d wrote an output",
                          impls[k].name, pass);
        }
}

START_TEST(errors_global)
{
    const nnr_shape in = {4, {1, 3, 2, 2}};
    nnr_global_pool_params p = nnr_global_pool_torch(2);
    const nnr_shape r3 = {3, {1, 3, 4}};
    expect_global_rejected(&p, &r3, NNR_ERR_SHAPE, "in_shape has rank 3 but 2D global pooling takes rank 4");
    p.dims = 0;
    expect_global_rejected(&p, &in, NNR_ERR_PARAM, "dims must be 1, 2 or 3");
    p = nnr_global_pool_torch(2);
    p.ties = (nnr_pool_ties)3;
    expect_global_rejected(&p, &in, NNR_ERR_PARAM, "ties");
    p = nnr_global_pool_torch(2);
    p.layout = (nnr_layout)-1;
    expect_global_rejected(&p, &in, NNR_ERR_PARAM, "layout");
    p = nnr_global_pool_torch(2);
    const nnr_shape zero = {4, {1, 3, 0, 2}};
    expect_global_rejected(&p, &zero, NNR_ERR_SHAPE, "in_shape");

    global_impl impls[2];
    const size_t n_impls = global_impls(impls);
    float x[12] = {0}, y[3], dx[12];
    for (size_t k = 0; k < n_impls; k++) {
        tu_fill_canary(dx, 12);
        nnr_status st = impls[k].max_bwd(&p, &in, x, NULL, y, dx);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "y is NULL") && tu_all_canary(dx, 12));
        st = impls[k].max_bwd(&p, &in, x, y, NULL, dx);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "dy is NULL") && tu_all_canary(dx, 12));
        st = impls[k].avg_fwd(&p, &in, NULL, y);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "x is NULL"));
        st = impls[k].avg_bwd(&p, &in, y, NULL);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "dx is NULL"));
        st = impls[k].max_fwd(NULL, &in, x, y);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "params"));
    }
    nnr_shape out;
    nnr_status st = nnr_global_pool_output_shape(&p, &in, NULL);
    ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "out_shape"));
    st = nnr_global_pool_output_shape(&p, NULL, &out);
    ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "in_shape"));
}
END_TEST

void pool_global_add_errors(TCase *tc)
{
    tcase_add_test(tc, errors_global);
}

/* ---- Numerics ------------------------------------------------------------------------ */

/* A NaN anywhere makes the global max NaN; an all -inf plane gives -inf
 * (and its backward, first rule, the first cell); the mean of FLT_MAX cells
 * is FLT_MAX (summed in double). */
START_TEST(numerics_global)
{
    global_impl impls[2];
    const size_t n_impls = global_impls(impls);
    const float q = NAN, inf = INFINITY;
    const float x[15] = {q, 1, 2, 3, 4,   1, 2, 3, 4, q,   -inf, -inf, -inf, -inf, -inf};
    const nnr_shape in = {3, {1, 3, 5}};
    const float big[4] = {FLT_MAX, FLT_MAX, FLT_MAX, FLT_MAX};
    const nnr_shape in_big = {3, {1, 1, 4}};
    for (size_t k = 0; k < n_impls; k++) {
        nnr_global_pool_params p = nnr_global_pool_torch(1);
        p.ties = NNR_POOL_TIES_FIRST;
        float y[3], dx[15];
        const float dy[3] = {1, 2, 3};
        assert_ok(impls[k].max_fwd(&p, &in, x, y), impls[k].name);
        ck_assert_msg(isnan(y[0]) && isnan(y[1]) && y[2] == -inf, "%s y = %g %g %g", impls[k].name, y[0], y[1],
                      y[2]);
        assert_ok(impls[k].max_bwd(&p, &in, x, y, dy, dx), impls[k].name);
        ck_assert(dx[0] == 1 && dx[9] == 2 && dx[10] == 3);
        /* Split among five tied -inf cells: 3/5 each. */
        p.ties = NNR_POOL_TIES_SPLIT;
        assert_ok(impls[k].max_bwd(&p, &in, x, y, dy, dx), impls[k].name);
        for (int i = 10; i < 15; i++)
            ck_assert_float_eq(dx[i], 3.0f / 5);
        assert_ok(impls[k].avg_fwd(&p, &in, x, y), impls[k].name);
        ck_assert(isnan(y[0]) && isnan(y[1]) && y[2] == -inf);
        assert_ok(impls[k].avg_fwd(&p, &in_big, big, y), impls[k].name);
        ck_assert_msg(y[0] == FLT_MAX, "%s mean of FLT_MAX cells = %g", impls[k].name, y[0]);
    }
}
END_TEST

void pool_global_add_numerics(TCase *tc)
{
    tcase_add_test(tc, numerics_global);
}
