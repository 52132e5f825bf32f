/*
 * What tutorials 05 and 06 share: document 003's network, built as an nnref
 * model, and the Fashion-MNIST data set it trains on. Header-only and static
 * inline, as tutorial_util.h (include that first: this uses must() and
 * must_alloc()); in gdb, `break build_network` stops here as in any function
 * of the tutorial.
 */
#ifndef NNREF_TUTORIAL_DOC003_H
#define NNREF_TUTORIAL_DOC003_H

#include "tutorial_util.h"

/* The normalization after the convolution: document 003's three, and BatchNorm. */
typedef enum { NORM_GROUP, NORM_INSTANCE, NORM_LAYER, NORM_BATCH } doc003_norm;

/* Conv2D(10, 3x3, valid) -> <norm> -> Flatten -> Dense(128) -> ReLU ->
 * Dropout(0.2) -> Dense(10), for batches of up to `batch` 28x28x1 images: the
 * softmax of document 003's last layer is part of the loss here (model.h,
 * "Loss"). channels_last, as the notebook. */
static inline nnr_model *build_network(doc003_norm norm, size_t batch, uint64_t seed)
{
    nnr_model *m;
    must(nnr_model_new(&m, NNR_FLOAT32), "nnr_model_new");
    const nnr_conv_params conv = nnr_conv_keras(2, 1, 10, 3);
    must(nnr_model_add_conv(m, &conv), "nnr_model_add_conv");
    if (norm == NORM_GROUP) {
        /* tfa.layers.GroupNormalization(groups=5, axis=3) */
        const nnr_groupnorm_params p = nnr_groupnorm_keras(5);
        must(nnr_model_add_groupnorm(m, &p), "nnr_model_add_groupnorm");
    } else if (norm == NORM_INSTANCE) {
        /* tfa.layers.InstanceNormalization(axis=3): GroupNorm with one group per channel */
        const nnr_instancenorm_params p = nnr_instancenorm_keras();
        must(nnr_model_add_instancenorm(m, &p, 0), "nnr_model_add_instancenorm");
    } else if (norm == NORM_LAYER) {
        /* tf.keras.layers.LayerNormalization(axis=1): statistics over the
         * 26 rows of each (column, channel), gamma and beta of shape (26,) */
        nnr_layernorm_params p = nnr_layernorm_keras();
        p.axes[0] = 1;
        must(nnr_model_add_layernorm(m, &p), "nnr_model_add_layernorm");
    } else {
        /* tf.keras.layers.BatchNormalization(): momentum 0.99, epsilon 1e-3 */
        const nnr_batchnorm_params p = nnr_batchnorm_keras();
        must(nnr_model_add_batchnorm(m, &p), "nnr_model_add_batchnorm");
    }
    const nnr_dense_params d1 = nnr_dense_keras(26 * 26 * 10, 128), d2 = nnr_dense_keras(128, 10);
    const nnr_dropout_params drop = nnr_dropout_keras(0.2);
    must(nnr_model_add_flatten(m), "nnr_model_add_flatten");
    must(nnr_model_add_dense(m, &d1), "nnr_model_add_dense");
    must(nnr_model_add_relu(m), "nnr_model_add_relu");
    must(nnr_model_add_dropout(m, &drop), "nnr_model_add_dropout");
    must(nnr_model_add_dense(m, &d2), "nnr_model_add_dense");
    const nnr_shape in = {4, {batch, 28, 28, 1}};
    must(nnr_model_build(m, &in, seed), "nnr_model_build");
    return m;
}

/* The state tensor called name (e.g. BatchNorm's "running_mean") of the
 * network's normalization layer, layer 1; NULL if it has none. */
static inline const void *norm_state(nnr_model *m, const char *name)
{
    const nnr_layer *norm = nnr_model_layer(m, 1);
    for (size_t k = 0; k < norm->n_state; k++)
        if (strcmp(norm->state[k].name, name) == 0)
            return norm->state[k].data;
    return NULL;
}

/* The first n images (0: all) of a Fashion-MNIST images file and the labels
 * of the same samples, as a dataset of 28x28x1 images; pixels scaled to
 * [0, 1] as the notebook's x_train / 255.0. Free with fashion_mnist_free().
 * The files are in fashion_mnist_path()'s directory (tutorial_util.h); ask
 * fashion_mnist_found() first. */
static inline nnr_dataset fashion_mnist_load(const char *images_file, const char *labels_file, size_t n)
{
    nnr_idx images, labels;
    char path[256];
    must(nnr_idx_read(fashion_mnist_path(path, sizeof path, images_file), &images), path);
    must(nnr_idx_read(fashion_mnist_path(path, sizeof path, labels_file), &labels), path);
    if (n == 0)
        n = images.dims[0];
    if (n > images.dims[0] || n > labels.dims[0] || images.count != images.dims[0] * 784) {
        fprintf(stderr, TUTORIAL_NAME ": %s and %s do not hold %zu 28x28 images and labels\n", images_file,
                labels_file, n);
        exit(EXIT_FAILURE);
    }
    float *x = must_alloc(n * 784 * sizeof *x);
    for (size_t i = 0; i < n * 784; i++)
        x[i] = (float)images.data[i] / 255.0f;
    int32_t *y = must_alloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[i] = labels.data[i];
    nnr_idx_free(&images);
    nnr_idx_free(&labels);
    const nnr_dataset d = {x, y, n, {3, {28, 28, 1}}};
    return d;
}

static inline void fashion_mnist_free(nnr_dataset *d)
{
    free((void *)d->x);
    free((void *)d->labels);
}

#endif /* NNREF_TUTORIAL_DOC003_H */
