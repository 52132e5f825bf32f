/*
 * The model's loss: the fused softmax + sparse categorical cross-entropy
 * kernel (include/nnref/activation.h) on the last layer's output, read as
 * logits (N, K); its gradient with respect to the logits is kept in the
 * model for nnr_model_backward_loss(). Accuracy counts the samples whose
 * largest logit (the first, on ties: NumPy's and PyTorch's argmax) is the
 * label, as Keras' sparse_categorical_accuracy does.
 *
 * Built twice (model_internal.h) for the kernel call; the float build also
 * defines the public entry points, which pick the build by the model's
 * precision.
 */
#include "config.h"
#include <string.h>
#include "core/real.h"
#include "core/check.h"
#include "nnref/activation.h"
#include "model_internal.h"

nnr_status NNR_TYPED(nnr_model_loss_real)(nnr_model *m, const int32_t *labels, int grad, double *loss,
                                          size_t *correct)
{
    const nnr_shape *out = &m->layers[m->n_layers - 1]->out_shape;
    if (out->rank != 2)
        return nnr_error(NNR_ERR_SHAPE, "the loss reads the model's output as logits (N, K), but the output has "
                         "rank %zu (add Flatten and a Dense layer)", out->rank);
    const nnr_shape shape = nnr_model_batch(out, m->n);
    const size_t k = shape.dims[1];
    const nnr_real *logits = m->act[m->n_layers];
    nnr_real value = 0;
    NNR_TRY(NNR_MODEL_KERNEL(nnr_softmax_xent)(&shape, logits, labels, &value, grad ? m->dout : NULL));
    if (correct != NULL) {
        /* argmax of each row, the first maximum on ties */
        size_t right = 0;
        for (size_t i = 0; i < m->n; i++) {
            const nnr_real *row = logits + i * k;
            size_t best = 0;
            for (size_t c = 1; c < k; c++)
                if (row[c] > row[best])
                    best = c;
            right += (int64_t)best == (int64_t)labels[i];
        }
        *correct = right;
    }
    if (loss != NULL)
        *loss = (double)value;
    m->has_dout = grad;
    return nnr_ok();
}

/* dL/d(output) times scale into the second output-gradient buffer, then backward. */
nnr_status NNR_TYPED(nnr_model_backward_loss_real)(nnr_model *m, double scale)
{
    const size_t count = m->n * m->act_count[m->n_layers];
    const nnr_real *d = m->dout;
    nnr_real *scaled = m->dout_scaled;
    for (size_t i = 0; i < count; i++)
        scaled[i] = (nnr_real)(scale * d[i]);
    return nnr_model_run_backward(m, scaled);
}

#ifndef NNR_REAL_DOUBLE
nnr_status nnr_model_loss(nnr_model *model, const int32_t *labels, int grad, double *loss, size_t *correct)
{
    NNR_TRY(nnr_need(model, "model"));
    NNR_TRY(nnr_need(labels, "labels"));
    if (!model->built || model->n == 0)
        return nnr_error(NNR_ERR_PARAM, "the loss needs a forward first");
    if (model->dtype == NNR_FLOAT64)
        return nnr_model_loss_real_f64(model, labels, grad, loss, correct);
    return nnr_model_loss_real(model, labels, grad, loss, correct);
}

nnr_status nnr_model_backward_loss(nnr_model *model, double scale)
{
    NNR_TRY(nnr_need(model, "model"));
    if (!model->built || model->n == 0 || !model->has_dout)
        return nnr_error(NNR_ERR_PARAM, "backward_loss needs nnr_model_loss with grad = 1 after a forward");
    if (model->dtype == NNR_FLOAT64)
        return nnr_model_backward_loss_real_f64(model, scale);
    return nnr_model_backward_loss_real(model, scale);
}
#endif
