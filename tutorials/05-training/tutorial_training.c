/*
 * nnref tutorial 05: training the networks of document 003 on Fashion-MNIST.
 *
 * Read it top to bottom, or step through it in gdb (see README.md beside it):
 *
 *   build_network()      document 003's three networks, Conv2D(10, 3x3) ->
 *                        GroupNorm(groups=5) / InstanceNorm / LayerNorm(axis=1)
 *                        -> Flatten -> Dense(128, relu) -> Dropout(0.2) ->
 *                        Dense(10, softmax), and the same with BatchNorm, as
 *                        nnref models (include/nnref/model.h); it is in
 *                        ../common/doc003.h, with the Fashion-MNIST loader,
 *                        because tutorial 06 trains the same network;
 *   part_summaries()     their layers, shapes and parameter counts, derived by
 *                        hand in the README and asserted with --check;
 *   part_training()      one epoch of each on the 60,000 training images with
 *                        Adam and sparse categorical cross-entropy (batch 32),
 *                        then loss and accuracy on the 10,000 test images;
 *                        curves every 25 batches (figure training-curves.png);
 *                        for the BatchNorm network, the batch statistics of
 *                        the conv output against BatchNorm's running estimates,
 *                        every channel (figure training-bn-stats.png); at the
 *                        first and the last batch of the epoch, histograms of
 *                        the activations before and after each network's
 *                        normalization in that training forward (figure
 *                        training-histograms.png).
 *                        Needs the Debian package dataset-fashion-mnist.
 *
 * Usage:
 *   tutorial_training                    print the transcript (trains: minutes)
 *   tutorial_training --datadir DIR      also write the figures' data files
 *   tutorial_training --check            assert the structural numbers as TAP;
 *                                        training is skipped (tests/test_model_fmnist
 *                                        trains the GroupNorm network on 2,000
 *                                        images in make check)
 *
 * Without Fashion-MNIST (NNREF_FASHION_MNIST_DIR names another directory than
 * the package's) the part that needs it is skipped with the install command
 * on stderr, and the exit status is 77, so that `make tutorials` keeps the
 * committed transcript and figures (--check never trains, so needs no data).
 *
 * Only the public API (nnref.h) is used. The float models call the
 * dispatching kernels, so the numbers of part_training() depend (in their
 * last digits, and through them the whole trajectory) on whether the AVX2 or
 * the naive kernels ran: NNREF_IMPL=naive gives another, equally valid run.
 */
#define TUTORIAL_NAME "tutorial_training"
#include "../common/tutorial_util.h"
#include "../common/doc003.h"   /* build_network(), the Fashion-MNIST loader */

/* The four networks, in doc003_norm's order: NORM_GROUP .. NORM_BATCH. */
#define N_NETS 4
static const char *const net_names[N_NETS] = {"groupnorm", "instancenorm", "layernorm", "batchnorm"};

#define BATCH 32
#define CURVE_EVERY 25

/* ---------------------------------------------------------------------- */
/* 1. The four networks                                                   */
/* ---------------------------------------------------------------------- */

static void part_summaries(checks *ck)
{
    printf("== 1. Document 003's networks, and the same with BatchNorm ==\n\n");
    /* Parameters by hand (README): conv 3*3*1*10 + 10 = 100; GroupNorm,
     * InstanceNorm, BatchNorm gamma and beta per channel 2*10 = 20;
     * LayerNorm(axis=1) per row 2*26 = 52; Dense 6760*128 + 128 = 865,408;
     * Dense 128*10 + 10 = 1,290. */
    const size_t norm_params[N_NETS] = {20, 20, 52, 20};
    for (int k = 0; k < N_NETS; k++) {
        nnr_model *m = build_network(k, BATCH, 1);
        printf("-- %s network --\n", net_names[k]);
        nnr_model_summary(m, stdout);
        printf("\n");
        char what[96];
        snprintf(what, sizeof what, "%s network: trainable parameters 100 + %zu + 865408 + 1290", net_names[k],
                 norm_params[k]);
        check_close(ck, what, (double)nnr_model_param_count(m), (double)(100 + norm_params[k] + 865408 + 1290), 0);
        nnr_shape out;
        must(nnr_model_output_shape(m, &out), "nnr_model_output_shape");
        snprintf(what, sizeof what, "%s network: output (32, 10) logits", net_names[k]);
        check_true(ck, what, out.rank == 2 && out.dims[0] == BATCH && out.dims[1] == 10);
        nnr_model_free(m);
    }
}

/* ---------------------------------------------------------------------- */
/* 2. Training                                                            */
/* ---------------------------------------------------------------------- */

/* What the callbacks record while a network trains. */
typedef struct recorder {
    FILE *curve;        /* samples seen, running loss, running accuracy */
    FILE *bn_stats;     /* BatchNorm network only: batch vs running statistics */
    FILE *hist;         /* activations around the normalization, first and last batch */
    size_t epoch_batches;
} recorder;

/* Histogram of n values into BINS bins over [lo, hi), values outside counted
 * in the end bins; one line per bin: centre, fraction of the n values. */
static void histogram(FILE *f, const float *v, size_t n, double lo, double hi)
{
    enum { BINS = 120 };
    size_t count[BINS] = {0};
    for (size_t i = 0; i < n; i++) {
        long b = (long)floor((v[i] - lo) / (hi - lo) * BINS);
        b = b < 0 ? 0 : (b >= BINS ? BINS - 1 : b);
        count[b]++;
    }
    for (int b = 0; b < BINS; b++)
        fprintf(f, "%.4f %.6f\n", lo + (b + 0.5) * (hi - lo) / BINS, (double)count[b] / (double)n);
    fprintf(f, "\n\n");
}

/* Called after every optimizer step. nnr_model_activation() still holds
 * what the training forward of this batch computed (backward and the step
 * do not touch the activations). */
static int on_batch(nnr_model *m, const nnr_epoch_stats *s, void *user)
{
    recorder *r = user;
    const int first = s->batches == 1, last = s->batches == r->epoch_batches;
    if (r->curve != NULL && (s->batches % CURVE_EVERY == 0 || last))
        fprintf(r->curve, "%zu %.6f %.6f\n", s->samples, s->loss, s->accuracy);
    if (r->bn_stats != NULL && (s->batches % 10 == 0 || first)) {
        /* The batch statistics BatchNorm just normalized with, computed
         * here from its input (the conv output, activation 1), against its
         * running estimates after this batch's update. Every channel. */
        nnr_shape shape;
        const float *a = nnr_model_activation(m, 1, &shape);
        const float *rmean = norm_state(m, "running_mean"), *rvar = norm_state(m, "running_var");
        const size_t c_all = shape.dims[3], cells = shape.dims[0] * shape.dims[1] * shape.dims[2];
        fprintf(r->bn_stats, "%zu", s->batches);
        for (size_t c = 0; c < c_all; c++) {
            double mean = 0.0, var = 0.0;
            for (size_t i = 0; i < cells; i++)
                mean += a[i * c_all + c];
            mean /= (double)cells;
            for (size_t i = 0; i < cells; i++)
                var += (a[i * c_all + c] - mean) * (a[i * c_all + c] - mean);
            var /= (double)cells;
            fprintf(r->bn_stats, " %.6f %.6f %.6f %.6f", mean, rmean[c], var, rvar[c]);
        }
        fprintf(r->bn_stats, "\n");
    }
    if (r->hist != NULL && (first || last)) {
        /* The activations of this batch's training forward before (the conv
         * output, activation 1) and after (activation 2) the normalization,
         * every channel pooled: two blocks of histograms.dat. */
        nnr_shape shape;
        const float *before = nnr_model_activation(m, 1, &shape);
        const size_t count = shape.dims[0] * shape.dims[1] * shape.dims[2] * shape.dims[3];
        histogram(r->hist, before, count, -3.0, 3.0);
        histogram(r->hist, nnr_model_activation(m, 2, NULL), count, -3.0, 3.0);
    }
    return 0;
}

static void part_training(checks *ck, const char *datadir)
{
    printf("== 2. One epoch of each network on Fashion-MNIST (Adam, batch %d) ==\n\n", BATCH);
    if (ck->enabled) {
        printf("(skipped with --check: training takes minutes; tests/test_model_fmnist trains the\n"
               " GroupNorm network on 2,000 images in make check)\n");
        check_skip(ck, "one epoch of the four networks", "training is not part of --check");
        return;
    }
    if (!fashion_mnist_found(ck, "train-images-idx3-ubyte.gz", "part 2 (one epoch of each network)"))
        return;
    /* All 60,000 training and 10,000 test images, x / 255.0 as the notebook. */
    nnr_dataset train = fashion_mnist_load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 0);
    nnr_dataset test = fashion_mnist_load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 0);
    FILE *hist = datadir != NULL ? open_data_file(datadir, "histograms.dat") : NULL;

    /* The epoch's wall time goes to stderr, not into the transcript: make
     * tutorials must print the committed transcript byte for byte, and the
     * losses are reproducible to the last digit while the time is not. */
    printf("%-14s %10s %10s %10s %10s\n", "network", "train loss", "train acc", "test loss", "test acc");
    for (int k = 0; k < N_NETS; k++) {
        nnr_model *m = build_network(k, BATCH, 2026);
        nnr_optimizer *opt;
        const nnr_optimizer_params adam = nnr_adam_keras();
        must(nnr_optimizer_new(&opt, &adam, m), "nnr_optimizer_new");
        char name[64];
        recorder r = {NULL, NULL, hist, (train.count + BATCH - 1) / BATCH};
        if (datadir != NULL) {
            snprintf(name, sizeof name, "curve_%s.dat", net_names[k]);
            r.curve = open_data_file(datadir, name);
            if (k == NORM_BATCH)
                r.bn_stats = open_data_file(datadir, "bn_stats.dat");
        }
        nnr_fit_options o = nnr_fit_defaults();
        o.batch_size = BATCH;
        o.seed = 7;
        o.verbose = 0;   /* the transcript is a file: the table below says it all */
        o.on_batch = on_batch;
        o.user = &r;
        nnr_epoch_stats h;
        must(nnr_model_fit(m, opt, &train, &o, &h, NULL), "nnr_model_fit");
        double loss, acc;
        must(nnr_model_evaluate(m, &test, BATCH, &loss, &acc), "nnr_model_evaluate");
        printf("%-14s %10.4f %10.4f %10.4f %10.4f\n", net_names[k], h.loss, h.accuracy, loss, acc);
        fprintf(stderr, "%s: one epoch in %.1f s\n", net_names[k], h.seconds);
        if (r.curve != NULL)
            fclose(r.curve);
        if (r.bn_stats != NULL)
            fclose(r.bn_stats);
        nnr_optimizer_free(opt);
        nnr_model_free(m);
    }
    if (hist != NULL)
        fclose(hist);
    fashion_mnist_free(&train);
    fashion_mnist_free(&test);
}

int main(int argc, char **argv)
{
    checks ck;
    const char *datadir;
    tutorial_parse_args(argc, argv, &ck, &datadir);
    printf("nnref tutorial 05: training document 003's networks (impl: %s)\n\n", nnr_impl_name());
    part_summaries(&ck);
    part_training(&ck, datadir);
    return tutorial_finish(&ck);
}
