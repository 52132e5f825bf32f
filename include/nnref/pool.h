/**
 * @file pool.h
 * @brief Max, average and global pooling in 1D, 2D and 3D with the exact
 *        conventions of Keras 3 / TensorFlow and PyTorch.
 *
 * A pooling input has rank dims + 2: (N, *spatial, C) channels_last (Keras'
 * default) or (N, C, *spatial) channels_first (PyTorch), with dims = 1, 2 or 3
 * spatial axes. Pooling never mixes samples or channels: each (n, c) plane of
 * spatial extent (n_1, ..., n_dims) is pooled on its own.
 *
 * **Windows.** Along a spatial axis of extent n with window k, stride s,
 * dilation d (effective window \f$k_{\mathrm{eff}} = (k-1)d + 1\f$) and
 * padding p_before, output o covers the input positions
 * \f$o s - p_{\mathrm{before}} + j d\f$, j = 0..k−1; positions outside [0, n)
 * are padding and never read. A window in 2D/3D is the product of the
 * per-axis windows, scanned in row-major order (last spatial axis fastest).
 *
 * Output extent (::nnr_pool_padding):
 * - ::NNR_POOL_VALID (Keras/TF "valid"): \f$\lfloor (n-k_{\mathrm{eff}})/s\rfloor + 1\f$, no padding.
 * - ::NNR_POOL_SAME (Keras/TF "same"): \f$\lceil n/s\rceil\f$; the total padding
 *   \f$\max((\mathrm{out}-1)s + k_{\mathrm{eff}} - n, 0)\f$ is split with the
 *   odd extra cell at the end (right/bottom/back).
 * - ::NNR_POOL_EXPLICIT (PyTorch): p cells each side,
 *   \f$\lfloor (n + 2p - k_{\mathrm{eff}} + (\mathrm{ceil}\ ?\ s-1 : 0))/s\rfloor + 1\f$,
 *   and with ceil_mode a last window that would start in the right padding is
 *   dropped (PyTorch's pooling_output_shape).
 *
 * **Max** \f$y_o = \max_{i \in W(o)} x_i\f$ over the in-bounds cells of the
 * window (padding contributes nothing: the start value is −∞, as PyTorch and
 * Keras' JAX/NumPy backends; TensorFlow's CPU kernel starts from −FLT_MAX
 * instead, a quirk not copied). A NaN in the window makes the output NaN.
 * The forward saves for each output the flat spatial index of the input it
 * took (PyTorch's return_indices): the first maximum in scan order, or the
 * last NaN scanned. Backward adds dy_o to dx at that index; overlapping
 * windows accumulate.
 *
 * **Average** \f$y_o = \frac{1}{D(o)}\sum_{i \in W(o)} x_i\f$; backward adds
 * \f$dy_o/D(o)\f$ to every in-bounds cell of W(o). The divisor D(o):
 * divisor_override if set (PyTorch); otherwise with ::NNR_POOL_SAME the
 * number of in-bounds cells (TensorFlow, all Keras 3 backends); otherwise,
 * with count_include_pad, the window clipped at the padded edge n + p
 * (PyTorch: ceil-mode overhang beyond the padding is never counted), and
 * without it the in-bounds count.
 *
 * **Global** pooling reduces all spatial axes (Keras GlobalMax/Average
 * Pooling{1,2,3}D, PyTorch amax/mean or AdaptiveAvgPool(1)). Global max
 * backward has two tie rules (::nnr_pool_ties): the windowed rule (all of
 * dy to the first maximum) and reduce-max's rule (dy split equally among the
 * tied maxima, TensorFlow's and Keras' gradient of ops.max, PyTorch's amax).
 *
 * All buffers are owned by the caller; kernels never allocate. Backward
 * kernels overwrite dx (zeros where no window reaches). A rejected call
 * returns a status naming the argument and writes nothing.
 */
#ifndef NNREF_POOL_H
#define NNREF_POOL_H

#include <stdint.h>
#include "nnref/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup pool Pooling
 *  @{ */

/** Most spatial axes a pooling layer has (3D pooling). */
#define NNR_POOL_MAX_DIMS 3

/** Stride meaning "equal to the window along this axis": Keras strides=None
 *  and PyTorch stride=None, the presets' value. */
#define NNR_POOL_STRIDE_WINDOW (-1)

/** How the windows meet the borders. */
typedef enum nnr_pool_padding {
    NNR_POOL_VALID = 0,    /**< Keras/TF "valid": no padding; windows lie inside the input. */
    NNR_POOL_SAME = 1,     /**< Keras/TF "same": ceil(n/s) outputs, padding split with the odd cell at the end. */
    NNR_POOL_EXPLICIT = 2  /**< PyTorch: pad[i] cells on both sides of axis i, optional ceil_mode. */
} nnr_pool_padding;

/** Parameters of a windowed (max or average) pooling layer. Start from a
 *  preset and change fields. Arrays hold one entry per spatial axis, in the
 *  tensor's order (depth, height, width); entries at or beyond dims are ignored. */
typedef struct nnr_pool_params {
    int dims;                           /**< Spatial axes: 1, 2 or 3; the input has rank dims + 2. */
    nnr_layout layout;                  /**< ::NNR_CHANNELS_LAST (Keras) or ::NNR_CHANNELS_FIRST (PyTorch). */
    int window[NNR_POOL_MAX_DIMS];      /**< Window k ≥ 1 per axis (Keras pool_size, PyTorch kernel_size). */
    int stride[NNR_POOL_MAX_DIMS];      /**< Stride s ≥ 1 per axis, or ::NNR_POOL_STRIDE_WINDOW for "equal to the window" (the presets' value: Keras strides=None, PyTorch stride=None). 0 is rejected, as both frameworks reject it. */
    int dilation[NNR_POOL_MAX_DIMS];    /**< Dilation d ≥ 1 per axis (PyTorch MaxPool); must be 1 for average pooling. */
    nnr_pool_padding padding;           /**< Border rule. */
    int pad[NNR_POOL_MAX_DIMS];         /**< ::NNR_POOL_EXPLICIT only: cells each side, 0 ≤ p ≤ k_eff/2 (PyTorch's limit); must be 0 with the other paddings (a rejected ::NNR_ERR_PARAM, not silently ignored). */
    int ceil_mode;                      /**< ::NNR_POOL_EXPLICIT or ::NNR_POOL_VALID (= explicit with pad 0): 1 rounds the output extent up (PyTorch ceil_mode); with ::NNR_POOL_SAME an ::NNR_ERR_PARAM. */
    int count_include_pad;              /**< Average, ::NNR_POOL_EXPLICIT: 1 counts padding cells in the divisor (PyTorch's default). Ignored otherwise: "valid" has no padding and "same" divides by the in-bounds count (TensorFlow, every Keras backend), so PyTorch's preset can switch padding without clearing it. */
    int has_divisor_override;           /**< Average: 1 divides every window by divisor_override (PyTorch); max pooling ignores it. */
    int divisor_override;               /**< The divisor when has_divisor_override; must not be 0. */
} nnr_pool_params;

/** Keras 3 MaxPooling/AveragePooling{1,2,3}D defaults with a cubic window:
 *  channels_last, strides = pool_size, padding "valid".
 * @param dims       spatial axes, 1..3.
 * @param pool_size  window extent on every axis.
 * @return the parameters. */
nnr_pool_params nnr_pool_keras(int dims, int pool_size);

/** PyTorch MaxPool/AvgPool{1,2,3}d defaults with a cubic window:
 *  channels_first, stride = kernel_size, padding 0, dilation 1,
 *  ceil_mode off, count_include_pad on, no divisor_override.
 * @param dims         spatial axes, 1..3.
 * @param kernel_size  window extent on every axis.
 * @return the parameters. */
nnr_pool_params nnr_pool_torch(int dims, int kernel_size);

/**
 * Validates @p p against @p in_shape and gives the output shape.
 * The same checks run in every pooling kernel, so a call that passes here
 * is accepted by the max kernels, and by the average kernels when every
 * dilation is 1 (the parameters do not say which pooling they are for).
 * @param[in]  p          parameters.
 * @param[in]  in_shape   input shape, rank p->dims + 2 in p->layout.
 * @param[out] out_shape  output shape (same rank and layout); written only on success.
 * @return ::NNR_OK, or a status naming the faulty argument and giving the sizes:
 *         ::NNR_ERR_PARAM for dims outside 1..3, an unknown layout or
 *         padding, a window or dilation < 1, a stride < 1 (other than
 *         ::NNR_POOL_STRIDE_WINDOW), a pad < 0 or
 *         beyond half the effective window, a non-zero pad without
 *         ::NNR_POOL_EXPLICIT, ceil_mode with ::NNR_POOL_SAME, or a zero
 *         divisor_override (the average kernels also reject a dilation
 *         other than 1); ::NNR_ERR_SHAPE for a rank that is not dims + 2
 *         (a rank/layout mismatch), a zero extent, or an output extent
 *         below 1 ("valid": the window must fit; explicit: PyTorch's
 *         "Output size is too small"); ::NNR_ERR_OVERFLOW when a size
 *         does not fit in size_t. The max kernels also return
 *         ::NNR_ERR_OVERFLOW for planes of more than 2^31 − 1 cells, which
 *         int32 argmax cannot index.
 */
nnr_status nnr_pool_output_shape(const nnr_pool_params *p, const nnr_shape *in_shape,
                                 nnr_shape *out_shape);

/**
 * Max pooling forward.
 * @param[in]  p         parameters.
 * @param[in]  in_shape  shape of x.
 * @param[in]  x         input.
 * @param[out] y         output, shape from nnr_pool_output_shape().
 * @param[out] argmax    one entry per output: flat spatial index (row-major
 *                       over the input's spatial axes) of the cell taken, −1
 *                       if the window holds no input cell. NULL in inference.
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written).
 */
typedef nnr_status (*nnr_maxpool_fwd_fn)(const nnr_pool_params *p, const nnr_shape *in_shape,
                                         const float *x, float *y, int32_t *argmax);

/**
 * Max pooling backward: dx = 0, then dx[argmax[o]] += dy[o] in each output's plane.
 * @param[in]  p         parameters of the forward.
 * @param[in]  in_shape  shape of x and dx.
 * @param[in]  dy        gradient with respect to y.
 * @param[in]  argmax    indices saved by the forward.
 * @param[out] dx        gradient with respect to x (overwritten).
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written);
 *         an argmax entry outside the plane is rejected before dx is touched.
 */
typedef nnr_status (*nnr_maxpool_bwd_fn)(const nnr_pool_params *p, const nnr_shape *in_shape,
                                         const float *dy, const int32_t *argmax, float *dx);

/**
 * Average pooling forward.
 * @param[in]  p         parameters.
 * @param[in]  in_shape  shape of x.
 * @param[in]  x         input.
 * @param[out] y         output, shape from nnr_pool_output_shape().
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written).
 */
typedef nnr_status (*nnr_avgpool_fwd_fn)(const nnr_pool_params *p, const nnr_shape *in_shape,
                                         const float *x, float *y);

/**
 * Average pooling backward: dx = 0, then dx[i] += dy[o]/D(o) for every
 * in-bounds cell i of every window o.
 * @param[in]  p         parameters of the forward.
 * @param[in]  in_shape  shape of dx.
 * @param[in]  dy        gradient with respect to y.
 * @param[out] dx        gradient with respect to x (overwritten).
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written).
 */
typedef nnr_status (*nnr_avgpool_bwd_fn)(const nnr_pool_params *p, const nnr_shape *in_shape,
                                         const float *dy, float *dx);

/** @name Windowed pooling kernels
 *  Dispatching entry points and each implementation, one signature per pass.
 *  The double versions (suffix _naive_f64) are what the gradient checker
 *  differentiates; they take and give double in place of float and the same
 *  int32_t indices.
 *  @{ */
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_maxpool_fwd_fn */
nnr_status nnr_maxpool_fwd(const nnr_pool_params *p, const nnr_shape *in_shape, const float *x, float *y, int32_t *argmax);
/** Naive kernel (float), src/pool/maxpool_naive.c. @copydoc nnr_maxpool_fwd_fn */
nnr_status nnr_maxpool_fwd_naive(const nnr_pool_params *p, const nnr_shape *in_shape, const float *x, float *y, int32_t *argmax);
/** AVX2 + FMA kernel (float), src/pool/maxpool_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_maxpool_fwd_fn */
nnr_status nnr_maxpool_fwd_avx2(const nnr_pool_params *p, const nnr_shape *in_shape, const float *x, float *y, int32_t *argmax);
/** Naive kernel built over double (x, y, dy, dx are double). @copydoc nnr_maxpool_fwd_fn */
nnr_status nnr_maxpool_fwd_naive_f64(const nnr_pool_params *p, const nnr_shape *in_shape, const double *x, double *y, int32_t *argmax);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_maxpool_bwd_fn */
nnr_status nnr_maxpool_bwd(const nnr_pool_params *p, const nnr_shape *in_shape, const float *dy, const int32_t *argmax, float *dx);
/** Naive kernel (float), src/pool/maxpool_naive.c. @copydoc nnr_maxpool_bwd_fn */
nnr_status nnr_maxpool_bwd_naive(const nnr_pool_params *p, const nnr_shape *in_shape, const float *dy, const int32_t *argmax, float *dx);
/** AVX2 + FMA kernel (float), src/pool/maxpool_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_maxpool_bwd_fn */
nnr_status nnr_maxpool_bwd_avx2(const nnr_pool_params *p, const nnr_shape *in_shape, const float *dy, const int32_t *argmax, float *dx);
/** Naive kernel built over double (x, y, dy, dx are double). @copydoc nnr_maxpool_bwd_fn */
nnr_status nnr_maxpool_bwd_naive_f64(const nnr_pool_params *p, const nnr_shape *in_shape, const double *dy, const int32_t *argmax, double *dx);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_avgpool_fwd_fn */
nnr_status nnr_avgpool_fwd(const nnr_pool_params *p, const nnr_shape *in_shape, const float *x, float *y);
/** Naive kernel (float), src/pool/avgpool_naive.c. @copydoc nnr_avgpool_fwd_fn */
nnr_status nnr_avgpool_fwd_naive(const nnr_pool_params *p, const nnr_shape *in_shape, const float *x, float *y);
/** AVX2 + FMA kernel (float), src/pool/avgpool_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_avgpool_fwd_fn */
nnr_status nnr_avgpool_fwd_avx2(const nnr_pool_params *p, const nnr_shape *in_shape, const float *x, float *y);
/** Naive kernel built over double (x, y, dy, dx are double). @copydoc nnr_avgpool_fwd_fn */
nnr_status nnr_avgpool_fwd_naive_f64(const nnr_pool_params *p, const nnr_shape *in_shape, const double *x, double *y);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_avgpool_bwd_fn */
nnr_status nnr_avgpool_bwd(const nnr_pool_params *p, const nnr_shape *in_shape, const float *dy, float *dx);
/** Naive kernel (float), src/pool/avgpool_naive.c. @copydoc nnr_avgpool_bwd_fn */
nnr_status nnr_avgpool_bwd_naive(const nnr_pool_params *p, const nnr_shape *in_shape, const float *dy, float *dx);
/** AVX2 + FMA kernel (float), src/pool/avgpool_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_avgpool_bwd_fn */
nnr_status nnr_avgpool_bwd_avx2(const nnr_pool_params *p, const nnr_shape *in_shape, const float *dy, float *dx);
/** Naive kernel built over double (x, y, dy, dx are double). @copydoc nnr_avgpool_bwd_fn */
nnr_status nnr_avgpool_bwd_naive_f64(const nnr_pool_params *p, const nnr_shape *in_shape, const double *dy, double *dx);
/** @} */

/** How global max pooling's backward treats tied maxima. */
typedef enum nnr_pool_ties {
    NNR_POOL_TIES_FIRST = 0,  /**< All of dy to the first maximum in scan order (the windowed rule; the last NaN if the max is NaN). */
    NNR_POOL_TIES_SPLIT = 1   /**< dy split equally among all cells equal to the max (reduce-max's gradient: Keras, TensorFlow, PyTorch amax). A NaN max equals no cell: then, as in those frameworks (0/0), dx is NaN on the whole plane. */
} nnr_pool_ties;

/** Parameters of a global pooling layer. */
typedef struct nnr_global_pool_params {
    int dims;            /**< Spatial axes reduced: 1, 2 or 3; the input has rank dims + 2. */
    nnr_layout layout;   /**< ::NNR_CHANNELS_LAST (Keras) or ::NNR_CHANNELS_FIRST (PyTorch). */
    int keepdims;        /**< 1: output keeps the spatial axes as extent 1 (rank dims + 2); 0: output (N, C). */
    nnr_pool_ties ties;  /**< Global max backward's tie rule. */
} nnr_global_pool_params;

/** Keras 3 GlobalMax/GlobalAveragePooling{1,2,3}D defaults: channels_last,
 *  keepdims off, reduce-max tie rule (ops.max's gradient).
 * @param dims  spatial axes, 1..3.
 * @return the parameters. */
nnr_global_pool_params nnr_global_pool_keras(int dims);

/** PyTorch x.amax(spatial dims) / x.mean(spatial dims) / AdaptiveAvgPool(1):
 *  channels_first, keepdims on (AdaptiveAvgPool's (N, C, 1, ...)), amax's
 *  split tie rule.
 * @param dims  spatial axes, 1..3.
 * @return the parameters. */
nnr_global_pool_params nnr_global_pool_torch(int dims);

/**
 * Validates @p p against @p in_shape and gives the output shape: (N, C), or
 * with keepdims the input's rank with every spatial extent 1.
 * @param[in]  p          parameters.
 * @param[in]  in_shape   input shape, rank p->dims + 2.
 * @param[out] out_shape  output shape; written only on success.
 * @return ::NNR_OK, or a status naming the faulty argument.
 */
nnr_status nnr_global_pool_output_shape(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                        nnr_shape *out_shape);

/** Global max forward: y (N·C values, in (N, C) order whatever the layout) = max over each plane, NaN if the plane holds a NaN.
 * @param[in]  p         parameters.
 * @param[in]  in_shape  shape of x.
 * @param[in]  x         input.
 * @param[out] y         output, N·C values.
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written). */
typedef nnr_status (*nnr_global_maxpool_fwd_fn)(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                                const float *x, float *y);

/** Global max backward by the tie rule p->ties (dx overwritten). The cells
 *  that get dy are those of x equal to y (both NaN counting as equal), as
 *  TensorFlow's reduce-max gradient finds them; a plane with no such cell
 *  (y not from this x) gets zeros.
 * @param[in]  p         parameters of the forward.
 * @param[in]  in_shape  shape of x and dx.
 * @param[in]  x         forward input (the maxima are located in it again).
 * @param[in]  y         forward output.
 * @param[in]  dy        gradient with respect to y, N·C values.
 * @param[out] dx        gradient with respect to x.
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written). */
typedef nnr_status (*nnr_global_maxpool_bwd_fn)(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                                const float *x, const float *y, const float *dy, float *dx);

/** Global average forward: y = mean over each plane (summed in double).
 * @param[in]  p         parameters.
 * @param[in]  in_shape  shape of x.
 * @param[in]  x         input.
 * @param[out] y         output, N·C values.
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written). */
typedef nnr_status (*nnr_global_avgpool_fwd_fn)(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                                const float *x, float *y);

/** Global average backward: dx = dy / (plane size) over each plane.
 * @param[in]  p         parameters of the forward.
 * @param[in]  in_shape  shape of dx.
 * @param[in]  dy        gradient with respect to y, N·C values.
 * @param[out] dx        gradient with respect to x.
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written). */
typedef nnr_status (*nnr_global_avgpool_bwd_fn)(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                                const float *dy, float *dx);

/** @name Global pooling kernels
 *  Dispatching entry points and each implementation, as the windowed ones.
 *  @{ */
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_global_maxpool_fwd_fn */
nnr_status nnr_global_maxpool_fwd(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x, float *y);
/** Naive kernel (float), src/pool/globalpool_naive.c. @copydoc nnr_global_maxpool_fwd_fn */
nnr_status nnr_global_maxpool_fwd_naive(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x, float *y);
/** AVX2 + FMA kernel (float), src/pool/globalpool_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_global_maxpool_fwd_fn */
nnr_status nnr_global_maxpool_fwd_avx2(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x, float *y);
/** Naive kernel built over double (x, y, dy, dx are double). @copydoc nnr_global_maxpool_fwd_fn */
nnr_status nnr_global_maxpool_fwd_naive_f64(const nnr_global_pool_params *p, const nnr_shape *in_shape, const double *x, double *y);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_global_maxpool_bwd_fn */
nnr_status nnr_global_maxpool_bwd(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x, const float *y, const float *dy, float *dx);
/** Naive kernel (float), src/pool/globalpool_naive.c. @copydoc nnr_global_maxpool_bwd_fn */
nnr_status nnr_global_maxpool_bwd_naive(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x, const float *y, const float *dy, float *dx);
/** AVX2 + FMA kernel (float), src/pool/globalpool_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_global_maxpool_bwd_fn */
nnr_status nnr_global_maxpool_bwd_avx2(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x, const float *y, const float *dy, float *dx);
/** Naive kernel built over double (x, y, dy, dx are double). @copydoc nnr_global_maxpool_bwd_fn */
nnr_status nnr_global_maxpool_bwd_naive_f64(const nnr_global_pool_params *p, const nnr_shape *in_shape, const double *x, const double *y, const double *dy, double *dx);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_global_avgpool_fwd_fn */
nnr_status nnr_global_avgpool_fwd(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x, float *y);
/** Naive kernel (float), src/pool/globalpool_naive.c. @copydoc nnr_global_avgpool_fwd_fn */
nnr_status nnr_global_avgpool_fwd_naive(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x, float *y);
/** AVX2 + FMA kernel (float), src/pool/globalpool_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_global_avgpool_fwd_fn */
nnr_status nnr_global_avgpool_fwd_avx2(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *x, float *y);
/** Naive kernel built over double (x, y, dy, dx are double). @copydoc nnr_global_avgpool_fwd_fn */
nnr_status nnr_global_avgpool_fwd_naive_f64(const nnr_global_pool_params *p, const nnr_shape *in_shape, const double *x, double *y);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_global_avgpool_bwd_fn */
nnr_status nnr_global_avgpool_bwd(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *dy, float *dx);
/** Naive kernel (float), src/pool/globalpool_naive.c. @copydoc nnr_global_avgpool_bwd_fn */
nnr_status nnr_global_avgpool_bwd_naive(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *dy, float *dx);
/** AVX2 + FMA kernel (float), src/pool/globalpool_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_global_avgpool_bwd_fn */
nnr_status nnr_global_avgpool_bwd_avx2(const nnr_global_pool_params *p, const nnr_shape *in_shape, const float *dy, float *dx);
/** Naive kernel built over double (x, y, dy, dx are double). @copydoc nnr_global_avgpool_bwd_fn */
nnr_status nnr_global_avgpool_bwd_naive_f64(const nnr_global_pool_params *p, const nnr_shape *in_shape, const double *dy, double *dx);
/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_POOL_H */
