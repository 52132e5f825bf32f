/*
 * What every LayerNorm and RMSNorm kernel (naive float, naive double, AVX2)
 * shares: the row view of the input over a set of normalized axes and the
 * argument checks, so that all implementations accept and reject exactly the
 * same calls.
 */
#ifndef NNR_LAYERNORM_INTERNAL_H
#define NNR_LAYERNORM_INTERNAL_H

#include <math.h>
#include "nnref/layernorm.h"

/*
 * The input as rows x D. The non-normalized ("outer") axes number the rows,
 * the normalized axes the D elements of a row, both in row-major order of the
 * sorted axes. Element k of row r sits at ln_row_offset(r) + ln_elem_offset(k):
 * an offset is a sum over axes, so the two parts separate.
 */
typedef struct ln_view {
    size_t rows, d, count;
    size_t n_outer, outer_dims[NNR_MAX_RANK], outer_strides[NNR_MAX_RANK];
    size_t n_norm, norm_dims[NNR_MAX_RANK], norm_strides[NNR_MAX_RANK];
    /* 1 when the normalized axes are the trailing block: row r is the D
     * contiguous values at r*D (the AVX2 kernels' vector path). */
    int trailing;
} ln_view;

/* Validates axes, epsilon and shape (no pointers) and fills the view. */
nnr_status nnr_ln_view_make(const int *axes, size_t n_axes, double epsilon, const nnr_shape *shape,
                            ln_view *view);

static inline size_t ln_row_offset(const ln_view *v, size_t row)
{
    size_t off = 0;
    for (size_t a = v->n_outer; a-- > 0;) {
        off += (row % v->outer_dims[a]) * v->outer_strides[a];
        row /= v->outer_dims[a];
    }
    return off;
}

static inline size_t ln_elem_offset(const ln_view *v, size_t k)
{
    size_t off = 0;
    for (size_t a = v->n_norm; a-- > 0;) {
        off += (k % v->norm_dims[a]) * v->norm_strides[a];
        k /= v->norm_dims[a];
    }
    return off;
}

/*
 * (v)^(-1/2) for v = var + eps or mean(x^2) + eps, with v = 0 (epsilon 0 on a
 * constant or all-zero row) giving 0 as PyTorch's InvStd does for BatchNorm:
 * then x - mean = 0 and y == beta (LayerNorm) or y = 0 (RMSNorm) instead of
 * 0 * inf = NaN. NaN stays NaN.
 */
static inline double ln_inv_sqrt(double v)
{
    return v == 0.0 ? 0.0 : 1.0 / sqrt(v);
}

/* Argument checks of each pass, float and double (src/norm/layernorm_check.c,
 * built like the naive kernels over both types). Nothing is written on error. */
nnr_status nnr_ln_check_fwd(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                            const float *gamma, const float *beta, const float *y,
                            const nnr_layernorm_cache *cache, ln_view *view);
nnr_status nnr_ln_check_bwd(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                            const float *gamma, const nnr_layernorm_cache *cache, const float *dy,
                            const float *dx, const float *dgamma, const float *dbeta, ln_view *view);
nnr_status nnr_rms_check_fwd(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                             const float *scale, const float *y, const nnr_rmsnorm_cache *cache, ln_view *view);
nnr_status nnr_rms_check_bwd(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                             const float *scale, const nnr_rmsnorm_cache *cache, const float *dy,
                             const float *dx, const float *dscale, ln_view *view);

nnr_status nnr_ln_check_fwd_f64(const nnr_layernorm_params *p, const nnr_shape *shape, const double *x,
                                const double *gamma, const double *beta, const double *y,
                                const nnr_layernorm_cache_f64 *cache, ln_view *view);
nnr_status nnr_ln_check_bwd_f64(const nnr_layernorm_params *p, const nnr_shape *shape, const double *x,
                                const double *gamma, const nnr_layernorm_cache_f64 *cache, const double *dy,
                                const double *dx, const double *dgamma, const double *dbeta, ln_view *view);
nnr_status nnr_rms_check_fwd_f64(const nnr_rmsnorm_params *p, const nnr_shape *shape, const double *x,
                                 const double *scale, const double *y, const nnr_rmsnorm_cache_f64 *cache,
                                 ln_view *view);
nnr_status nnr_rms_check_bwd_f64(const nnr_rmsnorm_params *p, const nnr_shape *shape, const double *x,
                                 const double *scale, const nnr_rmsnorm_cache_f64 *cache, const double *dy,
                                 const double *dx, const double *dscale, ln_view *view);

#endif /* NNR_LAYERNORM_INTERNAL_H */
