/*
 * nnref tutorial 06: BatchNorm against GroupNorm as the batch shrinks, the
 * Group Normalization paper's Figure 1 (Wu & He 2018) on Fashion-MNIST.
 *
 * Read it top to bottom, or step through it in gdb (see README.md beside it):
 *
 *   build_network()     tutorial 05's network, Conv2D(10, 3x3) -> BatchNorm or
 *                       GroupNorm(groups=5) -> Flatten -> Dense(128) -> ReLU ->
 *                       Dropout(0.2) -> Dense(10), built for one batch size;
 *   part_mechanics()    what "the same epochs" means at each batch size: the
 *                       optimizer steps and BatchNorm's running-statistics
 *                       updates per epoch, counted on a 64-image subset and
 *                       asserted with --check;
 *   part_sweep()        both networks trained at batch sizes 32, 16, 8, 4 and 2
 *                       for the same number of epochs on the same images, and
 *                       their test error (figure batch-size-error.png). Needs the
 *                       Debian package dataset-fashion-mnist; skipped with --check.
 *
 * Usage:
 *   tutorial_batch_size                  print the transcript (trains: minutes)
 *   tutorial_batch_size --datadir DIR    also write the figure's data file
 *   tutorial_batch_size --check          assert part_mechanics' counts as TAP
 *
 * Only the public API (nnref.h) is used. Float models call the dispatching
 * kernels: NNREF_IMPL=naive gives another, equally valid run of part_sweep().
 */
#define TUTORIAL_NAME "tutorial_batch_size"
#include "../common/tutorial_util.h"

enum { NET_BATCH, NET_GROUP, N_NETS };
static const size_t batch_sizes[] = {32, 16, 8, 4, 2};
#define N_SIZES (sizeof batch_sizes / sizeof batch_sizes[0])

/* The sweep's data: the first TRAIN_IMAGES training images, EPOCHS epochs,
 * the whole test set. */
#define TRAIN_IMAGES 10000
#define EPOCHS 1

static nnr_model *build_network(int which, size_t batch, uint64_t seed)
{
    nnr_model *m;
    must(nnr_model_new(&m, NNR_FLOAT32), "nnr_model_new");
    const nnr_conv_params conv = nnr_conv_keras(2, 1, 10, 3);
    must(nnr_model_add_conv(m, &conv), "nnr_model_add_conv");
    if (which == NET_BATCH) {
        const nnr_batchnorm_params p = nnr_batchnorm_keras();   /* momentum 0.99, epsilon 1e-3 */
        must(nnr_model_add_batchnorm(m, &p), "nnr_model_add_batchnorm");
    } else {
        const nnr_groupnorm_params p = nnr_groupnorm_keras(5);
        must(nnr_model_add_groupnorm(m, &p), "nnr_model_add_groupnorm");
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

/* BatchNorm's count of running-statistics updates (its num_batches_tracked). */
static int64_t bn_updates(nnr_model *m)
{
    nnr_layer *bn = nnr_model_layer(m, 1);
    for (size_t k = 0; k < bn->n_state; k++)
        if (strcmp(bn->state[k].name, "num_batches_tracked") == 0)
            return *(const int64_t *)bn->state[k].data;
    return -1;
}

/* Trains one network for `epochs` epochs; returns the test error (1 - accuracy). */
static double train_and_test(int which, size_t batch, const nnr_dataset *train, const nnr_dataset *test,
                             size_t epochs, uint64_t *steps, int64_t *updates)
{
    nnr_model *m = build_network(which, batch, 2026);
    const nnr_optimizer_params adam = nnr_adam_keras();
    nnr_optimizer *opt;
    must(nnr_optimizer_new(&opt, &adam, m), "nnr_optimizer_new");
    nnr_fit_options o = nnr_fit_defaults();
    o.batch_size = batch;
    o.epochs = epochs;
    o.seed = 7;
    o.verbose = 0;
    must(nnr_model_fit(m, opt, train, &o, NULL, NULL), "nnr_model_fit");
    double acc = 0.0;
    if (test != NULL)
        must(nnr_model_evaluate(m, test, batch, NULL, &acc), "nnr_model_evaluate");
    *steps = nnr_optimizer_steps(opt);
    *updates = which == NET_BATCH ? bn_updates(m) : 0;
    nnr_optimizer_free(opt);
    nnr_model_free(m);
    return 1.0 - acc;
}

/* ---------------------------------------------------------------------- */
/* 1. What "the same epochs" means                                        */
/* ---------------------------------------------------------------------- */

static void part_mechanics(checks *ck)
{
    printf("== 1. One epoch of 64 images at each batch size: steps and BatchNorm updates ==\n\n");
    /* 64 synthetic images (no data set needed: only the counts matter here). */
    enum { N = 64 };
    float *x = must_alloc(N * 784 * sizeof *x);
    int32_t y[N];
    for (size_t i = 0; i < N * 784; i++)
        x[i] = (float)nnr_rng_uniform(6, i);
    for (int i = 0; i < N; i++)
        y[i] = i % 10;
    const nnr_dataset data = {x, y, N, {3, {28, 28, 1}}};
    printf("%6s %14s %22s\n", "batch", "Adam steps", "BatchNorm updates");
    for (size_t s = 0; s < N_SIZES; s++) {
        uint64_t steps;
        int64_t updates;
        train_and_test(NET_BATCH, batch_sizes[s], &data, NULL, 1, &steps, &updates);
        printf("%6zu %14llu %22lld\n", batch_sizes[s], (unsigned long long)steps, (long long)updates);
        char what[96];
        snprintf(what, sizeof what, "batch %zu: 64/%zu optimizer steps per epoch", batch_sizes[s], batch_sizes[s]);
        check_close(ck, what, (double)steps, 64.0 / (double)batch_sizes[s], 0);
        snprintf(what, sizeof what, "batch %zu: one BatchNorm running-statistics update per step", batch_sizes[s]);
        check_close(ck, what, (double)updates, (double)steps, 0);
    }
    printf("\nThe same epochs are the same images, but 16 times as many updates at batch 2 as at\n"
           "batch 32, each from a gradient (and, for BatchNorm, batch statistics) of 16 times fewer\n"
           "samples.\n\n");
    free(x);
}

/* ---------------------------------------------------------------------- */
/* 2. The sweep                                                           */
/* ---------------------------------------------------------------------- */

static float *load_images(const char *name, size_t n)
{
    nnr_idx idx;
    char path[256];
    snprintf(path, sizeof path, "%s/%s", NNR_FASHION_MNIST_DIR, name);
    must(nnr_idx_read(path, &idx), path);
    float *x = must_alloc(n * 784 * sizeof *x);
    for (size_t i = 0; i < n * 784; i++)
        x[i] = (float)idx.data[i] / 255.0f;
    nnr_idx_free(&idx);
    return x;
}

static int32_t *load_labels(const char *name, size_t n)
{
    nnr_idx idx;
    char path[256];
    snprintf(path, sizeof path, "%s/%s", NNR_FASHION_MNIST_DIR, name);
    must(nnr_idx_read(path, &idx), path);
    int32_t *y = must_alloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[i] = idx.data[i];
    nnr_idx_free(&idx);
    return y;
}

static void part_sweep(checks *ck, const char *datadir)
{
    printf("== 2. Test error against batch size: %d training images, %d epoch, Adam ==\n\n", TRAIN_IMAGES, EPOCHS);
    if (ck->enabled) {
        printf("(skipped with --check: the sweep trains ten networks, minutes)\n");
        check_skip(ck, "batch-size sweep", "training is not part of --check");
        return;
    }
    FILE *probe = fopen(NNR_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", "rb");
    if (probe == NULL) {
        printf("(skipped: %s is absent; apt-get install dataset-fashion-mnist)\n", NNR_FASHION_MNIST_DIR);
        return;
    }
    fclose(probe);
    float *x = load_images("train-images-idx3-ubyte.gz", TRAIN_IMAGES);
    int32_t *y = load_labels("train-labels-idx1-ubyte.gz", TRAIN_IMAGES);
    float *xt = load_images("t10k-images-idx3-ubyte.gz", 10000);
    int32_t *yt = load_labels("t10k-labels-idx1-ubyte.gz", 10000);
    const nnr_dataset train = {x, y, TRAIN_IMAGES, {3, {28, 28, 1}}};
    const nnr_dataset test = {xt, yt, 10000, {3, {28, 28, 1}}};
    FILE *f = datadir != NULL ? open_data_file(datadir, "error.dat") : NULL;
    if (f != NULL)
        fprintf(f, "# batch batchnorm_error groupnorm_error\n");
    printf("%6s %18s %18s\n", "batch", "BatchNorm error %", "GroupNorm error %");
    for (size_t s = 0; s < N_SIZES; s++) {
        double err[N_NETS];
        for (int k = 0; k < N_NETS; k++) {
            uint64_t steps;
            int64_t updates;
            err[k] = train_and_test(k, batch_sizes[s], &train, &test, EPOCHS, &steps, &updates);
        }
        printf("%6zu %18.2f %18.2f\n", batch_sizes[s], 100 * err[NET_BATCH], 100 * err[NET_GROUP]);
        fflush(stdout);
        if (f != NULL)
            fprintf(f, "%zu %.4f %.4f\n", batch_sizes[s], 100 * err[NET_BATCH], 100 * err[NET_GROUP]);
    }
    if (f != NULL)
        fclose(f);
    free(x);
    free(y);
    free(xt);
    free(yt);
}

int main(int argc, char **argv)
{
    checks ck;
    const char *datadir;
    tutorial_parse_args(argc, argv, &ck, &datadir);
    printf("nnref tutorial 06: BatchNorm and GroupNorm against batch size (impl: %s)\n\n", nnr_impl_name());
    part_mechanics(&ck);
    part_sweep(&ck, datadir);
    return tutorial_finish(&ck);
}
