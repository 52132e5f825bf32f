/*
 * The Sequential container: adding layers, building (shapes, allocation,
 * initialisation), forward and backward through the layers. Written once:
 * it only moves buffers between layers; the layers' tables (layer_*.c,
 * built in both precisions) do the work. See include/nnref/model.h.
 */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "model_internal.h"

nnr_status nnr_model_new(nnr_model **model, nnr_dtype dtype)
{
    NNR_TRY(nnr_need(model, "model"));
    if (dtype != NNR_FLOAT32 && dtype != NNR_FLOAT64)
        return nnr_error(NNR_ERR_PARAM, "dtype must be NNR_FLOAT32 or NNR_FLOAT64, got %d", (int)dtype);
    nnr_model *m = calloc(1, sizeof *m);
    if (m == NULL)
        return nnr_error(NNR_ERR_NOMEM, "cannot allocate a model");
    m->dtype = dtype;
    m->elem = dtype == NNR_FLOAT32 ? sizeof(float) : sizeof(double);
    *model = m;
    return nnr_ok();
}

/* Everything nnr_model_build allocated; the model is then unbuilt. */
static void free_buffers(nnr_model *m)
{
    for (size_t i = 0; i < m->n_layers; i++) {
        nnr_layer *l = m->layers[i];
        for (size_t k = 0; k < l->n_params; k++) {
            free(l->params[k].data);
            free(l->params[k].grad);
        }
        for (size_t k = 0; k < l->n_state; k++)
            free(l->state[k].data);
        free(l->cache);
        memset(l->params, 0, sizeof l->params);
        memset(l->state, 0, sizeof l->state);
        l->n_params = l->n_state = 0;
        l->cache = l->work = NULL;
        l->cache_bytes = l->work_bytes = 0;
    }
    for (size_t i = 0; i <= NNR_MODEL_MAX_LAYERS; i++) {
        free(m->act[i]);
        m->act[i] = NULL;
    }
    free(m->grad[0]);
    free(m->grad[1]);
    free(m->dout);
    free(m->dout_scaled);
    free(m->work);
    m->grad[0] = m->grad[1] = m->dout = m->dout_scaled = m->work = NULL;
    m->has_dout = 0;
    m->work_bytes = 0;
    m->built = 0;
    m->n = 0;
    m->trained_forward = m->has_input_grad = 0;
}

void nnr_model_free(nnr_model *model)
{
    if (model == NULL)
        return;
    free_buffers(model);
    for (size_t i = 0; i < model->n_layers; i++) {
        free(model->layers[i]->config);
        free(model->layers[i]);
    }
    free(model);
}

/* ---- Adding layers ------------------------------------------------------------ */

nnr_status nnr_model_add_layer(nnr_model *model, const nnr_layer_ops *ops, const void *config, size_t config_size)
{
    NNR_TRY(nnr_need(model, "model"));
    NNR_TRY(nnr_need(ops, "ops"));
    if (ops->setup == NULL || ops->forward == NULL || ops->backward == NULL || ops->kind == NULL)
        return nnr_error(NNR_ERR_NULL, "ops must give kind, setup, forward and backward");
    if (config_size > 0 && config == NULL)
        return nnr_error(NNR_ERR_NULL, "config is NULL but config_size is %zu", config_size);
    if (model->built)
        return nnr_error(NNR_ERR_PARAM, "the model is already built: add layers before nnr_model_build");
    if (model->n_layers == NNR_MODEL_MAX_LAYERS)
        return nnr_error(NNR_ERR_PARAM, "a model holds at most %d layers", NNR_MODEL_MAX_LAYERS);
    if (strlen(ops->kind) + 8 >= NNR_MODEL_NAME_LEN)
        return nnr_error(NNR_ERR_PARAM, "ops->kind \"%.20s...\" is too long for a layer name", ops->kind);

    nnr_layer *l = calloc(1, sizeof *l);
    void *copy = config_size > 0 ? malloc(config_size) : NULL;
    if (l == NULL || (config_size > 0 && copy == NULL)) {
        free(l);
        free(copy);
        return nnr_error(NNR_ERR_NOMEM, "cannot allocate a layer");
    }
    if (config_size > 0)
        memcpy(copy, config, config_size);
    l->ops = ops;
    l->config = copy;
    l->config_size = config_size;
    l->dtype = model->dtype;

    /* Keras-style unique name: kind, kind_1, kind_2, ... */
    size_t same = 0;
    for (size_t i = 0; i < model->n_layers; i++)
        if (strcmp(model->layers[i]->ops->kind, ops->kind) == 0)
            same++;
    if (same == 0)
        snprintf(l->name, sizeof l->name, "%s", ops->kind);
    else
        snprintf(l->name, sizeof l->name, "%s_%zu", ops->kind, same);
    model->layers[model->n_layers++] = l;
    return nnr_ok();
}

/* Adds a built-in kind: the float or the double table by the model's precision. */
static nnr_status add_kind(nnr_model *m, const nnr_layer_ops *f32, const nnr_layer_ops *f64, const void *config,
                           size_t size, int32_t flags)
{
    NNR_TRY(nnr_need(m, "model"));
    NNR_TRY(nnr_need(config, "params"));
    NNR_TRY(nnr_model_add_layer(m, m->dtype == NNR_FLOAT64 ? f64 : f32, config, size));
    m->layers[m->n_layers - 1]->flags = flags;
    return nnr_ok();
}

#define ADD_KIND(model, kind, p, flags) \
    add_kind(model, &nnr_model_##kind##_ops, &nnr_model_##kind##_ops_f64, p, sizeof *(p), flags)

/* A kind without parameters: the float or the double table, no config. */
static nnr_status add_plain(nnr_model *m, const nnr_layer_ops *f32, const nnr_layer_ops *f64)
{
    NNR_TRY(nnr_need(m, "model"));
    return nnr_model_add_layer(m, m->dtype == NNR_FLOAT64 ? f64 : f32, NULL, 0);
}

nnr_status nnr_model_add_batchnorm(nnr_model *model, const nnr_batchnorm_params *p)
{
    return ADD_KIND(model, batchnorm, p, 0);
}

nnr_status nnr_model_add_layernorm(nnr_model *model, const nnr_layernorm_params *p)
{
    return ADD_KIND(model, layernorm, p, 0);
}

nnr_status nnr_model_add_rmsnorm(nnr_model *model, const nnr_rmsnorm_params *p)
{
    return ADD_KIND(model, rmsnorm, p, 0);
}

nnr_status nnr_model_add_groupnorm(nnr_model *model, const nnr_groupnorm_params *p)
{
    return ADD_KIND(model, groupnorm, p, 0);
}

nnr_status nnr_model_add_instancenorm(nnr_model *model, const nnr_instancenorm_params *p, int track_running_stats)
{
    if (track_running_stats != 0 && track_running_stats != 1)
        return nnr_error(NNR_ERR_PARAM, "track_running_stats must be 0 or 1, got %d", track_running_stats);
    return ADD_KIND(model, instancenorm, p, track_running_stats);
}

nnr_status nnr_model_add_maxpool(nnr_model *model, const nnr_pool_params *p)
{
    return ADD_KIND(model, maxpool, p, 0);
}

nnr_status nnr_model_add_avgpool(nnr_model *model, const nnr_pool_params *p)
{
    return ADD_KIND(model, avgpool, p, 0);
}

nnr_status nnr_model_add_global_maxpool(nnr_model *model, const nnr_global_pool_params *p)
{
    return ADD_KIND(model, global_maxpool, p, 0);
}

nnr_status nnr_model_add_global_avgpool(nnr_model *model, const nnr_global_pool_params *p)
{
    return ADD_KIND(model, global_avgpool, p, 0);
}

nnr_status nnr_model_add_conv(nnr_model *model, const nnr_conv_params *p)
{
    return ADD_KIND(model, conv, p, 0);
}

nnr_status nnr_model_add_dropout(nnr_model *model, const nnr_dropout_params *p)
{
    return ADD_KIND(model, dropout, p, 0);
}

nnr_status nnr_model_add_dense(nnr_model *model, const nnr_dense_params *p)
{
    return ADD_KIND(model, dense, p, 0);
}

nnr_status nnr_model_add_relu(nnr_model *model)
{
    return add_plain(model, &nnr_model_relu_ops, &nnr_model_relu_ops_f64);
}

nnr_status nnr_model_add_flatten(nnr_model *model)
{
    return add_plain(model, &nnr_model_flatten_ops, &nnr_model_flatten_ops_f64);
}

nnr_status nnr_model_add_reshape(nnr_model *model, const nnr_shape *target)
{
    return ADD_KIND(model, reshape, target, 0);
}

/* ---- Tensor descriptions (used by the layers' setup) ------------------------ */

static nnr_model_tensor *describe(nnr_model_tensor *slots, size_t *n, const char *name, const nnr_shape *shape,
                                  nnr_init init, nnr_dtype dtype)
{
    if (*n == NNR_LAYER_MAX_TENSORS)
        return NULL;
    nnr_model_tensor *t = &slots[(*n)++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->shape = *shape;
    t->init = init;
    t->dtype = dtype;
    return t;
}

nnr_model_tensor *nnr_model_layer_param(nnr_layer *layer, const char *name, const nnr_shape *shape, nnr_init init)
{
    return describe(layer->params, &layer->n_params, name, shape, init, layer->dtype);
}

nnr_model_tensor *nnr_model_layer_state(nnr_layer *layer, const char *name, const nnr_shape *shape, nnr_init init,
                                        nnr_dtype dtype)
{
    return describe(layer->state, &layer->n_state, name, shape, init, dtype);
}

void nnr_model_layer_weights(nnr_layer *layer, const nnr_shape *w, size_t fan_in, size_t fan_out, int use_bias,
                             size_t units)
{
    nnr_model_tensor *k = nnr_model_layer_param(layer, "kernel", w, NNR_INIT_GLOROT_UNIFORM);
    if (k != NULL) {
        k->fan_in = fan_in;
        k->fan_out = fan_out;
    }
    if (use_bias) {
        const nnr_shape b = nnr_model_vec(units);
        nnr_model_layer_param(layer, "bias", &b, NNR_INIT_ZEROS);
    }
}

nnr_model_tensor *nnr_model_find(nnr_layer *layer, const char *name)
{
    for (size_t k = 0; k < layer->n_params; k++)
        if (strcmp(layer->params[k].name, name) == 0)
            return &layer->params[k];
    for (size_t k = 0; k < layer->n_state; k++)
        if (strcmp(layer->state[k].name, name) == 0)
            return &layer->state[k];
    return NULL;
}

void *nnr_model_find_tensor(nnr_layer *layer, const char *name, int want_grad)
{
    nnr_model_tensor *t = nnr_model_find(layer, name);
    if (t == NULL)
        return NULL;
    return want_grad ? t->grad : t->data;
}

/* ---- Building ------------------------------------------------------------------ */

static nnr_status prefixed(const nnr_layer *l, nnr_status st)
{
    if (st.code == NNR_OK)
        return st;
    return nnr_error(st.code, "%s: %s", l->name, st.message);
}

/* Checks a tensor description, counts its elements and allocates it. */
static nnr_status alloc_tensor(nnr_model_tensor *t, int with_grad, const nnr_layer *l)
{
    nnr_status st = nnr_shape_numel(&t->shape, t->name, &t->count);
    size_t bytes = 0;
    if (st.code == NNR_OK && !nnr_size_mul(t->count, nnr_model_dtype_size(t->dtype), &bytes))
        st = nnr_error(NNR_ERR_OVERFLOW, "%s's size does not fit in size_t", t->name);
    if (st.code != NNR_OK)
        return prefixed(l, st);
    t->data = calloc(t->count, nnr_model_dtype_size(t->dtype));
    t->grad = with_grad ? calloc(t->count, nnr_model_dtype_size(t->dtype)) : NULL;
    if (t->data == NULL || (with_grad && t->grad == NULL))
        return nnr_error(NNR_ERR_NOMEM, "%s: cannot allocate %s (%zu values)", l->name, t->name, t->count);
    return nnr_ok();
}

/* Fills a tensor by its init rule; key makes each tensor's numbers its own. */
static void init_tensor(nnr_model_tensor *t, uint64_t key)
{
    for (size_t i = 0; i < t->count; i++) {
        double v = 0.0;
        if (t->init == NNR_INIT_ONES)
            v = 1.0;
        else if (t->init == NNR_INIT_GLOROT_UNIFORM) {
            /* Glorot & Bengio 2010, Keras GlorotUniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)) */
            const double limit = sqrt(6.0 / (double)(t->fan_in + t->fan_out));
            v = -limit + 2.0 * limit * nnr_rng_uniform(key, i);
        }
        nnr_model_set(t->dtype, t->data, i, v);
    }
}

/* Key of the t-th tensor of the model (splitmix-style odd multiplier). */
static uint64_t tensor_key(uint64_t seed, size_t t)
{
    return seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(t + 1));
}

static nnr_status build(nnr_model *m, const nnr_shape *in_shape, uint64_t seed)
{
    size_t count = 0;
    NNR_TRY(nnr_shape_numel(in_shape, "in_shape", &count));
    if (in_shape->rank < 2)
        return nnr_error(NNR_ERR_SHAPE, "in_shape must have the batch first and at least one more axis, got rank %zu",
                         in_shape->rank);
    m->in_shape = *in_shape;
    m->seed = seed;
    const size_t batch = in_shape->dims[0];

    /* Shapes, tensor descriptions and buffer sizes, layer by layer. */
    nnr_shape cur = *in_shape;
    size_t largest = count / batch;
    m->act_count[0] = count / batch;
    for (size_t i = 0; i < m->n_layers; i++) {
        nnr_layer *l = m->layers[i];
        l->in_shape = cur;
        l->n_params = l->n_state = 0;
        l->cache_bytes = l->work_bytes = 0;
        l->seed = tensor_key(seed ^ 0x6c61796572ull, i);
        nnr_status st = l->ops->setup(l, &cur);
        if (st.code != NNR_OK)
            return prefixed(l, st);
        st = nnr_shape_numel(&l->out_shape, "the output shape", &count);
        if (st.code != NNR_OK)
            return prefixed(l, st);
        if (l->out_shape.rank < 1 || l->out_shape.dims[0] != batch)
            return nnr_error(NNR_ERR_SHAPE, "%s: the output's first dimension %zu is not the batch %zu", l->name,
                             l->out_shape.dims[0], batch);
        m->act_count[i + 1] = count / batch;
        if (count / batch > largest)
            largest = count / batch;
        if (l->work_bytes > m->work_bytes)
            m->work_bytes = l->work_bytes;
        cur = l->out_shape;
    }

    /* Allocation. */
    for (size_t i = 0; i <= m->n_layers; i++) {
        m->act[i] = calloc(batch * m->act_count[i], m->elem);
        if (m->act[i] == NULL)
            return nnr_error(NNR_ERR_NOMEM, "cannot allocate activation %zu (%zu values)", i,
                             batch * m->act_count[i]);
    }
    m->grad[0] = calloc(batch * largest, m->elem);
    m->grad[1] = calloc(batch * largest, m->elem);
    m->dout = calloc(batch * m->act_count[m->n_layers], m->elem);
    m->dout_scaled = calloc(batch * m->act_count[m->n_layers], m->elem);
    m->work = m->work_bytes > 0 ? malloc(m->work_bytes) : NULL;
    if (m->grad[0] == NULL || m->grad[1] == NULL || m->dout == NULL || m->dout_scaled == NULL ||
        (m->work_bytes > 0 && m->work == NULL))
        return nnr_error(NNR_ERR_NOMEM, "cannot allocate the gradient buffers (%zu values)", batch * largest);

    size_t t = 0;
    for (size_t i = 0; i < m->n_layers; i++) {
        nnr_layer *l = m->layers[i];
        for (size_t k = 0; k < l->n_params; k++) {
            NNR_TRY(alloc_tensor(&l->params[k], 1, l));
            init_tensor(&l->params[k], tensor_key(seed, t++));
        }
        for (size_t k = 0; k < l->n_state; k++) {
            NNR_TRY(alloc_tensor(&l->state[k], 0, l));
            init_tensor(&l->state[k], tensor_key(seed, t++));
        }
        l->cache = l->cache_bytes > 0 ? calloc(1, l->cache_bytes) : NULL;
        if (l->cache_bytes > 0 && l->cache == NULL)
            return nnr_error(NNR_ERR_NOMEM, "%s: cannot allocate its cache (%zu bytes)", l->name, l->cache_bytes);
        l->work = m->work;
        l->step = 0;
    }
    return nnr_ok();
}

nnr_status nnr_model_build(nnr_model *model, const nnr_shape *in_shape, uint64_t seed)
{
    NNR_TRY(nnr_need(model, "model"));
    NNR_TRY(nnr_need(in_shape, "in_shape"));
    if (model->built)
        return nnr_error(NNR_ERR_PARAM, "the model is already built");
    if (model->n_layers == 0)
        return nnr_error(NNR_ERR_PARAM, "the model has no layers");
    nnr_status st = build(model, in_shape, seed);
    if (st.code != NNR_OK) {
        free_buffers(model);
        return st;
    }
    model->built = 1;
    model->step = 0;
    return nnr_ok();
}

/* ---- Inspecting ---------------------------------------------------------------- */

nnr_dtype nnr_model_dtype(const nnr_model *model)
{
    return model == NULL ? NNR_FLOAT32 : model->dtype;
}

size_t nnr_model_n_layers(const nnr_model *model)
{
    return model == NULL ? 0 : model->n_layers;
}

nnr_layer *nnr_model_layer(nnr_model *model, size_t i)
{
    if (model == NULL || i >= model->n_layers)
        return NULL;
    return model->layers[i];
}

nnr_status nnr_model_output_shape(const nnr_model *model, nnr_shape *shape)
{
    NNR_TRY(nnr_need(model, "model"));
    NNR_TRY(nnr_need(shape, "shape"));
    NNR_TRY(nnr_model_need_built(model));
    *shape = model->layers[model->n_layers - 1]->out_shape;
    return nnr_ok();
}

size_t nnr_model_param_count(const nnr_model *model)
{
    if (model == NULL || !model->built)
        return 0;
    size_t c = 0;
    for (size_t i = 0; i < model->n_layers; i++)
        for (size_t k = 0; k < model->layers[i]->n_params; k++)
            c += model->layers[i]->params[k].count;
    return c;
}

static void print_shape(FILE *f, const nnr_shape *s)
{
    char buf[128] = "(None";
    size_t len = strlen(buf);
    for (size_t i = 1; i < s->rank && len < sizeof buf - 24; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, ", %zu", s->dims[i]);
    snprintf(buf + len, sizeof buf - len, ")");
    fprintf(f, "%-24s", buf);
}

void nnr_model_summary(const nnr_model *model, FILE *f)
{
    if (model == NULL || f == NULL)
        return;
    fprintf(f, "%-20s %-24s %s\n", "Layer", "Output shape", "Params");
    for (size_t i = 0; i < model->n_layers; i++) {
        const nnr_layer *l = model->layers[i];
        size_t c = 0;
        for (size_t k = 0; k < l->n_params; k++)
            c += l->params[k].count;
        fprintf(f, "%-20s ", l->name);
        if (model->built)
            print_shape(f, &l->out_shape);
        else
            fprintf(f, "%-24s", "(not built)");
        fprintf(f, " %zu\n", c);
    }
    fprintf(f, "Trainable params: %zu\n", nnr_model_param_count(model));
}

/* ---- Forward and backward --------------------------------------------------------- */

/* The error of a float entry point called on a double model, or the reverse. */
static nnr_status wrong_entry_point(const nnr_model *m)
{
    return nnr_error(NNR_ERR_PARAM, "the model is %s: use the %s entry point",
                     m->dtype == NNR_FLOAT32 ? "float" : "double", m->dtype == NNR_FLOAT32 ? "float" : "_f64");
}

/* The input is already in act[0]. */
nnr_status nnr_model_run_forward(nnr_model *m, size_t n, int training)
{
    for (size_t i = 0; i < m->n_layers; i++) {
        nnr_layer *l = m->layers[i];
        l->step = m->step;
        nnr_status st = l->ops->forward(l, n, m->act[i], m->act[i + 1], training);
        if (st.code != NNR_OK) {
            m->n = 0;
            return prefixed(l, st);
        }
    }
    m->n = n;
    m->trained_forward = training;
    m->has_input_grad = 0;
    m->has_dout = 0;
    return nnr_ok();
}

nnr_status nnr_model_check_run(const nnr_model *m, nnr_dtype dtype, size_t n, const void *x)
{
    NNR_TRY(nnr_need(m, "model"));
    NNR_TRY(nnr_need(x, "x"));
    NNR_TRY(nnr_model_need_built(m));
    if (m->dtype != dtype)
        return wrong_entry_point(m);
    if (n == 0 || n > m->in_shape.dims[0])
        return nnr_error(NNR_ERR_SHAPE, "n must be 1..%zu (the largest batch the model was built for), got %zu",
                         m->in_shape.dims[0], n);
    return nnr_ok();
}

static nnr_status forward(nnr_model *m, nnr_dtype dtype, size_t n, const void *x, int training)
{
    NNR_TRY(nnr_model_check_run(m, dtype, n, x));
    memcpy(m->act[0], x, n * m->act_count[0] * m->elem);
    return nnr_model_run_forward(m, n, training);
}

nnr_status nnr_model_forward(nnr_model *model, size_t n, const float *x, int training)
{
    return forward(model, NNR_FLOAT32, n, x, training);
}

nnr_status nnr_model_forward_f64(nnr_model *model, size_t n, const double *x, int training)
{
    return forward(model, NNR_FLOAT64, n, x, training);
}

const void *nnr_model_output(const nnr_model *model)
{
    if (model == NULL || !model->built || model->n == 0)
        return NULL;
    return model->act[model->n_layers];
}

const void *nnr_model_activation(const nnr_model *model, size_t i, nnr_shape *shape)
{
    if (model == NULL || !model->built || model->n == 0 || i > model->n_layers)
        return NULL;
    if (shape != NULL)
        *shape = nnr_model_batch(i == 0 ? &model->in_shape : &model->layers[i - 1]->out_shape, model->n);
    return model->act[i];
}

/* Back-propagates dy (the output's gradient for the last forward). */
nnr_status nnr_model_run_backward(nnr_model *m, const void *dy)
{
    if (m->n == 0 || !m->trained_forward)
        return nnr_error(NNR_ERR_PARAM, "backward needs a forward in training mode first");
    const void *g = dy;
    for (size_t i = m->n_layers; i-- > 0;) {
        nnr_layer *l = m->layers[i];
        void *dx = m->grad[i % 2];
        nnr_status st = l->ops->backward(l, m->n, m->act[i], m->act[i + 1], g, dx);
        if (st.code != NNR_OK)
            return prefixed(l, st);
        g = dx;
    }
    m->has_input_grad = 1;
    return nnr_ok();
}

static nnr_status backward(nnr_model *m, nnr_dtype dtype, const void *dy)
{
    NNR_TRY(nnr_need(m, "model"));
    NNR_TRY(nnr_need(dy, "dy"));
    if (m->built && m->dtype != dtype)
        return wrong_entry_point(m);
    return nnr_model_run_backward(m, dy);
}

nnr_status nnr_model_backward(nnr_model *model, const float *dy)
{
    return backward(model, NNR_FLOAT32, dy);
}

nnr_status nnr_model_backward_f64(nnr_model *model, const double *dy)
{
    return backward(model, NNR_FLOAT64, dy);
}

const void *nnr_model_input_grad(const nnr_model *model)
{
    if (model == NULL || !model->has_input_grad)
        return NULL;
    return model->grad[0];
}
