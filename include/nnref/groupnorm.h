/**
 * @file groupnorm.h
 * @brief Group normalization (Wu & He 2018) and instance normalization
 *        (Ulyanov et al. 2016) with the conventions of Keras 3, TensorFlow
 *        Addons and PyTorch.
 *
 * A tensor of rank 2..5 is seen, like BatchNorm's, as (N, pre, C, post)
 * around the channel axis (@ref nnr_groupnorm_params::axis): channels_last
 * (N, *spatial, C) has post = 1, channels_first (N, C, *spatial) has pre = 1.
 * The C channels are split into G groups of C/G consecutive channels. For
 * sample n and group g the statistics are taken over the m = (C/G)·pre·post
 * values of those channels:
 * \f[ \mu_{ng} = \frac{1}{m}\sum_i x_i, \qquad
 *     \sigma^2_{ng} = \frac{1}{m}\sum_i (x_i-\mu_{ng})^2, \qquad
 *     \hat{x}_i = (x_i-\mu_{ng})\,(\sigma^2_{ng}+\varepsilon)^{-1/2}, \qquad
 *     y_i = \gamma_c\hat{x}_i + \beta_c , \f]
 * with γ and β per channel (C values). The variance is biased and always
 * computed from centred values, never as \f$E[x^2]-E[x]^2\f$.
 *
 * Backward, per (n, g) with \f$d\hat{x}_i = dy_i\,\gamma_c\f$ and means over
 * the group's m values:
 * \f[ dx_i = (\sigma^2_{ng}+\varepsilon)^{-1/2}
 *            \Big(d\hat{x}_i - \overline{d\hat{x}} - \hat{x}_i\,\overline{d\hat{x}\,\hat{x}}\Big), \qquad
 *     \frac{\partial L}{\partial \gamma_c} = \sum_{n,\,\text{spatial}} dy_i\,\hat{x}_i, \qquad
 *     \frac{\partial L}{\partial \beta_c} = \sum_{n,\,\text{spatial}} dy_i . \f]
 *
 * Special cases: G = C is instance normalization (Keras/TFA
 * InstanceNormalization is GroupNormalization(groups=−1)); G = 1 takes the
 * statistics of LayerNorm over all non-batch axes, but with per-channel
 * rather than per-element γ and β.
 *
 * All buffers are owned by the caller; kernels never allocate. A rejected call
 * returns a status naming the argument and writes nothing.
 */
#ifndef NNREF_GROUPNORM_H
#define NNREF_GROUPNORM_H

#include "nnref/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup groupnorm Group and instance normalization
 *  @{ */

/** Parameters of a GroupNorm layer. Start from a preset and change fields. */
typedef struct nnr_groupnorm_params {
    int groups;      /**< G ≥ 1 dividing C, or −1 for one group per channel (Keras). */
    int axis;        /**< Channel axis; negative counts from the end (−1 = last, Keras). Must not be the batch axis 0. */
    double epsilon;  /**< Added to the variance before the square root; ≥ 0, finite. */
    int center;      /**< 1: add β (Keras center, PyTorch affine). 0: β is neither read nor differentiated. */
    int scale;       /**< 1: multiply by γ (Keras scale, PyTorch affine). 0: γ is neither read nor differentiated. */
} nnr_groupnorm_params;

/** Keras 3 / TFA GroupNormalization defaults with @p groups groups: axis −1 (channels_last), ε 1e-3, center and scale.
 * @param groups  G, or −1 for one group per channel.
 * @return the parameters. */
nnr_groupnorm_params nnr_groupnorm_keras(int groups);

/** PyTorch GroupNorm(num_groups, C) defaults: axis 1 (channels_first), ε 1e-5, affine.
 * @param groups  num_groups.
 * @return the parameters. */
nnr_groupnorm_params nnr_groupnorm_torch(int groups);

/** What the forward saves for the backward (float): one value per (sample, group). */
typedef struct nnr_groupnorm_cache {
    float *mean;  /**< (N, G) group mean. */
    float *istd;  /**< (N, G) inverse standard deviation (σ² + ε)^−½. */
    float *var;   /**< (N, G) biased group variance σ², written when not NULL (InstanceNorm's running statistics need it). */
} nnr_groupnorm_cache;

/** Saved values for backward (double), as ::nnr_groupnorm_cache. */
typedef struct nnr_groupnorm_cache_f64 {
    double *mean;  /**< (N, G) see ::nnr_groupnorm_cache. */
    double *istd;  /**< (N, G) see ::nnr_groupnorm_cache. */
    double *var;   /**< (N, G) see ::nnr_groupnorm_cache. */
} nnr_groupnorm_cache_f64;

/**
 * Validates @p p and @p shape and gives the channel count, the group count
 * (−1 resolved to C) and the length N·G of the cache arrays.
 * @param[in]  p          parameters.
 * @param[in]  shape      input shape, rank 2..5.
 * @param[out] channels   C (may be NULL).
 * @param[out] groups     G (may be NULL).
 * @param[out] cache_len  N·G (may be NULL).
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
nnr_status nnr_groupnorm_sizes(const nnr_groupnorm_params *p, const nnr_shape *shape,
                               size_t *channels, size_t *groups, size_t *cache_len);

/**
 * Forward (there is no separate inference mode: GroupNorm always uses the
 * statistics of the input).
 * @param[in]  p      parameters (see presets).
 * @param[in]  shape  shape of x and y, rank 2..5.
 * @param[in]  x      input.
 * @param[in]  gamma  (C) scale γ; read only if p->scale.
 * @param[in]  beta   (C) offset β; read only if p->center.
 * @param[out] y      output, same shape as x (may equal x: in place).
 * @param[in]  cache  where to save mean and istd (and var if not NULL), (N, G) each.
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
typedef nnr_status (*nnr_groupnorm_fwd_fn)(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                           const float *x, const float *gamma, const float *beta,
                                           float *y, const nnr_groupnorm_cache *cache);

/**
 * Backward: dx, dγ, dβ from dy and the cache of the forward. Gradients are
 * written, not accumulated.
 * @param[in]  p       parameters used for the forward.
 * @param[in]  shape   shape of x, dy and dx.
 * @param[in]  x       forward input.
 * @param[in]  gamma   (C) read only if p->scale.
 * @param[in]  cache   mean and istd saved by the forward.
 * @param[in]  dy      gradient of the loss with respect to y.
 * @param[out] dx      gradient with respect to x (may equal dy).
 * @param[out] dgamma  (C) written only if p->scale (may be NULL otherwise).
 * @param[out] dbeta   (C) written only if p->center (may be NULL otherwise).
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
typedef nnr_status (*nnr_groupnorm_bwd_fn)(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                           const float *x, const float *gamma,
                                           const nnr_groupnorm_cache *cache, const float *dy,
                                           float *dx, float *dgamma, float *dbeta);

/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_groupnorm_fwd_fn */
nnr_status nnr_groupnorm_fwd(const nnr_groupnorm_params *p, const nnr_shape *shape,
                             const float *x, const float *gamma, const float *beta,
                             float *y, const nnr_groupnorm_cache *cache);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_groupnorm_bwd_fn */
nnr_status nnr_groupnorm_bwd(const nnr_groupnorm_params *p, const nnr_shape *shape,
                             const float *x, const float *gamma,
                             const nnr_groupnorm_cache *cache, const float *dy,
                             float *dx, float *dgamma, float *dbeta);

/** Naive kernel (float), src/norm/groupnorm_naive.c. @copydoc nnr_groupnorm_fwd_fn */
nnr_status nnr_groupnorm_fwd_naive(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                   const float *x, const float *gamma, const float *beta,
                                   float *y, const nnr_groupnorm_cache *cache);
/** Naive kernel (float), src/norm/groupnorm_naive.c. @copydoc nnr_groupnorm_bwd_fn */
nnr_status nnr_groupnorm_bwd_naive(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                   const float *x, const float *gamma,
                                   const nnr_groupnorm_cache *cache, const float *dy,
                                   float *dx, float *dgamma, float *dbeta);
/** Naive kernel built over double (arrays are double). @copydoc nnr_groupnorm_fwd_fn */
nnr_status nnr_groupnorm_fwd_naive_f64(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                       const double *x, const double *gamma, const double *beta,
                                       double *y, const nnr_groupnorm_cache_f64 *cache);
/** Naive kernel built over double (arrays are double). @copydoc nnr_groupnorm_bwd_fn */
nnr_status nnr_groupnorm_bwd_naive_f64(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                       const double *x, const double *gamma,
                                       const nnr_groupnorm_cache_f64 *cache, const double *dy,
                                       double *dx, double *dgamma, double *dbeta);
/** AVX2 + FMA kernel (float), src/norm/groupnorm_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1.
 * @copydoc nnr_groupnorm_fwd_fn */
nnr_status nnr_groupnorm_fwd_avx2(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                  const float *x, const float *gamma, const float *beta,
                                  float *y, const nnr_groupnorm_cache *cache);
/** AVX2 + FMA kernel (float), src/norm/groupnorm_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1.
 * @copydoc nnr_groupnorm_bwd_fn */
nnr_status nnr_groupnorm_bwd_avx2(const nnr_groupnorm_params *p, const nnr_shape *shape,
                                  const float *x, const float *gamma,
                                  const nnr_groupnorm_cache *cache, const float *dy,
                                  float *dx, float *dgamma, float *dbeta);

/* ------------------------------------------------------------------------- */

/**
 * Parameters of an InstanceNorm layer: GroupNorm with one group per channel,
 * plus PyTorch's running statistics. Training (nnr_instancenorm_fwd_train())
 * always normalizes with the statistics of each (sample, channel); passing a
 * state there is PyTorch's track_running_stats=True, and
 * nnr_instancenorm_fwd_infer() then normalizes with the running statistics
 * (PyTorch eval mode). Without tracking, PyTorch's eval mode is
 * nnr_instancenorm_fwd_train() with a NULL state.
 *
 * Running statistics, with the per-instance means \f$\mu_{nc}\f$ and
 * UNBIASED variances \f$s^2_{nc} = \sigma^2_{nc}\,m/(m-1)\f$ over the m
 * spatial values, and PyTorch's momentum f:
 * \f[ \hat\mu_c \leftarrow (1-f)\,\hat\mu_c + f\,\tfrac{1}{N}\textstyle\sum_n \mu_{nc}, \qquad
 *     \hat v_c \leftarrow (1-f)\,\hat v_c + f\,\tfrac{1}{N}\textstyle\sum_n s^2_{nc} . \f]
 */
typedef struct nnr_instancenorm_params {
    int axis;                    /**< Channel axis (1 PyTorch, −1 Keras); not 0. */
    double epsilon;              /**< Added to the variance; ≥ 0, finite. */
    double momentum;             /**< PyTorch's momentum: weight f of the NEW statistics in the running update, in [0, 1] (0.1). */
    int center;                  /**< 1: add β (PyTorch affine, off by default; Keras center). */
    int scale;                   /**< 1: multiply by γ (PyTorch affine, off by default; Keras scale). */
    int error_on_single_spatial; /**< 1: training with one spatial value per instance is an error, as in PyTorch. 0: y = β (Keras). */
} nnr_instancenorm_params;

/** PyTorch InstanceNorm{1,2,3}d(C) defaults: axis 1, ε 1e-5, momentum 0.1, affine off, one spatial value is an error.
 * @return the parameters. */
nnr_instancenorm_params nnr_instancenorm_torch(void);

/** Keras / TFA InstanceNormalization defaults (GroupNormalization(groups=−1)): axis −1, ε 1e-3, center and scale.
 * @return the parameters. */
nnr_instancenorm_params nnr_instancenorm_keras(void);

/** The GroupNorm parameters InstanceNorm runs with: groups −1 and the same axis, ε, center and scale.
 * @param[in] p  InstanceNorm parameters.
 * @return the GroupNorm parameters. */
nnr_groupnorm_params nnr_instancenorm_as_groupnorm(const nnr_instancenorm_params *p);

/** Running statistics of InstanceNorm (float), one value per channel. */
typedef struct nnr_instancenorm_state {
    float *running_mean;          /**< (C) initial 0. */
    float *running_var;           /**< (C) initial 1; updated with unbiased variances. */
    uint64_t num_batches_tracked; /**< Training steps taken. */
} nnr_instancenorm_state;

/** Running statistics of InstanceNorm (double), as ::nnr_instancenorm_state. */
typedef struct nnr_instancenorm_state_f64 {
    double *running_mean;         /**< (C) see ::nnr_instancenorm_state. */
    double *running_var;          /**< (C) see ::nnr_instancenorm_state. */
    uint64_t num_batches_tracked; /**< see ::nnr_instancenorm_state. */
} nnr_instancenorm_state_f64;

/**
 * Training forward: GroupNorm with groups = C; if @p state is not NULL,
 * updates the running statistics (then cache->var must not be NULL) and
 * counts the step.
 * @param[in]     p      parameters.
 * @param[in]     shape  shape of x and y.
 * @param[in]     x      input.
 * @param[in]     gamma  (C) read only if p->scale.
 * @param[in]     beta   (C) read only if p->center.
 * @param[out]    y      output (may equal x).
 * @param[in]     cache  (N, C) arrays: mean, istd, and var (required with a state).
 * @param[in,out] state  running statistics, or NULL not to track them.
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
nnr_status nnr_instancenorm_fwd_train(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                      const float *x, const float *gamma, const float *beta, float *y,
                                      const nnr_groupnorm_cache *cache, nnr_instancenorm_state *state);
/**
 * Inference forward with the running statistics (PyTorch eval with
 * track_running_stats=True): \f$ y = \gamma_c(x-\hat\mu_c)(\hat v_c+\varepsilon)^{-1/2} + \beta_c \f$.
 * @param[in]  p      parameters.
 * @param[in]  shape  shape of x and y.
 * @param[in]  x      input.
 * @param[in]  gamma  (C) read only if p->scale.
 * @param[in]  beta   (C) read only if p->center.
 * @param[out] y      output (may equal x).
 * @param[in]  state  running_mean and running_var are read.
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
nnr_status nnr_instancenorm_fwd_infer(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                      const float *x, const float *gamma, const float *beta, float *y,
                                      const nnr_instancenorm_state *state);
/**
 * Training backward: GroupNorm's backward with groups = C.
 * @param[in]  p       parameters used for the forward.
 * @param[in]  shape   shape of x, dy and dx.
 * @param[in]  x       forward input.
 * @param[in]  gamma   (C) read only if p->scale.
 * @param[in]  cache   mean and istd saved by the forward.
 * @param[in]  dy      gradient of the loss with respect to y.
 * @param[out] dx      gradient with respect to x (may equal dy).
 * @param[out] dgamma  (C) written only if p->scale.
 * @param[out] dbeta   (C) written only if p->center.
 * @return ::NNR_OK, or a status naming the faulty argument (then nothing is written).
 */
nnr_status nnr_instancenorm_bwd_train(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                      const float *x, const float *gamma, const nnr_groupnorm_cache *cache,
                                      const float *dy, float *dx, float *dgamma, float *dbeta);
/** As nnr_instancenorm_fwd_train(), through the naive kernels (float).
 * @copydetails nnr_instancenorm_fwd_train */
nnr_status nnr_instancenorm_fwd_train_naive(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                            const float *x, const float *gamma, const float *beta, float *y,
                                            const nnr_groupnorm_cache *cache, nnr_instancenorm_state *state);
/** As nnr_instancenorm_fwd_train(), through the naive kernels built over double.
 * @copydetails nnr_instancenorm_fwd_train */
nnr_status nnr_instancenorm_fwd_train_naive_f64(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                                const double *x, const double *gamma, const double *beta,
                                                double *y, const nnr_groupnorm_cache_f64 *cache,
                                                nnr_instancenorm_state_f64 *state);
/** As nnr_instancenorm_fwd_infer(), naive double.
 * @copydetails nnr_instancenorm_fwd_infer */
nnr_status nnr_instancenorm_fwd_infer_naive_f64(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                                const double *x, const double *gamma, const double *beta,
                                                double *y, const nnr_instancenorm_state_f64 *state);
/** As nnr_instancenorm_bwd_train(), naive double.
 * @copydetails nnr_instancenorm_bwd_train */
nnr_status nnr_instancenorm_bwd_train_naive_f64(const nnr_instancenorm_params *p, const nnr_shape *shape,
                                                const double *x, const double *gamma,
                                                const nnr_groupnorm_cache_f64 *cache, const double *dy,
                                                double *dx, double *dgamma, double *dbeta);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_GROUPNORM_H */
