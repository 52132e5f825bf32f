/*
 * Max and average pooling: the golden vectors of SEMANTICS.md §1 (TF 'same'
 * divisor, PyTorch ceil_mode and count_include_pad), document 000's shape
 * examples and their 1D/3D analogues, the backward's routing and tie rule,
 * shapes (layouts, unit axes, dilation, separability), bad input with
 * canaries, and the numerics pitfalls of §7. Every float test runs through
 * the naive kernels and, when it is another implementation, the dispatching
 * entry points (the AVX2 kernels).
 */
#include "config.h"
#include <float.h>
#include <stdio.h>
#include "test_util.h"
#include "test_pool.h"
#include "pool/pool_internal.h"

/* The float implementations every test runs through. */
typedef struct pool_impl {
    const char *name;
    nnr_maxpool_fwd_fn max_fwd;
    nnr_maxpool_bwd_fn max_bwd;
    nnr_avgpool_fwd_fn avg_fwd;
    nnr_avgpool_bwd_fn avg_bwd;
} pool_impl;

static size_t pool_impls(pool_impl out[2])
{
    size_t n = 0;
    out[n++] = (pool_impl){"naive", nnr_maxpool_fwd_naive, nnr_maxpool_bwd_naive, nnr_avgpool_fwd_naive,
                           nnr_avgpool_bwd_naive};
    if (nnr_impl_current() != NNR_IMPL_NAIVE)
        out[n++] = (pool_impl){nnr_impl_name(), nnr_maxpool_fwd, nnr_maxpool_bwd, nnr_avgpool_fwd, nnr_avgpool_bwd};
    return n;
}

static void assert_ok(nnr_status st, const char *what)
{
    ck_assert_msg(st.code == NNR_OK, "%s: %s", what, nnr_strerror(&st));
}

/* Output length of a 1D layer on one plane of n cells, (1, n, 1) or (1, 1, n). */
static size_t out_len_1d(const nnr_pool_params *p, size_t n)
{
    const int cl = p->layout == NNR_CHANNELS_LAST;
    const nnr_shape in = cl ? (nnr_shape){3, {1, n, 1}} : (nnr_shape){3, {1, 1, n}};
    nnr_shape out;
    assert_ok(nnr_pool_output_shape(p, &in, &out), "output shape");
    return out.dims[cl ? 1 : 2];
}

/* Average-pools x (one plane of n cells) through every implementation and
 * judges the output length and each y[o] against want[o] within 1e-6
 * relative into t (cases + 1: one golden vector). */
static void judge_avg_1d(tu_tally *t, const nnr_pool_params *p, const float *x, size_t n, const double *want,
                         size_t n_out)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    const nnr_shape in = {3, {1, n, 1}};
    const size_t len = out_len_1d(p, n);
    t->cases++;
    if (!tu_judge(t, len == n_out, 0, 0)) {
        tu_note(t, "n=%zu k=%d s=%d: output length %zu, want %zu", n, p->window[0], p->stride[0], len, n_out);
        return;
    }
    for (size_t k = 0; k < n_impls; k++) {
        float y[16];
        assert_ok(impls[k].avg_fwd(p, &in, x, y), impls[k].name);
        for (size_t o = 0; o < n_out; o++) {
            const double err = fabs(y[o] - want[o]), bound = 1e-6 * fabs(want[o]);
            if (!tu_judge(t, err <= bound, err, bound))
                tu_note(t, "%s n=%zu k=%d s=%d: y[%zu] = %.9g, want %.9g", impls[k].name, n, p->window[0],
                        p->stride[0], o, y[o], want[o]);
        }
    }
}

/* ---- Reference: SEMANTICS.md §1 golden vectors ----------------------------- */

/* TF/Keras 'same': the divisor is the in-bounds count. */
START_TEST(reference_tf_same_divisor)
{
    tu_tally t = {0};
    const float x5[5] = {1, 2, 3, 4, 5};
    nnr_pool_params p = nnr_pool_keras(1, 2);
    p.padding = NNR_POOL_SAME;
    judge_avg_1d(&t, &p, x5, 5, (const double[]){1.5, 3.5, 5}, 3);

    const float x4[4] = {1, 2, 3, 4};
    p = nnr_pool_keras(1, 3);
    p.stride[0] = 1;
    p.padding = NNR_POOL_SAME;
    judge_avg_1d(&t, &p, x4, 4, (const double[]){1.5, 2, 3, 3.5}, 4);

    /* count_include_pad is ignored with 'same' (pool.h): still TF's divisor. */
    p.count_include_pad = 1;
    judge_avg_1d(&t, &p, x4, 4, (const double[]){1.5, 2, 3, 3.5}, 4);
    ck_assert_uint_eq(t.cases, 3);
    ck_assert_msg(t.bad == 0, "TF 'same' divisor: %zu of %zu values off the golden vectors by more than 1e-6 "
                  "relative; first: %s", t.bad, t.checked, t.first);
}
END_TEST

/* 'same' splits the total padding with the odd cell at the end. */
START_TEST(reference_same_pads)
{
    static const struct { size_t n; int k, s; size_t out, before, after; } cases[] = {
        {5, 2, 2, 3, 0, 1}, {7, 4, 3, 3, 1, 2}, {4, 3, 1, 4, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nnr_pool_params p = nnr_pool_keras(1, cases[i].k);
        p.stride[0] = cases[i].s;
        p.padding = NNR_POOL_SAME;
        const nnr_shape in = {3, {1, cases[i].n, 1}};
        pool_view v;
        assert_ok(nnr_pool_view_make(&p, POOL_KIND_AVG, &in, &v), "view");
        const pool_axis *a = &v.axis[2];
        const size_t total = (a->out - 1) * a->stride + a->window - a->in;
        ck_assert_uint_eq(a->out, cases[i].out);
        ck_assert_uint_eq(a->pad_before, cases[i].before);
        ck_assert_uint_eq(total - a->pad_before, cases[i].after);
    }
    /* n=7, k=4, s=3: windows [-1,2], [2,5], [5,8] of x = 1..7, in-bounds averages. */
    const float x7[7] = {1, 2, 3, 4, 5, 6, 7};
    nnr_pool_params p = nnr_pool_keras(1, 4);
    p.stride[0] = 3;
    p.padding = NNR_POOL_SAME;
    tu_tally t = {0};
    judge_avg_1d(&t, &p, x7, 7, (const double[]){2, 4.5, 6.5}, 3);
    ck_assert_msg(t.cases == 1 && t.bad == 0, "n=7 k=4 s=3 'same': %zu of %zu values differ from [2, 4.5, 6.5]; "
                  "first: %s", t.bad, t.checked, t.first);
}
END_TEST

/* PyTorch AvgPool2d(2, stride=3, ceil_mode=True) on arange(49).reshape(7,7),
 * and MaxPool2d with the same windows (rows/cols {0,1}, {3,4}, {6}). */
START_TEST(reference_torch_ceil_7x7)
{
    static const double want_avg[9] = {4, 7, 9.5, 25, 28, 30.5, 42.5, 45.5, 48};
    static const int32_t want_max[9] = {8, 11, 13, 29, 32, 34, 43, 46, 48};
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    nnr_pool_params p = nnr_pool_torch(2, 2);
    p.stride[0] = p.stride[1] = 3;
    p.ceil_mode = 1;
    const nnr_shape in = {4, {1, 1, 7, 7}};
    nnr_shape out;
    assert_ok(nnr_pool_output_shape(&p, &in, &out), "output shape");
    ck_assert_uint_eq(out.dims[2], 3);
    ck_assert_uint_eq(out.dims[3], 3);
    float x[49];
    for (int i = 0; i < 49; i++)
        x[i] = (float)i;
    for (size_t k = 0; k < n_impls; k++) {
        float y[9];
        int32_t am[9];
        assert_ok(impls[k].avg_fwd(&p, &in, x, y), impls[k].name);
        for (int o = 0; o < 9; o++)
            ck_assert_msg(y[o] == (float)want_avg[o], "%s avg y[%d] = %g, want %g", impls[k].name, o, y[o],
                          want_avg[o]);
        assert_ok(impls[k].max_fwd(&p, &in, x, y, am), impls[k].name);
        for (int o = 0; o < 9; o++) {
            ck_assert_msg(y[o] == (float)want_max[o] && am[o] == want_max[o], "%s max y[%d] = %g at %d, want %d",
                          impls[k].name, o, y[o], am[o], want_max[o]);
        }
    }
}
END_TEST

/* x = 1..6, k=3, s=2, p=1, ceil: 4 outputs, the last window [5, 7] clipped at
 * the padded edge 7 (count_include_pad) or at the input (off). */
START_TEST(reference_count_include_pad)
{
    tu_tally t = {0};
    const float x6[6] = {1, 2, 3, 4, 5, 6};
    nnr_pool_params p = nnr_pool_torch(1, 3);
    p.layout = NNR_CHANNELS_LAST;
    p.stride[0] = 2;
    p.pad[0] = 1;
    p.ceil_mode = 1;
    judge_avg_1d(&t, &p, x6, 6, (const double[]){1, 3, 5, 3}, 4);
    p.count_include_pad = 0;
    judge_avg_1d(&t, &p, x6, 6, (const double[]){1.5, 3, 5, 6}, 4);

    /* x = 1..4, k=3, s=1, p=1, count_include_pad: differs from TF 'same' at the ends. */
    const float x4[4] = {1, 2, 3, 4};
    p = nnr_pool_torch(1, 3);
    p.layout = NNR_CHANNELS_LAST;
    p.stride[0] = 1;
    p.pad[0] = 1;
    judge_avg_1d(&t, &p, x4, 4, (const double[]){1, 2, 3, 7.0 / 3}, 4);

    /* divisor_override replaces every divisor. */
    p.has_divisor_override = 1;
    p.divisor_override = 2;
    judge_avg_1d(&t, &p, x4, 4, (const double[]){1.5, 3, 4.5, 3.5}, 4);
    ck_assert_uint_eq(t.cases, 4);
    ck_assert_msg(t.bad == 0, "count_include_pad / divisor_override: %zu of %zu values off the golden vectors by "
                  "more than 1e-6 relative; first: %s", t.bad, t.checked, t.first);
}
END_TEST

/* n=5, k=2, s=2, p=1, ceil: the raw 4th window would start at 6 = n + p, in
 * the right padding, and is dropped: 3 outputs. */
START_TEST(reference_ceil_drops_window_in_padding)
{
    nnr_pool_params p = nnr_pool_torch(1, 2);
    p.pad[0] = 1;
    p.ceil_mode = 1;
    const nnr_shape in = {3, {1, 1, 5}};
    nnr_shape out;
    assert_ok(nnr_pool_output_shape(&p, &in, &out), "output shape");
    ck_assert_uint_eq(out.dims[2], 3);
    /* Without ceil_mode: floor((5 + 2 - 2)/2) + 1 = 3 as well; with n = 6, ceil gives 4. */
    p.ceil_mode = 0;
    assert_ok(nnr_pool_output_shape(&p, &in, &out), "output shape");
    ck_assert_uint_eq(out.dims[2], 3);
    const nnr_shape in6 = {3, {1, 1, 6}};
    p.ceil_mode = 1;
    assert_ok(nnr_pool_output_shape(&p, &in6, &out), "output shape");
    ck_assert_uint_eq(out.dims[2], 4);
}
END_TEST

/* PyTorch's pooling_output_shape_pad_lr, written out with signed
 * arithmetic (div_rtn rounds toward -inf), against nnr_pool_output_shape
 * over every legal 1D configuration of small sizes: n 1..12, k 1..5,
 * s 1..4, d 1..3, 0 <= p <= k_eff/2, ceil_mode off and on. Where the
 * formula gives less than 1, the call must be rejected as a shape error. */
START_TEST(reference_torch_output_size_sweep)
{
    size_t checked = 0;
    for (int ceil = 0; ceil <= 1; ceil++)
        for (long n = 1; n <= 12; n++)
            for (int k = 1; k <= 5; k++)
                for (int st = 1; st <= 4; st++)
                    for (int d = 1; d <= 3; d++) {
                        const long k_eff = (long)(k - 1) * d + 1;
                        for (int pad = 0; pad <= k_eff / 2; pad++) {
                            nnr_pool_params p = nnr_pool_torch(1, k);
                            p.stride[0] = st;
                            p.dilation[0] = d;
                            p.pad[0] = pad;
                            p.ceil_mode = ceil;
                            const long num = n + 2L * pad - k_eff + (ceil ? st - 1 : 0);
                            long want = (num >= 0 ? num / st : -((-num + st - 1) / st)) + 1;
                            if (ceil && (want - 1) * st >= n + pad)
                                want -= 1;
                            const nnr_shape in = {3, {1, 1, (size_t)n}};
                            nnr_shape out;
                            nnr_status r = nnr_pool_output_shape(&p, &in, &out);
                            if (want < 1) {
                                ck_assert_msg(r.code == NNR_ERR_SHAPE, "n=%ld k=%d s=%d d=%d p=%d ceil=%d: want "
                                              "a shape error, got %s", n, k, st, d, pad, ceil, nnr_strerror(&r));
                            } else {
                                ck_assert_msg(r.code == NNR_OK, "n=%ld k=%d s=%d d=%d p=%d ceil=%d: %s", n, k, st,
                                              d, pad, ceil, nnr_strerror(&r));
                                ck_assert_msg((long)out.dims[2] == want, "n=%ld k=%d s=%d d=%d p=%d ceil=%d: %zu "
                                              "outputs, PyTorch %ld", n, k, st, d, pad, ceil, out.dims[2], want);
                            }
                            checked++;
                        }
                    }
    ck_assert_uint_gt(checked, 3000);
}
END_TEST

/* ceil_mode admits a window longer than the (padded) input, as PyTorch:
 * MaxPool1d(3, stride=2, ceil_mode=True) on [1, 2] gives one output, the
 * whole input; AvgPool1d the same with count_include_pad divides by the
 * window clipped at the edge, 2: [1.5]. */
START_TEST(reference_ceil_window_longer_than_input)
{
    nnr_pool_params p = nnr_pool_torch(1, 3);
    p.stride[0] = 2;
    p.ceil_mode = 1;
    p.layout = NNR_CHANNELS_LAST;
    const float x[2] = {1.0f, 2.0f};
    const double want[1] = {1.5};
    tu_tally t = {0};
    judge_avg_1d(&t, &p, x, 2, want, 1);
    ck_assert_msg(t.cases == 1 && t.bad == 0, "AvgPool1d(3, stride=2, ceil_mode=True) on [1, 2]: %zu of %zu values "
                  "differ from [1.5]; first: %s", t.bad, t.checked, t.first);
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    const nnr_shape in = {3, {1, 2, 1}};
    for (size_t k = 0; k < n_impls; k++) {
        float y = 0.0f;
        int32_t am = -7;
        assert_ok(impls[k].max_fwd(&p, &in, x, &y, &am), impls[k].name);
        ck_assert_float_eq(y, 2.0f);
        ck_assert_int_eq(am, 1);
    }
}
END_TEST

/* Document 000's shape examples (Keras MaxPooling2D on (4, 28, 28, 3)) and
 * their 1D and 3D analogues: default, strides 1, strides 1 with padding
 * 'same' (the document's third example), and 'same' at the default stride. */
START_TEST(reference_doc000_shapes)
{
    for (int dims = 1; dims <= 3; dims++) {
        nnr_shape in = {(size_t)dims + 2, {4}};
        for (int i = 1; i <= dims; i++)
            in.dims[i] = 28;
        in.dims[dims + 1] = 3;
        static const size_t want[4] = {14, 27, 28, 14};
        for (int variant = 0; variant < 4; variant++) {
            nnr_pool_params p = nnr_pool_keras(dims, 2);
            if (variant == 1 || variant == 2)
                for (int i = 0; i < dims; i++)
                    p.stride[i] = 1;
            if (variant >= 2)
                p.padding = NNR_POOL_SAME;
            nnr_shape out;
            assert_ok(nnr_pool_output_shape(&p, &in, &out), "output shape");
            ck_assert_uint_eq(out.rank, (size_t)dims + 2);
            ck_assert_uint_eq(out.dims[0], 4);
            ck_assert_uint_eq(out.dims[dims + 1], 3);
            for (int i = 1; i <= dims; i++)
                ck_assert_msg(out.dims[i] == want[variant], "%dD variant %d: axis %d is %zu, want %zu", dims,
                              variant, i, out.dims[i], want[variant]);
        }
    }
}
END_TEST

/* Overlapping windows that take the same cell add their gradients; a tie
 * goes to the first maximum in scan order. */
START_TEST(reference_max_backward_routing)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    for (size_t k = 0; k < n_impls; k++) {
        /* x = [1, 3, 2], k=2, s=1: both windows take x[1]; dy = [1, 10] -> dx = [0, 11, 0]. */
        nnr_pool_params p = nnr_pool_keras(1, 2);
        p.stride[0] = 1;
        const nnr_shape in3 = {3, {1, 3, 1}};
        const float x[3] = {1, 3, 2}, dy[2] = {1, 10};
        float y[2], dx[3];
        int32_t am[2];
        assert_ok(impls[k].max_fwd(&p, &in3, x, y, am), impls[k].name);
        ck_assert(y[0] == 3 && y[1] == 3 && am[0] == 1 && am[1] == 1);
        assert_ok(impls[k].max_bwd(&p, &in3, dy, am, dx), impls[k].name);
        ck_assert_msg(dx[0] == 0 && dx[1] == 11 && dx[2] == 0, "%s dx = [%g, %g, %g], want [0, 11, 0]",
                      impls[k].name, dx[0], dx[1], dx[2]);

        /* A [2, 2] window: the first 2 takes all of dy. */
        nnr_pool_params q = nnr_pool_keras(1, 2);
        const nnr_shape in2 = {3, {1, 2, 1}};
        const float tie[2] = {2, 2}, one[1] = {1};
        assert_ok(impls[k].max_fwd(&q, &in2, tie, y, am), impls[k].name);
        ck_assert_int_eq(am[0], 0);
        assert_ok(impls[k].max_bwd(&q, &in2, one, am, dx), impls[k].name);
        ck_assert_msg(dx[0] == 1 && dx[1] == 0, "%s tie dx = [%g, %g], want [1, 0]", impls[k].name, dx[0], dx[1]);
    }
}
END_TEST

/* Average backward spreads dy / D(o) over every in-bounds cell, overlaps adding. */
START_TEST(reference_avg_backward)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    for (size_t k = 0; k < n_impls; k++) {
        /* x of 4, k=3, s=1, p=1, count_include_pad: divisors 3, 3, 3, 3 (the
         * windows [-1,1], [0,2], [1,3], [2,4] clipped at the padded edge 5). */
        nnr_pool_params p = nnr_pool_torch(1, 3);
        p.stride[0] = 1;
        p.pad[0] = 1;
        const nnr_shape in = {3, {1, 1, 4}};
        const float dy[4] = {3, 6, 9, 12};
        float dx[4];
        assert_ok(impls[k].avg_bwd(&p, &in, dy, dx), impls[k].name);
        /* dx[0] = 1 + 2, dx[1] = 1 + 2 + 3, dx[2] = 2 + 3 + 4, dx[3] = 3 + 4 */
        const float want[4] = {3, 6, 9, 7};
        for (int i = 0; i < 4; i++)
            ck_assert_msg(fabsf(dx[i] - want[i]) < 1e-6f, "%s dx[%d] = %g, want %g", impls[k].name, i, dx[i],
                          want[i]);
        /* TF 'same' (k=3, s=1 on 4): in-bounds divisors 2, 3, 3, 2. */
        nnr_pool_params q = nnr_pool_keras(1, 3);
        q.stride[0] = 1;
        q.padding = NNR_POOL_SAME;
        const nnr_shape in_cl = {3, {1, 4, 1}};
        const float dy2[4] = {2, 3, 6, 4};
        assert_ok(impls[k].avg_bwd(&q, &in_cl, dy2, dx), impls[k].name);
        const float want2[4] = {1 + 1, 1 + 1 + 2, 1 + 2 + 2, 2 + 2};
        for (int i = 0; i < 4; i++)
            ck_assert_msg(fabsf(dx[i] - want2[i]) < 1e-6f, "%s same dx[%d] = %g, want %g", impls[k].name, i, dx[i],
                          want2[i]);
    }
}
END_TEST

void pool_windowed_add_reference(TCase *tc)
{
    tcase_add_test(tc, reference_tf_same_divisor);
    tcase_add_test(tc, reference_same_pads);
    tcase_add_test(tc, reference_torch_ceil_7x7);
    tcase_add_test(tc, reference_count_include_pad);
    tcase_add_test(tc, reference_ceil_drops_window_in_padding);
    tcase_add_test(tc, reference_torch_output_size_sweep);
    tcase_add_test(tc, reference_ceil_window_longer_than_input);
    tcase_add_test(tc, reference_doc000_shapes);
    tcase_add_test(tc, reference_max_backward_routing);
    tcase_add_test(tc, reference_avg_backward);
}

/* ---- Shapes ---------------------------------------------------------------------- */

/* Index of (n, c, spatial cell s) in a tensor of `plane` cells per (n, c). */
static size_t at(int channels_last, size_t C, size_t plane, size_t n, size_t c, size_t s)
{
    return channels_last ? (n * plane + s) * C + c : (n * C + c) * plane + s;
}

/* Whether every value of two float runs is bitwise equal. */
static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* Both layouts give the same numbers: run channels_first on x and
 * channels_last on its transpose, judge y, argmax and both backwards for
 * bitwise equality into t (the max with p, the average with p's dilation
 * set to 1; cases + 1). */
static void layouts_agree(tu_tally *t, const pool_impl *impl, const nnr_pool_params *p, const size_t *spatial,
                          size_t N, size_t C, uint64_t seed)
{
    t->cases++;
    const int dims = p->dims;
    nnr_shape cf = {(size_t)dims + 2, {N, C}}, cl = {(size_t)dims + 2, {N}};
    size_t plane = 1;
    for (int i = 0; i < dims; i++) {
        cf.dims[2 + i] = spatial[i];
        cl.dims[1 + i] = spatial[i];
        plane *= spatial[i];
    }
    cl.dims[dims + 1] = C;
    const size_t count = N * C * plane;
    float *x_cf = tu_alloc_f(count), *x_cl = tu_alloc_f(count), *dx_cf = tu_alloc_f(count), *dx_cl = tu_alloc_f(count);
    tu_randn_f(x_cf, count, seed, 0.0, 1.0);
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++)
            for (size_t s = 0; s < plane; s++)
                x_cl[at(1, C, plane, n, c, s)] = x_cf[at(0, C, plane, n, c, s)];

    for (int avg = 0; avg < 2; avg++) {
        nnr_pool_params q = *p;
        if (avg)
            for (int i = 0; i < dims; i++)
                q.dilation[i] = 1;
        q.layout = NNR_CHANNELS_FIRST;
        nnr_shape out_cf;
        assert_ok(nnr_pool_output_shape(&q, &cf, &out_cf), "output shape");
        size_t out_plane = 1;
        for (int i = 0; i < dims; i++)
            out_plane *= out_cf.dims[2 + i];
        const size_t out_count = N * C * out_plane;
        float *y_cf = tu_alloc_f(out_count), *y_cl = tu_alloc_f(out_count), *dy_cf = tu_alloc_f(out_count),
              *dy_cl = tu_alloc_f(out_count);
        int32_t *am_cf = malloc(out_count * sizeof(int32_t)), *am_cl = malloc(out_count * sizeof(int32_t));
        ck_assert(am_cf != NULL && am_cl != NULL);
        tu_randn_f(dy_cf, out_count, seed + 1, 0.0, 1.0);
        for (size_t n = 0; n < N; n++)
            for (size_t c = 0; c < C; c++)
                for (size_t s = 0; s < out_plane; s++)
                    dy_cl[at(1, C, out_plane, n, c, s)] = dy_cf[at(0, C, out_plane, n, c, s)];

        if (avg) {
            assert_ok(impl->avg_fwd(&q, &cf, x_cf, y_cf), impl->name);
            assert_ok(impl->avg_bwd(&q, &cf, dy_cf, dx_cf), impl->name);
        } else {
            assert_ok(impl->max_fwd(&q, &cf, x_cf, y_cf, am_cf), impl->name);
            assert_ok(impl->max_bwd(&q, &cf, dy_cf, am_cf, dx_cf), impl->name);
        }
        q.layout = NNR_CHANNELS_LAST;
        if (avg) {
            assert_ok(impl->avg_fwd(&q, &cl, x_cl, y_cl), impl->name);
            assert_ok(impl->avg_bwd(&q, &cl, dy_cl, dx_cl), impl->name);
        } else {
            assert_ok(impl->max_fwd(&q, &cl, x_cl, y_cl, am_cl), impl->name);
            assert_ok(impl->max_bwd(&q, &cl, dy_cl, am_cl, dx_cl), impl->name);
        }
        const char *kind = avg ? "avg" : "max";
        for (size_t n = 0; n < N; n++)
            for (size_t c = 0; c < C; c++) {
                for (size_t s = 0; s < out_plane; s++) {
                    const size_t i = at(0, C, out_plane, n, c, s), j = at(1, C, out_plane, n, c, s);
                    if (!tu_judge(t, same_bits(&y_cf[i], &y_cl[j], 1), 0, 0))
                        tu_note(t, "%s %s %dD y at n=%zu c=%zu cell %zu: %.9g channels_first, %.9g channels_last",
                                impl->name, kind, dims, n, c, s, (double)y_cf[i], (double)y_cl[j]);
                    if (!avg && !tu_judge(t, am_cf[i] == am_cl[j], 0, 0))
                        tu_note(t, "%s max %dD argmax at n=%zu c=%zu cell %zu: %d channels_first, %d "
                                "channels_last", impl->name, dims, n, c, s, (int)am_cf[i], (int)am_cl[j]);
                }
                for (size_t s = 0; s < plane; s++) {
                    const float a = dx_cf[at(0, C, plane, n, c, s)], b = dx_cl[at(1, C, plane, n, c, s)];
                    if (!tu_judge(t, same_bits(&a, &b, 1), 0, 0))
                        tu_note(t, "%s %s %dD dx at n=%zu c=%zu cell %zu: %.9g channels_first, %.9g channels_last",
                                impl->name, kind, dims, n, c, s, (double)a, (double)b);
                }
            }
        free(y_cf); free(y_cl); free(dy_cf); free(dy_cl); free(am_cf); free(am_cl);
    }
    free(x_cf); free(x_cl); free(dx_cf); free(dx_cl);
}

START_TEST(shapes_layouts_agree)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    tu_tally t = {0};
    for (size_t k = 0; k < n_impls; k++) {
        nnr_pool_params p1 = nnr_pool_torch(1, 3);
        p1.stride[0] = 2;
        p1.pad[0] = 1;
        p1.ceil_mode = 1;
        layouts_agree(&t, &impls[k], &p1, (const size_t[]){11}, 2, 5, 11);

        nnr_pool_params p2 = nnr_pool_keras(2, 3);
        p2.stride[0] = 1;
        p2.stride[1] = 2;
        p2.padding = NNR_POOL_SAME;
        layouts_agree(&t, &impls[k], &p2, (const size_t[]){7, 9}, 2, 3, 12);

        nnr_pool_params p3 = nnr_pool_torch(3, 2);
        p3.window[0] = 3;
        p3.pad[0] = 1;
        p3.dilation[2] = 2;
        p3.stride[2] = 1;
        layouts_agree(&t, &impls[k], &p3, (const size_t[]){5, 4, 6}, 1, 4, 13);
    }
    /* 1D, 2D and 3D for every implementation: y, argmax and dx bitwise equal across layouts */
    ck_assert_uint_eq(t.cases, 3 * n_impls);
    ck_assert_msg(t.bad == 0, "%zu of %zu values differ between channels_first and channels_last; first: %s", t.bad,
                  t.checked, t.first);
}
END_TEST

/* 1D, 2D and 3D give the same values when the extra axes are unit (extent 1,
 * window 1): a (1, n, C) 1D input, (1, 1, n, C) 2D and (1, 1, 1, n, C) 3D. */
START_TEST(shapes_unit_axes_agree)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    const size_t n = 13, C = 3, count = n * C;
    float x[13 * 3], y[3][13 * 3], dx[3][13 * 3], dy[13 * 3];
    int32_t am[3][13 * 3];
    tu_randn_f(x, count, 21, 0.0, 1.0);
    tu_randn_f(dy, count, 22, 0.0, 1.0);
    for (size_t k = 0; k < n_impls; k++)
        for (int avg = 0; avg < 2; avg++)
            for (int dims = 1; dims <= 3; dims++) {
                nnr_pool_params p = nnr_pool_keras(dims, 1);
                p.window[dims - 1] = 4;
                p.stride[dims - 1] = 3;
                p.padding = NNR_POOL_SAME;
                nnr_shape in = {(size_t)dims + 2, {1, 1, 1, 1, 1}};
                in.dims[dims] = n;
                in.dims[dims + 1] = C;
                float *yd = y[dims - 1], *dxd = dx[dims - 1];
                if (avg) {
                    assert_ok(impls[k].avg_fwd(&p, &in, x, yd), impls[k].name);
                    assert_ok(impls[k].avg_bwd(&p, &in, dy, dxd), impls[k].name);
                } else {
                    assert_ok(impls[k].max_fwd(&p, &in, x, yd, am[dims - 1]), impls[k].name);
                    assert_ok(impls[k].max_bwd(&p, &in, dy, am[dims - 1], dxd), impls[k].name);
                }
                if (dims > 1) {
                    const size_t out_count = 5 * C;     /* ceil(13/3) */
                    ck_assert_msg(same_bits(y[0], yd, out_count), "%s %s: %dD y differs from 1D", impls[k].name,
                                  avg ? "avg" : "max", dims);
                    ck_assert_msg(same_bits(dx[0], dxd, count), "%s %s: %dD dx differs from 1D", impls[k].name,
                                  avg ? "avg" : "max", dims);
                    if (!avg)
                        ck_assert(memcmp(am[0], am[dims - 1], out_count * sizeof(int32_t)) == 0);
                }
            }
}
END_TEST

/* Dilation (max): y[o] = max(x[o s - p + j d]); on x = 0..9 the last tap wins. */
START_TEST(shapes_dilation)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    float x[10], y[10];
    int32_t am[10];
    for (int i = 0; i < 10; i++)
        x[i] = (float)i;
    const nnr_shape in = {3, {1, 1, 10}};
    for (size_t k = 0; k < n_impls; k++) {
        /* k=3, d=2, s=1: k_eff 5, 6 outputs, y[o] = x[o + 4]. */
        nnr_pool_params p = nnr_pool_torch(1, 3);
        p.dilation[0] = 2;
        p.stride[0] = 1;
        ck_assert_uint_eq(out_len_1d(&p, 10), 6);
        assert_ok(impls[k].max_fwd(&p, &in, x, y, am), impls[k].name);
        for (int o = 0; o < 6; o++)
            ck_assert_msg(y[o] == (float)(o + 4) && am[o] == o + 4, "%s y[%d] = %g at %d", impls[k].name, o, y[o],
                          am[o]);
        /* pad 2 (= k_eff/2): 10 outputs; windows o-2, o, o+2 clipped to [0, 10). */
        p.pad[0] = 2;
        assert_ok(impls[k].max_fwd(&p, &in, x, y, am), impls[k].name);
        for (int o = 0; o < 10; o++) {
            const int want = o + 2 < 10 ? o + 2 : o;
            ck_assert_msg(y[o] == (float)want && am[o] == want, "%s padded y[%d] = %g at %d, want %d",
                          impls[k].name, o, y[o], am[o], want);
        }
    }
}
END_TEST

/* A dilated window can miss every input cell: y = -inf and argmax -1, and
 * the backward routes nothing from it. n=2, k=2, d=3, p=2, s=1: the windows
 * tap {-2, 1}, {-1, 2} (no input cell) and {0, 3}. */
START_TEST(shapes_window_without_cells)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    nnr_pool_params p = nnr_pool_torch(1, 2);
    p.dilation[0] = 3;
    p.stride[0] = 1;
    p.pad[0] = 2;
    const nnr_shape in = {3, {1, 1, 2}};
    ck_assert_uint_eq(out_len_1d(&p, 2), 3);
    for (size_t k = 0; k < n_impls; k++) {
        const float x[2] = {5, 6}, dy[3] = {7, 11, 13};
        float y[3], dx[2];
        int32_t am[3];
        assert_ok(impls[k].max_fwd(&p, &in, x, y, am), impls[k].name);
        ck_assert_msg(y[1] == -INFINITY && am[1] == -1, "%s y[1] = %g at %d", impls[k].name, y[1], am[1]);
        ck_assert(y[0] == 6 && am[0] == 1 && y[2] == 5 && am[2] == 0);
        assert_ok(impls[k].max_bwd(&p, &in, dy, am, dx), impls[k].name);
        ck_assert_msg(dx[0] == 13 && dx[1] == 7, "%s dx = [%g, %g], want [13, 7]", impls[k].name, dx[0], dx[1]);
    }
}
END_TEST

/* Pooling is separable: a 3D max or average (in-bounds or padded divisor,
 * products over axes) equals three 1D poolings, one axis at a time. An
 * independent check of the 3D window walk against the 1D one. */
static void pool_lines(const pool_impl *impl, int avg, nnr_pool_params p1, const float *in, float *out,
                       const size_t ext_in[3], const size_t ext_out[3], int axis)
{
    /* For every line along `axis`, gather it, pool it in 1D, scatter. */
    const size_t n = ext_in[axis], m = ext_out[axis];
    size_t other[3];
    for (int a = 0; a < 3; a++)
        other[a] = a == axis ? 1 : ext_in[a];
    float line[32], pooled[32];
    int32_t am[32];
    const nnr_shape shape = {3, {1, 1, n}};
    for (size_t i0 = 0; i0 < other[0]; i0++)
        for (size_t i1 = 0; i1 < other[1]; i1++)
            for (size_t i2 = 0; i2 < other[2]; i2++) {
                size_t idx[3] = {i0, i1, i2};
                for (size_t t = 0; t < n; t++) {
                    idx[axis] = t;
                    line[t] = in[(idx[0] * ext_in[1] + idx[1]) * ext_in[2] + idx[2]];
                }
                if (avg)
                    assert_ok(impl->avg_fwd(&p1, &shape, line, pooled), impl->name);
                else
                    assert_ok(impl->max_fwd(&p1, &shape, line, pooled, am), impl->name);
                for (size_t t = 0; t < m; t++) {
                    idx[axis] = t;
                    out[(idx[0] * ext_out[1] + idx[1]) * ext_out[2] + idx[2]] = pooled[t];
                }
            }
}

START_TEST(shapes_separable_3d)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    const size_t ext[3] = {5, 7, 6};
    float x[5 * 7 * 6], y3[5 * 7 * 6], t1[5 * 7 * 6], t2[5 * 7 * 6], t3[5 * 7 * 6];
    int32_t am[5 * 7 * 6];
    tu_randn_f(x, 5 * 7 * 6, 31, 0.0, 1.0);
    const int windows[3] = {3, 2, 4}, strides[3] = {2, 1, 3}, pads[3] = {1, 1, 2};
    for (size_t k = 0; k < n_impls; k++)
        for (int avg = 0; avg < 2; avg++)
            for (int variant = 0; variant < 3; variant++) {
                /* 0: explicit, padded divisor, ceil; 1: explicit, in-bounds; 2: 'same' */
                nnr_pool_params p = nnr_pool_torch(3, 1);
                for (int i = 0; i < 3; i++) {
                    p.window[i] = windows[i];
                    p.stride[i] = strides[i];
                    p.pad[i] = variant == 2 ? 0 : pads[i];
                }
                p.ceil_mode = variant == 0;
                p.count_include_pad = variant == 0;
                if (variant == 2)
                    p.padding = NNR_POOL_SAME;
                const nnr_shape in = {5, {1, 1, ext[0], ext[1], ext[2]}};
                nnr_shape out;
                assert_ok(nnr_pool_output_shape(&p, &in, &out), "output shape");
                const size_t eo[3] = {out.dims[2], out.dims[3], out.dims[4]};
                if (avg)
                    assert_ok(impls[k].avg_fwd(&p, &in, x, y3), impls[k].name);
                else
                    assert_ok(impls[k].max_fwd(&p, &in, x, y3, am), impls[k].name);

                size_t cur[3] = {ext[0], ext[1], ext[2]};
                const float *src = x;
                float *dst[3] = {t1, t2, t3};
                for (int a = 0; a < 3; a++) {
                    nnr_pool_params p1 = nnr_pool_torch(1, windows[a]);
                    p1.stride[0] = strides[a];
                    p1.pad[0] = p.pad[a];
                    p1.ceil_mode = p.ceil_mode;
                    p1.count_include_pad = p.count_include_pad;
                    p1.padding = p.padding;
                    size_t next[3] = {cur[0], cur[1], cur[2]};
                    next[a] = eo[a];
                    pool_lines(&impls[k], avg, p1, src, dst[a], cur, next, a);
                    src = dst[a];
                    memcpy(cur, next, sizeof cur);
                }
                for (size_t i = 0; i < eo[0] * eo[1] * eo[2]; i++)
                    ck_assert_msg(fabsf(y3[i] - t3[i]) <= 1e-6f * (1 + fabsf(t3[i])),
                                  "%s %s variant %d: 3D y[%zu] = %.9g, three 1D passes %.9g", impls[k].name,
                                  avg ? "avg" : "max", variant, i, y3[i], t3[i]);
            }
}
END_TEST

/* The double build (what the gradient checker differentiates) computes what
 * the float build does: the same maxima and argmax, the same averages (both
 * sum the same values in double), and backwards equal to float rounding. */
START_TEST(shapes_float_double_agree)
{
    for (int variant = 0; variant < 2; variant++) {
        nnr_pool_params p;
        nnr_shape in;
        if (variant == 0) {
            p = nnr_pool_torch(2, 3);
            p.stride[0] = p.stride[1] = 2;
            p.pad[0] = p.pad[1] = 1;
            p.ceil_mode = 1;
            in = (nnr_shape){4, {2, 3, 8, 7}};
        } else {
            p = nnr_pool_keras(3, 2);
            p.window[2] = 3;
            p.stride[2] = 1;
            p.padding = NNR_POOL_SAME;
            in = (nnr_shape){5, {2, 3, 5, 4, 3}};
        }
        nnr_shape out;
        assert_ok(nnr_pool_output_shape(&p, &in, &out), "output shape");
        size_t count, out_count;
        assert_ok(nnr_shape_numel(&in, "in", &count), "count");
        assert_ok(nnr_shape_numel(&out, "out", &out_count), "out count");
        float *x = tu_alloc_f(count), *dx = tu_alloc_f(count), *y = tu_alloc_f(out_count), *dy = tu_alloc_f(out_count);
        double *xd = tu_alloc_d(count), *dxd = tu_alloc_d(count), *yd = tu_alloc_d(out_count),
               *dyd = tu_alloc_d(out_count);
        int32_t *am = malloc(out_count * sizeof(int32_t)), *amd = malloc(out_count * sizeof(int32_t));
        ck_assert(am != NULL && amd != NULL);
        tu_randn_f(x, count, 51, 0.0, 1.0);
        tu_randn_f(dy, out_count, 52, 0.0, 1.0);
        for (size_t i = 0; i < count; i++)
            xd[i] = x[i];
        for (size_t i = 0; i < out_count; i++)
            dyd[i] = dy[i];

        assert_ok(nnr_maxpool_fwd_naive(&p, &in, x, y, am), "max float");
        assert_ok(nnr_maxpool_fwd_naive_f64(&p, &in, xd, yd, amd), "max double");
        for (size_t o = 0; o < out_count; o++)
            ck_assert_msg(y[o] == (float)yd[o] && am[o] == amd[o], "variant %d max y[%zu]: %g at %d vs %g at %d",
                          variant, o, y[o], am[o], yd[o], amd[o]);
        assert_ok(nnr_maxpool_bwd_naive(&p, &in, dy, am, dx), "max bwd float");
        assert_ok(nnr_maxpool_bwd_naive_f64(&p, &in, dyd, amd, dxd), "max bwd double");
        for (size_t i = 0; i < count; i++)
            ck_assert_msg(fabs(dx[i] - dxd[i]) <= 1e-6 * (1 + fabs(dxd[i])), "variant %d max dx[%zu]: %g vs %g",
                          variant, i, dx[i], dxd[i]);

        assert_ok(nnr_avgpool_fwd_naive(&p, &in, x, y), "avg float");
        assert_ok(nnr_avgpool_fwd_naive_f64(&p, &in, xd, yd), "avg double");
        for (size_t o = 0; o < out_count; o++)
            ck_assert_msg(y[o] == (float)yd[o], "variant %d avg y[%zu]: %.9g vs %.17g", variant, o, y[o], yd[o]);
        assert_ok(nnr_avgpool_bwd_naive(&p, &in, dy, dx), "avg bwd float");
        assert_ok(nnr_avgpool_bwd_naive_f64(&p, &in, dyd, dxd), "avg bwd double");
        for (size_t i = 0; i < count; i++)
            ck_assert_msg(fabs(dx[i] - dxd[i]) <= 1e-6 * (1 + fabs(dxd[i])), "variant %d avg dx[%zu]: %g vs %g",
                          variant, i, dx[i], dxd[i]);
        free(x); free(dx); free(y); free(dy); free(xd); free(dxd); free(yd); free(dyd); free(am); free(amd);
    }
}
END_TEST

void pool_windowed_add_shapes(TCase *tc)
{
    tcase_add_test(tc, shapes_float_double_agree);
    tcase_add_test(tc, shapes_layouts_agree);
    tcase_add_test(tc, shapes_unit_axes_agree);
    tcase_add_test(tc, shapes_dilation);
    tcase_add_test(tc, shapes_window_without_cells);
    tcase_add_test(tc, shapes_separable_3d);
}

/* ---- Errors: status, a sentence naming the argument, outputs untouched ---------- */

/* Runs all four passes with p on in_shape and judges into t (cases + 1) that
 * each fails with `code` and a sentence containing `word`, leaving the
 * canaried outputs as they were; then the same for nnr_pool_output_shape.
 * avg_only: the max passes accept p (a dilated average). */
static void judge_rejected(tu_tally *t, const nnr_pool_params *p, const nnr_shape *in_shape, nnr_code code,
                           const char *word, int avg_only)
{
    t->cases++;
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    enum { CAP = 256 };
    float x[CAP], y[CAP], dy[CAP], dx[CAP];
    int32_t am[CAP];
    for (int i = 0; i < CAP; i++) {
        x[i] = (float)i;
        dy[i] = 1;
        am[i] = 0;
    }
    for (size_t k = 0; k < n_impls; k++)
        for (int pass = avg_only ? 2 : 0; pass < 4; pass++) {
            tu_fill_canary(y, CAP);
            tu_fill_canary(dx, CAP);
            int32_t am_out[CAP];
            for (int i = 0; i < CAP; i++)
                am_out[i] = 77;
            nnr_status st;
            switch (pass) {
            case 0: st = impls[k].max_fwd(p, in_shape, x, y, am_out); break;
            case 1: st = impls[k].max_bwd(p, in_shape, dy, am, dx); break;
            case 2: st = impls[k].avg_fwd(p, in_shape, x, y); break;
            default: st = impls[k].avg_bwd(p, in_shape, dy, dx); break;
            }
            if (!tu_judge(t, st.code == code, 0, 0))
                tu_note(t, "%s pass %d ('%s'): code %d (%s), want %d", impls[k].name, pass, word, (int)st.code,
                        nnr_strerror(&st), (int)code);
            if (!tu_judge(t, strstr(st.message, word) != NULL, 0, 0))
                tu_note(t, "%s pass %d: '%s' does not name '%s'", impls[k].name, pass, st.message, word);
            if (!tu_judge(t, tu_all_canary(y, CAP) && tu_all_canary(dx, CAP), 0, 0))
                tu_note(t, "%s pass %d ('%s') wrote an output", impls[k].name, pass, word);
            size_t am_written = 0;
            for (int i = 0; i < CAP; i++)
                am_written += am_out[i] != 77;
            if (!tu_judge(t, am_written == 0, 0, 0))
                tu_note(t, "%s pass %d ('%s') wrote %zu argmax entries", impls[k].name, pass, word, am_written);
        }
    if (!avg_only) {
        nnr_shape out;
        out.rank = 99;
        nnr_status st = nnr_pool_output_shape(p, in_shape, &out);
        if (!tu_judge(t, st.code == code, 0, 0))
            tu_note(t, "output_shape ('%s'): %s", word, nnr_strerror(&st));
        if (!tu_judge(t, out.rank == 99, 0, 0))
            tu_note(t, "output_shape ('%s') wrote the shape (rank %zu)", word, out.rank);
    }
}

START_TEST(errors_params)
{
    const nnr_shape in2 = {4, {1, 2, 6, 6}};
    nnr_pool_params p;
    tu_tally t = {0};

    p = nnr_pool_torch(2, 2);
    p.window[1] = 0;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "window[1] (width) should be greater than zero", 0);
    p = nnr_pool_torch(2, 2);
    p.stride[0] = 0;   /* rejected as by Keras and PyTorch; strides=None is NNR_POOL_STRIDE_WINDOW */
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "stride[0] (height) should be greater than zero", 0);
    p = nnr_pool_torch(2, 2);
    p.stride[1] = -2;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "stride[1] (width) should be greater than zero", 0);
    p = nnr_pool_torch(2, 2);
    p.dilation[0] = 0;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "dilation[0] (height) should be greater than zero", 0);
    p = nnr_pool_torch(2, 3);
    p.pad[1] = 2;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM,
                   "pad[1] (width) should be at most half of effective kernel size, but got pad=2, kernel_size=3", 0);
    p = nnr_pool_torch(2, 3);
    p.pad[0] = -1;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "pad[0] (height) should be non-negative", 0);
    p = nnr_pool_keras(2, 2);
    p.pad[0] = 1;
    p.layout = NNR_CHANNELS_FIRST;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "pad[0] (height) is 1 but padding is 'valid'", 0);
    p = nnr_pool_keras(2, 2);
    p.padding = NNR_POOL_SAME;
    p.ceil_mode = 1;
    p.layout = NNR_CHANNELS_FIRST;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "ceil_mode", 0);
    p = nnr_pool_torch(2, 2);
    p.padding = (nnr_pool_padding)7;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "padding must be", 0);
    p = nnr_pool_torch(2, 2);
    p.layout = (nnr_layout)5;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "layout", 0);
    p = nnr_pool_torch(2, 2);
    p.dims = 4;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "dims must be 1, 2 or 3", 0);
    p = nnr_pool_torch(2, 2);
    p.has_divisor_override = 1;
    p.divisor_override = 0;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "divisor must be not zero", 0);   /* max kernels too */
    p = nnr_pool_torch(2, 2);
    p.dilation[1] = 2;
    judge_rejected(&t, &p, &in2, NNR_ERR_PARAM, "dilation[1] (width) is 2 but average pooling has no dilation", 1);
    /* 13 bad parameter sets: every pass and output_shape rejected them, named the argument, wrote nothing */
    ck_assert_uint_eq(t.cases, 13);
    ck_assert_msg(t.bad == 0, "%zu of %zu checks of rejected calls failed; first: %s", t.bad, t.checked, t.first);
}
END_TEST

START_TEST(errors_shapes)
{
    tu_tally t = {0};
    nnr_pool_params p = nnr_pool_keras(2, 3);
    p.stride[0] = p.stride[1] = 1;
    /* The window must fit: 'valid' output of 0, sizes in the sentence. */
    const nnr_shape narrow = {4, {1, 6, 2, 1}};
    judge_rejected(&t, &p, &narrow, NNR_ERR_SHAPE,
                   "window 3 with dilation 1 and stride 1 on an input of width 2 gives an output width of 0 "
                   "('valid' padding)", 0);
    /* Negative: k=5 on 2 with stride 1 gives floor(-3/1)+1 = -2. */
    p.window[1] = 5;
    judge_rejected(&t, &p, &narrow, NNR_ERR_SHAPE, "output width of -2", 0);

    /* Explicit: k=4, p=1 (<= 2) on 1 cell: padded 3 < 4, PyTorch's "Output size is too small". */
    nnr_pool_params pt = nnr_pool_torch(1, 4);
    pt.pad[0] = 1;
    const nnr_shape one = {3, {1, 1, 1}};
    judge_rejected(&t, &pt, &one, NNR_ERR_SHAPE,
                   "on an input of length 1 gives an output length of 0: Output size is too small", 0);

    /* Rank/layout mismatch: a 2D layer given a rank-3 tensor, a 1D layer a rank-4 one. */
    nnr_pool_params q = nnr_pool_keras(2, 2);
    const nnr_shape r3 = {3, {1, 6, 6}};
    judge_rejected(&t, &q, &r3, NNR_ERR_SHAPE, "in_shape has rank 3 but 2D", 0);
    q = nnr_pool_torch(1, 2);
    const nnr_shape r4 = {4, {1, 2, 6, 6}};
    judge_rejected(&t, &q, &r4, NNR_ERR_SHAPE, "takes rank 3", 0);
    /* A zero extent. */
    const nnr_shape zero = {4, {1, 0, 6, 6}};
    judge_rejected(&t, &q, &zero, NNR_ERR_SHAPE, "in_shape", 0);
    /* 6 bad shapes: every pass and output_shape rejected them, named the argument, wrote nothing */
    ck_assert_uint_eq(t.cases, 6);
    ck_assert_msg(t.bad == 0, "%zu of %zu checks of rejected calls failed; first: %s", t.bad, t.checked, t.first);
}
END_TEST

START_TEST(errors_pointers_and_argmax)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    nnr_pool_params p = nnr_pool_torch(1, 2);
    const nnr_shape in = {3, {1, 2, 4}};        /* 2 planes of 4, 2 outputs each */
    float x[8] = {0}, y[4], dy[4] = {1, 1, 1, 1}, dx[8];
    for (size_t k = 0; k < n_impls; k++) {
        nnr_status st;
        tu_fill_canary(y, 4);
        st = impls[k].max_fwd(&p, &in, NULL, y, NULL);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "x is NULL") && tu_all_canary(y, 4));
        st = impls[k].max_fwd(&p, &in, x, NULL, NULL);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "y is NULL"));
        st = impls[k].avg_fwd(&p, &in, x, NULL);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "y is NULL"));
        st = impls[k].avg_bwd(&p, &in, NULL, dx);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "dy is NULL"));
        st = impls[k].max_bwd(&p, &in, dy, NULL, dx);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "argmax is NULL"));
        st = impls[k].max_fwd(NULL, &in, x, y, NULL);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "params"));
        st = impls[k].max_fwd(&p, NULL, x, y, NULL);
        ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "in_shape"));

        /* An index outside [-1, 4) anywhere, even in the last entry, is
         * rejected before dx is touched. */
        const int32_t bad_values[3] = {4, -2, 1000};
        for (int b = 0; b < 3; b++) {
            int32_t am[4] = {0, 1, 2, bad_values[b]};
            tu_fill_canary(dx, 8);
            st = impls[k].max_bwd(&p, &in, dy, am, dx);
            ck_assert_msg(st.code == NNR_ERR_PARAM && strstr(st.message, "argmax[3]") != NULL, "%s: %s",
                          impls[k].name, nnr_strerror(&st));
            ck_assert_msg(tu_all_canary(dx, 8), "%s: dx written before the argmax check", impls[k].name);
        }
    }
    nnr_status st = nnr_pool_output_shape(&p, &in, NULL);
    ck_assert(st.code == NNR_ERR_NULL && strstr(st.message, "out_shape"));
}
END_TEST

/* Sizes beyond what the types hold: a tensor whose element count overflows
 * size_t, and a plane of 2^32 cells that int32 argmax cannot index (the max
 * kernels refuse it before reading anything; its output shape is fine). */
START_TEST(errors_overflow)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    nnr_pool_params p = nnr_pool_torch(2, 2);
    const nnr_shape huge = {4, {SIZE_MAX / 2, 4, 2, 2}};
    const nnr_shape wide = {4, {1, 1, 65536, 65536}};
    float x[4] = {0}, y[4], dy[4] = {0};
    int32_t am[4] = {0};
    nnr_shape out;
    nnr_status st = nnr_pool_output_shape(&p, &huge, &out);
    ck_assert_msg(st.code == NNR_ERR_OVERFLOW && strstr(st.message, "in_shape") != NULL, "%s", nnr_strerror(&st));
    assert_ok(nnr_pool_output_shape(&p, &wide, &out), "2^32-cell plane");
    ck_assert_uint_eq(out.dims[2], 32768);
    for (size_t k = 0; k < n_impls; k++) {
        tu_fill_canary(y, 4);
        st = impls[k].max_fwd(&p, &wide, x, y, am);
        ck_assert_msg(st.code == NNR_ERR_OVERFLOW && strstr(st.message, "int32 argmax") != NULL, "%s: %s",
                      impls[k].name, nnr_strerror(&st));
        st = impls[k].max_bwd(&p, &wide, dy, am, y);
        ck_assert_msg(st.code == NNR_ERR_OVERFLOW && tu_all_canary(y, 4), "%s: %s", impls[k].name, nnr_strerror(&st));
    }
}
END_TEST

void pool_windowed_add_errors(TCase *tc)
{
    tcase_add_test(tc, errors_overflow);
    tcase_add_test(tc, errors_params);
    tcase_add_test(tc, errors_shapes);
    tcase_add_test(tc, errors_pointers_and_argmax);
}

/* ---- Numerics: SEMANTICS.md §7 --------------------------------------------------- */

/* A NaN at the first, middle or last slot of a window makes the max NaN
 * and argmax the last NaN scanned (PyTorch); an all -inf window gives -inf
 * at its first cell (not TF's -FLT_MAX). */
START_TEST(numerics_nan_and_inf)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    const float q = NAN, inf = INFINITY;
    const float x[18] = {q, 1, 2,   1, q, 2,   1, 2, q,   q, 5, q,   -inf, -inf, -inf,   -inf, 3, -inf};
    const int32_t want_am[6] = {0, 4, 8, 11, 12, 16};
    nnr_pool_params p = nnr_pool_keras(1, 3);
    const nnr_shape in = {3, {1, 18, 1}};
    for (size_t k = 0; k < n_impls; k++) {
        float y[6];
        int32_t am[6];
        assert_ok(impls[k].max_fwd(&p, &in, x, y, am), impls[k].name);
        for (int o = 0; o < 4; o++)
            ck_assert_msg(isnan(y[o]) && am[o] == want_am[o], "%s window %d: y = %g at %d, want NaN at %d",
                          impls[k].name, o, y[o], am[o], want_am[o]);
        ck_assert_msg(y[4] == -inf && am[4] == 12, "%s all -inf window: y = %g at %d", impls[k].name, y[4], am[4]);
        ck_assert(y[5] == 3 && am[5] == 16);
        /* The average of a window with a NaN is NaN, of -inf cells -inf. */
        assert_ok(impls[k].avg_fwd(&p, &in, x, y), impls[k].name);
        ck_assert(isnan(y[0]) && isnan(y[3]) && y[4] == -inf && y[5] == -inf);
    }
}
END_TEST

/* Huge values: the average sums in double, so two FLT_MAX cells average to
 * FLT_MAX, not inf; the max passes them through exactly. */
START_TEST(numerics_huge_values)
{
    pool_impl impls[2];
    const size_t n_impls = pool_impls(impls);
    const float x[4] = {FLT_MAX, FLT_MAX, -FLT_MAX, 3e38f};
    nnr_pool_params p = nnr_pool_keras(1, 2);
    const nnr_shape in = {3, {1, 4, 1}};
    for (size_t k = 0; k < n_impls; k++) {
        float y[2];
        int32_t am[2];
        assert_ok(impls[k].avg_fwd(&p, &in, x, y), impls[k].name);
        ck_assert_msg(y[0] == FLT_MAX, "%s avg(FLT_MAX, FLT_MAX) = %g", impls[k].name, y[0]);
        ck_assert_float_eq_tol(y[1], (3e38 - FLT_MAX) / 2, 1e31);
        assert_ok(impls[k].max_fwd(&p, &in, x, y, am), impls[k].name);
        ck_assert(y[0] == FLT_MAX && am[0] == 0 && y[1] == 3e38f && am[1] == 3);
        /* The backward with huge dy: FLT_MAX / 2 per cell, finite. */
        const float dy[2] = {FLT_MAX, FLT_MAX};
        float dx[4];
        assert_ok(impls[k].avg_bwd(&p, &in, dy, dx), impls[k].name);
        for (int i = 0; i < 4; i++)
            ck_assert(dx[i] == FLT_MAX / 2);
    }
}
END_TEST

void pool_windowed_add_numerics(TCase *tc)
{
    tcase_add_test(tc, numerics_nan_and_inf);
    tcase_add_test(tc, numerics_huge_values);
}
