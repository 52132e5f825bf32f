/*
 * BatchNorm: golden values (hand-computed and from SEMANTICS.md), shapes and
 * layouts, bad input with canaries, and the numerics pitfalls of §7.
 * Gradient checks live in norm_batchnorm_gradcheck.c, AVX2-vs-naive in
 * norm_batchnorm_crosscheck.c.
 */
#include "config.h"
#include <float.h>
#include <stdio.h>
#include <string.h>
#include "test_util.h"
#include "test_norm.h"

/* The float implementations every numerics test runs through. */
typedef struct bn_impl {
    const char *name;
    nnr_batchnorm_fwd_train_fn fwd_train;
    nnr_batchnorm_fwd_infer_fn fwd_infer;
    nnr_batchnorm_bwd_train_fn bwd_train;
} bn_impl;

static size_t bn_impls(bn_impl out[2])
{
    size_t n = 0;
    out[n++] = (bn_impl){"naive", nnr_batchnorm_fwd_train_naive, nnr_batchnorm_fwd_infer_naive,
                         nnr_batchnorm_bwd_train_naive};
#ifdef NNR_HAVE_AVX2_BUILD
    if (nnr_avx2_usable())
        out[n++] = (bn_impl){"avx2", nnr_batchnorm_fwd_train_avx2, nnr_batchnorm_fwd_infer_avx2,
                             nnr_batchnorm_bwd_train_avx2};
#endif
    return n;
}

/* Float state and cache for C channels (G ghost batches), freed by bn_buffers_free. */
typedef struct bn_buffers {
    float *mean, *istd, *r, *d;
    float *running_mean, *running_var, *moving_stddev, *renorm_mean, *renorm_stddev;
    nnr_batchnorm_cache cache;
    nnr_batchnorm_state state;
} bn_buffers;

static void bn_buffers_init(bn_buffers *b, size_t channels, size_t groups)
{
    b->mean = tu_alloc_f(channels * groups);
    b->istd = tu_alloc_f(channels * groups);
    b->r = tu_alloc_f(channels);
    b->d = tu_alloc_f(channels);
    b->running_mean = tu_alloc_f(channels);
    b->running_var = tu_alloc_f(channels);
    b->moving_stddev = tu_alloc_f(channels);
    b->renorm_mean = tu_alloc_f(channels);
    b->renorm_stddev = tu_alloc_f(channels);
    b->cache = (nnr_batchnorm_cache){b->mean, b->istd, b->r, b->d};
    b->state = (nnr_batchnorm_state){b->running_mean, b->running_var, b->moving_stddev,
                                     b->renorm_mean, b->renorm_stddev, 0};
    nnr_status st = nnr_batchnorm_state_init(&b->state, channels);
    ck_assert_int_eq(st.code, NNR_OK);
}

static void bn_buffers_free(bn_buffers *b)
{
    free(b->mean); free(b->istd); free(b->r); free(b->d);
    free(b->running_mean); free(b->running_var); free(b->moving_stddev);
    free(b->renorm_mean); free(b->renorm_stddev);
}

#define ASSERT_OK(call) do { nnr_status st_ = (call); \
    ck_assert_msg(st_.code == NNR_OK, "%s failed: %s", #call, nnr_strerror(&st_)); } while (0)

/* Population (biased) variance and mean of v[0..n) in double. */
static void stats_d(const float *v, size_t n, size_t stride, double *mean, double *var)
{
    double s = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++)
        s += v[i * stride];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) {
        double c = v[i * stride] - *mean;
        ss += c * c;
    }
    *var = ss / (double)n;
}

/* ------------------------------------------------------------------------- */
/* reference                                                                 */
/* ------------------------------------------------------------------------- */

/* x = [[1,2],[3,4],[5,6],[7,8]] (N=4, C=2), eps = 0: per channel the mean is 4
 * and 5, the biased variance 5, so y = (x - mu)/sqrt(5). */
START_TEST(reference_small_matrix)
{
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float gamma[2] = {1, 1}, beta[2] = {0, 0};
    float y[8], mean[2], istd[2];
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.epsilon = 0.0;
    nnr_shape shape = {2, {4, 2}};
    nnr_batchnorm_cache cache = {mean, istd, NULL, NULL};
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, gamma, beta, y, &cache, NULL));
    const double expect[4] = {-3.0 / sqrt(5.0), -1.0 / sqrt(5.0), 1.0 / sqrt(5.0), 3.0 / sqrt(5.0)};
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq_tol(y[2 * i], (float)expect[i], 1e-6f);
        ck_assert_float_eq_tol(y[2 * i + 1], (float)expect[i], 1e-6f);
    }
    ck_assert_float_eq(mean[0], 4.0f);
    ck_assert_float_eq(mean[1], 5.0f);
    ck_assert_float_eq_tol(istd[0], (float)(1.0 / sqrt(5.0)), 1e-7f);
}
END_TEST

/* gamma and beta act per channel: y = gamma_c * x_hat + beta_c. */
START_TEST(reference_affine)
{
    const float x[6] = {0, 10, 2, 20, 4, 30};  /* (3, 2): channel 0 {0,2,4}, channel 1 {10,20,30} */
    const float gamma[2] = {2.0f, -0.5f}, beta[2] = {1.0f, 3.0f};
    float y[6], mean[2], istd[2];
    nnr_batchnorm_params p = nnr_batchnorm_torch();   /* eps 1e-5 */
    p.axis = -1;
    nnr_shape shape = {2, {3, 2}};
    nnr_batchnorm_cache cache = {mean, istd, NULL, NULL};
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, gamma, beta, y, &cache, NULL));
    /* channel 0: mean 2, var 8/3; channel 1: mean 20, var 200/3 */
    const double s0 = 1.0 / sqrt(8.0 / 3.0 + 1e-5), s1 = 1.0 / sqrt(200.0 / 3.0 + 1e-5);
    const double expect[6] = {2 * (-2) * s0 + 1, -0.5 * (-10) * s1 + 3,
                              1.0,               3.0,
                              2 * 2 * s0 + 1,    -0.5 * 10 * s1 + 3};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(y[i], (float)expect[i], 2e-6f);
}
END_TEST

/* Keras 3: moving = moving*0.99 + batch*0.01 with the BIASED batch variance. */
START_TEST(reference_running_keras)
{
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};   /* var 5 per channel, means 4 and 5 */
    float y[8];
    bn_buffers b;
    bn_buffers_init(&b, 2, 1);
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    nnr_shape shape = {2, {4, 2}};
    const float ones[2] = {1, 1}, zeros[2] = {0, 0};
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, ones, zeros, y, &b.cache, &b.state));
    ck_assert_float_eq_tol(b.running_mean[0], 0.04f, 1e-7f);
    ck_assert_float_eq_tol(b.running_mean[1], 0.05f, 1e-7f);
    ck_assert_float_eq_tol(b.running_var[0], 0.99f + 0.05f, 1e-6f);
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, ones, zeros, y, &b.cache, &b.state));
    ck_assert_float_eq_tol(b.running_mean[0], 0.99f * 0.04f + 0.04f, 1e-7f);
    ck_assert_float_eq_tol(b.running_var[0], 0.99f * 1.04f + 0.05f, 1e-6f);
    ck_assert_uint_eq(b.state.num_batches_tracked, 2);
    bn_buffers_free(&b);
}
END_TEST

/* PyTorch: running = 0.9*running + 0.1*batch with the UNBIASED variance (m/(m-1)). */
START_TEST(reference_running_torch)
{
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float y[8];
    bn_buffers b;
    bn_buffers_init(&b, 2, 1);
    nnr_batchnorm_params p = nnr_batchnorm_torch();
    p.axis = -1;   /* (N, C) input: channel axis is the last = 1 */
    nnr_shape shape = {2, {4, 2}};
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, (float[]){1, 1}, (float[]){0, 0}, y,
                                            &b.cache, &b.state));
    ck_assert_float_eq_tol(b.running_mean[1], 0.5f, 1e-7f);
    ck_assert_float_eq_tol(b.running_var[0], 0.9f + 0.1f * 5.0f * 4.0f / 3.0f, 1e-6f);
    ck_assert_double_eq_tol(nnr_batchnorm_momentum_from_torch(0.1), 0.9, 1e-15);
    bn_buffers_free(&b);
}
END_TEST

/* PyTorch momentum=None: cumulative average; step 1 overwrites the initial 0/1. */
START_TEST(reference_running_cumulative)
{
    float x[4] = {1, 3, 5, 7}, y[4];
    bn_buffers b;
    bn_buffers_init(&b, 1, 1);
    nnr_batchnorm_params p = nnr_batchnorm_torch();
    p.update = NNR_BN_UPDATE_CUMULATIVE;
    p.scale = p.center = 0;
    nnr_shape shape = {2, {4, 1}};
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, NULL, NULL, y, &b.cache, &b.state));
    ck_assert_float_eq(b.running_mean[0], 4.0f);
    ck_assert_float_eq_tol(b.running_var[0], 20.0f / 3.0f, 1e-6f);   /* unbiased: 20/3 */
    for (int i = 0; i < 4; i++)
        x[i] += 10.0f;                                                  /* mean 14 */
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, NULL, NULL, y, &b.cache, &b.state));
    ck_assert_float_eq(b.running_mean[0], 9.0f);                       /* (4 + 14)/2 */
    bn_buffers_free(&b);
}
END_TEST

/* PuzzleLib: factor max(1/t, 0.1) weights the NEW batch: 1, 1/2, ..., 1/10, then 0.1. */
START_TEST(reference_running_puzzlelib)
{
    bn_buffers b;
    bn_buffers_init(&b, 1, 1);
    nnr_batchnorm_params p = nnr_batchnorm_puzzlelib();
    nnr_shape shape = {4, {2, 1, 1, 2}};
    float y[4];
    double expect = 0.0;
    for (int t = 1; t <= 13; t++) {
        float x[4] = {(float)t, (float)t + 2, (float)t + 4, (float)t + 6};   /* mean t + 3 */
        ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, (float[]){1}, (float[]){0}, y,
                                                &b.cache, &b.state));
        double f = 1.0 / t > 0.1 ? 1.0 / t : 0.1;
        expect = (1.0 - f) * expect + f * (t + 3);
        ck_assert_float_eq_tol(b.running_mean[0], (float)expect, 1e-5f);
        if (t == 1) {   /* module unittest: running mean == batch mean after step 1 */
            ck_assert_float_eq(b.running_mean[0], 4.0f);
            ck_assert_float_eq_tol(b.running_var[0], 20.0f / 3.0f, 1e-6f);
        }
    }
    bn_buffers_free(&b);
}
END_TEST

/* tf.keras 2: the fused path (rank 4/5) keeps the Bessel-corrected variance, Dense (rank 2) does not. */
START_TEST(reference_tf2_presets)
{
    ck_assert_int_eq(nnr_batchnorm_tf2(4).running_var_unbiased, 1);
    ck_assert_int_eq(nnr_batchnorm_tf2(5).running_var_unbiased, 1);
    ck_assert_int_eq(nnr_batchnorm_tf2(2).running_var_unbiased, 0);
    ck_assert_int_eq(nnr_batchnorm_keras().running_var_unbiased, 0);
    ck_assert_double_eq(nnr_batchnorm_keras().momentum, 0.99);
    ck_assert_double_eq(nnr_batchnorm_keras().epsilon, 1e-3);
    ck_assert_double_eq(nnr_batchnorm_torch().epsilon, 1e-5);
    ck_assert_int_eq(nnr_batchnorm_torch().axis, 1);
    ck_assert_int_eq(nnr_batchnorm_keras().axis, -1);

    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};   /* as (2, 2, 1, 2) NHWC: channel values {1,3,5,7} */
    float y[8];
    bn_buffers b;
    bn_buffers_init(&b, 2, 1);
    nnr_batchnorm_params p = nnr_batchnorm_tf2(4);
    nnr_shape shape = {4, {2, 2, 1, 2}};
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, (float[]){1, 1}, (float[]){0, 0}, y,
                                            &b.cache, &b.state));
    ck_assert_float_eq_tol(b.running_var[0], 0.99f + 0.01f * 20.0f / 3.0f, 1e-6f);
    bn_buffers_free(&b);
}
END_TEST

/* Inference: y = gamma (x - rm) / sqrt(rv + eps) + beta; backward with constants. */
START_TEST(reference_inference)
{
    const float x[4] = {1, 2, 3, 4};          /* (2, 2) */
    float rm[2] = {1.0f, -1.0f}, rv[2] = {4.0f, 0.25f};
    const float gamma[2] = {2.0f, 1.0f}, beta[2] = {0.5f, 0.0f};
    nnr_batchnorm_state state = {rm, rv, NULL, NULL, NULL, 0};
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.epsilon = 0.0;
    nnr_shape shape = {2, {2, 2}};
    float y[4];
    ASSERT_OK(nnr_batchnorm_fwd_infer_naive(&p, &shape, x, gamma, beta, y, &state));
    ck_assert_float_eq(y[0], 0.5f);                       /* 2*(1-1)/2 + 0.5 */
    ck_assert_float_eq(y[1], 6.0f);                       /* (2+1)/0.5 */
    ck_assert_float_eq(y[2], 2.5f);                       /* 2*(3-1)/2 + 0.5 */
    ck_assert_float_eq(y[3], 10.0f);

    const float dy[4] = {1, 1, 2, -1};
    float dx[4], dgamma[2], dbeta[2];
    ASSERT_OK(nnr_batchnorm_bwd_infer_naive(&p, &shape, x, gamma, &state, dy, dx, dgamma, dbeta));
    ck_assert_float_eq(dx[0], 1.0f);                      /* dy * gamma / 2 */
    ck_assert_float_eq(dx[1], 2.0f);                      /* dy / 0.5 */
    ck_assert_float_eq(dx[3], -2.0f);
    ck_assert_float_eq(dgamma[0], 2.0f);                  /* 1*0/2 + 2*2/2 */
    ck_assert_float_eq(dgamma[1], 6.0f - 10.0f);          /* 1*3/0.5 + (-1)*5/0.5 */
    ck_assert_float_eq(dbeta[0], 3.0f);
    ck_assert_float_eq(dbeta[1], 0.0f);
}
END_TEST

/* Ghost batches (tf.keras 2 virtual_batch_size): N=4, V=2 -> G=2 ghost batches
 * {0, 2} and {1, 3}; each is normalized with its own statistics, and the
 * running statistics move toward the mean over ghost batches. */
START_TEST(reference_ghost_batches)
{
    const float x[4] = {1, 10, 3, 30};   /* (4, 1): ghost 0 = {1, 3}, ghost 1 = {10, 30} */
    float y[4];
    bn_buffers b;
    bn_buffers_init(&b, 1, 2);
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.virtual_batch_size = 2;
    p.epsilon = 0.0;
    nnr_shape shape = {2, {4, 1}};
    size_t channels = 0, cache_len = 0;
    ASSERT_OK(nnr_batchnorm_sizes(&p, &shape, &channels, &cache_len));
    ck_assert_uint_eq(channels, 1);
    ck_assert_uint_eq(cache_len, 2);
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, (float[]){1}, (float[]){0}, y, &b.cache, &b.state));
    ck_assert_float_eq(b.mean[0], 2.0f);
    ck_assert_float_eq(b.mean[1], 20.0f);
    ck_assert_float_eq(y[0], -1.0f);
    ck_assert_float_eq(y[1], -1.0f);
    ck_assert_float_eq(y[2], 1.0f);
    ck_assert_float_eq(y[3], 1.0f);
    /* mean over ghosts of the means (11) and of the biased variances ((1 + 100)/2) */
    ck_assert_float_eq_tol(b.running_mean[0], 0.11f, 1e-6f);
    ck_assert_float_eq_tol(b.running_var[0], 0.99f + 0.01f * 50.5f, 1e-6f);
    bn_buffers_free(&b);
}
END_TEST

/* Ghost batches at inference: tf.keras 2 reshapes to [-1, 1] when not
 * training, so virtual_batch_size = 2 must not reject N = 3 there: every row
 * is normalized with the running statistics, y = (x - 1)/sqrt(4) here, and the
 * backward is dx = dy/2. Training with N = 3 is still rejected. */
START_TEST(reference_ghost_batches_inference)
{
    const float x[3] = {1, 5, -3}, dy[3] = {2, -4, 6};   /* (3, 1): N = 3 */
    float rm[1] = {1.0f}, rv[1] = {4.0f};
    nnr_batchnorm_state state = {rm, rv, NULL, NULL, NULL, 0};
    nnr_batchnorm_params p = nnr_batchnorm_tf2(2);
    p.virtual_batch_size = 2;
    p.epsilon = 0.0;
    const nnr_shape shape = {2, {3, 1}};
    const float want_y[3] = {0.0f, 2.0f, -2.0f}, want_dx[3] = {1.0f, -2.0f, 3.0f};
    bn_impl impls[2];
    const size_t n_impl = bn_impls(impls);
    size_t checked = 0;
    for (size_t k = 0; k < n_impl; k++) {
        float y[3];
        ASSERT_OK(impls[k].fwd_infer(&p, &shape, x, (float[]){1}, (float[]){0}, y, &state));
        for (size_t i = 0; i < 3; i++, checked++)
            ck_assert_msg(y[i] == want_y[i], "%s fwd_infer y[%zu] = %g, want %g", impls[k].name, i, y[i], want_y[i]);
    }
    const nnr_batchnorm_bwd_infer_fn bwd[2] = {nnr_batchnorm_bwd_infer_naive, nnr_batchnorm_bwd_infer};
    for (size_t k = 0; k < 2; k++) {
        float dx[3], dgamma[1], dbeta[1];
        ASSERT_OK(bwd[k](&p, &shape, x, (float[]){1}, &state, dy, dx, dgamma, dbeta));
        for (size_t i = 0; i < 3; i++, checked++)
            ck_assert_msg(dx[i] == want_dx[i], "bwd_infer %s dx[%zu] = %g, want %g", k ? "dispatch" : "naive", i,
                          dx[i], want_dx[i]);
    }
    ck_assert_uint_eq(checked, 3 * n_impl + 6);
    float y[3], mean[2], istd[2];
    nnr_batchnorm_cache cache = {mean, istd, NULL, NULL};
    nnr_status st = nnr_batchnorm_fwd_train_naive(&p, &shape, x, (float[]){1}, (float[]){0}, y, &cache, &state);
    ck_assert_msg(st.code == NNR_ERR_PARAM && strstr(nnr_strerror(&st), "virtual_batch_size") != NULL,
                  "training with N = 3, virtual_batch_size 2: got code %d (%s)", st.code, nnr_strerror(&st));
}
END_TEST

/* Batch renormalization: r = clip(sigma_B/sigma_r), d = clip((mu_B - mu_r)/sigma_r),
 * y = gamma (r x_hat + d) + beta, then the renorm and moving statistics move. */
START_TEST(reference_renorm)
{
    const float x[4] = {1, 3, 5, 7};      /* mean 4, var 5 */
    float y[4];
    bn_buffers b;
    bn_buffers_init(&b, 1, 1);
    b.renorm_mean[0] = 2.0f;
    b.renorm_stddev[0] = 2.0f;
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.renorm = 1;
    p.epsilon = 0.0;
    p.rmax = 1.5;   /* sigma_B / sigma_r = sqrt(5)/2 = 1.118: not clipped */
    p.rmin = 0.5;
    p.dmax = 0.75;  /* (4 - 2)/2 = 1: clipped to 0.75 */
    nnr_shape shape = {2, {4, 1}};
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, (float[]){1}, (float[]){0}, y, &b.cache, &b.state));
    const double r = sqrt(5.0) / 2.0, d = 0.75;
    ck_assert_float_eq_tol(b.r[0], (float)r, 1e-6f);
    ck_assert_float_eq_tol(b.d[0], (float)d, 0.0f + 1e-7f);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq_tol(y[i], (float)((x[i] - 4.0) / sqrt(5.0) * r + d), 1e-6f);
    /* renorm statistics: EMA with renorm_momentum 0.99 toward mu_B = 4, sigma_B = sqrt(5) */
    ck_assert_float_eq_tol(b.renorm_mean[0], (float)(0.99 * 2 + 0.01 * 4), 1e-6f);
    ck_assert_float_eq_tol(b.renorm_stddev[0], (float)(0.99 * 2 + 0.01 * sqrt(5.0)), 1e-6f);
    /* Keras 3 tracks the moving stddev and derives the variance from it */
    const double stddev = 0.99 * 1.0 + 0.01 * sqrt(5.0);
    ck_assert_float_eq_tol(b.moving_stddev[0], (float)stddev, 1e-6f);
    ck_assert_float_eq_tol(b.running_var[0], (float)(stddev * stddev), 1e-6f);
    ck_assert_float_eq_tol(b.running_mean[0], 0.04f, 1e-7f);

    /* backward: gamma is scaled by r, dgamma = sum dy (r x_hat + d) */
    const float dy[4] = {1, 0, 0, 0};
    float dx[4], dgamma[1], dbeta[1];
    ASSERT_OK(nnr_batchnorm_bwd_train_naive(&p, &shape, x, (float[]){1}, &b.cache, dy, dx, dgamma, dbeta));
    ck_assert_float_eq_tol(dgamma[0], (float)(r * (-3.0 / sqrt(5.0)) + d), 1e-6f);
    ck_assert_float_eq(dbeta[0], 1.0f);
    bn_buffers_free(&b);
}
END_TEST

/* The staged backward of document 002 and the closed form give the same dx. */
START_TEST(reference_staged_equals_closed_form)
{
    enum { N = 5, C = 3 };
    double x[N * C], y[N * C], dy[N * C], mean[C], istd[C];
    double dx1[N * C], dx2[N * C], dg1[C], dg2[C], db1[C], db2[C];
    const double gamma[C] = {1.5, -0.7, 2.0}, beta[C] = {0.1, 0.2, 0.3};
    for (int i = 0; i < N * C; i++) {
        x[i] = nnr_rng_normal(3, (uint64_t)i) * 2.0 + 1.0;
        dy[i] = nnr_rng_normal(4, (uint64_t)i);
    }
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    nnr_shape shape = {2, {N, C}};
    nnr_batchnorm_cache_f64 cache = {mean, istd, NULL, NULL};
    ASSERT_OK(nnr_batchnorm_fwd_train_naive_f64(&p, &shape, x, gamma, beta, y, &cache, NULL));
    ASSERT_OK(nnr_batchnorm_bwd_train_naive_f64(&p, &shape, x, gamma, &cache, dy, dx1, dg1, db1));
    ASSERT_OK(nnr_batchnorm_bwd_train_staged_naive_f64(&p, &shape, x, gamma, &cache, dy, dx2, dg2, db2));
    for (int i = 0; i < N * C; i++)
        ck_assert_double_eq_tol(dx1[i], dx2[i], 1e-13);
    for (int c = 0; c < C; c++) {
        ck_assert_double_eq_tol(dg1[c], dg2[c], 1e-13);
        ck_assert_double_eq_tol(db1[c], db2[c], 1e-13);
    }
    /* and dx sums to zero per channel: the mean is subtracted */
    for (int c = 0; c < C; c++) {
        double s = 0.0;
        for (int n = 0; n < N; n++)
            s += dx1[n * C + c];
        ck_assert_double_lt(fabs(s), 1e-13);
    }
}
END_TEST

/* center/scale off: gamma/beta are not read, their gradients not written. */
START_TEST(reference_center_scale_off)
{
    const float x[4] = {1, 3, 5, 7};
    float y[4], mean[1], istd[1], dx[4];
    float dgamma[1] = {NNR_CANARY}, dbeta[1] = {NNR_CANARY};
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.center = 0;
    p.scale = 0;
    p.epsilon = 0.0;
    nnr_shape shape = {2, {4, 1}};
    nnr_batchnorm_cache cache = {mean, istd, NULL, NULL};
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, NULL, NULL, y, &cache, NULL));
    ck_assert_float_eq_tol(y[3], (float)(3.0 / sqrt(5.0)), 1e-6f);
    ASSERT_OK(nnr_batchnorm_bwd_train_naive(&p, &shape, x, NULL, &cache, (float[]){1, 2, 3, 4}, dx,
                                            dgamma, dbeta));
    ck_assert(tu_all_canary(dgamma, 1));
    ck_assert(tu_all_canary(dbeta, 1));
}
END_TEST

void batchnorm_add_reference(TCase *tc)
{
    tcase_add_test(tc, reference_small_matrix);
    tcase_add_test(tc, reference_affine);
    tcase_add_test(tc, reference_running_keras);
    tcase_add_test(tc, reference_running_torch);
    tcase_add_test(tc, reference_running_cumulative);
    tcase_add_test(tc, reference_running_puzzlelib);
    tcase_add_test(tc, reference_tf2_presets);
    tcase_add_test(tc, reference_inference);
    tcase_add_test(tc, reference_ghost_batches);
    tcase_add_test(tc, reference_ghost_batches_inference);
    tcase_add_test(tc, reference_renorm);
    tcase_add_test(tc, reference_staged_equals_closed_form);
    tcase_add_test(tc, reference_center_scale_off);
}

/* ------------------------------------------------------------------------- */
/* shapes                                                                    */
/* ------------------------------------------------------------------------- */

/* The same data laid out channels_first (N, C, S) and channels_last (N, S, C),
 * for ranks 2..5 and a middle axis, give the same normalized values. */
static const size_t layout_spatial[4][3] = {{0}, {5}, {3, 4}, {2, 3, 2}};

/* Runs one rank both ways and judges every y and running statistic of the
 * two layouts for bitwise equality; returns the tally. */
static tu_tally compare_layouts(size_t rank, size_t n, size_t c)
{
    tu_tally t = {0};
    size_t spatial = 1;
    nnr_shape first = {rank, {n, c}}, last = {rank, {n}};
    for (size_t d = 0; d + 2 < rank; d++) {
        first.dims[2 + d] = layout_spatial[rank - 2][d];
        last.dims[1 + d] = layout_spatial[rank - 2][d];
        spatial *= layout_spatial[rank - 2][d];
    }
    last.dims[rank - 1] = c;
    const size_t count = n * c * spatial;
    float *xf = tu_alloc_f(count), *xl = tu_alloc_f(count), *yf = tu_alloc_f(count), *yl = tu_alloc_f(count);
    float *gamma = tu_alloc_f(c), *beta = tu_alloc_f(c);
    bn_buffers bf, bl;
    bn_buffers_init(&bf, c, 1);
    bn_buffers_init(&bl, c, 1);
    for (size_t i = 0; i < c; i++) {
        gamma[i] = 1.0f + 0.1f * (float)i;
        beta[i] = -0.2f * (float)i;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t ch = 0; ch < c; ch++)
            for (size_t s = 0; s < spatial; s++) {
                float v = (float)nnr_rng_normal(11, (i * c + ch) * spatial + s) * (1.0f + (float)ch) + (float)ch;
                xf[(i * c + ch) * spatial + s] = v;
                xl[(i * spatial + s) * c + ch] = v;
            }
    nnr_batchnorm_params pf = nnr_batchnorm_torch(), pl = nnr_batchnorm_torch();
    pf.axis = 1;
    pl.axis = -1;
    pf.error_on_single_value = pl.error_on_single_value = 0;
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&pf, &first, xf, gamma, beta, yf, &bf.cache, &bf.state));
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&pl, &last, xl, gamma, beta, yl, &bl.cache, &bl.state));
    for (size_t i = 0; i < n; i++)
        for (size_t ch = 0; ch < c; ch++)
            for (size_t s = 0; s < spatial; s++) {
                const float a = yf[(i * c + ch) * spatial + s], b = yl[(i * spatial + s) * c + ch];
                if (!tu_judge(&t, a == b, fabs((double)a - b), 0))
                    tu_note(&t, "rank %zu N %zu C %zu: y at n=%zu c=%zu s=%zu is %.9g channels_first, %.9g "
                            "channels_last", rank, n, c, i, ch, s, (double)a, (double)b);
            }
    for (size_t ch = 0; ch < c; ch++) {
        if (!tu_judge(&t, bf.running_mean[ch] == bl.running_mean[ch], 0, 0))
            tu_note(&t, "rank %zu N %zu C %zu: running_mean[%zu] %.9g vs %.9g", rank, n, c, ch,
                    (double)bf.running_mean[ch], (double)bl.running_mean[ch]);
        if (!tu_judge(&t, bf.running_var[ch] == bl.running_var[ch], 0, 0))
            tu_note(&t, "rank %zu N %zu C %zu: running_var[%zu] %.9g vs %.9g", rank, n, c, ch,
                    (double)bf.running_var[ch], (double)bl.running_var[ch]);
    }
    t.cases = 1;
    free(xf); free(xl); free(yf); free(yl); free(gamma); free(beta);
    bn_buffers_free(&bf);
    bn_buffers_free(&bl);
    return t;
}

START_TEST(shapes_layouts_ranks_2_to_5)
{
    static const size_t batch_channels[3][2] = {{3, 4}, {1, 1}, {2, 9}};
    tu_tally all = {0};
    for (size_t rank = 2; rank <= 5; rank++)
        for (size_t k = 0; k < 3; k++) {
            const tu_tally t = compare_layouts(rank, batch_channels[k][0], batch_channels[k][1]);
            tu_tally_add(&all, &t);
        }
    /* 4 ranks x 3 (N, C): every y and running statistic bitwise equal across layouts */
    ck_assert_uint_eq(all.cases, 12);
    ck_assert_msg(all.bad == 0, "%zu of %zu values differ between channels_first and channels_last; first: %s",
                  all.bad, all.checked, all.first);
}
END_TEST

/* A middle channel axis (axis 2 of rank 4) is the (N, pre, C, post) view with
 * both pre and post > 1: compare against per-channel statistics computed here. */
START_TEST(shapes_middle_axis)
{
    enum { N = 2, A = 3, C = 4, B = 5 };
    float x[N * A * C * B], y[N * A * C * B];
    for (size_t i = 0; i < N * A * C * B; i++)
        x[i] = (float)nnr_rng_normal(5, i) * 3.0f + 2.0f;
    bn_buffers b;
    bn_buffers_init(&b, C, 1);
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.axis = 2;
    nnr_shape shape = {4, {N, A, C, B}};
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, (float[]){1, 1, 1, 1}, (float[]){0, 0, 0, 0}, y,
                                            &b.cache, &b.state));
    for (size_t c = 0; c < C; c++) {
        double s = 0.0, ss = 0.0;
        for (size_t n = 0; n < N; n++)
            for (size_t a = 0; a < A; a++)
                for (size_t q = 0; q < B; q++)
                    s += x[((n * A + a) * C + c) * B + q];
        double mu = s / (N * A * B);
        for (size_t n = 0; n < N; n++)
            for (size_t a = 0; a < A; a++)
                for (size_t q = 0; q < B; q++) {
                    double d = x[((n * A + a) * C + c) * B + q] - mu;
                    ss += d * d;
                }
        double istd = 1.0 / sqrt(ss / (N * A * B) + 1e-3);
        ck_assert_float_eq_tol(b.mean[c], (float)mu, 1e-5f);
        ck_assert_float_eq_tol(b.istd[c], (float)istd, 1e-6f);
        size_t i = ((1 * A + 2) * C + c) * B + 4;
        ck_assert_float_eq_tol(y[i], (float)((x[i] - mu) * istd), 1e-5f);
    }
    bn_buffers_free(&b);
}
END_TEST

/* In place: y may be x, dx may be dy. */
START_TEST(shapes_in_place)
{
    enum { N = 6, C = 5 };
    float x[N * C], xc[N * C], y[N * C], dy[N * C], dx[N * C], dg[C], db[C], dg2[C], db2[C];
    for (int i = 0; i < N * C; i++) {
        x[i] = xc[i] = (float)nnr_rng_normal(1, (uint64_t)i);
        dy[i] = (float)nnr_rng_normal(2, (uint64_t)i);
    }
    bn_buffers b;
    bn_buffers_init(&b, C, 1);
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    nnr_shape shape = {2, {N, C}};
    const float gamma[C] = {1, 2, 3, 4, 5}, beta[C] = {0};
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, x, gamma, beta, y, &b.cache, NULL));
    ASSERT_OK(nnr_batchnorm_fwd_train_naive(&p, &shape, xc, gamma, beta, xc, &b.cache, NULL));
    ck_assert_mem_eq(xc, y, sizeof y);
    ASSERT_OK(nnr_batchnorm_bwd_train_naive(&p, &shape, x, gamma, &b.cache, dy, dx, dg, db));
    ASSERT_OK(nnr_batchnorm_bwd_train_naive(&p, &shape, x, gamma, &b.cache, dy, dy, dg2, db2));
    ck_assert_mem_eq(dy, dx, sizeof dx);
    ck_assert_mem_eq(dg, dg2, sizeof dg);
    bn_buffers_free(&b);
}
END_TEST

void batchnorm_add_shapes(TCase *tc)
{
    tcase_add_test(tc, shapes_layouts_ranks_2_to_5);
    tcase_add_test(tc, shapes_middle_axis);
    tcase_add_test(tc, shapes_in_place);
}

/* ------------------------------------------------------------------------- */
/* errors: status, a sentence naming the argument, outputs untouched          */
/* ------------------------------------------------------------------------- */

enum { EN = 4, EC = 3, ECOUNT = EN * EC };

/* One bad call, as a table row. */
typedef struct bad_call {
    const char *what;          /* description for failure messages */
    nnr_code code;             /* expected status */
    const char *needle;        /* words the sentence must contain (the argument's name) */
} bad_call;

/* Buffers of one forward-training call, all outputs filled with canaries. */
typedef struct bn_call {
    nnr_batchnorm_params p;
    nnr_shape shape;
    float x[ECOUNT], gamma[EC], beta[EC], y[ECOUNT];
    float mean[EC], istd[EC], r[EC], d[EC];
    float rm[EC], rv[EC], ms[EC], rnm[EC], rns[EC];
    nnr_batchnorm_cache cache;
    nnr_batchnorm_state state;
} bn_call;

static void bn_call_init(bn_call *c)
{
    c->p = nnr_batchnorm_keras();
    c->shape = (nnr_shape){2, {EN, EC}};
    for (int i = 0; i < ECOUNT; i++)
        c->x[i] = (float)i;
    for (int i = 0; i < EC; i++) {
        c->gamma[i] = 1.0f;
        c->beta[i] = 0.0f;
    }
    tu_fill_canary(c->y, ECOUNT);
    tu_fill_canary(c->mean, EC); tu_fill_canary(c->istd, EC);
    tu_fill_canary(c->r, EC); tu_fill_canary(c->d, EC);
    tu_fill_canary(c->rm, EC); tu_fill_canary(c->rv, EC); tu_fill_canary(c->ms, EC);
    tu_fill_canary(c->rnm, EC); tu_fill_canary(c->rns, EC);
    c->cache = (nnr_batchnorm_cache){c->mean, c->istd, c->r, c->d};
    c->state = (nnr_batchnorm_state){c->rm, c->rv, c->ms, c->rnm, c->rns, 7};
}

static int bn_call_untouched(const bn_call *c)
{
    return tu_all_canary(c->y, ECOUNT) && tu_all_canary(c->mean, EC) && tu_all_canary(c->istd, EC) &&
           tu_all_canary(c->r, EC) && tu_all_canary(c->d, EC) && tu_all_canary(c->rm, EC) &&
           tu_all_canary(c->rv, EC) && tu_all_canary(c->ms, EC) && tu_all_canary(c->rnm, EC) &&
           tu_all_canary(c->rns, EC) && c->state.num_batches_tracked == 7;
}

static void expect_rejected(nnr_status st, const bad_call *want, const char *impl)
{
    ck_assert_msg(st.code == want->code, "%s (%s): expected code %d, got %d (%s)", want->what, impl,
                  (int)want->code, (int)st.code, nnr_strerror(&st));
    ck_assert_msg(strstr(nnr_strerror(&st), want->needle) != NULL,
                  "%s (%s): sentence \"%s\" does not name \"%s\"", want->what, impl, nnr_strerror(&st),
                  want->needle);
}

/* Each case mutates a fresh call into one bad call. */
typedef void (*mutate_fn)(bn_call *c);
static void bad_null_x(bn_call *c) { (void)c; }
static void bad_zero_dim(bn_call *c) { c->shape.dims[1] = 0; }
static void bad_overflow(bn_call *c) { c->shape = (nnr_shape){3, {SIZE_MAX / 4, 3, 8}}; }
static void bad_rank1(bn_call *c) { c->shape = (nnr_shape){1, {12}}; }
static void bad_rank6(bn_call *c) { c->shape = (nnr_shape){6, {1, 1, 1, 1, 4, 3}}; }
static void bad_axis_range(bn_call *c) { c->p.axis = 2; }
static void bad_axis_neg(bn_call *c) { c->p.axis = -3; }
static void bad_axis_batch(bn_call *c) { c->p.axis = 0; }
static void bad_eps_neg(bn_call *c) { c->p.epsilon = -1e-5; }
static void bad_eps_nan(bn_call *c) { c->p.epsilon = NAN; }
static void bad_mom_high(bn_call *c) { c->p.momentum = 1.5; }
static void bad_mom_low(bn_call *c) { c->p.momentum = -0.01; }
static void bad_mom_nan(bn_call *c) { c->p.momentum = NAN; }
static void bad_torch_single(bn_call *c) { c->p = nnr_batchnorm_torch(); c->shape = (nnr_shape){2, {1, 3}}; }
static void bad_virtual(bn_call *c) { c->p.virtual_batch_size = 3; }
static void bad_rmax(bn_call *c) { c->p.renorm = 1; c->p.rmax = 0.5; c->p.rmin = 1.0; }
static void bad_dmax(bn_call *c) { c->p.renorm = 1; c->p.dmax = -1.0; }
static void bad_update(bn_call *c) { c->p.update = (nnr_bn_update)9; }
static void bad_factor(bn_call *c) { c->p = nnr_batchnorm_puzzlelib(); c->p.axis = -1; c->p.min_factor = 2.0; }

typedef struct bad_case {
    mutate_fn mutate;
    bad_call want;
    int null_x, null_gamma, null_cache_mean, null_state_rv;
} bad_case;

static const bad_case bad_cases[] = {
    {bad_null_x, {"x NULL", NNR_ERR_NULL, "x is NULL"}, 1, 0, 0, 0},
    {bad_null_x, {"gamma NULL with scale", NNR_ERR_NULL, "gamma"}, 0, 1, 0, 0},
    {bad_null_x, {"cache->mean NULL", NNR_ERR_NULL, "cache->mean"}, 0, 0, 1, 0},
    {bad_null_x, {"state->running_var NULL", NNR_ERR_NULL, "state->running_var"}, 0, 0, 0, 1},
    {bad_zero_dim, {"zero channel dimension", NNR_ERR_SHAPE, "zero extent in dimension 1"}, 0, 0, 0, 0},
    {bad_overflow, {"overflowing dimensions", NNR_ERR_OVERFLOW, "shape"}, 0, 0, 0, 0},
    {bad_rank1, {"rank 1", NNR_ERR_SHAPE, "rank 1"}, 0, 0, 0, 0},
    {bad_rank6, {"rank 6", NNR_ERR_SHAPE, "rank 6"}, 0, 0, 0, 0},
    {bad_axis_range, {"axis 2 of rank 2", NNR_ERR_SHAPE, "axis 2"}, 0, 0, 0, 0},
    {bad_axis_neg, {"axis -3 of rank 2", NNR_ERR_SHAPE, "axis -3"}, 0, 0, 0, 0},
    {bad_axis_batch, {"axis 0", NNR_ERR_SHAPE, "batch axis"}, 0, 0, 0, 0},
    {bad_eps_neg, {"epsilon < 0", NNR_ERR_PARAM, "epsilon"}, 0, 0, 0, 0},
    {bad_eps_nan, {"epsilon NaN", NNR_ERR_PARAM, "epsilon"}, 0, 0, 0, 0},
    {bad_mom_high, {"momentum 1.5", NNR_ERR_PARAM, "momentum"}, 0, 0, 0, 0},
    {bad_mom_low, {"momentum -0.01", NNR_ERR_PARAM, "momentum"}, 0, 0, 0, 0},
    {bad_mom_nan, {"momentum NaN", NNR_ERR_PARAM, "momentum"}, 0, 0, 0, 0},
    {bad_torch_single, {"PyTorch one value per channel", NNR_ERR_SHAPE, "more than 1 value per channel"}, 0, 0, 0, 0},
    {bad_virtual, {"virtual batch 3 of N=4", NNR_ERR_PARAM, "virtual_batch_size"}, 0, 0, 0, 0},
    {bad_rmax, {"rmax < rmin", NNR_ERR_PARAM, "rmax"}, 0, 0, 0, 0},
    {bad_dmax, {"dmax < 0", NNR_ERR_PARAM, "dmax"}, 0, 0, 0, 0},
    {bad_update, {"unknown update rule", NNR_ERR_PARAM, "update"}, 0, 0, 0, 0},
    {bad_factor, {"min_factor 2", NNR_ERR_PARAM, "min_factor"}, 0, 0, 0, 0},
};

/* Every bad forward-training call is rejected by every implementation, with the
 * right code, a sentence naming the argument, and all outputs still canaries. */
START_TEST(errors_fwd_train_rejected_untouched)
{
    const bad_case *bc = &bad_cases[_i];
    bn_impl impls[2];
    size_t n_impl = bn_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        bn_call c;
        bn_call_init(&c);
        bc->mutate(&c);
        if (bc->null_cache_mean)
            c.cache.mean = NULL;
        if (bc->null_state_rv)
            c.state.running_var = NULL;
        nnr_status st = impls[k].fwd_train(&c.p, &c.shape, bc->null_x ? NULL : c.x,
                                           bc->null_gamma ? NULL : c.gamma, c.beta, c.y, &c.cache, &c.state);
        expect_rejected(st, &bc->want, impls[k].name);
        ck_assert_msg(bn_call_untouched(&c), "%s (%s): an output was written", bc->want.what, impls[k].name);
    }
}
END_TEST

/* The other passes check their own arguments, and write nothing either. */
START_TEST(errors_other_passes)
{
    bn_impl impls[2];
    size_t n_impl = bn_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        bn_call c;
        bn_call_init(&c);
        float dy[ECOUNT] = {0}, dx[ECOUNT], dg[EC], db[EC];
        tu_fill_canary(dx, ECOUNT); tu_fill_canary(dg, EC); tu_fill_canary(db, EC);
        /* inference without a state */
        nnr_status st = impls[k].fwd_infer(&c.p, &c.shape, c.x, c.gamma, c.beta, c.y, NULL);
        expect_rejected(st, &(bad_call){"infer without state", NNR_ERR_NULL, "state is NULL"}, impls[k].name);
        /* backward without dy */
        st = impls[k].bwd_train(&c.p, &c.shape, c.x, c.gamma, &c.cache, NULL, dx, dg, db);
        expect_rejected(st, &(bad_call){"bwd dy NULL", NNR_ERR_NULL, "dy is NULL"}, impls[k].name);
        /* backward with scale on and no dgamma */
        st = impls[k].bwd_train(&c.p, &c.shape, c.x, c.gamma, &c.cache, dy, dx, NULL, db);
        expect_rejected(st, &(bad_call){"bwd dgamma NULL", NNR_ERR_NULL, "dgamma"}, impls[k].name);
        /* backward with renorm on and no r */
        c.p.renorm = 1;
        c.cache.r = NULL;
        st = impls[k].bwd_train(&c.p, &c.shape, c.x, c.gamma, &c.cache, dy, dx, dg, db);
        expect_rejected(st, &(bad_call){"bwd renorm r NULL", NNR_ERR_NULL, "cache->r"}, impls[k].name);
        /* renorm forward without a state */
        c.cache.r = c.r;
        st = impls[k].fwd_train(&c.p, &c.shape, c.x, c.gamma, c.beta, c.y, &c.cache, NULL);
        expect_rejected(st, &(bad_call){"renorm without state", NNR_ERR_NULL, "state"}, impls[k].name);
        ck_assert(tu_all_canary(dx, ECOUNT) && tu_all_canary(dg, EC) && tu_all_canary(db, EC));
        ck_assert(bn_call_untouched(&c));
    }
    nnr_status st = nnr_batchnorm_sizes(NULL, NULL, NULL, NULL);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    st = nnr_batchnorm_state_init(NULL, 3);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
}
END_TEST

void batchnorm_add_errors(TCase *tc)
{
    tcase_add_loop_test(tc, errors_fwd_train_rejected_untouched, 0,
                        (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, errors_other_passes);
}

/* ------------------------------------------------------------------------- */
/* numerics (SEMANTICS.md §7)                                                */
/* ------------------------------------------------------------------------- */

/* A channel with mean 1e4 and std 1 over 65536 values: the batch variance is
 * right to 1e-3 relative (one-pass E[x^2]-E[x]^2 in float gets it wrong by
 * orders of magnitude, or negative). */
START_TEST(numerics_large_mean_variance)
{
    enum { N = 16, C = 2, S = 4096 };   /* channels_first, m = 65536 per channel */
    const size_t count = (size_t)N * C * S;
    float *x = tu_alloc_f(count), *y = tu_alloc_f(count);
    for (size_t i = 0; i < count; i++)
        x[i] = (float)(1e4 + nnr_rng_normal(21, i));
    nnr_batchnorm_params p = nnr_batchnorm_torch();
    nnr_shape shape = {3, {N, C, S}};
    bn_impl impls[2];
    size_t n_impl = bn_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        bn_buffers b;
        bn_buffers_init(&b, C, 1);
        ASSERT_OK(impls[k].fwd_train(&p, &shape, x, (float[]){1, 1}, (float[]){0, 0}, y, &b.cache, &b.state));
        for (size_t c = 0; c < C; c++) {
            /* the data's true variance, in double, two-pass */
            double s = 0.0, ss = 0.0;
            for (size_t n = 0; n < N; n++)
                for (size_t q = 0; q < S; q++)
                    s += x[(n * C + c) * S + q];
            double mu = s / ((double)N * S);
            for (size_t n = 0; n < N; n++)
                for (size_t q = 0; q < S; q++) {
                    double d = x[(n * C + c) * S + q] - mu;
                    ss += d * d;
                }
            double var = ss / ((double)N * S);
            double var_kernel = 1.0 / ((double)b.istd[c] * b.istd[c]) - p.epsilon;
            ck_assert_msg(fabs(var_kernel - var) <= 1e-3 * var, "%s: channel %zu variance %.7g, true %.7g",
                          impls[k].name, c, var_kernel, var);
            ck_assert_msg(fabs(b.mean[c] - mu) <= 1e-3, "%s: mean %.9g, true %.9g", impls[k].name, b.mean[c], mu);
            /* the normalized output has mean ~0 and variance ~1 */
            double ym, yv;
            stats_d(y + c * S, S, 1, &ym, &yv);
            ck_assert_double_lt(fabs(ym), 0.1);
        }
        bn_buffers_free(&b);
    }
    free(x);
    free(y);
}
END_TEST

/* x = [10000, 10001, 10002, 10003] (f32): variance 1.25, y = ±1.3411, ±0.4470
 * with eps 1e-3 (SEMANTICS.md §7; one-pass f32 gives -2.25 in NumPy). */
START_TEST(numerics_offset_1e4_golden)
{
    const float x[4] = {10000, 10001, 10002, 10003};
    float y[4], mean[1], istd[1];
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    nnr_shape shape = {2, {4, 1}};
    nnr_batchnorm_cache cache = {mean, istd, NULL, NULL};
    bn_impl impls[2];
    size_t n_impl = bn_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        ASSERT_OK(impls[k].fwd_train(&p, &shape, x, (float[]){1}, (float[]){0}, y, &cache, NULL));
        ck_assert_float_eq_tol(1.0f / (istd[0] * istd[0]) - 1e-3f, 1.25f, 1e-5f);
        ck_assert_float_eq_tol(y[0], -1.3411f, 1e-4f);
        ck_assert_float_eq_tol(y[1], -0.4470f, 1e-4f);
        ck_assert_float_eq_tol(y[2], 0.4470f, 1e-4f);
        ck_assert_float_eq_tol(y[3], 1.3411f, 1e-4f);
    }
}
END_TEST

/* Constant channels at 1e4 ... 1e10: variance exactly 0 and y exactly beta
 * (PyTorch#5410 gave ±1 for constants >= 1e7). */
START_TEST(numerics_constant_channels)
{
    enum { N = 8, C = 7, S = 9 };
    const double level[C] = {1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};
    float x[N * C * S], y[N * C * S], beta[C], gamma[C];
    for (size_t c = 0; c < C; c++) {
        beta[c] = 0.25f * (float)c - 0.5f;
        gamma[c] = 3.0f;
    }
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++)
            for (size_t s = 0; s < S; s++)
                x[(n * C + c) * S + s] = (float)level[c];
    nnr_batchnorm_params p = nnr_batchnorm_torch();
    nnr_shape shape = {3, {N, C, S}};
    bn_impl impls[2];
    size_t n_impl = bn_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        bn_buffers b;
        bn_buffers_init(&b, C, 1);
        ASSERT_OK(impls[k].fwd_train(&p, &shape, x, gamma, beta, y, &b.cache, &b.state));
        for (size_t i = 0; i < N * C * S; i++) {
            size_t c = (i / S) % C;
            ck_assert_msg(y[i] == beta[c], "%s: constant %g gives y %.9g, beta %.9g", impls[k].name, level[c],
                          y[i], beta[c]);
        }
        for (size_t c = 0; c < C; c++)
            ck_assert_float_eq(b.running_var[c], 0.9f);   /* 0.9*1 + 0.1*0 */
        bn_buffers_free(&b);
    }
}
END_TEST

/* N = 1 under each preset (SEMANTICS.md §7): Keras, tf.keras 2 and PuzzleLib
 * normalize a single value to beta with batch variance 0; PyTorch refuses. */
START_TEST(numerics_batch_of_one)
{
    const float x[3] = {5.0f, -2.0f, 1e6f};
    const float gamma[3] = {2, 2, 2}, beta[3] = {0.5f, -0.5f, 7.0f};
    const nnr_batchnorm_params presets[4] = {nnr_batchnorm_keras(), nnr_batchnorm_tf2(2), nnr_batchnorm_torch(),
                                             nnr_batchnorm_puzzlelib()};
    const char *names[4] = {"keras", "tf2", "torch", "puzzlelib"};
    nnr_shape shape = {2, {1, 3}};
    bn_impl impls[2];
    size_t n_impl = bn_impls(impls);
    for (size_t k = 0; k < n_impl; k++)
        for (int pi = 0; pi < 4; pi++) {
            nnr_batchnorm_params p = presets[pi];
            p.axis = 1;
            bn_buffers b;
            bn_buffers_init(&b, 3, 1);
            float y[3];
            tu_fill_canary(y, 3);
            nnr_status st = impls[k].fwd_train(&p, &shape, x, gamma, beta, y, &b.cache, &b.state);
            if (pi == 2) {
                ck_assert_int_eq(st.code, NNR_ERR_SHAPE);
                ck_assert(tu_all_canary(y, 3));
                ck_assert_float_eq(b.running_var[0], 1.0f);
            } else {
                ck_assert_msg(st.code == NNR_OK, "%s/%s: %s", impls[k].name, names[pi], nnr_strerror(&st));
                for (int c = 0; c < 3; c++)
                    ck_assert_msg(y[c] == beta[c], "%s/%s: y %g != beta %g", impls[k].name, names[pi], y[c], beta[c]);
                double f = pi == 3 ? 1.0 : 0.01;   /* PuzzleLib's first factor is 1 */
                ck_assert_float_eq_tol(b.running_var[0], (float)(1.0 - f), 1e-7f);
                ck_assert_float_eq_tol(b.running_mean[2], (float)(f * 1e6), 1e-7f * 1e6f);
            }
            bn_buffers_free(&b);
        }
}
END_TEST

/* The variance is never negative and istd never NaN, even for data whose
 * one-pass E[x^2] - E[x]^2 would cancel to a negative number. */
START_TEST(numerics_never_negative_variance)
{
    enum { N = 64, C = 3 };
    float x[N * C], y[N * C];
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            x[n * C + c] = (float)(1e5 * (c + 1) + 0.01 * nnr_rng_normal(9, (uint64_t)(n * C + c)));
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.epsilon = 0.0;
    nnr_shape shape = {2, {N, C}};
    bn_impl impls[2];
    size_t n_impl = bn_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        bn_buffers b;
        bn_buffers_init(&b, C, 1);
        ASSERT_OK(impls[k].fwd_train(&p, &shape, x, (float[]){1, 1, 1}, (float[]){0, 0, 0}, y, &b.cache, &b.state));
        for (int c = 0; c < C; c++) {
            ck_assert_msg(isfinite(b.istd[c]) && b.istd[c] > 0.0f, "%s: istd %g", impls[k].name, b.istd[c]);
            ck_assert(b.running_var[c] >= 0.0f);
        }
        for (int i = 0; i < N * C; i++)
            ck_assert(isfinite(y[i]));
        bn_buffers_free(&b);
    }
}
END_TEST

/* epsilon = 0 on a constant channel: istd is 0, as PyTorch's InvStd makes it,
 * so x_hat = 0 and y == beta rather than 0 * inf = NaN. */
START_TEST(numerics_zero_epsilon_constant)
{
    enum { N = 5, C = 9 };
    float x[N * C], y[N * C], beta[C], gamma[C];
    for (int c = 0; c < C; c++) {
        gamma[c] = 2.0f;
        beta[c] = 0.5f * (float)c;
    }
    for (int i = 0; i < N * C; i++)
        x[i] = 3.0f;
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.epsilon = 0.0;
    nnr_shape shape = {2, {N, C}};
    bn_impl impls[2];
    size_t n_impl = bn_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        bn_buffers b;
        bn_buffers_init(&b, C, 1);
        ASSERT_OK(impls[k].fwd_train(&p, &shape, x, gamma, beta, y, &b.cache, &b.state));
        for (int i = 0; i < N * C; i++)
            ck_assert_msg(y[i] == beta[i % C], "%s: y %g, beta %g", impls[k].name, y[i], beta[i % C]);
        ck_assert_float_eq(b.istd[0], 0.0f);
        bn_buffers_free(&b);
    }
}
END_TEST

/* NaN and Inf propagate into the statistics of their channel only, the same in
 * every implementation: a NaN input gives a NaN mean, variance and output. */
START_TEST(numerics_nan_inf_propagate)
{
    enum { N = 6, C = 3 };
    float x[N * C], y[N * C];
    for (int i = 0; i < N * C; i++)
        x[i] = (float)nnr_rng_normal(17, (uint64_t)i);
    x[5 * C + 0] = NAN;        /* channel 0: NaN */
    x[0 * C + 1] = INFINITY;   /* channel 1: +Inf */
    nnr_batchnorm_params p = nnr_batchnorm_torch();
    p.axis = 1;
    nnr_shape shape = {2, {N, C}};
    bn_impl impls[2];
    size_t n_impl = bn_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        bn_buffers b;
        bn_buffers_init(&b, C, 1);
        ASSERT_OK(impls[k].fwd_train(&p, &shape, x, (float[]){1, 1, 1}, (float[]){0, 0, 0}, y, &b.cache, &b.state));
        ck_assert_msg(isnan(b.mean[0]) && isnan(b.istd[0]) && isnan(b.running_var[0]),
                      "%s: NaN channel gave mean %g istd %g running_var %g", impls[k].name, b.mean[0], b.istd[0],
                      b.running_var[0]);
        ck_assert_msg(isinf(b.mean[1]) && b.mean[1] > 0, "%s: Inf channel mean %g", impls[k].name, b.mean[1]);
        for (int n = 0; n < N; n++) {
            ck_assert(isnan(y[n * C + 0]));
            ck_assert(isfinite(y[n * C + 2]));   /* the clean channel is untouched by the others */
        }
        bn_buffers_free(&b);
    }
}
END_TEST

/* Huge finite values (|x| = 2e19 and 1e30: squares overflow float) still
 * normalize to -1, +1, as the double arithmetic of the definition does. */
START_TEST(numerics_huge_values)
{
    const float level[2] = {2e19f, 1e30f};
    for (int l = 0; l < 2; l++) {
        enum { N = 8, C = 9 };
        float x[N * C], y[N * C];
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                x[n * C + c] = n % 2 ? level[l] : -level[l];
        nnr_batchnorm_params p = nnr_batchnorm_keras();
        nnr_shape shape = {2, {N, C}};
        float ones[C], zeros[C];
        for (int c = 0; c < C; c++) {
            ones[c] = 1.0f;
            zeros[c] = 0.0f;
        }
        bn_impl impls[2];
        size_t n_impl = bn_impls(impls);
        for (size_t k = 0; k < n_impl; k++) {
            bn_buffers b;
            bn_buffers_init(&b, C, 1);
            ASSERT_OK(impls[k].fwd_train(&p, &shape, x, ones, zeros, y, &b.cache, &b.state));
            for (int i = 0; i < N * C; i++)
                ck_assert_msg(fabsf(fabsf(y[i]) - 1.0f) < 1e-6f, "%s: |x| = %g gives y %g", impls[k].name,
                              (double)level[l], y[i]);
            bn_buffers_free(&b);
        }
    }
}
END_TEST

/* An outlier as the very first value of a channel (the natural shift of a
 * one-pass variance) must not cost accuracy: channels_last, 100352 rows, the
 * first row at 1e4 and 100 while the rest is N(0, 1). */
START_TEST(numerics_outlier_first_value)
{
    enum { ROWS = 100352, C = 8 };
    const size_t count = (size_t)ROWS * C;
    float *x = tu_alloc_f(count), *y = tu_alloc_f(count);
    for (size_t i = 0; i < count; i++)
        x[i] = (float)nnr_rng_normal(23, i);
    for (size_t c = 0; c < C; c++)
        x[c] = c % 2 ? 1e4f : 100.0f;
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    nnr_shape shape = {2, {ROWS, C}};
    float ones[C], zeros[C];
    for (size_t c = 0; c < C; c++) {
        ones[c] = 1.0f;
        zeros[c] = 0.0f;
    }
    bn_impl impls[2];
    size_t n_impl = bn_impls(impls);
    for (size_t k = 0; k < n_impl; k++) {
        bn_buffers b;
        bn_buffers_init(&b, C, 1);
        ASSERT_OK(impls[k].fwd_train(&p, &shape, x, ones, zeros, y, &b.cache, &b.state));
        for (size_t c = 0; c < C; c++) {
            double mu, var;
            stats_d(x + c, ROWS, C, &mu, &var);
            double var_kernel = 1.0 / ((double)b.istd[c] * b.istd[c]) - p.epsilon;
            ck_assert_msg(fabs(var_kernel - var) <= 1e-4 * var, "%s: channel %zu variance %.8g, true %.8g",
                          impls[k].name, c, var_kernel, var);
            ck_assert_msg(fabs(b.mean[c] - mu) <= 1e-5 * (1.0 + fabs(mu)), "%s: mean %.8g, true %.8g",
                          impls[k].name, b.mean[c], mu);
        }
        bn_buffers_free(&b);
    }
    free(x);
    free(y);
}
END_TEST

void batchnorm_add_numerics(TCase *tc)
{
    tcase_add_test(tc, numerics_large_mean_variance);
    tcase_add_test(tc, numerics_offset_1e4_golden);
    tcase_add_test(tc, numerics_constant_channels);
    tcase_add_test(tc, numerics_batch_of_one);
    tcase_add_test(tc, numerics_never_negative_variance);
    tcase_add_test(tc, numerics_zero_epsilon_constant);
    tcase_add_test(tc, numerics_nan_inf_propagate);
    tcase_add_test(tc, numerics_huge_values);
    tcase_add_test(tc, numerics_outlier_first_value);
}
