/*
 * What every GroupNorm kernel (naive float, naive double, AVX2) shares: the
 * (N, pre, C, post) view with its groups, and the argument checks, so that
 * all implementations accept and reject exactly the same calls.
 */
#ifndef NNR_GROUPNORM_INTERNAL_H
#define NNR_GROUPNORM_INTERNAL_H

#include "nnref/groupnorm.h"

/*
 * The input seen as (n, pre, c, post): element (i, p, ch, q) sits at
 * ((i*pre + p)*c + ch)*post + q. Group g holds channels [g*cg, (g+1)*cg);
 * in sample i it is `pre` segments of cg*post contiguous values, segment p
 * starting at ((i*pre + p)*c + g*cg)*post.
 */
typedef struct gn_view {
    size_t n, pre, c, post;
    size_t groups;   /* G, with -1 resolved to C */
    size_t cg;       /* channels per group, C / G */
    size_t m;        /* values per (sample, group): cg*pre*post */
    size_t count;    /* elements of the whole tensor */
} gn_view;

/* Validates params and shape (no pointers) and fills the view. */
nnr_status nnr_gn_view_make(const nnr_groupnorm_params *p, const nnr_shape *shape, gn_view *view);

/* Argument checks of each pass, float and double (src/norm/groupnorm_check.c,
 * built like the naive kernels over both types). Nothing is written on error. */
nnr_status nnr_gn_check_fwd(const nnr_groupnorm_params *p, const nnr_shape *shape, const float *x,
                            const float *gamma, const float *beta, const float *y,
                            const nnr_groupnorm_cache *cache, gn_view *view);
nnr_status nnr_gn_check_bwd(const nnr_groupnorm_params *p, const nnr_shape *shape, const float *x,
                            const float *gamma, const nnr_groupnorm_cache *cache, const float *dy,
                            const float *dx, const float *dgamma, const float *dbeta, gn_view *view);
nnr_status nnr_gn_check_fwd_f64(const nnr_groupnorm_params *p, const nnr_shape *shape, const double *x,
                                const double *gamma, const double *beta, const double *y,
                                const nnr_groupnorm_cache_f64 *cache, gn_view *view);
nnr_status nnr_gn_check_bwd_f64(const nnr_groupnorm_params *p, const nnr_shape *shape, const double *x,
                                const double *gamma, const nnr_groupnorm_cache_f64 *cache, const double *dy,
                                const double *dx, const double *dgamma, const double *dbeta, gn_view *view);

#endif /* NNR_GROUPNORM_INTERNAL_H */
