/*
 * Global max and average pooling, naive reference kernels: each (n, c) plane
 * of `plane` spatial cells reduces to one value y[n*C + c] (the (N, C) order
 * whatever the layout; with keepdims the same N·C values).
 * Keras: layers/pooling/global_{max,average}_pooling*.py (ops.max, ops.mean);
 * the split gradient of ties: TensorFlow python/ops/math_grad.py::_MinOrMaxGrad.
 *
 * Written once over nnr_real and built twice: float (nnr_global_*_naive)
 * and double (nnr_global_*_naive_f64), see src/core/real.h.
 *
 * Shapes. Cell s of plane (n, c) sits at plane_base + s*cell_step in x and dx
 * (channels_first: (n*C + c)*plane + s; channels_last: n*plane*C + s*C + c).
 *   x, dx   (N, C, plane) in the layout's order
 *   y, dy   (N, C)
 */
#include "config.h"
#include <math.h>
#include "core/real.h"
#include "pool_internal.h"

/* Whether cell value val is where the plane's max y came from for the FIRST
 * rule: equal to it, or both NaN (a NaN max came from the plane's NaNs). */
static int is_max_cell(nnr_real val, nnr_real y)
{
    return val == y || (isnan(val) && isnan(y));
}

/* ------------------------------------------------------------------------- */
/* Global max                                                                */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_global_maxpool_fwd)(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                             const nnr_real *x, nnr_real *y)
{
    const void *const ptrs[] = {x, y};
    const char *const names[] = {"x", "y"};
    global_pool_view v;
    nnr_status st = nnr_global_pool_check(p, in_shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t step = global_pool_cell_step(&v);
    for (size_t n = 0; n < v.n; n++)
        for (size_t c = 0; c < v.c; c++) {
            /* y = max over the plane; a NaN makes it NaN (the windowed rule) */
            const nnr_real *x_plane = x + global_pool_plane_base(&v, n, c);
            nnr_real best = x_plane[0];
            for (size_t s = 1; s < v.plane; s++) {
                const nnr_real val = x_plane[s * step];
                if (val > best || isnan(val))
                    best = val;
            }
            y[n * v.c + c] = best;
        }
    return nnr_ok();
}

nnr_status NNR_NAIVE(nnr_global_maxpool_bwd)(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                             const nnr_real *x, const nnr_real *y, const nnr_real *dy,
                                             nnr_real *dx)
{
    const void *const ptrs[] = {x, y, dy, dx};
    const char *const names[] = {"x", "y", "dy", "dx"};
    global_pool_view v;
    nnr_status st = nnr_global_pool_check(p, in_shape, ptrs, names, 4, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t step = global_pool_cell_step(&v);

    /* step 1: dx = 0 */
    for (size_t i = 0; i < v.count; i++)
        dx[i] = 0;

    for (size_t n = 0; n < v.n; n++)
        for (size_t c = 0; c < v.c; c++) {
            const nnr_real *x_plane = x + global_pool_plane_base(&v, n, c);
            nnr_real *dx_plane = dx + global_pool_plane_base(&v, n, c);
            const nnr_real y_nc = y[n * v.c + c], dy_nc = dy[n * v.c + c];

            if (p->ties == NNR_POOL_TIES_FIRST) {
                /* step 2 (first): all of dy to the first cell equal to the
                 * max, or the last NaN when the max is NaN, the cell the
                 * windowed forward's argmax names. */
                size_t taken = v.plane;
                for (size_t s = 0; s < v.plane; s++)
                    if (is_max_cell(x_plane[s * step], y_nc) && (taken == v.plane || isnan(y_nc)))
                        taken = s;
                if (taken < v.plane)
                    dx_plane[taken * step] = dy_nc;
            } else {
                /* step 2 (split): reduce-max's gradient, (x == y)/t * dy with t
                 * the number of cells equal to the max: dy / t to each of them.
                 * A NaN max equals no cell, t = 0, and 0/0 makes the whole
                 * plane NaN, as TensorFlow's _MinOrMaxGrad and PyTorch's amax
                 * backward give. */
                size_t ties = 0;
                for (size_t s = 0; s < v.plane; s++)
                    ties += (size_t)(x_plane[s * step] == y_nc);
                for (size_t s = 0; s < v.plane; s++)
                    if (ties == 0)
                        dx_plane[s * step] = (nnr_real)NAN;
                    else if (x_plane[s * step] == y_nc)
                        dx_plane[s * step] = (nnr_real)((double)dy_nc / (double)ties);
            }
        }
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Global average                                                            */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_global_avgpool_fwd)(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                             const nnr_real *x, nnr_real *y)
{
    const void *const ptrs[] = {x, y};
    const char *const names[] = {"x", "y"};
    global_pool_view v;
    nnr_status st = nnr_global_pool_check(p, in_shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t step = global_pool_cell_step(&v);
    for (size_t n = 0; n < v.n; n++)
        for (size_t c = 0; c < v.c; c++) {
            /* y = (1/plane) sum over the plane, summed in double */
            const nnr_real *x_plane = x + global_pool_plane_base(&v, n, c);
            double sum = 0.0;
            for (size_t s = 0; s < v.plane; s++)
                sum += x_plane[s * step];
            y[n * v.c + c] = (nnr_real)(sum / (double)v.plane);
        }
    return nnr_ok();
}

nnr_status NNR_NAIVE(nnr_global_avgpool_bwd)(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                             const nnr_real *dy, nnr_real *dx)
{
    const void *const ptrs[] = {dy, dx};
    const char *const names[] = {"dy", "dx"};
    global_pool_view v;
    nnr_status st = nnr_global_pool_check(p, in_shape, ptrs, names, 2, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t step = global_pool_cell_step(&v);
    for (size_t n = 0; n < v.n; n++)
        for (size_t c = 0; c < v.c; c++) {
            /* dx = dy / plane on every cell of the plane */
            nnr_real *dx_plane = dx + global_pool_plane_base(&v, n, c);
            const nnr_real share = (nnr_real)((double)dy[n * v.c + c] / (double)v.plane);
            for (size_t s = 0; s < v.plane; s++)
                dx_plane[s * step] = share;
        }
    return nnr_ok();
}
