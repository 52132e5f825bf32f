/*
 * BatchNorm pieces that do not depend on the implementation: framework
 * presets, the (N, pre, C, post) view with its parameter checks, the running-
 * statistics schedule, and the dispatching entry points.
 */
#include "config.h"
#include <math.h>
#include "nnref/batchnorm.h"
#include "axis_view.h"
#include "batchnorm_internal.h"
#include "core/dispatch.h"

/* ---- Presets (SEMANTICS.md §2) ------------------------------------------ */

nnr_batchnorm_params nnr_batchnorm_keras(void)
{
    nnr_batchnorm_params p;
    p.axis = -1;
    p.epsilon = 1e-3;
    p.momentum = 0.99;
    p.update = NNR_BN_UPDATE_EMA;
    p.init_factor = 1.0;
    p.min_factor = 0.1;
    p.running_var_unbiased = 0;
    p.center = 1;
    p.scale = 1;
    p.error_on_single_value = 0;
    p.virtual_batch_size = 0;
    p.renorm = 0;
    p.renorm_momentum = 0.99;
    p.rmax = INFINITY;
    p.rmin = 0.0;
    p.dmax = INFINITY;
    return p;
}

nnr_batchnorm_params nnr_batchnorm_tf2(size_t rank)
{
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    /* fused=None picks the fused kernel for 4-D and 5-D inputs; its batch
     * variance output is Bessel-corrected and tf.keras 2 keeps it for the
     * moving variance. The fused wrapper clamps epsilon to >= 1.001e-5, which
     * leaves the default 1e-3 unchanged. */
    p.running_var_unbiased = (rank == 4 || rank == 5);
    return p;
}

nnr_batchnorm_params nnr_batchnorm_torch(void)
{
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.axis = 1;
    p.epsilon = 1e-5;
    p.momentum = nnr_batchnorm_momentum_from_torch(0.1);
    p.running_var_unbiased = 1;
    p.error_on_single_value = 1;
    return p;
}

nnr_batchnorm_params nnr_batchnorm_puzzlelib(void)
{
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.axis = 1;
    p.epsilon = 1e-5;
    p.update = NNR_BN_UPDATE_PUZZLE;
    p.init_factor = 1.0;
    p.min_factor = 0.1;
    p.running_var_unbiased = 1;   /* cuDNN's running variance is unbiased */
    return p;
}

double nnr_batchnorm_momentum_from_torch(double torch_momentum)
{
    return 1.0 - torch_momentum;
}

/* ---- Schedule of the running statistics ---------------------------------- */

double nnr_bn_update_factor(const nnr_batchnorm_params *p, uint64_t step)
{
    switch (p->update) {
    case NNR_BN_UPDATE_CUMULATIVE:
        return 1.0 / (double)step;
    case NNR_BN_UPDATE_PUZZLE: {
        /* PuzzleLib: factor = max(initFactor / numOfProps, minFactor), passed
         * to cuDNN as exponentialAverageFactor, the weight of the NEW batch. */
        double f = p->init_factor / (double)step;
        return f > p->min_factor ? f : p->min_factor;
    }
    case NNR_BN_UPDATE_EMA:
    default:
        return 1.0 - p->momentum;
    }
}

/* Step 3: istd = (var + eps)^(-1/2) of the batch statistics. As PyTorch's
 * InvStd (aten/src/ATen/native/Normalization.cpp), 0 when var == 0 and
 * eps == 0: a constant channel then gives x_hat = 0 and y == beta instead of
 * 0 * inf = NaN. (The running statistics in inference are not guarded, as in
 * PyTorch's eval path.) */
double nnr_bn_batch_istd(double var, double epsilon)
{
    if (var == 0.0 && epsilon == 0.0)
        return 0.0;
    return 1.0 / sqrt(var + epsilon);
}

/* ---- View and parameter checks -------------------------------------------- */

static int in_unit_interval(double v)
{
    return v >= 0.0 && v <= 1.0;   /* false for NaN */
}

nnr_status nnr_bn_view_make(const nnr_batchnorm_params *p, const nnr_shape *shape, bn_view *view)
{
    nnr_axis_view av;

    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    nnr_status st = nnr_axis_view_make("BatchNorm", p->axis, shape, &av);
    if (st.code != NNR_OK)
        return st;

    if (!(p->epsilon >= 0.0) || isinf(p->epsilon))
        return nnr_error(NNR_ERR_PARAM, "epsilon must be finite, >= 0 and not NaN, got %g", p->epsilon);
    if (!in_unit_interval(p->momentum))
        return nnr_error(NNR_ERR_PARAM, "momentum must be in [0, 1], got %g", p->momentum);
    if (p->update != NNR_BN_UPDATE_EMA && p->update != NNR_BN_UPDATE_CUMULATIVE &&
        p->update != NNR_BN_UPDATE_PUZZLE)
        return nnr_error(NNR_ERR_PARAM, "update must be NNR_BN_UPDATE_EMA, _CUMULATIVE or _PUZZLE, got %d",
                         (int)p->update);
    if (p->update == NNR_BN_UPDATE_PUZZLE) {
        if (!(p->init_factor > 0.0 && p->init_factor <= 1.0))
            return nnr_error(NNR_ERR_PARAM, "init_factor must be in (0, 1], got %g", p->init_factor);
        if (!in_unit_interval(p->min_factor))
            return nnr_error(NNR_ERR_PARAM, "min_factor must be in [0, 1], got %g", p->min_factor);
    }
    if (p->renorm) {
        if (!in_unit_interval(p->renorm_momentum))
            return nnr_error(NNR_ERR_PARAM, "renorm_momentum must be in [0, 1], got %g", p->renorm_momentum);
        if (isnan(p->rmin) || isnan(p->rmax))
            return nnr_error(NNR_ERR_PARAM, "rmin and rmax must not be NaN, got rmin %g, rmax %g",
                             p->rmin, p->rmax);
        if (p->rmax < p->rmin)
            return nnr_error(NNR_ERR_PARAM, "rmax (%g) must be >= rmin (%g)", p->rmax, p->rmin);
        if (!(p->dmax >= 0.0))
            return nnr_error(NNR_ERR_PARAM, "dmax must be >= 0, got %g", p->dmax);
        if (p->virtual_batch_size != 0)
            return nnr_error(NNR_ERR_UNSUPPORTED,
                             "renorm together with virtual_batch_size is not supported; use one or the other");
    }

    view->n = av.n;
    view->c = av.c;
    view->pre = av.pre;
    view->post = av.post;
    view->count = av.count;

    if (p->virtual_batch_size != 0) {
        if (view->n % p->virtual_batch_size != 0)
            return nnr_error(NNR_ERR_PARAM,
                             "virtual_batch_size %zu does not divide the batch size N = %zu",
                             p->virtual_batch_size, view->n);
        view->ghost_size = p->virtual_batch_size;
        view->groups = view->n / p->virtual_batch_size;
    } else {
        view->ghost_size = view->n;
        view->groups = 1;
    }
    view->m = view->ghost_size * view->pre * view->post;
    return nnr_ok();
}

/* ---- Public helpers -------------------------------------------------------- */

nnr_status nnr_batchnorm_sizes(const nnr_batchnorm_params *p, const nnr_shape *shape,
                               size_t *channels, size_t *cache_len)
{
    bn_view view;
    nnr_status st = nnr_bn_view_make(p, shape, &view);
    if (st.code != NNR_OK)
        return st;
    if (channels != NULL)
        *channels = view.c;
    if (cache_len != NULL)
        *cache_len = view.groups * view.c;   /* <= count: cannot overflow */
    return nnr_ok();
}

nnr_status nnr_batchnorm_state_init(nnr_batchnorm_state *state, size_t channels)
{
    if (state == NULL)
        return nnr_error(NNR_ERR_NULL, "state is NULL");
    for (size_t c = 0; c < channels; c++) {
        if (state->running_mean) state->running_mean[c] = 0.0f;
        if (state->running_var) state->running_var[c] = 1.0f;
        if (state->moving_stddev) state->moving_stddev[c] = 1.0f;
        if (state->renorm_mean) state->renorm_mean[c] = 0.0f;
        if (state->renorm_stddev) state->renorm_stddev[c] = 1.0f;
    }
    state->num_batches_tracked = 0;
    return nnr_ok();
}

nnr_status nnr_batchnorm_state_init_f64(nnr_batchnorm_state_f64 *state, size_t channels)
{
    if (state == NULL)
        return nnr_error(NNR_ERR_NULL, "state is NULL");
    for (size_t c = 0; c < channels; c++) {
        if (state->running_mean) state->running_mean[c] = 0.0;
        if (state->running_var) state->running_var[c] = 1.0;
        if (state->moving_stddev) state->moving_stddev[c] = 1.0;
        if (state->renorm_mean) state->renorm_mean[c] = 0.0;
        if (state->renorm_stddev) state->renorm_stddev[c] = 1.0;
    }
    state->num_batches_tracked = 0;
    return nnr_ok();
}

/* ---- Dispatching entry points --------------------------------------------- */

nnr_status nnr_batchnorm_fwd_train(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                   const float *x, const float *gamma, const float *beta,
                                   float *y, const nnr_batchnorm_cache *cache,
                                   nnr_batchnorm_state *state)
{
    return nnr_kernels()->batchnorm_fwd_train(p, shape, x, gamma, beta, y, cache, state);
}

nnr_status nnr_batchnorm_fwd_infer(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                   const float *x, const float *gamma, const float *beta,
                                   float *y, const nnr_batchnorm_state *state)
{
    return nnr_kernels()->batchnorm_fwd_infer(p, shape, x, gamma, beta, y, state);
}

nnr_status nnr_batchnorm_bwd_train(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                   const float *x, const float *gamma,
                                   const nnr_batchnorm_cache *cache, const float *dy,
                                   float *dx, float *dgamma, float *dbeta)
{
    return nnr_kernels()->batchnorm_bwd_train(p, shape, x, gamma, cache, dy, dx, dgamma, dbeta);
}

nnr_status nnr_batchnorm_bwd_infer(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                   const float *x, const float *gamma,
                                   const nnr_batchnorm_state *state, const float *dy,
                                   float *dx, float *dgamma, float *dbeta)
{
    return nnr_kernels()->batchnorm_bwd_infer(p, shape, x, gamma, state, dy, dx, dgamma, dbeta);
}
