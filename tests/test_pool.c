/*
 * Check program of the pooling family (max, average, global; 1D/2D/3D). Each
 * file contributes its tests to the six test cases every family has:
 * reference (golden values from SEMANTICS.md §1 and document 000), gradcheck
 * (finite differences on the double kernels), crosscheck (AVX2 against naive
 * float and double), shapes, errors (bad input, canaries) and numerics
 * (SEMANTICS.md §7 pitfalls).
 */
#include "config.h"
#include "test_util.h"
#include "test_pool.h"

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
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

    pool_windowed_add_reference(reference);
    pool_windowed_add_shapes(shapes);
    pool_windowed_add_errors(errors);
    pool_windowed_add_numerics(numerics);
    pool_global_add_reference(reference);
    pool_global_add_shapes(shapes);
    pool_global_add_errors(errors);
    pool_global_add_numerics(numerics);
    pool_add_gradcheck(gradcheck);
    pool_add_crosscheck(crosscheck);

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
    return tu_run(pool_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
