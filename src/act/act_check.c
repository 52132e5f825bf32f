/*
 * Argument checks of the activation and loss kernels. Every kernel calls its
 * check before touching any output, so nothing is written on error. The
 * label sentence gives the sample and the value, as PyTorch's "Target 10 is
 * out of bounds." and TensorFlow's "Received a label value of 10 which is
 * outside the valid range of [0, 10)" do.
 */
#include "config.h"
#include "core/check.h"
#include "act_internal.h"

nnr_status nnr_act_check(const nnr_shape *shape, const void *const ptrs[], const char *const names[],
                         size_t n_ptrs, act_view *v)
{
    NNR_TRY(nnr_need(shape, "shape"));
    act_view w;
    NNR_TRY(nnr_shape_numel(shape, "shape", &w.count));
    w.classes = shape->dims[shape->rank - 1];
    w.rows = w.count / w.classes;
    for (size_t i = 0; i < n_ptrs; i++)
        NNR_TRY(nnr_need(ptrs[i], names[i]));
    *v = w;
    return nnr_ok();
}

nnr_status nnr_softmax_xent_check(const nnr_shape *shape, const void *logits, const int32_t *labels,
                                  const void *loss, act_view *v)
{
    NNR_TRY(nnr_need(shape, "shape"));
    if (shape->rank != 2)
        return nnr_error(NNR_ERR_SHAPE, "shape has rank %zu; the logits of sparse categorical cross-entropy are "
                         "(batch, classes), rank 2", shape->rank);
    const void *const ptrs[] = {logits, labels, loss};
    const char *const names[] = {"logits", "labels", "loss"};
    act_view w;
    NNR_TRY(nnr_act_check(shape, ptrs, names, 3, &w));
    for (size_t n = 0; n < w.rows; n++)
        if (labels[n] < 0 || (size_t)labels[n] >= w.classes)
            return nnr_error(NNR_ERR_PARAM, "labels[%zu] is %d, outside the valid range [0, %zu) of the %zu classes",
                             n, (int)labels[n], w.classes, w.classes);
    *v = w;
    return nnr_ok();
}
