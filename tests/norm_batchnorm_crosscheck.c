/*
 * BatchNorm cross-validation: the AVX2 kernels against the naive float kernels
 * (tight: same inputs, same float caches, only the order and precision of the
 * arithmetic differ) and against the naive double kernels fed the same inputs
 * widened to double (accuracy), for all four passes.
 *
 * Each case runs every pass:
 *   fwd_train  y, cache mean/istd (and r, d with renorm), all running statistics
 *   fwd_infer  y from a shared running state
 *   bwd_train  dx, dgamma, dbeta from the NAIVE float cache (so the three
 *              implementations see identical inputs)
 *   bwd_infer  dx, dgamma, dbeta from the shared running state
 * Dimensions are swept one at a time around a base shape (not the full
 * product) to keep the TCase fast enough to run under ASan.
 *
 * Tolerances (eps = FLT_EPSILON).
 *  Elementwise outputs (y, dx, cache, running statistics):
 *      |avx2 - ref| <= K_ELEM * eps * (|ref| + 1).
 *  The naive float kernel computes each output in double and rounds once; the
 *  AVX2 kernel rounds its float coefficients (A = gamma*r*istd, B, and the
 *  three dx coefficients) once each and then does 2 to 3 float operations per
 *  element (two subtractions for the centred value, one or two FMAs). Each
 *  contributes at most eps/2 relative to the largest intermediate, and the
 *  test data keep intermediates |gamma*x_hat|, |beta| and |dx terms| below
 *  about 8, so about 6 roundings * eps/2 * 8 = 24 eps in the worst cancellation;
 *  the istd computed from float-lane sums adds a few eps relative. K_ELEM = 32.
 *  Against double the reference is not rounded to float, which adds eps/2
 *  relative: the same K_ELEM covers it. (Measured on these cases: the worst
 *  elementwise error is between 4 and 8 eps*(|ref|+1), so K_ELEM = 4 fails and
 *  32 is the derived bound, not a loosened one.)
 *  Reductions (dgamma, dbeta; m terms each):
 *      |avx2 - ref| <= K_RED * eps * m * max|term| + eps * |ref|.
 *  The AVX2 kernel sums in float lanes that each hold at most L terms (L <= 32
 *  along a row chunk, L <= 256 rows in channels_last) and flushes each lane into
 *  double. A float lane sum of L terms errs by at most about L * eps/2 * its
 *  sum of |terms| in the worst case and by about sqrt(L) * eps/2 * that sum for
 *  random-sign data like ours, which stays below eps * m * max|term|; the final
 *  rounding to float adds eps/2 * |ref|. K_RED = 2 leaves a factor 2 of margin
 *  over that estimate. (Measured: the worst reduction error is about 0.2 of
 *  eps * m * max|term|, so K_RED = 0.1 fails.)
 */
#include "config.h"
#include <float.h>
#include <stdio.h>
#include "test_util.h"
#include "test_norm.h"
#ifdef NNR_USE_OPENMP
#include <omp.h>
#endif

#ifdef NNR_HAVE_AVX2_BUILD

#define K_ELEM 32.0
#define K_RED 2.0

/* One cross-validation case: parameters, shape, and how the buffers are used. */
typedef struct xc_case {
    const char *name;
    nnr_batchnorm_params p;
    nnr_shape shape;
    size_t offset;   /* floats by which every tensor pointer is offset (1: unaligned) */
    int in_place;    /* y == x in the forward passes, dx == dy in the backward */
    uint64_t seed;
} xc_case;

static void describe(const xc_case *cs, char *buf, size_t len)
{
    int w = snprintf(buf, len, "%s shape (", cs->name);
    for (size_t d = 0; d < cs->shape.rank && w > 0 && (size_t)w < len; d++)
        w += snprintf(buf + w, len - (size_t)w, "%s%zu", d ? "," : "", cs->shape.dims[d]);
    if (w > 0 && (size_t)w < len)
        snprintf(buf + w, len - (size_t)w, ") axis %d vbs %zu renorm %d center %d scale %d offset %zu%s",
                 cs->p.axis, cs->p.virtual_batch_size, cs->p.renorm, cs->p.center, cs->p.scale, cs->offset,
                 cs->in_place ? " in-place" : "");
}

/* Elementwise comparison, bound K_ELEM*eps*(|ref|+1): judges every value into
 * t, the first bad one described with pass, tensor, shape, index and both values. */
static void cmp_elem(tu_tally *t, const xc_case *cs, const char *pass, const char *tensor, const char *against,
                     const float *got, const float *ref_f, const double *ref_d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double ref = ref_f ? (double)ref_f[i] : ref_d[i];
        const double tol = K_ELEM * FLT_EPSILON * (fabs(ref) + 1.0);
        const double err = fabs((double)got[i] - ref);
        if (!tu_judge(t, err <= tol, err, tol)) {
            char desc[256];
            describe(cs, desc, sizeof desc);
            tu_note(t, "%s %s vs %s: %s [%zu] avx2 %.9g, %s %.9g (|diff| %.3g > %.3g)", pass, tensor, against,
                    desc, i, (double)got[i], against, ref, err, tol);
        }
    }
}

/* Reduction comparison, bound K_RED*eps*m*max|term| + eps*|ref| per channel, into t. */
static void cmp_red(tu_tally *t, const xc_case *cs, const char *pass, const char *tensor, const char *against,
                    const float *got, const float *ref_f, const double *ref_d, const double *max_term,
                    size_t m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double ref = ref_f ? (double)ref_f[i] : ref_d[i];
        const double tol = K_RED * FLT_EPSILON * (double)m * max_term[i] + FLT_EPSILON * fabs(ref);
        const double err = fabs((double)got[i] - ref);
        if (!tu_judge(t, err <= tol, err, tol)) {
            char desc[256];
            describe(cs, desc, sizeof desc);
            tu_note(t, "%s %s vs %s: %s channel %zu avx2 %.9g, %s %.9g (|diff| %.3g > %.3g)", pass, tensor,
                    against, desc, i, (double)got[i], against, ref, err, tol);
        }
    }
}

/* Float state + its double twin, all five arrays. */
typedef struct xc_state {
    float *f[5];
    double *d[5];
    nnr_batchnorm_state s;
    nnr_batchnorm_state_f64 sd;
} xc_state;

static const char *const state_names[5] = {"running_mean", "running_var", "moving_stddev", "renorm_mean",
                                           "renorm_stddev"};

static void state_alloc(xc_state *st, size_t C)
{
    for (int k = 0; k < 5; k++) {
        st->f[k] = tu_alloc_f(C);
        st->d[k] = tu_alloc_d(C);
    }
    st->s = (nnr_batchnorm_state){st->f[0], st->f[1], st->f[2], st->f[3], st->f[4], 0};
    st->sd = (nnr_batchnorm_state_f64){st->d[0], st->d[1], st->d[2], st->d[3], st->d[4], 0};
}

static void state_copy(xc_state *dst, const xc_state *src, size_t C)
{
    for (int k = 0; k < 5; k++) {
        if (dst != src)
            memcpy(dst->f[k], src->f[k], C * sizeof(float));
        for (size_t c = 0; c < C; c++)
            dst->d[k][c] = src->f[k][c];
    }
    dst->s.num_batches_tracked = dst->sd.num_batches_tracked = src->s.num_batches_tracked;
}

static void state_free(xc_state *st)
{
    for (int k = 0; k < 5; k++) {
        free(st->f[k]);
        free(st->d[k]);
    }
}

static double *widen(const float *v, size_t n)
{
    double *d = tu_alloc_d(n);
    for (size_t i = 0; i < n; i++)
        d[i] = v[i];
    return d;
}

#define XC_OK(call) do { nnr_status st_ = (call); \
    ck_assert_msg(st_.code == NNR_OK, "%s failed: %s", #call, nnr_strerror(&st_)); } while (0)

/* Runs the four passes of one case through avx2, naive float and naive double
 * and judges every AVX2 output against both; returns the tally (cases = 1). */
static tu_tally run_case(const xc_case *cs)
{
    tu_tally t = {.cases = 1};
    const nnr_batchnorm_params *p = &cs->p;
    size_t count, C, cache_len;
    XC_OK(nnr_shape_numel(&cs->shape, "shape", &count));
    XC_OK(nnr_batchnorm_sizes(p, &cs->shape, &C, &cache_len));
    const size_t m = count / C / (cache_len / C);   /* values per channel and ghost batch */
    const size_t off = cs->offset;

    /* Inputs: x ~ 0.5 + 1.5 N(0,1), dy ~ N(0,1), gamma ~ 1 + 0.25 N, beta ~ 0.5 N. */
    float *x_buf = tu_alloc_f(count + off), *x = x_buf + off;
    float *dy_buf = tu_alloc_f(count + off), *dy = dy_buf + off;
    float *gamma = tu_alloc_f(C), *beta = tu_alloc_f(C);
    tu_randn_f(x, count, cs->seed, 0.5, 1.5);
    tu_randn_f(dy, count, cs->seed + 1, 0.0, 1.0);
    tu_randn_f(gamma, C, cs->seed + 2, 1.0, 0.25);
    tu_randn_f(beta, C, cs->seed + 3, 0.0, 0.5);
    double *xd = widen(x, count), *dyd = widen(dy, count), *gd = widen(gamma, C), *bd = widen(beta, C);

    /* A shared starting state away from the initial 0/1, so every update rule shows. */
    xc_state init, st_a, st_n, st_d;
    state_alloc(&init, C); state_alloc(&st_a, C); state_alloc(&st_n, C); state_alloc(&st_d, C);
    for (size_t c = 0; c < C; c++) {
        init.f[0][c] = (float)(0.3 * nnr_rng_normal(cs->seed + 4, c));
        init.f[1][c] = (float)(1.0 + 0.3 * fabs(nnr_rng_normal(cs->seed + 5, c)));
        init.f[2][c] = (float)sqrt(init.f[1][c] + p->epsilon);
        init.f[3][c] = (float)(0.3 * nnr_rng_normal(cs->seed + 6, c));
        init.f[4][c] = (float)(1.0 + 0.3 * fabs(nnr_rng_normal(cs->seed + 7, c)));
    }
    init.s.num_batches_tracked = 2;
    state_copy(&init, &init, C);   /* widen the float values into init's double twin */
    state_copy(&st_a, &init, C); state_copy(&st_n, &init, C); state_copy(&st_d, &init, C);

    /* Outputs. */
    float *out_a_buf = tu_alloc_f(count + off), *out_a = out_a_buf + off;
    float *out_n = tu_alloc_f(count);
    double *out_d = tu_alloc_d(count);
    float *mean_a = tu_alloc_f(cache_len), *istd_a = tu_alloc_f(cache_len), *r_a = tu_alloc_f(C), *d_a = tu_alloc_f(C);
    float *mean_n = tu_alloc_f(cache_len), *istd_n = tu_alloc_f(cache_len), *r_n = tu_alloc_f(C), *d_n = tu_alloc_f(C);
    double *mean_d = tu_alloc_d(cache_len), *istd_d = tu_alloc_d(cache_len), *r_d = tu_alloc_d(C), *d_d = tu_alloc_d(C);
    nnr_batchnorm_cache cache_a = {mean_a, istd_a, r_a, d_a}, cache_n = {mean_n, istd_n, r_n, d_n};
    nnr_batchnorm_cache_f64 cache_d = {mean_d, istd_d, r_d, d_d};
    float *dg_a = tu_alloc_f(C), *db_a = tu_alloc_f(C), *dg_n = tu_alloc_f(C), *db_n = tu_alloc_f(C);
    double *dg_d = tu_alloc_d(C), *db_d = tu_alloc_d(C), *max_dg = tu_alloc_d(C), *max_db = tu_alloc_d(C);
    const float *g_arg = p->scale ? gamma : NULL, *b_arg = p->center ? beta : NULL;
    const double *gd_arg = p->scale ? gd : NULL, *bd_arg = p->center ? bd : NULL;
    /* In place: the AVX2 output buffer first holds the input. */
    float *y_a = out_a;
    const float *x_a = x;
    if (cs->in_place) {
        memcpy(out_a, x, count * sizeof(float));
        x_a = out_a;
    }

    /* ---- fwd_train ---- */
    XC_OK(nnr_batchnorm_fwd_train_avx2(p, &cs->shape, x_a, g_arg, b_arg, y_a, &cache_a, &st_a.s));
    XC_OK(nnr_batchnorm_fwd_train_naive(p, &cs->shape, x, g_arg, b_arg, out_n, &cache_n, &st_n.s));
    XC_OK(nnr_batchnorm_fwd_train_naive_f64(p, &cs->shape, xd, gd_arg, bd_arg, out_d, &cache_d, &st_d.sd));
    cmp_elem(&t, cs, "fwd_train", "y", "naive", y_a, out_n, NULL, count);
    cmp_elem(&t, cs, "fwd_train", "y", "double", y_a, NULL, out_d, count);
    cmp_elem(&t, cs, "fwd_train", "cache.mean", "naive", mean_a, mean_n, NULL, cache_len);
    cmp_elem(&t, cs, "fwd_train", "cache.mean", "double", mean_a, NULL, mean_d, cache_len);
    cmp_elem(&t, cs, "fwd_train", "cache.istd", "naive", istd_a, istd_n, NULL, cache_len);
    cmp_elem(&t, cs, "fwd_train", "cache.istd", "double", istd_a, NULL, istd_d, cache_len);
    if (p->renorm) {
        cmp_elem(&t, cs, "fwd_train", "cache.r", "naive", r_a, r_n, NULL, C);
        cmp_elem(&t, cs, "fwd_train", "cache.r", "double", r_a, NULL, r_d, C);
        cmp_elem(&t, cs, "fwd_train", "cache.d", "naive", d_a, d_n, NULL, C);
        cmp_elem(&t, cs, "fwd_train", "cache.d", "double", d_a, NULL, d_d, C);
    }
    for (int k = 0; k < 5; k++) {
        cmp_elem(&t, cs, "fwd_train", state_names[k], "naive", st_a.f[k], st_n.f[k], NULL, C);
        cmp_elem(&t, cs, "fwd_train", state_names[k], "double", st_a.f[k], NULL, st_d.d[k], C);
    }
    if (!tu_judge(&t, st_a.s.num_batches_tracked == st_n.s.num_batches_tracked, 0, 0))
        tu_note(&t, "fwd_train num_batches_tracked: avx2 %llu, naive %llu",
                (unsigned long long)st_a.s.num_batches_tracked, (unsigned long long)st_n.s.num_batches_tracked);

    /* ---- fwd_infer, from the shared starting state ---- */
    if (cs->in_place)
        memcpy(out_a, x, count * sizeof(float));
    XC_OK(nnr_batchnorm_fwd_infer_avx2(p, &cs->shape, x_a, g_arg, b_arg, y_a, &init.s));
    XC_OK(nnr_batchnorm_fwd_infer_naive(p, &cs->shape, x, g_arg, b_arg, out_n, &init.s));
    XC_OK(nnr_batchnorm_fwd_infer_naive_f64(p, &cs->shape, xd, gd_arg, bd_arg, out_d, &init.sd));
    cmp_elem(&t, cs, "fwd_infer", "y", "naive", y_a, out_n, NULL, count);
    cmp_elem(&t, cs, "fwd_infer", "y", "double", y_a, NULL, out_d, count);

    /* ---- bwd_train, all three from the naive float cache ---- */
    nnr_batchnorm_cache_f64 cache_nd = {widen(mean_n, cache_len), widen(istd_n, cache_len), widen(r_n, C),
                                        widen(d_n, C)};
    const float *dy_a = dy;
    if (cs->in_place) {
        memcpy(out_a, dy, count * sizeof(float));
        dy_a = out_a;
    }
    XC_OK(nnr_batchnorm_bwd_train_avx2(p, &cs->shape, x, g_arg, &cache_n, dy_a, out_a, dg_a, db_a));
    XC_OK(nnr_batchnorm_bwd_train_naive(p, &cs->shape, x, g_arg, &cache_n, dy, out_n, dg_n, db_n));
    XC_OK(nnr_batchnorm_bwd_train_naive_f64(p, &cs->shape, xd, gd_arg, &cache_nd, dyd, out_d, dg_d, db_d));
    cmp_elem(&t, cs, "bwd_train", "dx", "naive", out_a, out_n, NULL, count);
    cmp_elem(&t, cs, "bwd_train", "dx", "double", out_a, NULL, out_d, count);
    /* Largest term of each reduction: |dy * (r*x_hat + d)| and |dy|. */
    for (size_t c = 0; c < C; c++)
        max_dg[c] = max_db[c] = 0.0;
    for (size_t i = 0; i < count; i++) {
        /* recover (ghost, channel) of element i through the view (N, pre, C, post) */
        const int axis = p->axis < 0 ? p->axis + (int)cs->shape.rank : p->axis;
        size_t post = 1;
        for (size_t dd = (size_t)axis + 1; dd < cs->shape.rank; dd++)
            post *= cs->shape.dims[dd];
        const size_t c = (i / post) % C;
        const size_t groups = cache_len / C;
        const size_t sample = i / (count / cs->shape.dims[0]);
        const size_t j = sample % groups;
        const double r = p->renorm ? r_n[c] : 1.0, d = p->renorm ? d_n[c] : 0.0;
        const double x_hat = ((double)x[i] - mean_n[j * C + c]) * istd_n[j * C + c];
        const double tg = fabs(dy[i] * (r * x_hat + d)), tb = fabs(dy[i]);
        if (tg > max_dg[c]) max_dg[c] = tg;
        if (tb > max_db[c]) max_db[c] = tb;
    }
    const size_t m_all = m * (cache_len / C);   /* dgamma, dbeta sum over all ghost batches */
    if (p->scale) {
        cmp_red(&t, cs, "bwd_train", "dgamma", "naive", dg_a, dg_n, NULL, max_dg, m_all, C);
        cmp_red(&t, cs, "bwd_train", "dgamma", "double", dg_a, NULL, dg_d, max_dg, m_all, C);
    }
    if (p->center) {
        cmp_red(&t, cs, "bwd_train", "dbeta", "naive", db_a, db_n, NULL, max_db, m_all, C);
        cmp_red(&t, cs, "bwd_train", "dbeta", "double", db_a, NULL, db_d, max_db, m_all, C);
    }

    /* ---- bwd_infer, from the shared starting state ---- */
    if (cs->in_place)
        memcpy(out_a, dy, count * sizeof(float));
    XC_OK(nnr_batchnorm_bwd_infer_avx2(p, &cs->shape, x, g_arg, &init.s, dy_a, out_a, dg_a, db_a));
    XC_OK(nnr_batchnorm_bwd_infer_naive(p, &cs->shape, x, g_arg, &init.s, dy, out_n, dg_n, db_n));
    XC_OK(nnr_batchnorm_bwd_infer_naive_f64(p, &cs->shape, xd, gd_arg, &init.sd, dyd, out_d, dg_d, db_d));
    cmp_elem(&t, cs, "bwd_infer", "dx", "naive", out_a, out_n, NULL, count);
    cmp_elem(&t, cs, "bwd_infer", "dx", "double", out_a, NULL, out_d, count);
    for (size_t c = 0; c < C; c++)
        max_dg[c] = 0.0;
    {
        const int axis = p->axis < 0 ? p->axis + (int)cs->shape.rank : p->axis;
        size_t post = 1;
        for (size_t dd = (size_t)axis + 1; dd < cs->shape.rank; dd++)
            post *= cs->shape.dims[dd];
        for (size_t i = 0; i < count; i++) {
            const size_t c = (i / post) % C;
            const double t = fabs(dy[i] * ((double)x[i] - init.f[0][c]) / sqrt((double)init.f[1][c] + p->epsilon));
            if (t > max_dg[c]) max_dg[c] = t;
        }
    }
    if (p->scale) {
        cmp_red(&t, cs, "bwd_infer", "dgamma", "naive", dg_a, dg_n, NULL, max_dg, count / C, C);
        cmp_red(&t, cs, "bwd_infer", "dgamma", "double", dg_a, NULL, dg_d, max_dg, count / C, C);
    }
    if (p->center) {
        cmp_red(&t, cs, "bwd_infer", "dbeta", "naive", db_a, db_n, NULL, max_db, count / C, C);
        cmp_red(&t, cs, "bwd_infer", "dbeta", "double", db_a, NULL, db_d, max_db, count / C, C);
    }

    free(cache_nd.mean); free(cache_nd.istd); free(cache_nd.r); free(cache_nd.d);
    free(dg_a); free(db_a); free(dg_n); free(db_n); free(dg_d); free(db_d); free(max_dg); free(max_db);
    free(mean_a); free(istd_a); free(r_a); free(d_a);
    free(mean_n); free(istd_n); free(r_n); free(d_n);
    free(mean_d); free(istd_d); free(r_d); free(d_d);
    free(out_a_buf); free(out_n); free(out_d);
    state_free(&init); state_free(&st_a); state_free(&st_n); state_free(&st_d);
    free(xd); free(dyd); free(gd); free(bd);
    free(x_buf); free(dy_buf); free(gamma); free(beta);
    return t;
}

/* A case with Keras defaults on the given shape, channels_first (axis 1) or channels_last (axis -1). */
static xc_case make_case(const char *name, int channels_last, nnr_shape shape, uint64_t seed)
{
    xc_case cs;
    cs.name = name;
    cs.p = nnr_batchnorm_keras();
    cs.p.axis = channels_last ? -1 : 1;
    cs.shape = shape;
    cs.offset = 1;
    cs.in_place = 0;
    cs.seed = seed;
    return cs;
}

/* Both layouts of a rank-`rank` tensor with batch n, c channels and every
 * spatial extent s (last one s2): the two cases' tallies added. */
static tu_tally run_both_layouts(const char *name, size_t rank, size_t n, size_t c, size_t s, size_t s2,
                             uint64_t seed)
{
    nnr_shape first = {rank, {n}}, last = {rank, {n}};
    first.dims[1] = c;
    last.dims[rank - 1] = c;
    for (size_t k = 0; k + 2 < rank; k++) {          /* the rank-2 spatial extents */
        const size_t extent = k + 3 == rank ? s2 : s;
        first.dims[k + 2] = extent;
        last.dims[k + 1] = extent;
    }
    xc_case a = make_case(name, 0, first, seed), b = make_case(name, 1, last, seed);
    tu_tally t = run_case(&a);
    const tu_tally tb = run_case(&b);
    tu_tally_add(&t, &tb);
    return t;
}

/* ------------------------------------------------------------------------- */

static const size_t channel_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 32, 33, 64};

/* Channel counts below, at, above and multiples of the 8-float vector (rank 4, 2 x C x 3 x 5). */
START_TEST(crosscheck_channels)
{
    const tu_tally all = run_both_layouts("channels", 4, 2, channel_counts[_i], 3, 5, 100 + (uint64_t)_i);
    ck_assert_uint_eq(all.cases, 2);
    ck_assert_msg(all.bad == 0, "C = %zu: %zu of %zu AVX2 values outside their bound (worst %.3g of it); first: %s",
                  channel_counts[_i], all.bad, all.checked, all.worst, all.first);
}
END_TEST

/* Spatial extents 1..17: row lengths around the vector width (rank 3, 2 x 3 x s), and rank 4 s x s. */
START_TEST(crosscheck_spatial)
{
    const size_t s = (size_t)_i;
    tu_tally all = run_both_layouts("spatial-1d", 3, 2, 3, s, s, 200 + (uint64_t)_i);
    const tu_tally t2 = run_both_layouts("spatial-2d", 4, 2, 9, s, s, 300 + (uint64_t)_i);
    tu_tally_add(&all, &t2);
    ck_assert_uint_eq(all.cases, 4);
    ck_assert_msg(all.bad == 0, "spatial %zu: %zu of %zu AVX2 values outside their bound (worst %.3g of it); "
                  "first: %s", s, all.bad, all.checked, all.worst, all.first);
}
END_TEST

/* Batch sizes 1..8 (rank 4, N x 9 x 4 x 3). */
START_TEST(crosscheck_batch)
{
    const tu_tally all = run_both_layouts("batch", 4, (size_t)_i, 9, 4, 3, 400 + (uint64_t)_i);
    ck_assert_uint_eq(all.cases, 2);
    ck_assert_msg(all.bad == 0, "N = %d: %zu of %zu AVX2 values outside their bound (worst %.3g of it); first: %s",
                  _i, all.bad, all.checked, all.worst, all.first);
}
END_TEST

/* Ranks 2..5 in both layouts, plus a middle channel axis (pre > 1 and post > 1). */
START_TEST(crosscheck_ranks)
{
    const size_t rank = (size_t)_i;
    tu_tally all = run_both_layouts("rank", rank, 3, 11, 3, 6, 500 + (uint64_t)_i);
    if (rank >= 3) {
        nnr_shape shape = {rank, {3, 4, 5, 6, 7}};
        xc_case cs = make_case("middle-axis", 0, shape, 550 + (uint64_t)_i);
        cs.p.axis = 2;
        const tu_tally t = run_case(&cs);
        tu_tally_add(&all, &t);
    }
    ck_assert_uint_eq(all.cases, rank >= 3 ? 3 : 2);
    ck_assert_msg(all.bad == 0, "rank %zu: %zu of %zu AVX2 values outside their bound (worst %.3g of it); "
                  "first: %s", rank, all.bad, all.checked, all.worst, all.first);
}
END_TEST

/* Ghost batches (tf.keras 2 virtual_batch_size, strided membership). */
START_TEST(crosscheck_ghost_batches)
{
    tu_tally all = {0};
    const size_t vbs[] = {1, 2, 3, 6};
    for (int layout = 0; layout < 2; layout++)
        for (size_t k = 0; k < sizeof vbs / sizeof vbs[0]; k++) {
            nnr_shape shape = layout ? (nnr_shape){4, {6, 3, 5, 13}} : (nnr_shape){4, {6, 13, 3, 5}};
            xc_case cs = make_case("ghost", layout, shape, 600 + k);
            cs.p.virtual_batch_size = vbs[k];
            const tu_tally t = run_case(&cs);
            tu_tally_add(&all, &t);
        }
    ck_assert_uint_eq(all.cases, 8);
    ck_assert_msg(all.bad == 0, "ghost batches (virtual_batch_size 1, 2, 3, 6; both layouts): %zu of %zu AVX2 values "
                  "outside their bound (worst %.3g of it); first: %s", all.bad, all.checked, all.worst, all.first);
}
END_TEST

/* Batch renormalization, with clipping of r and d active, both layouts. */
START_TEST(crosscheck_renorm)
{
    tu_tally all = {0};
    for (int layout = 0; layout < 2; layout++)
        for (int clipped = 0; clipped < 2; clipped++) {
            nnr_shape shape = layout ? (nnr_shape){4, {4, 5, 3, 19}} : (nnr_shape){4, {4, 19, 5, 3}};
            xc_case cs = make_case("renorm", layout, shape, 700 + (uint64_t)(2 * layout + clipped));
            cs.p.renorm = 1;
            cs.p.renorm_momentum = 0.9;
            if (clipped) {
                cs.p.rmax = 1.1;
                cs.p.rmin = 0.9;
                cs.p.dmax = 0.2;
            }
            const tu_tally t = run_case(&cs);
            tu_tally_add(&all, &t);
        }
    ck_assert_uint_eq(all.cases, 4);
    ck_assert_msg(all.bad == 0, "renorm (clipped and not; both layouts): %zu of %zu AVX2 values "
                  "outside their bound (worst %.3g of it); first: %s", all.bad, all.checked, all.worst, all.first);
}
END_TEST

/* center and scale switched off in every combination. */
START_TEST(crosscheck_center_scale)
{
    tu_tally all = {0};
    for (int layout = 0; layout < 2; layout++)
        for (int combo = 0; combo < 4; combo++) {
            nnr_shape shape = layout ? (nnr_shape){3, {3, 10, 12}} : (nnr_shape){3, {3, 12, 10}};
            xc_case cs = make_case("center-scale", layout, shape, 800 + (uint64_t)combo);
            cs.p.center = combo & 1;
            cs.p.scale = (combo >> 1) & 1;
            const tu_tally t = run_case(&cs);
            tu_tally_add(&all, &t);
        }
    ck_assert_uint_eq(all.cases, 8);
    ck_assert_msg(all.bad == 0, "center/scale combinations (both layouts): %zu of %zu AVX2 values "
                  "outside their bound (worst %.3g of it); first: %s", all.bad, all.checked, all.worst, all.first);
}
END_TEST

/* In place (y == x, dx == dy), aligned and unaligned. */
START_TEST(crosscheck_in_place)
{
    tu_tally all = {0};
    for (int layout = 0; layout < 2; layout++)
        for (size_t offset = 0; offset < 2; offset++) {
            nnr_shape shape = layout ? (nnr_shape){4, {3, 7, 5, 21}} : (nnr_shape){4, {3, 21, 7, 5}};
            xc_case cs = make_case("in-place", layout, shape, 900 + offset);
            cs.in_place = 1;
            cs.offset = offset;
            const tu_tally t = run_case(&cs);
            tu_tally_add(&all, &t);
        }
    ck_assert_uint_eq(all.cases, 4);
    ck_assert_msg(all.bad == 0, "in place (aligned and not; both layouts): %zu of %zu AVX2 values "
                  "outside their bound (worst %.3g of it); first: %s", all.bad, all.checked, all.worst, all.first);
}
END_TEST

/* Every preset and running-statistics rule (EMA, cumulative, PuzzleLib; unbiased variance). */
START_TEST(crosscheck_presets)
{
    tu_tally all = {0};
    nnr_batchnorm_params presets[5];
    presets[0] = nnr_batchnorm_keras();
    presets[1] = nnr_batchnorm_tf2(4);
    presets[2] = nnr_batchnorm_torch();
    presets[3] = nnr_batchnorm_puzzlelib();
    presets[4] = nnr_batchnorm_torch();
    presets[4].update = NNR_BN_UPDATE_CUMULATIVE;
    for (int layout = 0; layout < 2; layout++)
        for (int k = 0; k < 5; k++) {
            nnr_shape shape = layout ? (nnr_shape){4, {2, 6, 5, 10}} : (nnr_shape){4, {2, 10, 6, 5}};
            xc_case cs = make_case("preset", layout, shape, 1000 + (uint64_t)k);
            const int axis = cs.p.axis;
            cs.p = presets[k];
            cs.p.axis = axis;
            const tu_tally t = run_case(&cs);
            tu_tally_add(&all, &t);
        }
    ck_assert_uint_eq(all.cases, 10);
    ck_assert_msg(all.bad == 0, "presets (keras, tf2, torch, puzzlelib, cumulative; both layouts): %zu of %zu "
                  "AVX2 values outside their bound (worst %.3g of it); first: %s", all.bad, all.checked, all.worst,
                  all.first);
}
END_TEST

/* Large tensors: rows longer than one flush block, many row blocks, more channels
 * than one scratch block, and outputs big enough for the streaming stores. */
START_TEST(crosscheck_large)
{
    tu_tally all = {0};
    const struct { int layout; nnr_shape shape; size_t offset; } big[] = {
        {0, {4, {2, 4, 512, 520}}, 0},   /* rows of 266240 floats, 8.5 MB: streaming */
        {0, {4, {2, 4, 512, 520}}, 1},
        {1, {4, {2, 130, 130, 64}}, 1},  /* 33800 rows of 64 channels, 8.7 MB */
        {1, {2, {40, 300}}, 1},          /* two blocks of channels */
        {1, {3, {7, 33, 519}}, 1},
    };
    for (size_t k = 0; k < sizeof big / sizeof big[0]; k++) {
        xc_case cs = make_case("large", big[k].layout, big[k].shape, 1100 + k);
        cs.offset = big[k].offset;
        const tu_tally t = run_case(&cs);
        tu_tally_add(&all, &t);
    }
    ck_assert_uint_eq(all.cases, 5);
    ck_assert_msg(all.bad == 0, "large tensors: %zu of %zu AVX2 values "
                  "outside their bound (worst %.3g of it); first: %s", all.bad, all.checked, all.worst, all.first);
}
END_TEST

#ifdef NNR_USE_OPENMP
/*
 * DESIGN.md promises bitwise identical results for any thread count: the
 * parallel loops split channels or samples, never a sum. Every AVX2 pass runs
 * with 1, 2 and 3 threads and each output must match the 1-thread one byte for
 * byte. Each shape's parallel loops move at least 3 MiB, 3x the kernels'
 * NNR_OMP_MIN_BYTES (1 MiB), so the teams really form; C and the samples per
 * ghost batch do not divide by 2 or 3 evenly, so the threads' shares differ.
 * Only this (forked) test calls OpenMP: a region in Check's parent process
 * would hang the children with libgomp (TOOLCHAIN.md).
 */

/* Everything one thread count produces. */
typedef struct th_out {
    float *y_train, *mean, *istd, *r, *d, *y_infer, *dx_train, *dg_train, *db_train, *dx_infer, *dg_infer,
        *db_infer;
    xc_state st;
} th_out;

static void th_run(const xc_case *cs, size_t count, size_t C, size_t cache_len, const float *x, const float *dy,
                   const float *gamma, const float *beta, const xc_state *init, int threads, th_out *o)
{
    const nnr_batchnorm_params *p = &cs->p;
    o->y_train = tu_alloc_f(count); o->y_infer = tu_alloc_f(count);
    o->dx_train = tu_alloc_f(count); o->dx_infer = tu_alloc_f(count);
    o->mean = tu_alloc_f(cache_len); o->istd = tu_alloc_f(cache_len);
    o->r = tu_alloc_f(C); o->d = tu_alloc_f(C);
    o->dg_train = tu_alloc_f(C); o->db_train = tu_alloc_f(C);
    o->dg_infer = tu_alloc_f(C); o->db_infer = tu_alloc_f(C);
    state_alloc(&o->st, C);
    state_copy(&o->st, init, C);
    nnr_batchnorm_cache cache = {o->mean, o->istd, o->r, o->d};

    omp_set_num_threads(threads);
    ck_assert_int_eq(omp_get_max_threads(), threads);
    XC_OK(nnr_batchnorm_fwd_train_avx2(p, &cs->shape, x, gamma, beta, o->y_train, &cache, &o->st.s));
    XC_OK(nnr_batchnorm_fwd_infer_avx2(p, &cs->shape, x, gamma, beta, o->y_infer, &init->s));
    XC_OK(nnr_batchnorm_bwd_train_avx2(p, &cs->shape, x, gamma, &cache, dy, o->dx_train, o->dg_train, o->db_train));
    XC_OK(nnr_batchnorm_bwd_infer_avx2(p, &cs->shape, x, gamma, &init->s, dy, o->dx_infer, o->dg_infer,
                                       o->db_infer));
}

static void th_free(th_out *o)
{
    free(o->y_train); free(o->y_infer); free(o->dx_train); free(o->dx_infer);
    free(o->mean); free(o->istd); free(o->r); free(o->d);
    free(o->dg_train); free(o->db_train); free(o->dg_infer); free(o->db_infer);
    state_free(&o->st);
}

/* Judges each element for the same bits under 1 and `threads` threads; the
 * first difference described with both values. */
static void th_same(tu_tally *t, const xc_case *cs, int threads, const char *tensor, const float *one,
                    const float *many, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!tu_judge(t, memcmp(one + i, many + i, sizeof(float)) == 0, 0, 0)) {
            char desc[256];
            describe(cs, desc, sizeof desc);
            tu_note(t, "%s: %s [%zu] differs between 1 thread (%.9g) and %d threads (%.9g)", desc, tensor, i,
                    (double)one[i], threads, (double)many[i]);
        }
}

/* Runs one case with 1, 2 and 3 threads; returns the tally of bitwise comparisons (cases = 1). */
static tu_tally th_case(const xc_case *cs)
{
    tu_tally t = {.cases = 1};
    const nnr_batchnorm_params *p = &cs->p;
    size_t count, C, cache_len;
    XC_OK(nnr_shape_numel(&cs->shape, "shape", &count));
    XC_OK(nnr_batchnorm_sizes(p, &cs->shape, &C, &cache_len));
    float *x = tu_alloc_f(count), *dy = tu_alloc_f(count), *gamma = tu_alloc_f(C), *beta = tu_alloc_f(C);
    tu_randn_f(x, count, cs->seed, 0.5, 1.5);
    tu_randn_f(dy, count, cs->seed + 1, 0.0, 1.0);
    tu_randn_f(gamma, C, cs->seed + 2, 1.0, 0.25);
    tu_randn_f(beta, C, cs->seed + 3, 0.0, 0.5);
    xc_state init;
    state_alloc(&init, C);
    for (size_t c = 0; c < C; c++) {
        init.f[0][c] = (float)(0.3 * nnr_rng_normal(cs->seed + 4, c));
        init.f[1][c] = (float)(1.0 + 0.3 * fabs(nnr_rng_normal(cs->seed + 5, c)));
        init.f[2][c] = (float)sqrt(init.f[1][c] + p->epsilon);
        init.f[3][c] = (float)(0.3 * nnr_rng_normal(cs->seed + 6, c));
        init.f[4][c] = (float)(1.0 + 0.3 * fabs(nnr_rng_normal(cs->seed + 7, c)));
    }
    init.s.num_batches_tracked = 2;

    th_out one, many;
    th_run(cs, count, C, cache_len, x, dy, gamma, beta, &init, 1, &one);
    for (int threads = 2; threads <= 3; threads++) {
        th_run(cs, count, C, cache_len, x, dy, gamma, beta, &init, threads, &many);
        th_same(&t, cs, threads, "fwd_train y", one.y_train, many.y_train, count);
        th_same(&t, cs, threads, "fwd_train cache.mean", one.mean, many.mean, cache_len);
        th_same(&t, cs, threads, "fwd_train cache.istd", one.istd, many.istd, cache_len);
        if (p->renorm) {
            th_same(&t, cs, threads, "fwd_train cache.r", one.r, many.r, C);
            th_same(&t, cs, threads, "fwd_train cache.d", one.d, many.d, C);
        }
        for (int k = 0; k < 5; k++)
            th_same(&t, cs, threads, state_names[k], one.st.f[k], many.st.f[k], C);
        if (!tu_judge(&t, one.st.s.num_batches_tracked == many.st.s.num_batches_tracked, 0, 0))
            tu_note(&t, "num_batches_tracked: %llu with 1 thread, %llu with %d",
                    (unsigned long long)one.st.s.num_batches_tracked,
                    (unsigned long long)many.st.s.num_batches_tracked, threads);
        th_same(&t, cs, threads, "fwd_infer y", one.y_infer, many.y_infer, count);
        th_same(&t, cs, threads, "bwd_train dx", one.dx_train, many.dx_train, count);
        th_same(&t, cs, threads, "bwd_train dgamma", one.dg_train, many.dg_train, C);
        th_same(&t, cs, threads, "bwd_train dbeta", one.db_train, many.db_train, C);
        th_same(&t, cs, threads, "bwd_infer dx", one.dx_infer, many.dx_infer, count);
        th_same(&t, cs, threads, "bwd_infer dgamma", one.dg_infer, many.dg_infer, C);
        th_same(&t, cs, threads, "bwd_infer dbeta", one.db_infer, many.db_infer, C);
        th_free(&many);
    }
    th_free(&one);
    state_free(&init);
    free(x); free(dy); free(gamma); free(beta);
    return t;
}

START_TEST(crosscheck_thread_count)
{
    tu_tally all = {0};
    omp_set_dynamic(0);   /* the runtime must not shrink the team we ask for */
    const struct { const char *name; int layout; nnr_shape shape; size_t vbs; int renorm; } cases[] = {
        {"threads-renorm", 0, {4, {4, 13, 96, 96}}, 0, 1},   /* 13 channels of 4 rows of 9216 */
        {"threads-renorm", 1, {4, {4, 96, 96, 13}}, 0, 1},   /* 36864 rows of 13 channels */
        {"threads", 1, {4, {3, 32, 32, 400}}, 0, 0},         /* two channel blocks (256 + 144) */
        {"threads-ghost", 0, {4, {10, 11, 64, 64}}, 5, 0},   /* 2 ghost batches of 5 samples */
        {"threads-ghost", 1, {4, {10, 96, 96, 11}}, 5, 0},
    };   /* renorm with ghost batches is an error (nnr_batchnorm_sizes), so they are separate cases */
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        xc_case cs = make_case(cases[k].name, cases[k].layout, cases[k].shape, 1200 + k);
        cs.offset = 0;   /* th_case allocates its own aligned buffers */
        cs.p.virtual_batch_size = cases[k].vbs;
        cs.p.renorm = cases[k].renorm;
        if (cs.p.renorm) {
            cs.p.renorm_momentum = 0.9;
            cs.p.rmax = 1.1;
            cs.p.rmin = 0.9;
            cs.p.dmax = 0.2;
        }
        const tu_tally t = th_case(&cs);
        tu_tally_add(&all, &t);
    }
    ck_assert_uint_eq(all.cases, 5);
    ck_assert_msg(all.bad == 0, "thread counts 2 and 3 against 1: %zu of %zu AVX2 values differ in their bits; "
                  "first: %s", all.bad, all.checked, all.first);
}
END_TEST
#endif /* NNR_USE_OPENMP */

#endif /* NNR_HAVE_AVX2_BUILD */

void batchnorm_add_crosscheck(TCase *tc)
{
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_compiled() && nnr_avx2_usable()) {
        tcase_add_loop_test(tc, crosscheck_channels, 0, (int)(sizeof channel_counts / sizeof channel_counts[0]));
        tcase_add_loop_test(tc, crosscheck_spatial, 1, 18);
        tcase_add_loop_test(tc, crosscheck_batch, 1, 9);
        tcase_add_loop_test(tc, crosscheck_ranks, 2, 6);
        tcase_add_test(tc, crosscheck_ghost_batches);
        tcase_add_test(tc, crosscheck_renorm);
        tcase_add_test(tc, crosscheck_center_scale);
        tcase_add_test(tc, crosscheck_in_place);
        tcase_add_test(tc, crosscheck_presets);
        tcase_add_test(tc, crosscheck_large);
#ifdef NNR_USE_OPENMP
        tcase_add_test(tc, crosscheck_thread_count);
#endif
        return;
    }
#endif
    (void)tc;
    fprintf(stderr, "crosscheck: AVX2 kernels not compiled in or CPU without AVX2+FMA: AVX2 tests skipped\n");
}
