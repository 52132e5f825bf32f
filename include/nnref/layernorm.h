/**
 * @file layernorm.h
 * @brief Layer normalization (Ba, Kiros & Hinton 2016) and RMS normalization
 *        (Zhang & Sennrich 2019) over any set of axes, with the conventions of
 *        Keras 3 (LayerNormalization, RMSNormalization) and PyTorch
 *        (nn.LayerNorm, nn.RMSNorm).
 *
 * Both layers normalize over a set of axes A of the input (Keras: an int or a
 * list, negative counting from the end; PyTorch: normalized_shape, the last
 * dims). Each combination of the indices of the other axes is one *row*: its
 * D = ∏_{a∈A} dims[a] values share one statistic. Rows are numbered in
 * row-major order of the non-normalized axes, and the D elements of a row in
 * row-major order of the normalized axes (sorted): that is also the layout of
 * the per-element parameters γ, β (shape dims[A]).
 *
 * LayerNorm, per row (biased variance, computed from centred values):
 * \f[ \mu = \frac{1}{D}\sum_k x_k, \quad
 *     \sigma^2 = \frac{1}{D}\sum_k (x_k-\mu)^2, \quad
 *     \hat{x}_k = (x_k-\mu)(\sigma^2+\varepsilon)^{-1/2}, \quad
 *     y_k = \gamma_k\hat{x}_k + \beta_k . \f]
 * Backward, with \f$g_k = dy_k\,\gamma_k\f$ and the row's
 * \f$s=(\sigma^2+\varepsilon)^{-1/2}\f$:
 * \f[ dx_k = s\Big(g_k - \overline{g} - \hat{x}_k\,\overline{g\,\hat{x}}\Big), \qquad
 *     d\gamma_k = \sum_{\mathrm{rows}} dy_k\,\hat{x}_k, \qquad
 *     d\beta_k = \sum_{\mathrm{rows}} dy_k . \f]
 *
 * RMSNorm, per row (no centring, no β):
 * \f[ r = \Big(\frac{1}{D}\sum_k x_k^2 + \varepsilon\Big)^{-1/2}, \qquad
 *     y_k = x_k\, r\, \mathrm{scale}_k , \f]
 * and with \f$g_k = dy_k\,\mathrm{scale}_k\f$:
 * \f[ dx_k = r\Big(g_k - x_k\, r^2\, \overline{g\,x}\Big), \qquad
 *     d\mathrm{scale}_k = \sum_{\mathrm{rows}} dy_k\, x_k\, r . \f]
 *
 * When \f$\sigma^2+\varepsilon = 0\f$ (ε = 0 and a constant row; for RMSNorm
 * an all-zero row) the inverse square root is taken as 0, as PyTorch's InvStd
 * does for BatchNorm, so y = β (RMSNorm: y = 0) rather than 0·∞ = NaN.
 *
 * All buffers are owned by the caller; kernels never allocate. A rejected call
 * returns a status naming the argument and writes nothing.
 */
#ifndef NNREF_LAYERNORM_H
#define NNREF_LAYERNORM_H

#include "nnref/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup layernorm Layer and RMS normalization
 *  @{ */

/** Parameters of a LayerNorm layer. Start from a preset and change fields. */
typedef struct nnr_layernorm_params {
    int axes[NNR_MAX_RANK];  /**< Normalized axes, negative counting from the end; any order, no duplicates. The batch axis 0 is allowed (Keras). */
    size_t n_axes;           /**< Number of entries of axes used, 1..rank. */
    double epsilon;          /**< Added to the variance before the square root; finite, ≥ 0. */
    int center;              /**< 1: add β (Keras center; PyTorch bias). 0: β is neither read nor differentiated. */
    int scale;               /**< 1: multiply by γ (Keras scale; PyTorch elementwise_affine). 0: γ is neither read nor differentiated. */
} nnr_layernorm_params;

/** Keras 3 LayerNormalization defaults: axis −1, ε 1e-3, center and scale on.
 * @return the parameters. */
nnr_layernorm_params nnr_layernorm_keras(void);

/** PyTorch nn.LayerNorm(normalized_shape) defaults: the last @p n_trailing axes, ε 1e-5, elementwise_affine and bias on.
 * @param n_trailing  len(normalized_shape), 1..::NNR_MAX_RANK (checked when a kernel is called).
 * @return the parameters. */
nnr_layernorm_params nnr_layernorm_torch(size_t n_trailing);

/** Parameters of an RMSNorm layer. Start from a preset and change fields. */
typedef struct nnr_rmsnorm_params {
    int axes[NNR_MAX_RANK];  /**< Normalized axes, as in ::nnr_layernorm_params. */
    size_t n_axes;           /**< Number of entries of axes used, 1..rank. */
    double epsilon;          /**< Added to mean(x²) before the square root; finite, ≥ 0. */
    int scale;               /**< 1: multiply by the per-element scale (PyTorch elementwise_affine; Keras always). 0: scale is neither read nor differentiated. */
} nnr_rmsnorm_params;

/** Keras 3 RMSNormalization defaults: axis −1, ε 1e-6, scale on.
 * @return the parameters. */
nnr_rmsnorm_params nnr_rmsnorm_keras(void);

/** PyTorch nn.RMSNorm(normalized_shape) defaults: the last @p n_trailing axes,
 * eps=None meaning the machine epsilon of float32 (FLT_EPSILON = 1.1920929e-07), elementwise_affine on.
 * @param n_trailing  len(normalized_shape), 1..::NNR_MAX_RANK (checked when a kernel is called).
 * @return the parameters. */
nnr_rmsnorm_params nnr_rmsnorm_torch(size_t n_trailing);

/** What the LayerNorm forward saves for backward (float): one value per row. */
typedef struct nnr_layernorm_cache {
    float *mean;   /**< (rows) row mean μ. */
    float *istd;   /**< (rows) inverse standard deviation (σ² + ε)^−½. */
} nnr_layernorm_cache;

/** Saved values for backward (double), as ::nnr_layernorm_cache. */
typedef struct nnr_layernorm_cache_f64 {
    double *mean;  /**< (rows) see ::nnr_layernorm_cache. */
    double *istd;  /**< (rows) see ::nnr_layernorm_cache. */
} nnr_layernorm_cache_f64;

/** What the RMSNorm forward saves for backward (float): one value per row. */
typedef struct nnr_rmsnorm_cache {
    float *rstd;   /**< (rows) r = (mean(x²) + ε)^−½. */
} nnr_rmsnorm_cache;

/** Saved values for backward (double), as ::nnr_rmsnorm_cache. */
typedef struct nnr_rmsnorm_cache_f64 {
    double *rstd;  /**< (rows) see ::nnr_rmsnorm_cache. */
} nnr_rmsnorm_cache_f64;

/**
 * Validates @p p and @p shape and gives the buffer lengths.
 * @param[in]  p          parameters.
 * @param[in]  shape      input shape.
 * @param[out] param_len  D, the length of γ, β, dγ, dβ (may be NULL).
 * @param[out] cache_len  rows, the length of the cache's mean and istd (may be NULL).
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
nnr_status nnr_layernorm_sizes(const nnr_layernorm_params *p, const nnr_shape *shape,
                               size_t *param_len, size_t *cache_len);

/**
 * Validates @p p and @p shape and gives the buffer lengths.
 * @param[in]  p          parameters.
 * @param[in]  shape      input shape.
 * @param[out] param_len  D, the length of scale and dscale (may be NULL).
 * @param[out] cache_len  rows, the length of the cache's rstd (may be NULL).
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
nnr_status nnr_rmsnorm_sizes(const nnr_rmsnorm_params *p, const nnr_shape *shape,
                             size_t *param_len, size_t *cache_len);

/**
 * LayerNorm forward: normalizes every row and fills @p cache.
 * @param[in]  p      parameters (see presets).
 * @param[in]  shape  shape of x and y.
 * @param[in]  x      input.
 * @param[in]  gamma  (D) per-element scale γ; read only if p->scale.
 * @param[in]  beta   (D) per-element offset β; read only if p->center.
 * @param[out] y      output, same shape as x (may equal x: in place).
 * @param[in]  cache  where mean and istd (rows values each) are saved.
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
typedef nnr_status (*nnr_layernorm_fwd_fn)(const nnr_layernorm_params *p, const nnr_shape *shape,
                                            const float *x, const float *gamma, const float *beta,
                                            float *y, const nnr_layernorm_cache *cache);

/**
 * LayerNorm backward: dx, dγ, dβ from dy and the forward's cache. Gradients
 * are written, not accumulated.
 * @param[in]  p       parameters used for the forward.
 * @param[in]  shape   shape of x, dy and dx.
 * @param[in]  x       forward input.
 * @param[in]  gamma   (D) read only if p->scale.
 * @param[in]  cache   mean and istd saved by the forward.
 * @param[in]  dy      gradient of the loss with respect to y.
 * @param[out] dx      gradient with respect to x (may equal dy).
 * @param[out] dgamma  (D) written only if p->scale (may be NULL otherwise).
 * @param[out] dbeta   (D) written only if p->center (may be NULL otherwise).
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
typedef nnr_status (*nnr_layernorm_bwd_fn)(const nnr_layernorm_params *p, const nnr_shape *shape,
                                            const float *x, const float *gamma,
                                            const nnr_layernorm_cache *cache, const float *dy,
                                            float *dx, float *dgamma, float *dbeta);

/**
 * RMSNorm forward: y = x·r·scale per row, r saved in @p cache.
 * @param[in]  p      parameters (see presets).
 * @param[in]  shape  shape of x and y.
 * @param[in]  x      input.
 * @param[in]  scale  (D) per-element scale; read only if p->scale.
 * @param[out] y      output, same shape as x (may equal x: in place).
 * @param[in]  cache  where rstd (rows values) is saved.
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
typedef nnr_status (*nnr_rmsnorm_fwd_fn)(const nnr_rmsnorm_params *p, const nnr_shape *shape,
                                          const float *x, const float *scale, float *y,
                                          const nnr_rmsnorm_cache *cache);

/**
 * RMSNorm backward: dx and dscale from dy and the forward's cache (written,
 * not accumulated).
 * @param[in]  p       parameters used for the forward.
 * @param[in]  shape   shape of x, dy and dx.
 * @param[in]  x       forward input.
 * @param[in]  scale   (D) read only if p->scale.
 * @param[in]  cache   rstd saved by the forward.
 * @param[in]  dy      gradient of the loss with respect to y.
 * @param[out] dx      gradient with respect to x (may equal dy).
 * @param[out] dscale  (D) written only if p->scale (may be NULL otherwise).
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
typedef nnr_status (*nnr_rmsnorm_bwd_fn)(const nnr_rmsnorm_params *p, const nnr_shape *shape,
                                          const float *x, const float *scale,
                                          const nnr_rmsnorm_cache *cache, const float *dy,
                                          float *dx, float *dscale);

/** @name Dispatching entry points (float): the implementation nnr_impl_name() reports.
 *  @{ */
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_layernorm_fwd_fn */
nnr_status nnr_layernorm_fwd(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                             const float *gamma, const float *beta, float *y, const nnr_layernorm_cache *cache);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_layernorm_bwd_fn */
nnr_status nnr_layernorm_bwd(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                             const float *gamma, const nnr_layernorm_cache *cache, const float *dy,
                             float *dx, float *dgamma, float *dbeta);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_rmsnorm_fwd_fn */
nnr_status nnr_rmsnorm_fwd(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                           const float *scale, float *y, const nnr_rmsnorm_cache *cache);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_rmsnorm_bwd_fn */
nnr_status nnr_rmsnorm_bwd(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                           const float *scale, const nnr_rmsnorm_cache *cache, const float *dy,
                           float *dx, float *dscale);
/** @} */

/** @name Naive kernels (float): the readable reference, src/norm/layernorm_naive.c and rmsnorm_naive.c
 *  @{ */
/** Naive kernel (float). @copydoc nnr_layernorm_fwd_fn */
nnr_status nnr_layernorm_fwd_naive(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                                   const float *gamma, const float *beta, float *y,
                                   const nnr_layernorm_cache *cache);
/** Naive kernel (float). @copydoc nnr_layernorm_bwd_fn */
nnr_status nnr_layernorm_bwd_naive(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                                   const float *gamma, const nnr_layernorm_cache *cache, const float *dy,
                                   float *dx, float *dgamma, float *dbeta);
/** Naive kernel (float). @copydoc nnr_rmsnorm_fwd_fn */
nnr_status nnr_rmsnorm_fwd_naive(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                                 const float *scale, float *y, const nnr_rmsnorm_cache *cache);
/** Naive kernel (float). @copydoc nnr_rmsnorm_bwd_fn */
nnr_status nnr_rmsnorm_bwd_naive(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                                 const float *scale, const nnr_rmsnorm_cache *cache, const float *dy,
                                 float *dx, float *dscale);
/** @} */

/** @name Naive kernels (double): the same source built over double, for gradient checks
 *  @{ */
/** Naive kernel built over double (arrays are double). @copydoc nnr_layernorm_fwd_fn */
nnr_status nnr_layernorm_fwd_naive_f64(const nnr_layernorm_params *p, const nnr_shape *shape, const double *x,
                                       const double *gamma, const double *beta, double *y,
                                       const nnr_layernorm_cache_f64 *cache);
/** Naive kernel built over double (arrays are double). @copydoc nnr_layernorm_bwd_fn */
nnr_status nnr_layernorm_bwd_naive_f64(const nnr_layernorm_params *p, const nnr_shape *shape, const double *x,
                                       const double *gamma, const nnr_layernorm_cache_f64 *cache,
                                       const double *dy, double *dx, double *dgamma, double *dbeta);
/** Naive kernel built over double (arrays are double). @copydoc nnr_rmsnorm_fwd_fn */
nnr_status nnr_rmsnorm_fwd_naive_f64(const nnr_rmsnorm_params *p, const nnr_shape *shape, const double *x,
                                     const double *scale, double *y, const nnr_rmsnorm_cache_f64 *cache);
/** Naive kernel built over double (arrays are double). @copydoc nnr_rmsnorm_bwd_fn */
nnr_status nnr_rmsnorm_bwd_naive_f64(const nnr_rmsnorm_params *p, const nnr_shape *shape, const double *x,
                                     const double *scale, const nnr_rmsnorm_cache_f64 *cache,
                                     const double *dy, double *dx, double *dscale);
/** @} */

/** @name AVX2 kernels (float), src/norm/layernorm_avx2.c and rmsnorm_avx2.c
 *  Present when nnr_avx2_compiled() is 1; call them only when nnr_avx2_usable() is 1.
 *  @{ */
/** AVX2 + FMA kernel (float). @copydoc nnr_layernorm_fwd_fn */
nnr_status nnr_layernorm_fwd_avx2(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                                  const float *gamma, const float *beta, float *y,
                                  const nnr_layernorm_cache *cache);
/** AVX2 + FMA kernel (float). @copydoc nnr_layernorm_bwd_fn */
nnr_status nnr_layernorm_bwd_avx2(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                                  const float *gamma, const nnr_layernorm_cache *cache, const float *dy,
                                  float *dx, float *dgamma, float *dbeta);
/** AVX2 + FMA kernel (float). @copydoc nnr_rmsnorm_fwd_fn */
nnr_status nnr_rmsnorm_fwd_avx2(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                                const float *scale, float *y, const nnr_rmsnorm_cache *cache);
/** AVX2 + FMA kernel (float). @copydoc nnr_rmsnorm_bwd_fn */
nnr_status nnr_rmsnorm_bwd_avx2(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                                const float *scale, const nnr_rmsnorm_cache *cache, const float *dy,
                                float *dx, float *dscale);
/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_LAYERNORM_H */
