/*
 * Pointer and workspace checks of the Dense passes. The pointers are only
 * compared with NULL, never dereferenced, so these functions serve the
 * float, double and AVX2 kernels alike. Every kernel calls the check of its
 * pass before touching any output; nothing is written on error.
 */
#include "config.h"
#include "core/check.h"
#include "dense_internal.h"

nnr_status nnr_dense_check_fwd(const nnr_dense_params *p, const nnr_shape *in_shape, const void *x, const void *w,
                               const void *b, const void *y, const void *workspace, size_t workspace_floats,
                               size_t need, dense_view *view)
{
    NNR_TRY(nnr_dense_view_make(p, in_shape, view));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(w, "w"));
    if (view->use_bias)
        NNR_TRY(nnr_need(b, "b (use_bias is on)"));
    NNR_TRY(nnr_need(y, "y"));
    return nnr_need_workspace(workspace, workspace_floats, need, "nnr_dense_workspace_size");
}

nnr_status nnr_dense_check_bwd(const nnr_dense_params *p, const nnr_shape *in_shape, const void *x, const void *w,
                               const void *dy, const void *dx, const void *dw, const void *db,
                               const void *workspace, size_t workspace_floats, size_t need, dense_view *view)
{
    NNR_TRY(nnr_dense_view_make(p, in_shape, view));
    if (dx == NULL && dw == NULL && db == NULL)
        return nnr_error(NNR_ERR_NULL, "dx, dw and db are all NULL: the backward has nothing to compute");
    if (db != NULL && !view->use_bias)
        return nnr_error(NNR_ERR_PARAM, "db is given but use_bias is off: the layer has no bias (pass NULL)");
    NNR_TRY(nnr_need(dy, "dy"));
    if (dw != NULL)
        NNR_TRY(nnr_need(x, "x (needed for dw)"));
    if (dx != NULL)
        NNR_TRY(nnr_need(w, "w (needed for dx)"));
    return nnr_need_workspace(workspace, workspace_floats, need, "nnr_dense_workspace_size");
}
