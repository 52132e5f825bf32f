/*
 * Saving and loading a model's tensors through src/io/tensor_file.c: every
 * trainable and state tensor under "<layer>/<tensor>". Loading checks the
 * whole file against the model first (every tensor present, none extra, the
 * same shapes) and only then copies, so a bad file leaves the model as it was.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "io/tensor_file.h"
#include "model_internal.h"

/* Calls fn(tensor, full name, ctx) for every tensor of the model, in order. */
typedef nnr_status (*tensor_fn)(nnr_model_tensor *t, const char *name, void *ctx);

static nnr_status each_tensor(const nnr_model *m, tensor_fn fn, void *ctx)
{
    char name[2 * NNR_MODEL_NAME_LEN + 2];
    for (size_t i = 0; i < m->n_layers; i++) {
        nnr_layer *l = m->layers[i];
        for (size_t k = 0; k < l->n_params + l->n_state; k++) {
            nnr_model_tensor *t = k < l->n_params ? &l->params[k] : &l->state[k - l->n_params];
            snprintf(name, sizeof name, "%s/%s", l->name, t->name);
            NNR_TRY(fn(t, name, ctx));
        }
    }
    return nnr_ok();
}

/* The checks nnr_model_save and nnr_model_load begin with. */
static nnr_status check_call(const nnr_model *model, const char *path)
{
    NNR_TRY(nnr_need(model, "model"));
    NNR_TRY(nnr_need(path, "path"));
    return nnr_model_need_built(model);
}

typedef struct save_ctx {
    nnr_tf_entry *entries;
    size_t n;
} save_ctx;

static nnr_status count_one(nnr_model_tensor *t, const char *name, void *ctx)
{
    (void)t;
    (void)name;
    ((save_ctx *)ctx)->n++;
    return nnr_ok();
}

static nnr_status add_one(nnr_model_tensor *t, const char *name, void *ctx)
{
    save_ctx *s = ctx;
    nnr_tf_entry *e = &s->entries[s->n++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->dtype = t->dtype;
    e->shape = t->shape;
    e->count = t->count;
    e->data = t->data;
    return nnr_ok();
}

nnr_status nnr_model_save(const nnr_model *model, const char *path)
{
    NNR_TRY(check_call(model, path));
    save_ctx s = {NULL, 0};
    NNR_TRY(each_tensor(model, count_one, &s));
    s.entries = calloc(s.n > 0 ? s.n : 1, sizeof *s.entries);
    if (s.entries == NULL)
        return nnr_error(NNR_ERR_NOMEM, "cannot allocate the tensor table");
    const size_t n = s.n;
    s.n = 0;
    nnr_status st = each_tensor(model, add_one, &s);
    if (st.code == NNR_OK)
        st = nnr_tf_write(path, s.entries, n);
    free(s.entries);
    return st;
}

typedef struct load_ctx {
    const nnr_tf_file *file;
    const char *path;
    int *used;      /* per file entry: matched by a model tensor */
    int copy;       /* 0: check only; 1: copy */
} load_ctx;

static void shape_text(const nnr_shape *s, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "(");
    for (size_t d = 0; d < s->rank && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, d == 0 ? "%zu" : ", %zu", s->dims[d]);
    if (at < len)
        snprintf(buf + at, len - at, ")");
}

static int same_shape(const nnr_shape *a, const nnr_shape *b)
{
    if (a->rank != b->rank)
        return 0;
    for (size_t d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d])
            return 0;
    return 1;
}

static nnr_status load_one(nnr_model_tensor *t, const char *name, void *ctx)
{
    load_ctx *c = ctx;
    const nnr_tf_entry *e = NULL;
    size_t at = 0;
    for (size_t i = 0; i < c->file->n; i++)
        if (strcmp(c->file->entries[i].name, name) == 0) {
            e = &c->file->entries[i];
            at = i;
        }
    if (e == NULL)
        return nnr_error(NNR_ERR_SHAPE, "%s has no tensor %s: it was saved from another architecture", c->path,
                         name);
    if (!c->copy) {
        char want[96], got[96];
        shape_text(&t->shape, want, sizeof want);
        shape_text(&e->shape, got, sizeof got);
        if (!same_shape(&t->shape, &e->shape))
            return nnr_error(NNR_ERR_SHAPE, "%s: tensor %s has shape %s, the model's is %s", c->path, name, got,
                             want);
        if ((t->dtype == NNR_INT64) != (e->dtype == NNR_INT64))
            return nnr_error(NNR_ERR_SHAPE, "%s: tensor %s is %s in the file but %s in the model", c->path, name,
                             e->dtype == NNR_INT64 ? "int64" : "floating point",
                             t->dtype == NNR_INT64 ? "int64" : "floating point");
        c->used[at] = 1;
        return nnr_ok();
    }
    for (size_t i = 0; i < t->count; i++) {
        if (t->dtype == NNR_INT64) {
            memcpy((int64_t *)t->data + i, (const int64_t *)e->data + i, sizeof(int64_t));
            continue;
        }
        nnr_model_set(t->dtype, t->data, i, nnr_model_get(e->dtype, e->data, i));
    }
    return nnr_ok();
}

nnr_status nnr_model_load(nnr_model *model, const char *path)
{
    NNR_TRY(check_call(model, path));
    nnr_tf_file file;
    NNR_TRY(nnr_tf_read(path, &file));
    load_ctx c = {&file, path, calloc(file.n > 0 ? file.n : 1, sizeof(int)), 0};
    nnr_status st = c.used == NULL ? nnr_error(NNR_ERR_NOMEM, "cannot allocate the tensor table") : nnr_ok();
    if (st.code == NNR_OK)
        st = each_tensor(model, load_one, &c);
    for (size_t i = 0; i < file.n && st.code == NNR_OK; i++)
        if (!c.used[i])
            st = nnr_error(NNR_ERR_SHAPE, "%s holds tensor %s, which the model does not have: it was saved from "
                           "another architecture", path, file.entries[i].name);
    if (st.code == NNR_OK) {
        c.copy = 1;
        st = each_tensor(model, load_one, &c);
    }
    free(c.used);
    nnr_tf_free(&file);
    return st;
}
