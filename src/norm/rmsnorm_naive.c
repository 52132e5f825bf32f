/*
 * RMSNorm, naive reference kernels (Zhang & Sennrich 2019, arXiv:1910.07467).
 * PyTorch reference: torch.nn.RMSNorm (aten/src/ATen/native/layer_norm.cpp,
 * rms_norm); Keras 3: keras/src/layers/normalization/rms_normalization.py.
 *
 * Written once over nnr_real and built twice (src/core/real.h). The input is
 * viewed as rows x D over any set of normalized axes, as for LayerNorm
 * (src/norm/layernorm_internal.h).
 *   x, y, dy, dx        the input's shape
 *   scale, dscale       (D)
 *   cache->rstd         (rows)
 * Sums run in double even in the float build.
 */
#include "config.h"
#include <math.h>
#include "core/real.h"
#include "layernorm_internal.h"

typedef NNR_TYPED(nnr_rmsnorm_cache) rms_cache;

nnr_status NNR_NAIVE(nnr_rmsnorm_fwd)(const nnr_rmsnorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                      const nnr_real *scale, nnr_real *y, const rms_cache *cache)
{
    ln_view view;
    nnr_status st = NNR_TYPED(nnr_rms_check_fwd)(p, shape, x, scale, y, cache, &view);
    if (st.code != NNR_OK)
        return st;

    for (size_t r = 0; r < view.rows; r++) {
        const size_t base = ln_row_offset(&view, r);

        /* step 1: mean square  ms = (1/D) sum_k x_k^2 (no centring) */
        double sum_sq = 0.0;
        for (size_t k = 0; k < view.d; k++) {
            const double v = x[base + ln_elem_offset(&view, k)];
            sum_sq += v * v;
        }

        /* step 2: r = (ms + eps)^(-1/2) (0 if ms + eps = 0) */
        const double rstd = ln_inv_sqrt(sum_sq / (double)view.d + p->epsilon);
        cache->rstd[r] = (nnr_real)rstd;

        /* step 3: y_k = x_k * r * scale_k */
        for (size_t k = 0; k < view.d; k++) {
            const size_t off = base + ln_elem_offset(&view, k);
            const double s = p->scale ? (double)scale[k] : 1.0;
            y[off] = (nnr_real)(x[off] * rstd * s);
        }
    }
    return nnr_ok();
}

nnr_status NNR_NAIVE(nnr_rmsnorm_bwd)(const nnr_rmsnorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                      const nnr_real *scale, const rms_cache *cache, const nnr_real *dy,
                                      nnr_real *dx, nnr_real *dscale)
{
    ln_view view;
    nnr_status st = NNR_TYPED(nnr_rms_check_bwd)(p, shape, x, scale, cache, dy, dx, dscale, &view);
    if (st.code != NNR_OK)
        return st;

    /* dscale_k = sum_rows dy_k * x_k * r; first, as dx may overwrite dy */
    if (p->scale)
        for (size_t k = 0; k < view.d; k++) {
            const size_t elem = ln_elem_offset(&view, k);
            double dscale_k = 0.0;
            for (size_t r = 0; r < view.rows; r++) {
                const size_t off = ln_row_offset(&view, r) + elem;
                dscale_k += dy[off] * x[off] * (double)cache->rstd[r];
            }
            dscale[k] = (nnr_real)dscale_k;
        }

    for (size_t r = 0; r < view.rows; r++) {
        const size_t base = ln_row_offset(&view, r);
        const double rstd = cache->rstd[r];

        /* first: one reduction, mean(g * x) with g = dy * scale */
        double sum_gx = 0.0;
        for (size_t k = 0; k < view.d; k++) {
            const size_t off = base + ln_elem_offset(&view, k);
            sum_gx += dy[off] * (p->scale ? (double)scale[k] : 1.0) * x[off];
        }
        const double mean_gx = sum_gx / (double)view.d;

        /* dx = r * (g - x * r^2 * mean(g * x)) */
        for (size_t k = 0; k < view.d; k++) {
            const size_t off = base + ln_elem_offset(&view, k);
            const double term1 = dy[off] * (p->scale ? (double)scale[k] : 1.0); /* term 1: g */
            const double term2 = x[off] * rstd * rstd * mean_gx;                  /* term 2: through r */
            dx[off] = (nnr_real)(rstd * (term1 - term2));
        }
    }
    return nnr_ok();
}
