/*
 * Check program of the activations and the loss (include/nnref/activation.h):
 * ReLU, softmax over the last axis, softmax fused with sparse categorical
 * cross-entropy, with the six test cases every family has:
 *  - reference: values by hand (explained at each test) and Keras'
 *    documented SparseCategoricalCrossentropy example;
 *  - gradcheck: finite differences of the double kernels, ReLU's kinks
 *    reported;
 *  - crosscheck: AVX2 against naive float: ReLU bit for bit; the AVX2
 *    exponential against its stated error; softmax and the loss within bounds
 *    derived from that error (see the block before crosscheck_softmax);
 *  - shapes: ranks, class counts around the vector width, double against float;
 *  - errors: null pointers, shapes, labels out of range; outputs untouched;
 *  - numerics: large logits exact, NaN and infinities.
 */
#include "config.h"
#include <float.h>
#include <stdio.h>
#include "test_util.h"

#define U (ldexp(1.0, -24))   /* unit roundoff of float */

static nnr_shape shape2(size_t rows, size_t k)
{
    nnr_shape s = {2, {rows, k}};
    return s;
}

typedef nnr_status (*xent_fn)(const nnr_shape *, const float *, const int32_t *, float *, float *);

/* The float kernels to run: naive, the dispatching entry point, and AVX2 if usable. */
static int xent_impls(xent_fn f[3])
{
    int n = 0;
    f[n++] = nnr_softmax_xent_naive;
    f[n++] = nnr_softmax_xent;
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable())
        f[n++] = nnr_softmax_xent_avx2;
#endif
    return n;
}

/* ---- reference -------------------------------------------------------------- */

/* ReLU of the special values: y = (x < 0) ? 0 : x keeps -0 and NaN, clips
 * -inf; backward passes dy only where y > 0, so x = 0 (the kink), -0, NaN
 * and negatives get 0. */
START_TEST(reference_relu)
{
    const float x[9] = {-2, -0.0f, 0, 3, NAN, -INFINITY, INFINITY, 1e-40f, 0.5f};
    const float dy[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float want_dx[9] = {0, 0, 0, 4, 0, 0, 7, 8, 9};
    float y[9], dx[9];
    const nnr_shape s = {1, {9}};
    for (int impl = 0; impl < 2; impl++) {
        ck_assert_int_eq((impl ? nnr_relu_fwd : nnr_relu_fwd_naive)(&s, x, y).code, NNR_OK);
        ck_assert(y[0] == 0 && !signbit(y[0]));
        ck_assert(y[1] == 0 && signbit(y[1]));
        ck_assert(y[2] == 0 && y[3] == 3 && isnan(y[4]) && y[5] == 0 && y[6] == INFINITY && y[7] == 1e-40f);
        ck_assert_int_eq((impl ? nnr_relu_bwd : nnr_relu_bwd_naive)(&s, y, dy, dx).code, NNR_OK);
        ck_assert_mem_eq(dx, want_dx, sizeof dx);
    }
}
END_TEST

/*
 * softmax(1, 2, 3): m = 3, e = (e^-2, e^-1, 1) = (0.1353352832, 0.3678794412,
 * 1), s = 1.5032147244, y = (0.0900305732, 0.2447284711, 0.6652409558). The
 * row (1001, 1002, 1003) has the same x - m, so the same y exactly (no
 * overflow: e^1003 would be inf). Float tolerance: the naive kernel rounds
 * e (u), sums 3 terms (2u), divides (u): 5u relative, 8u allowed; AVX2 adds
 * twice the exponential's error (activation.h).
 */
START_TEST(reference_softmax)
{
    const float x[6] = {1, 2, 3, 1001, 1002, 1003};
    const double want[3] = {0.0900305731703805, 0.2447284710547976, 0.6652409557748219};
    float y[6];
    const nnr_shape s = shape2(2, 3);
    for (int impl = 0; impl < 2; impl++) {
        ck_assert_int_eq((impl ? nnr_softmax_fwd : nnr_softmax_fwd_naive)(&s, x, y).code, NNR_OK);
        const double tol = impl ? 8 * U + 2 * NNR_EXPF_AVX2_MAX_REL_ERR : 8 * U;
        for (int c = 0; c < 3; c++) {
            ck_assert_msg(fabs(y[c] - want[c]) <= tol * want[c], "y[%d] = %.9g, want %.9g", c, y[c], want[c]);
            ck_assert(y[3 + c] == y[c]);
        }
    }
    double yd[3];
    const double xd[3] = {1, 2, 3};
    const nnr_shape s1 = shape2(1, 3);
    ck_assert_int_eq(nnr_softmax_fwd_naive_f64(&s1, xd, yd).code, NNR_OK);
    for (int c = 0; c < 3; c++)
        ck_assert(fabs(yd[c] - want[c]) <= 1e-15);
}
END_TEST

/*
 * Large logits, exactly. Logits (1000, 0) twice, labels 0 and 1:
 *  - row 0: m = 1000, s = e^0 + e^-1000 = 1 + 0 = 1, loss = (1000 - 1000)
 *    + log 1 = 0; softmax (1, 0), gradient ((1 - 1)/2, 0/2) = (0, 0);
 *  - row 1: loss = (1000 - 0) + 0 = 1000; gradient (1/2, -1/2).
 * Mean loss (0 + 1000)/2 = 500. Every value is exact in float (e^-1000
 * underflows to 0 in every kernel): no inf, no NaN.
 */
START_TEST(reference_xent_large_logits)
{
    const float logits[4] = {1000, 0, 1000, 0};
    const int32_t labels[2] = {0, 1};
    const float want_d[4] = {0, 0, 0.5f, -0.5f};
    xent_fn f[3];
    const int n_impl = xent_impls(f);
    const nnr_shape s = shape2(2, 2);
    for (int k = 0; k < n_impl; k++) {
        float loss = -1, d[4];
        ck_assert_int_eq(f[k](&s, logits, labels, &loss, d).code, NNR_OK);
        ck_assert(loss == 500.0f);
        ck_assert_mem_eq(d, want_d, sizeof d);
        const nnr_shape s1 = shape2(1, 2);
        ck_assert_int_eq(f[k](&s1, logits, labels, &loss, NULL).code, NNR_OK);
        ck_assert(loss == 0.0f);
        ck_assert_int_eq(f[k](&s1, logits + 2, labels + 1, &loss, NULL).code, NNR_OK);
        ck_assert(loss == 1000.0f);
    }
    const double ld[4] = {1000, 0, 1000, 0};
    double loss_d, dd[4];
    ck_assert_int_eq(nnr_softmax_xent_naive_f64(&s, ld, labels, &loss_d, dd).code, NNR_OK);
    ck_assert(loss_d == 500.0 && dd[0] == 0 && dd[1] == 0 && dd[2] == 0.5 && dd[3] == -0.5);
}
END_TEST

/*
 * Equal logits (0, 0, 0, 0), label 2: softmax 1/4 each, loss log 4 =
 * 1.3862943611198906, gradient (1/4, 1/4, -3/4, 1/4) exactly (every step is
 * exact in float: e = 1, s = 4, 1/4 - 1 = -3/4). Batch of 3 identical rows:
 * the same loss, the gradient divided by 3.
 */
START_TEST(reference_xent_uniform)
{
    float logits[12] = {0}, d[12];
    const int32_t labels[3] = {2, 2, 2};
    xent_fn f[3];
    const int n_impl = xent_impls(f);
    for (int k = 0; k < n_impl; k++) {
        float loss;
        const nnr_shape s1 = shape2(1, 4), s3 = shape2(3, 4);
        ck_assert_int_eq(f[k](&s1, logits, labels, &loss, d).code, NNR_OK);
        ck_assert(d[0] == 0.25f && d[1] == 0.25f && d[2] == -0.75f && d[3] == 0.25f);
        ck_assert(fabs(loss - 1.3862943611198906) <= 2 * U * 1.39);
        ck_assert_int_eq(f[k](&s3, logits, labels, &loss, d).code, NNR_OK);
        ck_assert(fabs(loss - 1.3862943611198906) <= 2 * U * 1.39);
        for (int c = 0; c < 12; c++)
            ck_assert(d[c] == (c % 4 == 2 ? -0.75f / 3.0f : 0.25f / 3.0f));
    }
}
END_TEST

/*
 * Keras' documented example (keras.io, SparseCategoricalCrossentropy):
 * y_true = [1, 2], y_pred = [[0.05, 0.95, 0], [0.1, 0.8, 0.1]] gives 1.177.
 * As logits, log of the probabilities (log 0 = -inf: a class with no mass):
 * loss = (-log 0.95 - log 0.1)/2 = (0.0512932944 + 2.302585093)/2 =
 * 1.1769391938. (Keras computes it from the probabilities, clipping them to
 * [1e-7, 1 - 1e-7]; from logits no clipping is needed.) The -inf logit gives
 * probability 0 and gradient 0/N, not NaN.
 */
START_TEST(reference_xent_keras_example)
{
    const float logits[6] = {logf(0.05f), logf(0.95f), -INFINITY, logf(0.1f), logf(0.8f), logf(0.1f)};
    const int32_t labels[2] = {1, 2};
    xent_fn f[3];
    const int n_impl = xent_impls(f);
    const nnr_shape s = shape2(2, 3);
    for (int k = 0; k < n_impl; k++) {
        float loss, d[6];
        ck_assert_int_eq(f[k](&s, logits, labels, &loss, d).code, NNR_OK);
        ck_assert_msg(fabs(loss - 1.1769391938) <= 1e-6, "loss %.9g", loss);
        ck_assert(d[2] == 0.0f);
        ck_assert(fabs(d[1] - (0.95 - 1) / 2) <= 1e-6 && fabs(d[5] - (0.1 - 1) / 2) <= 1e-6);
    }
}
END_TEST

/* ---- gradcheck ---------------------------------------------------------------- */

/* ReLU: the two planted entries at the kink (0 and 1e-9) are reported as
 * kinks, the rest pass at the default double tolerances (ReLU is exactly
 * linear away from 0). An input of your own with zeros shows its kinks too. */
START_TEST(gradcheck_relu)
{
    const nnr_shape s = {3, {2, 3, 4}};
    nnr_gc_report r;
    nnr_status st = nnr_gradcheck_relu(&s, NULL, 7, NULL, &r);
    ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
    ck_assert(r.passed);
    ck_assert_uint_eq(r.tensors[0].kinks, 2);
    ck_assert_uint_eq(r.tensors[0].checked, 24);
    double x[6] = {0, -1, 2, 0, 3, -4};
    const nnr_shape s6 = {1, {6}};
    st = nnr_gradcheck_relu(&s6, x, 0, NULL, &r);
    ck_assert_int_eq(st.code, NNR_OK);
    ck_assert(r.passed);
    ck_assert_uint_eq(r.tensors[0].kinks, 2);
}
END_TEST

/* Softmax and the cross-entropy are smooth: every entry judged, none a kink,
 * worst relative error far below the harness' rtol (1e-6). K = 1 (softmax
 * constant 1, gradient 0) included. */
START_TEST(gradcheck_softmax_xent)
{
    const nnr_shape shapes[] = {{2, {3, 5}}, {3, {2, 3, 4}}, {2, {4, 1}}, {2, {2, 17}}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        nnr_gc_report r;
        nnr_status st = nnr_gradcheck_softmax(&shapes[k], NULL, 40 + k, NULL, &r);
        ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
        ck_assert_msg(r.passed && r.tensors[0].kinks == 0, "softmax case %zu: rel err %g", k,
                      r.tensors[0].max_rel_err);
        if (shapes[k].rank != 2)
            continue;
        st = nnr_gradcheck_softmax_xent(&shapes[k], NULL, NULL, 50 + k, NULL, &r);
        ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
        ck_assert_msg(r.passed && r.tensors[0].kinks == 0, "xent case %zu: rel err %g", k,
                      r.tensors[0].max_rel_err);
    }
    /* large logits: scaled by 50, the softmax saturates; still exact gradients */
    double logits[12];
    for (int i = 0; i < 12; i++)
        logits[i] = 50.0 * nnr_rng_normal(3, (uint64_t)i);
    const int32_t labels[3] = {0, 3, 1};
    const nnr_shape s = shape2(3, 4);
    nnr_gc_report r;
    ck_assert_int_eq(nnr_gradcheck_softmax_xent(&s, logits, labels, 0, NULL, &r).code, NNR_OK);
    ck_assert(r.passed);
}
END_TEST

/* ---- crosscheck ---------------------------------------------------------------- */

#ifdef NNR_HAVE_AVX2_BUILD
/* ReLU AVX2 = naive bit for bit (the same compare and select per element):
 * sizes 1..40 and 1001, unaligned, with NaN, +-0 and +-inf. */
START_TEST(crosscheck_relu)
{
    for (size_t n = 1; n <= 1001; n = n < 40 ? n + 1 : n + 961) {
        float *xb = tu_alloc_f(n + 1), *ya = tu_alloc_f(n + 1), *yn = tu_alloc_f(n + 1);
        float *dy = tu_alloc_f(n), *da = tu_alloc_f(n), *dn = tu_alloc_f(n);
        float *x = xb + 1;
        tu_randn_f(x, n, n, 0.0, 1.0);
        tu_randn_f(dy, n, n + 7, 0.0, 1.0);
        const float special[5] = {NAN, -0.0f, 0.0f, INFINITY, -INFINITY};
        for (size_t i = 0; i < n && i < 5; i++)
            x[(i * 7) % n] = special[i];
        const nnr_shape s = {1, {n}};
        ck_assert_int_eq(nnr_relu_fwd_avx2(&s, x, ya + 1).code, NNR_OK);
        ck_assert_int_eq(nnr_relu_fwd_naive(&s, x, yn + 1).code, NNR_OK);
        ck_assert(memcmp(ya + 1, yn + 1, n * sizeof(float)) == 0);
        ck_assert_int_eq(nnr_relu_bwd_avx2(&s, ya + 1, dy, da).code, NNR_OK);
        ck_assert_int_eq(nnr_relu_bwd_naive(&s, yn + 1, dy, dn).code, NNR_OK);
        ck_assert(memcmp(da, dn, n * sizeof(float)) == 0);
        free(xb);
        free(ya);
        free(yn);
        free(dy);
        free(da);
        free(dn);
    }
}
END_TEST

/* The AVX2 exponential against exp() in double: relative error within
 * NNR_EXPF_AVX2_MAX_REL_ERR on 2^20 arguments spread evenly in value over
 * [ln(FLT_MIN), 0] and 2^20 spread evenly in bit pattern (tiny arguments);
 * 0 below ln(FLT_MIN) and for -inf; NaN for NaN; e^0 = 1 exactly. (The
 * bound itself was measured over every float of the domain, exp_avx2.h.) */
START_TEST(crosscheck_expf)
{
    const size_t n = (size_t)1 << 20;
    float *x = tu_alloc_f(n), *y = tu_alloc_f(n);
    const float lo = -87.3365447505531f;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (pass == 0) {
                x[i] = lo * (float)nnr_rng_uniform(77, i);
            } else {
                const uint32_t lo_bits = 0xC2AEAC50u;   /* bits of lo */
                uint32_t b = 0x80000000u + (uint32_t)((double)(lo_bits - 0x80000000u) * nnr_rng_uniform(78, i));
                memcpy(&x[i], &b, sizeof b);
                if (x[i] < lo)
                    x[i] = lo;
            }
        }
        nnr_expf_avx2(n, x, y);
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            const double e = exp((double)x[i]);
            const double rel = fabs(y[i] - e) / e;
            if (rel > worst)
                worst = rel;
        }
        ck_assert_msg(worst <= NNR_EXPF_AVX2_MAX_REL_ERR, "pass %d: max relative error %.3g", pass, worst);
    }
    const float special[7] = {-87.4f, -100.0f, -INFINITY, NAN, 0.0f, -0.0f, -FLT_MIN};
    float out[7];
    nnr_expf_avx2(7, special, out);
    ck_assert(out[0] == 0 && out[1] == 0 && out[2] == 0 && isnan(out[3]));
    ck_assert(out[4] == 1.0f && out[5] == 1.0f && out[6] == 1.0f);
    free(x);
    free(y);
}
END_TEST

/*
 * Softmax and cross-entropy, AVX2 against naive float. Let u = 2^-24 and
 * eps = NNR_EXPF_AVX2_MAX_REL_ERR. For a row of K classes, with E_c the exact
 * e^(x_c - m) (x_c - m is the same exact float in both kernels):
 *  - e_c: naive exp() rounded to float, within u(1 + 2^-29) of E_c; AVX2
 *    within eps;
 *  - s = sum e_c (positive terms): naive in order, AVX2 in 8 lanes and then
 *    across in double: each within (K - 1) u sum E + its e errors, so
 *    s_n = S (1 + d_n), |d_n| <= K u, and s_a = S (1 + d_a), |d_a| <= eps + K u;
 *  - p_c = e_c / s, one more rounding u each. Hence
 *    |p_a - p_n| <= (2 eps + (2K + 4) u) p_n, plus FLT_MIN for arguments
 *    below ln(FLT_MIN), which the AVX2 exponential flushes to 0.
 *  - softmax backward, from the same y and dy: the dot products differ by at
 *    most 2K u sum|dy y| (each within K u of the exact one), then
 *    y (dy - dot) rounds twice: |dx_a - dx_n| <= |y| (2K u sum|dy y| +
 *    2u (|dy| + |dot|)) + 2u |dx_n|.
 *  - loss: m - x_t is the same float in both; log s differs by
 *    |d_a| + |d_n| <= eps + 2K u (s >= 1) and is rounded to float (u log K
 *    each); the sum with m - x_t rounds (u |l| each) and the mean is rounded
 *    once more (u |L| each): |L_a - L_n| <= eps + 2K u + 2u log K +
 *    2u max|l_n| + 2u |L_n|.
 *  - gradient d_c = (p_c - [c = t]) / N: the p bound, plus the subtraction's
 *    rounding for c = t (2u |p_n - 1|) and the division's (2u |d_n|).
 * Classes 1..17, 31..33, 64, 100, 1000; batch 1..5; logits N(0, 2), rows
 * shifted by 1000, and N(0, 40) rows whose small terms underflow; unaligned.
 */
static void crosscheck_rows(tu_tally *t, size_t rows, size_t k, uint64_t seed)
{
    t->cases++;
    const size_t count = rows * k;
    float *xb = tu_alloc_f(count + 1), *pa = tu_alloc_f(count), *pn = tu_alloc_f(count);
    float *dy = tu_alloc_f(count), *dxa = tu_alloc_f(count), *dxn = tu_alloc_f(count);
    float *da = tu_alloc_f(count + 1), *dn = tu_alloc_f(count);
    int32_t *labels = malloc(rows * sizeof(int32_t));
    ck_assert_ptr_nonnull(labels);
    float *x = xb + 1;
    for (size_t r = 0; r < rows; r++) {
        const double sd = r % 3 == 2 ? 40.0 : 2.0, shift = r % 3 == 1 ? 1000.0 : 0.0;
        tu_randn_f(x + r * k, k, seed * 31 + r, shift, sd);
        labels[r] = (int32_t)(nnr_rng_uniform(seed, r) * (double)k);
    }
    tu_randn_f(dy, count, seed + 5, 0.0, 1.0);
    const nnr_shape s = shape2(rows, k);
    const double eps = NNR_EXPF_AVX2_MAX_REL_ERR, K = (double)k;

    /* softmax forward */
    ck_assert_int_eq(nnr_softmax_fwd_avx2(&s, x, pa).code, NNR_OK);
    ck_assert_int_eq(nnr_softmax_fwd_naive(&s, x, pn).code, NNR_OK);
    for (size_t i = 0; i < count; i++) {
        const double bound = (2 * eps + (2 * K + 4) * U) * pn[i] + FLT_MIN, err = fabs(pa[i] - pn[i]);
        if (!tu_judge(t, err <= bound, err, bound))
            tu_note(t, "softmax rows %zu K %zu [%zu]: %.9g vs %.9g (bound %.3g)", rows, k, i, pa[i], pn[i], bound);
    }
    /* softmax backward from the naive y */
    ck_assert_int_eq(nnr_softmax_bwd_avx2(&s, pn, dy, dxa).code, NNR_OK);
    ck_assert_int_eq(nnr_softmax_bwd_naive(&s, pn, dy, dxn).code, NNR_OK);
    for (size_t r = 0; r < rows; r++) {
        double dot = 0, abs_dot = 0;
        for (size_t c = 0; c < k; c++) {
            dot += (double)dy[r * k + c] * pn[r * k + c];
            abs_dot += fabs((double)dy[r * k + c] * pn[r * k + c]);
        }
        for (size_t c = 0; c < k; c++) {
            const size_t i = r * k + c;
            const double bound = fabs(pn[i]) * (2 * K * U * abs_dot + 2 * U * (fabs(dy[i]) + fabs(dot) + abs_dot)) +
                                 2 * U * fabs(dxn[i]) + FLT_MIN;
            const double err = fabs(dxa[i] - dxn[i]);
            if (!tu_judge(t, err <= bound, err, bound))
                tu_note(t, "softmax bwd rows %zu K %zu [%zu]: %.9g vs %.9g (bound %.3g)", rows, k, i, dxa[i],
                        dxn[i], bound);
        }
    }
    /* cross-entropy: loss and gradient (AVX2 in place over a copy of x) */
    float la, ln;
    memcpy(da + 1, x, count * sizeof(float));
    ck_assert_int_eq(nnr_softmax_xent_avx2(&s, da + 1, labels, &la, da + 1).code, NNR_OK);
    ck_assert_int_eq(nnr_softmax_xent_naive(&s, x, labels, &ln, dn).code, NNR_OK);
    double max_l = 0;
    for (size_t r = 0; r < rows; r++) {
        float m = x[r * k];
        for (size_t c = 1; c < k; c++)
            m = x[r * k + c] > m ? x[r * k + c] : m;
        const double l = (double)(m - x[r * k + (size_t)labels[r]]) + log(K);
        max_l = l > max_l ? l : max_l;
    }
    const double loss_bound = eps + 2 * K * U + 2 * U * log(K) + 2 * U * max_l + 2 * U * fabs(ln);
    if (!tu_judge(t, fabs(la - ln) <= loss_bound, fabs(la - ln), loss_bound))
        tu_note(t, "loss rows %zu K %zu: %.9g vs %.9g (bound %.3g)", rows, k, la, ln, loss_bound);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < k; c++) {
            const size_t i = r * k + c;
            const double onehot = c == (size_t)labels[r] ? 1.0 : 0.0;
            const double bound = ((2 * eps + (2 * K + 4) * U) * pn[i] + FLT_MIN + 2 * U * fabs(pn[i] - onehot)) /
                                     (double)rows + 2 * U * fabs(dn[i]);
            const double err = fabs(da[1 + i] - dn[i]);
            if (!tu_judge(t, err <= bound, err, bound))
                tu_note(t, "dlogits rows %zu K %zu [%zu]: %.9g vs %.9g (bound %.3g)", rows, k, i, da[1 + i], dn[i],
                        bound);
        }
    free(xb);
    free(pa);
    free(pn);
    free(dy);
    free(dxa);
    free(dxn);
    free(da);
    free(dn);
    free(labels);
}

START_TEST(crosscheck_softmax_xent)
{
    size_t ks[32], n_k = 0;
    for (size_t k = 1; k <= 17; k++)
        ks[n_k++] = k;
    const size_t more[] = {31, 32, 33, 64, 100, 1000};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        ks[n_k++] = more[i];
    tu_tally t = {0};
    for (size_t i = 0; i < n_k; i++)
        for (size_t rows = 1; rows <= 5; rows++)
            crosscheck_rows(&t, rows, ks[i], 100 * i + rows);
    /* 23 class counts x 5 batch sizes; softmax, its backward, the loss and dlogits within their bounds */
    ck_assert_uint_eq(t.cases, 23 * 5);
    ck_assert_msg(t.bad == 0, "%zu of %zu AVX2 values outside their bound (worst %.3g of it); first: %s", t.bad,
                  t.checked, t.worst, t.first);
}
END_TEST
#endif

/* ---- shapes ------------------------------------------------------------------- */

/* Softmax over the last axis of ranks 1 to 4 equals the rank-2 view (rows,
 * K) exactly, and every row sums to 1 within K u (+ the exp error for AVX2). */
START_TEST(shapes_softmax_ranks)
{
    float x[120], y[120], y2[120];
    tu_randn_f(x, 120, 9, 0.0, 3.0);
    const nnr_shape shapes[] = {{1, {120}}, {2, {6, 20}}, {3, {2, 3, 20}}, {4, {2, 3, 4, 5}}};
    for (size_t k = 0; k < 4; k++) {
        const nnr_shape *s = &shapes[k];
        const size_t cls = s->dims[s->rank - 1], rows = 120 / cls;
        const nnr_shape flat = shape2(rows, cls);
        ck_assert_int_eq(nnr_softmax_fwd(s, x, y).code, NNR_OK);
        ck_assert_int_eq(nnr_softmax_fwd(&flat, x, y2).code, NNR_OK);
        ck_assert_mem_eq(y, y2, sizeof y);
        for (size_t r = 0; r < rows; r++) {
            double sum = 0;
            for (size_t c = 0; c < cls; c++)
                sum += y[r * cls + c];
            ck_assert(fabs(sum - 1) <= (double)(cls + 2) * U + 2 * NNR_EXPF_AVX2_MAX_REL_ERR);
        }
    }
}
END_TEST

/* The float naive kernels against the double ones on the same inputs: ReLU
 * exact (it selects), softmax within (K + 3) u relative (the float rounding
 * of e, the sum and the division), loss within (K + 3) u + 2 u |L|. */
START_TEST(shapes_float_vs_double)
{
    const size_t rows = 4, k = 9, n = rows * k;
    float x[36], y[36], d[36];
    double xd[36], yd[36], dd[36];
    int32_t labels[4] = {0, 8, 3, 5};
    tu_randn_f(x, n, 21, 0.0, 2.0);
    for (size_t i = 0; i < n; i++)
        xd[i] = x[i];
    const nnr_shape s = shape2(rows, k);
    ck_assert_int_eq(nnr_relu_fwd_naive(&s, x, y).code, NNR_OK);
    ck_assert_int_eq(nnr_relu_fwd_naive_f64(&s, xd, yd).code, NNR_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert(y[i] == yd[i]);
    ck_assert_int_eq(nnr_softmax_fwd_naive(&s, x, y).code, NNR_OK);
    ck_assert_int_eq(nnr_softmax_fwd_naive_f64(&s, xd, yd).code, NNR_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert(fabs(y[i] - yd[i]) <= (double)(k + 3) * U * yd[i]);
    float loss;
    double loss_d;
    ck_assert_int_eq(nnr_softmax_xent_naive(&s, x, labels, &loss, d).code, NNR_OK);
    ck_assert_int_eq(nnr_softmax_xent_naive_f64(&s, xd, labels, &loss_d, dd).code, NNR_OK);
    ck_assert(fabs(loss - loss_d) <= (double)(k + 3) * U + 2 * U * fabs(loss_d) + 2 * U * 10);
}
END_TEST

/* ---- errors -------------------------------------------------------------------- */

/* Labels out of range, a rank other than 2, null pointers: the status names
 * the argument (for a label, its index and value) and loss and dlogits keep
 * their canaries. dlogits NULL is allowed (loss only). */
START_TEST(errors_xent)
{
    const float logits[6] = {1, 2, 3, 4, 5, 6};
    xent_fn f[3];
    const int n_impl = xent_impls(f);
    const nnr_shape s = shape2(2, 3);
    const struct {
        int32_t labels[2];
        const char *word;
    } bad[] = {{{0, 3}, "labels[1] is 3"}, {{-1, 0}, "labels[0] is -1"}, {{INT32_MIN, 2}, "labels[0]"}};
    for (int k = 0; k < n_impl; k++) {
        float loss, d[6];
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            loss = NNR_CANARY;
            tu_fill_canary(d, 6);
            nnr_status st = f[k](&s, logits, bad[b].labels, &loss, d);
            ck_assert_int_eq(st.code, NNR_ERR_PARAM);
            ck_assert_msg(strstr(nnr_strerror(&st), bad[b].word) != NULL, "%s", nnr_strerror(&st));
            ck_assert(tu_all_canary(&loss, 1) && tu_all_canary(d, 6));
        }
        const int32_t good[2] = {0, 2};
        const nnr_shape s3 = {3, {1, 2, 3}};
        nnr_status st = f[k](&s3, logits, good, &loss, d);
        ck_assert_int_eq(st.code, NNR_ERR_SHAPE);
        ck_assert(strstr(nnr_strerror(&st), "rank") != NULL);
        ck_assert_int_eq(f[k](&s, NULL, good, &loss, d).code, NNR_ERR_NULL);
        ck_assert_int_eq(f[k](&s, logits, NULL, &loss, d).code, NNR_ERR_NULL);
        st = f[k](&s, logits, good, NULL, d);
        ck_assert_int_eq(st.code, NNR_ERR_NULL);
        ck_assert(strstr(nnr_strerror(&st), "loss") != NULL);
        ck_assert_int_eq(f[k](NULL, logits, good, &loss, d).code, NNR_ERR_NULL);
        const nnr_shape zero = shape2(2, 0);
        ck_assert_int_eq(f[k](&zero, logits, good, &loss, d).code, NNR_ERR_SHAPE);
        ck_assert(tu_all_canary(&loss, 1) && tu_all_canary(d, 6));
        ck_assert_int_eq(f[k](&s, logits, good, &loss, NULL).code, NNR_OK);
    }
}
END_TEST

/* ReLU and softmax: null pointers and bad shapes rejected, outputs untouched. */
START_TEST(errors_relu_softmax)
{
    float x[8] = {0}, y[8];
    const nnr_shape s = {1, {8}}, zero = {2, {2, 0}}, rank0 = {0, {0}};
    typedef nnr_status (*fwd)(const nnr_shape *, const float *, float *);
    typedef nnr_status (*bwd)(const nnr_shape *, const float *, const float *, float *);
    const fwd fwds[4] = {nnr_relu_fwd_naive, nnr_relu_fwd, nnr_softmax_fwd_naive, nnr_softmax_fwd};
    const bwd bwds[4] = {nnr_relu_bwd_naive, nnr_relu_bwd, nnr_softmax_bwd_naive, nnr_softmax_bwd};
    for (int k = 0; k < 4; k++) {
        tu_fill_canary(y, 8);
        nnr_status st = fwds[k](&s, NULL, y);
        ck_assert(st.code == NNR_ERR_NULL && strstr(nnr_strerror(&st), "x") != NULL);
        st = fwds[k](&s, x, NULL);
        ck_assert(st.code == NNR_ERR_NULL && strstr(nnr_strerror(&st), "y") != NULL);
        ck_assert_int_eq(fwds[k](&zero, x, y).code, NNR_ERR_SHAPE);
        ck_assert_int_eq(fwds[k](&rank0, x, y).code, NNR_ERR_SHAPE);
        ck_assert_int_eq(fwds[k](NULL, x, y).code, NNR_ERR_NULL);
        st = bwds[k](&s, x, NULL, y);
        ck_assert(st.code == NNR_ERR_NULL && strstr(nnr_strerror(&st), "dy") != NULL);
        st = bwds[k](&s, x, x, NULL);
        ck_assert(st.code == NNR_ERR_NULL && strstr(nnr_strerror(&st), "dx") != NULL);
        ck_assert_int_eq(bwds[k](&zero, x, x, y).code, NNR_ERR_SHAPE);
        ck_assert(tu_all_canary(y, 8));
    }
}
END_TEST

/* ---- numerics ------------------------------------------------------------------ */

/*
 * Huge logits stay exact: (1e30, -1e30) gives loss 0 (label 0) and 2e30
 * (label 1), finite. A NaN logit makes its row's loss and gradient NaN (so
 * the mean loss is NaN) and leaves the other rows' gradients alone; a +inf
 * logit gives NaN in its row (inf - inf), as PyTorch and TensorFlow; a -inf
 * logit that is not the label has probability 0, and as the label it gives
 * loss +inf and gradient -1/N there.
 */
START_TEST(numerics_xent_extremes)
{
    xent_fn f[3];
    const int n_impl = xent_impls(f);
    for (int k = 0; k < n_impl; k++) {
        const float huge[4] = {1e30f, -1e30f, 1e30f, -1e30f};
        const int32_t l01[2] = {0, 1};
        const nnr_shape s12 = shape2(1, 2);
        float loss, d[6];
        ck_assert_int_eq(f[k](&s12, huge, l01, &loss, d).code, NNR_OK);
        ck_assert(loss == 0.0f && d[0] == 0.0f && d[1] == 0.0f);
        ck_assert_int_eq(f[k](&s12, huge, l01 + 1, &loss, d).code, NNR_OK);
        ck_assert(loss == 2e30f && d[0] == 1.0f && d[1] == -1.0f);

        const float with_nan[6] = {0, NAN, 1, 0, 1, 2};
        const int32_t l2[2] = {0, 2};
        const nnr_shape s23 = shape2(2, 3);
        ck_assert_int_eq(f[k](&s23, with_nan, l2, &loss, d).code, NNR_OK);
        ck_assert(isnan(loss) && isnan(d[0]) && isnan(d[1]) && isnan(d[2]));
        ck_assert(isfinite(d[3]) && isfinite(d[4]) && isfinite(d[5]));

        const float with_inf[6] = {0, INFINITY, 1, -INFINITY, 1, 2};
        ck_assert_int_eq(f[k](&s23, with_inf, l2, &loss, d).code, NNR_OK);
        ck_assert(isnan(d[0]) && isnan(d[1]) && isnan(d[2]));
        ck_assert(d[3] == 0.0f && isfinite(d[4]));

        const int32_t at_minus_inf[1] = {0};
        const nnr_shape s13 = shape2(1, 3);
        ck_assert_int_eq(f[k](&s13, with_inf + 3, at_minus_inf, &loss, d).code, NNR_OK);
        ck_assert(loss == INFINITY && d[0] == -1.0f);
    }
}
END_TEST

/* Softmax of a constant row is exactly 1/K (e = 1, s = K); a row with one
 * dominant entry is exactly one-hot once the others underflow. */
START_TEST(numerics_softmax_saturation)
{
    float x[16], y[16];
    for (int i = 0; i < 16; i++)
        x[i] = 7.5f;
    const nnr_shape s = shape2(1, 16);
    for (int impl = 0; impl < 2; impl++) {
        ck_assert_int_eq((impl ? nnr_softmax_fwd : nnr_softmax_fwd_naive)(&s, x, y).code, NNR_OK);
        for (int i = 0; i < 16; i++)
            ck_assert(y[i] == 1.0f / 16);
        x[5] = 200.0f;
        ck_assert_int_eq((impl ? nnr_softmax_fwd : nnr_softmax_fwd_naive)(&s, x, y).code, NNR_OK);
        for (int i = 0; i < 16; i++)
            ck_assert(y[i] == (i == 5 ? 1.0f : 0.0f));
        x[5] = 7.5f;
    }
}
END_TEST

static Suite *act_suite(void)
{
    Suite *s = suite_create("act");
    TCase *reference = tcase_create("reference");
    TCase *gradcheck = tcase_create("gradcheck");
    TCase *crosscheck = tcase_create("crosscheck");
    TCase *shapes = tcase_create("shapes");
    TCase *errors = tcase_create("errors");
    TCase *numerics = tcase_create("numerics");
    tcase_set_timeout(gradcheck, 30);
    tcase_set_timeout(crosscheck, 60);

    tcase_add_test(reference, reference_relu);
    tcase_add_test(reference, reference_softmax);
    tcase_add_test(reference, reference_xent_large_logits);
    tcase_add_test(reference, reference_xent_uniform);
    tcase_add_test(reference, reference_xent_keras_example);
    tcase_add_test(gradcheck, gradcheck_relu);
    tcase_add_test(gradcheck, gradcheck_softmax_xent);
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable()) {
        tcase_add_test(crosscheck, crosscheck_relu);
        tcase_add_test(crosscheck, crosscheck_expf);
        tcase_add_test(crosscheck, crosscheck_softmax_xent);
    }
#endif
    tcase_add_test(shapes, shapes_softmax_ranks);
    tcase_add_test(shapes, shapes_float_vs_double);
    tcase_add_test(errors, errors_xent);
    tcase_add_test(errors, errors_relu_softmax);
    tcase_add_test(numerics, numerics_xent_extremes);
    tcase_add_test(numerics, numerics_softmax_saturation);

    suite_add_tcase(s, reference);
    suite_add_tcase(s, gradcheck);
    suite_add_tcase(s, crosscheck);
    suite_add_tcase(s, shapes);
    suite_add_tcase(s, errors);
    suite_add_tcase(s, numerics);
    return s;
}

int main(void)
{
    return tu_run(act_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
