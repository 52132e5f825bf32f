/* The (n, pre, c, post) view around a channel axis, shared by BatchNorm and GroupNorm. */
#include "config.h"
#include "axis_view.h"

nnr_status nnr_axis_view_make(const char *layer, int axis, const nnr_shape *shape, nnr_axis_view *view)
{
    size_t count;

    if (shape == NULL)
        return nnr_error(NNR_ERR_NULL, "shape is NULL");
    if (shape->rank < 2 || shape->rank > 5)
        return nnr_error(NNR_ERR_SHAPE,
                         "shape has rank %zu; %s takes rank 2 (N, C) to 5 (N, C, D, H, W or N, D, H, W, C)",
                         shape->rank, layer);
    nnr_status st = nnr_shape_numel(shape, "shape", &count);
    if (st.code != NNR_OK)
        return st;

    const int a = axis < 0 ? axis + (int)shape->rank : axis;
    if (a < 0 || a >= (int)shape->rank)
        return nnr_error(NNR_ERR_SHAPE, "axis %d is out of range for a rank-%zu input (valid: %d to %d)",
                         axis, shape->rank, -(int)shape->rank, (int)shape->rank - 1);
    if (a == 0)
        return nnr_error(NNR_ERR_SHAPE,
                         "axis %d is the batch axis; %s needs the channel axis (1 or -1 typically)", axis, layer);

    view->n = shape->dims[0];
    view->c = shape->dims[a];
    view->pre = 1;
    for (int d = 1; d < a; d++)
        view->pre *= shape->dims[d];          /* cannot overflow: count did not */
    view->post = 1;
    for (int d = a + 1; d < (int)shape->rank; d++)
        view->post *= shape->dims[d];
    view->count = count;
    return nnr_ok();
}
