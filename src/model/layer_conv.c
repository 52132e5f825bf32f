/*
 * Convolution (Conv1D, Conv2D) and Dropout as model layers.
 *
 * Conv: tensors "kernel" (nnr_conv_weight_shape: Keras (k_h, k_w, C_in,
 * C_out) or PyTorch (C_out, C_in, k_h, k_w)), Glorot-uniform with Keras'
 * fans (receptive field times C_in, receptive field times C_out), and
 * "bias" (C_out) zeros when p->use_bias. Keras' initialisation is used in
 * both weight layouts (PyTorch's own default is kaiming_uniform(a=sqrt(5))).
 * The kernels' scratch space comes from the model's shared workspace, sized
 * by the workspace query for the largest batch.
 *
 * Dropout: no tensors; the forward's mask (one byte per noise element) is
 * the cache. Every layer draws from its own key (the params' seed mixed
 * with the layer's key from the model's seed) and every training step from
 * a fresh stretch of the counter: offset = params offset + step · mask
 * count, so masks differ between steps and are the same for the forward and
 * backward of one step, and for every forward of a gradient check.
 *
 * Built twice (model_internal.h): the float build calls the dispatching
 * kernels, the double build the _naive_f64 kernels.
 */
#include "config.h"
#include <string.h>
#include "core/real.h"
#include "nnref/conv.h"
#include "nnref/dropout.h"
#include "model_internal.h"

/* The workspace query of the kernel this build calls (the naive kernels'
 * query answers for the double build too: the same loop nest). */
#ifdef NNR_REAL_DOUBLE
#define conv_workspace_query nnr_conv_workspace_size_naive
#else
#define conv_workspace_query nnr_conv_workspace_size
#endif

/* ---- Convolution ------------------------------------------------------------------ */

static nnr_status conv_setup(nnr_layer *l, const nnr_shape *in)
{
    const nnr_conv_params *p = l->config;
    nnr_shape w;
    size_t floats = 0;
    nnr_status st = nnr_conv_output_shape(p, in, &l->out_shape);
    if (st.code == NNR_OK)
        st = nnr_conv_weight_shape(p, &w);
    if (st.code == NNR_OK)
        st = conv_workspace_query(p, in, &floats);
    if (st.code != NNR_OK)
        return st;
    size_t field = 1;
    for (int i = 0; i < p->dims; i++)
        field *= (size_t)p->kernel[i];
    nnr_model_layer_weights(l, &w, field * (size_t)p->in_channels, field * (size_t)p->filters, p->use_bias,
                            (size_t)p->filters);
    if (!nnr_size_mul(floats, sizeof(nnr_real), &l->work_bytes))
        return nnr_error(NNR_ERR_OVERFLOW, "the convolution workspace of %zu values does not fit in size_t", floats);
    return nnr_ok();
}

static nnr_status conv_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    (void)training;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_conv_fwd)(l->config, &shape, x, nnr_model_find_tensor(l, "kernel", 0),
                                          nnr_model_find_tensor(l, "bias", 0), y, l->work,
                                          l->work_bytes / sizeof(nnr_real));
}

static nnr_status conv_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)y;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_conv_bwd)(l->config, &shape, x, nnr_model_find_tensor(l, "kernel", 0), dy, dx,
                                          nnr_model_find_tensor(l, "kernel", 1), nnr_model_find_tensor(l, "bias", 1),
                                          l->work, l->work_bytes / sizeof(nnr_real));
}

const nnr_layer_ops NNR_MODEL_OPS(conv) = {"conv", conv_setup, conv_forward, conv_backward};

/* ---- Dropout -------------------------------------------------------------------------- */

static nnr_status dropout_setup(nnr_layer *l, const nnr_shape *in)
{
    l->out_shape = *in;
    return nnr_dropout_mask_count(l->config, in, &l->cache_bytes);
}

/* The parameters of this step's mask (see the top of the file). */
static nnr_status step_params(nnr_layer *l, const nnr_shape *shape, nnr_dropout_params *p)
{
    *p = *(const nnr_dropout_params *)l->config;
    size_t count = 0;
    nnr_status st = nnr_dropout_mask_count(p, shape, &count);
    if (st.code != NNR_OK)
        return st;
    p->seed ^= l->seed;
    p->offset += l->step * (uint64_t)count;
    return nnr_ok();
}

static nnr_status dropout_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    nnr_dropout_params p;
    nnr_status st = step_params(l, &shape, &p);
    if (st.code != NNR_OK)
        return st;
    if (!training)
        return NNR_MODEL_KERNEL(nnr_dropout_fwd_infer)(&p, &shape, x, y);
    return NNR_MODEL_KERNEL(nnr_dropout_fwd_train)(&p, &shape, x, y, l->cache);
}

static nnr_status dropout_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy,
                                   void *dx)
{
    (void)x;
    (void)y;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    nnr_dropout_params p;
    nnr_status st = step_params(l, &shape, &p);
    if (st.code != NNR_OK)
        return st;
    return NNR_MODEL_KERNEL(nnr_dropout_bwd)(&p, &shape, dy, l->cache, dx);
}

const nnr_layer_ops NNR_MODEL_OPS(dropout) = {"dropout", dropout_setup, dropout_forward, dropout_backward};
