/*
 * Dense pieces that do not depend on the implementation: framework presets,
 * the view with every parameter and shape check (SEMANTICS.md §6), the
 * output and weight shapes, the naive kernels' workspace query and the
 * dispatching entry points.
 */
#include "config.h"
#include "core/check.h"
#include "core/dispatch.h"
#include "dense_internal.h"

/* ---- Presets (SEMANTICS.md §6) ------------------------------------------ */

nnr_dense_params nnr_dense_keras(size_t in_features, size_t units)
{
    nnr_dense_params p;
    p.in_features = in_features;
    p.units = units;
    p.weight_layout = NNR_DENSE_WEIGHT_KERAS;
    p.use_bias = 1;
    return p;
}

nnr_dense_params nnr_dense_torch(size_t in_features, size_t out_features)
{
    nnr_dense_params p = nnr_dense_keras(in_features, out_features);
    p.weight_layout = NNR_DENSE_WEIGHT_TORCH;
    return p;
}

/* ---- Checks --------------------------------------------------------------- */

/* The parameters alone: sizes, layout, bias switch, and W's element count. */
static nnr_status check_params(const nnr_dense_params *p, size_t *w_count)
{
    NNR_TRY(nnr_need(p, "p"));
    if (p->in_features == 0)
        return nnr_error(NNR_ERR_PARAM, "p->in_features must be at least 1, got 0");
    if (p->units == 0)
        return nnr_error(NNR_ERR_PARAM, "p->units must be at least 1, got 0 (Keras: units must be positive)");
    if (p->weight_layout != NNR_DENSE_WEIGHT_KERAS && p->weight_layout != NNR_DENSE_WEIGHT_TORCH)
        return nnr_error(NNR_ERR_PARAM,
                         "p->weight_layout is %d; expected NNR_DENSE_WEIGHT_KERAS (0) or NNR_DENSE_WEIGHT_TORCH (1)",
                         (int)p->weight_layout);
    if (p->use_bias != 0 && p->use_bias != 1)
        return nnr_error(NNR_ERR_PARAM, "p->use_bias is %d; expected 0 or 1", p->use_bias);
    if (!nnr_size_mul(p->in_features, p->units, w_count))
        return nnr_error(NNR_ERR_OVERFLOW,
                         "w has in_features x units = %zu x %zu elements, more than size_t can count",
                         p->in_features, p->units);
    return nnr_ok();
}

nnr_status nnr_dense_view_make(const nnr_dense_params *p, const nnr_shape *in_shape, dense_view *view)
{
    size_t w_count, x_count, y_count;
    NNR_TRY(check_params(p, &w_count));
    NNR_TRY(nnr_shape_numel(in_shape, "in_shape", &x_count));
    const size_t last = in_shape->dims[in_shape->rank - 1];
    if (last != p->in_features)
        return nnr_error(NNR_ERR_SHAPE,
                         "in_shape's last extent is %zu but p->in_features is %zu: Dense reads in_features values "
                         "per row of x", last, p->in_features);
    /* Every leading axis is a batch axis: rows = numel / in_features. */
    const size_t rows = x_count / p->in_features;
    if (!nnr_size_mul(rows, p->units, &y_count))
        return nnr_error(NNR_ERR_OVERFLOW,
                         "y would have %zu rows x %zu units elements, more than size_t can count", rows, p->units);
    view->rows = rows;
    view->in = p->in_features;
    view->units = p->units;
    view->x_count = x_count;
    view->y_count = y_count;
    view->w_count = w_count;
    view->weight_layout = p->weight_layout;
    view->use_bias = p->use_bias;
    return nnr_ok();
}

nnr_status nnr_dense_output_shape(const nnr_dense_params *p, const nnr_shape *in_shape, nnr_shape *out_shape)
{
    dense_view v;
    NNR_TRY(nnr_dense_view_make(p, in_shape, &v));
    NNR_TRY(nnr_need(out_shape, "out_shape"));
    *out_shape = *in_shape;
    out_shape->dims[in_shape->rank - 1] = p->units;
    return nnr_ok();
}

nnr_status nnr_dense_weight_shape(const nnr_dense_params *p, nnr_shape *w_shape)
{
    size_t w_count;
    NNR_TRY(check_params(p, &w_count));
    NNR_TRY(nnr_need(w_shape, "w_shape"));
    w_shape->rank = 2;
    w_shape->dims[0] = p->weight_layout == NNR_DENSE_WEIGHT_KERAS ? p->in_features : p->units;
    w_shape->dims[1] = p->weight_layout == NNR_DENSE_WEIGHT_KERAS ? p->units : p->in_features;
    return nnr_ok();
}

/* ---- Workspace queries and dispatch -------------------------------------- */

nnr_status nnr_dense_workspace_size_naive(const nnr_dense_params *p, const nnr_shape *in_shape, size_t *floats)
{
    dense_view v;
    NNR_TRY(nnr_dense_view_make(p, in_shape, &v));
    NNR_TRY(nnr_need(floats, "floats"));
    *floats = 0;
    return nnr_ok();
}

nnr_status nnr_dense_workspace_size(const nnr_dense_params *p, const nnr_shape *in_shape, size_t *floats)
{
    return nnr_kernels()->dense_workspace_size(p, in_shape, floats);
}

nnr_status nnr_dense_fwd(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                         const float *b, float *y, float *workspace, size_t workspace_floats)
{
    return nnr_kernels()->dense_fwd(p, in_shape, x, w, b, y, workspace, workspace_floats);
}

nnr_status nnr_dense_bwd(const nnr_dense_params *p, const nnr_shape *in_shape, const float *x, const float *w,
                         const float *dy, float *dx, float *dw, float *db, float *workspace, size_t workspace_floats)
{
    return nnr_kernels()->dense_bwd(p, in_shape, x, w, dy, dx, dw, db, workspace, workspace_floats);
}
