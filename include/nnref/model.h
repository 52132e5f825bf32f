/**
 * @file model.h
 * @brief Layers as objects, a Sequential container, initialisation,
 *        optimizers (SGD with momentum, Adam), a training loop, evaluation
 *        and saving/loading parameters.
 *
 * **Design.** A model is a list of layers run one after the other
 * (Keras' Sequential, PyTorch's nn.Sequential) and a loss applied to the last
 * layer's output. A layer is an ::nnr_layer: a small table of functions
 * (::nnr_layer_ops: setup = output shape and buffer sizes from the input
 * shape, forward with a training flag, backward) plus the layer's own
 * parameter struct, the one the kernels take (::nnr_groupnorm_params,
 * ::nnr_pool_params, ...). The layers own their tensors: trainable parameters
 * with their gradients, non-trainable state (BatchNorm's running statistics),
 * and the cache the forward saves for the backward. The *model* allocates all
 * of them when it is built (nnr_model_build()); the kernels, as everywhere in
 * nnref, never allocate.
 *
 * **Two precisions, one source.** A model is float (::NNR_FLOAT32) or double
 * (::NNR_FLOAT64), chosen when it is created. A float model runs the
 * dispatching entry points (naive or AVX2, see nnr_impl_name()); a double
 * model runs the `_naive_f64` kernels, which is what the gradient checker
 * differentiates, so a whole model can be gradient-checked end to end
 * (nnr_gradcheck_model()). The layer wrappers in src/model/layer_*.c are
 * written once over `nnr_real` and compiled twice, exactly as the naive
 * kernels are (src/core/real.h), with one more name macro: `NNR_MODEL_KERNEL(f)`
 * is `f` in the float build and `f_naive_f64` in the double build. Each build
 * yields one ::nnr_layer_ops table per layer kind (e.g. the float and double
 * GroupNorm tables), and nnr_model_add_groupnorm() picks the table of the
 * model's precision. This was preferred over a pair of function pointers per
 * layer because the wrapper bodies stay plain C with no casts between float
 * and double, and it is the mechanism a reader already met in the kernels.
 * The container, initialisation, optimizers, training loop and file format
 * are written once: they only move bytes, or switch on the precision where
 * they compute (initialisation and the optimizer step).
 *
 * **Batches.** A model is built for a largest batch (the first dimension of
 * the input shape given to nnr_model_build()); every call may run any batch
 * of 1 up to that many samples (the last, partial batch of an epoch).
 *
 * **Loss.** The model's output is read as logits (N, K) and the loss is
 * sparse categorical cross-entropy of softmax(logits) against int32 labels,
 * averaged over the batch: Keras'
 * `SparseCategoricalCrossentropy(from_logits=True)`, PyTorch's
 * `CrossEntropyLoss()`. A Keras network ending in `Dense(10,
 * activation="softmax")` with sparse categorical cross-entropy computes the
 * same function; here softmax and the loss are fused (stable for large
 * logits) and the last Dense has no activation.
 *
 * **Initialisation** (Keras' defaults): Dense and convolution kernels
 * Glorot-uniform, \f$U(-l, l)\f$ with \f$l = \sqrt{6/(\mathrm{fan\_in} +
 * \mathrm{fan\_out})}\f$ (a convolution's fans are the kernel's receptive
 * field times its input or output channels), biases zero, normalization γ
 * one and β zero, running means zero and running variances one. The random
 * numbers come from the counter-based generator (nnr_rng_uniform()): element
 * i of the t-th parameter tensor of the model is a function of (seed, t, i)
 * alone.
 *
 * **Optimizers** (::nnr_optimizer_params), per parameter w with gradient g
 * (the batch-mean loss's gradient), step t = 1, 2, ...:
 * - SGD, Keras form (::NNR_SGD_KERAS, keras.optimizers.SGD):
 *   \f$v \leftarrow \mu v - \eta g,\; w \leftarrow w + v\f$ (v starts at 0).
 * - SGD, PyTorch form (::NNR_SGD_TORCH, torch.optim.SGD, dampening 0):
 *   \f$b \leftarrow \mu b + g\f$ (b = g at the first step),
 *   \f$w \leftarrow w - \eta b\f$. With a constant learning rate the two
 *   give the same weights (\f$v = -\eta b\f$); they differ once η changes
 *   between steps, since Keras' velocity remembers old learning rates.
 *   Momentum 0 is plain SGD in both.
 * - Adam: \f$m \leftarrow \beta_1 m + (1-\beta_1) g,\;
 *   v \leftarrow \beta_2 v + (1-\beta_2) g^2\f$ (both start at 0), then
 *   Keras (::NNR_ADAM_EPS_KERAS, keras.optimizers.Adam, ε = 1e-7 by default):
 *   \f[ w \leftarrow w - \eta\,\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
 *       \frac{m}{\sqrt{v} + \varepsilon} , \f]
 *   ε added to the square root of the *uncorrected* v (the Adam paper's
 *   "ε-hat" form); PyTorch (::NNR_ADAM_EPS_TORCH, torch.optim.Adam, ε =
 *   1e-8 by default):
 *   \f[ w \leftarrow w - \frac{\eta}{1-\beta_1^t}\,
 *       \frac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \varepsilon} , \f]
 *   ε added to the square root of the bias-corrected v (the paper's
 *   Algorithm 1). The two differ only through ε: Keras' ε is PyTorch's
 *   ε·√(1−β₂ᵗ), smaller in the first steps.
 * Both frameworks' defaults are presets: nnr_sgd_keras(), nnr_sgd_torch(),
 * nnr_adam_keras() (η 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-7), nnr_adam_torch()
 * (ε 1e-8). The update is computed in double and stored in the model's
 * precision; the optimizer state (v, b, m) is kept in double.
 *
 * **Parameter files** (nnr_model_save(), nnr_model_load()): every
 * trainable tensor and every state tensor (running statistics, BatchNorm's
 * step count) under the name "<layer>/<tensor>", e.g. "groupnorm/gamma",
 * "batchnorm_1/running_mean". The format, all integers little-endian:
 * @code
 * 8 bytes   magic "NNREFPRM"
 * u32       version (1)
 * u32       number of tensors T
 * T times:
 *   u16     name length L (1..255), then L bytes of name (no NUL)
 *   u8      dtype: 1 float32, 2 float64, 3 int64
 *   u8      rank R (1..8)
 *   R x u64 dimensions (each >= 1)
 *   data    product(dims) values of the dtype, little-endian, row-major
 * @endcode
 * and nothing after the last tensor. The file is untrusted input: every
 * field is checked against its limits and against the bytes left in the file
 * before it is used; a model loads only a file holding exactly its tensors,
 * with the same shapes (a missing, extra or misshapen tensor is an error
 * naming it), and nothing is changed in the model unless the whole file is
 * good. float32 and float64 tensors load into a model of either precision
 * (float64 into a float model rounds).
 *
 * Bad input anywhere gives an ::nnr_status with a sentence naming the
 * argument; nothing here aborts or prints, except the training loop's
 * progress output that nnr_fit_options::verbose asks for.
 */
#ifndef NNREF_MODEL_H
#define NNREF_MODEL_H

#include <stdint.h>
#include <stdio.h>
#include "nnref/core.h"
#include "nnref/batchnorm.h"
#include "nnref/layernorm.h"
#include "nnref/groupnorm.h"
#include "nnref/pool.h"
#include "nnref/conv.h"
#include "nnref/dropout.h"
#include "nnref/dense.h"
#include "nnref/activation.h"
#include "nnref/gradcheck.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup model Models: layers, Sequential, optimizers, training
 *  @{ */

/** Element type of a model's tensors (and of a parameter file's tensors). */
typedef enum nnr_dtype {
    NNR_FLOAT32 = 1,  /**< float: dispatching (naive or AVX2) kernels. */
    NNR_FLOAT64 = 2,  /**< double: the `_naive_f64` kernels (gradient checks). */
    NNR_INT64 = 3     /**< 64-bit integer (counters such as BatchNorm's num_batches_tracked). */
} nnr_dtype;

/** Longest layer or tensor name, terminating NUL included. */
#define NNR_MODEL_NAME_LEN 48

/** Most trainable tensors, and most state tensors, one layer has. */
#define NNR_LAYER_MAX_TENSORS 6

/** How a tensor is filled when the model is built (Keras' defaults). */
typedef enum nnr_init {
    NNR_INIT_ZEROS = 0,           /**< 0 (biases, β, running means, counters). */
    NNR_INIT_ONES = 1,            /**< 1 (γ, running variances). */
    NNR_INIT_GLOROT_UNIFORM = 2   /**< U(−l, l), l = √(6/(fan_in + fan_out)) (Dense and convolution kernels). */
} nnr_init;

/** One tensor a layer owns: a trainable parameter (with its gradient) or a state tensor. */
typedef struct nnr_model_tensor {
    char name[NNR_MODEL_NAME_LEN];  /**< Name within the layer: "kernel", "bias", "gamma", "beta", "running_mean", ... */
    nnr_shape shape;                /**< Shape. */
    size_t count;                   /**< Number of elements. */
    nnr_dtype dtype;                /**< The model's precision, or ::NNR_INT64 for counters. */
    nnr_init init;                  /**< Initial values. */
    size_t fan_in;                  /**< ::NNR_INIT_GLOROT_UNIFORM: inputs per output unit. */
    size_t fan_out;                 /**< ::NNR_INIT_GLOROT_UNIFORM: outputs per input unit. */
    void *data;                     /**< Values, allocated by the model. */
    void *grad;                     /**< Trainable tensors: dL/d(data), written by backward; NULL for state tensors. */
} nnr_model_tensor;

/** A layer object (defined below). */
typedef struct nnr_layer nnr_layer;

/** The functions of one layer kind in one precision. */
typedef struct nnr_layer_ops {
    /** Kind, also the start of the layer's name: "groupnorm", "maxpool", "dense", ... */
    const char *kind;
    /**
     * Validates the layer's parameters against @p in_shape (whose first
     * dimension is the largest batch) and fills the layer's out_shape, its
     * tensor descriptions (names, shapes, init; not data) and cache_bytes and
     * work_bytes. Called once, by nnr_model_build(). A layer of your own
     * describes a trainable tensor by filling layer->params[layer->n_params++]
     * (name, shape, dtype = layer->dtype, init, and fan_in/fan_out for
     * Glorot) and a state tensor likewise in layer->state; the model then
     * allocates data (and grad for trainable tensors) and initialises them.
     */
    nnr_status (*setup)(nnr_layer *layer, const nnr_shape *in_shape);
    /**
     * y = layer(x) for a batch of @p n samples (n ≤ the largest batch). In
     * training mode the forward saves what backward needs in the layer's
     * cache and updates running statistics.
     */
    nnr_status (*forward)(nnr_layer *layer, size_t n, const void *x, void *y, int training);
    /**
     * Given dL/dy for the last forward (x, y its input and output), writes
     * dL/dx into @p dx and the parameters' gradients (overwritten, not
     * accumulated).
     */
    nnr_status (*backward)(nnr_layer *layer, size_t n, const void *x, const void *y, const void *dy, void *dx);
} nnr_layer_ops;

/** A layer object: its functions, its parameters struct and the tensors it owns. */
struct nnr_layer {
    const nnr_layer_ops *ops;                          /**< Functions of the layer's kind in the model's precision. */
    char name[NNR_MODEL_NAME_LEN];                     /**< Unique within the model, Keras-style: "groupnorm", "groupnorm_1", ... */
    nnr_dtype dtype;                                   /**< The model's precision. */
    void *config;                                      /**< Copy of the layer's parameter struct (e.g. ::nnr_groupnorm_params). */
    size_t config_size;                                /**< Its size in bytes. */
    nnr_shape in_shape;                                /**< Input shape with the largest batch. */
    nnr_shape out_shape;                               /**< Output shape with the largest batch. */
    nnr_model_tensor params[NNR_LAYER_MAX_TENSORS];    /**< Trainable tensors (with gradients). */
    size_t n_params;                                   /**< Entries of params used. */
    nnr_model_tensor state[NNR_LAYER_MAX_TENSORS];     /**< Non-trainable tensors kept and saved (running statistics). */
    size_t n_state;                                    /**< Entries of state used. */
    void *cache;                                       /**< What the training forward saves for backward (cache_bytes). */
    size_t cache_bytes;                                /**< Size of cache for the largest batch. */
    void *work;                                        /**< Scratch space shared by all layers of the model (at least work_bytes). */
    size_t work_bytes;                                 /**< Scratch this layer needs for the largest batch. */
    uint64_t seed;                                     /**< Layer's random key (dropout), derived from the model's seed. */
    uint64_t step;                                     /**< Optimizer steps taken on the model when its last forward ran (dropout draws a new mask per step). */
    int32_t flags;                                     /**< Kind-specific switch (e.g. InstanceNorm's track_running_stats). */
};

/** A Sequential model (opaque; see the functions below). */
typedef struct nnr_model nnr_model;

/**
 * Creates an empty model.
 * @param[out] model  the new model (release with nnr_model_free()).
 * @param[in]  dtype  ::NNR_FLOAT32 or ::NNR_FLOAT64.
 * @return ::NNR_OK, ::NNR_ERR_NULL, ::NNR_ERR_PARAM or ::NNR_ERR_NOMEM.
 */
nnr_status nnr_model_new(nnr_model **model, nnr_dtype dtype);

/** Releases a model and everything it owns (NULL is fine).
 * @param[in] model  the model. */
void nnr_model_free(nnr_model *model);

/** @name Adding layers (before nnr_model_build())
 *  Each copies the parameter struct; it is validated against the input
 *  shape when the model is built. Every call returns ::NNR_OK, or
 *  ::NNR_ERR_NULL, ::NNR_ERR_PARAM (the model is already built, or a
 *  parameter is out of its domain) or ::NNR_ERR_NOMEM.
 *  @{ */
/** Adds BatchNorm (training mode: batch statistics and running-statistics
 *  update; inference mode: running statistics). Tensors gamma and beta (as
 *  p->scale and p->center ask), state running_mean, running_var,
 *  num_batches_tracked (and moving_stddev, renorm_mean, renorm_stddev with renorm).
 *  With ghost batches (virtual_batch_size) every batch the model runs, the
 *  last partial one of an epoch too, must be a multiple of virtual_batch_size.
 * @param model  the model.
 * @param p      parameters (see nnr_batchnorm_keras(), nnr_batchnorm_torch()).
 * @return see above. */
nnr_status nnr_model_add_batchnorm(nnr_model *model, const nnr_batchnorm_params *p);
/** Adds LayerNorm; gamma and beta have the shape of the normalized axes.
 * @param model  the model.
 * @param p      parameters.
 * @return see above. */
nnr_status nnr_model_add_layernorm(nnr_model *model, const nnr_layernorm_params *p);
/** Adds RMSNorm; scale has the shape of the normalized axes.
 * @param model  the model.
 * @param p      parameters.
 * @return see above. */
nnr_status nnr_model_add_rmsnorm(nnr_model *model, const nnr_rmsnorm_params *p);
/** Adds GroupNorm (gamma, beta per channel).
 * @param model  the model.
 * @param p      parameters.
 * @return see above. */
nnr_status nnr_model_add_groupnorm(nnr_model *model, const nnr_groupnorm_params *p);
/** Adds InstanceNorm. With @p track_running_stats (PyTorch's flag) the
 *  layer keeps running_mean, running_var and num_batches_tracked and uses
 *  them in inference mode; without, it always uses the input's statistics.
 * @param model                the model.
 * @param p                    parameters.
 * @param track_running_stats  0 or 1.
 * @return see above. */
nnr_status nnr_model_add_instancenorm(nnr_model *model, const nnr_instancenorm_params *p, int track_running_stats);
/** Adds max pooling (argmax saved for backward).
 * @param model  the model.
 * @param p      parameters.
 * @return see above. */
nnr_status nnr_model_add_maxpool(nnr_model *model, const nnr_pool_params *p);
/** Adds average pooling.
 * @param model  the model.
 * @param p      parameters.
 * @return see above. */
nnr_status nnr_model_add_avgpool(nnr_model *model, const nnr_pool_params *p);
/** Adds global max pooling.
 * @param model  the model.
 * @param p      parameters.
 * @return see above. */
nnr_status nnr_model_add_global_maxpool(nnr_model *model, const nnr_global_pool_params *p);
/** Adds global average pooling.
 * @param model  the model.
 * @param p      parameters.
 * @return see above. */
nnr_status nnr_model_add_global_avgpool(nnr_model *model, const nnr_global_pool_params *p);
/** Adds Conv1D or Conv2D: tensors kernel (Glorot-uniform with Keras' fans,
 *  in either weight layout) and bias (zeros) when p->use_bias. The kernels'
 *  scratch space is the model's, sized by the workspace query.
 * @param model  the model.
 * @param p      parameters (see nnr_conv_keras(), nnr_conv_torch()).
 * @return see above. */
nnr_status nnr_model_add_conv(nnr_model *model, const nnr_conv_params *p);
/** Adds Dropout (training: the kernel's mask; inference: the kernel's
 *  inference rule). A training step ends with nnr_optimizer_step(), in
 *  nnr_model_fit() or in a loop written by hand (forward in training mode,
 *  loss, backward, optimizer step): every step draws a new mask, and every
 *  training forward within one step draws the same one (so a backward, or
 *  a gradient check's repeated forwards, see the mask of their forward;
 *  PyTorch and Keras draw a new mask at every training forward, which
 *  differs only when a step runs more than one). The mask's key is p->seed
 *  mixed with the layer's own key from the model's seed, and its counter
 *  advances by the mask's size each step, so two dropout layers never
 *  share masks. A noise_shape must leave the batch extent 0 or 1 so that a
 *  smaller last batch fits it.
 * @param model  the model.
 * @param p      parameters (see nnr_dropout_keras(), nnr_dropout_torch()).
 * @return see above. */
nnr_status nnr_model_add_dropout(nnr_model *model, const nnr_dropout_params *p);
/** Adds Dense on the last axis: tensors kernel (Glorot-uniform, fan_in =
 *  in_features, fan_out = units, in either weight layout) and bias (zeros)
 *  when p->use_bias. No activation: add ReLU as its own layer; a final
 *  softmax is part of the loss.
 * @param model  the model.
 * @param p      parameters (see nnr_dense_keras(), nnr_dense_torch()).
 * @return see above. */
nnr_status nnr_model_add_dense(nnr_model *model, const nnr_dense_params *p);
/** Adds ReLU (backward reads the forward's output).
 * @param model  the model.
 * @return see above. */
nnr_status nnr_model_add_relu(nnr_model *model);
/** Adds Flatten: (N, d1, d2, ...) → (N, d1·d2·...), row-major (Keras
 *  Flatten on channels_last data, PyTorch nn.Flatten on channels_first
 *  data: each flattens the memory order it has).
 * @param model  the model.
 * @return see above. */
nnr_status nnr_model_add_flatten(nnr_model *model);
/** Adds Reshape to (N, *target) (Keras Reshape: the target excludes the batch).
 * @param model   the model.
 * @param target  per-sample shape, rank 1..::NNR_MAX_RANK − 1; its element count must equal the input's per sample.
 * @return see above. */
nnr_status nnr_model_add_reshape(nnr_model *model, const nnr_shape *target);
/**
 * Adds a layer of your own: @p ops must be written for the model's
 * precision (void pointers are float or double arrays accordingly).
 * @param model        the model.
 * @param ops          the layer's functions (must stay valid while the model lives).
 * @param config       its parameter struct, copied (may be NULL when @p config_size is 0).
 * @param config_size  bytes of @p config.
 * @return see above.
 */
nnr_status nnr_model_add_layer(nnr_model *model, const nnr_layer_ops *ops, const void *config, size_t config_size);
/** @} */

/**
 * Builds the model for inputs of @p in_shape (its first dimension is the
 * largest batch): runs every layer's setup in turn, allocates every tensor,
 * cache and activation, and initialises the parameters from @p seed.
 * @param model     the model, with at least one layer.
 * @param in_shape  input shape, largest batch first.
 * @param seed      key of the initialisation (and of dropout masks).
 * @return ::NNR_OK, or the first layer's complaint prefixed with its name.
 */
nnr_status nnr_model_build(nnr_model *model, const nnr_shape *in_shape, uint64_t seed);

/** @name Inspecting a model
 *  @{ */
/** The model's precision. @param model the model. @return ::NNR_FLOAT32 or ::NNR_FLOAT64 (::NNR_FLOAT32 for NULL). */
nnr_dtype nnr_model_dtype(const nnr_model *model);
/** Number of layers. @param model the model. @return the count (0 for NULL). */
size_t nnr_model_n_layers(const nnr_model *model);
/** Layer @p i, 0-based, or NULL if out of range.
 * @param model  the model.
 * @param i      index.
 * @return the layer (owned by the model). */
nnr_layer *nnr_model_layer(nnr_model *model, size_t i);
/** Output shape of the built model (largest batch).
 * @param model  the built model.
 * @param shape  the shape.
 * @return ::NNR_OK, ::NNR_ERR_NULL or ::NNR_ERR_PARAM (not built). */
nnr_status nnr_model_output_shape(const nnr_model *model, nnr_shape *shape);
/** Number of trainable parameter values (Keras' "Trainable params").
 * @param model  the built model.
 * @return the count (0 if NULL or not built). */
size_t nnr_model_param_count(const nnr_model *model);
/** Prints a Keras-like summary (layer, output shape, parameters).
 * @param model  the built model.
 * @param f      stream. */
void nnr_model_summary(const nnr_model *model, FILE *f);
/** @} */

/** @name Forward and backward passes
 *  The float entry points are for ::NNR_FLOAT32 models, the _f64 ones for
 *  ::NNR_FLOAT64 models; the other precision is an ::NNR_ERR_PARAM.
 *  @{ */
/**
 * Runs the layers on a batch; the output stays in the model (nnr_model_output()).
 * @param model     the built model.
 * @param n         batch size, 1..largest batch.
 * @param x         input, n samples of the input shape.
 * @param training  1: training mode (batch statistics, dropout, caches for backward); 0: inference.
 * @return ::NNR_OK, or the failing layer's status prefixed with its name.
 */
nnr_status nnr_model_forward(nnr_model *model, size_t n, const float *x, int training);
/** As nnr_model_forward(), for a double model.
 * @param model     the built model.
 * @param n         batch size.
 * @param x         input.
 * @param training  mode.
 * @return as nnr_model_forward(). */
nnr_status nnr_model_forward_f64(nnr_model *model, size_t n, const double *x, int training);
/** The output of the last forward (n·K values, model precision), or NULL
 *  before the first forward.
 * @param model  the model.
 * @return a pointer into the model. */
const void *nnr_model_output(const nnr_model *model);
/**
 * An activation of the last forward: @p i = 0 is the input, @p i = k the
 * output of layer k − 1 (so i = number of layers is the model's output).
 * For looking inside a model (histograms, statistics), not for changing it.
 * @param[in]  model  the model.
 * @param[in]  i      0..number of layers.
 * @param[out] shape  its shape with the last forward's batch (may be NULL).
 * @return a pointer into the model (model precision), or NULL before the
 *         first forward or for @p i out of range.
 */
const void *nnr_model_activation(const nnr_model *model, size_t i, nnr_shape *shape);
/**
 * Back-propagates dL/d(output) @p dy through the last training forward,
 * writing every trainable tensor's grad and the input gradient
 * (nnr_model_input_grad()).
 * @param model  the model after nnr_model_forward() in training mode.
 * @param dy     n·K values, the forward's batch.
 * @return ::NNR_OK, or the failing layer's status prefixed with its name.
 */
nnr_status nnr_model_backward(nnr_model *model, const float *dy);
/** As nnr_model_backward(), for a double model.
 * @param model  the model.
 * @param dy     gradient with respect to the output.
 * @return as nnr_model_backward(). */
nnr_status nnr_model_backward_f64(nnr_model *model, const double *dy);
/** dL/dx of the last backward (model precision), or NULL before.
 * @param model  the model.
 * @return a pointer into the model. */
const void *nnr_model_input_grad(const nnr_model *model);
/** @} */

/** @name Loss
 *  @{ */
/**
 * Sparse categorical cross-entropy of softmax(output) for the last forward's
 * batch, averaged over the batch, and, if @p grad is set, its gradient
 * (softmax − onehot)/n with respect to the output, kept for
 * nnr_model_backward_loss().
 * @param[in]  model    the model after a forward; its output must be (n, K).
 * @param[in]  labels   n class indices in 0..K−1.
 * @param[in]  grad     1: also compute the output gradient.
 * @param[out] loss     mean loss (may be NULL).
 * @param[out] correct  samples whose largest logit is the label (first on ties; may be NULL).
 * @return ::NNR_OK, ::NNR_ERR_NULL, ::NNR_ERR_SHAPE (output not 2-D), ::NNR_ERR_PARAM (label out of range, naming the sample).
 */
nnr_status nnr_model_loss(nnr_model *model, const int32_t *labels, int grad, double *loss, size_t *correct);
/** Back-propagates the gradient nnr_model_loss() computed, scaled by @p scale (1 for training).
 * @param model  the model.
 * @param scale  factor on dL/d(output) (the gradient checker's upstream gradient).
 * @return as nnr_model_backward(). */
nnr_status nnr_model_backward_loss(nnr_model *model, double scale);
/** @} */

/** @name Optimizers
 *  @{ */
/** Optimizer kinds. */
typedef enum nnr_optimizer_kind {
    NNR_OPT_SGD = 0,  /**< Stochastic gradient descent with optional momentum. */
    NNR_OPT_ADAM = 1  /**< Adam (Kingma & Ba 2015). */
} nnr_optimizer_kind;

/** SGD momentum forms (the file comment gives both formulas). */
typedef enum nnr_sgd_form {
    NNR_SGD_KERAS = 0,  /**< v = μv − ηg; w += v. */
    NNR_SGD_TORCH = 1   /**< b = μb + g (b = g at step 1); w −= ηb. */
} nnr_sgd_form;

/** Where Adam adds ε (the file comment gives both formulas). */
typedef enum nnr_adam_eps {
    NNR_ADAM_EPS_KERAS = 0,  /**< √v + ε with v uncorrected, the correction folded into the step size. */
    NNR_ADAM_EPS_TORCH = 1   /**< √v̂ + ε with v̂ = v/(1 − β₂ᵗ). */
} nnr_adam_eps;

/** Optimizer settings; start from a preset. */
typedef struct nnr_optimizer_params {
    nnr_optimizer_kind kind;  /**< SGD or Adam. */
    double learning_rate;     /**< η > 0 (may be changed between steps). */
    double momentum;          /**< SGD: μ in [0, 1). */
    nnr_sgd_form sgd_form;    /**< SGD: Keras or PyTorch momentum form. */
    double beta1;             /**< Adam: β₁ in [0, 1). */
    double beta2;             /**< Adam: β₂ in [0, 1). */
    double epsilon;           /**< Adam: ε ≥ 0. */
    nnr_adam_eps eps_form;    /**< Adam: where ε goes. */
} nnr_optimizer_params;

/** keras.optimizers.SGD(learning_rate, momentum).
 * @param learning_rate  η (Keras default 0.01).
 * @param momentum       μ (Keras default 0).
 * @return the settings. */
nnr_optimizer_params nnr_sgd_keras(double learning_rate, double momentum);
/** torch.optim.SGD(lr, momentum) with dampening 0, no Nesterov, no weight decay.
 * @param learning_rate  η.
 * @param momentum       μ.
 * @return the settings. */
nnr_optimizer_params nnr_sgd_torch(double learning_rate, double momentum);
/** keras.optimizers.Adam defaults: η 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-7, Keras ε placement.
 * @return the settings. */
nnr_optimizer_params nnr_adam_keras(void);
/** torch.optim.Adam defaults: η 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-8, PyTorch ε placement.
 * @return the settings. */
nnr_optimizer_params nnr_adam_torch(void);

/** An optimizer bound to one built model (opaque). */
typedef struct nnr_optimizer nnr_optimizer;

/**
 * Creates an optimizer for every trainable tensor of @p model, with zero state.
 * @param[out] opt    the optimizer (release with nnr_optimizer_free()).
 * @param[in]  p      settings (copied; change them with nnr_optimizer_set_learning_rate()).
 * @param[in]  model  the built model it will update.
 * @return ::NNR_OK, ::NNR_ERR_NULL, ::NNR_ERR_PARAM (a setting out of its domain, model not built) or ::NNR_ERR_NOMEM.
 */
nnr_status nnr_optimizer_new(nnr_optimizer **opt, const nnr_optimizer_params *p, nnr_model *model);
/** Releases an optimizer (NULL is fine). @param opt the optimizer. */
void nnr_optimizer_free(nnr_optimizer *opt);
/**
 * One update of every trainable tensor of the model from its grad; ends
 * the model's training step, so its dropout layers draw new masks at the
 * next training forward.
 * @param opt    the optimizer.
 * @return ::NNR_OK or ::NNR_ERR_NULL.
 */
nnr_status nnr_optimizer_step(nnr_optimizer *opt);
/** Changes η for the following steps (a schedule).
 * @param opt            the optimizer.
 * @param learning_rate  η > 0.
 * @return ::NNR_OK, ::NNR_ERR_NULL or ::NNR_ERR_PARAM. */
nnr_status nnr_optimizer_set_learning_rate(nnr_optimizer *opt, double learning_rate);
/** Steps taken. @param opt the optimizer. @return t (0 for NULL). */
uint64_t nnr_optimizer_steps(const nnr_optimizer *opt);
/** @} */

/** @name Training and evaluation
 *  @{ */
/** A labelled dataset in memory. */
typedef struct nnr_dataset {
    const float *x;          /**< count samples of sample_shape, row-major, one after the other. */
    const int32_t *labels;   /**< count class indices. */
    size_t count;            /**< Number of samples ≥ 1. */
    nnr_shape sample_shape;  /**< Shape of one sample (the model's input shape without the batch). */
} nnr_dataset;

/** What one epoch gave; also passed to the callbacks. */
typedef struct nnr_epoch_stats {
    size_t epoch;            /**< 1-based epoch. */
    size_t batches;          /**< Batches run so far in this epoch. */
    size_t samples;          /**< Samples seen so far in this epoch. */
    double loss;             /**< Mean training loss over the samples seen (each batch weighted by its size). */
    double accuracy;         /**< Fraction of those samples classified right (during training, as Keras reports). */
    double val_loss;         /**< Loss on the validation set after the epoch (NaN without one). */
    double val_accuracy;     /**< Accuracy on the validation set (NaN without one). */
    double seconds;          /**< Wall time of the epoch so far. */
    double samples_per_s;    /**< samples / seconds. */
} nnr_epoch_stats;

/** Training loop settings; start from nnr_fit_defaults(). */
typedef struct nnr_fit_options {
    size_t batch_size;       /**< Samples per batch, 1..the model's largest batch (Keras 32); the last batch may be smaller. */
    size_t epochs;           /**< Passes over the data ≥ 1. */
    int shuffle;             /**< 1: a new seeded permutation of the samples every epoch (Keras default). */
    uint64_t seed;           /**< Key of the shuffling. */
    int verbose;             /**< 0: quiet; 1: progress bar (redrawn with '\\r' only on a terminal; otherwise one line per epoch). */
    FILE *out;               /**< Where the progress goes (NULL: stdout). */
    const nnr_dataset *validation;  /**< Evaluated after every epoch when not NULL. */
    /** Called after every batch (may be NULL); a non-zero return stops training. */
    int (*on_batch)(nnr_model *model, const nnr_epoch_stats *stats, void *user);
    /** Called after every epoch (may be NULL); a non-zero return stops training. */
    int (*on_epoch)(nnr_model *model, const nnr_epoch_stats *stats, void *user);
    void *user;              /**< Passed to the callbacks. */
} nnr_fit_options;

/** Defaults: batch 32, 1 epoch, shuffle, seed 0, verbose 1 to stdout, no validation, no callbacks.
 * @return the options. */
nnr_fit_options nnr_fit_defaults(void);

/**
 * Trains a float model: for each epoch, each batch: forward in training
 * mode, loss, backward, optimizer step.
 * @param[in,out] model     the built float model; its output must be (N, K) logits.
 * @param[in,out] opt       an optimizer of this model.
 * @param[in]     data      the training set.
 * @param[in]     options   settings (NULL: nnr_fit_defaults()).
 * @param[out]    history   one entry per epoch (options->epochs entries), or NULL.
 * @param[out]    epochs_run  epochs completed (a callback may stop early), or NULL.
 * @return ::NNR_OK, or the first failure (a bad argument, a layer, a label out of range).
 */
nnr_status nnr_model_fit(nnr_model *model, nnr_optimizer *opt, const nnr_dataset *data,
                         const nnr_fit_options *options, nnr_epoch_stats *history, size_t *epochs_run);

/**
 * Loss and accuracy of a float model on a dataset, in inference mode.
 * @param[in]  model       the built float model.
 * @param[in]  data        the dataset.
 * @param[in]  batch_size  samples per forward, 1..the largest batch (0: the largest).
 * @param[out] loss        mean loss (may be NULL).
 * @param[out] accuracy    fraction right (may be NULL).
 * @return ::NNR_OK or the first failure.
 */
nnr_status nnr_model_evaluate(nnr_model *model, const nnr_dataset *data, size_t batch_size,
                              double *loss, double *accuracy);
/** @} */

/** @name Saving and loading parameters (format in the file comment)
 *  @{ */
/** Writes every trainable and state tensor of a built model.
 * @param model  the model.
 * @param path   file name (created or truncated).
 * @return ::NNR_OK, ::NNR_ERR_NULL, ::NNR_ERR_PARAM (not built) or ::NNR_ERR_IO. */
nnr_status nnr_model_save(const nnr_model *model, const char *path);
/** Reads a parameter file into a built model of the same architecture; on
 *  any failure the model is unchanged.
 * @param model  the model.
 * @param path   file name.
 * @return ::NNR_OK, ::NNR_ERR_NULL, ::NNR_ERR_IO, ::NNR_ERR_FORMAT (a malformed
 *         file: the field is named) or ::NNR_ERR_SHAPE (another architecture:
 *         the tensor is named), ::NNR_ERR_NOMEM. */
nnr_status nnr_model_load(nnr_model *model, const char *path);
/** @} */

/**
 * Gradient check of a whole double model with the public harness: the
 * tensors are x and every trainable tensor of the model (at most
 * ::NNR_GC_MAX_TENSORS in all). With @p labels the checked output is the
 * loss (nnr_model_loss()), otherwise the model's output, dotted with the
 * harness' random g. The model runs in training mode; its training-step
 * counter is not advanced, so dropout keeps one mask throughout.
 * @param[in,out] model    a built ::NNR_FLOAT64 model (parameters are perturbed and restored exactly).
 * @param[in]     n        batch size.
 * @param[in]     x        n input samples (copied).
 * @param[in]     labels   n labels, or NULL.
 * @param[in]     options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out]    report   per-tensor results, named "x" and "<layer>/<tensor>".
 * @return ::NNR_OK when the check ran (see report->passed), or an error.
 */
nnr_status nnr_gradcheck_model(nnr_model *model, size_t n, const double *x, const int32_t *labels,
                               const nnr_gc_options *options, nnr_gc_report *report);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_MODEL_H */
