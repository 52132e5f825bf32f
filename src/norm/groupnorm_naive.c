/*
 * GroupNorm, naive reference kernels (Wu & He 2018, arXiv:1803.08494).
 * PyTorch reference: aten/src/ATen/native/cpu/group_norm_kernel.cpp.
 *
 * Written once over nnr_real and built twice: float (nnr_groupnorm_*_naive)
 * and double (nnr_groupnorm_*_naive_f64), see src/core/real.h.
 *
 * Shapes. The input of rank 2..5 is viewed as (N, pre, C, post) around the
 * channel axis (channels_last: post = 1; channels_first: pre = 1), and the C
 * channels as G groups of cg = C/G consecutive channels.
 *   x, y, dy, dx                   (N, pre, C, post)
 *   gamma, beta, dgamma, dbeta     (C)
 *   cache->mean, ->istd, ->var     (N, G)
 * Group g of sample i is `pre` segments of cg*post contiguous values; value k
 * of a segment belongs to channel g*cg + k/post. Per (i, g) there are
 * m = cg*pre*post values.
 *
 * Sums run in double even in the float build, as in batchnorm_naive.c.
 */
#include "config.h"
#include <math.h>
#include "core/real.h"
#include "groupnorm_internal.h"

typedef NNR_TYPED(nnr_groupnorm_cache) gn_cache;

/* Offset of segment p of group g in sample i. */
static size_t segment_offset(const gn_view *v, size_t i, size_t p, size_t g)
{
    return ((i * v->pre + p) * v->c + g * v->cg) * v->post;
}

/* ------------------------------------------------------------------------- */
/* Forward                                                                   */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_groupnorm_fwd)(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                        const nnr_real *x, const nnr_real *gamma, const nnr_real *beta,
                                        nnr_real *y, const gn_cache *cache)
{
    gn_view view;
    nnr_status st = NNR_TYPED(nnr_gn_check_fwd)(p, shape, x, gamma, beta, y, cache, &view);
    if (st.code != NNR_OK)
        return st;

    const size_t G = view.groups, seg_len = view.cg * view.post;
    const double m = (double)view.m;

    for (size_t i = 0; i < view.n; i++)
        for (size_t g = 0; g < G; g++) {
            /* step 1: mean  mu = (1/m) sum over the group's values */
            double sum = 0.0;
            for (size_t pi = 0; pi < view.pre; pi++) {
                const nnr_real *seg = x + segment_offset(&view, i, pi, g);
                for (size_t k = 0; k < seg_len; k++)
                    sum += seg[k];
            }
            const double mu = sum / m;

            /* step 2: biased variance from centred values (second pass) */
            double sum_sq = 0.0;
            for (size_t pi = 0; pi < view.pre; pi++) {
                const nnr_real *seg = x + segment_offset(&view, i, pi, g);
                for (size_t k = 0; k < seg_len; k++) {
                    const double centred = seg[k] - mu;
                    sum_sq += centred * centred;
                }
            }
            const double var = sum_sq / m;

            /* step 3: istd = (var + eps)^(-1/2) */
            const double istd = 1.0 / sqrt(var + p->epsilon);
            cache->mean[i * G + g] = (nnr_real)mu;
            cache->istd[i * G + g] = (nnr_real)istd;
            if (cache->var != NULL)
                cache->var[i * G + g] = (nnr_real)var;

            /* step 4: y = gamma_c * (x - mu) * istd + beta_c; (x - mu) first so
             * that a constant group gives exactly beta. */
            for (size_t pi = 0; pi < view.pre; pi++) {
                const size_t off = segment_offset(&view, i, pi, g);
                for (size_t k = 0; k < seg_len; k++) {
                    const size_t c = g * view.cg + k / view.post;
                    const double gc = p->scale ? (double)gamma[c] : 1.0;
                    const double bc = p->center ? (double)beta[c] : 0.0;
                    const double x_hat = (x[off + k] - mu) * istd;
                    y[off + k] = (nnr_real)(gc * x_hat + bc);
                }
            }
        }
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Backward                                                                  */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_groupnorm_bwd)(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                        const nnr_real *x, const nnr_real *gamma, const gn_cache *cache,
                                        const nnr_real *dy, nnr_real *dx, nnr_real *dgamma, nnr_real *dbeta)
{
    gn_view view;
    nnr_status st = NNR_TYPED(nnr_gn_check_bwd)(p, shape, x, gamma, cache, dy, dx, dgamma, dbeta, &view);
    if (st.code != NNR_OK)
        return st;

    const size_t C = view.c, G = view.groups, seg_len = view.cg * view.post;
    const double m = (double)view.m;

    /* dgamma_c = sum dy * x_hat, dbeta_c = sum dy over samples and spatial
     * positions, each in one double sum. Before dx is written: dx may be dy. */
    for (size_t c = 0; c < C; c++) {
        const size_t g = c / view.cg, cc = c % view.cg;
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (size_t i = 0; i < view.n; i++) {
            const double mu = cache->mean[i * G + g];
            const double istd = cache->istd[i * G + g];
            for (size_t pi = 0; pi < view.pre; pi++) {
                const size_t off = segment_offset(&view, i, pi, g) + cc * view.post;
                for (size_t q = 0; q < view.post; q++) {
                    const double x_hat = (x[off + q] - mu) * istd;
                    sum_dy += dy[off + q];
                    sum_dy_xhat += dy[off + q] * x_hat;
                }
            }
        }
        if (p->scale)
            dgamma[c] = (nnr_real)sum_dy_xhat;
        if (p->center)
            dbeta[c] = (nnr_real)sum_dy;
    }

    for (size_t i = 0; i < view.n; i++)
        for (size_t g = 0; g < G; g++) {
            const double mu = cache->mean[i * G + g];
            const double istd = cache->istd[i * G + g];

            /* the group's sum(dx_hat) and sum(dx_hat * x_hat), dx_hat = dy * gamma_c */
            double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
            for (size_t pi = 0; pi < view.pre; pi++) {
                const size_t off = segment_offset(&view, i, pi, g);
                for (size_t k = 0; k < seg_len; k++) {
                    const size_t c = g * view.cg + k / view.post;
                    const double gc = p->scale ? (double)gamma[c] : 1.0;
                    const double x_hat = (x[off + k] - mu) * istd;
                    sum_dxhat += dy[off + k] * gc;
                    sum_dxhat_xhat += dy[off + k] * gc * x_hat;
                }
            }

            /* dx = istd * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) */
            const double mean_dxhat = sum_dxhat / m;
            const double mean_dxhat_xhat = sum_dxhat_xhat / m;
            for (size_t pi = 0; pi < view.pre; pi++) {
                const size_t off = segment_offset(&view, i, pi, g);
                for (size_t k = 0; k < seg_len; k++) {
                    const size_t c = g * view.cg + k / view.post;
                    const double gc = p->scale ? (double)gamma[c] : 1.0;
                    const double x_hat = (x[off + k] - mu) * istd;
                    const double term1 = dy[off + k] * gc;            /* term 1: dx_hat */
                    const double term2 = mean_dxhat;                  /* term 2: through mu */
                    const double term3 = x_hat * mean_dxhat_xhat;     /* term 3: through var */
                    dx[off + k] = (nnr_real)(istd * (term1 - term2 - term3));
                }
            }
        }
    return nnr_ok();
}
