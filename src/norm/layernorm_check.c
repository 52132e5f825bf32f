/*
 * Argument checks of the LayerNorm and RMSNorm kernels, written once over
 * nnr_real and built for float and double like the naive kernels. Every
 * kernel, naive or AVX2, calls the check of its pass before touching any
 * output.
 */
#include "config.h"
#include "core/check.h"
#include "core/real.h"
#include "layernorm_internal.h"

typedef NNR_TYPED(nnr_layernorm_cache) ln_cache;
typedef NNR_TYPED(nnr_rmsnorm_cache) rms_cache;

static nnr_status view_of_ln(const nnr_layernorm_params *p, const nnr_shape *shape, ln_view *view)
{
    NNR_TRY(nnr_need(p, "params"));
    return nnr_ln_view_make(p->axes, p->n_axes, p->epsilon, shape, view);
}

static nnr_status view_of_rms(const nnr_rmsnorm_params *p, const nnr_shape *shape, ln_view *view)
{
    NNR_TRY(nnr_need(p, "params"));
    return nnr_ln_view_make(p->axes, p->n_axes, p->epsilon, shape, view);
}

nnr_status NNR_TYPED(nnr_ln_check_fwd)(const nnr_layernorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                       const nnr_real *gamma, const nnr_real *beta, const nnr_real *y,
                                       const ln_cache *cache, ln_view *view)
{
    NNR_TRY(view_of_ln(p, shape, view));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(y, "y"));
    if (p->scale)
        NNR_TRY(nnr_need(gamma, "gamma (scale is on)"));
    if (p->center)
        NNR_TRY(nnr_need(beta, "beta (center is on)"));
    NNR_TRY(nnr_need(cache, "cache"));
    NNR_TRY(nnr_need(cache->mean, "cache->mean"));
    NNR_TRY(nnr_need(cache->istd, "cache->istd"));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_ln_check_bwd)(const nnr_layernorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                       const nnr_real *gamma, const ln_cache *cache, const nnr_real *dy,
                                       const nnr_real *dx, const nnr_real *dgamma, const nnr_real *dbeta,
                                       ln_view *view)
{
    NNR_TRY(view_of_ln(p, shape, view));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(dy, "dy"));
    NNR_TRY(nnr_need(dx, "dx"));
    if (p->scale) {
        NNR_TRY(nnr_need(gamma, "gamma (scale is on)"));
        NNR_TRY(nnr_need(dgamma, "dgamma (scale is on)"));
    }
    if (p->center)
        NNR_TRY(nnr_need(dbeta, "dbeta (center is on)"));
    NNR_TRY(nnr_need(cache, "cache"));
    NNR_TRY(nnr_need(cache->mean, "cache->mean"));
    NNR_TRY(nnr_need(cache->istd, "cache->istd"));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_rms_check_fwd)(const nnr_rmsnorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                        const nnr_real *scale, const nnr_real *y, const rms_cache *cache,
                                        ln_view *view)
{
    NNR_TRY(view_of_rms(p, shape, view));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(y, "y"));
    if (p->scale)
        NNR_TRY(nnr_need(scale, "scale (scale is on)"));
    NNR_TRY(nnr_need(cache, "cache"));
    NNR_TRY(nnr_need(cache->rstd, "cache->rstd"));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_rms_check_bwd)(const nnr_rmsnorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                        const nnr_real *scale, const rms_cache *cache, const nnr_real *dy,
                                        const nnr_real *dx, const nnr_real *dscale, ln_view *view)
{
    NNR_TRY(view_of_rms(p, shape, view));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(dy, "dy"));
    NNR_TRY(nnr_need(dx, "dx"));
    if (p->scale) {
        NNR_TRY(nnr_need(scale, "scale (scale is on)"));
        NNR_TRY(nnr_need(dscale, "dscale (scale is on)"));
    }
    NNR_TRY(nnr_need(cache, "cache"));
    NNR_TRY(nnr_need(cache->rstd, "cache->rstd"));
    return nnr_ok();
}
