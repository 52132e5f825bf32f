/*
 * Check program of the normalization family. Each layer contributes its tests
 * to the six test cases every family has: reference (golden values),
 * gradcheck (finite differences on the double kernels), crosscheck (AVX2
 * against naive float and double), shapes, errors (bad input, canaries) and
 * numerics (SEMANTICS.md §7 pitfalls).
 */
#include "config.h"
#include "test_util.h"
#include "test_norm.h"

static Suite *norm_suite(void)
{
    Suite *s = suite_create("norm");
    TCase *reference = tcase_create("reference");
    TCase *gradcheck = tcase_create("gradcheck");
    TCase *crosscheck = tcase_create("crosscheck");
    TCase *shapes = tcase_create("shapes");
    TCase *errors = tcase_create("errors");
    TCase *numerics = tcase_create("numerics");

    /* Gradient checks and sweeps over many shapes take longer than Check's 4 s default. */
    tcase_set_timeout(gradcheck, 60);
    tcase_set_timeout(crosscheck, 120);
    tcase_set_timeout(shapes, 60);
    tcase_set_timeout(numerics, 30);

    batchnorm_add_reference(reference);
    batchnorm_add_shapes(shapes);
    batchnorm_add_errors(errors);
    batchnorm_add_numerics(numerics);
    batchnorm_add_gradcheck(gradcheck);
    batchnorm_add_crosscheck(crosscheck);
    layernorm_add_reference(reference);
    layernorm_add_shapes(shapes);
    layernorm_add_errors(errors);
    layernorm_add_numerics(numerics);
    layernorm_add_gradcheck(gradcheck);
    layernorm_add_crosscheck(crosscheck);
    groupnorm_add_reference(reference);
    groupnorm_add_shapes(shapes);
    groupnorm_add_errors(errors);
    groupnorm_add_numerics(numerics);
    groupnorm_add_gradcheck(gradcheck);
    groupnorm_add_crosscheck(crosscheck);

    suite_add_tcase(s, reference);
    suite_add_tcase(s, gradcheck);
    suite_add_tcase(s, crosscheck);
    suite_add_tcase(s, shapes);
    suite_add_tcase(s, errors);
    suite_add_tcase(s, numerics);
    return s;
}

int main(void)
{
    return tu_run(norm_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
