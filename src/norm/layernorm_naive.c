/*
 * LayerNorm, naive reference kernels (Ba, Kiros & Hinton 2016, arXiv:1607.06450).
 * PyTorch reference: aten/src/ATen/native/cpu/layer_norm_kernel.cpp;
 * Keras 3: keras/src/layers/normalization/layer_normalization.py.
 *
 * Written once over nnr_real and built twice: float (nnr_layernorm_*_naive)
 * and double (nnr_layernorm_*_naive_f64), see src/core/real.h.
 *
 * Shapes. The input is viewed as rows x D (src/norm/layernorm_internal.h):
 * the normalized axes number the D elements of a row, the other axes the
 * rows. Element k of row r sits at ln_row_offset(r) + ln_elem_offset(k),
 * which works for any set of axes (trailing, middle, not contiguous).
 *   x, y, dy, dx                 the input's shape
 *   gamma, beta, dgamma, dbeta   (D)
 *   cache->mean, cache->istd     (rows)
 *
 * Sums run in double even in the float build, and the variance is taken from
 * centred values (two passes), never as E[x^2] - E[x]^2.
 */
#include "config.h"
#include <math.h>
#include "core/real.h"
#include "layernorm_internal.h"

typedef NNR_TYPED(nnr_layernorm_cache) ln_cache;

nnr_status NNR_NAIVE(nnr_layernorm_fwd)(const nnr_layernorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                        const nnr_real *gamma, const nnr_real *beta, nnr_real *y,
                                        const ln_cache *cache)
{
    ln_view view;
    nnr_status st = NNR_TYPED(nnr_ln_check_fwd)(p, shape, x, gamma, beta, y, cache, &view);
    if (st.code != NNR_OK)
        return st;
    const double D = (double)view.d;

    for (size_t r = 0; r < view.rows; r++) {
        const size_t base = ln_row_offset(&view, r);

        /* step 1: mean  mu = (1/D) sum_k x_k */
        double sum = 0.0;
        for (size_t k = 0; k < view.d; k++)
            sum += x[base + ln_elem_offset(&view, k)];
        const double mu = sum / D;

        /* step 2: biased variance  var = (1/D) sum_k (x_k - mu)^2, from centred values */
        double sum_sq = 0.0;
        for (size_t k = 0; k < view.d; k++) {
            const double centred = x[base + ln_elem_offset(&view, k)] - mu;
            sum_sq += centred * centred;
        }
        const double var = sum_sq / D;

        /* step 3: inverse standard deviation  istd = (var + eps)^(-1/2) (0 if var + eps = 0) */
        const double istd = ln_inv_sqrt(var + p->epsilon);
        cache->mean[r] = (nnr_real)mu;
        cache->istd[r] = (nnr_real)istd;

        /* step 4: y_k = gamma_k * (x_k - mu) * istd + beta_k; (x - mu) first, so
         * a constant row gives exactly 0 and y == beta */
        for (size_t k = 0; k < view.d; k++) {
            const size_t off = base + ln_elem_offset(&view, k);
            const double x_hat = (x[off] - mu) * istd;
            const double g = p->scale ? (double)gamma[k] : 1.0;
            const double b = p->center ? (double)beta[k] : 0.0;
            y[off] = (nnr_real)(g * x_hat + b);
        }
    }
    return nnr_ok();
}

nnr_status NNR_NAIVE(nnr_layernorm_bwd)(const nnr_layernorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                        const nnr_real *gamma, const ln_cache *cache, const nnr_real *dy,
                                        nnr_real *dx, nnr_real *dgamma, nnr_real *dbeta)
{
    ln_view view;
    nnr_status st = NNR_TYPED(nnr_ln_check_bwd)(p, shape, x, gamma, cache, dy, dx, dgamma, dbeta, &view);
    if (st.code != NNR_OK)
        return st;
    const double D = (double)view.d;

    /* dgamma_k = sum_rows dy_k * x_hat_k;  dbeta_k = sum_rows dy_k.  Done first,
     * one element at a time over all rows: dx may overwrite dy (in place). */
    for (size_t k = 0; k < view.d; k++) {
        const size_t elem = ln_elem_offset(&view, k);
        double dgamma_k = 0.0, dbeta_k = 0.0;
        for (size_t r = 0; r < view.rows; r++) {
            const size_t off = ln_row_offset(&view, r) + elem;
            const double x_hat = (x[off] - (double)cache->mean[r]) * (double)cache->istd[r];
            dgamma_k += dy[off] * x_hat;
            dbeta_k += dy[off];
        }
        if (p->scale)
            dgamma[k] = (nnr_real)dgamma_k;
        if (p->center)
            dbeta[k] = (nnr_real)dbeta_k;
    }

    for (size_t r = 0; r < view.rows; r++) {
        const size_t base = ln_row_offset(&view, r);
        const double mu = cache->mean[r];
        const double istd = cache->istd[r];

        /* first: two reductions, mean(g) and mean(g * x_hat), with g = dy * gamma */
        double sum_g = 0.0, sum_g_xhat = 0.0;
        for (size_t k = 0; k < view.d; k++) {
            const size_t off = base + ln_elem_offset(&view, k);
            const double g = dy[off] * (p->scale ? (double)gamma[k] : 1.0);
            sum_g += g;
            sum_g_xhat += g * (x[off] - mu) * istd;
        }
        const double mean_g = sum_g / D;
        const double mean_g_xhat = sum_g_xhat / D;

        /* dx = istd * (g - mean(g) - x_hat * mean(g * x_hat)) */
        for (size_t k = 0; k < view.d; k++) {
            const size_t off = base + ln_elem_offset(&view, k);
            const double x_hat = (x[off] - mu) * istd;
            const double term1 = dy[off] * (p->scale ? (double)gamma[k] : 1.0); /* term 1: g */
            const double term2 = mean_g;                                          /* term 2: through mu */
            const double term3 = x_hat * mean_g_xhat;                             /* term 3: through var */
            dx[off] = (nnr_real)(istd * (term1 - term2 - term3));
        }
    }
    return nnr_ok();
}
