/*
 * Convolution cross-validation: the AVX2 kernels against the naive float
 * kernels (same inputs) and against the naive double kernels fed the same
 * inputs widened to double, forward (y) and backward (dx, dw, db).
 *
 * Cases: both data layouts x both weight layouts x Conv1D/Conv2D x kernel
 * 1, 3, 5 x stride 1, 2 x dilation 1, 2 x padding valid, Keras 'same' and
 * explicit (1, 2), with odd channel counts cycling through C_in 1, 3, 7, 9,
 * 17 and C_out 1, 5, 8, 9, 17, bias on and off; a layer large enough that
 * the AVX2 kernel makes several im2col row blocks per sample (33 -> 9
 * channels, 5x5 on 20x40); 1x1 stride-1 layers (the direct path that skips
 * im2col); every buffer offset by one float (unaligned).
 *
 * What must hold, and why. Every result is a float sum of T products (a
 * dot product, or for db plain values), the kernels differing only in the
 * order and grouping of the additions (the GEMM sums k in blocks of up to
 * 320 with FMAs, col2im adds the taps of dx after the GEMM's sums over the
 * channels, dW and db add block by block). Any such evaluation of a sum of
 * T terms, each product exact or rounded once (FMA), lies within
 * gamma_T · S of the exact sum, gamma_T = T·u/(1 − T·u), u = 2^-24, S =
 * the sum of the terms' magnitudes (Higham, Accuracy and Stability of
 * Numerical Algorithms, §3.1 and §4.2, for any summation order). So
 *   |AVX2 − naive float| <= 2 gamma_T S,    |AVX2 − double| <= gamma_(T+1) S
 * (the extra term covers the double kernel's own rounding, ~2^-53 T S),
 * with T and S per tensor:
 *   y:  T = C_in·taps + 1 (bias)   S = conv(|x|, |w|) + |b|
 *   dx: T = C_out·taps             S = the dx of |w| and |dy|
 *   dw: T = N·P + 3                S = the dw of |x| and |dy|  (P output positions)
 *   db: T = N·P + 3                S = the db of |dy|          (+3: the AVX2 lane folds)
 * The S are computed by the double naive kernels on absolute values. The
 * bounds are worst cases, not tolerances tuned to pass: measured errors are
 * far below them, and tests/conv_layer.c's exact-integer case demands
 * bitwise equality where no rounding happens at all.
 */
#include "config.h"
#include <stdio.h>
#include "test_util.h"
#include "test_conv.h"

#ifdef NNR_HAVE_AVX2_BUILD

typedef struct cx_case {
    nnr_conv_params p;
    nnr_shape in;
} cx_case;

#define CX_MAX_CASES 400
static cx_case cx_cases[CX_MAX_CASES];
static int cx_n_cases;

static void add_case(const nnr_conv_params *p, size_t n, size_t cin, const size_t *sp)
{
    if (cx_n_cases >= CX_MAX_CASES)
        return;
    cx_case c;
    c.p = *p;
    c.p.in_channels = (int)cin;
    c.in = conv_in_shape(&c.p, n, cin, sp);
    nnr_shape out;
    if (nnr_conv_output_shape(&c.p, &c.in, &out).code != NNR_OK)
        return;
    cx_cases[cx_n_cases++] = c;
}

static void build_cases(void)
{
    if (cx_n_cases)
        return;
    static const size_t cins[] = {1, 3, 7, 9, 17}, couts[] = {1, 5, 8, 9, 17};
    size_t i = 0;
    for (int cl = 0; cl < 2; cl++)
        for (int wl = 0; wl < 2; wl++)
            for (int dims = 1; dims <= 2; dims++)
                for (int k = 1; k <= 5; k += 2)
                    for (int s = 1; s <= 2; s++)
                        for (int d = 1; d <= 2; d++)
                            for (int pad = 0; pad < 3; pad++, i++) {
                                nnr_conv_params p = nnr_conv_torch(dims, 1, (int)couts[i % 5], k);
                                p.layout = cl ? NNR_CHANNELS_LAST : NNR_CHANNELS_FIRST;
                                p.weight_layout = wl ? NNR_CONV_WEIGHT_KERAS : NNR_CONV_WEIGHT_TORCH;
                                p.use_bias = i % 4 != 3;
                                p.padding = pad == 0 ? NNR_CONV_VALID : pad == 1 ? NNR_CONV_SAME : NNR_CONV_EXPLICIT;
                                p.forbid_strided_same = 0;
                                for (int a = 0; a < dims; a++) {
                                    p.stride[a] = s;
                                    p.dilation[a] = d;
                                    if (pad == 2) {
                                        p.pad_before[a] = 1;
                                        p.pad_after[a] = 2;
                                    }
                                }
                                const size_t sp2[2] = {7, 11}, sp1[1] = {13};
                                add_case(&p, 2, cins[(i / 5 + i) % 5], dims == 2 ? sp2 : sp1);
                            }
    /* several im2col row blocks per sample: K = 33*25 = 825, a 40-wide row
     * is 33000 floats, 3 rows to a 2^17-float block, 20 rows = 7 blocks
     * (the last of 2 rows) */
    for (int cl = 0; cl < 2; cl++) {
        nnr_conv_params p = nnr_conv_torch(2, 33, 9, 5);
        p.layout = cl ? NNR_CHANNELS_LAST : NNR_CHANNELS_FIRST;
        p.weight_layout = cl ? NNR_CONV_WEIGHT_KERAS : NNR_CONV_WEIGHT_TORCH;
        p.padding = NNR_CONV_SAME;
        p.forbid_strided_same = 0;
        const size_t sp[2] = {20, 40};
        add_case(&p, 2, 33, sp);
    }
    /* 1x1 stride 1 (direct path), channel counts across the vector width */
    for (int cl = 0; cl < 2; cl++)
        for (int wl = 0; wl < 2; wl++) {
            nnr_conv_params p = nnr_conv_torch(2, 1, 17, 1);
            p.layout = cl ? NNR_CHANNELS_LAST : NNR_CHANNELS_FIRST;
            p.weight_layout = wl ? NNR_CONV_WEIGHT_KERAS : NNR_CONV_WEIGHT_TORCH;
            const size_t sp[2] = {5, 9};
            add_case(&p, 3, 15, sp);
        }
}

static double gamma_n(double t)
{
    const double u = 0x1p-24;
    return t * u / (1 - t * u);
}

static void fabs_to_double(const float *src, double *abs_dst, double *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = src[i];
        abs_dst[i] = fabs((double)src[i]);
    }
}

/* Compares one tensor: AVX2 a, naive float f, double d, magnitude sums s, T terms. */
static void compare(const char *what, int ci, const float *a, const float *f, const double *d, const double *s,
                    size_t n, double t, double *worst)
{
    const double g2 = 2 * gamma_n(t), g1 = gamma_n(t + 1);
    for (size_t i = 0; i < n; i++) {
        const double ef = fabs((double)a[i] - (double)f[i]), ed = fabs((double)a[i] - d[i]);
        ck_assert_msg(ef <= g2 * s[i] && ed <= g1 * s[i],
                      "case %d %s[%zu]: avx2 %.9g naive %.9g double %.12g (|a-f| %.3g, |a-d| %.3g, bound %.3g)", ci,
                      what, i, a[i], f[i], d[i], ef, ed, g1 * s[i]);
        if (s[i] > 0 && ed / (g1 * s[i]) > *worst)
            *worst = ed / (g1 * s[i]);
    }
}

START_TEST(crosscheck_avx2_vs_naive)
{
    build_cases();
    const int per_run = (cx_n_cases + 3) / 4;
    double worst = 0;
    for (int ci = _i * per_run; ci < cx_n_cases && ci < (_i + 1) * per_run; ci++) {
        const cx_case *c = &cx_cases[ci];
        const nnr_conv_params *p = &c->p;
        size_t n_x, n_y, n_w;
        conv_counts(p, &c->in, &n_x, &n_y, &n_w);
        const size_t n_b = (size_t)p->filters;
        /* one float more than needed, used from element 1: unaligned */
        float *x = tu_alloc_f(n_x + 1) + 1, *w = tu_alloc_f(n_w + 1) + 1, *b = tu_alloc_f(n_b + 1) + 1;
        float *dy = tu_alloc_f(n_y + 1) + 1;
        float *ya = tu_alloc_f(n_y + 1) + 1, *yf = tu_alloc_f(n_y), *dxa = tu_alloc_f(n_x + 1) + 1, *dxf = tu_alloc_f(n_x);
        float *dwa = tu_alloc_f(n_w + 1) + 1, *dwf = tu_alloc_f(n_w), *dba = tu_alloc_f(n_b + 1) + 1, *dbf = tu_alloc_f(n_b);
        tu_randn_f(x, n_x, 100 + (uint64_t)ci, 0.3, 1);
        tu_randn_f(w, n_w, 200 + (uint64_t)ci, 0, 0.5);
        tu_randn_f(b, n_b, 300 + (uint64_t)ci, 0, 1);
        tu_randn_f(dy, n_y, 400 + (uint64_t)ci, 0, 1);
        double *xd = tu_alloc_d(n_x), *xs = tu_alloc_d(n_x), *wd = tu_alloc_d(n_w), *wsum = tu_alloc_d(n_w);
        double *bd = tu_alloc_d(n_b), *bs = tu_alloc_d(n_b), *dyd = tu_alloc_d(n_y), *dys = tu_alloc_d(n_y);
        double *yd = tu_alloc_d(n_y), *ys = tu_alloc_d(n_y), *dxd = tu_alloc_d(n_x), *dxs = tu_alloc_d(n_x);
        double *dwd = tu_alloc_d(n_w), *dws = tu_alloc_d(n_w), *dbd = tu_alloc_d(n_b), *dbs = tu_alloc_d(n_b);
        fabs_to_double(x, xs, xd, n_x);
        fabs_to_double(w, wsum, wd, n_w);
        fabs_to_double(b, bs, bd, n_b);
        fabs_to_double(dy, dys, dyd, n_y);

        size_t floats;
        nnr_status st = nnr_conv_workspace_size_avx2(p, &c->in, &floats);
        ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
        float *ws = tu_alloc_f(floats + 1) + 1;
        float *db_a = p->use_bias ? dba : NULL, *db_f = p->use_bias ? dbf : NULL;
        double *db_d = p->use_bias ? dbd : NULL, *db_s = p->use_bias ? dbs : NULL;
        ck_assert(nnr_conv_fwd_avx2(p, &c->in, x, w, b, ya, ws, floats).code == NNR_OK);
        ck_assert(nnr_conv_bwd_avx2(p, &c->in, x, w, dy, dxa, dwa, db_a, ws, floats).code == NNR_OK);
        ck_assert(nnr_conv_fwd_naive(p, &c->in, x, w, b, yf, NULL, 0).code == NNR_OK);
        ck_assert(nnr_conv_bwd_naive(p, &c->in, x, w, dy, dxf, dwf, db_f, NULL, 0).code == NNR_OK);
        ck_assert(nnr_conv_fwd_naive_f64(p, &c->in, xd, wd, bd, yd, NULL, 0).code == NNR_OK);
        ck_assert(nnr_conv_bwd_naive_f64(p, &c->in, xd, wd, dyd, dxd, dwd, db_d, NULL, 0).code == NNR_OK);
        /* magnitude sums: the same kernels on |x|, |w|, |b|, |dy| */
        ck_assert(nnr_conv_fwd_naive_f64(p, &c->in, xs, wsum, bs, ys, NULL, 0).code == NNR_OK);
        ck_assert(nnr_conv_bwd_naive_f64(p, &c->in, xs, wsum, dys, dxs, dws, db_s, NULL, 0).code == NNR_OK);

        {
            const size_t k = (size_t)p->in_channels * (size_t)p->kernel[0] * (size_t)(p->dims == 2 ? p->kernel[1] : 1);
            const size_t taps = k / (size_t)p->in_channels;
            const size_t np = n_y / n_b;            /* N * P */
            compare("y", ci, ya, yf, yd, ys, n_y, (double)(k + 1), &worst);
            compare("dx", ci, dxa, dxf, dxd, dxs, n_x, (double)(n_b * taps), &worst);
            compare("dw", ci, dwa, dwf, dwd, dws, n_w, (double)(np + 3), &worst);
            if (p->use_bias)
                compare("db", ci, dba, dbf, dbd, dbs, n_b, (double)(np + 3), &worst);
        }
        free(x - 1); free(w - 1); free(b - 1); free(dy - 1); free(ya - 1); free(yf); free(dxa - 1); free(dxf);
        free(dwa - 1); free(dwf); free(dba - 1); free(dbf); free(ws - 1);
        free(xd); free(xs); free(wd); free(wsum); free(bd); free(bs); free(dyd); free(dys);
        free(yd); free(ys); free(dxd); free(dxs); free(dwd); free(dws); free(dbd); free(dbs);
    }
    if (getenv("NNREF_CX_VERBOSE"))
        printf("# conv crosscheck part %d of %d cases: worst |avx2 - double| = %.3g of its bound\n", _i, cx_n_cases,
               worst);
}
END_TEST

/* Every case family is present (the builder silently drops invalid ones). */
START_TEST(crosscheck_case_count)
{
    build_cases();
    ck_assert_int_ge(cx_n_cases, 200);
}
END_TEST

void conv_add_crosscheck(TCase *tc)
{
    if (!nnr_avx2_usable())
        return;
    tcase_add_test(tc, crosscheck_case_count);
    tcase_add_loop_test(tc, crosscheck_avx2_vs_naive, 0, 4);
}

#else

void conv_add_crosscheck(TCase *tc)
{
    (void)tc;
}

#endif
