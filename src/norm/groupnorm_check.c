/*
 * Argument checks of the GroupNorm kernels, written once over nnr_real and
 * built for float and double like the naive kernels. Every kernel, naive or
 * AVX2, calls the check of its pass before touching any output.
 */
#include "config.h"
#include "core/check.h"
#include "core/real.h"
#include "groupnorm_internal.h"

typedef NNR_TYPED(nnr_groupnorm_cache) gn_cache;

static nnr_status check_cache(const gn_cache *cache)
{
    NNR_TRY(nnr_need(cache, "cache"));
    NNR_TRY(nnr_need(cache->mean, "cache->mean"));
    NNR_TRY(nnr_need(cache->istd, "cache->istd"));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_gn_check_fwd)(const nnr_groupnorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                       const nnr_real *gamma, const nnr_real *beta, const nnr_real *y,
                                       const gn_cache *cache, gn_view *view)
{
    NNR_TRY(nnr_gn_view_make(p, shape, view));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(y, "y"));
    if (p->scale)
        NNR_TRY(nnr_need(gamma, "gamma (scale is on)"));
    if (p->center)
        NNR_TRY(nnr_need(beta, "beta (center is on)"));
    NNR_TRY(check_cache(cache));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_gn_check_bwd)(const nnr_groupnorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                       const nnr_real *gamma, const gn_cache *cache, const nnr_real *dy,
                                       const nnr_real *dx, const nnr_real *dgamma, const nnr_real *dbeta,
                                       gn_view *view)
{
    NNR_TRY(nnr_gn_view_make(p, shape, view));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(dy, "dy"));
    NNR_TRY(nnr_need(dx, "dx"));
    if (p->scale) {
        NNR_TRY(nnr_need(gamma, "gamma (scale is on)"));
        NNR_TRY(nnr_need(dgamma, "dgamma (scale is on)"));
    }
    if (p->center)
        NNR_TRY(nnr_need(dbeta, "dbeta (center is on)"));
    NNR_TRY(check_cache(cache));
    return nnr_ok();
}
