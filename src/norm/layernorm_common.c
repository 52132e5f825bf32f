/*
 * LayerNorm and RMSNorm pieces that do not depend on the implementation:
 * framework presets, the row view over a set of axes with its parameter
 * checks, and the dispatching entry points.
 */
#include "config.h"
#include <float.h>
#include <math.h>
#include "layernorm_internal.h"
#include "core/dispatch.h"

/* ---- Presets (SEMANTICS.md §3) ------------------------------------------ */

/* The last n axes, -n..-1; n outside 1..NNR_MAX_RANK is kept as given so the
 * kernels reject it with a sentence rather than the preset clamping it. */
static void trailing_axes(int *axes, size_t *n_axes, size_t n)
{
    *n_axes = n;
    for (size_t i = 0; i < n && i < NNR_MAX_RANK; i++)
        axes[i] = (int)i - (int)n;
}

nnr_layernorm_params nnr_layernorm_keras(void)
{
    nnr_layernorm_params p = {{0}, 0, 1e-3, 1, 1};
    trailing_axes(p.axes, &p.n_axes, 1);
    return p;
}

nnr_layernorm_params nnr_layernorm_torch(size_t n_trailing)
{
    nnr_layernorm_params p = {{0}, 0, 1e-5, 1, 1};
    trailing_axes(p.axes, &p.n_axes, n_trailing);
    return p;
}

nnr_rmsnorm_params nnr_rmsnorm_keras(void)
{
    nnr_rmsnorm_params p = {{0}, 0, 1e-6, 1};
    trailing_axes(p.axes, &p.n_axes, 1);
    return p;
}

nnr_rmsnorm_params nnr_rmsnorm_torch(size_t n_trailing)
{
    /* eps=None: torch.finfo(x.dtype).eps, and nnref computes in float32. */
    nnr_rmsnorm_params p = {{0}, 0, (double)FLT_EPSILON, 1};
    trailing_axes(p.axes, &p.n_axes, n_trailing);
    return p;
}

/* ---- View and parameter checks -------------------------------------------- */

nnr_status nnr_ln_view_make(const int *axes, size_t n_axes, double epsilon, const nnr_shape *shape,
                            ln_view *view)
{
    size_t count;
    if (shape == NULL)
        return nnr_error(NNR_ERR_NULL, "shape is NULL");
    nnr_status st = nnr_shape_numel(shape, "shape", &count);
    if (st.code != NNR_OK)
        return st;
    const int rank = (int)shape->rank;

    if (n_axes == 0)
        return nnr_error(NNR_ERR_PARAM, "axes is empty; give at least one axis to normalize over");
    if (n_axes > shape->rank)
        return nnr_error(NNR_ERR_PARAM, "axes lists %zu axes but the input has rank %zu", n_axes, shape->rank);

    /* Canonicalise (negative from the end) and mark; a second mark is a duplicate. */
    int normalized[NNR_MAX_RANK] = {0};
    for (size_t i = 0; i < n_axes; i++) {
        const int a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank)
            return nnr_error(NNR_ERR_SHAPE, "axes[%zu] = %d is out of range for a rank-%d input (valid: %d to %d)",
                             i, axes[i], rank, -rank, rank - 1);
        if (normalized[a])
            return nnr_error(NNR_ERR_PARAM, "axes[%zu] = %d repeats axis %d; each axis may be listed once",
                             i, axes[i], a);
        normalized[a] = 1;
    }
    if (!(epsilon >= 0.0) || isinf(epsilon))
        return nnr_error(NNR_ERR_PARAM, "epsilon must be finite, >= 0 and not NaN, got %g", epsilon);

    /* Row-major strides; split the axes into outer and normalized lists. */
    size_t strides[NNR_MAX_RANK];
    size_t stride = 1;
    for (int a = rank - 1; a >= 0; a--) {
        strides[a] = stride;
        stride *= shape->dims[a];          /* cannot overflow: count did not */
    }
    view->n_outer = view->n_norm = 0;
    view->rows = view->d = 1;
    int first = -1, last = -1;
    for (int a = 0; a < rank; a++) {
        if (normalized[a]) {
            view->norm_dims[view->n_norm] = shape->dims[a];
            view->norm_strides[view->n_norm++] = strides[a];
            view->d *= shape->dims[a];
            if (first < 0)
                first = a;
            last = a;
        } else {
            view->outer_dims[view->n_outer] = shape->dims[a];
            view->outer_strides[view->n_outer++] = strides[a];
            view->rows *= shape->dims[a];
        }
    }
    view->count = count;
    /* trailing: the axes form one block (no gap) that ends at the last axis */
    view->trailing = (last - first + 1) == (int)n_axes && last == rank - 1;
    return nnr_ok();
}

nnr_status nnr_layernorm_sizes(const nnr_layernorm_params *p, const nnr_shape *shape,
                               size_t *param_len, size_t *cache_len)
{
    ln_view view;
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    nnr_status st = nnr_ln_view_make(p->axes, p->n_axes, p->epsilon, shape, &view);
    if (st.code != NNR_OK)
        return st;
    if (param_len != NULL)
        *param_len = view.d;
    if (cache_len != NULL)
        *cache_len = view.rows;
    return nnr_ok();
}

nnr_status nnr_rmsnorm_sizes(const nnr_rmsnorm_params *p, const nnr_shape *shape,
                             size_t *param_len, size_t *cache_len)
{
    ln_view view;
    if (p == NULL)
        return nnr_error(NNR_ERR_NULL, "params is NULL");
    nnr_status st = nnr_ln_view_make(p->axes, p->n_axes, p->epsilon, shape, &view);
    if (st.code != NNR_OK)
        return st;
    if (param_len != NULL)
        *param_len = view.d;
    if (cache_len != NULL)
        *cache_len = view.rows;
    return nnr_ok();
}

/* ---- Dispatching entry points --------------------------------------------- */

nnr_status nnr_layernorm_fwd(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                             const float *gamma, const float *beta, float *y, const nnr_layernorm_cache *cache)
{
    return nnr_kernels()->layernorm_fwd(p, shape, x, gamma, beta, y, cache);
}

nnr_status nnr_layernorm_bwd(const nnr_layernorm_params *p, const nnr_shape *shape, const float *x,
                             const float *gamma, const nnr_layernorm_cache *cache, const float *dy,
                             float *dx, float *dgamma, float *dbeta)
{
    return nnr_kernels()->layernorm_bwd(p, shape, x, gamma, cache, dy, dx, dgamma, dbeta);
}

nnr_status nnr_rmsnorm_fwd(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                           const float *scale, float *y, const nnr_rmsnorm_cache *cache)
{
    return nnr_kernels()->rmsnorm_fwd(p, shape, x, scale, y, cache);
}

nnr_status nnr_rmsnorm_bwd(const nnr_rmsnorm_params *p, const nnr_shape *shape, const float *x,
                           const float *scale, const nnr_rmsnorm_cache *cache, const float *dy,
                           float *dx, float *dscale)
{
    return nnr_kernels()->rmsnorm_bwd(p, shape, x, scale, cache, dy, dx, dscale);
}
