/**
 * @file activation.h
 * @brief ReLU, softmax over the last axis, and softmax fused with sparse
 *        categorical cross-entropy, as Keras and PyTorch compute them.
 *
 * **ReLU** \f$y = \max(x, 0)\f$, computed as \f$y = (x < 0)\ ?\ 0 : x\f$:
 * NaN stays NaN (PyTorch's clamp_min, TensorFlow's Relu) and −0 stays −0.
 * Backward takes the forward's *output*:
 * \f[ dx = (y > 0)\ ?\ dy : 0, \f]
 * the same as testing x > 0 (y > 0 exactly when x > 0), so a layer may
 * overwrite x with y, as PyTorch's in-place ReLU does (threshold_backward on
 * the result). At the kink x = 0 the gradient is 0, as in Keras/TensorFlow
 * (ReluGrad: dy·(x > 0)) and PyTorch. For y NaN this gives 0, TensorFlow's
 * value; PyTorch passes dy there (its test is y ≤ 0).
 *
 * **Softmax** over the last axis of any shape (rows = all other axes), stable
 * because the row maximum m is subtracted first:
 * \f[ y_c = \frac{e^{x_c - m}}{\sum_j e^{x_j - m}}, \qquad m = \max_j x_j, \f]
 * so no exponential overflows and the largest term is exactly 1. Backward
 * \f$dx_c = y_c\,(dy_c - \sum_j dy_j\,y_j)\f$. A row holding a NaN or +∞
 * gives NaN in the whole row (+∞ − +∞), as both frameworks do.
 *
 * **Softmax + sparse categorical cross-entropy**, fused, for logits (N, K)
 * and int32 labels \f$t_n \in [0, K)\f$: with the log-sum-exp
 * \f$\ell_n = m_n + \log\sum_j e^{x_{nj} - m_n} - x_{n t_n}\f$, computed as
 * \f$(m_n - x_{n t_n}) + \log s_n\f$,
 * \f[ L = \frac{1}{N}\sum_n \ell_n, \qquad
 *     \frac{\partial L}{\partial x_{nc}} = \frac{\mathrm{softmax}(x_n)_c - [c = t_n]}{N}, \f]
 * the batch mean of Keras' `SparseCategoricalCrossentropy(from_logits=True)`
 * (reduction "sum_over_batch_size") and PyTorch's `CrossEntropyLoss()`
 * (reduction "mean"). Large logits are exact where they can be: logits
 * (1000, 0) with label 0 give loss 0 and with label 1 loss 1000, never inf or
 * NaN. The per-sample losses are added in double.
 *
 * **AVX2 exponential.** The AVX2 softmax kernels compute \f$e^{x}\f$ for the
 * arguments \f$x - m \le 0\f$ with a polynomial after range reduction
 * (nnr_expf_avx2()); its relative error is below ::NNR_EXPF_AVX2_MAX_REL_ERR,
 * and the crosscheck bounds against the naive kernels are derived from it.
 *
 * Buffers are owned by the caller; kernels never allocate. Outputs may
 * be their inputs (y = x, dx = dy, dlogits = logits). A rejected call
 * returns a status naming the argument and writes nothing.
 */
#ifndef NNREF_ACTIVATION_H
#define NNREF_ACTIVATION_H

#include <stdint.h>
#include "nnref/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup activation Activations and loss
 *  @{ */

/** Bound on the relative error of nnr_expf_avx2() against the exact e^x over
 *  every float x in [ln(FLT_MIN), 0]: the maximum over all 1.1e9 of them is
 *  8.4e-8 (src/act/exp_avx2.h); below ln(FLT_MIN) it returns 0, an absolute
 *  error below FLT_MIN. */
#define NNR_EXPF_AVX2_MAX_REL_ERR 1e-7

/** ReLU forward, y = (x < 0) ? 0 : x.
 * @param[in]  shape  shape of x and y (any rank).
 * @param[in]  x      input.
 * @param[out] y      output (may be x).
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written). */
typedef nnr_status (*nnr_relu_fwd_fn)(const nnr_shape *shape, const float *x, float *y);

/** ReLU backward from the forward's output, dx = (y > 0) ? dy : 0.
 * @param[in]  shape  shape of y, dy and dx.
 * @param[in]  y      forward output.
 * @param[in]  dy     gradient with respect to y.
 * @param[out] dx     gradient with respect to x (may be dy).
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written). */
typedef nnr_status (*nnr_relu_bwd_fn)(const nnr_shape *shape, const float *y, const float *dy, float *dx);

/** Softmax forward over the last axis (stable: the row maximum is subtracted first).
 * @param[in]  shape  shape of x and y; the last axis holds the classes.
 * @param[in]  x      input.
 * @param[out] y      output, each row summing to 1 (may be x).
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written). */
typedef nnr_status (*nnr_softmax_fwd_fn)(const nnr_shape *shape, const float *x, float *y);

/** Softmax backward, dx_c = y_c (dy_c − Σ_j dy_j y_j) per row.
 * @param[in]  shape  shape of y, dy and dx.
 * @param[in]  y      forward output.
 * @param[in]  dy     gradient with respect to y.
 * @param[out] dx     gradient with respect to x (may be dy).
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written). */
typedef nnr_status (*nnr_softmax_bwd_fn)(const nnr_shape *shape, const float *y, const float *dy, float *dx);

/** Fused softmax + sparse categorical cross-entropy: the batch-mean loss and its gradient.
 * @param[in]  shape    (N, K): batch and classes (rank 2).
 * @param[in]  logits   the scores x, N·K values.
 * @param[in]  labels   N class indices, each in [0, K).
 * @param[out] loss     the mean loss L (one value).
 * @param[out] dlogits  dL/dx = (softmax(x) − onehot(t))/N, N·K values (may be
 *                      logits), or NULL for the loss alone.
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written):
 *         ::NNR_ERR_SHAPE for a rank other than 2, ::NNR_ERR_PARAM for a
 *         label outside [0, K) (the sentence gives its index and value). */
typedef nnr_status (*nnr_softmax_xent_fn)(const nnr_shape *shape, const float *logits, const int32_t *labels,
                                          float *loss, float *dlogits);

/** @name Activation and loss kernels
 *  Dispatching entry points and each implementation, one signature per
 *  pass. The double versions (suffix _naive_f64) take and give double in
 *  place of float; the gradient checker differentiates them.
 *  @{ */
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_relu_fwd_fn */
nnr_status nnr_relu_fwd(const nnr_shape *shape, const float *x, float *y);
/** Naive kernel (float), src/act/relu_naive.c. @copydoc nnr_relu_fwd_fn */
nnr_status nnr_relu_fwd_naive(const nnr_shape *shape, const float *x, float *y);
/** AVX2 + FMA kernel (float), src/act/relu_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_relu_fwd_fn */
nnr_status nnr_relu_fwd_avx2(const nnr_shape *shape, const float *x, float *y);
/** Naive kernel built over double. @copydoc nnr_relu_fwd_fn */
nnr_status nnr_relu_fwd_naive_f64(const nnr_shape *shape, const double *x, double *y);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_relu_bwd_fn */
nnr_status nnr_relu_bwd(const nnr_shape *shape, const float *y, const float *dy, float *dx);
/** Naive kernel (float), src/act/relu_naive.c. @copydoc nnr_relu_bwd_fn */
nnr_status nnr_relu_bwd_naive(const nnr_shape *shape, const float *y, const float *dy, float *dx);
/** AVX2 + FMA kernel (float), src/act/relu_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_relu_bwd_fn */
nnr_status nnr_relu_bwd_avx2(const nnr_shape *shape, const float *y, const float *dy, float *dx);
/** Naive kernel built over double. @copydoc nnr_relu_bwd_fn */
nnr_status nnr_relu_bwd_naive_f64(const nnr_shape *shape, const double *y, const double *dy, double *dx);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_softmax_fwd_fn */
nnr_status nnr_softmax_fwd(const nnr_shape *shape, const float *x, float *y);
/** Naive kernel (float), src/act/softmax_xent_naive.c. @copydoc nnr_softmax_fwd_fn */
nnr_status nnr_softmax_fwd_naive(const nnr_shape *shape, const float *x, float *y);
/** AVX2 + FMA kernel (float), src/act/softmax_xent_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_softmax_fwd_fn */
nnr_status nnr_softmax_fwd_avx2(const nnr_shape *shape, const float *x, float *y);
/** Naive kernel built over double. @copydoc nnr_softmax_fwd_fn */
nnr_status nnr_softmax_fwd_naive_f64(const nnr_shape *shape, const double *x, double *y);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_softmax_bwd_fn */
nnr_status nnr_softmax_bwd(const nnr_shape *shape, const float *y, const float *dy, float *dx);
/** Naive kernel (float), src/act/softmax_xent_naive.c. @copydoc nnr_softmax_bwd_fn */
nnr_status nnr_softmax_bwd_naive(const nnr_shape *shape, const float *y, const float *dy, float *dx);
/** AVX2 + FMA kernel (float), src/act/softmax_xent_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_softmax_bwd_fn */
nnr_status nnr_softmax_bwd_avx2(const nnr_shape *shape, const float *y, const float *dy, float *dx);
/** Naive kernel built over double. @copydoc nnr_softmax_bwd_fn */
nnr_status nnr_softmax_bwd_naive_f64(const nnr_shape *shape, const double *y, const double *dy, double *dx);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_softmax_xent_fn */
nnr_status nnr_softmax_xent(const nnr_shape *shape, const float *logits, const int32_t *labels, float *loss, float *dlogits);
/** Naive kernel (float), src/act/softmax_xent_naive.c. @copydoc nnr_softmax_xent_fn */
nnr_status nnr_softmax_xent_naive(const nnr_shape *shape, const float *logits, const int32_t *labels, float *loss, float *dlogits);
/** AVX2 + FMA kernel (float), src/act/softmax_xent_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_softmax_xent_fn */
nnr_status nnr_softmax_xent_avx2(const nnr_shape *shape, const float *logits, const int32_t *labels, float *loss, float *dlogits);
/** Naive kernel built over double (logits, loss, dlogits are double). @copydoc nnr_softmax_xent_fn */
nnr_status nnr_softmax_xent_naive_f64(const nnr_shape *shape, const double *logits, const int32_t *labels, double *loss, double *dlogits);
/** @} */

/**
 * The exponential of the AVX2 softmax kernels, elementwise: y_i ≈ e^{x_i}
 * for x_i ≤ 0, with relative error below ::NNR_EXPF_AVX2_MAX_REL_ERR for x_i
 * ≥ ln(FLT_MIN) ≈ −87.34, 0 below it (−∞ included), NaN for NaN. Positive
 * arguments are outside its domain (the kernels never pass one). Present
 * when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1.
 * @param[in]  n  number of values.
 * @param[in]  x  arguments.
 * @param[out] y  results (may be x).
 */
void nnr_expf_avx2(size_t n, const float *x, float *y);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_ACTIVATION_H */
