/*
 * nnref tutorial 04: convolution and dropout.
 *
 * Read it top to bottom, or step through it in gdb (see README.md beside it):
 *
 *   part_convolution()    document 002's 4x4 image and 2x2 filter at stride 1:
 *                         the 3x3 result, each cell derived by hand, through
 *                         Keras' and PyTorch's weight layouts and through the
 *                         naive and the dispatching kernel (and what is wrong
 *                         with the document's code: `img_mx` is never defined);
 *   part_document_002()   document 002's dropout example at rate 0.5: the mask,
 *                         the training output with inverted scaling (Keras,
 *                         PyTorch) and with classic scaling (the document's
 *                         "scale down at test time"), the test-time outputs,
 *                         and why the document's recipe only works at 0.5;
 *   part_rate_1()         rate 1 and inf/NaN: Keras' exact zeros against
 *                         PyTorch's x*0;
 *   part_expectation()    the expected activation is preserved: the mean of
 *                         many training outputs against the inference output,
 *                         with both scalings (figure dropout-expectation.png).
 *
 * Usage:
 *   tutorial_conv_dropout                  print the transcript
 *   tutorial_conv_dropout --datadir DIR    also write the figure's data files into DIR
 *   tutorial_conv_dropout --check          also assert every worked number, as TAP
 *
 * Only the public API (nnref.h) is used. The convolution is run through the
 * naive kernel and the dispatching one, which agree bit for bit here (every
 * output is one rounded sum, see part_convolution). The dropout kernels are
 * called through their dispatching names; the naive and AVX2 kernels draw the same
 * masks (Philox, a counter-based generator: element i's decision depends on
 * the seed and i alone) and compute the same products, so the transcript is
 * the same for both, bit for bit.
 */
#define TUTORIAL_NAME "tutorial_conv_dropout"
#include "../common/tutorial_util.h"

/* ------------------------------------------------------------------------- */
/* Convolution. Document 002's 4x4 image and 2x2 filter at stride 1          */
/* ------------------------------------------------------------------------- */

#define IMG 4                    /* the image is IMG x IMG */
#define FLT 2                    /* the filter is FLT x FLT */
#define OUT (IMG - FLT + 1)      /* valid padding, stride 1: 4 - 2 + 1 = 3 */

/* The document's img_input, row by row. */
static const float doc002_image[IMG * IMG] = {
    260.745f, 261.332f, 112.27f,  262.351f,
    260.302f, 208.802f, 139.05f,  230.709f,
    261.775f, 93.73f,   166.118f, 122.847f,
    259.56f,  232.038f, 262.351f, 228.937f,
};

/* The document's filter [[1, 0], [0, 1]], as filter[j_h][j_w]. */
static const float doc002_filter[FLT][FLT] = {{1, 0}, {0, 1}};

/* The 3x3 result derived by hand (tests/test_conv.c's reference test has the
 * same numbers): the filter keeps the top-left and bottom-right cell of each
 * 2x2 window, so y[i][j] = img[i][j] + img[i+1][j+1]. */
static const double doc002_want[OUT * OUT] = {
    469.547, 400.382, 342.979,   /* 260.745+208.802  261.332+139.05   112.27+230.709  */
    354.032, 374.920, 261.897,   /* 260.302+93.73    208.802+166.118  139.05+122.847  */
    493.813, 356.081, 395.055,   /* 261.775+232.038  93.73+262.351    166.118+228.937 */
};

static void part_convolution(checks *ck)
{
    printf("\n== Convolution, document 002: a 4x4 image and a 2x2 filter at stride 1 ==\n");
    printf("image (the document's img_input) =\n");
    for (int r = 0; r < IMG; r++) {
        printf("   ");
        for (int c = 0; c < IMG; c++)
            printf(" %8.3f", doc002_image[r * IMG + c]);
        printf("\n");
    }
    printf("filter =\n");
    for (int r = 0; r < FLT; r++)
        printf("    %g %g\n", doc002_filter[r][0], doc002_filter[r][1]);
    printf("The document's loop reads `img_mx`, a name it never defines (the image is\n"
           "`img_input`), and slices it as img_mx[i:i+2, j:j+2], which a Python list\n"
           "rejects: it needs img_mx = numpy.array(img_input). The page prints no result.\n");

    /* Keras: Conv2D(filters=1, kernel_size=2, use_bias=False) on an input
     * (N, H, W, C_in) = (1, 4, 4, 1); its kernel is (k_h, k_w, C_in, C_out). */
    nnr_conv_params keras = nnr_conv_keras(2, 1, 1, FLT);
    keras.use_bias = 0;
    const nnr_shape keras_in = {4, {1, IMG, IMG, 1}};
    nnr_shape keras_out;
    must(nnr_conv_output_shape(&keras, &keras_in, &keras_out), "nnr_conv_output_shape");
    float w_keras[FLT * FLT * 1 * 1];
    for (int jh = 0; jh < FLT; jh++)
        for (int jw = 0; jw < FLT; jw++)
            w_keras[((jh * FLT + jw) * 1 + 0) * 1 + 0] = doc002_filter[jh][jw];   /* [j_h][j_w][c=0][o=0] */

    /* PyTorch: Conv2d(1, 1, 2, bias=False) on an input (N, C_in, H, W) =
     * (1, 1, 4, 4); its weight is (C_out, C_in, k_h, k_w). */
    nnr_conv_params torch = nnr_conv_torch(2, 1, 1, FLT);
    torch.use_bias = 0;
    const nnr_shape torch_in = {4, {1, 1, IMG, IMG}};
    nnr_shape torch_out;
    must(nnr_conv_output_shape(&torch, &torch_in, &torch_out), "nnr_conv_output_shape");
    float w_torch[1 * 1 * FLT * FLT];
    for (int jh = 0; jh < FLT; jh++)
        for (int jw = 0; jw < FLT; jw++)
            w_torch[((0 * 1 + 0) * FLT + jh) * FLT + jw] = doc002_filter[jh][jw];   /* [o=0][c=0][j_h][j_w] */

    printf("Keras   input (1, 4, 4, 1), kernel (2, 2, 1, 1) -> output (%zu, %zu, %zu, %zu)\n",
           keras_out.dims[0], keras_out.dims[1], keras_out.dims[2], keras_out.dims[3]);
    printf("PyTorch input (1, 1, 4, 4), weight (1, 1, 2, 2) -> output (%zu, %zu, %zu, %zu)\n",
           torch_out.dims[0], torch_out.dims[1], torch_out.dims[2], torch_out.dims[3]);
    printf("(one channel in and out: both layouts hold the same 16 image and 4 filter\n"
           "numbers in the same order, and so do the two outputs)\n");

    /* y[i][j] = sum over j_h, j_w of w[j_h][j_w] * img[i + j_h][j + j_w]
     * (valid, stride 1: output cell (i, j) reads the window at row i, column j). */
    float y_naive[OUT * OUT], y_dispatch[OUT * OUT], y_torch[OUT * OUT];
    must(nnr_conv_fwd_naive(&keras, &keras_in, doc002_image, w_keras, NULL, y_naive, NULL, 0),
         "nnr_conv_fwd_naive");
    /* The dispatching kernel (AVX2 where the CPU has it) asks for a workspace. */
    size_t ws_floats = 0;
    must(nnr_conv_workspace_size(&keras, &keras_in, &ws_floats), "nnr_conv_workspace_size");
    float *ws = ws_floats ? must_alloc(ws_floats * sizeof(float)) : NULL;
    must(nnr_conv_fwd(&keras, &keras_in, doc002_image, w_keras, NULL, y_dispatch, ws, ws_floats), "nnr_conv_fwd");
    size_t ws_torch = 0;
    must(nnr_conv_workspace_size(&torch, &torch_in, &ws_torch), "nnr_conv_workspace_size");
    float *ws2 = ws_torch ? must_alloc(ws_torch * sizeof(float)) : NULL;
    must(nnr_conv_fwd(&torch, &torch_in, doc002_image, w_torch, NULL, y_torch, ws2, ws_torch), "nnr_conv_fwd");
    free(ws);
    free(ws2);

    printf("result, 3x3 (Keras layout, naive kernel) =\n");
    for (int i = 0; i < OUT; i++) {
        printf("   ");
        for (int j = 0; j < OUT; j++)
            printf(" %8.3f", y_naive[i * OUT + j]);
        printf("\n");
    }
    printf("each cell is img[i][j] + img[i+1][j+1] (the filter's two ones):\n");
    for (int i = 0; i < OUT; i++)
        for (int j = 0; j < OUT; j++)
            printf("  y[%d][%d] = %7.3f + %7.3f = %7.3f\n", i, j, doc002_image[i * IMG + j],
                   doc002_image[(i + 1) * IMG + j + 1], y_naive[i * OUT + j]);

    int same_dispatch = 1, same_torch = 1;
    for (int k = 0; k < OUT * OUT; k++) {
        same_dispatch &= y_naive[k] == y_dispatch[k];
        same_torch &= y_naive[k] == y_torch[k];
    }
    printf("naive and dispatching kernel: %s; Keras and PyTorch layouts: %s\n",
           same_dispatch ? "the same bits" : "DIFFERENT", same_torch ? "the same bits" : "DIFFERENT");

    check_true(ck, "convolution, document 002: Keras output shape (1, 3, 3, 1)",
               keras_out.rank == 4 && keras_out.dims[0] == 1 && keras_out.dims[1] == OUT &&
                   keras_out.dims[2] == OUT && keras_out.dims[3] == 1);
    check_true(ck, "convolution, document 002: PyTorch output shape (1, 1, 3, 3)",
               torch_out.rank == 4 && torch_out.dims[0] == 1 && torch_out.dims[1] == 1 &&
                   torch_out.dims[2] == OUT && torch_out.dims[3] == OUT);
    /* Tolerance: each float input is within 2^-24 * 263 of its decimal value
     * and the one rounded sum adds at most 2^-24 * 494 more, so every output
     * is within 6e-5 of the decimal sum; 1e-4 bounds that. */
    for (int i = 0; i < OUT; i++)
        for (int j = 0; j < OUT; j++) {
            char what[96];
            snprintf(what, sizeof what, "convolution, document 002: y[%d][%d] = img[%d][%d] + img[%d][%d]", i, j, i,
                     j, i + 1, j + 1);
            check_close(ck, what, y_naive[i * OUT + j], doc002_want[i * OUT + j], 1e-4);
        }
    /* Bit for bit, not within a tolerance: each output is the one rounded sum
     * img[i][j] + img[i+1][j+1] plus products by 0 that are exactly 0, so any
     * summation order (the naive loop nest, the AVX2 GEMM's FMAs) gives the
     * same float. */
    check_true(ck, "convolution, document 002: naive and dispatching kernels give the same bits", same_dispatch);
    check_true(ck, "convolution, document 002: Keras and PyTorch weight layouts give the same bits", same_torch);
}

/* ------------------------------------------------------------------------- */
/* Dropout 1. Document 002's example at rate 0.5                              */
/* ------------------------------------------------------------------------- */

#define A_ROWS 4   /* batch_size */
#define A_COLS 6   /* num_features */

static void print_matrix(const char *name, const float *m)
{
    printf("%s =\n", name);
    for (int r = 0; r < A_ROWS; r++) {
        printf("   ");
        for (int c = 0; c < A_COLS; c++)
            printf(" %6.3f", m[r * A_COLS + c]);
        printf("\n");
    }
}

static void part_document_002(checks *ck)
{
    printf("\n== Dropout, document 002: a layer's output A of shape (batch_size, num_features) = (4, 6), rate 0.5 ==\n");
    const size_t n = A_ROWS * A_COLS;
    const nnr_shape shape = {2, {A_ROWS, A_COLS}};
    float a[A_ROWS * A_COLS], y_inv[A_ROWS * A_COLS], y_cls[A_ROWS * A_COLS];
    float test_inv[A_ROWS * A_COLS], test_cls[A_ROWS * A_COLS];
    uint8_t mask[A_ROWS * A_COLS], mask_cls[A_ROWS * A_COLS];
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(i + 1) / 4.0f;   /* 0.25, 0.5, ..., 6: every product below is exact */
    print_matrix("A", a);

    /* Inverted dropout (Keras' Dropout(0.5), PyTorch's nn.Dropout(0.5)):
     * training y = m * A / (1 - rate); test y = A. */
    nnr_dropout_params inverted = nnr_dropout_keras(0.5);
    inverted.seed = 2026;
    must(nnr_dropout_fwd_train(&inverted, &shape, a, y_inv, mask), "nnr_dropout_fwd_train");
    must(nnr_dropout_fwd_infer(&inverted, &shape, a, test_inv), "nnr_dropout_fwd_infer");
    /* Classic dropout (Srivastava et al. 2014; the document's "OR" branch):
     * training y = m * A; test y = (1 - rate) * A. Same seed, same mask. */
    nnr_dropout_params classic = inverted;
    classic.inverted = 0;
    must(nnr_dropout_fwd_train(&classic, &shape, a, y_cls, mask_cls), "nnr_dropout_fwd_train");
    must(nnr_dropout_fwd_infer(&classic, &shape, a, test_cls), "nnr_dropout_fwd_infer");

    size_t kept = 0;
    printf("mask (1 = kept; Philox seed 2026, counters 0..23) =\n");
    for (int r = 0; r < A_ROWS; r++) {
        printf("   ");
        for (int c = 0; c < A_COLS; c++) {
            printf(" %6d", mask[r * A_COLS + c]);
            kept += mask[r * A_COLS + c];
        }
        printf("\n");
    }
    printf("kept %zu of %zu (each kept with probability 1/2 independently, so not exactly half)\n", kept, n);
    print_matrix("training, inverted: m * A / 0.5  (the document's `layer_output /= 0.5`)", y_inv);
    print_matrix("training, classic:  m * A", y_cls);
    print_matrix("test, inverted: A (nothing to do)", test_inv);
    print_matrix("test, classic: 0.5 * A  (the document's `layer_output *= 0.5`)", test_cls);

    int inv_ok = 1, cls_ok = 1, test_ok = 1, same_mask = 1;
    for (size_t i = 0; i < n; i++) {
        inv_ok &= y_inv[i] == (mask[i] ? 2.0f * a[i] : 0.0f);
        cls_ok &= y_cls[i] == (mask[i] ? a[i] : 0.0f);
        test_ok &= test_inv[i] == a[i] && test_cls[i] == 0.5f * a[i];
        same_mask &= mask[i] == mask_cls[i];
    }
    check_true(ck, "document 002: inverted training output is 2A where kept, 0 where dropped", inv_ok);
    check_true(ck, "document 002: classic training output is A where kept, 0 where dropped", cls_ok);
    check_true(ck, "document 002: test outputs are A (inverted) and 0.5 A (classic)", test_ok);
    check_true(ck, "document 002: classic and inverted draw the same mask from the same seed", same_mask);
    check_close(ck, "document 002: kept cells of the 24 (seed 2026)", (double)kept, 14, 0);

    printf("\nThe document's recipe is right at rate 0.5 only. It keeps a cell with\n"
           "np.random.randint(0, high=2), probability 1/2 whatever the rate; it divides by\n"
           "0.5 at training, which is 1/(1 - rate) only at 0.5; and it says test outputs are\n"
           "\"scaled down by a factor of dropout rate\", while the factor is the keep\n"
           "probability 1 - rate. At rate 0.2 (document 003's Dropout(0.2)):\n");
    const double rate = 0.2;
    nnr_dropout_params p02 = nnr_dropout_keras(rate);
    printf("  keep probability 1 - rate = %.1f; inverted training scale 1/(1 - rate) = %.2f,\n"
           "  classic test scale 1 - rate = %.1f; the document's words would give %.1f and %.1f.\n",
           1 - rate, 1 / (1 - rate), 1 - rate, 1 / rate, rate);
    /* the library's scale for x = 1 at rate 0.2: a kept cell is 1.25 */
    float one[8] = {1, 1, 1, 1, 1, 1, 1, 1}, y1[8];
    uint8_t m1[8];
    const nnr_shape s8 = {1, {8}};
    must(nnr_dropout_fwd_train(&p02, &s8, one, y1, m1), "nnr_dropout_fwd_train");
    float kept_value = 0;
    for (int i = 0; i < 8; i++)
        if (m1[i])
            kept_value = y1[i];
    printf("  nnref, Dropout(0.2) in training: a kept 1 becomes %.2f\n", kept_value);
    check_close(ck, "rate 0.2: a kept 1 becomes 1/(1 - 0.2) = 1.25", kept_value, 1.25, 0);
}

/* ------------------------------------------------------------------------- */
/* Dropout 2. Rate 1, infinities and NaN: Keras against PyTorch               */
/* ------------------------------------------------------------------------- */

/* Four values, NaN printed as "NaN" whatever its sign bit (x86 gives -nan
 * for inf * 0, other CPUs +nan), -0 as "-0". */
static void print_row(const char *name, const float *v)
{
    printf("%-26s", name);
    for (int i = 0; i < 4; i++) {
        if (isnan(v[i]))
            printf(" %6s", "NaN");
        else
            printf(" %6g", v[i]);
    }
    printf("\n");
}

static void part_rate_1(checks *ck)
{
    printf("\n== Dropout at rate 1 (everything dropped): Keras returns zeros, PyTorch multiplies by 0 ==\n");
    const float x[4] = {1.5f, -2.0f, INFINITY, NAN};
    float yk[4], yt[4];
    uint8_t m[4];
    const nnr_shape s = {1, {4}};
    nnr_dropout_params keras = nnr_dropout_keras(1.0), torch = nnr_dropout_torch(1.0);
    must(nnr_dropout_fwd_train(&keras, &s, x, yk, m), "nnr_dropout_fwd_train");
    must(nnr_dropout_fwd_train(&torch, &s, x, yt, m), "nnr_dropout_fwd_train");
    print_row("x", x);
    print_row("Keras (rate1 ZERO)", yk);
    print_row("PyTorch (rate1 MULTIPLY)", yt);
    printf("(PyTorch: x * 0 is -0 for a negative, NaN for inf and NaN)\n");
    check_true(ck, "rate 1, Keras: exact +0 everywhere, inf and NaN included",
               yk[0] == 0 && yk[2] == 0 && yk[3] == 0 && !signbit(yk[1]) && yk[1] == 0);
    check_true(ck, "rate 1, PyTorch: 0, -0, NaN, NaN", yt[0] == 0 && yt[1] == 0 && signbit(yt[1]) && isnan(yt[2]) &&
                                                              isnan(yt[3]));
}

/* ------------------------------------------------------------------------- */
/* Dropout 3. The expected activation is preserved (figure)                   */
/* ------------------------------------------------------------------------- */

#define FEATURES 24
#define DRAWS 10000

/*
 * The same input row x (24 features) goes through dropout at rate 0.5 in
 * DRAWS training steps, each with a new mask (the counter offset advanced by
 * the mask size, as a training loop does per batch). Given x, a training
 * output is x*m*s with m ~ Bernoulli(1/2): its expectation is x*s/2, that is x
 * with inverted scaling (s = 2) and x/2 with classic scaling (s = 1): in both
 * cases the inference output. The running mean after t draws has standard
 * deviation |x| s/2 / sqrt(t) (the standard deviation of m*s is s/2).
 */
static void part_expectation(checks *ck, const char *datadir)
{
    printf("\n== The expected activation is preserved: the mean of %d training outputs against inference ==\n",
           DRAWS);
    const nnr_shape s = {1, {FEATURES}};
    float x[FEATURES], y[FEATURES], infer_inv[FEATURES], infer_cls[FEATURES];
    double sum_inv[FEATURES] = {0}, sum_cls[FEATURES] = {0};
    uint8_t m[FEATURES];
    for (int i = 0; i < FEATURES; i++)
        x[i] = (float)(0.25 * (i + 1));   /* 0.25 .. 6 */
    nnr_dropout_params inv = nnr_dropout_keras(0.5), cls = inv;
    inv.seed = cls.seed = 7;
    cls.inverted = 0;
    must(nnr_dropout_fwd_infer(&inv, &s, x, infer_inv), "nnr_dropout_fwd_infer");
    must(nnr_dropout_fwd_infer(&cls, &s, x, infer_cls), "nnr_dropout_fwd_infer");

    FILE *running = datadir ? open_data_file(datadir, "dropout_running.dat") : NULL;
    if (running)
        fprintf(running, "# draw  running mean of y[%d]: inverted classic   (x = %g; inference %g and %g)\n",
                FEATURES - 1, x[FEATURES - 1], infer_inv[FEATURES - 1], infer_cls[FEATURES - 1]);
    for (int t = 1; t <= DRAWS; t++) {
        inv.offset = cls.offset = (uint64_t)(t - 1) * FEATURES;   /* a new mask per step, the same for both */
        must(nnr_dropout_fwd_train(&inv, &s, x, y, m), "nnr_dropout_fwd_train");
        for (int i = 0; i < FEATURES; i++)
            sum_inv[i] += y[i];
        must(nnr_dropout_fwd_train(&cls, &s, x, y, m), "nnr_dropout_fwd_train");
        for (int i = 0; i < FEATURES; i++)
            sum_cls[i] += y[i];
        if (running && (t <= 100 || t % 10 == 0))
            fprintf(running, "%d %.6f %.6f\n", t, sum_inv[FEATURES - 1] / t, sum_cls[FEATURES - 1] / t);
    }
    if (running)
        fclose(running);

    FILE *features = datadir ? open_data_file(datadir, "dropout_features.dat") : NULL;
    if (features)
        fprintf(features, "# x  mean training output over %d draws: inverted classic   inference: inverted classic\n",
                DRAWS);
    printf("feature      x   mean train (inverted)  inference   mean train (classic)  inference\n");
    double worst_inv = 0, worst_cls = 0;
    for (int i = 0; i < FEATURES; i++) {
        const double mi = sum_inv[i] / DRAWS, mc = sum_cls[i] / DRAWS;
        /* in standard deviations of the mean: |x| s/2 / sqrt(DRAWS) */
        worst_inv = fmax(worst_inv, fabs(mi - infer_inv[i]) / (x[i] * 2 / 2 / sqrt(DRAWS)));
        worst_cls = fmax(worst_cls, fabs(mc - infer_cls[i]) / (x[i] * 1 / 2 / sqrt(DRAWS)));
        if (features)
            fprintf(features, "%g %.6f %.6f %g %g\n", x[i], mi, mc, infer_inv[i], infer_cls[i]);
        if (i % 4 == 3)
            printf("%7d %6.2f   %20.4f %10.2f   %20.4f %10.3f\n", i, x[i], mi, infer_inv[i], mc, infer_cls[i]);
    }
    if (features)
        fclose(features);
    printf("largest distance from the inference output, in standard deviations of the mean:\n"
           "inverted %.2f, classic %.2f (a mean of %d draws; 5 would be very unusual)\n",
           worst_inv, worst_cls, DRAWS);
    check_true(ck, "expectation: inverted training means within 5 standard deviations of x (inference)",
               worst_inv <= 5);
    check_true(ck, "expectation: classic training means within 5 standard deviations of x/2 (inference)",
               worst_cls <= 5);
}

int main(int argc, char **argv)
{
    checks ck;
    const char *datadir;
    tutorial_parse_args(argc, argv, &ck, &datadir);

    printf("nnref %s tutorial 04: convolution and dropout\n", nnr_version());

    part_convolution(&ck);
    part_document_002(&ck);
    part_rate_1(&ck);
    part_expectation(&ck, datadir);

    return tutorial_finish(&ck);
}
