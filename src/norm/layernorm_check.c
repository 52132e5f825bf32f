/*
 * Argument checks of the LayerNorm and RMSNorm kernels, written once over
 * nnr_real and built for float and double like the naive kernels. Every
 * kernel, naive or AVX2, calls the check of its pass before touching any
 * output.
 */
#include "config.h"
#include "core/real.h"
#include "layernorm_internal.h"

typedef NNR_TYPED(nnr_layernorm_cache) ln_cache;
typedef NNR_TYPED(nnr_rmsnorm_cache) rms_cache;

static nnr_status need(const void *ptr, const char *name)
{
    if (ptr == NULL)
        return nnr_error(NNR_ERR_NULL, "%s is NULL", name);
    return nnr_ok();
}

/* Runs the checks in order and returns the first failure. */
#define NNR_TRY(call) do { nnr_status st_ = (call); if (st_.code != NNR_OK) return st_; } while (0)

static nnr_status view_of_ln(const nnr_layernorm_params *p, const nnr_shape *shape, ln_view *view)
{
    NNR_TRY(need(p, "params"));
    return nnr_ln_view_make(p->axes, p->n_axes, p->epsilon, shape, view);
}

static nnr_status view_of_rms(const nnr_rmsnorm_params *p, const nnr_shape *shape, ln_view *view)
{
    NNR_TRY(need(p, "params"));
    return nnr_ln_view_make(p->axes, p->n_axes, p->epsilon, shape, view);
}

nnr_status NNR_TYPED(nnr_ln_check_fwd)(const nnr_layernorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                       const nnr_real *gamma, const nnr_real *beta, const nnr_real *y,
                                       const ln_cache *cache, ln_view *view)
{
    NNR_TRY(view_of_ln(p, shape, view));
    NNR_TRY(need(x, "x"));
    NNR_TRY(need(y, "y"));
    if (p->scale)
        NNR_TRY(need(gamma, "gamma (scale is on)"));
    if (p->center)
        NNR_TRY(need(beta, "beta (center is on)"));
    NNR_TRY(need(cache, "cache"));
    NNR_TRY(need(cache->mean, "cache->mean"));
    NNR_TRY(need(cache->istd, "cache->istd"));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_ln_check_bwd)(const nnr_layernorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                       const nnr_real *gamma, const ln_cache *cache, const nnr_real *dy,
                                       const nnr_real *dx, const nnr_real *dgamma, const nnr_real *dbeta,
                                       ln_view *view)
{
    NNR_TRY(view_of_ln(p, shape, view));
    NNR_TRY(need(x, "x"));
    NNR_TRY(need(dy, "dy"));
    NNR_TRY(need(dx, "dx"));
    if (p->scale) {
        NNR_TRY(need(gamma, "gamma (scale is on)"));
        NNR_TRY(need(dgamma, "dgamma (scale is on)"));
    }
    if (p->center)
        NNR_TRY(need(dbeta, "dbeta (center is on)"));
    NNR_TRY(need(cache, "cache"));
    NNR_TRY(need(cache->mean, "cache->mean"));
    NNR_TRY(need(cache->istd, "cache->istd"));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_rms_check_fwd)(const nnr_rmsnorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                        const nnr_real *scale, const nnr_real *y, const rms_cache *cache,
                                        ln_view *view)
{
    NNR_TRY(view_of_rms(p, shape, view));
    NNR_TRY(need(x, "x"));
    NNR_TRY(need(y, "y"));
    if (p->scale)
        NNR_TRY(need(scale, "scale (scale is on)"));
    NNR_TRY(need(cache, "cache"));
    NNR_TRY(need(cache->rstd, "cache->rstd"));
    return nnr_ok();
}

nnr_status NNR_TYPED(nnr_rms_check_bwd)(const nnr_rmsnorm_params *p, const nnr_shape *shape, const nnr_real *x,
                                        const nnr_real *scale, const rms_cache *cache, const nnr_real *dy,
                                        const nnr_real *dx, const nnr_real *dscale, ln_view *view)
{
    NNR_TRY(view_of_rms(p, shape, view));
    NNR_TRY(need(x, "x"));
    NNR_TRY(need(dy, "dy"));
    NNR_TRY(need(dx, "dx"));
    if (p->scale) {
        NNR_TRY(need(scale, "scale (scale is on)"));
        NNR_TRY(need(dscale, "dscale (scale is on)"));
    }
    NNR_TRY(need(cache, "cache"));
    NNR_TRY(need(cache->rstd, "cache->rstd"));
    return nnr_ok();
}
