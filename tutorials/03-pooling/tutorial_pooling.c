/*
 * nnref tutorial 03: max, average and global pooling, Keras' and PyTorch's way.
 *
 * Read it top to bottom, or step through it in gdb (see README.md beside it):
 *
 *   part_document_000()   the Keras shape examples of document 000 on a
 *                         (4,28,28,3) input (MaxPooling2D default, strides 1,
 *                         padding same, GlobalMaxPooling2D) and their 1D and 3D
 *                         analogues, from nnr_pool_output_shape() and from
 *                         running the kernels, every output checked against
 *                         its window;
 *   part_document_002()   document 002's NumPy max_pooling, whose loop swaps rows
 *                         and columns: what it returns, why, and the right answer;
 *   part_same_vs_torch()  Keras padding="same" against PyTorch's explicit padding,
 *                         count_include_pad and ceil_mode on small inputs;
 *   part_ties()           where the gradient of a tied maximum goes: the windowed
 *                         rule (first maximum) and reduce-max's (split);
 *   part_windows()        which input cells each output reads with "valid" and
 *                         "same" on a 5x5 grid, found by running the average
 *                         pooling backward on one output at a time (figure
 *                         pooling-windows.png);
 *   part_fashion_mnist()  one Fashion-MNIST image with its 2x2 max- and
 *                         average-pooled maps and its global max and average
 *                         (figure pooling-maps.png; needs the Debian package
 *                         dataset-fashion-mnist, see below).
 *
 * Usage:
 *   tutorial_pooling                    print the transcript
 *   tutorial_pooling --datadir DIR      also write the figures' data files into DIR
 *   tutorial_pooling --check            also assert every worked number, as TAP
 *                                       ("ok N - ..."), exit status 1 on a mismatch
 *
 * Without Fashion-MNIST (NNREF_FASHION_MNIST_DIR names another directory than
 * the package's) the part that needs it is skipped with the install command
 * on stderr, and the exit status is 77, so that `make tutorials` keeps the
 * committed transcript and figures; with --check it is a TAP skip.
 *
 * Only the public API (nnref.h) is used. The kernels are called through their
 * dispatching names (nnr_maxpool_fwd, ...), so the AVX2 kernels run where the
 * CPU has AVX2 and NNREF_IMPL=naive selects the naive ones: every number
 * printed here is one both give identically (maxima are input values; averages
 * are printed with fewer digits than float rounding can change, see each part).
 */
#define TUTORIAL_NAME "tutorial_pooling"
#include "../common/tutorial_util.h"

#include <float.h>

/* Prints a shape the way Python prints a tuple: (4, 14, 14, 3). */
static void print_shape(const nnr_shape *s)
{
    printf("(");
    for (size_t i = 0; i < s->rank; i++)
        printf("%s%zu", i ? ", " : "", s->dims[i]);
    printf(")");
}

static int shape_equals(const nnr_shape *s, size_t rank, const size_t *dims)
{
    if (s->rank != rank)
        return 0;
    for (size_t i = 0; i < rank; i++)
        if (s->dims[i] != dims[i])
            return 0;
    return 1;
}

static size_t shape_count(const nnr_shape *s)
{
    size_t n = 1;
    for (size_t i = 0; i < s->rank; i++)
        n *= s->dims[i];
    return n;
}

/* ------------------------------------------------------------------------- */
/* 1. Document 000: the Keras shape examples, and 1D/3D analogues             */
/* ------------------------------------------------------------------------- */

/* One Keras layer applied to a channels_last input of N = 4, C = 3 and
 * `dims` spatial axes of 28. */
typedef struct keras_example {
    int dims;
    const char *layer;              /* the Keras call, as the document writes it */
    int global;                     /* GlobalMaxPooling */
    int strides;                    /* 0: strides=None (= pool_size) */
    nnr_pool_padding padding;       /* VALID or SAME */
    size_t want_spatial;            /* the document's output extent on every spatial axis */
} keras_example;

enum { DOC_N = 4, DOC_C = 3, DOC_SIZE = 28, DOC_POOL = 2 };

#define SEED_DOC000 4u

/*
 * The window of output o along one axis of extent n, written from Keras'
 * rule (SEMANTICS.md section 1), independently of the library: valid windows
 * start at o*s; same pads max((out-1)*s + k - n, 0) cells, the odd one at
 * the end. Gives the in-bounds input range [*lo, *hi).
 */
static void keras_window(size_t n, size_t k, size_t s, nnr_pool_padding padding, size_t out, size_t o,
                         size_t *lo, size_t *hi)
{
    long before = 0;
    if (padding == NNR_POOL_SAME) {
        const long total = (long)((out - 1) * s + k) - (long)n;
        before = total > 0 ? total / 2 : 0;
    }
    long a = (long)(o * s) - before, b = a + (long)k;
    if (a < 0)
        a = 0;
    if (b > (long)n)
        b = (long)n;
    *lo = (size_t)a;
    *hi = (size_t)b;
}

/*
 * Runs the max and the average kernel on x (channels_last, 1..3 spatial axes
 * of DOC_SIZE) and compares every output with the max and mean of its window
 * computed here. Returns the worst |difference| of the max (which must be 0:
 * a max is one of its inputs, no arithmetic) and of the average.
 */
static void check_windows(const keras_example *ex, const nnr_pool_params *p, const nnr_shape *in_shape,
                          const nnr_shape *out_shape, const float *x, double *worst_max, double *worst_avg)
{
    const size_t out_count = shape_count(out_shape);
    float *ymax = must_alloc(out_count * sizeof *ymax);
    float *yavg = must_alloc(out_count * sizeof *yavg);
    int32_t *argmax = must_alloc(out_count * sizeof *argmax);
    must(nnr_maxpool_fwd(p, in_shape, x, ymax, argmax), "nnr_maxpool_fwd");
    must(nnr_avgpool_fwd(p, in_shape, x, yavg), "nnr_avgpool_fwd");

    /* spatial extents seen as 3D with unit axes in front */
    size_t in3[3] = { 1, 1, 1 }, out3[3] = { 1, 1, 1 }, k3[3] = { 1, 1, 1 }, s3[3] = { 1, 1, 1 };
    for (int a = 0; a < ex->dims; a++) {
        in3[3 - ex->dims + a] = in_shape->dims[1 + a];
        out3[3 - ex->dims + a] = out_shape->dims[1 + a];
        k3[3 - ex->dims + a] = DOC_POOL;
        s3[3 - ex->dims + a] = ex->strides ? (size_t)ex->strides : DOC_POOL;
    }
    *worst_max = 0.0;
    *worst_avg = 0.0;
    size_t o = 0;
    for (size_t n = 0; n < DOC_N; n++)
        for (size_t od = 0; od < out3[0]; od++)
            for (size_t oh = 0; oh < out3[1]; oh++)
                for (size_t ow = 0; ow < out3[2]; ow++)
                    for (size_t c = 0; c < DOC_C; c++, o++) {
                        size_t lo[3], hi[3];
                        const size_t oi[3] = { od, oh, ow };
                        for (int a = 0; a < 3; a++)
                            keras_window(in3[a], k3[a], s3[a], ex->padding, out3[a], oi[a], &lo[a], &hi[a]);
                        double m = -INFINITY, sum = 0.0;
                        size_t cells = 0;
                        for (size_t d = lo[0]; d < hi[0]; d++)
                            for (size_t h = lo[1]; h < hi[1]; h++)
                                for (size_t w = lo[2]; w < hi[2]; w++) {
                                    const float v = x[(((n * in3[0] + d) * in3[1] + h) * in3[2] + w) * DOC_C + c];
                                    m = fmax(m, v);
                                    sum += v;
                                    cells++;
                                }
                        *worst_max = fmax(*worst_max, fabs(ymax[o] - m));
                        /* Keras "same" divides by the in-bounds cells */
                        *worst_avg = fmax(*worst_avg, fabs(yavg[o] - sum / (double)cells));
                    }
    free(ymax);
    free(yavg);
    free(argmax);
}

static void part_document_000(checks *ck)
{
    printf("\n== 1. Document 000: Keras pooling shapes on x = tf.random.normal((4,28,28,3)), and in 1D and 3D ==\n\n");
    printf("  Every output is also checked against its window: the max and the mean of the in-bounds\n"
           "  cells, windows computed from Keras' rule independently of the library.\n\n");

    static const keras_example examples[] = {
        { 2, "MaxPooling2D(pool_size=(2,2))", 0, 0, NNR_POOL_VALID, 14 },
        { 2, "MaxPooling2D(pool_size=(2,2), strides=1)", 0, 1, NNR_POOL_VALID, 27 },
        { 2, "MaxPooling2D(pool_size=(2,2), strides=1, padding='same')", 0, 1, NNR_POOL_SAME, 28 },
        { 2, "GlobalMaxPooling2D()", 1, 0, NNR_POOL_VALID, 0 },
        { 1, "MaxPooling1D(pool_size=2)", 0, 0, NNR_POOL_VALID, 14 },
        { 1, "MaxPooling1D(pool_size=2, strides=1)", 0, 1, NNR_POOL_VALID, 27 },
        { 1, "MaxPooling1D(pool_size=2, strides=1, padding='same')", 0, 1, NNR_POOL_SAME, 28 },
        { 1, "GlobalMaxPooling1D()", 1, 0, NNR_POOL_VALID, 0 },
        { 3, "MaxPooling3D(pool_size=(2,2,2))", 0, 0, NNR_POOL_VALID, 14 },
        { 3, "MaxPooling3D(pool_size=(2,2,2), strides=1)", 0, 1, NNR_POOL_VALID, 27 },
        { 3, "MaxPooling3D(pool_size=(2,2,2), strides=1, padding='same')", 0, 1, NNR_POOL_SAME, 28 },
        { 3, "GlobalMaxPooling3D()", 1, 0, NNR_POOL_VALID, 0 },
    };
    const size_t n_examples = sizeof examples / sizeof examples[0];

    /* the largest input, (4, 28, 28, 28, 3); smaller ones use its beginning */
    const size_t max_count = (size_t)DOC_N * DOC_SIZE * DOC_SIZE * DOC_SIZE * DOC_C;
    float *x = must_alloc(max_count * sizeof *x);
    for (size_t i = 0; i < max_count; i++)
        x[i] = (float)nnr_rng_normal(SEED_DOC000, i);

    for (size_t e = 0; e < n_examples; e++) {
        const keras_example *ex = &examples[e];
        nnr_shape in_shape = { (size_t)ex->dims + 2, { DOC_N } };
        for (int a = 0; a < ex->dims; a++)
            in_shape.dims[1 + a] = DOC_SIZE;
        in_shape.dims[ex->dims + 1] = DOC_C;

        nnr_shape out_shape;
        size_t want[5] = { DOC_N, DOC_C };
        size_t want_rank = 2;
        double worst_max = 0.0, worst_avg = 0.0;
        if (ex->global) {
            const nnr_global_pool_params gp = nnr_global_pool_keras(ex->dims);
            must(nnr_global_pool_output_shape(&gp, &in_shape, &out_shape), "nnr_global_pool_output_shape");
            float ymax[DOC_N * DOC_C], yavg[DOC_N * DOC_C];
            must(nnr_global_maxpool_fwd(&gp, &in_shape, x, ymax), "nnr_global_maxpool_fwd");
            must(nnr_global_avgpool_fwd(&gp, &in_shape, x, yavg), "nnr_global_avgpool_fwd");
            size_t plane = 1;
            for (int a = 0; a < ex->dims; a++)
                plane *= DOC_SIZE;
            for (size_t n = 0; n < DOC_N; n++)
                for (size_t c = 0; c < DOC_C; c++) {
                    double m = -INFINITY, sum = 0.0;
                    for (size_t s = 0; s < plane; s++) {
                        m = fmax(m, x[(n * plane + s) * DOC_C + c]);
                        sum += x[(n * plane + s) * DOC_C + c];
                    }
                    worst_max = fmax(worst_max, fabs(ymax[n * DOC_C + c] - m));
                    worst_avg = fmax(worst_avg, fabs(yavg[n * DOC_C + c] - sum / (double)plane));
                }
        } else {
            nnr_pool_params p = nnr_pool_keras(ex->dims, DOC_POOL);
            for (int a = 0; a < ex->dims; a++)
                if (ex->strides != 0)    /* 0 in the table is strides=None: the preset's */
                    p.stride[a] = ex->strides;
            p.padding = ex->padding;
            must(nnr_pool_output_shape(&p, &in_shape, &out_shape), "nnr_pool_output_shape");
            for (int a = 0; a < ex->dims; a++)
                want[1 + a] = ex->want_spatial;
            want[ex->dims + 1] = DOC_C;
            want_rank = (size_t)ex->dims + 2;
            if (shape_equals(&out_shape, want_rank, want))
                check_windows(ex, &p, &in_shape, &out_shape, x, &worst_max, &worst_avg);
        }
        printf("  %-58s ", ex->layer);
        print_shape(&in_shape);
        printf(" -> ");
        print_shape(&out_shape);
        printf("\n");

        char what[160];
        snprintf(what, sizeof what, "doc000 %s: output shape as the document says", ex->layer);
        check_true(ck, what, shape_equals(&out_shape, want_rank, want));
        snprintf(what, sizeof what, "doc000 %s: every max is the max of its window (exact)", ex->layer);
        check_close(ck, what, worst_max, 0.0, 0.0);
        /* Windowed averages: up to 8 float values |x| < 6 summed in any
         * order (an AVX2 kernel may sum in float: partial sums below 48
         * round by < 2e-6 each) and divided by up to 8: < 1e-5. Global
         * averages are summed in double (pool.h): one rounding to float of
         * a mean |y| < 1, < 6e-8, plus the double sums' own (~1e-13). */
        snprintf(what, sizeof what, "doc000 %s: AveragePooling with the same arguments gives the mean of each window",
                 ex->layer);
        check_close(ck, what, worst_avg, 0.0, ex->global ? 1.2e-7 : 1e-5);
    }
    printf("\n  The first three are document 000's lines: (4, 14, 14, 3), (4, 27, 27, 3), (4, 28, 28, 3),\n"
           "  and GlobalMaxPooling2D gives (4, 3). valid: floor((28 - 2)/s) + 1; same: ceil(28/s).\n");
    free(x);
}

/* ------------------------------------------------------------------------- */
/* 2. Document 002: NumPy max_pooling and its row/column swap                 */
/* ------------------------------------------------------------------------- */

enum { IMG = 4, IMG_OUT = 2 };

/* Document 002 gives its max_pooling no input; the only image in the
 * document is the 4x4 one of its convolution section, used here. */
static const float doc002_img[IMG][IMG] = {
    { 260.745f, 261.332f, 112.27f, 262.351f },
    { 260.302f, 208.802f, 139.05f, 230.709f },
    { 261.775f, 93.73f, 166.118f, 122.847f },
    { 259.56f, 232.038f, 262.351f, 228.937f },
};

static void print_2x2(const char *name, const float m[IMG_OUT][IMG_OUT])
{
    printf("  %-44s [[%.3f %.3f]\n  %-44s  [%.3f %.3f]]\n", name, m[0][0], m[0][1], "", m[1][0], m[1][1]);
}

/*
 * What document 002's loop does on an H x W map with size = stride = 2
 * (its defaults), the way NumPy runs it:
 *
 *     pool_shape = (H//stride, W//stride, layers)
 *     for r in numpy.arange(0, H, stride):        # row = 0, 1, ...
 *         for c in numpy.arange(0, W, stride):    # col = 0, 1, ...
 *             pool_out[row, col] = numpy.max([feature_map[c:c+size, r:r+size]])
 *
 * r steps over rows and c over columns, but the slice uses c as the row
 * range and r as the column range. NumPy clips a slice at the array's end,
 * takes the max of what is left (ValueError if nothing is), then stores it
 * at [row, col] (IndexError past H//stride, W//stride). Returns 0 and fills
 * out (H//2 x W//2, row-major) if the loop finishes, else 1 with the error
 * NumPy raises in *error.
 */
static int doc002_max_pooling(const float *map, size_t H, size_t W, float *out, char *error, size_t error_size)
{
    const size_t size = 2, stride = 2, out_h = H / stride, out_w = W / stride;
    size_t row = 0;
    for (size_t r = 0; r < H; r += stride, row++) {
        size_t col = 0;
        for (size_t c = 0; c < W; c += stride, col++) {
            /* feature_map[c:c+size, r:r+size]: rows c.., columns r.., clipped */
            const size_t r0 = c, r1 = c + size < H ? c + size : H;
            const size_t c0 = r, c1 = r + size < W ? r + size : W;
            if (r0 >= r1 || c0 >= c1) {
                snprintf(error, error_size, "ValueError: zero-size array to reduction operation maximum which has no identity"
                         " (r=%zu, c=%zu: feature_map[%zu:%zu, %zu:%zu] is empty)", r, c, c, c + size, r, r + size);
                return 1;
            }
            float m = -INFINITY;
            for (size_t i = r0; i < r1; i++)
                for (size_t j = c0; j < c1; j++)
                    m = fmaxf(m, map[i * W + j]);
            if (row >= out_h || col >= out_w) {
                snprintf(error, error_size, "IndexError: index %zu is out of bounds for axis %d with size %zu",
                         row >= out_h ? row : col, row >= out_h ? 0 : 1, row >= out_h ? out_h : out_w);
                return 1;
            }
            out[row * out_w + col] = m;
        }
    }
    return 0;
}

static void part_document_002(checks *ck)
{
    printf("\n== 2. Document 002: NumPy max_pooling(feature_map, size=2, stride=2) and its row/column swap ==\n\n");
    printf("  Document 002 gives the function no input; its only image is the 4x4 one of its convolution\n"
           "  section, used here as a (height=4, width=4, layers=1) feature map:\n\n");
    for (int i = 0; i < IMG; i++)
        printf("    [%8.3f %8.3f %8.3f %8.3f]\n", doc002_img[i][0], doc002_img[i][1], doc002_img[i][2],
               doc002_img[i][3]);
    printf("\n");

    /* the library: Keras MaxPooling2D((2,2)) on (1, 4, 4, 1) */
    const nnr_pool_params p = nnr_pool_keras(2, 2);
    const nnr_shape in_shape = { 4, { 1, IMG, IMG, 1 } };
    float right[IMG_OUT][IMG_OUT];
    int32_t argmax[IMG_OUT * IMG_OUT];
    must(nnr_maxpool_fwd(&p, &in_shape, &doc002_img[0][0], &right[0][0], argmax), "nnr_maxpool_fwd");

    /* the document's loop, as NumPy runs it */
    float doc[IMG_OUT][IMG_OUT];
    char error[256];
    const int failed = doc002_max_pooling(&doc002_img[0][0], IMG, IMG, &doc[0][0], error, sizeof error);

    /* the kernel on the transposed map */
    float transposed[IMG][IMG], right_of_transposed[IMG_OUT][IMG_OUT];
    for (int i = 0; i < IMG; i++)
        for (int j = 0; j < IMG; j++)
            transposed[i][j] = doc002_img[j][i];
    must(nnr_maxpool_fwd(&p, &in_shape, &transposed[0][0], &right_of_transposed[0][0], NULL), "nnr_maxpool_fwd");

    print_2x2("document 002's code returns", doc);
    print_2x2("nnr_maxpool_fwd (Keras MaxPooling2D((2,2)))", right);
    printf("  argmax (flat index of the cell taken):        [[%d %d] [%d %d]]\n\n", argmax[0], argmax[1], argmax[2],
           argmax[3]);

    int doc_is_transpose = !failed, doc_is_pool_of_transpose = !failed, same_as_right = !failed;
    for (int i = 0; i < IMG_OUT && !failed; i++)
        for (int j = 0; j < IMG_OUT; j++) {
            doc_is_transpose &= doc[i][j] == right[j][i];
            doc_is_pool_of_transpose &= doc[i][j] == right_of_transposed[i][j];
            same_as_right &= doc[i][j] == right[i][j];
        }
    printf("  The loop walks r over rows and c over columns but slices feature_map[c:c+size, r:r+size]:\n"
           "  output [row, col] gets the window at rows c.., columns r.. -- the window of output [col, row].\n"
           "  On a square map it returns the transpose of max pooling (= max pooling of the transposed map);\n"
           "  here the two off-diagonal outputs are exchanged: 261.775 and 262.351. The fix is\n"
           "  feature_map[r:r+size, c:c+size].\n\n");
    check_true(ck, "doc002 code's result on the 4x4 image is the transpose of max pooling", doc_is_transpose);
    check_true(ck, "doc002 code's result equals nnr_maxpool_fwd on the transposed image", doc_is_pool_of_transpose);
    check_true(ck, "doc002 code's result differs from max pooling on this non-symmetric image", !same_as_right);
    check_close(ck, "doc002 max pooling [0,0] = max(260.745, 261.332, 260.302, 208.802)", right[0][0], 261.332f, 0.0);
    check_close(ck, "doc002 max pooling [0,1] = max(112.27, 262.351, 139.05, 230.709)", right[0][1], 262.351f, 0.0);
    check_close(ck, "doc002 max pooling [1,0] = max(261.775, 93.73, 259.56, 232.038)", right[1][0], 261.775f, 0.0);
    check_close(ck, "doc002 max pooling [1,1] = max(166.118, 122.847, 262.351, 228.937)", right[1][1], 262.351f, 0.0);
    check_true(ck, "doc002 argmax of the 4x4 image = [1, 3, 8, 14]",
               argmax[0] == 1 && argmax[1] == 3 && argmax[2] == 8 && argmax[3] == 14);

    /* Non-square maps and sizes that are not a multiple of 2. */
    printf("  On other shapes the document's loop does not return at all (NumPy 1.24 raises):\n");
    static const size_t shapes[][2] = { { 4, 6 }, { 6, 4 }, { 5, 5 }, { 3, 4 } };
    static const char *const want_error[] = { "ValueError", "ValueError", "IndexError", "IndexError" };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const size_t H = shapes[k][0], W = shapes[k][1];
        float map[36], out[9];
        for (size_t i = 0; i < H * W; i++)
            map[i] = (float)i;
        const int f = doc002_max_pooling(map, H, W, out, error, sizeof error);
        nnr_shape in = { 4, { 1, H, W, 1 } }, o;
        must(nnr_pool_output_shape(&p, &in, &o), "nnr_pool_output_shape");
        printf("    %zux%zu: %s\n          Keras MaxPooling2D((2,2)) gives %zux%zu\n", H, W, f ? error : "returns",
               o.dims[1], o.dims[2]);
        char what[128];
        snprintf(what, sizeof what, "doc002 code on a %zux%zu map raises %s", H, W, want_error[k]);
        check_true(ck, what, f && strncmp(error, want_error[k], strlen(want_error[k])) == 0);
    }
    printf("\n  Two faults: on H != W the swapped slice runs past the shorter side (an empty window), and\n"
           "  range(0, n, stride) visits ceil(n/2) starts while pool_out holds n//2 (the last, partial\n"
           "  window has no place). Keras 'valid' drops that partial window; 'same' keeps it.\n");
}

/* ------------------------------------------------------------------------- */
/* 3. Keras "same" against PyTorch's explicit padding                          */
/* ------------------------------------------------------------------------- */

/* 1D average pooling of x (N = C = 1) with the given parameters; prints y. */
static size_t avg_1d(const char *name, const nnr_pool_params *p, const float *x, size_t n, float *y)
{
    const nnr_shape in = { 3, { 1, 1, n } };
    nnr_shape out;
    must(nnr_pool_output_shape(p, &in, &out), "nnr_pool_output_shape");
    must(nnr_avgpool_fwd(p, &in, x, y), "nnr_avgpool_fwd");
    printf("  %-58s [", name);
    for (size_t i = 0; i < out.dims[2]; i++)
        printf("%s%.4f", i ? ", " : "", y[i]);
    printf("]\n");
    return out.dims[2];
}

/* Worst |y - want| over n values, or +inf if the lengths differ. */
static double worst_vs(const float *y, size_t n, const double *want, size_t n_want)
{
    if (n != n_want)
        return INFINITY;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(y[i] - want[i]));
    return worst;
}

static void part_same_vs_torch(checks *ck)
{
    printf("\n== 3. Keras padding='same' against PyTorch's explicit padding (1D average pooling) ==\n\n");
    /* Averages of at most 3 small integers divided by 1..3: the float
     * result is within one rounding (< 3e-7) of the exact value whatever
     * the order of the sum; printed with 4 decimals. */
    const double tol = 3e-7;
    float y[8];
    size_t n;

    const float x4[4] = { 1, 2, 3, 4 };
    printf("  x = [1, 2, 3, 4], window 3, stride 1:\n");
    nnr_pool_params keras = nnr_pool_keras(1, 3);
    keras.layout = NNR_CHANNELS_FIRST;   /* N = C = 1: the layout does not matter */
    keras.stride[0] = 1;
    keras.padding = NNR_POOL_SAME;
    n = avg_1d("Keras AveragePooling1D(3, strides=1, padding='same')", &keras, x4, 4, y);
    const double want_same[4] = { 1.5, 2.0, 3.0, 3.5 };
    check_close(ck, "x=[1,2,3,4] k=3 s=1 Keras same -> [1.5, 2, 3, 3.5] (divides by in-bounds cells)",
                worst_vs(y, n, want_same, 4), 0.0, tol);

    nnr_pool_params torch = nnr_pool_torch(1, 3);
    torch.stride[0] = 1;
    torch.pad[0] = 1;
    n = avg_1d("PyTorch AvgPool1d(3, stride=1, padding=1)", &torch, x4, 4, y);
    const double want_cip[4] = { 1.0, 2.0, 3.0, 7.0 / 3.0 };
    check_close(ck, "x=[1,2,3,4] k=3 s=1 p=1 PyTorch count_include_pad -> [1, 2, 3, 2.3333] (padding counted)",
                worst_vs(y, n, want_cip, 4), 0.0, tol);

    torch.count_include_pad = 0;
    n = avg_1d("PyTorch AvgPool1d(3, stride=1, padding=1, count_include_pad=False)", &torch, x4, 4, y);
    check_close(ck, "x=[1,2,3,4] k=3 s=1 p=1 PyTorch count_include_pad=False -> Keras same's [1.5, 2, 3, 3.5]",
                worst_vs(y, n, want_same, 4), 0.0, tol);
    printf("  Same windows (one padding cell each side); PyTorch's default counts the padding cell in the\n"
           "  divisor: the first and last outputs are 3/3 and 7/3 instead of 3/2 and 7/2.\n\n");

    const float x5[5] = { 1, 2, 3, 4, 5 };
    printf("  x = [1, 2, 3, 4, 5], window 2, stride 2 (odd length):\n");
    keras = nnr_pool_keras(1, 2);
    keras.layout = NNR_CHANNELS_FIRST;
    n = avg_1d("Keras AveragePooling1D(2) (valid)", &keras, x5, 5, y);
    const double want_valid5[2] = { 1.5, 3.5 };
    check_close(ck, "x=[1..5] k=2 s=2 Keras valid -> [1.5, 3.5] (the 5 is never read)", worst_vs(y, n, want_valid5, 2),
                0.0, tol);
    keras.padding = NNR_POOL_SAME;
    n = avg_1d("Keras AveragePooling1D(2, padding='same')", &keras, x5, 5, y);
    const double want_same5[3] = { 1.5, 3.5, 5.0 };
    check_close(ck, "x=[1..5] k=2 s=2 Keras same -> [1.5, 3.5, 5] (padding at the end only)",
                worst_vs(y, n, want_same5, 3), 0.0, tol);
    torch = nnr_pool_torch(1, 2);
    torch.ceil_mode = 1;
    n = avg_1d("PyTorch AvgPool1d(2, ceil_mode=True)", &torch, x5, 5, y);
    check_close(ck, "x=[1..5] k=2 s=2 PyTorch ceil_mode -> [1.5, 3.5, 5] (overhang past the input not counted)",
                worst_vs(y, n, want_same5, 3), 0.0, tol);
    printf("  PyTorch cannot pad one side only; ceil_mode reaches the last cell instead, and its divisor\n"
           "  stops at the padded edge (n + p = 5), so here it agrees with 'same'.\n\n");

    const float x6[6] = { 1, 2, 3, 4, 5, 6 };
    printf("  x = [1, ..., 6], window 3, stride 2, padding 1, ceil_mode (SEMANTICS.md section 1):\n");
    torch = nnr_pool_torch(1, 3);
    torch.stride[0] = 2;
    torch.pad[0] = 1;
    torch.ceil_mode = 1;
    n = avg_1d("PyTorch AvgPool1d(3, 2, padding=1, ceil_mode=True)", &torch, x6, 6, y);
    const double want_c1[4] = { 1.0, 3.0, 5.0, 3.0 };
    check_close(ck, "x=[1..6] k=3 s=2 p=1 ceil count_include_pad -> [1, 3, 5, 3]", worst_vs(y, n, want_c1, 4), 0.0,
                tol);
    torch.count_include_pad = 0;
    n = avg_1d("PyTorch AvgPool1d(3, 2, padding=1, ceil_mode=True, count_include_pad=False)", &torch, x6, 6, y);
    const double want_c0[4] = { 1.5, 3.0, 5.0, 6.0 };
    check_close(ck, "x=[1..6] k=3 s=2 p=1 ceil count_include_pad=False -> [1.5, 3, 5, 6]", worst_vs(y, n, want_c0, 4),
                0.0, tol);
    printf("  The last window starts at 5, covers 5..7: cell 5 (= 6), the padding cell 6, and 7 beyond\n"
           "  the padding; count_include_pad counts up to the padded edge: 6/2 = 3, without it 6/1 = 6.\n\n");

    /* PyTorch's ceil_mode example: AvgPool2d(2, stride=3, ceil_mode=True) on arange(49).reshape(7,7) */
    float x49[49], y9[9];
    for (int i = 0; i < 49; i++)
        x49[i] = (float)i;
    nnr_pool_params t2 = nnr_pool_torch(2, 2);
    t2.stride[0] = t2.stride[1] = 3;
    t2.ceil_mode = 1;
    const nnr_shape in49 = { 4, { 1, 1, 7, 7 } };
    nnr_shape out49;
    must(nnr_pool_output_shape(&t2, &in49, &out49), "nnr_pool_output_shape");
    must(nnr_avgpool_fwd(&t2, &in49, x49, y9), "nnr_avgpool_fwd");
    printf("  PyTorch AvgPool2d(2, stride=3, ceil_mode=True) on arange(49).reshape(7,7): ");
    print_shape(&out49);
    printf("\n");
    for (int i = 0; i < 3; i++)
        printf("    [%6.2f %6.2f %6.2f]\n", y9[3 * i], y9[3 * i + 1], y9[3 * i + 2]);
    const double want49[9] = { 4, 7, 9.5, 25, 28, 30.5, 42.5, 45.5, 48 };
    check_close(ck, "PyTorch AvgPool2d(2, 3, ceil_mode=True) on arange(49) (7x7) -> [[4,7,9.5],[25,28,30.5],[42.5,45.5,48]]",
                worst_vs(y9, shape_count(&out49), want49, 9), 0.0, 48 * 3e-7 /* one rounding of values < 48 */);
    {
        nnr_pool_params mk = nnr_pool_keras(1, 3), mt = nnr_pool_torch(1, 3);
        mk.layout = NNR_CHANNELS_FIRST;
        mk.stride[0] = mt.stride[0] = 1;
        mk.padding = NNR_POOL_SAME;
        mt.pad[0] = 1;
        const nnr_shape in = { 3, { 1, 1, 4 } };
        float yk[4], yt[4];
        must(nnr_maxpool_fwd(&mk, &in, x4, yk, NULL), "nnr_maxpool_fwd");
        must(nnr_maxpool_fwd(&mt, &in, x4, yt, NULL), "nnr_maxpool_fwd");
        printf("\n  Max pooling, x = [1, 2, 3, 4], window 3, stride 1: Keras same [%g, %g, %g, %g],"
               " PyTorch padding=1 [%g, %g, %g, %g]\n  (padding is never the max: it is skipped, not -inf or 0)\n",
               yk[0], yk[1], yk[2], yk[3], yt[0], yt[1], yt[2], yt[3]);
        const double want_max[4] = { 2, 3, 4, 4 };
        check_close(ck, "max pooling ignores padding: Keras same and PyTorch p=1 give [2, 3, 4, 4] on x=[1,2,3,4]",
                    fmax(worst_vs(yk, 4, want_max, 4), worst_vs(yt, 4, want_max, 4)), 0.0, 0.0);
    }
}

/* ------------------------------------------------------------------------- */
/* 4. Ties: where the gradient of a tied maximum goes                         */
/* ------------------------------------------------------------------------- */

static void part_ties(checks *ck)
{
    printf("\n== 4. Ties: the gradient of a maximum that occurs twice ==\n\n");
    const float x[2] = { 3, 3 }, dy = 1.0f;
    const nnr_shape in = { 3, { 1, 1, 2 } };

    /* windowed: MaxPool1d(2) */
    const nnr_pool_params p = nnr_pool_torch(1, 2);
    float y, dx_window[2];
    int32_t argmax;
    must(nnr_maxpool_fwd(&p, &in, x, &y, &argmax), "nnr_maxpool_fwd");
    must(nnr_maxpool_bwd(&p, &in, &dy, &argmax, dx_window), "nnr_maxpool_bwd");

    /* global: reduce-max (split) and the windowed rule (first) */
    nnr_global_pool_params g = nnr_global_pool_torch(1);
    float gy, dx_split[2], dx_first[2];
    must(nnr_global_maxpool_fwd(&g, &in, x, &gy), "nnr_global_maxpool_fwd");
    must(nnr_global_maxpool_bwd(&g, &in, x, &gy, &dy, dx_split), "nnr_global_maxpool_bwd");
    g.ties = NNR_POOL_TIES_FIRST;
    must(nnr_global_maxpool_bwd(&g, &in, x, &gy, &dy, dx_first), "nnr_global_maxpool_bwd");

    printf("  x = [3, 3], dy = 1\n");
    printf("  MaxPool1d(2) / MaxPooling1D(2):       y = %g, argmax = %d, dx = [%g, %g]   first maximum in scan order\n",
           y, argmax, dx_window[0], dx_window[1]);
    printf("  GlobalMaxPooling1D / x.amax(-1):      y = %g,              dx = [%g, %g]   split among the tied maxima\n",
           gy, dx_split[0], dx_split[1]);
    printf("  global max, ties = NNR_POOL_TIES_FIRST:                   dx = [%g, %g]   the windowed rule\n",
           dx_first[0], dx_first[1]);
    check_true(ck, "ties: windowed max backward gives dx = [1, 0] (argmax 0, the first maximum)",
               argmax == 0 && dx_window[0] == 1.0f && dx_window[1] == 0.0f);
    check_true(ck, "ties: global max with reduce-max's rule gives dx = [0.5, 0.5]",
               dx_split[0] == 0.5f && dx_split[1] == 0.5f);
    check_true(ck, "ties: global max with NNR_POOL_TIES_FIRST gives dx = [1, 0]", dx_first[0] == 1.0f && dx_first[1] == 0.0f);
    printf("  So a global max pooling and a max pooling whose window is the whole input give the same y\n"
           "  but different gradients on ties (Keras: ops.max's gradient; PyTorch: amax vs MaxPool).\n\n");

    /* overlapping windows accumulate */
    const float x3[3] = { 1, 5, 2 }, dy2[2] = { 1, 1 };
    const nnr_shape in3 = { 3, { 1, 1, 3 } };
    nnr_pool_params ov = nnr_pool_torch(1, 2);
    ov.stride[0] = 1;
    float y2[2], dx3[3];
    int32_t am2[2];
    must(nnr_maxpool_fwd(&ov, &in3, x3, y2, am2), "nnr_maxpool_fwd");
    must(nnr_maxpool_bwd(&ov, &in3, dy2, am2, dx3), "nnr_maxpool_bwd");
    printf("  Overlapping windows, x = [1, 5, 2], MaxPool1d(2, stride=1): y = [%g, %g], argmax = [%d, %d],\n"
           "  dy = [1, 1] -> dx = [%g, %g, %g]: both windows took the 5, its gradients add.\n",
           y2[0], y2[1], am2[0], am2[1], dx3[0], dx3[1], dx3[2]);
    check_true(ck, "overlapping max windows: dx = [0, 2, 0]", dx3[0] == 0.0f && dx3[1] == 2.0f && dx3[2] == 0.0f);

    /* NaN: the max of a window holding a NaN is NaN */
    const float xn[3] = { 1, NAN, 2 };
    must(nnr_maxpool_fwd(&ov, &in3, xn, y2, am2), "nnr_maxpool_fwd");
    /* "nan" spelled out: printf would show the sign bit of the NaN */
    printf("  x = [1, nan, 2], same layer: y = [%s, %s], argmax = [%d, %d] (a NaN in the window wins,\n"
           "  as in PyTorch; a comparison-only max such as fmax would skip it).\n",
           isnan(y2[0]) ? "nan" : "not nan", isnan(y2[1]) ? "nan" : "not nan", am2[0], am2[1]);
    check_true(ck, "NaN in a window: both outputs NaN, argmax at the NaN", isnan(y2[0]) && isnan(y2[1]) && am2[0] == 1 && am2[1] == 1);
}

/* ------------------------------------------------------------------------- */
/* 5. Valid and same windows on a 5x5 grid, found from the kernel             */
/* ------------------------------------------------------------------------- */

enum { GRID = 5, WIN = 2, MAX_OUT = 3 };

typedef struct grid_window {
    int row_lo, row_hi, col_lo, col_hi;   /* in-bounds cells read, inclusive */
    int full_row_lo, full_col_lo;         /* the whole WIN x WIN window, padding included */
    double divisor;                       /* what the forward divides by */
} grid_window;

/*
 * The window of every output, as the library uses it: the average pooling
 * backward with dy = 1 at one output and 0 elsewhere writes dy/D(o) into
 * exactly the in-bounds cells of that output's window, and nothing anywhere
 * else. The window's padding cells are the WIN - (cells read) on the side
 * where the in-bounds part touches the border.
 */
static void probe_windows(const nnr_pool_params *p, const nnr_shape *in, size_t *out_h, size_t *out_w,
                          grid_window w[MAX_OUT][MAX_OUT])
{
    nnr_shape out;
    must(nnr_pool_output_shape(p, in, &out), "nnr_pool_output_shape");
    const int first = p->layout == NNR_CHANNELS_FIRST ? 2 : 1;
    *out_h = out.dims[first];
    *out_w = out.dims[first + 1];
    for (size_t oh = 0; oh < *out_h; oh++)
        for (size_t ow = 0; ow < *out_w; ow++) {
            float dy[MAX_OUT * MAX_OUT] = { 0 }, dx[GRID * GRID];
            dy[oh * *out_w + ow] = 1.0f;
            must(nnr_avgpool_bwd(p, in, dy, dx), "nnr_avgpool_bwd");
            grid_window g = { GRID, -1, GRID, -1, 0, 0, 0.0 };
            for (int i = 0; i < GRID; i++)
                for (int j = 0; j < GRID; j++)
                    if (dx[i * GRID + j] != 0.0f) {
                        g.row_lo = i < g.row_lo ? i : g.row_lo;
                        g.row_hi = i > g.row_hi ? i : g.row_hi;
                        g.col_lo = j < g.col_lo ? j : g.col_lo;
                        g.col_hi = j > g.col_hi ? j : g.col_hi;
                        g.divisor = 1.0 / dx[i * GRID + j];
                    }
            const int miss_r = WIN - (g.row_hi - g.row_lo + 1), miss_c = WIN - (g.col_hi - g.col_lo + 1);
            g.full_row_lo = g.row_lo == 0 && g.row_hi < GRID - 1 ? g.row_lo - miss_r : g.row_lo;
            g.full_col_lo = g.col_lo == 0 && g.col_hi < GRID - 1 ? g.col_lo - miss_c : g.col_lo;
            w[oh][ow] = g;
        }
}

static void part_windows(checks *ck, const char *datadir)
{
    printf("\n== 5. Which cells each output reads: 2x2 windows, stride 2, on a 5x5 input ==\n\n");
    printf("  Found from the library: nnr_avgpool_bwd with dy = 1 at one output writes 1/D into exactly\n"
           "  the cells that output's window reads (and its divisor D).\n\n");
    const nnr_shape in = { 4, { 1, GRID, GRID, 1 } };
    const nnr_shape in_cf = { 4, { 1, 1, GRID, GRID } };
    nnr_pool_params valid = nnr_pool_keras(2, WIN), same = nnr_pool_keras(2, WIN), torch = nnr_pool_torch(2, WIN);
    same.padding = NNR_POOL_SAME;
    torch.ceil_mode = 1;
    static const char *const names[3] = { "valid", "same", "torch_ceil" };
    static const char *const titles[3] = { "Keras padding='valid'", "Keras padding='same'",
                                           "PyTorch AvgPool2d(2, ceil_mode=True)" };
    grid_window w[3][MAX_OUT][MAX_OUT];
    size_t oh[3], ow[3];
    probe_windows(&valid, &in, &oh[0], &ow[0], w[0]);
    probe_windows(&same, &in, &oh[1], &ow[1], w[1]);
    probe_windows(&torch, &in_cf, &oh[2], &ow[2], w[2]);

    for (int m = 0; m < 3; m++) {
        int read[GRID][GRID] = { { 0 } };
        printf("  %s: %zux%zu output\n", titles[m], oh[m], ow[m]);
        for (size_t i = 0; i < oh[m]; i++) {
            printf("   ");
            for (size_t j = 0; j < ow[m]; j++) {
                const grid_window *g = &w[m][i][j];
                printf("  y[%zu,%zu]: rows %d-%d cols %d-%d D=%g", i, j, g->row_lo, g->row_hi, g->col_lo, g->col_hi,
                       g->divisor);
                for (int r = g->row_lo; r <= g->row_hi; r++)
                    for (int c = g->col_lo; c <= g->col_hi; c++)
                        read[r][c] = 1;
            }
            printf("\n");
        }
        int never = 0;
        for (int r = 0; r < GRID; r++)
            for (int c = 0; c < GRID; c++)
                never += !read[r][c];
        printf("    input cells never read: %d\n\n", never);
        if (m == 0)
            check_true(ck, "5x5 valid 2x2/2: 2x2 outputs; row 4 and column 4 (9 cells) are never read",
                       oh[0] == 2 && ow[0] == 2 && never == 9 && !read[4][0] && !read[0][4] && read[3][3]);
        else
            check_true(ck, m == 1 ? "5x5 same 2x2/2: 3x3 outputs reading every cell"
                                  : "5x5 PyTorch ceil_mode 2x2/2: 3x3 outputs reading every cell",
                       oh[m] == 3 && ow[m] == 3 && never == 0);

        if (datadir != NULL) {
            char file[64];
            snprintf(file, sizeof file, "windows_%s.dat", names[m]);
            FILE *f = open_data_file(datadir, file);
            fprintf(f, "# %s on a 5x5 input, 2x2 windows, stride 2: one line per output window\n"
                       "# col_center row_center half_width half_height label (the whole window, padding included)\n",
                    titles[m]);
            for (size_t i = 0; i < oh[m]; i++)
                for (size_t j = 0; j < ow[m]; j++) {
                    const grid_window *g = &w[m][i][j];
                    fprintf(f, "%.2f %.2f %.2f %.2f \"y[%zu,%zu] D=%g\"\n", g->full_col_lo + 0.5 * (WIN - 1),
                            g->full_row_lo + 0.5 * (WIN - 1), 0.5 * WIN - 0.08, 0.5 * WIN - 0.08, i, j, g->divisor);
                }
            fclose(f);
            snprintf(file, sizeof file, "cells_%s.dat", names[m]);
            f = open_data_file(datadir, file);
            fprintf(f, "# col row state: 0 read, 1 never read, 2 padding cell inside a window\n");
            for (int r = 0; r < GRID; r++)
                for (int c = 0; c < GRID; c++)
                    fprintf(f, "%d %d %d\n", c, r, read[r][c] ? 0 : 1);
            for (size_t i = 0; i < oh[m]; i++)
                for (size_t j = 0; j < ow[m]; j++) {
                    const grid_window *g = &w[m][i][j];
                    for (int r = g->full_row_lo; r < g->full_row_lo + WIN; r++)
                        for (int c = g->full_col_lo; c < g->full_col_lo + WIN; c++)
                            if (r < 0 || r >= GRID || c < 0 || c >= GRID)
                                fprintf(f, "%d %d 2\n", c, r);
                }
            fclose(f);
        }
    }
    /* Keras same: total padding (3-1)*2 + 2 - 5 = 1, all of it at the end */
    int same_ok = 1, torch_same = 1;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            const grid_window *g = &w[1][i][j];
            const int rows = i == 2 ? 1 : 2, cols = j == 2 ? 1 : 2;
            same_ok &= g->row_lo == (int)(2 * i) && g->col_lo == (int)(2 * j) && g->row_hi == g->row_lo + rows - 1 &&
                       g->col_hi == g->col_lo + cols - 1 && g->full_row_lo == g->row_lo &&
                       g->full_col_lo == g->col_lo && g->divisor == rows * cols;
            const grid_window *t = &w[2][i][j];
            torch_same &= t->row_lo == g->row_lo && t->row_hi == g->row_hi && t->col_lo == g->col_lo &&
                          t->col_hi == g->col_hi && t->divisor == g->divisor;
        }
    check_true(ck, "5x5 same: windows start at 2i, 2j; the padding row/column is at the end; D = in-bounds cells (4, 2, 1)",
               same_ok);
    check_true(ck, "5x5: PyTorch ceil_mode=True reads the same cells with the same divisors as Keras same", torch_same);
    printf("  'same' pads (3-1)*2 + 2 - 5 = 1 row and 1 column, at the end (bottom/right), and divides by\n"
           "  the cells inside the input: D = 4, 2 and 1. PyTorch's ceil_mode lets the last window hang over\n"
           "  the edge and, with no padding, counts only up to the input's edge: the same here.\n");
}

/* ------------------------------------------------------------------------- */
/* 6. One Fashion-MNIST image, pooled                                         */
/* ------------------------------------------------------------------------- */

enum { FM = 28, FM_OUT = 14 };

static const char *const fashion_classes[10] = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };

static void write_matrix(const char *datadir, const char *name, const float *m, size_t rows, size_t cols)
{
    FILE *f = open_data_file(datadir, name);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            fprintf(f, "%.6f%c", m[i * cols + j], j + 1 == cols ? '\n' : ' ');
    fclose(f);
}

static void part_fashion_mnist(checks *ck, const char *datadir)
{
    char images_path[4096], labels_path[4096];
    fashion_mnist_path(images_path, sizeof images_path, "t10k-images-idx3-ubyte.gz");
    fashion_mnist_path(labels_path, sizeof labels_path, "t10k-labels-idx1-ubyte.gz");
    printf("\n== 6. The first Fashion-MNIST test image, 2x2 max and average pooled, and its global max and average ==\n\n");
    if (!fashion_mnist_found(ck, "t10k-images-idx3-ubyte.gz",
                             "Fashion-MNIST image pooled by max, average, global max and global average"))
        return;
    nnr_idx images, labels;
    must(nnr_idx_read(images_path, &images), images_path);
    must(nnr_idx_read(labels_path, &labels), labels_path);
    if (images.ndim != 3 || images.dims[1] != FM || images.dims[2] != FM || labels.ndim != 1 || labels.data[0] > 9) {
        fprintf(stderr, "tutorial_pooling: %s is not N x 28 x 28 images with labels 0-9\n", images_path);
        exit(EXIT_FAILURE);
    }
    float x[FM * FM];
    for (size_t i = 0; i < FM * FM; i++)
        x[i] = (float)images.data[i] / 255.0f;
    printf("  %s image 0: label %d (%s), 28x28 bytes scaled to [0, 1]\n", images_path, labels.data[0],
           fashion_classes[labels.data[0]]);

    /* Keras MaxPooling2D((2,2)) and AveragePooling2D((2,2)) on (1, 28, 28, 1) */
    const nnr_pool_params p = nnr_pool_keras(2, 2);
    const nnr_shape in = { 4, { 1, FM, FM, 1 } };
    float ymax[FM_OUT * FM_OUT], yavg[FM_OUT * FM_OUT], gmax, gavg;
    must(nnr_maxpool_fwd(&p, &in, x, ymax, NULL), "nnr_maxpool_fwd");
    must(nnr_avgpool_fwd(&p, &in, x, yavg), "nnr_avgpool_fwd");
    const nnr_global_pool_params g = nnr_global_pool_keras(2);
    must(nnr_global_maxpool_fwd(&g, &in, x, &gmax), "nnr_global_maxpool_fwd");
    must(nnr_global_avgpool_fwd(&g, &in, x, &gavg), "nnr_global_avgpool_fwd");

    /* Printed in bytes: a max is one of the inputs (its byte exactly); an
     * average is 1/4 of a sum of four bytes, rounded here to the nearest
     * quarter, which float rounding (< 1e-4 bytes) cannot move. */
    printf("\n  2x2 max pooled (14x14, in bytes)                               2x2 average pooled (14x14, bytes, rounded)\n");
    double worst_avg = 0.0, max_of_max = 0.0, mean_of_avg = 0.0;
    int max_ge_avg = 1;
    for (int i = 0; i < FM_OUT; i++) {
        printf("  ");
        for (int j = 0; j < FM_OUT; j++)
            printf("%4ld", lround(ymax[i * FM_OUT + j] * 255.0));
        printf("    ");
        for (int j = 0; j < FM_OUT; j++) {
            const double quarters = (double)lround(yavg[i * FM_OUT + j] * 255.0 * 4.0);
            printf("%4ld", lround(floor(quarters / 4.0 + 0.5)));
            const uint8_t *b = images.data + (2 * i) * FM + 2 * j;
            const double want = (b[0] + b[1] + b[FM] + b[FM + 1]) / (4.0 * 255.0);
            worst_avg = fmax(worst_avg, fabs(yavg[i * FM_OUT + j] - want));
            max_of_max = fmax(max_of_max, ymax[i * FM_OUT + j]);
            mean_of_avg += yavg[i * FM_OUT + j] / (FM_OUT * FM_OUT);
            max_ge_avg &= ymax[i * FM_OUT + j] >= yavg[i * FM_OUT + j];
        }
        printf("\n");
    }
    double sum = 0.0;
    for (size_t i = 0; i < FM * FM; i++)
        sum += images.data[i];
    const double want_gavg = sum / (FM * FM * 255.0);
    printf("\n  global max %.4f (byte %ld), global average %.4f (sum of bytes %.0f / (784 * 255))\n", gmax,
           lround(gmax * 255.0), gavg, sum);
    printf("  The 2x2 windows tile the 28x28 image exactly, so the global max is the max of the max-pooled\n"
           "  map and the global average the mean of the average-pooled map; every max-pooled cell is >= its\n"
           "  average-pooled cell. Max pooling keeps the bright outline, average pooling blurs it.\n");

    /* each average: 4 float additions and a multiply or divide of values
     * <= 1, each rounding by at most 6e-8 */
    check_close(ck, "Fashion-MNIST 2x2 average = (sum of the window's 4 bytes)/(4*255)", worst_avg, 0.0, 3e-7);
    check_true(ck, "Fashion-MNIST every 2x2 max >= the 2x2 average of the same window", max_ge_avg);
    check_close(ck, "Fashion-MNIST global max = max of the 2x2 max-pooled map (exact)", gmax, max_of_max, 0.0);
    /* global average: summed in double (pool.h) from inputs that are
     * byte/255 rounded to float (3e-8 each), then one rounding to float
     * (3e-8); the mean of the pooled map averages 196 terms each within
     * the 3e-7 above */
    check_close(ck, "Fashion-MNIST global average = sum of bytes / (784*255)", gavg, want_gavg, 1.2e-7);
    check_close(ck, "Fashion-MNIST global average = mean of the 2x2 average-pooled map", gavg, mean_of_avg, 4e-7);

    if (datadir != NULL) {
        write_matrix(datadir, "image.dat", x, FM, FM);
        write_matrix(datadir, "maxpool.dat", ymax, FM_OUT, FM_OUT);
        write_matrix(datadir, "avgpool.dat", yavg, FM_OUT, FM_OUT);
        write_matrix(datadir, "global_max.dat", &gmax, 1, 1);
        write_matrix(datadir, "global_avg.dat", &gavg, 1, 1);
        FILE *f = open_data_file(datadir, "image_label.txt");
        fprintf(f, "%s\n", fashion_classes[labels.data[0]]);
        fclose(f);
    }
    nnr_idx_free(&images);
    nnr_idx_free(&labels);
}

/* ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    checks ck;
    const char *datadir;
    tutorial_parse_args(argc, argv, &ck, &datadir);

    printf("nnref %s tutorial 03: max, average and global pooling, Keras' and PyTorch's way\n", nnr_version());

    part_document_000(&ck);
    part_document_002(&ck);
    part_same_vs_torch(&ck);
    part_ties(&ck);
    part_windows(&ck, datadir);
    part_fashion_mnist(&ck, datadir);

    return tutorial_finish(&ck);
}
