/*
 * A whole double model as a gradient-check problem (model.h,
 * nnr_gradcheck_model): the tensors are the input x and every trainable
 * tensor of the model, the forward is the model's training forward (and the
 * loss, with labels), the backward the model's backward. The harness
 * perturbs the model's own parameter arrays in place and restores them
 * exactly; x is a copy.
 *
 * The model's training-step counter is not advanced by forward, so a dropout
 * layer draws the same mask in every forward of the check (cs231n: "fix the
 * random seed"). BatchNorm's running statistics move with every forward but
 * do not enter a training forward's output.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "model/model_internal.h"

typedef struct model_problem {
    nnr_model *model;
    size_t n;
    double *x;
    const int32_t *labels;
    double loss;
} model_problem;

static nnr_status mp_forward(void *ctx)
{
    model_problem *p = ctx;
    NNR_TRY(nnr_model_forward_f64(p->model, p->n, p->x, 1));
    if (p->labels != NULL)
        return nnr_model_loss(p->model, p->labels, 1, &p->loss, NULL);
    return nnr_ok();
}

static nnr_status mp_backward(void *ctx, const double *dout)
{
    model_problem *p = ctx;
    if (p->labels != NULL)
        return nnr_model_backward_loss(p->model, dout[0]);
    return nnr_model_backward_f64(p->model, dout);
}

nnr_status nnr_gradcheck_model(nnr_model *model, size_t n, const double *x, const int32_t *labels,
                               const nnr_gc_options *options, nnr_gc_report *report)
{
    NNR_TRY(nnr_need(report, "report"));
    NNR_TRY(nnr_model_check_run(model, NNR_FLOAT64, n, x));
    size_t n_tensors = 1;
    for (size_t i = 0; i < model->n_layers; i++)
        n_tensors += model->layers[i]->n_params;
    if (n_tensors > NNR_GC_MAX_TENSORS)
        return nnr_error(NNR_ERR_UNSUPPORTED, "the model has %zu trainable tensors; the harness checks at most %d "
                         "besides x", n_tensors - 1, NNR_GC_MAX_TENSORS - 1);

    model_problem p = {model, n, NULL, labels, 0.0};
    const size_t x_count = n * model->act_count[0];
    p.x = malloc(x_count * sizeof(double));
    if (p.x == NULL)
        return nnr_error(NNR_ERR_NOMEM, "cannot allocate a copy of x (%zu values)", x_count);
    memcpy(p.x, x, x_count * sizeof(double));

    /* One forward first: the output buffer and the input gradient's buffer
     * exist from the build on, but the output's size depends on n. */
    nnr_status st = mp_forward(&p);
    nnr_gc_problem problem = {0};
    problem.ctx = &p;
    problem.forward = mp_forward;
    problem.backward = mp_backward;
    problem.out = labels != NULL ? &p.loss : (const double *)model->act[model->n_layers];
    problem.out_count = labels != NULL ? 1 : n * model->act_count[model->n_layers];
    snprintf(model->gc_names[0], sizeof model->gc_names[0], "x");
    problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){model->gc_names[0], p.x, model->grad[0], x_count};
    for (size_t i = 0; i < model->n_layers; i++) {
        nnr_layer *l = model->layers[i];
        for (size_t k = 0; k < l->n_params; k++) {
            char *name = model->gc_names[problem.n_tensors];
            snprintf(name, sizeof model->gc_names[0], "%s/%s", l->name, l->params[k].name);
            problem.tensors[problem.n_tensors++] = (nnr_gc_tensor){name, l->params[k].data, l->params[k].grad,
                                                                   l->params[k].count};
        }
    }
    if (st.code == NNR_OK)
        st = nnr_gradcheck(&problem, options, report);
    free(p.x);
    return st;
}
