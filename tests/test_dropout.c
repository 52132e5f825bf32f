/*
 * Check program of dropout (include/nnref/dropout.h), with the six test cases
 * every family has:
 *  - reference: masks known from the Philox known-answer vector, rate 0 and
 *    rate 1 exact, classic against inverted scaling, noise_shape
 *    broadcasting, the expected activation preserved over 1e6 elements;
 *  - gradcheck: finite differences of the double kernels (fixed mask);
 *  - crosscheck: AVX2 against naive float, masks and outputs bit for bit;
 *  - shapes: the double kernels draw the float kernels' masks; offsets and
 *    splits (a tensor drawn in pieces equals one draw: any thread split);
 *  - errors: bad rate, rate1, noise_shape, pointers; outputs untouched;
 *  - numerics: ±inf and NaN under the two rate1 rules, forward and backward.
 */
#include "config.h"
#include <float.h>
#include <stdio.h>
#include <string.h>
#include "test_util.h"

/* A byte no kernel writes into a mask (masks hold 0 and 1). */
#define MASK_CANARY 0xAB

static uint8_t *alloc_mask(size_t n)
{
    uint8_t *m = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(m);
    memset(m, MASK_CANARY, n ? n : 1);
    return m;
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static nnr_shape shape1(size_t n)
{
    nnr_shape s = {1, {n}};
    return s;
}

/* ---- reference -------------------------------------------------------------- */

/*
 * Seed 0, offset 0: elements 0..3 take the four words of Philox block 0 under
 * key 0, Random123's known answer 0x6627e8d5 0xe169c58d 0xbc57ac4c 0x9b00dbd8
 * (tests/test_core.c checks it). Their 24-bit uniforms u = word >> 8 are
 * 0x6627e8 = 6694888, 0xe169c5 = 14772677, 0xbc57ac = 12343212,
 * 0x9b00db = 10158299.
 *  - rate 0.5: T = 2^23 = 8388608: keep = 0 1 1 1, s = 2: y = 0 4 6 8.
 *  - rate 0.7: T = ceil(0.7 * 2^24) = ceil(11744051.2) = 11744052:
 *    keep = 0 1 1 0.
 *  - offset 1 shifts the counters: the first three elements take words
 *    1..3 of block 0: keep = 1 1 1 at rate 0.5.
 */
START_TEST(reference_kat_masks)
{
    const float x[4] = {1, 2, 3, 4};
    float y[4];
    uint8_t mask[4];
    nnr_shape s = shape1(4);
    nnr_dropout_params p = nnr_dropout_keras(0.5);
    nnr_status st = nnr_dropout_fwd_train_naive(&p, &s, x, y, mask);
    ck_assert_int_eq(st.code, NNR_OK);
    const uint8_t want_half[4] = {0, 1, 1, 1};
    const float y_half[4] = {0, 4, 6, 8};
    ck_assert_mem_eq(mask, want_half, 4);
    ck_assert(same_bits(y, y_half, 4));

    p.rate = 0.7;
    ck_assert_int_eq(nnr_dropout_fwd_train_naive(&p, &s, x, y, mask).code, NNR_OK);
    const uint8_t want_07[4] = {0, 1, 1, 0};
    ck_assert_mem_eq(mask, want_07, 4);
    const float s07 = (float)(1.0 / (1.0 - 0.7));
    ck_assert(y[0] == 0.0f && y[1] == 2.0f * s07 && y[2] == 3.0f * s07 && y[3] == 0.0f);

    p.rate = 0.5;
    p.offset = 1;
    nnr_shape s3 = shape1(3);
    ck_assert_int_eq(nnr_dropout_fwd_train_naive(&p, &s3, x, y, mask).code, NNR_OK);
    ck_assert(mask[0] == 1 && mask[1] == 1 && mask[2] == 1);
}
END_TEST

/*
 * The threshold's edge, where an off-by-one (u > T for u >= T, or floor for
 * ceil) would flip a decision but random data almost never lands (2^-24 per
 * element): element 0 of seed 0, offset 0 has u = 6694888 (above). At rate
 * 6694888 / 2^24 (exact in double), T = 6694888 = u: kept. Half a step more,
 * T = ceil(6694888.5) = 6694889 > u: dropped. 64 elements, so the AVX2
 * kernel decides element 0 in its vector path (blocks of 32), not its
 * scalar head or tail; every other element must match the naive mask.
 */
START_TEST(reference_threshold_edge)
{
    enum { N = 64 };
    float x[N], y[N];
    uint8_t mask[N], mask_naive[N];
    for (size_t i = 0; i < N; i++)
        x[i] = 1.0f;
    const nnr_shape s = shape1(N);
    const double u0 = 6694888.0, one = 16777216.0;   /* 2^24 */
    const double rates[2] = {u0 / one, (u0 + 0.5) / one};
    const uint8_t want_first[2] = {1, 0};
    const nnr_dropout_fwd_train_fn impls[2] = {nnr_dropout_fwd_train_naive, nnr_dropout_fwd_train};
    size_t decided = 0;
    for (size_t r = 0; r < 2; r++) {
        nnr_dropout_params p = nnr_dropout_keras(rates[r]);
        for (size_t k = 0; k < 2; k++) {
            ck_assert_int_eq(impls[k](&p, &s, x, y, k ? mask : mask_naive).code, NNR_OK);
            const uint8_t *m = k ? mask : mask_naive;
            ck_assert_msg(m[0] == want_first[r], "%s, rate %.10f: mask[0] = %d, want %d (u = T%s)",
                          k ? nnr_impl_name() : "naive", rates[r], m[0], want_first[r], r ? " - 1" : "");
            decided++;
        }
        ck_assert_msg(memcmp(mask, mask_naive, N) == 0, "rate %.10f: %s mask differs from the naive mask", rates[r],
                      nnr_impl_name());
    }
    ck_assert_uint_eq(decided, 4);
}
END_TEST

/* Rate 0 keeps everything and y == x bit for bit (s = 1); rate 1 drops
 * everything: Keras' rule gives +0 everywhere (even for inf and NaN),
 * PyTorch's x*0 (-0 for negatives, NaN for inf and NaN). Naive and dispatch. */
START_TEST(reference_rate_0_and_1)
{
    const size_t n = 1000;
    float *x = tu_alloc_f(n), *y = tu_alloc_f(n);
    uint8_t *mask = alloc_mask(n);
    tu_randn_f(x, n, 11, 0.0, 3.0);
    x[3] = INFINITY;
    x[4] = -INFINITY;
    x[5] = NAN;
    x[6] = -0.0f;
    nnr_shape s = shape1(n);
    for (int impl = 0; impl < 2; impl++) {
        nnr_status (*fwd)(const nnr_dropout_params *, const nnr_shape *, const float *, float *, uint8_t *) =
            impl ? nnr_dropout_fwd_train : nnr_dropout_fwd_train_naive;
        for (int torch = 0; torch < 2; torch++) {
            nnr_dropout_params p = torch ? nnr_dropout_torch(0.0) : nnr_dropout_keras(0.0);
            p.seed = 5;
            ck_assert_int_eq(fwd(&p, &s, x, y, mask).code, NNR_OK);
            for (size_t i = 0; i < n; i++)
                ck_assert_uint_eq(mask[i], 1);
            ck_assert(same_bits(x, y, n));

            p.rate = 1.0;
            ck_assert_int_eq(fwd(&p, &s, x, y, mask).code, NNR_OK);
            for (size_t i = 0; i < n; i++) {
                ck_assert_uint_eq(mask[i], 0);
                if (!torch) {
                    ck_assert(y[i] == 0.0f && !signbit(y[i]));
                } else if (isfinite(x[i])) {
                    ck_assert(y[i] == 0.0f && signbit(y[i]) == signbit(x[i]));
                } else {
                    ck_assert(isnan(y[i]));
                }
            }
        }
    }
    free(x);
    free(y);
    free(mask);
}
END_TEST

/* Classic (document 002, Srivastava) against inverted at rate 0.25, same seed:
 * the same mask; training y = x or y = x * (4/3 rounded); inference y =
 * 0.75 * x or y = x. Both leave E[train] = inference output. */
START_TEST(reference_classic_vs_inverted)
{
    const size_t n = 257;
    float *x = tu_alloc_f(n), *yi = tu_alloc_f(n), *yc = tu_alloc_f(n), *z = tu_alloc_f(n);
    uint8_t *mi = alloc_mask(n), *mc = alloc_mask(n);
    tu_randn_f(x, n, 12, 1.0, 2.0);
    nnr_shape s = shape1(n);
    nnr_dropout_params inv = nnr_dropout_keras(0.25), cls = inv;
    inv.seed = cls.seed = 77;
    cls.inverted = 0;
    ck_assert_int_eq(nnr_dropout_fwd_train(&inv, &s, x, yi, mi).code, NNR_OK);
    ck_assert_int_eq(nnr_dropout_fwd_train(&cls, &s, x, yc, mc).code, NNR_OK);
    ck_assert_mem_eq(mi, mc, n);
    const float scale = (float)(1.0 / 0.75);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        kept += mi[i];
        ck_assert(yc[i] == (mi[i] ? x[i] : 0.0f));
        ck_assert(yi[i] == (mi[i] ? x[i] * scale : 0.0f));
    }
    ck_assert(kept > 0 && kept < n);   /* both kinds of cells were exercised */
    ck_assert_int_eq(nnr_dropout_fwd_infer(&cls, &s, x, z).code, NNR_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert(z[i] == 0.75f * x[i]);
    ck_assert_int_eq(nnr_dropout_fwd_infer(&inv, &s, x, z).code, NNR_OK);
    ck_assert(same_bits(x, z, n));
    free(x);
    free(yi);
    free(yc);
    free(z);
    free(mi);
    free(mc);
}
END_TEST

/* noise_shape (2,1,4) on a (2,3,4) input: 8 decisions, element (n,c,w) reads
 * mask[n*4 + w]; (0,1,0) (Keras' None entries) is the same; (1,1,1) draws one
 * decision for the whole tensor. The decisions are those of a plain (8,)
 * draw with the same seed. */
START_TEST(reference_noise_shape)
{
    const nnr_shape s = {3, {2, 3, 4}};
    float x[24], y[24], y_none[24];
    uint8_t mask[24], flat[8];
    for (int i = 0; i < 24; i++)
        x[i] = (float)(i + 1);
    nnr_dropout_params p = nnr_dropout_keras(0.5);
    p.seed = 2024;
    const nnr_shape s8 = shape1(8);
    ck_assert_int_eq(nnr_dropout_fwd_train_naive(&p, &s8, x, y, flat).code, NNR_OK);

    p.noise_shape = (nnr_shape){3, {2, 1, 4}};
    size_t count = 0;
    ck_assert_int_eq(nnr_dropout_mask_count(&p, &s, &count).code, NNR_OK);
    ck_assert_uint_eq(count, 8);
    for (int impl = 0; impl < 2; impl++) {
        memset(mask, MASK_CANARY, sizeof mask);
        ck_assert_int_eq((impl ? nnr_dropout_fwd_train : nnr_dropout_fwd_train_naive)(&p, &s, x, y, mask).code,
                         NNR_OK);
        ck_assert_mem_eq(mask, flat, 8);
        ck_assert_uint_eq(mask[8], MASK_CANARY);   /* only 8 entries written */
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++)
                for (int w = 0; w < 4; w++) {
                    const int i = (n * 3 + c) * 4 + w;
                    ck_assert(y[i] == (flat[n * 4 + w] ? 2.0f * x[i] : 0.0f));
                }
    }
    p.noise_shape = (nnr_shape){3, {0, 1, 0}};
    ck_assert_int_eq(nnr_dropout_fwd_train_naive(&p, &s, x, y_none, mask).code, NNR_OK);
    ck_assert(same_bits(y, y_none, 24));

    p.noise_shape = (nnr_shape){3, {1, 1, 1}};
    ck_assert_int_eq(nnr_dropout_mask_count(&p, &s, &count).code, NNR_OK);
    ck_assert_uint_eq(count, 1);
    ck_assert_int_eq(nnr_dropout_fwd_train_naive(&p, &s, x, y, mask).code, NNR_OK);
    ck_assert_uint_eq(mask[0], flat[0]);
    for (int i = 0; i < 24; i++)
        ck_assert(y[i] == (flat[0] ? 2.0f * x[i] : 0.0f));
}
END_TEST

/*
 * The expected activation is preserved. x_i = 1 + 0.5 z_i (z standard
 * normal), n = 1e6, y from the training forward. Given x, y_i = x_i m_i s
 * with m_i ~ Bernoulli(q), q = 1 - T/2^24 (within 2^-24 of 1 - rate), so
 * E[y_i] = x_i q s and Var(y_i) = x_i^2 q (1 - q) s^2. Inverted (s = 1/(1-rate)):
 * E[mean y] = mean x (up to 2^-24 relative); classic (s = 1): E[mean y] =
 * (1 - rate) mean x, the inference output's mean. The standard deviation of
 * mean y about it is sigma = sqrt(E[x^2] q (1 - q)) s / sqrt(n), E[x^2] = 1.25:
 * rate 0.5, inverted: sigma = sqrt(1.25 * 0.25) * 2 / 1000 = 1.12e-3. The
 * bound is 5 sigma (a correct kernel exceeds it with probability 6e-7; the
 * seeds are fixed, so the test is deterministic). The kept fraction is held
 * to 5 sqrt(q (1 - q) / n) of q likewise.
 */
START_TEST(reference_expectation_preserved)
{
    const size_t n = 1000000;
    float *x = tu_alloc_f(n), *y = tu_alloc_f(n), *z = tu_alloc_f(n);
    uint8_t *mask = alloc_mask(n);
    tu_randn_f(x, n, 99, 1.0, 0.5);
    nnr_shape s = shape1(n);
    const double rates[] = {0.2, 0.5};
    for (size_t r = 0; r < 2; r++)
        for (int inverted = 0; inverted < 2; inverted++) {
            nnr_dropout_params p = nnr_dropout_keras(rates[r]);
            p.inverted = inverted;
            p.seed = 1000 + r;
            ck_assert_int_eq(nnr_dropout_fwd_train(&p, &s, x, y, mask).code, NNR_OK);
            ck_assert_int_eq(nnr_dropout_fwd_infer(&p, &s, x, z).code, NNR_OK);
            double sum_y = 0, sum_z = 0, kept = 0;
            for (size_t i = 0; i < n; i++) {
                sum_y += y[i];
                sum_z += z[i];
                kept += mask[i];
            }
            const double q = 1.0 - rates[r];
            const double scale = inverted ? 1.0 / q : 1.0;
            const double sigma_mean = sqrt(1.25 * q * (1 - q)) * scale / sqrt((double)n);
            const double sigma_kept = sqrt(q * (1 - q) / (double)n);
            const double mean_y = sum_y / (double)n, mean_z = sum_z / (double)n;
            ck_assert_msg(fabs(mean_y - mean_z) <= 5 * sigma_mean,
                          "rate %g inverted %d: mean of training output %.6f, inference output %.6f, "
                          "5 sigma = %.2e", rates[r], inverted, mean_y, mean_z, 5 * sigma_mean);
            ck_assert_msg(fabs(kept / (double)n - q) <= 5 * sigma_kept, "kept fraction %.6f, want %.2f",
                          kept / (double)n, q);
        }
    free(x);
    free(y);
    free(z);
    free(mask);
}
END_TEST

/* ---- gradcheck ---------------------------------------------------------------- */

/* Dropout is linear in x for a fixed mask (the same seed and offset redraw it
 * at every forward): finite differences are exact up to rounding, so every
 * entry passes the default double tolerances, with no kinks. */
START_TEST(gradcheck_dropout)
{
    const nnr_shape shapes[] = {{2, {4, 5}}, {4, {2, 3, 2, 3}}};
    for (int torch = 0; torch < 2; torch++)
        for (int inverted = 0; inverted < 2; inverted++)
            for (size_t k = 0; k < 2; k++) {
                nnr_dropout_params p = torch ? nnr_dropout_torch(0.4) : nnr_dropout_keras(0.4);
                p.inverted = inverted;
                p.offset = 3;
                if (k == 1)
                    p.noise_shape = (nnr_shape){4, {2, 1, 1, 3}};
                nnr_gc_report report;
                nnr_status st = nnr_gradcheck_dropout(&p, &shapes[k], 31 + k, NULL, &report);
                ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
                ck_assert_msg(report.passed, "torch %d inverted %d case %zu: max rel err %g", torch, inverted, k,
                              report.tensors[0].max_rel_err);
                ck_assert_uint_eq(report.tensors[0].kinks, 0);
                ck_assert(report.tensors[0].max_rel_err <= 1e-8);
            }
}
END_TEST

/* ---- crosscheck ---------------------------------------------------------------- */

#ifdef NNR_HAVE_AVX2_BUILD
/*
 * AVX2 against naive float, bit for bit: masks, training y, backward dx and
 * inference y. Both decide in integers from the same Philox words and apply
 * the same single products, so there is nothing to round differently.
 * Sizes 1..70 (below, at, above and around the 32-element chunk), 1000,
 * 4099; offsets 0..5 (a head of 0..3 scalar elements), one where the 32-bit
 * block counter wraps inside a chunk (4 * (2^32 - 3)) and one where the
 * 64-bit element counter wraps (2^64 - 17); both rate1 rules, both
 * scalings; buffers one float off alignment; in place. Each case judges
 * five comparisons into a tally (mask, training y, dx, inference y, in-place
 * y), each over the whole tensor.
 */
static void crosscheck_one(tu_tally *t, const nnr_dropout_params *p, const nnr_shape *s, size_t count,
                           size_t noise)
{
    t->cases++;
    float *xb = tu_alloc_f(count + 1), *ya = tu_alloc_f(count + 1), *yn = tu_alloc_f(count + 1);
    uint8_t *ma = alloc_mask(noise + 1), *mn = alloc_mask(noise + 1);
    float *x = xb + 1;   /* unaligned */
    tu_randn_f(x, count, 4 + count, 0.0, 2.0);
    if (count > 3) {
        x[1] = INFINITY;
        x[2] = NAN;
        x[3] = -0.0f;
    }
    ck_assert_int_eq(nnr_dropout_fwd_train_avx2(p, s, x, ya + 1, ma + 1).code, NNR_OK);
    ck_assert_int_eq(nnr_dropout_fwd_train_naive(p, s, x, yn + 1, mn + 1).code, NNR_OK);
    const unsigned long long off = (unsigned long long)p->offset;
    if (!tu_judge(t, memcmp(ma + 1, mn + 1, noise) == 0, 0, 0))
        tu_note(t, "mask differs: count %zu offset %llu", count, off);
    if (!tu_judge(t, same_bits(ya + 1, yn + 1, count), 0, 0))
        tu_note(t, "training y differs: count %zu offset %llu", count, off);
    /* backward with dy = x (inf and NaN included) */
    ck_assert_int_eq(nnr_dropout_bwd_avx2(p, s, x, ma + 1, ya + 1).code, NNR_OK);
    ck_assert_int_eq(nnr_dropout_bwd_naive(p, s, x, mn + 1, yn + 1).code, NNR_OK);
    if (!tu_judge(t, same_bits(ya + 1, yn + 1, count), 0, 0))
        tu_note(t, "dx differs: count %zu offset %llu", count, off);
    ck_assert_int_eq(nnr_dropout_fwd_infer_avx2(p, s, x, ya + 1).code, NNR_OK);
    ck_assert_int_eq(nnr_dropout_fwd_infer_naive(p, s, x, yn + 1).code, NNR_OK);
    if (!tu_judge(t, same_bits(ya + 1, yn + 1, count), 0, 0))
        tu_note(t, "inference y differs: count %zu offset %llu", count, off);
    /* in place: y = x */
    memcpy(ya + 1, x, count * sizeof(float));
    ck_assert_int_eq(nnr_dropout_fwd_train_avx2(p, s, ya + 1, ya + 1, ma + 1).code, NNR_OK);
    ck_assert_int_eq(nnr_dropout_fwd_train_naive(p, s, x, yn + 1, mn + 1).code, NNR_OK);
    if (!tu_judge(t, same_bits(ya + 1, yn + 1, count), 0, 0))
        tu_note(t, "in-place training y differs: count %zu offset %llu", count, off);
    free(xb);
    free(ya);
    free(yn);
    free(ma);
    free(mn);
}

START_TEST(crosscheck_flat)
{
    const uint64_t offsets[] = {0, 1, 2, 3, 4, 5, UINT64_C(4) * (UINT64_C(0x100000000) - 3), UINT64_MAX - 16};
    size_t sizes[80], n_sizes = 0;
    for (size_t n = 1; n <= 70; n++)
        sizes[n_sizes++] = n;
    sizes[n_sizes++] = 1000;
    sizes[n_sizes++] = 4099;
    tu_tally t = {0};
    for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++)
        for (size_t k = 0; k < n_sizes; k++)
            for (int mode = 0; mode < 4; mode++) {
                nnr_dropout_params p = (mode & 1) ? nnr_dropout_torch(0.3) : nnr_dropout_keras(0.3);
                p.inverted = !(mode & 2);
                p.seed = UINT64_C(0x123456789abcdef) + k;
                p.offset = offsets[o];
                nnr_shape s = shape1(sizes[k]);
                crosscheck_one(&t, &p, &s, sizes[k], sizes[k]);
            }
    /* 8 offsets x 72 sizes x 4 rules; mask, y, dx, inference y, in-place y: the same bits */
    ck_assert_uint_eq(t.cases, 8 * 72 * 4);
    ck_assert_msg(t.bad == 0, "%zu of %zu AVX2 tensors differ from the naive kernel's; first: %s", t.bad, t.checked,
                  t.first);
}
END_TEST

/* noise_shape broadcasting: the last axis with its own decisions (widths
 * around 8) and shared (a broadcast lane), middle and leading axes shared,
 * ranks 2 to 4, offsets with a head. */
START_TEST(crosscheck_noise_shape)
{
    const size_t widths[] = {1, 3, 7, 8, 9, 16, 17, 33};
    tu_tally t = {0};
    for (size_t k = 0; k < sizeof widths / sizeof widths[0]; k++)
        for (int variant = 0; variant < 5; variant++)
            for (int torch = 0; torch < 2; torch++) {
                const size_t w = widths[k];
                nnr_shape s = {4, {3, 5, 2, w}};
                nnr_dropout_params p = torch ? nnr_dropout_torch(0.6) : nnr_dropout_keras(0.6);
                p.seed = 900 + k;
                p.offset = (uint64_t)variant;
                switch (variant) {
                case 0: p.noise_shape = (nnr_shape){4, {3, 1, 1, w}}; break;   /* Keras (N,1,1,C) channel dropout */
                case 1: p.noise_shape = (nnr_shape){4, {3, 5, 1, 1}}; break;   /* last axes shared */
                case 2: p.noise_shape = (nnr_shape){4, {1, 5, 2, w}}; break;   /* batch shared */
                case 3: p.noise_shape = (nnr_shape){4, {1, 1, 1, 1}}; break;   /* one decision */
                default:
                    s = (nnr_shape){2, {11, w}};
                    p.noise_shape = (nnr_shape){2, {11, 1}};
                }
                size_t count, noise;
                ck_assert_int_eq(nnr_shape_numel(&s, "s", &count).code, NNR_OK);
                ck_assert_int_eq(nnr_dropout_mask_count(&p, &s, &noise).code, NNR_OK);
                crosscheck_one(&t, &p, &s, count, noise);
            }
    /* 8 widths x 5 noise shapes x 2 rules; mask, y, dx, inference y, in-place y: the same bits */
    ck_assert_uint_eq(t.cases, 8 * 5 * 2);
    ck_assert_msg(t.bad == 0, "%zu of %zu AVX2 tensors differ from the naive kernel's; first: %s", t.bad, t.checked,
                  t.first);
}
END_TEST
#endif

/* ---- shapes ------------------------------------------------------------------- */

/* The double kernels draw the float kernels' mask (decisions are integers);
 * their outputs agree to float rounding: y = fl(x * fl(s)) in float, two
 * roundings of relative size 2^-24 each (s to float, then the product),
 * against x*s in double (2^-53): |y - y64| <= 2^-23 |y64| + 2^-52 |y64|. */
START_TEST(shapes_double_same_mask)
{
    const size_t n = 777;
    float *x = tu_alloc_f(n), *y = tu_alloc_f(n);
    double *xd = tu_alloc_d(n), *yd = tu_alloc_d(n);
    uint8_t *m = alloc_mask(n), *md = alloc_mask(n);
    tu_randn_f(x, n, 5, 0.0, 1.0);
    for (size_t i = 0; i < n; i++)
        xd[i] = x[i];
    nnr_shape s = {3, {7, 3, 37}};
    nnr_dropout_params p = nnr_dropout_torch(0.3);
    p.offset = 6;
    p.noise_shape = (nnr_shape){3, {7, 1, 37}};
    size_t noise;
    ck_assert_int_eq(nnr_dropout_mask_count(&p, &s, &noise).code, NNR_OK);
    ck_assert_int_eq(nnr_dropout_fwd_train_naive(&p, &s, x, y, m).code, NNR_OK);
    ck_assert_int_eq(nnr_dropout_fwd_train_naive_f64(&p, &s, xd, yd, md).code, NNR_OK);
    ck_assert_mem_eq(m, md, noise);
    for (size_t i = 0; i < n; i++)
        ck_assert(fabs(y[i] - yd[i]) <= ldexp(fabs(yd[i]), -23) + ldexp(fabs(yd[i]), -52));
    free(x);
    free(y);
    free(xd);
    free(yd);
    free(m);
    free(md);
}
END_TEST

/* Element j's decision depends on (seed, offset + j) only: a tensor drawn in
 * two pieces, the second with its offset advanced by the first's size, gives
 * the one-piece mask, however it is split (as threads would split it). */
START_TEST(shapes_split_equals_whole)
{
    const size_t n = 300;
    float *x = tu_alloc_f(n), *y = tu_alloc_f(n), *y2 = tu_alloc_f(n);
    uint8_t *whole = alloc_mask(n), *parts = alloc_mask(n);
    tu_randn_f(x, n, 8, 0.0, 1.0);
    nnr_dropout_params p = nnr_dropout_keras(0.5);
    p.seed = 31337;
    p.offset = 10;
    nnr_shape s = shape1(n);
    ck_assert_int_eq(nnr_dropout_fwd_train(&p, &s, x, y, whole).code, NNR_OK);
    const size_t cuts[] = {1, 2, 3, 31, 32, 33, 150, 299};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        const size_t a = cuts[c];
        nnr_shape sa = shape1(a), sb = shape1(n - a);
        nnr_dropout_params q = p;
        ck_assert_int_eq(nnr_dropout_fwd_train(&q, &sa, x, y2, parts).code, NNR_OK);
        q.offset += a;
        ck_assert_int_eq(nnr_dropout_fwd_train_naive(&q, &sb, x + a, y2 + a, parts + a).code, NNR_OK);
        ck_assert_mem_eq(whole, parts, n);
        ck_assert(same_bits(y, y2, n));
    }
    /* advancing the offset by the mask count draws a new mask */
    p.offset += n;
    ck_assert_int_eq(nnr_dropout_fwd_train(&p, &s, x, y2, parts).code, NNR_OK);
    ck_assert(memcmp(whole, parts, n) != 0);
    free(x);
    free(y);
    free(y2);
    free(whole);
    free(parts);
}
END_TEST

/* Ranks 1 to 8 with unit and non-unit extents, in place. */
START_TEST(shapes_ranks)
{
    float buf[64], ref[64], x[64];
    uint8_t m[64], mr[64];
    for (size_t rank = 1; rank <= NNR_MAX_RANK; rank++) {
        nnr_shape s = {rank, {0}};
        size_t count = 1;
        for (size_t d = 0; d < rank; d++) {
            s.dims[d] = d % 3 == 1 ? 1 : 2;
            count *= s.dims[d];
        }
        tu_randn_f(x, count, rank, 0.0, 1.0);
        memcpy(buf, x, count * sizeof(float));
        nnr_dropout_params p = nnr_dropout_keras(0.5);
        ck_assert_int_eq(nnr_dropout_fwd_train(&p, &s, buf, buf, m).code, NNR_OK);   /* in place */
        nnr_shape flat = shape1(count);
        ck_assert_int_eq(nnr_dropout_fwd_train_naive(&p, &flat, x, ref, mr).code, NNR_OK);
        ck_assert_mem_eq(m, mr, count);
        ck_assert(same_bits(buf, ref, count));
    }
}
END_TEST

/* ---- errors -------------------------------------------------------------------- */

typedef nnr_status (*fwd_fn)(const nnr_dropout_params *, const nnr_shape *, const float *, float *, uint8_t *);

/* Every rejected call returns the code and a sentence naming the argument,
 * and leaves y, mask and dx untouched (canaries): judged into t (cases + 1). */
static void judge_rejected(tu_tally *t, const nnr_dropout_params *p, const nnr_shape *s, int null_arg,
                           nnr_code code, const char *word)
{
    t->cases++;
    const size_t n = 24;
    float x[24], y[24], dx[24];
    uint8_t m[24];
    for (size_t i = 0; i < n; i++)
        x[i] = (float)i;
    fwd_fn fwds[2] = {nnr_dropout_fwd_train_naive, nnr_dropout_fwd_train};
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable())
        fwds[1] = nnr_dropout_fwd_train_avx2;
#endif
    for (int k = 0; k < 2; k++) {
        tu_fill_canary(y, n);
        tu_fill_canary(dx, n);
        memset(m, MASK_CANARY, n);
        nnr_status st = fwds[k](p, s, null_arg == 1 ? NULL : x, null_arg == 2 ? NULL : y,
                                null_arg == 3 ? NULL : m);
        const char *fwd = k ? "fwd_train (dispatching/avx2)" : "fwd_train_naive";
        if (!tu_judge(t, st.code == code, 0, 0))
            tu_note(t, "'%s': %s returned %s (%s), want %s", word, fwd, nnr_code_name(st.code), nnr_strerror(&st),
                    nnr_code_name(code));
        if (!tu_judge(t, strstr(nnr_strerror(&st), word) != NULL, 0, 0))
            tu_note(t, "%s: '%s' does not name %s", fwd, nnr_strerror(&st), word);
        if (null_arg == 0 || null_arg == 1) {   /* the backward rejects the same parameters */
            const nnr_status more[3] = {nnr_dropout_bwd_naive(p, s, null_arg == 1 ? NULL : x, m, dx),
                                        nnr_dropout_bwd(p, s, null_arg == 1 ? NULL : x, m, dx),
                                        nnr_dropout_fwd_infer(p, s, null_arg == 1 ? NULL : x, y)};
            static const char *const more_names[3] = {"bwd_naive", "bwd", "fwd_infer"};
            for (int j = 0; j < 3; j++)
                if (!tu_judge(t, more[j].code == code, 0, 0))
                    tu_note(t, "'%s': %s returned %s, want %s", word, more_names[j], nnr_code_name(more[j].code),
                            nnr_code_name(code));
        }
        if (!tu_judge(t, tu_all_canary(y, n), 0, 0))
            tu_note(t, "'%s': a rejected call wrote y", word);
        if (!tu_judge(t, tu_all_canary(dx, n), 0, 0))
            tu_note(t, "'%s': a rejected call wrote dx", word);
        size_t mask_written = 0;
        for (size_t i = 0; i < n; i++)
            mask_written += m[i] != MASK_CANARY;
        if (!tu_judge(t, mask_written == 0, 0, 0))
            tu_note(t, "'%s': a rejected call wrote %zu mask entries", word, mask_written);
    }
}

START_TEST(errors_rate)
{
    const nnr_shape s = {3, {2, 3, 4}};
    const double bad[] = {-0.1, 1.5, -INFINITY, INFINITY, NAN, -1e-300};
    tu_tally t = {0};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        nnr_dropout_params p = nnr_dropout_torch(bad[k]);
        judge_rejected(&t, &p, &s, 0, NNR_ERR_PARAM, "rate");
    }
    nnr_dropout_params p = nnr_dropout_keras(0.5);
    p.rate1 = (nnr_dropout_rate1)7;
    judge_rejected(&t, &p, &s, 0, NNR_ERR_PARAM, "rate1");
    /* 6 bad rates and a bad rate1 rule: every call rejected with the argument named, nothing written */
    ck_assert_uint_eq(t.cases, 7);
    ck_assert_msg(t.bad == 0, "%zu of %zu checks of rejected calls failed; first: %s", t.bad, t.checked, t.first);
}
END_TEST

START_TEST(errors_noise_shape)
{
    const nnr_shape s = {3, {2, 3, 4}};
    tu_tally t = {0};
    nnr_dropout_params p = nnr_dropout_keras(0.5);
    p.noise_shape = (nnr_shape){2, {2, 1}};                 /* rank differs */
    judge_rejected(&t, &p, &s, 0, NNR_ERR_PARAM, "noise_shape");
    p.noise_shape = (nnr_shape){3, {2, 3, 2}};              /* 2 does not broadcast to 4 */
    judge_rejected(&t, &p, &s, 0, NNR_ERR_PARAM, "noise_shape[2]");
    p.noise_shape = (nnr_shape){3, {4, 1, 1}};              /* larger than the input */
    judge_rejected(&t, &p, &s, 0, NNR_ERR_PARAM, "noise_shape[0]");
    ck_assert_uint_eq(t.cases, 3);
    ck_assert_msg(t.bad == 0, "%zu of %zu checks of rejected calls failed; first: %s", t.bad, t.checked, t.first);
    size_t count = 12345;
    ck_assert_int_eq(nnr_dropout_mask_count(&p, &s, &count).code, NNR_ERR_PARAM);
    ck_assert_uint_eq(count, 12345);
}
END_TEST

START_TEST(errors_pointers_and_shape)
{
    const nnr_shape s = {3, {2, 3, 4}};
    tu_tally t = {0};
    nnr_dropout_params p = nnr_dropout_keras(0.5);
    judge_rejected(&t, &p, &s, 1, NNR_ERR_NULL, "x");
    judge_rejected(&t, &p, &s, 2, NNR_ERR_NULL, "y");
    judge_rejected(&t, &p, &s, 3, NNR_ERR_NULL, "mask");
    judge_rejected(&t, NULL, &s, 0, NNR_ERR_NULL, "params");
    judge_rejected(&t, &p, NULL, 0, NNR_ERR_NULL, "shape");
    const nnr_shape zero = {3, {2, 0, 4}}, rank0 = {0, {0}}, rank9 = {9, {1}};
    judge_rejected(&t, &p, &zero, 0, NNR_ERR_SHAPE, "shape");
    judge_rejected(&t, &p, &rank0, 0, NNR_ERR_SHAPE, "shape");
    judge_rejected(&t, &p, &rank9, 0, NNR_ERR_SHAPE, "shape");
    const nnr_shape huge = {2, {SIZE_MAX / 2, 3}};
    judge_rejected(&t, &p, &huge, 0, NNR_ERR_OVERFLOW, "shape");
    ck_assert_uint_eq(t.cases, 9);
    ck_assert_msg(t.bad == 0, "%zu of %zu checks of rejected calls failed; first: %s", t.bad, t.checked, t.first);
    /* backward: mask and dx named */
    float dy[24] = {0}, dx[24];
    tu_fill_canary(dx, 24);
    nnr_status st = nnr_dropout_bwd(&p, &s, dy, NULL, dx);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    ck_assert(strstr(nnr_strerror(&st), "mask") != NULL);
    st = nnr_dropout_bwd(&p, &s, dy, (const uint8_t *)dy, NULL);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    ck_assert(strstr(nnr_strerror(&st), "dx") != NULL);
    ck_assert(tu_all_canary(dx, 24));
}
END_TEST

/* ---- numerics ------------------------------------------------------------------ */

/*
 * ±inf and NaN under each rule, with a mask known from the KAT (rate 0.5,
 * seed 0: keep = 0 1 1 1 0 ...): dropped cells get exactly +0 (ZERO, Keras)
 * or x*0 (MULTIPLY, PyTorch: NaN for inf and NaN, -0 for a negative); kept
 * cells get x*2 (inf stays inf, NaN stays NaN). The backward does the same
 * to dy.
 */
START_TEST(numerics_inf_nan_rules)
{
    float x[4], y[4], dx[4];
    uint8_t m[4];
    const nnr_shape s = shape1(4);
    const float dropped_values[] = {INFINITY, -INFINITY, NAN, -3.0f, 3.0f};
    for (size_t k = 0; k < sizeof dropped_values / sizeof dropped_values[0]; k++)
        for (int torch = 0; torch < 2; torch++)
            for (int impl = 0; impl < 2; impl++) {
                nnr_dropout_params p = torch ? nnr_dropout_torch(0.5) : nnr_dropout_keras(0.5);
                x[0] = dropped_values[k];   /* dropped */
                x[1] = INFINITY;            /* kept */
                x[2] = NAN;                 /* kept */
                x[3] = -2.0f;               /* kept */
                fwd_fn f = impl ? nnr_dropout_fwd_train : nnr_dropout_fwd_train_naive;
                ck_assert_int_eq(f(&p, &s, x, y, m).code, NNR_OK);
                ck_assert(m[0] == 0 && m[1] == 1 && m[2] == 1 && m[3] == 1);
                ck_assert(y[1] == INFINITY && isnan(y[2]) && y[3] == -4.0f);
                const float want = x[0] * 0.0f;   /* PyTorch: x*0 */
                if (!torch)
                    ck_assert(y[0] == 0.0f && !signbit(y[0]));
                else if (isnan(want))
                    ck_assert(isnan(y[0]));
                else
                    ck_assert(y[0] == 0.0f && signbit(y[0]) == signbit(want));
                /* backward, dy = x */
                ck_assert_int_eq((impl ? nnr_dropout_bwd : nnr_dropout_bwd_naive)(&p, &s, x, m, dx).code, NNR_OK);
                ck_assert(dx[1] == INFINITY && isnan(dx[2]) && dx[3] == -4.0f);
                if (!torch)
                    ck_assert(dx[0] == 0.0f && !signbit(dx[0]));
                else if (isnan(want))
                    ck_assert(isnan(dx[0]));
                else
                    ck_assert(dx[0] == 0.0f && signbit(dx[0]) == signbit(want));
            }
}
END_TEST

/*
 * The scale of kept cells is rounded as each framework rounds it: Keras'
 * TensorFlow backend converts the double 1/(1 - rate) to float (ZERO rule),
 * PyTorch's CPU kernel computes noise.div_(1 - p), 1.0f / (float)(1 - p)
 * (MULTIPLY rule). For x = 1 every kept y is s itself. At rate 0.15 the two
 * roundings part (1.17647064 against 1.17647052): both frameworks are
 * matched, and that they differ is asserted so the case stays covered.
 */
START_TEST(numerics_scale_rounding)
{
    float x[64], y[64];
    uint8_t m[64];
    for (int i = 0; i < 64; i++)
        x[i] = 1.0f;
    const nnr_shape s = shape1(64);
    for (int k = 1; k < 20; k++) {
        const double rate = 0.05 * k;
        const float tf = (float)(1.0 / (1.0 - rate));
        const volatile float keep = (float)(1.0 - rate);
        const float torch = 1.0f / keep;
        for (int preset = 0; preset < 2; preset++)
            for (int impl = 0; impl < 2; impl++) {
                nnr_dropout_params p = preset ? nnr_dropout_torch(rate) : nnr_dropout_keras(rate);
                ck_assert_int_eq((impl ? nnr_dropout_fwd_train : nnr_dropout_fwd_train_naive)(&p, &s, x, y, m).code,
                                 NNR_OK);
                for (int i = 0; i < 64; i++)
                    if (m[i])
                        ck_assert_msg(y[i] == (preset ? torch : tf), "rate %g preset %d: kept 1 gives %.9g", rate,
                                      preset, y[i]);
            }
        if (k == 3)
            ck_assert(tf != torch);
    }
}
END_TEST

/* Huge and tiny values: kept cells are x*s with the one rounding (overflow to
 * inf like the frameworks, subnormals kept), dropped cells 0. */
START_TEST(numerics_extremes)
{
    float x[4] = {FLT_MAX, FLT_TRUE_MIN, -FLT_MAX, 1e-30f}, y[4];
    uint8_t m[4];
    const nnr_shape s = shape1(4);
    nnr_dropout_params p = nnr_dropout_keras(0.5);   /* keep = 0 1 1 1 */
    ck_assert_int_eq(nnr_dropout_fwd_train(&p, &s, x, y, m).code, NNR_OK);
    ck_assert(y[0] == 0.0f && y[1] == 2.0f * FLT_TRUE_MIN && y[2] == -INFINITY && y[3] == 2e-30f);
}
END_TEST

static Suite *dropout_suite(void)
{
    Suite *s = suite_create("dropout");
    TCase *reference = tcase_create("reference");
    TCase *gradcheck = tcase_create("gradcheck");
    TCase *crosscheck = tcase_create("crosscheck");
    TCase *shapes = tcase_create("shapes");
    TCase *errors = tcase_create("errors");
    TCase *numerics = tcase_create("numerics");
    tcase_set_timeout(reference, 30);
    tcase_set_timeout(gradcheck, 30);
    tcase_set_timeout(crosscheck, 60);

    tcase_add_test(reference, reference_kat_masks);
    tcase_add_test(reference, reference_threshold_edge);
    tcase_add_test(reference, reference_rate_0_and_1);
    tcase_add_test(reference, reference_classic_vs_inverted);
    tcase_add_test(reference, reference_noise_shape);
    tcase_add_test(reference, reference_expectation_preserved);
    tcase_add_test(gradcheck, gradcheck_dropout);
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable()) {
        tcase_add_test(crosscheck, crosscheck_flat);
        tcase_add_test(crosscheck, crosscheck_noise_shape);
    }
#endif
    tcase_add_test(shapes, shapes_double_same_mask);
    tcase_add_test(shapes, shapes_split_equals_whole);
    tcase_add_test(shapes, shapes_ranks);
    tcase_add_test(errors, errors_rate);
    tcase_add_test(errors, errors_noise_shape);
    tcase_add_test(errors, errors_pointers_and_shape);
    tcase_add_test(numerics, numerics_inf_nan_rules);
    tcase_add_test(numerics, numerics_scale_rounding);
    tcase_add_test(numerics, numerics_extremes);

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
    return tu_run(dropout_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
