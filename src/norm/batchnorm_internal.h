/*
 * What every BatchNorm kernel (naive float, naive double, AVX2) shares:
 * the (N, pre, C, post) view of the input and the argument checks, so that
 * all implementations accept and reject exactly the same calls.
 */
#ifndef NNR_BATCHNORM_INTERNAL_H
#define NNR_BATCHNORM_INTERNAL_H

#include "nnref/batchnorm.h"

/*
 * The input seen as (n, pre, c, post): element (i, p, ch, q) sits at
 * ((i*pre + p)*c + ch)*post + q. Ghost batch j (of groups) holds the samples
 * i = v*groups + j for v in [0, ghost_size).
 */
typedef struct bn_view {
    size_t n, pre, c, post;
    size_t groups;       /* G: ghost batches (1 without virtual_batch_size) */
    size_t ghost_size;   /* samples per ghost batch (n without virtual_batch_size) */
    size_t m;            /* values per channel and ghost batch: ghost_size*pre*post */
    size_t count;        /* elements of the whole tensor */
} bn_view;

/* Validates params and shape (no pointers) and fills the view. */
nnr_status nnr_bn_view_make(const nnr_batchnorm_params *p, const nnr_shape *shape, bn_view *view);

/* Argument checks of each pass, float and double (src/norm/batchnorm_check.c,
 * built like the naive kernels over both types). Nothing is written on error. */
nnr_status nnr_bn_check_fwd_train(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                  const float *x, const float *gamma, const float *beta, const float *y,
                                  const nnr_batchnorm_cache *cache, const nnr_batchnorm_state *state,
                                  bn_view *view);
nnr_status nnr_bn_check_fwd_infer(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                  const float *x, const float *gamma, const float *beta, const float *y,
                                  const nnr_batchnorm_state *state, bn_view *view);
nnr_status nnr_bn_check_bwd_train(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                  const float *x, const float *gamma, const nnr_batchnorm_cache *cache,
                                  const float *dy, const float *dx, const float *dgamma, const float *dbeta,
                                  bn_view *view);
nnr_status nnr_bn_check_bwd_infer(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                  const float *x, const float *gamma, const nnr_batchnorm_state *state,
                                  const float *dy, const float *dx, const float *dgamma, const float *dbeta,
                                  bn_view *view);

nnr_status nnr_bn_check_fwd_train_f64(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                      const double *x, const double *gamma, const double *beta, const double *y,
                                      const nnr_batchnorm_cache_f64 *cache, const nnr_batchnorm_state_f64 *state,
                                      bn_view *view);
nnr_status nnr_bn_check_fwd_infer_f64(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                      const double *x, const double *gamma, const double *beta, const double *y,
                                      const nnr_batchnorm_state_f64 *state, bn_view *view);
nnr_status nnr_bn_check_bwd_train_f64(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                      const double *x, const double *gamma, const nnr_batchnorm_cache_f64 *cache,
                                      const double *dy, const double *dx, const double *dgamma, const double *dbeta,
                                      bn_view *view);
nnr_status nnr_bn_check_bwd_infer_f64(const nnr_batchnorm_params *p, const nnr_shape *shape,
                                      const double *x, const double *gamma, const nnr_batchnorm_state_f64 *state,
                                      const double *dy, const double *dx, const double *dgamma, const double *dbeta,
                                      bn_view *view);

/* istd of the batch statistics, 0 when var == eps == 0 (PyTorch's InvStd). */
double nnr_bn_batch_istd(double var, double epsilon);

/* Per-channel scalar steps of the training forward (src/norm/batchnorm_channel.c),
 * float and double: the renorm correction r, d (step 4) and the running-statistics
 * update (step 6) of channel c. */
void nnr_bn_renorm_correction(const nnr_batchnorm_params *p, const nnr_batchnorm_state *state, size_t c,
                              double mu, double var, double *r, double *d);
void nnr_bn_renorm_correction_f64(const nnr_batchnorm_params *p, const nnr_batchnorm_state_f64 *state, size_t c,
                                  double mu, double var, double *r, double *d);
void nnr_bn_update_running(const nnr_batchnorm_params *p, nnr_batchnorm_state *state, size_t c, double factor,
                           size_t m, double mean, double var);
void nnr_bn_update_running_f64(const nnr_batchnorm_params *p, nnr_batchnorm_state_f64 *state, size_t c,
                               double factor, size_t m, double mean, double var);

/*
 * Weight f of the new batch in running = (1 - f)*running + f*batch for the
 * training step `step` (1 for the first), under the parameters' rule.
 */
double nnr_bn_update_factor(const nnr_batchnorm_params *p, uint64_t step);

#endif /* NNR_BATCHNORM_INTERNAL_H */
