/*
 * nnref gradcheck [LAYER...]: finite-difference gradient checks of the
 * double-precision naive kernels over a representative set of configurations,
 * one table row per (configuration, pass, tensor), and a closing line
 * "gradcheck: N passed, M failed" counting those rows.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "nnref.h"
#include "cli.h"

static void print_help(void)
{
    printf("Usage: nnref gradcheck [LAYER...]\n"
           "\n"
           "Checks every backward pass against central finite differences of the\n"
           "double-precision naive kernels (loss L = sum(out*g), g fixed random) and\n"
           "prints one row per checked tensor. Without LAYER, every layer is checked.\n"
           "Layers: batchnorm, layernorm, rmsnorm, groupnorm, instancenorm, maxpool,\n"
           "avgpool, globalpool, conv1d, conv2d, dropout, relu, softmax, softmax_xent, dense,\n"
           "model (a whole Conv2D -> GroupNorm -> ReLU -> Dense -> loss model).\n"
           "BatchNorm configurations: training (closed-form and staged backward) and\n"
           "inference; channels_first and channels_last; ranks 2 and 4; ghost batches;\n"
           "batch renormalization with r and d clipped; no affine centre.\n"
           "LayerNorm and RMSNorm configurations: Keras (last axis) and PyTorch (last\n"
           "two axes) presets, a middle axis, a non-contiguous axis set, affine off.\n"
           "GroupNorm configurations: PyTorch (channels_first) and Keras (channels_last)\n"
           "presets, ranks 2 to 5, G = 1, G = C, C=12/G=3, C=10/G=5, center/scale off.\n"
           "InstanceNorm: PyTorch (affine on) and Keras presets.\n"
           "Pooling (maxpool, avgpool, globalpool): Keras and PyTorch presets in 1D, 2D\n"
           "and 3D; 'valid', 'same', explicit padding with ceil_mode, count_include_pad\n"
           "off, divisor_override, dilation (max); global max with both tie rules and\n"
           "global average. Inputs are well separated (no ties), so no entry is a kink.\n"
           "Convolution (conv1d, conv2d): x, w and b of Keras and PyTorch presets;\n"
           "stride 2, dilation 2, 'same' (odd pad at the end), explicit and causal\n"
           "padding, 1x1 without bias.\n"
           "Dense: x, w and b in Keras (in, units) and PyTorch (out, in) weight layouts,\n"
           "with and without bias, inputs of rank 1 to 3 (leading axes are batch).\n"
           "Dropout: Keras and PyTorch presets, classic scaling (document 002),\n"
           "noise_shape broadcasting, a counter offset; the mask is fixed (same seed),\n"
           "so dropout is linear in x. ReLU: two entries planted at the kink (0, 1e-9)\n"
           "are reported as kinks. Softmax over the last axis, ranks 2 and 3, one\n"
           "class. softmax_xent: the batch-mean loss against the logits.\n"
           "model: the whole Conv2D -> GroupNorm -> ReLU -> Dense -> loss model in double,\n"
           "x and its six parameter tensors (nnr_gradcheck_model).\n"
           "\n"
           "Exit status: 0 all rows passed, 1 a row failed, 2 usage error.\n");
}

/* Row tallies for the closing line. */
typedef struct gc_tally {
    unsigned passed, failed;
} gc_tally;

/* One BatchNorm configuration: parameters, an input shape, the passes to check. */
typedef struct bn_case {
    const char *label;          /* pass-column suffix, short enough for the 14-wide column */
    const char *legend;         /* what the label stands for */
    nnr_batchnorm_params params;
    nnr_shape shape;
    int check_infer;            /* inference ignores ghost batches and renorm: checked once per layout */
} bn_case;

/*
 * Prints one checked problem and counts its rows. A row passes when its
 * tensor has no entry outside tolerance and the backward was deterministic,
 * which is how nnr_gc_print marks PASS.
 */
static void report_rows(const char *layer, const char *pass, const nnr_gc_report *report, gc_tally *tally)
{
    nnr_gc_print(stdout, layer, pass, report);
    for (size_t t = 0; t < report->n_tensors; t++) {
        if (report->deterministic && report->tensors[t].failed == 0)
            tally->passed++;
        else
            tally->failed++;
    }
}

static void check_batchnorm(gc_tally *tally)
{
    const nnr_batchnorm_params torch = nnr_batchnorm_torch();
    const nnr_batchnorm_params keras = nnr_batchnorm_keras();

    nnr_batchnorm_params torch_2d = torch;
    nnr_batchnorm_params keras_nhwc = keras;
    nnr_batchnorm_params ghost = nnr_batchnorm_tf2(4);
    ghost.virtual_batch_size = 2;
    nnr_batchnorm_params renorm = keras;
    renorm.renorm = 1;
    renorm.rmin = 0.8;
    renorm.rmax = 1.25;
    renorm.dmax = 0.25;
    nnr_batchnorm_params no_center = torch;
    no_center.center = 0;

    /* Shapes are small enough to perturb every entry, with m > 1 per channel
     * everywhere and unequal extents so that a transposed index shows. */
    const bn_case cases[] = {
        {"nchw", "PyTorch preset, channels_first (4,3,3,2), axis 1", torch, {4, {4, 3, 3, 2}}, 1},
        {"nhwc", "Keras 3 preset, channels_last (4,2,3,3), axis -1", keras_nhwc, {4, {4, 2, 3, 3}}, 1},
        {"2d", "PyTorch preset, rank 2 (6,4) as after Dense, axis 1", torch_2d, {2, {6, 4}}, 1},
        {"ghost", "tf.keras 2 preset, (4,2,3,3) axis -1, virtual_batch_size 2 (2 ghost batches)", ghost,
         {4, {4, 2, 3, 3}}, 0},
        {"renorm", "Keras 3 renorm, (4,2,3,3) axis -1, r in [0.8,1.25] and |d| <= 0.25, both clipped", renorm,
         {4, {4, 2, 3, 3}}, 0},
        {"center0", "PyTorch preset, rank 2 (5,3), center off (no beta)", no_center, {2, {5, 3}}, 1},
    };
    static const struct {
        nnr_bn_gc_pass pass;
        const char *name;
    } passes[] = {
        {NNR_BN_GC_TRAIN, "train"},
        {NNR_BN_GC_TRAIN_STAGED, "staged"},
        {NNR_BN_GC_INFER, "infer"},
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        printf("config %-8s %s\n", cases[c].label, cases[c].legend);
    printf("passes: train = training forward + closed-form backward, staged = + staged backward (doc 002),\n"
           "        infer = inference forward + backward with running statistics\n\n");
    nnr_gc_print_header(stdout);

    uint64_t seed = 2024;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t k = 0; k < sizeof passes / sizeof passes[0]; k++) {
            if (passes[k].pass == NNR_BN_GC_INFER && !cases[c].check_infer)
                continue;
            char pass[64];
            snprintf(pass, sizeof pass, "%s/%s", passes[k].name, cases[c].label);
            nnr_gc_report report;
            nnr_status st = nnr_gradcheck_batchnorm(&cases[c].params, &cases[c].shape, passes[k].pass,
                                                    seed++, NULL, &report);
            if (st.code != NNR_OK) {
                /* A harness that could not run proves nothing: that is a failed row. */
                printf("%-10s %-14s %-15s %8s %12s %12s %7s  FAIL (%s)\n", "batchnorm", pass, "-", "-", "-", "-", "-",
                       nnr_strerror(&st));
                tally->failed++;
                continue;
            }
            report_rows("batchnorm", pass, &report, tally);
        }
    }
}

/* One LayerNorm or RMSNorm configuration: an input shape and the normalized axes. */
typedef struct ln_case {
    const char *label;          /* pass-column suffix */
    const char *legend;
    int torch;                  /* 1: PyTorch preset (eps 1e-5 / FLT_EPSILON), 0: Keras */
    nnr_shape shape;
    int axes[NNR_MAX_RANK];
    size_t n_axes;
    int affine;                 /* 0: center and scale off */
} ln_case;

static const ln_case ln_cases[] = {
    {"keras", "Keras 3 preset, (4,6) axis -1", 0, {2, {4, 6}}, {-1}, 1, 1},
    {"torch", "PyTorch preset, (3,4,5) normalized_shape (4,5)", 1, {3, {3, 4, 5}}, {-2, -1}, 2, 1},
    {"middle", "Keras 3 preset, (2,5,3) axis 1 (a middle axis)", 0, {3, {2, 5, 3}}, {1}, 1, 1},
    {"noncontig", "Keras 3 preset, (3,2,4) axes [0, 2] (not contiguous)", 0, {3, {3, 2, 4}}, {0, 2}, 2, 1},
    {"affine0", "PyTorch preset, (3,7), elementwise_affine off", 1, {2, {3, 7}}, {-1}, 1, 0},
};

static void check_layernorm(gc_tally *tally, int rms)
{
    const char *layer = rms ? "rmsnorm" : "layernorm";
    for (size_t c = 0; c < sizeof ln_cases / sizeof ln_cases[0]; c++)
        printf("config %-9s %s\n", ln_cases[c].label, ln_cases[c].legend);
    printf("pass: train = forward + backward (no running statistics)\n\n");
    nnr_gc_print_header(stdout);
    uint64_t seed = rms ? 3030 : 2025;
    for (size_t c = 0; c < sizeof ln_cases / sizeof ln_cases[0]; c++) {
        const ln_case *lc = &ln_cases[c];
        char pass[64];
        snprintf(pass, sizeof pass, "train/%s", lc->label);
        nnr_gc_report report;
        nnr_status st;
        if (rms) {
            nnr_rmsnorm_params p = lc->torch ? nnr_rmsnorm_torch(lc->n_axes) : nnr_rmsnorm_keras();
            memcpy(p.axes, lc->axes, sizeof p.axes);
            p.n_axes = lc->n_axes;
            p.scale = lc->affine;
            st = nnr_gradcheck_rmsnorm(&p, &lc->shape, seed++, NULL, &report);
        } else {
            nnr_layernorm_params p = lc->torch ? nnr_layernorm_torch(lc->n_axes) : nnr_layernorm_keras();
            memcpy(p.axes, lc->axes, sizeof p.axes);
            p.n_axes = lc->n_axes;
            p.center = p.scale = lc->affine;
            st = nnr_gradcheck_layernorm(&p, &lc->shape, seed++, NULL, &report);
        }
        if (st.code != NNR_OK) {
            printf("%-10s %-14s %-15s %8s %12s %12s %7s  FAIL (%s)\n", layer, pass, "-", "-", "-", "-", "-", nnr_strerror(&st));
            tally->failed++;
            continue;
        }
        report_rows(layer, pass, &report, tally);
    }
}

/* One GroupNorm configuration. */
typedef struct gn_case {
    const char *label;
    const char *legend;
    int torch;                  /* 1: PyTorch preset (channels_first), 0: Keras (channels_last) */
    int groups;
    nnr_shape shape;
    int affine;
} gn_case;

static const gn_case gn_cases[] = {
    {"torch-r2", "PyTorch GroupNorm(2, 6), (4,6)", 1, 2, {2, {4, 6}}, 1},
    {"torch-r4", "PyTorch GroupNorm(2, 4), (2,4,3,3)", 1, 2, {4, {2, 4, 3, 3}}, 1},
    {"keras-r3", "Keras GroupNormalization(2), (3,5,4)", 0, 2, {3, {3, 5, 4}}, 1},
    {"keras-r5", "Keras GroupNormalization(2), (2,2,3,2,4)", 0, 2, {5, {2, 2, 3, 2, 4}}, 1},
    {"g1", "PyTorch GroupNorm(1, 3), (2,3,3,2)", 1, 1, {4, {2, 3, 3, 2}}, 1},
    {"g-eq-c", "Keras GroupNormalization(-1), (2,3,2,4)", 0, -1, {4, {2, 3, 2, 4}}, 1},
    {"c12-g3", "PyTorch GroupNorm(3, 12), (2,12,3)", 1, 3, {3, {2, 12, 3}}, 1},
    {"c10-g5", "Keras GroupNormalization(5), (2,3,10)", 0, 5, {3, {2, 3, 10}}, 1},
    {"affine0", "PyTorch GroupNorm(2, 4, affine=False), (2,4,3)", 1, 2, {3, {2, 4, 3}}, 0},
};

static void check_groupnorm(gc_tally *tally)
{
    for (size_t c = 0; c < sizeof gn_cases / sizeof gn_cases[0]; c++)
        printf("config %-9s %s\n", gn_cases[c].label, gn_cases[c].legend);
    printf("pass: train = forward + backward (GroupNorm has no running statistics)\n\n");
    nnr_gc_print_header(stdout);
    uint64_t seed = 3131;
    for (size_t c = 0; c < sizeof gn_cases / sizeof gn_cases[0]; c++) {
        const gn_case *gc = &gn_cases[c];
        nnr_groupnorm_params p = gc->torch ? nnr_groupnorm_torch(gc->groups) : nnr_groupnorm_keras(gc->groups);
        p.center = p.scale = gc->affine;
        char pass[64];
        snprintf(pass, sizeof pass, "train/%s", gc->label);
        nnr_gc_report report;
        nnr_status st = nnr_gradcheck_groupnorm(&p, &gc->shape, seed++, NULL, &report);
        if (st.code != NNR_OK) {
            printf("%-10s %-14s %-15s %8s %12s %12s %7s  FAIL (%s)\n", "groupnorm", pass, "-", "-", "-", "-", "-",
                   nnr_strerror(&st));
            tally->failed++;
            continue;
        }
        report_rows("groupnorm", pass, &report, tally);
    }
}

static void check_instancenorm(gc_tally *tally)
{
    printf("config torch     PyTorch InstanceNorm1d(4, affine=True), (3,4,5)\n"
           "config keras     Keras InstanceNormalization, (2,3,2,3)\n"
           "pass: train = forward + backward through the InstanceNorm entry points\n\n");
    nnr_gc_print_header(stdout);
    for (int keras = 0; keras < 2; keras++) {
        nnr_instancenorm_params p = keras ? nnr_instancenorm_keras() : nnr_instancenorm_torch();
        p.center = p.scale = 1;
        const nnr_shape shape = keras ? (nnr_shape){4, {2, 3, 2, 3}} : (nnr_shape){3, {3, 4, 5}};
        const char *pass = keras ? "train/keras" : "train/torch";
        nnr_gc_report report;
        nnr_status st = nnr_gradcheck_instancenorm(&p, &shape, 4141 + (uint64_t)keras, NULL, &report);
        if (st.code != NNR_OK) {
            printf("%-10s %-14s %-15s %8s %12s %12s %7s  FAIL (%s)\n", "instnorm", pass, "-", "-", "-", "-", "-",
                   nnr_strerror(&st));
            tally->failed++;
            continue;
        }
        report_rows("instnorm", pass, &report, tally);
    }
}

/* One windowed pooling configuration, from a preset; zero entries keep the preset's. */
typedef struct pool_case {
    const char *label;
    const char *legend;
    int torch;                      /* 1: nnr_pool_torch (channels_first), 0: nnr_pool_keras */
    int dims, window;
    int stride, pad, dilation;      /* the same on every axis */
    nnr_pool_padding padding;
    int ceil_mode, count_include_pad, divisor_override;
    nnr_shape shape;
} pool_case;

static const pool_case pool_cases[] = {
    {"keras-1d", "Keras MaxPooling1D/AveragePooling1D(2), (2,9,3)", 0, 1, 2, 0, 0, 0, NNR_POOL_VALID, 0, 0, 0,
     {3, {2, 9, 3}}},
    {"keras-2d", "Keras *Pooling2D(2), (2,6,6,3)", 0, 2, 2, 0, 0, 0, NNR_POOL_VALID, 0, 0, 0, {4, {2, 6, 6, 3}}},
    {"keras-same", "Keras *Pooling2D(3, strides=1, padding='same'), (2,5,6,3)", 0, 2, 3, 1, 0, 0, NNR_POOL_SAME, 0,
     0, 0, {4, {2, 5, 6, 3}}},
    {"keras-3d", "Keras *Pooling3D(2, padding='same'), (2,3,5,4,3)", 0, 3, 2, 0, 0, 0, NNR_POOL_SAME, 0, 0, 0,
     {5, {2, 3, 5, 4, 3}}},
    {"torch-ceil", "PyTorch *Pool2d(3, stride=2, padding=1, ceil_mode=True), (2,3,7,8)", 1, 2, 3, 2, 1, 0,
     NNR_POOL_EXPLICIT, 1, 1, 0, {4, {2, 3, 7, 8}}},
    {"torch-nocip", "PyTorch *Pool1d(3, stride=2, padding=1, count_include_pad=False), (2,3,11)", 1, 1, 3, 2, 1, 0,
     NNR_POOL_EXPLICIT, 0, 0, 0, {3, {2, 3, 11}}},
    {"torch-div", "PyTorch AvgPool2d(2, stride=1, divisor_override=3) / MaxPool2d(2, stride=1), (2,3,5,5)", 1, 2, 2,
     1, 0, 0, NNR_POOL_EXPLICIT, 0, 1, 3, {4, {2, 3, 5, 5}}},
    {"torch-3d", "PyTorch *Pool3d(2, padding=1), (2,3,4,5,3)", 1, 3, 2, 0, 1, 0, NNR_POOL_EXPLICIT, 0, 1, 0,
     {5, {2, 3, 4, 5, 3}}},
    {"torch-dil", "PyTorch MaxPool2d(3, stride=1, padding=2, dilation=2), (2,3,7,8) (max only)", 1, 2, 3, 1, 2, 2,
     NNR_POOL_EXPLICIT, 0, 1, 0, {4, {2, 3, 7, 8}}},
};

/* Prints a row for a check that could not run and counts it failed. */
static void report_error(const char *layer, const char *pass, nnr_status st, gc_tally *tally)
{
    printf("%-10s %-14s %-15s %8s %12s %12s %7s  FAIL (%s)\n", layer, pass, "-", "-", "-", "-", "-", nnr_strerror(&st));
    tally->failed++;
}

static void check_pooling(gc_tally *tally, int max, int avg)
{
    for (size_t c = 0; c < sizeof pool_cases / sizeof pool_cases[0]; c++)
        printf("config %-11s %s\n", pool_cases[c].label, pool_cases[c].legend);
    printf("pass: forward + backward; inputs a permutation of 0.1 steps (no ties, no kinks)\n\n");
    nnr_gc_print_header(stdout);
    uint64_t seed = 5151;
    for (size_t c = 0; c < sizeof pool_cases / sizeof pool_cases[0]; c++) {
        const pool_case *pc = &pool_cases[c];
        nnr_pool_params p = pc->torch ? nnr_pool_torch(pc->dims, pc->window) : nnr_pool_keras(pc->dims, pc->window);
        for (int i = 0; i < pc->dims; i++) {
            if (pc->stride != 0)   /* 0 in the table: the preset's strides=None */
                p.stride[i] = pc->stride;
            p.pad[i] = pc->pad;
            if (pc->dilation != 0)
                p.dilation[i] = pc->dilation;
        }
        p.padding = pc->padding;
        p.ceil_mode = pc->ceil_mode;
        p.count_include_pad = pc->count_include_pad;
        p.has_divisor_override = pc->divisor_override != 0;
        p.divisor_override = pc->divisor_override;
        nnr_gc_report report;
        nnr_status st;
        if (max) {
            st = nnr_gradcheck_maxpool(&p, &pc->shape, NULL, seed++, NULL, &report);
            if (st.code != NNR_OK)
                report_error("maxpool", pc->label, st, tally);
            else
                report_rows("maxpool", pc->label, &report, tally);
        }
        if (avg && pc->dilation == 0) {
            st = nnr_gradcheck_avgpool(&p, &pc->shape, NULL, seed++, NULL, &report);
            if (st.code != NNR_OK)
                report_error("avgpool", pc->label, st, tally);
            else
                report_rows("avgpool", pc->label, &report, tally);
        }
    }
}

static void check_global_pooling(gc_tally *tally)
{
    printf("config keras-Nd/first|split  Keras GlobalMax/AveragePooling{1,2,3}D on (2,7,3), (2,4,5,3), (2,3,2,4,3)\n"
           "config torch-Nd/first|split  PyTorch amax/mean over the spatial axes of (2,3,7), (2,3,4,5), (2,3,3,2,4)\n"
           "pass: forward + backward; max with the first-maximum and the split tie rules (no ties in the input)\n\n");
    nnr_gc_print_header(stdout);
    static const size_t spatial[3][3] = {{7}, {4, 5}, {3, 2, 4}};
    uint64_t seed = 6161;
    for (int dims = 1; dims <= 3; dims++)
        for (int torch = 0; torch < 2; torch++) {
            nnr_global_pool_params g = torch ? nnr_global_pool_torch(dims) : nnr_global_pool_keras(dims);
            nnr_shape shape = {(size_t)dims + 2, {2}};
            for (int i = 0; i < dims; i++)
                shape.dims[(torch ? 2 : 1) + i] = spatial[dims - 1][i];
            shape.dims[torch ? 1 : (size_t)dims + 1] = 3;
            char pass[32];
            nnr_gc_report report;
            nnr_status st;
            for (int first = 0; first < 2; first++) {
                g.ties = first ? NNR_POOL_TIES_FIRST : NNR_POOL_TIES_SPLIT;
                snprintf(pass, sizeof pass, "%s-%dd/%s", torch ? "torch" : "keras", dims, first ? "first" : "split");
                st = nnr_gradcheck_global_maxpool(&g, &shape, NULL, seed++, NULL, &report);
                if (st.code != NNR_OK)
                    report_error("globalmax", pass, st, tally);
                else
                    report_rows("globalmax", pass, &report, tally);
            }
            snprintf(pass, sizeof pass, "%s-%dd", torch ? "torch" : "keras", dims);
            st = nnr_gradcheck_global_avgpool(&g, &shape, NULL, seed++, NULL, &report);
            if (st.code != NNR_OK)
                report_error("globalavg", pass, st, tally);
            else
                report_rows("globalavg", pass, &report, tally);
        }
}

/* One convolution configuration; zero per-axis entries keep the preset's. */
typedef struct conv_case {
    const char *label;
    const char *legend;
    int torch;                      /* 1: nnr_conv_torch (channels_first, (C_out, C_in, k...) weights), 0: Keras */
    int dims, cin, cout, kernel;
    int stride, dilation;           /* the same on every axis */
    nnr_conv_padding padding;
    int pad_before, pad_after;      /* explicit, every axis */
    int use_bias;
    nnr_shape shape;
} conv_case;

static const conv_case conv_cases[] = {
    {"1d-torch-s2", "PyTorch Conv1d(3, 2, 3, stride=2, padding=1), (2,3,9)", 1, 1, 3, 2, 3, 2, 1,
     NNR_CONV_EXPLICIT, 1, 1, 1, {3, {2, 3, 9}}},
    {"1d-keras-same", "Keras Conv1D(3, 4, strides=2, padding='same'), (2,8,2)", 0, 1, 2, 3, 4, 2, 1,
     NNR_CONV_SAME, 0, 0, 1, {3, {2, 8, 2}}},
    {"1d-keras-dil2", "Keras Conv1D(2, 3, dilation_rate=2, padding='same'), (2,7,3)", 0, 1, 3, 2, 3, 1, 2,
     NNR_CONV_SAME, 0, 0, 1, {3, {2, 7, 3}}},
    {"1d-causal", "Keras Conv1D(2, 3, padding='causal') = explicit (2, 0), no bias, (2,6,2)", 0, 1, 2, 2, 3, 1, 1,
     NNR_CONV_EXPLICIT, 2, 0, 0, {3, {2, 6, 2}}},
    {"2d-torch-s2", "PyTorch Conv2d(2, 3, 3, stride=2, padding=1), (2,2,7,6)", 1, 2, 2, 3, 3, 2, 1,
     NNR_CONV_EXPLICIT, 1, 1, 1, {4, {2, 2, 7, 6}}},
    {"2d-torch-d2", "PyTorch Conv2d(2, 3, 3, stride=2, dilation=2), pads 1 before and 2 after, (2,2,8,7)", 1, 2, 2, 3, 3,
     2, 2, NNR_CONV_EXPLICIT, 1, 2, 1, {4, {2, 2, 8, 7}}},
    {"2d-keras-same", "Keras Conv2D(2, 3, strides=2, padding='same'), (2,5,6,3)", 0, 2, 3, 2, 3, 2, 1,
     NNR_CONV_SAME, 0, 0, 1, {4, {2, 5, 6, 3}}},
    {"2d-keras-dil2", "Keras Conv2D(3, 2, dilation_rate=2), (1,7,7,2)", 0, 2, 2, 3, 2, 1, 2, NNR_CONV_VALID, 0,
     0, 1, {4, {1, 7, 7, 2}}},
    {"2d-1x1", "PyTorch Conv2d(3, 4, 1, bias=False), (2,3,3,4)", 1, 2, 3, 4, 1, 1, 1, NNR_CONV_EXPLICIT, 0, 0, 0,
     {4, {2, 3, 3, 4}}},
};

static void check_conv(gc_tally *tally, int want_1d, int want_2d)
{
    for (size_t c = 0; c < sizeof conv_cases / sizeof conv_cases[0]; c++)
        if (conv_cases[c].dims == 1 ? want_1d : want_2d)
            printf("config %-13s %s\n", conv_cases[c].label, conv_cases[c].legend);
    printf("pass: forward + backward (dx, dw, db); x ~ N(0,1), w ~ 0.5 N(0,1), b ~ N(0,1); linear: no kinks\n\n");
    nnr_gc_print_header(stdout);
    uint64_t seed = 7171;
    for (size_t c = 0; c < sizeof conv_cases / sizeof conv_cases[0]; c++) {
        const conv_case *cc = &conv_cases[c];
        if (!(cc->dims == 1 ? want_1d : want_2d))
            continue;
        nnr_conv_params p = cc->torch ? nnr_conv_torch(cc->dims, cc->cin, cc->cout, cc->kernel)
                                      : nnr_conv_keras(cc->dims, cc->cin, cc->cout, cc->kernel);
        p.padding = cc->padding;
        p.use_bias = cc->use_bias;
        for (int i = 0; i < cc->dims; i++) {
            p.stride[i] = cc->stride;
            p.dilation[i] = cc->dilation;
            p.pad_before[i] = cc->padding == NNR_CONV_EXPLICIT ? cc->pad_before : 0;
            p.pad_after[i] = cc->padding == NNR_CONV_EXPLICIT ? cc->pad_after : 0;
        }
        const char *layer = cc->dims == 1 ? "conv1d" : "conv2d";
        nnr_gc_report report;
        nnr_status st = nnr_gradcheck_conv(&p, &cc->shape, seed++, NULL, &report);
        if (st.code != NNR_OK)
            report_error(layer, cc->label, st, tally);
        else
            report_rows(layer, cc->label, &report, tally);
    }
}

/* One Dense configuration. */
typedef struct dense_case {
    const char *label;
    const char *legend;
    int torch;        /* 1: nnr_dense_torch ((out, in) weight), 0: nnr_dense_keras ((in, units) kernel) */
    size_t units;
    int use_bias;
    nnr_shape shape;  /* last extent = in_features */
} dense_case;

static const dense_case dense_cases[] = {
    {"keras", "Keras Dense(3) on (4,5)", 0, 3, 1, {2, {4, 5}}},
    {"torch", "PyTorch Linear(5, 3) on (4,5)", 1, 3, 1, {2, {4, 5}}},
    {"keras-nobias", "Keras Dense(6, use_bias=False) on (3,7)", 0, 6, 0, {2, {3, 7}}},
    {"keras-rank3", "Keras Dense(2) on (2,3,4): last axis, leading axes batch", 0, 2, 1, {3, {2, 3, 4}}},
    {"torch-rank1", "PyTorch Linear(6, 2) on (6,)", 1, 2, 1, {1, {6}}},
};

static void check_dense(gc_tally *tally)
{
    for (size_t c = 0; c < sizeof dense_cases / sizeof dense_cases[0]; c++)
        printf("config %-13s %s\n", dense_cases[c].label, dense_cases[c].legend);
    printf("pass: forward + backward (dx, dw, db); x ~ N(0,1), w ~ 0.5 N(0,1), b ~ N(0,1); linear: no kinks\n\n");
    nnr_gc_print_header(stdout);
    uint64_t seed = 9191;
    for (size_t c = 0; c < sizeof dense_cases / sizeof dense_cases[0]; c++) {
        const dense_case *dc = &dense_cases[c];
        const size_t in = dc->shape.dims[dc->shape.rank - 1];
        nnr_dense_params p = dc->torch ? nnr_dense_torch(in, dc->units) : nnr_dense_keras(in, dc->units);
        p.use_bias = dc->use_bias;
        nnr_gc_report report;
        nnr_status st = nnr_gradcheck_dense(&p, &dc->shape, seed++, NULL, &report);
        if (st.code != NNR_OK)
            report_error("dense", dc->label, st, tally);
        else
            report_rows("dense", dc->label, &report, tally);
    }
}

/* One dropout configuration, from a preset. */
typedef struct dropout_case {
    const char *label;
    const char *legend;
    int torch;                  /* 1: nnr_dropout_torch, 0: nnr_dropout_keras */
    double rate;
    int inverted;
    uint64_t offset;
    nnr_shape noise_shape;      /* rank 0: None */
    nnr_shape shape;
} dropout_case;

static const dropout_case dropout_cases[] = {
    {"keras-0.5", "Keras Dropout(0.5), (4,6)", 0, 0.5, 1, 0, {0, {0}}, {2, {4, 6}}},
    {"torch-0.2", "PyTorch Dropout(0.2), (3,2,5)", 1, 0.2, 1, 0, {0, {0}}, {3, {3, 2, 5}}},
    {"classic", "classic scaling (document 002, Srivastava), rate 0.3, (4,6)", 0, 0.3, 0, 0, {0, {0}}, {2, {4, 6}}},
    {"noise", "Keras Dropout(0.4, noise_shape=(2,1,1,3)), (2,3,2,3)", 0, 0.4, 1, 0, {4, {2, 1, 1, 3}},
     {4, {2, 3, 2, 3}}},
    {"offset", "PyTorch Dropout(0.5), counter offset 13 (a later batch), (3,7)", 1, 0.5, 1, 13, {0, {0}},
     {2, {3, 7}}},
};

static void check_dropout(gc_tally *tally)
{
    for (size_t c = 0; c < sizeof dropout_cases / sizeof dropout_cases[0]; c++)
        printf("config %-10s %s\n", dropout_cases[c].label, dropout_cases[c].legend);
    printf("pass: training forward + backward with a fixed mask (same seed and offset each forward)\n\n");
    nnr_gc_print_header(stdout);
    uint64_t seed = 7171;
    for (size_t c = 0; c < sizeof dropout_cases / sizeof dropout_cases[0]; c++) {
        const dropout_case *dc = &dropout_cases[c];
        nnr_dropout_params p = dc->torch ? nnr_dropout_torch(dc->rate) : nnr_dropout_keras(dc->rate);
        p.inverted = dc->inverted;
        p.seed = seed;
        p.offset = dc->offset;
        p.noise_shape = dc->noise_shape;
        nnr_gc_report report;
        nnr_status st = nnr_gradcheck_dropout(&p, &dc->shape, seed++, NULL, &report);
        if (st.code != NNR_OK)
            report_error("dropout", dc->label, st, tally);
        else
            report_rows("dropout", dc->label, &report, tally);
    }
}

static void check_activations(gc_tally *tally, int relu, int softmax, int xent)
{
    printf("config relu       ReLU on (4,6), standard normal with x[0] = 0 and x[1] = 1e-9 (kinks)\n"
           "config r2/r3/k1   softmax over the last axis of (3,5), (2,3,4), (4,1)\n"
           "config n4k10      xent = softmax_xent: the mean loss against logits (4,10) (after Dense(10)), random labels\n"
           "config n3k3/n2k17 softmax_xent on (3,3) and (2,17)\n"
           "pass: forward + backward\n\n");
    nnr_gc_print_header(stdout);
    nnr_gc_report report;
    nnr_status st;
    if (relu) {
        const nnr_shape s = {2, {4, 6}};
        st = nnr_gradcheck_relu(&s, NULL, 8181, NULL, &report);
        if (st.code != NNR_OK)
            report_error("relu", "relu", st, tally);
        else
            report_rows("relu", "relu", &report, tally);
    }
    if (softmax) {
        static const struct {
            const char *label;
            nnr_shape shape;
        } cases[] = {{"r2", {2, {3, 5}}}, {"r3", {3, {2, 3, 4}}}, {"k1", {2, {4, 1}}}};
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            st = nnr_gradcheck_softmax(&cases[c].shape, NULL, 8282 + c, NULL, &report);
            if (st.code != NNR_OK)
                report_error("softmax", cases[c].label, st, tally);
            else
                report_rows("softmax", cases[c].label, &report, tally);
        }
    }
    if (xent) {
        static const struct {
            const char *label;
            nnr_shape shape;
        } cases[] = {{"n4k10", {2, {4, 10}}}, {"n3k3", {2, {3, 3}}}, {"n2k17", {2, {2, 17}}}};
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            st = nnr_gradcheck_softmax_xent(&cases[c].shape, NULL, NULL, 8383 + c, NULL, &report);
            if (st.code != NNR_OK)
                report_error("xent", cases[c].label, st, tally);
            else
                report_rows("xent", cases[c].label, &report, tally);
        }
    }
}

/* The whole model in double, end to end with its loss
 * (nnr_gradcheck_model): x and every trainable tensor. */
static void check_model(gc_tally *tally)
{
    printf("config end-to-end  Conv2D(4, 3x3, 'same') -> GroupNorm(2) -> ReLU -> Flatten -> Dense(3) ->\n"
           "                   softmax cross-entropy, Keras presets, (3,5,5,2), labels (2,0,1)\n"
           "pass: the model's training forward + loss, backward through every layer; parameters 1 + 0.3 N(0,1)\n"
           "      (gamma) or 0.3 N(0,1), x ~ N(0,1); ReLU inputs stay farther from 0 than the step\n\n");
    nnr_gc_print_header(stdout);
    nnr_model *m = NULL;
    nnr_conv_params cp = nnr_conv_keras(2, 2, 4, 3);
    cp.padding = NNR_CONV_SAME;
    const nnr_groupnorm_params gn = nnr_groupnorm_keras(2);
    const nnr_dense_params dp = nnr_dense_keras(100, 3);
    const nnr_shape in = {4, {3, 5, 5, 2}};
    nnr_status st = nnr_model_new(&m, NNR_FLOAT64);
    if (st.code == NNR_OK)
        st = nnr_model_add_conv(m, &cp);
    if (st.code == NNR_OK)
        st = nnr_model_add_groupnorm(m, &gn);
    if (st.code == NNR_OK)
        st = nnr_model_add_relu(m);
    if (st.code == NNR_OK)
        st = nnr_model_add_flatten(m);
    if (st.code == NNR_OK)
        st = nnr_model_add_dense(m, &dp);
    if (st.code == NNR_OK)
        st = nnr_model_build(m, &in, 5);
    double x[150];
    for (size_t i = 0; i < 150; i++)
        x[i] = nnr_rng_normal(11, i);
    for (size_t i = 0; st.code == NNR_OK && i < nnr_model_n_layers(m); i++) {
        nnr_layer *l = nnr_model_layer(m, i);
        for (size_t k = 0; k < l->n_params; k++)
            for (size_t j = 0; j < l->params[k].count; j++)
                ((double *)l->params[k].data)[j] = (l->params[k].init == NNR_INIT_ONES ? 1.0 : 0.0) +
                                                   0.3 * nnr_rng_normal(24 + 97 * i + k, j);
    }
    const int32_t labels[3] = {2, 0, 1};
    nnr_gc_report report;
    if (st.code == NNR_OK)
        st = nnr_gradcheck_model(m, 3, x, labels, NULL, &report);
    if (st.code != NNR_OK)
        report_error("model", "end-to-end", st, tally);
    else
        report_rows("model", "end-to-end", &report, tally);
    nnr_model_free(m);
}

int nnr_cmd_gradcheck(int argc, char **argv)
{
    int want_dense = 0;
    int want_model = 0;
    int want_dropout = 0, want_relu = 0, want_softmax = 0, want_xent = 0;
    int want_groupnorm = 0, want_instancenorm = 0;
    int want_layernorm = 0, want_rmsnorm = 0;
    int want_batchnorm = 0;
    int want_maxpool = 0, want_avgpool = 0, want_globalpool = 0;
    int want_conv1d = 0, want_conv2d = 0;
    for (int i = 1; i < argc; i++) {
        if (nnr_is_help(argv[i])) {
            print_help();
            return NNR_EXIT_OK;
        }
        if (argv[i][0] == '-')
            return nnr_usage_error("gradcheck", "unknown option '%s'; gradcheck takes only layer names.", argv[i]);
        if (strcmp(argv[i], "model") == 0) {
            want_model = 1;
            continue;
        }
        if (!nnr_layer_known(argv[i]))
            return nnr_usage_error("gradcheck",
                                   "unknown layer '%s'; the layers are: batchnorm, layernorm, rmsnorm, groupnorm, "
                                   "instancenorm, maxpool, avgpool, globalpool, conv1d, conv2d, dropout, relu, softmax, "
                                   "softmax_xent, dense, model.", argv[i]);
        if (strcmp(argv[i], "batchnorm") == 0)
            want_batchnorm = 1;
        if (strcmp(argv[i], "layernorm") == 0)
            want_layernorm = 1;
        if (strcmp(argv[i], "rmsnorm") == 0)
            want_rmsnorm = 1;
        if (strcmp(argv[i], "groupnorm") == 0)
            want_groupnorm = 1;
        if (strcmp(argv[i], "instancenorm") == 0)
            want_instancenorm = 1;
        if (strcmp(argv[i], "maxpool") == 0)
            want_maxpool = 1;
        if (strcmp(argv[i], "avgpool") == 0)
            want_avgpool = 1;
        if (strcmp(argv[i], "globalpool") == 0)
            want_globalpool = 1;
        if (strcmp(argv[i], "conv1d") == 0)
            want_conv1d = 1;
        if (strcmp(argv[i], "conv2d") == 0)
            want_conv2d = 1;
        want_dropout |= strcmp(argv[i], "dropout") == 0;
        want_relu |= strcmp(argv[i], "relu") == 0;
        want_softmax |= strcmp(argv[i], "softmax") == 0;
        want_xent |= strcmp(argv[i], "softmax_xent") == 0;
        if (strcmp(argv[i], "dense") == 0)
            want_dense = 1;
    }
    if (argc < 2)
        want_batchnorm = want_layernorm = want_rmsnorm = want_groupnorm = want_instancenorm = want_maxpool =
            want_avgpool = want_globalpool = want_conv1d = want_conv2d = want_dense = 1;

    if (argc < 2)
        want_dropout = want_relu = want_softmax = want_xent = 1;
    if (argc < 2)
        want_model = 1;

    gc_tally tally = {0, 0};
    if (want_batchnorm)
        check_batchnorm(&tally);
    if (want_layernorm)
        check_layernorm(&tally, 0);
    if (want_rmsnorm)
        check_layernorm(&tally, 1);
    if (want_groupnorm)
        check_groupnorm(&tally);
    if (want_instancenorm)
        check_instancenorm(&tally);
    if (want_maxpool || want_avgpool)
        check_pooling(&tally, want_maxpool, want_avgpool);
    if (want_globalpool)
        check_global_pooling(&tally);
    if (want_conv1d || want_conv2d)
        check_conv(&tally, want_conv1d, want_conv2d);
    if (want_dense)
        check_dense(&tally);
    if (want_dropout)
        check_dropout(&tally);
    if (want_relu || want_softmax || want_xent)
        check_activations(&tally, want_relu, want_softmax, want_xent);
    if (want_model)
        check_model(&tally);
    printf("gradcheck: %u passed, %u failed\n", tally.passed, tally.failed);
    return tally.failed == 0 ? NNR_EXIT_OK : NNR_EXIT_FAIL;
}
