/* The dispatching entry points of the activation and loss kernels. */
#include "config.h"
#include "core/dispatch.h"
#include "act_internal.h"

nnr_status nnr_relu_fwd(const nnr_shape *shape, const float *x, float *y)
{
    return nnr_kernels()->relu_fwd(shape, x, y);
}

nnr_status nnr_relu_bwd(const nnr_shape *shape, const float *y, const float *dy, float *dx)
{
    return nnr_kernels()->relu_bwd(shape, y, dy, dx);
}

nnr_status nnr_softmax_fwd(const nnr_shape *shape, const float *x, float *y)
{
    return nnr_kernels()->softmax_fwd(shape, x, y);
}

nnr_status nnr_softmax_bwd(const nnr_shape *shape, const float *y, const float *dy, float *dx)
{
    return nnr_kernels()->softmax_bwd(shape, y, dy, dx);
}

nnr_status nnr_softmax_xent(const nnr_shape *shape, const float *logits, const int32_t *labels, float *loss,
                            float *dlogits)
{
    return nnr_kernels()->softmax_xent(shape, logits, labels, loss, dlogits);
}
