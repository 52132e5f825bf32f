/*
 * Check program of the dense family: the AVX2 matrix product shared with
 * convolution (src/gemm/) and the Dense layer. Each file contributes its
 * tests to the six test cases every family has: reference (hand-computed
 * values), gradcheck (finite differences on the double kernels), crosscheck
 * (AVX2 against naive float and double, and the matrix product against a
 * triple loop in double), shapes, errors (bad input, canaries) and numerics.
 */
#include "config.h"
#include "test_util.h"
#include "test_dense.h"

static Suite *dense_suite(void)
{
    Suite *s = suite_create("dense");
    TCase *reference = tcase_create("reference");
    TCase *gradcheck = tcase_create("gradcheck");
    TCase *crosscheck = tcase_create("crosscheck");
    TCase *shapes = tcase_create("shapes");
    TCase *errors = tcase_create("errors");
    TCase *numerics = tcase_create("numerics");

    /* Sweeps over many shapes against a double triple loop take longer than Check's 4 s default. */
    tcase_set_timeout(gradcheck, 60);
    tcase_set_timeout(crosscheck, 120);
    tcase_set_timeout(shapes, 60);

    tcase_set_timeout(numerics, 60);

    dense_layer_add_reference(reference);
    dense_layer_add_gradcheck(gradcheck);
    dense_layer_add_shapes(shapes);
    dense_layer_add_errors(errors);
    dense_layer_add_numerics(numerics);
    dense_gemm_add_crosscheck(crosscheck);
    dense_add_crosscheck(crosscheck);

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
    return tu_run(dense_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
