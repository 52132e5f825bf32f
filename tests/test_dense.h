/* Test registration of the dense family: one function per file and test case. */
#ifndef NNR_TEST_DENSE_H
#define NNR_TEST_DENSE_H

#include <check.h>

/* tests/dense_gemm.c: the AVX2 matrix product against the triple loop in
 * double; adds nothing without usable AVX2 kernels. */
void dense_gemm_add_crosscheck(TCase *tc);
/* tests/dense_layer.c: the Dense layer through every implementation */
void dense_layer_add_reference(TCase *tc);
void dense_layer_add_gradcheck(TCase *tc);
void dense_layer_add_shapes(TCase *tc);
void dense_layer_add_errors(TCase *tc);
void dense_layer_add_numerics(TCase *tc);
/* tests/dense_crosscheck.c: AVX2 against naive float and double; adds
 * nothing without usable AVX2 kernels. */
void dense_add_crosscheck(TCase *tc);

#endif /* NNR_TEST_DENSE_H */
