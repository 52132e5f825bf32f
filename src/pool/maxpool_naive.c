/*
 * Max pooling, naive reference kernels in 1D, 2D and 3D.
 * PyTorch reference: aten/src/ATen/native/cpu/MaxPoolKernel.cpp.
 *
 * Written once over nnr_real and built twice: float (nnr_maxpool_*_naive)
 * and double (nnr_maxpool_*_naive_f64), see src/core/real.h.
 *
 * Shapes. A 1D or 2D layer is seen as 3D with unit leading axes, so every
 * (n, c) plane has extent (in_d, in_h, in_w) and its output (out_d, out_h,
 * out_w). Spatial cell (i_d, i_h, i_w) of the plane is number
 * (i_d*in_h + i_h)*in_w + i_w; it sits at plane_base + cell*cell_step in x
 * (pool_internal.h: channels_first planes are contiguous, channels_last cells
 * are C apart). y and argmax are addressed the same way with the out extents.
 *   x, dx         (N, C, in_d, in_h, in_w)   in the layout's order
 *   y, dy, argmax (N, C, out_d, out_h, out_w) in the layout's order
 */
#include "config.h"
#include <math.h>
#include <string.h>
#include "core/real.h"
#include "pool_internal.h"

/* ------------------------------------------------------------------------- */
/* Forward                                                                   */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_maxpool_fwd)(const nnr_pool_params *p, const nnr_shape *in_shape, const nnr_real *x,
                                      nnr_real *y, int32_t *argmax)
{
    pool_view v;
    nnr_status st = nnr_pool_check_max_fwd(p, in_shape, x, y, &v);
    if (st.code != NNR_OK)
        return st;

    const pool_axis *ad = &v.axis[0], *ah = &v.axis[1], *aw = &v.axis[2];
    const size_t step = pool_cell_step(&v);

    for (size_t n = 0; n < v.n; n++)
        for (size_t c = 0; c < v.c; c++) {
            const nnr_real *x_plane = x + pool_plane_base(&v, v.in_plane, n, c);
            const size_t out_base = pool_plane_base(&v, v.out_plane, n, c);
            for (size_t od = 0; od < ad->out; od++)
                for (size_t oh = 0; oh < ah->out; oh++)
                    for (size_t ow = 0; ow < aw->out; ow++) {
                        size_t jd0, jd1, jh0, jh1, jw0, jw1;
                        pool_window_taps(ad, od, &jd0, &jd1);
                        pool_window_taps(ah, oh, &jh0, &jh1);
                        pool_window_taps(aw, ow, &jw0, &jw1);
                        const ptrdiff_t start_d = pool_window_start(ad, od), start_h = pool_window_start(ah, oh),
                                        start_w = pool_window_start(aw, ow);

                        /* y = max over the window's in-bounds cells, scanned
                         * row-major; the first cell always counts (so an
                         * all -inf window takes it), then a cell replaces the
                         * max if v > max or v is NaN (PyTorch): ties keep the
                         * first maximum, a NaN wins and the last NaN stays.
                         * A window without input cells keeps -inf and -1. */
                        nnr_real best = -INFINITY;
                        int32_t best_cell = -1;
                        for (size_t jd = jd0; jd < jd1; jd++)
                            for (size_t jh = jh0; jh < jh1; jh++)
                                for (size_t jw = jw0; jw < jw1; jw++) {
                                    const size_t id = (size_t)(start_d + (ptrdiff_t)(jd * ad->dilation));
                                    const size_t ih = (size_t)(start_h + (ptrdiff_t)(jh * ah->dilation));
                                    const size_t iw = (size_t)(start_w + (ptrdiff_t)(jw * aw->dilation));
                                    const size_t cell = (id * ah->in + ih) * aw->in + iw;
                                    const nnr_real val = x_plane[cell * step];
                                    if (best_cell < 0 || val > best || isnan(val)) {
                                        best = val;
                                        best_cell = (int32_t)cell;
                                    }
                                }

                        const size_t o = out_base + ((od * ah->out + oh) * aw->out + ow) * step;
                        y[o] = best;
                        if (argmax != NULL)
                            argmax[o] = best_cell;
                    }
        }
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Backward                                                                  */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_maxpool_bwd)(const nnr_pool_params *p, const nnr_shape *in_shape, const nnr_real *dy,
                                      const int32_t *argmax, nnr_real *dx)
{
    pool_view v;
    nnr_status st = nnr_pool_check_max_bwd(p, in_shape, dy, argmax, dx, &v);
    if (st.code != NNR_OK)
        return st;

    const size_t step = pool_cell_step(&v);

    /* step 1: dx = 0 (cells no window took get no gradient) */
    for (size_t i = 0; i < v.in_count; i++)
        dx[i] = 0;

    /* step 2: dx[argmax[o]] += dy[o]; overlapping windows that took the same
     * cell add up. A window without input cells (-1) routes nothing. */
    for (size_t n = 0; n < v.n; n++)
        for (size_t c = 0; c < v.c; c++) {
            nnr_real *dx_plane = dx + pool_plane_base(&v, v.in_plane, n, c);
            const size_t out_base = pool_plane_base(&v, v.out_plane, n, c);
            for (size_t o = 0; o < v.out_plane; o++) {
                const int32_t cell = argmax[out_base + o * step];
                if (cell >= 0)
                    dx_plane[(size_t)cell * step] += dy[out_base + o * step];
            }
        }
    return nnr_ok();
}
