/*
 * Dense (Keras Dense, PyTorch Linear), naive reference kernels.
 * llm.c reference: train_gpt2.c matmul_forward_naive / matmul_backward.
 * PyTorch reference: torch.nn.functional.linear (y = x Wᵀ + b).
 *
 * Written once over nnr_real and built twice: float (nnr_dense_*_naive) and
 * double (nnr_dense_*_naive_f64), see src/core/real.h.
 *
 * Shapes (B = rows: the product of x's leading extents):
 *   x, dx   (B, in)
 *   y, dy   (B, units)
 *   w, dw   (in, units) Keras  or  (units, in) PyTorch;  W[i][o] = w[dense_w_index(i, o)]
 *   b, db   (units)
 *
 * Every sum runs in the loop order written, in nnr_real. The workspace
 * arguments are there for the shared signature; these kernels use none.
 */
#include "config.h"
#include "core/real.h"
#include "dense_internal.h"

/* ------------------------------------------------------------------------- */
/* Forward                                                                   */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_dense_fwd)(const nnr_dense_params *p, const nnr_shape *in_shape, const nnr_real *x,
                                    const nnr_real *w, const nnr_real *b, nnr_real *y, nnr_real *workspace,
                                    size_t workspace_floats)
{
    dense_view v;
    nnr_status st = nnr_dense_check_fwd(p, in_shape, x, w, b, y, workspace, workspace_floats, 0, &v);
    if (st.code != NNR_OK)
        return st;

    for (size_t r = 0; r < v.rows; r++) {
        const nnr_real *x_row = x + r * v.in;
        nnr_real *y_row = y + r * v.units;
        for (size_t o = 0; o < v.units; o++) {
            /* y[r][o] = b[o] + sum_i x[r][i] * W[i][o] */
            nnr_real val = v.use_bias ? b[o] : 0;
            for (size_t i = 0; i < v.in; i++)
                val += x_row[i] * w[dense_w_index(&v, i, o)];
            y_row[o] = val;
        }
    }
    return nnr_ok();
}

/* ------------------------------------------------------------------------- */
/* Backward                                                                  */
/* ------------------------------------------------------------------------- */

nnr_status NNR_NAIVE(nnr_dense_bwd)(const nnr_dense_params *p, const nnr_shape *in_shape, const nnr_real *x,
                                    const nnr_real *w, const nnr_real *dy, nnr_real *dx, nnr_real *dw,
                                    nnr_real *db, nnr_real *workspace, size_t workspace_floats)
{
    dense_view v;
    nnr_status st = nnr_dense_check_bwd(p, in_shape, x, w, dy, dx, dw, db, workspace, workspace_floats, 0, &v);
    if (st.code != NNR_OK)
        return st;

    /* term dx: dx[r][i] = sum_o dy[r][o] * W[i][o]   (dx = dy·Wᵀ) */
    if (dx != NULL)
        for (size_t r = 0; r < v.rows; r++) {
            const nnr_real *dy_row = dy + r * v.units;
            for (size_t i = 0; i < v.in; i++) {
                nnr_real val = 0;
                for (size_t o = 0; o < v.units; o++)
                    val += dy_row[o] * w[dense_w_index(&v, i, o)];
                dx[r * v.in + i] = val;
            }
        }

    /* term dW: dW[i][o] = sum_r x[r][i] * dy[r][o]   (dW = xᵀ·dy, stored in w's layout) */
    if (dw != NULL)
        for (size_t i = 0; i < v.in; i++)
            for (size_t o = 0; o < v.units; o++) {
                nnr_real val = 0;
                for (size_t r = 0; r < v.rows; r++)
                    val += x[r * v.in + i] * dy[r * v.units + o];
                dw[dense_w_index(&v, i, o)] = val;
            }

    /* term db: db[o] = sum_r dy[r][o] */
    if (db != NULL)
        for (size_t o = 0; o < v.units; o++) {
            nnr_real val = 0;
            for (size_t r = 0; r < v.rows; r++)
                val += dy[r * v.units + o];
            db[o] = val;
        }
    return nnr_ok();
}
