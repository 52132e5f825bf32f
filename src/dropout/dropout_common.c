/*
 * Dropout pieces that do not depend on the implementation: the framework
 * presets (SEMANTICS.md §5), the mask size, and the dispatching entry points.
 */
#include "config.h"
#include "core/check.h"
#include "core/dispatch.h"
#include "dropout_internal.h"

nnr_dropout_params nnr_dropout_keras(double rate)
{
    nnr_dropout_params p;
    p.rate = rate;
    p.inverted = 1;
    p.rate1 = NNR_DROPOUT_ZERO;
    p.seed = 0;
    p.offset = 0;
    p.noise_shape.rank = 0;   /* noise_shape=None */
    for (size_t d = 0; d < NNR_MAX_RANK; d++)
        p.noise_shape.dims[d] = 0;
    return p;
}

nnr_dropout_params nnr_dropout_torch(double p)
{
    nnr_dropout_params q = nnr_dropout_keras(p);
    q.rate1 = NNR_DROPOUT_MULTIPLY;
    return q;
}

nnr_status nnr_dropout_mask_count(const nnr_dropout_params *p, const nnr_shape *shape, size_t *count)
{
    dropout_view v;
    NNR_TRY(nnr_dropout_view_make(p, shape, &v));
    NNR_TRY(nnr_need(count, "count"));
    *count = v.noise_count;
    return nnr_ok();
}

/* ---- Dispatching entry points ------------------------------------------- */

nnr_status nnr_dropout_fwd_train(const nnr_dropout_params *p, const nnr_shape *shape, const float *x, float *y,
                                 uint8_t *mask)
{
    return nnr_kernels()->dropout_fwd_train(p, shape, x, y, mask);
}

nnr_status nnr_dropout_fwd_infer(const nnr_dropout_params *p, const nnr_shape *shape, const float *x, float *y)
{
    return nnr_kernels()->dropout_fwd_infer(p, shape, x, y);
}

nnr_status nnr_dropout_bwd(const nnr_dropout_params *p, const nnr_shape *shape, const float *dy,
                           const uint8_t *mask, float *dx)
{
    return nnr_kernels()->dropout_bwd(p, shape, dy, mask, dx);
}
