/*
 * The training loop (Keras' model.fit, a PyTorch epoch loop) and
 * evaluation, for float models. Per batch: gather the samples (in a seeded
 * random order when shuffling), forward in training mode, loss and its
 * gradient, backward, one optimizer step. Statistics are the Keras ones:
 * the running mean of the batch losses weighted by batch size, and the
 * fraction of samples classified right during the epoch.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/check.h"
#include "model_internal.h"

/* Key of the shuffle of epoch e, apart from every other use of the seed. */
#define FIT_SHUFFLE_KEY 0x73687566666c65ull

nnr_fit_options nnr_fit_defaults(void)
{
    nnr_fit_options o;
    memset(&o, 0, sizeof o);
    o.batch_size = 32;
    o.epochs = 1;
    o.shuffle = 1;
    o.verbose = 1;
    return o;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A dataset fits a float model whose output is (N, K): sample shape equal
 * to the input's, labels in 0..K-1 (all checked before training starts). */
static nnr_status check_data(const nnr_model *m, const nnr_dataset *d, const char *name)
{
    if (d == NULL)
        return nnr_error(NNR_ERR_NULL, "%s is NULL", name);
    if (d->x == NULL || d->labels == NULL)
        return nnr_error(NNR_ERR_NULL, "%s->%s is NULL", name, d->x == NULL ? "x" : "labels");
    if (d->count == 0)
        return nnr_error(NNR_ERR_SHAPE, "%s->count is 0", name);
    const nnr_shape *in = &m->in_shape;
    int same = d->sample_shape.rank + 1 == in->rank;
    for (size_t i = 1; same && i < in->rank; i++)
        same = d->sample_shape.dims[i - 1] == in->dims[i];
    if (!same)
        return nnr_error(NNR_ERR_SHAPE, "%s->sample_shape (rank %zu) is not the model's input shape without the "
                         "batch (rank %zu)", name, d->sample_shape.rank, in->rank - 1);
    const nnr_shape *out = &m->layers[m->n_layers - 1]->out_shape;
    if (out->rank != 2)
        return nnr_error(NNR_ERR_SHAPE, "the model's output has rank %zu; the loss needs logits (N, K)", out->rank);
    for (size_t i = 0; i < d->count; i++)
        if (d->labels[i] < 0 || (size_t)d->labels[i] >= out->dims[1])
            return nnr_error(NNR_ERR_PARAM, "%s->labels[%zu] = %d is outside 0..%zu", name, i, (int)d->labels[i],
                             out->dims[1] - 1);
    return nnr_ok();
}

static nnr_status check_model(const nnr_model *m)
{
    NNR_TRY(nnr_need(m, "model"));
    NNR_TRY(nnr_model_need_built(m));
    if (m->dtype != NNR_FLOAT32)
        return nnr_error(NNR_ERR_PARAM, "training and evaluation run float models (this one is double)");
    return nnr_ok();
}

/* Copies samples order[0..n) of the dataset into the model's input. */
static void gather(nnr_model *m, const nnr_dataset *d, const size_t *order, size_t n, int32_t *labels)
{
    const size_t per = m->act_count[0];
    float *dst = m->act[0];
    for (size_t i = 0; i < n; i++) {
        memcpy(dst + i * per, d->x + order[i] * per, per * sizeof(float));
        labels[i] = d->labels[order[i]];
    }
}

static nnr_status evaluate(nnr_model *m, const nnr_dataset *d, size_t batch, size_t *order, int32_t *labels,
                           double *loss, double *accuracy)
{
    double sum = 0.0;
    size_t right = 0;
    for (size_t start = 0; start < d->count; start += batch) {
        const size_t n = d->count - start < batch ? d->count - start : batch;
        for (size_t i = 0; i < n; i++)
            order[i] = start + i;
        gather(m, d, order, n, labels);
        NNR_TRY(nnr_model_run_forward(m, n, 0));
        double l;
        size_t c;
        NNR_TRY(nnr_model_loss(m, labels, 0, &l, &c));
        sum += l * (double)n;
        right += c;
    }
    if (loss != NULL)
        *loss = sum / (double)d->count;
    if (accuracy != NULL)
        *accuracy = (double)right / (double)d->count;
    return nnr_ok();
}

nnr_status nnr_model_evaluate(nnr_model *model, const nnr_dataset *data, size_t batch_size, double *loss,
                              double *accuracy)
{
    NNR_TRY(check_model(model));
    NNR_TRY(check_data(model, data, "data"));
    const size_t largest = model->in_shape.dims[0];
    if (batch_size == 0)
        batch_size = largest;
    if (batch_size > largest)
        return nnr_error(NNR_ERR_PARAM, "batch_size %zu is larger than the model's largest batch %zu", batch_size,
                         largest);
    size_t *order = malloc(batch_size * sizeof *order);
    int32_t *labels = malloc(batch_size * sizeof *labels);
    nnr_status st = order == NULL || labels == NULL ? nnr_error(NNR_ERR_NOMEM, "cannot allocate a batch index")
                                                    : evaluate(model, data, batch_size, order, labels, loss,
                                                               accuracy);
    free(order);
    free(labels);
    return st;
}

/* ---- Progress ------------------------------------------------------------------- */

/* Keras-like: "Epoch 2/5  120/469 [=====>........] loss 0.4123 acc 0.8541 5210 samples/s".
 * On a terminal the line is redrawn with '\r' after every batch; otherwise
 * only the finished epoch is printed, one line each, so logs stay readable. */
static void progress(FILE *f, int tty, const nnr_epoch_stats *s, size_t epochs, size_t batches, int done)
{
    if (!tty && !done)
        return;
    const int width = 20;
    const int filled = (int)((double)width * (double)s->batches / (double)batches);
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '=' : (i == filled ? '>' : '.');
    bar[width] = '\0';
    fprintf(f, "%sEpoch %zu/%zu %5zu/%zu [%s] loss %.4f acc %.4f %.0f samples/s", tty ? "\r" : "", s->epoch,
            epochs, s->batches, batches, bar, s->loss, s->accuracy, s->samples_per_s);
    if (done && !isnan(s->val_loss))
        fprintf(f, " val_loss %.4f val_acc %.4f", s->val_loss, s->val_accuracy);
    if (done)
        fputc('\n', f);
    fflush(f);
}

/* ---- Training -------------------------------------------------------------------- */

static void shuffle(size_t *order, size_t count, uint64_t seed, size_t epoch)
{
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    /* Fisher-Yates on the counter-based generator: epoch e's permutation
     * depends on (seed, e) alone. */
    const uint64_t key = seed ^ (FIT_SHUFFLE_KEY * (uint64_t)(epoch + 1));
    for (size_t i = count - 1; i > 0; i--) {
        const size_t j = (size_t)(nnr_rng_uniform(key, i) * (double)(i + 1));
        const size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static nnr_status fit(nnr_model *m, nnr_optimizer *opt, const nnr_dataset *d, const nnr_fit_options *o,
                      nnr_epoch_stats *history, size_t *epochs_run, size_t *order, int32_t *labels,
                      size_t *val_order)
{
    FILE *out = o->out != NULL ? o->out : stdout;
    const int tty = o->verbose && isatty(fileno(out));
    const size_t batches = (d->count + o->batch_size - 1) / o->batch_size;
    for (size_t e = 0; e < o->epochs; e++) {
        if (o->shuffle)
            shuffle(order, d->count, o->seed, e);
        else
            for (size_t i = 0; i < d->count; i++)
                order[i] = i;
        nnr_epoch_stats s;
        memset(&s, 0, sizeof s);
        s.epoch = e + 1;
        s.val_loss = s.val_accuracy = NAN;
        double loss_sum = 0.0;
        size_t right = 0;
        const double t0 = now_seconds();
        int stop = 0;
        for (size_t b = 0; b < batches && !stop; b++) {
            const size_t start = b * o->batch_size;
            const size_t n = d->count - start < o->batch_size ? d->count - start : o->batch_size;
            gather(m, d, order + start, n, labels);
            double loss;
            size_t correct;
            NNR_TRY(nnr_model_run_forward(m, n, 1));
            NNR_TRY(nnr_model_loss(m, labels, 1, &loss, &correct));
            NNR_TRY(nnr_model_backward_loss(m, 1.0));
            NNR_TRY(nnr_optimizer_step(opt));   /* also advances m->step: new dropout masks */
            loss_sum += loss * (double)n;
            right += correct;
            s.batches = b + 1;
            s.samples = start + n;
            s.loss = loss_sum / (double)s.samples;
            s.accuracy = (double)right / (double)s.samples;
            s.seconds = now_seconds() - t0;
            s.samples_per_s = s.seconds > 0 ? (double)s.samples / s.seconds : 0.0;
            if (o->verbose)
                progress(out, tty, &s, o->epochs, batches, 0);
            if (o->on_batch != NULL && o->on_batch(m, &s, o->user) != 0)
                stop = 1;
        }
        if (o->validation != NULL)
            NNR_TRY(evaluate(m, o->validation, o->batch_size, val_order, labels, &s.val_loss, &s.val_accuracy));
        if (o->verbose)
            progress(out, tty, &s, o->epochs, batches, 1);
        if (history != NULL)
            history[e] = s;
        *epochs_run = e + 1;
        if (stop || (o->on_epoch != NULL && o->on_epoch(m, &s, o->user) != 0))
            break;
    }
    return nnr_ok();
}

nnr_status nnr_model_fit(nnr_model *model, nnr_optimizer *opt, const nnr_dataset *data,
                         const nnr_fit_options *options, nnr_epoch_stats *history, size_t *epochs_run)
{
    NNR_TRY(check_model(model));
    NNR_TRY(nnr_need(opt, "opt"));
    if (nnr_optimizer_model(opt) != model)
        return nnr_error(NNR_ERR_PARAM, "opt was created for another model");
    const nnr_fit_options defaults = nnr_fit_defaults();
    const nnr_fit_options *o = options != NULL ? options : &defaults;
    const size_t largest = model->in_shape.dims[0];
    if (o->batch_size == 0 || o->batch_size > largest)
        return nnr_error(NNR_ERR_PARAM, "batch_size must be 1..%zu (the model's largest batch), got %zu", largest,
                         o->batch_size);
    if (o->epochs == 0)
        return nnr_error(NNR_ERR_PARAM, "epochs must be >= 1");
    NNR_TRY(check_data(model, data, "data"));
    if (o->validation != NULL)
        NNR_TRY(check_data(model, o->validation, "validation"));

    size_t run = 0;
    size_t *order = malloc(data->count * sizeof *order);
    size_t *val_order = malloc(o->batch_size * sizeof *val_order);
    int32_t *labels = malloc(o->batch_size * sizeof *labels);
    nnr_status st = order == NULL || val_order == NULL || labels == NULL
                        ? nnr_error(NNR_ERR_NOMEM, "cannot allocate the sample order (%zu entries)", data->count)
                        : fit(model, opt, data, o, history, &run, order, labels, val_order);
    free(order);
    free(val_order);
    free(labels);
    if (epochs_run != NULL)
        *epochs_run = run;
    return st;
}
