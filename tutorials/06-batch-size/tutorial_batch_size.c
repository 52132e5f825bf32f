/*
 * nnref tutorial 06: BatchNorm against GroupNorm as the batch shrinks, the
 * Group Normalization paper's Figure 1 (Wu & He 2018) on Fashion-MNIST.
 *
 * Read it top to bottom, or step through it in gdb (see README.md beside it):
 *
 *   build_network()     tutorial 05's network, Conv2D(10, 3x3) -> BatchNorm or
 *                       GroupNorm(groups=5) -> Flatten -> Dense(128) -> ReLU ->
 *                       Dropout(0.2) -> Dense(10), built for one batch size
 *                       (../common/doc003.h, shared with tutorial 05, as is the
 *                       Fashion-MNIST loader);
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
 * Without Fashion-MNIST (NNREF_FASHION_MNIST_DIR names another directory than
 * the package's) the part that needs it is skipped with the install command
 * on stderr, and the exit status is 77, so that `make tutorials` keeps the
 * committed transcript and figures (--check never trains, so needs no data).
 *
 * Only the public API (nnref.h) is used. Float models call the dispatching
 * kernels: NNREF_IMPL=naive gives another, equally valid run of part_sweep().
 */
#define TUTORIAL_NAME "tutorial_batch_size"
#include "../common/tutorial_util.h"
#include "../common/doc003.h"   /* build_network(), the Fashion-MNIST loader */

/* The two networks, by the normalization after the convolution. */
enum { NET_BATCH, NET_GROUP, N_NETS };
static const doc003_norm net_norm[N_NETS] = {NORM_BATCH, NORM_GROUP};
static const size_t batch_sizes[] = {32, 16, 8, 4, 2};
#define N_SIZES (sizeof batch_sizes / sizeof batch_sizes[0])

/* The sweep's data: the first TRAIN_IMAGES training images, EPOCHS epochs,
 * the whole test set. */
#define TRAIN_IMAGES 10000
#define EPOCHS 1

/* Trains one network for `epochs` epochs; returns the test error (1 - accuracy). */
static double train_and_test(doc003_norm norm, size_t batch, const nnr_dataset *train, const nnr_dataset *test,
                             size_t epochs, uint64_t *steps, int64_t *updates)
{
    nnr_model *m = build_network(norm, batch, 2026);
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
    /* BatchNorm's count of running-statistics updates (its num_batches_tracked;
     * GroupNorm keeps none) */
    const int64_t *tracked = norm_state(m, "num_batches_tracked");
    *updates = tracked != NULL ? *tracked : 0;
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
        train_and_test(NORM_BATCH, batch_sizes[s], &data, NULL, 1, &steps, &updates);
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

static void part_sweep(checks *ck, const char *datadir)
{
    printf("== 2. Test error against batch size: %d training images, %d epoch, Adam ==\n\n", TRAIN_IMAGES, EPOCHS);
    if (ck->enabled) {
        printf("(skipped with --check: the sweep trains ten networks, minutes)\n");
        check_skip(ck, "batch-size sweep", "training is not part of --check");
        return;
    }
    if (!fashion_mnist_found(ck, "train-images-idx3-ubyte.gz", "part 2 (the batch-size sweep)"))
        return;
    nnr_dataset train = fashion_mnist_load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", TRAIN_IMAGES);
    nnr_dataset test = fashion_mnist_load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 0);
    FILE *f = datadir != NULL ? open_data_file(datadir, "error.dat") : NULL;
    if (f != NULL)
        fprintf(f, "# batch batchnorm_error groupnorm_error\n");
    printf("%6s %18s %18s\n", "batch", "BatchNorm error %", "GroupNorm error %");
    for (size_t s = 0; s < N_SIZES; s++) {
        double err[N_NETS];
        for (int k = 0; k < N_NETS; k++) {
            uint64_t steps;
            int64_t updates;
            err[k] = train_and_test(net_norm[k], batch_sizes[s], &train, &test, EPOCHS, &steps, &updates);
        }
        printf("%6zu %18.2f %18.2f\n", batch_sizes[s], 100 * err[NET_BATCH], 100 * err[NET_GROUP]);
        fflush(stdout);
        if (f != NULL)
            fprintf(f, "%zu %.4f %.4f\n", batch_sizes[s], 100 * err[NET_BATCH], 100 * err[NET_GROUP]);
    }
    if (f != NULL)
        fclose(f);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
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
