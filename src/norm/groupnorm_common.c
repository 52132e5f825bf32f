/*
 * GroupNorm pieces that do not depend on the implementation: framework
 * presets, the (N, pre, C, post) view with its parameter checks, and the
 * dispatching entry points.
 */
#include "config.h"
#include <math.h>
#include "axis_view.h"
#include "groupnorm_internal.h"
#include "core/dispatch.h"

/* ---- Presets (SEMANTICS.md §4) ------------------------------------------ */

nnr_groupnorm_params nnr_groupnorm_keras(int groups)
{
    nnr_groupnorm_params p;
    p.groups = groups;
    p.axis = -1;
    p.epsilon = 1e-3;
    p.center = 1;
    p.scale = 1;
    return p;
}

nnr_groupnorm_params nnr_groupnorm_torch(int groups)
{
    nnr_groupnorm_params p = nnr_groupnorm_keras(groups);
    p.axis = 1;
    p.epsilon = 1e-5;
    return p;
}

/* ---- View and parameter checks -------------------------------------------- */

nnr_status nnr_gn_view_make(const nnr_groupnorm_params *p, const nnr_shape *shape, gn_view *view)
{
    nnr_axis_view av;

    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    nnr_status st = nnr_axis_view_make("GroupNorm", p->axis, shape, &av);
    if (st.code != NNR_OK)
        return st;
    if (!(p->epsilon >= 0.0) || isinf(p->epsilon))
        return nnr_error(NNR_ERR_PARAM, "epsilon must be finite, >= 0 and not NaN, got %g", p->epsilon);

    const size_t C = av.c;
    if (p->groups == 0 || p->groups < -1)
        return nnr_error(NNR_ERR_PARAM,
                         "groups must be a positive number of groups, or -1 for one group per channel, got %d",
                         p->groups);
    const size_t G = p->groups == -1 ? C : (size_t)p->groups;
    if (G > C)
        return nnr_error(NNR_ERR_PARAM, "groups (G=%zu) cannot exceed the number of channels (C=%zu)", G, C);
    /* Keras and TFA say "Number of groups (G) must be a multiple of the number
     * of channels (C)", which is backwards: C must be a multiple of G. */
    if (C % G != 0)
        return nnr_error(NNR_ERR_PARAM, "the number of channels (C=%zu) must be a multiple of groups (G=%zu)", C, G);

    view->n = av.n;
    view->c = C;
    view->pre = av.pre;
    view->post = av.post;
    view->groups = G;
    view->cg = C / G;
    view->m = view->cg * view->pre * view->post;
    view->count = av.count;
    return nnr_ok();
}

/* ---- Public helpers -------------------------------------------------------- */

nnr_status nnr_groupnorm_sizes(const nnr_groupnorm_params *p, const nnr_shape *shape,
                               size_t *channels, size_t *groups, size_t *cache_len)
{
    gn_view view;
    nnr_status st = nnr_gn_view_make(p, shape, &view);
    if (st.code != NNR_OK)
        return st;
    if (channels != NULL)
        *channels = view.c;
    if (groups != NULL)
        *groups = view.groups;
    if (cache_len != NULL)
        *cache_len = view.n * view.groups;   /* <= count: cannot overflow */
    return nnr_ok();
}

/* ---- Dispatching entry points --------------------------------------------- */

nnr_status nnr_groupnorm_fwd(const nnr_groupnorm_params *p, const nnr_shape *shape,
                             const float *x, const float *gamma, const float *beta,
                             float *y, const nnr_groupnorm_cache *cache)
{
    return nnr_kernels()->groupnorm_fwd(p, shape, x, gamma, beta, y, cache);
}

nnr_status nnr_groupnorm_bwd(const nnr_groupnorm_params *p, const nnr_shape *shape,
                             const float *x, const float *gamma,
                             const nnr_groupnorm_cache *cache, const float *dy,
                             float *dx, float *dgamma, float *dbeta)
{
    return nnr_kernels()->groupnorm_bwd(p, shape, x, gamma, cache, dy, dx, dgamma, dbeta);
}

/* ---- InstanceNorm presets ------------------------------------------------- */

nnr_instancenorm_params nnr_instancenorm_torch(void)
{
    nnr_instancenorm_params p;
    p.axis = 1;
    p.epsilon = 1e-5;
    p.momentum = 0.1;
    p.center = 0;
    p.scale = 0;
    p.error_on_single_spatial = 1;
    return p;
}

nnr_instancenorm_params nnr_instancenorm_keras(void)
{
    nnr_instancenorm_params p;
    p.axis = -1;
    p.epsilon = 1e-3;
    p.momentum = 0.1;      /* unused: Keras keeps no running statistics */
    p.center = 1;
    p.scale = 1;
    p.error_on_single_spatial = 0;
    return p;
}

nnr_groupnorm_params nnr_instancenorm_as_groupnorm(const nnr_instancenorm_params *p)
{
    nnr_groupnorm_params g;
    g.groups = -1;
    g.axis = p->axis;
    g.epsilon = p->epsilon;
    g.center = p->center;
    g.scale = p->scale;
    return g;
}
