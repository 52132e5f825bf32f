/**
 * @file gradcheck.h
 * @brief Finite-difference gradient checking: proves a backward pass right.
 *
 * A problem is a forward function, a backward function and the list of
 * tensors (inputs and parameters) to check, all in double precision. The
 * harness draws a fixed random upstream gradient g (from a seed) and checks,
 * for every selected entry \f$x_k\f$ of every tensor, the analytic gradient
 * the backward returns against the central difference of the scalar loss
 * \f$L = \sum_j \mathrm{out}_j\, g_j\f$:
 * \f[ n_k = \frac{L(x_k + h_k) - L(x_k - h_k)}{2 h_k}, \qquad
 *     h_k = h\,\max(1, |x_k|), \f]
 * passing when \f$|a_k - n_k| \le \mathrm{atol} + \mathrm{rtol}\,|n_k|\f$.
 *
 * Kinks (max, ReLU, clipping) are detected, not hidden: where the one-sided
 * slopes \f$(L(x+h)-L(x))/h\f$ and \f$(L(x)-L(x-h))/h\f$ differ by more than
 * kink_tol·(1 + |n_k|), the entry is reported as a kink: counted, neither
 * passed nor failed.
 *
 * The backward is run twice and must give bitwise identical gradients.
 *
 * Point it at a layer of your own: fill an ::nnr_gc_problem (see
 * tutorials/01-batchnorm/ for a worked example) and call nnr_gradcheck().
 */
#ifndef NNREF_GRADCHECK_H
#define NNREF_GRADCHECK_H

#include <stdio.h>
#include "nnref/core.h"
#include "nnref/batchnorm.h"
#include "nnref/layernorm.h"
#include "nnref/groupnorm.h"
#include "nnref/pool.h"
#include "nnref/dropout.h"
#include "nnref/activation.h"
#include "nnref/conv.h"
#include "nnref/dense.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup gradcheck Gradient checking
 *  @{ */

/** Most tensors one problem may list. */
#define NNR_GC_MAX_TENSORS 8

/** One tensor whose gradient is checked. */
typedef struct nnr_gc_tensor {
    const char *name;     /**< Name printed in reports, e.g. "x", "gamma". */
    double *value;        /**< The tensor's values; the harness perturbs entries in place and restores them exactly. */
    const double *grad;   /**< Where the problem's backward writes dL/d(value). */
    size_t count;         /**< Number of entries. */
} nnr_gc_tensor;

/** A differentiable computation in double precision. */
typedef struct nnr_gc_problem {
    void *ctx;                                      /**< Passed to forward and backward. */
    nnr_status (*forward)(void *ctx);               /**< Computes out from the tensors' current values. */
    nnr_status (*backward)(void *ctx, const double *dout); /**< Given dL/d(out), writes every tensor's grad (overwrite, not accumulate). */
    const double *out;                              /**< Output buffer the forward writes. */
    size_t out_count;                               /**< Output entries. */
    nnr_gc_tensor tensors[NNR_GC_MAX_TENSORS];      /**< Tensors to check. */
    size_t n_tensors;                               /**< Number of tensors used, 1..::NNR_GC_MAX_TENSORS. */
} nnr_gc_problem;

/** Harness settings; start from nnr_gc_defaults(). */
typedef struct nnr_gc_options {
    double h;                   /**< Relative step: h_k = h·max(1, |x_k|) (default 1e-5; src/gradcheck/gradcheck.c says why). */
    double atol;                /**< Absolute tolerance (default 1e-7). */
    double rtol;                /**< Relative tolerance (default 1e-6). */
    double kink_tol;            /**< An entry is a kink when its one-sided slopes differ by more than kink_tol·(1 + |n|) (default 1e-3; INFINITY turns detection off). */
    size_t max_per_tensor;      /**< 0: every entry; otherwise a seeded sample of at most this many entries per tensor. */
    uint64_t seed;              /**< Seed of the upstream gradient g and of the sample. */
} nnr_gc_options;

/** Result for one tensor. */
typedef struct nnr_gc_tensor_report {
    const char *name;           /**< The tensor's name. */
    size_t checked;             /**< Entries examined (all, or the sample); kinks included. */
    size_t failed;              /**< Judged entries outside tolerance. */
    size_t kinks;               /**< Entries at a kink: counted, neither passed nor failed. */
    double max_abs_err;         /**< max |a − n| over judged entries (INFINITY if one was NaN; 0 if none was judged). */
    double max_rel_err;         /**< Largest nnr_gc_rel_err() over judged entries, floor atol/rtol (INFINITY if one was NaN). */
    size_t worst_index;         /**< Entry with the largest relative error (the first judged one on ties; 0 if none was judged). */
    double worst_analytic;      /**< a at worst_index. */
    double worst_numeric;       /**< n at worst_index. */
} nnr_gc_tensor_report;

/** Result of nnr_gradcheck(). */
typedef struct nnr_gc_report {
    nnr_gc_tensor_report tensors[NNR_GC_MAX_TENSORS]; /**< One per problem tensor. */
    size_t n_tensors;           /**< As in the problem. */
    int deterministic;          /**< 1 if backward run twice gave bitwise identical gradients. */
    int passed;                 /**< 1 if deterministic and no entry failed. */
} nnr_gc_report;

/** Default options: h 1e-5, atol 1e-7, rtol 1e-6, kink_tol 1e-3, every entry, seed 42.
 * @return the options. */
nnr_gc_options nnr_gc_defaults(void);

/**
 * Relative error used in reports: \f$|a-n| / \max(|a|, |n|, \mathrm{floor})\f$,
 * 0 when a == n, NaN if either is NaN.
 *
 * Finite differences have an absolute error floor (about 1e-9 on unit-scale
 * BatchNorm gradients), so the plain relative error of a gradient near zero
 * measures that floor, not the backward. The harness therefore passes
 * floor = atol / rtol (0.1 with the defaults): the magnitude below which its
 * pass test \f$|a-n| \le \mathrm{atol} + \mathrm{rtol}\,|n|\f$ is in effect
 * absolute. An entry with relative error at most rtol/2 always passes, one
 * above 2·rtol always fails.
 * @param analytic  a, the backward's gradient entry.
 * @param numeric   n, the finite-difference estimate.
 * @param floor     smallest denominator (0: the plain relative error).
 * @return the relative error. */
double nnr_gc_rel_err(double analytic, double numeric, double floor);

/**
 * Runs the check.
 * @param[in]  problem  the computation and its tensors.
 * @param[in]  options  settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran (look at report->passed for the verdict);
 *         an error if the problem is malformed or its forward/backward failed.
 */
nnr_status nnr_gradcheck(const nnr_gc_problem *problem, const nnr_gc_options *options,
                         nnr_gc_report *report);

/**
 * Prints the header line of the table nnr_gc_print() writes rows of:
 * "layer pass tensor checked max_abs_err max_rel_err worst result".
 * @param[in] f  stream (nothing is printed if NULL).
 */
void nnr_gc_print_header(FILE *f);

/**
 * Prints a report as table rows, one per tensor, aligned under
 * nnr_gc_print_header(): "layer pass tensor checked max_abs_err max_rel_err
 * [worst] PASS|FAIL", worst being the index of the entry with the largest
 * relative error ("-" when every entry was a kink). A row is FAIL if any of
 * its entries failed or the backward was not deterministic; notes follow the
 * verdict: the failed count with the analytic and numeric values at the worst
 * entry, the number of kinks (when non-zero) and non-determinism.
 * @param[in] f       stream.
 * @param[in] layer   layer name for the first column.
 * @param[in] pass    pass name for the second column (e.g. "train").
 * @param[in] report  result of nnr_gradcheck().
 */
void nnr_gc_print(FILE *f, const char *layer, const char *pass, const nnr_gc_report *report);

/** Which BatchNorm pass a ready-made problem checks. */
typedef enum nnr_bn_gc_pass {
    NNR_BN_GC_TRAIN = 0,        /**< Training forward + closed-form backward. */
    NNR_BN_GC_TRAIN_STAGED = 1, /**< Training forward + staged backward of document 002. */
    NNR_BN_GC_INFER = 2         /**< Inference forward + backward with running statistics. */
} nnr_bn_gc_pass;

/**
 * Ready-made check of the double naive BatchNorm kernels on random data drawn
 * from @p seed: tensors x, gamma (if p->scale) and beta (if p->center).
 * With renorm, the running renorm statistics are chosen so that r and d sit on
 * their clip limits, where Keras' stop-gradient makes them true constants.
 * @param[in]  p        BatchNorm parameters.
 * @param[in]  shape    input shape (small shapes: every entry is checked).
 * @param[in]  pass     which forward/backward pair to check.
 * @param[in]  seed     seed of the random x, gamma, beta and running statistics.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran (look at report->passed for the verdict);
 *         an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_batchnorm(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                   nnr_bn_gc_pass pass, uint64_t seed,
                                   const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double naive LayerNorm kernels on random data drawn
 * from @p seed: tensors x, gamma (if p->scale) and beta (if p->center).
 * @param[in]  p        LayerNorm parameters (any set of axes).
 * @param[in]  shape    input shape (small shapes: every entry is checked).
 * @param[in]  seed     seed of the random x, gamma and beta.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran (look at report->passed for the verdict);
 *         an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_layernorm(const nnr_layernorm_params *p, const nnr_shape *shape, uint64_t seed,
                                   const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double naive RMSNorm kernels on random data drawn
 * from @p seed: tensors x and scale (if p->scale).
 * @param[in]  p        RMSNorm parameters (any set of axes).
 * @param[in]  shape    input shape (small shapes: every entry is checked).
 * @param[in]  seed     seed of the random x and scale.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran (look at report->passed for the verdict);
 *         an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_rmsnorm(const nnr_rmsnorm_params *p, const nnr_shape *shape, uint64_t seed,
                                 const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double naive GroupNorm kernels on random data drawn
 * from @p seed: tensors x, gamma (if p->scale) and beta (if p->center).
 * @param[in]  p        GroupNorm parameters.
 * @param[in]  shape    input shape (small shapes: every entry is checked).
 * @param[in]  seed     seed of the random x, gamma and beta.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran (look at report->passed for the verdict);
 *         an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_groupnorm(const nnr_groupnorm_params *p, const nnr_shape *shape, uint64_t seed,
                                   const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of InstanceNorm's double training entry points
 * (nnr_instancenorm_fwd_train_naive_f64() and
 * nnr_instancenorm_bwd_train_naive_f64()), as nnr_gradcheck_groupnorm().
 * @param[in]  p        InstanceNorm parameters.
 * @param[in]  shape    input shape.
 * @param[in]  seed     seed of the random x, gamma and beta.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran; an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_instancenorm(const nnr_instancenorm_params *p, const nnr_shape *shape, uint64_t seed,
                                      const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double naive max pooling kernels
 * (nnr_maxpool_fwd_naive_f64(), nnr_maxpool_bwd_naive_f64()): tensor x.
 * Max pooling is piecewise linear; its gradient jumps where two cells of a
 * window tie. The default input is a seeded random permutation of
 * 0.1·(0, 1, ..., count−1), centred, so any two cells differ by at least 0.1,
 * far beyond the harness' step, and every entry is judged. An input of your
 * own with ties reports those entries as kinks.
 * @param[in]  p        pooling parameters.
 * @param[in]  shape    input shape (small shapes: every entry is checked).
 * @param[in]  x        the input (shape's element count), or NULL for the well-separated default.
 * @param[in]  seed     seed of the default input's permutation.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran (look at report->passed for the verdict);
 *         an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_maxpool(const nnr_pool_params *p, const nnr_shape *shape, const double *x, uint64_t seed,
                                 const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double naive average pooling kernels, as
 * nnr_gradcheck_maxpool() (average pooling is linear: no kinks).
 * @param[in]  p        pooling parameters.
 * @param[in]  shape    input shape.
 * @param[in]  x        the input, or NULL for the well-separated default.
 * @param[in]  seed     seed of the default input's permutation.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran; an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_avgpool(const nnr_pool_params *p, const nnr_shape *shape, const double *x, uint64_t seed,
                                 const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double naive global max pooling kernels (tie rule
 * p->ties), as nnr_gradcheck_maxpool(). With ties in the input both rules are
 * subgradients, and the harness reports the tied entries as kinks.
 * @param[in]  p        global pooling parameters.
 * @param[in]  shape    input shape.
 * @param[in]  x        the input, or NULL for the well-separated default.
 * @param[in]  seed     seed of the default input's permutation.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran; an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_global_maxpool(const nnr_global_pool_params *p, const nnr_shape *shape, const double *x,
                                        uint64_t seed, const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double naive global average pooling kernels, as
 * nnr_gradcheck_maxpool().
 * @param[in]  p        global pooling parameters.
 * @param[in]  shape    input shape.
 * @param[in]  x        the input, or NULL for the well-separated default.
 * @param[in]  seed     seed of the default input's permutation.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran; an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_global_avgpool(const nnr_global_pool_params *p, const nnr_shape *shape, const double *x,
                                        uint64_t seed, const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double naive dropout kernels in training mode
 * (nnr_dropout_fwd_train_naive_f64(), nnr_dropout_bwd_naive_f64()): tensor x,
 * standard normal from @p seed. The mask is fixed: every forward redraws it
 * from p->seed and p->offset, so dropout is linear in x and no entry is a kink.
 * @param[in]  p        dropout parameters (rate, scaling, rate1, noise_shape, seed, offset).
 * @param[in]  shape    input shape (small shapes: every entry is checked).
 * @param[in]  seed     seed of the random x.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran (look at report->passed for the verdict);
 *         an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_dropout(const nnr_dropout_params *p, const nnr_shape *shape, uint64_t seed,
                                 const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double naive ReLU kernels (nnr_relu_fwd_naive_f64(),
 * nnr_relu_bwd_naive_f64()): tensor x. ReLU has a kink at 0; an entry within
 * the harness' step of 0 is reported as a kink, neither passed nor failed.
 * The default input is standard normal from @p seed with two entries planted
 * at the kink (x[0] = 0, x[1] = 1e-9), so the report shows two kinks.
 * @param[in]  shape    input shape (small shapes: every entry is checked).
 * @param[in]  x        the input (shape's element count), or NULL for the default.
 * @param[in]  seed     seed of the default input.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran (look at report->passed for the verdict);
 *         an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_relu(const nnr_shape *shape, const double *x, uint64_t seed, const nnr_gc_options *options,
                              nnr_gc_report *report);

/**
 * Ready-made check of the double naive softmax kernels over the last axis
 * (nnr_softmax_fwd_naive_f64(), nnr_softmax_bwd_naive_f64()): tensor x,
 * standard normal from @p seed by default.
 * @param[in]  shape    input shape; the last axis holds the classes.
 * @param[in]  x        the input, or NULL for the default.
 * @param[in]  seed     seed of the default input.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran; an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_softmax(const nnr_shape *shape, const double *x, uint64_t seed,
                                 const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double fused softmax + sparse categorical
 * cross-entropy (nnr_softmax_xent_naive_f64()): tensor logits, against the
 * scalar mean loss. Logits standard normal and labels uniform in [0, K) from
 * @p seed by default.
 * @param[in]  shape    (N, K).
 * @param[in]  logits   the logits, or NULL for the default.
 * @param[in]  labels   N labels in [0, K), or NULL for the default.
 * @param[in]  seed     seed of the defaults.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran; an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_softmax_xent(const nnr_shape *shape, const double *logits, const int32_t *labels,
                                      uint64_t seed, const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double naive convolution kernels
 * (nnr_conv_fwd_naive_f64(), nnr_conv_bwd_naive_f64()) on random data drawn
 * from @p seed: tensors x, w and (with p->use_bias) b. Convolution is linear
 * in each of them, so no entry is a kink.
 * @param[in]  p        convolution parameters (any stride, dilation, padding, layout, weight layout).
 * @param[in]  shape    input shape (small shapes: every entry is checked).
 * @param[in]  seed     seed of the random x, w and b.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran (look at report->passed for the verdict);
 *         an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_conv(const nnr_conv_params *p, const nnr_shape *shape, uint64_t seed,
                              const nnr_gc_options *options, nnr_gc_report *report);

/**
 * Ready-made check of the double naive Dense kernels
 * (nnr_dense_fwd_naive_f64(), nnr_dense_bwd_naive_f64()) on random data drawn
 * from @p seed: tensors x, w and (with p->use_bias) b. Dense is linear in
 * each of them, so no entry is a kink.
 * @param[in]  p        Dense parameters (either weight layout, with or without bias).
 * @param[in]  shape    input shape, any rank >= 1 (small shapes: every entry is checked).
 * @param[in]  seed     seed of the random x, w and b.
 * @param[in]  options  harness settings, or NULL for nnr_gc_defaults().
 * @param[out] report   the per-tensor results.
 * @return ::NNR_OK when the check ran (look at report->passed for the verdict);
 *         an error naming the argument otherwise.
 */
nnr_status nnr_gradcheck_dense(const nnr_dense_params *p, const nnr_shape *shape, uint64_t seed,
                               const nnr_gc_options *options, nnr_gc_report *report);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* NNREF_GRADCHECK_H */
