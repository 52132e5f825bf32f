/**
 * @file dense.h
 * @brief Dense (fully connected) layer: Keras Dense and PyTorch Linear,
 *        forward and backward.
 *
 * **Forward.** For an input x of shape (..., in_features) — any rank ≥ 1,
 * every leading axis a batch axis, as Keras applies Dense on the last axis
 * and PyTorch Linear accepts (*, in_features) — each of the B rows (B the
 * product of the leading extents, 1 for rank 1) gives one row of y, shape
 * (..., units):
 * \f[ y[r,o] = b[o] + \sum_{i} x[r,i]\, W[i,o] \f]
 * that is y = x·W + b with W (in_features, units).
 *
 * **Weight layout** (::nnr_dense_weight_layout): Keras stores the kernel as
 * (in_features, units) and computes x @ kernel; PyTorch stores weight as
 * (out_features, in_features) and computes x @ weightᵀ. The same layer in
 * both: \f$W_{\mathrm{keras}} = W_{\mathrm{torch}}^{\mathsf T}\f$
 * (SEMANTICS.md §6). The gradient dW has the layout of W.
 *
 * **Backward**, from the same sum (the derivation is three lines: y is
 * linear in each of x, W and b):
 * \f[ dx[r,i] = \sum_o dy[r,o]\, W[i,o], \qquad
 *     dW[i,o] = \sum_r x[r,i]\, dy[r,o], \qquad
 *     db[o] = \sum_r dy[r,o], \f]
 * i.e. dx = dy·Wᵀ, dW = xᵀ·dy, db = column sums of dy.
 *
 * **Gradients are overwritten, not accumulated** (as TensorFlow's
 * GradientTape returns them; PyTorch's autograd adds into .grad instead).
 * A training loop that wants PyTorch's accumulation over several backward
 * calls adds the results itself.
 *
 * **Memory.** The caller owns every buffer. The naive kernels need no
 * workspace; the AVX2 kernels need nnr_dense_workspace_size_avx2() floats
 * (the packing space of the matrix product), and the dispatching
 * nnr_dense_workspace_size() answers for whichever kernel the dispatching
 * entry points run. A rejected call returns a status naming the argument
 * and writes nothing.
 *
 * Initialisation (Keras glorot_uniform, PyTorch U(±1/√in)) is the model's
 * business, not this kernel's.
 */
#ifndef NNREF_DENSE_H
#define NNREF_DENSE_H

#include <stddef.h>
#include "nnref/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup dense Dense
 *  @{ */

/** Order of the weight matrix's axes. */
typedef enum nnr_dense_weight_layout {
    NNR_DENSE_WEIGHT_KERAS = 0,  /**< (in_features, units): Keras Dense's kernel; y = x·W. */
    NNR_DENSE_WEIGHT_TORCH = 1   /**< (out_features, in_features): PyTorch Linear's weight; y = x·Wᵀ. */
} nnr_dense_weight_layout;

/** Parameters of a Dense / Linear layer. Start from a preset and change fields. */
typedef struct nnr_dense_params {
    size_t in_features;                    /**< Input features ≥ 1: the extent of x's last axis. */
    size_t units;                          /**< Output features ≥ 1 (Keras units, PyTorch out_features). */
    nnr_dense_weight_layout weight_layout; /**< Order of w's and dw's axes. */
    int use_bias;                          /**< 1: y gets b added and the backward can give db; 0: no bias. */
} nnr_dense_params;

/** Keras 3 Dense defaults: kernel (in_features, units), use_bias on.
 * @param in_features  input features (the last axis of x).
 * @param units        output features.
 * @return the parameters. */
nnr_dense_params nnr_dense_keras(size_t in_features, size_t units);

/** PyTorch Linear defaults: weight (out_features, in_features), bias on.
 * @param in_features   input features (the last axis of x).
 * @param out_features  output features.
 * @return the parameters. */
nnr_dense_params nnr_dense_torch(size_t in_features, size_t out_features);

/**
 * Validates @p p against @p in_shape and gives the output shape: in_shape
 * with its last extent replaced by units.
 * @param[in]  p          parameters.
 * @param[in]  in_shape   input shape, rank ≥ 1, last extent in_features.
 * @param[out] out_shape  output shape; written only on success.
 * @return ::NNR_OK, or a status naming the faulty argument: ::NNR_ERR_PARAM
 *         for in_features or units of 0, an unknown weight layout or a
 *         use_bias other than 0 or 1; ::NNR_ERR_SHAPE for a rank outside
 *         1..::NNR_MAX_RANK, a zero extent or a last extent other than
 *         in_features; ::NNR_ERR_OVERFLOW when x, y or W has more elements
 *         than size_t counts.
 */
nnr_status nnr_dense_output_shape(const nnr_dense_params *p, const nnr_shape *in_shape, nnr_shape *out_shape);

/**
 * The shape of W (and dW): (in_features, units) for Keras, (units,
 * in_features) for PyTorch.
 * @param[in]  p        parameters.
 * @param[out] w_shape  rank-2 shape; written only on success.
 * @return ::NNR_OK, or a status naming the faulty argument (the parameter
 *         checks of nnr_dense_output_shape()).
 */
nnr_status nnr_dense_weight_shape(const nnr_dense_params *p, nnr_shape *w_shape);

/**
 * Workspace query of a Dense kernel (forward and backward share it).
 * @param[in]  p         parameters.
 * @param[in]  in_shape  input shape.
 * @param[out] floats    number of floats of workspace (0: pass NULL); written only on success.
 * @return ::NNR_OK, or a status naming the faulty argument (the checks of nnr_dense_output_shape()).
 */
typedef nnr_status (*nnr_dense_workspace_fn)(const nnr_dense_params *p, const nnr_shape *in_shape, size_t *floats);

/**
 * Dense forward: y = x·W + b (W in p->weight_layout).
 * @param[in]  p                 parameters.
 * @param[in]  in_shape          shape of x.
 * @param[in]  x                 input.
 * @param[in]  w                 weights, shape nnr_dense_weight_shape().
 * @param[in]  b                 bias (units values) when p->use_bias, else ignored (may be NULL).
 * @param[out] y                 output, shape nnr_dense_output_shape() (overwritten).
 * @param[in]  workspace         scratch space of the kernel's workspace size, NULL if that is 0.
 * @param[in]  workspace_floats  floats available at @p workspace; less than the kernel's query gives is rejected.
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written).
 */
typedef nnr_status (*nnr_dense_fwd_fn)(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x,
                                       const float *w, const float *b, float *y, float *workspace,
                                       size_t workspace_floats);

/**
 * Dense backward: any of dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ_rows dy (each NULL
 * to skip it), each overwritten (not accumulated into).
 * @param[in]  p                 parameters of the forward.
 * @param[in]  in_shape          shape of x and dx.
 * @param[in]  x                 forward input; needed for dw (may be NULL when dw is NULL).
 * @param[in]  w                 weights; needed for dx (may be NULL when dx is NULL).
 * @param[in]  dy                gradient with respect to y, shape nnr_dense_output_shape().
 * @param[out] dx                gradient with respect to x, or NULL.
 * @param[out] dw                gradient with respect to w (w's layout), or NULL.
 * @param[out] db                gradient with respect to b (units values), or NULL; must be NULL without use_bias.
 * @param[in]  workspace         scratch space of the kernel's workspace size, NULL if that is 0.
 * @param[in]  workspace_floats  floats available at @p workspace.
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written);
 *         ::NNR_ERR_NULL when dx, dw and db are all NULL (nothing to compute).
 */
typedef nnr_status (*nnr_dense_bwd_fn)(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x,
                                       const float *w, const float *dy, float *dx, float *dw, float *db,
                                       float *workspace, size_t workspace_floats);

/** @name Dense kernels
 *  Dispatching entry points and each implementation, one signature per
 *  pass. The double versions (suffix _naive_f64) take and give double in
 *  place of float (workspace included, which they do not use); they are
 *  what the gradient checker differentiates.
 *  @{ */
/** Dispatching query: the workspace of the kernels nnr_dense_fwd() and nnr_dense_bwd() run. @copydoc nnr_dense_workspace_fn */
nnr_status nnr_dense_workspace_size(const nnr_dense_params *p, const nnr_shape *in_shape, size_t *floats);
/** Naive kernels' query: 0 after the checks. @copydoc nnr_dense_workspace_fn */
nnr_status nnr_dense_workspace_size_naive(const nnr_dense_params *p, const nnr_shape *in_shape, size_t *floats);
/** AVX2 kernels' query (the matrix product's packing space), src/dense/dense_avx2.c. Present when nnr_avx2_compiled() is 1; it may be called on any CPU. @copydoc nnr_dense_workspace_fn */
nnr_status nnr_dense_workspace_size_avx2(const nnr_dense_params *p, const nnr_shape *in_shape, size_t *floats);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_dense_fwd_fn */
nnr_status nnr_dense_fwd(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                         const float *b, float *y, float *workspace, size_t workspace_floats);
/** Naive kernel (float), src/dense/dense_naive.c. @copydoc nnr_dense_fwd_fn */
nnr_status nnr_dense_fwd_naive(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                               const float *b, float *y, float *workspace, size_t workspace_floats);
/** AVX2 + FMA kernel (float), src/dense/dense_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_dense_fwd_fn */
nnr_status nnr_dense_fwd_avx2(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                              const float *b, float *y, float *workspace, size_t workspace_floats);
/** Naive kernel built over double (x, w, b, y, workspace are double). @copydoc nnr_dense_fwd_fn */
nnr_status nnr_dense_fwd_naive_f64(const nnr_dense_params *p, const nnr_shape *in_shape, const double *x,
                                   const double *w, const double *b, double *y, double *workspace,
                                   size_t workspace_floats);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_dense_bwd_fn */
nnr_status nnr_dense_bwd(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                         const float *dy, float *dx, float *dw, float *db, float *workspace, size_t workspace_floats);
/** Naive kernel (float), src/dense/dense_naive.c. @copydoc nnr_dense_bwd_fn */
nnr_status nnr_dense_bwd_naive(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                               const float *dy, float *dx, float *dw, float *db, float *workspace,
                               size_t workspace_floats);
/** AVX2 + FMA kernel (float), src/dense/dense_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_dense_bwd_fn */
nnr_status nnr_dense_bwd_avx2(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db, float *workspace,
                              size_t workspace_floats);
/** Naive kernel built over double (every tensor double). @copydoc nnr_dense_bwd_fn */
nnr_status nnr_dense_bwd_naive_f64(const nnr_dense_params *p, const nnr_shape *in_shape, const double *x,
                                   const double *w, const double *dy, double *dx, double *dw, double *db,
                                   double *workspace, size_t workspace_floats);
/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_DENSE_H */
