/*
 * Pooling layers (max, average, global max, global average) and the shape
 * layers (Flatten, Reshape) as model layers. Pooling has no parameters; max
 * pooling caches the argmax indices (int32, one per output) for backward.
 * Flatten and Reshape copy: a row-major tensor keeps its order.
 *
 * Built twice (model_internal.h): the float build calls the dispatching
 * kernels, the double build the _naive_f64 kernels.
 */
#include "config.h"
#include <string.h>
#include "core/real.h"
#include "model_internal.h"

/* ---- Max and average pooling ------------------------------------------------ */

static nnr_status pool_setup_common(nnr_layer *l, const nnr_shape *in)
{
    nnr_status st = nnr_pool_output_shape(l->config, in, &l->out_shape);
    if (st.code != NNR_OK)
        return st;
    return nnr_shape_numel(&l->out_shape, "the pooling output shape", &l->cache_bytes);
}

static nnr_status maxpool_setup(nnr_layer *l, const nnr_shape *in)
{
    nnr_status st = pool_setup_common(l, in);
    if (st.code == NNR_OK && !nnr_size_mul(l->cache_bytes, sizeof(int32_t), &l->cache_bytes))
        st = nnr_error(NNR_ERR_OVERFLOW, "the argmax cache of %zu outputs does not fit in size_t", l->cache_bytes);
    return st;
}

static nnr_status maxpool_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_maxpool_fwd)(l->config, &shape, x, y, training ? l->cache : NULL);
}

static nnr_status maxpool_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)x;
    (void)y;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_maxpool_bwd)(l->config, &shape, dy, l->cache, dx);
}

const nnr_layer_ops NNR_MODEL_OPS(maxpool) = {"maxpool", maxpool_setup, maxpool_forward, maxpool_backward};

static nnr_status avgpool_setup(nnr_layer *l, const nnr_shape *in)
{
    nnr_status st = pool_setup_common(l, in);
    l->cache_bytes = 0;
    return st;
}

static nnr_status avgpool_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    (void)training;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_avgpool_fwd)(l->config, &shape, x, y);
}

static nnr_status avgpool_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)x;
    (void)y;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_avgpool_bwd)(l->config, &shape, dy, dx);
}

const nnr_layer_ops NNR_MODEL_OPS(avgpool) = {"avgpool", avgpool_setup, avgpool_forward, avgpool_backward};

/* ---- Global pooling ----------------------------------------------------------- */

static nnr_status global_setup(nnr_layer *l, const nnr_shape *in)
{
    return nnr_global_pool_output_shape(l->config, in, &l->out_shape);
}

static nnr_status global_max_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    (void)training;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_global_maxpool_fwd)(l->config, &shape, x, y);
}

static nnr_status global_max_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy,
                                      void *dx)
{
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_global_maxpool_bwd)(l->config, &shape, x, y, dy, dx);
}

const nnr_layer_ops NNR_MODEL_OPS(global_maxpool) = {"global_maxpool", global_setup, global_max_forward,
                                                     global_max_backward};

static nnr_status global_avg_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    (void)training;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_global_avgpool_fwd)(l->config, &shape, x, y);
}

static nnr_status global_avg_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy,
                                      void *dx)
{
    (void)x;
    (void)y;
    const nnr_shape shape = nnr_model_batch(&l->in_shape, n);
    return NNR_MODEL_KERNEL(nnr_global_avgpool_bwd)(l->config, &shape, dy, dx);
}

const nnr_layer_ops NNR_MODEL_OPS(global_avgpool) = {"global_avgpool", global_setup, global_avg_forward,
                                                     global_avg_backward};

/* ---- Flatten and Reshape ------------------------------------------------------ */

static nnr_status flatten_setup(nnr_layer *l, const nnr_shape *in)
{
    if (in->rank < 2)
        return nnr_error(NNR_ERR_SHAPE, "Flatten needs an input of rank >= 2 (batch first), got rank %zu", in->rank);
    l->out_shape.rank = 2;
    l->out_shape.dims[0] = in->dims[0];
    l->out_shape.dims[1] = nnr_model_per_sample(in);
    return nnr_ok();
}

/* Reshape's config is the per-sample target shape. */
static nnr_status reshape_setup(nnr_layer *l, const nnr_shape *in)
{
    const nnr_shape *target = l->config;
    if (target->rank < 1 || target->rank >= NNR_MAX_RANK)
        return nnr_error(NNR_ERR_SHAPE, "Reshape's target rank must be 1..%d (the batch axis is not part of it), "
                         "got %zu", NNR_MAX_RANK - 1, target->rank);
    size_t count = 1;
    for (size_t i = 0; i < target->rank; i++) {
        if (target->dims[i] == 0)
            return nnr_error(NNR_ERR_SHAPE, "Reshape's target dimension %zu is 0", i);
        if (!nnr_size_mul(count, target->dims[i], &count))
            return nnr_error(NNR_ERR_OVERFLOW, "Reshape's target element count does not fit in size_t");
    }
    if (count != nnr_model_per_sample(in))
        return nnr_error(NNR_ERR_SHAPE, "Reshape's target holds %zu values per sample, the input %zu", count,
                         nnr_model_per_sample(in));
    l->out_shape.rank = target->rank + 1;
    l->out_shape.dims[0] = in->dims[0];
    for (size_t i = 0; i < target->rank; i++)
        l->out_shape.dims[i + 1] = target->dims[i];
    return nnr_ok();
}

static nnr_status copy_forward(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    (void)training;
    memcpy(y, x, n * nnr_model_per_sample(&l->in_shape) * sizeof(nnr_real));
    return nnr_ok();
}

static nnr_status copy_backward(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)x;
    (void)y;
    memcpy(dx, dy, n * nnr_model_per_sample(&l->in_shape) * sizeof(nnr_real));
    return nnr_ok();
}

const nnr_layer_ops NNR_MODEL_OPS(flatten) = {"flatten", flatten_setup, copy_forward, copy_backward};
const nnr_layer_ops NNR_MODEL_OPS(reshape) = {"reshape", reshape_setup, copy_forward, copy_backward};
