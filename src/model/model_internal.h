/*
 * Internal to src/model/: the model struct, the per-precision layer tables
 * and the helpers the layer wrappers share.
 *
 * The wrappers (src/model/layer_*.c) are written once over nnr_real and
 * compiled twice, like the naive kernels (src/core/real.h; the double build
 * is in src/libnnref_f64.la). One more name macro picks the kernels:
 *
 *   NNR_MODEL_KERNEL(f)   f (the dispatching entry point, naive or AVX2) in
 *                         the float build; f_naive_f64 in the double build
 *   NNR_MODEL_OPS(kind)   nnr_model_<kind>_ops or nnr_model_<kind>_ops_f64:
 *                         the layer table each build defines
 */
#ifndef NNR_MODEL_INTERNAL_H
#define NNR_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "nnref/model.h"

#ifdef NNR_REAL_DOUBLE
#define NNR_MODEL_KERNEL(name) name##_naive_f64
#define NNR_MODEL_OPS(kind) nnr_model_##kind##_ops_f64
#define NNR_MODEL_DTYPE NNR_FLOAT64
#else
#define NNR_MODEL_KERNEL(name) name
#define NNR_MODEL_OPS(kind) nnr_model_##kind##_ops
#define NNR_MODEL_DTYPE NNR_FLOAT32
#endif

/* The layer tables, float and double (src/model/layer_*.c). */
#define NNR_MODEL_DECLARE_OPS(kind) \
    extern const nnr_layer_ops nnr_model_##kind##_ops; \
    extern const nnr_layer_ops nnr_model_##kind##_ops_f64
NNR_MODEL_DECLARE_OPS(batchnorm);
NNR_MODEL_DECLARE_OPS(layernorm);
NNR_MODEL_DECLARE_OPS(rmsnorm);
NNR_MODEL_DECLARE_OPS(groupnorm);
NNR_MODEL_DECLARE_OPS(instancenorm);
NNR_MODEL_DECLARE_OPS(maxpool);
NNR_MODEL_DECLARE_OPS(avgpool);
NNR_MODEL_DECLARE_OPS(global_maxpool);
NNR_MODEL_DECLARE_OPS(global_avgpool);
NNR_MODEL_DECLARE_OPS(flatten);
NNR_MODEL_DECLARE_OPS(reshape);
NNR_MODEL_DECLARE_OPS(conv);
NNR_MODEL_DECLARE_OPS(dropout);
NNR_MODEL_DECLARE_OPS(dense);
NNR_MODEL_DECLARE_OPS(relu);

/* Most layers a model holds. */
#define NNR_MODEL_MAX_LAYERS 64

struct nnr_model {
    nnr_dtype dtype;
    size_t elem;                          /* sizeof(float) or sizeof(double) */
    nnr_layer *layers[NNR_MODEL_MAX_LAYERS];
    size_t n_layers;
    int built;
    nnr_shape in_shape;                   /* largest batch first */
    void *act[NNR_MODEL_MAX_LAYERS + 1];  /* act[0] the input, act[i + 1] layer i's output */
    size_t act_count[NNR_MODEL_MAX_LAYERS + 1]; /* elements per sample */
    void *grad[2];                        /* ping-pong gradient buffers, the largest activation */
    void *dout;                           /* the loss' gradient with respect to the output */
    void *dout_scaled;                    /* dout times nnr_model_backward_loss's scale */
    int has_dout;                         /* 1 once nnr_model_loss computed dout for the last forward */
    void *work;                           /* scratch shared by the layers */
    size_t work_bytes;
    size_t n;                             /* batch of the last forward (0: none yet) */
    int trained_forward;                  /* 1 if the last forward ran in training mode */
    int has_input_grad;                   /* 1 after a backward */
    uint64_t seed;
    uint64_t step;                        /* optimizer steps taken, the layers' dropout step */
    char gc_names[NNR_GC_MAX_TENSORS][2 * NNR_MODEL_NAME_LEN]; /* names a model gradcheck reports */
};

/* model.c: forward over the input already in act[0]; backward from dy (the
 * output's gradient); the checks of a forward entry point. */
nnr_status nnr_model_run_forward(nnr_model *m, size_t n, int training);
nnr_status nnr_model_run_backward(nnr_model *m, const void *dy);
nnr_status nnr_model_check_run(const nnr_model *m, nnr_dtype dtype, size_t n, const void *x);

/* loss.c, one per build. */
nnr_status nnr_model_loss_real(nnr_model *m, const int32_t *labels, int grad, double *loss, size_t *correct);
nnr_status nnr_model_loss_real_f64(nnr_model *m, const int32_t *labels, int grad, double *loss, size_t *correct);
nnr_status nnr_model_backward_loss_real(nnr_model *m, double scale);
nnr_status nnr_model_backward_loss_real_f64(nnr_model *m, double scale);

/* optimizer.c: the model an optimizer updates. */
nnr_model *nnr_optimizer_model(const nnr_optimizer *opt);

/* in with the first dimension replaced by n. */
static inline nnr_shape nnr_model_batch(const nnr_shape *in, size_t n)
{
    nnr_shape s = *in;
    s.dims[0] = n;
    return s;
}

/* Product of dims[1..rank): elements per sample. */
static inline size_t nnr_model_per_sample(const nnr_shape *s)
{
    size_t c = 1;
    for (size_t i = 1; i < s->rank; i++)
        c *= s->dims[i];
    return c;
}

/* Used by setup: appends the description of a trainable tensor (the
 * model's precision, with a gradient) or of a state tensor to the layer.
 * Returns the entry (for fans), or NULL when the layer already has
 * NNR_LAYER_MAX_TENSORS of that sort (nnr_model_build then fails). */
nnr_model_tensor *nnr_model_layer_param(nnr_layer *layer, const char *name, const nnr_shape *shape, nnr_init init);
nnr_model_tensor *nnr_model_layer_state(nnr_layer *layer, const char *name, const nnr_shape *shape, nnr_init init,
                                        nnr_dtype dtype);

/* The layer's tensor (trainable or state) called name, or NULL. */
nnr_model_tensor *nnr_model_find(nnr_layer *layer, const char *name);

/* Its data (want_grad 0) or gradient (want_grad 1), or NULL if the layer
 * has no such tensor (a switched-off γ is then passed as NULL). */
void *nnr_model_find_tensor(nnr_layer *layer, const char *name, int want_grad);

/* A one-dimensional shape. */
static inline nnr_shape nnr_model_vec(size_t n)
{
    nnr_shape s = {1, {n}};
    return s;
}

/* The error of an entry point that needs a built model (m is not NULL). */
static inline nnr_status nnr_model_need_built(const nnr_model *m)
{
    if (!m->built)
        return nnr_error(NNR_ERR_PARAM, "the model is not built (call nnr_model_build first)");
    return nnr_ok();
}

/* Used by the setup of Conv and Dense: describes a Glorot-uniform "kernel"
 * of shape w with the given fans and, when use_bias, a zero "bias" of
 * `units` values. */
void nnr_model_layer_weights(nnr_layer *layer, const nnr_shape *w, size_t fan_in, size_t fan_out, int use_bias,
                             size_t units);

/* Element i of an array of floats or doubles (dtype), as double. */
static inline double nnr_model_get(nnr_dtype dtype, const void *base, size_t i)
{
    return dtype == NNR_FLOAT32 ? (double)((const float *)base)[i] : ((const double *)base)[i];
}

/* Stores v as element i of an array of dtype: rounded to float, as it is,
 * or truncated to int64 (a state counter). */
static inline void nnr_model_set(nnr_dtype dtype, void *base, size_t i, double v)
{
    if (dtype == NNR_FLOAT32)
        ((float *)base)[i] = (float)v;
    else if (dtype == NNR_FLOAT64)
        ((double *)base)[i] = v;
    else
        ((int64_t *)base)[i] = (int64_t)v;
}

/* Size in bytes of count elements of dtype. */
static inline size_t nnr_model_dtype_size(nnr_dtype t)
{
    return t == NNR_FLOAT32 ? sizeof(float) : 8;
}

/* Bytes of a cache made of k arrays of len reals each, rounded up so that
 * the next array (argmax, int32) stays aligned. */
static inline size_t nnr_model_round8(size_t bytes)
{
    return (bytes + 7) / 8 * 8;
}

#endif /* NNR_MODEL_INTERNAL_H */
