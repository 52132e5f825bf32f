/*
 * What every convolution kernel (naive float, naive double, AVX2) shares:
 * the geometry of one axis, the view of a checked call (sizes, strides of
 * the tensors, the padding resolved to (before, after) per axis) and the
 * argument checks, so that all implementations accept and reject exactly the
 * same calls and agree on every tap.
 *
 * A 1D layer is seen as 2D with a leading unit axis (extent 1, kernel 1,
 * stride 1, no padding), so kernels loop over height and width always.
 */
#ifndef NNR_CONV_INTERNAL_H
#define NNR_CONV_INTERNAL_H

#include <stddef.h>
#include "nnref/conv.h"

/* One spatial axis: output q reads input positions
 * q*stride - pad_before + j*dilation, j = 0..kernel-1, those in [0, in). */
typedef struct conv_axis {
    size_t in;          /* input extent n */
    size_t out;         /* output extent */
    size_t kernel;      /* k */
    size_t stride;      /* s */
    size_t dilation;    /* d */
    size_t pad_before;  /* zero cells before position 0 */
    size_t pad_after;   /* zero cells after position n-1 */
} conv_axis;

typedef struct conv_view {
    size_t n, cin, cout;            /* batch, input and output channels */
    conv_axis axis[2];              /* height, width (height a unit axis for 1D) */
    size_t in_plane, out_plane;     /* spatial cells of one (n, c) plane of x and of y */
    size_t taps;                    /* kernel cells k_h * k_w */
    size_t in_count, out_count;     /* elements of x and of y */
    size_t w_count;                 /* elements of w: C_out * C_in * taps */
    nnr_layout layout;
    nnr_conv_weight_layout weight_layout;
    int use_bias;
} conv_view;

/* Element (n, c, spatial cell s) of x: channels_first planes are
 * contiguous, channels_last cells hold C_in channels side by side. */
static inline size_t conv_x_index(const conv_view *v, size_t n, size_t c, size_t cell)
{
    return v->layout == NNR_CHANNELS_FIRST ? (n * v->cin + c) * v->in_plane + cell
                                           : (n * v->in_plane + cell) * v->cin + c;
}

/* Element (n, o, spatial cell q) of y. */
static inline size_t conv_y_index(const conv_view *v, size_t n, size_t o, size_t cell)
{
    return v->layout == NNR_CHANNELS_FIRST ? (n * v->cout + o) * v->out_plane + cell
                                           : (n * v->out_plane + cell) * v->cout + o;
}

/* Weight (o, c, tap) with tap = j_h * k_w + j_w: Keras (k_h, k_w, C_in, C_out),
 * PyTorch (C_out, C_in, k_h, k_w). */
static inline size_t conv_w_index(const conv_view *v, size_t o, size_t c, size_t tap)
{
    return v->weight_layout == NNR_CONV_WEIGHT_KERAS ? (tap * v->cin + c) * v->cout + o
                                                     : (o * v->cin + c) * v->taps + tap;
}

/* Input position of output q's tap j along an axis (may lie in the padding:
 * negative, or >= in). */
static inline ptrdiff_t conv_tap_pos(const conv_axis *a, size_t q, size_t j)
{
    return (ptrdiff_t)(q * a->stride + j * a->dilation) - (ptrdiff_t)a->pad_before;
}

/* Validates params and shape (no pointers) and fills the view: the checks
 * and sentences behind nnr_conv_output_shape(). */
nnr_status nnr_conv_view_make(const nnr_conv_params *p, const nnr_shape *in_shape, conv_view *view);

/* The pointer checks of each pass, after the view. The pointers are only
 * compared with NULL, so one function serves float, double and AVX2.
 * `need` is the kernel's workspace in floats (0 for the naive kernels). */
nnr_status nnr_conv_check_fwd(const nnr_conv_params *p, const nnr_shape *in_shape, const void *x, const void *w,
                              const void *b, const void *y, const void *workspace, size_t workspace_floats,
                              size_t need, conv_view *view);
nnr_status nnr_conv_check_bwd(const nnr_conv_params *p, const nnr_shape *in_shape, const void *x, const void *w,
                              const void *dy, const void *dx, const void *dw, const void *db,
                              const void *workspace, size_t workspace_floats, size_t need, conv_view *view);

#endif /* NNR_CONV_INTERNAL_H */
