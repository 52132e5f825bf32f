/*
 * Average pooling, naive reference kernels in 1D, 2D and 3D.
 * PyTorch reference: aten/src/ATen/native/cpu/AvgPoolKernel.cpp;
 * TensorFlow's 'same' divisor: tensorflow/core/kernels/avgpooling_op.cc.
 *
 * Written once over nnr_real and built twice: float (nnr_avgpool_*_naive)
 * and double (nnr_avgpool_*_naive_f64), see src/core/real.h.
 *
 * Shapes and addressing as in maxpool_naive.c:
 *   x, dx   (N, C, in_d, in_h, in_w)    in the layout's order
 *   y, dy   (N, C, out_d, out_h, out_w) in the layout's order
 * The divisor D(o) of each window is pool_divisor() (pool_internal.h): the
 * in-bounds count, the window clipped at the padded edge, or divisor_override.
 * Sums run in double even in the float build.
 */
#include "config.h"
#include "core/real.h"
#include "pool_internal.h"

/* ------------------------------------------------------------------------- */
/* Forward                                                                   */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_avgpool_fwd)(const nnr_pool_params *p, const nnr_shape *in_shape, const nnr_real *x,
                                      nnr_real *y)
{
    pool_view v;
    nnr_status st = nnr_pool_check_avg(p, in_shape, x, "x", y, "y", &v);
    if (st.code != NNR_OK)
        return st;

    const pool_axis *ad = &v.axis[0], *ah = &v.axis[1], *aw = &v.axis[2];
    const size_t step = pool_cell_step(&v);

    for (size_t n = 0; n < v.n; n++)
        for (size_t c = 0; c < v.c; c++) {
            const nnr_real *x_plane = x + pool_plane_base(&v, v.in_plane, n, c);
            nnr_real *y_plane = y + pool_plane_base(&v, v.out_plane, n, c);
            for (size_t od = 0; od < ad->out; od++)
                for (size_t oh = 0; oh < ah->out; oh++)
                    for (size_t ow = 0; ow < aw->out; ow++) {
                        size_t jd0, jd1, jh0, jh1, jw0, jw1;
                        pool_window_taps(ad, od, &jd0, &jd1);
                        pool_window_taps(ah, oh, &jh0, &jh1);
                        pool_window_taps(aw, ow, &jw0, &jw1);
                        const ptrdiff_t start_d = pool_window_start(ad, od), start_h = pool_window_start(ah, oh),
                                        start_w = pool_window_start(aw, ow);

                        /* step 1: sum over the window's in-bounds cells */
                        double sum = 0.0;
                        for (size_t jd = jd0; jd < jd1; jd++)
                            for (size_t jh = jh0; jh < jh1; jh++)
                                for (size_t jw = jw0; jw < jw1; jw++) {
                                    const size_t id = (size_t)(start_d + (ptrdiff_t)jd);
                                    const size_t ih = (size_t)(start_h + (ptrdiff_t)jh);
                                    const size_t iw = (size_t)(start_w + (ptrdiff_t)jw);
                                    sum += x_plane[((id * ah->in + ih) * aw->in + iw) * step];
                                }

                        /* step 2: y = sum / D(o) */
                        const size_t o = (od * ah->out + oh) * aw->out + ow;
                        y_plane[o * step] = (nnr_real)(sum / pool_divisor(&v, od, oh, ow));
                    }
        }
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Backward                                                                  */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_avgpool_bwd)(const nnr_pool_params *p, const nnr_shape *in_shape, const nnr_real *dy,
                                      nnr_real *dx)
{
    pool_view v;
    nnr_status st = nnr_pool_check_avg(p, in_shape, dy, "dy", dx, "dx", &v);
    if (st.code != NNR_OK)
        return st;

    const pool_axis *ad = &v.axis[0], *ah = &v.axis[1], *aw = &v.axis[2];
    const size_t step = pool_cell_step(&v);

    /* step 1: dx = 0 (cells no window reaches get no gradient) */
    for (size_t i = 0; i < v.in_count; i++)
        dx[i] = 0;

    /* step 2: dx[i] += dy[o] / D(o) for every in-bounds cell i of window o;
     * overlapping windows add up. */
    for (size_t n = 0; n < v.n; n++)
        for (size_t c = 0; c < v.c; c++) {
            nnr_real *dx_plane = dx + pool_plane_base(&v, v.in_plane, n, c);
            const nnr_real *dy_plane = dy + pool_plane_base(&v, v.out_plane, n, c);
            for (size_t od = 0; od < ad->out; od++)
                for (size_t oh = 0; oh < ah->out; oh++)
                    for (size_t ow = 0; ow < aw->out; ow++) {
                        size_t jd0, jd1, jh0, jh1, jw0, jw1;
                        pool_window_taps(ad, od, &jd0, &jd1);
                        pool_window_taps(ah, oh, &jh0, &jh1);
                        pool_window_taps(aw, ow, &jw0, &jw1);
                        const ptrdiff_t start_d = pool_window_start(ad, od), start_h = pool_window_start(ah, oh),
                                        start_w = pool_window_start(aw, ow);

                        const size_t o = (od * ah->out + oh) * aw->out + ow;
                        const double share = dy_plane[o * step] / pool_divisor(&v, od, oh, ow);
                        for (size_t jd = jd0; jd < jd1; jd++)
                            for (size_t jh = jh0; jh < jh1; jh++)
                                for (size_t jw = jw0; jw < jw1; jw++) {
                                    const size_t id = (size_t)(start_d + (ptrdiff_t)jd);
                                    const size_t ih = (size_t)(start_h + (ptrdiff_t)jh);
                                    const size_t iw = (size_t)(start_w + (ptrdiff_t)jw);
                                    dx_plane[((id * ah->in + ih) * aw->in + iw) * step] += (nnr_real)share;
                                }
                    }
        }
    return nnr_ok();
}
