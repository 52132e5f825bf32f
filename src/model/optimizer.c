/*
 * SGD with momentum (Keras and PyTorch forms) and Adam (Keras and PyTorch
 * epsilon placement); the formulas are in include/nnref/model.h. Each step
 * is computed in double per element and stored in the model's precision;
 * the state (velocity, moments) is kept in double.
 *
 * Sources: keras/src/optimizers/sgd.py and adam.py (Keras 3),
 * torch/optim/sgd.py and adam.py (PyTorch, single-tensor path).
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include "core/check.h"
#include "model_internal.h"

/* One trainable tensor and its state arrays. */
typedef struct opt_slot {
    nnr_model_tensor *t;
    double *s1;   /* SGD: Keras v or PyTorch b; Adam: m */
    double *s2;   /* Adam: v */
} opt_slot;

struct nnr_optimizer {
    nnr_optimizer_params p;
    nnr_model *model;
    opt_slot *slots;
    size_t n_slots;
    uint64_t t;   /* steps taken */
};

nnr_optimizer_params nnr_sgd_keras(double learning_rate, double momentum)
{
    nnr_optimizer_params p = {0};
    p.kind = NNR_OPT_SGD;
    p.learning_rate = learning_rate;
    p.momentum = momentum;
    p.sgd_form = NNR_SGD_KERAS;
    return p;
}

nnr_optimizer_params nnr_sgd_torch(double learning_rate, double momentum)
{
    nnr_optimizer_params p = nnr_sgd_keras(learning_rate, momentum);
    p.sgd_form = NNR_SGD_TORCH;
    return p;
}

nnr_optimizer_params nnr_adam_keras(void)
{
    nnr_optimizer_params p = {0};
    p.kind = NNR_OPT_ADAM;
    p.learning_rate = 1e-3;
    p.beta1 = 0.9;
    p.beta2 = 0.999;
    p.epsilon = 1e-7;
    p.eps_form = NNR_ADAM_EPS_KERAS;
    return p;
}

nnr_optimizer_params nnr_adam_torch(void)
{
    nnr_optimizer_params p = nnr_adam_keras();
    p.epsilon = 1e-8;
    p.eps_form = NNR_ADAM_EPS_TORCH;
    return p;
}

static nnr_status check_lr(double lr)
{
    if (!(lr > 0.0) || isinf(lr))
        return nnr_error(NNR_ERR_PARAM, "learning_rate must be > 0 and finite, got %g", lr);
    return nnr_ok();
}

static nnr_status check_params(const nnr_optimizer_params *p)
{
    NNR_TRY(check_lr(p->learning_rate));
    if (p->kind == NNR_OPT_SGD) {
        if (!(p->momentum >= 0.0 && p->momentum < 1.0))
            return nnr_error(NNR_ERR_PARAM, "momentum must be in [0, 1), got %g", p->momentum);
        if (p->sgd_form != NNR_SGD_KERAS && p->sgd_form != NNR_SGD_TORCH)
            return nnr_error(NNR_ERR_PARAM, "sgd_form must be NNR_SGD_KERAS or NNR_SGD_TORCH, got %d",
                             (int)p->sgd_form);
        return nnr_ok();
    }
    if (p->kind != NNR_OPT_ADAM)
        return nnr_error(NNR_ERR_PARAM, "kind must be NNR_OPT_SGD or NNR_OPT_ADAM, got %d", (int)p->kind);
    if (!(p->beta1 >= 0.0 && p->beta1 < 1.0))
        return nnr_error(NNR_ERR_PARAM, "beta1 must be in [0, 1), got %g", p->beta1);
    if (!(p->beta2 >= 0.0 && p->beta2 < 1.0))
        return nnr_error(NNR_ERR_PARAM, "beta2 must be in [0, 1), got %g", p->beta2);
    if (!(p->epsilon >= 0.0) || isinf(p->epsilon))
        return nnr_error(NNR_ERR_PARAM, "epsilon must be >= 0 and finite, got %g", p->epsilon);
    if (p->eps_form != NNR_ADAM_EPS_KERAS && p->eps_form != NNR_ADAM_EPS_TORCH)
        return nnr_error(NNR_ERR_PARAM, "eps_form must be NNR_ADAM_EPS_KERAS or NNR_ADAM_EPS_TORCH, got %d",
                         (int)p->eps_form);
    return nnr_ok();
}

void nnr_optimizer_free(nnr_optimizer *opt)
{
    if (opt == NULL)
        return;
    for (size_t i = 0; i < opt->n_slots; i++) {
        free(opt->slots[i].s1);
        free(opt->slots[i].s2);
    }
    free(opt->slots);
    free(opt);
}

nnr_status nnr_optimizer_new(nnr_optimizer **opt, const nnr_optimizer_params *p, nnr_model *model)
{
    NNR_TRY(nnr_need(opt, "opt"));
    NNR_TRY(nnr_need(p, "params"));
    NNR_TRY(nnr_need(model, "model"));
    NNR_TRY(check_params(p));
    NNR_TRY(nnr_model_need_built(model));

    size_t n = 0;
    for (size_t i = 0; i < model->n_layers; i++)
        n += model->layers[i]->n_params;
    nnr_optimizer *o = calloc(1, sizeof *o);
    if (o == NULL)
        return nnr_error(NNR_ERR_NOMEM, "cannot allocate an optimizer");
    o->p = *p;
    o->model = model;
    o->slots = calloc(n > 0 ? n : 1, sizeof *o->slots);
    if (o->slots == NULL) {
        free(o);
        return nnr_error(NNR_ERR_NOMEM, "cannot allocate an optimizer");
    }
    for (size_t i = 0; i < model->n_layers; i++) {
        nnr_layer *l = model->layers[i];
        for (size_t k = 0; k < l->n_params; k++) {
            opt_slot *s = &o->slots[o->n_slots++];
            s->t = &l->params[k];
            s->s1 = calloc(s->t->count, sizeof(double));
            s->s2 = p->kind == NNR_OPT_ADAM ? calloc(s->t->count, sizeof(double)) : NULL;
            if (s->s1 == NULL || (p->kind == NNR_OPT_ADAM && s->s2 == NULL)) {
                nnr_optimizer_free(o);
                return nnr_error(NNR_ERR_NOMEM, "cannot allocate the optimizer state of %s/%s (%zu values)",
                                 l->name, s->t->name, s->t->count);
            }
        }
    }
    *opt = o;
    return nnr_ok();
}

/* Element i of a tensor of the model's precision, as double, and back. */
static double get(const nnr_model_tensor *t, const void *base, size_t i)
{
    return nnr_model_get(t->dtype, base, i);
}

static void set(nnr_model_tensor *t, size_t i, double v)
{
    nnr_model_set(t->dtype, t->data, i, v);
}

static void sgd_step(const nnr_optimizer_params *p, uint64_t t, opt_slot *s)
{
    const double lr = p->learning_rate, mu = p->momentum;
    for (size_t i = 0; i < s->t->count; i++) {
        const double g = get(s->t, s->t->grad, i);
        const double w = get(s->t, s->t->data, i);
        if (mu == 0.0) {
            /* plain SGD, both frameworks: w -= lr * g */
            set(s->t, i, w - lr * g);
        } else if (p->sgd_form == NNR_SGD_KERAS) {
            /* Keras: v = mu * v - lr * g; w += v */
            s->s1[i] = mu * s->s1[i] - lr * g;
            set(s->t, i, w + s->s1[i]);
        } else {
            /* PyTorch: b = g at the first step, then b = mu * b + g; w -= lr * b */
            s->s1[i] = t == 1 ? g : mu * s->s1[i] + g;
            set(s->t, i, w - lr * s->s1[i]);
        }
    }
}

static void adam_step(const nnr_optimizer_params *p, uint64_t t, opt_slot *s)
{
    const double b1 = p->beta1, b2 = p->beta2, eps = p->epsilon;
    /* bias corrections 1 - beta^t */
    const double c1 = 1.0 - pow(b1, (double)t);
    const double c2 = 1.0 - pow(b2, (double)t);
    /* Keras: alpha = lr * sqrt(1 - b2^t) / (1 - b1^t), w -= alpha * m / (sqrt(v) + eps)
     * PyTorch: w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
    const double keras_alpha = p->learning_rate * sqrt(c2) / c1;
    const double torch_step = p->learning_rate / c1;
    const double sqrt_c2 = sqrt(c2);
    for (size_t i = 0; i < s->t->count; i++) {
        const double g = get(s->t, s->t->grad, i);
        const double w = get(s->t, s->t->data, i);
        /* moments: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2 */
        s->s1[i] = b1 * s->s1[i] + (1.0 - b1) * g;
        s->s2[i] = b2 * s->s2[i] + (1.0 - b2) * g * g;
        double update;
        if (p->eps_form == NNR_ADAM_EPS_KERAS)
            update = keras_alpha * s->s1[i] / (sqrt(s->s2[i]) + eps);
        else
            update = torch_step * s->s1[i] / (sqrt(s->s2[i]) / sqrt_c2 + eps);
        set(s->t, i, w - update);
    }
}

nnr_status nnr_optimizer_step(nnr_optimizer *opt)
{
    NNR_TRY(nnr_need(opt, "opt"));
    opt->t++;
    for (size_t i = 0; i < opt->n_slots; i++) {
        if (opt->p.kind == NNR_OPT_SGD)
            sgd_step(&opt->p, opt->t, &opt->slots[i]);
        else
            adam_step(&opt->p, opt->t, &opt->slots[i]);
    }
    /* The training step is over: the next training forward draws the next
     * dropout masks, in nnr_model_fit() and in a loop written by hand alike. */
    opt->model->step++;
    return nnr_ok();
}

nnr_status nnr_optimizer_set_learning_rate(nnr_optimizer *opt, double learning_rate)
{
    NNR_TRY(nnr_need(opt, "opt"));
    NNR_TRY(check_lr(learning_rate));
    opt->p.learning_rate = learning_rate;
    return nnr_ok();
}

uint64_t nnr_optimizer_steps(const nnr_optimizer *opt)
{
    return opt == NULL ? 0 : opt->t;
}

nnr_model *nnr_optimizer_model(const nnr_optimizer *opt)
{
    return opt->model;
}
