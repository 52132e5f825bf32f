/*
 * Argument checks of the BatchNorm kernels, written once over nnr_real and
 * built for float and double like the naive kernels. Every kernel, naive or
 * AVX2, calls the check of its pass before touching any output.
 */
#include "config.h"
#include "core/check.h"
#include "core/real.h"
#include "batchnorm_internal.h"

typedef NNR_TYPED(nnr_batchnorm_cache) bn_cache;
typedef NNR_TYPED(nnr_batchnorm_state) bn_state;

static nnr_status check_affine(const nnr_batchnorm_params *p, const nnr_real *gamma, const nnr_real *beta)
{
    if (p->scale)
        NNR_TRY(nnr_need(gamma, "gamma (scale is on)"));
    if (p->center)
        NNR_TRY(nnr_need(beta, "beta (center is on)"));
    return nnr_ok();
}

/* Ghost batches only change a training pass's statistics: at inference every
 * sample is normalized with the running statistics, whatever N (tf.keras 2
 * reshapes to [-1, 1] when not training), so virtual_batch_size need not
 * divide N there. */
static nnr_status infer_view_make(const nnr_batchnorm_params *p, const nnr_shape *shape, bn_view *view)
{
    nnr_batchnorm_params whole_batch = *p;
    whole_batch.virtual_batch_size = 0;
    return nnr_bn_view_make(&whole_batch, shape, view);
}

static nnr_status check_running(const bn_state *state)
{
    NNR_TRY(nnr_need(state, "state"));
    NNR_TRY(nnr_need(state->running_mean, "state->running_mean"));
    NNR_TRY(nnr_need(state->running_var, "state->running_var"));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_bn_check_fwd_train)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                             const nnr_real *x, const nnr_real *gamma, const nnr_real *beta,
                                             const nnr_real *y, const bn_cache *cache, const bn_state *state,
                                             bn_view *view)
{
    NNR_TRY(nnr_bn_view_make(p, shape, view));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(y, "y"));
    NNR_TRY(check_affine(p, gamma, beta));
    NNR_TRY(nnr_need(cache, "cache"));
    NNR_TRY(nnr_need(cache->mean, "cache->mean"));
    NNR_TRY(nnr_need(cache->istd, "cache->istd"));
    if (state != NULL)
        NNR_TRY(check_running(state));
    if (p->renorm) {
        NNR_TRY(nnr_need(cache->r, "cache->r (renorm is on)"));
        NNR_TRY(nnr_need(cache->d, "cache->d (renorm is on)"));
        NNR_TRY(nnr_need(state, "state (renorm needs its running renorm statistics)"));
        NNR_TRY(nnr_need(state->moving_stddev, "state->moving_stddev (renorm is on)"));
        NNR_TRY(nnr_need(state->renorm_mean, "state->renorm_mean (renorm is on)"));
        NNR_TRY(nnr_need(state->renorm_stddev, "state->renorm_stddev (renorm is on)"));
    }
    if (p->error_on_single_value && view->m == 1)
        return nnr_error(NNR_ERR_SHAPE,
                         "x has one value per channel (N*spatial = 1); expected more than 1 value per channel "
                         "when training, as PyTorch requires (set error_on_single_value = 0 for Keras behaviour)");
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_bn_check_fwd_infer)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                             const nnr_real *x, const nnr_real *gamma, const nnr_real *beta,
                                             const nnr_real *y, const bn_state *state, bn_view *view)
{
    NNR_TRY(infer_view_make(p, shape, view));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(y, "y"));
    NNR_TRY(check_affine(p, gamma, beta));
    NNR_TRY(check_running(state));
    return nnr_ok();
}

static nnr_status check_grads(const nnr_batchnorm_params *p, const nnr_real *x, const nnr_real *gamma,
                              const nnr_real *dy, const nnr_real *dx, const nnr_real *dgamma,
                              const nnr_real *dbeta)
{
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(dy, "dy"));
    NNR_TRY(nnr_need(dx, "dx"));
    if (p->scale) {
        NNR_TRY(nnr_need(gamma, "gamma (scale is on)"));
        NNR_TRY(nnr_need(dgamma, "dgamma (scale is on)"));
    }
    if (p->center)
        NNR_TRY(nnr_need(dbeta, "dbeta (center is on)"));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_bn_check_bwd_train)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                             const nnr_real *x, const nnr_real *gamma, const bn_cache *cache,
                                             const nnr_real *dy, const nnr_real *dx, const nnr_real *dgamma,
                                             const nnr_real *dbeta, bn_view *view)
{
    NNR_TRY(nnr_bn_view_make(p, shape, view));
    NNR_TRY(check_grads(p, x, gamma, dy, dx, dgamma, dbeta));
    NNR_TRY(nnr_need(cache, "cache"));
    NNR_TRY(nnr_need(cache->mean, "cache->mean"));
    NNR_TRY(nnr_need(cache->istd, "cache->istd"));
    if (p->renorm) {
        NNR_TRY(nnr_need(cache->r, "cache->r (renorm is on)"));
        NNR_TRY(nnr_need(cache->d, "cache->d (renorm is on)"));
    }
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_bn_check_bwd_infer)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                             const nnr_real *x, const nnr_real *gamma, const bn_state *state,
                                             const nnr_real *dy, const nnr_real *dx, const nnr_real *dgamma,
                                             const nnr_real *dbeta, bn_view *view)
{
    NNR_TRY(infer_view_make(p, shape, view));
    NNR_TRY(check_grads(p, x, gamma, dy, dx, dgamma, dbeta));
    NNR_TRY(check_running(state));
    return nnr_ok();
}
