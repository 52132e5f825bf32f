/*
 * Convolution: document 002's worked example, hand-derived Keras 'same' and
 * PyTorch explicit-padding cases, Keras <-> PyTorch weight layout
 * equivalence, output sizes against SEMANTICS.md §6's formulas over a
 * sweep, bad input with canaries, and numerics. Every float test runs
 * through the naive kernel, the AVX2 kernel where this CPU runs it, and the
 * dispatching entry points (nnr_conv_workspace_size, nnr_conv_fwd,
 * nnr_conv_bwd).
 */
#include "config.h"
#include <float.h>
#include <stdio.h>
#include "test_util.h"
#include "test_conv.h"

static void assert_ok(nnr_status st, const char *what)
{
    ck_assert_msg(st.code == NNR_OK, "%s: %s", what, nnr_strerror(&st));
}

/* ---- reference ------------------------------------------------------------ */

/*
 * Document 002 (sources/002_*.txt, "Convolution"): a 4x4 image and the 2x2
 * filter [[1,0],[0,1]] at stride 1. Its code loops over `img_mx`, a name it
 * never defines (the image is `img_input`; with img_mx = numpy.array(
 * img_input) the slicing img_mx[i:i+2, j:j+2] works), and the page shows no
 * output. The 3x3 result, derived by hand: the filter picks the diagonal
 * pair, y[i][j] = img[i][j] + img[i+1][j+1]. Each float input carries at
 * most 2^-24·263 of rounding and the one float sum 2^-24·494, so every
 * output is within 6e-5 of the decimal value: the bound 1e-4.
 */
static const float doc002_img[16] = {260.745f, 261.332f, 112.27f,  262.351f,
                                     260.302f, 208.802f, 139.05f,  230.709f,
                                     261.775f, 93.73f,   166.118f, 122.847f,
                                     259.56f,  232.038f, 262.351f, 228.937f};
static const double doc002_want[9] = {469.547, 400.382, 342.979,    /* 260.745+208.802, 261.332+139.05, 112.27+230.709 */
                                      354.032, 374.920, 261.897,    /* 260.302+93.73, 208.802+166.118, 139.05+122.847 */
                                      493.813, 356.081, 395.055};   /* 261.775+232.038, 93.73+262.351, 166.118+228.937 */

START_TEST(reference_doc002_example)
{
    const float filter[4] = {1, 0, 0, 1};   /* 2x2, one in and one out channel: the same numbers in both weight layouts */
    conv_impl impls[CONV_MAX_IMPLS];
    const size_t n_impls = conv_impls(impls);
    for (int keras = 0; keras < 2; keras++) {
        nnr_conv_params p = keras ? nnr_conv_keras(2, 1, 1, 2) : nnr_conv_torch(2, 1, 1, 2);
        p.use_bias = 0;
        const size_t sp[2] = {4, 4};
        const nnr_shape in = conv_in_shape(&p, 1, 1, sp);
        nnr_shape out;
        assert_ok(nnr_conv_output_shape(&p, &in, &out), "output shape");
        ck_assert_uint_eq(out.dims[keras ? 1 : 2], 3);
        ck_assert_uint_eq(out.dims[keras ? 2 : 3], 3);
        for (size_t k = 0; k < n_impls; k++) {
            float y[9];
            assert_ok(conv_run_fwd(&impls[k], &p, &in, doc002_img, filter, NULL, y), impls[k].name);
            for (int i = 0; i < 9; i++)
                ck_assert_msg(fabs(y[i] - doc002_want[i]) <= 1e-4, "%s %s y[%d] = %.6f, want %.3f", impls[k].name,
                              keras ? "keras" : "torch", i, y[i], doc002_want[i]);
        }
    }
}
END_TEST

/* Runs a 1-in, 1-out channel 1D layer on x through every implementation and
 * judges the output length and each output against want, exactly (small
 * integers). Returns the tally (cases = implementations run) for the test to
 * assert. */
static tu_tally run_1d(const nnr_conv_params *p, const float *x, size_t n, const float *w, const float *b,
                       const float *want, size_t n_out)
{
    tu_tally t = {0};
    conv_impl impls[CONV_MAX_IMPLS];
    const size_t n_impls = conv_impls(impls);
    const nnr_shape in = conv_in_shape(p, 1, 1, &n);
    nnr_shape out;
    assert_ok(nnr_conv_output_shape(p, &in, &out), "output shape");
    const size_t len = out.dims[p->layout == NNR_CHANNELS_LAST ? 1 : 2];
    if (!tu_judge(&t, len == n_out, 0, 0))
        tu_note(&t, "output length %zu, want %zu", len, n_out);
    for (size_t k = 0; k < n_impls && len == n_out; k++) {
        float y[16];
        assert_ok(conv_run_fwd(&impls[k], p, &in, x, w, b, y), impls[k].name);
        for (size_t o = 0; o < n_out; o++)
            if (!tu_judge(&t, y[o] == want[o], fabs(y[o] - want[o]), 0))
                tu_note(&t, "%s y[%zu] = %g, want %g", impls[k].name, o, y[o], want[o]);
        t.cases++;
    }
    return t;
}

/*
 * Keras 'same' (SEMANTICS.md §1/§6), derived by hand:
 *  - n=5, k=2, s=2: out 3, pads (0, 1) (the odd cell at the end);
 *    x = 1..5, w = [1, 10]: y = [1+20, 3+40, 5+0] = [21, 43, 5].
 *  - n=4, k=3, s=2: out 2, total max((2-1)2 + 3 - 4, 0) = 1, pads (0, 1);
 *    w = [1,1,1]: y = [1+2+3, 3+4+0] = [6, 7].
 *  - 2D 3x3 of ones on 1..9, stride 1: pads (1,1) each axis, y = the 3x3
 *    neighbourhood sums [[12,21,16],[27,45,33],[24,39,28]].
 */
START_TEST(reference_keras_same)
{
    nnr_conv_params p = nnr_conv_keras(1, 1, 1, 2);
    p.use_bias = 0;
    p.padding = NNR_CONV_SAME;
    p.stride[0] = 2;
    const float x5[5] = {1, 2, 3, 4, 5}, w2[2] = {1, 10}, want5[3] = {21, 43, 5};
    tu_tally t = run_1d(&p, x5, 5, w2, NULL, want5, 3);
    ck_assert_msg(t.cases > 0 && t.bad == 0, "n=5 k=2 s=2 'same': %zu of %zu values differ from [21, 43, 5] over %zu "
                  "implementations; first: %s", t.bad, t.checked, t.cases, t.first);

    p.kernel[0] = 3;
    const float x4[4] = {1, 2, 3, 4}, w3[3] = {1, 1, 1}, want4[2] = {6, 7};
    t = run_1d(&p, x4, 4, w3, NULL, want4, 2);
    ck_assert_msg(t.cases > 0 && t.bad == 0, "n=4 k=3 s=2 'same': %zu of %zu values differ from [6, 7] over %zu "
                  "implementations; first: %s", t.bad, t.checked, t.cases, t.first);

    nnr_conv_params q = nnr_conv_keras(2, 1, 1, 3);
    q.padding = NNR_CONV_SAME;
    q.use_bias = 0;
    const float x9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    const float want9[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
    const size_t sp[2] = {3, 3};
    const nnr_shape in = conv_in_shape(&q, 1, 1, sp);
    conv_impl impls[CONV_MAX_IMPLS];
    const size_t n_impls = conv_impls(impls);
    for (size_t k = 0; k < n_impls; k++) {
        float y[9];
        assert_ok(conv_run_fwd(&impls[k], &q, &in, x9, ones, NULL, y), impls[k].name);
        for (int i = 0; i < 9; i++)
            ck_assert_msg(y[i] == want9[i], "%s y[%d] = %g, want %g", impls[k].name, i, y[i], want9[i]);
    }
}
END_TEST

/*
 * PyTorch explicit padding, derived by hand:
 *  - Conv1d(1, 1, 3, padding=1), w = [1,2,3], b = 0.5 on x = 1..4:
 *    y[q] = b + sum_j w[j] x[q-1+j] = [0+2+6, 1+4+9, 2+6+12, 3+8+0] + 0.5
 *    = [8.5, 14.5, 20.5, 11.5].
 *  - Conv1d(1, 1, 2, stride=2, padding=1, dilation=2), w = [1, 10], no bias,
 *    on x = 1..6: k_eff 3, out floor((6+2-3)/2)+1 = 3; output q reads
 *    positions 2q-1 and 2q+1: y = [0+10·2, 2+10·4, 4+10·6] = [20, 42, 64].
 *  - Asymmetric (before, after) = (2, 0) (Keras Conv1D 'causal' for k=3):
 *    w = [1,2,3] on x = 1..4: y[q] = w0 x[q-2] + w1 x[q-1] + w2 x[q]
 *    = [3, 2+6, 1+4+9, 2+6+12] = [3, 8, 14, 20].
 */
START_TEST(reference_torch_explicit)
{
    nnr_conv_params p = nnr_conv_torch(1, 1, 1, 3);
    p.pad_before[0] = p.pad_after[0] = 1;
    const float x4[4] = {1, 2, 3, 4}, w3[3] = {1, 2, 3}, b[1] = {0.5f}, want[4] = {8.5f, 14.5f, 20.5f, 11.5f};
    tu_tally t = run_1d(&p, x4, 4, w3, b, want, 4);
    ck_assert_msg(t.cases > 0 && t.bad == 0, "Conv1d(1, 1, 3, padding=1): %zu of %zu values differ from "
                  "[8.5, 14.5, 20.5, 11.5] over %zu implementations; first: %s", t.bad, t.checked, t.cases, t.first);

    nnr_conv_params q = nnr_conv_torch(1, 1, 1, 2);
    q.use_bias = 0;
    q.stride[0] = 2;
    q.dilation[0] = 2;
    q.pad_before[0] = q.pad_after[0] = 1;
    const float x6[6] = {1, 2, 3, 4, 5, 6}, w2[2] = {1, 10}, want6[3] = {20, 42, 64};
    t = run_1d(&q, x6, 6, w2, NULL, want6, 3);
    ck_assert_msg(t.cases > 0 && t.bad == 0, "Conv1d(1, 1, 2, stride=2, padding=1, dilation=2): %zu of %zu values "
                  "differ from [20, 42, 64] over %zu implementations; first: %s", t.bad, t.checked, t.cases, t.first);

    nnr_conv_params c = nnr_conv_keras(1, 1, 1, 3);
    c.use_bias = 0;
    c.padding = NNR_CONV_EXPLICIT;
    c.pad_before[0] = 2;
    const float want_causal[4] = {3, 8, 14, 20};
    t = run_1d(&c, x4, 4, w3, NULL, want_causal, 4);
    ck_assert_msg(t.cases > 0 && t.bad == 0, "Conv1D causal pads (2, 0): %zu of %zu values differ from [3, 8, 14, 20] "
                  "over %zu implementations; first: %s", t.bad, t.checked, t.cases, t.first);
}
END_TEST

/*
 * Channels and the two weight layouts, by hand: a 1x1 Conv1D from 2 to 3
 * channels on one position x = (1, 10), W[o][c] = (o+1)·(c==0 ? 1 : 2),
 * b = (100, 200, 300): y[o] = b[o] + W[o][0]·1 + W[o][1]·10 =
 * [100+1+20, 200+2+40, 300+3+60] = [121, 242, 363]. PyTorch stores W as
 * (3, 2, 1) = row-major W; Keras as (1, 2, 3) = W transposed.
 */
START_TEST(reference_channels_and_weight_layouts)
{
    const float x[2] = {1, 10}, b[3] = {100, 200, 300}, want[3] = {121, 242, 363};
    const float w_torch[6] = {1, 2, 2, 4, 3, 6};       /* [o][c] */
    const float w_keras[6] = {1, 2, 3, 2, 4, 6};       /* [c][o] */
    conv_impl impls[CONV_MAX_IMPLS];
    const size_t n_impls = conv_impls(impls);
    for (int keras = 0; keras < 2; keras++) {
        nnr_conv_params p = keras ? nnr_conv_keras(1, 2, 3, 1) : nnr_conv_torch(1, 2, 3, 1);
        const size_t one = 1;
        const nnr_shape in = conv_in_shape(&p, 1, 2, &one);
        for (size_t k = 0; k < n_impls; k++) {
            float y[3];
            assert_ok(conv_run_fwd(&impls[k], &p, &in, x, keras ? w_keras : w_torch, b, y), impls[k].name);
            for (int o = 0; o < 3; o++)
                ck_assert_msg(y[o] == want[o], "%s %s y[%d] = %g", impls[k].name, keras ? "keras" : "torch", o, y[o]);
        }
    }
}
END_TEST

/*
 * Keras <-> PyTorch: the same layer with w_keras[j_h, j_w, c, o] =
 * w_torch[o, c, j_h, j_w] gives bitwise the same y, dx, db (the naive sum
 * runs over (c, j_h, j_w) in the same order whatever the storage), and dw
 * comes back in each layout, bitwise the transposed other. Both data
 * layouts, stride 2 and padding on a 2D layer with 3 -> 4 channels.
 */
START_TEST(reference_keras_torch_weight_equivalence)
{
    const int cin = 3, cout = 4, kh = 3, kw = 2;
    for (int cl = 0; cl < 2; cl++) {
        nnr_conv_params pt = nnr_conv_torch(2, cin, cout, 3);
        pt.kernel[1] = kw;
        pt.stride[0] = 2;
        pt.pad_before[0] = 1;
        pt.pad_after[1] = 1;
        pt.layout = cl ? NNR_CHANNELS_LAST : NNR_CHANNELS_FIRST;
        nnr_conv_params pk = pt;
        pk.weight_layout = NNR_CONV_WEIGHT_KERAS;
        const size_t sp[2] = {7, 5};
        const nnr_shape in = conv_in_shape(&pt, 2, (size_t)cin, sp);
        size_t n_x, n_y, n_w;
        conv_counts(&pt, &in, &n_x, &n_y, &n_w);
        float *x = tu_alloc_f(n_x), *dy = tu_alloc_f(n_y), *wt = tu_alloc_f(n_w), *wk = tu_alloc_f(n_w);
        float *yt = tu_alloc_f(n_y), *yk = tu_alloc_f(n_y), *dxt = tu_alloc_f(n_x), *dxk = tu_alloc_f(n_x);
        float *dwt = tu_alloc_f(n_w), *dwk = tu_alloc_f(n_w), b[4], dbt[4], dbk[4];
        tu_randn_f(x, n_x, 11, 0, 1);
        tu_randn_f(dy, n_y, 12, 0, 1);
        tu_randn_f(wt, n_w, 13, 0, 1);
        tu_randn_f(b, 4, 14, 0, 1);
        for (int o = 0; o < cout; o++)
            for (int c = 0; c < cin; c++)
                for (int jh = 0; jh < kh; jh++)
                    for (int jw = 0; jw < kw; jw++)
                        wk[((jh * kw + jw) * cin + c) * cout + o] = wt[((o * cin + c) * kh + jh) * kw + jw];
        assert_ok(nnr_conv_fwd_naive(&pt, &in, x, wt, b, yt, NULL, 0), "torch fwd");
        assert_ok(nnr_conv_fwd_naive(&pk, &in, x, wk, b, yk, NULL, 0), "keras fwd");
        ck_assert_msg(memcmp(yt, yk, n_y * sizeof *yt) == 0, "y differs between weight layouts (layout %d)", cl);
        assert_ok(nnr_conv_bwd_naive(&pt, &in, x, wt, dy, dxt, dwt, dbt, NULL, 0), "torch bwd");
        assert_ok(nnr_conv_bwd_naive(&pk, &in, x, wk, dy, dxk, dwk, dbk, NULL, 0), "keras bwd");
        ck_assert(memcmp(dxt, dxk, n_x * sizeof *dxt) == 0);
        ck_assert(memcmp(dbt, dbk, sizeof dbt) == 0);
        for (int o = 0; o < cout; o++)
            for (int c = 0; c < cin; c++)
                for (int t = 0; t < kh * kw; t++)
                    ck_assert(dwk[(t * cin + c) * cout + o] == dwt[(o * cin + c) * kh * kw + t]);
        free(x); free(dy); free(wt); free(wk); free(yt); free(yk); free(dxt); free(dxk); free(dwt); free(dwk);
    }
}
END_TEST

/* Backward by hand: the doc 002 layer on a 3x3 input of 1..9 with dy = ones
 * (2x2): db = 4; dw[j] = sum of the 2x2 inputs under tap j =
 * [1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9] = [12, 16, 24, 28]; dx = how many
 * outputs read each cell through the diagonal taps: w00 reads each of the
 * cells (0..1, 0..1) once, w11 each of (1..2, 1..2) once, so the centre
 * gets 2: dx = [[1,1,0],[1,2,1],[0,1,1]]. */
START_TEST(reference_backward_by_hand)
{
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 0, 0, 1}, dy[4] = {1, 1, 1, 1};
    const float want_dw[4] = {12, 16, 24, 28}, want_dx[9] = {1, 1, 0, 1, 2, 1, 0, 1, 1};
    conv_impl impls[CONV_MAX_IMPLS];
    const size_t n_impls = conv_impls(impls);
    nnr_conv_params p = nnr_conv_torch(2, 1, 1, 2);
    const size_t sp[2] = {3, 3};
    const nnr_shape in = conv_in_shape(&p, 1, 1, sp);
    for (size_t k = 0; k < n_impls; k++) {
        float dx[9], dw[4], db[1];
        assert_ok(conv_run_bwd(&impls[k], &p, &in, x, w, dy, dx, dw, db), impls[k].name);
        ck_assert_msg(db[0] == 4, "%s db = %g", impls[k].name, db[0]);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(dw[i] == want_dw[i], "%s dw[%d] = %g", impls[k].name, i, dw[i]);
        for (int i = 0; i < 9; i++)
            ck_assert_msg(dx[i] == want_dx[i], "%s dx[%d] = %g", impls[k].name, i, dx[i]);
    }
}
END_TEST

void conv_add_reference(TCase *tc)
{
    tcase_add_test(tc, reference_doc002_example);
    tcase_add_test(tc, reference_keras_same);
    tcase_add_test(tc, reference_torch_explicit);
    tcase_add_test(tc, reference_channels_and_weight_layouts);
    tcase_add_test(tc, reference_keras_torch_weight_equivalence);
    tcase_add_test(tc, reference_backward_by_hand);
}

/* ---- shapes ------------------------------------------------------------------ */

/* SEMANTICS.md §1/§6 written out independently of the library:
 * valid floor((n - keff)/s) + 1, same ceil(n/s), explicit
 * floor((n + pb + pa - keff)/s) + 1; <= 0 means rejected. */
static long formula_out(long n, long k, long s, long d, nnr_conv_padding mode, long pb, long pa)
{
    const long keff = (k - 1) * d + 1;
    if (mode == NNR_CONV_SAME)
        return (n + s - 1) / s;
    const long padded = n + (mode == NNR_CONV_EXPLICIT ? pb + pa : 0);
    if (padded < keff)
        return 0;
    return (padded - keff) / s + 1;
}

START_TEST(shapes_output_size_sweep)
{
    size_t checked = 0;
    for (long n = 1; n <= 12; n++)
        for (long k = 1; k <= 5; k++)
            for (long s = 1; s <= 3; s++)
                for (long d = 1; d <= 3; d++)
                    for (int mode = 0; mode < 3; mode++)
                        for (long pb = 0; pb <= (mode == NNR_CONV_EXPLICIT ? 2 : 0); pb++)
                            for (long pa = 0; pa <= (mode == NNR_CONV_EXPLICIT ? 2 : 0); pa++) {
                                nnr_conv_params p = nnr_conv_torch(1, 2, 3, (int)k);
                                p.stride[0] = (int)s;
                                p.dilation[0] = (int)d;
                                p.padding = (nnr_conv_padding)mode;
                                p.forbid_strided_same = 0;
                                p.pad_before[0] = (int)pb;
                                p.pad_after[0] = (int)pa;
                                const nnr_shape in = {3, {1, 2, (size_t)n}};
                                nnr_shape out;
                                const long want = formula_out(n, k, s, d, (nnr_conv_padding)mode, pb, pa);
                                nnr_status st = nnr_conv_output_shape(&p, &in, &out);
                                if (want <= 0) {
                                    ck_assert_msg(st.code == NNR_ERR_SHAPE, "n=%ld k=%ld s=%ld d=%ld mode %d accepted", n,
                                                  k, s, d, mode);
                                } else {
                                    assert_ok(st, "output shape");
                                    ck_assert_msg(out.dims[2] == (size_t)want && out.dims[1] == 3 && out.dims[0] == 1,
                                                  "n=%ld k=%ld s=%ld d=%ld mode %d pads %ld/%ld: %zu, want %ld", n, k,
                                                  s, d, mode, pb, pa, out.dims[2], want);
                                }
                                checked++;
                            }
    ck_assert_uint_gt(checked, 3000);
}
END_TEST

/* SEMANTICS.md §1's three checked 'same' splits, and Keras 'same' equal to
 * explicit pads with that split, bitwise, in 2D with stride 2. */
START_TEST(shapes_same_padding_split)
{
    size_t out, before, after;
    assert_ok(nnr_conv_same_padding(5, 2, 2, 1, &out, &before, &after), "5,2,2");
    ck_assert(out == 3 && before == 0 && after == 1);
    assert_ok(nnr_conv_same_padding(7, 4, 3, 1, &out, &before, &after), "7,4,3");
    ck_assert(out == 3 && before == 1 && after == 2);
    assert_ok(nnr_conv_same_padding(4, 3, 1, 1, &out, &before, &after), "4,3,1");
    ck_assert(out == 4 && before == 1 && after == 1);
    /* dilation: k_eff = 5 at n=6, s=1: total 4, (2, 2) */
    assert_ok(nnr_conv_same_padding(6, 3, 1, 2, &out, &before, &after), "6,3,1,2");
    ck_assert(out == 6 && before == 2 && after == 2);

    nnr_conv_params same = nnr_conv_keras(2, 3, 2, 3);
    same.padding = NNR_CONV_SAME;
    same.stride[0] = same.stride[1] = 2;
    nnr_conv_params expl = same;
    expl.padding = NNR_CONV_EXPLICIT;
    const size_t sp[2] = {7, 8};
    size_t pb[2], pa[2];
    for (int i = 0; i < 2; i++) {
        assert_ok(nnr_conv_same_padding(sp[i], 3, 2, 1, NULL, &pb[i], &pa[i]), "split");
        expl.pad_before[i] = (int)pb[i];
        expl.pad_after[i] = (int)pa[i];
    }
    ck_assert(pb[0] == 1 && pa[0] == 1 && pb[1] == 0 && pa[1] == 1);   /* 7: total 2; 8: total 1, at the end */
    const nnr_shape in = conv_in_shape(&same, 2, 3, sp);
    size_t n_x, n_y, n_w;
    conv_counts(&same, &in, &n_x, &n_y, &n_w);
    float *x = tu_alloc_f(n_x), *w = tu_alloc_f(n_w), *y1 = tu_alloc_f(n_y), *y2 = tu_alloc_f(n_y), b[2] = {0.5f, -1};
    tu_randn_f(x, n_x, 21, 0, 1);
    tu_randn_f(w, n_w, 22, 0, 1);
    assert_ok(nnr_conv_fwd_naive(&same, &in, x, w, b, y1, NULL, 0), "same");
    assert_ok(nnr_conv_fwd_naive(&expl, &in, x, w, b, y2, NULL, 0), "explicit");
    ck_assert(memcmp(y1, y2, n_y * sizeof *y1) == 0);
    free(x); free(w); free(y1); free(y2);
}
END_TEST

/* Layouts: channels_last is channels_first transposed, bitwise (the naive
 * sums run in the same order); a 1D layer equals a 2D layer of height 1;
 * the double kernel agrees with the float one to float rounding. */
START_TEST(shapes_layouts_1d_2d_double)
{
    const size_t n = 2, cin = 3, cout = 5, h = 6, wd = 7;
    nnr_conv_params cf = nnr_conv_torch(2, (int)cin, (int)cout, 3);
    cf.stride[1] = 2;
    cf.dilation[0] = 2;
    cf.pad_before[1] = 1;
    cf.pad_after[0] = 1;
    nnr_conv_params cl = cf;
    cl.layout = NNR_CHANNELS_LAST;
    const size_t sp[2] = {h, wd};
    const nnr_shape in_cf = conv_in_shape(&cf, n, cin, sp), in_cl = conv_in_shape(&cl, n, cin, sp);
    size_t n_x, n_y, n_w;
    conv_counts(&cf, &in_cf, &n_x, &n_y, &n_w);
    nnr_shape out_cf;
    assert_ok(nnr_conv_output_shape(&cf, &in_cf, &out_cf), "out");
    const size_t oh = out_cf.dims[2], ow = out_cf.dims[3];
    float *x = tu_alloc_f(n_x), *xt = tu_alloc_f(n_x), *w = tu_alloc_f(n_w), *y = tu_alloc_f(n_y), *yt = tu_alloc_f(n_y);
    float b[5];
    tu_randn_f(x, n_x, 31, 0, 1);
    tu_randn_f(w, n_w, 32, 0, 1);
    tu_randn_f(b, cout, 33, 0, 1);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < cin; c++)
            for (size_t s = 0; s < h * wd; s++)
                xt[(i * h * wd + s) * cin + c] = x[(i * cin + c) * h * wd + s];
    assert_ok(nnr_conv_fwd_naive(&cf, &in_cf, x, w, b, y, NULL, 0), "cf");
    assert_ok(nnr_conv_fwd_naive(&cl, &in_cl, xt, w, b, yt, NULL, 0), "cl");
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < cout; o++)
            for (size_t s = 0; s < oh * ow; s++)
                ck_assert(y[(i * cout + o) * oh * ow + s] == yt[(i * oh * ow + s) * cout + o]);

    /* 1D on the first row's width = 2D of height 1 */
    nnr_conv_params c1 = nnr_conv_torch(1, (int)cin, (int)cout, 3);
    c1.stride[0] = 2;
    c1.pad_before[0] = 1;
    nnr_conv_params c2 = nnr_conv_torch(2, (int)cin, (int)cout, 3);
    c2.kernel[0] = 1;
    c2.stride[1] = 2;
    c2.pad_before[1] = 1;
    const nnr_shape in1 = {3, {n, cin, wd}}, in2 = {4, {n, cin, 1, wd}};
    size_t n_x1, n_y1, n_w1;
    conv_counts(&c1, &in1, &n_x1, &n_y1, &n_w1);
    float *y1 = tu_alloc_f(n_y1), *y2 = tu_alloc_f(n_y1);
    assert_ok(nnr_conv_fwd_naive(&c1, &in1, x, w, b, y1, NULL, 0), "1d");
    assert_ok(nnr_conv_fwd_naive(&c2, &in2, x, w, b, y2, NULL, 0), "2d h=1");
    ck_assert(memcmp(y1, y2, n_y1 * sizeof *y1) == 0);

    /* double kernel on the same inputs: within the float sum's bound
     * gamma_{K+1} sum|w x| + |b| (K = 27 terms), checked loosely as
     * 32·2^-24·(sum of |terms|) through the double kernel on |x|, |w|, |b| */
    double *xd = tu_alloc_d(n_x), *wd64 = tu_alloc_d(n_w), *yd = tu_alloc_d(n_y), *sd = tu_alloc_d(n_y), bd[5], ba[5];
    double *xa = tu_alloc_d(n_x), *wa = tu_alloc_d(n_w);
    for (size_t i = 0; i < n_x; i++) {
        xd[i] = x[i];
        xa[i] = fabs(x[i]);
    }
    for (size_t i = 0; i < n_w; i++) {
        wd64[i] = w[i];
        wa[i] = fabs(w[i]);
    }
    for (size_t i = 0; i < cout; i++) {
        bd[i] = b[i];
        ba[i] = fabs(b[i]);
    }
    assert_ok(nnr_conv_fwd_naive_f64(&cf, &in_cf, xd, wd64, bd, yd, NULL, 0), "f64");
    assert_ok(nnr_conv_fwd_naive_f64(&cf, &in_cf, xa, wa, ba, sd, NULL, 0), "f64 abs");
    for (size_t i = 0; i < n_y; i++)
        ck_assert_msg(fabs(y[i] - yd[i]) <= 32 * 0x1p-24 * sd[i], "y[%zu] %g vs double %g", i, y[i], yd[i]);
    free(x); free(xt); free(w); free(y); free(yt); free(y1); free(y2);
    free(xd); free(wd64); free(yd); free(sd); free(xa); free(wa);
}
END_TEST

/* Backward output semantics: dx, dw, db each optional and overwritten;
 * computing them one at a time gives what computing them together gives. */
START_TEST(shapes_backward_optional_outputs)
{
    conv_impl impls[CONV_MAX_IMPLS];
    const size_t n_impls = conv_impls(impls);
    nnr_conv_params p = nnr_conv_keras(2, 3, 4, 3);
    p.padding = NNR_CONV_SAME;
    const size_t sp[2] = {5, 6};
    const nnr_shape in = conv_in_shape(&p, 2, 3, sp);
    size_t n_x, n_y, n_w;
    conv_counts(&p, &in, &n_x, &n_y, &n_w);
    float *x = tu_alloc_f(n_x), *w = tu_alloc_f(n_w), *dy = tu_alloc_f(n_y);
    float *dx = tu_alloc_f(n_x), *dw = tu_alloc_f(n_w), *dx1 = tu_alloc_f(n_x), *dw1 = tu_alloc_f(n_w), db[4], db1[4];
    tu_randn_f(x, n_x, 41, 0, 1);
    tu_randn_f(w, n_w, 42, 0, 1);
    tu_randn_f(dy, n_y, 43, 0, 1);
    for (size_t k = 0; k < n_impls; k++) {
        assert_ok(conv_run_bwd(&impls[k], &p, &in, x, w, dy, dx, dw, db), "all");
        tu_fill_canary(dx1, n_x);
        tu_fill_canary(dw1, n_w);
        tu_fill_canary(db1, 4);
        assert_ok(conv_run_bwd(&impls[k], &p, &in, NULL, w, dy, dx1, NULL, NULL), "dx only (x NULL)");
        ck_assert(tu_all_canary(dw1, n_w) && tu_all_canary(db1, 4));
        assert_ok(conv_run_bwd(&impls[k], &p, &in, x, NULL, dy, NULL, dw1, NULL), "dw only (w NULL)");
        assert_ok(conv_run_bwd(&impls[k], &p, &in, NULL, NULL, dy, NULL, NULL, db1), "db only");
        ck_assert_msg(memcmp(dx, dx1, n_x * sizeof *dx) == 0, "%s dx", impls[k].name);
        ck_assert_msg(memcmp(dw, dw1, n_w * sizeof *dw) == 0, "%s dw", impls[k].name);
        ck_assert_msg(memcmp(db, db1, sizeof db) == 0, "%s db", impls[k].name);
        /* overwritten, not accumulated: a second call gives the same */
        assert_ok(conv_run_bwd(&impls[k], &p, &in, x, w, dy, dx1, dw1, db1), "again");
        ck_assert(memcmp(dx, dx1, n_x * sizeof *dx) == 0 && memcmp(dw, dw1, n_w * sizeof *dw) == 0);
    }
    free(x); free(w); free(dy); free(dx); free(dw); free(dx1); free(dw1);
}
END_TEST

void conv_add_shapes(TCase *tc)
{
    tcase_add_test(tc, shapes_output_size_sweep);
    tcase_add_test(tc, shapes_same_padding_split);
    tcase_add_test(tc, shapes_layouts_1d_2d_double);
    tcase_add_test(tc, shapes_backward_optional_outputs);
}

/* ---- errors ---------------------------------------------------------------------- */

/* A rejected call: the code, a word of the sentence, and every output untouched. */
typedef struct bad_call {
    const char *what;
    nnr_conv_params p;
    nnr_shape in;
    nnr_code code;
    const char *needle;     /* a word the sentence must contain */
} bad_call;

static void expect_rejected(const bad_call *bc)
{
    conv_impl impls[CONV_MAX_IMPLS];
    const size_t n_impls = conv_impls(impls);
    enum { BIG = 4096 };
    float *x = tu_alloc_f(BIG), *w = tu_alloc_f(BIG), *b = tu_alloc_f(BIG), *y = tu_alloc_f(BIG);
    float *dx = tu_alloc_f(BIG), *dw = tu_alloc_f(BIG), *db = tu_alloc_f(BIG), *ws = tu_alloc_f(1 << 20);
    for (int i = 0; i < BIG; i++)
        x[i] = w[i] = b[i] = 1;
    for (size_t k = 0; k < n_impls; k++) {
        tu_fill_canary(y, BIG);
        tu_fill_canary(dx, BIG);
        tu_fill_canary(dw, BIG);
        tu_fill_canary(db, BIG);
        nnr_status st = impls[k].fwd(&bc->p, &bc->in, x, w, b, y, ws, 1 << 20);
        ck_assert_msg(st.code == bc->code, "%s %s fwd: code %d (%s), want %d", impls[k].name, bc->what, st.code,
                      nnr_strerror(&st), bc->code);
        ck_assert_msg(strstr(st.message, bc->needle) != NULL, "%s %s: '%s' lacks '%s'", impls[k].name, bc->what,
                      st.message, bc->needle);
        st = impls[k].bwd(&bc->p, &bc->in, x, w, y, dx, dw, db, ws, 1 << 20);
        ck_assert_msg(st.code == bc->code, "%s %s bwd: %s", impls[k].name, bc->what, nnr_strerror(&st));
        size_t floats = 7;
        st = impls[k].workspace(&bc->p, &bc->in, &floats);
        ck_assert_msg(st.code == bc->code && floats == 7, "%s %s workspace query", impls[k].name, bc->what);
        ck_assert_msg(tu_all_canary(y, BIG) && tu_all_canary(dx, BIG) && tu_all_canary(dw, BIG) &&
                      tu_all_canary(db, BIG), "%s %s: an output was written", impls[k].name, bc->what);
    }
    nnr_shape out = {0};
    ck_assert(nnr_conv_output_shape(&bc->p, &bc->in, &out).code == bc->code && out.rank == 0);
    free(x); free(w); free(b); free(y); free(dx); free(dw); free(db); free(ws);
}

START_TEST(errors_bad_parameters_and_shapes)
{
    const nnr_conv_params t = nnr_conv_torch(2, 2, 3, 3), k = nnr_conv_keras(2, 2, 3, 3);
    const nnr_shape in_t = {4, {1, 2, 5, 5}}, in_k = {4, {1, 5, 5, 2}};
    bad_call calls[32];
    size_t n = 0;
#define BAD(what_, p_, in_, code_, needle_) calls[n++] = (bad_call){what_, p_, in_, code_, needle_}
    nnr_conv_params p;
    p = t; p.stride[1] = 0;           BAD("zero stride", p, in_t, NNR_ERR_PARAM, "stride[1]");
    p = t; p.dilation[0] = 0;         BAD("zero dilation", p, in_t, NNR_ERR_PARAM, "dilation[0]");
    p = t; p.kernel[0] = 0;           BAD("zero kernel", p, in_t, NNR_ERR_PARAM, "kernel[0]");
    p = t; p.kernel[1] = 6;           BAD("kernel > input", p, in_t, NNR_ERR_SHAPE, "spans 6 cells, more than the padded input width 5");
    p = t; p.dilation[0] = 3;         BAD("dilated kernel > input", p, in_t, NNR_ERR_SHAPE, "spans 7 cells");
    p = t; p.kernel[0] = 8; p.pad_before[0] = 1; p.pad_after[0] = 1;
                                      BAD("kernel > padded input", p, in_t, NNR_ERR_SHAPE, "padded input height 7 (input 5 + padding 1 + 1)");
    p = k; p.stride[0] = 2; p.dilation[1] = 2;
                                      BAD("keras strides with dilation", p, in_k, NNR_ERR_PARAM, "not supported in conjunction with");
    p = t; p.padding = NNR_CONV_SAME; p.stride[1] = 2;
                                      BAD("torch strided same", p, in_t, NNR_ERR_PARAM, "padding='same' is not supported for strided");
    p = t; p.in_channels = 3;         BAD("channel mismatch", p, in_t, NNR_ERR_SHAPE, "in_channels is 3");
    p = t;                            BAD("layout mismatch", p, in_k, NNR_ERR_SHAPE, "in_channels is 2");
    p = t; p.dims = 1;                BAD("rank mismatch", p, in_t, NNR_ERR_SHAPE, "rank 4");
    p = t; p.dims = 3;                BAD("dims 3", p, in_t, NNR_ERR_PARAM, "dims");
    p = t; p.filters = 0;             BAD("zero filters", p, in_t, NNR_ERR_PARAM, "filters");
    p = t; p.pad_before[0] = -1;      BAD("negative pad", p, in_t, NNR_ERR_PARAM, "non-negative");
    p = k; p.pad_after[1] = 1;        BAD("pad with valid", p, in_k, NNR_ERR_PARAM, "NNR_CONV_EXPLICIT only");
    p = t; p.padding = (nnr_conv_padding)7;
                                      BAD("unknown padding", p, in_t, NNR_ERR_PARAM, "padding");
    p = t; p.weight_layout = (nnr_conv_weight_layout)5;
                                      BAD("unknown weight layout", p, in_t, NNR_ERR_PARAM, "weight_layout");
    p = t;                            BAD("zero extent", p, ((nnr_shape){4, {1, 2, 0, 5}}), NNR_ERR_SHAPE, "in_shape");
    p = t; p.layout = (nnr_layout)9;  BAD("unknown layout", p, in_t, NNR_ERR_PARAM, "layout");
#undef BAD
    for (size_t i = 0; i < n; i++)
        expect_rejected(&calls[i]);

    /* The same parameters are fine where each framework allows them. */
    nnr_conv_params ok = t;
    ok.stride[0] = 2;
    ok.dilation[1] = 2;                                /* PyTorch: strides with dilation */
    nnr_shape out;
    assert_ok(nnr_conv_output_shape(&ok, &in_t, &out), "torch strided dilation");
    ok = k;
    ok.padding = NNR_CONV_SAME;
    ok.stride[0] = ok.stride[1] = 2;                   /* Keras: strided same */
    assert_ok(nnr_conv_output_shape(&ok, &in_k, &out), "keras strided same");
    ck_assert(out.dims[1] == 3 && out.dims[2] == 3);
}
END_TEST

/* Null pointers, the bias rules, an all-NULL backward, a short workspace. */
START_TEST(errors_pointers_and_workspace)
{
    conv_impl impls[CONV_MAX_IMPLS];
    const size_t n_impls = conv_impls(impls);
    nnr_conv_params p = nnr_conv_torch(2, 2, 3, 3);
    p.pad_before[0] = p.pad_before[1] = p.pad_after[0] = p.pad_after[1] = 1;
    const nnr_shape in = {4, {2, 2, 6, 5}};
    size_t n_x, n_y, n_w;
    conv_counts(&p, &in, &n_x, &n_y, &n_w);
    float *x = tu_alloc_f(n_x), *w = tu_alloc_f(n_w), *y = tu_alloc_f(n_y), *dx = tu_alloc_f(n_x);
    float *dw = tu_alloc_f(n_w), b[3] = {1, 2, 3}, db[3];
    tu_randn_f(x, n_x, 51, 0, 1);
    tu_randn_f(w, n_w, 52, 0, 1);
    for (size_t k = 0; k < n_impls; k++) {
        size_t need;
        assert_ok(impls[k].workspace(&p, &in, &need), "query");
        float *ws = tu_alloc_f(need + 1);
        tu_fill_canary(y, n_y);
        tu_fill_canary(dx, n_x);
        tu_fill_canary(dw, n_w);
        tu_fill_canary(db, 3);
        struct { const char *what; nnr_status st; nnr_code code; const char *needle; } r[] = {
            {"params NULL", impls[k].fwd(NULL, &in, x, w, b, y, ws, need), NNR_ERR_NULL, "params"},
            {"in_shape NULL", impls[k].fwd(&p, NULL, x, w, b, y, ws, need), NNR_ERR_NULL, "in_shape"},
            {"x NULL", impls[k].fwd(&p, &in, NULL, w, b, y, ws, need), NNR_ERR_NULL, "x is NULL"},
            {"w NULL", impls[k].fwd(&p, &in, x, NULL, b, y, ws, need), NNR_ERR_NULL, "w is NULL"},
            {"b NULL with bias", impls[k].fwd(&p, &in, x, w, NULL, y, ws, need), NNR_ERR_NULL, "use_bias"},
            {"y NULL", impls[k].fwd(&p, &in, x, w, b, NULL, ws, need), NNR_ERR_NULL, "y is NULL"},
            {"bwd dy NULL", impls[k].bwd(&p, &in, x, w, NULL, dx, dw, db, ws, need), NNR_ERR_NULL, "dy"},
            {"bwd all NULL", impls[k].bwd(&p, &in, x, w, y, NULL, NULL, NULL, ws, need), NNR_ERR_NULL, "nothing to compute"},
            {"bwd x NULL for dw", impls[k].bwd(&p, &in, NULL, w, x, dx, dw, NULL, ws, need), NNR_ERR_NULL, "needed for dw"},
            {"bwd w NULL for dx", impls[k].bwd(&p, &in, x, NULL, x, dx, dw, NULL, ws, need), NNR_ERR_NULL, "needed for dx"},
        };
        for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
            ck_assert_msg(r[i].st.code == r[i].code, "%s %s: %s", impls[k].name, r[i].what, nnr_strerror(&r[i].st));
            ck_assert_msg(strstr(r[i].st.message, r[i].needle) != NULL, "%s %s: '%s'", impls[k].name, r[i].what,
                          r[i].st.message);
        }
        nnr_conv_params nb = p;
        nb.use_bias = 0;
        nnr_status st = impls[k].bwd(&nb, &in, x, w, x, dx, dw, db, ws, need);
        ck_assert_msg(st.code == NNR_ERR_PARAM && strstr(st.message, "use_bias is off"), "%s db without bias: %s",
                      impls[k].name, nnr_strerror(&st));
        if (need > 0) {
            st = impls[k].fwd(&p, &in, x, w, b, y, ws, need - 1);
            ck_assert_msg(st.code == NNR_ERR_PARAM && strstr(st.message, "workspace_floats"), "%s short workspace",
                          impls[k].name);
            st = impls[k].bwd(&p, &in, x, w, x, dx, dw, db, NULL, need);
            ck_assert_msg(st.code == NNR_ERR_NULL && strstr(st.message, "workspace"), "%s NULL workspace",
                          impls[k].name);
        }
        ck_assert_msg(tu_all_canary(y, n_y) && tu_all_canary(dx, n_x) && tu_all_canary(dw, n_w) &&
                      tu_all_canary(db, 3), "%s: an output was written on a rejected call", impls[k].name);
        /* without bias, b may be NULL */
        assert_ok(impls[k].fwd(&nb, &in, x, w, NULL, y, ws, need), "no bias, b NULL");
        free(ws);
    }
    free(x); free(w); free(y); free(dx); free(dw);
}
END_TEST

/* Sizes beyond size_t: the checks say so before anything is read. */
START_TEST(errors_overflow)
{
    nnr_conv_params p = nnr_conv_torch(2, 1, 1, 1);
    const nnr_shape huge = {4, {(size_t)1 << 40, 1, (size_t)1 << 20, (size_t)1 << 20}};
    nnr_shape out;
    nnr_status st = nnr_conv_output_shape(&p, &huge, &out);
    ck_assert_msg(st.code == NNR_ERR_OVERFLOW, "%s", nnr_strerror(&st));
    p = nnr_conv_torch(2, 1 << 30, 1 << 30, 1 << 20);
    nnr_shape ws;
    st = nnr_conv_weight_shape(&p, &ws);
    ck_assert_msg(st.code == NNR_ERR_OVERFLOW, "%s", nnr_strerror(&st));
    st = nnr_conv_same_padding(10, 0, 1, 1, NULL, NULL, NULL);
    ck_assert(st.code == NNR_ERR_PARAM);
}
END_TEST

void conv_add_errors(TCase *tc)
{
    tcase_add_test(tc, errors_bad_parameters_and_shapes);
    tcase_add_test(tc, errors_pointers_and_workspace);
    tcase_add_test(tc, errors_overflow);
}

/* ---- numerics --------------------------------------------------------------------- */

/* Integer data small enough that every partial sum is exact in float: every
 * implementation must give exactly the double kernel's results, forward and
 * backward, whatever its summation order (a wrong tap or a lost padding
 * shows as a whole-number error). */
START_TEST(numerics_exact_integers)
{
    conv_impl impls[CONV_MAX_IMPLS];
    const size_t n_impls = conv_impls(impls);
    for (int cl = 0; cl < 2; cl++) {
        nnr_conv_params p = nnr_conv_torch(2, 5, 6, 3);
        p.layout = cl ? NNR_CHANNELS_LAST : NNR_CHANNELS_FIRST;
        p.weight_layout = cl ? NNR_CONV_WEIGHT_KERAS : NNR_CONV_WEIGHT_TORCH;
        p.stride[1] = 2;
        p.dilation[0] = 2;
        p.pad_before[0] = 2;
        p.pad_after[1] = 1;
        const size_t sp[2] = {9, 10};
        const nnr_shape in = conv_in_shape(&p, 2, 5, sp);
        size_t n_x, n_y, n_w;
        conv_counts(&p, &in, &n_x, &n_y, &n_w);
        float *x = tu_alloc_f(n_x), *w = tu_alloc_f(n_w), *dy = tu_alloc_f(n_y), *y = tu_alloc_f(n_y);
        float *dx = tu_alloc_f(n_x), *dw = tu_alloc_f(n_w), b[6], db[6];
        double *xd = tu_alloc_d(n_x), *wd = tu_alloc_d(n_w), *dyd = tu_alloc_d(n_y), *yd = tu_alloc_d(n_y);
        double *dxd = tu_alloc_d(n_x), *dwd = tu_alloc_d(n_w), bd[6], dbd[6];
        /* values in -4..4: products <= 16, sums of <= 2·9·10·6 terms stay far below 2^24 */
        for (size_t i = 0; i < n_x; i++)
            xd[i] = x[i] = (float)((int)(i * 7 % 9) - 4);
        for (size_t i = 0; i < n_w; i++)
            wd[i] = w[i] = (float)((int)(i * 5 % 9) - 4);
        for (size_t i = 0; i < n_y; i++)
            dyd[i] = dy[i] = (float)((int)(i * 3 % 7) - 3);
        for (int i = 0; i < 6; i++)
            bd[i] = b[i] = (float)(i - 2);
        assert_ok(nnr_conv_fwd_naive_f64(&p, &in, xd, wd, bd, yd, NULL, 0), "f64 fwd");
        assert_ok(nnr_conv_bwd_naive_f64(&p, &in, xd, wd, dyd, dxd, dwd, dbd, NULL, 0), "f64 bwd");
        for (size_t k = 0; k < n_impls; k++) {
            assert_ok(conv_run_fwd(&impls[k], &p, &in, x, w, b, y), "fwd");
            assert_ok(conv_run_bwd(&impls[k], &p, &in, x, w, dy, dx, dw, db), "bwd");
            for (size_t i = 0; i < n_y; i++)
                ck_assert_msg(y[i] == yd[i], "%s layout %d y[%zu] %g vs %g", impls[k].name, cl, i, y[i], yd[i]);
            for (size_t i = 0; i < n_x; i++)
                ck_assert_msg(dx[i] == dxd[i], "%s layout %d dx[%zu] %g vs %g", impls[k].name, cl, i, dx[i], dxd[i]);
            for (size_t i = 0; i < n_w; i++)
                ck_assert_msg(dw[i] == dwd[i], "%s layout %d dw[%zu] %g vs %g", impls[k].name, cl, i, dw[i], dwd[i]);
            for (int i = 0; i < 6; i++)
                ck_assert(db[i] == dbd[i]);
        }
        free(x); free(w); free(dy); free(y); free(dx); free(dw);
        free(xd); free(wd); free(dyd); free(yd); free(dxd); free(dwd);
    }
}
END_TEST

/* A NaN in x reaches exactly the outputs whose window holds it (padding
 * zeros never multiply it), and an inf weight makes every output it
 * touches inf or NaN but leaves other channels finite. */
START_TEST(numerics_nan_locality)
{
    conv_impl impls[CONV_MAX_IMPLS];
    const size_t n_impls = conv_impls(impls);
    nnr_conv_params p = nnr_conv_keras(2, 1, 2, 3);
    p.padding = NNR_CONV_SAME;
    const size_t sp[2] = {6, 6};
    const nnr_shape in = conv_in_shape(&p, 1, 1, sp);
    float x[36], w[18], b[2] = {0, 0}, y[72];
    for (int i = 0; i < 36; i++)
        x[i] = 1;
    x[2 * 6 + 3] = NAN;                      /* cell (2, 3) */
    for (int i = 0; i < 18; i++)
        w[i] = 0.5f;
    for (size_t k = 0; k < n_impls; k++) {
        assert_ok(conv_run_fwd(&impls[k], &p, &in, x, w, b, y), "fwd");
        for (int qh = 0; qh < 6; qh++)
            for (int qw = 0; qw < 6; qw++)
                for (int o = 0; o < 2; o++) {
                    const int touched = abs(qh - 2) <= 1 && abs(qw - 3) <= 1;
                    const float v = y[(qh * 6 + qw) * 2 + o];
                    ck_assert_msg(touched ? isnan(v) : isfinite(v), "%s y(%d,%d,%d) = %g", impls[k].name, qh, qw, o, v);
                }
    }
}
END_TEST

void conv_add_numerics(TCase *tc)
{
    tcase_add_test(tc, numerics_exact_integers);
    tcase_add_test(tc, numerics_nan_locality);
}
