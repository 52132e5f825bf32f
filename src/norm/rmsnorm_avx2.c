/*
 * RMSNorm, AVX2 + FMA kernels (float). Same contract, checks and arithmetic
 * meaning as src/norm/rmsnorm_naive.c, the reference.
 *
 * As for LayerNorm (src/norm/layernorm_avx2.c): when the normalized axes are
 * the trailing block, one contiguous row at a time, two sweeps while it is in
 * L1 (mean square, then y = x * r * scale), large outputs streamed; any other
 * axis set takes a scalar strided path with double sums.
 *
 * Precision. The mean square sums x^2 in float lanes over at most
 * NNR_FLUSH_FLOATS values, flushed into double; no cancellation is possible
 * (every term is >= 0). A row whose squares overflow float (|x| > 1.8e19) is
 * summed again in double.
 */
#include "config.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "rmsnorm_avx2.c must be compiled with AVX2 and FMA enabled (-mavx2 -mfma)"
#endif

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include "layernorm_internal.h"
#include "layernorm_avx2.h"

/* Rows ahead of the one being normalized that are prefetched into L1. */
#define NNR_PREFETCH_ROWS 2

/* step 1: sum of x^2 over a contiguous row, double-flushed float lanes. */
static double row_sum_sq(const float *xr, size_t D)
{
    double total = 0.0;
    for (size_t start = 0; start < D; start += NNR_FLUSH_FLOATS) {
        const size_t len = D - start < NNR_FLUSH_FLOATS ? D - start : NNR_FLUSH_FLOATS;
        const size_t n_vec = len / NNR_F32_PER_YMM, n_tail = len % NNR_F32_PER_YMM;
        const float *p = xr + start;
        /* four independent FMA chains hide the 4-cycle latency */
        __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps(), c = _mm256_setzero_ps(), d = _mm256_setzero_ps();
        size_t v = 0;
        for (; v + 4 <= n_vec; v += 4) {
            const float *q = p + v * NNR_F32_PER_YMM;
            const __m256 x0 = _mm256_loadu_ps(q), x1 = _mm256_loadu_ps(q + 8);
            const __m256 x2 = _mm256_loadu_ps(q + 16), x3 = _mm256_loadu_ps(q + 24);
            a = _mm256_fmadd_ps(x0, x0, a);
            b = _mm256_fmadd_ps(x1, x1, b);
            c = _mm256_fmadd_ps(x2, x2, c);
            d = _mm256_fmadd_ps(x3, x3, d);
        }
        for (; v < n_vec; v++) {
            const __m256 x0 = _mm256_loadu_ps(p + v * NNR_F32_PER_YMM);
            a = _mm256_fmadd_ps(x0, x0, a);
        }
        if (n_tail) {
            const __m256 x0 = _mm256_maskload_ps(p + n_vec * NNR_F32_PER_YMM, mask_first(n_tail));
            b = _mm256_fmadd_ps(x0, x0, b);   /* masked lanes load 0 */
        }
        total += hsum_to_double(_mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
    }
    if (isinf(total)) {
        /* float squares overflowed, or x holds an infinity: the double sum tells which */
        total = 0.0;
        for (size_t k = 0; k < D; k++)
            total += (double)xr[k] * (double)xr[k];
    }
    return total;
}

static void fwd_trailing(const nnr_rmsnorm_params *p, const ln_view *view, const float *x, const float *scale,
                         float *y, const nnr_rmsnorm_cache *cache)
{
    const int use_scale = p->scale;   /* a local: the intrinsics' stores may alias *p */
    const double epsilon = p->epsilon;
    const size_t D = view->d;
    const size_t n_vec = D / NNR_F32_PER_YMM, n_tail = D % NNR_F32_PER_YMM;
    const __m256i tail = mask_first(n_tail);
    const __m256 ones = _mm256_set1_ps(1.0f);
    const int stream = view->count * sizeof(float) >= NNR_STREAM_MIN_BYTES && ((uintptr_t)y % 32) == 0 && n_tail == 0;

    for (size_t r = 0; r < view->rows; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D;
        /* step 2: r = (mean(x^2) + eps)^(-1/2) */
        const double rstd = ln_inv_sqrt(row_sum_sq(xr, D) / (double)D + epsilon);
        cache->rstd[r] = (float)rstd;
        const __m256 vr = _mm256_set1_ps((float)rstd);

        /* step 3: y = (x * r) * scale, prefetching row r + NNR_PREFETCH_ROWS into L1
         * (one prefetch per 64-byte line) so its mean square does not wait on DRAM */
        const float *ahead = r + NNR_PREFETCH_ROWS < view->rows ? xr + NNR_PREFETCH_ROWS * D : NULL;
        for (size_t v = 0; v < n_vec; v++) {
            const size_t k = v * NNR_F32_PER_YMM;
            if (ahead != NULL && v % 2 == 0)
                _mm_prefetch((const char *)(ahead + k), _MM_HINT_T0);
            const __m256 s = use_scale ? _mm256_loadu_ps(scale + k) : ones;
            const __m256 out = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + k), vr), s);
            if (stream)
                _mm256_stream_ps(yr + k, out);
            else
                _mm256_storeu_ps(yr + k, out);
        }
        if (n_tail) {
            const size_t k = n_vec * NNR_F32_PER_YMM;
            const __m256 s = use_scale ? _mm256_maskload_ps(scale + k, tail) : ones;
            _mm256_maskstore_ps(yr + k, tail, _mm256_mul_ps(_mm256_mul_ps(_mm256_maskload_ps(xr + k, tail), vr), s));
        }
    }
    if (stream)
        _mm_sfence();
}

static void fwd_strided(const nnr_rmsnorm_params *p, const ln_view *view, const float *x, const float *scale,
                        float *y, const nnr_rmsnorm_cache *cache)
{
    for (size_t r = 0; r < view->rows; r++) {
        const size_t base = ln_row_offset(view, r);
        double sum_sq = 0.0;
        for (size_t k = 0; k < view->d; k++) {
            const double v = x[base + ln_elem_offset(view, k)];
            sum_sq += v * v;
        }
        const double rstd = ln_inv_sqrt(sum_sq / (double)view->d + p->epsilon);
        cache->rstd[r] = (float)rstd;
        for (size_t k = 0; k < view->d; k++) {
            const size_t off = base + ln_elem_offset(view, k);
            y[off] = (float)(x[off] * rstd * (p->scale ? (double)scale[k] : 1.0));
        }
    }
}

nnr_status nnr_rmsnorm_fwd_avx2(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                                const float *scale, float *y, const nnr_rmsnorm_cache *cache)
{
    ln_view view;
    nnr_status st = nnr_rms_check_fwd(p, shape, x, scale, y, cache, &view);
    if (st.code != NNR_OK)
        return st;
    if (view.trailing)
        fwd_trailing(p, &view, x, scale, y, cache);
    else
        fwd_strided(p, &view, x, scale, y, cache);
    return nnr_ok();
}

/* dscale += dy * x * r over all rows for columns [c0, c0 + w), double lanes on the stack. */
static void panel_accumulate(const ln_view *view, const float *x, const float *dy, const nnr_rmsnorm_cache *cache,
                             size_t c0, size_t w, double *acc)
{
    const size_t D = view->d;
    const size_t n_vec = w / NNR_F32_PER_YMM, n_tail = w % NNR_F32_PER_YMM;
    const __m256i tail = mask_first(n_tail);
    for (size_t r = 0; r < view->rows; r++) {
        const float *xr = x + r * D + c0, *dyr = dy + r * D + c0;
        const __m256 vr = _mm256_set1_ps(cache->rstd[r]);
        for (size_t v = 0; v < n_vec; v++) {
            const size_t k = v * NNR_F32_PER_YMM;
            flush_lanes(acc + k, _mm256_mul_ps(_mm256_loadu_ps(dyr + k), _mm256_mul_ps(_mm256_loadu_ps(xr + k), vr)));
        }
        if (n_tail) {
            const size_t k = n_vec * NNR_F32_PER_YMM;
            flush_lanes(acc + k, _mm256_mul_ps(_mm256_maskload_ps(dyr + k, tail),
                                             _mm256_mul_ps(_mm256_maskload_ps(xr + k, tail), vr)));
        }
    }
}

static void bwd_trailing(const nnr_rmsnorm_params *p, const ln_view *view, const float *x, const float *scale,
                         const nnr_rmsnorm_cache *cache, const float *dy, float *dx, float *dscale)
{
    const int use_scale = p->scale;   /* a local: the intrinsics' stores may alias *p */
    const size_t D = view->d;
    double acc[NNR_PANEL_COLS];
    const __m256 ones = _mm256_set1_ps(1.0f);

    /* dscale of the columns beyond the first panel: before dx, which may overwrite dy */
    if (use_scale)
        for (size_t c0 = NNR_PANEL_COLS; c0 < D; c0 += NNR_PANEL_COLS) {
            const size_t w = D - c0 < NNR_PANEL_COLS ? D - c0 : NNR_PANEL_COLS;
            for (size_t k = 0; k < NNR_PANEL_COLS; k++)
                acc[k] = 0.0;
            panel_accumulate(view, x, dy, cache, c0, w, acc);
            for (size_t k = 0; k < w; k++)
                dscale[c0 + k] = (float)acc[k];
        }

    const size_t w0 = D < NNR_PANEL_COLS ? D : NNR_PANEL_COLS;
    for (size_t k = 0; k < NNR_PANEL_COLS; k++)
        acc[k] = 0.0;
    const size_t n_vec = D / NNR_F32_PER_YMM, n_tail = D % NNR_F32_PER_YMM;
    const __m256i tail = mask_first(n_tail);

    for (size_t r = 0; r < view->rows; r++) {
        const float *xr = x + r * D, *dyr = dy + r * D;
        float *dxr = dx + r * D;
        const double rstd = cache->rstd[r];
        const __m256 vr = _mm256_set1_ps((float)rstd);

        /* first: one reduction, sum(g * x) with g = dy * scale (masked lanes load 0) */
        double sum_gx = 0.0;
        for (size_t start = 0; start < D; start += NNR_FLUSH_FLOATS) {
            const size_t end = D - start < NNR_FLUSH_FLOATS ? D : start + NNR_FLUSH_FLOATS;
            __m256 a = _mm256_setzero_ps();
            for (size_t k = start; k < end; k += NNR_F32_PER_YMM) {
                const int partial = end - k < NNR_F32_PER_YMM;
                const __m256 xv = partial ? _mm256_maskload_ps(xr + k, tail) : _mm256_loadu_ps(xr + k);
                const __m256 dv = partial ? _mm256_maskload_ps(dyr + k, tail) : _mm256_loadu_ps(dyr + k);
                const __m256 sv = use_scale ? (partial ? _mm256_maskload_ps(scale + k, tail) : _mm256_loadu_ps(scale + k))
                                           : ones;
                a = _mm256_fmadd_ps(_mm256_mul_ps(dv, sv), xv, a);
            }
            sum_gx += hsum_to_double(a);
        }
        /* dx = r * g - x * c with c = r^3 * mean(g * x) */
        const __m256 vc = _mm256_set1_ps((float)(rstd * rstd * rstd * (sum_gx / (double)D)));

        for (size_t v = 0; v <= n_vec; v++) {
            const size_t k = v * NNR_F32_PER_YMM;
            const int partial = v == n_vec;
            if (partial && n_tail == 0)
                break;
            const __m256 xv = partial ? _mm256_maskload_ps(xr + k, tail) : _mm256_loadu_ps(xr + k);
            const __m256 dv = partial ? _mm256_maskload_ps(dyr + k, tail) : _mm256_loadu_ps(dyr + k);
            const __m256 sv = use_scale ? (partial ? _mm256_maskload_ps(scale + k, tail) : _mm256_loadu_ps(scale + k))
                                       : ones;
            if (use_scale && k < w0)
                flush_lanes(acc + k, _mm256_mul_ps(dv, _mm256_mul_ps(xv, vr)));
            const __m256 term1 = _mm256_mul_ps(_mm256_mul_ps(dv, sv), vr);   /* term 1: r * g */
            const __m256 out = _mm256_fnmadd_ps(xv, vc, term1);               /* - term 2: x * r^3 * mean(g x) */
            if (partial)
                _mm256_maskstore_ps(dxr + k, tail, out);
            else
                _mm256_storeu_ps(dxr + k, out);
        }
    }
    if (use_scale)
        for (size_t k = 0; k < w0; k++)
            dscale[k] = (float)acc[k];
}

static void bwd_strided(const nnr_rmsnorm_params *p, const ln_view *view, const float *x, const float *scale,
                        const nnr_rmsnorm_cache *cache, const float *dy, float *dx, float *dscale)
{
    if (p->scale)
        for (size_t k = 0; k < view->d; k++) {
            const size_t elem = ln_elem_offset(view, k);
            double ds = 0.0;
            for (size_t r = 0; r < view->rows; r++) {
                const size_t off = ln_row_offset(view, r) + elem;
                ds += dy[off] * x[off] * (double)cache->rstd[r];
            }
            dscale[k] = (float)ds;
        }
    for (size_t r = 0; r < view->rows; r++) {
        const size_t base = ln_row_offset(view, r);
        const double rstd = cache->rstd[r];
        double sum_gx = 0.0;
        for (size_t k = 0; k < view->d; k++) {
            const size_t off = base + ln_elem_offset(view, k);
            sum_gx += dy[off] * (p->scale ? (double)scale[k] : 1.0) * x[off];
        }
        const double c = rstd * rstd * rstd * (sum_gx / (double)view->d);
        for (size_t k = 0; k < view->d; k++) {
            const size_t off = base + ln_elem_offset(view, k);
            dx[off] = (float)(rstd * dy[off] * (p->scale ? (double)scale[k] : 1.0) - x[off] * c);
        }
    }
}

nnr_status nnr_rmsnorm_bwd_avx2(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                                const float *scale, const nnr_rmsnorm_cache *cache, const float *dy,
                                float *dx, float *dscale)
{
    ln_view view;
    nnr_status st = nnr_rms_check_bwd(p, shape, x, scale, cache, dy, dx, dscale, &view);
    if (st.code != NNR_OK)
        return st;
    if (view.trailing)
        bwd_trailing(p, &view, x, scale, cache, dy, dx, dscale);
    else
        bwd_strided(p, &view, x, scale, cache, dy, dx, dscale);
    return nnr_ok();
}
