/*
 * Pooling cross-validation: the AVX2 kernels against the naive float kernels
 * (same inputs) and against the naive double kernels fed the same inputs
 * widened to double, forward and backward, windowed and global.
 *
 * Windowed cases: C and W of 1, 7, 8, 9, 15, 16, 17, 33 (below, at, above
 * and multiples of the vector width) in both layouts; windows 1..4 with
 * strides 1..3 (overlapping and disjoint), dilation 2 and 3 (max), padding
 * valid, same and explicit, ceil_mode, count_include_pad on and off,
 * divisor_override, 1D/2D/3D, and every buffer offset by one float
 * (unaligned). Each max case runs twice: on distinct values, and on
 * quantized values (ties everywhere, +0 beside -0) with NaN, +inf and -inf.
 * Global cases: the same C, planes of 1..300 cells, 1D/2D/3D, both layouts,
 * both tie rules.
 *
 * What must hold, and why:
 *  - Max forward, y and argmax, and max backward: equal to the naive float
 *    kernel bit for bit. The AVX2 kernels apply the naive update rule (v >
 *    max or v is NaN) lane by lane in the same scan order, and the backward
 *    adds the same dy values in the same output order (maxpool_avx2.c), so
 *    there is no rounding to allow for. Against double the forward must
 *    also be exact (a max selects, it does not round).
 *  - Max backward given argmax the forward never saves, in-plane indices
 *    of other windows' cells (all 0, permuted, a neighbour's, one foreign
 *    entry at every cell): still the naive float dx bit for bit, since the
 *    contract (and PyTorch) scatters to any in-plane index; an index
 *    outside the plane is still rejected with dx untouched.
 *  - Average forward and backward: equal to the naive float kernel bit for
 *    bit too: the AVX2 kernels sum in double in the naive order and divide
 *    (or multiply by an exact power-of-two reciprocal) as it does
 *    (avgpool_avx2.c). Against the naive double kernel the forward differs
 *    only by the final rounding to float: |y - y64| <= 2^-24 |y64|
 *    (+ FLT_TRUE_MIN for results in the subnormal range). The backward
 *    rounds each share dy/D to float and adds up to R = prod(ceil(k_eff/s))
 *    shares per cell in float: |dx - dx64| <= (R + 1) * 2^-24 * S, with S
 *    the same sum over |dy| (computed by the double kernel on |dy|).
 *  - Global max, both tie rules, and channels_last global average: bit
 *    for bit (lanes are channels, cells walked in the naive order).
 *    channels_first global average sums in four double lanes: a double sum
 *    of m terms in any order is within (m-1) 2^-53 sum|x| of the exact one,
 *    so two orders differ by less than 2 m 2^-53 sum|x|, the means by less
 *    than 2^-52 sum|x|; each mean is then rounded to float once (2^-24
 *    relative, so two roundings differ by at most 2^-23 |ref|):
 *    |y - ref| <= 2^-23 |ref| + 2^-52 sum|x|.
 */
#include "config.h"
#include <float.h>
#include <stdio.h>
#include "test_util.h"
#include "test_pool.h"

#ifdef NNR_HAVE_AVX2_BUILD

typedef struct px_case {
    nnr_pool_params p;
    nnr_shape shape;
    int with_avg;   /* average is run too (no dilation) */
} px_case;

#define PX_MAX_CASES 400
static px_case px_cases[PX_MAX_CASES];
static int px_n_cases;

/* A case of `dims` spatial axes sp[0..dims) (tensor order), N x C, from the
 * PyTorch preset with the fields given; kept only if the library accepts it. */
static void add_case(nnr_layout layout, int dims, size_t n, size_t c, const size_t sp[3], const int k[3],
                     const int s[3], const int d[3], nnr_pool_padding padding, const int pad[3], int ceil_mode,
                     int cip, int override)
{
    if (px_n_cases >= PX_MAX_CASES)
        return;
    px_case pc;
    memset(&pc, 0, sizeof pc);
    pc.p = nnr_pool_torch(dims, 2);
    pc.p.layout = layout;
    pc.p.padding = padding;
    pc.p.ceil_mode = ceil_mode;
    pc.p.count_include_pad = cip;
    pc.p.has_divisor_override = override != 0;
    pc.p.divisor_override = override;
    int dilated = 0;
    for (int a = 0; a < dims; a++) {
        pc.p.window[a] = k[a];
        pc.p.stride[a] = s[a];
        pc.p.dilation[a] = d[a];
        pc.p.pad[a] = pad[a];
        dilated |= d[a] != 1;
    }
    pc.shape.rank = (size_t)dims + 2;
    pc.shape.dims[0] = n;
    for (int a = 0; a < dims; a++)
        pc.shape.dims[layout == NNR_CHANNELS_FIRST ? 2 + a : 1 + a] = sp[a];
    pc.shape.dims[layout == NNR_CHANNELS_FIRST ? 1 : (size_t)dims + 1] = c;
    nnr_shape out;
    if (nnr_pool_output_shape(&pc.p, &pc.shape, &out).code != NNR_OK)
        return;
    pc.with_avg = !dilated;
    px_cases[px_n_cases++] = pc;
}

static void build_cases(void)
{
    if (px_n_cases)
        return;
    static const size_t widths[] = {1, 7, 8, 9, 15, 16, 17, 33};
    const int one[3] = {1, 1, 1}, zero[3] = {0, 0, 0};
    for (int l = 0; l < 2; l++) {
        const nnr_layout lay = l ? NNR_CHANNELS_LAST : NNR_CHANNELS_FIRST;
        for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
            /* C and W around the vector width: 2x2/2 same (W = 1 gives one
             * padded window), 3x3/1 explicit pad 1, 3x3/2 explicit pad 1 ceil */
            const size_t sp_w[3] = {5, widths[i], 0}, sp_c[3] = {6, 17, 0};
            const int k2[3] = {2, 2, 2}, k3[3] = {3, 3, 3}, s1[3] = {1, 1, 1}, s2[3] = {2, 2, 2};
            add_case(lay, 2, 2, 9, sp_w, k2, s2, one, NNR_POOL_SAME, zero, 0, 1, 0);
            add_case(lay, 2, 2, widths[i], sp_c, k2, s2, one, NNR_POOL_VALID, zero, 0, 1, 0);
            add_case(lay, 2, 1, 9, sp_w, k3, s1, one, NNR_POOL_EXPLICIT, one, 0, 1, 0);
            add_case(lay, 2, 1, widths[i], sp_c, k3, s1, one, NNR_POOL_EXPLICIT, one, 0, 0, 0);
            add_case(lay, 2, 1, 9, sp_w, k3, s2, one, NNR_POOL_EXPLICIT, one, 1, 1, 0);
            add_case(lay, 2, 1, widths[i], sp_c, k3, s2, one, NNR_POOL_EXPLICIT, one, 1, 0, 0);
        }
        /* windows 1..4 x strides 1..3, overlapping (s < k) and disjoint (s >= k), 2D, W = 33 */
        for (int k = 1; k <= 4; k++)
            for (int s = 1; s <= 3; s++) {
                const size_t sp[3] = {7, 33, 0};
                const int kk[3] = {k, k, k}, ss[3] = {s, s, s}, pad[3] = {k / 2, k / 2, k / 2};
                add_case(lay, 2, 2, 7, sp, kk, ss, one, NNR_POOL_VALID, zero, 0, 1, 0);
                add_case(lay, 2, 2, 17, sp, kk, ss, one, NNR_POOL_SAME, zero, 0, 1, 0);
                add_case(lay, 2, 1, 9, sp, kk, ss, one, NNR_POOL_EXPLICIT, pad, 1, 1, 0);
                add_case(lay, 2, 1, 9, sp, kk, ss, one, NNR_POOL_EXPLICIT, pad, 0, 0, 0);
                add_case(lay, 2, 1, 8, sp, kk, ss, one, NNR_POOL_EXPLICIT, pad, 1, 1, 3);
            }
        /* rectangular windows and mixed strides */
        {
            const size_t sp[3] = {9, 31, 0};
            const int k[3] = {3, 2, 1}, s[3] = {2, 1, 1}, pad[3] = {1, 1, 0};
            add_case(lay, 2, 2, 10, sp, k, s, one, NNR_POOL_EXPLICIT, pad, 0, 1, 0);
            const int k2[3] = {1, 4, 1}, s2[3] = {1, 2, 1}, p2[3] = {0, 2, 0};
            add_case(lay, 2, 2, 10, sp, k2, s2, one, NNR_POOL_EXPLICIT, p2, 1, 0, 0);
        }
        /* dilation (max only): overlapping and disjoint with holes */
        for (int d = 2; d <= 3; d++)
            for (int s = 1; s <= 3; s += 2) {
                const size_t sp[3] = {11, 33, 0};
                const int kk[3] = {2, 3, 3}, dd[3] = {d, d, d}, ss[3] = {s, s, s}, pad[3] = {1, 1, 1};
                add_case(lay, 2, 2, 9, sp, kk, ss, dd, NNR_POOL_VALID, zero, 0, 1, 0);
                add_case(lay, 2, 2, 9, sp, kk, ss, dd, NNR_POOL_EXPLICIT, pad, 1, 1, 0);
                const int k2[3] = {2, 2, 2}, s5[3] = {2 * d + 1, 2 * d + 1, 2 * d + 1};
                add_case(lay, 2, 1, 17, sp, k2, s5, dd, NNR_POOL_VALID, zero, 1, 1, 0);
            }
        /* 2x2 windows with stride 2 along width (the dedicated row kernels) under
         * height dilation and height stride 1 */
        {
            const size_t sp[3] = {9, 35, 0};
            const int k[3] = {2, 2, 2}, s[3] = {1, 2, 2}, dd[3] = {2, 1, 1}, pad[3] = {1, 1, 0};
            add_case(lay, 2, 2, 3, sp, k, s, dd, NNR_POOL_VALID, zero, 0, 1, 0);
            add_case(lay, 2, 2, 3, sp, k, s, one, NNR_POOL_EXPLICIT, pad, 1, 0, 0);
            /* rows of 13 and 29 outputs: whole blocks of 8, then the last
             * block redone overlapping the one before (no masked block) */
            const size_t sp13[3] = {6, 26, 0}, sp29[3] = {4, 58, 0};
            add_case(lay, 2, 1, 3, sp13, k, k, one, NNR_POOL_VALID, zero, 0, 1, 0);
            add_case(lay, 2, 1, 2, sp29, k, k, one, NNR_POOL_VALID, zero, 0, 1, 0);
        }
        /* 1D and 3D */
        for (int k = 1; k <= 3; k++)
            for (int s = 1; s <= 3; s++) {
                const size_t sp1[3] = {33, 0, 0}, sp3[3] = {5, 6, 17};
                const int kk[3] = {k, k, k}, ss[3] = {s, s, s}, pad[3] = {k / 2, k / 2, k / 2};
                add_case(lay, 1, 3, 9, sp1, kk, ss, one, NNR_POOL_SAME, zero, 0, 1, 0);
                add_case(lay, 1, 2, 17, sp1, kk, ss, one, NNR_POOL_EXPLICIT, pad, 1, 0, 0);
                add_case(lay, 3, 2, 9, sp3, kk, ss, one, NNR_POOL_EXPLICIT, pad, 1, 1, 0);
                add_case(lay, 3, 1, 8, sp3, kk, ss, one, NNR_POOL_SAME, zero, 0, 1, 0);
            }
        {
            const size_t sp3[3] = {4, 8, 33};
            const int k[3] = {2, 2, 2}, dd[3] = {1, 2, 1};
            add_case(lay, 3, 2, 7, sp3, k, k, one, NNR_POOL_VALID, zero, 0, 1, 0);
            add_case(lay, 3, 2, 7, sp3, k, k, dd, NNR_POOL_VALID, zero, 0, 1, 0);
        }
    }
}

static void describe(const px_case *pc, char *buf, size_t len)
{
    const nnr_pool_params *p = &pc->p;
    int w = snprintf(buf, len, "%dD %s shape (", p->dims, p->layout == NNR_CHANNELS_LAST ? "nhwc" : "nchw");
    for (size_t d = 0; d < pc->shape.rank && w > 0 && (size_t)w < len; d++)
        w += snprintf(buf + w, len - (size_t)w, "%s%zu", d ? "," : "", pc->shape.dims[d]);
    if (w > 0 && (size_t)w < len)
        snprintf(buf + w, len - (size_t)w, ") k %d,%d,%d s %d,%d,%d d %d,%d,%d padding %d pad %d,%d,%d ceil %d cip %d div %d",
                 p->window[0], p->window[1], p->window[2], p->stride[0], p->stride[1], p->stride[2], p->dilation[0],
                 p->dilation[1], p->dilation[2], (int)p->padding, p->pad[0], p->pad[1], p->pad[2], p->ceil_mode,
                 p->count_include_pad, p->has_divisor_override ? p->divisor_override : 0);
}

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Bitwise equality of n floats; the message names the first difference. */
static void assert_bitwise(const char *what, const char *desc, const float *got, const float *ref, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!same_bits(got[i], ref[i]))
            ck_abort_msg("%s, %s: [%zu] avx2 %.9g naive %.9g (not bitwise equal)", what, desc, i, got[i], ref[i]);
}

/* Cells of the case's planes and its outputs. */
static void case_sizes(const px_case *pc, size_t *count, size_t *out_count, nnr_shape *out)
{
    ck_assert_int_eq(nnr_pool_output_shape(&pc->p, &pc->shape, out).code, NNR_OK);
    ck_assert_int_eq(nnr_shape_numel(&pc->shape, "shape", count).code, NNR_OK);
    ck_assert_int_eq(nnr_shape_numel(out, "out", out_count).code, NNR_OK);
}

/* Windows covering one cell at most: prod over axes of ceil(k_eff/s). */
static double overlap_bound(const nnr_pool_params *p)
{
    double r = 1;
    for (int a = 0; a < p->dims; a++) {
        const int s = p->stride[a] > 0 ? p->stride[a] : p->window[a];
        const int span = (p->window[a] - 1) * p->dilation[a] + 1;
        r *= (span + s - 1) / s;
    }
    return r;
}

/* Quantized data with ties (+0 beside -0) and, every 13th/17th/19th cell, NaN, +inf, -inf. */
static void fill_ties(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        const float q = (float)floor(2.0 * nnr_rng_normal(seed, i)) * 0.5f;
        x[i] = q == 0.0f ? (i % 2 ? -0.0f : 0.0f) : q;
        if (i % 13 == 5)
            x[i] = NAN;
        else if (i % 17 == 3)
            x[i] = INFINITY;
        else if (i % 19 == 7)
            x[i] = -INFINITY;
    }
}

START_TEST(crosscheck_windowed_avx2_vs_naive)
{
    if (!nnr_avx2_usable())
        return;
    build_cases();
    const px_case *pc = &px_cases[_i];
    const nnr_pool_params *p = &pc->p;
    char desc[300];
    describe(pc, desc, sizeof desc);
    size_t count, oc;
    nnr_shape out;
    case_sizes(pc, &count, &oc, &out);
    const size_t off = 1;   /* every AVX2 buffer one float past an aligned malloc: unaligned */
    float *x = tu_alloc_f(count + off), *dy = tu_alloc_f(oc + off), *ya = tu_alloc_f(oc + off), *yn = tu_alloc_f(oc);
    float *dxa = tu_alloc_f(count + off), *dxn = tu_alloc_f(count);
    int32_t *aa = malloc((oc + off) * sizeof *aa), *an = malloc((oc ? oc : 1) * sizeof *an);
    double *xd = tu_alloc_d(count), *yd = tu_alloc_d(oc), *dyd = tu_alloc_d(oc), *dxd = tu_alloc_d(count);
    double *abs_dy = tu_alloc_d(oc), *abs_dx = tu_alloc_d(count);
    ck_assert_ptr_nonnull(aa);
    ck_assert_ptr_nonnull(an);
    tu_randn_f(dy + off, oc, 900 + (uint64_t)_i, 0.0, 1.0);
    for (size_t o = 0; o < oc; o++)
        dyd[o] = dy[off + o], abs_dy[o] = fabs(dyd[o]);
    const double bwd_k = (overlap_bound(p) + 1) * ldexp(1.0, -24);

    for (int data = 0; data < 2; data++) {
        if (data == 0)
            tu_randn_f(x + off, count, 700 + (uint64_t)_i, 0.5, 2.0);
        else
            fill_ties(x + off, count, 800 + (uint64_t)_i);
        for (size_t i = 0; i < count; i++)
            xd[i] = x[off + i];
        const char *dname = data ? "ties/NaN/inf" : "distinct";

        /* max forward, training (argmax) and inference (NULL) */
        ck_assert_int_eq(nnr_maxpool_fwd_naive(p, &pc->shape, x + off, yn, an).code, NNR_OK);
        nnr_status st = nnr_maxpool_fwd_avx2(p, &pc->shape, x + off, ya + off, aa + off);
        ck_assert_msg(st.code == NNR_OK, "%s: %s", desc, nnr_strerror(&st));
        assert_bitwise(dname, desc, ya + off, yn, oc);
        for (size_t o = 0; o < oc; o++)
            ck_assert_msg(aa[off + o] == an[o], "argmax (%s), %s: [%zu] avx2 %d naive %d", dname, desc, o,
                          (int)aa[off + o], (int)an[o]);
        tu_fill_canary(ya + off, oc);
        ck_assert_int_eq(nnr_maxpool_fwd_avx2(p, &pc->shape, x + off, ya + off, NULL).code, NNR_OK);
        assert_bitwise("max y without argmax", desc, ya + off, yn, oc);
        int32_t *ad = malloc((oc ? oc : 1) * sizeof *ad);
        ck_assert_ptr_nonnull(ad);
        ck_assert_int_eq(nnr_maxpool_fwd_naive_f64(p, &pc->shape, xd, yd, ad).code, NNR_OK);
        for (size_t o = 0; o < oc; o++)
            ck_assert_msg(same_bits(ya[off + o], (float)yd[o]) || (isnan(ya[off + o]) && isnan(yd[o])),
                          "max y vs double (%s), %s: [%zu] avx2 %.9g double %.17g", dname, desc, o, ya[off + o],
                          yd[o]);
        free(ad);

        /* max backward from the naive argmax */
        ck_assert_int_eq(nnr_maxpool_bwd_naive(p, &pc->shape, dy + off, an, dxn).code, NNR_OK);
        tu_fill_canary(dxa + off, count);
        st = nnr_maxpool_bwd_avx2(p, &pc->shape, dy + off, an, dxa + off);
        ck_assert_msg(st.code == NNR_OK, "%s: %s", desc, nnr_strerror(&st));
        assert_bitwise("max dx", desc, dxa + off, dxn, count);
        ck_assert_int_eq(nnr_maxpool_bwd_naive_f64(p, &pc->shape, dyd, an, dxd).code, NNR_OK);
        ck_assert_int_eq(nnr_maxpool_bwd_naive_f64(p, &pc->shape, abs_dy, an, abs_dx).code, NNR_OK);
        for (size_t i = 0; i < count; i++)
            ck_assert_msg(fabs(dxa[off + i] - dxd[i]) <= bwd_k * abs_dx[i],
                          "max dx vs double, %s: [%zu] avx2 %.9g double %.17g (tol %.3g)", desc, i, dxa[off + i],
                          dxd[i], bwd_k * abs_dx[i]);
    }

    if (pc->with_avg) {
        tu_randn_f(x + off, count, 700 + (uint64_t)_i, 0.5, 2.0);
        for (size_t i = 0; i < count; i++)
            xd[i] = x[off + i];
        ck_assert_int_eq(nnr_avgpool_fwd_naive(p, &pc->shape, x + off, yn).code, NNR_OK);
        tu_fill_canary(ya + off, oc);
        nnr_status st = nnr_avgpool_fwd_avx2(p, &pc->shape, x + off, ya + off);
        ck_assert_msg(st.code == NNR_OK, "%s: %s", desc, nnr_strerror(&st));
        assert_bitwise("avg y", desc, ya + off, yn, oc);
        ck_assert_int_eq(nnr_avgpool_fwd_naive_f64(p, &pc->shape, xd, yd).code, NNR_OK);
        for (size_t o = 0; o < oc; o++) {
            const double tol = ldexp(fabs(yd[o]), -24) + FLT_TRUE_MIN;
            ck_assert_msg(fabs(ya[off + o] - yd[o]) <= tol, "avg y vs double, %s: [%zu] avx2 %.9g double %.17g",
                          desc, o, ya[off + o], yd[o]);
        }
        ck_assert_int_eq(nnr_avgpool_bwd_naive(p, &pc->shape, dy + off, dxn).code, NNR_OK);
        tu_fill_canary(dxa + off, count);
        st = nnr_avgpool_bwd_avx2(p, &pc->shape, dy + off, dxa + off);
        ck_assert_msg(st.code == NNR_OK, "%s: %s", desc, nnr_strerror(&st));
        assert_bitwise("avg dx", desc, dxa + off, dxn, count);
        ck_assert_int_eq(nnr_avgpool_bwd_naive_f64(p, &pc->shape, dyd, dxd).code, NNR_OK);
        ck_assert_int_eq(nnr_avgpool_bwd_naive_f64(p, &pc->shape, abs_dy, abs_dx).code, NNR_OK);
        for (size_t i = 0; i < count; i++)
            ck_assert_msg(fabs(dxa[off + i] - dxd[i]) <= bwd_k * abs_dx[i] + FLT_TRUE_MIN,
                          "avg dx vs double, %s: [%zu] avx2 %.9g double %.17g (tol %.3g)", desc, i, dxa[off + i],
                          dxd[i], bwd_k * abs_dx[i]);
    }
    free(x), free(dy), free(ya), free(yn), free(dxa), free(dxn), free(aa), free(an);
    free(xd), free(yd), free(dyd), free(dxd), free(abs_dy), free(abs_dx);
}
END_TEST

/* ---- Global pooling --------------------------------------------------------- */

typedef struct gx_case {
    int dims;
    nnr_layout layout;
    size_t n, c, sp[3];
} gx_case;

#define GX_MAX_CASES 64
static gx_case gx_cases[GX_MAX_CASES];
static int gx_n_cases;

static void build_global_cases(void)
{
    if (gx_n_cases)
        return;
    static const size_t widths[] = {1, 7, 8, 9, 15, 16, 17, 33};
    for (int l = 0; l < 2; l++) {
        const nnr_layout lay = l ? NNR_CHANNELS_LAST : NNR_CHANNELS_FIRST;
        for (size_t i = 0; i < 8; i++) {
            gx_cases[gx_n_cases++] = (gx_case){2, lay, 2, widths[i], {5, 7, 0}};        /* plane 35 */
            gx_cases[gx_n_cases++] = (gx_case){1, lay, 2, 9, {widths[i], 0, 0}};        /* plane around 8 */
        }
        gx_cases[gx_n_cases++] = (gx_case){3, lay, 2, 17, {3, 4, 25}};                  /* plane 300 */
        gx_cases[gx_n_cases++] = (gx_case){2, lay, 1, 300, {3, 3, 0}};                  /* channels past one chunk */
    }
}

START_TEST(crosscheck_global_avx2_vs_naive)
{
    if (!nnr_avx2_usable())
        return;
    build_global_cases();
    const gx_case *gc = &gx_cases[_i];
    for (int ties = 0; ties < 2; ties++) {
        nnr_global_pool_params p = ties ? nnr_global_pool_torch(gc->dims) : nnr_global_pool_keras(gc->dims);
        p.layout = gc->layout;
        p.ties = ties ? NNR_POOL_TIES_SPLIT : NNR_POOL_TIES_FIRST;
        nnr_shape shape = {(size_t)gc->dims + 2, {0}};
        shape.dims[0] = gc->n;
        size_t plane = 1;
        for (int a = 0; a < gc->dims; a++) {
            shape.dims[gc->layout == NNR_CHANNELS_FIRST ? 2 + a : 1 + a] = gc->sp[a];
            plane *= gc->sp[a];
        }
        shape.dims[gc->layout == NNR_CHANNELS_FIRST ? 1 : (size_t)gc->dims + 1] = gc->c;
        const size_t count = gc->n * gc->c * plane, nc = gc->n * gc->c, off = 1;
        char desc[160];
        snprintf(desc, sizeof desc, "%dD %s N %zu C %zu plane %zu ties %s", gc->dims,
                 gc->layout == NNR_CHANNELS_LAST ? "nhwc" : "nchw", gc->n, gc->c, plane, ties ? "split" : "first");
        float *x = tu_alloc_f(count + off), *ya = tu_alloc_f(nc + off), *yn = tu_alloc_f(nc);
        float *dy = tu_alloc_f(nc + off), *dxa = tu_alloc_f(count + off), *dxn = tu_alloc_f(count);
        double *xd = tu_alloc_d(count), *yd = tu_alloc_d(nc);
        tu_randn_f(dy + off, nc, 31 + (uint64_t)_i, 0.0, 1.0);
        for (int data = 0; data < 2; data++) {
            if (data == 0)
                tu_randn_f(x + off, count, 41 + (uint64_t)_i, 0.5, 2.0);
            else
                fill_ties(x + off, count, 51 + (uint64_t)_i);
            /* max forward and backward (from the naive y): bitwise */
            ck_assert_int_eq(nnr_global_maxpool_fwd_naive(&p, &shape, x + off, yn).code, NNR_OK);
            ck_assert_int_eq(nnr_global_maxpool_fwd_avx2(&p, &shape, x + off, ya + off).code, NNR_OK);
            assert_bitwise(data ? "global max y (ties/NaN/inf)" : "global max y", desc, ya + off, yn, nc);
            ck_assert_int_eq(nnr_global_maxpool_bwd_naive(&p, &shape, x + off, yn, dy + off, dxn).code, NNR_OK);
            tu_fill_canary(dxa + off, count);
            ck_assert_int_eq(nnr_global_maxpool_bwd_avx2(&p, &shape, x + off, yn, dy + off, dxa + off).code, NNR_OK);
            assert_bitwise(data ? "global max dx (ties/NaN/inf)" : "global max dx", desc, dxa + off, dxn, count);
        }
        /* average forward: bitwise (channels_last) or the reordering bound (channels_first) */
        tu_randn_f(x + off, count, 61 + (uint64_t)_i, 0.5, 2.0);
        for (size_t i = 0; i < count; i++)
            xd[i] = x[off + i];
        ck_assert_int_eq(nnr_global_avgpool_fwd_naive(&p, &shape, x + off, yn).code, NNR_OK);
        ck_assert_int_eq(nnr_global_avgpool_fwd_avx2(&p, &shape, x + off, ya + off).code, NNR_OK);
        ck_assert_int_eq(nnr_global_avgpool_fwd_naive_f64(&p, &shape, xd, yd).code, NNR_OK);
        if (gc->layout == NNR_CHANNELS_LAST)
            assert_bitwise("global avg y", desc, ya + off, yn, nc);
        for (size_t k = 0; k < nc; k++) {
            /* sum |x| over the plane (n, c) */
            const size_t n = k / gc->c, c = k % gc->c;
            double abs_sum = 0;
            for (size_t s = 0; s < plane; s++)
                abs_sum += fabs(xd[gc->layout == NNR_CHANNELS_FIRST ? k * plane + s : (n * plane + s) * gc->c + c]);
            const double tol = ldexp(fabs(yd[k]), -23) + ldexp(abs_sum, -52);
            ck_assert_msg(fabs(ya[off + k] - yn[k]) <= tol && fabs(ya[off + k] - yd[k]) <= tol,
                          "global avg y, %s: [%zu] avx2 %.9g naive %.9g double %.17g (tol %.3g)", desc, k, ya[off + k],
                          yn[k], yd[k], tol);
        }
        ck_assert_int_eq(nnr_global_avgpool_bwd_naive(&p, &shape, dy + off, dxn).code, NNR_OK);
        ck_assert_int_eq(nnr_global_avgpool_bwd_avx2(&p, &shape, dy + off, dxa + off).code, NNR_OK);
        assert_bitwise("global avg dx", desc, dxa + off, dxn, count);
        free(x), free(ya), free(yn), free(dy), free(dxa), free(dxn), free(xd), free(yd);
    }
}
END_TEST

/* ---- Foreign argmax: in-plane indices that name another window's cell -------- */

/*
 * The backward's contract is dx = 0, then dx[argmax[o]] += dy[o] in output
 * order, for any argmax inside the plane: PyTorch's max_pool backward
 * scatters to whatever indices it is given, without asking whether each lies
 * in its own output's window. The forward never saves such an index, but a
 * caller may pass one; the AVX2 kernel must then still give the naive
 * kernel's dx bit for bit (the same dy values summed in the same output
 * order, so again no rounding to allow for), in both layouts, for disjoint
 * windows (where it otherwise writes each dx cell once, from its own window)
 * and overlapping ones.
 */

/* N, C, and the spatial cells of one (n, c) plane of x and of y. */
typedef struct px_planes {
    size_t n, c, in_plane, out_plane;
    int channels_last;
} px_planes;

static px_planes case_planes(const px_case *pc, const nnr_shape *out)
{
    const int last = pc->p.layout == NNR_CHANNELS_LAST;
    const size_t rank = pc->shape.rank;
    px_planes g = {pc->shape.dims[0], pc->shape.dims[last ? rank - 1 : 1], 1, 1, last};
    for (size_t d = last ? 1 : 2; d < (last ? rank - 1 : rank); d++) {
        g.in_plane *= pc->shape.dims[d];
        g.out_plane *= out->dims[d];
    }
    return g;
}

/* Where spatial cell s of plane (n, c) sits in a tensor of `plane` cells per plane. */
static size_t plane_at(const px_planes *g, size_t plane, size_t n, size_t c, size_t s)
{
    return g->channels_last ? (n * plane + s) * g->c + c : (n * g->c + c) * plane + s;
}

/* The foreign argmax patterns, built from the forward's own argmax. */
enum {
    FOREIGN_ZERO,        /* every entry 0: the plane's first cell */
    FOREIGN_REVERSED,    /* each plane's saved indices in reverse output order */
    FOREIGN_NEIGHBOUR,   /* each output takes the next output's saved index (the last, the one before) */
    FOREIGN_MIXED,       /* every third output reversed, the others as saved */
    FOREIGN_LAST_ONLY,   /* as saved, except the tensor's last entry: 0 */
    FOREIGN_PATTERNS
};
static const char *const foreign_names[FOREIGN_PATTERNS] = {
    "all 0", "reversed in each plane", "the next output's index", "every third reversed", "the last entry 0"};

static void make_foreign(int pattern, const px_planes *g, const int32_t *saved, int32_t *am)
{
    const size_t P = g->out_plane;
    for (size_t n = 0; n < g->n; n++)
        for (size_t c = 0; c < g->c; c++)
            for (size_t o = 0; o < P; o++) {
                const size_t rev = P - 1 - o, next = o + 1 < P ? o + 1 : (o > 0 ? o - 1 : o);
                size_t from = o;
                if (pattern == FOREIGN_REVERSED || (pattern == FOREIGN_MIXED && o % 3 == 1))
                    from = rev;
                else if (pattern == FOREIGN_NEIGHBOUR)
                    from = next;
                am[plane_at(g, P, n, c, o)] = pattern == FOREIGN_ZERO ? 0 : saved[plane_at(g, P, n, c, from)];
            }
    if (pattern == FOREIGN_LAST_ONLY)
        am[g->n * g->c * P - 1] = 0;
}

/* One case, every pattern: AVX2 dx against naive float dx, bitwise, into t
 * (cases: patterns run). */
static void judge_foreign(tu_tally *t, const px_case *pc)
{
    const nnr_pool_params *p = &pc->p;
    char desc[300];
    describe(pc, desc, sizeof desc);
    size_t count, oc;
    nnr_shape out;
    case_sizes(pc, &count, &oc, &out);
    const px_planes g = case_planes(pc, &out);
    const size_t off = 1;   /* unaligned AVX2 buffers, as above */
    float *x = tu_alloc_f(count), *y = tu_alloc_f(oc), *dy = tu_alloc_f(oc + off);
    float *dxa = tu_alloc_f(count + off), *dxn = tu_alloc_f(count);
    int32_t *saved = malloc(oc * sizeof *saved), *am = malloc((oc + off) * sizeof *am);
    ck_assert_ptr_nonnull(saved);
    ck_assert_ptr_nonnull(am);
    tu_randn_f(x, count, 1700 + (uint64_t)t->cases, 0.5, 2.0);
    tu_randn_f(dy + off, oc, 1900 + (uint64_t)t->cases, 0.0, 1.0);
    ck_assert_int_eq(nnr_maxpool_fwd_naive(p, &pc->shape, x, y, saved).code, NNR_OK);
    for (int pattern = 0; pattern < FOREIGN_PATTERNS; pattern++) {
        t->cases++;
        make_foreign(pattern, &g, saved, am + off);
        nnr_status st = nnr_maxpool_bwd_naive(p, &pc->shape, dy + off, am + off, dxn);
        if (!tu_judge(t, st.code == NNR_OK, 0, 0)) {
            tu_note(t, "naive rejected argmax '%s', %s: %s", foreign_names[pattern], desc, nnr_strerror(&st));
            continue;
        }
        tu_fill_canary(dxa + off, count);
        st = nnr_maxpool_bwd_avx2(p, &pc->shape, dy + off, am + off, dxa + off);
        if (!tu_judge(t, st.code == NNR_OK, 0, 0)) {
            tu_note(t, "avx2 rejected argmax '%s', %s: %s", foreign_names[pattern], desc, nnr_strerror(&st));
            continue;
        }
        for (size_t i = 0; i < count; i++)
            if (!tu_judge(t, same_bits(dxa[off + i], dxn[i]), 0, 0))
                tu_note(t, "argmax '%s', %s: dx[%zu] avx2 %.9g naive %.9g (not bitwise equal)", foreign_names[pattern],
                        desc, i, dxa[off + i], dxn[i]);
    }
    free(x), free(y), free(dy), free(dxa), free(dxn), free(saved), free(am);
}

/*
 * One foreign entry among saved ones, at every cell of the plane: the
 * entries at the first, a middle and the last output (a border window, an
 * interior one, the last lane of a row or of the channels) take each cell
 * q of the plane in turn, every other entry as the forward saved it. The
 * AVX2 backward must tell a cell of the entry's own window from any other
 * (an index wrongly taken as its own would be dropped on the write-once
 * path), so dx must equal the naive one for every q. The forward runs on x
 * falling (rising) with the cell index, so each saved entry is its window's
 * first (last) in-bounds cell: a kernel whose window test took one of those
 * for foreign would send the whole call down the scatter path, where any
 * wrong answer for q is hidden; here every other entry passes any test that
 * knows first and last cells. Into t (cases: baselines x entries run).
 */
static void judge_one_foreign(tu_tally *t, const px_case *pc, int rising)
{
    const nnr_pool_params *p = &pc->p;
    char desc[300];
    describe(pc, desc, sizeof desc);
    size_t count, oc;
    nnr_shape out;
    case_sizes(pc, &count, &oc, &out);
    const px_planes g = case_planes(pc, &out);
    float *x = tu_alloc_f(count), *y = tu_alloc_f(oc), *dy = tu_alloc_f(oc), *dxa = tu_alloc_f(count);
    float *dxn = tu_alloc_f(count);
    int32_t *am = malloc(oc * sizeof *am);
    ck_assert_ptr_nonnull(am);
    for (size_t n = 0; n < g.n; n++)
        for (size_t c = 0; c < g.c; c++)
            for (size_t s = 0; s < g.in_plane; s++)
                x[plane_at(&g, g.in_plane, n, c, s)] = rising ? (float)s : -(float)s;
    tu_randn_f(dy, oc, 2700 + (uint64_t)t->cases, 0.0, 1.0);
    ck_assert_int_eq(nnr_maxpool_fwd_naive(p, &pc->shape, x, y, am).code, NNR_OK);
    const size_t at[3] = {0, oc / 2, oc - 1};
    for (int k = 0; k < 3; k++) {
        t->cases++;
        const int32_t keep = am[at[k]];
        for (size_t q = 0; q < g.in_plane; q++) {
            am[at[k]] = (int32_t)q;
            nnr_status sn = nnr_maxpool_bwd_naive(p, &pc->shape, dy, am, dxn);
            nnr_status sa = nnr_maxpool_bwd_avx2(p, &pc->shape, dy, am, dxa);
            if (!tu_judge(t, sn.code == NNR_OK && sa.code == NNR_OK, 0, 0)) {
                tu_note(t, "argmax[%zu] = %zu, %s: naive %s, avx2 %s", at[k], q, desc, nnr_strerror(&sn),
                        nnr_strerror(&sa));
                continue;
            }
            size_t differ = 0, first = 0;
            for (size_t i = count; i-- > 0;)
                if (!same_bits(dxa[i], dxn[i]))
                    differ++, first = i;
            if (!tu_judge(t, differ == 0, 0, 0))
                tu_note(t, "x %s, argmax[%zu] = %zu (saved %d), %s: %zu dx differ, first [%zu] avx2 %.9g naive %.9g",
                        rising ? "rising" : "falling", at[k], q, (int)keep, desc, differ, first, dxa[first],
                        dxn[first]);
        }
        am[at[k]] = keep;
    }
    free(x), free(y), free(dy), free(dxa), free(dxn), free(am);
}

/* 1 if no input cell of the case lies in two windows (the write-once path). */
static int case_disjoint(const px_case *pc)
{
    for (int a = 0; a < pc->p.dims; a++)
        if (pc->p.stride[a] < (pc->p.window[a] - 1) * pc->p.dilation[a] + 1)
            return 0;
    return 1;
}

START_TEST(crosscheck_max_bwd_foreign_argmax)
{
    if (!nnr_avx2_usable())
        return;
    build_cases();
    tu_tally t = {0};
    size_t runs[2][2] = {{0, 0}, {0, 0}};   /* [channels_last][disjoint] */
    for (int i = 0; i < px_n_cases; i++) {
        judge_foreign(&t, &px_cases[i]);
        runs[px_cases[i].p.layout == NNR_CHANNELS_LAST][case_disjoint(&px_cases[i])]++;
    }
    /* every case of the table, five patterns each, both layouts with disjoint and overlapping windows */
    ck_assert_uint_eq(t.cases, (size_t)px_n_cases * FOREIGN_PATTERNS);
    ck_assert_msg(runs[0][0] > 0 && runs[0][1] > 0 && runs[1][0] > 0 && runs[1][1] > 0,
                  "cases nchw overlapping %zu disjoint %zu, nhwc overlapping %zu disjoint %zu", runs[0][0], runs[0][1],
                  runs[1][0], runs[1][1]);
    ck_assert_msg(t.bad == 0, "%zu of %zu checks of foreign argmax failed (%zu case runs); first: %s", t.bad,
                  t.checked, t.cases, t.first);
}
END_TEST

START_TEST(crosscheck_max_bwd_one_foreign_entry)
{
    if (!nnr_avx2_usable())
        return;
    build_cases();
    tu_tally t = {0};
    for (int i = 0; i < px_n_cases; i++)
        for (int rising = 0; rising < 2; rising++)
            judge_one_foreign(&t, &px_cases[i], rising);
    /* every case of the table, two baselines of three entries each */
    ck_assert_uint_eq(t.cases, (size_t)px_n_cases * 6);
    ck_assert_msg(t.bad == 0, "%zu of %zu backward calls with one foreign argmax differ from naive; first: %s", t.bad,
                  t.checked, t.first);
}
END_TEST

/*
 * An argmax outside the plane is still rejected by the AVX2 backward, which
 * tests every argmax against its own window before it reads the shared
 * bounds check: NNR_ERR_PARAM, the sentence naming the entry and its value,
 * dx untouched. Over the whole case table (the disjoint 2x2 stride 2 cases
 * take the vectorized window test), four values just and far outside
 * [-1, in_plane), at the first, a middle and the last entry.
 */
START_TEST(crosscheck_max_bwd_out_of_plane_rejected)
{
    if (!nnr_avx2_usable())
        return;
    build_cases();
    tu_tally t = {0};
    size_t fast_2x2[2] = {0, 0};   /* disjoint 2x2 stride 2 cases, per layout */
    for (int i = 0; i < px_n_cases; i++) {
        const px_case *pc = &px_cases[i];
        char desc[300];
        describe(pc, desc, sizeof desc);
        size_t count, oc;
        nnr_shape out;
        case_sizes(pc, &count, &oc, &out);
        const px_planes g = case_planes(pc, &out);
        int is_2x2 = 1;
        for (int a = 0; a < pc->p.dims; a++)
            is_2x2 &= pc->p.window[a] == 2 && pc->p.stride[a] == 2 && pc->p.dilation[a] == 1;
        fast_2x2[g.channels_last] += is_2x2 && pc->p.dims >= 2;
        float *x = tu_alloc_f(count), *y = tu_alloc_f(oc), *dy = tu_alloc_f(oc), *dx = tu_alloc_f(count);
        int32_t *am = malloc(oc * sizeof *am);
        ck_assert_ptr_nonnull(am);
        tu_randn_f(x, count, 2100 + (uint64_t)i, 0.5, 2.0);
        tu_randn_f(dy, oc, 2300 + (uint64_t)i, 0.0, 1.0);
        ck_assert_int_eq(nnr_maxpool_fwd_naive(&pc->p, &pc->shape, x, y, am).code, NNR_OK);
        const int32_t bad[4] = {(int32_t)g.in_plane, -2, INT32_MIN, INT32_MAX};
        const size_t at[3] = {0, oc / 2, oc - 1};
        for (int b = 0; b < 4; b++)
            for (int k = 0; k < 3; k++) {
                t.cases++;
                const int32_t keep = am[at[k]];
                am[at[k]] = bad[b];
                tu_fill_canary(dx, count);
                nnr_status st = nnr_maxpool_bwd_avx2(&pc->p, &pc->shape, dy, am, dx);
                am[at[k]] = keep;
                char want[80];
                snprintf(want, sizeof want, "argmax[%zu] is %d, outside [-1, %zu)", at[k], (int)bad[b], g.in_plane);
                if (!tu_judge(&t, st.code == NNR_ERR_PARAM, 0, 0))
                    tu_note(&t, "argmax[%zu] = %d, %s: code %d (%s), want NNR_ERR_PARAM", at[k], (int)bad[b], desc,
                            (int)st.code, nnr_strerror(&st));
                if (!tu_judge(&t, strstr(st.message, want) != NULL, 0, 0))
                    tu_note(&t, "%s: '%s' does not say '%s'", desc, st.message, want);
                if (!tu_judge(&t, tu_all_canary(dx, count), 0, 0))
                    tu_note(&t, "argmax[%zu] = %d, %s: dx written", at[k], (int)bad[b], desc);
            }
        free(x), free(y), free(dy), free(dx), free(am);
    }
    ck_assert_uint_eq(t.cases, (size_t)px_n_cases * 12);
    ck_assert_msg(fast_2x2[0] > 0 && fast_2x2[1] > 0, "2x2 stride 2 cases: nchw %zu nhwc %zu", fast_2x2[0],
                  fast_2x2[1]);
    ck_assert_msg(t.bad == 0, "%zu of %zu checks of rejected argmax failed (%zu calls); first: %s", t.bad, t.checked,
                  t.cases, t.first);
}
END_TEST

void pool_add_crosscheck(TCase *tc)
{
    build_cases();
    build_global_cases();
    tcase_add_loop_test(tc, crosscheck_windowed_avx2_vs_naive, 0, px_n_cases);
    tcase_add_loop_test(tc, crosscheck_global_avx2_vs_naive, 0, gx_n_cases);
    tcase_add_test(tc, crosscheck_max_bwd_foreign_argmax);
    tcase_add_test(tc, crosscheck_max_bwd_one_foreign_entry);
    tcase_add_test(tc, crosscheck_max_bwd_out_of_plane_rejected);
}

#else

void pool_add_crosscheck(TCase *tc)
{
    (void)tc;
}

#endif /* NNR_HAVE_AVX2_BUILD */
