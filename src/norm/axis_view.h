/*
 * The view BatchNorm and GroupNorm (and InstanceNorm through it) take of
 * their input: a tensor of rank 2..5 seen as (n, pre, c, post) around the
 * channel axis. One function validates rank, extents and axis for both, so
 * they accept the same shapes with the same sentences.
 */
#ifndef NNR_NORM_AXIS_VIEW_H
#define NNR_NORM_AXIS_VIEW_H

#include <stddef.h>
#include "nnref/core.h"

typedef struct nnr_axis_view {
    size_t n;       /* batch, dims[0] */
    size_t pre;     /* product of the dimensions between the batch and channel axes */
    size_t c;       /* channels, dims[axis] */
    size_t post;    /* product of the dimensions after the channel axis */
    size_t count;   /* elements of the tensor */
} nnr_axis_view;

/*
 * Validates shape (not NULL, rank 2..5, non-zero extents, no overflow) and
 * axis (negative counts from the end; neither out of range nor the batch
 * axis 0), with `layer` ("BatchNorm", "GroupNorm") named in the sentences,
 * and fills *view. Nothing is written on error.
 */
nnr_status nnr_axis_view_make(const char *layer, int axis, const nnr_shape *shape, nnr_axis_view *view);

#endif /* NNR_NORM_AXIS_VIEW_H */
