/*
 * Pointer and workspace checks of the convolution passes. The pointers are
 * only compared with NULL, never dereferenced, so these functions serve the
 * float, double and AVX2 kernels alike. Every kernel calls the check of its
 * pass before touching any output; nothing is written on error.
 */
#include "config.h"
#include "core/check.h"
#include "conv_internal.h"

/* The workspace a kernel asked for through its query, and no less. */
static nnr_status check_workspace(const void *workspace, size_t workspace_floats, size_t need)
{
    if (need == 0)
        return nnr_ok();
    if (workspace_floats < need)
        return nnr_error(NNR_ERR_PARAM,
                         "workspace_floats is %zu but this kernel needs %zu floats of workspace for these "
                         "parameters and in_shape (ask nnr_conv_workspace_size())", workspace_floats, need);
    return nnr_need(workspace, "workspace");
}

nnr_status nnr_conv_check_fwd(const nnr_conv_params *p, const nnr_shape *in_shape, const void *x, const void *w,
                              const void *b, const void *y, const void *workspace, size_t workspace_floats,
                              size_t need, conv_view *view)
{
    NNR_TRY(nnr_conv_view_make(p, in_shape, view));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(w, "w"));
    if (view->use_bias)
        NNR_TRY(nnr_need(b, "b (use_bias is on)"));
    NNR_TRY(nnr_need(y, "y"));
    return check_workspace(workspace, workspace_floats, need);
}

nnr_status nnr_conv_check_bwd(const nnr_conv_params *p, const nnr_shape *in_shape, const void *x, const void *w,
                              const void *dy, const void *dx, const void *dw, const void *db,
                              const void *workspace, size_t workspace_floats, size_t need, conv_view *view)
{
    NNR_TRY(nnr_conv_view_make(p, in_shape, view));
    if (dx == NULL && dw == NULL && db == NULL)
        return nnr_error(NNR_ERR_NULL, "dx, dw and db are all NULL: the backward has nothing to compute");
    if (db != NULL && !view->use_bias)
        return nnr_error(NNR_ERR_PARAM, "db is given but use_bias is off: the layer has no bias (pass NULL)");
    NNR_TRY(nnr_need(dy, "dy"));
    if (dw != NULL)
        NNR_TRY(nnr_need(x, "x (needed for dw)"));
    if (dx != NULL)
        NNR_TRY(nnr_need(w, "w (needed for dx)"));
    return check_workspace(workspace, workspace_floats, need);
}
