/**
 * @file batchnorm.h
 * @brief Batch normalization (Ioffe & Szegedy 2015) with the exact conventions
 *        of Keras 3, tf.keras 2, PyTorch and PuzzleLib.
 *
 * A tensor of any rank 2..5 is seen as (N, pre, C, post), where C is the
 * extent of the channel axis @ref nnr_batchnorm_params::axis, pre the product
 * of the dimensions between the batch axis and the channel axis, and post the
 * product of those after it. channels_last (N, *spatial, C) has post = 1,
 * channels_first (N, C, *spatial) has pre = 1. Statistics are taken per
 * channel over the m = N·pre·post values that share it.
 *
 * Training forward, per channel c:
 * \f[ \mu_c = \frac{1}{m}\sum_i x_i, \qquad
 *     \sigma^2_c = \frac{1}{m}\sum_i (x_i-\mu_c)^2, \qquad
 *     \hat{x}_i = (x_i-\mu_c)\,(\sigma^2_c+\varepsilon)^{-1/2}, \qquad
 *     y_i = \gamma_c\hat{x}_i + \beta_c . \f]
 * The variance is always computed from centred values (two passes, or the
 * chunked shifted sums merged pairwise), never as \f$E[x^2]-E[x]^2\f$ on raw data.
 *
 * Training backward (closed form; docs/batchnorm-backward.md derives it term
 * by term and shows it equals the staged dvar, dmu, dx of the CS231n form):
 * \f[ \frac{\partial L}{\partial \beta_c} = \sum_i dy_i, \qquad
 *     \frac{\partial L}{\partial \gamma_c} = \sum_i dy_i\,\hat{x}_i, \qquad
 *     dx_i = \gamma_c\,(\sigma^2_c+\varepsilon)^{-1/2}
 *            \Big(dy_i - \overline{dy} - \hat{x}_i\,\overline{dy\,\hat{x}}\Big). \f]
 *
 * Running statistics, with the batch mean \f$\mu\f$ and the batch variance
 * \f$v\f$ (biased, or times m/(m−1) when
 * @ref nnr_batchnorm_params::running_var_unbiased is set and m > 1), and a
 * weight f of the new batch:
 * \f[ \hat\mu \leftarrow (1-f)\,\hat\mu + f\,\mu, \qquad
 *     \hat v \leftarrow (1-f)\,\hat v + f\,v, \f]
 * where f = 1 − momentum (::NNR_BN_UPDATE_EMA, Keras convention),
 * f = 1/t after t training steps (::NNR_BN_UPDATE_CUMULATIVE, PyTorch's
 * momentum=None) or f = max(init_factor/t, min_factor)
 * (::NNR_BN_UPDATE_PUZZLE, PuzzleLib/cuDNN's exponentialAverageFactor).
 *
 * All buffers are owned by the caller; kernels never allocate. A rejected call
 * returns a status naming the argument and writes nothing.
 */
#ifndef NNREF_BATCHNORM_H
#define NNREF_BATCHNORM_H

#include "nnref/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup batchnorm Batch normalization
 *  @{ */

/** How the running (moving) statistics follow the batch statistics. */
typedef enum nnr_bn_update {
    NNR_BN_UPDATE_EMA = 0,        /**< running = momentum·running + (1−momentum)·batch (Keras; PyTorch with momentum_torch = 1 − momentum). */
    NNR_BN_UPDATE_CUMULATIVE = 1, /**< Cumulative average, factor 1/t at step t (PyTorch momentum=None). */
    NNR_BN_UPDATE_PUZZLE = 2      /**< PuzzleLib: factor max(init_factor/t, min_factor) weights the new batch. */
} nnr_bn_update;

/** Parameters of a BatchNorm layer. Start from a preset and change fields. */
typedef struct nnr_batchnorm_params {
    int axis;                  /**< Channel axis; negative counts from the end (−1 = last, Keras). Must not be the batch axis 0. */
    double epsilon;            /**< Added to the variance before the square root; ≥ 0, not NaN. */
    double momentum;           /**< ::NNR_BN_UPDATE_EMA only: weight of the OLD running value, in [0, 1] (Keras 0.99; PyTorch 0.1 is 0.9 here). */
    nnr_bn_update update;      /**< Running-statistics rule. */
    double init_factor;        /**< ::NNR_BN_UPDATE_PUZZLE: initFactor (PuzzleLib 1.0), in (0, 1]. */
    double min_factor;         /**< ::NNR_BN_UPDATE_PUZZLE: minFactor (PuzzleLib 0.1), in [0, 1]. */
    int running_var_unbiased;  /**< 1: the running variance takes the batch variance times m/(m−1) (PyTorch, tf.keras 2 fused, cuDNN/PuzzleLib); 0: biased (Keras 3). */
    int center;                /**< 1: add β (Keras center, PyTorch affine). 0: β is neither read nor differentiated. */
    int scale;                 /**< 1: multiply by γ (Keras scale, PyTorch affine). 0: γ is neither read nor differentiated. */
    int error_on_single_value; /**< 1: training with one value per channel (m = 1) is an error, as in PyTorch. 0: y = β (Keras). */
    size_t virtual_batch_size; /**< 0: off. Else ghost batches of this many samples (tf.keras 2): ghost batch j holds samples j, j+G, j+2G, … with G = N / virtual_batch_size, which must be whole in training; the inference passes ignore it (any N, as tf.keras 2). */
    int renorm;                /**< 1: batch renormalization (Ioffe 2017; Keras renorm=True). Needs the renorm fields of the state. */
    double renorm_momentum;    /**< Weight of the old renorm_mean/renorm_stddev, in [0, 1] (Keras 0.99). */
    double rmax;               /**< Upper clip of r (Keras default +∞). */
    double rmin;               /**< Lower clip of r (Keras default 0); must be ≤ rmax. */
    double dmax;               /**< Clip of |d| (Keras default +∞); must be ≥ 0. */
} nnr_batchnorm_params;

/** Keras 3 BatchNormalization defaults: axis −1, ε 1e-3, momentum 0.99, biased running variance, m = 1 allowed.
 * @return the parameters. */
nnr_batchnorm_params nnr_batchnorm_keras(void);

/**
 * tf.keras 2 BatchNormalization defaults for an input of rank @p rank:
 * as Keras 3, but inputs of rank 4 or 5 take the fused path, whose running
 * variance is Bessel-corrected (unbiased); rank 2 and 3 stay biased.
 * tf.keras 2 also leaves the fused path when virtual_batch_size or renorm is
 * set or the channel axis is neither 1 nor the last: set
 * running_var_unbiased = 0 yourself when you turn those on.
 * @param rank  rank of the input the layer will see (2..5).
 * @return the parameters.
 */
nnr_batchnorm_params nnr_batchnorm_tf2(size_t rank);

/** PyTorch BatchNorm{1,2,3}d defaults: axis 1, ε 1e-5, momentum_torch 0.1 (0.9 here), unbiased running variance, m = 1 is an error.
 * @return the parameters. */
nnr_batchnorm_params nnr_batchnorm_torch(void);

/** PuzzleLib BatchNorm2D defaults: axis 1, ε 1e-5, factor max(1.0/t, 0.1), unbiased running variance.
 * @return the parameters. */
nnr_batchnorm_params nnr_batchnorm_puzzlelib(void);

/** Converts PyTorch's momentum (weight of the new batch) to nnref's (weight of the old value): 1 − m.
 * @param torch_momentum  PyTorch's momentum (weight of the new batch).
 * @return nnref's momentum, 1 − @p torch_momentum. */
double nnr_batchnorm_momentum_from_torch(double torch_momentum);

/** Running statistics (float), one value per channel unless stated. */
typedef struct nnr_batchnorm_state {
    float *running_mean;           /**< (C) Keras moving_mean, PyTorch running_mean. Initial 0. */
    float *running_var;            /**< (C) Keras moving_variance, PyTorch running_var. Initial 1. */
    float *moving_stddev;          /**< (C) renorm only: Keras 3 tracks the stddev and derives running_var = max(stddev² − ε, 0). Initial 1. */
    float *renorm_mean;            /**< (C) renorm only. Initial 0. */
    float *renorm_stddev;          /**< (C) renorm only. Initial 1. */
    uint64_t num_batches_tracked;  /**< Training steps taken; drives the cumulative and PuzzleLib rules. */
} nnr_batchnorm_state;

/** Running statistics (double), as ::nnr_batchnorm_state. */
typedef struct nnr_batchnorm_state_f64 {
    double *running_mean;          /**< (C) see ::nnr_batchnorm_state. */
    double *running_var;           /**< (C) see ::nnr_batchnorm_state. */
    double *moving_stddev;         /**< (C) see ::nnr_batchnorm_state. */
    double *renorm_mean;           /**< (C) see ::nnr_batchnorm_state. */
    double *renorm_stddev;         /**< (C) see ::nnr_batchnorm_state. */
    uint64_t num_batches_tracked;  /**< see ::nnr_batchnorm_state. */
} nnr_batchnorm_state_f64;

/**
 * What the training forward saves for the backward pass (float). With ghost
 * batches there is one row of C values per ghost batch: G·C values, G = N /
 * virtual_batch_size (G = 1 without ghost batches); see nnr_batchnorm_cache_len().
 */
typedef struct nnr_batchnorm_cache {
    float *mean;   /**< (G, C) batch mean. */
    float *istd;   /**< (G, C) inverse standard deviation (σ² + ε)^−½. */
    float *r;      /**< (C) renorm only (else may be NULL): r = clip(σ_B/σ_r, rmin, rmax), a constant for backward. */
    float *d;      /**< (C) renorm only (else may be NULL): d = clip((μ_B − μ_r)/σ_r, ±dmax), a constant for backward. */
} nnr_batchnorm_cache;

/** Saved values for backward (double), as ::nnr_batchnorm_cache. */
typedef struct nnr_batchnorm_cache_f64 {
    double *mean;  /**< (G, C) see ::nnr_batchnorm_cache. */
    double *istd;  /**< (G, C) see ::nnr_batchnorm_cache. */
    double *r;     /**< (C) see ::nnr_batchnorm_cache. */
    double *d;     /**< (C) see ::nnr_batchnorm_cache. */
} nnr_batchnorm_cache_f64;

/**
 * Validates @p p and @p shape and gives the channel count C and the length
 * G·C of the cache's mean and istd arrays.
 * @param[in]  p          parameters.
 * @param[in]  shape      input shape, rank 2..5.
 * @param[out] channels   C (may be NULL).
 * @param[out] cache_len  G·C (may be NULL).
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
nnr_status nnr_batchnorm_sizes(const nnr_batchnorm_params *p, const nnr_shape *shape,
                               size_t *channels, size_t *cache_len);

/** Sets a state to the frameworks' initial values (mean 0, variance 1, stddevs 1, step 0) for C channels; NULL arrays are skipped.
 * @param[out] state     the state whose arrays (C values each) are filled.
 * @param[in]  channels  C.
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
nnr_status nnr_batchnorm_state_init(nnr_batchnorm_state *state, size_t channels);
/** As nnr_batchnorm_state_init(), for the double state.
 * @param[out] state     the state whose arrays (C values each) are filled.
 * @param[in]  channels  C.
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
nnr_status nnr_batchnorm_state_init_f64(nnr_batchnorm_state_f64 *state, size_t channels);

/**
 * Training forward: normalizes with batch statistics, fills @p cache, and,
 * if @p state is not NULL, updates the running statistics and counts the step.
 * @param[in]     p      parameters (see presets).
 * @param[in]     shape  shape of x and y, rank 2..5.
 * @param[in]     x      input.
 * @param[in]     gamma  (C) scale γ; read only if p->scale.
 * @param[in]     beta   (C) offset β; read only if p->center.
 * @param[out]    y      output, same shape as x (may equal x: in place).
 * @param[in]     cache  where to save mean, istd (and r, d with renorm).
 * @param[in,out] state  running statistics, or NULL not to track them (PyTorch track_running_stats=False). Required with renorm.
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
typedef nnr_status (*nnr_batchnorm_fwd_train_fn)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                                  const float *x, const float *gamma, const float *beta,
                                                  float *y, const nnr_batchnorm_cache *cache,
                                                  nnr_batchnorm_state *state);

/**
 * Inference forward: normalizes with the running statistics,
 * \f$ y = \gamma(x-\hat\mu)(\hat v+\varepsilon)^{-1/2} + \beta \f$.
 * @param[in]  p      parameters.
 * @param[in]  shape  shape of x and y.
 * @param[in]  x      input.
 * @param[in]  gamma  (C) read only if p->scale.
 * @param[in]  beta   (C) read only if p->center.
 * @param[out] y      output (may equal x).
 * @param[in]  state  running_mean and running_var are read.
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
typedef nnr_status (*nnr_batchnorm_fwd_infer_fn)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                                  const float *x, const float *gamma, const float *beta,
                                                  float *y, const nnr_batchnorm_state *state);

/**
 * Training backward: dx, dγ, dβ from dy and the cache of the training forward.
 * Gradients are written, not accumulated.
 * @param[in]  p       parameters used for the forward.
 * @param[in]  shape   shape of x, dy and dx.
 * @param[in]  x       forward input.
 * @param[in]  gamma   (C) read only if p->scale.
 * @param[in]  cache   mean, istd (and r, d with renorm) saved by the forward.
 * @param[in]  dy      gradient of the loss with respect to y.
 * @param[out] dx      gradient with respect to x (may equal dy).
 * @param[out] dgamma  (C) written only if p->scale (may be NULL otherwise).
 * @param[out] dbeta   (C) written only if p->center (may be NULL otherwise).
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
typedef nnr_status (*nnr_batchnorm_bwd_train_fn)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                                  const float *x, const float *gamma,
                                                  const nnr_batchnorm_cache *cache, const float *dy,
                                                  float *dx, float *dgamma, float *dbeta);

/**
 * Inference backward: the running statistics are constants,
 * \f$ dx = dy\,\gamma(\hat v+\varepsilon)^{-1/2},\; d\gamma = \sum dy\,(x-\hat\mu)(\hat v+\varepsilon)^{-1/2},\; d\beta = \sum dy \f$.
 * @param[in]  p       parameters.
 * @param[in]  shape   shape of x, dy and dx.
 * @param[in]  x       forward input.
 * @param[in]  gamma   (C) read only if p->scale.
 * @param[in]  state   running_mean and running_var are read.
 * @param[in]  dy      gradient of the loss with respect to y.
 * @param[out] dx      gradient with respect to x (may equal dy).
 * @param[out] dgamma  (C) written only if p->scale (may be NULL otherwise).
 * @param[out] dbeta   (C) written only if p->center (may be NULL otherwise).
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
typedef nnr_status (*nnr_batchnorm_bwd_infer_fn)(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                                  const float *x, const float *gamma,
                                                  const nnr_batchnorm_state *state, const float *dy,
                                                  float *dx, float *dgamma, float *dbeta);

/** @name Dispatching entry points (float): the implementation nnr_impl_name() reports.
 *  @{ */
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_batchnorm_fwd_train_fn */
nnr_status nnr_batchnorm_fwd_train(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                   const float *x, const float *gamma, const float *beta,
                                   float *y, const nnr_batchnorm_cache *cache,
                                   nnr_batchnorm_state *state);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_batchnorm_fwd_infer_fn */
nnr_status nnr_batchnorm_fwd_infer(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                   const float *x, const float *gamma, const float *beta,
                                   float *y, const nnr_batchnorm_state *state);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_batchnorm_bwd_train_fn */
nnr_status nnr_batchnorm_bwd_train(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                   const float *x, const float *gamma,
                                   const nnr_batchnorm_cache *cache, const float *dy,
                                   float *dx, float *dgamma, float *dbeta);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_batchnorm_bwd_infer_fn */
nnr_status nnr_batchnorm_bwd_infer(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                   const float *x, const float *gamma,
                                   const nnr_batchnorm_state *state, const float *dy,
                                   float *dx, float *dgamma, float *dbeta);
/** @} */

/** @name Naive kernels (float): the readable reference, src/norm/batchnorm_naive.c
 *  @{ */
/** Naive kernel (float). @copydoc nnr_batchnorm_fwd_train_fn */
nnr_status nnr_batchnorm_fwd_train_naive(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                         const float *x, const float *gamma, const float *beta,
                                         float *y, const nnr_batchnorm_cache *cache,
                                         nnr_batchnorm_state *state);
/** Naive kernel (float). @copydoc nnr_batchnorm_fwd_infer_fn */
nnr_status nnr_batchnorm_fwd_infer_naive(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                         const float *x, const float *gamma, const float *beta,
                                         float *y, const nnr_batchnorm_state *state);
/** Closed-form backward: dx = γ·istd·(dy − mean(dy) − x̂·mean(dy·x̂)).
 * @copydetails nnr_batchnorm_bwd_train_fn */
nnr_status nnr_batchnorm_bwd_train_naive(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                         const float *x, const float *gamma,
                                         const nnr_batchnorm_cache *cache, const float *dy,
                                         float *dx, float *dgamma, float *dbeta);
/** Staged backward of document 002 (CS231n): dx̂, then dvar, then dmu, then dx. Same result as the closed form.
 * @copydetails nnr_batchnorm_bwd_train_fn */
nnr_status nnr_batchnorm_bwd_train_staged_naive(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                                const float *x, const float *gamma,
                                                const nnr_batchnorm_cache *cache, const float *dy,
                                                float *dx, float *dgamma, float *dbeta);
/** Naive kernel (float). @copydoc nnr_batchnorm_bwd_infer_fn */
nnr_status nnr_batchnorm_bwd_infer_naive(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                         const float *x, const float *gamma,
                                         const nnr_batchnorm_state *state, const float *dy,
                                         float *dx, float *dgamma, float *dbeta);
/** @} */

/** @name Naive kernels (double): the same source built over double, for gradient checks
 *  @{ */
/** Naive kernel built over double (arrays are double). @copydoc nnr_batchnorm_fwd_train_fn */
nnr_status nnr_batchnorm_fwd_train_naive_f64(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                             const double *x, const double *gamma, const double *beta,
                                             double *y, const nnr_batchnorm_cache_f64 *cache,
                                             nnr_batchnorm_state_f64 *state);
/** Naive kernel built over double (arrays are double). @copydoc nnr_batchnorm_fwd_infer_fn */
nnr_status nnr_batchnorm_fwd_infer_naive_f64(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                             const double *x, const double *gamma, const double *beta,
                                             double *y, const nnr_batchnorm_state_f64 *state);
/** Naive kernel built over double (arrays are double). @copydoc nnr_batchnorm_bwd_train_fn */
nnr_status nnr_batchnorm_bwd_train_naive_f64(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                             const double *x, const double *gamma,
                                             const nnr_batchnorm_cache_f64 *cache, const double *dy,
                                             double *dx, double *dgamma, double *dbeta);
/** Naive kernel built over double (arrays are double). Staged backward of document 002. @copydoc nnr_batchnorm_bwd_train_fn */
nnr_status nnr_batchnorm_bwd_train_staged_naive_f64(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                                    const double *x, const double *gamma,
                                                    const nnr_batchnorm_cache_f64 *cache, const double *dy,
                                                    double *dx, double *dgamma, double *dbeta);
/** Naive kernel built over double (arrays are double). @copydoc nnr_batchnorm_bwd_infer_fn */
nnr_status nnr_batchnorm_bwd_infer_naive_f64(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                             const double *x, const double *gamma,
                                             const nnr_batchnorm_state_f64 *state, const double *dy,
                                             double *dx, double *dgamma, double *dbeta);
/** @} */

/** @name AVX2 kernels (float), src/norm/batchnorm_avx2.c
 *  Present when nnr_avx2_compiled() is 1; call them only when nnr_avx2_usable() is 1.
 *  @{ */
/** AVX2 + FMA kernel (float). @copydoc nnr_batchnorm_fwd_train_fn */
nnr_status nnr_batchnorm_fwd_train_avx2(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                        const float *x, const float *gamma, const float *beta,
                                        float *y, const nnr_batchnorm_cache *cache,
                                        nnr_batchnorm_state *state);
/** AVX2 + FMA kernel (float). @copydoc nnr_batchnorm_fwd_infer_fn */
nnr_status nnr_batchnorm_fwd_infer_avx2(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                        const float *x, const float *gamma, const float *beta,
                                        float *y, const nnr_batchnorm_state *state);
/** AVX2 + FMA kernel (float). @copydoc nnr_batchnorm_bwd_train_fn */
nnr_status nnr_batchnorm_bwd_train_avx2(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                        const float *x, const float *gamma,
                                        const nnr_batchnorm_cache *cache, const float *dy,
                                        float *dx, float *dgamma, float *dbeta);
/** AVX2 + FMA kernel (float). @copydoc nnr_batchnorm_bwd_infer_fn */
nnr_status nnr_batchnorm_bwd_infer_avx2(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                        const float *x, const float *gamma,
                                        const nnr_batchnorm_state *state, const float *dy,
                                        float *dx, float *dgamma, float *dbeta);
/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_BATCHNORM_H */
