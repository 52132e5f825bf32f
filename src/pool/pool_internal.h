/*
 * What every pooling kernel (naive float, naive double, AVX2) shares: the
 * geometry of the windows along each axis, and the argument checks, so that
 * all implementations accept and reject exactly the same calls and agree on
 * every window and divisor.
 *
 * A 1D or 2D layer is seen as 3D with leading unit axes (extent 1, window 1,
 * stride 1, no padding), so kernels loop over depth, height and width always.
 */
#ifndef NNR_POOL_INTERNAL_H
#define NNR_POOL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "nnref/pool.h"

/* One spatial axis: output o reads input positions
 * o*stride - pad_before + j*dilation, j = 0..window-1, those in [0, in). */
typedef struct pool_axis {
    size_t in;          /* input extent n */
    size_t out;         /* output extent */
    size_t window;      /* k */
    size_t stride;      /* s (0 in the params already resolved to k) */
    size_t dilation;    /* d */
    size_t pad_before;  /* padding cells before position 0 */
    size_t pad_edge;    /* count_include_pad clips windows at in + pad_edge (PyTorch: p) */
} pool_axis;

/* Which divisor an average window gets (nnr_pool_params resolved). */
typedef enum pool_divisor_rule {
    POOL_DIVIDE_IN_BOUNDS = 0,   /* in-bounds cells (TF/Keras same, PyTorch count_include_pad=False, valid) */
    POOL_DIVIDE_PADDED = 1,      /* window clipped at the padded edge (PyTorch count_include_pad=True) */
    POOL_DIVIDE_OVERRIDE = 2     /* divisor_override */
} pool_divisor_rule;

typedef struct pool_view {
    size_t n, c;                    /* batch and channels */
    pool_axis axis[3];              /* depth, height, width (unit axes in front for 1D/2D) */
    size_t in_plane, out_plane;     /* spatial cells of one (n, c) plane of x and of y */
    size_t in_count, out_count;     /* elements of x and of y */
    nnr_layout layout;
    pool_divisor_rule divisor_rule;
    double divisor_override;
} pool_view;

/*
 * The element (n, c, spatial cell s) of a tensor with `plane` spatial cells
 * sits at plane_base(...) + s * cell_step(...): channels_first planes are
 * contiguous, channels_last cells are C apart.
 */
static inline size_t pool_plane_base(const pool_view *v, size_t plane, size_t n, size_t c)
{
    return v->layout == NNR_CHANNELS_FIRST ? (n * v->c + c) * plane : n * plane * v->c + c;
}

static inline size_t pool_cell_step(const pool_view *v)
{
    return v->layout == NNR_CHANNELS_FIRST ? 1 : v->c;
}

/* First input position of output o's window (may be negative: padding). */
static inline ptrdiff_t pool_window_start(const pool_axis *a, size_t o)
{
    return (ptrdiff_t)(o * a->stride) - (ptrdiff_t)a->pad_before;
}

/* Taps j in [*j_begin, *j_end) of output o's window land inside [0, in).
 * The range is empty (*j_begin == *j_end) when no tap does. */
static inline void pool_window_taps(const pool_axis *a, size_t o, size_t *j_begin, size_t *j_end)
{
    const ptrdiff_t start = pool_window_start(a, o);
    const ptrdiff_t d = (ptrdiff_t)a->dilation, n = (ptrdiff_t)a->in;
    /* (dilation 1, the common case, without the divisions: kernels call
     * this once per output row, where two divisions cost more than the row) */
    ptrdiff_t lo = start >= 0 ? 0 : d == 1 ? -start : (-start + d - 1) / d;            /* first j with start + j*d >= 0 */
    ptrdiff_t hi = start >= n ? 0 : d == 1 ? n - start : (n - 1 - start) / d + 1;      /* first j with start + j*d >= n */
    if (hi > (ptrdiff_t)a->window)
        hi = (ptrdiff_t)a->window;
    if (lo > hi)
        lo = hi;
    *j_begin = (size_t)lo;
    *j_end = (size_t)hi;
}

/* Cells output o's window counts along one axis for the average's divisor:
 * in-bounds taps, or (PADDED) the window clipped at in + pad_edge as PyTorch's
 * AvgPool: hi = min(start + k, n + p), count = hi - start. */
static inline size_t pool_axis_divisor(const pool_axis *a, size_t o, pool_divisor_rule rule)
{
    if (rule == POOL_DIVIDE_PADDED) {
        const ptrdiff_t start = pool_window_start(a, o);
        ptrdiff_t hi = start + (ptrdiff_t)a->window;
        const ptrdiff_t edge = (ptrdiff_t)(a->in + a->pad_edge);
        if (hi > edge)
            hi = edge;
        return (size_t)(hi - start);
    }
    size_t j0, j1;
    pool_window_taps(a, o, &j0, &j1);
    return j1 - j0;
}

/* The average divisor D(o) of output (od, oh, ow). */
static inline double pool_divisor(const pool_view *v, size_t od, size_t oh, size_t ow)
{
    if (v->divisor_rule == POOL_DIVIDE_OVERRIDE)
        return v->divisor_override;
    return (double)pool_axis_divisor(&v->axis[0], od, v->divisor_rule) *
           (double)pool_axis_divisor(&v->axis[1], oh, v->divisor_rule) *
           (double)pool_axis_divisor(&v->axis[2], ow, v->divisor_rule);
}

/* Which pooling a view is made for (average forbids dilation). */
typedef enum pool_kind { POOL_KIND_MAX = 0, POOL_KIND_AVG = 1 } pool_kind;

/* Validates params and shape (no pointers) and fills the view; the checks and
 * sentences behind nnr_pool_output_shape(). */
nnr_status nnr_pool_view_make(const nnr_pool_params *p, pool_kind kind, const nnr_shape *in_shape, pool_view *view);

/* The argument checks of each windowed pass: view plus pointers (NULL and, for
 * the max backward, every argmax in [-1, in_plane)). The pointers are only
 * tested, never dereferenced as float or double, so one function serves both
 * precisions. Nothing is written on error. */
nnr_status nnr_pool_check_max_fwd(const nnr_pool_params *p, const nnr_shape *in_shape, const void *x,
                                  const void *y, pool_view *view);
nnr_status nnr_pool_check_max_bwd(const nnr_pool_params *p, const nnr_shape *in_shape, const void *dy,
                                  const int32_t *argmax, const void *dx, pool_view *view);
/* nnr_pool_check_max_bwd in its two parts: view and pointers, then every
 * argmax in [-1, in_plane) (the sentence names the first entry outside). The
 * AVX2 backward reads argmax its own way in between: an entry in its own
 * window is inside the plane, so the second part runs only when that test
 * fails (maxpool_avx2.c). */
nnr_status nnr_pool_check_max_bwd_args(const nnr_pool_params *p, const nnr_shape *in_shape, const void *dy,
                                       const int32_t *argmax, const void *dx, pool_view *view);
nnr_status nnr_pool_check_argmax(const pool_view *view, const int32_t *argmax);
nnr_status nnr_pool_check_avg(const nnr_pool_params *p, const nnr_shape *in_shape, const void *in,
                              const char *in_name, const void *out, const char *out_name, pool_view *view);

/* Global pooling: (n, c, plane) with the layout. */
typedef struct global_pool_view {
    size_t n, c, plane;
    size_t count;
    nnr_layout layout;
} global_pool_view;

/* Cell s of plane (n, c) of a global pooling input sits at
 * global_pool_plane_base(...) + s * global_pool_cell_step(...), as the
 * windowed pool_plane_base/pool_cell_step. */
static inline size_t global_pool_plane_base(const global_pool_view *v, size_t n, size_t c)
{
    return v->layout == NNR_CHANNELS_FIRST ? (n * v->c + c) * v->plane : n * v->plane * v->c + c;
}

static inline size_t global_pool_cell_step(const global_pool_view *v)
{
    return v->layout == NNR_CHANNELS_FIRST ? 1 : v->c;
}

nnr_status nnr_global_pool_view_make(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                     global_pool_view *view);
/* Checks of a global pass: the view, and each of the `count` pointers
 * non-NULL (names[i] is the argument named in the sentence). */
nnr_status nnr_global_pool_check(const nnr_global_pool_params *p, const nnr_shape *in_shape,
                                 const void *const ptrs[], const char *const names[], size_t count,
                                 global_pool_view *view);

#endif /* NNR_POOL_INTERNAL_H */
