/*
 * LayerNorm, AVX2 + FMA kernels (float). Same contract, same argument checks
 * and the same arithmetic meaning as src/norm/layernorm_naive.c, the
 * reference: read that file first; every block below names the naive step it
 * computes.
 *
 * Two paths:
 *  - The normalized axes are the trailing block (PyTorch's normalized_shape,
 *    Keras' default axis -1): row r is D contiguous floats at r*D. One row at
 *    a time, three sweeps while the row is in L1 (768 floats = 3 KB): the
 *    mean, the centred variance, the normalization; DRAM sees one read of x
 *    and one write of y, streamed past the caches when y is large.
 *  - Any other axis set (a middle block, axes that are not contiguous): the
 *    elements of a row are strided; a scalar strided path (as BLIS takes for
 *    non-unit strides), with the same double sums.
 *
 * Precision. Sums run in float lanes over at most NNR_FLUSH_FLOATS values of
 * a row and are then flushed into double. The variance is two-pass: pass 1
 * takes the mean from x - x[0] (exact for x within a factor 2 of x[0]), pass
 * 2 sums d = x - m and d^2 around m = float(mean), giving
 * var = S2/D - (S1/D)^2, where S1 only carries the rounding of m, so there is
 * no cancellation however large the mean. The mean is kept as float hi + lo
 * so x - mean is computed as (x - hi) - lo, as accurate as the naive kernel's
 * double subtraction. A row whose squares overflow float (|x - mean| beyond
 * 1.8e19) has its variance recomputed in double. A constant row gives S1 = 0,
 * mean = x[0] exactly, x - mean = 0 and y == beta.
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "layernorm_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include "layernorm_internal.h"
#include "layernorm_avx2.h"

/* Rows ahead of the one being normalized that are prefetched into L1. */
#define NNR_PREFETCH_ROWS 2

/*
 * The reductions below keep four independent accumulator chains (named
 * variables, not an array: GCC -O2 keeps an array of __m256 in memory, and
 * each add then waits on a store-forward) to hide the 4-cycle add/FMA latency.
 */

/* sum(x - c) over x[0..D), float lanes flushed to double per chunk. */
static double row_shifted_sum(const float *x, size_t D, float c)
{
    const __m256 vc = _mm256_set1_ps(c);
    double total = 0.0;
    for (size_t start = 0; start < D; start += NNR_FLUSH_FLOATS) {
        const size_t len = D - start < NNR_FLUSH_FLOATS ? D - start : NNR_FLUSH_FLOATS;
        const size_t n_vec = len / NNR_F32_PER_YMM, n_tail = len % NNR_F32_PER_YMM;
        const float *p = x + start;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
        size_t v = 0;
        for (; v + 4 <= n_vec; v += 4) {
            const float *q = p + v * NNR_F32_PER_YMM;
            acc0 = _mm256_add_ps(acc0, _mm256_sub_ps(_mm256_loadu_ps(q), vc));
            acc1 = _mm256_add_ps(acc1, _mm256_sub_ps(_mm256_loadu_ps(q + 8), vc));
            acc2 = _mm256_add_ps(acc2, _mm256_sub_ps(_mm256_loadu_ps(q + 16), vc));
            acc3 = _mm256_add_ps(acc3, _mm256_sub_ps(_mm256_loadu_ps(q + 24), vc));
        }
        for (; v < n_vec; v++)
            acc0 = _mm256_add_ps(acc0, _mm256_sub_ps(_mm256_loadu_ps(p + v * NNR_F32_PER_YMM), vc));
        if (n_tail) {
            /* masked lanes load 0; 0 - c must not count, so mask the difference too */
            const __m256i m = mask_first(n_tail);
            acc1 = _mm256_add_ps(acc1, _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(p + n_vec * NNR_F32_PER_YMM, m), vc),
                                                     _mm256_castsi256_ps(m)));
        }
        total += hsum_to_double(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    }
    return total;
}

/* s1 = sum(x - c), s2 = sum((x - c)^2) over x[0..D), float lanes flushed to double per chunk. */
static void row_centred_sums(const float *x, size_t D, float c, double *s1, double *s2)
{
    const __m256 vc = _mm256_set1_ps(c);
    double t1 = 0.0, t2 = 0.0;
    for (size_t start = 0; start < D; start += NNR_FLUSH_FLOATS) {
        const size_t len = D - start < NNR_FLUSH_FLOATS ? D - start : NNR_FLUSH_FLOATS;
        const size_t n_vec = len / NNR_F32_PER_YMM, n_tail = len % NNR_F32_PER_YMM;
        const float *p = x + start;
        __m256 s0 = _mm256_setzero_ps(), s1v = _mm256_setzero_ps(), s2v = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
        __m256 q0 = _mm256_setzero_ps(), q1 = _mm256_setzero_ps(), q2 = _mm256_setzero_ps(), q3 = _mm256_setzero_ps();
        size_t v = 0;
        for (; v + 4 <= n_vec; v += 4) {
            const float *q = p + v * NNR_F32_PER_YMM;
            const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q), vc);
            const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(q + 8), vc);
            const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(q + 16), vc);
            const __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(q + 24), vc);
            s0 = _mm256_add_ps(s0, d0);
            s1v = _mm256_add_ps(s1v, d1);
            s2v = _mm256_add_ps(s2v, d2);
            s3 = _mm256_add_ps(s3, d3);
            q0 = _mm256_fmadd_ps(d0, d0, q0);
            q1 = _mm256_fmadd_ps(d1, d1, q1);
            q2 = _mm256_fmadd_ps(d2, d2, q2);
            q3 = _mm256_fmadd_ps(d3, d3, q3);
        }
        for (; v < n_vec; v++) {
            const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(p + v * NNR_F32_PER_YMM), vc);
            s0 = _mm256_add_ps(s0, d);
            q0 = _mm256_fmadd_ps(d, d, q0);
        }
        if (n_tail) {
            const __m256i m = mask_first(n_tail);
            const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(p + n_vec * NNR_F32_PER_YMM, m), vc),
                                           _mm256_castsi256_ps(m));
            s1v = _mm256_add_ps(s1v, d);
            q1 = _mm256_fmadd_ps(d, d, q1);
        }
        t1 += hsum_to_double(_mm256_add_ps(_mm256_add_ps(s0, s1v), _mm256_add_ps(s2v, s3)));
        t2 += hsum_to_double(_mm256_add_ps(_mm256_add_ps(q0, q1), _mm256_add_ps(q2, q3)));
    }
    *s1 = t1;
    *s2 = t2;
}

/* Steps 1-3 for one contiguous row: mean (as double) and istd. */
static void row_stats(const float *xr, size_t D, double epsilon, double *mean_out, double *istd_out)
{
    double s1, s2;
    /* step 1: mean, from x - x[0] */
    const double mean = (double)xr[0] + row_shifted_sum(xr, D, xr[0]) / (double)D;

    /* step 2: biased variance, centred on the float mean m: S2/D - (S1/D)^2 */
    row_centred_sums(xr, D, (float)mean, &s1, &s2);
    double var;
    if (isfinite(s2) || !isfinite(mean)) {
        var = s2 / (double)D - (s1 / (double)D) * (s1 / (double)D);
        if (var < 0.0)
            var = 0.0;   /* rounding of a near-constant row; never a negative variance */
    } else {
        /* float squares overflowed (|x - mean| > 1.8e19): redo in double */
        double ss = 0.0;
        for (size_t k = 0; k < D; k++) {
            const double d = (double)xr[k] - mean;
            ss += d * d;
        }
        var = ss / (double)D;
    }
    *mean_out = mean;
    /* step 3: istd = (var + eps)^(-1/2) */
    *istd_out = ln_inv_sqrt(var + epsilon);
}

static void fwd_trailing(const nnr_layernorm_params *p, const ln_view *view, const float *x, const float *gamma,
                         const float *beta, float *y, const nnr_layernorm_cache *cache)
{
    const size_t D = view->d;
    const size_t n_vec = D / NNR_F32_PER_YMM, n_tail = D % NNR_F32_PER_YMM;
    const __m256i tail = mask_first(n_tail);
    const __m256 ones = _mm256_set1_ps(1.0f), zeros = _mm256_setzero_ps();
    /* Streaming stores need 32-byte aligned destinations: every row is when y is and D is a multiple of 8. */
    const int stream = view->count * sizeof(float) >= NNR_STREAM_MIN_BYTES && ((uintptr_t)y % 32) == 0 && n_tail == 0;
    /* Locals, not p->...: the intrinsics' stores may alias anything, which would
     * make the compiler reload the switches from *p in every iteration. */
    const int scale = p->scale, center = p->center;
    const double epsilon = p->epsilon;

    for (size_t r = 0; r < view->rows; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D;
        double mean, istd;
        row_stats(xr, D, epsilon, &mean, &istd);
        cache->mean[r] = (float)mean;
        cache->istd[r] = (float)istd;

        /* step 4: y = gamma * ((x - hi) - lo) * istd + beta. Meanwhile row
         * r + NNR_PREFETCH_ROWS is requested into L1 (one prefetch per 64-byte
         * line), so its statistics passes do not wait on DRAM. */
        const float *ahead = r + NNR_PREFETCH_ROWS < view->rows ? xr + NNR_PREFETCH_ROWS * D : NULL;
        const float hi = (float)mean;
        const __m256 vhi = _mm256_set1_ps(hi), vlo = _mm256_set1_ps((float)(mean - (double)hi));
        const __m256 vistd = _mm256_set1_ps((float)istd);
        for (size_t v = 0; v < n_vec; v++) {
            const size_t k = v * NNR_F32_PER_YMM;
            const __m256 g = scale ? _mm256_loadu_ps(gamma + k) : ones;
            const __m256 b = center ? _mm256_loadu_ps(beta + k) : zeros;
            if (ahead != NULL && v % 2 == 0)
                _mm_prefetch((const char *)(ahead + k), _MM_HINT_T0);
            const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + k), vhi), vlo), vistd);
            const __m256 out = _mm256_fmadd_ps(xhat, g, b);
            if (stream)
                _mm256_stream_ps(yr + k, out);
            else
                _mm256_storeu_ps(yr + k, out);
        }
        if (n_tail) {
            const size_t k = n_vec * NNR_F32_PER_YMM;
            const __m256 g = scale ? _mm256_maskload_ps(gamma + k, tail) : ones;
            const __m256 b = center ? _mm256_maskload_ps(beta + k, tail) : zeros;
            const __m256 xhat =
                _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + k, tail), vhi), vlo), vistd);
            _mm256_maskstore_ps(yr + k, tail, _mm256_fmadd_ps(xhat, g, b));
        }
    }
    if (stream)
        _mm_sfence();   /* order the non-temporal stores before the caller reads y */
}

/* Any other axis set: strided scalar path, double sums as in the naive kernel. */
static void fwd_strided(const nnr_layernorm_params *p, const ln_view *view, const float *x, const float *gamma,
                        const float *beta, float *y, const nnr_layernorm_cache *cache)
{
    const double D = (double)view->d;
    for (size_t r = 0; r < view->rows; r++) {
        const size_t base = ln_row_offset(view, r);
        double sum = 0.0, sum_sq = 0.0;
        for (size_t k = 0; k < view->d; k++)
            sum += x[base + ln_elem_offset(view, k)];
        const double mu = sum / D;
        for (size_t k = 0; k < view->d; k++) {
            const double c = x[base + ln_elem_offset(view, k)] - mu;
            sum_sq += c * c;
        }
        const double istd = ln_inv_sqrt(sum_sq / D + p->epsilon);
        cache->mean[r] = (float)mu;
        cache->istd[r] = (float)istd;
        for (size_t k = 0; k < view->d; k++) {
            const size_t off = base + ln_elem_offset(view, k);
            const double g = p->scale ? (double)gamma[k] : 1.0;
            const double b = p->center ? (double)beta[k] : 0.0;
            y[off] = (float)(g * ((x[off] - mu) * istd) + b);
        }
    }
}

nnr_status nnr_layernorm_fwd_avx2(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                                  const float *gamma, const float *beta, float *y,
                                  const nnr_layernorm_cache *cache)
{
    ln_view view;
    nnr_status st = nnr_ln_check_fwd(p, shape, x, gamma, beta, y, cache, &view);
    if (st.code != NNR_OK)
        return st;
    if (view.trailing)
        fwd_trailing(p, &view, x, gamma, beta, y, cache);
    else
        fwd_strided(p, &view, x, gamma, beta, y, cache);
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Backward                                                                  */
/* ------------------------------------------------------------------------- */

/* dgamma += dy * x_hat, dbeta += dy over all rows for columns [c0, c0 + w),
 * w <= NNR_PANEL_COLS, in double lanes on the stack (acc_g, acc_b). */
static void panel_accumulate(const ln_view *view, const float *x, const float *dy, const nnr_layernorm_cache *cache,
                             size_t c0, size_t w, double *acc_g, double *acc_b)
{
    const size_t D = view->d;
    const size_t n_vec = w / NNR_F32_PER_YMM, n_tail = w % NNR_F32_PER_YMM;
    const __m256i tail = mask_first(n_tail);
    for (size_t r = 0; r < view->rows; r++) {
        const float *xr = x + r * D + c0, *dyr = dy + r * D + c0;
        const __m256 vmean = _mm256_set1_ps(cache->mean[r]), vistd = _mm256_set1_ps(cache->istd[r]);
        for (size_t v = 0; v <= n_vec; v++) {
            const size_t k = v * NNR_F32_PER_YMM;
            __m256 xv, dv;
            if (v < n_vec) {
                xv = _mm256_loadu_ps(xr + k);
                dv = _mm256_loadu_ps(dyr + k);
            } else if (n_tail) {
                xv = _mm256_maskload_ps(xr + k, tail);
                dv = _mm256_maskload_ps(dyr + k, tail);
            } else {
                break;
            }
            const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(xv, vmean), vistd);
            /* masked lanes: dy = 0 but x_hat = -mean*istd could be inf/NaN; mask the product */
            const __m256 prod = v < n_vec ? _mm256_mul_ps(dv, xhat)
                                          : _mm256_and_ps(_mm256_mul_ps(dv, xhat), _mm256_castsi256_ps(tail));
            flush_lanes(acc_g + k, prod);
            flush_lanes(acc_b + k, dv);
        }
    }
}

static void bwd_trailing(const nnr_layernorm_params *p, const ln_view *view, const float *x, const float *gamma,
                         const nnr_layernorm_cache *cache, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    const size_t D = view->d;
    const int scale = p->scale, center = p->center;   /* locals: see fwd_trailing */
    const int want_params = scale || center;
    double acc_g[NNR_PANEL_COLS], acc_b[NNR_PANEL_COLS];
    const __m256 ones = _mm256_set1_ps(1.0f);

    /* dgamma, dbeta of the columns beyond the first panel: before dx, which may overwrite dy */
    if (want_params)
        for (size_t c0 = NNR_PANEL_COLS; c0 < D; c0 += NNR_PANEL_COLS) {
            const size_t w = D - c0 < NNR_PANEL_COLS ? D - c0 : NNR_PANEL_COLS;
            for (size_t k = 0; k < NNR_PANEL_COLS; k++)
                acc_g[k] = acc_b[k] = 0.0;
            panel_accumulate(view, x, dy, cache, c0, w, acc_g, acc_b);
            for (size_t k = 0; k < w; k++) {
                if (scale)
                    dgamma[c0 + k] = (float)acc_g[k];
                if (center)
                    dbeta[c0 + k] = (float)acc_b[k];
            }
        }

    /* first panel: accumulated while each row is in L1 for its dx */
    const size_t w0 = D < NNR_PANEL_COLS ? D : NNR_PANEL_COLS;
    for (size_t k = 0; k < NNR_PANEL_COLS; k++)
        acc_g[k] = acc_b[k] = 0.0;
    const size_t n_vec = D / NNR_F32_PER_YMM, n_tail = D % NNR_F32_PER_YMM;
    const __m256i tail = mask_first(n_tail);
    const __m256 tail_f = _mm256_castsi256_ps(tail);

    for (size_t r = 0; r < view->rows; r++) {
        const float *xr = x + r * D, *dyr = dy + r * D;
        float *dxr = dx + r * D;
        const float istd = cache->istd[r];
        const __m256 vmean = _mm256_set1_ps(cache->mean[r]), vistd = _mm256_set1_ps(istd);

        /* first: two reductions, sum(g) and sum(g * x_hat) with g = dy * gamma */
        double sum_g = 0.0, sum_gx = 0.0;
        for (size_t start = 0; start < D; start += NNR_FLUSH_FLOATS) {
            const size_t end = D - start < NNR_FLUSH_FLOATS ? D : start + NNR_FLUSH_FLOATS;
            __m256 a_g = _mm256_setzero_ps(), a_gx = _mm256_setzero_ps();
            for (size_t k = start; k < end; k += NNR_F32_PER_YMM) {
                const int partial = end - k < NNR_F32_PER_YMM;
                const __m256 xv = partial ? _mm256_maskload_ps(xr + k, tail) : _mm256_loadu_ps(xr + k);
                const __m256 dv = partial ? _mm256_maskload_ps(dyr + k, tail) : _mm256_loadu_ps(dyr + k);
                const __m256 gv = scale ? (partial ? _mm256_maskload_ps(gamma + k, tail) : _mm256_loadu_ps(gamma + k))
                                           : ones;
                __m256 g = _mm256_mul_ps(dv, gv);
                __m256 gx = _mm256_mul_ps(g, _mm256_mul_ps(_mm256_sub_ps(xv, vmean), vistd));
                if (partial)
                    gx = _mm256_and_ps(gx, tail_f);
                a_g = _mm256_add_ps(a_g, g);
                a_gx = _mm256_add_ps(a_gx, gx);
            }
            sum_g += hsum_to_double(a_g);
            sum_gx += hsum_to_double(a_gx);
        }
        const __m256 vmean_g = _mm256_set1_ps((float)(sum_g / (double)D));
        const __m256 vmean_gx = _mm256_set1_ps((float)(sum_gx / (double)D));

        /* dx = istd * (g - mean(g) - x_hat * mean(g * x_hat)); dgamma, dbeta of the first panel */
        for (size_t v = 0; v <= n_vec; v++) {
            const size_t k = v * NNR_F32_PER_YMM;
            const int partial = v == n_vec;
            if (partial && n_tail == 0)
                break;
            const __m256 xv = partial ? _mm256_maskload_ps(xr + k, tail) : _mm256_loadu_ps(xr + k);
            const __m256 dv = partial ? _mm256_maskload_ps(dyr + k, tail) : _mm256_loadu_ps(dyr + k);
            const __m256 gv = scale ? (partial ? _mm256_maskload_ps(gamma + k, tail) : _mm256_loadu_ps(gamma + k))
                                       : ones;
            const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(xv, vmean), vistd);
            if (want_params && k < w0) {
                const __m256 prod = _mm256_mul_ps(dv, xhat);
                flush_lanes(acc_g + k, partial ? _mm256_and_ps(prod, tail_f) : prod);
                flush_lanes(acc_b + k, dv);
            }
            const __m256 term1 = _mm256_mul_ps(dv, gv);                          /* term 1: g */
            const __m256 t = _mm256_fnmadd_ps(xhat, vmean_gx, _mm256_sub_ps(term1, vmean_g)); /* - terms 2, 3 */
            const __m256 out = _mm256_mul_ps(t, vistd);
            if (partial)
                _mm256_maskstore_ps(dxr + k, tail, out);
            else
                _mm256_storeu_ps(dxr + k, out);
        }
    }
    for (size_t k = 0; k < w0; k++) {
        if (scale)
            dgamma[k] = (float)acc_g[k];
        if (center)
            dbeta[k] = (float)acc_b[k];
    }
}

static void bwd_strided(const nnr_layernorm_params *p, const ln_view *view, const float *x, const float *gamma,
                        const nnr_layernorm_cache *cache, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    const double D = (double)view->d;
    /* parameter gradients first: dx may overwrite dy */
    for (size_t k = 0; k < view->d; k++) {
        const size_t elem = ln_elem_offset(view, k);
        double dg = 0.0, db = 0.0;
        for (size_t r = 0; r < view->rows; r++) {
            const size_t off = ln_row_offset(view, r) + elem;
            dg += dy[off] * ((x[off] - (double)cache->mean[r]) * (double)cache->istd[r]);
            db += dy[off];
        }
        if (p->scale)
            dgamma[k] = (float)dg;
        if (p->center)
            dbeta[k] = (float)db;
    }
    for (size_t r = 0; r < view->rows; r++) {
        const size_t base = ln_row_offset(view, r);
        const double mu = cache->mean[r], istd = cache->istd[r];
        double sum_g = 0.0, sum_gx = 0.0;
        for (size_t k = 0; k < view->d; k++) {
            const size_t off = base + ln_elem_offset(view, k);
            const double g = dy[off] * (p->scale ? (double)gamma[k] : 1.0);
            sum_g += g;
            sum_gx += g * (x[off] - mu) * istd;
        }
        for (size_t k = 0; k < view->d; k++) {
            const size_t off = base + ln_elem_offset(view, k);
            const double g = dy[off] * (p->scale ? (double)gamma[k] : 1.0);
            dx[off] = (float)(istd * (g - sum_g / D - (x[off] - mu) * istd * (sum_gx / D)));
        }
    }
}

nnr_status nnr_layernorm_bwd_avx2(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                                  const float *gamma, const nnr_layernorm_cache *cache, const float *dy,
                                  float *dx, float *dgamma, float *dbeta)
{
    ln_view view;
    nnr_status st = nnr_ln_check_bwd(p, shape, x, gamma, cache, dy, dx, dgamma, dbeta, &view);
    if (st.code != NNR_OK)
        return st;
    if (view.trailing)
        bwd_trailing(p, &view, x, gamma, cache, dy, dx, dgamma, dbeta);
    else
        bwd_strided(p, &view, x, gamma, cache, dy, dx, dgamma, dbeta);
    return nnr_ok();
}
