/**
 * @file dropout.h
 * @brief Dropout with the exact conventions of Keras 3 / TensorFlow and
 *        PyTorch, inverted (scale at training) or classic (Srivastava et al.
 *        2014: scale at test time), with Keras' noise_shape broadcasting.
 *
 * **Mask.** Training draws one keep/drop decision per element of the *noise
 * tensor*, whose shape is the input's shape or, with Keras' noise_shape, the
 * same rank with extent 1 on the axes where one decision is shared (e.g.
 * (N, 1, 1, C) drops whole channels of an NHWC image). The decisions come
 * from the counter-based generator Philox4x32-10 (nnr_philox4x32()): noise
 * element j (row-major) takes the counter \f$g = \mathrm{offset} + j\f$ and
 * the 32-bit word \f$w = \mathrm{philox}(\mathrm{seed}, \lfloor g/4\rfloor)[g \bmod 4]\f$.
 * With the 24-bit uniform \f$u = \lfloor w / 2^8\rfloor\f$ and the threshold
 * \f$T = \lceil \mathrm{rate}\cdot 2^{24}\rceil\f$:
 * \f[ \mathrm{keep}_j \iff u \ge T \iff u\,2^{-24} \ge \mathrm{rate}, \f]
 * TensorFlow's rule (`random_uniform >= rate`) with a 24-bit uniform, decided
 * in integers so that every implementation decides alike. Rate 0 gives T = 0
 * (every element kept), rate 1 gives T = 2^24 (every element dropped); in
 * general P(drop) = T/2^24, which is the rate itself when rate·2^24 is an
 * integer (0.25, 0.5, ...) and exceeds it by less than 2^-24 otherwise.
 * A decision depends on (seed, offset + j) alone, so the naive kernel, the
 * AVX2 kernel and any split of the tensor between threads draw the same
 * mask. Successive batches draw new masks when the caller advances offset by
 * the mask's element count (nnr_dropout_mask_count()) after each one.
 *
 * **Forward, training** (m = keep as 0/1, broadcast from the noise tensor):
 * - inverted (Keras, PyTorch): scale \f$s = 1/(1-\mathrm{rate})\f$ (0 when
 *   rate = 1), rounded to the kernel's precision as the framework of the
 *   rule rounds it: with ::NNR_DROPOUT_ZERO, TensorFlow's
 *   \f$\mathrm{fl}(1/(1-\mathrm{rate}))\f$; with ::NNR_DROPOUT_MULTIPLY,
 *   PyTorch's \f$\mathrm{fl}(1/\mathrm{fl}(1-p))\f$ (`noise.div_(1 - p)`).
 *   In float the two part in the last bit for some rates (0.15: 1.17647064
 *   against 1.17647052);
 *   ::NNR_DROPOUT_ZERO: \f$y = m\ ?\ x\,s : 0\f$ (Keras' `where(keep, x·scale, 0)`:
 *   exact +0 in dropped cells even for ±inf and NaN; rate 1 is `zeros_like(x)`);
 *   ::NNR_DROPOUT_MULTIPLY: \f$y = (x\,m)\,s\f$ (PyTorch's `x·mask·scale`:
 *   a dropped ±inf or NaN gives NaN, a dropped negative gives −0).
 * - classic (document 002, Srivastava et al.): s = 1, \f$y = m\ ?\ x : 0\f$
 *   (ZERO) or \f$y = x\,m\f$ (MULTIPLY).
 *
 * Kept cells are \f$x\,s\f$, one rounded product, as TensorFlow's
 * `x * scale` and PyTorch's `input * noise` with noise = mask/(1−p). (Keras'
 * JAX and NumPy backends divide, x/(1−rate), which can differ in the last
 * bit.)
 *
 * **Forward, inference**: inverted: \f$y = x\f$ (identity, as both
 * frameworks); classic: \f$y = (1-\mathrm{rate})\,x\f$ with 1−rate rounded
 * once (document 002's "scaled down" at test time).
 *
 * **Backward** (training): \f$dx = m\ ?\ dy\,s : 0\f$ (ZERO) or
 * \f$dx = (dy\,m)\,s\f$ (MULTIPLY), s as in the forward: dropout is linear in
 * x for a fixed mask, and this is its transpose. Inference's Jacobian is the
 * constant 1 (inverted) or 1−rate (classic).
 *
 * All buffers are owned by the caller; kernels never allocate. y may equal x
 * and dx may equal dy (elementwise, in place). A rejected call returns a
 * status naming the argument and writes nothing.
 */
#ifndef NNREF_DROPOUT_H
#define NNREF_DROPOUT_H

#include <stdint.h>
#include "nnref/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup dropout Dropout
 *  @{ */

/** What a dropped cell becomes (SEMANTICS.md §5), and with it the training formula. */
typedef enum nnr_dropout_rate1 {
    NNR_DROPOUT_ZERO = 0,     /**< Keras: `where(keep, x·s, 0)`: exactly +0, even for ±inf and NaN; rate 1 gives zeros. */
    NNR_DROPOUT_MULTIPLY = 1  /**< PyTorch: `x·mask·s`: x·0, so ±inf and NaN give NaN and a negative gives −0. */
} nnr_dropout_rate1;

/** Parameters of a dropout layer. Start from a preset and change fields. */
typedef struct nnr_dropout_params {
    double rate;                /**< Probability of dropping an element, in [0, 1] (Keras rate, PyTorch p). */
    int inverted;               /**< 1 (Keras, PyTorch): scale kept cells by 1/(1−rate) at training, identity at inference. 0 (classic, document 002): no scale at training, multiply by 1−rate at inference. */
    nnr_dropout_rate1 rate1;    /**< Value of dropped cells: ::NNR_DROPOUT_ZERO (Keras) or ::NNR_DROPOUT_MULTIPLY (PyTorch). */
    uint64_t seed;              /**< Philox key: the same seed and offset draw the same mask. */
    uint64_t offset;            /**< Counter of the noise tensor's first element; advance it by nnr_dropout_mask_count() after each batch for a new mask. */
    nnr_shape noise_shape;      /**< Keras noise_shape: rank 0 means "the input's shape" (noise_shape=None); otherwise the input's rank, each extent either the input's, 1 (one decision shared along that axis), or 0 (Keras' None entry: the input's extent). */
} nnr_dropout_params;

/** Keras 3 `Dropout(rate)` defaults: inverted, dropped cells exactly 0,
 *  noise_shape None, seed 0 and offset 0.
 * @param rate  drop probability.
 * @return the parameters. */
nnr_dropout_params nnr_dropout_keras(double rate);

/** PyTorch `nn.Dropout(p)` defaults: inverted, dropped cells x·0,
 *  no noise_shape (every element its own decision), seed 0 and offset 0.
 * @param p  drop probability.
 * @return the parameters. */
nnr_dropout_params nnr_dropout_torch(double p);

/**
 * Validates @p p against @p shape and gives the number of mask entries (the
 * noise tensor's element count: the input's, or fewer with noise_shape).
 * @param[in]  p      parameters.
 * @param[in]  shape  input shape.
 * @param[out] count  mask entries; written only on success.
 * @return ::NNR_OK, or a status naming the faulty argument: ::NNR_ERR_PARAM
 *         for a rate outside [0, 1] or NaN, an unknown rate1, or a
 *         noise_shape whose rank differs from the input's or whose extent
 *         on some axis is neither the input's, 1 nor 0 (not broadcastable);
 *         ::NNR_ERR_SHAPE for a bad input shape; ::NNR_ERR_OVERFLOW when a
 *         size does not fit in size_t.
 */
nnr_status nnr_dropout_mask_count(const nnr_dropout_params *p, const nnr_shape *shape, size_t *count);

/**
 * Dropout forward in training mode: draws the mask and applies it.
 * @param[in]  p      parameters (rate, scaling, seed, offset, noise_shape).
 * @param[in]  shape  shape of x and y.
 * @param[in]  x      input.
 * @param[out] y      output (may be x).
 * @param[out] mask   the keep decisions, one byte per noise-tensor element
 *                    (nnr_dropout_mask_count()): 1 kept, 0 dropped; the
 *                    backward needs it.
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written).
 */
typedef nnr_status (*nnr_dropout_fwd_train_fn)(const nnr_dropout_params *p, const nnr_shape *shape,
                                               const float *x, float *y, uint8_t *mask);

/**
 * Dropout forward in inference mode: y = x (inverted) or y = (1−rate)·x (classic).
 * @param[in]  p      parameters.
 * @param[in]  shape  shape of x and y.
 * @param[in]  x      input.
 * @param[out] y      output (may be x).
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written).
 */
typedef nnr_status (*nnr_dropout_fwd_infer_fn)(const nnr_dropout_params *p, const nnr_shape *shape,
                                               const float *x, float *y);

/**
 * Dropout backward (training): dx = dy·mask·s, by the rule of p->rate1.
 * @param[in]  p      parameters of the forward.
 * @param[in]  shape  shape of dy and dx.
 * @param[in]  dy     gradient with respect to y.
 * @param[in]  mask   the forward's mask (non-zero means kept).
 * @param[out] dx     gradient with respect to x (may be dy).
 * @return ::NNR_OK, or a status naming the faulty argument (nothing written).
 */
typedef nnr_status (*nnr_dropout_bwd_fn)(const nnr_dropout_params *p, const nnr_shape *shape,
                                         const float *dy, const uint8_t *mask, float *dx);

/** @name Dropout kernels
 *  Dispatching entry points and each implementation, one signature per pass.
 *  The double versions (suffix _naive_f64) take and give double in place of
 *  float and draw the same masks; the gradient checker differentiates them.
 *  @{ */
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_dropout_fwd_train_fn */
nnr_status nnr_dropout_fwd_train(const nnr_dropout_params *p, const nnr_shape *shape, const float *x, float *y, uint8_t *mask);
/** Naive kernel (float), src/dropout/dropout_naive.c. @copydoc nnr_dropout_fwd_train_fn */
nnr_status nnr_dropout_fwd_train_naive(const nnr_dropout_params *p, const nnr_shape *shape, const float *x, float *y, uint8_t *mask);
/** AVX2 + FMA kernel (float), src/dropout/dropout_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_dropout_fwd_train_fn */
nnr_status nnr_dropout_fwd_train_avx2(const nnr_dropout_params *p, const nnr_shape *shape, const float *x, float *y, uint8_t *mask);
/** Naive kernel built over double (x, y are double). @copydoc nnr_dropout_fwd_train_fn */
nnr_status nnr_dropout_fwd_train_naive_f64(const nnr_dropout_params *p, const nnr_shape *shape, const double *x, double *y, uint8_t *mask);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_dropout_fwd_infer_fn */
nnr_status nnr_dropout_fwd_infer(const nnr_dropout_params *p, const nnr_shape *shape, const float *x, float *y);
/** Naive kernel (float), src/dropout/dropout_naive.c. @copydoc nnr_dropout_fwd_infer_fn */
nnr_status nnr_dropout_fwd_infer_naive(const nnr_dropout_params *p, const nnr_shape *shape, const float *x, float *y);
/** AVX2 + FMA kernel (float), src/dropout/dropout_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_dropout_fwd_infer_fn */
nnr_status nnr_dropout_fwd_infer_avx2(const nnr_dropout_params *p, const nnr_shape *shape, const float *x, float *y);
/** Naive kernel built over double (x, y are double). @copydoc nnr_dropout_fwd_infer_fn */
nnr_status nnr_dropout_fwd_infer_naive_f64(const nnr_dropout_params *p, const nnr_shape *shape, const double *x, double *y);
/** Dispatching entry point (naive or AVX2, see nnr_impl_name()). @copydoc nnr_dropout_bwd_fn */
nnr_status nnr_dropout_bwd(const nnr_dropout_params *p, const nnr_shape *shape, const float *dy, const uint8_t *mask, float *dx);
/** Naive kernel (float), src/dropout/dropout_naive.c. @copydoc nnr_dropout_bwd_fn */
nnr_status nnr_dropout_bwd_naive(const nnr_dropout_params *p, const nnr_shape *shape, const float *dy, const uint8_t *mask, float *dx);
/** AVX2 + FMA kernel (float), src/dropout/dropout_avx2.c. Present when nnr_avx2_compiled() is 1; call only when nnr_avx2_usable() is 1. @copydoc nnr_dropout_bwd_fn */
nnr_status nnr_dropout_bwd_avx2(const nnr_dropout_params *p, const nnr_shape *shape, const float *dy, const uint8_t *mask, float *dx);
/** Naive kernel built over double (dy, dx are double). @copydoc nnr_dropout_bwd_fn */
nnr_status nnr_dropout_bwd_naive_f64(const nnr_dropout_params *p, const nnr_shape *shape, const double *dy, const uint8_t *mask, double *dx);
/** @} */

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_DROPOUT_H */
