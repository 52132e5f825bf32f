/*
 * BatchNorm, naive reference kernels (Ioffe & Szegedy 2015, arXiv:1502.03167).
 * PyTorch reference: aten/src/ATen/native/Normalization.cpp
 * (batch_norm_cpu_transform_input_template, batch_norm_backward_cpu_template).
 *
 * Written once over nnr_real and built twice: float (nnr_batchnorm_*_naive)
 * and double (nnr_batchnorm_*_naive_f64), see src/core/real.h.
 *
 * Shapes. The input of rank 2..5 is viewed as (N, pre, C, post): C is the
 * channel axis, pre the dimensions between batch and channel, post those after
 * it (channels_last: post = 1; channels_first: pre = 1).
 *   x, y, dy, dx        (N, pre, C, post)
 *   gamma, beta, dgamma, dbeta, running statistics      (C)
 *   cache->mean, cache->istd                            (G, C), G ghost batches
 * Ghost batch j (tf.keras 2 virtual_batch_size) holds samples j, j+G, j+2G, ...
 * Per channel and ghost batch there are m = ghost_size*pre*post values.
 *
 * Sums run in double even in the float build: a float running sum of 10^5
 * activations near 1e4 loses the digits the variance is made of.
 *
 * The backward terms are labelled as in docs/batchnorm-backward.md.
 */
#include "config.h"
#include <math.h>
#include "core/real.h"
#include "batchnorm_internal.h"

typedef NNR_TYPED(nnr_batchnorm_cache) bn_cache;
typedef NNR_TYPED(nnr_batchnorm_state) bn_state;

/* Offset of the first of the `post` contiguous values at (sample i, pre-index p, channel c). */
static size_t row_offset(const bn_view *v, size_t i, size_t p, size_t c)
{
    return ((i * v->pre + p) * v->c + c) * v->post;
}

/* Sample index of the v-th member of ghost batch j. */
static size_t ghost_sample(const bn_view *view, size_t j, size_t v)
{
    return v * view->groups + j;
}

/* ------------------------------------------------------------------------- */
/* Training forward                                                          */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_batchnorm_fwd_train)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                              const nnr_real *x, const nnr_real *gamma, const nnr_real *beta,
                                              nnr_real *y, const bn_cache *cache, bn_state *state)
{
    bn_view view;
    nnr_status st = NNR_TYPED(nnr_bn_check_fwd_train)(p, shape, x, gamma, beta, y, cache, state, &view);
    if (st.code != NNR_OK)
        return st;

    const size_t C = view.c, G = view.groups;
    const double m = (double)view.m;
    double factor = 0.0;   /* weight of the new batch in the running statistics */
    if (state != NULL) {
        state->num_batches_tracked += 1;
        factor = nnr_bn_update_factor(p, state->num_batches_tracked);
    }

    for (size_t c = 0; c < C; c++) {
        const double g = p->scale ? (double)gamma[c] : 1.0;
        const double b = p->center ? (double)beta[c] : 0.0;
        double mean_over_ghosts = 0.0, var_over_ghosts = 0.0;

        for (size_t j = 0; j < G; j++) {
            /* step 1: mean  mu = (1/m) sum_i x_i */
            double sum = 0.0;
            for (size_t v = 0; v < view.ghost_size; v++)
                for (size_t pi = 0; pi < view.pre; pi++) {
                    const nnr_real *row = x + row_offset(&view, ghost_sample(&view, j, v), pi, c);
                    for (size_t q = 0; q < view.post; q++)
                        sum += row[q];
                }
            const double mu = sum / m;

            /* step 2: biased variance  var = (1/m) sum_i (x_i - mu)^2, from centred
             * values (a second pass), never as E[x^2] - E[x]^2 */
            double sum_sq = 0.0;
            for (size_t v = 0; v < view.ghost_size; v++)
                for (size_t pi = 0; pi < view.pre; pi++) {
                    const nnr_real *row = x + row_offset(&view, ghost_sample(&view, j, v), pi, c);
                    for (size_t q = 0; q < view.post; q++) {
                        const double centred = row[q] - mu;
                        sum_sq += centred * centred;
                    }
                }
            const double var = sum_sq / m;

            /* step 3: inverse standard deviation  istd = (var + eps)^(-1/2) */
            const double istd = nnr_bn_batch_istd(var, p->epsilon);
            cache->mean[j * C + c] = (nnr_real)mu;
            cache->istd[j * C + c] = (nnr_real)istd;
            mean_over_ghosts += mu / (double)G;
            var_over_ghosts += var / (double)G;

            /* step 4 (renorm only): r = clip(sigma_B / sigma_r, rmin, rmax),
             * d = clip((mu_B - mu_r) / sigma_r, -dmax, dmax), from the running
             * renorm statistics before this step's update */
            double r = 1.0, d = 0.0;
            if (p->renorm) {
                NNR_TYPED(nnr_bn_renorm_correction)(p, state, c, mu, var, &r, &d);
                cache->r[c] = (nnr_real)r;
                cache->d[c] = (nnr_real)d;
            }

            /* step 5: y = gamma * (r * x_hat + d) + beta with x_hat = (x - mu) * istd.
             * (x - mu) first: a constant channel gives exactly 0 and y == beta, where
             * x*inv + (beta - mu*inv) (Keras, PyTorch#5410) leaves rounding noise. */
            for (size_t v = 0; v < view.ghost_size; v++)
                for (size_t pi = 0; pi < view.pre; pi++) {
                    const size_t off = row_offset(&view, ghost_sample(&view, j, v), pi, c);
                    for (size_t q = 0; q < view.post; q++) {
                        const double x_hat = (x[off + q] - mu) * istd;
                        y[off + q] = (nnr_real)(g * (r * x_hat + d) + b);
                    }
                }
        }

        /* step 6: running statistics  running = (1 - f) * running + f * batch
         * (with renorm, Keras 3's moving stddev and renorm statistics too) */
        if (state != NULL)
            NNR_TYPED(nnr_bn_update_running)(p, state, c, factor, view.m, mean_over_ghosts, var_over_ghosts);
    }
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Inference forward                                                         */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_batchnorm_fwd_infer)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                              const nnr_real *x, const nnr_real *gamma, const nnr_real *beta,
                                              nnr_real *y, const bn_state *state)
{
    bn_view view;
    nnr_status st = NNR_TYPED(nnr_bn_check_fwd_infer)(p, shape, x, gamma, beta, y, state, &view);
    if (st.code != NNR_OK)
        return st;

    for (size_t c = 0; c < view.c; c++) {
        /* y = gamma * (x - running_mean) * (running_var + eps)^(-1/2) + beta */
        const double g = p->scale ? (double)gamma[c] : 1.0;
        const double b = p->center ? (double)beta[c] : 0.0;
        const double mu = state->running_mean[c];
        const double istd = 1.0 / sqrt((double)state->running_var[c] + p->epsilon);
        for (size_t i = 0; i < view.n; i++)
            for (size_t pi = 0; pi < view.pre; pi++) {
                const size_t off = row_offset(&view, i, pi, c);
                for (size_t q = 0; q < view.post; q++)
                    y[off + q] = (nnr_real)(g * (x[off + q] - mu) * istd + b);
            }
    }
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Training backward, closed form                                            */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_batchnorm_bwd_train)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                              const nnr_real *x, const nnr_real *gamma, const bn_cache *cache,
                                              const nnr_real *dy, nnr_real *dx, nnr_real *dgamma,
                                              nnr_real *dbeta)
{
    bn_view view;
    nnr_status st = NNR_TYPED(nnr_bn_check_bwd_train)(p, shape, x, gamma, cache, dy, dx, dgamma, dbeta, &view);
    if (st.code != NNR_OK)
        return st;

    const size_t C = view.c, G = view.groups;
    const double m = (double)view.m;

    for (size_t c = 0; c < C; c++) {
        const double g = p->scale ? (double)gamma[c] : 1.0;
        const double r = p->renorm ? (double)cache->r[c] : 1.0;
        const double d = p->renorm ? (double)cache->d[c] : 0.0;
        double dgamma_c = 0.0, dbeta_c = 0.0;

        for (size_t j = 0; j < G; j++) {
            const double mu = cache->mean[j * C + c];
            const double istd = cache->istd[j * C + c];

            /* first: two reductions, sum(dy) and sum(dy * x_hat) */
            double sum_dy = 0.0, sum_dy_xhat = 0.0;
            for (size_t v = 0; v < view.ghost_size; v++)
                for (size_t pi = 0; pi < view.pre; pi++) {
                    const size_t off = row_offset(&view, ghost_sample(&view, j, v), pi, c);
                    for (size_t q = 0; q < view.post; q++) {
                        const double x_hat = (x[off + q] - mu) * istd;
                        sum_dy += dy[off + q];
                        sum_dy_xhat += dy[off + q] * x_hat;
                    }
                }

            /* dbeta = sum(dy);  dgamma = sum(dy * (r * x_hat + d)) */
            dbeta_c += sum_dy;
            dgamma_c += r * sum_dy_xhat + d * sum_dy;

            /* dx = gamma * r * istd * (dy - mean(dy) - x_hat * mean(dy * x_hat)) */
            const double mean_dy = sum_dy / m;
            const double mean_dy_xhat = sum_dy_xhat / m;
            const double scale = g * r * istd;
            for (size_t v = 0; v < view.ghost_size; v++)
                for (size_t pi = 0; pi < view.pre; pi++) {
                    const size_t off = row_offset(&view, ghost_sample(&view, j, v), pi, c);
                    for (size_t q = 0; q < view.post; q++) {
                        const double x_hat = (x[off + q] - mu) * istd;
                        const double term1 = dy[off + q];              /* term 1: dy */
                        const double term2 = mean_dy;                  /* term 2: through mu */
                        const double term3 = x_hat * mean_dy_xhat;     /* term 3: through var */
                        dx[off + q] = (nnr_real)(scale * (term1 - term2 - term3));
                    }
                }
        }
        if (p->scale)
            dgamma[c] = (nnr_real)dgamma_c;
        if (p->center)
            dbeta[c] = (nnr_real)dbeta_c;
    }
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Training backward, staged (document 002, CS231n): dx_hat, dvar, dmu, dx   */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_batchnorm_bwd_train_staged)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                                     const nnr_real *x, const nnr_real *gamma,
                                                     const bn_cache *cache, const nnr_real *dy, nnr_real *dx,
                                                     nnr_real *dgamma, nnr_real *dbeta)
{
    bn_view view;
    nnr_status st = NNR_TYPED(nnr_bn_check_bwd_train)(p, shape, x, gamma, cache, dy, dx, dgamma, dbeta, &view);
    if (st.code != NNR_OK)
        return st;

    const size_t C = view.c, G = view.groups;
    const double m = (double)view.m;

    for (size_t c = 0; c < C; c++) {
        const double g = p->scale ? (double)gamma[c] : 1.0;
        const double r = p->renorm ? (double)cache->r[c] : 1.0;
        const double d = p->renorm ? (double)cache->d[c] : 0.0;
        double dgamma_c = 0.0, dbeta_c = 0.0;

        for (size_t j = 0; j < G; j++) {
            const double mu = cache->mean[j * C + c];
            const double istd = cache->istd[j * C + c];

            /* stage 1: dvar = sum(dx_hat * (x - mu)) * (-1/2) * istd^3, with
             *          dx_hat = dy * gamma * r;
             * and the parameter gradients dgamma = sum(dy * (r*x_hat + d)), dbeta = sum(dy) */
            double sum_dxhat_xmu = 0.0, sum_dxhat = 0.0, sum_xmu = 0.0;
            for (size_t v = 0; v < view.ghost_size; v++)
                for (size_t pi = 0; pi < view.pre; pi++) {
                    const size_t off = row_offset(&view, ghost_sample(&view, j, v), pi, c);
                    for (size_t q = 0; q < view.post; q++) {
                        const double x_mu = x[off + q] - mu;
                        const double dx_hat = dy[off + q] * g * r;
                        sum_dxhat_xmu += dx_hat * x_mu;
                        sum_dxhat += dx_hat;
                        sum_xmu += x_mu;
                        dbeta_c += dy[off + q];
                        dgamma_c += dy[off + q] * (r * x_mu * istd + d);
                    }
                }
            const double dvar = sum_dxhat_xmu * -0.5 * istd * istd * istd;

            /* stage 2: dmu = sum(dx_hat * -istd) + dvar * mean(-2 (x - mu)) */
            const double dmu = sum_dxhat * -istd + dvar * (-2.0 * sum_xmu / m);

            /* stage 3: dx = dx_hat * istd + dvar * 2 (x - mu) / m + dmu / m */
            for (size_t v = 0; v < view.ghost_size; v++)
                for (size_t pi = 0; pi < view.pre; pi++) {
                    const size_t off = row_offset(&view, ghost_sample(&view, j, v), pi, c);
                    for (size_t q = 0; q < view.post; q++) {
                        const double x_mu = x[off + q] - mu;
                        const double dx_hat = dy[off + q] * g * r;
                        dx[off + q] = (nnr_real)(dx_hat * istd + dvar * 2.0 * x_mu / m + dmu / m);
                    }
                }
        }
        if (p->scale)
            dgamma[c] = (nnr_real)dgamma_c;
        if (p->center)
            dbeta[c] = (nnr_real)dbeta_c;
    }
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Inference backward: running statistics are constants                      */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_batchnorm_bwd_infer)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                              const nnr_real *x, const nnr_real *gamma, const bn_state *state,
                                              const nnr_real *dy, nnr_real *dx, nnr_real *dgamma,
                                              nnr_real *dbeta)
{
    bn_view view;
    nnr_status st = NNR_TYPED(nnr_bn_check_bwd_infer)(p, shape, x, gamma, state, dy, dx, dgamma, dbeta, &view);
    if (st.code != NNR_OK)
        return st;

    for (size_t c = 0; c < view.c; c++) {
        const double g = p->scale ? (double)gamma[c] : 1.0;
        const double mu = state->running_mean[c];
        const double istd = 1.0 / sqrt((double)state->running_var[c] + p->epsilon);
        double dgamma_c = 0.0, dbeta_c = 0.0;
        for (size_t i = 0; i < view.n; i++)
            for (size_t pi = 0; pi < view.pre; pi++) {
                const size_t off = row_offset(&view, i, pi, c);
                for (size_t q = 0; q < view.post; q++) {
                    /* dgamma = sum(dy * (x - mu) * istd);  dbeta = sum(dy) */
                    dgamma_c += dy[off + q] * (x[off + q] - mu) * istd;
                    dbeta_c += dy[off + q];
                    /* dx = dy * gamma * istd */
                    dx[off + q] = (nnr_real)(dy[off + q] * g * istd);
                }
            }
        if (p->scale)
            dgamma[c] = (nnr_real)dgamma_c;
        if (p->center)
            dbeta[c] = (nnr_real)dbeta_c;
    }
    return nnr_ok();
}
