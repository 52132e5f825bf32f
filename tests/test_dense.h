/* Test registration of the dense family: one function per file and test case. */
#ifndef NNR_TEST_DENSE_H
#define NNR_TEST_DENSE_H

#include <check.h>

/* tests/dense_gemm.c: the AVX2 matrix product against the triple loop in
 * double; adds nothing without usable AVX2 kernels. */
void dense_gemm_add_crosscheck(TCase *tc);

#endif /* NNR_TEST_DENSE_H */
