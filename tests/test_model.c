/*
 * Check program of the model (include/nnref/model.h): layers as objects, the
 * Sequential container, initialisation, optimizers, parameter files.
 *
 *   reference  a float model's forward equals the dispatching kernels called
 *              one after the other (bitwise, running statistics included);
 *              initial values are Keras' (γ 1, β 0, running variance 1)
 *   gradcheck  whole double models, end to end, through the public harness
 *   optimizer  SGD and Adam steps against hand-computed values of Keras' and
 *              PyTorch's formulas
 *   files      save -> load round trip bitwise; truncated, corrupt and
 *              foreign files rejected with the field or tensor named
 *   errors     bad input everywhere: a status and a sentence, nothing changed
 *
 * Set NNREF_GC_VERBOSE=1 to print the gradient-check tables.
 */
#include "config.h"
#include <stdio.h>
#include <unistd.h>
#include "test_util.h"

static int verbose(void)
{
    const char *v = getenv("NNREF_GC_VERBOSE");
    return v != NULL && v[0] == '1';
}

#define CK_OK(call) do { nnr_status st_ = (call); \
    ck_assert_msg(st_.code == NNR_OK, "%s: %s", #call, nnr_strerror(&st_)); } while (0)

/* Fills every trainable tensor of a model with gamma-like (1 + 0.3 N(0,1))
 * or beta-like (0.3 N(0,1)) values, so the kernels see non-trivial parameters. */
static void randomize_params(nnr_model *m, uint64_t seed)
{
    for (size_t i = 0; i < nnr_model_n_layers(m); i++) {
        nnr_layer *l = nnr_model_layer(m, i);
        for (size_t k = 0; k < l->n_params; k++) {
            nnr_model_tensor *t = &l->params[k];
            const double mean = t->init == NNR_INIT_ONES ? 1.0 : 0.0;
            for (size_t j = 0; j < t->count; j++) {
                const double v = mean + 0.3 * nnr_rng_normal(seed + 97 * i + k, j);
                if (t->dtype == NNR_FLOAT32)
                    ((float *)t->data)[j] = (float)v;
                else
                    ((double *)t->data)[j] = v;
            }
        }
    }
}

static nnr_model_tensor *tensor(nnr_model *m, size_t layer, const char *name)
{
    nnr_layer *l = nnr_model_layer(m, layer);
    ck_assert_ptr_nonnull(l);
    for (size_t k = 0; k < l->n_params; k++)
        if (strcmp(l->params[k].name, name) == 0)
            return &l->params[k];
    for (size_t k = 0; k < l->n_state; k++)
        if (strcmp(l->state[k].name, name) == 0)
            return &l->state[k];
    ck_abort_msg("layer %zu has no tensor %s", layer, name);
    return NULL;
}

static float *fdata(nnr_model *m, size_t layer, const char *name)
{
    return tensor(m, layer, name)->data;
}

/* ---- reference ----------------------------------------------------------------- */

/*
 * Every normalization and pooling layer in one float model on a (4, 6, 6, 4)
 * channels_last batch, against the same dispatching kernels called by hand
 * on the same parameters: the outputs and the running statistics must be
 * the same bits (the model adds no arithmetic of its own).
 */
START_TEST(test_forward_equals_kernels)
{
    const nnr_shape in = {4, {4, 6, 6, 4}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    const nnr_batchnorm_params bn = nnr_batchnorm_keras();
    const nnr_groupnorm_params gn = nnr_groupnorm_keras(2);
    const nnr_pool_params mp = nnr_pool_keras(2, 2);
    const nnr_layernorm_params ln = nnr_layernorm_keras();
    const nnr_rmsnorm_params rms = nnr_rmsnorm_keras();
    nnr_instancenorm_params inorm = nnr_instancenorm_keras();
    nnr_pool_params ap = nnr_pool_keras(2, 2);
    ap.padding = NNR_POOL_SAME;
    const nnr_global_pool_params gp = nnr_global_pool_keras(2);
    const nnr_shape target = {2, {2, 2}};
    CK_OK(nnr_model_add_batchnorm(m, &bn));            /* 0 */
    CK_OK(nnr_model_add_groupnorm(m, &gn));            /* 1 */
    CK_OK(nnr_model_add_maxpool(m, &mp));              /* 2: (4, 3, 3, 4) */
    CK_OK(nnr_model_add_layernorm(m, &ln));            /* 3 */
    CK_OK(nnr_model_add_rmsnorm(m, &rms));             /* 4 */
    CK_OK(nnr_model_add_instancenorm(m, &inorm, 1));   /* 5 */
    CK_OK(nnr_model_add_avgpool(m, &ap));              /* 6: (4, 2, 2, 4) */
    CK_OK(nnr_model_add_global_maxpool(m, &gp));       /* 7: (4, 4) */
    CK_OK(nnr_model_add_reshape(m, &target));          /* 8: (4, 2, 2) */
    CK_OK(nnr_model_add_flatten(m));                   /* 9: (4, 4) */
    CK_OK(nnr_model_build(m, &in, 7));

    /* Keras' initial values. */
    ck_assert_str_eq(nnr_model_layer(m, 0)->name, "batchnorm");
    ck_assert_str_eq(nnr_model_layer(m, 8)->name, "reshape");
    for (size_t c = 0; c < 4; c++) {
        ck_assert(fdata(m, 0, "gamma")[c] == 1.0f && fdata(m, 0, "beta")[c] == 0.0f);
        ck_assert(fdata(m, 0, "running_mean")[c] == 0.0f && fdata(m, 0, "running_var")[c] == 1.0f);
        ck_assert(fdata(m, 4, "scale")[c] == 1.0f);
    }
    ck_assert_uint_eq(nnr_model_param_count(m), 4 * 2 + 4 * 2 + 4 * 2 + 4 + 4 * 2);
    nnr_shape out;
    CK_OK(nnr_model_output_shape(m, &out));
    ck_assert_uint_eq(out.rank, 2);
    ck_assert_uint_eq(out.dims[1], 4);

    randomize_params(m, 11);
    const size_t count = 4 * 6 * 6 * 4;
    float *x = tu_alloc_f(count);
    tu_randn_f(x, count, 3, 2.0, 1.5);

    /* The same chain by hand, with copies of the running statistics. */
    float rm[4], rv[4], irm[4], irv[4];
    memcpy(rm, fdata(m, 0, "running_mean"), sizeof rm);
    memcpy(rv, fdata(m, 0, "running_var"), sizeof rv);
    memcpy(irm, fdata(m, 5, "running_mean"), sizeof irm);
    memcpy(irv, fdata(m, 5, "running_var"), sizeof irv);
    float *a = tu_alloc_f(count), *b = tu_alloc_f(count);
    float mean[36], istd[36], var[36], r[4], d[4];  /* LayerNorm and RMSNorm: 4*3*3 = 36 rows */
    int32_t argmax[144];
    nnr_batchnorm_state bs = {rm, rv, NULL, NULL, NULL, 0};
    nnr_batchnorm_cache bc = {mean, istd, r, d};
    CK_OK(nnr_batchnorm_fwd_train(&bn, &in, x, fdata(m, 0, "gamma"), fdata(m, 0, "beta"), a, &bc, &bs));
    nnr_groupnorm_cache gc = {mean, istd, NULL};
    CK_OK(nnr_groupnorm_fwd(&gn, &in, a, fdata(m, 1, "gamma"), fdata(m, 1, "beta"), b, &gc));
    CK_OK(nnr_maxpool_fwd(&mp, &in, b, a, argmax));
    const nnr_shape s3 = {4, {4, 3, 3, 4}};
    nnr_layernorm_cache lc = {mean, istd};
    CK_OK(nnr_layernorm_fwd(&ln, &s3, a, fdata(m, 3, "gamma"), fdata(m, 3, "beta"), b, &lc));
    nnr_rmsnorm_cache rc = {istd};
    CK_OK(nnr_rmsnorm_fwd(&rms, &s3, b, fdata(m, 4, "scale"), a, &rc));
    nnr_instancenorm_state is = {irm, irv, 0};
    nnr_groupnorm_cache ic = {mean, istd, var};
    CK_OK(nnr_instancenorm_fwd_train(&inorm, &s3, a, fdata(m, 5, "gamma"), fdata(m, 5, "beta"), b, &ic, &is));
    CK_OK(nnr_avgpool_fwd(&ap, &s3, b, a));
    const nnr_shape s6 = {4, {4, 2, 2, 4}};
    CK_OK(nnr_global_maxpool_fwd(&gp, &s6, a, b));

    CK_OK(nnr_model_forward(m, 4, x, 1));
    const float *y = nnr_model_output(m);
    ck_assert_ptr_nonnull(y);
    ck_assert_msg(memcmp(y, b, 16 * sizeof(float)) == 0, "model output differs from the kernels' chain");
    ck_assert(memcmp(fdata(m, 0, "running_mean"), rm, sizeof rm) == 0);
    ck_assert(memcmp(fdata(m, 0, "running_var"), rv, sizeof rv) == 0);
    ck_assert(memcmp(fdata(m, 5, "running_mean"), irm, sizeof irm) == 0);
    ck_assert(memcmp(fdata(m, 5, "running_var"), irv, sizeof irv) == 0);
    ck_assert_int_eq(*(int64_t *)tensor(m, 0, "num_batches_tracked")->data, 1);
    ck_assert_int_eq(*(int64_t *)tensor(m, 5, "num_batches_tracked")->data, 1);

    /* A partial batch (2 of 4 samples) runs the kernels on N = 2. */
    const nnr_shape in2 = {4, {2, 6, 6, 4}};
    bs.num_batches_tracked = 1;
    CK_OK(nnr_batchnorm_fwd_train(&bn, &in2, x, fdata(m, 0, "gamma"), fdata(m, 0, "beta"), a, &bc, &bs));
    CK_OK(nnr_model_forward(m, 2, x, 1));
    ck_assert(memcmp(fdata(m, 0, "running_mean"), rm, sizeof rm) == 0);
    ck_assert_int_eq(*(int64_t *)tensor(m, 0, "num_batches_tracked")->data, 2);

    free(x);
    free(a);
    free(b);
    nnr_model_free(m);
}
END_TEST

/* Inference mode: BatchNorm and InstanceNorm read their running statistics
 * and change nothing. */
START_TEST(test_inference_uses_running_stats)
{
    const nnr_shape in = {3, {5, 7, 3}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    nnr_batchnorm_params bn = nnr_batchnorm_keras();
    nnr_instancenorm_params inorm = nnr_instancenorm_torch();
    inorm.axis = -1;
    CK_OK(nnr_model_add_batchnorm(m, &bn));
    CK_OK(nnr_model_add_instancenorm(m, &inorm, 1));
    CK_OK(nnr_model_build(m, &in, 1));
    float x[105], y[105], t[105];
    tu_randn_f(x, 105, 5, -1.0, 3.0);
    for (int step = 0; step < 3; step++)
        CK_OK(nnr_model_forward(m, 5, x, 1));
    float rm[3];
    memcpy(rm, fdata(m, 0, "running_mean"), sizeof rm);
    ck_assert(rm[0] != 0.0f);

    CK_OK(nnr_model_forward(m, 5, x, 0));
    memcpy(y, nnr_model_output(m), sizeof y);
    nnr_batchnorm_state bs = {fdata(m, 0, "running_mean"), fdata(m, 0, "running_var"), NULL, NULL, NULL, 3};
    CK_OK(nnr_batchnorm_fwd_infer(&bn, &in, x, fdata(m, 0, "gamma"), fdata(m, 0, "beta"), t, &bs));
    nnr_instancenorm_state is = {fdata(m, 1, "running_mean"), fdata(m, 1, "running_var"), 3};
    CK_OK(nnr_instancenorm_fwd_infer(&inorm, &in, t, NULL, NULL, t, &is));
    ck_assert(memcmp(y, t, sizeof y) == 0);
    ck_assert(memcmp(rm, fdata(m, 0, "running_mean"), sizeof rm) == 0);
    ck_assert_int_eq(*(int64_t *)tensor(m, 0, "num_batches_tracked")->data, 3);
    /* Backward needs a training forward. */
    nnr_status st = nnr_model_backward(m, y);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    nnr_model_free(m);

    /* InstanceNorm without running statistics (PyTorch's default) uses the
     * input's own statistics in inference too: the same output both ways,
     * and no state tensors to save. */
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    CK_OK(nnr_model_add_instancenorm(m, &inorm, 0));
    CK_OK(nnr_model_build(m, &in, 1));
    ck_assert_uint_eq(nnr_model_layer(m, 0)->n_state, 0);
    CK_OK(nnr_model_forward(m, 5, x, 1));
    memcpy(y, nnr_model_output(m), sizeof y);
    CK_OK(nnr_model_forward(m, 5, x, 0));
    ck_assert(memcmp(y, nnr_model_output(m), sizeof y) == 0);
    nnr_model_free(m);
}
END_TEST

/* Glorot-uniform: within ±sqrt(6/(fan_in+fan_out)), the same for the same
 * seed, different for another seed. Exercised through a layer of our own. */
static nnr_status glorot_setup(nnr_layer *l, const nnr_shape *in)
{
    nnr_model_tensor *t = &l->params[l->n_params++];
    snprintf(t->name, sizeof t->name, "kernel");
    t->shape = (nnr_shape){2, {in->dims[1], 30}};
    t->init = NNR_INIT_GLOROT_UNIFORM;
    t->dtype = l->dtype;
    t->fan_in = in->dims[1];
    t->fan_out = 30;
    l->out_shape = *in;
    return nnr_ok();
}

static nnr_status copy_fwd(nnr_layer *l, size_t n, const void *x, void *y, int training)
{
    (void)training;
    memcpy(y, x, n * l->in_shape.dims[1] * sizeof(float));
    return nnr_ok();
}

static nnr_status copy_bwd(nnr_layer *l, size_t n, const void *x, const void *y, const void *dy, void *dx)
{
    (void)x;
    (void)y;
    memcpy(dx, dy, n * l->in_shape.dims[1] * sizeof(float));
    return nnr_ok();
}

static const nnr_layer_ops glorot_ops = {"mine", glorot_setup, copy_fwd, copy_bwd};

START_TEST(test_glorot_init)
{
    const nnr_shape in = {2, {2, 20}};
    nnr_model *m1, *m2, *m3;
    CK_OK(nnr_model_new(&m1, NNR_FLOAT32));
    CK_OK(nnr_model_new(&m2, NNR_FLOAT32));
    CK_OK(nnr_model_new(&m3, NNR_FLOAT32));
    CK_OK(nnr_model_add_layer(m1, &glorot_ops, NULL, 0));
    CK_OK(nnr_model_add_layer(m2, &glorot_ops, NULL, 0));
    CK_OK(nnr_model_add_layer(m3, &glorot_ops, NULL, 0));
    CK_OK(nnr_model_build(m1, &in, 42));
    CK_OK(nnr_model_build(m2, &in, 42));
    CK_OK(nnr_model_build(m3, &in, 43));
    const float *w1 = fdata(m1, 0, "kernel"), *w2 = fdata(m2, 0, "kernel"), *w3 = fdata(m3, 0, "kernel");
    /* Keras GlorotUniform limit sqrt(6 / (20 + 30)) = 0.3464 */
    const double limit = sqrt(6.0 / 50.0);
    double lo = 1, hi = -1, sum = 0;
    for (size_t i = 0; i < 600; i++) {
        ck_assert(fabs(w1[i]) <= limit);
        lo = fmin(lo, w1[i]);
        hi = fmax(hi, w1[i]);
        sum += w1[i];
    }
    /* 600 uniform draws: the extremes lie within 2 % of the limits and the
     * mean within 4 standard errors (0.2/sqrt(600) = 0.008) of 0, or the
     * numbers are not U(-l, l). */
    ck_assert(lo < -0.98 * limit && hi > 0.98 * limit);
    ck_assert(fabs(sum / 600) < 4 * limit / sqrt(3.0) / sqrt(600.0));
    ck_assert(memcmp(w1, w2, 600 * sizeof(float)) == 0);
    ck_assert(memcmp(w1, w3, 600 * sizeof(float)) != 0);
    nnr_model_free(m1);
    nnr_model_free(m2);
    nnr_model_free(m3);
}
END_TEST

/*
 * Conv2D (Keras, 'same', stride 2) -> Dropout(0.5) as a float model against
 * the kernels by hand: the convolution with its workspace, the dropout mask
 * of training step 0 under the layer's key. Two training forwards of one
 * step draw one mask; the next step draws another; inference is the identity.
 */
START_TEST(test_conv_dropout_equal_kernels)
{
    const nnr_shape in = {4, {2, 7, 7, 3}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    nnr_conv_params cp = nnr_conv_keras(2, 3, 5, 3);
    cp.padding = NNR_CONV_SAME;
    cp.stride[0] = cp.stride[1] = 2;
    const nnr_dropout_params dp = nnr_dropout_keras(0.5);
    CK_OK(nnr_model_add_conv(m, &cp));
    CK_OK(nnr_model_add_dropout(m, &dp));
    CK_OK(nnr_model_build(m, &in, 3));
    nnr_shape out;
    CK_OK(nnr_model_output_shape(m, &out));
    ck_assert(out.dims[1] == 4 && out.dims[2] == 4 && out.dims[3] == 5);
    ck_assert_uint_eq(tensor(m, 0, "kernel")->count, 3 * 3 * 3 * 5);
    ck_assert_uint_eq(tensor(m, 0, "kernel")->fan_in, 27);
    ck_assert_uint_eq(tensor(m, 0, "kernel")->fan_out, 45);
    randomize_params(m, 5);  /* bias non-zero too */

    float x[294], c[160], y[160], y2[160];
    uint8_t mask[160];
    tu_randn_f(x, 294, 6, 0.0, 1.0);
    size_t floats = 0;
    CK_OK(nnr_conv_workspace_size(&cp, &in, &floats));
    float *work = tu_alloc_f(floats);
    CK_OK(nnr_conv_fwd(&cp, &in, x, fdata(m, 0, "kernel"), fdata(m, 0, "bias"), c, work, floats));
    nnr_dropout_params step0 = dp;
    step0.seed ^= nnr_model_layer(m, 1)->seed;
    CK_OK(nnr_dropout_fwd_train(&step0, &out, c, y, mask));

    CK_OK(nnr_model_forward(m, 2, x, 1));
    ck_assert(memcmp(nnr_model_output(m), y, sizeof y) == 0);
    CK_OK(nnr_model_forward(m, 2, x, 1));
    ck_assert(memcmp(nnr_model_output(m), y, sizeof y) == 0);
    CK_OK(nnr_model_forward(m, 2, x, 0));
    ck_assert(memcmp(nnr_model_output(m), c, sizeof c) == 0);
    /* The next step's mask: offset advanced by the mask's 160 entries. */
    nnr_dropout_params step1 = step0;
    step1.offset += 160;
    CK_OK(nnr_dropout_fwd_train(&step1, &out, c, y2, mask));
    ck_assert(memcmp(y, y2, sizeof y) != 0);
    free(work);
    nnr_model_free(m);
}
END_TEST

/* ---- gradcheck ------------------------------------------------------------------- */

/*
 * Bound on the worst relative error of a whole-model check. Each layer's own
 * check reaches 1e-8 or better (the normalization and pooling suites); the
 * chains below measure 9e-10 at worst (NNREF_GC_VERBOSE=1). 1e-7, the
 * single-layer suites' bound, still fails a backward wrong by 1e-6 relative.
 */
#define MODEL_GC_MAX_REL_ERR 1e-7

/* A whole-model gradient check in numbers, for the test to assert: the
 * verdict, tensors reported, entries judged and failed, kinks, and the worst
 * relative error over all tensors (NaN counts as infinite) and its tensor. */
typedef struct gc_summary {
    int passed, deterministic;
    size_t tensors, checked, failed, kinks;
    double worst;
    const char *worst_tensor;
} gc_summary;

static gc_summary summarize_gc(const nnr_gc_report *r, const char *what)
{
    if (verbose())
        nnr_gc_print(stdout, what, "train", r);
    gc_summary s = {r->passed, r->deterministic, r->n_tensors, 0, 0, 0, 0.0, "none"};
    for (size_t t = 0; t < r->n_tensors; t++) {
        const nnr_gc_tensor_report *tr = &r->tensors[t];
        s.checked += tr->checked;
        s.failed += tr->failed;
        s.kinks += tr->kinks;
        const double e = isnan(tr->max_rel_err) ? INFINITY : tr->max_rel_err;
        if (e > s.worst || t == 0) {
            s.worst = e;
            s.worst_tensor = tr->name;
        }
    }
    return s;
}

/*
 * A double model of existing layers end to end: GroupNorm -> MaxPool1D ->
 * LayerNorm -> RMSNorm -> BatchNorm (training) -> GlobalAveragePooling1D,
 * L = sum(out * g). Tensors: x and all seven parameter tensors.
 */
START_TEST(test_gradcheck_norm_pool_model)
{
    const nnr_shape in = {3, {3, 6, 4}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT64));
    const nnr_groupnorm_params gn = nnr_groupnorm_keras(2);
    const nnr_pool_params mp = nnr_pool_keras(1, 2);
    const nnr_layernorm_params ln = nnr_layernorm_keras();
    const nnr_rmsnorm_params rms = nnr_rmsnorm_keras();
    const nnr_batchnorm_params bn = nnr_batchnorm_keras();
    const nnr_global_pool_params gp = nnr_global_pool_keras(1);
    CK_OK(nnr_model_add_groupnorm(m, &gn));
    CK_OK(nnr_model_add_maxpool(m, &mp));
    CK_OK(nnr_model_add_layernorm(m, &ln));
    CK_OK(nnr_model_add_rmsnorm(m, &rms));
    CK_OK(nnr_model_add_batchnorm(m, &bn));
    CK_OK(nnr_model_add_global_avgpool(m, &gp));
    CK_OK(nnr_model_build(m, &in, 5));
    randomize_params(m, 21);
    double x[72];
    tu_randn_d(x, 72, 8, 0.5, 2.0);
    nnr_gc_report r;
    CK_OK(nnr_gradcheck_model(m, 3, x, NULL, NULL, &r));
    const gc_summary s = summarize_gc(&r, "gn-maxpool-ln-rms-bn-gap");
    ck_assert_uint_eq(s.tensors, 8);
    ck_assert_msg(s.passed && s.deterministic && s.checked > 0 && s.kinks == 0 && s.worst <= MODEL_GC_MAX_REL_ERR,
                  "gn-maxpool-ln-rms-bn-gap: passed %d deterministic %d, %zu of %zu entries failed, %zu kinks, "
                  "worst rel err %.3g in %s (bound %g)", s.passed, s.deterministic, s.failed, s.checked, s.kinks,
                  s.worst, s.worst_tensor, MODEL_GC_MAX_REL_ERR);
    ck_assert_str_eq(r.tensors[0].name, "x");
    ck_assert_str_eq(r.tensors[1].name, "groupnorm/gamma");
    ck_assert_str_eq(r.tensors[7].name, "batchnorm/beta");
    nnr_model_free(m);
}
END_TEST

/* InstanceNorm (PyTorch, channels_first) -> AvgPool2D -> GlobalMaxPool2D
 * (split ties) -> Reshape -> Flatten, double, end to end. */
START_TEST(test_gradcheck_instancenorm_pool_model)
{
    const nnr_shape in = {4, {2, 3, 4, 4}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT64));
    nnr_instancenorm_params inorm = nnr_instancenorm_torch();
    inorm.center = inorm.scale = 1;
    const nnr_pool_params ap = nnr_pool_torch(2, 2);
    const nnr_global_pool_params gp = nnr_global_pool_torch(2);
    const nnr_shape target = {1, {3}};
    CK_OK(nnr_model_add_instancenorm(m, &inorm, 1));
    CK_OK(nnr_model_add_avgpool(m, &ap));
    CK_OK(nnr_model_add_global_maxpool(m, &gp));
    CK_OK(nnr_model_add_reshape(m, &target));
    CK_OK(nnr_model_add_flatten(m));
    CK_OK(nnr_model_build(m, &in, 5));
    randomize_params(m, 22);
    double x[96];
    tu_randn_d(x, 96, 9, 0.0, 1.0);
    nnr_gc_report r;
    CK_OK(nnr_gradcheck_model(m, 2, x, NULL, NULL, &r));
    const gc_summary s = summarize_gc(&r, "in-avgpool-gmp");
    ck_assert_uint_eq(s.tensors, 3);
    ck_assert_msg(s.passed && s.deterministic && s.checked > 0 && s.kinks == 0 && s.worst <= MODEL_GC_MAX_REL_ERR,
                  "in-avgpool-gmp: passed %d deterministic %d, %zu of %zu entries failed, %zu kinks, "
                  "worst rel err %.3g in %s (bound %g)", s.passed, s.deterministic, s.failed, s.checked, s.kinks,
                  s.worst, s.worst_tensor, MODEL_GC_MAX_REL_ERR);
    nnr_model_free(m);
}
END_TEST

/*
 * Conv1D (PyTorch, stride 2, dilation 2, padding 2) -> GroupNorm ->
 * Dropout (a fixed mask: the model's step does not move during a check) ->
 * GlobalAveragePooling1D, double, end to end: x, kernel, bias, gamma, beta.
 */
START_TEST(test_gradcheck_conv_model)
{
    const nnr_shape in = {3, {2, 3, 11}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT64));
    nnr_conv_params cp = nnr_conv_torch(1, 3, 4, 3);
    cp.stride[0] = 2;
    cp.dilation[0] = 2;
    cp.padding = NNR_CONV_EXPLICIT;
    cp.pad_before[0] = cp.pad_after[0] = 2;
    const nnr_groupnorm_params gn = nnr_groupnorm_torch(2);
    const nnr_dropout_params dp = nnr_dropout_torch(0.3);
    const nnr_global_pool_params gp = nnr_global_pool_torch(1);
    CK_OK(nnr_model_add_conv(m, &cp));
    CK_OK(nnr_model_add_groupnorm(m, &gn));
    CK_OK(nnr_model_add_dropout(m, &dp));
    CK_OK(nnr_model_add_global_avgpool(m, &gp));
    CK_OK(nnr_model_build(m, &in, 5));
    randomize_params(m, 23);
    double x[66];
    tu_randn_d(x, 66, 10, 0.0, 1.0);
    nnr_gc_report r;
    CK_OK(nnr_gradcheck_model(m, 2, x, NULL, NULL, &r));
    const gc_summary s = summarize_gc(&r, "conv1d-gn-dropout-gap");
    ck_assert_uint_eq(s.tensors, 5);
    ck_assert_msg(s.passed && s.deterministic && s.checked > 0 && s.kinks == 0 && s.worst <= MODEL_GC_MAX_REL_ERR,
                  "conv1d-gn-dropout-gap: passed %d deterministic %d, %zu of %zu entries failed, %zu kinks, "
                  "worst rel err %.3g in %s (bound %g)", s.passed, s.deterministic, s.failed, s.checked, s.kinks,
                  s.worst, s.worst_tensor, MODEL_GC_MAX_REL_ERR);
    nnr_model_free(m);
}
END_TEST

/*
 * The model end to end with its loss, in double: Conv2D (Keras,
 * 'same') -> GroupNorm -> ReLU -> Flatten -> Dense -> softmax cross-entropy
 * against labels. Tensors: x, conv kernel and bias, gamma, beta, dense kernel
 * and bias. ReLU is a kink at 0; the seeded data keeps every pre-activation
 * farther from 0 than the step, so every entry is judged (asserted).
 */
START_TEST(test_gradcheck_conv_gn_relu_dense_loss)
{
    const nnr_shape in = {4, {3, 5, 5, 2}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT64));
    nnr_conv_params cp = nnr_conv_keras(2, 2, 4, 3);
    cp.padding = NNR_CONV_SAME;
    const nnr_groupnorm_params gn = nnr_groupnorm_keras(2);
    const nnr_dense_params dp = nnr_dense_keras(100, 3);
    CK_OK(nnr_model_add_conv(m, &cp));
    CK_OK(nnr_model_add_groupnorm(m, &gn));
    CK_OK(nnr_model_add_relu(m));
    CK_OK(nnr_model_add_flatten(m));
    CK_OK(nnr_model_add_dense(m, &dp));
    CK_OK(nnr_model_build(m, &in, 5));
    randomize_params(m, 24);
    double x[150];
    tu_randn_d(x, 150, 11, 0.0, 1.0);
    const int32_t labels[3] = {2, 0, 1};
    nnr_gc_report r;
    CK_OK(nnr_gradcheck_model(m, 3, x, labels, NULL, &r));
    const gc_summary s = summarize_gc(&r, "conv-gn-relu-dense-loss");
    ck_assert_uint_eq(s.tensors, 7);
    ck_assert_msg(s.passed && s.deterministic && s.checked > 0 && s.kinks == 0 && s.worst <= MODEL_GC_MAX_REL_ERR,
                  "conv-gn-relu-dense-loss: passed %d deterministic %d, %zu of %zu entries failed, %zu kinks, "
                  "worst rel err %.3g in %s (bound %g)", s.passed, s.deterministic, s.failed, s.checked, s.kinks,
                  s.worst, s.worst_tensor, MODEL_GC_MAX_REL_ERR);
    ck_assert_str_eq(r.tensors[5].name, "dense/kernel");
    nnr_model_free(m);
}
END_TEST

/* ---- optimizer ----------------------------------------------------------------------- */

/* A double model with one trainable tensor of one value: RMSNorm's scale on
 * a (1, 1) input. The optimizer tests set its value and gradient by hand. */
static nnr_model *one_weight_model(double w)
{
    const nnr_shape in = {2, {1, 1}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT64));
    const nnr_rmsnorm_params rms = nnr_rmsnorm_keras();
    CK_OK(nnr_model_add_rmsnorm(m, &rms));
    CK_OK(nnr_model_build(m, &in, 1));
    *(double *)tensor(m, 0, "scale")->data = w;
    return m;
}

/* Steps with gradients g[0..steps), learning rate lr_at[t] at step t; returns w after each step. */
static void run_steps(const nnr_optimizer_params *p, const double *g, const double *lr_at, size_t steps,
                      double *w_after)
{
    nnr_model *m = one_weight_model(1.0);
    nnr_model_tensor *t = tensor(m, 0, "scale");
    nnr_optimizer *opt;
    CK_OK(nnr_optimizer_new(&opt, p, m));
    for (size_t s = 0; s < steps; s++) {
        *(double *)t->grad = g[s];
        if (lr_at != NULL)
            CK_OK(nnr_optimizer_set_learning_rate(opt, lr_at[s]));
        CK_OK(nnr_optimizer_step(opt));
        w_after[s] = *(double *)t->data;
    }
    ck_assert_uint_eq(nnr_optimizer_steps(opt), steps);
    nnr_optimizer_free(opt);
    nnr_model_free(m);
}

/* Values in double: one rounding per operation, so within a few ulps of the
 * exact values below. */
#define OPT_TOL 1e-15

/* The number of the three steps whose weight is off want by more than OPT_TOL relative. */
static int steps_off(const double got[3], const double want[3])
{
    int off = 0;
    for (size_t i = 0; i < 3; i++)
        off += !(fabs(got[i] - want[i]) <= OPT_TOL * fabs(want[i]));
    return off;
}

/*
 * SGD, w0 = 1, g = 0.5 every step, lr 0.1, momentum 0.9.
 *   Keras  v1 = -0.05, w1 = 0.95; v2 = 0.9(-0.05) - 0.05 = -0.095, w2 = 0.855;
 *          v3 = -0.0855 - 0.05 = -0.1355, w3 = 0.7195
 *   Torch  b1 = 0.5, w1 = 0.95; b2 = 0.95, w2 = 0.855; b3 = 1.355, w3 = 0.7195
 * Same weights at constant lr. With lr 0.2 at step 3:
 *   Keras  v3 = 0.9(-0.095) - 0.2(0.5) = -0.1855, w3 = 0.6695
 *   Torch  b3 = 1.355, w3 = 0.855 - 0.2(1.355) = 0.584
 * Momentum 0 is w -= lr g in both: 0.95, 0.9, 0.85.
 */
START_TEST(test_sgd_keras_torch)
{
    const double g[3] = {0.5, 0.5, 0.5}, lr[3] = {0.1, 0.1, 0.2};
    const nnr_optimizer_params keras = nnr_sgd_keras(0.1, 0.9), torch = nnr_sgd_torch(0.1, 0.9),
                               plain = nnr_sgd_keras(0.1, 0.0);
    const struct { const char *what; const nnr_optimizer_params *p; const double *lr; double want[3]; } runs[] = {
        {"keras sgd", &keras, NULL, {0.95, 0.855, 0.7195}},
        {"torch sgd", &torch, NULL, {0.95, 0.855, 0.7195}},
        {"keras sgd, lr change", &keras, lr, {0.95, 0.855, 0.6695}},
        {"torch sgd, lr change", &torch, lr, {0.95, 0.855, 0.584}},
        {"plain sgd", &plain, NULL, {0.95, 0.9, 0.85}},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        double w[3];
        run_steps(runs[i].p, g, runs[i].lr, 3, w);
        ck_assert_msg(steps_off(w, runs[i].want) == 0, "%s: w after steps 1-3 = %.17g, %.17g, %.17g; want %.17g, "
                      "%.17g, %.17g within %g relative", runs[i].what, w[0], w[1], w[2], runs[i].want[0],
                      runs[i].want[1], runs[i].want[2], OPT_TOL);
    }
}
END_TEST

/*
 * Adam, w0 = 1, g = 0.5, -0.25, 1.0, lr 1e-3, beta1 0.9, beta2 0.999.
 * Step 1 by hand: m = 0.05, v = 0.00025 (sqrt 0.0158114), 1 - b1 = 0.1,
 * 1 - b2 = 0.001 (sqrt 0.0316228).
 *   Keras (eps 1e-7): w1 = 1 - 1e-3 (0.0316228 / 0.1) 0.05 / (0.0158114 + 1e-7)
 *                        = 1 - 1e-3 / (1 + 6.3246e-6) = 0.99900000632...
 *   Torch (eps 1e-8): w1 = 1 - (1e-3 / 0.1) 0.05 / (0.0158114 / 0.0316228 + 1e-8)
 *                        = 1 - 1e-3 / (1 + 2e-8) = 0.99900000002
 * Steps 2 and 3 follow the same formulas (values to 17 digits from a
 * double-precision transcription of keras/src/optimizers/adam.py and
 * torch.optim.Adam's single-tensor path). With eps = 1e-3 the placement
 * matters at the third digit of the update: Keras' eps acts as
 * eps / sqrt(1 - b2^t) = 0.0316 on PyTorch's scale at step 1.
 */
START_TEST(test_adam_keras_torch)
{
    const double g[3] = {0.5, -0.25, 1.0};
    const nnr_optimizer_params k = nnr_adam_keras(), t = nnr_adam_torch();
    ck_assert(k.epsilon == 1e-7 && t.epsilon == 1e-8 && k.learning_rate == 1e-3 && k.beta2 == 0.999);
    nnr_optimizer_params k3 = k, t3 = t;
    k3.epsilon = t3.epsilon = 1e-3;
    const struct { const char *what; const nnr_optimizer_params *p; double want[3]; } runs[] = {
        {"keras adam", &k, {0.99900000632451535, 0.9987336707920792, 0.9980755610087696}},
        {"torch adam", &t, {0.99900000002, 0.99873366298707844, 0.99807555139677084}},
        {"keras adam eps 1e-3", &k3, {0.99905948348715201, 0.99880741149959407, 0.9981669812414915}},
        {"torch adam eps 1e-3", &t3, {0.99900199600798401, 0.99873633115403571, 0.99807921273950262}},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        double w[3];
        run_steps(runs[i].p, g, NULL, 3, w);
        ck_assert_msg(steps_off(w, runs[i].want) == 0, "%s: w after steps 1-3 = %.17g, %.17g, %.17g; want %.17g, "
                      "%.17g, %.17g within %g relative", runs[i].what, w[0], w[1], w[2], runs[i].want[0],
                      runs[i].want[1], runs[i].want[2], OPT_TOL);
    }
}
END_TEST

/* ---- training -------------------------------------------------------------------------- */

/*
 * The loss on logits by hand: row 0 (1000, 0, 0) with label 0 has loss 0
 * (the log-sum-exp of a dominant logit is the logit itself, no overflow);
 * row 1 (0, 0, 0) with label 2 has loss log 3. Mean (0 + log 3)/2. Accuracy:
 * row 0 right, row 1's argmax is the first of three ties, class 0: wrong.
 * The gradient is (softmax - onehot)/2: row 1 gives (1/6, 1/6, -1/3).
 */
START_TEST(test_loss_by_hand)
{
    const nnr_shape in = {2, {2, 3}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT64));
    CK_OK(nnr_model_add_flatten(m));
    CK_OK(nnr_model_build(m, &in, 1));
    const double logits[6] = {1000, 0, 0, 0, 0, 0};
    const int32_t labels[2] = {0, 2};
    double loss;
    size_t correct;
    CK_OK(nnr_model_forward_f64(m, 2, logits, 1));
    CK_OK(nnr_model_loss(m, labels, 1, &loss, &correct));
    ck_assert_double_eq_tol(loss, log(3.0) / 2, 1e-15);
    ck_assert_uint_eq(correct, 1);
    CK_OK(nnr_model_backward_loss(m, 1.0));
    const double *dx = nnr_model_input_grad(m);
    ck_assert_double_eq_tol(dx[3], 1.0 / 6, 1e-16);
    ck_assert_double_eq_tol(dx[5], -1.0 / 3, 1e-16);
    ck_assert_double_eq_tol(dx[0], 0.0, 1e-300);
    const int32_t bad[2] = {0, 3};
    nnr_status st = nnr_model_loss(m, bad, 1, &loss, &correct);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    nnr_model_free(m);
}
END_TEST

/* Dense (Keras) -> ReLU as a float model equals the kernels by hand. */
START_TEST(test_dense_relu_equal_kernels)
{
    const nnr_shape in = {2, {5, 7}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    const nnr_dense_params dp = nnr_dense_keras(7, 4);
    CK_OK(nnr_model_add_dense(m, &dp));
    CK_OK(nnr_model_add_relu(m));
    CK_OK(nnr_model_build(m, &in, 2));
    ck_assert_uint_eq(tensor(m, 0, "kernel")->fan_in, 7);
    ck_assert_uint_eq(tensor(m, 0, "kernel")->fan_out, 4);
    randomize_params(m, 6);
    float x[35], y[20];
    tu_randn_f(x, 35, 12, 0.0, 1.0);
    size_t floats = 0;
    CK_OK(nnr_dense_workspace_size(&dp, &in, &floats));
    float *work = tu_alloc_f(floats);
    const nnr_shape out = {2, {5, 4}};
    CK_OK(nnr_dense_fwd(&dp, &in, x, fdata(m, 0, "kernel"), fdata(m, 0, "bias"), y, work, floats));
    CK_OK(nnr_relu_fwd(&out, y, y));
    CK_OK(nnr_model_forward(m, 5, x, 1));
    ck_assert(memcmp(nnr_model_output(m), y, sizeof y) == 0);
    free(work);
    nnr_model_free(m);
}
END_TEST

/*
 * Synthetic separable data: two classes of 8-dimensional points, N(+-1.5, 1)
 * in every coordinate, 256 training and 256 test samples. The Bayes
 * classifier (the sign of the coordinate sum, sum ~ N(+-12, sqrt 8)) errs
 * with probability Phi(-12/2.83) = 1e-5, so a model that learned anything
 * reaches a loss near 0.
 */
#define BLOB_DIM 8
#define BLOB_N 256

static void blobs(float *x, int32_t *labels, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        labels[i] = (int32_t)(i % 2);
        const double mean = labels[i] ? 1.5 : -1.5;
        for (size_t j = 0; j < BLOB_DIM; j++)
            x[i * BLOB_DIM + j] = (float)(mean + nnr_rng_normal(seed, i * BLOB_DIM + j));
    }
}

/* Dense(8 -> 16) -> BatchNorm -> ReLU -> Dense(16 -> 2), float. */
static nnr_model *blob_model(uint64_t seed)
{
    const nnr_shape in = {2, {32, BLOB_DIM}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    const nnr_dense_params d1 = nnr_dense_keras(BLOB_DIM, 16), d2 = nnr_dense_keras(16, 2);
    const nnr_batchnorm_params bn = nnr_batchnorm_keras();
    CK_OK(nnr_model_add_dense(m, &d1));
    CK_OK(nnr_model_add_batchnorm(m, &bn));
    CK_OK(nnr_model_add_relu(m));
    CK_OK(nnr_model_add_dense(m, &d2));
    CK_OK(nnr_model_build(m, &in, seed));
    return m;
}

static int count_batches(nnr_model *m, const nnr_epoch_stats *s, void *user)
{
    (void)m;
    (void)s;
    (*(size_t *)user)++;
    return 0;
}

/*
 * Five epochs of Adam (Keras defaults but lr 1e-2) with batch 32 on the
 * blobs. Bars: the first epoch's mean training loss is that of a model
 * still learning (above 0.1; at initialisation it is near log 2 = 0.69),
 * the last epoch's is below 0.05, and the held-out test set gives accuracy
 * >= 0.99 and loss < 0.05 (measured: epoch losses 0.62, 0.17, 0.081,
 * 0.040, 0.026; test loss 0.0021, accuracy 1.0; NNREF_GC_VERBOSE=1). The same
 * seeds give the same weights bit for bit; quiet mode prints nothing;
 * verbose output to a file (not a terminal) is one line per epoch.
 */
START_TEST(test_fit_blobs)
{
    float *x = tu_alloc_f(BLOB_N * BLOB_DIM), *xt = tu_alloc_f(BLOB_N * BLOB_DIM);
    int32_t y[BLOB_N], yt[BLOB_N];
    blobs(x, y, BLOB_N, 1);
    blobs(xt, yt, BLOB_N, 2);
    const nnr_dataset train = {x, y, BLOB_N, {1, {BLOB_DIM}}};
    const nnr_dataset test = {xt, yt, BLOB_N, {1, {BLOB_DIM}}};

    nnr_model *m = blob_model(3);
    nnr_optimizer_params p = nnr_adam_keras();
    p.learning_rate = 1e-2;
    nnr_optimizer *opt;
    CK_OK(nnr_optimizer_new(&opt, &p, m));
    nnr_fit_options o = nnr_fit_defaults();
    o.epochs = 5;
    o.seed = 4;
    o.verbose = 0;
    o.validation = &test;
    size_t batches = 0;
    o.on_batch = count_batches;
    o.user = &batches;
    nnr_epoch_stats h[5];
    size_t run = 0;
    CK_OK(nnr_model_fit(m, opt, &train, &o, h, &run));
    ck_assert_uint_eq(run, 5);
    ck_assert_uint_eq(batches, 5 * 8);
    ck_assert_uint_eq(nnr_optimizer_steps(opt), 40);
    double loss, acc;
    CK_OK(nnr_model_evaluate(m, &test, 0, &loss, &acc));
    if (verbose())
        for (size_t e = 0; e < 5; e++)
            printf("epoch %zu loss %.4f acc %.4f val_loss %.4f val_acc %.4f\n", h[e].epoch, h[e].loss,
                   h[e].accuracy, h[e].val_loss, h[e].val_accuracy);
    ck_assert_msg(h[0].loss > 0.1, "first epoch loss %.4f", h[0].loss);
    ck_assert_msg(h[4].loss < 0.05, "last epoch loss %.4f", h[4].loss);
    ck_assert_msg(acc >= 0.99 && loss < 0.05, "test loss %.4f accuracy %.4f", loss, acc);
    ck_assert(h[4].val_loss == loss && h[4].val_accuracy == acc);
    ck_assert_uint_eq(h[4].samples, BLOB_N);

    /* Same seeds, same bits; quiet mode says nothing. */
    nnr_model *m2 = blob_model(3);
    nnr_optimizer *opt2;
    CK_OK(nnr_optimizer_new(&opt2, &p, m2));
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    o.out = f;
    o.on_batch = NULL;
    CK_OK(nnr_model_fit(m2, opt2, &train, &o, NULL, NULL));
    ck_assert_int_eq(ftell(f), 0);
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < nnr_model_layer(m, i)->n_params; k++)
            ck_assert(memcmp(nnr_model_layer(m, i)->params[k].data, nnr_model_layer(m2, i)->params[k].data,
                             nnr_model_layer(m, i)->params[k].count * sizeof(float)) == 0);
    /* Verbose to a file: one line per epoch, no carriage returns. */
    o.verbose = 1;
    o.epochs = 2;
    CK_OK(nnr_model_fit(m2, opt2, &train, &o, NULL, NULL));
    rewind(f);
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lines++;
        ck_assert_msg(strchr(line, '\r') == NULL && strstr(line, "Epoch ") == line && strstr(line, "val_acc"),
                      "%s", line);
    }
    ck_assert_int_eq(lines, 2);
    fclose(f);

    /* Bad input: labels out of range before any step, batch too large. */
    y[7] = 2;
    nnr_status st = nnr_model_fit(m2, opt2, &train, &o, NULL, NULL);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert_msg(strstr(st.message, "labels[7] = 2") != NULL, "%s", st.message);
    y[7] = 1;
    o.batch_size = 33;
    st = nnr_model_fit(m2, opt2, &train, &o, NULL, NULL);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    o.batch_size = 32;
    st = nnr_model_fit(m2, opt, &train, &o, NULL, NULL);
    ck_assert(st.code == NNR_ERR_PARAM && strstr(st.message, "another model") != NULL);

    nnr_optimizer_free(opt);
    nnr_optimizer_free(opt2);
    nnr_model_free(m);
    nnr_model_free(m2);
    free(x);
    free(xt);
}
END_TEST

/* ---- files --------------------------------------------------------------------------- */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nnref-test-model-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static const char *tmp_path(const char *name)
{
    static char path[2][128];
    static int which;
    which ^= 1;
    snprintf(path[which], sizeof path[which], "%s/%s", tmpdir, name);
    return path[which];
}

/* BatchNorm (with renorm's extra state) -> GroupNorm -> LayerNorm, float. */
static nnr_model *file_model(uint64_t seed, int groups)
{
    const nnr_shape in = {3, {4, 5, 6}};
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    nnr_batchnorm_params bn = nnr_batchnorm_keras();
    bn.renorm = 1;
    bn.rmin = 0.5;
    bn.rmax = 2.0;
    bn.dmax = 1.0;
    const nnr_groupnorm_params gn = nnr_groupnorm_keras(groups);
    const nnr_layernorm_params ln = nnr_layernorm_keras();
    CK_OK(nnr_model_add_batchnorm(m, &bn));
    CK_OK(nnr_model_add_groupnorm(m, &gn));
    CK_OK(nnr_model_add_layernorm(m, &ln));
    CK_OK(nnr_model_build(m, &in, seed));
    randomize_params(m, seed);
    return m;
}

static int same_tensors(nnr_model *a, nnr_model *b)
{
    for (size_t i = 0; i < nnr_model_n_layers(a); i++) {
        nnr_layer *la = nnr_model_layer(a, i), *lb = nnr_model_layer(b, i);
        for (size_t k = 0; k < la->n_params; k++)
            if (memcmp(la->params[k].data, lb->params[k].data, la->params[k].count * sizeof(float)) != 0)
                return 0;
        for (size_t k = 0; k < la->n_state; k++)
            if (memcmp(la->state[k].data, lb->state[k].data,
                       la->state[k].count * (la->state[k].dtype == NNR_INT64 ? 8 : sizeof(float))) != 0)
                return 0;
    }
    return 1;
}

static size_t file_bytes(const char *path, unsigned char **buf)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)n + 16);
    ck_assert_uint_eq(fread(*buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return (size_t)n;
}

static void write_bytes(const char *path, const unsigned char *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
}

START_TEST(test_save_load_roundtrip)
{
    make_tmpdir();
    nnr_model *a = file_model(1, 2), *b = file_model(2, 2);
    /* Train-mode forwards move the running statistics and the step count. */
    float x[120];
    tu_randn_f(x, 120, 4, 3.0, 2.0);
    CK_OK(nnr_model_forward(a, 4, x, 1));
    CK_OK(nnr_model_forward(a, 4, x, 1));
    ck_assert(!same_tensors(a, b));
    const char *path = tmp_path("a.nnrp");
    CK_OK(nnr_model_save(a, path));
    CK_OK(nnr_model_load(b, path));
    ck_assert(same_tensors(a, b));
    ck_assert_int_eq(*(int64_t *)tensor(b, 0, "num_batches_tracked")->data, 2);
    /* Same parameters, same outputs, bit for bit. */
    CK_OK(nnr_model_forward(a, 4, x, 0));
    CK_OK(nnr_model_forward(b, 4, x, 0));
    ck_assert(memcmp(nnr_model_output(a), nnr_model_output(b), 120 * sizeof(float)) == 0);

    /* The layout: magic, version 1, tensor count, then the first tensor's
     * name length and name, little-endian. */
    unsigned char *buf;
    ck_assert_uint_gt(file_bytes(path, &buf), 36);
    ck_assert(memcmp(buf, "NNREFPRM\x01\x00\x00\x00", 12) == 0);
    /* batchnorm: gamma beta running_mean running_var moving_stddev
     * renorm_mean renorm_stddev num_batches_tracked; groupnorm, layernorm:
     * gamma beta */
    ck_assert_uint_eq(buf[12], 12);
    ck_assert(buf[16] == 15 && buf[17] == 0 && memcmp(buf + 18, "batchnorm/gamma", 15) == 0);
    ck_assert(buf[33] == NNR_FLOAT32 && buf[34] == 1 && buf[35] == 6);

    /* A double model of the same architecture loads the float file exactly. */
    nnr_model *d;
    CK_OK(nnr_model_new(&d, NNR_FLOAT64));
    nnr_batchnorm_params bn = nnr_batchnorm_keras();
    bn.renorm = 1;
    bn.rmin = 0.5;
    bn.rmax = 2.0;
    bn.dmax = 1.0;
    const nnr_groupnorm_params gn = nnr_groupnorm_keras(2);
    const nnr_layernorm_params ln = nnr_layernorm_keras();
    CK_OK(nnr_model_add_batchnorm(d, &bn));
    CK_OK(nnr_model_add_groupnorm(d, &gn));
    CK_OK(nnr_model_add_layernorm(d, &ln));
    const nnr_shape in = {3, {4, 5, 6}};
    CK_OK(nnr_model_build(d, &in, 3));
    CK_OK(nnr_model_load(d, path));
    ck_assert(((double *)tensor(d, 2, "gamma")->data)[5] == (double)fdata(a, 2, "gamma")[5]);
    nnr_model_free(d);

    free(buf);
    nnr_model_free(a);
    nnr_model_free(b);
    unlink(path);
    rmdir(tmpdir);
}
END_TEST

/* Loads path into a fresh model and asserts the code, the named thing in the
 * message, and that the model's tensors did not change. */
static void assert_rejected(const char *path, nnr_code code, const char *needle)
{
    nnr_model *m = file_model(9, 2), *ref = file_model(9, 2);
    nnr_status st = nnr_model_load(m, path);
    ck_assert_msg(st.code == code, "expected code %d, got %d: %s", (int)code, (int)st.code, nnr_strerror(&st));
    ck_assert_msg(strstr(st.message, needle) != NULL, "message \"%s\" does not name \"%s\"", st.message, needle);
    ck_assert(same_tensors(m, ref));
    nnr_model_free(m);
    nnr_model_free(ref);
}

START_TEST(test_load_rejects_bad_files)
{
    make_tmpdir();
    nnr_model *a = file_model(1, 2);
    const char *good = tmp_path("good.nnrp");
    CK_OK(nnr_model_save(a, good));
    unsigned char *buf;
    const size_t n = file_bytes(good, &buf);
    const char *bad = tmp_path("bad.nnrp");

    /* Truncated anywhere: every prefix is rejected, none crashes. */
    for (size_t cut = 0; cut < n; cut += (cut < 64 ? 1 : 37)) {
        write_bytes(bad, buf, cut);
        nnr_model *m = file_model(9, 2);
        nnr_status st = nnr_model_load(m, bad);
        ck_assert_msg(st.code == NNR_ERR_FORMAT, "prefix of %zu bytes: code %d: %s", cut, (int)st.code,
                      nnr_strerror(&st));
        nnr_model_free(m);
    }
    write_bytes(bad, buf, n - 1);
    assert_rejected(bad, NNR_ERR_FORMAT, "truncated");
    /* One byte too many. */
    buf[n] = 0;
    write_bytes(bad, buf, n + 1);
    assert_rejected(bad, NNR_ERR_FORMAT, "follow the last tensor");
    /* Bad magic, version, count, name length, dtype, rank, dimension. */
    unsigned char *c = malloc(n);
    memcpy(c, buf, n); c[0] = 'X'; write_bytes(bad, c, n);
    assert_rejected(bad, NNR_ERR_FORMAT, "not an nnref parameter file");
    memcpy(c, buf, n); c[8] = 2; write_bytes(bad, c, n);
    assert_rejected(bad, NNR_ERR_FORMAT, "version 2");
    memcpy(c, buf, n); c[14] = 0xff; write_bytes(bad, c, n);
    assert_rejected(bad, NNR_ERR_FORMAT, "tensor count");
    memcpy(c, buf, n); c[16] = 0; write_bytes(bad, c, n);
    assert_rejected(bad, NNR_ERR_FORMAT, "name length 0");
    memcpy(c, buf, n); c[33] = 9; write_bytes(bad, c, n);
    assert_rejected(bad, NNR_ERR_FORMAT, "dtype code 9");
    memcpy(c, buf, n); c[34] = 0; write_bytes(bad, c, n);
    assert_rejected(bad, NNR_ERR_FORMAT, "rank 0");
    memcpy(c, buf, n); c[35] = 0; write_bytes(bad, c, n);
    assert_rejected(bad, NNR_ERR_FORMAT, "dimension 0");
    /* A dimension of 2^40: more data than the file holds. */
    memcpy(c, buf, n); c[40] = 1; write_bytes(bad, c, n);
    assert_rejected(bad, NNR_ERR_FORMAT, "bytes left");
    memcpy(c, buf, n); c[17] = 0x01; write_bytes(bad, c, n);
    assert_rejected(bad, NNR_ERR_FORMAT, "name length");
    free(c);

    /* Another architecture: GroupNorm with 3 groups has the same tensors
     * (loads); a model without the LayerNorm lacks a tensor the file has. */
    nnr_model *g3 = file_model(4, 3);
    CK_OK(nnr_model_load(g3, good));
    nnr_model_free(g3);
    nnr_model *small;
    CK_OK(nnr_model_new(&small, NNR_FLOAT32));
    nnr_batchnorm_params bn = nnr_batchnorm_keras();
    bn.renorm = 1;
    bn.rmin = 0.5;
    bn.rmax = 2.0;
    bn.dmax = 1.0;
    CK_OK(nnr_model_add_batchnorm(small, &bn));
    const nnr_shape in = {3, {4, 5, 6}};
    CK_OK(nnr_model_build(small, &in, 1));
    nnr_status st = nnr_model_load(small, good);
    ck_assert_int_eq(st.code, NNR_ERR_SHAPE);
    ck_assert_msg(strstr(st.message, "groupnorm/gamma") != NULL, "%s", st.message);
    /* ... and the other way round: the file lacks a tensor the model has. */
    const char *small_path = tmp_path("small.nnrp");
    CK_OK(nnr_model_save(small, small_path));
    assert_rejected(small_path, NNR_ERR_SHAPE, "no tensor groupnorm/gamma");
    nnr_model_free(small);
    /* Same names, other shapes: an input of 7 features per position. */
    nnr_model *wide;
    CK_OK(nnr_model_new(&wide, NNR_FLOAT32));
    CK_OK(nnr_model_add_batchnorm(wide, &bn));
    const nnr_groupnorm_params gn = nnr_groupnorm_keras(1);
    const nnr_layernorm_params ln = nnr_layernorm_keras();
    CK_OK(nnr_model_add_groupnorm(wide, &gn));
    CK_OK(nnr_model_add_layernorm(wide, &ln));
    const nnr_shape in7 = {3, {4, 5, 7}};
    CK_OK(nnr_model_build(wide, &in7, 1));
    const char *wide_path = tmp_path("wide.nnrp");
    CK_OK(nnr_model_save(wide, wide_path));
    assert_rejected(wide_path, NNR_ERR_SHAPE, "batchnorm/gamma has shape (7), the model's is (6)");
    nnr_model_free(wide);
    /* Missing file. */
    assert_rejected(tmp_path("none.nnrp"), NNR_ERR_IO, "none.nnrp");

    free(buf);
    nnr_model_free(a);
    unlink(good);
    unlink(bad);
    unlink(small_path);
    unlink(wide_path);
    rmdir(tmpdir);
}
END_TEST

/* ---- errors --------------------------------------------------------------------------- */

START_TEST(test_errors)
{
    nnr_model *m = NULL;
    nnr_status st = nnr_model_new(NULL, NNR_FLOAT32);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    st = nnr_model_new(&m, (nnr_dtype)7);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert_ptr_null(m);
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    const nnr_shape in = {4, {2, 3, 3, 4}};
    st = nnr_model_build(m, &in, 1);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert(strstr(st.message, "no layers") != NULL);
    st = nnr_model_add_groupnorm(m, NULL);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    st = nnr_model_add_instancenorm(m, &(nnr_instancenorm_params){0}, 2);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert(strstr(st.message, "track_running_stats") != NULL);

    /* A layer that does not fit its input: the message names the layer. */
    const nnr_groupnorm_params gn = nnr_groupnorm_keras(3);  /* 4 channels */
    CK_OK(nnr_model_add_groupnorm(m, &gn));
    st = nnr_model_build(m, &in, 1);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert_msg(strncmp(st.message, "groupnorm: ", 11) == 0, "%s", st.message);
    nnr_model_free(m);

    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    const nnr_pool_params mp = nnr_pool_keras(2, 4);  /* window 4 on 3x3 */
    CK_OK(nnr_model_add_maxpool(m, &mp));
    st = nnr_model_build(m, &in, 1);
    ck_assert_int_eq(st.code, NNR_ERR_SHAPE);
    ck_assert_msg(strncmp(st.message, "maxpool: ", 9) == 0, "%s", st.message);
    nnr_model_free(m);

    /* LayerNorm over the batch axis cannot be a model layer. */
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    nnr_layernorm_params ln = nnr_layernorm_keras();
    ln.axes[0] = 0;
    CK_OK(nnr_model_add_layernorm(m, &ln));
    st = nnr_model_build(m, &in, 1);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert_msg(strstr(st.message, "batch axis") != NULL, "%s", st.message);
    nnr_model_free(m);

    /* Reshape to the wrong size. */
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    CK_OK(nnr_model_add_reshape(m, &(nnr_shape){1, {35}}));
    st = nnr_model_build(m, &in, 1);
    ck_assert_int_eq(st.code, NNR_ERR_SHAPE);
    ck_assert_msg(strstr(st.message, "35") != NULL && strstr(st.message, "36") != NULL, "%s", st.message);
    nnr_model_free(m);

    /* Running a built model badly. */
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    const nnr_groupnorm_params gn2 = nnr_groupnorm_keras(2);
    CK_OK(nnr_model_add_groupnorm(m, &gn2));
    float x[72] = {0};
    st = nnr_model_forward(m, 2, x, 1);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert(strstr(st.message, "not built") != NULL);
    CK_OK(nnr_model_build(m, &in, 1));
    st = nnr_model_add_groupnorm(m, &gn2);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    st = nnr_model_build(m, &in, 1);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    st = nnr_model_forward(m, 0, x, 1);
    ck_assert_int_eq(st.code, NNR_ERR_SHAPE);
    st = nnr_model_forward(m, 3, x, 1);
    ck_assert_int_eq(st.code, NNR_ERR_SHAPE);
    ck_assert(strstr(st.message, "1..2") != NULL);
    st = nnr_model_forward(m, 2, NULL, 1);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    st = nnr_model_forward_f64(m, 2, (const double *)x, 1);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert(strstr(st.message, "float") != NULL);
    st = nnr_model_backward(m, x);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert_ptr_null(nnr_model_output(m));
    ck_assert_ptr_null(nnr_model_input_grad(m));

    /* Optimizer settings out of their domain. */
    nnr_optimizer *opt = NULL;
    nnr_optimizer_params p = nnr_sgd_keras(-0.1, 0.0);
    st = nnr_optimizer_new(&opt, &p, m);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    ck_assert(strstr(st.message, "learning_rate") != NULL);
    p = nnr_sgd_torch(0.1, 1.0);
    st = nnr_optimizer_new(&opt, &p, m);
    ck_assert(st.code == NNR_ERR_PARAM && strstr(st.message, "momentum") != NULL);
    p = nnr_adam_keras();
    p.beta2 = 1.0;
    st = nnr_optimizer_new(&opt, &p, m);
    ck_assert(st.code == NNR_ERR_PARAM && strstr(st.message, "beta2") != NULL);
    p = nnr_adam_torch();
    p.epsilon = NAN;
    st = nnr_optimizer_new(&opt, &p, m);
    ck_assert(st.code == NNR_ERR_PARAM && strstr(st.message, "epsilon") != NULL);
    ck_assert_ptr_null(opt);
    p = nnr_adam_torch();
    CK_OK(nnr_optimizer_new(&opt, &p, m));
    st = nnr_optimizer_set_learning_rate(opt, INFINITY);
    ck_assert_int_eq(st.code, NNR_ERR_PARAM);
    nnr_optimizer_free(opt);
    st = nnr_optimizer_step(NULL);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);

    /* Save and load need a path and a built model. */
    st = nnr_model_save(m, NULL);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    st = nnr_model_save(m, "/nonexistent-dir/x.nnrp");
    ck_assert_int_eq(st.code, NNR_ERR_IO);
    ck_assert(strstr(st.message, "/nonexistent-dir/x.nnrp") != NULL);
    nnr_model_free(m);
    nnr_model_free(NULL);
}
END_TEST

/* tests/model_training_loop.c: the training loop written by hand. */
void model_training_loop_tests(TCase *training);

static Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *reference = tcase_create("reference");
    TCase *gradcheck = tcase_create("gradcheck");
    TCase *optimizer = tcase_create("optimizer");
    TCase *files = tcase_create("files");
    TCase *training = tcase_create("training");
    TCase *errors = tcase_create("errors");
    tcase_set_timeout(gradcheck, 60);
    tcase_set_timeout(files, 30);
    tcase_set_timeout(training, 120);

    tcase_add_test(reference, test_forward_equals_kernels);
    tcase_add_test(reference, test_inference_uses_running_stats);
    tcase_add_test(reference, test_glorot_init);
    tcase_add_test(reference, test_conv_dropout_equal_kernels);
    tcase_add_test(gradcheck, test_gradcheck_norm_pool_model);
    tcase_add_test(gradcheck, test_gradcheck_instancenorm_pool_model);
    tcase_add_test(gradcheck, test_gradcheck_conv_model);
    tcase_add_test(gradcheck, test_gradcheck_conv_gn_relu_dense_loss);
    tcase_add_test(optimizer, test_sgd_keras_torch);
    tcase_add_test(optimizer, test_adam_keras_torch);
    tcase_add_test(training, test_loss_by_hand);
    tcase_add_test(training, test_dense_relu_equal_kernels);
    tcase_add_test(training, test_fit_blobs);
    model_training_loop_tests(training);
    tcase_add_test(files, test_save_load_roundtrip);
    tcase_add_test(files, test_load_rejects_bad_files);
    tcase_add_test(errors, test_errors);

    suite_add_tcase(s, reference);
    suite_add_tcase(s, gradcheck);
    suite_add_tcase(s, optimizer);
    suite_add_tcase(s, training);
    suite_add_tcase(s, files);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return tu_run(model_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
