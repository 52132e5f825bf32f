/*
 * Dense as a model layer.
 *
 * Dense: tensors "kernel" (nnr_dense_weight_shape: Keras (in, units) or
 * PyTorch (units, in)), Glorot-uniform with fan_in = in, fan_out = units
 * (Keras' default in both layouts; PyTorch's own is kaiming_uniform), and
 * "bias" (units) zeros when p->use_bias. Applied on the last axis, as Keras
 * Dense and PyTorch Linear are. Scratch space from the model's workspace.
 *
 * Built twice (model_internal.h): the float build calls the dispatching
 * kernels, the double build the _naive_f64 kernels.
 */
#include "config.h"
#include "core/real.h"
#include "nnref/dense.h"
#include "model_internal.h"

/* The workspace query of the kernel this build calls (the naive query
 * answers for the double build: the same loops). */
#ifdef NNR_REAL_DOUBLE
#define dense_workspace_query nnr_dense_workspace_size_naive
#else
#define dense_workspace_query nnr_dense_workspace_size
#endif

static nnr_status dense_setup(nnr_layer *l, const nnr_shape *in)
{
    const nnr_dense_params *p = l->config;
    nnr_shape w;
    size_t floats = 0;
    nnr_status st = nnr_dense_output_shape(p, in, &l->out_shape);
    if (st.code == NNR_OK)
        st = nnr_dense_weight_shape(p, &w);
    if (st.code == NNR_OK)
        st = dense_workspace_query(p, in, &floats);
    if (st.code != NNR_OK)
        return st;
    nnr_model_layer_weights(l, &w, p->in_features, p->units, p->use_bias, p->units);
    if (!nnr_size_mul(floats, sizeof(nnr_real), &l->work_bytes))
        return nnr_error(NNR_ERR_OVERFLOW, "the dense workspace of %zu values does not fit in size_t", floats);
    return nnr_ok();
}

static nnr_status dense_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    (void)training;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_dense_fwd)(l->config, &shape, x, nnr_model_find_tensor(l, "kernel", 0),
                                           nnr_model_find_tensor(l, "bias", 0), y, l->work,
                                           l->work_bytes / sizeof(nnr_real));
}

static nnr_status dense_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)y;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_dense_bwd)(l->config, &shape, x, nnr_model_find_tensor(l, "kernel", 0), dy, dx,
                                           nnr_model_find_tensor(l, "kernel", 1),
                                           nnr_model_find_tensor(l, "bias", 1), l->work,
                                           l->work_bytes / sizeof(nnr_real));
}

const nnr_layer_ops NNR_MODEL_OPS(dense) = {"dense", dense_setup, dense_forward, dense_backward};
