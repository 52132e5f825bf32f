/*
 * Conv1D/Conv2D, naive reference kernels: the direct loop nest.
 * PyTorch reference: aten/src/ATen/native/ConvolutionMM2d.cpp (the math, not
 * its im2col); Keras: keras/src/layers/convolutional/base_conv.py.
 *
 * Written once over nnr_real and built twice: float (nnr_conv_*_naive) and
 * double (nnr_conv_*_naive_f64), see src/core/real.h.
 *
 * Shapes. A 1D layer is seen as 2D with a unit height, so every (n, c) plane
 * of x has extent (in_h, in_w), every plane of y (out_h, out_w), and the
 * kernel (k_h, k_w) taps, tap t = j_h*k_w + j_w. conv_internal.h places each
 * element: conv_x_index(n, c, cell), conv_y_index(n, o, cell) in the data
 * layout, conv_w_index(o, c, tap) in the weight layout.
 *   x, dx   (N, C_in,  in_h,  in_w)   in the layout's order
 *   y, dy   (N, C_out, out_h, out_w)  in the layout's order
 *   w, dw   (C_out, C_in, k_h, k_w)   in the weight layout's order
 *   b, db   (C_out)
 * Output position (q_h, q_w), tap (j_h, j_w) reads input position
 *   i_h = q_h*s_h - p_h + j_h*d_h,   i_w = q_w*s_w - p_w + j_w*d_w,
 * and a position outside [0, in) is zero padding: it adds nothing forward
 * and receives nothing backward.
 *
 * The naive kernels need no workspace; they ignore the one they are given.
 */
#include "config.h"
#include "core/real.h"
#include "conv_internal.h"

/* ------------------------------------------------------------------------- */
/* Forward                                                                   */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_conv_fwd)(const nnr_conv_params *p, const nnr_shape *in_shape, const nnr_real *x,
                                   const nnr_real *w, const nnr_real *b, nnr_real *y, nnr_real *workspace,
                                   size_t workspace_floats)
{
    conv_view v;
    nnr_status st = nnr_conv_check_fwd(p, in_shape, x, w, b, y, workspace, workspace_floats, 0, &v);
    if (st.code != NNR_OK)
        return st;

    const conv_axis *ah = &v.axis[0], *aw = &v.axis[1];

    /* y[n,o,q] = b[o] + sum_c sum_j w[o,c,j] * x[n,c, q*s - p + j*d] */
    for (size_t n = 0; n < v.n; n++)
        for (size_t o = 0; o < v.cout; o++)
            for (size_t qh = 0; qh < ah->out; qh++)
                for (size_t qw = 0; qw < aw->out; qw++) {
                    nnr_real acc = v.use_bias ? b[o] : 0;
                    for (size_t c = 0; c < v.cin; c++)
                        for (size_t jh = 0; jh < ah->kernel; jh++) {
                            const ptrdiff_t ih = conv_tap_pos(ah, qh, jh);
                            if (ih < 0 || ih >= (ptrdiff_t)ah->in)
                                continue;                         /* zero padding row */
                            for (size_t jw = 0; jw < aw->kernel; jw++) {
                                const ptrdiff_t iw = conv_tap_pos(aw, qw, jw);
                                if (iw < 0 || iw >= (ptrdiff_t)aw->in)
                                    continue;                     /* zero padding column */
                                const size_t cell = (size_t)ih * aw->in + (size_t)iw;
                                acc += w[conv_w_index(&v, o, c, jh * aw->kernel + jw)] * x[conv_x_index(&v, n, c, cell)];
                            }
                        }
                    y[conv_y_index(&v, n, o, qh * aw->out + qw)] = acc;
                }
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Backward                                                                  */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_conv_bwd)(const nnr_conv_params *p, const nnr_shape *in_shape, const nnr_real *x,
                                   const nnr_real *w, const nnr_real *dy, nnr_real *dx, nnr_real *dw, nnr_real *db,
                                   nnr_real *workspace, size_t workspace_floats)
{
    conv_view v;
    nnr_status st = nnr_conv_check_bwd(p, in_shape, x, w, dy, dx, dw, db, workspace, workspace_floats, 0, &v);
    if (st.code != NNR_OK)
        return st;

    const conv_axis *ah = &v.axis[0], *aw = &v.axis[1];

    /* term db (docs/conv-backward.md, term 1): y depends on b[o] with slope 1
     * at every (n, q):   db[o] = sum_{n,q} dy[n,o,q] */
    if (db != NULL)
        for (size_t o = 0; o < v.cout; o++) {
            nnr_real acc = 0;
            for (size_t n = 0; n < v.n; n++)
                for (size_t q = 0; q < v.out_plane; q++)
                    acc += dy[conv_y_index(&v, n, o, q)];
            db[o] = acc;
        }

    /* term dW (term 2): w[o,c,j] multiplies x[n,c, q*s - p + j*d] in y[n,o,q]:
     *   dw[o,c,j] = sum_{n,q} dy[n,o,q] * x[n,c, q*s - p + j*d]   (padding adds 0) */
    if (dw != NULL)
        for (size_t o = 0; o < v.cout; o++)
            for (size_t c = 0; c < v.cin; c++)
                for (size_t jh = 0; jh < ah->kernel; jh++)
                    for (size_t jw = 0; jw < aw->kernel; jw++) {
                        nnr_real acc = 0;
                        for (size_t n = 0; n < v.n; n++)
                            for (size_t qh = 0; qh < ah->out; qh++) {
                                const ptrdiff_t ih = conv_tap_pos(ah, qh, jh);
                                if (ih < 0 || ih >= (ptrdiff_t)ah->in)
                                    continue;
                                for (size_t qw = 0; qw < aw->out; qw++) {
                                    const ptrdiff_t iw = conv_tap_pos(aw, qw, jw);
                                    if (iw < 0 || iw >= (ptrdiff_t)aw->in)
                                        continue;
                                    const size_t cell = (size_t)ih * aw->in + (size_t)iw;
                                    acc += dy[conv_y_index(&v, n, o, qh * aw->out + qw)] * x[conv_x_index(&v, n, c, cell)];
                                }
                            }
                        dw[conv_w_index(&v, o, c, jh * aw->kernel + jw)] = acc;
                    }

    /* term dX (term 3): x[n,c,i] appears in every y[n,o,q] whose tap j lands
     * on it (q*s - p + j*d = i), with weight w[o,c,j]:
     *   dx[n,c,i] = sum_o sum_{(q,j) -> i} dy[n,o,q] * w[o,c,j]
     * written as a scatter: dx = 0, then each (n, o, q, c, j) adds its product
     * to the cell it read forward (cells no tap reads keep 0). */
    if (dx != NULL) {
        for (size_t i = 0; i < v.in_count; i++)
            dx[i] = 0;
        for (size_t n = 0; n < v.n; n++)
            for (size_t o = 0; o < v.cout; o++)
                for (size_t qh = 0; qh < ah->out; qh++)
                    for (size_t qw = 0; qw < aw->out; qw++) {
                        const nnr_real g = dy[conv_y_index(&v, n, o, qh * aw->out + qw)];
                        for (size_t c = 0; c < v.cin; c++)
                            for (size_t jh = 0; jh < ah->kernel; jh++) {
                                const ptrdiff_t ih = conv_tap_pos(ah, qh, jh);
                                if (ih < 0 || ih >= (ptrdiff_t)ah->in)
                                    continue;
                                for (size_t jw = 0; jw < aw->kernel; jw++) {
                                    const ptrdiff_t iw = conv_tap_pos(aw, qw, jw);
                                    if (iw < 0 || iw >= (ptrdiff_t)aw->in)
                                        continue;
                                    const size_t cell = (size_t)ih * aw->in + (size_t)iw;
                                    dx[conv_x_index(&v, n, c, cell)] += g * w[conv_w_index(&v, o, c, jh * aw->kernel + jw)];
                                }
                            }
                    }
    }
    return nnr_ok();
}
