/* Core: status values, shape arithmetic, dispatch, the counter-based RNG. */
#include "config.h"
#include <stdint.h>
#include "test_util.h"

/* reference: Philox4x32-10 known-answer vectors from Random123 (kat_vectors). */
START_TEST(reference_philox_kat)
{
    uint32_t w[4];
    nnr_philox4x32(0, 0, w);   /* ctr 0, key 0 */
    ck_assert_uint_eq(w[0], 0x6627e8d5u);
    ck_assert_uint_eq(w[1], 0xe169c58du);
    ck_assert_uint_eq(w[2], 0xbc57ac4cu);
    ck_assert_uint_eq(w[3], 0x9b00dbd8u);
}
END_TEST

/* reference: element i depends only on (seed, i); uniform in [0,1), normal sane. */
START_TEST(reference_rng_counter_based)
{
    double forward[64], backward[64];
    for (int i = 0; i < 64; i++)
        forward[i] = nnr_rng_uniform(7, (uint64_t)i);
    for (int i = 63; i >= 0; i--)
        backward[i] = nnr_rng_uniform(7, (uint64_t)i);
    for (int i = 0; i < 64; i++) {
        ck_assert(forward[i] == backward[i]);
        ck_assert(forward[i] >= 0.0 && forward[i] < 1.0);
    }
    ck_assert(nnr_rng_uniform(7, 3) != nnr_rng_uniform(8, 3));

    /* 20000 normals: mean within 4 standard errors of 0, variance of 1. */
    const int n = 20000;
    double sum = 0.0, sum_sq = 0.0;
    for (int i = 0; i < n; i++) {
        double z = nnr_rng_normal(1, (uint64_t)i);
        sum += z;
        sum_sq += z * z;
    }
    double mean = sum / n, var = sum_sq / n - mean * mean;
    ck_assert_double_lt(fabs(mean), 4.0 / sqrt(n));
    ck_assert_double_lt(fabs(var - 1.0), 4.0 * sqrt(2.0 / n));
}
END_TEST

START_TEST(reference_status_sentences)
{
    nnr_status ok = nnr_ok();
    ck_assert_int_eq(ok.code, NNR_OK);
    ck_assert_str_eq(nnr_strerror(&ok), "success");
    nnr_status bad = nnr_error(NNR_ERR_PARAM, "epsilon must be >= 0, got %g", -1.0);
    ck_assert_int_eq(bad.code, NNR_ERR_PARAM);
    ck_assert_str_eq(nnr_strerror(&bad), "epsilon must be >= 0, got -1");
    ck_assert_str_eq(nnr_strerror(NULL), "no status (NULL passed to nnr_strerror)");
    ck_assert_str_eq(nnr_code_name(NNR_ERR_OVERFLOW), "size overflow");
}
END_TEST

START_TEST(shapes_numel)
{
    size_t n = 0;
    nnr_shape s = {4, {32, 64, 56, 56}};
    nnr_status st = nnr_shape_numel(&s, "x", &n);
    ck_assert_int_eq(st.code, NNR_OK);
    ck_assert_uint_eq(n, (size_t)32 * 64 * 56 * 56);
}
END_TEST

START_TEST(errors_shape_faults)
{
    size_t n = 77;
    nnr_shape zero = {3, {2, 0, 4}};
    nnr_status st = nnr_shape_numel(&zero, "x", &n);
    ck_assert_int_eq(st.code, NNR_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(nnr_strerror(&st), "x has a zero extent in dimension 1"));
    ck_assert_uint_eq(n, 77);

    nnr_shape huge = {3, {SIZE_MAX / 2, 3, 1}};
    st = nnr_shape_numel(&huge, "x", &n);
    ck_assert_int_eq(st.code, NNR_ERR_OVERFLOW);
    ck_assert_uint_eq(n, 77);

    nnr_shape rank0 = {0, {0}};
    st = nnr_shape_numel(&rank0, "w", &n);
    ck_assert_int_eq(st.code, NNR_ERR_SHAPE);
    st = nnr_shape_numel(NULL, "w", &n);
    ck_assert_int_eq(st.code, NNR_ERR_NULL);
    ck_assert_str_eq(nnr_strerror(&st), "w is NULL");

    size_t out = 5;
    ck_assert_int_eq(nnr_size_mul(SIZE_MAX, 2, &out), 0);
    ck_assert_uint_eq(out, 5);
    ck_assert_int_eq(nnr_size_mul(6, 7, &out), 1);
    ck_assert_uint_eq(out, 42);
}
END_TEST

/* The dispatcher honours NNREF_IMPL and reports what it chose. */
START_TEST(reference_dispatch)
{
    const char *forced = getenv("NNREF_IMPL");
    const char *name = nnr_impl_name();
    if (forced != NULL && strcmp(forced, "naive") == 0)
        ck_assert_str_eq(name, "naive");
    else if (nnr_avx2_usable())
        ck_assert_str_eq(name, "avx2");
    else
        ck_assert_str_eq(name, "naive");
    ck_assert_int_eq(nnr_avx2_usable() && !nnr_avx2_compiled(), 0);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *reference = tcase_create("reference");
    tcase_add_test(reference, reference_philox_kat);
    tcase_add_test(reference, reference_rng_counter_based);
    tcase_add_test(reference, reference_status_sentences);
    tcase_add_test(reference, reference_dispatch);
    suite_add_tcase(s, reference);
    TCase *shapes = tcase_create("shapes");
    tcase_add_test(shapes, shapes_numel);
    suite_add_tcase(s, shapes);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, errors_shape_faults);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    return tu_run(core_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
