/*
 * Part of tests/test_model: a training loop written by hand, as a PyTorch or
 * Keras user writes one (forward in training mode, loss, backward, optimizer
 * step), against nnr_model_fit() on the same batches.
 *
 * What it pins down (include/nnref/model.h, nnr_model_add_dropout): the
 * optimizer step ends a training step, so dropout draws a new mask at every
 * step of the hand-written loop too, not only inside nnr_model_fit(); the
 * masks are the ones nnr_model_fit() draws, step for step; and every
 * training forward within one step draws the same mask (a backward, and a
 * gradient check's repeated forwards, rely on it).
 */
#include "config.h"
#include "test_util.h"

#define CK_OK(call) do { nnr_status st_ = (call); \
    ck_assert_msg(st_.code == NNR_OK, "%s: %s", #call, nnr_strerror(&st_)); } while (0)

enum {
    LOOP_BATCH = 4,
    LOOP_IN = 6,
    LOOP_HIDDEN = 16,
    LOOP_CLASSES = 3,
    LOOP_STEPS = 4,
    LOOP_MASK = LOOP_BATCH * LOOP_HIDDEN   /* one mask byte per dropout input */
};
#define LOOP_DROPOUT_LAYER 2   /* Dense, ReLU, Dropout, Dense */

/* Dense(6 -> 16) -> ReLU -> Dropout(0.5) -> Dense(16 -> 3), float, batch 4. */
static nnr_model *loop_model(const nnr_dropout_params *dp)
{
    const nnr_shape in = {2, {LOOP_BATCH, LOOP_IN}};
    const nnr_dense_params d1 = nnr_dense_keras(LOOP_IN, LOOP_HIDDEN), d2 = nnr_dense_keras(LOOP_HIDDEN, LOOP_CLASSES);
    nnr_model *m;
    CK_OK(nnr_model_new(&m, NNR_FLOAT32));
    CK_OK(nnr_model_add_dense(m, &d1));
    CK_OK(nnr_model_add_relu(m));
    CK_OK(nnr_model_add_dropout(m, dp));
    CK_OK(nnr_model_add_dense(m, &d2));
    CK_OK(nnr_model_build(m, &in, 11));
    ck_assert_uint_eq(nnr_model_layer(m, LOOP_DROPOUT_LAYER)->cache_bytes, LOOP_MASK);
    return m;
}

/* nnr_model_fit's per-batch callback: keeps the dropout layer's mask of
 * the batch just trained. */
static int keep_mask(nnr_model *m, const nnr_epoch_stats *s, void *user)
{
    uint8_t (*masks)[LOOP_MASK] = user;
    memcpy(masks[s->batches - 1], nnr_model_layer(m, LOOP_DROPOUT_LAYER)->cache, LOOP_MASK);
    return 0;
}

START_TEST(test_training_loop_by_hand_draws_fit_masks)
{
    float x[LOOP_STEPS * LOOP_BATCH * LOOP_IN];
    int32_t y[LOOP_STEPS * LOOP_BATCH];
    tu_randn_f(x, LOOP_STEPS * LOOP_BATCH * LOOP_IN, 21, 0.5, 1.0);   /* mean 0.5: most ReLU inputs positive */
    for (size_t i = 0; i < LOOP_STEPS * LOOP_BATCH; i++)
        y[i] = (int32_t)(i % LOOP_CLASSES);
    const nnr_dropout_params dp = nnr_dropout_keras(0.5);
    const nnr_optimizer_params adam = nnr_adam_keras();

    /* The loop by hand. */
    nnr_model *m = loop_model(&dp);
    nnr_layer *drop = nnr_model_layer(m, LOOP_DROPOUT_LAYER);
    nnr_optimizer *opt;
    CK_OK(nnr_optimizer_new(&opt, &adam, m));
    uint8_t masks[LOOP_STEPS][LOOP_MASK];
    for (size_t s = 0; s < LOOP_STEPS; s++) {
        const float *xb = x + s * LOOP_BATCH * LOOP_IN;
        CK_OK(nnr_model_forward(m, LOOP_BATCH, xb, 1));
        memcpy(masks[s], drop->cache, LOOP_MASK);

        /* The kernel's mask of step s: the layer's key, the counter moved
         * on by s masks (the rule nnr_model_add_dropout documents). */
        nnr_dropout_params ps = dp;
        ps.seed ^= drop->seed;
        ps.offset += s * (uint64_t)LOOP_MASK;
        const nnr_shape h = {2, {LOOP_BATCH, LOOP_HIDDEN}};
        float want[LOOP_MASK];
        uint8_t want_mask[LOOP_MASK];
        CK_OK(nnr_dropout_fwd_train(&ps, &h, nnr_model_activation(m, LOOP_DROPOUT_LAYER, NULL), want,
                                    want_mask));
        ck_assert_msg(memcmp(masks[s], want_mask, LOOP_MASK) == 0, "step %zu: not the kernel's mask", s);
        ck_assert(memcmp(nnr_model_activation(m, LOOP_DROPOUT_LAYER + 1, NULL), want, sizeof want) == 0);
        ck_assert_uint_eq(drop->step, s);

        /* A second training forward of the same step: the same mask. */
        CK_OK(nnr_model_forward(m, LOOP_BATCH, xb, 1));
        ck_assert_msg(memcmp(drop->cache, masks[s], LOOP_MASK) == 0, "step %zu: two forwards, two masks", s);

        double loss;
        CK_OK(nnr_model_loss(m, y + s * LOOP_BATCH, 1, &loss, NULL));
        CK_OK(nnr_model_backward_loss(m, 1.0));
        CK_OK(nnr_optimizer_step(opt));
    }
    ck_assert_uint_eq(nnr_optimizer_steps(opt), LOOP_STEPS);
    /* A new mask at every step: no two of the four alike (two independent
     * masks of 64 fair bits are equal with probability 2^-64). Each holds
     * both kept and dropped cells, so it is a real draw. */
    for (size_t s = 0; s < LOOP_STEPS; s++) {
        size_t kept = 0;
        for (size_t i = 0; i < LOOP_MASK; i++)
            kept += masks[s][i] != 0;
        ck_assert_msg(kept > 0 && kept < LOOP_MASK, "step %zu keeps %zu of %d", s, kept, LOOP_MASK);
        for (size_t t = 0; t < s; t++)
            ck_assert_msg(memcmp(masks[s], masks[t], LOOP_MASK) != 0, "steps %zu and %zu drew one mask", t, s);
    }

    /* nnr_model_fit on the same four batches, in order: the same masks,
     * step for step, and so the same weights, bit for bit. */
    nnr_model *m2 = loop_model(&dp);
    nnr_optimizer *opt2;
    CK_OK(nnr_optimizer_new(&opt2, &adam, m2));
    const nnr_dataset data = {x, y, LOOP_STEPS * LOOP_BATCH, {1, {LOOP_IN}}};
    nnr_fit_options o = nnr_fit_defaults();
    o.batch_size = LOOP_BATCH;
    o.shuffle = 0;
    o.verbose = 0;
    o.on_batch = keep_mask;
    uint8_t fit_masks[LOOP_STEPS][LOOP_MASK];
    o.user = fit_masks;
    CK_OK(nnr_model_fit(m2, opt2, &data, &o, NULL, NULL));
    ck_assert_uint_eq(nnr_optimizer_steps(opt2), LOOP_STEPS);
    for (size_t s = 0; s < LOOP_STEPS; s++)
        ck_assert_msg(memcmp(fit_masks[s], masks[s], LOOP_MASK) == 0, "step %zu: fit drew another mask", s);
    for (size_t i = 0; i < nnr_model_n_layers(m); i++) {
        const nnr_layer *a = nnr_model_layer(m, i), *b = nnr_model_layer(m2, i);
        for (size_t k = 0; k < a->n_params; k++)
            ck_assert_msg(memcmp(a->params[k].data, b->params[k].data, a->params[k].count * sizeof(float)) == 0,
                          "%s/%s differs after fit and the loop by hand", a->name, a->params[k].name);
    }

    nnr_optimizer_free(opt);
    nnr_optimizer_free(opt2);
    nnr_model_free(m);
    nnr_model_free(m2);
}
END_TEST

void model_training_loop_tests(TCase *training);

void model_training_loop_tests(TCase *training)
{
    tcase_add_test(training, test_training_loop_by_hand_draws_fit_masks);
}
