/*
 * What the Dense kernels share (internal to the library): the view of a
 * validated call, the argument checks every kernel runs before touching an
 * output, and where W[i][o] sits in each weight layout.
 */
#ifndef NNR_DENSE_INTERNAL_H
#define NNR_DENSE_INTERNAL_H

#include <stddef.h>
#include "nnref/dense.h"

/* A validated call: x is rows x in, y is rows x units, W in x units. */
typedef struct dense_view {
    size_t rows;        /* B: the product of x's leading extents (1 for rank 1) */
    size_t in, units;   /* in_features, units */
    size_t x_count;     /* rows * in */
    size_t y_count;     /* rows * units */
    size_t w_count;     /* in * units */
    nnr_dense_weight_layout weight_layout;
    int use_bias;
} dense_view;

/* Offset of W[i][o] (input feature i, output o) in w: Keras (in, units)
 * row-major, PyTorch (units, in) row-major. */
static inline size_t dense_w_index(const dense_view *v, size_t i, size_t o)
{
    return v->weight_layout == NNR_DENSE_WEIGHT_KERAS ? i * v->units + o : o * v->in + i;
}

/* Validates the parameters and in_shape (no pointers) and fills the view:
 * the checks of nnr_dense_output_shape(). */
nnr_status nnr_dense_view_make(const nnr_dense_params *p, const nnr_shape *in_shape, dense_view *view);

/* The checks of each pass (dense_check.c): the view, then the pointers the
 * pass needs, then the workspace (need floats; 0 for the naive kernels). */
nnr_status nnr_dense_check_fwd(const nnr_dense_params *p, const nnr_shape *in_shape, const void *x, const void *w,
                               const void *b, const void *y, const void *workspace, size_t workspace_floats,
                               size_t need, dense_view *view);
nnr_status nnr_dense_check_bwd(const nnr_dense_params *p, const nnr_shape *in_shape, const void *x, const void *w,
                               const void *dy, const void *dx, const void *dw, const void *db,
                               const void *workspace, size_t workspace_floats, size_t need, dense_view *view);

#endif /* NNR_DENSE_INTERNAL_H */
