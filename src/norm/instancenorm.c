/*
 * InstanceNorm as GroupNorm with one group per channel (Keras/TFA
 * InstanceNormalization is GroupNormalization(groups=-1)), plus PyTorch's
 * running statistics (aten/src/ATen/native/Normalization.cpp, instance_norm:
 * batch_norm on the (1, N*C, *) view, whose N copies of the running
 * statistics are then averaged over the batch). No normalization arithmetic
 * lives here: training calls the GroupNorm kernels, inference the BatchNorm
 * inference kernels (per-channel constants are exactly BatchNorm's).
 *
 * Built twice like the naive kernels (src/core/real.h). The float build also
 * defines the dispatching entry points, which call the dispatched kernels.
 */
#include "config.h"
#include "core/real.h"
#include "groupnorm_internal.h"
#include "nnref/batchnorm.h"

typedef NNR_TYPED(nnr_groupnorm_cache) gn_cache;
typedef NNR_TYPED(nnr_instancenorm_state) in_state;
typedef NNR_TYPED(nnr_batchnorm_state) bn_state;

typedef nnr_status (*gn_fwd_real_fn)(const nnr_groupnorm_params *, const nnr_shape *, const nnr_real *,
                                     const nnr_real *, const nnr_real *, nnr_real *, const gn_cache *);
typedef nnr_status (*gn_bwd_real_fn)(const nnr_groupnorm_params *, const nnr_shape *, const nnr_real *,
                                     const nnr_real *, const gn_cache *, const nnr_real *, nnr_real *, nnr_real *,
                                     nnr_real *);
typedef nnr_status (*bn_infer_real_fn)(const nnr_batchnorm_params *, const nnr_shape *, const nnr_real *,
                                       const nnr_real *, const nnr_real *, nnr_real *, const bn_state *);

/* The checks InstanceNorm adds to GroupNorm's, before anything is written. */
static nnr_status check_train(const nnr_instancenorm_params *p, const nnr_shape *shape, const gn_cache *cache,
                              const in_state *state, gn_view *view)
{
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    const nnr_groupnorm_params gp = nnr_instancenorm_as_groupnorm(p);
    nnr_status st = nnr_gn_view_make(&gp, shape, view);
    if (st.code != NNR_OK)
        return st;
    if (p->error_on_single_spatial && view->pre * view->post == 1)
        return nnr_error(NNR_ERR_SHAPE,
                         "x has one spatial element per instance (N=%zu, C=%zu); expected more than 1 spatial "
                         "element when training, as PyTorch requires (set error_on_single_spatial = 0 for Keras "
                         "behaviour)", view->n, view->c);
    if (state != NULL) {
        if (!(p->momentum >= 0.0 && p->momentum <= 1.0))
            return nnr_error(NNR_ERR_PARAM, "momentum must be in [0, 1], got %g", p->momentum);
        if (state->running_mean == NULL)
            return nnr_error(NNR_ERR_NULL, "state->running_mean is NULL");
        if (state->running_var == NULL)
            return nnr_error(NNR_ERR_NULL, "state->running_var is NULL");
        if (cache != NULL && cache->var == NULL)
            return nnr_error(NNR_ERR_NULL, "cache->var is NULL (the running variance is updated from it)");
    }
    return nnr_ok();
}

/* running = (1 - f) * running + f * (batch mean of the per-instance mean and
 * unbiased variance). One spatial value (allowed with the Keras preset) has
 * no unbiased variance: the biased one, 0, is used. */
static void update_running(const nnr_instancenorm_params *p, const gn_view *view, const gn_cache *cache,
                           in_state *state)
{
    const size_t N = view->n, C = view->c, m = view->pre * view->post;
    const double bessel = m > 1 ? (double)m / (double)(m - 1) : 1.0;
    const double f = p->momentum;
    for (size_t c = 0; c < C; c++) {
        double mean_sum = 0.0, var_sum = 0.0;
        for (size_t i = 0; i < N; i++) {
            mean_sum += cache->mean[i * C + c];
            var_sum += cache->var[i * C + c] * bessel;
        }
        state->running_mean[c] = (nnr_real)((1.0 - f) * state->running_mean[c] + f * mean_sum / (double)N);
        state->running_var[c] = (nnr_real)((1.0 - f) * state->running_var[c] + f * var_sum / (double)N);
    }
    state->num_batches_tracked += 1;
}

static nnr_status fwd_train(gn_fwd_real_fn kernel, const nnr_instancenorm_params *p, const nnr_shape *shape,
                            const nnr_real *x, const nnr_real *gamma, const nnr_real *beta, nnr_real *y,
                            const gn_cache *cache, in_state *state)
{
    gn_view view;
    nnr_status st = check_train(p, shape, cache, state, &view);
    if (st.code != NNR_OK)
        return st;
    const nnr_groupnorm_params gp = nnr_instancenorm_as_groupnorm(p);
    st = kernel(&gp, shape, x, gamma, beta, y, cache);
    if (st.code == NNR_OK && state != NULL)
        update_running(p, &view, cache, state);
    return st;
}

static nnr_status fwd_infer(bn_infer_real_fn kernel, const nnr_instancenorm_params *p, const nnr_shape *shape,
                            const nnr_real *x, const nnr_real *gamma, const nnr_real *beta, nnr_real *y,
                            const in_state *state)
{
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    gn_view view;
    const nnr_groupnorm_params gp = nnr_instancenorm_as_groupnorm(p);
    nnr_status st = nnr_gn_view_make(&gp, shape, &view);
    if (st.code != NNR_OK)
        return st;
    if (state == NULL)
        return nnr_error(NNR_ERR_NULL, "state is NULL (inference reads the running statistics)");
    nnr_batchnorm_params bp = nnr_batchnorm_torch();
    bp.axis = p->axis;
    bp.epsilon = p->epsilon;
    bp.center = p->center;
    bp.scale = p->scale;
    bn_state bs = {state->running_mean, state->running_var, NULL, NULL, NULL, state->num_batches_tracked};
    return kernel(&bp, shape, x, gamma, beta, y, &bs);
}

static nnr_status bwd_train(gn_bwd_real_fn kernel, const nnr_instancenorm_params *p, const nnr_shape *shape,
                            const nnr_real *x, const nnr_real *gamma, const gn_cache *cache, const nnr_real *dy,
                            nnr_real *dx, nnr_real *dgamma, nnr_real *dbeta)
{
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    const nnr_groupnorm_params gp = nnr_instancenorm_as_groupnorm(p);
    return kernel(&gp, shape, x, gamma, cache, dy, dx, dgamma, dbeta);
}

/* ---- Entry points --------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_instancenorm_fwd_train)(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                                 const nnr_real *x, const nnr_real *gamma, const nnr_real *beta,
                                                 nnr_real *y, const gn_cache *cache, in_state *state)
{
    return fwd_train(NNR_NAIVE(nnr_groupnorm_fwd), p, shape, x, gamma, beta, y, cache, state);
}

#ifdef NNR_REAL_DOUBLE
nnr_status nnr_instancenorm_fwd_infer_naive_f64(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                                const double *x, const double *gamma, const double *beta,
                                                double *y, const nnr_instancenorm_state_f64 *state)
{
    return fwd_infer(nnr_batchnorm_fwd_infer_naive_f64, p, shape, x, gamma, beta, y, state);
}

nnr_status nnr_instancenorm_bwd_train_naive_f64(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                                const double *x, const double *gamma,
                                                const nnr_groupnorm_cache_f64 *cache, const double *dy,
                                                double *dx, double *dgamma, double *dbeta)
{
    return bwd_train(nnr_groupnorm_bwd_naive_f64, p, shape, x, gamma, cache, dy, dx, dgamma, dbeta);
}
#else
nnr_status nnr_instancenorm_fwd_train(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                      const float *x, const float *gamma, const float *beta, float *y,
                                      const nnr_groupnorm_cache *cache, nnr_instancenorm_state *state)
{
    return fwd_train(nnr_groupnorm_fwd, p, shape, x, gamma, beta, y, cache, state);
}

nnr_status nnr_instancenorm_fwd_infer(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                      const float *x, const float *gamma, const float *beta, float *y,
                                      const nnr_instancenorm_state *state)
{
    return fwd_infer(nnr_batchnorm_fwd_infer, p, shape, x, gamma, beta, y, state);
}

nnr_status nnr_instancenorm_bwd_train(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                      const float *x, const float *gamma, const nnr_groupnorm_cache *cache,
                                      const float *dy, float *dx, float *dgamma, float *dbeta)
{
    return bwd_train(nnr_groupnorm_bwd, p, shape, x, gamma, cache, dy, dx, dgamma, dbeta);
}
#endif
