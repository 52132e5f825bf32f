/*
 * GroupNorm cross-validation: the AVX2 kernels against the naive float
 * kernels (same inputs, same float cache for the backward) and against the
 * naive double kernels fed the same inputs widened to double, forward (y and
 * the cache mean/istd/var) and backward (dx, dgamma, dbeta).
 *
 * Shapes: C around the vector width with odd group sizes (C=12/G=3, C=10/G=5,
 * 9/3, 33/11, ...), spatial sizes 1..17, N 1..8, ranks 2..5, both layouts, a
 * middle channel axis, groups wider than the row path's channel block,
 * unaligned pointers, in place, center/scale off, and one tensor per layout
 * large enough for the streaming stores.
 *
 * Tolerances (eps = FLT_EPSILON), derived as in norm_batchnorm_crosscheck.c:
 *  Elementwise outputs (y, dx, mean, istd, var):
 *      |avx2 - ref| <= K_ELEM * eps * (|ref| + 1).
 *  The naive float kernel rounds each output once from double; the AVX2
 *  kernel rounds its float coefficients (A = gamma*istd, B, the three dx
 *  coefficients, hi and lo of the mean) once each and does 2 subtractions
 *  and 1 or 2 FMAs per element, each at most eps/2 relative to intermediates
 *  below about 8 here: about 6 * eps/2 * 8 = 24 eps. K_ELEM = 32.
 *  Reductions (dgamma, dbeta, per channel, over N * spatial terms):
 *      |avx2 - ref| <= (K_RED + N) * eps * sum|terms|.
 *  Float lanes hold at most 64 terms before the flush into double (error
 *  well below eps * sum|terms| for random signs, K_RED = 2 with margin),
 *  and each of the N per-sample partial sums is added into the float output
 *  (groupnorm_avx2.c says why): N more roundings of at most eps/2 * sum|terms|.
 */
#include "config.h"
#include <float.h>
#include <stdio.h>
#include "test_util.h"
#include "test_norm.h"

#ifdef NNR_HAVE_AVX2_BUILD

#define K_ELEM 32.0
#define K_RED 2.0

typedef struct gx_case {
    nnr_shape shape;
    int channels_last;   /* 1: axis -1; 0: axis 1 */
    int axis;            /* 0: from channels_last; else this axis */
    int groups;
    int center, scale;
    size_t offset;       /* floats by which every pointer is offset (1: unaligned) */
    int in_place;
} gx_case;

#define GX_MAX_CASES 96
static gx_case gx_cases[GX_MAX_CASES];
static int gx_n_cases;

static void add_case(gx_case c)
{
    if (gx_n_cases < GX_MAX_CASES)
        gx_cases[gx_n_cases++] = c;
}

/* A (N, spatial..., C) or (N, C, spatial...) case. */
static gx_case make(int cl, size_t n, size_t c, int g, size_t rank, size_t s0, size_t s1, size_t s2)
{
    gx_case k;
    memset(&k, 0, sizeof k);
    k.channels_last = cl;
    k.groups = g;
    k.center = k.scale = 1;
    k.shape.rank = rank;
    const size_t sp[3] = {s0, s1, s2};
    k.shape.dims[0] = n;
    for (size_t d = 0; d + 2 < rank; d++)
        k.shape.dims[cl ? 1 + d : 2 + d] = sp[d];
    k.shape.dims[cl ? rank - 1 : 1] = c;
    return k;
}

static void build_cases(void)
{
    if (gx_n_cases)
        return;
    static const size_t cg_pairs[][2] = {{1, 1}, {7, 7}, {8, 4}, {9, 3}, {10, 5}, {12, 3}, {15, 5}, {16, 16},
                                         {17, 17}, {24, 8}, {33, 11}, {40, 5}, {64, 32}, {66, 2}};
    for (int cl = 0; cl < 2; cl++) {
        for (size_t k = 0; k < sizeof cg_pairs / sizeof cg_pairs[0]; k++)
            add_case(make(cl, 2, cg_pairs[k][0], (int)cg_pairs[k][1], 4, 3, 5, 0));
        for (size_t s = 1; s <= 17; s += 2)
            add_case(make(cl, 2, 12, 3, 3, s, 0, 0));
        add_case(make(cl, 1, 10, 5, 4, 4, 3, 0));
        add_case(make(cl, 8, 10, 5, 4, 2, 3, 0));
        add_case(make(cl, 3, 20, 4, 2, 0, 0, 0));
        add_case(make(cl, 2, 9, 3, 5, 2, 3, 2));
        gx_case c = make(cl, 3, 12, 3, 4, 5, 3, 0);
        c.offset = 1;
        add_case(c);
        c.in_place = 1;
        add_case(c);
        c = make(cl, 2, 10, 5, 3, 7, 0, 0);
        c.center = 0;
        add_case(c);
        c.center = 1, c.scale = 0;
        add_case(c);
        c.center = 0;
        add_case(c);
        /* groups wider than the row path's 256-channel block */
        add_case(make(cl, 2, 300, 1, 3, 3, 0, 0));
        add_case(make(cl, 2, 520, 2, 3, 2, 0, 0));
        add_case(make(cl, 2, 264, -1, 3, 3, 0, 0));
        /* streaming stores: at least 8 MiB of output */
        add_case(make(cl, 2, 64, 32, 4, 128, 128, 0));
    }
    gx_case mid = make(0, 2, 6, 3, 4, 3, 5, 0);
    mid.shape = (nnr_shape){4, {2, 3, 6, 5}};
    mid.axis = 2;                       /* pre = 3, post = 5 */
    add_case(mid);
}

static void describe(const gx_case *c, char *buf, size_t len)
{
    int w = snprintf(buf, len, "shape (");
    for (size_t d = 0; d < c->shape.rank && w > 0 && (size_t)w < len; d++)
        w += snprintf(buf + w, len - (size_t)w, "%s%zu", d ? "," : "", c->shape.dims[d]);
    if (w > 0 && (size_t)w < len)
        snprintf(buf + w, len - (size_t)w, ") %s axis %d G %d center %d scale %d offset %zu%s",
                 c->channels_last ? "channels_last" : "channels_first", c->axis, c->groups, c->center, c->scale,
                 c->offset, c->in_place ? " in-place" : "");
}

static double cmp_elem(const char *what, const char *against, const char *desc, const float *got,
                       const float *ref_f, const double *ref_d, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const double ref = ref_f ? (double)ref_f[i] : ref_d[i];
        const double err = fabs((double)got[i] - ref), tol = K_ELEM * FLT_EPSILON * (fabs(ref) + 1.0);
        if (!(err <= tol))
            ck_abort_msg("%s vs %s, %s: [%zu] avx2 %.9g ref %.9g (err %.3g > tol %.3g)", what, against, desc, i,
                         got[i], ref, err, tol);
        worst = fmax(worst, err / (FLT_EPSILON * (fabs(ref) + 1.0)));
    }
    return worst;
}

START_TEST(crosscheck_groupnorm_avx2_vs_naive)
{
    if (!nnr_avx2_usable())
        return;
    build_cases();
    const gx_case *cs = &gx_cases[_i];
    char desc[200];
    describe(cs, desc, sizeof desc);
    nnr_groupnorm_params p = cs->channels_last ? nnr_groupnorm_keras(cs->groups) : nnr_groupnorm_torch(cs->groups);
    if (cs->axis)
        p.axis = cs->axis;
    p.center = cs->center;
    p.scale = cs->scale;
    size_t count, C, G, L;
    ck_assert_int_eq(nnr_shape_numel(&cs->shape, "shape", &count).code, NNR_OK);
    nnr_status st = nnr_groupnorm_sizes(&p, &cs->shape, &C, &G, &L);
    ck_assert_msg(st.code == NNR_OK, "%s: %s", desc, nnr_strerror(&st));
    const size_t N = cs->shape.dims[0], off = cs->offset;

    float *x = tu_alloc_f(count + off), *dy = tu_alloc_f(count + off);
    float *y_a = tu_alloc_f(count + off), *y_n = tu_alloc_f(count), *dx_a = tu_alloc_f(count + off);
    float *dx_n = tu_alloc_f(count);
    float *gamma = tu_alloc_f(C + off), *beta = tu_alloc_f(C + off);
    float *dg_a = tu_alloc_f(C + off), *db_a = tu_alloc_f(C + off), *dg_n = tu_alloc_f(C), *db_n = tu_alloc_f(C);
    float *mean_a = tu_alloc_f(L + off), *istd_a = tu_alloc_f(L + off), *var_a = tu_alloc_f(L + off);
    float *mean_n = tu_alloc_f(L), *istd_n = tu_alloc_f(L), *var_n = tu_alloc_f(L);
    double *xd = tu_alloc_d(count), *dyd = tu_alloc_d(count), *yd = tu_alloc_d(count), *dxd = tu_alloc_d(count);
    double *gd = tu_alloc_d(C), *bd = tu_alloc_d(C), *dgd = tu_alloc_d(C), *dbd = tu_alloc_d(C);
    double *md = tu_alloc_d(L), *sd = tu_alloc_d(L), *vd = tu_alloc_d(L);
    const uint64_t seed = 7000 + (uint64_t)_i;
    tu_randn_f(x + off, count, seed, 1.5, 2.0);
    tu_randn_f(dy + off, count, seed + 1, 0.0, 1.0);
    tu_randn_f(gamma + off, C, seed + 2, 1.0, 0.5);
    tu_randn_f(beta + off, C, seed + 3, 0.0, 0.5);
    for (size_t i = 0; i < count; i++)
        xd[i] = x[off + i], dyd[i] = dy[off + i];
    for (size_t c = 0; c < C; c++)
        gd[c] = gamma[off + c], bd[c] = beta[off + c];

    /* forward: naive float, naive double, AVX2 (in place: y_a holds x first) */
    nnr_groupnorm_cache cn = {mean_n, istd_n, var_n}, ca = {mean_a + off, istd_a + off, var_a + off};
    nnr_groupnorm_cache_f64 cd = {md, sd, vd};
    ck_assert_int_eq(nnr_groupnorm_fwd_naive(&p, &cs->shape, x + off, gamma + off, beta + off, y_n, &cn).code,
                     NNR_OK);
    ck_assert_int_eq(nnr_groupnorm_fwd_naive_f64(&p, &cs->shape, xd, gd, bd, yd, &cd).code, NNR_OK);
    const float *xin = x + off;
    if (cs->in_place) {
        memcpy(y_a + off, x + off, count * sizeof(float));
        xin = y_a + off;
    }
    st = nnr_groupnorm_fwd_avx2(&p, &cs->shape, xin, gamma + off, beta + off, y_a + off, &ca);
    ck_assert_msg(st.code == NNR_OK, "%s: %s", desc, nnr_strerror(&st));
    double w = 0;
    w = fmax(w, cmp_elem("y", "naive float", desc, y_a + off, y_n, NULL, count));
    w = fmax(w, cmp_elem("y", "naive double", desc, y_a + off, NULL, yd, count));
    w = fmax(w, cmp_elem("mean", "naive float", desc, mean_a + off, mean_n, NULL, L));
    w = fmax(w, cmp_elem("istd", "naive float", desc, istd_a + off, istd_n, NULL, L));
    w = fmax(w, cmp_elem("var", "naive double", desc, var_a + off, NULL, vd, L));

    /* backward from the naive float cache, widened for the double kernel, so
     * that all three see identical inputs: with few values per group (G = C,
     * small spatial) istd is large and dx is ill-conditioned in the cache, so
     * a double cache would measure that rounding, not the kernel. */
    ck_assert_int_eq(nnr_groupnorm_bwd_naive(&p, &cs->shape, x + off, gamma + off, &cn, dy + off, dx_n, dg_n,
                                             db_n).code, NNR_OK);
    for (size_t g = 0; g < L; g++)
        md[g] = mean_n[g], sd[g] = istd_n[g];
    ck_assert_int_eq(nnr_groupnorm_bwd_naive_f64(&p, &cs->shape, xd, gd, &cd, dyd, dxd, dgd, dbd).code, NNR_OK);
    const float *dyin = dy + off;
    if (cs->in_place) {
        memcpy(dx_a + off, dy + off, count * sizeof(float));
        dyin = dx_a + off;
    }
    st = nnr_groupnorm_bwd_avx2(&p, &cs->shape, x + off, gamma + off, &cn, dyin, dx_a + off, dg_a + off,
                                db_a + off);
    ck_assert_msg(st.code == NNR_OK, "%s: %s", desc, nnr_strerror(&st));
    w = fmax(w, cmp_elem("dx", "naive float", desc, dx_a + off, dx_n, NULL, count));
    w = fmax(w, cmp_elem("dx", "naive double", desc, dx_a + off, NULL, dxd, count));
    double worst_red = 0;

    /* reductions: per channel, the sum of |terms| from the double reference */
    const size_t G_ = G, cg = C / G_;
    (void)cg;
    double *abs_dy = tu_alloc_d(C), *abs_dyx = tu_alloc_d(C);
    for (size_t c = 0; c < C; c++)
        abs_dy[c] = abs_dyx[c] = 0;
    {
        /* walk the logical (n, pre, c, post) view */
        const int rank = (int)cs->shape.rank;
        const int axis = p.axis < 0 ? p.axis + rank : p.axis;
        size_t pre = 1, post = 1;
        for (int d = 1; d < axis; d++)
            pre *= cs->shape.dims[d];
        for (int d = axis + 1; d < rank; d++)
            post *= cs->shape.dims[d];
        for (size_t i = 0; i < N; i++)
            for (size_t pi = 0; pi < pre; pi++)
                for (size_t c = 0; c < C; c++)
                    for (size_t q = 0; q < post; q++) {
                        const size_t e = ((i * pre + pi) * C + c) * post + q, gi = i * G_ + c / (C / G_);
                        abs_dy[c] += fabs(dyd[e]);
                        abs_dyx[c] += fabs(dyd[e] * (xd[e] - md[gi]) * sd[gi]);
                    }
    }
    for (size_t c = 0; c < C; c++) {
        if (p.scale) {
            const double tol = (K_RED + (double)N) * FLT_EPSILON * abs_dyx[c] + 1e-30;
            const double e1 = fabs((double)dg_a[off + c] - dg_n[c]), e2 = fabs((double)dg_a[off + c] - dgd[c]);
            ck_assert_msg(e1 <= tol && e2 <= tol, "dgamma[%zu], %s: avx2 %.9g naive %.9g double %.9g (tol %.3g)",
                          c, desc, dg_a[off + c], dg_n[c], dgd[c], tol);
            worst_red = fmax(worst_red, fmax(e1, e2) / (FLT_EPSILON * abs_dyx[c] + 1e-30));
        }
        if (p.center) {
            const double tol = (K_RED + (double)N) * FLT_EPSILON * abs_dy[c] + 1e-30;
            const double e1 = fabs((double)db_a[off + c] - db_n[c]), e2 = fabs((double)db_a[off + c] - dbd[c]);
            ck_assert_msg(e1 <= tol && e2 <= tol, "dbeta[%zu], %s: avx2 %.9g naive %.9g double %.9g (tol %.3g)", c,
                          desc, db_a[off + c], db_n[c], dbd[c], tol);
            worst_red = fmax(worst_red, fmax(e1, e2) / (FLT_EPSILON * abs_dy[c] + 1e-30));
        }
    }
    if (getenv("NNREF_XC_VERBOSE") != NULL)
        printf("groupnorm crosscheck %s: worst elementwise %.2f eps*(|ref|+1), reductions %.3f eps*sum|t|\n",
               desc, w, worst_red);
    free(abs_dy), free(abs_dyx);
    free(x), free(dy), free(y_a), free(y_n), free(dx_a), free(dx_n), free(gamma), free(beta);
    free(dg_a), free(db_a), free(dg_n), free(db_n), free(mean_a), free(istd_a), free(var_a);
    free(mean_n), free(istd_n), free(var_n), free(xd), free(dyd), free(yd), free(dxd);
    free(gd), free(bd), free(dgd), free(dbd), free(md), free(sd), free(vd);
}
END_TEST

/* §7 through the AVX2 path: groups at mean 2000 and 100 +- 0.01 in both layouts. */
START_TEST(crosscheck_groupnorm_avx2_large_mean)
{
    if (!nnr_avx2_usable())
        return;
    const double means[2] = {2000.0, 100.0}, sds[2] = {1.0, 0.01};
    for (int cl = 0; cl < 2; cl++)
        for (int t = 0; t < 2; t++) {
            const nnr_shape shape = cl ? (nnr_shape){4, {2, 9, 11, 64}} : (nnr_shape){4, {2, 64, 9, 11}};
            const size_t count = 2 * 64 * 99;
            nnr_groupnorm_params p = cl ? nnr_groupnorm_keras(32) : nnr_groupnorm_torch(32);
            float *x = tu_alloc_f(count), *ya = tu_alloc_f(count), gamma[64], beta[64];
            float ma[64], sa[64], va[64];
            double *xd = tu_alloc_d(count), *yd = tu_alloc_d(count), gd[64], bd[64], md[64], sd[64];
            tu_randn_f(x, count, 55 + (uint64_t)t, means[t], sds[t]);
            tu_randn_f(gamma, 64, 56, 1.0, 0.3);
            tu_randn_f(beta, 64, 57, 0.0, 0.3);
            for (size_t i = 0; i < count; i++)
                xd[i] = x[i];
            for (size_t c = 0; c < 64; c++)
                gd[c] = gamma[c], bd[c] = beta[c];
            nnr_groupnorm_cache ca = {ma, sa, va};
            nnr_groupnorm_cache_f64 cd = {md, sd, NULL};
            ck_assert_int_eq(nnr_groupnorm_fwd_avx2(&p, &shape, x, gamma, beta, ya, &ca).code, NNR_OK);
            ck_assert_int_eq(nnr_groupnorm_fwd_naive_f64(&p, &shape, xd, gd, bd, yd, &cd).code, NNR_OK);
            for (size_t g = 0; g < 64; g++) {
                ck_assert_msg(va[g] >= 0.0f, "negative variance %g", va[g]);
                ck_assert_msg(fabs(sa[g] - sd[g]) <= 4 * FLT_EPSILON * sd[g], "istd %.9g vs %.9g", sa[g], sd[g]);
            }
            char desc[64];
            snprintf(desc, sizeof desc, "mean %g sd %g %s", means[t], sds[t], cl ? "nhwc" : "nchw");
            cmp_elem("y", "naive double", desc, ya, NULL, yd, count);
            free(x), free(ya), free(xd), free(yd);
        }
}
END_TEST

void groupnorm_add_crosscheck(TCase *tc)
{
    build_cases();
    tcase_add_loop_test(tc, crosscheck_groupnorm_avx2_vs_naive, 0, gx_n_cases);
    tcase_add_test(tc, crosscheck_groupnorm_avx2_large_mean);
}

#else

void groupnorm_add_crosscheck(TCase *tc)
{
    (void)tc;
}

#endif /* NNR_HAVE_AVX2_BUILD */
