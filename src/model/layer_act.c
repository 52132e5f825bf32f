/*
 * ReLU as a model layer: no tensors, no cache; backward reads the forward's
 * output (include/nnref/activation.h: dx = (y > 0) ? dy : 0).
 *
 * Built twice (model_internal.h): the float build calls the dispatching
 * kernels, the double build the _naive_f64 kernels.
 */
#include "config.h"
#include "core/real.h"
#include "nnref/activation.h"
#include "model_internal.h"

static nnr_status relu_setup(nnr_layer *l, const nnr_shape *in)
{
    l->out_shape = *in;
    return nnr_ok();
}

static nnr_status relu_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    (void)training;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_relu_fwd)(&shape, x, y);
}

static nnr_status relu_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)x;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_relu_bwd)(&shape, y, dy, dx);
}

const nnr_layer_ops NNR_MODEL_OPS(relu) = {"relu", relu_setup, relu_forward, relu_backward};
