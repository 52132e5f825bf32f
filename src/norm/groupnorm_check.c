/*
 * Argument checks of the GroupNorm kernels, written once over nnr_real and
 * built for float and double like the naive kernels. Every kernel, naive or
 * AVX2, calls the check of its pass before touching any output.
 */
#include "config.h"
#include "core/real.h"
#include "groupnorm_internal.h"

typedef NNR_TYPED(nnr_groupnorm_cache) gn_cache;

static nnr_status need(const void *ptr, const char *name)
{
    if (ptr == NULL)
        return nnr_error(NNR_ERR_NULL, "%s is NULL", name);
    return nnr_ok();
}

/* Runs the checks in order and returns the first failure. */
#define NNR_TRY(call) do { nnr_status st_ = (call); if (st_.code != NNR_OK) return st_; } while (0)

static nnr_status check_cache(const gn_cache *cache)
{
    NNR_TRY(need(cache, "cache"));
    NNR_TRY(need(cache->mean, "cache->mean"));
    NNR_TRY(need(cache->istd, "cache->istd"));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_gn_check_fwd)(const nnr_groupnorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                       const nnr_real *gamma, const nnr_real *beta, const nnr_real *y,
                                       const gn_cache *cache, gn_view *view)
{
    NNR_TRY(nnr_gn_view_make(p, shape, view));
    NNR_TRY(need(x, "x"));
    NNR_TRY(need(y, "y"));
    if (p->scale)
        NNR_TRY(need(gamma, "gamma (scale is on)"));
    if (p->center)
        NNR_TRY(need(beta, "beta (center is on)"));
    NNR_TRY(check_cache(cache));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_gn_check_bwd)(const nnr_groupnorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                       const nnr_real *gamma, const gn_cache *cache, const nnr_real *dy,
                                       const nnr_real *dx, const nnr_real *dgamma, const nnr_real *dbeta,
                                       gn_view *view)
{
    NNR_TRY(nnr_gn_view_make(p, shape, view));
    NNR_TRY(need(x, "x"));
    NNR_TRY(need(dy, "dy"));
    NNR_TRY(need(dx, "dx"));
    if (p->scale) {
        NNR_TRY(need(gamma, "gamma (scale is on)"));
        NNR_TRY(need(dgamma, "dgamma (scale is on)"));
    }
    if (p->center)
        NNR_TRY(need(dbeta, "dbeta (center is on)"));
    NNR_TRY(check_cache(cache));
    return nnr_ok();
}
