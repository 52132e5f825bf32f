/*
 * nnref tutorial 02: LayerNorm, InstanceNorm and GroupNorm beside BatchNorm.
 *
 * Read it top to bottom, or step through it in gdb (see README.md beside it):
 *
 *   part_document_000()   Keras' LayerNormalization(axis=1) example of document 000
 *                         on arange(10).reshape(5,2)*10: the document's +-0.99998
 *                         (eps 1e-3), and PyTorch's eps 1e-5;
 *   part_rmsnorm_doc000() RMSNorm (Keras, PyTorch) on the same input;
 *   part_special_cases()  InstanceNorm = GroupNorm(groups=C) = BatchNorm on each
 *                         sample alone; GroupNorm(1) = LayerNorm over (C,H,W) while
 *                         LayerNorm's gamma/beta are constant over positions, and
 *                         by how much they differ once they are not;
 *   part_groups()         which cells share one mean and variance, found by
 *                         perturbing one input cell and watching which outputs move
 *                         (the Group Normalization paper's figure that document 003
 *                         shows, figure normalization-groups.png);
 *   part_statistics()     means and variances of one Fashion-MNIST batch after a
 *                         random 3x3 convolution, per channel, per sample and per
 *                         group, before and after each layer (figure
 *                         normalization-statistics.png; needs the Debian package
 *                         dataset-fashion-mnist, see below).
 *
 * Usage:
 *   tutorial_normalization                    print the transcript
 *   tutorial_normalization --datadir DIR      also write the figures' data files into DIR
 *   tutorial_normalization --check            also assert every worked number, as TAP
 *                                             ("ok N - ..."), exit status 1 on a mismatch
 *
 * Without Fashion-MNIST (NNREF_FASHION_MNIST_DIR names another directory than
 * the package's) the part that needs it is skipped with the install command
 * on stderr, and the exit status is 77, so that `make tutorials` keeps the
 * committed transcript and figures; with --check it is a TAP skip.
 *
 * Only the public API (nnref.h) is used: the naive kernels, float and double,
 * and the IDX reader.
 */
#define TUTORIAL_NAME "tutorial_normalization"
#include "../common/tutorial_util.h"

/* ------------------------------------------------------------------------- */
/* 1. Document 000: LayerNormalization(axis=1) on arange(10).reshape(5,2)*10  */
/* ------------------------------------------------------------------------- */

enum { DOC000_ROWS = 5, DOC000_COLS = 2 };

/* Prints y the way the framework does: Keras (TensorFlow) with 5 decimals,
 * PyTorch with 7 when the values are not round. */
static void layernorm_doc000(const char *name, nnr_layernorm_params p, int torch_style, float *y)
{
    float x[DOC000_ROWS * DOC000_COLS], gamma[DOC000_COLS] = { 1, 1 }, beta[DOC000_COLS] = { 0, 0 };
    float mean[DOC000_ROWS], istd[DOC000_ROWS];
    for (int i = 0; i < DOC000_ROWS * DOC000_COLS; i++)
        x[i] = (float)(10 * i);
    const nnr_shape shape = { 2, { DOC000_ROWS, DOC000_COLS } };
    const nnr_layernorm_cache cache = { mean, istd };
    must(nnr_layernorm_fwd_naive(&p, &shape, x, gamma, beta, y, &cache), "nnr_layernorm_fwd_naive");
    printf("  %s (eps %g): row means", name, p.epsilon);
    for (int r = 0; r < DOC000_ROWS; r++)
        printf(" %g", mean[r]);
    printf(", every row's variance 25\n");
    printf("  %s\n", torch_style ? "tensor(" : "tf.Tensor(");
    for (int r = 0; r < DOC000_ROWS; r++) {
        if (torch_style)
            printf("  %s[%10.7f, %10.7f]%s\n", r == 0 ? "[" : " ", y[2 * r], y[2 * r + 1],
                   r == DOC000_ROWS - 1 ? "])" : ",");
        else
            printf("  %s[%8.5f %8.5f]%s\n", r == 0 ? "[" : " ", y[2 * r], y[2 * r + 1],
                   r == DOC000_ROWS - 1 ? "], shape=(5, 2), dtype=float32)" : "");
    }
    printf("  float32 values: %.8g %.8g\n\n", y[0], y[1]);
}

static void part_document_000(checks *ck)
{
    printf("\n== 1. Document 000: tf.keras.layers.LayerNormalization(axis=1) on arange(10).reshape(5,2)*10 ==\n\n");
    printf("  x = [[0 10] [20 30] [40 50] [60 70] [80 90]]: each row is (m - 5, m + 5), so\n"
           "  y = +-5 / sqrt(25 + eps), just below 1 by eps/50.\n\n");

    nnr_layernorm_params keras = nnr_layernorm_keras();
    keras.axes[0] = 1;   /* the document's axis=1: the last axis of a rank-2 input */
    keras.n_axes = 1;
    float y_keras[DOC000_ROWS * DOC000_COLS];
    layernorm_doc000("Keras LayerNormalization(axis=1)", keras, 0, y_keras);

    float y_torch[DOC000_ROWS * DOC000_COLS];
    layernorm_doc000("PyTorch nn.LayerNorm(2)", nnr_layernorm_torch(1), 1, y_torch);

    /* want: the float32 nearest 5/sqrt(25+eps); the kernel works in double
     * and rounds once, so it may differ from it by one float ulp */
    const double want_keras = (float)(5.0 / sqrt(25.0 + 1e-3));
    const double want_torch = (float)(5.0 / sqrt(25.0 + 1e-5));
    printf("  5/sqrt(25.001)   = %.10f -> float32 %.8g, printed %.5f as in document 000\n",
           5.0 / sqrt(25.001), want_keras, want_keras);
    printf("  5/sqrt(25.00001) = %.10f -> float32 %.8g, printed %.7f\n", 5.0 / sqrt(25.00001), want_torch,
           want_torch);
    double worst_keras = 0.0, worst_torch = 0.0;
    for (int r = 0; r < DOC000_ROWS; r++)
        for (int c = 0; c < DOC000_COLS; c++) {
            const double sign = c == 0 ? -1.0 : 1.0;
            worst_keras = fmax(worst_keras, fabs(y_keras[2 * r + c] - sign * want_keras));
            worst_torch = fmax(worst_torch, fabs(y_torch[2 * r + c] - sign * want_torch));
        }
    check_close(ck, "doc000 Keras eps 1e-3: every output is +-float(5/sqrt(25.001)) = +-0.99997997", worst_keras,
                0.0, 6e-8 /* one float ulp below 1 */);
    check_close(ck, "doc000 PyTorch eps 1e-5: every output is +-float(5/sqrt(25.00001)) = +-0.9999998",
                worst_torch, 0.0, 6e-8);
    char printed[32];
    snprintf(printed, sizeof printed, "%.5f", y_keras[1]);
    check_true(ck, "doc000 Keras output prints as 0.99998 with 5 decimals, as in the document",
               strcmp(printed, "0.99998") == 0);
}

/* RMSNorm on the same input: no centring, so a row (a, b) becomes
 * (a, b) / sqrt((a^2 + b^2)/2 + eps), not +-1. */
static void part_rmsnorm_doc000(checks *ck)
{
    printf("\n1b. RMSNorm on the same input: y = x / sqrt(mean(x^2) + eps), no mean subtracted\n\n");
    float x[DOC000_ROWS * DOC000_COLS], scale[DOC000_COLS] = { 1, 1 }, rstd[DOC000_ROWS];
    for (int i = 0; i < DOC000_ROWS * DOC000_COLS; i++)
        x[i] = (float)(10 * i);
    const nnr_shape shape = { 2, { DOC000_ROWS, DOC000_COLS } };
    const nnr_rmsnorm_cache cache = { rstd };
    struct { const char *name; nnr_rmsnorm_params p; } presets[2] = {
        { "Keras RMSNormalization(axis=-1)", nnr_rmsnorm_keras() },
        { "PyTorch nn.RMSNorm(2)", nnr_rmsnorm_torch(1) },
    };
    for (int k = 0; k < 2; k++) {
        float y[DOC000_ROWS * DOC000_COLS];
        must(nnr_rmsnorm_fwd_naive(&presets[k].p, &shape, x, scale, y, &cache), "nnr_rmsnorm_fwd_naive");
        printf("  %s (eps %.8g):\n", presets[k].name, presets[k].p.epsilon);
        double worst = 0.0;
        for (int r = 0; r < DOC000_ROWS; r++) {
            const double a = 10.0 * (2 * r), b = 10.0 * (2 * r + 1);
            const double r_want = 1.0 / sqrt((a * a + b * b) / 2.0 + presets[k].p.epsilon);
            printf("    [%3g %3g] -> [%.8f %.8f]   rms %.6f\n", a, b, y[2 * r], y[2 * r + 1],
                   sqrt((a * a + b * b) / 2.0));
            worst = fmax(worst, fmax(fabs(y[2 * r] - a * r_want), fabs(y[2 * r + 1] - b * r_want)));
        }
        char what[128];
        snprintf(what, sizeof what, "doc000 input, %s: y = x / sqrt(mean(x^2) + eps) per row", presets[k].name);
        /* outputs up to sqrt(2): one float rounding is at most 1.2e-7 */
        check_close(ck, what, worst, 0.0, 1.2e-7);
    }
    printf("  RMSNorm divides by the root mean square instead of centring: each row keeps its offset\n"
           "  (all values stay >= 0 here), only its scale is normalized (mean(y^2) = 1 up to eps).\n");
}

/* ------------------------------------------------------------------------- */
/* 2. Special cases, computed                                                */
/* ------------------------------------------------------------------------- */

enum { SC_N = 3, SC_C = 6, SC_H = 3, SC_W = 4, SC_HW = SC_H * SC_W, SC_SIZE = SC_N * SC_C * SC_HW };

#define SEED_SPECIAL 2024u

static void part_special_cases(checks *ck)
{
    printf("\n== 2. Special cases: an (N=%d, C=%d, H=%d, W=%d) input, N(0,1) times 1 + channel, double kernels ==\n\n",
           SC_N, SC_C, SC_H, SC_W);

    double *x = must_alloc(SC_SIZE * sizeof *x);
    for (size_t i = 0; i < SC_SIZE; i++) {
        const size_t c = i / SC_HW % SC_C;   /* channels with different scales, so grouping matters */
        x[i] = nnr_rng_normal(SEED_SPECIAL, i) * (1.0 + (double)c) + 0.5 * (double)c;
    }
    double gamma_c[SC_C], beta_c[SC_C];
    for (size_t c = 0; c < SC_C; c++) {
        gamma_c[c] = 1.0 + 0.25 * nnr_rng_normal(SEED_SPECIAL + 1, c);
        beta_c[c] = 0.5 * nnr_rng_normal(SEED_SPECIAL + 2, c);
    }
    const nnr_shape shape = { 4, { SC_N, SC_C, SC_H, SC_W } };
    double y_in[SC_SIZE], y_gn[SC_SIZE], y_bn[SC_SIZE], y_ln[SC_SIZE];
    double mean[SC_N * SC_C], istd[SC_N * SC_C], var[SC_N * SC_C];

    /* 2a. InstanceNorm (PyTorch, affine on) against GroupNorm(groups = C) */
    nnr_instancenorm_params in = nnr_instancenorm_torch();
    in.center = in.scale = 1;
    const nnr_groupnorm_cache_f64 in_cache = { mean, istd, var };
    must(nnr_instancenorm_fwd_train_naive_f64(&in, &shape, x, gamma_c, beta_c, y_in, &in_cache, NULL),
         "nnr_instancenorm_fwd_train_naive_f64");
    nnr_groupnorm_params gn = nnr_groupnorm_torch(SC_C);
    const nnr_groupnorm_cache_f64 gn_cache = { mean, istd, NULL };
    must(nnr_groupnorm_fwd_naive_f64(&gn, &shape, x, gamma_c, beta_c, y_gn, &gn_cache),
         "nnr_groupnorm_fwd_naive_f64");
    const double d_in_gn = max_abs_diff(y_in, y_gn, SC_SIZE);

    /* ... and against a kernel that shares no code with them: BatchNorm
     * trained on each sample alone has statistics per (n, c) over H, W. */
    nnr_batchnorm_params bn = nnr_batchnorm_torch();
    const nnr_shape one = { 4, { 1, SC_C, SC_H, SC_W } };
    for (size_t n = 0; n < SC_N; n++) {
        const nnr_batchnorm_cache_f64 bn_cache = { mean, istd, NULL, NULL };
        must(nnr_batchnorm_fwd_train_naive_f64(&bn, &one, x + n * SC_C * SC_HW, gamma_c, beta_c,
                                               y_bn + n * SC_C * SC_HW, &bn_cache, NULL),
             "nnr_batchnorm_fwd_train_naive_f64");
    }
    const double d_in_bn = max_abs_diff(y_in, y_bn, SC_SIZE);
    printf("2a. InstanceNorm (PyTorch, eps 1e-5, affine)  vs GroupNorm(groups=C=%d): max |difference| %.3g\n",
           SC_C, d_in_gn);
    printf("    InstanceNorm                              vs BatchNorm on each sample alone: max |difference| %.3g\n",
           d_in_bn);
    check_close(ck, "InstanceNorm equals GroupNorm(groups=C) (both from the GroupNorm kernel: bitwise)", d_in_gn,
                0.0, 0.0);
    /* different kernels, same formula: rounding of double sums, values ~ 3 */
    check_close(ck, "InstanceNorm equals BatchNorm run on each sample alone", d_in_bn, 0.0, 1e-13);

    /* 2b. GroupNorm(1) against LayerNorm over (C, H, W) */
    double *gamma_e = must_alloc(SC_C * SC_HW * sizeof *gamma_e);
    double *beta_e = must_alloc(SC_C * SC_HW * sizeof *beta_e);
    for (size_t c = 0; c < SC_C; c++)
        for (size_t s = 0; s < SC_HW; s++) {
            gamma_e[c * SC_HW + s] = gamma_c[c];   /* constant over positions */
            beta_e[c * SC_HW + s] = beta_c[c];
        }
    nnr_groupnorm_params gn1 = nnr_groupnorm_torch(1);
    must(nnr_groupnorm_fwd_naive_f64(&gn1, &shape, x, gamma_c, beta_c, y_gn, &gn_cache),
         "nnr_groupnorm_fwd_naive_f64");
    nnr_layernorm_params ln = nnr_layernorm_torch(3);   /* nn.LayerNorm([C, H, W]) */
    const nnr_layernorm_cache_f64 ln_cache = { mean, istd };
    must(nnr_layernorm_fwd_naive_f64(&ln, &shape, x, gamma_e, beta_e, y_ln, &ln_cache),
         "nnr_layernorm_fwd_naive_f64");
    const double d_same = max_abs_diff(y_gn, y_ln, SC_SIZE);
    printf("\n2b. GroupNorm(1) (gamma, beta per channel) vs LayerNorm over (C,H,W) with gamma, beta\n"
           "    constant over H, W (the same per-channel values at every position): max |difference| %.3g\n", d_same);
    check_close(ck, "GroupNorm(1) equals LayerNorm over (C,H,W) when LayerNorm's gamma/beta are constant over positions",
                d_same, 0.0, 1e-13);

    /* Trained LayerNorm weights are per element: let them vary over
     * positions by N(0, 0.1) and GroupNorm(1) has no parameter to follow. */
    for (size_t i = 0; i < SC_C * SC_HW; i++) {
        gamma_e[i] += 0.1 * nnr_rng_normal(SEED_SPECIAL + 3, i);
        beta_e[i] += 0.1 * nnr_rng_normal(SEED_SPECIAL + 4, i);
    }
    must(nnr_layernorm_fwd_naive_f64(&ln, &shape, x, gamma_e, beta_e, y_ln, &ln_cache),
         "nnr_layernorm_fwd_naive_f64");
    const double d_vary = max_abs_diff(y_gn, y_ln, SC_SIZE);
    double sum_sq = 0.0;
    for (size_t i = 0; i < SC_SIZE; i++)
        sum_sq += (y_gn[i] - y_ln[i]) * (y_gn[i] - y_ln[i]);
    printf("    once LayerNorm's gamma, beta vary over positions by N(0, 0.1^2): max |difference| %.3g,\n"
           "    root mean square difference %.3g (the normalized values x_hat are still identical;\n"
           "    GroupNorm has one gamma, beta per channel and cannot represent per-position ones)\n",
           d_vary, sqrt(sum_sq / SC_SIZE));
    check_true(ck, "GroupNorm(1) differs from LayerNorm once gamma/beta vary over positions (max difference > 0.1)",
               d_vary > 0.1);
    free(gamma_e);
    free(beta_e);
    free(x);
}

/* ------------------------------------------------------------------------- */
/* 3. Which cells share one mean and variance (document 003's figure)         */
/* ------------------------------------------------------------------------- */

enum { G_N = 4, G_C = 6, G_HW = 4, G_SIZE = G_N * G_C * G_HW, G_GROUPS = 2, G_LAYERS = 4 };

#define SEED_GROUPS 77u

static const char *const layer_names[G_LAYERS] = { "Batch Norm", "Layer Norm", "Instance Norm", "Group Norm" };

/* Runs layer k (double, naive, gamma 1, beta 0) on an (N, C, H*W) input. */
static void run_layer(int k, const double *x, double *y)
{
    const nnr_shape shape = { 3, { G_N, G_C, G_HW } };
    static const double ones[G_C * G_HW] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    static const double zeros[G_C * G_HW] = { 0 };
    double mean[G_N * G_C], istd[G_N * G_C], var[G_N * G_C];
    switch (k) {
    case 0: {
        nnr_batchnorm_params p = nnr_batchnorm_torch();
        const nnr_batchnorm_cache_f64 cache = { mean, istd, NULL, NULL };
        must(nnr_batchnorm_fwd_train_naive_f64(&p, &shape, x, ones, zeros, y, &cache, NULL), "batchnorm");
        break;
    }
    case 1: {
        nnr_layernorm_params p = nnr_layernorm_torch(2);   /* nn.LayerNorm([C, H*W]) */
        const nnr_layernorm_cache_f64 cache = { mean, istd };
        must(nnr_layernorm_fwd_naive_f64(&p, &shape, x, ones, zeros, y, &cache), "layernorm");
        break;
    }
    case 2: {
        nnr_instancenorm_params p = nnr_instancenorm_torch();
        const nnr_groupnorm_cache_f64 cache = { mean, istd, var };
        must(nnr_instancenorm_fwd_train_naive_f64(&p, &shape, x, NULL, NULL, y, &cache, NULL), "instancenorm");
        break;
    }
    default: {
        nnr_groupnorm_params p = nnr_groupnorm_torch(G_GROUPS);
        const nnr_groupnorm_cache_f64 cache = { mean, istd, NULL };
        must(nnr_groupnorm_fwd_naive_f64(&p, &shape, x, ones, zeros, y, &cache), "groupnorm");
        break;
    }
    }
}

/* Cube drawing, oblique projection: C to the right, H*W downwards, N into
 * the page (each sample shifted by DEPTH_X, DEPTH_Y). Panels side by side. */
#define DEPTH_X 0.55
#define DEPTH_Y 0.45
#define PANEL_STEP 10.0

static void write_quad(FILE *f, double x0, double y0, double ax, double ay, double bx, double by)
{
    fprintf(f, "%.3f %.3f\n%.3f %.3f\n%.3f %.3f\n%.3f %.3f\n%.3f %.3f\n\n", x0, y0, x0 + ax, y0 + ay,
            x0 + ax + bx, y0 + ay + by, x0 + bx, y0 + by, x0, y0);
}

/* The three visible faces of panel k's cube, one quadrilateral per cell,
 * into the shaded or the plain file by whether the cell is in the set. */
static void write_cube(FILE *shaded, FILE *plain, int k, const int *in_set)
{
    const double ox = k * PANEL_STEP;
    /* front face: sample 0, cell (c, s) */
    for (int c = 0; c < G_C; c++)
        for (int s = 0; s < G_HW; s++)
            write_quad(in_set[(0 * G_C + c) * G_HW + s] ? shaded : plain, ox + c, G_HW - s - 1, 1, 0, 0, 1);
    /* top face: position s = 0, cell (n, c) */
    for (int n = 0; n < G_N; n++)
        for (int c = 0; c < G_C; c++)
            write_quad(in_set[(n * G_C + c) * G_HW + 0] ? shaded : plain, ox + c + n * DEPTH_X,
                       G_HW + n * DEPTH_Y, 1, 0, DEPTH_X, DEPTH_Y);
    /* right face: channel C-1, cell (n, s) */
    for (int n = 0; n < G_N; n++)
        for (int s = 0; s < G_HW; s++)
            write_quad(in_set[(n * G_C + G_C - 1) * G_HW + s] ? shaded : plain, ox + G_C + n * DEPTH_X,
                       G_HW - s - 1 + n * DEPTH_Y, DEPTH_X, DEPTH_Y, 0, 1);
}

static void part_groups(checks *ck, const char *datadir)
{
    printf("\n== 3. Which cells share one mean and variance: perturb x[n=0, c=0, h*w=0] of an\n"
           "      (N=%d, C=%d, H*W=%d) input and mark every output that moves (double kernels) ==\n\n",
           G_N, G_C, G_HW);

    double x[G_SIZE], x2[G_SIZE], y[G_SIZE], y2[G_SIZE];
    for (size_t i = 0; i < G_SIZE; i++)
        x[i] = nnr_rng_normal(SEED_GROUPS, i);
    memcpy(x2, x, sizeof x);
    x2[0] += 0.5;   /* cell n = 0, c = 0, s = 0: the front top-left corner of the cube */

    FILE *sets = NULL, *shaded = NULL, *plain = NULL, *labels = NULL;
    if (datadir != NULL) {
        sets = open_data_file(datadir, "groups_sets.dat");
        shaded = open_data_file(datadir, "groups_shaded.dat");
        plain = open_data_file(datadir, "groups_plain.dat");
        labels = open_data_file(datadir, "groups_labels.dat");
        fprintf(sets, "# layer n c s: the outputs that change when x[0,0,0] changes\n");
        fprintf(shaded, "# cube faces of the cells in the set, one quadrilateral per block\n");
        fprintf(plain, "# cube faces of the other cells\n");
        fprintf(labels, "# x y \"text\"\n");
    }
    /* what each set must be, from each layer's definition */
    const char *const want_text[G_LAYERS] = { "channel c = 0 of every sample: N*H*W cells",
                                              "sample n = 0, every channel: C*H*W cells",
                                              "sample 0, channel 0: H*W cells",
                                              "sample 0, channels 0-2 (group 0 of 2): (C/G)*H*W cells" };
    for (int k = 0; k < G_LAYERS; k++) {
        run_layer(k, x, y);
        run_layer(k, x2, y2);
        int in_set[G_SIZE];
        int size = 0, as_defined = 1;
        for (int n = 0; n < G_N; n++)
            for (int c = 0; c < G_C; c++)
                for (int s = 0; s < G_HW; s++) {
                    const int i = (n * G_C + c) * G_HW + s;
                    in_set[i] = y[i] != y2[i];
                    size += in_set[i];
                    const int want = k == 0 ? c == 0 : k == 1 ? n == 0 : k == 2 ? n == 0 && c == 0
                                                                                : n == 0 && c < G_C / G_GROUPS;
                    as_defined &= in_set[i] == want;
                    if (sets != NULL && in_set[i])
                        fprintf(sets, "%d %d %d %d\n", k, n, c, s);
                }
        printf("  %-13s %2d cells move: %s\n", layer_names[k], size, want_text[k]);
        char what[128];
        snprintf(what, sizeof what, "%s: the cells that move are %s", layer_names[k], want_text[k]);
        check_true(ck, what, as_defined);
        if (datadir != NULL) {
            write_cube(shaded, plain, k, in_set);
            fprintf(labels, "%.3f %.3f \"%s\"\n", k * PANEL_STEP + 0.5 * (G_C + G_N * DEPTH_X), -1.2, layer_names[k]);
            /* axis names beside each cube */
            fprintf(labels, "%.3f %.3f \"C\"\n", k * PANEL_STEP + 0.5 * G_C, -0.45);
            fprintf(labels, "%.3f %.3f \"H, W\"\n", k * PANEL_STEP - 0.9, 0.5 * G_HW);
            fprintf(labels, "%.3f %.3f \"N\"\n", k * PANEL_STEP + G_C + G_N * DEPTH_X + 0.35,
                    G_HW + 0.5 * G_N * DEPTH_Y - 0.6);
            fprintf(sets, "\n\n");
        }
    }
    if (datadir != NULL) {
        fclose(sets);
        fclose(shaded);
        fclose(plain);
        fclose(labels);
    }
}

/* ------------------------------------------------------------------------- */
/* 4. Statistics of a real batch: Fashion-MNIST after a random convolution    */
/* ------------------------------------------------------------------------- */

enum { ST_N = 64, ST_C = 8, ST_K = 3, ST_IN = 28, ST_OUT = ST_IN - ST_K + 1, ST_S = ST_OUT * ST_OUT,
       ST_GROUPS = 4 };

#define SEED_CONV 3u

/* The statistics each layer normalizes by, of an (N, C, S) tensor:
 * mode 0 per channel (BN), 1 per sample (LN), 2 per (sample, group) (GN).
 * Biased variance, two passes, double sums. Returns the number of units. */
static size_t unit_stats(int mode, const float *t, double *mean, double *var)
{
    const size_t units = mode == 0 ? ST_C : mode == 1 ? ST_N : (size_t)ST_N * ST_GROUPS;
    const size_t cpg = ST_C / ST_GROUPS;
    for (size_t u = 0; u < units; u++) {
        double pass[2] = { 0.0, 0.0 };
        size_t m = 0;
        for (int twice = 0; twice < 2; twice++) {
            double acc = 0.0;
            m = 0;
            for (size_t n = 0; n < ST_N; n++)
                for (size_t c = 0; c < ST_C; c++) {
                    const int member = mode == 0 ? c == u : mode == 1 ? n == u : n == u / ST_GROUPS && c / cpg == u % ST_GROUPS;
                    if (!member)
                        continue;
                    const float *row = t + (n * ST_C + c) * ST_S;
                    for (size_t s = 0; s < ST_S; s++) {
                        const double d = twice ? row[s] - pass[0] : row[s];
                        acc += twice ? d * d : d;
                    }
                    m += ST_S;
                }
            pass[twice] = acc / (double)m;
        }
        mean[u] = pass[0];
        var[u] = pass[1];
    }
    return units;
}

static void part_statistics(checks *ck, const char *datadir)
{
    char path[4096];
    fashion_mnist_path(path, sizeof path, "t10k-images-idx3-ubyte.gz");
    printf("\n== 4. Statistics of one Fashion-MNIST batch (%d test images) after a random 3x3 convolution to %d channels ==\n\n",
           ST_N, ST_C);
    if (!fashion_mnist_found(ck, "t10k-images-idx3-ubyte.gz", "Fashion-MNIST statistics after BatchNorm, LayerNorm, GroupNorm"))
        return;
    nnr_idx images;
    must(nnr_idx_read(path, &images), path);
    if (images.ndim != 3 || images.dims[0] < ST_N || images.dims[1] != ST_IN || images.dims[2] != ST_IN) {
        fprintf(stderr, "tutorial_normalization: %s is not N x 28 x 28 images\n", path);
        exit(EXIT_FAILURE);
    }
    printf("  %s: %zu x %zu x %zu bytes, the first %d images, scaled to [0, 1]\n", path, images.dims[0],
           images.dims[1], images.dims[2], ST_N);

    /* A direct "valid" convolution, 1 -> C channels, no bias; weights
     * N(0, 2/9) (He initialization for a 3x3 kernel on one channel). */
    double w[ST_C][ST_K][ST_K];
    for (size_t c = 0; c < ST_C; c++)
        for (size_t i = 0; i < ST_K; i++)
            for (size_t j = 0; j < ST_K; j++)
                w[c][i][j] = sqrt(2.0 / 9.0) * nnr_rng_normal(SEED_CONV, (c * ST_K + i) * ST_K + j);
    const size_t size = (size_t)ST_N * ST_C * ST_S;
    float *conv = must_alloc(size * sizeof *conv);
    for (size_t n = 0; n < ST_N; n++)
        for (size_t c = 0; c < ST_C; c++)
            for (size_t oy = 0; oy < ST_OUT; oy++)
                for (size_t ox = 0; ox < ST_OUT; ox++) {
                    double acc = 0.0;
                    for (size_t i = 0; i < ST_K; i++)
                        for (size_t j = 0; j < ST_K; j++)
                            acc += w[c][i][j] * images.data[(n * ST_IN + oy + i) * ST_IN + ox + j] / 255.0;
                    conv[((n * ST_C + c) * ST_OUT + oy) * ST_OUT + ox] = (float)acc;
                }
    nnr_idx_free(&images);
    printf("  convolution output: (N=%d, C=%d, H=%d, W=%d), GroupNorm with G=%d groups of %d channels\n\n", ST_N, ST_C,
           ST_OUT, ST_OUT, ST_GROUPS, ST_C / ST_GROUPS);

    const nnr_shape shape = { 4, { ST_N, ST_C, ST_OUT, ST_OUT } };
    float *y = must_alloc(size * sizeof *y);
    float *ones = must_alloc((size_t)ST_C * ST_S * sizeof *ones);
    float *zeros = must_alloc((size_t)ST_C * ST_S * sizeof *zeros);
    for (size_t i = 0; i < (size_t)ST_C * ST_S; i++) {
        ones[i] = 1.0f;
        zeros[i] = 0.0f;
    }
    float cmean[ST_N * ST_GROUPS], cistd[ST_N * ST_GROUPS];
    static const char *const names[3] = { "BatchNorm, per channel", "LayerNorm, per sample",
                                          "GroupNorm, per (sample, group)" };
    static const char *const files[3] = { "stats_bn.dat", "stats_ln.dat", "stats_gn.dat" };
    for (int mode = 0; mode < 3; mode++) {
        double epsilon;
        if (mode == 0) {
            nnr_batchnorm_params p = nnr_batchnorm_torch();
            epsilon = p.epsilon;
            const nnr_batchnorm_cache cache = { cmean, cistd, NULL, NULL };
            must(nnr_batchnorm_fwd_train_naive(&p, &shape, conv, ones, zeros, y, &cache, NULL),
                 "nnr_batchnorm_fwd_train_naive");
        } else if (mode == 1) {
            nnr_layernorm_params p = nnr_layernorm_torch(3);
            epsilon = p.epsilon;
            const nnr_layernorm_cache cache = { cmean, cistd };
            must(nnr_layernorm_fwd_naive(&p, &shape, conv, ones, zeros, y, &cache), "nnr_layernorm_fwd_naive");
        } else {
            nnr_groupnorm_params p = nnr_groupnorm_torch(ST_GROUPS);
            epsilon = p.epsilon;
            const nnr_groupnorm_cache cache = { cmean, cistd, NULL };
            must(nnr_groupnorm_fwd_naive(&p, &shape, conv, ones, zeros, y, &cache), "nnr_groupnorm_fwd_naive");
        }
        double mb[ST_N * ST_GROUPS], vb[ST_N * ST_GROUPS], ma[ST_N * ST_GROUPS], va[ST_N * ST_GROUPS];
        const size_t units = unit_stats(mode, conv, mb, vb);
        unit_stats(mode, y, ma, va);
        double lo_m = INFINITY, hi_m = -INFINITY, lo_v = INFINITY, hi_v = -INFINITY;
        double worst_mean = 0.0, worst_var = 0.0;
        FILE *f = datadir != NULL ? open_data_file(datadir, files[mode]) : NULL;
        if (f != NULL)
            fprintf(f, "# unit mean_before var_before mean_after var_after (%s)\n", names[mode]);
        for (size_t u = 0; u < units; u++) {
            lo_m = fmin(lo_m, mb[u]);
            hi_m = fmax(hi_m, mb[u]);
            lo_v = fmin(lo_v, vb[u]);
            hi_v = fmax(hi_v, vb[u]);
            worst_mean = fmax(worst_mean, fabs(ma[u]));
            /* normalized values have variance var/(var+eps), not exactly 1 */
            worst_var = fmax(worst_var, fabs(va[u] - vb[u] / (vb[u] + epsilon)));
            if (f != NULL)
                fprintf(f, "%zu %.9g %.9g %.9g %.9g\n", u, mb[u], vb[u], ma[u], va[u]);
        }
        if (f != NULL)
            fclose(f);
        printf("  %-31s %3zu units: before mean %+.4f .. %+.4f, variance %.4f .. %.4f\n", names[mode], units, lo_m,
               hi_m, lo_v, hi_v);
        printf("  %-31s            after  max |mean| %.2e, max |variance - var/(var+eps)| %.2e\n", "", worst_mean,
               worst_var);
        char what[128];
        /* float outputs: each mean is of >= 1352 values rounded to float
         * (relative 6e-8 each), summed in double */
        snprintf(what, sizeof what, "Fashion-MNIST %s: means after normalization are 0", names[mode]);
        check_close(ck, what, worst_mean, 0.0, 1e-6);
        snprintf(what, sizeof what, "Fashion-MNIST %s: variances after normalization are var/(var+eps)", names[mode]);
        check_close(ck, what, worst_var, 0.0, 1e-6);
    }
    free(conv);
    free(y);
    free(ones);
    free(zeros);
}

/* ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    checks ck;
    const char *datadir;
    tutorial_parse_args(argc, argv, &ck, &datadir);

    printf("nnref %s tutorial 02: LayerNorm, InstanceNorm and GroupNorm beside BatchNorm (naive kernels)\n",
           nnr_version());

    part_document_000(&ck);
    part_rmsnorm_doc000(&ck);
    part_special_cases(&ck);
    part_groups(&ck, datadir);
    part_statistics(&ck, datadir);

    return tutorial_finish(&ck);
}
