/*
 * Check program of the convolution family (Conv1D, Conv2D). Each file
 * contributes its tests to the six test cases every family has: reference
 * (document 002's example and hand-derived Keras/PyTorch cases), gradcheck
 * (finite differences on the double kernels), crosscheck (AVX2 against
 * naive float and double), shapes, errors (bad input, canaries) and
 * numerics.
 */
#include "config.h"
#include "test_util.h"
#include "test_conv.h"

static Suite *conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *reference = tcase_create("reference");
    TCase *gradcheck = tcase_create("gradcheck");
    TCase *crosscheck = tcase_create("crosscheck");
    TCase *shapes = tcase_create("shapes");
    TCase *errors = tcase_create("errors");
    TCase *numerics = tcase_create("numerics");

    /* Gradient checks and sweeps over many shapes take longer than Check's 4 s default. */
    tcase_set_timeout(gradcheck, 120);
    tcase_set_timeout(crosscheck, 240);
    tcase_set_timeout(shapes, 60);
    tcase_set_timeout(numerics, 30);

    conv_add_reference(reference);
    conv_add_shapes(shapes);
    conv_add_errors(errors);
    conv_add_numerics(numerics);
    conv_add_gradcheck(gradcheck);
    conv_add_crosscheck(crosscheck);

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
    return tu_run(conv_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
