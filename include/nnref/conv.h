/**
 * @file conv.h
 * @brief Conv1D and Conv2D, forward and backward, with the exact conventions
 *        of Keras 3 / TensorFlow and PyTorch.
 *
 * An input x has rank dims + 2: (N, *spatial, C_in) channels_last (Keras'
 * default) or (N, C_in, *spatial) channels_first (PyTorch), dims = 1 or 2.
 * The output y has the same layout with C_out = filters channels. A 1D layer
 * is a 2D layer with a height of 1 (kernel, stride and dilation 1 on it).
 *
 * **Forward** (what every kernel computes, as PyTorch's Conv2d and Keras'
 * Conv2D do: a cross-correlation, the kernel is not flipped):
 * \f[ y[n, o, \mathbf{q}] = b[o] + \sum_{c} \sum_{\mathbf{j}}
 *     w[o, c, \mathbf{j}]\; x[n, c, \mathbf{q}\mathbf{s} - \mathbf{p} + \mathbf{j}\mathbf{d}] \f]
 * per spatial axis: output position q reads input position
 * \f$q s - p_{\mathrm{before}} + j d\f$, j = 0..k−1 (stride s, dilation d);
 * positions outside [0, n) are zero padding. b is present when use_bias is on.
 *
 * **Output extent** along an axis of extent n, \f$k_{\mathrm{eff}} = (k-1)d + 1\f$
 * (SEMANTICS.md §6):
 * - ::NNR_CONV_VALID: \f$\lfloor (n - k_{\mathrm{eff}})/s \rfloor + 1\f$, no padding.
 * - ::NNR_CONV_SAME (Keras/TF "same"): \f$\lceil n/s \rceil\f$; total padding
 *   \f$\max((\mathrm{out}-1)s + k_{\mathrm{eff}} - n, 0)\f$, before = total/2
 *   (rounded down), the odd extra cell at the end (nnr_conv_same_padding()).
 *   With stride 1 this is also PyTorch's padding='same' (total d(k−1), left =
 *   total/2); PyTorch rejects 'same' with a stride above 1, which the torch
 *   preset reproduces through forbid_strided_same.
 * - ::NNR_CONV_EXPLICIT (PyTorch padding=p, or any (before, after) pair):
 *   \f$\lfloor (n + p_{\mathrm{before}} + p_{\mathrm{after}} - k_{\mathrm{eff}})/s \rfloor + 1\f$.
 *   Keras' Conv1D padding='causal' is EXPLICIT with (d(k−1), 0).
 *
 * A kernel larger than the padded input (output extent below 1) is an
 * ::NNR_ERR_SHAPE error whose sentence gives the sizes.
 *
 * **Weights.** ::NNR_CONV_WEIGHT_KERAS stores w as (k_h, k_w, C_in, C_out)
 * (Conv1D: (k, C_in, C_out)), Keras' kernel; ::NNR_CONV_WEIGHT_TORCH as
 * (C_out, C_in, k_h, k_w) (Conv1d: (C_out, C_in, k)), PyTorch's weight. The
 * two hold the same numbers in a different order (w_keras[j_h, j_w, c, o] =
 * w_torch[o, c, j_h, j_w]); the weight layout is independent of the data
 * layout. Bias: (C_out).
 *
 * **Backward**, from the same sum (docs/conv-backward.md derives it):
 * \f[ \frac{\partial L}{\partial b[o]} = \sum_{n,\mathbf{q}} dy[n,o,\mathbf{q}], \qquad
 *     \frac{\partial L}{\partial w[o,c,\mathbf{j}]} = \sum_{n,\mathbf{q}} dy[n,o,\mathbf{q}]\,
 *        x[n,c,\mathbf{q}\mathbf{s}-\mathbf{p}+\mathbf{j}\mathbf{d}], \f]
 * \f[ \frac{\partial L}{\partial x[n,c,\mathbf{i}]} = \sum_{o}\ \sum_{(\mathbf{q},\mathbf{j}):\ \mathbf{q}\mathbf{s}-\mathbf{p}+\mathbf{j}\mathbf{d} = \mathbf{i}}
 *        dy[n,o,\mathbf{q}]\, w[o,c,\mathbf{j}]. \f]
 *
 * **Not covered:** groups (depthwise or grouped convolution), Conv3D,
 * transposed convolution, padding modes other than zeros.
 *
 * **Memory.** The caller owns every buffer. The naive kernels need no
 * workspace; the AVX2 kernels need nnr_conv_workspace_size_avx2() floats
 * (an im2col block, the GEMM's packing space and, for channels_first with
 * PyTorch weights, a K x C_out weight-gradient accumulator), and the dispatching
 * nnr_conv_workspace_size() answers for whichever kernel the dispatching
 * entry points run. A rejected call returns a status naming the argument
 * and writes nothing.
 */
#ifndef NNREF_CONV_H
#define NNREF_CONV_H

#include <stddef.h>
#include "nnref/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup conv Convolution
 *  @{ */

/** Most spatial axes a convolution has here (Conv2D). */
#define NNR_CONV_MAX_DIMS 2

/** How the kernel meets the borders. */
typedef enum nnr_conv_padding {
    NNR_CONV_VALID = 0,    /**< Keras "valid", PyTorch padding=0: no padding. */
    NNR_CONV_SAME = 1,     /**< Keras/TF "same": ceil(n/s) outputs, the odd padding cell at the end (also PyTorch 'same' at stride 1). */
    NNR_CONV_EXPLICIT = 2  /**< pad_before[i] and pad_after[i] zero cells on axis i (PyTorch padding=p: both p). */
} nnr_conv_padding;

/** Order of the weight tensor's axes. */
typedef enum nnr_conv_weight_layout {
    NNR_CONV_WEIGHT_KERAS = 0,  /**< (k_h, k_w, C_in, C_out); Conv1D (k, C_in, C_out). */
    NNR_CONV_WEIGHT_TORCH = 1   /**< (C_out, C_in, k_h, k_w); Conv1d (C_out, C_in, k). */
} nnr_conv_weight_layout;

/** Parameters of a Conv1D/Conv2D layer. Start from a preset and change
 *  fields. Per-axis arrays are in the tensor's order (height, width); for
 *  dims = 1 only entry 0 (the length) is read. */
typedef struct nnr_conv_params {
    int dims;                                 /**< Spatial axes: 1 or 2; the input has rank dims + 2. */
    nnr_layout layout;                        /**< Data layout of x, y, dx, dy: ::NNR_CHANNELS_LAST (Keras) or ::NNR_CHANNELS_FIRST (PyTorch). */
    int in_channels;                          /**< C_in ≥ 1; must equal the input's channel extent. */
    int filters;                              /**< C_out ≥ 1 (Keras filters, PyTorch out_channels). */
    int kernel[NNR_CONV_MAX_DIMS];            /**< Kernel extent k ≥ 1 per axis. */
    int stride[NNR_CONV_MAX_DIMS];            /**< Stride s ≥ 1 per axis (0 is rejected, as both frameworks do). */
    int dilation[NNR_CONV_MAX_DIMS];          /**< Dilation d ≥ 1 per axis. */
    nnr_conv_padding padding;                 /**< Border rule. */
    int pad_before[NNR_CONV_MAX_DIMS];        /**< ::NNR_CONV_EXPLICIT: zero cells before position 0, ≥ 0; must be 0 otherwise. */
    int pad_after[NNR_CONV_MAX_DIMS];         /**< ::NNR_CONV_EXPLICIT: zero cells after position n−1, ≥ 0; must be 0 otherwise. */
    int use_bias;                             /**< 1: y gets b[o] added and the backward can give db. */
    nnr_conv_weight_layout weight_layout;     /**< Order of w's and dw's axes. */
    int forbid_strided_dilation;              /**< 1 (Keras preset): reject any stride > 1 together with any dilation > 1, as Keras does ("`strides > 1` not supported in conjunction with `dilation_rate > 1`"). PyTorch allows it (0). */
    int forbid_strided_same;                  /**< 1 (PyTorch preset): reject ::NNR_CONV_SAME with any stride > 1, as PyTorch does ("padding='same' is not supported for strided convolutions"). Keras allows it (0). */
} nnr_conv_params;

/** Keras 3 Conv1D/Conv2D defaults: channels_last, strides 1, dilation 1,
 *  padding "valid", use_bias on, kernel (k, k, C_in, filters), and Keras'
 *  rejection of strides > 1 with dilation > 1.
 * @param dims         spatial axes, 1 or 2.
 * @param in_channels  input channels C_in.
 * @param filters      output channels C_out.
 * @param kernel_size  kernel extent on every axis.
 * @return the parameters. */
nnr_conv_params nnr_conv_keras(int dims, int in_channels, int filters, int kernel_size);

/** PyTorch Conv1d/Conv2d defaults: channels_first, stride 1, padding 0
 *  (::NNR_CONV_EXPLICIT with zeros), dilation 1, bias on, weight
 *  (C_out, C_in, k, k), and PyTorch's rejection of padding='same' with a
 *  stride above 1.
 * @param dims          spatial axes, 1 or 2.
 * @param in_channels   input channels C_in.
 * @param out_channels  output channels C_out.
 * @param kernel_size   kernel extent on every axis.
 * @return the parameters. */
nnr_conv_params nnr_conv_torch(int dims, int in_channels, int out_channels, int kernel_size);

/**
 * Keras/TF "same" padding of one axis (SEMANTICS.md §1, §6): out = ceil(n/s),
 * total = max((out−1)s + (k−1)d + 1 − n, 0), before = total/2 rounded down,
 * after = total − before. Example: n=5, k=2, s=2, d=1 gives out 3, pads (0, 1).
 * @param[in]  n       input extent ≥ 1.
 * @param[in]  k       kernel extent ≥ 1.
 * @param[in]  s       stride ≥ 1.
 * @param[in]  d       dilation ≥ 1.
 * @param[out] out     output extent (may be NULL).
 * @param[out] before  padding cells before position 0 (may be NULL).
 * @param[out] after   padding cells after the last position (may be NULL).
 * @return ::NNR_OK, ::NNR_ERR_PARAM for a value below 1, ::NNR_ERR_OVERFLOW
 *         when (k−1)d does not fit in size_t. Nothing is written on error.
 */
nnr_status nnr_conv_same_padding(size_t n, int k, int s, int d, size_t *out, size_t *before, size_t *after);

/**
 * Validates @p p against @p in_shape and gives the output shape (rank
 * dims + 2, same layout, C_out channels). Every kernel runs the same checks.
 * @param[in]  p          parameters.
 * @param[in]  in_shape   input shape.
 * @param[out] out_shape  output shape; written only on success.
 * @return ::NNR_OK, or a status naming the faulty argument: ::NNR_ERR_PARAM
 *         for dims outside 1..2, an unknown layout, padding or weight
 *         layout, in_channels or filters < 1, a kernel, stride or dilation
 *         < 1, a negative pad or a pad without ::NNR_CONV_EXPLICIT, a stride
 *         > 1 with a dilation > 1 under forbid_strided_dilation, 'same' with
 *         a stride > 1 under forbid_strided_same; ::NNR_ERR_SHAPE for a rank
 *         other than dims + 2, a zero extent, a channel extent other than
 *         in_channels, or a kernel larger than the padded input (the sizes
 *         in the sentence); ::NNR_ERR_OVERFLOW when a size does not fit.
 */
nnr_status nnr_conv_output_shape(const nnr_conv_params *p, const nnr_shape *in_shape, nnr_shape *out_shape);

/**
 * Shape of w (and dw) for @p p: (k_h, k_w, C_in, C_out) or (C_out, C_in,
 * k_h, k_w), without k_h for dims = 1.
 * @param[in]  p        parameters (checked as nnr_conv_output_shape() checks them, without an input).
 * @param[out] w_shape  the weight shape; written only on success.
 * @return ::NNR_OK, or a status naming the faulty argument.
 */
nnr_status nnr_conv_weight_shape(const nnr_conv_params *p, nnr_shape *w_shape);

/**
 * Scratch floats a convolution kernel needs for @p p and @p in_shape, the
 * same for its forward and its backward.
 * @param[in]  p         parameters.
 * @param[in]  in_shape  input shape.
 * @param[out] floats    number of floats of workspace (0: pass NULL); written only on success.
 * @return ::NNR_OK, or a status naming the faulty argument (the checks of nnr_conv_output_shape()).
 */
typedef nnr_status (*nnr_conv_workspace_fn)(const nnr_conv_params *p, const nnr_shape *in_shape, size_t *floats);

/**
 * Convolution forward: y = conv(x, w) + b.
 * @param[in]  p                 parameters.
 * @param[in]  in_shape          shape of x.
 * @param[in]  x                 input.
 * @param[in]  w                 weights, shape nnr_conv_weight_shape().
 * @param[in]  b                 bias (C_out values) when p->use_bias, else ignored (may be NULL).
 * @param[out] y                 output, shape nnr_conv_output_shape() (overwritten).
 * @param[in]  workspace         scratch space of the kernel's workspace size, NULL if that is 0.
 * @param[in]  workspace_floats  floats available at @p workspace; a smaller value than the kernel's query gives is rejected.
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written).
 */
typedef nnr_status (*nnr_conv_fwd_fn)(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x,
                                      const float *w, const float *b, float *y, float *workspace,
                                      size_t workspace_floats);

/**
 * Convolution backward: any of dx, dw, db (each NULL to skip it), each
 * overwritten (not accumulated into).
 * @param[in]  p                 parameters of the forward.
 * @param[in]  in_shape          shape of x and dx.
 * @param[in]  x                 forward input; needed for dw (may be NULL when dw is NULL).
 * @param[in]  w                 weights; needed for dx (may be NULL when dx is NULL).
 * @param[in]  dy                gradient with respect to y.
 * @param[out] dx                gradient with respect to x, or NULL.
 * @param[out] dw                gradient with respect to w (w's layout), or NULL.
 * @param[out] db                gradient with respect to b (C_out values), or NULL; must be NULL without use_bias.
 * @param[in]  workspace         scratch space of the kernel's workspace size, NULL if that is 0.
 * @param[in]  workspace_floats  floats available at @p workspace.
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written);
 *         ::NNR_ERR_NULL when dx, dw and db are all NULL (nothing to compute).
 */
typedef nnr_status (*nnr_conv_bwd_fn)(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x,
                                      const float *w, const float *dy, float *dx, float *dw, float *db,
                                      float *workspace, size_t workspace_floats);

/** @name Convolution kernels
 *  Dispatching entry points and each implementation, one signature per
 *  pass. The double versions (suffix _naive_f64) take and give double in
 *  place of float (workspace included, which they do not use); they are
 *  what the gradient checker differentiates.
 *  @{ */
/** Dispatching query: the workspace of the kernels nnr_conv_fwd() and nnr_conv_bwd() run. @copydoc nnr_conv_workspace_fn */
nnr_status nnr_conv_workspace_size(const nnr_conv_params *p, const nnr_shape *in_shape, size_t *floats);
/** Naive kernels' query: 0 after the checks. @copydoc nnr_conv_workspace_fn */
nnr_status nnr_conv_workspace_size_naive(const nnr_conv_params *p, const nnr_shape *in_shape, size_t *floats);
/** AVX2 kernels' query (an im2col block of a few output rows, the GEMM's packing space, for channels_first with PyTorch weights a dW accumulator), src/conv/conv_avx2.c. Present when nnr_avx2_compiled() is 1; it may be called on any CPU. @copydoc nnr_conv_workspace_fn */
nnr_status nnr_conv_workspace_size_avx2(const nnr_conv_params *p, const nnr_shape *in_shape, size_t *floats);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_conv_fwd_fn */
nnr_status nnr_conv_fwd(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                        const float *b, float *y, float *workspace, size_t workspace_floats);
/** Naive kernel (float), src/conv/conv_naive.c. @copydoc nnr_conv_fwd_fn */
nnr_status nnr_conv_fwd_naive(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                              const float *b, float *y, float *workspace, size_t workspace_floats);
/** AVX2 + FMA kernel (float), src/conv/conv_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_conv_fwd_fn */
nnr_status nnr_conv_fwd_avx2(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                             const float *b, float *y, float *workspace, size_t workspace_floats);
/** Naive kernel built over double. @copydoc nnr_conv_fwd_fn */
nnr_status nnr_conv_fwd_naive_f64(const nnr_conv_params *p, const nnr_shape *in_shape, const double *x,
                                  const double *w, const double *b, double *y, double *workspace,
                                  size_t workspace_floats);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_conv_bwd_fn */
nnr_status nnr_conv_bwd(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                        const float *dy, float *dx, float *dw, float *db, float *workspace, size_t workspace_floats);
/** Naive kernel (float), src/conv/conv_naive.c. @copydoc nnr_conv_bwd_fn */
nnr_status nnr_conv_bwd_naive(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db, float *workspace,
                              size_t workspace_floats);
/** AVX2 + FMA kernel (float), src/conv/conv_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_conv_bwd_fn */
nnr_status nnr_conv_bwd_avx2(const nnr_conv_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                             const float *dy, float *dx, float *dw, float *db, float *workspace,
                             size_t workspace_floats);
/** Naive kernel built over double. @copydoc nnr_conv_bwd_fn */
nnr_status nnr_conv_bwd_naive_f64(const nnr_conv_params *p, const nnr_shape *in_shape, const double *x,
                                  const double *w, const double *dy, double *dx, double *dw, double *db,
                                  double *workspace, size_t workspace_floats);
/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_CONV_H */
