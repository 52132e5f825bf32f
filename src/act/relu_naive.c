/*
 * ReLU, naive reference kernels. PyTorch reference: clamp_min / threshold_backward
 * (aten/src/ATen/native/cpu/Activation.cpp); TensorFlow: Relu / ReluGrad.
 *
 * Written once over nnr_real and built twice: float (nnr_relu_*_naive) and
 * double (nnr_relu_*_naive_f64), see src/core/real.h.
 *
 * Shapes (elementwise; any rank): x, y, dy, dx all `count` elements.
 */
#include "config.h"
#include "core/real.h"
#include "act_internal.h"

nnr_status NNR_NAIVE(nnr_relu_fwd)(const nnr_shape *shape, const nnr_real *x, nnr_real *y)
{
    act_view v;
    const void *ptrs[] = {x, y};
    const char *const names[] = {"x", "y"};
    nnr_status st = nnr_act_check(shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;

    /* y = max(x, 0), written so that NaN stays NaN and -0 stays -0 */
    for (size_t i = 0; i < v.count; i++)
        y[i] = x[i] < 0 ? 0 : x[i];
    return nnr_ok();
}

nnr_status NNR_NAIVE(nnr_relu_bwd)(const nnr_shape *shape, const nnr_real *y, const nnr_real *dy, nnr_real *dx)
{
    act_view v;
    const void *ptrs[] = {y, dy, dx};
    const char *const names[] = {"y", "dy", "dx"};
    nnr_status st = nnr_act_check(shape, ptrs, names, 3, &v);
    if (st.code != NNR_OK)
        return st;

    /* dx = dy * dy/dx, dy/dx = 1 where y > 0 (exactly where x > 0), else 0:
     * the kink x = 0 gets 0, as Keras and PyTorch */
    for (size_t i = 0; i < v.count; i++)
        dx[i] = y[i] > 0 ? dy[i] : 0;
    return nnr_ok();
}
