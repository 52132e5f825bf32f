/*
 * Pointer checks of the windowed and global pooling passes. The pointers are
 * only compared with NULL (and argmax read as int32), never dereferenced as
 * float or double, so these functions serve the float, double and AVX2
 * kernels alike. Every kernel calls the check of its pass before touching any
 * output; nothing is written on error.
 */
#include "config.h"
#include "core/check.h"
#include "pool_internal.h"

/* argmax holds flat spatial indices of an (n, c) plane in int32. */
static nnr_status plane_fits_int32(const pool_view *v)
{
    if (v->in_plane > (size_t)INT32_MAX)
        return nnr_error(NNR_ERR_OVERFLOW,
                         "in_shape has %zu spatial cells per (n, c) plane; max pooling's int32 argmax indexes "
                         "at most %d", v->in_plane, (int)INT32_MAX);
    return nnr_ok();
}

nnr_status nnr_pool_check_max_fwd(const nnr_pool_params *p, const nnr_shape *in_shape, const void *x,
                                  const void *y, pool_view *view)
{
    NNR_TRY(nnr_pool_view_make(p, POOL_KIND_MAX, in_shape, view));
    NNR_TRY(plane_fits_int32(view));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_need(y, "y"));
    return nnr_ok();
}

nnr_status nnr_pool_check_max_bwd_args(const nnr_pool_params *p, const nnr_shape *in_shape, const void *dy,
                                       const int32_t *argmax, const void *dx, pool_view *view)
{
    NNR_TRY(nnr_pool_view_make(p, POOL_KIND_MAX, in_shape, view));
    NNR_TRY(plane_fits_int32(view));
    NNR_TRY(nnr_need(dy, "dy"));
    NNR_TRY(nnr_need(argmax, "argmax"));
    NNR_TRY(nnr_need(dx, "dx"));
    return nnr_ok();
}

nnr_status nnr_pool_check_argmax(const pool_view *view, const int32_t *argmax)
{
    /* A stale or made-up index would write outside dx: every one is checked
     * before the backward zeroes dx. -1 marks a window without input cells. */
    for (size_t o = 0; o < view->out_count; o++)
        if (argmax[o] < -1 || (argmax[o] >= 0 && (size_t)argmax[o] >= view->in_plane))
            return nnr_error(NNR_ERR_PARAM,
                             "argmax[%zu] is %d, outside [-1, %zu): not an index the max forward of this "
                             "in_shape saved", o, (int)argmax[o], view->in_plane);
    return nnr_ok();
}

nnr_status nnr_pool_check_max_bwd(const nnr_pool_params *p, const nnr_shape *in_shape, const void *dy,
                                  const int32_t *argmax, const void *dx, pool_view *view)
{
    NNR_TRY(nnr_pool_check_max_bwd_args(p, in_shape, dy, argmax, dx, view));
    return nnr_pool_check_argmax(view, argmax);
}

nnr_status nnr_pool_check_avg(const nnr_pool_params *p, const nnr_shape *in_shape, const void *in,
                              const char *in_name, const void *out, const char *out_name, pool_view *view)
{
    NNR_TRY(nnr_pool_view_make(p, POOL_KIND_AVG, in_shape, view));
    NNR_TRY(nnr_need(in, in_name));
    NNR_TRY(nnr_need(out, out_name));
    return nnr_ok();
}

nnr_status nnr_global_pool_check(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                 const void *const ptrs[], const char *const names[], size_t count,
                                 global_pool_view *view)
{
    NNR_TRY(nnr_global_pool_view_make(p, in_shape, view));
    for (size_t i = 0; i < count; i++)
        NNR_TRY(nnr_need(ptrs[i], names[i]));
    return nnr_ok();
}
